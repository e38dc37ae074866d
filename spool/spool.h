/*++
 * NAME
 *	spool 3h
 * SUMMARY
 *	the mail spool: states as directories, group commit, names, dockets
 * SYNOPSIS
 *	#include "spool/spool.h"
 * DESCRIPTION
 *	The spool knows files, not mail (DESIGN sections 2 and 9). A file
 *	lives in exactly one state directory under one name; every change
 *	of state is one rename (for a new file, of its fully written and
 *	synced temporary file; for a removed one, to a trash name unlinked
 *	once the batch is over), followed by an fsync of the directories
 *	it changed, and is described by a journal line written and synced
 *	in the same group commit. doc/spool.md has the layout,
 *	the name format, the commit order and the recovery rules.
 *
 *	Durable work is grouped into transactions (struct spool_txn): a
 *	list of operations (commit a new file, move, remove, claim a drop),
 *	docket puts and deletes, and journal lines. spool_txn_submit() hands the
 *	transaction to worker threads (util/workq.h): files are fsynced in
 *	parallel, then all transactions ready at that moment form one
 *	batch whose renames, directory fsyncs, journal append and ONE
 *	journal fsync are done together; the completion callback runs on
 *	the loop thread. The event loop never blocks on fsync. Without a
 *	loop (tools, start-up) the same steps run synchronously.
 *
 *	Threading: every function here is for the loop thread (or the
 *	one thread using a loop-less spool); none is thread-safe.
 *
 *	Errors: functions that can fail return -1 (or NULL) and fill err
 *	(when not NULL, errlen > 0) with "spool: OPERATION 'OBJECT':
 *	REASON", paths relative to the spool directory, e.g.
 *	"spool: rename 'tmp/ucl.2611231930.0001a7' to
 *	'in/ucl.2611231930.0001a7': No space left on device". errno is kept
 *	from the failing call.
 *--*/
#ifndef SPOOL_SPOOL_H
#define SPOOL_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct loop;
struct spool;
struct spool_file;
struct spool_txn;

#define SPOOL_ERRLEN	512
#define SPOOL_NAMELEN	128	/* buffer size for a spool name, NUL included */
#define SPOOL_NODEMAX	63	/* longest node name */

/* States, in the order of doc/spool.md. */
enum spool_state {
	SPOOL_OUT,		/* out/     user drop (not ours until claimed) */
	SPOOL_TMP,		/* tmp/     being written; never a letter */
	SPOOL_IN,		/* in/      received, committed, not yet routed */
	SPOOL_QUEUE,		/* queue/   per-next-hop work (envelopes) */
	SPOOL_HOLD,		/* hold/    held by the operator */
	SPOOL_DEAD,		/* dead/    could neither be delivered nor returned */
	SPOOL_CORRUPT,		/* corrupt/ unparseable, kept for the operator */
	SPOOL_ARCHIVE,		/* archive/ kept copies */
	SPOOL_PART,		/* part/    partial received files kept for a resumption */
	SPOOL_NSTATES
};

struct spool_opts {
	const char *dir;	/* spool directory (created if missing) */
	const char *node;	/* node name: [A-Za-z0-9-] and inner '.', 1..63 */
	struct loop *loop;	/* NULL: synchronous spool (no workers) */
	int	threads;	/* worker threads (0 = 4) when loop is set */
	uint64_t journal_max;	/* rotate the journal past this size (0 = 16 MiB) */
	unsigned journal_keep;	/* rotated journals kept (0 = all; 1 counts as 2:
				 * the older docket snapshot may need journal.2) */
	unsigned seq_block;	/* sequence numbers reserved at a time (0 = 4096) */
	int	log_lines;	/* log each journal line once it is durable (not the
				 * docket records), with log_info() as
				 * "NAME: EVENT k=v ..." ("EVENT k=v ..." when
				 * NAME is "-"), values escaped as in the journal:
				 * a transaction's when it completed (on the loop
				 * thread), recovery's when written */
};

