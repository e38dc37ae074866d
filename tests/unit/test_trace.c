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
 *	failed) and rejects what is not a trace document. A letter the
 *	operator bounced while it waited for several next hops (failed
 *	lines with to=-) is failed, returned to the sender, at every hop;
 *	the router's to=- failures leave the hops it routed queued; an
 *	ndn's to= is not taken for a next hop.
 *
 *	Identity: in a second journal (received lines with peer= and auth=,
 *	as relay/relayd_recv.c writes them), a previous hop's name finds a
 *	letter only when the line's authenticated peer is that hop (or the
 *	caller was local, or the line predates peers), out:FILE only a drop
 *	or a local caller's letter; a Message-ID and the letter's own name
 *	find it whoever sent it; noderoute lines only for donors believed.
 *
 *	trace-fetch (relay/trace_fetch.h): its %XX arguments read back
 *	exactly, malformed ones refused; only root and the daemon's user
 *	may send it (a child connecting as nobody, when run as root).
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/route.h"
#include "relay/trace.h"
#include "relay/trace_fetch.h"
#include "tests/unit/tl_test.h"
#include "util/buf.h"
#include "util/strutil.h"

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
/* long lists, cut at an item with " +N more" (spool/journal.h): the
 * hops left out are known by the events about them */
"2026-11-25T20:00:09Z received ucl.5 from=out/many.letter size=9 rcpts=\"a@pss,b@cam +400 more\" msgid=<many@ucl>\n"
"2026-11-25T20:00:09Z routed ucl.5 rcpts=\"a@pss,b@cam +400 more\" hops=\"pss,cam +1 more\"\n"
"2026-11-25T20:00:10Z forwarded ucl.5 to=pss addr=unix:/x/pss.sock remote=pss.9 rcpts=a@pss\n"
"2026-11-25T20:00:10Z forwarded ucl.5 to=cam addr=unix:/x/cam.sock remote=cam.9 rcpts=b@cam\n"
"2026-11-25T20:00:11Z deferred ucl.5 to=far reason=\"connect: refused\" next=2026-11-25T20:01:11Z attempts=1\n"
"2026-11-25T20:00:12Z received ucl.6 from=out/more.letter size=9 rcpts=\"a@pss +1 more\" msgid=<more@ucl>\n"
"2026-11-25T20:00:12Z routed ucl.6 rcpts=\"a@pss +1 more\" hops=\"pss +1 more\"\n"
"2026-11-25T20:00:13Z forwarded ucl.6 to=far addr=unix:/x/far.sock remote=far.2 rcpts=z@far\n"
"2026-11-25T20:00:13Z forwarded ucl.6 to=pss addr=unix:/x/pss.sock remote=pss.10 rcpts=a@pss\n"
/* mailctl bounce of a letter waiting for several next hops: to=- on
 * every failure (relay/ops.c), after the routed line; one hop had
 * gone before, one was deferred */
"2026-11-25T20:00:14Z received ucl.7 from=submit size=9 rcpts=a@pss,b@cam,c@far msgid=<bounced@ucl>\n"
"2026-11-25T20:00:14Z routed ucl.7 rcpts=a@pss,b@cam,c@far hops=pss,cam,far\n"
"2026-11-25T20:00:15Z forwarded ucl.7 to=far addr=unix:/x/far.sock remote=far.3 rcpts=c@far\n"
"2026-11-25T20:00:15Z deferred ucl.7 to=pss reason=\"connect: refused\" next=2026-11-25T20:01:15Z attempts=1\n"
"2026-11-25T20:00:16Z failed ucl.7 rcpt=a@pss reason=\"returned by operator\" to=- by=root\n"
"2026-11-25T20:00:16Z failed ucl.7 rcpt=b@cam reason=\"returned by operator\" to=- by=root\n"
"2026-11-25T20:00:16Z received ucl.8 from=notice:ucl.7 rcpts=alice@ucl\n"
"2026-11-25T20:00:16Z ndn ucl.7 notice=ucl.8 to=alice@ucl by=root\n"
/* the same, of two hops both still queued, no hop gone */
"2026-11-25T20:00:17Z received ucl.9 from=submit size=9 rcpts=a@pss,b@cam msgid=<bounced2@ucl>\n"
"2026-11-25T20:00:17Z routed ucl.9 rcpts=a@pss,b@cam hops=pss,cam\n"
"2026-11-25T20:00:18Z failed ucl.9 rcpt=a@pss reason=spam to=- by=op\n"
"2026-11-25T20:00:18Z failed ucl.9 rcpt=b@cam reason=spam to=- by=op\n"
"2026-11-25T20:00:18Z ndn ucl.9 notice=ucl.10 to=alice@ucl by=op\n"
/* the router's own to=- failure comes before its routed line: the
 * other hop is still queued */
