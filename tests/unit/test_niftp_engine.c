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
 *	the call with a clear reason. Pull mode: read-and-remove from a mail
 *	service (mail_only + mail_reads) whose STOPACK waits for the
 *	filestore's removal (fs->remove, niftp_remove_done), and the name a
 *	mail receiver gives on its STOP (NIFTP_STORED_PREFIX).
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <zlib.h>

#include "niftp/niftp.h"
#include "niftp/niftp_rec.h"
#include "tests/unit/tl_memfs.h"
#include "tests/unit/tl_test.h"
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
	char	sft_file[300];		/* filename in the last SFT ("" none) */
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
		snprintf(l->sft_file, sizeof(l->sft_file), "%s",
			ev->req->filename ? ev->req->filename : "");
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
	struct buf plast, qlast;	/* each side's last chunk, if keep_wire */
	int	keep_wire;
	int	no_auto_commit;		/* leave asynchronous commits pending */
	const struct niftp_fs_ops *qops;	/* Q's filestore ops (NULL: tl_memfs_ops) */
};

static const struct niftp_hooks hooks = {on_event, on_auth, on_docket};

static void pair_engines(struct pair *h)
{
	h->p = niftp_new(1, &h->pcfg, &hooks, &h->pl, &tl_memfs_ops, h->pfs);
	h->q = niftp_new(0, &h->qcfg, &hooks, &h->ql, h->qops ? h->qops : &tl_memfs_ops, h->qfs);
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
	buf_init(&h->plast, 1u << 20);
	buf_init(&h->qlast, 1u << 20);
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
	buf_release(&h->plast);
	buf_release(&h->qlast);
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
	if (h->keep_wire) {
		struct buf *last = from_p ? &h->plast : &h->qlast;

		buf_append(from_p ? &h->pwire : &h->qwire, buf_data(&out), len);
		buf_reset(last);
		buf_append(last, buf_data(&out), len);
	}
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
	if (!(rl > 2 && rec[0] == NIFTP_RPOS))
		printf("\n  got record 0x%02x len %zu (%s), want RPOS\n", rl ? rec[0] : 0, rl, l.fail_reason);
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

/*
 * Review regressions (adversarial review of the engine).
 */

/* RESET that loses the receiver's MR: RR acknowledges, no deadlock. */
static void test_reset_lost_mr(void)
{
	struct pair h;
	struct niftp_req r;
	unsigned char *d = fill(200000, 1, 21);
	int	i, hit = 0;

	pair_init(&h);
	h.chunk = 3000;
	req_init(&r);
	r.filename = NULL;
	r.mark_interval = 2048;
	r.ack_window = 8;
	r.size = 200000;
	tl_memfs_put(h.pfs, "local", d, 200000);
	CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
	for (i = 0; i < 100000 && !hit; i++) {
		size_t	m = move(&h, 1);

		if (h.pl.pos && niftp_want_output(h.q) && h.pq > 4 * 2048) {
			/* Q has queued an MR: the RESET loses it. */
			niftp_reset(h.q);
			niftp_reset(h.p);
			hit = 1;
			break;
		}
		m += move(&h, 0);
		if (m == 0)
			break;
	}
	CU_ASSERT(hit);
	pump(&h);
	if (h.pl.status != NIFTP_OK || h.pl.done != 1)
		printf("\n  lost MR: got done=%d status=%d (%s), want OK\n", h.pl.done, h.pl.status,
			h.pl.reason);
	CU_ASSERT_EQUAL(h.pl.done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
	{
		size_t	glen = 0;
		const unsigned char *got = tl_memfs_get(h.qfs, h.pl.name, &glen);

		CU_ASSERT(got && glen == 200000 && memcmp(got, d, glen) == 0);
	}
	free(d);
	pair_release(&h);
}

/* A filestore whose dockets hold 70,000 marks of 4 octets, not committed. */
static int bigmark_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct niftp_req r2 = *req;
	int	rc;

	r2.resume = 0;
	r2.mode = NIFTP_MODE_APPEND_MAKE;
	r2.filename = "big";
	rc = tl_memfs_ops.open_write(fs, &r2, res);
	if (rc == 0 && req->resume) {
		res->mark = 70000;
		res->offset = 280000;
	}
	return rc;
}

/* Asked for 0xFFFF, Q's docket has >= 65,535 marks but no commit: 0xFFFE. */
static void test_resume_eof_uncommitted(void)
{
	struct pair h;
	struct niftp_req r;
	struct niftp_fs_ops ops = tl_memfs_ops;
	unsigned char *d = fill(300000, 1, 8);
	size_t	glen = 0;
	const unsigned char *got;

	ops.open_write = bigmark_open_write;
	ops.mark = NULL;
	pair_init(&h);
	pair_free_engines(&h);
	h.p = niftp_new(1, &h.pcfg, &hooks, &h.pl, &tl_memfs_ops, h.pfs);
	h.q = niftp_new(0, &h.qcfg, &hooks, &h.ql, &ops, h.qfs);
	tl_memfs_put(h.qfs, "big", d, 280000);		/* the durable part */
	tl_memfs_put(h.pfs, "local", d, 300000);
	req_init(&r);
	r.filename = NULL;
	r.resume = 1;
	r.tid = 9;
	r.restart_mark = NIFTP_MARK_EOF;
	r.mark_interval = 4;
	r.ack_window = 255;
	r.size = 300000;
	CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
	CU_ASSERT_EQUAL(h.pl.data_done, 1);		/* the data really went */
	CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->commits, 1);
	got = tl_memfs_get(h.qfs, "big", &glen);
	CU_ASSERT(got && glen == 300000 && memcmp(got, d, glen) == 0);
	CU_ASSERT(h.pq > 30000 && h.pq < 200000);	/* from mark 0xFFFE on */
	free(d);
	pair_release(&h);
}

