/*++
 * NAME
 *	test_addr 1
 * SUMMARY
 *	CUnit tests of mailchannel/addr: address forms, lists, % routing
 * SYNOPSIS
 *	build/tests/test_addr
 * DESCRIPTION
 *	Table-driven: every address form of DESIGN section 3 with its
 *	canonical text, a table of bad input with the reason expected,
 *	the INDRA 1025 rewriting example step by step (ucl, pss,
 *	cambridge), host-name case folding, mailbox-name safety, list
 *	parsing with its caps and line numbers in errors.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/addr.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"

/* EXPECT_HAS - got contains want */

/* Good addresses: input, canonical text, unquoted local part, host. */
static const struct {
	const char *in;
	const char *canon;
	const char *local;
	const char *host;
} good[] = {
	{ "bennett@ucl", "bennett@ucl", "bennett", "ucl" },
	{ "bennett at ucl", "bennett@ucl", "bennett", "ucl" },
	{ "Bennett AT UCL", "Bennett@UCL", "Bennett", "UCL" },
	{ "bennett\tat\tucl", "bennett@ucl", "bennett", "ucl" },
	{ "Chris Bennett <bennett@ucl>", "bennett@ucl", "bennett", "ucl" },
	{ "\"Bennett, Chris\" <bennett@ucl>", "bennett@ucl", "bennett", "ucl" },
	{ "<bennett@ucl>", "bennett@ucl", "bennett", "ucl" },
	{ "bennett@ucl <bennett@ucl.ac.uk>", "bennett@ucl.ac.uk", "bennett", "ucl.ac.uk" },
	{ "linington@cambridge@pss", "linington%cambridge@pss", "linington%cambridge", "pss" },
	{ "linington at cambridge at pss", "linington%cambridge@pss",
	  "linington%cambridge", "pss" },
	{ "linington@cambridge at pss", "linington%cambridge@pss",
	  "linington%cambridge", "pss" },
	{ "linington%cambridge%pss@ucl", "linington%cambridge%pss@ucl",
	  "linington%cambridge%pss", "ucl" },
	{ "linington%cambridge@pss@ucl", "linington%cambridge%pss@ucl",
	  "linington%cambridge%pss", "ucl" },
	{ "\"john smith\"@ucl", "\"john smith\"@ucl", "john smith", "ucl" },
	{ "\"john\\\"q\"@ucl", "\"john\\\"q\"@ucl", "john\"q", "ucl" },
	{ "\"bennett\"@ucl", "bennett@ucl", "bennett", "ucl" },
	{ "\"a\"%cam@ucl", "a%cam@ucl", "a%cam", "ucl" },
	{ "\"a b\".c@ucl", "\"a b.c\"@ucl", "a b.c", "ucl" },
	{ "bennett(Chris)@ucl (UCL (London))", "bennett@ucl", "bennett", "ucl" },
	{ "(lead) bennett @ ucl", "bennett@ucl", "bennett", "ucl" },
	{ "bennett@ucl@[128.16.0.1]", "bennett@ucl", "bennett", "ucl" },
	{ "bennett@ucl@[128.16.0.1]@[10.0.0.1]", "bennett@ucl", "bennett", "ucl" },
	{ "<@pss,@cambridge:lin@cam2>", "lin%cam2%cambridge@pss", "lin%cam2%cambridge", "pss" },
	{ "Lin <@pss:lin@cam>", "lin%cam@pss", "lin%cam", "pss" },
	{ "Lin <@[1.2.3.4]:lin@cam>", "lin@cam", "lin", "cam" },
	{ "  bennett@ucl.ac.uk  ", "bennett@ucl.ac.uk", "bennett", "ucl.ac.uk" },
	{ "chris.bennett@ucl", "chris.bennett@ucl", "chris.bennett", "ucl" },
	{ "chris . bennett @ ucl . ac . uk", "chris.bennett@ucl.ac.uk", "chris.bennett",
	  "ucl.ac.uk" },
	{ "foo.at@ucl", "foo.at@ucl", "foo.at", "ucl" },
	{ "at@ucl", "at@ucl", "at", "ucl" },
	{ "bennett\r@ucl\r", "bennett@ucl", "bennett", "ucl" },
	{ "\"a\\\r\nb\"@ucl", "ab@ucl", "ab", "ucl" },
	{ "\"a\r\n b\"@ucl", "\"a b\"@ucl", "a b", "ucl" },
	{ "bj\xc3\xb6rn@ucl", "bj\xc3\xb6rn@ucl", "bj\xc3\xb6rn", "ucl" },
	{ "a+b-c_d=e@UCL-CS.ac.uk", "a+b-c_d=e@UCL-CS.ac.uk", "a+b-c_d=e", "UCL-CS.ac.uk" },
	{ "\".hidden\"@ucl", "\".hidden\"@ucl", ".hidden", "ucl" },
	{ "root@uk.ac.ucl.cs", "root@uk.ac.ucl.cs", "root", "uk.ac.ucl.cs" },
};

