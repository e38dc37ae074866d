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
 *	changes nothing; then again with the recovery itself killed after
 *	each operation it redoes or undoes ("--child-recover DIR"). Commits
 *	and removes are renames: no second link is left in tmp/ or as
 *	trash, a name being committed cannot be created again, and an older
 *	version's tmp/ links and intent records (link commits, trash links)
 *	are still recovered.
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
 *
 *	Bare commits: a batch of bare commits (with lines and dockets)
 *	writes no intent record, one that also moves a file does; a child
 *	killed at every point of a batch of bare commits ("--child-bare
 *	DIR") leaves each file undone in tmp/ (removed by recovery), in
 *	queue/ without its lines and records (the caller's garbage, which
 *	recovery leaves alone: nothing redone, no conflict), or whole.
 *
 *	Removes after the commit and recycled inodes: the file goes after
 *	the journal's sync (sysio trace order; there on submit, gone at the
 *	callback), without a directory sync, never for a failed
 *	transaction; a missing one is no error. It is recycled: emptied,
 *	kept as tmp/.free.N (at most 64), taken (same inode, empty) only by
 *	spool_create() with a fresh name, not recycled while another link
 *	names it, removed by recovery at restart; a new letter in a
 *	recycled inode holds exactly its own octets.
 *
 *	Dockets (records of the journal): round trips across restarts and
 *	rotations (snapshot + replay, older snapshots too); a child killed
 *	at every point of a batch of dockets ("--child-dk DIR"), and that
 *	batch's write cut at every line and inside lines: every transaction
 *	whole or absent, dockets and lines alike; failed batches leave the
 *	map unchanged; damaged snapshots are never read; an older version's
 *	docket files are converted; peek and peek_all beside an open spool;
 *	a busy run makes no docket file.
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

#include "spool/dkmap.h"
#include "spool/dkstore.h"
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

	if (d == NULL && errno == ENOENT)
		return;			/* dockets/: only in an older version's spool */
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

/* snap_docket - one docket as "docket KEY=VALUE\n" (spool_docket_fn) */
static int snap_docket(void *arg, const char *key, const void *val, size_t len)
{
	struct buf *b = arg;

	(void) buf_printf(b, "docket %s=", key);
	(void) buf_append(b, val, len);
	(void) buf_putc(b, '\n');
	return 0;
}

/* snapshot - every file of every state and every docket, with their
 * contents (visible: no dot-files, no tmp/), into new memory */
static char *snapshot(const char *dir, int visible)
{
	static const char *const subs[] = { "out", "tmp", "in", "queue", "hold", "dead",
	"corrupt", "archive", "part", "dockets" };
	struct buf b = BUF_INIT(1 << 24);
	char   *s, err[SPOOL_ERRLEN];
	size_t  i;

	for (i = 0; i < NELEM(subs); i++)
		if (!visible || strcmp(subs[i], "tmp") != 0)
			snap_add(&b, dir, subs[i], visible);
	/* the dockets, as a reader without the daemon finds them */
	if (spool_docket_peek_all(dir, snap_docket, &b, err, sizeof(err)) < 0)
		(void) buf_printf(&b, "dockets: %s\n", err);
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

/* scan_not_a - a name that does not start with 'a' (spool_scan_some) */
static int scan_not_a(void *arg, const char *name)
{
	(void) arg;
	return name[0] != 'a';
}

static void test_commit_basic(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	char    nm[SPOOL_NAMELEN], nm2[SPOOL_NAMELEN], err[SPOOL_ERRLEN];
	struct spool_txn *t;
	struct spool_file *f;
	struct buf b = BUF_INIT(4096);
	struct stat sb;
	const char *kv[] = { "from", "out/a" };

	EXPECT_INT(put_letter(sp, NULL, "hello\n", SPOOL_IN, nm, sizeof(nm)), 0);
	EXPECT_TRUE(tl_file_is(spath3(dir, "in", nm), "hello\n"));
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "received", nm), 1);
	/* committed by a rename: one name, no second link left anywhere */
	EXPECT_TRUE(stat(spath3(dir, "in", nm), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_INT(count_files(spath(dir, "in")), 1);

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
	EXPECT_INT(count_files(spath(dir, "hold")), 0);		/* no trash either */
	/* removing a missing file fails and names it */
	t = spool_txn_new(sp);
	spool_txn_remove(t, SPOOL_HOLD, nm);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_TRUE(strncmp(err, "spool: remove: rename 'hold/ucl.", 32) == 0);
	EXPECT_HAS(err, "No such file or directory");
	EXPECT_INT(count_files(spath(dir, "hold")), 0);
	/* moving a missing file fails and names it */
	t = spool_txn_new(sp);
	spool_txn_move(t, nm, SPOOL_IN, SPOOL_QUEUE, NULL);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_TRUE(strncmp(err, "spool: rename 'in/ucl.", 22) == 0);
	EXPECT_TRUE(strstr(err, "No such file or directory") != NULL);

	/* a commit never replaces: EEXIST (the target checked free before
	 * the rename, as for a move), tmp removed */
	EXPECT_INT(put_letter(sp, "dup1", "one\n", SPOOL_IN, NULL, 0), 0);
	f = spool_create(sp, "dup1", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_write(f, "two\n", 4, err, sizeof(err)), 0);
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_STR(err, "spool: rename 'tmp/dup1' to 'in/dup1': File exists");
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
	/* only what keep takes (never a dot-file or directory) */
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "out/c"), "letter c\n") == 0);
	buf_reset(&b);
	EXPECT_INT(spool_scan_some(sp, SPOOL_OUT, scan_not_a, scan_collect, &b, err, sizeof(err)),
	    0);
	EXPECT_STR(buf_cstr(&b), "b,c,");
	CU_ASSERT_FATAL(unlink(spath(dir, "out/c")) == 0);
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
 * A commit is one rename, also for a file with a receive checkpoint
 * (part/NAME, a second link, removed in the same transaction); an undone
 * commit gives the file back to part/, for a resumption
 */

static void test_commit_parted(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_file *f;
	struct spool_txn *t;
	struct stat sb;
	char    err[SPOOL_ERRLEN];

	/* through: one name left, in its state */
	f = spool_create(sp, "rx1", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_write(f, "part one\n", 9, err, sizeof(err)), 0);
	EXPECT_INT(spool_file_checkpoint(f, err, sizeof(err)), 0);
	EXPECT_TRUE(stat(spath(dir, "part/rx1"), &sb) == 0 && sb.st_nlink == 2);
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_remove(t, SPOOL_PART, "rx1");
	spool_txn_journal(t, "received", "rx1", NULL, 0);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	EXPECT_TRUE(tl_file_is(spath(dir, "in/rx1"), "part one\n"));
	EXPECT_TRUE(stat(spath(dir, "in/rx1"), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_INT(count_files(spath(dir, "tmp")) + count_files(spath(dir, "part")), 0);

	/* the target is taken: nothing renamed, the file stays in part/ */
	CU_ASSERT_FATAL(put_letter(sp, "rx2", "other\n", SPOOL_IN, NULL, 0) == 0);
	f = spool_create(sp, "rx2", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_write(f, "mine\n", 5, err, sizeof(err)), 0);
	EXPECT_INT(spool_file_checkpoint(f, err, sizeof(err)), 0);
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_remove(t, SPOOL_PART, "rx2");
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_STR(err, "spool: rename 'tmp/rx2' to 'in/rx2': File exists");
	EXPECT_TRUE(tl_file_is(spath(dir, "in/rx2"), "other\n"));
	EXPECT_TRUE(tl_file_is(spath(dir, "part/rx2"), "mine\n"));
	EXPECT_TRUE(stat(spath(dir, "part/rx2"), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	f = spool_file_resume(sp, "rx2", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_file_size(f), 5);
	spool_file_abort(f);
	EXPECT_TRUE(tl_file_is(spath(dir, "part/rx2"), "mine\n"));

	/* undone after its renames (the fsync of in/ fails: the file's,
	 * the record's, then in/'s): renamed back to tmp/ and removed
	 * there, part/ back from its trash, no line */
	f = spool_create(sp, "rx3", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_write(f, "three\n", 6, err, sizeof(err)), 0);
	EXPECT_INT(spool_file_checkpoint(f, err, sizeof(err)), 0);
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_remove(t, SPOOL_PART, "rx3");
	spool_txn_journal(t, "received", "rx3", NULL, 0);
	sysio_fail(SYSIO_FSYNC, 3, EIO);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	sysio_reset();
	EXPECT_STR(err, "spool: fsync 'in': Input/output error");
	EXPECT_TRUE(!tl_exists(spath(dir, "in/rx3")));
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_TRUE(tl_file_is(spath(dir, "part/rx3"), "three\n"));
	EXPECT_TRUE(stat(spath(dir, "part/rx3"), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_INT(count_files(spath(dir, "part")), 2);		/* rx2, rx3: no trash */
	EXPECT_INT(journal_count(dir, "received", "rx3"), 0);
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
			continue;	/* an unlink failure only leaves a trash */
		if (cases[c].op == SYSIO_LINK)
			continue;	/* no link is made but a claim's marker, whose
					 * failure fails the claim, before the run */
		if (cases[c].failures == 0)
			fprintf(stderr, "\nno failing run for %s\n", cases[c].opname);
		EXPECT_TRUE(cases[c].failures > 0);
	}
	/* fsync: file, claim, intent, 3 directories, journal: all failed */
	EXPECT_TRUE(cases[2].failures >= 7);
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
	sysio_fail(SYSIO_RENAME, 1, ENOSPC);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	sysio_reset();
	EXPECT_STR(err, "spool: rename 'tmp/x1' to 'in/x1': No space left on device");
	EXPECT_INT(count_files(spath(dir, "tmp")) + count_files(spath(dir, "in")), 0);
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
		/* past the rename, the commit stands and its trace is complete:
		 * before the journal write by the intent record's recovery; a
		 * commit leaves no tmp/ link for the tmp/ scan to complete */
		if (i >= 1 && i <= 5 && !committed)
			ok = 0;
		if (rep.tmp_completed != 0 || rep.intent_redone != (i >= 1 && i <= 3))
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
			    "undone %u completed %u redone %u\n", crash_points[i], committed,
			    moved, claimed, rep.tmp_undone, rep.tmp_completed, rep.intent_redone);
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

/* spool-after-link is a commit's rename (the name is the older
 * version's), spool-after-trash a remove's rename to its trash,
 * spool-after-undo an applied operation renamed back (T2's commit, then
 * its remove) */
static const char *const truth_points[] = {
	"spool-prepared", "spool-after-intent", "spool-after-link", "spool-after-link:2",
	"spool-after-trash", "spool-after-trash:2", "spool-after-undo", "spool-after-undo:2",
	"spool-after-ops", "spool-after-dirsync", "spool-after-journal-write",
	"spool-after-journal-sync", "spool-claim-after-rename", "none",
};

/* truth_fires - the child of scenario scen crashes at point: "fail" has
 * no claim and no line to write; a commit and a remove each (dockets
 * keep no trash), so "both" two of them; only T2 is undone */
static int truth_fires(const char *scen, const char *point)
{
	if (strcmp(point, "none") == 0)
		return 0;
	if (strcmp(point, "spool-after-trash:2") == 0 || strcmp(point, "spool-after-link:2") == 0)
		return strcmp(scen, "both") == 0;
	if (strncmp(point, "spool-after-undo", 16) == 0)
		return strcmp(scen, "full") != 0;
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
	return strcmp(point, "spool-after-intent") == 0 || strncmp(point, "spool-after-link", 16) == 0
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

/* truth_setup - the spool the children work on: letters, dockets, a drop */
static void truth_setup(const char *dir)
{
	struct spool *sp = sopen(dir, NULL, 0);
	char    err[SPOOL_ERRLEN];

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
}

/* truth_child - this binary again with NIFTPMAIL_CRASH=point and the
 * arguments a1 a2 [a3]; its wait status */
static int truth_child(const char *point, const char *a1, const char *a2, const char *a3)
{
	pid_t   pid;
	int     st, devnull;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		if ((devnull = open("/dev/null", O_WRONLY)) >= 0)
			dup2(devnull, 2);
		setenv("NIFTPMAIL_CRASH", point, 1);
		execl(self_exe, self_exe, a1, a2, a3, (char *) NULL);
		_exit(127);
	}
	CU_ASSERT_FATAL(pid > 0 && waitpid(pid, &st, 0) == pid);
	return st;
}

/* child_recover - the child: open and recover the spool (a crash point
 * of the recovery may end it) */
static int child_recover(const char *dir)
{
	struct spool_opts o;
	struct spool *sp;
	char    err[SPOOL_ERRLEN];

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	if ((sp = spool_open(&o, err, sizeof(err))) == NULL)
		return 2;
	if (spool_recover(sp, NULL, err, sizeof(err)) < 0)
		return 3;
	spool_close(sp);
	return 0;
}

/* truth_check - recover dir after the children, then check that each
 * transaction of scenario scen is whole or absent, that nothing is
 * left in tmp/ and no trash, and that a second recovery changes
 * nothing. *t1 gets T1's state (1 whole, 0 absent or not in scen),
 * *rep the recovery's report. 1 ok, 0 not (printed). */
static int truth_check(const char *dir, const char *scen, const char *pt, int *t1,
	struct spool_recovery *rep)
{
	struct spool *sp;
	struct spool_recovery rep2;
	char    err[SPOOL_ERRLEN], *snap;
	int     ok = 1, t1again;

	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, rep, err, sizeof(err)), 0);
	if (count_files(spath(dir, "tmp")) != 0 || rep->conflicts != 0)
		ok = 0;
	/* no trash is left: used for an undo, or removed */
	snap = snapshot(dir, 0);
	if (strstr(snap, ".trash.") != NULL) {
		fprintf(stderr, "\ncrash at %s: trash left:\n%s", pt, snap);
		ok = 0;
	}
	free(snap);
	*t1 = strcmp(scen, "fail") != 0 ? truth_t1(dir, sp, pt) : 0;
	if (*t1 < 0)
		ok = 0;
	if (strcmp(scen, "full") != 0 && !truth_t2_absent(dir, pt))
		ok = 0;
	spool_close(sp);
	/* a second recovery changes nothing */
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, &rep2, err, sizeof(err)), 0);
	t1again = strcmp(scen, "fail") != 0 ? truth_t1(dir, sp, pt) : 0;
	spool_close(sp);
	if (t1again != *t1 || rep2.intent_redone + rep2.intent_undone + rep2.tmp_undone != 0) {
		fprintf(stderr, "\ncrash at %s: second recovery changed something\n", pt);
		ok = 0;
	}
	if (!ok)
		fprintf(stderr, "  (scenario %s, spool %s)\n", scen, dir);
	return ok;
}

static void test_journal_truth(void)
{
	static const char *const scens[] = { "full", "fail", "both" };
	size_t  i, s;
	int     st, ok, t1;
	struct spool_recovery rep;

	for (s = 0; s < NELEM(scens); s++)
		for (i = 0; i < NELEM(truth_points); i++) {
			const char *dir = newdir(), *pt = truth_points[i];

			truth_setup(dir);
			st = truth_child(pt, "--child-truth", dir, scens[s]);
			if (!truth_fires(scens[s], pt))
				EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			else
				EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 99);
			ok = truth_check(dir, scens[s], pt, &t1, &rep);
			/* alone on a loop-less spool, where it must stand is known */
			if (strcmp(scens[s], "full") == 0 && t1 >= 0 && t1 != truth_whole(pt)) {
				fprintf(stderr, "\ncrash at %s: T1 %s, want %s\n", pt,
				    t1 ? "whole" : "absent", t1 ? "absent" : "whole");
				ok = 0;
			}
			/* and who did the work: the intent record between it and the
			 * journal sync, the claim marker before it; a commit leaves
			 * no tmp/ link behind to complete */
			if (strcmp(scens[s], "full") == 0
			    && (rep.intent_redone
			    != (unsigned) (truth_fires(scens[s], pt) && truth_redone(pt))
			    || rep.claims_undone != !truth_whole(pt) || rep.tmp_completed != 0)) {
				fprintf(stderr, "\ncrash at %s: redone %u, claims undone %u, "
				    "completed %u\n", pt, rep.intent_redone, rep.claims_undone,
				    rep.tmp_completed);
				ok = 0;
			}
			EXPECT_TRUE(ok);
		}
}

/*
 * Journal truth when recovery itself is killed: the child crashes at a
 * point where its batch is cut short (the intent record's recovery has
 * work: redo renames, and undo renames for the failing T2), a second
 * child recovers and is killed after each operation it redoes or
 * undoes, or before it appends the lines; the last recovery must still
 * leave each transaction whole or absent, as a recovery that was never
 * killed would (T1 alone: whole).
 */

