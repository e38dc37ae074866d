/*++
 * NAME
 *	test_ctl_proto 1
 * SUMMARY
 *	CUnit tests of relay/ctl_proto: the control protocol's request table
 * SYNOPSIS
 *	build/tests/test_ctl_proto
 * DESCRIPTION
 *	The table itself (ids, verbs, flags, usage and help texts), then
 *	table-driven cases of ctl_proto_parse(): each request line with
 *	the outcome, the exact error text and the arguments joined by '|'
 *	that it must give. Also: lines at and past CTL_LINE_MAX (and a
 *	1 MB line), the argument limit, every single octet as a request,
 *	ctl_proto_esc() cutting and escaping, and the --help list. The
 *	selections of queue and the bulk actions (ctl_proto_sel): each line
 *	with every field it gives or its exact error; what --to, --from and
 *	--hop match (ctl_sel_addr, ctl_sel_hop).
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "relay/ctl_proto.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"

static struct ctl_req *rq;		/* big: one, allocated once */

/* joined - rq's arguments joined by '|' (static buffer) */
static const char *joined(void)
{
	static char b[2 * CTL_LINE_MAX];
	size_t  i, o = 0;

	b[0] = '\0';
	for (i = 0; i < rq->argc; i++)
		o += (size_t) snprintf(b + o, sizeof(b) - o, "%s%s", i ? "|" : "", rq->argv[i]);
	return b;
}

/* one_line - text has no control characters (it fits on one line) */
static int one_line(const char *text)
{
	for (; *text; text++)
		if ((unsigned char) *text < 0x20 || *text == 0x7f)
			return 0;
	return 1;
}

static void test_table(void)
{
	static const struct {
		const char *verb;
		enum ctl_id id;
		int	later;
	} want[] = {
		{ "ping", CTL_PING, 0 },
		{ "pickup", CTL_PICKUP, 1 },
		{ "queue", CTL_QUEUE, 1 },
		{ "retry", CTL_RETRY, 1 },
		{ "hold", CTL_HOLD, 1 },
		{ "release", CTL_RELEASE, 1 },
		{ "delete", CTL_DELETE, 1 },
		{ "bounce", CTL_BOUNCE, 1 },
		{ "forward", CTL_FORWARD, 1 },
		{ "reroute", CTL_REROUTE, 0 },
		{ "resubmit", CTL_RESUBMIT, 1 },
		{ "reload", CTL_RELOAD, 0 },
		{ "fetch", CTL_FETCH, 1 },
		{ "trace-fetch", CTL_TRACE_FETCH, 1 },
		{ "submit", CTL_SUBMIT, 1 },
	};
	/* the requests any local user may make (CTL_ANYONE); every other
	 * one is for root and the daemon's user only */
	static const char *const anyone[] = { "ping", "submit" };
	const struct ctl_cmd *c;
	size_t  i, j;

	EXPECT_INT(NELEM(want), CTL_NCMDS);
	for (i = 0; i < NELEM(want); i++) {
		c = ctl_proto_find(want[i].verb, strlen(want[i].verb));
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		EXPECT_INT(c->id, want[i].id);
		EXPECT_TRUE(ctl_proto_get(want[i].id) == c);
		EXPECT_INT((c->flags & CTL_LATER) != 0, want[i].later);
		/* usage starts with the verb; help is one short line */
		EXPECT_TRUE(strncmp(c->usage, c->verb, strlen(c->verb)) == 0);
		EXPECT_TRUE(one_line(c->help) && one_line(c->usage));
		EXPECT_TRUE(c->min_args <= c->max_args && c->max_args <= CTL_ARGS_MAX);
		if (21 + strlen(c->help) > 80)
			fprintf(stderr, "\n%s: help line of %zu octets\n", c->verb,
			    21 + strlen(c->help));
		EXPECT_TRUE(21 + strlen(c->help) <= 80);
		for (j = 0; j < i; j++)
			EXPECT_TRUE(strcmp(want[j].verb, c->verb) != 0);
		for (j = 0; j < NELEM(anyone) && strcmp(anyone[j], c->verb) != 0; j++)
			;
		if (((c->flags & CTL_ANYONE) != 0) != (j < NELEM(anyone)))
			fprintf(stderr, "\n%s: CTL_ANYONE %s, want %s\n", c->verb,
			    c->flags & CTL_ANYONE ? "set" : "not set",
			    j < NELEM(anyone) ? "set" : "not set");
		EXPECT_INT((c->flags & CTL_ANYONE) != 0, j < NELEM(anyone));
	}
	/* exact names only */
	EXPECT_TRUE(ctl_proto_find("hol", 3) == NULL);
	EXPECT_TRUE(ctl_proto_find("holds", 5) == NULL);
	EXPECT_TRUE(ctl_proto_find("HOLD", 4) == NULL);
	EXPECT_TRUE(ctl_proto_find("", 0) == NULL);
	EXPECT_TRUE(ctl_proto_find("hold x", 4) == ctl_proto_get(CTL_HOLD));
}

