/*++
 * NAME
 *	niftp_call 3
 * SUMMARY
 *	an NIFTP engine bound to a transport-service call on an event loop
 * SYNOPSIS
 *	#include "niftp/niftp_call.h"
 * DESCRIPTION
 *	The glue between one struct ts_conn and one struct niftp. See
 *	niftp_call.h for the contract; this file adds these rules:
 *
 *	Output is pulled from the engine only while ts_room() allows, in
 *	batches; each batch goes to ts_send() as one data record, so it
 *	ends with a PUSH. When the transport is full the call asks for
 *	TS_EV_DRAINED and pulls again then.
 *
 *	Re-entrancy: the owner's callbacks may call any function of this
 *	module, including niftp_call_free(). Work that would re-enter the
 *	engine or the transport from inside one of their callbacks (start,
 *	hangup, abort, free, RESET, pulling output) is noted in flags and
 *	done by call_settle() when the outermost entry into this module
 *	returns, so neither the engine nor the ts_conn is ever freed or
 *	re-entered under its own feet.
 *
 *	Caller identity (Q): cfg->caller when set, else the calling
 *	address from CONNECT; for rawtcp (no calling address on the wire)
 *	and for a caller that sent none, the peer address without its
 *	port, because the port of a TCP client changes on every call and
 *	would make resumption impossible.
 *
 *	Test hooks (util/crash.h, environment NIFTPMAIL_HOOK):
 * .IP call-reset
 *	counted at each NIFTP_EV_PROGRESS; when it fires the call sends a
 *	transport RESET mid-data (both sides then restart from a mark).
 * .IP call-cut
 *	counted at each NIFTP_EV_PROGRESS; when it fires the call drops
 *	its connection abruptly (as a cable cut would).
 * .IP call-hang
 *	counted at each NIFTP_EV_PROGRESS; when it fires the call gives up
 *	its connection without closing it (events on it are ignored until
 *	the peer ends it), so the peer still holds the call when we resume
 *	on a new one: how a server copes with a half-open call.
 * .IP call-cut-after-er
 *	counted at each NIFTP_EV_DATA_DONE (P received ER(OK)); when it
 *	fires the call is dropped before STOP goes out, the window in
 *	which a donor must resume with mark 0xFFFF.
 * .PP
 *	niftp_call_kick() is an addition to the header's contract: a
 *	filestore that finishes work outside the engine's callbacks
 *	(niftp_commit_done(), niftp_open_done() from a worker completion)
 *	calls it so that the answer (ER, RPOS) is pulled and sent.
 * DIAGNOSTICS
 *	Problems are reported through the owner's hooks; this module
 *	prints nothing.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/niftp_call.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/strutil.h"

#define CALL_BATCH	(256 * 1024)	/* largest output batch pulled at once */
#define CALL_MIN_ROOM	512		/* less room than this: wait for DRAINED */
#define CALL_TEXTLEN	512

/* A copy of a start request, with its strings owned. */
struct call_start {
	struct niftp_req req;
	char   *filename;
	char   *username;
	char   *password;
	char   *copy_id;
};

struct niftp_call {
	struct loop *loop;
	struct ts_conn *ts;
	struct niftp *n;
	struct niftp_call_hooks hooks;
	void   *arg;
	int	role_p;
	int	up;			/* ACCEPTED (P) or served (Q) */
	int	down;			/* the call ended; DOWN raised or pending */
	int	depth;			/* nesting of entries into this module */
	int	dead;			/* niftp_call_free() deferred */
	int	hangup;			/* disconnect when the engine is idle */
	int	resetting;		/* our RESET is out, its answer awaited */
	int	reset_wanted;		/* test hook: send a RESET */
	int	cut_wanted;		/* test hook: drop the call */
	int	hang_wanted;		/* test hook: abandon the connection */
	int	abort_wanted;		/* DISCONNECT with abort_reason/text */
	int	abort_reason;
	char	abort_text[CALL_TEXTLEN];
	int	have_start;		/* a start request waits for UP/settle */
	struct call_start start;
	char	caller[NIFTP_CALLER_MAX];	/* Q: identity for dockets */
	char	peer[300];		/* printable peer */
	struct buf out;
};

/* call_start_release - free the owned strings of a stored request */
static void call_start_release(struct call_start *s)
{
	free(s->filename);
	free(s->username);
	if (s->password != NULL) {
		memset(s->password, 0, strlen(s->password));
		free(s->password);
	}
	free(s->copy_id);
	memset(s, 0, sizeof(*s));
}

