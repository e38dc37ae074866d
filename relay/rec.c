/*++
 * NAME
 *	rec 3
 * SUMMARY
 *	strict line records: "KEY VALUE" lines that no value can forge
 * SYNOPSIS
 *	#include "relay/rec.h"
 * DESCRIPTION
 *	Writers check the key (a program error panics) and escape the value
 *	with str_escape(), sizing the line before they touch the buffer, so
 *	a failed append leaves it as it was. The reader moves a cursor that
 *	never passes len, unescapes quoted values with str_unescape() (the
 *	journal's reader uses the same function) into one scratch buffer of
 *	len + 1 octets (unescaping only shrinks), and stops at the first
 *	line it cannot take.
 * DIAGNOSTICS
 *	See rec.h.
 *--*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/rec.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

/* rec_keyc - an octet of a key */
static int rec_keyc(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
	    || c == '-';
}

/* rec_key_check - the length of key; panic when it is not a valid key */
static size_t rec_key_check(const char *key)
{
	size_t  n;

	if (key == NULL)
		log_panic("rec: null key");
	for (n = 0; key[n]; n++)
		if (!rec_keyc((unsigned char) key[n]))
			log_panic("rec: bad key '%.40s'", key);
	if (n == 0 || n >= REC_KEY_MAX)
		log_panic("rec: key '%.40s' of %zu octets (1..%d)", key, n, REC_KEY_MAX - 1);
	return n;
}

/* rec_line - append key SP val LF (val written as is); the room was checked */
static int rec_line(struct buf *b, const char *key, size_t klen, const char *val, size_t vlen)
{
	if (klen + 1 + vlen + 1 > buf_room(b))
		return -1;
	if (buf_append(b, key, klen) < 0 || buf_putc(b, ' ') < 0
	    || buf_append(b, val, vlen) < 0 || buf_putc(b, '\n') < 0)
		log_panic("rec: append of %zu octets failed with %zu of room",
		    klen + vlen + 2, buf_room(b));
	return 0;
}

/* rec_addn - append "KEY VALUE\n", VALUE = str_escape(val, len) */
int rec_addn(struct buf *b, const char *key, const char *val, size_t len)
{
	size_t  klen = rec_key_check(key), elen;
	char   *tmp;
	int     ret;

	elen = str_escape(NULL, 0, val, len);
	if (klen + 1 + elen + 1 > buf_room(b))
		return -1;
	tmp = xmalloc(elen + 1);
	(void) str_escape(tmp, elen + 1, val, len);
	ret = rec_line(b, key, klen, tmp, elen);
	free(tmp);
	return ret;
}

/* rec_add - append "KEY VALUE\n", VALUE = str_escape(val) */
int rec_add(struct buf *b, const char *key, const char *val)
{
	return rec_addn(b, key, val, strlen(val));
}

/* rec_addf - append "KEY VALUE\n" with a formatted VALUE of our own */
int rec_addf(struct buf *b, const char *key, const char *fmt, ...)
{
	size_t  klen = rec_key_check(key), i;
	va_list ap;
	char   *v;
	int     n, ret;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		log_panic("rec: format for key '%s' failed", key);
	if (n == 0)
		return rec_addn(b, key, "", 0);
	v = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(v, (size_t) n + 1, fmt, ap);
	va_end(ap);
	for (i = 0; i < (size_t) n; i++)
		if ((unsigned char) v[i] < 0x20 || (unsigned char) v[i] > 0x7e)
			log_panic("rec: value of '%s' formatted with octet 0x%02x", key,
			    (unsigned char) v[i]);
	if (v[0] == '"')
		log_panic("rec: value of '%s' formatted starting with '\"'", key);
	ret = rec_line(b, key, klen, v, (size_t) n);
	free(v);
	return ret;
}

/* rec_fail - "line N: reason" into err; -1 */
static int rec_fail(char *err, size_t errlen, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int rec_fail(char *err, size_t errlen, unsigned long line, const char *fmt, ...)
{
	char    why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "line %lu: %s", line, why);
	return -1;
}

/* rec_each - parse a whole record, fn per line */
int rec_each(const char *text, size_t len, rec_fn *fn, void *arg, char *err, size_t errlen)
{
	char    key[REC_KEY_MAX], why[256], *val = NULL;
	const char *problem;
	unsigned long line = 0;
	size_t  pos = 0, k, vlen, used;
	unsigned char c;
	int     ret = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > REC_TEXT_MAX) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "record of %zu octets is larger than the limit of %d",
			    len, REC_TEXT_MAX);
		return -1;
	}
	val = xmalloc(len + 1);
	while (pos < len) {
		line++;
		/* KEY */
		k = pos;
		while (pos < len && rec_keyc((unsigned char) text[pos]))
			pos++;
		if (pos == len) {
			rec_fail(err, errlen, line, "no newline at the end (torn record)");
			goto out;
		}
		if (pos == k) {
			if (text[pos] == '\n')
				rec_fail(err, errlen, line, "empty line");
			else
				rec_fail(err, errlen, line, "bad key");
			goto out;
		}
		if (pos - k >= REC_KEY_MAX) {
			rec_fail(err, errlen, line, "key longer than %d octets", REC_KEY_MAX - 1);
			goto out;
		}
		if (text[pos] != ' ') {
			if (text[pos] == '\n')
				rec_fail(err, errlen, line, "no space after the key");
			else
				rec_fail(err, errlen, line, "bad key");
			goto out;
		}
		memcpy(key, text + k, pos - k);
		key[pos - k] = '\0';
		pos++;
		/* VALUE */
		if (pos < len && text[pos] == '"') {
			if (str_unescape(val, len + 1, text + pos, len - pos, &vlen, &used,
			    &problem) < 0) {
				if (strcmp(problem, "no closing quote") == 0
				    && memchr(text + pos, '\n', len - pos) == NULL)
					problem = "no newline at the end (torn record)";
				rec_fail(err, errlen, line, "%s", problem);
				goto out;
			}
			pos += used;
			if (pos == len) {
				rec_fail(err, errlen, line, "no newline at the end (torn record)");
				goto out;
			}
			if (text[pos] != '\n') {
				rec_fail(err, errlen, line, "text after the closing quote");
				goto out;
			}
			if (memchr(val, '\0', vlen) != NULL) {
				rec_fail(err, errlen, line, "NUL octet in the value");
				goto out;
			}
		} else {
			for (vlen = 0; pos < len && text[pos] != '\n'; pos++) {
				c = (unsigned char) text[pos];
				if (c < 0x20 || c > 0x7e) {
					rec_fail(err, errlen, line,
					    "control octet 0x%02x in the value", c);
					goto out;
				}
				val[vlen++] = (char) c;
			}
			if (pos == len) {
				rec_fail(err, errlen, line, "no newline at the end (torn record)");
				goto out;
			}
			val[vlen] = '\0';
		}
		pos++;			/* the newline */
		why[0] = '\0';
		if (fn(arg, key, val, vlen, why, sizeof(why)) < 0) {
			rec_fail(err, errlen, line, "%s", why[0] ? why : "rejected");
			goto out;
		}
	}
	ret = 0;
out:
	free(val);
	return ret;
}

/* rec_u64 - a decimal number in [min,max] */
int rec_u64(const char *val, uint64_t min, uint64_t max, uint64_t *out)
{
	return str_to_u64(val, min, max, out);
}
