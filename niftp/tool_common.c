/*++
 * NAME
 *	tool_common 3
 * SUMMARY
 *	shared parts of the niftp command: options, modes, exit codes
 * SYNOPSIS
 *	#include "niftp/tool_common.h"
 * DESCRIPTION
 *	Option parsing shared by put and get, the mode names, the check
 *	of remote file names, and signal catching through a self-pipe
 *	watched by the event loop (no work is done in the handler).
 * DIAGNOSTICS
 *	Usage errors print "niftp: CMD: reason" and a hint and yield exit
 *	status 64.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "niftp/tool_common.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"

static const struct {
	const char *name;
	unsigned mode;
} tool_modes[] = {
	{ "make", NIFTP_MODE_MAKE },
	{ "replace", NIFTP_MODE_REPLACE },
	{ "replace-or-make", NIFTP_MODE_REPLACE_MAKE },
	{ "append", NIFTP_MODE_APPEND_MAKE },
	{ "read", NIFTP_MODE_READ },
	{ "read-remove", NIFTP_MODE_READ_REMOVE },
};

/* tool_opts_init - defaults */
void tool_opts_init(struct tool_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->called = "FTP";
	if (gethostname(o->calling, sizeof(o->calling) - 1) < 0 || o->calling[0] == '\0')
		str_copy(o->calling, "localhost", sizeof(o->calling));
	o->calling[sizeof(o->calling) - 1] = '\0';
	o->mode = -1;
	o->retries = 5;
	o->retry_wait_ms = 1000;
}

/* tool_usage - print "niftp: CMD: message" and a hint; returns TOOL_USAGE */
int tool_usage(const char *cmd, const char *fmt, ...)
{
	char    msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cmd != NULL) {
		fprintf(stderr, "niftp: %s: %s\n", cmd, msg);
		fprintf(stderr, "Try 'niftp %s --help' for more information.\n", cmd);
	} else {
		fprintf(stderr, "niftp: %s\n", msg);
		fprintf(stderr, "Try 'niftp --help' for more information.\n");
	}
	return TOOL_USAGE;
}

/* tool_bad_option - the getopt '?' case: hint only (getopt printed why) */
int tool_bad_option(const char *cmd)
{
	fprintf(stderr, "Try 'niftp %s --help' for more information.\n", cmd);
	return TOOL_USAGE;
}

/* tool_duration - seconds (fractions allowed) or "250ms", "2m" ... */
int tool_duration(const char *s, int64_t *ms)
{
	char   *end;
	double  d;

	if (str_to_duration_ms(s, ms) == 0)
		return 0;
	/* plain fractional seconds: "0.2" */
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || d < 0 || d > 86400.0 * 365)
		return -1;
	*ms = (int64_t) (d * 1000.0 + 0.5);
	return 0;
}

/* tool_client_opt - handle one option shared by put and get */
int tool_client_opt(struct tool_opts *o, const char *cmd, int c, const char *arg)
{
	uint64_t u;
	int64_t ms;
	int     m;

	switch (c) {
	case OPT_CALLED:
		if (*arg == '\0' || strlen(arg) > 255)
			return tool_usage(cmd, "bad --called '%s': empty or too long", arg), -1;
		o->called = arg;
		return 1;
	case OPT_CALLING:
		if (*arg == '\0' || strlen(arg) >= sizeof(o->calling))
			return tool_usage(cmd, "bad --calling '%s': empty or too long", arg), -1;
		str_copy(o->calling, arg, sizeof(o->calling));
		return 1;
	case OPT_USER:
		if (strlen(arg) > NIFTP_MAX_NAME)
			return tool_usage(cmd, "--user is longer than %d octets", NIFTP_MAX_NAME), -1;
		o->user = arg;
		return 1;
	case OPT_PASSWORD:
		if (strlen(arg) > NIFTP_MAX_NAME)
			return tool_usage(cmd, "--password is longer than %d octets", NIFTP_MAX_NAME), -1;
		o->password = arg;
		return 1;
	case OPT_BINARY:
		o->binary = 1;
		return 1;
	case OPT_COMPRESS:
		o->compress = 1;
		return 1;
	case OPT_MODE:
		if ((m = tool_mode_parse(arg)) < 0)
			return tool_usage(cmd, "unknown --mode '%s' (make, replace, "
			    "replace-or-make, append, read, read-remove)", arg), -1;
		o->mode = m;
		return 1;
	case OPT_RETRIES:
		if (str_to_u64(arg, 0, 1000, &u) < 0)
			return tool_usage(cmd, "bad --retries '%s': want 0..1000", arg), -1;
		o->retries = (unsigned) u;
		return 1;
	case OPT_RETRY_WAIT:
		if (tool_duration(arg, &ms) < 0 || ms > 3600 * 1000)
			return tool_usage(cmd, "bad --retry-wait '%s': want seconds", arg), -1;
		o->retry_wait_ms = ms;
		return 1;
	case OPT_TIMEOUT:
		if (tool_duration(arg, &ms) < 0 || ms <= 0 || ms > INT32_MAX)
			return tool_usage(cmd, "bad --timeout '%s': want seconds", arg), -1;
		o->timeout_ms = ms;
		return 1;
	case 'q':
		o->verbose = -1;
		return 1;
	case 'v':
		o->verbose = 1;
		return 1;
	default:
		return 0;
	}
}

