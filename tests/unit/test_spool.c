/*++
 * NAME
 *	test_spool 1
 * SUMMARY
 *	CUnit tests of spool/: commit sequence, faults, crashes, recovery,
 *	group commit, names, dockets, journal
 * SYNOPSIS
 *	build/tests/test_spool
 * DESCRIPTION
 *	Every test works in its own spool under a scratch directory.
 *
 *	Faults: for each kind of call (write, fsync, link, rename, unlink,
 *	open) and each N, the Nth call fails (util/sysio.h) while one
 *	transaction commits a new letter, moves an old one, claims a
 *	dropped file and puts a docket. Afterwards every object is in
 *	exactly one place, whole: the new letter committed with its journal
 *	line or invisible without it, the moved letter in its old or new
 *	state, the dropped file in out/ or claimed, and recovery is clean.
 *
 *	Crashes: the binary re-executes itself ("--child-crash DIR") with
 *	NIFTPMAIL_CRASH naming each crash point of spool.c; the parent then
 *	recovers and checks the same invariants. Journal truth
 *	("--child-truth DIR SCENARIO"): after a crash at any point and
 *	recovery, each transaction is whole (every change made, each of its
 *	lines in the journal exactly once) or absent (no change, no line),
 *	also for one that failed inside its batch, and a second recovery
 *	changes nothing.
 *
 *	Undo: a transaction with a remove, a docket put over an older
 *	docket, a docket delete and a commit, with each call failing in
 *	turn, must leave every file, docket and journal octet as before,
 *	and going through be exactly present; a batch failing at the
 *	journal fsync is undone last transaction first.
 *
 *	Group commit: many transactions submitted at once on a loop must
 *	cost far fewer journal fsyncs than transactions (counted by the
 *	spool itself, no timing).
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "spool/intent.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"

static char tdir[256];
static const char *self_exe;
static int ndirs;

/* newdir - a fresh spool directory path (static buffer in rotation) */
static const char *newdir(void)
{
	static char bufs[4][512];
	static int k;
	char   *b = bufs[k++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/s%d", tdir, ndirs++);
	return b;
}

/* sopen - open a spool (loop may be NULL) or fail the test */
static struct spool *sopen(const char *dir, struct loop *loop, unsigned block)
{
	struct spool_opts o;
	char    err[SPOOL_ERRLEN] = "";
	struct spool *sp;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	o.loop = loop;
	o.seq_block = block;
	sp = spool_open(&o, err, sizeof(err));
	if (sp == NULL)
		fprintf(stderr, "\nspool_open: %s\n", err);
	CU_ASSERT_FATAL(sp != NULL);
	return sp;
}

/* spath - DIR/rel in a static buffer (rotation) */
static const char *spath(const char *dir, const char *rel)
{
	static char bufs[4][1024];
	static int k;
	char   *b = bufs[k++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, rel);
	return b;
}

/* spath3 - DIR/a/b in a static buffer (rotation) */
static const char *spath3(const char *dir, const char *a, const char *b)
{
	static char bufs[4][1024];
	static int k;
	char   *r = bufs[k++ % 4];

	snprintf(r, sizeof(bufs[0]), "%s/%s/%s", dir, a, b);
	return r;
}

/* count_files - entries of dir other than . and .. */
static int count_files(const char *dir)
{
	DIR    *d = opendir(dir);
	struct dirent *e;
	int     n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* journal_count - lines of spool dir's journals with event ev (and name
 * nm unless NULL) */
static int journal_count(const char *dir, const char *ev, const char *nm)
{
	struct journal_reader *r;
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	char    err[256];
	int     n = 0;

	r = journal_reader_open(dir, err, sizeof(err));
	CU_ASSERT_FATAL(r != NULL);
	while (journal_reader_next(r, rec, err, sizeof(err)) == 1)
		if (strcmp(rec->event, ev) == 0 && (nm == NULL || strcmp(rec->name, nm) == 0))
			n++;
	journal_reader_free(r);
	free(rec);
	return n;
}

/* snap_add - "DIR/NAME=CONTENT\n" for each entry of spool dir's sub
 * directory sub, sorted by name, into b; visible: skip dot-files (and
 * so trash); a directory is "DIR/NAME/" */
static void snap_add(struct buf *b, const char *dir, const char *sub, int visible)
{
	DIR    *d = opendir(spath(dir, sub));
	struct dirent *e;
	struct stat sb;
	char  **v = NULL, *text;
	size_t  n = 0, i, len;

	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
		    || (visible && e->d_name[0] == '.'))
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	for (i = 0; i + 1 < n; i++) {		/* few names: a plain sort */
		size_t  j;

		for (j = i + 1; j < n; j++)
			if (strcmp(v[j], v[i]) < 0) {
				char   *x = v[i];

				v[i] = v[j];
				v[j] = x;
			}
	}
	for (i = 0; i < n; i++) {
		const char *path = spath3(dir, sub, v[i]);

		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			(void) buf_printf(b, "%s/%s/\n", sub, v[i]);
		} else {
			text = tl_read_file(path, &len);
			(void) buf_printf(b, "%s/%s=", sub, v[i]);
			if (text)
				(void) buf_append(b, text, len);
			(void) buf_putc(b, '\n');
			free(text);
		}
		free(v[i]);
	}
	free(v);
}

/* snapshot - every file of every state and every docket, with their
 * contents (visible: no dot-files, no tmp/), into new memory */
static char *snapshot(const char *dir, int visible)
{
	static const char *const subs[] = { "out", "tmp", "in", "queue", "hold", "dead",
	"corrupt", "archive", "part", "dockets" };
	struct buf b = BUF_INIT(1 << 24);
	char   *s;
	size_t  i;

	for (i = 0; i < NELEM(subs); i++)
		if (!visible || strcmp(subs[i], "tmp") != 0)
			snap_add(&b, dir, subs[i], visible);
	s = xstrdup(buf_cstr(&b));
	buf_release(&b);
	return s;
}

/* put_letter - create NAME (NULL = assigned) with text and commit into st
 * synchronously; the name into out; 0 or -1 */
static int put_letter(struct spool *sp, const char *name, const char *text,
	enum spool_state st, char *out, size_t outlen)
{
	struct spool_file *f;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN];
	const char *kv[] = { "from", "test" };

	if ((f = spool_create(sp, name, err, sizeof(err))) == NULL)
		return -1;
	if (spool_write(f, text, strlen(text), err, sizeof(err)) < 0) {
		spool_file_abort(f);
		return -1;
	}
	if (out)
		str_copy(out, spool_file_name(f), outlen);
	t = spool_txn_new(sp);
	spool_txn_journal(t, "received", spool_file_name(f), kv, 1);
	spool_txn_commit(t, f, st);
	return spool_txn_run(t, err, sizeof(err));
}

/*
 * Names
 */

static void test_names(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 16);
	char    prev[SPOOL_NAMELEN] = "", nm[SPOOL_NAMELEN], err[SPOOL_ERRLEN];
	char    last1[SPOOL_NAMELEN];
	struct spool_stats st;
	int     i, bad = 0;

	for (i = 0; i < 100; i++) {
		EXPECT_INT(spool_name_new(sp, nm, sizeof(nm), err, sizeof(err)), 0);
		if (!spool_name_ok(nm) || strncmp(nm, "ucl.", 4) != 0 || strlen(nm) != 4 + 10 + 1 + 6)
			bad++;
		if (prev[0] && (spool_name_cmp(prev, nm) >= 0 || strcmp(prev, nm) >= 0))
			bad++;
		str_copy(prev, nm, sizeof(prev));
	}
	EXPECT_INT(bad, 0);
	spool_stats(sp, &st);
	EXPECT_TRUE(st.seq_reserves >= 100 / 16);
	str_copy(last1, prev, sizeof(last1));
	spool_close(sp);

	/* a restart skips to the next block: later and never equal */
	sp = sopen(dir, NULL, 16);
	EXPECT_INT(spool_name_new(sp, nm, sizeof(nm), err, sizeof(err)), 0);
	EXPECT_TRUE(spool_name_cmp(last1, nm) < 0);
	EXPECT_TRUE(strcmp(last1, nm) != 0);
	/* a letter with a high number, then lose the counter file */
	EXPECT_INT(put_letter(sp, NULL, "x\n", SPOOL_IN, nm, sizeof(nm)), 0);
	spool_close(sp);
	EXPECT_INT(unlink(spath(dir, "seq")), 0);
	sp = sopen(dir, NULL, 16);
	EXPECT_INT(spool_name_new(sp, prev, sizeof(prev), err, sizeof(err)), 0);
	EXPECT_TRUE(spool_name_cmp(nm, prev) < 0);
	spool_close(sp);

	/* a malformed counter refuses to open */
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "seq"), "niftpmail-seq 1\nnext x\n") == 0);
	{
		struct spool_opts o;

		memset(&o, 0, sizeof(o));
		o.dir = dir;
		o.node = "ucl";
		err[0] = '\0';
		EXPECT_TRUE(spool_open(&o, err, sizeof(err)) == NULL);
		EXPECT_TRUE(strstr(err, "spool: read 'seq': malformed") != NULL);
		o.node = "bad/node";
		EXPECT_TRUE(spool_open(&o, err, sizeof(err)) == NULL);
	}

	/* comparison across the 6-digit boundary and the minute */
	EXPECT_TRUE(spool_name_cmp("ucl.2611231930.ffffff", "ucl.2611231930.1000000") < 0);
	EXPECT_TRUE(spool_name_cmp("ucl.2611231930.ffffff", "ucl.2611231931.000001") < 0);
	EXPECT_TRUE(spool_name_cmp("ucl.2611231930.00000a", "ucl.2611231930.00000a") == 0);
	EXPECT_TRUE(spool_name_ok("ucl.2611231930.0001a7"));
	EXPECT_TRUE(!spool_name_ok(".hidden"));
	EXPECT_TRUE(!spool_name_ok("a/b"));
	EXPECT_TRUE(!spool_name_ok(""));
	EXPECT_TRUE(!spool_name_ok("sp ace"));
}

