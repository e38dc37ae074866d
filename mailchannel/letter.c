/*++
 * NAME
 *	letter 3
 * SUMMARY
 *	streaming letter reader and writer (Grey Book mail file)
 * SYNOPSIS
 *	#include "mailchannel/letter.h"
 * DESCRIPTION
 *	The reader pulls bytes through one LETTER_IOBUF buffer and cuts
 *	lines out of it: address-list lines one at a time into a buffer
 *	capped at ADDR_LINE_MAX (each parsed and dropped at once), header
 *	lines into a buffer capped at HDR_MAX. Whatever the last read
 *	brought in beyond the header stays in the read buffer and is the
 *	start of the body; the rest of the body is read straight into the
 *	caller's memory (or copied fd to fd by the kernel), so a letter of
 *	any size costs the same memory.
 *
 *	Blank lines: a line of only white space (space, tab, CR, FF, VT)
 *	counts as blank, both after the address list (Grey Book readers:
 *	MMDF qn_rdchar, PP) and after the header. White space before the
 *	header (blank lines, leading blanks of its first line) is skipped,
 *	as MMDF's qn_raend does: it belongs to the part a copy rewrites.
 *
 *	The writer never rebuilds the original header: it writes the
 *	caller's prefix (address list and Via: line) and then the header
 *	block as read, then the body, so everything after the prefix is
 *	byte-exact.
 * DIAGNOSTICS
 *	Every failure is returned with a reason naming the line or the
 *	side (read or write); nothing is logged.
 *--*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "mailchannel/letter.h"
#include "mailchannel/mc_util.h"
#include "util/alloc.h"
#include "util/durable.h"

struct letter {
	letter_read_fn *rd;
	void   *ctx;
	int	own_ctx;		/* ctx is ours to free (letter_open_pread) */
	int	fd;			/* -1 when reading through a callback */
	unsigned char *ib;		/* read buffer, LETTER_IOBUF bytes */
	size_t	ipos;			/* first unconsumed byte of ib */
	size_t	ilen;			/* bytes in ib */
	int	eof;
	uint64_t off;			/* file offset of ib[ipos] */
	unsigned long line;		/* line number at the cursor */
	struct addr_list *rcpts;
	struct hdr *hdr;
	uint64_t hdr_off;
	uint64_t body_off;
	unsigned long hdr_line;
	unsigned long body_line;
	uint64_t body_done;
	char	err[LETTER_ERRLEN];
};

/* letter_fd_read - the read callback of letter_open_fd */
static ssize_t letter_fd_read(void *ctx, void *p, size_t len)
{
	return read(*(int *) ctx, p, len);
}

/* letter_fill - make sure ib holds unread bytes: 1, 0 at EOF, -1 */
static int letter_fill(struct letter *l)
{
	ssize_t n;

	if (l->ipos < l->ilen)
		return 1;
	if (l->eof)
		return 0;
	for (;;) {
		n = l->rd(l->ctx, l->ib, LETTER_IOBUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mc_err(l->err, sizeof(l->err), "read letter at offset %llu: %s",
			    (unsigned long long) l->off, strerror(errno));
			return -1;
		}
		break;
	}
	if (n == 0) {
		l->eof = 1;
		return 0;
	}
	if ((size_t) n > LETTER_IOBUF)
		n = LETTER_IOBUF;	/* a callback that lies about its count */
	l->ipos = 0;
	l->ilen = (size_t) n;
	return 1;
}

/* letter_getline - append the next line (with its LF) to dst: 1 when
 * something was read (*complete says whether it ended in LF), 0 at end
 * of file, -1 on a read error, -2 when dst's cap was hit */
static int letter_getline(struct letter *l, struct buf *dst, int *complete)
{
	const unsigned char *p, *nl;
	size_t  take;
	int     got = 0, r;

	*complete = 0;
	for (;;) {
		if ((r = letter_fill(l)) < 0)
			return -1;
		if (r == 0)
			return got;
		p = l->ib + l->ipos;
		nl = memchr(p, '\n', l->ilen - l->ipos);
		take = nl ? (size_t) (nl - p) + 1 : l->ilen - l->ipos;
		if (buf_append(dst, p, take) < 0)
			return -2;
		l->ipos += take;
		l->off += take;
		got = 1;
		if (nl != NULL) {
			*complete = 1;
			return 1;
		}
	}
}

