/*++
 * NAME
 *	qenv 3h
 * SUMMARY
 *	mailrelayd: envelopes, their records and results
 * SYNOPSIS
 *	#include "relay/qenv.h"
 * DESCRIPTION
 *	The data of the queue core (relay/queue.h): a queued letter, its
 *	envelopes (one per next hop, or the local deliveries), their
 *	recipients, what a channel reports for one try, and the two record
 *	formats of an envelope (relay/rec.h records, every value escaped):
 *
 *	The envelope file queue/NAME_f_HOP or queue/NAME_l, written once:
 *	"niftpmail-envelope 1", letter, hop, calling, first, then per
 *	recipient rcpt, orig and, when set, mailbox and owner.
 *
 *	The envelope docket "env ENVELOPE", replaced at each change:
 *	attempts, next, warned, error, finished, one "done I" per recipient
 *	decided, then the lines of the envelope's channel (relay/channel.h),
 *	which the queue keeps as they are until the channel reads them.
 *
 *	The parsers are pure (no spool, no daemon): a fuzzer drives them.
 * DIAGNOSTICS
 *	The parsers reject a malformed record with err ("line N: ...",
 *	"unknown key 'x'", "'hop' repeated", "incomplete envelope (no
 *	recipient)") instead of guessing.
 *--*/
#ifndef RELAY_QENV_H
#define RELAY_QENV_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct channel_ops;

#define QUEUE_ENV_MAX	(32 * 1024 * 1024)	/* largest envelope file */
#define QUEUE_ENV_REC	(64 * 1024 - 1024)	/* longest envelope record (a longer one is
						 * a file; SPOOL_DOCKET_MAX less a margin) */
#define QUEUE_DOCKET_MAX (1024 * 1024)		/* largest envelope docket */
#define QUEUE_REASON_MAX 1024			/* longest reason kept per envelope */
#define QUEUE_CALLING_MAX 400			/* longest calling address kept */

/* One recipient of an envelope. */
struct qrcpt {
	char   *addr;		/* forward: rewritten address; local: address as routed */
	char   *orig;		/* the recipient as it stood in the letter */
	char   *owner;		/* list owner (where errors go) or NULL */
	char   *mailbox;	/* local: mailbox name, else NULL */
	int	done;		/* delivered, forwarded or failed already */
};

/* A routed letter in queue/: the message store of its envelopes. */
struct qletter {
	struct qletter *hnext;	/* hash chain */
	char   *calling;	/* who sent it to us (return path), NULL: unknown */
	char   *dead_reason;	/* NULL until a NAME_d marker exists */
	int	nenv;		/* envelopes in the queue in memory */
	int	leaving;	/* envelopes whose final transaction is in flight:
				 * the letter ends only after the last of them */
	int	dead;		/* a NAME_d marker exists */
	unsigned mark;		/* scratch for passes over the queue */
	struct qenv *envs;	/* its envelopes in the queue (qenv.lnext): an
				 * action on one letter of 100,000 does not
				 * walk them all */
	char	name[];		/* the spool name */
};

/* An intrusive list of envelopes (the scheduler's soon list, a channel's
 * per-hop lists). An envelope is in at most one at a time. */
struct qenvq {
	struct qenv *head;
	struct qenv *tail;
	size_t	n;
};

enum qenv_state {
	QENV_QUEUED,
	QENV_ACTIVE,
	QENV_LEAVING,
	QENV_FINISHED,
};

struct qenv {
	struct qenv *next, *prev;	/* every envelope */
	struct qenv *lnext, *lprev;	/* the envelopes of its letter (qletter.envs) */
	struct qenv *qnext, *qprev;	/* in *q */
	struct qenvq *q;		/* the list e waits in, or NULL */
	struct qletter *l;
	char   *name;			/* queue/ file */
	char   *hop;			/* next hop name, "local" */
	struct qrcpt *rcpts;
	size_t	nrcpts;
	time_t	first;			/* arrival of the letter */
	time_t	next_try;
	char   *error;			/* last error, NULL: none */
	unsigned attempts;
	int	local;			/* the local deliveries */
	int	efile;			/* its fixed part is the file queue/NAME (too long
					 * for a record, or not yet converted) */
	int	warned;			/* "still trying" sent */
	enum qenv_state state;
	int	saving;			/* docket saves of its own in flight */
	int	result_wait;		/* a final result waits for those saves */
	struct qresult *pending;	/* that result (copied) */
	const struct channel_ops *ch;	/* its channel, once bound (queue_env_channel) */
	void   *chself;			/* that channel's instance */
	char   *chsaved;		/* the channel's docket lines until it is bound */
	void   *cs;			/* the channel's state (its own) */
};

