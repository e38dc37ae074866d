/*++
 * NAME
 *	test_ts 1
 * SUMMARY
 *	unit tests of the transport service and its Yellow Book codec
 * SYNOPSIS
 *	build/tests/test_ts
 *	build/tests/test_ts --stdio-echo	(helper for the exec: test)
 * DESCRIPTION
 *	Codec: golden bytes for CONNECT, DISCONNECT and data records,
 *	the decoder fed one octet at a time, random round trips in random
 *	pieces, and framing errors.
 *
 *	Calls: real calls over tcp (IPv4 and, when the host has it, IPv6),
 *	unix sockets, exec: (this binary re-run with --stdio-echo serves one
 *	call on its stdin/stdout through ts_listen("stdio")) and rawtcp;
 *	refusal, RESET, DISCONNECT reasons, connection refused, timeouts,
 *	back-pressure and a throughput figure. Every wait drives the loop
 *	with loop_run_once() until a condition holds or a deadline passes.
 *--*/
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "niftp/ts.h"
#include "niftp/ts_yb.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/loop.h"
#include "util/strutil.h"

static char self_exe[PATH_MAX];
static char tdir[256];

/* ---------------------------------------------------------------- codec */

/* a decoder sink: everything seen */
struct sink {
	struct buf data;
	int	pushes;
	int	ncmd;
	struct {
		int	code, nparam;
		char	p[YB_NPARAM][YB_MAX_PARAM + 1];
		size_t	plen[YB_NPARAM];
		int	pnull[YB_NPARAM];
	} cmd[8];
	size_t	push_at[64];	/* data length at each push */
	int	stop_after_data;	/* return -1 from the next data callback */
};

static int sink_data(void *arg, const unsigned char *p, size_t len, int push)
{
	struct sink *s = arg;

	CU_ASSERT_FATAL(buf_append(&s->data, p, len) == 0);
	if (push) {
		if (s->pushes < (int)NELEM(s->push_at))
			s->push_at[s->pushes] = s->data.len;
		s->pushes++;
	}
	if (s->stop_after_data) {
		s->stop_after_data = 0;
		return -1;
	}
	return 0;
}

static int sink_cmd(void *arg, const struct yb_cmd *c)
{
	struct sink *s = arg;
	int i, k;

	if (s->ncmd >= (int)NELEM(s->cmd))
		return 0;
	k = s->ncmd++;
	s->cmd[k].code = c->code;
	s->cmd[k].nparam = c->nparam;
	for (i = 0; i < c->nparam; i++) {
		memcpy(s->cmd[k].p[i], c->param[i], c->plen[i] + 1);
		s->cmd[k].plen[i] = c->plen[i];
		s->cmd[k].pnull[i] = c->pnull[i];
	}
	return 0;
}

static const struct yb_dec_cb sink_cb = { sink_data, sink_cmd };

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->data, 64 << 20);
}

static void test_enc_connect(void)
{
	static const unsigned char want[] = {
		0x01, 0x10,			/* command record, CONNECT */
		0x88, 'F', 'T', 'P', '.', 'M', 'A', 'I', 'L',	/* called */
		0x83, 'u', 'c', 'l',		/* calling */
		0x80,				/* quality of service: null */
		0x80,				/* explanatory text: null */
	};
	const char *pv[4] = { "FTP.MAIL", "ucl", NULL, NULL };
	struct buf b = BUF_INIT(4096);
	int open = 0;

	EXPECT_INT(yb_enc_cmd(&b, &open, YB_CONNECT, pv, NULL, 4), 0);
	CU_ASSERT(tl_same_bytes("CONNECT", buf_data(&b), b.len, want, sizeof(want)));
	buf_release(&b);
}

static void test_enc_disconnect(void)
{
	static const unsigned char want[] = {
		0x01, 0x12,			/* command record, DISCONNECT */
		0x81, 0x13,			/* reason 19, one octet */
		0x80,				/* initiator: null */
		0x8f, 'n', 'o', ' ', 's', 'u', 'c', 'h', ' ',
		's', 'e', 'r', 'v', 'i', 'c', 'e',	/* text, 15 octets */
	};
	unsigned char r = TS_R_BADADDR;
	const char *pv[3] = { (const char *)&r, NULL, "no such service" };
	size_t pl[3] = { 1, 0, 15 };
	struct buf b = BUF_INIT(4096);
	int open = 0;

	EXPECT_INT(yb_enc_cmd(&b, &open, YB_DISCONNECT, pv, pl, 3), 0);
	CU_ASSERT(tl_same_bytes("DISCONNECT", buf_data(&b), b.len, want, sizeof(want)));
	buf_release(&b);
}

static void test_enc_data(void)
{
	unsigned char data[300], want[304];
	struct buf b = BUF_INIT(4096);
	int open = 0, i;
	size_t k = 0;

	for (i = 0; i < 300; i++)
		data[i] = (unsigned char)(i * 7);
	want[k++] = 0x00;			/* data record */
	want[k++] = 0x7f;			/* 127, more follow */
	memcpy(want + k, data, 127);
	k += 127;
	want[k++] = 0x7f;
	memcpy(want + k, data + 127, 127);
	k += 127;
	want[k++] = 0x80 | 46;			/* 46, last */
	memcpy(want + k, data + 254, 46);
	k += 46;
	EXPECT_INT(yb_enc_data(&b, &open, data, 300, 1), 0);
	EXPECT_INT(open, 0);
	CU_ASSERT(tl_same_bytes("data 300 pushed", buf_data(&b), b.len, want, k));

	/* unpushed data leaves the record open; a command closes it */
	buf_reset(&b);
	EXPECT_INT(yb_enc_data(&b, &open, "abc", 3, 0), 0);
	EXPECT_INT(open, 1);
	EXPECT_INT(yb_enc_data(&b, &open, "de", 2, 0), 0);
	{
		static const unsigned char w2[] = { 0x00, 0x03, 'a', 'b', 'c', 0x02, 'd',
			'e', 0x80, 0x01, 0x11, 0x80, 0x80, 0x80 };
		const char *pv[3] = { NULL, NULL, NULL };

		EXPECT_INT(yb_enc_cmd(&b, &open, YB_ACCEPT, pv, NULL, 3), 0);
		CU_ASSERT(tl_same_bytes("open record + ACCEPT", buf_data(&b), b.len, w2, sizeof(w2)));
	}
	/* exactly 127 pushed: one last sub-record 0xff; empty push of an open record */
	buf_reset(&b);
	open = 0;
	EXPECT_INT(yb_enc_data(&b, &open, data, 127, 1), 0);
	EXPECT_INT(b.len, 129);
	EXPECT_INT(buf_data(&b)[1], 0xff);
	buf_reset(&b);
	EXPECT_INT(yb_enc_data(&b, &open, data, 1, 0), 0);
	EXPECT_INT(yb_enc_data(&b, &open, NULL, 0, 1), 0);
	{
		static const unsigned char w3[] = { 0x00, 0x01, 0x00, 0x80 };

		data[0] = 0;
		CU_ASSERT(tl_same_bytes("empty push", buf_data(&b), b.len, w3, sizeof(w3)));
	}
	/* nothing open, nothing to push: no octets */
	buf_reset(&b);
	EXPECT_INT(yb_enc_data(&b, &open, NULL, 0, 1), 0);
	EXPECT_INT(b.len, 0);
	/* the cap: nothing appended when it does not fit */
	{
		struct buf s = BUF_INIT(100);

		open = 0;
		EXPECT_INT(yb_enc_data(&s, &open, data, 300, 1), -1);
		EXPECT_INT(s.len, 0);
		EXPECT_INT(open, 0);
		buf_release(&s);
	}
	buf_release(&b);
}

static void test_enc_long_param(void)
{
	char p[300];
	const char *pv[3];
	size_t pl[3];
	unsigned char r = 0;
	struct buf b = BUF_INIT(8192);
	int open = 0;

	memset(p, 'x', sizeof(p));
	pv[0] = (const char *)&r;
	pl[0] = 1;
	pv[1] = p;
	pl[1] = 127;
	pv[2] = p;
	pl[2] = 128;
	EXPECT_INT(yb_enc_cmd(&b, &open, YB_RESET, pv, pl, 3), 0);
	/* 01 13 | 81 00 | ff x*127 | 7f x*127 81 x */
	EXPECT_INT(b.len, 2 + 2 + 128 + 128 + 2);
	EXPECT_INT(buf_data(&b)[4], 0xff);
	EXPECT_INT(buf_data(&b)[4 + 128], 0x7f);
	EXPECT_INT(buf_data(&b)[4 + 128 + 128], 0x81);
	/* too long a parameter is refused */
	{
		char big[YB_MAX_PARAM + 1];

		memset(big, 'y', sizeof(big));
		pv[2] = big;
		pl[2] = sizeof(big);
		buf_reset(&b);
		EXPECT_INT(yb_enc_cmd(&b, &open, YB_RESET, pv, pl, 3), -1);
		EXPECT_INT(b.len, 0);
	}
	buf_release(&b);
}

