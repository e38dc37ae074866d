/*++
 * NAME
 *	ops 3h
 * SUMMARY
 *	mailrelayd: operator actions on queued letters
 * SYNOPSIS
 *	#include "relay/ops.h"
 * DESCRIPTION
 *	What mailctl asks the daemon to do to a letter (the daemon is the
 *	only writer of queue state, so an action never races a transfer:
 *	a letter with a busy envelope is refused with "busy: ..., try
 *	again"). Each action is one spool transaction journalled with
 *	by=USER (the operator's login name); cb(arg, ok, err) runs once it
 *	is durable (or failed and undone).
 * .IP "hold NAME"
 *	queue/ to hold/ with its envelopes (their channels keep what they
 *	hold: a held copy resumes with the same identity)
 * .IP "release NAME"
 *	hold/ back to queue/, due now
 * .IP "delete NAME"
 *	queue/ or hold/ to dead/, with its envelopes; their dockets go
 * .IP "bounce NAME [REASON]"
 *	the pending recipients fail with REASON ("returned by operator"):
 *	one NDN to the sender, the envelopes and the letter removed
 * .IP "forward NAME ADDRESS"
 *	the pending recipients are replaced by ADDRESS, routed as usual
 * .IP "retry [NAME|hop:HOST]"
 *	due now (journalled "retry NAME by=USER")
 * DIAGNOSTICS
 *	-1 with err when nothing was done: bad name, no such letter, not
 *	routed yet or leaving the queue ("busy: ... try again"), a transfer
 *	in progress.
 *--*/
#ifndef RELAY_OPS_H
#define RELAY_OPS_H

#include <stddef.h>

struct relayd;

/* ops_done_fn - an action is durable (ok) or failed with err */
typedef void ops_done_fn(void *arg, int ok, const char *err);

/* ops_letter - "hold", "release" or "delete" letter name */
int  ops_letter(struct relayd *rd, const char *op, const char *name, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen);
/* ops_bounce - "bounce NAME [REASON]" (reason NULL or "": the default) */
int  ops_bounce(struct relayd *rd, const char *name, const char *reason, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen);
/* ops_forward - "forward NAME ADDRESS" */
int  ops_forward(struct relayd *rd, const char *name, const char *address, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen);
/* ops_retry - make due now what `what` names (NULL: all; a letter or
 * envelope name; "hop:HOST"), journalled per letter; returns how many
 * envelopes were made due */
int  ops_retry(struct relayd *rd, const char *what, const char *user);

#endif
