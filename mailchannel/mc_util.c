/*++
 * NAME
 *	mc_util 3
 * SUMMARY
 *	small helpers shared by the mailchannel parsers (internal)
 * SYNOPSIS
 *	#include "mailchannel/mc_util.h"
 * DESCRIPTION
 *	Error messages quote text from peers. Escaping it here, once,
 *	keeps every message one safe line whatever a letter contains.
 *--*/
#include <stdarg.h>
#include <stdio.h>

#include "mailchannel/mc_util.h"

/* mc_show - escaped, shortened copy of untrusted bytes */
char *mc_show(char *dst, size_t dstlen, const char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t  i, o = 0, n = len > MC_SHOW_MAX ? MC_SHOW_MAX : len;
	unsigned char c;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < n; i++) {
		c = (unsigned char) p[i];
		if (c >= ' ' && c <= '~' && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char) c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	if (n < len && o + 3 < dstlen) {
		dst[o++] = '.';
		dst[o++] = '.';
		dst[o++] = '.';
	}
	dst[o] = 0;
	return dst;
}

/* mc_err - fill an optional error buffer */
void mc_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* mc_blank - only white space */
int mc_blank(const char *p, size_t len)
{
	size_t  i;

	for (i = 0; i < len; i++)
		if (!mc_is_ws((unsigned char) p[i]))
			return 0;
	return 1;
}
