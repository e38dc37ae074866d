/*++
 * NAME
 *	queue 3h
 * SUMMARY
 *	mailrelayd: the queue core (letters, envelopes, their persistence,
 *	results)
 * SYNOPSIS
 *	#include "relay/queue.h"
 * DESCRIPTION
 *	A routed letter lives in queue/NAME (its message store: the one
 *	file of a letter) with one envelope per next hop, named NAME_f_HOP
 *	for a copy to forward and NAME_l for the local deliveries. An
 *	envelope's fixed part (letter, hop, calling, first, and per
 *	recipient rcpt/orig/mailbox/owner, relay/rec.h records, every value
 *	escaped) is the spool record "envf ENVELOPE", written once in the
 *	transaction that queues the letter (one too long for a record, over
 *	63 KiB, is the file queue/ENVELOPE). The changing state of an
 *	envelope (attempts, next try, warned, last error, recipients done,
 *	and the channel's own saved state) is the record "env ENVELOPE",
 *	replaced in the transaction of each change. A letter whose failure
 *	could not be returned has the record "dead LETTER". Envelope files
 *	and queue/LETTER_d markers of an older version are converted into
 *	records at start-up. A reader rejects a malformed envelope or record
 *	(the envelope is then left alone and logged) instead of guessing.
 *
 *	The queue knows no channel. An envelope is handed to its channel
 *	(relay/channel.h) by the scheduler; the channel answers with
 *	queue_result(): per recipient done, deferred or failed with a
 *	reason, the name the next hop assigned. One spool transaction then
 *	holds the journal lines (forwarded, delivered, failed, ndn,
 *	deferred), the non-delivery notices, and either the envelope's new
 *	docket or its removal (with its channel's files and, with the last
 *	envelope, the letter, or its move to dead/ when a failure could not
 *	be returned). An envelope is in exactly one state:
 * .IP QENV_QUEUED
 *	waiting: not due yet, or due and not yet taken by its channel
 * .IP QENV_ACTIVE
 *	its channel (or an operator action) works on it, or holds it until
 *	its turn comes (a channel may give such an envelope back to an
 *	operator action: queue_letter_take_back())
 * .IP QENV_LEAVING
 *	its final transaction is in flight; it is gone from memory once it
 *	completes
 * .IP QENV_FINISHED
 *	loaded with a docket that says "finished" (written by an older
 *	version between its two steps): only its removal is left
 * .PP
 *	Struct qletter and struct qenv (relay/qenv.h) are read by the other
 *	relay modules; only the queue writes them, except e->cs (the
 *	channel's) and next_try (the scheduler, operator retries).
 *
 *	Threading: loop thread only.
 * DIAGNOSTICS
 *	Functions that can fail return -1 with err ("envelope 'queue/X':
 *	...", "spool: ..."). Failed transactions are logged with the
 *	letter's name; the spool undoes them, and the envelope is loaded
 *	again from disk and tried after the first back-off.
 *--*/
#ifndef RELAY_QUEUE_H
#define RELAY_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct channel_ops;
struct relayd;
struct spool_txn;
struct queue;

#include "relay/qenv.h"

/*
 * Life cycle
 */

/* queue_new - the queue of node rd (empty); queue_free at exit */
struct queue *queue_new(struct relayd *rd);
void queue_free(struct queue *q);

/* queue_load - start-up: load every envelope of queue/ (and its docket),
 * finish what a crash left half done, and give the channels their
 * recover() call. 0, or -1 with err when queue/ cannot be read. */
int  queue_load(struct queue *q, char *err, size_t errlen);

/* queue_busy - transactions of the queue in flight */
int  queue_busy(const struct queue *q);

/*
 * Letters and envelopes
 */

/* queue_letter - the queued letter name, or NULL */
struct qletter *queue_letter(const struct queue *q, const char *name);
/* queue_first, queue_next - every envelope (in no particular order);
 * an envelope may leave the list while it is walked only after
 * queue_next() was taken from it */
struct qenv *queue_first(const struct queue *q);
struct qenv *queue_next(const struct qenv *e);
/* queue_new_mark - a value for qletter.mark no letter holds yet (a pass
 * over the queue that touches each letter once) */
unsigned queue_new_mark(struct queue *q);
/* queue_count - envelopes and letters in memory */
size_t queue_count(const struct queue *q, size_t *nletters);


/* queue_env_commit - add e's fixed part (letter's calling address
 * calling) to t: its record, or its file when too long; 0, or -1
 * (logged; t unchanged) */
int  queue_env_commit(struct queue *q, struct spool_txn *t, struct qenv *e,
	const char *calling);
/* queue_env_added - the transaction that committed e (and letter, now in
 * queue/) completed: e joins the queue and is looked at soon */
void queue_env_added(struct queue *q, const char *letter, struct qenv *e);
/* queue_env_load - load envelope queue/NAME (start-up, release); 0, or
 * -1 (logged) when it is left alone */
int  queue_env_load(struct queue *q, const char *name);
/* queue_env_due - make e due at t (0: now) */
void queue_env_due(struct queue *q, struct qenv *e, time_t t);
/* queue_env_channel - the channel of e (bound on first use: its saved
 * lines are handed to it), or NULL with err: no route for its next hop
 * now, or its saved state is malformed */
