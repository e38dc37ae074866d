/*++
 * NAME
 *	test_peer 1
 * SUMMARY
 *	CUnit tests of relay/peer: places, who a caller is, relay rules,
 *	and the [peer NAME] sections of a configuration
 * SYNOPSIS
 *	build/tests/test_peer
 * DESCRIPTION
 *	Runs in a fresh temporary directory (so messages read "t.ini:N:").
 *	Tables of places (IP prefixes, uid:N) that parse and that do not,
 *	each with its reason; then a node configuration with five peers
 *	(password peers with and without from and via, address-only peers
 *	by from and by via) loaded with conf_load(), against which a table
 *	of callers is identified (source, calling address, username,
 *	password) with the outcome, the peer and the logged reason; the
 *	identity texts; peer_equal() at every length; password files; the
 *	relay rule of an unauthenticated caller for local, remote, %-routed,
 *	unknown and listed recipients under each accept; and bad [peer]
 *	and [listen] sections with their diagnostics.
 *--*/
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/addr.h"
#include "relay/conf.h"
#include "relay/peer.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"

static char tmpdir[256];
static char oldcwd[4096];

static int setup(void)
{
	if (tl_tmpdir(tmpdir, sizeof(tmpdir), "test_peer") < 0
	    || getcwd(oldcwd, sizeof(oldcwd)) == NULL || chdir(tmpdir) < 0)
		return -1;
	return 0;
}

static int teardown(void)
{
	if (chdir(oldcwd) < 0)
		return -1;
	return tl_rmtree(tmpdir);
}

/* put_file - write text to path with mode */
static void put_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	if (tl_write_file(path, text) < 0 || chmod(path, mode) < 0)
		abort();
}

/* load - write text to t.ini and load it; diagnostics into *diag (new) */
static struct conf *load(const char *text, char **diag, unsigned *ne, unsigned *nw)
{
	struct buf errs = BUF_INIT(1 << 20);
	struct conf *c;

	if (tl_write_file("t.ini", text) < 0)
		abort();
	c = conf_load("t.ini", &errs, ne, nw);
	*diag = xstrdup(errs.len ? buf_cstr(&errs) : "");
	buf_release(&errs);
	return c;
}

/* --- places ---------------------------------------------------------------- */

static void test_place_good(void)
{
	static const struct {
		const char *in;
		int	kind, family;
		unsigned bits;
		unsigned long uid;
		const char *str;	/* peer_place_str */
	} t[] = {
		{ "192.0.2.0/24", PEER_PLACE_IP, AF_INET, 24, 0, "192.0.2.0/24" },
		{ "127.0.0.1", PEER_PLACE_IP, AF_INET, 32, 0, "127.0.0.1/32" },
		{ "10.1.2.3/32", PEER_PLACE_IP, AF_INET, 32, 0, "10.1.2.3/32" },
		{ "0.0.0.0/0", PEER_PLACE_IP, AF_INET, 0, 0, "0.0.0.0/0" },
		{ "10.0.0.0/9", PEER_PLACE_IP, AF_INET, 9, 0, "10.0.0.0/9" },
		{ "::1", PEER_PLACE_IP, AF_INET6, 128, 0, "::1/128" },
		{ "2001:db8::/32", PEER_PLACE_IP, AF_INET6, 32, 0, "2001:db8::/32" },
		{ "::/0", PEER_PLACE_IP, AF_INET6, 0, 0, "::/0" },
		/* a v4-mapped address is the IPv4 one (callers are unmapped too) */
		{ "::ffff:192.0.2.1", PEER_PLACE_IP, AF_INET, 32, 0, "192.0.2.1/32" },
		{ "uid:0", PEER_PLACE_UID, 0, 0, 0, "uid:0" },
		{ "uid:1000", PEER_PLACE_UID, 0, 0, 1000, "uid:1000" },
		{ "uid:4294967294", PEER_PLACE_UID, 0, 0, 4294967294ul, "uid:4294967294" },
		{ "uid:root", PEER_PLACE_UID, 0, 0, 0, "uid:0" },
	};

	for (size_t i = 0; i < NELEM(t); i++) {
		struct peer_place pl;
		char    why[200] = "", s[80];

		memset(&pl, 0xAA, sizeof(pl));
		if (peer_place_parse(t[i].in, &pl, why, sizeof(why)) != 0)
			fprintf(stderr, "\nplace '%s': refused: %s\n", t[i].in, why);
		EXPECT_INT(peer_place_parse(t[i].in, &pl, why, sizeof(why)), 0);
		EXPECT_INT(pl.kind, t[i].kind);
		if (t[i].kind == PEER_PLACE_IP) {
			EXPECT_INT(pl.family, t[i].family);
			EXPECT_INT(pl.bits, t[i].bits);
		} else
			EXPECT_INT(pl.uid, t[i].uid);
		EXPECT_STR(peer_place_str(&pl, s, sizeof(s)), t[i].str);
	}
	{
		struct peer_place pl;
		char    why[200];
		unsigned char want[4] = { 192, 0, 2, 0 };

		CU_ASSERT_FATAL(peer_place_parse("192.0.2.0/24", &pl, why, sizeof(why)) == 0);
		EXPECT_BYTES(pl.ip, 4, want, 4);
	}
}

