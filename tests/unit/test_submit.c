/*++
 * NAME
 *	test_submit 1
 * SUMMARY
 *	unit tests of relay/submit.c: when a slow submission is dropped
 * SYNOPSIS
 *	build/tests/test_submit
 * DESCRIPTION
 *	submit_overdue() for a table of submissions: quick ones, one at the
 *	deadline, slow ones before and after the grace time, a slow one
 *	whose pipe has ended (waiting for its "end": the idle rule's), and
 *	the reasons it gives.
 *--*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "relay/relayd.h"
#include "relay/submit.h"
#include "tests/unit/tl_test.h"

static void test_overdue(void)
{
	static const struct {
		uint64_t size;
		int64_t	ran_ms;
		int	reading;
		int	want;
		const char *why;
	} t[] = {
		{ 0, 0, 1, 0, NULL },
		{ 100, 59999, 1, 0, NULL },			/* slow, but in its grace */
		{ 60 * SUBMIT_RATE_MIN, 60000, 1, 0, NULL },	/* exactly the rate */
		{ 60 * SUBMIT_RATE_MIN - 1, 60000, 1, 1, "too slow: 61439 octets in 60 s" },
		{ 1000, 61000, 1, 1, "less than 1024 a second on average" },
		{ 1000, 61000, 0, 0, NULL },			/* the pipe ended: not reading */
		{ UINT64_C(1) << 30, SUBMIT_DEADLINE_MS - 1, 1, 0, NULL },
		{ UINT64_C(1) << 30, SUBMIT_DEADLINE_MS, 1, 1, "not sent whole within 600 s" },
		{ 10, SUBMIT_DEADLINE_MS, 0, 1, "(10 octets): dropped" },
	};
	char    why[RELAYD_ERRLEN];
	size_t  i;

	for (i = 0; i < NELEM(t); i++) {
		why[0] = '\0';
		EXPECT_INT(submit_overdue(t[i].size, t[i].ran_ms, t[i].reading, why, sizeof(why)),
		    t[i].want);
		if (t[i].why != NULL)
			EXPECT_HAS(why, t[i].why);
	}
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "submit", "submit_overdue: the deadline and the rate", test_overdue },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