"2026-11-25T20:00:19Z received ucl.11 from=submit size=9 rcpts=x@nowhere,a@pss msgid=<half@ucl>\n"
"2026-11-25T20:00:19Z failed ucl.11 rcpt=x@nowhere reason=\"no route to host 'nowhere'\" to=-\n"
"2026-11-25T20:00:19Z ndn ucl.11 notice=ucl.12 to=alice@ucl\n"
"2026-11-25T20:00:19Z routed ucl.11 rcpts=x@nowhere,a@pss hops=pss\n"
/* a long hop list and a notice: the ndn's to= (its addressee) is no hop */
"2026-11-25T20:00:20Z received ucl.13 from=submit size=9 rcpts=\"a@pss +2 more\" msgid=<longndn@ucl>\n"
"2026-11-25T20:00:20Z routed ucl.13 rcpts=\"a@pss +2 more\" hops=\"pss +1 more\"\n"
"2026-11-25T20:00:21Z forwarded ucl.13 to=pss addr=unix:/x/pss.sock remote=pss.11 rcpts=a@pss\n"
"2026-11-25T20:00:21Z failed ucl.13 rcpt=z@far reason=\"no such user\" to=far\n"
"2026-11-25T20:00:21Z ndn ucl.13 notice=ucl.14 to=alice@ucl\n"
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

/* Received lines as they come since peers: who sent them (peer=, auth=). */
static const char jident[] =
"2026-11-26T10:00:00Z received pss.1 from=ucl calling=ucl tid=1 donor=ucl/ucl.7 size=1 rcpts=a@pss msgid=<a@ucl> peer=ucl auth=password source=peer:ucl\n"
"2026-11-26T10:00:01Z received pss.2 from=ucl calling=ucl tid=2 donor=ucl/ucl.8 size=1 rcpts=b@pss msgid=<b@x> peer=- auth=none source=anon:192.0.2.9\n"
"2026-11-26T10:00:02Z received pss.3 from=cam calling=cam tid=3 donor=ucl/ucl.9 size=1 rcpts=c@pss msgid=<c@x> peer=cambridge auth=password source=peer:cambridge\n"
"2026-11-26T10:00:03Z received pss.4 from=ucl calling=ucl tid=4 donor=UCL/ucl.10 size=1 rcpts=d@pss msgid=<d@x> peer=ucl auth=address source=peer:ucl\n"
"2026-11-26T10:00:04Z received pss.5 from=ucl calling=ucl tid=5 donor=ucl/ucl.11 size=1 rcpts=e@pss msgid=<e@x> peer=- auth=local source=local:uid:0\n"
"2026-11-26T10:00:05Z received pss.6 from=out/drop.letter calling=- size=1 rcpts=f@pss msgid=<f@x>\n"
"2026-11-26T10:00:06Z received pss.7 from=out/evil.letter calling=out/evil.letter tid=6 size=1 rcpts=g@pss msgid=<g@x> peer=- auth=none source=anon:192.0.2.9\n"
"2026-11-26T10:00:07Z received pss.8 from=ucl calling=ucl tid=7 donor=ucl/ucl.12 size=1 rcpts=h@pss msgid=<h@x>\n"
"2026-11-26T10:00:08Z received pss.9 from=ucl.gw calling=ucl.gw tid=8 donor=ucl/ucl.13 size=1 rcpts=i@pss msgid=<i@x> peer=ucl auth=password source=peer:ucl\n";

