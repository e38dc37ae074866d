/*++
 * NAME
 *	strutil 3h
 * SUMMARY
 *	bounded parsing and formatting helpers
 * SYNOPSIS
 *	#include "util/strutil.h"
 * DESCRIPTION
 *	Replacements for atoi/strtok/strcpy with explicit limits. Parsers
 *	return 0 on success and -1 on any malformed or out-of-range input.
 *--*/
#ifndef UTIL_STRUTIL_H
#define UTIL_STRUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* str_to_u64 - whole string is a decimal number within [min,max] */
int str_to_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* str_to_size - decimal with optional k/K, M, G suffix (binary units) */
int str_to_size(const char *s, uint64_t *out);
/* str_to_duration_ms - "250ms", "5s", "10m", "4h", "5d", plain number = seconds */
int str_to_duration_ms(const char *s, int64_t *out);
/* str_copy - copy with truncation, always terminates; returns strlen(src) */
size_t str_copy(char *dst, const char *src, size_t size);
/* str_hexval - the value of one hex digit (either case), or -1 */
int str_hexval(int c);
/* str_ieq - 1 when a and b are equal ignoring ASCII case, else 0 */
int str_ieq(const char *a, const char *b);
/* str_distance - the edit distance of a and b, case-blind (insertions,
 * deletions, substitutions and swaps of two neighbours count one each:
 * Damerau's optimal string alignment), or max + 1 when it is more than
 * max or either string is longer than STR_DISTANCE_MAX octets. For
 * suggesting the name meant ("spol": did you mean "spool"?). */
#define STR_DISTANCE_MAX	64
unsigned str_distance(const char *a, const char *b, unsigned max);
/* str_trim - strip leading/trailing ASCII white space in place; returns s+k */
char *str_trim(char *s);
/* str_iso8601 - format t as "YYYY-MM-DDTHH:MM:SSZ" in buf (>= 21 bytes) */
char *str_iso8601(time_t t, char *buf, size_t len);
/* str_escape - write s (len bytes) as a journal/log value: unquoted when it
 * is non-empty and has only [!-~] minus '"', '=', '\\'; otherwise double-quoted
 * with C escapes (\\ \" \n \r \t \xNN). Returns bytes needed (like snprintf). */
size_t str_escape(char *dst, size_t dstlen, const char *s, size_t len);
/* str_unescape - read back a value that str_escape() quoted. s (len octets,
 * not NUL-terminated) starts with '"'; the octets up to the closing '"'
 * are printable ASCII (0x20..0x7e) where a backslash starts one of the
 * escapes \\ \" \n \r \t \xNN (two lowercase hex digits). The decoded
 * octets (any octet, NUL included) go to dst, then a NUL; *dlen gets their
 * count and *used the octets of s read, closing quote included (what
 * follows is the caller's business); a dst of len octets is always large
 * enough. 0, or -1 when s is not such a value or dst is too small; *why
 * (if not NULL) then names the problem ("no closing quote", "bad escape"
 * ...). Never reads s past len. */
int str_unescape(char *dst, size_t dstlen, const char *s, size_t len, size_t *dlen,
	size_t *used, const char **why);

#endif
