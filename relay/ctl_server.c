/*++
 * NAME
 *	ctl_server 3
 * SUMMARY
 *	mailrelayd: the control socket
 * SYNOPSIS
 *	#include "relay/ctl_server.h"
 * DESCRIPTION
 *	A connection reads at most one request line (CTL_LINE_MAX octets
 *	and CR LF); the line is parsed with ctl_proto_parse() and
 *	dispatched through handlers[], one per entry of the protocol
 *	table. A request that the table refuses (unknown verb, wrong
 *	arguments, control characters, too long) is answered "err REASON"
 *	and logged; so is a connection that closes in the middle of a line.
 *
 *	Immediate requests are answered from their handler. A CTL_LATER
 *	request starts its action (a spool transaction, a worker job) with
 *	a callback and stops reading; the callback writes the answer and
 *	closes the connection. While the daemon stops, CTL_LATER requests
 *	are refused ("mail relay shutting down").
 *
 *	Answers are written blocking with a 5 s send timeout: a client
 *	that does not read cannot hold the loop for long. Every error text
 *	is passed through ctl_proto_esc(), so an "err" answer is one line.
 *
 *	Limits, since anyone may connect: at most CTL_CONN_MAX connections
 *	at a time, of which the last CTL_CONN_RESERVE are kept for root
 *	and the daemon's user, and at most CTL_CONN_PER_UID of any other
 *	uid; a connection over a limit is answered "err too many control
 *	connections ..." and closed at once. Every connection must send its
 *	request line within CTL_LINE_MS, or is answered so and closed. At
 *	most CTL_SUBMIT_MAX submissions are read at a time, CTL_SUBMIT_PER_UID
 *	of them by a uid other than root and the daemon's user. When accept
 *	fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
 *	ENOMEM) the socket is not watched for CTL_PAUSE_MS, so that the
 *	loop does not spin on a connection it cannot take. Such refusals are
 *	logged at most once per CTL_QUIET_MS, with the number not logged.
 *
 *	Who may ask: the socket is mode 0666, so that any local user can
 *	submit; every request is authorized by the peer's uid, which the
 *	kernel gives (SO_PEERCRED, taken at accept). Requests marked
 *	CTL_ANYONE in the table (ping, submit) are for anyone; every other
 *	one (queue listings show others' recipients; the rest change the
 *	queue or the configuration) only for root and the daemon's own
 *	user: "err permission denied: VERB needs root or the user NAME",
 *	which mailctl turns into exit 77.
 *
 *	submit (relay/submit.h) is the one request that reads on after its
 *	line: the daemon answers it first with the line "pipe" carrying the
 *	write end of a pipe it made (SCM_RIGHTS), the client writes the
 *	letter into it, closes it, then sends "end OCTETS". A client that
 *	leaves before that line abandons its letter; the answer ("ok NAME"
 *	or "err ...", then ".") comes once the letter is durable. The daemon
 *	never reads a descriptor a client passes: any is closed unused.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "relay/archive.h"
#include "relay/chan_niftp.h"
#include "relay/conf.h"
#include "relay/ctl_proto.h"
#include "relay/ctl_server.h"
#include "relay/ops.h"
#include "relay/ops_bulk.h"
#include "relay/pickup.h"
#include "relay/qlist.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/submit.h"
#include "relay/trace.h"
#include "relay/pull.h"
#include "relay/trace_fetch.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"

#define CTL_IN_MAX	(CTL_LINE_MAX + 2)	/* a request line and CR LF */
#define CTL_ANSWER_MAX	(64 * 1024 * 1024)	/* "queue" of a large spool */
#define CTL_USER_MAX	64			/* the peer's login name */
#define CTL_SEND_TIMEOUT 5			/* seconds, per answer write */
#define CTL_LOG_MAX	160			/* octets of a request in a log line */
#define CTL_SUBMIT_MAX	64			/* submissions being read at a time */
#define CTL_SUBMIT_PER_UID 4			/* ... by one uid, but root's and ours */
#define CTL_CONN_MAX	128			/* connections at a time */
#define CTL_CONN_RESERVE 16			/* ... the last ones root's and ours */
#define CTL_CONN_PER_UID 8			/* ... of one uid, but root's and ours */
#define CTL_LINE_MS	10000			/* the request line within this */
#define CTL_PAUSE_MS	1000			/* accept not tried after EMFILE */
#define CTL_QUIET_MS	10000			/* refusals logged once in this */
#define CTL_PWBUF_MAX	(64 * 1024)		/* getpwuid_r's buffer */
#define CTL_FDS_MAX	8			/* descriptors taken from one read (more:
						 * dropped by the kernel) */

struct ctl_server {
	struct relayd *rd;
	ctl_reload_fn *reload;
	char   *path;			/* the socket file we bound */
	int	fd;
	struct ctlconn *conns;
	int	nconns;			/* connections open */
	int	nwaiting;		/* connections waiting for a callback */
	int	nsubmit;		/* submissions being read or committed */
	uint64_t pause;			/* accept resumes (EMFILE), or 0 */
	int64_t	quiet_until;		/* refusals logged again from then (loop ms) */
	unsigned nquiet;		/* ... and how many were not logged */
	uid_t	uid;			/* the daemon's own user: an operator */
	char	uname[CTL_USER_MAX];	/* ... by name, for refusals */
};

