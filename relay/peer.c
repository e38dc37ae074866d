/*++
 * NAME
 *	peer 3
 * SUMMARY
 *	mailrelayd: peer nodes, who a caller is
 * SYNOPSIS
 *	#include "relay/peer.h"
 * DESCRIPTION
 *	See relay/peer.h and doc/peers.md.
 *--*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/route.h"
#include "niftp/ts.h"
#include "relay/conf.h"
#include "relay/peer.h"
#include "util/alloc.h"
#include "util/strutil.h"

#define PEER_PWBUF	16384		/* getpwnam_r's buffer (long group lists, NSS) */

int peer_place_parse(const char *s, struct peer_place *pl, char *why, size_t len)
{
	char    host[INET6_ADDRSTRLEN + 1];
	const char *slash;
	size_t  n;

	memset(pl, 0, sizeof(*pl));
	if (strncmp(s, "uid:", 4) == 0) {
		const char *u = s + 4;
		char   *end;
		unsigned long v;

		pl->kind = PEER_PLACE_UID;
		if (*u >= '0' && *u <= '9') {
			errno = 0;
			v = strtoul(u, &end, 10);
			if (errno != 0 || *end != '\0' || v > 0xFFFFFFFEul) {
				snprintf(why, len, "bad user id '%.40s'", u);
				return -1;
			}
			pl->uid = v;
			return 0;
		} else {
			struct passwd pw, *pp = NULL;
			char    pwb[PEER_PWBUF];
			int     e = 0;

			if (*u == '\0' || (e = getpwnam_r(u, &pw, pwb, sizeof(pwb), &pp)) != 0
			    || pp == NULL) {
				snprintf(why, len, "%s '%.40s'%s%s", *u && e != 0 ? "cannot look up user"
				    : "no such user", u, *u && e != 0 ? ": " : "",
				    *u && e != 0 ? strerror(e) : "");
				return -1;
			}
			pl->uid = (unsigned long) pp->pw_uid;
			return 0;
		}
	}
	pl->kind = PEER_PLACE_IP;
	slash = strchr(s, '/');
	n = slash ? (size_t) (slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(host)) {
		snprintf(why, len, "bad address '%.60s' (want an IP prefix or uid:USER)", s);
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, pl->ip) == 1) {
		pl->family = AF_INET;
		pl->bits = 32;
	} else if (inet_pton(AF_INET6, host, pl->ip) == 1) {
		pl->family = AF_INET6;
		pl->bits = 128;
	} else {
		pl->family = 0;
	}
	if (pl->family == 0) {
		snprintf(why, len, "bad address '%.60s' (want an IP prefix or uid:USER)", s);
		return -1;
	}
	if (slash != NULL) {
		char   *end;
		unsigned long b;

		errno = 0;
		b = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || errno != 0 || *end != '\0' || b > pl->bits) {
			snprintf(why, len, "bad prefix length in '%.60s'", s);
			return -1;
		}
		pl->bits = (unsigned) b;
	}
	if (pl->family == AF_INET6) {
		/* callers' v4-mapped addresses are matched as IPv4 (ts_peer_ip),
		 * so ::ffff:a.b.c.d/N is the IPv4 prefix a.b.c.d/(N-96) */
		static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

		if (memcmp(pl->ip, mapped, 12) == 0 && pl->bits >= 96) {
			memmove(pl->ip, pl->ip + 12, 4);
			memset(pl->ip + 4, 0, 12);
			pl->family = AF_INET;
			pl->bits -= 96;
		}
	}
	return 0;
}

const char *peer_place_str(const struct peer_place *pl, char *buf, size_t len)
{
	char    h[INET6_ADDRSTRLEN];

	if (pl->kind == PEER_PLACE_UID)
		snprintf(buf, len, "uid:%lu", pl->uid);
	else if (inet_ntop(pl->family, pl->ip, h, sizeof(h)) != NULL)
		snprintf(buf, len, "%s/%u", h, pl->bits);
	else
		snprintf(buf, len, "?");
	return buf;
}

