/*++
 * NAME
 *	test_niftp_rec 1
 * SUMMARY
 *	NIFTP-80 record codec tests: golden bytes from real unix-niftp sessions
 * SYNOPSIS
 *	build/tests/test_niftp_rec
 * DESCRIPTION
 *	GO is 82 01 00; the mail SFT of capture 4.1 is reproduced octet for
 *	octet from its attributes; records split at 63; compressed runs;
 *	escapes; the capture's RPOS (strings spanning sub-records) and data
 *	phase decode to the exact text, fed whole and one octet at a time;
 *	malformed input is refused with a reason.
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

static const char unf_info[] = "UNIX-NIFTP $Revision: 5.6.1.10 $";

/* capseg - one decoded segment of a capture */
static unsigned char *capseg(const char *name, size_t idx, size_t *len)
{
	size_t	n;
	const struct tl_capseg *s = tl_capture(name, &n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_FATAL(idx < n);
	*len = s[idx].len;
	return tl_capseg_bytes(&s[idx]);
}

static void test_go(void)
{
	struct buf b = BUF_INIT(1024);
	static const unsigned char go[] = {0x82, 0x01, 0x00};

	CU_ASSERT_EQUAL(niftp_cmd_put(&b, NIFTP_GO, NULL, 0), 0);
	EXPECT_BYTES(buf_data(&b), b.len, go, sizeof(go));
	buf_release(&b);
}

static void test_stop(void)
{
	struct buf b = BUF_INIT(1024);
	struct niftp_attr a;
	static const unsigned char stop[] = {0x86, 0x00, 0x01, 0x0f, 0x22, 0x20, 0x00};
	static const unsigned char ack[] = {0x86, 0x05, 0x01, 0x0f, 0x22, 0x20, 0x00};

	niftp_attr_int(&a, NIFTP_A_STATE, NIFTP_OP_EQ, NIFTP_ST_OK);
	CU_ASSERT_EQUAL(niftp_cmd_put(&b, NIFTP_STOP, &a, 1), 0);
	EXPECT_BYTES(buf_data(&b), b.len, stop, sizeof(stop));
	buf_reset(&b);
	CU_ASSERT_EQUAL(niftp_cmd_put(&b, NIFTP_STOPACK, &a, 1), 0);
	EXPECT_BYTES(buf_data(&b), b.len, ack, sizeof(ack));
	buf_release(&b);
}

/* The mail SFT of capture 4.1, built attribute by attribute. */
static void test_mail_sft(void)
{
	struct niftp_attr a[12];
	struct buf b = BUF_INIT(4096);
	size_t	n = 0, clen;
	unsigned char *cap = capseg("mail_small", 0, &clen);

	niftp_attr_int(&a[n++], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[n++], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE);
	niftp_attr_int(&a[n++], NIFTP_A_TEXTFMT, NIFTP_OP_LE, 0x00FF);
	niftp_attr_int(&a[n++], NIFTP_A_TID, NIFTP_OP_EQ, 0x98c9);
	niftp_attr_int(&a[n++], NIFTP_A_ACKWINDOW, NIFTP_Q_MONITOR | NIFTP_OP_LE, 0x0020);
	niftp_attr_int(&a[n++], NIFTP_A_RESTARTMARK, NIFTP_OP_EQ, 0);
	niftp_attr_int(&a[n++], NIFTP_A_FACILITIES, NIFTP_OP_LE, 0x005F);
	niftp_attr_int(&a[n++], NIFTP_A_DELIMPRES, NIFTP_OP_LE, 0x8000);
	niftp_attr_none(&a[n++], NIFTP_A_FILENAME, 0x97);
	niftp_attr_none(&a[n++], NIFTP_A_USERNAME, 0x97);
	niftp_attr_int(&a[n++], NIFTP_A_FILESIZE, NIFTP_OP_EQ, 1);
	niftp_attr_str(&a[n++], NIFTP_A_INFOMSG, NIFTP_OP_EQ, unf_info);
	CU_ASSERT_EQUAL(niftp_cmd_put(&b, NIFTP_SFT, a, n), 0);
	CU_ASSERT_EQUAL(clen, 88);
	CU_ASSERT_EQUAL(b.len, 79);
	EXPECT_BYTES(buf_data(&b), b.len, cap + 9, clen - 9);
	free(cap);
	buf_release(&b);
}

/* The plain-file SFT of capture 4.2 (filename spans two sub-records). */
static void test_ftp_sft(void)
{
	struct niftp_attr a[13];
	struct buf b = BUF_INIT(4096);
	size_t	n = 0, clen;
	unsigned char *cap = capseg("ftp_plain", 0, &clen);

	niftp_attr_int(&a[n++], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[n++], NIFTP_A_MODE, NIFTP_OP_EQ, NIFTP_MODE_MAKE);
	niftp_attr_int(&a[n++], NIFTP_A_TEXTFMT, NIFTP_OP_LE, 0x00FF);
	niftp_attr_int(&a[n++], NIFTP_A_TID, NIFTP_OP_EQ, 0x98c6);
	niftp_attr_int(&a[n++], NIFTP_A_ACKWINDOW, NIFTP_Q_MONITOR | NIFTP_OP_LE, 0x0020);
	niftp_attr_int(&a[n++], NIFTP_A_RESTARTMARK, NIFTP_OP_EQ, 0);
	niftp_attr_int(&a[n++], NIFTP_A_FACILITIES, NIFTP_OP_LE, 0x005F);
	niftp_attr_int(&a[n++], NIFTP_A_DELIMPRES, NIFTP_OP_LE, 0x8000);
	niftp_attr_str(&a[n++], NIFTP_A_FILENAME, NIFTP_OP_EQ, "/var/ftp/home/niftp/recv-plain.txt");
	niftp_attr_str(&a[n++], NIFTP_A_USERNAME, NIFTP_OP_EQ, "niftp");
	niftp_attr_str(&a[n++], NIFTP_A_PASSWORD, NIFTP_OP_EQ, "secret");
	niftp_attr_int(&a[n++], NIFTP_A_FILESIZE, NIFTP_OP_EQ, 1);
	niftp_attr_str(&a[n++], NIFTP_A_INFOMSG, NIFTP_OP_EQ, unf_info);
	CU_ASSERT_EQUAL(niftp_cmd_put(&b, NIFTP_SFT, a, n), 0);
	EXPECT_BYTES(buf_data(&b), b.len, cap + 4, clen - 4);
	free(cap);
	buf_release(&b);
}

/* Splitting at 63: header counts and end bits. */
static void test_split(void)
{
	static const size_t lens[] = {0, 1, 62, 63, 64, 126, 127, 200};
	unsigned char rec[256];
	size_t	i;

	for (i = 0; i < sizeof(rec); i++)
		rec[i] = (unsigned char) i;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct buf b = BUF_INIT(1024);
		size_t	len = lens[i], off = 0, data = 0;
		int	ended = 0;

		CU_ASSERT_EQUAL(niftp_rec_put(&b, rec, len), 0);
		while (off < b.len) {
			unsigned char h = buf_data(&b)[off];
			size_t	k = h & 0x3f;

			CU_ASSERT_FALSE(ended);
			CU_ASSERT_EQUAL(h & 0x40, 0);
			CU_ASSERT(k == 63 || (h & 0x80));	/* only the last is short */
			CU_ASSERT(k > 0 || len == 0);
			CU_ASSERT(memcmp(buf_data(&b) + off + 1, rec + data, k) == 0);
			ended = (h & 0x80) != 0;
			data += k;
			off += 1 + k;
		}
		CU_ASSERT(ended);
		CU_ASSERT_EQUAL(data, len);
		CU_ASSERT_EQUAL(b.len, len + (len + 62) / 63 + (len == 0));
		buf_release(&b);
	}
	/* A 63-octet record is one sub-record with the end bit. */
	{
		struct buf b = BUF_INIT(1024);

		niftp_rec_put(&b, rec, 63);
		CU_ASSERT_EQUAL(buf_data(&b)[0], 0xbf);
		buf_release(&b);
	}
}

