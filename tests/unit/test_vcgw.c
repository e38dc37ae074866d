/*++
 * NAME
 *	test_vcgw 1
 * SUMMARY
 *	CUnit tests of the virtual call gateway
 * SYNOPSIS
 *	build/tests/test_vcgw
 * DESCRIPTION
 *	conf: table-driven configuration files, good and broken; each
 *	broken one must be reported with the right FILE:LINE.
 *	map: longest prefix at component boundaries, ignoring case, the
 *	"*" rule, replacement of the prefix, over-long results.
 *	calling: extension with the gateway's name and loop detection.
 *	engine: a gateway, a caller and a far end in one process on one
 *	loop (Unix sockets): refusal with reason 19, the far end's refusal
 *	passed back, data held before ACCEPT, push boundaries, a RESET
 *	from the far end answered end to end, DISCONNECT text both ways,
 *	and a transport failure turned into reason 40.
 *
 *	Nothing sleeps: the loop runs until a condition holds, bounded.
 *--*/
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "niftp/ts.h"
#include "tests/unit/tl_test.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "vcgw/vcgw.h"
#include "vcgw/vcgw_conf.h"

static char tdir[256];

/* write_conf - put text into tdir/NAME; the path in path */
static void write_conf(const char *name, const char *text, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", tdir, name);
	(void)tl_write_file(path, text);
}

/*
 * conf
 */

