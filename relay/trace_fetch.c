/*++
 * NAME
 *	trace_fetch 3
 * SUMMARY
 *	another node's trace document, fetched by the daemon for mailctl
 * SYNOPSIS
 *	#include "relay/trace_fetch.h"
 * DESCRIPTION
 *	See trace_fetch.h. The daemon's side is one NIFTP call per fetch on
 *	the daemon's loop (mode read, the document collected in memory up
 *	to TRACE_DOC_MAX), watched by a timer that fires at least once a
 *	second: at the deadline, or once the daemon is stopping, the call is
 *	aborted, and a call that still has not gone down a second later is
 *	dropped. Its done() is delivered from a timer of its own, so that
 *	no owner is called back from inside the engine or from inside
 *	trace_fetch_start().
 *
 *	mailctl's side is a plain blocking client of the control socket,
 *	bounded by poll() and a cap on the answer.
 *--*/
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mailchannel/route.h"
#include "niftp/niftp_call.h"
#include "niftp/ts.h"
#include "relay/conf.h"
#include "relay/ctl_proto.h"
#include "relay/peer.h"
#include "relay/relayd.h"
#include "relay/trace.h"
#include "relay/trace_fetch.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/version.h"

#define FETCH_TICK_MS	1000	/* how often a fetch looks at the clock and at stopping */
#define FETCH_GRACE_MS	1000	/* after an abort, how long the call may take to go down */
#define ASK_SLACK_MS	5000	/* mailctl waits this much longer than the fetch */
#define ASK_ANSWER_MAX	(TRACE_DOC_MAX + 1024)	/* "ok LEN", the document, "." */
#define FETCH_LOG_MAX	200	/* octets of an address or key in a log line */

/* --- the document, as a write-only filestore ----------------------------------- */

struct niftp_file {
	struct buf doc;
	int	toobig;
};

static int f_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct niftp_file *f = fs;

	buf_reset(&f->doc);
	res->fh = f;
	res->committed = 0;
	res->mark = 0;
	res->offset = 0;
	res->size = -1;
	str_copy(res->name, req->filename ? req->filename : "", sizeof(res->name));
	return 0;
}

static int f_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	(void) fs;
	(void) req;
	res->state = NIFTP_ST_REJ_ATTR;
	str_copy(res->reason, "this side only receives", sizeof(res->reason));
	return -1;
}

static ssize_t f_read(struct niftp_file *fh, void *p, size_t len, char *reason)
{
	(void) fh;
	(void) p;
	(void) len;
	snprintf(reason, NIFTP_REASON_MAX, "this side only receives");
	return -1;
}

static int f_write(struct niftp_file *fh, const void *p, size_t len, int *retry, char *reason)
{
	*retry = 0;
	if (buf_append(&fh->doc, p, len) < 0) {
		fh->toobig = 1;
		snprintf(reason, NIFTP_REASON_MAX, "trace document larger than %d octets",
		    TRACE_DOC_MAX);
		return -1;
	}
	return 0;
}

static int f_seek(struct niftp_file *fh, uint64_t offset, char *reason)
{
	(void) fh;
	(void) offset;
	snprintf(reason, NIFTP_REASON_MAX, "this side only receives");
	return -1;
}

static int f_truncate(struct niftp_file *fh, uint64_t offset, char *reason)
{
	(void) reason;
	if (offset < fh->doc.len)
		fh->doc.len = (size_t) offset;
	return 0;
}

static void f_commit(struct niftp_file *fh, struct niftp *n)
{
	(void) fh;
	niftp_commit_done(n, 1, 0, NULL);
}

static void f_suspend(struct niftp_file *fh)
{
	(void) fh;
}

static void f_finish(struct niftp_file *fh, int ok)
{
	(void) fh;
	(void) ok;
}

static const struct niftp_fs_ops fetch_ops = {
	f_open_write, f_open_read, f_read, f_write, f_seek, f_truncate, NULL, f_commit,
	f_suspend, f_finish,
	NULL,
};

