/*++
 * NAME
 *	test_letter 1
 * SUMMARY
 *	CUnit tests of mailchannel/letter: streaming reader and writer
 * SYNOPSIS
 *	build/tests/test_letter
 * DESCRIPTION
 *	Good letters (the INDRA example, CRLF, white-space blank lines,
 *	several blank lines, no body) are read through a callback that
 *	hands out 1, 3, 4096 and 1 MiB bytes at a time, so every line can
 *	straddle reads. Malformed letters must be refused with the problem
 *	and the line; caps and read errors with their own status.
 *
 *	A 50 MiB body is streamed from a pipe fed by a thread, with the
 *	reader's own memory figure and the process's peak RSS checked to
 *	stay flat; a 50 MiB letter in a temporary file is copied with the
 *	kernel copy path and with plain read/write, and both copies are
 *	compared with the original byte for byte.
 *
 *	The writer: exact prefix bytes, a copy re-read, identical re-sends
 *	from a stored prefix, and an injected ENOSPC.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/sysio.h"

#define BIG_BODY	((size_t) 50 * 1024 * 1024)

static char tdir[256];

/*
 * A memory source handing out at most chunk bytes per read, failing
 * with EIO once fail_at bytes have been read (when fail_at != 0).
 */
struct memsrc {
	const char *p;
	size_t	len;
	size_t	pos;
	size_t	chunk;
	size_t	fail_at;
};

static ssize_t mem_read(void *ctx, void *dst, size_t len)
{
	struct memsrc *m = ctx;
	size_t  n = m->len - m->pos;

	if (m->fail_at && m->pos >= m->fail_at) {
		errno = EIO;
		return -1;
	}
	if (n > len)
		n = len;
	if (n > m->chunk)
		n = m->chunk;
	if (m->fail_at && m->pos + n > m->fail_at)
		n = m->fail_at - m->pos;
	memcpy(dst, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t) n;
}

/* rcpts_str - addresses joined by ' ' (static buffer) */
static const char *rcpts_str(const struct addr_list *l)
{
	static char out[1024];
	size_t  k, o = 0;

	out[0] = 0;
	for (k = 0; k < addr_list_count(l) && o < sizeof(out); k++) {
		if (k > 0)
			out[o++] = ' ';
		o += addr_format(addr_list_get(l, k), out + o, sizeof(out) - o);
	}
	return out;
}

/* body_all - read the rest of the body into new memory */
static char *body_all(struct letter *l, size_t *lenp)
{
	struct buf b = BUF_INIT(1024 * 1024);
	char    tmp[777];
	ssize_t n;
	char   *s;

	while ((n = letter_body_read(l, tmp, sizeof(tmp))) > 0)
		CU_ASSERT_FATAL(buf_append(&b, tmp, (size_t) n) == 0);
	CU_ASSERT(n == 0);
	*lenp = b.len;
	s = xmemdup(b.len ? buf_data(&b) : (const unsigned char *) "", b.len);
	buf_release(&b);
	return s;
}

static const char indra[] =
	"linington%cambridge%pss@ucl,\n"
	"bennett@ucl\n"
	"\n"
	"Date: 23 Jan 81 1200-GMT\n"
	"From: Chris Bennett <bennett@ucl>\n"
	"To: linington%cambridge%pss@ucl\n"
	"Subject: test\n"
	"\n"
	"text...\n"
	"more text \xe2\x80\x94 8-bit kept\n";

