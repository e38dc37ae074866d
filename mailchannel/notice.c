/*++
 * NAME
 *	notice 3
 * SUMMARY
 *	non-delivery, "still trying" and delivery-acknowledgement letters
 * SYNOPSIS
 *	#include "mailchannel/notice.h"
 * DESCRIPTION
 *	See notice.h. The layout of a notice:
 * .nf
 *	ADDRESSEE
 *
 *	Date: RFC 822 date
 *	From: Mail Relay <postmaster@NODE>
 *	To: ADDRESSEE
 *	Subject: Undelivered letter: SUBJECT    (NDN)
 *	Message-ID: <ID@NODE>
 *	Failed-Letter: NODE NAME
 *
 *	text, one line per recipient "  RCPT: REASON"
 *	----- header of the letter -----
 *	...
 *	----- start of the body -----
 *	...
 * .fi
 *	The quoted subject is cut to 200 bytes and stripped of control
 *	characters so the notice's own header stays well formed.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailchannel/notice.h"
#include "util/strutil.h"

#define NOTICE_SUBJECT_MAX	200

/* clean_subject - printable copy of s, cut */
static void clean_subject(char *dst, size_t len, const char *s)
{
	size_t  k = 0;

	for (; s != NULL && *s && k + 1 < len && k < NOTICE_SUBJECT_MAX; s++) {
		unsigned char c = (unsigned char) *s;

		dst[k++] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
	}
	dst[k] = '\0';
}

/* iso - a time for the text */
static const char *iso(time_t t, char *buf, size_t len)
{
	if (t <= 0)
		return "(unknown)";
	return str_iso8601(t, buf, len);
}

/* quote_body - the first lines of the body */
static int quote_body(struct buf *out, int fd, uint64_t off)
{
	char    chunk[NOTICE_QUOTE_BYTES];
	ssize_t n;
	size_t  i, start = 0;
	int     lines = 0;

	do
		n = pread(fd, chunk, sizeof(chunk), (off_t) off);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return buf_printf(out, "(the body is empty)\n");
	for (i = 0; i < (size_t) n && lines < NOTICE_QUOTE_LINES; i++)
		if (chunk[i] == '\n') {
			if (buf_append(out, chunk + start, i + 1 - start) < 0)
				return -1;
			start = i + 1;
			lines++;
		}
	if (lines < NOTICE_QUOTE_LINES && start < (size_t) n) {
		if (buf_append(out, chunk + start, (size_t) n - start) < 0 || buf_putc(out, '\n') < 0)
			return -1;
	}
	return buf_printf(out, "----- (quote ends) -----\n");
}

