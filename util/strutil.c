/*++
 * NAME
 *	strutil 3
 * SUMMARY
 *	bounded parsing and formatting helpers
 * SYNOPSIS
 *	#include "util/strutil.h"
 * DESCRIPTION
 *	The number parsers accept only plain ASCII decimal digits (no sign,
 *	no white space, no base prefix, no empty string) and check every
 *	multiplication and addition for overflow, unlike strtoul(3) which
 *	accepts "-1" and leading blanks. Character classes are ASCII only,
 *	independent of the locale.
 *--*/
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/strutil.h"

/* str_digits - parse a run of decimal digits at *sp into *out; 0 or -1 */
static int str_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;
	unsigned d;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (unsigned) (*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

/* str_to_u64 - whole string is a decimal number within [min,max] */
int str_to_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (s == NULL || str_digits(&s, &v) < 0 || *s != '\0')
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* str_to_size - decimal with optional k/K, M, G suffix (binary units) */
int str_to_size(const char *s, uint64_t *out)
{
	uint64_t v, mul = 1;

	if (s == NULL || str_digits(&s, &v) < 0)
		return -1;
	switch (*s) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mul = (uint64_t) 1 << 10;
		s++;
		break;
	case 'm':
	case 'M':
		mul = (uint64_t) 1 << 20;
		s++;
		break;
	case 'g':
	case 'G':
		mul = (uint64_t) 1 << 30;
		s++;
		break;
	default:
		return -1;
	}
	if (*s != '\0' || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* str_to_duration_ms - "250ms", "5s", "10m", "4h", "5d", plain number = seconds */
int str_to_duration_ms(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	uint64_t v;
	size_t  i;

	if (s == NULL || str_digits(&s, &v) < 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s, units[i].unit) != 0)
			continue;
		if (v > (uint64_t) INT64_MAX / units[i].ms)
			return -1;
		*out = (int64_t) (v * units[i].ms);
		return 0;
	}
	return -1;
}

/* str_copy - copy with truncation, always terminates; returns strlen(src) */
size_t str_copy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t k = n < size - 1 ? n : size - 1;

		memcpy(dst, src, k);
		dst[k] = '\0';
	}
	return n;
}

/* str_lower - ASCII tolower, locale-free */
static unsigned char str_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char) (c + ('a' - 'A')) : c;
}

/* str_ieq - 1 when a and b are equal ignoring ASCII case, else 0 */
int str_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int str_ieq(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *) a;
	const unsigned char *q = (const unsigned char *) b;

	for (; *p && *q; p++, q++)
		if (str_lower(*p) != str_lower(*q))
			return 0;
	return *p == *q;
}

/* str_distance - edit distance with swaps, one row per octet of a */
unsigned str_distance(const char *a, const char *b, unsigned max)
{
	unsigned row[3][STR_DISTANCE_MAX + 1], *pp, *prev, *cur, d;
	size_t  la = strlen(a), lb = strlen(b), i, j;

	if (la > STR_DISTANCE_MAX || lb > STR_DISTANCE_MAX)
		return max + 1;
	/* row[(i + 2) % 3], row[(i + 1) % 3], row[i % 3]: rows i - 2, i - 1, i */
	for (j = 0; j <= lb; j++)
		row[0][j] = (unsigned) j;
	for (i = 1; i <= la; i++) {
		pp = row[(i + 1) % 3];
		prev = row[(i + 2) % 3];
		cur = row[i % 3];
		cur[0] = (unsigned) i;
		for (j = 1; j <= lb; j++) {
			unsigned sub = str_lower((unsigned char) a[i - 1])
			    != str_lower((unsigned char) b[j - 1]);

			d = prev[j - 1] + sub;
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && sub
			    && str_lower((unsigned char) a[i - 1]) == str_lower((unsigned char) b[j - 2])
			    && str_lower((unsigned char) a[i - 2]) == str_lower((unsigned char) b[j - 1])
			    && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
	}
	d = row[la % 3][lb];
	return d > max ? max + 1 : d;
}

/* str_space - ASCII white space */
static int str_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
	    || c == '\v';
}

