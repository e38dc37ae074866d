/*++
 * NAME
 *	test_order 1
 * SUMMARY
 *	CUnit tests of the sysio trace and of the order checker
 * SYNOPSIS
 *	build/tests/test_order
 * DESCRIPTION
 *	Durability you can check (doc/spool.md, "Checking the order of
 *	durability"):
 *
 *	The model: the checker of tests/tools/sysio_order.c (compiled in
 *	here, SYSIO_ORDER_NO_MAIN) replays small hand-written traces, one
 *	rule each: data synced after its last write, an entry synced by its
 *	directory after the change, a journal line synced after its write,
 *	a drop's removal from out/, an envelope's removal and its forwarded
 *	line, an inode reused, and traces it must refuse.
 *
 *	The shim: util/sysio.h traces real calls (names as the kernel
 *	gives them, a directory fsync through a descriptor opened with
 *	plain open(2), lines of an O_APPEND log, escaping, marks), skips
 *	the syncs it is told to, writes whole lines from many threads, and
 *	writes nothing when off.
 *
 *	The spool: a letter committed into in/ and a drop claimed from
 *	out/ on a real spool, traced and checked; then each sync on that
 *	path skipped in turn, and the checker must name what is missing.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "spool/spool.h"
#include "tests/unit/tl_test.h"
#include "util/durable.h"
#include "util/strutil.h"
#include "util/sysio.h"

#define SYSIO_ORDER_NO_MAIN
#include "tests/tools/sysio_order.c"

#define TPATH	(PATH_MAX + 64)	/* a path under tdir */

static char tdir[PATH_MAX];	/* scratch, as the kernel names it */
static int nsub;

