/*++
 * NAME
 *	fuzz_peer 1
 * SUMMARY
 *	libFuzzer target: peer places, accept=, and who a caller is
 *	(relay/peer.h)
 * SYNOPSIS
 *	build-fuzz/fuzz_peer [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The input is split at NUL octets into up to six fields: a place
 *	("192.0.2.0/24", "uid:0"), an accept value, a username, a password,
 *	a calling address (also read as an address list), and the octets of
 *	a call's source (kind, family, address, uid). A missing username or
 *	password field is NULL (no value), as the engine passes it.
 *
 *	Checks. peer_place_parse(): a place it takes is of a known kind
 *	with a prefix length that fits its family, and its text
 *	(peer_place_str) parses back to the same place; a refusal says
 *	why. peer_accept_parse(): -1 or a value whose name equals the
 *	input ignoring case. peer_identify() against a fixed configuration
 *	(loaded once: password peers with and without from and via,
 *	address-only peers by from and by via): a caller identified by
 *	password gave exactly that peer's username and password, one by
 *	address gave no username and matches a peer without a password, a
 *	refused caller gave a username and is told why, an unauthenticated
 *	one gave none; peer_ident() is "peer:NAME" exactly for an
 *	identified caller, else "anon:...", and fits its buffer.
 *	peer_equal() agrees with memcmp(). peer_relay_check() of the
 *	calling field as an address list answers 0 under accept=any,
 *	refuses every non-empty list under accept=peers, and gives a
 *	reason with every refusal. Finally a small configuration with the
 *	place in a [peer] from and the accept value on a listener is
 *	loaded: it fails exactly when it reports errors.
 *--*/
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "relay/conf.h"
#include "relay/peer.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS		6
#define FIELD_MAX	2048	/* octets of one field looked at */

static char dir[64];
static struct conf *fixed;

/* put - write text to dir/name with mode 0600 */
static void put(const char *name, const char *text)
{
	char    path[128];
	FILE   *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) < 0 || fclose(fp) != 0
	    || chmod(path, 0600) < 0)
		abort();
}

static void cleanup(void)
{
	static const char *const names[] = { "ucl.pw", "pss.pw", "janet.pw", "t.ini",
		"mail/linington", "mail" };
	char    path[128];

	conf_free(fixed);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) < 0)
			(void) rmdir(path);
	}
	(void) rmdir(dir);
}

