/*++
 * NAME
 *	test_hdr 1
 * SUMMARY
 *	CUnit tests of mailchannel/hdr: fields, originator, Via:, return path
 * SYNOPSIS
 *	build/tests/test_hdr
 * DESCRIPTION
 *	Field finding over folded lines (LF and CRLF), unfolding, 8-bit
 *	bytes kept, bad header blocks with the line named, the originator
 *	rule, Via: counting, order, skipping of invalid lines and insertion
 *	(the INDRA example from ucl through pss), RFC 822 dates, and the
 *	return path table.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"

static const char sample[] =
	"Date: 23 Jan 81 1200-GMT\n"
	"From: Chris Bennett\n"
	"  <bennett@ucl>\n"
	"to: linington%cambridge%pss@ucl\n"
	"Subject: a long\n"
	"\tsubject line\n"
	"Message-ID: <1@ucl>\n"
	"Reply-To : bennett@ucl\n"
	"Acknowledge-To: bennett@ucl\n"
	"Failed-Letter: ucl ucl.2611231930.0001a7\n"
	"X-8bit: caf\xc3\xa9 \xff\n"
	"\n";

/* hdr_of - parse text or fail the test */
static struct hdr *hdr_of(const char *text, unsigned long line)
{
	char    err[HDR_ERRLEN];
	struct hdr *h = hdr_parse(text, strlen(text), line, err, sizeof(err));

	if (h == NULL)
		fprintf(stderr, "\nhdr_parse: %s\n", err);
	CU_ASSERT_FATAL(h != NULL);
	return h;
}

/* test_hdr_fields - finding, unfolding, lines, names */
static void test_hdr_fields(void)
{
	static const struct {
		const char *name;
		long	index;
		const char *value;
		unsigned long line;
	} t[] = {
		{ "Date", 0, "23 Jan 81 1200-GMT", 5 },
		{ "FROM", 1, "Chris Bennett  <bennett@ucl>", 6 },
		{ "To", 2, "linington%cambridge%pss@ucl", 8 },
		{ "subject", 3, "a long\tsubject line", 9 },
		{ HDR_MESSAGE_ID, 4, "<1@ucl>", 11 },
		{ HDR_REPLY_TO, 5, "bennett@ucl", 12 },
		{ HDR_ACK_TO, 6, "bennett@ucl", 13 },
		{ HDR_FAILED_LETTER, 7, "ucl ucl.2611231930.0001a7", 14 },
		{ "x-8BIT", 8, "caf\xc3\xa9 \xff", 15 },
		{ HDR_SENDER, -1, NULL, 0 },
		{ "Fro", -1, NULL, 0 },
		{ "From:", -1, NULL, 0 },
	};
	struct hdr *h = hdr_of(sample, 5);
	const char *p;
	size_t  i, n;
	char   *v;

	EXPECT_INT(hdr_count(h), 9);
	EXPECT_INT(hdr_crlf(h), 0);
	p = hdr_block(h, &n);
	EXPECT_INT(n, strlen(sample));
	CU_ASSERT(memcmp(p, sample, n) == 0);
	for (i = 0; i < NELEM(t); i++) {
		EXPECT_INT(hdr_find(h, t[i].name, 0), t[i].index);
		v = hdr_get(h, t[i].name);
		EXPECT_STR(v, t[i].value);
		free(v);
		if (t[i].index >= 0)
			EXPECT_INT(hdr_line(h, (size_t) t[i].index), t[i].line);
	}
	/* names exclude the RFC 733 white space before ':' */
	p = hdr_name(h, 5, &n);
	EXPECT_INT(n, 8);
	CU_ASSERT(memcmp(p, "Reply-To", 8) == 0);
	/* raw bytes include the folded line */
	p = hdr_raw(h, 1, &n);
	EXPECT_INT(n, strlen("From: Chris Bennett\n  <bennett@ucl>\n"));
	CU_ASSERT(memcmp(p, "From: Chris Bennett\n  <bennett@ucl>\n", n) == 0);
	EXPECT_INT(hdr_find(h, "from", 2), -1);
	CU_ASSERT(hdr_mem(h) > strlen(sample));
	hdr_free(h);
	hdr_free(NULL);
}