/* --- the daemon's side ----------------------------------------------------------- */

struct trace_fetch {
	struct relayd *rd;
	struct niftp_call *call;	/* NULL once it went down (or was dropped) */
	struct niftp_file f;
	uint64_t timer;			/* the tick, then the delivery */
	int64_t	deadline;
	int	timeout_ms;
	int	aborted;		/* 1 timed out, 2 stopping */
	int	up, done, failed, down, ended;
	enum niftp_status st;
	char   *addr, *called, *key;	/* as asked */
	char   *user, *password;	/* the credentials sent, or NULL */
	size_t	password_len;
	char	peer[PEER_NAME_MAX];	/* whose credentials, for the log */
	char	reason[NIFTP_REASON_MAX + 64];
	char	down_text[NIFTP_REASON_MAX + 64];
	char	err[TRACE_FETCH_ERRLEN];
	trace_fetch_done_fn *cb;
	void   *arg;
};

static void fetch_free(struct trace_fetch *tf)
{
	if (tf->timer)
		loop_timer_del(tf->rd->loop, tf->timer);
	if (tf->call != NULL)
		niftp_call_free(tf->call);
	buf_release(&tf->f.doc);
	if (tf->password != NULL) {
		/* the link's password does not outlive the call in memory */
		volatile char *p = tf->password;
		size_t  i;

		for (i = 0; i < tf->password_len; i++)
			p[i] = 0;
	}
	free(tf->addr);
	free(tf->called);
	free(tf->key);
	free(tf->user);
	free(tf->password);
	free(tf);
}

/* fetch_deliver - the owner hears the outcome (from a timer: never from
 * inside the engine) */
static void fetch_deliver(struct loop *loop, void *arg)
{
	struct trace_fetch *tf = arg;
	char    a[FETCH_LOG_MAX], k[FETCH_LOG_MAX], e[TRACE_FETCH_ERRLEN];
	int     ok = tf->err[0] == '\0';

	(void) loop;
	tf->timer = 0;
	ctl_proto_esc(a, sizeof(a), tf->addr, strlen(tf->addr));
	ctl_proto_esc(k, sizeof(k), tf->key, strlen(tf->key));
	if (ok)
		log_info("trace-fetch 'trace:%s' from %s%s%s: %zu octets", k, a,
		    tf->peer[0] ? " as peer " : "", tf->peer, tf->f.doc.len);
	else
		log_info("trace-fetch 'trace:%s' from %s%s%s: %s", k, a,
		    tf->peer[0] ? " as peer " : "", tf->peer,
		    ctl_proto_esc(e, sizeof(e), tf->err, strlen(tf->err)));
	tf->cb(tf->arg, ok, ok ? (const char *) buf_data(&tf->f.doc) : NULL,
	    ok ? tf->f.doc.len : 0, ok ? NULL : tf->err);
	fetch_free(tf);
}

/* fetch_end - the call is over (or given up): say how, drop the call,
 * deliver soon */
static void fetch_end(struct trace_fetch *tf)
{
	if (tf->ended)
		return;
	tf->ended = 1;
	if (tf->done && tf->st == NIFTP_OK && !tf->f.toobig)
		tf->err[0] = '\0';
	else if (tf->aborted == 2)
		snprintf(tf->err, sizeof(tf->err), "mail relay shutting down");
	else if (tf->aborted)
		snprintf(tf->err, sizeof(tf->err), "no answer within %d s", tf->timeout_ms / 1000);
	else if (tf->done || tf->failed)
		snprintf(tf->err, sizeof(tf->err), "%s", tf->reason[0] ? tf->reason
		    : "transfer failed");
	else
		snprintf(tf->err, sizeof(tf->err), "%s", tf->down_text[0] ? tf->down_text
		    : "call failed");
	if (tf->timer)
		loop_timer_del(tf->rd->loop, tf->timer);
	/* safe from inside the call's own DOWN callback (niftp_call.h) */
	niftp_call_free(tf->call);
	tf->call = NULL;
	tf->timer = loop_timer_add(tf->rd->loop, 0, fetch_deliver, tf);
}

