/*++
 * NAME
 *	connflood 1
 * SUMMARY
 *	connection floods and a slow proxy, from chosen source addresses
 *	(tests of mailrelayd's call limits)
 * SYNOPSIS
 *	connflood flood --to tcp:HOST:PORT --source ADDR[,ADDR...]
 *		[--bare N] [--wave W] [--connect N] [--batch B]
 *		[--called NAME] [--trickle S] [--hold S] [--status-file F]
 *	connflood proxy --listen tcp:HOST:PORT --to tcp:HOST:PORT
 *		--source ADDR --rate N --ready-file F [--max-time S]
 * DESCRIPTION
 *	flood: opens connections to --to, each bound first to a source
 *	address (the --source list taken in turn; 127.0.0.2 etc. are all
 *	loopback on Linux), all at once and non-blocking:
 * .IP "--connect N"
 *	(default 0) calls that complete the Yellow Book call set-up: each
 *	sends CONNECT (called --called, default FTP.MAIL, calling
 *	"connflood") at once and reads the answer, ACCEPT or DISCONNECT
 *	(its reason kept). An accepted call then trickles: one octet of
 *	NIFTP command stream every --trickle seconds (default 5), inside a
 *	Yellow Book data record and an NIFTP sub-record that never ends,
 *	so the far end sees octets arrive but never a whole command (no
 *	transfer starts). Doing a real SFT from here would need the NIFTP
 *	codec; the relay's between-transfers timeout is what is tested.
 *	With --batch B the calls are opened B at a time, each batch once
 *	the one before is answered (or closed): a flood of CONNECTs at once
 *	mostly meets the pending budget, paced ones meet the call budget.
 * .IP "--bare N"
 *	(default 0) connections that send nothing at all. They are
 *	opened once every call is answered or closed (at most 10 s after
 *	the start): an attacker's own flood must not crowd out its calls
 *	before they are set up. With --wave W they are opened W at a time,
 *	each wave once the one before has connected and 20 ms more have
 *	passed. All at once, a burst overruns the server's listen backlog:
 *	the kernel then completes some connections with SYN cookies that
 *	it cannot queue; the client holds an open connection the server
 *	never saw (it stays open here, bare_open counts it, until the
 *	end). Waves keep a test about the server's budgets, not about the
 *	kernel's backlog.
 * .PP
 *	Everything is held for --hold seconds (default 60), or until
 *	SIGTERM/SIGINT; connections the far end closes are counted, never
 *	reopened. The status file (rewritten atomically at most ten times
 *	a second when something changed, and at exit) holds:
 *
 *	  bare N            bare connections asked for
 *	  bare_connected N  ... whose TCP connect completed
 *	  bare_open N       ... still open
 *	  calls N           calls asked for
 *	  calls_connected N
 *	  calls_accepted N  ACCEPT received
 *	  calls_refused N   DISCONNECT received before ACCEPT
 *	  calls_open N      accepted and still open
 *	  connect_failed N  TCP connects that failed or took over 10 s
 *	  trickled N        octets trickled in all
 *	  settled 0|1       every connect done and every call answered
 *	                    (or closed)
 *	  reasons R:N ...   DISCONNECT reasons of refused calls and counts
 *
 *	proxy: listens on --listen (port 0 allowed; the bound address goes
 *	to the ready file, one line, atomically) and forwards each
 *	connection (at most 8 at once) to --to from the --source address:
 *	towards the server at most --rate octets per second (a token
 *	bucket refilled every 50 ms, holding at most one second's worth),
 *	back to the client unthrottled. A close or error on one side
 *	closes both. It exits after --max-time seconds (default 300) or on
 *	SIGTERM.
 *
 *	A test oracle: plain POSIX (tests/tools/toolnet.h), none of the
 *	code under test. Every wait is bounded.
 * DIAGNOSTICS
 *	Errors on stderr. Exit 0 at the end of --hold or --max-time or on
 *	SIGTERM/SIGINT, 1 on a start-up failure (e.g. a source address
 *	that cannot be bound), 64 on a usage error.
 *--*/
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "tests/tools/toolnet.h"

#define CF_MAX_CONNS	20000
#define CF_MAX_SOURCES	64
#define CF_CONNECT_S	10.0		/* a TCP connect may take this long */
#define CF_STATUS_S	0.1		/* status file at most this often */
#define PX_MAX		8		/* proxied connections at once */
#define PX_BUF		65536
#define PX_TICK_MS	50

