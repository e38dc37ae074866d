/*++
 * NAME
 *	notices 3h
 * SUMMARY
 *	mailrelayd: non-delivery notices, "still trying" warnings and
 *	acknowledgements about queued letters
 * SYNOPSIS
 *	#include "relay/notices.h"
 * DESCRIPTION
 *	A notice is a new letter (mailchannel/notice.h formats it) that
 *	enters this node through the inbound door (relay/inbound.h) in the
 *	same spool transaction as the state it reports; the caller routes
 *	it once that transaction completed (notices_route()).
 *
 *	Failures are gathered in a failset and reported with
 *	notices_report(): a "failed" journal line per recipient, one NDN
 *	per list owner for the recipients that came from that owner's list
 *	and one to the originator for the others (Grapevine: errors of a
 *	list go to its owner), at most NOTICES_MAX notices about one letter
 *	at a time. A failure that cannot be returned (a notice about a
 *	notice, no return address) sets the report's dead flag and reason:
 *	the caller then keeps the letter in dead/ for the operator.
 * DIAGNOSTICS
 *	A notice that cannot be written is logged (with the letter's name)
 *	and counted as not returnable.
 *--*/
#ifndef RELAY_NOTICES_H
#define RELAY_NOTICES_H

#include <stddef.h>
#include <time.h>

#include "spool/spool.h"

struct relayd;
struct qrcpt;
struct notice_item;

#define NOTICES_MAX	8	/* notices about one letter at one time (owners + sender) */
#define NOTICES_DEAD_MAX 600	/* longest dead reason */

/* A batch of failures about one letter. */
struct failset {
	struct notice_item *items;
	char  **owners;		/* per item: the list owner (errors go there) or NULL */
	size_t	n;
};

/* failset_add - one failure (strings copied; reason NULL: an item of an
 * acknowledgement, not a failure) */
void failset_add(struct failset *fs, const char *rcpt, const char *reason, const char *owner);
/* failset_add_rcpt - r failed: a member of a list is named as itself
 * with its list ("ADDR (list LIST)"); with_owner: errors go to r's owner */
void failset_add_rcpt(struct failset *fs, const struct qrcpt *r, const char *reason,
	int with_owner);
/* failset_free - release the items (fs may be reused) */
void failset_free(struct failset *fs);

/* What a report is about and what it produced. */
struct notice_report {
	/* in */
	const char *letter;		/* the letter's spool name */
	enum spool_state state;		/* where it is (in/ while routing, queue/) */
	const char *to_hop;		/* journal to= ("-" while routing) */
	const char *calling;		/* its calling address, "" when unknown */
	const char *by;			/* the operator, or NULL */
	/* out */
	char	names[NOTICES_MAX][SPOOL_NAMELEN];	/* notices committed in t */
	size_t	nnames;
	int	dead;			/* some failures cannot be returned */
	char	dead_reason[NOTICES_DEAD_MAX];
};

/* notices_report - journal the failures of fs and add their notices to
 * t (see DESCRIPTION); nr's out fields are set */
void notices_report(struct relayd *rd, struct spool_txn *t, struct notice_report *nr,
	const struct failset *fs);

/* notices_warn - add to t a "still trying" notice about queue/LETTER
 * for the recipients in fs (their reasons) since `since`, with its
 * "warned" line; the notice's name goes into nr (0 or 1 names) */
void notices_warn(struct relayd *rd, struct spool_txn *t, struct notice_report *nr,
	const struct failset *fs, time_t since);

/* notices_ack - the letter asked for an acknowledgement (Acknowledge-To:)
 * and every recipient of an envelope is decided: add the notice for
 * acks (delivered items have no reason) to t with its "ack" line */
void notices_ack(struct relayd *rd, struct spool_txn *t, struct notice_report *nr,
	const struct failset *acks);

/* notices_route - t completed: route the notices it committed */
void notices_route(struct relayd *rd, const struct notice_report *nr);

#endif