static void test_parse(void)
{
	static const struct {
		const char *line;
		enum ctl_parse st;
		const char *want;	/* the arguments joined by '|', or the error */
	} cases[] = {
		{ "ping", CTL_PARSE_OK, "" },
		{ "  ping   ", CTL_PARSE_OK, "" },
		{ "ping\r", CTL_PARSE_OK, "" },
		{ "ping\r\r", CTL_PARSE_CTRL, "control character 0x0d in the request (octet 5)" },
		{ "ping x", CTL_PARSE_USAGE, "usage: ping" },
		{ "queue", CTL_PARSE_OK, "" },
		{ "hold", CTL_PARSE_USAGE, "usage: hold [SELECTION] NAME...|ALL" },
		{ "hold ", CTL_PARSE_USAGE, "usage: hold [SELECTION] NAME...|ALL" },
		{ "hold ucl.1", CTL_PARSE_OK, "ucl.1" },
		{ "hold   ucl.1  ", CTL_PARSE_OK, "ucl.1" },
		{ "hold a b", CTL_PARSE_OK, "a|b" },
		{ "release a", CTL_PARSE_OK, "a" },
		{ "delete", CTL_PARSE_USAGE, "usage: delete [SELECTION] NAME...|ALL" },
		{ "pickup submit.1", CTL_PARSE_OK, "submit.1" },
		{ "pickup", CTL_PARSE_USAGE, "usage: pickup FILE" },
		{ "resubmit", CTL_PARSE_USAGE, "usage: resubmit NAME" },
		{ "bounce", CTL_PARSE_USAGE, "usage: bounce [SELECTION] NAME...|ALL [--reason TEXT]" },
		{ "bounce n", CTL_PARSE_OK, "n" },
		/* --reason takes the rest of the line, spaces kept */
		{ "bounce n --reason wrong address,  ask  them", CTL_PARSE_OK,
		    "n|--reason|wrong address,  ask  them" },
		{ "bounce n m --reason --reason ALL  ", CTL_PARSE_OK, "n|m|--reason|--reason ALL" },
		{ "bounce n wrong address, ask them", CTL_PARSE_USAGE,
		    "usage: bounce [SELECTION] NAME...|ALL [--reason TEXT] ('address,' is not a letter"
		    " name)" },
		{ "bounce n --reason", CTL_PARSE_USAGE,
		    "usage: bounce [SELECTION] NAME...|ALL [--reason TEXT] (--reason without a text)" },
		{ "hold n --reason x", CTL_PARSE_USAGE,
		    "usage: hold [SELECTION] NAME...|ALL (--reason is for bounce)" },
		{ "forward n", CTL_PARSE_USAGE, "usage: forward NAME ADDRESS" },
		{ "forward n a@b", CTL_PARSE_OK, "n|a@b" },
		{ "forward n Ada Byron <a@b>", CTL_PARSE_OK, "n|Ada Byron <a@b>" },
		{ "reroute", CTL_PARSE_OK, "" },
		{ "reroute cam", CTL_PARSE_USAGE,
		    "usage: reroute [HOST ROUTE|--clear HOST] (no ROUTE for HOST, e.g. 'niftp"
		    " tcp:10.0.0.9:4521')" },
		{ "reroute cam niftp unix:/x FTP.MAIL", CTL_PARSE_OK, "cam|niftp unix:/x FTP.MAIL" },
		{ "reroute --clear cam", CTL_PARSE_OK, "--clear|cam" },
		{ "reroute --clear cam x", CTL_PARSE_USAGE, "usage: reroute [HOST ROUTE|--clear HOST]"
		    " (--clear takes one HOST)" },
		{ "reroute --clear", CTL_PARSE_USAGE, "usage: reroute [HOST ROUTE|--clear HOST]"
		    " (--clear wants the HOST whose override ends)" },
		{ "reroute --bogus cam", CTL_PARSE_USAGE, "usage: reroute [HOST ROUTE|--clear HOST]"
		    " (unknown option '--bogus')" },
		{ "retry", CTL_PARSE_OK, "" },
		{ "retry a b  c", CTL_PARSE_OK, "a|b|c" },
		{ "retry hop:cam", CTL_PARSE_USAGE,
		    "usage: retry [SELECTION] [NAME...|ALL] ('hop:cam' is not a letter name)" },
		{ "retry --hop cam,pss", CTL_PARSE_OK, "--hop|cam,pss" },
		{ "retry --hop cam --hop pss", CTL_PARSE_USAGE,
		    "usage: retry [SELECTION] [NAME...|ALL] (an option given twice)" },
		{ "retry --hop cam a", CTL_PARSE_USAGE,
		    "usage: retry [SELECTION] [NAME...|ALL] (names, or a selection with ALL, not both)" },
		{ "retry --hop", CTL_PARSE_USAGE,
		    "usage: retry [SELECTION] [NAME...|ALL] (--hop without a value)" },
		{ "retry --hop --all", CTL_PARSE_USAGE,
		    "usage: retry [SELECTION] [NAME...|ALL] (--hop wants HOP[,HOP...])" },
		{ "retry --all", CTL_PARSE_OK, "--all" },
		{ "retry --all a", CTL_PARSE_USAGE,
		    "usage: retry [SELECTION] [NAME...|ALL] (names, or a selection with ALL, not both)" },
		{ "retry -x", CTL_PARSE_USAGE,
		    "usage: retry [SELECTION] [NAME...|ALL] ('-x' is not a letter name)" },
		{ "reload now", CTL_PARSE_USAGE, "usage: reload" },
		{ "trace-fetch unix:/x FTP 10 pss.1", CTL_PARSE_OK, "unix:/x|FTP|10|pss.1" },
		{ "trace-fetch exec:sleep%208 FTP 600 out:a%20b", CTL_PARSE_OK,
		    "exec:sleep%208|FTP|600|out:a%20b" },
		{ "trace-fetch unix:/x FTP 0 pss.1", CTL_PARSE_USAGE,
		    "usage: trace-fetch ADDR CALLED SECONDS KEY" },
		{ "trace-fetch unix:/x FTP 601 pss.1", CTL_PARSE_USAGE,
		    "usage: trace-fetch ADDR CALLED SECONDS KEY" },
		{ "trace-fetch unix:/x FTP 10", CTL_PARSE_USAGE,
		    "usage: trace-fetch ADDR CALLED SECONDS KEY" },
		{ "trace-fetch unix:/x FTP 10 a b", CTL_PARSE_USAGE,
		    "usage: trace-fetch ADDR CALLED SECONDS KEY" },
		{ "", CTL_PARSE_EMPTY, "empty request" },
		{ "    ", CTL_PARSE_EMPTY, "empty request" },
		{ "\r", CTL_PARSE_EMPTY, "empty request" },
		{ "frob x", CTL_PARSE_UNKNOWN, "unknown request 'frob'" },
		{ "HOLD x", CTL_PARSE_UNKNOWN, "unknown request 'HOLD'" },
		{ "hold\\ x", CTL_PARSE_UNKNOWN, "unknown request 'hold\\\\'" },
		{ "\xff\xfe\x80 x", CTL_PARSE_UNKNOWN, "unknown request '\\xff\\xfe\\x80'" },
		{ "hold a\x01", CTL_PARSE_CTRL, "control character 0x01 in the request (octet 7)" },
		{ "hold\ta", CTL_PARSE_CTRL, "control character 0x09 in the request (octet 5)" },
		{ "hold a\nhold b", CTL_PARSE_CTRL, "control character 0x0a in the request (octet 7)" },
		{ "hold a\x7f", CTL_PARSE_CTRL, "control character 0x7f in the request (octet 7)" },
		{ "\x1b[2Jhold a", CTL_PARSE_CTRL, "control character 0x1b in the request (octet 1)" },
	};
	char    err[CTL_ERRLEN];
	size_t  i;
	enum ctl_parse st;

	for (i = 0; i < NELEM(cases); i++) {
		err[0] = '\0';
		st = ctl_proto_parse(cases[i].line, strlen(cases[i].line), rq, err, sizeof(err));
		if (st != cases[i].st)
			fprintf(stderr, "\ncase %zu '%s': err '%s'\n", i, cases[i].line, err);
		EXPECT_INT(st, cases[i].st);
		if (st == CTL_PARSE_OK) {
			EXPECT_STR(joined(), cases[i].want);
		} else {
			EXPECT_STR(err, cases[i].want);
			EXPECT_TRUE(one_line(err));
		}
	}

	/* a NUL inside the line is a control character, not its end */
	EXPECT_INT(ctl_proto_parse("ho\0ld a", 7, rq, err, sizeof(err)), CTL_PARSE_CTRL);
	EXPECT_STR(err, "control character 0x00 in the request (octet 3)");
	EXPECT_INT(ctl_proto_parse("hold a\0", 7, rq, err, sizeof(err)), CTL_PARSE_CTRL);
	/* only len octets are read */
	EXPECT_INT(ctl_proto_parse("hold abc", 6, rq, err, sizeof(err)), CTL_PARSE_OK);
	EXPECT_STR(joined(), "a");
	/* the entry is known after a usage error, not after an unknown verb */
	EXPECT_INT(ctl_proto_parse("hold", 4, rq, err, sizeof(err)), CTL_PARSE_USAGE);
	EXPECT_TRUE(rq->cmd == ctl_proto_get(CTL_HOLD));
	EXPECT_INT(ctl_proto_parse("frob", 4, rq, err, sizeof(err)), CTL_PARSE_UNKNOWN);
	EXPECT_TRUE(rq->cmd == NULL);
	/* a small error buffer: cut, terminated */
	EXPECT_INT(ctl_proto_parse("hold", 4, rq, err, 8), CTL_PARSE_USAGE);
	EXPECT_STR(err, "usage: ");
}

