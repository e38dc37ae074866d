/*++
 * NAME
 *	vcgw_pump 3
 * SUMMARY
 *	one direction of a gateway call: data records spliced socket to
 *	pipe to socket
 * SYNOPSIS
 *	#include "vcgw/vcgw_pump.h"
 * DESCRIPTION
 *	Input: peek at what the socket holds, scan it from the scanner's
 *	place (a record type octet, a sub-record header, or inside a body),
 *	and splice the scanned octets into the pipe. The scan stops before
 *	a type octet other than 0, so the input stops exactly before a
 *	command record. If the splice takes fewer octets than were scanned,
 *	the scanner is set back and walks just those.
 *
 *	Output: whole items only. Every item (a type octet, or a sub-record
 *	header with its body) that is in the pipe and not yet fully written
 *	is in a small ring, runs of equal items (full sub-records) in one
 *	entry, so the pump knows where the output stands after any partial
 *	write: at an item boundary, with a data record open or not, or
 *	inside a sub-record with so many octets to go.
 *
 *	Starting inside a sub-record body (the transport service had read
 *	part of it): the rest of that body is received into a small buffer
 *	(at most 127 octets) and goes out first under a header of its own,
 *	after a type octet if the output has no record open yet; from then
 *	on input and output stand at the same place and octets pass as they
 *	came.
 *
 *	Errors: a failed peek or splice from the input stops the input; the
 *	transport service reads next and reports what the socket says (end,
 *	reset). EINVAL and its kind before any splice from the input worked
 *	means the kernel cannot splice from that socket: nosplice; nothing
 *	is lost (what was scanned stays in the socket, what the start
 *	received into pre still goes out). A failed write is out_err.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"
#include "vcgw/vcgw_pump.h"

#define RING		256	/* item runs in flight */
#define RUN_ROUNDS	8	/* peek+splice rounds per vcgw_pump_run */
#define PIPE_MIN	4096	/* a pipe the kernel gave us is at least a page */

/* A run of equal items: n record type octets (type), or n sub-records with header hdr. */
struct item {
	uint32_t n;
	unsigned char type;
	unsigned char hdr;
};

struct vcgw_pump {
	int	pipe[2];
	size_t	pcap;		/* the pipe's capacity */
	int	in_fd, out_fd;
	int	in_on, out_on;	/* we hold the input / the output */
	int	in_end;		/* no more reading: a command, the end, an error */
	struct vcgw_scan sc;	/* the input's place after what was consumed */
	uint64_t consumed;	/* octets taken from the input since start */
	size_t	arem;		/* starting inside a body: octets still to receive */
	int	alast;
	unsigned char pre[2 + VCGW_PUMP_SUBMAX];	/* written before the pipe */
	size_t	npre, preoff;
	size_t	inpipe;		/* octets in the pipe */
	struct item ring[RING];	/* items in pre and pipe not fully written */
	unsigned rh, rn;
	size_t	woff;		/* octets of the head item written */
	int	wopen;		/* a data record is open before the head item */
	int	failed;		/* a write failed */
	int	pipe_full;	/* the pipe took less than offered: wait for output */
	int	splice_ok;	/* a splice from the input has worked */
};

/* item_len - octets of one item */
static size_t item_len(const struct item *it)
{
	return it->type ? 1 : 1 + (size_t)(it->hdr & 0x7f);
}

/* ring_tail - the last run, or NULL */
static struct item *ring_tail(struct vcgw_pump *p)
{
	return p->rn ? &p->ring[(p->rh + p->rn - 1) % RING] : NULL;
}

/* ring_push - n more equal items; 0, or -1 when the ring is full */
static int ring_push(struct vcgw_pump *p, int type, unsigned hdr, uint32_t n)
{
	struct item *t = ring_tail(p);

	if (t != NULL && t->type == type && (type || t->hdr == hdr)
	    && t->n <= UINT32_MAX - n) {
		t->n += n;
		return 0;
	}
	if (p->rn == RING)
		return -1;
	t = &p->ring[(p->rh + p->rn) % RING];
	t->type = (unsigned char)type;
	t->hdr = (unsigned char)(type ? 0 : hdr);
	t->n = n;
	p->rn++;
	return 0;
}