/* async prefetch of blocks on a loop: many names, all unique */
static void test_names_loop(void)
{
	struct loop *loop = loop_new();
	const char *dir = newdir();
	struct spool *sp = sopen(dir, loop, 8);
	char    prev[SPOOL_NAMELEN] = "", nm[SPOOL_NAMELEN], err[SPOOL_ERRLEN];
	int     i, bad = 0;

	for (i = 0; i < 200; i++) {
		if (spool_name_new(sp, nm, sizeof(nm), err, sizeof(err)) < 0)
			bad++;
		if (prev[0] && spool_name_cmp(prev, nm) >= 0)
			bad++;
		str_copy(prev, nm, sizeof(prev));
		if (i % 3 == 0)
			(void) loop_run_once(loop, 0);
	}
	EXPECT_INT(bad, 0);
	spool_close(sp);
	loop_free(loop);
}

/*
 * Commit, move, remove, claim, scan
 */

static int scan_collect(void *arg, const char *name)
{
	struct buf *b = arg;

	(void) buf_printf(b, "%s,", name);
	return 0;
}

static void test_commit_basic(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	char    nm[SPOOL_NAMELEN], nm2[SPOOL_NAMELEN], err[SPOOL_ERRLEN];
	struct spool_txn *t;
	struct spool_file *f;
	struct buf b = BUF_INIT(4096);
	const char *kv[] = { "from", "out/a" };

	EXPECT_INT(put_letter(sp, NULL, "hello\n", SPOOL_IN, nm, sizeof(nm)), 0);
	EXPECT_TRUE(tl_file_is(spath3(dir, "in", nm), "hello\n"));
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "received", nm), 1);

	/* move in -> queue -> hold, then remove */
	t = spool_txn_new(sp);
	spool_txn_move(t, nm, SPOOL_IN, SPOOL_QUEUE, NULL);
	spool_txn_journal(t, "routed", nm, NULL, 0);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	EXPECT_TRUE(!spool_exists(sp, SPOOL_IN, nm) && spool_exists(sp, SPOOL_QUEUE, nm));
	t = spool_txn_new(sp);
	spool_txn_move(t, nm, SPOOL_QUEUE, SPOOL_HOLD, NULL);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	t = spool_txn_new(sp);
	spool_txn_remove(t, SPOOL_HOLD, nm);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	EXPECT_INT(count_files(spath(dir, "hold")), 0);
	/* moving a missing file fails and names it */
	t = spool_txn_new(sp);
	spool_txn_move(t, nm, SPOOL_IN, SPOOL_QUEUE, NULL);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_TRUE(strncmp(err, "spool: rename 'in/ucl.", 22) == 0);
	EXPECT_TRUE(strstr(err, "No such file or directory") != NULL);

	/* a commit never replaces: link fails with EEXIST, tmp removed */
	EXPECT_INT(put_letter(sp, "dup1", "one\n", SPOOL_IN, NULL, 0), 0);
	f = spool_create(sp, "dup1", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_write(f, "two\n", 4, err, sizeof(err)), 0);
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_STR(err, "spool: link 'tmp/dup1' to 'in/dup1': File exists");
	EXPECT_TRUE(tl_file_is(spath(dir, "in/dup1"), "one\n"));
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	/* O_EXCL in tmp/ */
	f = spool_create(sp, "busy", err, sizeof(err));
	EXPECT_TRUE(spool_create(sp, "busy", err, sizeof(err)) == NULL);
	EXPECT_STR(err, "spool: create 'tmp/busy': File exists");
	spool_file_abort(f);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	/* an aborted transaction removes its new file */
	f = spool_create(sp, "gone", err, sizeof(err));
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_abort(t);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_TRUE(!spool_exists(sp, SPOOL_IN, "gone"));

	/* out/: scan ignores dot-files and directories; a claim takes once */
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "out/b"), "letter b\n") == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "out/a"), "letter a\n") == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "out/.partial"), "x") == 0);
	mkdir(spath(dir, "out/sub"), 0700);
	EXPECT_INT(spool_scan(sp, SPOOL_OUT, scan_collect, &b, err, sizeof(err)), 0);
	EXPECT_STR(buf_cstr(&b), "a,b,");
	t = spool_txn_new(sp);
	EXPECT_INT(spool_txn_claim(t, "a", SPOOL_IN, nm2, sizeof(nm2), err, sizeof(err)), 0);
	EXPECT_INT(spool_txn_claim(t, "a", SPOOL_IN, nm, sizeof(nm), err, sizeof(err)), -1);
	/* the marker link comes first (doc/spool.md): it finds no file */
	EXPECT_TRUE(strncmp(err, "spool: claim: link 'out/a' to 'tmp/ucl.", 39) == 0);
	EXPECT_HAS(err, "No such file or directory");
	EXPECT_INT(spool_txn_claim(t, ".partial", SPOOL_IN, nm, sizeof(nm), err, sizeof(err)), -1);
	spool_txn_journal(t, "received", nm2, kv, 1);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	EXPECT_TRUE(tl_file_is(spath3(dir, "in", nm2), "letter a\n"));
	EXPECT_TRUE(!tl_exists(spath(dir, "out/a")));
	EXPECT_INT(journal_count(dir, "received", nm2), 1);
	buf_release(&b);
	spool_close(sp);
}

/*
 * Faults at every step
 */

struct fault_case {
	enum sysio_op op;
	const char *opname;
	int	err;
	unsigned failures;	/* runs that failed */
};

/* one_faulty_run - the combined transaction with call nth of op failing;
 * checks the invariants. Returns 1 when the run failed, 0 when it went
 * through, -1 when setting up failed before the fault could matter. */
static int one_faulty_run(const char *dir, int iter, enum sysio_op op, unsigned long nth,
	int errnum)
{
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_recovery rep;
	struct spool_file *f;
	struct spool_txn *t;
	char    nm[SPOOL_NAMELEN], old[32], drop[32], claimed[SPOOL_NAMELEN] = "";
	char    text[64], err[SPOOL_ERRLEN] = "", key[64];
	const char *kv[] = { "iter", text };
	int     rc = -1, failed, in_new, in_old, ok = 1;
	size_t  dlen;
	char   *dk;

	snprintf(old, sizeof(old), "old%d", iter);
	snprintf(drop, sizeof(drop), "drop%d", iter);
	snprintf(nm, sizeof(nm), "new%d", iter);
	snprintf(text, sizeof(text), "letter %d\n", iter);
	snprintf(key, sizeof(key), "tcp:127.0.0.1:4521/%d", iter);
	CU_ASSERT_FATAL(put_letter(sp, old, "old letter\n", SPOOL_IN, NULL, 0) == 0);
	CU_ASSERT_FATAL(tl_write_file(spath3(dir, "out", drop), "dropped\n") == 0);

	sysio_fail(op, nth, errnum);
	if ((f = spool_create(sp, nm, err, sizeof(err))) == NULL)
		goto check;
	if (spool_write(f, text, strlen(text), err, sizeof(err)) < 0) {
		spool_file_abort(f);
		goto check;
	}
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_move(t, old, SPOOL_IN, SPOOL_QUEUE, NULL);
	if (spool_txn_claim(t, drop, SPOOL_IN, claimed, sizeof(claimed), err, sizeof(err)) < 0) {
		claimed[0] = '\0';
		spool_txn_abort(t);
		goto check;
	}
	spool_txn_docket_put(t, key, text, strlen(text));
	spool_txn_journal(t, "received", nm, kv, 1);
	rc = spool_txn_run(t, err, sizeof(err)) == 0 ? 0 : 1;
check:
	sysio_fail(op, 0, 0);
	failed = rc != 0;
	if (failed && strncmp(err, "spool: ", 7) != 0)
		ok = 0;
	in_new = tl_file_is(spath3(dir, "in", nm), text);
	in_old = tl_exists(spath3(dir, "in", old));
	/* new letter: whole in in/ with its line, or nowhere without it */
	if (failed) {
		if (tl_exists(spath3(dir, "in", nm)) || journal_count(dir, "received", nm) != 0)
			ok = 0;
	} else if (!in_new || journal_count(dir, "received", nm) != 1) {
		ok = 0;
	}
	/* moved letter: exactly one state */
	if (in_old == tl_exists(spath3(dir, "queue", old)) || in_old != failed)
		ok = 0;
	/* dropped file: in out/ (failed) or claimed (ok), never lost */
	if (failed) {
		if (!tl_file_is(spath3(dir, "out", drop), "dropped\n"))
			ok = 0;
		if (claimed[0] && tl_exists(spath3(dir, "in", claimed)))
			ok = 0;
	} else if (tl_exists(spath3(dir, "out", drop))
	    || !tl_file_is(spath3(dir, "in", claimed), "dropped\n")) {
		ok = 0;
	}
	/* docket: present with the value when ok */
	dk = spool_docket_get(sp, key, &dlen, NULL, err, sizeof(err));
	if (!failed && (dk == NULL || strcmp(dk, text) != 0))
		ok = 0;
	free(dk);
	spool_close(sp);

	/* recovery is clean and changes nothing visible */
	sp = sopen(dir, NULL, 0);
	if (spool_recover(sp, &rep, err, sizeof(err)) < 0)
		ok = 0;
	if (count_files(spath(dir, "tmp")) != 0 || rep.conflicts != 0 || rep.tmp_undone != 0)
		ok = 0;
	if (in_new != tl_file_is(spath3(dir, "in", nm), text))
		ok = 0;
	spool_close(sp);
	if (!ok)
		fprintf(stderr, "\nfault %d:%lu: rc %d err \"%s\" new %d old %d claimed '%s'\n",
		    op, nth, rc, err, in_new, in_old, claimed);
	EXPECT_TRUE(ok);
	return rc;
}