/* What spool_recover() found and did. */
struct spool_recovery {
	unsigned tmp_undone;	/* tmp/ files never committed: removed */
	unsigned tmp_completed;	/* tmp/ links of committed files: removed (their lines
				 * are in the journal) */
	unsigned tmp_other;	/* other stray files in tmp/ (dot, non-regular): removed */
	unsigned tmp_parts;	/* tmp/ links of files kept in part/: removed, part kept */
	unsigned docket_tmp;	/* half-written docket files removed */
	unsigned conflicts;	/* names found in more than one state (reported only) */
	uint64_t journal_cut;	/* octets of a torn last line, or of a cut-short
				 * batch's partial append, removed */
	unsigned files[SPOOL_NSTATES];	/* files found per state afterwards */
	/* the batch of the intent record, when it was cut short (doc/spool.md) */
	unsigned intent_redone;	/* transactions completed, their lines written */
	unsigned intent_undone;	/* transactions undone, their lines dropped */
	unsigned claims_undone;	/* claims no batch took: back in out/ */
	unsigned trash;		/* trash of finished batches removed (doc/spool.md) */
	/* dockets (doc/spool.md "Dockets") */
	unsigned dockets_converted;	/* docket files of an older version put into
				 * the log (and removed) */
	unsigned dockets_corrupt;	/* such files that were no docket: moved to
				 * dockets/corrupt/ */
	unsigned dockets_cut;	/* docket records of a batch cut short: removed */
};

/* Counters (for tests and `mailctl stats`). */
struct spool_stats {
	uint64_t txns;		/* transactions completed (ok or not) */
	uint64_t txns_failed;
	uint64_t batches;	/* group commits */
	uint64_t journal_syncs;	/* journal fsyncs (one per batch with lines) */
	uint64_t file_syncs;	/* file fsyncs */
	uint64_t dir_syncs;	/* directory fsyncs */
	uint64_t lines;		/* journal lines written */
	uint64_t seq_reserves;	/* durable sequence block reservations */
	uint64_t rotations;
	uint64_t intent_syncs;	/* intent record fsyncs (one per batch with lines and
				 * file operations; doc/spool.md) */
	uint64_t dockets;	/* docket records written (also counted in lines) */
	uint64_t snapshots;	/* docket snapshots written by batches (rotations) */
	uint64_t recycled;	/* removed files kept for reuse (remove_after) */
	uint64_t reused;	/* new files that took a recycled inode */
};

/* spool_done_fn - completion of a transaction, on the loop thread:
 * ok 1, or 0 with err ("spool: ..."; borrowed, valid during the call) */
typedef void spool_done_fn(void *arg, int ok, const char *err);

/* spool_scan_fn - one file found by spool_scan(); return 0 to go on,
 * anything else to stop (spool_scan() then returns that value) */
typedef int spool_scan_fn(void *arg, const char *name);

/*
 * Opening and recovery
 */

/* spool_open - open (creating directories as needed) the spool in
 * opts->dir; opts and its strings are copied, opts->loop is borrowed
 * and must outlive the spool. Reserves the next block of sequence
 * numbers durably (a crash skips the rest of a block: names are never
 * reused). NULL with err on failure (unusable directory, unreadable
 * or malformed sequence file, bad node name). */
struct spool *spool_open(const struct spool_opts *opts, char *err, size_t errlen);

/* spool_lock_probe - 1 when another process holds the lock of the
 * spool in dir (err then says which pid, as spool_open() would), 0 when
 * none does or there is no lock file. Read-only: nothing is created,
 * and no other file is looked at. For a daemon that must know before it
 * binds its addresses (a second daemon would fail there, with a worse
 * message); spool_open() decides. The probe holds a shared lock for an
 * instant: a spool_open() of that instant fails as if it were held. */
int spool_lock_probe(const char *dir, char *err, size_t errlen);