/* frame_deflate - raw deflate of len octets of c, framed as sub-records into b */
static void frame_deflate(struct buf *b, int c, size_t len)
{
	z_stream z;
	unsigned char *in = xmalloc(len), *out = xmalloc(len + 1024), *w;
	size_t	olen, used, k;
	int	ended;

	memset(in, c, len);
	memset(&z, 0, sizeof(z));
	CU_ASSERT_EQUAL_FATAL(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = in;
	z.avail_in = (uInt) len;
	z.next_out = out;
	z.avail_out = (uInt) (len + 1024);
	CU_ASSERT_EQUAL(deflate(&z, Z_FINISH), Z_STREAM_END);
	olen = len + 1024 - z.avail_out;
	deflateEnd(&z);
	w = buf_reserve(b, olen * 2 + 8);
	k = niftp_sr_encode(w, olen * 2 + 8, out, olen, 0, 0, &used, &ended);
	CU_ASSERT_EQUAL(used, olen);
	buf_commit(b, k);
	free(in);
	free(out);
}

/* Deflate bomb: a stream longer than the first stretch (the interval) fails. */
static void test_deflate_bomb(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q;
	struct niftp_attr a[5];
	unsigned char w[4096], rec[4096];
	struct buf b = BUF_INIT(1 << 20);
	size_t	len, rl, i;
	int	fac = -1;

	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 0);
	niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE);
	niftp_attr_int(&a[2], NIFTP_A_DATATYPE, NIFTP_OP_EQ, 2);
	niftp_attr_int(&a[3], NIFTP_A_FACILITIES, NIFTP_OP_EQ, NIFTP_F_DEFLATE | NIFTP_F_RESTART);
	niftp_attr_str(&a[4], NIFTP_A_FILENAME, NIFTP_OP_EQ, "bomb");
	feed_cmd(q, NIFTP_SFT, a, 5);
	len = take_out(q, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	CU_ASSERT(rl == 2 && rec[0] == NIFTP_RPOS);	/* all agreed as asked */
	CU_ASSERT_EQUAL(l.sft_fac, NIFTP_F_DEFLATE | NIFTP_F_RESTART);
	feed_cmd(q, NIFTP_GO, NULL, 0);
	niftp_tcc_put(&b, NIFTP_SS, 0);
	niftp_tcc_put(&b, NIFTP_CS, 1);
	frame_deflate(&b, 0, 8192);
	niftp_tcc_put(&b, NIFTP_MS, 1);
	frame_deflate(&b, 0, 8192);		/* a second stretch as long: fine */
	niftp_tcc_put(&b, NIFTP_MS, 2);
	CU_ASSERT_EQUAL(niftp_input(q, buf_data(&b), b.len), 0);
	CU_ASSERT_EQUAL(l.failed, 0);
	buf_reset(&b);
	frame_deflate(&b, 0, 8 << 20);		/* 8 MiB of zeros in ~8 KiB */
	CU_ASSERT(b.len < 20000);
	CU_ASSERT_EQUAL(niftp_input(q, buf_data(&b), b.len), -1);
	CU_ASSERT_EQUAL(l.failed, 1);
	CU_ASSERT(strstr(l.fail_reason, "more than the mark interval") != NULL);
	CU_ASSERT_EQUAL(tl_memfs_stats(fs)->open_files, 0);
	niftp_free(q);

	/* Deflate without marks is not agreed: nothing would bound a stream. */
	memset(&l, 0, sizeof(l));
	q = new_q(&l, fs, 0);
	niftp_attr_int(&a[3], NIFTP_A_FACILITIES, NIFTP_OP_EQ, NIFTP_F_DEFLATE);
	feed_cmd(q, NIFTP_SFT, a, 5);
	len = take_out(q, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	if (!(rl > 2 && rec[0] == NIFTP_RPOS))
		printf("\n  got record 0x%02x len %zu (%s), want RPOS\n", rl ? rec[0] : 0, rl, l.fail_reason);
	CU_ASSERT(rl > 2 && rec[0] == NIFTP_RPOS);
	for (i = 2; i + 3 < rl; i++)
		if (rec[i] == NIFTP_A_FACILITIES && rec[i + 1] == 0x22)
			fac = rec[i + 2] << 8 | rec[i + 3];
	CU_ASSERT_EQUAL(fac, 0);
	CU_ASSERT_EQUAL(l.sft_fac, 0);
	niftp_free(q);
	buf_release(&b);
	tl_memfs_free(fs);
}

/* The state table: every command and transfer-control command in every state. */
enum { ST_Q_IDLE, ST_Q_OPENING, ST_Q_POS, ST_Q_RNEG, ST_Q_WAIT_SS, ST_Q_RECV, ST_Q_COMMIT,
	ST_Q_QR_SENT, ST_Q_WAIT_STOP, ST_Q_SEND, ST_Q_ES_SENT,
	ST_P_IDLE, ST_P_OPENING, ST_P_SFT_SENT, ST_P_SEND, ST_P_ES_SENT, ST_P_WAIT_SS,
	ST_P_RECV, ST_P_STOP_SENT, ST_COUNT };

static const char *const st_names[ST_COUNT] = {
	"Q idle", "Q opening", "Q RPOS sent", "Q RNEG sent", "Q waiting SS", "Q receiving",
	"Q committing", "Q QR sent", "Q waiting STOP", "Q sending", "Q ES sent",
	"P idle", "P opening", "P SFT sent", "P sending", "P ES sent", "P waiting SS",
	"P receiving", "P STOP sent",
};

/* st_setup - an engine brought into state st */
static struct niftp *st_setup(int st, struct evlog *l, struct tl_memfs *fs)
{
	struct niftp *n;
	struct niftp_attr a[4];
	unsigned char w[1 << 16];
	struct niftp_req r;
	int	is_q = st <= ST_Q_ES_SENT;

	memset(l, 0, sizeof(*l));
	tl_memfs_put(fs, "small", "hello\n", 6);
	if (st == ST_Q_COMMIT)
		tl_memfs_options(fs)->async_commit = 1;
	if (st == ST_Q_QR_SENT)
		tl_memfs_options(fs)->commit_fail = 1;
	if (st == ST_Q_OPENING || st == ST_P_OPENING)
		tl_memfs_options(fs)->async_open = 1;
	if (is_q) {
		n = new_q(l, fs, 0);
		tl_memfs_bind(fs, n);
		if (st == ST_Q_IDLE)
			return n;
		niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ,
			st == ST_Q_RNEG ? 0x0000 : 0x0100);
		niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ,
			st >= ST_Q_SEND ? NIFTP_MODE_READ : NIFTP_MODE_MAKE);
		niftp_attr_str(&a[2], NIFTP_A_FILENAME, NIFTP_OP_EQ,
			st == ST_Q_SEND ? "big" : st == ST_Q_ES_SENT ? "small" : "new");
		niftp_attr_int(&a[3], NIFTP_A_FACILITIES, NIFTP_OP_EQ, NIFTP_F_RESTART);
		if (st == ST_Q_SEND) {
			unsigned char *d = fill(1 << 20, 1, 1);

			tl_memfs_put(fs, "big", d, 1 << 20);
			free(d);
		}
		feed_cmd(n, NIFTP_SFT, a, 4);
		take_out(n, w, sizeof(w));
		if (st <= ST_Q_RNEG)
			return n;
		feed_cmd(n, NIFTP_GO, NULL, 0);
		if (st == ST_Q_SEND)
			return n;		/* data waits to be pulled */
		take_out(n, w, sizeof(w));
		if (st == ST_Q_WAIT_SS || st == ST_Q_ES_SENT)
			return n;
		niftp_input(n, "\x00\x40\x00\x05hello", 9);
		if (st == ST_Q_RECV)
			return n;
		niftp_input(n, "\x00\x43\x00", 3);
		take_out(n, w, sizeof(w));
		return n;
	}
	tl_memfs_options(fs)->local = "small";
	n = niftp_new(1, NULL, &hooks, l, &tl_memfs_ops, fs);
	tl_memfs_bind(fs, n);
	if (st == ST_P_IDLE)
		return n;
	req_init(&r);
	r.filename = "there";
	r.mode = st == ST_P_WAIT_SS || st == ST_P_RECV ? NIFTP_MODE_READ : NIFTP_MODE_MAKE;
	CU_ASSERT_FATAL(niftp_start(n, &r) == 0);
	if (st == ST_P_OPENING)
		return n;
	take_out(n, w, sizeof(w));
	if (st == ST_P_SFT_SENT)
		return n;
	feed_cmd(n, NIFTP_RPOS, NULL, 0);
	if (st == ST_P_SEND)
		return n;		/* GO and data wait to be pulled */
	take_out(n, w, sizeof(w));
	if (st == ST_P_ES_SENT || st == ST_P_WAIT_SS)
		return n;
	if (st == ST_P_RECV) {
		niftp_input(n, "\x00\x40\x00\x05hello", 9);
		return n;
	}
	niftp_input(n, "\x00\x47\x00", 3);	/* ER(OK): STOP goes */
	take_out(n, w, sizeof(w));
	return n;
}

static void test_state_table(void)
{
	static const struct {
		const char *name;
		const char *hex;
	} in[] = {
		{"STOP", "86 00 01 0f 22 20 00"}, {"GO", "82 01 00"}, {"RPOS", "82 02 00"},
		{"RNEG", "86 03 01 0f 22 10 01"},
		{"SFT", "8a 04 02 00 22 01 00 01 22 00 01"},
		{"STOPACK", "86 05 01 0f 22 20 00"},
		{"SS", "00 40 00"}, {"MS", "00 41 01"}, {"CS", "00 42 00"}, {"ES", "00 43 00"},
		{"RR", "00 44 00"}, {"MR", "00 45 00"}, {"QR", "00 46 20"}, {"ER", "00 47 00"},
	};
	/* F: the call fails with a reason; '.': handled, the call goes on. */
	static const char *const want[ST_COUNT] = {
		/*            STOP GO RPOS RNEG SFT STOPACK SS MS CS ES RR MR QR ER */
		[ST_Q_IDLE] =      "FFFF.FFFFFFFFF",
		[ST_Q_OPENING] =   "FFFFFFFFFFFFFF",
		[ST_Q_POS] =       "..FFFFFFFFFFFF",
		[ST_Q_RNEG] =      ".FFFFFFFFFFFFF",
		[ST_Q_WAIT_SS] =   "FFFFFF.F.FFFFF",
		[ST_Q_RECV] =      "......F...FFFF",
		[ST_Q_COMMIT] =    "FFFFFFFFFFFFFF",
		[ST_Q_QR_SENT] =   "FFFFFF....FFFF",
		[ST_Q_WAIT_STOP] = ".FFFFFFFFFFFFF",
		[ST_Q_SEND] =      "FFFFFFFFFF...F",
		[ST_Q_ES_SENT] =   "FFFFFFFFFF....",
		[ST_P_IDLE] =      "FFFFFFFFFFFFFF",
		[ST_P_OPENING] =   "FFFFFFFFFFFFFF",
		[ST_P_SFT_SENT] =  "FF..FFFFFFFFFF",
		[ST_P_SEND] =      "FFFFFFFFFF...F",
		[ST_P_ES_SENT] =   "FFFFFFFFFF....",
		[ST_P_WAIT_SS] =   "FFFFFF.F.FFFFF",
		[ST_P_RECV] =      "......F...FFFF",
		[ST_P_STOP_SENT] = "FFFFF.FFFFFFFF",
	};
	int	st;
	size_t	i;

	for (st = 0; st < ST_COUNT; st++) {
		char	got[sizeof(in) / sizeof(in[0]) + 1];

		for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
			struct evlog l;
			struct tl_memfs *fs = tl_memfs_new(NULL);
			struct niftp *n = st_setup(st, &l, fs);
			unsigned char b[64];
			size_t	len = tl_unhex(in[i].hex, b, sizeof(b));
			int	rc;

			CU_ASSERT_EQUAL(l.failed, 0);
			rc = niftp_input(n, b, len);
			got[i] = l.failed ? 'F' : '.';
			if (l.failed) {
				CU_ASSERT_EQUAL(rc, -1);
				/* The reason names what came. */
				if (strstr(l.fail_reason, in[i].name) == NULL
				    && strstr(l.fail_reason, "data received before SS") == NULL
				    && strstr(l.fail_reason, "unknown command") == NULL) {
					printf("\n  %s, %s: reason '%s' does not name it\n", st_names[st],
						in[i].name, l.fail_reason);
					CU_FAIL("reason");
				}
				CU_ASSERT_FALSE(niftp_want_output(n));
			} else {
				CU_ASSERT_EQUAL(rc, 0);
			}
			niftp_free(n);
			if (tl_memfs_stats(fs)->open_files != 0) {
				printf("\n  %s, %s: %d files left open\n", st_names[st], in[i].name,
					tl_memfs_stats(fs)->open_files);
				CU_FAIL("open files");
			}
			tl_memfs_free(fs);
		}
		got[i] = 0;
		if (strcmp(got, want[st]) != 0) {
			printf("\n  state %s: got %s, want %s\n", st_names[st], got, want[st]);
			CU_FAIL("state table");
		}
	}
}

/* A get (Q sends) cut mid-data and resumed on a new call from P's last mark. */
static void test_resume_get(void)
{
	struct pair h;
	struct niftp_req r;
	struct niftp_docket dk;
	unsigned char *d = fill(1000000, 1, 41);
	const unsigned char *got;
	size_t	glen = 0;
	int	i;

	pair_init(&h);
	tl_memfs_put(h.qfs, "there", d, 1000000);
	req_init(&r);
	r.mode = NIFTP_MODE_READ;
	r.filename = "there";
	r.tid = 31;
	CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
	for (i = 0; i < 100000 && niftp_docket(h.p)->mark < 5; i++)
		if (move(&h, 1) + move(&h, 0) == 0)
			break;
	CU_ASSERT(niftp_docket(h.p)->mark >= 5);
	niftp_lost(h.p, "test: call cut");
	niftp_lost(h.q, "test: call cut");
	CU_ASSERT_EQUAL(h.pl.done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_RESUMABLE);
	CU_ASSERT_EQUAL(tl_memfs_stats(h.pfs)->suspends, 1);
	dk = *niftp_docket(h.p);
	CU_ASSERT_EQUAL(dk.tid, 31);
	CU_ASSERT_EQUAL(dk.offset, (uint64_t) dk.mark * 65536);
	/* A new call: P asks for the rest from its last mark. */
	pair_free_engines(&h);
	pair_engines(&h);
	niftp_resume_req(&r, &dk);
	CU_ASSERT_EQUAL(r.mode, NIFTP_MODE_READ);
	CU_ASSERT_EQUAL(r.restart_mark, dk.mark);
	h.pl.done = 0;
	CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
	pump(&h);
	CU_ASSERT_EQUAL(h.pl.done, 1);
	CU_ASSERT_EQUAL(h.pl.status, NIFTP_OK);
	got = tl_memfs_get(h.pfs, "local", &glen);
	CU_ASSERT(got && glen == 1000000 && memcmp(got, d, 1000000) == 0);
	CU_ASSERT(h.qp < 1000000 - (uint64_t) dk.mark * 65536 + 50000);	/* not from 0 */
	CU_ASSERT(h.qp > 1000000 - (uint64_t) dk.mark * 65536);
	CU_ASSERT_EQUAL(tl_memfs_stats(h.pfs)->open_files, 0);
	CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->open_files, 0);
	free(d);
	pair_release(&h);
}

