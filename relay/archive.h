/*++
 * NAME
 *	archive 3h
 * SUMMARY
 *	mailrelayd: gzip copies of accepted letters, retention, resubmission
 * SYNOPSIS
 *	#include "relay/archive.h"
 * DESCRIPTION
 *	With [archive] enabled, every letter this node accepts (received
 *	over NIFTP, taken from out/ through the control socket or the
 *	inotify watch, resubmitted) is copied to ARCHIVE/NAME.gz (gzip,
 *	zlib): the source is opened on the loop thread (so a later rename
 *	or removal of the spool file does not matter), compressed on a
 *	worker in ARCHIVE_CHUNK pieces (never the whole letter in memory),
 *	and committed durably (O_EXCL temporary, fsync, rename, fsync of
 *	the directory). Copies older than [archive] keep are removed at
 *	start-up and then once a day, on a worker. ARCHIVE is not a spool
 *	state: nothing there is journalled, and losing it loses no mail.
 *
 *	Resubmission ("resubmit NAME" on the control socket) decompresses
 *	ARCHIVE/NAME.gz on a worker into a new spool file, checks it with
 *	the letter reader, and commits it to in/ in one transaction with
 *	the lines "resubmitted NEW orig=NAME by=USER" and "received NEW
 *	from=resubmit:NAME ... orig=NAME" (mailctl trace links the two
 *	letters through orig=); then the letter is routed as any other.
 *--*/
#ifndef RELAY_ARCHIVE_H
#define RELAY_ARCHIVE_H

#include <stddef.h>

struct relayd;
struct archive;

#define ARCHIVE_CHUNK	(64 * 1024)
#define ARCHIVE_PRUNE_MS	(86400LL * 1000)

/* archive_start - prune ARCHIVE now (on a worker) and once a day;
 * returns the state for archive_free() */
struct archive *archive_start(struct relayd *rd);
/* archive_free - after the loop and the workers are gone; NULL ok */
void archive_free(struct archive *a);

/* archive_letter - when [archive] enabled: keep a copy of the letter
 * NAME just accepted (in/NAME, else queue/NAME). Failures are logged
 * (the letter itself is unaffected). Loop thread. */
void archive_letter(struct relayd *rd, const char *name);

/* archive_resubmit - put ARCHIVE/ORIG.gz back into the spool as a new
 * letter (see DESCRIPTION); user is recorded as by=. cb hears the
 * outcome on the loop thread (ok, the new name, or an error). 0 when
 * started, -1 with err (no such archived letter, bad name, spool). */
int  archive_resubmit(struct relayd *rd, const char *orig, const char *user,
	void (*cb)(void *arg, int ok, const char *name, const char *err), void *cb_arg,
	char *err, size_t errlen);

/* archive_peer_user - the login name (or "uid:N") of the process at
 * the other end of the Unix socket fd; "unknown" when not available */
void archive_peer_user(int fd, char *buf, size_t len);

#endif
