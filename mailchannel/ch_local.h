/*++
 * NAME
 *	ch_local 3h
 * SUMMARY
 *	the local channel: idempotent Maildir delivery
 * SYNOPSIS
 *	#include "mailchannel/ch_local.h"
 * DESCRIPTION
 *	Delivers one stored message to one mailbox's Maildir (DESIGN
 *	section 9): the message (the letter's header and body, from the
 *	header's offset to the end of the stored file, byte for byte, with
 *	its Via: history as received; nothing is added) is written to
 *	MAILDIR/tmp/FILE, fsynced, renamed to MAILDIR/new/FILE, and
 *	MAILDIR/new is fsynced. FILE is derived from the letter's name
 *	alone (names are unique for the life of the node), so a delivery
 *	repeated after a crash between the rename and the journal line
 *	finds FILE in new/ (or FILE or "FILE:2,..." in cur/, where a mail
 *	reader moves it) and counts as done: nothing is delivered twice,
 *	and two addresses of one letter that reach the same mailbox give
 *	one file.
 *
 *	A mailbox is known when the caller says so (listed in [local]
 *	users: the Maildir is then created when missing) or when its
 *	Maildir directory already exists; otherwise the recipient fails
 *	permanently with "unknown user".
 *
 *	Everything here blocks (fsync): call it from a worker thread.
 *	It keeps no state and is safe to call from several threads for
 *	different mailboxes or letters.
 *	Crash point: relay-local-after-rename-before-journal, right after
 *	the rename into new/ (and its directory fsync).
 *--*/
#ifndef MAILCHANNEL_CH_LOCAL_H
#define MAILCHANNEL_CH_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#define CH_LOCAL_ERRLEN	512

enum ch_local_status {
	CH_LOCAL_OK = 0,	/* delivered now */
	CH_LOCAL_ALREADY,	/* found delivered earlier: done */
	CH_LOCAL_TEMP,		/* try again later (disk trouble) */
	CH_LOCAL_PERM,		/* unknown user, bad Maildir path */
};

/* ch_local_deliver - deliver the message stored in fd from offset
 * hdr_off to its end (fd is borrowed; read with pread, its offset is
 * not moved) as letter (a spool name) into the Maildir directory
 * maildir (absolute, trailing '/' optional). known: the mailbox is a
 * configured user (create the Maildir if missing). On OK or ALREADY
 * the delivered file's path goes into path (len >= 4096 is enough);
 * TEMP and PERM fill err ("deliver 'NAME' to '/m/bennett/': unknown
 * user"). */
enum ch_local_status ch_local_deliver(const char *maildir, int known, const char *letter,
	int fd, uint64_t hdr_off, char *path, size_t len, char *err, size_t errlen);

/* ch_local_status_str - "ok", "already", "temporary", "permanent" */
const char *ch_local_status_str(enum ch_local_status st);

#endif