/* QR at many points of the data phase (write failures), and QR(0) mid-data. */
static void test_qr_points(void)
{
	static const int64_t at[] = {1, 4095, 4096, 4097, 65536, 150000, 299999};
	size_t	i;
	int	retry, defl;

	for (defl = 0; defl < 2; defl++)
	for (retry = 0; retry < 2; retry++)
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		struct pair h;
		struct niftp_req r;
		unsigned char *d = fill(300000, 1, 2);

		pair_init(&h);
		tl_memfs_options(h.qfs)->write_fail_at = at[i];
		tl_memfs_options(h.qfs)->write_retry = retry;
		req_init(&r);
		r.filename = NULL;
		r.binary = 1;
		r.compress = defl;
		r.mark_interval = 4096;
		r.ack_window = 4;
		tl_memfs_put(h.pfs, "local", d, 300000);
		CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
		pump(&h);
		if (h.pl.done != 1 || h.pl.status != (retry ? NIFTP_ERR_TEMP : NIFTP_ERR_PERM)
		    || h.pl.failed || h.ql.failed) {
			printf("\n  QR at %lld retry %d deflate %d: got done=%d status=%d failed=%d/%d "
				"(%s)\n", (long long) at[i], retry, defl, h.pl.done, h.pl.status,
				h.pl.failed, h.ql.failed, h.pl.reason);
			CU_FAIL("QR point");
		}
		CU_ASSERT_EQUAL(h.ql.done, 1);
		CU_ASSERT(strstr(h.pl.reason, "write failure injected") != NULL);
		CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->commits, 0);
		CU_ASSERT(niftp_idle(h.p) && niftp_idle(h.q));
		CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->open_files, 0);
		CU_ASSERT_EQUAL(tl_memfs_stats(h.pfs)->open_files, 0);
		free(d);
		pair_release(&h);
	}
	/* QR(0) "finish now" before our ES(OK): never reported as done. */
	{
		struct pair h;
		struct niftp_req r;
		unsigned char *d = fill(300000, 1, 2);
		int	k;

		pair_init(&h);
		h.chunk = 10000;
		req_init(&r);
		r.filename = NULL;
		tl_memfs_put(h.pfs, "local", d, 300000);
		CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
		for (k = 0; k < 8; k++) {
			move(&h, 1);
			move(&h, 0);
		}
		niftp_input(h.p, "\x00\x46\x00", 3);	/* as if Q said QR(0) */
		pump(&h);
		CU_ASSERT_EQUAL(h.pl.done, 1);
		CU_ASSERT_EQUAL(h.pl.status, NIFTP_ERR_PERM);
		CU_ASSERT_EQUAL(h.pl.data_done, 0);
		CU_ASSERT(strstr(h.pl.reason, "ended the data early") != NULL);
		CU_ASSERT_FALSE(h.pl.docket.data_done);
		free(d);
		pair_release(&h);
	}
}

/* ES with error codes: ER echoes, the status follows the low bit. */
static void test_es_codes(void)
{
	static const uint8_t codes[] = {0x20, 0x21, 0x28, 0x29, 0x2a, 0x30, 0x31};
	size_t	i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct evlog l;
		struct tl_memfs *fs = tl_memfs_new(NULL);
		struct niftp *q = st_setup(ST_Q_RECV, &l, fs);
		unsigned char w[256], es[3] = {0x00, NIFTP_ES, codes[i]}, rec[256];
		size_t	len, rl;

		CU_ASSERT_EQUAL(niftp_input(q, es, 3), 0);
		len = take_out(q, w, sizeof(w));
		CU_ASSERT(len == 3 && w[0] == 0 && w[1] == NIFTP_ER && w[2] == codes[i]);
		feed_cmd(q, NIFTP_STOP, NULL, 0);
		len = take_out(q, w, sizeof(w));
		rl = decode_cmd(w, len, rec);
		CU_ASSERT(rl >= 6 && rec[0] == NIFTP_STOPACK && rec[2] == NIFTP_A_STATE);
		CU_ASSERT_EQUAL(rl >= 6 ? (rec[4] << 8 | rec[5]) : 0,
			codes[i] & 1 ? NIFTP_ST_ABORT_NORETRY : NIFTP_ST_ABORT_RETRY);
		CU_ASSERT_EQUAL(l.done, 1);
		CU_ASSERT_EQUAL(l.status, codes[i] & 1 ? NIFTP_ERR_PERM : NIFTP_ERR_TEMP);
		CU_ASSERT_EQUAL(tl_memfs_stats(fs)->commits, 0);
		niftp_free(q);
		CU_ASSERT_EQUAL(tl_memfs_stats(fs)->open_files, 0);
		tl_memfs_free(fs);
	}
}

/* MR naming a mark beyond those sent, SS with a wrong mark: the call ends. */
static void test_bad_marks(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *n = st_setup(ST_P_ES_SENT, &l, fs);	/* no mark sent */

	CU_ASSERT_EQUAL(niftp_input(n, "\x00\x45\x01", 3), -1);
	CU_ASSERT(strstr(l.fail_reason, "MR(1) names a mark not sent") != NULL);
	niftp_free(n);
	tl_memfs_free(fs);
	fs = tl_memfs_new(NULL);
	n = st_setup(ST_P_ES_SENT, &l, fs);
	CU_ASSERT_EQUAL(niftp_input(n, "\x00\x44\x03", 3), -1);
	CU_ASSERT(strstr(l.fail_reason, "RR(3) names a mark not sent") != NULL);
	niftp_free(n);
	tl_memfs_free(fs);
	fs = tl_memfs_new(NULL);
	n = st_setup(ST_Q_WAIT_SS, &l, fs);
	CU_ASSERT_EQUAL(niftp_input(n, "\x00\x40\x01", 3), -1);
	CU_ASSERT(strstr(l.fail_reason, "SS(1) does not match") != NULL);
	niftp_free(n);
	CU_ASSERT_EQUAL(tl_memfs_stats(fs)->open_files, 0);
	tl_memfs_free(fs);
}

