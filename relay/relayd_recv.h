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

/* Pulling (relay/pull.c): the receive side's filestore on our own call to
 * a relay. relayd_pull_rcall - its argument (fs) for a call to relay at
 * addr; _bind - its call; _list - the relay's list read on it; _free. */
struct buf;
struct niftp_call;
struct niftp_fs_ops;
struct rcall;
struct rcall *relayd_pull_rcall(struct relayd *rd, const char *relay, const char *addr);
void relayd_pull_rcall_bind(struct rcall *rc, struct niftp_call *call);
const struct buf *relayd_pull_rcall_list(const struct rcall *rc);
const char *relayd_pull_rcall_ident(const struct rcall *rc);
void relayd_pull_rcall_free(struct rcall *rc);
const struct niftp_fs_ops *relayd_recv_fs(void);
/* relayd_pull_docket - what this node holds of copy (transfer id tid)
 * pulled from relay: 1 with *committed and its name here, 0 no record */
int  relayd_pull_docket(struct relayd *rd, const char *relay, unsigned tid, const char *copy,
	int *committed, char *name, size_t namelen);
/* relayd_pull_docket_drop - the relay confirmed its removal of copy:
 * the docket of that pull goes (asynchronously, with the next batch) */
void relayd_pull_docket_drop(struct relayd *rd, const char *relay, unsigned tid,
	const char *copy);

#endif
