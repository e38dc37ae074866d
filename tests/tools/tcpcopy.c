/*++
 * NAME
 *	tcpcopy 1
 * SUMMARY
 *	raw TCP copy baselines for the benchmark
 * SYNOPSIS
 *	tcpcopy recv --listen ADDR --ready-file F (--out FILE | --null) [--timeout S]
 *	tcpcopy send FILE ADDR [--timeout S]
 * DESCRIPTION
 *	The limits that niftp transfers are compared with (DESIGN section
 *	11): a plain stream copy over loopback with no protocol at all.
 *
 *	recv listens on ADDR (tcp:HOST:PORT, port 0 allowed, or
 *	unix:PATH), writes the bound address to the ready file (atomically,
 *	one line) and accepts exactly one connection. It copies everything
 *	to FILE, which is created exclusively and fsynced and closed at the
 *	end (the same durability as a niftp server before ER), or discards
 *	it (--null). Then it sends one octet back and closes, so the
 *	sender's wall time includes the receiver's fsync, as the wall time
 *	of "niftp put" includes the server's commit before ER.
 *
 *	send connects, writes FILE, shuts down its sending side and waits
 *	for the receiver's octet.
 *
 *	Both print one line to standard output:
 *	  tcpcopy: recv 268435456 bytes 0.412 s 621.4 MiB/s
 *	recv's time runs from accept to the end of the fsync.
 *
 *	Every wait is bounded by --timeout (default 300 s).
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on any failure (with a message on stderr),
 *	64 on a usage error.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/tools/toolnet.h"

#define COPY_BUF	(1024 * 1024)

static void usage(void)
{
	fprintf(stderr, "usage: tcpcopy recv --listen ADDR --ready-file F (--out FILE | --null) "
		"[--timeout S]\n       tcpcopy send FILE ADDR [--timeout S]\n");
	exit(64);
}

/* wait_fd - poll one fd for events until the deadline; 1 ready, 0 timeout, -1 error */
static int wait_fd(int fd, short events, double deadline)
{
	struct pollfd pfd;
	int rc;

	for (;;) {
		double left = deadline - tn_now();

		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		rc = poll(&pfd, 1, (int) (left * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -1 : (rc > 0);
	}
}

static int do_recv(const char *listen_s, const char *ready, const char *out, double timeout)
{
	struct tn_addr a;
	char err[512], bound[300], line[320];
	unsigned char *buf = NULL;
	int lfd = -1, cfd = -1, ofd = -1, rc = 1;
	uint64_t total = 0;
	double t0, dt, deadline = tn_now() + timeout;

	if (tn_parse_addr(listen_s, &a, err, sizeof(err)) < 0)
		goto fail;
	lfd = tn_listen(&a, 1, bound, sizeof(bound), err, sizeof(err));
	if (lfd < 0)
		goto fail;
	if (out != NULL) {
		ofd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (ofd < 0) {
			snprintf(err, sizeof(err), "open '%s': %s", out, strerror(errno));
			goto fail;
		}
	}
	snprintf(line, sizeof(line), "%s\n", bound);
	if (tn_write_file_atomic(ready, line, err, sizeof(err)) < 0)
		goto fail;
	if (wait_fd(lfd, POLLIN, deadline) <= 0) {
		snprintf(err, sizeof(err), "accept on '%s': no connection within %.0f s", bound, timeout);
		goto fail;
	}
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0) {
		snprintf(err, sizeof(err), "accept on '%s': %s", bound, strerror(errno));
		goto fail;
	}
	t0 = tn_now();
	buf = malloc(COPY_BUF);
	if (buf == NULL) {
		snprintf(err, sizeof(err), "malloc: %s", strerror(errno));
		goto fail;
	}
	for (;;) {
		ssize_t n;

		if (wait_fd(cfd, POLLIN, deadline) <= 0) {
			snprintf(err, sizeof(err), "read from sender: timed out");
			goto fail;
		}
		n = read(cfd, buf, COPY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, sizeof(err), "read from sender: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		total += (uint64_t) n;
		if (ofd >= 0 && tn_write_all(ofd, buf, (size_t) n) < 0) {
			snprintf(err, sizeof(err), "write '%s': %s", out, strerror(errno));
			goto fail;
		}
	}
	if (ofd >= 0) {
		if (fsync(ofd) < 0) {
			snprintf(err, sizeof(err), "fsync '%s': %s", out, strerror(errno));
			goto fail;
		}
		rc = close(ofd);
		ofd = -1;
		if (rc < 0) {
			rc = 1;
			snprintf(err, sizeof(err), "close '%s': %s", out, strerror(errno));
			goto fail;
		}
		rc = 1;
	}
	dt = tn_now() - t0;
	if (tn_write_all(cfd, "K", 1) < 0) {
		snprintf(err, sizeof(err), "write acknowledgement: %s", strerror(errno));
		goto fail;
	}
	printf("tcpcopy: recv %llu bytes %.3f s %.1f MiB/s\n", (unsigned long long) total, dt,
		dt > 0 ? (double) total / 1048576.0 / dt : 0.0);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "tcpcopy: recv: %s\n", err);
out:
	free(buf);
	if (ofd >= 0)
		close(ofd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	if (a.kind == TN_UNIX && lfd >= 0)
		(void) unlink(a.path);
	return rc;
}

static int do_send(const char *file, const char *addr_s, double timeout)
{
	struct tn_addr a;
	char err[512];
	unsigned char *buf = NULL, ack;
	int ifd = -1, fd = -1, rc = 1;
	uint64_t total = 0;
	double t0, dt, deadline = tn_now() + timeout;

	if (tn_parse_addr(addr_s, &a, err, sizeof(err)) < 0)
		goto fail;
	ifd = open(file, O_RDONLY | O_CLOEXEC);
	if (ifd < 0) {
		snprintf(err, sizeof(err), "open '%s': %s", file, strerror(errno));
		goto fail;
	}
	buf = malloc(COPY_BUF);
	if (buf == NULL) {
		snprintf(err, sizeof(err), "malloc: %s", strerror(errno));
		goto fail;
	}
	t0 = tn_now();
	fd = tn_connect(&a, 10000, err, sizeof(err));
	if (fd < 0)
		goto fail;
	for (;;) {
		ssize_t n = read(ifd, buf, COPY_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, sizeof(err), "read '%s': %s", file, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (tn_now() > deadline) {
			snprintf(err, sizeof(err), "send to '%s': timed out", addr_s);
			goto fail;
		}
		if (tn_write_all(fd, buf, (size_t) n) < 0) {
			snprintf(err, sizeof(err), "write to '%s': %s", addr_s, strerror(errno));
			goto fail;
		}
		total += (uint64_t) n;
	}
	if (shutdown(fd, SHUT_WR) < 0) {
		snprintf(err, sizeof(err), "shutdown '%s': %s", addr_s, strerror(errno));
		goto fail;
	}
	if (wait_fd(fd, POLLIN, deadline) <= 0 || read(fd, &ack, 1) != 1) {
		snprintf(err, sizeof(err), "no acknowledgement from '%s'", addr_s);
		goto fail;
	}
	dt = tn_now() - t0;
	printf("tcpcopy: send %llu bytes %.3f s %.1f MiB/s\n", (unsigned long long) total, dt,
		dt > 0 ? (double) total / 1048576.0 / dt : 0.0);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "tcpcopy: send: %s\n", err);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (ifd >= 0)
		close(ifd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *listen_s = NULL, *ready = NULL, *out = NULL, *pos[2] = { NULL, NULL };
	uint64_t t = 300;
	int i, npos = 0, null = 0;

	if (argc < 2)
		usage();
	for (i = 2; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--listen") == 0 && i + 1 < argc)
			listen_s = argv[++i];
		else if (strcmp(o, "--ready-file") == 0 && i + 1 < argc)
			ready = argv[++i];
		else if (strcmp(o, "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(o, "--null") == 0)
			null = 1;
		else if (strcmp(o, "--timeout") == 0 && i + 1 < argc) {
			if (tn_parse_u64(argv[++i], 1, 86400, &t) < 0)
				usage();
		} else if (o[0] != '-' && npos < 2)
			pos[npos++] = o;
		else
			usage();
	}
	if (strcmp(argv[1], "recv") == 0) {
		if (listen_s == NULL || ready == NULL || npos != 0 || (out == NULL) == (null == 0))
			usage();
		return do_recv(listen_s, ready, out, (double) t);
	}
	if (strcmp(argv[1], "send") == 0) {
		if (npos != 2 || listen_s || ready || out || null)
			usage();
		return do_send(pos[0], pos[1], (double) t);
	}
	usage();
	return 64;
}