/* sel_text - a parsed selection, every field, for comparing */
static const char *sel_text(const struct ctl_sel *sel)
{
	static char b[2 * CTL_LINE_MAX];
	size_t  o, i;

	o = (size_t) snprintf(b, sizeof(b), "to=%s from=%s hop=%s older=%lld states=%x all=%d"
	    " json=%d reason=%s names=", sel->to ? sel->to : "-", sel->from ? sel->from : "-",
	    sel->hop ? sel->hop : "-", sel->older, sel->states, sel->all, sel->json,
	    sel->reason ? sel->reason : "-");
	for (i = 0; i < sel->nnames; i++)
		o += (size_t) snprintf(b + o, sizeof(b) - o, "%s%s", i ? "|" : "", sel->names[i]);
	return b;
}

/* selections: each request line, the selection it gives or the error */
static void test_sel(void)
{
	static const struct {
		const char *line;
		int	ok;
		const char *want;	/* sel_text(), or the parse error */
	} cases[] = {
		{ "queue", 1, "to=- from=- hop=- older=-1 states=0 all=1 json=0 reason=- names=" },
		{ "queue --json", 1, "to=- from=- hop=- older=-1 states=0 all=1 json=1 reason=- names=" },
		{ "queue --to a@b --from @X.org --hop pss,cam --older-than 2h --state held,queued", 1,
		    "to=a@b from=@X.org hop=pss,cam older=7200 states=12 all=1 json=0 reason=- names=" },
		{ "queue --older-than 90", 1,
		    "to=- from=- hop=- older=90 states=0 all=1 json=0 reason=- names=" },
		{ "queue --state received,deferred,active", 1,
		    "to=- from=- hop=- older=-1 states=d all=1 json=0 reason=- names=" },
		{ "hold --hop pss ALL", 1,
		    "to=- from=- hop=pss older=-1 states=0 all=1 json=0 reason=- names=" },
		{ "hold ucl.1 ucl.2_f_pss", 1,
		    "to=- from=- hop=- older=-1 states=0 all=0 json=0 reason=- names=ucl.1|ucl.2_f_pss" },
		{ "release ALL", 1, "to=- from=- hop=- older=-1 states=0 all=1 json=0 reason=- names=" },
		{ "retry", 1, "to=- from=- hop=- older=-1 states=0 all=1 json=0 reason=- names=" },
		{ "retry --hop pss", 1,
		    "to=- from=- hop=pss older=-1 states=0 all=1 json=0 reason=- names=" },
		{ "bounce ALL --state deferred --reason no  such  user ", 1,
		    "to=- from=- hop=- older=-1 states=4 all=1 json=0 reason=no  such  user names=" },
		{ "bounce a b --reason x", 1,
		    "to=- from=- hop=- older=-1 states=0 all=0 json=0 reason=x names=a|b" },
		{ "queue ALL", 0, "usage: queue [SELECTION] [--json] (queue lists every letter"
		    " selected: no ALL)" },
		{ "queue ucl.1", 0,
		    "usage: queue [SELECTION] [--json] (queue takes no names; mailctl view NAME"
		    " shows one)" },
		{ "hold --json ALL", 0, "usage: hold [SELECTION] NAME...|ALL (--json is for queue)" },
		{ "hold ALL ALL", 0, "usage: hold [SELECTION] NAME...|ALL (an option given twice)" },
		{ "queue --json --json", 0,
		    "usage: queue [SELECTION] [--json] (an option given twice)" },
		{ "queue --state", 0, "usage: queue [SELECTION] [--json] (--state without a value)" },
		{ "queue --state sent", 0, "usage: queue [SELECTION] [--json] (--state wants received,"
		    " queued, deferred, active or held)" },
		{ "queue --state held,", 0, "usage: queue [SELECTION] [--json] (--state wants received,"
		    " queued, deferred, active or held)" },
		{ "queue --hop ,pss", 0, "usage: queue [SELECTION] [--json] (--hop wants HOP[,HOP...])" },
		{ "queue --hop pss,,cam", 0,
		    "usage: queue [SELECTION] [--json] (--hop wants HOP[,HOP...])" },
		{ "queue --to bennett", 0,
		    "usage: queue [SELECTION] [--json] (--to wants local@domain or @domain)" },
		{ "queue --to a@", 0,
		    "usage: queue [SELECTION] [--json] (--to wants local@domain or @domain)" },
		{ "queue --from <a@b>", 0,
		    "usage: queue [SELECTION] [--json] (--from wants local@domain or @domain)" },
		{ "queue --older-than soon", 0, "usage: queue [SELECTION] [--json] (--older-than wants"
		    " a duration (90s, 5m, 2h, 3d))" },
		{ "queue --older-than -5m", 0, "usage: queue [SELECTION] [--json] (--older-than wants"
		    " a duration (90s, 5m, 2h, 3d))" },
		{ "queue --frob x", 0, "usage: queue [SELECTION] [--json] (unknown option '--frob')" },
		{ "hold --hop pss", 0, "usage: hold [SELECTION] NAME...|ALL (no letter named: NAME...,"
		    " or ALL for the letters selected)" },
		{ "hold --hop pss ucl.1", 0, "usage: hold [SELECTION] NAME...|ALL (names, or a"
		    " selection with ALL, not both)" },
		{ "hold -", 0, "usage: hold [SELECTION] NAME...|ALL ('-' is not a letter name)" },
		{ "hold .x", 0, "usage: hold [SELECTION] NAME...|ALL ('.x' is not a letter name)" },
		{ "delete a/b", 0, "usage: delete [SELECTION] NAME...|ALL ('a/b' is not a letter"
		    " name)" },
	};
	char    err[CTL_ERRLEN], serr[CTL_ERRLEN];
	struct ctl_sel sel;
	enum ctl_parse st;
	size_t  i;

	for (i = 0; i < NELEM(cases); i++) {
		err[0] = '\0';
		st = ctl_proto_parse(cases[i].line, strlen(cases[i].line), rq, err, sizeof(err));
		if ((st == CTL_PARSE_OK) != cases[i].ok)
			fprintf(stderr, "\ncase %zu '%s': err '%s'\n", i, cases[i].line, err);
		EXPECT_INT(st == CTL_PARSE_OK, cases[i].ok);
		if (st != CTL_PARSE_OK) {
			EXPECT_STR(err, cases[i].want);
			EXPECT_TRUE(one_line(err));
			continue;
		}
		EXPECT_TRUE((rq->cmd->flags & CTL_SELECT) != 0);
		EXPECT_INT(ctl_proto_sel(rq, &sel, serr, sizeof(serr)), 0);
		EXPECT_STR(sel_text(&sel), cases[i].want);
	}
	/* a quoted name is shown escaped and cut */
	{
		char    line[200];

		memset(line, 0, sizeof(line));
		memcpy(line, "hold -", 6);
		memset(line + 6, 'y', 150);
		EXPECT_INT(ctl_proto_parse(line, strlen(line), rq, err, sizeof(err)), CTL_PARSE_USAGE);
		EXPECT_HAS(err, "yyy...' is not a letter name)");
		EXPECT_TRUE(strlen(err) < 160);
	}
}