/* Bad addresses: input (length from strlen unless len set), reason. */
static const struct {
	const char *in;
	size_t	len;
	const char *why;
} bad[] = {
	{ "", 0, "empty address" },
	{ "   ", 0, "empty address" },
	{ "(just a comment)", 0, "empty address" },
	{ "bennett", 0, "no host part" },
	{ "@ucl", 0, "empty local part" },
	{ "bennett@", 0, "unexpected end of address where a host name should be" },
	{ "bennett at", 0, "unexpected end of address where a host name should be" },
	{ "bennett@@ucl", 0, "unexpected '@' where a host name should be" },
	{ "Chris Bennett", 0, "unexpected 'Bennett' after the local part" },
	{ "<bennett@ucl", 0, "'<' without '>'" },
	{ "bennett@ucl>", 0, "unexpected '>' after the address" },
	{ "<>", 0, "empty address '<>'" },
	{ "<bennett@>", 0, "unexpected end of address where a host name" },
	{ "<a@b> c", 0, "unexpected 'c' after '>'" },
	{ "<<a@b>>", 0, "unexpected '<' inside <...>" },
	{ "\"bennett@ucl", 0, "unterminated quoted string" },
	{ "bennett(@ucl", 0, "unterminated comment" },
	{ "bennett)@ucl", 0, "unexpected ')'" },
	{ "bennett@[1.2.3.4", 0, "unterminated domain literal" },
	{ "bennett@[1.2.3.4]", 0, "domain literal '[1.2.3.4]' is the only host" },
	{ "bennett@[1.2.3.4]@ucl", 0, "domain literal '[1.2.3.4]' inside a route" },
	{ "bennett@ucl..uk", 0, "unexpected '.' after '.' in a host name" },
	{ "bennett@ucl.", 0, "after '.' in a host name" },
	{ "bennett.@ucl", 0, "after '.' in the local part" },
	{ "bennett@uc!l", 0, "bad character '!'" },
	{ "bennett@a%b", 0, "host name 'a%b': bad character '%'" },
	{ "ben\x01nett@ucl", 0, "control byte 0x01" },
	{ "ben\0nett@ucl", 12, "contains a NUL byte" },
	{ "bennett@ucl;", 0, "unexpected ';' after the address" },
	{ "group: a@b;", 0, "unexpected ':'" },
	{ "a@b, c@d", 0, "unexpected ','" },
	{ "<@pss lin@cam>", 0, "in a source route" },
	{ "a\\b@ucl", 0, "unexpected '\\'" },
};

