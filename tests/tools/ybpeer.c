/*++
 * NAME
 *	ybpeer 1
 * SUMMARY
 *	a transport-service peer that sends and records Yellow Book data
 *	records with random boundaries, with a RESET in the middle
 * SYNOPSIS
 *	ybpeer send ADDR --seed S [--called C] [--records N] [--after M]
 *		[--max-record B] [--reset-at K [--sync]] [--sent FILE]
 *		[--timeout S]
 *	ybpeer recv --listen ADDR --ready-file F --out PREFIX
 *		[--reset-after N] [--timeout S]
 * DESCRIPTION
 *	The two ends of one call for testing what lies between them (the
 *	gateway, on its splice path and its copying path): run directly,
 *	they give the reference; through a gateway, the receiver's files
 *	must be the same, octet for octet.
 *
 *	send: call ADDR (called address C, default FTP) and send part 1,
 *	N records (default 40), then part 2, M records (default 20). The
 *	length of each record (1 to B octets, default 262144, small ones
 *	now and then) and its octets come from the seed S, and so does the
 *	way each record is cut into pieces for ts_send() (1 to 4096
 *	octets, now and then up to 64 KiB): each piece starts its own
 *	sub-records, so the stream has sub-records of every size, not only
 *	full ones. Part 2 does not depend on where part 1 ended.
 *	--reset-at K: after K records of part 1 (K <= N) send a RESET
 *	and wait for its answer; then part 2 (the rest of part 1 is not
 *	sent). With --sync first a record "SYNC", and the RESET only once
 *	the receiver's "SYNC" came back: nothing is in flight then, and
 *	what arrives is the same on every run. A RESET from the far side
 *	is answered, the record being sent is given up, and part 2 follows
 *	the answer. At the end DISCONNECT (reason 0, "ybpeer done"), then
 *	"ybpeer: sent OCTETS" on standard output. --sent FILE gets the
 *	octets of part 1 as generated (the N records end to end).
 *
 *	recv: accept one call on ADDR (the bound address goes to the
 *	ready file), record what arrives and exit when it ends: the octets
 *	into PREFIX.pre.data until the RESET (the far side's, or the
 *	answer to ours), into PREFIX.post.data after it; a line "rec LEN"
 *	at each push into PREFIX.pre.idx or PREFIX.post.idx, "reset
 *	REASON TEXT" and "disconnect REASON TEXT" there too. A record
 *	"SYNC" is answered with a record "SYNC". --reset-after N: send a
 *	RESET once N octets arrived (what comes before its answer is
 *	dropped by the transport service). Standard output: "ybpeer:
 *	received OCTETS".
 *
 *	Both use the transport service (libniftp), which is not what is
 *	tested: the direct run is the reference. Every wait is bounded by
 *	--timeout (default 120 s).
 * DIAGNOSTICS
 *	Errors on stderr; exit 0 when the call ended with DISCONNECT, 1
 *	otherwise, 64 for usage.
 *--*/
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/ts.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"

#define PIECE_MAX	65536
#define BURST		(256 * 1024)	/* sent per turn: the loop reads between turns */
#define SYNC		"SYNC"

enum { OPT_SEED = 256, OPT_CALLED, OPT_RECORDS, OPT_AFTER, OPT_MAXREC, OPT_RESET_AT,
	OPT_SYNC, OPT_SENT, OPT_TIMEOUT, OPT_LISTEN, OPT_READY, OPT_OUT, OPT_RESET_AFTER };

/* rnd - xorshift32 */
static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* octet - octet j of record r (part p) */
static unsigned char octet(uint32_t seed, int p, uint32_t r, size_t j)
{
	uint32_t h = seed ^ (uint32_t)p * 0x9e3779b9u ^ r * 0x85ebca6bu ^ (uint32_t)j * 0xc2b2ae35u;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return (unsigned char)h;
}

/* --- send ------------------------------------------------------------------ */

enum sst { S_CALL, S_SEND, S_SYNC, S_RESET, S_END, S_DONE };

struct sender {
	struct loop *loop;
	struct ts_conn *c;
	enum sst st;
	uint32_t seed, xlen, xcut;
	int	part, rec, nrec[2];
	int	reset_at, sync;
	size_t	maxrec, reclen, off;
	uint64_t sent;
	int	ok;
	uint64_t t_more;	/* the next turn */
};

static void pump(struct sender *s);

/* more_cb - the next turn of sending */
static void more_cb(struct loop *loop, void *arg)
{
	struct sender *s = arg;

	(void)loop;
	s->t_more = 0;
	pump(s);
}

