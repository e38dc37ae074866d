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
 *	ctl_proto_esc() cutting and escaping, and the --help list.
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
		{ "queue", CTL_QUEUE, 0 },
		{ "retry", CTL_RETRY, 0 },
		{ "hold", CTL_HOLD, 1 },
		{ "release", CTL_RELEASE, 1 },
		{ "delete", CTL_DELETE, 1 },
		{ "bounce", CTL_BOUNCE, 1 },
		{ "forward", CTL_FORWARD, 1 },
		{ "reroute", CTL_REROUTE, 0 },
		{ "resubmit", CTL_RESUBMIT, 1 },
		{ "reload", CTL_RELOAD, 0 },
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
		{ "hold", CTL_PARSE_USAGE, "usage: hold NAME" },
		{ "hold ", CTL_PARSE_USAGE, "usage: hold NAME" },
		{ "hold ucl.1", CTL_PARSE_OK, "ucl.1" },
		{ "hold   ucl.1  ", CTL_PARSE_OK, "ucl.1" },
		{ "hold a b", CTL_PARSE_USAGE, "usage: hold NAME" },
		{ "release a", CTL_PARSE_OK, "a" },
		{ "delete", CTL_PARSE_USAGE, "usage: delete NAME" },
		{ "pickup submit.1", CTL_PARSE_OK, "submit.1" },
		{ "pickup", CTL_PARSE_USAGE, "usage: pickup FILE" },
		{ "resubmit", CTL_PARSE_USAGE, "usage: resubmit NAME" },
		{ "bounce", CTL_PARSE_USAGE, "usage: bounce NAME [REASON]" },
		{ "bounce n", CTL_PARSE_OK, "n" },
		{ "bounce n wrong address,  ask  them", CTL_PARSE_OK, "n|wrong address,  ask  them" },
		{ "forward n", CTL_PARSE_USAGE, "usage: forward NAME ADDRESS" },
		{ "forward n a@b", CTL_PARSE_OK, "n|a@b" },
		{ "forward n Ada Byron <a@b>", CTL_PARSE_OK, "n|Ada Byron <a@b>" },
		{ "reroute", CTL_PARSE_OK, "" },
		{ "reroute cam", CTL_PARSE_USAGE, "usage: reroute [HOST ROUTE|--clear HOST]" },
		{ "reroute cam niftp unix:/x FTP.MAIL", CTL_PARSE_OK, "cam|niftp unix:/x FTP.MAIL" },
		{ "reroute --clear cam", CTL_PARSE_OK, "--clear|cam" },
		{ "reroute --clear cam x", CTL_PARSE_USAGE, "usage: reroute [HOST ROUTE|--clear HOST]" },
		{ "reroute --clear", CTL_PARSE_USAGE, "usage: reroute [HOST ROUTE|--clear HOST]" },
		{ "reroute --bogus cam", CTL_PARSE_USAGE, "usage: reroute [HOST ROUTE|--clear HOST]" },
		{ "retry", CTL_PARSE_OK, "" },
		{ "retry a b  c", CTL_PARSE_OK, "a|b|c" },
		{ "retry hop:cam", CTL_PARSE_OK, "hop:cam" },
		{ "retry --hop cam --hop pss a", CTL_PARSE_OK, "--hop|cam|--hop|pss|a" },
		{ "retry --hop", CTL_PARSE_USAGE, "usage: retry [NAME...|--hop HOST...|--all]" },
		{ "retry --hop --all", CTL_PARSE_USAGE, "usage: retry [NAME...|--hop HOST...|--all]" },
		{ "retry --all", CTL_PARSE_OK, "--all" },
		{ "retry --all a", CTL_PARSE_USAGE, "usage: retry [NAME...|--hop HOST...|--all]" },
		{ "retry -x", CTL_PARSE_USAGE, "usage: retry [NAME...|--hop HOST...|--all]" },
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

static void test_long(void)
{
	size_t  big = 1024 * 1024, n;
	char   *line = xmalloc(big + 2);
	char    err[CTL_ERRLEN];

	/* exactly CTL_LINE_MAX octets: a request; one more: too long */
	memset(line, 'x', big);
	memcpy(line, "bounce n ", 9);
	EXPECT_INT(ctl_proto_parse(line, CTL_LINE_MAX, rq, err, sizeof(err)), CTL_PARSE_OK);
	EXPECT_INT(rq->argc, 2);
	EXPECT_INT(strlen(rq->argv[1]), CTL_LINE_MAX - 9);
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
	EXPECT_HAS(text, "\n  hold NAME          keep a queued letter from being sent");
	EXPECT_HAS(text, "  retry [NAME...|--hop HOST...|--all]\n                     try ");
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
		{ "ctl_proto", "long lines, many arguments", test_long },
		{ "ctl_proto", "every octet alone", test_octets },
		{ "ctl_proto", "escaping for one line", test_esc },
		{ "ctl_proto", "the --help list", test_help },
	};

	return tl_run(tests, NELEM(tests), setup, teardown);
}
