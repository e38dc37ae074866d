/*++
 * NAME
 *	relayload 1
 * SUMMARY
 *	drop numbered letters into a relay's spool; time their delivery
 * SYNOPSIS
 *	relayload drop OUTDIR COUNT --to ADDR[,ADDR...] [--from ADDR]
 *		[--size OCTETS] [--rate LETTERS_PER_S] [--tag TAG]
 *	relayload wait COUNT [--timeout SECONDS] [--interval MS] MAILDIR...
 * DESCRIPTION
 *	The load generator of tests/bench/bench_relay.sh.
 *
 *	drop writes COUNT letters into OUTDIR (a node's SPOOL/out/), each
 *	as a dot-file renamed into place (the atomic drop mailrelayd takes
 *	at once). A letter is the address list (the --to addresses, one
 *	per line), a blank line, a header (Date, From, To, Subject,
 *	Message-ID) and a body of text lines that brings the whole file to
 *	--size octets (default 1024). The Message-ID carries the drop time:
 *	<TAG.SEQ.NS@relayload>, NS the CLOCK_REALTIME nanoseconds taken
 *	just before the file is written. With --rate the drops are paced
 *	(letter i is dropped at start + i/RATE); without it they go as fast
 *	as the file system allows. The files are not fsynced: durability
 *	is the daemon's job and is what is measured. Prints one line:
 *
 *	  relayload: dropped=N seconds=S rate=R
 *
 *	wait polls the new/ and cur/ directories of each MAILDIR (one
 *	user's Maildir root) until they hold COUNT files in all or
 *	--timeout (default 600 s) passes, then reads the Message-ID of
 *	every file and takes its latency as the file's mtime (written
 *	just before the Maildir rename) minus the drop time in the
 *	Message-ID. Prints one line:
 *
 *	  relayload: files=N letters=L dups=D span=S median_ms=M p99_ms=P max_ms=X
 *
 *	letters is the number of distinct Message-IDs, dups the files
 *	whose Message-ID was already seen in the same Maildir (a letter
 *	delivered twice), span the seconds from the earliest drop to the
 *	latest delivery. Files without a relayload Message-ID are
 *	counted in files only.
 *
 *	Like the other test tools it uses nothing of util/ or the code
 *	under test.
 * DIAGNOSTICS
 *	Exit 0; 1 on a failed system call (named on stderr) or, for wait,
 *	when COUNT files did not appear in time (the line is still
 *	printed, with what was there); 64 on a usage error.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tests/tools/toolnet.h"

#define MAX_SIZE	(64 * 1024 * 1024)	/* largest letter */
#define MAX_COUNT	10000000		/* letters or files */
#define MAX_ADDRS	1000			/* --to addresses */
#define HEAD_READ	8192			/* octets read to find Message-ID */

static void usage(void)
{
	fprintf(stderr,
		"usage: relayload drop OUTDIR COUNT --to ADDR[,ADDR...] [--from ADDR]\n"
		"                 [--size OCTETS] [--rate LETTERS_PER_S] [--tag TAG]\n"
		"       relayload wait COUNT [--timeout SECONDS] [--interval MS] MAILDIR...\n");
	exit(64);
}