/* What a channel reports for one recipient. */
enum qoutcome {
	QOUT_DONE,		/* forwarded, or delivered (mailbox set) */
	QOUT_DEFER,		/* try again later: reason */
	QOUT_FAIL,		/* failed for good: reason (an NDN goes back) */
	QOUT_SKIP,		/* not tried (done already): no change */
};

struct qrcpt_result {
	enum qoutcome what;
	const char *reason;	/* DEFER, FAIL: why */
	const char *mailbox;	/* DONE by local delivery: the file delivered */
};

/* The result of one try of an envelope. The strings are borrowed for
 * the call (queue_result copies what it keeps). */
struct qresult {
	struct qrcpt_result *rcpt;	/* nrcpt entries, or NULL: all as `all` */
	size_t	nrcpt;			/* e->nrcpts */
	enum qoutcome all;		/* when rcpt is NULL */
	const char *reason;		/* when rcpt is NULL (DEFER, FAIL) */
	const char *remote;		/* the name the next hop assigned, or NULL */
	const char *via;		/* the address that carried it, or NULL */
	const char *const *kv;		/* more key/value pairs for the forwarded line */
	size_t	nkv;
};

/* qenv_new - a new envelope for hop ("local": local deliveries) of
 * letter `letter`, not yet in the queue */
struct qenv *qenv_new(const char *letter, const char *hop, int local, time_t now);
/* qenv_add_rcpt - append a recipient (strings copied; orig NULL: addr) */
void qenv_add_rcpt(struct qenv *e, const char *addr, const char *orig, const char *owner,
	const char *mailbox);
/* qenv_free - free an envelope that is not in the queue */
void qenv_free(struct qenv *e);
/* qenv_rcpts_text - the recipients' addresses joined by ',' (new memory) */
char *qenv_rcpts_text(const struct qenv *e);
/* qenv_error - e's last error, "" when none */
const char *qenv_error(const struct qenv *e);
/* qenv_busy - 1 when something works on e (a channel, a save, its end) */
int  qenv_busy(const struct qenv *e);
/* qenv_file_text - the envelope file of e (a letter's envelope) into b;
 * 0, or -1 when b's cap is passed */
int  qenv_file_text(const struct qenv *e, const char *letter, const char *calling,
	struct buf *b);
/* qenv_file_parse - an envelope file of len octets: a new envelope (no
 * name, not in a queue) with its letter's name (llen >= SPOOL_NAMELEN)
 * and calling address ("" when none; clen >= QUEUE_CALLING_MAX); NULL
 * with err when malformed */
struct qenv *qenv_file_parse(const char *text, size_t len, char *letter, size_t llen,
	char *calling, size_t clen, char *err, size_t errlen);
/* qenv_docket_text - e's docket (its channel's lines from e->ch's
 * env_save(e->chself, ...), or e->chsaved when not bound) into b */
void qenv_docket_text(const struct qenv *e, struct buf *b);
/* qenv_docket_parse - apply a docket of len octets to e (parsed from its
 * envelope file): the queue's fields set, the other lines kept in
 * e->chsaved, *finished set. 0, or -1 with err (e may be half set: the
 * caller drops it) */
int  qenv_docket_parse(struct qenv *e, const char *text, size_t len, int *finished,
	char *err, size_t errlen);

/* qresult_copy - a deep copy of r; qresult_free - free a copy */
struct qresult *qresult_copy(const struct qresult *r);
void qresult_free(struct qresult *r);

/*
 * Envelope lists
 */

/* qenvq_add - e at the tail of l (taken out of its list first) */
void qenvq_add(struct qenvq *l, struct qenv *e);
/* qenvq_del - e out of its list, if any */
void qenvq_del(struct qenv *e);

#endif
