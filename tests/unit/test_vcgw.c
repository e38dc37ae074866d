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
 *	and a transport failure turned into reason 40; each with the
 *	splice path on and off. Bulk records both ways, and a RESET while
 *	the pumps' pipes hold data (the far end stopped reading).
 *	scan: the pump's scanner against golden streams and against the
 *	transport service's decoder on random streams in random pieces.
 *	pump: a pump between socket pairs: exact output bytes, a start
 *	inside a sub-record body, a sub-record that has only half come,
 *	the output released in the middle of a sub-record (what went out
 *	plus the rest handed back is a prefix of the input that ends at a
 *	sub-record boundary), the end of the input, splice(2) refused (the
 *	binary's own splice() refuses on demand).
 *	yb: the decoder's place saved and restored (ts_raw_*).
 *
 *	Nothing sleeps: the loop runs until a condition holds, bounded.
 *--*/
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "niftp/ts.h"
#include "niftp/ts_yb.h"
#include "tests/unit/tl_test.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "vcgw/vcgw.h"
#include "vcgw/vcgw_conf.h"
#include "vcgw/vcgw_pump.h"

static char tdir[256];

/*
 * splice(2) as the pumps see it: this definition in the test binary
 * takes the place of libc's, so a test can make the kernel refuse to
 * splice from a socket (as it may for descriptors it cannot splice).
 */
static int splice_refuse;	/* splice from a socket fails with EINVAL */

ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
	unsigned int flags)
{
	struct stat st;

	if (splice_refuse && fstat(fd_in, &st) == 0 && S_ISSOCK(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	return syscall(SYS_splice, fd_in, off_in, fd_out, off_out, len, flags);
}

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
		{ "[gateway]\nsplice = no\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n", NULL },
		{ "[gateway]\nsplice = Yes\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n", NULL },
		{ "[gateway]\nsplice = maybe\n[listen]\na=stdio\n[map]\n* = tcp:1.2.3.4:5\n",
		  ":2: splice 'maybe': want yes or no" },
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
	EXPECT_INT(c->splice, 1);	/* the default */
	vcgw_conf_free(c);
	write_conf("v.ini", "[gateway]\nsplice = off\n[listen]\na = stdio\n[map]\n* = unix:/a\n",
		path, sizeof(path));
	c = vcgw_conf_load(path, NULL);
	EXPECT_TRUE(c != NULL && c->splice == 0);
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
static int rig_splice = 1;	/* the rig's gateway splices (else: splice = no) */

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
	buf_init(&far_end.data, 16 << 20);
	buf_init(&r->caller.data, 16 << 20);
	far_end.accept = 1;
	r->loop = loop_new();
	snprintf(text, sizeof(text), "unix:%s/far.sock", tdir);
	r->far = ts_listen(r->loop, text, NULL, far_new, NULL, err, sizeof(err));
	if (r->far == NULL) {
		fprintf(stderr, "far listen: %s\n", err);
		return -1;
	}
	snprintf(text, sizeof(text), "[gateway]\nname = gwt\nsetup_timeout = 5s\n%s"
		"[listen]\nu = unix:%s/gw.sock\n[map]\nFAR = unix:%s/far.sock FTP\n"
		"RAW = rawtcp:127.0.0.1:9\n", rig_splice ? "" : "splice = no\n", tdir, tdir);
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

/* rig_open_call - the caller calls FAR through the gateway; both ends up */
static void rig_open_call(struct rig *r)
{
	rig_call(r, "FAR");
	EXPECT_TRUE(run_until(r->loop, &r->caller.accepted, 5000));
	EXPECT_TRUE(run_until(r->loop, &far_end.incoming, 5000));
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
	rig_open_call(&r);
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

/* COPY_PATH - NAME_copy: test NAME again on the copying path */
#define COPY_PATH(name) \
	static void name##_copy(void) \
	{ \
		rig_splice = 0; \
		name(); \
		rig_splice = 1; \
	}

/* the engine tests again on the copying path */
COPY_PATH(test_engine_refuse)

COPY_PATH(test_engine_data_reset_disconnect)

COPY_PATH(test_engine_failure)

/* rnd - a small deterministic generator (xorshift) */
static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * A sender of records for the engine rig: records of random length
 * (some empty), each given to ts_send() in pieces of random size, so
 * that the sub-records on the wire are of every size; want gets what
 * the receiving peer must record (the octets, '|' at each push).
 */
struct feeder {
	struct ts_conn *c;
	uint32_t x;
	int	nrec, rec;	/* records to send, and sent */
	size_t	reclen, off;	/* the record being sent */
	size_t	maxrec;
	struct buf want;
};

/* feed - send what the call has room for; 1 when all is sent */
static int feed(struct feeder *f)
{
	unsigned char piece[4096];
	size_t n, i;
	int push;

	while (f->rec < f->nrec) {
		/* not empty: ts_send() has no empty record to send when none is open */
		if (f->off == 0 && f->reclen == 0)
			f->reclen = 1 + (rnd(&f->x) % 4 == 0 ? rnd(&f->x) % 200
				: rnd(&f->x) % f->maxrec);
		n = f->reclen - f->off;
		if (n > sizeof(piece))
			n = sizeof(piece);
		if (n > 0 && rnd(&f->x) % 2)
			n = 1 + rnd(&f->x) % n;
		if (ts_room(f->c) < n + 1)
			return 0;
		for (i = 0; i < n; i++)
			piece[i] = (unsigned char)(f->rec * 7 + f->off + i);
		push = f->off + n == f->reclen;
		if (ts_send(f->c, piece, n, push) < 0)
			return 0;
		(void)buf_append(&f->want, piece, n);
		f->off += n;
		if (push) {
			(void)buf_putc(&f->want, '|');
			f->rec++;
			f->off = f->reclen = 0;
		}
	}
	return 1;
}

/* run_feed - feed f (and g, may be NULL) until all is sent and the
 * receivers hold what they want, at most ms */
static void run_feed(struct loop *loop, struct feeder *f, struct buf *fgot,
	struct feeder *g, struct buf *ggot, int ms)
{
	int64_t end = loop_now_ms() + ms;
	int done;

	do {
		done = feed(f) && fgot->len >= f->want.len;
		if (g != NULL)
			done = feed(g) && ggot->len >= g->want.len && done;
		(void)loop_run_once(loop, done ? 0 : 10);
	} while (!done && loop_now_ms() < end);
}

static void feeder_init(struct feeder *f, struct ts_conn *c, uint32_t seed, int nrec,
	size_t maxrec)
{
	memset(f, 0, sizeof(*f));
	f->c = c;
	f->x = seed;
	f->nrec = nrec;
	f->maxrec = maxrec;
	buf_init(&f->want, 16 << 20);
}

/* bulk records both ways at once: every octet and push boundary arrives */
static void test_engine_bulk(void)
{
	struct rig r;
	struct feeder up, down;
	struct vcgw_stats st;

	if (rig_up(&r) < 0) {
		CU_FAIL("rig");
		return;
	}
	rig_open_call(&r);
	feeder_init(&up, r.caller.c, 12345, 120, 60000);
	feeder_init(&down, far_end.c, 777, 60, 30000);
	run_feed(r.loop, &up, &far_end.data, &down, &r.caller.data, 20000);
	EXPECT_BYTES(buf_data(&far_end.data), far_end.data.len, buf_data(&up.want), up.want.len);
	EXPECT_BYTES(buf_data(&r.caller.data), r.caller.data.len, buf_data(&down.want),
		down.want.len);
	vcgw_stats(r.gw, &st);
	if (rig_splice)
		EXPECT_TRUE(st.spliced > 0);
	else
		EXPECT_INT(st.spliced, 0);
	buf_release(&up.want);
	buf_release(&down.want);
	rig_down(&r);
}

COPY_PATH(test_engine_bulk)

/*
 * A RESET from the far end while it does not read: the gateway's
 * queues (the pumps' pipes, or the transport's send queues) are full of
 * the caller's data. After the RESET is answered end to end the far end
 * gets exactly what the caller sends after its answer.
 */
static void test_engine_reset_full(void)
{
	struct rig r;
	struct feeder up, after;
	int64_t end;
	int quiet = 0;

	if (rig_up(&r) < 0) {
		CU_FAIL("rig");
		return;
	}
	rig_open_call(&r);
	ts_pause(far_end.c, 1);
	/* fill everything between the two: until nothing moves for a while */
	feeder_init(&up, r.caller.c, 99, 1000000, 50000);
	end = loop_now_ms() + 10000;
	while (quiet < 5 && loop_now_ms() < end) {
		(void)feed(&up);
		quiet = loop_run_once(r.loop, 20) == 0 ? quiet + 1 : 0;
	}
	EXPECT_TRUE(up.want.len > 300000);
	EXPECT_INT(far_end.data.len, 0);
	r.caller.answer_reset = 1;
	ts_reset(far_end.c, TS_R_APPFAIL, "full");
	ts_pause(far_end.c, 0);
	EXPECT_TRUE(run_until(r.loop, &far_end.reset_confirms, 8000));
	EXPECT_INT(r.caller.resets, 1);
	EXPECT_STR(far_end.rtext, "answered");
	EXPECT_INT(far_end.data.len, 0);	/* all of it was before the answer */
	feeder_init(&after, r.caller.c, 4242, 40, 20000);
	run_feed(r.loop, &after, &far_end.data, NULL, NULL, 10000);
	EXPECT_BYTES(buf_data(&far_end.data), far_end.data.len, buf_data(&after.want),
		after.want.len);
	buf_release(&up.want);
	buf_release(&after.want);
	rig_down(&r);
}

COPY_PATH(test_engine_reset_full)

/*
 * The caller sends more than the far end has room for, then DISCONNECT;
 * the gateway's DISCONNECT to the far end waits behind that data. The far
 * end, not reading, sends a RESET: the data is dropped, and the DISCONNECT
 * must still reach it (once lost on the splice path: the deferred
 * DISCONNECT was forgotten when the RESET emptied the pump).
 */
#define DR_NREC 100	/* about 400 KB: more than the far end's socket takes,
			 * not more than it and the pump hold */
#define DR_MAXREC 10000
static int dr_abort;	/* end it with vcgw_shutdown(gw, 1), not a RESET */

static void test_engine_disconnect_reset(void)
{
	struct rig r;
	struct feeder up;
	struct vcgw_stats st;
	uint64_t payload;
	int64_t end;
	int quiet = 0;

	if (rig_up(&r) < 0) {
		CU_FAIL("rig");
		return;
	}
	rig_open_call(&r);
	ts_pause(far_end.c, 1);
	/* all of it leaves the caller, its DISCONNECT too */
	feeder_init(&up, r.caller.c, 5150, DR_NREC, DR_MAXREC);
	end = loop_now_ms() + 10000;
	while (!feed(&up) && loop_now_ms() < end)
		(void)loop_run_once(r.loop, 10);
	EXPECT_INT(up.rec, DR_NREC);
	ts_disconnect(r.caller.c, TS_R_NORMAL, "done");
	if (rig_splice) {
		/* the pump has taken all of it: it stops before the DISCONNECT,
		 * which the gateway then reads */
		payload = up.want.len - DR_NREC;	/* less a '|' per record */
		end = loop_now_ms() + 8000;
		do {
			(void)loop_run_once(r.loop, 10);
			vcgw_stats(r.gw, &st);
		} while (st.spliced < payload && loop_now_ms() < end);
		EXPECT_INT(st.spliced, payload);
	}
	end = loop_now_ms() + 8000;
	while (quiet < 5 && loop_now_ms() < end)
		quiet = loop_run_once(r.loop, 20) == 0 ? quiet + 1 : 0;
	EXPECT_INT(far_end.disconnected, 0);
	if (dr_abort)
		vcgw_shutdown(r.gw, 1);
	else
		ts_reset(far_end.c, TS_R_APPFAIL, "enough");
	ts_pause(far_end.c, 0);
	EXPECT_TRUE(run_until(r.loop, &far_end.disconnected, 8000));
	if (dr_abort) {
		/* the gateway's reason, not the caller's: data was dropped */
		EXPECT_INT(far_end.dreason, TS_R_OUTOFORDER);
		EXPECT_STR(far_end.text, "vcgw gwt: shutting down");
	} else {
		EXPECT_INT(far_end.dreason, TS_R_NORMAL);
		EXPECT_STR(far_end.text, "done");
	}
	EXPECT_TRUE(far_end.data.len < up.want.len);	/* some was dropped */
	buf_release(&up.want);
	rig_down(&r);
}

COPY_PATH(test_engine_disconnect_reset)

/* the same, the gateway shutting down at once instead of the RESET */
static void test_engine_disconnect_abort(void)
{
	dr_abort = 1;
	test_engine_disconnect_reset();
	dr_abort = 0;
}

COPY_PATH(test_engine_disconnect_abort)

/*
 * scan
 */

static void test_scan_table(void)
{
	static const struct {
		int	in_record;
		size_t	body;
		int	last;
		const char *b;
		size_t	n;
		size_t	walked;
		uint64_t payload;
		int	stop, end_in_record;
		size_t	end_body;
	} t[] = {
		{ 0, 0, 0, "", 0, 0, 0, 0, 0, 0 },
		{ 0, 0, 0, "\x00\x83" "abc", 5, 5, 3, 0, 0, 0 },
		{ 0, 0, 0, "\x00\x03" "abc" "\x80", 6, 6, 3, 0, 0, 0 },
		{ 0, 0, 0, "\x00\x03" "abc", 5, 5, 3, 0, 1, 0 },
		{ 0, 0, 0, "\x00\x03" "ab", 4, 4, 2, 0, 1, 1 },
		/* 0x01 inside a record is a header; at a boundary a command */
		{ 0, 0, 0, "\x00\x01" "x" "\x81" "y" "\x01\x13", 7, 5, 2, 1, 0, 0 },
		{ 0, 0, 0, "\x05", 1, 0, 0, 1, 0, 0 },
		{ 0, 0, 0, "\x00\x00\x00\x80" "\x00\x80", 6, 6, 0, 0, 0, 0 },
		{ 1, 3, 1, "xyz" "\x00\x80", 5, 5, 3, 0, 0, 0 },
		{ 1, 3, 0, "xyz" "\x82" "ab" "\x01", 7, 6, 5, 1, 0, 0 },
		{ 1, 0, 0, "\x81" "a" "\x12", 3, 2, 1, 1, 0, 0 },
	};
	struct vcgw_scan st;
	uint64_t payload;
	size_t i, w;
	int stop;

	for (i = 0; i < NELEM(t); i++) {
		st.in_record = t[i].in_record;
		st.body = t[i].body;
		st.last = t[i].last;
		payload = 0;
		w = vcgw_pump_scan(&st, (const unsigned char *)t[i].b, t[i].n, &payload, &stop);
		EXPECT_INT(w, t[i].walked);
		EXPECT_INT(payload, t[i].payload);
		EXPECT_INT(stop, t[i].stop);
		EXPECT_INT(st.in_record || st.body > 0, t[i].end_in_record);
		EXPECT_INT(st.body, t[i].end_body);
	}
}

/* put_sub - one sub-record of n octets (fill) */
static void put_sub(struct buf *b, size_t n, int last, unsigned char fill)
{
	size_t i;

	(void)buf_putc(b, (int)(n | (last ? 0x80 : 0)));
	for (i = 0; i < n; i++)
		(void)buf_putc(b, fill + (int)i);
}

/* put_records - nrec data records of random sub-records; their payload */
static uint64_t put_records(struct buf *b, uint32_t *x, int nrec, int maxsubs)
{
	uint64_t payload = 0;
	int r, k, nsub;
	size_t n;

	for (r = 0; r < nrec; r++) {
		(void)buf_putc(b, 0);
		nsub = 1 + (int)(rnd(x) % (uint32_t)maxsubs);
		for (k = 0; k < nsub; k++) {
			n = rnd(x) % 3 == 0 ? 127 : rnd(x) % 128;
			put_sub(b, n, k == nsub - 1, (unsigned char)rnd(x));
			payload += n;
		}
	}
	return payload;
}

/* put_reset - a RESET command record */
static void put_reset(struct buf *b)
{
	const char *pv[3] = { "\x27", "gw", "why" };
	int open = 0;

	(void)yb_enc_cmd(b, &open, YB_RESET, pv, NULL, 3);
}

static int dec_data(void *arg, const unsigned char *p, size_t len, int push)
{
	uint64_t *n = arg;

	(void)p;
	(void)push;
	n[0] += len;
	return 0;
}

static int dec_cmd(void *arg, const struct yb_cmd *cmd)
{
	uint64_t *n = arg;

	(void)cmd;
	n[1]++;
	return -1;	/* stop at the command */
}

/* random streams scanned in random pieces: the payload the decoder sees,
 * and a stop exactly before the command */
static void test_scan_random(void)
{
	static const struct yb_dec_cb cb = { dec_data, dec_cmd };
	struct buf b = BUF_INIT(4 << 20);
	struct vcgw_scan st;
	struct yb_dec *d;
	uint64_t payload, want, seen[2];
	uint32_t x = 2024;
	size_t off, n, w, datalen;
	int round, stop;

	for (round = 0; round < 50; round++) {
		buf_reset(&b);
		want = put_records(&b, &x, 1 + (int)(rnd(&x) % 40), 1 + (int)(rnd(&x) % 30));
		datalen = b.len;
		put_reset(&b);
		memset(&st, 0, sizeof(st));
		payload = 0;
		stop = 0;
		for (off = 0; off < b.len && !stop; off += w) {
			n = 1 + rnd(&x) % 700;
			if (n > b.len - off)
				n = b.len - off;
			w = vcgw_pump_scan(&st, buf_data(&b) + off, n, &payload, &stop);
			if (!stop && w != n)
				break;
		}
		EXPECT_INT(stop, 1);
		EXPECT_INT(off, datalen);
		EXPECT_INT(payload, want);
		memset(seen, 0, sizeof(seen));
		d = yb_dec_new(&cb, seen);
		(void)yb_dec_feed(d, buf_data(&b), b.len);
		EXPECT_INT(seen[0], want);
		EXPECT_INT(seen[1], 1);
		yb_dec_free(d);
	}
	buf_release(&b);
}

/*
 * pump
 */

struct prig {
	int	a[2], b[2];	/* a[0] -> a[1] (the pump reads), b[0] (the pump writes) -> b[1] */
	struct vcgw_pump *p;
	unsigned char scratch[65536];
	struct buf out;
};

/* tcp_pair - a connected pair of non-blocking loopback TCP sockets; 0 or -1 */
static int tcp_pair(int sv[2])
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv[0] = sv[1] = -1;
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0
	    || getsockname(l, (struct sockaddr *)&sa, &sl) < 0
	    || (sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(sv[0], (struct sockaddr *)&sa, sizeof(sa)) < 0
	    || (sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		if (l >= 0)
			close(l);
		return -1;
	}
	close(l);
	(void)setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(sv[1], F_SETFL, O_NONBLOCK);
	return 0;
}

/* prig_up_with - input and output socket pairs (each over TCP or a Unix
 * socket pair) and a pump asking for a pipe of pipe octets */
static int prig_up_with(struct prig *r, int tcp_in, int tcp_out, size_t pipe)
{
	char err[256];

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, 8 << 20);
	if ((tcp_in ? tcp_pair(r->a)
		: socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r->a)) < 0
	    || (tcp_out ? tcp_pair(r->b)
		: socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r->b)) < 0)
		return -1;
	r->p = vcgw_pump_new(pipe, err, sizeof(err));
	return r->p != NULL ? 0 : -1;
}

