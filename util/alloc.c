/*++
 * NAME
 *	alloc 3
 * SUMMARY
 *	memory allocation wrappers that never return NULL
 * SYNOPSIS
 *	#include "util/alloc.h"
 * DESCRIPTION
 *	Thin wrappers around malloc(3) and friends. Every failure, and
 *	every size computation that would overflow, ends in log_panic():
 *	running out of memory in a mail relay is not something a caller
 *	can recover from half-way through a letter.
 *
 *	Zero-byte requests are turned into one-byte requests so that the
 *	result is always a unique, freeable pointer and never NULL.
 * DIAGNOSTICS
 *	Panic: out of memory; size overflow.
 *--*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"

/* xmalloc - allocate len bytes (len 0 yields a unique pointer) */
void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p == NULL)
		log_panic("xmalloc: out of memory (%zu bytes)", len);
	return p;
}

/* xcalloc - allocate n zeroed elements of size each; overflow panics */
void *xcalloc(size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		log_panic("xcalloc: size overflow (%zu * %zu)", n, size);
	if (n == 0 || size == 0)
		n = size = 1;
	if ((p = calloc(n, size)) == NULL)
		log_panic("xcalloc: out of memory (%zu * %zu bytes)", n, size);
	return p;
}

/* xrealloc - resize; ptr may be NULL */
void *xrealloc(void *ptr, size_t len)
{
	/* realloc(p, 0) may free p and return NULL: never ask for 0. */
	void *p = realloc(ptr, len ? len : 1);

	if (p == NULL)
		log_panic("xrealloc: out of memory (%zu bytes)", len);
	return p;
}

/* xstrdup - copy a NUL-terminated string */
char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

/* xstrndup - copy at most n bytes of s and terminate */
char *xstrndup(const char *s, size_t n)
{
	return xmemdup(s, strnlen(s, n));
}

/* xmemdup - copy len bytes; the result is NUL-terminated one past len */
void *xmemdup(const void *p, size_t len)
{
	char *q;

	if (len == SIZE_MAX)
		log_panic("xmemdup: size overflow");
	q = xmalloc(len + 1);
	if (len)
		memcpy(q, p, len);
	q[len] = '\0';
	return q;
}

/* xasprintf - formatted string in new memory */
char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char   *s;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		log_panic("xasprintf: bad format '%s'", fmt);
	s = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return s;
}