/* Lines (0x01): CRLF, empty lines, no final LF, all kept byte-exact. */
static void test_lines_crlf(void)
{
	static const char *const texts[] = {"a\r\nb\r\n", "\r\n\r\n", "x\r\n\r\ny", "\r",
		"line\r\n\n\r\nlast without LF", "\n\n\n\n\n\n\n\n"};
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

/* A fresh SFT reusing a committed transfer id stores a new file. */
static void test_reused_tid(void)
{
	struct pair h;
	struct niftp_req r;
	char	first[256];

	pair_init(&h);
	req_init(&r);
	r.filename = NULL;
	r.mail = 1;
	r.tid = 12;
	CU_ASSERT(put_check(&h, &r, (const unsigned char *) "one\n", 4, NULL));
	snprintf(first, sizeof(first), "%s", h.pl.name);
	CU_ASSERT(put_check(&h, &r, (const unsigned char *) "two\n", 4, NULL));
	CU_ASSERT_STRING_NOT_EQUAL(h.pl.name, first);
	CU_ASSERT_EQUAL(tl_memfs_stats(h.qfs)->commits, 2);
	CU_ASSERT_EQUAL(tl_memfs_count(h.qfs), 2);
	pair_release(&h);
}

/* Small cases: RNEG of many bad strings fits; RPOS window > 255 clipped;
 * a sending Q does not say ER after a RESET. */
static void test_review_small(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *n;
	struct niftp_attr a[40];
	char	big[251];
	unsigned char w[1 << 16], rec[8192];
	size_t	len, rl, i;
	int	mrs = 0, first_mr = 0;

	memset(big, 'x', 250);
	big[250] = 0;
	memset(&l, 0, sizeof(l));
	n = new_q(&l, fs, 0);
	niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE);
	for (i = 2; i < 32; i++)
		niftp_attr_str(&a[i], NIFTP_A_MAXRECORD, NIFTP_OP_EQ, big);	/* wrong format */
	feed_cmd(n, NIFTP_SFT, a, 32);
	len = take_out(n, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	CU_ASSERT_EQUAL(l.failed, 0);
	CU_ASSERT(rl > 2 && rec[0] == NIFTP_RNEG);
	niftp_free(n);

	/* P receiving, Q said window 0x0400: P acks within 255 marks. */
	n = st_setup(ST_P_IDLE, &l, fs);
	{
		struct niftp_req r;
		struct buf in = BUF_INIT(1 << 16);

		req_init(&r);
		r.mode = NIFTP_MODE_READ;
		r.filename = "there";
		CU_ASSERT_EQUAL_FATAL(niftp_start(n, &r), 0);
		take_out(n, w, sizeof(w));
		niftp_attr_int(&a[0], NIFTP_A_ACKWINDOW, NIFTP_OP_EQ, 0x0400);
		niftp_attr_int(&a[1], NIFTP_A_FACILITIES, NIFTP_OP_EQ, NIFTP_F_MARKACK);
		feed_cmd(n, NIFTP_RPOS, a, 2);
		take_out(n, w, sizeof(w));
		niftp_tcc_put(&in, NIFTP_SS, 0);
		for (i = 1; i <= 300; i++) {
			buf_append(&in, "\x01x", 2);
			niftp_tcc_put(&in, NIFTP_MS, (uint8_t) i);
		}
		CU_ASSERT_EQUAL(niftp_input(n, buf_data(&in), in.len), 0);
		len = take_out(n, w, sizeof(w));
		for (i = 0; i + 2 < len; i += 3)
			if (w[i] == 0 && w[i + 1] == NIFTP_MR && mrs++ == 0)
				first_mr = w[i + 2];
		CU_ASSERT(mrs >= 2);
		CU_ASSERT(first_mr > 0 && first_mr <= 255);
		buf_release(&in);
	}
	niftp_free(n);
	tl_memfs_free(fs);

	/* A sending Q waiting for STOP: a RESET makes it say nothing. */
	fs = tl_memfs_new(NULL);
	n = st_setup(ST_Q_ES_SENT, &l, fs);
	CU_ASSERT_EQUAL(niftp_input(n, "\x00\x47\x00", 3), 0);
	niftp_reset(n);
	CU_ASSERT_FALSE(niftp_want_output(n));
	niftp_free(n);
	tl_memfs_free(fs);
}

/* Lines (0x01) with a line longer than Q's maximum record size: ES(0x29). */
static void test_lines_too_long(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *p;
	struct niftp_attr a[2];
	struct niftp_req r;
	unsigned char w[4096];
	size_t	len, i;
	int	es29 = 0;

	memset(&l, 0, sizeof(l));
	tl_memfs_options(fs)->local = "src";
	tl_memfs_put(fs, "src", "short\naaaaaaaaaaaaaaaaaaaa\nend\n", 31);
	p = niftp_new(1, NULL, &hooks, &l, &tl_memfs_ops, fs);
	req_init(&r);
	r.filename = NULL;
	r.textfmt = NIFTP_TF_LINES;
	CU_ASSERT_EQUAL_FATAL(niftp_start(p, &r), 0);
	take_out(p, w, sizeof(w));
	niftp_attr_int(&a[0], NIFTP_A_MAXRECORD, NIFTP_OP_EQ, 16);
	niftp_attr_int(&a[1], NIFTP_A_TEXTFMT, NIFTP_OP_EQ, NIFTP_TF_LINES);
	feed_cmd(p, NIFTP_RPOS, a, 2);
	len = take_out(p, w, sizeof(w));
	for (i = 0; i + 2 < len; i++)
		if (w[i] == 0 && w[i + 1] == NIFTP_ES && w[i + 2] == 0x29)
			es29 = 1;
	CU_ASSERT(es29);
	CU_ASSERT(memmem(w, len, "short", 5) != NULL);
	CU_ASSERT(memmem(w, len, "end", 3) == NULL);
	niftp_input(p, "\x00\x47\x29", 3);
	feed_cmd(p, NIFTP_STOPACK, NULL, 0);
	CU_ASSERT_EQUAL(l.done, 1);
	CU_ASSERT_EQUAL(l.status, NIFTP_ERR_PERM);
	CU_ASSERT(strstr(l.reason, "longer than the agreed record size 16") != NULL);
	niftp_free(p);
	CU_ASSERT_EQUAL(tl_memfs_stats(fs)->open_files, 0);
	tl_memfs_free(fs);
}

/* --- pull mode (INDRA Note 1025 4.4): read-and-remove from a mail server --- */

static const unsigned char stopack_ok[] = {0x86, NIFTP_STOPACK, 0x01, NIFTP_A_STATE, 0x22,
	0x20, 0x00};

#define PULL_LOCAL	"inbox.0007"	/* what P's filestore names what it stores */
#define PULL_REMOTE	"letter.1"	/* the letter waiting at Q */
#define PULL_STORED	NIFTP_STORED_PREFIX PULL_LOCAL

/* pull_init - Q a mail service serving reads (mail_only, mail_reads) with a
 * remove hook (asynchronous when async), P its mail receiver */
static void pull_init(struct pair *h, int mail_reads, int async)
{
	pair_init(h);
	pair_free_engines(h);
	h->qcfg.mail_only = 1;
	h->qcfg.mail_reads = mail_reads;
	h->qops = &tl_memfs_rm_ops;
	tl_memfs_options(h->pfs)->local = PULL_LOCAL;
	tl_memfs_options(h->qfs)->async_remove = async;
	h->keep_wire = 1;
	pair_engines(h);
}

static void pull_req(struct niftp_req *r, uint16_t mode)
{
	req_init(r);
	r->mode = mode;
	r->filename = PULL_REMOTE;
	r->mail = 1;
	r->tid = 77;
}

/* find_cmd - the first command record cmd in b, which holds command
 * records and transfer-control commands only (no data phase); its
 * length in rec, 0 when there is none */
static size_t find_cmd(const struct buf *b, uint8_t cmd, unsigned char *rec, size_t cap)
{
	struct niftp_dec *d = xcalloc(1, sizeof(*d));
	struct niftp_dec_ev ev;
	const unsigned char *w = buf_data(b);
	size_t	used = 0, rl = 0;

	niftp_dec_init(d);
	while (used < b->len) {
		used += niftp_dec_next(d, w + used, b->len - used, NULL, 0, &ev);
		if (ev.type == NIFTP_DEC_CMD && ev.reclen > 0 && ev.rec[0] == cmd
		    && ev.reclen <= cap) {
			rl = ev.reclen;
			memcpy(rec, ev.rec, rl);
			break;
		}
		if (ev.type == NIFTP_DEC_ERROR)
			break;
	}
	free(d);
	return rl;
}

/* cmd_has - b's command record cmd is there and holds the octets s
 * (s NULL: only that it is there) */
static int cmd_has(const struct buf *b, uint8_t cmd, const char *s)
{
	unsigned char rec[NIFTP_MAX_CMD_RECORD];
	size_t	rl = find_cmd(b, cmd, rec, sizeof(rec));

	return rl > 0 && (s == NULL || memmem(rec, rl, s, strlen(s)) != NULL);
}

/* wire_ends_stopack_ok - the last thing in b is STOPACK(0x2000) */
static int wire_ends_stopack_ok(const struct buf *b)
{
	return b->len >= sizeof(stopack_ok) && memcmp(buf_data(b) + b->len - sizeof(stopack_ok),
		stopack_ok, sizeof(stopack_ok)) == 0;
}

/* file_is - the committed file name in m holds exactly data */
static int file_is(struct tl_memfs *m, const char *name, const unsigned char *data, size_t len)
{
	size_t	glen = 0;
	const unsigned char *got = tl_memfs_get(m, name, &glen);

	return got != NULL && tl_same_bytes(name, got, glen, data, len);
}

/* (a) Read-and-remove over mail_only + mail_reads: STOPACK waits for the
 * removal, which happens once; P's STOP names what P stored. Synchronous
 * (remove answers before returning) and asynchronous removal. */
static void test_pull_remove(void)
{
	int	async;

	for (async = 0; async <= 1; async++) {
		struct pair h;
		struct niftp_req r;
		unsigned char *d = fill(200000, 0, 51);
		const struct tl_memfs_stats *qs, *ps;

		pull_init(&h, 1, async);
		qs = tl_memfs_stats(h.qfs);
		ps = tl_memfs_stats(h.pfs);
		tl_memfs_put(h.qfs, PULL_REMOTE, d, 200000);
		pull_req(&r, NIFTP_MODE_READ_REMOVE);
		CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
		pump(&h);
		/* P named the file in its SFT (mail profile, read) and Q took it */
		EXPECT_STR(h.ql.sft_file, PULL_REMOTE);
		EXPECT_INT(h.ql.pos, 1);
		EXPECT_INT(qs->remove_calls, 1);
		EXPECT_STR(qs->remove_name, PULL_REMOTE);
		EXPECT_STR(qs->remove_info, PULL_STORED);
		EXPECT_TRUE(cmd_has(&h.plast, NIFTP_STOP, PULL_STORED));
		if (async) {
			size_t	qlen = h.qwire.len;

			/* P holds the file, Q has not removed it: no STOPACK yet */
			EXPECT_INT(tl_memfs_pending_removes(h.qfs), 1);
			EXPECT_INT(qs->removed, 0);
			EXPECT_TRUE(file_is(h.qfs, PULL_REMOTE, d, 200000));
			EXPECT_INT(ps->commits, 1);
			EXPECT_TRUE(file_is(h.pfs, PULL_LOCAL, d, 200000));
			EXPECT_INT(h.pl.done, 0);
			EXPECT_INT(h.ql.done, 0);
			EXPECT_INT(niftp_want_output(h.q), 0);
			EXPECT_INT(move(&h, 0), 0);
			EXPECT_TRUE(!wire_ends_stopack_ok(&h.qwire));
			EXPECT_TRUE(!niftp_idle(h.q));
			EXPECT_TRUE(!niftp_idle(h.p));
			EXPECT_INT(niftp_start(h.p, &r), -1);	/* P is still busy */
			EXPECT_INT(qs->open_files, 1);
			/* the removal: then exactly the STOPACK goes out */
			EXPECT_INT(tl_memfs_run_removes(h.qfs), 1);
			EXPECT_INT(h.ql.done, 1);
			pump(&h);
			EXPECT_INT(h.qwire.len, qlen + sizeof(stopack_ok));
		}
		EXPECT_TRUE(wire_ends_stopack_ok(&h.qwire));
		EXPECT_INT(h.pl.done, 1);
		EXPECT_INT(h.pl.status, NIFTP_OK);
		EXPECT_INT(h.pl.state, NIFTP_ST_OK);
		EXPECT_STR(h.pl.reason, "");
		EXPECT_INT(h.pl.done_offset, 200000);
		EXPECT_INT(h.ql.done, 1);
		EXPECT_INT(h.ql.status, NIFTP_OK);
		EXPECT_INT(h.ql.state, NIFTP_ST_OK);
		/* data intact at P, the letter gone from Q, removed exactly once */
		EXPECT_TRUE(file_is(h.pfs, PULL_LOCAL, d, 200000));
		EXPECT_TRUE(tl_memfs_get(h.qfs, PULL_REMOTE, &(size_t) {0}) == NULL);
		EXPECT_INT(tl_memfs_count(h.qfs), 0);
		EXPECT_INT(qs->remove_calls, 1);
		EXPECT_INT(qs->removed, 1);
		EXPECT_INT(qs->removes_failed, 0);
		EXPECT_INT(qs->finishes_ok, 1);
		EXPECT_INT(qs->finish_after_remove, 1);
		EXPECT_INT(qs->finishes_fail, 0);
		EXPECT_INT(qs->open_files, 0);
		EXPECT_INT(ps->open_files, 0);
		EXPECT_INT(tl_memfs_pending_removes(h.qfs), 0);
		EXPECT_TRUE(niftp_idle(h.p));
		EXPECT_TRUE(niftp_idle(h.q));
		/* a late or repeated answer changes nothing */
		niftp_remove_done(h.q, 1, NULL);
		niftp_remove_done(h.q, 0, "late");
		EXPECT_INT(niftp_want_output(h.q), 0);
		EXPECT_INT(h.ql.done, 1);
		EXPECT_INT(h.ql.status, NIFTP_OK);
		EXPECT_TRUE(niftp_idle(h.q));
		free(d);
		pair_release(&h);
	}
}

/* (b) The removal fails: STOPACK 0x3011 with the reason, P's status
 * temporary, the letter still at Q (and P may come again for it). */
static void test_pull_remove_fails(void)
{
	int	async;

	for (async = 0; async <= 1; async++) {
		struct pair h;
		struct niftp_req r;
		unsigned char *d = fill(30000, 0, 52);
		const struct tl_memfs_stats *qs;

		pull_init(&h, 1, async);
		qs = tl_memfs_stats(h.qfs);
		tl_memfs_options(h.qfs)->remove_fail = 1;
		tl_memfs_options(h.qfs)->remove_reason = "letter locked by the mailer";
		tl_memfs_put(h.qfs, PULL_REMOTE, d, 30000);
		pull_req(&r, NIFTP_MODE_READ_REMOVE);
		CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
		pump(&h);
		if (async) {
			EXPECT_INT(h.pl.done, 0);
			EXPECT_INT(niftp_want_output(h.q), 0);
			EXPECT_INT(tl_memfs_run_removes(h.qfs), 1);
			pump(&h);
		}
		EXPECT_INT(qs->remove_calls, 1);
		EXPECT_INT(qs->removes_failed, 1);
		EXPECT_INT(h.pl.done, 1);
		EXPECT_INT(h.pl.status, NIFTP_ERR_TEMP);
		EXPECT_INT(h.pl.state, NIFTP_ST_ABORT_RETRY);
		EXPECT_HAS(h.pl.reason, "letter locked by the mailer");
		EXPECT_HAS(h.pl.reason, "not removed");
		EXPECT_INT(h.ql.done, 1);
		EXPECT_INT(h.ql.status, NIFTP_ERR_TEMP);
		EXPECT_INT(h.ql.state, NIFTP_ST_ABORT_RETRY);
		EXPECT_HAS(h.ql.reason, "letter locked by the mailer");
		EXPECT_TRUE(cmd_has(&h.qlast, NIFTP_STOPACK, "\x0f\x22\x30\x11"));
		EXPECT_TRUE(cmd_has(&h.qlast, NIFTP_STOPACK, "letter locked by the mailer"));
		EXPECT_TRUE(!wire_ends_stopack_ok(&h.qwire));
		/* the letter is still there, whole; Q gave the handle back unremoved */
		EXPECT_TRUE(file_is(h.qfs, PULL_REMOTE, d, 30000));
		EXPECT_INT(qs->removed, 0);
		EXPECT_INT(qs->finishes_ok, 0);
		EXPECT_INT(qs->finishes_fail, 1);
		EXPECT_INT(qs->open_files, 0);
		/* P received it (it has it, but was told to come again) */
		EXPECT_TRUE(file_is(h.pfs, PULL_LOCAL, d, 30000));
		EXPECT_INT(tl_memfs_stats(h.pfs)->open_files, 0);
		EXPECT_TRUE(niftp_idle(h.p));
		EXPECT_TRUE(niftp_idle(h.q));
		/* P comes again on the same call; now the removal works */
		tl_memfs_options(h.qfs)->remove_fail = 0;
		h.pl.done = h.ql.done = 0;
		CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
		pump(&h);
		if (async) {
			EXPECT_INT(tl_memfs_run_removes(h.qfs), 1);
			pump(&h);
		}
		EXPECT_INT(h.pl.done, 1);
		EXPECT_INT(h.pl.status, NIFTP_OK);
		EXPECT_INT(h.ql.status, NIFTP_OK);
		EXPECT_INT(qs->remove_calls, 2);
		EXPECT_INT(qs->removed, 1);
		EXPECT_INT(tl_memfs_count(h.qfs), 0);
		EXPECT_TRUE(file_is(h.pfs, PULL_LOCAL, d, 30000));
		EXPECT_INT(qs->open_files, 0);
		free(d);
		pair_release(&h);
	}
}

/* pull_to_removing - run a read-and-remove until Q waits for the removal */
static void pull_to_removing(struct pair *h, const unsigned char *d, size_t len)
{
	struct niftp_req r;

	pull_init(h, 1, 1);
	tl_memfs_put(h->qfs, PULL_REMOTE, d, len);
	pull_req(&r, NIFTP_MODE_READ_REMOVE);
	CU_ASSERT_EQUAL_FATAL(niftp_start(h->p, &r), 0);
	pump(h);
	EXPECT_INT(tl_memfs_pending_removes(h->qfs), 1);
	EXPECT_INT(tl_memfs_stats(h->qfs)->remove_calls, 1);
	EXPECT_INT(h->ql.done, 0);
	EXPECT_INT(h->pl.done, 0);
	EXPECT_INT(tl_memfs_stats(h->qfs)->open_files, 1);
}

/* after_abandon - Q gave the handle back with finish(fh, 0) while the
 * removal was pending: nothing removed, the letter whole, nothing to run */
static void after_abandon(struct pair *h, const unsigned char *d, size_t len)
{
	const struct tl_memfs_stats *qs = tl_memfs_stats(h->qfs);

	EXPECT_INT(qs->finishes_fail, 1);
	EXPECT_INT(qs->finishes_ok, 0);
	EXPECT_INT(qs->removes_dropped, 1);
	EXPECT_INT(qs->open_files, 0);
	EXPECT_INT(tl_memfs_pending_removes(h->qfs), 0);
	EXPECT_INT(tl_memfs_run_removes(h->qfs), 0);
	EXPECT_INT(qs->removed, 0);
	EXPECT_TRUE(file_is(h->qfs, PULL_REMOTE, d, len));
	EXPECT_TRUE(!wire_ends_stopack_ok(&h->qwire));
}

/* (c) The call goes while Q waits for the removal: finish(fh, 0), and a
 * late niftp_remove_done() does nothing. Lost call, engine freed, RESET,
 * and a P that talks out of turn. */
static void test_pull_lost_removing(void)
{
	unsigned char *d = fill(20000, 0, 53);
	struct pair h;
	struct niftp_attr a[1];
	struct buf out = BUF_INIT(4096);

	/* the call is lost */
	pull_to_removing(&h, d, 20000);
	niftp_lost(h.q, "test: call cut");
	niftp_lost(h.p, "test: call cut");
	h.lost = 1;
	after_abandon(&h, d, 20000);
	EXPECT_INT(h.ql.done, 1);
	EXPECT_TRUE(h.ql.status != NIFTP_OK);
	EXPECT_HAS(h.ql.reason, "call lost in state removing");
	EXPECT_INT(h.pl.done, 1);
	EXPECT_TRUE(h.pl.status != NIFTP_OK);
	EXPECT_INT(niftp_docket(h.p)->data_done, 1);	/* P may resume with 0xFFFF */
	EXPECT_TRUE(file_is(h.pfs, PULL_LOCAL, d, 20000));
	niftp_remove_done(h.q, 1, NULL);		/* late: no effect */
	niftp_remove_done(h.q, 0, "late failure");
	EXPECT_INT(h.ql.done, 1);
	EXPECT_INT(niftp_want_output(h.q), 0);
	EXPECT_INT(niftp_output(h.q, &out, 4096), 0);
	EXPECT_INT(out.len, 0);
	EXPECT_INT(tl_memfs_stats(h.qfs)->finishes_fail, 1);
	EXPECT_INT(tl_memfs_stats(h.qfs)->finishes_ok, 0);
	EXPECT_INT(tl_memfs_stats(h.qfs)->removed, 0);
	pair_release(&h);

	/* the engine is freed (the program drops the call) */
	pull_to_removing(&h, d, 20000);
	niftp_free(h.q);
	h.q = NULL;
	after_abandon(&h, d, 20000);
	niftp_lost(h.p, "test: call cut");
	EXPECT_INT(h.pl.done, 1);
	EXPECT_TRUE(h.pl.status != NIFTP_OK);
	pair_release(&h);

	/* a transport RESET: the call cannot go on */
	pull_to_removing(&h, d, 20000);
	niftp_reset(h.q);
	EXPECT_INT(h.ql.failed, 1);
	after_abandon(&h, d, 20000);
	niftp_remove_done(h.q, 1, NULL);
	EXPECT_INT(niftp_want_output(h.q), 0);
	EXPECT_INT(tl_memfs_stats(h.qfs)->finishes_ok, 0);
	EXPECT_INT(tl_memfs_stats(h.qfs)->removed, 0);
	pair_release(&h);

	/* P sends another STOP while Q is removing: a protocol error */
	pull_to_removing(&h, d, 20000);
	niftp_attr_int(&a[0], NIFTP_A_STATE, NIFTP_OP_EQ, NIFTP_ST_OK);
	feed_cmd(h.q, NIFTP_STOP, a, 1);
	EXPECT_INT(h.ql.failed, 1);
	EXPECT_HAS(h.ql.fail_reason, "STOP received by Q in state removing");
	after_abandon(&h, d, 20000);
	niftp_remove_done(h.q, 1, NULL);
	EXPECT_INT(niftp_want_output(h.q), 0);
	EXPECT_INT(tl_memfs_stats(h.qfs)->finishes_ok, 0);
	pair_release(&h);

	buf_release(&out);
	free(d);
}

/* one_try - start r on a fresh pair made by pull_init and run it out */
static void one_try(struct pair *h, int mail_reads, const struct niftp_req *r)
{
	pull_init(h, mail_reads, 0);
	tl_memfs_put(h->qfs, PULL_REMOTE, "letter\n", 7);
	tl_memfs_put(h->pfs, PULL_LOCAL, "push\n", 5);
	CU_ASSERT_EQUAL_FATAL(niftp_start(h->p, r), 0);
	pump(h);
	EXPECT_INT(h->pl.done, 1);
	EXPECT_INT(h->ql.done, 1);
	EXPECT_INT(tl_memfs_stats(h->qfs)->open_files, 0);
	EXPECT_INT(tl_memfs_stats(h->pfs)->open_files, 0);
	EXPECT_TRUE(niftp_idle(h->p));
	EXPECT_TRUE(niftp_idle(h->q));
}

/* (d) The mail service's policy: without mail_reads reads and names are
 * refused as before; with it a write still may not name its file. */
static void test_pull_mail_policy(void)
{
	static const uint16_t reads[] = {NIFTP_MODE_READ_REMOVE, NIFTP_MODE_READ};
	struct pair h;
	struct niftp_req r;
	size_t	i;

	/* mail_only without mail_reads: both read modes get RNEG 0x1002 */
	for (i = 0; i < NELEM(reads); i++) {
		pull_req(&r, reads[i]);
		one_try(&h, 0, &r);
		EXPECT_INT(h.pl.status, NIFTP_ERR_PERM);
		EXPECT_INT(h.pl.state, NIFTP_ST_REJ_ATTR);
		EXPECT_HAS(h.pl.reason, "not offered by the mail service");
		EXPECT_INT(h.ql.state, NIFTP_ST_REJ_ATTR);
		EXPECT_TRUE(h.qwire.len > 0 && buf_data(&h.qwire)[1] == NIFTP_RNEG);
		EXPECT_INT(h.ql.pos, 0);
		EXPECT_INT(tl_memfs_stats(h.qfs)->remove_calls, 0);
		EXPECT_TRUE(file_is(h.qfs, PULL_REMOTE, (const unsigned char *) "letter\n", 7));
		pair_release(&h);
	}
	/* a write naming its file: refused with and without mail_reads */
	for (i = 0; i <= 1; i++) {
		req_init(&r);
		r.filename = "named";
		one_try(&h, (int) i, &r);
		EXPECT_INT(h.pl.status, NIFTP_ERR_PERM);
		EXPECT_INT(h.pl.state, NIFTP_ST_REJ_ATTR);
		EXPECT_HAS(h.pl.reason, "Filename given when not expected");
		EXPECT_STR(h.ql.sft_file, "named");
		EXPECT_INT(h.ql.pos, 0);
		EXPECT_TRUE(tl_memfs_get(h.qfs, "named", &(size_t) {0}) == NULL);
		EXPECT_INT(tl_memfs_count(h.qfs), 1);
		pair_release(&h);
	}
	/* with mail_reads: REPLACE is still not a mail mode */
	req_init(&r);
	r.mode = NIFTP_MODE_REPLACE;
	r.filename = NULL;
	r.mail = 1;
	one_try(&h, 1, &r);
	EXPECT_INT(h.pl.status, NIFTP_ERR_PERM);
	EXPECT_HAS(h.pl.reason, "not offered by the mail service");
	EXPECT_INT(tl_memfs_count(h.qfs), 1);
	pair_release(&h);
	/* with mail_reads: a read must name the file */
	pull_req(&r, NIFTP_MODE_READ_REMOVE);
	r.filename = NULL;
	one_try(&h, 1, &r);
	EXPECT_INT(h.pl.status, NIFTP_ERR_PERM);
	EXPECT_HAS(h.pl.reason, "no filename given for a read");
	EXPECT_INT(tl_memfs_stats(h.qfs)->remove_calls, 0);
	EXPECT_INT(tl_memfs_count(h.qfs), 1);
	pair_release(&h);
	/* with mail_reads: a plain mail push still works, and a sending P
	 * does not claim to have stored anything */
	req_init(&r);
	r.filename = NULL;
	r.mail = 1;
	one_try(&h, 1, &r);
	EXPECT_INT(h.pl.status, NIFTP_OK);
	EXPECT_STR(h.ql.sft_file, "");
	EXPECT_TRUE(file_is(h.qfs, h.pl.name, (const unsigned char *) "push\n", 5));
	EXPECT_INT(tl_memfs_count(h.qfs), 2);
	EXPECT_TRUE(cmd_has(&h.plast, NIFTP_STOP, NULL));
	EXPECT_TRUE(!cmd_has(&h.plast, NIFTP_STOP, NIFTP_STORED_PREFIX));
	EXPECT_INT(tl_memfs_stats(h.qfs)->remove_calls, 0);
	pair_release(&h);
}

/* (e) A read-and-remove whose call went before STOPACK, resumed on a new
 * call with restart mark 0xFFFF (mode 0x8101): no data, but the STOP
 * names P's file, the removal is asked for and STOPACK waits for it. */
static void test_pull_resume_committed(void)
{
	struct pair h;
	struct niftp_req r;
	struct niftp_docket dk;
	unsigned char *d = fill(150000, 0, 54);
	unsigned char rec[4096];
	size_t	rl;
	const struct tl_memfs_stats *qs;
	static const unsigned char mode_attr[] = {NIFTP_A_MODE, 0x22, 0x81, 0x01};
	static const unsigned char eof_attr[] = {NIFTP_A_RESTARTMARK, 0x22, 0xff, 0xff};

	pull_to_removing(&h, d, 150000);
	qs = tl_memfs_stats(h.qfs);
	niftp_lost(h.q, "test: call cut");
	niftp_lost(h.p, "test: call cut");
	EXPECT_INT(h.pl.done, 1);
	EXPECT_INT(qs->removed, 0);
	EXPECT_INT(tl_memfs_stats(h.pfs)->commits, 1);
	dk = *niftp_docket(h.p);
	EXPECT_INT(dk.tid, 77);
	EXPECT_INT(dk.mode, NIFTP_MODE_READ_REMOVE);
	EXPECT_INT(dk.data_done, 1);
	/* a new call */
	pair_free_engines(&h);
	pair_engines(&h);
	buf_reset(&h.pwire);
	buf_reset(&h.qwire);
	memset(&h.pl, 0, sizeof(h.pl));
	memset(&h.ql, 0, sizeof(h.ql));
	pull_req(&r, NIFTP_MODE_READ_REMOVE);
	niftp_resume_req(&r, &dk);
	EXPECT_INT(r.mode, NIFTP_MODE_READ_REMOVE);
	EXPECT_INT(r.resume, 1);
	EXPECT_INT(r.restart_mark, NIFTP_MARK_EOF);
	CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
	pump(&h);
	/* the SFT asked for 0x8101 from 0xFFFF; Q granted 0xFFFF */
	rl = decode_cmd(buf_data(&h.pwire), h.pwire.len, rec);
	EXPECT_TRUE(rl > 0 && rec[0] == NIFTP_SFT);
	EXPECT_TRUE(memmem(rec, rl, mode_attr, sizeof(mode_attr)) != NULL);
	EXPECT_TRUE(memmem(rec, rl, eof_attr, sizeof(eof_attr)) != NULL);
	rl = decode_cmd(buf_data(&h.qwire), h.qwire.len, rec);
	EXPECT_TRUE(rl > 0 && rec[0] == NIFTP_RPOS);
	EXPECT_TRUE(memmem(rec, rl, eof_attr, sizeof(eof_attr)) != NULL);
	/* STOP came (naming P's file), the removal is asked for, no STOPACK */
	EXPECT_INT(qs->remove_calls, 2);
	EXPECT_STR(qs->remove_info, PULL_STORED);
	EXPECT_STR(qs->remove_name, PULL_REMOTE);
	EXPECT_INT(tl_memfs_pending_removes(h.qfs), 1);
	EXPECT_INT(h.pl.done, 0);
	EXPECT_INT(niftp_want_output(h.q), 0);
	EXPECT_TRUE(!wire_ends_stopack_ok(&h.qwire));
	EXPECT_INT(tl_memfs_run_removes(h.qfs), 1);
	pump(&h);
	EXPECT_TRUE(wire_ends_stopack_ok(&h.qwire));
	EXPECT_INT(h.pl.done, 1);
	EXPECT_INT(h.pl.status, NIFTP_OK);
	EXPECT_INT(h.pl.state, NIFTP_ST_OK);
	EXPECT_INT(h.ql.done, 1);
	EXPECT_INT(h.ql.status, NIFTP_OK);
	/* no data moved: Q said RPOS and STOPACK only */
	EXPECT_TRUE(h.qp < 200);
	EXPECT_INT(h.pl.progress, 0);
	EXPECT_INT(h.pl.done_offset, 0);
	EXPECT_INT(tl_memfs_stats(h.pfs)->commits, 1);
	EXPECT_TRUE(file_is(h.pfs, PULL_LOCAL, d, 150000));
	/* the letter is gone, removed once */
	EXPECT_TRUE(tl_memfs_get(h.qfs, PULL_REMOTE, &(size_t) {0}) == NULL);
	EXPECT_INT(qs->removed, 1);
	EXPECT_INT(qs->finishes_ok, 1);
	EXPECT_INT(qs->finish_after_remove, 1);
	EXPECT_INT(qs->finishes_fail, 1);		/* the first call's */
	EXPECT_INT(qs->open_files, 0);
	EXPECT_INT(tl_memfs_stats(h.pfs)->open_files, 0);
	EXPECT_TRUE(niftp_idle(h.p));
	EXPECT_TRUE(niftp_idle(h.q));
	free(d);
	pair_release(&h);
}

/* (f) Reads that must not reach fs->remove: a plain read (mail service or
 * file server); and read-and-remove from a filestore without the hook or
 * a caller outside the mail profile. */
static void test_pull_plain_read(void)
{
	unsigned char *d = fill(100000, 0, 55);
	struct pair h;
	struct niftp_req r;
	const struct tl_memfs_stats *qs;
	int	mail;

	/* plain read (0x8002), from the mail service and from a file server */
	for (mail = 1; mail >= 0; mail--) {
		pull_init(&h, 1, 0);
		if (!mail) {
			pair_free_engines(&h);
			h.qcfg.mail_only = h.qcfg.mail_reads = 0;
			pair_engines(&h);
		}
		qs = tl_memfs_stats(h.qfs);
		tl_memfs_put(h.qfs, PULL_REMOTE, d, 100000);
		pull_req(&r, NIFTP_MODE_READ);
		r.mail = mail;
		CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
		pump(&h);
		EXPECT_INT(h.pl.done, 1);
		EXPECT_INT(h.pl.status, NIFTP_OK);
		EXPECT_INT(h.ql.status, NIFTP_OK);
		EXPECT_TRUE(file_is(h.pfs, PULL_LOCAL, d, 100000));
		EXPECT_TRUE(file_is(h.qfs, PULL_REMOTE, d, 100000));
		EXPECT_INT(qs->remove_calls, 0);
		EXPECT_INT(qs->removed, 0);
		EXPECT_INT(qs->finishes_ok, 1);
		EXPECT_INT(qs->open_files, 0);
		EXPECT_TRUE(wire_ends_stopack_ok(&h.qwire));
		/* only a read that removes names what it stored (a list
		 * read stores nothing the relay would want to know) */
		EXPECT_TRUE(cmd_has(&h.plast, NIFTP_STOP, NULL));
		EXPECT_INT(cmd_has(&h.plast, NIFTP_STOP, PULL_STORED), 0);
		pair_release(&h);
	}
	/* read-and-remove, Q's filestore without fs->remove: the old way,
	 * finish(fh, 1) removes the file after STOPACK */
	pull_init(&h, 1, 0);
	pair_free_engines(&h);
	h.qops = &tl_memfs_ops;
	pair_engines(&h);
	qs = tl_memfs_stats(h.qfs);
	tl_memfs_put(h.qfs, PULL_REMOTE, d, 100000);
	pull_req(&r, NIFTP_MODE_READ_REMOVE);
	CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
	pump(&h);
	EXPECT_INT(h.pl.status, NIFTP_OK);
	EXPECT_TRUE(file_is(h.pfs, PULL_LOCAL, d, 100000));
	EXPECT_INT(qs->remove_calls, 0);
	EXPECT_INT(qs->removed, 1);
	EXPECT_INT(qs->finish_after_remove, 0);
	EXPECT_INT(tl_memfs_count(h.qfs), 0);
	pair_release(&h);
	/* read-and-remove by a caller outside the mail profile from a file
	 * server: fs->remove is asked, with no stored name */
	pull_init(&h, 0, 0);
	pair_free_engines(&h);
	h.qcfg.mail_only = 0;
	pair_engines(&h);
	qs = tl_memfs_stats(h.qfs);
	tl_memfs_put(h.qfs, PULL_REMOTE, d, 100000);
	pull_req(&r, NIFTP_MODE_READ_REMOVE);
	r.mail = 0;
	CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
	pump(&h);
	EXPECT_INT(h.pl.status, NIFTP_OK);
	EXPECT_INT(qs->remove_calls, 1);
	EXPECT_STR(qs->remove_info, "");
	EXPECT_INT(qs->removed, 1);
	EXPECT_TRUE(cmd_has(&h.plast, NIFTP_STOP, NULL));
	EXPECT_TRUE(!cmd_has(&h.plast, NIFTP_STOP, NIFTP_STORED_PREFIX));
	EXPECT_INT(tl_memfs_count(h.qfs), 0);
	pair_release(&h);
	free(d);
}

/* A foreign P, by hand: a committed resumption of read-and-remove (0x8101
 * from 0xFFFF) whose STOP carries two messages. fs->remove gets them
 * '\n'-separated, as its contract says, so "niftpmail-stored NAME" is a
 * line of its own; the STOPACK waits for the removal; no data moves. */
static void test_pull_foreign_stop(void)
{
	int	async;

	for (async = 0; async <= 1; async++) {
		struct evlog l;
		struct tl_memfs *fs = tl_memfs_new(NULL);
		struct niftp_config cfg;
		struct niftp *q;
		struct niftp_attr a[8];
		unsigned char w[4096], rec[4096];
		size_t	len, rl;
		static const unsigned char eof_attr[] = {NIFTP_A_RESTARTMARK, 0x22, 0xff, 0xff};

		memset(&l, 0, sizeof(l));
		memset(&cfg, 0, sizeof(cfg));
		cfg.mail_only = cfg.mail_reads = cfg.resumption = 1;
		cfg.caller = "c";
		tl_memfs_options(fs)->async_remove = async;
		q = niftp_new(0, &cfg, &hooks, &l, &tl_memfs_rm_ops, fs);
		tl_memfs_put(fs, "letter.9", "hi\n", 3);
		niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
		niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ,
			NIFTP_MODE_READ_REMOVE | NIFTP_MODE_RESUME);
		niftp_attr_int(&a[2], NIFTP_A_TID, NIFTP_OP_EQ, 3);
		niftp_attr_int(&a[3], NIFTP_A_RESTARTMARK, NIFTP_OP_EQ, NIFTP_MARK_EOF);
		niftp_attr_int(&a[4], NIFTP_A_FACILITIES, NIFTP_OP_LE, 0x000E);
		niftp_attr_str(&a[5], NIFTP_A_FILENAME, NIFTP_OP_EQ, "letter.9");
		niftp_attr_str(&a[6], NIFTP_A_INFOMSG, NIFTP_OP_EQ, "UNIX-NIFTP $Revision: 5.6$");
		feed_cmd(q, NIFTP_SFT, a, 7);
		len = take_out(q, w, sizeof(w));
		rl = decode_cmd(w, len, rec);
		EXPECT_TRUE(rl > 0 && rec[0] == NIFTP_RPOS);
		EXPECT_TRUE(memmem(rec, rl, eof_attr, sizeof(eof_attr)) != NULL);
		EXPECT_INT(l.pos, 1);
		niftp_attr_int(&a[0], NIFTP_A_STATE, NIFTP_OP_EQ, NIFTP_ST_OK);
		niftp_attr_str(&a[1], NIFTP_A_INFOMSG, NIFTP_OP_EQ, NIFTP_STORED_PREFIX "box.1");
		niftp_attr_str(&a[2], NIFTP_A_ACTIONMSG, NIFTP_OP_EQ, "UNIX-NIFTP $Revision: 5.6$");
		feed_cmd(q, NIFTP_STOP, a, 3);
		EXPECT_INT(tl_memfs_stats(fs)->remove_calls, 1);
		EXPECT_STR(tl_memfs_stats(fs)->remove_info,
			NIFTP_STORED_PREFIX "box.1\nUNIX-NIFTP $Revision: 5.6$");
		if (async) {
			EXPECT_INT(take_out(q, w, sizeof(w)), 0);
			EXPECT_INT(l.done, 0);
			EXPECT_INT(tl_memfs_run_removes(fs), 1);
		}
		len = take_out(q, w, sizeof(w));
		EXPECT_TRUE(len == sizeof(stopack_ok) && memcmp(w, stopack_ok, len) == 0);
		EXPECT_INT(l.done, 1);
		EXPECT_INT(l.status, NIFTP_OK);
		EXPECT_INT(tl_memfs_stats(fs)->removed, 1);
		EXPECT_INT(tl_memfs_count(fs), 0);
		EXPECT_INT(tl_memfs_stats(fs)->open_files, 0);
		EXPECT_TRUE(niftp_idle(q));
		niftp_free(q);
		tl_memfs_free(fs);
	}
}