static void fetch_event(void *arg, struct niftp_call *call, const struct niftp_event *ev)
{
	struct trace_fetch *tf = arg;

	if (ev->type == NIFTP_EV_DONE) {
		tf->done = 1;
		tf->st = ev->status;
		str_copy(tf->reason, ev->reason ? ev->reason : "", sizeof(tf->reason));
		niftp_call_hangup(call);
	} else if (ev->type == NIFTP_EV_FAILED) {
		tf->failed = 1;
		str_copy(tf->reason, ev->reason ? ev->reason : "protocol error",
		    sizeof(tf->reason));
	}
}

static void fetch_callev(void *arg, struct niftp_call *call, enum niftp_call_ev ev,
	int reason, const char *text)
{
	struct trace_fetch *tf = arg;

	(void) call;
	(void) reason;
	if (ev == NIFTP_CALL_EV_UP) {
		tf->up = 1;
		return;
	}
	tf->down = 1;
	str_copy(tf->down_text, text ? text : "", sizeof(tf->down_text));
	fetch_end(tf);
}

/* fetch_tick - the deadline, and a daemon that is stopping */
static void fetch_tick(struct loop *loop, void *arg)
{
	struct trace_fetch *tf = arg;
	int64_t now = loop_now_ms(), left;

	tf->timer = 0;
	if (now < tf->deadline && !(tf->rd->stopping && !tf->aborted)) {
		left = tf->deadline - now;
		tf->timer = loop_timer_add(loop, left < FETCH_TICK_MS ? left : FETCH_TICK_MS,
		    fetch_tick, tf);
		return;
	}
	if (tf->aborted) {
		/* aborted a while ago and still not down: drop it */
		fetch_end(tf);
		return;
	}
	tf->aborted = tf->rd->stopping ? 2 : 1;
	tf->deadline = now + FETCH_GRACE_MS;
	/* armed first: the abort may bring the call down (fetch_end) at once */
	tf->timer = loop_timer_add(loop, FETCH_GRACE_MS, fetch_tick, tf);
	niftp_call_abort(tf->call, TS_R_NORMAL, tf->aborted == 2 ? "mail relay shutting down"
	    : "trace timed out");
}

/* literal_host - a tcp/rawtcp host that needs no resolver */
static int literal_host(const char *host)
{
	unsigned char ip[16];

	return inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
}

/*
 * fetch_route - how this node's routes know addr/called: the alternate
 * to call (its resolved address) and, when the hop is a [peer] with
 * credentials, that peer. Hops are searched in order; one whose peer
 * has credentials wins over an earlier one without (a gateway's address
 * may serve several hops, told apart by the called address).
 */
static const struct route_alt *fetch_route(const struct conf *c, const char *addr,
	const char *called, const struct conf_peer **peer)
{
	const struct route_alt *found = NULL;
	const struct route_hop *h;
	const struct conf_peer *p;
	char    svc[128];
	size_t  i, j;

	*peer = NULL;
	for (i = 0; c->routes != NULL && i < route_table_nhops(c->routes); i++) {
		h = route_table_hop(c->routes, i);
		for (j = 0; j < h->nalts; j++) {
			const struct route_alt *alt = &h->alts[j];

			if ((alt->channel != ROUTE_CH_NIFTP && alt->channel != ROUTE_CH_PULL)
			    || alt->addr == NULL)
				continue;
			if (strcmp(alt->addr, addr) != 0
			    && (alt->shown == NULL || strcmp(alt->shown, addr) != 0))
				continue;
			trace_service(alt->called ? alt->called : ROUTE_CALLED_DEFAULT, svc,
			    sizeof(svc));
			if (!str_ieq(svc, called))
				continue;
			if ((p = peer_for_hop(c, h->name, alt->addr)) != NULL) {
				*peer = p;
				return alt;
			}
			if (found == NULL)
				found = alt;
		}
	}
	return found;
}