static void test_place_bad(void)
{
	static const struct {
		const char *in;
		const char *why;
	} t[] = {
		{ "1.2.3.4/33", "bad prefix length in '1.2.3.4/33'" },
		{ "::1/129", "bad prefix length in '::1/129'" },
		{ "1.2.3.4/", "bad prefix length in '1.2.3.4/'" },
		{ "1.2.3.4/x", "bad prefix length in '1.2.3.4/x'" },
		{ "1.2.3.4/-1", "bad prefix length in '1.2.3.4/-1'" },
		{ "1.2.3.4/+8", "bad prefix length in '1.2.3.4/+8'" },
		{ "1.2.3.4/8x", "bad prefix length in '1.2.3.4/8x'" },
		{ "1.2.3.4/99999999999999999999", "bad prefix length in "
		  "'1.2.3.4/99999999999999999999'" },
		{ "1.2.3.4/24/8", "bad prefix length in '1.2.3.4/24/8'" },
		{ "garbage", "bad address 'garbage' (want an IP prefix or uid:USER)" },
		{ "", "bad address '' (want an IP prefix or uid:USER)" },
		{ "/24", "bad address '/24' (want an IP prefix or uid:USER)" },
		{ "1.2.3", "bad address '1.2.3' (want an IP prefix or uid:USER)" },
		{ "1.2.3.4.5", "bad address '1.2.3.4.5' (want an IP prefix or uid:USER)" },
		{ "256.1.1.1", "bad address '256.1.1.1' (want an IP prefix or uid:USER)" },
		{ " 1.2.3.4", "bad address ' 1.2.3.4' (want an IP prefix or uid:USER)" },
		{ "localhost", "bad address 'localhost' (want an IP prefix or uid:USER)" },
		{ "[::1]", "bad address '[::1]' (want an IP prefix or uid:USER)" },
		{ "fe80::1%lo", "bad address 'fe80::1%lo' (want an IP prefix or uid:USER)" },
		{ "uid:", "no such user ''" },
		{ "uid:12x", "bad user id '12x'" },
		{ "uid:4294967295", "bad user id '4294967295'" },
		{ "uid:99999999999999999999999", "bad user id '99999999999999999999999'" },
		{ "uid:-1", "no such user '-1'" },
		{ "uid:no-such-user-here", "no such user 'no-such-user-here'" },
		{ "UID:0", "bad address 'UID:0' (want an IP prefix or uid:USER)" },
	};

	for (size_t i = 0; i < NELEM(t); i++) {
		struct peer_place pl;
		char    why[200] = "";

		if (peer_place_parse(t[i].in, &pl, why, sizeof(why)) != -1)
			fprintf(stderr, "\nplace '%s': accepted, want refused\n", t[i].in);
		EXPECT_INT(peer_place_parse(t[i].in, &pl, why, sizeof(why)), -1);
		EXPECT_STR(why, t[i].why);
	}
	/* a long one: the reason is cut, never overruns */
	{
		char    in[600], why[40];
		struct peer_place pl;

		memset(in, '9', sizeof(in) - 1);
		in[sizeof(in) - 1] = '\0';
		EXPECT_INT(peer_place_parse(in, &pl, why, sizeof(why)), -1);
		EXPECT_INT(strlen(why), sizeof(why) - 1);
	}
}

static void test_accept(void)
{
	EXPECT_INT(peer_accept_parse("peers"), PEER_ACCEPT_PEERS);
	EXPECT_INT(peer_accept_parse("local"), PEER_ACCEPT_LOCAL);
	EXPECT_INT(peer_accept_parse("any"), PEER_ACCEPT_ANY);
	EXPECT_INT(peer_accept_parse("LOCAL"), PEER_ACCEPT_LOCAL);
	EXPECT_INT(peer_accept_parse("Any"), PEER_ACCEPT_ANY);
	EXPECT_INT(peer_accept_parse(""), -1);
	EXPECT_INT(peer_accept_parse("all"), -1);
	EXPECT_INT(peer_accept_parse("local "), -1);
	EXPECT_INT(peer_accept_parse("peer"), -1);
	EXPECT_STR(peer_accept_str(PEER_ACCEPT_PEERS), "peers");
	EXPECT_STR(peer_accept_str(PEER_ACCEPT_LOCAL), "local");
	EXPECT_STR(peer_accept_str(PEER_ACCEPT_ANY), "any");
}

/* --- peer_equal ----------------------------------------------------------- */

static void test_equal(void)
{
	EXPECT_INT(peer_equal("secret", 6, "secret", 6), 1);
	EXPECT_INT(peer_equal("", 0, "", 0), 1);
	EXPECT_INT(peer_equal("secret", 6, "secreT", 6), 0);
	EXPECT_INT(peer_equal("secret", 6, "Secret", 6), 0);
	EXPECT_INT(peer_equal("secret", 6, "secre", 5), 0);
	EXPECT_INT(peer_equal("secre", 5, "secret", 6), 0);
	EXPECT_INT(peer_equal("", 0, "x", 1), 0);
	EXPECT_INT(peer_equal("x", 1, "", 0), 0);
	/* the longer side's tail counts, NUL octets included: "a\0" is not "a" */
	EXPECT_INT(peer_equal("a\0", 2, "a", 1), 0);
	EXPECT_INT(peer_equal("a", 1, "a\0", 2), 0);
	EXPECT_INT(peer_equal("a\0b", 3, "a\0b", 3), 1);
	EXPECT_INT(peer_equal("a\0b", 3, "a\0c", 3), 0);
	/* 0xFF pads the shorter side: a tail of 0xFF octets does not pass */
	EXPECT_INT(peer_equal("a\xff", 2, "a", 1), 0);
	EXPECT_INT(peer_equal("a", 1, "a\xff", 2), 0);
	EXPECT_INT(peer_equal("a", 1, "a\xff\xff", 3), 0);
	/* every single-bit difference at every position of a 255-octet password */
	{
		char    a[255], b[255];
		int     all = 1;

		for (size_t i = 0; i < sizeof(a); i++)
			a[i] = (char) ('!' + i % 90);
		memcpy(b, a, sizeof(b));
		EXPECT_INT(peer_equal(a, sizeof(a), b, sizeof(b)), 1);
		for (size_t i = 0; i < sizeof(a); i++)
			for (int bit = 0; bit < 8; bit++) {
				b[i] = (char) (a[i] ^ (1 << bit));
				if (peer_equal(a, sizeof(a), b, sizeof(b)))
					all = 0;
				b[i] = a[i];
			}
		EXPECT_INT(all, 1);
	}
}

/* --- password files -------------------------------------------------------- */

