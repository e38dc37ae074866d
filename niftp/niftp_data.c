/*++
 * NAME
 *	niftp_data 3
 * SUMMARY
 *	NIFTP-80 data phase: sender and receiver, marks, restarts, compression, commit
 * SYNOPSIS
 *	#include "niftp/niftp_int.h"
 * DESCRIPTION
 *	The data sender reads the file in large chunks through the
 *	filestore and frames it in sub-records (the whole file as one
 *	record when transparent or binary, one record per line under
 *	text formatting 0x01). It emits MS every mark interval of file
 *	octets (counted before compression) and ES at the end; with mark
 *	acknowledgement agreed it stalls when the window is full. RR makes
 *	it seek back to a mark and start again with SS. QR makes it end
 *	with an ES echoing the code (a second ES when its ES(OK) had gone).
 *
 *	The data receiver gathers data in a buffer, writes it through the
 *	filestore, tells the filestore the file offset of every mark, sends
 *	MR when more than half the window is unacknowledged (and a final MR
 *	before ER), and at ES(OK) asks the filestore to commit; ER(OK) goes
 *	only when niftp_commit_done() says the data is durable. After a
 *	transport RESET it cuts the file at its last mark and sends RR;
 *	data that arrives before the sender's SS is discarded.
 *
 *	Compression: run-length sub-records when agreed (text 0x01 or
 *	binary 0x40), or the private deflate facility 0x0100: each stretch
 *	between marks is one raw deflate stream (zlib, windowBits -15,
 *	level 1) finished at MS and ES, so every mark is a clean restart
 *	point. The receiver checks that each stream ended there.
 *
 *	A final line without LF under 0x01 is sent as a record left open
 *	at ES; the receiver appends LF only at an end of record, so such a
 *	file arrives byte-identical.
 * DIAGNOSTICS
 *	Receiver-side problems become QR(0x20 retry / 0x21 no retry /
 *	0x22 protocol) with a reason; framing faults fail the call.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/niftp_int.h"
#include "util/alloc.h"

/* Lines mode: records are lines (text, formatting 0x01). */
static int lines_mode(const struct niftp_xfer *x)
{
	return !x->binary && !x->deflate && x->textfmt == NIFTP_TF_LINES;
}

/* unwrap - full mark number for an 8-bit mark, at most x->mark; -1 if none */
static int64_t unwrap(const struct niftp_xfer *x, uint8_t k)
{
	int64_t	full = (int64_t) x->mark - (int64_t) ((x->mark - k) & 0xff);

	return full < 0 ? -1 : full;
}

/* progress - raise NIFTP_EV_PROGRESS; 1 when the engine went away */
static int progress(struct niftp *n)
{
	struct niftp_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = NIFTP_EV_PROGRESS;
	ev.offset = n->x.offset;
	ev.size = n->x.sender ? n->x.req.size : -1;
	ev.mark = n->x.mark;
	return niftp_emit(n, &ev);
}

void niftp_data_free(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;

	free(x->rbuf);
	free(x->wbuf);
	free(x->zbuf);
	x->rbuf = x->wbuf = x->zbuf = NULL;
	if (x->z_init == 1)
		deflateEnd(&x->z);
	else if (x->z_init == 2)
		inflateEnd(&x->z);
	x->z_init = 0;
}

