/*++
 * NAME
 *	test_util 1
 * SUMMARY
 *	CUnit tests of the util/ base library
 * SYNOPSIS
 *	build/tests/test_util
 * DESCRIPTION
 *	One suite per module: alloc, log, buf, strutil, sysio, durable,
 *	crash, loop, workq. Failure paths are tested on purpose: buffer
 *	caps, injected fsync/rename/write/open faults that must leave no
 *	file behind, parsers fed garbage and overflowing numbers, panics
 *	(in a forked child), crash points (in a re-executed child, since
 *	the environment is read once per process).
 *
 *	Nothing waits by sleeping: threads are synchronised with mutexes
 *	and condition variables, the loop with its own timeouts.
 *
 *	The binary re-executes itself with "--child-fault" and
 *	"--child-crash" to test the environment variables in a fresh
 *	process.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"
#include "util/workq.h"

static char tdir[256];			/* per-run scratch directory */
static const char *self_exe;
static pthread_t main_thread;

/* tpath - scratch path (static buffers in rotation) */
static const char *tpath(const char *name)
{
	static char bufs[4][512];
	static int k;
	char   *b = bufs[k++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tdir, name);
	return b;
}

/* count_tmp - files in dir whose name starts with ".tmp." */
static int count_tmp(const char *dir)
{
	DIR    *d = opendir(dir);
	struct dirent *e;
	int     n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".tmp.", 5) == 0)
			n++;
	closedir(d);
	return n;
}

/* child_died - run fn in a forked child with stderr silenced; its wait status */
static int child_status(void (*fn)(void))
{
	pid_t   pid;
	int     st = 0, fd;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0)
			dup2(fd, 2);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return st;
}

/* run_self - re-execute this binary with mode and env NAME=VALUE;
 * return the wait status and what it wrote on stderr */
