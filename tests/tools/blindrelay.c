/*++
 * NAME
 *	blindrelay 1
 * SUMMARY
 *	a relay that moves octets without looking at them: the floor of
 *	what any gateway costs (benchmark baseline)
 * SYNOPSIS
 *	blindrelay --listen ADDR --to ADDR --ready-file F [--copy]
 *		[--max-time S]
 * DESCRIPTION
 *	Accepts connections on ADDR (tcp:HOST:PORT, port 0 allowed, or
 *	unix:PATH), one at a time, and for each connects to the --to
 *	address and moves octets both ways until both directions have
 *	ended (a FIN is passed on as a shutdown). It knows no framing: a
 *	Yellow Book call passes unchanged, CONNECT included (its calling
 *	address is not extended, unlike vcgw's). The ready file gets the
 *	bound address.
 *
 *	By default each direction is spliced (splice(2), socket to a 1 MiB
 *	pipe to socket); with --copy, read(2) into a 256 KiB buffer and
 *	send(2). What the relay costs in CPU is then what the kernel
 *	costs to pass the octets through one more process and one more
 *	connection: vcgw's splice path and copying path are compared with
 *	it by tests/bench/bench_vcgw.sh.
 *
 *	Like the other tools here it uses none of util/ or niftp/.
 * DIAGNOSTICS
 *	Errors on stderr. Exit 0 on SIGTERM or when --max-time (default
 *	3600 s) has passed, 1 on a setup error, 64 for usage.
 *--*/
#include <getopt.h>
#include <signal.h>

#include "tests/tools/toolnet.h"

#define PIPE_SZ		(1024 * 1024)
#define BUF_SZ		(256 * 1024)

static volatile sig_atomic_t stop_now;

static void on_term(int sig)
{
	(void) sig;
	stop_now = 1;
}

/* One direction. */
struct dir {
	int	from, to;
	int	p[2];		/* splice: the pipe */
	unsigned char *buf;	/* copy: the buffer */
	size_t	held, off;	/* octets in the pipe or buffer; copy: sent of them */
	int	eof, shut;
};

/* pump - move what can be moved without blocking; -1 on an error */
static int pump(struct dir *d, int copy)
{
	ssize_t n;
	int moved;

	do {
		moved = 0;
		if (!d->eof && d->held < (copy ? 1 : PIPE_SZ)) {
			if (copy)
				n = read(d->from, d->buf, BUF_SZ);
			else
				n = splice(d->from, NULL, d->p[1], NULL, PIPE_SZ - d->held,
					SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == 0)
				d->eof = 1;
			else if (n > 0) {
				d->held += (size_t) n;
				d->off = 0;
				moved = 1;
			} else if (errno != EAGAIN && errno != EINTR)
				return -1;
		}
		if (d->held > 0) {
			if (copy)
				n = send(d->to, d->buf + d->off, d->held, MSG_NOSIGNAL | MSG_DONTWAIT);
			else
				n = splice(d->p[0], NULL, d->to, NULL, d->held,
					SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->held -= (size_t) n;
				d->off += (size_t) n;
				moved = 1;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
	} while (moved);
	if (d->eof && d->held == 0 && !d->shut) {
		(void) shutdown(d->to, SHUT_WR);
		d->shut = 1;
	}
	return 0;
}

/* relay - one connection, both ways, until both have ended */
static void relay(int a, int b, int copy)
{
	struct dir d[2];
	struct pollfd pf[2];
	int i;

	memset(d, 0, sizeof(d));
	d[0].from = d[1].to = a;
	d[0].to = d[1].from = b;
	for (i = 0; i < 2; i++) {
		d[i].p[0] = d[i].p[1] = -1;
		if (copy) {
			d[i].buf = malloc(BUF_SZ);
			if (d[i].buf == NULL)
				goto out;
		} else {
			if (pipe2(d[i].p, O_NONBLOCK | O_CLOEXEC) < 0)
				goto out;
			(void) fcntl(d[i].p[1], F_SETPIPE_SZ, PIPE_SZ);
		}
	}
	(void) tn_set_nonblock(a, 1);
	(void) tn_set_nonblock(b, 1);
	while (!stop_now && !(d[0].shut && d[1].shut)) {
		for (i = 0; i < 2; i++) {
			pf[i].fd = i == 0 ? a : b;
			pf[i].events = 0;
		}
		for (i = 0; i < 2; i++) {
			/* d[i] reads pf[i], writes pf[1 - i] */
			if (!d[i].eof && d[i].held < (copy ? 1 : PIPE_SZ))
				pf[i].events |= POLLIN;
			if (d[i].held > 0)
				pf[1 - i].events |= POLLOUT;
		}
		if (poll(pf, 2, 1000) < 0 && errno != EINTR)
			break;
		if (pump(&d[0], copy) < 0 || pump(&d[1], copy) < 0)
			break;
	}
out:
	for (i = 0; i < 2; i++) {
		if (d[i].p[0] >= 0)
			close(d[i].p[0]);
		if (d[i].p[1] >= 0)
			close(d[i].p[1]);
		free(d[i].buf);
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "to", required_argument, NULL, 't' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "copy", no_argument, NULL, 'c' },
		{ "max-time", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	struct tn_addr la, ta;
	struct sigaction sa;
	const char *listen_s = NULL, *to_s = NULL, *ready = NULL;
	char err[512], bound[512], text[600];
	uint64_t maxtime = 3600;
	double end;
	int c, copy = 0, lfd, a, b;
	struct pollfd pf;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': listen_s = optarg; break;
		case 't': to_s = optarg; break;
		case 'r': ready = optarg; break;
		case 'c': copy = 1; break;
		case 'm':
			if (tn_parse_u64(optarg, 1, 86400, &maxtime) < 0)
				return 64;
			break;
		default: return 64;
		}
	}
	if (optind != argc || listen_s == NULL || to_s == NULL || ready == NULL) {
		fprintf(stderr, "usage: blindrelay --listen ADDR --to ADDR --ready-file F [--copy]\n");
		return 64;
	}
	if (tn_parse_addr(listen_s, &la, err, sizeof(err)) < 0
	    || tn_parse_addr(to_s, &ta, err, sizeof(err)) < 0) {
		fprintf(stderr, "blindrelay: %s\n", err);
		return 64;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = tn_listen(&la, 16, bound, sizeof(bound), err, sizeof(err))) < 0) {
		fprintf(stderr, "blindrelay: %s\n", err);
		return 1;
	}
	snprintf(text, sizeof(text), "%s\n", bound);
	if (tn_write_file_atomic(ready, text, err, sizeof(err)) < 0) {
		fprintf(stderr, "blindrelay: %s\n", err);
		return 1;
	}
	end = tn_now() + (double) maxtime;
	while (!stop_now && tn_now() < end) {
		pf.fd = lfd;
		pf.events = POLLIN;
		if (poll(&pf, 1, 1000) <= 0)
			continue;
		if ((a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if ((b = tn_connect(&ta, 10000, err, sizeof(err))) < 0) {
			fprintf(stderr, "blindrelay: %s\n", err);
			close(a);
			continue;
		}
		if (la.kind == TN_TCP) {
			int one = 1;

			(void) setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		relay(a, b, copy);
		close(a);
		close(b);
	}
	close(lfd);
	if (la.kind == TN_UNIX)
		(void) unlink(la.path);
	return 0;
}
