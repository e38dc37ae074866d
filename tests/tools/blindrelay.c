/*++
 * NAME
 *	blindrelay 1
 * SUMMARY
 *	a relay that moves octets without looking at them: the floor of
 *	what any gateway costs (benchmark baseline)
 * SYNOPSIS
 *	blindrelay --listen ADDR --to ADDR --ready-file F [--copy | --kernel]
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
 *	With --kernel (tcp: on both sides, and the right to load BPF
 *	programs: root or CAP_BPF with CAP_NET_ADMIN) no process touches
 *	the octets at all: each socket goes into a BPF sockmap whose
 *	sk_skb verdict program redirects what arrives on it to the other
 *	socket's output, inside the kernel. The two programs are six
 *	instructions each, written out here, so no BPF compiler or library
 *	is needed. The relay only waits for either side to hang up. That
 *	is the floor of what one more connection costs with no gateway
 *	process in the path; its CPU is spent in the senders' and the
 *	kernel's threads, not in the relay. Octets the caller sent before
 *	its socket entered the map are read and passed on first; that keeps
 *	their order only because the caller then waits for an answer
 *	(Yellow Book: CONNECT, then ACCEPT), and a hang-up is passed on
 *	as soon as it is seen, so a benchmark floor is all this is.
 *
 *	Like the other tools here it uses none of util/ or niftp/.
 * DIAGNOSTICS
 *	Errors on stderr. Exit 0 on SIGTERM or when --max-time (default
 *	3600 s) has passed, 1 on a setup error (--kernel: the kernel
 *	refused the maps or programs), 64 for usage.
 *--*/
#include <getopt.h>
#include <signal.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

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


/*
 * --kernel: the sockmap floor
 */

struct kern {
	int	map[2];		/* sockmap i holds socket i (one entry) */
	int	prog[2];	/* prog i, on map i: redirect to map 1 - i */
};

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* kern_prog - an sk_skb verdict program: bpf_sk_redirect_map(skb,
 * to_map, 0, 0), i.e. out of the socket at key 0 of to_map */
static int kern_prog(int to_map, char *err, size_t errlen)
{
	static char log[4096];
	struct bpf_insn in[6];
	union bpf_attr a;
	int fd;

	memset(in, 0, sizeof(in));
	in[0].code = BPF_LD | BPF_DW | BPF_IMM;		/* r2 = to_map (two slots) */
	in[0].dst_reg = 2;
	in[0].src_reg = BPF_PSEUDO_MAP_FD;
	in[0].imm = to_map;
	in[2].code = BPF_ALU64 | BPF_MOV | BPF_K;	/* r3 = 0: the key */
	in[2].dst_reg = 3;
	in[3].code = BPF_ALU64 | BPF_MOV | BPF_K;	/* r4 = 0: egress */
	in[3].dst_reg = 4;
	in[4].code = BPF_JMP | BPF_CALL;		/* r1 is the skb already */
	in[4].imm = BPF_FUNC_sk_redirect_map;
	in[5].code = BPF_JMP | BPF_EXIT;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SK_SKB;
	a.insns = (uint64_t)(uintptr_t)in;
	a.insn_cnt = 6;
	a.license = (uint64_t)(uintptr_t)"GPL";
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	log[0] = 0;
	if ((fd = (int)sys_bpf(BPF_PROG_LOAD, &a)) < 0)
		snprintf(err, errlen, "BPF program refused: %s%s%.200s", strerror(errno),
		    log[0] ? ": " : "", log);
	return fd;
}