static void test_faults(void)
{
	struct fault_case cases[] = {
		{ SYSIO_WRITE, "write", EIO, 0 },
		{ SYSIO_WRITE, "write", ENOSPC, 0 },
		{ SYSIO_FSYNC, "fsync", EIO, 0 },
		{ SYSIO_LINK, "link", ENOSPC, 0 },
		{ SYSIO_RENAME, "rename", EIO, 0 },
		{ SYSIO_UNLINK, "unlink", EIO, 0 },
		{ SYSIO_OPEN, "open", EIO, 0 },
	};
	const char *dir = newdir();
	size_t  c;
	unsigned long n;
	int     iter = 0, rc;

	for (c = 0; c < NELEM(cases); c++) {
		for (n = 1; n <= 12; n++) {
			rc = one_faulty_run(dir, iter++, cases[c].op, n, cases[c].err);
			if (rc == 1)
				cases[c].failures++;
		}
	}
	/* every kind of call that the commit depends on was hit */
	for (c = 0; c < NELEM(cases); c++) {
		if (cases[c].op == SYSIO_UNLINK)
			continue;	/* an unlink failure only leaves a tmp link */
		if (cases[c].failures == 0)
			fprintf(stderr, "\nno failing run for %s\n", cases[c].opname);
		EXPECT_TRUE(cases[c].failures > 0);
	}
	/* fsync: file, claim, docket, 4 directories, journal: all failed */
	EXPECT_TRUE(cases[2].failures >= 8);
}

/* an ENOSPC message names operation, object and reason */
static void test_error_text(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_file *f;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN];

	f = spool_create(sp, "x1", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	sysio_fail(SYSIO_LINK, 1, ENOSPC);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	sysio_reset();
	EXPECT_STR(err, "spool: link 'tmp/x1' to 'in/x1': No space left on device");
	spool_close(sp);
}

/*
 * Crashes at every point, in a re-executed child
 */

static const char *const crash_points[] = {
	"spool-prepared", "spool-after-link", "spool-after-ops", "spool-after-dirsync",
	"spool-after-journal-write", "spool-after-journal-sync", "spool-claim-after-rename",
	"none",
};

/* child_crash - the child: commit + move + claim in one transaction */
static int child_crash(const char *dir)
{
	struct spool *sp;
	struct spool_opts o;
	struct spool_file *f;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN], nm[SPOOL_NAMELEN];
	const char *kv[] = { "from", "child" };

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	if ((sp = spool_open(&o, err, sizeof(err))) == NULL)
		return 2;
	if ((f = spool_create(sp, "newl", err, sizeof(err))) == NULL
	    || spool_write(f, "new letter\n", 11, err, sizeof(err)) < 0)
		return 3;
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_move(t, "oldl", SPOOL_IN, SPOOL_QUEUE, NULL);
	if (spool_txn_claim(t, "dropped", SPOOL_IN, nm, sizeof(nm), err, sizeof(err)) < 0)
		return 4;
	spool_txn_journal(t, "received", "newl", kv, 1);
	if (spool_txn_run(t, err, sizeof(err)) < 0)
		return 5;
	spool_close(sp);
	return 0;
}

/* find_content - files of spool state dir holding text */
static int find_content(const char *dir, const char *state, const char *text)
{
	DIR    *d = opendir(spath(dir, state));
	struct dirent *e;
	int     n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && tl_file_is(spath3(dir, state, e->d_name), text))
			n++;
	closedir(d);
	return n;
}

static void test_crash_points(void)
{
	size_t  i;
	pid_t   pid;
	int     st, devnull;
	struct spool *sp;
	struct spool_recovery rep;
	char    err[SPOOL_ERRLEN];

	for (i = 0; i < NELEM(crash_points); i++) {
		const char *dir = newdir();
		int     committed, moved, claimed, ok = 1;

		sp = sopen(dir, NULL, 0);
		CU_ASSERT_FATAL(put_letter(sp, "oldl", "old\n", SPOOL_IN, NULL, 0) == 0);
		spool_close(sp);
		CU_ASSERT_FATAL(tl_write_file(spath(dir, "out/dropped"), "dropped\n") == 0);

		fflush(NULL);
		if ((pid = fork()) == 0) {
			if ((devnull = open("/dev/null", O_WRONLY)) >= 0)
				dup2(devnull, 2);
			setenv("NIFTPMAIL_CRASH", crash_points[i], 1);
			execl(self_exe, self_exe, "--child-crash", dir, (char *) NULL);
			_exit(127);
		}
		CU_ASSERT_FATAL(pid > 0 && waitpid(pid, &st, 0) == pid);
		if (strcmp(crash_points[i], "none") == 0)
			EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		else
			EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 99);

		sp = sopen(dir, NULL, 0);
		EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
		spool_close(sp);
		committed = tl_file_is(spath(dir, "in/newl"), "new letter\n");
		moved = tl_exists(spath(dir, "queue/oldl"));
		claimed = find_content(dir, "in", "dropped\n");
		/* exactly one state each, nothing partial, tmp empty */
		if (count_files(spath(dir, "tmp")) != 0)
			ok = 0;
		if (!committed && tl_exists(spath(dir, "in/newl")))
			ok = 0;
		if (moved == tl_exists(spath(dir, "in/oldl")))
			ok = 0;
		if (claimed + tl_exists(spath(dir, "out/dropped")) != 1)
			ok = 0;
		if (rep.conflicts)
			ok = 0;
		/* past the link, the commit stands and its trace is complete */
		if (i >= 1 && i <= 5 && !committed)
			ok = 0;
		if (i >= 1 && i <= 4 && rep.tmp_completed != 1)
			ok = 0;
		if (committed && journal_count(dir, "received", "newl")
		    + journal_count(dir, "recovered", "newl") < 1)
			ok = 0;
		if (i == 0 && (committed || rep.tmp_undone != 1))
			ok = 0;
		if (i == 7 && (!committed || !moved || !claimed))
			ok = 0;
		if (!ok)
			fprintf(stderr, "\ncrash at %s: committed %d moved %d claimed %d "
			    "undone %u completed %u\n", crash_points[i], committed, moved,
			    claimed, rep.tmp_undone, rep.tmp_completed);
		EXPECT_TRUE(ok);
	}
}

/*
 * Journal truth across crashes: for every crash point, each transaction
 * is found after recovery either whole (every state change on disk and
 * each of its journal lines exactly once) or not at all (no change, no
 * line). The child re-executes this binary so that NIFTPMAIL_CRASH is
 * read afresh (util/crash.c parses it once per process).
 */

static const char *const truth_points[] = {
	"spool-prepared", "spool-after-intent", "spool-after-link", "spool-after-trash",
	"spool-after-trash:2", "spool-after-trash:3", "spool-after-trash:5", "spool-after-ops",
	"spool-after-dirsync", "spool-after-journal-write", "spool-after-journal-sync",
	"spool-claim-after-rename", "none",
};

/* truth_fires - the child of scenario scen crashes at point: "fail" has
 * no claim and no line to write, and three trash links each ("both" six) */
static int truth_fires(const char *scen, const char *point)
{
	if (strcmp(point, "none") == 0)
		return 0;
	if (strcmp(point, "spool-after-trash:5") == 0)
		return strcmp(scen, "both") == 0;
	return strcmp(scen, "fail") != 0 || (strcmp(point, "spool-claim-after-rename") != 0
	    && strcmp(point, "spool-after-journal-write") != 0);
}

/* truth_whole - the points after which the whole transaction must stand
 * (a loop-less spool: one transaction per batch) */
static int truth_whole(const char *point)
{
	return strcmp(point, "spool-prepared") != 0
	    && strcmp(point, "spool-claim-after-rename") != 0;
}

/* truth_redone - the points after which recovery finishes the batch
 * from the intent record (its lines not yet written) */
static int truth_redone(const char *point)
{
	return strcmp(point, "spool-after-intent") == 0 || strcmp(point, "spool-after-link") == 0
	    || strncmp(point, "spool-after-trash", 17) == 0 || strcmp(point, "spool-after-ops") == 0
	    || strcmp(point, "spool-after-dirsync") == 0;
}

/* truth_full - T1: commit, move, remove, claim, docket put (over an
 * older docket), docket delete, four lines */
static struct spool_txn *truth_full(struct spool *sp, char *err, size_t errlen)
{
	struct spool_file *f;
	struct spool_txn *t;
	char    nm[SPOOL_NAMELEN];
	const char *kv[] = { "from", "out/dropped" };
	const char *kv2[] = { "from", "child" };

	if ((f = spool_create(sp, "newl", err, errlen)) == NULL
	    || spool_write(f, "new letter\n", 11, err, errlen) < 0)
		return NULL;
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_journal(t, "received", "newl", kv2, 1);
	spool_txn_move(t, "oldl", SPOOL_IN, SPOOL_QUEUE, NULL);
	spool_txn_journal(t, "routed", "oldl", NULL, 0);
	if (spool_txn_claim(t, "dropped", SPOOL_IN, nm, sizeof(nm), err, errlen) < 0) {
		spool_txn_abort(t);
		return NULL;
	}
	spool_txn_journal(t, "received", nm, kv, 1);
	spool_txn_remove(t, SPOOL_HOLD, "gone");
	spool_txn_journal(t, "removed", "gone", NULL, 0);
	spool_txn_docket_put(t, "k1", "v1", 2);
	spool_txn_docket_del(t, "k3");
	return t;
}

/* truth_failing - T2: a remove, a docket put over an older docket, a
 * docket delete, a commit, then a move onto an existing file (fails at
 * apply time, so the whole transaction is undone) */
static struct spool_txn *truth_failing(struct spool *sp, char *err, size_t errlen)
{
	struct spool_file *f;
	struct spool_txn *t;

	if ((f = spool_create(sp, "newf", err, errlen)) == NULL
	    || spool_write(f, "failing\n", 8, err, errlen) < 0)
		return NULL;
	t = spool_txn_new(sp);
	spool_txn_remove(t, SPOOL_HOLD, "gone2");
	spool_txn_docket_put(t, "k2", "w1", 2);
	spool_txn_docket_del(t, "k4");
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_journal(t, "received", "newf", NULL, 0);
	spool_txn_move(t, "clash", SPOOL_IN, SPOOL_QUEUE, "taken");
	spool_txn_journal(t, "routed", "clash", NULL, 0);
	return t;
}

/* child_truth - the child: scenario "full" (T1 alone, no loop), "fail"
 * (T2 alone, no loop) or "both" (T2 and T1 submitted together on a loop) */
