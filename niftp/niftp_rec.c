/*++
 * NAME
 *	niftp_rec 3
 * SUMMARY
 *	NIFTP-80 record codec
 * SYNOPSIS
 *	#include "niftp/niftp_rec.h"
 * DESCRIPTION
 *	See niftp_rec.h. The decoder is a small state machine over the
 *	sub-record grammar; it never reads past the input it is given and
 *	never holds more than one command record (NIFTP_MAX_CMD_RECORD).
 *
 *	Receiving side rules (unix-niftp practice, DESIGN.md section 6):
 *	a compressed header with count 0 is ignored (the "York bug fix");
 *	a compressed sub-record is an error unless compression was agreed
 *	for the data; escapes may sit inside a data record (marks are mid
 *	record) but not inside a command record.
 * DIAGNOSTICS
 *	Errors are reported as text in the event; the decoder stays failed.
 *--*/
#include <stdio.h>
#include <string.h>

#include "niftp/niftp_rec.h"
#include "util/buf.h"

/* Decoder positions. */
enum {
	D_HDR,		/* expecting a sub-record header */
	D_TCC1,		/* escape: expecting the command octet */
	D_TCC2,		/* escape: expecting the argument */
	D_BODY,		/* inside an uncompressed sub-record */
	D_UNIT,		/* compressed: expecting the unit */
	D_REP,		/* compressed: expanding the unit into the sink */
};

void niftp_attr_int(struct niftp_attr *a, uint8_t id, uint8_t qual, uint16_t v)
{
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->qual = (uint8_t) ((qual & ~NIFTP_Q_FMT_MASK) | NIFTP_Q_INT);
	a->ival = v;
}

void niftp_attr_str(struct niftp_attr *a, uint8_t id, uint8_t qual, const char *s)
{
	size_t	len = strlen(s);

	memset(a, 0, sizeof(*a));
	a->id = id;
	a->qual = (uint8_t) ((qual & ~NIFTP_Q_FMT_MASK) | NIFTP_Q_STRING);
	a->str = (const unsigned char *) s;
	a->slen = len > NIFTP_MAX_NAME ? NIFTP_MAX_NAME : len;
}

void niftp_attr_none(struct niftp_attr *a, uint8_t id, uint8_t qual)
{
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->qual = qual;
}

int niftp_cmd_known(int cmd)
{
	return cmd >= NIFTP_STOP && cmd <= NIFTP_STOPACK;
}

const char *niftp_cmd_name(int cmd)
{
	static const char *const names[] = {"STOP", "GO", "RPOS", "RNEG", "SFT", "STOPACK"};

	return niftp_cmd_known(cmd) ? names[cmd] : "?";
}

const char *niftp_tcc_name(int tcc)
{
	static const char *const names[] = {"SS", "MS", "CS", "ES", "RR", "MR", "QR", "ER"};

	return tcc >= NIFTP_SS && tcc <= NIFTP_ER ? names[tcc - NIFTP_SS] : "?";
}

ssize_t niftp_cmd_build(unsigned char *rec, size_t cap, uint8_t cmd,
	const struct niftp_attr *a, size_t n)
{
	size_t	len = 0;
	size_t	i;

	if (n > NIFTP_MAX_ATTRS || cap < 2)
		return -1;
	rec[len++] = cmd;
	rec[len++] = (unsigned char) n;
	for (i = 0; i < n; i++) {
		if (cap - len < 2)
			return -1;
		rec[len++] = a[i].id;
		rec[len++] = a[i].qual;
		switch (a[i].qual & NIFTP_Q_FMT_MASK) {
		case NIFTP_Q_INT:
			if (cap - len < 2)
				return -1;
			rec[len++] = (unsigned char) (a[i].ival >> 8);
			rec[len++] = (unsigned char) (a[i].ival & 0xff);
			break;
		case NIFTP_Q_STRING:
			if (a[i].slen > NIFTP_MAX_NAME || cap - len < 1 + a[i].slen)
				return -1;
			rec[len++] = (unsigned char) a[i].slen;
			if (a[i].slen)
				memcpy(rec + len, a[i].str, a[i].slen);
			len += a[i].slen;
			break;
		default:		/* unknown or no value: nothing follows */
			break;
		}
	}
	return (ssize_t) len;
}

