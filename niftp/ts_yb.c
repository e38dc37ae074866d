/*++
 * NAME
 *	ts_yb 3
 * SUMMARY
 *	Yellow Book framing over a byte stream (IEN 154), sans I/O
 * SYNOPSIS
 *	#include "niftp/ts_yb.h"
 *
 *	struct yb_dec *yb_dec_new(const struct yb_dec_cb *cb, void *arg);
 *	int yb_dec_feed(struct yb_dec *d, const unsigned char *p, size_t len);
 *	int yb_enc_data(struct buf *out, int *open, const void *p, size_t len, int push);
 *	int yb_enc_cmd(struct buf *out, int *open, int code, ...);
 * DESCRIPTION
 *	The decoder is a byte-driven state machine over the record
 *	structure: a type octet, then either data sub-records (header
 *	octet: bit 7 last, bits 6-0 length) or a command code followed by
 *	its fixed number of parameters, each a chain of fragments with the
 *	same header layout (0x80 alone is a null parameter).
 *
 *	Data is not handed over one sub-record at a time: the bodies are
 *	gathered in a staging area of YB_STAGE octets and passed on when
 *	it is full, at the end of a data record (push) and at the end of
 *	each yb_dec_feed() call. At 127 octets per sub-record a callback
 *	per sub-record would cost more than the copy.
 *
 *	A callback may stop the decoder (return -1); yb_dec_consumed() then
 *	says how much of the fed input was used, and the rest may be fed
 *	again later: the state is always consistent with that point.
 *
 *	The encoder appends to a capped struct buf and either appends a
 *	whole item or nothing.
 * DIAGNOSTICS
 *	yb_dec_feed() returns -1 with yb_dec_error() set for an unknown
 *	record type, an unknown command, a parameter longer than
 *	YB_MAX_PARAM or a reason parameter longer than one octet. The
 *	error is sticky: later feeds fail at once.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/ts.h"
#include "niftp/ts_yb.h"
#include "util/alloc.h"
#include "util/buf.h"

#define YB_STAGE	65536	/* data gathered before a callback */
#define YB_SUBMAX	127	/* octets in one sub-record or fragment */

enum yb_state {
	S_TYPE,		/* expecting a record type octet */
	S_DHDR,		/* expecting a data sub-record header */
	S_DBODY,	/* inside a data sub-record body */
	S_CCODE,	/* expecting a command code */
	S_PHDR,		/* expecting a parameter fragment header */
	S_PBODY,	/* inside a parameter fragment */
};

struct yb_dec {
	struct yb_dec_cb cb;
	void	*arg;
	enum yb_state st;
	size_t	rem;		/* octets left in the current body */
	int	last;		/* the current sub-record/fragment is the last */
	int	first;		/* next fragment header is the parameter's first */
	struct yb_cmd cmd;	/* command being gathered */
	unsigned char pbuf[YB_NPARAM][YB_MAX_PARAM + 1];
	unsigned char *stage;	/* YB_STAGE octets of gathered data (on first use) */
	size_t	stlen;
	unsigned long long offset;	/* stream octets consumed before this feed */
	size_t	consumed;	/* octets of the last feed used */
	int	failed;
	char	err[160];
};

/* yb_nparam - parameters of a command code, or 0 for unknown */
static int yb_nparam(int code)
{
	switch (code) {
	case YB_CONNECT:
		return 4;
	case YB_ACCEPT:
	case YB_DISCONNECT:
	case YB_RESET:
		return 3;
	default:
		return 0;
	}
}

/* yb_dec_new - a decoder */
struct yb_dec *yb_dec_new(const struct yb_dec_cb *cb, void *arg)
{
	struct yb_dec *d = xcalloc(1, sizeof(*d));

	d->cb = *cb;
	d->arg = arg;
	d->st = S_TYPE;
	return d;
}

/* yb_dec_free - free a decoder (NULL is fine) */
void yb_dec_free(struct yb_dec *d)
{
	if (d == NULL)
		return;
	free(d->stage);
	free(d);
}

/* yb_dec_error - the reason of the last framing error */
const char *yb_dec_error(const struct yb_dec *d)
{
	return d->failed ? d->err : NULL;
}

/* yb_dec_midrecord - the stream stopped inside a record */
int yb_dec_midrecord(const struct yb_dec *d)
{
	return d->st != S_TYPE;
}

/* yb_dec_consumed - octets of the last yb_dec_feed() input used */
size_t yb_dec_consumed(const struct yb_dec *d)
{
	return d->consumed;
}