/* test_addr_good - every accepted form, and its canonical round trip */
static void test_addr_good(void)
{
	char    err[ADDR_ERRLEN], buf[64];
	struct addr *a, *b;
	size_t  i, n;
	char   *s;

	for (i = 0; i < NELEM(good); i++) {
		err[0] = 0;
		a = addr_parse(good[i].in, strlen(good[i].in), err, sizeof(err));
		if (a == NULL)
			fprintf(stderr, "\ncase %zu '%s': %s\n", i, good[i].in, err);
		CU_ASSERT_FATAL(a != NULL);
		s = addr_to_str(a);
		EXPECT_STR(s, good[i].canon);
		EXPECT_STR(addr_local(a), good[i].local);
		EXPECT_STR(addr_host(a), good[i].host);
		/* canonical text parses back to the same address */
		b = addr_parse(s, strlen(s), err, sizeof(err));
		CU_ASSERT_FATAL(b != NULL);
		EXPECT_STR(addr_local(b), addr_local(a));
		EXPECT_STR(addr_host(b), addr_host(a));
		/* snprintf-like formatting */
		n = addr_format(a, buf, sizeof(buf));
		EXPECT_INT(n, strlen(good[i].canon));
		n = addr_format(a, buf, 5);
		EXPECT_INT(n, strlen(good[i].canon));
		EXPECT_INT(strlen(buf), 4);
		free(s);
		addr_free(b);
		addr_free(a);
	}
}

/* test_addr_bad - refused input, with the reason */
static void test_addr_bad(void)
{
	char    err[ADDR_ERRLEN];
	struct addr *a;
	size_t  i, len;

	for (i = 0; i < NELEM(bad); i++) {
		err[0] = 0;
		len = bad[i].len ? bad[i].len : strlen(bad[i].in);
		a = addr_parse(bad[i].in, len, err, sizeof(err));
		if (a != NULL)
			fprintf(stderr, "\ncase %zu: got an address, want \"%s\"\n", i, bad[i].why);
		CU_ASSERT(a == NULL);
		addr_free(a);
		EXPECT_HAS(err, bad[i].why);
		EXPECT_HAS(err, "address '");
	}
	/* a NULL error buffer is allowed */
	CU_ASSERT(addr_parse("x", 1, NULL, 0) == NULL);
}

/* test_addr_caps - 1 KiB per address; long input shown shortened */
static void test_addr_caps(void)
{
	char    err[ADDR_ERRLEN];
	char   *big = xmalloc(ADDR_MAX_LEN + 2);
	struct addr *a;

	memset(big, 'x', ADDR_MAX_LEN + 1);
	memcpy(big + ADDR_MAX_LEN - 4, "@ucl", 4);
	a = addr_parse(big, ADDR_MAX_LEN, err, sizeof(err));
	CU_ASSERT(a != NULL);
	EXPECT_INT(strlen(addr_local(a)), ADDR_MAX_LEN - 4);
	addr_free(a);
	memcpy(big + ADDR_MAX_LEN - 3, "@ucl", 4);
	a = addr_parse(big, ADDR_MAX_LEN + 1, err, sizeof(err));
	CU_ASSERT(a == NULL);
	EXPECT_HAS(err, "longer than 1024 bytes");
	EXPECT_HAS(err, "...");
	CU_ASSERT(strlen(err) < 200);
	/* host name cap */
	memset(big, 'h', 300);
	big[0] = 'u';
	big[1] = '@';
	a = addr_parse(big, 300, err, sizeof(err));
	CU_ASSERT(a == NULL);
	EXPECT_HAS(err, "longer than 255 bytes");
	free(big);
}

