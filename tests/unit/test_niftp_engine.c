/*++
 * NAME
 *	test_niftp_engine 1
 * SUMMARY
 *	NIFTP-80 engine tests: our P against our Q in memory
 * SYNOPSIS
 *	build/tests/test_niftp_engine
 * DESCRIPTION
 *	Two engines pump octets at each other through memory, with an
 *	in-memory filestore on each side (tl_memfs). Every mode, both text
 *	formattings, binary, run-length and deflate compression, empty and
 *	large files, many transfers on one call, restarts after a transport
 *	RESET, resumption on a new call (mid-data and after ES), RNEG
 *	cases, unknown attributes, and a table of bad input that must end
 *	the call with a clear reason.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "niftp/niftp.h"
#include "niftp/niftp_rec.h"
#include "tests/unit/tl_memfs.h"
#include "util/alloc.h"
#include "util/buf.h"

/* Events seen by one side. */
struct evlog {
	int	sft, pos, done, failed, data_done, progress;
	enum niftp_status status;
	uint16_t state;
	char	name[256];
	char	reason[1200];
	char	fail_reason[1200];
	struct niftp_docket docket;	/* last docket_save */
	int	dockets;
	int	auth_calls;
	int	refuse_auth;
	uint16_t sft_textfmt, sft_fac;
	char	sft_info[600];
	char	sft_copy[300];
	uint64_t done_offset;
};

static void on_event(void *arg, struct niftp *n, const struct niftp_event *ev)
{
	struct evlog *l = arg;

	(void) n;
	switch (ev->type) {
	case NIFTP_EV_SFT:
		l->sft++;
		if (ev->req->info)
			snprintf(l->sft_info, sizeof(l->sft_info), "%s", ev->req->info);
		if (ev->req->copy_id)
			snprintf(l->sft_copy, sizeof(l->sft_copy), "%s", ev->req->copy_id);
		break;
	case NIFTP_EV_POS:
		l->pos++;
		snprintf(l->name, sizeof(l->name), "%s", ev->name ? ev->name : "");
		l->sft_textfmt = ev->req->textfmt;
		l->sft_fac = ev->req->facilities;
		break;
	case NIFTP_EV_PROGRESS:
		l->progress++;
		break;
	case NIFTP_EV_DATA_DONE:
		l->data_done++;
		break;
	case NIFTP_EV_DONE:
		l->done++;
		l->status = ev->status;
		l->state = ev->state;
		l->done_offset = ev->offset;
		if (ev->name && ev->name[0])
			snprintf(l->name, sizeof(l->name), "%s", ev->name);
		snprintf(l->reason, sizeof(l->reason), "%s", ev->reason ? ev->reason : "");
		break;
	case NIFTP_EV_FAILED:
		l->failed++;
		l->status = ev->status;
		snprintf(l->fail_reason, sizeof(l->fail_reason), "%s", ev->reason ? ev->reason : "");
		break;
	}
}

static int on_auth(void *arg, const char *user, const char *pw, const char *caller)
{
	struct evlog *l = arg;

	(void) caller;
	l->auth_calls++;
	if (l->refuse_auth)
		return -1;
	if (user && strcmp(user, "bad") == 0)
		return -1;
	(void) pw;
	return 0;
}

static int on_docket(void *arg, const struct niftp_docket *d)
{
	struct evlog *l = arg;

	l->docket = *d;
	l->dockets++;
	return 0;
}

/* A P and a Q joined by memory. */
struct pair {
	struct niftp *p, *q;
	struct tl_memfs *pfs, *qfs;
	struct evlog pl, ql;
	struct niftp_config pcfg, qcfg;
	size_t	chunk;			/* octets per niftp_output() */
	uint64_t pq, qp;		/* octets delivered each way */
	int64_t	reset_at;		/* P->Q octets after which a RESET hits */
	int	resets;			/* how many more RESETs to inject */
	int64_t	lose_at;		/* P->Q octets after which the call is lost */
	int	lose_after_data_done;	/* lose the call once P saw ER(OK) */
	int	lost;
	struct buf pwire, qwire;	/* everything sent, if wanted */
	int	keep_wire;
	int	no_auto_commit;		/* leave asynchronous commits pending */
};

static const struct niftp_hooks hooks = {on_event, on_auth, on_docket};

static void pair_engines(struct pair *h)
{
	h->p = niftp_new(1, &h->pcfg, &hooks, &h->pl, &tl_memfs_ops, h->pfs);
	h->q = niftp_new(0, &h->qcfg, &hooks, &h->ql, &tl_memfs_ops, h->qfs);
	tl_memfs_bind(h->qfs, h->q);
	h->lost = 0;
	h->pq = h->qp = 0;
}

static void pair_init(struct pair *h)
{
	memset(h, 0, sizeof(*h));
	h->pfs = tl_memfs_new(NULL);
	h->qfs = tl_memfs_new(NULL);
	tl_memfs_options(h->pfs)->local = "local";
	h->pcfg.info = "niftpmail test P";
	h->pcfg.deflate = 1;
	h->qcfg.info = "niftpmail test Q";
	h->qcfg.deflate = 1;
	h->qcfg.resumption = 1;
	h->qcfg.caller = "test-caller";
	h->chunk = 100000;
	h->reset_at = -1;
	h->lose_at = -1;
	buf_init(&h->pwire, 64u << 20);
	buf_init(&h->qwire, 64u << 20);
	pair_engines(h);
}

static void pair_free_engines(struct pair *h)
{
	niftp_free(h->p);
	niftp_free(h->q);
	h->p = h->q = NULL;
}

static void pair_release(struct pair *h)
{
	if (h->p)
		pair_free_engines(h);
	tl_memfs_free(h->pfs);
	tl_memfs_free(h->qfs);
	buf_release(&h->pwire);
	buf_release(&h->qwire);
}

/* move - one direction; returns octets moved */
static size_t move(struct pair *h, int from_p)
{
	struct niftp *a = from_p ? h->p : h->q, *b = from_p ? h->q : h->p;
	struct buf out = BUF_INIT(1u << 20);
	ssize_t	k = niftp_output(a, &out, h->chunk);
	size_t	len;

	if (k <= 0) {
		buf_release(&out);
		return 0;
	}
	len = out.len;
	if (from_p && h->reset_at >= 0 && h->resets > 0 && h->pq + len > (uint64_t) h->reset_at) {
		/* The transport RESET loses this chunk and anything in flight. */
		h->resets--;
		h->reset_at += 40000;
		niftp_reset(h->q);
		niftp_reset(h->p);
		buf_release(&out);
		return 1;
	}
	if ((from_p && h->lose_at >= 0 && h->pq + len > (uint64_t) h->lose_at)
	    || (!from_p && h->lose_after_data_done && h->pl.data_done)) {
		niftp_lost(h->p, "test: call cut");
		niftp_lost(h->q, "test: call cut");
		h->lost = 1;
		buf_release(&out);
		return 0;
	}
	if (h->keep_wire)
		buf_append(from_p ? &h->pwire : &h->qwire, buf_data(&out), len);
	if (from_p)
		h->pq += len;
	else
		h->qp += len;
	niftp_input(b, buf_data(&out), len);
	buf_release(&out);
	return len;
}