static int child_truth(const char *dir, const char *scen)
{
	struct spool *sp;
	struct spool_opts o;
	struct spool_txn *t1 = NULL, *t2 = NULL;
	struct loop *loop = NULL;
	char    err[SPOOL_ERRLEN];

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	if (strcmp(scen, "both") == 0)
		o.loop = loop = loop_new();
	if ((sp = spool_open(&o, err, sizeof(err))) == NULL)
		return 2;
	if (strcmp(scen, "full") != 0 && (t2 = truth_failing(sp, err, sizeof(err))) == NULL)
		return 3;
	if (strcmp(scen, "fail") != 0 && (t1 = truth_full(sp, err, sizeof(err))) == NULL)
		return 4;
	if (t2)
		spool_txn_submit(t2, NULL, NULL);
	if (t1)
		spool_txn_submit(t1, NULL, NULL);
	spool_drain(sp);
	spool_close(sp);
	if (loop)
		loop_free(loop);
	return 0;
}

/* journal_count_kv - lines with event ev and key=val */
static int journal_count_kv(const char *dir, const char *ev, const char *key, const char *val)
{
	struct journal_reader *r;
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	char    err[256];
	const char *v;
	int     n = 0;

	r = journal_reader_open(dir, err, sizeof(err));
	CU_ASSERT_FATAL(r != NULL);
	while (journal_reader_next(r, rec, err, sizeof(err)) == 1)
		if (strcmp(rec->event, ev) == 0 && (v = journal_get(rec, key, NULL)) != NULL
		    && strcmp(v, val) == 0)
			n++;
	journal_reader_free(r);
	free(rec);
	return n;
}

/* dk_is - 1 when the docket of key in spool dir holds val (val NULL:
 * when there is none) */
static int dk_is(const char *dir, const char *key, const char *val)
{
	char    err[SPOOL_ERRLEN];
	char   *v = spool_docket_peek(dir, key, NULL, err, sizeof(err));
	int     ok = val ? v != NULL && strcmp(v, val) == 0 : v == NULL;

	free(v);
	return ok;
}

/* truth_t1 - 1 when T1 is whole, 0 when absent, -1 (printed) otherwise */
static int truth_t1(const char *dir, struct spool *sp, const char *point)
{
	char    err[SPOOL_ERRLEN];
	size_t  len;
	char   *dk = spool_docket_get(sp, "k1", &len, NULL, err, sizeof(err));
	int     eff[6], lines[4], i, all = 1, none = 1;

	eff[0] = tl_file_is(spath(dir, "in/newl"), "new letter\n");
	eff[1] = tl_exists(spath(dir, "queue/oldl")) && !tl_exists(spath(dir, "in/oldl"));
	eff[2] = !tl_exists(spath(dir, "hold/gone"));
	eff[3] = find_content(dir, "in", "dropped\n") == 1 && !tl_exists(spath(dir, "out/dropped"));
	eff[4] = dk != NULL && strcmp(dk, "v1") == 0;
	eff[5] = !dk_is(dir, "k3", "x");
	free(dk);
	lines[0] = journal_count(dir, "received", "newl") + journal_count(dir, "recovered", "newl");
	lines[1] = journal_count(dir, "routed", "oldl");
	lines[2] = journal_count(dir, "removed", "gone");
	lines[3] = journal_count_kv(dir, "received", "from", "out/dropped");
	for (i = 0; i < 6; i++) {
		all &= eff[i] == 1;
		none &= eff[i] == 0;
	}
	for (i = 0; i < 4; i++) {
		all &= lines[i] == 1;
		none &= lines[i] == 0;
	}
	/* absent also means: the old states intact, nothing half-there */
	none &= tl_exists(spath(dir, "in/oldl")) && !tl_exists(spath(dir, "queue/oldl"))
	    && tl_exists(spath(dir, "hold/gone")) && tl_file_is(spath(dir, "out/dropped"), "dropped\n")
	    && !tl_exists(spath(dir, "in/newl")) && dk_is(dir, "k1", "v0") && dk_is(dir, "k3", "x");
	if (all)
		return 1;
	if (none)
		return 0;
	fprintf(stderr, "\ncrash at %s: T1 torn: committed %d moved %d removed %d claimed %d "
	    "docket put %d del %d; lines received %d routed %d removed %d claim %d\n", point,
	    eff[0], eff[1], eff[2], eff[3], eff[4], eff[5], lines[0], lines[1], lines[2],
	    lines[3]);
	return -1;
}

/* truth_t2_absent - 1 when the failing T2 left no change and no line */
static int truth_t2_absent(const char *dir, const char *point)
{
	/* what it removed or replaced is back */
	int     back = tl_file_is(spath(dir, "hold/gone2"), "gone2\n") && dk_is(dir, "k2", "w0")
	    && dk_is(dir, "k4", "y");
	int     ok = !tl_exists(spath(dir, "in/newf"))
	    && journal_count(dir, "received", "newf") + journal_count(dir, "recovered", "newf") == 0
	    && journal_count(dir, "routed", "clash") == 0
	    && tl_file_is(spath(dir, "in/clash"), "clash in\n")
	    && tl_file_is(spath(dir, "queue/taken"), "taken\n");

	if (!ok || !back)
		fprintf(stderr, "\ncrash at %s: undone T2 left something: in/newf %d, lines "
		    "received %d recovered %d routed %d; removed, put, deleted back %d\n", point,
		    tl_exists(spath(dir, "in/newf")), journal_count(dir, "received", "newf"),
		    journal_count(dir, "recovered", "newf"), journal_count(dir, "routed", "clash"),
		    back);
	return ok && back;
}

static void test_journal_truth(void)
{
	static const char *const scens[] = { "full", "fail", "both" };
	char   *snap;
	size_t  i, s;
	pid_t   pid;
	int     st, devnull, pass, t1, t1again;
	struct spool *sp;
	struct spool_recovery rep;
	char    err[SPOOL_ERRLEN];

	for (s = 0; s < NELEM(scens); s++)
		for (i = 0; i < NELEM(truth_points); i++) {
			const char *dir = newdir(), *pt = truth_points[i];
			int     ok = 1;

			sp = sopen(dir, NULL, 0);
			CU_ASSERT_FATAL(put_letter(sp, "oldl", "old\n", SPOOL_IN, NULL, 0) == 0);
			CU_ASSERT_FATAL(put_letter(sp, "gone", "gone\n", SPOOL_HOLD, NULL, 0) == 0);
			CU_ASSERT_FATAL(put_letter(sp, "clash", "clash in\n", SPOOL_IN, NULL, 0) == 0);
			CU_ASSERT_FATAL(put_letter(sp, "taken", "taken\n", SPOOL_QUEUE, NULL, 0) == 0);
			CU_ASSERT_FATAL(put_letter(sp, "gone2", "gone2\n", SPOOL_HOLD, NULL, 0) == 0);
			CU_ASSERT_FATAL(spool_docket_put(sp, "k1", "v0", 2, err, sizeof(err)) == 0);
			CU_ASSERT_FATAL(spool_docket_put(sp, "k2", "w0", 2, err, sizeof(err)) == 0);
			CU_ASSERT_FATAL(spool_docket_put(sp, "k3", "x", 1, err, sizeof(err)) == 0);
			CU_ASSERT_FATAL(spool_docket_put(sp, "k4", "y", 1, err, sizeof(err)) == 0);
			spool_close(sp);
			CU_ASSERT_FATAL(tl_write_file(spath(dir, "out/dropped"), "dropped\n") == 0);

			fflush(NULL);
			if ((pid = fork()) == 0) {
				if ((devnull = open("/dev/null", O_WRONLY)) >= 0)
					dup2(devnull, 2);
				setenv("NIFTPMAIL_CRASH", pt, 1);
				execl(self_exe, self_exe, "--child-truth", dir, scens[s],
				    (char *) NULL);
				_exit(127);
			}
			CU_ASSERT_FATAL(pid > 0 && waitpid(pid, &st, 0) == pid);
			if (!truth_fires(scens[s], pt))
				EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			else
				EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 99);

			sp = sopen(dir, NULL, 0);
			EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
			if (count_files(spath(dir, "tmp")) != 0 || rep.conflicts != 0)
				ok = 0;
			/* no trash is left: used for an undo, or removed */
			snap = snapshot(dir, 0);
			if (strstr(snap, ".trash.") != NULL) {
				fprintf(stderr, "\ncrash at %s: trash left:\n%s", pt, snap);
				ok = 0;
			}
			free(snap);
			if (strcmp(scens[s], "fail") != 0) {
				t1 = truth_t1(dir, sp, pt);
				if (t1 < 0)
					ok = 0;
				/* alone on a loop-less spool, where it must stand is known */
				if (strcmp(scens[s], "full") == 0 && t1 >= 0
				    && t1 != truth_whole(pt)) {
					fprintf(stderr, "\ncrash at %s: T1 %s, want %s\n", pt,
					    t1 ? "whole" : "absent", t1 ? "absent" : "whole");
					ok = 0;
				}
				/* and who did the work: the intent record between it
				 * and the journal sync, the claim marker before it */
				if (strcmp(scens[s], "full") == 0
				    && (rep.intent_redone
				    != (unsigned) (truth_fires(scens[s], pt) && truth_redone(pt))
				    || rep.claims_undone != !truth_whole(pt))) {
					fprintf(stderr, "\ncrash at %s: redone %u, claims undone %u\n",
					    pt, rep.intent_redone, rep.claims_undone);
					ok = 0;
				}
			} else {
				t1 = 0;
			}
			if (strcmp(scens[s], "full") != 0 && !truth_t2_absent(dir, pt))
				ok = 0;
			spool_close(sp);
			/* a second recovery changes nothing */
			sp = sopen(dir, NULL, 0);
			EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
			t1again = strcmp(scens[s], "fail") != 0 ? truth_t1(dir, sp, pt) : 0;
			spool_close(sp);
			if (t1again != t1) {
				fprintf(stderr, "\ncrash at %s: second recovery changed T1\n", pt);
				ok = 0;
			}
			pass = ok;
			if (!pass)
				fprintf(stderr, "  (scenario %s, spool %s)\n", scens[s], dir);
			EXPECT_TRUE(pass);
		}
}

