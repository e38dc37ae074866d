/*++
 * NAME
 *	test_route 1
 * SUMMARY
 *	CUnit tests of mailchannel/route: the routing decision of DESIGN section 4
 * SYNOPSIS
 *	build/tests/test_route
 * DESCRIPTION
 *	Table-driven. Four tables are built with the route_table_*()
 *	builders (no configuration file): the nodes ucl, pss and
 *	cambridge of the INDRA 1025 example, and a node "gw" with
 *	wildcard routes and reversed (JANET) names. Each case routes one
 *	recipient and compares a compact rendering of all its targets
 *	("fwd:HOP:ADDR", "local:MAILBOX", "fail:REASON", with
 *	"[owner=X]" for list members) with the expected text.
 *
 *	Also: builder errors, route_explain() output (and with the
 *	caller's verdict on local mailboxes, route_explain_with), grouping
 *	of ten recipients on three hosts into three copies, de-duplication, and
 *	the bounds on expansion (depth, loops, size).
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/addr.h"
#include "mailchannel/route.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"

enum { T_UCL, T_PSS, T_CAM, T_GW, T_NTABLES };
static struct route_table *tables[T_NTABLES];

static void add1(struct route_table *t, const char *pattern, const char *addr,
	const char *called)
{
	struct route_alt alt = { ROUTE_CH_NIFTP, addr, NULL, called };
	char err[ROUTE_ERRLEN];

	if (route_table_add_route(t, pattern, &alt, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "add route %s: %s\n", pattern, err);
		abort();
	}
}

static void ok(int rc, const char *err)
{
	if (rc < 0) {
		fprintf(stderr, "builder: %s\n", err);
		abort();
	}
}

static int setup(void)
{
	char err[ROUTE_ERRLEN];
	struct route_table *t;
	struct route_alt two[2] = {
		{ ROUTE_CH_NIFTP, "unix:/tmp/cam.sock", NULL, NULL },
		{ ROUTE_CH_NIFTP, "tcp:127.0.0.1:4523", NULL, "CAM.FTP.MAIL" },
	};
	struct route_alt loc = { ROUTE_CH_LOCAL, NULL, NULL, NULL };

	/* ucl: everything through pss */
	t = tables[T_UCL] = route_table_new("ucl", err, sizeof(err));
	ok(t ? 0 : -1, err);
	add1(t, "pss", "tcp:127.0.0.1:4522", NULL);
	add1(t, "cambridge", "tcp:127.0.0.1:4522", NULL);	/* same hop as pss */
	add1(t, "mit", "tcp:127.0.0.1:4599", NULL);
	ok(route_table_add_route(t, "localhost", &loc, 1, err, sizeof(err)), err);
	ok(route_table_add_name(t, "ucl.ac.uk", err, sizeof(err)), err);
	ok(route_table_add_user(t, "bennett", err, sizeof(err)), err);
	ok(route_table_add_user(t, "root", err, sizeof(err)), err);
	ok(route_table_add_alias(t, "postmaster", "root", err, sizeof(err)), err);
	ok(route_table_add_alias(t, "dcpu", "linington@cambridge", err, sizeof(err)), err);
	ok(route_table_add_alias(t, "chain1", "chain2", err, sizeof(err)), err);
	ok(route_table_add_alias(t, "chain2", "Postmaster", err, sizeof(err)), err);
	ok(route_table_add_alias(t, "loop1", "loop2", err, sizeof(err)), err);
	ok(route_table_add_alias(t, "loop2", "loop1@ucl.ac.uk", err, sizeof(err)), err);
	ok(route_table_add_alias(t, "keep", "keep, bennett%mit", err, sizeof(err)), err);
	ok(route_table_add_alias(t, "both", "bennett, BENNETT@UCL, root", err, sizeof(err)), err);
	ok(route_table_add_list(t, "staff", "bennett, linington@cambridge, nobody@nowhere",
	    "bennett@ucl", err, sizeof(err)), err);
	ok(route_table_add_list(t, "orphans", "x@nowhere", NULL, err, sizeof(err)), err);
	ok(route_table_add_list(t, "empty", "", NULL, err, sizeof(err)), err);
	ok(route_table_add_list(t, "outer", "staff, root", "root", err, sizeof(err)), err);
	/* a chain of 25 aliases: deeper than ROUTE_MAX_DEPTH */
	for (int i = 0; i < 25; i++) {
		char name[16], target[16];

		snprintf(name, sizeof(name), "deep%d", i);
		snprintf(target, sizeof(target), "deep%d", i + 1);
		ok(route_table_add_alias(t, name, target, err, sizeof(err)), err);
	}

	/* pss: the relay in the middle */
	t = tables[T_PSS] = route_table_new("pss", err, sizeof(err));
	ok(t ? 0 : -1, err);
	ok(route_table_add_route(t, "cambridge", two, 2, err, sizeof(err)), err);
	add1(t, "ucl", "tcp:127.0.0.1:4521", NULL);

	/* cambridge: the final server */
	t = tables[T_CAM] = route_table_new("Cambridge", err, sizeof(err));
	ok(t ? 0 : -1, err);
	add1(t, "*", "tcp:127.0.0.1:4522", NULL);
	ok(route_table_add_name(t, "cam", err, sizeof(err)), err);

	/* gw: wildcards, a default route, reversed names */
	t = tables[T_GW] = route_table_new("gw", err, sizeof(err));
	ok(t ? 0 : -1, err);
	add1(t, "*.ac.uk", "tcp:10.0.0.1:1", "JANET.FTP.MAIL");
	add1(t, "*.cs.ac.uk", "tcp:10.0.0.2:1", NULL);
	add1(t, "ucl.ac.uk", "tcp:10.0.0.3:1", NULL);
	add1(t, "*", "tcp:10.0.0.9:1", NULL);
	ok(route_table_add_name(t, "gw.ac.uk", err, sizeof(err)), err);
	route_table_set_reversed(t, 1);
	route_table_set_max_hops(t, 5);
	return 0;
}

