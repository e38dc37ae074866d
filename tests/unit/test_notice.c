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
 *	recognises it; a too-small buffer fails cleanly.
 *--*/
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

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

int main(void)
{
	static const struct tl_test tests[] = {
		{ "notice", "ndn", test_ndn },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
