/*++
 * NAME
 *	tl_test 3h
 * SUMMARY
 *	what every CUnit test binary shares: assertions, scratch
 *	directories, small file helpers, the run of a test table
 * SYNOPSIS
 *	#include "tests/unit/tl_test.h"
 * DESCRIPTION
 *	The EXPECT_* macros are "got X, want Y" assertions: on failure
 *	they print the file, line, expression and both values to stderr,
 *	then count exactly one CUnit assertion (CU_ASSERT), pass or fail,
 *	so per-binary assert counts stay comparable between runs.
 *
 *	tl_run() registers a table of tests, one CUnit suite per run of
 *	equal suite names, runs it verbosely and turns the outcome into an
 *	exit status. Each test file keeps its own main() for what is
 *	specific to it (child modes selected by argv, logging, scratch
 *	directory) and ends with tl_run().
 *
 *	Everything here is for tests only: the file helpers use stdio and
 *	are not durable.
 *--*/
#ifndef TESTS_UNIT_TL_TEST_H
#define TESTS_UNIT_TL_TEST_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* EXPECT_INT - integers compared as long long */
#define EXPECT_INT(got, want) do { \
	long long g_ = (long long) (got), w_ = (long long) (want); \
	if (g_ != w_) \
		fprintf(stderr, "\n%s:%d: %s: got %lld, want %lld\n", \
		    __FILE__, __LINE__, #got, g_, w_); \
	CU_ASSERT(g_ == w_); \
} while (0)

/* EXPECT_STR - strings equal; NULL equals only NULL */
#define EXPECT_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	int ok_ = (g_ == NULL || w_ == NULL) ? g_ == w_ : strcmp(g_, w_) == 0; \
	if (!ok_) \
		fprintf(stderr, "\n%s:%d: %s: got \"%s\", want \"%s\"\n", \
		    __FILE__, __LINE__, #got, g_ ? g_ : "(null)", \
		    w_ ? w_ : "(null)"); \
	CU_ASSERT(ok_); \
} while (0)

/* EXPECT_HAS - got is not NULL and contains the string want */
#define EXPECT_HAS(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	int ok_ = g_ != NULL && strstr(g_, w_) != NULL; \
	if (!ok_) \
		fprintf(stderr, "\n%s:%d: %s: got \"%s\", want it to contain \"%s\"\n", \
		    __FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_); \
	CU_ASSERT(ok_); \
} while (0)

/* EXPECT_TRUE - a condition; cond is evaluated twice, so no side effects */
#define EXPECT_TRUE(cond) do { \
	if (!(cond)) \
		fprintf(stderr, "\n%s:%d: got false, want %s\n", \
		    __FILE__, __LINE__, #cond); \
	CU_ASSERT(cond); \
} while (0)

/* EXPECT_BYTES - exact octets; the first difference is printed */
#define EXPECT_BYTES(got, glen, want, wlen) \
	CU_ASSERT(tl_same_bytes(#got, (got), (glen), (want), (wlen)))

/* tl_same_bytes - 1 when got[0..glen) equals want[0..wlen); otherwise
 * print, labelled with what, both lengths, the first difference and the
 * first 40 octets of each to stderr, and return 0. Asserts nothing. */
int	tl_same_bytes(const char *what, const void *got, size_t glen,
	const void *want, size_t wlen);

/* One test of a table given to tl_run(). */
struct tl_test {
	const char *suite;		/* a new suite starts where this changes */
	const char *name;
	CU_TestFunc fn;
};

/* tl_run - register the n tests, every suite with the init and clean
 * hooks (either may be NULL), run them in verbose mode and clean up the
 * registry. Returns the exit status: 0 when every suite set up and
 * cleaned up and every assertion passed, 1 otherwise (also when CUnit
 * cannot register the tests). */
int	tl_run(const struct tl_test *tests, size_t n, CU_InitializeFunc init,
	CU_CleanupFunc clean);

/* tl_tmpdir - make a new directory $TMPDIR/NAME.XXXXXX ($TMPDIR unset or
 * empty: /tmp) and put its path in buf. 0, or -1 with a message on
 * stderr (also when the path does not fit in len). */
int	tl_tmpdir(char *buf, size_t len, const char *name);

/* tl_rmtree - remove path and, when it is a directory, everything below
 * it; links are removed, not followed. 0, or -1 with a message on stderr. */
int	tl_rmtree(const char *path);

/* tl_exists - 1 when path names something (a dangling link counts) */
int	tl_exists(const char *path);

/* tl_read_file - the whole file in new memory (free()), NUL-terminated;
 * its length in *lenp unless lenp is NULL. NULL when it cannot be opened;
 * a read error gives an empty string. */
char   *tl_read_file(const char *path, size_t *lenp);

/* tl_write_file - create or truncate path holding exactly text; 0, or -1
 * with a message on stderr. Not durable: for test fixtures only. */
int	tl_write_file(const char *path, const char *text);

/* tl_file_is - 1 when path exists and holds exactly text */
int	tl_file_is(const char *path, const char *text);

#endif