/* fetch_callable - may an address no route gives be called? 0, or -1 with err */
static int fetch_callable(const char *addr, char *err, size_t errlen)
{
	struct ts_addr *a = xmalloc(sizeof(*a));
	char    why[256];
	int     rc = -1;

	if (ts_addr_parse(addr, a, why, sizeof(why)) < 0)
		snprintf(err, errlen, "bad address: %s", why);
	else if (a->kind == TS_EXEC || a->kind == TS_STDIO)
		snprintf(err, errlen, "not called: an %s address that this node's routes do not "
		    "give", a->kind == TS_EXEC ? "exec:" : "stdio");
	else if ((a->kind == TS_TCP || a->kind == TS_RAWTCP) && !literal_host(a->host))
		snprintf(err, errlen, "not called: host name '%.100s' is not in this node's "
		    "routes (only literal addresses are called)", a->host);
	else
		rc = 0;
	free(a);
	return rc;
}

/* trace_fetch_start - start fetching trace:key from addr/called */
struct trace_fetch *trace_fetch_start(struct relayd *rd, const char *addr,
	const char *called, const char *key, int timeout_ms, trace_fetch_done_fn *done,
	void *arg, char *err, size_t errlen)
{
	const struct conf *c = rd->conf;
	const struct conf_peer *p = NULL;
	const struct route_alt *alt;
	struct niftp_call_hooks hooks;
	struct niftp_config cfg;
	struct niftp_req req;
	struct ts_opts tso;
	struct trace_fetch *tf;
	char    fname[TRACE_FETCH_KEY_MAX + 8];

	if (*key == '\0' || strlen(key) > TRACE_FETCH_KEY_MAX) {
		snprintf(err, errlen, "trace key of %zu octets (1 to %d)", strlen(key),
		    TRACE_FETCH_KEY_MAX);
		return NULL;
	}
	if (*called == '\0' || strlen(called) > 127) {
		snprintf(err, errlen, "called address of %zu octets (1 to 127)", strlen(called));
		return NULL;
	}
	if ((alt = fetch_route(c, addr, called, &p)) == NULL
	    && fetch_callable(addr, err, errlen) < 0)
		return NULL;
	tf = xcalloc(1, sizeof(*tf));
	tf->rd = rd;
	tf->timeout_ms = timeout_ms;
	tf->addr = xstrdup(addr);
	tf->called = xstrdup(called);
	tf->key = xstrdup(key);
	tf->cb = done;
	tf->arg = arg;
	buf_init(&tf->f.doc, TRACE_DOC_MAX);
	if (p != NULL) {
		/* copied: a reload may free the configuration while the call is on */
		tf->user = xstrdup(p->username);
		tf->password = xmalloc(p->password_len + 1);
		memcpy(tf->password, p->password, p->password_len);
		tf->password[p->password_len] = '\0';
		tf->password_len = p->password_len;
		str_copy(tf->peer, p->name, sizeof(tf->peer));
	}
	memset(&hooks, 0, sizeof(hooks));
	hooks.event = fetch_event;
	hooks.call = fetch_callev;
	memset(&cfg, 0, sizeof(cfg));
	cfg.info = VERSION_LINE("mailrelayd") " trace";
	cfg.deflate = 1;
	memset(&tso, 0, sizeof(tso));
	tso.connect_timeout_ms = timeout_ms;
	if (c->connect_timeout_ms > 0 && c->connect_timeout_ms < timeout_ms)
		tso.connect_timeout_ms = c->connect_timeout_ms;
	tso.setup_timeout_ms = timeout_ms;
	tso.idle_timeout_ms = timeout_ms;
	tso.local_name = c->name;
	tf->call = niftp_call_open(rd->loop, alt != NULL ? alt->addr : addr, called, c->calling,
	    &tso, &cfg, &hooks, tf, &fetch_ops, &tf->f, err, errlen);
	if (tf->call == NULL) {
		fetch_free(tf);
		return NULL;
	}
	memset(&req, 0, sizeof(req));
	snprintf(fname, sizeof(fname), "trace:%s", key);
	req.mode = NIFTP_MODE_READ;
	req.filename = fname;
	req.size = -1;
	req.compress = 1;
	req.username = tf->user;
	req.password = tf->password;
	if (niftp_call_start(tf->call, &req) < 0) {
		snprintf(err, errlen, "the transfer could not be started");
		fetch_free(tf);
		return NULL;
	}
	tf->deadline = loop_now_ms() + timeout_ms;
	tf->timer = loop_timer_add(rd->loop, timeout_ms < FETCH_TICK_MS ? timeout_ms
	    : FETCH_TICK_MS, fetch_tick, tf);
	return tf;
}

