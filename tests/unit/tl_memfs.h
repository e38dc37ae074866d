/*++
 * NAME
 *	tl_memfs 3h
 * SUMMARY
 *	in-memory NIFTP filestore and unix-niftp capture vectors for tests
 * SYNOPSIS
 *	#include "tests/unit/tl_memfs.h"
 * DESCRIPTION
 *	A struct tl_memfs implements struct niftp_fs_ops in memory: named
 *	committed files, open files being written, dockets keyed by
 *	(caller, transfer id) for resumption, and knobs that make commit
 *	asynchronous or failing, writes or reads fail after N octets, so
 *	engine tests can reach every path without a disk.
 *
 *	tl_memfs_ops has no remove hook (read-and-remove removes in
 *	finish(fh, 1) after STOPACK, as a plain file server does);
 *	tl_memfs_rm_ops is the same store with one (pull mode: STOPACK
 *	waits for niftp_remove_done()), which the knobs make asynchronous
 *	or failing; its finish never removes (niftp.h: with fs->remove,
 *	only remove() does).
 *
 *	tl_capture() gives the exact TCP payloads of the captured
 *	unix-niftp 5.6 sessions (reference/unix-niftp-sessions.md,
 *	appendix A): "mail_small", "ftp_plain", "mail_fail67".
 *--*/
#ifndef TESTS_UNIT_TL_MEMFS_H
#define TESTS_UNIT_TL_MEMFS_H

#include <stddef.h>
#include <stdint.h>

#include "niftp/niftp.h"

struct tl_memfs;

/* Behaviour knobs (all zero = plain, synchronous, never failing). */
struct tl_memfs_opts {
	int	async_commit;		/* commit waits for tl_memfs_run_commits() */
	int	commit_fail;		/* commits fail ... */
	int	commit_retry;		/* ... with this retry flag */
	const char *commit_reason;	/* ... and this reason */
	int64_t	write_fail_at;		/* > 0: a write passing this many octets fails */
	int	write_retry;
	int64_t	read_fail_at;		/* > 0: a read passing this many octets fails */
	int	async_open;		/* opens answer 1; tl_memfs_run_opens() finishes */
	int	refuse_open;		/* opens fail with state refuse_state */
	uint16_t refuse_state;
	const char *name_prefix;	/* assigned names: PREFIX.NNNN (default "mem") */
	const char *local;		/* a P's store: the one local file every open uses */
	int	unknown_size;		/* open_read reports size -1 */
	/* fs->remove (tl_memfs_rm_ops only) */
	int	async_remove;		/* remove waits for tl_memfs_run_removes() */
	int	remove_fail;		/* removals fail (the file stays) ... */
	const char *remove_reason;	/* ... with this reason */
};

/* tl_memfs_ops: remove == NULL; tl_memfs_rm_ops: with fs->remove */
extern const struct niftp_fs_ops tl_memfs_ops;
extern const struct niftp_fs_ops tl_memfs_rm_ops;

/* tl_memfs_new, tl_memfs_free - a store; opts may be NULL */
struct tl_memfs *tl_memfs_new(const struct tl_memfs_opts *opts);
void tl_memfs_free(struct tl_memfs *m);
/* tl_memfs_opts - change knobs later */
struct tl_memfs_opts *tl_memfs_options(struct tl_memfs *m);
/* tl_memfs_put - store a committed file (copied) */
void tl_memfs_put(struct tl_memfs *m, const char *name, const void *p, size_t len);
/* tl_memfs_get - a committed file's contents or NULL */
const unsigned char *tl_memfs_get(struct tl_memfs *m, const char *name, size_t *len);
/* tl_memfs_count - number of committed files */
int  tl_memfs_count(const struct tl_memfs *m);
/* tl_memfs_run_commits - finish pending asynchronous commits; count */
int  tl_memfs_run_commits(struct tl_memfs *m);
/* tl_memfs_bind - the engine that receives niftp_open_done() for async opens */
void tl_memfs_bind(struct tl_memfs *m, struct niftp *n);
/* tl_memfs_run_opens - finish pending asynchronous opens; count */
int  tl_memfs_run_opens(struct tl_memfs *m);
/* tl_memfs_run_removes - answer pending asynchronous removals (remove or
 * fail as the knobs say now, then niftp_remove_done()); count. A removal
 * whose handle the engine finished meanwhile was dropped: it is not run. */
int  tl_memfs_run_removes(struct tl_memfs *m);
/* tl_memfs_pending_removes - removals waiting for tl_memfs_run_removes() */
int  tl_memfs_pending_removes(const struct tl_memfs *m);

/* Counters the tests look at. */
struct tl_memfs_stats {
	int	commits;		/* commits completed (ok) */
	int	finishes_ok;
	int	finishes_fail;
	int	suspends;
	int	truncates;
	int	marks;			/* fs->mark calls */
	uint64_t last_mark_off;
	int	removed;		/* read-and-remove deletions (remove or finish) */
	int	open_files;		/* handles not yet finished/suspended */
	int	dockets;
	int	remove_calls;		/* fs->remove calls */
	int	removes_failed;		/* removals answered "not removed" */
	int	removes_dropped;	/* pending removals dropped by finish/suspend */
	int	finish_after_remove;	/* finish(fh, 1) on a handle fs->remove removed */
	char	remove_info[1200];	/* info given to the last fs->remove */
	char	remove_name[256];	/* the file the last fs->remove was for */
};
const struct tl_memfs_stats *tl_memfs_stats(const struct tl_memfs *m);

/* Capture vectors. */
struct tl_capseg {
	int	pq;			/* 1: P -> Q, 0: Q -> P */
	size_t	len;
	const char *hex;
};
/* tl_capture - segments of a captured session, or NULL */
const struct tl_capseg *tl_capture(const char *name, size_t *nseg);
/* tl_unhex - decode hex into out (cap octets); the count */
size_t tl_unhex(const char *hex, unsigned char *out, size_t cap);
/* tl_capseg_bytes - a segment decoded into new memory (free it) */
unsigned char *tl_capseg_bytes(const struct tl_capseg *s);

#endif