/* letter_fieldlike - does the line start like "Name:" (RFC 733 also
 * "Name :")? The same rule as hdr_parse's, checked early for errors */
static int letter_fieldlike(const unsigned char *p, size_t len)
{
	size_t  k, n;

	for (k = 0; k < len && p[k] > ' ' && p[k] < 0x7f && p[k] != ':'; k++)
		;
	n = k;
	while (k < len && (p[k] == ' ' || p[k] == '\t'))
		k++;
	return n > 0 && k < len && p[k] == ':';
}

/* letter_headerlike - does the line start with an RFC 822 field name
 * (a letter, then letters, digits and '-') and a colon? No address form
 * of DESIGN section 3 does (routes start with '@' or '<'), so such a line
 * in the address list means the blank line after the list is missing:
 * "Cc: Chris Bennett <bennett@ucl>" must not become a recipient. */
static int letter_headerlike(const unsigned char *p, size_t len)
{
	size_t  k = 0;

	if (len == 0 || !((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')))
		return 0;
	while (k < len && ((p[k] >= 'A' && p[k] <= 'Z') || (p[k] >= 'a' && p[k] <= 'z')
	    || (p[k] >= '0' && p[k] <= '9') || p[k] == '-'))
		k++;
	while (k < len && (p[k] == ' ' || p[k] == '\t'))
		k++;
	return k < len && p[k] == ':';
}

/* letter_read_addrs - the address list and its blank line(s) */
static enum letter_status letter_read_addrs(struct letter *l)
{
	char    why[LETTER_ERRLEN], show[MC_SHOWLEN];
	struct buf line = BUF_INIT(ADDR_LINE_MAX + 2);
	enum letter_status st = LETTER_EFORMAT;
	const unsigned char *p;
	size_t  n;
	int     r, complete;

	for (;;) {
		buf_reset(&line);
		r = letter_getline(l, &line, &complete);
		if (r == -1) {
			st = LETTER_EIO;
			goto out;
		}
		if (r == -2) {
			mc_err(l->err, sizeof(l->err),
			    "line %lu: address list line longer than %d bytes",
			    l->line, ADDR_LINE_MAX);
			st = LETTER_ECAP;
			goto out;
		}
		if (r == 0) {
			if (addr_list_count(l->rcpts) == 0)
				mc_err(l->err, sizeof(l->err), l->line == 1
				    ? "line %lu: empty letter (no address list)"
				    : "line %lu: no address list (end of file)", l->line);
			else
				mc_err(l->err, sizeof(l->err),
				    "line %lu: no blank line after the address list (end of file)",
				    l->line);
			goto out;
		}
		p = buf_data(&line);
		n = line.len;
		if (mc_blank((const char *) p, n)) {
			if (addr_list_count(l->rcpts) == 0) {
				mc_err(l->err, sizeof(l->err),
				    "line %lu: no address list before the first blank line",
				    l->line);
				goto out;
			}
			l->line++;
			break;
		}
		if (n > 0 && p[n - 1] == '\n')
			n--;
		if (letter_headerlike(p, n)) {
			mc_err(l->err, sizeof(l->err),
			    "line %lu: '%s' looks like a header field: %s", l->line,
			    mc_show(show, sizeof(show), (const char *) p, n),
			    addr_list_count(l->rcpts) == 0
			    ? "no address list before the message header"
			    : "no blank line after the address list");
			goto out;
		}
		if ((r = addr_list_add_line(l->rcpts, (const char *) p, n, l->line,
		    why, sizeof(why))) != 0) {
			if (r == -2) {
				mc_err(l->err, sizeof(l->err), "%s", why);
				st = LETTER_ECAP;
			} else if (letter_fieldlike(p, n)) {
				mc_err(l->err, sizeof(l->err),
				    "line %lu: '%s' looks like a header field: %s", l->line,
				    mc_show(show, sizeof(show), (const char *) p, n),
				    addr_list_count(l->rcpts) == 0
				    ? "no address list before the message header"
				    : "no blank line after the address list");
			} else {
				mc_err(l->err, sizeof(l->err), "%s", why);
			}
			goto out;
		}
		l->line++;
	}
	st = LETTER_OK;
out:
	buf_release(&line);
	return st;
}

/* letter_skip_blank - white space between the address list and header */
static enum letter_status letter_skip_blank(struct letter *l)
{
	unsigned char c;
	int     r;

	for (;;) {
		if ((r = letter_fill(l)) < 0)
			return LETTER_EIO;
		if (r == 0) {
			mc_err(l->err, sizeof(l->err),
			    "line %lu: no message header after the address list (end of file)",
			    l->line);
			return LETTER_EFORMAT;
		}
		c = l->ib[l->ipos];
		if (!mc_is_ws(c))
			return LETTER_OK;
		l->ipos++;
		l->off++;
		if (c == '\n')
			l->line++;
	}
}

/* letter_read_hdr - the header through its blank line */
static enum letter_status letter_read_hdr(struct letter *l)
{
	char    show[MC_SHOWLEN];
	struct buf hb = BUF_INIT(HDR_MAX);
	enum letter_status st = LETTER_EFORMAT;
	size_t  start, n;
	int     r, complete;
	const char *p;

	l->hdr_off = l->off;
	l->hdr_line = l->line;
	for (;;) {
		start = hb.len;
		r = letter_getline(l, &hb, &complete);
		if (r == -1) {
			st = LETTER_EIO;
			goto out;
		}
		if (r == -2) {
			mc_err(l->err, sizeof(l->err),
			    "line %lu: message header longer than %d bytes", l->line, HDR_MAX);
			st = LETTER_ECAP;
			goto out;
		}
		if (r == 0)
			break;			/* header ends at end of file: no body */
		p = (const char *) buf_data(&hb) + start;
		n = hb.len - start;
		if (start == 0 && !letter_fieldlike((const unsigned char *) p, n)) {
			while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
				n--;
			mc_err(l->err, sizeof(l->err),
			    "line %lu: no message header after the address list "
			    "('%s' is not a header field)", l->line,
			    mc_show(show, sizeof(show), p, n));
			goto out;
		}
		if (!complete) {
			mc_err(l->err, sizeof(l->err),
			    "line %lu: letter cut short in the message header "
			    "(no newline at end of file)", l->line);
			goto out;
		}
		l->line++;
		if (mc_blank(p, n))
			break;
	}
	l->body_off = l->off;
	l->body_line = l->line;
	l->hdr = hdr_parse((const char *) buf_data(&hb), hb.len, l->hdr_line,
	    l->err, sizeof(l->err));
	if (l->hdr == NULL)
		goto out;
	st = LETTER_OK;
out:
	buf_release(&hb);
	return st;
}

/* letter_check_originator - the header must name its originator */
static enum letter_status letter_check_originator(struct letter *l)
{
	struct addr *orig;

	if (hdr_find(l->hdr, HDR_SENDER, 0) < 0 && hdr_find(l->hdr, HDR_FROM, 0) < 0) {
		mc_err(l->err, sizeof(l->err),
		    "line %lu: no originator in the message header (no Sender: or From: field)",
		    l->hdr_line);
		return LETTER_EFORMAT;
	}
	if ((orig = hdr_originator(l->hdr, l->err, sizeof(l->err))) == NULL)
		return LETTER_EFORMAT;
	addr_free(orig);
	return LETTER_OK;
}

/* letter_open - read and check the address list and header */
struct letter *letter_open(letter_read_fn *rd, void *ctx, enum letter_status *statusp,
	char *err, size_t errlen)
{
	struct letter *l = xcalloc(1, sizeof(*l));
	enum letter_status st;

	l->rd = rd;
	l->ctx = ctx;
	l->fd = -1;
	l->ib = xmalloc(LETTER_IOBUF);
	l->line = 1;
	l->rcpts = addr_list_new();
	if ((st = letter_read_addrs(l)) == LETTER_OK
	    && (st = letter_skip_blank(l)) == LETTER_OK
	    && (st = letter_read_hdr(l)) == LETTER_OK)
		st = letter_check_originator(l);
	if (statusp != NULL)
		*statusp = st;
	if (st != LETTER_OK) {
		mc_err(err, errlen, "%s", l->err);
		letter_free(l);
		return NULL;
	}
	return l;
}

/* letter_open_fd - letter_open reading an fd */
struct letter *letter_open_fd(int fd, enum letter_status *statusp, char *err, size_t errlen)
{
	struct letter *l;
	int    *fdp = xmalloc(sizeof(*fdp));

	/* The callback context must outlive letter_open's return; it is
	 * owned by the reader and freed with it (see letter_free). */
	*fdp = fd;
	l = letter_open(letter_fd_read, fdp, statusp, err, errlen);
	if (l == NULL) {
		free(fdp);
		return NULL;
	}
	l->fd = fd;
	return l;
}

/* The context of letter_open_pread: the fd and the next offset. */
struct pread_ctx {
	int	fd;
	uint64_t off;
};

static ssize_t letter_pread(void *ctx, void *p, size_t len)
{
	struct pread_ctx *c = ctx;
	ssize_t n = pread(c->fd, p, len, (off_t) c->off);

	if (n > 0)
		c->off += (uint64_t) n;
	return n;
}

/* letter_open_pread - letter_open reading fd from offset 0 with pread */
struct letter *letter_open_pread(int fd, enum letter_status *statusp, char *err,
	size_t errlen)
{
	struct pread_ctx *c = xmalloc(sizeof(*c));
	struct letter *l;

	c->fd = fd;
	c->off = 0;
	if ((l = letter_open(letter_pread, c, statusp, err, errlen)) == NULL) {
		free(c);
		return NULL;
	}
	l->own_ctx = 1;
	return l;
}

/* letter_free - release */
void letter_free(struct letter *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0 || l->own_ctx)
		free(l->ctx);
	addr_list_free(l->rcpts);
	hdr_free(l->hdr);
	free(l->ib);
	free(l);
}

/* Accessors: see letter.h. */
const struct addr_list *letter_rcpts(const struct letter *l) { return l->rcpts; }
const struct hdr *letter_hdr(const struct letter *l) { return l->hdr; }
uint64_t letter_hdr_offset(const struct letter *l) { return l->hdr_off; }
uint64_t letter_body_offset(const struct letter *l) { return l->body_off; }
unsigned long letter_hdr_line(const struct letter *l) { return l->hdr_line; }
unsigned long letter_body_line(const struct letter *l) { return l->body_line; }
uint64_t letter_body_done(const struct letter *l) { return l->body_done; }
const char *letter_error(const struct letter *l) { return l->err; }

/* letter_mem_used - bytes held now */
size_t letter_mem_used(const struct letter *l)
{
	size_t  n = sizeof(*l) + LETTER_IOBUF + addr_list_mem(l->rcpts);

	if (l->hdr != NULL)
		n += hdr_mem(l->hdr);
	if (l->fd >= 0)
		n += sizeof(int);
	return n;
}

/* letter_body_read - stream the body */
ssize_t letter_body_read(struct letter *l, void *p, size_t len)
{
	ssize_t n;

	l->err[0] = 0;
	if (len == 0)
		return 0;
	if (l->ipos < l->ilen) {
		n = (ssize_t) (l->ilen - l->ipos < len ? l->ilen - l->ipos : len);
		memcpy(p, l->ib + l->ipos, (size_t) n);
		l->ipos += (size_t) n;
	} else {
		if (l->eof)
			return 0;
		do
			n = l->rd(l->ctx, p, len);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			mc_err(l->err, sizeof(l->err), "read letter body at offset %llu: %s",
			    (unsigned long long) l->off, strerror(errno));
			return -1;
		}
		if (n == 0) {
			l->eof = 1;
			return 0;
		}
		if ((size_t) n > len)
			n = (ssize_t) len;
	}
	l->off += (uint64_t) n;
	l->body_done += (uint64_t) n;
	return n;
}

/* letter_prefix - the bytes a copy adds before the header */
int letter_prefix(struct buf *out, const struct addr_list *rcpts, const char *via_node,
	time_t when, int crlf, char *err, size_t errlen)
{
	char    why[ADDR_ERRLEN], via[ADDR_HOST_MAX + HDR_DATE_LEN + 16];
	struct buf tmp = BUF_INIT(LETTER_PREFIX_MAX);
	size_t  n = addr_list_count(rcpts), i, vlen;
	char   *s;
	int     rc = -1;

	if (n == 0) {
		mc_err(err, errlen, "letter prefix: empty address list");
		goto out;
	}
	for (i = 0; i < n; i++) {
		s = addr_to_str(addr_list_get(rcpts, i));
		if (buf_append(&tmp, s, strlen(s)) < 0
		    || buf_append(&tmp, i + 1 < n ? ",\n" : "\n\n", 2) < 0) {
			free(s);
			mc_err(err, errlen, "letter prefix: longer than %zu bytes",
			    (size_t) LETTER_PREFIX_MAX);
			goto out;
		}
		free(s);
	}
	if (via_node != NULL) {
		vlen = hdr_via_line(via_node, when, crlf, via, sizeof(via));
		if (vlen == 0 || vlen >= sizeof(via)) {
			if (addr_host_check(via_node, strlen(via_node), why, sizeof(why)) < 0)
				mc_err(err, errlen, "letter prefix: Via: %s", why);
			else
				mc_err(err, errlen, "letter prefix: Via: time out of range");
			goto out;
		}
		if (buf_append(&tmp, via, vlen) < 0) {
			mc_err(err, errlen, "letter prefix: longer than %zu bytes",
			    (size_t) LETTER_PREFIX_MAX);
			goto out;
		}
	}
	if (buf_append(out, buf_data(&tmp), tmp.len) < 0) {
		mc_err(err, errlen, "letter prefix: %zu bytes do not fit the buffer", tmp.len);
		goto out;
	}
	rc = 0;
out:
	buf_release(&tmp);
	return rc;
}

/* letter_wfail - the error of a failed write */
static int64_t letter_wfail(char *err, size_t errlen, const char *what)
{
	mc_err(err, errlen, "write copy (%s): %s", what, strerror(errno));
	return -1;
}

/* letter_splice - kernel copy of the rest of l->fd to fd: 1 done, 0 not
 * possible here (nothing copied by the failing call), -1 error */
static int letter_splice(struct letter *l, int fd, int64_t *total, char *err, size_t errlen)
{
	const size_t chunk = (size_t) 1 << 30;
	ssize_t n;
	int     use_cfr = 1;

	for (;;) {
		if (use_cfr)
			n = copy_file_range(l->fd, NULL, fd, NULL, chunk, 0);
		else
			n = sendfile(fd, l->fd, NULL, chunk);
		if (n > 0) {
			*total += n;
			l->off += (uint64_t) n;
			l->body_done += (uint64_t) n;
			continue;
		}
		if (n == 0) {
			l->eof = 1;
			return 1;
		}
		if (errno == EINTR)
			continue;
		/* Not a regular file, another file system, an old kernel: the
		 * next way down. NULL offsets keep the fd positions right. */
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS
		    || errno == EOPNOTSUPP || errno == EBADF || errno == ETXTBSY
		    || errno == EPERM || errno == ESPIPE) {
			if (use_cfr) {
				use_cfr = 0;
				continue;
			}
			return 0;
		}
		mc_err(err, errlen, "copy letter body at offset %llu: %s",
		    (unsigned long long) l->off, strerror(errno));
		return -1;
	}
}

