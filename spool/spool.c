/*++
 * NAME
 *	spool 3
 * SUMMARY
 *	the mail spool: states as directories, group commit, names, dockets
 * SYNOPSIS
 *	#include "spool/spool.h"
 * DESCRIPTION
 *	A transaction goes through two stages on worker threads:
 *
 *	1. prepare (one workq item per transaction, in parallel): fsync
 *	   and close each new file; write and fsync each new docket under
 *	   a temporary name; fsync each claimed file. Concurrent fsyncs on
 *	   one file system are merged by the kernel's journal.
 *
 *	2. apply (one workq item per batch, one batch at a time): every
 *	   transaction prepared since the last batch started is applied in
 *	   turn: link tmp/NAME to STATE/NAME (a link, not a rename, so that
 *	   an existing file is never replaced and so that the tmp name
 *	   stays as a marker of a commit in flight), renames for moves,
 *	   unlinks, docket renames. Then each directory touched is fsynced
 *	   once, the journal lines of all transactions are appended in one
 *	   write and synced with one fdatasync. Only then are the tmp
 *	   links removed (no fsync needed: a leftover is cleaned up by
 *	   recovery) and the journal rotated if it is too big.
 *
 *	Callbacks run on the loop thread when the batch is back. A batch
 *	is started when the loop has run every completion posted so far
 *	(a posted "kick"), so everything prepared by then joins it.
 *
 *	Failures: a transaction whose own step fails is undone (applied
 *	file operations reversed, temporaries removed) and reported; the
 *	others of its batch go on. A failed directory fsync or journal
 *	write/fsync fails the whole batch: the journal is truncated to its
 *	old size and every transaction of the batch is undone.
 *
 *	Crash points (util/crash.h), in order: spool-prepared,
 *	spool-after-link, spool-after-ops, spool-after-dirsync,
 *	spool-after-journal-write, spool-after-journal-sync,
 *	spool-claim-after-rename.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
#define SPOOL_DOCKDIR		SPOOL_NSTATES	/* dir index of dockets/ */
#define SPOOL_NDIRS		(SPOOL_NSTATES + 1)
#define SPOOL_SEQ_MAX		((uint64_t) 1 << 60)

static const char *const spool_states[SPOOL_NSTATES] = {
	"out", "tmp", "in", "queue", "hold", "dead", "corrupt", "archive", "part",
};

struct spool {
	char   *dir;
	char	node[SPOOL_NODEMAX + 1];
	struct loop *loop;
	struct workq *wq;
	int	dfd[SPOOL_NDIRS];	/* state directories, then dockets/ */
	int	rootfd;
	/* journal: used by one batch at a time (worker) or the loop thread
	 * when no batch is in flight */
	int	jfd;
	uint64_t jsize;
	uint64_t journal_max;
	unsigned journal_keep;
	/* sequence numbers (loop thread), the file under seq_lock */
	uint64_t seq_next;
	uint64_t seq_limit;
	unsigned seq_block;
	int	seq_reserving;
	char	minute[16];		/* highest YYMMDDhhmm used */
	pthread_mutex_t seq_lock;
	uint64_t seq_durable;		/* value in the file (under seq_lock) */
	/* pipeline (loop thread) */
	struct spool_txn *ready_head, *ready_tail;
	int	batch_inflight;
	int	kick_posted;
	int	pending;
	struct spool_stats st;
};

struct spool_file {
	struct spool *sp;
	int	fd;
	char	name[SPOOL_NAMELEN];
	uint64_t size;
	int	parted;		/* linked as part/NAME too */
};

enum spool_opk { OP_COMMIT, OP_MOVE, OP_REMOVE, OP_CLAIM, OP_DPUT, OP_DDEL };

struct spool_op {
	enum spool_opk kind;
	enum spool_state from, to;
	char   *name;		/* COMMIT/MOVE/REMOVE: name; CLAIM: out/ file */
	char   *newname;	/* MOVE: target name; CLAIM: spool name */
	int	fd;		/* COMMIT: open until prepared */
	char   *dkfile;		/* DPUT/DDEL: docket file name */
	char   *dktmp;		/* DPUT: full path of the temporary */
	void   *data;		/* DPUT: file content */
	size_t	len;
	int	applied;
};

