/*++
 * NAME
 *	durable 3h
 * SUMMARY
 *	the durable-file helper: write fully, fsync, rename, fsync the directory
 * SYNOPSIS
 *	#include "util/durable.h"
 * DESCRIPTION
 *	The one commit sequence of STYLE.md habit 7. A file is created with
 *	O_CREAT|O_EXCL|O_CLOEXEC under a temporary name in the directory
 *	where it will live (so the rename cannot cross file systems),
 *	written fully, fsynced, closed with the result checked, renamed to
 *	its final name (the commit point), and the directory fsynced.
 *
 *	All functions report failure as -1 and fill err (if not NULL) with
 *	"operation 'object': reason"; errno is kept from the failing call.
 *	They use util/sysio.h so tests can inject faults.
 *--*/
#ifndef UTIL_DURABLE_H
#define UTIL_DURABLE_H

#include <stddef.h>
#include <sys/types.h>

#define DURABLE_ERRLEN 512

/* write_full - write all len bytes, retrying on EINTR and short writes; 0 or -1 */
int write_full(int fd, const void *p, size_t len);
/* read_full - read up to len bytes, retrying on EINTR and short reads;
 * returns the count (less than len only at end of file) or -1 */
ssize_t read_full(int fd, void *p, size_t len);
/* pwrite_full - positional variant of write_full */
int pwrite_full(int fd, const void *p, size_t len, off_t off);

/* fsync_dir - open dir, fsync it, close it; 0 or -1 */
int fsync_dir(const char *dir, char *err, size_t errlen);

/* durable_tmp_open - create dir/.tmp.PREFIX.XXXXXX (O_EXCL), mode 0600;
 * returns fd and writes the path into tmppath (size tmplen), or -1 */
int durable_tmp_open(const char *dir, const char *prefix, char *tmppath,
	size_t tmplen, char *err, size_t errlen);

/* durable_commit - fsync fd, close it (always, even on failure), rename
 * tmppath to finalpath, fsync the directory of finalpath. On failure the
 * temporary file is removed. 0 or -1. A failure of the final directory
 * fsync comes after the rename (the commit point): the final file then
 * stays in place (removing it could lose an older file it replaced). */
int durable_commit(int fd, const char *tmppath, const char *finalpath,
	char *err, size_t errlen);

/* durable_write_file - whole file content in one call: tmp, write, commit */
int durable_write_file(const char *path, const void *data, size_t len,
	char *err, size_t errlen);

/* durable_read_file - read a small whole file (at most max bytes) into new
 * memory, NUL-terminated; *lenp gets the length. NULL with err on failure
 * (ENOENT is reported with errno ENOENT so callers can test it). */
char *durable_read_file(const char *path, size_t max, size_t *lenp,
	char *err, size_t errlen);

/* mkdir_p - create dir and its parents with mode; 0 or -1 */
int mkdir_p(const char *dir, mode_t mode, char *err, size_t errlen);

#endif