/* prig_up_kind - the input over a Unix socket pair, the output over TCP
 * when tcp, a 64 KiB pipe */
static int prig_up_kind(struct prig *r, int tcp)
{
	return prig_up_with(r, 0, tcp, 65536);
}

static int prig_up(struct prig *r)
{
	return prig_up_kind(r, 0);
}

static void prig_down(struct prig *r)
{
	vcgw_pump_free(r->p);
	close(r->a[0]);
	close(r->a[1]);
	close(r->b[0]);
	close(r->b[1]);
	buf_release(&r->out);
}

/* send_all - write len octets into a socket (the pump's input) */
static void send_all(int fd, const unsigned char *p, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, p + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

/* drain_out - read what the pump wrote */
static void drain_out(struct prig *r)
{
	unsigned char b[65536];
	ssize_t n;

	while ((n = recv(r->b[1], b, sizeof(b), MSG_DONTWAIT)) > 0)
		(void)buf_append(&r->out, b, (size_t)n);
}

/* pump_until - run the pump (reading the output) until it stops or
 * nothing moves; the results summed into *res */
static void pump_until(struct prig *r, struct vcgw_pump_res *res)
{
	struct vcgw_pump_res one;
	int i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < 200; i++) {
		vcgw_pump_run(r->p, 1, 1, r->scratch, sizeof(r->scratch), &one);
		drain_out(r);
		res->moved += one.moved;
		res->stopped |= one.stopped;
		res->nosplice |= one.nosplice;
		if (one.out_err)
			res->out_err = one.out_err;
		if (one.stopped || one.out_err)
			break;
		if (one.moved == 0 && i > 2)
			break;
	}
}

