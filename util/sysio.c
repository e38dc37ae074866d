/*++
 * NAME
 *	sysio 3
 * SUMMARY
 *	the file-system calls that durability depends on, behind a shim
 * SYNOPSIS
 *	#include "util/sysio.h"
 * DESCRIPTION
 *	Each wrapper first loads one word of flags (fault armed, trace
 *	open, skip list set, environment not read yet). When it is zero
 *	that is all it costs. Otherwise the environment is read once
 *	(pthread_once), then:
 *
 *	Faults: the call is counted under a mutex (the workers of
 *	util/workq.h fsync concurrently) and the armed call fails with the
 *	chosen errno without doing anything, then the fault disarms
 *	itself: only call number N fails. sys_fdatasync counts as an
 *	fsync, sys_renameat as a rename, sys_pwrite as a write.
 *
 *	Trace: after a call succeeded its record is built (fstat for the
 *	file's identity, /proc/self/fd for the names) and written with one
 *	write(2) to the O_APPEND trace file under a second mutex, so that
 *	records of several threads and processes never interleave and the
 *	order of the lines is an order in which the calls returned. A
 *	record is written after its call: a sync that is in the trace was
 *	done, and a write that happened before a sync in the same thread
 *	(or before a hand-over to the thread that syncs) comes first. Names
 *	come from the kernel rather than from a table of descriptors filled
 *	by sys_openat: the spool opens its directories with plain
 *	openat(2), and a table would name a renamed file by its old name.
 *	The bound is per process: past SYSIO_TRACE_MAX octets one
 *	"overflow" line is written and tracing stops.
 *
 *	NIFTPMAIL_FAULT, NIFTPMAIL_SYSIO_TRACE and NIFTPMAIL_SYSIO_SKIP are
 *	read once, at the first wrapper call or the first call of a
 *	configuring function, whichever comes first; explicit calls then
 *	override them. Malformed entries are reported with log_warn() and
 *	ignored.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "util/strutil.h"
#include "util/sysio.h"

#define SYSIO_F_INIT	1u	/* the environment is not read yet */
#define SYSIO_F_FAULT	2u	/* a fault is armed */
#define SYSIO_F_TRACE	4u	/* a trace file is open */
#define SYSIO_F_SKIP	8u	/* a skip list is set */

#define SYSIO_GLOBMAX	256	/* octets of a skip pattern */
#define SYSIO_IDLEN	48	/* "DEV:INODE" */

static const char *const sysio_names[SYSIO_NOPS] = {
	"write", "fsync", "rename", "link", "unlink", "open",
};

static atomic_uint sysio_flags = SYSIO_F_INIT;
static pthread_once_t sysio_once = PTHREAD_ONCE_INIT;

/* faults and skips, under sysio_lock */
static pthread_mutex_t sysio_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned long count;	/* calls since armed */
	unsigned long nth;	/* failing call; 0 = disarmed */
	int	err;
} sysio_fault[SYSIO_NOPS];

struct sysio_skipent {
	unsigned ops;		/* 1: fsync, 2: fdatasync */
	char	glob[SYSIO_GLOBMAX];
};
static struct sysio_skipent sysio_skips[SYSIO_SKIP_MAX];
static size_t sysio_nskips;

/* the trace file, under sysio_tlock */
static pthread_mutex_t sysio_tlock = PTHREAD_MUTEX_INITIALIZER;
static int sysio_tfd = -1;
static off_t sysio_tsize;	/* octets this process wrote */

/* One trace line being built. */
struct sysio_rec {
	const char *op;
	size_t	n;
	int	cut;		/* did not fit */
	char	b[SYSIO_TRACE_LINE];
};

#define SYSIO_OFF() (atomic_load_explicit(&sysio_flags, memory_order_relaxed) == 0)

/* sysio_setflag - set or clear one bit of the fast-path word */
static void sysio_setflag(unsigned flag, int on)
{
	if (on)
		atomic_fetch_or(&sysio_flags, flag);
	else
		atomic_fetch_and(&sysio_flags, ~flag);
}

/* sysio_tracing - 1 while a trace file is open */
static int sysio_tracing(void)
{
	return (atomic_load_explicit(&sysio_flags, memory_order_relaxed) & SYSIO_F_TRACE) != 0;
}

/*
 * Faults
 */

/* sysio_rearm - recompute the fault flag; sysio_lock held */
static void sysio_rearm(void)
{
	int i, any = 0;

	for (i = 0; i < SYSIO_NOPS; i++)
		if (sysio_fault[i].nth)
			any = 1;
	sysio_setflag(SYSIO_F_FAULT, any);
}