/* pump - run both engines until nothing moves */
static void pump(struct pair *h)
{
	int	i;

	for (i = 0; i < 10000000 && !h->lost; i++) {
		size_t	m = move(h, 1);

		if (h->lost)
			break;
		m += move(h, 0);
		if ((h->pl.failed || h->ql.failed) && !h->lost) {
			/* A failed engine makes the program disconnect. */
			niftp_lost(h->p, "test: peer failed");
			niftp_lost(h->q, "test: peer failed");
			h->lost = 1;
			break;
		}
		if (m == 0 && (h->no_auto_commit || (tl_memfs_run_commits(h->qfs) == 0
		    && tl_memfs_run_commits(h->pfs) == 0)) && tl_memfs_run_opens(h->qfs) == 0)
			break;
	}
}

/* fill - test data: text with runs, or random binary */
static unsigned char *fill(size_t len, int kind, unsigned seed)
{
	unsigned char *p = xmalloc(len + 1);
	size_t	i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		if (kind == 0) {	/* text lines with runs */
			unsigned r = (seed >> 16) % 100;

			p[i] = r < 8 ? '\n' : r < 20 ? ' ' : r < 30 ? '=' : (unsigned char) ('a' + r % 26);
		} else {		/* random octets, all 256 values */
			p[i] = (unsigned char) (seed >> 16);
		}
	}
	return p;
}

/* put - P sends data under req; returns 1 when Q stored it byte-exact */
static int put_check(struct pair *h, struct niftp_req *req, const unsigned char *data,
	size_t len, const char *name)
{
	const unsigned char *got;
	size_t	glen = 0;

	tl_memfs_put(h->pfs, "local", data, len);
	h->pl.done = 0;
	CU_ASSERT_EQUAL_FATAL(niftp_start(h->p, req), 0);
	pump(h);
	if (h->pl.done != 1 || h->pl.status != NIFTP_OK) {
		printf("\n  put: got done=%d status=%d (%s), want OK [P failed: %s] [Q failed: %s]\n",
			h->pl.done, h->pl.status, h->pl.reason, h->pl.fail_reason, h->ql.fail_reason);
		return 0;
	}
	got = tl_memfs_get(h->qfs, name ? name : h->pl.name, &glen);
	if (got == NULL) {
		printf("\n  put: no file '%s' at Q\n", name ? name : h->pl.name);
		return 0;
	}
	if (glen != len || (len && memcmp(got, data, len) != 0)) {
		size_t	i;

		for (i = 0; i < len && i < glen && got[i] == data[i]; i++)
			;
		printf("\n  put: got %zu octets, want %zu; first difference at %zu\n", glen, len, i);
		return 0;
	}
	return 1;
}

static void req_init(struct niftp_req *r)
{
	memset(r, 0, sizeof(*r));
	r->mode = NIFTP_MODE_MAKE;
	r->filename = "local";
	r->size = -1;
}

/* Plain P -> Q put in text transparent mode. */
static void test_put_basic(void)
{
	struct pair h;
	struct niftp_req r;
	unsigned char *d = fill(10000, 0, 1);

	pair_init(&h);
	req_init(&r);
	r.mail = 1;
	CU_ASSERT(put_check(&h, &r, d, 10000, NULL));
	CU_ASSERT_EQUAL(h.pl.sft_textfmt, NIFTP_TF_TRANSPARENT);
	CU_ASSERT_STRING_EQUAL(h.pl.name, "mem.0001");
	CU_ASSERT_EQUAL(h.ql.done, 1);
	CU_ASSERT_EQUAL(h.ql.status, NIFTP_OK);
	CU_ASSERT(niftp_idle(h.p));
	CU_ASSERT(niftp_idle(h.q));
	CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->open_files, 0);
	CU_ASSERT_EQUAL(tl_memfs_stats(h.pfs)->open_files, 0);
	free(d);
	pair_release(&h);
}

/* Every write mode against a file server Q. */
static void test_put_modes(void)
{
	static const uint16_t modes[] = {NIFTP_MODE_MAKE, NIFTP_MODE_REPLACE,
		NIFTP_MODE_REPLACE_MAKE, NIFTP_MODE_APPEND_MAKE};
	size_t	i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct pair h;
		struct niftp_req r;
		unsigned char *d = fill(5000, 0, (unsigned) i + 7);
		const unsigned char *got;
		size_t	glen;

		pair_init(&h);
		if (modes[i] == NIFTP_MODE_REPLACE || modes[i] == NIFTP_MODE_APPEND_MAKE)
			tl_memfs_put(h.qfs, "remote", "old\n", 4);
		req_init(&r);
		r.mode = modes[i];
		r.filename = "remote";
		tl_memfs_put(h.pfs, "local", d, 5000);
		CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
		pump(&h);
		CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
		got = tl_memfs_get(h.qfs, "remote", &glen);
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		if (modes[i] == NIFTP_MODE_APPEND_MAKE) {
			CU_ASSERT_EQUAL(glen, 5004);
			CU_ASSERT(memcmp(got, "old\n", 4) == 0 && memcmp(got + 4, d, 5000) == 0);
		} else {
			CU_ASSERT_EQUAL(glen, 5000);
			CU_ASSERT(memcmp(got, d, 5000) == 0);
		}
		free(d);
		pair_release(&h);
	}
}

/* Read modes: Q sends, P receives; read-and-remove removes after STOPACK. */
static void test_get_modes(void)
{
	static const uint16_t modes[] = {NIFTP_MODE_READ, NIFTP_MODE_READ_REMOVE};
	size_t	i;

	for (i = 0; i < 2; i++) {
		struct pair h;
		struct niftp_req r;
		unsigned char *d = fill(300000, 0, 99);
		const unsigned char *got;
		size_t	glen = 0;

		pair_init(&h);
		tl_memfs_put(h.qfs, "there", d, 300000);
		req_init(&r);
		r.mode = modes[i];
		r.filename = "there";
		CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
		pump(&h);
		CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
		CU_ASSERT_EQUAL(h.pl.done, 1);
		got = tl_memfs_get(h.pfs, "local", &glen);
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		CU_ASSERT_EQUAL(glen, 300000);
		CU_ASSERT(memcmp(got, d, 300000) == 0);
		if (modes[i] == NIFTP_MODE_READ_REMOVE) {
			CU_ASSERT_PTR_NULL(tl_memfs_get(h.qfs, "there", &glen));
			CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->removed, 1);
		} else {
			CU_ASSERT_PTR_NOT_NULL(tl_memfs_get(h.qfs, "there", &glen));
		}
		CU_ASSERT(h.pl.progress > 0);
		free(d);
		pair_release(&h);
	}
}

