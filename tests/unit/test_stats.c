/*++
 * NAME
 *	test_stats 1
 * SUMMARY
 *	CUnit tests of relay/relayd_stats: the journal counters and the
 *	JSON and Prometheus renderings
 * SYNOPSIS
 *	build/tests/test_stats
 * DESCRIPTION
 *	A spool directory made by hand (queue/, in/, hold/, a journal of
 *	lines written here): a tail told to count counts the received,
 *	forwarded, delivered, failed and deferred lines written after that
 *	(not those before, which the first scan still reads for the rates);
 *	a rotation after a scan (journal renamed journal.1, a line added to
 *	it, a new journal) loses none of the lines; the totals never go
 *	down; a tail not counting shows no counter. stats_prom() writes
 *	each counter with "# TYPE ... counter" and a _total name;
 *	stats_json() writes the documented fields (doc/mailctl.1, JSON
 *	OUTPUT), counters null without a count.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "relay/relayd_stats.h"
#include "tests/unit/tl_test.h"
#include "util/buf.h"
#include "util/strutil.h"

static char spool[512];

/* jpath - SPOOL/NAME */
static const char *jpath(const char *name)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/%s", spool, name);
	return p;
}

/* jadd - append n lines "TIME EVENT NAME KV" to SPOOL/file */
static void jadd(const char *file, const char *event, const char *kv, int n, time_t t)
{
	char    ts[32];
	FILE   *fp = fopen(jpath(file), "a");
	int     i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	str_iso8601(t, ts, sizeof(ts));
	for (i = 0; i < n; i++)
		fprintf(fp, "%s %s ucl.1 %s\n", ts, event, kv);
	fclose(fp);
}

/* scan - a scan of the spool with tail t; the snapshot (freed by caller) */
static struct stats_snap *scan(struct stats_tail *t, time_t now)
{
	char    err[512];
	struct stats_snap *s = stats_scan(spool, t, now, err, sizeof(err));

	if (s == NULL)
		fprintf(stderr, "\nstats_scan: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

static void test_counters(void)
{
	time_t  now = time(NULL);
	struct stats_tail *t = stats_tail_new();
	struct stats_snap *s;
	struct buf b = BUF_INIT(1024 * 1024);

	/* before the count: read for the rates, not counted */
	jadd("journal", "received", "from=submit size=10", 2, now);
	stats_tail_count(t, spool, now);
	jadd("journal", "received", "from=submit size=10", 3, now);
	jadd("journal", "forwarded", "to=pss addr=- remote=pss.1 rcpts=a@pss", 1, now);
	jadd("journal", "delivered", "rcpt=b@ucl mailbox=/m", 2, now);
	jadd("journal", "failed", "rcpt=c@ucl reason=x to=local", 1, now);
	jadd("journal", "deferred", "to=pss reason=down next=x attempts=1", 4, now);
	jadd("journal", "routed", "rcpts=a@pss hops=pss", 1, now);
	s = scan(t, now);
	EXPECT_INT(s->counting, 1);
	EXPECT_INT(s->total[0], 3);	/* received */
	EXPECT_INT(s->total[1], 1);	/* forwarded */
	EXPECT_INT(s->total[2], 2);	/* delivered */
	EXPECT_INT(s->total[3], 1);	/* failed */
	EXPECT_INT(s->total[4], 4);	/* deferred */
	EXPECT_INT(s->received, 5);	/* the rate sees all five of the window */
	stats_prom(s, "ucl", &b);
	EXPECT_HAS(buf_cstr(&b), "# TYPE niftpmail_received_total counter\n"
	    "niftpmail_received_total 3\n");
	EXPECT_HAS(buf_cstr(&b), "# TYPE niftpmail_deferred_total counter\n"
	    "niftpmail_deferred_total 4\n");
	EXPECT_HAS(buf_cstr(&b), "# TYPE niftpmail_queued gauge\n");
	EXPECT_HAS(buf_cstr(&b), "niftpmail_counters_start_time_seconds ");
	stats_snap_free(s);

	/* a rotation after that scan: the old journal's last line (written
	 * before the rename, read after it) counts, and the new one's */
	jadd("journal", "received", "from=submit size=10", 1, now);
	{
		char    from[600];

		snprintf(from, sizeof(from), "%s", jpath("journal"));
		CU_ASSERT_FATAL(rename(from, jpath("journal.1")) == 0);
	}
	jadd("journal.1", "delivered", "rcpt=b@ucl mailbox=/m", 1, now);
	jadd("journal", "received", "from=submit size=10", 2, now);
	s = scan(t, now + 1);
	EXPECT_INT(s->total[0], 6);
	EXPECT_INT(s->total[2], 3);
	buf_reset(&b);
	stats_json(s, "ucl", &b);
	EXPECT_HAS(buf_cstr(&b), ",\"received\":6,\"forwarded\":1,\"delivered\":3,\"failed\":1,"
	    "\"deferred\":4}}\n");
	EXPECT_HAS(buf_cstr(&b), "{\"node\":\"ucl\",\"time\":");
	EXPECT_HAS(buf_cstr(&b), "\"total\":{\"queued\":0,\"oldest\":null,\"unrouted\":0,"
	    "\"held\":0,\"received_per_minute\":");
	stats_snap_free(s);

	/* nothing new: the totals stay */
	s = scan(t, now + 2);
	EXPECT_INT(s->total[0], 6);
	stats_snap_free(s);
	stats_tail_free(t);

	/* a tail that does not count (mailctl stats): no counter */
	t = stats_tail_new();
	s = scan(t, now + 2);
	EXPECT_INT(s->counting, 0);
	buf_reset(&b);
	stats_prom(s, "ucl", &b);
	EXPECT_TRUE(strstr(buf_cstr(&b), "_total") == NULL);
	EXPECT_TRUE(strstr(buf_cstr(&b), " counter\n") == NULL);
	buf_reset(&b);
	stats_json(s, "ucl", &b);
	EXPECT_HAS(buf_cstr(&b), "\"counters\":null}\n");
	stats_snap_free(s);
	stats_tail_free(t);
	buf_release(&b);
}

static int setup(void)
{
	const char *dirs[] = { "queue", "in", "hold" };
	size_t  i;

	if (tl_tmpdir(spool, sizeof(spool), "test_stats") < 0)
		return -1;
	for (i = 0; i < NELEM(dirs); i++)
		if (mkdir(jpath(dirs[i]), 0700) < 0)
			return -1;
	return 0;
}

static int teardown(void)
{
	return tl_rmtree(spool);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "stats", "journal counters, rotation, renderings", test_counters },
	};

	return tl_run(tests, NELEM(tests), setup, teardown);
}