/*
 * A failed transaction without a callback is logged
 */

static void test_failed_logged(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_txn *t;
	struct spool_stats st;
	char    logf[1024];
	char   *text;
	int     saved, fd;

	snprintf(logf, sizeof(logf), "%s/stderr.txt", tdir);
	fflush(stderr);
	saved = dup(2);
	fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	t = spool_txn_new(sp);
	spool_txn_move(t, "nosuch", SPOOL_IN, SPOOL_QUEUE, NULL);
	spool_txn_journal(t, "routed", "nosuch", NULL, 0);
	spool_txn_submit(t, NULL, NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	spool_stats(sp, &st);
	spool_close(sp);
	EXPECT_INT(st.txns_failed, 1);
	text = tl_read_file(logf, NULL);
	EXPECT_HAS(text, "spool: rename 'in/nosuch' to 'queue/nosuch': No such file or directory");
	free(text);
	EXPECT_INT(journal_count(dir, "routed", "nosuch"), 0);
}

/*
 * The intent record: encoder and parser, and records recovery must
 * leave alone (torn, foreign, about another journal)
 */

/* intent_sample - a record of two transactions into b */
static void intent_sample(struct buf *b, uint64_t jino, uint64_t joff, const char *lines)
{
	struct intent_op op;

	memset(&op, 0, sizeof(op));
	CU_ASSERT_FATAL(intent_begin(b, jino, joff) == 0);
	CU_ASSERT_FATAL(intent_put_txn(b, 2, strlen(lines)) == 0);
	op.kind = 1;		/* a move */
	op.from = 2;
	op.to = 3;
	op.ino = 77;
	op.trash = 0x0123456789abcdefULL;
	op.name = "ucl.2611231930.0001a7";
	op.newname = "ucl.2611231930.0001a7";
	CU_ASSERT_FATAL(intent_put_op(b, &op) == 0);
	op.kind = 4;		/* a docket put */
	op.trash = 0;
	op.name = op.newname = NULL;
	op.dkfile = "pss%2F17";
	op.dktmp = ".tmp.d.abc123";
	CU_ASSERT_FATAL(intent_put_op(b, &op) == 0);
	CU_ASSERT_FATAL(buf_append(b, lines, strlen(lines)) == 0);
	CU_ASSERT_FATAL(intent_put_txn(b, 0, 0) == 0);
	intent_seal(b, 2);
}

/* intent_recrc - fix the CRC of a record after a change */
static void intent_recrc(unsigned char *p, size_t len)
{
	uLong   c = crc32(0L, p + INTENT_HEADLEN, (uInt) (len - INTENT_HEADLEN));
	int     i;

	for (i = 0; i < 4; i++)
		p[8 + i] = (unsigned char) (c >> (8 * i));
}

/* put_intent - write len octets at offset 0 of DIR/intent */
static void put_intent(const char *dir, const void *p, size_t len)
{
	int     fd = open(spath(dir, "intent"), O_WRONLY);

	CU_ASSERT_FATAL(fd >= 0 && pwrite(fd, p, len, 0) == (ssize_t) len);
	close(fd);
}

static void test_intent_record(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct intent rec;
	unsigned char *m;
	const char *dir = newdir();
	struct spool *sp;
	struct spool_recovery rep;
	struct stat sb;
	char    err[SPOOL_ERRLEN], *j, *j2;
	size_t  len, i, jlen;
	unsigned seed = 1;
	int     n, ok = 1;

	/* round trip */
	intent_sample(&b, 5, 1234, "2026-11-23T19:30:00Z routed x\n");
	EXPECT_INT(intent_parse(buf_data(&b), b.len, &rec), 0);
	EXPECT_INT(rec.jino, 5);
	EXPECT_INT(rec.joff, 1234);
	EXPECT_INT(rec.ntxn, 2);
	EXPECT_INT(rec.nop, 2);
	EXPECT_INT(rec.linelen, strlen("2026-11-23T19:30:00Z routed x\n"));
	EXPECT_INT(rec.op[0].ino, 77);
	EXPECT_TRUE(rec.op[0].trash == 0x0123456789abcdefULL && rec.op[1].trash == 0);
	EXPECT_STR(rec.op[0].newname, "ucl.2611231930.0001a7");
	EXPECT_TRUE(rec.op[0].dkfile == NULL);
	EXPECT_STR(rec.op[1].dktmp, ".tmp.d.abc123");
	EXPECT_INT(rec.txn[1].nops, 0);
	intent_release(&rec);
	/* a record of the first format ("nmi1": no trash) is still read */
	{
		static const unsigned char v1[] = {
			'n', 'm', 'i', '1', 0, 0, 0, 0, 0, 0, 0, 0,
			5, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0,	/* jino, joff */
			1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,		/* 1 txn: 1 op, 2 octets */
			2, 3, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0,		/* remove from queue/, ino 42 */
			1, 0, 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* name "x", 3 empty */
			'l', '\n',
		};
		unsigned char r1[sizeof(v1)];
		size_t  body = sizeof(v1) - INTENT_HEADLEN;

		memcpy(r1, v1, sizeof(r1));
		for (i = 0; i < 4; i++)
			r1[4 + i] = (unsigned char) (body >> (8 * i));
		intent_recrc(r1, sizeof(r1));
		EXPECT_INT(intent_parse(r1, sizeof(r1), &rec), 0);
		EXPECT_INT(rec.nop, 1);
		if (rec.nop == 1) {
			EXPECT_INT(rec.op[0].kind, 2);
			EXPECT_INT(rec.op[0].from, 3);
			EXPECT_INT(rec.op[0].ino, 42);
			EXPECT_INT(rec.op[0].trash, 0);
			EXPECT_STR(rec.op[0].name, "x");
			EXPECT_INT(rec.txn[0].linelen, 2);
		}
		intent_release(&rec);
	}
	/* every cut is refused (torn), and so is every flipped octet */
	for (len = 0; len < b.len; len++)
		if (intent_parse(buf_data(&b), len, &rec) == 0)
			ok = 0;
	m = xmalloc(b.len);
	for (i = 0; i < b.len; i++) {
		memcpy(m, buf_data(&b), b.len);
		m[i] ^= 0x20;
		if (intent_parse(m, b.len, &rec) == 0)
			ok = 0;
	}
	EXPECT_TRUE(ok);
	/* garbage that passes its CRC: parsed or refused, never read past
	 * the end (ASan) nor trusted for more memory than it has */
	for (n = 0; n < 20000; n++) {
		memcpy(m, buf_data(&b), b.len);
		for (i = 0; i < 3; i++)
			m[INTENT_HEADLEN + (size_t) rand_r(&seed) % (b.len - INTENT_HEADLEN)]
			    = (unsigned char) rand_r(&seed);
		intent_recrc(m, b.len);
		if (intent_parse(m, b.len, &rec) == 0)
			intent_release(&rec);
	}
	free(m);

	/* recovery: torn, foreign and stale records change nothing and are
	 * not looked at twice */
	sp = sopen(dir, NULL, 0);
	CU_ASSERT_FATAL(put_letter(sp, "l1", "one\n", SPOOL_IN, NULL, 0) == 0);
	spool_close(sp);
	CU_ASSERT_FATAL(stat(spath(dir, "journal"), &sb) == 0);
	j = tl_read_file(spath(dir, "journal"), &jlen);
	for (n = 0; n < 3; n++) {
		if (n == 0) {		/* torn: the CRC fails */
			intent_sample(&b, (uint64_t) sb.st_ino, jlen, "2026-11-23T19:30:00Z x -\n");
			buf_data(&b)[b.len - 1] ^= 1;
		} else if (n == 1) {	/* not ours: a state that does not exist */
			intent_sample(&b, (uint64_t) sb.st_ino, jlen, "2026-11-23T19:30:00Z x -\n");
			buf_data(&b)[INTENT_HEADLEN + 20 + 8 + 2] = 99;
			intent_recrc(buf_data(&b), b.len);
		} else {		/* stale: the journal says otherwise at 0 */
			intent_sample(&b, (uint64_t) sb.st_ino, 0, "2026-11-23T19:30:00Z x -\n");
		}
		put_intent(dir, buf_data(&b), b.len);
		sp = sopen(dir, NULL, 0);
		EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
		spool_close(sp);
		EXPECT_INT(rep.intent_redone + rep.intent_undone, 0);
		EXPECT_TRUE(tl_file_is(spath(dir, "in/l1"), "one\n"));
		/* a whole record that is not ours to redo is cleared once */
		m = (unsigned char *) tl_read_file(spath(dir, "intent"), &len);
		CU_ASSERT_FATAL(m != NULL && len >= INTENT_HEADLEN);
		EXPECT_INT(memcmp(m, "\0\0\0\0", 4) == 0, n > 0);
		free(m);
		/* the journal got only the recover line */
		j2 = tl_read_file(spath(dir, "journal"), NULL);
		EXPECT_TRUE(j2 != NULL && strncmp(j2, j, jlen) == 0
		    && strstr(j2 + jlen, " x -") == NULL);
		free(j);
		j = j2;
		jlen = strlen(j2);
	}
	free(j);
	buf_release(&b);
}

/*
 * Recovery report
 */

static void test_recover_report(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_recovery rep;
	char    err[SPOOL_ERRLEN];
	FILE   *fp;
	size_t  len;
	char   *j;

	EXPECT_INT(put_letter(sp, "twice", "a\n", SPOOL_IN, NULL, 0), 0);
	spool_close(sp);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "tmp/halfway"), "partial letter") == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "tmp/.junk"), "x") == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "dockets/.tmp.d.abc123"), "half docket") == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "hold/twice"), "a\n") == 0);
	/* trash of committed batches (its unlink is not synced); a user's
	 * dot-file in out/ is not ours */
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "queue/.trash.00000000000000ab"), "t") == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "dockets/.trash.00000000000000cd"), "t") == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "out/.trash.mine"), "u") == 0);
	fp = fopen(spath(dir, "journal"), "ab");
	CU_ASSERT_FATAL(fp != NULL);
	fputs("2026-01-01T00:00:00Z received torn", fp);
	fclose(fp);

	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	EXPECT_INT(rep.tmp_undone, 1);
	EXPECT_INT(rep.tmp_other, 1);
	EXPECT_INT(rep.docket_tmp, 1);
	EXPECT_INT(rep.conflicts, 1);
	EXPECT_INT(rep.journal_cut, strlen("2026-01-01T00:00:00Z received torn"));
	EXPECT_INT(rep.files[SPOOL_IN], 1);
	EXPECT_INT(rep.files[SPOOL_HOLD], 1);
	EXPECT_INT(rep.trash, 2);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(count_files(spath(dir, "queue")), 0);
	EXPECT_TRUE(tl_file_is(spath(dir, "out/.trash.mine"), "u"));
	spool_close(sp);
	j = tl_read_file(spath(dir, "journal"), &len);
	CU_ASSERT_FATAL(j != NULL);
	EXPECT_TRUE(len > 0 && j[len - 1] == '\n');
	EXPECT_TRUE(strstr(j, "torn") == NULL);
	free(j);
	EXPECT_INT(journal_count(dir, "recover", "-"), 1);
	EXPECT_INT(journal_count(dir, "conflict", "twice"), 1);
}

