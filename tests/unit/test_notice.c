/*++
 * NAME
 *	test_notice 1
 * SUMMARY
 *	CUnit tests of mailchannel/notice: NDN, warning, acknowledgement
 * SYNOPSIS
 *	build/tests/test_notice
 * DESCRIPTION
 *	An NDN reads back as a well-formed letter (address list, header
 *	with From: postmaster@NODE and Failed-Letter: NODE NAME), names
 *	each failed recipient with its reason, quotes the header and at
 *	most NOTICE_QUOTE_LINES lines of the body; notice_is_notice()
 *	recognises it; a too-small buffer fails cleanly. Return-Path: is
 *	where notices go before Sender:/From:, and "<>" gets none.
 *--*/
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "mailchannel/notice.h"
#include "tests/unit/tl_test.h"
#include "util/buf.h"

struct mem {
	const char *p;
	size_t	len, off;
};

static ssize_t mem_read(void *ctx, void *p, size_t len)
{
	struct mem *m = ctx;
	size_t  n = m->len - m->off < len ? m->len - m->off : len;

	memcpy(p, m->p + m->off, n);
	m->off += n;
	return (ssize_t) n;
}

static void test_ndn(void)
{
	static const char hdrtext[] = "From: Chris <bennett@ucl>\nSubject: hello\n\n";
	char    err[NOTICE_ERRLEN], path[] = "/tmp/test_notice.XXXXXX";
	struct buf b = BUF_INIT(NOTICE_MAX);
	struct notice_item items[2] = { { "lin@cam", "unknown user" }, { "x@y", "no route" } };
	struct notice n;
	struct hdr *h = hdr_parse(hdrtext, sizeof(hdrtext) - 1, 1, err, sizeof(err));
	struct letter *lt;
	struct mem m;
	int     fd = mkstemp(path), i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_FATAL(fd >= 0);
	for (i = 0; i < 50; i++)
		CU_ASSERT(dprintf(fd, "body line %d\n", i) > 0);
	memset(&n, 0, sizeof(n));
	n.kind = NOTICE_NDN;
	n.node = "ucl";
	n.letter = "ucl.2611231930.0001a7";
	n.to = "bennett@ucl";
	n.id = "ucl.2611231930.0001a8";
	n.when = 1700000000;
	n.items = items;
	n.nitems = 2;
	n.hdr = h;
	n.body_fd = fd;
	n.body_off = 0;
	CU_ASSERT_EQUAL_FATAL(notice_format(&b, &n, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf_cstr(&b));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_cstr(&b), "From: Mail Relay <postmaster@ucl>\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_cstr(&b), "Failed-Letter: ucl ucl.2611231930.0001a7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_cstr(&b), "lin@cam: failed: unknown user"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_cstr(&b), "Subject: hello"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_cstr(&b), "body line 19\n"));
	CU_ASSERT_PTR_NULL(strstr(buf_cstr(&b), "body line 20\n"));
	m.p = (const char *) buf_data(&b);
	m.len = b.len;
	m.off = 0;
	lt = letter_open(mem_read, &m, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(lt);
	CU_ASSERT(notice_is_notice(letter_hdr(lt)));
	CU_ASSERT(!notice_is_notice(h));
	letter_free(lt);
	buf_release(&b);
	buf_init(&b, 100);
	CU_ASSERT_EQUAL(notice_format(&b, &n, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(b.len, 0);
	buf_release(&b);
	hdr_free(h);
	close(fd);
	unlink(path);
}

/* test_return_path - Return-Path: before Sender:/From: (where notices
 * go), "<>" the null return path that gets none, as a notice gets none */
static void test_return_path(void)
{
	static const struct {
		const char *hdr;
		enum notice_rp want;
		const char *addr;	/* NOTICE_RP_ADDR: the address */
		int	no_return;
	} t[] = {
		{ "From: bennett@ucl\n\n", NOTICE_RP_NONE, NULL, 0 },
		{ "Return-Path: <alice@example.org>\nFrom: bennett@ucl\n\n", NOTICE_RP_ADDR,
		  "alice@example.org", 0 },
		{ "Sender: lin@cam\nreturn-path:   <alice@example.org> \nFrom: b@ucl\n\n",
		  NOTICE_RP_ADDR, "alice@example.org", 0 },
		{ "Return-Path: <>\nFrom: MAILER-DAEMON@example.org\n\n", NOTICE_RP_NULL, NULL,
		  1 },
		{ "Return-Path: < >\nFrom: bennett@ucl\n\n", NOTICE_RP_NULL, NULL, 1 },
		{ "Return-Path: <nohost>\nFrom: bennett@ucl\n\n", NOTICE_RP_BAD, NULL, 0 },
		{ "From: postmaster@ucl\nFailed-Letter: ucl ucl.1\n\n", NOTICE_RP_NONE, NULL, 1 },
	};
	char    err[HDR_ERRLEN], *s;
	struct addr *a;
	struct hdr *h;
	enum notice_rp got;
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		h = hdr_parse(t[i].hdr, strlen(t[i].hdr), 1, err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL_FATAL(h);
		err[0] = '\0';
		got = notice_return_path(h, &a, err, sizeof(err));
		if (got != t[i].want)
			printf("\n  case %zu: got %d, want %d (%s)\n", i, (int) got, (int) t[i].want,
			    err);
		CU_ASSERT_EQUAL(got, t[i].want);
		if (t[i].addr != NULL) {
			CU_ASSERT_PTR_NOT_NULL_FATAL(a);
			s = addr_to_str(a);
			if (strcmp(s, t[i].addr) != 0)
				printf("\n  case %zu: got '%s', want '%s'\n", i, s, t[i].addr);
			CU_ASSERT_STRING_EQUAL(s, t[i].addr);
			free(s);
		} else
			CU_ASSERT_PTR_NULL(a);
		if (t[i].want == NOTICE_RP_BAD)
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "Return-Path"));
		CU_ASSERT_EQUAL(notice_no_return(h), t[i].no_return);
		addr_free(a);
		hdr_free(h);
	}
}

/* test_return_path_route - the % route back goes to the Return-Path:
 * address as it does to the originator (hdr_return_path_for) */
static void test_return_path_route(void)
{
	static const char text[] = "Via: ucl ; Wed, 25 Nov 2026 12:00:00 +0000\n"
	    "Return-Path: <alice@ucl>\nFrom: bennett@elsewhere\n\n";
	char    err[HDR_ERRLEN], *s;
	struct hdr *h = hdr_parse(text, sizeof(text) - 1, 1, err, sizeof(err));
	struct addr *a, *rp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL_FATAL(notice_return_path(h, &a, err, sizeof(err)), NOTICE_RP_ADDR);
	rp = hdr_return_path_for(h, a, "pss", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(rp);
	s = addr_to_str(rp);
	if (strcmp(s, "alice%ucl@pss") != 0)
		printf("\n  got '%s', want 'alice%%ucl@pss'\n", s);
	CU_ASSERT_STRING_EQUAL(s, "alice%ucl@pss");
	free(s);
	addr_free(rp);
	addr_free(a);
	hdr_free(h);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "notice", "ndn", test_ndn },
		{ "notice", "return path", test_return_path },
		{ "notice", "return path route", test_return_path_route },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