/* One transfer per combination: text formatting, binary, compression, sizes. */
struct combo {
	const char *what;
	uint16_t textfmt;		/* 0 = offer LE 0x81 */
	int	binary, compress, deflate_cfg, mail;
	uint16_t want_tf;
	uint16_t want_fac_set, want_fac_clear;
};

static const struct combo combos[] = {
	{"transparent", 0, 0, 0, 0, 1, NIFTP_TF_TRANSPARENT, 0, NIFTP_F_TEXTCOMP | NIFTP_F_DEFLATE},
	{"lines", NIFTP_TF_LINES, 0, 0, 0, 0, NIFTP_TF_LINES, 0, NIFTP_F_DEFLATE},
	{"lines rle", NIFTP_TF_LINES, 0, 1, 1, 0, NIFTP_TF_LINES, NIFTP_F_TEXTCOMP, NIFTP_F_DEFLATE},
	{"transparent EQ", NIFTP_TF_TRANSPARENT, 0, 0, 1, 0, NIFTP_TF_TRANSPARENT, 0, 0},
	{"transparent rle", 0, 0, 1, 0, 0, NIFTP_TF_TRANSPARENT, NIFTP_F_TEXTCOMP, NIFTP_F_DEFLATE},
	{"transparent deflate", 0, 0, 1, 1, 1, NIFTP_TF_TRANSPARENT, NIFTP_F_DEFLATE, 0},
	{"binary", 0, 1, 0, 1, 0, NIFTP_TF_TRANSPARENT, 0, NIFTP_F_BINCOMP},
	{"binary rle", 0, 1, 1, 0, 0, NIFTP_TF_TRANSPARENT, NIFTP_F_BINCOMP, NIFTP_F_DEFLATE},
	{"binary deflate", 0, 1, 1, 1, 0, NIFTP_TF_TRANSPARENT, NIFTP_F_DEFLATE, 0},
};

static void test_combos(void)
{
	static const size_t sizes[] = {0, 1, 2, 3, 62, 63, 64, 126, 127, 4095, 4096, 4097,
		65536, 65537, 200003, 3u << 20};
	size_t	c, i;
	int	kind;

	for (c = 0; c < sizeof(combos) / sizeof(combos[0]); c++) {
		for (kind = 0; kind < 2; kind++) {
			struct pair h;

			pair_init(&h);
			h.pcfg.deflate = combos[c].deflate_cfg;
			h.qcfg.deflate = 1;
			pair_free_engines(&h);
			pair_engines(&h);
			for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
				struct niftp_req r;
				unsigned char *d = fill(sizes[i], kind, (unsigned) (i * 31 + c));
				int	ok;

				if (combos[c].textfmt == NIFTP_TF_LINES && kind == 1 && sizes[i] > 0) {
					d[sizes[i] - 1] = i % 2 ? '\n' : 'x';
				}
				req_init(&r);
				r.textfmt = combos[c].textfmt;
				r.binary = combos[c].binary;
				r.compress = combos[c].compress;
				r.mail = combos[c].mail;
				r.size = i % 3 ? (int64_t) sizes[i] : -1;
				r.mark_interval = i % 2 ? 4096 : 0;
				r.filename = NULL;
				ok = put_check(&h, &r, d, sizes[i], NULL);
				if (!ok)
					printf("  combo '%s' kind %d size %zu failed\n", combos[c].what,
						kind, sizes[i]);
				CU_ASSERT(ok);
				CU_ASSERT_EQUAL(h.pl.sft_textfmt, combos[c].want_tf);
				CU_ASSERT_EQUAL(h.pl.sft_fac & combos[c].want_fac_set,
					combos[c].want_fac_set);
				CU_ASSERT_EQUAL(h.pl.sft_fac & combos[c].want_fac_clear, 0);
				free(d);
			}
			CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), (int) (sizeof(sizes) / sizeof(sizes[0])));
			pair_release(&h);
		}
	}
}

/* Lines mode: records per line; the last line without LF kept exact. */
static void test_lines_edge(void)
{
	static const char *const texts[] = {"", "\n", "\n\n\n", "a", "a\n", "abc\ndef",
		"abc\n\n\ndef\n", "   \n\t\n", "x\n\n"};
	size_t	i;
	struct pair h;

	pair_init(&h);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct niftp_req r;

		req_init(&r);
		r.textfmt = NIFTP_TF_LINES;
		r.filename = NULL;
		r.compress = (int) (i % 2);
		CU_ASSERT(put_check(&h, &r, (const unsigned char *) texts[i], strlen(texts[i]), NULL));
	}
	pair_release(&h);
}

/* Many transfers on one call, alternating directions. */
static void test_many_transfers(void)
{
	struct pair h;
	int	i;

	pair_init(&h);
	for (i = 0; i < 30; i++) {
		struct niftp_req r;
		unsigned char *d = fill((size_t) (i * 997), i % 2, (unsigned) i);
		char	name[32];

		req_init(&r);
		snprintf(name, sizeof(name), "f%d", i);
		r.filename = name;
		r.tid = (uint16_t) (i + 1);
		tl_memfs_put(h.pfs, "local", d, (size_t) (i * 997));
		h.pl.done = 0;
		CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
		CU_ASSERT_EQUAL(niftp_start(h.p, &r), -1);	/* one at a time */
		pump(&h);
		CU_ASSERT_EQUAL(h.pl.done, 1);
		CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
		{
			size_t	glen;
			const unsigned char *got = tl_memfs_get(h.qfs, name, &glen);

			CU_ASSERT(got && glen == (size_t) (i * 997) && memcmp(got, d, glen) == 0);
		}
		free(d);
	}
	CU_ASSERT_EQUAL(h.ql.done, 30);
	pair_release(&h);
}

/* RESET in the data phase: restart from the last mark, identical result. */
static void test_reset_restart(void)
{
	size_t	c;

	for (c = 0; c < sizeof(combos) / sizeof(combos[0]); c++) {
		struct pair h;
		struct niftp_req r;
		unsigned char *d = fill(300000, c % 2, 5);

		pair_init(&h);
		h.pcfg.deflate = combos[c].deflate_cfg;
		pair_free_engines(&h);
		pair_engines(&h);
		h.reset_at = 70000;
		h.resets = 3;
		req_init(&r);
		r.textfmt = combos[c].textfmt;
		r.binary = combos[c].binary;
		r.compress = combos[c].compress;
		r.mark_interval = 4096;
		r.filename = NULL;
		r.size = 300000;
		CU_ASSERT(put_check(&h, &r, d, 300000, NULL));
		CU_ASSERT_EQUAL(h.resets, 0);
		CU_ASSERT(tl_memfs_stats(h.qfs)->truncates >= 3);
		CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 1);
		free(d);
		pair_release(&h);
	}
}

