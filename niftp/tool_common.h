/*++
 * NAME
 *	tool_common 3h
 * SUMMARY
 *	shared parts of the niftp command: options, modes, exit codes
 * SYNOPSIS
 *	#include "niftp/tool_common.h"
 * DESCRIPTION
 *	The niftp tool is niftp_main.c (dispatch) plus one file per
 *	subcommand (tool_put.c, tool_get.c, tool_serve.c) over shared
 *	helpers: this file's options and exit codes, the retrying client
 *	(tool_client.h), the progress line (tool_progress.h) and the
 *	directory filestore of the server (tool_dirfs.h).
 *
 *	Exit codes are those of DESIGN section 2 (sysexits): 0 done, 64
 *	usage, 65 refused as bad data, 67 unknown address, 69 unreachable
 *	after the retries, 75 temporary failure, 77 permission, 78
 *	configuration, 1 anything else.
 *--*/
#ifndef NIFTP_TOOL_COMMON_H
#define NIFTP_TOOL_COMMON_H

#include <stdint.h>
#include <getopt.h>

#include "niftp/niftp.h"
#include "niftp/ts.h"
#include "util/version.h"

struct niftp_call;

#define TOOL_OK		0
#define TOOL_OTHER	1
#define TOOL_USAGE	64
#define TOOL_DATAERR	65
#define TOOL_NOUSER	67
#define TOOL_UNAVAIL	69
#define TOOL_TEMPFAIL	75
#define TOOL_NOPERM	77
#define TOOL_CONFIG	78

#define TOOL_VERSION	VERSION_LINE("niftp")	/* --version; our information message */

/* Long options without a short form (values above any character). */
enum {
	OPT_CALLED = 256, OPT_CALLING, OPT_USER, OPT_PASSWORD, OPT_BINARY,
	OPT_COMPRESS, OPT_MODE, OPT_AS, OPT_RETRIES, OPT_RETRY_WAIT, OPT_TIMEOUT,
	OPT_LISTEN, OPT_DIR, OPT_USERS, OPT_READY_FILE, OPT_MAX_SIZE, OPT_LOG,
	OPT_CHECKPOINT, OPT_KEEP_DOCKETS, OPT_GRACE, OPT_HELP, OPT_VERSION
};

/* The long options shared by put and get (end with a zero entry). */
#define TOOL_CLIENT_LONGOPTS \
	{ "called", required_argument, NULL, OPT_CALLED }, \
	{ "calling", required_argument, NULL, OPT_CALLING }, \
	{ "user", required_argument, NULL, OPT_USER }, \
	{ "password", required_argument, NULL, OPT_PASSWORD }, \
	{ "binary", no_argument, NULL, OPT_BINARY }, \
	{ "compress", no_argument, NULL, OPT_COMPRESS }, \
	{ "mode", required_argument, NULL, OPT_MODE }, \
	{ "retries", required_argument, NULL, OPT_RETRIES }, \
	{ "retry-wait", required_argument, NULL, OPT_RETRY_WAIT }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, OPT_HELP }

/* Options of a client subcommand (put, get). Strings are borrowed from
 * argv or the environment. */
struct tool_opts {
	const char *called;		/* --called, default "FTP" */
	char	calling[256];		/* --calling, default the host name */
	const char *user;		/* --user */
	const char *password;		/* --password or $NIFTP_PASSWORD */
	int	binary;			/* --binary */
	int	compress;		/* --compress */
	int	mode;			/* --mode, -1 = the subcommand's default */
	const char *as;			/* --as (put) */
	unsigned retries;		/* --retries, default 5 */
	int64_t	retry_wait_ms;		/* --retry-wait, default 1 s */
	int64_t	timeout_ms;		/* --timeout, 0 = transport defaults */
	int	verbose;		/* -1 quiet (-q), 0, 1 (-v) */
};

/* tool_opts_init - defaults */
void tool_opts_init(struct tool_opts *o);
/* tool_client_opt - handle one getopt_long result shared by put and get:
 * 1 handled, 0 not a shared option, -1 usage error (message printed) */
int  tool_client_opt(struct tool_opts *o, const char *cmd, int c, const char *arg);
/* tool_opts_finish - fill what depends on the environment (password) */
void tool_opts_finish(struct tool_opts *o);

/* tool_usage - print "niftp: CMD: message" and a hint; returns TOOL_USAGE */
int  tool_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* tool_bad_option - the getopt '?' case: hint only (getopt printed why) */
int  tool_bad_option(const char *cmd);

/* tool_duration - "2", "0.5" (seconds), "250ms", "10m", "4h", "7d"; 0 or -1 */
int  tool_duration(const char *s, int64_t *ms);

/* tool_mode_parse - mode name to NIFTP_MODE_*; -1 if unknown */
int  tool_mode_parse(const char *name);
/* tool_mode_name - the name of a mode (resumption bit ignored) */
const char *tool_mode_name(unsigned mode);

/* tool_name_check - a remote file name a server accepts: not empty, at
 * most 255 octets, no '/', no leading '.', no control characters.
 * 0, or -1 with a reason */
int  tool_name_check(const char *name, char *reason, size_t len);

/* tool_ts_opts - transport options from the client options */
void tool_ts_opts(const struct tool_opts *o, struct ts_opts *t);

/* tool_signals - catch SIGINT/SIGTERM into a flag the loop sees, ignore
 * SIGPIPE; fn(arg) runs on the loop thread for each signal received */
int  tool_signals(struct loop *loop, void (*fn)(void *arg, int sig), void *arg);


/* Subcommands: each returns the exit status. argv[0] is the subcommand. */
int  tool_put(int argc, char **argv);
int  tool_get(int argc, char **argv);
int  tool_serve(int argc, char **argv);

#endif
