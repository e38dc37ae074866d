/*++
 * NAME
 *	cutproxy 1
 * SUMMARY
 *	a forwarding proxy that cuts a connection after N bytes (fault tests)
 * SYNOPSIS
 *	cutproxy --listen ADDR --to ADDR --ready-file F [--cut-after N]
 *		[--direction up|down] [--once] [--count-file F]
 *		[--max-time S] [--max-conns N]
 * DESCRIPTION
 *	Accepts connections on ADDR (tcp:HOST:PORT with port 0 allowed,
 *	or unix:PATH) and forwards each, both ways, to the --to address
 *	(tcp: or unix:). It is the "small test program that cuts or resets
 *	a connection after N bytes" of DESIGN section 11: faults happen at
 *	an exact byte count, not by timing luck.
 *
 *	With --cut-after N, once exactly N bytes have been forwarded in
 *	the chosen direction (up = client to server, the default; down =
 *	server to client) on one connection, both of its sockets are
 *	closed abruptly: SO_LINGER 0, so TCP sends RST to the client and
 *	to the server. Reads in that direction are limited so that no byte
 *	beyond N is forwarded. With --once only the first such cut happens;
 *	later connections are forwarded untouched. Without --once every
 *	connection is cut at N.
 *
 *	Half-closes are passed on (a FIN from one side becomes a shutdown
 *	towards the other once the pending bytes are written); a reset or
 *	error on one side resets the other.
 *
 *	The ready file gets the bound address (one line) once listening,
 *	written atomically. The count file, rewritten atomically whenever
 *	a connection ends and at exit, holds the totals over all
 *	connections:
 *
 *	  up 41943040
 *	  down 1234
 *	  connections 2
 *	  cuts 1
 *
 *	Bounded and robust: each direction holds at most one buffer of
 *	256 KiB (reading stops while it is full, so back-pressure reaches
 *	the sender), at most --max-conns (default 16) connections are
 *	served at once (more are refused with a reset), connecting to the
 *	server is bounded by 10 s, and the proxy exits by itself after
 *	--max-time seconds (default 900). SIGTERM or SIGINT make it write
 *	the count file and exit 0.
 * DIAGNOSTICS
 *	One line per connection event on stderr. Exit 0 on SIGTERM/SIGINT
 *	or --max-time, 1 on a start-up failure, 64 on a usage error.
 *--*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tests/tools/toolnet.h"

#define HALF_BUF	(256 * 1024)
#define MAX_CONNS	256

/* One direction of a connection: bytes read from src, written to dst. */
struct half {
	unsigned char *buf;
	size_t	off, len;	/* pending bytes buf[off .. off+len) */
	int	eof;		/* src gave EOF */
	int	shut;		/* dst was shut down for writing */
	uint64_t fwd;		/* bytes written to dst */
};

struct pair {
	int	cfd, sfd;		/* client, server; -1 when free */
	struct half up, down;		/* up: cfd -> sfd; down: sfd -> cfd */
	unsigned id;
};

struct proxy {
	struct tn_addr to;
	uint64_t cut_after;		/* 0 = never */
	int	cut_down;		/* direction of the cut */
	int	once;
	const char *count_file;
	struct pair *pairs;
	int	npairs;
	uint64_t up_total, down_total;	/* bytes of closed connections */
	unsigned conns, cuts;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void) sig;
	stop_flag = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: cutproxy --listen ADDR --to ADDR --ready-file F [--cut-after N] "
		"[--direction up|down] [--once] [--count-file F] [--max-time S] [--max-conns N]\n");
	exit(64);
}

