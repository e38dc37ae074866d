/*++
 * NAME
 *	bench_spool 1
 * SUMMARY
 *	durable letters per second through the spool's group commit
 * SYNOPSIS
 *	bench_spool [DIR [LETTERS [WINDOW [SIZE]]]]
 * DESCRIPTION
 *	Commits LETTERS (default 5000) files of SIZE octets (default 4096)
 *	into in/ of a spool in DIR (default a new directory under /tmp),
 *	keeping WINDOW (default 64) commits in flight as concurrent calls
 *	would, each with its journal line. Prints letters/s with the
 *	batches and fsyncs counted by the spool, and, as the raw limit
 *	measured in the same run, the rate of one write+fsync per file
 *	done one at a time. Reports; never fails on a number.
 *--*/
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool/spool.h"
#include "util/alloc.h"
#include "util/loop.h"
#include "util/strutil.h"

struct bench {
	struct spool *sp;
	int	submitted, done, failed, total;
	char	*data;
	size_t	size;
};

static void bench_done(void *arg, int ok, const char *err);

/* bench_one - create, write and submit one letter */
static void bench_one(struct bench *b)
{
	char    err[SPOOL_ERRLEN], sz[24];
	const char *kv[] = { "from", "bench", "size", sz };
	struct spool_file *f = spool_create(b->sp, NULL, err, sizeof(err));
	struct spool_txn *t;

	if (f == NULL || spool_write(f, b->data, b->size, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_spool: %s\n", err);
		exit(1);
	}
	snprintf(sz, sizeof(sz), "%zu", b->size);
	t = spool_txn_new(b->sp);
	spool_txn_journal(t, "received", spool_file_name(f), kv, 2);
	spool_txn_commit(t, f, SPOOL_IN);
	b->submitted++;
	spool_txn_submit(t, bench_done, b);
}

static void bench_done(void *arg, int ok, const char *err)
{
	struct bench *b = arg;

	b->done++;
	if (!ok) {
		b->failed++;
		fprintf(stderr, "bench_spool: %s\n", err);
	}
	if (b->submitted < b->total)
		bench_one(b);
}

int main(int argc, char **argv)
{
	char    dir[256], path[512], err[SPOOL_ERRLEN];
	uint64_t n = 5000, window = 64, size = 4096;
	struct spool_opts o;
	struct spool_stats st;
	struct bench b;
	struct loop *loop;
	int64_t t0, t1;
	uint64_t i;
	int     fd;

	if (argc > 1)
		str_copy(dir, argv[1], sizeof(dir));
	else {
		str_copy(dir, "/tmp/bench_spool.XXXXXX", sizeof(dir));
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
	}
	if ((argc > 2 && str_to_u64(argv[2], 1, 10000000, &n) < 0)
	    || (argc > 3 && str_to_u64(argv[3], 1, 4096, &window) < 0)
	    || (argc > 4 && str_to_u64(argv[4], 0, 1 << 26, &size) < 0)) {
		fprintf(stderr, "usage: bench_spool [DIR [LETTERS [WINDOW [SIZE]]]]\n");
		return 64;
	}
	loop = loop_new();
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.node = "bench";
	o.loop = loop;
	memset(&b, 0, sizeof(b));
	if ((b.sp = spool_open(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_spool: %s\n", err);
		return 1;
	}
	b.total = (int) n;
	b.size = (size_t) size;
	b.data = xmalloc(b.size + 1);
	memset(b.data, 'x', b.size);

	t0 = loop_now_ms();
	for (i = 0; i < window && i < n; i++)
		bench_one(&b);
	while (b.done < b.total)
		(void) loop_run_once(loop, 1000);
	t1 = loop_now_ms();
	spool_stats(b.sp, &st);
	printf("spool group commit: %llu letters of %llu octets, window %llu: %.0f letters/s "
	    "(%lld ms); %llu batches, %llu journal fsyncs, %llu dir fsyncs, %llu file fsyncs, "
	    "%d failed\n", (unsigned long long) n, (unsigned long long) size,
	    (unsigned long long) window, (double) n * 1000.0 / (double) (t1 - t0 ? t1 - t0 : 1),
	    (long long) (t1 - t0), (unsigned long long) st.batches,
	    (unsigned long long) st.journal_syncs, (unsigned long long) st.dir_syncs,
	    (unsigned long long) st.file_syncs, b.failed);
	spool_close(b.sp);
	loop_free(loop);

	/* raw limit: one file write + fsync at a time */
	t0 = loop_now_ms();
	for (i = 0; i < 500; i++) {
		snprintf(path, sizeof(path), "%s/raw.%llu", dir, (unsigned long long) i);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0
		    || write(fd, b.data, b.size) != (ssize_t) b.size || fsync(fd) < 0) {
			perror(path);
			return 1;
		}
		close(fd);
		unlink(path);
	}
	t1 = loop_now_ms();
	printf("raw write+fsync, one at a time: %.0f files/s\n",
	    500.0 * 1000.0 / (double) (t1 - t0 ? t1 - t0 : 1));
	free(b.data);
	if (argc <= 1) {
		snprintf(path, sizeof(path), "rm -rf '%s'", dir);
		if (system(path) != 0)
			fprintf(stderr, "bench_spool: could not remove %s\n", dir);
	}
	return 0;
}