/* trace_fetch_cancel - its owner went away */
void trace_fetch_cancel(struct trace_fetch *tf)
{
	if (tf != NULL)
		fetch_free(tf);
}

/* trace_fetch_permitted - root or the daemon's user */
int trace_fetch_permitted(int fd, char *why, size_t len)
{
	struct ucred uc;
	socklen_t sl = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0) {
		snprintf(why, len, "permission denied: the caller's user is unknown (%s)",
		    strerror(errno));
		return 0;
	}
	if (uc.uid == 0 || uc.uid == geteuid())
		return 1;
	snprintf(why, len, "permission denied: trace-fetch is for root and the daemon's user "
	    "(uid %lu)", (unsigned long) geteuid());
	return 0;
}

/* --- the wire ---------------------------------------------------------------------- */

int trace_fetch_enc(struct buf *out, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *) s; *p; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '%') {
			if (buf_putc(out, *p) < 0)
				return -1;
		} else if (buf_printf(out, "%%%02X", *p) < 0)
			return -1;
	}
	return 0;
}

int trace_fetch_dec(const char *s, char *dst, size_t dstlen)
{
	size_t  o = 0;
	int     hi, lo, c;

	for (; *s; s++) {
		c = (unsigned char) *s;
		if (c == '%') {
			if ((hi = str_hexval(s[1])) < 0 || (lo = str_hexval(s[2])) < 0)
				return -1;
			c = hi * 16 + lo;
			s += 2;
			if (c == 0)
				return -1;
		}
		if (o + 1 >= dstlen)
			return -1;
		dst[o++] = (char) c;
	}
	if (dstlen == 0)
		return -1;
	dst[o] = '\0';
	return 0;
}

/* --- mailctl's side ------------------------------------------------------------------ */

/* ask_read - read the answer until the daemon closes, by the deadline;
 * 0, or -1 with err */
static int ask_read(int fd, struct buf *ans, int64_t deadline, char *err, size_t errlen)
{
	struct pollfd pfd;
	unsigned char *p;
	int64_t left;
	ssize_t n;
	int     r;

	for (;;) {
		left = deadline - loop_now_ms();
		if (left <= 0) {
			snprintf(err, errlen, "no answer from the daemon in time");
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, (int) left)) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (r <= 0)
			continue;
		if ((p = buf_reserve(ans, 65536)) == NULL
		    && (p = buf_reserve(ans, buf_room(ans))) == NULL) {
			snprintf(err, errlen, "the daemon's answer is longer than %d octets",
			    ASK_ANSWER_MAX);
			return -1;
		}
		n = read(fd, p, buf_room(ans) < 65536 ? buf_room(ans) : 65536);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			buf_commit(ans, 0);
			continue;
		}
		buf_commit(ans, n > 0 ? (size_t) n : 0);
		if (n < 0) {
			snprintf(err, errlen, "read from the daemon: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		if (buf_room(ans) == 0) {
			snprintf(err, errlen, "the daemon's answer is longer than %d octets",
			    ASK_ANSWER_MAX);
			return -1;
		}
	}
}

