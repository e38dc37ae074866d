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
 *--*/
#include <errno.h>
#include <fcntl.h>
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
#include "relay/pickup.h"
#include "relay/queue.h"
#include "relay/relayd.h"
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

struct ctl_server {
	struct relayd *rd;
	ctl_reload_fn *reload;
	char   *path;			/* the socket file we bound */
	int	fd;
	struct ctlconn *conns;
	int	nwaiting;		/* connections waiting for a callback */
};

struct ctlconn {
	struct ctl_server *cs;
	struct ctlconn *next;
	int	fd;
	int	waiting;		/* the answer comes from a callback */
	struct buf in;
	char	user[CTL_USER_MAX];	/* the operator, journalled as by= */
	struct ctl_req rq;		/* argv[] stays valid until the answer */
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
	close(cc->fd);
	buf_release(&cc->in);
	if (cc->waiting)
		cs->nwaiting--;
	for (pp = &cs->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cc) {
			*pp = cc->next;
			break;
		}
	free(cc);
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

static int do_queue(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	(void) err;
	(void) errlen;
	buf_printf(out, "ok\n");
	queue_list(cc->cs->rd->q, out);
	return 0;
}

/* do_retry - NAME..., hop:HOST, --hop HOST, --all or nothing (all) */
static int do_retry(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	struct relayd *rd = cc->cs->rd;
	const struct ctl_req *rq = &cc->rq;
	char    hop[CTL_LINE_MAX + 8];
	size_t  i;
	int     n = 0;

	(void) err;
	(void) errlen;
	if (rq->argc == 0 || strcmp(rq->argv[0], "--all") == 0)
		n = ops_retry(rd, NULL, cc->user);
	else
		for (i = 0; i < rq->argc; i++) {
			if (strcmp(rq->argv[i], "--hop") == 0) {
				/* check_retry(): a host follows every --hop */
				snprintf(hop, sizeof(hop), "hop:%s", rq->argv[++i]);
				n += ops_retry(rd, hop, cc->user);
			} else
				n += ops_retry(rd, rq->argv[i], cc->user);
		}
	pickup_scan(rd->pickup, 1);
	buf_printf(out, "ok %d\n", n);
	return 0;
}

/* do_letter_op - hold, release, delete NAME */
static int do_letter_op(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	(void) out;
	return ops_letter(cc->cs->rd, cc->rq.cmd->verb, cc->rq.argv[0], cc->user,
	    ctl_op_done, cc, err, errlen);
}

static int do_bounce(struct ctlconn *cc, struct buf *out, char *err, size_t errlen)
{
	const char *reason = cc->rq.argc > 1 ? cc->rq.argv[1] : NULL;

	(void) out;
	return ops_bounce(cc->cs->rd, cc->rq.argv[0], reason, cc->user, ctl_op_done,
	    cc, err, errlen);
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

/* The handler of each request of the protocol table. */
static ctl_handler *const handlers[CTL_NCMDS] = {
	[CTL_PING] = do_ping,
	[CTL_PICKUP] = do_pickup,
	[CTL_QUEUE] = do_queue,
	[CTL_RETRY] = do_retry,
	[CTL_HOLD] = do_letter_op,
	[CTL_RELEASE] = do_letter_op,
	[CTL_DELETE] = do_letter_op,
	[CTL_BOUNCE] = do_bounce,
	[CTL_FORWARD] = do_forward,
	[CTL_REROUTE] = do_reroute,
	[CTL_RESUBMIT] = do_resubmit,
	[CTL_RELOAD] = do_reload,
};

/* ctl_request - parse, dispatch and (unless an answer comes later) answer */
static void ctl_request(struct ctlconn *cc, const char *line, size_t len)
{
	struct ctl_server *cs = cc->cs;
	struct buf out = BUF_INIT(CTL_ANSWER_MAX);
	const struct ctl_cmd *cmd;
	char    err[RELAYD_ERRLEN], show[CTL_LOG_MAX];
	int     r;

	if (ctl_proto_parse(line, len, &cc->rq, err, sizeof(err)) != CTL_PARSE_OK) {
		ctl_refuse(cc, line, len, err);
		return;
	}
	cmd = cc->rq.cmd;
	log_debug("control: %s by=%s", ctl_proto_esc(show, sizeof(show), line, len), cc->user);
	if ((cmd->flags & CTL_LATER) && cs->rd->stopping) {
		ctl_answer(cc, "mail relay shutting down", NULL);
		return;
	}
	err[0] = '\0';
	r = handlers[cmd->id](cc, &out, err, sizeof(err));
	if (r == 0 && (cmd->flags & CTL_LATER)) {
		/* the callback answers; no more reading */
		cc->waiting = 1;
		cs->nwaiting++;
		loop_fd_del(cs->rd->loop, cc->fd);
	} else if (r == 0) {
		ctl_answer(cc, NULL, &out);
	} else {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s failed", cmd->verb);
		ctl_fail(cc, err, &out);
	}
	buf_release(&out);
}

static void ctl_readable(struct loop *loop, int fd, int mask, void *arg)
{
	struct ctlconn *cc = arg;
	unsigned char *p, *nl;
	char    err[CTL_ERRLEN];
	size_t  room = buf_room(&cc->in);
	ssize_t n;

	(void) loop;
	(void) mask;
	if ((p = buf_reserve(&cc->in, room < 512 ? room : 512)) == NULL) {
		ctl_close(cc);
		return;
	}
	n = read(fd, p, room < 512 ? room : 512);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		buf_commit(&cc->in, 0);
		return;
	}
	buf_commit(&cc->in, n > 0 ? (size_t) n : 0);
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
		ctl_request(cc, (const char *) buf_data(&cc->in),
		    (size_t) (nl - buf_data(&cc->in)));
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

static void ctl_accept(struct loop *loop, int fd, int mask, void *arg)
{
	struct ctl_server *cs = arg;
	struct ctlconn *cc;
	int     c;

	(void) mask;
	if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	cc = xcalloc(1, sizeof(*cc));
	cc->cs = cs;
	cc->fd = c;
	/* who asks: operator actions are journalled with by=USER */
	archive_peer_user(c, cc->user, sizeof(cc->user));
	buf_init(&cc->in, CTL_IN_MAX);
	cc->next = cs->conns;
	cs->conns = cc;
	if (loop_fd_set(loop, c, LOOP_READ, ctl_readable, cc) < 0) {
		log_warn("control: watch connection: %s", strerror(errno));
		ctl_close(cc);
	}
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
	(void) chmod(path, 0600);
	cs = xcalloc(1, sizeof(*cs));
	cs->rd = rd;
	cs->reload = reload;
	cs->path = xstrdup(path);
	cs->fd = fd;
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
	loop_fd_del(cs->rd->loop, cs->fd);
	close(cs->fd);
	(void) unlink(cs->path);
	free(cs->path);
	free(cs);
}
