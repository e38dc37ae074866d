/*++
 * NAME
 *	tool_dirfs 3
 * SUMMARY
 *	the directory filestore of niftp serve, with durable dockets
 * SYNOPSIS
 *	#include "niftp/tool_dirfs.h"
 * DESCRIPTION
 *	Layout under the served directory DIR:
 * .nf
 *	DIR/NAME                   committed files, nothing else (no dot-files of ours)
 *	DIR/.niftp/seq             next free name counter (reserved in blocks)
 *	DIR/.niftp/lock            flock(2) taken while reserving counters
 *	DIR/.niftp/partial/KEY     data of a transfer not yet committed
 *	DIR/.niftp/dockets/KEY     docket of the transfer KEY
 *	DIR/.niftp/corrupt/        dockets that could not be parsed (kept)
 * .fi
 *	KEY is "TID.CRC.CALLER": the transfer id, the CRC-32 of the caller
 *	identity and a sanitised prefix of it; the docket holds the full
 *	identity, so a CRC collision reads as "no docket". A transfer
 *	without id (tid 0) cannot resume; its partial file is
 *	"anon.SEQ" and it has no docket.
 *
 *	A docket is a small text file ("niftp-docket 1", then "key
 *	value" lines; caller and copy identity hex-encoded) written with
 *	durable_write_file(): caller, tid, name, mode, last durable mark
 *	and its offset, copy identity, committed flag, the inode that
 *	becomes DIR/NAME, and the time of the last update.
 *
 *	Sequence of a received file:
 * .IP open
 *	(worker) create the partial file, fsync its directory, write
 *	the docket (mark 0). Only then is RPOS sent (niftp_open_done), so
 *	a donor can never resume against an older docket of the same key.
 * .IP marks
 *	every opts.checkpoint octets (default 64 MiB) and at suspend:
 *	(worker) fdatasync the partial file, then write the docket with
 *	the mark and its offset.
 * .IP commit
 *	(worker) fsync the partial file; then for an assigned name or
 *	make-only link(2) it to DIR/NAME (never replacing anything), for
 *	replace modes rename(2) it over DIR/NAME, for append-or-make copy
 *	the old DIR/NAME and the new data into a temporary file, record
 *	its inode in the docket, and rename it over DIR/NAME; fsync DIR;
 *	write the docket "committed". Then ER(OK) may go.
 * .PP
 *	A crash after the link/rename but before the docket says
 *	"committed" is recognised on resumption: DIR/NAME then has the
 *	inode the docket recorded.
 *
 *	Only one transfer per key is active in a process. A resumption
 *	that finds its key active on another call asks that call to end
 *	(supersede: the newer call wins, the donor evidently lost the
 *	older one) and is answered when the older file is released.
 *
 *	Crash points (util/crash.h): dirfs-write (each write), dirfs-after-
 *	checkpoint, dirfs-before-commit, dirfs-after-rename (file visible,
 *	docket not yet committed), dirfs-after-commit (all durable, ER not
 *	yet sent).
 *
 *	Retention: dockets are kept opts.keep_ms after their last update
 *	(default 7 days) and pruned, with partial files of abandoned
 *	transfers, when the filestore is opened. Orphaned partial and
 *	temporary files older than one day are removed then too.
 * DIAGNOSTICS
 *	Reasons returned to the engine name the operation, the file
 *	(relative to DIR) and the system error.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "niftp/niftp_call.h"
#include "niftp/tool_common.h"
#include "niftp/tool_dirfs.h"
#include "util/alloc.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"
#include "util/workq.h"

#define DIRFS_SEQ_BLOCK		256
#define DIRFS_DOCKET_MAX	8192
#define DIRFS_ORPHAN_MS		(24LL * 3600 * 1000)
#define DIRFS_KEYLEN		128
#define DIRFS_COPYBUF		(256 * 1024)
#define DIRFS_WB_CHUNK		(8 * 1024 * 1024)	/* start writeback this often */

struct docket {
	char	caller[NIFTP_CALLER_MAX];
	unsigned tid;
	char	name[256];
	unsigned mode;
	uint32_t mark;
	uint64_t offset;
	char	copy_id[NIFTP_MAX_NAME + 1];
	int	committed;
	uint64_t ino;
	uint64_t dev;
	int64_t	time;
};

enum job_kind { JOB_OPEN, JOB_CKPT, JOB_COMMIT, JOB_REMOVE, JOB_WB };

struct job;

struct dirfs {
	struct loop *loop;
	struct workq *wq;
	char   *dir;
	char   *meta;
	char   *partdir;
	char   *dockdir;
	char   *corruptdir;
	char   *seqpath;
	char   *lockpath;
	struct dirfs_opts opts;
	uint64_t seq_next;
	uint64_t seq_end;
	struct niftp_file *files;	/* open files, and files with work pending */
	struct job *waiting;		/* opens waiting for their key */
	int	jobs;			/* jobs submitted, done() not yet run */
};

struct dirfs_conn {
	struct dirfs *fs;
	dirfs_conn_fn *kick;
	dirfs_conn_fn *supersede;
	void   *arg;
	struct niftp *n;
	struct job *opening;		/* our late open */
	uint64_t sup_timer;
};

struct niftp_file {
	struct dirfs *fs;
	struct dirfs_conn *conn;	/* NULL once the call is gone */
	struct niftp_file *next;
	struct niftp_file *prev;
	int	writing;
	int	fd;
	char	name[256];
	char	key[DIRFS_KEYLEN];	/* docket key, or "anon.N", or "" (reads) */
	char	partial[PATH_MAX];
	char	docket[PATH_MAX];
	char	final[PATH_MAX];
	unsigned mode;
	int	given;			/* name given by the caller */
	int	has_docket;
	struct docket dk;		/* what the docket on disk says */
	uint64_t offset;		/* write: file length; read: position */
	uint64_t size;			/* read: file size */
	uint32_t mark;			/* last mark the engine reported */
	uint64_t mark_off;
	uint64_t ckpt_off;		/* offset of the last checkpoint started */
	uint64_t wb_off;		/* writeback started up to here */
	int	jobs;
	int	released;		/* finish/suspend seen (or never handed over) */
	int	committed;
	int	committing;
	int	commit_wanted;
	int	ckpt_wanted;
	int	wb_wanted;
	int	remove_wanted;
	int	discard_wanted;
	int	read_remove;
	struct niftp *commit_n;
};

struct job {
	enum job_kind kind;
	struct dirfs *fs;
	struct niftp_file *fh;
	struct dirfs_conn *conn;	/* JOB_OPEN: who asked (NULL if gone) */
	struct job *next;		/* waiting list */
	char	key[DIRFS_KEYLEN];
	int	resume;
	int	given;
	struct docket dk;		/* in: wanted/snapshot; out: as on disk */
	/* results */
	int	ok;
	int	retry;
	uint16_t state;
	char	reason[NIFTP_REASON_MAX];
	int	fd;
	int	committed;
	uint64_t wb_from;		/* JOB_WB: the range to start writing */
	uint64_t wb_len;
};