static void test_journal_truth_recover(void)
{
	static const char *const scens[] = { "full", "fail", "both" };
	static const char *const points[] = {
		"spool-after-intent", "spool-after-link", "spool-after-trash", "spool-after-undo",
		"spool-after-ops", "spool-after-dirsync",
	};
	static const char *const rpoints[] = {
		"spool-recover-op", "spool-recover-op:2", "spool-recover-op:3",
		"spool-recover-op:4", "spool-recover-lines",
	};
	size_t  s, i, k;
	unsigned killed[NELEM(rpoints)];
	int     st, ok, t1;
	struct spool_recovery rep;

	memset(killed, 0, sizeof(killed));
	for (s = 0; s < NELEM(scens); s++)
		for (i = 0; i < NELEM(points); i++)
			for (k = 0; k < NELEM(rpoints); k++) {
				const char *dir = newdir(), *pt = points[i];
				char    what[128];

				if (!truth_fires(scens[s], pt))
					continue;
				truth_setup(dir);
				st = truth_child(pt, "--child-truth", dir, scens[s]);
				EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 99);
				st = truth_child(rpoints[k], "--child-recover", dir, NULL);
				EXPECT_TRUE(WIFEXITED(st)
				    && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 99));
				if (WIFEXITED(st) && WEXITSTATUS(st) == 99)
					killed[k]++;
				snprintf(what, sizeof(what), "%s, recovery killed at %s", pt,
				    rpoints[k]);
				ok = truth_check(dir, scens[s], what, &t1, &rep);
				if (strcmp(scens[s], "full") == 0 && t1 != 1) {
					fprintf(stderr, "\ncrash at %s: T1 absent, want whole\n", what);
					ok = 0;
				}
				EXPECT_TRUE(ok);
			}
	/* each point of the recovery was reached */
	for (k = 0; k < NELEM(rpoints); k++) {
		if (killed[k] == 0)
			fprintf(stderr, "\nrecovery never killed at %s\n", rpoints[k]);
		EXPECT_TRUE(killed[k] > 0);
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
	/* dockets/ is an older version's: its leftovers are cleaned up too */
	CU_ASSERT_FATAL(mkdir(spath(dir, "dockets"), 0750) == 0);
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
 * A spool of an older version, which committed by a link (tmp/NAME
 * removed after the batch) and removed by a trash link and an unlink:
 * its leftovers and its intent records are still understood
 */

/* old_record - write an intent record of one transaction (ops, lines)
 * as the older version did: for the journal as it is now, cut short
 * before the lines */
static void old_record(const char *dir, const struct intent_op *ops, size_t n,
	const char *lines)
{
	struct buf b = BUF_INIT(1 << 20);
	struct stat sb;
	size_t  i;

	CU_ASSERT_FATAL(stat(spath(dir, "journal"), &sb) == 0);
	CU_ASSERT_FATAL(intent_begin(&b, (uint64_t) sb.st_ino, (uint64_t) sb.st_size) == 0);
	CU_ASSERT_FATAL(intent_put_txn(&b, n, strlen(lines)) == 0);
	for (i = 0; i < n; i++)
		CU_ASSERT_FATAL(intent_put_op(&b, &ops[i]) == 0);
	CU_ASSERT_FATAL(buf_append(&b, lines, strlen(lines)) == 0);
	intent_seal(&b, 1);
	put_intent(dir, buf_data(&b), b.len);
	buf_release(&b);
}

/* ino_of - the inode of DIR/rel */
static uint64_t ino_of(const char *dir, const char *rel)
{
	struct stat sb;

	CU_ASSERT_FATAL(stat(spath(dir, rel), &sb) == 0);
	return (uint64_t) sb.st_ino;
}

static void test_recover_older(void)
{
	const char *dir = newdir();
	struct spool *sp;
	struct spool_recovery rep;
	struct intent_op ops[3];
	struct stat sb;
	char    err[SPOOL_ERRLEN];
	const char *tr1 = "queue/.trash.0000000000000abc", *tr2 = "queue/.trash.0000000000000abd";

	/* a batch over: the tmp/ link of its commit was left (no sync) */
	sp = sopen(dir, NULL, 0);
	CU_ASSERT_FATAL(put_letter(sp, "h", "aitch\n", SPOOL_IN, NULL, 0) == 0);
	CU_ASSERT_FATAL(put_letter(sp, "d", "dee\n", SPOOL_QUEUE, NULL, 0) == 0);
	CU_ASSERT_FATAL(put_letter(sp, "f", "eff\n", SPOOL_QUEUE, NULL, 0) == 0);
	CU_ASSERT_FATAL(put_letter(sp, "g", "gee\n", SPOOL_IN, NULL, 0) == 0);
	CU_ASSERT_FATAL(put_letter(sp, "g", "taken\n", SPOOL_QUEUE, NULL, 0) == 0);
	spool_close(sp);
	CU_ASSERT_FATAL(link(spath(dir, "in/h"), spath(dir, "tmp/h")) == 0);
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	spool_close(sp);
	EXPECT_INT(rep.tmp_completed, 1);
	EXPECT_INT(rep.tmp_undone, 0);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_TRUE(stat(spath(dir, "in/h"), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_INT(journal_count(dir, "recovered", "h"), 0);
	/* ... in a spool older than the intent record: journalled again */
	CU_ASSERT_FATAL(link(spath(dir, "in/h"), spath(dir, "tmp/h")) == 0);
	CU_ASSERT_FATAL(unlink(spath(dir, "intent")) == 0);
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	spool_close(sp);
	EXPECT_INT(rep.tmp_completed, 1);
	EXPECT_INT(journal_count_kv(dir, "recovered", "state", "in"), 1);

	/* its batch cut short after a commit's link (c), a remove's trash
	 * link (d), before a commit's link (c2): completed */
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "tmp/c"), "cee\n") == 0);
	CU_ASSERT_FATAL(link(spath(dir, "tmp/c"), spath(dir, "in/c")) == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "tmp/c2"), "cee2\n") == 0);
	CU_ASSERT_FATAL(link(spath(dir, "queue/d"), spath(dir, tr1)) == 0);
	memset(ops, 0, sizeof(ops));
	ops[0].kind = 0;		/* commit tmp/c -> in/c */
	ops[0].to = SPOOL_IN;
	ops[0].ino = ino_of(dir, "in/c");
	ops[0].name = "c";
	ops[1].kind = 2;		/* remove queue/d, trash 0xabc */
	ops[1].from = SPOOL_QUEUE;
	ops[1].ino = ino_of(dir, "queue/d");
	ops[1].trash = 0xabc;
	ops[1].name = "d";
	ops[2].kind = 0;		/* commit tmp/c2 -> in/c2 */
	ops[2].to = SPOOL_IN;
	ops[2].ino = ino_of(dir, "tmp/c2");
	ops[2].name = "c2";
	old_record(dir, ops, 3, "2026-11-23T19:30:00Z received c\n"
	    "2026-11-23T19:30:00Z removed d\n2026-11-23T19:30:00Z received c2\n");
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	spool_close(sp);
	EXPECT_INT(rep.intent_redone, 1);
	EXPECT_INT(rep.intent_undone, 0);
	EXPECT_INT(rep.tmp_completed, 1);	/* c's tmp/ link */
	EXPECT_INT(rep.trash, 1);		/* d's trash link */
	EXPECT_TRUE(tl_file_is(spath(dir, "in/c"), "cee\n") && tl_file_is(spath(dir, "in/c2"),
	    "cee2\n"));
	EXPECT_TRUE(stat(spath(dir, "in/c"), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_TRUE(!tl_exists(spath(dir, "queue/d")) && !tl_exists(spath(dir, tr1)));
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "received", "c") + journal_count(dir, "removed", "d")
	    + journal_count(dir, "received", "c2"), 3);

	/* cut short likewise, but its move cannot be done (the target is
	 * taken): undone, the commit's file gone, the removed one back */
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "tmp/e"), "ee\n") == 0);
	CU_ASSERT_FATAL(link(spath(dir, "tmp/e"), spath(dir, "in/e")) == 0);
	CU_ASSERT_FATAL(link(spath(dir, "queue/f"), spath(dir, tr2)) == 0);
	memset(ops, 0, sizeof(ops));
	ops[0].kind = 0;		/* commit tmp/e -> in/e */
	ops[0].to = SPOOL_IN;
	ops[0].ino = ino_of(dir, "in/e");
	ops[0].name = "e";
	ops[1].kind = 2;		/* remove queue/f, trash 0xabd */
	ops[1].from = SPOOL_QUEUE;
	ops[1].ino = ino_of(dir, "queue/f");
	ops[1].trash = 0xabd;
	ops[1].name = "f";
	ops[2].kind = 1;		/* move in/g -> queue/g: taken */
	ops[2].from = SPOOL_IN;
	ops[2].to = SPOOL_QUEUE;
	ops[2].ino = ino_of(dir, "in/g");
	ops[2].name = ops[2].newname = "g";
	old_record(dir, ops, 3, "2026-11-23T19:31:00Z received e\n"
	    "2026-11-23T19:31:00Z removed f\n2026-11-23T19:31:00Z routed g\n");
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	spool_close(sp);
	EXPECT_INT(rep.intent_redone, 0);
	EXPECT_INT(rep.intent_undone, 1);
	EXPECT_INT(rep.tmp_undone, 1);		/* e, never committed */
	EXPECT_INT(rep.trash, 0);		/* f's went back */
	EXPECT_TRUE(!tl_exists(spath(dir, "in/e")));
	EXPECT_TRUE(tl_file_is(spath(dir, "queue/f"), "eff\n") && !tl_exists(spath(dir, tr2)));
	EXPECT_TRUE(stat(spath(dir, "queue/f"), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_TRUE(tl_file_is(spath(dir, "in/g"), "gee\n")
	    && tl_file_is(spath(dir, "queue/g"), "taken\n"));
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "received", "e") + journal_count(dir, "removed", "f")
	    + journal_count(dir, "routed", "g"), 0);
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
 * A name being committed is not free in tmp/ (its file was renamed
 * away): it cannot be created or resumed until the transaction is over.
 * Probed from the callback of another transaction of the same batch,
 * which runs after the rename and before that transaction is over.
 */

struct busy_probe {
	struct spool *sp;
	const char *dir;
	int	a_done;		/* the committing transaction's callback ran */
	int	seen;		/* probed: renamed, its transaction not over */
	int	refused;	/* ... and create and resume said EEXIST */
};

static void busy_a_done(void *arg, int ok, const char *err)
{
	struct busy_probe *p = arg;

	(void) err;
	EXPECT_INT(ok, 1);
	p->a_done = 1;
}

static void busy_probe_done(void *arg, int ok, const char *err)
{
	struct busy_probe *p = arg;
	struct spool_file *f;
	char    e[SPOOL_ERRLEN];
	int     created, resumed;

	(void) err;
	if (!ok || p->a_done || tl_exists(spath(p->dir, "tmp/same"))
	    || !tl_exists(spath(p->dir, "in/same")))
		return;
	p->seen = 1;
	errno = 0;
	f = spool_create(p->sp, "same", e, sizeof(e));
	created = f == NULL && errno == EEXIST && strcmp(e, "spool: create 'tmp/same': "
	    "File exists") == 0;
	spool_file_abort(f);
	/* part/same is the file being committed: never written again */
	errno = 0;
	f = spool_file_resume(p->sp, "same", e, sizeof(e));
	resumed = f == NULL && errno == EEXIST;
	spool_file_abort(f);
	p->refused = created && resumed;
}

static void test_commit_busy(void)
{
	struct loop *loop = loop_new();
	struct busy_probe p;
	struct spool_file *f, *f2;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN];

	/* The name is held from spool_txn_commit() to the callback; the
	 * refusals below do not depend on timing. Whether the probe's
	 * callback also runs in the window between the rename and the
	 * commit's callback (both in one batch) depends on the workers:
	 * when it does, it must see the same refusals. */
	memset(&p, 0, sizeof(p));
	p.dir = newdir();
	p.sp = sopen(p.dir, loop, 0);
	f = spool_create(p.sp, "same", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_write(f, "first\n", 6, err, sizeof(err)), 0);
	EXPECT_INT(spool_file_checkpoint(f, err, sizeof(err)), 0);
	t = spool_txn_new(p.sp);
	f2 = spool_create(p.sp, "probe", err, sizeof(err));
	CU_ASSERT_FATAL(f2 != NULL);
	spool_txn_commit(t, f2, SPOOL_IN);
	spool_txn_docket_put(t, "k", "v", 1);
	spool_txn_journal(t, "tick", NULL, NULL, 0);
	spool_txn_submit(t, busy_probe_done, &p);
	t = spool_txn_new(p.sp);
	spool_txn_commit(t, f, SPOOL_IN);
	spool_txn_journal(t, "received", "same", NULL, 0);
	/* held from here, before the transaction is even submitted */
	errno = 0;
	EXPECT_TRUE(spool_create(p.sp, "same", err, sizeof(err)) == NULL && errno == EEXIST);
	errno = 0;
	EXPECT_TRUE(spool_file_resume(p.sp, "same", err, sizeof(err)) == NULL && errno == EEXIST);
	spool_txn_submit(t, busy_a_done, &p);
	errno = 0;
	EXPECT_TRUE(spool_create(p.sp, "same", err, sizeof(err)) == NULL && errno == EEXIST);
	spool_drain(p.sp);
	EXPECT_INT(p.a_done, 1);
	if (p.seen)
		EXPECT_TRUE(p.refused);
	EXPECT_TRUE(tl_file_is(spath(p.dir, "in/same"), "first\n"));
	/* over: the name is free again (a commit of it would fail) */
	f = spool_create(p.sp, "same", err, sizeof(err));
	EXPECT_TRUE(f != NULL);
	spool_file_abort(f);
	EXPECT_INT(spool_part_remove(p.sp, "same", err, sizeof(err)), 0);
	EXPECT_INT(count_files(spath(p.dir, "tmp")) + count_files(spath(p.dir, "part")), 0);
	EXPECT_TRUE(tl_exists(spath(p.dir, "in/probe")));
	spool_close(p.sp);
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
		"fsync 'tmp/newc'", "write 'intent'", "fsync 'intent'",
		"remove: rename 'in/victim' to 'in/.trash.", "rename 'tmp/newc' to 'in/newc'",
		"fsync 'in'", "write 'journal'", "fsync 'journal'",
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
		EXPECT_TRUE(strstr(want, "docket k-old=new value\n") != NULL
		    && strstr(want, "docket k-del=") == NULL);
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
 * A whole batch that fails is undone last transaction first, and its
 * dockets (T2 put one over T1's) stay as they were: the map learns a
 * batch's dockets only once it is committed.
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
		 * are the record's, in/, queue/, then the journal's */
		usleep(100000);
		sysio_fail(SYSIO_FSYNC, 4, EIO);
		spool_drain(sp);
		sysio_reset();
		spool_stats(sp, &st1);
		shared = st1.batches - st0.batches == 1;
		EXPECT_INT(g.done, 2);
		if (shared) {
			char   *v = spool_docket_get(sp, "k", NULL, NULL, err, sizeof(err));

			EXPECT_STR(v, "orig");
			free(v);
		}
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
		EXPECT_INT(journal_count(dir, "docket", NULL), 1);	/* the first put's */
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
		"key with spaces\tand\ttabs", "%41", "%2541", "x\n2026-01-01T00:00:00Z docket - k=v",
	};
	char    err[SPOOL_ERRLEN], longkey[SPOOL_DOCKET_KEYMAX + 1], *v;
	struct spool_txn *t;
	unsigned removed;
	time_t  mt, before = time(NULL);
	size_t  i, len;
	int     got;

	for (i = 0; i < NELEM(keys); i++)
		EXPECT_INT(spool_docket_put(sp, keys[i], keys[i], strlen(keys[i]) + 1,
		    err, sizeof(err)), 0);
	for (i = 0; i < NELEM(keys); i++) {
		v = spool_docket_get(sp, keys[i], &len, &mt, err, sizeof(err));
		EXPECT_TRUE(v != NULL && len == strlen(keys[i]) + 1 && strcmp(v, keys[i]) == 0);
		EXPECT_TRUE(mt >= before && mt <= time(NULL));
		free(v);
	}
	/* no file per docket */
	EXPECT_TRUE(!tl_exists(spath(dir, "dockets")));
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
	/* replace, delete, missing; a put and a delete of one key in one
	 * transaction apply in order */
	t = spool_txn_new(sp);
	spool_txn_docket_put(t, keys[0], "new", 3);
	spool_txn_docket_del(t, keys[2]);
	spool_txn_docket_put(t, keys[2], "again", 5);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	v = spool_docket_get(sp, keys[0], &len, NULL, err, sizeof(err));
	EXPECT_STR(v, "new");
	free(v);
	v = spool_docket_get(sp, keys[2], &len, NULL, err, sizeof(err));
	EXPECT_STR(v, "again");
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
	/* a value too large fails its transaction, nothing of it stays */
	{
		char   *big = xcalloc(1, SPOOL_DOCKET_MAX + 1);

		t = spool_txn_new(sp);
		spool_txn_docket_put(t, "big", big, SPOOL_DOCKET_MAX + 1);
		spool_txn_journal(t, "tick", NULL, NULL, 0);
		EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
		EXPECT_HAS(err, "spool: docket put: a value of 65537 octets (at most 65536)");
		EXPECT_INT(journal_count(dir, "tick", NULL), 0);
		free(big);
	}
	/* retention: nothing is a day old yet; two days on, all are */
	EXPECT_INT(spool_docket_prune(sp, 86400, time(NULL), NULL, &removed, err, sizeof(err)), 0);
	EXPECT_INT(removed, 0);
	EXPECT_INT(spool_docket_prune(sp, 86400, time(NULL) + 2 * 86400, NULL, &removed, err,
	    sizeof(err)), 0);
	EXPECT_INT(removed, NELEM(keys) - 2 + 2);	/* less keys[0], keys[1]; the long ones */
	errno = 0;
	v = spool_docket_get(sp, "%41", &len, NULL, err, sizeof(err));
	got = errno;
	EXPECT_TRUE(v == NULL);
	EXPECT_INT(got, ENOENT);
	spool_close(sp);
	/* and so after a restart */
	sp = sopen(dir, NULL, 0);
	v = spool_docket_get(sp, keys[2], &len, NULL, err, sizeof(err));
	EXPECT_TRUE(v == NULL);
	free(v);
	spool_close(sp);
	EXPECT_INT(journal_count(dir, "docket", "-") > 0, 1);
}