int peer_accept_parse(const char *s)
{
	if (str_ieq(s, "local"))
		return PEER_ACCEPT_LOCAL;
	if (str_ieq(s, "peers"))
		return PEER_ACCEPT_PEERS;
	if (str_ieq(s, "any"))
		return PEER_ACCEPT_ANY;
	return -1;
}

const char *peer_accept_str(int accept)
{
	switch (accept) {
	case PEER_ACCEPT_PEERS:
		return "peers";
	case PEER_ACCEPT_ANY:
		return "any";
	default:
		return "local";
	}
}

void peer_src_of(struct ts_conn *c, const char *calling, struct peer_src *src)
{
	memset(src, 0, sizeof(*src));
	src->calling = calling ? calling : "";
	if (ts_peer_ip(c, &src->family, src->ip) == 0)
		src->kind = PEER_PLACE_IP;	/* lo_uid: looked up by the caller when needed */
	else if (ts_peer_uid(c, &src->uid) == 0)
		src->kind = PEER_PLACE_UID;
}

const char *peer_src_str(const struct peer_src *src, char *buf, size_t len)
{
	char    h[INET6_ADDRSTRLEN];

	if (src->kind == PEER_PLACE_UID)
		snprintf(buf, len, "uid:%lu", src->uid);
	else if (src->kind == PEER_PLACE_IP && inet_ntop(src->family, src->ip, h, sizeof(h)))
		snprintf(buf, len, "%s", h);
	else
		snprintf(buf, len, "-");
	return buf;
}

/* place_match - src within pl */
static int place_match(const struct peer_place *pl, const struct peer_src *src)
{
	unsigned full, rest;

	if (pl->kind != src->kind)
		return 0;
	if (pl->kind == PEER_PLACE_UID)
		return pl->uid == src->uid;
	if (pl->family != src->family)
		return 0;
	full = pl->bits / 8;
	rest = pl->bits % 8;
	if (memcmp(pl->ip, src->ip, full) != 0)
		return 0;
	if (rest != 0) {
		unsigned char m = (unsigned char) (0xFFu << (8 - rest));

		if ((pl->ip[full] & m) != (src->ip[full] & m))
			return 0;
	}
	return 1;
}

/* from_match - src is one of p's places: a from, or a via with the
 * calling address the gateway passed on */
static int from_match(const struct conf_peer *p, const struct peer_src *src)
{
	size_t  i;

	for (i = 0; i < p->nfrom; i++)
		if (place_match(&p->from[i], src))
			return 1;
	for (i = 0; i < p->nvia; i++)
		if (place_match(&p->via[i].gw, src) && str_ieq(p->via[i].calling, src->calling))
			return 1;
	return 0;
}

int peer_is_gateway(const struct conf *c, const struct peer_src *src)
{
	for (size_t i = 0; i < c->npeers; i++)
		for (size_t k = 0; k < c->peers[i].nvia; k++)
			if (place_match(&c->peers[i].via[k].gw, src))
				return 1;
	return 0;
}

int peer_via_known(const struct conf *c, const struct peer_src *src)
{
	for (size_t i = 0; i < c->npeers; i++)
		for (size_t k = 0; k < c->peers[i].nvia; k++)
			if (place_match(&c->peers[i].via[k].gw, src)
			    && str_ieq(c->peers[i].via[k].calling, src->calling))
				return 1;
	return 0;
}

int peer_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t  i;

	/* as long as the longer: no early exit on length or content */
	for (i = 0; i < alen || i < blen; i++)
		d |= (unsigned char) ((i < alen ? x[i] : 0) ^ (i < blen ? y[i] : 0xFF));
	return d == 0 && alen == blen;
}