static void fh_progress(struct niftp_file *fh);
static void dirfs_try_open(struct dirfs *fs, struct job *job);

/* rel - a path relative to DIR for messages */
static const char *rel(const struct dirfs *fs, const char *path)
{
	size_t  n = strlen(fs->dir);

	if (strncmp(path, fs->dir, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

/* hex_put - hex-encode s into out */
static void hex_put(char *out, size_t len, const char *s)
{
	static const char hx[] = "0123456789abcdef";
	size_t  k = 0;

	for (; *s && k + 3 <= len; s++) {
		out[k++] = hx[(unsigned char) *s >> 4];
		out[k++] = hx[(unsigned char) *s & 15];
	}
	if (len > 0)
		out[k < len ? k : len - 1] = '\0';
}

/* hex_get - decode hex text into out; 0 or -1 */
static int hex_get(char *out, size_t len, const char *s)
{
	size_t  k = 0;
	int     a, b;

	while (*s) {
		if ((a = str_hexval(s[0])) < 0 || (b = str_hexval(s[1])) < 0 || k + 1 >= len)
			return -1;
		if (a == 0 && b == 0)
			return -1;
		out[k++] = (char) (a << 4 | b);
		s += 2;
	}
	out[k] = '\0';
	return 0;
}

/* docket_format - the text of a docket into new memory */
static char *docket_format(const struct docket *d, size_t *lenp)
{
	char    caller[sizeof(d->caller) * 2 + 1], copy[sizeof(d->copy_id) * 2 + 1];
	char   *s;

	hex_put(caller, sizeof(caller), d->caller);
	hex_put(copy, sizeof(copy), d->copy_id);
	s = xasprintf("niftp-docket 1\ncaller %s\ntid %u\nname %s\nmode %u\n"
	    "mark %lu\noffset %llu\ncopy %s\ncommitted %d\nino %llu\ndev %llu\n"
	    "time %lld\n", caller, d->tid, d->name, d->mode, (unsigned long) d->mark,
	    (unsigned long long) d->offset, copy, d->committed,
	    (unsigned long long) d->ino, (unsigned long long) d->dev,
	    (long long) d->time);
	*lenp = strlen(s);
	return s;
}

/* docket_parse - parse docket text (modified in place); 0 or -1 */
static int docket_parse(char *text, struct docket *d)
{
	char   *line, *next, *val;
	uint64_t u;
	int     header = 0, have_name = 0;

	memset(d, 0, sizeof(*d));
	for (line = text; line != NULL && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (!header) {
			if (strcmp(line, "niftp-docket 1") != 0)
				return -1;
			header = 1;
			continue;
		}
		if ((val = strchr(line, ' ')) == NULL)
			val = line + strlen(line);
		else
			*val++ = '\0';
		if (strcmp(line, "caller") == 0) {
			if (hex_get(d->caller, sizeof(d->caller), val) < 0)
				return -1;
		} else if (strcmp(line, "copy") == 0) {
			if (hex_get(d->copy_id, sizeof(d->copy_id), val) < 0)
				return -1;
		} else if (strcmp(line, "name") == 0) {
			if (str_copy(d->name, val, sizeof(d->name)) >= sizeof(d->name))
				return -1;
			have_name = 1;
		} else if (strcmp(line, "tid") == 0) {
			if (str_to_u64(val, 0, 65535, &u) < 0)
				return -1;
			d->tid = (unsigned) u;
		} else if (strcmp(line, "mode") == 0) {
			if (str_to_u64(val, 0, 65535, &u) < 0)
				return -1;
			d->mode = (unsigned) u;
		} else if (strcmp(line, "mark") == 0) {
			if (str_to_u64(val, 0, UINT32_MAX, &u) < 0)
				return -1;
			d->mark = (uint32_t) u;
		} else if (strcmp(line, "offset") == 0) {
			if (str_to_u64(val, 0, UINT64_MAX, &d->offset) < 0)
				return -1;
		} else if (strcmp(line, "committed") == 0) {
			if (str_to_u64(val, 0, 1, &u) < 0)
				return -1;
			d->committed = (int) u;
		} else if (strcmp(line, "ino") == 0) {
			if (str_to_u64(val, 0, UINT64_MAX, &d->ino) < 0)
				return -1;
		} else if (strcmp(line, "dev") == 0) {
			if (str_to_u64(val, 0, UINT64_MAX, &d->dev) < 0)
				return -1;
		} else if (strcmp(line, "time") == 0) {
			if (str_to_u64(val, 0, INT64_MAX, &u) < 0)
				return -1;
			d->time = (int64_t) u;
		}
		/* other keys: from a newer version, ignored */
	}
	return header && have_name ? 0 : -1;
}

/* docket_write - durably write d to path (worker or start-up); 0 or -1 */
static int docket_write(const char *path, struct docket *d, char *err, size_t errlen)
{
	size_t  len;
	char   *text;
	int     rc;

	d->time = (int64_t) time(NULL);
	text = docket_format(d, &len);
	rc = durable_write_file(path, text, len, err, errlen);
	free(text);
	return rc;
}

/* docket_read - 0, -1 with errno ENOENT (none), or -2 unparseable */
static int docket_read(const char *path, struct docket *d, char *err, size_t errlen)
{
	size_t  len;
	char   *text;
	int     rc;

	if ((text = durable_read_file(path, DIRFS_DOCKET_MAX, &len, err, errlen)) == NULL)
		return -1;
	rc = docket_parse(text, d) < 0 ? -2 : 0;
	if (rc < 0)
		snprintf(err, errlen, "parse docket '%s': malformed", path);
	free(text);
	return rc;
}

/* docket_key - the file name of the docket of (caller, tid) */
static void docket_key(const char *caller, unsigned tid, char *key, size_t len)
{
	char    san[49];
	size_t  i;
	unsigned long crc = crc32(0L, (const Bytef *) caller, (uInt) strlen(caller));

	for (i = 0; caller[i] && i < sizeof(san) - 1; i++) {
		unsigned char c = (unsigned char) caller[i];

		san[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '.' || c == '-') ? (char) c : '_';
	}
	san[i] = '\0';
	snprintf(key, len, "%05u.%08lx.%s", tid, crc & 0xffffffffUL, san);
}

/* set_reason - fill an engine reason buffer */
static void set_reason(char *reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_reason(char *reason, const char *fmt, ...)
{
	va_list ap;

	if (reason == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, NIFTP_REASON_MAX, fmt, ap);
	va_end(ap);
}

/* copy_fd - append all of in (from offset 0) to out; 0 or -1 (errno) */
static int copy_fd(int in, int out)
{
	char   *buf = NULL;
	loff_t  off = 0;
	ssize_t n;
	int     rc = -1;

	for (;;) {
		n = copy_file_range(in, &off, out, NULL, DIRFS_COPYBUF, 0);
		if (n == 0) {
			rc = 0;
			goto out;
		}
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS
		    || errno == EOPNOTSUPP || errno == EBADF)
			break;
		goto out;
	}
	/* the kernel cannot copy between these files: plain read/write */
	buf = xmalloc(DIRFS_COPYBUF);
	for (;;) {
		n = pread(in, buf, DIRFS_COPYBUF, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (write_full(out, buf, (size_t) n) < 0)
			goto out;
		off += n;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* --- the sequence counter ---------------------------------------------- */

/* dirfs_seq - the next counter value, reserving a block when needed */
static int dirfs_seq(struct dirfs *fs, uint64_t *out, char *err, size_t errlen)
{
	char    text[32], rerr[DURABLE_ERRLEN];
	char   *cur;
	size_t  len;
	uint64_t next = 1;
	int     lockfd, rc = -1;

	if (fs->seq_next < fs->seq_end) {
		*out = fs->seq_next++;
		return 0;
	}
	if ((lockfd = open(fs->lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "open '%s': %s", fs->lockpath, strerror(errno));
		return -1;
	}
	while (flock(lockfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "lock '%s': %s", fs->lockpath, strerror(errno));
			goto out;
		}
	}
	if ((cur = durable_read_file(fs->seqpath, 64, &len, rerr, sizeof(rerr))) != NULL) {
		if (str_to_u64(str_trim(cur), 1, UINT64_MAX - DIRFS_SEQ_BLOCK, &next) < 0) {
			free(cur);
			snprintf(err, errlen, "read '%s': not a number", fs->seqpath);
			goto out;
		}
		free(cur);
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "%s", rerr);
		goto out;
	}
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long) (next + DIRFS_SEQ_BLOCK));
	if (durable_write_file(fs->seqpath, text, strlen(text), err, errlen) < 0)
		goto out;
	fs->seq_next = next;
	fs->seq_end = next + DIRFS_SEQ_BLOCK;
	*out = fs->seq_next++;
	rc = 0;
out:
	close(lockfd);		/* releases the lock */
	return rc;
}

/* dirfs_assign - a new name f.YYMMDDHHMMSS.NNNNNN */
static int dirfs_assign(struct dirfs *fs, char *name, size_t len, char *err, size_t errlen)
{
	struct tm tm;
	time_t  now = time(NULL);
	uint64_t seq;

	if (dirfs_seq(fs, &seq, err, errlen) < 0)
		return -1;
	gmtime_r(&now, &tm);
	snprintf(name, len, "f.%02d%02d%02d%02d%02d%02d.%06llu", tm.tm_year % 100,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (unsigned long long) seq);
	return 0;
}

/* --- files --------------------------------------------------------------- */

/* fh_new - a file object in the list */
static struct niftp_file *fh_new(struct dirfs *fs, struct dirfs_conn *fc, int writing)
{
	struct niftp_file *fh = xcalloc(1, sizeof(*fh));

	fh->fs = fs;
	fh->conn = fc;
	fh->writing = writing;
	fh->fd = -1;
	fh->next = fs->files;
	if (fs->files != NULL)
		fs->files->prev = fh;
	fs->files = fh;
	return fh;
}

/* fh_paths - fill the paths of a write file from its key and name */
static void fh_paths(struct niftp_file *fh)
{
	struct dirfs *fs = fh->fs;

	snprintf(fh->partial, sizeof(fh->partial), "%s/%s", fs->partdir, fh->key);
	snprintf(fh->docket, sizeof(fh->docket), "%s/%s", fs->dockdir, fh->key);
	snprintf(fh->final, sizeof(fh->final), "%s/%s", fs->dir, fh->name);
}

/* fh_find - the active file with this key */
static struct niftp_file *fh_find(struct dirfs *fs, const char *key)
{
	struct niftp_file *fh;

	for (fh = fs->files; fh != NULL; fh = fh->next)
		if (fh->key[0] != '\0' && strcmp(fh->key, key) == 0)
			return fh;
	return NULL;
}

/* dirfs_wake - start opens that waited for key */
static void dirfs_wake(struct dirfs *fs, const char *key)
{
	struct job **jp, *job;

	for (jp = &fs->waiting; (job = *jp) != NULL;) {
		if (strcmp(job->key, key) == 0 && fh_find(fs, key) == NULL) {
			*jp = job->next;
			job->next = NULL;
			dirfs_try_open(fs, job);
		} else
			jp = &job->next;
	}
}

/* fh_destroy - the file is released and idle: free it */
static void fh_destroy(struct niftp_file *fh)
{
	struct dirfs *fs = fh->fs;
	char    key[DIRFS_KEYLEN];

	if (fh->fd >= 0 && close(fh->fd) < 0 && fh->writing && !fh->committed)
		log_warn("close '%s': %s", rel(fs, fh->partial), strerror(errno));
	if (fh->prev != NULL)
		fh->prev->next = fh->next;
	else
		fs->files = fh->next;
	if (fh->next != NULL)
		fh->next->prev = fh->prev;
	str_copy(key, fh->key, sizeof(key));
	free(fh);
	if (key[0] != '\0')
		dirfs_wake(fs, key);
}

/* --- jobs ---------------------------------------------------------------- */

static void job_work(void *arg);
static void job_done(void *arg);

/* job_new - a job for fh */
static struct job *job_new(enum job_kind kind, struct dirfs *fs, struct niftp_file *fh)
{
	struct job *job = xcalloc(1, sizeof(*job));

	job->kind = kind;
	job->fs = fs;
	job->fh = fh;
	job->fd = -1;
	if (fh != NULL) {
		str_copy(job->key, fh->key, sizeof(job->key));
		job->dk = fh->dk;
	}
	return job;
}

/* job_submit - hand a job to the workers */
static void job_submit(struct job *job)
{
	job->fs->jobs++;
	if (job->fh != NULL)
		job->fh->jobs++;
	workq_submit(job->fs->wq, job_work, job_done, job);
}

/* work_open - worker: prepare the partial file and docket */
static void work_open(struct job *job)
{
	struct niftp_file *fh = job->fh;
	struct dirfs *fs = job->fs;
	struct docket old;
	struct stat st, fst;
	char    err[DURABLE_ERRLEN];
	int     rc;

	if (job->resume) {
		rc = docket_read(fh->docket, &old, err, sizeof(err));
		if (rc == -2) {
			/* unparseable: keep it for the operator, never delete */
			char    dst[PATH_MAX];

			snprintf(dst, sizeof(dst), "%s/%s", fs->corruptdir, job->key);
			(void) sys_rename(fh->docket, dst);
		}
		if (rc < 0 || strcmp(old.caller, job->dk.caller) != 0 || old.tid != job->dk.tid) {
			job->state = NIFTP_ST_REJ_NORESUME;
			set_reason(job->reason, "no docket for transfer %u from '%.64s'",
			    job->dk.tid, job->dk.caller);
			return;
		}
		if (job->dk.copy_id[0] && old.copy_id[0]
		    && strcmp(job->dk.copy_id, old.copy_id) != 0) {
			job->state = NIFTP_ST_REJ_NORESUME;
			set_reason(job->reason, "copy identity differs from transfer %u",
			    job->dk.tid);
			return;
		}
		if (job->given && strcmp(job->dk.name, old.name) != 0) {
			job->state = NIFTP_ST_REJ_NORESUME;
			set_reason(job->reason, "transfer %u was for '%.64s', not '%.64s'",
			    job->dk.tid, old.name, job->dk.name);
			return;
		}
		snprintf(fh->final, sizeof(fh->final), "%s/%s", fs->dir, old.name);
		if (!old.committed && old.ino != 0 && lstat(fh->final, &st) == 0
		    && (uint64_t) st.st_ino == old.ino && (uint64_t) st.st_dev == old.dev) {
			/* the commit reached its rename but not its docket */
			old.committed = 1;
			if (docket_write(fh->docket, &old, err, sizeof(err)) < 0)
				log_warn("%s", err);
			(void) sys_unlink(fh->partial);
		}
		job->dk = old;
		if (old.committed) {
			job->committed = 1;
			job->ok = 1;
			return;
		}
		job->fd = sys_openat(AT_FDCWD, fh->partial, O_RDWR | O_CLOEXEC, 0);
		if (job->fd < 0) {
			job->state = NIFTP_ST_REJ_NORESUME;
			set_reason(job->reason, "open '%s': %s", rel(fs, fh->partial),
			    strerror(errno));
			return;
		}
		/* data written after the last checkpoint is not trusted: the
		 * transfer restarts at the docket's mark (the engine truncates
		 * to the granted mark as well) */
		if (fstat(job->fd, &fst) < 0 || (uint64_t) fst.st_size < old.offset
		    || ftruncate(job->fd, (off_t) old.offset) < 0) {
			job->state = NIFTP_ST_REJ_NORESUME;
			set_reason(job->reason, "partial file '%s' is shorter than its docket",
			    rel(fs, fh->partial));
			close(job->fd);
			job->fd = -1;
			return;
		}
		job->ok = 1;
		return;
	}

	/* a fresh transfer replaces whatever the key held */
	if (sys_unlink(fh->partial) < 0 && errno != ENOENT) {
		job->state = NIFTP_ST_REJ_LATER;
		set_reason(job->reason, "remove '%s': %s", rel(fs, fh->partial), strerror(errno));
		return;
	}
	job->fd = sys_openat(AT_FDCWD, fh->partial, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (job->fd < 0 || fstat(job->fd, &fst) < 0) {
		job->state = NIFTP_ST_REJ_LATER;
		set_reason(job->reason, "create '%s': %s", rel(fs, fh->partial), strerror(errno));
		goto fail;
	}
	job->dk.mark = 0;
	job->dk.offset = 0;
	job->dk.committed = 0;
	job->dk.ino = (uint64_t) fst.st_ino;
	job->dk.dev = (uint64_t) fst.st_dev;
	if (fsync_dir(fs->partdir, err, sizeof(err)) < 0
	    || docket_write(fh->docket, &job->dk, err, sizeof(err)) < 0) {
		job->state = NIFTP_ST_REJ_LATER;
		set_reason(job->reason, "record docket: %s", err);
		goto fail;
	}
	job->ok = 1;
	return;
fail:
	if (job->fd >= 0) {
		close(job->fd);
		job->fd = -1;
	}
	(void) sys_unlink(fh->partial);
}

/* work_ckpt - worker: data durable, then the docket */
static void work_ckpt(struct job *job)
{
	struct niftp_file *fh = job->fh;
	char    err[DURABLE_ERRLEN];

	if (sys_fdatasync(fh->fd) < 0) {
		set_reason(job->reason, "fdatasync '%s': %s", rel(job->fs, fh->partial),
		    strerror(errno));
		return;
	}
	if (docket_write(fh->docket, &job->dk, err, sizeof(err)) < 0) {
		set_reason(job->reason, "%s", err);
		return;
	}
	crash_point("dirfs-after-checkpoint");
	job->ok = 1;
}

/*
 * work_wb - worker: start writeback of data written since the last one.
 *
 * Received data would otherwise sit in the page cache until a
 * checkpoint or the commit, and the fsync before ER would then write
 * all of it while the sender waits. SYNC_FILE_RANGE_WRITE only starts
 * the I/O (it promises nothing about durability: the fdatasync of a
 * checkpoint and the fsync of the commit still decide that), so the
 * disk works while the call is still receiving, and the final fsync
 * finds little left to do. It may block while the device queue is
 * full, which is why it runs here and not in the event loop. A failure
 * is only logged: the later fsync reports a real write error.
 */
static void work_wb(struct job *job)
{
	struct niftp_file *fh = job->fh;

	if (sync_file_range(fh->fd, (off64_t) job->wb_from, (off64_t) job->wb_len,
	    SYNC_FILE_RANGE_WRITE) < 0 && errno != ESPIPE && errno != EINVAL
	    && errno != ENOSYS) {
		set_reason(job->reason, "sync_file_range '%s': %s", rel(job->fs, fh->partial),
		    strerror(errno));
		return;
	}
	job->ok = 1;
}

/* work_commit - worker: make the file durable under its name */
static void work_commit(struct job *job)
{
	struct niftp_file *fh = job->fh;
	struct dirfs *fs = job->fs;
	char    err[DURABLE_ERRLEN], tmp[PATH_MAX];
	struct stat st;
	int     tfd = -1, ofd = -1;

	if (sys_fsync(fh->fd) < 0) {
		job->retry = 1;
		set_reason(job->reason, "fsync '%s': %s", rel(fs, fh->partial), strerror(errno));
		return;
	}
	crash_point("dirfs-before-commit");
	if (fh->mode == NIFTP_MODE_APPEND_MAKE && fh->given) {
		/* append as a new file: old content + new data, then rename,
		 * so that a reader or a crash sees the old or the new file */
		tfd = durable_tmp_open(fs->partdir, "append", tmp, sizeof(tmp), err, sizeof(err));
		if (tfd < 0) {
			job->retry = 1;
			set_reason(job->reason, "%s", err);
			return;
		}
		ofd = open(fh->final, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (ofd < 0 && errno != ENOENT) {
			set_reason(job->reason, "open '%s': %s", fh->name, strerror(errno));
			goto append_fail;
		}
		if (ofd >= 0 && copy_fd(ofd, tfd) < 0) {
			job->retry = 1;
			set_reason(job->reason, "copy '%s': %s", fh->name, strerror(errno));
			goto append_fail;
		}
		if (copy_fd(fh->fd, tfd) < 0 || sys_fsync(tfd) < 0 || fstat(tfd, &st) < 0) {
			job->retry = 1;
			set_reason(job->reason, "append to '%s': %s", fh->name, strerror(errno));
			goto append_fail;
		}
		if (ofd >= 0)
			close(ofd);
		ofd = -1;
		if (fh->has_docket) {
			job->dk.ino = (uint64_t) st.st_ino;
			job->dk.dev = (uint64_t) st.st_dev;
			if (docket_write(fh->docket, &job->dk, err, sizeof(err)) < 0) {
				job->retry = 1;
				set_reason(job->reason, "record docket: %s", err);
				goto append_fail;
			}
		}
		if (close(tfd) < 0) {
			tfd = -1;
			job->retry = 1;
			set_reason(job->reason, "close '%s': %s", rel(fs, tmp), strerror(errno));
			goto append_fail;
		}
		tfd = -1;
		if (sys_rename(tmp, fh->final) < 0) {
			job->retry = 1;
			set_reason(job->reason, "rename to '%s': %s", fh->name, strerror(errno));
			goto append_fail;
		}
		(void) sys_unlink(fh->partial);
	} else if (fh->given && (fh->mode == NIFTP_MODE_REPLACE
	    || fh->mode == NIFTP_MODE_REPLACE_MAKE)) {
		if (sys_rename(fh->partial, fh->final) < 0) {
			job->retry = 1;
			set_reason(job->reason, "rename to '%s': %s", fh->name, strerror(errno));
			return;
		}
	} else {
		/* make-only and assigned names: link never replaces */
		if (sys_link(fh->partial, fh->final) < 0) {
			if (errno == EEXIST) {
				set_reason(job->reason, "file '%s' exists", fh->name);
				job->state = NIFTP_ST_REJ_MSG;
			} else {
				job->retry = 1;
				set_reason(job->reason, "link '%s': %s", fh->name, strerror(errno));
			}
			return;
		}
		(void) sys_unlink(fh->partial);
	}
	if (fsync_dir(fs->dir, err, sizeof(err)) < 0) {
		/* the file exists but its name may not survive a crash */
		job->retry = 1;
		set_reason(job->reason, "%s", err);
		return;
	}
	crash_point("dirfs-after-rename");
	if (fh->has_docket) {
		job->dk.committed = 1;
		if (docket_write(fh->docket, &job->dk, err, sizeof(err)) < 0)
			log_warn("commit '%s': %s (recovered from the inode on resumption)",
			    fh->name, err);
	}
	crash_point("dirfs-after-commit");
	job->ok = 1;
	return;
append_fail:
	if (ofd >= 0)
		close(ofd);
	if (tfd >= 0)
		close(tfd);
	(void) sys_unlink(tmp);
}

/* work_remove - worker: remove a file that was read with read-remove */
static void work_remove(struct job *job)
{
	struct niftp_file *fh = job->fh;
	char    err[DURABLE_ERRLEN];

	if (sys_unlink(fh->final) < 0 && errno != ENOENT) {
		set_reason(job->reason, "remove '%s': %s", fh->name, strerror(errno));
		return;
	}
	if (fsync_dir(job->fs->dir, err, sizeof(err)) < 0) {
		set_reason(job->reason, "%s", err);
		return;
	}
	job->ok = 1;
}

/* job_work - worker thread entry: touches only the job and fh's fd/paths */
static void job_work(void *arg)
{
	struct job *job = arg;

	switch (job->kind) {
	case JOB_OPEN:
		work_open(job);
		break;
	case JOB_CKPT:
		work_ckpt(job);
		break;
	case JOB_COMMIT:
		work_commit(job);
		break;
	case JOB_REMOVE:
		work_remove(job);
		break;
	case JOB_WB:
		work_wb(job);
		break;
	}
}

/* done_open - loop thread: answer the engine */
static void done_open(struct job *job)
{
	struct niftp_file *fh = job->fh;
	struct dirfs_conn *fc = job->conn;
	struct niftp_open res;

	memset(&res, 0, sizeof(res));
	if (job->ok) {
		fh->fd = job->fd;
		fh->dk = job->dk;
		fh->has_docket = 1;
		fh->committed = job->committed;
		str_copy(fh->name, job->dk.name, sizeof(fh->name));
		fh->mode = job->dk.mode;
		snprintf(fh->final, sizeof(fh->final), "%s/%s", fh->fs->dir, fh->name);
		fh->offset = job->dk.offset;
		fh->mark = job->dk.mark;
		fh->mark_off = job->dk.offset;
		fh->ckpt_off = job->dk.offset;
		fh->wb_off = job->dk.offset;
		res.fh = fh;
		str_copy(res.name, fh->name, sizeof(res.name));
		res.size = -1;
		res.committed = job->committed;
		res.mark = job->dk.mark;
		res.offset = job->dk.offset;
	} else {
		res.state = job->state ? job->state : NIFTP_ST_REJ_LATER;
		str_copy(res.reason, job->reason, sizeof(res.reason));
		fh->released = 1;
	}
	if (fc == NULL || fc->n == NULL) {
		/* the call went away meanwhile: keep the docket, as a
		 * suspended transfer */
		fh->released = 1;
		return;
	}
	fc->opening = NULL;
	fh->conn = fc;
	niftp_open_done(fc->n, job->ok, &res);
	if (fc->kick != NULL)
		fc->kick(fc->arg);
}

/* job_done - loop thread: a job finished */
static void job_done(void *arg)
{
	struct job *job = arg;
	struct niftp_file *fh = job->fh;
	struct dirfs *fs = job->fs;
	struct dirfs_conn *fc;

	fs->jobs--;
	fh->jobs--;
	switch (job->kind) {
	case JOB_OPEN:
		done_open(job);
		break;
	case JOB_CKPT:
		if (job->ok) {
			fh->dk = job->dk;
			log_debug("checkpoint '%s': mark %lu at %llu octets", fh->name,
			    (unsigned long) job->dk.mark, (unsigned long long) job->dk.offset);
		} else
			log_warn("checkpoint '%s': %s", fh->name, job->reason);
		break;
	case JOB_COMMIT:
		fh->committing = 0;
		if (job->ok) {
			fh->committed = 1;
			fh->dk = job->dk;
		} else
			log_warn("commit '%s': %s", fh->name, job->reason);
		fc = fh->conn;
		if (!fh->released && fh->commit_n != NULL) {
			niftp_commit_done(fh->commit_n, job->ok, job->retry,
			    job->ok ? NULL : job->reason);
			if (fc != NULL && fc->kick != NULL)
				fc->kick(fc->arg);
		}
		break;
	case JOB_REMOVE:
		if (!job->ok)
			log_warn("read-remove '%s': %s", fh->name, job->reason);
		break;
	case JOB_WB:
		if (!job->ok)
			log_debug("writeback '%s': %s", fh->name, job->reason);
		break;
	}
	free(job);
	fh_progress(fh);
}

/* fh_progress - start deferred work, or free a released idle file */
static void fh_progress(struct niftp_file *fh)
{
	struct job *job;

	if (fh->jobs > 0)
		return;
	if (fh->commit_wanted) {
		fh->commit_wanted = 0;
		fh->committing = 1;
		job_submit(job_new(JOB_COMMIT, fh->fs, fh));
		return;
	}
	if (fh->ckpt_wanted) {
		fh->ckpt_wanted = 0;
		if (fh->has_docket && !fh->committed && fh->mark_off > fh->dk.offset
		    && fh->mark_off <= fh->offset) {
			job = job_new(JOB_CKPT, fh->fs, fh);
			job->dk.mark = fh->mark;
			job->dk.offset = fh->mark_off;
			fh->ckpt_off = fh->mark_off;
			job_submit(job);
			return;
		}
	}
	if (fh->wb_wanted) {
		fh->wb_wanted = 0;
		if (fh->writing && fh->fd >= 0 && !fh->committed && !fh->released
		    && fh->offset > fh->wb_off) {
			job = job_new(JOB_WB, fh->fs, fh);
			job->wb_from = fh->wb_off;
			job->wb_len = fh->offset - fh->wb_off;
			fh->wb_off = fh->offset;
			job_submit(job);
			return;
		}
	}
	if (fh->remove_wanted) {
		fh->remove_wanted = 0;
		job_submit(job_new(JOB_REMOVE, fh->fs, fh));
		return;
	}
	if (fh->discard_wanted) {
		fh->discard_wanted = 0;
		if (!fh->committed) {
			(void) sys_unlink(fh->partial);
			if (fh->has_docket)
				(void) sys_unlink(fh->docket);
		}
	}
	if (fh->released)
		fh_destroy(fh);
}

/* --- the late open ------------------------------------------------------- */

/* conn_supersede_timer - ask a call to end (outside any engine call) */
static void conn_supersede_timer(struct loop *loop, void *arg)
{
	struct dirfs_conn *fc = arg;

	(void) loop;
	fc->sup_timer = 0;
	if (fc->supersede != NULL)
		fc->supersede(fc->arg);
}

/* dirfs_try_open - submit an open job, or let it wait for its key */
static void dirfs_try_open(struct dirfs *fs, struct job *job)
{
	struct niftp_file *old = fh_find(fs, job->key), *fh;

	if (old != NULL) {
		if (old->conn != NULL && old->conn != job->conn && !old->released
		    && old->conn->sup_timer == 0) {
			log_info("transfer %u from '%s' resumes on a new call: ending the "
			    "older call", job->dk.tid, job->dk.caller);
			old->conn->sup_timer = loop_timer_add(fs->loop, 0,
			    conn_supersede_timer, old->conn);
		}
		job->next = fs->waiting;
		fs->waiting = job;
		return;
	}
	fh = fh_new(fs, NULL, 1);
	str_copy(fh->key, job->key, sizeof(fh->key));
	str_copy(fh->name, job->dk.name, sizeof(fh->name));
	fh->mode = job->dk.mode;
	fh->given = job->given;
	fh_paths(fh);
	job->fh = fh;
	job_submit(job);
}

/* --- the filestore operations -------------------------------------------- */

/* dirfs_given_check - checks of a caller's name for a fresh write */
static int dirfs_given_check(struct dirfs *fs, const char *name, unsigned mode,
	struct niftp_open *res)
{
	char    reason[NIFTP_REASON_MAX], path[PATH_MAX];
	struct stat st;
	int     exists;

	if (tool_name_check(name, reason, sizeof(reason)) < 0)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "%s", reason);
	snprintf(path, sizeof(path), "%s/%s", fs->dir, name);
	exists = lstat(path, &st) == 0;
	if (!exists && errno != ENOENT)
		return niftp_refuse(res, NIFTP_ST_REJ_LATER, "stat '%s': %s", name, strerror(errno));
	if (exists && !S_ISREG(st.st_mode))
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "'%s' is not a regular file", name);
	if (mode == NIFTP_MODE_MAKE && exists)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "file exists: '%s'", name);
	if (mode == NIFTP_MODE_REPLACE && !exists)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "no file '%s' to replace", name);
	return 0;
}

/* dirfs_open_write - fs->open_write */
static int dirfs_open_write(void *fsv, const struct niftp_req *req, struct niftp_open *res)
{
	struct dirfs_conn *fc = fsv;
	struct dirfs *fs = fc->fs;
	const char *given = req->filename && *req->filename ? req->filename : NULL;
	const char *caller = req->caller ? req->caller : "";
	unsigned mode = req->mode & ~(unsigned) NIFTP_MODE_RESUME;
	struct niftp_file *fh;
	struct job *job;
	char    err[DURABLE_ERRLEN], key[DIRFS_KEYLEN];
	uint64_t seq;

	res->fh = NULL;
	res->committed = 0;
	res->mark = 0;
	res->offset = 0;
	res->size = -1;
	if (fs->opts.max_size > 0 && req->size > 0 && (uint64_t) req->size > fs->opts.max_size)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "file of %lld octets is larger than "
		    "the limit of %llu", (long long) req->size,
		    (unsigned long long) fs->opts.max_size);
	if (mode == NIFTP_MODE_REPLACE && given == NULL)
		return niftp_refuse(res, NIFTP_ST_REJ_ATTR, "replace-only needs a file name");
	if (given != NULL && strlen(given) >= sizeof(res->name))
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "file name too long");
	if (!req->resume && given != NULL && dirfs_given_check(fs, given, mode, res) < 0)
		return -1;
	if (req->resume && given != NULL) {
		char    reason[NIFTP_REASON_MAX];

		if (tool_name_check(given, reason, sizeof(reason)) < 0)
			return niftp_refuse(res, NIFTP_ST_REJ_MSG, "%s", reason);
	}

	if (req->tid == 0) {
		/* no docket: a transfer that cannot be resumed */
		if (req->resume)
			return niftp_refuse(res, NIFTP_ST_REJ_NORESUME, "resumption needs a transfer id");
		if (dirfs_seq(fs, &seq, err, sizeof(err)) < 0)
			return niftp_refuse(res, NIFTP_ST_REJ_LATER, "%s", err);
		fh = fh_new(fs, fc, 1);
		snprintf(fh->key, sizeof(fh->key), "anon.%llu", (unsigned long long) seq);
		if (given != NULL)
			str_copy(fh->name, given, sizeof(fh->name));
		else if (dirfs_assign(fs, fh->name, sizeof(fh->name), err, sizeof(err)) < 0) {
			fh->released = 1;
			fh_destroy(fh);
			return niftp_refuse(res, NIFTP_ST_REJ_LATER, "%s", err);
		}
		fh->mode = mode;
		fh->given = given != NULL;
		fh_paths(fh);
		fh->fd = sys_openat(AT_FDCWD, fh->partial,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fh->fd < 0) {
			niftp_refuse(res, NIFTP_ST_REJ_LATER, "create '%s': %s",
			    rel(fs, fh->partial), strerror(errno));
			fh->released = 1;
			fh_destroy(fh);
			return -1;
		}
		res->fh = fh;
		str_copy(res->name, fh->name, sizeof(res->name));
		return 0;
	}

	docket_key(caller, req->tid, key, sizeof(key));
	job = job_new(JOB_OPEN, fs, NULL);
	str_copy(job->key, key, sizeof(job->key));
	job->conn = fc;
	job->resume = req->resume;
	job->given = given != NULL;
	str_copy(job->dk.caller, caller, sizeof(job->dk.caller));
	job->dk.tid = req->tid;
	job->dk.mode = mode;
	if (req->copy_id != NULL)
		str_copy(job->dk.copy_id, req->copy_id, sizeof(job->dk.copy_id));
	if (given != NULL)
		str_copy(job->dk.name, given, sizeof(job->dk.name));
	else if (!req->resume
	    && dirfs_assign(fs, job->dk.name, sizeof(job->dk.name), err, sizeof(err)) < 0) {
		free(job);
		return niftp_refuse(res, NIFTP_ST_REJ_LATER, "%s", err);
	}
	if (fc->opening != NULL)
		log_panic("dirfs: second open on one call while one is pending");
	fc->opening = job;
	dirfs_try_open(fs, job);
	return 1;
}

