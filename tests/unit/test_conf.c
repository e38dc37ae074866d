/*++
 * NAME
 *	test_conf 1
 * SUMMARY
 *	CUnit tests of relay/conf: loading and validating a node configuration
 * SYNOPSIS
 *	build/tests/test_conf
 * DESCRIPTION
 *	Runs in a fresh temporary directory (so messages read "t.ini:N:").
 *	A full configuration in the style of DESIGN section 10 is loaded
 *	and every field checked, then a minimal one for the defaults,
 *	then a table of bad files, each with the exact diagnostics
 *	expected (errors and warnings, with their line numbers), then
 *	conf_check() output, unknown keys and sections (errors, each with
 *	the name meant by edit distance, the section the key belongs to, or
 *	the names known), conf_check_with() with a probe (its findings at
 *	their keys' lines, notes in the summary), conf_maildir() and
 *	conf_backoff_ms().
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/addr.h"
#include "mailchannel/route.h"
#include "relay/chan_niftp.h"
#include "relay/conf.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"

static char tmpdir[256];
static char *absdir;		/* realpath of tmpdir */
static char oldcwd[4096];

static int setup(void)
{
	if (tl_tmpdir(tmpdir, sizeof(tmpdir), "test_conf") < 0
	    || getcwd(oldcwd, sizeof(oldcwd)) == NULL || chdir(tmpdir) < 0)
		return -1;
	absdir = realpath(".", NULL);
	return absdir ? 0 : -1;
}

static int teardown(void)
{
	if (chdir(oldcwd) < 0)
		return -1;
	free(absdir);
	return tl_rmtree(tmpdir);
}

static void write_ini(const char *text)
{
	if (tl_write_file("t.ini", text) < 0)
		abort();
}

/* load - write text to t.ini and load it; diagnostics into *diag (new) */
static struct conf *load(const char *text, char **diag, unsigned *ne, unsigned *nw)
{
	struct buf errs = BUF_INIT(1 << 20);
	struct conf *c;

	write_ini(text);
	c = conf_load("t.ini", &errs, ne, nw);
	*diag = xstrdup(errs.len ? buf_cstr(&errs) : "");
	buf_release(&errs);
	return c;
}

static const char full_ini[] =
	"; a full node in the style of DESIGN section 10\n"	/* 1 */
	"[node]\n"
	"name    = UCL\n"
	"spool   = spool/ucl\n"
	"calling = UCL.MAIL\n"					/* 5 */
	"[listen]\n"
	"mail    = tcp:127.0.0.1:4521, unix:ucl.sock , rawtcp:[::1]:4600\n"
	"[routes]\n"
	"pss       = niftp tcp:127.0.0.1:4522\n"
	"cambridge = niftp unix:/run/cam.sock, niftp exec:Cam-SSH CAM.FTP.MAIL\n"	/* 10 */
	"*.ac.uk   = niftp tcp:gw.example:4700 JANET.FTP.MAIL\n"
	"*         = niftp tcp:relay.example:4521\n"
	"here      = local\n"
	"[exec]\n"
	"cam-ssh = \"ssh mail@cambridge.example mailrelayd --stdio ; -c /etc/cam.ini\"\n"	/* 15 */
	"[local]\n"
	"names   = ucl, ucl.ac.uk\n"
	"maildir = /var/mail/%u/\n"
	"users   = bennett, Root\n"
	"reversed_names = yes\n"				/* 20 */
	"[aliases]\n"
	"postmaster = root\n"
	"dcpu       = linington@cambridge\n"
	"[lists]\n"
	"staff       = bennett@ucl, linington@cambridge\n"	/* 25 */
	"staff.owner = bennett@ucl\n"
	"[retry]\n"
	"first = 60s\n"
	"max   = 1h\n"
	"warn  = 4h\n"						/* 30 */
	"give_up = 5d\n"
	"docket_keep = 7d\n"
	"[limits]\n"
	"hops = 12\n"
	"max_letter_size = 10M\n"				/* 35 */
	"max_recipients = 500\n"
	"calls_per_hop = 2\n"
	"max_calls = 9\n"
	"connect_timeout = 3s\n"
	"setup_timeout = 4s\n"					/* 40 */
	"idle_timeout = 0\n";