/* notice_format - see notice.h */
int notice_format(struct buf *out, const struct notice *n, char *err, size_t errlen)
{
	char    date[HDR_DATE_LEN], subj[NOTICE_SUBJECT_MAX + 1], t1[32], t2[32];
	char   *osubj = NULL;
	const char *block, *what;
	size_t  i, blen, mark = out->len;
	int     rc = -1, nfail = 0, nok = 0;

	if (n->to == NULL || *n->to == '\0' || n->node == NULL || *n->node == '\0'
	    || strpbrk(n->to, "\r\n") != NULL) {
		snprintf(err, errlen, "notice about '%s': no usable addressee",
		    n->letter ? n->letter : "-");
		return -1;
	}
	if (hdr_date(n->when, date, sizeof(date)) == 0)
		str_copy(date, "Thu, 01 Jan 1970 00:00:00 +0000", sizeof(date));
	if (n->hdr != NULL)
		osubj = hdr_get(n->hdr, "Subject");
	clean_subject(subj, sizeof(subj), osubj ? osubj : "");
	free(osubj);
	for (i = 0; i < n->nitems; i++) {
		if (n->items[i].reason != NULL)
			nfail++;
		else
			nok++;
	}
	switch (n->kind) {
	case NOTICE_NDN:
		what = "Undelivered letter";
		break;
	case NOTICE_WARN:
		what = "Letter not yet delivered (still trying)";
		break;
	default:
		what = "Delivery acknowledgement";
		break;
	}
	if (buf_printf(out, "%s\n\nDate: %s\nFrom: Mail Relay <postmaster@%s>\nTo: %s\n"
	    "Subject: %s%s%s\nMessage-ID: <%s@%s>\nFailed-Letter: %s %s\n\n",
	    n->to, date, n->node, n->to, what, subj[0] ? ": " : "", subj,
	    n->id ? n->id : "notice", n->node, n->node, n->letter) < 0)
		goto out;
	switch (n->kind) {
	case NOTICE_NDN:
		if (buf_printf(out, "This is the mail relay at %s.\n\nYour letter %s could not "
		    "be delivered to %d recipient%s (%s):\n\n", n->node, n->letter, nfail,
		    nfail == 1 ? "" : "s", iso(n->when, t1, sizeof(t1))) < 0)
			goto out;
		break;
	case NOTICE_WARN:
		if (buf_printf(out, "This is the mail relay at %s.\n\nYour letter %s, received "
		    "%s, has not yet been delivered to the recipients below. The relay keeps "
		    "trying until %s; you need not send it again.\n\n", n->node, n->letter,
		    iso(n->since, t1, sizeof(t1)), iso(n->give_up, t2, sizeof(t2))) < 0)
			goto out;
		break;
	default:
		if (buf_printf(out, "This is the mail relay at %s.\n\nYour letter %s was "
		    "accepted for delivery to %d recipient%s here%s (%s):\n\n", n->node,
		    n->letter, nok, nok == 1 ? "" : "s", nfail ? "; some failed" : "",
		    iso(n->when, t1, sizeof(t1))) < 0)
			goto out;
		break;
	}
	for (i = 0; i < n->nitems; i++) {
		if (n->items[i].reason != NULL) {
			if (buf_printf(out, "  %s: %s%s\n", n->items[i].rcpt,
			    n->kind == NOTICE_WARN ? "pending: " : "failed: ",
			    n->items[i].reason) < 0)
				goto out;
		} else if (buf_printf(out, "  %s: delivered\n", n->items[i].rcpt) < 0)
			goto out;
	}
	if (n->hdr != NULL) {
		block = hdr_block(n->hdr, &blen);
		if (buf_printf(out, "\n----- header of the letter -----\n") < 0
		    || buf_append(out, block, blen) < 0)
			goto out;
		if (blen > 0 && block[blen - 1] != '\n' && buf_putc(out, '\n') < 0)
			goto out;
	}
	if (n->body_fd >= 0) {
		if (buf_printf(out, "----- start of the body -----\n") < 0
		    || quote_body(out, n->body_fd, n->body_off) < 0)
			goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		out->len = mark;	/* nothing half-written stays */
		snprintf(err, errlen, "notice about '%s': longer than the cap of %zu bytes",
		    n->letter ? n->letter : "-", out->max);
	}
	return rc;
}

/* notice_is_notice - 1 when the header carries Failed-Letter: */
int notice_is_notice(const struct hdr *h)
{
	return h != NULL && hdr_find(h, HDR_FAILED_LETTER, 0) >= 0;
}

/* notice_return_path - Return-Path: <ADDR>, <> or none */
enum notice_rp notice_return_path(const struct hdr *h, struct addr **ap, char *err,
	size_t errlen)
{
	char    why[ADDR_ERRLEN];
	char   *v;
	size_t  i, k = 0;
	long    f;

	*ap = NULL;
	if (h == NULL || (f = hdr_find(h, HDR_RETURN_PATH, 0)) < 0)
		return NOTICE_RP_NONE;
	v = hdr_value(h, (size_t) f);
	/* "<>", also written "< >": the null reverse path of RFC 5321 */
	for (i = 0; v[i]; i++)
		if (v[i] != ' ' && v[i] != '\t')
			v[k++] = v[i];
	v[k] = '\0';
	if (strcmp(v, "<>") == 0) {
		free(v);
		return NOTICE_RP_NULL;
	}
	free(v);
	v = hdr_value(h, (size_t) f);
	if ((*ap = addr_parse(v, strlen(v), why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "line %lu: %s: %s", hdr_line(h, (size_t) f),
		    HDR_RETURN_PATH, why);
		free(v);
		return NOTICE_RP_BAD;
	}
	free(v);
	return NOTICE_RP_ADDR;
}

/* notice_no_return - a notice, or a null return path */
int notice_no_return(const struct hdr *h)
{
	struct addr *a;
	char    err[ADDR_ERRLEN];
	enum notice_rp rp;

	if (notice_is_notice(h))
		return 1;
	rp = notice_return_path(h, &a, err, sizeof(err));
	addr_free(a);
	return rp == NOTICE_RP_NULL;
}
