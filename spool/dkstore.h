/*++
 * NAME
 *	dkstore 3h
 * SUMMARY
 *	the spool's docket files: snapshot, journal replay, old docket files
 * SYNOPSIS
 *	#include "spool/dkstore.h"
 * DESCRIPTION
 *	Internal to spool/ (spool.c and the read-only spool_docket_peek*()
 *	it implements). The live dockets are SPOOL/dockets.snap (written by
 *	dkstore_snap_write(): the previous one is kept as dockets.snap.1)
 *	plus the docket records of the journals from the snapshot's position
 *	on (spool/dkmap.h). A spool of an older version kept one file per
 *	docket in SPOOL/dockets/ ("legacy" files below): they are read, never
 *	misread, until spool_recover() converts them.
 *
 *	Loading: the snapshot (dockets.snap; dockets.snap.1 when the first is
 *	missing or unusable), else the legacy files, else nothing; then every
 *	journal from the one the snapshot names (by inode, else by its last
 *	octets: a copied spool) up to the current one, oldest first. Readers
 *	without the daemon (rdonly) retry when a rotation moved the files
 *	under them. Errors name the file and say what the operator can do.
 *--*/
#ifndef SPOOL_DKSTORE_H
#define SPOOL_DKSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "spool/dkmap.h"

#define DKSTORE_SNAP		"dockets.snap"
#define DKSTORE_SNAP1		"dockets.snap.1"
#define DKSTORE_SNAP_BAD	"dockets.snap.bad"
#define DKSTORE_ERRLEN		512

/* What dkstore_load() found. */
struct dkstore_load {
	struct dkmap *m;		/* the dockets (new; the caller frees it) */
	int	snap;			/* 0 none, 1 dockets.snap, 2 dockets.snap.1 */
	char	snap_why[128];		/* snap 2: why dockets.snap was not used */
	int	snap_bad;		/* snap 2: dockets.snap exists (unusable) */
	struct dkmap_pos pos;		/* of the snapshot used */
	unsigned legacy;		/* legacy docket files in dockets/ */
	int	legacy_base;		/* they were read (no snapshot) */
	uint64_t jino, jsize;		/* the current journal as read */
	int	pending;		/* a group cut short ends the current journal, */
	uint64_t pending_off;		/* starting there */
	unsigned long records, dropped;	/* docket records read, groups dropped */
	unsigned journals;		/* journal files read */
};

/* dkstore_load - the dockets of spool dir (only: just that key's; NULL
 * all) into res (res->m new). rdonly: a reader beside a running daemon
 * (retries when files move). 0, or -1 with err ("spool: dockets: ...",
 * errno EBADMSG for damage, else the failing call's). */
int	dkstore_load(const char *dir, const char *only, int rdonly, struct dkstore_load *res,
	char *err, size_t errlen);

/* dkstore_tail - pos->ino/off are set: fill pos->tail with the journal's
 * octets before off (rootfd: the spool directory). 0 or -1 with err. */
int	dkstore_tail(int rootfd, struct dkmap_pos *pos, char *err, size_t errlen);

/* dkstore_snap_write - make p (len octets, an encoded snapshot) the new
 * dockets.snap durably: temporary (O_EXCL) written and fsynced, the old
 * one renamed to dockets.snap.1, the temporary renamed into place, the
 * directory fsynced. 0 or -1 with err (a crash or failure leaves
 * dockets.snap or dockets.snap.1 whole). */
int	dkstore_snap_write(const char *dir, int rootfd, const void *p, size_t len, char *err,
	size_t errlen);

/* dkstore_legacy_name - the legacy file name of key (new memory) */
char   *dkstore_legacy_name(const char *key);

/* dkstore_legacy_fn - one legacy file read by dkstore_legacy_scan():
 * name in dockets/ (borrowed) and whether it was a docket (ok 1: put
 * into the map) or not (0) */
typedef void dkstore_legacy_fn(void *arg, const char *name, int ok);

/* dkstore_legacy_scan - read the legacy files of dockets/ (dfd) into m
 * (only: just that key's file), each with its mtime as time of put;
 * fn (may be NULL) hears of each. Returns the number of files that are
 * dockets, or -1 with err. */
long	dkstore_legacy_scan(int dfd, const char *only, struct dkmap *m, dkstore_legacy_fn *fn,
	void *arg, char *err, size_t errlen);

/* dkstore_legacy_count - regular files (not dot-files) in dockets/ (dfd
 * < 0: none) */
unsigned dkstore_legacy_count(int dfd);

#endif