static char idir[512];

static int clean(void)
{
	if (idir[0])
		(void) tl_rmtree(idir);
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

	/* hops="pss,cam +1 more": the third hop is the one deferred */
	d = doc("many@ucl", &n);
	l = trace_find(d, "ucl.5");
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	EXPECT_STR(l->status, "queued");
	EXPECT_HAS(l->detail, "to far: connect: refused");
	EXPECT_STR(trace_ev_get(l->recv, "rcpts"), "a@pss,b@cam +400 more");
	trace_doc_free(d);
	d = doc("ucl.6", &n);
	l = trace_find(d, "ucl.6");
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	EXPECT_STR(l->status, "forwarded");
	trace_doc_free(d);
}

/* the operator's bounce ends every hop still pending (to=-), not only
 * one named; the router's to=- failures do not end the hops routed */
static void test_status_bounce(void)
{
	static const struct {
		const char *key, *name, *status, *detail;
	} t[] = {
		{ "bounced@ucl", "ucl.7", "forwarded+failed",
		    "returned to the sender by root: returned by operator" },
		{ "ucl.9", "ucl.9", "failed", "returned to the sender by op: spam" },
		{ "half@ucl", "ucl.11", "queued", "" },
		{ "longndn@ucl", "ucl.13", "forwarded+failed", "" },
	};
	const struct trace_letter *l;
	struct trace_doc *d;
	size_t  i;
	int     n;

	for (i = 0; i < NELEM(t); i++) {
		d = doc(t[i].key, &n);
		l = trace_find(d, t[i].name);
		CU_ASSERT_PTR_NOT_NULL_FATAL(l);
		EXPECT_STR(l->status, t[i].status);
		if (t[i].detail[0] != '\0')
			EXPECT_STR(l->detail, t[i].detail);
		trace_doc_free(d);
	}
}

static void test_donor_ok(void)
{
	static const struct { const char *donor, *peer, *auth; int ok; } t[] = {
		{ "ucl/ucl.1", NULL, NULL, 1 },			/* before peers, or made here */
		{ "ucl/ucl.1", "ucl", "password", 1 },
		{ "ucl/ucl.1", "UCL", "address", 1 },		/* names ignore case */
		{ "UCL/ucl.1", "ucl", "password", 1 },
		{ "ucl/ucl.1", "-", "local", 1 },		/* root or the daemon's user */
		{ "ucl/ucl.1", "-", "none", 0 },		/* a stranger */
		{ "ucl/ucl.1", "cambridge", "password", 0 },	/* another peer */
		{ "ucl/ucl.1", "uc", "password", 0 },		/* a prefix is not the name */
		{ "ucl/ucl.1", "ucl2", "password", 0 },
		{ "ucl/ucl.1", "-", NULL, 0 },
		{ "ucl", NULL, NULL, 0 },			/* no NODE/NAME */
		{ NULL, NULL, NULL, 0 },
	};
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		int     got = trace_donor_ok(t[i].donor, t[i].peer, t[i].auth);

		if (got != t[i].ok)
			fprintf(stderr, "\ndonor %s peer %s auth %s: got %d, want %d\n",
			    t[i].donor ? t[i].donor : "NULL", t[i].peer ? t[i].peer : "NULL",
			    t[i].auth ? t[i].auth : "NULL", got, t[i].ok);
		EXPECT_INT(got, t[i].ok);
	}
}