/* next_len - the length of the next record of the current part */
static size_t next_len(struct sender *s)
{
	uint32_t v = rnd(&s->xlen);

	if (v % 5 == 0)
		return 1 + rnd(&s->xlen) % 300;
	return 1 + rnd(&s->xlen) % s->maxrec;
}

/* start_part - records of part p from now on */
static void start_part(struct sender *s, int p)
{
	s->part = p;
	s->rec = 0;
	s->off = 0;
	s->xlen = s->seed * 2 + 1 + (uint32_t)p * 1000003u;
	if (s->xlen == 0)
		s->xlen = 1;
	s->reclen = next_len(s);
}

/* pump - send what there is room for */
static void pump(struct sender *s)
{
	unsigned char piece[PIECE_MAX];
	size_t n, j, turn = 0;
	int push;

	while (s->st == S_SEND) {
		if (turn >= BURST) {
			if (s->t_more == 0)
				s->t_more = loop_timer_add(s->loop, 0, more_cb, s);
			return;
		}
		if (s->rec >= s->nrec[s->part]) {
			if (s->part == 0) {
				start_part(s, 1);
				continue;
			}
			s->st = S_END;
			ts_disconnect(s->c, TS_R_NORMAL, "ybpeer done");
			return;
		}
		if (s->part == 0 && s->reset_at >= 0 && s->rec == s->reset_at) {
			if (s->sync) {
				if (ts_room(s->c) < 8) {
					ts_want_room(s->c);
					return;
				}
				(void)ts_send(s->c, SYNC, 4, 1);
				s->sent += 4;
				s->st = S_SYNC;
				return;
			}
			s->st = S_RESET;
			ts_reset(s->c, TS_R_APPFAIL, "ybpeer send reset");
			return;
		}
		n = rnd(&s->xcut) % 16 == 0 ? 1 + rnd(&s->xcut) % PIECE_MAX
			: 1 + rnd(&s->xcut) % 4096;
		if (n > s->reclen - s->off)
			n = s->reclen - s->off;
		if (ts_room(s->c) < n) {
			ts_want_room(s->c);
			return;
		}
		for (j = 0; j < n; j++)
			piece[j] = octet(s->seed, s->part, (uint32_t)s->rec, s->off + j);
		push = s->off + n == s->reclen;
		if (ts_send(s->c, piece, n, push) < 0)
			return;	/* closed: its DISCONNECT follows */
		s->sent += n;
		s->off += n;
		turn += n;
		if (push) {
			s->rec++;
			s->off = 0;
			s->reclen = next_len(s);
		}
	}
}

/* send_ev - the call's events */
static void send_ev(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct sender *s = arg;

	switch (ev->type) {
	case TS_EV_ACCEPTED:
		s->st = S_SEND;
		pump(s);
		break;
	case TS_EV_DATA:
		if (s->st == S_SYNC && ev->push && ev->len == 4
		    && memcmp(ev->data, SYNC, 4) == 0) {
			s->st = S_RESET;
			ts_reset(c, TS_R_APPFAIL, "ybpeer send reset");
		}
		break;
	case TS_EV_DRAINED:
		pump(s);
		break;
	case TS_EV_RESET:
		if (ev->confirm) {
			if (s->st == S_RESET) {
				start_part(s, 1);
				s->st = S_SEND;
				pump(s);
			}
			break;
		}
		/* the far side's: answer, give up the record, go on with part 2 */
		ts_reset(c, ev->reason, "ybpeer send answer");
		if (s->st == S_SEND || s->st == S_SYNC || s->st == S_RESET) {
			start_part(s, 1);
			s->st = S_SEND;
			pump(s);
		}
		break;
	case TS_EV_DISCONNECT:
		loop_timer_del(s->loop, s->t_more);
		s->t_more = 0;
		s->ok = s->st == S_END && ev->reason == TS_R_NORMAL;
		if (!s->ok)
			fprintf(stderr, "ybpeer: send: call ended: reason %d: %s\n", ev->reason,
				ev->text);
		s->st = S_DONE;
		ts_close(c);
		s->c = NULL;
		loop_stop(s->loop);
		break;
	case TS_EV_INCOMING:
		break;
	}
}