/* test_addr_indra - INDRA 1025 section 5.1 (3), step by step */
static void test_addr_indra(void)
{
	static const struct {
		const char *node;	/* the node doing the step */
		const char *want;	/* address after the step */
	} steps[] = {
		{ "UCL", "linington%cambridge@pss" },
		{ "pss", "linington@cambridge" },
	};
	const char *in = "Linington%Cambridge%PSS@UCL";
	char    err[ADDR_ERRLEN], mbox[ADDR_MBOX_MAX + 1];
	struct addr *a;
	size_t  i;
	char   *s;

	a = addr_parse("linington%cambridge%pss@ucl", 27, err, sizeof(err));
	CU_ASSERT_FATAL(a != NULL);
	for (i = 0; i < NELEM(steps); i++) {
		/* the host part is this node, and there is a route */
		EXPECT_INT(addr_host_is(a, steps[i].node), 1);
		EXPECT_INT(addr_has_route(a), 1);
		EXPECT_INT(addr_percent_hop(a, err, sizeof(err)), 0);
		s = addr_to_str(a);
		EXPECT_STR(s, steps[i].want);
		free(s);
	}
	/* at cambridge: local delivery to the lower-cased mailbox */
	EXPECT_INT(addr_host_is(a, "Cambridge"), 1);
	EXPECT_INT(addr_has_route(a), 0);
	EXPECT_INT(addr_mailbox(a, mbox, sizeof(mbox), err, sizeof(err)), 0);
	EXPECT_STR(mbox, "linington");
	/* and no further hop */
	EXPECT_INT(addr_percent_hop(a, err, sizeof(err)), -1);
	EXPECT_HAS(err, "no '%' route");
	addr_free(a);

	/* the note's own capitalisation: rewriting keeps the case */
	a = addr_parse(in, strlen(in), err, sizeof(err));
	CU_ASSERT_FATAL(a != NULL);
	EXPECT_INT(addr_host_is(a, "ucl"), 1);
	EXPECT_INT(addr_percent_hop(a, err, sizeof(err)), 0);
	s = addr_to_str(a);
	EXPECT_STR(s, "Linington%Cambridge@PSS");
	free(s);
	addr_free(a);

	/* RFC 733 multiple host indicators are the same route */
	a = addr_parse("linington@cambridge@pss@ucl", 27, err, sizeof(err));
	CU_ASSERT_FATAL(a != NULL);
	s = addr_to_str(a);
	EXPECT_STR(s, "linington%cambridge%pss@ucl");
	free(s);
	addr_free(a);
}

/* test_addr_hop_bad - rewrites that cannot be done leave a unchanged */
static void test_addr_hop_bad(void)
{
	static const struct {
		const char *in;
		const char *why;
	} t[] = {
		{ "%pss@ucl", "empty local part before '%'" },
		{ "lin%@ucl", "after '%': host name '': empty" },
		{ "lin%a=b@ucl", "bad character '='" },
		{ "\"lin%cam.\"@ucl", "empty label" },
		{ "lin@ucl", "no '%' route" },
	};
	char    err[ADDR_ERRLEN];
	struct addr *a;
	size_t  i;
	char   *before, *after;

	for (i = 0; i < NELEM(t); i++) {
		a = addr_parse(t[i].in, strlen(t[i].in), err, sizeof(err));
		CU_ASSERT_FATAL(a != NULL);
		before = addr_to_str(a);
		EXPECT_INT(addr_percent_hop(a, err, sizeof(err)), -1);
		EXPECT_HAS(err, t[i].why);
		after = addr_to_str(a);
		EXPECT_STR(after, before);
		free(before);
		free(after);
		addr_free(a);
	}
}

/* test_addr_case - host comparison and mailbox lower-casing */
static void test_addr_case(void)
{
	static const struct {
		const char *a, *b;
		int	eq;
	} hosts[] = {
		{ "UCL", "ucl", 1 },
		{ "ucl.AC.uk", "UCL.ac.UK", 1 },
		{ "ucl", "ucl2", 0 },
		{ "ucl2", "ucl", 0 },
		{ "", "", 1 },
		{ "a", "", 0 },
		{ "Cam-Bridge_1", "cam-bridge_1", 1 },
	};
	static const struct {
		const char *in, *mbox;
	} mb[] = {
		{ "Bennett@ucl", "bennett" },
		{ "BENNETT@UCL", "bennett" },
		{ "Bj\xc3\x96RN@ucl", "bj\xc3\x96rn" },
		{ "\"John Smith\"@ucl", "john smith" },
		{ "a.B-c@ucl", "a.b-c" },
	};
	char    err[ADDR_ERRLEN], mbox[ADDR_MBOX_MAX + 1], buf[16];
	struct addr *a;
	size_t  i;

	for (i = 0; i < NELEM(hosts); i++)
		EXPECT_INT(addr_host_eq(hosts[i].a, hosts[i].b), hosts[i].eq);
	for (i = 0; i < NELEM(mb); i++) {
		a = addr_parse(mb[i].in, strlen(mb[i].in), err, sizeof(err));
		CU_ASSERT_FATAL(a != NULL);
		EXPECT_INT(addr_mailbox(a, mbox, sizeof(mbox), err, sizeof(err)), 0);
		EXPECT_STR(mbox, mb[i].mbox);
		addr_free(a);
	}
	a = addr_parse("verylongname@ucl", 16, err, sizeof(err));
	EXPECT_INT(addr_mailbox(a, mbox, 5, err, sizeof(err)), -1);
	EXPECT_HAS(err, "too small");
	addr_free(a);
	snprintf(buf, sizeof(buf), "MiXeD\xc3\x89");
	EXPECT_STR(addr_lower(buf), "mixed\xc3\x89");
}

