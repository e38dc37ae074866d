/*++
 * NAME
 *	chan_niftp 3h
 * SUMMARY
 *	mailrelayd: the niftp channel's operator route overrides
 * SYNOPSIS
 *	#include "relay/chan_niftp.h"
 * DESCRIPTION
 *	The niftp channel itself is chan_niftp_ops (relay/channel.h); its
 *	settings come from the [niftp] section (struct chan_niftp_settings). An
 *	operator may override the route of a next hop with one NIFTP
 *	alternate ("mailctl reroute HOST niftp ADDR [CALLED]"), kept
 *	durably in SPOOL/reroute and journalled; the hop's copies are due
 *	at once and idle calls to the old address end.
 * DIAGNOSTICS
 *	-1 with err: a bad route or next hop, the file cannot be written
 *	(nothing changed), the niftp channel is not the node's.
 *--*/
#ifndef RELAY_CHAN_NIFTP_H
#define RELAY_CHAN_NIFTP_H

#include <stddef.h>

#include <stdint.h>

struct buf;
struct relayd;

/* The channel's settings: its [niftp] section (conf->chconf[ROUTE_CH_NIFTP]). */
struct chan_niftp_settings {
	unsigned calls_per_hop;		/* calls per next hop; default [limits] calls_per_hop */
	int64_t	idle_ms;		/* idle_hangup: an idle call hangs up after; 2 s */
	int	deflate;		/* offer the deflate facility; yes */
};

/* chan_niftp_reroute_set - override the route of next hop host with route
 * ("niftp ADDR [CALLED]"; NULL: clear the override), by user */
int  chan_niftp_reroute_set(struct relayd *rd, const char *host, const char *route,
	const char *user, char *err, size_t errlen);
/* chan_niftp_reroute_list - "HOST ROUTE\n" per override */
void chan_niftp_reroute_list(const struct relayd *rd, struct buf *out);

#endif
