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
 *	The program name, the lowest level shown, the timestamp switch
 *	and the log file are configuration set once at start-up; they are
 *	not protected against concurrent change.
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
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/strutil.h"

#define LOG_LINE_MAX	4096	/* whole line, prefix included */
#define LOG_TEXT_MAX	2048	/* formatted text before escaping */

static const char *log_name = "niftpmail";
static enum log_level log_min = LOG_LVL_INFO;
static int log_stamp;
static int log_fd = -1;

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

/* log_to_file - also append messages (with a timestamp) to path */
int log_to_file(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	int     fd, e;

	/* a daemon opens it as root: never through a symbolic link, never
	 * a FIFO or a device (O_NONBLOCK: a FIFO without a reader does not
	 * hang the open), never a file with another name elsewhere */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK
	    | O_CLOEXEC, 0640);
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
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
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

/* log_emit - build one line and write it to stderr (and the file) */
static void log_emit(int sev, const char *fmt, va_list ap)
{
	char    text[LOG_TEXT_MAX];
	char    line[LOG_LINE_MAX];
	size_t  pos = 0, body, end = sizeof(line) - 1;
	int     n, cut, saved = errno;

	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		str_copy(text, "(bad log format)", sizeof(text));

	/* Room is kept for "...\n" when the text is cut. */
	log_put(line, &pos, end, log_name, 1);
	log_put(line, &pos, end, ": ", 0);
	log_put(line, &pos, end, log_level_word(sev), 0);
	cut = log_put(line, &pos, end - 3, text, 1);
	if (cut || n >= (int) sizeof(text))
		log_put(line, &pos, end, "...", 0);
	line[pos++] = '\n';
	body = pos;

	log_write(STDERR_FILENO, log_stamp, line, body);
	if (log_fd >= 0)
		log_write(log_fd, 1, line, body);
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