/* sysio_env_entry - apply one "OP:N[:ERRNO]" entry; 0 or -1 */
static int sysio_env_entry(char *ent)
{
	char   *n, *e;
	uint64_t nth, err = EIO;
	int     op;

	if ((n = strchr(ent, ':')) == NULL)
		return -1;
	*n++ = '\0';
	if ((e = strchr(n, ':')) != NULL) {
		*e++ = '\0';
		if (strcmp(e, "EIO") == 0)
			err = EIO;
		else if (strcmp(e, "ENOSPC") == 0)
			err = ENOSPC;
		else if (str_to_u64(e, 1, 4095, &err) < 0)
			return -1;
	}
	if (str_to_u64(n, 1, UINT64_MAX, &nth) < 0)
		return -1;
	for (op = 0; op < SYSIO_NOPS; op++)
		if (strcmp(ent, sysio_names[op]) == 0)
			break;
	if (op == SYSIO_NOPS)
		return -1;
	sysio_fault[op].count = 0;
	sysio_fault[op].nth = (unsigned long) nth;
	sysio_fault[op].err = (int) err;
	return 0;
}

/* sysio_env_faults - parse NIFTPMAIL_FAULT */
static void sysio_env_faults(void)
{
	const char *val = getenv("NIFTPMAIL_FAULT");
	char    copy[512], *ent, *next;

	if (val == NULL || *val == '\0')
		return;
	if (str_copy(copy, val, sizeof(copy)) >= sizeof(copy)) {
		log_warn("NIFTPMAIL_FAULT: value too long, ignored");
		return;
	}
	pthread_mutex_lock(&sysio_lock);
	for (ent = copy; ent != NULL; ent = next) {
		if ((next = strchr(ent, ',')) != NULL)
			*next++ = '\0';
		if (*ent && sysio_env_entry(ent) < 0)
			log_warn("NIFTPMAIL_FAULT: bad entry '%s' ignored", ent);
	}
	sysio_rearm();
	pthread_mutex_unlock(&sysio_lock);
}

/* sysio_check - count a call of op; -1 with errno set when it must fail */
static int sysio_check(enum sysio_op op)
{
	int fail = 0;

	if (!(atomic_load_explicit(&sysio_flags, memory_order_relaxed) & SYSIO_F_FAULT))
		return 0;
	pthread_mutex_lock(&sysio_lock);
	if (sysio_fault[op].nth && ++sysio_fault[op].count == sysio_fault[op].nth) {
		fail = sysio_fault[op].err;
		sysio_fault[op].nth = 0;
		sysio_rearm();
	}
	pthread_mutex_unlock(&sysio_lock);
	if (fail) {
		errno = fail;
		return -1;
	}
	return 0;
}

/*
 * Skips
 */

/* sysio_skip_set - parse spec into the skip list; 0 or -1 (EINVAL, the
 * list unchanged); reason names the bad entry */
static int sysio_skip_set(const char *spec, char *reason, size_t rlen)
{
	struct sysio_skipent v[SYSIO_SKIP_MAX];
	const char *p = spec ? spec : "", *end, *colon;
	size_t  n = 0, oplen, glen;

	memset(v, 0, sizeof(v));
	while (*p) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		if (end == p) {
			p++;
			continue;
		}
		colon = memchr(p, ':', (size_t) (end - p));
		if (n == SYSIO_SKIP_MAX || colon == NULL)
			goto bad;
		oplen = (size_t) (colon - p);
		glen = (size_t) (end - colon - 1);
		if (oplen == 5 && strncmp(p, "fsync", 5) == 0)
			v[n].ops = 1;
		else if (oplen == 9 && strncmp(p, "fdatasync", 9) == 0)
			v[n].ops = 2;
		else if (oplen == 4 && strncmp(p, "sync", 4) == 0)
			v[n].ops = 3;
		else
			goto bad;
		if (glen == 0 || glen >= SYSIO_GLOBMAX)
			goto bad;
		memcpy(v[n].glob, colon + 1, glen);
		n++;
		p = *end ? end + 1 : end;
	}
	pthread_mutex_lock(&sysio_lock);
	memcpy(sysio_skips, v, sizeof(v));
	sysio_nskips = n;
	sysio_setflag(SYSIO_F_SKIP, n > 0);
	pthread_mutex_unlock(&sysio_lock);
	return 0;