static void test_conf_table(void)
{
	static const struct {
		const char *text;
		const char *want;	/* NULL: valid; else ":LINE: text" expected */
	} t[] = {
		{ "[listen]\na = tcp:127.0.0.1:0\n[map]\nFAR = unix:/tmp/x.sock FTP\n", NULL },
		{ "; comment\n[gateway]\nname = gw1\nmax_calls = 10\ncall_memory = 2M\n"
		  "idle_timeout = 0\nsetup_timeout = 5s\n[listen]\na = tcp:127.0.0.1:0, "
		  "unix:/tmp/a.sock\nb = rawtcp:127.0.0.1:0\n[map]\n* = tcp:1.2.3.4:5\n", NULL },
		{ "[listen]\na = tcp:127.0.0.1:0\nbad line\n[map]\nx = tcp:1.2.3.4:5\n",
		  ":3: syntax error: expected [section] or KEY = VALUE" },
		{ "[listen]\na=stdio\n[map]\nFAR = tcp:1.2.3.4:5\nfar = tcp:1.2.3.4:6\n",
		  ":5: key 'far' repeated in [map] (first on line 4)" },
		{ "[bogus]\nx = 1\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":1: unknown section [bogus]" },
		{ "[gateway]\nnmae = gw\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":2: unknown key 'nmae' in [gateway]" },
		{ "[listen]\na=stdio\n[map]\nfar = tcp:nohost\n", ":4: map 'far': " },
		{ "[listen]\na=exec:foo\n[map]\nfar = tcp:1.2.3.4:5\n",
		  ":2: listener 'a': cannot listen on an exec: address" },
		{ "[map]\nfar = tcp:1.2.3.4:5\n", ":0: no [listen] address" },
		{ "[listen]\na=stdio\n", ":0: no [map] rules" },
		{ "[gateway]\nmax_calls = x\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":2: max_calls 'x'" },
		{ "[gateway]\ncall_memory = 100k\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":2: call_memory '100k'" },
		{ "[gateway]\nsetup_timeout = soon\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":2: setup_timeout 'soon'" },
		{ "[listen]\na=stdio\n[map]\nfar = exec:ssh1\n[exec]\nssh1 = ssh far vcgw -f\n", NULL },
		{ "[listen]\na=stdio\n[map]\nfar = exec:ssh2\n",
		  ":4: map 'far': exec:ssh2: no command 'ssh2' in [exec]" },
		{ "[listen]\na=stdio\n[map]\na..b = tcp:1.2.3.4:5\n",
		  ":4: map 'a..b': not a called-address prefix" },
		{ "[listen]\na=stdio\n[map]\nfar = tcp:1.2.3.4:5 FTP extra\n",
		  ":4: map 'far': want ADDRESS [CALLED-TO-PASS], got 3 words" },
		{ "[listen]\na=stdio\n[map]\nfar = stdio\n", ":4: map 'far': cannot call out on stdio" },
		{ "[listen]\na=stdio\n[map]\nfar = tcp:1.2.3.4:5 .x\n",
		  ":4: map 'far': called address to pass '.x'" },
		{ "[gateway]\nname = g.w\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":2: name 'g.w'" },
		{ "[gateway]\nname = \\\n gw\nmax_calls = -1\n[listen]\na=stdio\n[map]\n"
		  "* = tcp:1.2.3.4:5\n", ":4: max_calls '-1'" },
		{ "[listen]\na = stdio\nb = stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":3: listener 'b': stdio listed twice" },
		{ "x = 1\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":1: key 'x' outside any section" },
		{ "[listen\na=stdio\n", ":1: syntax error: section header without ']'" },
	};
	char path[512], want[600];
	struct buf errs = BUF_INIT(64 * 1024);
	struct vcgw_conf *c;
	const char *got;
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		buf_reset(&errs);
		write_conf("c.ini", t[i].text, path, sizeof(path));
		c = vcgw_conf_load(path, &errs);
		got = buf_cstr(&errs);
		if (t[i].want == NULL) {
			if (c == NULL)
				fprintf(stderr, "\ncase %zu: want valid, got: %s\n", i, got);
			EXPECT_TRUE(c != NULL);
		} else {
			snprintf(want, sizeof(want), "%s%s", path, t[i].want);
			if (c != NULL || got == NULL || strstr(got, want) == NULL)
				fprintf(stderr, "\ncase %zu: want error \"%s\", got \"%s\"\n", i,
					want, got ? got : "");
			EXPECT_TRUE(c == NULL);
			EXPECT_TRUE(got != NULL && strstr(got, want) != NULL);
		}
		vcgw_conf_free(c);
	}
	buf_release(&errs);
}

static void test_conf_values(void)
{
	char path[512];
	struct vcgw_conf *c;

	write_conf("v.ini", "[gateway]\nname = gw7\nmax_calls = 12\ncall_memory = 2M\n"
		"idle_timeout = 0\nsetup_timeout = 5s\nconnect_timeout = 250ms\n"
		"shutdown_grace = 1m\npid_file = /tmp/x.pid\n[listen]\n"
		"a = tcp:127.0.0.1:0, unix:/tmp/a.sock\n[map]\nFAR = unix:/a FTP\n"
		"x = exec:e\n[exec]\ne = cat -u\n", path, sizeof(path));
	c = vcgw_conf_load(path, NULL);
	EXPECT_TRUE(c != NULL);
	if (c == NULL)
		return;
	EXPECT_STR(c->name, "gw7");
	EXPECT_INT(c->max_calls, 12);
	EXPECT_INT(c->call_memory, 2 * 1024 * 1024);
	EXPECT_INT(c->idle_timeout_ms, 0);
	EXPECT_INT(c->setup_timeout_ms, 5000);
	EXPECT_INT(c->connect_timeout_ms, 250);
	EXPECT_INT(c->grace_ms, 60000);
	EXPECT_STR(c->pid_file, "/tmp/x.pid");
	EXPECT_INT(c->nlisten, 2);
	EXPECT_STR(c->listen[1].addr, "unix:/tmp/a.sock");
	EXPECT_INT(c->nrules, 2);
	EXPECT_TRUE(vcgw_send_cap(c) * 3 + 384 * 1024 <= c->call_memory);
	EXPECT_TRUE(vcgw_send_cap(c) >= 64 * 1024);
	vcgw_conf_free(c);
}

/*
 * map and calling
 */

static void test_map_table(void)
{
	static const struct {
		const char *called;
		int	rc;
		const char *addr;
		const char *out;
	} t[] = {
		{ "FAR", VCGW_MAP_OK, "unix:/a", "FTP" },
		{ "far.mail", VCGW_MAP_OK, "unix:/a", "FTP.mail" },
		{ "FAR.X", VCGW_MAP_OK, "unix:/b", "" },
		{ "Far.x.Y", VCGW_MAP_OK, "unix:/b", "Y" },
		{ "FAR.XY", VCGW_MAP_OK, "unix:/a", "FTP.XY" },
		{ "FARM", VCGW_MAP_OK, "tcp:9.9.9.9:9", "FARM" },
		{ "JANET.UCL.FTP", VCGW_MAP_OK, "tcp:1.2.3.4:5", "UCL.FTP" },
		{ "janet", VCGW_MAP_OK, "tcp:1.2.3.4:5", "" },
		{ "FTP.MAIL", VCGW_MAP_OK, "unix:/m", "MAILSVC" },
		{ "Ftp.Mail.Extra", VCGW_MAP_OK, "unix:/m", "MAILSVC.Extra" },
		{ "FTP", VCGW_MAP_OK, "tcp:9.9.9.9:9", "FTP" },
		{ "FTP.MAILX", VCGW_MAP_OK, "tcp:9.9.9.9:9", "FTP.MAILX" },
		{ "", VCGW_MAP_OK, "tcp:9.9.9.9:9", "" },
	};
	static const struct {
		const char *called;
		int	rc;
	} t2[] = {
		{ "FARM", VCGW_MAP_NONE }, { "", VCGW_MAP_NONE }, { "FA", VCGW_MAP_NONE },
		{ "FAR", VCGW_MAP_OK }, { "x.far", VCGW_MAP_NONE },
	};
	char path[512], out[VCGW_ADDRMAX + 1], big[1100];
	const struct vcgw_rule *r;
	struct vcgw_conf *c;
	size_t i;
	int rc;

	write_conf("m.ini", "[listen]\na=stdio\n[map]\nFAR = unix:/a FTP\nFAR.X = unix:/b\n"
		"JANET = tcp:1.2.3.4:5\n* = tcp:9.9.9.9:9\nftp.mail = unix:/m MAILSVC\n"
		"L = unix:/l LONGERNAME\n",
		path, sizeof(path));
	c = vcgw_conf_load(path, NULL);
	EXPECT_TRUE(c != NULL);
	if (c == NULL)
		return;
	for (i = 0; i < NELEM(t); i++) {
		r = NULL;
		rc = vcgw_map(c, t[i].called, &r, out, sizeof(out));
		if (rc != t[i].rc)
			fprintf(stderr, "\nmap case %zu '%s'\n", i, t[i].called);
		EXPECT_INT(rc, t[i].rc);
		if (rc == VCGW_MAP_OK && r != NULL) {
			EXPECT_STR(r->addr, t[i].addr);
			EXPECT_STR(out, t[i].out);
		}
	}
	/* a replacement that makes the address too long */
	memset(big, 'a', 1022);
	memcpy(big, "L.", 2);
	big[1022] = '\0';
	EXPECT_INT(vcgw_map(c, big, &r, out, sizeof(out)), VCGW_MAP_LONG);
	vcgw_conf_free(c);

	write_conf("m2.ini", "[listen]\na=stdio\n[map]\nFAR = unix:/a\n", path, sizeof(path));
	c = vcgw_conf_load(path, NULL);
	EXPECT_TRUE(c != NULL);
	if (c == NULL)
		return;
	for (i = 0; i < NELEM(t2); i++)
		EXPECT_INT(vcgw_map(c, t2[i].called, &r, out, sizeof(out)), t2[i].rc);
	vcgw_conf_free(c);
}

static void test_calling_table(void)
{
	static const struct {
		const char *calling, *name;
		int	rc;
		const char *out;
	} t[] = {
		{ "ucl", "gw1", VCGW_CALLING_OK, "ucl.gw1" },
		{ "", "gw1", VCGW_CALLING_OK, "gw1" },
		{ "ucl.gw1", "gw2", VCGW_CALLING_OK, "ucl.gw1.gw2" },
		{ "ucl.gw1", "gw1", VCGW_CALLING_LOOP, NULL },
		{ "ucl.GW1.gw2", "gw1", VCGW_CALLING_LOOP, NULL },
		{ "gw1", "gw1", VCGW_CALLING_OK, "gw1.gw1" },
		{ "ucl.gw10", "gw1", VCGW_CALLING_OK, "ucl.gw10.gw1" },
		{ "127.0.0.1", "gw1", VCGW_CALLING_OK, "127.0.0.1.gw1" },
	};
	char out[VCGW_ADDRMAX + 1], big[1100];
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		EXPECT_INT(vcgw_calling(t[i].calling, t[i].name, out, sizeof(out)), t[i].rc);
		if (t[i].out != NULL)
			EXPECT_STR(out, t[i].out);
	}
	memset(big, 'a', 1022);
	big[1022] = '\0';
	EXPECT_INT(vcgw_calling(big, "gw1", out, sizeof(out)), VCGW_CALLING_LONG);
}

static void test_prefix_ok(void)
{
	static const struct {
		const char *s;
		int	ok;
	} t[] = {
		{ "FTP", 1 }, { "ftp.mail", 1 }, { "*", 1 }, { "", 0 }, { ".x", 0 },
		{ "x.", 0 }, { "a..b", 0 }, { "a b", 0 }, { "a*", 0 }, { "a-b_c.9", 1 },
	};
	size_t i;

	for (i = 0; i < NELEM(t); i++)
		EXPECT_INT(vcgw_prefix_ok(t[i].s), t[i].ok);
}

/*
 * engine: caller -> gateway -> far end, all in this process
 */

struct peer {
	struct ts_conn *c;
	int	incoming, accepted, disconnected, dreason;
	int	resets, reset_confirms, rreason;
	int	accept;			/* far end: 1 accept, 0 refuse */
	int	refuse_reason;
	int	answer_reset;		/* answer a RESET at once */
	char	text[1100], rtext[1100], called[1100], calling[1100];
	struct buf data;		/* records, each ended by '|' at its push */
};

static struct peer far_end;

/* peer_event - record what happens on a call */
static void peer_event(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct peer *p = arg;

	switch (ev->type) {
	case TS_EV_INCOMING:
		p->incoming = 1;
		snprintf(p->called, sizeof(p->called), "%s", ev->called);
		snprintf(p->calling, sizeof(p->calling), "%s", ev->calling);
		if (p->accept)
			(void)ts_accept(c);
		else
			ts_refuse(c, p->refuse_reason, "far end says no");
		break;
	case TS_EV_ACCEPTED:
		p->accepted = 1;
		break;
	case TS_EV_DATA:
		(void)buf_append(&p->data, ev->data, ev->len);
		if (ev->push)
			(void)buf_putc(&p->data, '|');
		break;
	case TS_EV_RESET:
		if (ev->confirm) {
			p->reset_confirms++;
		} else {
			p->resets++;
			if (p->answer_reset)
				ts_reset(c, ev->reason, "answered");
		}
		p->rreason = ev->reason;
		snprintf(p->rtext, sizeof(p->rtext), "%s", ev->text);
		break;
	case TS_EV_DISCONNECT:
		p->disconnected = 1;
		p->dreason = ev->reason;
		snprintf(p->text, sizeof(p->text), "%s", ev->text);
		ts_close(c);
		p->c = NULL;
		break;
	case TS_EV_DRAINED:
		break;
	}
}

/* far_new - the far end's listener got a call */
static void far_new(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	(void)l;
	(void)arg;
	far_end.c = c;
	ts_set_handler(c, peer_event, &far_end);
}

/* run_until - run the loop until *flag, at most ms; 1 when it came */
static int run_until(struct loop *loop, const int *flag, int ms)
{
	int64_t end = loop_now_ms() + ms;

	while (!*flag && loop_now_ms() < end)
		(void)loop_run_once(loop, 20);
	return *flag != 0;
}

/* run_until_len - run the loop until b holds n octets, at most ms */
static void run_until_len(struct loop *loop, const struct buf *b, size_t n, int ms)
{
	int64_t end = loop_now_ms() + ms;

	while (b->len < n && loop_now_ms() < end)
		(void)loop_run_once(loop, 20);
}

struct rig {
	struct loop *loop;
	struct ts_listener *far;
	struct vcgw *gw;
	char	gwaddr[600];
	struct peer caller;
};

/* rig_up - far listener and gateway; 0 or -1 */
static int rig_up(struct rig *r)
{
	char path[512], text[2048], err[512];
	struct buf errs = BUF_INIT(8192);
	struct vcgw_conf *conf;

	memset(r, 0, sizeof(*r));
	memset(&far_end, 0, sizeof(far_end));
	buf_init(&far_end.data, 1 << 20);
	buf_init(&r->caller.data, 1 << 20);
	far_end.accept = 1;
	r->loop = loop_new();
	snprintf(text, sizeof(text), "unix:%s/far.sock", tdir);
	r->far = ts_listen(r->loop, text, NULL, far_new, NULL, err, sizeof(err));
	if (r->far == NULL) {
		fprintf(stderr, "far listen: %s\n", err);
		return -1;
	}
	snprintf(text, sizeof(text), "[gateway]\nname = gwt\nsetup_timeout = 5s\n"
		"[listen]\nu = unix:%s/gw.sock\n[map]\nFAR = unix:%s/far.sock FTP\n"
		"RAW = rawtcp:127.0.0.1:9\n", tdir, tdir);
	write_conf("gw.ini", text, path, sizeof(path));
	conf = vcgw_conf_load(path, &errs);
	if (conf == NULL) {
		fprintf(stderr, "gw conf: %s\n", buf_cstr(&errs));
		buf_release(&errs);
		return -1;
	}
	buf_release(&errs);
	r->gw = vcgw_new(r->loop, conf, err, sizeof(err));
	if (r->gw == NULL) {
		fprintf(stderr, "gw: %s\n", err);
		return -1;
	}
	snprintf(r->gwaddr, sizeof(r->gwaddr), "%s", vcgw_addr(r->gw, 0));
	return 0;
}

/* rig_call - the caller calls the gateway */
static void rig_call(struct rig *r, const char *called)
{
	char err[512];

	r->caller.c = ts_connect(r->loop, r->gwaddr, called, "ucl", NULL, peer_event,
		&r->caller, err, sizeof(err));
	EXPECT_TRUE(r->caller.c != NULL);
}

/* rig_down - close everything */
static void rig_down(struct rig *r)
{
	int n;

	if (r->caller.c)
		ts_close(r->caller.c);
	if (far_end.c)
		ts_close(far_end.c);
	vcgw_free(r->gw);
	ts_listener_close(r->far);
	for (n = 0; n < 10; n++)
		(void)loop_run_once(r->loop, 0);
	loop_free(r->loop);
	buf_release(&far_end.data);
	buf_release(&r->caller.data);
}

static void test_engine_refuse(void)
{
	struct rig r;

	if (rig_up(&r) < 0) {
		CU_FAIL("rig");
		return;
	}
	rig_call(&r, "NOWHERE.FTP");
	EXPECT_TRUE(run_until(r.loop, &r.caller.disconnected, 5000));
	EXPECT_INT(r.caller.dreason, TS_R_BADADDR);
	EXPECT_TRUE(strstr(r.caller.text, "vcgw gwt: no route for called address "
		"'NOWHERE.FTP'") != NULL);
	EXPECT_INT(r.caller.accepted, 0);
	/* the far end refuses: its reason and text come back */
	memset(&r.caller, 0, sizeof(r.caller));
	buf_init(&r.caller.data, 1 << 20);
	far_end.accept = 0;
	far_end.refuse_reason = TS_R_BARRED;
	rig_call(&r, "far");
	EXPECT_TRUE(run_until(r.loop, &r.caller.disconnected, 5000));
	EXPECT_INT(r.caller.dreason, TS_R_BARRED);
	EXPECT_STR(r.caller.text, "far end says no");
	EXPECT_STR(far_end.called, "FTP");
	EXPECT_STR(far_end.calling, "ucl.gwt");
	rig_down(&r);
}

static void test_engine_data_reset_disconnect(void)
{
	struct rig r;

	if (rig_up(&r) < 0) {
		CU_FAIL("rig");
		return;
	}
	rig_call(&r, "FAR.MAIL");
	/* early data: queued by the caller before ACCEPT, held by the gateway */
	EXPECT_INT(ts_send(r.caller.c, "abc", 3, 1), 0);
	EXPECT_INT(ts_send(r.caller.c, "de", 2, 0), 0);
	EXPECT_INT(ts_send(r.caller.c, "f", 1, 1), 0);
	EXPECT_TRUE(run_until(r.loop, &r.caller.accepted, 5000));
	EXPECT_STR(far_end.called, "FTP.MAIL");
	run_until_len(r.loop, &far_end.data, 8, 5000);
	(void)buf_cstr(&far_end.data);
	EXPECT_STR((char *)buf_data(&far_end.data), "abc|def|");
	/* the far end answers; boundaries kept the other way too */
	EXPECT_INT(ts_send(far_end.c, "XY", 2, 1), 0);
	run_until_len(r.loop, &r.caller.data, 3, 5000);
	(void)buf_cstr(&r.caller.data);
	EXPECT_STR((char *)buf_data(&r.caller.data), "XY|");
	/* RESET from the far end: reaches the caller, who answers; the
	 * answer reaches the far end as the confirmation */
	r.caller.answer_reset = 1;
	ts_reset(far_end.c, TS_R_APPFAIL, "start again");
	EXPECT_TRUE(run_until(r.loop, &far_end.reset_confirms, 5000));
	EXPECT_INT(r.caller.resets, 1);
	EXPECT_INT(r.caller.rreason, TS_R_APPFAIL);
	EXPECT_STR(r.caller.rtext, "start again");
	EXPECT_STR(far_end.rtext, "answered");
	EXPECT_INT(far_end.resets, 0);
	/* data flows after the reset */
	buf_reset(&far_end.data);
	EXPECT_INT(ts_send(r.caller.c, "after", 5, 1), 0);
	run_until_len(r.loop, &far_end.data, 6, 5000);
	(void)buf_cstr(&far_end.data);
	EXPECT_STR((char *)buf_data(&far_end.data), "after|");
	/* DISCONNECT from the caller with text */
	ts_disconnect(r.caller.c, TS_R_NORMAL, "bye now");
	EXPECT_TRUE(run_until(r.loop, &far_end.disconnected, 8000));
	EXPECT_INT(far_end.dreason, TS_R_NORMAL);
	EXPECT_STR(far_end.text, "bye now");
	EXPECT_TRUE(run_until(r.loop, &r.caller.disconnected, 8000));
	rig_down(&r);
}

static void test_engine_failure(void)
{
	struct rig r;

	if (rig_up(&r) < 0) {
		CU_FAIL("rig");
		return;
	}
	rig_call(&r, "FAR");
	EXPECT_TRUE(run_until(r.loop, &r.caller.accepted, 5000));
	EXPECT_TRUE(run_until(r.loop, &far_end.incoming, 5000));
	/* the far end vanishes without DISCONNECT */
	ts_close(far_end.c);
	far_end.c = NULL;
	EXPECT_TRUE(run_until(r.loop, &r.caller.disconnected, 8000));
	EXPECT_INT(r.caller.dreason, TS_R_TSFAIL);
	EXPECT_TRUE(strncmp(r.caller.text, "vcgw gwt: ", 10) == 0);
	/* the far end is unreachable: the caller is refused with 16 */
	ts_listener_close(r.far);
	r.far = NULL;
	memset(&r.caller, 0, sizeof(r.caller));
	buf_init(&r.caller.data, 1 << 20);
	rig_call(&r, "FAR");
	EXPECT_TRUE(run_until(r.loop, &r.caller.disconnected, 8000));
	EXPECT_INT(r.caller.dreason, TS_R_NOCONN);
	EXPECT_INT(r.caller.accepted, 0);
	rig_down(&r);
}

/*
 * main
 */

int main(void)
{
	static const struct tl_test tests[] = {
		{ "conf", "good and broken files with lines", test_conf_table },
		{ "conf", "values and defaults", test_conf_values },
		{ "map", "longest prefix, case, replacement", test_map_table },
		{ "map", "prefix syntax", test_prefix_ok },
		{ "calling", "extension and loops", test_calling_table },
		{ "engine", "refusals", test_engine_refuse },
		{ "engine", "data, push, RESET, DISCONNECT", test_engine_data_reset_disconnect },
		{ "engine", "transport failure, unreachable", test_engine_failure },
	};
	int     rc;

	log_init("test_vcgw", LOG_LVL_WARN);
	if (tl_tmpdir(tdir, sizeof(tdir), "test_vcgw") < 0)
		return 1;
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	tl_rmtree(tdir);
	return rc;
}