/* realtime_ns - CLOCK_REALTIME in nanoseconds */
static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* sleep_until - sleep until the monotonic clock reads t (seconds) */
static void sleep_until(double t)
{
	double d = t - tn_now();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = (time_t) d;
	ts.tv_nsec = (long) ((d - (double) ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* append - add len octets to buf at *used within cap; -1 when full */
static int append(char *buf, size_t cap, size_t *used, const char *s, size_t len)
{
	if (len > cap - *used)
		return -1;
	memcpy(buf + *used, s, len);
	*used += len;
	return 0;
}

static int cmd_drop(int argc, char **argv)
{
	const char *dir, *to = NULL, *from = "relayload@bench", *tag = "load";
	uint64_t count, size = 1024, rate = 0;
	char *buf = NULL, tmp[4096], fin[4096], line[256];
	size_t cap, head, used, naddr = 0;
	double start, end;
	uint64_t i;
	int rc = 1;

	if (argc < 4)
		usage();
	dir = argv[2];
	if (tn_parse_u64(argv[3], 1, MAX_COUNT, &count) < 0)
		usage();
	for (int a = 4; a < argc; a++) {
		if (a + 1 >= argc)
			usage();
		if (strcmp(argv[a], "--to") == 0)
			to = argv[++a];
		else if (strcmp(argv[a], "--from") == 0)
			from = argv[++a];
		else if (strcmp(argv[a], "--tag") == 0)
			tag = argv[++a];
		else if (strcmp(argv[a], "--size") == 0) {
			if (tn_parse_u64(argv[++a], 1, MAX_SIZE, &size) < 0)
				usage();
		} else if (strcmp(argv[a], "--rate") == 0) {
			if (tn_parse_u64(argv[++a], 1, 10000000, &rate) < 0)
				usage();
		} else
			usage();
	}
	if (to == NULL || *to == '\0' || strchr(tag, '/') != NULL || tag[0] == '.')
		usage();

	/* The part before the Message-ID value is the same for every letter. */
	cap = strlen(to) * 2 + strlen(from) + 1024 + (size_t) size;
	buf = malloc(cap);
	if (buf == NULL) {
		fprintf(stderr, "relayload: malloc: %s\n", strerror(ENOMEM));
		return 1;
	}
	used = 0;
	for (const char *p = to; *p; ) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t) (c - p) : strlen(p);

		if (len > 0) {
			if (naddr > 0 && append(buf, cap, &used, ",\n", 2) < 0)
				goto toolong;
			if (append(buf, cap, &used, p, len) < 0)
				goto toolong;
			naddr++;
		}
		p += len + (c ? 1 : 0);
	}
	if (naddr == 0 || naddr > MAX_ADDRS)
		usage();
	{
		int n = snprintf(line, sizeof(line), "\n\nDate: Wed, 25 Nov 2026 12:00:00 +0000\n");

		if (n < 0 || append(buf, cap, &used, line, (size_t) n) < 0)
			goto toolong;
	}
	if (append(buf, cap, &used, "From: ", 6) < 0 || append(buf, cap, &used, from, strlen(from)) < 0 ||
	    append(buf, cap, &used, "\nTo: ", 5) < 0)
		goto toolong;
	{
		const char *c = strchr(to, ',');

		if (append(buf, cap, &used, to, c ? (size_t) (c - to) : strlen(to)) < 0)
			goto toolong;
	}
	if (append(buf, cap, &used, "\nSubject: relayload\nMessage-ID: <", 33) < 0)
		goto toolong;
	head = used;

	start = tn_now();
	for (i = 0; i < count; i++) {
		size_t u;
		int n, fd;
		uint64_t ns;

		if (rate > 0)
			sleep_until(start + (double) i / (double) rate);
		ns = realtime_ns();
		u = head;
		n = snprintf(line, sizeof(line), "%s.%llu.%llu@relayload>\n\n", tag,
			(unsigned long long) i, (unsigned long long) ns);
		if (n < 0 || append(buf, cap, &u, line, (size_t) n) < 0)
			goto toolong;
		/* body: lines of 64 octets up to the size (at least one line) */
		do {
			static const char text[] =
				"The quick brown fox jumps over the lazy dog 0123456789 abcdefgh\n";
			size_t want = size > u ? (size_t) size - u : 0;
			size_t len = want >= sizeof(text) - 1 ? sizeof(text) - 1 : want;

			if (len == 0) {
				if (append(buf, cap, &u, "\n", 1) < 0)
					goto toolong;
				break;
			}
			if (len < sizeof(text) - 1) {
				/* a short last line still ends in LF */
				if (append(buf, cap, &u, text + (sizeof(text) - 1 - len), len) < 0)
					goto toolong;
				break;
			}
			if (append(buf, cap, &u, text, len) < 0)
				goto toolong;
		} while (u < size);

		if ((size_t) snprintf(tmp, sizeof(tmp), "%s/.rl.%s.%llu", dir, tag,
			(unsigned long long) i) >= sizeof(tmp) ||
		    (size_t) snprintf(fin, sizeof(fin), "%s/%s.%llu", dir, tag,
			(unsigned long long) i) >= sizeof(fin)) {
			fprintf(stderr, "relayload: path too long: '%s'\n", dir);
			goto out;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "relayload: create '%s': %s\n", tmp, strerror(errno));
			goto out;
		}
		if (tn_write_all(fd, buf, u) < 0) {
			fprintf(stderr, "relayload: write '%s': %s\n", tmp, strerror(errno));
			close(fd);
			goto out;
		}
		if (close(fd) < 0) {
			fprintf(stderr, "relayload: close '%s': %s\n", tmp, strerror(errno));
			goto out;
		}
		if (rename(tmp, fin) < 0) {
			fprintf(stderr, "relayload: rename '%s' to '%s': %s\n", tmp, fin, strerror(errno));
			goto out;
		}
	}
	end = tn_now();
	printf("relayload: dropped=%llu seconds=%.3f rate=%.1f\n", (unsigned long long) count,
		end - start, end > start ? (double) count / (end - start) : 0.0);
	rc = 0;
	goto out;
toolong:
	fprintf(stderr, "relayload: letter larger than its buffer (%zu octets)\n", cap);
out:
	free(buf);
	return rc;
}

