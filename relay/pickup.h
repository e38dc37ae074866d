/*++
 * NAME
 *	pickup 3h
 * SUMMARY
 *	mailrelayd: taking letters dropped into out/
 * SYNOPSIS
 *	#include "relay/pickup.h"
 * DESCRIPTION
 *	A file in out/ is the user's until it is claimed: read on a worker
 *	(the letter reader checks it; its size and CRC-32 are computed, so
 *	the loop thread never reads a whole letter), then claimed through
 *	the inbound door (relay/inbound.h) into in/ with its received line
 *	(from=out/FILE, or from=submit for mailctl submit's "submit.*"
 *	drops), or into corrupt/ with a "corrupt" line when it is not a
 *	letter. The rename is the claim: a file is taken once. At most
 *	PICKUP_CLAIMS_MAX files are read at a time; more wait by name.
 *
 *	Files come from three places: inotify (IN_CLOSE_WRITE,
 *	IN_MOVED_TO), the control request "pickup FILE" (mailctl submit,
 *	which learns the assigned name), and a scan of out/ at most once a
 *	second that takes files unchanged for PICKUP_STABLE_S seconds (a
 *	drop written in place whose writer died, or one inotify missed).
 * DIAGNOSTICS
 *	A drop that cannot be read is logged ("pick up 'out/FILE': ...")
 *	and left in out/; one that is not a letter goes to corrupt/ with the
 *	reader's reason in its journal line and a warning. The callback of a
 *	claim hears the same reason.
 *--*/
#ifndef RELAY_PICKUP_H
#define RELAY_PICKUP_H

#include <stddef.h>

struct relayd;
struct pickup;

#define PICKUP_CLAIMS_MAX	256	/* drops read at a time (memory stays bounded) */
#define PICKUP_STABLE_S		2	/* a scanned drop unchanged this long is taken */

/* pickup_done_fn - outcome of a claim: ok with the assigned name, or not
 * with err (borrowed for the call) */
typedef void pickup_done_fn(void *arg, int ok, const char *name, const char *err);

/* pickup_new, pickup_free - the pickup of node rd */
struct pickup *pickup_new(struct relayd *rd);
void pickup_free(struct pickup *p);

/* pickup_claim - take out/FILE (see DESCRIPTION); cb (may be NULL) hears
 * the outcome once durable. 0, or -1 with err (errno EINVAL: not a drop
 * file name; ENOENT: taken meanwhile). */
int  pickup_claim(struct pickup *p, const char *file, pickup_done_fn *cb, void *cb_arg,
	char *err, size_t errlen);
/* pickup_scan - scan out/ now (force: take files regardless of age) */
void pickup_scan(struct pickup *p, int force);
/* pickup_tick - scan out/ when the last scan is a second old */
void pickup_tick(struct pickup *p);
/* pickup_busy - claims in flight */
int  pickup_busy(const struct pickup *p);

#endif