/* setup - the fixed configuration, once */
static void setup(void)
{
	char    path[128], ini[2048];
	struct buf errs = BUF_INIT(1 << 16);
	unsigned ne = 0;

	snprintf(dir, sizeof(dir), "/tmp/fuzz_peer.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	put("ucl.pw", "ucl-secret\n");
	put("pss.pw", "pss-secret\r\n");
	put("janet.pw", "janet secret; # x\n");
	snprintf(path, sizeof(path), "%s/mail", dir);
	if (mkdir(path, 0700) < 0)
		abort();
	snprintf(ini, sizeof(ini),
	    "[node]\nname = cam\nspool = %s/spool\n"
	    "[routes]\nfar = niftp tcp:127.0.0.1:9\nucl = niftp tcp:127.0.0.1:10\n"
	    "pss = niftp tcp:127.0.0.1:11\njanet = niftp tcp:127.0.0.1:12\n"
	    "[peer ucl]\nusername = ucl-user\npassword_file = %s/ucl.pw\n"
	    "[peer pss]\nusername = pss-user\npassword_file = %s/pss.pw\n"
	    "from = 192.0.2.0/24, 2001:db8::/32, uid:1000\n"
	    "[peer janet]\nusername = janet-user\npassword_file = %s/janet.pw\n"
	    "via = 10.0.0.1 ucl.gw\n"
	    "[peer raw]\nfrom = 198.51.100.0/25, uid:0\n"
	    "[peer rawgw]\nvia = 10.0.0.0/8 raw.gw\n"
	    "[local]\nnames = cam\nmaildir = %s/mail/%%u/\nusers = linington\n"
	    "[aliases]\npostmaster = linington\nfwd = x@far\n"
	    "[lists]\nstaff = linington, y@far, ghost\nstaff.owner = linington@cam\n",
	    dir, dir, dir, dir, dir);
	put("t.ini", ini);
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	fixed = conf_load(path, &errs, &ne, NULL);
	if (fixed == NULL || fixed->npeers != 5) {
		fprintf(stderr, "fuzz_peer: the fixed configuration does not load:\n%s\n",
		    errs.len ? buf_cstr(&errs) : "");
		abort();
	}
	buf_release(&errs);
	atexit(cleanup);
}

/* check_place - peer_place_parse() and its round trip */
static void check_place(const char *s)
{
	struct peer_place pl, back;
	char    why[128], text[128];

	why[0] = '\0';
	if (peer_place_parse(s, &pl, why, sizeof(why)) < 0) {
		if (why[0] == '\0' || strlen(why) >= sizeof(why))
			abort();
		return;
	}
	if (pl.kind == PEER_PLACE_UID) {
		if (pl.uid > 0xFFFFFFFEul)
			abort();
	} else if (pl.kind == PEER_PLACE_IP) {
		if (!(pl.family == AF_INET && pl.bits <= 32)
		    && !(pl.family == AF_INET6 && pl.bits <= 128))
			abort();
	} else
		abort();
	peer_place_str(&pl, text, sizeof(text));
	if (peer_place_parse(text, &back, why, sizeof(why)) < 0)
		abort();
	if (back.kind != pl.kind || back.uid != pl.uid || back.family != pl.family
	    || back.bits != pl.bits || memcmp(back.ip, pl.ip, sizeof(pl.ip)) != 0)
		abort();
}

static void check_accept(const char *s)
{
	int     a = peer_accept_parse(s);

	if (a == -1)
		return;
	if (a != PEER_ACCEPT_LOCAL && a != PEER_ACCEPT_PEERS && a != PEER_ACCEPT_ANY)
		abort();
	if (strcasecmp(peer_accept_str(a), s) != 0)
		abort();
}

/* mksrc - a call's source from octets: kind, family, 16 address octets,
 * 4 uid octets (missing ones are zero) */
static void mksrc(const unsigned char *p, size_t n, const char *calling, struct peer_src *src)
{
	unsigned char b[22];

	memset(b, 0, sizeof(b));
	memcpy(b, p, n < sizeof(b) ? n : sizeof(b));
	memset(src, 0, sizeof(*src));
	src->calling = calling;
	switch (b[0] % 3) {
	case 0:
		src->kind = 0;
		break;
	case 1:
		src->kind = PEER_PLACE_IP;
		src->family = (b[1] & 1) ? AF_INET6 : AF_INET;
		memcpy(src->ip, b + 2, 16);
		if (b[1] & 2) {		/* aim at the configured places */
			static const unsigned char v4[][4] = { { 192, 0, 2, 0 }, { 10, 0, 0, 1 },
				{ 198, 51, 100, 0 } };

			src->family = AF_INET;
			memcpy(src->ip, v4[b[1] / 4 % 3], 4);
			src->ip[3] |= b[2] & 0x7F;
		}
		break;
	default:
		src->kind = PEER_PLACE_UID;
		src->uid = (unsigned long) b[18] | (unsigned long) b[19] << 8
		    | (unsigned long) b[20] << 16 | (unsigned long) b[21] << 24;
		if (b[1] & 2)
			src->uid = (b[1] & 4) ? 1000 : 0;
		break;
	}
}

static void check_identify(const char *user, const char *password, const struct peer_src *src)
{
	const struct conf_peer *who = NULL;
	char    why[400], ident[PEER_IDENT_MAX], sb[64];
	enum peer_how how;
	int     has_user = user != NULL && *user != '\0';

	why[0] = '\0';
	how = peer_identify(fixed, src, user, password, &who, why, sizeof(why));
	switch (how) {
	case PEER_BY_PASSWORD:
		if (!has_user || who == NULL || who->username == NULL || who->password == NULL
		    || password == NULL || strcmp(user, who->username) != 0
		    || strlen(password) != who->password_len
		    || memcmp(password, who->password, who->password_len) != 0)
			abort();
		break;
	case PEER_BY_ADDRESS:
		if (has_user || who == NULL || who->password != NULL)
			abort();
		break;
	case PEER_REFUSED:
		if (!has_user || who != NULL || why[0] == '\0')
			abort();
		break;
	case PEER_UNAUTH:
		if (has_user || who != NULL)
			abort();
		break;
	default:
		abort();
	}
	peer_ident(who, src, ident, sizeof(ident));
	if (strlen(ident) >= sizeof(ident))
		abort();
	if (who != NULL && (strncmp(ident, "peer:", 5) != 0 || strcmp(ident + 5, who->name) != 0))
		abort();
	if (who == NULL && strncmp(ident, "anon:", 5) != 0)
		abort();
	peer_src_str(src, sb, sizeof(sb));
	if (sb[0] == '\0')
		abort();
}

static void check_equal(const char *a, const char *b)
{
	size_t  al = strlen(a), bl = strlen(b);
	int     want = al == bl && memcmp(a, b, al) == 0;

	if (peer_equal(a, al, b, bl) != want || peer_equal(b, bl, a, al) != want)
		abort();
	if (!peer_equal(a, al, a, al))
		abort();
}

static void check_relay(const char *text)
{
	struct addr_list *al = addr_list_parse(text, strlen(text), NULL, 0);
	char    why[300];
	int     r;

	if (al == NULL)
		return;
	for (int acc = PEER_ACCEPT_LOCAL; acc <= PEER_ACCEPT_ANY; acc++) {
		why[0] = '\0';
		r = peer_relay_check(fixed, al, 0, acc, why, sizeof(why));
		if (r != 0 && r != PEER_DENIED && r != PEER_BADRCPT)
			abort();
		if (acc == PEER_ACCEPT_ANY && r != 0)
			abort();
		if (acc == PEER_ACCEPT_PEERS && addr_list_count(al) > 0 && r != PEER_DENIED)
			abort();
		if (r != 0 && why[0] == '\0')
			abort();
	}
	addr_list_free(al);
}

/* check_conf - place and accept in a small configuration of their own */
static void check_conf(const char *place, const char *accept)
{
	struct buf errs = BUF_INIT(1 << 16);
	char    path[64];
	unsigned ne = 0;
	struct conf *c;
	FILE   *fp;
	int     fd;

	if ((fd = memfd_create("fuzz_peer", MFD_CLOEXEC)) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	fprintf(fp, "[node]\nname = cam\nspool = /nonexistent/spool\n"
	    "[listen]\nmail = tcp:127.0.0.1:1 accept=%s\naccept = %s\n"
	    "[peer x]\nfrom = %s\nvia = %s x.gw\n"
	    "[peer y]\nusername = y\npassword_file = %s/ucl.pw\nfrom = %s\n",
	    accept, accept, place, place, dir, place);
	if (fclose(fp) != 0)
		abort();
	c = conf_load(path, &errs, &ne, NULL);
	if ((c == NULL) != (ne > 0))
		abort();
	if (c != NULL) {
		for (size_t i = 0; i < c->npeers; i++)
			if (c->peers[i].name == NULL
			    || (c->peers[i].username != NULL && c->peers[i].password == NULL))
				abort();
		for (size_t i = 0; i < c->nlisten; i++)
			if (c->listen_accept[i] < PEER_ACCEPT_LOCAL
			    || c->listen_accept[i] > PEER_ACCEPT_ANY)
				abort();
	}
	conf_free(c);
	buf_release(&errs);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char   *f[FIELDS];
	size_t  flen[FIELDS], nf = 0, start = 0;

	if (fixed == NULL)
		setup();
	memset(f, 0, sizeof(f));
	memset(flen, 0, sizeof(flen));
	for (size_t i = 0; i <= size && nf < FIELDS; i++) {
		if (i == size || data[i] == '\0' || nf == FIELDS - 1) {
			/* the last field (source octets) takes the rest, NULs included */
			size_t  end = nf == FIELDS - 1 ? size : i, n = end - start;

			if (n > FIELD_MAX)
				n = FIELD_MAX;
			f[nf] = malloc(n + 1);
			if (f[nf] == NULL)
				abort();
			memcpy(f[nf], data + start, n);
			f[nf][n] = '\0';
			flen[nf] = n;
			nf++;
			start = i + 1;
			if (end == size)
				break;
		}
	}
	check_place(f[0] ? f[0] : "");
	check_accept(f[1] ? f[1] : "");
	{
		struct peer_src src;

		mksrc((const unsigned char *) (f[5] ? f[5] : ""), flen[5], f[4] ? f[4] : "", &src);
		check_identify(f[2], f[3], &src);
		/* the same source with the fixed peers' own credentials */
		check_identify("ucl-user", "ucl-secret", &src);
		check_identify("pss-user", f[3] ? f[3] : "pss-secret", &src);
		check_identify(NULL, NULL, &src);
	}
	check_equal(f[3] ? f[3] : "", f[2] ? f[2] : "");
	check_relay(f[4] ? f[4] : "");
	if (f[0] != NULL && f[1] != NULL && strpbrk(f[0], "\r\n") == NULL
	    && strpbrk(f[1], "\r\n") == NULL && flen[0] < 200 && flen[1] < 200)
		check_conf(f[0], f[1]);
	for (size_t i = 0; i < FIELDS; i++)
		free(f[i]);
	return 0;
}
