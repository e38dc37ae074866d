/*++
 * NAME
 *	test_niftp_unf 1
 * SUMMARY
 *	interworking with unix-niftp 5.6: the captured sessions at engine level
 * SYNOPSIS
 *	build/tests/test_niftp_unf
 * DESCRIPTION
 *	Their P's exact octets (mail_small, ftp_plain, mail_fail67 in
 *	reference/unix-niftp-sessions.md) are fed to our Q: accepted,
 *	answered with RPOS using only EQ/ANY, stored byte-exact, and for
 *	the mailer failure answered with the very octets their Q sent.
 *	Their Q's answers are replayed against our P: RPOS with strings
 *	spanning sub-records, MR between ES and ER, QR after ES(OK) and
 *	the second ES, STOPACK with a reason.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "niftp/niftp.h"
#include "niftp/niftp_rec.h"
#include "tests/unit/tl_memfs.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"

static const char mail_text[] =
	"jim@uk.ac.test.q,\nfred@uk.ac.test.q\n\n"
	"From: Alice <alice@uk.ac.test.p>\n"
	"To: jim@uk.ac.test.q, fred@uk.ac.test.q\n"
	"Subject: NIFTP interop test\n"
	"Date: Mon, 23 Nov 87 19:50:00 GMT\n\n"
	"Hello via NIFTP-80 and the Grey Book.\n"
	"This line mentions -dash and 'quotes'.\n";

static const char plain_text[] =
	"Hello NIFTP world.\nSecond line of the plain text file.\n\n"
	"Last line after a blank line.\n";

struct evlog {
	int	pos, done, failed, data_done, auth;
	enum niftp_status status;
	uint16_t state;
	char	name[256], reason[1200], user[64], pw[64];
};

static void on_event(void *arg, struct niftp *n, const struct niftp_event *ev)
{
	struct evlog *l = arg;

	(void) n;
	if (ev->type == NIFTP_EV_POS) {
		l->pos++;
		snprintf(l->name, sizeof(l->name), "%s", ev->name ? ev->name : "");
	} else if (ev->type == NIFTP_EV_DONE) {
		l->done++;
		l->status = ev->status;
		l->state = ev->state;
		snprintf(l->reason, sizeof(l->reason), "%s", ev->reason ? ev->reason : "");
	} else if (ev->type == NIFTP_EV_FAILED) {
		l->failed++;
		snprintf(l->reason, sizeof(l->reason), "%s", ev->reason ? ev->reason : "");
	} else if (ev->type == NIFTP_EV_DATA_DONE) {
		l->data_done++;
	}
}

static int on_auth(void *arg, const char *user, const char *pw, const char *caller)
{
	struct evlog *l = arg;

	(void) caller;
	l->auth++;
	snprintf(l->user, sizeof(l->user), "%s", user ? user : "");
	snprintf(l->pw, sizeof(l->pw), "%s", pw ? pw : "");
	return 0;
}

static const struct niftp_hooks hooks = {on_event, on_auth, NULL};

/* out_all - everything an engine has to send */
static size_t out_all(struct niftp *n, unsigned char *p, size_t cap)
{
	struct buf b = BUF_INIT(4u << 20);
	size_t	len;

	while (niftp_output(n, &b, 65536) > 0)
		;
	len = b.len < cap ? b.len : cap;
	if (len > 0)
		memcpy(p, buf_data(&b), len);
	buf_release(&b);
	return len;
}

/* seg - a capture segment, decoded */
static unsigned char *seg(const char *name, size_t i, size_t *len)
{
	size_t	n;
	const struct tl_capseg *s = tl_capture(name, &n);

	CU_ASSERT_FATAL(s != NULL && i < n);
	*len = s[i].len;
	return tl_capseg_bytes(&s[i]);
}

/* first_cmd - the first command record in wire octets */
static size_t first_cmd(const unsigned char *w, size_t len, unsigned char *rec)
{
	struct niftp_dec *d = xcalloc(1, sizeof(*d));
	struct niftp_dec_ev ev;
	size_t	used = 0, rl = 0;

	niftp_dec_init(d);
	while (used < len) {
		used += niftp_dec_next(d, w + used, len - used, NULL, 0, &ev);
		if (ev.type == NIFTP_DEC_CMD) {
			rl = ev.reclen;
			memcpy(rec, ev.rec, rl);
			break;
		}
		if (ev.type != NIFTP_DEC_NEED)
			break;
	}
	free(d);
	return rl;
}