/* what --to, --from and --hop match */
static void test_sel_match(void)
{
	static const struct {
		const char *pattern;
		const char *addr;
		int	want;
	} addrs[] = {
		{ "bennett@ucl", "bennett@ucl", 1 },
		{ "bennett@ucl", "bennett@UCL", 1 },		/* the domain in any case */
		{ "bennett@UCL", "bennett@ucl", 1 },
		{ "bennett@ucl", "Bennett@ucl", 0 },		/* the local part exact */
		{ "bennett@ucl", "bennett@ucl.ac.uk", 0 },	/* the domain whole */
		{ "bennett@ucl", "xbennett@ucl", 0 },
		{ "bennett@ucl", "bennett", 0 },
		{ "@ucl", "anyone@ucl", 1 },
		{ "@ucl", "anyone@Ucl", 1 },
		{ "@ucl", "anyone@ucl2", 0 },
		{ "@ucl", "anyone@x.ucl", 0 },
		{ "lin%cam@pss", "lin%cam@pss", 1 },
		{ "lin@cam", "lin%x@cam", 0 },
		{ "a@b", "Ada Byron <a@b>", 1 },		/* as written: <...> looked into */
		{ "a@b", " a@b ", 1 },
		{ "a@b", "Ada <a@c>", 0 },
		{ "@b", "x@y@b", 1 },				/* the last '@' */
	};
	static const struct {
		const char *list;
		const char *hop;
		int	want;
	} hops[] = {
		{ "pss", "pss", 1 },
		{ "pss", "PSS", 1 },
		{ "pss", "ps", 0 },
		{ "pss", "pss2", 0 },
		{ "cam,pss", "pss", 1 },
		{ "cam,pss", "cam", 1 },
		{ "cam,pss", "ca", 0 },
		{ "*.ac.uk,local", "local", 1 },
		{ "*.ac.uk,local", "*.ac.uk", 1 },
	};
	struct ctl_sel sel;
	size_t  i;

	for (i = 0; i < NELEM(addrs); i++) {
		if (ctl_sel_addr(addrs[i].pattern, addrs[i].addr) != addrs[i].want)
			fprintf(stderr, "\n'%s' against '%s'\n", addrs[i].pattern, addrs[i].addr);
		EXPECT_INT(ctl_sel_addr(addrs[i].pattern, addrs[i].addr), addrs[i].want);
	}
	memset(&sel, 0, sizeof(sel));
	EXPECT_INT(ctl_sel_hop(&sel, "anything"), 1);	/* no --hop: every hop */
	for (i = 0; i < NELEM(hops); i++) {
		sel.hop = hops[i].list;
		if (ctl_sel_hop(&sel, hops[i].hop) != hops[i].want)
			fprintf(stderr, "\n'%s' in '%s'\n", hops[i].hop, hops[i].list);
		EXPECT_INT(ctl_sel_hop(&sel, hops[i].hop), hops[i].want);
	}
	for (i = 0; i < CTL_NSTATES; i++)
		EXPECT_TRUE(ctl_state_name((enum ctl_state) i)[0] != '\0');
}

