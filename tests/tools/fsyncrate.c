/*++
 * NAME
 *	fsyncrate 1
 * SUMMARY
 *	measure how many small files per second can be made durable
 * SYNOPSIS
 *	fsyncrate DIR [SECONDS] [SIZE]
 * DESCRIPTION
 *	The raw limit for committing small letters one at a time (DESIGN
 *	section 11): for SECONDS (default 2), repeatedly create a file in
 *	DIR with O_CREAT|O_EXCL, write SIZE octets (default 4096), fsync
 *	it, close it, rename it to its final name and fsync DIR; the
 *	commit sequence of STYLE.md habit 7, one file at a time. The files
 *	are removed afterwards (not timed).
 *
 *	Prints one line to standard output:
 *	  fsyncrate: 1234 files in 2.001 s: 616.7 files/s (4096 octets each)
 * DIAGNOSTICS
 *	Exit 0, 1 on a failed system call (named on stderr), 64 on a usage
 *	error.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/tools/toolnet.h"

#define MAX_SIZE	(1024 * 1024)
#define MAX_FILES	1000000

static void usage(void)
{
	fprintf(stderr, "usage: fsyncrate DIR [SECONDS] [SIZE]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	char tmp[4096], fin[4096];
	unsigned char *buf;
	uint64_t secs = 2, size = 4096, n = 0, i;
	double t0, dt;
	int fd, dfd, rc = 0;

	if (argc < 2 || argc > 4)
		usage();
	if (argc > 2 && tn_parse_u64(argv[2], 1, 600, &secs) < 0)
		usage();
	if (argc > 3 && tn_parse_u64(argv[3], 0, MAX_SIZE, &size) < 0)
		usage();
	buf = malloc(size + 1);
	if (buf == NULL) {
		fprintf(stderr, "fsyncrate: malloc: %s\n", strerror(errno));
		return 1;
	}
	memset(buf, 'x', size);
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "fsyncrate: open '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	t0 = tn_now();
	do {
		if ((size_t) snprintf(tmp, sizeof(tmp), "%s/.tmp.fsyncrate.%llu", argv[1],
			(unsigned long long) n) >= sizeof(tmp) ||
		    (size_t) snprintf(fin, sizeof(fin), "%s/fsyncrate.%llu", argv[1],
			(unsigned long long) n) >= sizeof(fin)) {
			fprintf(stderr, "fsyncrate: '%s': path too long\n", argv[1]);
			rc = 1;
			break;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "fsyncrate: open '%s': %s\n", tmp, strerror(errno));
			rc = 1;
			break;
		}
		if (tn_write_all(fd, buf, size) < 0 || fsync(fd) < 0) {
			fprintf(stderr, "fsyncrate: write/fsync '%s': %s\n", tmp, strerror(errno));
			close(fd);
			rc = 1;
			break;
		}
		if (close(fd) < 0 || rename(tmp, fin) < 0 || fsync(dfd) < 0) {
			fprintf(stderr, "fsyncrate: close/rename/fsync '%s': %s\n", fin, strerror(errno));
			rc = 1;
			break;
		}
		n++;
		dt = tn_now() - t0;
	} while (dt < (double) secs && n < MAX_FILES);
	dt = tn_now() - t0;
	for (i = 0; i <= n; i++) {
		snprintf(fin, sizeof(fin), "%s/fsyncrate.%llu", argv[1], (unsigned long long) i);
		(void) unlink(fin);
		snprintf(tmp, sizeof(tmp), "%s/.tmp.fsyncrate.%llu", argv[1], (unsigned long long) i);
		(void) unlink(tmp);
	}
	close(dfd);
	free(buf);
	if (rc == 0)
		printf("fsyncrate: %llu files in %.3f s: %.1f files/s (%llu octets each)\n",
			(unsigned long long) n, dt, dt > 0 ? (double) n / dt : 0.0,
			(unsigned long long) size);
	return rc;
}