static void test_password_file(void)
{
	char    why[600], *pw, big[1100];
	size_t  len = 0;

	put_file("p1", "sekrit\nsecond line\n", 0600);
	pw = peer_read_password("p1", &len, why, sizeof(why));
	EXPECT_STR(pw, "sekrit");
	EXPECT_INT(len, 6);
	free(pw);
	put_file("p1", "crlf\r\n", 0400);
	pw = peer_read_password("p1", &len, why, sizeof(why));
	EXPECT_STR(pw, "crlf");
	EXPECT_INT(len, 4);
	free(pw);
	put_file("p1", "no newline; # kept", 0600);
	pw = peer_read_password("p1", &len, why, sizeof(why));
	EXPECT_STR(pw, "no newline; # kept");
	free(pw);

	put_file("p1", "sekrit\n", 0644);
	CU_ASSERT_PTR_NULL(peer_read_password("p1", &len, why, sizeof(why)));
	EXPECT_STR(why, "'p1' may be read or written by others (mode 644): chmod 600 'p1'");
	put_file("p1", "sekrit\n", 0620);
	CU_ASSERT_PTR_NULL(peer_read_password("p1", &len, why, sizeof(why)));
	EXPECT_HAS(why, "chmod 600 'p1'");
	put_file("p1", "\nsekrit\n", 0600);
	CU_ASSERT_PTR_NULL(peer_read_password("p1", &len, why, sizeof(why)));
	EXPECT_STR(why, "'p1' holds no password (its first line is empty)");
	put_file("p1", "", 0600);
	CU_ASSERT_PTR_NULL(peer_read_password("p1", &len, why, sizeof(why)));
	EXPECT_HAS(why, "holds no password");

	memset(big, 'x', 256);
	big[256] = '\n';
	big[257] = '\0';
	put_file("p1", big, 0600);
	CU_ASSERT_PTR_NULL(peer_read_password("p1", &len, why, sizeof(why)));
	EXPECT_STR(why, "'p1': a password longer than 255 octets (NIFTP carries at most 255)");
	big[255] = '\n';
	big[256] = '\0';
	put_file("p1", big, 0600);
	pw = peer_read_password("p1", &len, why, sizeof(why));
	EXPECT_INT(len, 255);
	CU_ASSERT_PTR_NOT_NULL(pw);
	free(pw);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_file("p1", big, 0600);
	CU_ASSERT_PTR_NULL(peer_read_password("p1", &len, why, sizeof(why)));
	EXPECT_STR(why, "'p1': a password longer than 1024 octets");

	CU_ASSERT_PTR_NULL(peer_read_password("nosuch", &len, why, sizeof(why)));
	EXPECT_STR(why, "cannot open 'nosuch': No such file or directory");
	put_file("p2", "sekrit\n", 0600);
	unlink("plink");
	CU_ASSERT_FATAL(symlink("p2", "plink") == 0);
	CU_ASSERT_PTR_NULL(peer_read_password("plink", &len, why, sizeof(why)));
	EXPECT_HAS(why, "cannot open 'plink': ");
	CU_ASSERT_FATAL(mkdir("pdir", 0700) == 0);
	CU_ASSERT_PTR_NULL(peer_read_password("pdir", &len, why, sizeof(why)));
	EXPECT_STR(why, "'pdir' is not a regular file");
	rmdir("pdir");
	unlink("plink");
}

/* --- a configuration with peers ---------------------------------------------- */

/*
 * ucl: a password peer that may call from anywhere; pss: from two
 * prefixes and a uid; janet: through two gateways; raw: address-only by
 * from; rawgw: address-only through a gateway. The maildir of "olduser"
 * exists (a user known by its mailbox, not in [local] users).
 */
static const char peers_ini[] =
	"[node]\n"
	"name = cam\n"
	"spool = spool\n"
	"[listen]\n"
	"mail = tcp:127.0.0.1:4521, tcp:127.0.0.1:4522 accept=any, "
	"tcp:127.0.0.1:4523 accept=peers\n"
	"accept = local\n"
	"[routes]\n"
	"far = niftp tcp:127.0.0.1:9\n"
	"ucl = niftp tcp:127.0.0.1:10\n"
	"pss = niftp tcp:127.0.0.1:11\n"
	"janet = niftp tcp:127.0.0.1:12\n"
	"raw = niftp rawtcp:127.0.0.1:13\n"
	"rawgw = niftp tcp:127.0.0.1:14\n"
	"[peer ucl]\n"
	"username = ucl-user\n"
	"password_file = ucl.pw\n"
	"[peer pss]\n"
	"username = pss-user\n"
	"password_file = pss.pw\n"
	"from = 192.0.2.0/24, 2001:db8:1::/48, uid:1000\n"
	"[peer janet]\n"
	"username = janet-user\n"
	"password_file = janet.pw\n"
	"via = 10.0.0.1 ucl.gw, 10.0.0.2 UCL.GW2\n"
	"[peer raw]\n"
	"from = 198.51.100.7\n"
	"[peer rawgw]\n"
	"via = 10.0.0.1 raw.gw\n"
	"[local]\n"
	"names = cam, cam.ac.uk\n"
	"maildir = mail/%u/\n"
	"users = linington\n"
	"[aliases]\n"
	"postmaster = linington\n"
	"fwd = someone@far\n"
	"ghost = nobody2\n"
	"[lists]\n"
	"staff = linington, x@far, nobody3\n"
	"staff.owner = linington@cam\n";

static struct conf *peer_conf(void)
{
	char   *diag;
	unsigned ne = 9, nw = 9;
	struct conf *c;

	put_file("ucl.pw", "ucl-secret\n", 0600);
	put_file("pss.pw", "pss-secret\r\n", 0600);
	put_file("janet.pw", "janet secret; with # marks\n", 0600);
	if (mkdir("mail", 0700) < 0 && errno != EEXIST)
		abort();
	if (mkdir("mail/olduser", 0700) < 0 && errno != EEXIST)
		abort();
	c = load(peers_ini, &diag, &ne, &nw);
	EXPECT_STR(diag, "");
	EXPECT_INT(ne, 0);
	EXPECT_INT(nw, 0);
	free(diag);
	return c;
}