bad:
	snprintf(reason, rlen, "bad entry '%.*s'", (int) (end - p), p);
	errno = EINVAL;
	return -1;
}

/* sysio_skipped - 1 when a sync (data: fdatasync) of path is to be skipped */
static int sysio_skipped(const char *path, int data)
{
	unsigned bit = data ? 2 : 1;
	size_t  i;
	int     hit = 0;

	pthread_mutex_lock(&sysio_lock);
	for (i = 0; i < sysio_nskips && !hit; i++)
		hit = (sysio_skips[i].ops & bit) && fnmatch(sysio_skips[i].glob, path, 0) == 0;
	pthread_mutex_unlock(&sysio_lock);
	return hit;
}

/*
 * The trace file
 */

/* sysio_put - append one whole line; sysio_tlock held. A failure or the
 * cap ends the trace (the checker then sees it cut short). */
static void sysio_put(const char *p, size_t n)
{
	char    ov[64];
	ssize_t w;
	int     k;

	if (sysio_tfd < 0)
		return;
	if (sysio_tsize + (off_t) n + (off_t) sizeof(ov) > SYSIO_TRACE_MAX) {
		k = snprintf(ov, sizeof(ov), "%ld %ld overflow\n", (long) getpid(),
		    (long) syscall(SYS_gettid));
		if (k > 0)
			(void) write(sysio_tfd, ov, (size_t) k);
		log_warn("sysio: trace: %lld octets written, tracing stopped",
		    (long long) sysio_tsize);
		goto stop;
	}
	/* O_APPEND, one call: a short write is a full disk, not a retry */
	do
		w = write(sysio_tfd, p, n);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t) n) {
		log_warn("sysio: trace: write: %s; tracing stopped",
		    w < 0 ? strerror(errno) : "short write");
		goto stop;
	}
	sysio_tsize += (off_t) n;
	return;
stop:
	close(sysio_tfd);
	sysio_tfd = -1;
	sysio_setflag(SYSIO_F_TRACE, 0);
}

/* sysio_trace_start - open path for the trace (sysio_init not needed) */
static int sysio_trace_start(const char *path)
{
	char    head[96];
	int     fd, k;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&sysio_tlock);
	if (sysio_tfd >= 0)
		close(sysio_tfd);
	sysio_tfd = fd;
	sysio_tsize = 0;
	k = snprintf(head, sizeof(head), "# niftpmail sysio trace 1 pid %ld\n", (long) getpid());
	sysio_setflag(SYSIO_F_TRACE, 1);
	sysio_put(head, (size_t) k);
	pthread_mutex_unlock(&sysio_tlock);
	return 0;
}

static void rec_fmt(struct sysio_rec *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* rec_fmt - append formatted text (program-made: no escaping) */
static void rec_fmt(struct sysio_rec *r, const char *fmt, ...)
{
	va_list ap;
	int     k;

	if (r->cut)
		return;
	va_start(ap, fmt);
	k = vsnprintf(r->b + r->n, sizeof(r->b) - 1 - r->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t) k >= sizeof(r->b) - 1 - r->n)
		r->cut = 1;
	else
		r->n += (size_t) k;
}

/* rec_init - "PID TID OP" */
static void rec_init(struct sysio_rec *r, const char *op)
{
	r->op = op;
	r->n = 0;
	r->cut = 0;
	rec_fmt(r, "%ld %ld %s", (long) getpid(), (long) syscall(SYS_gettid), op);
}

/* rec_word - " WORD": octets outside [!-~] and '\' as \xHH; empty as "-" */
static void rec_word(struct sysio_rec *r, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t  i;
	unsigned char c;

	if (r->cut)
		return;
	if (len == 0) {
		s = "-";
		len = 1;
	}
	if (r->n + 1 >= sizeof(r->b) - 1)
		goto cut;
	r->b[r->n++] = ' ';
	for (i = 0; i < len; i++) {
		c = (unsigned char) s[i];
		if (c > ' ' && c <= '~' && c != '\\') {
			if (r->n + 1 >= sizeof(r->b) - 1)
				goto cut;
			r->b[r->n++] = (char) c;
		} else {
			if (r->n + 4 >= sizeof(r->b) - 1)
				goto cut;
			r->b[r->n++] = '\\';
			r->b[r->n++] = 'x';
			r->b[r->n++] = hex[c >> 4];
			r->b[r->n++] = hex[c & 15];
		}
	}
	return;
cut:
	r->cut = 1;
}

/* rec_str - rec_word of a string */
static void rec_str(struct sysio_rec *r, const char *s)
{
	rec_word(r, s, strlen(s));
}