/* feed_bytewise - feed one octet at a time; the result of the last feed */
static int feed_bytewise(struct yb_dec *d, const unsigned char *p, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = yb_dec_feed(d, p + i, 1);
	return rc;
}

static void test_dec_bytewise(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct sink s;
	struct yb_dec *d;
	unsigned char data[300], r = TS_R_BADADDR;
	const char *pv[4] = { "FTP.MAIL", "ucl", NULL, NULL };
	const char *dv[3] = { (const char *)&r, "gw", "no such service" };
	size_t dl[3] = { 1, 2, 15 };
	int open = 0, i;

	for (i = 0; i < 300; i++)
		data[i] = (unsigned char)(i ^ 0x5a);
	CU_ASSERT_FATAL(yb_enc_cmd(&b, &open, YB_CONNECT, pv, NULL, 4) == 0);
	CU_ASSERT_FATAL(yb_enc_data(&b, &open, data, 300, 1) == 0);
	CU_ASSERT_FATAL(yb_enc_data(&b, &open, data, 10, 0) == 0);
	CU_ASSERT_FATAL(yb_enc_data(&b, &open, data + 10, 5, 1) == 0);
	CU_ASSERT_FATAL(yb_enc_cmd(&b, &open, YB_DISCONNECT, dv, dl, 3) == 0);

	sink_init(&s);
	d = yb_dec_new(&sink_cb, &s);
	EXPECT_INT(feed_bytewise(d, buf_data(&b), b.len), 0);
	EXPECT_TRUE(yb_dec_error(d) == NULL);
	EXPECT_INT(yb_dec_midrecord(d), 0);
	EXPECT_INT(s.ncmd, 2);
	EXPECT_INT(s.cmd[0].code, YB_CONNECT);
	EXPECT_INT(s.cmd[0].nparam, 4);
	EXPECT_STR(s.cmd[0].p[0], "FTP.MAIL");
	EXPECT_STR(s.cmd[0].p[1], "ucl");
	EXPECT_INT(s.cmd[0].pnull[2], 1);
	EXPECT_INT(s.cmd[0].pnull[0], 0);
	EXPECT_INT(s.cmd[1].code, YB_DISCONNECT);
	EXPECT_INT(s.cmd[1].nparam, 3);
	EXPECT_INT(s.cmd[1].plen[0], 1);
	EXPECT_INT((unsigned char)s.cmd[1].p[0][0], TS_R_BADADDR);
	EXPECT_STR(s.cmd[1].p[1], "gw");
	EXPECT_STR(s.cmd[1].p[2], "no such service");
	EXPECT_INT(s.data.len, 315);
	EXPECT_TRUE(memcmp(buf_data(&s.data), data, 300) == 0);
	EXPECT_TRUE(memcmp(buf_data(&s.data) + 300, data, 15) == 0);
	EXPECT_INT(s.pushes, 2);
	EXPECT_INT(s.push_at[0], 300);
	EXPECT_INT(s.push_at[1], 315);

	/* a stream cut inside a record is mid-record */
	yb_dec_free(d);
	buf_release(&s.data);
	sink_init(&s);
	d = yb_dec_new(&sink_cb, &s);
	EXPECT_INT(yb_dec_feed(d, buf_data(&b), 5), 0);
	EXPECT_INT(yb_dec_midrecord(d), 1);
	EXPECT_INT(s.ncmd, 0);
	yb_dec_free(d);
	buf_release(&s.data);
	buf_release(&b);
}

static void test_dec_stop(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct sink s;
	struct yb_dec *d;
	unsigned char data[1000];
	const char *pv[3] = { NULL, NULL, NULL };
	size_t used;
	int open = 0;

	memset(data, 'q', sizeof(data));
	CU_ASSERT_FATAL(yb_enc_data(&b, &open, data, 200, 1) == 0);
	CU_ASSERT_FATAL(yb_enc_cmd(&b, &open, YB_ACCEPT, pv, NULL, 3) == 0);
	CU_ASSERT_FATAL(yb_enc_data(&b, &open, data, 1000, 1) == 0);
	sink_init(&s);
	d = yb_dec_new(&sink_cb, &s);
	s.stop_after_data = 1;
	EXPECT_INT(yb_dec_feed(d, buf_data(&b), b.len), -1);
	EXPECT_TRUE(yb_dec_error(d) == NULL);
	used = yb_dec_consumed(d);
	EXPECT_INT(used, 1 + 2 * 1 + 200);	/* exactly the first record */
	EXPECT_INT(s.data.len, 200);
	EXPECT_INT(s.ncmd, 0);
	EXPECT_INT(yb_dec_feed(d, buf_data(&b) + used, b.len - used), 0);
	EXPECT_INT(yb_dec_consumed(d), b.len - used);
	EXPECT_INT(s.ncmd, 1);
	EXPECT_INT(s.data.len, 1200);
	EXPECT_INT(s.pushes, 2);
	yb_dec_free(d);
	buf_release(&s.data);
	buf_release(&b);
}

static void test_dec_errors(void)
{
	static const struct {
		const char *name;
		unsigned char in[8];
		size_t len;
		const char *want;
	} t[] = {
		{ "unknown type", { 0x02 }, 1, "unknown record type 2" },
		{ "type 0xff", { 0x00, 0x81, 'a', 0xff }, 4, "unknown record type 255" },
		{ "ADDRESS command", { 0x01, 20 }, 2, "unknown command code 20" },
		{ "unknown command", { 0x01, 0x00 }, 2, "unknown command code 0" },
		{ "long reason", { 0x01, 18, 0x82, 1, 2 }, 5, "reason parameter" },
	};
	struct sink s;
	struct yb_dec *d;
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		sink_init(&s);
		d = yb_dec_new(&sink_cb, &s);
		if (yb_dec_feed(d, t[i].in, t[i].len) != -1)
			fprintf(stderr, "\n%s: accepted\n", t[i].name);
		EXPECT_HAS(yb_dec_error(d), t[i].want);
		/* sticky */
		EXPECT_INT(yb_dec_feed(d, (const unsigned char *)"\0\x81x", 3), -1);
		yb_dec_free(d);
		buf_release(&s.data);
	}
	/* a parameter over the limit, in fragments */
	{
		unsigned char in[2 + 9 * 128];
		size_t k = 0;
		int f;

		in[k++] = 0x01;
		in[k++] = YB_CONNECT;
		for (f = 0; f < 9; f++) {
			in[k++] = 0x7f;
			memset(in + k, 'z', 127);
			k += 127;
		}
		sink_init(&s);
		d = yb_dec_new(&sink_cb, &s);
		EXPECT_INT(yb_dec_feed(d, in, k), -1);
		EXPECT_HAS(yb_dec_error(d), "parameter longer than 1024");
		EXPECT_INT(s.ncmd, 0);
		yb_dec_free(d);
		buf_release(&s.data);
	}
	/* exactly the limit is fine */
	{
		char p[YB_MAX_PARAM];
		const char *pv[4] = { p, NULL, NULL, NULL };
		size_t pl[4] = { sizeof(p), 0, 0, 0 };
		struct buf b = BUF_INIT(8192);
		int open = 0;

		memset(p, 'k', sizeof(p));
		CU_ASSERT_FATAL(yb_enc_cmd(&b, &open, YB_CONNECT, pv, pl, 4) == 0);
		sink_init(&s);
		d = yb_dec_new(&sink_cb, &s);
		EXPECT_INT(yb_dec_feed(d, buf_data(&b), b.len), 0);
		EXPECT_INT(s.ncmd, 1);
		EXPECT_INT(s.cmd[0].plen[0], YB_MAX_PARAM);
		yb_dec_free(d);
		buf_release(&s.data);
		buf_release(&b);
	}
}