/* yb_dec_pos - the decoder's place in the record structure */
int yb_dec_pos(const struct yb_dec *d, int *in_record, size_t *body, int *last)
{
	if (d->failed || d->stlen > 0)
		return -1;
	switch (d->st) {
	case S_TYPE:
		*in_record = 0;
		*body = 0;
		*last = 0;
		return 0;
	case S_DHDR:
		*in_record = 1;
		*body = 0;
		*last = 0;
		return 0;
	case S_DBODY:
		*in_record = 1;
		*body = d->rem;
		*last = d->last;
		return 0;
	default:
		return -1;	/* inside a command */
	}
}

/* yb_dec_set_pos - continue from a place reached by someone else */
void yb_dec_set_pos(struct yb_dec *d, int in_record, size_t body, int last,
	unsigned long long skipped)
{
	if (d->failed)
		return;
	d->stlen = 0;
	d->offset += skipped;
	if (!in_record) {
		d->st = S_TYPE;
	} else if (body == 0) {
		d->st = S_DHDR;
	} else {
		d->st = S_DBODY;
		d->rem = body > YB_SUBMAX ? YB_SUBMAX : body;
		d->last = last != 0;
	}
}

/* fail - record a framing error at input position i */
static int fail(struct yb_dec *d, size_t i, const char *what, unsigned v)
{
	d->failed = 1;
	d->consumed = i;
	snprintf(d->err, sizeof(d->err), "yb framing error at octet %llu: %s %u",
		d->offset + i, what, v);
	return -1;
}

/* flush - hand the staged data over; -1 when the callback stops us */
static int flush(struct yb_dec *d, int push)
{
	size_t n = d->stlen;

	if (n == 0 && !push)
		return 0;
	d->stlen = 0;
	if (d->cb.data == NULL)
		return 0;
	/* never a NULL pointer, even for an empty push before any data */
	return d->cb.data(d->arg, d->stage ? d->stage : (const unsigned char *)"", n,
		push) < 0 ? -1 : 0;
}

/* end_param - a parameter is complete; -1 on error or stop (st is set) */
static int end_param(struct yb_dec *d, size_t i, int *stopped)
{
	int pi = d->cmd.nparam;

	d->pbuf[pi][d->cmd.plen[pi]] = 0;
	if (pi == 0 && (d->cmd.code == YB_DISCONNECT || d->cmd.code == YB_RESET)
	    && d->cmd.plen[0] > 1)
		return fail(d, i, "reason parameter of length", (unsigned)d->cmd.plen[0]);
	d->cmd.nparam = pi + 1;
	d->first = 1;
	if (d->cmd.nparam < yb_nparam(d->cmd.code)) {
		d->st = S_PHDR;
		return 0;
	}
	d->st = S_TYPE;
	if (d->cb.cmd != NULL && d->cb.cmd(d->arg, &d->cmd) < 0) {
		*stopped = 1;
		return -1;
	}
	return 0;
}

