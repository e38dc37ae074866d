/*++
 * NAME
 *	ctl_ops 3h
 * SUMMARY
 *	mailctl: operator commands on letters
 * SYNOPSIS
 *	#include "relay/ctl_ops.h"
 *--*/
#ifndef RELAY_CTL_OPS_H
#define RELAY_CTL_OPS_H

#include <stddef.h>

#include "mailchannel/letter.h"

struct conf;
struct ctl_cmd;

/*
 * mailctl's own commands (submit, route, trace, view, stats,
 * check-config) are each one function f(c, argc, argv), argv[0] the
 * command, called twice by relay/ctl.c: first with c NULL, before the
 * configuration is looked for, to check the arguments (--help printed:
 * RX_OK; a usage error said: RX_USAGE; good: CTL_ARGS_OK, nothing
 * printed), so that neither needs a configuration; then with it, to do
 * the work (the exit status).
 */
#define CTL_ARGS_OK	(-1)

/* ctl_usage - a usage error of mailctl's command cmd on standard error:
 * "mailctl: CMD: WHAT" when fmt is not NULL, the first line of help (its
 * "Usage: ..." line) and "Try 'mailctl CMD --help'."; returns RX_USAGE */
int  ctl_usage(const char *cmd, const char *help, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ctl_view - "mailctl view [--all] [--lines N] NAME" (argv[0] is "view");
 * prints the letter, returns the exit status; c NULL: the arguments
 * checked (CTL_ARGS_OK above) */
int  ctl_view(const struct conf *c, int argc, char **argv);

/* ctl_spool_readable - can the reader cmd ("trace", "queue", "stats")
 * read the spool directory spool without the daemon? 0, or the exit
 * status (RX_NOPERM for EACCES and EPERM, else 1) with err "cannot read
 * 'PATH': REASON" */
int  ctl_spool_readable(const char *spool, const char *cmd, char *err, size_t errlen);

/* ctl_connect - a connection to the daemon's control socket (relay/ctl.c),
 * or -1 with err (and in *eno the errno of the socket or connect that
 * failed) */
int  ctl_connect(const struct conf *c, char *err, size_t errlen, int *eno);

/* ctl_ask - send the request line req (no newline) to the daemon and read
 * its whole answer (relay/ctl.c; at most 64 MiB): new memory ("" when
 * the daemon said nothing), or NULL with err (and in *eno the errno of
 * a socket or connect that failed, else 0) */
char *ctl_ask(const struct conf *c, const char *req, char *err, size_t errlen, int *eno);

/* ctl_sel_check - a selection command of mailctl (queue, hold, release,
 * delete, bounce, retry: CTL_SELECT in relay/ctl_proto.h) with its
 * arguments argv[0..argc) checked as the daemon will, before the
 * configuration is read: 0, or RX_USAGE after the message
 * (relay/ctl_sel.c) */
int  ctl_sel_check(const struct ctl_cmd *cmd, int argc, char **argv);

/* ctl_sel_run - carry it out: queue lists (from the daemon, else from
 * the spool), the actions send their names in requests of at most
 * CTL_LINE_MAX octets (names on standard input with "-") and print what
 * they changed. The exit status (doc/mailctl.1). */
int  ctl_sel_run(const struct conf *c, const struct ctl_cmd *cmd, int argc, char **argv);

/* ctl_sel_help - the selection paragraph of mailctl --help */
extern const char ctl_sel_help[];

/* ctl_submit_from - submit the letter read from rd(ctx) (borrowed; what
 * names it in messages) through the daemon, as "mailctl submit" does
 * but without its fall-back drop into out/: the exit status, RX_OK once
 * the daemon answered that the letter is durable (its name printed on
 * standard output unless quiet), RX_DATAERR when the daemon refused it
 * as malformed or too large, RX_NOPERM, RX_SOFTWARE (no answer after
 * the whole letter: it may have been accepted), RX_TEMPFAIL (the daemon
 * cannot be reached, or any other refusal), RX_OTHER (rd failed).
 * Messages go to standard error after "LABEL: ". */
int  ctl_submit_from(const struct conf *c, letter_read_fn *rd, void *ctx, const char *what,
	const char *label, int quiet);

#endif