/*
 * Dockets as records of the journal (doc/spool.md "Dockets")
 */

/* write_bytes - create or truncate path holding len octets; 0 or -1 */
static int write_bytes(const char *path, const void *p, size_t len)
{
	FILE   *fp = fopen(path, "wb");
	int     ok;

	if (fp == NULL)
		return -1;
	ok = fwrite(p, 1, len, fp) == len;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

/* dk_eq - the docket of key in sp is exactly val (len octets; val NULL:
 * there is none) */
static int dk_eq(struct spool *sp, const char *key, const void *val, size_t len)
{
	char    err[SPOOL_ERRLEN];
	size_t  got = 0;
	char   *v = spool_docket_get(sp, key, &got, NULL, err, sizeof(err));
	int     ok = val ? v != NULL && got == len && memcmp(v, val, len) == 0
	    : v == NULL && errno == ENOENT;

	free(v);
	return ok;
}

/* dk_peek_eq - the same through spool_docket_peek() (no open spool) */
static int dk_peek_eq(const char *dir, const char *key, const void *val, size_t len)
{
	char    err[SPOOL_ERRLEN];
	size_t  got = 0;
	char   *v = spool_docket_peek(dir, key, &got, err, sizeof(err));
	int     ok = val ? v != NULL && got == len && memcmp(v, val, len) == 0
	    : v == NULL && errno == ENOENT;

	free(v);
	return ok;
}

/* binval - len octets of every value 0..255 (with NULs and newlines) */
static char *binval(size_t len, unsigned seed)
{
	char   *v = xmalloc(len + 1);
	size_t  i;

	for (i = 0; i < len; i++)
		v[i] = (char) ((i * 7 + seed) & 0xff);
	return v;
}

/* put_txn - one transaction: put key=val (len), a line; 0 or -1 */
static int put_txn(struct spool *sp, const char *key, const void *val, size_t len)
{
	struct spool_txn *t = spool_txn_new(sp);
	char    err[SPOOL_ERRLEN];

	spool_txn_docket_put(t, key, val, len);
	spool_txn_journal(t, "tick", NULL, NULL, 0);
	return spool_txn_run(t, err, sizeof(err));
}

/* copy_file - from to to (whole); 0 or -1 */
static int copy_file(const char *from, const char *to)
{
	size_t  len;
	char   *p = tl_read_file(from, &len);
	int     rc;

	if (p == NULL)
		return -1;
	rc = write_bytes(to, p, len);
	free(p);
	return rc;
}

/* put, delete, get across restarts: from the snapshot and the journal
 * after it, also from an older snapshot across rotations */
static void test_docket_restart(void)
{
	const char *dir = newdir();
	struct spool_opts o;
	struct spool *sp;
	struct spool_stats st;
	char    err[SPOOL_ERRLEN], key[32], old[1024];
	char   *big = binval(SPOOL_DOCKET_MAX, 3), *v;
	int     i, ok;

	/* session 1: puts, a delete, a 64 KiB binary value; close writes
	 * the snapshot */
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(put_txn(sp, "a", "1", 1), 0);
	EXPECT_INT(put_txn(sp, "b", "2", 1), 0);
	EXPECT_INT(put_txn(sp, "empty", "", 0), 0);
	EXPECT_INT(put_txn(sp, "big", big, SPOOL_DOCKET_MAX), 0);
	EXPECT_INT(spool_docket_del(sp, "b", err, sizeof(err)), 0);
	spool_close(sp);
	EXPECT_TRUE(tl_exists(spath(dir, "dockets.snap")));
	snprintf(old, sizeof(old), "%s/snap.session1", dir);
	CU_ASSERT_FATAL(copy_file(spath(dir, "dockets.snap"), old) == 0);
	sp = sopen(dir, NULL, 0);
	EXPECT_TRUE(dk_eq(sp, "a", "1", 1) && dk_eq(sp, "b", NULL, 0)
	    && dk_eq(sp, "empty", "", 0) && dk_eq(sp, "big", big, SPOOL_DOCKET_MAX));
	/* session 2: changes after the snapshot */
	EXPECT_INT(put_txn(sp, "a", "one", 3), 0);
	EXPECT_INT(put_txn(sp, "c", "3", 1), 0);
	EXPECT_INT(spool_docket_del(sp, "big", err, sizeof(err)), 0);
	spool_close(sp);
	/* the older snapshot again: the journal after it gives the rest */
	CU_ASSERT_FATAL(copy_file(old, spath(dir, "dockets.snap")) == 0);
	CU_ASSERT_FATAL(unlink(spath(dir, "dockets.snap.1")) == 0);
	sp = sopen(dir, NULL, 0);
	ok = dk_eq(sp, "a", "one", 3) && dk_eq(sp, "b", NULL, 0) && dk_eq(sp, "c", "3", 1)
	    && dk_eq(sp, "big", NULL, 0) && dk_eq(sp, "empty", "", 0);
	EXPECT_TRUE(ok);
	spool_close(sp);
	EXPECT_TRUE(dk_peek_eq(dir, "a", "one", 3) && dk_peek_eq(dir, "c", "3", 1)
	    && dk_peek_eq(dir, "big", NULL, 0));

	/* rotations: a journal of 2000 octets, keep 1 (counts as 2); a
	 * snapshot before each rotation: dockets.snap is at most in
	 * journal.1, dockets.snap.1 in journal.2 */
	dir = newdir();
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	o.journal_max = 2000;
	o.journal_keep = 1;
	sp = spool_open(&o, err, sizeof(err));
	CU_ASSERT_FATAL(sp != NULL);
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%d", i % 37);
		EXPECT_INT(put_txn(sp, key, key, strlen(key) + (size_t) (i % 3)), 0);

		if (i % 11 == 0) {
			snprintf(key, sizeof(key), "k%d", (i + 5) % 37);
			EXPECT_INT(spool_docket_del(sp, key, err, sizeof(err)), 0);
		}
	}
	EXPECT_INT(put_txn(sp, "big", big, SPOOL_DOCKET_MAX), 0);	/* many records */
	spool_stats(sp, &st);
	EXPECT_TRUE(st.rotations >= 3 && st.snapshots == st.rotations);
	EXPECT_TRUE(tl_exists(spath(dir, "journal.2")) && !tl_exists(spath(dir, "journal.3")));
	{
		/* what the map holds, key by key, must come back */
		struct spool *sp2;
		char   *want = xcalloc(37, 64);
		size_t  lens[37], len;
		int     have[37];

		for (i = 0; i < 37; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			v = spool_docket_get(sp, key, &len, NULL, err, sizeof(err));
			have[i] = v != NULL;
			lens[i] = v ? len : 0;
			if (v)
				memcpy(want + 64 * i, v, len);
			free(v);
		}
		spool_close(sp);
		for (int round = 0; round < 2; round++) {
			if (round == 1) {
				/* dockets.snap damaged: the fallback, two rotations back */
				CU_ASSERT_FATAL(copy_file(spath(dir, "dockets.snap.1"),
				    spath(dir, "dockets.snap")) == 0);
			}

			sp2 = sopen(dir, NULL, 0);
			ok = 1;
			for (i = 0; i < 37; i++) {
				snprintf(key, sizeof(key), "k%d", i);
				if (!dk_eq(sp2, key, have[i] ? want + 64 * i : NULL, lens[i])) {
					fprintf(stderr, "\nround %d: %s differs\n", round, key);
					ok = 0;
				}
			}
			ok &= dk_eq(sp2, "big", big, SPOOL_DOCKET_MAX);
			EXPECT_TRUE(ok);
			spool_close(sp2);
		}
		free(want);
	}
	/* a snapshot in the middle of what is now journal.1 (written at a
	 * close; a rotation since): the rest of journal.1, then journal */
	dir = newdir();
	o.dir = dir;
	sp = spool_open(&o, err, sizeof(err));
	CU_ASSERT_FATAL(sp != NULL);
	EXPECT_INT(put_txn(sp, "early", "e", 1), 0);
	spool_close(sp);
	sp = spool_open(&o, err, sizeof(err));
	CU_ASSERT_FATAL(sp != NULL);
	for (i = 0; i < 1000; i++) {
		spool_stats(sp, &st);
		if (st.rotations > 0)
			break;
		snprintf(key, sizeof(key), "m%d", i);
		EXPECT_INT(put_txn(sp, key, key, strlen(key)), 0);
	}
	EXPECT_INT(st.rotations, 1);
	CU_ASSERT_FATAL(copy_file(spath(dir, "dockets.snap.1"), old) == 0);
	EXPECT_INT(put_txn(sp, "late", "l", 1), 0);
	EXPECT_INT(spool_docket_del(sp, "m0", err, sizeof(err)), 0);
	spool_close(sp);
	CU_ASSERT_FATAL(copy_file(old, spath(dir, "dockets.snap")) == 0);
	CU_ASSERT_FATAL(unlink(spath(dir, "dockets.snap.1")) == 0);
	sp = sopen(dir, NULL, 0);
	EXPECT_TRUE(dk_eq(sp, "early", "e", 1) && dk_eq(sp, "late", "l", 1)
	    && dk_eq(sp, "m0", NULL, 0) && dk_eq(sp, "m1", "m1", 2));
	snprintf(key, sizeof(key), "m%d", i - 1);
	EXPECT_TRUE(dk_eq(sp, key, key, strlen(key)));
	spool_close(sp);
	free(big);
}

/* child_dk - the child: three transactions with dockets and lines, no
 * file operation, in one batch on a loop */
static int child_dk(const char *dir)
{
	struct spool *sp;
	struct spool_opts o;
	struct spool_txn *t;
	struct loop *loop = loop_new();
	char    err[SPOOL_ERRLEN];
	char   *big = binval(20000, 9);

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	o.loop = loop;
	if ((sp = spool_open(&o, err, sizeof(err))) == NULL)
		return 2;
	t = spool_txn_new(sp);
	spool_txn_docket_put(t, "k1", "v1", 2);
	spool_txn_docket_del(t, "k3");
	spool_txn_journal(t, "first", NULL, NULL, 0);
	spool_txn_submit(t, NULL, NULL);
	t = spool_txn_new(sp);
	spool_txn_docket_put(t, "big", big, 20000);
	spool_txn_docket_put(t, "k2", "w1", 2);
	spool_txn_journal(t, "second", NULL, NULL, 0);
	spool_txn_submit(t, NULL, NULL);
	t = spool_txn_new(sp);
	spool_txn_docket_del(t, "k4");
	spool_txn_submit(t, NULL, NULL);
	spool_drain(sp);
	spool_close(sp);
	loop_free(loop);
	free(big);
	return 0;
}

/* dk_setup - the dockets before child_dk: k1=v0 k2=w0 k3=x k4=y */
static void dk_setup(const char *dir)
{
	struct spool *sp = sopen(dir, NULL, 0);

	CU_ASSERT_FATAL(put_txn(sp, "k1", "v0", 2) == 0 && put_txn(sp, "k2", "w0", 2) == 0
	    && put_txn(sp, "k3", "x", 1) == 0 && put_txn(sp, "k4", "y", 1) == 0);
	spool_close(sp);
}

/* dk_state - child_dk's transactions: a bit each when whole, -1 when
 * one is torn (printed), with lines counted too */
static int dk_state(struct spool *sp, const char *dir, const char *what)
{
	char   *big = binval(20000, 9);
	int     a1 = dk_eq(sp, "k1", "v1", 2) && dk_eq(sp, "k3", NULL, 0);
	int     a0 = dk_eq(sp, "k1", "v0", 2) && dk_eq(sp, "k3", "x", 1);
	int     b1 = dk_eq(sp, "big", big, 20000) && dk_eq(sp, "k2", "w1", 2);
	int     b0 = dk_eq(sp, "big", NULL, 0) && dk_eq(sp, "k2", "w0", 2);
	int     c1 = dk_eq(sp, "k4", NULL, 0), c0 = dk_eq(sp, "k4", "y", 1);
	int     la = dir ? journal_count(dir, "first", NULL) : a1;
	int     lb = dir ? journal_count(dir, "second", NULL) : b1;

	free(big);
	if (a1 + a0 != 1 || b1 + b0 != 1 || c1 + c0 != 1 || la != a1 || lb != b1) {
		fprintf(stderr, "\n%s: torn: a %d/%d b %d/%d c %d/%d lines %d %d\n", what, a1, a0,
		    b1, b0, c1, c0, la, lb);
		return -1;
	}
	return a1 | b1 << 1 | c1 << 2;
}

/* a crash at every point of a docket-only batch: every docket exactly
 * as of the last batch that reached the journal; then the batch's write
 * cut at every line and inside lines (a crash of the machine): every
 * transaction whole or absent, also before recovery, and recovery cuts
 * what is left of a transaction */
static void test_docket_crash(void)
{
	static const char *const points[] = {
		"spool-prepared", "spool-after-ops", "spool-after-dirsync",
		"spool-after-journal-write", "spool-after-journal-sync", "none",
	};
	struct spool *sp;
	struct spool_recovery rep;
	char    err[SPOOL_ERRLEN], *j;
	size_t  i, jlen, j0, cut;
	pid_t   pid;
	int     st, devnull, state, want, ok, cuts = 0, whole_prefix;
	struct stat sb;
	const char *dir = NULL;
	char    snap0[1024], snap1[1024], keep[512];

	for (i = 0; i < NELEM(points); i++) {
		dir = newdir();
		dk_setup(dir);
		CU_ASSERT_FATAL(stat(spath(dir, "journal"), &sb) == 0);
		j0 = (size_t) sb.st_size;
		/* the snapshots as they were before the batch (for the cuts) */
		snprintf(snap0, sizeof(snap0), "%s.snap", dir);
		snprintf(snap1, sizeof(snap1), "%s.snap1", dir);
		CU_ASSERT_FATAL(copy_file(spath(dir, "dockets.snap"), snap0) == 0);
		if (copy_file(spath(dir, "dockets.snap.1"), snap1) < 0)
			snap1[0] = '\0';
		fflush(NULL);
		if ((pid = fork()) == 0) {
			if ((devnull = open("/dev/null", O_WRONLY)) >= 0)
				dup2(devnull, 2);
			setenv("NIFTPMAIL_CRASH", points[i], 1);
			execl(self_exe, self_exe, "--child-dk", dir, (char *) NULL);
			_exit(127);
		}
		CU_ASSERT_FATAL(pid > 0 && waitpid(pid, &st, 0) == pid);
		EXPECT_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, strcmp(points[i], "none") ? 99 : 0);
		if (strcmp(points[i], "none") == 0)
			break;		/* kept as it is for the cuts below */
		/* the first batch's lines are in the journal (a process crash
		 * keeps what was written) from spool-after-journal-write on;
		 * the transactions may have been one batch or more */
		sp = sopen(dir, NULL, 0);
		state = dk_state(sp, NULL, points[i]);
		EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
		EXPECT_INT(rep.dockets_cut, 0);
		EXPECT_INT(dk_state(sp, dir, points[i]), state);
		/* (the three transactions are independent: batches may commit
		 * them in any order, so any whole set counts) */
		want = i >= 3 ? state > 0 : state == 0;
		if (!want)
			fprintf(stderr, "\ncrash at %s: state %d\n", points[i], state);
		EXPECT_TRUE(want);
		spool_close(sp);
		EXPECT_TRUE(!tl_exists(spath(dir, "dockets")));
	}
	/* as a crash of the machine would leave it: the snapshots of before */
	CU_ASSERT_FATAL(copy_file(snap0, spath(dir, "dockets.snap")) == 0);
	if (snap1[0]) {
		CU_ASSERT_FATAL(copy_file(snap1, spath(dir, "dockets.snap.1")) == 0);
	} else {
		(void) unlink(spath(dir, "dockets.snap.1"));
	}
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(dk_state(sp, dir, "none"), 7);
	spool_close(sp);
	CU_ASSERT_FATAL(copy_file(snap0, spath(dir, "dockets.snap")) == 0);
	if (snap1[0]) {
		CU_ASSERT_FATAL(copy_file(snap1, spath(dir, "dockets.snap.1")) == 0);
	} else {
		(void) unlink(spath(dir, "dockets.snap.1"));
	}
	/* dir: the batches whole ("none"), from j0 on. Cut short anywhere. */
	str_copy(keep, dir, sizeof(keep));
	dir = keep;		/* newdir() reuses its buffers */
	j = tl_read_file(spath(dir, "journal"), &jlen);
	CU_ASSERT_FATAL(j != NULL && jlen > j0);
	for (cut = j0; cut <= jlen; cut++) {
		const char *cdir = newdir();
		char    cmd[2048];
		int     at_line = j[cut - 1] == '\n';

		/* every line boundary, and a few octets into each line */
		if (!at_line && !(cut >= 5 && j[cut - 5] == '\n') && cut != jlen)
			continue;
		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, cdir);
		CU_ASSERT_FATAL(system(cmd) == 0);
		CU_ASSERT_FATAL(truncate(spath(cdir, "journal"), (off_t) cut) == 0);
		cuts++;
		ok = 1;
		/* the transactions are in the order written: whole ones first */
		sp = sopen(cdir, NULL, 0);
		state = dk_state(sp, cdir, "cut, before recovery");
		/* every transaction whole or absent; which ones depends on the
		 * order their batches committed them in (independent
		 * transactions are not ordered: a later one may be prepared
		 * first) */
		whole_prefix = state >= 0;
		if (state < 0 || !whole_prefix)
			ok = 0;
		EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
		if (dk_state(sp, cdir, "cut, after recovery") != state)
			ok = 0;
		/* a put after it, then a restart: the cut transaction stays
		 * absent (recovery removed its records) */
		EXPECT_INT(put_txn(sp, "after", "z", 1), 0);
		spool_close(sp);
		sp = sopen(cdir, NULL, 0);
		if (dk_state(sp, cdir, "cut, restarted") != state || !dk_eq(sp, "after", "z", 1))
			ok = 0;
		spool_close(sp);
		if (!ok)
			fprintf(stderr, "\ncut at %zu of %zu (batch from %zu): state %d\n", cut, jlen,
			    j0, state);
		EXPECT_TRUE(ok);
	}
	EXPECT_TRUE(cuts > 10);
	/* the same cut without recovery: a later put, restart, still absent */
	{
		const char *cdir = newdir();
		char    cmd[2048];
		const char *p = strstr(j + j0, "\n");

		/* after the first record of the first group: a group cut short */
		CU_ASSERT_FATAL(p != NULL);
		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, cdir);
		CU_ASSERT_FATAL(system(cmd) == 0);
		CU_ASSERT_FATAL(truncate(spath(cdir, "journal"), (off_t) (p - j + 1)) == 0);
		sp = sopen(cdir, NULL, 0);
		/* the open removed the transaction's lines: nothing can
		 * complete its group later */
		CU_ASSERT_FATAL(stat(spath(cdir, "journal"), &sb) == 0);
		EXPECT_INT(sb.st_size, j0);
		EXPECT_INT(dk_state(sp, cdir, "no recovery"), 0);
		EXPECT_INT(put_txn(sp, "after", "z", 1), 0);
		spool_close(sp);
		sp = sopen(cdir, NULL, 0);
		EXPECT_INT(dk_state(sp, cdir, "no recovery, restarted"), 0);
		EXPECT_TRUE(dk_eq(sp, "after", "z", 1));
		spool_close(sp);
	}
	free(j);
}