static int teardown(void)
{
	for (int i = 0; i < T_NTABLES; i++)
		route_table_free(tables[i]);
	return 0;
}

/* render - "kind:...; kind:..." for all targets of r */
static char *render(const struct route_result *r)
{
	struct buf b = BUF_INIT(1 << 20);
	char *s;

	for (size_t i = 0; i < route_result_count(r); i++) {
		const struct route_target *tg = route_result_get(r, i);

		if (i > 0)
			buf_printf(&b, "; ");
		switch (tg->kind) {
		case ROUTE_LOCAL:
			buf_printf(&b, "local:%s", tg->mailbox);
			break;
		case ROUTE_FORWARD:
			buf_printf(&b, "fwd:%s:%s", tg->hop->name, tg->text);
			break;
		case ROUTE_FAIL:
			buf_printf(&b, "fail:%s", tg->reason);
			break;
		}
		if (tg->list != NULL)
			buf_printf(&b, "[owner=%s]", tg->owner ? tg->owner : "-");
	}
	s = xstrdup(buf_cstr(&b));
	buf_release(&b);
	return s;
}

static char *route_str(int table, const char *rcpt, unsigned hops)
{
	char err[ADDR_ERRLEN];
	struct addr *a = addr_parse(rcpt, strlen(rcpt), err, sizeof(err));
	struct route_result *r;
	char *s;

	if (a == NULL)
		return xasprintf("parse:%s", err);
	r = route_resolve(tables[table], a, hops);
	s = render(r);
	route_result_free(r);
	addr_free(a);
	return s;
}