static const struct ts_ybpos at_type = { 0, 0, 0 };

/* records then a RESET: the records go out as they came, the input
 * stops before the RESET, which the transport service then reads */
static void test_pump_records(void)
{
	struct prig r;
	struct buf in = BUF_INIT(1 << 20), cmd = BUF_INIT(256);
	struct vcgw_pump_res res;
	struct ts_ybpos pos;
	unsigned char rest[VCGW_PUMP_SUBMAX], got[256];
	uint64_t skipped, payload;
	uint32_t x = 7;
	ssize_t n;

	if (prig_up(&r) < 0) {
		CU_FAIL("prig");
		return;
	}
	payload = put_records(&in, &x, 30, 20);
	put_reset(&cmd);
	send_all(r.a[0], buf_data(&in), in.len);
	send_all(r.a[0], buf_data(&cmd), cmd.len);
	EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &at_type, &at_type), 0);
	pump_until(&r, &res);
	EXPECT_INT(res.stopped, 1);
	EXPECT_INT(res.nosplice, 0);
	EXPECT_INT(res.out_err, 0);
	EXPECT_INT(res.moved, payload);
	EXPECT_TRUE(vcgw_pump_drained(r.p) == 0);	/* the input is still held */
	vcgw_pump_stop_input(r.p, &pos, &skipped);
	EXPECT_INT(skipped, in.len);
	EXPECT_INT(pos.in_record, 0);
	EXPECT_INT(vcgw_pump_drained(r.p), 1);
	EXPECT_BYTES(buf_data(&r.out), r.out.len, buf_data(&in), in.len);
	EXPECT_INT(vcgw_pump_release(r.p, r.scratch, sizeof(r.scratch), &pos, rest), 0);
	EXPECT_INT(pos.in_record, 0);
	EXPECT_INT(pos.body, 0);
	n = recv(r.a[1], got, sizeof(got), MSG_DONTWAIT);
	EXPECT_BYTES(got, n > 0 ? (size_t)n : 0, buf_data(&cmd), cmd.len);
	buf_release(&in);
	buf_release(&cmd);
	prig_down(&r);
}

