/*++
 * NAME
 *	sysio 3h
 * SUMMARY
 *	the file-system calls that durability depends on, behind a shim
 * SYNOPSIS
 *	#include "util/sysio.h"
 * DESCRIPTION
 *	Like SQLite's system-call table: every write, fsync, fdatasync,
 *	rename, link, unlink and open on the durable path goes through
 *	these wrappers, so tests can make the Nth call of a kind fail with
 *	a chosen errno and prove that no partial file becomes visible.
 *
 *	Fault injection is configured with sysio_fail() from a test, or by
 *	the environment variable NIFTPMAIL_FAULT="OP:N[:ERRNO],..." read
 *	at the first call (OP is write, fsync, rename, link, unlink, open;
 *	N counts calls of that OP from 1; ERRNO is a number, default EIO,
 *	or ENOSPC). Without either, the wrappers cost one branch.
 *--*/
#ifndef UTIL_SYSIO_H
#define UTIL_SYSIO_H

#include <sys/types.h>

enum sysio_op { SYSIO_WRITE, SYSIO_FSYNC, SYSIO_RENAME, SYSIO_LINK,
	SYSIO_UNLINK, SYSIO_OPEN, SYSIO_NOPS };

/* sysio_fail - make call number nth (from now, 1-based) of op fail with err;
 * nth 0 clears the fault for op */
void sysio_fail(enum sysio_op op, unsigned long nth, int err);
/* sysio_reset - clear all faults and counters */
void sysio_reset(void);

ssize_t sys_write(int fd, const void *p, size_t len);
/* sys_pwrite - positional write; counts as a write (used by pwrite_full) */
ssize_t sys_pwrite(int fd, const void *p, size_t len, off_t off);
int     sys_fsync(int fd);
int     sys_fdatasync(int fd);
int     sys_rename(const char *from, const char *to);
int     sys_renameat(int dfd, const char *from, int tdfd, const char *to);
int     sys_link(const char *from, const char *to);
int     sys_unlink(const char *path);
int     sys_openat(int dfd, const char *path, int flags, mode_t mode);

#endif