static void test_roundtrip_random(void)
{
	struct buf b = BUF_INIT(8 << 20), want = BUF_INIT(8 << 20);
	struct sink s;
	struct yb_dec *d;
	unsigned char chunk[5000];
	const char *pv[3] = { NULL, NULL, NULL };
	unsigned seed = 12345;
	int open = 0, i, pushes = 0, cmds = 0, rc = 0;
	size_t n, off, k;

	for (i = 0; i < 2000; i++) {
		n = (size_t)rand_r(&seed) % sizeof(chunk);
		for (k = 0; k < n; k++)
			chunk[k] = (unsigned char)rand_r(&seed);
		CU_ASSERT_FATAL(yb_enc_data(&b, &open, chunk, n, rand_r(&seed) % 3 == 0) == 0);
		CU_ASSERT_FATAL(buf_append(&want, chunk, n) == 0);
		pushes += n > 0 || open == 0 ? 0 : 0;
		if (rand_r(&seed) % 10 == 0) {
			CU_ASSERT_FATAL(yb_enc_cmd(&b, &open, YB_ACCEPT, pv, NULL, 3) == 0);
			cmds++;
		}
	}
	(void)pushes;
	sink_init(&s);
	d = yb_dec_new(&sink_cb, &s);
	for (off = 0; off < b.len && rc == 0; off += n) {
		n = 1 + (size_t)rand_r(&seed) % 70000;
		if (n > b.len - off)
			n = b.len - off;
		rc = yb_dec_feed(d, buf_data(&b) + off, n);
	}
	EXPECT_INT(rc, 0);
	EXPECT_INT(s.ncmd > 8 ? 8 : s.ncmd, cmds > 8 ? 8 : cmds);
	EXPECT_INT(s.data.len, want.len);
	EXPECT_TRUE(s.data.len == want.len
		&& memcmp(buf_data(&s.data), buf_data(&want), want.len) == 0);
	yb_dec_free(d);
	buf_release(&s.data);
	buf_release(&b);
	buf_release(&want);
}

static void test_addr_parse(void)
{
	static const struct {
		const char *in;
		int	ok;
		const char *canon;
	} t[] = {
		{ "tcp:127.0.0.1:4521", 1, "tcp:127.0.0.1:4521" },
		{ "tcp:[::1]:4521", 1, "tcp:[::1]:4521" },
		{ "rawtcp:relay.example:niftp", 1, "rawtcp:relay.example:niftp" },
		{ "unix:/tmp/x.sock", 1, "unix:/tmp/x.sock" },
		{ "exec:ssh relay2 mailrelayd --stdio", 1, "exec:ssh relay2 mailrelayd --stdio" },
		{ "stdio", 1, "stdio" },
		{ "tcp:::1:4521", 0, NULL },
		{ "tcp:host", 0, NULL },
		{ "tcp:host:", 0, NULL },
		{ "udp:host:1", 0, NULL },
		{ "unix:", 0, NULL },
		{ "exec:", 0, NULL },
		{ "tcp:[::1:4521", 0, NULL },
		{ "tcp:a b:1", 0, NULL },
		{ "tcp:127.0.0.1:65535", 1, "tcp:127.0.0.1:65535" },
		{ "tcp:127.0.0.1:0", 1, "tcp:127.0.0.1:0" },
		{ "tcp:127.0.0.1:65536", 0, NULL },	/* not taken modulo 65536 */
		{ "rawtcp:127.0.0.1:99999", 0, NULL },
		{ "tcp:h:0000000000000004521", 0, NULL },
	};
	struct ts_addr a;
	char err[256], buf[1200];
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		err[0] = 0;
		if ((ts_addr_parse(t[i].in, &a, err, sizeof(err)) == 0) != t[i].ok)
			fprintf(stderr, "\n%s: got %s (%s)\n", t[i].in,
				t[i].ok ? "failure" : "success", err);
		EXPECT_INT(ts_addr_parse(t[i].in, &a, err, sizeof(err)) == 0, t[i].ok);
		if (t[i].ok)
			EXPECT_STR(ts_addr_str(&a, buf, sizeof(buf)), t[i].canon);
		else
			EXPECT_HAS(err, "bad address");
	}
}

/* ---------------------------------------------------------------- calls */

/* one end of a call in a test */
struct end {
	struct ts_conn *c;
	const char *name;
	int	incoming, accepted, disconnected, drained, resets;
	int	reason, reset_reason, reset_confirm;
	char	text[YB_MAX_PARAM + 1], reset_text[YB_MAX_PARAM + 1];
	char	called[300], calling[300];
	struct buf rx;
	int	pushes;
	/* behaviour */
	int	auto_accept;	/* accept on INCOMING */
	int	refuse;		/* refuse on INCOMING with this reason (and refuse_text) */
	const char *refuse_text;
	int	pause_on_accept;
	int	close_on_disc;	/* ts_close inside the DISCONNECT event */
	int	echo;
	int	answer_reset;	/* answer a peer RESET at once */
	int	reset_data_before_answer;	/* send this much before answering */
};

static struct loop *tloop;

static void end_init(struct end *e, const char *name)
{
	memset(e, 0, sizeof(*e));
	e->name = name;
	buf_init(&e->rx, 1ULL << 31);
	e->close_on_disc = 1;
}

static void end_ev(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct end *e = arg;

	switch (ev->type) {
	case TS_EV_INCOMING:
		e->incoming++;
		str_copy(e->called, ev->called, sizeof(e->called));
		str_copy(e->calling, ev->calling, sizeof(e->calling));
		if (e->refuse) {
			ts_refuse(c, e->refuse, e->refuse_text);
		} else if (e->auto_accept) {
			CU_ASSERT(ts_accept(c) == 0);
			if (e->pause_on_accept)
				ts_pause(c, 1);
		}
		break;
	case TS_EV_ACCEPTED:
		e->accepted++;
		break;
	case TS_EV_DATA:
		CU_ASSERT_FATAL(buf_append(&e->rx, ev->data, ev->len) == 0);
		if (ev->push)
			e->pushes++;
		if (e->echo && ev->len > 0)
			CU_ASSERT(ts_send(c, ev->data, ev->len, ev->push) == 0);
		break;
	case TS_EV_RESET:
		e->resets++;
		e->reset_reason = ev->reason;
		e->reset_confirm = ev->confirm;
		str_copy(e->reset_text, ev->text, sizeof(e->reset_text));
		if (!ev->confirm && e->answer_reset) {
			if (e->reset_data_before_answer)
				(void)ts_send(c, "stale", 5, 1);	/* must be discarded */
			ts_reset(c, 0, "");
			CU_ASSERT(ts_send(c, "fresh", 5, 1) == 0);
		}
		break;
	case TS_EV_DISCONNECT:
		e->disconnected++;
		e->reason = ev->reason;
		str_copy(e->text, ev->text, sizeof(e->text));
		if (e->close_on_disc) {
			ts_close(c);
			e->c = NULL;
		}
		break;
	case TS_EV_DRAINED:
		e->drained++;
		break;
	}
}

static struct end *srv_end;	/* where the next incoming call goes */

static void on_new(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	(void)l;
	(void)arg;
	CU_ASSERT_FATAL(srv_end != NULL);
	srv_end->c = c;
	ts_set_handler(c, end_ev, srv_end);
}

/* RUN_UNTIL - drive the loop until cond holds or ms pass */
#define RUN_UNTIL(cond, ms) do { \
	int64_t dl_ = loop_now_ms() + (ms); \
	while (!(cond) && loop_now_ms() < dl_) \
		loop_run_once(tloop, 20); \
	if (!(cond)) \
		fprintf(stderr, "\n%s:%d: timed out waiting for %s\n", __FILE__, \
		    __LINE__, #cond); \
} while (0)

/* run_for - drive the loop for ms */
static void run_for(int ms)
{
	int64_t deadline = loop_now_ms() + ms;

	while (loop_now_ms() < deadline)
		loop_run_once(tloop, 5);
}

static void end_free(struct end *e)
{
	if (e->c != NULL)
		ts_close(e->c);
	e->c = NULL;
	buf_release(&e->rx);
}