/* rpos_ops_ok - every attribute in RPOS is EQ, ANY or "unknown" */
static int rpos_ops_ok(const unsigned char *rec, size_t rl, struct niftp_cmd *c)
{
	char	err[256];
	size_t	i;

	if (niftp_cmd_parse(rec, rl, c, err, sizeof(err)) < 0 || c->cmd != NIFTP_RPOS)
		return 0;
	for (i = 0; i < c->nattr; i++) {
		int	fmt = niftp_attr_fmt(c->attr[i].qual), op = niftp_attr_op(c->attr[i].qual);

		if (fmt == NIFTP_Q_UNKNOWN && c->attr[i].qual == 0)
			continue;
		if (op != NIFTP_OP_EQ && op != NIFTP_OP_ANY) {
			printf("\n  RPOS attribute 0x%02x qualifier 0x%02x\n", c->attr[i].id,
				c->attr[i].qual);
			return 0;
		}
	}
	return 1;
}

static const struct niftp_attr *find_attr(const struct niftp_cmd *c, uint8_t id)
{
	size_t	i;

	for (i = 0; i < c->nattr; i++)
		if (c->attr[i].id == id)
			return &c->attr[i];
	return NULL;
}

static struct niftp *new_q(struct evlog *l, struct tl_memfs *fs, int mail)
{
	struct niftp_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.mail_only = mail;
	cfg.resumption = 1;
	cfg.deflate = 1;
	cfg.caller = "uk.ac.test.p";
	cfg.info = "niftpmail 1.0";
	return niftp_new(0, &cfg, &hooks, l, &tl_memfs_ops, fs);
}

/* Their mail P against our Q (capture 4.1). */
static void test_q_mail_small(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q;
	struct niftp_cmd *c = xcalloc(1, sizeof(*c));
	unsigned char w[8192], rec[8192], *in;
	size_t	len, rl, glen, chunk;
	const unsigned char *got;
	const struct niftp_attr *a;

	for (chunk = 1; chunk <= 4096; chunk += 4095) {
		memset(&l, 0, sizeof(l));
		q = new_q(&l, fs, 1);
		in = seg("mail_small", 0, &len);
		CU_ASSERT(memcmp(in, "ftp.mail", 9) == 0);
		{
			size_t	off;

			for (off = 9; off < len; off += chunk)
				CU_ASSERT_EQUAL(niftp_input(q, in + off,
					len - off < chunk ? len - off : chunk), 0);
		}
		free(in);
		len = out_all(q, w, sizeof(w));
		rl = first_cmd(w, len, rec);
		CU_ASSERT_FATAL(rl > 0);
		CU_ASSERT(rpos_ops_ok(rec, rl, c));
		a = find_attr(c, NIFTP_A_TEXTFMT);
		CU_ASSERT(a && a->qual == 0x22 && a->ival == 0x80);
		a = find_attr(c, NIFTP_A_ACKWINDOW);
		CU_ASSERT(a && a->qual == 0x22 && a->ival == 0x20);
		a = find_attr(c, NIFTP_A_FILENAME);
		CU_ASSERT(a && a->qual == 0x32 && a->slen == strlen(l.name)
			&& memcmp(a->str, l.name, a->slen) == 0);
		CU_ASSERT(find_attr(c, NIFTP_A_USERNAME) != NULL);
		a = find_attr(c, NIFTP_A_FACILITIES);	/* holds (0x10) masked out */
		CU_ASSERT(a && a->qual == 0x22 && (a->ival & NIFTP_F_HOLDS) == 0
			&& (a->ival & NIFTP_F_TEXTCOMP));
		CU_ASSERT_EQUAL(l.pos, 1);
		/* GO, then the data phase in pieces. */
		in = seg("mail_small", 2, &len);
		CU_ASSERT_EQUAL(niftp_input(q, in, len), 0);
		free(in);
		in = seg("mail_small", 3, &len);
		{
			size_t	off;

			for (off = 0; off < len; off += chunk)
				CU_ASSERT_EQUAL(niftp_input(q, in + off,
					len - off < chunk ? len - off : chunk), 0);
		}
		free(in);
		len = out_all(q, w, sizeof(w));
		EXPECT_BYTES(w, len, "\x00\x47\x00", 3);	/* ER(OK), no marks so no MR */
		got = tl_memfs_get(fs, l.name, &glen);
		CU_ASSERT(got && glen == strlen(mail_text) && memcmp(got, mail_text, glen) == 0);
		/* STOP / STOPACK exactly as in the capture. */
		in = seg("mail_small", 5, &len);
		CU_ASSERT_EQUAL(niftp_input(q, in, len), 0);
		free(in);
		len = out_all(q, w, sizeof(w));
		in = seg("mail_small", 6, &rl);
		EXPECT_BYTES(w, len, in, rl);
		free(in);
		CU_ASSERT_EQUAL(l.done, 1);
		CU_ASSERT_EQUAL(l.status, NIFTP_OK);
		CU_ASSERT_EQUAL(l.failed, 0);
		CU_ASSERT(niftp_idle(q));
		niftp_free(q);
	}
	CU_ASSERT_EQUAL(tl_memfs_count(fs), 2);
	CU_ASSERT_EQUAL(tl_memfs_stats(fs)->open_files, 0);
	free(c);
	tl_memfs_free(fs);
}