/* a failed batch never changes the map: an operation failing at apply
 * time, a failed journal write and fsync, a failed intent write */
static void test_docket_failed(void)
{
	static const struct {
		enum sysio_op op;
		unsigned long nth;
		int	with_file;	/* the transaction also moves a file */
		const char *want;
	} cases[] = {
		{ SYSIO_FSYNC, 1, 0, "fsync 'journal'" },
		{ SYSIO_WRITE, 1, 0, "write 'journal'" },
		{ SYSIO_WRITE, 1, 1, "write 'intent'" },
		{ SYSIO_FSYNC, 1, 1, "fsync 'intent'" },
		{ SYSIO_RENAME, 1, 1, "rename 'in/m' to 'queue/m'" },
		{ SYSIO_FSYNC, 4, 1, "fsync 'journal'" },	/* intent, in, queue, journal */
	};
	char    err[SPOOL_ERRLEN];
	struct spool *sp;
	struct spool_txn *t;
	char   *j0, *j1;
	size_t  i, l0, l1;

	for (i = 0; i < NELEM(cases); i++) {
		const char *dir = newdir();

		sp = sopen(dir, NULL, 0);
		CU_ASSERT_FATAL(put_txn(sp, "k", "old", 3) == 0);
		CU_ASSERT_FATAL(put_letter(sp, "m", "m\n", SPOOL_IN, NULL, 0) == 0);
		j0 = tl_read_file(spath(dir, "journal"), &l0);
		t = spool_txn_new(sp);
		spool_txn_docket_put(t, "k", "new", 3);
		spool_txn_docket_put(t, "n", "fresh", 5);
		spool_txn_journal(t, "changed", NULL, NULL, 0);
		if (cases[i].with_file)
			spool_txn_move(t, "m", SPOOL_IN, SPOOL_QUEUE, NULL);
		sysio_fail(cases[i].op, cases[i].nth, EIO);
		EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
		sysio_reset();
		EXPECT_HAS(err, cases[i].want);
		EXPECT_TRUE(dk_eq(sp, "k", "old", 3) && dk_eq(sp, "n", NULL, 0));
		j1 = tl_read_file(spath(dir, "journal"), &l1);
		EXPECT_TRUE(l1 == l0 && memcmp(j0, j1, l0) == 0);
		free(j0);
		free(j1);
		spool_close(sp);
		sp = sopen(dir, NULL, 0);
		EXPECT_INT(spool_recover(sp, NULL, err, sizeof(err)), 0);
		EXPECT_TRUE(dk_eq(sp, "k", "old", 3) && dk_eq(sp, "n", NULL, 0));
		EXPECT_TRUE(tl_exists(spath(dir, "in/m")));
		spool_close(sp);
	}
}

/* a snapshot that cannot be written holds the rotation back (the
 * journal grows) until one can: no rotation ever passes a snapshot */
static void test_docket_snapshot_fails(void)
{
	const char *dir = newdir();
	struct spool_opts o;
	struct spool *sp;
	struct spool_stats st;
	char    err[SPOOL_ERRLEN], key[32];
	struct stat sb;
	int     i;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	o.journal_max = 4000;
	sp = spool_open(&o, err, sizeof(err));
	CU_ASSERT_FATAL(sp != NULL);
	for (i = 0; ; i++) {
		CU_ASSERT_FATAL(stat(spath(dir, "journal"), &sb) == 0 && i < 1000);
		if (sb.st_size > 3900)
			break;
		snprintf(key, sizeof(key), "a%d", i);
		CU_ASSERT_FATAL(put_txn(sp, key, "1234567890", 10) == 0);
	}
	/* the next batch passes journal_max: its snapshot cannot be created */
	sysio_fail(SYSIO_OPEN, 1, ENOSPC);
	EXPECT_INT(put_txn(sp, "b", "fails to rotate", 15), 0);
	sysio_reset();
	spool_stats(sp, &st);
	EXPECT_INT(st.rotations, 0);
	EXPECT_INT(st.snapshots, 0);
	EXPECT_TRUE(!tl_exists(spath(dir, "journal.1")));
	/* tried again after another eighth of journal_max */
	for (i = 0; i < 100 && st.rotations == 0; i++) {
		snprintf(key, sizeof(key), "c%d", i);
		EXPECT_INT(put_txn(sp, key, "x", 1), 0);
		spool_stats(sp, &st);
	}
	EXPECT_INT(st.rotations, 1);
	EXPECT_INT(st.snapshots, 1);
	EXPECT_TRUE(i > 1);
	spool_close(sp);
	sp = sopen(dir, NULL, 0);
	EXPECT_TRUE(dk_eq(sp, "a0", "1234567890", 10) && dk_eq(sp, "b", "fails to rotate", 15)
	    && dk_eq(sp, "c0", "x", 1));
	spool_close(sp);
}

/* corrupt_byte - flip one octet of path at off */
static void corrupt_byte(const char *path, size_t off)
{
	size_t  len;
	char   *p = tl_read_file(path, &len);

	CU_ASSERT_FATAL(p != NULL && off < len);
	p[off] ^= 0x20;
	CU_ASSERT_FATAL(write_bytes(path, p, len) == 0);
	free(p);
}

/* a torn or damaged snapshot is never read: the one before it is, or
 * nothing starts (the message names the file and says what to do) */
static void test_docket_snapshot_bad(void)
{
	const char *dir = newdir();
	struct spool_opts o;
	struct spool *sp;
	char    err[SPOOL_ERRLEN] = "", *p;
	size_t  len, i;
	int     bad = 0;

	sp = sopen(dir, NULL, 0);
	CU_ASSERT_FATAL(put_txn(sp, "a", "1", 1) == 0);
	spool_close(sp);			/* snapshot: a=1 */
	sp = sopen(dir, NULL, 0);
	CU_ASSERT_FATAL(put_txn(sp, "b", "2", 1) == 0);
	spool_close(sp);			/* snapshot: a=1 b=2; .snap.1: a=1 */
	sp = sopen(dir, NULL, 0);
	CU_ASSERT_FATAL(put_txn(sp, "c", "3", 1) == 0);
	spool_docket_del(sp, "a", err, sizeof(err));
	spool_close(sp);			/* snapshot: b c; .snap.1: a b */

	/* every cut and every flipped octet of a snapshot fails to parse */
	p = tl_read_file(spath(dir, "dockets.snap"), &len);
	CU_ASSERT_FATAL(p != NULL);
	for (i = 0; i < len; i++) {
		struct dkmap *m = dkmap_new();
		struct dkmap_pos pos;

		if (dkmap_snap_parse(p, i, &pos, m, NULL, err, sizeof(err)) == 0)
			bad++;
		p[i] ^= 0x01;
		if (dkmap_snap_parse(p, len, &pos, m, NULL, err, sizeof(err)) == 0)
			bad++;
		p[i] ^= 0x01;
		if (dkmap_count(m) != 0)
			bad++;
		dkmap_free(m);
	}
	EXPECT_INT(bad, 0);
	free(p);

	/* dockets.snap damaged: dockets.snap.1 and the journal after it */
	corrupt_byte(spath(dir, "dockets.snap"), 30);
	EXPECT_TRUE(dk_peek_eq(dir, "a", NULL, 0) && dk_peek_eq(dir, "b", "2", 1)
	    && dk_peek_eq(dir, "c", "3", 1));
	sp = sopen(dir, NULL, 0);
	EXPECT_TRUE(dk_eq(sp, "a", NULL, 0) && dk_eq(sp, "b", "2", 1) && dk_eq(sp, "c", "3", 1));
	EXPECT_TRUE(tl_exists(spath(dir, "dockets.snap.bad")));
	EXPECT_INT(spool_recover(sp, NULL, err, sizeof(err)), 0);	/* a new snapshot */
	spool_close(sp);
	EXPECT_TRUE(dk_peek_eq(dir, "c", "3", 1));

	/* both damaged: refused, the message says which and what to do */
	corrupt_byte(spath(dir, "dockets.snap"), 40);
	corrupt_byte(spath(dir, "dockets.snap.1"), 40);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	errno = 0;
	sp = spool_open(&o, err, sizeof(err));
	EXPECT_TRUE(sp == NULL && errno == EBADMSG);
	EXPECT_HAS(err, "spool: dockets: 'dockets.snap' is unusable: bad CRC and "
	    "'dockets.snap.1' is unusable: bad CRC");
	EXPECT_HAS(err, "remove dockets.snap and dockets.snap.1 to rebuild");
	errno = 0;
	p = spool_docket_peek(dir, "c", &len, err, sizeof(err));
	EXPECT_TRUE(p == NULL && errno == EBADMSG);
	EXPECT_HAS(err, "'dockets.snap' is unusable");
	/* torn (a short file) is the same: never read */
	CU_ASSERT_FATAL(truncate(spath(dir, "dockets.snap"), 20) == 0);
	sp = spool_open(&o, err, sizeof(err));
	EXPECT_TRUE(sp == NULL);
	EXPECT_HAS(err, "'dockets.snap' is unusable: too short");

	/* a snapshot whose journal is not there */
	dir = newdir();
	o.dir = dir;
	sp = sopen(dir, NULL, 0);
	CU_ASSERT_FATAL(put_txn(sp, "a", "1", 1) == 0);
	spool_close(sp);
	CU_ASSERT_FATAL(unlink(spath(dir, "journal")) == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "journal"), "") == 0);
	sp = spool_open(&o, err, sizeof(err));
	EXPECT_TRUE(sp == NULL);
	/* (the new journal may even have the old one's inode) */
	EXPECT_HAS(err, "spool: dockets: 'dockets.snap' covers the journal of inode ");
	/* a copied spool (other inodes, same octets) is found by content */
	{
		const char *cdir = newdir();
		char    cmd[2048];

		dir = newdir();
		sp = sopen(dir, NULL, 0);
		CU_ASSERT_FATAL(put_txn(sp, "a", "1", 1) == 0);
		EXPECT_INT(spool_recover(sp, NULL, err, sizeof(err)), 0);
		CU_ASSERT_FATAL(put_txn(sp, "b", "2", 1) == 0);
		spool_close(sp);
		CU_ASSERT_FATAL(unlink(spath(dir, "dockets.snap")) == 0);	/* .snap.1 */
		snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", dir, cdir);
		CU_ASSERT_FATAL(system(cmd) == 0);
		sp = sopen(cdir, NULL, 0);
		EXPECT_TRUE(dk_eq(sp, "a", "1", 1) && dk_eq(sp, "b", "2", 1));
		spool_close(sp);
	}
}

/* legacy_write - a docket file as the older version wrote it */
static void legacy_write(const char *dir, const char *key, const char *val, time_t mtime)
{
	struct buf b = BUF_INIT(1 << 20);
	char    esc[4 * SPOOL_DOCKET_KEYMAX + 8], *name = dkstore_legacy_name(key);
	struct timespec ts[2];

	(void) str_escape(esc, sizeof(esc), key, strlen(key));
	(void) buf_printf(&b, "niftpmail-docket 1\nkey %s\n\n%s", esc, val);
	CU_ASSERT_FATAL(write_bytes(spath3(dir, "dockets", name), buf_data(&b), b.len) == 0);
	ts[0].tv_sec = ts[1].tv_sec = mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	CU_ASSERT_FATAL(utimensat(AT_FDCWD, spath3(dir, "dockets", name), ts, 0) == 0);
	buf_release(&b);
	free(name);
}

/* an older version's spool: its docket files are read (never misread),
 * converted at recovery, then gone; a leftover of a finished conversion
 * is never read again over newer records */
static void test_docket_convert(void)
{
	const char *dir = newdir();
	struct spool *sp;
	struct spool_recovery rep;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN], *v;
	unsigned removed;
	time_t  now = time(NULL), mt;
	size_t  len;

	sp = sopen(dir, NULL, 0);
	spool_close(sp);
	CU_ASSERT_FATAL(unlink(spath(dir, "dockets.snap")) == 0 || errno == ENOENT);
	CU_ASSERT_FATAL(mkdir(spath(dir, "dockets"), 0750) == 0);
	legacy_write(dir, "srv tcp:1.2.3.4:5 17", "committed ucl.1\n", now - 60);
	legacy_write(dir, "env ucl.2.pss", "attempts 2\n", now - 3 * 86400);
	legacy_write(dir, "pss/65534", "", now);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "dockets/garbage"), "not a docket") == 0);
	/* a file whose name is not its key's was never readable */
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "dockets/renamed"),
	    "niftpmail-docket 1\nkey other\n\nv") == 0);
	CU_ASSERT_FATAL(tl_write_file(spath(dir, "dockets/.tmp.d.x"), "half") == 0);

	/* read as they are by a reader without the daemon */
	EXPECT_TRUE(dk_peek_eq(dir, "env ucl.2.pss", "attempts 2\n", 11)
	    && dk_peek_eq(dir, "other", NULL, 0) && dk_peek_eq(dir, "pss/65534", "", 0));
	/* and by an open spool, which takes no change before recovery */
	sp = sopen(dir, NULL, 0);
	EXPECT_TRUE(dk_eq(sp, "srv tcp:1.2.3.4:5 17", "committed ucl.1\n", 16));
	t = spool_txn_new(sp);
	spool_txn_docket_put(t, "new", "x", 1);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_HAS(err, "not converted yet");
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	EXPECT_INT(rep.dockets_converted, 3);
	EXPECT_INT(rep.dockets_corrupt, 2);
	EXPECT_INT(rep.docket_tmp, 1);
	EXPECT_INT(count_files(spath(dir, "dockets")), 1);	/* corrupt/ */
	EXPECT_TRUE(tl_exists(spath(dir, "dockets/corrupt/garbage"))
	    && tl_exists(spath(dir, "dockets/corrupt/renamed")));
	v = spool_docket_get(sp, "env ucl.2.pss", &len, &mt, err, sizeof(err));
	EXPECT_STR(v, "attempts 2\n");
	EXPECT_INT(mt, now - 3 * 86400);
	free(v);
	EXPECT_INT(journal_count_kv(dir, "recover", "converted", "3"), 1);
	/* the time of put came along: retention works on it */
	EXPECT_INT(spool_docket_prune(sp, 86400, now, NULL, &removed, err, sizeof(err)), 0);
	EXPECT_INT(removed, 1);
	EXPECT_INT(put_txn(sp, "pss/65534", "newer", 5), 0);
	spool_close(sp);
	sp = sopen(dir, NULL, 0);
	EXPECT_TRUE(dk_eq(sp, "srv tcp:1.2.3.4:5 17", "committed ucl.1\n", 16)
	    && dk_eq(sp, "env ucl.2.pss", NULL, 0) && dk_eq(sp, "pss/65534", "newer", 5));
	spool_close(sp);

	/* a leftover (a crash while the files were removed) with an older
	 * value: ignored by every reader, removed by recovery */
	legacy_write(dir, "pss/65534", "stale", now);
	EXPECT_TRUE(dk_peek_eq(dir, "pss/65534", "newer", 5));
	sp = sopen(dir, NULL, 0);
	EXPECT_TRUE(dk_eq(sp, "pss/65534", "newer", 5));
	EXPECT_INT(put_txn(sp, "k", "v", 1), 0);
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	EXPECT_INT(rep.dockets_converted, 0);
	EXPECT_INT(count_files(spath(dir, "dockets")), 1);
	EXPECT_TRUE(dk_eq(sp, "pss/65534", "newer", 5));
	spool_close(sp);
}

/*
 * Live dockets by key prefix; retention that keeps some prefixes
 */