enum peer_how peer_identify(const struct conf *c, const struct peer_src *src,
	const char *user, const char *password, const struct conf_peer **who,
	char *why, size_t len)
{
	const struct conf_peer *p = NULL;
	char    sb[64];
	size_t  i;

	*who = NULL;
	if (user != NULL && *user != '\0') {
		for (i = 0; i < c->npeers; i++)
			if (c->peers[i].username != NULL && strcmp(c->peers[i].username, user) == 0) {
				p = &c->peers[i];
				break;
			}
		if (p == NULL || p->password == NULL) {
			/* the same work as a wrong password: no hint which it was */
			(void) peer_equal(password ? password : "", password ? strlen(password) : 0,
			    "", 0);
			snprintf(why, len, "unknown username (from %s)", peer_src_str(src, sb,
			    sizeof(sb)));
			return PEER_REFUSED;
		}
		if (password == NULL || !peer_equal(password, strlen(password), p->password,
		    p->password_len)) {
			snprintf(why, len, "wrong password for peer %s (from %s)", p->name,
			    peer_src_str(src, sb, sizeof(sb)));
			return PEER_REFUSED;
		}
		if ((p->nfrom > 0 || p->nvia > 0) && !from_match(p, src)) {
			snprintf(why, len, "peer %s may not call from %s%s%s", p->name,
			    peer_src_str(src, sb, sizeof(sb)), *src->calling ? " as " : "",
			    src->calling);
			return PEER_REFUSED;
		}
		*who = p;
		return PEER_BY_PASSWORD;
	}
	for (i = 0; i < c->npeers; i++) {
		p = &c->peers[i];
		if (p->username == NULL && from_match(p, src)) {
			*who = p;
			return PEER_BY_ADDRESS;
		}
	}
	return PEER_UNAUTH;
}

void peer_ident(const struct conf_peer *who, const struct peer_src *src, char *buf, size_t len)
{
	char    a[INET6_ADDRSTRLEN];

	if (who != NULL) {
		snprintf(buf, len, "peer:%s", who->name);
		return;
	}
	if (src->kind == PEER_PLACE_IP && src->family == AF_INET6) {
		unsigned char net[16];

		/* one identity per /64: a host has the rest to choose from */
		memcpy(net, src->ip, 8);
		memset(net + 8, 0, 8);
		if (inet_ntop(AF_INET6, net, a, sizeof(a)) != NULL) {
			snprintf(buf, len, "anon:%s/64", a);
			return;
		}
	}
	snprintf(buf, len, "anon:%s", peer_src_str(src, a, sizeof(a)));
}

const struct conf_peer *peer_find(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->npeers; i++)
		if (str_ieq(c->peers[i].name, name))
			return &c->peers[i];
	return NULL;
}

const struct conf_peer *peer_for_hop(const struct conf *c, const char *hop, const char *addr)
{
	const struct conf_peer *p;

	if (hop == NULL || (addr != NULL && strncmp(addr, "rawtcp:", 7) == 0))
		return NULL;
	if ((p = peer_find(c, hop)) == NULL || p->username == NULL || p->password == NULL)
		return NULL;
	return p;
}

char *peer_read_password(const char *path, size_t *len, char *why, size_t wlen)
{
	struct stat st;
	char    b[PEER_PASS_MAX + 2];
	ssize_t n;
	size_t  k;
	int     fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) < 0) {
		int     e = errno;

		snprintf(why, wlen, "cannot open '%s': %s", path, strerror(e));
		errno = e;		/* EACCES: conf_load tells another user apart */
		return NULL;
	}
	errno = EINVAL;		/* any failure below: not EACCES */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, wlen, "'%s' is not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, wlen, "'%s' may be read or written by others (mode %03o): "
		    "chmod 600 '%s'", path, (unsigned) (st.st_mode & 0777), path);
		close(fd);
		return NULL;
	}
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n < 0) {
		snprintf(why, wlen, "cannot read '%s': %s", path, strerror(errno));
		errno = EIO;
		return NULL;
	}
	errno = EINVAL;
	b[n] = '\0';
	for (k = 0; k < (size_t) n && b[k] != '\r' && b[k] != '\n'; k++)
		;
	if (memchr(b, '\0', k) != NULL) {
		/* it would cut the password short without a word */
		snprintf(why, wlen, "'%s': a NUL octet in the password", path);
		return NULL;
	}
	if (k > PEER_PASS_MAX || (b[k] == '\0' && (size_t) n > PEER_PASS_MAX)) {
		snprintf(why, wlen, "'%s': a password longer than %d octets", path, PEER_PASS_MAX);
		return NULL;
	}
	b[k] = '\0';
	if (k == 0) {
		snprintf(why, wlen, "'%s' holds no password (its first line is empty)", path);
		return NULL;
	}
	if (k > 255) {
		snprintf(why, wlen, "'%s': a password longer than 255 octets (NIFTP carries "
		    "at most 255)", path);
		return NULL;
	}
	*len = k;
	return xstrndup(b, k);
}