/* dirfs_open_read - fs->open_read */
static int dirfs_open_read(void *fsv, const struct niftp_req *req, struct niftp_open *res)
{
	struct dirfs_conn *fc = fsv;
	struct dirfs *fs = fc->fs;
	struct niftp_file *fh;
	char    reason[NIFTP_REASON_MAX], path[PATH_MAX];
	struct stat st;
	int     fd;

	res->fh = NULL;
	res->size = -1;
	if (req->filename == NULL || *req->filename == '\0')
		return niftp_refuse(res, NIFTP_ST_REJ_ATTR, "a file name is needed to read");
	if (tool_name_check(req->filename, reason, sizeof(reason)) < 0)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "%s", reason);
	snprintf(path, sizeof(path), "%s/%s", fs->dir, req->filename);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return niftp_refuse(res, NIFTP_ST_REJ_MSG, "no file '%s'", req->filename);
		return niftp_refuse(res, errno == EACCES || errno == ELOOP ? NIFTP_ST_REJ_MSG
		    : NIFTP_ST_REJ_LATER, "open '%s': %s", req->filename, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "'%s' is not a regular file", req->filename);
	}
	fh = fh_new(fs, fc, 0);
	fh->fd = fd;
	fh->size = (uint64_t) st.st_size;
	fh->read_remove = (req->mode & ~(unsigned) NIFTP_MODE_RESUME) == NIFTP_MODE_READ_REMOVE;
	str_copy(fh->name, req->filename, sizeof(fh->name));
	snprintf(fh->final, sizeof(fh->final), "%s", path);
	res->fh = fh;
	str_copy(res->name, fh->name, sizeof(res->name));
	res->size = (int64_t) st.st_size;
	return 0;
}