struct each_state {
	struct spool *sp;
	struct buf b;
	unsigned n, stop_at;
};

/* each_fn - list the docket; at "env a" delete "env b" and put "env aa"
 * (fn may call the spool: neither is seen) */
static int each_fn(void *arg, const char *key, const void *val, size_t len)
{
	struct each_state *es = arg;
	char    err[SPOOL_ERRLEN];

	(void) buf_printf(&es->b, "%s=", key);
	(void) buf_append(&es->b, val, len);
	(void) buf_putc(&es->b, ';');
	if (strcmp(key, "env a") == 0) {
		EXPECT_INT(spool_docket_del(es->sp, "env b", err, sizeof(err)), 0);
		EXPECT_INT(spool_docket_put(es->sp, "env aa", "new", 3, err, sizeof(err)), 0);
	}
	return ++es->n == es->stop_at ? 9 : 0;
}

static void test_docket_each_prune(void)
{
	static const char *const keys[] = {
		"env c", "srv ucl 17", "env a", "envf a_f_b", "dead x", "env b", "pss/1",
	};
	static const char *const vals[] = { "c", "17", "a", "f", "x", "b", "1" };
	static const char *const keep[] = { "env ", "envf ", "dead ", NULL };
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	struct each_state es;
	char    err[SPOOL_ERRLEN];
	unsigned removed;
	size_t  i;

	for (i = 0; i < NELEM(keys); i++)
		CU_ASSERT_FATAL(spool_docket_put(sp, keys[i], vals[i], strlen(vals[i]), err,
		    sizeof(err)) == 0);
	memset(&es, 0, sizeof(es));
	es.sp = sp;
	buf_init(&es.b, 1 << 16);
	/* a prefix, in key order; "envf" is not "env " */
	EXPECT_INT(spool_docket_each(sp, "env ", each_fn, &es), 0);
	EXPECT_STR(buf_cstr(&es.b), "env a=a;env c=c;");
	EXPECT_INT(es.n, 2);
	/* every docket; stopped by fn */
	buf_reset(&es.b);
	es.n = 0;
	EXPECT_INT(spool_docket_each(sp, "", each_fn, &es), 0);
	EXPECT_STR(buf_cstr(&es.b), "dead x=x;env a=a;env aa=new;env c=c;envf a_f_b=f;pss/1=1;"
	    "srv ucl 17=17;");
	buf_reset(&es.b);
	es.n = 0;
	es.stop_at = 2;
	EXPECT_INT(spool_docket_each(sp, NULL, each_fn, &es), 9);
	EXPECT_STR(buf_cstr(&es.b), "dead x=x;env a=a;");
	EXPECT_INT(spool_docket_each(sp, "nothing ", each_fn, &es), 0);
	buf_release(&es.b);

	/* two days on, everything is old: the kept prefixes stay */
	EXPECT_INT(spool_docket_prune(sp, 86400, time(NULL) + 2 * 86400, keep, &removed, err,
	    sizeof(err)), 0);
	EXPECT_INT(removed, 2);
	EXPECT_TRUE(dk_eq(sp, "srv ucl 17", NULL, 0) && dk_eq(sp, "pss/1", NULL, 0));
	EXPECT_TRUE(dk_eq(sp, "env a", "a", 1) && dk_eq(sp, "envf a_f_b", "f", 1)
	    && dk_eq(sp, "dead x", "x", 1) && dk_eq(sp, "env aa", "new", 3));
	/* nothing young is pruned, kept or not; without a list, all go */
	EXPECT_INT(spool_docket_prune(sp, 86400, time(NULL), NULL, &removed, err, sizeof(err)),
	    0);
	EXPECT_INT(removed, 0);
	EXPECT_INT(spool_docket_prune(sp, 86400, time(NULL) + 2 * 86400, NULL, &removed, err,
	    sizeof(err)), 0);
	EXPECT_INT(removed, 5);
	EXPECT_INT(spool_docket_each(sp, "", each_fn, &es), 0);
	spool_close(sp);
}

struct peek_all {
	struct buf b;
	unsigned n, stop_at;
};

static int peek_all_fn(void *arg, const char *key, const void *val, size_t len)
{
	struct peek_all *pa = arg;

	(void) buf_printf(&pa->b, "%s=", key);
	(void) buf_append(&pa->b, val, len);
	(void) buf_putc(&pa->b, ';');
	return ++pa->n == pa->stop_at ? 7 : 0;
}

/* readers without the daemon: one key, and all at once, while a spool
 * is open and writing; a busy run on a loop creates no docket file */
static void test_docket_peek(void)
{
	struct loop *loop = loop_new();
	const char *dir = newdir();
	struct spool_opts o;
	struct spool *sp;
	struct spool_stats st;
	struct spool_txn *t;
	struct peek_all pa;
	struct gc_state g;
	char    err[SPOOL_ERRLEN], key[32], val[64];
	int     i, ok = 1;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	o.loop = loop;
	o.journal_max = 64 * 1024;
	sp = spool_open(&o, err, sizeof(err));
	CU_ASSERT_FATAL(sp != NULL);
	EXPECT_INT(spool_recover(sp, NULL, err, sizeof(err)), 0);
	memset(&g, 0, sizeof(g));
	for (i = 0; i < 2000; i++) {
		char    name[SPOOL_NAMELEN];

		t = spool_txn_new(sp);
		snprintf(key, sizeof(key), "env %05d", i);
		snprintf(val, sizeof(val), "attempts %d\nnext %d\n", i, i * 7);
		spool_txn_docket_put(t, key, val, strlen(val));
		if (i >= 10) {
			snprintf(key, sizeof(key), "env %05d", i - 10);
			spool_txn_docket_del(t, key);
		}
		if (i % 4 == 0 && put_letter(sp, NULL, "x\n", SPOOL_IN, name, sizeof(name)) < 0)
			ok = 0;
		spool_txn_journal(t, "deferred", NULL, NULL, 0);
		spool_txn_submit(t, gc_done, &g);
		if (i % 64 == 63)
			spool_drain(sp);
	}
	spool_drain(sp);
	EXPECT_TRUE(ok);
	EXPECT_INT(g.ok, 2000);
	spool_stats(sp, &st);
	EXPECT_TRUE(st.rotations >= 1 && st.snapshots == st.rotations);
	EXPECT_TRUE(st.batches < st.txns);
	/* a busy run makes no docket file: there is no dockets/ at all */
	EXPECT_TRUE(!tl_exists(spath(dir, "dockets")));
	/* read beside the open spool: the snapshot, then the journals */
	EXPECT_TRUE(dk_peek_eq(dir, "env 01995", "attempts 1995\nnext 13965\n", 25));
	EXPECT_TRUE(dk_peek_eq(dir, "env 01989", NULL, 0));
	buf_init(&pa.b, 1 << 20);
	pa.n = 0;
	pa.stop_at = 0;
	EXPECT_INT(spool_docket_peek_all(dir, peek_all_fn, &pa, err, sizeof(err)), 0);
	EXPECT_INT(pa.n, 10);
	EXPECT_TRUE(pa.b.len > 0 && strncmp(buf_cstr(&pa.b), "env 01990=attempts 1990\n", 24) == 0);
	buf_release(&pa.b);
	buf_init(&pa.b, 1 << 20);
	pa.n = 0;
	pa.stop_at = 3;
	EXPECT_INT(spool_docket_peek_all(dir, peek_all_fn, &pa, err, sizeof(err)), 7);
	EXPECT_INT(pa.n, 3);
	buf_release(&pa.b);
	spool_close(sp);
	loop_free(loop);
	/* the journal reader takes docket records as lines like any other */
	{
		struct journal_reader *r = journal_reader_open(dir, err, sizeof(err));
		struct journal_rec *rec = xmalloc(sizeof(*rec));
		unsigned long n = 0;

		CU_ASSERT_FATAL(r != NULL);
		while (journal_reader_next(r, rec, err, sizeof(err)) == 1)
			n += strcmp(rec->event, "docket") == 0;
		EXPECT_TRUE(n > 0);
		EXPECT_INT(journal_reader_skipped(r), 0);
		journal_reader_free(r);
		free(rec);
	}
	/* a spool directory without dockets: nothing, no error */
	dir = newdir();
	CU_ASSERT_FATAL(mkdir(dir, 0750) == 0);
	buf_init(&pa.b, 1 << 20);
	pa.n = 0;
	pa.stop_at = 0;
	EXPECT_INT(spool_docket_peek_all(dir, peek_all_fn, &pa, err, sizeof(err)), 0);
	EXPECT_INT(pa.n, 0);
	buf_release(&pa.b);
	EXPECT_TRUE(dk_peek_eq(dir, "x", NULL, 0));
}

/* the records: split values fit a line, every reader parses them; the
 * replay rejects what the writer never writes */
static void test_docket_records(void)
{
	static const struct {
		const char *lines;
		const char *why;	/* NULL: accepted */
	} cases[] = {
		{ "T docket - dk=1/1 key=a put=1\n", NULL },
		{ "T docket - dk=1/2 key=a put=1\nT docket - dk=2/2 key=a add=2\n", NULL },
		{ "T docket - dk=2/2 key=a put=1\n", "out of order" },
		{ "T docket - dk=1/3 key=a put=1\nT docket - dk=3/3 key=a put=1\n", "out of order" },
		{ "T docket - dk=1/2 key=a put=1\nT docket - dk=2/2 key=b add=2\n",
		    "add without its put" },
		{ "T docket - dk=1/1 key=a add=1\n", "add without its put" },
		{ "T docket - dk=1/1 key=a del=2\n", "del is not 1" },
		{ "T docket - dk=1/1 key=a get=1\n", "not put, add or del" },
		{ "T docket - dk=0/1 key=a put=1\n", "bad dk=I/N" },
		{ "T docket - dk=2/1 key=a put=1\n", "bad dk=I/N" },
		{ "T docket x dk=1/1 key=a put=1\n", "not a docket record" },
		{ "T docket - key=a dk=1/1 put=1\n", "not a docket record" },
		{ "T docket - dk=1/1 key=a put=1 x=2\n", "not a docket record" },
		{ "T docket - dk=1/1 key=\"\" put=1\n", "bad key" },
		{ "T docket - dk=1/1 key=a put=\"open\n", "not a journal line" },
		/* the transaction's other lines count, after its records */
		{ "T docket - dk=1/3 key=a put=1\nT tick -\nT tock -\n", NULL },
		{ "T docket - dk=1/3 key=a put=1\nT tick -\nT docket - dk=2/3 key=a put=1\n",
		    "out of order" },
		/* a group cut short, then another: the first is dropped */
		{ "T docket - dk=1/2 key=a put=1\nT docket - dk=1/1 key=b put=2\n", NULL },
	};
	const char *tm = "2026-11-23T19:30:00Z";
	struct dkmap_op ops[3];
	struct buf b = BUF_INIT(1 << 24), l = BUF_INIT(1 << 16);
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	struct dkmap *m;
	struct dkmap_replay *r;
	char   *big = binval(SPOOL_DOCKET_MAX, 1), err[256], key[SPOOL_DOCKET_KEYMAX + 1];
	const char *p, *nl;
	unsigned n;
	size_t  i;
	int     rc, ok;
	uint64_t off;

	/* a 64 KiB value of every octet under a key of 1024 escaped octets */
	memset(key, 0x01, SPOOL_DOCKET_KEYMAX);
	key[SPOOL_DOCKET_KEYMAX] = '\0';
	ops[0].del = 0;
	ops[0].key = key;
	ops[0].val = big;
	ops[0].vlen = SPOOL_DOCKET_MAX;
	ops[1].del = 1;
	ops[1].key = "gone";
	ops[2].del = 0;
	ops[2].key = "e";
	ops[2].val = NULL;
	ops[2].vlen = 0;
	EXPECT_INT(dkmap_records(&b, ops, 3, 0, &n), 0);
	EXPECT_TRUE(n > 16);		/* split: a put, then adds */
	m = dkmap_new();
	dkmap_put(m, "gone", "x", 1, 5);
	r = dkmap_replay_new(m, NULL);
	ok = 1;
	for (p = (const char *) buf_data(&b), i = 0; i < n; i++, p = nl + 1) {
		nl = memchr(p, '\n', (size_t) ((const char *) buf_data(&b) + b.len - p));
		CU_ASSERT_FATAL(nl != NULL);
		buf_reset(&l);
		(void) buf_printf(&l, "%s ", tm);
		(void) buf_append(&l, p, (size_t) (nl - p));
		if (l.len + 1 > JOURNAL_LINE_MAX || journal_parse((char *) buf_data(&l), l.len, rec) < 0)
			ok = 0;
		if (dkmap_replay_line(r, (char *) buf_data(&l), l.len, i, err, sizeof(err)) < 0)
			ok = 0;
		/* nothing applies before the group's last record */
		if (i + 1 < n && dkmap_count(m) != 1)
			ok = 0;
	}
	EXPECT_TRUE(ok);
	{
		const struct dkmap_ent *e = dkmap_get(m, key);

		EXPECT_TRUE(e != NULL && e->vlen == SPOOL_DOCKET_MAX
		    && memcmp(e->val, big, SPOOL_DOCKET_MAX) == 0 && e->mtime > 1700000000);
		EXPECT_TRUE(dkmap_get(m, "gone") == NULL);
		e = dkmap_get(m, "e");
		EXPECT_TRUE(e != NULL && e->vlen == 0);
	}
	dkmap_replay_free(r);
	dkmap_free(m);

	for (i = 0; i < NELEM(cases); i++) {
		m = dkmap_new();
		r = dkmap_replay_new(m, NULL);
		rc = 0;
		err[0] = '\0';
		for (p = cases[i].lines; *p && rc == 0; p = nl + 1) {
			nl = strchr(p, '\n');
			buf_reset(&l);
			(void) buf_printf(&l, "%s", tm);
			(void) buf_append(&l, p + 1, (size_t) (nl - p - 1));
			rc = dkmap_replay_line(r, (char *) buf_data(&l), l.len, 0, err, sizeof(err));
		}
		if (cases[i].why == NULL) {
			EXPECT_INT(rc, 0);
		} else {
			EXPECT_INT(rc, -1);
			EXPECT_HAS(err, cases[i].why);
		}
		dkmap_replay_free(r);
		dkmap_free(m);
	}
	/* a group applies with its last line, another line or a record */
	m = dkmap_new();
	r = dkmap_replay_new(m, NULL);
	buf_reset(&l);
	(void) buf_printf(&l, "%s docket - dk=1/2 key=a put=1", tm);
	EXPECT_INT(dkmap_replay_line(r, (char *) buf_data(&l), l.len, 0, err, sizeof(err)), 0);
	EXPECT_TRUE(dkmap_get(m, "a") == NULL);
	buf_reset(&l);
	(void) buf_printf(&l, "%s received ucl.1 from=x", tm);
	EXPECT_INT(dkmap_replay_line(r, (char *) buf_data(&l), l.len, 0, err, sizeof(err)), 0);
	EXPECT_TRUE(dkmap_get(m, "a") != NULL && !dkmap_replay_pending(r, &off));
	dkmap_replay_free(r);
	dkmap_free(m);
	/* the cut-short group is dropped, the next one applied */
	m = dkmap_new();
	r = dkmap_replay_new(m, NULL);
	buf_reset(&l);
	(void) buf_printf(&l, "%s docket - dk=1/2 key=a put=1", tm);
	EXPECT_INT(dkmap_replay_line(r, (char *) buf_data(&l), l.len, 100, err, sizeof(err)), 0);
	EXPECT_TRUE(dkmap_replay_pending(r, &off) && off == 100);
	buf_reset(&l);
	(void) buf_printf(&l, "%s docket - dk=1/1 key=b put=2", tm);
	EXPECT_INT(dkmap_replay_line(r, (char *) buf_data(&l), l.len, 200, err, sizeof(err)), 0);
	EXPECT_TRUE(!dkmap_replay_pending(r, &off));
	EXPECT_TRUE(dkmap_get(m, "a") == NULL && dkmap_get(m, "b") != NULL);
	dkmap_replay_free(r);
	dkmap_free(m);
	buf_release(&b);
	buf_release(&l);
	free(rec);
	free(big);
}

/*
 * The docket map's ordered index (spool/dkmap.c): prefix look-ups
 */

/* prefixed_is - dkmap_prefixed(m, prefix) gives exactly want[0..n), in order */
static int prefixed_is(const struct dkmap *m, const char *prefix, const char *const *want,
	size_t n)
{
	const struct dkmap_ent **v;
	size_t  got, i;
	int     ok;

	v = dkmap_prefixed(m, prefix, &got);
	ok = got == n;
	for (i = 0; ok && i < n; i++)
		ok = strcmp(v[i]->key, want[i]) == 0;
	if (!ok) {
		fprintf(stderr, "\nprefix '%s': got %zu keys:", prefix ? prefix : "(null)", got);
		for (i = 0; i < got; i++)
			fprintf(stderr, " '%s'", v[i]->key);
		fprintf(stderr, "; want %zu\n", n);
	}
	free(v);
	return ok;
}