/* write_counts - rewrite the count file (totals including live connections) */
static void write_counts(const struct proxy *px)
{
	char text[256], err[512];
	uint64_t up = px->up_total, down = px->down_total;
	int i;

	if (px->count_file == NULL)
		return;
	for (i = 0; i < px->npairs; i++) {
		if (px->pairs[i].cfd < 0)
			continue;
		up += px->pairs[i].up.fwd;
		down += px->pairs[i].down.fwd;
	}
	snprintf(text, sizeof(text), "up %llu\ndown %llu\nconnections %u\ncuts %u\n",
		(unsigned long long) up, (unsigned long long) down, px->conns, px->cuts);
	if (tn_write_file_atomic(px->count_file, text, err, sizeof(err)) < 0)
		fprintf(stderr, "cutproxy: %s\n", err);
}

/* pair_end - close both sockets (abruptly when rst) and account the bytes */
static void pair_end(struct proxy *px, struct pair *p, int rst, const char *why)
{
	fprintf(stderr, "cutproxy: connection %u %s: up %llu down %llu%s\n", p->id, why,
		(unsigned long long) p->up.fwd, (unsigned long long) p->down.fwd,
		rst ? " (reset both sides)" : "");
	if (rst) {
		tn_rst_close(p->cfd);
		tn_rst_close(p->sfd);
	} else {
		close(p->cfd);
		close(p->sfd);
	}
	px->up_total += p->up.fwd;
	px->down_total += p->down.fwd;
	p->cfd = p->sfd = -1;
	p->up.len = p->down.len = 0;
	write_counts(px);
}

/* cut_limit - how many more bytes may go in this direction before the cut
 * (UINT64_MAX when no cut applies) */
static uint64_t cut_limit(const struct proxy *px, const struct pair *p, const struct half *h)
{
	if (px->cut_after == 0 || (px->once && px->cuts > 0))
		return UINT64_MAX;
	if ((h == &p->down) != (px->cut_down != 0))
		return UINT64_MAX;
	return h->fwd >= px->cut_after ? 0 : px->cut_after - h->fwd;
}

/* flush - write pending bytes of h to dst; 0 ok (maybe partial), -1 error */
static int flush(struct half *h, int dst)
{
	while (h->len > 0) {
		ssize_t n = write(dst, h->buf + h->off, h->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		h->off += (size_t) n;
		h->len -= (size_t) n;
		h->fwd += (uint64_t) n;
	}
	h->off = 0;
	return 0;
}

/* pump - move bytes of one direction as far as possible without blocking.
 * Returns 0 to go on, 1 when the connection was ended (cut, reset, done). */
static int pump(struct proxy *px, struct pair *p, struct half *h, int src, int dst, int can_read)
{
	char why[64];

	if (h->len > 0 && flush(h, dst) < 0) {
		snprintf(why, sizeof(why), "write to %s failed (%s)",
			h == &p->up ? "server" : "client", strerror(errno));
		pair_end(px, p, 1, why);
		return 1;
	}
	if (h->len == 0 && cut_limit(px, p, h) == 0) {
		px->cuts++;
		snprintf(why, sizeof(why), "cut after %llu bytes %s",
			(unsigned long long) h->fwd, h == &p->up ? "up" : "down");
		pair_end(px, p, 1, why);
		return 1;
	}
	if (can_read && h->len == 0 && !h->eof) {
		uint64_t lim = cut_limit(px, p, h);
		size_t want = HALF_BUF;
		ssize_t n;

		if (lim < want)
			want = (size_t) lim;
		n = read(src, h->buf, want);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			snprintf(why, sizeof(why), "read from %s failed (%s)",
				h == &p->up ? "client" : "server", strerror(errno));
			pair_end(px, p, 1, why);
			return 1;
		}
		if (n == 0)
			h->eof = 1;
		else {
			h->off = 0;
			h->len = (size_t) n;
			return pump(px, p, h, src, dst, 0);
		}
	}
	if (h->eof && h->len == 0 && !h->shut) {
		(void) shutdown(dst, SHUT_WR);
		h->shut = 1;
	}
	if (p->up.shut && p->down.shut) {
		pair_end(px, p, 0, "closed");
		return 1;
	}
	return 0;
}

