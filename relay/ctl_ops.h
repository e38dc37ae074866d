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

struct conf;

/* ctl_view - "mailctl view [--all] [--lines N] NAME" (argv[0] is "view");
 * prints the letter, returns the exit status */
int  ctl_view(const struct conf *c, int argc, char **argv);

/* ctl_spool_readable - can the reader cmd ("trace", "queue", "stats")
 * read the spool directory spool without the daemon? 0, or the exit
 * status (RX_NOPERM for EACCES and EPERM, else 1) with err "cannot read
 * 'PATH': REASON" */
int  ctl_spool_readable(const char *spool, const char *cmd, char *err, size_t errlen);

#endif
