/*++
 * NAME
 *	tool_client 3h
 * SUMMARY
 *	one file transfer as P, with retries and resumption
 * SYNOPSIS
 *	#include "niftp/tool_client.h"
 * DESCRIPTION
 *	client_run() places a call to spec->addr, starts the transfer
 *	described by spec->req, and runs the event loop until it ends.
 *	A broken call, an unreachable peer or a temporary refusal is
 *	retried (spec->o->retries times, waiting retry_wait_ms, doubled
 *	after each try, at most 30 s); a transfer that had started is
 *	resumed from P's docket, which is kept in memory between the
 *	calls. A resumption the server cannot grant (0x1004) starts the
 *	transfer afresh. An attempt that moved the transfer forward does
 *	not use up a retry, but no more than CLIENT_MAX_CALLS calls are
 *	made in all; with retries 0 no call is ever repeated.
 *
 *	The filestore (spec->fs_ops, spec->fs) is the local side of the
 *	transfer and lives across the attempts. Before an attempt that
 *	starts afresh after an earlier one moved data, spec->restart(fs)
 *	is called (get discards what it had received).
 *
 *	client_run() prints the error message (spec->what, which names
 *	the operation, the file and the peer, then the reason) and returns the exit status
 *	of DESIGN section 2. On success spec->name holds the name the
 *	server assigned or opened.
 *--*/
#ifndef NIFTP_TOOL_CLIENT_H
#define NIFTP_TOOL_CLIENT_H

#include <stdint.h>

#include "niftp/niftp.h"

struct tool_opts;
struct loop;

#define CLIENT_MAX_CALLS	100

struct client_spec {
	const char *what;		/* "put 'F' to ADDR", message prefix */
	const char *label;		/* progress line label */
	const char *addr;		/* transport address */
	const struct tool_opts *o;
	struct niftp_req req;		/* the transfer (template for each call) */
	const struct niftp_fs_ops *fs_ops;
	void   *fs;
	void	(*restart)(void *fs);	/* before a fresh start after progress */
	struct loop *loop;
	/* set by the filestore when a local failure ends the transfer */
	char	local_error[512];
	int	local_status;		/* exit status for it */
	/* P's docket, kept between the calls (read by a receiving filestore) */
	struct niftp_docket dk;
	int	have_dk;
	/* results */
	char	name[256];		/* server-assigned or opened name */
	uint64_t octets;		/* payload octets sent + received on all calls */
	unsigned calls;			/* calls made */
};

/* client_run - run the transfer; the exit status */
int  client_run(struct client_spec *spec);

#endif