/* idoc - the document of key in the identity journal, with routes to ucl */
static struct trace_doc *idoc(const char *key, int *found)
{
	static const struct route_alt ucl = { ROUTE_CH_NIFTP, "unix:/x/ucl.sock", NULL, NULL };
	struct buf lines = BUF_INIT(TRACE_DOC_MAX), d = BUF_INIT(TRACE_DOC_MAX);
	char    err[TRACE_ERRLEN];
	struct route_table *rt = route_table_new("pss", err, sizeof(err));
	struct trace_doc *td;

	CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
	CU_ASSERT_FATAL(route_table_add_route(rt, "ucl", &ucl, 1, err, sizeof(err)) == 0);
	*found = trace_collect(idir, key, &lines, err, sizeof(err));
	CU_ASSERT_FATAL(*found >= 0);
	CU_ASSERT_FATAL(trace_document("pss", key, rt, (const char *) buf_data(&lines),
	    lines.len, *found, &d) == 0);
	td = trace_doc_parse((const char *) buf_data(&d), d.len, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(td);
	buf_release(&lines);
	buf_release(&d);
	route_table_free(rt);
	return td;
}

static void test_identity(void)
{
	/* noderoute: 1 to ucl, 2 to UCL (as the donor spells it), 0 none */
	static const struct { const char *key, *root; int noderoute; } t[] = {
		{ "ucl.7", "pss.1", 1 },	/* peer ucl, by password */
		{ "ucl.8", NULL, 0 },		/* a stranger claiming ucl's letter */
		{ "ucl.9", NULL, 0 },		/* another peer claiming ucl's letter */
		{ "ucl.10", "pss.4", 2 },	/* peer ucl by address; UCL/ */
		{ "ucl.11", "pss.5", 1 },	/* a local caller */
		{ "ucl.12", "pss.8", 1 },	/* a journal older than peers */
		{ "ucl.13", "pss.9", 1 },	/* peer ucl through a gateway */
		{ "out:drop.letter", "pss.6", 0 },
		{ "drop.letter", "pss.6", 0 },
		{ "out:evil.letter", NULL, 0 },	/* a caller calling itself out/... */
		{ "evil.letter", NULL, 0 },
		{ "msgid:b@x", "pss.2", 0 },	/* a Message-ID: whoever sent it */
		{ "pss.2", "pss.2", 0 },	/* the letter's own name */
		{ "pss.3", "pss.3", 0 },
	};
	char    p[600];
	size_t  i;
	int     n;

	CU_ASSERT_FATAL(tl_tmpdir(idir, sizeof(idir), "test_trace_id") == 0);
	snprintf(p, sizeof(p), "%s/journal", idir);
	CU_ASSERT_FATAL(tl_write_file(p, jident) == 0);
	for (i = 0; i < NELEM(t); i++) {
		struct trace_doc *d = idoc(t[i].key, &n);
		const struct trace_letter *r = trace_root(d);
		const struct trace_route *nr = trace_route_of(d, 'n', t[i].noderoute == 2 ? "UCL"
		    : "ucl");

		if ((r ? r->name : NULL) != t[i].root && (r == NULL || t[i].root == NULL
		    || strcmp(r->name, t[i].root) != 0))
			fprintf(stderr, "\nkey %s: got %s, want %s\n", t[i].key,
			    r ? r->name : "nothing", t[i].root ? t[i].root : "nothing");
		EXPECT_INT(n, t[i].root != NULL);
		EXPECT_STR(r ? r->name : NULL, t[i].root);
		EXPECT_INT(nr != NULL, t[i].noderoute != 0);
		if (nr != NULL)		/* route lookups ignore case */
			EXPECT_STR(nr->addr, "unix:/x/ucl.sock");
		trace_doc_free(d);
	}
}

/* trace-fetch's arguments: addresses and keys with spaces survive the
 * request line */
static void test_fetch_enc(void)
{
	static const struct { const char *in, *enc; } t[] = {
		{ "unix:/x/pss.sock", "unix:/x/pss.sock" },
		{ "exec:sleep 8", "exec:sleep%208" },
		{ "out:50% off\tx", "out:50%25%20off%09x" },
		{ "\xe9", "%E9" },
		{ "", "" },
	};
	static const char *bad[] = { "%", "%4", "%4g", "%00", "a%zz" };
	struct buf b = BUF_INIT(256);
	char    dst[64];
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		buf_reset(&b);
		EXPECT_INT(trace_fetch_enc(&b, t[i].in), 0);
		EXPECT_STR(buf_cstr(&b), t[i].enc);
		EXPECT_INT(trace_fetch_dec(t[i].enc, dst, sizeof(dst)), 0);
		EXPECT_STR(dst, t[i].in);
	}
	for (i = 0; i < NELEM(bad); i++)
		EXPECT_INT(trace_fetch_dec(bad[i], dst, sizeof(dst)), -1);
	/* too long for dst: refused, never cut */
	EXPECT_INT(trace_fetch_dec("abcd", dst, 4), -1);
	EXPECT_INT(trace_fetch_dec("abc", dst, 4), 0);
	EXPECT_INT(trace_fetch_dec("%41%42%43", dst, 4), 0);
	EXPECT_STR(dst, "ABC");
	buf_release(&b);
	/* a full buffer is reported */
	{
		struct buf small = BUF_INIT(4);

		EXPECT_INT(trace_fetch_enc(&small, "a b"), -1);
		buf_release(&small);
	}
}