/* a full call: connect, accept, data both ways, disconnect with a reason */
static void call_basic(const char *laddr)
{
	struct ts_listener *l;
	struct end cli, srv;
	char err[512];
	unsigned char *big;
	size_t n = 300000, off, m;
	int ok;

	end_init(&cli, "client");
	end_init(&srv, "server");
	srv.auto_accept = 1;
	srv_end = &srv;
	l = ts_listen(tloop, laddr, NULL, on_new, NULL, err, sizeof(err));
	if (l == NULL)
		fprintf(stderr, "\nlisten %s: %s\n", laddr, err);
	CU_ASSERT_FATAL(l != NULL);
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP.MAIL", "ucl", NULL,
		end_ev, &cli, err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	/* data may follow the CONNECT before ACCEPT */
	EXPECT_INT(ts_send(cli.c, "early", 5, 1), 0);
	RUN_UNTIL(cli.accepted, 5000);
	EXPECT_INT(srv.incoming, 1);
	EXPECT_STR(srv.called, "FTP.MAIL");
	EXPECT_STR(srv.calling, "ucl");
	EXPECT_STR(ts_called(srv.c), "FTP.MAIL");
	EXPECT_STR(ts_calling(srv.c), "ucl");
	EXPECT_INT(ts_conn_kind(srv.c), ts_conn_kind(cli.c));

	big = xmalloc(n);
	for (off = 0; off < n; off++)
		big[off] = (unsigned char)(off * 31 + 7);
	for (off = 0; off < n; off += m) {
		m = n - off < 10000 ? n - off : 10000;
		while (ts_room(cli.c) < m)
			loop_run_once(tloop, 20);
		EXPECT_INT(ts_send(cli.c, big + off, m, off + m == n), 0);
	}
	ok = 0;
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (srv.rx.len < n + 5 && loop_now_ms() < deadline)
			loop_run_once(tloop, 20);
		ok = srv.rx.len == n + 5;
	}
	EXPECT_TRUE(ok);
	EXPECT_TRUE(srv.rx.len == n + 5 && memcmp(buf_data(&srv.rx), "early", 5) == 0
		&& memcmp(buf_data(&srv.rx) + 5, big, n) == 0);
	EXPECT_INT(srv.pushes, 2);

	EXPECT_INT(ts_send(srv.c, "hello", 5, 1), 0);
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (cli.rx.len < 5 && loop_now_ms() < deadline)
			loop_run_once(tloop, 20);
	}
	EXPECT_INT(cli.rx.len, 5);
	EXPECT_INT(cli.pushes, 1);
	{
		uint64_t s, r;

		ts_bytes(cli.c, &s, &r);
		EXPECT_INT(s, n + 5);
		EXPECT_INT(r, 5);
	}
	ts_disconnect(cli.c, TS_R_APPFAIL, "bye now");
	RUN_UNTIL(srv.disconnected, 5000);
	EXPECT_INT(srv.reason, TS_R_APPFAIL);
	EXPECT_STR(srv.text, "bye now");
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_APPFAIL);
	EXPECT_STR(cli.text, "bye now");
	ts_listener_close(l);
	free(big);
	end_free(&cli);
	end_free(&srv);
}

static void test_tcp4(void)
{
	call_basic("tcp:127.0.0.1:0");
}

static void test_tcp6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 s6;

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&s6, sizeof(s6)) < 0) {
		fprintf(stderr, "\n(no IPv6 loopback: tcp [::1] test skipped) ");
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	call_basic("tcp:[::1]:0");
}

static void test_unix(void)
{
	char path[300], addr[320], err[256];
	struct sockaddr_un su;
	struct ts_listener *l;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/ts.sock", tdir);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	/* a stale socket file (nobody listens) is replaced */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	str_copy(su.sun_path, path, sizeof(su.sun_path));
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&su, sizeof(su)) == 0);
	close(fd);
	EXPECT_INT(stat(path, &st), 0);
	call_basic(addr);
	/* our path is removed on close */
	EXPECT_INT(stat(path, &st), -1);
	/* a live listener is not replaced */
	srv_end = NULL;
	l = ts_listen(tloop, addr, NULL, on_new, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	EXPECT_STR(ts_listener_addr(l), addr);
	EXPECT_TRUE(ts_listen(tloop, addr, NULL, on_new, NULL, err, sizeof(err)) == NULL);
	EXPECT_HAS(err, "Address already in use");
	ts_listener_close(l);
}

static void test_exec(void)
{
	struct end cli;
	char addr[PATH_MAX + 64], err[256];

	end_init(&cli, "client");
	snprintf(addr, sizeof(addr), "exec:'%s' --stdio-echo", self_exe);
	cli.c = ts_connect(tloop, addr, "FTP", "tester", NULL, end_ev, &cli, err,
		sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	EXPECT_HAS(ts_peer(cli.c), "exec:");
	RUN_UNTIL(cli.accepted, 10000);
	EXPECT_INT(ts_send(cli.c, "ping over exec", 14, 1), 0);
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (cli.rx.len < 14 && loop_now_ms() < deadline)
			loop_run_once(tloop, 20);
	}
	EXPECT_INT(cli.rx.len, 14);
	EXPECT_TRUE(cli.rx.len == 14 && memcmp(buf_data(&cli.rx), "ping over exec", 14) == 0);
	ts_disconnect(cli.c, TS_R_NORMAL, "done");
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_NORMAL);
	EXPECT_STR(cli.text, "done");
	end_free(&cli);

	/* a command that exits at once: transport failure naming the child */
	end_init(&cli, "client");
	cli.c = ts_connect(tloop, "exec:exit 3", "FTP", NULL, NULL, end_ev, &cli, err,
		sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_TSFAIL);
	/* EOF or ECONNRESET (our CONNECT was unread), with the exit status if known */
	EXPECT_HAS(cli.text, "exec:exit 3: ");
	EXPECT_INT(cli.accepted, 0);
	end_free(&cli);

	/* exec cannot listen */
	EXPECT_TRUE(ts_listen(tloop, "exec:cat", NULL, on_new, NULL, err, sizeof(err)) == NULL);
	EXPECT_HAS(err, "can only be called");
}

static void test_rawtcp(void)
{
	struct ts_listener *l;
	struct end cli, srv;
	char err[256];

	end_init(&cli, "client");
	end_init(&srv, "server");
	srv.auto_accept = 1;
	srv_end = &srv;
	l = ts_listen(tloop, "rawtcp:127.0.0.1:0", NULL, on_new, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	EXPECT_HAS(ts_listener_addr(l), "rawtcp:127.0.0.1:");
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP.MAIL", NULL, NULL, end_ev,
		&cli, err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	EXPECT_INT(ts_send(cli.c, "abc", 3, 0), 0);
	RUN_UNTIL(cli.accepted, 5000);
	RUN_UNTIL(srv.incoming, 5000);
	EXPECT_STR(srv.called, "ftp.mail");	/* sent in lower case */
	EXPECT_INT(ts_conn_kind(srv.c), TS_RAWTCP);
	EXPECT_INT(ts_send(cli.c, "def", 3, 1), 0);
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (srv.rx.len < 6 && loop_now_ms() < deadline)
			loop_run_once(tloop, 20);
	}
	EXPECT_TRUE(srv.rx.len == 6 && memcmp(buf_data(&srv.rx), "abcdef", 6) == 0);
	EXPECT_INT(ts_send(srv.c, "xyz", 3, 1), 0);
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (cli.rx.len < 3 && loop_now_ms() < deadline)
			loop_run_once(tloop, 20);
	}
	EXPECT_TRUE(cli.rx.len == 3 && memcmp(buf_data(&cli.rx), "xyz", 3) == 0);
	/* no RESET on rawtcp: it disconnects; the peer sees a clean close */
	ts_reset(cli.c, TS_R_LOCALPROC, "no reset here");
	RUN_UNTIL(srv.disconnected, 5000);
	EXPECT_INT(srv.reason, TS_R_NORMAL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_LOCALPROC);
	EXPECT_STR(cli.text, "no reset here");
	end_free(&cli);
	end_free(&srv);

	/* refusal: the listener side ends with its reason; the caller sees the close */
	end_init(&cli, "client");
	end_init(&srv, "server");
	srv.refuse = TS_R_BADADDR;
	srv.refuse_text = "no such service";
	srv_end = &srv;
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP.NEWS", NULL, NULL, end_ev,
		&cli, err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_NORMAL);
	RUN_UNTIL(srv.disconnected, 5000);
	EXPECT_INT(srv.reason, TS_R_BADADDR);
	EXPECT_STR(srv.text, "no such service");
	EXPECT_STR(srv.called, "ftp.news");
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