enum { OPT_TO = 256, OPT_SOURCE, OPT_BARE, OPT_CONNECT, OPT_CALLED, OPT_TRICKLE, OPT_HOLD,
	OPT_STATUS, OPT_LISTEN, OPT_RATE, OPT_READY, OPT_MAXTIME, OPT_BATCH, OPT_WAVE };

static volatile sig_atomic_t cf_stop;

static void cf_sig(int sig)
{
	(void) sig;
	cf_stop = 1;
}

static int usage(void)
{
	fprintf(stderr,
	    "usage: connflood flood --to tcp:HOST:PORT --source ADDR[,ADDR...] [--bare N]\n"
	    "           [--wave W] [--connect N] [--batch B] [--called NAME] [--trickle S]\n"
	    "           [--hold S] [--status-file F]\n"
	    "       connflood proxy --listen tcp:HOST:PORT --to tcp:HOST:PORT --source ADDR\n"
	    "           --rate N --ready-file F [--max-time S]\n");
	return 64;
}

/* A source address to bind before connecting. */
struct source {
	int	family;
	struct sockaddr_storage ss;
	socklen_t len;
	char	text[INET6_ADDRSTRLEN];
};

/* parse_source - a numeric IPv4 or IPv6 address; 0 or -1 */
static int parse_source(const char *s, struct source *src)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *) &src->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &src->ss;

	memset(src, 0, sizeof(*src));
	if (tn_copy(src->text, sizeof(src->text), s, strlen(s)) < 0)
		return -1;
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		src->family = AF_INET;
		src->len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		src->family = AF_INET6;
		src->len = sizeof(*s6);
		return 0;
	}
	return -1;
}

/* parse_sources - a comma-separated list; the count, or -1 */
static int parse_sources(const char *list, struct source *src, int max)
{
	char    item[INET6_ADDRSTRLEN + 1];
	const char *p = list, *e;
	int     n = 0;

	while (*p) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (n >= max || tn_copy(item, sizeof(item), p, (size_t) (e - p)) < 0
		    || parse_source(item, &src[n]) < 0)
			return -1;
		n++;
		p = *e ? e + 1 : e;
	}
	return n > 0 ? n : -1;
}