/* spool_recover - start-up recovery, before any other operation and
 * while no other process uses the spool: cut a torn last journal line
 * (and the docket records of a batch a crash cut short);
 * finish the last batch if a crash cut it short (from SPOOL/intent:
 * each of its transactions is completed, its journal lines appended,
 * or undone without them; doc/spool.md "Journal truth across
 * crashes"); remove tmp/ leftovers (a tmp file also linked into a
 * state is a commit whose lines are in the journal; only in a spool
 * older than SPOOL/intent are they written again as "recovered"); put
 * claims no batch took back into out/; remove half-written sequence
 * files (and an older version's docket files), and the trash of
 * finished batches (DIR/.trash.N); convert an older version's docket
 * files (SPOOL/dockets/) into the log; report names found in two
 * states, journal a "recover" line, and write the docket snapshot.
 * Synchronous (it fsyncs). rep may be NULL. 0, or -1 with err. */
int spool_recover(struct spool *sp, struct spool_recovery *rep, char *err, size_t errlen);

/* spool_close - wait for transactions in flight (running the loop),
 * stop the workers, write the docket snapshot if dockets changed since
 * the last one (a failure is logged), close everything, free sp. NULL
 * is a no-op. */
void spool_close(struct spool *sp);

/* spool_drain - run the loop until no transaction is in flight */
void spool_drain(struct spool *sp);

/* spool_pending - transactions submitted whose callback has not run */
int spool_pending(const struct spool *sp);

/* spool_stats - copy the counters */
void spool_stats(const struct spool *sp, struct spool_stats *st);

/*
 * Names and paths
 */

/* spool_state_name - "out", "tmp", "in", ... (static) */
const char *spool_state_name(enum spool_state st);
/* spool_state_parse - the state called s; 0 or -1 */
int spool_state_parse(const char *s, enum spool_state *st);

/* spool_name_new - a new server-assigned name NODE.YYMMDDhhmm.SEQ
 * (SEQ at least 6 lowercase hex digits, from a counter that never goes
 * back) into buf (len >= SPOOL_NAMELEN). Unique for the life of the
 * node. 0, or -1 with err when a sequence block cannot be reserved. */
int spool_name_new(struct spool *sp, char *buf, size_t len, char *err, size_t errlen);

/* spool_name_ok - 1 when s may name a spool file: 1..SPOOL_NAMELEN-1
 * characters of [A-Za-z0-9._-], not starting with '.' */
int spool_name_ok(const char *s);

/* spool_name_cmp - order of arrival of two server-assigned names
 * (time, then sequence as numbers); other names compare as strings */
int spool_name_cmp(const char *a, const char *b);

/* spool_path - "DIR/STATE/NAME" into buf; buf, or NULL when too long */
char *spool_path(const struct spool *sp, enum spool_state st, const char *name,
	char *buf, size_t len);

/* spool_dir - the spool directory (borrowed, valid for the spool's life) */
const char *spool_dir(const struct spool *sp);

/* spool_exists - 1 when STATE/NAME exists, 0 when not */
int spool_exists(const struct spool *sp, enum spool_state st, const char *name);

/* spool_scan - call fn for each file of state st, in spool_name_cmp
 * order; dot-files and non-regular files are skipped (for SPOOL_OUT
 * these are the candidate drops). Names are borrowed for the call.
 * 0, fn's non-zero value, or -1 with err. */
int spool_scan(const struct spool *sp, enum spool_state st, spool_scan_fn *fn,
	void *arg, char *err, size_t errlen);
/* spool_scan_some - spool_scan() of the names that keep(arg, name)
 * takes (non-zero), asked as the directory is read: only those are
 * kept and sorted, so that a look for a few names in a directory of
 * 100,000 costs its reading, not a sort of every name */
int spool_scan_some(const struct spool *sp, enum spool_state st, spool_scan_fn *keep,
	spool_scan_fn *fn, void *arg, char *err, size_t errlen);

/*
 * Writing a new file: tmp/NAME, then commit in a transaction
 */

/* spool_create - create tmp/NAME with O_CREAT|O_EXCL (name NULL: a new
 * server-assigned name). The name is available with spool_file_name().
 * NULL with err (EEXIST: a file of that name is being written, or
 * committed by a transaction not yet over). */
struct spool_file *spool_create(struct spool *sp, const char *name, char *err, size_t errlen);

/* spool_write - append len octets; 0 or -1 with err. On failure the
 * file is still open: the caller calls spool_file_abort(). */
