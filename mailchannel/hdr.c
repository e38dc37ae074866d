/*++
 * NAME
 *	hdr 3
 * SUMMARY
 *	RFC 733/822 message header: fields, originator, Via:, return path
 * SYNOPSIS
 *	#include "mailchannel/hdr.h"
 * DESCRIPTION
 *	The header is held as one byte block plus an index of fields
 *	(offset, length, name length, line). Lookups read the block in
 *	place; only values handed to callers are copied (and unfolded).
 *	The one edit, inserting a Via: line, rebuilds the block and its
 *	index: a header has tens of fields, and a relay edits each header
 *	once, so simplicity wins over in-place tricks.
 *
 *	The block is never normalised. Letters move byte-exact (DESIGN
 *	section 3): 8-bit bytes, CRLF line ends and odd folding all go out
 *	as they came in.
 *
 *	hdr_date() formats by hand rather than with strftime(), whose
 *	day and month names follow the locale.
 * DIAGNOSTICS
 *	Every failure is returned with a reason; nothing is logged.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailchannel/hdr.h"
#include "mailchannel/mc_util.h"
#include "util/alloc.h"
#include "util/log.h"

struct hdr_field {
	size_t	off;			/* first byte in the block */
	size_t	len;			/* bytes, folded lines and line ends included */
	size_t	namelen;		/* name without trailing white space */
	unsigned long line;		/* line number in the letter */
};

struct hdr {
	char   *data;			/* block, NUL-terminated for convenience */
	size_t	len;
	struct hdr_field *f;
	size_t	nf;
	size_t	fcap;
	unsigned long first_line;
	int	crlf;
};

/* hdr_namec - may c appear in a field name? (printable, not ':') */
static int hdr_namec(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != ':';
}

