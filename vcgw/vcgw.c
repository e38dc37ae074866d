/*++
 * NAME
 *	vcgw 3
 * SUMMARY
 *	the virtual call gateway: one outgoing call per incoming call
 * SYNOPSIS
 *	#include "vcgw/vcgw.h"
 * DESCRIPTION
 *	A call joins two transport-service calls, side 0 (the caller's,
 *	from a listener) and side 1 (ours, to the far end). States:
 *
 *	  WAIT   connection accepted, no CONNECT yet
 *	  SETUP  our call to the far end is being made; the caller waits
 *	         (its early data stays in the transport service)
 *	  OPEN   both accepted: data, RESET and DISCONNECT pass
 *
 *	The call ends when both sides have raised TS_EV_DISCONNECT and
 *	been closed; then its log line is written and it is freed.
 *
 *	Back-pressure: data received on one side is queued on the other
 *	with ts_send() while ts_room() allows. What does not fit (at most
 *	one event's data) waits in the carry-over buffer of the receiving
 *	side, and the sending side is paused (ts_pause) until
 *	TS_EV_DRAINED. The sending side is also paused while the other
 *	side has less room than one read, so the carry-over is rarely
 *	used. A data record split this way keeps its push at its end.
 *
 *	RESET: side A's RESET (confirm = 0) discards what either carry-over
 *	holds, resumes both sides and is passed to side B with its reason
 *	and text (ts_reset); reset_from remembers A. B's answer (confirm =
 *	1) is passed back to A as the answer (ts_reset on A, whose RESET
 *	is pending, answers it). RESETs that cross are answers to each
 *	other in the transport service, so nothing loops. A side whose
 *	peer is rawtcp cannot be reset: both sides are disconnected.
 *
 *	DISCONNECT: the other side is disconnected with the same reason
 *	and text once its carry-over is sent (ts_disconnect sends what is
 *	queued first). Reasons 16 and 40 (made by a transport service:
 *	no connection, transport failure, timeouts) get "vcgw NAME: " in
 *	front of their text, so the far end sees where the path broke.
 *
 *	The splice path: while both sides are open Yellow Book calls on
 *	sockets, a pump per direction (vcgw_pump.h) moves the data records
 *	with splice(2) instead of TS_EV_DATA and ts_send(): it takes one
 *	side's input and the other's output from the transport service
 *	(ts_raw_*) once the copying path is idle, and gives them back where
 *	it stopped: before a command record (ts reads it and raises its
 *	event, handled as above), at the end of the input, or when told.
 *	A RESET, and the gateway's own end of a call, drop what the pumps
 *	have not written (but for the rest of a half-written sub-record), as
 *	ts drops its queued output; a DISCONNECT lets it go out first, as
 *	ts_disconnect() does. While a pump still writes to a side, data for
 *	it that ts delivers waits in the carry-over, behind the pipe.
 *
 *	Nothing here reads the data: the gateway knows no NIFTP (the pumps
 *	read the Yellow Book sub-record headers, not what they carry).
 * DIAGNOSTICS
 *	One info line per call:
 *	  call ID from=PEER calling=C called=D to=ADDR called_out=D2
 *	  calling_out=C2 in=N out=M spliced=P seconds=S resets=R result=R
 *	  by=SIDE reason=N text=T
 *	"in" counts the caller's octets passed to the far end, "out" the
 *	far end's passed back, "spliced" those of both that went through
 *	the pumps. result is ok, refused, disconnected, failed
 *	(reason 40) or nocall (no CONNECT came); by is caller, far or
 *	gateway.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "niftp/ts.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "vcgw/vcgw.h"
#include "vcgw/vcgw_conf.h"
#include "vcgw/vcgw_pump.h"

#define IN		0	/* the caller's side */
#define OUT		1	/* our call to the far end */
#define READ_CHUNK	65536	/* most one data event carries (one read) */
#define TEXTMAX		1024	/* YB_MAX_PARAM */
#define LINGER_MS	6000	/* after the last disconnects: then cut */
#define MAX_LISTENERS	64
#define PEEK_LEN	(256 * 1024)	/* the pumps' scratch buffer (one per gateway) */
#define PIPE_MAX	(1024 * 1024)	/* largest pipe asked for (pipe-max-size) */
#define FD_SLACK	64	/* descriptors kept for listeners, logs, children */
#define SPLICE_FDS	6	/* per call: a second descriptor per side, two pipes */

enum cst { C_WAIT, C_SETUP, C_OPEN };

struct side {
	struct ts_conn *ts;	/* NULL once closed */
	struct buf pend;	/* carry-over: data waiting to go to this side */
	int	pend_push;	/* the carry-over ends a data record */
	int	held;		/* we paused reading on this side */
	int	closing;	/* we sent (or will send) DISCONNECT here */
	int	close_wait;	/* DISCONNECT after the carry-over is out */
	int	close_reason;
	char	close_text[TEXTMAX + 1];
	uint64_t rcvd;		/* octets received (from ts_bytes at close) */
	int	rfd;		/* the pumps' own descriptor of the socket, or -1 */
	int	rmask;		/* what rfd is watched for */
};