/* Data framing: compressed runs of 3 or more, never empty non-final. */
static void test_sr_encode(void)
{
	unsigned char out[512], src[200];
	size_t	used, w;
	int	ended;
	static const unsigned char want1[] = {0x43, 'a', 0x81, 'b'};
	static const unsigned char want2[] = {0x83, 'a', 'a', 'b'};
	static const unsigned char want3[] = {0x7f, 'x', 0xe5, 'x'};
	static const unsigned char want4[] = {0x02, 'a', 'b', 0x44, 'c', 0x82, 'd', 'e'};

	w = niftp_sr_encode(out, sizeof(out), (const unsigned char *) "aaab", 4, 1, 1, &used, &ended);
	CU_ASSERT(tl_same_bytes("out", out, w, want1, sizeof(want1)) && used == 4 && ended);
	w = niftp_sr_encode(out, sizeof(out), (const unsigned char *) "aab", 3, 1, 1, &used, &ended);
	EXPECT_BYTES(out, w, want2, sizeof(want2));
	memset(src, 'x', 100);
	w = niftp_sr_encode(out, sizeof(out), src, 100, 1, 1, &used, &ended);
	EXPECT_BYTES(out, w, want3, sizeof(want3));
	w = niftp_sr_encode(out, sizeof(out), (const unsigned char *) "abccccde", 8, 1, 1,
		&used, &ended);
	EXPECT_BYTES(out, w, want4, sizeof(want4));
	/* Without compression the same runs go literally. */
	w = niftp_sr_encode(out, sizeof(out), src, 100, 0, 0, &used, &ended);
	CU_ASSERT(w == 102 && out[0] == 0x3f && out[64] == 37 && !ended);
	/* Empty final record: a lone 0x80; empty non-final: nothing. */
	w = niftp_sr_encode(out, sizeof(out), src, 0, 0, 1, &used, &ended);
	CU_ASSERT(w == 1 && out[0] == 0x80 && ended);
	w = niftp_sr_encode(out, sizeof(out), src, 0, 0, 0, &used, &ended);
	CU_ASSERT(w == 0 && !ended);
	/* Room for a partial sub-record only. */
	w = niftp_sr_encode(out, 10, src, 100, 0, 1, &used, &ended);
	CU_ASSERT(w == 10 && used == 9 && out[0] == 9 && !ended);
	w = niftp_sr_encode(out, 1, src, 100, 0, 1, &used, &ended);
	CU_ASSERT(w == 0 && used == 0);
}