/* call_start_copy - keep a deep copy of req in s */
static void call_start_copy(struct call_start *s, const struct niftp_req *req)
{
	call_start_release(s);
	s->req = *req;
	s->filename = req->filename ? xstrdup(req->filename) : NULL;
	s->username = req->username ? xstrdup(req->username) : NULL;
	s->password = req->password ? xstrdup(req->password) : NULL;
	s->copy_id = req->copy_id ? xstrdup(req->copy_id) : NULL;
	s->req.filename = s->filename;
	s->req.username = s->username;
	s->req.password = s->password;
	s->req.copy_id = s->copy_id;
	/* Q-side fields mean nothing for a start request */
	s->req.caller = NULL;
	s->req.info = NULL;
}

/* call_copy_peer - remember the printable peer while the ts_conn lives */
static void call_copy_peer(struct niftp_call *call)
{
	const char *p;

	if (call->ts == NULL)
		return;
	p = ts_peer(call->ts);
	if (p != NULL && *p != '\0')
		str_copy(call->peer, p, sizeof(call->peer));
}

/* call_mentions - does text name the peer ("tcp:H:P" also as "H:P")? */
static int call_mentions(const char *text, const char *peer)
{
	const char *colon;

	if (strstr(text, peer) != NULL)
		return 1;
	if ((strncmp(peer, "tcp:", 4) == 0 || strncmp(peer, "rawtcp:", 7) == 0)
	    && (colon = strchr(peer, ':')) != NULL && colon[1] != '\0'
	    && strstr(text, colon + 1) != NULL)
		return 1;
	return 0;
}

/* call_down_text - the DOWN text, naming the peer */
static void call_down_text(struct niftp_call *call, const char *text, int reason,
	char *out, size_t len)
{
	if (text == NULL || *text == '\0')
		snprintf(out, len, "call with %s ended (reason %d)", call->peer, reason);
	else if (call_mentions(text, call->peer))
		snprintf(out, len, "%s", text);
	else
		snprintf(out, len, "%s: %s", call->peer, text);
}

/* call_went_down - the transport is gone: end the transfer, tell the owner */
static void call_went_down(struct niftp_call *call, int reason, const char *text)
{
	char    msg[CALL_TEXTLEN + 320];

	if (call->down)
		return;
	call->down = 1;
	call->resetting = 0;
	call_down_text(call, text, reason, msg, sizeof(msg));
	niftp_lost(call->n, msg);
	if (call->hooks.call != NULL)
		call->hooks.call(call->arg, call, NIFTP_CALL_EV_DOWN, reason, msg);
}

/* call_destroy - free everything now (depth is 0) */
static void call_destroy(struct niftp_call *call)
{
	if (call->ts != NULL) {
		ts_close(call->ts);
		call->ts = NULL;
	}
	if (call->n != NULL) {
		niftp_free(call->n);
		call->n = NULL;
	}
	call_start_release(&call->start);
	buf_release(&call->out);
	free(call);
}

/* call_pump - pull engine output while the transport has room */
static void call_pump(struct niftp_call *call)
{
	size_t  room, total;
	ssize_t got = 0;

	while (call->ts != NULL && call->up && !call->down && !call->dead
	    && !call->resetting && niftp_want_output(call->n)) {
		room = ts_room(call->ts);
		if (room > CALL_BATCH)
			room = CALL_BATCH;
		if (room < CALL_MIN_ROOM) {
			ts_want_room(call->ts);
			return;
		}
		buf_reset(&call->out);
		total = 0;
		while (total < room && niftp_want_output(call->n)) {
			got = niftp_output(call->n, &call->out, room - total);
			if (got < 0) {
				/* the engine ended the transfer on a filestore
				 * error and told the owner; the call cannot go on */
				if (!call->abort_wanted) {
					call->abort_wanted = 1;
					call->abort_reason = TS_R_APPFAIL;
					str_copy(call->abort_text, "file store failure",
					    sizeof(call->abort_text));
				}
				break;
			}
			if (got == 0)
				break;
			total += (size_t) got;
			if (call->dead || call->down)
				return;
		}
		if (call->out.len > 0
		    && ts_send(call->ts, buf_data(&call->out), call->out.len, 1) < 0) {
			/* room was checked: only a closed call refuses; its
			 * DISCONNECT event follows */
			return;
		}
		if (total == 0 || got < 0) {
			if (got >= 0 && niftp_want_output(call->n))
				ts_want_room(call->ts);
			return;
		}
	}
}