/* new_conn - accept one client and connect it to the server */
static void new_conn(struct proxy *px, int lfd)
{
	char err[512];
	struct pair *p = NULL;
	int cfd, sfd, i;

	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			fprintf(stderr, "cutproxy: accept: %s\n", strerror(errno));
		return;
	}
	for (i = 0; i < px->npairs; i++)
		if (px->pairs[i].cfd < 0) {
			p = &px->pairs[i];
			break;
		}
	if (p == NULL) {
		fprintf(stderr, "cutproxy: too many connections, refusing one\n");
		tn_rst_close(cfd);
		return;
	}
	sfd = tn_connect(&px->to, 10000, err, sizeof(err));
	if (sfd < 0) {
		fprintf(stderr, "cutproxy: %s\n", err);
		tn_rst_close(cfd);
		return;
	}
	if (tn_set_nonblock(sfd, 1) < 0) {
		fprintf(stderr, "cutproxy: fcntl: %s\n", strerror(errno));
		tn_rst_close(cfd);
		tn_rst_close(sfd);
		return;
	}
	p->cfd = cfd;
	p->sfd = sfd;
	p->id = ++px->conns;
	p->up.off = p->up.len = p->down.off = p->down.len = 0;
	p->up.eof = p->up.shut = p->down.eof = p->down.shut = 0;
	p->up.fwd = p->down.fwd = 0;
	fprintf(stderr, "cutproxy: connection %u opened\n", p->id);
	write_counts(px);
}