/* RESET while P receives (a get). */
static void test_reset_get(void)
{
	struct pair h;
	struct niftp_req r;
	unsigned char *d = fill(1000000, 1, 3);
	const unsigned char *got;
	size_t	glen = 0;

	pair_init(&h);
	tl_memfs_put(h.qfs, "there", d, 1000000);
	h.reset_at = 0;		/* P->Q octets are few: reset on the first chunk after GO */
	h.resets = 0;
	req_init(&r);
	r.mode = NIFTP_MODE_READ;
	r.filename = "there";
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	/* Run until data flows, then reset both ends. */
	move(&h, 1);
	move(&h, 0);
	move(&h, 1);		/* GO */
	move(&h, 0);		/* first data */
	move(&h, 0);
	niftp_reset(h.q);
	niftp_reset(h.p);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
	got = tl_memfs_get(h.pfs, "local", &glen);
	CU_ASSERT(got && glen == 1000000 && memcmp(got, d, glen) == 0);
	free(d);
	pair_release(&h);
}

/* Too many RESETs: the transfer gives up with a reason. */
static void test_reset_give_up(void)
{
	struct pair h;
	struct niftp_req r;
	unsigned char *d = fill(2000000, 1, 3);

	pair_init(&h);
	h.reset_at = 10000;
	h.resets = 100;
	req_init(&r);
	r.mark_interval = 65536;
	r.filename = NULL;
	tl_memfs_put(h.pfs, "local", d, 2000000);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	{
		int	i;

		for (i = 0; i < 20000 && !h.ql.failed && !h.pl.failed; i++) {
			move(&h, 1);
			move(&h, 0);
			h.reset_at = (int64_t) h.pq + 100;	/* reset before any mark */
		}
	}
	CU_ASSERT(h.ql.failed == 1 || h.pl.failed == 1);
	CU_ASSERT(strstr(h.ql.failed ? h.ql.fail_reason : h.pl.fail_reason,
		"too many restarts") != NULL);
	free(d);
	pair_release(&h);
}

/* Resumption on a new call, from the last mark. */
static void test_resume_mid(void)
{
	size_t	c;

	for (c = 0; c < sizeof(combos) / sizeof(combos[0]); c++) {
		struct pair h;
		struct niftp_req r;
		struct niftp_docket dk;
		unsigned char *d = fill(400000, c % 2, 11);

		pair_init(&h);
		h.pcfg.deflate = combos[c].deflate_cfg;
		pair_free_engines(&h);
		pair_engines(&h);
		h.lose_at = 150000;
		req_init(&r);
		r.textfmt = combos[c].textfmt;
		r.binary = combos[c].binary;
		r.compress = combos[c].compress;
		r.mark_interval = 8192;
		r.filename = NULL;
		r.mail = 1;
		r.tid = 77;
		r.size = 400000;
		r.copy_id = "niftpmail-copy test/1 size=400000 crc=0";
		tl_memfs_put(h.pfs, "local", d, 400000);
		CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
		pump(&h);
		CU_ASSERT_EQUAL(h.pl.done, 1);
		CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_RESUMABLE);
		CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->suspends, 1);
		dk = *niftp_docket(h.p);
		CU_ASSERT(dk.mark > 0);
		CU_ASSERT_EQUAL(dk.tid, 77);
		CU_ASSERT_EQUAL(dk.mark_interval, 8192);
		CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 1);	/* the durable partial only */
		/* A new call. */
		pair_free_engines(&h);
		h.lose_at = -1;
		pair_engines(&h);
		niftp_resume_req(&r, &dk);
		CU_ASSERT_EQUAL(r.restart_mark, dk.mark);
		CU_ASSERT(put_check(&h, &r, d, 400000, NULL));
		CU_ASSERT_STRING_EQUAL(h.pl.name, "mem.0001");
		CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 1);
		CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->commits, 1);
		CU_ASSERT(h.pq < 350000);	/* did not start again from 0 */
		free(d);
		pair_release(&h);
	}
}

/* Call lost after ER(OK): resume with 0xFFFF, same name, stored once. */
static void test_resume_eof(void)
{
	struct pair h;
	struct niftp_req r;
	struct niftp_docket dk;
	unsigned char *d = fill(50000, 0, 4);

	pair_init(&h);
	h.lose_after_data_done = 1;
	req_init(&r);
	r.filename = NULL;
	r.mail = 1;
	r.tid = 5;
	r.copy_id = "niftpmail-copy test/2 size=50000 crc=1";
	tl_memfs_put(h.pfs, "local", d, 50000);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.data_done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_RESUMABLE);
	CU_ASSERT(h.pl.docket.data_done);		/* saved after ER(OK) */
	CU_ASSERT_EQUAL(h.pl.dockets, 2);
	dk = *niftp_docket(h.p);
	CU_ASSERT(dk.data_done);
	CU_ASSERT_STRING_EQUAL(dk.name, "mem.0001");
	CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->commits, 1);
	pair_free_engines(&h);
	h.lose_after_data_done = 0;
	pair_engines(&h);
	niftp_resume_req(&r, &dk);
	CU_ASSERT_EQUAL(r.restart_mark, NIFTP_MARK_EOF);
	h.pl.done = 0;
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
	CU_ASSERT_STRING_EQUAL(h.pl.name, "mem.0001");
	CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->commits, 1);	/* stored once */
	CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 1);
	CU_ASSERT(h.pq < 200);				/* SFT and STOP only */
	free(d);
	pair_release(&h);
}

/* Resumption without a docket (or with another copy id): 0x1004. */
static void test_resume_nodocket(void)
{
	struct pair h;
	struct niftp_req r;
	struct niftp_docket dk;

	pair_init(&h);
	memset(&dk, 0, sizeof(dk));
	dk.tid = 1234;
	dk.mode = NIFTP_MODE_MAKE;
	dk.mark = 3;
	dk.mark_interval = 4096;
	req_init(&r);
	r.filename = NULL;
	r.mail = 1;
	niftp_resume_req(&r, &dk);
	tl_memfs_put(h.pfs, "local", "hello\n", 6);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_NORESUME);
	CU_ASSERT_EQUAL(h.pl.state, NIFTP_ST_REJ_NORESUME);
	CU_ASSERT(strstr(h.pl.reason, "no docket") != NULL);
	/* Resumption refused outright by a server without it. */
	pair_free_engines(&h);
	h.qcfg.resumption = 0;
	pair_engines(&h);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_NORESUME);
	pair_release(&h);
}