/* hdr_index - build the field index of h->data; 0 or -1 with err */
static int hdr_index(struct hdr *h, char *err, size_t errlen)
{
	char    show[MC_SHOWLEN];
	size_t  pos = 0, eol, k, nlen;
	unsigned long line = h->first_line;
	const char *s = h->data, *nl;
	struct hdr_field *cur;

	h->nf = 0;
	h->crlf = 0;
	if ((nl = memchr(s, '\n', h->len)) != NULL && nl > s && nl[-1] == '\r')
		h->crlf = 1;
	for (; pos < h->len; pos = eol, line++) {
		nl = memchr(s + pos, '\n', h->len - pos);
		eol = nl ? (size_t) (nl - s) + 1 : h->len;
		if (mc_blank(s + pos, eol - pos)) {
			if (eol < h->len) {
				mc_err(err, errlen, "line %lu: header continues after its blank line",
				    line);
				return -1;
			}
			break;
		}
		if (s[pos] == ' ' || s[pos] == '\t') {
			if (h->nf == 0) {
				mc_err(err, errlen, "line %lu: header starts with a continuation line",
				    line);
				return -1;
			}
			h->f[h->nf - 1].len = eol - h->f[h->nf - 1].off;
			continue;
		}
		for (k = pos; k < eol && hdr_namec((unsigned char) s[k]); k++)
			;
		nlen = k - pos;
		while (k < eol && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (nlen == 0 || k >= eol || s[k] != ':') {
			for (k = eol; k > pos && (s[k - 1] == '\n' || s[k - 1] == '\r'); k--)
				;
			mc_err(err, errlen, "line %lu: '%s' is not a header field", line,
			    mc_show(show, sizeof(show), s + pos, k - pos));
			return -1;
		}
		if (h->nf >= HDR_FIELDS_MAX) {
			mc_err(err, errlen, "line %lu: header has more than %d fields",
			    line, HDR_FIELDS_MAX);
			return -1;
		}
		if (h->nf == h->fcap) {
			h->fcap = h->fcap ? h->fcap * 2 : 32;
			h->f = xrealloc(h->f, h->fcap * sizeof(*h->f));
		}
		cur = &h->f[h->nf++];
		cur->off = pos;
		cur->len = eol - pos;
		cur->namelen = nlen;
		cur->line = line;
	}
	return 0;
}

/* hdr_parse - copy and index a header block */
struct hdr *hdr_parse(const char *block, size_t len, unsigned long first_line,
	char *err, size_t errlen)
{
	struct hdr *h;
	const char *z;
	unsigned long line;

	if (len > HDR_MAX) {
		mc_err(err, errlen, "line %lu: message header longer than %d bytes",
		    first_line, HDR_MAX);
		return NULL;
	}
	if ((z = memchr(block, 0, len)) != NULL) {
		line = first_line;
		for (const char *p = block; p < z; p++)
			if (*p == '\n')
				line++;
		mc_err(err, errlen, "line %lu: NUL byte in the message header", line);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->data = xmemdup(block, len);
	h->len = len;
	h->first_line = first_line;
	if (hdr_index(h, err, errlen) < 0) {
		hdr_free(h);
		return NULL;
	}
	return h;
}

/* hdr_free - release */
void hdr_free(struct hdr *h)
{
	if (h == NULL)
		return;
	free(h->data);
	free(h->f);
	free(h);
}

/* hdr_block - current bytes */
const char *hdr_block(const struct hdr *h, size_t *lenp)
{
	*lenp = h->len;
	return h->data;
}

/* hdr_crlf - CRLF line ends? */
int hdr_crlf(const struct hdr *h)
{
	return h->crlf;
}

/* hdr_mem - bytes held */
size_t hdr_mem(const struct hdr *h)
{
	return sizeof(*h) + h->len + 1 + h->fcap * sizeof(*h->f);
}

/* hdr_count - number of fields */
size_t hdr_count(const struct hdr *h)
{
	return h->nf;
}

/* hdr_name - field name */
const char *hdr_name(const struct hdr *h, size_t i, size_t *lenp)
{
	*lenp = h->f[i].namelen;
	return h->data + h->f[i].off;
}

/* hdr_raw - field bytes */
const char *hdr_raw(const struct hdr *h, size_t i, size_t *lenp)
{
	*lenp = h->f[i].len;
	return h->data + h->f[i].off;
}

/* hdr_line - line number of field i */
unsigned long hdr_line(const struct hdr *h, size_t i)
{
	return h->f[i].line;
}

/* hdr_value - unfolded, trimmed value */
char *hdr_value(const struct hdr *h, size_t i)
{
	const char *s = h->data + h->f[i].off;
	const char *colon = memchr(s, ':', h->f[i].len);
	size_t  n = h->f[i].len - (size_t) (colon + 1 - s), k, o = 0;
	char   *v = xmalloc(n + 1);

	for (k = 0; k < n; k++)
		if (colon[1 + k] != '\r' && colon[1 + k] != '\n')
			v[o++] = colon[1 + k];
	while (o > 0 && mc_is_ws((unsigned char) v[o - 1]))
		o--;
	v[o] = 0;
	for (k = 0; k < o && mc_is_ws((unsigned char) v[k]); k++)
		;
	memmove(v, v + k, o - k + 1);
	return v;
}

/* hdr_name_is - field i named name? */
static int hdr_name_is(const struct hdr *h, size_t i, const char *name)
{
	size_t  n = strlen(name), k;
	const char *s = h->data + h->f[i].off;
	unsigned char x, y;

	if (h->f[i].namelen != n)
		return 0;
	for (k = 0; k < n; k++) {
		x = (unsigned char) s[k];
		y = (unsigned char) name[k];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char) (x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char) (y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

/* hdr_find - next field with that name */
long hdr_find(const struct hdr *h, const char *name, size_t from)
{
	size_t  i;

	for (i = from; i < h->nf; i++)
		if (hdr_name_is(h, i, name))
			return (long) i;
	return -1;
}

/* hdr_get - first value of name */
char *hdr_get(const struct hdr *h, const char *name)
{
	long    i = hdr_find(h, name, 0);

	return i < 0 ? NULL : hdr_value(h, (size_t) i);
}

/* hdr_mailbox - first address of the first field named name */
struct addr *hdr_mailbox(const struct hdr *h, const char *name, char *err, size_t errlen)
{
	char    why[ADDR_ERRLEN];
	long    i = hdr_find(h, name, 0);
	char   *v;
	struct addr *a;
	size_t  n, b = 0;

	if (i < 0) {
		mc_err(err, errlen, "no %s: field", name);
		return NULL;
	}
	v = hdr_value(h, (size_t) i);
	/* Skip empty items: "From: , bennett@ucl" is sloppy but clear. */
	for (;;) {
		n = addr_split(v + b, strlen(v + b));
		if (!mc_blank(v + b, n) || v[b + n] == 0)
			break;
		b += n + 1;
	}
	a = addr_parse(v + b, n, why, sizeof(why));
	if (a == NULL)
		mc_err(err, errlen, "line %lu: %s: %s", h->f[i].line, name, why);
	free(v);
	return a;
}

/* hdr_originator - Sender:, else From: */
struct addr *hdr_originator(const struct hdr *h, char *err, size_t errlen)
{
	if (hdr_find(h, HDR_SENDER, 0) >= 0)
		return hdr_mailbox(h, HDR_SENDER, err, errlen);
	if (hdr_find(h, HDR_FROM, 0) >= 0)
		return hdr_mailbox(h, HDR_FROM, err, errlen);
	mc_err(err, errlen, "no originator (no Sender: or From: field)");
	return NULL;
}

/* hdr_via_count - Via: fields, valid or not */
size_t hdr_via_count(const struct hdr *h)
{
	size_t  i, n = 0;

	for (i = 0; i < h->nf; i++)
		if (hdr_name_is(h, i, HDR_VIA))
			n++;
	return n;
}

/* hdr_via_host - host of a Via: value, in place; NULL when invalid */
static char *hdr_via_host(char *v)
{
	char   *semi = strchr(v, ';');
	size_t  i, o = 0, b, e;
	int     depth = 0;

	if (semi == NULL)
		return NULL;
	*semi = 0;
	for (i = 0; v[i]; i++) {
		if (depth > 0 && v[i] == '\\' && v[i + 1] != 0) {
			i++;
			continue;
		}
		if (v[i] == '(') {
			depth++;
		} else if (v[i] == ')' && depth > 0) {
			depth--;
		} else if (depth == 0) {
			v[o++] = v[i];
		}
	}
	v[o] = 0;
	if (depth != 0)
		return NULL;
	for (b = 0; b < o && mc_is_ws((unsigned char) v[b]); b++)
		;
	for (e = o; e > b && mc_is_ws((unsigned char) v[e - 1]); e--)
		;
	v[e] = 0;
	if (addr_host_check(v + b, e - b, NULL, 0) < 0)
		return NULL;
	return v + b;
}

/* hdr_via_hosts - valid Via: hosts, newest first */
char  **hdr_via_hosts(const struct hdr *h, size_t *np)
{
	char  **v = xcalloc(hdr_via_count(h) + 1, sizeof(*v));
	size_t  i, n = 0;
	char   *val, *host;

	for (i = 0; i < h->nf; i++) {
		if (!hdr_name_is(h, i, HDR_VIA))
			continue;
		val = hdr_value(h, i);
		if ((host = hdr_via_host(val)) != NULL)
			v[n++] = xstrdup(host);
		free(val);
	}
	v[n] = NULL;
	if (np != NULL)
		*np = n;
	return v;
}

/* hdr_strv_free - free a string vector */
void hdr_strv_free(char **v)
{
	size_t  i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* hdr_date - RFC 822 date-time in UTC */
size_t hdr_date(time_t t, char *dst, size_t dstlen)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int     n;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999
	    || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) {
		if (dstlen > 0)
			dst[0] = 0;
		return 0;
	}
	n = snprintf(dst, dstlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 ? 0 : (size_t) n;
}

/* hdr_via_line - one formatted Via: line */
size_t hdr_via_line(const char *node, time_t t, int crlf, char *dst, size_t dstlen)
{
	char    date[HDR_DATE_LEN];
	int     n;

	if (addr_host_check(node, strlen(node), NULL, 0) < 0
	    || hdr_date(t, date, sizeof(date)) == 0) {
		if (dstlen > 0)
			dst[0] = 0;
		return 0;
	}
	n = snprintf(dst, dstlen, "Via: %s ; %s%s", node, date, crlf ? "\r\n" : "\n");
	return n < 0 ? 0 : (size_t) n;
}

/* hdr_insert_via - new Via: line at the top */
int hdr_insert_via(struct hdr *h, const char *node, time_t t, char *err, size_t errlen)
{
	char    why[ADDR_ERRLEN], show[MC_SHOWLEN];
	size_t  n = hdr_via_line(node, t, h->crlf, NULL, 0);
	char   *nd;

	if (n == 0) {
		if (addr_host_check(node, strlen(node), why, sizeof(why)) < 0)
			mc_err(err, errlen, "insert Via: %s", why);
		else
			mc_err(err, errlen, "insert Via: '%s': time out of range",
			    mc_show(show, sizeof(show), node, strlen(node)));
		return -1;
	}
	if (h->nf >= HDR_FIELDS_MAX) {
		mc_err(err, errlen, "insert Via: header already has %d fields", HDR_FIELDS_MAX);
		return -1;
	}
	if (h->len + n > HDR_MAX + HDR_EDIT_SLACK) {
		mc_err(err, errlen, "insert Via: header would pass %d bytes",
		    HDR_MAX + HDR_EDIT_SLACK);
		return -1;
	}
	nd = xmalloc(h->len + n + 1);
	hdr_via_line(node, t, h->crlf, nd, n + 1);
	memcpy(nd + n, h->data, h->len);
	nd[h->len + n] = 0;
	free(h->data);
	h->data = nd;
	h->len += n;
	/* The new line is line first_line - 1 of the original letter; keep
	 * the original numbering for the old fields. */
	if (h->first_line > 0)
		h->first_line--;
	/* The old block parsed and a Via: line is a field, so this holds
	 * (the field cap was checked above). */
	if (hdr_index(h, NULL, 0) < 0)
		log_panic("hdr_insert_via: header no longer parses");
	return 0;
}

/* hdr_return_path - the % route back to the originator */
struct addr *hdr_return_path(const struct hdr *h, const char *calling,
	char *err, size_t errlen)
{
	struct addr *orig, *rp;

	if ((orig = hdr_originator(h, err, errlen)) == NULL)
		return NULL;
	rp = hdr_return_path_for(h, orig, calling, err, errlen);
	addr_free(orig);
	return rp;
}

/* hdr_return_path_for - the % route back to o */
struct addr *hdr_return_path_for(const struct hdr *h, const struct addr *o,
	const char *calling, char *err, size_t errlen)
{
	char    why[ADDR_ERRLEN];
	struct addr *orig, *rp = NULL;
	char  **via = NULL;
	const char **hop;
	size_t  nvia = 0, nhop = 0, i, need;
	char   *local, *p;

	orig = addr_dup(o);
	if (calling != NULL && calling[0] != 0
	    && addr_host_check(calling, strlen(calling), why, sizeof(why)) < 0) {
		mc_err(err, errlen, "return path: calling %s", why);
		addr_free(orig);
		return NULL;
	}
	via = hdr_via_hosts(h, &nvia);
	hop = xcalloc(nvia + 1, sizeof(*hop));
	if (calling != NULL && calling[0] != 0)
		hop[nhop++] = calling;
	for (i = 0; i < nvia; i++)
		if (nhop == 0 || !addr_host_eq(hop[nhop - 1], via[i]))
			hop[nhop++] = via[i];
	while (nhop > 0 && addr_host_eq(hop[nhop - 1], addr_host(orig)))
		nhop--;

	if (nhop == 0) {
		rp = addr_dup(orig);
		goto out;
	}
	/* local%orighost%e_k%...%e_2 @ e_1 */
	need = strlen(addr_local(orig)) + 1 + strlen(addr_host(orig));
	for (i = nhop - 1; i >= 1; i--)
		need += 1 + strlen(hop[i]);
	if (need + 1 + strlen(hop[0]) > ADDR_MAX_LEN) {
		mc_err(err, errlen, "return path: longer than %d bytes (%zu hops)",
		    ADDR_MAX_LEN, nhop);
		goto out;
	}
	local = p = xmalloc(need + 1);
	p += snprintf(p, need + 1, "%s%%%s", addr_local(orig), addr_host(orig));
	for (i = nhop - 1; i >= 1; i--)
		p += snprintf(p, need + 1 - (size_t) (p - local), "%%%s", hop[i]);
	rp = addr_new(local, hop[0], err, errlen);
	free(local);

out:
	free(hop);
	hdr_strv_free(via);
	addr_free(orig);
	return rp;
}
