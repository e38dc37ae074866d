/*++
 * NAME
 *	test_trace 1
 * SUMMARY
 *	CUnit tests of relay/trace: collecting, documents, status
 * SYNOPSIS
 *	build/tests/test_trace
 * DESCRIPTION
 *	A journal fixture (a rotated file and the current one) holds three
 *	letters and an NDN. trace_collect() finds a letter by name, by
 *	Message-ID (with or without <> and msgid:), by out/ file, by the
 *	donor's name, and collects the notice it caused, across the
 *	rotation; nothing of the other letters. trace_document() adds the
 *	route lines; trace_doc_parse() reads it back with each letter's
 *	status (delivered, forwarded, queued with the deferral, held,
 *	failed) and rejects what is not a trace document.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "relay/trace.h"
#include "tests/unit/tl_test.h"
#include "util/buf.h"

static char dir[512];

static const char jrotated[] =
"2026-11-25T20:00:00Z recover - undone=0\n"
"2026-11-25T20:00:01Z received ucl.1 from=out/indra.letter size=683 rcpts=a%c@pss msgid=<indra@ucl>\n"
"2026-11-25T20:00:01Z routed ucl.1 rcpts=a%c@pss hops=pss\n";
static const char jcurrent[] =
"2026-11-25T20:00:02Z forwarded ucl.1 to=pss addr=unix:/x/pss.sock remote=pss.7 tid=3 rcpts=a@c\n"
"2026-11-25T20:00:03Z received ucl.2 from=pss calling=pss tid=9 donor=pss/pss.4 size=10 rcpts=b@ucl,x@ucl msgid=<two@pss>\n"
"2026-11-25T20:00:03Z routed ucl.2 rcpts=b@ucl,x@ucl hops=local\n"
"2026-11-25T20:00:04Z delivered ucl.2 rcpt=b@ucl mailbox=/m/b/new/ucl.2\n"
"2026-11-25T20:00:04Z failed ucl.2 rcpt=x@ucl reason=\"unknown user\" to=local\n"
"2026-11-25T20:00:04Z received ucl.3 from=notice:ucl.2 rcpts=someone@pss\n"
"2026-11-25T20:00:04Z ndn ucl.2 notice=ucl.3 to=someone@pss\n"
"2026-11-25T20:00:05Z routed ucl.3 rcpts=someone@pss hops=pss\n"
"2026-11-25T20:00:06Z deferred ucl.3 to=pss reason=\"connect: refused\" next=2026-11-25T20:01:06Z attempts=1\n"
"2026-11-25T20:00:07Z received ucl.4 from=submit size=5 rcpts=q@pss msgid=<four@ucl>\n"
"2026-11-25T20:00:07Z routed ucl.4 rcpts=q@pss hops=pss\n"
"2026-11-25T20:00:08Z held ucl.4 by=root\n"
"this line is not a journal line\n";

static int init(void)
{
	char    p[600];

	if (tl_tmpdir(dir, sizeof(dir), "test_trace") < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/journal.1", dir);
	if (tl_write_file(p, jrotated) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/journal", dir);
	return tl_write_file(p, jcurrent);
}

static int clean(void)
{
	return tl_rmtree(dir);
}

/* doc - collect key and parse the document; NULL when nothing found */
static struct trace_doc *doc(const char *key, int *found)
{
	struct buf lines = BUF_INIT(TRACE_DOC_MAX), d = BUF_INIT(TRACE_DOC_MAX);
	char    err[TRACE_ERRLEN];
	struct trace_doc *td;