/* rec_put - end the line and append it; sysio_tlock held. A record that
 * did not fit becomes "PID TID cut OP": the checker refuses such a trace. */
static void rec_put(struct sysio_rec *r)
{
	if (r->cut) {
		const char *op = r->op;

		rec_init(r, "cut");
		rec_fmt(r, " %s", op);
	}
	r->b[r->n++] = '\n';
	sysio_put(r->b, r->n);
}

/* rec_emit - rec_put under the lock */
static void rec_emit(struct sysio_rec *r)
{
	pthread_mutex_lock(&sysio_tlock);
	rec_put(r);
	pthread_mutex_unlock(&sysio_tlock);
}

/* sysio_id - "DEV:INODE" */
static void sysio_id(const struct stat *sb, char *buf, size_t len)
{
	snprintf(buf, len, "%llu:%llu", (unsigned long long) sb->st_dev,
	    (unsigned long long) sb->st_ino);
}

/* sysio_fdpath - the kernel's name of fd ("fd:N" when it has none) */
static void sysio_fdpath(int fd, char *buf, size_t len)
{
	char    p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, len - 1);
	if (n < 0) {
		snprintf(buf, len, "fd:%d", fd);
		return;
	}
	buf[n] = '\0';
}

/* sysio_dirof - the absolute name of the directory holding the entry
 * path (relative to dfd) into dir; returns the entry's last component */
static const char *sysio_dirof(int dfd, const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	char    part[PATH_MAX];
	size_t  n;
	int     fd;

	if (slash == NULL) {
		str_copy(part, ".", sizeof(part));
	} else {
		n = slash == path ? 1 : (size_t) (slash - path);
		if (n >= sizeof(part))
			n = sizeof(part) - 1;
		memcpy(part, path, n);
		part[n] = '\0';
	}
	fd = openat(dfd, part, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		str_copy(dir, part, len);
	} else {
		sysio_fdpath(fd, dir, len);
		close(fd);
	}
	return slash ? slash + 1 : path;
}

/* sysio_trace_entry - "OP DIR NAME ID" for the entry path (dfd) of sb */
static void sysio_trace_entry(const char *op, int dfd, const char *path, const struct stat *sb)
{
	struct sysio_rec r;
	char    dir[PATH_MAX], id[SYSIO_IDLEN] = "?";
	const char *base = sysio_dirof(dfd, path, dir, sizeof(dir));

	if (sb)
		sysio_id(sb, id, sizeof(id));
	rec_init(&r, op);
	rec_str(&r, dir);
	rec_str(&r, base);
	rec_str(&r, id);
	rec_emit(&r);
}