int main(int argc, char **argv)
{
	const char *listen_s = NULL, *to_s = NULL, *ready = NULL;
	struct proxy px;
	struct tn_addr la;
	struct sigaction sa;
	struct pollfd *pfd;
	char err[512], bound[300], line[320];
	uint64_t max_time = 900, max_conns = 16;
	double deadline;
	int i, lfd;

	memset(&px, 0, sizeof(px));
	for (i = 1; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--listen") == 0 && i + 1 < argc)
			listen_s = argv[++i];
		else if (strcmp(o, "--to") == 0 && i + 1 < argc)
			to_s = argv[++i];
		else if (strcmp(o, "--ready-file") == 0 && i + 1 < argc)
			ready = argv[++i];
		else if (strcmp(o, "--count-file") == 0 && i + 1 < argc)
			px.count_file = argv[++i];
		else if (strcmp(o, "--cut-after") == 0 && i + 1 < argc) {
			if (tn_parse_u64(argv[++i], 1, UINT64_MAX, &px.cut_after) < 0)
				usage();
		} else if (strcmp(o, "--direction") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "up") == 0)
				px.cut_down = 0;
			else if (strcmp(argv[i], "down") == 0)
				px.cut_down = 1;
			else
				usage();
		} else if (strcmp(o, "--once") == 0)
			px.once = 1;
		else if (strcmp(o, "--max-time") == 0 && i + 1 < argc) {
			if (tn_parse_u64(argv[++i], 1, 86400, &max_time) < 0)
				usage();
		} else if (strcmp(o, "--max-conns") == 0 && i + 1 < argc) {
			if (tn_parse_u64(argv[++i], 1, MAX_CONNS, &max_conns) < 0)
				usage();
		} else
			usage();
	}
	if (listen_s == NULL || to_s == NULL || ready == NULL)
		usage();
	if (tn_parse_addr(listen_s, &la, err, sizeof(err)) < 0 ||
	    tn_parse_addr(to_s, &px.to, err, sizeof(err)) < 0) {
		fprintf(stderr, "cutproxy: %s\n", err);
		return 64;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	px.npairs = (int) max_conns;
	px.pairs = calloc((size_t) px.npairs, sizeof(*px.pairs));
	pfd = calloc((size_t) px.npairs * 2 + 1, sizeof(*pfd));
	if (px.pairs == NULL || pfd == NULL) {
		fprintf(stderr, "cutproxy: calloc: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < px.npairs; i++) {
		px.pairs[i].cfd = px.pairs[i].sfd = -1;
		px.pairs[i].up.buf = malloc(HALF_BUF);
		px.pairs[i].down.buf = malloc(HALF_BUF);
		if (px.pairs[i].up.buf == NULL || px.pairs[i].down.buf == NULL) {
			fprintf(stderr, "cutproxy: malloc: %s\n", strerror(errno));
			return 1;
		}
	}
	lfd = tn_listen(&la, 16, bound, sizeof(bound), err, sizeof(err));
	if (lfd < 0 || tn_set_nonblock(lfd, 1) < 0) {
		fprintf(stderr, "cutproxy: %s\n", lfd < 0 ? err : strerror(errno));
		return 1;
	}
	write_counts(&px);
	snprintf(line, sizeof(line), "%s\n", bound);
	if (tn_write_file_atomic(ready, line, err, sizeof(err)) < 0) {
		fprintf(stderr, "cutproxy: %s\n", err);
		return 1;
	}
	fprintf(stderr, "cutproxy: listening on %s, forwarding to %s\n", bound, to_s);

	deadline = tn_now() + (double) max_time;
	while (!stop_flag) {
		int n = 0, rc, timeout;
		double left = deadline - tn_now();

		if (left <= 0) {
			fprintf(stderr, "cutproxy: --max-time reached, exiting\n");
			break;
		}
		/* A short timeout bounds the window in which a signal arriving
		 * just before poll() would go unnoticed. */
		timeout = left < 1.0 ? (int) (left * 1000) + 1 : 1000;
		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		n++;
		for (i = 0; i < px.npairs; i++) {
			struct pair *p = &px.pairs[i];
			short ce = 0, se = 0;

			if (p->cfd < 0) {
				pfd[n].fd = pfd[n + 1].fd = -1;
				n += 2;
				continue;
			}
			if (p->up.len == 0 && !p->up.eof)
				ce |= POLLIN;
			if (p->down.len > 0)
				ce |= POLLOUT;
			if (p->down.len == 0 && !p->down.eof)
				se |= POLLIN;
			if (p->up.len > 0)
				se |= POLLOUT;
			/* An fd with nothing wanted is left out, so a hang-up
			 * on it cannot make poll() spin. */
			pfd[n].fd = ce ? p->cfd : -1;
			pfd[n].events = ce;
			pfd[n + 1].fd = se ? p->sfd : -1;
			pfd[n + 1].events = se;
			n += 2;
		}
		rc = poll(pfd, (nfds_t) n, timeout);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			fprintf(stderr, "cutproxy: poll: %s\n", strerror(errno));
			break;
		}
		for (i = 0; i < px.npairs; i++) {
			struct pair *p = &px.pairs[i];
			struct pollfd *c = &pfd[1 + 2 * i], *s = &pfd[2 + 2 * i];

			if (p->cfd < 0 || (c->revents == 0 && s->revents == 0))
				continue;
			if (pump(&px, p, &p->up, p->cfd, p->sfd,
				    c->fd >= 0 && (c->revents & (POLLIN | POLLHUP | POLLERR))))
				continue;
			(void) pump(&px, p, &p->down, p->sfd, p->cfd,
				s->fd >= 0 && (s->revents & (POLLIN | POLLHUP | POLLERR)));
		}
		if (pfd[0].revents & POLLIN)
			new_conn(&px, lfd);
	}
	for (i = 0; i < px.npairs; i++)
		if (px.pairs[i].cfd >= 0)
			pair_end(&px, &px.pairs[i], 0, "closed at exit");
	write_counts(&px);
	close(lfd);
	if (la.kind == TN_UNIX)
		(void) unlink(la.path);
	for (i = 0; i < px.npairs; i++) {
		free(px.pairs[i].up.buf);
		free(px.pairs[i].down.buf);
	}
	free(px.pairs);
	free(pfd);
	return 0;
}