/*
 * Group commit on a loop
 */

struct gc_state {
	int	done, ok;
};

static void gc_done(void *arg, int ok, const char *err)
{
	struct gc_state *g = arg;

	(void) err;
	g->done++;
	g->ok += ok;
}

static void test_group_commit(void)
{
	enum { N = 200 };
	struct loop *loop = loop_new();
	const char *dir = newdir();
	struct spool *sp = sopen(dir, loop, 0);
	struct spool_stats st;
	struct gc_state g = { 0, 0 };
	struct spool_file *f;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN], body[64];
	const char *kv[] = { "n", body };
	int     i;

	for (i = 0; i < N; i++) {
		f = spool_create(sp, NULL, err, sizeof(err));
		CU_ASSERT_FATAL(f != NULL);
		snprintf(body, sizeof(body), "%d", i);
		CU_ASSERT_FATAL(spool_write(f, body, strlen(body), err, sizeof(err)) == 0);
		t = spool_txn_new(sp);
		spool_txn_journal(t, "received", spool_file_name(f), kv, 1);
		spool_txn_commit(t, f, SPOOL_IN);
		spool_txn_submit(t, gc_done, &g);
	}
	EXPECT_INT(spool_pending(sp), N);
	spool_drain(sp);
	EXPECT_INT(g.done, N);
	EXPECT_INT(g.ok, N);
	spool_stats(sp, &st);
	fprintf(stderr, "\n  group commit: %d txns, %llu batches, %llu journal fsyncs, "
	    "%llu intent fsyncs, %llu dir fsyncs, %llu file fsyncs\n", N,
	    (unsigned long long) st.batches, (unsigned long long) st.journal_syncs,
	    (unsigned long long) st.intent_syncs, (unsigned long long) st.dir_syncs,
	    (unsigned long long) st.file_syncs);
	/* the journal's truth costs one small fdatasync per batch, no more */
	EXPECT_INT(st.intent_syncs, st.batches);
	EXPECT_INT(st.txns, N);
	EXPECT_INT(st.lines, N);
	EXPECT_INT(st.file_syncs, N);
	EXPECT_TRUE(st.journal_syncs * 4 <= N);
	EXPECT_TRUE(st.journal_syncs == st.batches);
	EXPECT_INT(count_files(spath(dir, "in")), N);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "received", NULL), N);

	/* a failure inside a batch fails only its transaction */
	g.done = g.ok = 0;
	f = spool_create(sp, "exists", err, sizeof(err));
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_submit(t, gc_done, &g);
	spool_drain(sp);
	f = spool_create(sp, "exists", err, sizeof(err));
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_submit(t, gc_done, &g);
	f = spool_create(sp, "other", err, sizeof(err));
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_submit(t, gc_done, &g);
	spool_drain(sp);
	EXPECT_INT(g.done, 3);
	EXPECT_INT(g.ok, 2);
	/* an injected journal fsync failure undoes the whole batch */
	g.done = g.ok = 0;
	sysio_fail(SYSIO_FSYNC, 4, EIO);	/* file, intent, dir in/, then journal */
	f = spool_create(sp, "jfail", err, sizeof(err));
	t = spool_txn_new(sp);
	spool_txn_journal(t, "received", "jfail", NULL, 0);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_submit(t, gc_done, &g);
	spool_drain(sp);
	sysio_reset();
	EXPECT_INT(g.done, 1);
	EXPECT_INT(g.ok, 0);
	EXPECT_TRUE(!spool_exists(sp, SPOOL_IN, "jfail"));
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "received", "jfail"), 0);
	spool_close(sp);
	loop_free(loop);
}

/*
 * A transaction that fails inside a batch is reported failed: the
 * intent record must stop describing it, or a recovery after the batch
 * (the next batch not yet begun) would see the good transaction's lines
 * as a prefix of the record's and complete the failed one after all.
 */

static void test_intent_failed_in_batch(void)
{
	struct loop *loop = loop_new();
	const char *dir = NULL;
	struct spool *sp = NULL;
	struct spool_recovery rep;
	struct spool_stats st0, st1;
	struct gc_state g;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN];
	int     try, shared = 0;

	for (try = 0; try < 5 && !shared; try++) {
		dir = newdir();
		sp = sopen(dir, loop, 0);
		CU_ASSERT_FATAL(put_letter(sp, "good", "g\n", SPOOL_IN, NULL, 0) == 0);
		CU_ASSERT_FATAL(put_letter(sp, "bad", "b\n", SPOOL_IN, NULL, 0) == 0);
		spool_stats(sp, &st0);
		memset(&g, 0, sizeof(g));
		t = spool_txn_new(sp);
		spool_txn_move(t, "good", SPOOL_IN, SPOOL_QUEUE, NULL);
		spool_txn_journal(t, "routed", "good", NULL, 0);
		spool_txn_submit(t, gc_done, &g);
		t = spool_txn_new(sp);
		spool_txn_move(t, "bad", SPOOL_IN, SPOOL_QUEUE, NULL);
		spool_txn_journal(t, "routed", "bad", NULL, 0);
		spool_txn_submit(t, gc_done, &g);
		/* both prepared before the loop runs: one batch; the second
		 * rename of the batch (the bad move) fails once */
		usleep(100000);
		sysio_fail(SYSIO_RENAME, 2, EIO);
		spool_drain(sp);
		sysio_reset();
		spool_stats(sp, &st1);
		shared = st1.batches - st0.batches == 1;
		EXPECT_INT(g.done, 2);
		EXPECT_INT(g.ok, 1);
		spool_close(sp);
	}
	EXPECT_TRUE(shared);
	/* a crash now: recovery finds the batch over, nothing to redo */
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	spool_close(sp);
	EXPECT_INT(rep.intent_redone + rep.intent_undone, 0);
	EXPECT_TRUE(tl_exists(spath(dir, "queue/good")) && tl_exists(spath(dir, "in/bad")));
	EXPECT_INT(journal_count(dir, "routed", "good"), 1);
	EXPECT_INT(journal_count(dir, "routed", "bad"), 0);
	loop_free(loop);
}


/*
 * A failed transaction is absent, whole: every operation is undone (a
 * remove and a docket delete come back from their trash, a docket put
 * gives way to the docket it replaced, a commit goes) and no line is
 * written, whichever call fails, also when the whole batch fails at the
 * journal fsync. A transaction that goes through is exactly present.
 */

/* undo_setup - the spool before the transaction: in/victim, dockets
 * k-old and k-del, and a journal */
static void undo_setup(const char *dir)
{
	struct spool *sp = sopen(dir, NULL, 0);
	char    err[SPOOL_ERRLEN];

	CU_ASSERT_FATAL(put_letter(sp, "victim", "victim\n", SPOOL_IN, NULL, 0) == 0);
	CU_ASSERT_FATAL(spool_docket_put(sp, "k-old", "old value", 9, err, sizeof(err)) == 0);
	CU_ASSERT_FATAL(spool_docket_put(sp, "k-del", "doomed", 6, err, sizeof(err)) == 0);
	spool_close(sp);
}

/* undo_run - the transaction (remove, docket put over an older one,
 * docket delete, commit, two lines) with call nth of op failing (nth 0:
 * none); its error into err. 0 it went through, 1 it failed. */
static int undo_run(const char *dir, enum sysio_op op, unsigned long nth, char *err,
	size_t errlen)
{
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_file *f;
	struct spool_txn *t;
	const char *kv[] = { "by", "test" };
	int     rc;

	f = spool_create(sp, "newc", err, errlen);
	CU_ASSERT_FATAL(f != NULL && spool_write(f, "new letter\n", 11, err, errlen) == 0);
	if (nth > 0)
		sysio_fail(op, nth, EIO);
	t = spool_txn_new(sp);
	spool_txn_remove(t, SPOOL_IN, "victim");
	spool_txn_journal(t, "removed", "victim", kv, 1);
	spool_txn_docket_put(t, "k-old", "new value", 9);
	spool_txn_docket_del(t, "k-del");
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_journal(t, "received", "newc", kv, 1);
	err[0] = '\0';
	rc = spool_txn_run(t, err, errlen) == 0 ? 0 : 1;
	sysio_reset();
	spool_close(sp);
	return rc;
}

/* undo_present - the transaction is exactly present in dir (visible
 * files, dockets and lines) */
static int undo_present(const char *dir)
{
	struct spool *sp = sopen(dir, NULL, 0);
	char    err[SPOOL_ERRLEN];
	char   *old, *del;
	size_t  len;
	int     ok;

	old = spool_docket_get(sp, "k-old", &len, NULL, err, sizeof(err));
	del = spool_docket_get(sp, "k-del", &len, NULL, err, sizeof(err));
	ok = !tl_exists(spath(dir, "in/victim")) && tl_file_is(spath(dir, "in/newc"), "new letter\n")
	    && old != NULL && strcmp(old, "new value") == 0 && del == NULL
	    && journal_count(dir, "removed", "victim") == 1
	    && journal_count(dir, "received", "newc") == 1;
	free(old);
	free(del);
	spool_close(sp);
	return ok;
}

