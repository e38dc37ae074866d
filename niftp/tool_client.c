/*++
 * NAME
 *	tool_client 3
 * SUMMARY
 *	one file transfer as P, with retries and resumption
 * SYNOPSIS
 *	#include "niftp/tool_client.h"
 * DESCRIPTION
 *	See tool_client.h. Each attempt is one call (niftp_call_open) with
 *	one transfer; the loop runs until the call is down. The outcome of
 *	the attempt decides what follows:
 * .IP "STOPACK OK"
 *	done.
 * .IP "refused (0x1001, 0x1002, no-retry errors), login refused, protocol error"
 *	final: exit 65, 77 or 1.
 * .IP "resumption impossible (0x1004)"
 *	start afresh at once, on a new call.
 * .IP "call refused: unknown called address, access barred"
 *	final: exit 67 or 77.
 * .IP "unreachable, broken call, temporary refusal"
 *	wait and try again, resuming from the docket when there is one;
 *	after the retries exit 69 (never reached) or 75.
 * DIAGNOSTICS
 *	One error line: "niftp: put 'F' to ADDR: reason". Retry notices
 *	are warnings (hidden by -q); -v tells about each call.
 *--*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/niftp_call.h"
#include "niftp/tool_client.h"
#include "niftp/tool_common.h"
#include "niftp/tool_progress.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"

#define CLIENT_WAIT_MAX_MS	30000

struct client {
	struct client_spec *cs;
	struct niftp_call *call;
	struct progress *pr;
	int	interrupted;
	/* this attempt */
	int	up;
	int	down;
	int	done_seen;
	int	failed;
	enum niftp_status status;
	uint16_t state;
	char	reason[512];
	int	down_reason;
	char	down_text[512];
	uint64_t moved;
	uint64_t wire;		/* payload octets of this call seen so far */
	int	data_done;
	/* waiting */
	int	waited;
};