/* listen on tcp 127.0.0.1 port 0 with a server end */
static struct ts_listener *listen_tcp(struct end *srv, const struct ts_opts *o)
{
	char err[256];
	struct ts_listener *l;

	srv_end = srv;
	l = ts_listen(tloop, "tcp:127.0.0.1:0", o, on_new, NULL, err, sizeof(err));
	if (l == NULL)
		fprintf(stderr, "\nlisten: %s\n", err);
	return l;
}

static void test_refuse(void)
{
	struct ts_listener *l;
	struct end cli, srv;
	char err[256];

	end_init(&cli, "client");
	end_init(&srv, "server");
	srv.refuse = TS_R_BADADDR;
	srv.refuse_text = "no such service";
	CU_ASSERT_FATAL((l = listen_tcp(&srv, NULL)) != NULL);
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP.NEWS", "ucl", NULL, end_ev,
		&cli, err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.accepted, 0);
	EXPECT_INT(cli.reason, TS_R_BADADDR);
	EXPECT_STR(cli.text, "no such service");
	RUN_UNTIL(srv.disconnected, 5000);
	EXPECT_INT(srv.reason, TS_R_BADADDR);
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

/* open_pair - a call over tcp, accepted */
static struct ts_listener *open_pair(struct end *cli, struct end *srv,
	const struct ts_opts *co, const struct ts_opts *so)
{
	struct ts_listener *l;
	char err[256];

	end_init(cli, "client");
	end_init(srv, "server");
	srv->auto_accept = 1;
	if ((l = listen_tcp(srv, so)) == NULL)
		return NULL;
	cli->c = ts_connect(tloop, ts_listener_addr(l), "FTP", "ucl", co, end_ev, cli,
		err, sizeof(err));
	if (cli->c == NULL)
		fprintf(stderr, "\nconnect: %s\n", err);
	if (cli->c != NULL)
		RUN_UNTIL(cli->accepted, 5000);
	if (cli->c == NULL || !cli->accepted) {
		ts_listener_close(l);
		return NULL;
	}
	return l;
}

static void test_reset(void)
{
	struct ts_listener *l;
	struct end cli, srv;

	CU_ASSERT_FATAL((l = open_pair(&cli, &srv, NULL, NULL)) != NULL);
	srv.answer_reset = 1;
	srv.reset_data_before_answer = 1;
	/* queued, unwritten output is discarded by a RESET: nothing of it may
	 * reach the far end after the RESET */
	EXPECT_INT(ts_send(cli.c, "before", 6, 1), 0);
	ts_reset(cli.c, TS_R_APPFAIL, "resync please");
	RUN_UNTIL(cli.resets, 5000);
	EXPECT_INT(srv.resets, 1);
	EXPECT_INT(srv.reset_confirm, 0);
	EXPECT_INT(srv.reset_reason, TS_R_APPFAIL);
	EXPECT_STR(srv.reset_text, "resync please");
	EXPECT_INT(cli.reset_confirm, 1);
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (cli.rx.len < 5 && loop_now_ms() < deadline)
			loop_run_once(tloop, 20);
	}
	/* "stale" was discarded by the answering RESET; "fresh" follows it */
	EXPECT_INT(cli.rx.len, 5);
	EXPECT_TRUE(cli.rx.len == 5 && memcmp(buf_data(&cli.rx), "fresh", 5) == 0);
	/* the TS does not answer by itself: without answer_reset nothing comes back */
	srv.answer_reset = 0;
	cli.resets = 0;
	ts_reset(cli.c, TS_R_NORMAL, "again");
	RUN_UNTIL(srv.resets == 2, 5000);
	EXPECT_INT(srv.resets, 2);
	run_for(100);
	EXPECT_INT(cli.resets, 0);
	/* data sent to us meanwhile is dropped until the answer */
	EXPECT_INT(ts_send(srv.c, "dropped", 7, 1), 0);
	ts_reset(srv.c, TS_R_NORMAL, "");
	EXPECT_INT(ts_send(srv.c, "kept", 4, 1), 0);
	RUN_UNTIL(cli.resets, 5000);
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (cli.rx.len < 9 && loop_now_ms() < deadline)
			loop_run_once(tloop, 20);
	}
	EXPECT_TRUE(cli.rx.len == 9 && memcmp(buf_data(&cli.rx), "freshkept", 9) == 0);
	ts_disconnect(srv.c, TS_R_NORMAL, "");
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_NORMAL);
	RUN_UNTIL(srv.disconnected, 5000);
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

static void test_peer_vanishes(void)
{
	struct ts_listener *l;
	struct end cli, srv;

	CU_ASSERT_FATAL((l = open_pair(&cli, &srv, NULL, NULL)) != NULL);
	ts_close(srv.c);	/* abrupt: no DISCONNECT */
	srv.c = NULL;
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_TSFAIL);
	EXPECT_HAS(cli.text, "127.0.0.1:");
	EXPECT_HAS(cli.text, "without DISCONNECT");
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

static void test_refused(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct end cli;
	char addr[320], want[96], err[256];
	int fd, port;

	/* a port nobody listens on: bind one, note it, close it */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	port = ntohs(sa.sin_port);
	close(fd);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", port);
	snprintf(want, sizeof(want), "connect tcp:127.0.0.1:%d: Connection refused", port);
	end_init(&cli, "client");
	cli.c = ts_connect(tloop, addr, "FTP", NULL, NULL, end_ev, &cli, err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_NOCONN);
	EXPECT_STR(cli.text, want);
	end_free(&cli);

	/* unix: no such socket */
	end_init(&cli, "client");
	snprintf(addr, sizeof(addr), "unix:%s/nonexistent.sock", tdir);
	cli.c = ts_connect(tloop, addr, "FTP", NULL, NULL, end_ev, &cli, err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_NOCONN);
	EXPECT_HAS(cli.text, "No such file or directory");
	end_free(&cli);

	/* a bad address is refused at once */
	EXPECT_TRUE(ts_connect(tloop, "tcp:nowhere", "FTP", NULL, NULL, end_ev, &cli, err,
		sizeof(err)) == NULL);
	EXPECT_HAS(err, "bad address 'tcp:nowhere'");
}

static void test_setup_timeout(void)
{
	struct ts_listener *l;
	struct end cli, srv;
	struct ts_opts o;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.setup_timeout_ms = 200;
	end_init(&cli, "client");
	end_init(&srv, "server");	/* never answers the CONNECT */
	CU_ASSERT_FATAL((l = listen_tcp(&srv, NULL)) != NULL);
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP", NULL, &o, end_ev, &cli,
		err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_TSFAIL);
	EXPECT_HAS(cli.text, "no ACCEPT within 200 ms (setup timeout)");
	/* the listener side is told why */
	RUN_UNTIL(srv.disconnected, 5000);
	EXPECT_INT(srv.incoming, 1);
	EXPECT_INT(srv.reason, TS_R_TSFAIL);
	EXPECT_HAS(srv.text, "setup timeout");
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);

	/* listener side: a caller that never sends CONNECT */
	{
		struct sockaddr_in sa;
		struct ts_addr a;
		int fd;

		o.setup_timeout_ms = 150;
		end_init(&srv, "server");
		CU_ASSERT_FATAL((l = listen_tcp(&srv, &o)) != NULL);
		CU_ASSERT_FATAL(ts_addr_parse(ts_listener_addr(l), &a, err, sizeof(err)) == 0);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons((uint16_t)strtoul(a.port, NULL, 10));
		CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		RUN_UNTIL(srv.disconnected, 5000);
		EXPECT_INT(srv.reason, TS_R_TSFAIL);
		EXPECT_HAS(srv.text, "no CONNECT within 150 ms (setup timeout)");
		close(fd);
		end_free(&srv);
		ts_listener_close(l);
	}
}

/* connect timeout: a listener whose accept queue is full drops our SYN */
static void test_connect_timeout(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct ts_opts o;
	struct end cli;
	char addr[64], err[256];
	int lfd, fill[8], nfill = 0, i;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(lfd, 0) == 0);
	CU_ASSERT_FATAL(getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	for (i = 0; i < (int)NELEM(fill); i++) {
		fill[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[nfill], (struct sockaddr *)&sa, sizeof(sa));
		nfill++;
	}
	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = 300;
	o.setup_timeout_ms = 300;
	end_init(&cli, "client");
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	cli.c = ts_connect(tloop, addr, "FTP", NULL, &o, end_ev, &cli, err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_TSFAIL);
	/* a kernel that let the connection through ends it by the setup timer */
	if (strstr(cli.text, "connect timeout") == NULL)
		fprintf(stderr, "\n(accept queue did not block the connect: %s) ", cli.text);
	else
		EXPECT_HAS(cli.text, "no connection within 300 ms (connect timeout)");
	end_free(&cli);
	for (i = 0; i < nfill; i++)
		close(fill[i]);
	close(lfd);
}