static void test_dkmap_index(void)
{
	/* strcmp order, octets as unsigned: \x01 first, \xff last */
	static const char *const keys[] = {
		"env ucl.10_f_pss", "envf ucl.1_l", "env ucl.1_f_pss", "dead ucl.1",
		"env ucl.1_l", "env ucl.2_l", "envf ucl.1_f_pss", "srv 7", "\x01", "\xff\xfe",
		"env ucl.1", "e",
	};
	static const char *const sorted[] = {
		"\x01", "dead ucl.1", "e", "env ucl.1", "env ucl.10_f_pss", "env ucl.1_f_pss",
		"env ucl.1_l", "env ucl.2_l", "envf ucl.1_f_pss", "envf ucl.1_l", "srv 7",
		"\xff\xfe",
	};
	static const struct {
		const char *prefix;
		const char *want[8];
		size_t	n;
	} cases[] = {
		{ "env ucl.1_", { "env ucl.1_f_pss", "env ucl.1_l" }, 2 },
		{ "env ucl.1", { "env ucl.1", "env ucl.10_f_pss", "env ucl.1_f_pss", "env ucl.1_l" },
		    4 },
		{ "envf ", { "envf ucl.1_f_pss", "envf ucl.1_l" }, 2 },
		{ "env ", { "env ucl.1", "env ucl.10_f_pss", "env ucl.1_f_pss", "env ucl.1_l",
		    "env ucl.2_l" }, 5 },
		{ "dead ucl.1", { "dead ucl.1" }, 1 },		/* a whole key */
		{ "dead ucl.10", { NULL }, 0 },			/* longer than any key */
		{ "\xff", { "\xff\xfe" }, 1 },
		{ "\x01", { "\x01" }, 1 },
		{ "a", { NULL }, 0 },				/* between two keys */
		{ "zzz", { NULL }, 0 },				/* above every key */
		{ "\x02", { NULL }, 0 },
	};
	struct dkmap *m = dkmap_new();
	const struct dkmap_ent **v;
	char    key[64];
	size_t  i, n, k, j;
	unsigned x = 12345;
	char   *present;
	int     ok;

	/* empty */
	EXPECT_TRUE(prefixed_is(m, "env ", NULL, 0));
	EXPECT_TRUE(prefixed_is(m, NULL, NULL, 0));
	EXPECT_INT(dkmap_check(m), 0);
	/* a small table */
	for (i = 0; i < NELEM(keys); i++) {
		dkmap_put(m, keys[i], "v", 1, (int64_t) i);
		EXPECT_INT(dkmap_check(m), 0);
	}
	dkmap_put(m, "env ucl.1_l", "again", 5, 99);	/* a put of a key there: no new entry */
	EXPECT_INT(dkmap_count(m), NELEM(keys));
	EXPECT_INT(dkmap_check(m), 0);
	EXPECT_TRUE(prefixed_is(m, NULL, sorted, NELEM(sorted)));
	EXPECT_TRUE(prefixed_is(m, "", sorted, NELEM(sorted)));
	for (i = 0; i < NELEM(cases); i++)
		EXPECT_TRUE(prefixed_is(m, cases[i].prefix, cases[i].want, cases[i].n));
	v = dkmap_sorted(m, &n);
	EXPECT_INT(n, NELEM(sorted));
	free(v);
	/* delete: a leaf, a node with two children, the rest in turn */
	EXPECT_INT(dkmap_del(m, "env ucl.1_f_pss"), 1);
	EXPECT_INT(dkmap_del(m, "env ucl.1_f_pss"), 0);
	EXPECT_INT(dkmap_check(m), 0);
	{
		static const char *const want[] = { "env ucl.1_l" };

		EXPECT_TRUE(prefixed_is(m, "env ucl.1_", want, 1));
	}
	for (i = 0; i < NELEM(keys); i++) {
		(void) dkmap_del(m, keys[i]);
		EXPECT_INT(dkmap_check(m), 0);
	}
	EXPECT_INT(dkmap_count(m), 0);
	EXPECT_TRUE(prefixed_is(m, "", NULL, 0));

	/* many keys, put and deleted in a shuffled order: the index stays
	 * ordered and balanced, and every prefix look-up gives what a scan
	 * of every key gives */
	n = 20000;
	present = xcalloc(n, 1);
	for (k = 0; k < 3 * n; k++) {
		x = x * 1103515245u + 12345u;
		i = (x >> 8) % n;
		snprintf(key, sizeof(key), "env ucl.%zu_f_hop%zu", i, i % 7);
		if (present[i] && (x & 0x10000)) {
			EXPECT_INT(dkmap_del(m, key), 1);
			present[i] = 0;
		} else {
			dkmap_put(m, key, key, strlen(key), (int64_t) k);
			present[i] = 1;
		}
		if (k % 5000 == 0 && dkmap_check(m) != 0)
			break;
	}
	EXPECT_INT(dkmap_check(m), 0);
	for (i = 0, j = 0; i < n; i++)
		j += present[i];
	EXPECT_INT(dkmap_count(m), j);
	/* the prefix of one letter: its one envelope, or none; never the
	 * envelopes of ucl.I0..ucl.I9 (a prefix of their names too) */
	ok = 1;
	for (i = 0; i < n && ok; i += 7) {
		const char *one[1];

		snprintf(key, sizeof(key), "env ucl.%zu_f_hop%zu", i, i % 7);
		one[0] = key;
		{
			char    pre[64];

			snprintf(pre, sizeof(pre), "env ucl.%zu_", i);
			ok = prefixed_is(m, pre, one, present[i] ? 1 : 0);
		}
	}
	EXPECT_TRUE(ok);
	/* a wide prefix: ucl.1, ucl.10..19, ucl.100..199, ... against a count */
	v = dkmap_prefixed(m, "env ucl.1", &k);
	for (i = 0, j = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%zu", i);
		if (present[i] && key[0] == '1')
			j++;
	}
	EXPECT_INT(k, j);
	for (i = 1, ok = 1; i < k; i++)
		ok = ok && strcmp(v[i - 1]->key, v[i]->key) < 0;
	EXPECT_TRUE(ok);
	free(v);
	v = dkmap_sorted(m, &k);
	EXPECT_INT(k, dkmap_count(m));
	for (i = 1, ok = 1; i < k; i++)
		ok = ok && strcmp(v[i - 1]->key, v[i]->key) < 0;
	EXPECT_TRUE(ok);
	free(v);
	/* every key deleted, in order: each deletion rebalances */
	for (i = 0; i < n; i++)
		if (present[i]) {
			snprintf(key, sizeof(key), "env ucl.%zu_f_hop%zu", i, i % 7);
			(void) dkmap_del(m, key);
			if (i % 1000 == 0 && dkmap_check(m) != 0)
				break;
		}
	EXPECT_INT(dkmap_check(m), 0);
	EXPECT_INT(dkmap_count(m), 0);
	free(present);
	dkmap_free(m);
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

/*
 * Bare commits, removes after the commit, recycled inodes (doc/spool.md
 * "Recycled inodes"): a bare commit needs no intent record, and after a
 * crash that cut its batch short its file is either undone in tmp/ or
 * in its state without its records (the caller's garbage), never
 * touched by recovery; spool_txn_remove_after() unlinks only once the
 * transaction is committed, and recycles the file: emptied, kept as
 * tmp/.free.N (at most SPOOL_POOL_MAX) and taken by the next new file
 * with a fresh name.
 */

#define POOL_MAX	64	/* SPOOL_POOL_MAX of spool/spool.c */

/* pool_scan - the recycled files tmp/.free.* of spool dir: their count;
 * *with (if not NULL) gets how many have inode ino, *octets (if not
 * NULL) their size in all */
static int pool_scan(const char *dir, uint64_t ino, int *with, uint64_t *octets)
{
	DIR    *d = opendir(spath(dir, "tmp"));
	struct dirent *e;
	struct stat sb;
	int     n = 0;

	if (with)
		*with = 0;
	if (octets)
		*octets = 0;
	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, ".free.", 6) != 0)
			continue;
		n++;
		if (stat(spath3(dir, "tmp", e->d_name), &sb) < 0)
			continue;
		if (with && (uint64_t) sb.st_ino == ino)
			(*with)++;
		if (octets)
			*octets += (uint64_t) sb.st_size;
	}
	closedir(d);
	return n;
}

/* pool_first - the name of a recycled file tmp/.free.* of spool dir
 * into buf (len), or fail the test */
static void pool_first(const char *dir, char *buf, size_t len)
{
	DIR    *d = opendir(spath(dir, "tmp"));
	struct dirent *e;

	CU_ASSERT_FATAL(d != NULL);
	buf[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".free.", 6) == 0) {
			str_copy(buf, e->d_name, len);
			break;
		}
	closedir(d);
	CU_ASSERT_FATAL(buf[0] != '\0');
}

/* fd_ino - the inode (and size into *size, if not NULL) of fd */
static uint64_t fd_ino(int fd, uint64_t *size)
{
	struct stat sb;

	CU_ASSERT_FATAL(fstat(fd, &sb) == 0);
	if (size)
		*size = (uint64_t) sb.st_size;
	return (uint64_t) sb.st_ino;
}

/* end_txn - the transaction that ends a delivered or forwarded letter
 * of queue/: its envelope record deleted, a line, the file removed
 * after the commit */
static struct spool_txn *end_txn(struct spool *sp, const char *name)
{
	struct spool_txn *t = spool_txn_new(sp);
	char    key[SPOOL_NAMELEN + 16];

	snprintf(key, sizeof(key), "env %s_pss", name);
	spool_txn_docket_del(t, key);
	spool_txn_journal(t, "forwarded", name, NULL, 0);
	spool_txn_remove_after(t, SPOOL_QUEUE, name);
	return t;
}

/* letter_end - end_txn() run: 0 or -1 with err */
static int letter_end(struct spool *sp, const char *name, char *err, size_t errlen)
{
	return spool_txn_run(end_txn(sp, name), err, errlen);
}

/* bare_txn - a new transaction routing f (text written, handed over)
 * straight into queue/ by a bare commit, with its envelope record and
 * its line */
static struct spool_txn *bare_txn(struct spool *sp, struct spool_file *f, const char *text)
{
	struct spool_txn *t = spool_txn_new(sp);
	char    key[SPOOL_NAMELEN + 16], err[SPOOL_ERRLEN];

	CU_ASSERT_FATAL(spool_write(f, text, strlen(text), err, sizeof(err)) == 0);
	snprintf(key, sizeof(key), "env %s_pss", spool_file_name(f));
	spool_txn_docket_put(t, key, "hop pss", 7);
	spool_txn_journal(t, "routed", spool_file_name(f), NULL, 0);
	spool_txn_commit_bare(t, f, SPOOL_QUEUE);
	return t;
}

/* env_is - the envelope record of queue/name is there (1) or not (0) */
static int env_is(struct spool *sp, const char *name, int there)
{
	char    key[SPOOL_NAMELEN + 16];

	snprintf(key, sizeof(key), "env %s_pss", name);
	return there ? dk_eq(sp, key, "hop pss", 7) : dk_eq(sp, key, NULL, 0);
}

static void test_commit_bare(void)
{
	enum { N = 40 };
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_stats s0, s1;
	struct spool_file *f, *g;
	struct spool_txn *t;
	struct stat sb;
	struct loop *loop;
	struct gc_state gs = { 0, 0 };
	char    nm[SPOOL_NAMELEN], nm2[SPOOL_NAMELEN], err[SPOOL_ERRLEN], text[64];
	int     i, bad;

	CU_ASSERT_FATAL(put_letter(sp, "other", "other\n", SPOOL_IN, NULL, 0) == 0);

	/* routed in its receiving transaction: bare, with its line and its
	 * envelope record; the journal is synced, no intent record */
	spool_stats(sp, &s0);
	f = spool_create(sp, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	str_copy(nm, spool_file_name(f), sizeof(nm));
	t = bare_txn(sp, f, "bare letter\n");
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	spool_stats(sp, &s1);
	EXPECT_INT(s1.journal_syncs - s0.journal_syncs, 1);
	EXPECT_INT(s1.intent_syncs - s0.intent_syncs, 0);
	EXPECT_INT(s1.file_syncs - s0.file_syncs, 1);
	EXPECT_INT(s1.dir_syncs - s0.dir_syncs, 1);		/* queue/ */
	EXPECT_TRUE(tl_file_is(spath3(dir, "queue", nm), "bare letter\n"));
	EXPECT_TRUE(stat(spath3(dir, "queue", nm), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "routed", nm), 1);
	EXPECT_TRUE(env_is(sp, nm, 1));

	/* two in one transaction, and one without a line or record: still
	 * no intent record */
	spool_stats(sp, &s0);
	f = spool_create(sp, NULL, err, sizeof(err));
	g = spool_create(sp, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL && g != NULL);
	str_copy(nm, spool_file_name(f), sizeof(nm));
	str_copy(nm2, spool_file_name(g), sizeof(nm2));
	t = bare_txn(sp, f, "first\n");
	CU_ASSERT_FATAL(spool_write(g, "second\n", 7, err, sizeof(err)) == 0);
	spool_txn_commit_bare(t, g, SPOOL_QUEUE);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	f = spool_create(sp, "lineless", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	t = spool_txn_new(sp);
	spool_txn_commit_bare(t, f, SPOOL_QUEUE);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	spool_stats(sp, &s1);
	EXPECT_INT(s1.intent_syncs - s0.intent_syncs, 0);
	EXPECT_INT(s1.journal_syncs - s0.journal_syncs, 1);	/* the lineless one has none */
	EXPECT_TRUE(tl_file_is(spath3(dir, "queue", nm), "first\n"));
	EXPECT_TRUE(tl_file_is(spath3(dir, "queue", nm2), "second\n"));
	EXPECT_TRUE(tl_file_is(spath(dir, "queue/lineless"), ""));
	EXPECT_TRUE(stat(spath3(dir, "queue", nm2), &sb) == 0 && sb.st_nlink == 1);

	/* a batch mixing a bare commit and a move: the move needs the
	 * record, which then covers the commit too */
	spool_stats(sp, &s0);
	f = spool_create(sp, "mixed", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	t = bare_txn(sp, f, "mixed\n");
	spool_txn_move(t, "other", SPOOL_IN, SPOOL_HOLD, NULL);
	spool_txn_journal(t, "held", "other", NULL, 0);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	spool_stats(sp, &s1);
	EXPECT_INT(s1.intent_syncs - s0.intent_syncs, 1);
	EXPECT_INT(s1.journal_syncs - s0.journal_syncs, 1);
	EXPECT_TRUE(tl_file_is(spath(dir, "queue/mixed"), "mixed\n"));
	EXPECT_TRUE(tl_file_is(spath(dir, "hold/other"), "other\n"));
	/* and a plain commit with a line writes one, as before */
	spool_stats(sp, &s0);
	CU_ASSERT_FATAL(put_letter(sp, NULL, "plain\n", SPOOL_IN, NULL, 0) == 0);
	spool_stats(sp, &s1);
	EXPECT_INT(s1.intent_syncs - s0.intent_syncs, 1);

	/* a bare commit that fails (its name taken in its state) is undone
	 * as any commit: the file goes, no line, no record */
	f = spool_create(sp, "mixed", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	t = spool_txn_new(sp);
	CU_ASSERT_FATAL(spool_write(f, "again\n", 6, err, sizeof(err)) == 0);
	spool_txn_docket_put(t, "env again_pss", "x", 1);
	spool_txn_journal(t, "routed", "again", NULL, 0);
	spool_txn_commit_bare(t, f, SPOOL_QUEUE);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_STR(err, "spool: rename 'tmp/mixed' to 'queue/mixed': File exists");
	EXPECT_TRUE(tl_file_is(spath(dir, "queue/mixed"), "mixed\n"));
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "routed", "again"), 0);
	EXPECT_TRUE(dk_eq(sp, "env again_pss", NULL, 0));
	spool_close(sp);

	/* on a loop, many submitted together: group commit as before
	 * (journal syncs per batch), and not one intent record */
	loop = loop_new();
	dir = newdir();
	sp = sopen(dir, loop, 0);
	spool_stats(sp, &s0);
	for (i = 0; i < N; i++) {
		f = spool_create(sp, NULL, err, sizeof(err));
		CU_ASSERT_FATAL(f != NULL);
		snprintf(text, sizeof(text), "letter %d\n", i);
		spool_txn_submit(bare_txn(sp, f, text), gc_done, &gs);
	}
	spool_drain(sp);
	spool_stats(sp, &s1);
	EXPECT_INT(gs.done, N);
	EXPECT_INT(gs.ok, N);
	EXPECT_INT(s1.intent_syncs - s0.intent_syncs, 0);
	EXPECT_INT(s1.journal_syncs - s0.journal_syncs, s1.batches - s0.batches);
	EXPECT_INT(count_files(spath(dir, "queue")), N);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	EXPECT_INT(journal_count(dir, "routed", NULL), N);
	for (i = 0, bad = 0; i < N; i++) {
		snprintf(text, sizeof(text), "letter %d\n", i);
		if (find_content(dir, "queue", text) != 1)
			bad++;
	}
	EXPECT_INT(bad, 0);
	spool_close(sp);
	loop_free(loop);
}

/* the crash points of a batch of bare commits, in order; spool-after-intent
 * is never reached (no record) */
static const char *const bare_points[] = {
	"spool-prepared", "spool-after-intent", "spool-after-link", "spool-after-link:2",
	"spool-after-ops", "spool-after-dirsync", "spool-after-journal-write",
	"spool-after-journal-sync", "none",
};

/* child_bare - the child: bare1 and bare2 routed into queue/ by bare
 * commits, with their lines and envelope records, in one transaction */
static int child_bare(const char *dir)
{
	struct spool *sp;
	struct spool_opts o;
	struct spool_file *f1, *f2;
	struct spool_txn *t;
	char    err[SPOOL_ERRLEN];

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	if ((sp = spool_open(&o, err, sizeof(err))) == NULL)
		return 2;
	if ((f1 = spool_create(sp, "bare1", err, sizeof(err))) == NULL
	    || spool_write(f1, "bare one\n", 9, err, sizeof(err)) < 0
	    || (f2 = spool_create(sp, "bare2", err, sizeof(err))) == NULL
	    || spool_write(f2, "bare two\n", 9, err, sizeof(err)) < 0)
		return 3;
	t = spool_txn_new(sp);
	spool_txn_docket_put(t, "env bare1_pss", "hop pss", 7);
	spool_txn_docket_put(t, "env bare2_pss", "hop pss", 7);
	spool_txn_journal(t, "routed", "bare1", NULL, 0);
	spool_txn_journal(t, "routed", "bare2", NULL, 0);
	spool_txn_commit_bare(t, f1, SPOOL_QUEUE);
	spool_txn_commit_bare(t, f2, SPOOL_QUEUE);
	if (spool_txn_run(t, err, sizeof(err)) < 0)
		return 5;
	spool_close(sp);
	return 0;
}

/* bare_check - after recovery: bare1 and bare2 in queue/ (whole, one
 * link) as want1 and want2 say, with their lines and records only when
 * lines says so; the older letter untouched. 1 ok, 0 not (printed). */
static int bare_check(const char *dir, struct spool *sp, const char *pt, int want1, int want2,
	int lines)
{
	struct stat sb;
	int     q1 = tl_file_is(spath(dir, "queue/bare1"), "bare one\n");
	int     q2 = tl_file_is(spath(dir, "queue/bare2"), "bare two\n");
	int     l1 = journal_count(dir, "routed", "bare1");
	int     l2 = journal_count(dir, "routed", "bare2");
	int     d1 = env_is(sp, "bare1", 1), d2 = env_is(sp, "bare2", 1);
	int     ok = q1 == want1 && q2 == want2 && l1 == lines && l2 == lines && d1 == lines
	    && d2 == lines;

	ok &= q1 == tl_exists(spath(dir, "queue/bare1"))
	    && q2 == tl_exists(spath(dir, "queue/bare2"));
	ok &= !q1 || (stat(spath(dir, "queue/bare1"), &sb) == 0 && sb.st_nlink == 1);
	ok &= !q2 || (stat(spath(dir, "queue/bare2"), &sb) == 0 && sb.st_nlink == 1);
	ok &= count_files(spath(dir, "tmp")) == 0;
	ok &= tl_file_is(spath(dir, "in/oldl"), "old\n")
	    && journal_count(dir, "received", "oldl") == 1
	    && journal_count(dir, "recovered", NULL) == 0 && dk_eq(sp, "k0", "v0", 2);
	if (!ok)
		fprintf(stderr, "\ncrash at %s: queue/bare1 %d bare2 %d (want %d %d), lines %d %d, "
		    "records %d %d (want %d)\n", pt, q1, q2, want1, want2, l1, l2, d1, d2, lines);
	return ok;
}

static void test_bare_crash(void)
{
	size_t  i;
	int     st, fires, q1, q2, lines, ok;
	struct spool *sp;
	struct spool_recovery rep, rep2;
	char    err[SPOOL_ERRLEN];

	for (i = 0; i < NELEM(bare_points); i++) {
		const char *dir = newdir(), *pt = bare_points[i];

		/* an older letter and docket: the intent record left in place
		 * is that letter's batch, which is over */
		sp = sopen(dir, NULL, 0);
		CU_ASSERT_FATAL(put_letter(sp, "oldl", "old\n", SPOOL_IN, NULL, 0) == 0);
		CU_ASSERT_FATAL(spool_docket_put(sp, "k0", "v0", 2, err, sizeof(err)) == 0);
		spool_close(sp);
		fires = strcmp(pt, "none") != 0 && strcmp(pt, "spool-after-intent") != 0;
		st = truth_child(pt, "--child-bare", dir, NULL);
		EXPECT_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, fires ? 99 : 0);
		/* before the renames: both in tmp/, undone; after the first
		 * or both but before the journal: garbage in queue/ without
		 * lines or records; from the journal write on: whole */
		q1 = i >= 2;
		q2 = i >= 3;
		lines = i >= 6 || !fires;
		if (!fires)
			q1 = q2 = 1;
		sp = sopen(dir, NULL, 0);
		EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
		ok = bare_check(dir, sp, pt, q1, q2, lines);
		/* recovery leaves the garbage alone: no redo, no undo, no
		 * conflict, no line about it */
		ok &= rep.tmp_undone == (unsigned) (!q1 + !q2) && rep.tmp_completed == 0
		    && rep.tmp_other == 0 && rep.intent_redone == 0 && rep.intent_undone == 0
		    && rep.conflicts == 0 && rep.files[SPOOL_QUEUE] == (unsigned) (q1 + q2)
		    && rep.files[SPOOL_IN] == 1 && rep.journal_cut == 0;
		spool_close(sp);
		/* and a second recovery changes nothing */
		sp = sopen(dir, NULL, 0);
		EXPECT_INT(spool_recover(sp, &rep2, err, sizeof(err)), 0);
		ok &= bare_check(dir, sp, pt, q1, q2, lines);
		ok &= rep2.tmp_undone + rep2.intent_redone + rep2.intent_undone
		    + rep2.conflicts == 0;
		spool_close(sp);
		if (!ok)
			fprintf(stderr, "\ncrash at %s: undone %u completed %u stray %u redone %u "
			    "dropped %u conflicts %u queue %u\n", pt, rep.tmp_undone,
			    rep.tmp_completed, rep.tmp_other, rep.intent_redone, rep.intent_undone,
			    rep.conflicts, rep.files[SPOOL_QUEUE]);
		EXPECT_TRUE(ok);
	}
}

/* trace_order - in the sysio trace at path: the line number of the
 * journal's fdatasync (*jsync), of the first rename to a tmp/.free.
 * name (*recycle), -1 when missing; the number of directory fsyncs */
static int trace_order(const char *path, int *jsync, int *recycle)
{
	char   *text = tl_read_file(path, NULL), *p, *nl;
	int     n = 0, dirs = 0;

	*jsync = *recycle = -1;
	CU_ASSERT_FATAL(text != NULL);
	for (p = text; *p; p = nl + 1, n++) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		if (strstr(p, " fdatasync F ") != NULL && nl - p > 8
		    && strcmp(nl - 8, "/journal") == 0 && *jsync < 0)
			*jsync = n;
		if (strstr(p, " rename ") != NULL && strstr(p, " .free.") != NULL && *recycle < 0)
			*recycle = n;
		if (strstr(p, " fsync D ") != NULL || strstr(p, " fdatasync D ") != NULL)
			dirs++;
	}
	free(text);
	return dirs;
}