static const struct {
	int	table;
	const char *rcpt;
	unsigned hops;
	const char *want;
} cases[] = {
	/* INDRA 1025 section 5.1 (3), step by step */
	{ T_UCL, "linington%cambridge%pss@ucl", 0, "fwd:pss:linington%cambridge@pss" },
	{ T_PSS, "linington%cambridge@pss", 1, "fwd:cambridge:linington@cambridge" },
	{ T_CAM, "linington@cambridge", 2, "local:linington" },
	{ T_CAM, "Linington@CAMBRIDGE", 2, "local:linington" },
	{ T_CAM, "linington@cam", 2, "local:linington" },
	/* RFC 733 multiple host indicators: a@b@c = a%b@c */
	{ T_UCL, "linington@cambridge@pss", 0, "fwd:pss:linington%cambridge@pss" },
	{ T_PSS, "linington at cambridge at pss", 0, "fwd:cambridge:linington@cambridge" },
	{ T_UCL, "linington@cambridge@pss@ucl", 0, "fwd:pss:linington%cambridge@pss" },
	/* route elements and a host that is this node in the middle */
	{ T_UCL, "<@pss,@cambridge:lin@cam2>", 0, "fwd:pss:lin%cam2%cambridge@pss" },
	{ T_UCL, "bennett%ucl@ucl", 0, "local:bennett" },
	{ T_UCL, "bennett%ucl.ac.uk%ucl@UCL", 0, "local:bennett" },
	/* another host: exact route; a second pattern with the same alternates is the same hop */
	{ T_UCL, "linington@cambridge", 0, "fwd:pss:linington@cambridge" },
	{ T_UCL, "Linington@CAMBRIDGE", 0, "fwd:pss:Linington@CAMBRIDGE" },
	{ T_UCL, "someone@mit", 0, "fwd:mit:someone@mit" },
	{ T_UCL, "someone@nowhere", 0, "fail:no route to host 'nowhere'" },
	{ T_UCL, "a%nowhere@ucl", 0, "fail:no route to host 'nowhere'" },
	/* local delivery: case-insensitive names, lower-cased mailbox */
	{ T_UCL, "BENNETT@ucl", 0, "local:bennett" },
	{ T_UCL, "bennett@UCL.AC.UK", 0, "local:bennett" },
	{ T_UCL, "Chris Bennett <Bennett@ucl>", 0, "local:bennett" },
	{ T_UCL, "stranger@ucl", 0, "local:stranger" },	/* unknown users: the local channel */
	{ T_UCL, "bennett@localhost", 0, "local:bennett" },	/* a local-channel route */
	{ T_UCL, "bennett%ucl@localhost", 0, "local:bennett" },
	/* unsafe local parts */
	{ T_UCL, "\"../etc/passwd\"@ucl", 0,
	  "fail:invalid mailbox name '../etc/passwd': starts with '.'" },
	{ T_UCL, "\"etc/passwd\"@ucl", 0,
	  "fail:invalid mailbox name 'etc/passwd': contains '/'" },
	{ T_UCL, "\".profile\"@ucl", 0, "fail:invalid mailbox name '.profile': starts with '.'" },
	{ T_UCL, "\"a/b\"@ucl", 0, "fail:invalid mailbox name 'a/b': contains '/'" },
	/* aliases, INDRA case (ii), chains, loops */
	{ T_UCL, "postmaster@ucl", 0, "local:root" },
	{ T_UCL, "PostMaster@ucl.ac.uk", 0, "local:root" },
	{ T_UCL, "dcpu@ucl", 0, "fwd:pss:linington@cambridge" },
	{ T_UCL, "DCPU@UCL", 0, "fwd:pss:linington@cambridge" },
	{ T_UCL, "chain1@ucl", 0, "local:root" },
	{ T_UCL, "loop1@ucl", 0, "fail:alias loop" },
	{ T_UCL, "deep0@ucl", 0, "fail:alias loop (more than 20 nested expansions)" },
	{ T_UCL, "deep10@ucl", 0, "local:deep25" },
	{ T_UCL, "keep@ucl", 0, "local:keep; fwd:mit:bennett@mit" },
	{ T_UCL, "both@ucl", 0, "local:bennett; local:root" },
	/* an alias only applies at this node; a '%' local part is rewritten first */
	{ T_PSS, "postmaster@pss", 0, "local:postmaster" },
	{ T_UCL, "postmaster%pss@ucl", 0, "fwd:pss:postmaster@pss" },
	/* lists: members routed again, errors to the owner */
	{ T_UCL, "staff@ucl", 0,
	  "local:bennett[owner=bennett@ucl]; fwd:pss:linington@cambridge[owner=bennett@ucl]; "
	  "fail:no route to host 'nowhere'[owner=bennett@ucl]" },
	{ T_UCL, "orphans@ucl", 0, "fail:no route to host 'nowhere'[owner=-]" },
	{ T_UCL, "empty@ucl", 0, "fail:list 'empty' has no members[owner=-]" },
	{ T_UCL, "outer@ucl", 0,
	  "local:bennett[owner=bennett@ucl]; fwd:pss:linington@cambridge[owner=bennett@ucl]; "
	  "fail:no route to host 'nowhere'[owner=bennett@ucl]; local:root[owner=root@ucl]" },
	/* the hop limit: only forwarding fails */
	{ T_UCL, "x@pss", 29, "fwd:pss:x@pss" },
	{ T_UCL, "x@pss", 30, "fail:routing loop (31 hops)" },
	{ T_UCL, "bennett@ucl", 100, "local:bennett" },
	{ T_UCL, "dcpu@ucl", 30, "fail:routing loop (31 hops)" },
	/* wildcards: exact, then the longest suffix, then the default */
	{ T_GW, "a@ucl.ac.uk", 0, "fwd:ucl.ac.uk:a@ucl.ac.uk" },
	{ T_GW, "a@UCL.AC.UK", 0, "fwd:ucl.ac.uk:a@UCL.AC.UK" },
	{ T_GW, "a@cs.ucl.ac.uk", 0, "fwd:*.ac.uk:a@cs.ucl.ac.uk" },
	{ T_GW, "a@ox.cs.ac.uk", 0, "fwd:*.cs.ac.uk:a@ox.cs.ac.uk" },
	{ T_GW, "a@OX.CS.AC.UK", 0, "fwd:*.cs.ac.uk:a@OX.CS.AC.UK" },
	{ T_GW, "a@ac.uk", 0, "fwd:*:a@ac.uk" },		/* "*.ac.uk" needs a label */
	{ T_GW, "a@cs.ac.uk", 0, "fwd:*.ac.uk:a@cs.ac.uk" },
	{ T_GW, "a@example", 0, "fwd:*:a@example" },
	{ T_GW, "a@xac.uk", 0, "fwd:*:a@xac.uk" },		/* label boundary */
	/* reversed (JANET) names, here and elsewhere */
	{ T_GW, "a@uk.ac.ucl", 0, "fwd:ucl.ac.uk:a@uk.ac.ucl" },
	{ T_GW, "a@uk.ac.cs.ox", 0, "fwd:*.cs.ac.uk:a@uk.ac.cs.ox" },
	{ T_GW, "a@uk.ac.gw", 0, "local:a" },
	{ T_GW, "a%uk.ac.ucl@UK.AC.GW", 0, "fwd:ucl.ac.uk:a@uk.ac.ucl" },
	{ T_UCL, "a@uk.ac.ucl", 0, "fail:no route to host 'uk.ac.ucl'" },	/* not reversed */
	{ T_GW, "a@x", 5, "fail:routing loop (6 hops)" },
};

