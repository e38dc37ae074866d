/*++
 * NAME
 *	intent 3
 * SUMMARY
 *	the spool's redo intent record: format, encoder, parser
 * SYNOPSIS
 *	#include "spool/intent.h"
 * DESCRIPTION
 *	The encoder appends to a capped struct buf; the header's length
 *	and CRC are filled in last by intent_seal(). The parser checks the
 *	CRC before it looks at anything else, then moves a cursor that
 *	never passes the body's length; every count is checked against
 *	the octets left before anything is allocated for it, so a garbage
 *	record that passed its CRC by chance still costs no more memory
 *	than its own size.
 *--*/
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "spool/intent.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#define INTENT_MAGIC	"nmi2"
#define INTENT_MAGIC1	"nmi1"		/* the first format: no trash field */
#define INTENT_OPMIN	(4 + 8 + 4 * 3)	/* an operation with four empty strings
					 * (first format: the smallest) */

/* intent_le - append v as n little-endian octets */
static int intent_le(struct buf *b, uint64_t v, int n)
{
	unsigned char o[8];
	int     i;

	for (i = 0; i < n; i++)
		o[i] = (unsigned char) (v >> (8 * i));
	return buf_append(b, o, (size_t) n);
}

/* intent_get - n little-endian octets at p */
static uint64_t intent_get(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int     i;

	for (i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* intent_set32 - overwrite 4 octets at p */
static void intent_set32(unsigned char *p, uint32_t v)
{
	int     i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

/* intent_begin - start a record */
int intent_begin(struct buf *b, uint64_t jino, uint64_t joff)
{
	buf_reset(b);
	if (buf_append(b, INTENT_MAGIC, 4) < 0 || intent_le(b, 0, 4) < 0
	    || intent_le(b, 0, 4) < 0 || intent_le(b, jino, 8) < 0
	    || intent_le(b, joff, 8) < 0 || intent_le(b, 0, 4) < 0)
		return -1;
	return 0;
}

/* intent_put_txn - start a transaction */
int intent_put_txn(struct buf *b, size_t nops, size_t linelen)
{
	PANIC_IF(nops > UINT32_MAX || linelen > UINT32_MAX);
	if (intent_le(b, nops, 4) < 0 || intent_le(b, linelen, 4) < 0)
		return -1;
	return 0;
}

/* intent_put_str - u16 length, octets, NUL */
static int intent_put_str(struct buf *b, const char *s)
{
	size_t  n = s ? strlen(s) : 0;

	PANIC_IF(n > INTENT_STRMAX);
	if (intent_le(b, n, 2) < 0 || buf_append(b, s ? s : "", n) < 0 || buf_putc(b, 0) < 0)
		return -1;
	return 0;
}

/* intent_put_op - add one operation */
int intent_put_op(struct buf *b, const struct intent_op *op)
{
	PANIC_IF(op->kind > 255 || op->from > 255 || op->to > 255);
	if (intent_le(b, op->kind, 1) < 0 || intent_le(b, op->from, 1) < 0
	    || intent_le(b, op->to, 1) < 0 || intent_le(b, 0, 1) < 0
	    || intent_le(b, op->ino, 8) < 0 || intent_le(b, op->trash, 8) < 0
	    || intent_put_str(b, op->name) < 0
	    || intent_put_str(b, op->newname) < 0 || intent_put_str(b, op->dkfile) < 0
	    || intent_put_str(b, op->dktmp) < 0)
		return -1;
	return 0;
}

/* intent_seal - count, length, CRC */
void intent_seal(struct buf *b, size_t ntxn)
{
	unsigned char *p = buf_data(b);
	size_t  body = b->len - INTENT_HEADLEN;

	PANIC_IF(b->len < INTENT_HEADLEN + 20 || ntxn > UINT32_MAX || body > UINT32_MAX);
	intent_set32(p + INTENT_HEADLEN + 16, (uint32_t) ntxn);
	intent_set32(p + 4, (uint32_t) body);
	intent_set32(p + 8, (uint32_t) crc32(0L, p + INTENT_HEADLEN, (uInt) body));
}

/* intent_head - does p start a record? */
int intent_head(const void *p, size_t len, size_t *bodylen)
{
	const unsigned char *q = p;

	if (len < INTENT_HEADLEN || (memcmp(q, INTENT_MAGIC, 4) != 0
	    && memcmp(q, INTENT_MAGIC1, 4) != 0))
		return 0;
	*bodylen = (size_t) intent_get(q + 4, 4);
	return 1;
}

/* intent_str - the string field at *pos (below end) into *sp (NULL
 * when empty); 0, or -1 when malformed */
static int intent_str(const unsigned char *p, size_t end, size_t *pos, const char **sp)
{
	size_t  n;
	const char *s;

	if (end - *pos < 3)
		return -1;
	n = (size_t) intent_get(p + *pos, 2);
	if (n > INTENT_STRMAX || end - *pos - 2 < n + 1)
		return -1;
	s = (const char *) p + *pos + 2;
	if (s[n] != '\0' || memchr(s, '\0', n) != NULL)
		return -1;
	*pos += 2 + n + 1;
	*sp = n ? s : NULL;
	return 0;
}

/* intent_parse - check and parse a record */
int intent_parse(const void *data, size_t len, struct intent *rec)
{
	const unsigned char *p = data;
	size_t  body, pos, end, i, j, nops, nlen, aop = 0, fixed;
	uint64_t ntxn;
	struct intent_op *op;

	memset(rec, 0, sizeof(*rec));
	if (!intent_head(p, len, &body) || body > len - INTENT_HEADLEN || body < 20
	    || intent_get(p + 8, 4) != crc32(0L, p + INTENT_HEADLEN, (uInt) body))
		goto bad;
	/* an operation's fixed part: kind..inode, and trash unless "nmi1" */
	fixed = memcmp(p, INTENT_MAGIC1, 4) == 0 ? 12 : 20;
	end = INTENT_HEADLEN + body;
	pos = INTENT_HEADLEN;
	rec->jino = intent_get(p + pos, 8);
	rec->joff = intent_get(p + pos + 8, 8);
	ntxn = intent_get(p + pos + 16, 4);
	pos += 20;
	if (ntxn > (end - pos) / 8)
		goto bad;
	rec->txn = xcalloc(ntxn ? (size_t) ntxn : 1, sizeof(*rec->txn));
	for (i = 0; i < ntxn; i++) {
		if (end - pos < 8)
			goto bad;
		nops = (size_t) intent_get(p + pos, 4);
		nlen = (size_t) intent_get(p + pos + 4, 4);
		pos += 8;
		if (nops > (end - pos) / INTENT_OPMIN)
			goto bad;
		if (rec->nop + nops > aop) {
			aop = 2 * (rec->nop + nops) + 4;
			rec->op = xrealloc(rec->op, aop * sizeof(*rec->op));
		}
		rec->txn[i].op0 = rec->nop;
		rec->txn[i].nops = nops;
		for (j = 0; j < nops; j++) {
			op = &rec->op[rec->nop++];
			if (end - pos < fixed)
				goto bad;
			op->kind = p[pos];
			op->from = p[pos + 1];
			op->to = p[pos + 2];
			op->ino = intent_get(p + pos + 4, 8);
			op->trash = fixed > 12 ? intent_get(p + pos + 12, 8) : 0;
			pos += fixed;
			if (intent_str(p, end, &pos, &op->name) < 0
			    || intent_str(p, end, &pos, &op->newname) < 0
			    || intent_str(p, end, &pos, &op->dkfile) < 0
			    || intent_str(p, end, &pos, &op->dktmp) < 0)
				goto bad;
		}
		if (nlen > end - pos)
			goto bad;
		rec->txn[i].lines = (const char *) p + pos;
		rec->txn[i].linelen = nlen;
		rec->linelen += nlen;
		pos += nlen;
	}
	if (pos != end)
		goto bad;
	rec->ntxn = (size_t) ntxn;
	return 0;
bad:
	intent_release(rec);
	errno = EBADMSG;
	return -1;
}

/* intent_release - free the arrays */
void intent_release(struct intent *rec)
{
	free(rec->txn);
	free(rec->op);
	memset(rec, 0, sizeof(*rec));
}
