/*++
 * NAME
 *	fuzz_yb 1
 * SUMMARY
 *	libFuzzer target for the Yellow Book decoder
 * SYNOPSIS
 *	build-fuzz/fuzz_yb [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The input is a Yellow Book stream preceded by one octet that seeds
 *	the chunking. It is decoded three ways: in one piece, in small
 *	pseudo-random pieces, and in one piece with callbacks that stop the
 *	decoder now and then (the rest is fed again, as ts.c does on a
 *	pause). All three must see the same data, pushes and commands and
 *	the same verdict; the decoder must never read past what it was
 *	given (ASan) and must respect its parameter limit.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/ts.h"
#include "niftp/ts_yb.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* what one decoding saw: a running digest, so that any difference shows */
struct seen {
	uint64_t hash;
	size_t	octets;
	unsigned ncmd, npush;
	unsigned stopper;	/* stop every Nth callback (0 never) */
	unsigned calls;
};

static void mix(struct seen *s, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		s->hash = (s->hash ^ p[i]) * 1099511628211ULL;
}

static int stop_now(struct seen *s)
{
	return s->stopper && ++s->calls % s->stopper == 0 ? -1 : 0;
}

static int on_data(void *arg, const unsigned char *p, size_t len, int push)
{
	struct seen *s = arg;

	mix(s, p, len);
	s->octets += len;
	if (push) {
		s->npush++;
		/* a push is a boundary: fold it in so that moved pushes differ */
		s->hash = (s->hash ^ 0x100) * 1099511628211ULL;
	}
	return stop_now(s);
}

static int on_cmd(void *arg, const struct yb_cmd *c)
{
	struct seen *s = arg;
	unsigned char code = (unsigned char)c->code;
	int i;

	if (c->code < YB_CONNECT || c->code > YB_RESET || c->nparam < 3
	    || c->nparam > YB_NPARAM)
		abort();
	s->ncmd++;
	mix(s, &code, 1);
	for (i = 0; i < c->nparam; i++) {
		if (c->plen[i] > YB_MAX_PARAM || c->param[i][c->plen[i]] != 0)
			abort();
		mix(s, c->param[i], c->plen[i]);
		s->hash = (s->hash ^ (0x200u + (unsigned)c->pnull[i])) * 1099511628211ULL;
	}
	if ((c->code == YB_DISCONNECT || c->code == YB_RESET) && c->plen[0] > 1)
		abort();
	return stop_now(s);
}

static const struct yb_dec_cb cb = { on_data, on_cmd };

/* decode - run one decoding; 0 clean, 1 framing error */
static int decode(const uint8_t *p, size_t n, unsigned seed, unsigned stopper,
	struct seen *s)
{
	struct yb_dec *d;
	size_t off = 0, piece, used;
	int rc = 0, err = 0;

	memset(s, 0, sizeof(*s));
	s->stopper = stopper;
	d = yb_dec_new(&cb, s);
	while (off < n) {
		if (seed == 0) {
			piece = n - off;
		} else {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 17;
			if (piece > n - off)
				piece = n - off;
		}
		rc = yb_dec_feed(d, p + off, piece);
		used = yb_dec_consumed(d);
		if (used > piece)
			abort();
		if (rc < 0 && yb_dec_error(d) != NULL) {
			err = 1;
			break;
		}
		off += used;
		if (rc < 0 && stopper == 0)
			abort();	/* stopped with nobody asking */
		if (rc < 0 && used == 0)
			abort();	/* a stop must make progress */
	}
	yb_dec_free(d);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a, b, c;
	int ea, eb, ec;
	unsigned seed;

	if (size < 1)
		return 0;
	seed = data[0] | 1u;
	data++;
	size--;
	ea = decode(data, size, 0, 0, &a);
	eb = decode(data, size, seed, 0, &b);
	ec = decode(data, size, 0, 1 + (seed >> 1) % 3, &c);
	if (ea != eb || ea != ec)
		abort();
	if (!ea && (a.hash != b.hash || a.octets != b.octets || a.ncmd != b.ncmd
	    || a.npush != b.npush))
		abort();
	if (!ea && (a.hash != c.hash || a.octets != c.octets || a.ncmd != c.ncmd
	    || a.npush != c.npush))
		abort();
	return 0;
}