/* feed_q - give Q a command record */
static void feed_cmd(struct niftp *n, uint8_t cmd, const struct niftp_attr *a, size_t na)
{
	struct buf b = BUF_INIT(1 << 16);

	CU_ASSERT_EQUAL(niftp_cmd_put(&b, cmd, a, na), 0);
	niftp_input(n, buf_data(&b), b.len);
	buf_release(&b);
}

/* q_out - everything Q has to say, decoded as one command record */
static size_t take_out(struct niftp *n, unsigned char *p, size_t cap)
{
	struct buf b = BUF_INIT(1 << 20);
	size_t	len;

	while (niftp_output(n, &b, 65536) > 0)
		;
	len = b.len < cap ? b.len : cap;
	if (len > 0)
		memcpy(p, buf_data(&b), len);
	buf_release(&b);
	return len;
}

/* decode_cmd - first command record in wire octets */
static size_t decode_cmd(const unsigned char *w, size_t len, unsigned char *rec)
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

static struct niftp *new_q(struct evlog *l, struct tl_memfs *fs, int mail)
{
	struct niftp_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.mail_only = mail;
	cfg.resumption = 1;
	cfg.deflate = 1;
	cfg.caller = "c";
	return niftp_new(0, &cfg, &hooks, l, &tl_memfs_ops, fs);
}

/* RNEG: bad protocol id goes back with NE, state 0x1001 and a reason. */
static void test_rneg_protocol(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q;
	struct niftp_attr a[4];
	unsigned char w[2048], rec[2048];
	size_t	len, rl;
	static const unsigned char want[] = {0x03, 0x03, 0x00, 0x25, 0x00, 0x00,
		0x0f, 0x22, 0x10, 0x01, 0x71, 0x32};

	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 1);
	niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0000);
	niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE);
	niftp_attr_none(&a[2], NIFTP_A_FILENAME, 0x97);
	feed_cmd(q, NIFTP_SFT, a, 3);
	len = take_out(q, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	CU_ASSERT(rl > sizeof(want));
	CU_ASSERT(memcmp(rec, want, sizeof(want)) == 0);
	CU_ASSERT(rl > 13 && memmem(rec, rl, "Not Niftp-80 protocol", 21) != NULL);
	/* P's STOP: Q answers STOPACK with its own reject state. */
	niftp_attr_int(&a[0], NIFTP_A_STATE, NIFTP_OP_EQ, 0x1000);
	feed_cmd(q, NIFTP_STOP, a, 1);
	len = take_out(q, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	CU_ASSERT(rl >= 6 && rec[0] == NIFTP_STOPACK && rec[2] == 0x0f && rec[3] == 0x22
		&& rec[4] == 0x10 && rec[5] == 0x01);
	CU_ASSERT_EQUAL(l.done, 1);
	CU_ASSERT_EQUAL(l.status, NIFTP_ERR_PERM);
	CU_ASSERT(niftp_idle(q));
	niftp_free(q);
	tl_memfs_free(fs);
}

/* RNEG: a filename given in a mail SFT is a policy refusal, 0x1002. */
static void test_rneg_mail_filename(void)
{
	struct pair h;
	struct niftp_req r;

	pair_init(&h);
	h.qcfg.mail_only = 1;
	pair_free_engines(&h);
	pair_engines(&h);
	h.keep_wire = 1;
	req_init(&r);
	r.filename = "mailfile";
	tl_memfs_put(h.pfs, "local", "x\n", 2);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_PERM);
	CU_ASSERT_EQUAL(h.pl.state, NIFTP_ST_REJ_ATTR);
	CU_ASSERT(strstr(h.pl.reason, "Filename given when not expected") != NULL);
	CU_ASSERT_EQUAL(h.ql.state, NIFTP_ST_REJ_ATTR);
	/* RNEG carries only the state and the text: 03 02 0f 22 10 02 71 ... */
	{
		unsigned char rec[1024];
		size_t	rl = decode_cmd(buf_data(&h.qwire), h.qwire.len, rec);

		CU_ASSERT(rl > 8 && rec[0] == 0x03 && rec[1] == 0x02 && rec[2] == 0x0f
			&& rec[4] == 0x10 && rec[5] == 0x02 && rec[6] == 0x71);
	}
	CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 0);
	CU_ASSERT_EQUAL(tl_memfs_stats(h.pfs)->open_files, 0);
	pair_release(&h);
}

/* An unknown attribute is answered (id, 0x00) in RPOS. */
static void test_unknown_attr(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q;
	struct niftp_attr a[6];
	unsigned char w[2048], rec[2048];
	size_t	len, rl, i;
	int	found = 0;

	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 1);
	niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE);
	niftp_attr_int(&a[2], 0x77, NIFTP_OP_EQ, 0x1234);
	niftp_attr_str(&a[3], 0x79, NIFTP_OP_EQ, "whatever");
	niftp_attr_none(&a[4], NIFTP_A_FILENAME, 0x97);
	feed_cmd(q, NIFTP_SFT, a, 5);
	len = take_out(q, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	CU_ASSERT(rl > 2 && rec[0] == NIFTP_RPOS);
	for (i = 2; i + 1 < rl; i++)
		if (rec[i] == 0x77 && rec[i + 1] == 0x00 && rec[i + 2] == 0x79 && rec[i + 3] == 0x00)
			found = 1;
	CU_ASSERT(found);
	CU_ASSERT_EQUAL(l.failed, 0);
	niftp_free(q);
	tl_memfs_free(fs);
}

