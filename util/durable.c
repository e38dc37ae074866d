/*++
 * NAME
 *	durable 3
 * SUMMARY
 *	the durable-file helper: write fully, fsync, rename, fsync the directory
 * SYNOPSIS
 *	#include "util/durable.h"
 * DESCRIPTION
 *	The commit sequence of STYLE.md habit 7, in one place:
 *
 *	1. durable_tmp_open(): dir/.tmp.PREFIX.XXXXXX, O_CREAT|O_EXCL|
 *	   O_CLOEXEC, mode 0600, in the final directory so that the
 *	   rename stays inside one file system. Dot-files are ignored by
 *	   the spool scanners, so a temporary file is never taken for a
 *	   letter.
 *	2. write_full() / pwrite_full().
 *	3. durable_commit(): fsync, close (checked: NFS and some file
 *	   systems report write errors only there), rename (the commit
 *	   point), fsync of the directory so that the rename itself
 *	   survives a power cut.
 *
 *	Up to the rename a failure removes the temporary file, so no
 *	partial file is ever visible under either name. A failure of the
 *	directory fsync comes after the commit point: the final file then
 *	exists (its data is synced, its name may not be) and -1 tells
 *	the caller that durability is not assured; it is not removed,
 *	because the rename may have replaced an older file.
 *
 *	Every write, fsync, rename, unlink and open on this path goes
 *	through util/sysio.h.
 * DIAGNOSTICS
 *	"operation 'object': reason" in err, errno from the failing call.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/durable.h"
#include "util/strutil.h"
#include "util/sysio.h"

#define DURABLE_TMP_TRIES	100

/* durable_err - fill err with "fmt: strerror(errno)"; keep errno */
static void durable_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void durable_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int     saved = errno;
	int     n;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t) n < errlen)
		snprintf(err + n, errlen - (size_t) n, ": %s", strerror(saved));
	errno = saved;
}

/* write_full - write all len bytes, retrying on EINTR and short writes */
int write_full(int fd, const void *p, size_t len)
{
	const char *s = p;
	ssize_t n;

	while (len > 0) {
		n = sys_write(fd, s, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			/* write(2) of a regular file returns 0 only when it cannot progress */
			errno = EIO;
			return -1;
		}
		s += n;
		len -= (size_t) n;
	}
	return 0;
}

/* read_full - read up to len bytes, retrying on EINTR and short reads */
ssize_t read_full(int fd, void *p, size_t len)
{
	char   *s = p;
	size_t  got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, s + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t) n;
	}
	return (ssize_t) got;
}

/* pwrite_full - positional variant of write_full */
int pwrite_full(int fd, const void *p, size_t len, off_t off)
{
	const char *s = p;
	ssize_t n;

	while (len > 0) {
		n = sys_pwrite(fd, s, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		s += n;
		len -= (size_t) n;
		off += n;
	}
	return 0;
}

/* fsync_dir - open dir, fsync it, close it; 0 or -1 */
int fsync_dir(const char *dir, char *err, size_t errlen)
{
	int fd, saved;

	fd = sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0) {
		durable_err(err, errlen, "open '%s'", dir);
		return -1;
	}
	if (sys_fsync(fd) < 0) {
		durable_err(err, errlen, "fsync '%s'", dir);
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0) {
		durable_err(err, errlen, "close '%s'", dir);
		return -1;
	}
	return 0;
}

/* durable_rand - fill a name suffix from [A-Za-z0-9] */
static void durable_rand(char *s, size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static unsigned long counter;
	unsigned char r[16];
	struct timespec ts;
	unsigned long mix;
	size_t  i;

	if (n > sizeof(r))
		n = sizeof(r);
	if (getrandom(r, n, GRND_NONBLOCK) != (ssize_t) n) {
		/* No entropy yet (early boot): O_EXCL still makes it safe. */
		clock_gettime(CLOCK_REALTIME, &ts);
		mix = (unsigned long) ts.tv_nsec ^ ((unsigned long) getpid() << 16)
		    ^ (++counter * 2654435761UL);
		for (i = 0; i < n; i++, mix = mix * 6364136223846793005UL + 1442695040888963407UL)
			r[i] = (unsigned char) (mix >> 33);
	}
	for (i = 0; i < n; i++)
		s[i] = abc[r[i] % (sizeof(abc) - 1)];
}