/* resolve_to - the server's socket address (numeric host expected) */
static int resolve_to(const struct tn_addr *a, int family, struct sockaddr_storage *ss,
	socklen_t *len, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int     rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(a->host, a->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "resolve '%s': %s", a->host, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* open_from - a non-blocking socket bound to src, its connect to dst
 * started; the fd, or -1 with err */
static int open_from(const struct source *src, const struct sockaddr_storage *dst,
	socklen_t dlen, char *err, size_t errlen)
{
	int     fd, one = 1;

	if ((fd = socket(src->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *) &src->ss, src->len) < 0) {
		snprintf(err, errlen, "bind %s: %s", src->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *) dst, dlen) < 0 && errno != EINPROGRESS) {
		snprintf(err, errlen, "connect from %s: %s", src->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* --- flood ------------------------------------------------------------------ */

enum cstate { C_NOTYET, C_CONNECTING, C_OPEN, C_CLOSED, C_FAILED };

struct conn {
	int	fd;
	int	call;			/* sends CONNECT (else bare) */
	enum cstate st;
	double	started;
	int	answered;		/* ACCEPT or DISCONNECT seen (or closed) */
	int	accepted;
	unsigned char in[4];		/* the first octets received */
	size_t	nin;
	unsigned long trickled;		/* NIFTP octets sent */
	double	next_trickle;
};

struct flood {
	struct conn *c;
	size_t	n;
	size_t	nbare, ncalls;
	unsigned long trickled, failed;
	unsigned long reasons[256];
	const char *status;
	int	dirty;
	double	last_status;
};

static void status_write(struct flood *f)
{
	char    text[8192], err[256];
	size_t  i, len;
	unsigned long bc = 0, bo = 0, cc = 0, ca = 0, cr = 0, co = 0;
	int     settled = 1, r;

	for (i = 0; i < f->n; i++) {
		const struct conn *c = &f->c[i];

		if (c->st == C_NOTYET || c->st == C_CONNECTING
		    || (c->call && c->st == C_OPEN && !c->answered))
			settled = 0;
		if (c->st == C_FAILED || c->st == C_CONNECTING || c->st == C_NOTYET)
			continue;
		if (!c->call) {
			bc++;
			bo += c->st == C_OPEN;
			continue;
		}
		cc++;
		ca += c->accepted;
		cr += c->answered && !c->accepted && c->nin >= 2;
		co += c->accepted && c->st == C_OPEN;
	}
	len = (size_t) snprintf(text, sizeof(text), "bare %zu\nbare_connected %lu\nbare_open %lu\n"
	    "calls %zu\ncalls_connected %lu\ncalls_accepted %lu\ncalls_refused %lu\n"
	    "calls_open %lu\nconnect_failed %lu\ntrickled %lu\nsettled %d\nreasons",
	    f->nbare, bc, bo, f->ncalls, cc, ca, cr, co, f->failed, f->trickled, settled);
	for (r = 0; r < 256 && len < sizeof(text) - 32; r++)
		if (f->reasons[r])
			len += (size_t) snprintf(text + len, sizeof(text) - len, " %d:%lu", r,
			    f->reasons[r]);
	snprintf(text + len, sizeof(text) - len, "\n");
	if (f->status != NULL && tn_write_file_atomic(f->status, text, err, sizeof(err)) < 0)
		fprintf(stderr, "connflood: %s\n", err);
	f->dirty = 0;
	f->last_status = tn_now();
}

/* yb_connect - a Yellow Book CONNECT: called, calling, null QoS, null text */
static size_t yb_connect(unsigned char *b, size_t len, const char *called, const char *calling)
{
	size_t  n = 0, lc = strlen(called), lg = strlen(calling);

	if (lc > 127 || lg > 127 || len < 6 + lc + lg)
		return 0;
	b[n++] = 1;			/* a command record */
	b[n++] = 16;			/* CONNECT */
	b[n++] = (unsigned char) (0x80 | lc);
	memcpy(b + n, called, lc);
	n += lc;
	b[n++] = (unsigned char) (0x80 | lg);
	memcpy(b + n, calling, lg);
	n += lg;
	b[n++] = 0x80;			/* quality of service: null */
	b[n++] = 0x80;			/* explanatory text: null */
	return n;
}

static void conn_close(struct flood *f, struct conn *c, enum cstate st)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = st;
	if (c->call)
		c->answered = 1;
	if (st == C_FAILED)
		f->failed++;
	f->dirty = 1;
}

/* conn_input - octets from the server: the answer to CONNECT (ACCEPT, or
 * DISCONNECT with its reason: a one-octet first parameter), then discarded */
static void conn_input(struct flood *f, struct conn *c)
{
	unsigned char b[4096];
	ssize_t n;
	size_t  i;

	for (;;) {
		n = read(c->fd, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(f, c, C_CLOSED);
			return;
		}
		for (i = 0; i < (size_t) n && c->nin < sizeof(c->in); i++)
			c->in[c->nin++] = b[i];
		if (!c->call || c->answered || c->nin < 2)
			continue;
		if (c->in[0] == 1 && c->in[1] == 17) {
			c->accepted = 1;
			c->answered = 1;
		} else if (c->in[0] == 1 && c->in[1] == 18) {
			if (c->nin < 4)
				continue;
			f->reasons[c->in[3]]++;
			c->answered = 1;
		} else
			c->answered = 1;	/* something else: not accepted */
		f->dirty = 1;
	}
}

/* trickle - one NIFTP octet in a data record that never ends: the first
 * time the record type and sub-record headers too */
static void trickle(struct flood *f, struct conn *c)
{
	unsigned char b[4];
	size_t  n = 0;
	ssize_t w;

	if (c->trickled == 0)
		b[n++] = 0;			/* Yellow Book: a data record */
	b[n++] = 0x01;				/* a sub-record of one octet, not the last */
	b[n++] = c->trickled % 64 == 0 ? 0x3f : 0x00;	/* NIFTP: 63 octets follow, not
							 * the end of the record */
	w = send(c->fd, b, n, MSG_NOSIGNAL);
	if (w == (ssize_t) n) {
		c->trickled++;
		f->trickled++;
		f->dirty = 1;
	} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		conn_close(f, c, C_CLOSED);
}

/* calls_settled - every call connected and answered, or gone */
static int calls_settled(const struct flood *f)
{
	size_t  i;

	for (i = 0; i < f->ncalls; i++)
		if (f->c[i].st == C_CONNECTING || (f->c[i].call && f->c[i].st == C_OPEN
		    && !f->c[i].answered))
			return 0;
	return 1;
}

/* none_connecting - no connect of f->c[from..to-1] is still in progress */
static int none_connecting(const struct flood *f, size_t from, size_t to)
{
	size_t  i;

	for (i = from; i < to; i++)
		if (f->c[i].st == C_CONNECTING)
			return 0;
	return 1;
}

/* open_some - start the connects of f->c[from..to-1], the sources in
 * turn; -1 when a source address cannot be bound */
static int open_some(struct flood *f, size_t from, size_t to, const struct source *src,
	int nsrc, const struct sockaddr_storage *dst, socklen_t dlen)
{
	char    err[512];
	size_t  i;

	for (i = from; i < to; i++) {
		struct conn *k = &f->c[i];

		k->started = tn_now();
		k->st = C_CONNECTING;
		k->fd = open_from(&src[i % (size_t) nsrc], dst, dlen, err, sizeof(err));
		if (k->fd >= 0)
			continue;
		fprintf(stderr, "connflood: %s\n", err);
		if (strncmp(err, "bind", 4) == 0)
			return -1;
		k->st = C_FAILED;
		f->failed++;
	}
	f->dirty = 1;
	return 0;
}

static int cmd_flood(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "bare", required_argument, NULL, OPT_BARE },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "wave", required_argument, NULL, OPT_WAVE },
		{ "called", required_argument, NULL, OPT_CALLED },
		{ "trickle", required_argument, NULL, OPT_TRICKLE },
		{ "hold", required_argument, NULL, OPT_HOLD },
		{ "status-file", required_argument, NULL, OPT_STATUS },
		{ NULL, 0, NULL, 0 }
	};
	struct source src[CF_MAX_SOURCES];
	struct tn_addr to;
	struct sockaddr_storage dst;
	socklen_t dlen;
	struct flood f;
	struct pollfd *pf;
	size_t *idx;
	unsigned char hello[300];
	size_t  hlen, i;
	const char *tos = NULL, *srcs = NULL, *called = "FTP.MAIL";
	uint64_t nbare = 0, ncalls = 0, trickle_s = 5, hold = 60, batch = 0, wave = 0;
	size_t  ncopen, nbopen = 0;
	double  wave_at = 0;
	double  end, now, bare_at;
	char    err[512];
	int     c, nsrc = 0, bare_open = 0;

	memset(&f, 0, sizeof(f));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			tos = optarg;
			break;
		case OPT_SOURCE:
			srcs = optarg;
			break;
		case OPT_BARE:
			if (tn_parse_u64(optarg, 0, CF_MAX_CONNS, &nbare) < 0)
				return usage();
			break;
		case OPT_CONNECT:
			if (tn_parse_u64(optarg, 0, CF_MAX_CONNS, &ncalls) < 0)
				return usage();
			break;
		case OPT_BATCH:
			if (tn_parse_u64(optarg, 1, CF_MAX_CONNS, &batch) < 0)
				return usage();
			break;
		case OPT_WAVE:
			if (tn_parse_u64(optarg, 1, CF_MAX_CONNS, &wave) < 0)
				return usage();
			break;
		case OPT_CALLED:
			called = optarg;
			break;
		case OPT_TRICKLE:
			if (tn_parse_u64(optarg, 1, 3600, &trickle_s) < 0)
				return usage();
			break;
		case OPT_HOLD:
			if (tn_parse_u64(optarg, 1, 86400, &hold) < 0)
				return usage();
			break;
		case OPT_STATUS:
			f.status = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || tos == NULL || srcs == NULL || nbare + ncalls > CF_MAX_CONNS)
		return usage();
	if (tn_parse_addr(tos, &to, err, sizeof(err)) < 0 || to.kind != TN_TCP) {
		fprintf(stderr, "connflood: --to: want tcp:HOST:PORT\n");
		return 64;
	}
	if ((nsrc = parse_sources(srcs, src, CF_MAX_SOURCES)) < 0) {
		fprintf(stderr, "connflood: --source '%s': want numeric addresses\n", srcs);
		return 64;
	}
	if (resolve_to(&to, src[0].family, &dst, &dlen, err, sizeof(err)) < 0) {
		fprintf(stderr, "connflood: %s\n", err);
		return 1;
	}
	if ((hlen = yb_connect(hello, sizeof(hello), called, "connflood")) == 0) {
		fprintf(stderr, "connflood: --called too long\n");
		return 64;
	}
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < nbare + ncalls + 64
		    && rl.rlim_max >= nbare + ncalls + 64) {
			rl.rlim_cur = nbare + ncalls + 64;
			(void) setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	signal(SIGTERM, cf_sig);
	signal(SIGINT, cf_sig);
	signal(SIGPIPE, SIG_IGN);
	f.nbare = nbare;
	f.ncalls = ncalls;
	f.n = nbare + ncalls;
	f.c = calloc(f.n + 1, sizeof(*f.c));
	pf = calloc(f.n + 1, sizeof(*pf));
	idx = calloc(f.n + 1, sizeof(*idx));
	if (f.c == NULL || pf == NULL || idx == NULL) {
		fprintf(stderr, "connflood: out of memory\n");
		return 1;
	}
	/* the calls first; the bare connections once the calls are answered */
	for (i = 0; i < f.n; i++) {
		f.c[i].call = i < ncalls;
		f.c[i].fd = -1;
		f.c[i].st = C_NOTYET;
	}
	ncopen = batch > 0 && batch < ncalls ? (size_t) batch : ncalls;
	if (open_some(&f, 0, ncopen, src, nsrc, &dst, dlen) < 0)
		return 1;
	status_write(&f);
	end = tn_now() + (double) hold;
	bare_at = tn_now() + CF_CONNECT_S;
	while (!cf_stop && (now = tn_now()) < end) {
		size_t  np = 0;
		double  next = end;
		int     rc;

		if (ncopen < ncalls && calls_settled(&f)) {
			size_t  more = ncalls - ncopen < batch ? ncalls - ncopen : (size_t) batch;

			if (open_some(&f, ncopen, ncopen + more, src, nsrc, &dst, dlen) < 0)
				return 1;
			ncopen += more;
			bare_at = tn_now() + CF_CONNECT_S;
		}
		if (!bare_open && ncopen == ncalls && (now >= bare_at || calls_settled(&f)))
			bare_open = 1;
		if (bare_open && nbopen < nbare && now >= wave_at
		    && none_connecting(&f, ncalls, ncalls + nbopen)) {
			size_t  more = wave > 0 && wave < nbare - nbopen ? (size_t) wave
			    : nbare - nbopen;

			if (open_some(&f, ncalls + nbopen, ncalls + nbopen + more, src, nsrc, &dst,
			    dlen) < 0)
				return 1;
			nbopen += more;
			wave_at = 0;
			now = tn_now();
		}
		if (bare_open && nbopen < nbare && wave_at == 0
		    && none_connecting(&f, ncalls, ncalls + nbopen))
			wave_at = now + 0.02;
		for (i = 0; i < f.n; i++) {
			struct conn *k = &f.c[i];

			if (k->st == C_CONNECTING && now - k->started > CF_CONNECT_S) {
				conn_close(&f, k, C_FAILED);
				continue;
			}
			if (k->st == C_OPEN && k->accepted && now >= k->next_trickle) {
				trickle(&f, k);
				k->next_trickle = now + (double) trickle_s;
			}
			if (k->st == C_OPEN && k->accepted && k->next_trickle < next)
				next = k->next_trickle;
			if (k->st != C_CONNECTING && k->st != C_OPEN)
				continue;
			pf[np].fd = k->fd;
			pf[np].events = k->st == C_CONNECTING ? POLLOUT : POLLIN;
			pf[np].revents = 0;
			idx[np++] = i;
		}
		if (f.dirty && now - f.last_status >= CF_STATUS_S)
			status_write(&f);
		{
			double  wait = next - now;

			if (f.dirty && wait > CF_STATUS_S)
				wait = CF_STATUS_S;
			if (wait > 0.5)
				wait = 0.5;
			if (wait < 0)
				wait = 0;
			rc = poll(pf, np, (int) (wait * 1000) + 1);
		}
		if (rc < 0 && errno != EINTR) {
			fprintf(stderr, "connflood: poll: %s\n", strerror(errno));
			break;
		}
		for (i = 0; rc > 0 && i < np; i++) {
			struct conn *k = &f.c[idx[i]];

			if (pf[i].revents == 0 || k->fd != pf[i].fd)
				continue;
			if (k->st == C_CONNECTING) {
				int     soerr = 0;
				socklen_t sl = sizeof(soerr);

				if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
					conn_close(&f, k, C_FAILED);
					continue;
				}
				k->st = C_OPEN;
				f.dirty = 1;
				if (k->call && send(k->fd, hello, hlen, MSG_NOSIGNAL) != (ssize_t) hlen)
					conn_close(&f, k, C_CLOSED);
				continue;
			}
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR))
				conn_input(&f, k);
		}
	}
	status_write(&f);
	for (i = 0; i < f.n; i++)
		if (f.c[i].fd >= 0)
			close(f.c[i].fd);
	free(f.c);
	free(pf);
	free(idx);
	return 0;
}