struct call {
	struct vcgw *gw;
	struct call *prev, *next;
	unsigned long id;
	enum cst st;
	struct side s[2];
	int	busy;		/* over max_calls: refuse at CONNECT */
	int	reset_from;	/* side whose RESET awaits its answer, or -1 */
	int	resets;
	int	ended;		/* first end recorded */
	int	end_by;		/* IN, OUT, or 2 (the gateway) */
	int	end_reason;
	int	refused;
	char	end_text[TEXTMAX + 1];
	int64_t	t0;
	char	peer[300];
	char	called[VCGW_ADDRMAX + 1];
	char	calling[VCGW_ADDRMAX + 1];
	char	to[1200];
	char	called_out[VCGW_ADDRMAX + 1];
	char	calling_out[VCGW_ADDRMAX + 1];
	struct vcgw_pump *pump[2];	/* pump[i]: side i's data records to the other */
	int	nosplice;	/* the copying path only */
	int	fds;		/* descriptors held for splicing */
	uint64_t t_try;		/* try the splice path soon */
	uint64_t spliced;	/* payload octets that went through the pumps */
	int	ts_turn[2];	/* pump i stopped before something for ts to read:
				 * not again before ts raised an event of side i */
};

struct gwl {
	char	*addr;		/* as configured */
	struct ts_listener *l;
	int	stdio;
};

struct vcgw {
	struct loop *loop;
	struct vcgw_conf *conf;
	struct ts_opts opts;	/* both sides of new calls */
	struct gwl ls[MAX_LISTENERS];
	int	nls;
	struct call *calls;
	unsigned long next_id;
	struct vcgw_stats st;
	int	stopping, aborting, stdio_only, stdio_seen;
	uint64_t t_grace, t_linger;
	unsigned char *scratch;	/* PEEK_LEN octets for the pumps (on first use) */
	long	fd_budget;	/* descriptors the pumps may hold in all */
	long	fds;		/* ... and hold now */
};

static void ts_cb(struct ts_conn *c, const struct ts_event *ev, void *arg);
static void call_abort(struct call *k, int reason, const char *text);
static void drained(struct call *k, int to);
static void splice_later(struct call *k);

/* set_opts - transport options from the configuration */
static void set_opts(struct vcgw *gw, const struct vcgw_conf *conf)
{
	memset(&gw->opts, 0, sizeof(gw->opts));
	gw->opts.connect_timeout_ms = conf->connect_timeout_ms;
	gw->opts.setup_timeout_ms = conf->setup_timeout_ms;
	gw->opts.idle_timeout_ms = conf->idle_timeout_ms;
	gw->opts.send_cap = vcgw_send_cap(conf);
	gw->opts.local_name = conf->name;
}

/*
 * Descriptors: a call holds two (its connections) and, while its data
 * is spliced, up to SPLICE_FDS more. Connections come first: up to twice
 * max_calls are accepted (those beyond max_calls to be refused), so two
 * each for that many, and some slack, are kept out of the pumps' budget;
 * a call that finds the budget spent uses the copying path. The soft
 * limit is raised towards the hard one to make room for both.
 */
/* set_budget - the descriptors the pumps may hold, from RLIMIT_NOFILE */
static void set_budget(struct vcgw *gw, const struct vcgw_conf *conf)
{
	struct rlimit rl;
	long keep = FD_SLACK + 4L * conf->max_calls;
	long want = keep + (long)SPLICE_FDS * conf->max_calls, lim = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want
		    && (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur)) {
			rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)want
				? rl.rlim_max : (rlim_t)want;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)want
			? want : (long)rl.rlim_cur;
	}
	gw->fd_budget = lim > keep ? lim - keep : 0;
}

/* pipe_size - what a pump asks the kernel for: half the call's memory
 * for each direction, at most PIPE_MAX */
static size_t pipe_size(const struct vcgw *gw)
{
	size_t n = gw->conf->call_memory / 2;

	return n > PIPE_MAX ? PIPE_MAX : n;
}

/* esc - a log value (str_escape into buf) */
static const char *esc(char *buf, size_t len, const char *s)
{
	(void)str_escape(buf, len, s, strlen(s));
	return buf;
}

/* gw_text - "vcgw NAME: text" (truncated to len) */
static void gw_text(const struct vcgw *gw, char *dst, size_t len, const char *text)
{
	const char *part[4] = { "vcgw ", gw->conf->name, ": ", text };
	size_t off = 0;
	int i;

	if (len == 0)
		return;
	dst[0] = '\0';
	for (i = 0; i < 4 && off + 1 < len; i++) {
		str_copy(dst + off, part[i], len - off);
		off += strlen(dst + off);
	}
}

/* pass_text - the text to pass on for reason r: our name in front of
 * what a transport service made (16, 40) */
static void pass_text(const struct vcgw *gw, int r, const char *text, char *dst, size_t len)
{
	if (r == TS_R_NOCONN || r == TS_R_TSFAIL)
		gw_text(gw, dst, len, text);
	else
		str_copy(dst, text, len);
}

/* note_end - remember the first way the call ended */
static void note_end(struct call *k, int by, int reason, const char *text)
{
	if (k->ended)
		return;
	k->ended = 1;
	k->end_by = by;
	k->end_reason = reason;
	str_copy(k->end_text, text ? text : "", sizeof(k->end_text));
}

/* check_done - stop the loop when shutting down and no call is left */
static void check_done(struct vcgw *gw)
{
	if (gw->calls == NULL && (gw->stopping || (gw->stdio_only && gw->stdio_seen)))
		loop_stop(gw->loop);
}

/*
 * The splice path (vcgw_pump.h). Pump i moves side i's data records to
 * the other side while both are open Yellow Book calls on sockets; it
 * holds side i's input and the other side's output, taken from the
 * transport service at a place in the record structure and given back
 * at the place where it stopped. The pumps use descriptors of their own
 * (dup), watched by pump_io, so that the transport service's watch on
 * the same sockets is untouched and a socket stays valid for as long
 * as a pump may use it.
 */