/* durable_tmp_open - create dir/.tmp.PREFIX.XXXXXX (O_EXCL), mode 0600 */
int durable_tmp_open(const char *dir, const char *prefix, char *tmppath,
	size_t tmplen, char *err, size_t errlen)
{
	int     fd, n, i;
	size_t  x;

	for (i = 0; i < DURABLE_TMP_TRIES; i++) {
		n = snprintf(tmppath, tmplen, "%s/.tmp.%s.XXXXXX", dir, prefix);
		if (n < 0 || (size_t) n >= tmplen) {
			errno = ENAMETOOLONG;
			durable_err(err, errlen, "create '%s/.tmp.%s.XXXXXX'", dir, prefix);
			return -1;
		}
		x = (size_t) n - 6;
		durable_rand(tmppath + x, 6);
		fd = sys_openat(AT_FDCWD, tmppath,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			break;
	}
	durable_err(err, errlen, "create '%s'", tmppath);
	return -1;
}

/* durable_dirname - directory part of path into dir; "." when none */
static int durable_dirname(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t  n;

	if (slash == NULL)
		return str_copy(dir, ".", len) < len ? 0 : -1;
	n = (size_t) (slash - path);
	if (n == 0)
		n = 1;			/* "/name" lives in "/" */
	if (n >= len)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/* durable_commit - fsync, close, rename, fsync the directory */
int durable_commit(int fd, const char *tmppath, const char *finalpath,
	char *err, size_t errlen)
{
	char    dir[4096];
	int     saved;

	if (sys_fsync(fd) < 0) {
		durable_err(err, errlen, "fsync '%s'", tmppath);
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		durable_err(err, errlen, "close '%s'", tmppath);
		saved = errno;
		goto fail;
	}
	if (durable_dirname(finalpath, dir, sizeof(dir)) < 0) {
		errno = ENAMETOOLONG;
		durable_err(err, errlen, "rename '%s' to '%s'", tmppath, finalpath);
		saved = errno;
		goto fail;
	}
	if (sys_rename(tmppath, finalpath) < 0) {
		durable_err(err, errlen, "rename '%s' to '%s'", tmppath, finalpath);
		saved = errno;
		goto fail;
	}
	/* Past the commit point: nothing to remove any more. */
	return fsync_dir(dir, err, errlen);

fail:
	(void) sys_unlink(tmppath);
	errno = saved;
	return -1;
}

/* durable_write_file - whole file content in one call: tmp, write, commit */
int durable_write_file(const char *path, const void *data, size_t len,
	char *err, size_t errlen)
{
	char    dir[4096], tmp[4096 + 64];
	const char *base = strrchr(path, '/');
	int     fd, saved;

	base = base ? base + 1 : path;
	if (durable_dirname(path, dir, sizeof(dir)) < 0) {
		errno = ENAMETOOLONG;
		durable_err(err, errlen, "create '%s'", path);
		return -1;
	}
	if ((fd = durable_tmp_open(dir, base, tmp, sizeof(tmp), err, errlen)) < 0)
		return -1;
	if (write_full(fd, data, len) < 0) {
		durable_err(err, errlen, "write '%s'", tmp);
		saved = errno;
		close(fd);
		(void) sys_unlink(tmp);
		errno = saved;
		return -1;
	}
	return durable_commit(fd, tmp, path, err, errlen);
}

/* durable_read_file - read a small whole file (at most max bytes) */
char *durable_read_file(const char *path, size_t max, size_t *lenp,
	char *err, size_t errlen)
{
	char   *data = NULL;
	size_t  alloc, len = 0;
	ssize_t n;
	struct stat st;
	int     fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		durable_err(err, errlen, "open '%s'", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		durable_err(err, errlen, "stat '%s'", path);
		goto fail;
	}
	if (st.st_size < 0 || (uint64_t) st.st_size > max) {
		errno = EFBIG;
		durable_err(err, errlen, "read '%s'", path);
		goto fail;
	}
	/*
	 * The size from fstat is a hint: the file may still grow under us.
	 * The buffer always keeps one byte beyond what is read for the NUL,
	 * and a full buffer is grown until EOF or max is passed.
	 */
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	alloc = (size_t) st.st_size + 2;
	data = xmalloc(alloc);
	for (;;) {
		n = read_full(fd, data + len, alloc - 1 - len);
		if (n < 0) {
			durable_err(err, errlen, "read '%s'", path);
			goto fail;
		}
		len += (size_t) n;
		if (len > max) {
			errno = EFBIG;
			durable_err(err, errlen, "read '%s'", path);
			goto fail;
		}
		if (len < alloc - 1)
			break;
		alloc = alloc > (max + 2) / 2 ? max + 2 : alloc * 2;
		data = xrealloc(data, alloc);
	}
	if (close(fd) < 0) {
		fd = -1;
		durable_err(err, errlen, "close '%s'", path);
		goto fail;
	}
	data[len] = '\0';
	if (lenp)
		*lenp = len;
	return data;

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	free(data);
	errno = saved;
	return NULL;
}

/* mkdir_p - create dir and its parents with mode; 0 or -1 */
int mkdir_p(const char *dir, mode_t mode, char *err, size_t errlen)
{
	char   *p, *s;
	struct stat st;
	int     ret = -1;

	if (*dir == '\0') {
		errno = ENOENT;
		durable_err(err, errlen, "mkdir ''");
		return -1;
	}
	s = xstrdup(dir);
	for (p = s + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p[-1] != '/') {
			char c = *p;

			*p = '\0';
			if (mkdir(s, mode) < 0 && errno != EEXIST) {
				durable_err(err, errlen, "mkdir '%s'", s);
				goto out;
			}
			*p = c;
		}
		if (*p == '\0')
			break;
	}
	if (stat(dir, &st) < 0) {
		durable_err(err, errlen, "stat '%s'", dir);
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		durable_err(err, errlen, "mkdir '%s'", dir);
		goto out;
	}
	ret = 0;
out:
	free(s);
	return ret;
}