/* test_hdr_crlf - CRLF blocks, folding, no trailing blank line */
static void test_hdr_crlf(void)
{
	static const char text[] =
		"From: a@b\r\n"
		"Subject: one\r\n"
		" two\r\n"
		"\r\n";
	struct hdr *h = hdr_of(text, 1);
	char   *v;

	EXPECT_INT(hdr_crlf(h), 1);
	EXPECT_INT(hdr_count(h), 2);
	v = hdr_get(h, "subject");
	EXPECT_STR(v, "one two");
	free(v);
	hdr_free(h);

	/* a header that ends at the end of the block, without blank line */
	h = hdr_of("From: a@b\nTo: c@d", 1);
	EXPECT_INT(hdr_count(h), 2);
	v = hdr_get(h, "to");
	EXPECT_STR(v, "c@d");
	free(v);
	hdr_free(h);

	/* an empty block and a whitespace-only blank line */
	h = hdr_of("", 1);
	EXPECT_INT(hdr_count(h), 0);
	hdr_free(h);
	h = hdr_of("From: a@b\n \t\n", 1);
	EXPECT_INT(hdr_count(h), 1);
	hdr_free(h);
}

/* test_hdr_bad - refused blocks name the line */
static void test_hdr_bad(void)
{
	static const struct {
		const char *text;
		size_t	len;
		const char *why;
	} t[] = {
		{ " From: a@b\n", 0, "line 10: header starts with a continuation line" },
		{ "From: a@b\nHello world\n", 0, "line 11: 'Hello world' is not a header field" },
		{ "From: a@b\n: x\n", 0, "line 11: ': x' is not a header field" },
		{ "From a@b\n", 0, "line 10: 'From a@b' is not a header field" },
		{ "From: a@b\n\nbody\n", 0, "line 11: header continues after its blank line" },
		{ "From: a@b\nTo: c\0d\n", 19, "line 11: NUL byte in the message header" },
		{ "Bad\x01Name: x\n", 0, "line 10: 'Bad\\x01Name: x' is not a header field" },
	};
	char    err[HDR_ERRLEN];
	char   *big;
	size_t  i, len;

	for (i = 0; i < NELEM(t); i++) {
		len = t[i].len ? t[i].len : strlen(t[i].text);
		err[0] = 0;
		CU_ASSERT(hdr_parse(t[i].text, len, 10, err, sizeof(err)) == NULL);
		EXPECT_HAS(err, t[i].why);
	}
	/* caps: size and field count */
	big = xmalloc(HDR_MAX + 2);
	memset(big, 'x', HDR_MAX + 1);
	memcpy(big, "X: ", 3);
	big[HDR_MAX] = '\n';
	CU_ASSERT(hdr_parse(big, HDR_MAX + 1, 1, err, sizeof(err)) == NULL);
	EXPECT_HAS(err, "message header longer than 262144 bytes");
	for (i = 0; i < HDR_FIELDS_MAX + 1; i++)
		memcpy(big + 3 * i, "a:\n", 3);
	CU_ASSERT(hdr_parse(big, 3 * (HDR_FIELDS_MAX + 1), 1, err, sizeof(err)) == NULL);
	EXPECT_HAS(err, "line 10001: header has more than 10000 fields");
	free(big);
}