/* The good-letter table. */
static const struct {
	const char *name;
	const char *text;
	const char *rcpts;
	const char *hdr_start;		/* text where the header starts */
	const char *body;		/* text of the body */
	size_t	nfields;
	unsigned long hdr_line;
	unsigned long body_line;
	int	crlf;
} good[] = {
	{ "indra", indra, "linington%cambridge%pss@ucl bennett@ucl", "Date:",
	  "text...\nmore text \xe2\x80\x94 8-bit kept\n", 4, 4, 9, 0 },
	{ "crlf", "a@b,\r\nc@d\r\n\r\nFrom: x@y\r\nSubject: s\r\n two\r\n\r\nbody\r\nline2\r\n",
	  "a@b c@d", "From:", "body\r\nline2\r\n", 2, 4, 8, 1 },
	{ "ws-blank", "a@b\n  \t \nFrom: x@y\n\nbody", "a@b", "From:", "body", 1, 3, 5, 0 },
	{ "ws-blank-hdr", "a@b\n\nFrom: x@y\n \t\nbody\n", "a@b", "From:", "body\n", 1, 3, 5, 0 },
	{ "many-blank", "a@b\n\n\n \n\r\nFrom: x@y\n\nbody", "a@b", "From:", "body", 1, 6, 8, 0 },
	{ "indented-hdr", "a@b\n\n   From: x@y\n\nbody", "a@b", "From:", "body", 1, 3, 5, 0 },
	{ "no-body", "a@b\n\nFrom: x@y\n", "a@b", "From:", "", 1, 3, 4, 0 },
	{ "empty-body", "a@b\n\nFrom: x@y\n\n", "a@b", "From:", "", 1, 3, 5, 0 },
	{ "trailing-comma", "a@b, c at d,\ne@f,\n\nSender: s@t\n\nb", "a@b c@d e@f", "Sender:",
	  "b", 1, 4, 6, 0 },
	{ "body-blank-lines", "a@b\n\nFrom: x@y\n\n\n\nbody\n\n", "a@b", "From:", "\n\nbody\n\n",
	  1, 3, 5, 0 },
	{ "rfc733-colon", "a@b\n\nFrom : x@y\nTo:z@w\n\nb", "a@b", "From", "b", 2, 3, 6, 0 },
	{ "nul-in-body", "a@b\n\nFrom: x@y\n\nbo\0dy", "a@b", "From:", "bo", 1, 3, 5, 0 },
};

/* test_letter_good - every good letter at every read size */
static void test_letter_good(void)
{
	static const size_t chunks[] = { 1, 3, 4096, 1024 * 1024 };
	char    err[LETTER_ERRLEN];
	enum letter_status st;
	struct memsrc m;
	struct letter *l;
	size_t  i, c, n, len, blen;
	char   *body;
	const char *hb;

	for (i = 0; i < NELEM(good); i++) {
		len = strlen(good[i].text);
		if (strcmp(good[i].name, "nul-in-body") == 0)
			len += 3;
		for (c = 0; c < NELEM(chunks); c++) {
			memset(&m, 0, sizeof(m));
			m.p = good[i].text;
			m.len = len;
			m.chunk = chunks[c];
			err[0] = 0;
			l = letter_open(mem_read, &m, &st, err, sizeof(err));
			if (l == NULL)
				fprintf(stderr, "\n%s/%zu: %s\n", good[i].name, chunks[c], err);
			CU_ASSERT_FATAL(l != NULL);
			EXPECT_INT(st, LETTER_OK);
			EXPECT_STR(rcpts_str(letter_rcpts(l)), good[i].rcpts);
			EXPECT_INT(hdr_count(letter_hdr(l)), good[i].nfields);
			EXPECT_INT(hdr_crlf(letter_hdr(l)), good[i].crlf);
			EXPECT_INT(letter_hdr_line(l), good[i].hdr_line);
			EXPECT_INT(letter_body_line(l), good[i].body_line);
			EXPECT_INT(letter_hdr_offset(l),
			    strstr(good[i].text, good[i].hdr_start) - good[i].text);
			blen = strcmp(good[i].name, "nul-in-body") == 0 ? 5 : strlen(good[i].body);
			EXPECT_INT(letter_body_offset(l), len - blen);
			/* the header block is the bytes between the offsets */
			hb = hdr_block(letter_hdr(l), &n);
			EXPECT_INT(n, letter_body_offset(l) - letter_hdr_offset(l));
			CU_ASSERT(memcmp(hb, good[i].text + letter_hdr_offset(l), n) == 0);
			body = body_all(l, &n);
			EXPECT_INT(n, blen);
			CU_ASSERT(memcmp(body, good[i].text + len - blen, blen) == 0);
			EXPECT_INT(letter_body_done(l), blen);
			EXPECT_INT(letter_body_read(l, body, 1), 0);
			EXPECT_STR(letter_error(l), "");
			free(body);
			letter_free(l);
		}
	}
	letter_free(NULL);
}