struct ctlconn {
	struct ctl_server *cs;
	struct ctlconn *next;
	int	fd;
	int	waiting;		/* the answer comes from a callback */
	struct buf in;
	char	user[CTL_USER_MAX];	/* the operator, journalled as by= */
	struct ctl_req rq;		/* argv[] stays valid until the answer */
	struct trace_fetch *fetch;	/* trace-fetch's call, until its answer */
	int	cred;			/* SO_PEERCRED answered: uid, gid, pid known */
	uid_t	uid;
	gid_t	gid;
	pid_t	pid;
	uint64_t timer;			/* the request line's deadline, until it came */
	struct submit *sub;		/* submit's letter, until its answer */
	size_t	line_end;		/* octets of cc->in up to the request's newline */
	int	sub_ended;		/* submit: "end OCTETS" came */
	struct qlist_job *qjob;		/* queue's listing, until its answer */
	struct ops_bulk *bulk;		/* hold, release, ...: until its answer */
	unsigned fetching;		/* fetch: passes not over yet */
	unsigned unreached;		/* ... relays not asked (their list not read) */
	struct pull_report fetched;	/* ... and what those over did */
};

/*
 * A handler carries out cc->rq. CTL_LATER requests: 0 when started (a
 * callback answers), -1 with err when nothing was started. Immediate
 * requests: 0 with the answer ("ok ..." and its lines) in out, or -1
 * with err and, in out, lines that explain it.
 */
typedef int ctl_handler(struct ctlconn *cc, struct buf *out, char *err, size_t errlen);

static void ctl_close(struct ctlconn *cc)
{
	struct ctl_server *cs = cc->cs;
	struct ctlconn **pp;

	loop_fd_del(cs->rd->loop, cc->fd);
	loop_timer_del(cs->rd->loop, cc->timer);
	close(cc->fd);
	buf_release(&cc->in);
	trace_fetch_cancel(cc->fetch);
	qlist_cancel(cc->qjob);
	ops_bulk_cancel(cc->bulk);
	if (cc->fetching > 0)
		pull_forget(cs->rd, cc);
	if (cc->sub != NULL) {
		submit_cancel(cc->sub);
		cs->nsubmit--;
	}
	if (cc->waiting)
		cs->nwaiting--;
	for (pp = &cs->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cc) {
			*pp = cc->next;
			break;
		}
	cs->nconns--;
	free(cc);
}

/* ctl_refused - log a refusal (printf format): the first of a burst at
 * once, then none for CTL_QUIET_MS, after which the next one says how
 * many were not logged meanwhile */
