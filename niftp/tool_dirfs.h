/*++
 * NAME
 *	tool_dirfs 3h
 * SUMMARY
 *	the directory filestore of niftp serve, with durable dockets
 * SYNOPSIS
 *	#include "niftp/tool_dirfs.h"
 * DESCRIPTION
 *	A struct niftp_fs_ops over one directory DIR. Received files
 *	are written under DIR/.niftp/partial/ and appear as DIR/NAME only
 *	when committed (fsync, rename or link, fsync DIR), before ER(OK).
 *	Transfers with a transfer id keep a docket in DIR/.niftp/dockets/
 *	keyed by (caller identity, transfer id), so that a broken or
 *	crashed transfer can be resumed from its last durable mark and a
 *	transfer lost between ES and STOPACK resumes with mark 0xFFFF and
 *	gets the same name. The layout and policies are described in
 *	doc/niftp-tool.md.
 *
 *	Blocking work (fsync, the docket writes, commit, durable remove)
 *	runs on the workq; the loop thread only does open/read/write.
 *	Opens of docketed transfers finish later (niftp_open_done), so the
 *	filestore needs the engine: the fs pointer given to the engine is
 *	a struct dirfs_conn, one per call, which knows the engine and how
 *	to make the call send (kick) or end (supersede) it.
 *
 *	Names given by callers are checked (tool_name_check); names the
 *	server assigns look like f.YYMMDDHHMMSS.NNNNNN (UTC), unique for
 *	the life of DIR: the counter lives in DIR/.niftp/seq and is
 *	reserved in blocks under a lock, so concurrent servers on one DIR
 *	never share a name.
 *--*/
#ifndef NIFTP_TOOL_DIRFS_H
#define NIFTP_TOOL_DIRFS_H

#include <stdint.h>

#include "niftp/niftp.h"

struct loop;
struct workq;
struct dirfs;
struct dirfs_conn;

#define DIRFS_CHECKPOINT_DEFAULT	(64ULL * 1024 * 1024)
#define DIRFS_KEEP_DEFAULT_MS		(7LL * 24 * 3600 * 1000)

struct dirfs_opts {
	uint64_t max_size;	/* largest file accepted (0 = no limit) */
	uint64_t checkpoint;	/* octets of marks between checkpoints */
	int64_t	keep_ms;	/* docket retention */
};

/* The filestore operations; fs is a struct dirfs_conn. */
extern const struct niftp_fs_ops dirfs_ops;

/* dirfs_open - use DIR (which must exist); create DIR/.niftp, prune old
 * dockets and orphans. NULL with err. */
struct dirfs *dirfs_open(struct loop *loop, struct workq *wq, const char *dir,
	const struct dirfs_opts *opts, char *err, size_t errlen);
/* dirfs_busy - files open or blocking work not yet finished */
int  dirfs_busy(const struct dirfs *fs);
/* dirfs_close - free (call when dirfs_busy() is 0, or at exit) */
void dirfs_close(struct dirfs *fs);

typedef void dirfs_conn_fn(void *arg);

/* dirfs_conn_new - the filestore of one call. kick(arg) makes the call
 * pull output (after a late answer); supersede(arg) asks the call to
 * end because a newer call resumes its transfer. Both run from a
 * zero-delay timer or a work completion, never inside an engine call. */
struct dirfs_conn *dirfs_conn_new(struct dirfs *fs, dirfs_conn_fn *kick,
	dirfs_conn_fn *supersede, void *arg);
/* dirfs_conn_engine - the engine that uses this conn */
void dirfs_conn_engine(struct dirfs_conn *fc, struct niftp *n);
/* dirfs_conn_free - the call is gone: late answers are dropped; files
 * it left (suspended, committing) finish on their own */
void dirfs_conn_free(struct dirfs_conn *fc);

#endif