int spool_write(struct spool_file *f, const void *p, size_t len, char *err, size_t errlen);

/* spool_file_fd - the descriptor (for pwrite/ftruncate on restarts; do
 * not close it); spool_file_name - the name (valid while f lives);
 * spool_file_size - octets written through spool_write() so far */
int spool_file_fd(const struct spool_file *f);
const char *spool_file_name(const struct spool_file *f);
uint64_t spool_file_size(const struct spool_file *f);

/* spool_file_abort - close and remove the temporary file, free f
 * (a part/ link made by spool_file_checkpoint() stays) */
void spool_file_abort(struct spool_file *f);

/*
 * Partial files (receive checkpoints, doc/spool.md). A file being
 * written may be kept across a crash as part/NAME, a second link of
 * tmp/NAME: start-up recovery removes tmp/ links but leaves part/
 * alone. The caller records in a docket how many octets are durable.
 */

/* spool_file_checkpoint - fdatasync f and, the first time, link
 * tmp/NAME to part/NAME and fsync part/. For a worker thread: it uses
 * only f and the spool's directory descriptors; the loop thread must
 * not use f meanwhile (it may write through the descriptor: data
 * written before the call is durable after it). 0, or -1 with err. */
int spool_file_checkpoint(struct spool_file *f, char *err, size_t errlen);

/* spool_file_parted - 1 when f has a part/ link */
int spool_file_parted(const struct spool_file *f);

/* spool_file_resume - reopen part/NAME for writing: link it as
 * tmp/NAME again (the part/ link stays) and open it; its current size
 * is in spool_file_size(). NULL with err (ENOENT: no part/NAME;
 * EEXIST: tmp/NAME is still being written, or being committed). */
struct spool_file *spool_file_resume(struct spool *sp, const char *name, char *err,
	size_t errlen);

/* spool_part_remove - unlink part/NAME now, without fsync (a leftover
 * is found by spool_part_prune()); 0, also when missing, or -1 */
int spool_part_remove(struct spool *sp, const char *name, char *err, size_t errlen);

/* spool_part_prune - remove part/ files whose name is also in another
 * state (committed before a crash) or that were last written more
 * than max_age seconds before now; *removed (if not NULL) gets the
 * count. 0, or -1 with err (the others are still tried). */
int spool_part_prune(struct spool *sp, int64_t max_age, time_t now, unsigned *removed,
	char *err, size_t errlen);

/*
 * Transactions. A transaction is built on the loop thread, then
 * submitted once; it is freed by the spool after its callback ran.
 * Operations are applied in the order added. A transaction is whole
 * or absent: until its batch is committed every operation can be
 * undone (what a remove takes away is renamed to a trash name in its
 * directory), and on failure, its own or its whole batch's, the
 * applied operations are undone in reverse (a commit is renamed back
 * to tmp/ and its file removed, a move or claim renamed back, a
 * removed file comes back from the trash) and none of its journal
 * lines is written. Its docket changes
 * are journal records of the same batch, applied to the dockets only
 * once the batch is committed. A failed transaction thus leaves every
 * file and docket as it was; a transaction reported ok is all there.
 * (After a crash the same holds for a transaction with journal
 * lines, by start-up recovery from the intent record: doc/spool.md.)
 * Only a second failure while undoing (logged) can leave a change.
 */

/* spool_txn_new - an empty transaction */
struct spool_txn *spool_txn_new(struct spool *sp);

/* spool_txn_commit - commit f (handed over: do not use it again) into
 * state st under its name. The file is fsynced, closed and renamed to
 * ST/NAME (failing with EEXIST rather than replacing a file). Until the
 * transaction is over, the name cannot be created or resumed again. */
void spool_txn_commit(struct spool_txn *t, struct spool_file *f, enum spool_state st);

/* spool_txn_commit_bare - spool_txn_commit, for a file that the records
 * of its own transaction (lines, dockets) make a part of the caller's
 * state: a batch whose file operations are all bare commits writes no
 * intent record. After a crash that cut such a batch short the file may
 * be in ST without those records (its journal lines never written): the
 * caller must recognise it as garbage by their absence and remove it
 * (the relay's queue removes a letter in queue/ without any envelope
 * record at start-up), and must not have acknowledged it (nothing is
 * reported before the batch's journal sync). Never for in/ or out/,
 * where a file by itself means work to do. */
