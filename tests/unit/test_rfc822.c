/*++
 * NAME
 *	test_rfc822 1
 * SUMMARY
 *	CUnit tests of mailchannel/rfc822: RFC 733 address forms made RFC 822
 * SYNOPSIS
 *	build/tests/test_rfc822
 * DESCRIPTION
 *	Field bodies in, field bodies out: the "at" host indicator, RFC 733
 *	multiple host indicators made % routes (quoted local parts too),
 *	big-endian domains turned around by a top-level list, and what must
 *	stay as written: phrases, groups' names, comments, quoted strings,
 *	folding, addresses already RFC 822, malformed fields, domain
 *	literals in hops; then the envelope form (rfc822_addr_fix), the
 *	field names and the output cap.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/rfc822.h"
#include "tests/unit/tl_test.h"
#include "util/buf.h"

/* fix - rfc822_fix of in; the count into *np; the body (static) */
static const char *fix(const char *in, const char *tops, int *np)
{
	static char out[4096];
	struct buf b = BUF_INIT(sizeof(out) - 1);

	*np = rfc822_fix(&b, in, strlen(in), tops);
	if (b.len > 0)
		memcpy(out, buf_data(&b), b.len);
	out[b.len] = '\0';
	buf_release(&b);
	return out;
}

struct fcase {
	const char *in, *tops, *want;
	int	n;
};

static void run(const struct fcase *c, size_t nc)
{
	for (size_t i = 0; i < nc; i++) {
		int     n;
		const char *got = fix(c[i].in, c[i].tops, &n);

		if (strcmp(got, c[i].want) != 0 || n != c[i].n)
			fprintf(stderr, "case %zu: '%s' gave '%s' (%d), want '%s' (%d)\n", i,
			    c[i].in, got, n, c[i].want, c[i].n);
		EXPECT_STR(got, c[i].want);
		EXPECT_INT(n, c[i].n);
	}
}

static void test_at(void)
{
	static const struct fcase c[] = {
		{ " Bennett at UCL", NULL, " Bennett@UCL", 1 },
		{ " Bennett AT UCL\n", NULL, " Bennett@UCL\n", 1 },
		{ " bennett at ucl, lin at cam", NULL, " bennett@ucl, lin@cam", 2 },
		{ " Chris Bennett <bennett at ucl>", NULL, " Chris Bennett <bennett@ucl>", 1 },
		/* the phrase keeps its "at" */
		{ " Meet at noon <x at y>", NULL, " Meet at noon <x@y>", 1 },
		{ " Meet at noon <x@y>", NULL, " Meet at noon <x@y>", 0 },
		/* a group's name keeps its "at", its members are addresses */
		{ " Staff at UCL: a at b, c@d;", NULL, " Staff at UCL: a@b, c@d;", 1 },
		{ " j.smith at ucl.cs", NULL, " j.smith@ucl.cs", 1 },
		{ " \"j smith\" at ucl", NULL, " \"j smith\"@ucl", 1 },
		/* comments follow the rewritten address */
		{ " bennett (Chris) at ucl (UCL CS)", NULL, " bennett@ucl (Chris) (UCL CS)", 1 },
		{ " (first) bennett at ucl", NULL, " (first) bennett@ucl", 1 },
		/* folding between addresses kept; inside one joined */
		{ " a at b,\n\tc at d\n", NULL, " a@b,\n\tc@d\n", 2 },
		{ " a\n at b", NULL, " a@b", 1 },
		/* not addresses: left alone */
		{ " Bennett", NULL, " Bennett", 0 },
		{ " John Smith at UCL", NULL, " John Smith at UCL", 0 },
		{ " at at at", NULL, " at@at", 1 },
		{ " a at", NULL, " a at", 0 },
		/* RFC 733 wants white space around "at" */
		{ " \"x\"at y", NULL, " \"x\"at y", 0 },
		{ " a(c)at b", NULL, " a@b (c)", 1 },
		{ "", NULL, "", 0 },
		{ " <>", NULL, " <>", 0 },
	};

	run(c, NELEM(c));
}

static void test_routes(void)
{
	static const struct fcase c[] = {
		{ " lin@cambridge@pss", NULL, " lin%cambridge@pss", 1 },
		{ " lin at cambridge at pss", NULL, " lin%cambridge@pss", 1 },
		{ " lin%cambridge@pss", NULL, " lin%cambridge@pss", 0 },
		{ " a@b@c@d", NULL, " a%b%c@d", 1 },
		{ " X <lin@cam@pss>", NULL, " X <lin%cam@pss>", 1 },
		{ " \"j smith\"@cam@pss", NULL, " \"j smith%cam\"@pss", 1 },
		/* a hop that is a domain literal cannot join the local part */
		{ " lin@[10.0.0.1]@pss", NULL, " lin@[10.0.0.1]@pss", 0 },
		{ " lin@pss@[10.0.0.1]", NULL, " lin%pss@[10.0.0.1]", 1 },
		/* a quoted word among others: left as written */
		{ " a.\"b c\"@x@y", NULL, " a.\"b c\"@x@y", 0 },
		/* an RFC 822 route is kept: only its addr-spec is looked at */
		{ " <@pss,@cam:lin@cam2>", NULL, " <@pss,@cam:lin@cam2>", 0 },
		{ " <@pss:lin at cam2>", NULL, " <@pss:lin@cam2>", 1 },
	};

	run(c, NELEM(c));
}