static void test_peer_conf(void)
{
	struct conf *c = peer_conf();
	const struct conf_peer *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_INT(c->npeers, 5);
	EXPECT_INT(c->nlisten, 3);
	EXPECT_INT(c->listen_accept[0], PEER_ACCEPT_LOCAL);
	EXPECT_INT(c->listen_accept[1], PEER_ACCEPT_ANY);
	EXPECT_INT(c->listen_accept[2], PEER_ACCEPT_PEERS);
	p = peer_find(c, "UCL");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	EXPECT_STR(p->name, "ucl");
	EXPECT_STR(p->username, "ucl-user");
	EXPECT_STR(p->password, "ucl-secret");
	EXPECT_INT(p->password_len, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->password_file);
	EXPECT_INT(p->password_file[0], '/');
	EXPECT_INT(p->nfrom, 0);
	EXPECT_INT(p->nvia, 0);
	p = peer_find(c, "pss");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	EXPECT_STR(p->password, "pss-secret");
	EXPECT_INT(p->nfrom, 3);
	/* iniparser would cut a value at ';' and '#': passwords come from files */
	p = peer_find(c, "janet");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	EXPECT_STR(p->password, "janet secret; with # marks");
	EXPECT_INT(p->nvia, 2);
	EXPECT_STR(p->via[1].calling, "ucl.gw2");
	p = peer_find(c, "raw");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NULL(p->username);
	CU_ASSERT_PTR_NULL(p->password);
	EXPECT_INT(p->nfrom, 1);
	CU_ASSERT_PTR_NULL(peer_find(c, "nope"));

	/* credentials go only to a tcp:/unix: next hop named after a password peer */
	p = peer_for_hop(c, "ucl", "tcp:127.0.0.1:10");
	CU_ASSERT_PTR_NOT_NULL(p);
	if (p != NULL)
		EXPECT_STR(p->name, "ucl");
	CU_ASSERT_PTR_NOT_NULL(peer_for_hop(c, "ucl", NULL));
	CU_ASSERT_PTR_NULL(peer_for_hop(c, "ucl", "rawtcp:127.0.0.1:9"));
	CU_ASSERT_PTR_NULL(peer_for_hop(c, "raw", "tcp:127.0.0.1:9"));
	CU_ASSERT_PTR_NULL(peer_for_hop(c, "far", "tcp:127.0.0.1:9"));
	CU_ASSERT_PTR_NULL(peer_for_hop(c, NULL, "tcp:127.0.0.1:9"));
	conf_free(c);
}

/* mksrc - a source: "ip:ADDR", "uid:N" or "-" (none) */
static void mksrc(struct peer_src *src, const char *where, const char *calling)
{
	memset(src, 0, sizeof(*src));
	src->calling = calling;
	if (strncmp(where, "ip:", 3) == 0) {
		src->kind = PEER_PLACE_IP;
		if (inet_pton(AF_INET, where + 3, src->ip) == 1)
			src->family = AF_INET;
		else if (inet_pton(AF_INET6, where + 3, src->ip) == 1)
			src->family = AF_INET6;
		else
			abort();
	} else if (strncmp(where, "uid:", 4) == 0) {
		src->kind = PEER_PLACE_UID;
		src->uid = strtoul(where + 4, NULL, 10);
	}
}

