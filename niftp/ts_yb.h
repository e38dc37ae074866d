/*++
 * NAME
 *	ts_yb 3h
 * SUMMARY
 *	Yellow Book framing over a byte stream (IEN 154), sans I/O
 * SYNOPSIS
 *	#include "niftp/ts_yb.h"
 * DESCRIPTION
 *	Records: a type octet (0 data, 1 command). A data record is
 *	sub-records with a header octet (bit 7 last, bits 6-0 length
 *	0..127); the end of a data record is a PUSH. A command record is a
 *	command code then each parameter as fragments (bit 7 last, bits 6-0
 *	length); a null parameter is 0x80. Parameters in order:
 *	CONNECT (called, calling, quality of service, text); ACCEPT (recall
 *	address, quality of service, text); DISCONNECT and RESET (reason as
 *	one octet, initiator, text).
 *
 *	The decoder is fed arbitrary pieces of the stream and reports each
 *	data piece and each complete command through a callback. Limits:
 *	a command record holds at most YB_MAX_PARAM octets per parameter;
 *	more, an unknown record type or command, or a malformed reason is a
 *	framing error reported with a reason text.
 *--*/
#ifndef NIFTP_TS_YB_H
#define NIFTP_TS_YB_H

#include <stddef.h>

struct buf;

#define YB_MAX_PARAM	1024
#define YB_NPARAM	4

struct yb_cmd {
	int	code;				/* YB_CONNECT .. YB_RESET */
	int	nparam;				/* parameters present (3 or 4) */
	const unsigned char *param[YB_NPARAM];	/* NUL-terminated copies */
	size_t	plen[YB_NPARAM];
	int	pnull[YB_NPARAM];		/* 1 when the parameter was null (0x80) */
};

struct yb_dec;

/* data: len octets of data; push = 1 when they end the data record
 * (len may be 0 then). cmd: a complete command. Return 0 to go on, -1
 * to stop decoding (yb_dec_feed then returns -1 with no error set). */
struct yb_dec_cb {
	int	(*data)(void *arg, const unsigned char *p, size_t len, int push);
	int	(*cmd)(void *arg, const struct yb_cmd *cmd);
};

/* yb_dec_new - a decoder */
struct yb_dec *yb_dec_new(const struct yb_dec_cb *cb, void *arg);
void yb_dec_free(struct yb_dec *d);
/* yb_dec_feed - decode len octets; 0, or -1 (framing error: yb_dec_error) */
int  yb_dec_feed(struct yb_dec *d, const unsigned char *p, size_t len);
/* yb_dec_error - the reason of the last framing error, or NULL */
const char *yb_dec_error(const struct yb_dec *d);
/* yb_dec_midrecord - 1 when the stream stopped inside a record */
int  yb_dec_midrecord(const struct yb_dec *d);
/* yb_dec_consumed - octets of the last yb_dec_feed() input that were used:
 * all of it, unless a callback stopped the decoder; then the rest may be
 * fed again later (the decoder state matches that point) */
size_t yb_dec_consumed(const struct yb_dec *d);
/* yb_dec_pos - where in the record structure the decoder stands, for a
 * gateway that moves data records past it (ts_raw_take_input): 0 with
 * *in_record (a data record's type octet is past), *body (octets of the
 * current sub-record's body still to come) and *last (that sub-record
 * ends the record); -1 inside a command record or after an error. Only
 * between feeds: nothing is staged then. */
int  yb_dec_pos(const struct yb_dec *d, int *in_record, size_t *body, int *last);
/* yb_dec_set_pos - go on as if the skipped octets of data records up to
 * that position had been decoded (without callbacks); body is at most
 * 127. Offsets in error texts count the skipped octets. */
void yb_dec_set_pos(struct yb_dec *d, int in_record, size_t body, int last,
	unsigned long long skipped);

/* yb_enc_data - append len octets as (part of) a data record; push ends the
 * record. Consecutive calls without push continue the same record. The
 * encoder state is the open-record flag (*open). 0, or -1 if out is full. */
int  yb_enc_data(struct buf *out, int *open, const void *p, size_t len, int push);
/* yb_enc_cmd - append a command with n parameters (NULL = null parameter);
 * reason for DISCONNECT/RESET goes as a one-octet first parameter by the
 * caller. 0 or -1. An open data record is closed first with an empty
 * last sub-record. */
int  yb_enc_cmd(struct buf *out, int *open, int code, const char *const *params,
	const size_t *plens, int n);

#endif