/* Decode everything in p (in pieces of chunk) in the given mode. */
struct decoded {
	unsigned char data[65536];
	size_t	dlen;
	int	eors;
	uint8_t	tcc[64][2];
	int	ntcc;
	unsigned char rec[NIFTP_MAX_CMD_RECORD];
	size_t	reclen;
	int	ncmd;
	char	err[256];
};

static void decode_all(const unsigned char *p, size_t len, size_t chunk, int mode,
	int compress, struct decoded *o)
{
	struct niftp_dec *d = xcalloc(1, sizeof(*d));
	size_t	off = 0;

	memset(o, 0, sizeof(*o));
	niftp_dec_init(d);
	niftp_dec_set_mode(d, mode, compress);
	while (off < len) {
		size_t	k = len - off < chunk ? len - off : chunk, pos = 0;

		while (pos < k) {
			struct niftp_dec_ev ev;
			size_t	room = sizeof(o->data) - o->dlen;

			if (room > 7)
				room = 7;	/* small sinks exercise the partial paths */
			pos += niftp_dec_next(d, p + off + pos, k - pos, o->data + o->dlen, room, &ev);
			switch (ev.type) {
			case NIFTP_DEC_NEED:
				break;
			case NIFTP_DEC_DATA:
				o->dlen += ev.dlen;
				o->eors += ev.eor;
				break;
			case NIFTP_DEC_TCC:
				if (o->ntcc < 64) {
					o->tcc[o->ntcc][0] = ev.tcc;
					o->tcc[o->ntcc][1] = ev.arg;
					o->ntcc++;
				}
				break;
			case NIFTP_DEC_CMD:
				memcpy(o->rec, ev.rec, ev.reclen);
				o->reclen = ev.reclen;
				o->ncmd++;
				break;
			case NIFTP_DEC_ERROR:
				snprintf(o->err, sizeof(o->err), "%s", ev.err);
				free(d);
				return;
			}
		}
		off += k;
	}
	free(d);
}

