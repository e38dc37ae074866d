/*++
 * NAME
 *	relayd 3h
 * SUMMARY
 *	mailrelayd internals: the node, its receive side, queue and channels
 * SYNOPSIS
 *	#include "relay/relayd.h"
 * DESCRIPTION
 *	Not a library contract: the parts of mailrelayd share this header.
 *	relayd.c        start-up, listeners, signals, control socket, readiness
 *	relayd_recv.c   the spool-backed NIFTP filestore (server side)
 *	relayd_queue.c  routing, envelopes, retries, local delivery, notices
 *	relayd_fwd.c    the niftp channel (donor side, dockets, resumption)
 *	Everything runs on the loop thread except jobs on rd->wq, which
 *	touch only their own job structure. doc/relay.md describes the
 *	spool layout, the journal events and the protocols.
 *--*/
#ifndef RELAY_RELAYD_H
#define RELAY_RELAYD_H

#include <stdint.h>
#include <time.h>

#include "niftp/niftp.h"
#include "niftp/niftp_call.h"
#include "relay/conf.h"
#include "spool/spool.h"

struct loop;
struct workq;
struct rcall;
struct rletter;
struct renv;
struct rhop;
struct ctlconn;
struct claim_job;
struct claim_wait;

#define RELAYD_ERRLEN	1024
#define RELAYD_ENVLEN	SPOOL_NAMELEN

/* Exit codes (DESIGN section 2). */
#define RX_OK		0
#define RX_OTHER	1
#define RX_USAGE	64
#define RX_DATAERR	65
#define RX_UNAVAIL	69
#define RX_TEMPFAIL	75
#define RX_CONFIG	78

/* One recipient of an envelope. */
struct rrcpt {
	char   *addr;		/* forward: rewritten address; local: address as routed */
	char   *orig;		/* the recipient as it stood in the letter */
	char   *owner;		/* list owner (where errors go) or NULL */
	char   *mailbox;	/* local: mailbox name */
	int	done;		/* local: delivered or failed already */
};

/* A routed letter in queue/: the message store of its envelopes. Kept
 * small (one per queued letter): the letter itself stays on disk. */
struct rletter {
	struct rletter *hnext;	/* hash chain (rd->ltab) */
	char   *calling;	/* who sent it to us (return path), NULL: unknown */
	char   *dead_reason;	/* NULL until a NAME_d marker exists */
	int	nenv;		/* envelopes not yet removed */
	int	dead;		/* a NAME_d marker exists */
	unsigned mark;		/* relayd_retry_by(): journalled in this pass */
	char	name[];		/* the spool name */
};

/* A queue of envelopes (intrusive, doubly linked): the soon list of the
 * scheduler, the per-hop waiting lists of relayd_fwd.c. An envelope is
 * in at most one at a time. */
struct renvq {
	struct renv *head;
	struct renv *tail;
	size_t	n;
};

/* An envelope: one copy for one next hop, or the local deliveries.
 * One small record per queued envelope; the strings that only a
 * transfer or an error needs are allocated when set (NULL otherwise). */
struct renv {
	struct renv *next, *prev;	/* rd->envs */
	struct renv *qnext, *qprev;	/* in *q */
	struct renvq *q;		/* the queue e waits in, or NULL */
	struct rletter *l;
	char   *name;			/* queue/ file */
	char   *hop;			/* next hop name, "local" */
	struct rrcpt *rcpts;
	size_t	nrcpts;
	time_t	first;			/* arrival of the letter */
	time_t	next_try;
	char   *error;			/* last error, NULL: none */
	unsigned attempts;
	unsigned char local;
	unsigned char warned;
	unsigned char busy;		/* a call, job or transaction works on it */
	unsigned char finishing;	/* leaving the queue */
	unsigned char copy;		/* niftp copy identity fixed (tid held) */
	unsigned char have_dk;		/* dk holds a resumable NIFTP docket */
	unsigned char fwd_done;		/* finished line durable: only clean-up left */
	unsigned char fwd_wait;		/* STOPACK seen, waits for docket saves */
	int	saving;			/* docket saves of their own in flight */
	/* niftp copy identity (fixed when first sent) */
	uint16_t tid;
	uint32_t crc;
	uint64_t size;
	uint64_t hoff;
	struct niftp_docket *dk;	/* allocated with have_dk */
	char   *remote;			/* name the next hop assigned, NULL */
	char   *via_addr;		/* address of the call that carried it */
};

/* env_error - e's last error, "" when none */
static inline const char *env_error(const struct renv *e)
{
	return e->error ? e->error : "";
}

