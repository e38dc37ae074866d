/*++
 * NAME
 *	notice 3h
 * SUMMARY
 *	non-delivery, "still trying" and delivery-acknowledgement letters
 * SYNOPSIS
 *	#include "mailchannel/notice.h"
 * DESCRIPTION
 *	Composes the notices of DESIGN section 5 as complete letters
 *	(address list, blank line, RFC 822 header, body) that the relay
 *	submits into its own spool like any other letter:
 *	  NOTICE_NDN   which recipients failed, why, where and when;
 *	  NOTICE_WARN  "still trying": which recipients are still pending
 *	               and why, since when, and when the relay gives up;
 *	  NOTICE_ACK   delivery acknowledgement (Acknowledge-To:): the
 *	               recipients accepted for delivery and those that failed.
 *	Every notice is From: postmaster@NODE and carries the field
 *	"Failed-Letter: NODE NAME" (also warnings and acknowledgements,
 *	so no notice is ever sent about a notice), and quotes the failed
 *	letter's header and the start of its body (at most
 *	NOTICE_QUOTE_LINES lines and NOTICE_QUOTE_BYTES bytes).
 *	Memory is bounded: the output buffer's cap (the caller's) and the
 *	quote limits; the letter's body is read with pread, never loaded.
 *--*/
#ifndef MAILCHANNEL_NOTICE_H
#define MAILCHANNEL_NOTICE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "util/buf.h"

#define NOTICE_QUOTE_LINES	20
#define NOTICE_QUOTE_BYTES	2048
#define NOTICE_ERRLEN		384
#define NOTICE_MAX		(16 * 1024 * 1024)	/* a good cap for the output buffer */

enum notice_kind { NOTICE_NDN, NOTICE_WARN, NOTICE_ACK };

/* One recipient line: reason NULL means delivered (acknowledgements). */
struct notice_item {
	const char *rcpt;
	const char *reason;
};

/* What a notice says. Strings and the header are borrowed. */
struct notice {
	enum notice_kind kind;
	const char *node;		/* this node's name */
	const char *letter;		/* the letter's spool name */
	const char *to;			/* addressee, canonical address text */
	const char *id;			/* the notice's own spool name (Message-ID) */
	time_t	when;			/* now */
	time_t	since;			/* WARN: when the letter arrived (0 unknown) */
	time_t	give_up;		/* WARN: when the relay gives up (0 unknown) */
	const struct notice_item *items;
	size_t	nitems;
	const struct hdr *hdr;		/* the letter's header, or NULL */
	int	body_fd;		/* the stored letter, or -1 */
	uint64_t body_off;		/* offset of its body in body_fd */
};

/* notice_format - append the whole notice letter to out. 0, or -1 with
 * err when out's cap is reached or to/node are unusable. */
int notice_format(struct buf *out, const struct notice *n, char *err, size_t errlen);

/* notice_is_notice - 1 when the header carries Failed-Letter: (no NDN
 * may be sent about such a letter) */
int notice_is_notice(const struct hdr *h);

/* What a letter's Return-Path: field says (set by niftpmail-sendmail
 * from the envelope sender an MTA gave it, doc/niftpmail-sendmail.8). */
enum notice_rp {
	NOTICE_RP_NONE,		/* no Return-Path: field: notices go to the originator */
	NOTICE_RP_NULL,		/* "Return-Path: <>" (an Internet bounce): no notice */
	NOTICE_RP_ADDR,		/* "Return-Path: <ADDR>": notices go to ADDR */
	NOTICE_RP_BAD,		/* a field that does not parse (err): as NONE */
};

/* notice_return_path - the first Return-Path: field of h (NULL: none).
 * For NOTICE_RP_ADDR, *ap gets a new address (free with addr_free);
 * else *ap is NULL. It takes precedence over Sender: and From:, the
 * way an SMTP envelope sender does over the header. */
enum notice_rp notice_return_path(const struct hdr *h, struct addr **ap, char *err,
	size_t errlen);

/* notice_no_return - 1 when no notice may be sent about a letter with
 * header h: a notice itself (notice_is_notice) or a null return path */
int notice_no_return(const struct hdr *h);

#endif