/* yb_dec_feed - decode len octets */
int yb_dec_feed(struct yb_dec *d, const unsigned char *p, size_t len)
{
	size_t i = 0, n;
	unsigned h;
	int stopped = 0, k;

	d->consumed = 0;
	if (d->failed)
		return -1;
	while (i < len) {
		switch (d->st) {
		case S_TYPE:
			h = p[i++];
			if (h == 0) {
				d->st = S_DHDR;
			} else if (h == 1) {
				d->st = S_CCODE;
			} else {
				return fail(d, i - 1, "unknown record type", h);
			}
			break;
		case S_DHDR:
			h = p[i++];
			d->rem = h & 0x7f;
			d->last = (h & 0x80) != 0;
			if (d->rem > 0) {
				d->st = S_DBODY;
			} else if (d->last) {
				d->st = S_TYPE;
				if (flush(d, 1) < 0)
					goto stop;
			}
			break;
		case S_DBODY:
			if (d->stage == NULL)	/* on first data: idle decoders stay small */
				d->stage = xmalloc(YB_STAGE);
			n = len - i;
			if (n > d->rem)
				n = d->rem;
			if (n > YB_STAGE - d->stlen)
				n = YB_STAGE - d->stlen;
			if (n == 0) {	/* stage full */
				if (flush(d, 0) < 0)
					goto stop;
				break;
			}
			memcpy(d->stage + d->stlen, p + i, n);
			d->stlen += n;
			i += n;
			d->rem -= n;
			if (d->rem == 0) {
				d->st = d->last ? S_TYPE : S_DHDR;
				if (d->last && flush(d, 1) < 0)
					goto stop;
			}
			break;
		case S_CCODE:
			h = p[i++];
			if (yb_nparam((int)h) == 0)
				return fail(d, i - 1, "unknown command code", h);
			memset(&d->cmd, 0, sizeof(d->cmd));
			d->cmd.code = (int)h;
			for (k = 0; k < YB_NPARAM; k++) {
				d->pbuf[k][0] = 0;
				d->cmd.param[k] = d->pbuf[k];
			}
			d->first = 1;
			d->st = S_PHDR;
			break;
		case S_PHDR:
			h = p[i++];
			k = d->cmd.nparam;
			d->rem = h & 0x7f;
			d->last = (h & 0x80) != 0;
			if (d->first && h == 0x80)
				d->cmd.pnull[k] = 1;
			d->first = 0;
			if (d->cmd.plen[k] + d->rem > YB_MAX_PARAM)
				return fail(d, i - 1, "parameter longer than",
					YB_MAX_PARAM);
			if (d->rem > 0) {
				d->st = S_PBODY;
			} else if (d->last && end_param(d, i, &stopped) < 0) {
				if (stopped)
					goto stop;
				return -1;
			}
			break;
		case S_PBODY:
			k = d->cmd.nparam;
			n = len - i;
			if (n > d->rem)
				n = d->rem;
			memcpy(d->pbuf[k] + d->cmd.plen[k], p + i, n);
			d->cmd.plen[k] += n;
			i += n;
			d->rem -= n;
			if (d->rem > 0)
				break;
			if (!d->last) {
				d->st = S_PHDR;
			} else if (end_param(d, i, &stopped) < 0) {
				if (stopped)
					goto stop;
				return -1;
			}
			break;
		}
	}
	d->consumed = len;
	d->offset += len;
	return flush(d, 0);

stop:
	d->consumed = i;
	d->offset += i;
	return -1;
}

/* yb_enc_data - append data octets as (part of) a data record */
int yb_enc_data(struct buf *out, int *open, const void *p, size_t len, int push)
{
	const unsigned char *s = p;
	unsigned char *dst, *q;
	size_t need, n;

	if (len == 0 && (!push || !*open))
		return 0;	/* nothing to send, or nothing to push */
	need = len + len / YB_SUBMAX + 2;
	if (need < len || (dst = buf_reserve(out, need)) == NULL)
		return -1;
	q = dst;
	if (!*open)
		*q++ = 0;
	if (len == 0)
		*q++ = 0x80;
	while (len > 0) {
		n = len < YB_SUBMAX ? len : YB_SUBMAX;
		*q++ = (unsigned char)(n | (push && n == len ? 0x80 : 0));
		memcpy(q, s, n);
		q += n;
		s += n;
		len -= n;
	}
	buf_commit(out, (size_t)(q - dst));
	*open = !push;
	return 0;
}

/* param_size - encoded size of one parameter */
static size_t param_size(size_t len)
{
	return len == 0 ? 1 : len + (len + YB_SUBMAX - 1) / YB_SUBMAX;
}

/* yb_enc_cmd - append a command record */
int yb_enc_cmd(struct buf *out, int *open, int code, const char *const *params,
	const size_t *plens, int n)
{
	unsigned char *dst, *q;
	const unsigned char *s;
	size_t need, len, m;
	int k;

	if (n < 0 || n > YB_NPARAM || code < 0 || code > 255)
		return -1;
	need = (*open ? 1 : 0) + 2;
	for (k = 0; k < n; k++) {
		len = params[k] == NULL ? 0 : plens ? plens[k] : strlen(params[k]);
		if (len > YB_MAX_PARAM)
			return -1;
		need += param_size(len);
	}
	if ((dst = buf_reserve(out, need)) == NULL)
		return -1;
	q = dst;
	if (*open)
		*q++ = 0x80;	/* an empty last sub-record closes the data record */
	*q++ = 1;
	*q++ = (unsigned char)code;
	for (k = 0; k < n; k++) {
		s = (const unsigned char *)params[k];
		len = s == NULL ? 0 : plens ? plens[k] : strlen(params[k]);
		if (len == 0)
			*q++ = 0x80;
		while (len > 0) {
			m = len < YB_SUBMAX ? len : YB_SUBMAX;
			*q++ = (unsigned char)(m | (m == len ? 0x80 : 0));
			memcpy(q, s, m);
			q += m;
			s += m;
			len -= m;
		}
	}
	buf_commit(out, (size_t)(q - dst));
	*open = 0;
	return 0;
}