static void test_txn_undo_whole(void)
{
	static const struct {
		enum sysio_op op;
		const char *name;
	} kinds[] = {
		{ SYSIO_WRITE, "write" }, { SYSIO_FSYNC, "fsync" }, { SYSIO_LINK, "link" },
		{ SYSIO_RENAME, "rename" }, { SYSIO_UNLINK, "unlink" }, { SYSIO_OPEN, "open" },
	};
	/* every step of the transaction must have failed once */
	static const char *const steps[] = {
		"fsync 'tmp/newc'", "fsync 'dockets/.tmp.", "write 'intent'", "fsync 'intent'",
		"remove: link 'in/victim' to 'in/.trash.", "unlink 'in/victim'",
		"docket put: link 'dockets/k-old' to 'dockets/.trash.",
		"rename 'dockets/.tmp.", "docket delete: link 'dockets/k-del' to 'dockets/.trash.",
		"unlink 'dockets/k-del'", "link 'tmp/newc' to 'in/newc'", "fsync 'in'",
		"fsync 'dockets'", "write 'journal'", "fsync 'journal'",
	};
	unsigned seen[NELEM(steps)];
	struct spool *sp;
	struct spool_recovery rep;
	char    err[SPOOL_ERRLEN], rerr[SPOOL_ERRLEN];
	char   *before, *jbefore, *after, *jafter, *want = NULL;
	size_t  k, i, jlen0, jlen1;
	unsigned long nth;
	int     clean, failed, ok, runs = 0, fails = 0;

	memset(seen, 0, sizeof(seen));
	/* the same transaction without a fault: exactly present, the
	 * reference for every run that goes through */
	{
		const char *dir = newdir();

		undo_setup(dir);
		EXPECT_INT(undo_run(dir, SYSIO_WRITE, 0, err, sizeof(err)), 0);
		EXPECT_TRUE(undo_present(dir));
		/* nothing left behind: no trash, no tmp link */
		want = snapshot(dir, 0);
		EXPECT_TRUE(strstr(want, ".trash.") == NULL && strstr(want, "tmp/") == NULL);
	}
	for (k = 0; k < NELEM(kinds); k++) {
		clean = 0;
		for (nth = 1; nth <= 40 && clean < 3; nth++) {
			const char *dir = newdir();

			undo_setup(dir);
			before = snapshot(dir, 0);
			jbefore = tl_read_file(spath(dir, "journal"), &jlen0);
			failed = undo_run(dir, kinds[k].op, nth, err, sizeof(err));
			after = snapshot(dir, 0);
			jafter = tl_read_file(spath(dir, "journal"), &jlen1);
			runs++;
			if (failed) {
				/* absent: every file and docket as before, no line */
				fails++;
				clean = 0;
				ok = strcmp(after, before) == 0 && jlen1 == jlen0
				    && memcmp(jafter, jbefore, jlen0) == 0;
				for (i = 0; i < NELEM(steps); i++)
					if (strstr(err, steps[i]) != NULL)
						seen[i]++;
				if (!ok)
					fprintf(stderr, "\n%s call %lu failed (%s): not as before\n"
					    "before:\n%safter:\n%s", kinds[k].name, nth, err,
					    before, after);
				EXPECT_TRUE(ok);
			} else {
				/* present (a trash or tmp link may be left: below) */
				clean++;
				ok = undo_present(dir);
				if (!ok)
					fprintf(stderr, "\n%s call %lu: went through but is not "
					    "present\n", kinds[k].name, nth);
				EXPECT_TRUE(ok);
			}
			/* and a recovery leaves it so, with nothing to redo */
			sp = sopen(dir, NULL, 0);
			EXPECT_INT(spool_recover(sp, &rep, rerr, sizeof(rerr)), 0);
			spool_close(sp);
			EXPECT_INT(rep.intent_redone + rep.intent_undone + rep.tmp_undone, 0);
			free(after);
			after = snapshot(dir, 0);
			if (failed)
				ok = strcmp(after, before) == 0;
			else
				ok = strcmp(after, want) == 0 && undo_present(dir);
			if (!ok)
				fprintf(stderr, "\n%s call %lu (%s): after recovery:\n%s", kinds[k].name,
				    nth, failed ? err : "ok", after);
			EXPECT_TRUE(ok);
			free(before);
			free(after);
			free(jbefore);
			free(jafter);
		}
		EXPECT_TRUE(nth <= 40);
	}
	for (i = 0; i < NELEM(steps); i++) {
		if (!seen[i])
			fprintf(stderr, "\nno run failed at \"%s\"\n", steps[i]);
		EXPECT_TRUE(seen[i] > 0);
	}
	fprintf(stderr, "\n  undo: %d runs, %d failed, each as before\n", runs, fails);
	free(want);
}

/*
 * A whole batch that fails is undone last transaction first: T2 put the
 * docket over T1's, so T1's older docket must come back last.
 */

static void test_batch_undo_order(void)
{
	struct loop *loop = loop_new();
	struct spool *sp;
	struct spool_stats st0, st1;
	struct gc_state g;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN], *before = NULL, *after;
	const char *dir = NULL;
	int     try, shared = 0;

	for (try = 0; try < 5 && !shared; try++) {
		dir = newdir();
		sp = sopen(dir, loop, 0);
		CU_ASSERT_FATAL(put_letter(sp, "x", "x\n", SPOOL_IN, NULL, 0) == 0);
		CU_ASSERT_FATAL(put_letter(sp, "y", "y\n", SPOOL_IN, NULL, 0) == 0);
		CU_ASSERT_FATAL(spool_docket_put(sp, "k", "orig", 4, err, sizeof(err)) == 0);
		free(before);
		before = snapshot(dir, 0);
		spool_stats(sp, &st0);
		memset(&g, 0, sizeof(g));
		t = spool_txn_new(sp);
		spool_txn_docket_put(t, "k", "a", 1);
		spool_txn_remove(t, SPOOL_IN, "x");
		spool_txn_journal(t, "removed", "x", NULL, 0);
		spool_txn_submit(t, gc_done, &g);
		t = spool_txn_new(sp);
		spool_txn_docket_put(t, "k", "b", 1);
		spool_txn_move(t, "y", SPOOL_IN, SPOOL_QUEUE, NULL);
		spool_txn_journal(t, "routed", "y", NULL, 0);
		spool_txn_submit(t, gc_done, &g);
		/* both prepared before the loop runs: one batch, whose fsyncs
		 * are the record's, in/, queue/, dockets/, then the journal's */
		usleep(100000);
		sysio_fail(SYSIO_FSYNC, 5, EIO);
		spool_drain(sp);
		sysio_reset();
		spool_stats(sp, &st1);
		shared = st1.batches - st0.batches == 1;
		EXPECT_INT(g.done, 2);
		spool_close(sp);
		if (!shared)
			continue;
		EXPECT_INT(g.ok, 0);
		after = snapshot(dir, 0);
		if (strcmp(after, before) != 0)
			fprintf(stderr, "\nbatch undo: before:\n%safter:\n%s", before, after);
		EXPECT_STR(after, before);
		free(after);
		EXPECT_INT(journal_count(dir, "removed", "x") + journal_count(dir, "routed", "y"), 0);
	}
	EXPECT_TRUE(shared);
	free(before);
	loop_free(loop);
}

/*
 * Dockets
 */

static void test_dockets(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	static const char *const keys[] = {
		"tcp:127.0.0.1:4521/17", "../../etc/passwd", ".hidden", "pss/65534",
		"key with spaces\tand\ttabs", "%41", "%2541",
	};
	char    err[SPOOL_ERRLEN], longkey[SPOOL_DOCKET_KEYMAX + 1], *v;
	struct spool_txn *t;
	struct timespec ts[2];
	unsigned removed;
	time_t  mt;
	size_t  i, len;
	int     got;

	for (i = 0; i < NELEM(keys); i++)
		EXPECT_INT(spool_docket_put(sp, keys[i], keys[i], strlen(keys[i]) + 1,
		    err, sizeof(err)), 0);
	for (i = 0; i < NELEM(keys); i++) {
		v = spool_docket_get(sp, keys[i], &len, &mt, err, sizeof(err));
		EXPECT_TRUE(v != NULL && len == strlen(keys[i]) + 1 && strcmp(v, keys[i]) == 0);
		EXPECT_TRUE(mt > 0);
		free(v);
	}
	/* nothing escaped the dockets directory */
	EXPECT_INT(count_files(spath(dir, "dockets")), (int) NELEM(keys) + 1);
	/* long keys that share a prefix stay apart */
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	t = spool_txn_new(sp);
	spool_txn_docket_put(t, longkey, "L1", 2);
	longkey[500] = 'j';
	spool_txn_docket_put(t, longkey, "L2", 2);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	v = spool_docket_get(sp, longkey, &len, NULL, err, sizeof(err));
	EXPECT_STR(v, "L2");
	free(v);
	longkey[500] = 'k';
	v = spool_docket_get(sp, longkey, &len, NULL, err, sizeof(err));
	EXPECT_STR(v, "L1");
	free(v);
	/* replace, delete, missing */
	t = spool_txn_new(sp);
	spool_txn_docket_put(t, keys[0], "new", 3);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	v = spool_docket_get(sp, keys[0], &len, NULL, err, sizeof(err));
	EXPECT_STR(v, "new");
	free(v);
	t = spool_txn_new(sp);
	spool_txn_docket_del(t, keys[0]);
	spool_txn_docket_del(t, "never-there");
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	errno = 0;
	v = spool_docket_get(sp, keys[0], &len, NULL, err, sizeof(err));
	got = errno;
	EXPECT_TRUE(v == NULL);
	EXPECT_INT(got, ENOENT);
	EXPECT_INT(spool_docket_del(sp, keys[1], err, sizeof(err)), 0);
	EXPECT_INT(spool_docket_del(sp, keys[1], err, sizeof(err)), 0);
	/* a corrupt docket is reported and kept aside */
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "dockets/pss%2F65534"), "garbage") == 0);
	errno = 0;
	v = spool_docket_get(sp, "pss/65534", &len, NULL, err, sizeof(err));
	got = errno;
	EXPECT_TRUE(v == NULL);
	EXPECT_INT(got, EBADMSG);
	EXPECT_TRUE(strstr(err, "moved to dockets/corrupt/") != NULL);
	EXPECT_TRUE(tl_exists(spath(dir, "dockets/corrupt/pss%2F65534")));
	/* retention: age one docket by two days, prune at one day */
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 2 * 86400;
	ts[1] = ts[0];
	EXPECT_INT(utimensat(AT_FDCWD, spath(dir, "dockets/%2Ehidden"), ts, 0), 0);
	EXPECT_INT(spool_docket_prune(sp, 86400, time(NULL), &removed, err, sizeof(err)), 0);
	EXPECT_INT(removed, 1);
	errno = 0;
	v = spool_docket_get(sp, ".hidden", &len, NULL, err, sizeof(err));
	got = errno;
	EXPECT_TRUE(v == NULL);
	EXPECT_INT(got, ENOENT);
	v = spool_docket_get(sp, "%41", &len, NULL, err, sizeof(err));
	EXPECT_STR(v, "%41");
	free(v);
	spool_close(sp);
}