/* advance - n more octets went out: pop the items they finish */
static void advance(struct vcgw_pump *p, size_t n)
{
	struct item *h;
	size_t len, k;

	p->woff += n;
	while (p->rn > 0) {
		h = &p->ring[p->rh];
		len = item_len(h);
		if (p->woff < len)
			break;
		k = p->woff / len;
		if (k > h->n)
			k = h->n;
		p->woff -= k * len;
		h->n -= (uint32_t)k;
		p->wopen = h->type ? 1 : !(h->hdr & 0x80);
		if (h->n == 0) {
			p->rh = (p->rh + 1) % RING;
			p->rn--;
		}
	}
}

/*
 * scan - walk n octets from place st; items go into the ring when p is
 * not NULL (and the walk stops before an item that does not fit).
 */
static size_t scan(struct vcgw_pump *p, struct vcgw_scan *st, const unsigned char *b,
	size_t n, uint64_t *payload, int *stop)
{
	size_t i = 0, m;
	unsigned h;

	*stop = 0;
	while (i < n) {
		if (st->in_record && st->body == 0 && b[i] == 0x7f) {
			/* bulk data: a run of full sub-records, 128 octets apart */
			size_t j = i;
			uint32_t k = 0;

			while (j + 128 <= n && b[j] == 0x7f && k < 0x10000) {
				j += 128;
				k++;
			}
			if (k > 0) {
				if (p != NULL && ring_push(p, 0, 0x7f, k) < 0)
					break;
				*payload += 127 * (uint64_t)k;
				i = j;
				continue;
			}
		}
		if (st->body > 0) {
			m = n - i < st->body ? n - i : st->body;
			i += m;
			st->body -= m;
			*payload += m;
			if (st->body == 0 && st->last)
				st->in_record = 0;
		} else if (!st->in_record) {
			if (b[i] != 0) {
				*stop = 1;	/* a command, or not Yellow Book */
				break;
			}
			if (p != NULL && ring_push(p, 1, 0, 1) < 0)
				break;
			i++;
			st->in_record = 1;
		} else {
			h = b[i];
			if (p != NULL && ring_push(p, 0, h, 1) < 0)
				break;
			i++;
			st->body = h & 0x7f;
			st->last = (h & 0x80) != 0;
			if (st->body == 0 && st->last)
				st->in_record = 0;
		}
	}
	return i;
}

/* vcgw_pump_scan - the scanner alone */
size_t vcgw_pump_scan(struct vcgw_scan *st, const unsigned char *b, size_t n,
	uint64_t *payload, int *stop)
{
	return scan(NULL, st, b, n, payload, stop);
}

/* vcgw_pump_new - a pump and its pipe */
struct vcgw_pump *vcgw_pump_new(size_t pipe_size, char *err, size_t errlen)
{
	struct vcgw_pump *p;
	int fd[2], sz;

