/*++
 * NAME
 *	fuzz_rec 1
 * SUMMARY
 *	libFuzzer target for the strict line-record reader (relay/rec.h)
 * SYNOPSIS
 *	build-fuzz/fuzz_rec [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The input is a whole record. rec_each() must never read past it
 *	(ASan). A callback that takes every line checks what it is given
 *	(a valid key, a NUL-terminated value without NUL octets) and the
 *	round trip of each value: rec_addn() writes exactly one line, and
 *	rec_each() of that line gives the same key and the same octets.
 *	When the whole record parses, the lines written again one after
 *	another parse again into as many lines: no value can turn into an
 *	extra line or key.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/rec.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct expect {
	const char *key;
	const char *val;
	size_t	vlen;
	unsigned n;
};

struct whole {
	struct buf b;
	unsigned n;
};

/* same - the one line of a round trip must be what was written */
static int same(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct expect *x = arg;

	(void) err;
	(void) errlen;
	if (x->n++ != 0 || strcmp(key, x->key) != 0 || vlen != x->vlen
	    || memcmp(val, x->val, vlen) != 0)
		abort();
	return 0;
}

/* count - lines of the record written again */
static int count(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	(void) key;
	(void) val;
	(void) vlen;
	(void) err;
	(void) errlen;
	((struct whole *) arg)->n++;
	return 0;
}

/* take - every line: check it, round-trip it, add it to the whole */
static int take(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct whole *w = arg;
	struct buf b = BUF_INIT(4 * REC_TEXT_MAX);
	struct expect x;
	size_t  k;
	char    e[256];

	(void) err;
	(void) errlen;
	k = strlen(key);
	if (k == 0 || k >= REC_KEY_MAX || val[vlen] != '\0' || memchr(val, '\0', vlen) != NULL)
		abort();
	if (rec_addn(&b, key, val, vlen) < 0)
		abort();
	if (b.len < k + 2 || buf_data(&b)[b.len - 1] != '\n'
	    || memchr(buf_data(&b), '\n', b.len - 1) != NULL)
		abort();			/* exactly one line */
	x.key = key;
	x.val = val;
	x.vlen = vlen;
	x.n = 0;
	if (rec_each((const char *) buf_data(&b), b.len, same, &x, e, sizeof(e)) < 0 || x.n != 1)
		abort();
	if (buf_append(&w->b, buf_data(&b), b.len) < 0)
		abort();
	w->n++;
	buf_release(&b);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct whole w, again;
	char    err[256];

	buf_init(&w.b, 8 * REC_TEXT_MAX);
	w.n = 0;
	if (rec_each((const char *) data, size, take, &w, err, sizeof(err)) == 0) {
		again.n = 0;
		if (w.b.len > REC_TEXT_MAX)
			goto out;		/* escaping grew it past the reader's limit */
		if (rec_each((const char *) buf_data(&w.b), w.b.len, count, &again, err,
		    sizeof(err)) < 0 || again.n != w.n)
			abort();
	} else if (err[0] == '\0') {
		abort();			/* a rejection always says why */
	}
out:
	buf_release(&w.b);
	return 0;
}