/* dirfs_read - fs->read */
static ssize_t dirfs_read(struct niftp_file *fh, void *p, size_t len, char *reason)
{
	ssize_t n;

	do
		n = pread(fh->fd, p, len, (off_t) fh->offset);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		set_reason(reason, "read '%s': %s", fh->name, strerror(errno));
		return -1;
	}
	fh->offset += (uint64_t) n;
	return n;
}

/* dirfs_write - fs->write */
static int dirfs_write(struct niftp_file *fh, const void *p, size_t len, int *retry,
	char *reason)
{
	struct dirfs *fs = fh->fs;

	crash_point("dirfs-write");
	if (retry != NULL)
		*retry = 0;
	if (fs->opts.max_size > 0 && fh->offset + len > fs->opts.max_size) {
		set_reason(reason, "file is larger than the limit of %llu octets",
		    (unsigned long long) fs->opts.max_size);
		return -1;
	}
	if (pwrite_full(fh->fd, p, len, (off_t) fh->offset) < 0) {
		if (retry != NULL)
			*retry = errno == ENOSPC || errno == EDQUOT;
		set_reason(reason, "write '%s': %s", rel(fs, fh->partial), strerror(errno));
		return -1;
	}
	fh->offset += len;
	if (fh->offset >= fh->wb_off + DIRFS_WB_CHUNK) {
		fh->wb_wanted = 1;
		if (fh->jobs == 0)
			fh_progress(fh);	/* else when the running job is done */
	}
	return 0;
}