/* starting inside a sub-record body: its rest goes out under a header
 * of its own, after a type octet when the output has no record open */
static void test_pump_midbody(void)
{
	static const struct {
		struct ts_ybpos in, out;
		const char *input;
		size_t inlen;
		const char *want;
		size_t wantlen;
	} t[] = {
		{ { 1, 5, 0 }, { 1, 0, 0 }, "abcde" "\x83" "xyz" "\x01", 10,
		  "\x05" "abcde" "\x83" "xyz", 10 },
		{ { 1, 5, 0 }, { 0, 0, 0 }, "abcde" "\x83" "xyz" "\x01", 10,
		  "\x00\x05" "abcde" "\x83" "xyz", 11 },
		{ { 1, 5, 1 }, { 1, 0, 0 }, "abcde" "\x00\x81" "q" "\x01", 9,
		  "\x85" "abcde" "\x00\x81" "q", 9 },
		{ { 1, 0, 0 }, { 0, 0, 0 }, "\x82" "pq" "\x01", 4, "\x00\x82" "pq", 4 },
		{ { 1, 0, 0 }, { 1, 0, 0 }, "\x82" "pq" "\x01", 4, "\x82" "pq", 3 },
	};
	struct prig r;
	struct vcgw_pump_res res;
	struct ts_ybpos pos;
	uint64_t skipped;
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		if (prig_up(&r) < 0) {
			CU_FAIL("prig");
			return;
		}
		send_all(r.a[0], (const unsigned char *)t[i].input, t[i].inlen);
		EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &t[i].in, &t[i].out), 0);
		pump_until(&r, &res);
		EXPECT_INT(res.stopped, 1);
		vcgw_pump_stop_input(r.p, &pos, &skipped);
		EXPECT_INT(skipped, t[i].inlen - 1);
		EXPECT_INT(pos.in_record, 0);
		EXPECT_BYTES(buf_data(&r.out), r.out.len, t[i].want, t[i].wantlen);
		prig_down(&r);
	}
	/* a record open on the output but not on the input cannot be */
	if (prig_up(&r) < 0)
		return;
	pos.in_record = 1;
	pos.body = 0;
	pos.last = 0;
	EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &at_type, &pos), -1);
	prig_down(&r);
}