/*
 * Journal: escaping round trip, parser table, rotation
 */

static void test_journal_escape(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	static const char *const vals[] = {
		"plain", "with space", "quote\"inside", "a=b", "line\nbreak",
		"ctl\x01\x02\x7f", "tab\there", "back\\slash", "", "8bit\xe9\xff",
		"x\n2026-01-01T00:00:00Z received forged from=evil",
	};
	const char *kv[2 * NELEM(vals)];
	char    keys[NELEM(vals)][8], err[SPOOL_ERRLEN];
	struct spool_txn *t;
	struct journal_reader *r;
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	size_t  i, vlen;
	int     n = 0;
	const char *v;

	for (i = 0; i < NELEM(vals); i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		kv[2 * i] = keys[i];
		kv[2 * i + 1] = vals[i];
	}
	t = spool_txn_new(sp);
	spool_txn_journal(t, "deferred", "ucl.2611231930.0001a7", kv, NELEM(vals));
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	spool_close(sp);

	r = journal_reader_open(dir, err, sizeof(err));
	CU_ASSERT_FATAL(r != NULL);
	while (journal_reader_next(r, rec, err, sizeof(err)) == 1) {
		n++;
		EXPECT_STR(rec->event, "deferred");
		EXPECT_STR(rec->name, "ucl.2611231930.0001a7");
		EXPECT_INT(rec->nkv, NELEM(vals));
		for (i = 0; i < NELEM(vals); i++) {
			v = journal_get(rec, keys[i], &vlen);
			EXPECT_TRUE(v != NULL && vlen == strlen(vals[i])
			    && memcmp(v, vals[i], vlen) == 0);
		}
	}
	EXPECT_INT(n, 1);
	EXPECT_INT(journal_reader_skipped(r), 0);
	journal_reader_free(r);
	free(rec);
}

static void test_journal_parse(void)
{
	static const struct {
		const char *line;
		int	ok;
	} cases[] = {
		{ "2026-11-23T19:30:00Z received ucl.1 from=tcp:1.2.3.4:5 size=12", 1 },
		{ "2026-11-23T19:30:00Z recover -", 1 },
		{ "2026-11-23T19:30:00Z held \"a name\" why=\"\"", 1 },
		{ "2026-11-23T19:30:00Z x - k=\"\\x41\\n\\t\\r\\\\\\\"\"", 1 },
		{ "2026-11-23T19:30:00Z received", 0 },
		{ "2026-11-23 19:30:00Z received ucl.1", 0 },
		{ "2026-11-23T19:30:00Z  received ucl.1", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 ", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k=", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 =v", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k=\"open", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k=\"bad\\q\"", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k=\"\\x4\"", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k=a=b", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k=\"a\"b", 0 },
		{ "2026-11-23T19:30:00Z rec/eived ucl.1", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k=\"raw\ttab\"", 0 },
		{ "2026-11-23T19:30:00Z received ucl.1 k=a\tb", 0 },
	};
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	struct buf b = BUF_INIT(JOURNAL_LINE_MAX * 2);
	const char *kv[2 * 31];
	char   *big = xmalloc(JOURNAL_VALUE_MAX * 2);
	size_t  i;
	int     got;

	for (i = 0; i < NELEM(cases); i++) {
		got = journal_parse(cases[i].line, strlen(cases[i].line), rec) == 0;
		if (got != cases[i].ok)
			fprintf(stderr, "\ncase %zu \"%s\": got %d, want %d\n", i,
			    cases[i].line, got, cases[i].ok);
		EXPECT_INT(got, cases[i].ok);
	}
	EXPECT_INT(journal_parse(cases[3].line, strlen(cases[3].line), rec), 0);
	EXPECT_STR(journal_get(rec, "k", NULL), "A\n\t\r\\\"");
	/* oversized lines are cut to the limit and still parse */
	memset(big, 'v', JOURNAL_VALUE_MAX * 2 - 1);
	big[JOURNAL_VALUE_MAX * 2 - 1] = '\0';
	for (i = 0; i < 31; i++) {
		kv[2 * i] = "key";
		kv[2 * i + 1] = big;
	}
	EXPECT_INT(journal_format(&b, "2026-11-23T19:30:00Z", "big", NULL, kv, 31), 0);
	EXPECT_TRUE(b.len <= JOURNAL_LINE_MAX);
	EXPECT_INT(journal_parse((char *) buf_data(&b), b.len - 1, rec), 0);
	EXPECT_STR(journal_get(rec, "cut", NULL), "1");
	EXPECT_INT(strlen(journal_get(rec, "key", NULL)), JOURNAL_VALUE_MAX);
	EXPECT_TRUE(journal_word_ok("a-b_c.d") && !journal_word_ok("a b") && !journal_word_ok(""));
	buf_release(&b);
	free(big);
	free(rec);
}

static void test_rotation(void)
{
	const char *dir = newdir();
	struct spool_opts o;
	struct spool *sp;
	struct spool_txn *t;
	struct journal_reader *r;
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	struct spool_stats st;
	char    err[SPOOL_ERRLEN], num[16];
	const char *kv[] = { "n", num };
	uint64_t v, last = 0;
	int     i, n = 0, inorder = 1, keep;

	for (keep = 0; keep <= 3; keep += 3) {
		dir = newdir();
		memset(&o, 0, sizeof(o));
		o.dir = dir;
		o.node = "ucl";
		o.journal_max = 600;
		o.journal_keep = (unsigned) keep;
		sp = spool_open(&o, err, sizeof(err));
		CU_ASSERT_FATAL(sp != NULL);
		for (i = 1; i <= 100; i++) {
			snprintf(num, sizeof(num), "%d", i);
			t = spool_txn_new(sp);
			spool_txn_journal(t, "tick", NULL, kv, 1);
			CU_ASSERT_FATAL(spool_txn_run(t, err, sizeof(err)) == 0);
		}
		spool_stats(sp, &st);
		spool_close(sp);
		EXPECT_TRUE(st.rotations >= 5);
		EXPECT_TRUE(tl_exists(spath(dir, "journal.1")) && tl_exists(spath(dir, "journal.2")));
		if (keep)
			EXPECT_TRUE(tl_exists(spath(dir, "journal.3")) && !tl_exists(spath(dir, "journal.4")));
		r = journal_reader_open(dir, err, sizeof(err));
		CU_ASSERT_FATAL(r != NULL);
		n = 0;
		last = 0;
		inorder = 1;
		while (journal_reader_next(r, rec, err, sizeof(err)) == 1) {
			if (str_to_u64(journal_get(rec, "n", NULL), 1, 100, &v) < 0 || v != last + 1)
				if (!(keep && n == 0))
					inorder = 0;
			last = v;
			n++;
		}
		journal_reader_free(r);
		EXPECT_TRUE(inorder);
		EXPECT_INT(last, 100);
		if (!keep)
			EXPECT_INT(n, 100);
		else
			EXPECT_TRUE(n < 100);
	}
	free(rec);
}

int main(int argc, char **argv)
{
	static const struct tl_test tests[] = {
		{ "names", "unique, sortable, across restarts", test_names },
		{ "names", "background block reservation", test_names_loop },
		{ "commit", "commit, move, remove, claim, scan", test_commit_basic },
		{ "commit", "error text", test_error_text },
		{ "commit", "a failure without a callback is logged", test_failed_logged },
		{ "faults", "Nth write/fsync/link/rename/unlink/open fails", test_faults },
		{ "crash", "crash at every point, then recover", test_crash_points },
		{ "crash", "journal truth: whole or absent at every point", test_journal_truth },
		{ "recover", "report", test_recover_report },
		{ "recover", "intent record: format, torn, foreign, stale", test_intent_record },
		{ "group", "batching and failures on a loop", test_group_commit },
		{ "group", "a transaction failed in a batch is not redone", test_intent_failed_in_batch },
		{ "undo", "a failed transaction is absent, whole", test_txn_undo_whole },
		{ "undo", "a failed batch is undone last transaction first", test_batch_undo_order },
		{ "dockets", "put, get, del, corrupt, prune", test_dockets },
		{ "journal", "escaping round trip", test_journal_escape },
		{ "journal", "parser table and caps", test_journal_parse },
		{ "journal", "rotation and reader", test_rotation },
	};
	int     rc;

	self_exe = "/proc/self/exe";
	if (argc > 2 && strcmp(argv[1], "--child-crash") == 0)
		return child_crash(argv[2]);
	if (argc > 3 && strcmp(argv[1], "--child-truth") == 0)
		return child_truth(argv[2], argv[3]);
	log_init("test_spool", LOG_LVL_ERR);
	if (tl_tmpdir(tdir, sizeof(tdir), "test_spool") < 0)
		return 1;
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	/* a failed run keeps its spools for a look */
	if (rc == 0 && tl_rmtree(tdir) < 0)
		fprintf(stderr, "could not remove %s\n", tdir);
	return rc;
}
