/*++
 * NAME
 *	ctl_server 3h
 * SUMMARY
 *	mailrelayd: the control socket, answering the requests of ctl_proto
 * SYNOPSIS
 *	#include "relay/ctl_server.h"
 * DESCRIPTION
 *	Listens on the configured control socket (SPOOL/control by
 *	default, mode 0666: any local user may connect) on the daemon's
 *	loop. Each connection carries one request line (relay/ctl_proto.h);
 *	the request is parsed with the protocol table, authorized by the
 *	peer's uid (SO_PEERCRED: CTL_ANYONE requests for anyone, the others
 *	for root and the daemon's own user; a refusal is "err permission
 *	denied: ..."), and handed to its handler, which calls the operator
 *	entry points (pickup_claim, ops_bulk_start, qlist_start, ...,
 *	archive_resubmit: relay/pickup.h, relay/ops_bulk.h, relay/qlist.h,
 *	relay/archive.h) with
 *	the login name of the socket's peer as the operator, or takes a
 *	submitted letter (relay/submit.h). A malformed request is answered
 *	"err REASON" (one line) and changes nothing. Connections are
 *	limited in number, in all and per uid other than root's and the
 *	daemon's, and must send their request line within a deadline
 *	(relay/ctl_server.c).
 *--*/
#ifndef RELAY_CTL_SERVER_H
#define RELAY_CTL_SERVER_H

#include <stddef.h>

struct buf;
struct relayd;
struct ctl_server;

/* What "reload" calls: reload the configuration of rd; 0, or -1 with
 * the reasons (one per line) appended to errs, the old one kept. */
typedef int ctl_reload_fn(struct relayd *rd, struct buf *errs);

/* ctl_server_start - listen on rd->conf->control (a file there is
 * replaced) and answer requests on rd->loop. The server, or NULL with
 * err (path too long, socket, bind, listen). */
struct ctl_server *ctl_server_start(struct relayd *rd, ctl_reload_fn *reload,
	char *err, size_t errlen);

/* ctl_server_busy - requests whose answer waits for a spool transaction
 * or a worker: a stop waits until none is left. Idle connections do not
 * count (they are closed by ctl_server_free). */
int	ctl_server_busy(const struct ctl_server *cs);

/* ctl_server_free - close every connection (without an answer) and the
 * socket, and remove the socket file. NULL is allowed. */
void	ctl_server_free(struct ctl_server *cs);

#endif