/* kern_setup - two sockmaps and their programs; 0, or -1 with err */
static int kern_setup(struct kern *k, char *err, size_t errlen)
{
	union bpf_attr a;
	int i;

	k->map[0] = k->map[1] = k->prog[0] = k->prog[1] = -1;
	for (i = 0; i < 2; i++) {
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_SOCKMAP;
		a.key_size = 4;
		a.value_size = 4;
		a.max_entries = 1;
		if ((k->map[i] = (int)sys_bpf(BPF_MAP_CREATE, &a)) < 0) {
			snprintf(err, errlen, "sockmap refused: %s", strerror(errno));
			return -1;
		}
	}
	for (i = 0; i < 2; i++) {
		if ((k->prog[i] = kern_prog(k->map[1 - i], err, errlen)) < 0)
			return -1;
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)k->map[i];
		a.attach_bpf_fd = (uint32_t)k->prog[i];
		a.attach_type = BPF_SK_SKB_VERDICT;
		if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
			snprintf(err, errlen, "attaching the verdict program: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* kern_relay - one connection: both sockets into their maps, what came
 * before passed on, then wait for a hang-up */
static void kern_relay(struct kern *k, int a, int b)
{
	union bpf_attr at;
	unsigned char buf[65536];
	struct pollfd pf[2];
	uint32_t key = 0, val;
	int i, fd[2] = { a, b };
	ssize_t n;

	for (i = 0; i < 2; i++) {
		val = (uint32_t)fd[i];
		memset(&at, 0, sizeof(at));
		at.map_fd = (uint32_t)k->map[i];
		at.key = (uint64_t)(uintptr_t)&key;
		at.value = (uint64_t)(uintptr_t)&val;
		at.flags = BPF_ANY;
		if (sys_bpf(BPF_MAP_UPDATE_ELEM, &at) < 0) {
			fprintf(stderr, "blindrelay: socket into sockmap: %s\n", strerror(errno));
			return;
		}
	}
	for (i = 0; i < 2; i++)
		while ((n = recv(fd[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			if (tn_write_all(fd[1 - i], buf, (size_t)n) < 0)
				return;
	while (!stop_now) {
		for (i = 0; i < 2; i++) {
			pf[i].fd = fd[i];
			pf[i].events = POLLRDHUP;
		}
		if (poll(pf, 2, 1000) < 0 && errno != EINTR)
			break;
		if ((pf[0].revents | pf[1].revents) & (POLLRDHUP | POLLHUP | POLLERR))
			break;
	}
	/* closing the sockets takes them out of the maps */
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "to", required_argument, NULL, 't' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "copy", no_argument, NULL, 'c' },
		{ "kernel", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "max-time", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	struct tn_addr la, ta;
	struct sigaction sa;
	const char *listen_s = NULL, *to_s = NULL, *ready = NULL;
	char err[512], bound[512], text[600];
	uint64_t maxtime = 3600;
	double end;
	struct kern k;
	int c, copy = 0, kernel = 0, lfd, a, b;
	struct pollfd pf;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': listen_s = optarg; break;
		case 't': to_s = optarg; break;
		case 'r': ready = optarg; break;
		case 'c': copy = 1; break;
		case 'k': kernel = 1; break;
		case 'h':
			printf("usage: blindrelay --listen ADDR --to ADDR --ready-file F [--copy | --kernel]\n"
			    "                  [--max-time S]\n"
			    "A benchmark floor: moves octets between callers of ADDR and --to,\n"
			    "spliced (default), copied (--copy), or redirected inside the kernel\n"
			    "by a BPF sockmap (--kernel: tcp: only, root).\n");
			return 0;
		case 'm':
			if (tn_parse_u64(optarg, 1, 86400, &maxtime) < 0)
				return 64;
			break;
		default: return 64;
		}
	}
	if (optind != argc || listen_s == NULL || to_s == NULL || ready == NULL
	    || (copy && kernel)) {
		fprintf(stderr, "usage: blindrelay --listen ADDR --to ADDR --ready-file F [--copy | --kernel]\n");
		return 64;
	}
	if (tn_parse_addr(listen_s, &la, err, sizeof(err)) < 0
	    || tn_parse_addr(to_s, &ta, err, sizeof(err)) < 0) {
		fprintf(stderr, "blindrelay: %s\n", err);
		return 64;
	}
	if (kernel && (la.kind != TN_TCP || ta.kind != TN_TCP)) {
		fprintf(stderr, "blindrelay: --kernel joins tcp: to tcp: only\n");
		return 64;
	}
	if (kernel && kern_setup(&k, err, sizeof(err)) < 0) {
		fprintf(stderr, "blindrelay: --kernel: %s\n", err);
		return 1;
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
		if (kernel)
			kern_relay(&k, a, b);
		else
			relay(a, b, copy);
		close(a);
		close(b);
	}
	close(lfd);
	if (la.kind == TN_UNIX)
		(void) unlink(la.path);
	return 0;
}
