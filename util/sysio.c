/*++
 * NAME
 *	sysio 3
 * SUMMARY
 *	the file-system calls that durability depends on, behind a shim
 * SYNOPSIS
 *	#include "util/sysio.h"
 * DESCRIPTION
 *	Each wrapper first tests one flag. When no fault is armed that is
 *	all it costs; when one is, the call is counted under a mutex (the
 *	workers of util/workq.h fsync concurrently) and the armed call
 *	fails with the chosen errno without doing anything, then the
 *	fault disarms itself: only call number N fails.
 *
 *	sys_fdatasync counts as an fsync, sys_renameat as a rename,
 *	sys_pwrite as a write.
 *
 *	NIFTPMAIL_FAULT is read once, at the first wrapper call or the
 *	first sysio_fail()/sysio_reset(), whichever comes first; explicit
 *	calls then override it. Malformed entries are reported with
 *	log_warn() and ignored.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/strutil.h"
#include "util/sysio.h"

static const char *const sysio_names[SYSIO_NOPS] = {
	"write", "fsync", "rename", "link", "unlink", "open",
};

static struct {
	unsigned long count;	/* calls since armed */
	unsigned long nth;	/* failing call; 0 = disarmed */
	int	err;
} sysio_fault[SYSIO_NOPS];

static atomic_int sysio_armed;		/* any nth != 0 */
static pthread_mutex_t sysio_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t sysio_once = PTHREAD_ONCE_INIT;

/* sysio_rearm - recompute the fast-path flag; lock held */
static void sysio_rearm(void)
{
	int i, any = 0;

	for (i = 0; i < SYSIO_NOPS; i++)
		if (sysio_fault[i].nth)
			any = 1;
	atomic_store(&sysio_armed, any);
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

/* sysio_env - parse NIFTPMAIL_FAULT once */
static void sysio_env(void)
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

/* sysio_fail - make call number nth (from now, 1-based) of op fail with err */
void sysio_fail(enum sysio_op op, unsigned long nth, int err)
{
	PANIC_IF((unsigned) op >= SYSIO_NOPS);
	pthread_once(&sysio_once, sysio_env);
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
	pthread_once(&sysio_once, sysio_env);
	pthread_mutex_lock(&sysio_lock);
	memset(sysio_fault, 0, sizeof(sysio_fault));
	sysio_rearm();
	pthread_mutex_unlock(&sysio_lock);
}

/* sysio_check - count a call of op; -1 with errno set when it must fail */
static int sysio_check(enum sysio_op op)
{
	int fail = 0;

	pthread_once(&sysio_once, sysio_env);
	if (!atomic_load_explicit(&sysio_armed, memory_order_relaxed))
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

ssize_t sys_write(int fd, const void *p, size_t len)
{
	if (sysio_check(SYSIO_WRITE) < 0)
		return -1;
	return write(fd, p, len);
}

ssize_t sys_pwrite(int fd, const void *p, size_t len, off_t off)
{
	if (sysio_check(SYSIO_WRITE) < 0)
		return -1;
	return pwrite(fd, p, len, off);
}

int sys_fsync(int fd)
{
	if (sysio_check(SYSIO_FSYNC) < 0)
		return -1;
	return fsync(fd);
}

int sys_fdatasync(int fd)
{
	if (sysio_check(SYSIO_FSYNC) < 0)
		return -1;
	return fdatasync(fd);
}

int sys_rename(const char *from, const char *to)
{
	if (sysio_check(SYSIO_RENAME) < 0)
		return -1;
	return rename(from, to);
}

int sys_renameat(int dfd, const char *from, int tdfd, const char *to)
{
	if (sysio_check(SYSIO_RENAME) < 0)
		return -1;
	return renameat(dfd, from, tdfd, to);
}

int sys_link(const char *from, const char *to)
{
	if (sysio_check(SYSIO_LINK) < 0)
		return -1;
	return link(from, to);
}

int sys_unlink(const char *path)
{
	if (sysio_check(SYSIO_UNLINK) < 0)
		return -1;
	return unlink(path);
}

int sys_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if (sysio_check(SYSIO_OPEN) < 0)
		return -1;
	return openat(dfd, path, flags, mode);
}
