/*++
 * NAME
 *	niftp_rec 3h
 * SUMMARY
 *	NIFTP-80 record codec: sub-records, transfer-control escapes,
 *	run-length compression, command records and attribute lists
 * SYNOPSIS
 *	#include "niftp/niftp_rec.h"
 * DESCRIPTION
 *	The byte stream is a sequence of sub-records (DESIGN.md section 6):
 *	a header octet (0x80 end of record, 0x40 compressed, low 6 bits a
 *	count 0..63) followed by count octets, or by one octet repeated
 *	count times when compressed. The header 0x00 is an escape: a
 *	transfer-control command and its argument follow (00 cc aa), only
 *	between sub-records.
 *
 *	Encoding: niftp_rec_put() frames a whole record (a command record)
 *	in sub-records of at most 63 octets, the last with the end bit;
 *	niftp_sr_encode() frames a piece of data, optionally compressing
 *	runs of three or more equal octets; niftp_tcc_put() writes an
 *	escape. niftp_cmd_build() lays out a command record: command octet,
 *	attribute count, attributes (id, qualifier, value).
 *
 *	Decoding: struct niftp_dec is fed arbitrary chunks with
 *	niftp_dec_next(), which returns one event at a time: a command
 *	record complete (command mode), data octets copied to a caller's
 *	sink with an end-of-record flag (data mode), a transfer-control
 *	command, or an error with a reason text. The owner switches the
 *	mode between events with niftp_dec_set_mode(). A command record is
 *	one byte string however many sub-records carry it; it is capped at
 *	NIFTP_MAX_CMD_RECORD octets. niftp_cmd_parse() turns such a record
 *	into a struct niftp_cmd whose string values point into the record.
 *
 *	Nothing here allocates: buffers are the caller's or fixed-size.
 * DIAGNOSTICS
 *	Parsers return -1 with a reason naming what was wrong and where
 *	("truncated record: ...", "string of attribute 0x40 declares ...").
 *--*/
#ifndef NIFTP_NIFTP_REC_H
#define NIFTP_NIFTP_REC_H

#include <stddef.h>
#include <stdint.h>

#include "niftp/niftp.h"

struct buf;

/* Sub-record header octet. */
#define NIFTP_SR_END	0x80
#define NIFTP_SR_COMP	0x40
#define NIFTP_SR_COUNT	0x3F
#define NIFTP_SR_MAX	63

/* Most attributes in one command record (the count is one octet). */
#define NIFTP_MAX_ATTRS	255

/* One attribute: id, qualifier and value. */
struct niftp_attr {
	uint8_t	id;
	uint8_t	qual;			/* NIFTP_Q_* bits */
	uint16_t ival;			/* NIFTP_Q_INT format */
	const unsigned char *str;	/* NIFTP_Q_STRING format: borrowed, not terminated */
	size_t	slen;			/* string length (<= 255) */
};

/* A parsed command record. */
struct niftp_cmd {
	uint8_t	cmd;
	size_t	nattr;
	struct niftp_attr attr[NIFTP_MAX_ATTRS];
};

/* niftp_attr_int - fill an integer attribute (qual without format bits) */
void niftp_attr_int(struct niftp_attr *a, uint8_t id, uint8_t qual, uint16_t v);
/* niftp_attr_str - fill a string attribute; s is borrowed, cut at 255 octets */
void niftp_attr_str(struct niftp_attr *a, uint8_t id, uint8_t qual, const char *s);
/* niftp_attr_none - fill an attribute without value (qual gives the format) */
void niftp_attr_none(struct niftp_attr *a, uint8_t id, uint8_t qual);

/* niftp_attr_fmt, niftp_attr_op - the format and operator of a qualifier */
static inline int niftp_attr_fmt(uint8_t q) { return q & NIFTP_Q_FMT_MASK; }
static inline int niftp_attr_op(uint8_t q) { return q & NIFTP_Q_OP_MASK; }

/* niftp_cmd_build - lay out a command record in rec[0..cap); returns its
 * length, or -1 when it would not fit (or a string is longer than 255) */
ssize_t niftp_cmd_build(unsigned char *rec, size_t cap, uint8_t cmd,
	const struct niftp_attr *a, size_t n);
/* niftp_cmd_parse - parse a command record; 0, or -1 with a reason in err.
 * String values point into rec, which must outlive c. */
int  niftp_cmd_parse(const unsigned char *rec, size_t len, struct niftp_cmd *c,
	char *err, size_t errlen);