/* connect_as - a child running as uid connects to the socket at path
 * (a listening socket of ours); the accepted connection, or -1 (within
 * 10 s: a child that could not connect is not waited for forever) */
static int connect_as(int lfd, const char *path, uid_t uid)
{
	struct sockaddr_un sa;
	struct pollfd pfd;
	pid_t   pid;
	int     fd = -1, st;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		str_copy(sa.sun_path, path, sizeof(sa.sun_path));
		if ((uid != getuid() && (setgid(65534) < 0 || setuid(uid) < 0))
		    || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0
		    || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
			_exit(1);
		_exit(0);
	}
	pfd.fd = lfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) == 1)
		fd = accept(lfd, NULL, NULL);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* trace-fetch is for root and the daemon's user: SO_PEERCRED */
static void test_fetch_permitted(void)
{
	struct sockaddr_un sa;
	char    why[TRACE_FETCH_ERRLEN], path[600];
	int     lfd, fd;

	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	CU_ASSERT_FATAL(strlen(path) < sizeof(sa.sun_path));
	str_copy(sa.sun_path, path, sizeof(sa.sun_path));
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) == 0
	    && listen(lfd, 4) == 0);
	/* ourselves: the daemon's user (or root) */
	fd = connect_as(lfd, path, getuid());
	CU_ASSERT_FATAL(fd >= 0);
	EXPECT_INT(trace_fetch_permitted(fd, why, sizeof(why)), 1);
	close(fd);
	/* someone else: only root can be someone else here */
	if (geteuid() == 0 && chmod(path, 0777) == 0 && chmod(dir, 0755) == 0
	    && (fd = connect_as(lfd, path, 65534)) >= 0) {
		why[0] = '\0';
		EXPECT_INT(trace_fetch_permitted(fd, why, sizeof(why)), 0);
		EXPECT_HAS(why, "permission denied: ");
		close(fd);
	}
	/* not a socket: refused, with the reason */
	EXPECT_INT(trace_fetch_permitted(-1, why, sizeof(why)), 0);
	EXPECT_HAS(why, "permission denied: ");
	close(lfd);
	(void) unlink(path);
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
		{ "trace", "status_bounce", test_status_bounce },
		{ "trace", "donor_ok", test_donor_ok },
		{ "trace", "identity", test_identity },
		{ "trace", "fetch_enc", test_fetch_enc },
		{ "trace", "fetch_permitted", test_fetch_permitted },
		{ "trace", "parse_bad", test_parse_bad },
		{ "trace", "service", test_service },
		{ "trace", "json", test_json },
	};

	return tl_run(tests, NELEM(tests), init, clean);
}