/* test_addr_unsafe - local parts that must never name a mailbox */
static void test_addr_unsafe(void)
{
	static const struct {
		const char *local;
		size_t	len;
		int	ok;
		const char *why;
	} t[] = {
		{ "bennett", 0, 1, NULL },
		{ "a.b", 0, 1, NULL },
		{ "a+b-c", 0, 1, NULL },
		{ "a..b", 0, 1, NULL },
		{ "../etc/passwd", 0, 0, "starts with '.'" },
		{ ".profile", 0, 0, "starts with '.'" },
		{ ".", 0, 0, "starts with '.'" },
		{ "a/b", 0, 0, "contains '/'" },
		{ "bennett/", 0, 0, "contains '/'" },
		{ "", 0, 0, "empty" },
		{ "a\x01b", 0, 0, "control byte" },
		{ "a\nb", 0, 0, "control byte" },
		{ "a\0b", 3, 0, "NUL" },
	};
	char    err[ADDR_ERRLEN], mbox[ADDR_MBOX_MAX + 1];
	char    longname[ADDR_MBOX_MAX + 2];
	struct addr *a;
	size_t  i, len;

	for (i = 0; i < NELEM(t); i++) {
		len = t[i].len ? t[i].len : strlen(t[i].local);
		err[0] = 0;
		EXPECT_INT(addr_mailbox_check(t[i].local, len, err, sizeof(err)),
		    t[i].ok ? 0 : -1);
		if (!t[i].ok) {
			EXPECT_HAS(err, "invalid mailbox name");
			EXPECT_HAS(err, t[i].why);
		}
	}
	memset(longname, 'a', sizeof(longname));
	EXPECT_INT(addr_mailbox_check(longname, ADDR_MBOX_MAX, err, sizeof(err)), 0);
	EXPECT_INT(addr_mailbox_check(longname, ADDR_MBOX_MAX + 1, err, sizeof(err)), -1);
	EXPECT_HAS(err, "too long");

	/* quoting cannot smuggle a path in */
	a = addr_parse("\"../../etc/passwd\"@ucl", 22, err, sizeof(err));
	CU_ASSERT_FATAL(a != NULL);
	EXPECT_INT(addr_mailbox(a, mbox, sizeof(mbox), err, sizeof(err)), -1);
	EXPECT_HAS(err, "invalid mailbox name '../../etc/passwd'");
	addr_free(a);
	a = addr_parse("\"a/b\"@ucl", 9, err, sizeof(err));
	CU_ASSERT_FATAL(a != NULL);
	EXPECT_INT(addr_mailbox(a, mbox, sizeof(mbox), err, sizeof(err)), -1);
	addr_free(a);
}

