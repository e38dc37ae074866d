/*++
 * NAME
 *	spool 3
 * SUMMARY
 *	the mail spool: states as directories, group commit, names, dockets
 * SYNOPSIS
 *	#include "spool/spool.h"
 * DESCRIPTION
 *	At submit a transaction's docket changes become its docket records
 *	(spool/dkmap.h), written with its lines. Then two stages on worker
 *	threads:
 *
 *	1. prepare (one workq item per transaction, in parallel): fsync
 *	   and close each new file; fsync each claimed file. Concurrent
 *	   fsyncs on one file system are merged by the kernel's journal.
 *
 *	2. apply (one workq item per batch, one batch at a time), in this
 *	   order, which is the rule that keeps the journal true:
 *	   a. the intent record (spool/intent.h): the batch's operations
 *	      and its journal lines with their time, written at offset 0
 *	      of the preallocated SPOOL/intent and fdatasynced: durable
 *	      BEFORE any file changes. Skipped when the batch has no lines
 *	      or no file operations (nothing could be lost or left over).
 *	   b. every transaction in turn: rename tmp/NAME to STATE/NAME
 *	      (the commit point of a new file; the target is checked free
 *	      first, as for moves, so that no file is ever replaced),
 *	      renames for moves, a rename to the trash for removes
 *	      ("Trash" below: what a remove takes away stays in its
 *	      directory, so that every operation can be undone until the
 *	      batch is committed), removal of claim markers. A
 *	      transaction that fails here is undone, and the record is
 *	      rewritten without it.
 *	   c. each directory changed is fsynced once; tmp/ only for the
 *	      claim markers: a commit's tmp/ name that a crash brings back
 *	      is removed by recovery (doc/spool.md).
 *	   d. the journal lines of all transactions (each one's docket
 *	      records first) are appended in one write and synced with
 *	      one fdatasync.
 *	   Only then does the docket map learn the batch's dockets (so a
 *	   failed batch never changed it), is the trash removed (no fsync
 *	   needed: a leftover is cleaned up by recovery)
 *	   and, if the journal is too big, a docket snapshot written and
 *	   the journal rotated (which clears the record: it names the
 *	   journal by inode).
 *
 *	Callbacks run on the loop thread when the batch is back. A batch
 *	is started when the loop has run every completion posted so far
 *	(a posted "kick"), so everything prepared by then joins it. With
 *	spool_opts.log_lines, each transaction's journal lines are logged
 *	just before its callback: a line is in the log only once it is
 *	durable, and never for a transaction that failed.
 *
 *	Failures: a transaction whose own step fails is undone (applied
 *	file operations renamed back, removed files back from the trash) and
 *	reported; the others of its batch go on. A failed intent write,
 *	directory fsync or journal write/fsync fails the whole batch: the
 *	journal is truncated to its
 *	old size, every transaction of the batch is undone, last first,
 *	and the record cleared. A failed transaction is thus absent: no
 *	file, docket or line of it remains.
 *
 *	Dockets (doc/spool.md "Dockets"): spool_open() loads the snapshot
 *	and the records after it (spool/dkstore.h) and cuts a transaction
 *	whose group the journal ends inside; recovery converts an older
 *	version's docket files and writes the snapshot.
 *
 *	Recovery (spool_recover) reads the record: torn (bad CRC) means its
 *	batch never began; its lines found whole in the journal at the
 *	recorded offset mean the batch is over; otherwise each of its
 *	transactions is completed (operations found done count as done,
 *	by file identity) or, if one can no longer be done, undone, and
 *	the lines of those that stand are appended with their recorded
 *	times; then the trash left by any batch is removed. A claim (done
 *	at once by spool_txn_claim, before any batch) leaves the marker
 *	tmp/NAME~FILE until its batch applies it; a marker no record covers
 *	is a claim that never reached a batch and goes back to out/FILE.
 *
 *	Crash points (util/crash.h), in order: spool-claim-after-rename
 *	(when the transaction is built), spool-prepared, spool-after-intent,
 *	spool-after-link (a commit's rename: the name is the older
 *	version's, kept for the tests that use it), spool-after-trash (a
 *	remove's rename to the trash), spool-after-undo (an applied commit,
 *	move or remove renamed back; a commit's file not yet unlinked),
 *	spool-after-ops, spool-after-dirsync, spool-after-journal-write,
 *	spool-after-journal-sync; in recovery spool-recover-op (an
 *	operation of the intent record's batch redone or undone) and
 *	spool-recover-lines (the record rewritten, its lines not yet
 *	appended).
 *
 *	Sequence numbers: SPOOL/seq holds the first number not yet
 *	reserved. A block is reserved by writing the file durably before
 *	any number of it is used; on the loop the next block is reserved
 *	in the background when half the current one is used. Writes of
 *	the file are serialised by a mutex and never lower it.
 * DIAGNOSTICS
 *	"spool: OPERATION 'OBJECT': REASON", objects relative to the spool.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool/dkmap.h"
#include "spool/dkstore.h"
#include "spool/intent.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"
#include "util/workq.h"

#define SPOOL_DEF_THREADS	4
#define SPOOL_DEF_JMAX		(16u << 20)
#define SPOOL_DEF_BLOCK		4096
#define SPOOL_TXN_LINES_MAX	(64 * JOURNAL_LINE_MAX)
#define SPOOL_DOCKDIR		SPOOL_NSTATES	/* dir index of dockets/ (old spools) */
#define SPOOL_TXN_DK_MAX	(DKMAP_GROUP_OCTETS / 2)	/* a transaction's docket
				 * records, without time (with it: < DKMAP_GROUP_OCTETS) */
#define SPOOL_PRUNE_TXN		256	/* docket deletes per prune transaction */
#define SPOOL_NDIRS		(SPOOL_NSTATES + 1)
#define SPOOL_SEQ_MAX		((uint64_t) 1 << 60)
#define SPOOL_INTENT_PREALLOC	65536	/* octets of SPOOL/intent written at creation */
#define SPOOL_INTENT_MAX	((size_t) 1 << 30)	/* a larger record is not ours */
#define SPOOL_MARK_SEP		'~'	/* tmp/NAME~FILE: claim marker (never in a name) */
#define SPOOL_TRASH_PREFIX	".trash."	/* DIR/.trash.HEX16: kept for an undo */
#define SPOOL_TRASHLEN		32	/* buffer for a trash name */
#define SPOOL_BUSY_BUCKETS	256	/* hash buckets of the names being committed */
#define SPOOL_POOL_MAX		64	/* recycled files kept (tmp/.free.N) */

static const char *const spool_states[SPOOL_NSTATES] = {
	"out", "tmp", "in", "queue", "hold", "dead", "corrupt", "archive", "part",
};

struct spool {
	char   *dir;
	char	node[SPOOL_NODEMAX + 1];
	struct loop *loop;
	struct workq *wq;
	int	dfd[SPOOL_NDIRS];	/* state directories, then dockets/ (-1: none) */
	int	rootfd;
	/* journal: used by one batch at a time (worker) or the loop thread
	 * when no batch is in flight */
	int	jfd;
	uint64_t jsize;
	uint64_t jino;			/* inode of the current journal */
	int	lockfd;			/* SPOOL/lock, flocked while open */
	/* intent record (same rule as the journal) */
	int	ifd;
	int	intent_fresh;		/* SPOOL/intent created by this open */
	struct buf irec;		/* the record being written */
	uint64_t trash_seq;		/* last trash number handed out (loop thread) */
	struct spool_busy *busy[SPOOL_BUSY_BUCKETS];	/* names being committed
				 * (loop thread; "Names being committed") */
	uint64_t journal_max;
	unsigned journal_keep;
	/* sequence numbers (loop thread), the file under seq_lock */
	uint64_t seq_next;
	uint64_t seq_limit;
	unsigned seq_block;
	int	log_lines;		/* spool_opts.log_lines */
	int	seq_reserving;
	char	minute[16];		/* highest YYMMDDhhmm used */
	pthread_mutex_t seq_lock;
	uint64_t seq_durable;		/* value in the file (under seq_lock) */
	/* dockets (doc/spool.md "Dockets"): the map is read on the loop
	 * thread and changed by the batch worker once its journal is
	 * synced, under dk_lock; the rest follows the journal's rule */
	pthread_mutex_t dk_lock;
	struct dkmap *dk;
	unsigned dk_legacy;		/* old docket files, not converted yet */
	unsigned dk_leftover;		/* old docket files of a finished conversion */
	unsigned dk_cuts;		/* groups cut short removed (for the recovery report) */
	uint64_t dk_cut;		/* ... their octets */
	int	dk_dirty;		/* records written since the last snapshot */
	uint64_t snap_retry;		/* a failed snapshot: next try at this size */
	/* recycled letter files (doc/spool.md "Recycled inodes"), under
	 * pool_lock: empty files tmp/.free.N, taken by spool_create */
	pthread_mutex_t pool_lock;
	uint64_t pool[SPOOL_POOL_MAX];
	unsigned npool;
	uint64_t pool_seq;
	uint64_t pool_recycled, pool_reused;
	/* pipeline (loop thread) */
	struct spool_txn *ready_head, *ready_tail;
	int	batch_inflight;
	int	kick_posted;
	int	pending;
	struct spool_stats st;
};

/* A name whose commit is in flight (borrowed from its operation). */
struct spool_busy {
	const char *name;
	struct spool_busy *next;
};

struct spool_file {
	struct spool *sp;
	int	fd;
	char	name[SPOOL_NAMELEN];
	uint64_t size;
	int	parted;		/* linked as part/NAME too */
};

/* File operations. OP_DPUT and OP_DDEL (docket files) are only read,
 * from the intent record of an older version. */
enum spool_opk { OP_COMMIT, OP_MOVE, OP_REMOVE, OP_CLAIM, OP_DPUT, OP_DDEL };

/* A docket put or delete: a journal record, no file operation. */
struct spool_dkop {
	int	del;
	char   *key;
	void   *val;
	size_t	vlen;
};

struct spool_op {
	enum spool_opk kind;
	enum spool_state from, to;
	char   *name;		/* COMMIT/MOVE/REMOVE: name; CLAIM: out/ file */
	char   *newname;	/* MOVE: target name; CLAIM: spool name */
	int	fd;		/* COMMIT: open until prepared */
	uint64_t ino;		/* identity for the intent record (0: none) */
	uint64_t trash;		/* REMOVE: number of its trash name */
	char   *mark;		/* CLAIM: marker tmp/NEWNAME~NAME */
	int	applied;
	int	trashed;	/* the file it removes or replaces is kept as trash */
	int	bare;		/* COMMIT: needs no intent record (spool_txn_commit_bare) */
};

struct spool_txn {
	struct spool *sp;
	struct spool_op *ops;
	size_t	nops, aops;
	struct buf lines;	/* "EVENT NAME k=v\n"... without time */
	unsigned nlines;
	struct spool_dkop *dk;	/* docket changes, in order */
	size_t	ndk, adk;
	struct buf dkl;		/* their records, without time (at submit) */
	unsigned ndkl;
	spool_done_fn *done;
	void   *arg;
	int	failed;
	char	err[SPOOL_ERRLEN];
	unsigned file_syncs;
	char  **after;		/* STATE/NAME unlinked once committed (remove_after) */
	size_t	nafter;
	struct spool_txn *next;
};

struct spool_batch {
	struct spool *sp;
	struct spool_txn *head;
	unsigned dir_syncs, journal_syncs, intent_syncs, lines, rotations, dockets, snapshots;
	time_t	t0;		/* the time of its lines */
	size_t	intent_lines;	/* octets of lines in the record written (0: none) */
	char	warn[SPOOL_ERRLEN];
};

/*
 * Errors
 */

static void spool_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* spool_errf - "spool: " fmt ": strerror(errno)" into err; keeps errno */
static void spool_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int     saved = errno, n;

	if (err == NULL || errlen == 0)
		return;
	n = snprintf(err, errlen, "spool: ");
	va_start(ap, fmt);
	if (n >= 0 && (size_t) n < errlen)
		n += vsnprintf(err + n, errlen - (size_t) n, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t) n < errlen)
		snprintf(err + n, errlen - (size_t) n, ": %s", strerror(saved));
	errno = saved;
}

/*
 * Names
 */

/* spool_state_name - "out", "tmp", "in", ... */
const char *spool_state_name(enum spool_state st)
{
	PANIC_IF((unsigned) st >= SPOOL_NSTATES);
	return spool_states[st];
}

/* spool_state_parse - the state called s */
int spool_state_parse(const char *s, enum spool_state *st)
{
	int     i;

	for (i = 0; i < SPOOL_NSTATES; i++)
		if (strcmp(s, spool_states[i]) == 0) {
			*st = (enum spool_state) i;
			return 0;
		}
	return -1;
}