int niftp_cmd_parse(const unsigned char *rec, size_t len, struct niftp_cmd *c,
	char *err, size_t errlen)
{
	size_t	pos = 2;
	size_t	n, i;

	if (len < 2) {
		snprintf(err, errlen, "truncated record: %zu octet%s, no attribute count",
			len, len == 1 ? "" : "s");
		return -1;
	}
	c->cmd = rec[0];
	n = rec[1];
	c->nattr = 0;
	if (!niftp_cmd_known(c->cmd)) {
		snprintf(err, errlen, "unknown command 0x%02x", c->cmd);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct niftp_attr *a = &c->attr[i];

		if (len - pos < 2) {
			snprintf(err, errlen, "truncated record: %s declares %zu attributes, "
				"the record ends in attribute %zu", niftp_cmd_name(c->cmd), n, i + 1);
			return -1;
		}
		memset(a, 0, sizeof(*a));
		a->id = rec[pos];
		a->qual = rec[pos + 1];
		pos += 2;
		switch (a->qual & NIFTP_Q_FMT_MASK) {
		case NIFTP_Q_INT:
			if (len - pos < 2) {
				snprintf(err, errlen, "truncated record: integer value of attribute "
					"0x%02x in %s ends early", a->id, niftp_cmd_name(c->cmd));
				return -1;
			}
			a->ival = (uint16_t) ((rec[pos] << 8) | rec[pos + 1]);
			pos += 2;
			break;
		case NIFTP_Q_STRING:
			if (len - pos < 1) {
				snprintf(err, errlen, "truncated record: string length of attribute "
					"0x%02x in %s missing", a->id, niftp_cmd_name(c->cmd));
				return -1;
			}
			a->slen = rec[pos++];
			if (len - pos < a->slen) {
				snprintf(err, errlen, "string of attribute 0x%02x in %s declares "
					"%zu octets, only %zu left in the record", a->id,
					niftp_cmd_name(c->cmd), a->slen, len - pos);
				return -1;
			}
			a->str = rec + pos;
			pos += a->slen;
			break;
		default:
			break;
		}
		c->nattr++;
	}
	if (pos != len) {
		snprintf(err, errlen, "%s declares %zu attributes but %zu octets follow them "
			"(a string longer than declared?)", niftp_cmd_name(c->cmd), n, len - pos);
		return -1;
	}
	return 0;
}

int niftp_rec_put(struct buf *out, const void *rec, size_t len)
{
	const unsigned char *p = rec;
	size_t	need = len + (len + NIFTP_SR_MAX - 1) / NIFTP_SR_MAX + (len == 0);
	unsigned char *w;

	if ((w = buf_reserve(out, need)) == NULL)
		return -1;
	if (len == 0) {
		*w = NIFTP_SR_END;
		buf_commit(out, 1);
		return 0;
	}
	while (len > 0) {
		size_t	k = len > NIFTP_SR_MAX ? NIFTP_SR_MAX : len;

		*w++ = (unsigned char) (k | (k == len ? NIFTP_SR_END : 0));
		memcpy(w, p, k);
		w += k;
		p += k;
		len -= k;
	}
	buf_commit(out, need);
	return 0;
}

int niftp_cmd_put(struct buf *out, uint8_t cmd, const struct niftp_attr *a, size_t n)
{
	unsigned char rec[NIFTP_MAX_CMD_RECORD];
	ssize_t	len;

	if ((len = niftp_cmd_build(rec, sizeof(rec), cmd, a, n)) < 0)
		return -1;
	return niftp_rec_put(out, rec, (size_t) len);
}

int niftp_tcc_put(struct buf *out, uint8_t cc, uint8_t arg)
{
	unsigned char t[3] = {0x00, cc, arg};

	return buf_append(out, t, 3);
}

/* run_len - octets equal to p[0] at the start of p[0..len), at most 63 */
static size_t run_len(const unsigned char *p, size_t len)
{
	size_t	i, max = len > NIFTP_SR_MAX ? NIFTP_SR_MAX : len;

	for (i = 1; i < max && p[i] == p[0]; i++)
		;
	return i;
}