/* The malformed-letter table: text, status, reason. */
static const struct {
	const char *text;
	enum letter_status st;
	const char *why;
} bad[] = {
	{ "", LETTER_EFORMAT, "line 1: empty letter (no address list)" },
	{ "\nFrom: x@y\n\nb", LETTER_EFORMAT, "line 1: no address list before the first blank line" },
	{ " \t\r\n\nFrom: x@y\n\nb", LETTER_EFORMAT, "line 1: no address list before the first blank line" },
	{ "From: x@y\nTo: z@w\n\nbody", LETTER_EFORMAT,
	  "line 1: 'From: x@y' looks like a header field: no address list before the message header" },
	{ "a@b\nc@d\n", LETTER_EFORMAT, "line 3: no blank line after the address list (end of file)" },
	{ "a@b", LETTER_EFORMAT, "line 2: no blank line after the address list (end of file)" },
	{ "a@b\nFrom: x@y\n\nbody", LETTER_EFORMAT,
	  "line 2: 'From: x@y' looks like a header field: no blank line after the address list" },
	/* a header line that also parses as an address must not become a recipient */
	{ "kirstein@ucl\nCc: Chris Bennett <bennett@ucl>\nSubject: x\n\nbody", LETTER_EFORMAT,
	  "line 2: 'Cc: Chris Bennett <bennett@ucl>' looks like a header field: "
	  "no blank line after the address list" },
	{ "To : bennett@ucl\n\nFrom: x@y\n\nbody", LETTER_EFORMAT,
	  "line 1: 'To : bennett@ucl' looks like a header field: "
	  "no address list before the message header" },
	{ "a@b\n\n", LETTER_EFORMAT, "line 3: no message header after the address list (end of file)" },
	{ "a@b\n\n\n  \n", LETTER_EFORMAT, "line 5: no message header after the address list (end of file)" },
	{ "a@b\n\nHello world\n", LETTER_EFORMAT,
	  "line 3: no message header after the address list ('Hello world' is not a header field)" },
	{ "a@b\n\nSubject: x\n\nbody", LETTER_EFORMAT,
	  "line 3: no originator in the message header (no Sender: or From: field)" },
	{ "a@b\n\nSubject: x\nFrom: nobody\n\nbody", LETTER_EFORMAT,
	  "line 4: From: address 'nobody': no host part" },
	{ "a@b\n\nFrom: x@y\nSubj", LETTER_EFORMAT,
	  "line 4: letter cut short in the message header (no newline at end of file)" },
	{ "a@b\n\nFrom: x@y\nnot a field\n\nbody", LETTER_EFORMAT,
	  "line 4: 'not a field' is not a header field" },
	{ "a@b\nbad\n\nFrom: x@y\n\nb", LETTER_EFORMAT, "line 2: address 'bad': no host part" },
	{ "a@b\n\"x@y\n\nFrom: x@y\n\nb", LETTER_EFORMAT,
	  "line 2: address '\"x@y': unterminated quoted string" },
	{ "a@b\n\nFrom: x@y\nTo: \0\n\nb", LETTER_EFORMAT, "line 4: NUL byte in the message header" },
};

