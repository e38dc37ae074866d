/*++
 * NAME
 *	ts 3
 * SUMMARY
 *	the transport service: Yellow Book calls on an event loop
 * SYNOPSIS
 *	#include "niftp/ts.h"
 * DESCRIPTION
 *	One struct ts_conn per call, a small state machine:
 *
 *	  CONNECTING  socket connect in progress (caller; CONNECT already queued)
 *	  SETUP_OUT   CONNECT sent, waiting for ACCEPT (caller)
 *	  SETUP_IN    waiting for CONNECT, or a rawtcp called address (listener side)
 *	  INCOMING    CONNECT seen, waiting for ts_accept() or ts_refuse()
 *	  OPEN        data both ways, RESET
 *	  CLOSING     DISCONNECT queued: flush it, half-close, wait for the
 *	              peer's close (bounded by TS_LINGER_MS)
 *	  DEAD        TS_EV_DISCONNECT raised (or about to be); no I/O
 *
 *	Output is Yellow Book encoded at once into one capped buffer and
 *	written with one send() per wakeup (TCP_NODELAY: we gather writes
 *	ourselves). Small unpushed sends wait for the next loop pass, a
 *	push or 64 KiB of queued output is written at once. A RESET must
 *	discard queued output without cutting a sub-record the kernel has
 *	half taken: a walker follows the record structure of what has been
 *	written, so the discard keeps exactly the rest of that item.
 *
 *	Input is read into a per-call buffer and fed to the decoder: 64 KiB
 *	at a time, 256 KiB once an open call has filled a whole read (bulk
 *	data), and while reads come back full up to TS_RDBURST of them per
 *	wakeup, so a fast sender costs few epoll round trips. Whatever stops the flow (ts_pause, an INCOMING call that is
 *	not yet accepted) stops the decoder at that octet; the rest stays
 *	in the buffer and reading stops until it is used, so the kernel
 *	applies back-pressure to the peer and nothing grows without bound.
 *
 *	Events are raised only from loop callbacks, never from inside an
 *	API call: a failure found while the owner calls us (a write error
 *	in ts_send) ends the I/O at once and reports TS_EV_DISCONNECT from
 *	a zero-time timer. ts_close() inside a callback defers the free to
 *	the end of the dispatch (depth count).
 * DIAGNOSTICS
 *	Reason texts name the peer or address, the operation and the errno
 *	text, e.g. "connect tcp:127.0.0.1:4521: Connection refused",
 *	"127.0.0.1:4521: connection closed without DISCONNECT".
 * BUGS
 *	Host names are resolved with the blocking resolver (literal
 *	addresses never block). Closing an exec: call waits up to 0.7 s
 *	for a child that does not end by itself.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "niftp/ts.h"
#include "niftp/ts_int.h"
#include "niftp/ts_yb.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"

#define TS_RDCHUNK	65536	/* one read, before the call carries bulk data */
#define TS_RDBULK	(256 * 1024)	/* one read once it does */
#define TS_RDBURST	4	/* full reads in a row per wakeup */
#define TS_WRHIGH	65536	/* queued output written at once */
#define TS_CMD_SLACK	8192	/* buffer room beyond the send cap, for commands */
#define TS_LINGER_MS	5000	/* wait for the peer's close after our DISCONNECT */
#define TS_RAWCALLED	256	/* longest rawtcp called address */
#define TS_EARLY_PUSH	32	/* push boundaries kept in early data */
#define TS_ADDRMAX	1100
#define TS_DEF_CONNECT	10000
#define TS_DEF_SETUP	30000
#define TS_DEF_IDLE	660000
#define TS_DEF_CAP	(256 * 1024)

enum cst { CS_CONNECTING, CS_SETUP_OUT, CS_SETUP_IN, CS_INCOMING, CS_OPEN,
	CS_CLOSING, CS_DEAD };

/* walker over our own encoded output (trusted: no checks) */
enum wst { W_TYPE, W_DHDR, W_DBODY, W_CCODE, W_PHDR, W_PBODY };
struct walker {
	enum wst st;
	size_t	rem;
	int	last;
	int	np, pi;
};

struct ts_conn {
	struct loop *loop;
	enum ts_kind kind;
	int	yb;		/* Yellow Book framing (all but rawtcp) */
	int	outgoing;	/* we placed the call */
	int	fd_in, fd_out;	/* one socket, or stdio's 0 and 1 */
	int	is_sock;	/* fd_out takes send(MSG_NOSIGNAL) and shutdown() */
	int	mask_in, mask_out;	/* registered masks; -1 not registered */
	int	fl_in, fl_out;	/* stdio: file status flags to restore */
	pid_t	pid;		/* exec child */
	int	eof_seen;
	enum cst st;
	ts_event_fn *fn;
	void	*arg;
	int	connect_ms, setup_ms, idle_ms;
	size_t	cap;
	char	*local_name;
	struct buf out;		/* encoded output */
	int	open;		/* encoder: a data record is open */
	struct walker w;	/* record structure at the head of out */
	int	wr_shut;
	unsigned char *in;	/* in_cap octets (from the first read): input not yet decoded */
	size_t	in_off, in_len, in_cap;
	struct buf early;	/* data that came before ts_accept() */
	size_t	epush[TS_EARLY_PUSH];	/* ... and where its pushes were */
	int	nepush;
	struct yb_dec *dec;
	char	raw[TS_RAWCALLED + 1];	/* rawtcp called address so far */
	size_t	rawlen;
	int	paused, want_room, reset_sent, reset_rcvd;
	int	raw_in, raw_out;	/* the owner holds our input / output (ts_raw_*) */
	int	depth, closed;
	uint64_t t_setup, t_idle, t_kick, t_fail, t_linger;
	int64_t	last_io;
	struct addrinfo *ai, *ai_cur;
	char	addr[TS_ADDRMAX];	/* canonical address (caller) or listener's */
	char	peer[TS_ADDRMAX];
	char	*called, *calling;
	int	dreason;		/* CLOSING/DEAD: the reason to report */
	char	dtext[YB_MAX_PARAM + 1];
	uint64_t sent, rcvd;
};

struct ts_listener {
	struct loop *loop;
	enum ts_kind kind;
	int	fd;
	char	addr[TS_ADDRMAX];
	char	*path;		/* unix: the socket file we made */
	dev_t	dev;
	ino_t	ino;
	struct ts_opts opts;
	char	*local_name;
	ts_new_fn *fn;
	void	*arg;
	uint64_t t_start, t_retry;
	int	depth, closed;
};

static void io_cb(struct loop *loop, int fd, int mask, void *arg);
static int data_cb(void *arg, const unsigned char *p, size_t len, int push);
static int cmd_cb(void *arg, const struct yb_cmd *cmd);
static void process_input(struct ts_conn *c);

static const struct yb_dec_cb dec_cb = { data_cb, cmd_cb };

/* live - the call still does I/O and may raise events */
static int live(const struct ts_conn *c)
{
	return !c->closed && c->st != CS_DEAD;
}

/* paused - the owner holds input back (ts_pause; not while closing) */
static int paused(const struct ts_conn *c)
{
	return c->paused && c->st != CS_CLOSING;
}

/*
 * Before ts_accept() input is still decoded, so that a caller's
 * DISCONNECT or close is seen, but its data is kept in c->early, within
 * the cap: a feed is started only when all it can yield fits.
 */
/* decode_held - buffered input must wait */
static int decode_held(const struct ts_conn *c)
{
	return paused(c) || (c->st == CS_INCOMING
		&& c->early.len + c->in_len > c->early.max)
		|| (c->st == CS_OPEN && (c->early.len > 0 || c->nepush > 0));
}

/* read_held - no reading now */
static int read_held(const struct ts_conn *c)
{
	return c->in_len > 0 || paused(c) || c->raw_in || (c->st == CS_INCOMING
		&& c->early.len + TS_RDCHUNK > c->early.max);
}