/* ask_parse - "ok LEN", LEN octets, "."; or "err REASON" */
static enum trace_ask ask_parse(const unsigned char *a, size_t len, struct buf *out, char *err,
	size_t errlen)
{
	const unsigned char *nl = memchr(a, '\n', len);
	size_t  first;
	uint64_t dlen;
	char    num[24];

	if (nl == NULL) {
		snprintf(err, errlen, "no answer from the daemon");
		return TRACE_ASK_REMOTE;
	}
	first = (size_t) (nl - a);
	if (first >= 4 && memcmp(a, "err ", 4) == 0) {
		snprintf(err, errlen, "%.*s", (int) (first - 4), (const char *) a + 4);
		return strncmp(err, "permission denied", 17) == 0 ? TRACE_ASK_DENIED
		    : TRACE_ASK_REMOTE;
	}
	if (first < 4 || first - 3 >= sizeof(num) || memcmp(a, "ok ", 3) != 0) {
		snprintf(err, errlen, "not an answer to trace-fetch from the daemon");
		return TRACE_ASK_REMOTE;
	}
	memcpy(num, a + 3, first - 3);
	num[first - 3] = '\0';
	if (str_to_u64(num, 0, TRACE_DOC_MAX, &dlen) < 0 || len - first - 1 != dlen + 2
	    || memcmp(nl + 1 + dlen, ".\n", 2) != 0) {
		snprintf(err, errlen, "the daemon's answer to trace-fetch is malformed");
		return TRACE_ASK_REMOTE;
	}
	if (buf_append(out, nl + 1, (size_t) dlen) < 0) {
		snprintf(err, errlen, "trace document larger than %d octets", TRACE_DOC_MAX);
		return TRACE_ASK_REMOTE;
	}
	return TRACE_ASK_OK;
}

/* trace_fetch_ask - ask the daemon for a remote document */
enum trace_ask trace_fetch_ask(const struct conf *c, const char *addr, const char *called,
	const char *key, int timeout_ms, struct buf *out, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct buf line = BUF_INIT(CTL_LINE_MAX + 2), ans = BUF_INIT(ASK_ANSWER_MAX);
	enum trace_ask rc = TRACE_ASK_REMOTE;
	int     fd = -1, secs = (timeout_ms + 999) / 1000;

	if (secs < 1)
		secs = 1;
	if (secs > TRACE_FETCH_SECS_MAX)
		secs = TRACE_FETCH_SECS_MAX;
	if (buf_printf(&line, "trace-fetch ") < 0 || trace_fetch_enc(&line, addr) < 0
	    || buf_putc(&line, ' ') < 0 || trace_fetch_enc(&line, called) < 0
	    || buf_printf(&line, " %d ", secs) < 0 || trace_fetch_enc(&line, key) < 0
	    || line.len > CTL_LINE_MAX || buf_putc(&line, '\n') < 0) {
		snprintf(err, errlen, "request too long (more than %d octets)", CTL_LINE_MAX);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(c->control) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket '%s': path too long", c->control);
		rc = TRACE_ASK_NODAEMON;
		goto out;
	}
	str_copy(sa.sun_path, c->control, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		rc = errno == EACCES || errno == EPERM ? TRACE_ASK_DENIED : TRACE_ASK_NODAEMON;
		snprintf(err, errlen, "connect to the daemon at '%s': %s", c->control,
		    strerror(errno));
		goto out;
	}
	if (send(fd, buf_data(&line), line.len, MSG_NOSIGNAL) != (ssize_t) line.len) {
		snprintf(err, errlen, "write to '%s': %s", c->control, strerror(errno));
		rc = TRACE_ASK_NODAEMON;
		goto out;
	}
	if (ask_read(fd, &ans, loop_now_ms() + (int64_t) secs * 1000 + ASK_SLACK_MS, err,
	    errlen) < 0)
		goto out;
	rc = ask_parse(buf_data(&ans), ans.len, out, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	buf_release(&line);
	buf_release(&ans);
	return rc;
}