static void test_identify(void)
{
	static const struct {
		const char *src, *calling, *user, *password;
		enum peer_how how;
		const char *who;	/* the peer, or NULL */
		const char *why;	/* REFUSED: the logged reason */
		const char *ident;	/* peer_ident() */
	} t[] = {
		/* a password peer without from: from anywhere, any calling address */
		{ "ip:203.0.113.5", "ucl", "ucl-user", "ucl-secret", PEER_BY_PASSWORD, "ucl", NULL,
		  "peer:ucl" },
		{ "ip:2001:db8:9::5", "", "ucl-user", "ucl-secret", PEER_BY_PASSWORD, "ucl", NULL,
		  "peer:ucl" },
		{ "uid:1234", "x", "ucl-user", "ucl-secret", PEER_BY_PASSWORD, "ucl", NULL,
		  "peer:ucl" },
		{ "-", "", "ucl-user", "ucl-secret", PEER_BY_PASSWORD, "ucl", NULL, "peer:ucl" },
		/* a calling address names no one: pss's calling with ucl's password is ucl */
		{ "ip:203.0.113.5", "pss", "ucl-user", "ucl-secret", PEER_BY_PASSWORD, "ucl", NULL,
		  "peer:ucl" },
		{ "ip:203.0.113.5", "ucl", "ucl-user", "wrong", PEER_REFUSED, NULL,
		  "wrong password for peer ucl (from 203.0.113.5)", "anon:203.0.113.5" },
		{ "ip:203.0.113.5", "ucl", "ucl-user", "ucl-secre", PEER_REFUSED, NULL,
		  "wrong password for peer ucl (from 203.0.113.5)", "anon:203.0.113.5" },
		{ "ip:203.0.113.5", "ucl", "ucl-user", "ucl-secret ", PEER_REFUSED, NULL,
		  "wrong password for peer ucl (from 203.0.113.5)", "anon:203.0.113.5" },
		{ "ip:203.0.113.5", "ucl", "ucl-user", "UCL-SECRET", PEER_REFUSED, NULL,
		  "wrong password for peer ucl (from 203.0.113.5)", "anon:203.0.113.5" },
		{ "ip:203.0.113.5", "ucl", "ucl-user", "", PEER_REFUSED, NULL,
		  "wrong password for peer ucl (from 203.0.113.5)", "anon:203.0.113.5" },
		{ "ip:203.0.113.5", "ucl", "ucl-user", NULL, PEER_REFUSED, NULL,
		  "wrong password for peer ucl (from 203.0.113.5)", "anon:203.0.113.5" },
		/* another peer's password is wrong for this username */
		{ "ip:192.0.2.1", "pss", "ucl-user", "pss-secret", PEER_REFUSED, NULL,
		  "wrong password for peer ucl (from 192.0.2.1)", "anon:192.0.2.1" },
		/* usernames: exact, an unknown one is refused (never unauthenticated) */
		{ "ip:203.0.113.5", "ucl", "UCL-USER", "ucl-secret", PEER_REFUSED, NULL,
		  "unknown username (from 203.0.113.5)", "anon:203.0.113.5" },
		{ "ip:203.0.113.5", "ucl", "mallory", "ucl-secret", PEER_REFUSED, NULL,
		  "unknown username (from 203.0.113.5)", "anon:203.0.113.5" },
		{ "ip:203.0.113.5", "ucl", "mallory", NULL, PEER_REFUSED, NULL,
		  "unknown username (from 203.0.113.5)", "anon:203.0.113.5" },
		/* an address-only peer has no username to give */
		{ "ip:198.51.100.7", "raw", "raw", "", PEER_REFUSED, NULL,
		  "unknown username (from 198.51.100.7)", "anon:198.51.100.7" },
		/* from: the right password from the wrong place is refused */
		{ "ip:192.0.2.77", "pss", "pss-user", "pss-secret", PEER_BY_PASSWORD, "pss", NULL,
		  "peer:pss" },
		{ "ip:192.0.2.0", "pss", "pss-user", "pss-secret", PEER_BY_PASSWORD, "pss", NULL,
		  "peer:pss" },
		{ "ip:192.0.2.255", "pss", "pss-user", "pss-secret", PEER_BY_PASSWORD, "pss", NULL,
		  "peer:pss" },
		{ "ip:192.0.3.1", "pss", "pss-user", "pss-secret", PEER_REFUSED, NULL,
		  "peer pss may not call from 192.0.3.1 as pss", "anon:192.0.3.1" },
		{ "ip:192.0.1.255", "", "pss-user", "pss-secret", PEER_REFUSED, NULL,
		  "peer pss may not call from 192.0.1.255", "anon:192.0.1.255" },
		{ "ip:2001:db8:1:ffff::9", "pss", "pss-user", "pss-secret", PEER_BY_PASSWORD, "pss",
		  NULL, "peer:pss" },
		{ "ip:2001:db8:2::9", "pss", "pss-user", "pss-secret", PEER_REFUSED, NULL,
		  "peer pss may not call from 2001:db8:2::9 as pss", "anon:2001:db8:2::/64" },
		/* a v4-mapped v6 source is not the v4 prefix */
		{ "ip:::ffff:192.0.2.1", "pss", "pss-user", "pss-secret", PEER_REFUSED, NULL,
		  "peer pss may not call from ::ffff:192.0.2.1 as pss", "anon:::/64" },
		{ "uid:1000", "", "pss-user", "pss-secret", PEER_BY_PASSWORD, "pss", NULL, "peer:pss" },
		{ "uid:1001", "", "pss-user", "pss-secret", PEER_REFUSED, NULL,
		  "peer pss may not call from uid:1001", "anon:uid:1001" },
		{ "-", "", "pss-user", "pss-secret", PEER_REFUSED, NULL,
		  "peer pss may not call from -", "anon:-" },
		/* via: the gateway's address and the calling address it passes on */
		{ "ip:10.0.0.1", "ucl.gw", "janet-user", "janet secret; with # marks",
		  PEER_BY_PASSWORD, "janet", NULL, "peer:janet" },
		{ "ip:10.0.0.1", "UCL.GW", "janet-user", "janet secret; with # marks",
		  PEER_BY_PASSWORD, "janet", NULL, "peer:janet" },
		{ "ip:10.0.0.2", "ucl.gw2", "janet-user", "janet secret; with # marks",
		  PEER_BY_PASSWORD, "janet", NULL, "peer:janet" },
		{ "ip:10.0.0.1", "other.gw", "janet-user", "janet secret; with # marks",
		  PEER_REFUSED, NULL, "peer janet may not call from 10.0.0.1 as other.gw",
		  "anon:10.0.0.1" },
		{ "ip:10.0.0.1", "", "janet-user", "janet secret; with # marks",
		  PEER_REFUSED, NULL, "peer janet may not call from 10.0.0.1", "anon:10.0.0.1" },
		{ "ip:10.0.0.2", "ucl.gw", "janet-user", "janet secret; with # marks",
		  PEER_REFUSED, NULL, "peer janet may not call from 10.0.0.2 as ucl.gw",
		  "anon:10.0.0.2" },
		{ "ip:10.0.0.3", "ucl.gw", "janet-user", "janet secret; with # marks",
		  PEER_REFUSED, NULL, "peer janet may not call from 10.0.0.3 as ucl.gw",
		  "anon:10.0.0.3" },
		{ "ip:10.0.0.1", "ucl.gw", "janet-user", "janet secret", PEER_REFUSED, NULL,
		  "wrong password for peer janet (from 10.0.0.1)", "anon:10.0.0.1" },
		/* no username: address-only peers, else unauthenticated */
		{ "ip:198.51.100.7", "raw", NULL, NULL, PEER_BY_ADDRESS, "raw", NULL, "peer:raw" },
		{ "ip:198.51.100.7", "anything", "", NULL, PEER_BY_ADDRESS, "raw", NULL, "peer:raw" },
		/* a password without a username is no credential */
		{ "ip:198.51.100.7", "raw", NULL, "ucl-secret", PEER_BY_ADDRESS, "raw", NULL,
		  "peer:raw" },
		{ "ip:198.51.100.8", "raw", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:198.51.100.8" },
		{ "ip:10.0.0.1", "raw.gw", NULL, NULL, PEER_BY_ADDRESS, "rawgw", NULL, "peer:rawgw" },
		{ "ip:10.0.0.1", "RAW.GW", NULL, NULL, PEER_BY_ADDRESS, "rawgw", NULL, "peer:rawgw" },
		{ "ip:10.0.0.1", "raw.gw.x", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:10.0.0.1" },
		{ "ip:10.0.0.2", "raw.gw", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:10.0.0.2" },
		/* a password peer's place alone authenticates no one */
		{ "ip:10.0.0.1", "ucl.gw", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:10.0.0.1" },
		{ "ip:192.0.2.77", "pss", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:192.0.2.77" },
		{ "ip:192.0.2.77", "pss", "", "pss-secret", PEER_UNAUTH, NULL, NULL,
		  "anon:192.0.2.77" },
		{ "uid:1000", "", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:uid:1000" },
		{ "uid:0", "", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:uid:0" },
		{ "-", "", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:-" },
		/* unauthenticated v6 callers: one identity per /64 */
		{ "ip:2001:db8:5:6:7:8:9:a", "", NULL, NULL, PEER_UNAUTH, NULL, NULL,
		  "anon:2001:db8:5:6::/64" },
		{ "ip:2001:db8:5:6::1", "", NULL, NULL, PEER_UNAUTH, NULL, NULL,
		  "anon:2001:db8:5:6::/64" },
		{ "ip:::1", "", NULL, NULL, PEER_UNAUTH, NULL, NULL, "anon:::/64" },
	};
	struct conf *c = peer_conf();

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (size_t i = 0; i < NELEM(t); i++) {
		struct peer_src src;
		const struct conf_peer *who = (const struct conf_peer *) &who;
		char    why[400] = "", ident[PEER_IDENT_MAX];
		enum peer_how how;

		mksrc(&src, t[i].src, t[i].calling);
		how = peer_identify(c, &src, t[i].user, t[i].password, &who, why, sizeof(why));
		if (how != t[i].how)
			fprintf(stderr, "\nidentify[%zu] %s calling '%s' user '%s': how %d, want %d "
			    "(%s)\n", i, t[i].src, t[i].calling, t[i].user ? t[i].user : "(null)",
			    how, t[i].how, why);
		EXPECT_INT(how, t[i].how);
		EXPECT_STR(who != NULL ? who->name : NULL, t[i].who);
		if (t[i].why != NULL)
			EXPECT_STR(why, t[i].why);
		/* the receive side identifies a refused caller as unauthenticated */
		peer_ident(how == PEER_REFUSED ? NULL : who, &src, ident, sizeof(ident));
		EXPECT_STR(ident, t[i].ident);
	}
	conf_free(c);
}

/* test_src_str - how a source reads in logs */
static void test_src_str(void)
{
	struct peer_src src;
	char    b[64], small[6];

	mksrc(&src, "ip:192.0.2.1", "");
	EXPECT_STR(peer_src_str(&src, b, sizeof(b)), "192.0.2.1");
	mksrc(&src, "ip:2001:db8::1", "");
	EXPECT_STR(peer_src_str(&src, b, sizeof(b)), "2001:db8::1");
	mksrc(&src, "uid:1000", "");
	EXPECT_STR(peer_src_str(&src, b, sizeof(b)), "uid:1000");
	mksrc(&src, "-", "");
	EXPECT_STR(peer_src_str(&src, b, sizeof(b)), "-");
	mksrc(&src, "ip:192.0.2.123", "");
	EXPECT_STR(peer_src_str(&src, small, sizeof(small)), "192.0");
	/* a long peer name fits an identity buffer */
	{
		struct conf_peer p;
		char    name[PEER_NAME_MAX], ident[PEER_IDENT_MAX];

		memset(&p, 0, sizeof(p));
		memset(name, 'n', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		p.name = name;
		peer_ident(&p, &src, ident, sizeof(ident));
		EXPECT_INT(strlen(ident), 5 + PEER_NAME_MAX - 1);
	}
}

/* --- relay rules --------------------------------------------------------------- */

static void test_relay_check(void)
{
	static const struct {
		const char *rcpts;	/* an address list, one a line */
		int	accept;
		unsigned via;
		int	want;
		const char *why;	/* exact, or "~TEXT": contains TEXT */
	} t[] = {
		{ "linington@cam\n", PEER_ACCEPT_LOCAL, 0, 0, "" },
		{ "Linington@CAM.AC.UK\n", PEER_ACCEPT_LOCAL, 0, 0, "" },
		{ "linington@cam, postmaster@cam\n", PEER_ACCEPT_LOCAL, 0, 0, "" },
		/* a mailbox that exists is a known user, configured or not */
		{ "olduser@cam\n", PEER_ACCEPT_LOCAL, 0, 0, "" },
		/* a local name may lead on: aliases and lists are the operator's */
		{ "fwd@cam\n", PEER_ACCEPT_LOCAL, 0, 0, "" },
		{ "staff@cam\n", PEER_ACCEPT_LOCAL, 0, 0, "" },
		/* remote recipients */
		{ "x@far\n", PEER_ACCEPT_LOCAL, 0, PEER_DENIED,
		  "relaying denied: x@far is not a recipient here, and the caller is not an "
		  "authenticated peer (accept=local)" },
		{ "x@nowhere\n", PEER_ACCEPT_LOCAL, 0, PEER_DENIED, "~relaying denied: x@nowhere " },
		{ "linington@cam\nx@far\n", PEER_ACCEPT_LOCAL, 0, PEER_DENIED,
		  "~relaying denied: x@far " },
		{ "x@far, linington@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_DENIED,
		  "~relaying denied: x@far " },
		/* source routes through this node */
		{ "x%far@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_DENIED, "~relaying denied: x%far@cam " },
		{ "far!x@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_DENIED, "~relaying denied: far!x@cam " },
		{ "\"x@far\"@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_DENIED, "~relaying denied: " },
		{ "linington%cam@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_DENIED, "~relaying denied: " },
		/* undeliverable here: refused in the call, never bounced later */
		{ "nobody@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_BADRCPT, "~recipient nobody@cam: " },
		{ "linington@cam, nobody@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_BADRCPT,
		  "~recipient nobody@cam: " },
		{ "ghost@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_BADRCPT, "~recipient ghost@cam: " },
		{ "\".x\"@cam\n", PEER_ACCEPT_LOCAL, 0, PEER_BADRCPT, "~invalid mailbox name" },
		/* an alias that leads on beyond the hop limit fails now */
		{ "fwd@cam\n", PEER_ACCEPT_LOCAL, 40, PEER_BADRCPT, "~routing loop" },
		/* local delivery is never refused for the hop count */
		{ "linington@cam\n", PEER_ACCEPT_LOCAL, 40, 0, "" },
		/* accept = peers: nothing from an unauthenticated caller */
		{ "linington@cam\n", PEER_ACCEPT_PEERS, 0, PEER_DENIED,
		  "relaying denied: linington@cam is not a recipient here, and the caller is not "
		  "an authenticated peer (accept=peers)" },
		/* accept = any: an open relay */
		{ "x@far\n", PEER_ACCEPT_ANY, 0, 0, "" },
		{ "x%far@cam, nobody@cam\n", PEER_ACCEPT_ANY, 0, 0, "" },
	};
	struct conf *c = peer_conf();

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (size_t i = 0; i < NELEM(t); i++) {
		char    err[ADDR_ERRLEN], why[600] = "";
		struct addr_list *al = addr_list_parse(t[i].rcpts, strlen(t[i].rcpts), err,
		    sizeof(err));
		int     got;

		if (al == NULL) {
			fprintf(stderr, "\nrelay[%zu]: '%s': %s\n", i, t[i].rcpts, err);
			CU_FAIL("address list does not parse");
			continue;
		}
		got = peer_relay_check(c, al, t[i].via, t[i].accept, why, sizeof(why));
		if (got != t[i].want)
			fprintf(stderr, "\nrelay[%zu] '%s' accept=%s: got %d (%s), want %d\n", i,
			    t[i].rcpts, peer_accept_str(t[i].accept), got, why, t[i].want);
		EXPECT_INT(got, t[i].want);
		if (t[i].want != 0 && t[i].why[0] == '~')
			EXPECT_HAS(why, t[i].why + 1);
		else if (t[i].want != 0)
			EXPECT_STR(why, t[i].why);
		addr_list_free(al);
	}
	/* a long recipient: the reason is cut to the buffer, never overruns */
	{
		char    line[300], err[ADDR_ERRLEN], why[64];
		struct addr_list *al;

		memset(line, 'a', 200);
		memcpy(line + 200, "@far\n", 6);
		al = addr_list_parse(line, strlen(line), err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL_FATAL(al);
		EXPECT_INT(peer_relay_check(c, al, 0, PEER_ACCEPT_LOCAL, why, sizeof(why)),
		    PEER_DENIED);
		EXPECT_INT(strlen(why), sizeof(why) - 1);
		addr_list_free(al);
	}
	conf_free(c);
}

/* --- bad [peer] and [listen] sections ---------------------------------------- */

static void test_bad_peers(void)
{
	static const struct {
		const char *ini;
		int	loads;
		const char *want;	/* exact diagnostics */
	} t[] = {
		{ "[node]\nname = cam\n[peer ucl]\nusername = u\npassword_file = missing.pw\n", 0,
		  "t.ini:5: [peer ucl] password_file: cannot open '%D/missing.pw': No such file "
		  "or directory\n" },
		{ "[node]\nname = cam\n[peer ucl]\nusername = u\npassword_file = open.pw\n", 0,
		  "t.ini:5: [peer ucl] password_file: '%D/open.pw' may be read or written by "
		  "others (mode 644): chmod 600 '%D/open.pw'\n" },
		{ "[node]\nname = cam\n[peer ucl]\nusername = u\npassword_file = empty.pw\n", 0,
		  "t.ini:5: [peer ucl] password_file: '%D/empty.pw' holds no password (its first "
		  "line is empty)\n" },
		{ "[node]\nname = cam\n[peer ucl]\nusername = u\n", 0,
		  "t.ini:3: [peer ucl] password_file: username and password_file go together (a "
		  "peer without them is known by its address: from or via)\n" },
		{ "[node]\nname = cam\n[peer ucl]\npassword_file = good.pw\nfrom = 127.0.0.1\n", 0,
		  "t.ini:3: [peer ucl] username: username and password_file go together (a peer "
		  "without them is known by its address: from or via)\n" },
		{ "[node]\nname = cam\n[peer ucl]\n", 0,
		  "t.ini:3: [peer ucl]: a peer needs username and password_file, or from or via "
		  "(an address-only peer)\n" },
		{ "[node]\nname = cam\n[peer ucl]\nusername = u\npassword_file = good.pw\n"
		  "[peer pss]\nusername = u\npassword_file = good.pw\n", 0,
		  "t.ini:7: [peer pss] username: username 'u' is also peer ucl's\n"
		  "t.ini:3: warning: [peer ucl]: no route is named 'ucl': its credentials are "
		  "only checked when it calls, never sent\n" },
		{ "[node]\nname = cam\n[peer ucl]\nusername = a b\npassword_file = good.pw\n", 0,
		  "t.ini:4: [peer ucl] username: bad username (1 to 255 octets, no spaces)\n"
		  "t.ini:4: [peer ucl] username: username and password_file go together (a peer "
		  "without them is known by its address: from or via)\n" },
		{ "[node]\nname = cam\n[peer ucl]\nfrom = 1.2.3.4/33, garbage, uid:12x\n", 0,
		  "t.ini:4: [peer ucl] from: bad prefix length in '1.2.3.4/33'\n"
		  "t.ini:4: [peer ucl] from: bad address 'garbage' (want an IP prefix or uid:USER)\n"
		  "t.ini:4: [peer ucl] from: bad user id '12x'\n" },
		{ "[node]\nname = cam\n[peer ucl]\nvia = 127.0.0.1\n", 0,
		  "t.ini:4: [peer ucl] via: '127.0.0.1': want GATEWAY-ADDRESS CALLING (e.g. "
		  "\"127.0.0.1 ucl.gw\")\n" },
		{ "[node]\nname = cam\n[peer ucl]\nvia = 127.0.0.1 a..b\n", 0,
		  "t.ini:4: [peer ucl] via: bad calling address 'a..b'\n" },
		{ "[node]\nname = cam\n[peer ucl]\nvia = nohost ucl.gw\n", 0,
		  "t.ini:4: [peer ucl] via: bad address 'nohost' (want an IP prefix or uid:USER)\n" },
		{ "[node]\nname = cam\n[peer u c l]\nfrom = 127.0.0.1\n", 0,
		  "t.ini:3: [peer u c l]: bad peer name 'u c l' (want a host name of at most 63 "
		  "octets)\n" },
		{ "[node]\nname = cam\n[peer ucl]\nfrom = 127.0.0.1\ncolour = red\npassword = x\n", 0,
		  "t.ini:5: [peer ucl] 'colour' is not a key of [peer ucl] (the keys of [peer NAME]"
		  " are username, password_file, from, via)\n"
		  "t.ini:6: [peer ucl] 'password' is not a key of [peer ucl] (did you mean"
		  " 'password_file'?)\n" },
		/* iniparser cuts a value at ';': a password in the file would be cut too */
		{ "[node]\nname = cam\n[peer ucl]\nfrom = 127.0.0.1 ; the lab\n", 1, "" },
		{ "[node]\nname = cam\n[listen]\naccept = everyone\n", 0,
		  "t.ini:4: [listen] accept: 'everyone' is not peers, local or any\n" },
		{ "[node]\nname = cam\n[listen]\nmail = tcp:127.0.0.1:1 accept=all\n", 0,
		  "t.ini:4: [listen] mail: after 'tcp:127.0.0.1:1': 'accept=all' is not "
		  "accept=peers, accept=local, accept=any, local=yes or local=no\n" },
		{ "[node]\nname = cam\n[listen]\nmail = tcp:127.0.0.1:1 peers\n", 0,
		  "t.ini:4: [listen] mail: after 'tcp:127.0.0.1:1': 'peers' is not "
		  "accept=peers, accept=local, accept=any, local=yes or local=no\n" },
		{ "[node]\nname = cam\n[listen]\ntrace = nobody\n", 0,
		  "t.ini:4: [listen] trace: 'nobody' is not peers, local or any\n" },
		{ "[node]\nname = cam\n[limits]\nauth_fail_delay = 2m\n", 0,
		  "t.ini:4: [limits] auth_fail_delay: duration '2m' out of range\n" },
	};
	char   *dir = realpath(".", NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	put_file("open.pw", "sekrit\n", 0644);
	put_file("empty.pw", "\n", 0600);
	put_file("good.pw", "sekrit\n", 0600);
	unlink("missing.pw");
	for (size_t i = 0; i < NELEM(t); i++) {
		struct buf want = BUF_INIT(1 << 16);
		char   *diag;
		unsigned ne = 0, nw = 0;
		struct conf *c = load(t[i].ini, &diag, &ne, &nw);
		const char *p;

		/* %D: the directory the file is in (paths are made absolute) */
		for (p = t[i].want; *p; p++) {
			if (p[0] == '%' && p[1] == 'D') {
				buf_append(&want, dir, strlen(dir));
				p++;
			} else
				buf_append(&want, p, 1);
		}
		if (strcmp(diag, buf_cstr(&want)) != 0)
			fprintf(stderr, "\nbad_peers[%zu]: got:\n%s---- want:\n%s----\n", i, diag,
			    buf_cstr(&want));
		CU_ASSERT_STRING_EQUAL(diag, buf_cstr(&want));
		if ((c != NULL) != t[i].loads)
			fprintf(stderr, "\nbad_peers[%zu]: loads %d, want %d\n", i, c != NULL,
			    t[i].loads);
		CU_ASSERT((c != NULL) == t[i].loads);
		CU_ASSERT((ne == 0) == t[i].loads);
		conf_free(c);
		free(diag);
		buf_release(&want);
	}
	/* the default of [listen] accept is local; a listener may say otherwise */
	{
		char   *diag;
		unsigned ne, nw;
		struct conf *c = load("[node]\nname = cam\n[listen]\nmail = tcp:127.0.0.1:1, "
		    "tcp:127.0.0.1:2 accept=peers\n", &diag, &ne, &nw);

		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		EXPECT_INT(c->listen_accept[0], PEER_ACCEPT_LOCAL);
		EXPECT_INT(c->listen_accept[1], PEER_ACCEPT_PEERS);
		EXPECT_INT(c->trace_access, PEER_ACCEPT_PEERS);
		EXPECT_INT(c->auth_fail_delay_ms, 3000);
		EXPECT_INT(c->npeers, 0);
		conf_free(c);
		free(diag);
		c = load("[node]\nname = cam\n[listen]\naccept = any\nmail = tcp:127.0.0.1:1, "
		    "tcp:127.0.0.1:2 accept=local\n[limits]\nauth_fail_delay = 0\n", &diag, &ne,
		    &nw);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		EXPECT_INT(c->listen_accept[0], PEER_ACCEPT_ANY);
		EXPECT_INT(c->listen_accept[1], PEER_ACCEPT_LOCAL);
		EXPECT_INT(c->auth_fail_delay_ms, 0);
		conf_free(c);
		free(diag);
	}
	free(dir);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "peer", "places that parse", test_place_good },
		{ "peer", "places that do not", test_place_bad },
		{ "peer", "accept=", test_accept },
		{ "peer", "peer_equal", test_equal },
		{ "peer", "password files", test_password_file },
		{ "peer", "a configuration with peers", test_peer_conf },
		{ "peer", "peer_identify and peer_ident", test_identify },
		{ "peer", "sources as text", test_src_str },
		{ "peer", "relay rules", test_relay_check },
		{ "peer", "bad [peer] and [listen] sections", test_bad_peers },
	};

	return tl_run(tests, NELEM(tests), setup, teardown);
}