/* niftp_cmd_known - 1 for the six level-1 command codes */
int  niftp_cmd_known(int cmd);
/* niftp_cmd_name, niftp_tcc_name - "SFT", "MS", ... or "?" */
const char *niftp_cmd_name(int cmd);
const char *niftp_tcc_name(int tcc);

/* niftp_rec_put - frame a record of len octets into out as sub-records of
 * at most 63 octets, the last with the end bit (len 0: a lone 0x80);
 * 0, or -1 when out would pass its cap (out unchanged) */
int  niftp_rec_put(struct buf *out, const void *rec, size_t len);
/* niftp_cmd_put - niftp_cmd_build + niftp_rec_put; 0 or -1 */
int  niftp_cmd_put(struct buf *out, uint8_t cmd, const struct niftp_attr *a, size_t n);
/* niftp_tcc_put - append the escape 00 cc aa; 0 or -1 */
int  niftp_tcc_put(struct buf *out, uint8_t cc, uint8_t arg);

/* niftp_sr_encode - frame data src[0..len) as sub-records into dst (at
 * most room octets). With compress, runs of 3 or more equal octets become
 * compressed sub-records. When all of src is framed and end is set, the
 * last sub-record carries the end bit (len 0 with end: a lone 0x80) and
 * *ended is set. Never emits a zero-length non-final sub-record.
 * Returns the octets written to dst; *used is the octets of src framed. */
size_t niftp_sr_encode(unsigned char *dst, size_t room, const unsigned char *src,
	size_t len, int compress, int end, size_t *used, int *ended);

/* Decoder. */
enum niftp_dec_mode {
	NIFTP_DEC_MODE_CMD,		/* records are command records */
	NIFTP_DEC_MODE_DATA,		/* records are file data */
};

enum niftp_dec_type {
	NIFTP_DEC_NEED,			/* all input consumed, no event */
	NIFTP_DEC_CMD,			/* a command record is complete */
	NIFTP_DEC_DATA,			/* data octets were copied to the sink */
	NIFTP_DEC_TCC,			/* a transfer-control command */
	NIFTP_DEC_ERROR,		/* malformed input: see err */
};

struct niftp_dec_ev {
	enum niftp_dec_type type;
	const unsigned char *rec;	/* CMD: the record (valid until the next call) */
	size_t	reclen;
	size_t	dlen;			/* DATA: octets copied to the sink */
	int	eor;			/* DATA: the record ended after them */
	uint8_t	tcc;			/* TCC: command code 0x40..0x47 */
	uint8_t	arg;			/* TCC: argument */
	const char *err;		/* ERROR: reason (valid until the next call) */
};

struct niftp_dec {
	int	mode;			/* enum niftp_dec_mode */
	int	compress;		/* data mode: compressed sub-records agreed */
	int	st;			/* position in the grammar (niftp_rec.c) */
	unsigned remain;		/* octets (or repeats) left in this sub-record */
	int	end;			/* this sub-record ends its record */
	uint8_t	rep;			/* the unit of a compressed sub-record */
	uint8_t	tcc;			/* escape: command octet read */
	int	in_rec;			/* a record is open */
	int	failed;			/* an error was reported: sticky */
	int	cmd_done;		/* the previous event was a CMD: restart cmd */
	size_t	cmdlen;
	unsigned char cmd[NIFTP_MAX_CMD_RECORD];
	char	err[200];
};

/* niftp_dec_init - start in command mode, nothing pending */
void niftp_dec_init(struct niftp_dec *d);
/* niftp_dec_reset - forget any partial sub-record or record (transport
 * RESET: data in flight is lost); the mode is kept */
void niftp_dec_reset(struct niftp_dec *d);
/* niftp_dec_set_mode - switch mode between events (at a sub-record
 * boundary); an open data record is forgotten */
void niftp_dec_set_mode(struct niftp_dec *d, int mode, int compress);
/* niftp_dec_between - 1 when no sub-record or escape is half read */
int  niftp_dec_between(const struct niftp_dec *d);
/* niftp_dec_next - consume input p[0..len) up to one event; returns the
 * octets consumed and fills ev. Data octets go to sink[0..room); in data
 * mode room must be > 0 for progress. After an ERROR every call returns
 * the same error. */
size_t niftp_dec_next(struct niftp_dec *d, const unsigned char *p, size_t len,
	unsigned char *sink, size_t room, struct niftp_dec_ev *ev);

#endif