struct spool_txn {
	struct spool *sp;
	struct spool_op *ops;
	size_t	nops, aops;
	struct buf lines;	/* "EVENT NAME k=v\n"... without time */
	unsigned nlines;
	spool_done_fn *done;
	void   *arg;
	int	failed;
	char	err[SPOOL_ERRLEN];
	unsigned file_syncs;
	struct spool_txn *next;
};

struct spool_batch {
	struct spool *sp;
	struct spool_txn *head;
	unsigned dir_syncs, journal_syncs, lines, rotations;
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
 * Opening
 */

/* spool_open - open the spool in opts->dir */
struct spool *spool_open(const struct spool_opts *opts, char *err, size_t errlen)
{
	struct spool *sp;
	char    derr[DURABLE_ERRLEN];
	struct stat sb;
	int     i, created;

	if (opts->node == NULL || !spool_node_ok(opts->node)) {
		errno = EINVAL;
		spool_errf(err, errlen, "open: node name '%s'", opts->node ? opts->node : "");
		return NULL;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->dir = xstrdup(opts->dir);
	str_copy(sp->node, opts->node, sizeof(sp->node));
	sp->rootfd = sp->jfd = -1;
	for (i = 0; i < SPOOL_NDIRS; i++)
		sp->dfd[i] = -1;
	sp->journal_max = opts->journal_max ? opts->journal_max : SPOOL_DEF_JMAX;
	sp->journal_keep = opts->journal_keep;
	sp->seq_block = opts->seq_block ? opts->seq_block : SPOOL_DEF_BLOCK;
	pthread_mutex_init(&sp->seq_lock, NULL);

	if (mkdir_p(sp->dir, 0750, derr, sizeof(derr)) < 0) {
		snprintf(err, errlen, "spool: open: %s", derr);
		goto fail;
	}
	sp->rootfd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->rootfd < 0) {
		spool_errf(err, errlen, "open '%s'", sp->dir);
		goto fail;
	}
	for (i = 0; i < SPOOL_NDIRS; i++) {
		const char *d = i == SPOOL_DOCKDIR ? "dockets" : spool_states[i];

		if (mkdirat(sp->rootfd, d, 0750) < 0 && errno != EEXIST) {
			spool_errf(err, errlen, "mkdir '%s'", d);
			goto fail;
		}
		sp->dfd[i] = openat(sp->rootfd, d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sp->dfd[i] < 0) {
			spool_errf(err, errlen, "open '%s'", d);
			goto fail;
		}
	}
	if (mkdirat(sp->dfd[SPOOL_DOCKDIR], "corrupt", 0750) < 0 && errno != EEXIST) {
		spool_errf(err, errlen, "mkdir 'dockets/corrupt'");
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
	/* New directories and a new journal must survive a power cut too. */
	if (created) {
		for (i = 0; i < SPOOL_NDIRS; i++)
			(void) sys_fsync(sp->dfd[i]);
		if (sys_fsync(sp->rootfd) < 0) {
			spool_errf(err, errlen, "fsync '%s'", sp->dir);
			goto fail;
		}
	}
	if (spool_seq_init(sp, err, errlen) < 0)
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
	int     i;

	if (sp == NULL)
		return;
	spool_drain(sp);
	if (sp->wq)
		workq_free(sp->wq);
	for (i = 0; i < SPOOL_NDIRS; i++)
		if (sp->dfd[i] >= 0)
			close(sp->dfd[i]);
	if (sp->rootfd >= 0)
		close(sp->rootfd);
	if (sp->jfd >= 0)
		close(sp->jfd);
	pthread_mutex_destroy(&sp->seq_lock);
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
		if (e->d_name[0] == '.')
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

/* spool_create - create tmp/NAME exclusively */
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
	} else {
		str_copy(f->name, name, sizeof(f->name));
	}
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
		if (fstatat(sp->dfd[SPOOL_PART], e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
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

/*
 * Dockets: file names and content
 */

/* spool_fnv - FNV-1a 64 of s */
static uint64_t spool_fnv(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

/*
 * spool_docket_file - the file name of key: safe octets kept, others
 * as %XX; a long encoding is cut and completed with a hash of the whole
 * key (the file holds the key, so a collision reads as "no docket").
 */
static char *spool_docket_file(const char *key)
{
	struct buf b = BUF_INIT(4 * SPOOL_DOCKET_KEYMAX + 64);
	size_t  i, cut = 0;
	char   *s;

	for (i = 0; key[i]; i++) {
		unsigned char c = (unsigned char) key[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		    || c == '_' || c == '-' || (c == '.' && i > 0))
			(void) buf_putc(&b, c);
		else
			(void) buf_printf(&b, "%%%02X", c);
		if (b.len <= 160)
			cut = b.len;
	}
	if (b.len > 180) {
		b.len = cut;
		(void) buf_printf(&b, "~%016llx", (unsigned long long) spool_fnv(key));
	}
	s = xstrdup(buf_cstr(&b));
	buf_release(&b);
	return s;
}

/* spool_docket_key_ok - 1..SPOOL_DOCKET_KEYMAX octets */
static int spool_docket_key_ok(const char *key)
{
	size_t  n = key ? strlen(key) : 0;

	return n > 0 && n <= SPOOL_DOCKET_KEYMAX;
}

/* spool_docket_header - "niftpmail-docket 1\nkey ESCAPED\n\n" into new memory */
static char *spool_docket_header(const char *key, size_t *lenp)
{
	struct buf b = BUF_INIT(4 * SPOOL_DOCKET_KEYMAX + 64);
	size_t  need = str_escape(NULL, 0, key, strlen(key));
	unsigned char *p;
	char   *s;

	(void) buf_printf(&b, "niftpmail-docket 1\nkey ");
	p = buf_reserve(&b, need + 1);
	PANIC_IF(p == NULL);
	(void) str_escape((char *) p, need + 1, key, strlen(key));
	buf_commit(&b, need);
	(void) buf_printf(&b, "\n\n");
	*lenp = b.len;
	s = xmemdup(buf_data(&b), b.len);
	buf_release(&b);
	return s;
}

/* spool_docket_content - header + data into new memory */
static void *spool_docket_content(const char *key, const void *data, size_t len, size_t *lenp)
{
	size_t  hl;
	char   *h = spool_docket_header(key, &hl), *c;

	c = xmalloc(hl + len + 1);
	memcpy(c, h, hl);
	if (len)
		memcpy(c + hl, data, len);
	*lenp = hl + len;
	free(h);
	return c;
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
	free(f);
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
}

/* spool_txn_claim - take out/FILE now */
int spool_txn_claim(struct spool_txn *t, const char *file, enum spool_state to,
	char *name, size_t len, char *err, size_t errlen)
{
	struct spool *sp = t->sp;
	struct spool_op *op;
	char    nm[SPOOL_NAMELEN];

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
	if (sys_renameat(sp->dfd[SPOOL_OUT], file, sp->dfd[to], nm) < 0) {
		spool_errf(err, errlen, "claim: rename 'out/%s' to '%s/%s'", file,
		    spool_states[to], nm);
		return -1;
	}
	crash_point("spool-claim-after-rename");
	op = spool_txn_op(t, OP_CLAIM);
	op->from = SPOOL_OUT;
	op->to = to;
	op->name = xstrdup(file);
	op->newname = xstrdup(nm);
	return 0;
}

/* spool_txn_docket_put - store data as the docket of key */
void spool_txn_docket_put(struct spool_txn *t, const char *key, const void *data, size_t len)
{
	struct spool_op *op;

	if (!spool_docket_key_ok(key) || len > SPOOL_DOCKET_MAX)
		log_panic("spool_txn_docket_put: bad key or size %zu", len);
	op = spool_txn_op(t, OP_DPUT);
	op->dkfile = spool_docket_file(key);
	op->data = spool_docket_content(key, data, len, &op->len);
}

/* spool_txn_docket_del - remove the docket of key */
void spool_txn_docket_del(struct spool_txn *t, const char *key)
{
	struct spool_op *op;

	if (!spool_docket_key_ok(key))
		log_panic("spool_txn_docket_del: bad key");
	op = spool_txn_op(t, OP_DDEL);
	op->dkfile = spool_docket_file(key);
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
		if (op->applied)
			(void) unlinkat(sp->dfd[op->to], op->name, 0);
		(void) unlinkat(sp->dfd[SPOOL_TMP], op->name, 0);
		break;
	case OP_MOVE:
		if (op->applied && sys_renameat(sp->dfd[op->to], op->newname,
		    sp->dfd[op->from], op->name) < 0)
			log_warn("spool: undo: rename '%s/%s' to '%s/%s': %s",
			    spool_states[op->to], op->newname, spool_states[op->from],
			    op->name, strerror(errno));
		break;
	case OP_CLAIM:
		/* Back to out/ unless a new drop took the name meanwhile. */
		if (fstatat(sp->dfd[SPOOL_OUT], op->name, &sb, AT_SYMLINK_NOFOLLOW) == 0
		    || sys_renameat(sp->dfd[op->to], op->newname,
		    sp->dfd[SPOOL_OUT], op->name) < 0)
			log_warn("spool: undo: claim of 'out/%s' stays as '%s/%s'",
			    op->name, spool_states[op->to], op->newname);
		break;
	case OP_DPUT:
		if (!op->applied && op->dktmp)
			(void) unlink(op->dktmp);
		break;
	case OP_REMOVE:
	case OP_DDEL:
		break;
	}
	op->applied = 0;
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
		free(t->ops[i].name);
		free(t->ops[i].newname);
		free(t->ops[i].dkfile);
		free(t->ops[i].dktmp);
		free(t->ops[i].data);
	}
	free(t->ops);
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
	__attribute__((format(printf, 2, 3)));

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
	char    dir[4096], derr[DURABLE_ERRLEN], tmp[4096 + 64];
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
		case OP_DPUT:
			snprintf(dir, sizeof(dir), "%s/dockets", sp->dir);
			fd = durable_tmp_open(dir, "d", tmp, sizeof(tmp), derr, sizeof(derr));
			if (fd < 0) {
				spool_txn_fail(t, "docket '%s'", op->dkfile);
				break;
			}
			op->dktmp = xstrdup(tmp);
			if (write_full(fd, op->data, op->len) < 0) {
				spool_txn_fail(t, "write 'dockets/%s'", strrchr(tmp, '/') + 1);
				close(fd);
				break;
			}
			if (sys_fsync(fd) < 0) {
				spool_txn_fail(t, "fsync 'dockets/%s'", strrchr(tmp, '/') + 1);
				close(fd);
				break;
			}
			t->file_syncs++;
			if (close(fd) < 0)
				spool_txn_fail(t, "close 'dockets/%s'", strrchr(tmp, '/') + 1);
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

/* spool_op_apply - one op; 0 or -1 (t failed); *dirs gets the dirs touched */
static int spool_op_apply(struct spool_txn *t, struct spool_op *op, unsigned *dirs)
{
	struct spool *sp = t->sp;
	char    from[4096], to[4096];
	struct stat sb;

	switch (op->kind) {
	case OP_COMMIT:
		if (!spool_path(sp, SPOOL_TMP, op->name, from, sizeof(from))
		    || !spool_path(sp, op->to, op->name, to, sizeof(to))) {
			errno = ENAMETOOLONG;
			spool_txn_fail(t, "link 'tmp/%s'", op->name);
			return -1;
		}
		if (sys_link(from, to) < 0) {
			spool_txn_fail(t, "link 'tmp/%s' to '%s/%s'", op->name,
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
		if (!spool_path(sp, op->from, op->name, from, sizeof(from))
		    || sys_unlink(from) < 0) {
			spool_txn_fail(t, "unlink '%s/%s'", spool_states[op->from], op->name);
			return -1;
		}
		op->applied = 1;
		*dirs |= 1u << op->from;
		return 0;
	case OP_CLAIM:
		op->applied = 1;
		*dirs |= 1u << SPOOL_OUT | 1u << op->to;
		return 0;
	case OP_DPUT:
		snprintf(to, sizeof(to), "%s/dockets/%s", sp->dir, op->dkfile);
		if (sys_rename(op->dktmp, to) < 0) {
			spool_txn_fail(t, "rename 'dockets/%s' to 'dockets/%s'",
			    strrchr(op->dktmp, '/') + 1, op->dkfile);
			return -1;
		}
		op->applied = 1;
		*dirs |= 1u << SPOOL_DOCKDIR;
		return 0;
	case OP_DDEL:
		snprintf(to, sizeof(to), "%s/dockets/%s", sp->dir, op->dkfile);
		if (sys_unlink(to) < 0 && errno != ENOENT) {
			spool_txn_fail(t, "unlink 'dockets/%s'", op->dkfile);
			return -1;
		}
		op->applied = 1;
		*dirs |= 1u << SPOOL_DOCKDIR;
		return 0;
	}
	return 0;
}

/* spool_dirname - name of directory index i, relative to the spool */
static const char *spool_dirname(int i)
{
	return i == SPOOL_DOCKDIR ? "dockets" : spool_states[i];
}

/* spool_rotate - journal -> journal.1 -> ... (worker, batch held); 0 or -1 */
static int spool_rotate(struct spool *sp, char *err, size_t errlen)
{
	char    a[64], b[64];
	unsigned long max = 0, n;
	uint64_t v;
	DIR    *d;
	struct dirent *e;
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
	if (sys_fsync(sp->rootfd) < 0) {
		spool_errf(err, errlen, "rotate: fsync '%s'", sp->dir);
		return -1;
	}
	return 0;
}

/* spool_journal_time - the current time for journal lines */
static void spool_journal_time(char *buf, size_t len)
{
	(void) str_iso8601(time(NULL), buf, len);
}

/* spool_batch_apply - stage 2 for a list of transactions (worker) */
static void spool_batch_apply(struct spool_batch *b)
{
	struct spool *sp = b->sp;
	struct spool_txn *t;
	struct buf jl = BUF_INIT(SIZE_MAX / 2);
	unsigned dirs = 0, tdirs;
	char    berr[SPOOL_ERRLEN] = "", tm[32], path[4096];
	const unsigned char *p, *nl;
	size_t  i, left;
	int     d;

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
			continue;
		}
		dirs |= tdirs;
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

	spool_journal_time(tm, sizeof(tm));
	for (t = b->head; t; t = t->next) {
		if (t->failed)
			continue;
		p = buf_data(&t->lines);
		left = t->lines.len;
		while (left > 0) {
			nl = memchr(p, '\n', left);
			PANIC_IF(nl == NULL);
			(void) buf_printf(&jl, "%s ", tm);
			(void) buf_append(&jl, p, (size_t) (nl - p) + 1);
			left -= (size_t) (nl - p) + 1;
			p = nl + 1;
			b->lines++;
		}
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
	crash_point("spool-after-journal-sync");

	/* Committed. The tmp links were markers of commits in flight. */
	for (t = b->head; t; t = t->next)
		if (!t->failed)
			for (i = 0; i < t->nops; i++)
				if (t->ops[i].kind == OP_COMMIT && spool_path(sp, SPOOL_TMP,
				    t->ops[i].name, path, sizeof(path)))
					(void) sys_unlink(path);
	if (sp->jsize >= sp->journal_max) {
		if (spool_rotate(sp, b->warn, sizeof(b->warn)) == 0)
			b->rotations++;
	}
	buf_release(&jl);
	return;

journal_fail:
	/* A torn append must not stay: cut the journal back. */
	if (ftruncate(sp->jfd, (off_t) sp->jsize) < 0)
		log_warn("spool: truncate 'journal' to %llu: %s",
		    (unsigned long long) sp->jsize, strerror(errno));
batch_fail:
	for (t = b->head; t; t = t->next) {
		if (t->failed)
			continue;
		spool_txn_undo(t);
		t->failed = 1;
		str_copy(t->err, berr, sizeof(t->err));
	}
	for (d = 0; d < SPOOL_NDIRS; d++)
		if (dirs & 1u << d)
			(void) sys_fsync(sp->dfd[d]);
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
	sp->pending--;
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
	sp->st.lines += b->lines;
	sp->st.rotations += b->rotations;
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

/* spool_txn_submit - hand t over */
void spool_txn_submit(struct spool_txn *t, spool_done_fn *done, void *arg)
{
	struct spool *sp = t->sp;
	struct spool_batch b;

	t->done = done;
	t->arg = arg;
	sp->pending++;
	if (sp->wq) {
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
		sp->st.lines += b.lines;
		sp->st.rotations += b.rotations;
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

/* spool_docket_get - the value stored for key */
void *spool_docket_get(struct spool *sp, const char *key, size_t *lenp, time_t *mtime,
	char *err, size_t errlen)
{
	char    path[4096], derr[DURABLE_ERRLEN], *file, *text = NULL, *hdr = NULL, *v;
	size_t  len = 0, hl;
	struct stat sb;
	void   *ret = NULL;

	if (!spool_docket_key_ok(key)) {
		errno = EINVAL;
		spool_errf(err, errlen, "docket get: key");
		return NULL;
	}
	file = spool_docket_file(key);
	snprintf(path, sizeof(path), "%s/dockets/%s", sp->dir, file);
	text = durable_read_file(path, SPOOL_DOCKET_MAX + 8 * SPOOL_DOCKET_KEYMAX, &len,
	    derr, sizeof(derr));
	if (text == NULL) {
		spool_errf(err, errlen, "docket get 'dockets/%s'", file);
		goto out;
	}
	hdr = spool_docket_header(key, &hl);
	if (len < hl || memcmp(text, hdr, hl) != 0) {
		/* Same file name but another key (hash collision) is "none";
		 * anything that is not a docket at all is kept for the operator. */
		if (len >= 24 && memcmp(text, "niftpmail-docket 1\nkey ", 23) == 0
		    && memchr(text + 23, '\n', len - 23) != NULL) {
			errno = ENOENT;
			spool_errf(err, errlen, "docket get 'dockets/%s'", file);
			goto out;
		}
		snprintf(derr, sizeof(derr), "corrupt/%s", file);
		(void) renameat(sp->dfd[SPOOL_DOCKDIR], file, sp->dfd[SPOOL_DOCKDIR], derr);
		errno = EBADMSG;
		spool_errf(err, errlen, "docket get 'dockets/%s' (moved to dockets/corrupt/)",
		    file);
		goto out;
	}
	if (mtime) {
		*mtime = 0;
		if (stat(path, &sb) == 0)
			*mtime = sb.st_mtime;
	}
	v = xmalloc(len - hl + 1);
	memcpy(v, text + hl, len - hl);
	v[len - hl] = '\0';
	if (lenp)
		*lenp = len - hl;
	ret = v;
out:
	free(text);
	free(hdr);
	free(file);
	return ret;
}

/* spool_docket_peek - read-only get without an open spool */
void *spool_docket_peek(const char *dir, const char *key, size_t *lenp, char *err,
	size_t errlen)
{
	char    path[4096], derr[DURABLE_ERRLEN], *file, *text, *hdr, *v = NULL;
	size_t  len = 0, hl;

	if (!spool_docket_key_ok(key)) {
		errno = EINVAL;
		snprintf(err, errlen, "spool: docket peek: bad key");
		return NULL;
	}
	file = spool_docket_file(key);
	snprintf(path, sizeof(path), "%s/dockets/%s", dir, file);
	text = durable_read_file(path, SPOOL_DOCKET_MAX + 8 * SPOOL_DOCKET_KEYMAX, &len,
	    derr, sizeof(derr));
	if (text == NULL) {
		snprintf(err, errlen, "spool: docket peek 'dockets/%s': %s", file, strerror(errno));
		free(file);
		return NULL;
	}
	hdr = spool_docket_header(key, &hl);
	if (len < hl || memcmp(text, hdr, hl) != 0) {
		errno = ENOENT;
		snprintf(err, errlen, "spool: docket peek 'dockets/%s': another key or not a "
		    "docket", file);
	} else {
		v = xmalloc(len - hl + 1);
		memcpy(v, text + hl, len - hl);
		v[len - hl] = '\0';
		if (lenp)
			*lenp = len - hl;
	}
	free(text);
	free(hdr);
	free(file);
	return v;
}

/* spool_docket_put - synchronous durable put */
int spool_docket_put(struct spool *sp, const char *key, const void *data, size_t len,
	char *err, size_t errlen)
{
	char    path[4096], derr[DURABLE_ERRLEN], *file;
	void   *c;
	size_t  cl;
	int     ret;

	if (!spool_docket_key_ok(key) || len > SPOOL_DOCKET_MAX) {
		errno = EINVAL;
		spool_errf(err, errlen, "docket put: key or size");
		return -1;
	}
	file = spool_docket_file(key);
	c = spool_docket_content(key, data, len, &cl);
	snprintf(path, sizeof(path), "%s/dockets/%s", sp->dir, file);
	ret = durable_write_file(path, c, cl, derr, sizeof(derr));
	if (ret < 0 && err && errlen)
		snprintf(err, errlen, "spool: docket put 'dockets/%s': %s", file, derr);
	free(c);
	free(file);
	return ret;
}

/* spool_docket_del - synchronous delete */
int spool_docket_del(struct spool *sp, const char *key, char *err, size_t errlen)
{
	char    path[4096], *file;
	int     ret = 0;

	if (!spool_docket_key_ok(key)) {
		errno = EINVAL;
		spool_errf(err, errlen, "docket del: key");
		return -1;
	}
	file = spool_docket_file(key);
	snprintf(path, sizeof(path), "%s/dockets/%s", sp->dir, file);
	if (sys_unlink(path) < 0) {
		if (errno != ENOENT) {
			spool_errf(err, errlen, "unlink 'dockets/%s'", file);
			ret = -1;
		}
	} else if (sys_fsync(sp->dfd[SPOOL_DOCKDIR]) < 0) {
		spool_errf(err, errlen, "fsync 'dockets'");
		ret = -1;
	}
	free(file);
	return ret;
}

/* spool_docket_prune - remove dockets older than max_age seconds */
int spool_docket_prune(struct spool *sp, int64_t max_age, time_t now, unsigned *removed,
	char *err, size_t errlen)
{
	DIR    *d;
	struct dirent *e;
	struct stat sb;
	unsigned n = 0;
	int     fd, ret = 0;

	fd = openat(sp->dfd[SPOOL_DOCKDIR], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		spool_errf(err, errlen, "prune: scan 'dockets'");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(sp->dfd[SPOOL_DOCKDIR], e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(sb.st_mode))
			continue;
		if ((int64_t) now - (int64_t) sb.st_mtime <= max_age)
			continue;
		if (unlinkat(sp->dfd[SPOOL_DOCKDIR], e->d_name, 0) < 0) {
			if (!ret)
				spool_errf(err, errlen, "prune: unlink 'dockets/%s'", e->d_name);
			ret = -1;
			continue;
		}
		n++;
	}
	closedir(d);
	if (n && sys_fsync(sp->dfd[SPOOL_DOCKDIR]) < 0 && !ret) {
		spool_errf(err, errlen, "prune: fsync 'dockets'");
		ret = -1;
	}
	if (removed)
		*removed = n;
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

/* spool_remove_dot_tmp - remove DIRFD/.tmp.* ; count */
static unsigned spool_remove_dot_tmp(int dirfd)
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
		if (strncmp(e->d_name, ".tmp.", 5) == 0 && unlinkat(dirfd, e->d_name, 0) == 0)
			n++;
	closedir(d);
	return n;
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
	size_t  k, j;
	char    tm[32], num[7][24];
	const char *kv[14];

	PANIC_IF(sp->pending > 0);
	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	spool_journal_time(tm, sizeof(tm));

	if ((cut = spool_cut_torn(sp, err, errlen)) < 0)
		goto out;
	r.journal_cut = (uint64_t) cut;

	/* tmp/: a file also linked into a state is a commit past its commit
	 * point (the tmp link is removed only after the journal sync); any
	 * other file was never committed and is no letter. */
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
			kv[0] = "state";
			kv[1] = spool_states[found];
			(void) journal_format(&lines, tm, "recovered", e->d_name, kv, 1);
		} else {
			r.tmp_undone++;
		}
	}
	closedir(d);
	r.docket_tmp = spool_remove_dot_tmp(sp->dfd[SPOOL_DOCKDIR]);
	(void) spool_remove_dot_tmp(sp->rootfd);

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
	kv[0] = "undone"; kv[1] = num[0];
	kv[2] = "completed"; kv[3] = num[1];
	kv[4] = "stray"; kv[5] = num[2];
	kv[6] = "dockets"; kv[7] = num[3];
	kv[8] = "conflicts"; kv[9] = num[4];
	kv[10] = "cut"; kv[11] = num[5];
	kv[12] = "seq"; kv[13] = num[6];
	(void) journal_format(&lines, tm, "recover", NULL, kv, 7);
	if (sys_fsync(sp->dfd[SPOOL_TMP]) < 0 || sys_fsync(sp->dfd[SPOOL_DOCKDIR]) < 0) {
		spool_errf(err, errlen, "recover: fsync 'tmp'");
		goto out;
	}
	if (spool_journal_direct(sp, &lines, err, errlen) < 0)
		goto out;
	ret = 0;
out:
	for (k = 0; k < c.n; k++)
		free(c.v[k].name);
	free(c.v);
	buf_release(&lines);
	if (rep)
		*rep = r;
	return ret;
}