/* half a sub-record has come: only the type octet goes out; stopped
 * there, the input stands inside the body and the output after the type
 * octet; the half is dropped */
static void test_pump_partial(void)
{
	struct prig r;
	struct buf in = BUF_INIT(1024);
	struct vcgw_pump_res res;
	struct ts_ybpos pos;
	unsigned char rest[VCGW_PUMP_SUBMAX];
	uint64_t skipped;
	int rd, wr;

	if (prig_up(&r) < 0) {
		CU_FAIL("prig");
		return;
	}
	(void)buf_putc(&in, 0);
	put_sub(&in, 127, 0, 'a');
	send_all(r.a[0], buf_data(&in), 52);	/* type, header, 50 of 127 */
	EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &at_type, &at_type), 0);
	pump_until(&r, &res);
	EXPECT_INT(res.stopped, 0);
	EXPECT_INT(res.moved, 50);
	EXPECT_BYTES(buf_data(&r.out), r.out.len, "\x00", 1);
	vcgw_pump_wants(r.p, &rd, &wr);
	EXPECT_INT(rd, 1);
	EXPECT_INT(wr, 0);
	vcgw_pump_stop_input(r.p, &pos, &skipped);
	EXPECT_INT(skipped, 52);
	EXPECT_INT(pos.in_record, 1);
	EXPECT_INT(pos.body, 77);
	EXPECT_INT(pos.last, 0);
	EXPECT_INT(vcgw_pump_drained(r.p), 1);
	EXPECT_INT(vcgw_pump_release(r.p, r.scratch, sizeof(r.scratch), &pos, rest), 51);
	EXPECT_INT(pos.in_record, 1);
	EXPECT_INT(pos.body, 0);
	buf_release(&in);
	prig_down(&r);
}

/*
 * A pipe of one or two pages, and a sender that often sends one octet at
 * a time (each a segment of its own, each taking a page slot of the
 * pipe): the slots fill with the start of one sub-record, which cannot go
 * out until it is whole. The pump must take it out of the pipe and go on;
 * every octet arrives, in order, up to the RESET after the records.
 */