struct relayd {
	struct loop *loop;
	struct workq *wq;
	struct spool *sp;
	struct conf *conf;		/* current configuration */
	const char *conf_path;
	int	stdio_mode;		/* --stdio: one call, no queue work */
	int	foreground;
	struct ts_listener *ls[CONF_MAX_LISTEN + 1];
	int	nls;
	/* incoming calls */
	struct rcall *rcalls;
	int	nrcalls;
	/* the queue */
	struct rletter **ltab;		/* letters by name (hash, chained) */
	size_t	ltab_size;		/* a power of two */
	size_t	nletters;
	struct renv *envs;		/* every envelope (doubly linked) */
	struct renvq soon;		/* envelopes to look at now */
	char  **notices;		/* notices to route once in in/ */
	size_t	nnotices;
	struct rhop *hops;
	uint64_t sched_timer;
	int	sched_soon;
	int64_t	last_full;		/* last full scheduler pass (loop ms) */
	uint64_t soon_timer;
	int	inotify_fd;
	int64_t	last_out_scan;
	int64_t	last_prune;
	/* control socket */
	int	ctl_fd;
	struct ctlconn *ctls;
	/* stopping */
	int	stopping;
	int	stop_now;
	int64_t	stop_deadline;
	int	sig_pipe[2];
	int	jobs;			/* workq jobs whose done() has not run */
	struct claim_job *claims;	/* drops being read on a worker */
	int	nclaims;		/* how many (at most CLAIMS_MAX) */
	struct claim_wait *cpend;	/* claims asked while at the limit (FIFO) */
	size_t	cpend_head, cpend_n;
	/* operator route overrides (mailctl reroute; SPOOL/reroute) */
	struct reroute *rr;
	size_t	nrr;
};

/* An operator's route override for a next hop: one NIFTP alternate. */
struct reroute {
	char   *hop;		/* next hop name (lower case) */
	char   *route;		/* as given: "niftp ADDR [CALLED]" */
	char   *addr;		/* the TS address to call */
	char   *called;		/* called address, NULL: the default */
};

/* relayd_recv.c */
/* relayd_serve_conn - an accepted incoming call: serve it as Q */
void relayd_serve_new(struct relayd *rd, struct ts_listener *l, struct ts_conn *c);
/* relayd_recv_busy - incoming calls or commits in progress */
int  relayd_recv_busy(const struct relayd *rd);
/* relayd_recv_stop - end calls between transfers (all when now) */
void relayd_recv_stop(struct relayd *rd, int now);

/* relayd_queue.c */
/* relayd_queue_start - load queue/ and route in/ (start-up); 0 or -1 */
int  relayd_queue_start(struct relayd *rd, char *err, size_t errlen);
/* relayd_route_letter - route in/NAME now (after a commit or claim) */
void relayd_route_letter(struct relayd *rd, const char *name);
/* relayd_schedule - run the scheduler soon (a full pass over the queue,
 * at most every SCHED_MIN_MS) */
void relayd_schedule(struct relayd *rd);
/* env_kick - look at e soon (start it when due, remove it when done) */
void env_kick(struct relayd *rd, struct renv *e);
/* envq_add, envq_del - put e at the tail of q, take e out of its queue */
void envq_add(struct renvq *q, struct renv *e);
void envq_del(struct renv *e);
/* env_set_dk - e's resumable NIFTP docket is d (NULL: none) */
void env_set_dk(struct renv *e, const struct niftp_docket *d);
/* env_set_str - replace *sp with a copy of s (NULL or "": none) */
void env_set_str(char **sp, const char *s);
/* relayd_pickup - scan out/ now (force: take files regardless of age) */
void relayd_pickup(struct relayd *rd, int force);
/* relayd_retry - make envelopes of letter name (NULL: all) due now;
 * returns the number made due */
int  relayd_retry(struct relayd *rd, const char *name);
/* relayd_retry_by - relayd_retry() for the operator user: journals
 * "retry NAME by=USER" for each letter made due; returns the number of
 * envelopes made due */
int  relayd_retry_by(struct relayd *rd, const char *name, const char *user);
/* relayd_letter_op - operator action op ("hold": queue/ to hold/,
 * "release": hold/ to queue/, due now, "delete": queue/ or hold/ to
 * dead/) on letter name and its envelopes, one spool transaction
 * journalled with by=USER; cb(arg, ok, err) once durable. 0, or -1 with
 * err (nothing done: no such letter, or a transfer in progress). */
int  relayd_letter_op(struct relayd *rd, const char *op, const char *name, const char *user,
	void (*cb)(void *arg, int ok, const char *err), void *cb_arg, char *err, size_t errlen);
/* relayd_letter_bounce - "bounce NAME [REASON]": the pending recipients
 * of queued letter name fail with reason (NULL: "returned by operator"),
 * one NDN to the sender, envelopes and letter removed in the same
 * transaction as the journal lines (failed, ndn with by=user); cb once
 * durable. 0, or -1 with err (nothing done) */
