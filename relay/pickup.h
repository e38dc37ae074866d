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
 *	letter or is larger than [limits] max_letter_size (then not read at
 *	all: the size is the file's). Such a drop is refused, never deleted,
 *	as the next hop would refuse it; like a malformed one it gets no
 *	notice (its sender is not known from a file that was not read). The
 *	rename is the claim: a file is taken once. At most
 *	PICKUP_CLAIMS_MAX files are read at a time; more wait by name.
 *
 *	The drop protocol (doc/mailrelayd.8, DROPPING LETTERS). Names
 *	starting with "." are never looked at. A file renamed into out/
 *	(inotify IN_MOVED_TO) is taken at once. A file written in place is
 *	taken only when all of these hold:
 *	- no writer: the pickup saw IN_CLOSE_WRITE for it after the last
 *	  IN_MODIFY (a file seen being written waits for that event, or for
 *	  a later probe to find no writer: truncate(2) by name), and no
 *	  one has it open for writing now: the kernel is asked with a read
 *	  lease probe (fcntl F_SETLEASE F_RDLCK on a read-only descriptor,
 *	  released at once; refused with EAGAIN while any descriptor is open
 *	  for writing). Where the probe is not allowed (another owner and no
 *	  CAP_LEASE, a file system without leases) the inotify IN_OPEN and
 *	  IN_CLOSE_* events stand in: an open not yet closed makes it wait;
 *	- stable: its inode, size and mtime (nanoseconds) are the same at
 *	  two looks PICKUP_STABLE_MS apart, the first taken at the close
 *	  event (or when the file was found), the second with the probe;
 *	  any change starts the interval again;
 *	- and, checked by the worker after reading it, still no writer and
 *	  the same inode, size and mtime (else it goes back to waiting).
 *	So a writer that closes and then reopens the file within
 *	PICKUP_STABLE_MS of its close makes it wait again; a file whose
 *	writer never closes it is never taken (logged once after
 *	PICKUP_WAIT_LOG_S).
 *
 *	Files found by a scan of out/ (at start-up, every PICKUP_RESCAN_MS
 *	as a safety net, after an inotify queue overflow IN_Q_OVERFLOW, or
 *	when more than PICKUP_WATCH_MAX wait) have no event history: they
 *	are taken by the same rule without the close event (no writer by
 *	the probe, stable). Without inotify at all only the scan works,
 *	and without the lease probe too only stability guards a file.
 *	"submit.*" files are mailctl's (written there when the daemon
 *	cannot be reached): taken by a pickup request, or by a scan when
 *	unclaimed PICKUP_SUBMIT_S after their mtime (at once by the forced
 *	scan at start-up).
 *
 *	A drop of another user (root's, to a daemon that runs as its
 *	[node] user) cannot be claimed by a link where the kernel protects
 *	hard links (fs.protected_hardlinks): the worker that read it copies
 *	it into a dot-file of out/, syncs it, swaps the two in one rename
 *	(RENAME_EXCHANGE; undone when out/FILE was replaced meanwhile) and
 *	removes the original; the copy, the daemon's own, is claimed. The
 *	copy must have the size and CRC-32 of what was parsed (and goes into
 *	the journal), from a file unchanged since it was first looked at;
 *	otherwise the drop waits again. Copies a daemon left when it died
 *	(out/.adopt.*) are removed by the first scan.
 *
 *	The pickup keeps its own inotify watch on out/ (IN_OPEN,
 *	IN_MODIFY, IN_CLOSE_WRITE, IN_CLOSE_NOWRITE, IN_MOVED_TO,
 *	IN_MOVED_FROM, IN_DELETE), made by the first scan.
 * DIAGNOSTICS
 *	A drop that cannot be read is logged ("pick up 'out/FILE': ...")
 *	and left in out/; one that is not a letter goes to corrupt/ with the
 *	reader's reason in its journal line and a warning ("drop 'out/FILE'
 *	is not a letter: ..."), one too large likewise ("drop 'out/FILE'
 *	refused: letter too large: more than M octets ([limits]
 *	max_letter_size; the file has N)"). The callback of a claim hears
 *	the same reason. A file still open for writing after
 *	PICKUP_WAIT_LOG_S is logged once; a lost watch is logged once.
 *--*/
#ifndef RELAY_PICKUP_H
#define RELAY_PICKUP_H

#include <stddef.h>

struct relayd;
struct pickup;

#define PICKUP_CLAIMS_MAX	256	/* drops read at a time (memory stays bounded) */
#define PICKUP_STABLE_MS	500	/* the stability interval of a drop written in place */
#define PICKUP_RESCAN_MS	1000	/* the safety-net scan of out/ */
#define PICKUP_WATCH_MAX	4096	/* in-place drops followed at a time (more: later scans) */
#define PICKUP_SUBMIT_S		2	/* a submit.* drop unclaimed this long is taken by a scan */
#define PICKUP_WAIT_LOG_S	30	/* a drop still open for writing this long is logged once */

/* pickup_done_fn - outcome of a claim: ok with the assigned name, or not
 * with err (borrowed for the call) */
typedef void pickup_done_fn(void *arg, int ok, const char *name, const char *err);

/* pickup_new, pickup_free - the pickup of node rd */
struct pickup *pickup_new(struct relayd *rd);
void pickup_free(struct pickup *p);

/* pickup_claim - with cb: take out/FILE now, whatever the drop rule says
 * (the "pickup FILE" request: mailctl submit renamed it in); cb hears the
 * outcome once durable. With cb NULL: a notice that out/FILE changed (an
 * out/ watch of the caller's); the file is taken by the drop rule of the
 * DESCRIPTION, not at once. 0, or -1 with err (errno EINVAL: not a drop
 * file name; ENOENT: taken meanwhile). */
int  pickup_claim(struct pickup *p, const char *file, pickup_done_fn *cb, void *cb_arg,
	char *err, size_t errlen);
/* pickup_scan - scan out/ now (the first scan also sets up the watch);
 * force: take unclaimed submit.* files regardless of age. Files written in
 * place always follow the drop rule. */
void pickup_scan(struct pickup *p, int force);
/* pickup_tick - scan out/ when the last scan is PICKUP_RESCAN_MS old */
void pickup_tick(struct pickup *p);
/* pickup_busy - claims in flight */
int  pickup_busy(const struct pickup *p);

#endif
