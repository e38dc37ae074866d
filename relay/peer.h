/*++
 * NAME
 *	peer 3h
 * SUMMARY
 *	mailrelayd: peer nodes, who a caller is, and what it may do
 * SYNOPSIS
 *	#include "relay/peer.h"
 * DESCRIPTION
 *	A peer is a node named in a [peer NAME] section (doc/peers.md,
 *	mailrelayd.conf(5)):
 * .IP "username, password_file"
 *	the link's credentials: the peer presents them when it calls us,
 *	and we present them when we call the next hop of the route named
 *	NAME ([routes] NAME = niftp ...). Never over rawtcp: (unix-niftp
 *	refuses a username on a mail transfer).
 * .IP from
 *	where it may call from: IP prefixes ("192.0.2.0/24", "::1",
 *	"127.0.0.1") and, for Unix sockets, "uid:N" or "uid:USER"
 *	(SO_PEERCRED).
 * .IP via
 *	a gateway it comes through: "GWFROM CALLING" (GWFROM as in from:
 *	where the gateway's calls come from; CALLING the calling address
 *	the gateway passes on, e.g. "ucl.gw").
 * .PP
 *	peer_identify() decides who a caller is. With a username: the peer
 *	of that username, when the password matches (compared in constant
 *	time) and the caller comes from one of its from or via places (a
 *	peer with neither may call from anywhere); anything else is
 *	refused. Without one: the first peer with no password whose from
 *	matches the source, or whose via matches the source and the
 *	calling address (an address-only peer, e.g. a rawtcp: unix-niftp
 *	node); else the caller is unauthenticated.
 *
 *	An identity is the text that keys a caller's dockets, limits and
 *	trace rights: "peer:NAME" for a peer, "local:uid:N" for a local
 *	caller (PEER_BY_LOCAL), "anon:ADDR" for anyone else (ADDR: an
 *	IPv4 address, an IPv6 /64, "uid:N", or "-" when the transport
 *	names no source), never the calling address the caller typed.
 *
 *	Relay rules (per listener, accept = peers | local | any): what an
 *	unauthenticated caller may send. peers: nothing; local: letters
 *	whose every recipient is delivered here; any: anything (an open
 *	relay: only for closed networks). Peers and local submission are
 *	always relayed along the route table.
 *--*/
#ifndef RELAY_PEER_H
#define RELAY_PEER_H

#include <stddef.h>

struct conf;
struct ts_conn;
struct buf;

#define PEER_IDENT_MAX	128	/* "peer:NAME" / "anon:ADDR", NUL included */
#define PEER_NAME_MAX	64	/* a peer's name */
#define PEER_PASS_MAX	1024	/* a password file's first line */

/* one place a peer may call from */
struct peer_place {
	int	kind;		/* PEER_PLACE_IP, PEER_PLACE_UID */
	int	family;		/* AF_INET, AF_INET6 */
	unsigned char ip[16];
	unsigned bits;		/* prefix length */
	unsigned long uid;
};
#define PEER_PLACE_IP	1
#define PEER_PLACE_UID	2

struct peer_via {
	struct peer_place gw;
	char	*calling;	/* lower-cased */
};

struct conf_peer {
	char	*name;		/* lower-cased */
	char	*username;	/* NULL: an address-only peer */
	char	*password;	/* the password file's first line */
	size_t	password_len;
	char	*password_file;	/* absolute */
	struct peer_place *from;
	size_t	nfrom;
	struct peer_via *via;
	size_t	nvia;
};

/* accept = ... (per listener) */
enum peer_accept { PEER_ACCEPT_LOCAL = 0, PEER_ACCEPT_PEERS, PEER_ACCEPT_ANY };

/* the source of a call */
struct peer_src {
	int	kind;		/* PEER_PLACE_IP, PEER_PLACE_UID, 0 none */
	int	family;
	unsigned char ip[16];
	unsigned long uid;
	int	lo_uid_known;	/* an IP caller over loopback: its user (the kernel's
				 * socket table, ts_peer_loopback_uid(), looked up by
				 * the receive side only when it matters), for the
				 * local-caller rule only */
	unsigned long lo_uid;
	const char *calling;	/* as passed, "" none */
};