static void test_cases(void)
{
	for (size_t i = 0; i < NELEM(cases); i++) {
		char *got = route_str(cases[i].table, cases[i].rcpt, cases[i].hops);

		if (strcmp(got, cases[i].want) != 0)
			fprintf(stderr, "\ncase %zu: route %s: got \"%s\", want \"%s\"\n", i,
			    cases[i].rcpt, got, cases[i].want);
		CU_ASSERT_STRING_EQUAL(got, cases[i].want);
		free(got);
	}
}

/* test_percent_bound - 22 rewrites at one node: the rewrite bound */
static void test_percent_bound(void)
{
	struct buf b = BUF_INIT(4096);
	char *got;

	buf_printf(&b, "a");
	for (int i = 0; i < 22; i++)
		buf_printf(&b, "%%ucl");
	buf_printf(&b, "@ucl");
	got = route_str(T_UCL, buf_cstr(&b), 0);
	EXPECT_STR(got, "fail:routing loop (more than 20 '%' rewrites)");
	free(got);
	buf_release(&b);
}

/* test_big_expansion - lists of lists stay within ROUTE_MAX_TARGETS and
 * the work bound */
static void test_big_expansion(void)
{
	char err[ROUTE_ERRLEN];
	struct route_table *t = route_table_new("big", err, sizeof(err));
	struct buf members = BUF_INIT(1 << 20);
	struct addr *a;
	struct route_result *r;

	/* l0 has 10 members l1a..l1j, each a list of 10 of l2..., 5 levels: 10^5 */
	for (int lvl = 0; lvl < 5; lvl++) {
		char name[32];

		buf_reset(&members);
		for (int j = 0; j < 10; j++)
			buf_printf(&members, "%sl%d%c", j ? "," : "", lvl + 1, 'a' + j);
		for (int j = 0; j < (lvl == 0 ? 1 : 10); j++) {
			snprintf(name, sizeof(name), lvl == 0 ? "l0" : "l%d%c", lvl, 'a' + j);
			ok(route_table_add_list(t, name, buf_cstr(&members), NULL, err,
			    sizeof(err)), err);
		}
	}
	a = addr_new("l0", "big", err, sizeof(err));
	r = route_resolve(t, a, 0);
	/* the leaves l5a..l5j are plain names: 10 distinct mailboxes, found
	 * long before the work bound (10^5 leaf visits) stops the walk */
	EXPECT_INT(route_result_count(r), 11);
	EXPECT_INT(route_result_get(r, 10)->kind, ROUTE_FAIL);
	EXPECT_STR(route_result_get(r, 10)->reason, "too many recipients in expansion");
	EXPECT_STR(route_result_get(r, 9)->mailbox, "l5j");
	CU_ASSERT(route_result_nsteps(r) <= ROUTE_MAX_STEPS);
	route_result_free(r);
	addr_free(a);
	buf_release(&members);
	route_table_free(t);
}