/* The capture's data phase decodes to the exact text, whole or octet by octet. */
static void test_decode_data(void)
{
	size_t	len, chunk;
	unsigned char *cap = capseg("mail_small", 3, &len);
	struct decoded *o = xcalloc(1, sizeof(*o));

	CU_ASSERT_EQUAL(len, 264);
	for (chunk = 1; chunk <= 264; chunk += 263) {
		decode_all(cap, len, chunk, NIFTP_DEC_MODE_DATA, 1, o);
		CU_ASSERT_STRING_EQUAL(o->err, "");
		EXPECT_BYTES(o->data, o->dlen, (const unsigned char *) mail_text,
			strlen(mail_text));
		CU_ASSERT_EQUAL(o->eors, 1);
		CU_ASSERT_EQUAL(o->ntcc, 2);
		CU_ASSERT(o->tcc[0][0] == NIFTP_SS && o->tcc[0][1] == 0);
		CU_ASSERT(o->tcc[1][0] == NIFTP_ES && o->tcc[1][1] == 0);
	}
	/* Without compression agreed, the 0x42 sub-records are an error. */
	decode_all(cap, len, 264, NIFTP_DEC_MODE_DATA, 0, o);
	CU_ASSERT(strstr(o->err, "compression was not agreed") != NULL);
	free(cap);
	cap = capseg("ftp_plain", 3, &len);
	decode_all(cap, len, 5, NIFTP_DEC_MODE_DATA, 1, o);
	CU_ASSERT_EQUAL(o->dlen, 86);
	CU_ASSERT(memcmp(o->data, "Hello NIFTP world.\nSecond line", 30) == 0);
	free(cap);
	free(o);
}