/* Bad input: each case ends the call with a clear reason, no crash, no hang. */
static void test_bad_input(void)
{
	static const struct bad {
		const char *hex;		/* after an optional good SFT + GO */
		int	after_go;
		const char *want;
	} bad[] = {
		{"83 04 02 00", 0, "truncated record"},
		{"86 04 03 00 22 01 00", 0, "truncated record"},
		{"84 04 01 00 22", 0, "integer value of attribute 0x00"},
		{"81 04", 0, "no attribute count"},
		{"82 09 00", 0, "unknown command 0x09"},
		{"87 04 01 40 32 05 61 62", 0, "declares 5 octets"},
		{"88 04 01 40 32 01 61 62 63", 0, "octets follow"},
		{"82 01 00", 0, "GO received by Q in state idle"},
		{"86 05 01 0f 22 20 00", 0, "STOPACK received by Q"},
		{"82 02 00", 0, "RPOS received by Q"},
		{"00 41 01", 0, "outside the data phase"},
		{"c3 04", 0, "compressed sub-record"},
		{"03 04 00 00 00 41 01", 0, "escape inside a command record"},
		{"00 50 00", 0, "unknown transfer-control command 0x50"},
		{"05 61 62 63 64 65", 1, "data received before SS"},
		{"00 40 00 00 41 02", 1, "MS(2) out of sequence"},
		{"00 40 07", 1, "SS(7) does not match"},
		{"00 40 00 00 42 03", 1, "CS(0x03)"},
		{"00 40 00 43 61", 1, "compression was not agreed"},
		{"00 40 00 00 45 00", 1, "MR(0x00) received by the data receiver"},
		{"00 40 00 82 01 00", 1, ""},	/* data, harmless: no failure expected */
		{"82 01 00", 1, "data received before SS"},	/* a record is data here */
		{"00 47 00", 1, "ER(0x00) received by the data receiver"},
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct evlog l;
		struct tl_memfs *fs = tl_memfs_new(NULL);
		struct niftp *q;
		unsigned char in[256];
		size_t	len = tl_unhex(bad[i].hex, in, sizeof(in));
		int	rc;

		memset(&l, 0, sizeof(l));
		q = new_q(&l, fs, 1);
		if (bad[i].after_go) {
			struct niftp_attr a[3];
			unsigned char w[4096];

			niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
			niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE);
			niftp_attr_none(&a[2], NIFTP_A_FILENAME, 0x97);
			feed_cmd(q, NIFTP_SFT, a, 3);
			feed_cmd(q, NIFTP_GO, NULL, 0);
			take_out(q, w, sizeof(w));
		}
		rc = niftp_input(q, in, len);
		if (bad[i].want[0]) {
			CU_ASSERT_EQUAL(rc, -1);
			CU_ASSERT_EQUAL(l.failed, 1);
			if (strstr(l.fail_reason, bad[i].want) == NULL) {
				printf("\n  bad input %zu '%s': got reason '%s', want '%s'\n", i,
					bad[i].hex, l.fail_reason, bad[i].want);
				CU_FAIL("reason");
			}
			/* Dead: further input is refused at once. */
			CU_ASSERT_EQUAL(niftp_input(q, in, len), -1);
		} else {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(l.failed, 0);
		}
		CU_ASSERT_EQUAL(tl_memfs_stats(fs)->open_files, bad[i].after_go && !bad[i].want[0]);
		niftp_free(q);
		CU_ASSERT_EQUAL(tl_memfs_stats(fs)->open_files, 0);
		tl_memfs_free(fs);
	}
}

/* An over-long command record is refused without unbounded memory. */
static void test_long_record(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q;
	unsigned char sr[64];
	int	i, rc = 0;

	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 1);
	memset(sr, 'a', sizeof(sr));
	sr[0] = 0x3f;
	sr[1] = NIFTP_SFT;
	for (i = 0; i < 200 && rc == 0; i++)
		rc = niftp_input(q, sr, sizeof(sr));
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT(strstr(l.fail_reason, "longer than 8192") != NULL);
	niftp_free(q);
	tl_memfs_free(fs);
}

/* Oversized: refused at SFT time by the file size, or during the data. */
static void test_oversize(void)
{
	struct pair h;
	struct niftp_req r;
	unsigned char *d = fill(100000, 0, 8);

	pair_init(&h);
	h.qcfg.max_size = 20000;
	pair_free_engines(&h);
	pair_engines(&h);
	req_init(&r);
	r.filename = NULL;
	r.size = 100000;
	tl_memfs_put(h.pfs, "local", d, 100000);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_PERM);
	CU_ASSERT(strstr(h.pl.reason, "file too large") != NULL);
	CU_ASSERT_EQUAL(h.pl.state, NIFTP_ST_REJ_ATTR);
	/* Size unknown: stopped in the data phase with QR(0x21). */
	h.pl.done = 0;
	r.size = -1;
	tl_memfs_options(h.pfs)->unknown_size = 1;
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_PERM);
	if (strstr(h.pl.reason, "larger than the limit") == NULL)
		printf("\n  oversize reason: '%s'\n", h.pl.reason);
	CU_ASSERT(strstr(h.pl.reason, "larger than the limit") != NULL);
	CU_ASSERT_EQUAL(h.pl.state, NIFTP_ST_ABORT_NORETRY);
	CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 0);
	CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->open_files, 0);
	free(d);
	pair_release(&h);
}

/* Commit is asynchronous: no ER before the filestore says so. */
static void test_async_commit(void)
{
	struct pair h;
	struct niftp_req r;

	pair_init(&h);
	tl_memfs_options(h.qfs)->async_commit = 1;
	h.no_auto_commit = 1;
	req_init(&r);
	r.filename = NULL;
	tl_memfs_put(h.pfs, "local", "abc\n", 4);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.data_done, 0);
	CU_ASSERT_EQUAL(h.pl.done, 0);
	CU_ASSERT_FALSE(niftp_want_output(h.q));
	CU_ASSERT_EQUAL(tl_memfs_run_commits(h.qfs), 1);
	CU_ASSERT(niftp_want_output(h.q));
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.data_done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
	pair_release(&h);
}

/* Commit failure: QR after ES(OK), second ES, ER, STOP/STOPACK 0x3010/0x3011. */
static void test_commit_fail(void)
{
	int	retry;

	for (retry = 0; retry < 2; retry++) {
		struct pair h;
		struct niftp_req r;

		pair_init(&h);
		tl_memfs_options(h.qfs)->commit_fail = 1;
		tl_memfs_options(h.qfs)->commit_retry = retry;
		tl_memfs_options(h.qfs)->commit_reason = "User name unknown";
		req_init(&r);
		r.filename = NULL;
		tl_memfs_put(h.pfs, "local", "abc\n", 4);
		CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
		pump(&h);
		CU_ASSERT_EQUAL(h.pl.done, 1);
		CU_ASSERT_EQUAL(h.pl.status, retry ? NIFTP_ERR_TEMP : NIFTP_ERR_PERM);
		CU_ASSERT_EQUAL(h.pl.state, retry ? NIFTP_ST_ABORT_RETRY : NIFTP_ST_ABORT_NORETRY);
		CU_ASSERT(strstr(h.pl.reason, "User name unknown") != NULL);
		CU_ASSERT_EQUAL(h.pl.data_done, 0);
		CU_ASSERT_EQUAL(h.ql.done, 1);
		CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 0);
		CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->open_files, 0);
		pair_release(&h);
	}
}