/* rcpt_local - a recipient whose address names this node (its host is
 * ours, or it has none) and routes through no one else: no '%', '!' or
 * '@' in its local part (a source route) */
static int rcpt_local(const struct route_table *t, const struct addr *a)
{
	const char *host = addr_host(a), *local = addr_local(a);
	const struct route_hop *hop;

	if (strpbrk(local, "%!@") != NULL)
		return 0;
	if (host == NULL || *host == '\0' || route_table_is_local(t, host))
		return 1;
	/* a host the route table gives to the local channel is this node too */
	hop = route_table_lookup(t, host, NULL);
	return hop != NULL && hop->nalts > 0 && hop->alts[0].channel == ROUTE_CH_LOCAL;
}

/* peer_mailbox_known - see peer.h. Asked in the call so that an
 * unknown user is refused there and never bounced to a sender an
 * unauthenticated caller may have forged. */
int peer_mailbox_known(const struct conf *c, const char *mailbox)
{
	char    md[CONF_PATH_MAX];
	struct stat st;
	size_t  n;

	if (route_table_user_known(c->routes, mailbox))
		return 1;
	n = conf_maildir(c, mailbox, md, sizeof(md));
	if (n >= sizeof(md))
		return 1;		/* the channel decides */
	while (n > 1 && md[n - 1] == '/')
		md[--n] = '\0';
	return stat(md, &st) == 0 || errno != ENOENT;
}

int peer_relay_check(const struct conf *c, const struct addr_list *al, unsigned via,
	int accept, char *why, size_t len)
{
	const struct route_table *t = c->routes;
	size_t  i, k;

	if (accept == PEER_ACCEPT_ANY)
		return 0;
	for (i = 0; i < addr_list_count(al); i++) {
		const struct addr *a = addr_list_get(al, i);
		struct route_result *r;
		char   *text;

		if (accept == PEER_ACCEPT_PEERS || !rcpt_local(t, a)) {
			text = addr_to_str(a);
			snprintf(why, len, "relaying denied: %.200s is not a recipient here, and "
			    "the caller is not an authenticated peer (accept=%s)", text,
			    peer_accept_str(accept));
			free(text);
			return PEER_DENIED;
		}
		/* a local name (an alias, a list) may lead on: the operator's */
		r = route_resolve(t, a, via);
		for (k = 0; k < route_result_count(r); k++) {
			const struct route_target *tg = route_result_get(r, k);

			if (tg->kind == ROUTE_FAIL && tg->owner == NULL) {
				text = addr_to_str(a);
				snprintf(why, len, "recipient %.200s: %.200s", text,
				    tg->reason ? tg->reason : "undeliverable");
				free(text);
				route_result_free(r);
				return PEER_BADRCPT;
			}
			if (tg->kind == ROUTE_LOCAL && tg->owner == NULL && tg->mailbox != NULL
			    && !peer_mailbox_known(c, tg->mailbox)) {
				text = addr_to_str(a);
				snprintf(why, len, "recipient %.200s: unknown user (not a configured "
				    "user and no mailbox)", text);
				free(text);
				route_result_free(r);
				return PEER_BADRCPT;
			}
		}
		route_result_free(r);
	}
	return 0;
}

int peer_ready(const struct conf *c, char *why, size_t len)
{
	for (size_t i = 0; i < c->npeers; i++)
		if (c->peers[i].username != NULL && c->peers[i].password == NULL) {
			snprintf(why, len, "[peer %s]: cannot read its password_file '%s' "
			    "(it must be readable by this user: %s)", c->peers[i].name,
			    c->peers[i].password_file ? c->peers[i].password_file : "?",
			    strerror(EACCES));
			return -1;
		}
	return 0;
}