/* test_letter_bad - malformed letters are refused, naming the line */
static void test_letter_bad(void)
{
	char    err[LETTER_ERRLEN];
	enum letter_status st;
	struct memsrc m;
	struct letter *l;
	size_t  i, len;

	for (i = 0; i < NELEM(bad); i++) {
		len = strlen(bad[i].text);
		if (strstr(bad[i].why, "NUL") != NULL)
			len += 5;
		memset(&m, 0, sizeof(m));
		m.p = bad[i].text;
		m.len = len;
		m.chunk = 2;
		err[0] = 0;
		st = LETTER_OK;
		l = letter_open(mem_read, &m, &st, err, sizeof(err));
		if (l != NULL)
			fprintf(stderr, "\ncase %zu: accepted, want \"%s\"\n", i, bad[i].why);
		CU_ASSERT(l == NULL);
		letter_free(l);
		EXPECT_INT(st, bad[i].st);
		EXPECT_HAS(err, bad[i].why);
	}
}

/* test_letter_caps - oversize header, address line and list */
static void test_letter_caps(void)
{
	char    err[LETTER_ERRLEN];
	struct buf b = BUF_INIT(64 * 1024 * 1024);
	enum letter_status st;
	struct memsrc m;
	struct letter *l;
	size_t  i;

	/* header of 300 KiB */
	buf_printf(&b, "a@b\n\nFrom: x@y\n");
	for (i = 0; i < 300; i++) {
		buf_printf(&b, "X-Fill-%04zu: ", i);
		while (b.len % 1024 != 1023)
			buf_putc(&b, 'f');
		buf_putc(&b, '\n');
	}
	buf_printf(&b, "\nbody\n");
	memset(&m, 0, sizeof(m));
	m.p = (const char *) buf_data(&b);
	m.len = b.len;
	m.chunk = 65536;
	l = letter_open(mem_read, &m, &st, err, sizeof(err));
	CU_ASSERT(l == NULL);
	EXPECT_INT(st, LETTER_ECAP);
	EXPECT_HAS(err, "message header longer than 262144 bytes");
	EXPECT_HAS(err, "line 2");

	/* an address-list line over 64 KiB */
	buf_reset(&b);
	buf_printf(&b, "a@b,\n");
	for (i = 0; i < 7000; i++)
		buf_printf(&b, "user%04zu@h,", i);
	buf_printf(&b, "\n\nFrom: x@y\n\nb");
	memset(&m, 0, sizeof(m));
	m.p = (const char *) buf_data(&b);
	m.len = b.len;
	m.chunk = 65536;
	l = letter_open(mem_read, &m, &st, err, sizeof(err));
	CU_ASSERT(l == NULL);
	EXPECT_INT(st, LETTER_ECAP);
	EXPECT_HAS(err, "line 2: address list line longer than 65536 bytes");

	/* exactly 10,000 addresses pass; 10,001 do not */
	buf_reset(&b);
	for (i = 0; i < ADDR_LIST_MAX; i++)
		buf_printf(&b, "u%zu@h,\n", i);
	buf_printf(&b, "\nFrom: x@y\n\nb");
	memset(&m, 0, sizeof(m));
	m.p = (const char *) buf_data(&b);
	m.len = b.len;
	m.chunk = 4096;
	l = letter_open(mem_read, &m, &st, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	EXPECT_INT(addr_list_count(letter_rcpts(l)), ADDR_LIST_MAX);
	CU_ASSERT(letter_mem_used(l) < 1024 * 1024);
	letter_free(l);
	buf_reset(&b);
	for (i = 0; i <= ADDR_LIST_MAX; i++)
		buf_printf(&b, "u%zu@h,\n", i);
	buf_printf(&b, "\nFrom: x@y\n\nb");
	memset(&m, 0, sizeof(m));
	m.p = (const char *) buf_data(&b);
	m.len = b.len;
	m.chunk = 4096;
	l = letter_open(mem_read, &m, &st, err, sizeof(err));
	CU_ASSERT(l == NULL);
	EXPECT_INT(st, LETTER_ECAP);
	EXPECT_HAS(err, "line 10001: address list: more than 10000 addresses");
	buf_release(&b);
}

/* test_letter_io - read errors in the head and in the body */
static void test_letter_io(void)
{
	char    err[LETTER_ERRLEN], tmp[64];
	enum letter_status st;
	struct memsrc m;
	struct letter *l;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.p = indra;
	m.len = strlen(indra);
	m.chunk = 10;
	m.fail_at = 40;
	l = letter_open(mem_read, &m, &st, err, sizeof(err));
	CU_ASSERT(l == NULL);
	EXPECT_INT(st, LETTER_EIO);
	EXPECT_HAS(err, "read letter at offset 40: Input/output error");

	/* the body fails after the header was read */
	memset(&m, 0, sizeof(m));
	m.p = indra;
	m.len = strlen(indra);
	m.chunk = 1;
	m.fail_at = strlen(indra) - 5;
	l = letter_open(mem_read, &m, &st, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	while ((n = letter_body_read(l, tmp, sizeof(tmp))) > 0)
		;
	EXPECT_INT(n, -1);
	EXPECT_HAS(letter_error(l), "read letter body at offset");
	EXPECT_HAS(letter_error(l), "Input/output error");
	letter_free(l);
}

/*
 * The 50 MiB letters.
 */
static const char big_head[] = "a@b,\nc@d\n\nFrom: x@y\nSubject: big\n\n";

/* big_byte - the body's pattern */
static unsigned char big_byte(uint64_t i)
{
	return (unsigned char) ((i * 7 + (i >> 13)) & 0xff);
}

/* big_fill - pattern bytes for body offsets [off, off+len) */
static void big_fill(unsigned char *p, uint64_t off, size_t len)
{
	size_t  k;

	for (k = 0; k < len; k++)
		p[k] = big_byte(off + k);
}

/* big_writer - thread: write the letter into a pipe, then close it */
static void *big_writer(void *arg)
{
	int     fd = *(int *) arg;
	unsigned char *chunk = xmalloc(65536);
	uint64_t off;
	size_t  n;

	if (write_full(fd, big_head, strlen(big_head)) < 0)
		goto out;
	for (off = 0; off < BIG_BODY; off += n) {
		n = BIG_BODY - off < 65536 ? (size_t) (BIG_BODY - off) : 65536;
		big_fill(chunk, off, n);
		if (write_full(fd, chunk, n) < 0)
			break;
	}
out:
	close(fd);
	free(chunk);
	return NULL;
}

/* maxrss_kib - peak resident set of this process */
static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* test_letter_big_pipe - a 50 MiB body through a pipe, flat memory */
static void test_letter_big_pipe(void)
{
	char    err[LETTER_ERRLEN];
	unsigned char *got = xmalloc(100000), *want = xmalloc(100000);
	enum letter_status st;
	struct letter *l;
	pthread_t th;
	int     p[2], nbad = 0;
	uint64_t off = 0;
	size_t  mem0;
	long    rss0;
	ssize_t n;

	rss0 = maxrss_kib();
	CU_ASSERT_FATAL(pipe(p) == 0);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, big_writer, &p[1]) == 0);
	l = letter_open_fd(p[0], &st, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	mem0 = letter_mem_used(l);
	CU_ASSERT(mem0 < 128 * 1024);
	/* odd read sizes, so chunks straddle the reader's buffer */
	while ((n = letter_body_read(l, got, 99991)) > 0) {
		big_fill(want, off, (size_t) n);
		if (memcmp(got, want, (size_t) n) != 0)
			nbad++;
		off += (uint64_t) n;
		CU_ASSERT(letter_mem_used(l) == mem0);
	}
	EXPECT_INT(n, 0);
	EXPECT_INT(nbad, 0);
	EXPECT_INT(off, BIG_BODY);
	EXPECT_INT(letter_body_done(l), BIG_BODY);
	EXPECT_INT(letter_body_offset(l), strlen(big_head));
	EXPECT_INT(letter_mem_used(l), mem0);
	letter_free(l);
	pthread_join(th, NULL);
	close(p[0]);
	/* the peak RSS grew by far less than the body */
	if (maxrss_kib() - rss0 >= 16 * 1024)
		fprintf(stderr, "\nmax RSS grew by %ld KiB\n", maxrss_kib() - rss0);
	CU_ASSERT(maxrss_kib() - rss0 < 16 * 1024);
	free(got);
	free(want);
}

/* files_equal_from - does file a equal prefix + file b from offset boff? */
static int files_equal_from(const char *a, const void *prefix, size_t plen,
	const char *b, off_t boff)
{
	unsigned char *x = xmalloc(65536), *y = xmalloc(65536);
	int     fa = open(a, O_RDONLY), fb = open(b, O_RDONLY), eq = 0;
	ssize_t na, nb;

	if (fa < 0 || fb < 0)
		goto out;
	if (read_full(fa, x, plen) != (ssize_t) plen || memcmp(x, prefix, plen) != 0)
		goto out;
	if (lseek(fb, boff, SEEK_SET) != boff)
		goto out;
	for (;;) {
		na = read_full(fa, x, 65536);
		nb = read_full(fb, y, 65536);
		if (na != nb || na < 0 || memcmp(x, y, (size_t) na) != 0)
			goto out;
		if (na == 0)
			break;
	}
	eq = 1;
out:
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	free(x);
	free(y);
	return eq;
}

/* test_letter_big_file - copy a 50 MiB letter file, kernel and plain */
static void test_letter_big_file(void)
{
	static const unsigned flags[] = { 0, LETTER_W_NOSPLICE };
	char    err[LETTER_ERRLEN], src[300], dst[300];
	unsigned char *chunk = xmalloc(65536);
	struct buf prefix = BUF_INIT(LETTER_PREFIX_MAX);
	enum letter_status st;
	struct letter *l;
	struct stat sb;
	uint64_t off;
	int64_t wrote;
	size_t  n, i, mem0;
	int     fd, out;

	snprintf(src, sizeof(src), "%s/big.letter", tdir);
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write_full(fd, big_head, strlen(big_head)) == 0);
	for (off = 0; off < BIG_BODY; off += n) {
		n = BIG_BODY - off < 65536 ? (size_t) (BIG_BODY - off) : 65536;
		big_fill(chunk, off, n);
		CU_ASSERT_FATAL(write_full(fd, chunk, n) == 0);
	}
	CU_ASSERT_FATAL(close(fd) == 0);

	for (i = 0; i < NELEM(flags); i++) {
		fd = open(src, O_RDONLY);
		CU_ASSERT_FATAL(fd >= 0);
		l = letter_open_fd(fd, &st, err, sizeof(err));
		CU_ASSERT_FATAL(l != NULL);
		mem0 = letter_mem_used(l);
		buf_reset(&prefix);
		CU_ASSERT_FATAL(letter_prefix(&prefix, letter_rcpts(l), "ucl", 1700000000,
		    hdr_crlf(letter_hdr(l)), err, sizeof(err)) == 0);
		snprintf(dst, sizeof(dst), "%s/big.copy%zu", tdir, i);
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CU_ASSERT_FATAL(out >= 0);
		wrote = letter_write(out, buf_data(&prefix), prefix.len, l, flags[i],
		    err, sizeof(err));
		if (wrote < 0)
			fprintf(stderr, "\nletter_write: %s\n", err);
		EXPECT_INT(wrote, prefix.len + strlen(big_head) - letter_hdr_offset(l) + BIG_BODY);
		EXPECT_INT(letter_body_done(l), BIG_BODY);
		EXPECT_INT(letter_mem_used(l), mem0);
		CU_ASSERT(close(out) == 0);
		CU_ASSERT(stat(dst, &sb) == 0 && sb.st_size == wrote);
		CU_ASSERT(files_equal_from(dst, buf_data(&prefix), prefix.len, src,
		    (off_t) letter_hdr_offset(l)));
		letter_free(l);
		close(fd);
		unlink(dst);
	}
	unlink(src);
	buf_release(&prefix);
	free(chunk);
}