static void ctl_refused(struct ctl_server *cs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ctl_refused(struct ctl_server *cs, const char *fmt, ...)
{
	char    text[RELAYD_ERRLEN];
	int64_t now = loop_now_ms();
	va_list ap;

	if (now < cs->quiet_until) {
		cs->nquiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (cs->nquiet > 0)
		log_warn("%s (and %u refusals not logged in the last %d s)", text, cs->nquiet,
		    CTL_QUIET_MS / 1000);
	else
		log_warn("%s", text);
	cs->nquiet = 0;
	cs->quiet_until = now + CTL_QUIET_MS;
}

/* ctl_write - write text to the client (blocking, with a timeout) */
static void ctl_write(struct ctlconn *cc, const void *text, size_t len)
{
	int     fl = fcntl(cc->fd, F_GETFL);
	struct timeval tv = { CTL_SEND_TIMEOUT, 0 };

	if (fl >= 0 && (fl & O_NONBLOCK))
		(void) fcntl(cc->fd, F_SETFL, fl & ~O_NONBLOCK);
	(void) setsockopt(cc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (write_full(cc->fd, text, len) < 0 && errno != EPIPE)
		log_debug("control: answer to %s: %s", cc->user, strerror(errno));
}

/* ctl_answer - answer "err ERR" (err not NULL: one line of printable
 * text, as ctl_proto_parse() gives) or the lines in body, then ".", and
 * close the connection */
static void ctl_answer(struct ctlconn *cc, const char *err, struct buf *body)
{
	char   *line;

	if (err != NULL) {
		line = xasprintf("err %s\n", err);
		ctl_write(cc, line, strlen(line));
		free(line);
	}
	if (body != NULL && body->len > 0)
		ctl_write(cc, buf_data(body), body->len);
	ctl_write(cc, ".\n", 2);
	ctl_close(cc);
}

/* ctl_fail - answer "err ERR" with err from a lower layer (it may quote
 * anything: shown escaped), then the lines in body (NULL: none) */
static void ctl_fail(struct ctlconn *cc, const char *err, struct buf *body)
{
	char    esc[RELAYD_ERRLEN];

	log_info("control: %s by=%s: %s", cc->rq.cmd->verb, cc->user,
	    ctl_proto_esc(esc, sizeof(esc), err, strlen(err)));
	ctl_answer(cc, esc, body);
}

/* ctl_refuse - answer "err ERR" to a request line (len octets) that
 * cannot be carried out as sent; logged with the line escaped */
static void ctl_refuse(struct ctlconn *cc, const char *line, size_t len, const char *err)
{
	char    show[CTL_LOG_MAX];

	log_warn("control: request '%s' by=%s refused: %s",
	    ctl_proto_esc(show, sizeof(show), line, len), cc->user, err);
	ctl_answer(cc, err, NULL);
}

/* --- callbacks of CTL_LATER requests ---------------------------------------- */

static void ctl_pickup_done(void *arg, int ok, const char *name, const char *err)
{
	struct ctlconn *cc = arg;
	struct buf out = BUF_INIT(RELAYD_ERRLEN);

	if (!ok) {
		ctl_fail(cc, err ? err : "failed", NULL);
		return;
	}
	buf_printf(&out, "ok %s\n", name);
	ctl_answer(cc, NULL, &out);
	buf_release(&out);
}

static void ctl_op_done(void *arg, int ok, const char *err)
{
	struct ctlconn *cc = arg;
	struct buf out = BUF_INIT(16);

	if (!ok) {
		ctl_fail(cc, err ? err : "failed", NULL);
		return;
	}
	buf_printf(&out, "ok\n");
	ctl_answer(cc, NULL, &out);
	buf_release(&out);
}

/* ctl_fetch_done - trace-fetch's answer: "ok LEN", the document, "." */
static void ctl_fetch_done(void *arg, int ok, const char *doc, size_t len, const char *err)
{
	struct ctlconn *cc = arg;
	struct buf out = BUF_INIT(TRACE_DOC_MAX + 64);

	cc->fetch = NULL;
	if (!ok) {
		ctl_fail(cc, err ? err : "failed", NULL);
		return;
	}
	if (buf_printf(&out, "ok %zu\n", len) < 0 || buf_append(&out, doc, len) < 0) {
		buf_release(&out);
		ctl_fail(cc, "trace document too large", NULL);
		return;
	}
	ctl_answer(cc, NULL, &out);
	buf_release(&out);
}

/* ctl_submit_done - submit's answer: "ok NAME" once the letter is
 * durable, or why not (relay/submit.h: the reason of a bad letter starts
 * with CTL_ERR_MALFORMED or CTL_ERR_TOOBIG) */
static void ctl_submit_done(void *arg, enum submit_status st, const char *name,
	const char *err)
{
	struct ctlconn *cc = arg;
	struct buf out = BUF_INIT(RELAYD_ERRLEN);

	cc->sub = NULL;			/* it ended: not to be cancelled */
	cc->cs->nsubmit--;
	if (st != SUBMIT_OK) {
		char    esc[RELAYD_ERRLEN];

		/* logged by the submission, with the submitter's uid */
		ctl_answer(cc, ctl_proto_esc(esc, sizeof(esc), err ? err : "failed",
		    strlen(err ? err : "failed")), NULL);
		return;
	}
	buf_printf(&out, "ok %s\n", name);
	ctl_answer(cc, NULL, &out);
	buf_release(&out);
}

/* --- handlers, one per request ------------------------------------------------ */

static int do_ping(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	(void) err;
	(void) errlen;
	buf_printf(out, "ok %s\n", cc->cs->rd->conf->name);
	return 0;
}

static int do_pickup(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	(void) out;
	return pickup_claim(cc->cs->rd->pickup, cc->rq.argv[0], ctl_pickup_done, cc, err, errlen);
}

/* ctl_queue_done - queue's listing, rendered on a worker (relay/qlist.h) */
static void ctl_queue_done(void *arg, struct qlist *ql, struct buf *out, const char *err)
{
	struct ctlconn *cc = arg;

	cc->qjob = NULL;
	if (ql == NULL) {
		ctl_fail(cc, err, NULL);
		return;
	}
	log_debug("control: queue by=%s: %zu letters listed", cc->user, qlist_count(ql));
	qlist_free(ql);
	ctl_write(cc, "ok\n", 3);
	ctl_answer(cc, NULL, out);
	buf_release(out);
	free(out);
}

/* do_queue - [SELECTION] [--json]: the snapshot now, the letters read
 * and the listing rendered on a worker */
static int do_queue(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	struct ctl_sel sel;

	(void) out;
	if (ctl_proto_sel(&cc->rq, &sel, err, errlen) < 0)
		return -1;
	cc->qjob = qlist_start(cc->cs->rd, &sel, sel.json ? QLIST_JSON : QLIST_TEXT,
	    ctl_queue_done, cc);
	return 0;
}

/* ctl_bulk_done - a bulk action's result: "ok CHANGED", then a line per
 * letter not changed (relay/ops_bulk.h) */
static void ctl_bulk_done(void *arg, size_t changed, const struct buf *lines)
{
	struct ctlconn *cc = arg;
	char    head[64];

	cc->bulk = NULL;
	log_info("control: %s by=%s: %zu letters changed%s", cc->rq.cmd->verb, cc->user,
	    changed, lines != NULL ? ", others not (said to the client)" : "");
	snprintf(head, sizeof(head), "ok %zu\n", changed);
	ctl_write(cc, head, strlen(head));
	if (lines != NULL)
		ctl_write(cc, buf_data(lines), lines->len);
	ctl_answer(cc, NULL, NULL);
}

/* do_bulk - hold, release, delete, bounce, retry: NAME... or ALL of a
 * selection (relay/ops_bulk.h) */
static int do_bulk(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	static const enum ops_bulk_op ops[CTL_NCMDS] = {
		[CTL_HOLD] = OPS_HOLD, [CTL_RELEASE] = OPS_RELEASE, [CTL_DELETE] = OPS_DELETE,
		[CTL_BOUNCE] = OPS_BOUNCE, [CTL_RETRY] = OPS_RETRY,
	};
	struct ctl_sel sel;

	(void) out;
	if (ctl_proto_sel(&cc->rq, &sel, err, errlen) < 0)
		return -1;
	/* a retry also looks at out/ again, as it always did */
	if (cc->rq.cmd->id == CTL_RETRY)
		pickup_scan(cc->cs->rd->pickup, 1);
	cc->bulk = ops_bulk_start(cc->cs->rd, ops[cc->rq.cmd->id], &sel, cc->user, ctl_bulk_done,
	    cc);
	return 0;
}

static int do_forward(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	(void) out;
	return ops_forward(cc->cs->rd, cc->rq.argv[0], cc->rq.argv[1], cc->user,
	    ctl_op_done, cc, err, errlen);
}

/* do_reroute - list the overrides, set one (HOST ROUTE) or clear one */
static int do_reroute(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	const struct ctl_req *rq = &cc->rq;
	const char *host, *route;

	if (rq->argc == 0) {
		buf_printf(out, "ok\n");
		chan_niftp_reroute_list(cc->cs->rd, out);
		return 0;
	}
	if (strcmp(rq->argv[0], "--clear") == 0) {
		host = rq->argv[1];
		route = NULL;
	} else {
		host = rq->argv[0];
		route = rq->argv[1];
	}
	if (chan_niftp_reroute_set(cc->cs->rd, host, route, cc->user, err, errlen) < 0)
		return -1;
	buf_printf(out, "ok\n");
	return 0;
}

static int do_resubmit(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	(void) out;
	return archive_resubmit(cc->cs->rd, cc->rq.argv[0], cc->user, ctl_pickup_done, cc,
	    err, errlen);
}

static int do_reload(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	struct buf errs = BUF_INIT(CONF_ERRS_MAX);
	int     r;

	if ((r = cc->cs->reload(cc->cs->rd, &errs)) == 0)
		buf_printf(out, "ok\n");
	else {
		snprintf(err, errlen, "configuration refused, old one kept");
		(void) buf_append(out, buf_data(&errs), errs.len);
	}
	buf_release(&errs);
	return r == 0 ? 0 : -1;
}

/* ctl_fetched - a pass of fetch is over; the answer once all are */
static void ctl_fetched(void *arg, const struct pull_report *r)
{
	struct ctlconn *cc = arg;
	struct pull_report *t = &cc->fetched;
	struct buf out = BUF_INIT(1024);
	char    err[RELAYD_ERRLEN];

	t->listed += r->listed;
	t->fetched += r->fetched;
	t->released += r->released;
	t->failed += r->failed;
	if (!t->error[0] && r->error[0])
		str_copy(t->error, r->error, sizeof(t->error));
	if (r->listed == 0 && r->error[0])
		cc->unreached++;
	if (--cc->fetching > 0)
		return;
	if (t->failed == 0 && t->error[0] && t->fetched + t->released == 0) {
		snprintf(err, sizeof(err), "nothing fetched: %s", t->error);
		ctl_fail(cc, err, NULL);
		return;
	}
	if (cc->unreached > 0) {
		snprintf(err, sizeof(err), "fetched %u of %u listed; %u relay(s) not asked: %s",
		    t->fetched, t->listed, cc->unreached, t->error);
		ctl_fail(cc, err, NULL);
		return;
	}
	if (t->failed > 0) {
		snprintf(err, sizeof(err), "fetched %u of %u listed; %u not: %s", t->fetched,
		    t->listed, t->failed, t->error[0] ? t->error : "failed");
		ctl_fail(cc, err, NULL);
		return;
	}
	buf_printf(&out, "ok fetched %u of %u listed (%u held here already)\n", t->fetched,
	    t->listed, t->released);
	ctl_answer(cc, NULL, &out);
	buf_release(&out);
}

/* do_fetch - [RELAY]: a pass against RELAY, or every [pull] from */
static int do_fetch(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	struct relayd *rd = cc->cs->rd;
	const struct pull_settings *st = rd->conf->chconf[ROUTE_CH_PULL];
	size_t  i, n;

	(void) out;
	memset(&cc->fetched, 0, sizeof(cc->fetched));
	cc->unreached = 0;
	if (cc->rq.argc == 1)
		n = 1;
	else if ((n = st != NULL ? st->nfrom : 0) == 0) {
		snprintf(err, errlen, "usage: fetch RELAY (no [pull] from in the configuration)");
		return -1;
	}
	/* a pass always ends from the loop, never inside pull_fetch() */
	cc->fetching = (unsigned) n;
	for (i = 0; i < n; i++)
		if (pull_fetch(rd, cc->rq.argc == 1 ? cc->rq.argv[0] : st->from[i], ctl_fetched,
		    cc, err, errlen) < 0) {
			pull_forget(rd, cc);
			cc->fetching = 0;
			return -1;
		}
	return 0;
}

/* do_trace_fetch - ADDR CALLED SECONDS KEY (relay/trace_fetch.h): root
 * and the daemon's user only */
static int do_trace_fetch(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	const struct ctl_req *rq = &cc->rq;
	char    addr[CTL_LINE_MAX], called[CTL_LINE_MAX], key[CTL_LINE_MAX];
	uint64_t secs;

	(void) out;
	if (!trace_fetch_permitted(cc->fd, err, errlen))
		return -1;
	if (trace_fetch_dec(rq->argv[0], addr, sizeof(addr)) < 0
	    || trace_fetch_dec(rq->argv[1], called, sizeof(called)) < 0
	    || trace_fetch_dec(rq->argv[3], key, sizeof(key)) < 0
	    || str_to_u64(rq->argv[2], 1, TRACE_FETCH_SECS_MAX, &secs) < 0) {
		snprintf(err, errlen, "usage: %s (a malformed %%XX)", rq->cmd->usage);
		return -1;
	}
	cc->fetch = trace_fetch_start(cc->cs->rd, addr, called, key, (int) secs * 1000,
	    ctl_fetch_done, cc, err, errlen);
	return cc->fetch != NULL ? 0 : -1;
}

/* ctl_is_operator - may uid make requests that are not CTL_ANYONE, and
 * is it free of the per-uid limits: root, or the daemon's own user */
static int ctl_is_operator(const struct ctl_server *cs, int cred, uid_t uid)
{
	return cred && (uid == 0 || uid == cs->uid);
}

/* send_fd - the line and, with it, the descriptor fd (SCM_RIGHTS), on the
 * connection cc, without blocking (the first thing written to it: the
 * socket buffer has room); 0 or -1 (errno) */
static int send_fd(struct ctlconn *cc, const char *line, int fd)
{
	union {
		struct cmsghdr h;
		char	b[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov;
	struct msghdr m;
	struct cmsghdr *ch;
	size_t  len = strlen(line);
	ssize_t n;

	memset(&u, 0, sizeof(u));
	memset(&m, 0, sizeof(m));
	iov.iov_base = (void *) line;
	iov.iov_len = len;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.b;
	m.msg_controllen = sizeof(u.b);
	ch = CMSG_FIRSTHDR(&m);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	while ((n = sendmsg(cc->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	if (n >= 0 && (size_t) n < len) {
		errno = EAGAIN;
		return -1;
	}
	return n < 0 ? -1 : 0;
}

/* do_submit - a letter through a pipe the daemon makes, for the user the
 * kernel names (relay/submit.h): its write end goes to the client */
static int do_submit(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	struct ctl_server *cs = cc->cs;
	struct ctlconn *o;
	struct submit_who who;
	int     wfd, mine = 0;

	(void) out;
	if (!cc->cred) {
		snprintf(err, errlen, "submit: the kernel does not say who you are (SO_PEERCRED)");
		return -1;
	}
	if (cs->nsubmit >= CTL_SUBMIT_MAX) {
		snprintf(err, errlen, "submit: %d letters are being submitted: try again later",
		    CTL_SUBMIT_MAX);
		return -1;
	}
	if (!ctl_is_operator(cs, cc->cred, cc->uid)) {
		for (o = cs->conns; o != NULL; o = o->next)
			if (o->sub != NULL && o->uid == cc->uid)
				mine++;
		if (mine >= CTL_SUBMIT_PER_UID) {
			snprintf(err, errlen, "submit: %d letters of uid %lu are being submitted:"
			    " try again later", mine, (unsigned long) cc->uid);
			return -1;
		}
	}
	who.uid = cc->uid;
	who.gid = cc->gid;
	who.pid = cc->pid;
	who.user = cc->user;
	if ((cc->sub = submit_start(cs->rd, &who, ctl_submit_done, cc, &wfd, err, errlen)) == NULL)
		return -1;
	cs->nsubmit++;
	if (send_fd(cc, "pipe\n", wfd) < 0) {
		snprintf(err, errlen, "submit: pass the pipe: %s", strerror(errno));
		close(wfd);
		submit_cancel(cc->sub);
		cc->sub = NULL;
		cs->nsubmit--;
		return -1;
	}
	close(wfd);			/* the client's now: its end alone ends the pipe */
	return 0;
}

/* The handler of each request of the protocol table. */
static ctl_handler *const handlers[CTL_NCMDS] = {
	[CTL_PING] = do_ping,
	[CTL_PICKUP] = do_pickup,
	[CTL_QUEUE] = do_queue,
	[CTL_RETRY] = do_bulk,
	[CTL_HOLD] = do_bulk,
	[CTL_RELEASE] = do_bulk,
	[CTL_DELETE] = do_bulk,
	[CTL_BOUNCE] = do_bulk,
	[CTL_FORWARD] = do_forward,
	[CTL_REROUTE] = do_reroute,
	[CTL_RESUBMIT] = do_resubmit,
	[CTL_RELOAD] = do_reload,
	[CTL_FETCH] = do_fetch,
	[CTL_TRACE_FETCH] = do_trace_fetch,
	[CTL_SUBMIT] = do_submit,
};

/* ctl_operator - may the peer of cc make requests that are not CTL_ANYONE:
 * root, or the daemon's own user */
static int ctl_operator(const struct ctlconn *cc)
{
	return ctl_is_operator(cc->cs, cc->cred, cc->uid);
}

/* ctl_request - parse, authorize, dispatch and (unless an answer comes
 * later) answer. 1 when the connection is to be read on (a submission
 * started: its "end" line), 0 when it is answered, closed, or waits for
 * a callback without reading. */
static int ctl_request(struct ctlconn *cc, const char *line, size_t len)
{
	struct ctl_server *cs = cc->cs;
	struct buf out = BUF_INIT(CTL_ANSWER_MAX);
	const struct ctl_cmd *cmd;
	char    err[RELAYD_ERRLEN], show[CTL_LOG_MAX];
	int     r, more = 0;

	loop_timer_del(cs->rd->loop, cc->timer);	/* the line came in time */
	cc->timer = 0;
	if (ctl_proto_parse(line, len, &cc->rq, err, sizeof(err)) != CTL_PARSE_OK) {
		ctl_refuse(cc, line, len, err);
		return 0;
	}
	cmd = cc->rq.cmd;
	log_debug("control: %s by=%s", ctl_proto_esc(show, sizeof(show), line, len), cc->user);
	if (!(cmd->flags & CTL_ANYONE) && !ctl_operator(cc)) {
		if (cs->uid == 0)
			snprintf(err, sizeof(err), CTL_ERR_PERM "%s needs root", cmd->verb);
		else
			snprintf(err, sizeof(err), CTL_ERR_PERM "%s needs root or the user %s",
			    cmd->verb, cs->uname);
		log_warn("control: %s by=%s (uid %ld) refused: not root nor the daemon's user",
		    cmd->verb, cc->user, cc->cred ? (long) cc->uid : -1L);
		ctl_answer(cc, err, NULL);
		return 0;
	}
	if ((cmd->flags & CTL_LATER) && cs->rd->stopping) {
		ctl_answer(cc, CTL_ERR_STOPPING, NULL);
		return 0;
	}
	err[0] = '\0';
	r = handlers[cmd->id](cc, &out, err, sizeof(err));
	if (r == 0 && (cmd->flags & CTL_LATER)) {
		/* the callback answers; no more reading, but for a
		 * submission's "end" line */
		cc->waiting = 1;
		cs->nwaiting++;
		if (cc->sub != NULL)
			more = 1;
		else
			loop_fd_del(cs->rd->loop, cc->fd);
	} else if (r == 0) {
		ctl_answer(cc, NULL, &out);
	} else {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s failed", cmd->verb);
		ctl_fail(cc, err, &out);
	}
	buf_release(&out);
	return more;
}

/* ctl_recv - read at most len octets from the client into p; a
 * descriptor passed (SCM_RIGHTS) is closed unused: the daemon reads none
 * of a client's (a shared file description could be made blocking) */
static ssize_t ctl_recv(struct ctlconn *cc, void *p, size_t len)
{
	union {
		struct cmsghdr h;
		char	b[CMSG_SPACE(CTL_FDS_MAX * sizeof(int))];
	} u;
	struct iovec iov;
	struct msghdr m;
	struct cmsghdr *ch;
	size_t  i, nfd;
	ssize_t n;
	int     fd;

	iov.iov_base = p;
	iov.iov_len = len;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.b;
	m.msg_controllen = sizeof(u.b);
	if ((n = recvmsg(cc->fd, &m, MSG_CMSG_CLOEXEC)) < 0)
		return n;
	for (ch = CMSG_FIRSTHDR(&m); ch != NULL; ch = CMSG_NXTHDR(&m, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
			close(fd);
		}
		if (nfd > 0)
			log_debug("control: by=%s: %zu descriptors passed, closed unused", cc->user,
			    nfd);
	}
	return n;
}

/* ctl_submit_more - what a submitting client sends after its request:
 * "end OCTETS" once its letter is in the pipe, then nothing (no more is
 * read); the end of the connection before that abandons the letter */
static void ctl_submit_more(struct ctlconn *cc, int eof)
{
	static const char want[] = "submit: 'end OCTETS' expected after the request";
	const char *d = (const char *) buf_data(&cc->in) + cc->line_end;
	size_t  len = cc->in.len - cc->line_end;
	const char *nl;
	char    num[24];
	uint64_t size;

	if ((nl = memchr(d, '\n', len)) == NULL) {
		if (eof) {
			log_info("control: submit by=%s: the client left before its 'end'", cc->user);
			ctl_close(cc);		/* the letter goes with it */
		} else if (len >= sizeof(num) + 4)
			ctl_refuse(cc, d, len, want);
		return;
	}
	len = (size_t) (nl - d);
	if (len > 0 && d[len - 1] == '\r')
		len--;
	if (len <= 4 || len - 4 >= sizeof(num) || memcmp(d, "end ", 4) != 0) {
		ctl_refuse(cc, d, len, want);
		return;
	}
	memcpy(num, d + 4, len - 4);
	num[len - 4] = '\0';
	if (str_to_u64(num, 0, UINT64_MAX, &size) < 0) {
		ctl_refuse(cc, d, len, want);
		return;
	}
	cc->sub_ended = 1;
	loop_fd_del(cc->cs->rd->loop, cc->fd);	/* the answer comes from the submission */
	submit_end(cc->sub, size);
}

static void ctl_readable(struct loop *loop, int fd, int mask, void *arg)
{
	struct ctlconn *cc = arg;
	unsigned char *p, *nl;
	char    err[CTL_ERRLEN];
	size_t  room = buf_room(&cc->in);
	ssize_t n;

	(void) loop;
	(void) fd;
	(void) mask;
	if ((p = buf_reserve(&cc->in, room < 512 ? room : 512)) == NULL) {
		ctl_close(cc);
		return;
	}
	n = ctl_recv(cc, p, room < 512 ? room : 512);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		buf_commit(&cc->in, 0);
		return;
	}
	buf_commit(&cc->in, n > 0 ? (size_t) n : 0);
	if (cc->sub != NULL) {
		ctl_submit_more(cc, n <= 0);
		return;
	}
	if (n <= 0) {
		/* the client left: answer what it sent, if anything (it may
		 * still read after a shutdown of its writing side) */
		if (cc->in.len == 0)
			ctl_close(cc);
		else
			ctl_refuse(cc, (const char *) buf_data(&cc->in), cc->in.len,
			    "request not ended by a newline");
		return;
	}
	if ((nl = memchr(buf_data(&cc->in), '\n', cc->in.len)) != NULL) {
		cc->line_end = (size_t) (nl - buf_data(&cc->in)) + 1;
		/* a submission: its "end" may have come with the line */
		if (ctl_request(cc, (const char *) buf_data(&cc->in),
		    (size_t) (nl - buf_data(&cc->in))) > 0)
			ctl_submit_more(cc, 0);
		return;
	}
	if (buf_room(&cc->in) == 0) {
		/* a longer line cannot be a request: refuse it without
		 * reading the rest */
		snprintf(err, sizeof(err), "request too long (more than %d octets)",
		    CTL_LINE_MAX);
		ctl_refuse(cc, (const char *) buf_data(&cc->in), cc->in.len, err);
	}
}

/* ctl_line_late - no request line within CTL_LINE_MS */
static void ctl_line_late(struct loop *loop, void *arg)
{
	struct ctlconn *cc = arg;
	char    err[CTL_ERRLEN];

	(void) loop;
	cc->timer = 0;
	ctl_refused(cc->cs, "control: connection by=%s (uid %ld): no request line within %d s:"
	    " closed", cc->user, cc->cred ? (long) cc->uid : -1L, CTL_LINE_MS / 1000);
	snprintf(err, sizeof(err), "no request line within %d s", CTL_LINE_MS / 1000);
	ctl_answer(cc, err, NULL);
}

/* ctl_resume - watch the socket again after an accept that failed */
static void ctl_resume(struct loop *loop, void *arg)
{
	struct ctl_server *cs = arg;

	cs->pause = 0;
	if (loop_fd_mask(loop, cs->fd, LOOP_READ) < 0)
		log_error("control socket '%s': watch again: %s", cs->path, strerror(errno));
}

/* ctl_over - why a new connection of (cred, uid) is over a limit, in
 * err; 0 when it is not */
static int ctl_over(const struct ctl_server *cs, int cred, uid_t uid, char *err, size_t errlen)
{
	const struct ctlconn *o;
	int     oper = ctl_is_operator(cs, cred, uid), n = 0;

	if (cs->nconns >= CTL_CONN_MAX || (!oper && cs->nconns >= CTL_CONN_MAX - CTL_CONN_RESERVE)) {
		snprintf(err, errlen, "too many control connections (%d): try again later",
		    cs->nconns);
		return 1;
	}
	if (oper)
		return 0;
	for (o = cs->conns; o != NULL; o = o->next)
		if (o->cred == cred && o->uid == uid)
			n++;
	if (n >= CTL_CONN_PER_UID) {
		snprintf(err, errlen, "too many control connections of uid %ld (%d): try again"
		    " later", cred ? (long) uid : -1L, n);
		return 1;
	}
	return 0;
}

static void ctl_accept(struct loop *loop, int fd, int mask, void *arg)
{
	struct ctl_server *cs = arg;
	struct ctlconn *cc;
	struct ucred uc;
	socklen_t sl = sizeof(uc);
	char    err[CTL_ERRLEN], *line;
	int     c, cred = 0, e;

	(void) mask;
	if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		e = errno;
		if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
			/* the connection stays queued: watching the socket
			 * would wake the loop for it again at once */
			if (cs->pause == 0 && loop_fd_mask(loop, fd, 0) == 0)
				cs->pause = loop_timer_add(loop, CTL_PAUSE_MS, ctl_resume, cs);
			ctl_refused(cs, "control socket '%s': accept: %s: no connection taken for"
			    " %d ms", cs->path, strerror(e), CTL_PAUSE_MS);
		}
		return;
	}
	memset(&uc, 0, sizeof(uc));
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &sl) == 0 && sl == sizeof(uc))
		cred = 1;
	if (ctl_over(cs, cred, uc.uid, err, sizeof(err))) {
		ctl_refused(cs, "control: connection of uid %ld refused: %s", cred ? (long) uc.uid
		    : -1L, err);
		line = xasprintf("err %s\n.\n", err);
		(void) send(c, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
		free(line);
		close(c);
		return;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->cs = cs;
	cc->fd = c;
	/* who asks: operator actions are journalled with by=USER; the uid
	 * decides what it may ask (ctl_request) */
	archive_peer_user(c, cc->user, sizeof(cc->user));
	if (cred) {
		cc->cred = 1;
		cc->uid = uc.uid;
		cc->gid = uc.gid;
		cc->pid = uc.pid;
	}
	buf_init(&cc->in, CTL_IN_MAX);
	cc->next = cs->conns;
	cs->conns = cc;
	cs->nconns++;
	cc->timer = loop_timer_add(loop, CTL_LINE_MS, ctl_line_late, cc);
	if (loop_fd_set(loop, c, LOOP_READ, ctl_readable, cc) < 0) {
		log_warn("control: watch connection: %s", strerror(errno));
		ctl_close(cc);
	}
}

/* ctl_dir_searchable - others reach the socket at path through its
 * directory: they need to search it (not to read it). The daemon's own
 * directory (the spool, by default) is made so; another's is only
 * reported. */
static void ctl_dir_searchable(const char *path)
{
	char    dir[PATH_MAX];
	char   *slash;
	struct stat sb;
	int     fd;

	if (str_copy(dir, path, sizeof(dir)) >= sizeof(dir) || (slash = strrchr(dir, '/')) == NULL
	    || slash == dir)
		return;
	*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &sb) == 0 && !(sb.st_mode & S_IXOTH)) {
		if (sb.st_uid == geteuid() && fchmod(fd, (sb.st_mode & 07777) | S_IXOTH) == 0)
			log_info("control socket '%s': its directory '%s' made searchable by others"
			    " (mode %04o, not readable): any local user may submit", path, dir,
			    (unsigned) ((sb.st_mode & 07777) | S_IXOTH));
		else
			log_warn("control socket '%s': its directory '%s' (mode %04o) is not"
			    " searchable by others: only root, its owner and its group can submit"
			    " (chmod o+x '%s')", path, dir, (unsigned) (sb.st_mode & 07777), dir);
	}
	close(fd);
}

/* ctl_server_start - listen on the control socket */
struct ctl_server *ctl_server_start(struct relayd *rd, ctl_reload_fn *reload,
	char *err, size_t errlen)
{
	struct ctl_server *cs;
	struct sockaddr_un sa;
	const char *path = rd->conf->control;
	size_t  i;
	int     fd;

	for (i = 0; i < CTL_NCMDS; i++)
		PANIC_IF(handlers[i] == NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket '%s': path too long", path);
		return NULL;
	}
	str_copy(sa.sun_path, path, sizeof(sa.sun_path));
	(void) unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0
	    || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "control socket '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	/* anyone may connect (to submit): what each may ask is decided by
	 * its uid (ctl_request) */
	if (chmod(path, 0666) < 0)
		log_warn("control socket '%s': chmod 0666: %s (only its owner can use it)", path,
		    strerror(errno));
	else
		ctl_dir_searchable(path);
	cs = xcalloc(1, sizeof(*cs));
	cs->rd = rd;
	cs->reload = reload;
	cs->path = xstrdup(path);
	cs->fd = fd;
	cs->uid = geteuid();
	{
		struct passwd pw, *pp = NULL;
		char   *pwb = xmalloc(CTL_PWBUF_MAX);

		if (getpwuid_r(cs->uid, &pw, pwb, CTL_PWBUF_MAX, &pp) == 0 && pp != NULL)
			str_copy(cs->uname, pp->pw_name, sizeof(cs->uname));
		else
			snprintf(cs->uname, sizeof(cs->uname), "uid:%lu", (unsigned long) cs->uid);
		free(pwb);
	}
	if (loop_fd_set(rd->loop, fd, LOOP_READ, ctl_accept, cs) < 0) {
		snprintf(err, errlen, "control socket '%s': watch: %s", path, strerror(errno));
		ctl_server_free(cs);
		return NULL;
	}
	return cs;
}

/* ctl_server_busy - answers still to come */
int ctl_server_busy(const struct ctl_server *cs)
{
	return cs != NULL && cs->nwaiting > 0;
}

/* ctl_server_free - close everything, remove the socket file */
void ctl_server_free(struct ctl_server *cs)
{
	if (cs == NULL)
		return;
	while (cs->conns != NULL)
		ctl_close(cs->conns);
	loop_timer_del(cs->rd->loop, cs->pause);
	loop_fd_del(cs->rd->loop, cs->fd);
	close(cs->fd);
	(void) unlink(cs->path);
	free(cs->path);
	free(cs);
}
