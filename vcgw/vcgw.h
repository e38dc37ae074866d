/*++
 * NAME
 *	vcgw 3h
 * SUMMARY
 *	the virtual call gateway (INDRA Note 1025 section 4.3, DESIGN section 8)
 * SYNOPSIS
 *	#include "vcgw/vcgw.h"
 * DESCRIPTION
 *	A struct vcgw accepts transport-service calls on the listeners of
 *	its configuration and, for each, makes one call onward as its [map]
 *	says. It relays the two calls' primitives without reading the data:
 *
 *	- the caller gets ACCEPT only when the far end accepted; a refusal
 *	  or failure to reach the far end refuses the caller with its
 *	  reason and text. The caller's data before ACCEPT is held by the
 *	  transport service within the call's send cap; beyond it reading
 *	  stops, and the setup timeout bounds the wait.
 *	- DATA with push boundaries, DISCONNECT and RESET (reason, text)
 *	  pass both ways; a RESET is answered end to end: the gateway
 *	  remembers which side reset first and passes the other side's
 *	  answering RESET back. Towards a rawtcp side a RESET becomes a
 *	  DISCONNECT of both sides.
 *	- a transport failure on one side (TS reason 40) becomes a
 *	  DISCONNECT with reason 40 on the other.
 *	- unknown called addresses are refused with reason 19, calls over
 *	  max_calls with reason 17.
 *	- memory per call is bounded (call_memory): a full send queue on
 *	  one side stops reading on the other (back-pressure).
 *	- between two Yellow Book calls on sockets, data records are
 *	  spliced (vcgw_pump.h) unless the configuration says splice = no;
 *	  control records, rawtcp and stdio sides take the copying path.
 *
 *	One log line per call (util/log.h, level info) when it has ended.
 *
 *	Lifetime: vcgw_shutdown() closes the listeners; calls may finish
 *	within the grace time, then they are disconnected (reason 18);
 *	when none is left the gateway calls loop_stop(). A gateway whose
 *	only listener is stdio also stops when its one call has ended.
 *--*/
#ifndef VCGW_VCGW_H
#define VCGW_VCGW_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct vcgw;
struct vcgw_conf;

struct vcgw_stats {
	uint64_t calls;		/* incoming calls (connections) */
	uint64_t refused;	/* refused by us or by the far end */
	uint64_t active;	/* now */
	uint64_t peak;		/* most at once */
	uint64_t spliced;	/* payload octets moved by the splice path */
};

/* vcgw_new - open the listeners of conf; the gateway owns conf from now
 * on. NULL with err when a listener cannot be opened (conf is freed). */
struct vcgw *vcgw_new(struct loop *loop, struct vcgw_conf *conf, char *err, size_t errlen);

/* vcgw_reload - use a new configuration: listeners added are opened
 * first, removed ones closed, the map replaced for new calls (calls in
 * progress are not touched). 0, and conf is the gateway's; or -1 with err
 * (a new listener could not be opened): the old configuration stays in
 * force and conf is still the caller's. */
int vcgw_reload(struct vcgw *gw, struct vcgw_conf *conf, char *err, size_t errlen);

/* vcgw_naddr, vcgw_addr - the bound listener addresses (port 0 resolved) */
int vcgw_naddr(const struct vcgw *gw);
const char *vcgw_addr(const struct vcgw *gw, int i);

/* vcgw_conf - the configuration in force (borrowed) */
const struct vcgw_conf *vcgw_conf(const struct vcgw *gw);

/* vcgw_shutdown - stop listening; now = 0: calls may finish within the
 * grace time; now = 1: disconnect every call at once. loop_stop() follows
 * when no call is left (at most about 6 s after the disconnects). */
void vcgw_shutdown(struct vcgw *gw, int now);

/* vcgw_stats - counters */
void vcgw_stats(const struct vcgw *gw, struct vcgw_stats *st);

/* vcgw_free - close everything at once and release the gateway */
void vcgw_free(struct vcgw *gw);

#endif