/* test_hdr_originator - Sender: over From:, first mailbox, errors */
static void test_hdr_originator(void)
{
	static const struct {
		const char *text;
		const char *want;	/* canonical address, or NULL */
		const char *why;
	} t[] = {
		{ "From: bennett@ucl\n", "bennett@ucl", NULL },
		{ "From: Chris <bennett@ucl>\nSender: sec@ucl\n", "sec@ucl", NULL },
		{ "Sender: sec at ucl\nFrom: bennett@ucl\n", "sec@ucl", NULL },
		{ "From: a@x, b@y\n", "a@x", NULL },
		{ "From: , a@x\n", "a@x", NULL },
		{ "From: \"Smith, J\" <js@x>, b@y\n", "js@x", NULL },
		{ "from:\n  bennett\n  @ucl\n", "bennett@ucl", NULL },
		{ "To: a@b\n", NULL, "no originator (no Sender: or From: field)" },
		{ "To: a@b\nFrom: bennett\n", NULL, "line 2: From: address 'bennett': no host part" },
		{ "From: a@b\nSender: \n", NULL, "line 2: Sender: address '': empty address" },
	};
	char    err[HDR_ERRLEN];
	struct hdr *h;
	struct addr *a;
	size_t  i;
	char   *s;

	for (i = 0; i < NELEM(t); i++) {
		h = hdr_of(t[i].text, 1);
		err[0] = 0;
		a = hdr_originator(h, err, sizeof(err));
		if (t[i].want != NULL) {
			if (a == NULL)
				fprintf(stderr, "\ncase %zu: %s\n", i, err);
			CU_ASSERT_FATAL(a != NULL);
			s = addr_to_str(a);
			EXPECT_STR(s, t[i].want);
			free(s);
		} else {
			CU_ASSERT(a == NULL);
			EXPECT_HAS(err, t[i].why);
		}
		addr_free(a);
		hdr_free(h);
	}
	h = hdr_of("From: a@b\n", 1);
	CU_ASSERT(hdr_mailbox(h, HDR_REPLY_TO, err, sizeof(err)) == NULL);
	EXPECT_STR(err, "no Reply-To: field");
	hdr_free(h);
}

/* test_hdr_via_read - count, order, invalid lines skipped */
static void test_hdr_via_read(void)
{
	static const char text[] =
		"Via: pss ; Tue, 14 Nov 2023 22:13:20 +0000\n"
		"Via: (gateway) UCL.ac.uk (London)\n"
		"  ; Tue, 14 Nov 2023 22:10:00 +0000\n"
		"Via: no-semicolon\n"
		"Via: bad host ; date\n"
		"Via: ; date\n"
		"Via: (unterminated ; date\n"
		"via: cam;23 Jan 81 1200-GMT\n"
		"From: bennett@ucl\n";
	static const char *const want[] = { "pss", "UCL.ac.uk", "cam" };
	struct hdr *h = hdr_of(text, 1);
	char  **v;
	size_t  n, i;

	EXPECT_INT(hdr_via_count(h), 7);
	v = hdr_via_hosts(h, &n);
	EXPECT_INT(n, NELEM(want));
	for (i = 0; i < n && i < NELEM(want); i++)
		EXPECT_STR(v[i], want[i]);
	CU_ASSERT(v[n] == NULL);
	hdr_strv_free(v);
	hdr_free(h);

	h = hdr_of("From: a@b\n", 1);
	EXPECT_INT(hdr_via_count(h), 0);
	v = hdr_via_hosts(h, NULL);
	CU_ASSERT(v[0] == NULL);
	hdr_strv_free(v);
	hdr_free(h);
	hdr_strv_free(NULL);
}

/* test_hdr_date - RFC 822 date-time, UTC, locale-free */
static void test_hdr_date(void)
{
	static const struct {
		time_t	t;
		const char *want;
	} t[] = {
		{ 0, "Thu, 01 Jan 1970 00:00:00 +0000" },
		{ 1700000000, "Tue, 14 Nov 2023 22:13:20 +0000" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ 4102444799, "Thu, 31 Dec 2099 23:59:59 +0000" },
	};
	char    buf[HDR_DATE_LEN], via[128];
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		EXPECT_INT(hdr_date(t[i].t, buf, sizeof(buf)), strlen(t[i].want));
		EXPECT_STR(buf, t[i].want);
	}
	EXPECT_INT(hdr_via_line("ucl", 0, 0, via, sizeof(via)),
	    strlen("Via: ucl ; Thu, 01 Jan 1970 00:00:00 +0000\n"));
	EXPECT_STR(via, "Via: ucl ; Thu, 01 Jan 1970 00:00:00 +0000\n");
	hdr_via_line("ucl", 0, 1, via, sizeof(via));
	EXPECT_STR(via, "Via: ucl ; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
	EXPECT_INT(hdr_via_line("bad host", 0, 0, via, sizeof(via)), 0);
	EXPECT_STR(via, "");
}