/* sendable - ts_send() may queue data now */
static int sendable(const struct ts_conn *c)
{
	return !c->closed && !c->raw_out && (c->st == CS_OPEN || (c->outgoing
		&& (c->st == CS_CONNECTING || c->st == CS_SETUP_OUT)));
}

/* textf - format a reason text into a buffer */
static void textf(char *dst, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void textf(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

/* walk - follow n octets of our output; stop early at an item boundary
 * when asked. Returns the octets walked. */
static size_t walk(struct walker *w, const unsigned char *p, size_t n, int stop)
{
	size_t i = 0, m;
	unsigned h;

	while (i < n) {
		if (stop && (w->st == W_TYPE || w->st == W_DHDR))
			break;
		switch (w->st) {
		case W_TYPE:
			w->st = p[i++] == 0 ? W_DHDR : W_CCODE;
			break;
		case W_CCODE:
			w->np = p[i++] == YB_CONNECT ? 4 : 3;
			w->pi = 0;
			w->st = W_PHDR;
			break;
		case W_DHDR:
		case W_PHDR:
			h = p[i++];
			w->rem = h & 0x7f;
			w->last = (h & 0x80) != 0;
			if (w->rem > 0)
				w->st = w->st == W_DHDR ? W_DBODY : W_PBODY;
			else if (w->st == W_DHDR)
				w->st = w->last ? W_TYPE : W_DHDR;
			else if (w->last)
				w->st = ++w->pi == w->np ? W_TYPE : W_PHDR;
			break;
		case W_DBODY:
		case W_PBODY:
			m = n - i < w->rem ? n - i : w->rem;
			i += m;
			w->rem -= m;
			if (w->rem > 0)
				break;
			if (w->st == W_DBODY)
				w->st = w->last ? W_TYPE : W_DHDR;
			else if (w->last)
				w->st = ++w->pi == w->np ? W_TYPE : W_PHDR;
			else
				w->st = W_PHDR;
			break;
		}
	}
	return i;
}

/* discard_output - drop queued output, keeping the rest of a half-written item */
static void discard_output(struct ts_conn *c)
{
	struct walker w = c->w;
	unsigned char keep[4 * (YB_MAX_PARAM + 16)];
	size_t k;

	if (!c->yb) {
		buf_reset(&c->out);
		return;
	}
	k = c->out.len ? walk(&w, buf_data(&c->out), c->out.len, 1) : 0;
	if (k > sizeof(keep))	/* cannot be: items are at most one command */
		k = sizeof(keep);
	if (k > 0)
		memcpy(keep, buf_data(&c->out), k);
	buf_reset(&c->out);
	(void)buf_append(&c->out, keep, k);
	c->open = w.st == W_DHDR;
}

/* enc_cmd3 - queue DISCONNECT or RESET with reason, initiator and text */
static int enc_cmd3(struct ts_conn *c, int code, int reason, const char *text)
{
	unsigned char r = (unsigned char)reason;
	const char *pv[3];
	size_t pl[3];

	pv[0] = (const char *)&r;
	pl[0] = 1;
	pv[1] = c->local_name;
	pl[1] = c->local_name ? strlen(c->local_name) : 0;
	if (pl[1] > YB_MAX_PARAM)
		pl[1] = YB_MAX_PARAM;
	pv[2] = text;
	pl[2] = text ? strlen(text) : 0;
	if (pl[2] > YB_MAX_PARAM)
		pl[2] = YB_MAX_PARAM;
	return yb_enc_cmd(&c->out, &c->open, code, pv, pl, 3);
}

/* emit - raise an event; -1 when the owner closed the call in it */
static int emit(struct ts_conn *c, struct ts_event *ev)
{
	if (c->fn != NULL && !c->closed)
		c->fn(c, ev, c->arg);
	return c->closed ? -1 : 0;
}

/* enter, leave - bracket a loop callback (deferred free) */
static void conn_free(struct ts_conn *c);
static void enter(struct ts_conn *c)
{
	c->depth++;
}

static void leave(struct ts_conn *c)
{
	if (--c->depth == 0 && c->closed)
		conn_free(c);
}

/* timer_stop - cancel a timer slot */
static void timer_stop(struct ts_conn *c, uint64_t *t)
{
	if (*t) {
		loop_timer_del(c->loop, *t);
		*t = 0;
	}
}

/* stdio_release - give fd back in its old state, replaced by /dev/null */
static void stdio_release(int fd, int fl)
{
	int nul;

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl);
	/* keep 0 and 1 occupied, so no later open() lands on them */
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(nul, fd);
		if (nul != fd)
			close(nul);
	} else {
		close(fd);
	}
}

/* close_fds - stop watching and close the call's descriptors */
static void close_fds(struct ts_conn *c)
{
	if (c->fd_out >= 0 && c->fd_out != c->fd_in) {
		if (c->mask_out >= 0)
			loop_fd_del(c->loop, c->fd_out);
		if (c->kind == TS_STDIO)
			stdio_release(c->fd_out, c->fl_out);
		else
			close(c->fd_out);
	}
	if (c->fd_in >= 0) {
		if (c->mask_in >= 0)
			loop_fd_del(c->loop, c->fd_in);
		if (c->kind == TS_STDIO)
			stdio_release(c->fd_in, c->fl_in);
		else
			close(c->fd_in);
	}
	c->fd_in = c->fd_out = -1;
	c->mask_in = c->mask_out = -1;
}

/* teardown - end all I/O and timers (but a pending failure report) */
static void teardown(struct ts_conn *c)
{
	timer_stop(c, &c->t_setup);
	timer_stop(c, &c->t_idle);
	timer_stop(c, &c->t_kick);
	timer_stop(c, &c->t_linger);
	close_fds(c);
	if (c->ai != NULL) {
		freeaddrinfo(c->ai);
		c->ai = c->ai_cur = NULL;
	}
}

/* finish - the call is over: raise TS_EV_DISCONNECT (loop context only) */
static void finish(struct ts_conn *c, int reason, const char *text)
{
	struct ts_event ev;

	if (!live(c))
		return;
	teardown(c);
	c->st = CS_DEAD;
	if (text != c->dtext)
		str_copy(c->dtext, text ? text : "", sizeof(c->dtext));
	c->dreason = reason;
	memset(&ev, 0, sizeof(ev));
	ev.type = TS_EV_DISCONNECT;
	ev.reason = reason;
	ev.text = c->dtext;
	(void)emit(c, &ev);
}

/* fail_cb - report a failure found inside an API call */
static void fail_cb(struct loop *loop, void *arg)
{
	struct ts_conn *c = arg;
	struct ts_event ev;

	(void)loop;
	c->t_fail = 0;
	enter(c);
	memset(&ev, 0, sizeof(ev));
	ev.type = TS_EV_DISCONNECT;
	ev.reason = c->dreason;
	ev.text = c->dtext;
	(void)emit(c, &ev);
	leave(c);
}

/* fail_later - end the I/O now, report TS_EV_DISCONNECT from the loop */
static void fail_later(struct ts_conn *c, int reason, const char *text)
{
	if (!live(c))
		return;
	teardown(c);
	c->st = CS_DEAD;
	c->dreason = reason;
	if (text != c->dtext)
		str_copy(c->dtext, text ? text : "", sizeof(c->dtext));
	c->t_fail = loop_timer_add(c->loop, 0, fail_cb, c);
}

/* end_call - finish (in the loop) or fail_later (inside an API call) */
static void end_call(struct ts_conn *c, int inloop, int reason, const char *text)
{
	if (inloop)
		finish(c, reason, text);
	else
		fail_later(c, reason, text);
}

/* lost - a read or write failed */
static void lost(struct ts_conn *c, int inloop, const char *op, int e)
{
	char text[YB_MAX_PARAM + 1], how[64] = "";

	if (c->pid > 0 && ts_drv_status(c->pid, how, sizeof(how)))
		c->pid = 0;
	textf(text, sizeof(text), "%s: %s: %s%s", c->peer, op, strerror(e), how);
	end_call(c, inloop, TS_R_TSFAIL, text);
}