/* dirfs_seek - fs->seek (reads) */
static int dirfs_seek(struct niftp_file *fh, uint64_t offset, char *reason)
{
	if (fh->writing || offset > fh->size) {
		set_reason(reason, "seek '%s' to %llu: beyond its end", fh->name,
		    (unsigned long long) offset);
		return -1;
	}
	fh->offset = offset;
	return 0;
}

/* dirfs_truncate - fs->truncate (writes) */
static int dirfs_truncate(struct niftp_file *fh, uint64_t offset, char *reason)
{
	if (!fh->writing || fh->fd < 0) {
		set_reason(reason, "truncate '%s': not being written", fh->name);
		return -1;
	}
	if (ftruncate(fh->fd, (off_t) offset) < 0) {
		set_reason(reason, "truncate '%s': %s", rel(fh->fs, fh->partial), strerror(errno));
		return -1;
	}
	fh->offset = offset;
	if (fh->mark_off > offset) {
		fh->mark_off = offset;
		fh->mark = 0;
	}
	if (fh->ckpt_off > offset)
		fh->ckpt_off = offset;
	if (fh->wb_off > offset)
		fh->wb_off = offset;
	return 0;
}

/* dirfs_mark - fs->mark: checkpoint every opts.checkpoint octets */
static void dirfs_mark(struct niftp_file *fh, uint32_t mark, uint64_t offset)
{
	fh->mark = mark;
	fh->mark_off = offset;
	if (!fh->has_docket || fh->committed || fh->released || fh->jobs > 0
	    || offset > fh->offset || offset < fh->ckpt_off + fh->fs->opts.checkpoint)
		return;
	fh->ckpt_wanted = 1;
	fh_progress(fh);
}

