/*++
 * NAME
 *	trace_fs 3h
 * SUMMARY
 *	mailrelayd: the trace service, read-only virtual files trace:KEY
 * SYNOPSIS
 *	#include "relay/trace_fs.h"
 * DESCRIPTION
 *	A node answers the called address FTP (exactly; FTP.MAIL stays the
 *	mail service) on its mail listeners with a filestore that only
 *	serves reads of "trace:KEY" (KEY as in trace.h: a name, msgid:ID,
 *	out:FILE): the node's trace document for KEY (relay/trace.h), built
 *	on a worker thread from the journal. Writes and any other name are
 *	refused (state 0x1001 with a reason). Only entitled callers are
 *	answered ([listen] trace, doc/trace.md): by default authenticated
 *	peers (relay/peer.h) and local callers (a Unix socket, as root or
 *	as the daemon's user); the receive side decides at each SFT and
 *	says so with trace_fs_entitle() before the open.
 *--*/
#ifndef RELAY_TRACE_FS_H
#define RELAY_TRACE_FS_H

#include <stddef.h>

#include "niftp/niftp.h"

struct relayd;
struct ts_conn;
struct niftp_call;
struct trace_fs;

/* trace_fs_called - 1 when called ("" allowed) names the trace service */
int  trace_fs_called(const char *called);
/* trace_fs_entitle - the caller may (1) or may not (0, the default) read traces */
void trace_fs_entitle(struct trace_fs *tf, int yes);
/* trace_fs_new - the filestore of one call (the fs argument of
 * trace_fs_ops); trace_fs_set_call - its call, once served */
struct trace_fs *trace_fs_new(struct relayd *rd);
void trace_fs_set_call(struct trace_fs *tf, struct niftp_call *call);
/* trace_fs_free - the call is gone: free it (a document being built
 * on a worker is dropped when the worker is done). NULL allowed. */
void trace_fs_free(struct trace_fs *tf);

extern const struct niftp_fs_ops trace_fs_ops;

#endif
