/*++
 * NAME
 *	chan_smtp 3h
 * SUMMARY
 *	mailrelayd: the smtp channel (letters to an Internet relay host)
 * SYNOPSIS
 *	#include "relay/chan_smtp.h"
 * DESCRIPTION
 *	The channel itself is known only through the channel table
 *	(chan_smtp_ops in relay/channel.h); relay/chan_smtp.c describes
 *	it. This header gives the configuration loader its address check,
 *	the channel its settings, and the daemon its one libcurl start-up
 *	call.
 *
 *	Two files: relay/smtp_conf.c, the configuration (the [smtp]
 *	section, chan_smtp_conf_ops, and the route addresses), which every
 *	program that reads a configuration links and which must not call
 *	libcurl; relay/chan_smtp.c, the transfers and
 *	chan_smtp_global_init(), on libcurl, linked by mailrelayd alone.
 *--*/
#ifndef RELAY_CHAN_SMTP_H
#define RELAY_CHAN_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include "mailchannel/rfc822.h"

#define CHAN_SMTP_PORT		25	/* a route address without a port */
#define CHAN_SMTP_HOST_MAX	255	/* longest host in a route address */
#define CHAN_SMTP_PER_HOP	4	/* default [smtp] max_per_hop */
#define CHAN_SMTP_TIMEOUT_MS	(300 * 1000)	/* default [smtp] timeout */
#define CHAN_SMTP_SECRET_MAX	1024	/* longest password in password_file */
#define CHAN_SMTP_BIG_ENDIAN	"uk"	/* default [smtp] big_endian */

enum chan_smtp_tls {
	CHAN_SMTP_TLS_NONE,		/* never STARTTLS */
	CHAN_SMTP_TLS_MAY,		/* STARTTLS when offered */
	CHAN_SMTP_TLS_ENCRYPT,		/* STARTTLS or no transaction (defer) */
};

/* The channel's settings: its [smtp] section (conf->chconf[ROUTE_CH_SMTP]). */
struct chan_smtp_settings {
	unsigned max_per_hop;		/* transactions (and connections) per next
					 * hop at a time; 4 */
	enum chan_smtp_tls tls;		/* tls = none|may|encrypt; none */
	int	verify;			/* verify the server's certificate; yes */
	char   *ca_file;		/* ca_file (absolute), or NULL: the system's */
	char   *username;		/* AUTH when set */
	char   *password;		/* read from password_file at load time */
	int64_t	timeout_ms;		/* timeout: one server reply; 300 s */
	char	big_endian[RFC822_TOPS_MAX];	/* top-level names of domains
					 * written big-endian ("uk"), turned around
					 * when [local] reversed_names is on */
};

/* chan_smtp_settings_default - st set to the defaults (no [smtp] section) */
void chan_smtp_settings_default(struct chan_smtp_settings *st);

/* chan_smtp_addr_norm - a route's smtp address ("tcp:HOST:PORT",
 * "tcp:[V6]:PORT", "HOST:PORT" or "HOST", port CHAN_SMTP_PORT) in the
 * form the channel uses, "tcp:HOST:PORT" (new memory), or NULL with
 * err: empty or bad host, bad port */
char *chan_smtp_addr_norm(const char *in, char *err, size_t errlen);

/* chan_smtp_addr_split - a route's smtp address (any form that
 * chan_smtp_addr_norm() takes) into host (without the brackets of an
 * IPv6 address; hlen octets, CHAN_SMTP_HOST_MAX + 1 hold any) and port:
 * 0, or -1 with err (the same reasons) */
int  chan_smtp_addr_split(const char *in, char *host, size_t hlen, unsigned *port,
	char *err, size_t errlen);

/* chan_smtp_global_init - libcurl's process-wide start-up: once, at daemon
 * start, before any thread runs; exits (fatal) when libcurl cannot start */
void chan_smtp_global_init(void);

#endif