/* count_dir - regular entries (not dot-files) in dir; -1 on error */
static long count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* One delivered file. */
struct got {
	unsigned md;		/* index of its Maildir */
	uint64_t id;		/* the letter: hash of TAG.SEQ */
	double	lat;		/* seconds from drop to delivery */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

static int cmp_got(const void *a, const void *b)
{
	const struct got *x = a, *y = b;

	if (x->md != y->md)
		return x->md < y->md ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* fnv - FNV-1a 64 of len octets */
static uint64_t fnv(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603u;

	while (len-- > 0) {
		h ^= (unsigned char) *p++;
		h *= 1099511628211u;
	}
	return h;
}

/* scan_file - find "Message-ID: <TAG.SEQ.NS@relayload>" in the header of
 * path; 1 with *id and *ns set, 0 when there is none, -1 on error */
static int scan_file(const char *path, uint64_t *id, uint64_t *ns, struct stat *st)
{
	char buf[HEAD_READ + 1];
	ssize_t n;
	char *p, *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, HEAD_READ);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *lt, *at, *dot;
		uint64_t v = 0;

		if (strncasecmp(p, "message-id:", 11) != 0)
			continue;
		lt = strchr(p, '<');
		end = strchr(p, '\n');
		if (lt == NULL || (end != NULL && lt > end))
			return 0;
		at = strstr(lt, "@relayload>");
		if (at == NULL || (end != NULL && at > end))
			return 0;
		dot = at;
		while (dot > lt && dot[-1] != '.')
			dot--;
		if (dot <= lt + 1)
			return 0;
		for (char *d = dot; d < at; d++) {
			if (*d < '0' || *d > '9')
				return 0;
			v = v * 10 + (uint64_t) (*d - '0');
		}
		*ns = v;
		*id = fnv(lt + 1, (size_t) (dot - 1 - (lt + 1)));
		return 1;
	}
	return 0;
}