/* P's stored name on its STOP goes in one information message (at most
 * NIFTP_MAX_NAME octets) or not at all: a longer name, split in two, would
 * reach the sender cut. The transfer and the removal go on either way. */
static void test_pull_stored_long(void)
{
	static const size_t lens[] = {NIFTP_STORED_NAME_MAX, NIFTP_STORED_NAME_MAX + 1, 255};
	size_t	i;

	EXPECT_INT(NIFTP_STORED_NAME_MAX, 238);
	for (i = 0; i < NELEM(lens); i++) {
		struct pair h;
		struct niftp_req r;
		char	name[256], want[sizeof(NIFTP_STORED_PREFIX) + 256];
		int	sent = lens[i] <= NIFTP_STORED_NAME_MAX;

		memset(name, 'n', lens[i]);
		name[lens[i]] = 0;
		snprintf(want, sizeof(want), "%s%s", NIFTP_STORED_PREFIX, name);
		pull_init(&h, 1, 0);
		pair_free_engines(&h);
		tl_memfs_options(h.pfs)->local = name;
		pair_engines(&h);
		tl_memfs_put(h.qfs, PULL_REMOTE, "x\n", 2);
		pull_req(&r, NIFTP_MODE_READ_REMOVE);
		CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
		pump(&h);
		EXPECT_INT(h.pl.status, NIFTP_OK);
		EXPECT_TRUE(file_is(h.pfs, name, (const unsigned char *) "x\n", 2));
		EXPECT_INT(tl_memfs_stats(h.qfs)->remove_calls, 1);
		EXPECT_INT(tl_memfs_stats(h.qfs)->removed, 1);
		EXPECT_STR(tl_memfs_stats(h.qfs)->remove_info, sent ? want : "");
		EXPECT_INT(cmd_has(&h.plast, NIFTP_STOP, NIFTP_STORED_PREFIX), sent);
		if (sent)
			EXPECT_INT(strlen(want), NIFTP_MAX_NAME);
		pair_release(&h);
	}
}