size_t niftp_sr_encode(unsigned char *dst, size_t room, const unsigned char *src,
	size_t len, int compress, int end, size_t *used, int *ended)
{
	size_t	w = 0, r = 0;

	*ended = 0;
	if (len == 0) {
		if (end && room >= 1) {
			dst[w++] = NIFTP_SR_END;
			*ended = 1;
		}
		*used = 0;
		return w;
	}
	if (!compress) {
		/* Hot path: full sub-records of 63 copied whole. */
		while (r < len && room - w >= 2) {
			size_t	k = len - r;

			if (k > NIFTP_SR_MAX)
				k = NIFTP_SR_MAX;
			if (k > room - w - 1)
				k = room - w - 1;
			dst[w] = (unsigned char) k;
			if (end && r + k == len) {
				dst[w] |= NIFTP_SR_END;
				*ended = 1;
			}
			memcpy(dst + w + 1, src + r, k);
			w += k + 1;
			r += k;
		}
		*used = r;
		return w;
	}
	while (r < len && room - w >= 2) {
		size_t	run = run_len(src + r, len - r);

		if (run >= 3) {
			dst[w] = (unsigned char) (NIFTP_SR_COMP | run);
			if (end && r + run == len) {
				dst[w] |= NIFTP_SR_END;
				*ended = 1;
			}
			dst[w + 1] = src[r];
			w += 2;
			r += run;
			continue;
		}
		/* Literal sub-record up to the next run of 3 (or 63 octets). */
		{
			size_t	k = 0, lim = len - r, hdr = w;

			if (lim > NIFTP_SR_MAX)
				lim = NIFTP_SR_MAX;
			if (lim > room - w - 1)
				lim = room - w - 1;
			while (k < lim) {
				if (k + 2 < len - r && src[r + k] == src[r + k + 1]
				    && src[r + k] == src[r + k + 2])
					break;
				k++;
			}
			if (k == 0)
				k = 1;		/* cannot happen: run < 3 here */
			dst[hdr] = (unsigned char) k;
			if (end && r + k == len) {
				dst[hdr] |= NIFTP_SR_END;
				*ended = 1;
			}
			memcpy(dst + hdr + 1, src + r, k);
			w += k + 1;
			r += k;
		}
	}
	*used = r;
	return w;
}

void niftp_dec_init(struct niftp_dec *d)
{
	d->mode = NIFTP_DEC_MODE_CMD;
	d->compress = 0;
	d->failed = 0;
	d->err[0] = 0;
	niftp_dec_reset(d);
}

void niftp_dec_reset(struct niftp_dec *d)
{
	d->st = D_HDR;
	d->remain = 0;
	d->end = 0;
	d->in_rec = 0;
	d->cmdlen = 0;
	d->cmd_done = 0;
}

void niftp_dec_set_mode(struct niftp_dec *d, int mode, int compress)
{
	d->mode = mode;
	d->compress = compress;
	d->in_rec = 0;
	d->cmdlen = 0;
	d->cmd_done = 0;
}

int niftp_dec_between(const struct niftp_dec *d)
{
	return d->st == D_HDR;
}

/* dec_fail - make the decoder fail with a reason */
static size_t dec_fail(struct niftp_dec *d, struct niftp_dec_ev *ev, size_t used,
	const char *fmt, int v)
{
	snprintf(d->err, sizeof(d->err), fmt, v);
	d->failed = 1;
	ev->type = NIFTP_DEC_ERROR;
	ev->err = d->err;
	return used;
}

/* cmd_append - add octets to the command record being collected */
static int cmd_append(struct niftp_dec *d, const unsigned char *p, size_t k)
{
	if (k > sizeof(d->cmd) - d->cmdlen)
		return -1;
	memcpy(d->cmd + d->cmdlen, p, k);
	d->cmdlen += k;
	return 0;
}

