/*++
 * NAME
 *	relayd_recv 3h
 * SUMMARY
 *	mailrelayd: the receive side (NIFTP Q, the mail service)
 * SYNOPSIS
 *	#include "relay/relayd_recv.h"
 * DESCRIPTION
 *	Every accepted call for FTP.MAIL (or FTP) is served by the engine
 *	with a spool-backed filestore; a committed letter enters through
 *	the inbound door (relay/inbound.h). See relay/relayd_recv.c.
 * DIAGNOSTICS
 *	Refusals go to the caller as NIFTP states with a reason (RNEG,
 *	QR/ES) and are logged with the caller's address; nothing is
 *	acknowledged before it is durable. Connections and calls beyond
 *	the [limits] budgets (max_pending, max_calls and their _per_addr
 *	forms, pending_timeout, idle_call_timeout, min_rate) are dropped,
 *	refused or cut, and journaled once per burst per source
 *	("refused - from=ADDR reason=... count=N").
 *--*/
#ifndef RELAY_RELAYD_RECV_H
#define RELAY_RELAYD_RECV_H

struct relayd;
struct ts_listener;
struct ts_conn;

/* relayd_serve_new - an accepted incoming call: serve it as Q */
void relayd_serve_new(struct relayd *rd, struct ts_listener *l, struct ts_conn *c);
/* relayd_recv_busy - incoming calls or commits in progress */
int  relayd_recv_busy(const struct relayd *rd);
/* relayd_recv_stop - end calls between transfers (all when now); journal
 * the refusals counted so far */
void relayd_recv_stop(struct relayd *rd, int now);

#endif
