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

/* ctl_view - "mailctl view [--all] [--lines N] NAME" (argv[0] is "view");
 * prints the letter, returns the exit status */
int  ctl_view(const struct conf *c, int argc, char **argv);

/* ctl_spool_readable - can the reader cmd ("trace", "queue", "stats")
 * read the spool directory spool without the daemon? 0, or the exit
 * status (RX_NOPERM for EACCES and EPERM, else 1) with err "cannot read
 * 'PATH': REASON" */
int  ctl_spool_readable(const char *spool, const char *cmd, char *err, size_t errlen);

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