static void test_pump_small_pipe(void)
{
	static const size_t pipes[] = { 4096, 8192, 65536 };
	struct prig r;
	struct buf in = BUF_INIT(1 << 20), cmd = BUF_INIT(256);
	struct vcgw_pump_res one;
	uint64_t payload, moved;
	uint32_t x = 31337;
	struct pollfd pf[2];
	size_t k, off, piece;
	ssize_t n;
	int tcp, stuck, stopped, rd, wr, burst;

	for (k = 0; k < NELEM(pipes); k++) {
		for (tcp = 0; tcp < 2; tcp++) {
			if (prig_up_with(&r, tcp, tcp, pipes[k]) < 0) {
				CU_FAIL("prig");
				return;
			}
			buf_reset(&in);
			buf_reset(&cmd);
			payload = put_records(&in, &x, 60, 40);
			put_reset(&cmd);
			EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &at_type, &at_type), 0);
			off = 0;
			moved = 0;
			stuck = stopped = 0;
			while (!stopped && stuck < 200) {	/* 2 s without anything to do */
				/* a burst of pieces: single octets, and runs of
				 * many sub-records */
				for (burst = 1 + rnd(&x) % 8; burst > 0 && off < in.len; burst--) {
					piece = rnd(&x) % 3 == 0 ? 1 : 1 + rnd(&x) % 20000;
					if (piece > in.len - off)
						piece = in.len - off;
					n = send(r.a[0], buf_data(&in) + off, piece,
						MSG_DONTWAIT | MSG_NOSIGNAL);
					if (n <= 0)
						break;
					off += (size_t)n;
					if (off == in.len)
						send_all(r.a[0], buf_data(&cmd), cmd.len);
				}
				/* as the gateway does: run it on what it waits for */
				vcgw_pump_wants(r.p, &rd, &wr);
				pf[0].fd = r.a[1];
				pf[0].events = rd ? POLLIN : 0;
				pf[1].fd = r.b[0];
				pf[1].events = wr ? POLLOUT : 0;
				if (poll(pf, 2, off < in.len ? 0 : 10) <= 0) {
					stuck += off == in.len;
					continue;
				}
				vcgw_pump_run(r.p, (pf[0].revents & POLLIN) != 0,
					(pf[1].revents & POLLOUT) != 0, r.scratch,
					sizeof(r.scratch), &one);
				drain_out(&r);
				moved += one.moved;
				stopped = one.stopped;
				EXPECT_INT(one.out_err, 0);
				stuck = 0;
			}
			EXPECT_INT(stopped, 1);
			EXPECT_INT(moved, payload);
			EXPECT_BYTES(buf_data(&r.out), r.out.len, buf_data(&in), in.len);
			prig_down(&r);
		}
	}
	buf_release(&in);
	buf_release(&cmd);
}

/*
 * The output is full with octets waiting in pre, and the one-page pipe
 * holds the start of the next sub-record: the pump must wait for the
 * output (pre goes first), not be woken by the input again and again
 * (it once spun at ~40,000 wakeups a second). Then everything goes out.
 */
static void test_pump_full_pre_wait(void)
{
	static const struct ts_ybpos in = { 1, 5, 0 }, out = { 1, 0, 0 };
	unsigned char fill[4096], want[64];
	struct prig r;
	struct vcgw_pump_res one, res;
	struct pollfd pf[2];
	size_t filled = 0, i, w = 0;
	ssize_t n;
	int rd, wr, runs = 0;

	if (prig_up_with(&r, 0, 0, 4096) < 0) {
		CU_FAIL("prig");
		return;
	}
	memset(fill, 'f', sizeof(fill));
	while ((n = send(r.b[0], fill, sizeof(fill), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
		filled += (size_t)n;	/* nobody reads r.b[1] yet */
	EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &in, &out), 0);
	send_all(r.a[0], (const unsigned char *)"abcde", 5);	/* pre: 0x05 abcde */
	want[w++] = 0x05;
	memcpy(want + w, "abcde", 5);
	w += 5;
	want[w++] = 0x80 | 30;	/* the next sub-record, the record's last */
	send_all(r.a[0], want + w - 1, 1);
	for (i = 0; i < 30; i++)
		want[w + i] = (unsigned char)('A' + i);
	for (i = 0; i < 20; i++)	/* 20 of its 30 octets, one segment each */
		send_all(r.a[0], want + w + i, 1);
	vcgw_pump_run(r.p, 1, 1, r.scratch, sizeof(r.scratch), &one);
	vcgw_pump_run(r.p, 1, 1, r.scratch, sizeof(r.scratch), &one);
	for (i = 0; i < 30; i++) {	/* 300 ms of what the gateway would do */
		vcgw_pump_wants(r.p, &rd, &wr);
		pf[0].fd = r.a[1];
		pf[0].events = rd ? POLLIN : 0;
		pf[1].fd = r.b[0];
		pf[1].events = wr ? POLLOUT : 0;
		if (poll(pf, 2, 10) > 0) {
			runs++;
			vcgw_pump_run(r.p, (pf[0].revents & POLLIN) != 0,
				(pf[1].revents & POLLOUT) != 0, r.scratch, sizeof(r.scratch), &one);
		}
	}
	EXPECT_TRUE(runs <= 2);
	/* the far end reads: the filler, then what the pump had */
	send_all(r.a[0], want + w + 20, 10);
	w += 30;
	for (i = 0; i < 5 && r.out.len < filled + w; i++)
		pump_until(&r, &res);
	EXPECT_INT(r.out.len, filled + w);
	if (r.out.len == filled + w)
		EXPECT_BYTES(buf_data(&r.out) + filled, w, want, w);
	prig_down(&r);
}

/*
 * An urgent octet (MSG_OOB) inside a sub-record: TCP splices never pass
 * an urgent mark. The pump copies past it, as a read does (the urgent
 * octet is not in the stream), and goes on splicing.
 */
static void test_pump_urgent(void)
{
	struct prig r;
	struct buf in = BUF_INIT(1 << 20), cmd = BUF_INIT(256);
	struct vcgw_pump_res res;
	uint64_t payload, moved;
	uint32_t x = 4711;
	size_t cut;
	int i;

	if (prig_up_with(&r, 1, 1, 65536) < 0) {
		CU_FAIL("prig");
		return;
	}
	payload = put_records(&in, &x, 10, 20);
	put_reset(&cmd);
	EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &at_type, &at_type), 0);
	cut = in.len / 2 + 3;
	send_all(r.a[0], buf_data(&in), cut);
	pump_until(&r, &res);	/* spliced up to where the mark will be */
	moved = res.moved;
	EXPECT_INT(send(r.a[0], "!", 1, MSG_OOB | MSG_NOSIGNAL), 1);
	send_all(r.a[0], buf_data(&in) + cut, in.len - cut);
	send_all(r.a[0], buf_data(&cmd), cmd.len);
	for (i = 0; i < 3 && !res.stopped; i++) {
		pump_until(&r, &res);
		moved += res.moved;
	}
	EXPECT_INT(res.stopped, 1);
	EXPECT_INT(res.out_err, 0);
	EXPECT_INT(moved, payload);
	EXPECT_BYTES(buf_data(&r.out), r.out.len, buf_data(&in), in.len);
	buf_release(&in);
	buf_release(&cmd);
	prig_down(&r);
}