static void test_builder_errors(void)
{
	char err[ROUTE_ERRLEN];
	struct route_table *t = route_table_new("x", err, sizeof(err));
	struct route_alt alt = { ROUTE_CH_NIFTP, "tcp:1.2.3.4:5", NULL, NULL };
	struct route_alt bad = { ROUTE_CH_NIFTP, NULL, NULL, NULL };
	struct route_alt mix[2] = { { ROUTE_CH_LOCAL, NULL, NULL, NULL },
		{ ROUTE_CH_NIFTP, "tcp:1.2.3.4:5", NULL, NULL } };
	const struct route_hop *h;
	const char *pat = NULL;

	CU_ASSERT_PTR_NULL(route_table_new("bad host", err, sizeof(err)));
	EXPECT_HAS(err, "node name: host name 'bad host'");
	EXPECT_INT(route_table_add_route(t, "pss", &alt, 1, err, sizeof(err)), 0);
	EXPECT_INT(route_table_add_route(t, "PSS", &alt, 1, err, sizeof(err)), -1);
	EXPECT_STR(err, "route 'PSS': duplicate pattern");
	EXPECT_INT(route_table_add_route(t, "*foo", &alt, 1, err, sizeof(err)), -1);
	EXPECT_STR(err, "route '*foo': a wildcard must be '*' or '*.suffix' with a valid"
	    " host name suffix");
	EXPECT_INT(route_table_add_route(t, "a..b", &alt, 1, err, sizeof(err)), -1);
	EXPECT_HAS(err, "route: host name 'a..b'");
	EXPECT_INT(route_table_add_route(t, "q", &alt, 0, err, sizeof(err)), -1);
	EXPECT_STR(err, "route 'q': no alternates");
	EXPECT_INT(route_table_add_route(t, "q", &bad, 1, err, sizeof(err)), -1);
	EXPECT_STR(err, "route 'q': niftp alternate 1 has no address");
	EXPECT_INT(route_table_add_route(t, "q", mix, 2, err, sizeof(err)), -1);
	EXPECT_STR(err, "route 'q': the local channel cannot have alternates");
	EXPECT_INT(route_table_add_alias(t, "a", "b", err, sizeof(err)), 0);
	EXPECT_INT(route_table_add_alias(t, "A", "c", err, sizeof(err)), -1);
	EXPECT_STR(err, "alias 'A': already defined as an alias");
	EXPECT_INT(route_table_add_list(t, "a", "c", NULL, err, sizeof(err)), -1);
	EXPECT_STR(err, "list 'a': already defined as an alias");
	EXPECT_INT(route_table_add_alias(t, ".x", "c", err, sizeof(err)), -1);
	EXPECT_HAS(err, "alias '.x': invalid mailbox name");
	EXPECT_INT(route_table_add_alias(t, "p%q", "c", err, sizeof(err)), -1);
	EXPECT_STR(err, "alias 'p%q': name contains '%'");
	EXPECT_INT(route_table_add_alias(t, "e", " , ", err, sizeof(err)), -1);
	EXPECT_STR(err, "alias 'e': no targets");
	EXPECT_INT(route_table_add_alias(t, "f", "x@", err, sizeof(err)), -1);
	EXPECT_HAS(err, "alias 'f': address");
	EXPECT_INT(route_table_add_list(t, "l", "a", "bad owner@", err, sizeof(err)), -1);
	EXPECT_HAS(err, "list 'l': owner: ");
	EXPECT_INT(route_table_add_user(t, "a/b", err, sizeof(err)), -1);
	EXPECT_HAS(err, "user: invalid mailbox name 'a/b'");
	EXPECT_INT(route_table_add_name(t, "x y", err, sizeof(err)), -1);
	EXPECT_HAS(err, "local name: host name 'x y'");

	/* reading */
	EXPECT_STR(route_table_node(t), "x");
	EXPECT_INT(route_table_nhops(t), 1);
	h = route_table_lookup(t, "Pss", &pat);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	EXPECT_STR(pat, "pss");
	EXPECT_STR(h->name, "pss");
	EXPECT_STR(h->alts[0].called, "FTP.MAIL");
	EXPECT_STR(h->alts[0].shown, "tcp:1.2.3.4:5");
	CU_ASSERT_PTR_EQUAL(route_table_hop_by_name(t, "PSS"), h);
	CU_ASSERT_PTR_EQUAL(route_table_hop(t, 0), h);
	CU_ASSERT_PTR_NULL(route_table_lookup(t, "other", NULL));
	EXPECT_INT(route_table_is_local(t, "X"), 1);
	EXPECT_INT(route_table_user_known(t, "anyone"), 0);	/* no users: none listed (a Maildir may still exist) */
	EXPECT_INT(route_table_add_user(t, "Root", err, sizeof(err)), 0);
	EXPECT_INT(route_table_add_user(t, "root", err, sizeof(err)), 0);
	EXPECT_INT(route_table_nusers(t), 1);
	EXPECT_STR(route_table_user(t, 0), "root");
	EXPECT_INT(route_table_user_known(t, "ROOT"), 1);
	EXPECT_INT(route_table_user_known(t, "anyone"), 0);
	{
		int	is_list = -1;

		size_t	n = route_table_naliases(t);	/* "a" above */

		EXPECT_INT(route_table_add_alias(t, "Staff", "root", err, sizeof(err)), 0);
		EXPECT_INT(route_table_add_list(t, "all", "root, x@pss", NULL, err, sizeof(err)), 0);
		EXPECT_INT(route_table_naliases(t), n + 2);
		EXPECT_STR(route_table_alias(t, n, &is_list), "staff");
		EXPECT_INT(is_list, 0);
		EXPECT_STR(route_table_alias(t, n + 1, &is_list), "all");
		EXPECT_INT(is_list, 1);
		EXPECT_STR(route_table_alias(t, n + 1, NULL), "all");
	}
	EXPECT_INT(route_table_max_hops(t), ROUTE_DEFAULT_HOPS);
	route_table_free(t);
}