static void test_idle_timeout(void)
{
	struct ts_listener *l;
	struct end cli, srv;
	struct ts_opts o;

	memset(&o, 0, sizeof(o));
	o.idle_timeout_ms = 200;
	CU_ASSERT_FATAL((l = open_pair(&cli, &srv, &o, NULL)) != NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_TSFAIL);
	EXPECT_HAS(cli.text, "idle timeout");
	RUN_UNTIL(srv.disconnected, 5000);
	EXPECT_INT(srv.reason, TS_R_TSFAIL);
	EXPECT_HAS(srv.text, "idle timeout");
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

static void test_backpressure(void)
{
	struct ts_listener *l;
	struct end cli, srv;
	struct ts_opts o;
	unsigned char chunk[8192];
	uint64_t total = 0;
	int64_t deadline;
	int stable = 0;
	size_t r;

	memset(&o, 0, sizeof(o));
	o.send_cap = 64 * 1024;
	memset(chunk, 'b', sizeof(chunk));
	end_init(&cli, "client");
	end_init(&srv, "server");
	srv.auto_accept = 1;
	srv.pause_on_accept = 1;
	CU_ASSERT_FATAL((l = listen_tcp(&srv, NULL)) != NULL);
	{
		char err[256];

		cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP", NULL, &o, end_ev, &cli,
			err, sizeof(err));
	}
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.accepted, 5000);
	/* fill until the kernel buffers are full and our queue is at the cap */
	deadline = loop_now_ms() + 10000;
	while (stable < 20 && loop_now_ms() < deadline) {
		r = ts_room(cli.c);
		if (r > 0) {
			if (r > sizeof(chunk))
				r = sizeof(chunk);
			CU_ASSERT_FATAL(ts_send(cli.c, chunk, r, 0) == 0);
			total += r;
			stable = 0;
		} else {
			stable++;
		}
		loop_run_once(tloop, 5);
	}
	EXPECT_INT(ts_room(cli.c), 0);
	EXPECT_TRUE(ts_queued(cli.c) > 32 * 1024);
	EXPECT_INT(ts_send(cli.c, chunk, 1, 0), -1);	/* full: nothing queued */
	EXPECT_INT(cli.drained, 0);
	ts_want_room(cli.c);
	ts_pause(srv.c, 0);
	RUN_UNTIL(cli.drained, 5000);
	EXPECT_TRUE(ts_room(cli.c) >= 16 * 1024);
	EXPECT_INT(ts_send(cli.c, chunk, 1, 1), 0);
	total += 1;
	deadline = loop_now_ms() + 10000;
	while (srv.rx.len < total && loop_now_ms() < deadline)
		loop_run_once(tloop, 20);
	EXPECT_INT(srv.rx.len, total);
	fprintf(stderr, "\n  back-pressure: %llu octets were in flight ",
		(unsigned long long)total);
	ts_disconnect(cli.c, TS_R_NORMAL, NULL);
	RUN_UNTIL(cli.disconnected, 5000);
	RUN_UNTIL(srv.disconnected, 5000);
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

/* a RESET with a full queue: the half-written sub-record is completed, the
 * rest discarded, and the far end still sees valid framing */
static void test_reset_full_queue(void)
{
	struct ts_listener *l;
	struct end cli, srv;
	struct ts_opts o;
	unsigned char chunk[1000];
	int64_t deadline;
	int stable = 0, round;
	size_t r;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.send_cap = 64 * 1024;
	end_init(&cli, "client");
	end_init(&srv, "server");
	srv.auto_accept = 1;
	srv.pause_on_accept = 1;
	srv.answer_reset = 1;
	CU_ASSERT_FATAL((l = listen_tcp(&srv, NULL)) != NULL);
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP", NULL, &o, end_ev, &cli,
		err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.accepted, 5000);
	for (round = 0; round < 2; round++) {
		/* odd sizes, so the kernel's cut falls inside a sub-record */
		memset(chunk, 'a' + round, sizeof(chunk));
		deadline = loop_now_ms() + 10000;
		stable = 0;
		while (stable < 20 && loop_now_ms() < deadline) {
			r = ts_room(cli.c);
			if (r > 0) {
				r = r > 777 ? 777 : r;
				CU_ASSERT_FATAL(ts_send(cli.c, chunk, r, round) == 0);
				stable = 0;
			} else {
				stable++;
			}
			loop_run_once(tloop, 5);
		}
		/* top the queue up (the kernel may have taken more meanwhile) */
		while ((r = ts_room(cli.c)) > 0)
			CU_ASSERT_FATAL(ts_send(cli.c, chunk, r > 777 ? 777 : r, 0) == 0);
		EXPECT_TRUE(ts_queued(cli.c) > 32 * 1024);
		cli.resets = srv.resets = 0;
		ts_reset(cli.c, TS_R_LOCALPROC, "full queue");
		EXPECT_TRUE(ts_queued(cli.c) < 4096);	/* the queue went */
		ts_pause(srv.c, 0);
		RUN_UNTIL(cli.resets == 1, 10000);
		EXPECT_INT(srv.resets, 1);
		EXPECT_INT(srv.reset_reason, TS_R_LOCALPROC);
		EXPECT_STR(srv.reset_text, "full queue");
		EXPECT_INT(srv.disconnected, 0);	/* no framing error */
		EXPECT_INT(cli.disconnected, 0);
		ts_pause(srv.c, 1);
	}
	ts_pause(srv.c, 0);
	ts_disconnect(cli.c, TS_R_NORMAL, "");
	RUN_UNTIL(srv.disconnected, 5000);
	EXPECT_INT(srv.reason, TS_R_NORMAL);
	RUN_UNTIL(cli.disconnected, 5000);
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