/* the output is full: reading stops (back-pressure); released then, what
 * went out plus the rest handed back is a prefix of the input that ends
 * at a sub-record boundary */
static void test_pump_release(void)
{
	struct prig r;
	struct buf in = BUF_INIT(4 << 20), all = BUF_INIT(4 << 20);
	struct vcgw_pump_res res;
	struct ts_ybpos pos;
	struct vcgw_scan sc;
	unsigned char rest[VCGW_PUMP_SUBMAX];
	uint64_t skipped, payload = 0;
	uint32_t x = 31;
	int rd, wr, stop, round, sz = 4096, half = 0;
	size_t off = 0, w;
	ssize_t n;

	for (round = 0; round < 12; round++) {
		if (prig_up_kind(&r, round % 2) < 0) {
			CU_FAIL("prig");
			return;
		}
		buf_reset(&in);
		buf_reset(&all);
		(void)put_records(&in, &x, 400, 60);
		(void)setsockopt(r.b[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &at_type, &at_type), 0);
		/* feed the input while the pump takes it; nobody reads the output */
		for (off = 0; off < in.len; ) {
			n = send(r.a[0], buf_data(&in) + off, in.len - off, MSG_DONTWAIT);
			if (n > 0)
				off += (size_t)n;
			vcgw_pump_run(r.p, 1, 1, r.scratch, sizeof(r.scratch), &res);
			if (n <= 0 && res.moved == 0)
				break;
		}
		vcgw_pump_wants(r.p, &rd, &wr);
		EXPECT_TRUE(off < in.len);	/* the input could not all go */
		EXPECT_INT(rd, 0);	/* the pipe is full: no more reading */
		EXPECT_INT(wr, 1);
		vcgw_pump_stop_input(r.p, &pos, &skipped);
		(void)vcgw_pump_release(r.p, r.scratch, sizeof(r.scratch), &pos, rest);
		drain_out(&r);
		(void)buf_append(&all, buf_data(&r.out), r.out.len);
		(void)buf_append(&all, rest, pos.body);
		EXPECT_TRUE(all.len > 0 && all.len <= in.len);
		EXPECT_BYTES(buf_data(&all), all.len, buf_data(&in), all.len);
		/* it ends where pos says: at a sub-record boundary after the rest */
		memset(&sc, 0, sizeof(sc));
		w = vcgw_pump_scan(&sc, buf_data(&r.out), r.out.len, &payload, &stop);
		EXPECT_INT(w, r.out.len);
		EXPECT_INT(sc.body, pos.body);
		if (pos.body == 0)
			EXPECT_INT(sc.in_record, pos.in_record);
		half += pos.body > 0;
		prig_down(&r);
		if (round % 2)
			sz *= 2;
	}
	EXPECT_TRUE(half > 0);	/* TCP takes part of a sub-record now and then */
	buf_release(&in);
	buf_release(&all);
}

/* the input ends: the pump stops and says so, nothing refused */
static void test_pump_eof(void)
{
	struct prig r;
	struct vcgw_pump_res res;

	if (prig_up(&r) < 0) {
		CU_FAIL("prig");
		return;
	}
	send_all(r.a[0], (const unsigned char *)"\x00\x83" "abc" "\x00\x05" "ab", 9);
	close(r.a[0]);
	r.a[0] = socket(AF_UNIX, SOCK_STREAM, 0);	/* for prig_down */
	EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &at_type, &at_type), 0);
	pump_until(&r, &res);
	EXPECT_INT(res.stopped, 1);
	EXPECT_INT(res.nosplice, 0);
	EXPECT_INT(res.moved, 5);
	EXPECT_BYTES(buf_data(&r.out), r.out.len, "\x00\x83" "abc" "\x00", 6);
	prig_down(&r);
}

/* the kernel refuses to splice from the input: nothing is lost; what a
 * start inside a body received still goes out */