	if (pipe2(fd, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->pipe[0] = fd[0];
	p->pipe[1] = fd[1];
	/* larger pipes mean fewer wakeups; the kernel may refuse (limits) */
	if (pipe_size > 0 && pipe_size <= (size_t)0x40000000)
		(void)fcntl(fd[1], F_SETPIPE_SZ, (int)pipe_size);
	sz = fcntl(fd[1], F_GETPIPE_SZ);
	p->pcap = sz >= PIPE_MIN ? (size_t)sz : PIPE_MIN;
	p->in_fd = p->out_fd = -1;
	return p;
}

/* vcgw_pump_free - close and free */
void vcgw_pump_free(struct vcgw_pump *p)
{
	if (p == NULL)
		return;
	close(p->pipe[0]);
	close(p->pipe[1]);
	free(p);
}

/* vcgw_pump_pipe_size - the pipe's capacity */
size_t vcgw_pump_pipe_size(const struct vcgw_pump *p)
{
	return p->pcap;
}

/* vcgw_pump_start - begin moving records */
int vcgw_pump_start(struct vcgw_pump *p, int in_fd, int out_fd,
	const struct ts_ybpos *inpos, const struct ts_ybpos *outpos)
{
	size_t body = inpos->body > VCGW_PUMP_SUBMAX ? VCGW_PUMP_SUBMAX : inpos->body;

	if (p->in_on || p->out_on || p->inpipe > 0)
		return -1;
	if (outpos->in_record && !inpos->in_record)
		return -1;
	p->in_fd = in_fd;
	p->out_fd = out_fd;
	p->consumed = 0;
	p->rh = p->rn = 0;
	p->woff = 0;
	p->wopen = outpos->in_record != 0;
	p->npre = p->preoff = 0;
	p->arem = 0;
	p->failed = 0;
	p->pipe_full = 0;
	memset(&p->sc, 0, sizeof(p->sc));
	if (inpos->in_record && !outpos->in_record) {
		p->pre[p->npre++] = 0;	/* the output needs the record's type octet */
		(void)ring_push(p, 1, 0, 1);
	}
	if (body > 0) {
		unsigned h = (unsigned)body | (inpos->last ? 0x80u : 0);

		p->pre[p->npre++] = (unsigned char)h;
		(void)ring_push(p, 0, h, 1);
		p->arem = body;
		p->alast = inpos->last != 0;
		p->sc.in_record = !p->alast;
	} else {
		p->sc.in_record = inpos->in_record != 0;
	}
	p->in_on = p->out_on = 1;
	p->in_end = 0;
	return 0;
}

/* tail_partial - octets at the pipe's end that are part of an unfinished sub-record */
static size_t tail_partial(struct vcgw_pump *p)
{
	struct item *t;

	if (p->sc.body == 0 || p->arem > 0 || (t = ring_tail(p)) == NULL || t->type)
		return 0;
	return 1 + (size_t)(t->hdr & 0x7f) - p->sc.body;
}

/* writable - octets of whole items waiting in the pipe */
static size_t writable(struct vcgw_pump *p)
{
	size_t tp = tail_partial(p);

	return p->inpipe > tp ? p->inpipe - tp : 0;
}

/* out_some - write pre, then whole items from the pipe, until the kernel is full */
static void out_some(struct vcgw_pump *p, struct vcgw_pump_res *res)
{
	ssize_t n;
	size_t w;

	while (p->out_on && !p->failed) {
		if (p->preoff < p->npre) {
			if (p->arem > 0)
				return;	/* the sub-record is not whole yet */
			n = send(p->out_fd, p->pre + p->preoff, p->npre - p->preoff,
				MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (n < 0) {
				p->failed = 1;
				res->out_err = errno;
				return;
			}
			p->preoff += (size_t)n;
			res->written += (uint64_t)n;
			advance(p, (size_t)n);
			continue;
		}
		if ((w = writable(p)) == 0)
			return;
		n = splice(p->pipe[0], NULL, p->out_fd, NULL, w,
			SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* a socket takes spliced pages whatever its kind: this is
			 * the connection failing (0 cannot be: w > 0) */
			p->failed = 1;
			res->out_err = n < 0 ? errno : EIO;
			return;
		}
		p->inpipe -= (size_t)n;
		p->pipe_full = 0;
		res->written += (uint64_t)n;
		advance(p, (size_t)n);
		if ((size_t)n < w)
			return;	/* the socket is full */
	}
}

/* align - starting inside a body: receive its rest into pre; 1 when done
 * (or nothing to do), 0 to wait, -1 when the input stopped */
static int align(struct vcgw_pump *p, struct vcgw_pump_res *res)
{
	ssize_t n;

	while (p->arem > 0) {
		n = recv(p->in_fd, p->pre + p->npre, p->arem, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			res->stopped = 1;	/* the end, or an error: ts will see it */
			return -1;
		}
		p->npre += (size_t)n;
		p->arem -= (size_t)n;
		p->consumed += (uint64_t)n;
		res->moved += (uint64_t)n;
	}
	return 1;
}

/* nosplice_errno - the kernel cannot splice from this kind of file */
static int nosplice_errno(int e)
{
	return e == EINVAL || e == ENOSYS || e == EOPNOTSUPP;
}

/*
 * unpipe - the pipe holds nothing but the start of one sub-record: the
 * output cannot take it (only whole sub-records go out) and the input may
 * not be able to add to it (the pipe's page slots are spent: a pipe the
 * kernel kept small, or a sender that dribbles an octet per segment). It
 * comes out into pre, and its rest is received there (align), as at a
 * start inside a body. At most VCGW_PUMP_SUBMAX + 1 octets are copied.
 * 1 when done, 0 when there was nothing to do.
 */
static int unpipe(struct vcgw_pump *p)
{
	size_t tp = tail_partial(p), got = 0;
	ssize_t n;

	if (tp == 0 || p->inpipe != tp || p->preoff < p->npre || p->arem > 0
	    || tp > sizeof(p->pre))
		return 0;
	while (got < tp) {
		n = read(p->pipe[0], p->pre + got, tp - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			log_panic("vcgw_pump: read %zu octets back from the pipe: %s", tp,
			    n < 0 ? strerror(errno) : "end of pipe");
		got += (size_t)n;
	}
	p->npre = tp;
	p->preoff = 0;
	p->inpipe = 0;
	p->pipe_full = 0;
	p->arem = p->sc.body;
	p->alast = p->sc.last;
	p->sc.body = 0;
	p->sc.in_record = !p->alast;
	return 1;
}

/*
 * copy_in - the pipe is empty, the input holds octets (the peek saw
 * them), yet splice takes none: TCP never splices past an urgent mark
 * (a sender's MSG_OOB), which only a receive passes. Up to PIPE_MIN of
 * the n octets peeked go through scratch into the pipe, an empty pipe
 * taking that much at once. The octets moved, or -1 with errno.
 */
static ssize_t copy_in(struct vcgw_pump *p, unsigned char *scratch, size_t n)
{
	ssize_t r, w;

	r = recv(p->in_fd, scratch, n < PIPE_MIN ? n : PIPE_MIN, MSG_DONTWAIT);
	if (r <= 0)
		return r < 0 ? -1 : (errno = ECONNRESET, -1);
	do
		w = write(p->pipe[1], scratch, (size_t)r);
	while (w < 0 && errno == EINTR);
	if (w != r)
		log_panic("vcgw_pump: an empty pipe took %zd of %zd octets: %s", w, r,
		    w < 0 ? strerror(errno) : "short write");
	return r;
}

/* in_some - peek, scan, splice in; stops the input at a command, the end or an error */
static void in_some(struct vcgw_pump *p, unsigned char *scratch, size_t len,
	struct vcgw_pump_res *res)
{
	struct vcgw_scan saved;
	unsigned saved_rn;
	uint32_t saved_n;
	uint64_t payload;
	size_t room, want, m;
	ssize_t n, s;
	int stop, rounds, rc;

	for (rounds = 0; p->in_on && !p->in_end && rounds < RUN_ROUNDS; rounds++) {
		if (p->arem > 0) {
			if ((rc = align(p, res)) <= 0) {
				if (rc < 0)
					p->in_end = 1;
				return;
			}
			out_some(p, res);
		}
		room = p->pcap > p->inpipe ? p->pcap - p->inpipe : 0;
		if ((room == 0 || p->pipe_full) && writable(p) == 0) {
			/* nothing the output could take frees room: only the
			 * start of a sub-record is in the pipe, or nothing */
			if (unpipe(p))
				continue;	/* its rest comes into pre */
			if (p->preoff < p->npre)
				return;	/* pre goes out first, then unpipe */
			p->pipe_full = 0;
			room = p->pcap > p->inpipe ? p->pcap - p->inpipe : 0;
		}
		if (room == 0 || p->rn == RING || p->pipe_full)
			return;	/* the output must make room first */
		want = room < len ? room : len;
		n = recv(p->in_fd, scratch, want, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			p->in_end = 1;	/* the end, or an error: ts reads and sees it */
			res->stopped = 1;
			return;
		}
		saved = p->sc;
		saved_rn = p->rn;
		saved_n = p->rn ? ring_tail(p)->n : 0;
		payload = 0;
		m = scan(p, &p->sc, scratch, (size_t)n, &payload, &stop);
		if (m > 0) {
			s = splice(p->in_fd, NULL, p->pipe[1], NULL, m,
				SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && p->inpipe == 0)
				s = copy_in(p, scratch, m);	/* an urgent mark */
			if (s < (ssize_t)m) {
				/* set the scanner back; walk what was taken, if any */
				int e = errno;

				p->sc = saved;
				p->rn = saved_rn;
				if (saved_rn)
					ring_tail(p)->n = saved_n;
				payload = 0;
				if (s > 0) {
					(void)scan(p, &p->sc, scratch, (size_t)s, &payload, &stop);
					stop = 0;
				} else if (s < 0 && e == EINTR) {
					continue;
				} else if (s < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
					/* the pipe counts pages, not octets: full
					 * (it holds something: else copy_in) */
					p->pipe_full = 1;
					continue;	/* unpipe, if nothing can go out */
				} else {
					p->in_end = 1;
					res->stopped = 1;
					res->nosplice = s < 0 && !p->splice_ok
						&& nosplice_errno(e);
					return;
				}
			}
			if ((size_t)s < m)
				p->pipe_full = 1;
			p->splice_ok = 1;
			p->inpipe += (size_t)s;
			p->consumed += (uint64_t)s;
			res->moved += payload;
			out_some(p, res);
			if ((size_t)s < m)
				continue;	/* more, once the pipe has room */
		}
		if (stop) {
			p->in_end = 1;	/* a command record: the transport service's */
			res->stopped = 1;
			return;
		}
		if ((size_t)n < want && (size_t)m == (size_t)n)
			return;	/* the socket had no more */
	}
}

/* vcgw_pump_run - move what can be moved */
void vcgw_pump_run(struct vcgw_pump *p, int can_read, int can_write,
	unsigned char *scratch, size_t len, struct vcgw_pump_res *res)
{
	memset(res, 0, sizeof(*res));
	if (can_write)
		out_some(p, res);
	if (can_read && p->in_on && !p->in_end && !p->failed)
		in_some(p, scratch, len, res);
}

/* vcgw_pump_wants - what to wait for */
void vcgw_pump_wants(const struct vcgw_pump *p, int *rd, int *wr)
{
	struct vcgw_pump *q = (struct vcgw_pump *)p;

	/* a full pipe with nothing whole in it waits for the input, not the
	 * output, once pre is out: in_some() takes the start of the
	 * sub-record out (unpipe) */
	*rd = p->in_on && !p->in_end && !p->failed && (p->arem > 0
		|| (p->inpipe < p->pcap && p->rn < RING
		    && (!p->pipe_full || (writable(q) == 0 && p->preoff >= p->npre))));
	*wr = p->out_on && !p->failed && ((p->preoff < p->npre && p->arem == 0)
		|| writable(q) > 0);
}

/* vcgw_pump_reading - it holds the input */
int vcgw_pump_reading(const struct vcgw_pump *p)
{
	return p != NULL && p->in_on;
}

/* vcgw_pump_writing - it holds the output */
int vcgw_pump_writing(const struct vcgw_pump *p)
{
	return p != NULL && p->out_on;
}

/* vcgw_pump_drained - nothing more can go out */
int vcgw_pump_drained(const struct vcgw_pump *p)
{
	struct vcgw_pump *q = (struct vcgw_pump *)p;

	if (p->in_on)
		return 0;
	if (p->failed)
		return 1;
	if (p->preoff < p->npre && p->arem == 0)
		return 0;
	return writable(q) == 0;
}

/* vcgw_pump_stop_input - the input's place, for the transport service */
void vcgw_pump_stop_input(struct vcgw_pump *p, struct ts_ybpos *pos, uint64_t *skipped)
{
	p->in_on = 0;
	if (p->arem > 0) {
		pos->in_record = 1;
		pos->body = p->arem;
		pos->last = p->alast;
	} else {
		pos->in_record = p->sc.in_record || p->sc.body > 0;
		pos->body = p->sc.body;
		pos->last = p->sc.body > 0 && p->sc.last;
	}
	*skipped = p->consumed;
}

/* vcgw_pump_release - give the output back, discarding what did not go out */
size_t vcgw_pump_release(struct vcgw_pump *p, unsigned char *scratch, size_t len,
	struct ts_ybpos *pos, unsigned char rest[VCGW_PUMP_SUBMAX])
{
	const struct item *h = p->rn ? &p->ring[p->rh] : NULL;
	size_t need, got = 0, dropped = 0;
	ssize_t n;

	p->in_on = 0;
	pos->in_record = p->wopen;
	pos->body = 0;
	pos->last = 0;
	if (h != NULL && p->woff > 0 && !p->failed) {
		/* half written: a sub-record (a type octet is one octet) */
		need = item_len(h) - p->woff;
		if (p->preoff < p->npre) {
			memcpy(rest, p->pre + p->preoff, need);
			p->preoff += need;
			got = need;
		} else {
			/* only whole items go out: the rest is in the pipe */
			while (got < need) {
				n = read(p->pipe[0], rest + got, need - got);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;	/* cannot be */
				got += (size_t)n;
				p->inpipe -= (size_t)n;
			}
		}
		if (got == need) {
			pos->in_record = 1;
			pos->body = need;
			pos->last = (h->hdr & 0x80) != 0;
		}
	}
	dropped = p->npre - p->preoff;
	/* empty the pipe: what is left is dropped, as ts drops queued output */
	while (p->inpipe > 0) {
		n = read(p->pipe[0], scratch, p->inpipe < len ? p->inpipe : len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* cannot be: we know what is in it */
		p->inpipe -= (size_t)n;
		dropped += (size_t)n;
	}
	p->inpipe = 0;
	p->out_on = 0;
	p->rh = p->rn = 0;
	p->woff = 0;
	p->npre = p->preoff = 0;
	p->arem = 0;
	p->pipe_full = 0;
	return dropped;
}