/* str_trim - strip leading/trailing ASCII white space in place; returns s+k */
char *str_trim(char *s)
{
	size_t n;

	while (str_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && str_space(s[n - 1]))
		n--;
	s[n] = '\0';
	return s;
}

/* str_iso8601 - format t as "YYYY-MM-DDTHH:MM:SSZ" in buf (>= 21 bytes) */
char *str_iso8601(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (len < 21)
		log_panic("str_iso8601: buffer of %zu bytes, need 21", len);
	if (gmtime_r(&t, &tm) == NULL
	    || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		str_copy(buf, "0000-00-00T00:00:00Z", len);
	return buf;
}

/* str_plain - byte may appear in an unquoted journal value */
static int str_plain(unsigned char c)
{
	return c >= '!' && c <= '~' && c != '"' && c != '=' && c != '\\';
}

/* str_escape - write s as a journal/log value; returns bytes needed */
size_t str_escape(char *dst, size_t dstlen, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char    tmp[4];
	size_t  need = 0, i, k, tl;
	unsigned char c;
	int     quote = (len == 0);

	for (i = 0; i < len && !quote; i++)
		if (!str_plain((unsigned char) s[i]))
			quote = 1;

/* Emit one piece; pieces that no longer fit are counted, not written. */
#define PUT(p, n) do { \
	for (k = 0; k < (n); k++, need++) \
		if (need + 1 < dstlen) \
			dst[need] = (p)[k]; \
} while (0)

	if (!quote) {
		PUT(s, len);
	} else {
		PUT("\"", (size_t) 1);
		for (i = 0; i < len; i++) {
			c = (unsigned char) s[i];
			tl = 2;
			tmp[0] = '\\';
			switch (c) {
			case '\\': tmp[1] = '\\'; break;
			case '"': tmp[1] = '"'; break;
			case '\n': tmp[1] = 'n'; break;
			case '\r': tmp[1] = 'r'; break;
			case '\t': tmp[1] = 't'; break;
			default:
				if (c >= ' ' && c <= '~') {
					tmp[0] = (char) c;
					tl = 1;
				} else {
					tmp[1] = 'x';
					tmp[2] = hex[c >> 4];
					tmp[3] = hex[c & 0xf];
					tl = 4;
				}
			}
			PUT(tmp, tl);
		}
		PUT("\"", (size_t) 1);
	}
#undef PUT
	if (dstlen)
		dst[need < dstlen ? need : dstlen - 1] = '\0';
	return need;
}

/* str_hex - value of a lowercase hex digit or -1 */
static int str_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* str_unescape - read back a value that str_escape() quoted */
int str_unescape(char *dst, size_t dstlen, const char *s, size_t len, size_t *dlen,
	size_t *used, const char **why)
{
	const char *bad;
	size_t  i = 1, n = 0;
	unsigned char c;
	int     h, l;

	if (len == 0 || s[0] != '"') {
		bad = "no opening quote";
		goto fail;
	}
	for (;;) {
		if (i >= len) {
			bad = "no closing quote";
			goto fail;
		}
		c = (unsigned char) s[i++];
		if (c == '"')
			break;
		if (c < ' ' || c > '~') {
			bad = "control or 8-bit octet inside quotes";
			goto fail;
		}
		if (c == '\\') {
			if (i >= len) {
				bad = "truncated escape";
				goto fail;
			}
			c = (unsigned char) s[i++];
			switch (c) {
			case '\\': break;
			case '"': break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'x':
				if (len - i < 2) {
					bad = "truncated escape";
					goto fail;
				}
				if ((h = str_hex((unsigned char) s[i])) < 0
				    || (l = str_hex((unsigned char) s[i + 1])) < 0) {
					bad = "bad escape";
					goto fail;
				}
				c = (unsigned char) (h << 4 | l);
				i += 2;
				break;
			default:
				bad = "bad escape";
				goto fail;
			}
		}
		if (n + 1 >= dstlen) {
			bad = "value too long";
			goto fail;
		}
		dst[n++] = (char) c;
	}
	if (dstlen == 0) {
		bad = "value too long";
		goto fail;
	}
	dst[n] = '\0';
	*dlen = n;
	*used = i;
	return 0;
fail:
	if (why != NULL)
		*why = bad;
	return -1;
}