static void test_long(void)
{
	size_t  big = 1024 * 1024, n;
	char   *line = xmalloc(big + 2);
	char    err[CTL_ERRLEN];

	/* exactly CTL_LINE_MAX octets: a request; one more: too long */
	memset(line, 'x', big);
	memcpy(line, "forward n ", 10);
	EXPECT_INT(ctl_proto_parse(line, CTL_LINE_MAX, rq, err, sizeof(err)), CTL_PARSE_OK);
	EXPECT_INT(rq->argc, 2);
	EXPECT_INT(strlen(rq->argv[1]), CTL_LINE_MAX - 10);
	line[CTL_LINE_MAX] = '\r';
	EXPECT_INT(ctl_proto_parse(line, CTL_LINE_MAX + 1, rq, err, sizeof(err)), CTL_PARSE_OK);
	line[CTL_LINE_MAX] = 'x';
	EXPECT_INT(ctl_proto_parse(line, CTL_LINE_MAX + 1, rq, err, sizeof(err)), CTL_PARSE_LONG);
	EXPECT_STR(err, "request too long (more than 4096 octets)");
	EXPECT_INT(ctl_proto_parse(line, big, rq, err, sizeof(err)), CTL_PARSE_LONG);
	EXPECT_STR(err, "request too long (more than 4096 octets)");

	/* a long unknown verb is echoed cut */
	memset(line, 'a', CTL_LINE_MAX);
	EXPECT_INT(ctl_proto_parse(line, CTL_LINE_MAX, rq, err, sizeof(err)), CTL_PARSE_UNKNOWN);
	n = strlen("unknown request ''") + CTL_ECHO_MAX + 3;
	EXPECT_TRUE(strlen(err) <= n);
	EXPECT_HAS(err, "aaa...'");

	/* CTL_ARGS_MAX arguments, then one too many */
	{
		struct buf b = BUF_INIT(CTL_LINE_MAX);
		int     i;

		buf_printf(&b, "retry");
		for (i = 0; i < CTL_ARGS_MAX; i++)
			buf_printf(&b, " n%d", i);
		EXPECT_INT(ctl_proto_parse((char *) buf_data(&b), b.len, rq, err, sizeof(err)),
		    CTL_PARSE_OK);
		EXPECT_INT(rq->argc, CTL_ARGS_MAX);
		EXPECT_STR(rq->argv[CTL_ARGS_MAX - 1], "n255");
		buf_printf(&b, " x");
		EXPECT_INT(ctl_proto_parse((char *) buf_data(&b), b.len, rq, err, sizeof(err)),
		    CTL_PARSE_MANY);
		EXPECT_STR(err, "too many arguments (more than 256)");
		buf_release(&b);
	}
	free(line);
}

