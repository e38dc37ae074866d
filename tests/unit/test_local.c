/*++
 * NAME
 *	test_local 1
 * SUMMARY
 *	CUnit tests of mailchannel/ch_local: idempotent Maildir delivery
 * SYNOPSIS
 *	build/tests/test_local
 * DESCRIPTION
 *	A known user gets a Maildir created and one file in new/ holding
 *	the message from the header offset on; a second delivery of the
 *	same letter (as after a crash before the journal line) finds it,
 *	also once a reader moved it to cur/ with flags; an unknown user
 *	with no Maildir fails permanently; an existing Maildir makes a
 *	user known.
 *--*/
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/ch_local.h"
#include "tests/unit/tl_test.h"
#include "util/durable.h"

static char dir[256];

static int letter_fd(void)
{
	static const char text[] = "a@b\n\nFrom: x@y\n\nbody\n";
	char    path[PATH_MAX + 16];
	int     fd;

	snprintf(path, sizeof(path), "%s/letter", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write_full(fd, text, sizeof(text) - 1) == 0);
	return fd;
}

static void test_deliver_twice(void)
{
	char    md[PATH_MAX], path[PATH_MAX], err[CH_LOCAL_ERRLEN], cur[PATH_MAX * 2];
	char   *got;
	size_t  len;
	int     fd = letter_fd();

	snprintf(md, sizeof(md), "%s/mail/bennett/", dir);
	CU_ASSERT_EQUAL(ch_local_deliver(md, 1, "ucl.1.000001", fd, 5, path, sizeof(path),
	    err, sizeof(err)), CH_LOCAL_OK);
	got = durable_read_file(path, 1024, &len, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got, "From: x@y\n\nbody\n");
	free(got);
	CU_ASSERT_EQUAL(ch_local_deliver(md, 1, "ucl.1.000001", fd, 5, path, sizeof(path),
	    err, sizeof(err)), CH_LOCAL_ALREADY);
	snprintf(cur, sizeof(cur), "%s/mail/bennett/cur/ucl.1.000001:2,S", dir);
	CU_ASSERT(rename(path, cur) == 0);
	CU_ASSERT_EQUAL(ch_local_deliver(md, 1, "ucl.1.000001", fd, 5, path, sizeof(path),
	    err, sizeof(err)), CH_LOCAL_ALREADY);
	CU_ASSERT_STRING_EQUAL(path, cur);
	close(fd);
}

static void test_unknown(void)
{
	char    md[PATH_MAX], path[PATH_MAX], err[CH_LOCAL_ERRLEN];
	int     fd = letter_fd();

	snprintf(md, sizeof(md), "%s/mail/nobody/", dir);
	CU_ASSERT_EQUAL(ch_local_deliver(md, 0, "ucl.1.000002", fd, 5, path, sizeof(path),
	    err, sizeof(err)), CH_LOCAL_PERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown user"));
	CU_ASSERT(mkdir_p(md, 0700, NULL, 0) == 0);
	CU_ASSERT_EQUAL(ch_local_deliver(md, 0, "ucl.1.000002", fd, 5, path, sizeof(path),
	    err, sizeof(err)), CH_LOCAL_OK);
	CU_ASSERT_EQUAL(ch_local_deliver("relative/x", 1, "ucl.1.000003", fd, 5, path,
	    sizeof(path), err, sizeof(err)), CH_LOCAL_PERM);
	close(fd);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "ch_local", "deliver twice", test_deliver_twice },
		{ "ch_local", "unknown user", test_unknown },
	};
	int     rc;

	if (tl_tmpdir(dir, sizeof(dir), "test_local") < 0)
		return 1;
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	/* a failed run keeps its maildirs for a look */
	if (rc == 0 && tl_rmtree(dir) < 0)
		return 1;
	return rc;
}