/* spool_name_ok - 1 when s may name a spool file */
int spool_name_ok(const char *s)
{
	size_t  n;

	if (s == NULL || *s == '\0' || *s == '.')
		return 0;
	for (n = 0; s[n]; n++) {
		unsigned char c = (unsigned char) s[n];

		if (n >= SPOOL_NAMELEN - 1)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* spool_node_ok - [A-Za-z0-9-] with inner dots, 1..SPOOL_NODEMAX */
static int spool_node_ok(const char *s)
{
	size_t  n = strlen(s), i;

	if (n == 0 || n > SPOOL_NODEMAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
		if (c == '.' && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* spool_name_split - time and sequence parts of NODE.YYMMDDhhmm.SEQ;
 * 0 with *tp (10 digits) and *seq, or -1 */
static int spool_name_split(const char *s, const char **tp, uint64_t *seq)
{
	const char *d2 = strrchr(s, '.'), *d1;
	size_t  i, n;
	uint64_t v = 0;

	if (d2 == NULL || d2 == s)
		return -1;
	for (d1 = d2 - 1; d1 > s && *d1 != '.'; d1--)
		;
	if (*d1 != '.' || d2 - d1 != 11)
		return -1;
	for (i = 1; i < 11; i++)
		if (d1[i] < '0' || d1[i] > '9')
			return -1;
	n = strlen(d2 + 1);
	if (n < 6 || n > 15)
		return -1;
	for (i = 1; i <= n; i++) {
		int c = d2[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t) (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t) (c - 'a' + 10);
		else
			return -1;
	}
	*tp = d1 + 1;
	*seq = v;
	return 0;
}

/* spool_name_cmp - order of arrival of two server-assigned names */
int spool_name_cmp(const char *a, const char *b)
{
	const char *ta, *tb;
	uint64_t sa, sb;
	int     c;

	if (spool_name_split(a, &ta, &sa) == 0 && spool_name_split(b, &tb, &sb) == 0) {
		if ((c = memcmp(ta, tb, 10)) != 0)
			return c;
		if (sa != sb)
			return sa < sb ? -1 : 1;
	}
	return strcmp(a, b);
}

/* spool_dirname - name of directory index i, relative to the spool */
static const char *spool_dirname(int i)
{
	return i == SPOOL_DOCKDIR ? "dockets" : spool_states[i];
}

/*
 * Trash. Until its batch is over, every operation can be undone: what a
 * remove takes away is renamed to DIR/.trash.HEX16 in its own directory
 * (one rename: the name is gone and the file kept at once). The same
 * directory, so that no other directory joins the batch's fsyncs: the
 * rename is made durable by the fsync that the remove needs anyway. The
 * trash is unlinked (no fsync) once the batch is committed and renamed
 * back when it is undone; the intent record holds its number, and
 * start-up recovery removes what is left after it finished the record's
 * batch. (An older version linked the trash first and then unlinked the
 * name, and kept docket files the same way: recovery still reads its
 * records.) Dot-files are no spool files (scans skip them), and the
 * name is odd enough for out/, where users write.
 */

/* spool_trash_name - the trash name numbered id into buf (>= SPOOL_TRASHLEN) */
static void spool_trash_name(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, SPOOL_TRASH_PREFIX "%016llx", (unsigned long long) id);
}

/* spool_trash_is - 1 when s is a trash name */
static int spool_trash_is(const char *s)
{
	size_t  n = sizeof(SPOOL_TRASH_PREFIX) - 1, i;

	if (strncmp(s, SPOOL_TRASH_PREFIX, n) != 0 || strlen(s + n) != 16)
		return 0;
	for (i = n; i < n + 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* spool_trash_new - a trash number not used before by this process
 * (seeded from the clock at open, so not by an earlier one either) */
static uint64_t spool_trash_new(struct spool *sp)
{
	if (++sp->trash_seq == 0)
		sp->trash_seq = 1;
	return sp->trash_seq;
}

/* spool_path - "DIR/STATE/NAME" into buf */
char *spool_path(const struct spool *sp, enum spool_state st, const char *name,
	char *buf, size_t len)
{
	int     n = snprintf(buf, len, "%s/%s/%s", sp->dir, spool_state_name(st), name);

	return n < 0 || (size_t) n >= len ? NULL : buf;
}

/* spool_dir - the spool directory */
const char *spool_dir(const struct spool *sp)
{
	return sp->dir;
}

/* spool_exists - 1 when STATE/NAME exists */
int spool_exists(const struct spool *sp, enum spool_state st, const char *name)
{
	struct stat sb;

	return fstatat(sp->dfd[st], name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Names being committed. A commit renames tmp/NAME away when its batch
 * applies, well before its transaction is over (and renames it back if
 * the transaction is undone), so tmp/NAME no longer says "in use" for
 * that time. The name is held here instead, from spool_txn_commit() to
 * the end of its transaction, and spool_create() and
 * spool_file_resume() refuse it (EEXIST) as O_EXCL and link() refused
 * the tmp/ name before: a receive resumed meanwhile must not link its
 * part/ file, which is the file being committed, back into tmp/ and
 * write into it. Loop thread only; no I/O.
 */

static uint64_t spool_fnv(const char *s);

/* spool_busy_slot - the bucket of name */
static struct spool_busy **spool_busy_slot(struct spool *sp, const char *name)
{
	return &sp->busy[spool_fnv(name) % SPOOL_BUSY_BUCKETS];
}

/* spool_busy_add - name (borrowed until spool_busy_del) is being committed */
static void spool_busy_add(struct spool *sp, const char *name)
{
	struct spool_busy **pp = spool_busy_slot(sp, name), *b = xmalloc(sizeof(*b));

	b->name = name;
	b->next = *pp;
	*pp = b;
}

/* spool_busy_del - the commit of name is over (the entry that borrows name) */
static void spool_busy_del(struct spool *sp, const char *name)
{
	struct spool_busy **pp, *b;

	for (pp = spool_busy_slot(sp, name); (b = *pp) != NULL; pp = &b->next)
		if (b->name == name) {
			*pp = b->next;
			free(b);
			return;
		}
}

/* spool_busy_has - 1 when a commit of name is in flight */
static int spool_busy_has(struct spool *sp, const char *name)
{
	struct spool_busy *b;

	for (b = *spool_busy_slot(sp, name); b; b = b->next)
		if (strcmp(b->name, name) == 0)
			return 1;
	return 0;
}

/*
 * Sequence numbers
 */

/* spool_minute_now - "YYMMDDhhmm" of now (UTC) into buf (>= 11) */
static void spool_minute_now(char *buf, size_t len)
{
	time_t  now = time(NULL);
	struct tm tm;

	char    tmp[64];

	gmtime_r(&now, &tm);
	snprintf(tmp, sizeof(tmp), "%02d%02d%02d%02d%02d", tm.tm_year % 100, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min);
	str_copy(buf, tmp, len);
}

/* spool_seq_write - make the file say at least limit; any thread; 0 or -1 */
static int spool_seq_write(struct spool *sp, uint64_t limit, const char *minute,
	char *err, size_t errlen)
{
	char    path[4096], text[128], derr[DURABLE_ERRLEN];
	int     n, ret = 0;

	pthread_mutex_lock(&sp->seq_lock);
	if (limit > sp->seq_durable) {
		n = snprintf(text, sizeof(text), "niftpmail-seq 1\nnext %llu\nminute %s\n",
		    (unsigned long long) limit, minute);
		snprintf(path, sizeof(path), "%s/seq", sp->dir);
		if (durable_write_file(path, text, (size_t) n, derr, sizeof(derr)) < 0) {
			if (err && errlen)
				snprintf(err, errlen, "spool: reserve names in 'seq': %s", derr);
			ret = -1;
		} else {
			sp->seq_durable = limit;
		}
	}
	pthread_mutex_unlock(&sp->seq_lock);
	return ret;
}

/* spool_seq_parse - read SPOOL/seq: 1 found, 0 missing, -1 error */
static int spool_seq_parse(struct spool *sp, uint64_t *next, char *minute, size_t mlen,
	char *err, size_t errlen)
{
	char    path[4096], derr[DURABLE_ERRLEN], *text, *p, *nl;
	size_t  len;
	uint64_t v;
	int     ret = -1;

	snprintf(path, sizeof(path), "%s/seq", sp->dir);
	if ((text = durable_read_file(path, 1024, &len, derr, sizeof(derr))) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "spool: read 'seq': %s", derr);
		return -1;
	}
	p = text;
	if (strncmp(p, "niftpmail-seq 1\nnext ", 21) != 0)
		goto bad;
	p += 21;
	if ((nl = strchr(p, '\n')) == NULL)
		goto bad;
	*nl = '\0';
	if (str_to_u64(p, 1, SPOOL_SEQ_MAX, &v) < 0)
		goto bad;
	p = nl + 1;
	if (strncmp(p, "minute ", 7) != 0 || strlen(p) != 7 + 10 + 1 || p[17] != '\n')
		goto bad;
	p[17] = '\0';
	str_copy(minute, p + 7, mlen);
	*next = v;
	ret = 1;
	goto out;
bad:
	errno = EBADMSG;
	snprintf(err, errlen, "spool: read 'seq': malformed (not reusing names: repair by hand)");
out:
	free(text);
	return ret;
}

/* spool_seq_scan_fn - remember the highest sequence number of our names */
static int spool_seq_scan_fn(void *arg, const char *name)
{
	void  **a = arg;
	struct spool *sp = a[0];
	uint64_t *max = a[1];
	const char *tp;
	uint64_t seq;
	size_t  n = strlen(sp->node);

	if (strncmp(name, sp->node, n) == 0 && name[n] == '.'
	    && spool_name_split(name, &tp, &seq) == 0 && tp == name + n + 1 && seq >= *max)
		*max = seq + 1;
	return 0;
}

/* spool_seq_init - read or rebuild the counter, reserve a first block */
static int spool_seq_init(struct spool *sp, char *err, size_t errlen)
{
	uint64_t next = 1;
	int     rc, i;
	void   *a[2];

	rc = spool_seq_parse(sp, &next, sp->minute, sizeof(sp->minute), err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		/* No counter (new spool, or removed by hand): start past every
		 * name of ours still present, so none can be handed out twice. */
		a[0] = sp;
		a[1] = &next;
		for (i = 0; i < SPOOL_NSTATES; i++)
			if (spool_scan(sp, (enum spool_state) i, spool_seq_scan_fn, a,
			    err, errlen) < 0)
				return -1;
		sp->minute[0] = '\0';
	}
	sp->seq_next = next;
	sp->seq_limit = next;
	sp->seq_durable = 0;
	if (spool_seq_write(sp, next + sp->seq_block, sp->minute[0] ? sp->minute : "0000000000",
	    err, errlen) < 0)
		return -1;
	sp->seq_limit = next + sp->seq_block;
	sp->st.seq_reserves++;
	return 0;
}

struct spool_seqjob {
	struct spool *sp;
	uint64_t limit;
	char	minute[16];
	int	ok;
	char	err[SPOOL_ERRLEN];
};

static void spool_seq_work(void *arg)
{
	struct spool_seqjob *j = arg;

	j->ok = spool_seq_write(j->sp, j->limit, j->minute, j->err, sizeof(j->err)) == 0;
}

static void spool_seq_done(void *arg)
{
	struct spool_seqjob *j = arg;
	struct spool *sp = j->sp;

	sp->seq_reserving = 0;
	sp->pending--;
	if (j->ok) {
		if (j->limit > sp->seq_limit)
			sp->seq_limit = j->limit;
		sp->st.seq_reserves++;
	} else {
		log_warn("%s", j->err);
	}
	free(j);
}

/* spool_name_new - a new server-assigned name */
int spool_name_new(struct spool *sp, char *buf, size_t len, char *err, size_t errlen)
{
	char    now[16];
	struct spool_seqjob *j;
	int     n;

	spool_minute_now(now, sizeof(now));
	if (strcmp(now, sp->minute) > 0)
		str_copy(sp->minute, now, sizeof(sp->minute));
	if (sp->seq_next >= sp->seq_limit) {
		if (spool_seq_write(sp, sp->seq_limit + sp->seq_block, sp->minute, err, errlen) < 0)
			return -1;
		sp->seq_limit += sp->seq_block;
		sp->st.seq_reserves++;
	} else if (sp->wq && !sp->seq_reserving
	    && sp->seq_limit - sp->seq_next <= sp->seq_block / 2) {
		j = xcalloc(1, sizeof(*j));
		j->sp = sp;
		j->limit = sp->seq_limit + sp->seq_block;
		str_copy(j->minute, sp->minute, sizeof(j->minute));
		sp->seq_reserving = 1;
		sp->pending++;
		workq_submit(sp->wq, spool_seq_work, spool_seq_done, j);
	}
	n = snprintf(buf, len, "%s.%s.%06llx", sp->node, sp->minute,
	    (unsigned long long) sp->seq_next);
	if (n < 0 || (size_t) n >= len) {
		errno = ENAMETOOLONG;
		spool_errf(err, errlen, "name '%s'", sp->node);
		return -1;
	}
	sp->seq_next++;
	return 0;
}

/*
 * The intent record's file (see "Stage 2" for what it holds)
 */

/* spool_intent_put - write rec at offset 0 of SPOOL/intent and sync it
 * (any thread, one batch at a time); 0 or -1 with err */
static int spool_intent_put(struct spool *sp, const void *rec, size_t len, char *err,
	size_t errlen)
{
	if (pwrite_full(sp->ifd, rec, len, 0) < 0) {
		spool_errf(err, errlen, "write 'intent'");
		return -1;
	}
	if (sys_fdatasync(sp->ifd) < 0) {
		spool_errf(err, errlen, "fsync 'intent'");
		return -1;
	}
	return 0;
}

/* spool_intent_clear - leave no record: its batch is over (or failed and
 * was undone), or the journal it names is no longer the current one */
static int spool_intent_clear(struct spool *sp, char *err, size_t errlen)
{
	static const unsigned char zero[INTENT_HEADLEN];

	return spool_intent_put(sp, zero, sizeof(zero), err, errlen);
}

/* spool_intent_open - open SPOOL/intent, creating and preallocating it
 * when missing; jnew: the journal was just created. 0 or -1 with err. */
static int spool_intent_open(struct spool *sp, int jnew, char *err, size_t errlen)
{
	static const char zero[4096];
	struct stat sb;
	off_t   off;

	sp->ifd = sys_openat(sp->rootfd, "intent", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (sp->ifd < 0 || fstat(sp->ifd, &sb) < 0) {
		spool_errf(err, errlen, "open 'intent'");
		return -1;
	}
	if (sb.st_size == 0) {
		/* Zeros really written, not fallocate()d: overwriting written
		 * blocks leaves fdatasync no metadata to commit, while the
		 * unwritten extents of fallocate() must be converted. */
		for (off = 0; off < SPOOL_INTENT_PREALLOC; off += (off_t) sizeof(zero))
			if (pwrite_full(sp->ifd, zero, sizeof(zero), off) < 0) {
				spool_errf(err, errlen, "write 'intent'");
				return -1;
			}
		if (sys_fsync(sp->ifd) < 0 || sys_fsync(sp->rootfd) < 0) {
			spool_errf(err, errlen, "fsync 'intent'");
			return -1;
		}
		sp->intent_fresh = 1;
	} else if (jnew && spool_intent_clear(sp, err, errlen) < 0) {
		return -1;
	}
	return 0;
}

/*
 * Dockets: the map, its loading and its snapshot (doc/spool.md "Dockets")
 */

/* spool_dk_load - (re)load the live dockets: the snapshot and the
 * docket records of the journal after it (spool/dkstore.h). Start-up
 * only: no batch in flight. 0, or -1 with err. */
static int spool_dk_load(struct spool *sp, char *err, size_t errlen)
{
	struct dkstore_load res;
	char    a[4096], b[4096];

	if (dkstore_load(sp->dir, NULL, 0, &res, err, errlen) < 0)
		return -1;
	if (res.snap == 2) {
		log_warn("spool: dockets: 'dockets.snap' %s%s: using 'dockets.snap.1'",
		    res.snap_bad ? "is unusable: " : "is missing",
		    res.snap_bad ? res.snap_why : "");
		/* kept aside for the operator, and so that the next snapshot
		 * does not push the good one out as dockets.snap.1 */
		snprintf(a, sizeof(a), "%s/%s", sp->dir, DKSTORE_SNAP);
		snprintf(b, sizeof(b), "%s/%s", sp->dir, DKSTORE_SNAP_BAD);
		if (res.snap_bad && rename(a, b) < 0)
			log_warn("spool: rename 'dockets.snap' to 'dockets.snap.bad': %s",
			    strerror(errno));
	} else if (res.snap == 0 && res.records > 0) {
		log_warn("spool: dockets: no 'dockets.snap': dockets rebuilt from the journals "
		    "kept (%lu records)", res.records);
	}
	pthread_mutex_lock(&sp->dk_lock);
	dkmap_free(sp->dk);
	sp->dk = res.m;
	pthread_mutex_unlock(&sp->dk_lock);
	sp->dk_legacy = res.snap ? 0 : res.legacy;
	sp->dk_leftover = res.snap ? res.legacy : 0;
	/* A transaction whose group the journal ends inside was cut short by
	 * a crash (never acknowledged): not applied, and its lines go, so
	 * that nothing appended later can complete the group. Within the
	 * last batch's lines: the intent record's recovery, which needs a
	 * prefix of them, still finds one. */
	if (res.pending && res.jino == sp->jino && res.pending_off < sp->jsize) {
		if (ftruncate(sp->jfd, (off_t) res.pending_off) < 0 || sys_fdatasync(sp->jfd) < 0) {
			spool_errf(err, errlen, "truncate 'journal' to %llu",
			    (unsigned long long) res.pending_off);
			return -1;
		}
		log_warn("spool: dockets: the journal ended inside a transaction (a crash): "
		    "%llu octets of it removed",
		    (unsigned long long) (sp->jsize - res.pending_off));
		sp->dk_cut += sp->jsize - res.pending_off;
		sp->dk_cuts++;
		sp->jsize = res.pending_off;
	}
	return 0;
}

/* spool_snapshot - write dockets.snap: the map as of the journal's
 * current end (journal rule: the batch worker, or the loop thread with
 * no batch in flight). 0, or -1 with err. */
static int spool_snapshot(struct spool *sp, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(DKMAP_SNAP_MAX);
	struct dkmap_pos pos;
	int     rc;

	memset(&pos, 0, sizeof(pos));
	pos.ino = sp->jino;
	pos.off = sp->jsize;
	if (dkstore_tail(sp->rootfd, &pos, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&sp->dk_lock);
	rc = dkmap_snap_encode(sp->dk, &pos, &b);
	pthread_mutex_unlock(&sp->dk_lock);
	if (rc < 0) {
		errno = EFBIG;
		spool_errf(err, errlen, "write 'dockets.snap'");
	} else {
		rc = dkstore_snap_write(sp->dir, sp->rootfd, buf_data(&b), b.len, err, errlen);
	}
	buf_release(&b);
	if (rc == 0) {
		sp->dk_dirty = 0;
	}
	return rc;
}

/*
 * Opening
 */

/* spool_dir_safe - the spool directory (rel NULL) or its state rel
 * belongs to us and no one else may change it: owned by the effective
 * user, not writable by group or others (unless shared: out/, the
 * drop). 0, or -1 with err naming the
 * path and the fix, errno EPERM. (A spool another user can change is
 * one whose files that user can swap for links into anything the
 * daemon may remove or read.) */
static int spool_dir_safe(struct spool *sp, int fd, const char *rel, int shared, char *err,
	size_t errlen)
{
	struct stat sb;
	char    path[4096];

	snprintf(path, sizeof(path), "%s%s%s", sp->dir, rel ? "/" : "", rel ? rel : "");
	if (fstat(fd, &sb) < 0) {
		spool_errf(err, errlen, "stat '%s'", path);
		return -1;
	}
	if (sb.st_uid != geteuid()) {
		snprintf(err, errlen, "spool: '%.3000s' belongs to uid %lu, not to this process's"
		    " user (uid %lu): refused (chown -R it, or run as its owner)", path,
		    (unsigned long) sb.st_uid, (unsigned long) geteuid());
		errno = EPERM;
		return -1;
	}
	if (!shared && (sb.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen, "spool: '%.3000s' is writable by %s (mode %04o): refused"
		    " (chmod go-w '%.3000s')", path, sb.st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned) (sb.st_mode & 07777), path);
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* lock_held - the refusal of a spool whose lock (fd) another process
 * holds, naming the pid it wrote there */
static void lock_held(const char *dir, int fd, char *err, size_t errlen)
{
	char    pid[32] = "";
	ssize_t n;

	if ((n = pread(fd, pid, sizeof(pid) - 1, 0)) > 0)
		pid[n] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	snprintf(err, errlen, "spool: '%s' is in use by process %s (it holds '%s/lock'):"
	    " one daemon per spool", dir, pid[0] ? pid : "?", dir);
}

/* spool_lock - one open spool per directory: an exclusive flock on
 * SPOOL/lock, held until spool_close (the process's end releases it
 * whatever happens); the holder writes its pid into the file, so that
 * the refusal can name it. 0, or -1 with err and errno EWOULDBLOCK when
 * another holds it. */
static int spool_lock(struct spool *sp, char *err, size_t errlen)
{
	char    pid[32] = "";
	int     len;

	sp->lockfd = openat(sp->rootfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (sp->lockfd < 0) {
		spool_errf(err, errlen, "open '%s/lock'", sp->dir);
		return -1;
	}
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0) {
		int     saved = errno;

		if (saved == EWOULDBLOCK)
			lock_held(sp->dir, sp->lockfd, err, errlen);
		else {
			errno = saved;
			spool_errf(err, errlen, "lock '%s/lock'", sp->dir);
		}
		close(sp->lockfd);
		sp->lockfd = -1;
		errno = saved;
		return -1;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
	if (ftruncate(sp->lockfd, 0) < 0 || pwrite(sp->lockfd, pid, (size_t) len, 0) != len)
		log_warn("spool: write '%s/lock': %s", sp->dir, strerror(errno));
	return 0;
}

/* spool_lock_probe - is the spool in dir held by a running process */
int spool_lock_probe(const char *dir, char *err, size_t errlen)
{
	char    path[4096];
	int     fd, held;

	if ((size_t) snprintf(path, sizeof(path), "%s/lock", dir) >= sizeof(path))
		return 0;
	/* read-only, never created: the probe changes nothing on disk */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0)
		return 0;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (held)
		lock_held(dir, fd, err, errlen);
	close(fd);		/* releases the shared lock taken, if any */
	return held;
}

/* spool_open - open the spool in opts->dir */
struct spool *spool_open(const struct spool_opts *opts, char *err, size_t errlen)
{
	struct spool *sp;
	char    derr[DURABLE_ERRLEN];
	struct stat sb;
	struct timespec ts;
	int     i, created;

	if (opts->node == NULL || !spool_node_ok(opts->node)) {
		errno = EINVAL;
		spool_errf(err, errlen, "open: node name '%s'", opts->node ? opts->node : "");
		return NULL;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->dir = xstrdup(opts->dir);
	str_copy(sp->node, opts->node, sizeof(sp->node));
	sp->rootfd = sp->jfd = sp->ifd = sp->lockfd = -1;
	buf_init(&sp->irec, SPOOL_INTENT_MAX);
	for (i = 0; i < SPOOL_NDIRS; i++)
		sp->dfd[i] = -1;
	sp->journal_max = opts->journal_max ? opts->journal_max : SPOOL_DEF_JMAX;
	/* dockets.snap.1, the fallback, may cover a journal two rotations
	 * back (doc/spool.md "Dockets") */
	sp->journal_keep = opts->journal_keep == 1 ? 2 : opts->journal_keep;
	sp->seq_block = opts->seq_block ? opts->seq_block : SPOOL_DEF_BLOCK;
	sp->log_lines = opts->log_lines;
	pthread_mutex_init(&sp->seq_lock, NULL);
	pthread_mutex_init(&sp->dk_lock, NULL);
	pthread_mutex_init(&sp->pool_lock, NULL);
	sp->pool_seq = (uint64_t) time(NULL) << 20;
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		sp->trash_seq = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;

	if (mkdir_p(sp->dir, 0750, derr, sizeof(derr)) < 0) {
		snprintf(err, errlen, "spool: open: %s", derr);
		goto fail;
	}
	sp->rootfd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->rootfd < 0) {
		spool_errf(err, errlen, "open '%s'", sp->dir);
		goto fail;
	}
	if (spool_dir_safe(sp, sp->rootfd, NULL, 0, err, errlen) < 0
	    || spool_lock(sp, err, errlen) < 0)
		goto fail;
	for (i = 0; i < SPOOL_NSTATES; i++) {
		const char *d = spool_states[i];

		if (mkdirat(sp->rootfd, d, 0750) < 0 && errno != EEXIST) {
			spool_errf(err, errlen, "mkdir '%s'", d);
			goto fail;
		}
		/* O_NOFOLLOW: a state that is a symbolic link is refused, never
		 * followed (recovery removes files in tmp/) */
		sp->dfd[i] = openat(sp->rootfd, d, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sp->dfd[i] < 0) {
			spool_errf(err, errlen, "open '%s'", d);
			goto fail;
		}
		/* out/ may be a shared drop (group-writable, sticky): the
		 * daemon only renames out of it, never follows or removes
		 * what it does not claim */
		if (spool_dir_safe(sp, sp->dfd[i], d, i == SPOOL_OUT, err, errlen) < 0)
			goto fail;
	}
	/* dockets/ is an older version's (one file per docket): kept open
	 * for its intent record and the conversion, never created */
	sp->dfd[SPOOL_DOCKDIR] = openat(sp->rootfd, "dockets", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dfd[SPOOL_DOCKDIR] < 0 && errno != ENOENT) {
		spool_errf(err, errlen, "open 'dockets'");
		goto fail;
	}
	created = fstatat(sp->rootfd, "journal", &sb, 0) < 0;
	sp->jfd = sys_openat(sp->rootfd, "journal",
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (sp->jfd < 0 || fstat(sp->jfd, &sb) < 0) {
		spool_errf(err, errlen, "open 'journal'");
		goto fail;
	}
	sp->jsize = (uint64_t) sb.st_size;
	sp->jino = (uint64_t) sb.st_ino;
	if (spool_intent_open(sp, created, err, errlen) < 0)
		goto fail;
	/* New directories and a new journal must survive a power cut too. */
	if (created) {
		for (i = 0; i < SPOOL_NSTATES; i++)
			(void) sys_fsync(sp->dfd[i]);
		if (sys_fsync(sp->rootfd) < 0) {
			spool_errf(err, errlen, "fsync '%s'", sp->dir);
			goto fail;
		}
	}
	if (spool_seq_init(sp, err, errlen) < 0)
		goto fail;
	if (spool_dk_load(sp, err, errlen) < 0)
		goto fail;
	if (opts->loop) {
		sp->loop = opts->loop;
		sp->wq = workq_new(opts->loop, opts->threads > 0 && opts->threads <= 64
		    ? opts->threads : SPOOL_DEF_THREADS);
	}
	return sp;
fail:
	spool_close(sp);
	return NULL;
}

/* spool_pending - transactions in flight */
int spool_pending(const struct spool *sp)
{
	return sp->pending;
}

/* spool_stats - copy the counters */
void spool_stats(const struct spool *sp, struct spool_stats *st)
{
	*st = sp->st;
	pthread_mutex_lock((pthread_mutex_t *) &sp->pool_lock);
	st->recycled = sp->pool_recycled;
	st->reused = sp->pool_reused;
	pthread_mutex_unlock((pthread_mutex_t *) &sp->pool_lock);
}

/* spool_drain - run the loop until nothing is in flight */
void spool_drain(struct spool *sp)
{
	while (sp->loop && sp->pending > 0)
		(void) loop_run_once(sp->loop, 100);
}

/* spool_close - wait, stop, free */
void spool_close(struct spool *sp)
{
	char    derr[SPOOL_ERRLEN];
	int     i;

	if (sp == NULL)
		return;
	spool_drain(sp);
	if (sp->wq)
		workq_free(sp->wq);
	/* start-up then reads the live dockets, not this run's records */
	if (sp->dk && sp->dk_dirty && spool_snapshot(sp, derr, sizeof(derr)) < 0)
		log_warn("%s", derr);
	dkmap_free(sp->dk);
	for (i = 0; i < SPOOL_NDIRS; i++)
		if (sp->dfd[i] >= 0)
			close(sp->dfd[i]);
	if (sp->rootfd >= 0)
		close(sp->rootfd);
	if (sp->jfd >= 0)
		close(sp->jfd);
	if (sp->ifd >= 0)
		close(sp->ifd);
	if (sp->lockfd >= 0)
		close(sp->lockfd);	/* last: the spool is ours until here */
	buf_release(&sp->irec);
	pthread_mutex_destroy(&sp->seq_lock);
	pthread_mutex_destroy(&sp->dk_lock);
	pthread_mutex_destroy(&sp->pool_lock);
	free(sp->dir);
	free(sp);
}

/*
 * Scanning
 */

static int spool_cmp_ptr(const void *a, const void *b)
{
	return spool_name_cmp(*(char *const *) a, *(char *const *) b);
}

/* spool_scan - call fn for each file of state st */
int spool_scan(const struct spool *sp, enum spool_state st, spool_scan_fn *fn,
	void *arg, char *err, size_t errlen)
{
	return spool_scan_some(sp, st, NULL, fn, arg, err, errlen);
}

/* spool_scan_some - the files of state st that keep takes (NULL: all) */
int spool_scan_some(const struct spool *sp, enum spool_state st, spool_scan_fn *keep,
	spool_scan_fn *fn, void *arg, char *err, size_t errlen)
{
	DIR    *d;
	struct dirent *e;
	struct stat sb;
	char  **v = NULL;
	size_t  n = 0, alloc = 0, i;
	int     fd, ret = 0;

	fd = openat(sp->dfd[st], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		spool_errf(err, errlen, "scan '%s'", spool_states[st]);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || (keep != NULL && !keep(arg, e->d_name)))
			continue;
		if (e->d_type != DT_REG) {
			if (e->d_type != DT_UNKNOWN
			    || fstatat(sp->dfd[st], e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0
			    || !S_ISREG(sb.st_mode))
				continue;
		}
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		v[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), spool_cmp_ptr);
	for (i = 0; i < n; i++)
		if (ret == 0)
			ret = fn(arg, v[i]);
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return ret;
}

/*
 * Files being written
 */

/* spool_pool_name - "tmp/.free.HEX16" name of a recycled file */
static void spool_pool_name(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, ".free.%016llx", (unsigned long long) id);
}

/* spool_pool_put - recycle STATE/NAME (path relative to the spool; its
 * records are gone): emptied and renamed to tmp/.free.N; 0, or -1 when
 * the pool is full or a step failed (the caller unlinks it) */
static int spool_pool_put(struct spool *sp, const char *rel)
{
	char    path[4096], fn[32];
	struct stat sb;
	uint64_t id;
	int     fd;

	pthread_mutex_lock(&sp->pool_lock);
	if (sp->npool >= SPOOL_POOL_MAX) {
		pthread_mutex_unlock(&sp->pool_lock);
		return -1;
	}
	id = ++sp->pool_seq;
	pthread_mutex_unlock(&sp->pool_lock);
	snprintf(path, sizeof(path), "%s/%s", sp->dir, rel);
	/* only a regular file with no other name: emptying one that a
	 * kept part/ link still names would empty that too, and the next
	 * letter would share its inode */
	/* emptied first: a pool never holds a letter's octets (a crash
	 * between the two leaves an empty letter without records, which
	 * is removed like any letter without records); the checks on the
	 * descriptor that is emptied, not on a name looked up twice */
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1
	    || ftruncate(fd, 0) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	spool_pool_name(id, fn, sizeof(fn));
	if (sys_renameat(AT_FDCWD, path, sp->dfd[SPOOL_TMP], fn) < 0)
		return -1;
	pthread_mutex_lock(&sp->pool_lock);
	if (sp->npool < SPOOL_POOL_MAX) {
		sp->pool[sp->npool++] = id;
		sp->pool_recycled++;
		id = 0;
	}
	pthread_mutex_unlock(&sp->pool_lock);
	if (id != 0)
		(void) unlinkat(sp->dfd[SPOOL_TMP], fn, 0);
	return 0;
}

/* spool_pool_take - a recycled file renamed to tmp/NAME and opened, or -1 */
static int spool_pool_take(struct spool *sp, const char *name)
{
	char    fn[32];
	uint64_t id;
	int     fd;

	pthread_mutex_lock(&sp->pool_lock);
	if (sp->npool == 0) {
		pthread_mutex_unlock(&sp->pool_lock);
		return -1;
	}
	id = sp->pool[--sp->npool];
	pthread_mutex_unlock(&sp->pool_lock);
	spool_pool_name(id, fn, sizeof(fn));
	if (sys_renameat(sp->dfd[SPOOL_TMP], fn, sp->dfd[SPOOL_TMP], name) < 0) {
		(void) unlinkat(sp->dfd[SPOOL_TMP], fn, 0);
		return -1;
	}
	/* O_TRUNC: nothing may stay from before, whatever happened */
	if ((fd = sys_openat(sp->dfd[SPOOL_TMP], name, O_RDWR | O_TRUNC | O_CLOEXEC
	    | O_NOFOLLOW, 0640)) < 0) {
		(void) unlinkat(sp->dfd[SPOOL_TMP], name, 0);
		return -1;
	}
	pthread_mutex_lock(&sp->pool_lock);
	sp->pool_reused++;
	pthread_mutex_unlock(&sp->pool_lock);
	return fd;
}

/* spool_create - create tmp/NAME exclusively (or take a recycled file) */
struct spool_file *spool_create(struct spool *sp, const char *name, char *err, size_t errlen)
{
	struct spool_file *f = xcalloc(1, sizeof(*f));

	f->sp = sp;
	if (name == NULL) {
		if (spool_name_new(sp, f->name, sizeof(f->name), err, errlen) < 0)
			goto fail;
	} else if (!spool_name_ok(name)) {
		errno = EINVAL;
		spool_errf(err, errlen, "create 'tmp/%s'", name);
		goto fail;
	} else if (spool_busy_has(sp, name)) {
		errno = EEXIST;		/* its commit is in flight */
		spool_errf(err, errlen, "create 'tmp/%s'", name);
		goto fail;
	} else {
		str_copy(f->name, name, sizeof(f->name));
	}
	/* a fresh name is unique for the spool's life: a recycled file may
	 * take it (no new inode); a name given by the caller may exist */
	f->fd = name == NULL ? spool_pool_take(sp, f->name) : -1;
	if (f->fd < 0)
		f->fd = sys_openat(sp->dfd[SPOOL_TMP], f->name,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (f->fd < 0) {
		spool_errf(err, errlen, "create 'tmp/%s'", f->name);
		goto fail;
	}
	return f;
fail:
	free(f);
	return NULL;
}

/* spool_write - append len octets */
int spool_write(struct spool_file *f, const void *p, size_t len, char *err, size_t errlen)
{
	if (write_full(f->fd, p, len) < 0) {
		spool_errf(err, errlen, "write 'tmp/%s'", f->name);
		return -1;
	}
	f->size += len;
	return 0;
}

int spool_file_fd(const struct spool_file *f)
{
	return f->fd;
}

const char *spool_file_name(const struct spool_file *f)
{
	return f->name;
}

uint64_t spool_file_size(const struct spool_file *f)
{
	return f->size;
}

/* spool_file_abort - close and remove the temporary file */
void spool_file_abort(struct spool_file *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	(void) unlinkat(f->sp->dfd[SPOOL_TMP], f->name, 0);
	free(f);
}

/*
 * Partial files
 */

/* spool_file_checkpoint - fdatasync, and link into part/ once */
int spool_file_checkpoint(struct spool_file *f, char *err, size_t errlen)
{
	struct spool *sp = f->sp;
	struct stat a, b;

	if (sys_fdatasync(f->fd) < 0) {
		spool_errf(err, errlen, "fdatasync 'tmp/%s'", f->name);
		return -1;
	}
	if (f->parted)
		return 0;
	if (linkat(sp->dfd[SPOOL_TMP], f->name, sp->dfd[SPOOL_PART], f->name, 0) < 0) {
		/* a leftover of the same file (an earlier link) is fine */
		if (errno != EEXIST || fstat(f->fd, &a) < 0
		    || fstatat(sp->dfd[SPOOL_PART], f->name, &b, AT_SYMLINK_NOFOLLOW) < 0
		    || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			if (errno == 0)
				errno = EEXIST;
			spool_errf(err, errlen, "link 'tmp/%s' to 'part/%s'", f->name, f->name);
			return -1;
		}
	}
	if (sys_fsync(sp->dfd[SPOOL_PART]) < 0) {
		spool_errf(err, errlen, "fsync 'part'");
		return -1;
	}
	f->parted = 1;
	return 0;
}

int spool_file_parted(const struct spool_file *f)
{
	return f->parted;
}

/* spool_file_resume - part/NAME as tmp/NAME again */
struct spool_file *spool_file_resume(struct spool *sp, const char *name, char *err,
	size_t errlen)
{
	struct spool_file *f;
	struct stat sb;

	if (!spool_name_ok(name)) {
		errno = EINVAL;
		spool_errf(err, errlen, "resume 'part/%s'", name);
		return NULL;
	}
	if (spool_busy_has(sp, name)) {
		errno = EEXIST;		/* its commit is in flight */
		spool_errf(err, errlen, "link 'part/%s' to 'tmp/%s'", name, name);
		return NULL;
	}
	if (linkat(sp->dfd[SPOOL_PART], name, sp->dfd[SPOOL_TMP], name, 0) < 0) {
		spool_errf(err, errlen, "link 'part/%s' to 'tmp/%s'", name, name);
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->sp = sp;
	f->parted = 1;
	str_copy(f->name, name, sizeof(f->name));
	f->fd = sys_openat(sp->dfd[SPOOL_TMP], name, O_RDWR | O_CLOEXEC, 0);
	if (f->fd < 0 || fstat(f->fd, &sb) < 0) {
		spool_errf(err, errlen, "open 'tmp/%s'", name);
		if (f->fd >= 0)
			close(f->fd);
		(void) unlinkat(sp->dfd[SPOOL_TMP], name, 0);
		free(f);
		return NULL;
	}
	f->size = (uint64_t) sb.st_size;
	return f;
}

/* spool_part_remove - unlink part/NAME */
int spool_part_remove(struct spool *sp, const char *name, char *err, size_t errlen)
{
	if (!spool_name_ok(name)) {
		errno = EINVAL;
		spool_errf(err, errlen, "unlink 'part/%s'", name);
		return -1;
	}
	if (unlinkat(sp->dfd[SPOOL_PART], name, 0) < 0 && errno != ENOENT) {
		spool_errf(err, errlen, "unlink 'part/%s'", name);
		return -1;
	}
	return 0;
}

/* spool_part_prune - drop committed or expired partial files */
int spool_part_prune(struct spool *sp, int64_t max_age, time_t now, unsigned *removed,
	char *err, size_t errlen)
{
	DIR    *d;
	struct dirent *e;
	struct stat sb, ob;
	unsigned n = 0;
	int     fd, ret = 0, i, elsewhere;

	fd = openat(sp->dfd[SPOOL_PART], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		spool_errf(err, errlen, "prune: scan 'part'");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		/* a batch in flight may still need its trash for an undo */
		if (spool_trash_is(e->d_name)
		    || fstatat(sp->dfd[SPOOL_PART], e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		elsewhere = 0;
		for (i = 0; i < SPOOL_NSTATES && !elsewhere; i++)
			if (i != SPOOL_PART && i != SPOOL_TMP && i != SPOOL_OUT
			    && fstatat(sp->dfd[i], e->d_name, &ob, AT_SYMLINK_NOFOLLOW) == 0)
				elsewhere = 1;
		if (!elsewhere && S_ISREG(sb.st_mode) && e->d_name[0] != '.'
		    && (int64_t) now - (int64_t) sb.st_mtime <= max_age)
			continue;
		if (unlinkat(sp->dfd[SPOOL_PART], e->d_name, 0) < 0) {
			if (!ret)
				spool_errf(err, errlen, "prune: unlink 'part/%s'", e->d_name);
			ret = -1;
			continue;
		}
		n++;
	}
	closedir(d);
	if (n && sys_fsync(sp->dfd[SPOOL_PART]) < 0 && !ret) {
		spool_errf(err, errlen, "prune: fsync 'part'");
		ret = -1;
	}
	if (removed)
		*removed = n;
	return ret;
}

/* spool_fnv - FNV-1a 64 of s */
static uint64_t spool_fnv(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

/* spool_docket_key_ok - 1..SPOOL_DOCKET_KEYMAX octets */
static int spool_docket_key_ok(const char *key)
{
	size_t  n = key ? strlen(key) : 0;

	return n > 0 && n <= SPOOL_DOCKET_KEYMAX;
}

/*
 * Transactions: building
 */

/* spool_txn_new - an empty transaction */
struct spool_txn *spool_txn_new(struct spool *sp)
{
	struct spool_txn *t = xcalloc(1, sizeof(*t));

	t->sp = sp;
	buf_init(&t->lines, SPOOL_TXN_LINES_MAX);
	buf_init(&t->dkl, SPOOL_TXN_DK_MAX);
	return t;
}

/* spool_txn_op - append a zeroed op */
static struct spool_op *spool_txn_op(struct spool_txn *t, enum spool_opk kind)
{
	struct spool_op *op;

	if (t->nops == t->aops) {
		t->aops = t->aops ? 2 * t->aops : 4;
		t->ops = xrealloc(t->ops, t->aops * sizeof(*t->ops));
	}
	op = &t->ops[t->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->fd = -1;
	return op;
}

/* spool_txn_commit - commit f into state st */
void spool_txn_commit(struct spool_txn *t, struct spool_file *f, enum spool_state st)
{
	struct spool_op *op;

	PANIC_IF(f == NULL || f->sp != t->sp || st == SPOOL_TMP || (unsigned) st >= SPOOL_NSTATES);
	op = spool_txn_op(t, OP_COMMIT);
	op->to = st;
	op->name = xstrdup(f->name);
	op->fd = f->fd;
	spool_busy_add(t->sp, op->name);
	free(f);
}

/* spool_txn_commit_bare - a commit whose caller's records decide */
void spool_txn_commit_bare(struct spool_txn *t, struct spool_file *f, enum spool_state st)
{
	PANIC_IF(st == SPOOL_IN || st == SPOOL_OUT);
	spool_txn_commit(t, f, st);
	t->ops[t->nops - 1].bare = 1;
}

/* spool_txn_move - rename FROM/NAME to TO/NEWNAME */
void spool_txn_move(struct spool_txn *t, const char *name, enum spool_state from,
	enum spool_state to, const char *newname)
{
	struct spool_op *op;

	if (newname == NULL)
		newname = name;
	if (!spool_name_ok(name) || !spool_name_ok(newname)
	    || (unsigned) from >= SPOOL_NSTATES || (unsigned) to >= SPOOL_NSTATES
	    || from == SPOOL_TMP || to == SPOOL_TMP || to == SPOOL_OUT)
		log_panic("spool_txn_move: bad arguments '%s' %d -> %d", name ? name : "", from, to);
	op = spool_txn_op(t, OP_MOVE);
	op->from = from;
	op->to = to;
	op->name = xstrdup(name);
	op->newname = xstrdup(newname);
}

/* spool_txn_remove - unlink ST/NAME */
void spool_txn_remove(struct spool_txn *t, enum spool_state st, const char *name)
{
	struct spool_op *op;

	if (!spool_name_ok(name) || (unsigned) st >= SPOOL_NSTATES || st == SPOOL_TMP)
		log_panic("spool_txn_remove: bad arguments '%s' %d", name ? name : "", st);
	op = spool_txn_op(t, OP_REMOVE);
	op->from = st;
	op->name = xstrdup(name);
	op->trash = spool_trash_new(t->sp);
}

/* spool_txn_remove_after - unlink ST/NAME once t is committed */
void spool_txn_remove_after(struct spool_txn *t, enum spool_state st, const char *name)
{
	if (!spool_name_ok(name) || (unsigned) st >= SPOOL_NSTATES || st == SPOOL_TMP)
		log_panic("spool_txn_remove_after: bad arguments '%s' %d", name ? name : "", st);
	t->after = xrealloc(t->after, sizeof(*t->after) * (t->nafter + 1));
	t->after[t->nafter++] = xasprintf("%s/%s", spool_states[st], name);
}

/* spool_mark_name - the claim marker "NAME~FILE" into new memory */
static char *spool_mark_name(const char *name, const char *file)
{
	size_t  a = strlen(name), b = strlen(file);
	char   *m = xmalloc(a + b + 2);

	memcpy(m, name, a);
	m[a] = SPOOL_MARK_SEP;
	memcpy(m + a + 1, file, b + 1);
	return m;
}

/*
 * spool_txn_claim - take out/FILE now. The claim is a state change made
 * before its transaction is even submitted, so it leaves a marker that
 * start-up recovery understands: a second link tmp/NAME~FILE, made
 * before the rename. A marker whose claim no intent record covers is a
 * claim that never reached its batch: recovery renames the file back to
 * out/FILE (no journal line was ever written for it). The batch removes
 * the marker when it applies the claim, before its directory fsyncs.
 */
int spool_txn_claim(struct spool_txn *t, const char *file, enum spool_state to,
	char *name, size_t len, char *err, size_t errlen)
{
	struct spool *sp = t->sp;
	struct spool_op *op;
	char    nm[SPOOL_NAMELEN], from[4096], mp[4096];
	char   *mark;
	struct stat ms, fs;
	int     saved;

	PANIC_IF((unsigned) to >= SPOOL_NSTATES || to == SPOOL_TMP || to == SPOOL_OUT);
	if (!spool_name_ok(file)) {
		errno = EINVAL;
		spool_errf(err, errlen, "claim 'out/%s'", file ? file : "");
		return -1;
	}
	if (spool_name_new(sp, nm, sizeof(nm), err, errlen) < 0)
		return -1;
	if (str_copy(name, nm, len) >= len) {
		errno = ENAMETOOLONG;
		spool_errf(err, errlen, "claim 'out/%s'", file);
		return -1;
	}
	mark = spool_mark_name(nm, file);
	if (!spool_path(sp, SPOOL_OUT, file, from, sizeof(from))
	    || !spool_path(sp, SPOOL_TMP, mark, mp, sizeof(mp))) {
		errno = ENAMETOOLONG;
		spool_errf(err, errlen, "claim 'out/%s'", file);
		goto fail;
	}
	if (sys_link(from, mp) < 0) {
		spool_errf(err, errlen, "claim: link 'out/%s' to 'tmp/%s'", file, mark);
		goto fail;
	}
	if (sys_renameat(sp->dfd[SPOOL_OUT], file, sp->dfd[to], nm) < 0) {
		spool_errf(err, errlen, "claim: rename 'out/%s' to '%s/%s'", file,
		    spool_states[to], nm);
		saved = errno;
		(void) unlinkat(sp->dfd[SPOOL_TMP], mark, 0);
		errno = saved;
		goto fail;
	}
	crash_point("spool-claim-after-rename");
	op = spool_txn_op(t, OP_CLAIM);
	op->from = SPOOL_OUT;
	op->to = to;
	op->name = xstrdup(file);
	op->newname = xstrdup(nm);
	op->mark = mark;
	/* A new drop renamed onto out/FILE between the link and the rename
	 * was what we took: the marker must be a link of the file claimed. */
	if (fstatat(sp->dfd[to], nm, &fs, AT_SYMLINK_NOFOLLOW) == 0) {
		op->ino = (uint64_t) fs.st_ino;
		if (fstatat(sp->dfd[SPOOL_TMP], mark, &ms, AT_SYMLINK_NOFOLLOW) == 0
		    && ms.st_ino != fs.st_ino) {
			(void) unlinkat(sp->dfd[SPOOL_TMP], mark, 0);
			if (linkat(sp->dfd[to], nm, sp->dfd[SPOOL_TMP], mark, 0) < 0)
				log_warn("spool: claim: link '%s/%s' to 'tmp/%s': %s",
				    spool_states[to], nm, mark, strerror(errno));
		}
	}
	return 0;
fail:
	free(mark);
	return -1;
}

static void spool_txn_fail(struct spool_txn *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* spool_txn_dkop - append a docket change */
static struct spool_dkop *spool_txn_dkop(struct spool_txn *t, const char *key)
{
	struct spool_dkop *d;

	if (t->ndk == t->adk) {
		t->adk = t->adk ? 2 * t->adk : 4;
		t->dk = xrealloc(t->dk, t->adk * sizeof(*t->dk));
	}
	d = &t->dk[t->ndk++];
	memset(d, 0, sizeof(*d));
	d->key = xstrdup(key);
	return d;
}

/* spool_txn_docket_put - store data as the docket of key */
void spool_txn_docket_put(struct spool_txn *t, const char *key, const void *data, size_t len)
{
	struct spool_dkop *d;

	if (!spool_docket_key_ok(key))
		log_panic("spool_txn_docket_put: bad key");
	if (len > SPOOL_DOCKET_MAX) {
		/* the value may come from a peer's text: the transaction
		 * fails, the program goes on */
		errno = EFBIG;
		spool_txn_fail(t, "docket put: a value of %zu octets (at most %d)", len,
		    SPOOL_DOCKET_MAX);
		return;
	}
	d = spool_txn_dkop(t, key);
	d->val = xmemdup(len ? data : "", len ? len : 1);
	d->vlen = len;
}

/* spool_txn_docket_del - remove the docket of key */
void spool_txn_docket_del(struct spool_txn *t, const char *key)
{
	if (!spool_docket_key_ok(key))
		log_panic("spool_txn_docket_del: bad key");
	spool_txn_dkop(t, key)->del = 1;
}

/* spool_txn_journal - add a journal line */
void spool_txn_journal(struct spool_txn *t, const char *event, const char *name,
	const char *const *kv, size_t nkv)
{
	if (journal_format(&t->lines, NULL, event, name, kv, nkv) < 0)
		log_panic("spool_txn_journal: more than %d octets of lines", SPOOL_TXN_LINES_MAX);
	t->nlines++;
}

/*
 * Transactions: undo and free
 */

/* spool_untrash - rename the trash of a remove back to NAME in its
 * directory, not when that name is taken. 0, or -1 (logged: the file
 * stays as trash, which recovery removes: only a second failure gets
 * here) */
static int spool_untrash(struct spool *sp, const struct spool_op *op, const char *name)
{
	char    tn[SPOOL_TRASHLEN];
	int     d = (int) op->from;
	struct stat sb;

	spool_trash_name(op->trash, tn, sizeof(tn));
	if (fstatat(sp->dfd[d], name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		errno = EEXIST;
	else if (sys_renameat(sp->dfd[d], tn, sp->dfd[d], name) == 0)
		return 0;
	log_warn("spool: undo: rename '%s/%s' to '%s/%s': %s", spool_dirname(d), tn,
	    spool_dirname(d), name, strerror(errno));
	return -1;
}

/* spool_uncommit - rename the file of an applied commit back to
 * tmp/NAME, never over a file there. 0, or -1 (logged) when it cannot:
 * then its name in the state is unlinked (a failed transaction leaves
 * no file) and tmp/NAME, if any, is not its own */
static int spool_uncommit(struct spool *sp, const struct spool_op *op)
{
	struct stat sb;

	if (fstatat(sp->dfd[SPOOL_TMP], op->name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
	} else if (sys_renameat(sp->dfd[op->to], op->name, sp->dfd[SPOOL_TMP], op->name) == 0) {
		crash_point("spool-after-undo");
		return 0;
	}
	log_warn("spool: undo: rename '%s/%s' to 'tmp/%s': %s", spool_states[op->to], op->name,
	    op->name, strerror(errno));
	if (unlinkat(sp->dfd[op->to], op->name, 0) < 0)
		log_warn("spool: undo: unlink '%s/%s': %s", spool_states[op->to], op->name,
		    strerror(errno));
	return -1;
}

/* spool_op_undo - reverse or discard one op (best effort; worker or loop) */
static void spool_op_undo(struct spool *sp, struct spool_op *op)
{
	struct stat sb;

	switch (op->kind) {
	case OP_COMMIT:
		if (op->fd >= 0) {
			close(op->fd);
			op->fd = -1;
		}
		/* back to tmp/, whence the failed transaction's file goes
		 * as one never committed */
		if (op->applied && spool_uncommit(sp, op) < 0)
			break;
		(void) unlinkat(sp->dfd[SPOOL_TMP], op->name, 0);
		break;
	case OP_MOVE:
		if (op->applied && sys_renameat(sp->dfd[op->to], op->newname,
		    sp->dfd[op->from], op->name) < 0)
			log_warn("spool: undo: rename '%s/%s' to '%s/%s': %s",
			    spool_states[op->to], op->newname, spool_states[op->from],
			    op->name, strerror(errno));
		else if (op->applied)
			crash_point("spool-after-undo");
		break;
	case OP_CLAIM:
		/* Back to out/ unless a new drop took the name meanwhile. */
		if (fstatat(sp->dfd[SPOOL_OUT], op->name, &sb, AT_SYMLINK_NOFOLLOW) == 0
		    || sys_renameat(sp->dfd[op->to], op->newname,
		    sp->dfd[SPOOL_OUT], op->name) < 0)
			log_warn("spool: undo: claim of 'out/%s' stays as '%s/%s'",
			    op->name, spool_states[op->to], op->newname);
		if (op->mark)
			(void) unlinkat(sp->dfd[SPOOL_TMP], op->mark, 0);
		break;
	case OP_REMOVE:
		/* back from the trash */
		if (op->applied && spool_untrash(sp, op, op->name) == 0)
			crash_point("spool-after-undo");
		break;
	default:
		break;
	}
	op->applied = 0;
	op->trashed = 0;
}

/* spool_txn_undo - undo every op in reverse */
static void spool_txn_undo(struct spool_txn *t)
{
	size_t  i;

	for (i = t->nops; i-- > 0;)
		spool_op_undo(t->sp, &t->ops[i]);
}

/* spool_txn_free - free memory only */
static void spool_txn_free(struct spool_txn *t)
{
	size_t  i;

	for (i = 0; i < t->nops; i++) {
		if (t->ops[i].kind == OP_COMMIT)
			spool_busy_del(t->sp, t->ops[i].name);
		free(t->ops[i].name);
		free(t->ops[i].newname);
		free(t->ops[i].mark);
	}
	free(t->ops);
	for (i = 0; i < t->ndk; i++) {
		free(t->dk[i].key);
		free(t->dk[i].val);
	}
	free(t->dk);
	for (i = 0; i < t->nafter; i++)
		free(t->after[i]);
	free(t->after);
	buf_release(&t->dkl);
	buf_release(&t->lines);
	free(t);
}

/* spool_txn_abort - drop an unsubmitted transaction */
void spool_txn_abort(struct spool_txn *t)
{
	if (t == NULL)
		return;
	spool_txn_undo(t);
	spool_txn_free(t);
}

/* spool_txn_fail - record the first failure of t: "spool: " fmt ": reason" */
static void spool_txn_fail(struct spool_txn *t, const char *fmt, ...)
{
	va_list ap;
	int     saved = errno, n;
	size_t  len = sizeof(t->err);

	if (t->failed)
		return;
	t->failed = 1;
	n = snprintf(t->err, len, "spool: ");
	va_start(ap, fmt);
	if (n >= 0 && (size_t) n < len)
		n += vsnprintf(t->err + n, len - (size_t) n, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t) n < len)
		snprintf(t->err + n, len - (size_t) n, ": %s", strerror(saved));
	errno = saved;
}

/*
 * Stage 1: prepare (worker)
 */

static void spool_txn_prepare(void *arg)
{
	struct spool_txn *t = arg;
	struct spool *sp = t->sp;
	struct spool_op *op;
	struct stat sb;
	size_t  i;
	int     fd;

	for (i = 0; i < t->nops && !t->failed; i++) {
		op = &t->ops[i];
		switch (op->kind) {
		case OP_COMMIT:
			if (sys_fsync(op->fd) < 0) {
				spool_txn_fail(t, "fsync 'tmp/%s'", op->name);
				break;
			}
			t->file_syncs++;
			if (fstat(op->fd, &sb) == 0)
				op->ino = (uint64_t) sb.st_ino;
			fd = op->fd;
			op->fd = -1;
			if (close(fd) < 0)
				spool_txn_fail(t, "close 'tmp/%s'", op->name);
			break;
		case OP_CLAIM:
			fd = sys_openat(sp->dfd[op->to], op->newname, O_RDONLY | O_CLOEXEC, 0);
			if (fd < 0) {
				spool_txn_fail(t, "open '%s/%s'", spool_states[op->to], op->newname);
				break;
			}
			if (sys_fsync(fd) < 0)
				spool_txn_fail(t, "fsync '%s/%s' (claimed 'out/%s')",
				    spool_states[op->to], op->newname, op->name);
			else
				t->file_syncs++;
			close(fd);
			break;
		default:
			break;
		}
	}
	if (t->failed)
		spool_txn_undo(t);
	else
		crash_point("spool-prepared");
}

/*
 * Stage 2: apply a batch (worker)
 */

/* spool_op_apply - one op; 0 or -1 (t failed); *dirs gets the dirs changed */
static int spool_op_apply(struct spool_txn *t, struct spool_op *op, unsigned *dirs)
{
	struct spool *sp = t->sp;
	char    from[4096], tn[SPOOL_TRASHLEN];
	struct stat sb;

	if (op->trash)
		spool_trash_name(op->trash, tn, sizeof(tn));
	switch (op->kind) {
	case OP_COMMIT:
		/* The commit point: one rename, never over a file (checked
		 * as for moves). Only the target joins the directory fsyncs:
		 * a tmp/ name that a crash brings back (its removal not
		 * synced) is a link of a committed file, which recovery
		 * removes (doc/spool.md). */
		if (fstatat(sp->dfd[op->to], op->name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			spool_txn_fail(t, "rename 'tmp/%s' to '%s/%s'", op->name,
			    spool_states[op->to], op->name);
			return -1;
		}
		if (sys_renameat(sp->dfd[SPOOL_TMP], op->name, sp->dfd[op->to], op->name) < 0) {
			spool_txn_fail(t, "rename 'tmp/%s' to '%s/%s'", op->name,
			    spool_states[op->to], op->name);
			return -1;
		}
		op->applied = 1;
		*dirs |= 1u << op->to;
		crash_point("spool-after-link");
		return 0;
	case OP_MOVE:
		if (fstatat(sp->dfd[op->to], op->newname, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			spool_txn_fail(t, "rename '%s/%s' to '%s/%s'", spool_states[op->from],
			    op->name, spool_states[op->to], op->newname);
			return -1;
		}
		if (sys_renameat(sp->dfd[op->from], op->name, sp->dfd[op->to], op->newname) < 0) {
			spool_txn_fail(t, "rename '%s/%s' to '%s/%s'", spool_states[op->from],
			    op->name, spool_states[op->to], op->newname);
			return -1;
		}
		op->applied = 1;
		*dirs |= 1u << op->from | 1u << op->to;
		return 0;
	case OP_REMOVE:
		/* renamed to its trash, kept until the batch is over for an
		 * undo; never over a file (a trash name is never reused) */
		if (fstatat(sp->dfd[op->from], tn, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			spool_txn_fail(t, "remove: rename '%s/%s' to '%s/%s'",
			    spool_states[op->from], op->name, spool_states[op->from], tn);
			return -1;
		}
		if (sys_renameat(sp->dfd[op->from], op->name, sp->dfd[op->from], tn) < 0) {
			spool_txn_fail(t, "remove: rename '%s/%s' to '%s/%s'",
			    spool_states[op->from], op->name, spool_states[op->from], tn);
			return -1;
		}
		op->applied = op->trashed = 1;
		*dirs |= 1u << op->from;
		crash_point("spool-after-trash");
		return 0;
	case OP_CLAIM:
		/* The intent record now covers the claim: its marker goes, and
		 * durably so (tmp/ joins the directory fsyncs) before the
		 * record can be overwritten by the next batch. */
		op->applied = 1;
		*dirs |= 1u << SPOOL_OUT | 1u << op->to | 1u << SPOOL_TMP;
		if (op->mark && (!spool_path(sp, SPOOL_TMP, op->mark, from, sizeof(from))
		    || (sys_unlink(from) < 0 && errno != ENOENT))) {
			spool_txn_fail(t, "unlink 'tmp/%s'", op->mark);
			return -1;
		}
		return 0;
	default:
		break;
	}
	return 0;
}

/* spool_rotate - journal -> journal.1 -> ... (worker, batch held); 0 or -1 */
static int spool_rotate(struct spool *sp, char *err, size_t errlen)
{
	char    a[64], b[64];
	unsigned long max = 0, n;
	uint64_t v;
	DIR    *d;
	struct dirent *e;
	struct stat sb;
	int     fd, dfd;

	if ((dfd = openat(sp->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
	    || (d = fdopendir(dfd)) == NULL) {
		spool_errf(err, errlen, "rotate: scan '%s'", sp->dir);
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "journal.", 8) == 0
		    && str_to_u64(e->d_name + 8, 1, 999999998, &v) == 0 && v > max)
			max = (unsigned long) v;
	closedir(d);
	if (sp->journal_keep && max >= sp->journal_keep) {
		for (n = max; n >= sp->journal_keep; n--) {
			snprintf(a, sizeof(a), "journal.%lu", n);
			(void) unlinkat(sp->rootfd, a, 0);
		}
		max = sp->journal_keep - 1;
	}
	for (n = max; n >= 1; n--) {
		snprintf(a, sizeof(a), "journal.%lu", n);
		snprintf(b, sizeof(b), "journal.%lu", n + 1);
		if (sys_renameat(sp->rootfd, a, sp->rootfd, b) < 0 && errno != ENOENT) {
			spool_errf(err, errlen, "rotate: rename '%s' to '%s'", a, b);
			return -1;
		}
	}
	if (sys_renameat(sp->rootfd, "journal", sp->rootfd, "journal.1") < 0) {
		spool_errf(err, errlen, "rotate: rename 'journal' to 'journal.1'");
		return -1;
	}
	fd = sys_openat(sp->rootfd, "journal", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		spool_errf(err, errlen, "rotate: create 'journal'");
		return -1;
	}
	close(sp->jfd);
	sp->jfd = fd;
	sp->jsize = 0;
	if (fstat(fd, &sb) == 0)
		sp->jino = (uint64_t) sb.st_ino;
	if (sys_fsync(sp->rootfd) < 0) {
		spool_errf(err, errlen, "rotate: fsync '%s'", sp->dir);
		return -1;
	}
	return 0;
}

/*
 * spool_rotate_snap - the journal is full: a docket snapshot covering it
 * to its end, then the rotation (worker, batch held). The snapshot comes
 * first so that no rotation passes a snapshot: the newest one is in the
 * current journal or at the end of journal.1, the one before it
 * (dockets.snap.1, the fallback) no further back than journal.1, which
 * every rotation keeps. A failed snapshot leaves the journal to grow and
 * is tried again after another eighth of journal_max.
 */
static void spool_rotate_snap(struct spool_batch *b)
{
	struct spool *sp = b->sp;

	/* unconverted docket files: nothing of them in the log yet */
	if (!sp->dk_legacy) {
		if (spool_snapshot(sp, b->warn, sizeof(b->warn)) < 0) {
			sp->snap_retry = sp->jsize + sp->journal_max / 8 + 1;
			return;
		}
		b->snapshots++;
		sp->snap_retry = 0;
	}
	/* The record names the old journal by inode; once that file may be
	 * deleted, its inode may be reused for a new journal. */
	if (spool_rotate(sp, b->warn, sizeof(b->warn)) == 0) {
		b->rotations++;
		if (spool_intent_clear(sp, b->warn, sizeof(b->warn)) == 0)
			b->intent_syncs++;
	}
}

/* spool_log_lines - log the journal lines data[0..len) (each ending in
 * a newline; timed: each begins with its time) as spool_opts.log_lines
 * says. Docket records are the spool's own and are not logged. */
static void spool_log_lines(const struct spool *sp, const unsigned char *data, size_t len,
	int timed)
{
	const char *p = (const char *) data, *end = p + len, *nl, *ev, *name, *rest;
	size_t  evlen, namelen;

	if (!sp->log_lines)
		return;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			break;
		ev = p;
		if (timed && (ev = memchr(p, ' ', (size_t) (nl - p))) != NULL)
			ev++;
		if (ev == NULL || (name = memchr(ev, ' ', (size_t) (nl - ev))) == NULL)
			continue;
		evlen = (size_t) (name - ev);
		name++;
		if ((rest = memchr(name, ' ', (size_t) (nl - name))) == NULL)
			rest = nl;
		namelen = (size_t) (rest - name);
		if (evlen == strlen(DKMAP_EVENT) && memcmp(ev, DKMAP_EVENT, evlen) == 0)
			continue;
		/* the line is the journal's, escaped by its writer: no
		 * value in it holds a raw space or control octet */
		if (namelen == 1 && name[0] == '-')
			log_info("%.*s%.*s", (int) evlen, ev, (int) (nl - rest), rest);
		else
			log_info("%.*s: %.*s%.*s", (int) namelen, name, (int) evlen, ev,
			    (int) (nl - rest), rest);
	}
}

/* spool_journal_time - the current time for journal lines */
static void spool_journal_time(char *buf, size_t len)
{
	(void) str_iso8601(time(NULL), buf, len);
}

/*
 * The intent record. Before a batch changes any file it writes one
 * record (spool/intent.h) saying what it is about to do: each
 * transaction's operations with the identity (inode) of the file each
 * acts on, and its journal lines with their time, as they will be
 * appended at the journal's current size. Recovery compares the journal
 * with the record: if the lines are not there, the batch was cut short,
 * and recovery completes or undoes each transaction and writes the
 * lines of those that stand. A batch without lines, or without file
 * operations, needs no record: nothing could be missing or left over.
 */

struct spool_ident {
	int	dir;
	const char *name;
	uint64_t ino;		/* 0: vacated by an earlier operation */
};

struct spool_idmap {
	struct spool_ident *v;
	size_t	mask;
};

/* spool_idmap_slot - the slot of (dir, name): its entry or a free one */
static struct spool_ident *spool_idmap_slot(struct spool_idmap *m, int dir, const char *name)
{
	size_t  h = (size_t) (spool_fnv(name) ^ (uint64_t) dir) & m->mask;

	while (m->v[h].name && (m->v[h].dir != dir || strcmp(m->v[h].name, name) != 0))
		h = (h + 1) & m->mask;
	return &m->v[h];
}

/* spool_idmap_put - (dir, name) holds ino after the operations so far */
static void spool_idmap_put(struct spool_idmap *m, int dir, const char *name, uint64_t ino)
{
	struct spool_ident *e = spool_idmap_slot(m, dir, name);

	e->dir = dir;
	e->name = name;
	e->ino = ino;
}

/* spool_idmap_get - the inode at (dir, name) after the batch's earlier
 * operations, else on disk now; 0 when none */
static uint64_t spool_idmap_get(struct spool *sp, struct spool_idmap *m, int dir,
	const char *name)
{
	struct spool_ident *e = spool_idmap_slot(m, dir, name);
	struct stat sb;

	if (e->name)
		return e->ino;
	return fstatat(sp->dfd[dir], name, &sb, AT_SYMLINK_NOFOLLOW) == 0
	    ? (uint64_t) sb.st_ino : 0;
}

/* spool_batch_idents - the inode each operation will act on. Commits,
 * claims and docket puts know theirs; a move, remove or docket delete
 * acts on what an earlier operation of the batch put at its source, or
 * else on what is there now. */
static void spool_batch_idents(struct spool_batch *b)
{
	struct spool *sp = b->sp;
	struct spool_txn *t;
	struct spool_op *op;
	struct spool_idmap m;
	size_t  n = 0, size = 16, i;

	for (t = b->head; t; t = t->next)
		if (!t->failed)
			n += t->nops;
	while (size < 4 * n)
		size *= 2;
	m.v = xcalloc(size, sizeof(*m.v));
	m.mask = size - 1;
	for (t = b->head; t; t = t->next) {
		if (t->failed)
			continue;
		for (i = 0; i < t->nops; i++) {
			op = &t->ops[i];
			switch (op->kind) {
			case OP_COMMIT:
				spool_idmap_put(&m, op->to, op->name, op->ino);
				break;
			case OP_CLAIM:
				spool_idmap_put(&m, op->to, op->newname, op->ino);
				break;
			case OP_MOVE:
				op->ino = spool_idmap_get(sp, &m, op->from, op->name);
				spool_idmap_put(&m, op->from, op->name, 0);
				spool_idmap_put(&m, op->to, op->newname, op->ino);
				break;
			case OP_REMOVE:
				op->ino = spool_idmap_get(sp, &m, op->from, op->name);
				spool_idmap_put(&m, op->from, op->name, 0);
				break;
			default:
				break;
			}
		}
	}
	free(m.v);
}

/* spool_lines_timed - append lines (len octets of "...\n" lines) with
 * tm and a space before each; 0, or -1 at out's cap */
static int spool_lines_timed(const struct buf *lines, const char *tm, size_t tl,
	struct buf *out)
{
	const unsigned char *p = buf_data(lines), *nl;
	size_t  left = lines->len;

	while (left > 0) {
		nl = memchr(p, '\n', left);
		PANIC_IF(nl == NULL);
		if (buf_append(out, tm, tl) < 0 || buf_putc(out, ' ') < 0
		    || buf_append(out, p, (size_t) (nl - p) + 1) < 0)
			return -1;
		left -= (size_t) (nl - p) + 1;
		p = nl + 1;
	}
	return 0;
}

/* spool_txn_timed - t's lines as the batch appends them, timed tm: its
 * docket records first (so that a group cut short by a crash is the
 * end of the batch's write: doc/spool.md), then its other lines; 0 or
 * -1 at out's cap */
static int spool_txn_timed(const struct spool_txn *t, const char *tm, struct buf *out)
{
	size_t  tl = strlen(tm);

	return spool_lines_timed(&t->dkl, tm, tl, out) < 0
	    || spool_lines_timed(&t->lines, tm, tl, out) < 0 ? -1 : 0;
}

/* spool_txn_linelen - octets of t's lines timed with a time of tl octets */
static size_t spool_txn_linelen(const struct spool_txn *t, size_t tl)
{
	return t->dkl.len + t->lines.len + (t->ndkl + t->nlines) * (tl + 1);
}

/* spool_intent_write - write and sync the record of the batch's
 * transactions that have not failed, with lines timed tm; when they
 * leave no lines or no operations, clear the record instead. b->intent_lines
 * gets the octets of lines recorded. 0, or -1 with err. */
static int spool_intent_write(struct spool_batch *b, const char *tm, char *err, size_t errlen)
{
	struct spool *sp = b->sp;
	struct buf *rec = &sp->irec;
	struct spool_txn *t;
	struct spool_op *op;
	struct intent_op io;
	size_t  i, n = 0, tl = strlen(tm), lines = 0, ops = 0, linelen;

	if (intent_begin(rec, sp->jino, sp->jsize) < 0)
		goto toobig;
	for (t = b->head; t; t = t->next) {
		if (t->failed)
			continue;
		linelen = spool_txn_linelen(t, tl);
		if (intent_put_txn(rec, t->nops, linelen) < 0)
			goto toobig;
		for (i = 0; i < t->nops; i++) {
			op = &t->ops[i];
			io.kind = op->kind;
			io.from = op->from;
			io.to = op->to;
			io.ino = op->ino;
			io.trash = op->trash;
			io.name = op->name;
			io.newname = op->newname;
			io.dkfile = io.dktmp = NULL;
			if (intent_put_op(rec, &io) < 0)
				goto toobig;
		}
		if (spool_txn_timed(t, tm, rec) < 0)
			goto toobig;
		lines += linelen;
		ops += t->nops;
		n++;
	}
	b->intent_lines = 0;
	if (lines == 0 || ops == 0)
		return spool_intent_clear(sp, err, errlen);
	intent_seal(rec, n);
	if (spool_intent_put(sp, buf_data(rec), rec->len, err, errlen) < 0)
		return -1;
	b->intent_lines = lines;
	return 0;
toobig:
	errno = EFBIG;
	spool_errf(err, errlen, "write 'intent'");
	return -1;
}

/* spool_batch_apply - stage 2 for a list of transactions (worker) */
static void spool_batch_apply(struct spool_batch *b)
{
	struct spool *sp = b->sp;
	struct spool_txn *t, **tv;
	struct spool_op *op;
	struct buf jl = BUF_INIT(SIZE_MAX / 2);
	unsigned dirs = 0, tdirs;
	char    berr[SPOOL_ERRLEN] = "", tm[32], path[4096], tn[SPOOL_TRASHLEN];
	size_t  i, n;
	int     d, ops = 0, lines = 0, intent = 0, dropped = 0, dockets = 0;

	/* The lines' time is fixed first: the record holds them exactly as
	 * they will be appended. */
	b->t0 = time(NULL);
	(void) str_iso8601(b->t0, tm, sizeof(tm));
	for (t = b->head; t; t = t->next)
		if (!t->failed) {
			for (i = 0; i < t->nops; i++)
				ops |= !t->ops[i].bare;
			lines |= t->lines.len > 0 || t->dkl.len > 0;
		}
	if (ops && lines) {
		intent = 1;		/* from here on a failure clears the record */
		spool_batch_idents(b);
		if (spool_intent_write(b, tm, berr, sizeof(berr)) < 0)
			goto batch_fail;
		b->intent_syncs++;
		crash_point("spool-after-intent");
	}
	for (t = b->head; t; t = t->next) {
		if (t->failed)
			continue;
		tdirs = 0;
		for (i = 0; i < t->nops; i++)
			if (spool_op_apply(t, &t->ops[i], &tdirs) < 0)
				break;
		if (t->failed) {
			spool_txn_undo(t);
			dirs |= tdirs;		/* the undo touched them too */
			dropped = 1;
			continue;
		}
		dirs |= tdirs;
	}
	/* A transaction undone here is reported as failed: the record must
	 * no longer hold it, or recovery could complete it after all. */
	if (intent && dropped) {
		if (spool_intent_write(b, tm, berr, sizeof(berr)) < 0)
			goto batch_fail;
		b->intent_syncs++;
	}
	crash_point("spool-after-ops");
	for (d = 0; d < SPOOL_NDIRS; d++) {
		if (!(dirs & 1u << d))
			continue;
		if (sys_fsync(sp->dfd[d]) < 0) {
			if (!berr[0])
				spool_errf(berr, sizeof(berr), "fsync '%s'", spool_dirname(d));
			continue;
		}
		b->dir_syncs++;
	}
	if (berr[0])
		goto batch_fail;
	crash_point("spool-after-dirsync");

	for (t = b->head; t; t = t->next) {
		if (t->failed)
			continue;
		PANIC_IF(spool_txn_timed(t, tm, &jl) < 0);
		b->lines += t->nlines + t->ndkl;
		b->dockets += t->ndkl;
		dockets |= t->ndk > 0;
	}
	if (jl.len > 0) {
		if (write_full(sp->jfd, buf_data(&jl), jl.len) < 0) {
			spool_errf(berr, sizeof(berr), "write 'journal'");
			goto journal_fail;
		}
		crash_point("spool-after-journal-write");
		if (sys_fdatasync(sp->jfd) < 0) {
			spool_errf(berr, sizeof(berr), "fsync 'journal'");
			goto journal_fail;
		}
		b->journal_syncs++;
		sp->jsize += jl.len;
	}
	PANIC_IF(intent && b->intent_lines && b->intent_lines != jl.len);
	/* Committed: the map learns the batch's dockets now, never before,
	 * so a failed batch never changed it (doc/spool.md "Dockets"). */
	if (dockets) {
		pthread_mutex_lock(&sp->dk_lock);
		for (t = b->head; t; t = t->next) {
			if (t->failed)
				continue;
			for (i = 0; i < t->ndk; i++) {
				if (t->dk[i].del)
					(void) dkmap_del(sp->dk, t->dk[i].key);
				else
					dkmap_put(sp->dk, t->dk[i].key, t->dk[i].val, t->dk[i].vlen,
					    (int64_t) b->t0);
			}
		}
		pthread_mutex_unlock(&sp->dk_lock);
		sp->dk_dirty = 1;
	}
	crash_point("spool-after-journal-sync");

	/* Committed. The trash was kept for an undo: it needs no fsync to
	 * go (a leftover is removed by recovery). */
	for (t = b->head; t; t = t->next) {
		if (t->failed)
			continue;
		for (i = 0; i < t->nops; i++) {
			op = &t->ops[i];
			if (op->trashed) {
				spool_trash_name(op->trash, tn, sizeof(tn));
				snprintf(path, sizeof(path), "%s/%s/%s", sp->dir,
				    spool_states[op->from], tn);
				(void) sys_unlink(path);
				op->trashed = 0;
			}
		}
		for (i = 0; i < t->nafter; i++) {
			if (spool_pool_put(sp, t->after[i]) == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", sp->dir, t->after[i]);
			if (sys_unlink(path) < 0 && errno != ENOENT)
				log_warn("spool: unlink '%s': %s", t->after[i], strerror(errno));
		}
	}
	if (sp->jsize >= sp->journal_max && sp->jsize >= sp->snap_retry)
		spool_rotate_snap(b);
	buf_release(&jl);
	return;

journal_fail:
	/* A torn append must not stay: cut the journal back. */
	if (ftruncate(sp->jfd, (off_t) sp->jsize) < 0)
		log_warn("spool: truncate 'journal' to %llu: %s",
		    (unsigned long long) sp->jsize, strerror(errno));
batch_fail:
	/* last transaction first: a later one may act on what an earlier
	 * one left (a move of a file it moved, a docket it put) */
	for (n = 0, t = b->head; t; t = t->next)
		n++;
	tv = xcalloc(n ? n : 1, sizeof(*tv));
	for (n = 0, t = b->head; t; t = t->next)
		tv[n++] = t;
	while (n-- > 0) {
		t = tv[n];
		if (t->failed)
			continue;
		spool_txn_undo(t);
		t->failed = 1;
		str_copy(t->err, berr, sizeof(t->err));
	}
	free(tv);
	for (d = 0; d < SPOOL_NDIRS; d++)
		if (dirs & 1u << d)
			(void) sys_fsync(sp->dfd[d]);
	/* undone: the record must not make recovery redo any of it */
	if (intent && spool_intent_clear(sp, b->warn, sizeof(b->warn)) == 0)
		b->intent_syncs++;
	buf_release(&jl);
}

/*
 * Pipeline (loop thread)
 */

static void spool_kick(void *arg);

/* spool_txn_finish - count, call back, free (loop thread) */
static void spool_txn_finish(struct spool_txn *t)
{
	struct spool *sp = t->sp;

	sp->st.txns++;
	sp->st.file_syncs += t->file_syncs;
	if (t->failed)
		sp->st.txns_failed++;
	else
		spool_log_lines(sp, buf_data(&t->lines), t->lines.len, 0);
	sp->pending--;
	/* Nobody waits for the outcome: the failure must not go unseen. */
	if (t->failed && t->done == NULL)
		log_error("%s", t->err);
	if (t->done)
		t->done(t->arg, !t->failed, t->failed ? t->err : NULL);
	spool_txn_free(t);
}

static void spool_batch_work(void *arg)
{
	spool_batch_apply(arg);
}

/* spool_batch_done - a batch is back: callbacks, then the next batch */
static void spool_batch_done(void *arg)
{
	struct spool_batch *b = arg;
	struct spool *sp = b->sp;
	struct spool_txn *t, *next;

	sp->batch_inflight = 0;
	sp->st.batches++;
	sp->st.dir_syncs += b->dir_syncs;
	sp->st.journal_syncs += b->journal_syncs;
	sp->st.intent_syncs += b->intent_syncs;
	sp->st.lines += b->lines;
	sp->st.rotations += b->rotations;
	sp->st.dockets += b->dockets;
	sp->st.snapshots += b->snapshots;
	if (b->warn[0])
		log_warn("%s", b->warn);
	for (t = b->head; t; t = next) {
		next = t->next;
		spool_txn_finish(t);
	}
	free(b);
	spool_kick(sp);
}

/* spool_kick - start a batch with everything ready, if none is in flight */
static void spool_kick(void *arg)
{
	struct spool *sp = arg;
	struct spool_batch *b;

	sp->kick_posted = 0;
	if (sp->batch_inflight || sp->ready_head == NULL)
		return;
	b = xcalloc(1, sizeof(*b));
	b->sp = sp;
	b->head = sp->ready_head;
	sp->ready_head = sp->ready_tail = NULL;
	sp->batch_inflight = 1;
	workq_submit(sp->wq, spool_batch_work, spool_batch_done, b);
}

/* spool_txn_prepared - stage 1 is back (loop thread) */
static void spool_txn_prepared(void *arg)
{
	struct spool_txn *t = arg;
	struct spool *sp = t->sp;

	if (t->failed) {
		spool_txn_finish(t);
		return;
	}
	t->next = NULL;
	if (sp->ready_tail)
		sp->ready_tail->next = t;
	else
		sp->ready_head = t;
	sp->ready_tail = t;
	/* Let the loop run the other completions already posted first, so
	 * that they join this batch. */
	if (!sp->kick_posted) {
		sp->kick_posted = 1;
		loop_post(sp->loop, spool_kick, sp);
	}
}

/* spool_txn_finish_post - spool_txn_finish() posted to the loop */
static void spool_txn_finish_post(void *arg)
{
	spool_txn_finish(arg);
}

/* spool_txn_dkseal - t's docket changes as records (its group), or fail t */
static void spool_txn_dkseal(struct spool_txn *t)
{
	struct spool *sp = t->sp;
	struct dkmap_op *o;
	size_t  i;

	if (sp->dk_legacy) {
		errno = EAGAIN;
		spool_txn_fail(t, "dockets: 'dockets/' holds %u docket files of an older version, "
		    "not converted yet (spool_recover() converts them)", sp->dk_legacy);
		return;
	}
	o = xcalloc(t->ndk, sizeof(*o));
	for (i = 0; i < t->ndk; i++) {
		o[i].del = t->dk[i].del;
		o[i].key = t->dk[i].key;
		o[i].val = t->dk[i].val;
		o[i].vlen = t->dk[i].vlen;
	}
	if (dkmap_records(&t->dkl, o, t->ndk, t->nlines, &t->ndkl) < 0) {
		errno = EFBIG;
		spool_txn_fail(t, "docket records of a transaction: more than %zu octets or %d "
		    "lines", (size_t) SPOOL_TXN_DK_MAX, DKMAP_GROUP_MAX);
	}
	free(o);
}

/* spool_txn_submit - hand t over */
void spool_txn_submit(struct spool_txn *t, spool_done_fn *done, void *arg)
{
	struct spool *sp = t->sp;
	struct spool_batch b;

	t->done = done;
	t->arg = arg;
	sp->pending++;
	if (!t->failed && t->ndk > 0)
		spool_txn_dkseal(t);
	if (t->failed) {
		/* failed while being built (a docket too large): nothing of
		 * it may stay; the callback still comes from the loop */
		spool_txn_undo(t);
		if (sp->loop)
			loop_post(sp->loop, spool_txn_finish_post, t);
		else
			spool_txn_finish(t);
		return;
	}
	if (sp->wq) {
		size_t  i;

		/* nothing to fsync (no new or claimed file): straight to the
		 * next batch, without a trip through a worker */
		for (i = 0; i < t->nops; i++)
			if (t->ops[i].kind == OP_COMMIT || t->ops[i].kind == OP_CLAIM)
				break;
		if (i == t->nops) {
			crash_point("spool-prepared");
			spool_txn_prepared(t);
		} else
			workq_submit(sp->wq, spool_txn_prepare, spool_txn_prepared, t);
		return;
	}
	spool_txn_prepare(t);
	if (!t->failed) {
		memset(&b, 0, sizeof(b));
		b.sp = sp;
		b.head = t;
		t->next = NULL;
		spool_batch_apply(&b);
		sp->st.batches++;
		sp->st.dir_syncs += b.dir_syncs;
		sp->st.journal_syncs += b.journal_syncs;
		sp->st.intent_syncs += b.intent_syncs;
		sp->st.lines += b.lines;
		sp->st.rotations += b.rotations;
		sp->st.dockets += b.dockets;
		sp->st.snapshots += b.snapshots;
		if (b.warn[0])
			log_warn("%s", b.warn);
	}
	spool_txn_finish(t);
}

struct spool_waiter {
	int	done;
	int	ok;
	char	err[SPOOL_ERRLEN];
};

static void spool_txn_waited(void *arg, int ok, const char *err)
{
	struct spool_waiter *w = arg;

	w->done = 1;
	w->ok = ok;
	if (!ok)
		str_copy(w->err, err, sizeof(w->err));
}

/* spool_txn_run - synchronous submit */
int spool_txn_run(struct spool_txn *t, char *err, size_t errlen)
{
	struct spool *sp = t->sp;
	struct spool_waiter w;

	memset(&w, 0, sizeof(w));
	spool_txn_submit(t, spool_txn_waited, &w);
	while (!w.done)
		(void) loop_run_once(sp->loop, 100);
	if (w.ok)
		return 0;
	if (err && errlen)
		str_copy(err, w.err, errlen);
	return -1;
}

/*
 * Dockets: synchronous access
 */

/* spool_dk_copy - a value as handed out: new memory, NUL one past */
static void *spool_dk_copy(const struct dkmap_ent *e, size_t *lenp)
{
	char   *v = xmalloc(e->vlen + 1);

	if (e->vlen)
		memcpy(v, e->val, e->vlen);
	v[e->vlen] = '\0';
	if (lenp)
		*lenp = e->vlen;
	return v;
}

/* spool_key_text - key escaped and cut for an error message */
static const char *spool_key_text(const char *key, char *buf, size_t len)
{
	size_t  n = strlen(key);

	(void) str_escape(buf, len, key, n > 100 ? 100 : n);
	return buf;
}

/* spool_docket_get - the value stored for key */
void *spool_docket_get(struct spool *sp, const char *key, size_t *lenp, time_t *mtime,
	char *err, size_t errlen)
{
	const struct dkmap_ent *e;
	char    kt[512];
	void   *v = NULL;

	if (!spool_docket_key_ok(key)) {
		errno = EINVAL;
		spool_errf(err, errlen, "docket get: key");
		return NULL;
	}
	pthread_mutex_lock(&sp->dk_lock);
	if ((e = dkmap_get(sp->dk, key)) != NULL) {
		v = spool_dk_copy(e, lenp);
		if (mtime)
			*mtime = (time_t) e->mtime;
	}
	pthread_mutex_unlock(&sp->dk_lock);
	if (v == NULL) {
		errno = ENOENT;
		spool_errf(err, errlen, "docket get %s", spool_key_text(key, kt, sizeof(kt)));
	}
	return v;
}

/* spool_docket_peek - read-only get without an open spool */
void *spool_docket_peek(const char *dir, const char *key, size_t *lenp, char *err,
	size_t errlen)
{
	struct dkstore_load res;
	const struct dkmap_ent *e;
	char    kt[512];
	void   *v = NULL;

	if (!spool_docket_key_ok(key)) {
		errno = EINVAL;
		snprintf(err, errlen, "spool: docket peek: bad key");
		return NULL;
	}
	if (dkstore_load(dir, key, 1, &res, err, errlen) < 0)
		return NULL;
	if ((e = dkmap_get(res.m, key)) != NULL) {
		v = spool_dk_copy(e, lenp);
	} else {
		errno = ENOENT;
		snprintf(err, errlen, "spool: docket peek %s: no such docket",
		    spool_key_text(key, kt, sizeof(kt)));
	}
	dkmap_free(res.m);
	return v;
}

/* spool_docket_peek_all - every docket without an open spool */
int spool_docket_peek_all(const char *dir, spool_docket_fn *fn, void *arg, char *err,
	size_t errlen)
{
	struct dkstore_load res;
	const struct dkmap_ent **v;
	size_t  n, i;
	int     rc = 0;

	if (dkstore_load(dir, NULL, 1, &res, err, errlen) < 0)
		return -1;
	v = dkmap_sorted(res.m, &n);
	for (i = 0; i < n && rc == 0; i++)
		rc = fn(arg, v[i]->key, v[i]->val, v[i]->vlen);
	free(v);
	dkmap_free(res.m);
	return rc;
}

/* spool_docket_each - live dockets with a key prefix: the keys are
 * taken (sorted) under the lock, then each value is copied when its
 * turn comes, so that fn may call anything of the spool, and a docket
 * deleted meanwhile (by fn, or by a batch committed) is skipped */
int spool_docket_each(struct spool *sp, const char *prefix, spool_docket_fn *fn, void *arg)
{
	const struct dkmap_ent **v, *e;
	char  **keys;
	size_t  n, i, len;
	void   *val;
	int     rc = 0;

	pthread_mutex_lock(&sp->dk_lock);
	v = dkmap_prefixed(sp->dk, prefix, &n);
	keys = xcalloc(n ? n : 1, sizeof(*keys));
	for (i = 0; i < n; i++)
		keys[i] = xstrdup(v[i]->key);
	pthread_mutex_unlock(&sp->dk_lock);
	free(v);
	for (i = 0; i < n; i++) {
		val = NULL;
		if (rc == 0) {
			pthread_mutex_lock(&sp->dk_lock);
			if ((e = dkmap_get(sp->dk, keys[i])) != NULL)
				val = spool_dk_copy(e, &len);
			pthread_mutex_unlock(&sp->dk_lock);
		}
		if (val != NULL) {
			rc = fn(arg, keys[i], val, len);
			free(val);
		}
		free(keys[i]);
	}
	free(keys);
	return rc;
}

/* spool_docket_put - synchronous durable put */
int spool_docket_put(struct spool *sp, const char *key, const void *data, size_t len,
	char *err, size_t errlen)
{
	struct spool_txn *t;

	if (!spool_docket_key_ok(key) || len > SPOOL_DOCKET_MAX) {
		errno = EINVAL;
		spool_errf(err, errlen, "docket put: key or size");
		return -1;
	}
	t = spool_txn_new(sp);
	spool_txn_docket_put(t, key, data, len);
	return spool_txn_run(t, err, errlen);
}

/* spool_docket_del - synchronous delete */
int spool_docket_del(struct spool *sp, const char *key, char *err, size_t errlen)
{
	struct spool_txn *t;

	if (!spool_docket_key_ok(key)) {
		errno = EINVAL;
		spool_errf(err, errlen, "docket del: key");
		return -1;
	}
	t = spool_txn_new(sp);
	spool_txn_docket_del(t, key);
	return spool_txn_run(t, err, errlen);
}

/* spool_docket_kept - 1 when key starts with one of the prefixes of keep
 * (NULL-terminated; NULL: none) */
static int spool_docket_kept(const char *key, const char *const *keep)
{
	for (; keep && *keep; keep++)
		if (strncmp(key, *keep, strlen(*keep)) == 0)
			return 1;
	return 0;
}

/* spool_docket_prune - remove dockets older than max_age seconds, but
 * those whose key starts with a prefix of keep: delete records,
 * SPOOL_PRUNE_TXN to a transaction */
int spool_docket_prune(struct spool *sp, int64_t max_age, time_t now,
	const char *const *keep, unsigned *removed, char *err, size_t errlen)
{
	const struct dkmap_ent **v;
	struct spool_txn *t;
	char  **old = NULL;
	size_t  n, i, nold = 0, k;
	unsigned done = 0;
	int     ret = 0;

	pthread_mutex_lock(&sp->dk_lock);
	v = dkmap_sorted(sp->dk, &n);
	for (i = 0; i < n; i++)
		if ((int64_t) now - v[i]->mtime > max_age
		    && !spool_docket_kept(v[i]->key, keep)) {
			if (old == NULL)
				old = xcalloc(n, sizeof(*old));
			old[nold++] = xstrdup(v[i]->key);
		}
	pthread_mutex_unlock(&sp->dk_lock);
	free(v);
	for (i = 0; i < nold && ret == 0; i += k) {
		t = spool_txn_new(sp);
		for (k = 0; k < SPOOL_PRUNE_TXN && i + k < nold; k++)
			spool_txn_docket_del(t, old[i + k]);
		if (spool_txn_run(t, err, errlen) < 0)
			ret = -1;
		else
			done += (unsigned) k;
	}
	for (i = 0; i < nold; i++)
		free(old[i]);
	free(old);
	if (removed)
		*removed = done;
	return ret;
}

/*
 * Recovery
 */

struct spool_seen {
	char   *name;
	int	state;
};

static int spool_seen_cmp(const void *a, const void *b)
{
	const struct spool_seen *x = a, *y = b;
	int     c = strcmp(x->name, y->name);

	return c ? c : x->state - y->state;
}

struct spool_collect {
	struct spool_seen *v;
	size_t	n, alloc;
	int	state;
};

static int spool_collect_fn(void *arg, const char *name)
{
	struct spool_collect *c = arg;

	if (c->n == c->alloc) {
		c->alloc = c->alloc ? 2 * c->alloc : 256;
		c->v = xrealloc(c->v, c->alloc * sizeof(*c->v));
	}
	c->v[c->n].name = xstrdup(name);
	c->v[c->n].state = c->state;
	c->n++;
	return 0;
}

/* spool_journal_direct - append and sync lines now (recovery); 0 or -1 */
static int spool_journal_direct(struct spool *sp, struct buf *lines, char *err, size_t errlen)
{
	if (lines->len == 0)
		return 0;
	if (write_full(sp->jfd, buf_data(lines), lines->len) < 0) {
		spool_errf(err, errlen, "write 'journal'");
		if (ftruncate(sp->jfd, (off_t) sp->jsize) < 0)
			log_warn("spool: truncate 'journal': %s", strerror(errno));
		return -1;
	}
	if (sys_fdatasync(sp->jfd) < 0) {
		spool_errf(err, errlen, "fsync 'journal'");
		return -1;
	}
	sp->jsize += lines->len;
	sp->st.journal_syncs++;
	spool_log_lines(sp, buf_data(lines), lines->len, 1);
	return 0;
}

/* spool_cut_torn - cut a torn last journal line; octets removed or -1 */
static int64_t spool_cut_torn(struct spool *sp, char *err, size_t errlen)
{
	char    tail[4096];
	off_t   end = (off_t) sp->jsize, pos, keep = 0;
	ssize_t n, i;
	size_t  want;
	int     fd;

	if (end == 0)
		return 0;
	if ((fd = openat(sp->rootfd, "journal", O_RDONLY | O_CLOEXEC)) < 0) {
		spool_errf(err, errlen, "open 'journal'");
		return -1;
	}
	for (pos = end; pos > 0;) {
		want = pos >= (off_t) sizeof(tail) ? sizeof(tail) : (size_t) pos;
		pos -= (off_t) want;
		if ((n = pread(fd, tail, want, pos)) != (ssize_t) want) {
			spool_errf(err, errlen, "read 'journal'");
			close(fd);
			return -1;
		}
		for (i = n; i-- > 0;)
			if (tail[i] == '\n') {
				keep = pos + i + 1;
				goto found;
			}
	}
found:
	close(fd);
	if (keep == end)
		return 0;
	if (ftruncate(sp->jfd, keep) < 0 || sys_fdatasync(sp->jfd) < 0) {
		spool_errf(err, errlen, "truncate 'journal'");
		return -1;
	}
	sp->jsize = (uint64_t) keep;
	return (int64_t) (end - keep);
}

/* spool_remove_matching - unlink the names of DIRFD that match; count */
static unsigned spool_remove_matching(int dirfd, int (*match)(const char *name))
{
	DIR    *d;
	struct dirent *e;
	unsigned n = 0;
	int     fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d)) != NULL)
		if (match(e->d_name) && unlinkat(dirfd, e->d_name, 0) == 0)
			n++;
	closedir(d);
	return n;
}

/* spool_remove_trash - remove the trash names in DIRFD; count */
static unsigned spool_remove_trash(int dirfd)
{
	return spool_remove_matching(dirfd, spool_trash_is);
}

static int is_dot_tmp(const char *name)
{
	return strncmp(name, ".tmp.", 5) == 0;
}

/* spool_remove_dot_tmp - remove DIRFD/.tmp.* ; count */
static unsigned spool_remove_dot_tmp(int dirfd)
{
	return spool_remove_matching(dirfd, is_dot_tmp);
}

/*
 * Recovery of a batch cut short: the intent record
 */

enum { RV_NONE, RV_DONE, RV_REDONE };

struct spool_rv {
	struct spool *sp;
	struct intent rec;
	unsigned char *st;	/* per operation: RV_* */
	unsigned dirs;		/* directories changed */
};

/* spool_at - 1 when DIR/NAME is the file of inode ino */
static int spool_at(const struct spool *sp, int dir, const char *name, uint64_t ino)
{
	struct stat sb;

	return ino != 0 && name != NULL
	    && fstatat(sp->dfd[dir], name, &sb, AT_SYMLINK_NOFOLLOW) == 0
	    && (uint64_t) sb.st_ino == ino;
}

/* spool_there - 1 when DIR/NAME exists */
static int spool_there(const struct spool *sp, int dir, const char *name)
{
	struct stat sb;

	return fstatat(sp->dfd[dir], name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

/* spool_dkfile_ok - a docket file name as the older version made them */
static int spool_dkfile_ok(const char *s)
{
	return s != NULL && s[0] != '.' && strchr(s, '/') == NULL;
}

/* spool_rv_valid - every operation of the record is one we could have
 * written (a record that passed its CRC but is not ours is ignored) */
static int spool_rv_valid(const struct spool *sp, const struct intent *rec)
{
	const struct intent_op *op;
	size_t  i;

	for (i = 0; i < rec->nop; i++) {
		op = &rec->op[i];
		if (op->from >= SPOOL_NSTATES || op->to >= SPOOL_NSTATES)
			return 0;
		switch (op->kind) {
		case OP_COMMIT:
			if (!spool_name_ok(op->name) || op->to == SPOOL_TMP)
				return 0;
			break;
		case OP_MOVE:
		case OP_CLAIM:
			if (!spool_name_ok(op->name) || !spool_name_ok(op->newname)
			    || op->to == SPOOL_TMP || op->from == SPOOL_TMP)
				return 0;
			break;
		case OP_REMOVE:
			if (!spool_name_ok(op->name) || op->from == SPOOL_TMP)
				return 0;
			break;
		case OP_DPUT:
			if (sp->dfd[SPOOL_DOCKDIR] < 0)
				return 0;	/* no docket files: not ours */
			if (!spool_dkfile_ok(op->dkfile) || op->dktmp == NULL
			    || strncmp(op->dktmp, ".tmp.", 5) != 0 || strchr(op->dktmp, '/'))
				return 0;
			break;
		case OP_DDEL:
			if (sp->dfd[SPOOL_DOCKDIR] < 0 || !spool_dkfile_ok(op->dkfile))
				return 0;
			break;
		default:
			return 0;
		}
	}
	return 1;
}

/* spool_rv_docket - 1 for the operations keyed by a docket file */
static int spool_rv_docket(const struct intent_op *op)
{
	return op->kind == OP_DPUT || op->kind == OP_DDEL;
}

/* spool_rv_later_done - a later operation on the same file is done: this
 * one was done before it (operations are applied in order) */
static int spool_rv_later_done(const struct spool_rv *rv, size_t k)
{
	const struct intent_op *a = &rv->rec.op[k], *b;
	size_t  j;

	for (j = k + 1; j < rv->rec.nop; j++) {
		b = &rv->rec.op[j];
		if (rv->st[j] != RV_DONE || spool_rv_docket(a) != spool_rv_docket(b))
			continue;
		if (spool_rv_docket(a) ? strcmp(a->dkfile, b->dkfile) == 0
		    : a->ino != 0 && a->ino == b->ino)
			return 1;
	}
	return 0;
}

/* spool_rv_trash_at - 1 when the trash of op in directory d is the file
 * of inode ino */
static int spool_rv_trash_at(const struct spool *sp, const struct intent_op *op, int d,
	uint64_t ino)
{
	char    tn[SPOOL_TRASHLEN];

	spool_trash_name(op->trash, tn, sizeof(tn));
	return op->trash != 0 && spool_at(sp, d, tn, ino);
}

/* spool_rv_trash_there - 1 when the trash of op exists in directory d */
static int spool_rv_trash_there(const struct spool *sp, const struct intent_op *op, int d)
{
	char    tn[SPOOL_TRASHLEN];

	spool_trash_name(op->trash, tn, sizeof(tn));
	return op->trash != 0 && spool_there(sp, d, tn);
}

/* spool_rv_done - 1 when operation op is seen applied on disk */
static int spool_rv_done(const struct spool *sp, const struct intent_op *op)
{
	int     from = (int) op->from;

	switch (op->kind) {
	case OP_COMMIT:
		return spool_at(sp, (int) op->to, op->name, op->ino);
	case OP_MOVE:
	case OP_CLAIM:
		return spool_at(sp, (int) op->to, op->newname, op->ino);
	case OP_REMOVE:
		/* the name no longer holds the file, and its trash holds it
		 * or is gone (its batch's cleanup, or a record without trash) */
		return op->ino != 0 && !spool_at(sp, from, op->name, op->ino)
		    && (spool_rv_trash_at(sp, op, from, op->ino)
		    || !spool_rv_trash_there(sp, op, from));
	case OP_DPUT:
		return spool_at(sp, SPOOL_DOCKDIR, op->dkfile, op->ino);
	case OP_DDEL:
		return !spool_at(sp, SPOOL_DOCKDIR, op->dkfile, op->ino);
	}
	return 0;
}

/* spool_rv_redo - apply operation op again if its source is still what
 * it was and its target free; 0, or -1 (logged) when it cannot be done */
static int spool_rv_redo(struct spool_rv *rv, const struct intent_op *op)
{
	struct spool *sp = rv->sp;
	char    tn[SPOOL_TRASHLEN];
	int     to = (int) op->to, from = (int) op->from, dk = SPOOL_DOCKDIR;

	/* trash 0: a record of the first format, whose removes and docket
	 * operations kept no trash */
	spool_trash_name(op->trash, tn, sizeof(tn));
	switch (op->kind) {
	case OP_COMMIT:
		/* a rename, as at apply time (an older version linked: the
		 * same file ends up committed, without a tmp/ link left) */
		if (!spool_at(sp, SPOOL_TMP, op->name, op->ino) || spool_there(sp, to, op->name))
			goto cannot;
		if (sys_renameat(sp->dfd[SPOOL_TMP], op->name, sp->dfd[to], op->name) < 0)
			goto failed;
		rv->dirs |= 1u << to;
		crash_point("spool-recover-op");
		return 0;
	case OP_MOVE:
		if (!spool_at(sp, from, op->name, op->ino) || spool_there(sp, to, op->newname))
			goto cannot;
		if (sys_renameat(sp->dfd[from], op->name, sp->dfd[to], op->newname) < 0)
			goto failed;
		rv->dirs |= 1u << from | 1u << to;
		crash_point("spool-recover-op");
		return 0;
	case OP_REMOVE:
		if (!spool_at(sp, from, op->name, op->ino))
			goto cannot;
		if (op->trash == 0 || spool_at(sp, from, tn, op->ino)) {
			/* no trash (a record of the first format), or an older
			 * version's trash link made before its unlink: the
			 * name only goes */
			if (unlinkat(sp->dfd[from], op->name, 0) < 0)
				goto failed;
		} else if (spool_there(sp, from, tn)) {
			errno = EEXIST;		/* not ours: never replaced */
			goto failed;
		} else if (sys_renameat(sp->dfd[from], op->name, sp->dfd[from], tn) < 0) {
			goto failed;
		}
		rv->dirs |= 1u << from;
		crash_point("spool-recover-op");
		return 0;
	case OP_DPUT:
		if (!spool_at(sp, dk, op->dktmp, op->ino))
			goto cannot;
		/* the older docket, if any, kept as trash as at apply time */
		if (op->trash && spool_there(sp, dk, op->dkfile) && !spool_there(sp, dk, tn)
		    && linkat(sp->dfd[dk], op->dkfile, sp->dfd[dk], tn, 0) < 0)
			goto failed;
		if (sys_renameat(sp->dfd[dk], op->dktmp, sp->dfd[dk], op->dkfile) < 0)
			goto failed;
		rv->dirs |= 1u << dk;
		return 0;
	case OP_DDEL:
		if (op->trash && !spool_there(sp, dk, tn)
		    && linkat(sp->dfd[dk], op->dkfile, sp->dfd[dk], tn, 0) < 0 && errno != ENOENT)
			goto failed;
		if (unlinkat(sp->dfd[dk], op->dkfile, 0) < 0 && errno != ENOENT)
			goto failed;
		rv->dirs |= 1u << dk;
		return 0;
	default:
		break;
	}
cannot:
	errno = ENOENT;
failed:
	log_warn("spool: recover: cannot redo %s of '%s': %s (its transaction is undone)",
	    op->kind == OP_COMMIT ? "commit" : op->kind == OP_MOVE ? "move"
	    : op->kind == OP_CLAIM ? "claim" : op->kind == OP_REMOVE ? "remove" : "docket",
	    op->dkfile ? op->dkfile : op->name, strerror(errno));
	return -1;
}

/* spool_unclaim - put a claimed file STATE/NAME back as out/FILE; when a
 * new drop took that name meanwhile it stays, journalled in lines as
 * "recovered" so that its trace is true. 1 moved back, 0 stayed. */
static int spool_unclaim(struct spool *sp, int st, const char *name, const char *file,
	unsigned *dirs, struct buf *lines, const char *tm)
{
	const char *kv[4];

	if (!spool_there(sp, SPOOL_OUT, file)
	    && sys_renameat(sp->dfd[st], name, sp->dfd[SPOOL_OUT], file) == 0) {
		*dirs |= 1u << st | 1u << SPOOL_OUT;
		return 1;
	}
	log_warn("spool: recover: claim of 'out/%s' stays as '%s/%s'", file, spool_states[st],
	    name);
	kv[0] = "state";
	kv[1] = spool_states[st];
	kv[2] = "from";
	kv[3] = file;
	(void) journal_format(lines, tm, "recovered", name, kv, 2);
	return 0;
}

/* spool_rv_untrash - rename the trash of op in directory d back to
 * NAME (over: even when NAME is there); 1 done, 0 not */
static int spool_rv_untrash(struct spool_rv *rv, const struct intent_op *op, int d,
	const char *name, int over)
{
	struct spool *sp = rv->sp;
	char    tn[SPOOL_TRASHLEN];

	if (op->trash == 0)
		return 0;
	spool_trash_name(op->trash, tn, sizeof(tn));
	if (!spool_there(sp, d, tn) || (!over && spool_there(sp, d, name)))
		return 0;
	if (sys_renameat(sp->dfd[d], tn, sp->dfd[d], name) < 0) {
		log_warn("spool: recover: rename '%s/%s' to '%s/%s': %s", spool_dirname(d), tn,
		    spool_dirname(d), name, strerror(errno));
		return 0;
	}
	rv->dirs |= 1u << d;
	return 1;
}

/* spool_rv_undo - reverse the applied operations of transaction i, last
 * first: what it removed or replaced comes back from its trash */
static void spool_rv_undo(struct spool_rv *rv, size_t i, struct buf *lines, const char *tm)
{
	struct spool *sp = rv->sp;
	const struct intent_txn *t = &rv->rec.txn[i];
	const struct intent_op *op;
	char   *mark;
	size_t  k;
	int     dk = SPOOL_DOCKDIR;

	for (k = t->op0 + t->nops; k-- > t->op0;) {
		op = &rv->rec.op[k];
		if (rv->st[k] == RV_NONE)
			continue;
		switch (op->kind) {
		case OP_COMMIT:
			/* back to tmp/, as at apply time, where the tmp/ scan
			 * removes it ("undone"); when tmp/NAME is there (an
			 * older version's link of it), the state's name goes */
			if (!spool_at(sp, (int) op->to, op->name, op->ino))
				break;
			if (spool_there(sp, SPOOL_TMP, op->name)
			    ? unlinkat(sp->dfd[op->to], op->name, 0) == 0
			    : sys_renameat(sp->dfd[op->to], op->name, sp->dfd[SPOOL_TMP],
			    op->name) == 0) {
				rv->dirs |= 1u << op->to;
				crash_point("spool-recover-op");
			}
			break;
		case OP_MOVE:
			if (spool_at(sp, (int) op->to, op->newname, op->ino)
			    && !spool_there(sp, (int) op->from, op->name)
			    && sys_renameat(sp->dfd[op->to], op->newname, sp->dfd[op->from],
			    op->name) == 0) {
				rv->dirs |= 1u << op->from | 1u << op->to;
				crash_point("spool-recover-op");
			}
			break;
		case OP_CLAIM:
			if (spool_at(sp, (int) op->to, op->newname, op->ino))
				(void) spool_unclaim(sp, (int) op->to, op->newname, op->name,
				    &rv->dirs, lines, tm);
			mark = spool_mark_name(op->newname, op->name);
			if (unlinkat(sp->dfd[SPOOL_TMP], mark, 0) == 0)
				rv->dirs |= 1u << SPOOL_TMP;
			free(mark);
			break;
		case OP_REMOVE:
			/* only its own file (the trash name of another batch,
			 * should one be there, is not) */
			if (spool_rv_trash_at(sp, op, (int) op->from, op->ino)
			    && spool_rv_untrash(rv, op, (int) op->from, op->name, 0))
				crash_point("spool-recover-op");
			break;
		case OP_DPUT:
			/* the older docket back over the new one, or, if there
			 * was none, the new one goes */
			if (op->trash != 0 && !spool_rv_untrash(rv, op, dk, op->dkfile, 1)
			    && spool_at(sp, dk, op->dkfile, op->ino)
			    && unlinkat(sp->dfd[dk], op->dkfile, 0) == 0)
				rv->dirs |= 1u << dk;
			break;
		case OP_DDEL:
			(void) spool_rv_untrash(rv, op, dk, op->dkfile, 0);
			break;
		default:
			break;
		}
	}
}

/* spool_intent_read - the record in SPOOL/intent into new memory *datap
 * and rec: 1, or 0 when there is none or it is torn */
static int spool_intent_read(struct spool *sp, char **datap, struct intent *rec)
{
	unsigned char head[INTENT_HEADLEN];
	struct stat sb;
	size_t  body;
	char   *data;

	*datap = NULL;
	if (fstat(sp->ifd, &sb) < 0 || (uint64_t) sb.st_size < INTENT_HEADLEN
	    || pread(sp->ifd, head, sizeof(head), 0) != (ssize_t) sizeof(head)
	    || !intent_head(head, sizeof(head), &body))
		return 0;
	if (body > SPOOL_INTENT_MAX || body > (uint64_t) sb.st_size - INTENT_HEADLEN)
		goto torn;
	data = xmalloc(INTENT_HEADLEN + body);
	if (pread(sp->ifd, data, INTENT_HEADLEN + body, 0) != (ssize_t) (INTENT_HEADLEN + body)
	    || intent_parse(data, INTENT_HEADLEN + body, rec) < 0) {
		free(data);
		goto torn;
	}
	*datap = data;
	return 1;
torn:
	/* written, not synced, when the crash came: its batch never began */
	log_info("spool: recover: the intent record is torn: its batch had not started");
	return 0;
}

/* spool_journal_holds - compare n octets of the journal at off with p:
 * 1 same, 0 different or short, -1 read error */
static int spool_journal_holds(int fd, uint64_t off, const char *p, size_t n)
{
	char    b[4096];
	size_t  want;
	ssize_t got;

	while (n > 0) {
		want = n < sizeof(b) ? n : sizeof(b);
		if ((got = pread(fd, b, want, (off_t) off)) < 0)
			return -1;
		if ((size_t) got != want || memcmp(b, p, want) != 0)
			return 0;
		off += want;
		p += want;
		n -= want;
	}
	return 1;
}

/*
 * spool_intent_state - where the record's lines are: 1 in the journal
 * (the batch is over), 0 not or only partly (it was cut short), 2 the
 * record is about another journal's contents (stale), -1 with err. The lines are appended at the recorded size of the recorded
 * journal, so they are there whole, or a prefix of them is there and
 * nothing after, unless the journal is another one (rotated, replaced
 * by hand) or was edited: then the record is old news.
 */
static int spool_intent_state(struct spool *sp, const struct intent *rec, char *err,
	size_t errlen)
{
	uint64_t have, cmp;
	size_t  i, n;
	int     fd, same = 1;

	if (rec->linelen == 0 || rec->jino != sp->jino)
		return 1;
	if (sp->jsize < rec->joff)
		goto stale;
	have = sp->jsize - rec->joff;
	if ((fd = openat(sp->rootfd, "journal", O_RDONLY | O_CLOEXEC)) < 0) {
		spool_errf(err, errlen, "recover: open 'journal'");
		return -1;
	}
	cmp = 0;
	for (i = 0; i < rec->ntxn && same == 1 && cmp < have; i++) {
		n = rec->txn[i].linelen;
		if (n > have - cmp)
			n = (size_t) (have - cmp);
		same = spool_journal_holds(fd, rec->joff + cmp, rec->txn[i].lines, n);
		cmp += n;
	}
	close(fd);
	if (same < 0) {
		spool_errf(err, errlen, "recover: read 'journal'");
		return -1;
	}
	if (!same)
		goto stale;
	if (have >= rec->linelen)
		return 1;
	return 0;
stale:
	log_warn("spool: recover: the journal does not continue as the intent record says "
	    "(edited or replaced?): record ignored");
	return 2;
}

/* spool_rv_reseal - re-encode the record with the transactions kept */
static void spool_rv_reseal(struct spool_rv *rv, const unsigned char *keep, struct buf *out)
{
	const struct intent *rec = &rv->rec;
	size_t  i, k, n = 0;

	PANIC_IF(intent_begin(out, rec->jino, rec->joff) < 0);
	for (i = 0; i < rec->ntxn; i++) {
		if (!keep[i])
			continue;
		PANIC_IF(intent_put_txn(out, rec->txn[i].nops, rec->txn[i].linelen) < 0);
		for (k = 0; k < rec->txn[i].nops; k++)
			PANIC_IF(intent_put_op(out, &rec->op[rec->txn[i].op0 + k]) < 0);
		PANIC_IF(buf_append(out, rec->txn[i].lines, rec->txn[i].linelen) < 0);
		n++;
	}
	intent_seal(out, n);
}

/*
 * spool_intent_recover - finish the batch of the intent record if it
 * was cut short. Each transaction is completed (operations found done
 * count as done, the others are applied again) or, when one of its
 * operations can no longer be done, undone. Then, in this order: the
 * directories are synced, the record is rewritten without the undone
 * transactions (so that a crash now repeats the same decisions), and
 * the journal gets the lines of those that stand, at the recorded
 * offset, with their recorded times. 0, or -1 with err.
 */
static int spool_intent_recover(struct spool *sp, struct spool_recovery *r, struct buf *lines,
	const char *tm, char *err, size_t errlen)
{
	struct spool_rv rv;
	struct buf jl = BUF_INIT(SIZE_MAX / 2), out = BUF_INIT(SPOOL_INTENT_MAX);
	unsigned char *keep = NULL;
	const struct intent_op *op;
	const struct intent_txn *t;
	char   *data = NULL, *mark;
	size_t  i, k;
	int     rc, d, ret = -1, dropped = 0;

	memset(&rv, 0, sizeof(rv));
	rv.sp = sp;
	if (spool_intent_read(sp, &data, &rv.rec) == 0)
		return 0;
	if (!spool_rv_valid(sp, &rv.rec)) {
		log_warn("spool: recover: the intent record is not one of ours: ignored");
		rc = 2;
	} else {
		rc = spool_intent_state(sp, &rv.rec, err, errlen);
	}
	if (rc != 0) {
		/* once said is enough: no later start-up needs to look at it */
		if (rc == 2 && spool_intent_clear(sp, err, errlen) < 0)
			goto out;
		ret = rc > 0 ? 0 : -1;
		goto out;
	}
	log_warn("spool: recover: the last batch (%zu transactions) was cut short: finishing it",
	    rv.rec.ntxn);

	/* done or not, last first: a later operation on the same file
	 * found done means this one was done before it */
	rv.st = xcalloc(rv.rec.nop ? rv.rec.nop : 1, 1);
	for (k = rv.rec.nop; k-- > 0;)
		if (spool_rv_later_done(&rv, k) || spool_rv_done(sp, &rv.rec.op[k]))
			rv.st[k] = RV_DONE;
	/* then, in order, complete or undo each transaction */
	keep = xcalloc(rv.rec.ntxn ? rv.rec.ntxn : 1, 1);
	for (i = 0; i < rv.rec.ntxn; i++) {
		t = &rv.rec.txn[i];
		keep[i] = 1;
		for (k = t->op0; k < t->op0 + t->nops && keep[i]; k++) {
			if (rv.st[k] == RV_DONE)
				continue;
			if (spool_rv_redo(&rv, &rv.rec.op[k]) < 0)
				keep[i] = 0;
			else
				rv.st[k] = RV_REDONE;
		}
		if (!keep[i]) {
			spool_rv_undo(&rv, i, lines, tm);
			r->intent_undone++;
			dropped = 1;
			continue;
		}
		r->intent_redone++;
		(void) buf_append(&jl, t->lines, t->linelen);
		/* the record covers this claim: its marker goes (durably, below) */
		for (k = t->op0; k < t->op0 + t->nops; k++) {
			op = &rv.rec.op[k];
			if (op->kind != OP_CLAIM)
				continue;
			mark = spool_mark_name(op->newname, op->name);
			if (unlinkat(sp->dfd[SPOOL_TMP], mark, 0) == 0)
				rv.dirs |= 1u << SPOOL_TMP;
			free(mark);
		}
	}
	for (d = 0; d < SPOOL_NDIRS; d++)
		if (rv.dirs & 1u << d && sp->dfd[d] >= 0 && sys_fsync(sp->dfd[d]) < 0) {
			spool_errf(err, errlen, "recover: fsync '%s'", spool_dirname(d));
			goto out;
		}
	if (dropped) {
		spool_rv_reseal(&rv, keep, &out);
		if (spool_intent_put(sp, buf_data(&out), out.len, err, errlen) < 0)
			goto out;
		sp->st.intent_syncs++;
	}
	/* a torn or partial append of the batch is replaced by its lines */
	if (sp->jsize > rv.rec.joff) {
		if (ftruncate(sp->jfd, (off_t) rv.rec.joff) < 0) {
			spool_errf(err, errlen, "recover: truncate 'journal'");
			goto out;
		}
		r->journal_cut += sp->jsize - rv.rec.joff;
		sp->jsize = rv.rec.joff;
	}
	crash_point("spool-recover-lines");
	if (spool_journal_direct(sp, &jl, err, errlen) < 0)
		goto out;
	ret = 0;
out:
	buf_release(&jl);
	buf_release(&out);
	free(keep);
	free(rv.st);
	intent_release(&rv.rec);
	free(data);
	return ret;
}

/*
 * spool_recover_mark - tmp/NAME~FILE, a claim that no intent record
 * covers (its batch never began): the file goes back to out/FILE, where
 * it will be claimed again. 0, or -1 when the marker cannot be removed.
 */
static int spool_recover_mark(struct spool *sp, const char *mark, const struct stat *ms,
	struct spool_recovery *r, unsigned *dirs, struct buf *lines, const char *tm)
{
	char    name[SPOOL_NAMELEN];
	const char *sep = strchr(mark, SPOOL_MARK_SEP), *file;
	struct stat sb;
	int     i;

	if ((size_t) (sep - mark) < sizeof(name)) {
		memcpy(name, mark, (size_t) (sep - mark));
		name[sep - mark] = '\0';
		file = sep + 1;
		if (spool_name_ok(name) && spool_name_ok(file))
			for (i = 0; i < SPOOL_NSTATES; i++)
				if (i != SPOOL_TMP && i != SPOOL_OUT
				    && fstatat(sp->dfd[i], name, &sb, AT_SYMLINK_NOFOLLOW) == 0
				    && sb.st_ino == ms->st_ino && sb.st_dev == ms->st_dev) {
					if (spool_unclaim(sp, i, name, file, dirs, lines, tm))
						r->claims_undone++;
					break;
				}
	}
	return unlinkat(sp->dfd[SPOOL_TMP], mark, 0);
}

/*
 * Conversion of an older version's docket files (one file per docket in
 * SPOOL/dockets/). Without a snapshot they are the dockets: each is put
 * into the map with its mtime as time of put, one that is no docket goes
 * to dockets/corrupt/ (as it would have when read), and all are removed
 * once the snapshot that holds them is durable. With a snapshot they are
 * left over from a conversion that the snapshot already holds (it was
 * written before the first file was removed): they are only removed,
 * never read again over newer records.
 */

struct spool_conv {
	struct spool *sp;
	int	convert;		/* read them (else: only remove them) */
	char  **names;			/* files to remove */
	size_t	n, alloc;
	unsigned converted, corrupt;
};

/* spool_conv_fn - one file read (dkstore_legacy_fn) */
static void spool_conv_fn(void *arg, const char *name, int ok)
{
	struct spool_conv *c = arg;
	int     dfd = c->sp->dfd[SPOOL_DOCKDIR];
	char    to[4096];

	if (!ok) {
		snprintf(to, sizeof(to), "corrupt/%s", name);
		if ((mkdirat(dfd, "corrupt", 0750) < 0 && errno != EEXIST)
		    || renameat(dfd, name, dfd, to) < 0)
			log_warn("spool: recover: rename 'dockets/%s' to 'dockets/%s': %s", name,
			    to, strerror(errno));
		else
			log_warn("spool: recover: 'dockets/%s' is no docket: moved to "
			    "'dockets/corrupt/'", name);
		c->corrupt++;
		return;
	}
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? 2 * c->alloc : 64;
		c->names = xrealloc(c->names, c->alloc * sizeof(*c->names));
	}
	c->names[c->n++] = xstrdup(name);
	c->converted++;
}

/* spool_dk_convert - read (or just list) the old docket files; 0 or -1 */
static int spool_dk_convert(struct spool *sp, struct spool_conv *c, char *err, size_t errlen)
{
	struct dkmap *scratch = c->convert ? NULL : dkmap_new();
	long    rc;

	pthread_mutex_lock(&sp->dk_lock);
	rc = dkstore_legacy_scan(sp->dfd[SPOOL_DOCKDIR], NULL, scratch ? scratch : sp->dk,
	    spool_conv_fn, c, err, errlen);
	pthread_mutex_unlock(&sp->dk_lock);
	dkmap_free(scratch);
	if (rc < 0)
		return -1;
	if (c->convert) {
		log_info("spool: recover: %u docket files of an older version converted into "
		    "the journal", c->converted);
		sp->dk_dirty = 1;
	} else {
		c->converted = 0;	/* already in the snapshot */
	}
	return 0;
}

/* spool_dk_unlink - remove the files converted; 0 or -1 */
static int spool_dk_unlink(struct spool *sp, struct spool_conv *c, char *err, size_t errlen)
{
	int     dfd = sp->dfd[SPOOL_DOCKDIR];
	size_t  i;

	for (i = 0; i < c->n; i++)
		if (unlinkat(dfd, c->names[i], 0) < 0 && errno != ENOENT) {
			spool_errf(err, errlen, "recover: unlink 'dockets/%s'", c->names[i]);
			return -1;
		}
	if (sys_fsync(dfd) < 0) {
		spool_errf(err, errlen, "recover: fsync 'dockets'");
		return -1;
	}
	return 0;
}

/* spool_recover - start-up recovery */
int spool_recover(struct spool *sp, struct spool_recovery *rep, char *err, size_t errlen)
{
	struct spool_recovery r;
	struct spool_collect c;
	struct buf lines = BUF_INIT(SIZE_MAX / 2);
	struct stat ts, ss;
	DIR    *d;
	struct dirent *e;
	int64_t cut;
	int     fd, i, ret = -1, found;
	unsigned dirs = 1u << SPOOL_TMP;
	size_t  k, j;
	char    tm[32], num[11][24];
	const char *kv[22];
	struct spool_conv conv;

	PANIC_IF(sp->pending > 0);
	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	memset(&conv, 0, sizeof(conv));
	spool_journal_time(tm, sizeof(tm));
	if (sp->dfd[SPOOL_DOCKDIR] >= 0)
		dirs |= 1u << SPOOL_DOCKDIR;

	if ((cut = spool_cut_torn(sp, err, errlen)) < 0)
		goto out;
	r.journal_cut = (uint64_t) cut;

	/* the batch the intent record describes, if it was cut short */
	if (spool_intent_recover(sp, &r, &lines, tm, err, errlen) < 0)
		goto out;

	/* dockets: read again what recovery changed (the journal, or an
	 * older version's docket files); the lines of a transaction cut
	 * short were removed when they were read (spool_dk_load) */
	if ((r.journal_cut || r.intent_redone || r.intent_undone || sp->dk_legacy)
	    && spool_dk_load(sp, err, errlen) < 0)
		goto out;
	r.journal_cut += sp->dk_cut;
	r.dockets_cut = sp->dk_cuts;
	sp->dk_cut = 0;
	sp->dk_cuts = 0;

	/* tmp/: a commit renames its file out of tmp/, and its batch does
	 * not sync tmp/, so a crash may bring a tmp/ name back beside the
	 * committed one; and an older version committed by a link, removing
	 * the tmp/ link once its batch was over. A file also linked into a
	 * state is thus a commit whose batch is over: either its lines were
	 * synced (its state's name was synced before them) or the intent
	 * record's recovery above wrote them. The tmp/ name goes, no line.
	 * Only a spool older than the intent record (none when it was
	 * opened) can have lost the lines: they are written again as
	 * "recovered". Any other file was never committed (the intent
	 * recovery above took every commit of a batch cut short) and is no
	 * letter. A claim marker left is a claim no batch took. */
	fd = openat(sp->dfd[SPOOL_TMP], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		spool_errf(err, errlen, "recover: scan 'tmp'");
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(sp->dfd[SPOOL_TMP], e->d_name, &ts, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (e->d_name[0] != '.' && S_ISREG(ts.st_mode)
		    && strchr(e->d_name, SPOOL_MARK_SEP) != NULL) {
			if (spool_recover_mark(sp, e->d_name, &ts, &r, &dirs, &lines, tm) < 0) {
				spool_errf(err, errlen, "recover: unlink 'tmp/%s'", e->d_name);
				closedir(d);
				goto out;
			}
			continue;
		}
		if (e->d_name[0] == '.' || !S_ISREG(ts.st_mode)) {
			if (unlinkat(sp->dfd[SPOOL_TMP], e->d_name,
			    S_ISDIR(ts.st_mode) ? AT_REMOVEDIR : 0) == 0)
				r.tmp_other++;
			continue;
		}
		found = -1;
		if (ts.st_nlink > 1)
			for (i = 0; i < SPOOL_NSTATES && found < 0; i++)
				if (i != SPOOL_TMP && fstatat(sp->dfd[i], e->d_name, &ss,
				    AT_SYMLINK_NOFOLLOW) == 0 && ss.st_ino == ts.st_ino
				    && ss.st_dev == ts.st_dev)
					found = i;
		if (unlinkat(sp->dfd[SPOOL_TMP], e->d_name, 0) < 0) {
			spool_errf(err, errlen, "recover: unlink 'tmp/%s'", e->d_name);
			closedir(d);
			goto out;
		}
		if (found == SPOOL_PART) {
			r.tmp_parts++;		/* kept for a resumption: not a commit */
		} else if (found >= 0) {
			r.tmp_completed++;
			if (sp->intent_fresh) {
				kv[0] = "state";
				kv[1] = spool_states[found];
				(void) journal_format(&lines, tm, "recovered", e->d_name, kv, 1);
			}
		} else {
			r.tmp_undone++;
		}
	}
	closedir(d);
	/* after the record's recovery: it may have renamed docket temporaries,
	 * and it needed the trash of the batch it finished (the trash of
	 * any other batch is of one committed or undone: garbage) */
	if (sp->dfd[SPOOL_DOCKDIR] >= 0)
		r.docket_tmp = spool_remove_dot_tmp(sp->dfd[SPOOL_DOCKDIR]);
	(void) spool_remove_dot_tmp(sp->rootfd);
	for (i = 0; i < SPOOL_NDIRS; i++)
		if (i != SPOOL_TMP && sp->dfd[i] >= 0)
			r.trash += spool_remove_trash(sp->dfd[i]);
	/* an older version's docket files: into the map (written below,
	 * with the snapshot, before they go) */
	if (sp->dk_legacy || sp->dk_leftover) {
		conv.sp = sp;
		conv.convert = sp->dk_legacy > 0;
		if (spool_dk_convert(sp, &conv, err, errlen) < 0)
			goto out;
		r.dockets_converted = conv.converted;
		r.dockets_corrupt = conv.corrupt;
	}
	/* every state: count, and report names found in two states */
	for (i = 0; i < SPOOL_NSTATES; i++) {
		if (i == SPOOL_TMP)
			continue;
		k = c.n;
		c.state = i;
		if (spool_scan(sp, (enum spool_state) i, spool_collect_fn, &c, err, errlen) < 0)
			goto out;
		r.files[i] = (unsigned) (c.n - k);
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), spool_seen_cmp);
	for (k = 0; k + 1 < c.n; k = j) {
		for (j = k + 1; j < c.n && strcmp(c.v[j].name, c.v[k].name) == 0; j++)
			;
		/* part/ (sorted last) holds a second link of a file being
		 * received: not a conflict */
		if (j - k > 1 && c.v[k].state != SPOOL_OUT
		    && !(j - k == 2 && c.v[k + 1].state == SPOOL_PART)) {
			r.conflicts++;
			kv[0] = "states";
			kv[1] = spool_states[c.v[k].state];
			kv[2] = "also";
			kv[3] = spool_states[c.v[k + 1].state];
			(void) journal_format(&lines, tm, "conflict", c.v[k].name, kv, 2);
			log_warn("spool: recover: '%s' is in both '%s' and '%s'", c.v[k].name,
			    spool_states[c.v[k].state], spool_states[c.v[k + 1].state]);
		}
	}

	snprintf(num[0], sizeof(num[0]), "%u", r.tmp_undone);
	snprintf(num[1], sizeof(num[1]), "%u", r.tmp_completed);
	snprintf(num[2], sizeof(num[2]), "%u", r.tmp_other);
	snprintf(num[3], sizeof(num[3]), "%u", r.docket_tmp);
	snprintf(num[4], sizeof(num[4]), "%u", r.conflicts);
	snprintf(num[5], sizeof(num[5]), "%llu", (unsigned long long) r.journal_cut);
	snprintf(num[6], sizeof(num[6]), "%llu", (unsigned long long) sp->seq_next);
	snprintf(num[7], sizeof(num[7]), "%u", r.intent_redone);
	snprintf(num[8], sizeof(num[8]), "%u", r.intent_undone);
	snprintf(num[9], sizeof(num[9]), "%u", r.claims_undone);
	snprintf(num[10], sizeof(num[10]), "%u", r.dockets_converted);
	kv[0] = "undone"; kv[1] = num[0];
	kv[2] = "completed"; kv[3] = num[1];
	kv[4] = "stray"; kv[5] = num[2];
	kv[6] = "dockets"; kv[7] = num[3];
	kv[8] = "conflicts"; kv[9] = num[4];
	kv[10] = "cut"; kv[11] = num[5];
	kv[12] = "seq"; kv[13] = num[6];
	kv[14] = "redone"; kv[15] = num[7];
	kv[16] = "dropped"; kv[17] = num[8];
	kv[18] = "unclaimed"; kv[19] = num[9];
	kv[20] = "converted"; kv[21] = num[10];
	(void) journal_format(&lines, tm, "recover", NULL, kv, 11);
	for (i = 0; i < SPOOL_NDIRS; i++)
		if (dirs & 1u << i && sys_fsync(sp->dfd[i]) < 0) {
			spool_errf(err, errlen, "recover: fsync '%s'", spool_dirname(i));
			goto out;
		}
	if (spool_journal_direct(sp, &lines, err, errlen) < 0)
		goto out;
	/* the checkpoint: the next start-up reads from here. Converted docket
	 * files exist only in the map until it is durable; they go after. */
	if (spool_snapshot(sp, err, errlen) < 0) {
		if (sp->dk_legacy)
			goto out;
		log_warn("%s", err);
	}
	sp->dk_legacy = 0;
	if (conv.n > 0 && spool_dk_unlink(sp, &conv, err, errlen) < 0)
		goto out;
	sp->dk_leftover = 0;
	ret = 0;
out:
	for (k = 0; k < c.n; k++)
		free(c.v[k].name);
	free(c.v);
	for (k = 0; k < conv.n; k++)
		free(conv.names[k]);
	free(conv.names);
	buf_release(&lines);
	if (rep)
		*rep = r;
	return ret;
}
