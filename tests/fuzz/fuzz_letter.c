/*++
 * NAME
 *	fuzz_letter 1
 * SUMMARY
 *	libFuzzer target: letter reader, header parser, Via: and writer
 * SYNOPSIS
 *	build-fuzz/fuzz_letter [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The first input byte chooses how many bytes the read callback
 *	hands out per call (1..256), so lines straddle reads; the rest is
 *	the letter. An accepted letter must account for every byte:
 *	header offset + header block + body = input size. Its header then
 *	goes through the Via: and return-path code, and the letter is
 *	written as a copy to /dev/null with the size checked. The whole
 *	input is also given to hdr_parse() directly.
 *--*/
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *p;
	size_t	len;
	size_t	pos;
	size_t	chunk;
};

static ssize_t src_read(void *ctx, void *dst, size_t len)
{
	struct src *s = ctx;
	size_t  n = s->len - s->pos;

	if (n > len)
		n = len;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(dst, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t) n;
}

/* poke_hdr - exercise the header functions on a parsed header */
static void poke_hdr(struct hdr *h)
{
	char    err[HDR_ERRLEN];
	struct addr *a;
	char  **v;
	size_t  i, n;
	char   *s;

	for (i = 0; i < hdr_count(h); i++) {
		s = hdr_value(h, i);
		free(s);
	}
	v = hdr_via_hosts(h, &n);
	if (n > hdr_via_count(h))
		abort();
	hdr_strv_free(v);
	a = hdr_return_path(h, "calling-host", err, sizeof(err));
	addr_free(a);
	n = hdr_via_count(h);
	if (hdr_insert_via(h, "fuzz-node", 1700000000, err, sizeof(err)) == 0
	    && hdr_via_count(h) != n + 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	char    err[LETTER_ERRLEN], body[4096];
	struct buf prefix = BUF_INIT(LETTER_PREFIX_MAX);
	enum letter_status st;
	struct letter *l;
	struct src s;
	struct hdr *h;
	const char *hb;
	size_t  hlen;
	ssize_t n;
	int64_t w;

	if (size == 0)
		return 0;
	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	/* the header parser alone */
	h = hdr_parse((const char *) data + 1, size - 1, 1, err, sizeof(err));
	if (h != NULL) {
		poke_hdr(h);
		hdr_free(h);
	}

	/* the letter reader, then the body stream or the writer */
	memset(&s, 0, sizeof(s));
	s.p = data + 1;
	s.len = size - 1;
	s.chunk = (size_t) data[0] + 1;
	l = letter_open(src_read, &s, &st, err, sizeof(err));
	if (l == NULL) {
		if (st == LETTER_OK)
			abort();
		return 0;
	}
	hb = hdr_block(letter_hdr(l), &hlen);
	(void) hb;
	if (letter_hdr_offset(l) + hlen != letter_body_offset(l))
		abort();
	if (data[0] & 1) {
		while ((n = letter_body_read(l, body, sizeof(body))) > 0)
			;
		if (letter_body_offset(l) + letter_body_done(l) != size - 1)
			abort();
	} else if (letter_prefix(&prefix, letter_rcpts(l), "relay", 0,
	    hdr_crlf(letter_hdr(l)), err, sizeof(err)) == 0 && devnull >= 0) {
		w = letter_write(devnull, buf_data(&prefix), prefix.len, l,
		    LETTER_W_NOSPLICE, err, sizeof(err));
		if (w != (int64_t) (prefix.len + (size - 1) - letter_hdr_offset(l)))
			abort();
	}
	buf_release(&prefix);
	letter_free(l);
	return 0;
}