/* call_hung_event - events of a connection abandoned by call-hang */
static void call_hung_event(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	(void) arg;
	if (ev->type == TS_EV_DISCONNECT)
		ts_close(c);
}

/* call_settle - do deferred work once no callback is on the stack */
static void call_settle(struct niftp_call *call)
{
	struct ts_conn *ts;

	if (call->depth > 0)
		return;
	call->depth++;
	for (;;) {
		if (call->dead)
			break;
		if (call->cut_wanted && !call->down) {
			call->cut_wanted = 0;
			ts = call->ts;
			call->ts = NULL;
			if (ts != NULL)
				ts_close(ts);	/* abrupt: the peer sees a broken call */
			call_went_down(call, TS_R_TSFAIL, "call cut by a test hook");
			continue;
		}
		if (call->hang_wanted && !call->down) {
			call->hang_wanted = 0;
			ts = call->ts;
			call->ts = NULL;
			if (ts != NULL)
				ts_set_handler(ts, call_hung_event, NULL);
			call_went_down(call, TS_R_TSFAIL, "call abandoned by a test hook");
			continue;
		}
		if (call->abort_wanted && !call->down && call->ts != NULL) {
			call->abort_wanted = 0;
			ts_disconnect(call->ts, call->abort_reason, call->abort_text);
			continue;
		}
		if (call->reset_wanted && call->up && !call->down && !call->resetting
		    && call->ts != NULL) {
			call->reset_wanted = 0;
			call->resetting = 1;
			ts_reset(call->ts, TS_R_LOCALPROC, "test hook call-reset");
			continue;
		}
		if (call->have_start && call->up && !call->down && niftp_idle(call->n)) {
			call->have_start = 0;
			if (niftp_start(call->n, &call->start.req) < 0 && !call->abort_wanted) {
				call->abort_wanted = 1;
				call->abort_reason = TS_R_LOCALPROC;
				str_copy(call->abort_text, "transfer could not start",
				    sizeof(call->abort_text));
			}
			call_start_release(&call->start);
			continue;
		}
		call_pump(call);
		if (call->dead)
			break;
		if (call->hangup && call->up && !call->down && call->ts != NULL
		    && !call->have_start && niftp_idle(call->n)
		    && !niftp_want_output(call->n)) {
			call->hangup = 0;
			ts_disconnect(call->ts, TS_R_NORMAL, "");
			continue;
		}
		/* hooks and aborts raised while pulling output */
		if ((call->cut_wanted || call->hang_wanted) && !call->down)
			continue;
		if (call->abort_wanted && !call->down && call->ts != NULL)
			continue;
		if (call->reset_wanted && call->up && !call->down && !call->resetting
		    && call->ts != NULL)
			continue;
		break;
	}
	call->depth--;
	if (call->dead && call->depth == 0)
		call_destroy(call);
}

/* call_engine_event - pass engine events on; note test hooks */
static void call_engine_event(void *arg, struct niftp *n, const struct niftp_event *ev)
{
	struct niftp_call *call = arg;

	(void) n;
	switch (ev->type) {
	case NIFTP_EV_PROGRESS:
		if (crash_hook("call-reset"))
			call->reset_wanted = 1;
		if (crash_hook("call-cut"))
			call->cut_wanted = 1;
		if (crash_hook("call-hang"))
			call->hang_wanted = 1;
		break;
	case NIFTP_EV_DATA_DONE:
		if (crash_hook("call-cut-after-er"))
			call->cut_wanted = 1;
		break;
	case NIFTP_EV_FAILED:
		if (!call->abort_wanted) {
			call->abort_wanted = 1;
			call->abort_reason = TS_R_REMOTEPROC;
			snprintf(call->abort_text, sizeof(call->abort_text), "%s",
			    ev->reason ? ev->reason : "protocol error");
		}
		break;
	default:
		break;
	}
	if (call->hooks.event != NULL && !call->dead) {
		call->depth++;
		call->hooks.event(call->arg, call, ev);
		call->depth--;
	}
}