/* every single octet as a request: no crash, a one-line error */
static void test_octets(void)
{
	char    err[CTL_ERRLEN], line[1];
	int     c, bad = 0;
	enum ctl_parse st;

	for (c = 0; c < 256; c++) {
		line[0] = (char) c;
		st = ctl_proto_parse(line, 1, rq, err, sizeof(err));
		if (st == CTL_PARSE_OK || !one_line(err))
			bad++;
		if (c == ' ' || c == '\r')
			bad += st != CTL_PARSE_EMPTY;
		else if (c < 0x20 || c == 0x7f)
			bad += st != CTL_PARSE_CTRL;
		else
			bad += st != CTL_PARSE_UNKNOWN;
	}
	EXPECT_INT(bad, 0);
}

static void test_esc(void)
{
	static const struct {
		const char *in;
		size_t	dstlen;
		const char *want;
	} cases[] = {
		{ "abc", 16, "abc" },
		{ "", 16, "" },
		{ "a\nb", 16, "a\\x0ab" },
		{ "a\\b", 16, "a\\\\b" },
		{ "\xc3\xa9", 16, "\\xc3\\xa9" },
		{ "abcdefg", 8, "abcdefg" },		/* just fits */
		{ "abcdefgh", 8, "abcd..." },
		{ "abcdef", 4, "..." },
		{ "ab\x01" "cdef", 8, "ab..." },	/* an escape is never split */
		{ "abc", 2, "a" },			/* too small for "...": cut */
	};
	char    dst[64];
	size_t  i;

	for (i = 0; i < NELEM(cases); i++) {
		memset(dst, '#', sizeof(dst));
		ctl_proto_esc(dst, cases[i].dstlen, cases[i].in, strlen(cases[i].in));
		EXPECT_STR(dst, cases[i].want);
		EXPECT_TRUE(strlen(dst) < cases[i].dstlen);
	}
	/* a NUL is escaped, not an end */
	EXPECT_STR(ctl_proto_esc(dst, sizeof(dst), "a\0b", 3), "a\\x00b");
}