struct after_probe {
	const char *dir;
	int	done, ok, gone;
};

/* after_done - the callback: the file is gone by then */
static void after_done(void *arg, int ok, const char *err)
{
	struct after_probe *p = arg;

	(void) err;
	p->done = 1;
	p->ok = ok;
	p->gone = !tl_exists(spath(p->dir, "queue/inflight"))
	    && pool_scan(p->dir, 0, NULL, NULL) == 1;
}

static void test_remove_after(void)
{
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_stats s0, s1;
	struct spool_txn *t;
	struct loop *loop;
	struct after_probe p;
	char    err[SPOOL_ERRLEN], trace[1024];
	int     jsync, recycle, dirs;

	/* forwarded: its transaction deletes the envelope record, and the
	 * file goes once that is committed: after the journal's sync,
	 * without a directory sync, without an intent record */
	CU_ASSERT_FATAL(put_letter(sp, "fwd", "letter\n", SPOOL_QUEUE, NULL, 0) == 0);
	CU_ASSERT_FATAL(spool_docket_put(sp, "env fwd_pss", "hop pss", 7, err, sizeof(err)) == 0);
	spool_stats(sp, &s0);
	snprintf(trace, sizeof(trace), "%s/remove_after.trace", tdir);
	(void) unlink(trace);
	EXPECT_INT(sysio_trace_open(trace), 0);
	EXPECT_INT(letter_end(sp, "fwd", err, sizeof(err)), 0);
	sysio_trace_close();
	spool_stats(sp, &s1);
	EXPECT_TRUE(!tl_exists(spath(dir, "queue/fwd")));
	EXPECT_INT(journal_count(dir, "forwarded", "fwd"), 1);
	EXPECT_TRUE(env_is(sp, "fwd", 0));
	EXPECT_INT(s1.journal_syncs - s0.journal_syncs, 1);
	EXPECT_INT(s1.intent_syncs - s0.intent_syncs, 0);
	EXPECT_INT(s1.dir_syncs - s0.dir_syncs, 0);
	EXPECT_INT(s1.recycled - s0.recycled, 1);
	dirs = trace_order(trace, &jsync, &recycle);
	EXPECT_TRUE(jsync >= 0 && recycle > jsync);
	EXPECT_INT(dirs, 0);

	/* a transaction that fails leaves the file in place: the journal's
	 * fsync fails (the batch's first: no file, record or directory),
	 * then its write, then its own move */
	CU_ASSERT_FATAL(put_letter(sp, "keep", "kept\n", SPOOL_QUEUE, NULL, 0) == 0);
	CU_ASSERT_FATAL(spool_docket_put(sp, "env keep_pss", "hop pss", 7, err, sizeof(err)) == 0);
	spool_stats(sp, &s0);
	sysio_fail(SYSIO_FSYNC, 1, EIO);
	EXPECT_INT(letter_end(sp, "keep", err, sizeof(err)), -1);
	sysio_reset();
	EXPECT_STR(err, "spool: fsync 'journal': Input/output error");
	sysio_fail(SYSIO_WRITE, 1, EIO);
	EXPECT_INT(letter_end(sp, "keep", err, sizeof(err)), -1);
	sysio_reset();
	EXPECT_STR(err, "spool: write 'journal': Input/output error");
	t = spool_txn_new(sp);
	spool_txn_remove_after(t, SPOOL_QUEUE, "keep");
	spool_txn_move(t, "nosuch", SPOOL_IN, SPOOL_HOLD, NULL);
	spool_txn_journal(t, "forwarded", "keep", NULL, 0);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), -1);
	EXPECT_HAS(err, "rename 'in/nosuch' to 'hold/nosuch'");
	spool_stats(sp, &s1);
	EXPECT_TRUE(tl_file_is(spath(dir, "queue/keep"), "kept\n"));
	EXPECT_TRUE(env_is(sp, "keep", 1));
	EXPECT_INT(journal_count(dir, "forwarded", "keep"), 0);
	EXPECT_INT(s1.recycled - s0.recycled, 0);
	EXPECT_INT(s1.txns_failed - s0.txns_failed, 3);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), 1);		/* fwd's, still */

	/* a missing file is no error */
	spool_stats(sp, &s0);
	EXPECT_INT(letter_end(sp, "ghost", err, sizeof(err)), 0);
	spool_stats(sp, &s1);
	EXPECT_INT(journal_count(dir, "forwarded", "ghost"), 1);
	EXPECT_INT(s1.recycled - s0.recycled, 0);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), 1);

	/* the pool cannot take it (its rename fails, after the commit): the
	 * file is unlinked all the same, the transaction ok */
	CU_ASSERT_FATAL(put_letter(sp, "norename", "n\n", SPOOL_QUEUE, NULL, 0) == 0);
	spool_stats(sp, &s0);
	sysio_fail(SYSIO_RENAME, 1, EIO);
	EXPECT_INT(letter_end(sp, "norename", err, sizeof(err)), 0);
	sysio_reset();
	spool_stats(sp, &s1);
	EXPECT_TRUE(!tl_exists(spath(dir, "queue/norename")));
	EXPECT_INT(s1.recycled - s0.recycled, 0);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), 1);
	EXPECT_INT(count_files(spath(dir, "tmp")), 1);
	EXPECT_TRUE(tl_file_is(spath(dir, "queue/keep"), "kept\n"));
	spool_close(sp);

	/* on a loop: still there when submitted (the batch begins when the
	 * loop runs), gone when the callback runs */
	loop = loop_new();
	dir = newdir();
	sp = sopen(dir, loop, 0);
	CU_ASSERT_FATAL(put_letter(sp, "inflight", "in flight\n", SPOOL_QUEUE, NULL, 0) == 0);
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	t = spool_txn_new(sp);
	spool_txn_journal(t, "forwarded", "inflight", NULL, 0);
	spool_txn_remove_after(t, SPOOL_QUEUE, "inflight");
	spool_txn_submit(t, after_done, &p);
	EXPECT_TRUE(tl_file_is(spath(dir, "queue/inflight"), "in flight\n"));
	EXPECT_INT(spool_pending(sp), 1);
	spool_drain(sp);
	EXPECT_INT(p.done, 1);
	EXPECT_INT(p.ok, 1);
	EXPECT_INT(p.gone, 1);
	spool_close(sp);
	loop_free(loop);
}

static void test_recycle(void)
{
	enum { N = POOL_MAX + 6 };
	const char *dir = newdir();
	struct spool *sp = sopen(dir, NULL, 0);
	struct spool_recovery rep;
	struct spool_stats s0, s1;
	struct spool_file *f, *fv[POOL_MAX + 1];
	struct spool_txn *t;
	struct stat sb;
	char    nm[SPOOL_NAMELEN], err[SPOOL_ERRLEN], text[64];
	char   *names[N], *big;
	uint64_t ino, ino2, size, octets;
	int     with, i, bad;

	/* a removed letter of queue/ goes to the pool, emptied */
	big = xmalloc(5001);
	memset(big, 'o', 5000);
	big[5000] = '\0';
	CU_ASSERT_FATAL(put_letter(sp, NULL, big, SPOOL_QUEUE, nm, sizeof(nm)) == 0);
	ino = ino_of(dir, spath("queue", nm));
	spool_stats(sp, &s0);
	EXPECT_INT(letter_end(sp, nm, err, sizeof(err)), 0);
	spool_stats(sp, &s1);
	EXPECT_INT(s1.recycled - s0.recycled, 1);
	EXPECT_INT(pool_scan(dir, ino, &with, &octets), 1);
	EXPECT_INT(with, 1);
	EXPECT_INT(octets, 0);
	EXPECT_INT(count_files(spath(dir, "tmp")), 1);

	/* a caller's name never takes from the pool */
	f = spool_create(sp, "named", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_TRUE(fd_ino(spool_file_fd(f), NULL) != ino);
	spool_file_abort(f);
	spool_stats(sp, &s0);
	EXPECT_INT(s0.reused, 0);
	EXPECT_INT(pool_scan(dir, ino, &with, NULL), 1);
	EXPECT_INT(with, 1);

	/* a fresh name does: the same inode, empty (opened O_TRUNC: not even
	 * what someone wrote into the pool file stays), renamed to tmp/NAME */
	pool_first(dir, nm, sizeof(nm));
	CU_ASSERT_FATAL(tl_write_file(spath3(dir, "tmp", nm), "stray octets") == 0);
	EXPECT_INT(ino_of(dir, spath("tmp", nm)), ino);
	f = spool_create(sp, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	str_copy(nm, spool_file_name(f), sizeof(nm));
	EXPECT_INT(fd_ino(spool_file_fd(f), &size), ino);
	EXPECT_INT(size, 0);
	EXPECT_INT(spool_file_size(f), 0);
	EXPECT_TRUE(stat(spath3(dir, "tmp", nm), &sb) == 0 && (uint64_t) sb.st_ino == ino
	    && sb.st_nlink == 1);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), 0);
	spool_stats(sp, &s1);
	EXPECT_INT(s1.reused - s0.reused, 1);
	/* written and committed: exactly the new octets, none of the old */
	EXPECT_INT(spool_write(f, "new\n", 4, err, sizeof(err)), 0);
	t = spool_txn_new(sp);
	spool_txn_journal(t, "received", nm, NULL, 0);
	spool_txn_commit(t, f, SPOOL_IN);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	EXPECT_TRUE(tl_file_is(spath3(dir, "in", nm), "new\n"));
	EXPECT_TRUE(stat(spath3(dir, "in", nm), &sb) == 0 && sb.st_size == 4
	    && (uint64_t) sb.st_ino == ino && sb.st_nlink == 1);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	/* the pool is empty: the next one is a new inode */
	spool_stats(sp, &s0);
	f = spool_create(sp, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_TRUE(fd_ino(spool_file_fd(f), NULL) != ino);
	spool_file_abort(f);
	spool_stats(sp, &s1);
	EXPECT_INT(s1.reused - s0.reused, 0);

	/* a file with another name (a receive checkpoint's part/ link that
	 * its commit kept) is unlinked, not recycled: emptying it would
	 * empty part/NAME, and the next letter would share its inode */
	f = spool_create(sp, "linked", err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_write(f, "resumable\n", 10, err, sizeof(err)), 0);
	EXPECT_INT(spool_file_checkpoint(f, err, sizeof(err)), 0);
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_QUEUE);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	ino2 = ino_of(dir, "part/linked");
	EXPECT_TRUE(stat(spath(dir, "queue/linked"), &sb) == 0 && sb.st_nlink == 2);
	spool_stats(sp, &s0);
	EXPECT_INT(letter_end(sp, "linked", err, sizeof(err)), 0);
	spool_stats(sp, &s1);
	EXPECT_TRUE(!tl_exists(spath(dir, "queue/linked")));
	EXPECT_TRUE(tl_file_is(spath(dir, "part/linked"), "resumable\n"));
	EXPECT_TRUE(stat(spath(dir, "part/linked"), &sb) == 0 && sb.st_nlink == 1);
	EXPECT_INT(s1.recycled - s0.recycled, 0);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), 0);
	f = spool_create(sp, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_TRUE(fd_ino(spool_file_fd(f), NULL) != ino2);
	spool_file_abort(f);
	EXPECT_INT(spool_part_remove(sp, "linked", err, sizeof(err)), 0);

	/* at most POOL_MAX kept: 70 removed in one transaction, the rest
	 * unlinked */
	for (i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "old letter %d, longer than the new one\n", i);
		CU_ASSERT_FATAL(put_letter(sp, NULL, text, SPOOL_QUEUE, nm, sizeof(nm)) == 0);
		names[i] = xstrdup(nm);
	}
	spool_stats(sp, &s0);
	t = spool_txn_new(sp);
	for (i = 0; i < N; i++) {
		spool_txn_journal(t, "forwarded", names[i], NULL, 0);
		spool_txn_remove_after(t, SPOOL_QUEUE, names[i]);
	}
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	spool_stats(sp, &s1);
	EXPECT_INT(count_files(spath(dir, "queue")), 0);
	EXPECT_INT(pool_scan(dir, 0, NULL, &octets), POOL_MAX);
	EXPECT_INT(octets, 0);
	EXPECT_INT(count_files(spath(dir, "tmp")), POOL_MAX);
	EXPECT_INT(s1.recycled - s0.recycled, POOL_MAX);
	/* one more removed while the pool is full: unlinked */
	CU_ASSERT_FATAL(put_letter(sp, "one-more", "x\n", SPOOL_QUEUE, NULL, 0) == 0);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), POOL_MAX);
	EXPECT_INT(letter_end(sp, "one-more", err, sizeof(err)), 0);
	EXPECT_TRUE(!tl_exists(spath(dir, "queue/one-more")));
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), POOL_MAX);

	/* taken one by one by new letters, then a new inode; each letter
	 * exactly its own octets */
	spool_stats(sp, &s0);
	t = spool_txn_new(sp);
	for (i = 0; i <= POOL_MAX; i++) {
		fv[i] = spool_create(sp, NULL, err, sizeof(err));
		CU_ASSERT_FATAL(fv[i] != NULL);
		snprintf(text, sizeof(text), "new %d\n", i);
		EXPECT_INT(spool_write(fv[i], text, strlen(text), err, sizeof(err)), 0);
		free(names[i]);
		names[i] = xstrdup(spool_file_name(fv[i]));
		spool_txn_commit(t, fv[i], SPOOL_IN);
	}
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	spool_stats(sp, &s1);
	EXPECT_INT(s1.reused - s0.reused, POOL_MAX);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), 0);
	for (i = 0, bad = 0; i <= POOL_MAX; i++) {
		snprintf(text, sizeof(text), "new %d\n", i);
		if (!tl_file_is(spath3(dir, "in", names[i]), text))
			bad++;
	}
	EXPECT_INT(bad, 0);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);

	/* a reopened spool keeps no recycled file: recovery removes them
	 * as stray dot-files, and new files are new inodes */
	for (i = 0; i < 10; i++) {
		CU_ASSERT_FATAL(put_letter(sp, NULL, "doomed\n", SPOOL_QUEUE, nm, sizeof(nm)) == 0);
		free(names[i]);
		names[i] = xstrdup(nm);
	}
	for (i = 0; i < 10; i++)
		EXPECT_INT(letter_end(sp, names[i], err, sizeof(err)), 0);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), 10);
	spool_close(sp);
	sp = sopen(dir, NULL, 0);
	EXPECT_INT(spool_recover(sp, &rep, err, sizeof(err)), 0);
	EXPECT_INT(rep.tmp_other, 10);
	EXPECT_INT(rep.tmp_undone + rep.tmp_completed + rep.conflicts, 0);
	EXPECT_INT(pool_scan(dir, 0, NULL, NULL), 0);
	EXPECT_INT(count_files(spath(dir, "tmp")), 0);
	f = spool_create(sp, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(f != NULL);
	EXPECT_INT(spool_write(f, "after\n", 6, err, sizeof(err)), 0);
	str_copy(nm, spool_file_name(f), sizeof(nm));
	t = spool_txn_new(sp);
	spool_txn_commit(t, f, SPOOL_IN);
	EXPECT_INT(spool_txn_run(t, err, sizeof(err)), 0);
	EXPECT_TRUE(tl_file_is(spath3(dir, "in", nm), "after\n"));
	spool_stats(sp, &s1);
	EXPECT_INT(s1.reused, 0);
	spool_close(sp);
	for (i = 0; i < N; i++)
		free(names[i]);
	free(big);
}