enum peer_how {
	PEER_UNAUTH = 0,	/* nobody we know */
	PEER_BY_PASSWORD,	/* username and password */
	PEER_BY_ADDRESS,	/* an address-only peer's from/via */
	PEER_REFUSED,		/* a username or password that does not hold */
	PEER_BY_LOCAL,		/* no peer, but a caller on this host running as root
				 * or as the daemon's user, over a Unix socket or
				 * loopback TCP (it could write the spool itself):
				 * local submission (set by the receive side, never
				 * through a gateway, the stdio door or a listener
				 * with local=no) */
};

/* peer_place_parse - "1.2.3.0/24", "::1", "uid:0", "uid:root"; 0, or -1
 * with why */
int  peer_place_parse(const char *s, struct peer_place *pl, char *why, size_t len);
/* peer_place_str - the place as text */
const char *peer_place_str(const struct peer_place *pl, char *buf, size_t len);
/* peer_accept_parse - "peers", "local", "any"; -1 for anything else */
int  peer_accept_parse(const char *s);
const char *peer_accept_str(int accept);

/* peer_src_of - the source of the call on c */
void peer_src_of(struct ts_conn *c, const char *calling, struct peer_src *src);
/* peer_src_str - the source as text ("192.0.2.1", "uid:1000", "-") */
const char *peer_src_str(const struct peer_src *src, char *buf, size_t len);

/* peer_identify - who the caller is (see DESCRIPTION); *who set for
 * BY_PASSWORD and BY_ADDRESS; why set for REFUSED (for logs: never sent
 * to the caller, which hears "username or password refused") */
enum peer_how peer_identify(const struct conf *c, const struct peer_src *src,
	const char *user, const char *password, const struct conf_peer **who,
	char *why, size_t len);
/* peer_is_gateway - src is a gateway some peer comes through (a via
 * place): its callers are never local callers */
int  peer_is_gateway(const struct conf *c, const struct peer_src *src);
/* peer_via_known - src is such a gateway and passes on a calling address
 * some peer's via names: its calls are counted per that address (any
 * other caller through it shares the gateway's budget) */
int  peer_via_known(const struct conf *c, const struct peer_src *src);
/* peer_ident - the identity text of a caller (see DESCRIPTION) */
void peer_ident(const struct conf_peer *who, const struct peer_src *src, char *buf,
	size_t len);
/* peer_find - the peer NAME, or NULL */
const struct conf_peer *peer_find(const struct conf *c, const char *name);
/* peer_for_hop - the credentials to send when calling the next hop named
 * hop over addr (NULL when none, or addr is rawtcp:) */
const struct conf_peer *peer_for_hop(const struct conf *c, const char *hop, const char *addr);
/* peer_equal - a and b equal, in time independent of where they differ */
int  peer_equal(const void *a, size_t alen, const void *b, size_t blen);
/* peer_relay_check - may a letter to al (via: its Via: lines) be taken
 * from an unauthenticated caller under accept? 0 yes; PEER_DENIED with
 * why (a recipient it may not relay to: the address and the rule);
 * PEER_BADRCPT with why (a recipient that cannot be delivered: refused
 * in the call, not bounced later). Peers and local submission do not
 * ask: they are relayed along the route table. */
#define PEER_DENIED	1
#define PEER_BADRCPT	2
struct addr_list;
int  peer_relay_check(const struct conf *c, const struct addr_list *al, unsigned via,
	int accept, char *why, size_t len);
/* peer_mailbox_known - the local mailbox is a configured user ([local]
 * users) or its Maildir exists (or cannot be looked at, or its path is
 * too long: the local channel decides): 1; else 0, an unknown user, which
 * the local channel (mailchannel/ch_local.c) would refuse at delivery.
 * The relay rules, mailctl route and niftpmail-sendmail ask it. */
int  peer_mailbox_known(const struct conf *c, const char *mailbox);
/* peer_ready - every peer with a username has its password (a daemon
 * must read them all; mailctl run by another user may not): 0, or -1
 * with why naming the peer and the file */
int  peer_ready(const struct conf *c, char *why, size_t len);
/* peer_read_password - the first line of path (it must be a regular file
 * readable by nobody but its owner): new memory, or NULL with why */
char *peer_read_password(const char *path, size_t *len, char *why, size_t wlen);

#endif