/* fds_get, fds_put - descriptors from the pumps' budget */
static int fds_get(struct call *k, int n)
{
	if (k->gw->fds + n > k->gw->fd_budget)
		return -1;
	k->gw->fds += n;
	k->fds += n;
	return 0;
}

static void fds_put(struct call *k, int n)
{
	k->gw->fds -= n;
	k->fds -= n;
}

/* scratch - the pumps' buffer */
static unsigned char *scratch(struct vcgw *gw)
{
	if (gw->scratch == NULL)
		gw->scratch = xmalloc(PEEK_LEN);
	return gw->scratch;
}

static void pump_io(struct loop *loop, int fd, int mask, void *arg);

/* side_rfd - the pumps' own descriptor of side i's socket; 0 or -1 */
static int side_rfd(struct call *k, int i)
{
	struct side *s = &k->s[i];
	int fd = ts_raw_fd(s->ts);

	if (s->rfd >= 0)
		return 0;
	if (fd < 0 || fds_get(k, 1) < 0)
		return -1;
	if ((s->rfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		goto fail;
	s->rmask = 0;
	if (loop_fd_set(k->gw->loop, s->rfd, 0, pump_io, k) < 0)
		goto fail;
	return 0;

fail:
	log_debug("call %lu: second descriptor for %s: %s", k->id, ts_peer(s->ts),
		strerror(errno));
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = -1;
	fds_put(k, 1);
	return -1;
}

/* rfd_close - side i's pump descriptor goes */
static void rfd_close(struct call *k, int i)
{
	struct side *s = &k->s[i];

	if (s->rfd < 0)
		return;
	loop_fd_del(k->gw->loop, s->rfd);
	close(s->rfd);
	s->rfd = -1;
	fds_put(k, 1);
}

/* pumps_free - pump i and side i's descriptor go (the call ends) */
static void pumps_free(struct call *k, int i)
{
	if (k->pump[i] != NULL) {
		vcgw_pump_free(k->pump[i]);
		k->pump[i] = NULL;
		fds_put(k, 2);
	}
	rfd_close(k, i);
}

/* watch - what the pumps wait for, on each side's descriptor */
static void watch(struct call *k)
{
	struct side *s;
	int i, m, rd, wr;

	for (i = 0; i < 2; i++) {
		s = &k->s[i];
		if (s->rfd < 0)
			continue;
		m = 0;
		if (vcgw_pump_reading(k->pump[i])) {
			vcgw_pump_wants(k->pump[i], &rd, &wr);
			m |= rd ? LOOP_READ : 0;
		}
		if (vcgw_pump_writing(k->pump[1 - i])) {
			vcgw_pump_wants(k->pump[1 - i], &rd, &wr);
			m |= wr ? LOOP_WRITE : 0;
		}
		if (m != s->rmask) {
			if (loop_fd_mask(k->gw->loop, s->rfd, m) < 0)
				log_warn("call %lu: watch descriptor %d: %s", k->id,
					s->rfd, strerror(errno));
			else
				s->rmask = m;
		}
	}
}

/* input_back - pump i stops reading: side i's input goes back to ts */
static void input_back(struct call *k, int i)
{
	struct ts_ybpos pos;
	uint64_t skipped;

	if (!vcgw_pump_reading(k->pump[i]))
		return;
	vcgw_pump_stop_input(k->pump[i], &pos, &skipped);
	ts_raw_give_input(k->s[i].ts, &pos, skipped);	/* NULL, closed: nothing */
}

/* output_back - pump i stops writing: the other side's output goes back
 * to ts, and what did not go out is dropped (as ts drops queued output
 * at a RESET), but for the rest of a half-written sub-record. err: the
 * pump's write failed; ts ends that call. */
static void output_back(struct call *k, int i, int err)
{
	struct ts_ybpos pos;
	unsigned char rest[VCGW_PUMP_SUBMAX];
	size_t dropped;

	if (!vcgw_pump_writing(k->pump[i]))
		return;
	input_back(k, i);
	dropped = vcgw_pump_release(k->pump[i], scratch(k->gw), PEEK_LEN, &pos, rest);
	if (dropped > 0)
		log_debug("call %lu: %zu spliced octets for the %s dropped", k->id, dropped,
			i == IN ? "far end" : "caller");
	if (k->s[1 - i].ts != NULL)
		ts_raw_give_output(k->s[1 - i].ts, &pos, rest, err);
}

/* settle - pump i has stopped reading and has nothing left to write:
 * the output goes back and what waited behind it follows */
static void settle(struct call *k, int i)
{
	struct vcgw_pump *p = k->pump[i];

	if (!vcgw_pump_reading(p) && vcgw_pump_writing(p) && vcgw_pump_drained(p)) {
		output_back(k, i, 0);
		drained(k, 1 - i);
	}
}

/* stop_pumps - both directions back to ts, nothing more spliced goes
 * out (RESET, abort). A side whose DISCONNECT waited for a pump's
 * output gets it now (drained): what the pump held is dropped, and
 * nothing else would ever send it. */
static void stop_pumps(struct call *k)
{
	int i, had[2];

	for (i = 0; i < 2; i++) {
		had[i] = vcgw_pump_writing(k->pump[i]);
		output_back(k, i, 0);
	}
	for (i = 0; i < 2; i++)
		if (had[i] && k->s[1 - i].close_wait) {
			/* the carry-over came after what was dropped: it goes
			 * too, or the stream would have a hole */
			buf_reset(&k->s[1 - i].pend);
			drained(k, 1 - i);
		}
	watch(k);
}

/* pump_run - run pump i and act on what it did */
static void pump_run(struct call *k, int i, int rd, int wr)
{
	struct vcgw_pump_res res;

	vcgw_pump_run(k->pump[i], rd, wr, scratch(k->gw), PEEK_LEN, &res);
	if (res.moved > 0) {
		k->spliced += res.moved;
		k->gw->st.spliced += res.moved;
		ts_raw_moved(k->s[i].ts, 0, res.moved);
	}
	if (res.moved > 0 || res.written > 0)	/* the idle timers see it move */
		ts_raw_moved(k->s[1 - i].ts, res.moved, 0);
	if (res.out_err != 0) {
		output_back(k, i, res.out_err);	/* that side ends: reason 40 */
		return;
	}
	if (res.stopped) {
		if (res.nosplice) {
			k->nosplice = 1;
			log_debug("call %lu: splice refused for %s: copying", k->id,
				ts_peer(k->s[i].ts));
		}
		k->ts_turn[i] = 1;	/* ts reads side i until it tells us something */
		input_back(k, i);
	}
	settle(k, i);
}

/* pump_io - a side's socket is ready for a pump */
static void pump_io(struct loop *loop, int fd, int mask, void *arg)
{
	struct call *k = arg;
	int i = fd == k->s[IN].rfd ? IN : OUT;

	(void)loop;
	if ((mask & LOOP_WRITE) && vcgw_pump_writing(k->pump[1 - i]))
		pump_run(k, 1 - i, 0, 1);
	if ((mask & LOOP_READ) && vcgw_pump_reading(k->pump[i]))
		pump_run(k, i, 1, 0);
	watch(k);
}

/* try_start - start pump i if side i's input and the other side's output
 * can be taken now */
static void try_start(struct call *k, int i)
{
	struct side *a = &k->s[i], *b = &k->s[1 - i];
	struct ts_ybpos ip, op;
	char err[256];

	if (k->nosplice || k->st != C_OPEN || k->reset_from >= 0 || k->ts_turn[i]
	    || a->ts == NULL || b->ts == NULL || a->closing || b->closing || a->held
	    || b->pend.len > 0 || b->close_wait || ts_queued(b->ts) > 0
	    || vcgw_pump_reading(k->pump[i]) || vcgw_pump_writing(k->pump[i]))
		return;
	if (k->pump[i] == NULL) {
		if (fds_get(k, 2) < 0)
			return;	/* the budget is spent: copying for now */
		if ((k->pump[i] = vcgw_pump_new(pipe_size(k->gw), err, sizeof(err))) == NULL) {
			fds_put(k, 2);
			k->nosplice = 1;
			log_info("call %lu: %s: copying", k->id, err);
			return;
		}
	}
	if (side_rfd(k, i) < 0 || side_rfd(k, 1 - i) < 0)
		return;
	if (ts_raw_take_output(b->ts, &op) < 0)
		return;
	if (ts_raw_take_input(a->ts, &ip) < 0) {
		ts_raw_give_output(b->ts, &op, NULL, 0);
		return;
	}
	if (vcgw_pump_start(k->pump[i], a->rfd, b->rfd, &ip, &op) < 0) {
		ts_raw_give_input(a->ts, &ip, 0);
		ts_raw_give_output(b->ts, &op, NULL, 0);
		return;
	}
}

/* try_cb - the copying path went idle: try the pumps */
static void try_cb(struct loop *loop, void *arg)
{
	struct call *k = arg;

	(void)loop;
	k->t_try = 0;
	try_start(k, IN);
	try_start(k, OUT);
	watch(k);
}

/* splice_later - try the pumps once the current events are handled
 * (the transport service has then decoded what it read) */
static void splice_later(struct call *k)
{
	if (k->nosplice || k->t_try != 0 || k->st != C_OPEN)
		return;
	if (vcgw_pump_reading(k->pump[IN]) && vcgw_pump_reading(k->pump[OUT]))
		return;
	k->t_try = loop_timer_add(k->gw->loop, 0, try_cb, k);
}

/* call_log - the one line per call */
static void call_log(struct call *k)
{
	static const char *const by[] = { "caller", "far", "gateway" };
	char e[6][2 * VCGW_ADDRMAX + 8], et[2 * TEXTMAX + 8];
	const char *result;
	double secs = (double)(loop_now_ms() - k->t0) / 1000.0;

	if (k->st == C_WAIT && k->called[0] == '\0' && !k->refused)
		result = "nocall";
	else if (k->refused)
		result = "refused";
	else if (k->end_reason == TS_R_NORMAL)
		result = "ok";
	else if (k->end_reason == TS_R_TSFAIL)
		result = "failed";
	else
		result = "disconnected";
	log_info("call %lu from=%s calling=%s called=%s to=%s called_out=%s "
		"calling_out=%s in=%" PRIu64 " out=%" PRIu64 " spliced=%" PRIu64
		" seconds=%.3f resets=%d "
		"result=%s by=%s reason=%d text=%s", k->id,
		esc(e[0], sizeof(e[0]), k->peer), esc(e[1], sizeof(e[1]), k->calling),
		esc(e[2], sizeof(e[2]), k->called), esc(e[3], sizeof(e[3]), k->to),
		esc(e[4], sizeof(e[4]), k->called_out),
		esc(e[5], sizeof(e[5]), k->calling_out), k->s[IN].rcvd, k->s[OUT].rcvd,
		k->spliced, secs, k->resets, result, by[k->end_by], k->end_reason,
		esc(et, sizeof(et), k->end_text));
}

/* call_free - log, unlink and free a call whose sides are closed */
static void call_free(struct call *k)
{
	struct vcgw *gw = k->gw;
	int i;

	for (i = 0; i < 2; i++)
		if (k->s[i].ts != NULL)
			ts_bytes(k->s[i].ts, NULL, &k->s[i].rcvd);
	call_log(k);
	loop_timer_del(gw->loop, k->t_try);
	for (i = 0; i < 2; i++) {
		pumps_free(k, i);
		if (k->s[i].ts != NULL)
			ts_close(k->s[i].ts);
		buf_release(&k->s[i].pend);
	}
	if (k->prev)
		k->prev->next = k->next;
	else
		gw->calls = k->next;
	if (k->next)
		k->next->prev = k->prev;
	gw->st.active--;
	if (k->refused)
		gw->st.refused++;
	free(k);
	check_done(gw);
}

/* hold - pause or resume reading on side i */
static void hold(struct call *k, int i, int on)
{
	struct side *s = &k->s[i];

	if (s->held == on)
		return;
	s->held = on;
	if (s->ts != NULL)
		ts_pause(s->ts, on);
}

/* side_disconnect - disconnect side i (after its carry-over) */
static void side_disconnect(struct call *k, int i, int reason, const char *text)
{
	struct side *s = &k->s[i];

	if (s->ts == NULL || s->closing)
		return;
	s->closing = 1;
	/* ts reads side i again (it waits for the answer to our DISCONNECT),
	 * and nothing more goes to it; what a pump already has for it still
	 * goes out first, like the carry-over */
	input_back(k, i);
	input_back(k, 1 - i);
	settle(k, i);
	settle(k, 1 - i);
	watch(k);
	if (s->pend.len > 0 || vcgw_pump_writing(k->pump[1 - i])) {
		s->close_wait = 1;
		s->close_reason = reason;
		str_copy(s->close_text, text, sizeof(s->close_text));
		if (!vcgw_pump_writing(k->pump[1 - i]))
			ts_want_room(s->ts);
		return;
	}
	ts_disconnect(s->ts, reason, text);
}

/* relay - data received on side from: queue it on the other side */
static void relay(struct call *k, int from, const unsigned char *p, size_t len, int push)
{
	int to = 1 - from;
	struct side *d = &k->s[to];
	size_t room;

	if (d->ts == NULL || d->closing)
		return;		/* that side is going: the data has nowhere to go */
	if (d->pend.len > 0 || vcgw_pump_writing(k->pump[from])) {
		/* a pump still writes there (what it took before it stopped
		 * reading goes first); else cannot be: reading stopped when
		 * the carry-over filled */
		if (buf_append(&d->pend, p, len) < 0) {
			call_abort(k, TS_R_LOCALPROC, "carry-over buffer full");
			return;
		}
		d->pend_push = push;
		hold(k, from, 1);
		ts_want_room(d->ts);
		return;
	}
	room = ts_room(d->ts);
	if (len <= room) {
		(void)ts_send(d->ts, p, len, push);	/* -1: its DISCONNECT follows */
		if (ts_room(d->ts) < READ_CHUNK) {
			hold(k, from, 1);
			ts_want_room(d->ts);
		}
		splice_later(k);
		return;
	}
	if (room > 0)
		(void)ts_send(d->ts, p, room, 0);
	if (buf_append(&d->pend, p + room, len - room) < 0) {
		call_abort(k, TS_R_LOCALPROC, "carry-over buffer full");
		return;
	}
	d->pend_push = push;
	hold(k, from, 1);
	ts_want_room(d->ts);
}

/* drained - side to has room again: carry-over, deferred DISCONNECT, resume */
static void drained(struct call *k, int to)
{
	struct side *d = &k->s[to];
	int from = 1 - to;
	size_t room, n;

	if (d->ts == NULL || vcgw_pump_writing(k->pump[from]))
		return;		/* the pump calls us when it gives the output back */
	if (d->pend.len > 0) {
		room = ts_room(d->ts);
		n = d->pend.len < room ? d->pend.len : room;
		if (n > 0 && ts_send(d->ts, buf_data(&d->pend), n,
		    n == d->pend.len ? d->pend_push : 0) == 0)
			buf_consume(&d->pend, n);
		if (d->pend.len > 0) {
			ts_want_room(d->ts);
			return;
		}
		d->pend_push = 0;
	}
	if (d->close_wait) {
		d->close_wait = 0;
		ts_disconnect(d->ts, d->close_reason, d->close_text);
		return;
	}
	if (ts_room(d->ts) >= READ_CHUNK || k->s[from].ts == NULL)
		hold(k, from, 0);
	else
		ts_want_room(d->ts);
	splice_later(k);
}

/* call_abort - the gateway ends the call: disconnect both sides */
static void call_abort(struct call *k, int reason, const char *text)
{
	char t[TEXTMAX + 1];
	int i, waited[2];

	gw_text(k->gw, t, sizeof(t), text);
	note_end(k, 2, reason, t);
	for (i = 0; i < 2; i++) {
		/* a DISCONNECT that waited for output now goes with our
		 * reason: what it waited for is dropped */
		waited[i] = k->s[i].close_wait;
		k->s[i].close_wait = 0;
		buf_reset(&k->s[i].pend);
	}
	stop_pumps(k);
	for (i = 0; i < 2; i++) {
		if (waited[i]) {
			if (k->s[i].ts != NULL)
				ts_disconnect(k->s[i].ts, reason, t);
			continue;
		}
		if (k->s[i].ts == NULL || k->s[i].closing)
			continue;
		if (i == IN && k->st != C_OPEN) {
			k->refused = k->st != C_WAIT || k->called[0] != '\0';
			k->s[i].closing = 1;
			ts_refuse(k->s[i].ts, reason, t);
		} else {
			side_disconnect(k, i, reason, t);
		}
	}
}

/* peer_host - a peer address without its port ("127.0.0.1:4521" -> "127.0.0.1") */
static void peer_host(const char *peer, char *dst, size_t len)
{
	const char *colon = strrchr(peer, ':');

	if (colon == NULL || strncmp(peer, "unix:", 5) == 0)
		str_copy(dst, peer, len);
	else
		snprintf(dst, len, "%.*s", (int)(colon - peer), peer);
}

/* refuse - refuse the caller at CONNECT with our reason and text */
static void refuse(struct call *k, int reason, const char *fmt, const char *arg)
{
	char t[TEXTMAX + 1], t2[TEXTMAX + 1];

	snprintf(t, sizeof(t), fmt, arg);
	gw_text(k->gw, t2, sizeof(t2), t);
	note_end(k, 2, reason, t2);
	k->refused = 1;
	k->s[IN].closing = 1;
	ts_refuse(k->s[IN].ts, reason, t2);
}

/* on_incoming - CONNECT from the caller: map and call onward */
static void on_incoming(struct call *k, const struct ts_event *ev)
{
	struct vcgw *gw = k->gw;
	const struct vcgw_rule *r = NULL;
	char calling[VCGW_ADDRMAX + 1], err[512];
	int rc;

	str_copy(k->called, ev->called ? ev->called : "", sizeof(k->called));
	str_copy(calling, ev->calling ? ev->calling : "", sizeof(calling));
	if (calling[0] == '\0' && ts_conn_kind(k->s[IN].ts) == TS_RAWTCP)
		peer_host(k->peer, calling, sizeof(calling));	/* stable across calls */
	str_copy(k->calling, calling, sizeof(k->calling));
	if (gw->stopping) {
		refuse(k, TS_R_OUTOFORDER, "%s", "shutting down");
		return;
	}
	if (k->busy) {
		char n[32];

		snprintf(n, sizeof(n), "%d", gw->conf->max_calls);
		refuse(k, TS_R_BUSY, "busy: %s calls in progress (max_calls)", n);
		return;
	}
	rc = vcgw_map(gw->conf, k->called, &r, k->called_out, sizeof(k->called_out));
	if (rc == VCGW_MAP_NONE) {
		refuse(k, TS_R_BADADDR, "no route for called address '%s'", k->called);
		return;
	}
	if (rc == VCGW_MAP_LONG) {
		refuse(k, TS_R_BADADDR, "called address '%s' too long once mapped",
			k->called);
		return;
	}
	str_copy(k->to, r->addr, sizeof(k->to));
	rc = vcgw_calling(calling, gw->conf->name, k->calling_out, sizeof(k->calling_out));
	if (rc == VCGW_CALLING_LOOP) {
		refuse(k, TS_R_BADADDR, "routing loop: calling address '%s' has passed "
			"this gateway before", calling);
		return;
	}
	if (rc == VCGW_CALLING_LONG) {
		refuse(k, TS_R_BADADDR, "calling address '%s' too long to extend",
			calling);
		return;
	}
	k->st = C_SETUP;
	k->s[OUT].ts = ts_connect(gw->loop, r->addr, k->called_out, k->calling_out,
		&gw->opts, ts_cb, k, err, sizeof(err));
	if (k->s[OUT].ts == NULL) {
		k->st = C_WAIT;
		refuse(k, TS_R_NOCONN, "call onward: %s", err);
		return;
	}
	log_debug("call %lu: called '%s' from %s: calling %s with called '%s'", k->id,
		k->called, k->peer, k->to, k->called_out);
}

/* on_reset - a RESET on side i */
static void on_reset(struct call *k, int i, const struct ts_event *ev)
{
	int j = 1 - i;
	struct side *o = &k->s[j];
	char t[TEXTMAX + 1];

	/* what the pumps have not written is dropped, as ts drops queued
	 * output; both inputs go back to ts, which drops data on the side
	 * we reset until its answer */
	stop_pumps(k);
	if (!ev->confirm) {
		if (o->ts == NULL || o->closing || k->s[i].closing)
			return;		/* the call is ending anyway */
		k->resets++;
		buf_reset(&k->s[0].pend);
		buf_reset(&k->s[1].pend);
		hold(k, 0, 0);
		hold(k, 1, 0);
		if (ts_conn_kind(o->ts) == TS_RAWTCP) {
			/* no RESET on a rawtcp side: the call ends */
			gw_text(k->gw, t, sizeof(t), "RESET cannot be passed to a rawtcp "
				"side: call disconnected");
			note_end(k, i, ev->reason, t);
			side_disconnect(k, j, ev->reason, ev->text);
			side_disconnect(k, i, ev->reason, t);
			return;
		}
		k->reset_from = i;
		ts_reset(o->ts, ev->reason, ev->text);
		return;
	}
	/* the answer to the RESET we passed to side i */
	if (k->reset_from == j && o->ts != NULL && !o->closing)
		ts_reset(o->ts, ev->reason, ev->text);
	k->reset_from = -1;
	splice_later(k);
}

/* on_disconnect - side i ended */
static void on_disconnect(struct call *k, int i, const struct ts_event *ev)
{
	struct side *s = &k->s[i];
	int j = 1 - i;
	char t[TEXTMAX + 1];

	/* side i's input ends; what pump i has for side j still goes out;
	 * what pump j has for side i is dropped, and side j's input goes
	 * back to ts */
	input_back(k, i);
	output_back(k, j, 0);
	ts_bytes(s->ts, NULL, &s->rcvd);
	ts_close(s->ts);
	s->ts = NULL;
	buf_release(&s->pend);
	rfd_close(k, i);
	note_end(k, i, ev->reason, ev->text);
	if (k->s[j].ts == NULL) {
		call_free(k);
		return;
	}
	pass_text(k->gw, ev->reason, ev->text, t, sizeof(t));
	if (k->st == C_SETUP && i == OUT) {
		/* refused or unreachable: the caller learns why */
		k->refused = 1;
		k->s[IN].closing = 1;
		ts_refuse(k->s[IN].ts, ev->reason, t);
		return;
	}
	hold(k, j, 0);		/* what it sends now is dropped */
	side_disconnect(k, j, ev->reason, t);
	settle(k, i);
	watch(k);
}

/* ts_cb - events of either side of a call */
static void ts_cb(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct call *k = arg;
	int i = c == k->s[IN].ts ? IN : OUT;

	if (k->s[i].ts != c)
		return;		/* cannot be: closed sides raise nothing */
	if (ev->type != TS_EV_DRAINED)
		k->ts_turn[i] = 0;
	switch (ev->type) {
	case TS_EV_INCOMING:
		if (i == IN && k->st == C_WAIT)
			on_incoming(k, ev);
		break;
	case TS_EV_ACCEPTED:
		if (i == OUT && k->st == C_SETUP) {
			k->st = C_OPEN;
			if (ts_accept(k->s[IN].ts) < 0)
				log_debug("call %lu: caller gone before ACCEPT", k->id);
			if (!k->gw->conf->splice || ts_raw_fd(k->s[IN].ts) < 0
			    || ts_raw_fd(k->s[OUT].ts) < 0)
				k->nosplice = 1;	/* rawtcp, stdio: the framing differs */
			splice_later(k);
		}
		break;
	case TS_EV_DATA:
		relay(k, i, ev->data, ev->len, ev->push);
		break;
	case TS_EV_DRAINED:
		drained(k, i);
		break;
	case TS_EV_RESET:
		on_reset(k, i, ev);
		break;
	case TS_EV_DISCONNECT:
		on_disconnect(k, i, ev);
		break;
	}
}

/* new_call - a connection on a listener */
static void new_call(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	struct vcgw *gw = arg;
	struct call *k;
	int i;

	if (gw->st.active >= 2 * (uint64_t)gw->conf->max_calls) {
		ts_close(c);	/* far over the limit: not even a refusal */
		gw->st.refused++;
		return;
	}
	k = xcalloc(1, sizeof(*k));
	k->gw = gw;
	k->id = ++gw->next_id;
	k->st = C_WAIT;
	k->reset_from = -1;
	k->t0 = loop_now_ms();
	k->busy = gw->st.active >= (uint64_t)gw->conf->max_calls;
	str_copy(k->peer, ts_peer(c), sizeof(k->peer));
	for (i = 0; i < 2; i++) {
		buf_init(&k->s[i].pend, (gw->opts.send_cap > READ_CHUNK
			? gw->opts.send_cap : READ_CHUNK) + READ_CHUNK);
		k->s[i].rfd = -1;
	}
	k->s[IN].ts = c;
	k->next = gw->calls;
	if (gw->calls)
		gw->calls->prev = k;
	gw->calls = k;
	gw->st.calls++;
	if (++gw->st.active > gw->st.peak)
		gw->st.peak = gw->st.active;
	for (i = 0; i < gw->nls; i++)
		if (gw->ls[i].l == l && gw->ls[i].stdio)
			gw->stdio_seen = 1;
	ts_set_handler(c, ts_cb, k);
}

/* open_listener - listen on addr into slot ls; 0 or -1 with err */
static int open_listener(struct vcgw *gw, struct gwl *ls, const char *addr,
	char *err, size_t errlen)
{
	char e[512];

	ls->l = ts_listen(gw->loop, addr, &gw->opts, new_call, gw, e, sizeof(e));
	if (ls->l == NULL) {
		snprintf(err, errlen, "listen %s: %s", addr, e);
		return -1;
	}
	ls->addr = xstrdup(addr);
	ls->stdio = strcmp(addr, "stdio") == 0;
	return 0;
}

/* close_listener - stop listening on one slot */
static void close_listener(struct gwl *ls)
{
	if (ls->l != NULL)
		ts_listener_close(ls->l);
	free(ls->addr);
	ls->l = NULL;
	ls->addr = NULL;
}

/* update_stdio_only - a gateway with only a stdio listener ends with its call */
static void update_stdio_only(struct vcgw *gw)
{
	gw->stdio_only = gw->nls == 1 && gw->ls[0].stdio;
}

/* vcgw_new - a gateway listening as conf says */
struct vcgw *vcgw_new(struct loop *loop, struct vcgw_conf *conf, char *err, size_t errlen)
{
	struct vcgw *gw = xcalloc(1, sizeof(*gw));
	int i;

	gw->loop = loop;
	gw->conf = conf;
	set_opts(gw, conf);
	set_budget(gw, conf);
	for (i = 0; i < conf->nlisten && i < MAX_LISTENERS; i++) {
		if (open_listener(gw, &gw->ls[gw->nls], conf->listen[i].addr, err, errlen) < 0) {
			vcgw_free(gw);
			return NULL;
		}
		gw->nls++;
	}
	update_stdio_only(gw);
	return gw;
}

/* find_listener - the slot listening on addr, or -1 */
static int find_listener(const struct gwl *ls, int n, const char *addr)
{
	int i;

	for (i = 0; i < n; i++)
		if (ls[i].addr != NULL && strcmp(ls[i].addr, addr) == 0)
			return i;
	return -1;
}

/* vcgw_reload - use a new configuration */
int vcgw_reload(struct vcgw *gw, struct vcgw_conf *conf, char *err, size_t errlen)
{
	struct gwl added[MAX_LISTENERS], nls[MAX_LISTENERS];
	struct ts_opts saved = gw->opts;
	int nadd = 0, n = 0, i, j;

	if (gw->stopping) {
		snprintf(err, errlen, "reload: the gateway is shutting down");
		return -1;
	}
	memset(added, 0, sizeof(added));
	memset(nls, 0, sizeof(nls));
	set_opts(gw, conf);	/* for the listeners opened now */
	/* first open what is new: a failure leaves everything as it was */
	for (i = 0; i < conf->nlisten && i < MAX_LISTENERS; i++) {
		if (find_listener(gw->ls, gw->nls, conf->listen[i].addr) >= 0)
			continue;
		if (open_listener(gw, &added[nadd], conf->listen[i].addr, err, errlen) < 0) {
			for (j = 0; j < nadd; j++)
				close_listener(&added[j]);
			gw->opts = saved;
			return -1;
		}
		log_info("reload: listening on %s", ts_listener_addr(added[nadd].l));
		nadd++;
	}
	for (i = 0; i < conf->nlisten && i < MAX_LISTENERS; i++) {
		if ((j = find_listener(gw->ls, gw->nls, conf->listen[i].addr)) >= 0) {
			nls[n++] = gw->ls[j];
			gw->ls[j].addr = NULL;	/* moved */
			gw->ls[j].l = NULL;
		} else if ((j = find_listener(added, nadd, conf->listen[i].addr)) >= 0) {
			nls[n++] = added[j];
		}
	}
	for (j = 0; j < gw->nls; j++) {
		if (gw->ls[j].l != NULL) {
			log_info("reload: no longer listening on %s", gw->ls[j].addr);
			close_listener(&gw->ls[j]);
		}
	}
	memcpy(gw->ls, nls, sizeof(nls));
	gw->nls = n;
	update_stdio_only(gw);
	vcgw_conf_free(gw->conf);
	gw->conf = conf;
	gw->opts.local_name = conf->name;
	set_budget(gw, conf);
	return 0;
}

/* vcgw_naddr - how many listeners */
int vcgw_naddr(const struct vcgw *gw)
{
	return gw->nls;
}

/* vcgw_addr - a bound listener address */
const char *vcgw_addr(const struct vcgw *gw, int i)
{
	if (i < 0 || i >= gw->nls || gw->ls[i].l == NULL)
		return NULL;
	return ts_listener_addr(gw->ls[i].l);
}

/* vcgw_conf - the configuration in force */
const struct vcgw_conf *vcgw_conf(const struct vcgw *gw)
{
	return gw->conf;
}

/* linger_cb - disconnected calls did not end in time: cut them */
static void linger_cb(struct loop *loop, void *arg)
{
	struct vcgw *gw = arg;
	struct call *k;

	(void)loop;
	gw->t_linger = 0;
	while ((k = gw->calls) != NULL) {
		note_end(k, 2, TS_R_OUTOFORDER, "vcgw: shutting down: call cut");
		call_free(k);
	}
	check_done(gw);
}

/* abort_all - disconnect every call (shutdown) */
static void abort_all(struct vcgw *gw)
{
	struct call *k, *next;

	gw->aborting = 1;
	for (k = gw->calls; k != NULL; k = next) {
		next = k->next;
		call_abort(k, TS_R_OUTOFORDER, "shutting down");
	}
	if (gw->calls != NULL && gw->t_linger == 0)
		gw->t_linger = loop_timer_add(gw->loop, LINGER_MS, linger_cb, gw);
	check_done(gw);
}

/* grace_cb - the grace time is over */
static void grace_cb(struct loop *loop, void *arg)
{
	struct vcgw *gw = arg;

	(void)loop;
	gw->t_grace = 0;
	if (gw->calls != NULL)
		log_info("shutdown: grace time over, disconnecting %" PRIu64 " calls",
			gw->st.active);
	abort_all(gw);
}

/* vcgw_shutdown - stop listening, let calls finish */
void vcgw_shutdown(struct vcgw *gw, int now)
{
	int i;

	if (!gw->stopping) {
		gw->stopping = 1;
		for (i = 0; i < gw->nls; i++)
			close_listener(&gw->ls[i]);
		gw->nls = 0;
		if (!now && gw->calls != NULL)
			gw->t_grace = loop_timer_add(gw->loop, gw->conf->grace_ms, grace_cb, gw);
	}
	if (now && !gw->aborting) {
		loop_timer_del(gw->loop, gw->t_grace);
		gw->t_grace = 0;
		abort_all(gw);
	}
	check_done(gw);
}

/* vcgw_stats - counters */
void vcgw_stats(const struct vcgw *gw, struct vcgw_stats *st)
{
	*st = gw->st;
}

/* vcgw_free - close everything and release the gateway */
void vcgw_free(struct vcgw *gw)
{
	struct call *k;
	int i;

	if (gw == NULL)
		return;
	gw->stopping = 1;
	while ((k = gw->calls) != NULL) {
		note_end(k, 2, TS_R_OUTOFORDER, "vcgw: stopped");
		call_free(k);
	}
	for (i = 0; i < gw->nls; i++)
		close_listener(&gw->ls[i]);
	loop_timer_del(gw->loop, gw->t_grace);
	loop_timer_del(gw->loop, gw->t_linger);
	vcgw_conf_free(gw->conf);
	free(gw->scratch);
	free(gw);
}