static int cmd_wait(int argc, char **argv)
{
	uint64_t count, timeout = 600, interval = 20;
	int first_md = -1, nmd;
	long total = 0;
	double deadline;
	struct got *got = NULL;
	double *lat = NULL;
	size_t ngot = 0, cap = 0, nlat = 0, letters = 0, dups = 0;
	uint64_t min_ns = UINT64_MAX, max_mt = 0;
	int rc = 1;

	if (argc < 4 || tn_parse_u64(argv[2], 1, MAX_COUNT, &count) < 0)
		usage();
	for (int a = 3; a < argc; a++) {
		if (strcmp(argv[a], "--timeout") == 0 && a + 1 < argc) {
			if (tn_parse_u64(argv[++a], 1, 86400, &timeout) < 0)
				usage();
		} else if (strcmp(argv[a], "--interval") == 0 && a + 1 < argc) {
			if (tn_parse_u64(argv[++a], 1, 10000, &interval) < 0)
				usage();
		} else if (argv[a][0] == '-')
			usage();
		else {
			first_md = a;
			break;
		}
	}
	if (first_md < 0)
		usage();
	nmd = argc - first_md;

	deadline = tn_now() + (double) timeout;
	for (;;) {
		total = 0;
		for (int m = 0; m < nmd; m++) {
			char p[4096];
			const char *sub[2] = { "new", "cur" };

			for (int s = 0; s < 2; s++) {
				long c;

				if ((size_t) snprintf(p, sizeof(p), "%s/%s", argv[first_md + m], sub[s]) >= sizeof(p))
					usage();
				c = count_dir(p);
				if (c < 0) {
					fprintf(stderr, "relayload: read '%s': %s\n", p, strerror(errno));
					return 1;
				}
				total += c;
			}
		}
		if ((uint64_t) total >= count || tn_now() >= deadline)
			break;
		sleep_until(tn_now() + (double) interval / 1000.0);
	}

	for (int m = 0; m < nmd; m++) {
		const char *sub[2] = { "new", "cur" };

		for (int s = 0; s < 2; s++) {
			char dp[4096], fp[4096];
			DIR *d;
			struct dirent *e;

			if ((size_t) snprintf(dp, sizeof(dp), "%s/%s", argv[first_md + m], sub[s]) >= sizeof(dp))
				usage();
			d = opendir(dp);
			if (d == NULL)
				continue;
			while ((e = readdir(d)) != NULL) {
				struct stat st;
				uint64_t id, ns, mt;
				int r;

				if (e->d_name[0] == '.')
					continue;
				if ((size_t) snprintf(fp, sizeof(fp), "%s/%s", dp, e->d_name) >= sizeof(fp))
					continue;
				r = scan_file(fp, &id, &ns, &st);
				if (r < 0)
					continue;	/* moved meanwhile (new/ to cur/) */
				if (r == 0)
					continue;	/* not one of ours */
				if (ngot == cap) {
					size_t nc = cap ? cap * 2 : 4096;
					struct got *g = realloc(got, nc * sizeof(*got));

					if (g == NULL) {
						closedir(d);
						fprintf(stderr, "relayload: realloc: %s\n", strerror(ENOMEM));
						goto out;
					}
					got = g;
					cap = nc;
				}
				mt = (uint64_t) st.st_mtim.tv_sec * 1000000000u + (uint64_t) st.st_mtim.tv_nsec;
				got[ngot].md = (unsigned) m;
				got[ngot].id = id;
				got[ngot].lat = mt > ns ? (double) (mt - ns) / 1e9 : 0.0;
				ngot++;
				if (ns < min_ns)
					min_ns = ns;
				if (mt > max_mt)
					max_mt = mt;
			}
			closedir(d);
		}
	}
	lat = malloc((ngot ? ngot : 1) * sizeof(*lat));
	if (lat == NULL) {
		fprintf(stderr, "relayload: malloc: %s\n", strerror(ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < ngot; i++)
		lat[nlat++] = got[i].lat;
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	/* duplicates per Maildir; distinct letters over all Maildirs */
	qsort(got, ngot, sizeof(*got), cmp_got);
	for (size_t i = 0; i < ngot; i++)
		if (i > 0 && got[i].md == got[i - 1].md && got[i].id == got[i - 1].id)
			dups++;
	{
		uint64_t *ids = malloc((ngot ? ngot : 1) * sizeof(*ids));

		if (ids == NULL) {
			fprintf(stderr, "relayload: malloc: %s\n", strerror(ENOMEM));
			goto out;
		}
		for (size_t i = 0; i < ngot; i++)
			ids[i] = got[i].id;
		qsort(ids, ngot, sizeof(*ids), cmp_u64);
		for (size_t i = 0; i < ngot; i++)
			if (i == 0 || ids[i] != ids[i - 1])
				letters++;
		free(ids);
	}
	printf("relayload: files=%ld letters=%zu dups=%zu span=%.3f median_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
		total, letters, dups,
		ngot && max_mt > min_ns ? (double) (max_mt - min_ns) / 1e9 : 0.0,
		nlat ? lat[nlat / 2] * 1000 : 0.0,
		nlat ? lat[(size_t) ((double) (nlat - 1) * 0.99)] * 1000 : 0.0,
		nlat ? lat[nlat - 1] * 1000 : 0.0);
	rc = (uint64_t) total >= count ? 0 : 1;
	if (rc)
		fprintf(stderr, "relayload: %ld of %llu files after %llu s\n", total,
			(unsigned long long) count, (unsigned long long) timeout);
out:
	free(got);
	free(lat);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "drop") == 0)
		return cmd_drop(argc, argv);
	if (strcmp(argv[1], "wait") == 0)
		return cmd_wait(argc, argv);
	usage();
	return 64;
}
