/*++
 * NAME
 *	channel 3
 * SUMMARY
 *	mailrelayd: the channel table
 * SYNOPSIS
 *	#include "relay/channel.h"
 * DESCRIPTION
 *	One entry per route channel; read-only. Used by the daemon only:
 *	the configuration loader has a table of its own (relay/conf.c), so
 *	that the programs that only read a configuration do not link the
 *	channels (relay/channel.h).
 *--*/
#include <stddef.h>

#include "relay/channel.h"

static const struct channel_ops *const channel_table[CHANNEL_MAX] = {
	[ROUTE_CH_NIFTP] = &chan_niftp_ops,
	[ROUTE_CH_LOCAL] = &chan_local_ops,
	[ROUTE_CH_SMTP] = &chan_smtp_ops,
	[ROUTE_CH_PULL] = &chan_pull_ops,
};

/* channel_default - the operations of ch */
const struct channel_ops *channel_default(enum route_channel ch)
{
	if ((unsigned) ch >= CHANNEL_MAX)
		return NULL;
	return channel_table[ch];
}