/* letter_write - prefix, header, body to fd */
int64_t letter_write(int fd, const void *prefix, size_t plen, struct letter *l,
	unsigned flags, char *err, size_t errlen)
{
	int64_t total = 0;
	const char *hb;
	size_t  hlen;
	ssize_t n;
	int     r;

	if (plen > 0 && write_full(fd, prefix, plen) < 0)
		return letter_wfail(err, errlen, "prefix");
	total += (int64_t) plen;
	hb = hdr_block(l->hdr, &hlen);
	if (write_full(fd, hb, hlen) < 0)
		return letter_wfail(err, errlen, "header");
	total += (int64_t) hlen;
	if (l->ipos < l->ilen) {
		n = (ssize_t) (l->ilen - l->ipos);
		if (write_full(fd, l->ib + l->ipos, (size_t) n) < 0)
			return letter_wfail(err, errlen, "body");
		l->ipos = l->ilen;
		l->off += (uint64_t) n;
		l->body_done += (uint64_t) n;
		total += n;
	}
	if (l->fd >= 0 && !(flags & LETTER_W_NOSPLICE) && !l->eof) {
		r = letter_splice(l, fd, &total, err, errlen);
		if (r < 0)
			return -1;
		if (r > 0)
			return total;
	}
	for (;;) {
		n = letter_body_read(l, l->ib, LETTER_IOBUF);
		if (n < 0) {
			mc_err(err, errlen, "%s", l->err);
			return -1;
		}
		if (n == 0)
			break;
		if (write_full(fd, l->ib, (size_t) n) < 0)
			return letter_wfail(err, errlen, "body");
		total += n;
	}
	/* ib now holds body bytes already handed on: mark them consumed. */
	l->ipos = l->ilen = 0;
	return total;
}
