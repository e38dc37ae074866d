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

#endif
