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
 *	again"; an envelope that its channel only holds, waiting for a
 *	call slot of a hop that is down, is taken back first and is not
 *	busy: queue_letter_take_back()). Each action is one spool
 *	transaction journalled with by=USER (the operator's login name);
 *	cb(arg, ok, err) runs once it is durable (or failed and undone).
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
 * .IP "retry NAME..."
 *	due now (journalled "retry NAME by=USER"): relay/ops_bulk.c, which
 *	also carries out the others on many letters at once
 * DIAGNOSTICS
 *	-1 with err when nothing was done: bad name, no such letter, not
 *	routed yet or leaving the queue ("busy: ... try again"), a transfer
 *	in progress. errno then says which: ENOENT no such letter (in the
 *	state the action needs; mailctl exits 67 for it), EBUSY try again,
 *	EEXIST held or dead already, EPERM held (bounce, forward), EINVAL a
 *	bad name; anything else: the spool failed.
 *--*/
#ifndef RELAY_OPS_H
#define RELAY_OPS_H

#include <stddef.h>

#include "spool/spool.h"

struct relayd;

/* The files of a state directory whose names hold '_' (envelope files,
 * a channel's files), read once for many actions: in strcmp order. */
struct ops_side {
	char  **v;
	size_t	n;
	int	read;			/* v holds the directory's names */
	int	lazy;			/* not read yet: the first action that needs
					 * it reads it (ops_letter_side) */
};

/* ops_done_fn - an action is durable (ok) or failed with err */
typedef void ops_done_fn(void *arg, int ok, const char *err);

/* ops_letter - "hold", "release" or "delete" letter name */
int  ops_letter(struct relayd *rd, const char *op, const char *name, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen);
/* ops_letter_side - ops_letter() with the side files of the states
 * given (sides[SPOOL_NSTATES]: the entry of the state the letter leaves,
 * queue/ for hold, hold/ for release, either for delete, as
 * ops_side_scan() read it in this turn of the loop: nothing can have
 * added a file since): a bulk action reads a directory once, not once
 * per letter. An entry marked lazy and not read is read here, when a
 * letter first needs it (a chunk whose letters are all busy reads
 * nothing); sides NULL, or an entry neither read nor lazy: the
 * directory is read for this letter alone. */
int  ops_letter_side(struct relayd *rd, const char *op, const char *name,
	struct ops_side *sides, const char *user, ops_done_fn *cb, void *cb_arg,
	char *err, size_t errlen);
/* ops_side_scan - the side files of state st into *side (new memory:
 * ops_side_free); 0, or -1 with err */
int  ops_side_scan(struct relayd *rd, enum spool_state st, struct ops_side *side, char *err,
	size_t errlen);
/* ops_side_free - release *side (emptied) */
void ops_side_free(struct ops_side *side);
/* ops_bounce - "bounce NAME [REASON]" (reason NULL or "": the default) */
int  ops_bounce(struct relayd *rd, const char *name, const char *reason, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen);
/* ops_forward - "forward NAME ADDRESS" */
int  ops_forward(struct relayd *rd, const char *name, const char *address, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen);

#endif
