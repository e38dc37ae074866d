/*++
 * NAME
 *	ops_bulk 3h
 * SUMMARY
 *	mailrelayd: an operator action on many letters
 * SYNOPSIS
 *	#include "relay/ops_bulk.h"
 * DESCRIPTION
 *	hold, release, delete, bounce and retry of the letters a request
 *	names, or of ALL the letters its selection picks (relay/ctl_proto.h,
 *	struct ctl_sel; relay/qlist.h takes the selection: at once from the
 *	queue in memory, or on a worker when --to or --from need the letters
 *	read). Each letter is one action of relay/ops.h, journalled with
 *	by=USER as when it is named alone.
 *
 *	The letters are taken in chunks of at most OPS_BULK_CHUNK, one chunk
 *	per turn of the loop, a chunk ending early once its actions took
 *	OPS_BULK_SLICE_MS (relay/ops_bulk.c): the state directories the
 *	chunk's actions need are read once for the chunk (ops_letter_side),
 *	its transactions are submitted together (the spool's group commit
 *	makes them a few batches), and the next chunk starts once they are
 *	all over. So the loop keeps serving calls and transfers while a
 *	queue of 100,000 is held, and memory holds one chunk of actions at a
 *	time.
 *
 *	ALL takes, of the letters selected, those in the states the action
 *	applies to (hold, bounce, retry: queued, deferred, active; release:
 *	held; delete: those and held), within the
 *	selection's --state when it has one. A retry with --hop makes due
 *	only the envelopes for those next hops.
 *
 *	The result: how many letters were changed, and one line per letter
 *	that was not (REASON passed through ctl_proto_esc(): one line):
 * .IP "missing NAME REASON"
 *	a letter named that is not there, in the state the action needs
 *	(ENOENT from relay/ops.h; mailctl exits 67)
 * .IP "failed NAME REASON"
 *	there, but not changed: busy (try again), held already, a spool
 *	error, the daemon stopping before its turn came
 * .IP "gone NAME REASON"
 *	ALL: a letter selected that left its state before its turn
 * DIAGNOSTICS
 *	None of its own: every outcome is a line of the result.
 *--*/
#ifndef RELAY_OPS_BULK_H
#define RELAY_OPS_BULK_H

#include <stddef.h>

#include "relay/ctl_proto.h"

struct buf;
struct relayd;
struct ops_bulk;

#define OPS_BULK_CHUNK	1000	/* letters whose actions run at a time */

enum ops_bulk_op {
	OPS_HOLD,
	OPS_RELEASE,
	OPS_DELETE,
	OPS_BOUNCE,
	OPS_RETRY,
};

/* What ops_bulk_start() hands back on the loop thread once every letter
 * had its turn: the count changed and the lines above (borrowed for the
 * call; NULL when there are none). */
typedef void ops_bulk_done_fn(void *arg, size_t changed, const struct buf *lines);

/* ops_bulk_start - op on the letters of sel (names or ALL; copied),
 * journalled by=user; done(arg, ...) later, never from within this
 * call. Returns the action, for ops_bulk_cancel(). */
struct ops_bulk *ops_bulk_start(struct relayd *rd, enum ops_bulk_op op,
	const struct ctl_sel *sel, const char *user, ops_bulk_done_fn *done, void *arg);

/* ops_bulk_cancel - done will not be called, no further letter is
 * started (those started finish); NULL allowed */
void ops_bulk_cancel(struct ops_bulk *b);

#endif
