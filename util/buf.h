/*++
 * NAME
 *	buf 3h
 * SUMMARY
 *	byte buffers with a hard cap (curl's dynbuf)
 * SYNOPSIS
 *	#include "util/buf.h"
 * DESCRIPTION
 *	A struct buf holds bytes data[off .. off+len). Appends grow the
 *	allocation up to max bytes in all; an append that would pass max
 *	fails with -1 and leaves the buffer unchanged, so a peer can never
 *	make us allocate without bound. Consumed bytes at the front are
 *	reclaimed lazily (compacted on append).
 *
 *	The fields are public for cheap reading; change them only through
 *	these functions. buf_data() stays valid until the next call that
 *	modifies the buffer.
 *--*/
#ifndef UTIL_BUF_H
#define UTIL_BUF_H

#include <stddef.h>

struct buf {
	unsigned char *data;	/* allocation */
	size_t	off;		/* first unread byte */
	size_t	len;		/* unread bytes */
	size_t	cap;		/* allocation size */
	size_t	max;		/* hard cap on len */
};

#define BUF_INIT(maxlen) { NULL, 0, 0, 0, (maxlen) }

/* buf_init - empty buffer that may hold at most max bytes */
void buf_init(struct buf *b, size_t max);
/* buf_release - free the memory; the buffer may be reused after buf_init */
void buf_release(struct buf *b);
/* buf_append - add len bytes; 0, or -1 when max would be passed */
int  buf_append(struct buf *b, const void *p, size_t len);
/* buf_putc - add one byte; 0 or -1 */
int  buf_putc(struct buf *b, int c);
/* buf_printf - add formatted text (no NUL stored); 0 or -1 */
int  buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_data - pointer to the first unread byte */
static inline unsigned char *buf_data(const struct buf *b) { return b->data + b->off; }
/* buf_room - how many more bytes may be appended before max */
static inline size_t buf_room(const struct buf *b) { return b->max - b->len; }
/* buf_consume - drop n bytes from the front (n <= len, else panic) */
void buf_consume(struct buf *b, size_t n);
/* buf_reset - drop everything, keep the allocation */
void buf_reset(struct buf *b);
/* buf_reserve - make room for n more bytes and return where they go;
 * the caller then calls buf_commit(b, used). NULL when max would pass. */
unsigned char *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t used);
/* buf_cstr - NUL-terminate the contents (not counted in len) and return them;
 * NULL when no room is left under max for the terminator. */
char *buf_cstr(struct buf *b);

#endif