int  relayd_letter_bounce(struct relayd *rd, const char *name, const char *reason,
	const char *user, void (*cb)(void *arg, int ok, const char *err), void *cb_arg,
	char *err, size_t errlen);
/* relayd_letter_forward - "forward NAME ADDRESS": the pending recipients
 * of queued letter name are replaced by address (routed as usual; new
 * envelopes committed, old ones removed, journal "forwarded-by-operator
 * NAME to=ADDRESS rcpts=OLD hops=HOPS by=USER", one transaction); cb
 * once durable. 0, or -1 with err (nothing done) */
int  relayd_letter_forward(struct relayd *rd, const char *name, const char *address,
	const char *user, void (*cb)(void *arg, int ok, const char *err), void *cb_arg,
	char *err, size_t errlen);
/* relayd_queue_busy - queue work in flight (transactions, jobs, calls) */
int  relayd_queue_busy(const struct relayd *rd);
/* relayd_queue_free - free the in-memory queue (at exit) */
void relayd_queue_free(struct relayd *rd);
/* relayd_claim - take out/FILE into in/ (or corrupt/) with its received
 * line; cb (may be NULL) hears the outcome with the assigned name. 0, or
 * -1 with err (errno ENOENT: the file was taken meanwhile). */
int  relayd_claim(struct relayd *rd, const char *file,
	void (*cb)(void *arg, int ok, const char *name, const char *err), void *cb_arg,
	char *err, size_t errlen);
/* relayd_received_line - add the received journal line of a letter */
struct letter;
void relayd_received_line(struct spool_txn *t, const char *name, const char *from,
	const char *calling, const char *tid, const char *donor, uint64_t size, uint32_t crc,
	struct letter *lt);
/* relayd_queue_list - one line per envelope and unrouted letter */
struct buf;
void relayd_queue_list(struct relayd *rd, struct buf *out);
/* relayd_queue_list_dir - the same from the spool directory alone,
 * read-only (no daemon); 0, or -1 with err when the spool is unreadable */
int  relayd_queue_list_dir(const char *spool, struct buf *out, char *err, size_t errlen);

/* env_save - write e's docket (and journal lines kv, if any) in t, or
 * in a transaction of its own when t is NULL */
void env_save(struct relayd *rd, struct renv *e, struct spool_txn *t);
/* env_deferred - a try of e failed temporarily: journal, back off */
void env_deferred(struct relayd *rd, struct renv *e, const char *reason);
/* env_failed - every recipient of e failed permanently (NDN) */
void env_failed(struct relayd *rd, struct renv *e, const char *reason);
/* env_forwarded - STOPACK for e: the forwarded line and the removal
 * of e (and, with the last envelope, of its letter) in one transaction */
void env_forwarded(struct relayd *rd, struct renv *e);
/* env_rcpts_text - recipients joined by ',' (new memory) */
char *env_rcpts_text(const struct renv *e);

/* relayd_fwd.c: the niftp channel */
/* relayd_fwd_start - try to send envelope e now; 0 started or queued, -1 cannot */
int  relayd_fwd_start(struct relayd *rd, struct renv *e);
/* relayd_fwd_busy - outgoing calls alive */
int  relayd_fwd_busy(const struct relayd *rd);
/* relayd_fwd_stop - end idle calls; now: abort all */
void relayd_fwd_stop(struct relayd *rd, int now);
/* relayd_fwd_free - free per-hop state */
void relayd_fwd_free(struct relayd *rd);
/* relayd_fwd_hold - e (loaded at start-up) holds its transfer id */
void relayd_fwd_hold(struct relayd *rd, struct renv *e);
/* relayd_reroute_load - read SPOOL/reroute (at start-up); 0, or -1
 * with err (a malformed line is logged and skipped) */
int  relayd_reroute_load(struct relayd *rd, char *err, size_t errlen);
/* relayd_reroute_set - override the route of next hop host with route
 * ("niftp ADDR [CALLED]"; NULL: clear), written durably to
 * SPOOL/reroute, journalled "reroute HOST route=... by=USER" or
 * "reroute-cleared HOST by=USER"; the hop's envelopes are made due. 0,
 * or -1 with err (nothing changed) */
int  relayd_reroute_set(struct relayd *rd, const char *host, const char *route,
	const char *user, char *err, size_t errlen);
/* relayd_reroute_list - "HOST ROUTE" per override */
void relayd_reroute_list(const struct relayd *rd, struct buf *out);
/* relayd_fwd_release - e's docket is resolved (removed durably) or its
 * copy was never stored: its transfer id is free again */
void relayd_fwd_release(struct relayd *rd, const char *hop, uint16_t tid);

/* relayd.c */
/* relayd_job_done - bookkeeping of rd->jobs */
void relayd_job(struct relayd *rd, int delta);
/* relayd_ready_write - (re)write SPOOL/ready */
void relayd_ready_write(struct relayd *rd);

#endif