/* test_letter_prefix - exact bytes a copy adds */
static void test_letter_prefix(void)
{
	static const char want[] =
		"linington%cambridge@pss,\n"
		"\"john smith\"@ucl,\n"
		"bennett@ucl\n"
		"\n"
		"Via: ucl ; Tue, 14 Nov 2023 22:13:20 +0000\n";
	char    err[LETTER_ERRLEN];
	struct buf b = BUF_INIT(4096), small = BUF_INIT(10);
	struct addr_list *l;

	l = addr_list_parse("Linington <linington@cambridge@pss>, \"john smith\"@ucl\n"
	    "bennett at ucl\n", 69, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	EXPECT_INT(letter_prefix(&b, l, "ucl", 1700000000, 0, err, sizeof(err)), 0);
	CU_ASSERT_FATAL(buf_cstr(&b) != NULL);
	EXPECT_STR((const char *) buf_data(&b), want);
	/* no Via: line; CRLF Via: line */
	buf_reset(&b);
	EXPECT_INT(letter_prefix(&b, l, NULL, 0, 0, err, sizeof(err)), 0);
	EXPECT_INT(b.len, strlen(want) - strlen("Via: ucl ; Tue, 14 Nov 2023 22:13:20 +0000\n"));
	buf_reset(&b);
	EXPECT_INT(letter_prefix(&b, l, "ucl", 0, 1, err, sizeof(err)), 0);
	CU_ASSERT(b.len > 2 && memcmp(buf_data(&b) + b.len - 2, "\r\n", 2) == 0);
	/* failures leave out unchanged */
	buf_reset(&b);
	EXPECT_INT(letter_prefix(&b, l, "bad node", 0, 0, err, sizeof(err)), -1);
	EXPECT_HAS(err, "letter prefix: Via: host name 'bad node'");
	EXPECT_INT(b.len, 0);
	EXPECT_INT(letter_prefix(&small, l, "ucl", 0, 0, err, sizeof(err)), -1);
	EXPECT_HAS(err, "do not fit");
	EXPECT_INT(small.len, 0);
	addr_list_free(l);
	l = addr_list_new();
	EXPECT_INT(letter_prefix(&b, l, "ucl", 0, 0, err, sizeof(err)), -1);
	EXPECT_HAS(err, "letter prefix: empty address list");
	addr_list_free(l);
	buf_release(&b);
	buf_release(&small);
}

/* copy_to_file - open text through a callback and write a copy */
static int64_t copy_to_file(const char *text, const char *path, const struct buf *prefix,
	unsigned flags, char *err, size_t errlen)
{
	struct memsrc m;
	struct letter *l;
	int64_t n;
	int     fd;

	memset(&m, 0, sizeof(m));
	m.p = text;
	m.len = strlen(text);
	m.chunk = 5;
	l = letter_open(mem_read, &m, NULL, err, errlen);
	CU_ASSERT_FATAL(l != NULL);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	n = letter_write(fd, buf_data(prefix), prefix->len, l, flags, err, errlen);
	close(fd);
	letter_free(l);
	return n;
}

/* test_letter_copy - write a copy, read it back, re-send identically */
static void test_letter_copy(void)
{
	char    err[LETTER_ERRLEN], p1[300], p2[300];
	struct buf prefix = BUF_INIT(4096);
	struct addr_list *rc;
	struct letter *l;
	enum letter_status st;
	size_t  n, hlen;
	const char *hb;
	char   *a, *b, *body;
	int     fd;

	rc = addr_list_parse("linington%cambridge@pss", 23, err, sizeof(err));
	CU_ASSERT_FATAL(rc != NULL);
	CU_ASSERT_FATAL(letter_prefix(&prefix, rc, "ucl", 1700000000, 0, err, sizeof(err)) == 0);
	snprintf(p1, sizeof(p1), "%s/copy1", tdir);
	snprintf(p2, sizeof(p2), "%s/copy2", tdir);
	EXPECT_INT(copy_to_file(indra, p1, &prefix, 0, err, sizeof(err)),
	    prefix.len + strlen(indra) - (strstr(indra, "Date:") - indra));
	EXPECT_INT(copy_to_file(indra, p2, &prefix, LETTER_W_NOSPLICE, err, sizeof(err)),
	    prefix.len + strlen(indra) - (strstr(indra, "Date:") - indra));
	/* a re-send from the stored prefix is the same bytes */
	a = durable_read_file(p1, 1 << 20, &n, err, sizeof(err));
	b = durable_read_file(p2, 1 << 20, &hlen, err, sizeof(err));
	CU_ASSERT_FATAL(a != NULL && b != NULL);
	CU_ASSERT(n == hlen && memcmp(a, b, n) == 0);
	/* and it is the prefix, then the original from its header on */
	CU_ASSERT(memcmp(a, buf_data(&prefix), prefix.len) == 0);
	CU_ASSERT(strcmp(a + prefix.len, strstr(indra, "Date:")) == 0);
	free(a);
	free(b);

	/* the copy is a good letter: next hop's view */
	fd = open(p1, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	l = letter_open_fd(fd, &st, err, sizeof(err));
	CU_ASSERT_FATAL(l != NULL);
	EXPECT_STR(rcpts_str(letter_rcpts(l)), "linington%cambridge@pss");
	EXPECT_INT(hdr_via_count(letter_hdr(l)), 1);
	hb = hdr_block(letter_hdr(l), &hlen);
	CU_ASSERT(hlen > 4 && memcmp(hb, "Via: ucl ; ", 11) == 0);
	body = body_all(l, &n);
	EXPECT_INT(n, strlen("text...\nmore text \xe2\x80\x94 8-bit kept\n"));
	CU_ASSERT(memcmp(body, "text...\nmore text \xe2\x80\x94 8-bit kept\n", n) == 0);
	free(body);
	letter_free(l);
	close(fd);
	unlink(p1);
	unlink(p2);
	addr_list_free(rc);
	buf_release(&prefix);
}

/* test_letter_write_fault - an injected ENOSPC is reported, per part */
static void test_letter_write_fault(void)
{
	static const struct {
		unsigned long nth;
		const char *why;
	} t[] = {
		{ 1, "write copy (prefix): No space left on device" },
		{ 2, "write copy (header): No space left on device" },
		{ 3, "write copy (body): No space left on device" },
	};
	char    err[LETTER_ERRLEN], p[300];
	struct buf prefix = BUF_INIT(4096);
	struct addr_list *rc;
	size_t  i;

	rc = addr_list_parse("a@b", 3, err, sizeof(err));
	CU_ASSERT_FATAL(letter_prefix(&prefix, rc, NULL, 0, 0, err, sizeof(err)) == 0);
	snprintf(p, sizeof(p), "%s/fault", tdir);
	for (i = 0; i < NELEM(t); i++) {
		sysio_reset();
		sysio_fail(SYSIO_WRITE, t[i].nth, ENOSPC);
		err[0] = 0;
		EXPECT_INT(copy_to_file(indra, p, &prefix, LETTER_W_NOSPLICE, err, sizeof(err)), -1);
		EXPECT_HAS(err, t[i].why);
	}
	sysio_reset();
	unlink(p);
	addr_list_free(rc);
	buf_release(&prefix);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "reader", "good letters at every read size", test_letter_good },
		{ "reader", "malformed letters name the line", test_letter_bad },
		{ "reader", "caps", test_letter_caps },
		{ "reader", "read errors", test_letter_io },
		{ "reader", "50 MiB body from a pipe, flat memory", test_letter_big_pipe },
		{ "writer", "exact prefix bytes", test_letter_prefix },
		{ "writer", "copy, re-read, identical re-send", test_letter_copy },
		{ "writer", "50 MiB file, kernel and plain copy", test_letter_big_file },
		{ "writer", "injected ENOSPC", test_letter_write_fault },
	};
	int     rc;

	if (tl_tmpdir(tdir, sizeof(tdir), "test_letter") < 0)
		return 1;
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	rmdir(tdir);
	return rc;
}