/* a letter's whole life on a loop, as the relay lives it (received and
 * routed by a bare commit, forwarded and removed after the commit):
 * from the second round on every new letter takes a recycled inode,
 * each letter holds exactly its octets, and no intent record is
 * written at all */
static void test_recycle_loop(void)
{
	enum { N = 20, ROUNDS = 3 };
	struct loop *loop = loop_new();
	const char *dir = newdir();
	struct spool *sp = sopen(dir, loop, 0);
	struct spool_stats s0, s1;
	struct spool_file *f;
	struct gc_state gs;
	char   *names[N], text[128], err[SPOOL_ERRLEN];
	int     r, i, bad = 0;

	spool_stats(sp, &s0);
	for (r = 0; r < ROUNDS; r++) {
		memset(&gs, 0, sizeof(gs));
		for (i = 0; i < N; i++) {
			f = spool_create(sp, NULL, err, sizeof(err));
			CU_ASSERT_FATAL(f != NULL);
			names[i] = xstrdup(spool_file_name(f));
			/* each round shorter than the one before */
			snprintf(text, sizeof(text), "%.*sround %d letter %d\n", (ROUNDS - r) * 20,
			    "--------------------------------------------------------------------",
			    r, i);
			spool_txn_submit(bare_txn(sp, f, text), gc_done, &gs);
		}
		spool_drain(sp);
		for (i = 0; i < N; i++) {
			snprintf(text, sizeof(text), "%.*sround %d letter %d\n", (ROUNDS - r) * 20,
			    "--------------------------------------------------------------------",
			    r, i);
			if (!tl_file_is(spath3(dir, "queue", names[i]), text))
				bad++;
		}
		for (i = 0; i < N; i++)
			spool_txn_submit(end_txn(sp, names[i]), gc_done, &gs);
		spool_drain(sp);
		EXPECT_INT(gs.done, 2 * N);
		EXPECT_INT(gs.ok, 2 * N);
		EXPECT_INT(count_files(spath(dir, "queue")), 0);
		EXPECT_INT(pool_scan(dir, 0, NULL, NULL), N);
		for (i = 0; i < N; i++)
			free(names[i]);
	}
	spool_stats(sp, &s1);
	EXPECT_INT(bad, 0);
	EXPECT_INT(s1.recycled - s0.recycled, ROUNDS * N);
	EXPECT_INT(s1.reused - s0.reused, (ROUNDS - 1) * N);
	EXPECT_INT(s1.intent_syncs - s0.intent_syncs, 0);
	EXPECT_INT(journal_count(dir, "forwarded", NULL), ROUNDS * N);
	EXPECT_INT(count_files(spath(dir, "tmp")), N);
	spool_close(sp);
	loop_free(loop);
}

/*
 * List values: cut only between items, with " +N more"
 */

static void test_journal_list(void)
{
	static const struct {
		const char *v;
		size_t	more, keep;
	} marks[] = {
		{ "a@x,b@y +398 more", 398, 7 }, { "+3 more", 3, 0 }, { "a@x,b@y", 0, 7 },
		{ "", 0, 0 }, { " more", 0, 5 }, { "a +0 more", 0, 9 }, { "a+3 more", 0, 8 },
		{ "a +x more", 0, 9 }, { "a + more", 0, 8 }, { "a +12 mores", 0, 11 },
		{ "a,b  +1 more", 1, 4 },
	};
	struct journal_list l;
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	struct buf b = BUF_INIT(JOURNAL_LINE_MAX * 2);
	char    item[64], *big = xmalloc(JOURNAL_VALUE_MAX + 2);
	const char *text, *kv[2], *v;
	size_t  i, keep, n, vlen;

	for (i = 0; i < NELEM(marks); i++) {
		n = journal_list_more(marks[i].v, strlen(marks[i].v), &keep);
		if (n != marks[i].more || keep != marks[i].keep)
			fprintf(stderr, "\nmarker %zu \"%s\": got %zu, keep %zu; want %zu, %zu\n",
			    i, marks[i].v, n, keep, marks[i].more, marks[i].keep);
		EXPECT_INT(n, marks[i].more);
		EXPECT_INT(keep, marks[i].keep);
	}

	/* a short list is whole */
	journal_list_init(&l);
	EXPECT_STR(journal_list_text(&l), "");
	journal_list_release(&l);
	journal_list_init(&l);
	journal_list_add(&l, "a@x");
	journal_list_add(&l, "b@y");
	EXPECT_STR(journal_list_text(&l), "a@x,b@y");
	EXPECT_STR(journal_list_text(&l), "a@x,b@y");
	journal_list_release(&l);

	/* 400 addresses of 40 octets: cut after a whole one, N counted,
	 * and the value goes through the journal unchanged */
	journal_list_init(&l);
	for (i = 0; i < 400; i++) {
		snprintf(item, sizeof(item), "recipient-number-%04zu@a-long-host.example", i);
		journal_list_add(&l, item);
	}
	text = journal_list_text(&l);
	EXPECT_TRUE(strlen(text) <= JOURNAL_VALUE_MAX);
	EXPECT_INT(l.n + l.more, 400);
	snprintf(item, sizeof(item), " +%zu more", l.more);
	EXPECT_TRUE(strlen(text) > strlen(item)
	    && strcmp(text + strlen(text) - strlen(item), item) == 0);
	n = journal_list_more(text, strlen(text), &keep);
	EXPECT_INT(n, l.more);
	EXPECT_INT(keep, l.n * 42 - 1);		/* whole items and their commas */
	EXPECT_TRUE(keep > 0 && text[keep - 1] == 'e');
	kv[0] = "rcpts";
	kv[1] = text;
	CU_ASSERT_FATAL(journal_format(&b, "2026-11-23T19:30:00Z", "received", "ucl.1", kv, 1)
	    == 0);
	CU_ASSERT_FATAL(journal_parse((char *) buf_data(&b), b.len - 1, rec) == 0);
	v = journal_get(rec, "rcpts", &vlen);
	EXPECT_TRUE(v != NULL && vlen == strlen(text) && memcmp(v, text, vlen) == 0);
	journal_list_release(&l);

	/* an item too long for the value on its own: "+1 more" alone, and
	 * every later item is left out too (the kept ones are the first) */
	memset(big, 'x', JOURNAL_VALUE_MAX + 1);
	big[JOURNAL_VALUE_MAX + 1] = '\0';
	journal_list_init(&l);
	journal_list_add(&l, big);
	journal_list_add(&l, "a@x");
	EXPECT_STR(journal_list_text(&l), "+2 more");
	journal_list_release(&l);
	journal_list_init(&l);
	journal_list_add(&l, "a@x");
	journal_list_add(&l, big);
	journal_list_add(&l, "b@y");
	EXPECT_STR(journal_list_text(&l), "a@x +2 more");
	journal_list_release(&l);
	buf_release(&b);
	free(big);
	free(rec);
}

/*
 * log_lines: a line per journal line, once durable
 */

static void test_log_lines(void)
{
	const char *dir = newdir();
	struct spool *sp;
	struct spool_opts o;
	struct spool_txn *t;
	char    logf[1024], err[SPOOL_ERRLEN] = "";
	const char *kv[] = { "from", "tcp:1.2.3.4:5", "rcpts", "a@x,b@y +3 more",
		"reason", "evil\nforged line" };
	char   *text;
	int     saved, fd;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ucl";
	o.log_lines = 1;
	snprintf(logf, sizeof(logf), "%s/stderr.txt", tdir);
	fflush(stderr);
	saved = dup(2);
	fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	log_init("test_spool", LOG_LVL_INFO);
	sp = spool_open(&o, err, sizeof(err));
	CU_ASSERT_FATAL(sp != NULL);
	CU_ASSERT_FATAL(spool_recover(sp, NULL, err, sizeof(err)) == 0);
	t = spool_txn_new(sp);
	spool_txn_journal(t, "received", "ucl.1", kv, 2);
	spool_txn_journal(t, "refused", NULL, kv + 4, 1);
	spool_txn_docket_put(t, "env ucl.1", "x", 1);
	CU_ASSERT_FATAL(spool_txn_run(t, err, sizeof(err)) == 0);
	/* a failed transaction logs its failure, not its lines */
	t = spool_txn_new(sp);
	spool_txn_move(t, "nosuch", SPOOL_IN, SPOOL_QUEUE, NULL);
	spool_txn_journal(t, "routed", "nosuch", NULL, 0);
	spool_txn_submit(t, NULL, NULL);
	spool_close(sp);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log_init("test_spool", LOG_LVL_ERR);
	text = tl_read_file(logf, NULL);
	EXPECT_HAS(text, "test_spool: ucl.1: received from=tcp:1.2.3.4:5 rcpts=\"a@x,b@y +3"
	    " more\"\n");
	EXPECT_HAS(text, "test_spool: refused reason=\"evil\\nforged line\"\n");
	EXPECT_HAS(text, "test_spool: recover ");
	EXPECT_TRUE(text != NULL && strstr(text, "env ucl.1") == NULL);	/* a docket record */
	EXPECT_TRUE(text != NULL && strstr(text, "nosuch: routed") == NULL);
	EXPECT_HAS(text, "spool: rename 'in/nosuch'");
	free(text);
}

int main(int argc, char **argv)
{
	static const struct tl_test tests[] = {
		{ "names", "unique, sortable, across restarts", test_names },
		{ "names", "background block reservation", test_names_loop },
		{ "commit", "commit, move, remove, claim, scan", test_commit_basic },
		{ "commit", "error text", test_error_text },
		{ "commit", "a receive checkpoint: renamed, undone back to part/", test_commit_parted },
		{ "commit", "a name being committed is not free", test_commit_busy },
		{ "commit", "a failure without a callback is logged", test_failed_logged },
		{ "faults", "Nth write/fsync/link/rename/unlink/open fails", test_faults },
		{ "crash", "crash at every point, then recover", test_crash_points },
		{ "crash", "journal truth: whole or absent at every point", test_journal_truth },
		{ "crash", "journal truth: recovery killed at every point", test_journal_truth_recover },
		{ "recover", "report", test_recover_report },
		{ "recover", "intent record: format, torn, foreign, stale", test_intent_record },
		{ "recover", "an older version's tmp/ links and records", test_recover_older },
		{ "group", "batching and failures on a loop", test_group_commit },
		{ "group", "a transaction failed in a batch is not redone", test_intent_failed_in_batch },
		{ "undo", "a failed transaction is absent, whole", test_txn_undo_whole },
		{ "undo", "a failed batch is undone last transaction first", test_batch_undo_order },
		{ "bare", "a bare commit writes no intent record", test_commit_bare },
		{ "bare", "crash at every point of a batch of bare commits", test_bare_crash },
		{ "recycle", "removed after the commit: after the journal sync, or not at all",
		    test_remove_after },
		{ "recycle", "recycled inodes: fresh names only, emptied, capped, gone at restart",
		    test_recycle },
		{ "recycle", "a letter's life on a loop: recycled, no intent record",
		    test_recycle_loop },
		{ "dockets", "put, get, del, too large, prune", test_dockets },
		{ "dockets", "records: split, parsed, rejected", test_docket_records },
		{ "dockets", "the map's ordered index: prefix look-ups, many keys", test_dkmap_index },
		{ "dockets", "across restarts and rotations", test_docket_restart },
		{ "dockets", "crash at every point, batch write cut anywhere", test_docket_crash },
		{ "dockets", "a failed batch leaves the map unchanged", test_docket_failed },
		{ "dockets", "a damaged snapshot is never read", test_docket_snapshot_bad },
		{ "dockets", "no rotation passes a failed snapshot", test_docket_snapshot_fails },
		{ "dockets", "an older version's docket files converted", test_docket_convert },
		{ "dockets", "peek, peek_all, busy run without docket files", test_docket_peek },
		{ "dockets", "each by prefix; prune keeps prefixes", test_docket_each_prune },
		{ "journal", "escaping round trip", test_journal_escape },
		{ "journal", "parser table and caps", test_journal_parse },
		{ "journal", "rotation and reader", test_rotation },
		{ "journal", "list values: cut at an item, +N more", test_journal_list },
		{ "journal", "log_lines: each line logged once durable", test_log_lines },
	};
	int     rc;

	self_exe = "/proc/self/exe";
	if (argc > 2 && strcmp(argv[1], "--child-crash") == 0)
		return child_crash(argv[2]);
	if (argc > 3 && strcmp(argv[1], "--child-truth") == 0)
		return child_truth(argv[2], argv[3]);
	if (argc > 2 && strcmp(argv[1], "--child-recover") == 0)
		return child_recover(argv[2]);
	if (argc > 2 && strcmp(argv[1], "--child-dk") == 0)
		return child_dk(argv[2]);
	if (argc > 2 && strcmp(argv[1], "--child-bare") == 0)
		return child_bare(argv[2]);
	log_init("test_spool", LOG_LVL_ERR);
	if (tl_tmpdir(tdir, sizeof(tdir), "test_spool") < 0)
		return 1;
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	/* a failed run keeps its spools for a look */
	if (rc == 0 && tl_rmtree(tdir) < 0)
		fprintf(stderr, "could not remove %s\n", tdir);
	return rc;
}