static void test_hops_shared(void)
{
	const struct route_hop *a = route_table_lookup(tables[T_UCL], "pss", NULL);
	const struct route_hop *b = route_table_lookup(tables[T_UCL], "cambridge", NULL);
	const struct route_hop *c = route_table_lookup(tables[T_PSS], "cambridge", NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_EQUAL(a, b);
	EXPECT_INT(route_table_nhops(tables[T_UCL]), 3);	/* pss, mit, localhost */
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	EXPECT_INT(c->nalts, 2);
	EXPECT_STR(c->alts[0].addr, "unix:/tmp/cam.sock");
	EXPECT_STR(c->alts[0].called, "FTP.MAIL");
	EXPECT_STR(c->alts[1].called, "CAM.FTP.MAIL");
}

/* unknown_bennett - route_unknown_fn: bennett is unknown, all others known */
static const char *unknown_bennett(const char *mailbox, void *ctx)
{
	(void) ctx;
	return strcmp(mailbox, "bennett") == 0 ? "unknown user 'bennett'" : NULL;
}

static void test_explain(void)
{
	struct buf out = BUF_INIT(1 << 16);
	struct addr *a = addr_parse("linington%cambridge%pss@ucl", 27, NULL, 0);
	struct route_result *r = route_resolve(tables[T_UCL], a, 0);
	const char *want =
		"linington%cambridge%pss@ucl\n"
		"  linington%cambridge%pss@ucl: host 'ucl' is this node\n"
		"  rewrite to linington%cambridge@pss (rightmost '%' to '@')\n"
		"  host 'pss' matches route 'pss'\n"
		"  -> forward to pss as linington%cambridge@pss\n"
		"=> forward to pss: linington%cambridge@pss\n"
		"     via niftp tcp:127.0.0.1:4522 FTP.MAIL\n";

	EXPECT_INT(route_explain(r, &out), 0);
	EXPECT_STR(buf_cstr(&out), want);
	EXPECT_STR(route_result_rcpt(r), "linington%cambridge%pss@ucl");
	EXPECT_INT(route_result_nsteps(r), 4);
	EXPECT_STR(route_result_step(r, 2), "  host 'pss' matches route 'pss'");
	route_result_free(r);
	addr_free(a);

	/* a list: nesting shown by indentation, owner on the result */
	buf_reset(&out);
	a = addr_parse("staff@ucl", 9, NULL, 0);
	r = route_resolve(tables[T_UCL], a, 0);
	EXPECT_INT(route_explain(r, &out), 0);
	EXPECT_HAS(buf_cstr(&out), "  'staff' is a list of 3 members, errors to bennett@ucl\n"
	    "    bennett@ucl: host 'ucl' is this node\n"
	    "    -> deliver to mailbox 'bennett'\n");
	EXPECT_HAS(buf_cstr(&out), "=> fail nobody@nowhere: no route to host 'nowhere'"
	    " (list staff, errors to bennett@ucl)\n");
	route_result_free(r);
	addr_free(a);

	/* the caller's verdict on local mailboxes: one it does not know
	 * fails, as delivery would; the others are delivered */
	buf_reset(&out);
	a = addr_parse("staff@ucl", 9, NULL, 0);
	r = route_resolve(tables[T_UCL], a, 0);
	EXPECT_INT(route_explain_with(r, &out, unknown_bennett, NULL), 0);
	EXPECT_HAS(buf_cstr(&out), "=> fail bennett@ucl: unknown user 'bennett' (list staff,"
	    " errors to bennett@ucl)\n");
	EXPECT_TRUE(strstr(buf_cstr(&out), "=> deliver bennett@ucl") == NULL);
	EXPECT_TRUE(strstr(buf_cstr(&out), "    -> deliver to mailbox 'bennett'\n") != NULL);
	buf_reset(&out);
	EXPECT_INT(route_explain_with(r, &out, NULL, NULL), 0);
	EXPECT_HAS(buf_cstr(&out), "=> deliver bennett@ucl to mailbox 'bennett'");
	route_result_free(r);
	addr_free(a);

	/* alternates listed */
	buf_reset(&out);
	a = addr_parse("x@cambridge", 11, NULL, 0);
	r = route_resolve(tables[T_PSS], a, 0);
	EXPECT_INT(route_explain(r, &out), 0);
	EXPECT_HAS(buf_cstr(&out), "=> forward to cambridge: x@cambridge\n"
	    "     via niftp unix:/tmp/cam.sock FTP.MAIL\n"
	    "      or niftp tcp:127.0.0.1:4523 CAM.FTP.MAIL\n");
	route_result_free(r);
	addr_free(a);

	/* a full buffer is reported */
	{
		struct buf tiny = BUF_INIT(20);

		a = addr_parse("x@cambridge", 11, NULL, 0);
		r = route_resolve(tables[T_PSS], a, 0);
		EXPECT_INT(route_explain(r, &tiny), -1);
		route_result_free(r);
		addr_free(a);
		buf_release(&tiny);
	}
	buf_release(&out);
}

/* test_group - 10 recipients on 3 next hops make 3 copies */
static void test_group(void)
{
	static const char *const rcpts[] = {
		"a@pss", "b@cambridge", "c@mit", "d%pss@ucl", "e@mit",
		"linington%cambridge%pss@ucl", "f@MIT", "bennett@ucl", "g@nowhere", "A@PSS",
		"a@PSS",	/* the same as a@pss: left out */
		"dcpu@ucl",	/* linington@cambridge via pss */
	};
	struct route_result *res[NELEM(rcpts)];
	struct route_group *g;
	size_t ng = 0, n = NELEM(rcpts);

	for (size_t i = 0; i < n; i++) {
		struct addr *a = addr_parse(rcpts[i], strlen(rcpts[i]), NULL, 0);

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		res[i] = route_resolve(tables[T_UCL], a, 0);
		addr_free(a);
	}
	g = route_group(res, n, &ng);
	EXPECT_INT(ng, 2);	/* pss (with cambridge) and mit */
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	EXPECT_STR(g[0].hop->name, "pss");
	EXPECT_INT(g[0].n, 6);	/* a, b, d, linington%cambridge, A, linington@cambridge */
	EXPECT_STR(g[0].targets[0]->text, "a@pss");
	EXPECT_STR(g[0].targets[2]->text, "d@pss");
	EXPECT_STR(g[0].targets[3]->text, "linington%cambridge@pss");
	EXPECT_STR(g[0].targets[4]->text, "A@PSS");
	EXPECT_STR(g[0].targets[5]->text, "linington@cambridge");
	EXPECT_INT(g[0].rcpt[5], 11);
	EXPECT_STR(g[1].hop->name, "mit");
	EXPECT_INT(g[1].n, 3);
	EXPECT_INT(g[1].rcpt[2], 6);
	route_groups_free(g, ng);

	/* three hosts on three hops: the gw table */
	{
		static const char *const r3[] = {
			"a@x.ac.uk", "b@y.ac.uk", "c@ucl.ac.uk", "d@elsewhere", "e@z.ac.uk",
			"f@UCL.AC.UK", "g@far", "h@w.ac.uk", "i@uk.ac.ucl", "j@near",
		};
		struct route_result *rr[NELEM(r3)];

		for (size_t i = 0; i < NELEM(r3); i++) {
			struct addr *a = addr_parse(r3[i], strlen(r3[i]), NULL, 0);

			rr[i] = route_resolve(tables[T_GW], a, 0);
			addr_free(a);
		}
		g = route_group(rr, NELEM(r3), &ng);
		EXPECT_INT(ng, 3);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g);
		EXPECT_STR(g[0].hop->name, "*.ac.uk");
		EXPECT_INT(g[0].n, 4);
		EXPECT_STR(g[1].hop->name, "ucl.ac.uk");
		EXPECT_INT(g[1].n, 3);
		EXPECT_STR(g[2].hop->name, "*");
		EXPECT_INT(g[2].n, 3);
		route_groups_free(g, ng);
		for (size_t i = 0; i < NELEM(r3); i++)
			route_result_free(rr[i]);
	}

	/* nothing to forward */
	g = route_group(&res[7], 1, &ng);
	CU_ASSERT_PTR_NULL(g);
	EXPECT_INT(ng, 0);
	for (size_t i = 0; i < n; i++)
		route_result_free(res[i]);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "route", "routing cases", test_cases },
		{ "route", "'%' rewrite bound", test_percent_bound },
		{ "route", "big expansion", test_big_expansion },
		{ "route", "builder errors and reading", test_builder_errors },
		{ "route", "shared next hops", test_hops_shared },
		{ "route", "route_explain", test_explain },
		{ "route", "grouping by next hop", test_group },
	};

	return tl_run(tests, NELEM(tests), setup, teardown);
}
