/*++
 * NAME
 *	log 3
 * SUMMARY
 *	diagnostics: info, warning, error, fatal, panic
 * SYNOPSIS
 *	#include "util/log.h"
 * DESCRIPTION
 *	Each message is formatted into a bounded stack buffer, its control
 *	characters are shown as \xNN, and the whole line (prefix, text,
 *	newline) goes out with one write(2), so lines of concurrent
 *	processes and threads never interleave. A line longer than
 *	LOG_LINE_MAX is cut and ends in "...".
 *
 *	The program name, the lowest level shown, the timestamp switch,
 *	the log file and syslog are configuration set once at start-up;
 *	they are not protected against concurrent change. The one change
 *	later, log_reopen(), puts the new file on the old descriptor
 *	number with dup3(): a thread that logs meanwhile writes to the
 *	old file or the new one, never to a closed (or reused) descriptor.
 *
 *	A syslog message is the line without the program name (syslog
 *	adds the ident and pid) and without the newline, sent with
 *	syslog(3) as one datagram.
 * DIAGNOSTICS
 *	Write errors on standard error or the log file are ignored: there
 *	is nowhere left to report them.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/strutil.h"

/* A whole journal line (8 KiB, spool/journal.h) fits, so that the line
 * a daemon logs for each letter event is never cut. */
#define LOG_TEXT_MAX	(8192 + 256)	/* formatted text before escaping */
#define LOG_LINE_MAX	(LOG_TEXT_MAX + 512)	/* whole line, prefix included */
#define LOG_PATH_MAX	4096
#define LOG_IDENT_MAX	64

static const char *log_name = "niftpmail";
static enum log_level log_min = LOG_LVL_INFO;
static int log_stamp;
static int log_fd = -1;
static char log_path[LOG_PATH_MAX];	/* the log file's name, for log_reopen */
static int log_created;			/* log_to_file created it */
static int log_syslog;			/* log_to_syslog was called */
static char log_ident[LOG_IDENT_MAX];	/* openlog() keeps the pointer */

static const struct {
	const char *name;
	int	facility;
} log_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* Internal severities beyond enum log_level, always shown. */
#define LOG_SEV_FATAL	100
#define LOG_SEV_PANIC	101

/* log_init - set the program name and the lowest level shown */
void log_init(const char *progname, enum log_level min)
{
	const char *slash;

	if (progname != NULL && *progname) {
		slash = strrchr(progname, '/');
		log_name = slash && slash[1] ? slash + 1 : progname;
	}
	log_min = min;
}

/* log_progname - the name given to log_init ("niftpmail" before) */
const char *log_progname(void)
{
	return log_name;
}

/* log_open_file - open path for appending as log_to_file() says: the
 * descriptor, or -1 (errno) / -2 (refused) with err; *created 1 when
 * this open made the file */
