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
 *	refused (state 0x1001 with a reason). Callers must come over a
 *	Unix socket (or the --stdio door), from loopback, or from a host
 *	named in a tcp:/rawtcp: address of the route table (peers are not
 *	authenticated yet: doc/trace.md).
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
/* trace_fs_allowed - 1 when the caller on c may read traces, else 0
 * with why */
int  trace_fs_allowed(const struct relayd *rd, struct ts_conn *c, char *why, size_t len);
/* trace_fs_new - the filestore of one call (the fs argument of
 * trace_fs_ops); trace_fs_set_call - its call, once served */
struct trace_fs *trace_fs_new(struct relayd *rd);
void trace_fs_set_call(struct trace_fs *tf, struct niftp_call *call);
/* trace_fs_free - the call is gone: free it (a document being built
 * on a worker is dropped when the worker is done). NULL allowed. */
void trace_fs_free(struct trace_fs *tf);

extern const struct niftp_fs_ops trace_fs_ops;

#endif