/* Write failure in the data phase: QR(0x20) and a temporary failure. */
static void test_write_fail(void)
{
	struct pair h;
	struct niftp_req r;
	unsigned char *d = fill(500000, 1, 2);

	pair_init(&h);
	tl_memfs_options(h.qfs)->write_fail_at = 200000;
	tl_memfs_options(h.qfs)->write_retry = 1;
	req_init(&r);
	r.filename = NULL;
	tl_memfs_put(h.pfs, "local", d, 500000);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_TEMP);
	CU_ASSERT(strstr(h.pl.reason, "write failure injected") != NULL);
	CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 0);
	/* Read failure at P: ES(0x28), temporary. */
	tl_memfs_options(h.qfs)->write_fail_at = 0;
	tl_memfs_options(h.pfs)->read_fail_at = 100000;
	h.pl.done = 0;
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_TEMP);
	CU_ASSERT(strstr(h.pl.reason, "read failure injected") != NULL);
	free(d);
	pair_release(&h);
}

/* Username/password through the auth hook. */
static void test_auth(void)
{
	struct pair h;
	struct niftp_req r;

	pair_init(&h);
	req_init(&r);
	r.filename = "f";
	r.username = "bad";
	r.password = "secret";
	tl_memfs_put(h.pfs, "local", "x", 1);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_AUTH);
	CU_ASSERT_EQUAL(h.ql.auth_calls, 1);
	r.username = "good";
	h.pl.done = 0;
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
	CU_ASSERT_EQUAL(h.ql.auth_calls, 2);
	pair_release(&h);
}

/* Open answered later (niftp_open_done). */
static void test_async_open(void)
{
	struct pair h;
	struct niftp_req r;

	pair_init(&h);
	tl_memfs_options(h.qfs)->async_open = 1;
	req_init(&r);
	r.filename = NULL;
	tl_memfs_put(h.pfs, "local", "late open\n", 10);
	CU_ASSERT(put_check(&h, &r, (const unsigned char *) "late open\n", 10, NULL));
	tl_memfs_options(h.qfs)->refuse_open = 1;
	tl_memfs_options(h.qfs)->refuse_state = NIFTP_ST_REJ_LATER;
	h.pl.done = 0;
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_TEMP);
	CU_ASSERT_EQUAL(h.pl.state, NIFTP_ST_REJ_LATER);
	pair_release(&h);
}

/* Copy identity and information messages reach Q's filestore request. */
static void test_info_copy_id(void)
{
	struct pair h;
	struct niftp_req r;

	pair_init(&h);
	req_init(&r);
	r.filename = NULL;
	r.mail = 1;
	r.tid = 9;
	r.copy_id = "niftpmail-copy ucl/x.1 size=3 crc=123";
	CU_ASSERT(put_check(&h, &r, (const unsigned char *) "ab\n", 3, NULL));
	CU_ASSERT_STRING_EQUAL(h.ql.sft_copy, "niftpmail-copy ucl/x.1 size=3 crc=123");
	CU_ASSERT(strstr(h.ql.sft_info, "niftpmail test P") != NULL);
	CU_ASSERT_EQUAL(h.pl.dockets, 2);
	CU_ASSERT_EQUAL(h.pl.docket.tid, 9);
	pair_release(&h);
}

/* A committed resumption answered with GO then SS+ES with no data. */
static void test_committed_go(void)
{
	struct pair h;
	struct niftp_req r;
	struct niftp_attr a[6];
	unsigned char w[4096], rec[4096];
	size_t	len, rl;
	static const unsigned char ss_es[] = {0x00, 0x40, 0x00, 0x00, 0x43, 0x00};

	pair_init(&h);
	req_init(&r);
	r.filename = NULL;
	r.mail = 1;
	r.tid = 3;
	CU_ASSERT(put_check(&h, &r, (const unsigned char *) "once\n", 5, NULL));
	/* A hand-made resuming SFT to Q on a new call. */
	niftp_free(h.q);
	h.q = niftp_new(0, &h.qcfg, &hooks, &h.ql, &tl_memfs_ops, h.qfs);
	niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE | NIFTP_MODE_RESUME);
	niftp_attr_int(&a[2], NIFTP_A_TID, NIFTP_OP_EQ, 3);
	niftp_attr_int(&a[3], NIFTP_A_RESTARTMARK, NIFTP_OP_EQ, NIFTP_MARK_EOF);
	niftp_attr_int(&a[4], NIFTP_A_FACILITIES, NIFTP_OP_LE, 0x000E);
	niftp_attr_none(&a[5], NIFTP_A_FILENAME, 0x97);
	feed_cmd(h.q, NIFTP_SFT, a, 6);
	len = take_out(h.q, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	CU_ASSERT(rl > 2 && rec[0] == NIFTP_RPOS);
	CU_ASSERT(memmem(rec, rl, "\x0b\x22\xff\xff", 4) != NULL);
	CU_ASSERT(memmem(rec, rl, "mem.0001", 8) != NULL);
	feed_cmd(h.q, NIFTP_GO, NULL, 0);
	niftp_input(h.q, ss_es, sizeof(ss_es));
	len = take_out(h.q, w, sizeof(w));
	CU_ASSERT(len == 3 && w[0] == 0 && w[1] == NIFTP_ER && w[2] == 0);
	niftp_attr_int(&a[0], NIFTP_A_STATE, NIFTP_OP_EQ, NIFTP_ST_OK);
	feed_cmd(h.q, NIFTP_STOP, a, 1);
	len = take_out(h.q, w, sizeof(w));
	CU_ASSERT(len == 7 && memcmp(w, "\x86\x05\x01\x0f\x22\x20\x00", 7) == 0);
	CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->commits, 1);
	CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 1);
	pair_release(&h);
}

/* Mark acknowledgement: a sender never runs more than the window ahead. */
static void test_window(void)
{
	struct pair h;
	struct niftp_req r;
	unsigned char *d = fill(2000000, 1, 6);

	pair_init(&h);
	req_init(&r);
	r.filename = NULL;
	r.mark_interval = 2048;
	r.ack_window = 4;
	r.size = 2000000;
	tl_memfs_put(h.pfs, "local", d, 2000000);
	CU_ASSERT_EQUAL(niftp_start(h.p, &r), 0);
	/* Pull from P only: it must stall after 4 unacknowledged marks. */
	{
		struct buf out = BUF_INIT(4u << 20);
		int	i;

		for (i = 0; i < 10; i++) {
			move(&h, 1);
			move(&h, 0);
		}
		niftp_output(h.p, &out, 1u << 20);
		niftp_output(h.p, &out, 1u << 20);
		CU_ASSERT(out.len < 5 * 2048 + 1000);
		CU_ASSERT_FALSE(niftp_want_output(h.p));
		niftp_input(h.q, buf_data(&out), out.len);
		buf_release(&out);
	}
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
	{
		size_t	glen;
		const unsigned char *got = tl_memfs_get(h.qfs, h.pl.name, &glen);

		CU_ASSERT(got && glen == 2000000 && memcmp(got, d, glen) == 0);
	}
	free(d);
	pair_release(&h);
}

