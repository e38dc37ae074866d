/*++
 * NAME
 *	tl_test 3
 * SUMMARY
 *	shared helpers of the CUnit test binaries
 * SYNOPSIS
 *	#include "tests/unit/tl_test.h"
 * DESCRIPTION
 *	See tl_test.h. Linked into every unit-test binary (the Makefile
 *	links all tests/unit/tl_*.c).
 *--*/
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "tests/unit/tl_test.h"
#include "util/alloc.h"

/* tl_same_bytes - compare octets, describing the first difference */
int     tl_same_bytes(const char *what, const void *got, size_t glen,
	const void *want, size_t wlen)
{
	const unsigned char *g = got, *w = want;
	size_t  i;

	for (i = 0; i < glen && i < wlen && g[i] == w[i]; i++)
		;
	if (i == glen && i == wlen)
		return 1;
	fprintf(stderr, "\n%s: got %zu octets, want %zu; first difference at %zu",
	    what, glen, wlen, i);
	if (i < glen && i < wlen)
		fprintf(stderr, ": got 0x%02x, want 0x%02x", g[i], w[i]);
	fprintf(stderr, "\n  got: ");
	for (i = 0; i < glen && i < 40; i++)
		fprintf(stderr, " %02x", g[i]);
	fprintf(stderr, "\n  want:");
	for (i = 0; i < wlen && i < 40; i++)
		fprintf(stderr, " %02x", w[i]);
	fprintf(stderr, "\n");
	return 0;
}

/* tl_run - register, run, summarise */
int     tl_run(const struct tl_test *tests, size_t n, CU_InitializeFunc init,
	CU_CleanupFunc clean)
{
	CU_pSuite suite = NULL;
	const char *last = NULL;
	unsigned fails;
	size_t  i;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "CU_initialize_registry: %s\n", CU_get_error_msg());
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (last == NULL || strcmp(tests[i].suite, last) != 0) {
			suite = CU_add_suite(tests[i].suite, init, clean);
			last = tests[i].suite;
		}
		if (suite == NULL || CU_add_test(suite, tests[i].name, tests[i].fn) == NULL) {
			fprintf(stderr, "register '%s' in suite '%s': %s\n",
			    tests[i].name, tests[i].suite, CU_get_error_msg());
			CU_cleanup_registry();
			return 1;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();

	/*
	 * A suite whose init fails runs none of its tests, so it adds no
	 * failed assertion: count it, or a broken fixture would pass.
	 */
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed()
	    + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}

/* tl_tmpdir - a fresh scratch directory under $TMPDIR */
int     tl_tmpdir(char *buf, size_t len, const char *name)
{
	const char *parent = getenv("TMPDIR");
	int     n;

	if (parent == NULL || *parent == '\0')
		parent = "/tmp";
	n = snprintf(buf, len, "%s/%s.XXXXXX", parent, name);
	if (n < 0 || (size_t) n >= len) {
		fprintf(stderr, "tl_tmpdir: '%s/%s.XXXXXX': path too long\n", parent, name);
		return -1;
	}
	if (mkdtemp(buf) == NULL) {
		fprintf(stderr, "tl_tmpdir: mkdtemp '%s': %s\n", buf, strerror(errno));
		return -1;
	}
	return 0;
}

/* rm_entry - nftw callback of tl_rmtree: children come before parents */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) flag;
	(void) f;
	if (remove(path) < 0) {
		fprintf(stderr, "tl_rmtree: remove '%s': %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* tl_rmtree - rm -rf without a shell */
int     tl_rmtree(const char *path)
{
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* tl_exists - lstat succeeds */
int     tl_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* tl_read_file - slurp */
char   *tl_read_file(const char *path, size_t *lenp)
{
	FILE   *fp = fopen(path, "rb");
	char   *s;
	long    n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	if (n < 0)
		n = 0;
	s = xmalloc((size_t) n + 1);
	if (fread(s, 1, (size_t) n, fp) != (size_t) n)
		n = 0;
	s[n] = '\0';
	fclose(fp);
	if (lenp)
		*lenp = (size_t) n;
	return s;
}

/* tl_write_file - fixture writer */
int     tl_write_file(const char *path, const char *text)
{
	FILE   *fp = fopen(path, "wb");
	size_t  len = strlen(text);
	int     ok;

	if (fp == NULL) {
		fprintf(stderr, "tl_write_file: open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	ok = fwrite(text, 1, len, fp) == len;
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok) {
		fprintf(stderr, "tl_write_file: write '%s': %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* tl_file_is - exact content check */
int     tl_file_is(const char *path, const char *text)
{
	char   *s = tl_read_file(path, NULL);
	int     ok = s && strcmp(s, text) == 0;

	free(s);
	return ok;
}