/* kick_cb - work left for the loop: buffered input, a DRAINED event */
static void check_drained(struct ts_conn *c);
static void conn_update(struct ts_conn *c);
static void kick_cb(struct loop *loop, void *arg)
{
	struct ts_conn *c = arg;

	(void)loop;
	c->t_kick = 0;
	enter(c);
	if (live(c))
		process_input(c);
	if (live(c))
		check_drained(c);
	if (live(c))
		conn_update(c);
	leave(c);
}

/* kick - run kick_cb soon */
static void kick(struct ts_conn *c)
{
	if (live(c) && c->t_kick == 0)
		c->t_kick = loop_timer_add(c->loop, 0, kick_cb, c);
}

/* set_mask - register or change the watch of one descriptor */
static int set_mask(struct ts_conn *c, int fd, int *cur, int m)
{
	if (*cur == m)
		return 0;
	if (*cur < 0 ? loop_fd_set(c->loop, fd, m, io_cb, c) < 0
	    : loop_fd_mask(c->loop, fd, m) < 0)
		return -1;
	*cur = m;
	return 0;
}

/* conn_update - watch for what the state needs */
static void conn_update(struct ts_conn *c)
{
	int r = 0, w, rc;
	char text[YB_MAX_PARAM + 1];

	if (!live(c) || c->fd_in < 0)
		return;
	if (c->st == CS_CONNECTING) {
		w = 1;
	} else {
		w = c->out.len > 0 && !c->wr_shut;
		r = !read_held(c);
	}
	if (c->fd_in == c->fd_out)
		rc = set_mask(c, c->fd_in, &c->mask_in, (r ? LOOP_READ : 0)
			| (w ? LOOP_WRITE : 0));
	else
		rc = set_mask(c, c->fd_in, &c->mask_in, r ? LOOP_READ : 0) < 0
			|| (c->fd_out >= 0 && set_mask(c, c->fd_out, &c->mask_out,
				w ? LOOP_WRITE : 0) < 0) ? -1 : 0;
	if (rc < 0) {
		textf(text, sizeof(text), "%s: watch descriptor: %s", c->peer,
			strerror(errno));
		fail_later(c, TS_R_TSFAIL, text);
	}
}

/* write_some - write queued output until the kernel is full; 0, or -1 (errno) */
static int write_some(struct ts_conn *c)
{
	ssize_t n;
	size_t len;

	while ((len = c->out.len) > 0 && c->fd_out >= 0 && !c->wr_shut) {
		if (c->is_sock)
			n = send(c->fd_out, buf_data(&c->out), len, MSG_NOSIGNAL);
		else
			n = write(c->fd_out, buf_data(&c->out), len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOTSOCK && c->is_sock) {
				c->is_sock = 0;
				continue;
			}
			return -1;
		}
		if (c->yb)
			(void)walk(&c->w, buf_data(&c->out), (size_t)n, 0);
		buf_consume(&c->out, (size_t)n);
		c->last_io = loop_now_ms();
		if ((size_t)n < len)
			return 0;	/* the kernel is full: epoll says when not */
	}
	return 0;
}

/* linger_cb - the peer did not close after our DISCONNECT: done anyway */
static void linger_cb(struct loop *loop, void *arg)
{
	struct ts_conn *c = arg;

	(void)loop;
	c->t_linger = 0;
	enter(c);
	finish(c, c->dreason, c->dtext);
	leave(c);
}

/* shut_write - all output is out: half-close and wait for the peer */
static void shut_write(struct ts_conn *c)
{
	c->wr_shut = 1;
	if (c->is_sock) {
		(void)shutdown(c->fd_out, SHUT_WR);
	} else if (c->fd_out != c->fd_in) {
		if (c->mask_out >= 0)
			loop_fd_del(c->loop, c->fd_out);
		if (c->kind == TS_STDIO)
			stdio_release(c->fd_out, c->fl_out);
		else
			close(c->fd_out);
		c->fd_out = -1;
		c->mask_out = -1;
	}
	if (c->t_linger == 0)
		c->t_linger = loop_timer_add(c->loop, TS_LINGER_MS, linger_cb, c);
}

/* flush_out - write what we can; -1 when the call ended */
static int flush_out(struct ts_conn *c, int inloop)
{
	if (!live(c) || c->st == CS_CONNECTING)
		return live(c) ? 0 : -1;
	if (write_some(c) < 0) {
		lost(c, inloop, "write", errno);
		return -1;
	}
	if (c->out.len == 0 && c->st == CS_CLOSING && !c->wr_shut)
		shut_write(c);
	return 0;
}

/* best_effort_disconnect - tell the peer why we give up, if we can at once */
static void best_effort_disconnect(struct ts_conn *c, int reason, const char *text)
{
	/* not while the owner writes: it may be inside a sub-record */
	if (!c->yb || !live(c) || c->st == CS_CONNECTING || c->wr_shut || c->fd_out < 0
	    || c->raw_out)
		return;
	discard_output(c);
	if (enc_cmd3(c, YB_DISCONNECT, reason, text) == 0)
		(void)write_some(c);
}

/* check_drained - raise TS_EV_DRAINED when room is back */
static void check_drained(struct ts_conn *c)
{
	struct ts_event ev;

	if (!c->want_room || !sendable(c) || c->out.len >= c->cap / 2)
		return;
	c->want_room = 0;
	memset(&ev, 0, sizeof(ev));
	ev.type = TS_EV_DRAINED;
	(void)emit(c, &ev);
}