/* test_addr_new_misc - addr_new, addr_dup, host checks, reversal, split */
static void test_addr_new_misc(void)
{
	static const struct {
		const char *in, *want;
	} rev[] = {
		{ "cs.ucl.ac.uk", "uk.ac.ucl.cs" },
		{ "uk.ac.ucl.cs", "cs.ucl.ac.uk" },
		{ "ucl", "ucl" },
		{ "a.b", "b.a" },
		{ "", "" },
	};
	static const struct {
		const char *in;
		size_t	want;
	} split[] = {
		{ "a@b, c@d", 3 },
		{ "\"x, y\" <a@b>, c", 12 },
		{ "a(b,c)@d, e", 8 },
		{ "<@a,@b:c@d>, e", 11 },
		{ "a@[1,2], e", 7 },
		{ "\"x\\\",\" <a@b>, e", 12 },
		{ "no comma", 8 },
		{ "", 0 },
	};
	char    err[ADDR_ERRLEN], buf[64];
	struct addr *a, *d;
	size_t  i;
	char   *s;

	a = addr_new("john smith", "ucl", err, sizeof(err));
	CU_ASSERT_FATAL(a != NULL);
	d = addr_dup(a);
	addr_free(a);
	s = addr_to_str(d);
	EXPECT_STR(s, "\"john smith\"@ucl");
	free(s);
	addr_free(d);
	CU_ASSERT(addr_new("", "ucl", err, sizeof(err)) == NULL);
	EXPECT_HAS(err, "empty local part");
	CU_ASSERT(addr_new("x", "bad host", err, sizeof(err)) == NULL);
	EXPECT_HAS(err, "host name 'bad host': bad character ' '");
	CU_ASSERT(addr_new("a\nb", "ucl", err, sizeof(err)) == NULL);
	EXPECT_HAS(err, "line break");
	CU_ASSERT(addr_new("x", NULL, err, sizeof(err)) == NULL);
	EXPECT_HAS(err, "no host part");
	addr_free(NULL);

	EXPECT_INT(addr_host_check("ucl.ac.uk", 9, err, sizeof(err)), 0);
	EXPECT_INT(addr_host_check(".ucl", 4, err, sizeof(err)), -1);
	EXPECT_HAS(err, "empty label");
	EXPECT_INT(addr_host_check("", 0, err, sizeof(err)), -1);

	for (i = 0; i < NELEM(rev); i++) {
		EXPECT_INT(addr_host_reverse(rev[i].in, buf, sizeof(buf)), strlen(rev[i].want));
		EXPECT_STR(buf, rev[i].want);
	}
	EXPECT_INT(addr_host_reverse("cs.ucl.ac.uk", buf, 4), 12);
	EXPECT_STR(buf, "uk.");
	for (i = 0; i < NELEM(split); i++)
		EXPECT_INT(addr_split(split[i].in, strlen(split[i].in)), split[i].want);
}

/* test_addr_list - lists: separators, CR, trailing comma, quoting */
static void test_addr_list(void)
{
	static const struct {
		const char *in;
		const char *want;	/* canonical addresses joined by ' ' */
	} t[] = {
		{ "a@b,\nc@d\n", "a@b c@d" },
		{ "a@b, c@d,\n", "a@b c@d" },
		{ "a@b\r\nc@d\r\n", "a@b c@d" },
		{ "a@b,c@d,e@f", "a@b c@d e@f" },
		{ ",,a@b,,\n,\n", "a@b" },
		{ "\"Smith, J\" <js@x>, b@y", "js@x b@y" },
		{ "<@a,@b:u@c>, d@e", "u%c%b@a d@e" },
		{ "linington%cambridge%pss@ucl,\nbennett@ucl\n",
		  "linington%cambridge%pss@ucl bennett@ucl" },
		{ "x at y, z@w (comment, with comma)", "x@y z@w" },
		{ "", "" },
		{ "\n\n", "" },
	};
	char    err[ADDR_ERRLEN], got[512];
	struct addr_list *l;
	size_t  i, k, o;

	for (i = 0; i < NELEM(t); i++) {
		l = addr_list_parse(t[i].in, strlen(t[i].in), err, sizeof(err));
		if (l == NULL)
			fprintf(stderr, "\ncase %zu: %s\n", i, err);
		CU_ASSERT_FATAL(l != NULL);
		got[0] = 0;
		for (k = o = 0; k < addr_list_count(l); k++) {
			if (k > 0)
				got[o++] = ' ';
			o += addr_format(addr_list_get(l, k), got + o, sizeof(got) - o);
		}
		EXPECT_STR(got, t[i].want);
		CU_ASSERT(addr_list_get(l, addr_list_count(l)) == NULL);
		CU_ASSERT(addr_list_mem(l) > 0);
		addr_list_free(l);
	}
	addr_list_free(NULL);
}

