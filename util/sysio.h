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
 *	a chosen errno and prove that no partial file becomes visible, and
 *	can record the order of those calls to check it afterwards.
 *
 *	Fault injection is configured with sysio_fail() from a test, or by
 *	the environment variable NIFTPMAIL_FAULT="OP:N[:ERRNO],..." read
 *	at the first call (OP is write, fsync, rename, link, unlink, open;
 *	N counts calls of that OP from 1; ERRNO is a number, default EIO,
 *	or ENOSPC).
 *
 *	Tracing (sysio_trace_open(), or NIFTPMAIL_SYSIO_TRACE=FILE for
 *	daemons) appends one line per successful call to FILE, plus the
 *	acknowledgement marks of sysio_mark(). The order of the lines is
 *	the order in which the calls returned (one mutex; a record is
 *	written after its call, so a line never claims more than was
 *	done). Several processes may append to one FILE. The format
 *	("Checking the order of durability" in doc/spool.md), fields
 *	separated by one space, octets outside [!-~] and '\' written as
 *	\xHH:
 *
 *	  PID TID create DIR NAME ID        O_CREAT made DIR/NAME
 *	  PID TID write ID LEN PATH         LEN octets written (write, pwrite)
 *	  PID TID line ID TEXT              a line of that write, when the
 *	                                    descriptor is O_APPEND (a log):
 *	                                    its first SYSIO_LINE_HEAD octets
 *	  PID TID fsync F|D ID PATH         fsync of a file (F) or directory (D)
 *	  PID TID fdatasync F|D ID PATH
 *	  PID TID skip fsync|fdatasync F|D ID PATH   a sync NOT done (below)
 *	  PID TID link DIR NAME DIR2 NAME2 ID
 *	  PID TID rename DIR NAME DIR2 NAME2 ID
 *	  PID TID unlink DIR NAME ID
 *	  PID TID mark WORD...              sysio_mark()
 *	  PID TID overflow                  the cap was reached: nothing more
 *
 *	ID is DEV:INODE; DIR and PATH are absolute, as the kernel names
 *	them (/proc/self/fd), so a directory fsync is named whatever
 *	descriptor it went through, however that was opened. Lines
 *	starting with '#' are comments.
 *
 *	Skipping syncs, FOR TESTS ONLY (sysio_skip(), or
 *	NIFTPMAIL_SYSIO_SKIP="OP:GLOB,..."): an fsync or fdatasync of a
 *	descriptor whose path matches GLOB (fnmatch(3), '*' matching '/'
 *	too) returns 0 without syncing. OP is fsync, fdatasync or sync
 *	(either). It exists to prove that the order checker sees a missing
 *	sync; a warning is logged when it is set from the environment.
 *
 *	Disabled (no fault armed, no trace, no skip), a wrapper costs one
 *	load and one branch. Enabled, a traced call costs a few extra
 *	system calls (fstat, readlink) and a mutex; the trace is bounded
 *	by SYSIO_TRACE_MAX octets, each line by SYSIO_TRACE_LINE.
 *	All functions are thread-safe.
 *--*/
#ifndef UTIL_SYSIO_H
#define UTIL_SYSIO_H

#include <sys/types.h>

enum sysio_op { SYSIO_WRITE, SYSIO_FSYNC, SYSIO_RENAME, SYSIO_LINK,
	SYSIO_UNLINK, SYSIO_OPEN, SYSIO_NOPS };

#define SYSIO_TRACE_MAX		((off_t) 64 << 20)	/* octets of a trace file */
#define SYSIO_TRACE_LINE	8192	/* octets of a trace line, newline included */
#define SYSIO_LINE_HEAD		256	/* octets of a logged line that are traced */
#define SYSIO_SKIP_MAX		8	/* entries of a skip list */

/* sysio_fail - make call number nth (from now, 1-based) of op fail with err;
 * nth 0 clears the fault for op */
void sysio_fail(enum sysio_op op, unsigned long nth, int err);
/* sysio_reset - clear all faults and counters (not the trace, not skips) */
void sysio_reset(void);

/* sysio_trace_open - append the trace to path (created 0600 if missing)
 * from now on, replacing a trace already open. 0, or -1 with errno. */
int     sysio_trace_open(const char *path);
/* sysio_trace_close - stop tracing and close the file (no-op when off) */
void    sysio_trace_close(void);
/* sysio_mark - record an acknowledgement point: the text (printf-style,
 * words separated by spaces, cut at SYSIO_TRACE_LINE) as a "mark" line.
 * Costs one branch when tracing is off. */
void    sysio_mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sysio_skip - tests only: turn the syncs matching spec ("OP:GLOB,...",
 * at most SYSIO_SKIP_MAX entries) into no-ops, replacing any earlier
 * list; NULL or "" clears it. 0, or -1 with errno EINVAL (nothing
 * changed). */
int     sysio_skip(const char *spec);

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
