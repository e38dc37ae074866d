/*++
 * NAME
 *	rfc822 3h
 * SUMMARY
 *	RFC 733 address forms made RFC 822 (letters leaving for Internet mail)
 * SYNOPSIS
 *	#include "mailchannel/rfc822.h"
 * DESCRIPTION
 *	A letter may carry RFC 733 forms that an Internet (RFC 822/5322)
 *	reader cannot parse or answer. Before the smtp channel hands a
 *	letter on, its address fields (rfc822_addr_field()) are rewritten
 *	by rfc822_fix():
 *
 *	    Bennett at UCL                  Bennett@UCL
 *	    lin@cambridge@pss               lin%cambridge@pss
 *	    lin at cambridge at pss         lin%cambridge@pss
 *	    "j smith"@cam@pss               "j smith%cam"@pss
 *	    bennett@uk.ac.ucl               bennett@ucl.ac.uk  (big-endian
 *	                                    tops "uk": rfc822_big_endian())
 *
 *	Only addresses are touched: a display phrase ("Meet at noon
 *	<x@y>"), a group's name, comments and quoted strings are copied as
 *	they are. An address that does not parse as local-part, host
 *	indicators and domains is left as written, and so is a whole field
 *	with an unbalanced quote, comment or domain literal, or a NUL: the rewrite
 *	never makes a field worse than it was. Comments inside a rewritten
 *	address follow it, white space inside it goes. Folding between
 *	addresses is kept.
 *
 *	rfc822_addr_fix() applies the domain rule to an envelope address
 *	("local@host", % hops in the local part included).
 *
 *	Pure functions: no I/O, no global state.
 *--*/
#ifndef MAILCHANNEL_RFC822_H
#define MAILCHANNEL_RFC822_H

#include <stddef.h>

struct buf;

#define RFC822_TOPS_MAX	200	/* bytes of a big-endian top-level list */

/* rfc822_addr_field - 1 when a field named name[0..len) holds addresses
 * (From, Sender, Reply-To, To, Cc, Bcc, their Resent- forms,
 * Return-Path, Errors-To, Acknowledge-To) */
int rfc822_addr_field(const char *name, size_t len);

/* rfc822_big_endian - when host[0..len) is written big-endian: its first
 * label is one of tops (labels separated by spaces or commas, any case)
 * and its last label is not, and it has two labels or more: the host in
 * Internet order into dst (NUL-terminated) and its length; else 0 (also
 * when tops is NULL or empty, or dst is too small) */
size_t rfc822_big_endian(const char *host, size_t len, const char *tops, char *dst,
	size_t dstlen);

/* rfc822_fix - append to out the field body val[0..len) (everything after
 * the field name's colon, folding and line ends as in the letter) with
 * its RFC 733 address forms made RFC 822; tops as for rfc822_big_endian
 * (NULL: domains stay as written). Returns the number of addresses
 * rewritten (0: out got val unchanged), or -1 when out is full (out is
 * then left as it was). */
int rfc822_fix(struct buf *out, const char *val, size_t len, const char *tops);

/* rfc822_addr_fix - an envelope address "local@host" with its domains
 * (the host and any % hops in an unquoted local part) in Internet order
 * by tops, into dst; returns 1 when rewritten, 0 when unchanged (dst
 * holds a copy), -1 when dst is too small */
int rfc822_addr_fix(const char *addr, const char *tops, char *dst, size_t dstlen);

#endif
