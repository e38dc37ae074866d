/*++
 * NAME
 *	srv_docket 3h
 * SUMMARY
 *	the text of a server docket (what a receiving relay keeps per
 *	caller and transfer id), parsed and formatted without a daemon
 * SYNOPSIS
 *	#include "relay/srv_docket.h"
 * DESCRIPTION
 *	A server docket is a line record (relay/rec.h) of these keys, each
 *	at most once:
 * .IP "committed 0|1"
 *	required: 1 once the letter is durable under its name.
 * .IP "name NAME"
 *	required: the spool name assigned (spool_name_ok()).
 * .IP "copy COPY-ID"
 *	the donor's copy identity as it sent it (escaped: any octet but
 *	NUL, at most SRV_DOCKET_COPY_MAX-1 of them); absent means empty.
 * .IP "part MARK OFFSET CRC"
 *	a receive checkpoint of a transfer not committed: mark 1..2^32-1,
 *	file octets at that mark, CRC-32 of those octets (8 lowercase hex
 *	digits).
 * .PP
 *	Dockets written before the values were escaped read the same where
 *	they were well-formed: "copy niftpmail-copy a/b size=1 crc=2" is a
 *	raw value, and "copy " an empty one. Anything else (an unknown or
 *	repeated key, a missing committed or name line, a bad value, a
 *	malformed line) rejects the whole docket: nothing is guessed, and
 *	the caller treats it as no record of that transfer.
 * DIAGNOSTICS
 *	srv_docket_parse() fills err with the rec_each() reason, e.g.
 *	"line 3: repeated key 'committed'", "line 2: bad value for 'name':
 *	a/b", or
 *	"no 'name' line".
 *--*/
#ifndef RELAY_SRV_DOCKET_H
#define RELAY_SRV_DOCKET_H

#include <stddef.h>
#include <stdint.h>

#include "niftp/niftp.h"
#include "spool/spool.h"
#include "util/buf.h"

#define SRV_DOCKET_COPY_MAX	(NIFTP_MAX_NAME + 1)	/* copy identity + NUL */
#define SRV_DOCKET_MAX		4096	/* largest docket text written */

/* What a server docket says. */
struct srv_docket {
	int	committed;
	char	name[SPOOL_NAMELEN];
	char	copy[SRV_DOCKET_COPY_MAX];	/* "" when none */
	uint32_t part_mark;			/* 0: no checkpoint */
	uint64_t part_off;
	uint32_t part_crc;
};

/* srv_docket_parse - text (len octets) into *d (cleared first); 0, or -1
 * with err filled (d's contents then undefined) */
int	srv_docket_parse(const char *text, size_t len, struct srv_docket *d, char *err,
	size_t errlen);
/* srv_docket_format - append d as docket text to b; 0, or -1 when b's cap
 * would be passed (b may then hold part of it: format into an empty
 * buffer). A name that fails spool_name_ok(), a part line on a committed
 * docket, or a copy identity that does not fit are program errors: panic. */
int	srv_docket_format(struct buf *b, const struct srv_docket *d);

#endif
