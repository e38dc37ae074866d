/*++
 * NAME
 *	hdr 3h
 * SUMMARY
 *	RFC 733/822 message header: fields, originator, Via:, return path
 * SYNOPSIS
 *	#include "mailchannel/hdr.h"
 * DESCRIPTION
 *	A struct hdr is a private copy of one message header block (the
 *	header only, never the body: at most HDR_MAX bytes) with an index
 *	of its fields. The block is kept byte for byte as given: LF or
 *	CRLF line ends, folded lines, 8-bit bytes; the only edit is
 *	hdr_insert_via(), which adds one line at the top.
 *
 *	Parsing is liberal (RFC 733 and RFC 822 forms): a field is a name
 *	of printable ASCII other than ':' (white space before the ':' is
 *	allowed, RFC 733), a ':' and a value; a line starting with space or
 *	tab continues the field above. A line of only white space ends the
 *	header; if the block holds such a line it must be its last. Field
 *	names compare case-insensitively.
 *
 *	Via: lines (the JNT trace field) read "Via: host ; date". The host
 *	is the text before the first ';' with comments removed and white
 *	space trimmed; a Via: without ';' or whose host is not a valid
 *	host name is skipped by hdr_via_hosts() but still counted by
 *	hdr_via_count(), so a broken Via: cannot hide a routing loop.
 *
 *	Errors are returned in a caller's buffer and name the line in the
 *	letter: hdr_parse() is told the line number of the first header
 *	line.
 *--*/
#ifndef MAILCHANNEL_HDR_H
#define MAILCHANNEL_HDR_H

#include <stddef.h>
#include <time.h>

#include "mailchannel/addr.h"

#define HDR_MAX		(256 * 1024)	/* bytes of a header block as read */
#define HDR_EDIT_SLACK	(16 * 1024)	/* what edits may add beyond HDR_MAX */
#define HDR_FIELDS_MAX	10000		/* fields in one header */
#define HDR_DATE_LEN	40		/* room for hdr_date() */
#define HDR_ERRLEN	320		/* a good size for error buffers */

/* Field names used by the relay. */
#define HDR_FROM		"From"
#define HDR_SENDER		"Sender"
#define HDR_REPLY_TO		"Reply-To"
#define HDR_ACK_TO		"Acknowledge-To"
#define HDR_MESSAGE_ID		"Message-ID"
#define HDR_FAILED_LETTER	"Failed-Letter"
#define HDR_VIA			"Via"
#define HDR_RETURN_PATH		"Return-Path"	/* the envelope sender (mailchannel/notice.h) */

struct hdr;

/* hdr_parse - copy and index block[0..len). first_line is the line
 * number of the block's first line in its letter (1 when alone). NULL
 * with err: longer than HDR_MAX, more than HDR_FIELDS_MAX fields, a NUL
 * byte, a line that is neither a field nor a continuation ("line 7:
 * 'xyz' is not a header field"), a continuation first, bytes after the
 * blank line. An empty block gives a header with no fields. */
struct hdr *hdr_parse(const char *block, size_t len, unsigned long first_line,
	char *err, size_t errlen);
/* hdr_free - release; NULL allowed */
void hdr_free(struct hdr *h);

/* hdr_block - the current header bytes (with its blank line, if the
 * block had one); valid until the next edit or hdr_free */
const char *hdr_block(const struct hdr *h, size_t *lenp);
/* hdr_crlf - 1 when the first line ends in CRLF (edits follow suit) */
int hdr_crlf(const struct hdr *h);
/* hdr_mem - bytes of memory held (for memory bounds checks) */
size_t hdr_mem(const struct hdr *h);

/*
 * Fields, by index 0..hdr_count()-1 in header order.
 */

/* hdr_count - number of fields */
size_t hdr_count(const struct hdr *h);
/* hdr_name - field i's name (not NUL-terminated: length in *lenp,
 * white space before the ':' excluded); borrowed like hdr_block */
const char *hdr_name(const struct hdr *h, size_t i, size_t *lenp);
/* hdr_raw - field i's bytes as in the block: name, value, folded
 * lines and line ends; borrowed like hdr_block */