/* test_hdr_via_insert - the INDRA example: ucl, then pss */
static void test_hdr_via_insert(void)
{
	static const char text[] =
		"Date: 23 Jan 81 1200-GMT\n"
		"From: Chris Bennett <bennett@ucl>\n"
		"To: linington%cambridge%pss@ucl\n"
		"\n";
	static const char want[] =
		"Via: pss ; Tue, 14 Nov 2023 22:13:20 +0000\n"
		"Via: ucl ; Tue, 14 Nov 2023 22:10:00 +0000\n"
		"Date: 23 Jan 81 1200-GMT\n"
		"From: Chris Bennett <bennett@ucl>\n"
		"To: linington%cambridge%pss@ucl\n"
		"\n";
	char    err[HDR_ERRLEN];
	struct hdr *h = hdr_of(text, 4);
	const char *p;
	char  **v;
	size_t  n;
	char   *s;

	EXPECT_INT(hdr_insert_via(h, "ucl", 1700000000 - 200, err, sizeof(err)), 0);
	EXPECT_INT(hdr_via_count(h), 1);
	EXPECT_INT(hdr_insert_via(h, "pss", 1700000000, err, sizeof(err)), 0);
	EXPECT_INT(hdr_via_count(h), 2);
	p = hdr_block(h, &n);
	EXPECT_INT(n, strlen(want));
	CU_ASSERT(n == strlen(want) && memcmp(p, want, n) == 0);
	v = hdr_via_hosts(h, &n);
	EXPECT_INT(n, 2);
	EXPECT_STR(v[0], "pss");
	EXPECT_STR(v[1], "ucl");
	hdr_strv_free(v);
	/* the other fields are still found, with their original lines */
	EXPECT_INT(hdr_find(h, "from", 0), 3);
	EXPECT_INT(hdr_line(h, 3), 5);
	s = hdr_get(h, "to");
	EXPECT_STR(s, "linington%cambridge%pss@ucl");
	free(s);
	EXPECT_INT(hdr_insert_via(h, "no good", 0, err, sizeof(err)), -1);
	EXPECT_HAS(err, "insert Via: host name 'no good'");
	hdr_free(h);

	/* CRLF headers get a CRLF Via: line */
	h = hdr_of("From: a@b\r\n\r\n", 1);
	EXPECT_INT(hdr_insert_via(h, "ucl", 0, err, sizeof(err)), 0);
	p = hdr_block(h, &n);
	EXPECT_INT(n, strlen("Via: ucl ; Thu, 01 Jan 1970 00:00:00 +0000\r\nFrom: a@b\r\n\r\n"));
	CU_ASSERT(memcmp(p, "Via: ucl ; Thu, 01 Jan 1970 00:00:00 +0000\r\nFrom: a@b\r\n\r\n",
	    n) == 0);
	hdr_free(h);

	/* an empty header may receive a Via: too */
	h = hdr_of("", 1);
	EXPECT_INT(hdr_insert_via(h, "ucl", 0, err, sizeof(err)), 0);
	EXPECT_INT(hdr_count(h), 1);
	hdr_free(h);
}