/* write_part1 - the octets of part 1 as generated */
static int write_part1(struct sender *s, const char *path)
{
	struct sender g = *s;
	FILE *fp = fopen(path, "w");
	size_t j;

	if (fp == NULL) {
		fprintf(stderr, "ybpeer: open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	start_part(&g, 0);
	for (g.rec = 0; g.rec < g.nrec[0]; g.rec++) {
		for (j = 0; j < g.reclen; j++)
			(void)putc(octet(g.seed, 0, (uint32_t)g.rec, j), fp);
		g.reclen = next_len(&g);
	}
	if (fclose(fp) != 0) {
		fprintf(stderr, "ybpeer: write '%s': %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void timeout_cb(struct loop *loop, void *arg)
{
	int *timedout = arg;

	*timedout = 1;
	loop_stop(loop);
}

static int ybpeer_send(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "called", required_argument, NULL, OPT_CALLED },
		{ "records", required_argument, NULL, OPT_RECORDS },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "max-record", required_argument, NULL, OPT_MAXREC },
		{ "reset-at", required_argument, NULL, OPT_RESET_AT },
		{ "sync", no_argument, NULL, OPT_SYNC },
		{ "sent", required_argument, NULL, OPT_SENT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	struct sender s;
	const char *called = "FTP", *sentpath = NULL;
	char err[512];
	int c, timeout = 120, timedout = 0;

	memset(&s, 0, sizeof(s));
	s.nrec[0] = 40;
	s.nrec[1] = 20;
	s.maxrec = 262144;
	s.reset_at = -1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_SEED: s.seed = (uint32_t)strtoul(optarg, NULL, 10); break;
		case OPT_CALLED: called = optarg; break;
		case OPT_RECORDS: s.nrec[0] = atoi(optarg); break;
		case OPT_AFTER: s.nrec[1] = atoi(optarg); break;
		case OPT_MAXREC: s.maxrec = (size_t)strtoul(optarg, NULL, 10); break;
		case OPT_RESET_AT: s.reset_at = atoi(optarg); break;
		case OPT_SYNC: s.sync = 1; break;
		case OPT_SENT: sentpath = optarg; break;
		case OPT_TIMEOUT: timeout = atoi(optarg); break;
		default: return 64;
		}
	}
	if (optind + 1 != argc || s.maxrec == 0 || s.nrec[0] < 0 || s.nrec[1] < 0
	    || s.reset_at > s.nrec[0] || timeout <= 0) {
		fprintf(stderr, "usage: ybpeer send ADDR --seed S [options]\n");
		return 64;
	}
	s.xcut = s.seed * 3 + 7;
	if (s.xcut == 0)
		s.xcut = 1;
	start_part(&s, 0);
	if (sentpath != NULL && write_part1(&s, sentpath) < 0)
		return 1;
	s.loop = loop_new();
	s.c = ts_connect(s.loop, argv[optind], called, "ybpeer", NULL, send_ev, &s, err,
		sizeof(err));
	if (s.c == NULL) {
		fprintf(stderr, "ybpeer: send: %s\n", err);
		return 1;
	}
	(void)loop_timer_add(s.loop, (int64_t)timeout * 1000, timeout_cb, &timedout);
	(void)loop_run(s.loop);
	if (timedout)
		fprintf(stderr, "ybpeer: send: no end within %d s\n", timeout);
	if (s.c != NULL)
		ts_close(s.c);
	loop_free(s.loop);
	printf("ybpeer: sent %llu\n", (unsigned long long)s.sent);
	return s.ok && !timedout ? 0 : 1;
}

/* --- recv ------------------------------------------------------------------ */

struct receiver {
	struct loop *loop;
	struct ts_conn *c;
	FILE	*data[2], *idx[2];
	int	sec;		/* 0 before the RESET, 1 after */
	uint64_t rcvd, reclen, reset_after;
	int	reset_sent, ok, done;
	unsigned char head[4];	/* a record's first octets (SYNC?) */
};

/* recv_ev - the call's events */
static void recv_ev(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct receiver *r = arg;
	size_t k;

	switch (ev->type) {
	case TS_EV_INCOMING:
		(void)ts_accept(c);
		break;
	case TS_EV_DATA:
		(void)fwrite(ev->data, 1, ev->len, r->data[r->sec]);
		for (k = 0; k < ev->len && r->reclen + k < 4; k++)
			r->head[r->reclen + k] = ev->data[k];
		r->reclen += ev->len;
		r->rcvd += ev->len;
		if (ev->push) {
			fprintf(r->idx[r->sec], "rec %llu\n", (unsigned long long)r->reclen);
			if (r->reclen == 4 && memcmp(r->head, SYNC, 4) == 0)
				(void)ts_send(c, SYNC, 4, 1);
			r->reclen = 0;
		}
		if (r->reset_after > 0 && r->rcvd >= r->reset_after && !r->reset_sent
		    && r->sec == 0) {
			r->reset_sent = 1;
			ts_reset(c, TS_R_APPFAIL, "ybpeer recv reset");
		}
		break;
	case TS_EV_RESET:
		if (r->reclen > 0)	/* a record cut by the RESET */
			fprintf(r->idx[r->sec], "cut %llu\n", (unsigned long long)r->reclen);
		fprintf(r->idx[r->sec], "reset %d %s\n", ev->reason, ev->text);
		r->reclen = 0;
		if (!ev->confirm)
			ts_reset(c, ev->reason, "ybpeer recv answer");
		r->sec = 1;
		break;
	case TS_EV_DISCONNECT:
		if (r->reclen > 0)
			fprintf(r->idx[r->sec], "cut %llu\n", (unsigned long long)r->reclen);
		fprintf(r->idx[r->sec], "disconnect %d %s\n", ev->reason, ev->text);
		r->ok = ev->reason == TS_R_NORMAL;
		r->done = 1;
		ts_close(c);
		r->c = NULL;
		loop_stop(r->loop);
		break;
	case TS_EV_ACCEPTED:
	case TS_EV_DRAINED:
		break;
	}
}

static void recv_new(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	struct receiver *r = arg;

	(void)l;
	if (r->c != NULL) {
		ts_close(c);	/* one call only */
		return;
	}
	r->c = c;
	ts_set_handler(c, recv_ev, r);
}

static int ybpeer_recv(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "reset-after", required_argument, NULL, OPT_RESET_AFTER },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const name[4] = { "pre.data", "post.data", "pre.idx", "post.idx" };
	struct receiver r;
	struct ts_listener *l;
	const char *listen = NULL, *ready = NULL, *out = NULL;
	char err[512], path[4096], text[1200];
	int c, i, timeout = 120, timedout = 0, rc = 0;
	FILE *f[4];

	memset(&r, 0, sizeof(r));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN: listen = optarg; break;
		case OPT_READY: ready = optarg; break;
		case OPT_OUT: out = optarg; break;
		case OPT_RESET_AFTER: r.reset_after = strtoull(optarg, NULL, 10); break;
		case OPT_TIMEOUT: timeout = atoi(optarg); break;
		default: return 64;
		}
	}
	if (optind != argc || listen == NULL || ready == NULL || out == NULL || timeout <= 0) {
		fprintf(stderr, "usage: ybpeer recv --listen ADDR --ready-file F --out PREFIX\n");
		return 64;
	}
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s.%s", out, name[i]);
		if ((f[i] = fopen(path, "w")) == NULL) {
			fprintf(stderr, "ybpeer: open '%s': %s\n", path, strerror(errno));
			return 1;
		}
	}
	r.data[0] = f[0];
	r.data[1] = f[1];
	r.idx[0] = f[2];
	r.idx[1] = f[3];
	r.loop = loop_new();
	l = ts_listen(r.loop, listen, NULL, recv_new, &r, err, sizeof(err));
	if (l == NULL) {
		fprintf(stderr, "ybpeer: recv: %s\n", err);
		return 1;
	}
	snprintf(text, sizeof(text), "%s\n", ts_listener_addr(l));
	if (durable_write_file(ready, text, strlen(text), err, sizeof(err)) < 0) {
		fprintf(stderr, "ybpeer: ready file: %s\n", err);
		return 1;
	}
	(void)loop_timer_add(r.loop, (int64_t)timeout * 1000, timeout_cb, &timedout);
	(void)loop_run(r.loop);
	if (timedout)
		fprintf(stderr, "ybpeer: recv: no end within %d s\n", timeout);
	if (r.c != NULL)
		ts_close(r.c);
	ts_listener_close(l);
	loop_free(r.loop);
	for (i = 0; i < 4; i++)
		if (fclose(f[i]) != 0)
			rc = 1;
	printf("ybpeer: received %llu\n", (unsigned long long)r.rcvd);
	return rc == 0 && r.ok && r.done && !timedout ? 0 : 1;
}

int main(int argc, char **argv)
{
	log_init("ybpeer", LOG_LVL_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return ybpeer_send(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "recv") == 0)
		return ybpeer_recv(argc - 1, argv + 1);
	fprintf(stderr, "usage: ybpeer send|recv ...\n");
	return 64;
}