/* call_engine_auth - pass the Q auth question on */
static int call_engine_auth(void *arg, const char *user, const char *password,
	const char *caller)
{
	struct niftp_call *call = arg;
	int     rc;

	if (call->hooks.auth == NULL)
		return 0;
	call->depth++;
	rc = call->hooks.auth(call->arg, user, password, caller);
	call->depth--;
	return rc;
}

/* call_engine_docket - pass P docket saves on */
static int call_engine_docket(void *arg, const struct niftp_docket *d)
{
	struct niftp_call *call = arg;
	int     rc;

	if (call->hooks.docket_save == NULL)
		return 0;
	call->depth++;
	rc = call->hooks.docket_save(call->arg, d);
	call->depth--;
	return rc;
}

/* call_ts_event - transport events */
static void call_ts_event(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct niftp_call *call = arg;

	if (call->ts == NULL && !call->down)
		call->ts = c;
	call->depth++;
	switch (ev->type) {
	case TS_EV_INCOMING:
		/* a served call is already accepted; nothing to do */
		break;
	case TS_EV_ACCEPTED:
		if (!call->up && !call->down) {
			call->up = 1;
			call_copy_peer(call);
			if (call->hooks.call != NULL)
				call->hooks.call(call->arg, call, NIFTP_CALL_EV_UP, 0, "");
		}
		break;
	case TS_EV_DATA:
		if (call->down || call->resetting || call->dead)
			break;
		if (ev->len > 0)
			(void) niftp_input(call->n, ev->data, ev->len);
		break;
	case TS_EV_RESET:
		if (call->down || call->dead)
			break;
		if (!ev->confirm && !call->resetting)
			ts_reset(c, ev->reason, "");	/* the answering RESET */
		/* a confirm, or a collision of two RESETs: both mean the
		 * data in flight is gone on both sides from here */
		call->resetting = 0;
		niftp_reset(call->n);
		break;
	case TS_EV_DISCONNECT:
		call_went_down(call, ev->reason, ev->text);
		break;
	case TS_EV_DRAINED:
		break;
	}
	call->depth--;
	call_settle(call);
}

/* call_new - the common part of open and serve */
static struct niftp_call *call_new(struct loop *loop, int role_p,
	const struct niftp_call_hooks *hooks, void *arg)
{
	struct niftp_call *call = xcalloc(1, sizeof(*call));

	call->loop = loop;
	call->role_p = role_p;
	if (hooks != NULL)
		call->hooks = *hooks;
	call->arg = arg;
	buf_init(&call->out, CALL_BATCH);
	return call;
}

/* call_engine_new - create the engine with our hooks in front */
static void call_engine_new(struct niftp_call *call, const struct niftp_config *cfg,
	const struct niftp_fs_ops *fs_ops, void *fs)
{
	struct niftp_hooks eh;

	memset(&eh, 0, sizeof(eh));
	eh.event = call_engine_event;
	eh.auth = call_engine_auth;
	eh.docket_save = call_engine_docket;
	call->n = niftp_new(call->role_p, cfg, &eh, call, fs_ops, fs);
}

/* niftp_call_open - call addr/called as P; NULL with err for a bad address */
struct niftp_call *niftp_call_open(struct loop *loop, const char *addr,
	const char *called, const char *calling, const struct ts_opts *opts,
	const struct niftp_config *cfg, const struct niftp_call_hooks *hooks, void *arg,
	const struct niftp_fs_ops *fs_ops, void *fs, char *err, size_t errlen)
{
	struct niftp_call *call = call_new(loop, 1, hooks, arg);
	struct niftp_config ecfg;
	struct ts_conn *c;

	memset(&ecfg, 0, sizeof(ecfg));
	if (cfg != NULL)
		ecfg = *cfg;
	str_copy(call->peer, addr, sizeof(call->peer));
	call_engine_new(call, &ecfg, fs_ops, fs);
	call->depth++;
	c = ts_connect(loop, addr, called, calling, opts, call_ts_event, call, err, errlen);
	call->depth--;
	if (c == NULL) {
		call->dead = 1;
		call_destroy(call);
		return NULL;
	}
	if (call->ts == NULL && !call->down)
		call->ts = c;
	else if (call->down && call->ts == NULL)
		ts_close(c);	/* cut while connecting: not ours any more */
	if (call->dead) {
		/* the owner freed the call from a callback during connect */
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "call to '%s' ended while connecting", addr);
		call_destroy(call);
		return NULL;
	}
	call_settle(call);
	return call;
}