/* test_addr_list_bad - errors name the line */
static void test_addr_list_bad(void)
{
	static const struct {
		const char *in;
		const char *why;
	} t[] = {
		{ "a@b\nbad\n", "line 2: address 'bad': no host part" },
		{ "a@b, c\n", "line 1: address 'c': no host part" },
		{ "a@b\n\nc@d\n\"oops@x\n", "line 4: address '\"oops@x': unterminated quoted string" },
		{ "a@b\r\nx y@z\r\n", "line 2: address 'x y@z': unexpected 'y'" },
	};
	char    err[ADDR_ERRLEN];
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		CU_ASSERT(addr_list_parse(t[i].in, strlen(t[i].in), err, sizeof(err)) == NULL);
		EXPECT_HAS(err, t[i].why);
	}
}

/* test_addr_list_caps - 10,000 addresses, 64 KiB lines, 1 KiB each */
static void test_addr_list_caps(void)
{
	char    err[ADDR_ERRLEN], one[32];
	struct addr_list *l = addr_list_new();
	char   *line;
	size_t  i;
	int     rc = 0;

	for (i = 0; i < ADDR_LIST_MAX && rc == 0; i++) {
		snprintf(one, sizeof(one), "u%zu@h%zu", i, i % 7);
		rc = addr_list_add_line(l, one, strlen(one), i + 1, err, sizeof(err));
	}
	EXPECT_INT(rc, 0);
	EXPECT_INT(addr_list_count(l), ADDR_LIST_MAX);
	CU_ASSERT(addr_list_mem(l) < 1024 * 1024);
	EXPECT_INT(addr_list_add_line(l, "one@more", 8, 10001, err, sizeof(err)), -2);
	EXPECT_HAS(err, "line 10001: address list: more than 10000 addresses");
	EXPECT_INT(addr_list_count(l), ADDR_LIST_MAX);
	addr_list_free(l);

	/* a line over ADDR_LINE_MAX */
	l = addr_list_new();
	line = xmalloc(ADDR_LINE_MAX + 1);
	memset(line, ' ', ADDR_LINE_MAX + 1);
	memcpy(line, "a@b", 3);
	EXPECT_INT(addr_list_add_line(l, line, ADDR_LINE_MAX, 7, err, sizeof(err)), 0);
	EXPECT_INT(addr_list_add_line(l, line, ADDR_LINE_MAX + 1, 8, err, sizeof(err)), -2);
	EXPECT_HAS(err, "line 8: address list line longer than 65536 bytes");
	/* one address over ADDR_MAX_LEN inside a line */
	memset(line, 'x', 2000);
	memcpy(line + 1990, "@ucl", 4);
	EXPECT_INT(addr_list_add_line(l, line, 1994, 9, err, sizeof(err)), -1);
	EXPECT_HAS(err, "line 9: address 'xxxx");
	EXPECT_HAS(err, "longer than 1024 bytes");
	free(line);
	addr_list_free(l);

	/* appending past the cap frees the address */
	l = addr_list_new();
	for (i = 0; i < ADDR_LIST_MAX; i++)
		addr_list_append(l, addr_new("a", "b", NULL, 0), NULL, 0);
	EXPECT_INT(addr_list_append(l, addr_new("a", "b", NULL, 0), err, sizeof(err)), -1);
	addr_list_free(l);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "addr", "every accepted form", test_addr_good },
		{ "addr", "bad input table", test_addr_bad },
		{ "addr", "length caps", test_addr_caps },
		{ "addr", "INDRA % routing ucl -> pss -> cambridge", test_addr_indra },
		{ "addr", "impossible hops", test_addr_hop_bad },
		{ "addr", "case folding", test_addr_case },
		{ "addr", "unsafe local parts", test_addr_unsafe },
		{ "addr", "new, dup, host checks, reverse, split", test_addr_new_misc },
		{ "addr_list", "separators and forms", test_addr_list },
		{ "addr_list", "errors name the line", test_addr_list_bad },
		{ "addr_list", "caps", test_addr_list_caps },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