/* wire_read - read what the TS wrote to our end (non-blocking) into b */
static void wire_read(int fd, struct buf *b)
{
	unsigned char tmp[65536];
	ssize_t n;

	while ((n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0)
		CU_ASSERT_FATAL(buf_append(b, tmp, (size_t)n) == 0);
}

/*
 * The stdio driver as a caller, on a socketpair with a tiny send buffer
 * put on fds 0 and 1: the test is the far end and sees the exact octets.
 * A RESET while the kernel holds half a sub-record must complete that
 * sub-record, close the data record and then send the RESET.
 */
static void test_stdio_wire(void)
{
	static const unsigned char want_connect[] = { 0x01, 0x10, 0x83, 'F', 'T', 'P',
		0x83, 'u', 'c', 'l', 0x80, 0x80 };
	struct end cli;
	struct buf wire = BUF_INIT(1 << 20);
	struct sink s;
	struct yb_dec *d;
	unsigned char data[20000], acc[16];
	const char *pv[3] = { NULL, NULL, NULL };
	int sv[2], save0, save1, sz = 4096, open = 0, i;
	struct buf ab = BUF_INIT(64);
	char err[256];
	size_t cut;

	for (i = 0; i < (int)sizeof(data); i++)
		data[i] = (unsigned char)(i % 199);
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	save0 = dup(0);
	save1 = dup(1);
	fflush(stdout);
	CU_ASSERT_FATAL(dup2(sv[0], 0) == 0 && dup2(sv[0], 1) == 1);
	close(sv[0]);

	end_init(&cli, "client");
	cli.c = ts_connect(tloop, "stdio", "FTP", "ucl", NULL, end_ev, &cli, err,
		sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	EXPECT_STR(ts_peer(cli.c), "stdio");
	run_for(30);
	wire_read(sv[1], &wire);
	CU_ASSERT(tl_same_bytes("CONNECT on the wire", buf_data(&wire), wire.len,
	    want_connect, sizeof(want_connect)));
	CU_ASSERT_FATAL(yb_enc_cmd(&ab, &open, YB_ACCEPT, pv, NULL, 3) == 0);
	memcpy(acc, buf_data(&ab), ab.len);
	CU_ASSERT_FATAL(write(sv[1], acc, ab.len) == (ssize_t)ab.len);
	RUN_UNTIL(cli.accepted, 5000);

	/* more than the socket takes: a partial write leaves a cut sub-record */
	EXPECT_INT(ts_send(cli.c, data, sizeof(data), 0), 0);
	run_for(30);
	EXPECT_TRUE(ts_queued(cli.c) > 0);
	ts_reset(cli.c, TS_R_APPFAIL, "cut");
	EXPECT_TRUE(ts_queued(cli.c) < 200 + 20);	/* rest of one sub-record + RESET */

	/* read everything and decode it: valid framing, data prefix, RESET */
	sink_init(&s);
	d = yb_dec_new(&sink_cb, &s);
	buf_reset(&wire);
	{
		int64_t deadline = loop_now_ms() + 5000;

		while (s.ncmd < 1 && loop_now_ms() < deadline) {
			loop_run_once(tloop, 5);
			wire_read(sv[1], &wire);
			if (wire.len > 0) {
				EXPECT_INT(yb_dec_feed(d, buf_data(&wire), wire.len), 0);
				buf_consume(&wire, wire.len);
			}
		}
	}
	EXPECT_TRUE(yb_dec_error(d) == NULL);
	EXPECT_INT(s.ncmd, 1);
	EXPECT_INT(s.cmd[0].code, YB_RESET);
	EXPECT_INT((unsigned char)s.cmd[0].p[0][0], TS_R_APPFAIL);
	EXPECT_STR(s.cmd[0].p[2], "cut");
	cut = s.data.len;
	EXPECT_TRUE(cut > 0 && cut < sizeof(data));
	EXPECT_TRUE(cut % 127 == 0);	/* whole sub-records only */
	EXPECT_TRUE(memcmp(buf_data(&s.data), data, cut) == 0);
	EXPECT_INT(s.pushes, 1);	/* the record was closed before the RESET */
	fprintf(stderr, "\n  stdio wire: RESET after %zu of %zu octets ", cut, sizeof(data));

	/* the far end answers; then it vanishes */
	{
		unsigned char r = 0;
		const char *rv[3] = { (const char *)&r, NULL, NULL };
		size_t rl[3] = { 1, 0, 0 };

		buf_reset(&ab);
		CU_ASSERT_FATAL(yb_enc_cmd(&ab, &open, YB_RESET, rv, rl, 3) == 0);
		CU_ASSERT_FATAL(write(sv[1], buf_data(&ab), ab.len) == (ssize_t)ab.len);
	}
	RUN_UNTIL(cli.resets == 1, 5000);
	EXPECT_INT(cli.reset_confirm, 1);
	close(sv[1]);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_TSFAIL);
	EXPECT_HAS(cli.text, "stdio: ");
	end_free(&cli);
	yb_dec_free(d);
	buf_release(&s.data);
	buf_release(&wire);
	buf_release(&ab);
	dup2(save0, 0);
	dup2(save1, 1);
	close(save0);
	close(save1);
}

/* the throughput sender: refill on DRAINED */
struct pump {
	struct ts_conn *c;
	uint64_t left;
	unsigned char *chunk;
	size_t chunklen;
};

static void pump_fill(struct pump *p)
{
	size_t r, n;

	while (p->left > 0 && (r = ts_room(p->c)) > 0) {
		n = r < p->chunklen ? r : p->chunklen;
		if (n > p->left)
			n = (size_t)p->left;
		if (ts_send(p->c, p->chunk, n, n == p->left) < 0)
			break;
		p->left -= n;
	}
	if (p->left > 0)
		ts_want_room(p->c);
}

struct sinkend {
	uint64_t got;
	int	done;
};

static void pump_ev(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct pump *p = arg;

	(void)c;
	if (ev->type == TS_EV_ACCEPTED || ev->type == TS_EV_DRAINED)
		pump_fill(p);
}

static void count_ev(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct sinkend *s = arg;

	if (ev->type == TS_EV_INCOMING)
		ts_accept(c);
	else if (ev->type == TS_EV_DATA)
		s->got += ev->len;
	else if (ev->type == TS_EV_DISCONNECT)
		s->done = 1;
}

static struct ts_conn *count_conn;
static struct sinkend *count_sink;

static void count_new(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	(void)l;
	(void)arg;
	count_conn = c;
	ts_set_handler(c, count_ev, count_sink);
}

static void test_throughput(void)
{
	struct ts_listener *l;
	struct pump p;
	struct sinkend s;
	char err[256];
	const char *env = getenv("TS_BENCH_MB");
	uint64_t mb = env ? strtoull(env, NULL, 10) : 256;
	int64_t t0, t1, deadline;

#if defined(__SANITIZE_ADDRESS__)
	mb = env ? mb : 32;
#endif
	memset(&s, 0, sizeof(s));
	count_sink = &s;
	count_conn = NULL;
	l = ts_listen(tloop, "tcp:127.0.0.1:0", NULL, count_new, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	memset(&p, 0, sizeof(p));
	p.chunklen = 64 * 1024;
	p.chunk = xcalloc(1, p.chunklen);
	p.left = mb << 20;
	t0 = loop_now_ms();
	p.c = ts_connect(tloop, ts_listener_addr(l), "FTP", NULL, NULL, pump_ev, &p, err,
		sizeof(err));
	CU_ASSERT_FATAL(p.c != NULL);
	deadline = t0 + 60000;
	while (s.got < (mb << 20) && loop_now_ms() < deadline)
		loop_run_once(tloop, 100);
	t1 = loop_now_ms();
	EXPECT_INT(s.got, mb << 20);
	fprintf(stderr, "\n  throughput: %llu MiB over tcp loopback in %lld ms = %.0f MiB/s ",
		(unsigned long long)mb, (long long)(t1 - t0),
		t1 > t0 ? (double)mb * 1000.0 / (double)(t1 - t0) : 0.0);
	ts_close(p.c);
	if (count_conn != NULL)
		RUN_UNTIL(s.done, 5000);
	if (count_conn != NULL)
		ts_close(count_conn);
	ts_listener_close(l);
	free(p.chunk);
}

/* close from inside a callback, and a second listener on the same port */
static void test_misc(void)
{
	struct ts_listener *l, *l2;
	struct end cli, srv;
	char err[256];

	CU_ASSERT_FATAL((l = open_pair(&cli, &srv, NULL, NULL)) != NULL);
	EXPECT_HAS(ts_peer(cli.c), "127.0.0.1:");
	EXPECT_HAS(ts_peer(srv.c), "127.0.0.1:");
	l2 = ts_listen(tloop, ts_listener_addr(l), NULL, on_new, NULL, err, sizeof(err));
	EXPECT_TRUE(l2 == NULL);
	EXPECT_HAS(err, "bind tcp:127.0.0.1:");
	EXPECT_HAS(err, "Address already in use");
	/* ts_send after DISCONNECT is refused */
	ts_disconnect(cli.c, TS_R_NORMAL, "x");
	EXPECT_INT(ts_send(cli.c, "late", 4, 1), -1);
	EXPECT_INT(ts_room(cli.c), 0);
	RUN_UNTIL(srv.disconnected, 5000);
	RUN_UNTIL(cli.disconnected, 5000);
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

/* the owner accepts later, outside the callback: early data is kept in order */
static void test_late_accept(void)
{
	struct ts_listener *l;
	struct end cli, srv;
	char err[256];
	unsigned char big[200000];
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i % 251);
	end_init(&cli, "client");
	end_init(&srv, "server");	/* no auto_accept */
	CU_ASSERT_FATAL((l = listen_tcp(&srv, NULL)) != NULL);
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP", "ucl", NULL, end_ev, &cli,
		err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	EXPECT_INT(ts_send(cli.c, "one", 3, 1), 0);
	EXPECT_INT(ts_send(cli.c, "two", 3, 1), 0);
	EXPECT_INT(ts_send(cli.c, big, sizeof(big), 1), 0);
	RUN_UNTIL(srv.incoming, 5000);
	run_for(100);
	EXPECT_INT(srv.rx.len, 0);	/* nothing before ts_accept */
	EXPECT_INT(cli.accepted, 0);
	EXPECT_INT(ts_accept(srv.c), 0);
	EXPECT_INT(ts_accept(srv.c), -1);	/* only once */
	RUN_UNTIL(srv.rx.len == 6 + sizeof(big), 5000);
	EXPECT_TRUE(srv.rx.len == 6 + sizeof(big)
		&& memcmp(buf_data(&srv.rx), "onetwo", 6) == 0
		&& memcmp(buf_data(&srv.rx) + 6, big, sizeof(big)) == 0);
	EXPECT_INT(srv.pushes, 3);
	RUN_UNTIL(cli.accepted, 5000);
	ts_disconnect(srv.c, TS_R_NORMAL, "");
	RUN_UNTIL(cli.disconnected, 5000);
	RUN_UNTIL(srv.disconnected, 5000);
	end_free(&cli);
	end_free(&srv);

	/* the caller gives up before the accept: the owner hears of it */
	end_init(&cli, "client");
	end_init(&srv, "server");
	srv_end = &srv;
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP", "ucl", NULL, end_ev, &cli,
		err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(srv.incoming, 5000);
	ts_disconnect(cli.c, TS_R_APPFAIL, "changed my mind");
	RUN_UNTIL(srv.disconnected, 5000);
	EXPECT_INT(srv.reason, TS_R_APPFAIL);
	EXPECT_STR(srv.text, "changed my mind");
	EXPECT_INT(ts_accept(srv.c), -1);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_APPFAIL);
	end_free(&cli);
	end_free(&srv);
	ts_listener_close(l);
}

/* pause holds data back, resume delivers it in order; close inside DATA */
struct pauser {
	struct ts_conn *c;
	struct buf rx;
	int	events, pause_after, closed_in_cb, close_at;
};

static void pauser_ev(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct pauser *p = arg;

	if (ev->type == TS_EV_INCOMING) {
		(void)ts_accept(c);
	} else if (ev->type == TS_EV_DATA) {
		CU_ASSERT_FATAL(buf_append(&p->rx, ev->data, ev->len) == 0);
		if (++p->events == p->pause_after)
			ts_pause(c, 1);
		if (p->close_at && p->rx.len >= (size_t)p->close_at) {
			ts_close(c);
			p->c = NULL;
			p->closed_in_cb = 1;
		}
	} else if (ev->type == TS_EV_DISCONNECT) {
		ts_close(c);
		p->c = NULL;
	}
}

static struct pauser *pauser_next;

static void pauser_new(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	(void)l;
	(void)arg;
	pauser_next->c = c;
	ts_set_handler(c, pauser_ev, pauser_next);
}

static void test_pause(void)
{
	struct ts_listener *l;
	struct pauser p;
	struct end cli;
	char err[256], msg[16];
	int i;

	memset(&p, 0, sizeof(p));
	buf_init(&p.rx, 1 << 20);
	p.pause_after = 1;
	pauser_next = &p;
	l = ts_listen(tloop, "tcp:127.0.0.1:0", NULL, pauser_new, NULL, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	end_init(&cli, "client");
	cli.c = ts_connect(tloop, ts_listener_addr(l), "FTP", NULL, NULL, end_ev, &cli,
		err, sizeof(err));
	CU_ASSERT_FATAL(cli.c != NULL);
	RUN_UNTIL(cli.accepted, 5000);
	/* ten pushed records in one go: one event, then the pause holds the rest */
	for (i = 0; i < 10; i++) {
		snprintf(msg, sizeof(msg), "m%d;", i);
		EXPECT_INT(ts_send(cli.c, msg, strlen(msg), 1), 0);
	}
	RUN_UNTIL(p.events >= 1, 5000);
	run_for(100);
	EXPECT_INT(p.events, 1);
	EXPECT_STR(buf_cstr(&p.rx), "m0;");
	ts_pause(p.c, 0);
	RUN_UNTIL(p.rx.len >= 30, 5000);
	EXPECT_STR(buf_cstr(&p.rx), "m0;m1;m2;m3;m4;m5;m6;m7;m8;m9;");
	/* the owner closes inside a DATA event: no more events, no crash */
	p.close_at = 40;
	EXPECT_INT(ts_send(cli.c, "0123456789abcdef", 16, 1), 0);
	EXPECT_INT(ts_send(cli.c, "more", 4, 1), 0);
	RUN_UNTIL(p.closed_in_cb, 5000);
	RUN_UNTIL(cli.disconnected, 5000);
	EXPECT_INT(cli.reason, TS_R_TSFAIL);
	EXPECT_INT(p.rx.len, 46);
	end_free(&cli);
	buf_release(&p.rx);
	ts_listener_close(l);
}

/* ---------------------------------------------------------------- exec helper */

static struct ts_conn *echo_c;
static int echo_done;

static void echo_ev(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	(void)arg;
	switch (ev->type) {
	case TS_EV_INCOMING:
		(void)ts_accept(c);
		break;
	case TS_EV_DATA:
		if (ev->len > 0)
			(void)ts_send(c, ev->data, ev->len, ev->push);
		break;
	case TS_EV_RESET:
		if (!ev->confirm)
			ts_reset(c, 0, "");
		break;
	case TS_EV_DISCONNECT:
		ts_close(c);
		echo_c = NULL;
		echo_done = 1;
		break;
	default:
		break;
	}
}

static void echo_new(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	(void)l;
	(void)arg;
	echo_c = c;
	ts_set_handler(c, echo_ev, NULL);
}

/* stdio_echo - serve one call on stdin/stdout, echoing data */
static int stdio_echo(void)
{
	struct loop *loop = loop_new();
	struct ts_listener *l;
	char err[256];
	int64_t deadline = loop_now_ms() + 30000;

	if (loop == NULL)
		return 1;
	l = ts_listen(loop, "stdio", NULL, echo_new, NULL, err, sizeof(err));
	if (l == NULL) {
		fprintf(stderr, "test_ts --stdio-echo: %s\n", err);
		return 1;
	}
	while (!echo_done && loop_now_ms() < deadline)
		loop_run_once(loop, 100);
	ts_listener_close(l);
	if (echo_c != NULL)
		ts_close(echo_c);
	loop_free(loop);
	return echo_done ? 0 : 1;
}

/* ---------------------------------------------------------------- main */

static int suite_init(void)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);

	if (n <= 0)
		return -1;
	self_exe[n] = 0;
	if (tl_tmpdir(tdir, sizeof(tdir), "test_ts") < 0)
		return -1;
	tloop = loop_new();
	return tloop == NULL ? -1 : 0;
}

