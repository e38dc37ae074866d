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
 *	it. This header gives the configuration loader its address check
 *	and the daemon its one libcurl start-up call.
 *--*/
#ifndef RELAY_CHAN_SMTP_H
#define RELAY_CHAN_SMTP_H

#include <stddef.h>
#include <stdint.h>

#define CHAN_SMTP_PORT		25	/* a route address without a port */
#define CHAN_SMTP_PER_HOP	4	/* default [smtp] max_per_hop */
#define CHAN_SMTP_SECRET_MAX	1024	/* longest password in password_file */

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
};

/* chan_smtp_addr_norm - a route's smtp address ("tcp:HOST:PORT",
 * "tcp:[V6]:PORT", "HOST:PORT" or "HOST", port CHAN_SMTP_PORT) in the
 * form the channel uses, "tcp:HOST:PORT" (new memory), or NULL with
 * err: empty or bad host, bad port */
char *chan_smtp_addr_norm(const char *in, char *err, size_t errlen);

/* chan_smtp_global_init - libcurl's process-wide start-up: once, at daemon
 * start, before any thread runs; exits (fatal) when libcurl cannot start */
void chan_smtp_global_init(void);

#endif