/* The capture's RPOS: strings span sub-records. */
static void test_decode_rpos(void)
{
	size_t	len, chunk;
	unsigned char *cap = capseg("mail_small", 1, &len);
	struct decoded *o = xcalloc(1, sizeof(*o));
	struct niftp_cmd *c = xcalloc(1, sizeof(*c));
	char	err[256];

	for (chunk = 1; chunk <= 85; chunk += 84) {
		decode_all(cap, len, chunk, NIFTP_DEC_MODE_CMD, 0, o);
		CU_ASSERT_STRING_EQUAL(o->err, "");
		CU_ASSERT_EQUAL(o->ncmd, 1);
		CU_ASSERT_EQUAL_FATAL(niftp_cmd_parse(o->rec, o->reclen, c, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(c->cmd, NIFTP_RPOS);
		CU_ASSERT_EQUAL_FATAL(c->nattr, 5);
		CU_ASSERT(c->attr[0].id == 0x03 && c->attr[0].qual == 0x22 && c->attr[0].ival == 0x80);
		CU_ASSERT(c->attr[1].id == 0x0a && c->attr[1].ival == 0x20);
		CU_ASSERT(c->attr[2].id == 0x40 && c->attr[2].slen == 28
			&& memcmp(c->attr[2].str, "/var/ftp/spool/mail/fvdagxll", 28) == 0);
		CU_ASSERT(c->attr[3].id == 0x42 && c->attr[3].slen == 4
			&& memcmp(c->attr[3].str, "root", 4) == 0);
		CU_ASSERT(c->attr[4].id == 0x71 && c->attr[4].slen == 32
			&& memcmp(c->attr[4].str, unf_info, 32) == 0);
	}
	free(cap);
	/* The SFT of 4.2: the filename spans "...recv-p" | 3f | "lain.txt". */
	cap = capseg("ftp_plain", 0, &len);
	decode_all(cap + 4, len - 4, 3, NIFTP_DEC_MODE_CMD, 0, o);
	CU_ASSERT_EQUAL_FATAL(niftp_cmd_parse(o->rec, o->reclen, c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c->nattr, 13);
	CU_ASSERT(c->attr[8].id == 0x40 && c->attr[8].slen == 34
		&& memcmp(c->attr[8].str, "/var/ftp/home/niftp/recv-plain.txt", 34) == 0);
	CU_ASSERT(c->attr[10].id == 0x44 && memcmp(c->attr[10].str, "secret", 6) == 0);
	free(cap);
	/* The STOPACK of the failure capture. */
	cap = capseg("mail_fail67", 8, &len);
	decode_all(cap, len, 1, NIFTP_DEC_MODE_CMD, 0, o);
	CU_ASSERT_EQUAL_FATAL(niftp_cmd_parse(o->rec, o->reclen, c, err, sizeof(err)), 0);
	CU_ASSERT(c->cmd == NIFTP_STOPACK && c->attr[0].ival == 0x3010 && c->attr[1].slen == 17);
	free(cap);
	free(c);
	free(o);
}

/* Escapes: between sub-records, mid-record in data, not in a command record. */
static void test_escapes(void)
{
	struct decoded *o = xcalloc(1, sizeof(*o));
	static const unsigned char mid[] = {0x03, 'a', 'b', 'c', 0x00, 0x41, 0x01, 0x82, 'd', 'e',
		0x00, 0x43, 0x00};
	static const unsigned char york[] = {0x02, 'a', 'b', 0x40, 0x81, 'c'};
	static const unsigned char endc[] = {0x02, 'a', 'b', 0xc0, 0x01, 'c'};
	static const unsigned char tcc_in_cmd[] = {0x02, 0x04, 0x00, 0x00, 0x41, 0x01};
	static const unsigned char bad_tcc[] = {0x00, 0x3f, 0x00};
	static const unsigned char comp_cmd[] = {0x43, 0x04};
	struct buf b = BUF_INIT(64);
	static const unsigned char ms[] = {0x00, 0x41, 0x05};

	decode_all(mid, sizeof(mid), 1, NIFTP_DEC_MODE_DATA, 0, o);
	CU_ASSERT_STRING_EQUAL(o->err, "");
	CU_ASSERT(o->dlen == 5 && memcmp(o->data, "abcde", 5) == 0 && o->eors == 1);
	CU_ASSERT(o->ntcc == 2 && o->tcc[0][0] == NIFTP_MS && o->tcc[0][1] == 1);
	/* 0x40 with count 0 is ignored ("York bug fix"); 0xC0 ends a record. */
	decode_all(york, sizeof(york), 2, NIFTP_DEC_MODE_DATA, 0, o);
	CU_ASSERT(o->dlen == 3 && o->eors == 1 && o->err[0] == 0);
	decode_all(endc, sizeof(endc), 2, NIFTP_DEC_MODE_DATA, 0, o);
	CU_ASSERT(o->dlen == 3 && o->eors == 1 && o->err[0] == 0);
	decode_all(tcc_in_cmd, sizeof(tcc_in_cmd), 1, NIFTP_DEC_MODE_CMD, 0, o);
	CU_ASSERT(strstr(o->err, "escape inside a command record") != NULL);
	decode_all(bad_tcc, sizeof(bad_tcc), 1, NIFTP_DEC_MODE_CMD, 0, o);
	CU_ASSERT(strstr(o->err, "unknown transfer-control command 0x3f") != NULL);
	decode_all(comp_cmd, sizeof(comp_cmd), 1, NIFTP_DEC_MODE_CMD, 0, o);
	CU_ASSERT(strstr(o->err, "compressed sub-record") != NULL);
	CU_ASSERT_EQUAL(niftp_tcc_put(&b, NIFTP_MS, 5), 0);
	EXPECT_BYTES(buf_data(&b), b.len, ms, 3);
	buf_release(&b);
	free(o);
}

/* Command record parse errors name the fault. */
static void test_parse_errors(void)
{
	static const struct {
		const char *hex;
		const char *want;
	} t[] = {
		{"04", "no attribute count"},
		{"04 02 00 22 01 00", "declares 2 attributes, the record ends in attribute 2"},
		{"04 01 00 22 01", "integer value of attribute 0x00"},
		{"04 01 40 32", "string length of attribute 0x40 in SFT missing"},
		{"04 01 40 32 09 61 62", "declares 9 octets, only 2 left"},
		{"04 01 40 32 01 61 62", "1 octets follow them"},
		{"07 00", "unknown command 0x07"},
		{"04 00", ""},
		{"04 01 77 00", ""},
		{"04 01 40 97", ""},
	};
	size_t	i;
	struct niftp_cmd *c = xcalloc(1, sizeof(*c));

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned char rec[64];
		char	err[256] = "";
		size_t	len = tl_unhex(t[i].hex, rec, sizeof(rec));
		int	rc = niftp_cmd_parse(rec, len, c, err, sizeof(err));

		if (t[i].want[0]) {
			CU_ASSERT_EQUAL(rc, -1);
			if (strstr(err, t[i].want) == NULL) {
				printf("\n  parse '%s': got '%s', want '%s'\n", t[i].hex, err, t[i].want);
				CU_FAIL("reason");
			}
		} else {
			CU_ASSERT_EQUAL(rc, 0);
		}
	}
	free(c);
}

/* A command record longer than the cap is refused. */
static void test_cmd_cap(void)
{
	struct decoded *o = xcalloc(1, sizeof(*o));
	size_t	len = 64 * 140;
	unsigned char *p = xmalloc(len);
	size_t	i;

	for (i = 0; i < len; i += 64) {
		p[i] = 0x3f;
		memset(p + i + 1, 'z', 63);
	}
	decode_all(p, len, 1000, NIFTP_DEC_MODE_CMD, 0, o);
	CU_ASSERT(strstr(o->err, "longer than 8192 octets") != NULL);
	/* A long record under the cap is one record however it is split. */
	{
		struct buf b = BUF_INIT(1 << 16);
		unsigned char rec[8000];

		memset(rec, 'q', sizeof(rec));
		rec[0] = NIFTP_SFT;
		rec[1] = 0;
		niftp_rec_put(&b, rec, sizeof(rec));
		decode_all(buf_data(&b), b.len, 77, NIFTP_DEC_MODE_CMD, 0, o);
		CU_ASSERT(o->ncmd == 1 && o->reclen == sizeof(rec) && memcmp(o->rec, rec, 8000) == 0);
		buf_release(&b);
	}
	free(p);
	free(o);
}

/* Round trip: random data with runs, framed and decoded back. */
static void test_roundtrip(void)
{
	unsigned char *src = xmalloc(50000), *wire = xmalloc(120000);
	struct decoded *o = xcalloc(1, sizeof(*o));
	unsigned seed = 1;
	size_t	i, w = 0, r = 0;
	int	comp;

	for (i = 0; i < 50000; i++) {
		seed = seed * 1103515245u + 12345u;
		src[i] = (seed >> 20) % 7 == 0 ? src[i ? i - 1 : 0] : (unsigned char) (seed >> 16);
	}
	for (comp = 0; comp < 2; comp++) {
		w = r = 0;
		while (r < 50000) {
			size_t	used, k = 50000 - r > 777 ? 777 : 50000 - r;
			int	ended;

			w += niftp_sr_encode(wire + w, 120000 - w, src + r, k, comp, r + k == 50000,
				&used, &ended);
			r += used;
		}
		decode_all(wire, w, 333, NIFTP_DEC_MODE_DATA, comp, o);
		CU_ASSERT_STRING_EQUAL(o->err, "");
		CU_ASSERT(o->dlen == 50000 && memcmp(o->data, src, 50000) == 0 && o->eors == 1);
		if (comp)
			CU_ASSERT(w < 50000 + 50000 / 63 + 1);
	}
	free(src);
	free(wire);
	free(o);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "niftp_rec", "GO is 82 01 00", test_go },
		{ "niftp_rec", "STOP and STOPACK", test_stop },
		{ "niftp_rec", "mail SFT of capture 4.1", test_mail_sft },
		{ "niftp_rec", "plain SFT of capture 4.2", test_ftp_sft },
		{ "niftp_rec", "split at 63", test_split },
		{ "niftp_rec", "data framing and compression", test_sr_encode },
		{ "niftp_rec", "decode capture data phase", test_decode_data },
		{ "niftp_rec", "decode capture RPOS", test_decode_rpos },
		{ "niftp_rec", "escapes", test_escapes },
		{ "niftp_rec", "parse errors", test_parse_errors },
		{ "niftp_rec", "command record cap", test_cmd_cap },
		{ "niftp_rec", "round trip", test_roundtrip },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