/* proto_error - the peer broke the framing or the call sequence */
static void proto_error(struct ts_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void proto_error(struct ts_conn *c, const char *fmt, ...)
{
	char what[512], text[YB_MAX_PARAM + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	textf(text, sizeof(text), "protocol error: %s", what);
	best_effort_disconnect(c, TS_R_REMOTEPROC, text);
	textf(text, sizeof(text), "%s: protocol error: %s", c->peer, what);
	finish(c, TS_R_REMOTEPROC, text);
}

/* timeout - a timer of ts_opts ran out */
static void timeout(struct ts_conn *c, const char *text)
{
	best_effort_disconnect(c, TS_R_TSFAIL, text);
	finish(c, TS_R_TSFAIL, text);
}

/* setup_cb - connect or setup timeout */
static void setup_cb(struct loop *loop, void *arg)
{
	struct ts_conn *c = arg;
	char text[YB_MAX_PARAM + 1];

	(void)loop;
	c->t_setup = 0;
	enter(c);
	switch (c->st) {
	case CS_CONNECTING:
		textf(text, sizeof(text), "connect %s: no connection within %d ms "
			"(connect timeout)", c->addr, c->connect_ms);
		timeout(c, text);
		break;
	case CS_SETUP_OUT:
		textf(text, sizeof(text), "%s: no ACCEPT within %d ms (setup timeout)",
			c->peer, c->setup_ms);
		timeout(c, text);
		break;
	case CS_SETUP_IN:
		textf(text, sizeof(text), "%s: no %s within %d ms (setup timeout)",
			c->peer, c->yb ? "CONNECT" : "called address", c->setup_ms);
		timeout(c, text);
		break;
	default:
		break;
	}
	leave(c);
}

/* arm_setup - (re)start the connect or setup timer */
static void arm_setup(struct ts_conn *c, int ms)
{
	timer_stop(c, &c->t_setup);
	if (ms > 0)
		c->t_setup = loop_timer_add(c->loop, ms, setup_cb, c);
}

/* idle_cb - nothing moved for idle_ms? */
static void idle_cb(struct loop *loop, void *arg)
{
	struct ts_conn *c = arg;
	char text[YB_MAX_PARAM + 1];
	int64_t el;

	(void)loop;
	c->t_idle = 0;
	enter(c);
	if (live(c)) {
		el = loop_now_ms() - c->last_io;
		if (el >= c->idle_ms) {
			textf(text, sizeof(text), "%s: nothing sent or received for %d ms "
				"(idle timeout)", c->peer, c->idle_ms);
			timeout(c, text);
		} else {
			c->t_idle = loop_timer_add(c->loop, c->idle_ms - el, idle_cb, c);
		}
	}
	leave(c);
}

/* opt_ms - a timeout option: >0 as given, 0 the default, <0 none */
static int opt_ms(int v, int def)
{
	return v > 0 ? v : v == 0 ? def : 0;
}

/* conn_new - a call object */
static struct ts_conn *conn_new(struct loop *loop, enum ts_kind kind,
	const struct ts_opts *opts, int outgoing)
{
	struct ts_conn *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->kind = kind;
	c->yb = kind != TS_RAWTCP;
	c->outgoing = outgoing;
	c->fd_in = c->fd_out = -1;
	c->mask_in = c->mask_out = -1;
	c->fl_in = c->fl_out = -1;
	c->connect_ms = opt_ms(opts ? opts->connect_timeout_ms : 0, TS_DEF_CONNECT);
	c->setup_ms = opt_ms(opts ? opts->setup_timeout_ms : 0, TS_DEF_SETUP);
	c->idle_ms = opts ? (opts->idle_timeout_ms > 0 ? opts->idle_timeout_ms : 0)
		: TS_DEF_IDLE;
	c->cap = opts && opts->send_cap ? opts->send_cap : TS_DEF_CAP;
	if (c->cap < 1024)
		c->cap = 1024;
	if (opts && opts->local_name && *opts->local_name)
		c->local_name = xstrdup(opts->local_name);
	buf_init(&c->out, c->cap + TS_CMD_SLACK);
	buf_init(&c->early, c->cap > TS_RDCHUNK ? c->cap : TS_RDCHUNK);
	c->w.st = W_TYPE;
	if (c->yb)
		c->dec = yb_dec_new(&dec_cb, c);
	c->last_io = loop_now_ms();
	if (c->idle_ms > 0)
		c->t_idle = loop_timer_add(loop, c->idle_ms, idle_cb, c);
	return c;
}

/* conn_free - release everything (the I/O is already down) */
static void conn_free(struct ts_conn *c)
{
	timer_stop(c, &c->t_fail);
	teardown(c);
	if (c->pid > 0)
		ts_drv_reap(c->pid, c->eof_seen);
	yb_dec_free(c->dec);
	buf_release(&c->out);
	buf_release(&c->early);
	free(c->in);
	free(c->local_name);
	free(c->called);
	free(c->calling);
	free(c);
}

/* stdio_attach - use our fds 0 and 1 */
static int stdio_attach(struct ts_conn *c, char *err, size_t errlen)
{
	int type;
	socklen_t tl = sizeof(type);

	if ((c->fl_in = fcntl(0, F_GETFL)) < 0 || (c->fl_out = fcntl(1, F_GETFL)) < 0
	    || ts_drv_nonblock(0) < 0 || ts_drv_nonblock(1) < 0) {
		textf(err, errlen, "stdio: fcntl: %s", strerror(errno));
		return -1;
	}
	c->fd_in = 0;
	c->fd_out = 1;
	c->is_sock = getsockopt(1, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
	str_copy(c->peer, "stdio", sizeof(c->peer));
	str_copy(c->addr, "stdio", sizeof(c->addr));
	return 0;
}

/* connected - the socket is up (caller) */
static void connected(struct ts_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ts_event ev;

	if (c->ai != NULL) {
		freeaddrinfo(c->ai);
		c->ai = c->ai_cur = NULL;
	}
	if (c->kind != TS_UNIX
	    && getpeername(c->fd_in, (struct sockaddr *)&ss, &sl) == 0)
		ts_drv_sockname((struct sockaddr *)&ss, sl, c->peer, sizeof(c->peer));
	c->last_io = loop_now_ms();
	if (c->yb) {
		c->st = CS_SETUP_OUT;
		arm_setup(c, c->setup_ms);
	} else {
		timer_stop(c, &c->t_setup);
		c->st = CS_OPEN;
	}
	if (flush_out(c, 1) < 0)
		return;
	if (!c->yb) {
		memset(&ev, 0, sizeof(ev));
		ev.type = TS_EV_ACCEPTED;
		(void)emit(c, &ev);
	}
}

/* start_connect - try the addresses from ai_cur on; 0, or -1 local failure */
static int start_connect(struct ts_conn *c, int inloop, char *err, size_t errlen)
{
	struct sockaddr_un su;
	char text[YB_MAX_PARAM + 1];
	int fd = -1, rc, e = ECONNREFUSED;

	c->st = CS_CONNECTING;
	if (c->kind == TS_UNIX) {
		rc = ts_drv_connect((struct sockaddr *)&su,
			ts_drv_unix_sa(&su, c->addr + 5), &fd);
		e = errno;
	} else {
		rc = -2;
		for (; c->ai_cur != NULL; c->ai_cur = c->ai_cur->ai_next) {
			rc = ts_drv_connect(c->ai_cur->ai_addr, c->ai_cur->ai_addrlen, &fd);
			e = errno;
			if (rc == 0 || (rc == -1 && !inloop))
				break;
		}
	}
	if (rc == -1 && !inloop) {
		textf(err, errlen, "socket for %s: %s", c->addr, strerror(e));
		return -1;
	}
	if (rc < 0) {
		textf(text, sizeof(text), "connect %s: %s", c->addr, strerror(e));
		end_call(c, inloop, TS_R_NOCONN, text);
		return 0;
	}
	c->fd_in = c->fd_out = fd;
	c->is_sock = 1;
	if (c->t_setup == 0)
		arm_setup(c, c->connect_ms);
	conn_update(c);
	return 0;
}

/* connect_done - the socket became writable while connecting */
static void connect_done(struct ts_conn *c)
{
	int e = 0;
	socklen_t el = sizeof(e);
	char text[YB_MAX_PARAM + 1];

	if (getsockopt(c->fd_in, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	if (e == EINPROGRESS || e == EALREADY)
		return;
	if (e == 0) {
		connected(c);
		return;
	}
	close_fds(c);
	if (c->ai_cur != NULL && c->ai_cur->ai_next != NULL) {
		c->ai_cur = c->ai_cur->ai_next;
		(void)start_connect(c, 1, NULL, 0);
		return;
	}
	textf(text, sizeof(text), "connect %s: %s", c->addr, strerror(e));
	finish(c, TS_R_NOCONN, text);
}

/* on_eof - the peer closed its side */
static void on_eof(struct ts_conn *c)
{
	char text[YB_MAX_PARAM + 1], how[64] = "";

	c->eof_seen = 1;
	if (c->st == CS_CLOSING) {
		finish(c, c->dreason, c->dtext);
		return;
	}
	if (c->pid > 0 && ts_drv_status(c->pid, how, sizeof(how)))
		c->pid = 0;
	if (!c->yb) {
		if (c->st == CS_OPEN && c->out.len == 0) {
			textf(text, sizeof(text), "%s: connection closed", c->peer);
			finish(c, TS_R_NORMAL, text);
		} else if (c->st == CS_SETUP_IN) {
			textf(text, sizeof(text), "%s: connection closed before the "
				"called address", c->peer);
			finish(c, TS_R_TSFAIL, text);
		} else {
			textf(text, sizeof(text), "%s: connection closed with %zu octets "
				"unsent", c->peer, c->out.len);
			finish(c, TS_R_TSFAIL, text);
		}
		return;
	}
	textf(text, sizeof(text), "%s: connection closed without DISCONNECT%s%s",
		c->peer, yb_dec_midrecord(c->dec) ? " (inside a record)" : "", how);
	finish(c, TS_R_TSFAIL, text);
}

/* early_add - keep data that came before ts_accept(); 0 or -1 */
static int early_add(struct ts_conn *c, const unsigned char *p, size_t len, int push)
{
	/* it fits: see decode_held() */
	if (buf_append(&c->early, p, len) < 0) {
		proto_error(c, "more data before ACCEPT than we buffer");
		return -1;
	}
	c->rcvd += len;
	if (push && c->nepush < TS_EARLY_PUSH)
		c->epush[c->nepush++] = c->early.len;
	else if (push)
		c->epush[TS_EARLY_PUSH - 1] = c->early.len;	/* boundaries merged */
	return 0;
}

/* raw_input - rawtcp: the called address, then bare data; octets used */
static size_t raw_input(struct ts_conn *c, const unsigned char *p, size_t n)
{
	const unsigned char *z;
	size_t take;
	char text[YB_MAX_PARAM + 1];
	struct ts_event ev;

	memset(&ev, 0, sizeof(ev));
	if (c->st == CS_SETUP_IN) {
		z = memchr(p, 0, n);
		take = z ? (size_t)(z - p) : n;
		if (c->rawlen + take > TS_RAWCALLED) {
			textf(text, sizeof(text), "%s: rawtcp called address longer than "
				"%d octets", c->peer, TS_RAWCALLED);
			finish(c, TS_R_BADADDR, text);
			return n;
		}
		memcpy(c->raw + c->rawlen, p, take);
		c->rawlen += take;
		if (z == NULL)
			return n;
		c->raw[c->rawlen] = 0;
		free(c->called);
		c->called = xstrdup(c->raw);
		c->st = CS_INCOMING;
		timer_stop(c, &c->t_setup);
		ev.type = TS_EV_INCOMING;
		ev.called = c->called;
		ev.calling = "";
		(void)emit(c, &ev);
		return take + 1;
	}
	if (c->st == CS_INCOMING) {
		(void)early_add(c, p, n, 1);
		return n;
	}
	if (c->st == CS_OPEN) {
		c->rcvd += n;
		ev.type = TS_EV_DATA;
		ev.data = p;
		ev.len = n;
		ev.push = 1;
		(void)emit(c, &ev);
	}
	return n;		/* CLOSING: dropped */
}

/* flush_early - hand over the data that came before ts_accept() */
static void flush_early(struct ts_conn *c)
{
	struct ts_event ev;
	size_t n;
	int push, i;

	while ((c->early.len > 0 || c->nepush > 0) && live(c) && !paused(c)) {
		if (c->nepush > 0) {
			n = c->epush[0];
			push = 1;
			for (i = 1; i < c->nepush; i++)
				c->epush[i - 1] = c->epush[i] - n;
			c->nepush--;
		} else {
			n = c->early.len;
			push = 0;
		}
		memset(&ev, 0, sizeof(ev));
		ev.type = TS_EV_DATA;
		ev.data = buf_data(&c->early);
		ev.len = n;
		ev.push = push;
		if (emit(c, &ev) < 0 || c->st != CS_OPEN)
			return;		/* closed, or closing (early was dropped) */
		buf_consume(&c->early, n);
	}
}

/* process_input - decode buffered input while nothing holds it */
static void process_input(struct ts_conn *c)
{
	size_t k;
	int rc;

	if (c->st == CS_OPEN)
		flush_early(c);
	while (c->in_len > 0 && live(c) && !decode_held(c)) {
		if (!c->yb) {
			k = raw_input(c, c->in + c->in_off, c->in_len);
		} else {
			rc = yb_dec_feed(c->dec, c->in + c->in_off, c->in_len);
			k = yb_dec_consumed(c->dec);
			if (rc < 0 && yb_dec_error(c->dec) != NULL && live(c)) {
				proto_error(c, "%s", yb_dec_error(c->dec));
				return;
			}
		}
		c->in_off += k;
		c->in_len -= k;
		if (k == 0)
			break;
	}
	if (c->in_len == 0)
		c->in_off = 0;
}

/* on_read - input is ready */
static void on_read(struct ts_conn *c)
{
	ssize_t n;
	int burst;

	for (burst = 0; burst < TS_RDBURST; burst++) {
		if (c->in_len > 0 || read_held(c) || c->fd_in < 0)
			return;
		if (c->in == NULL) {
			c->in_cap = TS_RDCHUNK;	/* on first use: idle calls stay small */
			c->in = xmalloc(c->in_cap);
		}
		do
			n = read(c->fd_in, c->in, c->in_cap);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				lost(c, 1, "read", errno);
			return;
		}
		if (n == 0) {
			on_eof(c);
			return;
		}
		c->last_io = loop_now_ms();
		c->in_off = 0;
		c->in_len = (size_t)n;
		process_input(c);
		if ((size_t)n < c->in_cap || !live(c))
			return;		/* the kernel had no more, or the call ended */
		if (c->st == CS_OPEN && c->in_cap < TS_RDBULK && c->in_len == 0) {
			/* bulk data: larger reads from now on */
			free(c->in);
			c->in_cap = TS_RDBULK;
			c->in = xmalloc(c->in_cap);
		}
	}
}

/* io_cb - a descriptor of the call is ready */
static void io_cb(struct loop *loop, int fd, int mask, void *arg)
{
	struct ts_conn *c = arg;

	(void)loop;
	enter(c);
	if (c->st == CS_CONNECTING) {
		connect_done(c);
	} else {
		if ((mask & LOOP_READ) && fd == c->fd_in && live(c))
			on_read(c);
		if ((mask & LOOP_WRITE) && fd == c->fd_out && live(c)
		    && flush_out(c, 1) == 0)
			check_drained(c);
	}
	if (live(c))
		conn_update(c);
	leave(c);
}

/* data_cb - decoded data */
static int data_cb(void *arg, const unsigned char *p, size_t len, int push)
{
	struct ts_conn *c = arg;
	struct ts_event ev;

	if (c->st == CS_CLOSING || c->reset_sent)
		return 0;	/* dropped: we are closing, or resetting */
	if (c->st == CS_INCOMING)
		return early_add(c, p, len, push);
	if (c->st != CS_OPEN) {
		proto_error(c, "data before %s", c->outgoing ? "ACCEPT" : "CONNECT");
		return -1;
	}
	c->rcvd += len;
	memset(&ev, 0, sizeof(ev));
	ev.type = TS_EV_DATA;
	ev.data = p;
	ev.len = len;
	ev.push = push;
	(void)emit(c, &ev);
	return live(c) && !paused(c) ? 0 : -1;
}

/* cmd_cb - a decoded command */
static int cmd_cb(void *arg, const struct yb_cmd *cmd)
{
	struct ts_conn *c = arg;
	struct ts_event ev;
	int reason = cmd->plen[0] ? cmd->param[0][0] : 0;

	memset(&ev, 0, sizeof(ev));
	if (c->st == CS_CLOSING && cmd->code != YB_DISCONNECT)
		return 0;	/* crossed our DISCONNECT: only its answer matters */
	switch (cmd->code) {
	case YB_CONNECT:
		if (c->outgoing || c->st != CS_SETUP_IN) {
			proto_error(c, "unexpected CONNECT");
			return -1;
		}
		free(c->called);
		free(c->calling);
		c->called = xstrdup((const char *)cmd->param[0]);
		c->calling = xstrdup((const char *)cmd->param[1]);
		c->st = CS_INCOMING;
		timer_stop(c, &c->t_setup);
		ev.type = TS_EV_INCOMING;
		ev.called = c->called;
		ev.calling = c->calling;
		break;
	case YB_ACCEPT:
		if (!c->outgoing || c->st != CS_SETUP_OUT) {
			proto_error(c, "unexpected ACCEPT");
			return -1;
		}
		c->st = CS_OPEN;
		timer_stop(c, &c->t_setup);
		ev.type = TS_EV_ACCEPTED;
		break;
	case YB_DISCONNECT:
		if (c->st == CS_CLOSING)
			finish(c, c->dreason, c->dtext);	/* crossed: ours stands */
		else
			finish(c, reason, (const char *)cmd->param[2]);
		return -1;
	case YB_RESET:
		if (c->st != CS_OPEN) {
			proto_error(c, "RESET before the call was open");
			return -1;
		}
		ev.type = TS_EV_RESET;
		ev.reason = reason;
		ev.text = (const char *)cmd->param[2];
		if (c->reset_sent) {
			/* the answer to ours, or a RESET that crossed it */
			c->reset_sent = 0;
			ev.confirm = 1;
		} else {
			if (!c->raw_out)	/* else the owner discards its own */
				discard_output(c);
			c->reset_rcvd = 1;
			if (c->want_room)
				kick(c);
		}
		break;
	default:
		return 0;
	}
	(void)emit(c, &ev);
	return live(c) && !paused(c) ? 0 : -1;
}

/* ts_connect - start a call */
struct ts_conn *ts_connect(struct loop *loop, const char *addr, const char *called,
	const char *calling, const struct ts_opts *opts, ts_event_fn *fn, void *arg,
	char *err, size_t errlen)
{
	struct ts_addr a;
	struct ts_conn *c;
	const char *pv[4];
	char rerr[512], text[YB_MAX_PARAM + 1];
	size_t i, n;

	if (ts_addr_parse(addr, &a, err, errlen) < 0)
		return NULL;
	if (called == NULL)
		called = "";
	if (calling == NULL)
		calling = "";
	if (strlen(called) > (a.kind == TS_RAWTCP ? TS_RAWCALLED : YB_MAX_PARAM)
	    || strlen(calling) > YB_MAX_PARAM) {
		textf(err, errlen, "call %s: called or calling address too long", addr);
		return NULL;
	}
	c = conn_new(loop, a.kind, opts, 1);
	c->fn = fn;
	c->arg = arg;
	c->called = xstrdup(called);
	c->calling = xstrdup(calling);
	ts_addr_str(&a, c->addr, sizeof(c->addr));
	if (c->yb) {
		pv[0] = called;
		pv[1] = calling;
		pv[2] = pv[3] = NULL;
		(void)yb_enc_cmd(&c->out, &c->open, YB_CONNECT, pv, NULL, 4);
	} else {
		n = strlen(called);
		for (i = 0; i <= n; i++)
			(void)buf_putc(&c->out, called[i] >= 'A' && called[i] <= 'Z'
				? called[i] - 'A' + 'a' : called[i]);
	}
	switch (a.kind) {
	case TS_TCP:
	case TS_RAWTCP:
		textf(c->peer, sizeof(c->peer), strchr(a.host, ':') ? "[%s]:%s" : "%s:%s",
			a.host, a.port);
		if (ts_drv_resolve(&a, 0, &c->ai, rerr, sizeof(rerr)) < 0) {
			c->st = CS_CONNECTING;
			textf(text, sizeof(text), "connect %s: %s", c->addr, rerr);
			fail_later(c, TS_R_NOCONN, text);
			return c;
		}
		c->ai_cur = c->ai;
		/* FALLTHROUGH */
	case TS_UNIX:
		if (a.kind == TS_UNIX)
			str_copy(c->peer, c->addr, sizeof(c->peer));
		if (start_connect(c, 0, err, errlen) < 0)
			goto fail;
		return c;
	case TS_EXEC:
		str_copy(c->peer, c->addr, sizeof(c->peer));
		if ((c->pid = ts_drv_spawn(a.cmd, &c->fd_in, err, errlen)) < 0) {
			c->pid = 0;
			goto fail;
		}
		c->fd_out = c->fd_in;
		c->is_sock = 1;
		break;
	case TS_STDIO:
		if (stdio_attach(c, err, errlen) < 0)
			goto fail;
		break;
	}
	c->st = CS_SETUP_OUT;
	arm_setup(c, c->setup_ms);
	conn_update(c);
	return c;

fail:
	c->closed = 1;
	conn_free(c);
	return NULL;
}

/* conn_incoming - a call arriving on a listener */
static struct ts_conn *conn_incoming(struct ts_listener *l, int fd, const char *peer)
{
	struct ts_conn *c = conn_new(l->loop, l->kind, &l->opts, 0);

	if (fd >= 0) {
		c->fd_in = c->fd_out = fd;
		c->is_sock = 1;
		str_copy(c->peer, peer, sizeof(c->peer));
		str_copy(c->addr, l->addr, sizeof(c->addr));
	}
	c->st = CS_SETUP_IN;
	return c;
}

/* incoming_start - hand a new call to the listener's owner */
static void incoming_start(struct ts_listener *l, struct ts_conn *c)
{
	enter(c);
	arm_setup(c, c->setup_ms);
	conn_update(c);
	if (l->fn != NULL)
		l->fn(l, c, l->arg);
	leave(c);
}

static void listener_free(struct ts_listener *l);

/* retry_cb - accept again after running out of descriptors */
static void retry_cb(struct loop *loop, void *arg)
{
	struct ts_listener *l = arg;

	l->t_retry = 0;
	(void)loop_fd_mask(loop, l->fd, LOOP_READ);
}

/* accept_cb - connections are waiting */
static void accept_cb(struct loop *loop, int fd, int mask, void *arg)
{
	struct ts_listener *l = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	char peer[TS_ADDRMAX];
	int cfd, i, one = 1;

	(void)mask;
	l->depth++;
	for (i = 0; i < 32 && !l->closed; i++) {
		sl = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
			    || errno == ENOMEM) {
				/* do not spin on a full descriptor table */
				(void)loop_fd_mask(loop, fd, 0);
				l->t_retry = loop_timer_add(loop, 100, retry_cb, l);
			}
			break;
		}
		if (l->kind == TS_UNIX) {
			textf(peer, sizeof(peer), "%s", l->addr);
		} else {
			ts_drv_sockname((struct sockaddr *)&ss, sl, peer, sizeof(peer));
			(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		incoming_start(l, conn_incoming(l, cfd, peer));
	}
	if (--l->depth == 0 && l->closed)
		listener_free(l);
}

/* stdio_cb - the one call of a stdio listener */
static void stdio_cb(struct loop *loop, void *arg)
{
	struct ts_listener *l = arg;
	struct ts_conn *c;
	char err[256];

	(void)loop;
	l->t_start = 0;
	l->depth++;
	c = conn_incoming(l, -1, NULL);
	if (stdio_attach(c, err, sizeof(err)) < 0) {
		enter(c);
		fail_later(c, TS_R_LOCALPROC, err);
		if (l->fn != NULL)
			l->fn(l, c, l->arg);
		leave(c);
	} else {
		incoming_start(l, c);
	}
	if (--l->depth == 0 && l->closed)
		listener_free(l);
}

/* ts_listen - accept calls on addr */
struct ts_listener *ts_listen(struct loop *loop, const char *addr,
	const struct ts_opts *opts, ts_new_fn *fn, void *arg, char *err, size_t errlen)
{
	struct ts_addr a;
	struct ts_listener *l;
	struct stat st;
	char bound[TS_ADDRMAX];
	int fd = -1, i;

	if (ts_addr_parse(addr, &a, err, errlen) < 0)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->loop = loop;
	l->kind = a.kind;
	l->fd = -1;
	l->fn = fn;
	l->arg = arg;
	if (opts != NULL)
		l->opts = *opts;
	else
		l->opts.idle_timeout_ms = TS_DEF_IDLE;
	if (opts != NULL && opts->local_name != NULL)
		l->local_name = xstrdup(opts->local_name);
	l->opts.local_name = l->local_name;
	switch (a.kind) {
	case TS_TCP:
	case TS_RAWTCP:
		if ((fd = ts_drv_listen_tcp(&a, bound, sizeof(bound), err, errlen)) < 0)
			goto fail;
		textf(l->addr, sizeof(l->addr), "%s:%s", a.kind == TS_TCP ? "tcp" : "rawtcp",
			bound);
		break;
	case TS_UNIX:
		if ((fd = ts_drv_listen_unix(a.path, err, errlen)) < 0)
			goto fail;
		if (stat(a.path, &st) == 0) {
			l->path = xstrdup(a.path);
			l->dev = st.st_dev;
			l->ino = st.st_ino;
		}
		ts_addr_str(&a, l->addr, sizeof(l->addr));
		break;
	case TS_EXEC:
		textf(err, errlen, "listen %s: an exec: address can only be called", addr);
		goto fail;
	case TS_STDIO:
		for (i = 0; i < 2; i++) {
			if (fstat(i, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
				textf(err, errlen, "listen stdio: fd %d is %s", i, errno == EBADF
					? "not open" : "a file (need a pipe, socket or terminal)");
				goto fail;
			}
		}
		str_copy(l->addr, "stdio", sizeof(l->addr));
		l->t_start = loop_timer_add(loop, 0, stdio_cb, l);
		return l;
	}
	if (loop_fd_set(loop, fd, LOOP_READ, accept_cb, l) < 0) {
		textf(err, errlen, "listen %s: watch: %s", l->addr, strerror(errno));
		close(fd);
		if (l->path != NULL)
			(void)unlink(l->path);
		goto fail;
	}
	l->fd = fd;
	return l;

fail:
	free(l->path);
	free(l->local_name);
	free(l);
	return NULL;
}

/* listener_free - release a listener */
static void listener_free(struct ts_listener *l)
{
	free(l->path);
	free(l->local_name);
	free(l);
}

/* ts_listener_close - stop listening */
void ts_listener_close(struct ts_listener *l)
{
	struct stat st;

	if (l == NULL || l->closed)
		return;
	l->closed = 1;
	if (l->t_start) {
		loop_timer_del(l->loop, l->t_start);
		l->t_start = 0;
	}
	if (l->t_retry) {
		loop_timer_del(l->loop, l->t_retry);
		l->t_retry = 0;
	}
	if (l->fd >= 0) {
		loop_fd_del(l->loop, l->fd);
		close(l->fd);
		l->fd = -1;
	}
	/* remove the socket file only if it is still the one we made */
	if (l->path != NULL && lstat(l->path, &st) == 0 && st.st_dev == l->dev
	    && st.st_ino == l->ino)
		(void)unlink(l->path);
	if (l->depth == 0)
		listener_free(l);
}

/* ts_listener_addr - the bound address */
const char *ts_listener_addr(const struct ts_listener *l)
{
	return l->addr;
}

/* ts_set_handler - set the event callback */
void ts_set_handler(struct ts_conn *c, ts_event_fn *fn, void *arg)
{
	c->fn = fn;
	c->arg = arg;
}

/* ts_accept - accept an incoming call */
int ts_accept(struct ts_conn *c)
{
	const char *pv[3] = { NULL, NULL, NULL };

	if (c == NULL || !live(c) || c->st != CS_INCOMING)
		return -1;
	if (c->yb && yb_enc_cmd(&c->out, &c->open, YB_ACCEPT, pv, NULL, 3) < 0)
		return -1;
	c->st = CS_OPEN;
	if (flush_out(c, 0) < 0)
		return 0;	/* the failure is reported as TS_EV_DISCONNECT */
	if (c->in_len > 0 || c->early.len > 0 || c->nepush > 0)
		kick(c);
	conn_update(c);
	return 0;
}

/* start_closing - queue DISCONNECT after the data, then half-close */
static void start_closing(struct ts_conn *c, int reason, const char *text)
{
	PANIC_IF(c->raw_out);	/* the owner gives the output back first */
	c->dreason = reason;
	str_copy(c->dtext, text ? text : "", sizeof(c->dtext));
	timer_stop(c, &c->t_setup);
	if (c->yb)
		(void)enc_cmd3(c, YB_DISCONNECT, reason, text);
	c->st = CS_CLOSING;
	buf_reset(&c->early);
	c->nepush = 0;
	if (flush_out(c, 0) < 0)
		return;
	if (c->in_len > 0)
		kick(c);	/* input held back until now is read and dropped */
	conn_update(c);
}

/* ts_refuse - refuse an incoming call */
void ts_refuse(struct ts_conn *c, int reason, const char *text)
{
	if (c == NULL || !live(c) || (c->st != CS_INCOMING && c->st != CS_SETUP_IN))
		return;
	start_closing(c, reason, text);
}

/* ts_send - queue data */
int ts_send(struct ts_conn *c, const void *p, size_t len, int push)
{
	int rc;

	if (c == NULL || !sendable(c))
		return -1;
	if (len > ts_room(c)) {
		c->want_room = 1;
		return -1;
	}
	rc = c->yb ? yb_enc_data(&c->out, &c->open, p, len, push)
		: buf_append(&c->out, p, len);
	if (rc < 0) {
		c->want_room = 1;
		return -1;
	}
	c->sent += len;
	if (c->st != CS_CONNECTING && (push || c->out.len >= TS_WRHIGH)
	    && flush_out(c, 0) < 0)
		return 0;	/* queued; the failure comes as TS_EV_DISCONNECT */
	conn_update(c);
	return 0;
}

/* ts_room - octets that may be queued now */
size_t ts_room(const struct ts_conn *c)
{
	size_t r, n;

	if (c == NULL || !sendable(c) || c->out.len >= c->cap)
		return 0;
	r = c->cap - c->out.len;
	if (!c->yb)
		return r;
	/* largest n whose encoding (n + n/127 + 2, see yb_enc_data) fits in r */
	if (r <= 2)
		return 0;
	r -= 2;
	n = r - r / 128;
	while (n > 0 && n + n / 127 > r)
		n--;
	return n;
}

/* ts_want_room - ask for TS_EV_DRAINED */
void ts_want_room(struct ts_conn *c)
{
	if (c == NULL || !live(c))
		return;
	c->want_room = 1;
	if (c->out.len < c->cap / 2)
		kick(c);
}

/* ts_queued - octets not yet written to the kernel */
size_t ts_queued(const struct ts_conn *c)
{
	return c == NULL ? 0 : c->out.len;
}

/* ts_pause - stop or resume reading */
void ts_pause(struct ts_conn *c, int on)
{
	if (c == NULL || !live(c))
		return;
	c->paused = on != 0;
	if (!on && (c->in_len > 0 || c->early.len > 0 || c->nepush > 0))
		kick(c);
	conn_update(c);
}

/* ts_reset - send or answer a RESET */
void ts_reset(struct ts_conn *c, int reason, const char *text)
{
	if (c == NULL || !live(c))
		return;
	if (!c->yb) {
		ts_disconnect(c, reason, text);
		return;
	}
	if (c->st != CS_OPEN || (c->reset_sent && !c->reset_rcvd))
		return;
	PANIC_IF(c->raw_out);	/* the owner gives the output back first */
	discard_output(c);
	if (enc_cmd3(c, YB_RESET, reason, text) < 0)
		return;
	if (c->reset_rcvd)
		c->reset_rcvd = 0;	/* our answer */
	else
		c->reset_sent = 1;
	if (flush_out(c, 0) < 0)
		return;
	if (c->want_room)
		kick(c);
	conn_update(c);
}

/* ts_disconnect - end the call after the queued data */
void ts_disconnect(struct ts_conn *c, int reason, const char *text)
{
	if (c == NULL || !live(c) || c->st == CS_CLOSING)
		return;
	if (c->st == CS_CONNECTING) {
		fail_later(c, reason, text);	/* nothing reached the peer */
		return;
	}
	start_closing(c, reason, text);
}

/* ts_close - free the call */
void ts_close(struct ts_conn *c)
{
	if (c == NULL || c->closed)
		return;
	c->closed = 1;
	timer_stop(c, &c->t_fail);
	teardown(c);
	if (c->depth == 0)
		conn_free(c);
}

/* ts_conn_kind - the driver */
enum ts_kind ts_conn_kind(const struct ts_conn *c)
{
	return c->kind;
}

/* ts_called - the called address */
const char *ts_called(const struct ts_conn *c)
{
	return c->called ? c->called : "";
}

/* ts_calling - the calling address */
const char *ts_calling(const struct ts_conn *c)
{
	return c->calling ? c->calling : "";
}

/* ts_peer - the peer, for messages */
const char *ts_peer(const struct ts_conn *c)
{
	return c->peer;
}

int ts_peer_uid(const struct ts_conn *c, unsigned long *uid)
{
	struct ucred uc;
	socklen_t sl = sizeof(uc);

	if (c->kind != TS_UNIX || !c->is_sock || c->fd_in < 0
	    || getsockopt(c->fd_in, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0 || sl != sizeof(uc))
		return -1;
	*uid = (unsigned long) uc.uid;
	return 0;
}

/* unmap - a v4-mapped IPv6 address as the IPv4 address it stands for */
static void unmap(struct sockaddr_storage *ss)
{
	static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	if (ss->ss_family != AF_INET6)
		return;
	memcpy(&s6, ss, sizeof(s6));
	if (memcmp(s6.sin6_addr.s6_addr, mapped, 12) != 0)
		return;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = s6.sin6_port;
	memcpy(&s4.sin_addr, s6.sin6_addr.s6_addr + 12, 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

/* sock_hex - an address and port as /proc/net/tcp{,6} print them; 0 or -1 */
static int sock_hex(const struct sockaddr_storage *ss, char *buf, size_t len, int *v6)
{
	uint32_t w[4];
	unsigned port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *) ss;

		memcpy(w, &s4->sin_addr, 4);
		port = ntohs(s4->sin_port);
		*v6 = 0;
		snprintf(buf, len, "%08X:%04X", w[0], port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) ss;

		memcpy(w, &s6->sin6_addr, 16);
		port = ntohs(s6->sin6_port);
		*v6 = 1;
		snprintf(buf, len, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3], port);
		return 0;
	}
	return -1;
}

/* loopback - the address is 127/8, ::1 or ::ffff:127/104 */
static int loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *) ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const unsigned char *a = ((const struct sockaddr_in6 *) ss)->sin6_addr.s6_addr;
		static const unsigned char one[16] = { 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1 };
		static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

		return memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
	}
	return 0;
}

int ts_peer_loopback_uid(const struct ts_conn *c, unsigned long *uid)
{
	struct sockaddr_storage me, them;
	socklen_t ml = sizeof(me), tl = sizeof(them);
	char    mine[64], theirs[64], line[512];
	FILE   *fp;
	int     v6, v6b, found = -1;

	if ((c->kind != TS_TCP && c->kind != TS_RAWTCP) || !c->is_sock || c->fd_in < 0
	    || getsockname(c->fd_in, (struct sockaddr *) &me, &ml) < 0
	    || getpeername(c->fd_in, (struct sockaddr *) &them, &tl) < 0
	    || !loopback(&them))
		return -1;
	/* on a dual-stack listener an IPv4 caller is a mapped address here,
	 * but its own socket is an IPv4 one, listed in /proc/net/tcp */
	unmap(&me);
	unmap(&them);
	if (sock_hex(&me, mine, sizeof(mine), &v6) < 0
	    || sock_hex(&them, theirs, sizeof(theirs), &v6b) < 0)
		return -1;
	if ((fp = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "re")) == NULL)
		return -1;
	/* the other end's socket: its local address is our peer, its remote
	 * address is us */
	while (found < 0 && fgets(line, sizeof(line), fp) != NULL) {
		char    la[64], ra[64];
		unsigned long u, ino;
		unsigned st;

		/* a socket already closed is still listed, as uid 0 with inode
		 * 0: only an established socket that still exists counts */
		if (sscanf(line, " %*s %63s %63s %x %*s %*s %*s %lu %*s %lu", la, ra, &st, &u,
		    &ino) == 5 && st == 0x01 && ino != 0
		    && strcmp(la, theirs) == 0 && strcmp(ra, mine) == 0) {
			*uid = u;
			found = 0;
		}
	}
	fclose(fp);
	return found;
}

int ts_peer_ip(const struct ts_conn *c, int *family, unsigned char ip[16])
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if ((c->kind != TS_TCP && c->kind != TS_RAWTCP) || !c->is_sock || c->fd_in < 0
	    || getpeername(c->fd_in, (struct sockaddr *) &ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		*family = AF_INET;
		memcpy(ip, &((struct sockaddr_in *) &ss)->sin_addr, 4);
		return 0;
	}
	if (ss.ss_family == AF_INET6) {
		const unsigned char *a = ((struct sockaddr_in6 *) &ss)->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

		if (memcmp(a, mapped, 12) == 0) {
			*family = AF_INET;
			memcpy(ip, a + 12, 4);
		} else {
			*family = AF_INET6;
			memcpy(ip, a, 16);
		}
		return 0;
	}
	return -1;
}

/* ts_bytes - payload octets sent and received */
void ts_bytes(const struct ts_conn *c, uint64_t *sent, uint64_t *rcvd)
{
	if (sent)
		*sent = c->sent;
	if (rcvd)
		*rcvd = c->rcvd;
}

/* ts_raw_fd - the socket, for a gateway's splice path */
int ts_raw_fd(const struct ts_conn *c)
{
	if (c == NULL || !live(c) || !c->yb || !c->is_sock || c->st != CS_OPEN
	    || c->fd_in < 0 || c->fd_in != c->fd_out)
		return -1;
	return c->fd_in;
}

/* ts_raw_take_input - hand reading over to the owner */
int ts_raw_take_input(struct ts_conn *c, struct ts_ybpos *pos)
{
	if (ts_raw_fd(c) < 0 || c->raw_in || c->in_len > 0 || c->early.len > 0
	    || c->nepush > 0 || c->reset_sent || c->reset_rcvd
	    || yb_dec_pos(c->dec, &pos->in_record, &pos->body, &pos->last) < 0)
		return -1;
	c->raw_in = 1;
	conn_update(c);
	return 0;
}

/* ts_raw_give_input - read again from where the owner stopped */
void ts_raw_give_input(struct ts_conn *c, const struct ts_ybpos *pos, uint64_t skipped)
{
	if (c == NULL || !c->raw_in)
		return;
	c->raw_in = 0;
	if (!live(c))
		return;
	yb_dec_set_pos(c->dec, pos->in_record, pos->body, pos->last, skipped);
	conn_update(c);
}

/* ts_raw_take_output - hand writing over to the owner */
int ts_raw_take_output(struct ts_conn *c, struct ts_ybpos *pos)
{
	if (ts_raw_fd(c) < 0 || c->raw_out || c->out.len > 0 || c->wr_shut
	    || c->reset_sent || c->reset_rcvd)
		return -1;
	/* all written and ours are whole items: the walker is at a boundary */
	pos->in_record = c->open;
	pos->body = 0;
	pos->last = 0;
	c->raw_out = 1;
	conn_update(c);
	return 0;
}

/* ts_raw_give_output - write again from where the owner stopped */
void ts_raw_give_output(struct ts_conn *c, const struct ts_ybpos *pos,
	const unsigned char *rest, int err)
{
	size_t n = pos->body > 127 ? 127 : pos->body;

	if (c == NULL || !c->raw_out)
		return;
	c->raw_out = 0;
	if (!live(c))
		return;
	if (err != 0) {
		lost(c, 0, "write", err);
		return;
	}
	/* out is empty: what follows starts where the owner left the stream */
	buf_reset(&c->out);
	if (n > 0) {
		c->w.st = W_DBODY;
		c->w.rem = n;
		c->w.last = pos->last != 0;
		(void)buf_append(&c->out, rest, n);	/* fits: the cap is >= 1024 */
		c->open = !pos->last;
	} else {
		c->w.st = pos->in_record ? W_DHDR : W_TYPE;
		c->open = pos->in_record != 0;
	}
	if (flush_out(c, 0) < 0)
		return;
	if (c->want_room)
		kick(c);
	conn_update(c);
}

/* ts_raw_moved - count what the owner moved */
void ts_raw_moved(struct ts_conn *c, uint64_t sent, uint64_t rcvd)
{
	if (c == NULL)
		return;
	c->sent += sent;
	c->rcvd += rcvd;
	c->last_io = loop_now_ms();
}