/* z_setup - start the deflate or inflate stream */
static int z_setup(struct niftp *n, int compress)
{
	struct niftp_xfer *x = &n->x;
	int	rc;

	memset(&x->z, 0, sizeof(x->z));
	if (compress)
		rc = deflateInit2(&x->z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	else
		rc = inflateInit2(&x->z, -15);
	if (rc != Z_OK)
		return niftp_fail(n, NIFTP_ERR_TEMP, "zlib: cannot start %s: %s",
			compress ? "deflate" : "inflate", x->z.msg ? x->z.msg : "no memory");
	x->z_init = compress ? 1 : 2;
	x->zbuf = xmalloc(NIFTP_ZBUF);
	x->zpos = x->zlen = 0;
	x->z_end = 0;
	x->seg_in = 0;
	return 0;
}

int niftp_data_start(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	char	reason[NIFTP_REASON_MAX] = "";

	x->acked = x->mark;
	if (x->sender) {
		x->ds = DS_SEND;
		if (x->interval == 0)
			x->interval = niftp_mark_interval(x->req.size);
		x->offset = (uint64_t) x->mark * x->interval;
		x->next_mark = (uint64_t) (x->mark + 1) * x->interval;
		x->rbuf = xmalloc(NIFTP_RBUF);
		x->rpos = x->rlen = 0;
		x->eof = 0;
		if (x->deflate && z_setup(n, 1) < 0)
			return -1;
		if (niftp_send_tcc(n, NIFTP_SS, (uint8_t) (x->mark & 0xff)) < 0)
			return -1;
		if (x->binary && niftp_send_tcc(n, NIFTP_CS, 0x01) < 0)
			return -1;
		if (x->offset > 0 && n->fs->seek(x->fh, x->offset, reason) < 0) {
			x->read_failed = 1;
			x->local_err = 1;
			niftp_set_reason(n, "seek to %llu: %s", (unsigned long long) x->offset,
				reason[0] ? reason : "failed");
		}
		return 0;
	}
	x->ds = DR_WAIT_SS;
	if (n->role_p && x->req.resume && x->restart > 0) {
		/* P receiving a resumed get: cut our copy at the granted mark. */
		uint32_t g = x->restart;
		uint64_t off = g == x->open.mark ? x->open.offset
			: x->open.mark ? (uint64_t) g * (x->open.offset / x->open.mark) : 0;

		if (n->fs->truncate && n->fs->truncate(x->fh, off, reason) < 0)
			return niftp_fail(n, NIFTP_ERR_TEMP, "truncate to restart mark %u: %s", g,
				reason[0] ? reason : "failed");
		x->mark = g;
		x->mark_off = off;
		x->offset = off;
		x->acked = g;
		n->docket.mark = g;	/* our interval is unknown: use our offset */
		n->docket.offset = off;
	}
	x->wbuf = xmalloc(NIFTP_WBUF);
	x->wlen = 0;
	if (x->deflate && z_setup(n, 0) < 0)
		return -1;
	niftp_dec_set_mode(&n->dec, NIFTP_DEC_MODE_DATA, x->rle);
	return 0;
}

int niftp_data_want(const struct niftp *n)
{
	const struct niftp_xfer *x = &n->x;

	if (n->st != NS_DATA || x->ds != DS_SEND)
		return 0;
	if (x->marks && (x->facilities & NIFTP_F_MARKACK) && x->offset == x->next_mark
	    && x->mark + 1 - x->acked > x->window && !(x->deflate && x->zpos < x->zlen)
	    && !(x->deflate && x->seg_in > 0 && !x->z_end) && !x->read_failed)
		return 0;		/* window full: wait for MR */
	return 1;
}

/* send_es - end the data with ES(code) */
static int send_es(struct niftp *n, uint8_t code)
{
	struct niftp_xfer *x = &n->x;

	if (niftp_send_tcc(n, NIFTP_ES, code) < 0)
		return -1;
	x->es_code = code;
	if (code)
		x->err_code = code;
	x->ds = DS_ES_SENT;
	x->es_pending = 1;		/* ES went out (remembered across a reset) */
	return 0;
}

/* refill - read more file data; -1 on a read error */
static int refill(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	char	reason[NIFTP_REASON_MAX] = "";

	if (x->rpos > 0) {
		memmove(x->rbuf, x->rbuf + x->rpos, x->rlen - x->rpos);
		x->rlen -= x->rpos;
		x->rpos = 0;
	}
	while (!x->eof && x->rlen < NIFTP_RBUF) {
		ssize_t	r = n->fs->read(x->fh, x->rbuf + x->rlen, NIFTP_RBUF - x->rlen, reason);

		if (r < 0) {
			x->read_failed = 1;
			x->local_err = 1;
			niftp_set_reason(n, "read: %s", reason[0] ? reason : "failed");
			return -1;
		}
		if (r == 0) {
			x->eof = 1;
			break;
		}
		x->rlen += (size_t) r;
		if (x->rlen >= 64)
			break;
	}
	return 0;
}

/* z_compact - make room at the end of the deflate staging buffer */
static void z_compact(struct niftp_xfer *x)
{
	if (x->zpos > 0) {
		memmove(x->zbuf, x->zbuf + x->zpos, x->zlen - x->zpos);
		x->zlen -= x->zpos;
		x->zpos = 0;
	}
}

/* z_run - deflate in_len octets of the read buffer (flush: finish the stream) */
static int z_run(struct niftp *n, size_t in_len, int finish)
{
	struct niftp_xfer *x = &n->x;
	int	rc;

	z_compact(x);
	x->z.next_in = x->rbuf + x->rpos;
	x->z.avail_in = (uInt) in_len;
	x->z.next_out = x->zbuf + x->zlen;
	x->z.avail_out = (uInt) (NIFTP_ZBUF - x->zlen);
	rc = deflate(&x->z, finish ? Z_FINISH : Z_NO_FLUSH);
	if (rc == Z_STREAM_ERROR)
		return niftp_fail(n, NIFTP_ERR_TEMP, "zlib: deflate failed");
	x->rpos += in_len - x->z.avail_in;
	x->offset += in_len - x->z.avail_in;
	if (in_len > x->z.avail_in)
		x->seg_in = 1;
	x->zlen = NIFTP_ZBUF - x->z.avail_out;
	if (finish && rc == Z_STREAM_END)
		x->z_end = 1;
	return 0;
}

/* send_mark - MS at a mark boundary */
static int send_mark(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;

	x->mark++;
	if (niftp_send_tcc(n, NIFTP_MS, (uint8_t) (x->mark & 0xff)) < 0)
		return -1;
	x->next_mark += x->interval;
	if (x->deflate) {
		deflateReset(&x->z);
		x->z_end = 0;
		x->seg_in = 0;
	}
	if (n->role_p) {
		n->docket.mark = x->mark;
		n->docket.offset = x->offset;
	}
	return progress(n) ? -1 : 0;
}

ssize_t niftp_data_output(struct niftp *n, unsigned char *p, size_t room)
{
	struct niftp_xfer *x = &n->x;
	size_t	w = 0;

	while (n->st == NS_DATA && x->ds == DS_SEND && n->outq.len == 0 && room - w >= 2) {
		size_t	avail, seg, k, used;
		int	ended;

		if (x->read_failed) {
			if (send_es(n, 0x28) < 0)
				return -1;
			break;
		}
		/* Deflate: send what the stream produced (whole sub-records
		 * unless the stream is finished). */
		if (x->deflate && x->zpos < x->zlen) {
			size_t	chunk = x->zlen - x->zpos;

			if (!x->z_end)
				chunk -= chunk % NIFTP_SR_MAX;
			if (chunk > 0) {
				int	end = x->z_end && x->eof && x->rpos == x->rlen;

				k = niftp_sr_encode(p + w, room - w, x->zbuf + x->zpos, chunk, 0,
					end && chunk == x->zlen - x->zpos, &used, &ended);
				w += k;
				x->zpos += used;
				if (x->zpos == x->zlen)
					x->zpos = x->zlen = 0;
				if (used < chunk)
					break;
				continue;
			}
		}
		if (!x->eof && x->rlen - x->rpos < 64 && refill(n) < 0)
			continue;
		avail = x->rlen - x->rpos;
		if (x->marks && x->offset == x->next_mark && avail > 0) {
			if (x->deflate && x->seg_in > 0 && !x->z_end) {
				if (z_run(n, 0, 1) < 0)
					return -1;
				continue;
			}
			if (x->deflate && x->zpos < x->zlen)
				continue;
			if (!niftp_data_want(n))
				break;		/* window full */
			if (send_mark(n) < 0)
				return n->zombie ? (ssize_t) w : -1;
			break;			/* let the MS go out first */
		}
		if (avail == 0) {
			if (!x->eof)
				break;
			if (x->deflate && x->seg_in > 0 && !x->z_end) {
				if (z_run(n, 0, 1) < 0)
					return -1;
				continue;
			}
			if (x->deflate && x->zpos < x->zlen)
				continue;
			if (send_es(n, 0) < 0)
				return -1;
			break;
		}
		seg = avail;
		if (x->marks && x->next_mark - x->offset < seg)
			seg = (size_t) (x->next_mark - x->offset);
		if (x->deflate) {
			if (z_run(n, seg, 0) < 0)
				return -1;
			continue;
		}
		if (lines_mode(x)) {
			const unsigned char *s = x->rbuf + x->rpos;
			const unsigned char *lf = memchr(s, '\n', seg);
			size_t	len = lf ? (size_t) (lf - s) : seg;

			if (x->maxrec != 0xFFFF && x->reclen + len > x->maxrec) {
				x->local_err = 1;
				niftp_set_reason(n, "a line is longer than the agreed record size %u",
					x->maxrec);
				if (send_es(n, 0x29) < 0)
					return -1;
				break;
			}
			k = niftp_sr_encode(p + w, room - w, s, len, x->rle, lf != NULL, &used, &ended);
			w += k;
			x->rpos += used;
			x->offset += used;
			x->reclen += used;
			if (ended) {
				x->reclen = 0;
				if (lf) {
					x->rpos++;
					x->offset++;
				}
			}
			if (used < len || (lf && !ended))
				break;
		} else {
			int	end;

			if (x->maxrec != 0xFFFF && seg > x->maxrec - x->reclen)
				seg = (size_t) (x->maxrec - x->reclen);
			if (!x->eof && seg == avail) {
				/* Keep a tail back until we know whether the file ends there. */
				seg = avail - 1;
				if (seg >= NIFTP_SR_MAX)
					seg -= seg % NIFTP_SR_MAX;
			}
			end = (x->eof && seg == avail)
				|| (x->maxrec != 0xFFFF && x->reclen + seg == x->maxrec);
			k = niftp_sr_encode(p + w, room - w, x->rbuf + x->rpos, seg, x->rle, end,
				&used, &ended);
			w += k;
			x->rpos += used;
			x->offset += used;
			x->reclen += used;
			if (ended)
				x->reclen = 0;
			if (used < seg)
				break;
		}
	}
	return (ssize_t) w;
}

/* flush_w - write gathered data through the filestore */
static int flush_w(struct niftp *n);

/* recv_error - the receiver stops the data with QR(code) */
static int recv_error(struct niftp *n, uint8_t code, const char *why)
{
	struct niftp_xfer *x = &n->x;

	niftp_set_reason(n, "%s", why);
	x->local_err = 1;
	x->wlen = 0;
	x->qr_code = code;
	x->err_code = code;
	x->ds = DR_QR_SENT;
	return niftp_send_tcc(n, NIFTP_QR, code);
}

static int flush_w(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	char	reason[NIFTP_REASON_MAX] = "", why[400];
	int	retry = 0;

	if (x->wlen == 0)
		return 0;
	if (n->fs->write(x->fh, x->wbuf, x->wlen, &retry, reason) < 0) {
		snprintf(why, sizeof(why), "write: %s", reason[0] ? reason : "failed");
		recv_error(n, retry ? 0x20 : 0x21, why);
		return -1;
	}
	x->wlen = 0;
	return 0;
}

unsigned char *niftp_data_sink(struct niftp *n, size_t *room)
{
	struct niftp_xfer *x = &n->x;

	if (x->wbuf == NULL) {		/* cannot happen: data mode implies buffers */
		niftp_dec_set_mode(&n->dec, NIFTP_DEC_MODE_CMD, 0);
		*room = 0;
		return NULL;
	}
	if (x->deflate && x->zbuf) {
		*room = NIFTP_ZBUF;
		return x->zbuf;
	}
	if (x->ds != DR_RECV)
		x->wlen = 0;
	if (x->wlen == NIFTP_WBUF)
		(void) flush_w(n);
	*room = NIFTP_WBUF - x->wlen;
	return x->wbuf + x->wlen;
}

/* check_size - the file must stay under the configured limit */
static int check_size(struct niftp *n)
{
	char	why[200];

	if (n->cfg.max_size > 0 && n->x.offset > n->cfg.max_size) {
		snprintf(why, sizeof(why), "file larger than the limit of %llu octets",
			(unsigned long long) n->cfg.max_size);
		recv_error(n, 0x21, why);
		return -1;
	}
	return 0;
}

/* z_inflate - expand dlen octets of raw deflate input into the write buffer */
static int z_inflate(struct niftp *n, size_t dlen)
{
	struct niftp_xfer *x = &n->x;

	x->z.next_in = x->zbuf;
	x->z.avail_in = (uInt) dlen;
	if (dlen > 0)
		x->seg_in = 1;
	while (x->z.avail_in > 0 && x->ds == DR_RECV) {
		size_t	before, room = NIFTP_WBUF - x->wlen;
		uint64_t limit = x->stretch_max ? x->stretch_max : NIFTP_MAX_INTERVAL;
		int	rc;

		if (x->z_end)
			return niftp_fail(n, NIFTP_ERR_PROTO, "deflate: data after the end of "
				"a stream (before mark %u)", x->mark + 1);
		if (x->wlen == NIFTP_WBUF && flush_w(n) < 0)
			return 0;
		room = NIFTP_WBUF - x->wlen;
		/* A deflate bomb: no stretch between marks is longer than the
		 * sender's interval (the first whole stretch), nor than
		 * NIFTP_MAX_INTERVAL before it is known. Inflate one octet
		 * past the limit at most. */
		if (x->stretch >= limit)
			return niftp_fail(n, NIFTP_ERR_PROTO, "deflate: stream after mark %u "
				"expands past %llu octets, more than the mark interval", x->mark,
				(unsigned long long) limit);
		if (room > limit - x->stretch + 1)
			room = (size_t) (limit - x->stretch + 1);
		x->z.next_out = x->wbuf + x->wlen;
		x->z.avail_out = (uInt) room;
		before = x->z.avail_out;
		rc = inflate(&x->z, Z_NO_FLUSH);
		x->wlen += before - x->z.avail_out;
		x->offset += before - x->z.avail_out;
		x->stretch += before - x->z.avail_out;
		if (x->stretch > limit)
			return niftp_fail(n, NIFTP_ERR_PROTO, "deflate: stream after mark %u "
				"expands past %llu octets, more than the mark interval", x->mark,
				(unsigned long long) limit);
		if (rc == Z_STREAM_END)
			x->z_end = 1;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return niftp_fail(n, NIFTP_ERR_PROTO, "deflate: corrupt data after "
				"mark %u: %s", x->mark, x->z.msg ? x->z.msg : "inflate failed");
		if (check_size(n) < 0)
			return 0;
	}
	return 0;
}

int niftp_data_got(struct niftp *n, size_t dlen, int eor)
{
	struct niftp_xfer *x = &n->x;
	char	why[200];

	if (x->ds != DR_RECV) {
		if (x->ds == DR_WAIT_SS && x->restarts == 0 && (dlen > 0 || eor))
			return niftp_fail(n, NIFTP_ERR_PROTO, "data received before SS");
		return 0;		/* discarded: restart or QR in progress */
	}
	if (x->committed_resume)
		return 0;
	if (x->deflate) {
		if (z_inflate(n, dlen) < 0 || x->ds != DR_RECV)
			return 0;
	} else {
		x->wlen += dlen;
		x->offset += dlen;
		x->reclen += dlen;
		if (x->maxrec != 0xFFFF && x->reclen > x->maxrec) {
			snprintf(why, sizeof(why), "record longer than the agreed maximum of %u octets",
				x->maxrec);
			recv_error(n, 0x22, why);
			return 0;
		}
	}
	if (eor) {
		x->reclen = 0;
		if (lines_mode(x)) {
			if (x->wlen == NIFTP_WBUF && flush_w(n) < 0)
				return 0;
			x->wbuf[x->wlen++] = '\n';
			x->offset++;
		}
	}
	(void) check_size(n);
	return 0;
}

/* restart - sender: RR(k) asks for the data again from mark k */
static int restart(struct niftp *n, uint8_t k)
{
	struct niftp_xfer *x = &n->x;
	int64_t	full = unwrap(x, k);
	char	reason[NIFTP_REASON_MAX] = "";

	if (full < 0)
		return niftp_fail(n, NIFTP_ERR_PROTO, "RR(%u) names a mark not sent (last %u)",
			k, x->mark);
	if (++x->restarts > NIFTP_MAX_RESTARTS)
		return niftp_fail(n, niftp_xfer_resumable(n) ? NIFTP_ERR_RESUMABLE : NIFTP_ERR_TEMP,
			"too many restarts (%d) in one transfer", x->restarts);
	x->mark = (uint32_t) full;
	x->offset = (uint64_t) full * x->interval;
	x->next_mark = x->offset + x->interval;
	x->rpos = x->rlen = 0;
	x->eof = 0;
	x->reclen = 0;
	x->es_pending = 0;
	x->read_failed = 0;
	/*
	 * RR(k) says the receiver holds everything to mark k: it frees the
	 * window up to k. Keeping an older MR count would deadlock when the
	 * RESET lost the receiver's last MR: the receiver, having counted
	 * that MR as sent, waits for more than half a window of new marks,
	 * while we would stall after fewer.
	 */
	x->acked = x->mark;
	if (x->deflate) {
		deflateReset(&x->z);
		x->zpos = x->zlen = 0;
		x->z_end = 0;
		x->seg_in = 0;
	}
	if (n->fs->seek(x->fh, x->offset, reason) < 0) {
		x->read_failed = 1;
		x->local_err = 1;
		niftp_set_reason(n, "seek to %llu: %s", (unsigned long long) x->offset,
			reason[0] ? reason : "failed");
	}
	if (n->role_p) {
		n->docket.mark = x->mark;
		n->docket.offset = x->offset;
	}
	x->ds = DS_SEND;
	if (niftp_send_tcc(n, NIFTP_SS, k) < 0)
		return -1;
	if (x->binary && niftp_send_tcc(n, NIFTP_CS, 0x01) < 0)
		return -1;
	return 0;
}

/* sender_tcc - MR, RR, QR, ER at the data sender */
static int sender_tcc(struct niftp *n, uint8_t tcc, uint8_t arg)
{
	struct niftp_xfer *x = &n->x;
	int64_t	full;
	int	live = x->ds == DS_SEND || x->ds == DS_ES_SENT || x->ds == DS_WAIT_RR;

	switch (tcc) {
	case NIFTP_MR:
		if (!live)
			break;
		if ((full = unwrap(x, arg)) < 0)
			return niftp_fail(n, NIFTP_ERR_PROTO, "MR(%u) names a mark not sent (last %u)",
				arg, x->mark);
		if ((uint32_t) full > x->acked)
			x->acked = (uint32_t) full;
		return 0;
	case NIFTP_RR:
		if (!live)
			break;
		return restart(n, arg);
	case NIFTP_QR:
		if (!live)
			break;
		x->qr_code = arg;
		if (!x->reason[0] || x->read_failed == 0)
			niftp_set_reason(n, "the receiver stopped the data with QR(0x%02x)", arg);
		/* QR(0), "finish now", before our ES(OK): the receiver keeps a
		 * file cut short. The protocol answer is ES(0), but the transfer
		 * did not carry the file: never report it as done. */
		if (arg == 0 && x->ds != DS_ES_SENT && !(x->ds == DS_WAIT_RR && x->es_pending)) {
			x->cut_short = 1;
			x->local_err = 1;
			niftp_set_reason(n, "the receiver ended the data early with QR(0x00) after "
				"%llu octets: the file it keeps is incomplete",
				(unsigned long long) x->offset);
		}
		/* Echo the code in an ES (a second ES if ES(OK) had gone). */
		if (niftp_send_tcc(n, NIFTP_ES, arg) < 0)
			return -1;
		x->ds = DS_ES_SENT;
		x->es_pending = 1;
		return 0;
	case NIFTP_ER:
		if (!(x->ds == DS_ES_SENT || (x->ds == DS_WAIT_RR && x->es_pending)))
			break;
		if (arg == 0 && x->qr_code == 0 && x->es_code == 0) {
			x->data_ok = 1;
		} else {
			x->err_code = arg ? arg : x->qr_code ? x->qr_code : x->es_code;
			if (!x->reason[0])
				niftp_set_reason(n, "data ended with ER(0x%02x)", arg);
		}
		niftp_data_over(n);
		return 0;
	default:
		break;
	}
	return niftp_fail(n, NIFTP_ERR_PROTO, "%s(0x%02x) received by the data sender (%s)",
		niftp_tcc_name(tcc), arg, n->role_p ? "P" : "Q");
}

/* receiver_es - ES at the data receiver */
static int receiver_es(struct niftp *n, uint8_t arg)
{
	struct niftp_xfer *x = &n->x;

	if (arg != 0) {
		x->wlen = 0;
		x->err_code = arg;
		niftp_set_reason(n, "the sender ended the data with ES(0x%02x)", arg);
		if (niftp_send_tcc(n, NIFTP_ER, arg) < 0)
			return -1;
		niftp_data_over(n);
		return 0;
	}
	if (x->deflate && x->seg_in && !x->z_end)
		return niftp_fail(n, NIFTP_ERR_PROTO, "deflate: stream not finished at ES");
	if (flush_w(n) < 0)
		return 0;
	if (x->mark > x->acked) {
		if (niftp_send_tcc(n, NIFTP_MR, (uint8_t) (x->mark & 0xff)) < 0)
			return -1;
		x->acked = x->mark;
	}
	niftp_dec_set_mode(&n->dec, NIFTP_DEC_MODE_CMD, 0);
	x->ds = DR_COMMIT;
	if (x->committed_resume) {
		x->data_ok = 1;
		if (niftp_send_tcc(n, NIFTP_ER, 0) < 0)
			return -1;
		niftp_data_over(n);
		return 0;
	}
	n->fs->commit(x->fh, n);
	return 0;
}

/* receiver_tcc - SS, CS, MS, ES at the data receiver */
static int receiver_tcc(struct niftp *n, uint8_t tcc, uint8_t arg)
{
	struct niftp_xfer *x = &n->x;

	switch (tcc) {
	case NIFTP_SS:
		if (x->ds == DR_QR_SENT)
			return 0;
		if (x->ds != DR_WAIT_SS)
			break;
		if (arg != (x->mark & 0xff))
			return niftp_fail(n, NIFTP_ERR_PROTO, "SS(%u) does not match the restart "
				"mark %u", arg, x->mark);
		x->ds = DR_RECV;
		x->reclen = 0;
		x->stretch = 0;
		return 0;
	case NIFTP_CS:
		if (x->ds != DR_RECV && x->ds != DR_QR_SENT && x->ds != DR_WAIT_SS)
			break;
		if ((arg & 0x0f) > 1)
			return niftp_fail(n, NIFTP_ERR_PROTO, "CS(0x%02x): code not supported", arg);
		return 0;
	case NIFTP_MS:
		if (x->ds == DR_QR_SENT || (x->ds == DR_WAIT_SS && x->restarts > 0))
			return 0;
		if (x->ds != DR_RECV)
			break;
		if (arg != ((x->mark + 1) & 0xff))
			return niftp_fail(n, NIFTP_ERR_PROTO, "MS(%u) out of sequence (expected %u)",
				arg, (x->mark + 1) & 0xff);
		if (x->deflate) {
			if (x->seg_in && !x->z_end)
				return niftp_fail(n, NIFTP_ERR_PROTO, "deflate: stream not finished "
					"at mark %u", x->mark + 1);
			inflateReset(&x->z);
			x->z_end = 0;
			x->seg_in = 0;
			if (x->stretch_max == 0)
				x->stretch_max = x->stretch;	/* the sender's interval */
			x->stretch = 0;
		}
		if (flush_w(n) < 0)
			return 0;
		x->mark++;
		x->mark_off = x->offset;
		if (n->fs->mark)
			n->fs->mark(x->fh, x->mark, x->offset);
		if (n->role_p) {
			n->docket.mark = x->mark;
			n->docket.offset = x->offset;
		}
		if (x->mark - x->acked > (uint32_t) x->window / 2 || x->mr_due) {
			if (niftp_send_tcc(n, NIFTP_MR, (uint8_t) (x->mark & 0xff)) < 0)
				return -1;
			x->acked = x->mark;
			x->mr_due = 0;
		}
		return progress(n) ? -1 : 0;
	case NIFTP_ES:
		if (x->ds == DR_QR_SENT) {
			if (arg == 0)
				return 0;	/* crossed our QR; the echo follows */
			x->err_code = arg;
			if (niftp_send_tcc(n, NIFTP_ER, arg) < 0)
				return -1;
			niftp_data_over(n);
			return 0;
		}
		if (x->ds == DR_WAIT_SS && x->restarts > 0)
			return 0;	/* sent before our RR arrived */
		if (x->ds != DR_RECV)
			break;
		return receiver_es(n, arg);
	default:
		break;
	}
	return niftp_fail(n, NIFTP_ERR_PROTO, "%s(0x%02x) received by the data receiver (%s) "
		"out of order", niftp_tcc_name(tcc), arg, n->role_p ? "P" : "Q");
}

int niftp_data_tcc(struct niftp *n, uint8_t tcc, uint8_t arg)
{
	if (n->st != NS_DATA)
		return niftp_fail(n, NIFTP_ERR_PROTO, "%s(0x%02x) received by %s after the data "
			"phase", niftp_tcc_name(tcc), arg, n->role_p ? "P" : "Q");
	return n->x.sender ? sender_tcc(n, tcc, arg) : receiver_tcc(n, tcc, arg);
}

int niftp_data_commit_done(struct niftp *n, int ok, int retry, const char *reason)
{
	struct niftp_xfer *x = &n->x;
	char	why[400];

	if (ok) {
		x->commit_ok = 1;
		x->data_ok = 1;
		if (niftp_send_tcc(n, NIFTP_ER, 0) < 0)
			return -1;
		niftp_data_over(n);
		return 0;
	}
	snprintf(why, sizeof(why), "%s", reason && reason[0] ? reason : "commit failed");
	return recv_error(n, retry == NIFTP_COMMIT_DENIED ? NIFTP_QR_DENIED : retry ? 0x20 : 0x21,
		why);
}

void niftp_data_reset(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	char	reason[NIFTP_REASON_MAX] = "";

	switch (x->ds) {
	case DS_SEND:
	case DS_ES_SENT:
	case DS_WAIT_RR:
		/* The receiver speaks first (RR, or ER if it had our ES). */
		x->ds = DS_WAIT_RR;
		return;
	case DR_RECV:
	case DR_WAIT_SS:
		if (++x->restarts > NIFTP_MAX_RESTARTS) {
			(void) niftp_fail(n, niftp_xfer_resumable(n) ? NIFTP_ERR_RESUMABLE : NIFTP_ERR_TEMP,
				"too many restarts (%d) in one transfer", x->restarts);
			return;
		}
		x->wlen = 0;
		if (n->fs->truncate && n->fs->truncate(x->fh, x->mark_off, reason) < 0) {
			(void) niftp_fail(n, NIFTP_ERR_TEMP, "restart: truncate to mark %u: %s",
				x->mark, reason[0] ? reason : "failed");
			return;
		}
		x->offset = x->mark_off;
		x->reclen = 0;
		if (x->deflate) {
			inflateReset(&x->z);
			x->z_end = 0;
			x->seg_in = 0;
		}
		x->ds = DR_WAIT_SS;
		/* Our last MR may have been lost with the RESET, and a sender
		 * may not count RR as an acknowledgement: acknowledge the
		 * first new mark at once. */
		x->mr_due = 1;
		niftp_dec_set_mode(&n->dec, NIFTP_DEC_MODE_DATA, x->rle);
		(void) niftp_send_tcc(n, NIFTP_RR, (uint8_t) (x->mark & 0xff));
		return;
	case DR_QR_SENT:
		(void) niftp_send_tcc(n, NIFTP_QR, x->qr_code);
		return;
	default:
		return;			/* DR_COMMIT: ER follows the commit */
	}
}