void spool_txn_commit_bare(struct spool_txn *t, struct spool_file *f, enum spool_state st);

/* spool_txn_move - rename FROM/NAME to TO/NEWNAME (newname NULL = name);
 * fails (at apply time) if the source is missing or the target exists.
 * Names must satisfy spool_name_ok() (else panic: a program error). */
void spool_txn_move(struct spool_txn *t, const char *name, enum spool_state from,
	enum spool_state to, const char *newname);

/* spool_txn_remove - remove ST/NAME (missing = failure): it is renamed
 * to ST/.trash.N, kept for an undo until the batch is committed, then
 * unlinked */
void spool_txn_remove(struct spool_txn *t, enum spool_state st, const char *name);

/* spool_txn_remove_after - unlink ST/NAME once t is committed (after its
 * journal sync), without a directory sync and without an undo: for a
 * file whose removal the transaction's own records already decide (a
 * queued letter whose last envelope record t deletes), so that a crash
 * that keeps the file leaves a leftover the caller recognises and
 * removes again. Not a state change of the spool: no intent operation,
 * no directory in the batch's fsyncs. A missing file is no error; any
 * other failure is logged ("spool: unlink 'queue/NAME': ..."). */
void spool_txn_remove_after(struct spool_txn *t, enum spool_state st, const char *name);

/* spool_txn_claim - take out/FILE now: rename it at once to TO/NAME
 * with a new server-assigned name written into name (len >=
 * SPOOL_NAMELEN). The rename is the claim: a file is taken once, and
 * a second claim fails with ENOENT. The transaction then fsyncs the
 * file and both directories; if it fails the file is renamed back to
 * out/FILE, and so does start-up recovery when a crash came before
 * the transaction's batch began (a marker tmp/NAME~FILE tells it).
 * FILE must be a plain name not starting with '.'.
 * 0, or -1 with err (the transaction is unchanged). */
int spool_txn_claim(struct spool_txn *t, const char *file, enum spool_state to,
	char *name, size_t len, char *err, size_t errlen);

/* spool_txn_docket_put - durably store data (len octets, any octets,
 * copied) as the docket of key (any string of 1..1024 octets without
 * NUL; else panic), replacing an older one: a record in the
 * transaction's journal lines; spool_docket_get() sees it once the
 * batch is committed. A value larger than SPOOL_DOCKET_MAX fails the
 * transaction (EFBIG, "spool: docket put: a value of N octets ..."). */
void spool_txn_docket_put(struct spool_txn *t, const char *key, const void *data, size_t len);

/* spool_txn_docket_del - remove the docket of key (missing is no error):
 * a record, as above */
void spool_txn_docket_del(struct spool_txn *t, const char *key);

/* spool_txn_journal - add the journal line "EVENT NAME k=v..." (name
 * NULL = "-"), nkv pairs in kv[0..2*nkv-1], all copied; the time is
 * added when the batch is written. EVENT and keys must be words of
 * [A-Za-z0-9_.-] (else panic). */
void spool_txn_journal(struct spool_txn *t, const char *event, const char *name,
	const char *const *kv, size_t nkv);

/* spool_txn_submit - hand t over; done(arg, ok, err) runs on the loop
 * thread when every operation and line is durable (ok) or the
 * transaction failed and was undone (not ok). On a loop-less spool it
 * runs synchronously and done is called before this returns. done may
 * be NULL. */
void spool_txn_submit(struct spool_txn *t, spool_done_fn *done, void *arg);

/* spool_txn_run - synchronous submit (any spool): 0, or -1 with err.
 * With a loop it runs the loop until this transaction completed. */
int spool_txn_run(struct spool_txn *t, char *err, size_t errlen);

/* spool_txn_abort - drop an unsubmitted transaction: files handed in
 * by spool_txn_commit() are removed, claims are renamed back */