/* call_identity - the Q caller identity (see DESCRIPTION) */
static void call_identity(struct niftp_call *call, const struct niftp_config *cfg)
{
	const char *calling = ts_calling(call->ts);
	const char *peer = ts_peer(call->ts);
	enum ts_kind kind;
	char   *colon;

	if (cfg != NULL && cfg->caller != NULL && *cfg->caller != '\0') {
		str_copy(call->caller, cfg->caller, sizeof(call->caller));
		return;
	}
	if (ts_conn_kind(call->ts) != TS_RAWTCP && calling != NULL && *calling != '\0') {
		str_copy(call->caller, calling, sizeof(call->caller));
		return;
	}
	str_copy(call->caller, peer ? peer : "", sizeof(call->caller));
	/* "127.0.0.1:4521" or "[::1]:4521": drop the port */
	kind = ts_conn_kind(call->ts);
	if ((kind == TS_TCP || kind == TS_RAWTCP)
	    && (colon = strrchr(call->caller, ':')) != NULL
	    && (call->caller[0] != '[' || (colon > call->caller && colon[-1] == ']')))
		*colon = '\0';
}

/* niftp_call_serve - serve an accepted incoming ts_conn as Q (takes it over) */
struct niftp_call *niftp_call_serve(struct loop *loop, struct ts_conn *c,
	const struct niftp_config *cfg, const struct niftp_call_hooks *hooks, void *arg,
	const struct niftp_fs_ops *fs_ops, void *fs)
{
	struct niftp_call *call = call_new(loop, 0, hooks, arg);
	struct niftp_config ecfg;

	call->ts = c;
	call->up = 1;
	call_copy_peer(call);
	call_identity(call, cfg);
	memset(&ecfg, 0, sizeof(ecfg));
	if (cfg != NULL)
		ecfg = *cfg;
	ecfg.caller = call->caller;
	call_engine_new(call, &ecfg, fs_ops, fs);
	ts_set_handler(c, call_ts_event, call);
	return call;
}

/* niftp_call_start - P: start a transfer (now, or when the call is up) */
int niftp_call_start(struct niftp_call *call, const struct niftp_req *req)
{
	if (call->down || call->dead || call->have_start)
		return -1;
	if (call->up && call->depth == 0 && niftp_idle(call->n)) {
		call->depth++;
		if (niftp_start(call->n, req) < 0) {
			call->depth--;
			return -1;
		}
		call->depth--;
		call_settle(call);
		return 0;
	}
	/* before ACCEPT, or from inside a callback: start at settle */
	call_start_copy(&call->start, req);
	call->have_start = 1;
	call_settle(call);
	return 0;
}

/* niftp_call_hangup - end the call normally (after the current transfer) */
void niftp_call_hangup(struct niftp_call *call)
{
	if (call->down || call->dead)
		return;
	if (!call->up) {
		/* not accepted yet: nothing to finish, just go */
		call->abort_wanted = 1;
		call->abort_reason = TS_R_NORMAL;
		call->abort_text[0] = '\0';
	} else
		call->hangup = 1;
	call_settle(call);
}

/* niftp_call_abort - end the call now with a reason (DISCONNECT) */
void niftp_call_abort(struct niftp_call *call, int reason, const char *text)
{
	if (call->down || call->dead)
		return;
	call->abort_wanted = 1;
	call->abort_reason = reason;
	str_copy(call->abort_text, text ? text : "", sizeof(call->abort_text));
	call_settle(call);
}

/* niftp_call_kick - pull engine output now (after a late filestore answer) */
void niftp_call_kick(struct niftp_call *call)
{
	call_settle(call);
}

/* niftp_call_free - free (disconnecting abruptly if still up) */
void niftp_call_free(struct niftp_call *call)
{
	if (call == NULL)
		return;
	call->dead = 1;
	if (call->depth == 0)
		call_destroy(call);
}

/* niftp_call_engine - the engine */
struct niftp *niftp_call_engine(struct niftp_call *call)
{
	return call->n;
}

/* niftp_call_ts - the transport call (NULL once it was cut) */
struct ts_conn *niftp_call_ts(struct niftp_call *call)
{
	return call->ts;
}

/* niftp_call_peer - printable peer */
const char *niftp_call_peer(const struct niftp_call *call)
{
	return call->peer;
}