	*found = trace_collect(dir, key, &lines, err, sizeof(err));
	CU_ASSERT_FATAL(*found >= 0);
	CU_ASSERT_FATAL(trace_document("ucl", key, NULL, (const char *) buf_data(&lines),
	    lines.len, *found, &d) == 0);
	td = trace_doc_parse((const char *) buf_data(&d), d.len, err, sizeof(err));
	if (td == NULL)
		fprintf(stderr, "\nparse: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(td);
	buf_release(&lines);
	buf_release(&d);
	return td;
}

static void test_keys(void)
{
	static const struct { const char *key, *root; int n; } t[] = {
		{ "ucl.1", "ucl.1", 1 },
		{ "indra@ucl", "ucl.1", 1 },
		{ "<indra@ucl>", "ucl.1", 1 },
		{ "msgid:indra@ucl", "ucl.1", 1 },
		{ "indra.letter", "ucl.1", 1 },
		{ "out:indra.letter", "ucl.1", 1 },
		{ "pss.4", "ucl.2", 2 },		/* the donor's name; and its notice */
		{ "ucl.2", "ucl.2", 2 },
		{ "ucl.3", "ucl.3", 1 },
		{ "msgid:ucl.1", NULL, 0 },		/* msgid: forces the Message-ID */
		{ "nosuch", NULL, 0 },
	};
	size_t  i;
	int     n;

	for (i = 0; i < NELEM(t); i++) {
		struct trace_doc *d = doc(t[i].key, &n);
		const struct trace_letter *r = trace_root(d);

		EXPECT_INT(n, t[i].n);
		EXPECT_INT(d->nl, t[i].n);
		EXPECT_STR(d->node, "ucl");
		EXPECT_STR(d->key, t[i].key);
		EXPECT_STR(r ? r->name : NULL, t[i].root);
		trace_doc_free(d);
	}
}

static void test_status(void)
{
	int     n;
	struct trace_doc *d = doc("ucl.1", &n);
	const struct trace_letter *l = trace_find(d, "ucl.1");

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	EXPECT_INT(l->nev, 3);			/* across the rotation */
	EXPECT_STR(l->recv ? l->recv->event : NULL, "received");
	EXPECT_STR(trace_ev_get(l->recv, "from"), "out/indra.letter");
	EXPECT_STR(l->status, "forwarded");
	EXPECT_STR(trace_ev_get(&l->ev[2], "remote"), "pss.7");
	trace_doc_free(d);

	d = doc("ucl.2", &n);
	l = trace_find(d, "ucl.2");
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	EXPECT_STR(l->status, "delivered+failed");
	l = trace_find(d, "ucl.3");
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	EXPECT_STR(l->status, "queued");
	EXPECT_HAS(l->detail, "connect: refused");
	EXPECT_HAS(l->detail, "2026-11-25T20:01:06Z");
	EXPECT_STR(trace_root(d)->name, "ucl.2");
	trace_doc_free(d);

	d = doc("four@ucl", &n);
	l = trace_find(d, "ucl.4");
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	EXPECT_STR(l->status, "held");
	trace_doc_free(d);
}

static void test_parse_bad(void)
{
	static const char *bad[] = {
		"",
		"2026-11-25T20:00:01Z received ucl.1 from=x\n",		/* no header */
		"2026-11-25T20:00:01Z trace k version=1\n",		/* no node */
		"2026-11-25T20:00:01Z trace k node=ucl\nnot a line\n",
		"2026-11-25T20:00:01Z trace k node=ucl\n2026-11-25T20:00:01Z received x",
	};
	char    err[TRACE_ERRLEN];
	size_t  i;

	for (i = 0; i < NELEM(bad); i++) {
		struct trace_doc *d = trace_doc_parse(bad[i], strlen(bad[i]), err, sizeof(err));

		EXPECT_TRUE(d == NULL);
		trace_doc_free(d);
	}
}

static void test_service(void)
{
	static const struct { const char *in, *out; } t[] = {
		{ "FTP.MAIL", "FTP" }, { "ftp.mail", "ftp" }, { "JANET.FTP.MAIL", "JANET.FTP" },
		{ "FTP", "FTP" }, { "OTHER", "FTP" }, { NULL, "FTP" },
	};
	char    b[64];
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		trace_service(t[i].in, b, sizeof(b));
		EXPECT_STR(b, t[i].out);
	}
}

static void test_json(void)
{
	struct buf b = BUF_INIT(1024);

	trace_json_str(&b, "a\"b\\c\n\x01\xe9");
	trace_json_str(&b, NULL);
	EXPECT_STR(buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\\u00e9\"null");
	buf_release(&b);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "trace", "keys", test_keys },
		{ "trace", "status", test_status },
		{ "trace", "parse_bad", test_parse_bad },
		{ "trace", "service", test_service },
		{ "trace", "json", test_json },
	};

	return tl_run(tests, NELEM(tests), init, clean);
}
