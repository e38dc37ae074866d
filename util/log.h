/*++
 * NAME
 *	log 3h
 * SUMMARY
 *	diagnostics: info, warning, error, fatal, panic
 * SYNOPSIS
 *	#include "util/log.h"
 * DESCRIPTION
 *	Messages go to standard error as "PROG: LEVEL: text" (no level
 *	word for errors and info), one line each, written with a single
 *	write(2) so that lines of concurrent processes do not interleave.
 *	Daemons may additionally send them to a log file (log_to_file),
 *	reopened after a rotation (log_reopen), or to syslog
 *	(log_to_syslog): "LEVEL: text" with the priority of the level
 *	(debug, info, warning, err; crit for fatal and panic).
 *
 *	log_fatal() is for unrecoverable start-up conditions: it exits
 *	with the given status. log_panic() is for broken internal
 *	invariants: it aborts. Everything the world can cause is returned
 *	to callers instead (STYLE.md habit 4).
 *
 *	The message text never contains control characters: bytes below
 *	0x20 (other than none) and 0x7f are shown as \xNN, so text from
 *	a peer cannot forge log lines.
 *--*/
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

/* log_init - set the program name and the lowest level shown */
void log_init(const char *progname, enum log_level min);
/* log_progname - the name given to log_init ("niftpmail" before) */
const char *log_progname(void);
/* log_to_file - also append messages (with a timestamp) to path,
 * opened (created, mode 0640) without following a symbolic link and
 * kept open. 0; -1 when it cannot be opened (errno); -2 when it is
 * refused: a symbolic link, not a regular file, or a file with more than
 * one link. err names the path and the reason either way. */
int  log_to_file(const char *path, char *err, size_t errlen);
/* log_reopen - after a rotation (rename, then SIGHUP): when the path
 * given to log_to_file no longer names the open file, open it anew with
 * the same checks (as the process is now: after a privilege drop the
 * new file is created by that user, so the directory must let it) and
 * put it in place of the old one (same descriptor number: threads that
 * log meanwhile never write to a closed one). 1 reopened, 0 nothing to
 * do (no log file, or the path still names it), -1 (or -2 as
 * log_to_file) with err: the old file stays in use. */
int  log_reopen(char *err, size_t errlen);
/* log_file_path - the path log_to_file last opened, or NULL (borrowed,
 * valid until the next log_to_file) */
const char *log_file_path(void);
/* log_file_give - give the log file to uid:gid (fchown) when
 * log_to_file created it, so that the user a daemon becomes owns its
 * log; an existing file keeps its owner. 0, or -1 with err. */
int  log_file_give(unsigned long uid, unsigned long gid, char *err, size_t errlen);
/* log_to_syslog - also send messages to syslog(3) under ident (copied;
 * NULL or "" = the program name) with facility (a name: "mail",
 * "daemon", "user", "local0".."local7"; NULL = "mail"). The connection
 * to /dev/log is made now (and again by libc when it was lost). 0, or -1
 * with err naming an unknown facility. */
int  log_to_syslog(const char *ident, const char *facility, char *err, size_t errlen);
/* log_syslog_facility_ok - 1 when name is a facility log_to_syslog takes */
int  log_syslog_facility_ok(const char *name);
/* log_timestamps - prefix stderr lines with an ISO 8601 UTC time */
void log_timestamps(int on);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_fatal - print and exit(status) */
void log_fatal(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* log_panic - print "panic: ..." and abort() */
void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define PANIC_IF(cond) do { if (cond) log_panic("%s:%d: %s", __FILE__, __LINE__, #cond); } while (0)

#endif