/* Chunked delivery: tiny output sizes still make valid sub-records. */
static void test_small_chunks(void)
{
	size_t	chunk;

	for (chunk = 1; chunk <= 70; chunk += 23) {
		struct pair h;
		struct niftp_req r;
		unsigned char *d = fill(20000, 0, (unsigned) chunk);

		pair_init(&h);
		h.chunk = chunk;
		req_init(&r);
		r.filename = NULL;
		r.compress = 1;
		r.mark_interval = 1000;
		r.textfmt = chunk % 2 ? NIFTP_TF_LINES : 0;
		CU_ASSERT(put_check(&h, &r, d, 20000, NULL));
		free(d);
		pair_release(&h);
	}
}

/* A maximum transfer record size: Q enforces it, P cuts records to it. */
static void test_maxrec(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q, *p;
	struct niftp_attr a[4];
	unsigned char w[8192];
	size_t	len;
	struct niftp_dec *d = xcalloc(1, sizeof(*d));
	static const unsigned char data[] = {0x00, 0x40, 0x00, 0x14,
		'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
		'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'};

	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 1);
	niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE);
	niftp_attr_int(&a[2], NIFTP_A_MAXRECORD, NIFTP_OP_EQ, 16);
	niftp_attr_none(&a[3], NIFTP_A_FILENAME, 0x97);
	feed_cmd(q, NIFTP_SFT, a, 4);
	feed_cmd(q, NIFTP_GO, NULL, 0);
	take_out(q, w, sizeof(w));
	CU_ASSERT_EQUAL(niftp_input(q, data, sizeof(data)), 0);
	len = take_out(q, w, sizeof(w));
	CU_ASSERT(len == 3 && w[0] == 0 && w[1] == NIFTP_QR && w[2] == 0x22);
	niftp_input(q, "\x00\x43\x22", 3);
	len = take_out(q, w, sizeof(w));
	CU_ASSERT(len == 3 && w[1] == NIFTP_ER && w[2] == 0x22);
	niftp_free(q);

	/* Our P told "05 22 0010": transparent records of at most 16 octets. */
	memset(&l, 0, sizeof(l));
	tl_memfs_options(fs)->local = "src";
	tl_memfs_put(fs, "src", "0123456789abcdefghijklmnopqrstuvwxyz", 36);
	p = niftp_new(1, NULL, &hooks, &l, &tl_memfs_ops, fs);
	{
		struct niftp_req r;
		size_t	used = 0, dlen = 0;
		int	eors = 0;
		unsigned char sink[256];

		req_init(&r);
		r.filename = NULL;
		CU_ASSERT_EQUAL(niftp_start(p, &r), 0);
		take_out(p, w, sizeof(w));
		niftp_attr_int(&a[0], NIFTP_A_MAXRECORD, NIFTP_OP_EQ, 16);
		niftp_attr_int(&a[1], NIFTP_A_TEXTFMT, NIFTP_OP_EQ, NIFTP_TF_TRANSPARENT);
		feed_cmd(p, NIFTP_RPOS, a, 2);
		len = take_out(p, w, sizeof(w));
		niftp_dec_init(d);
		niftp_dec_set_mode(d, NIFTP_DEC_MODE_DATA, 0);
		used = 3;
		while (used < len) {
			struct niftp_dec_ev ev;

			used += niftp_dec_next(d, w + used, len - used, sink + dlen,
				sizeof(sink) - dlen, &ev);
			if (ev.type == NIFTP_DEC_DATA) {
				dlen += ev.dlen;
				if (ev.eor) {
					eors++;
					CU_ASSERT(dlen <= (size_t) eors * 16);
				}
			}
		}
		CU_ASSERT_EQUAL(eors, 3);
		CU_ASSERT(dlen == 36 && memcmp(sink, "0123456789abcdefghijklmnopqrstuvwxyz", 36) == 0);
	}
	niftp_free(p);
	free(d);
	tl_memfs_free(fs);
}

/* niftp_mark_interval: 64 KiB, doubled until fewer than 65,000 marks. */
static void test_mark_interval(void)
{
	CU_ASSERT_EQUAL(niftp_mark_interval(-1), 65536);
	CU_ASSERT_EQUAL(niftp_mark_interval(0), 65536);
	CU_ASSERT_EQUAL(niftp_mark_interval(65536LL * 64999), 65536);
	CU_ASSERT_EQUAL(niftp_mark_interval(65536LL * 65000), 131072);
	CU_ASSERT_EQUAL(niftp_mark_interval(4LL << 30), 131072);
	CU_ASSERT_EQUAL(niftp_mark_interval(64LL << 30), 2u << 20);
	CU_ASSERT_STRING_EQUAL(niftp_status_str(NIFTP_OK), "ok");
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("niftp_engine", NULL, NULL);
	CU_add_test(s, "put basic", test_put_basic);
	CU_add_test(s, "put modes", test_put_modes);
	CU_add_test(s, "get modes", test_get_modes);
	CU_add_test(s, "formats, compression, sizes", test_combos);
	CU_add_test(s, "lines edge cases", test_lines_edge);
	CU_add_test(s, "many transfers on one call", test_many_transfers);
	CU_add_test(s, "reset: restart from last mark", test_reset_restart);
	CU_add_test(s, "reset during a get", test_reset_get);
	CU_add_test(s, "reset: give up after 10", test_reset_give_up);
	CU_add_test(s, "resume mid-data on a new call", test_resume_mid);
	CU_add_test(s, "resume after ES: 0xFFFF", test_resume_eof);
	CU_add_test(s, "resume without docket", test_resume_nodocket);
	CU_add_test(s, "RNEG bad protocol id", test_rneg_protocol);
	CU_add_test(s, "RNEG filename on mail", test_rneg_mail_filename);
	CU_add_test(s, "unknown attribute", test_unknown_attr);
	CU_add_test(s, "bad input table", test_bad_input);
	CU_add_test(s, "over-long command record", test_long_record);
	CU_add_test(s, "oversized transfers", test_oversize);
	CU_add_test(s, "asynchronous commit", test_async_commit);
	CU_add_test(s, "commit failure", test_commit_fail);
	CU_add_test(s, "write and read failures", test_write_fail);
	CU_add_test(s, "auth hook", test_auth);
	CU_add_test(s, "asynchronous open", test_async_open);
	CU_add_test(s, "info and copy id", test_info_copy_id);
	CU_add_test(s, "committed resumption with GO", test_committed_go);
	CU_add_test(s, "mark acknowledgement window", test_window);
	CU_add_test(s, "small output chunks", test_small_chunks);
	CU_add_test(s, "maximum record size", test_maxrec);
	CU_add_test(s, "mark interval", test_mark_interval);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	{
		int	fails = (int) CU_get_number_of_failures();

		CU_cleanup_registry();
		return fails ? 1 : 0;
	}
}