/* sysio_trace_move - "OP DIR NAME DIR2 NAME2 ID" after a rename or link */
static void sysio_trace_move(const char *op, int dfd, const char *from, int tdfd,
	const char *to)
{
	struct sysio_rec r;
	struct stat sb;
	char    d1[PATH_MAX], d2[PATH_MAX], id[SYSIO_IDLEN] = "?";
	const char *b1 = sysio_dirof(dfd, from, d1, sizeof(d1));
	const char *b2 = sysio_dirof(tdfd, to, d2, sizeof(d2));

	if (fstatat(tdfd, to, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		sysio_id(&sb, id, sizeof(id));
	rec_init(&r, op);
	rec_str(&r, d1);
	rec_str(&r, b1);
	rec_str(&r, d2);
	rec_str(&r, b2);
	rec_str(&r, id);
	rec_emit(&r);
}

/* sysio_trace_write - "write ID LEN PATH", then for a log (O_APPEND) one
 * "line ID TEXT" per line of what was written, all in one block */
static void sysio_trace_write(int fd, const void *p, size_t n)
{
	struct sysio_rec r;
	struct stat sb;
	char    id[SYSIO_IDLEN] = "?", path[PATH_MAX];
	const char *s = p, *end = s + n, *nl;
	int     fl = fcntl(fd, F_GETFL);
	size_t  len;

	if (fstat(fd, &sb) == 0)
		sysio_id(&sb, id, sizeof(id));
	sysio_fdpath(fd, path, sizeof(path));
	pthread_mutex_lock(&sysio_tlock);
	rec_init(&r, "write");
	rec_str(&r, id);
	rec_fmt(&r, " %zu", n);
	rec_str(&r, path);
	rec_put(&r);
	while (fl >= 0 && (fl & O_APPEND) && s < end) {
		nl = memchr(s, '\n', (size_t) (end - s));
		len = (size_t) ((nl ? nl : end) - s);
		rec_init(&r, "line");
		rec_str(&r, id);
		rec_word(&r, s, len < SYSIO_LINE_HEAD ? len : SYSIO_LINE_HEAD);
		rec_put(&r);
		s += len + (nl != NULL);
	}
	pthread_mutex_unlock(&sysio_tlock);
}

/*
 * Set-up
 */

/* sysio_env - read the environment once */
static void sysio_env(void)
{
	const char *trace = getenv("NIFTPMAIL_SYSIO_TRACE");
	const char *skip = getenv("NIFTPMAIL_SYSIO_SKIP");
	char    reason[SYSIO_GLOBMAX + 32];

	sysio_env_faults();
	if (trace != NULL && *trace != '\0' && sysio_trace_start(trace) < 0)
		log_warn("NIFTPMAIL_SYSIO_TRACE: open '%s': %s; not tracing", trace,
		    strerror(errno));
	if (skip != NULL && *skip != '\0') {
		if (sysio_skip_set(skip, reason, sizeof(reason)) < 0)
			log_warn("NIFTPMAIL_SYSIO_SKIP: %s; nothing skipped", reason);
		else
			log_warn("NIFTPMAIL_SYSIO_SKIP: syncs matching '%s' are NOT done"
			    " (for tests only)", skip);
	}
	sysio_setflag(SYSIO_F_INIT, 0);
}

/* sysio_init - read the environment, once per process */
static void sysio_init(void)
{
	pthread_once(&sysio_once, sysio_env);
}

/* sysio_fail - make call number nth (from now, 1-based) of op fail with err */
void sysio_fail(enum sysio_op op, unsigned long nth, int err)
{
	PANIC_IF((unsigned) op >= SYSIO_NOPS);
	sysio_init();
	pthread_mutex_lock(&sysio_lock);
	sysio_fault[op].count = 0;
	sysio_fault[op].nth = nth;
	sysio_fault[op].err = err ? err : EIO;
	sysio_rearm();
	pthread_mutex_unlock(&sysio_lock);
}

/* sysio_reset - clear all faults and counters */
void sysio_reset(void)
{
	sysio_init();
	pthread_mutex_lock(&sysio_lock);
	memset(sysio_fault, 0, sizeof(sysio_fault));
	sysio_rearm();
	pthread_mutex_unlock(&sysio_lock);
}

/* sysio_trace_open - trace to path from now on */
int sysio_trace_open(const char *path)
{
	sysio_init();
	return sysio_trace_start(path);
}

/* sysio_trace_close - stop tracing */
void sysio_trace_close(void)
{
	sysio_init();
	pthread_mutex_lock(&sysio_tlock);
	sysio_setflag(SYSIO_F_TRACE, 0);
	if (sysio_tfd >= 0)
		close(sysio_tfd);
	sysio_tfd = -1;
	pthread_mutex_unlock(&sysio_tlock);
}

/* sysio_skip - tests only: syncs matching spec become no-ops */
int sysio_skip(const char *spec)
{
	char    reason[SYSIO_GLOBMAX + 32];

	sysio_init();
	return sysio_skip_set(spec, reason, sizeof(reason));
}

/* sysio_mark - an acknowledgement point */
void sysio_mark(const char *fmt, ...)
{
	struct sysio_rec r;
	char    text[SYSIO_TRACE_LINE / 2], *w, *sp;
	va_list ap;

	if (!(atomic_load_explicit(&sysio_flags, memory_order_relaxed)
	    & (SYSIO_F_TRACE | SYSIO_F_INIT)))
		return;
	sysio_init();
	if (!sysio_tracing())
		return;
	va_start(ap, fmt);
	(void) vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rec_init(&r, "mark");
	for (w = text; *w; w = sp) {
		if ((sp = strchr(w, ' ')) == NULL)
			sp = w + strlen(w);
		if (sp > w)
			rec_word(&r, w, (size_t) (sp - w));
		while (*sp == ' ')
			sp++;
	}
	rec_emit(&r);
}

/*
 * The wrappers
 */

ssize_t sys_write(int fd, const void *p, size_t len)
{
	ssize_t n;

	if (SYSIO_OFF())
		return write(fd, p, len);
	sysio_init();
	if (sysio_check(SYSIO_WRITE) < 0)
		return -1;
	n = write(fd, p, len);
	if (n > 0 && sysio_tracing())
		sysio_trace_write(fd, p, (size_t) n);
	return n;
}

ssize_t sys_pwrite(int fd, const void *p, size_t len, off_t off)
{
	ssize_t n;

	if (SYSIO_OFF())
		return pwrite(fd, p, len, off);
	sysio_init();
	if (sysio_check(SYSIO_WRITE) < 0)
		return -1;
	n = pwrite(fd, p, len, off);
	if (n > 0 && sysio_tracing())
		sysio_trace_write(fd, p, (size_t) n);
	return n;
}

/* sysio_sync - the slow path of sys_fsync (data 0) and sys_fdatasync */
static int sysio_sync(int fd, int data)
{
	struct sysio_rec r;
	struct stat sb;
	char    path[PATH_MAX], id[SYSIO_IDLEN] = "?";
	const char *op = data ? "fdatasync" : "fsync";
	unsigned fl;
	int     skip = 0, dir = 0;

	sysio_init();
	if (sysio_check(SYSIO_FSYNC) < 0)
		return -1;
	fl = atomic_load_explicit(&sysio_flags, memory_order_relaxed);
	if (fl & (SYSIO_F_SKIP | SYSIO_F_TRACE))
		sysio_fdpath(fd, path, sizeof(path));
	if (fl & SYSIO_F_SKIP)
		skip = sysio_skipped(path, data);
	if (!skip && (data ? fdatasync(fd) : fsync(fd)) < 0)
		return -1;
	if (!(fl & SYSIO_F_TRACE))
		return 0;
	if (fstat(fd, &sb) == 0) {
		sysio_id(&sb, id, sizeof(id));
		dir = S_ISDIR(sb.st_mode);
	}
	rec_init(&r, skip ? "skip" : op);
	if (skip)
		rec_str(&r, op);
	rec_str(&r, dir ? "D" : "F");
	rec_str(&r, id);
	rec_str(&r, path);
	rec_emit(&r);
	return 0;
}

int sys_fsync(int fd)
{
	if (SYSIO_OFF())
		return fsync(fd);
	return sysio_sync(fd, 0);
}

int sys_fdatasync(int fd)
{
	if (SYSIO_OFF())
		return fdatasync(fd);
	return sysio_sync(fd, 1);
}

int sys_renameat(int dfd, const char *from, int tdfd, const char *to)
{
	if (SYSIO_OFF())
		return renameat(dfd, from, tdfd, to);
	sysio_init();
	if (sysio_check(SYSIO_RENAME) < 0)
		return -1;
	if (renameat(dfd, from, tdfd, to) < 0)
		return -1;
	if (sysio_tracing())
		sysio_trace_move("rename", dfd, from, tdfd, to);
	return 0;
}

int sys_rename(const char *from, const char *to)
{
	return sys_renameat(AT_FDCWD, from, AT_FDCWD, to);
}

int sys_link(const char *from, const char *to)
{
	if (SYSIO_OFF())
		return link(from, to);
	sysio_init();
	if (sysio_check(SYSIO_LINK) < 0)
		return -1;
	if (link(from, to) < 0)
		return -1;
	if (sysio_tracing())
		sysio_trace_move("link", AT_FDCWD, from, AT_FDCWD, to);
	return 0;
}

int sys_unlink(const char *path)
{
	struct stat sb;
	int     traced, have = 0;

	if (SYSIO_OFF())
		return unlink(path);
	sysio_init();
	if (sysio_check(SYSIO_UNLINK) < 0)
		return -1;
	/* the identity must be taken before the name goes */
	if ((traced = sysio_tracing()) != 0)
		have = lstat(path, &sb) == 0;
	if (unlink(path) < 0)
		return -1;
	if (traced)
		sysio_trace_entry("unlink", AT_FDCWD, path, have ? &sb : NULL);
	return 0;
}

int sys_openat(int dfd, const char *path, int flags, mode_t mode)
{
	struct stat sb;
	int     fd, traced, existed = 1;

	if (SYSIO_OFF())
		return openat(dfd, path, flags, mode);
	sysio_init();
	if (sysio_check(SYSIO_OPEN) < 0)
		return -1;
	/* O_EXCL: a success is a creation; without it, look first */
	traced = sysio_tracing();
	if (traced && (flags & O_CREAT) && (flags & O_EXCL))
		existed = 0;
	else if (traced && (flags & O_CREAT))
		existed = fstatat(dfd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0;
	fd = openat(dfd, path, flags, mode);
	if (fd >= 0 && traced && !existed && fstat(fd, &sb) == 0)
		sysio_trace_entry("create", dfd, path, &sb);
	return fd;
}