/* Their plain-file P against our file server Q (capture 4.2). */
static void test_q_ftp_plain(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q;
	struct niftp_cmd *c = xcalloc(1, sizeof(*c));
	unsigned char w[8192], rec[8192], *in;
	size_t	len, rl, glen, i;
	const unsigned char *got;
	static const char fname[] = "/var/ftp/home/niftp/recv-plain.txt";

	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 0);
	for (i = 0; i < 6; i++) {
		size_t	n;
		const struct tl_capseg *s = tl_capture("ftp_plain", &n);

		if (!s[i].pq)
			continue;
		in = tl_capseg_bytes(&s[i]);
		len = s[i].len;
		CU_ASSERT_EQUAL(niftp_input(q, i == 0 ? in + 4 : in, i == 0 ? len - 4 : len), 0);
		free(in);
		len = out_all(q, w, sizeof(w));
		if (i == 0) {
			rl = first_cmd(w, len, rec);
			CU_ASSERT(rpos_ops_ok(rec, rl, c));
			CU_ASSERT(find_attr(c, NIFTP_A_FILENAME) == NULL);	/* not monitored */
			CU_ASSERT(find_attr(c, NIFTP_A_PASSWORD) == NULL);
			CU_ASSERT(memmem(rec, rl, "secret", 6) == NULL);
		}
		if (i == 3)
			EXPECT_BYTES(w, len, "\x00\x47\x00", 3);
		if (i == 5)
			EXPECT_BYTES(w, len, "\x86\x05\x01\x0f\x22\x20\x00", 7);
	}
	CU_ASSERT_EQUAL(l.auth, 1);
	CU_ASSERT_STRING_EQUAL(l.user, "niftp");
	CU_ASSERT_STRING_EQUAL(l.pw, "secret");
	got = tl_memfs_get(fs, fname, &glen);
	CU_ASSERT(got && glen == 86 && memcmp(got, plain_text, 86) == 0);
	CU_ASSERT_EQUAL(l.status, NIFTP_OK);
	niftp_free(q);
	free(c);
	tl_memfs_free(fs);
}

/* Their P, our Q whose mailer fails: QR(0x21) ... the very octets of 4.4. */
static void test_q_mail_fail67(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q;
	unsigned char w[8192], *in, *want;
	size_t	len, wlen;

	tl_memfs_options(fs)->commit_fail = 1;
	tl_memfs_options(fs)->commit_retry = 0;
	tl_memfs_options(fs)->commit_reason = "User name unknown";
	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 1);
	in = seg("mail_fail67", 0, &len);
	niftp_input(q, in + 9, len - 9);
	free(in);
	out_all(q, w, sizeof(w));
	in = seg("mail_fail67", 2, &len);
	niftp_input(q, in, len);
	free(in);
	in = seg("mail_fail67", 3, &len);
	niftp_input(q, in, len);
	free(in);
	len = out_all(q, w, sizeof(w));
	want = seg("mail_fail67", 4, &wlen);		/* 00 46 21 */
	EXPECT_BYTES(w, len, want, wlen);
	free(want);
	in = seg("mail_fail67", 5, &len);		/* their second ES(0x21) */
	niftp_input(q, in, len);
	free(in);
	len = out_all(q, w, sizeof(w));
	want = seg("mail_fail67", 6, &wlen);		/* 00 47 21 */
	EXPECT_BYTES(w, len, want, wlen);
	free(want);
	in = seg("mail_fail67", 7, &len);		/* STOP 0x3010 "Got a QR(21)" */
	niftp_input(q, in, len);
	free(in);
	len = out_all(q, w, sizeof(w));
	want = seg("mail_fail67", 8, &wlen);		/* STOPACK 0x3010 "User name unknown" */
	EXPECT_BYTES(w, len, want, wlen);
	free(want);
	CU_ASSERT_EQUAL(l.done, 1);
	CU_ASSERT_EQUAL(l.status, NIFTP_ERR_PERM);
	CU_ASSERT_EQUAL(l.failed, 0);
	CU_ASSERT_EQUAL(tl_memfs_count(fs), 0);
	CU_ASSERT_EQUAL(tl_memfs_stats(fs)->open_files, 0);
	niftp_free(q);
	tl_memfs_free(fs);
}

