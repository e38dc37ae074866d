/*++
 * NAME
 *	inbound 3h
 * SUMMARY
 *	mailrelayd: the one door through which every letter enters
 * SYNOPSIS
 *	#include "relay/inbound.h"
 * DESCRIPTION
 *	A letter enters a node in one of a few ways: an NIFTP transfer
 *	(relay/relayd_recv.c), a drop taken from out/ (relay/pickup.h), a
 *	letter submitted over the control socket (relay/submit.h), an
 *	archived letter resubmitted (relay/archive.h),
 *	a notice the node writes itself (relay/notices.h). Each goes
 *	through this door: the letter file is committed into in/ (or a drop
 *	claimed into in/) with its "received" journal line in the caller's
 *	spool transaction, and once that transaction is durable,
 *	inbound_accepted() keeps the archive copy (when configured) and
 *	routes the letter (relay/router.h). Routing never comes before the
 *	letter is durable, nor before a positive acknowledgement could be
 *	sent. An NIFTP transfer takes the short way when it can
 *	(inbound_commit_routed): its letter is routed inside the receiving
 *	transaction and committed straight into queue/, so that receiving
 *	and routing are one batch and one rename.
 *
 *	The received line: received NAME from=FROM calling=CALLING [tid=TID]
 *	[donor=DONOR] size=N crc32=C rcpts=A,B msgid=ID [more...]; every
 *	value is escaped by the journal writer (a peer's text never forges
 *	a line).
 * DIAGNOSTICS
 *	inbound_claim() returns -1 with err ("spool: rename 'out/FILE' ...";
 *	errno ENOENT when another claim took the file). The others add to a
 *	transaction and cannot fail by themselves: a failure shows as the
 *	transaction's (the spool undoes it whole; nothing was acknowledged).
 *	inbound_accepted() logs what it cannot do (archive copy, routing)
 *	with the letter's name; the letter stays in in/ for the next start.
 *--*/
#ifndef RELAY_INBOUND_H
#define RELAY_INBOUND_H

#include <stddef.h>
#include <stdint.h>

struct letter;
struct relayd;
struct spool_file;
struct spool_txn;

/* Where a letter came from (strings borrowed for the call). */
struct inbound {
	const char *from;	/* NIFTP: the caller; "out/FILE", "submit" (mailctl
				 * submit over the control socket, with kv user and
				 * uid from SO_PEERCRED: relay/submit.h; or its
				 * out/submit.* drop), "notice:NAME", "resubmit:NAME" */
	const char *calling;	/* calling address, NULL: "-" */
	const char *tid;	/* NIFTP transfer id, or NULL */
	const char *donor;	/* the donor's own name for it (NODE/NAME), or NULL */
	uint64_t size;
	uint32_t crc;		/* CRC-32 of the whole file */
	int	no_crc;		/* crc unknown: not journalled */
	const char *rcpts;	/* when lt is NULL: the address list as text */
	const char *msgid;	/* when lt is NULL: the Message-ID, or NULL */
	const char *const *kv;	/* more key/value pairs, or NULL */
	size_t	nkv;
};

/* inbound_commit - add to t the commit of f (handed over) into in/ under
 * its name with its received line; lt (may be NULL, see struct inbound)
 * is the letter's head */
void inbound_commit(struct relayd *rd, struct spool_txn *t, struct spool_file *f,
	const struct inbound *in, struct letter *lt);

struct route_ctx;

/* inbound_commit_routed - like inbound_commit, but the letter is routed in
 * t itself when it can be (relay/router.h, router_route_commit: it goes
 * straight to queue/ with its envelopes, one transaction for both); the
 * result goes to inbound_accepted_routed() once t completed */
struct route_ctx *inbound_commit_routed(struct relayd *rd, struct spool_txn *t,
	struct spool_file *f, const struct inbound *in, struct letter *lt);

/* inbound_accepted_routed - t of inbound_commit_routed completed (ok) or
 * failed (err): a letter routed in t joins the queue, one committed into
 * in/ is archived and routed (inbound_accepted) */
void inbound_accepted_routed(struct relayd *rd, const char *name, struct route_ctx *rc,
	int ok, const char *err);

/* inbound_claim - add to t the claim of out/FILE into in/ (renamed at
 * once; renamed back if t fails) with its received line; name (len >=
 * SPOOL_NAMELEN) gets the new name. 0, or -1 with err (ENOENT: taken
 * meanwhile) */
int  inbound_claim(struct relayd *rd, struct spool_txn *t, const char *file,
	const struct inbound *in, struct letter *lt, char *name, size_t len, char *err,
	size_t errlen);

/* inbound_received_line - only the received line of NAME into t (for a
 * file that enters in/ by other spool operations) */
void inbound_received_line(struct spool_txn *t, const char *name, const struct inbound *in,
	struct letter *lt);

/* inbound_accepted - the transaction that brought in/NAME completed: keep
 * the archive copy (archive: from outside this node) and route it */
void inbound_accepted(struct relayd *rd, const char *name, int archive);

#endif
