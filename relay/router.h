/*++
 * NAME
 *	router 3h
 * SUMMARY
 *	mailrelayd: routing a received letter into envelopes
 * SYNOPSIS
 *	#include "relay/router.h"
 * DESCRIPTION
 *	A letter in in/ is routed (mailchannel/route.h) in one spool
 *	transaction: one envelope per next hop ("one copy per next hop"),
 *	one for the local deliveries, a non-delivery notice for the
 *	recipients that failed at once, the move of the letter to queue/
 *	(its message store from then on; to dead/ when a failure cannot
 *	be returned and nothing else is left; removed when nothing is left
 *	at all), and the journal lines routed/failed/ndn. A malformed
 *	letter goes to corrupt/ with a "corrupt" line. Crash point:
 *	relay-after-route-before-commit.
 * DIAGNOSTICS
 *	Failures are logged with the letter's name; the letter stays in
 *	in/ and is routed again at the next start.
 *--*/
#ifndef RELAY_ROUTER_H
#define RELAY_ROUTER_H

#include <stddef.h>

struct relayd;
struct qenv;
struct route_result;

/* router_route - route in/NAME now (after the transaction that brought it
 * there completed) */
void router_route(struct relayd *rd, const char *name);

struct route_ctx;
struct spool_file;
struct spool_txn;
struct letter;

/* router_route_commit - route the new letter f (head lt, its received
 * line already in t) in t itself: its envelopes' records and its routed
 * line are added, and f is committed straight into queue/, so that one
 * transaction (one batch) receives and routes it. Only for a letter whose
 * every recipient routes to a next hop or a mailbox and with archiving
 * off: NULL when it does not qualify (nothing added to t: the caller
 * commits f into in/ and routes it later with router_route). Else the
 * caller hands the result to router_route_done() once t completed. */
struct route_ctx *router_route_commit(struct relayd *rd, struct spool_txn *t,
	struct spool_file *f, struct letter *lt);

/* router_route_done - the transaction of router_route_commit completed
 * (ok) or failed (err): the envelopes join the queue, or are freed */
void router_route_done(struct route_ctx *rc, int ok, const char *err);

/* router_envelopes - the envelopes for the targets of results res[0..n-1]
 * of letter `letter` (one per next hop, one for the local deliveries),
 * new memory in *envs (count *nenvs); the failed targets are not
 * included (route_result_get(.., ROUTE_FAIL)) */
void router_envelopes(const char *letter, struct route_result **res, size_t n,
	struct qenv ***envs, size_t *nenvs);

#endif
