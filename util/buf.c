/*++
 * NAME
 *	buf 3
 * SUMMARY
 *	byte buffers with a hard cap (curl's dynbuf)
 * SYNOPSIS
 *	#include "util/buf.h"
 * DESCRIPTION
 *	The allocation grows by doubling but never beyond max bytes, the
 *	hard cap on unread data, so a buffer fed by a peer is bounded by
 *	its creator's choice. Consumed bytes at the front stay in place
 *	until an append needs the room; then the unread bytes are moved
 *	to the start (one memmove per compaction, amortised).
 * DIAGNOSTICS
 *	Panic: buf_consume() or buf_commit() beyond what the buffer holds.
 *	Appends past the cap are not errors of ours: they return -1.
 *--*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#define BUF_MIN_ALLOC	64

/* buf_init - empty buffer that may hold at most max bytes */
void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	b->max = max;
}

/* buf_release - free the memory; the buffer may be reused after buf_init */
void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

/* buf_space - make n bytes writable after the unread data; -1 past max */
static int buf_space(struct buf *b, size_t n)
{
	size_t need, ncap;

	if (n > b->max - b->len)
		return -1;
	need = b->len + n;
	if (b->off + need <= b->cap)
		return 0;
	if (need <= b->cap) {
		if (b->len)
			memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return 0;
	}
	ncap = b->cap ? b->cap : BUF_MIN_ALLOC;
	while (ncap < need && ncap <= b->max / 2)
		ncap *= 2;
	if (ncap < need)
		ncap = need;
	if (ncap > b->max)
		ncap = b->max;
	/* Compact before growing: realloc then copies only live bytes. */
	if (b->off && b->len)
		memmove(b->data, b->data + b->off, b->len);
	b->off = 0;
	b->data = xrealloc(b->data, ncap);
	b->cap = ncap;
	return 0;
}

/* buf_append - add len bytes; 0, or -1 when max would be passed */
int buf_append(struct buf *b, const void *p, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_space(b, len) < 0)
		return -1;
	memcpy(b->data + b->off + b->len, p, len);
	b->len += len;
	return 0;
}

/* buf_putc - add one byte; 0 or -1 */
int buf_putc(struct buf *b, int c)
{
	unsigned char ch = (unsigned char) c;

	return buf_append(b, &ch, 1);
}

/* buf_printf - add formatted text (no NUL stored); 0 or -1 */
int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char   *tmp;
	int     n, ret;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n > b->max - b->len)
		return -1;
	if (n == 0)
		return 0;
	if ((size_t) n < b->max - b->len) {
		/* vsnprintf's NUL lands in the byte after: room exists. */
		if (buf_space(b, (size_t) n + 1) < 0)
			return -1;
		va_start(ap, fmt);
		vsnprintf((char *) b->data + b->off + b->len, (size_t) n + 1, fmt, ap);
		va_end(ap);
		b->len += (size_t) n;
		return 0;
	}
	/* Exactly fills the cap: no room for the NUL, format aside. */
	tmp = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(tmp, (size_t) n + 1, fmt, ap);
	va_end(ap);
	ret = buf_append(b, tmp, (size_t) n);
	free(tmp);
	return ret;
}

/* buf_consume - drop n bytes from the front (n <= len, else panic) */
void buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		log_panic("buf_consume: %zu bytes asked, %zu held", n, b->len);
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

/* buf_reset - drop everything, keep the allocation */
void buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

/* buf_reserve - make room for n more bytes and return where they go */
unsigned char *buf_reserve(struct buf *b, size_t n)
{
	if (buf_space(b, n) < 0)
		return NULL;
	/* buf_reserve(b, 0) on a fresh buffer still needs a real pointer. */
	if (b->data == NULL && buf_space(b, 1) < 0)
		return NULL;
	return b->data + b->off + b->len;
}

/* buf_commit - count used bytes written after buf_reserve() */
void buf_commit(struct buf *b, size_t used)
{
	if (used > b->max - b->len || b->off + b->len + used > b->cap)
		log_panic("buf_commit: %zu bytes committed, room for %zu",
		    used, b->cap - b->off - b->len);
	b->len += used;
}

/* buf_cstr - NUL-terminate the contents (not counted in len) and return them */
char *buf_cstr(struct buf *b)
{
	if (buf_space(b, 1) < 0)
		return NULL;
	b->data[b->off + b->len] = '\0';
	return (char *) buf_data(b);
}