/* dirfs_commit - fs->commit */
static void dirfs_commit(struct niftp_file *fh, struct niftp *n)
{
	if (fh->committed) {
		niftp_commit_done(n, 1, 0, NULL);
		return;
	}
	fh->commit_n = n;
	fh->commit_wanted = 1;
	fh->ckpt_wanted = 0;
	fh_progress(fh);
}

/* dirfs_suspend - fs->suspend: keep what we have for a resumption */
static void dirfs_suspend(struct niftp_file *fh)
{
	fh->released = 1;
	fh->conn = NULL;
	if (fh->writing && !fh->has_docket && !fh->committed && !fh->committing
	    && !fh->commit_wanted)
		fh->discard_wanted = 1;		/* no docket: cannot resume */
	else if (fh->writing && !fh->committed)
		fh->ckpt_wanted = 1;
	fh_progress(fh);
}

/* dirfs_finish - fs->finish */
static void dirfs_finish(struct niftp_file *fh, int ok)
{
	fh->released = 1;
	fh->conn = NULL;
	if (fh->writing) {
		if (!fh->committed && !fh->committing && !fh->commit_wanted) {
			if (ok)
				log_warn("finish '%s': transfer ended without commit", fh->name);
			fh->ckpt_wanted = 0;
			fh->discard_wanted = 1;
		}
	} else if (ok && fh->read_remove)
		fh->remove_wanted = 1;
	fh_progress(fh);
}

