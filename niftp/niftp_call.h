/*++
 * NAME
 *	niftp_call 3h
 * SUMMARY
 *	an NIFTP engine bound to a transport-service call on an event loop
 * SYNOPSIS
 *	#include "niftp/niftp_call.h"
 * DESCRIPTION
 *	The glue every program uses: it moves octets between a ts_conn and
 *	a struct niftp, pulls engine output only while the transport has
 *	room (so a slow peer slows the file reading, not memory), answers
 *	transport RESETs (the data receiver then asks RR from its last
 *	mark), and turns a lost call into niftp_lost().
 *
 *	Outgoing (P): niftp_call_open() places the call; transfers are
 *	started with niftp_call_start() (queued until ACCEPT). Incoming (Q):
 *	niftp_call_serve() takes a ts_conn already accepted by the program.
 *
 *	Engine events are passed through to hooks->event; the call adds
 *	NIFTP_CALL_EV_UP (accepted) and NIFTP_CALL_EV_DOWN (the call ended:
 *	reason text names the peer). After NIFTP_CALL_EV_DOWN the owner
 *	calls niftp_call_free(), which is safe from inside the callback.
 *--*/
#ifndef NIFTP_NIFTP_CALL_H
#define NIFTP_NIFTP_CALL_H

#include "niftp/niftp.h"
#include "niftp/ts.h"

struct loop;
struct niftp_call;

enum niftp_call_ev { NIFTP_CALL_EV_UP, NIFTP_CALL_EV_DOWN };

struct niftp_call_hooks {
	/* engine events (see niftp.h); n is the call's engine */
	void	(*event)(void *arg, struct niftp_call *call, const struct niftp_event *ev);
	/* call events: UP, or DOWN with a TS reason code and text */
	void	(*call)(void *arg, struct niftp_call *call, enum niftp_call_ev ev,
			int reason, const char *text);
	/* Q: auth, P: docket_save, as in struct niftp_hooks (may be NULL) */
	int	(*auth)(void *arg, const char *user, const char *password, const char *caller);
	int	(*docket_save)(void *arg, const struct niftp_docket *d);
};

/* niftp_call_open - call addr/called as P; NULL with err for a bad address */
struct niftp_call *niftp_call_open(struct loop *loop, const char *addr,
	const char *called, const char *calling, const struct ts_opts *opts,
	const struct niftp_config *cfg, const struct niftp_call_hooks *hooks, void *arg,
	const struct niftp_fs_ops *fs_ops, void *fs, char *err, size_t errlen);
#define NIFTP_CALLER_MAX	1100	/* a caller identity for dockets (a calling address of up
				 * to YB_MAX_PARAM octets, or a peer address), NUL included */

/* niftp_call_serve - serve an accepted incoming ts_conn as Q (takes it over);
 * the caller identity for dockets is the calling address, or for rawtcp the
 * peer address, unless cfg->caller is set */
struct niftp_call *niftp_call_serve(struct loop *loop, struct ts_conn *c,
	const struct niftp_config *cfg, const struct niftp_call_hooks *hooks, void *arg,
	const struct niftp_fs_ops *fs_ops, void *fs);
/* niftp_call_start - P: start a transfer (now, or when the call is up) */
int  niftp_call_start(struct niftp_call *call, const struct niftp_req *req);
/* niftp_call_hangup - end the call normally (after the current transfer) */
void niftp_call_hangup(struct niftp_call *call);
/* niftp_call_abort - end the call now with a reason (DISCONNECT) */
void niftp_call_abort(struct niftp_call *call, int reason, const char *text);
/* niftp_call_free - free (disconnecting abruptly if still up) */
void niftp_call_free(struct niftp_call *call);
/* niftp_call_kick - pull engine output now: call it after a filestore
 * answered late (niftp_open_done, niftp_commit_done from a worker's
 * completion), so RPOS or ER goes out without waiting for other events */
void niftp_call_kick(struct niftp_call *call);
/* niftp_call_engine, niftp_call_ts - the parts */
struct niftp *niftp_call_engine(struct niftp_call *call);
struct ts_conn *niftp_call_ts(struct niftp_call *call);
/* niftp_call_peer - printable peer */
const char *niftp_call_peer(const struct niftp_call *call);

#endif