static void test_help(void)
{
	struct buf b = BUF_INIT(64 * 1024);
	const char *text, *p, *nl;
	int     lines = 0;

	EXPECT_INT(ctl_proto_help(&b), 0);
	text = buf_cstr(&b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	EXPECT_HAS(text, "\n  hold [SELECTION] NAME...|ALL\n                     keep queued letters"
	    " from being sent");
	EXPECT_HAS(text, "  retry [SELECTION] [NAME...|ALL]\n                     try ");
	EXPECT_TRUE(strstr(text, "pickup") == NULL);
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		lines++;
		if (nl - p > 80)
			fprintf(stderr, "\nhelp line of %d octets: %.*s\n", (int) (nl - p),
			    (int) (nl - p), p);
		EXPECT_TRUE(nl - p <= 80);
	}
	{
		int     shown = 0;
		size_t  k;

		for (k = 0; k < CTL_NCMDS; k++)
			shown += !(ctl_proto_get((enum ctl_id) k)->flags & CTL_HIDDEN);
		EXPECT_TRUE(lines >= shown);
	}
	buf_release(&b);
	/* a full buffer is reported */
	{
		struct buf small = BUF_INIT(10);

		EXPECT_INT(ctl_proto_help(&small), -1);
		buf_release(&small);
	}
}

static int setup(void)
{
	rq = xmalloc(sizeof(*rq));
	return 0;
}

static int teardown(void)
{
	free(rq);
	rq = NULL;
	return 0;
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "ctl_proto", "the request table", test_table },
		{ "ctl_proto", "request lines", test_parse },
		{ "ctl_proto", "selections", test_sel },
		{ "ctl_proto", "--to, --from, --hop matching", test_sel_match },
		{ "ctl_proto", "long lines, many arguments", test_long },
		{ "ctl_proto", "every octet alone", test_octets },
		{ "ctl_proto", "escaping for one line", test_esc },
		{ "ctl_proto", "the --help list", test_help },
	};

	return tl_run(tests, NELEM(tests), setup, teardown);
}