size_t niftp_dec_next(struct niftp_dec *d, const unsigned char *p, size_t len,
	unsigned char *sink, size_t room, struct niftp_dec_ev *ev)
{
	size_t	i = 0, out = 0;

	memset(ev, 0, sizeof(*ev));
	if (d->failed) {
		ev->type = NIFTP_DEC_ERROR;
		ev->err = d->err;
		return 0;
	}
	if (d->cmd_done) {
		d->cmd_done = 0;
		d->cmdlen = 0;
	}
	for (;;) {
		/*
		 * Fast path for the bulk of a transfer: whole plain sub-records
		 * (no end bit, no compression, count > 0) that are entirely in
		 * the input and fit the sink are copied in one tight loop; the
		 * state machine below handles everything else.
		 */
		if (d->mode == NIFTP_DEC_MODE_DATA && d->st == D_HDR) {
			while (i < len) {
				unsigned h = p[i];
				size_t	c = h & NIFTP_SR_COUNT;

				if ((h & (NIFTP_SR_END | NIFTP_SR_COMP)) != 0 || c == 0
				    || c > len - i - 1 || c > room - out)
					break;
				memcpy(sink + out, p + i + 1, c);
				out += c;
				i += 1 + c;
				d->in_rec = 1;
			}
		}
		/* Data mode: deliver what was collected before anything else. */
		if (d->mode == NIFTP_DEC_MODE_DATA && out > 0
		    && (i == len || out == room || (d->st == D_HDR && p[i] == 0x00))) {
			ev->type = NIFTP_DEC_DATA;
			ev->dlen = out;
			return i;
		}
		if (i == len && d->st != D_REP) {
			ev->type = NIFTP_DEC_NEED;
			return i;
		}
		switch (d->st) {
		case D_HDR: {
			uint8_t	h = p[i++];
			unsigned count = h & NIFTP_SR_COUNT;

			if (h == 0x00) {
				if (d->mode == NIFTP_DEC_MODE_CMD && d->in_rec)
					return dec_fail(d, ev, i, "transfer-control escape inside a "
						"command record (after %d octets)", (int) d->cmdlen);
				d->st = D_TCC1;
				break;
			}
			d->end = (h & NIFTP_SR_END) != 0;
			if ((h & NIFTP_SR_COMP) && count > 0) {
				if (d->mode == NIFTP_DEC_MODE_CMD)
					return dec_fail(d, ev, i, "compressed sub-record (header 0x%02x) "
						"in a command record", h);
				if (!d->compress)
					return dec_fail(d, ev, i, "compressed sub-record (header 0x%02x) "
						"but compression was not agreed", h);
				d->in_rec = 1;
				d->remain = count;
				d->st = D_UNIT;
				break;
			}
			if ((h & NIFTP_SR_COMP) || count == 0) {
				/* 0x40 with count 0 is ignored; 0x80 (or 0xC0) alone ends a record. */
				if (!d->end)
					break;
				d->in_rec = 0;
				if (d->mode == NIFTP_DEC_MODE_CMD) {
					ev->type = NIFTP_DEC_CMD;
					ev->rec = d->cmd;
					ev->reclen = d->cmdlen;
					d->cmd_done = 1;
					return i;
				}
				ev->type = NIFTP_DEC_DATA;
				ev->dlen = out;
				ev->eor = 1;
				return i;
			}
			d->in_rec = 1;
			d->remain = count;
			d->st = D_BODY;
			break;
		}
		case D_TCC1:
			d->tcc = p[i++];
			if (d->tcc < NIFTP_SS || d->tcc > NIFTP_ER)
				return dec_fail(d, ev, i, "unknown transfer-control command 0x%02x",
					d->tcc);
			d->st = D_TCC2;
			break;
		case D_TCC2:
			ev->type = NIFTP_DEC_TCC;
			ev->tcc = d->tcc;
			ev->arg = p[i++];
			d->st = D_HDR;
			return i;
		case D_BODY: {
			size_t	k = len - i;

			if (k > d->remain)
				k = d->remain;
			if (d->mode == NIFTP_DEC_MODE_CMD) {
				if (cmd_append(d, p + i, k) < 0)
					return dec_fail(d, ev, i, "command record longer than %d octets",
						NIFTP_MAX_CMD_RECORD);
			} else {
				if (k > room - out)
					k = room - out;
				if (k == 0) {
					ev->type = NIFTP_DEC_DATA;
					ev->dlen = out;
					return i;
				}
				memcpy(sink + out, p + i, k);
				out += k;
			}
			i += k;
			d->remain -= (unsigned) k;
			if (d->remain == 0) {
				d->st = D_HDR;
				if (d->end) {
					d->in_rec = 0;
					if (d->mode == NIFTP_DEC_MODE_CMD) {
						ev->type = NIFTP_DEC_CMD;
						ev->rec = d->cmd;
						ev->reclen = d->cmdlen;
						d->cmd_done = 1;
						return i;
					}
					ev->type = NIFTP_DEC_DATA;
					ev->dlen = out;
					ev->eor = 1;
					return i;
				}
			}
			break;
		}
		case D_UNIT:
			d->rep = p[i++];
			d->st = D_REP;
			break;
		case D_REP: {
			size_t	k = d->remain;

			if (k > room - out)
				k = room - out;
			if (k == 0) {
				ev->type = NIFTP_DEC_DATA;
				ev->dlen = out;
				return i;
			}
			memset(sink + out, d->rep, k);
			out += k;
			d->remain -= (unsigned) k;
			if (d->remain == 0) {
				d->st = D_HDR;
				if (d->end) {
					d->in_rec = 0;
					ev->type = NIFTP_DEC_DATA;
					ev->dlen = out;
					ev->eor = 1;
					return i;
				}
			}
			break;
		}
		}
	}
}