const struct niftp_fs_ops dirfs_ops = {
	dirfs_open_write,
	dirfs_open_read,
	dirfs_read,
	dirfs_write,
	dirfs_seek,
	dirfs_truncate,
	dirfs_mark,
	dirfs_commit,
	dirfs_suspend,
	dirfs_finish,
	NULL,
};

/* --- set-up ------------------------------------------------------------- */

/* older - 1 when path was last modified more than ms ago */
static int older(int dfd, const char *name, int64_t ms)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return ((int64_t) time(NULL) - (int64_t) st.st_mtime) * 1000 > ms;
}

/* dirfs_prune - drop expired dockets, abandoned partial and temporary files */
static void dirfs_prune(struct dirfs *fs)
{
	struct docket d;
	struct dirent *e;
	char    path[PATH_MAX], other[PATH_MAX], err[DURABLE_ERRLEN];
	DIR    *dp;
	int     rc, n = 0;
	int64_t now = (int64_t) time(NULL);

	if ((dp = opendir(fs->dockdir)) != NULL) {
		while ((e = readdir(dp)) != NULL) {
			snprintf(path, sizeof(path), "%s/%s", fs->dockdir, e->d_name);
			if (e->d_name[0] == '.') {
				if (strncmp(e->d_name, ".tmp.", 5) == 0
				    && older(dirfd(dp), e->d_name, DIRFS_ORPHAN_MS))
					(void) sys_unlink(path);
				continue;
			}
			rc = docket_read(path, &d, err, sizeof(err));
			if (rc == -2) {
				snprintf(other, sizeof(other), "%s/%s", fs->corruptdir, e->d_name);
				log_warn("%s: moved to '%s'", err, rel(fs, other));
				(void) sys_rename(path, other);
				continue;
			}
			if (rc < 0 || (now - d.time) * 1000 <= fs->opts.keep_ms)
				continue;
			if (!d.committed) {
				snprintf(other, sizeof(other), "%s/%s", fs->partdir, e->d_name);
				(void) sys_unlink(other);
			}
			(void) sys_unlink(path);
			n++;
		}
		closedir(dp);
	}
	if ((dp = opendir(fs->partdir)) != NULL) {
		while ((e = readdir(dp)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(other, sizeof(other), "%s/%s", fs->dockdir, e->d_name);
			if (e->d_name[0] != '.' && strncmp(e->d_name, "anon.", 5) != 0
			    && access(other, F_OK) == 0)
				continue;	/* belongs to a docket */
			if (!older(dirfd(dp), e->d_name, DIRFS_ORPHAN_MS))
				continue;	/* may be another server's, in flight */
			snprintf(path, sizeof(path), "%s/%s", fs->partdir, e->d_name);
			(void) sys_unlink(path);
			n++;
		}
		closedir(dp);
	}
	if (n > 0)
		log_info("directory '%s': pruned %d expired dockets and abandoned files",
		    fs->dir, n);
}

/* dirfs_open - use DIR; create DIR/.niftp; prune */
struct dirfs *dirfs_open(struct loop *loop, struct workq *wq, const char *dir,
	const struct dirfs_opts *opts, char *err, size_t errlen)
{
	struct dirfs *fs;
	struct stat st;
	char   *real;

	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "directory '%s': %s", dir, strerror(errno));
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "directory '%s': not a directory", dir);
		return NULL;
	}
	if ((real = realpath(dir, NULL)) == NULL) {
		snprintf(err, errlen, "directory '%s': %s", dir, strerror(errno));
		return NULL;
	}
	fs = xcalloc(1, sizeof(*fs));
	fs->loop = loop;
	fs->wq = wq;
	fs->dir = xstrdup(real);
	free(real);
	fs->opts = *opts;
	if (fs->opts.checkpoint == 0)
		fs->opts.checkpoint = DIRFS_CHECKPOINT_DEFAULT;
	if (fs->opts.keep_ms <= 0)
		fs->opts.keep_ms = DIRFS_KEEP_DEFAULT_MS;
	fs->meta = xasprintf("%s/.niftp", fs->dir);
	fs->partdir = xasprintf("%s/partial", fs->meta);
	fs->dockdir = xasprintf("%s/dockets", fs->meta);
	fs->corruptdir = xasprintf("%s/corrupt", fs->meta);
	fs->seqpath = xasprintf("%s/seq", fs->meta);
	fs->lockpath = xasprintf("%s/lock", fs->meta);
	if (mkdir_p(fs->partdir, 0755, err, errlen) < 0
	    || mkdir_p(fs->dockdir, 0700, err, errlen) < 0
	    || mkdir_p(fs->corruptdir, 0700, err, errlen) < 0) {
		dirfs_close(fs);
		return NULL;
	}
	if (access(fs->dir, W_OK) < 0) {
		snprintf(err, errlen, "directory '%s': %s", fs->dir, strerror(errno));
		dirfs_close(fs);
		return NULL;
	}
	dirfs_prune(fs);
	return fs;
}

