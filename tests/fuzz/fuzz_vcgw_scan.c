/*++
 * NAME
 *	fuzz_vcgw_scan 1
 * SUMMARY
 *	libFuzzer target for the gateway's Yellow Book header scanner
 * SYNOPSIS
 *	build-fuzz/fuzz_vcgw_scan [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The gateway's pump (vcgw/vcgw_pump.c) walks the record headers of
 *	what a caller sends before it splices those octets on, so the
 *	scanner reads hostile bytes. The input is two octets that seed the
 *	starting place and the chunking, then a stream. It is scanned in
 *	one piece and in pseudo-random pieces, from the same place: both
 *	must walk as far, count the same payload, stop alike and end in the
 *	same place. From a record boundary, what the scanner walked must be
 *	what the Yellow Book decoder takes as data: where the decoder finds
 *	those octets good, it must see exactly the payload the scanner
 *	counted. The scanner must never read past what it was given (ASan).
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/ts.h"
#include "niftp/ts_yb.h"
#include "vcgw/vcgw_pump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_data(void *arg, const unsigned char *p, size_t len, int push)
{
	uint64_t *n = arg;

	(void)p;
	(void)push;
	*n += len;
	return 0;
}

static int on_cmd(void *arg, const struct yb_cmd *c)
{
	(void)arg;
	(void)c;
	return -1;	/* the scanner stops before any command */
}

static const struct yb_dec_cb cb = { on_data, on_cmd };

/* start - the place a seed octet names: at a boundary, inside a record
 * between sub-records, or inside a sub-record body */
static void start(struct vcgw_scan *st, unsigned seed)
{
	memset(st, 0, sizeof(*st));
	switch (seed % 3) {
	case 1:
		st->in_record = 1;
		break;
	case 2:
		st->in_record = 1;
		st->body = 1 + (seed >> 2) % VCGW_PUMP_SUBMAX;
		st->last = (seed & 2) != 0;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcgw_scan a, b;
	struct yb_dec *d;
	uint64_t pa = 0, pb = 0, seen = 0;
	size_t wa, wb = 0, w, piece;
	unsigned seed, chunk;
	int sa, sb = 0;

	if (size < 2)
		return 0;
	seed = data[0];
	chunk = data[1] | 1u;
	data += 2;
	size -= 2;

	start(&a, seed);
	wa = vcgw_pump_scan(&a, data, size, &pa, &sa);
	if (wa > size || pa > wa || (!sa && wa != size) || (sa && wa == size))
		abort();
	if (sa && (a.in_record || a.body != 0 || data[wa] == 0))
		abort();	/* it stops only before a type octet that is not 0 */
	if (a.body > VCGW_PUMP_SUBMAX || (a.body > 0 && !a.in_record))
		abort();

	start(&b, seed);
	while (wb < size && !sb) {
		chunk = chunk * 1103515245u + 12345u;
		piece = 1 + (chunk >> 16) % 300;
		if (piece > size - wb)
			piece = size - wb;
		w = vcgw_pump_scan(&b, data + wb, piece, &pb, &sb);
		if (w > piece || (!sb && w != piece))
			abort();
		wb += w;
	}
	if (wa != wb || pa != pb || sa != sb || a.in_record != b.in_record
	    || a.body != b.body || (a.body > 0 && a.last != b.last))
		abort();

	/* from a boundary the decoder sees the same data in what was walked */
	if (seed % 3 == 0) {
		d = yb_dec_new(&cb, &seen);
		if (yb_dec_feed(d, data, wa) == 0 && yb_dec_error(d) == NULL
		    && seen != pa)
			abort();
		yb_dec_free(d);
	}
	return 0;
}