const struct channel_ops *queue_env_channel(struct queue *q, struct qenv *e, char *err,
	size_t errlen);
/* queue_env_start - hand e (QENV_QUEUED, due, not busy) to its channel;
 * 0, 1 when its channel is passive and e is ready to be collected (e
 * unchanged: it waits for its peer), or -1 with err (e unchanged) */
int  queue_env_start(struct queue *q, struct qenv *e, char *err, size_t errlen);
/* queue_env_passive - 1 when e's next hop collects its letters (pull) */
int  queue_env_passive(struct queue *q, const struct qenv *e);

/* queue_env_save - write e's docket (the queue's fields and its
 * channel's lines) in t, or in a transaction of its own when t is NULL
 * (counted in e->saving: a final result waits for it) */
void queue_env_save(struct queue *q, struct qenv *e, struct spool_txn *t);

/* queue_result - the one answer of e's channel for this try (e must be
 * QENV_ACTIVE). See DESCRIPTION. */
void queue_result(struct queue *q, struct qenv *e, const struct qresult *r);
/* queue_requeue - the channel gives e back untried: due at once, no
 * attempt counted (e.g. a copy to be sent afresh, another alternate) */
void queue_requeue(struct queue *q, struct qenv *e);
/* queue_give_up - the scheduler: every pending recipient of e fails
 * with reason (e must be QENV_QUEUED) */
void queue_give_up(struct queue *q, struct qenv *e, const char *reason);
/* queue_warn - the scheduler: e is old: send its "still trying" notice
 * once (e must be QENV_QUEUED) */
void queue_warn(struct queue *q, struct qenv *e);
/* queue_env_remove - remove a QENV_FINISHED envelope */
void queue_env_remove(struct queue *q, struct qenv *e);

/* queue_env_exists - 1 when envelope ename (NAME_f_HOP, NAME_l) is stored */
int  queue_env_exists(struct queue *q, const char *ename);

/* queue_letter_drop_records - add to t the removal of every record of
 * letter name (its envelopes' fixed parts and states, its dead marker) */
void queue_letter_drop_records(struct queue *q, struct spool_txn *t, const char *name);

/* queue_dead_marker - add to t the record "dead LETTER": a failure of letter could
 * not be returned (the letter goes to dead/ with reason when its last
 * envelope leaves); 0, or -1 (logged) */
int  queue_dead_marker(struct queue *q, struct spool_txn *t, const char *letter,
	const char *reason);
/* queue_letter_mark_dead - after that transaction: the queued letter's
 * marker exists */
void queue_letter_mark_dead(struct queue *q, const char *letter, const char *reason);

/*
 * Operator actions (relay/ops.c)
 */

/* queue_letter_busy - 1 (with err) when an envelope of l is busy */
int  queue_letter_busy(const struct queue *q, const struct qletter *l, char *err,
	size_t errlen);
/* queue_letter_take_back - queue_letter_busy(), but the envelopes of l
 * that their channel holds without carrying them yet are asked back
 * first (channel take_back(): a letter waiting for a call slot of a hop
 * that is down is not busy). 0 when no envelope of l is busy any more
 * (those given back are QUEUED again, for the caller's action to take
 * now); 1 with err when one still is: then those given back are due
 * again (kicked), nothing else changed. */
int  queue_letter_take_back(struct queue *q, struct qletter *l, char *err, size_t errlen);
/* queue_letter_take - the envelopes of l leave the queue in memory into
 * *envs (new array, *nenvs; the caller hands them to queue_gone() once
 * its transaction completed), l is forgotten; with t, the removal of
 * their files, dockets and channel files is added to t */
void queue_letter_take(struct queue *q, struct qletter *l, struct spool_txn *t,
	struct qenv ***envs, size_t *nenvs);
/* queue_gone - envelopes taken out are done with: their channel hears
 * env_gone(durable), then they are freed */
void queue_gone(struct queue *q, struct qenv **envs, size_t n, int durable);
/* queue_letter_reload - load the envelopes of letter name found in queue/
 * (after release, or a failed action); due now when due */
void queue_letter_reload(struct queue *q, const char *name, int due);
/* queue_letter_reload_files - the same when the caller knows every file
 * of queue/ that may be one of the letter's envelope files (files[0..n),
 * names in queue/; others are passed over): queue/ is not read, which a
 * release of many letters cannot afford once per letter */
void queue_letter_reload_files(struct queue *q, const char *name, char *const *files,
	size_t n, int due);
/* queue_letter_end_ops - add to t the end of queued letter name: its
 * dead marker removed (if any) and the letter moved to dead/ with its
 * journal line (dead) or removed */
void queue_letter_end_ops(struct queue *q, struct spool_txn *t, const char *name, int dead,
	const char *reason);

/*
 * Listings (mailctl queue)
 */

/* queue_list_dir - one line per letter (NAME AGE HOP RCPTS STATE ERROR)
 * from the spool directory alone, read-only
 * (no daemon); 0, or -1 with err when the spool is unreadable */
int  queue_list_dir(const char *spool, struct buf *out, char *err, size_t errlen);


#endif