/* test_hdr_return_path - the % route back to the originator */
static void test_hdr_return_path(void)
{
	static const struct {
		const char *text;
		const char *calling;
		const char *want;
		const char *why;
	} t[] = {
		/* INDRA example, NDN built at cambridge, which pss called */
		{ "Via: pss ; d\nVia: ucl ; d\nFrom: Chris Bennett <bennett@ucl>\n",
		  "pss", "bennett%ucl@pss", NULL },
		/* the same built at pss, which ucl called */
		{ "Via: ucl ; d\nFrom: bennett@ucl\n", "ucl", "bennett@ucl", NULL },
		{ "From: bennett@ucl\n", "ucl", "bennett@ucl", NULL },
		{ "From: bennett@ucl\n", NULL, "bennett@ucl", NULL },
		{ "From: bennett@ucl\n", "", "bennett@ucl", NULL },
		{ "Via: relay2 ; d\nVia: relay1 ; d\nFrom: a@orig\n", "gw",
		  "a%orig%relay1%relay2@gw", NULL },
		{ "Via: relay2 ; d\nVia: relay1 ; d\nFrom: a@orig\n", NULL,
		  "a%orig%relay1@relay2", NULL },
		{ "Via: PSS ; d\nVia: ucl ; d\nFrom: a%x@UCL\n", "pss", "a%x%UCL@pss", NULL },
		{ "Via: pss ; d\nVia: bad host ; d\nVia: ucl ; d\nFrom: u@orig\n", "pss",
		  "u%orig%ucl@pss", NULL },
		{ "Via: b ; d\nVia: a ; d\nVia: b ; d\nFrom: u@o\n", "c", "u%o%b%a%b@c", NULL },
		{ "Via: o ; d\nFrom: u@o\nSender: s@t\n", "o", "s%t@o", NULL },
		{ "To: x@y\n", "pss", NULL, "no originator" },
		{ "From: u@o\n", "bad host", NULL, "return path: calling host name 'bad host'" },
	};
	char    err[HDR_ERRLEN];
	struct hdr *h;
	struct addr *a;
	size_t  i;
	char   *s;

	for (i = 0; i < NELEM(t); i++) {
		h = hdr_of(t[i].text, 1);
		err[0] = 0;
		a = hdr_return_path(h, t[i].calling, err, sizeof(err));
		if (t[i].want != NULL) {
			if (a == NULL)
				fprintf(stderr, "\ncase %zu: %s\n", i, err);
			CU_ASSERT_FATAL(a != NULL);
			s = addr_to_str(a);
			EXPECT_STR(s, t[i].want);
			free(s);
		} else {
			CU_ASSERT(a == NULL);
			EXPECT_HAS(err, t[i].why);
		}
		addr_free(a);
		hdr_free(h);
	}
}

/* test_hdr_return_path_long - the result is capped like any address */
static void test_hdr_return_path_long(void)
{
	char    err[HDR_ERRLEN];
	struct buf b = BUF_INIT(HDR_MAX);
	struct hdr *h;
	struct addr *a;
	int     i;

	for (i = 0; i < 60; i++)
		buf_printf(&b, "Via: relay-with-a-rather-long-name-%02d ; d\n", i);
	buf_printf(&b, "From: u@o\n");
	h = hdr_parse((const char *) buf_data(&b), b.len, 1, err, sizeof(err));
	CU_ASSERT_FATAL(h != NULL);
	a = hdr_return_path(h, "gw", err, sizeof(err));
	CU_ASSERT(a == NULL);
	EXPECT_HAS(err, "return path: longer than 1024 bytes");
	addr_free(a);
	hdr_free(h);
	buf_release(&b);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "hdr", "fields, folding, 8-bit", test_hdr_fields },
		{ "hdr", "CRLF, no blank line, empty", test_hdr_crlf },
		{ "hdr", "bad blocks name the line", test_hdr_bad },
		{ "hdr", "originator", test_hdr_originator },
		{ "via", "count, order, invalid skipped", test_hdr_via_read },
		{ "via", "RFC 822 dates and Via: lines", test_hdr_date },
		{ "via", "insertion, INDRA ucl then pss", test_hdr_via_insert },
		{ "via", "return path table", test_hdr_return_path },
		{ "via", "return path cap", test_hdr_return_path_long },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