/* tool_opts_finish - fill what depends on the environment (password) */
void tool_opts_finish(struct tool_opts *o)
{
	const char *pw;

	if (o->password == NULL && (pw = getenv("NIFTP_PASSWORD")) != NULL && *pw)
		o->password = pw;
	log_init("niftp", o->verbose > 0 ? LOG_LVL_DEBUG
	    : o->verbose < 0 ? LOG_LVL_ERR : LOG_LVL_INFO);
}

/* tool_mode_parse - mode name to NIFTP_MODE_*; -1 if unknown */
int tool_mode_parse(const char *name)
{
	size_t  i;

	for (i = 0; i < sizeof(tool_modes) / sizeof(tool_modes[0]); i++)
		if (strcmp(name, tool_modes[i].name) == 0)
			return (int) tool_modes[i].mode;
	return -1;
}

/* tool_mode_name - the name of a mode (resumption bit ignored) */
const char *tool_mode_name(unsigned mode)
{
	size_t  i;

	mode &= ~(unsigned) NIFTP_MODE_RESUME;
	for (i = 0; i < sizeof(tool_modes) / sizeof(tool_modes[0]); i++)
		if (tool_modes[i].mode == mode)
			return tool_modes[i].name;
	return "unknown";
}

/* tool_name_check - a remote file name a server accepts */
int tool_name_check(const char *name, char *reason, size_t len)
{
	const unsigned char *p;

	if (name == NULL || *name == '\0') {
		snprintf(reason, len, "empty file name");
		return -1;
	}
	if (strlen(name) > NIFTP_MAX_NAME) {
		snprintf(reason, len, "file name longer than %d octets", NIFTP_MAX_NAME);
		return -1;
	}
	for (p = (const unsigned char *) name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(reason, len, "file name contains a control character");
			return -1;
		}
	}
	if (strchr(name, '/') != NULL) {
		snprintf(reason, len, "file name '%.64s' contains '/'", name);
		return -1;
	}
	if (name[0] == '.') {
		snprintf(reason, len, "file name '%.64s' starts with '.'", name);
		return -1;
	}
	return 0;
}

/* tool_ts_opts - transport options from the client options */
void tool_ts_opts(const struct tool_opts *o, struct ts_opts *t)
{
	memset(t, 0, sizeof(*t));
	t->connect_timeout_ms = 10000;
	t->setup_timeout_ms = 30000;
	t->idle_timeout_ms = 660000;
	if (o->timeout_ms > 0) {
		t->idle_timeout_ms = (int) o->timeout_ms;
		if (t->connect_timeout_ms > o->timeout_ms)
			t->connect_timeout_ms = (int) o->timeout_ms;
		if (t->setup_timeout_ms > o->timeout_ms)
			t->setup_timeout_ms = (int) o->timeout_ms;
	}
	t->local_name = o->calling;
}

/* Signal catching: the handler writes the signal number to a pipe. */
static int tool_sigpipe[2] = { -1, -1 };
static void (*tool_sigfn)(void *, int);
static void *tool_sigarg;

static void tool_sighandler(int sig)
{
	unsigned char c = (unsigned char) sig;
	int     saved = errno;

	(void) !write(tool_sigpipe[1], &c, 1);
	errno = saved;
}

static void tool_sigread(struct loop *loop, int fd, int mask, void *arg)
{
	unsigned char c[16];
	ssize_t n, i;

	(void) loop;
	(void) mask;
	(void) arg;
	while ((n = read(fd, c, sizeof(c))) > 0)
		for (i = 0; i < n; i++)
			if (tool_sigfn != NULL)
				tool_sigfn(tool_sigarg, c[i]);
}

/* tool_signals - catch SIGINT/SIGTERM for the loop, ignore SIGPIPE */
int tool_signals(struct loop *loop, void (*fn)(void *arg, int sig), void *arg)
{
	struct sigaction sa;

	signal(SIGPIPE, SIG_IGN);
	if (tool_sigpipe[0] < 0 && pipe2(tool_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("create signal pipe: %s", strerror(errno));
		return -1;
	}
	tool_sigfn = fn;
	tool_sigarg = arg;
	if (loop_fd_set(loop, tool_sigpipe[0], LOOP_READ, tool_sigread, NULL) < 0) {
		log_error("watch signal pipe: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tool_sighandler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}