static int suite_clean(void)
{
	loop_free(tloop);
	return tl_rmtree(tdir);
}

int main(int argc, char **argv)
{
	static const struct tl_test tests[] = {
		{ "ts", "yb encode CONNECT golden", test_enc_connect },
		{ "ts", "yb encode DISCONNECT golden", test_enc_disconnect },
		{ "ts", "yb encode data sub-records", test_enc_data },
		{ "ts", "yb encode long parameters", test_enc_long_param },
		{ "ts", "yb decode one octet at a time", test_dec_bytewise },
		{ "ts", "yb decode stop and resume", test_dec_stop },
		{ "ts", "yb decode framing errors", test_dec_errors },
		{ "ts", "yb random round trip", test_roundtrip_random },
		{ "ts", "ts address parsing", test_addr_parse },
		{ "ts", "ts call over tcp 127.0.0.1", test_tcp4 },
		{ "ts", "ts call over tcp [::1]", test_tcp6 },
		{ "ts", "ts call over unix socket", test_unix },
		{ "ts", "ts call over exec", test_exec },
		{ "ts", "ts call over rawtcp", test_rawtcp },
		{ "ts", "ts refusal with reason", test_refuse },
		{ "ts", "ts RESET exchange", test_reset },
		{ "ts", "ts peer vanishes", test_peer_vanishes },
		{ "ts", "ts connection refused", test_refused },
		{ "ts", "ts setup timeout", test_setup_timeout },
		{ "ts", "ts connect timeout", test_connect_timeout },
		{ "ts", "ts idle timeout", test_idle_timeout },
		{ "ts", "ts back-pressure", test_backpressure },
		{ "ts", "ts accept later, early data", test_late_accept },
		{ "ts", "ts RESET with a full queue", test_reset_full_queue },
		{ "ts", "ts stdio wire bytes, RESET cut", test_stdio_wire },
		{ "ts", "ts pause and close in callback", test_pause },
		{ "ts", "ts misc", test_misc },
		{ "ts", "ts throughput", test_throughput },
	};

	if (argc > 1 && strcmp(argv[1], "--stdio-echo") == 0)
		return stdio_echo();
	signal(SIGPIPE, SIG_IGN);
	return tl_run(tests, NELEM(tests), suite_init, suite_clean);
}
