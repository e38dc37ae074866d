/*++
 * NAME
 *	alloc 3h
 * SUMMARY
 *	memory allocation wrappers that never return NULL
 * SYNOPSIS
 *	#include "util/alloc.h"
 * DESCRIPTION
 *	Each wrapper panics (util/log.h) when the allocator fails, so
 *	callers never test for NULL. Sizes are checked for overflow.
 *--*/
#ifndef UTIL_ALLOC_H
#define UTIL_ALLOC_H

#include <stddef.h>

/* xmalloc - allocate len bytes (len 0 yields a unique pointer) */
void *xmalloc(size_t len);
/* xcalloc - allocate n zeroed elements of size each; overflow panics */
void *xcalloc(size_t n, size_t size);
/* xrealloc - resize; ptr may be NULL */
void *xrealloc(void *ptr, size_t len);
/* xstrdup - copy a NUL-terminated string */
char *xstrdup(const char *s);
/* xstrndup - copy at most n bytes of s and terminate */
char *xstrndup(const char *s, size_t n);
/* xmemdup - copy len bytes; the result is NUL-terminated one past len */
void *xmemdup(const void *p, size_t len);
/* xasprintf - formatted string in new memory */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