static void test_full(void)
{
	char *diag, *p;
	unsigned ne = 99, nw = 99;
	struct conf *c = load(full_ini, &diag, &ne, &nw);
	const struct route_hop *h;
	const char *pat;

	EXPECT_STR(diag, "");
	EXPECT_INT(ne, 0);
	EXPECT_INT(nw, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(c->path, "t.ini");
	EXPECT_STR(c->name, "ucl");
	p = xasprintf("%s/spool/ucl", absdir);
	EXPECT_STR(c->spool, p);
	free(p);
	p = xasprintf("%s/spool/ucl/control", absdir);
	EXPECT_STR(c->control, p);
	free(p);
	EXPECT_STR(c->calling, "UCL.MAIL");
	CU_ASSERT_PTR_NULL(c->log_file);
	CU_ASSERT_PTR_NULL(c->pid_file);
	EXPECT_INT(c->nlisten, 3);
	EXPECT_STR(c->listen[0], "tcp:127.0.0.1:4521");
	p = xasprintf("unix:%s/ucl.sock", absdir);
	EXPECT_STR(c->listen[1], p);
	free(p);
	EXPECT_STR(c->listen[2], "rawtcp:[::1]:4600");
	EXPECT_STR(c->maildir, "/var/mail/%u/");
	EXPECT_INT(c->reversed_names, 1);
	EXPECT_INT(c->retry_first_ms, 60000);
	EXPECT_INT(c->retry_max_ms, 3600000);
	EXPECT_INT(c->warn_ms, 4 * 3600000LL);
	EXPECT_INT(c->give_up_ms, 5 * 86400000LL);
	EXPECT_INT(c->docket_keep_ms, 7 * 86400000LL);
	EXPECT_INT(c->max_hops, 12);
	EXPECT_INT(c->max_letter_size, 10 << 20);
	EXPECT_INT(c->max_recipients, 500);
	EXPECT_INT(c->calls_per_hop, 2);
	EXPECT_INT(c->max_calls, 9);
	EXPECT_INT(c->connect_timeout_ms, 3000);
	EXPECT_INT(c->setup_timeout_ms, 4000);
	EXPECT_INT(c->idle_timeout_ms, 0);

	/* the route table */
	CU_ASSERT_PTR_NOT_NULL_FATAL(c->routes);
	EXPECT_STR(route_table_node(c->routes), "ucl");
	EXPECT_INT(route_table_max_hops(c->routes), 12);
	EXPECT_INT(route_table_nhops(c->routes), 5);
	EXPECT_INT(route_table_is_local(c->routes, "UCL.ac.uk"), 1);
	EXPECT_INT(route_table_is_local(c->routes, "uk.ac.ucl"), 1);	/* reversed */
	EXPECT_INT(route_table_user_known(c->routes, "root"), 1);
	EXPECT_INT(route_table_user_known(c->routes, "linington"), 0);
	h = route_table_lookup(c->routes, "Cambridge", &pat);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	EXPECT_INT(h->nalts, 2);
	EXPECT_STR(h->alts[0].addr, "unix:/run/cam.sock");
	EXPECT_STR(h->alts[0].called, "FTP.MAIL");
	EXPECT_STR(h->alts[1].addr,
	    "exec:ssh mail@cambridge.example mailrelayd --stdio ; -c /etc/cam.ini");
	EXPECT_STR(h->alts[1].shown, "exec:Cam-SSH");
	EXPECT_STR(h->alts[1].called, "CAM.FTP.MAIL");
	h = route_table_lookup(c->routes, "x.cs.ac.uk", &pat);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	EXPECT_STR(pat, "*.ac.uk");
	EXPECT_STR(h->alts[0].called, "JANET.FTP.MAIL");
	h = route_table_lookup(c->routes, "anywhere", &pat);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	EXPECT_STR(pat, "*");
	h = route_table_lookup(c->routes, "here", &pat);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	EXPECT_INT(h->alts[0].channel, ROUTE_CH_LOCAL);

	/* aliases and lists reached through routing */
	{
		struct addr *a = addr_parse("staff@ucl", 9, NULL, 0);
		struct route_result *r = route_resolve(c->routes, a, 0);

		EXPECT_INT(route_result_count(r), 2);
		EXPECT_STR(route_result_get(r, 0)->mailbox, "bennett");
		EXPECT_STR(route_result_get(r, 0)->owner, "bennett@ucl");
		EXPECT_STR(route_result_get(r, 1)->hop->name, "cambridge");
		route_result_free(r);
		addr_free(a);
	}
	conf_free(c);
	free(diag);
}

static void test_defaults(void)
{
	char *diag, *p;
	unsigned ne, nw;
	struct conf *c = load("[node]\nname = pss\n", &diag, &ne, &nw);

	EXPECT_STR(diag, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(c->name, "pss");
	EXPECT_STR(c->spool, "/var/spool/niftpmail/pss");
	EXPECT_STR(c->control, "/var/spool/niftpmail/pss/control");
	EXPECT_STR(c->calling, "pss");
	EXPECT_INT(c->nlisten, 0);
	EXPECT_STR(c->maildir, "/var/spool/niftpmail/pss/mail/%u/");
	EXPECT_INT(c->reversed_names, 0);
	EXPECT_INT(c->retry_first_ms, 60000);
	EXPECT_INT(c->retry_max_ms, 3600000);
	EXPECT_INT(c->warn_ms, 4 * 3600000LL);
	EXPECT_INT(c->give_up_ms, 5 * 86400000LL);
	EXPECT_INT(c->docket_keep_ms, 6 * 86400000LL);
	EXPECT_INT(c->max_hops, 30);
	EXPECT_INT(c->max_letter_size, 64 << 20);
	EXPECT_INT(c->max_recipients, ADDR_LIST_MAX);
	EXPECT_INT(c->calls_per_hop, 4);
	EXPECT_INT(c->max_calls, 64);
	EXPECT_INT(c->connect_timeout_ms, 10000);
	EXPECT_INT(c->setup_timeout_ms, 30000);
	EXPECT_INT(c->idle_timeout_ms, 660000);
	EXPECT_INT(route_table_nhops(c->routes), 0);
	EXPECT_INT(route_table_nusers(c->routes), 0);
	conf_free(c);
	free(diag);

	/* relative spool: the maildir and control follow it */
	c = load("[node]\nname = pss\nspool = s\n[local]\nmaildir = m/%u/x%%y\n", &diag, &ne, &nw);
	EXPECT_STR(diag, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	p = xasprintf("%s/m/%%u/x%%%%y", absdir);
	EXPECT_STR(c->maildir, p);
	free(p);
	{
		char buf[4096], *want = xasprintf("%s/m/bennett/x%%y", absdir);

		EXPECT_INT(conf_maildir(c, "bennett", buf, sizeof(buf)), strlen(want));
		EXPECT_STR(buf, want);
		EXPECT_INT(conf_maildir(c, "bennett", buf, 5), strlen(want));
		EXPECT_INT(strlen(buf), 4);
		free(want);
	}
	conf_free(c);
	free(diag);
}

/* Bad and doubtful files: the text, whether it loads, the exact diagnostics. */
static const struct {
	const char *ini;
	int	loads;
	const char *want;
} bad[] = {
	/* pull routes (relay/pull.h): one named peer, which must be a [peer] */
	{ "[node]\nname = ucl\n[routes]\ncam = pull\n", 0,
	  "t.ini:4: [routes] cam: a pull route needs a [peer cam] section: only that peer,"
	  " authenticated, may collect its letters\n" },
	{ "[node]\nname = ucl\n[routes]\n*.cam = pull\n", 0,
	  "t.ini:4: [routes] *.cam: a pull route names one peer (no wildcard)\n" },
	{ "[node]\nname = ucl\n[routes]\ncam = pull, niftp unix:/x.sock\n[peer cam]\nfrom = ::1\n",
	  0, "t.ini:4: [routes] cam: the pull channel cannot have alternates\n" },
	{ "[node]\nname = ucl\n[pull]\nfrom = pss\nevery = 0s\nmax_calls = 65\n", 0,
	  "t.ini:6: [pull] max_calls: 65 out of range 1..64\n"
	  "t.ini:5: [pull] every: duration '0s' out of range\n"
	  "t.ini:4: [pull] from: 'pss' has no niftp route to call it at ([routes] pss = niftp"
	  " ADDRESS)\n" },
	/* a channel's own section: read by the channel (relay/chan_niftp.c) */
	{ "[node]\nname = ucl\n[niftp]\ncalls_per_hop = 0\nidle_hangup = soon\n"
	  "deflate = perhaps\ncolour = blue\n", 0,
	  "t.ini:7: [niftp] 'colour' is not a key of [niftp] (the keys of [niftp] are"
	  " calls_per_hop, idle_hangup, deflate)\n"
	  "t.ini:4: [niftp] calls_per_hop: 0 out of range 1..64\n"
	  "t.ini:5: [niftp] idle_hangup: bad duration 'soon' (want e.g. 30s, 10m, 4h, 5d)\n"
	  "t.ini:6: [niftp] deflate: 'perhaps' is not yes or no\n" },
	{ "[node]\nname = ucl\n[routes]\npss = nifpt tcp:1.2.3.4:5\n", 0,
	  "t.ini:4: [routes] pss: unknown channel 'nifpt' (want niftp, smtp, pull or local)\n" },
	{ "[node]\nname = ucl\nname = pss\n", 0,
	  "t.ini:3: [node] name: duplicate key (first on line 2)\n" },
	{ "[node]\nname = ucl\n[ROUTES]\nPss = niftp tcp:a:1\n[routes]\npss = niftp tcp:b:1\n", 0,
	  "t.ini:5: warning: [routes]: section repeated (first on line 3); its keys are merged\n"
	  "t.ini:6: [routes] pss: duplicate key (first on line 4)\n" },
	{ "[node]\nspool = /x\n", 0,
	  "t.ini:1: [node] name: missing (the node's name is required)\n" },
	{ "[retry]\nfirst = 1s\n", 0,
	  "t.ini:0: [node] name: missing (the node's name is required)\n" },
	{ "[node]\nname = u c l\n", 0,
	  "t.ini:2: [node] name: host name 'u c l': bad character ' '\n" },
	{ "[node]\nname = ucl\n[retry]\nfirst = 5x\nmax = 0s\nwarn = soon\n", 0,
	  "t.ini:4: [retry] first: bad duration '5x' (want e.g. 30s, 10m, 4h, 5d)\n"
	  "t.ini:5: [retry] max: duration '0s' out of range\n"
	  "t.ini:6: [retry] warn: bad duration 'soon' (want e.g. 30s, 10m, 4h, 5d)\n" },
	{ "[node]\nname = ucl\n[retry]\nfirst = 2h\nmax = 1h\n", 0,
	  "t.ini:5: [retry] max: first (7200 s) is longer than max (3600 s)\n" },
	{ "[node]\nname = ucl\n[retry]\nwarn = 6d\ndocket_keep = 1d\n", 1,
	  "t.ini:4: warning: [retry] warn: not shorter than give_up: no \"still trying\""
	  " notice will be sent\n"
	  "t.ini:5: warning: [retry] docket_keep: shorter than give_up: a donor's late"
	  " resumption may find no docket and send the letter twice\n" },
	{ "[node]\nname = ucl\n[archive]\nfoo = 1\n[colour]\nred = 1\n", 0,
	  "t.ini:4: [archive] 'foo' is not a key of [archive] (the keys of [archive] are"
	  " enabled, dir, keep)\n"
	  "t.ini:5: [colour] is not a section (the sections are node, listen, routes, exec,"
	  " local, aliases, lists, retry, limits, archive, niftp, smtp, pull and [peer NAME])\n" },
	{ "[node]\nname = ucl\ngarbage\n[unclosed\n = x\n", 0,
	  "t.ini:3: syntax error: want '[section]' or 'key = value'\n"
	  "t.ini:4: syntax error: a section header must end with ']'\n"
	  "t.ini:5: syntax error: empty key name\n" },
	{ "name = ucl\n[node]\nname = ucl\n", 0,
	  "t.ini:1: key 'name' outside any section\n" },
	{ "[node]\nname = ucl\n[listen]\nmail = tcp:1.2.3.4, exec:x, stdio, foo:bar\n", 0,
	  "t.ini:4: [listen] mail: bad address 'tcp:1.2.3.4': no port (want HOST:PORT)\n"
	  "t.ini:4: [listen] mail: cannot listen on 'exec:x' (use tcp:, rawtcp: or unix:;"
	  " stdio is mailrelayd --stdio)\n"
	  "t.ini:4: [listen] mail: cannot listen on 'stdio' (use tcp:, rawtcp: or unix:;"
	  " stdio is mailrelayd --stdio)\n"
	  "t.ini:4: [listen] mail: bad address 'foo:bar': unknown transport"
	  " (want tcp:, rawtcp:, unix:, exec: or stdio)\n" },
	{ "[node]\nname = ucl\n[routes]\na = niftp exec:nosuch\nb = niftp tcp:x:1 FTP.MAIL extra\n"
	  "c = local tcp:x:1\nd = niftp tcp:x:1 FTP..MAIL\n*x = niftp tcp:x:1\ne = niftp\n"
	  "f = niftp stdio\ng =\nh = niftp tcp:x:1, local\n", 0,
	  "t.ini:4: [routes] a: unknown exec name 'nosuch' (define it in [exec])\n"
	  "t.ini:5: [routes] b: alternate 1: too many words (want CHANNEL ADDR [CALLED])\n"
	  "t.ini:6: [routes] c: alternate 1: the local channel takes no address\n"
	  "t.ini:7: [routes] d: alternate 1: bad called address 'FTP..MAIL'\n"
	  "t.ini:8: [routes] *x: a wildcard must be '*' or '*.suffix' with a valid host"
	  " name suffix\n"
	  "t.ini:9: [routes] e: alternate 1: niftp needs an address\n"
	  "t.ini:10: [routes] f: alternate 1: stdio cannot be a route\n"
	  "t.ini:11: [routes] g: no alternates (want CHANNEL ADDR [CALLED], ...)\n"
	  "t.ini:12: [routes] h: the local channel cannot have alternates\n" },
	{ "[node]\nname = ucl\n[exec]\nunused = ssh x\nempty =\n", 0,
	  "t.ini:5: [exec] empty: empty command line\n"
	  "t.ini:4: warning: [exec] unused: not used by any route\n"
	  "t.ini:5: warning: [exec] empty: not used by any route\n" },
	{ "[node]\nname = ucl\n[aliases]\na = x@\nb = c\nb.c = d\n", 0,
	  "t.ini:4: [aliases] a: address 'x@': unexpected end of address where a host name"
	  " should be\n" },
	{ "[node]\nname = ucl\n[lists]\nstaff = a, b\nother.owner = a\n"
	  "l2 = x\nl2.owner = bad@@\n", 0,
	  "t.ini:4: warning: [lists] staff: no owner: errors go only to the sender\n"
	  "t.ini:5: [lists] other.owner: owner of an unknown list 'other'\n"
	  "t.ini:6: [lists] l2: owner: address 'bad@@': unexpected '@' where a host name"
	  " should be\n" },
	{ "[node]\nname = ucl\n[aliases]\nstaff = x\n[lists]\nstaff = y\nstaff.owner = x\n", 0,
	  "t.ini:6: [lists] staff: already defined as an alias\n" },
	{ "[node]\nname = ucl\n[aliases]\nl1 = l2\nl2 = l1\nfar = x@nowhere\n", 1,
	  "t.ini:4: warning: [aliases] l1: l1@ucl: alias loop\n"
	  "t.ini:5: warning: [aliases] l2: l2@ucl: alias loop\n"
	  "t.ini:6: warning: [aliases] far: x@nowhere: no route to host 'nowhere'\n" },
	{ "[node]\nname = ucl\n[local]\nmaildir = /m/%x\nreversed_names = maybe\n"
	  "names = a..b\nusers = .x\n", 0,
	  "t.ini:6: [local] names: local name: host name 'a..b': empty label\n"
	  "t.ini:7: [local] users: user: invalid mailbox name '.x': starts with '.'\n"
	  "t.ini:5: [local] reversed_names: 'maybe' is not yes or no\n"
	  "t.ini:4: [local] maildir: bad escape '%x' (want %u or %%)\n" },
	{ "[node]\nname = ucl\n[local]\nmaildir = /var/mail\n", 1,
	  "t.ini:4: warning: [local] maildir: no %u: every user shares one mail directory\n" },
	{ "[node]\nname = ucl\n[limits]\nhops = 0\nmax_letter_size = 12q\nmax_recipients = 10001\n"
	  "calls_per_hop = -1\nidle_timeout = x\n", 0,
	  "t.ini:4: [limits] hops: 0 out of range 1..1000\n"
	  "t.ini:5: [limits] max_letter_size: '12q' is not a size (e.g. 64M)\n"
	  "t.ini:6: [limits] max_recipients: 10001 out of range 1..10000\n"
	  "t.ini:7: [limits] calls_per_hop: '-1' is not a number\n"
	  "t.ini:8: [limits] idle_timeout: bad duration 'x' (want e.g. 30s, 10m, 4h, 5d)\n" },
	{ "[node]\nname = ucl\ncalling = a b\n", 0,
	  "t.ini:3: [node] calling: bad calling address 'a b' (want dot-separated components"
	  " without spaces or commas)\n" },
	{ "[node]\nname = ucl\ncontrol = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 0,
	  "t.ini:3: [node] control: control socket path '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaa...' longer than 107 bytes\n" },
	/* continuation lines: the key keeps its first line; later lines stay right */
	{ "[node]\nname = ucl\n[routes]\ncambridge = niftp tcp:a:1, \\\n   niftp tcp:b:1\n"
	  "pss = nifpt x\n", 0,
	  "t.ini:6: [routes] pss: unknown channel 'nifpt' (want niftp, smtp, pull or local)\n" },
	{ "[node]\nname = ucl\n[routes]\nUCL = niftp tcp:a:1\n", 1,
	  "t.ini:4: warning: [routes] ucl: names this node: the route is never used\n" },
	/* a value cut at ';' by iniparser (unquoted) */
	{ "[node]\nname = ucl ; the node\n[routes]\npss = niftp tcp:a:1 ; FTP.X\n", 1, "" },
};

static void test_bad(void)
{
	for (size_t i = 0; i < NELEM(bad); i++) {
		char *diag;
		unsigned ne = 0, nw = 0;
		struct conf *c = load(bad[i].ini, &diag, &ne, &nw);

		if (strcmp(diag, bad[i].want) != 0)
			fprintf(stderr, "\nbad[%zu]: got:\n%s---- want:\n%s----\n", i, diag,
			    bad[i].want);
		CU_ASSERT_STRING_EQUAL(diag, bad[i].want);
		if ((c != NULL) != bad[i].loads)
			fprintf(stderr, "\nbad[%zu]: loads %d, want %d\n", i, c != NULL,
			    bad[i].loads);
		CU_ASSERT((c != NULL) == bad[i].loads);
		CU_ASSERT((ne == 0) == bad[i].loads);
		conf_free(c);
		free(diag);
	}
}

/* test_channel_section - [niftp] values reach the channel's settings */
static void test_channel_section(void)
{
	const struct chan_niftp_settings *st;
	char   *diag;
	unsigned ne = 0, nw = 0;
	struct conf *c;

	c = load("[node]\nname = ucl\n[limits]\ncalls_per_hop = 3\n", &diag, &ne, &nw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	st = c->chconf[ROUTE_CH_NIFTP];
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	EXPECT_INT(st->calls_per_hop, 3);	/* [limits] is the default */
	EXPECT_INT(st->idle_ms, 2000);
	EXPECT_INT(st->deflate, 1);
	CU_ASSERT_PTR_NULL(c->chconf[ROUTE_CH_LOCAL]);
	conf_free(c);
	free(diag);
	c = load("[node]\nname = ucl\n[limits]\ncalls_per_hop = 3\n[niftp]\n"
	    "calls_per_hop = 7\nidle_hangup = 500ms\ndeflate = no\n", &diag, &ne, &nw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_STR(diag, "");
	st = c->chconf[ROUTE_CH_NIFTP];
	EXPECT_INT(st->calls_per_hop, 7);
	EXPECT_INT(st->idle_ms, 500);
	EXPECT_INT(st->deflate, 0);
	conf_free(c);
	free(diag);
}

static void test_file_problems(void)
{
	struct buf errs = BUF_INIT(4096);
	unsigned ne = 0, nw = 0;
	struct conf *c;
	char *big;

	c = conf_load("nosuch.ini", &errs, &ne, &nw);
	CU_ASSERT_PTR_NULL(c);
	EXPECT_INT(ne, 1);
	CU_ASSERT(strncmp(buf_cstr(&errs), "nosuch.ini:0: cannot read the file: ", 36) == 0);
	buf_reset(&errs);

	/* a line longer than iniparser reads */
	big = xmalloc(2100);
	memcpy(big, "[node]\nname = ucl\n; ", 20);
	memset(big + 20, 'x', 2070);
	memcpy(big + 2090, "\n", 2);
	c = NULL;
	{
		char *diag;

		c = load(big, &diag, &ne, &nw);
		CU_ASSERT_PTR_NULL(c);
		EXPECT_STR(diag, "t.ini:3: line longer than 1023 bytes\n");
		free(diag);
	}
	free(big);

	/* NUL bytes */
	{
		static const char nul[] = "[node]\nname = ucl\nx\0y = 1\n";

		unlink("t.ini");
		CU_ASSERT(durable_write_file("t.ini", nul, sizeof(nul) - 1, NULL, 0) == 0);
		c = conf_load("t.ini", &errs, &ne, &nw);
		CU_ASSERT_PTR_NULL(c);
		EXPECT_STR(buf_cstr(&errs), "t.ini:3: NUL byte in line\n");
		buf_reset(&errs);
	}

	/* errs NULL and counts NULL are allowed; a tiny buffer keeps counts right */
	write_ini("[node]\nname = a b\n[x]\n");
	CU_ASSERT_PTR_NULL(conf_load("t.ini", NULL, NULL, NULL));
	{
		struct buf tiny = BUF_INIT(10);

		CU_ASSERT_PTR_NULL(conf_load("t.ini", &tiny, &ne, &nw));
		EXPECT_INT(ne, 2);
		EXPECT_INT(nw, 0);
		EXPECT_INT(tiny.len, 0);
		buf_release(&tiny);
	}
	buf_release(&errs);
}

static void test_check(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp;

	write_ini("[node]\nname = ucl\n[routes]\npss = nifpt x\n[x]\n");
	fp = open_memstream(&out, &len);
	EXPECT_INT(conf_check("t.ini", fp), 1);
	fclose(fp);
	EXPECT_STR(out, "t.ini:5: [x] is not a section (the sections are node, listen, routes,"
	    " exec, local, aliases, lists, retry, limits, archive, niftp, smtp, pull and [peer NAME])\n"
	    "t.ini:4: [routes] pss: unknown channel 'nifpt' (want niftp, smtp, pull or local)\n"
	    "t.ini: 2 errors, 0 warnings\n");
	free(out);

	write_ini("[node]\nname = ucl\n");
	fp = open_memstream(&out, &len);
	EXPECT_INT(conf_check("t.ini", fp), 0);
	fclose(fp);
	EXPECT_STR(out, "t.ini: ok\n");
	free(out);
}

/* Unknown names: errors, each with the name meant, the section the key
 * belongs to, or the names known there. */
static const struct {
	const char *ini;
	const char *want;
} unknown[] = {
	{ "[node]\nname = ucl\nspol = /x\n",
	  "t.ini:3: [node] 'spol' is not a key of [node] (did you mean 'spool'?)\n" },
	{ "[node]\nnmae = ucl\nname = ucl\n",		/* two letters swapped: one step */
	  "t.ini:2: [node] 'nmae' is not a key of [node] (did you mean 'name'?)\n" },
	{ "[node]\nname = ucl\nSPOOOL = /x\n",		/* case-blind, one letter too many */
	  "t.ini:3: [node] 'spoool' is not a key of [node] (did you mean 'spool'?)\n" },
	{ "[node]\nname = ucl\nmax_letter_size = 1M\n",
	  "t.ini:3: [node] 'max_letter_size' is not a key of [node] ('max_letter_size' is a"
	  " key of [limits])\n" },
	{ "[node]\nname = ucl\nusers = bennett\n",	/* near one here, exact one there */
	  "t.ini:3: [node] 'users' is not a key of [node] (did you mean 'user'? 'users' is a"
	  " key of [local])\n" },
	{ "[node]\nname = ucl\n[limits]\nmax_leter_sise = 1M\nmax_letter = 1M\n",
	  "t.ini:4: [limits] 'max_leter_sise' is not a key of [limits] (did you mean"
	  " 'max_letter_size'?)\n"
	  "t.ini:5: [limits] 'max_letter' is not a key of [limits] (did you mean"
	  " 'max_letter_size'?)\n" },
	{ "[node]\nname = ucl\n[retry]\nfirst = 1m\noften = 1h\n",
	  "t.ini:5: [retry] 'often' is not a key of [retry] (the keys of [retry] are first,"
	  " max, warn, give_up, docket_keep)\n" },
	{ "[node]\nname = ucl\n[niftp]\ndeflat = no\nidle_timeout = 1s\n",
	  "t.ini:4: [niftp] 'deflat' is not a key of [niftp] (did you mean 'deflate'?)\n"
	  "t.ini:5: [niftp] 'idle_timeout' is not a key of [niftp] ('idle_timeout' is a key"
	  " of [limits])\n" },
	{ "[node]\nname = ucl\n[limit]\nhops = 3\n[Routes]\n[alias]\n",
	  "t.ini:3: [limit] is not a section (did you mean [limits]?)\n"
	  "t.ini:6: [alias] is not a section (did you mean [aliases]?)\n" },
	{ "[node]\nname = ucl\n[peers pss]\nfrom = 127.0.0.1\n[peer]\nvia = x\n",
	  "t.ini:3: [peers pss] is not a section (did you mean [peer pss]?)\n"
	  "t.ini:5: [peer] is not a section (a peer's section is [peer NAME])\n" },
	{ "[node]\nname = ucl\n[peer pss]\nusername = u\npassword = x\n",
	  "t.ini:5: [peer pss] 'password' is not a key of [peer pss] (did you mean"
	  " 'password_file'?)\n"
	  "t.ini:3: [peer pss] password_file: username and password_file go together (a peer"
	  " without them is known by its address: from or via)\n" },
	/* sections whose keys are names: any key */
	{ "[node]\nname = ucl\n[aliases]\nspol = root\n[routes]\nspol = local\n", "" },
};

static void test_unknown(void)
{
	for (size_t i = 0; i < NELEM(unknown); i++) {
		char *diag;
		unsigned ne = 0, nw = 0;
		struct conf *c = load(unknown[i].ini, &diag, &ne, &nw);

		if (strcmp(diag, unknown[i].want) != 0)
			fprintf(stderr, "\nunknown[%zu]: got:\n%s---- want:\n%s----\n", i, diag,
			    unknown[i].want);
		CU_ASSERT_STRING_EQUAL(diag, unknown[i].want);
		/* an error: the daemon neither starts nor reloads with it */
		CU_ASSERT((c == NULL) == (unknown[i].want[0] != '\0'));
		EXPECT_INT(nw, 0);
		conf_free(c);
		free(diag);
	}
}

/* probe - a check of the world reporting one of each kind */
static void probe(const struct conf *c, struct conf_rep *r, void *arg)
{
	int *kinds = arg;

	CU_ASSERT_PTR_NOT_NULL(c->routes);
	if (*kinds & 1)
		conf_rep(r, CONF_NOTE, "listen", "mail", "'%s' is in use", "tcp:x:1");
	if (*kinds & 2)
		conf_rep(r, CONF_WARNING, "local", "users", "w");
	if (*kinds & 4)
		conf_rep(r, CONF_ERROR, "node", "spool", "'%s' cannot be created", "/x");
}

/* test_check_with - a probe's findings with the lines of their keys, the
 * summary with notes, errors failing the check */
static void test_check_with(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp;
	int kinds;

	write_ini("[node]\nname = ucl\n[listen]\nmail = tcp:127.0.0.1:1\n[local]\n"
	    "users = a\n");
	kinds = 1;
	fp = open_memstream(&out, &len);
	EXPECT_INT(conf_check_with("t.ini", fp, probe, &kinds), 0);
	fclose(fp);
	EXPECT_STR(out, "t.ini:4: note: [listen] mail: 'tcp:x:1' is in use\n"
	    "t.ini: ok (1 note)\n");
	free(out);

	kinds = 7;
	fp = open_memstream(&out, &len);
	EXPECT_INT(conf_check_with("t.ini", fp, probe, &kinds), 1);
	fclose(fp);
	EXPECT_STR(out, "t.ini:4: note: [listen] mail: 'tcp:x:1' is in use\n"
	    "t.ini:6: warning: [local] users: w\n"
	    "t.ini:1: [node] spool: '/x' cannot be created\n"	/* a default: its section */
	    "t.ini: 1 error, 1 warning, 1 note\n");
	free(out);

	/* a file with errors is not probed */
	write_ini("[node]\nname = ucl\nspol = x\n");
	fp = open_memstream(&out, &len);
	EXPECT_INT(conf_check_with("t.ini", fp, probe, &kinds), 1);
	fclose(fp);
	EXPECT_STR(out, "t.ini:3: [node] 'spol' is not a key of [node] (did you mean 'spool'?)\n"
	    "t.ini: 1 error, 0 warnings\n");
	free(out);
}

static void test_backoff(void)
{
	char *diag;
	unsigned ne, nw;
	struct conf *c = load("[node]\nname = x\n[retry]\nfirst = 5s\nmax = 1m\n", &diag, &ne, &nw);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_INT(conf_backoff_ms(c, 0), 5000);
	EXPECT_INT(conf_backoff_ms(c, 1), 5000);
	EXPECT_INT(conf_backoff_ms(c, 2), 10000);
	EXPECT_INT(conf_backoff_ms(c, 4), 40000);
	EXPECT_INT(conf_backoff_ms(c, 5), 60000);
	EXPECT_INT(conf_backoff_ms(c, 4000000000U), 60000);
	conf_free(c);
	free(diag);
}

/* test_samples - the shipped sample network loads without a diagnostic */
static void test_samples(void)
{
	static const char *const names[] = { "ucl", "pss", "cambridge", "essex" };

	for (size_t i = 0; i < NELEM(names); i++) {
		struct buf errs = BUF_INIT(1 << 16);
		unsigned ne = 9, nw = 9;
		char *path = xasprintf("%s/samples/%s.ini", oldcwd, names[i]);
		struct conf *c;

		char   *text, *copy;
		size_t  len;

		if (access(path, R_OK) < 0) {
			free(path);
			continue;	/* not run from the top directory */
		}
		/* a copy here, with the links' password files the run script
		 * makes (samples/run-relay.sh: secrets/ucl-pss, secrets/cam-pss) */
		text = durable_read_file(path, 1 << 20, &len, NULL, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		copy = xasprintf("sample-%s.ini", names[i]);
		CU_ASSERT_EQUAL(tl_write_file(copy, text), 0);
		(void) mkdir("secrets", 0700);
		CU_ASSERT_EQUAL(tl_write_file("secrets/ucl-pss", "s3cret-ucl-pss\n"), 0);
		CU_ASSERT_EQUAL(tl_write_file("secrets/cam-pss", "s3cret-cam-pss\n"), 0);
		CU_ASSERT_EQUAL(chmod("secrets/ucl-pss", 0600), 0);
		CU_ASSERT_EQUAL(chmod("secrets/cam-pss", 0600), 0);
		CU_ASSERT_EQUAL(tl_write_file("secrets/essex-pss", "s3cret-essex-pss\n"), 0);
		CU_ASSERT_EQUAL(chmod("secrets/essex-pss", 0600), 0);
		free(text);
		free(path);
		path = copy;
		c = conf_load(path, &errs, &ne, &nw);
		CU_ASSERT_PTR_NOT_NULL(c);
		EXPECT_INT(ne, 0);
		EXPECT_INT(nw, 0);
		if (c != NULL)
			EXPECT_STR(c->name, names[i]);
		conf_free(c);
		buf_release(&errs);
		free(path);
	}
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "conf", "full configuration", test_full },
		{ "conf", "defaults", test_defaults },
		{ "conf", "bad files, exact diagnostics", test_bad },
		{ "conf", "a channel's own section", test_channel_section },
		{ "conf", "unreadable, long lines, NUL bytes", test_file_problems },
		{ "conf", "conf_check", test_check },
		{ "conf", "unknown keys and sections: errors with a suggestion", test_unknown },
		{ "conf", "conf_check_with: probes, notes", test_check_with },
		{ "conf", "back-off", test_backoff },
		{ "conf", "samples", test_samples },
	};

	return tl_run(tests, NELEM(tests), setup, teardown);
}