static void test_pump_refused(void)
{
	struct prig r;
	struct vcgw_pump_res res;
	struct ts_ybpos pos, in = { 1, 3, 1 }, out = { 0, 0, 0 };
	unsigned char got[64];
	uint64_t skipped;
	ssize_t n;

	if (prig_up(&r) < 0) {
		CU_FAIL("prig");
		return;
	}
	send_all(r.a[0], (const unsigned char *)"xyz" "\x00\x82" "ab", 7);
	splice_refuse = 1;
	EXPECT_INT(vcgw_pump_start(r.p, r.a[1], r.b[0], &in, &out), 0);
	pump_until(&r, &res);
	splice_refuse = 0;
	EXPECT_INT(res.stopped, 1);
	EXPECT_INT(res.nosplice, 1);
	vcgw_pump_stop_input(r.p, &pos, &skipped);
	EXPECT_INT(skipped, 3);
	EXPECT_INT(pos.in_record, 0);
	EXPECT_INT(vcgw_pump_drained(r.p), 1);
	EXPECT_BYTES(buf_data(&r.out), r.out.len, "\x00\x83" "xyz", 5);
	n = recv(r.a[1], got, sizeof(got), MSG_DONTWAIT);
	EXPECT_BYTES(got, n > 0 ? (size_t)n : 0, "\x00\x82" "ab", 4);
	prig_down(&r);
}

/* a gateway whose splices are all refused copies, and loses nothing */
static void test_engine_refused(void)
{
	struct rig r;
	struct feeder up, down;
	struct vcgw_stats st;

	if (rig_up(&r) < 0) {
		CU_FAIL("rig");
		return;
	}
	splice_refuse = 1;
	rig_open_call(&r);
	feeder_init(&up, r.caller.c, 5, 40, 30000);
	feeder_init(&down, far_end.c, 6, 20, 30000);
	run_feed(r.loop, &up, &far_end.data, &down, &r.caller.data, 20000);
	splice_refuse = 0;
	EXPECT_BYTES(buf_data(&far_end.data), far_end.data.len, buf_data(&up.want), up.want.len);
	EXPECT_BYTES(buf_data(&r.caller.data), r.caller.data.len, buf_data(&down.want),
		down.want.len);
	vcgw_stats(r.gw, &st);
	EXPECT_INT(st.spliced, 0);
	buf_release(&up.want);
	buf_release(&down.want);
	rig_down(&r);
}

/* the decoder's place, saved and set again */
static void test_yb_pos(void)
{
	static const struct yb_dec_cb cb = { dec_data, dec_cmd };
	uint64_t seen[2] = { 0, 0 };
	struct yb_dec *d = yb_dec_new(&cb, seen);
	int in_record, last;
	size_t body;

	EXPECT_INT(yb_dec_pos(d, &in_record, &body, &last), 0);
	EXPECT_INT(in_record, 0);
	(void)yb_dec_feed(d, (const unsigned char *)"\x00\x85" "ab", 4);
	EXPECT_INT(yb_dec_pos(d, &in_record, &body, &last), 0);
	EXPECT_INT(in_record, 1);
	EXPECT_INT(body, 3);
	EXPECT_INT(last, 1);
	(void)yb_dec_feed(d, (const unsigned char *)"cde" "\x01\x13\x81", 6);
	EXPECT_INT(yb_dec_pos(d, &in_record, &body, &last), -1);	/* a command */
	yb_dec_free(d);
	/* set inside a body: the rest of it is data, then a record ends */
	seen[0] = 0;
	d = yb_dec_new(&cb, seen);
	yb_dec_set_pos(d, 1, 4, 0, 1000);
	EXPECT_INT(yb_dec_feed(d, (const unsigned char *)"wxyz" "\x81" "q" "\x09", 7), -1);
	EXPECT_INT(seen[0], 5);
	EXPECT_HAS(yb_dec_error(d), "at octet 1006");
	yb_dec_free(d);
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
		{ "engine", "bulk records both ways", test_engine_bulk },
		{ "engine", "RESET while the queues are full", test_engine_reset_full },
		{ "engine", "RESET while a DISCONNECT waits", test_engine_disconnect_reset },
		{ "engine", "shutdown while a DISCONNECT waits", test_engine_disconnect_abort },
		{ "copy", "refusals", test_engine_refuse_copy },
		{ "copy", "data, push, RESET, DISCONNECT", test_engine_data_reset_disconnect_copy },
		{ "copy", "transport failure, unreachable", test_engine_failure_copy },
		{ "copy", "bulk records both ways", test_engine_bulk_copy },
		{ "copy", "RESET while the queues are full", test_engine_reset_full_copy },
		{ "copy", "RESET while a DISCONNECT waits", test_engine_disconnect_reset_copy },
		{ "copy", "shutdown while a DISCONNECT waits", test_engine_disconnect_abort_copy },
		{ "scan", "golden streams", test_scan_table },
		{ "scan", "random streams against the decoder", test_scan_random },
		{ "pump", "records up to a command", test_pump_records },
		{ "pump", "start inside a body", test_pump_midbody },
		{ "pump", "half a sub-record", test_pump_partial },
		{ "pump", "pipes of a page or two, octets one at a time", test_pump_small_pipe },
		{ "pump", "an urgent octet in a sub-record", test_pump_urgent },
		{ "pump", "a full output with pre waiting", test_pump_full_pre_wait },
		{ "pump", "back-pressure, release mid sub-record", test_pump_release },
		{ "pump", "end of the input", test_pump_eof },
		{ "pump", "splice refused", test_pump_refused },
		{ "pump", "a gateway whose splices are refused", test_engine_refused },
		{ "yb", "decoder place saved and set", test_yb_pos },
	};
	int     rc;

	log_init("test_vcgw", LOG_LVL_WARN);
	(void)signal(SIGPIPE, SIG_IGN);	/* splice(2) to a closed socket */
	if (tl_tmpdir(tdir, sizeof(tdir), "test_vcgw") < 0)
		return 1;
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	tl_rmtree(tdir);
	return rc;
}