/* --- proxy ------------------------------------------------------------------ */

struct half {
	unsigned char b[PX_BUF];
	size_t	off, len;
	int	eof;
};

struct pconn {
	int	cfd, sfd;		/* client, server; -1 when unused */
	int	sconnecting;
	struct half up, down;		/* client to server, server to client */
	double	tokens;
};

static void px_close(struct pconn *p)
{
	if (p->cfd >= 0)
		close(p->cfd);
	if (p->sfd >= 0)
		close(p->sfd);
	memset(p, 0, sizeof(*p));
	p->cfd = p->sfd = -1;
}

/* px_read - fill h from fd; -1 on error or EOF with nothing to pass on */
static int px_read(int fd, struct half *h)
{
	ssize_t n;

	if (h->len > 0 || h->eof)
		return 0;
	n = read(fd, h->b, sizeof(h->b));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	h->off = 0;
	h->len = (size_t) n;
	return 0;
}

/* px_write - write at most max octets of h to fd; -1 on error */
static int px_write(int fd, struct half *h, size_t max)
{
	ssize_t n;
	size_t  want = h->len < max ? h->len : max;

	if (want == 0)
		return 0;
	n = send(fd, h->b + h->off, want, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return -1;
	h->off += (size_t) n;
	h->len -= (size_t) n;
	return (int) n;
}

static int cmd_proxy(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "to", required_argument, NULL, OPT_TO },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "max-time", required_argument, NULL, OPT_MAXTIME },
		{ NULL, 0, NULL, 0 }
	};
	struct pconn px[PX_MAX];
	struct tn_addr la, to;
	struct source src;
	struct sockaddr_storage dst;
	socklen_t dlen;
	const char *ls = NULL, *tos = NULL, *srcs = NULL, *ready = NULL;
	uint64_t rate = 0, maxtime = 300;
	char    bound[512], err[512], line[600];
	double  end, last;
	int     lfd, c, i;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			ls = optarg;
			break;
		case OPT_TO:
			tos = optarg;
			break;
		case OPT_SOURCE:
			srcs = optarg;
			break;
		case OPT_RATE:
			if (tn_parse_u64(optarg, 1, 1ULL << 30, &rate) < 0)
				return usage();
			break;
		case OPT_READY:
			ready = optarg;
			break;
		case OPT_MAXTIME:
			if (tn_parse_u64(optarg, 1, 86400, &maxtime) < 0)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || ls == NULL || tos == NULL || srcs == NULL || rate == 0
	    || ready == NULL)
		return usage();
	if (tn_parse_addr(ls, &la, err, sizeof(err)) < 0 || tn_parse_addr(tos, &to, err,
	    sizeof(err)) < 0 || to.kind != TN_TCP || parse_source(srcs, &src) < 0) {
		fprintf(stderr, "connflood: proxy: bad --listen, --to or --source\n");
		return 64;
	}
	if (resolve_to(&to, src.family, &dst, &dlen, err, sizeof(err)) < 0
	    || (lfd = tn_listen(&la, 16, bound, sizeof(bound), err, sizeof(err))) < 0) {
		fprintf(stderr, "connflood: %s\n", err);
		return 1;
	}
	(void) tn_set_nonblock(lfd, 1);
	snprintf(line, sizeof(line), "%s\n", bound);
	if (tn_write_file_atomic(ready, line, err, sizeof(err)) < 0) {
		fprintf(stderr, "connflood: %s\n", err);
		return 1;
	}
	signal(SIGTERM, cf_sig);
	signal(SIGINT, cf_sig);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < PX_MAX; i++) {
		memset(&px[i], 0, sizeof(px[i]));
		px[i].cfd = px[i].sfd = -1;
	}
	end = tn_now() + (double) maxtime;
	last = tn_now();
	while (!cf_stop && tn_now() < end) {
		struct pollfd pf[1 + 2 * PX_MAX];
		int     np = 0, slot[1 + 2 * PX_MAX], rc;
		double  now = tn_now(), dt = now - last;

		last = now;
		for (i = 0; i < PX_MAX; i++) {
			struct pconn *p = &px[i];

			if (p->cfd < 0)
				continue;
			p->tokens += dt * (double) rate;
			if (p->tokens > (double) rate)
				p->tokens = (double) rate;
			if (!p->sconnecting && p->up.len > 0 && p->tokens >= 1) {
				int     w = px_write(p->sfd, &p->up, (size_t) p->tokens);

				if (w < 0) {
					px_close(p);
					continue;
				}
				p->tokens -= w;
			}
			if (!p->sconnecting && p->up.len == 0 && p->up.eof) {
				(void) shutdown(p->sfd, SHUT_WR);
				p->up.eof = 2;
			}
			pf[np].fd = p->cfd;
			pf[np].events = (short) ((p->up.len == 0 && !p->up.eof ? POLLIN : 0)
			    | (p->down.len > 0 ? POLLOUT : 0));
			slot[np++] = i;
			pf[np].fd = p->sfd;
			pf[np].events = (short) (p->sconnecting ? POLLOUT
			    : ((p->down.len == 0 && !p->down.eof ? POLLIN : 0)
			    | (p->up.len > 0 && p->tokens >= 1 ? POLLOUT : 0)));
			slot[np++] = PX_MAX + i;
		}
		pf[np].fd = lfd;
		pf[np].events = POLLIN;
		slot[np++] = -1;
		rc = poll(pf, (nfds_t) np, PX_TICK_MS);
		if (rc < 0 && errno != EINTR)
			break;
		for (c = 0; rc > 0 && c < np; c++) {
			struct pconn *p;

			if (pf[c].revents == 0)
				continue;
			if (slot[c] < 0) {
				int     cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (cfd < 0)
					continue;
				for (i = 0; i < PX_MAX && px[i].cfd >= 0; i++)
					;
				if (i == PX_MAX) {
					tn_rst_close(cfd);
					continue;
				}
				px[i].cfd = cfd;
				px[i].sfd = open_from(&src, &dst, dlen, err, sizeof(err));
				px[i].sconnecting = 1;
				px[i].tokens = 0;
				if (px[i].sfd < 0) {
					fprintf(stderr, "connflood: proxy: %s\n", err);
					px[i].sfd = -1;
					px_close(&px[i]);
				}
				continue;
			}
			p = &px[slot[c] % PX_MAX];
			if (p->cfd < 0)
				continue;
			if (slot[c] >= PX_MAX) {	/* the server side */
				if (p->sconnecting) {
					int     soerr = 0;
					socklen_t sl = sizeof(soerr);

					if (getsockopt(p->sfd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0
					    || soerr) {
						px_close(p);
						continue;
					}
					p->sconnecting = 0;
					continue;
				}
				if ((pf[c].revents & (POLLIN | POLLHUP | POLLERR)) && !p->down.eof
				    && p->down.len == 0 && px_read(p->sfd, &p->down) < 0) {
					px_close(p);	/* the server closed: both go */
					continue;
				}
				if ((pf[c].revents & POLLOUT) && p->tokens >= 1) {
					int     w = px_write(p->sfd, &p->up, (size_t) p->tokens);

					if (w < 0) {
						px_close(p);
						continue;
					}
					p->tokens -= w;
				}
			} else {			/* the client side */
				if ((pf[c].revents & (POLLIN | POLLHUP | POLLERR)) && !p->up.eof
				    && p->up.len == 0 && px_read(p->cfd, &p->up) < 0)
					p->up.eof = 1;
				if ((pf[c].revents & POLLOUT) && px_write(p->cfd, &p->down,
				    sizeof(p->down.b)) < 0) {
					px_close(p);
					continue;
				}
				if ((pf[c].revents & POLLERR) != 0 || ((pf[c].revents & POLLHUP)
				    && p->up.eof && p->up.len == 0 && p->down.len == 0)) {
					px_close(p);	/* the client is gone both ways */
					continue;
				}
			}
		}
	}
	for (i = 0; i < PX_MAX; i++)
		if (px[i].cfd >= 0)
			px_close(&px[i]);
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "flood") == 0)
		return cmd_flood(argc - 1, argv + 1);
	if (strcmp(argv[1], "proxy") == 0)
		return cmd_proxy(argc - 1, argv + 1);
	return usage();
}