static void test_big_endian(void)
{
	static const struct fcase c[] = {
		{ " bennett@uk.ac.ucl", "uk", " bennett@ucl.ac.uk", 1 },
		{ " bennett@UK.AC.UCL.CS", "uk", " bennett@CS.UCL.AC.UK", 1 },
		{ " bennett@uk.ac.ucl", NULL, " bennett@uk.ac.ucl", 0 },
		{ " bennett@ucl.ac.uk", "uk", " bennett@ucl.ac.uk", 0 },
		/* first and last label both tops: which order is it? left */
		{ " a@uk.co.uk", "uk", " a@uk.co.uk", 0 },
		{ " a@uk", "uk", " a@uk", 0 },
		{ " a@nl.x.y", "uk, nl", " a@y.x.nl", 1 },
		{ " a@cam%uk.ac.ucl", "uk", " a@cam%uk.ac.ucl", 0 },
		{ " a@uk.ac.cam@uk.ac.ucl", "uk", " a%cam.ac.uk@ucl.ac.uk", 1 },
		{ " C B <bennett at uk.ac.ucl>", "uk", " C B <bennett@ucl.ac.uk>", 1 },
		{ " a@[uk.ac.ucl]", "uk", " a@[uk.ac.ucl]", 0 },
	};
	char    d[300];

	run(c, NELEM(c));
	EXPECT_INT((int) rfc822_big_endian("uk.ac.ucl", 9, "uk", d, sizeof(d)), 9);
	EXPECT_STR(d, "ucl.ac.uk");
	EXPECT_INT((int) rfc822_big_endian("uk.ac.ucl", 9, "uk", d, 5), 0);
	EXPECT_INT((int) rfc822_big_endian("uk.ac.ucl", 9, "", d, sizeof(d)), 0);
	EXPECT_INT((int) rfc822_big_endian("uk.ac.ucl", 9, NULL, d, sizeof(d)), 0);
	EXPECT_INT((int) rfc822_big_endian("ukx.ac.ucl", 10, "uk", d, sizeof(d)), 0);
	EXPECT_INT((int) rfc822_big_endian("uk.ac.ucl", 9, "u", d, sizeof(d)), 0);
}

static void test_malformed(void)
{
	static const struct fcase c[] = {
		/* unbalanced: the whole field is copied */
		{ " \"a at b", NULL, " \"a at b", 0 },
		{ " (a at b", NULL, " (a at b", 0 },
		{ " a at b)", NULL, " a at b)", 0 },
		{ " a@[b", NULL, " a@[b", 0 },
		{ " x\\ at y", NULL, " x\\ at y", 0 },
		/* a unit with a stray ">" or nested "<" is copied; the others not */
		{ " a at b>, c at d", NULL, " a at b>, c@d", 1 },
		{ " <a <b at c>>, d at e", NULL, " <a <b at c>>, d@e", 1 },
		{ " <a at b", NULL, " <a at b", 0 },
		/* control octets are atoms of their own: no address */
		{ " a\001 at b", NULL, " a\001 at b", 0 },
	};

	run(c, NELEM(c));
}

static void test_envelope(void)
{
	char    d[300];

	EXPECT_INT(rfc822_addr_fix("bennett@uk.ac.ucl", "uk", d, sizeof(d)), 1);
	EXPECT_STR(d, "bennett@ucl.ac.uk");
	EXPECT_INT(rfc822_addr_fix("lin%uk.ac.cam@uk.ac.ucl", "uk", d, sizeof(d)), 1);
	EXPECT_STR(d, "lin%cam.ac.uk@ucl.ac.uk");
	EXPECT_INT(rfc822_addr_fix("lin%uk.ac.cam%pss@gw", "uk", d, sizeof(d)), 1);
	EXPECT_STR(d, "lin%cam.ac.uk%pss@gw");
	EXPECT_INT(rfc822_addr_fix("lin%cam@pss", "uk", d, sizeof(d)), 0);
	EXPECT_STR(d, "lin%cam@pss");
	EXPECT_INT(rfc822_addr_fix("\"a%uk.x\"@uk.ac.ucl", "uk", d, sizeof(d)), 1);
	EXPECT_STR(d, "\"a%uk.x\"@ucl.ac.uk");
	EXPECT_INT(rfc822_addr_fix("bennett@uk.ac.ucl", "", d, sizeof(d)), 0);
	EXPECT_STR(d, "bennett@uk.ac.ucl");
	EXPECT_INT(rfc822_addr_fix("nohost", "uk", d, sizeof(d)), 0);
	EXPECT_STR(d, "nohost");
	EXPECT_INT(rfc822_addr_fix("bennett@uk.ac.ucl", "uk", d, 10), -1);
}

static void test_fields_and_cap(void)
{
	struct buf b = BUF_INIT(8);
	const char *in = " bennett at ucl";

	EXPECT_INT(rfc822_addr_field("From", 4), 1);
	EXPECT_INT(rfc822_addr_field("resent-CC", 9), 1);
	EXPECT_INT(rfc822_addr_field("Return-Path", 11), 1);
	EXPECT_INT(rfc822_addr_field("Subject", 7), 0);
	EXPECT_INT(rfc822_addr_field("Fromx", 5), 0);
	EXPECT_INT(rfc822_addr_field("To", 1), 0);
	EXPECT_INT(rfc822_fix(&b, in, strlen(in), NULL), -1);
	buf_release(&b);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "rfc822", "the at host indicator", test_at },
		{ "rfc822", "multiple host indicators", test_routes },
		{ "rfc822", "big-endian domains", test_big_endian },
		{ "rfc822", "malformed fields", test_malformed },
		{ "rfc822", "envelope addresses", test_envelope },
		{ "rfc822", "field names, the cap", test_fields_and_cap },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