/* dirfs_busy - files open or blocking work not yet finished */
int dirfs_busy(const struct dirfs *fs)
{
	return fs->files != NULL || fs->jobs > 0 || fs->waiting != NULL;
}

/* dirfs_close - free */
void dirfs_close(struct dirfs *fs)
{
	struct niftp_file *fh;
	struct job *job;

	if (fs == NULL)
		return;
	while ((job = fs->waiting) != NULL) {
		fs->waiting = job->next;
		free(job);
	}
	while ((fh = fs->files) != NULL) {
		fs->files = fh->next;
		if (fh->fd >= 0)
			close(fh->fd);
		free(fh);
	}
	free(fs->dir);
	free(fs->meta);
	free(fs->partdir);
	free(fs->dockdir);
	free(fs->corruptdir);
	free(fs->seqpath);
	free(fs->lockpath);
	free(fs);
}

/* dirfs_conn_new - the filestore of one call */
struct dirfs_conn *dirfs_conn_new(struct dirfs *fs, dirfs_conn_fn *kick,
	dirfs_conn_fn *supersede, void *arg)
{
	struct dirfs_conn *fc = xcalloc(1, sizeof(*fc));

	fc->fs = fs;
	fc->kick = kick;
	fc->supersede = supersede;
	fc->arg = arg;
	return fc;
}

/* dirfs_conn_engine - the engine that uses this conn */
void dirfs_conn_engine(struct dirfs_conn *fc, struct niftp *n)
{
	fc->n = n;
}

/* dirfs_conn_free - the call is gone */
void dirfs_conn_free(struct dirfs_conn *fc)
{
	struct dirfs *fs;
	struct niftp_file *fh;
	struct job **jp;

	if (fc == NULL)
		return;
	fs = fc->fs;
	if (fc->sup_timer != 0)
		loop_timer_del(fs->loop, fc->sup_timer);
	for (fh = fs->files; fh != NULL; fh = fh->next)
		if (fh->conn == fc)
			fh->conn = NULL;
	if (fc->opening != NULL) {
		for (jp = &fs->waiting; *jp != NULL; jp = &(*jp)->next) {
			if (*jp == fc->opening) {
				*jp = fc->opening->next;
				free(fc->opening);
				fc->opening = NULL;
				break;
			}
		}
		if (fc->opening != NULL)
			fc->opening->conn = NULL;	/* in flight: done_open sees it */
	}
	free(fc);
}