/* Our P, with the mail profile. */
static struct niftp *new_p(struct evlog *l, struct tl_memfs *fs, const char *text,
	size_t len, uint32_t interval)
{
	struct niftp_config cfg;
	struct niftp_req r;
	struct niftp *p;

	memset(&cfg, 0, sizeof(cfg));
	cfg.info = "UNIX-NIFTP $Revision: 5.6.1.10 $";
	cfg.deflate = 1;
	tl_memfs_options(fs)->local = "letter";
	tl_memfs_put(fs, "letter", text, len);
	p = niftp_new(1, &cfg, &hooks, l, &tl_memfs_ops, fs);
	memset(&r, 0, sizeof(r));
	r.mode = NIFTP_MODE_MAKE;
	r.mail = 1;
	r.tid = 0x98c9;
	r.size = (int64_t) len;
	r.mark_interval = interval;
	CU_ASSERT_EQUAL(niftp_start(p, &r), 0);
	return p;
}

/* Our P's mail SFT: the same attribute ids as theirs, compatible qualifiers. */
static void test_p_sft_compatible(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *p;
	struct niftp_cmd *ours = xcalloc(1, sizeof(*ours)), *theirs = xcalloc(1, sizeof(*theirs));
	unsigned char w[8192], rec[8192], rec2[8192], *in;
	size_t	len, rl, rl2, i;
	char	err[256];

	memset(&l, 0, sizeof(l));
	p = new_p(&l, fs, mail_text, strlen(mail_text), 2048);
	len = out_all(p, w, sizeof(w));
	rl = first_cmd(w, len, rec);
	CU_ASSERT_EQUAL_FATAL(niftp_cmd_parse(rec, rl, ours, err, sizeof(err)), 0);
	in = seg("mail_small", 0, &len);
	rl2 = first_cmd(in + 9, len - 9, rec2);
	free(in);
	CU_ASSERT_EQUAL_FATAL(niftp_cmd_parse(rec2, rl2, theirs, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(ours->nattr, theirs->nattr);
	for (i = 0; i < ours->nattr; i++) {
		CU_ASSERT_EQUAL(ours->attr[i].id, theirs->attr[i].id);
		CU_ASSERT_EQUAL(ours->attr[i].qual, theirs->attr[i].qual);
	}
	CU_ASSERT_EQUAL(find_attr(ours, NIFTP_A_TEXTFMT)->ival, 0x0081);
	CU_ASSERT_EQUAL(find_attr(ours, NIFTP_A_FACILITIES)->ival, 0x000E);
	CU_ASSERT_EQUAL(find_attr(ours, NIFTP_A_TID)->ival, 0x98c9);
	/* With the same version text the whole SFT is theirs but for 03 and 0e. */
	CU_ASSERT_EQUAL(rl, rl2);
	niftp_free(p);
	free(ours);
	free(theirs);
	tl_memfs_free(fs);
}

/* Their Q's answers to our P: RPOS spanning sub-records, ER, STOPACK. */
static void test_p_replay_small(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *p;
	struct niftp_dec *d = xcalloc(1, sizeof(*d));
	unsigned char w[8192], *in, data[1024];
	size_t	len, wl, dlen = 0, used = 0;

	memset(&l, 0, sizeof(l));
	p = new_p(&l, fs, mail_text, strlen(mail_text), 0);
	out_all(p, w, sizeof(w));
	in = seg("mail_small", 1, &len);	/* their RPOS */
	CU_ASSERT_EQUAL(niftp_input(p, in, len), 0);
	free(in);
	CU_ASSERT_EQUAL(l.pos, 1);
	CU_ASSERT_STRING_EQUAL(l.name, "/var/ftp/spool/mail/fvdagxll");
	wl = out_all(p, w, sizeof(w));
	CU_ASSERT(wl > 6 && memcmp(w, "\x82\x01\x00\x00\x40\x00", 6) == 0);	/* GO, SS(0) */
	/* Our data decodes to the letter; it ends with ES(OK). */
	niftp_dec_init(d);
	niftp_dec_set_mode(d, NIFTP_DEC_MODE_DATA, 0);
	used = 6;
	while (used < wl) {
		struct niftp_dec_ev ev;

		used += niftp_dec_next(d, w + used, wl - used, data + dlen, sizeof(data) - dlen, &ev);
		if (ev.type == NIFTP_DEC_DATA) {
			dlen += ev.dlen;
		} else if (ev.type == NIFTP_DEC_TCC) {
			CU_ASSERT(ev.tcc == NIFTP_ES && ev.arg == 0 && used == wl);
		} else if (ev.type != NIFTP_DEC_NEED) {
			CU_FAIL("unexpected event");
		}
	}
	CU_ASSERT(dlen == strlen(mail_text) && memcmp(data, mail_text, dlen) == 0);
	in = seg("mail_small", 4, &len);	/* ER(OK) */
	niftp_input(p, in, len);
	free(in);
	CU_ASSERT_EQUAL(l.data_done, 1);
	wl = out_all(p, w, sizeof(w));
	in = seg("mail_small", 5, &len);	/* our STOP is theirs */
	EXPECT_BYTES(w, wl, in, len);
	free(in);
	in = seg("mail_small", 6, &len);	/* STOPACK */
	niftp_input(p, in, len);
	free(in);
	CU_ASSERT_EQUAL(l.done, 1);
	CU_ASSERT_EQUAL(l.status, NIFTP_OK);
	CU_ASSERT(niftp_idle(p));
	niftp_free(p);
	free(d);
	tl_memfs_free(fs);
}

/* QR(0x21) after our ES(OK): second ES, ER, STOP 0x3010, "User name unknown". */
static void test_p_replay_fail67(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *p;
	unsigned char w[8192], rec[1024], *in;
	size_t	len, wl, rl;

	memset(&l, 0, sizeof(l));
	p = new_p(&l, fs, mail_text, strlen(mail_text), 0);
	out_all(p, w, sizeof(w));
	in = seg("mail_fail67", 1, &len);
	niftp_input(p, in, len);
	free(in);
	wl = out_all(p, w, sizeof(w));
	CU_ASSERT(wl > 3 && memcmp(w + wl - 3, "\x00\x43\x00", 3) == 0);	/* ES(OK) */
	in = seg("mail_fail67", 4, &len);	/* QR(0x21) */
	CU_ASSERT_EQUAL(niftp_input(p, in, len), 0);
	free(in);
	wl = out_all(p, w, sizeof(w));
	in = seg("mail_fail67", 5, &len);	/* our second ES is theirs */
	EXPECT_BYTES(w, wl, in, len);
	free(in);
	in = seg("mail_fail67", 6, &len);	/* ER(0x21) */
	niftp_input(p, in, len);
	free(in);
	CU_ASSERT_EQUAL(l.data_done, 0);
	wl = out_all(p, w, sizeof(w));
	rl = first_cmd(w, wl, rec);
	CU_ASSERT(rl >= 6 && rec[0] == NIFTP_STOP && rec[2] == 0x0f && rec[4] == 0x30
		&& rec[5] == 0x10);
	in = seg("mail_fail67", 8, &len);	/* STOPACK 0x3010 "User name unknown" */
	niftp_input(p, in, len);
	free(in);
	CU_ASSERT_EQUAL(l.done, 1);
	CU_ASSERT_EQUAL(l.status, NIFTP_ERR_PERM);
	CU_ASSERT_EQUAL(l.state, NIFTP_ST_ABORT_NORETRY);
	CU_ASSERT_STRING_EQUAL(l.reason, "User name unknown");
	niftp_free(p);
	tl_memfs_free(fs);
}

/* 41 KB letter, marks every 2048 octets mid-record, MR(0x11), MR(0x14) between ES and ER. */
static void test_p_marks_mr(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *p;
	struct niftp_dec *d = xcalloc(1, sizeof(*d));
	unsigned char *w = xmalloc(1 << 20), *in, *text = xmalloc(41378), *data = xmalloc(50000);
	size_t	len, wl, used, dlen = 0, i;
	int	marks = 0, eors = 0;

	for (i = 0; i < 41378; i++)
		text[i] = i % 61 == 60 ? '\n' : (unsigned char) ('a' + i % 23);
	memset(&l, 0, sizeof(l));
	p = new_p(&l, fs, (const char *) text, 41378, 2048);
	out_all(p, w, 1 << 20);
	in = seg("mail_small", 1, &len);
	niftp_input(p, in, len);
	free(in);
	wl = out_all(p, w, 1 << 20);
	niftp_dec_init(d);
	niftp_dec_set_mode(d, NIFTP_DEC_MODE_DATA, 0);
	for (used = 3; used < wl;) {
		struct niftp_dec_ev ev;

		used += niftp_dec_next(d, w + used, wl - used, data + dlen, 50000 - dlen, &ev);
		if (ev.type == NIFTP_DEC_DATA) {
			dlen += ev.dlen;
			eors += ev.eor;
		} else if (ev.type == NIFTP_DEC_TCC && ev.tcc == NIFTP_MS) {
			marks++;
			CU_ASSERT_EQUAL(ev.arg, marks);
			CU_ASSERT_EQUAL(dlen, (size_t) marks * 2048);
			CU_ASSERT_EQUAL(eors, 0);	/* the mark sits mid-record */
		}
	}
	CU_ASSERT_EQUAL(marks, 20);
	CU_ASSERT_EQUAL(eors, 1);
	CU_ASSERT(dlen == 41378 && memcmp(data, text, dlen) == 0);
	niftp_input(p, "\x00\x45\x11", 3);
	niftp_input(p, "\x00\x45\x14", 3);		/* after our ES, before ER */
	CU_ASSERT_EQUAL(l.failed, 0);
	niftp_input(p, "\x00\x47\x00", 3);
	CU_ASSERT_EQUAL(l.data_done, 1);
	wl = out_all(p, w, 1 << 20);
	EXPECT_BYTES(w, wl, "\x86\x00\x01\x0f\x22\x20\x00", 7);
	niftp_input(p, "\x86\x05\x01\x0f\x22\x20\x00", 7);
	CU_ASSERT_EQUAL(l.status, NIFTP_OK);
	CU_ASSERT_EQUAL(niftp_docket(p)->mark, 20);
	niftp_free(p);
	free(d);
	free(w);
	free(text);
	free(data);
	tl_memfs_free(fs);
}

/* A UNF-style sender (runs of 2 compressed, marks) into our Q: byte-exact. */
static void test_q_unf_marks(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q;
	unsigned char w[8192], *in;
	size_t	len, glen;
	const unsigned char *got;

	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 1);
	in = seg("mail_small", 0, &len);
	niftp_input(q, in + 9, len - 9);
	free(in);
	out_all(q, w, sizeof(w));
	niftp_input(q, "\x82\x01\x00", 3);
	/* SS, "ab" | MS(1) | "cc" compressed | end, ES: marks mid-record. */
	niftp_input(q, "\x00\x40\x00\x02\x61\x62\x00\x41\x01\xc2\x63\x00\x43\x00", 14);
	len = out_all(q, w, sizeof(w));
	EXPECT_BYTES(w, len, "\x00\x45\x01\x00\x47\x00", 6);	/* final MR, then ER */
	got = tl_memfs_get(fs, l.name, &glen);
	CU_ASSERT(got && glen == 4 && memcmp(got, "abcc", 4) == 0);
	CU_ASSERT_EQUAL(tl_memfs_stats(fs)->marks, 1);
	CU_ASSERT_EQUAL(tl_memfs_stats(fs)->last_mark_off, 2);
	niftp_free(q);
	tl_memfs_free(fs);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "niftp_unf", "their mail P, our Q", test_q_mail_small },
		{ "niftp_unf", "their plain-file P, our Q", test_q_ftp_plain },
		{ "niftp_unf", "their P, our failing mailer", test_q_mail_fail67 },
		{ "niftp_unf", "their sender with marks, our Q", test_q_unf_marks },
		{ "niftp_unf", "our mail SFT against theirs", test_p_sft_compatible },
		{ "niftp_unf", "their Q's answers, our P", test_p_replay_small },
		{ "niftp_unf", "their QR after ES(OK), our P", test_p_replay_fail67 },
		{ "niftp_unf", "marks and MR between ES and ER", test_p_marks_mr },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
