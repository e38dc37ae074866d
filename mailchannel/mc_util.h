/*++
 * NAME
 *	mc_util 3h
 * SUMMARY
 *	small helpers shared by the mailchannel parsers (internal)
 * SYNOPSIS
 *	#include "mailchannel/mc_util.h"
 * DESCRIPTION
 *	Not part of the mailchannel contract: used by addr.c, hdr.c and
 *	letter.c only. mc_show() renders untrusted bytes for an error
 *	message; mc_err() fills an optional error buffer.
 *--*/
#ifndef MAILCHANNEL_MC_UTIL_H
#define MAILCHANNEL_MC_UTIL_H

#include <stddef.h>

#define MC_SHOW_MAX	60	/* input bytes shown in an error message */
#define MC_SHOWLEN	(MC_SHOW_MAX * 4 + 8)	/* room for mc_show() */

/* mc_show - write p[0..len) into dst (size >= MC_SHOWLEN for no loss)
 * with bytes outside printable ASCII and the backslash as \xNN, cut
 * after MC_SHOW_MAX input bytes with "..."; returns dst */
char *mc_show(char *dst, size_t dstlen, const char *p, size_t len);
/* mc_err - snprintf into err when err is not NULL and errlen > 0 */
void mc_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* mc_is_ws - space, tab, CR, LF, FF or VT */
static inline int mc_is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
/* mc_blank - 1 when p[0..len) holds only white space (or nothing) */
int mc_blank(const char *p, size_t len);

#endif