static void tpath(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* tpath - a path under the scratch directory; too long is a test bug */
static void tpath(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	CU_ASSERT_FATAL(n >= 0 && (size_t) n < len);
}

/* subdir - a fresh directory under tdir (static buffer in rotation) */
static const char *subdir(const char *tag)
{
	static char bufs[4][TPATH];
	static int k;
	char   *b = bufs[k++ % 4];

	tpath(b, sizeof(bufs[0]), "%s/%s%d", tdir, tag, nsub++);
	if (mkdir(b, 0700) < 0)
		fprintf(stderr, "\nmkdir '%s': %s\n", b, strerror(errno));
	return b;
}

/* check_text - order_check on text; the report in *rep (free()) */
static int check_text(const char *text, char **rep, struct order_sum *sum)
{
	FILE   *in = fmemopen((void *) text, strlen(text), "r");
	FILE   *out;
	size_t  len;
	int     rc;

	*rep = NULL;
	out = open_memstream(rep, &len);
	if (in == NULL || out == NULL) {
		fprintf(stderr, "\nfmemopen/open_memstream: %s\n", strerror(errno));
		return -1;
	}
	rc = order_check(in, "t", out, 1, sum);
	fclose(in);
	fclose(out);
	return rc;
}

/* check_file - order_check on a trace file */
static int check_file(const char *path, char **rep, struct order_sum *sum)
{
	FILE   *in = fopen(path, "re"), *out;
	size_t  len;
	int     rc;

	*rep = NULL;
	out = open_memstream(rep, &len);
	if (in == NULL || out == NULL) {
		fprintf(stderr, "\nopen '%s': %s\n", path, strerror(errno));
		if (in)
			fclose(in);
		return -1;
	}
	rc = order_check(in, path, out, 1, sum);
	fclose(in);
	fclose(out);
	return rc;
}

/*
 * The model, on hand-written traces
 */

#define P "1 1 "
/* a new letter N: tmp/N written, synced, linked into in/, in/ synced,
 * its received line appended and synced, tmp/N unlinked (spool.c's
 * order before commits were renames; T_RENAME: now) */
#define T_FILE		P "create /s/tmp N 1:10\n" P "write 1:10 100 /s/tmp/N\n"
#define T_FSYNC		P "fsync F 1:10 /s/tmp/N\n"
#define T_LINK		P "link /s/tmp N /s/in N 1:10\n"
#define T_DSYNC		P "fsync D 1:2 /s/in\n"
#define T_JWRITE	P "write 1:5 80 /s/journal\n" \
			P "line 1:5 2026-11-23T19:30:00Z\\x20received\\x20N\\x20from=x\n"
#define T_JSYNC		P "fdatasync F 1:5 /s/journal\n"
#define T_ACK		P "unlink /s/tmp N 1:10\n" P "mark er-ok N\n"
#define T_GOOD		T_FILE T_FSYNC T_LINK T_DSYNC T_JWRITE T_JSYNC T_ACK
#define T_RENAME	P "rename /s/tmp N /s/in N 1:10\n"
/* its forwarding: in/N moved to queue/, the envelope removed, the letter too */
#define T_LEFT		P "rename /s/in N /s/queue N 1:10\n" P "fsync D 1:2 /s/in\n" \
			P "fsync D 1:3 /s/queue\n" \
			P "link /s/queue N_f_pss /s/queue .trash.1 1:12\n" \
			P "unlink /s/queue N_f_pss 1:12\n" P "unlink /s/queue N 1:10\n"
#define T_FWD		P "write 1:5 80 /s/journal\n" \
			P "line 1:5 2026-11-23T19:31:00Z\\x20forwarded\\x20N\\x20to=pss\\x20remote=x\n"
#define T_LEFTMARK	P "mark env-left N N_f_pss pss\n"
/* a drop out/F claimed as in/N */
#define T_CLAIM		P "rename /s/out F /s/in N 1:11\n" P "fsync F 1:11 /s/in/N\n" \
			P "fsync D 1:2 /s/in\n"

static const struct {
	const char *name;
	const char *trace;
	int	rc;
	const char *want;	/* in the report */
} model_cases[] = {
	{ "commit in order", T_GOOD, 0, "er-ok 1, pickup 0, env-left 0 (not checked 0);"
	    " journal lines checked 1; syncs skipped 0; 0 problems: ok" },
	{ "written after its fsync",
	    T_FILE T_FSYNC P "write 1:10 5 /s/tmp/N\n" T_LINK T_DSYNC T_JWRITE T_JSYNC T_ACK, 1,
	    "t:11: mark 'er-ok N': data of 'in/N' (file 1:10) not durable: written at trace"
	    " line 4, no fsync or fdatasync of it after that" },
	{ "file never synced", T_FILE T_LINK T_DSYNC T_JWRITE T_JSYNC T_ACK, 1,
	    "data of 'in/N' (file 1:10) not durable: written at trace line 2" },
	{ "a skipped sync is named",
	    T_FILE P "skip fsync F 1:10 /s/tmp/N\n" T_LINK T_DSYNC T_JWRITE T_JSYNC T_ACK, 1,
	    "(the sync at trace line 3 was skipped: NIFTPMAIL_SYSIO_SKIP)" },
	{ "directory synced before the link", T_FILE T_FSYNC T_DSYNC T_LINK T_JWRITE T_JSYNC T_ACK,
	    1, "entry 'in/N' not durable: linked from 'tmp/N' at trace line 5, no fsync of"
	    " directory '/s/in' after it" },
	{ "another directory synced", T_FILE T_FSYNC T_LINK P "fsync D 1:3 /s/queue\n"
	    T_JWRITE T_JSYNC T_ACK, 1, "entry 'in/N' not durable" },
	{ "journal synced before its line", T_FILE T_FSYNC T_LINK T_DSYNC T_JSYNC T_JWRITE T_ACK,
	    1, "journal line 'received N' (trace line 8, '/s/journal') not durable: no fdatasync"
	    " or fsync of the journal after it" },
	{ "another file synced instead of the journal",
	    T_FILE T_FSYNC T_LINK T_DSYNC T_JWRITE P "fdatasync F 1:6 /s/intent\n" T_ACK, 1,
	    "journal line 'received N'" },
	{ "commit by a rename", T_FILE T_FSYNC T_RENAME T_DSYNC T_JWRITE T_JSYNC
	    P "mark er-ok N\n", 0, "0 problems: ok" },
	{ "commit by a rename, in/ not synced", T_FILE T_FSYNC T_RENAME T_JWRITE T_JSYNC
	    P "mark er-ok N\n", 1, "entry 'in/N' not durable: renamed from 'tmp/N' at trace"
	    " line 4, no fsync of directory '/s/in' after it" },
	{ "commit by a rename, tmp/N durable, its removal not (recovery's)",
	    T_FILE T_FSYNC P "fsync D 1:6 /s/tmp\n" T_RENAME T_DSYNC T_JWRITE T_JSYNC
	    P "mark er-ok N\n", 0, "0 problems: ok" },
	{ "no received line", T_FILE T_FSYNC T_LINK T_DSYNC T_JSYNC T_ACK, 1,
	    "no journal line 'received N' before it" },
	{ "never committed", T_FILE T_FSYNC T_JWRITE T_JSYNC P "mark er-ok N\n", 1,
	    "no entry 'N' in a state directory (never committed?)" },
	{ "moved on, durable under the old name",
	    T_GOOD P "rename /s/in N /s/queue N 1:10\n" P "mark er-ok N\n", 0, "0 problems: ok" },
	{ "pickup: out/ synced", T_CLAIM P "fsync D 1:4 /s/out\n" T_JWRITE T_JSYNC
	    P "mark pickup N ok\n", 0, "pickup 1," },
	{ "pickup: removal from out/ not synced", T_CLAIM T_JWRITE T_JSYNC P "mark pickup N ok\n",
	    1, "entry 'out/F' not durable: renamed to 'in/N' at trace line 1, no fsync of"
	    " directory '/s/out' after it" },
	{ "a refused pickup is not checked", T_GOOD P "mark pickup X refused\n", 0,
	    "(not checked 1)" },
	{ "forwarded and removed", T_GOOD T_LEFT P "fsync D 1:3 /s/queue\n" T_FWD T_JSYNC
	    T_LEFTMARK, 0, "env-left 1 (not checked 0); journal lines checked 2;" },
	{ "envelope removal not synced", T_GOOD T_LEFT T_FWD T_JSYNC T_LEFTMARK, 1,
	    "mark 'env-left N N_f_pss pss': entry 'queue/N_f_pss' not durable: unlinked at trace"
	    " line 15, no fsync of directory '/s/queue' after it" },
	{ "letter unlinked before its line was synced", T_GOOD T_LEFT T_FWD T_JSYNC T_LEFTMARK, 1,
	    "'queue/N' removed (unlinked) at trace line 16 before its journal line 'forwarded N' (trace"
	    " line 18) was synced" },
	{ "letter unlinked after its line was synced, no directory sync", T_GOOD
	    P "rename /s/in N /s/queue N 1:10\n" P "fsync D 1:2 /s/in\n" P "fsync D 1:3 /s/queue\n"
	    P "rename /s/queue N_f_pss /s/queue .trash.1 1:12\n" P "fsync D 1:3 /s/queue\n"
	    T_FWD T_JSYNC P "unlink /s/queue N 1:10\n" T_LEFTMARK, 0,
	    "env-left 1 (not checked 0); journal lines checked 2; syncs skipped 0; 0 problems: ok" },
	{ "letter recycled after its line was synced, no directory sync", T_GOOD
	    P "rename /s/in N /s/queue N 1:10\n" P "fsync D 1:2 /s/in\n" P "fsync D 1:3 /s/queue\n"
	    P "rename /s/queue N_f_pss /s/queue .trash.1 1:12\n" P "fsync D 1:3 /s/queue\n"
	    T_FWD T_JSYNC P "rename /s/queue N /s/tmp .free.1 1:10\n" T_LEFTMARK, 0,
	    "env-left 1 (not checked 0); journal lines checked 2; syncs skipped 0; 0 problems: ok" },
	{ "letter recycled before its line was synced", T_GOOD
	    P "rename /s/in N /s/queue N 1:10\n" P "fsync D 1:2 /s/in\n" P "fsync D 1:3 /s/queue\n"
	    T_FWD P "rename /s/queue N /s/tmp .free.1 1:10\n" T_JSYNC T_LEFTMARK, 1,
	    "'queue/N' removed (renamed to) at trace line 16 before its journal line 'forwarded N' (trace"
	    " line 15) was synced" },
	{ "letter unlinked after its line was written, before its sync", T_GOOD
	    P "rename /s/in N /s/queue N 1:10\n" P "fsync D 1:2 /s/in\n" P "fsync D 1:3 /s/queue\n"
	    T_FWD P "unlink /s/queue N 1:10\n" T_JSYNC T_LEFTMARK, 1,
	    "'queue/N' removed (unlinked) at trace line 16 before its journal line 'forwarded N' (trace"
	    " line 15) was synced" },
	{ "forwarded line not synced", T_GOOD T_LEFT P "fsync D 1:3 /s/queue\n" T_FWD
	    T_LEFTMARK, 1, "journal line 'forwarded N' (trace line 19, '/s/journal') not durable" },
	{ "another hop's forwarded line is not its promise", T_GOOD T_LEFT
	    P "fsync D 1:3 /s/queue\n" T_FWD T_JSYNC
	    P "line 1:5 2026-11-23T19:31:00Z\\x20forwarded\\x20N\\x20to=nott\n" T_LEFTMARK, 0,
	    "journal lines checked 2;" },
	{ "inode reused by a file the trace did not write",
	    T_FILE T_FSYNC P "unlink /s/tmp N 1:10\n" T_CLAIM P "fsync D 1:4 /s/out\n"
	    T_JWRITE T_JSYNC P "mark pickup N ok\n", 0, "0 problems: ok" },
	{ "inode reused, the new file not synced",
	    T_FILE T_FSYNC P "unlink /s/tmp N 1:10\n" P "rename /s/out F /s/in N 1:10\n"
	    T_DSYNC P "fsync D 1:4 /s/out\n" T_JWRITE T_JSYNC P "mark pickup N ok\n", 1,
	    "data of 'in/N' (file 1:10) not durable: never fsynced or fdatasynced in the trace" },
	{ "no mark", T_FILE T_FSYNC, 2, "no acknowledgement mark to check" },
	{ "cut short by the cap", T_GOOD P "overflow\n", 2, "t:11: the trace is incomplete" },
	{ "a record too long", T_GOOD P "cut write\n", 2, "the trace is incomplete (cut)" },
	{ "unknown record", T_GOOD P "chmod x\n", 2, "t:11: malformed record" },
	{ "bad escape", T_GOOD P "mark er-ok \\xZZ\n", 2, "malformed record" },
	{ "torn last line", T_GOOD P "mark er-ok N", 2, "torn or overlong line" },
};

static void test_model(void)
{
	struct order_sum sum;
	char   *rep;
	size_t  i;
	int     rc;

	for (i = 0; i < NELEM(model_cases); i++) {
		rc = check_text(model_cases[i].trace, &rep, &sum);
		if (rc != model_cases[i].rc || rep == NULL
		    || strstr(rep, model_cases[i].want) == NULL)
			fprintf(stderr, "\ncase '%s': report:\n%s", model_cases[i].name,
			    rep ? rep : "(none)\n");
		EXPECT_INT(rc, model_cases[i].rc);
		EXPECT_HAS(rep, model_cases[i].want);
		free(rep);
	}
}

/*
 * The shim
 */

/* count_op - trace lines of op ("write", "fsync F"...) */
static int count_op(const char *trace, const char *op)
{
	char   *s = tl_read_file(trace, NULL), *p, want[64];
	int     n = 0;

	snprintf(want, sizeof(want), " %s ", op);
	for (p = s; p && (p = strstr(p, want)) != NULL; p++)
		n++;
	free(s);
	return n;
}

/* has - the trace file contains the text (printf-style) */
static int has(const char *trace, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int has(const char *trace, const char *fmt, ...)
{
	char   *s = tl_read_file(trace, NULL), want[2048];
	va_list ap;
	int     hit;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	hit = s != NULL && strstr(s, want) != NULL;
	if (!hit)
		fprintf(stderr, "\nno \"%s\" in the trace:\n%s", want, s ? s : "");
	free(s);
	return hit;
}

static void test_trace_calls(void)
{
	const char *d = subdir("calls");
	char    trace[TPATH], f[TPATH], sub[TPATH], err[256];
	struct stat sb, sd;
	unsigned long long dev, ino;
	int     fd;

	tpath(trace, sizeof(trace), "%s/trace", d);
	tpath(sub, sizeof(sub), "%s/dir", d);
	tpath(f, sizeof(f), "%s/file", sub);
	CU_ASSERT_FATAL(mkdir(sub, 0700) == 0 && stat(sub, &sd) == 0);
	EXPECT_INT(sysio_trace_open(trace), 0);
	EXPECT_INT(durable_write_file(f, "x\n", 2, err, sizeof(err)), 0);
	CU_ASSERT_FATAL(stat(f, &sb) == 0);
	/* a directory fsync through a descriptor the shim never opened */
	fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	EXPECT_INT(sys_fsync(fd), 0);
	close(fd);
	EXPECT_INT(sys_unlink(f), 0);
	EXPECT_INT(sys_unlink(f), -1);		/* failed: not traced */
	sysio_mark("er-ok  %s x", "ucl.1");
	sysio_trace_close();

	dev = (unsigned long long) sb.st_dev;
	ino = (unsigned long long) sb.st_ino;
	EXPECT_TRUE(has(trace, "# niftpmail sysio trace 1 pid %ld\n", (long) getpid()));
	EXPECT_TRUE(has(trace, " create %s .tmp.file.", sub));
	EXPECT_TRUE(has(trace, " write %llu:%llu 2 %s/.tmp.file.", dev, ino, sub));
	EXPECT_TRUE(has(trace, " fsync F %llu:%llu %s/.tmp.file.", dev, ino, sub));
	EXPECT_TRUE(has(trace, " rename %s .tmp.file.", sub));
	EXPECT_TRUE(has(trace, " %s file %llu:%llu\n", sub, dev, ino));
	EXPECT_TRUE(has(trace, " unlink %s file %llu:%llu\n", sub, dev, ino));
	EXPECT_TRUE(has(trace, " mark er-ok ucl.1 x\n"));
	/* both directory fsyncs (fsync_dir's and ours) name the directory */
	EXPECT_INT(count_op(trace, "fsync D"), 2);
	EXPECT_TRUE(has(trace, " fsync D %llu:%llu %s\n", (unsigned long long) sd.st_dev,
	    (unsigned long long) sd.st_ino, sub));
	EXPECT_INT(count_op(trace, "create"), 1);
	EXPECT_INT(count_op(trace, "rename"), 1);
	EXPECT_INT(count_op(trace, "unlink"), 1);
	EXPECT_INT(count_op(trace, "fsync F"), 1);
}

static void test_trace_lines(void)
{
	const char *d = subdir("lines");
	char    trace[TPATH], log[TPATH], longl[400], a[SYSIO_LINE_HEAD + 2];
	int     fd;

	tpath(trace, sizeof(trace), "%s/trace", d);
	tpath(log, sizeof(log), "%s/sp ace", d);
	memset(longl, 'a', sizeof(longl) - 1);
	longl[sizeof(longl) - 2] = '\n';
	longl[sizeof(longl) - 1] = '\0';
	EXPECT_INT(sysio_trace_open(trace), 0);
	fd = sys_openat(AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	EXPECT_INT(sys_write(fd, "t received a\\b\nt x\n", 19), 19);
	EXPECT_INT(sys_write(fd, longl, strlen(longl)), (long long) strlen(longl));
	close(fd);
	/* not a log (no O_APPEND): no line records */
	fd = sys_openat(AT_FDCWD, log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	EXPECT_INT(sys_pwrite(fd, "y\n", 2, 0), 2);
	close(fd);
	sysio_trace_close();

	EXPECT_INT(count_op(trace, "create"), 1);	/* the second open created nothing */
	EXPECT_TRUE(has(trace, " create %s sp\\x20ace ", d));
	EXPECT_TRUE(has(trace, " write "));
	EXPECT_TRUE(has(trace, " line "));
	EXPECT_TRUE(has(trace, " t\\x20received\\x20a\\x5cb\n"));
	EXPECT_TRUE(has(trace, " t\\x20x\n"));
	/* a long line: its first SYSIO_LINE_HEAD octets */
	memset(a, 'a', SYSIO_LINE_HEAD);
	a[SYSIO_LINE_HEAD] = '\n';
	a[SYSIO_LINE_HEAD + 1] = '\0';
	EXPECT_TRUE(has(trace, " %s", a));
	EXPECT_INT(count_op(trace, "line"), 3);
	EXPECT_INT(count_op(trace, "write"), 3);
}

static void test_skip(void)
{
	const char *d = subdir("skip");
	char    trace[TPATH], f[TPATH];
	int     fd;

	tpath(trace, sizeof(trace), "%s/trace", d);
	tpath(f, sizeof(f), "%s/skipme", d);
	EXPECT_INT(sysio_skip("bogus"), -1);
	EXPECT_INT(errno, EINVAL);
	EXPECT_INT(sysio_skip("fsync:"), -1);
	EXPECT_INT(sysio_skip("chmod:*"), -1);
	EXPECT_INT(sysio_skip("sync:a,sync:b,sync:c,sync:d,sync:e,sync:f,sync:g,sync:h,sync:i"), -1);
	EXPECT_INT(sysio_skip("fsync:*/skipme,fdatasync:*/nothing"), 0);
	EXPECT_INT(sysio_trace_open(trace), 0);
	fd = sys_openat(AT_FDCWD, f, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	EXPECT_INT(sys_fsync(fd), 0);		/* skipped */
	EXPECT_INT(sys_fdatasync(fd), 0);	/* done */
	EXPECT_INT(sysio_skip(NULL), 0);
	EXPECT_INT(sys_fsync(fd), 0);		/* done */
	close(fd);
	sysio_trace_close();
	EXPECT_INT(count_op(trace, "skip fsync F"), 1);
	EXPECT_INT(count_op(trace, "fdatasync F"), 1);
	EXPECT_INT(count_op(trace, "fsync F"), 2);	/* "skip fsync F" and the real one */
	EXPECT_TRUE(has(trace, " skip fsync F "));
	EXPECT_TRUE(has(trace, " %s/skipme\n", d));
}

#define THREADS		4
#define THREAD_CALLS	200

struct tjob {
	const char *dir;
	int	k;
	int	fails;
};

static void *thread_main(void *arg)
{
	struct tjob *j = arg;
	char    f[TPATH];
	int     fd, i;

	tpath(f, sizeof(f), "%s/t%d", j->dir, j->k);
	fd = sys_openat(AT_FDCWD, f, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		j->fails++;
	for (i = 0; fd >= 0 && i < THREAD_CALLS; i++)
		if (sys_pwrite(fd, "abc", 3, (off_t) i * 3) != 3 || sys_fsync(fd) != 0)
			j->fails++;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void test_threads(void)
{
	const char *d = subdir("threads");
	struct tjob jobs[THREADS];
	pthread_t th[THREADS];
	char    trace[TPATH], *s, *p, *nl;
	int     i, bad = 0, lines = 0;

	tpath(trace, sizeof(trace), "%s/trace", d);
	EXPECT_INT(sysio_trace_open(trace), 0);
	for (i = 0; i < THREADS; i++) {
		jobs[i].dir = d;
		jobs[i].k = i;
		jobs[i].fails = 0;
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, thread_main, &jobs[i]) == 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		EXPECT_INT(jobs[i].fails, 0);
	}
	sysio_trace_close();
	EXPECT_INT(count_op(trace, "write"), THREADS * THREAD_CALLS);
	EXPECT_INT(count_op(trace, "fsync F"), THREADS * THREAD_CALLS);
	/* whole lines only: each one "PID TID OP" and 3 or 4 more fields */
	s = tl_read_file(trace, NULL);
	for (p = s; p && *p; p = nl + 1) {
		int     sp = 0;
		char   *q;

		nl = strchr(p, '\n');
		if (nl == NULL) {
			bad++;
			break;
		}
		lines++;
		if (*p == '#')
			continue;
		for (q = p; q < nl; q++)
			sp += *q == ' ';
		if (sp != 5 && sp != 6)
			bad++;
	}
	EXPECT_INT(bad, 0);
	EXPECT_INT(lines, 1 + THREADS + 2 * THREADS * THREAD_CALLS);
	free(s);
}

static void test_off(void)
{
	const char *d = subdir("off");
	char    trace[TPATH], f[TPATH];
	struct stat a, b;
	int     fd;

	tpath(trace, sizeof(trace), "%s/trace", d);
	tpath(f, sizeof(f), "%s/f", d);
	EXPECT_INT(sysio_trace_open(trace), 0);
	sysio_trace_close();
	CU_ASSERT_FATAL(stat(trace, &a) == 0);
	fd = sys_openat(AT_FDCWD, f, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	EXPECT_INT(sys_write(fd, "x", 1), 1);
	EXPECT_INT(sys_fsync(fd), 0);
	close(fd);
	sysio_mark("er-ok %s", "x");
	CU_ASSERT_FATAL(stat(trace, &b) == 0);
	EXPECT_INT(b.st_size, a.st_size);
	EXPECT_INT(sysio_trace_open("/nonexistent/dir/trace"), -1);
}

/*
 * The spool's acknowledgement path, traced
 */

static struct spool *sp_open(const char *dir)
{
	struct spool_opts o;
	struct spool *sp;
	char    err[SPOOL_ERRLEN];

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "ord";
	sp = spool_open(&o, err, sizeof(err));
	if (sp == NULL || spool_recover(sp, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "\nspool '%s': %s\n", dir, err);
		spool_close(sp);
		return NULL;
	}
	return sp;
}

/* spool_run - with the syncs of skip skipped, put a letter into in/ (or
 * claim out/drop, claim 1) and mark it as acknowledged; the checker's
 * exit and report; name gets the letter's name */
static int spool_run(const char *skip, int claim, char *name, size_t nlen, char **rep)
{
	static const char letter[] = "kille@pss\n\nFrom: bennett@ucl\n\nhello\n";
	const char *kv[2] = { "from", "test" };
	const char *d = subdir("spool");
	char    trace[TPATH], spd[TPATH], drop[TPATH], err[SPOOL_ERRLEN];
	struct spool *sp;
	struct spool_file *f;
	struct spool_txn *t;
	struct order_sum sum;
	int     ok = 0, rc;

	*rep = NULL;
	tpath(trace, sizeof(trace), "%s/trace", d);
	tpath(spd, sizeof(spd), "%s/spool", d);
	if ((sp = sp_open(spd)) == NULL)
		return -1;
	EXPECT_INT(sysio_skip(skip), 0);
	EXPECT_INT(sysio_trace_open(trace), 0);
	t = spool_txn_new(sp);
	if (claim) {
		tpath(drop, sizeof(drop), "%s/out/drop", spd);
		ok = tl_write_file(drop, letter) == 0
		    && spool_txn_claim(t, "drop", SPOOL_IN, name, nlen, err, sizeof(err)) == 0;
	} else if ((f = spool_create(sp, NULL, err, sizeof(err))) != NULL) {
		str_copy(name, spool_file_name(f), nlen);
		ok = spool_write(f, letter, sizeof(letter) - 1, err, sizeof(err)) == 0;
		spool_txn_commit(t, f, SPOOL_IN);
	}
	if (ok) {
		spool_txn_journal(t, "received", name, kv, 1);
		ok = spool_txn_run(t, err, sizeof(err)) == 0;
	} else {
		spool_txn_abort(t);
	}
	if (ok)
		sysio_mark(claim ? "pickup %s ok" : "er-ok %s", name);
	else
		fprintf(stderr, "\nspool: %s\n", err);
	sysio_trace_close();
	EXPECT_INT(sysio_skip(NULL), 0);
	spool_close(sp);
	rc = check_file(trace, rep, &sum);
	EXPECT_INT(sum.erok + sum.pickup, 1);
	return rc;
}

static void test_spool(void)
{
	static const struct {
		const char *skip;
		int	claim;
		int	rc;
		const char *want;	/* NAME: the letter, in the report */
	} cases[] = {
		{ NULL, 0, 0, "er-ok 1, pickup 0, env-left 0 (not checked 0); journal lines checked 1" },
		{ NULL, 1, 0, "er-ok 0, pickup 1, env-left 0 (not checked 0); journal lines checked 1" },
		{ "fsync:*/tmp/*", 0, 1, "data of 'in/NAME' (file " },
		{ "fsync:*/spool/in", 0, 1, "entry 'in/NAME' not durable: renamed from 'tmp/NAME'" },
		{ "fdatasync:*/spool/journal", 0, 1, "journal line 'received NAME' (trace line " },
		{ "fsync:*/in/*", 1, 1, "data of 'in/NAME' (file " },
		{ "fsync:*/spool/in", 1, 1, "entry 'in/NAME' not durable: renamed from 'out/drop'" },
		{ "fsync:*/spool/out", 1, 1, "entry 'out/drop' not durable: renamed to 'in/NAME'" },
		{ "sync:*/spool/journal", 1, 1, "journal line 'received NAME' (trace line " },
	};
	char    name[SPOOL_NAMELEN], want[TPATH], *rep, *at;
	size_t  i;
	int     rc;

	for (i = 0; i < NELEM(cases); i++) {
		name[0] = '\0';
		rc = spool_run(cases[i].skip, cases[i].claim, name, sizeof(name), &rep);
		/* NAME -> the letter's name */
		str_copy(want, cases[i].want, sizeof(want));
		while ((at = strstr(want, "NAME")) != NULL) {
			char    rest[TPATH];

			str_copy(rest, at + 4, sizeof(rest));
			snprintf(at, sizeof(want) - (size_t) (at - want), "%s%s", name, rest);
		}
		if (rc != cases[i].rc || rep == NULL || strstr(rep, want) == NULL)
			fprintf(stderr, "\ncase %zu (skip '%s', claim %d): report:\n%s", i,
			    cases[i].skip ? cases[i].skip : "", cases[i].claim, rep ? rep : "");
		EXPECT_INT(rc, cases[i].rc);
		EXPECT_HAS(rep, want);
		free(rep);
	}
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "model", "hand-written traces", test_model },
		{ "shim", "calls traced with their names", test_trace_calls },
		{ "shim", "lines of a log, escaping", test_trace_lines },
		{ "shim", "skipped syncs", test_skip },
		{ "shim", "threads write whole lines", test_threads },
		{ "shim", "nothing when off", test_off },
		{ "spool", "acknowledgements checked, each sync removed", test_spool },
	};
	char    tmp[256];
	int     rc;

	if (tl_tmpdir(tmp, sizeof(tmp), "test_order") < 0)
		return 1;
	/* the kernel's name of it: /tmp may be a link */
	if (realpath(tmp, tdir) == NULL)
		str_copy(tdir, tmp, sizeof(tdir));
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	tl_rmtree(tmp);
	return rc;
}