void spool_txn_abort(struct spool_txn *t);

/*
 * Dockets: small durable records keyed by a string (DESIGN section 6:
 * server dockets keyed by caller identity + transfer id, donor dockets
 * by next hop + transfer id). They are records of the journal (the
 * spool's write-ahead log), committed with the batch's lines; the live
 * ones are a map in memory, checkpointed in SPOOL/dockets.snap (at
 * each journal rotation, at start-up and at close) so that start-up
 * reads the snapshot and the journal after it, not all history. No
 * file per docket (doc/spool.md "Dockets"). Writes go through
 * transactions (above) or, for tools and start-up, the synchronous
 * spool_docket_put().
 */

#define SPOOL_DOCKET_MAX	65536	/* largest docket value */
#define SPOOL_DOCKET_KEYMAX	1024	/* longest key */

/* spool_docket_get - the value stored for key into new memory (the
 * caller frees it; NUL-terminated one past *lenp), *mtime (if not NULL)
 * gets the time of the last put. From memory: no I/O. NULL with err;
 * errno ENOENT when there is no docket. */
void *spool_docket_get(struct spool *sp, const char *key, size_t *lenp, time_t *mtime,
	char *err, size_t errlen);

/* spool_docket_peek - like spool_docket_get, but read-only and without
 * an open spool (dir is the spool directory; for tools reading a spool
 * that a daemon owns): the snapshot and the journals after it are read
 * (slow: for one key now and then; see spool_docket_peek_all()), dockets
 * of batches not yet committed may be seen, nothing is moved or written.
 * NULL with err; errno ENOENT when there is no docket for key, EBADMSG
 * when the snapshot or journal is damaged (err says what to do). */
void *spool_docket_peek(const char *dir, const char *key, size_t *lenp, char *err,
	size_t errlen);

/* spool_docket_fn - one docket for spool_docket_each() or
 * spool_docket_peek_all(): key and value (len octets, NUL-terminated
 * one past) are borrowed for the call; return 0 to go on, anything
 * else to stop */
typedef int spool_docket_fn(void *arg, const char *key, const void *value, size_t len);

/* spool_docket_each - fn for every live docket whose key starts with
 * prefix ("" or NULL: every docket), in strcmp order of keys. From
 * memory, no I/O (loop thread). The keys are taken when it is called;
 * each value is a copy made just before its call, so fn may call any
 * spool function (run transactions, delete dockets): a docket deleted
 * meanwhile is skipped, one put meanwhile is not seen. 0, or fn's
 * first non-zero value (it stops there). */
int spool_docket_each(struct spool *sp, const char *prefix, spool_docket_fn *fn, void *arg);

/* spool_docket_peek_all - spool_docket_peek() for every docket at once
 * (one read of the snapshot and the journals after it): fn is called
 * for each live docket, in strcmp order of keys. 0, fn's non-zero
 * value, or -1 with err (as spool_docket_peek()). */
int spool_docket_peek_all(const char *dir, spool_docket_fn *fn, void *arg, char *err,
	size_t errlen);

/* spool_docket_put - synchronous durable put: a transaction of its own
 * (spool_txn_run(): blocks, or runs the loop); 0 or -1 */
int spool_docket_put(struct spool *sp, const char *key, const void *data, size_t len,
	char *err, size_t errlen);

/* spool_docket_del - synchronous delete, as spool_docket_put(); 0 (also
 * when missing) or -1 */
int spool_docket_del(struct spool *sp, const char *key, char *err, size_t errlen);

/* spool_docket_prune - remove dockets last put more than max_age
 * seconds before now (retention, DESIGN section 6: at least the
 * donor's give_up time), except those whose key starts with one of the
 * prefixes of keep (NULL-terminated; NULL: none): state that lives as
 * long as its letter, not a transfer's record. Delete records in
 * transactions run with spool_txn_run() (blocking, or running the
 * loop). *removed (if not NULL) gets the count. 0 or -1 with err. */
int spool_docket_prune(struct spool *sp, int64_t max_age, time_t now,
	const char *const *keep, unsigned *removed, char *err, size_t errlen);

#endif