static int run_self(const char *mode, const char *name, const char *value,
	char *out, size_t outlen)
{
	int     p[2], st = 0;
	pid_t   pid;
	ssize_t n;
	size_t  got = 0;

	if (pipe(p) < 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		setenv(name, value, 1);
		execl(self_exe, self_exe, mode, (char *) NULL);
		_exit(127);
	}
	close(p[1]);
	while (got + 1 < outlen && (n = read(p[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t) n;
	out[got] = '\0';
	close(p[0]);
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return st;
}

/*
 * alloc
 */

static void panic_xcalloc(void)
{
	(void) xcalloc(SIZE_MAX / 2, 4);
}

static void test_alloc(void)
{
	char   *a = xmalloc(0), *b = xmalloc(0), *s;

	EXPECT_TRUE(a != NULL && b != NULL && a != b);
	free(a);
	free(b);
	s = xstrndup("abcdef", 3);
	EXPECT_STR(s, "abc");
	free(s);
	s = xstrndup("ab", 10);
	EXPECT_STR(s, "ab");
	free(s);
	s = xmemdup("x\0y", 3);
	EXPECT_INT(s[1], 0);
	EXPECT_INT(s[3], 0);
	free(s);
	s = xasprintf("%s-%d", "n", 42);
	EXPECT_STR(s, "n-42");
	free(s);
	a = xcalloc(0, 8);
	EXPECT_TRUE(a != NULL);
	a = xrealloc(a, 0);
	EXPECT_TRUE(a != NULL);
	free(a);
	{
		int st = child_status(panic_xcalloc);

		EXPECT_TRUE(WIFSIGNALED(st));
		if (WIFSIGNALED(st))
			EXPECT_INT(WTERMSIG(st), SIGABRT);
	}
}

/*
 * log
 */

/* capture - run fn with stderr redirected to a file; return its content */
static char *capture(void (*fn)(void))
{
	int     saved = dup(2), fd;
	char   *out;
	char    err[DURABLE_ERRLEN];

	fd = open(tpath("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	fn();
	dup2(saved, 2);
	close(saved);
	out = durable_read_file(tpath("stderr.txt"), 65536, NULL, err, sizeof(err));
	return out ? out : xstrdup(err);
}

static void log_lines(void)
{
	log_info("plain %d", 1);
	log_warn("ctl a\nb\x1b[31m\x7f end");
	log_error("err '%s'", "x");
	log_debug("hidden");
}

static void log_long(void)
{
	char    big[12000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
}

/* log_info_marker - one line for test_log_reopen */
static void log_info_marker(void)
{
	log_info("after the rotation");
}

/* test_log_reopen - rename, reopen: the new file gets what follows; the
 * path unchanged is no reopen; a failed reopen keeps the old file */
static void test_log_reopen(void)
{
	char    err[DURABLE_ERRLEN], *out, *file;
	struct stat sb;

	EXPECT_INT(log_to_file(tpath("rot.log"), err, sizeof(err)), 0);
	EXPECT_INT(log_reopen(err, sizeof(err)), 0);		/* not moved */
	out = capture(log_lines);
	free(out);
	CU_ASSERT_FATAL(rename(tpath("rot.log"), tpath("rot.log.1")) == 0);
	EXPECT_INT(log_reopen(err, sizeof(err)), 1);
	out = capture(log_info_marker);
	free(out);
	file = durable_read_file(tpath("rot.log"), 65536, NULL, err, sizeof(err));
	EXPECT_TRUE(file != NULL && strstr(file, "after the rotation") != NULL
	    && strstr(file, "plain 1") == NULL);
	free(file);
	file = durable_read_file(tpath("rot.log.1"), 65536, NULL, err, sizeof(err));
	EXPECT_TRUE(file != NULL && strstr(file, "plain 1") != NULL
	    && strstr(file, "after the rotation") == NULL);
	free(file);
	/* the new name is a link now: refused, the file in use stays */
	CU_ASSERT_FATAL(rename(tpath("rot.log"), tpath("rot.log.2")) == 0);
	CU_ASSERT_FATAL(symlink(tpath("rot.log.2"), tpath("rot.log")) == 0);
	EXPECT_INT(log_reopen(err, sizeof(err)), -2);
	EXPECT_HAS(err, "rot.log' is a symbolic link");
	out = capture(log_info_marker);
	free(out);
	file = durable_read_file(tpath("rot.log.2"), 65536, NULL, err, sizeof(err));
	{
		const char *p = file ? strstr(file, "after the rotation") : NULL;

		/* twice: before the refused reopen and after it */
		EXPECT_TRUE(p != NULL && strstr(p + 1, "after the rotation") != NULL);
	}
	free(file);
	/* a file this open made is given away; one that existed is not */
	CU_ASSERT_FATAL(unlink(tpath("rot.log")) == 0);
	EXPECT_INT(log_reopen(err, sizeof(err)), 1);
	EXPECT_INT(log_file_give((unsigned long) getuid(), (unsigned long) getgid(), err,
	    sizeof(err)), 0);
	EXPECT_INT(stat(tpath("rot.log"), &sb), 0);
	EXPECT_INT(sb.st_mode & 07777, 0640);
	EXPECT_INT(log_syslog_facility_ok("mail"), 1);
	EXPECT_INT(log_syslog_facility_ok("local7"), 1);
	EXPECT_INT(log_syslog_facility_ok("local8"), 0);
	EXPECT_INT(log_syslog_facility_ok("MAIL"), 0);
	EXPECT_INT(log_to_syslog(NULL, "kern", err, sizeof(err)), -1);
	EXPECT_HAS(err, "syslog facility 'kern' is unknown");
}

static void test_log(void)
{
	char   *out, *file, err[DURABLE_ERRLEN];
	size_t  len;

	log_init("/usr/sbin/testprog", LOG_LVL_INFO);
	EXPECT_STR(log_progname(), "testprog");
	out = capture(log_lines);
	EXPECT_STR(out, "testprog: plain 1\n"
	    "testprog: warning: ctl a\\x0ab\\x1b[31m\\x7f end\n"
	    "testprog: err 'x'\n");
	free(out);

	/* a whole journal line (8 KiB) fits; more is cut and marked */
	out = capture(log_long);
	len = strlen(out);
	EXPECT_TRUE(len > 8192 && len < 9300);
	EXPECT_TRUE(len > 4 && strcmp(out + len - 4, "...\n") == 0);
	free(out);

	/* The file gets "YYYY-MM-DDTHH:MM:SSZ prog: text". */
	EXPECT_INT(log_to_file(tpath("log.txt"), err, sizeof(err)), 0);
	EXPECT_INT(log_to_file(tpath("no/such/dir/log"), err, sizeof(err)), -1);
	EXPECT_HAS(err, "no/such/dir/log': No such file or directory");
	/* refused, naming the path (the log file in use stays): a symbolic
	 * link, a FIFO (without a reader: the open must not hang), a
	 * directory, a file with a second name */
	CU_ASSERT_FATAL(symlink(tpath("log.txt"), tpath("log.link")) == 0);
	EXPECT_INT(log_to_file(tpath("log.link"), err, sizeof(err)), -2);
	EXPECT_HAS(err, "log.link' is a symbolic link (not followed)");
	CU_ASSERT_FATAL(mkfifo(tpath("log.fifo"), 0600) == 0);
	EXPECT_INT(log_to_file(tpath("log.fifo"), err, sizeof(err)), -2);
	EXPECT_HAS(err, "log.fifo' is not a regular file");
	CU_ASSERT_FATAL(mkdir(tpath("log.dir"), 0700) == 0);
	EXPECT_INT(log_to_file(tpath("log.dir"), err, sizeof(err)), -2);
	EXPECT_HAS(err, "log.dir' is not a regular file");
	CU_ASSERT_FATAL(close(open(tpath("log.two"), O_WRONLY | O_CREAT, 0600)) == 0);
	CU_ASSERT_FATAL(link(tpath("log.two"), tpath("log.other")) == 0);
	EXPECT_INT(log_to_file(tpath("log.two"), err, sizeof(err)), -2);
	EXPECT_HAS(err, "log.two' has 2 links");
	out = capture(log_lines);
	free(out);
	file = durable_read_file(tpath("log.txt"), 65536, &len, err, sizeof(err));
	EXPECT_TRUE(file != NULL);
	if (file) {
		EXPECT_TRUE(len > 21 && file[4] == '-' && file[10] == 'T'
		    && file[19] == 'Z' && file[20] == ' ');
		EXPECT_TRUE(strncmp(file + 21, "testprog: plain 1\n", 18) == 0);
		free(file);
	}
	test_log_reopen();
}

/*
 * buf
 */

static void panic_consume(void)
{
	struct buf b = BUF_INIT(8);

	buf_consume(&b, 1);
}

static void test_buf_cap(void)
{
	static const struct {
		size_t	max;
		size_t	first, second;	/* two appends */
		int	r1, r2;
		size_t	len;
	} t[] = {
		{ 10, 5, 5, 0, 0, 10 },
		{ 10, 5, 6, 0, -1, 5 },
		{ 10, 11, 1, -1, 0, 1 },
		{ 0, 1, 0, -1, 0, 0 },
		{ 1000, 700, 300, 0, 0, 1000 },
		{ 1000, 700, 301, 0, -1, 700 },
	};
	unsigned char src[2000];
	size_t  i;

	memset(src, 'z', sizeof(src));
	for (i = 0; i < NELEM(t); i++) {
		struct buf b;

		buf_init(&b, t[i].max);
		EXPECT_INT(buf_append(&b, src, t[i].first), t[i].r1);
		EXPECT_INT(buf_append(&b, src, t[i].second), t[i].r2);
		EXPECT_INT(b.len, t[i].len);
		EXPECT_TRUE(b.cap <= t[i].max);
		buf_release(&b);
	}
}

static void test_buf_ops(void)
{
	struct buf b = BUF_INIT(16);
	unsigned char *p;
	int     i, st;

	EXPECT_INT(buf_printf(&b, "%s=%d", "ab", 12), 0);
	EXPECT_INT(b.len, 5);
	EXPECT_STR(buf_cstr(&b), "ab=12");
	EXPECT_INT(b.len, 5);
	EXPECT_INT(buf_room(&b), 11);
	/* Formatting that would pass the cap fails and changes nothing. */
	EXPECT_INT(buf_printf(&b, "%s", "123456789012"), -1);
	EXPECT_INT(b.len, 5);
	/* Exactly up to the cap works, but then there is no room for a NUL. */
	EXPECT_INT(buf_printf(&b, "%s", "12345678901"), 0);
	EXPECT_INT(b.len, 16);
	EXPECT_TRUE(buf_cstr(&b) == NULL);
	EXPECT_INT(buf_putc(&b, 'x'), -1);

	/* Consume from the front; appends reuse the room (compaction). */
	buf_consume(&b, 10);
	EXPECT_INT(b.len, 6);
	EXPECT_INT(memcmp(buf_data(&b), "678901", 6), 0);
	for (i = 0; i < 10; i++)
		EXPECT_INT(buf_putc(&b, 'a' + i), 0);
	EXPECT_INT(buf_putc(&b, 'z'), -1);
	EXPECT_INT(memcmp(buf_data(&b), "678901abcdefghij", 16), 0);
	EXPECT_TRUE(b.cap <= 16);

	buf_reset(&b);
	EXPECT_INT(b.len, 0);
	p = buf_reserve(&b, 4);
	EXPECT_TRUE(p != NULL);
	if (p) {
		memcpy(p, "wxyz", 3);
		buf_commit(&b, 3);
	}
	EXPECT_STR(buf_cstr(&b), "wxy");
	EXPECT_TRUE(buf_reserve(&b, 14) == NULL);
	EXPECT_TRUE(buf_reserve(&b, 13) != NULL);
	buf_release(&b);
	EXPECT_TRUE(b.data == NULL);

	st = child_status(panic_consume);
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

/*
 * strutil
 */

static void test_str_u64(void)
{
	static const struct {
		const char *s;
		uint64_t min, max;
		int	ret;
		uint64_t want;
	} t[] = {
		{ "0", 0, 10, 0, 0 },
		{ "10", 0, 10, 0, 10 },
		{ "11", 0, 10, -1, 0 },
		{ "4", 5, 10, -1, 0 },
		{ "007", 0, 10, 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, -1, 0 },
		{ "99999999999999999999999", 0, UINT64_MAX, -1, 0 },
		{ "", 0, 10, -1, 0 },
		{ "-1", 0, UINT64_MAX, -1, 0 },
		{ "+1", 0, 10, -1, 0 },
		{ " 1", 0, 10, -1, 0 },
		{ "1 ", 0, 10, -1, 0 },
		{ "0x10", 0, 100, -1, 0 },
		{ "1e3", 0, 10000, -1, 0 },
		{ "abc", 0, 10, -1, 0 },
	};
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		uint64_t v = 12345;

		EXPECT_INT(str_to_u64(t[i].s, t[i].min, t[i].max, &v), t[i].ret);
		if (t[i].ret == 0 && v != t[i].want)
			fprintf(stderr, "\nstr_to_u64(\"%s\"): got %" PRIu64
			    ", want %" PRIu64 "\n", t[i].s, v, t[i].want);
		if (t[i].ret == 0) {
			CU_ASSERT(v == t[i].want);
		} else {
			CU_ASSERT(v == 12345);	/* untouched on failure */
		}
	}
	EXPECT_INT(str_to_u64(NULL, 0, 1, NULL), -1);
}

static void test_str_size_duration(void)
{
	static const struct {
		const char *s;
		int	ret;
		uint64_t want;
	} sz[] = {
		{ "0", 0, 0 }, { "512", 0, 512 }, { "4k", 0, 4096 },
		{ "4K", 0, 4096 }, { "3M", 0, 3 << 20 },
		{ "2G", 0, (uint64_t) 2 << 30 },
		{ "17179869183G", 0, (uint64_t) 17179869183 << 30 },
		{ "17179869184G", -1, 0 },		/* 2^64: overflow */
		{ "", -1, 0 }, { "k", -1, 0 }, { "4KB", -1, 0 }, { "4T", -1, 0 },
		{ "-4k", -1, 0 }, { "4 k", -1, 0 },
	};
	static const struct {
		const char *s;
		int	ret;
		int64_t want;
	} du[] = {
		{ "250ms", 0, 250 }, { "5s", 0, 5000 }, { "10m", 0, 600000 },
		{ "4h", 0, 14400000 }, { "5d", 0, 432000000 }, { "7", 0, 7000 },
		{ "0", 0, 0 },
		{ "9223372036854775807ms", 0, INT64_MAX },
		{ "9223372036854775808ms", -1, 0 },
		{ "9223372036854776s", -1, 0 },		/* * 1000 overflows */
		{ "", -1, 0 }, { "s", -1, 0 }, { "5x", -1, 0 }, { "5 s", -1, 0 },
		{ "5sec", -1, 0 }, { "-5s", -1, 0 }, { "5M", -1, 0 },
	};
	size_t  i;

	for (i = 0; i < NELEM(sz); i++) {
		uint64_t v = 0;

		EXPECT_INT(str_to_size(sz[i].s, &v), sz[i].ret);
		if (sz[i].ret == 0 && v != sz[i].want)
			fprintf(stderr, "\nstr_to_size(\"%s\"): got %" PRIu64
			    ", want %" PRIu64 "\n", sz[i].s, v, sz[i].want);
		CU_ASSERT(sz[i].ret != 0 || v == sz[i].want);
	}
	for (i = 0; i < NELEM(du); i++) {
		int64_t v = 0;

		EXPECT_INT(str_to_duration_ms(du[i].s, &v), du[i].ret);
		if (du[i].ret == 0)
			EXPECT_INT(v, du[i].want);
	}
}

static void test_str_misc(void)
{
	static const struct {
		const char *in;
		const char *want;
	} esc[] = {
		{ "plain", "plain" },
		{ "", "\"\"" },
		{ "two words", "\"two words\"" },
		{ "a=b", "\"a=b\"" },
		{ "q\"uote", "\"q\\\"uote\"" },
		{ "back\\slash", "\"back\\\\slash\"" },
		{ "nl\nx\r\t", "\"nl\\nx\\r\\t\"" },
		{ "\x01\x7f\xff", "\"\\x01\\x7f\\xff\"" },
		{ "<user@host>", "<user@host>" },
	};
	static const struct {
		const char *a, *b;
		int	want;
	} ieq[] = {
		{ "abc", "ABC", 1 }, { "MiXeD", "mixed", 1 }, { "", "", 1 },
		{ "abc", "abcd", 0 }, { "abcd", "abc", 0 }, { "a", "b", 0 },
		{ "@", "`", 0 },		/* not letters: no case folding */
	};
	static const struct {
		const char *a, *b;
		unsigned max, want;
	} dist[] = {
		{ "spool", "spool", 3, 0 }, { "spol", "spool", 3, 1 }, { "SPOOL", "spool", 3, 0 },
		{ "nmae", "name", 3, 1 },		/* a swap is one step */
		{ "abc", "ca", 5, 3 },			/* not a swap of neighbours */
		{ "", "abc", 5, 3 }, { "abc", "", 5, 3 }, { "kitten", "sitting", 5, 3 },
		{ "max_leter_sise", "max_letter_size", 3, 2 },
		{ "foo", "user", 2, 3 },		/* past max: max + 1 */
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "x", 2, 3 },
	};
	char    out[64], small[6], t[32];
	size_t  i, n;

	for (i = 0; i < NELEM(esc); i++) {
		n = str_escape(out, sizeof(out), esc[i].in, strlen(esc[i].in));
		EXPECT_STR(out, esc[i].want);
		EXPECT_INT(n, strlen(esc[i].want));
	}
	/* Truncation: returns the length needed, like snprintf, and terminates. */
	n = str_escape(small, sizeof(small), "a b c d", 7);
	EXPECT_INT(n, 9);
	EXPECT_STR(small, "\"a b ");
	EXPECT_INT(str_escape(NULL, 0, "x\n", 2), 5);

	for (i = 0; i < NELEM(ieq); i++)
		EXPECT_INT(str_ieq(ieq[i].a, ieq[i].b), ieq[i].want);
	for (i = 0; i < NELEM(dist); i++) {
		EXPECT_INT(str_distance(dist[i].a, dist[i].b, dist[i].max), dist[i].want);
		EXPECT_INT(str_distance(dist[i].b, dist[i].a, dist[i].max), dist[i].want);
	}

	EXPECT_INT(str_copy(small, "hello world", sizeof(small)), 11);
	EXPECT_STR(small, "hello");
	EXPECT_INT(str_copy(small, "hi", sizeof(small)), 2);
	EXPECT_STR(small, "hi");

	str_copy(t, " \t hi there \r\n", sizeof(t));
	EXPECT_STR(str_trim(t), "hi there");
	str_copy(t, "   ", sizeof(t));
	EXPECT_STR(str_trim(t), "");

	EXPECT_STR(str_iso8601(0, t, sizeof(t)), "1970-01-01T00:00:00Z");
	EXPECT_STR(str_iso8601(1700000000, t, 21), "2023-11-14T22:13:20Z");
}

/*
 * sysio
 */

static void test_sysio(void)
{
	int     fd = open(tpath("sysio"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	static const struct {
		enum sysio_op op;
		unsigned long nth;
		int	err;
	} t[] = {
		{ SYSIO_WRITE, 1, EIO }, { SYSIO_WRITE, 3, ENOSPC },
		{ SYSIO_FSYNC, 2, EIO }, { SYSIO_OPEN, 1, EACCES },
	};
	size_t  i;
	unsigned long k;
	int     r;

	EXPECT_TRUE(fd >= 0);
	for (i = 0; i < NELEM(t); i++) {
		sysio_reset();
		sysio_fail(t[i].op, t[i].nth, t[i].err);
		for (k = 1; k <= t[i].nth + 1; k++) {
			errno = 0;
			switch (t[i].op) {
			case SYSIO_WRITE:
				r = (int) sys_write(fd, "x", 1);
				break;
			case SYSIO_FSYNC:
				r = k % 2 ? sys_fsync(fd) : sys_fdatasync(fd);
				break;
			default:
				r = sys_openat(AT_FDCWD, tpath("sysio"), O_RDONLY, 0);
				if (r >= 0)
					close(r);
				break;
			}
			if (k == t[i].nth) {
				EXPECT_INT(r, -1);
				EXPECT_INT(errno, t[i].err);
			} else {
				EXPECT_TRUE(r >= 0);
			}
		}
	}
	/* str_hexval: both cases, nothing else */
	EXPECT_INT(str_hexval('0'), 0);
	EXPECT_INT(str_hexval('9'), 9);
	EXPECT_INT(str_hexval('a'), 10);
	EXPECT_INT(str_hexval('F'), 15);
	EXPECT_INT(str_hexval('g'), -1);
	EXPECT_INT(str_hexval('/'), -1);
	EXPECT_INT(str_hexval(0), -1);
	/* Other kinds are not affected; nth 0 clears. */
	sysio_reset();
	sysio_fail(SYSIO_RENAME, 1, EIO);
	EXPECT_INT(sys_write(fd, "y", 1), 1);
	sysio_fail(SYSIO_RENAME, 0, 0);
	EXPECT_INT(sys_rename(tpath("sysio"), tpath("sysio2")), 0);
	sysio_fail(SYSIO_UNLINK, 1, EIO);
	EXPECT_INT(sys_unlink(tpath("sysio2")), -1);
	EXPECT_INT(sys_unlink(tpath("sysio2")), 0);
	sysio_reset();
	close(fd);
}

/* Child: NIFTPMAIL_FAULT="fsync:2:28,bogus,write:x" */
static int child_fault(void)
{
	int     fd = open("/dev/null", O_WRONLY);

	if (sys_fsync(fd) < 0 && errno != EINVAL)
		return 2;
	errno = 0;
	if (sys_fsync(fd) != -1 || errno != ENOSPC)
		return 3;
	if (sys_write(fd, "x", 1) != 1)
		return 4;
	return 0;
}

static void test_sysio_env(void)
{
	char    out[1024];
	int     st;

	st = run_self("--child-fault", "NIFTPMAIL_FAULT", "fsync:2:28,bogus,write:x",
	    out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_INT(WEXITSTATUS(st), 0);
	/* Both bad entries are reported. */
	EXPECT_TRUE(strstr(out, "'bogus'") != NULL);
	EXPECT_TRUE(strstr(out, "'write'") != NULL);
}

/*
 * durable
 */

static void test_durable_ok(void)
{
	char    err[DURABLE_ERRLEN] = "", *data;
	size_t  len = 0;

	EXPECT_INT(durable_write_file(tpath("ok"), "hello\n", 6, err, sizeof(err)), 0);
	EXPECT_STR(err, "");
	data = durable_read_file(tpath("ok"), 100, &len, err, sizeof(err));
	EXPECT_STR(data, "hello\n");
	EXPECT_INT(len, 6);
	free(data);
	/* Replacing is atomic too. */
	EXPECT_INT(durable_write_file(tpath("ok"), "", 0, err, sizeof(err)), 0);
	data = durable_read_file(tpath("ok"), 100, &len, err, sizeof(err));
	EXPECT_STR(data, "");
	EXPECT_INT(len, 0);
	free(data);
	EXPECT_INT(count_tmp(tdir), 0);

	/* Too big, missing. */
	EXPECT_INT(durable_write_file(tpath("big"), "0123456789", 10, err, sizeof(err)), 0);
	data = durable_read_file(tpath("big"), 9, &len, err, sizeof(err));
	EXPECT_TRUE(data == NULL);
	EXPECT_INT(errno, EFBIG);
	data = durable_read_file(tpath("big"), 10, &len, err, sizeof(err));
	EXPECT_INT(len, 10);
	free(data);
	data = durable_read_file(tpath("missing"), 10, &len, err, sizeof(err));
	EXPECT_TRUE(data == NULL);
	EXPECT_INT(errno, ENOENT);
	{
		char want[600];

		snprintf(want, sizeof(want), "open '%s': No such file or directory",
		    tpath("missing"));
		EXPECT_STR(err, want);
	}
}

static void test_durable_faults(void)
{
	static const struct {
		enum sysio_op op;
		unsigned long nth;
		int	err;
		const char *prefix;	/* err starts with it */
		const char *reason;	/* err ends with it */
		int	final;		/* final file exists after */
	} t[] = {
		{ SYSIO_FSYNC, 1, EIO, "fsync '", ": Input/output error", 0 },
		{ SYSIO_RENAME, 1, EIO, "rename '", ": Input/output error", 0 },
		{ SYSIO_RENAME, 1, EXDEV, "rename '", ": Invalid cross-device link", 0 },
		{ SYSIO_WRITE, 1, ENOSPC, "write '", ": No space left on device", 0 },
		{ SYSIO_OPEN, 1, EACCES, "create '", ": Permission denied", 0 },
		/* The directory fsync comes after the commit point. */
		{ SYSIO_FSYNC, 2, EIO, "fsync '", ": Input/output error", 1 },
		{ SYSIO_OPEN, 2, EIO, "open '", ": Input/output error", 1 },
	};
	char    err[DURABLE_ERRLEN], dir[512];
	size_t  i, el, rl;
	int     r;

	for (i = 0; i < NELEM(t); i++) {
		snprintf(dir, sizeof(dir), "%s/fault%zu", tdir, i);
		EXPECT_INT(mkdir_p(dir, 0700, err, sizeof(err)), 0);
		str_copy(err, "", sizeof(err));
		sysio_reset();
		sysio_fail(t[i].op, t[i].nth, t[i].err);
		{
			char final[600];

			snprintf(final, sizeof(final), "%s/letter", dir);
			r = durable_write_file(final, "data", 4, err, sizeof(err));
			EXPECT_INT(r, -1);
			EXPECT_INT(errno, t[i].err);
			EXPECT_INT(tl_exists(final), t[i].final);
		}
		sysio_reset();
		EXPECT_INT(count_tmp(dir), 0);
		el = strlen(err);
		rl = strlen(t[i].reason);
		if (strncmp(err, t[i].prefix, strlen(t[i].prefix)) != 0
		    || el < rl || strcmp(err + el - rl, t[i].reason) != 0)
			fprintf(stderr, "\ncase %zu: got \"%s\", want \"%s...%s\"\n",
			    i, err, t[i].prefix, t[i].reason);
		CU_ASSERT(strncmp(err, t[i].prefix, strlen(t[i].prefix)) == 0);
		CU_ASSERT(el >= rl && strcmp(err + el - rl, t[i].reason) == 0);
	}
}

static void test_durable_commit_explicit(void)
{
	char    err[DURABLE_ERRLEN], tmp[600], want[1400];
	int     fd;

	fd = durable_tmp_open(tdir, "pfx", tmp, sizeof(tmp), err, sizeof(err));
	EXPECT_TRUE(fd >= 0);
	{
		const char *base = strrchr(tmp, '/') + 1;

		EXPECT_TRUE(strncmp(base, ".tmp.pfx.", 9) == 0 && strlen(base) == 15);
	}
	EXPECT_INT(write_full(fd, "abc", 3), 0);
	sysio_fail(SYSIO_FSYNC, 1, EIO);
	EXPECT_INT(durable_commit(fd, tmp, tpath("explicit"), err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "fsync '%s': Input/output error", tmp);
	EXPECT_STR(err, want);
	EXPECT_INT(tl_exists(tmp), 0);
	EXPECT_INT(tl_exists(tpath("explicit")), 0);
	/* The fd was closed even on failure. */
	EXPECT_INT(fcntl(fd, F_GETFD), -1);
	sysio_reset();

	/* A temporary path that does not fit. */
	EXPECT_INT(durable_tmp_open(tdir, "pfx", tmp, 10, err, sizeof(err)), -1);
	EXPECT_INT(errno, ENAMETOOLONG);
	EXPECT_INT(count_tmp(tdir), 0);
}

static void test_durable_io(void)
{
	int     p[2];
	char    in[100000], out[100000];
	size_t  i;
	pid_t   pid;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char) (i * 7);
	EXPECT_INT(pipe(p), 0);
	/* A writer bigger than the pipe: short reads on our side. */
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(p[0]);
		_exit(write_full(p[1], in, sizeof(in)) == 0 ? 0 : 1);
	}
	close(p[1]);
	EXPECT_INT(read_full(p[0], out, sizeof(out)), sizeof(out));
	EXPECT_INT(read_full(p[0], out, 10), 0);	/* EOF */
	close(p[0]);
	waitpid(pid, NULL, 0);
	EXPECT_INT(memcmp(in, out, sizeof(in)), 0);

	{
		int fd = open(tpath("pw"), O_RDWR | O_CREAT | O_TRUNC, 0600);

		EXPECT_INT(pwrite_full(fd, "world", 5, 6), 0);
		EXPECT_INT(pwrite_full(fd, "hello ", 6, 0), 0);
		EXPECT_INT(pread(fd, out, 11, 0), 11);
		EXPECT_INT(memcmp(out, "hello world", 11), 0);
		sysio_fail(SYSIO_WRITE, 1, EIO);
		EXPECT_INT(pwrite_full(fd, "x", 1, 0), -1);
		sysio_reset();
		close(fd);
	}
}

static void test_mkdir_fsync_dir(void)
{
	char    err[DURABLE_ERRLEN], want[600];
	struct stat st;

	EXPECT_INT(mkdir_p(tpath("a/b//c/"), 0700, err, sizeof(err)), 0);
	EXPECT_TRUE(stat(tpath("a/b/c"), &st) == 0 && S_ISDIR(st.st_mode));
	EXPECT_INT(mkdir_p(tpath("a/b/c"), 0700, err, sizeof(err)), 0);
	EXPECT_INT(durable_write_file(tpath("a/file"), "x", 1, err, sizeof(err)), 0);
	EXPECT_INT(mkdir_p(tpath("a/file/sub"), 0700, err, sizeof(err)), -1);
	EXPECT_INT(errno, ENOTDIR);
	EXPECT_INT(mkdir_p(tpath("a/file"), 0700, err, sizeof(err)), -1);
	EXPECT_INT(errno, ENOTDIR);

	EXPECT_INT(fsync_dir(tpath("a/b"), err, sizeof(err)), 0);
	EXPECT_INT(fsync_dir(tpath("nodir"), err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "open '%s': No such file or directory",
	    tpath("nodir"));
	EXPECT_STR(err, want);
	sysio_fail(SYSIO_FSYNC, 1, EIO);
	EXPECT_INT(fsync_dir(tpath("a"), err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "fsync '%s': Input/output error", tpath("a"));
	EXPECT_STR(err, want);
	sysio_reset();
}

/*
 * crash
 */

static void test_crash_hook(void)
{
	static const struct {
		const char *name;
		int	want;
	} seq[] = {
		{ "h1", 0 }, { "h2", 1 }, { "h1", 0 }, { "other", 0 },
		{ "h1", 1 }, { "h1", 0 }, { "h2", 0 }, { "h1", 0 },
	};
	size_t  i;

	/* Read once, at the first crash_hook() of this process: here. */
	setenv("NIFTPMAIL_HOOK", "h1:3,h2,bad:x", 1);
	for (i = 0; i < NELEM(seq); i++) {
		int got = crash_hook(seq[i].name);

		if (got != seq[i].want)
			fprintf(stderr, "\ncall %zu crash_hook(%s): got %d, want %d\n",
			    i, seq[i].name, got, seq[i].want);
		CU_ASSERT(got == seq[i].want);
	}
	unsetenv("NIFTPMAIL_HOOK");
}

static int child_crash(void)
{
	crash_point("a");
	crash_point("b");
	crash_point("c");
	crash_point("b");		/* second "b": exits 99 */
	return 0;
}

static void test_crash_point(void)
{
	char    out[1024];
	int     st;

	st = run_self("--child-crash", "NIFTPMAIL_CRASH", "x,b:2", out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_INT(WEXITSTATUS(st), 99);
	EXPECT_STR(out, "crash point b\n");

	st = run_self("--child-crash", "NIFTPMAIL_CRASH", "b:3", out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_INT(WEXITSTATUS(st), 0);
	EXPECT_STR(out, "");
}

/*
 * loop
 */

struct trec {
	struct loop *loop;
	int	order[64];
	int	n;
	uint64_t ids[8];
};

struct tev {
	struct trec *r;
	int	tag;
};

static void on_timer(struct loop *loop, void *arg)
{
	struct tev *e = arg;

	(void) loop;
	e->r->order[e->r->n++] = e->tag;
	EXPECT_TRUE(pthread_equal(pthread_self(), main_thread));
}

/* run_until - run the loop until *count reaches want (bounded) */
static void run_until(struct loop *loop, const int *count, int want)
{
	int64_t deadline = loop_now_ms() + 5000;

	while (*count < want && loop_now_ms() < deadline)
		if (loop_run_once(loop, 100) < 0)
			break;
}

static void test_loop_timers_order(void)
{
	static const struct {
		int	ms;
		int	tag;
	} add[] = {
		{ 30, 4 }, { 10, 1 }, { 20, 3 }, { 10, 2 }, { 0, 0 }, { -5, 0 },
	};
	static const int want[] = { 0, 0, 1, 2, 3, 4 };
	struct loop *loop = loop_new();
	struct trec r = { 0 };
	struct tev ev[NELEM(add)];
	size_t  i;
	int64_t t0 = loop_now_ms();
	uint64_t id;

	/* Equal deadlines fire in the order added: tag 0 twice, 1 before 2. */
	for (i = 0; i < NELEM(add); i++) {
		ev[i].r = &r;
		ev[i].tag = add[i].tag;
		id = loop_timer_add(loop, add[i].ms, on_timer, &ev[i]);
		EXPECT_TRUE(id > 0);
	}
	run_until(loop, &r.n, (int) NELEM(want));
	EXPECT_INT(r.n, NELEM(want));
	for (i = 0; i < NELEM(want); i++)
		EXPECT_INT(r.order[i], want[i]);
	EXPECT_TRUE(loop_now_ms() - t0 >= 30);
	/* Nothing left: an idle pass runs no callback. */
	EXPECT_INT(loop_run_once(loop, 0), 0);
	loop_free(loop);
}

static void on_timer_del_other(struct loop *loop, void *arg)
{
	struct tev *e = arg;

	on_timer(loop, arg);
	loop_timer_del(loop, e->r->ids[1]);	/* the other one */
	loop_timer_del(loop, e->r->ids[0]);	/* itself: already fired, no-op */
}

static void on_timer_readd(struct loop *loop, void *arg)
{
	struct tev *e = arg;

	on_timer(loop, arg);
	if (e->r->n < 3)
		loop_timer_add(loop, 0, on_timer_readd, arg);
}

static void test_loop_timer_del(void)
{
	struct loop *loop = loop_new();
	struct trec r = { 0 };
	struct tev a = { &r, 1 }, b = { &r, 2 }, c = { &r, 3 };
	uint64_t old, fresh;
	int     n;

	r.ids[0] = loop_timer_add(loop, 0, on_timer_del_other, &a);
	r.ids[1] = loop_timer_add(loop, 0, on_timer, &b);
	r.ids[2] = loop_timer_add(loop, 1, on_timer, &c);
	run_until(loop, &r.n, 2);
	EXPECT_INT(r.n, 2);
	EXPECT_INT(r.order[0], 1);
	EXPECT_INT(r.order[1], 3);

	/* A stale id must not cancel the timer that reuses its slot. */
	old = r.ids[2];
	fresh = loop_timer_add(loop, 0, on_timer, &c);
	EXPECT_TRUE(fresh != old);
	loop_timer_del(loop, old);
	loop_timer_del(loop, 0);
	loop_timer_del(loop, 0xdeadbeef12345ULL);
	run_until(loop, &r.n, 3);
	EXPECT_INT(r.n, 3);

	/* Cancel before it fires. */
	fresh = loop_timer_add(loop, 0, on_timer, &c);
	loop_timer_del(loop, fresh);
	EXPECT_INT(loop_run_once(loop, 0), 0);
	EXPECT_INT(r.n, 3);

	/* A zero timer re-added from its own callback waits for the next pass. */
	r.n = 0;
	loop_timer_add(loop, 0, on_timer_readd, &a);
	n = loop_run_once(loop, 0);
	EXPECT_INT(n, 1);
	run_until(loop, &r.n, 3);
	EXPECT_INT(r.n, 3);
	loop_free(loop);
}

/* Many timers with deletions: the heap must keep its order. */
struct mt {
	int	ms;
	int	deleted;
	int	fired;		/* position in firing order, 0 = not */
	uint64_t id;
	int	*seq;
};

static void on_many(struct loop *loop, void *arg)
{
	struct mt *m = arg;

	(void) loop;
	m->fired = ++*m->seq;
}

static void test_loop_many_timers(void)
{
	enum { N = 600 };
	struct loop *loop = loop_new();
	static struct mt m[N];
	int     seq = 0, live = 0, i, j, bad = 0;
	unsigned rnd = 12345;

	for (i = 0; i < N; i++) {
		rnd = rnd * 1103515245 + 12345;
		m[i].ms = (int) ((rnd >> 16) % 40);
		m[i].seq = &seq;
		m[i].fired = m[i].deleted = 0;
		m[i].id = loop_timer_add(loop, m[i].ms, on_many, &m[i]);
	}
	for (i = 0; i < N; i += 3) {
		loop_timer_del(loop, m[i].id);
		m[i].deleted = 1;
	}
	for (i = 0; i < N; i++)
		live += !m[i].deleted;
	run_until(loop, &seq, live);
	EXPECT_INT(seq, live);
	for (i = 0; i < N; i++) {
		if (m[i].deleted != (m[i].fired == 0))
			bad++;
		/* Added earlier with a deadline not later: must fire first. */
		for (j = i + 1; j < N; j++)
			if (!m[i].deleted && !m[j].deleted && m[i].ms <= m[j].ms
			    && m[i].fired > m[j].fired)
				bad++;
	}
	EXPECT_INT(bad, 0);
	loop_free(loop);
}

struct fdrec {
	struct loop *loop;
	int	calls;
	int	mask;
	int	other_fd;	/* deleted and closed by the first callback */
	int	pa[2], pb[2];
	int	replaced_calls;
	int	reused;		/* the new pipe got the deleted fd's number */
	char	got;
};

static void on_replaced(struct loop *loop, int fd, int mask, void *arg)
{
	struct fdrec *r = arg;

	(void) loop; (void) fd; (void) mask;
	r->replaced_calls++;
}

static void on_read(struct loop *loop, int fd, int mask, void *arg)
{
	struct fdrec *r = arg;

	(void) loop;
	r->calls++;
	r->mask = mask;
	if (read(fd, &r->got, 1) != 1)
		r->got = '?';
}

static void on_read_kill_other(struct loop *loop, int fd, int mask, void *arg)
{
	struct fdrec *r = arg;
	int     other = fd == r->pa[0] ? r->pb[0] : r->pa[0];
	int     np[2];

	on_read(loop, fd, mask, arg);
	if (r->calls > 1)
		return;
	/*
	 * Delete and close the other fd, whose event may already be in this
	 * batch, then make a new pipe that reuses its number and register it.
	 */
	loop_fd_del(loop, other);
	close(other);
	if (pipe(np) == 0) {
		r->other_fd = np[0];
		r->reused = np[0] == other;
		loop_fd_set(loop, np[0], LOOP_READ, on_replaced, r);
		close(np[1]);	/* EOF: readable from now on */
	}
}

static void test_loop_fd(void)
{
	struct loop *loop = loop_new();
	struct fdrec r = { 0 };
	int     p[2], n;

	EXPECT_INT(pipe(p), 0);
	EXPECT_INT(loop_fd_set(loop, p[0], LOOP_READ, on_read, &r), 0);
	EXPECT_INT(loop_run_once(loop, 0), 0);		/* nothing to read */
	EXPECT_INT(write(p[1], "x", 1), 1);
	EXPECT_INT(loop_run_once(loop, 1000), 1);
	EXPECT_INT(r.calls, 1);
	EXPECT_INT(r.mask, LOOP_READ);
	EXPECT_INT(r.got, 'x');

	/* Mask 0 keeps the registration but reports nothing. */
	EXPECT_INT(write(p[1], "y", 1), 1);
	EXPECT_INT(loop_fd_mask(loop, p[0], 0), 0);
	EXPECT_INT(loop_run_once(loop, 0), 0);
	EXPECT_INT(loop_fd_mask(loop, p[0], LOOP_READ), 0);
	EXPECT_INT(loop_run_once(loop, 0), 1);
	EXPECT_INT(r.got, 'y');

	/* Write side: a pipe is writable at once. */
	EXPECT_INT(loop_fd_set(loop, p[1], LOOP_WRITE, on_replaced, &r), 0);
	EXPECT_INT(loop_run_once(loop, 0), 1);
	EXPECT_INT(r.replaced_calls, 1);
	loop_fd_del(loop, p[1]);
	loop_fd_del(loop, p[1]);			/* twice: no-op */
	loop_fd_del(loop, 12345);			/* unknown: no-op */
	EXPECT_INT(loop_fd_mask(loop, p[1], LOOP_READ), -1);
	EXPECT_INT(loop_fd_set(loop, -1, LOOP_READ, on_read, &r), -1);
	EXPECT_INT(loop_run_once(loop, 0), 0);
	loop_fd_del(loop, p[0]);
	close(p[0]);
	close(p[1]);

	/* Two ready fds; the first callback deletes the other. */
	memset(&r, 0, sizeof(r));
	EXPECT_INT(pipe(r.pa), 0);
	EXPECT_INT(pipe(r.pb), 0);
	loop_fd_set(loop, r.pa[0], LOOP_READ, on_read_kill_other, &r);
	loop_fd_set(loop, r.pb[0], LOOP_READ, on_read_kill_other, &r);
	EXPECT_INT(write(r.pa[1], "a", 1), 1);
	EXPECT_INT(write(r.pb[1], "b", 1), 1);
	n = loop_run_once(loop, 1000);
	EXPECT_INT(n, 1);
	EXPECT_INT(r.calls, 1);
	EXPECT_INT(r.reused, 1);
	EXPECT_INT(r.replaced_calls, 0);	/* the stale event was dropped */
	/* The new registration gets its own events from the next pass. */
	EXPECT_INT(loop_run_once(loop, 1000), 1);
	EXPECT_INT(r.replaced_calls, 1);
	{
		int killed_write = r.got == 'a' ? r.pb[1] : r.pa[1];
		int kept = r.got == 'a' ? r.pa[0] : r.pb[0];
		int kept_write = r.got == 'a' ? r.pa[1] : r.pb[1];

		loop_fd_del(loop, kept);
		loop_fd_del(loop, r.other_fd);
		close(kept);
		close(kept_write);
		close(killed_write);
		close(r.other_fd);
	}
	loop_free(loop);
}

/* A callback that frees its own arg after deleting its events. */
struct selfdel {
	int	p[2];
	uint64_t timer;
	int	*count;
};

static void on_selfdel(struct loop *loop, int fd, int mask, void *arg)
{
	struct selfdel *s = arg;

	(void) fd; (void) mask;
	++*s->count;
	loop_fd_del(loop, s->p[0]);
	loop_timer_del(loop, s->timer);
	close(s->p[0]);
	close(s->p[1]);
	free(s);
}

static void on_never(struct loop *loop, void *arg)
{
	(void) loop; (void) arg;
	CU_FAIL("cancelled timer fired");
}

static void test_loop_selfdel(void)
{
	struct loop *loop = loop_new();
	int     count = 0, i;

	for (i = 0; i < 20; i++) {
		struct selfdel *s = xmalloc(sizeof(*s));

		if (pipe(s->p) < 0)
			break;
		s->count = &count;
		s->timer = loop_timer_add(loop, 0, on_never, s);
		loop_fd_set(loop, s->p[0], LOOP_READ | LOOP_WRITE, on_selfdel, s);
		EXPECT_INT(write(s->p[1], "z", 1), 1);
	}
	/* Descriptors are dispatched before timers in the same pass. */
	EXPECT_INT(loop_run_once(loop, 1000), 20);
	EXPECT_INT(count, 20);
	EXPECT_INT(loop_run_once(loop, 0), 0);
	loop_free(loop);
}

/* loop_post from another thread. */
struct postrec {
	struct loop *loop;
	int	seen[200];
	int	n;
	int	wrong_thread;
	int	out_of_order;
};

struct postitem {
	struct postrec *r;
	int	i;
};

static void on_post(void *arg)
{
	struct postitem *it = arg;
	struct postrec *r = it->r;

	if (!pthread_equal(pthread_self(), main_thread))
		r->wrong_thread++;
	if (r->n != it->i)
		r->out_of_order++;
	r->seen[r->n++] = it->i;
	if (r->n == 200)
		loop_stop(r->loop);
}

static void *poster(void *arg)
{
	struct postitem *items = arg;
	int     i;

	for (i = 0; i < 200; i++)
		loop_post(items[i].r->loop, on_post, &items[i]);
	return NULL;
}

static void test_loop_post(void)
{
	struct loop *loop = loop_new();
	struct postrec r = { 0 };
	struct postitem items[200];
	pthread_t th;
	int     i;

	r.loop = loop;
	for (i = 0; i < 200; i++) {
		items[i].r = &r;
		items[i].i = i;
	}
	EXPECT_INT(pthread_create(&th, NULL, poster, items), 0);
	EXPECT_INT(loop_run(loop), 0);		/* returns after the 200th */
	pthread_join(th, NULL);
	EXPECT_INT(r.n, 200);
	EXPECT_INT(r.wrong_thread, 0);
	EXPECT_INT(r.out_of_order, 0);
	loop_free(loop);
}

/* loop_stop stops after the current callback; the rest stays queued. */
static void on_timer_stop(struct loop *loop, void *arg)
{
	on_timer(loop, arg);
	loop_stop(loop);
}

static void test_loop_stop(void)
{
	struct loop *loop = loop_new();
	struct trec r = { 0 };
	struct tev a = { &r, 1 }, b = { &r, 2 };

	loop_timer_add(loop, 0, on_timer_stop, &a);
	loop_timer_add(loop, 0, on_timer, &b);
	EXPECT_INT(loop_run(loop), 0);
	EXPECT_INT(r.n, 1);
	run_until(loop, &r.n, 2);
	EXPECT_INT(r.n, 2);
	EXPECT_INT(r.order[1], 2);
	/* A wait with nothing registered just times out. */
	EXPECT_INT(loop_run_once(loop, 1), 0);
	loop_free(loop);
}

/*
 * workq
 */

struct wrec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int	gate;		/* work blocks until set */
	int	worked;
	int	done;
	int	done_wrong_thread;
	int	work_on_main;
	struct loop *loop;
};

static void w_work(void *arg)
{
	struct wrec *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->gate)
		pthread_cond_wait(&r->cond, &r->lock);
	if (pthread_equal(pthread_self(), main_thread))
		r->work_on_main++;
	r->worked++;
	pthread_mutex_unlock(&r->lock);
}

static void w_done(void *arg)
{
	struct wrec *r = arg;

	if (!pthread_equal(pthread_self(), main_thread))
		r->done_wrong_thread++;
	r->done++;
}

static void test_workq(void)
{
	enum { N = 40 };
	struct loop *loop = loop_new();
	struct workq *wq = workq_new(loop, 4);
	struct wrec r = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    0, 0, 0, 0, 0, loop };
	int     i;

	for (i = 0; i < N; i++)
		workq_submit(wq, w_work, i % 5 ? w_done : NULL, &r);
	/* Nothing can finish while the gate is shut. */
	EXPECT_INT(workq_pending(wq), N);
	EXPECT_INT(loop_run_once(loop, 0), 0);
	pthread_mutex_lock(&r.lock);
	r.gate = 1;
	pthread_cond_broadcast(&r.cond);
	pthread_mutex_unlock(&r.lock);
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (workq_pending(wq) > 0 && loop_now_ms() < deadline)
			loop_run_once(loop, 100);
	}
	EXPECT_INT(workq_pending(wq), 0);
	EXPECT_INT(r.worked, N);
	EXPECT_INT(r.done, N - N / 5);
	EXPECT_INT(r.done_wrong_thread, 0);
	EXPECT_INT(r.work_on_main, 0);
	workq_free(wq);
	loop_free(loop);
}

static void test_workq_free_pending(void)
{
	enum { N = 10 };
	struct loop *loop = loop_new();
	struct workq *wq = workq_new(loop, 2);
	struct wrec r = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    1, 0, 0, 0, 0, loop };
	int     i;

	for (i = 0; i < N; i++)
		workq_submit(wq, w_work, w_done, &r);
	/* Waits for all work; completions already posted must not run done(). */
	workq_free(wq);
	EXPECT_INT(r.worked, N);
	while (loop_run_once(loop, 0) > 0)
		;
	EXPECT_INT(r.done, 0);
	loop_free(loop);
}

/*
 * main
 */

int main(int argc, char **argv)
{
	static const struct tl_test tests[] = {
		{ "alloc", "wrappers and overflow panic", test_alloc },
		{ "log", "format, escaping, file", test_log },
		{ "buf", "cap table", test_buf_cap },
		{ "buf", "printf, cstr, consume, reserve", test_buf_ops },
		{ "strutil", "str_to_u64", test_str_u64 },
		{ "strutil", "size and duration", test_str_size_duration },
		{ "strutil", "escape, ieq, copy, trim, iso8601", test_str_misc },
		{ "sysio", "nth call fails", test_sysio },
		{ "sysio", "NIFTPMAIL_FAULT", test_sysio_env },
		{ "durable", "write and read", test_durable_ok },
		{ "durable", "injected faults leave no file", test_durable_faults },
		{ "durable", "tmp_open and commit", test_durable_commit_explicit },
		{ "durable", "full reads and writes", test_durable_io },
		{ "durable", "mkdir_p and fsync_dir", test_mkdir_fsync_dir },
		{ "crash", "crash_hook counting", test_crash_hook },
		{ "crash", "crash_point exits 99", test_crash_point },
		{ "loop", "timer order", test_loop_timers_order },
		{ "loop", "timer delete", test_loop_timer_del },
		{ "loop", "many timers", test_loop_many_timers },
		{ "loop", "fd events", test_loop_fd },
		{ "loop", "callbacks free themselves", test_loop_selfdel },
		{ "loop", "post from a thread", test_loop_post },
		{ "loop", "stop", test_loop_stop },
		{ "workq", "done on the loop thread", test_workq },
		{ "workq", "free with completions posted", test_workq_free_pending },
	};
	int     rc;

	self_exe = argv[0];
	if (argc > 1 && strcmp(argv[1], "--child-fault") == 0)
		return child_fault();
	if (argc > 1 && strcmp(argv[1], "--child-crash") == 0)
		return child_crash();

	main_thread = pthread_self();
	if (tl_tmpdir(tdir, sizeof(tdir), "test_util") < 0)
		return 1;
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	tl_rmtree(tdir);
	return rc;
}