static int log_open_file(const char *path, int *created, char *err, size_t errlen)
{
	const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
	struct stat sb;
	int     fd, e;

	/* a daemon opens it as root: never through a symbolic link, never
	 * a FIFO or a device (O_NONBLOCK: a FIFO without a reader does not
	 * hang the open), never a file with another name elsewhere. O_EXCL
	 * first, to know whether the file is ours (log_file_give); a file
	 * that appears in between is opened as it is. */
	*created = 1;
	if ((fd = open(path, flags | O_CREAT | O_EXCL, 0640)) < 0 && errno == EEXIST) {
		*created = 0;
		fd = open(path, flags);
	}
	if (fd < 0) {
		e = errno;
		if (e == ELOOP) {
			snprintf(err, errlen, "log file '%s' is a symbolic link (not followed):"
			    " name the file itself", path);
			return -2;
		}
		if (e == EISDIR || e == ENXIO) {
			snprintf(err, errlen, "log file '%s' is not a regular file", path);
			return -2;
		}
		snprintf(err, errlen, "log file '%s': %s", path, strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		e = errno;
		snprintf(err, errlen, "log file '%s': fstat: %s", path, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
		if (!S_ISREG(sb.st_mode))
			snprintf(err, errlen, "log file '%s' is not a regular file", path);
		else
			snprintf(err, errlen, "log file '%s' has %lu links (another name of it may"
			    " be a file that is not a log): refused", path,
			    (unsigned long) sb.st_nlink);
		close(fd);
		return -2;
	}
	(void) fcntl(fd, F_SETFL, O_APPEND);	/* O_NONBLOCK was for the open only */
	return fd;
}

/* log_use_file - fd becomes the log file (on log_fd's number if open) */
static void log_use_file(int fd)
{
	if (log_fd < 0) {
		log_fd = fd;
		return;
	}
	/* atomic: a thread logging meanwhile never sees a closed number */
	if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
		/* cannot happen with two open descriptors; keep the new one */
		log_fd = fd;
		return;
	}
	close(fd);
}

/* log_to_file - also append messages (with a timestamp) to path */
int log_to_file(const char *path, char *err, size_t errlen)
{
	int     fd, created;

	if (strlen(path) >= sizeof(log_path)) {
		snprintf(err, errlen, "log file '%.200s...': name too long", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = log_open_file(path, &created, err, errlen)) < 0)
		return fd;
	log_use_file(fd);
	str_copy(log_path, path, sizeof(log_path));
	log_created = created;
	return 0;
}

/* log_reopen - open the log file anew after a rotation */
int log_reopen(char *err, size_t errlen)
{
	struct stat cur, now;
	int     fd, created;

	if (log_fd < 0 || !log_path[0])
		return 0;
	/* the path still names the open file: nothing was rotated (and a
	 * file root made, which the user may not open, stays in use) */
	if (fstat(log_fd, &cur) == 0 && lstat(log_path, &now) == 0
	    && cur.st_dev == now.st_dev && cur.st_ino == now.st_ino)
		return 0;
	if ((fd = log_open_file(log_path, &created, err, errlen)) < 0)
		return fd;
	log_use_file(fd);
	log_created = created;
	return 1;
}

/* log_file_path - the path log_to_file last opened, or NULL */
const char *log_file_path(void)
{
	return log_path[0] ? log_path : NULL;
}

/* log_file_give - give the log file to uid:gid when log_to_file made it */
int log_file_give(unsigned long uid, unsigned long gid, char *err, size_t errlen)
{
	if (log_fd < 0 || !log_created)
		return 0;
	if (fchown(log_fd, (uid_t) uid, (gid_t) gid) < 0) {
		snprintf(err, errlen, "log file '%s': chown to %lu:%lu: %s", log_path, uid, gid,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* log_facility - the syslog facility named name, or -1 */
static int log_facility(const char *name)
{
	size_t  i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcmp(name, log_facilities[i].name) == 0)
			return log_facilities[i].facility;
	return -1;
}

/* log_syslog_facility_ok - 1 when name is a facility log_to_syslog takes */
int log_syslog_facility_ok(const char *name)
{
	return name != NULL && log_facility(name) >= 0;
}

/* log_to_syslog - also send messages to syslog(3) */
int log_to_syslog(const char *ident, const char *facility, char *err, size_t errlen)
{
	int     fac = log_facility(facility ? facility : "mail");

	if (fac < 0) {
		snprintf(err, errlen, "syslog facility '%s' is unknown (mail, daemon, user,"
		    " local0 to local7)", facility);
		return -1;
	}
	str_copy(log_ident, ident && *ident ? ident : log_name, sizeof(log_ident));
	/* LOG_NDELAY: connect now, before a chroot or a privilege drop */
	openlog(log_ident, LOG_PID | LOG_NDELAY, fac);
	log_syslog = 1;
	return 0;
}

/* log_timestamps - prefix stderr lines with an ISO 8601 UTC time */
void log_timestamps(int on)
{
	log_stamp = on;
}

/* log_level_word - the word after the program name, or "" */
static const char *log_level_word(int sev)
{
	switch (sev) {
	case LOG_LVL_DEBUG:
		return "debug: ";
	case LOG_LVL_WARN:
		return "warning: ";
	case LOG_SEV_FATAL:
		return "fatal: ";
	case LOG_SEV_PANIC:
		return "panic: ";
	default:
		return "";
	}
}

/* log_put - append text to line[*pos], escaping; 0 when all of s fit */
static int log_put(char *line, size_t *pos, size_t end, const char *s,
	int escape)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;

	for (; *s && *pos < end; s++) {
		c = (unsigned char) *s;
		if (escape && (c < 0x20 || c == 0x7f)) {
			if (*pos + 4 > end)
				break;
			line[(*pos)++] = '\\';
			line[(*pos)++] = 'x';
			line[(*pos)++] = hex[c >> 4];
			line[(*pos)++] = hex[c & 0xf];
		} else {
			line[(*pos)++] = (char) c;
		}
	}
	return *s != '\0';
}

/* log_write - one write(2) of line, optionally after a timestamp */
static void log_write(int fd, int stamp, const char *line, size_t len)
{
	char    out[LOG_LINE_MAX + 32];
	size_t  k = 0;

	if (stamp) {
		str_iso8601(time(NULL), out, sizeof(out));
		k = strlen(out);
		out[k++] = ' ';
	}
	memcpy(out + k, line, len);
	(void) !write(fd, out, k + len);
}

/* log_priority - the syslog priority of severity sev */
static int log_priority(int sev)
{
	switch (sev) {
	case LOG_LVL_DEBUG:
		return LOG_DEBUG;
	case LOG_LVL_INFO:
		return LOG_INFO;
	case LOG_LVL_WARN:
		return LOG_WARNING;
	case LOG_LVL_ERR:
		return LOG_ERR;
	default:
		return LOG_CRIT;
	}
}

/* log_emit - build one line and write it to stderr (and the file, and
 * syslog) */
static void log_emit(int sev, const char *fmt, va_list ap)
{
	char    text[LOG_TEXT_MAX];
	char    line[LOG_LINE_MAX];
	size_t  pos = 0, body, end = sizeof(line) - 1, msg;
	int     n, cut, saved = errno;

	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		str_copy(text, "(bad log format)", sizeof(text));

	/* Room is kept for "...\n" when the text is cut. */
	log_put(line, &pos, end, log_name, 1);
	log_put(line, &pos, end, ": ", 0);
	msg = pos;
	log_put(line, &pos, end, log_level_word(sev), 0);
	cut = log_put(line, &pos, end - 3, text, 1);
	if (cut || n >= (int) sizeof(text))
		log_put(line, &pos, end, "...", 0);
	line[pos++] = '\n';
	body = pos;

	log_write(STDERR_FILENO, log_stamp, line, body);
	if (log_fd >= 0)
		log_write(log_fd, 1, line, body);
	if (log_syslog) {
		line[body - 1] = '\0';		/* the newline */
		syslog(log_priority(sev), "%s", line + msg);
	}
	errno = saved;
}

#define LOG_FN(name, lvl) \
void name(const char *fmt, ...) \
{ \
	va_list ap; \
	if ((lvl) < log_min) \
		return; \
	va_start(ap, fmt); \
	log_emit((lvl), fmt, ap); \
	va_end(ap); \
}

LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_error, LOG_LVL_ERR)

/* log_fatal - print and exit(status) */
void log_fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_SEV_FATAL, fmt, ap);
	va_end(ap);
	exit(status);
}

/* log_panic - print "panic: ..." and abort() */
void log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_SEV_PANIC, fmt, ap);
	va_end(ap);
	abort();
}