/* client_note - a message for -v only */
static void client_note(const struct client *cl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void client_note(const struct client *cl, const char *fmt, ...)
{
	char    msg[1024];
	va_list ap;

	if (cl->cs->o->verbose <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	progress_clear(cl->pr);
	log_info("%s: %s", cl->cs->what, msg);
}

/* client_count - note the call's payload octets while its ts_conn exists */
static void client_count(struct client *cl, struct niftp_call *call)
{
	struct ts_conn *ts = niftp_call_ts(call);
	uint64_t sent, rcvd;

	if (ts == NULL)
		return;
	ts_bytes(ts, &sent, &rcvd);
	if (sent + rcvd > cl->wire)
		cl->wire = sent + rcvd;
}

/* client_event - engine events */
static void client_event(void *arg, struct niftp_call *call, const struct niftp_event *ev)
{
	struct client *cl = arg;
	struct client_spec *cs = cl->cs;
	const struct niftp_docket *d;

	client_count(cl, call);
	switch (ev->type) {
	case NIFTP_EV_POS:
		if (ev->name != NULL && *ev->name)
			str_copy(cs->name, ev->name, sizeof(cs->name));
		if (ev->req != NULL && ev->req->resume)
			client_note(cl, "resuming%s%s%s (restart mark %u)",
			    cs->name[0] ? " as '" : "", cs->name, cs->name[0] ? "'" : "",
			    ev->req->restart_mark);
		else
			client_note(cl, "transfer agreed%s%s%s", cs->name[0] ? ", name '" : "",
			    cs->name, cs->name[0] ? "'" : "");
		break;
	case NIFTP_EV_PROGRESS:
		if (ev->offset > cl->moved)
			cl->moved = ev->offset;
		progress_update(cl->pr, ev->offset, ev->size >= 0 ? ev->size : cs->req.size);
		break;
	case NIFTP_EV_DATA_DONE:
		cl->data_done = 1;
		break;
	case NIFTP_EV_DONE:
		cl->done_seen = 1;
		cl->status = ev->status;
		cl->state = ev->state;
		str_copy(cl->reason, ev->reason ? ev->reason : "", sizeof(cl->reason));
		if (ev->name != NULL && *ev->name)
			str_copy(cs->name, ev->name, sizeof(cs->name));
		if ((d = niftp_docket(niftp_call_engine(call))) != NULL && d->tid != 0) {
			cs->dk = *d;
			cs->have_dk = 1;
		}
		if (ev->status != NIFTP_ERR_RESUMABLE)
			niftp_call_hangup(call);
		break;
	case NIFTP_EV_FAILED:
		cl->failed = 1;
		str_copy(cl->reason, ev->reason ? ev->reason : "protocol error",
		    sizeof(cl->reason));
		break;
	default:
		break;
	}
}

/* client_callev - call UP/DOWN */
static void client_callev(void *arg, struct niftp_call *call, enum niftp_call_ev ev,
	int reason, const char *text)
{
	struct client *cl = arg;

	client_count(cl, call);
	if (ev == NIFTP_CALL_EV_UP) {
		cl->up = 1;
		client_note(cl, "call accepted by %s", niftp_call_peer(call));
		return;
	}
	cl->down = 1;
	cl->down_reason = reason;
	str_copy(cl->down_text, text ? text : "", sizeof(cl->down_text));
}

/* client_docket - P's docket save: keep it in memory */
static int client_docket(void *arg, const struct niftp_docket *d)
{
	struct client *cl = arg;

	if (d != NULL && d->tid != 0) {
		cl->cs->dk = *d;
		cl->cs->have_dk = 1;
	}
	return 0;
}

/* client_signal - SIGINT/SIGTERM */
static void client_signal(void *arg, int sig)
{
	struct client *cl = arg;

	(void) sig;
	cl->interrupted = 1;
	if (cl->call != NULL && !cl->down)
		niftp_call_abort(cl->call, TS_R_NORMAL, "interrupted");
}

/* client_wait_over - back-off timer */
static void client_wait_over(struct loop *loop, void *arg)
{
	struct client *cl = arg;

	(void) loop;
	cl->waited = 1;
}

/* client_attempt - one call; the call's outcome is left in cl */
static void client_attempt(struct client *cl, const struct niftp_req *req)
{
	struct client_spec *cs = cl->cs;
	const struct tool_opts *o = cs->o;
	struct niftp_call_hooks hooks;
	struct niftp_config cfg;
	struct ts_opts tso;
	char    err[512];

	cl->up = cl->down = cl->done_seen = cl->failed = cl->data_done = 0;
	cl->status = NIFTP_ERR_TEMP;
	cl->state = 0;
	cl->reason[0] = cl->down_text[0] = '\0';
	cl->down_reason = 0;
	cl->wire = 0;
	memset(&hooks, 0, sizeof(hooks));
	hooks.event = client_event;
	hooks.call = client_callev;
	hooks.docket_save = client_docket;
	memset(&cfg, 0, sizeof(cfg));
	cfg.info = TOOL_VERSION;
	cfg.deflate = 1;
	tool_ts_opts(o, &tso);
	cs->calls++;
	cl->call = niftp_call_open(cs->loop, cs->addr, o->called, o->calling, &tso, &cfg,
	    &hooks, cl, cs->fs_ops, cs->fs, err, sizeof(err));
	if (cl->call == NULL) {
		cl->down = 1;
		cl->down_reason = TS_R_LOCALPROC;
		str_copy(cl->down_text, err, sizeof(cl->down_text));
		return;
	}
	if (niftp_call_start(cl->call, req) < 0) {
		niftp_call_abort(cl->call, TS_R_LOCALPROC, "transfer could not start");
		cl->failed = 1;
		str_copy(cl->reason, "the transfer could not be started", sizeof(cl->reason));
	}
	while (!cl->down)
		if (loop_run_once(cs->loop, -1) < 0 && errno != EINTR) {
			str_copy(cl->down_text, strerror(errno), sizeof(cl->down_text));
			break;
		}
	client_count(cl, cl->call);
	cs->octets += cl->wire;
	niftp_call_free(cl->call);
	cl->call = NULL;
}

/* client_peer_text - the peer's own words in an engine refusal reason
 * ("refused (RNEG state 0x1001, ...): file exists" gives "file exists") */
static const char *client_peer_text(const char *reason)
{
	const char *p;

	if (strncmp(reason, "refused (", 9) == 0 && (p = strstr(reason, "): ")) != NULL
	    && p[3] != '\0')
		return p + 3;
	return reason;
}

/* client_fail - print the final error; the exit status */
static int client_fail(struct client *cl, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int client_fail(struct client *cl, int status, const char *fmt, ...)
{
	char    msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	progress_clear(cl->pr);
	log_error("%s: %s", cl->cs->what, msg);
	return status;
}

/* client_run - run the transfer; the exit status */
int client_run(struct client_spec *cs)
{
	struct client cl;
	struct niftp_req req;
	const struct tool_opts *o = cs->o;
	unsigned fails = 0;
	uint64_t best = 0, tid;
	int64_t wait;
	int     fresh = 1, rc = TOOL_OTHER, moved_any = 0, data_done = 0;
	uint64_t timer;

	memset(&cl, 0, sizeof(cl));
	cl.cs = cs;
	cl.pr = progress_new(cs->label, o->verbose >= 0);
	if (tool_signals(cs->loop, client_signal, &cl) < 0) {
		progress_free(cl.pr);
		return TOOL_OTHER;
	}
	tid = cs->req.tid;
	for (;;) {
		req = cs->req;
		if (!fresh && cs->have_dk)
			niftp_resume_req(&req, &cs->dk);
		else {
			cs->have_dk = 0;
			req.resume = 0;
			req.tid = (uint16_t) tid;
		}
		if (cs->calls > 0)
			client_note(&cl, "call %u%s", cs->calls + 1,
			    req.resume ? ", resuming" : "");
		client_attempt(&cl, &req);
		if (cl.moved > 0)
			moved_any = 1;

		if (cs->local_error[0] != '\0') {
			rc = client_fail(&cl, cs->local_status ? cs->local_status : TOOL_OTHER,
			    "%s", cs->local_error);
			break;
		}
		if (cl.done_seen && cl.status == NIFTP_OK) {
			rc = TOOL_OK;
			break;
		}
		if (cl.interrupted) {
			rc = client_fail(&cl, TOOL_OTHER, "interrupted");
			break;
		}
		fresh = 0;
		if (cl.failed && !cl.done_seen) {
			rc = client_fail(&cl, TOOL_OTHER, "protocol error: %s", cl.reason);
			break;
		}
		if (cl.done_seen) {
			switch (cl.status) {
			case NIFTP_ERR_PERM:
				rc = client_fail(&cl, TOOL_DATAERR, "refused: %s (state 0x%04x)",
				    client_peer_text(cl.reason), cl.state);
				goto out;
			case NIFTP_ERR_AUTH:
				/* the peer's words may say it already */
				rc = client_fail(&cl, TOOL_NOPERM, "%s%s (state 0x%04x)",
				    strncmp(client_peer_text(cl.reason), "not permitted", 13) == 0
				    ? "" : "not permitted: ", client_peer_text(cl.reason), cl.state);
				goto out;
			case NIFTP_ERR_PROTO:
				rc = client_fail(&cl, TOOL_OTHER, "protocol error: %s", cl.reason);
				goto out;
			case NIFTP_ERR_NORESUME:
				if (cs->calls >= CLIENT_MAX_CALLS) {
					rc = client_fail(&cl, TOOL_TEMPFAIL, "gave up after %u "
					    "calls: %s (state 0x%04x)", cs->calls, cl.reason, cl.state);
					goto out;
				}
				if (o->verbose >= 0) {
					progress_clear(cl.pr);
					log_warn("%s: cannot resume (%s): starting afresh",
					    cs->what, cl.reason);
				}
				fresh = 1;
				if (moved_any && cs->restart != NULL)
					cs->restart(cs->fs);
				best = 0;
				data_done = 0;
				cl.moved = 0;
				continue;
			default:
				break;
			}
		} else if (!cl.up && (cl.down_reason == TS_R_BADADDR
		    || cl.down_reason == TS_R_BARRED)) {
			rc = client_fail(&cl, cl.down_reason == TS_R_BADADDR ? TOOL_NOUSER
			    : TOOL_NOPERM, "call refused: %s", cl.down_text);
			goto out;
		}

		/* retryable: a broken call, unreachable, or a temporary refusal */
		if (cl.moved > best || (cl.data_done && !data_done)) {
			best = cl.moved;
			data_done = cl.data_done;
			fails = 0;
		} else
			fails++;
		if (o->retries == 0 || fails > o->retries || cs->calls >= CLIENT_MAX_CALLS) {
			if (!cl.up && !cl.done_seen)
				rc = client_fail(&cl, TOOL_UNAVAIL, "unreachable: %s%s",
				    cl.down_text, o->retries ? " (retries used up)" : "");
			else if (cl.done_seen && cl.status == NIFTP_ERR_TEMP)
				rc = client_fail(&cl, TOOL_TEMPFAIL, "temporary failure: %s "
				    "(state 0x%04x)%s", client_peer_text(cl.reason), cl.state,
				    o->retries ? " (retries used up)" : "");
			else
				rc = client_fail(&cl, TOOL_TEMPFAIL, "call broken: %s%s",
				    cl.down_text[0] ? cl.down_text : cl.reason,
				    o->retries ? " (retries used up)" : "");
			goto out;
		}
		wait = o->retry_wait_ms;
		for (unsigned i = 1; i < fails && wait < CLIENT_WAIT_MAX_MS; i++)
			wait *= 2;
		if (wait > CLIENT_WAIT_MAX_MS)
			wait = CLIENT_WAIT_MAX_MS;
		if (o->verbose >= 0) {
			progress_clear(cl.pr);
			log_warn("%s: %s; trying again in %.1f s%s", cs->what,
			    cl.done_seen ? (cl.reason[0] ? cl.reason : niftp_status_str(cl.status))
			    : cl.down_text[0] ? cl.down_text : "call failed",
			    (double) wait / 1000.0, cs->have_dk ? " (resuming)" : "");
		}
		cl.waited = 0;
		timer = loop_timer_add(cs->loop, wait, client_wait_over, &cl);
		while (!cl.waited && !cl.interrupted)
			if (loop_run_once(cs->loop, -1) < 0 && errno != EINTR)
				break;
		loop_timer_del(cs->loop, timer);
		if (cl.interrupted) {
			rc = client_fail(&cl, TOOL_OTHER, "interrupted");
			goto out;
		}
	}
out:
	if (rc == TOOL_OK)
		client_note(&cl, "done: %llu octets on the wire in %u call%s",
		    (unsigned long long) cs->octets, cs->calls, cs->calls == 1 ? "" : "s");
	progress_free(cl.pr);
	return rc;
}