const char *hdr_raw(const struct hdr *h, size_t i, size_t *lenp);
/* hdr_line - the letter line number where field i starts */
unsigned long hdr_line(const struct hdr *h, size_t i);
/* hdr_value - field i's value unfolded (CR and LF removed), white space
 * trimmed at both ends; new memory, NUL-terminated (a value cannot
 * hold NUL: hdr_parse refuses it) */
char *hdr_value(const struct hdr *h, size_t i);
/* hdr_find - index of the first field named name (any case) at or
 * after index from, or -1 */
long hdr_find(const struct hdr *h, const char *name, size_t from);
/* hdr_get - unfolded value of the first field named name, new memory;
 * NULL when there is none */
char *hdr_get(const struct hdr *h, const char *name);

/*
 * Addresses in fields.
 */

/* hdr_mailbox - the first address of the first field named name
 * (e.g. From: with several mailboxes gives the first). New address,
 * or NULL with err: "no From: field", "line 4: From: address 'x':
 * no host part". */
struct addr *hdr_mailbox(const struct hdr *h, const char *name, char *err, size_t errlen);
/* hdr_originator - the mailbox of Sender: if present, else of the
 * first From: (RFC 733 originator rule; where NDNs go). NULL with
 * err "no originator (no Sender: or From: field)" or the parse error. */
struct addr *hdr_originator(const struct hdr *h, char *err, size_t errlen);

/*
 * Via: and the return path.
 */

/* hdr_via_count - number of Via: fields, valid or not (the hop count) */
size_t hdr_via_count(const struct hdr *h);
/* hdr_via_hosts - hosts of the valid Via: fields, newest (topmost)
 * first, as a new NULL-terminated vector of new strings; *np (if not
 * NULL) gets the count. Free with hdr_strv_free. */
char **hdr_via_hosts(const struct hdr *h, size_t *np);
/* hdr_strv_free - free a vector from hdr_via_hosts; NULL allowed */
void hdr_strv_free(char **v);
/* hdr_date - RFC 822 date-time of t in UTC with four-digit year,
 * "Tue, 25 Nov 2025 19:07:00 +0000", in dst (HDR_DATE_LEN is enough);
 * locale-independent. Returns the length, 0 when t is out of range. */
size_t hdr_date(time_t t, char *dst, size_t dstlen);
/* hdr_via_line - "Via: node ; date" plus LF (CRLF when crlf) into dst;
 * returns the length (snprintf-like), 0 when node is not a valid host
 * name or t is out of range */
size_t hdr_via_line(const char *node, time_t t, int crlf, char *dst, size_t dstlen);
/* hdr_insert_via - put "Via: node ; date" at the top (line ends as the
 * header's own); 0, or -1 with err when node is not a valid host name
 * or the header would pass HDR_MAX + HDR_EDIT_SLACK. Field indexes and
 * borrowed pointers are invalidated. */
int hdr_insert_via(struct hdr *h, const char *node, time_t t, char *err, size_t errlen);
/* hdr_return_path - where an NDN goes when the originator itself has
 * no route (DESIGN section 5): the originator u@o (hdr_originator), the
 * calling host c (may be NULL or "": then none) and the Via: hosts
 * v1 (newest) .. vn form the hop list c, v1, .., vn; hops equal to the
 * one before them are merged and trailing hops equal to o dropped
 * (names compare case-insensitively). With hops e1..ek left the
 * result is "u%o%ek%..%e2@e1"; with none, u@o. INDRA example at
 * cambridge (calling pss; Via: pss, ucl; From: bennett@ucl) gives
 * bennett%ucl@pss. New address, or NULL with err (no originator,
 * bad calling host, result longer than ADDR_MAX_LEN). */
struct addr *hdr_return_path(const struct hdr *h, const char *calling,
	char *err, size_t errlen);
/* hdr_return_path_for - the same route back to the address o (borrowed)
 * in place of the originator: for a letter whose Return-Path: names
 * where its notices go (mailchannel/notice.h) */
struct addr *hdr_return_path_for(const struct hdr *h, const struct addr *o,
	const char *calling, char *err, size_t errlen);

#endif