/* rr_server - Q of the mail service serving reads, holding "letter.9"
 * ("hi\n") in fs, after an SFT for it in read-and-remove and its RPOS */
static struct niftp *rr_server(struct evlog *l, struct tl_memfs *fs)
{
	struct niftp_config cfg;
	struct niftp *q;
	struct niftp_attr a[3];
	unsigned char w[4096], rec[4096];
	size_t	len, rl;

	memset(l, 0, sizeof(*l));
	memset(&cfg, 0, sizeof(cfg));
	cfg.mail_only = cfg.mail_reads = 1;
	cfg.caller = "c";
	q = niftp_new(0, &cfg, &hooks, l, &tl_memfs_rm_ops, fs);
	tl_memfs_put(fs, "letter.9", "hi\n", 3);
	niftp_attr_int(&a[0], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[1], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_READ_REMOVE);
	niftp_attr_str(&a[2], NIFTP_A_FILENAME, NIFTP_OP_EQ, "letter.9");
	feed_cmd(q, NIFTP_SFT, a, 3);
	len = take_out(q, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	EXPECT_TRUE(rl > 0 && rec[0] == NIFTP_RPOS);
	return q;
}

/* A read-and-remove whose data all went, but P's STOP says 0x2001 ("ended
 * with a problem") or has no state: fs->remove is not asked, and a
 * filestore with it keeps the file (its finish(fh, 1) does not remove). */
static void test_pull_stop_not_ok(void)
{
	int	k;

	for (k = 0; k < 2; k++) {
		struct evlog l;
		struct tl_memfs *fs = tl_memfs_new(NULL);
		struct niftp *q = rr_server(&l, fs);
		struct niftp_attr a[1];
		struct buf er = BUF_INIT(16);
		unsigned char w[4096], rec[4096];
		size_t	len, rl;

		feed_cmd(q, NIFTP_GO, NULL, 0);
		len = take_out(q, w, sizeof(w));		/* SS, the data, ES(0) */
		EXPECT_TRUE(len >= 3 && memcmp(w + len - 3, "\x00\x43\x00", 3) == 0);
		EXPECT_TRUE(memmem(w, len, "hi", 2) != NULL);
		niftp_tcc_put(&er, NIFTP_ER, 0);
		niftp_input(q, buf_data(&er), er.len);
		niftp_attr_int(&a[0], NIFTP_A_STATE, NIFTP_OP_EQ, NIFTP_ST_OK_PROBLEM);
		feed_cmd(q, NIFTP_STOP, a, k == 0 ? 1 : 0);
		len = take_out(q, w, sizeof(w));
		rl = decode_cmd(w, len, rec);
		EXPECT_TRUE(rl > 0 && rec[0] == NIFTP_STOPACK);
		EXPECT_INT(l.done, 1);
		EXPECT_INT(tl_memfs_stats(fs)->remove_calls, 0);
		EXPECT_INT(tl_memfs_stats(fs)->finishes_ok + tl_memfs_stats(fs)->finishes_fail, 1);
		EXPECT_INT(tl_memfs_stats(fs)->removed, 0);
		EXPECT_TRUE(file_is(fs, "letter.9", (const unsigned char *) "hi\n", 3));
		EXPECT_INT(tl_memfs_stats(fs)->open_files, 0);
		EXPECT_TRUE(niftp_idle(q));
		buf_release(&er);
		niftp_free(q);
		tl_memfs_free(fs);
	}
}

/* P ends a read-and-remove with STOP 0x2000 right after RPOS, without GO
 * (not a committed resumption): no data went, so P cannot hold the file;
 * fs->remove is not asked and the letter stays. */
static void test_pull_stop_before_go(void)
{
	struct evlog l;
	struct tl_memfs *fs = tl_memfs_new(NULL);
	struct niftp *q = rr_server(&l, fs);
	struct niftp_attr a[2];
	unsigned char w[4096], rec[4096];
	size_t	len, rl;

	niftp_attr_int(&a[0], NIFTP_A_STATE, NIFTP_OP_EQ, NIFTP_ST_OK);
	niftp_attr_str(&a[1], NIFTP_A_INFOMSG, NIFTP_OP_EQ, NIFTP_STORED_PREFIX "box.1");
	feed_cmd(q, NIFTP_STOP, a, 2);
	len = take_out(q, w, sizeof(w));
	rl = decode_cmd(w, len, rec);
	EXPECT_TRUE(rl > 0 && rec[0] == NIFTP_STOPACK);
	EXPECT_INT(l.done, 1);
	EXPECT_INT(tl_memfs_stats(fs)->remove_calls, 0);
	EXPECT_INT(tl_memfs_stats(fs)->removed, 0);
	EXPECT_TRUE(file_is(fs, "letter.9", (const unsigned char *) "hi\n", 3));
	EXPECT_INT(tl_memfs_stats(fs)->open_files, 0);
	EXPECT_TRUE(niftp_idle(q));
	niftp_free(q);
	tl_memfs_free(fs);
}

/* on_event_free - log, and free the engine on DONE (allowed by niftp.h) */
static void on_event_free(void *arg, struct niftp *n, const struct niftp_event *ev)
{
	on_event(arg, n, ev);
	if (ev->type == NIFTP_EV_DONE)
		niftp_free(n);
}

/* The program frees Q from the DONE that niftp_remove_done() raises, the
 * removal answered inside fs->remove (within niftp_input) or later from
 * the filestore (ASan: nothing touches the engine afterwards). */
static void test_pull_free_on_done(void)
{
	static const struct niftp_hooks free_hooks = {on_event_free, on_auth, on_docket};
	int	async;

	for (async = 0; async <= 1; async++) {
		struct pair h;
		struct niftp_req r;

		pull_init(&h, 1, async);
		niftp_free(h.q);
		h.q = niftp_new(0, &h.qcfg, &free_hooks, &h.ql, &tl_memfs_rm_ops, h.qfs);
		tl_memfs_put(h.qfs, PULL_REMOTE, "letter\n", 7);
		pull_req(&r, NIFTP_MODE_READ_REMOVE);
		CU_ASSERT_EQUAL_FATAL(niftp_start(h.p, &r), 0);
		/* until Q's STOP handling (Q may be freed with its DONE inside
		 * the P -> Q move: look before moving Q's output) */
		for (;;) {
			size_t	m = move(&h, 1);

			if (h.ql.done || tl_memfs_pending_removes(h.qfs) > 0)
				break;
			if (m + move(&h, 0) == 0)
				break;
		}
		if (async) {
			EXPECT_INT(h.ql.done, 0);
			EXPECT_INT(tl_memfs_run_removes(h.qfs), 1);
		}
		h.q = NULL;				/* freed by on_event_free */
		EXPECT_INT(h.ql.done, 1);
		EXPECT_INT(h.ql.status, NIFTP_OK);
		EXPECT_INT(tl_memfs_stats(h.qfs)->removed, 1);
		EXPECT_INT(tl_memfs_stats(h.qfs)->finishes_ok, 1);
		EXPECT_INT(tl_memfs_stats(h.qfs)->open_files, 0);
		EXPECT_INT(tl_memfs_count(h.qfs), 0);
		niftp_lost(h.p, "test: Q gone");
		EXPECT_INT(h.pl.done, 1);
		pair_release(&h);
	}
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "niftp_engine", "put basic", test_put_basic },
		{ "niftp_engine", "put modes", test_put_modes },
		{ "niftp_engine", "get modes", test_get_modes },
		{ "niftp_engine", "formats, compression, sizes", test_combos },
		{ "niftp_engine", "lines edge cases", test_lines_edge },
		{ "niftp_engine", "many transfers on one call", test_many_transfers },
		{ "niftp_engine", "reset: restart from last mark", test_reset_restart },
		{ "niftp_engine", "reset during a get", test_reset_get },
		{ "niftp_engine", "reset: give up after 10", test_reset_give_up },
		{ "niftp_engine", "resume mid-data on a new call", test_resume_mid },
		{ "niftp_engine", "resume after ES: 0xFFFF", test_resume_eof },
		{ "niftp_engine", "resume without docket", test_resume_nodocket },
		{ "niftp_engine", "RNEG bad protocol id", test_rneg_protocol },
		{ "niftp_engine", "RNEG filename on mail", test_rneg_mail_filename },
		{ "niftp_engine", "unknown attribute", test_unknown_attr },
		{ "niftp_engine", "bad input table", test_bad_input },
		{ "niftp_engine", "over-long command record", test_long_record },
		{ "niftp_engine", "oversized transfers", test_oversize },
		{ "niftp_engine", "asynchronous commit", test_async_commit },
		{ "niftp_engine", "commit failure", test_commit_fail },
		{ "niftp_engine", "write and read failures", test_write_fail },
		{ "niftp_engine", "auth hook", test_auth },
		{ "niftp_engine", "asynchronous open", test_async_open },
		{ "niftp_engine", "info and copy id", test_info_copy_id },
		{ "niftp_engine", "committed resumption with GO", test_committed_go },
		{ "niftp_engine", "mark acknowledgement window", test_window },
		{ "niftp_engine", "small output chunks", test_small_chunks },
		{ "niftp_engine", "maximum record size", test_maxrec },
		{ "niftp_engine", "mark interval", test_mark_interval },
		{ "niftp_engine", "review: reset loses an MR", test_reset_lost_mr },
		{ "niftp_engine", "review: 0xFFFF asked, not committed", test_resume_eof_uncommitted },
		{ "niftp_engine", "review: deflate bomb", test_deflate_bomb },
		{ "niftp_engine", "review: every command in every state", test_state_table },
		{ "niftp_engine", "review: get resumed on a new call", test_resume_get },
		{ "niftp_engine", "review: QR at many points", test_qr_points },
		{ "niftp_engine", "review: ES error codes", test_es_codes },
		{ "niftp_engine", "review: bad marks", test_bad_marks },
		{ "niftp_engine", "review: lines with CRLF", test_lines_crlf },
		{ "niftp_engine", "review: fresh SFT reusing a tid", test_reused_tid },
		{ "niftp_engine", "review: small cases", test_review_small },
		{ "niftp_engine", "review: line longer than the record size", test_lines_too_long },
		{ "niftp_engine", "pull: read-and-remove waits for the removal", test_pull_remove },
		{ "niftp_engine", "pull: the removal fails", test_pull_remove_fails },
		{ "niftp_engine", "pull: call lost while removing", test_pull_lost_removing },
		{ "niftp_engine", "pull: mail service policy", test_pull_mail_policy },
		{ "niftp_engine", "pull: committed resumption (0xFFFF)", test_pull_resume_committed },
		{ "niftp_engine", "pull: reads that do not remove", test_pull_plain_read },
		{ "niftp_engine", "pull: a foreign P's STOP with two messages", test_pull_foreign_stop },
		{ "niftp_engine", "pull: a stored name too long for one message", test_pull_stored_long },
		{ "niftp_engine", "pull: P's STOP not 0x2000", test_pull_stop_not_ok },
		{ "niftp_engine", "pull: STOP 0x2000 before any data", test_pull_stop_before_go },
		{ "niftp_engine", "pull: Q freed on the DONE of a removal", test_pull_free_on_done },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
