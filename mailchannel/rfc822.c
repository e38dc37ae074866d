/*++
 * NAME
 *	rfc822 3
 * SUMMARY
 *	RFC 733 address forms made RFC 822
 * SYNOPSIS
 *	#include "mailchannel/rfc822.h"
 * DESCRIPTION
 *	A field body is cut into lexical tokens (RFC 822 3.3: atoms,
 *	quoted strings, domain literals, comments, specials, white space
 *	with folding). The tokens are grouped into addresses: a unit ends at
 *	"," or ";" outside angle brackets; what precedes a ":" outside angle
 *	brackets is a group's name; in a unit with "<...>" only the part
 *	inside the brackets (after a route's last ":") is an address, the
 *	rest is its phrase. Each address is parsed as
 *
 *	    word *("." word) 1*(("@" / "at") domain)
 *
 *	(domain: atoms and domain literals joined by "."), skipping white
 *	space and comments. When it has an "at" indicator, more than one
 *	domain, or a domain to turn around, it is written anew: local part,
 *	"%"-joined hops, "@" and the last domain, then its comments; else
 *	its octets are copied. Everything outside addresses is copied.
 *--*/
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailchannel/addr.h"
#include "mailchannel/rfc822.h"
#include "util/alloc.h"
#include "util/buf.h"

enum tk { TK_WS, TK_COMMENT, TK_QSTR, TK_DLIT, TK_ATOM, TK_SPEC };

struct tok {
	size_t	off, len;
	enum tk	type;
};

struct toks {
	struct tok *v;
	size_t	n, cap;
};

static const char *const addr_fields[] = {
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"Resent-From", "Resent-Sender", "Resent-Reply-To", "Resent-To", "Resent-Cc",
	"Resent-Bcc", "Return-Path", "Errors-To", "Acknowledge-To", NULL
};

/* rfc822_addr_field - a field that holds addresses? */
int rfc822_addr_field(const char *name, size_t len)
{
	for (size_t i = 0; addr_fields[i] != NULL; i++)
		if (strlen(addr_fields[i]) == len && strncasecmp(addr_fields[i], name, len) == 0)
			return 1;
	return 0;
}

/* in_tops - label[0..len) is one of tops? */
static int in_tops(const char *label, size_t len, const char *tops)
{
	const char *p = tops;

	while (*p) {
		size_t  n;

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		for (n = 0; p[n] && p[n] != ' ' && p[n] != ',' && p[n] != '\t'; n++)
			;
		if (n > 0 && n == len && strncasecmp(p, label, len) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* rfc822_big_endian - host in Internet order when written big-endian */
size_t rfc822_big_endian(const char *host, size_t len, const char *tops, char *dst,
	size_t dstlen)
{
	char    h[ADDR_HOST_MAX + 1];
	const char *first, *last;
	size_t  n;

	if (tops == NULL || *tops == '\0' || len == 0 || len > ADDR_HOST_MAX)
		return 0;
	if ((first = memchr(host, '.', len)) == NULL)
		return 0;
	for (last = host + len; last > host && last[-1] != '.'; last--)
		;
	if (!in_tops(host, (size_t) (first - host), tops)
	    || in_tops(last, (size_t) (host + len - last), tops))
		return 0;
	memcpy(h, host, len);
	h[len] = '\0';
	n = addr_host_reverse(h, dst, dstlen);
	return n < dstlen ? n : 0;
}

/* --- tokens -------------------------------------------------------------------- */

static void tok_add(struct toks *t, size_t off, size_t len, enum tk type)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n].off = off;
	t->v[t->n].len = len;
	t->v[t->n].type = type;
	t->n++;
}

static int is_special(int c)
{
	return c != '\0' && strchr("()<>@,;:\\\".[]", c) != NULL;
}

/* tokenize - val into t; -1 when a quoted string, comment or domain
 * literal does not end, or a stray backslash or closing ")" or "]" */
static int tokenize(const char *val, size_t len, struct toks *t)
{
	size_t  i = 0, j;

	while (i < len) {
		unsigned char c = (unsigned char) val[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			for (j = i; j < len && strchr(" \t\r\n", val[j]) != NULL && val[j]; j++)
				;
			tok_add(t, i, j - i, TK_WS);
		} else if (c == '(') {
			int     depth = 0;

			for (j = i; j < len; j++) {
				if (val[j] == '\\' && j + 1 < len)
					j++;
				else if (val[j] == '(')
					depth++;
				else if (val[j] == ')' && --depth == 0)
					break;
			}
			if (j >= len)
				return -1;
			j++;
			tok_add(t, i, j - i, TK_COMMENT);
		} else if (c == '"' || c == '[') {
			int     end = c == '"' ? '"' : ']';

			for (j = i + 1; j < len && val[j] != end; j++)
				if (val[j] == '\\' && j + 1 < len)
					j++;
			if (j >= len)
				return -1;
			j++;
			tok_add(t, i, j - i, c == '"' ? TK_QSTR : TK_DLIT);
		} else if (c == '\\' || c == ')' || c == ']') {
			return -1;
		} else if (is_special(c)) {
			j = i + 1;
			tok_add(t, i, 1, TK_SPEC);
		} else {
			for (j = i; j < len; j++) {
				unsigned char d = (unsigned char) val[j];

				if (d <= ' ' || d == 0x7f || is_special(d))
					break;
			}
			if (j == i)
				j = i + 1;	/* a control octet: an atom of its own */
			tok_add(t, i, j - i, TK_ATOM);
		}
		i = j;
	}
	return 0;
}

static int spec_is(const char *val, const struct tok *k, int c)
{
	return k->type == TK_SPEC && val[k->off] == c;
}

static int is_at(const char *val, const struct tok *k)
{
	return k->type == TK_ATOM && k->len == 2 && strncasecmp(val + k->off, "at", 2) == 0;
}

/* lwsp - token i is white space or a comment */
static int lwsp(const struct toks *t, size_t i)
{
	return i < t->n && (t->v[i].type == TK_WS || t->v[i].type == TK_COMMENT);
}

/* --- one address ------------------------------------------------------------- */

#define MAX_DOMS	32

struct parsed {
	size_t	sig[4 * MAX_DOMS + 64];	/* significant token indexes (bounded) */
	size_t	nsig;
	size_t	lend;			/* sig[0..lend): the local part */
	size_t	dbeg[MAX_DOMS], dend[MAX_DOMS];	/* sig ranges of the domains */
	size_t	ndom;
	int	any_at;
	int	local_qstr_only;	/* the local part is one quoted string */
	int	local_has_qstr;
};

/* parse_addr - tokens [a, b) as an address; 0 or -1 (not one) */
static int parse_addr(const char *val, const struct toks *t, size_t a, size_t b,
	struct parsed *p)
{
	size_t  k = 0, i;

	memset(p, 0, sizeof(*p));
	for (i = a; i < b; i++) {
		if (t->v[i].type == TK_WS || t->v[i].type == TK_COMMENT)
			continue;
		if (p->nsig == sizeof(p->sig) / sizeof(p->sig[0]))
			return -1;
		p->sig[p->nsig++] = i;
	}
#define S(x)	(&t->v[p->sig[(x)]])
#define WORD(x)	((x) < p->nsig && (S(x)->type == TK_ATOM || S(x)->type == TK_QSTR))
#define DPART(x) ((x) < p->nsig && (S(x)->type == TK_ATOM || S(x)->type == TK_DLIT))
#define DOT(x)	((x) < p->nsig && spec_is(val, S(x), '.'))
	if (!WORD(0))
		return -1;
	for (k = 1; DOT(k) && WORD(k + 1); k += 2)
		;
	p->lend = k;
	for (i = 0; i < k; i++)
		if (S(i)->type == TK_QSTR)
			p->local_has_qstr = 1;
	p->local_qstr_only = k == 1 && S(0)->type == TK_QSTR;
	while (k < p->nsig) {
		if (spec_is(val, S(k), '@'))
			;
		else if (is_at(val, S(k)) && lwsp(t, p->sig[k] - 1) && lwsp(t, p->sig[k] + 1))
			p->any_at = 1;	/* RFC 733: white space on both sides */
		else
			return -1;
		k++;
		if (!DPART(k) || p->ndom == MAX_DOMS)
			return -1;
		p->dbeg[p->ndom] = k++;
		while (DOT(k) && DPART(k + 1))
			k += 2;
		p->dend[p->ndom++] = k;
	}
	return p->ndom > 0 ? 0 : -1;
}

/* dom_text - domain d of p into dst (NUL-terminated); 1 when it holds a
 * domain literal, -1 when too long */
static int dom_text(const char *val, const struct toks *t, const struct parsed *p, size_t d,
	char *dst, size_t dstlen)
{
	size_t  n = 0;
	int     lit = 0;

	for (size_t x = p->dbeg[d]; x < p->dend[d]; x++) {
		const struct tok *k = S(x);

		if (k->type == TK_DLIT)
			lit = 1;
		if (n + k->len >= dstlen)
			return -1;
		memcpy(dst + n, val + k->off, k->len);
		n += k->len;
	}
	dst[n] = '\0';
	return lit;
}

/* emit_addr - tokens [a, b) rewritten when they are an address that
 * needs it; 1 rewritten, 0 copied, -1 out full */
static int emit_addr(struct buf *out, const char *val, const struct toks *t, size_t a,
	size_t b, const char *tops)
{
	struct parsed *p = xmalloc(sizeof(*p));
	char    dom[MAX_DOMS][ADDR_HOST_MAX + 3];
	int     lit[MAX_DOMS], need = 0, rc = -1;
	size_t  d, i, f, l;

	if (parse_addr(val, t, a, b, p) < 0)
		goto copy;
	for (d = 0; d < p->ndom; d++) {
		char    rev[ADDR_HOST_MAX + 1];
		size_t  rn;

		if ((lit[d] = dom_text(val, t, p, d, dom[d], sizeof(dom[d]))) < 0)
			goto copy;
		if (!lit[d] && (rn = rfc822_big_endian(dom[d], strlen(dom[d]), tops, rev,
		    sizeof(rev))) > 0) {
			memcpy(dom[d], rev, rn + 1);
			need = 1;
		}
	}
	if (p->any_at || p->ndom > 1)
		need = 1;
	if (!need)
		goto copy;
	if (p->ndom > 1) {
		/* hops go into the local part: a quoted one must take them
		 * inside its quotes, which a domain literal cannot join */
		if (p->local_has_qstr && !p->local_qstr_only)
			goto copy;
		for (d = 0; d + 1 < p->ndom; d++)
			if (lit[d])
				goto copy;
	}
	f = p->sig[0];
	l = p->sig[p->nsig - 1];
	/* what precedes and follows the address itself */
	if (buf_append(out, val + t->v[a].off, t->v[f].off - t->v[a].off) < 0)
		goto out;
	if (p->local_qstr_only && p->ndom > 1) {
		const struct tok *q = S(0);

		if (buf_append(out, val + q->off, q->len - 1) < 0)
			goto out;
		for (d = 0; d + 1 < p->ndom; d++)
			if (buf_printf(out, "%%%s", dom[d]) < 0)
				goto out;
		if (buf_putc(out, '"') < 0)
			goto out;
	} else {
		for (i = 0; i < p->lend; i++)
			if (buf_append(out, val + S(i)->off, S(i)->len) < 0)
				goto out;
		for (d = 0; d + 1 < p->ndom; d++)
			if (buf_printf(out, "%%%s", dom[d]) < 0)
				goto out;
	}
	if (buf_printf(out, "@%s", dom[p->ndom - 1]) < 0)
		goto out;
	for (i = f; i <= l; i++)
		if (t->v[i].type == TK_COMMENT && (buf_putc(out, ' ') < 0
		    || buf_append(out, val + t->v[i].off, t->v[i].len) < 0))
			goto out;
	if (l + 1 < b && buf_append(out, val + t->v[l + 1].off,
	    t->v[b - 1].off + t->v[b - 1].len - t->v[l + 1].off) < 0)
		goto out;
	rc = 1;
	goto out;
copy:
	rc = 0;
	if (b > a && buf_append(out, val + t->v[a].off,
	    t->v[b - 1].off + t->v[b - 1].len - t->v[a].off) < 0)
		rc = -1;
out:
	free(p);
	return rc;
#undef S
#undef WORD
#undef DPART
#undef DOT
}

/* --- a field ------------------------------------------------------------------- */

struct span {
	size_t	a, b;		/* tokens [a, b) */
	int	addr;		/* an address (else copied) */
};

static void span_add(struct span **v, size_t *n, size_t *cap, size_t a, size_t b, int addr)
{
	if (a >= b)
		return;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 32;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].a = a;
	(*v)[*n].b = b;
	(*v)[*n].addr = addr;
	(*n)++;
}

/* rfc822_fix - a field body with its addresses made RFC 822 */
int rfc822_fix(struct buf *out, const char *val, size_t len, const char *tops)
{
	struct toks t = { NULL, 0, 0 };
	struct span *sp = NULL;
	size_t  nsp = 0, csp = 0, i, unit = 0, done = 0, angle = 0;
	int     in_angle = 0, has_angle = 0, bad = 0, n = 0, rc;

	/* a NUL (hdr_parse refuses it) would cut the domains' strings */
	if (memchr(val, '\0', len) != NULL || tokenize(val, len, &t) < 0 || t.n == 0)
		goto verbatim;
	/* spans: addresses and what lies between them, in order */
	for (i = 0; i < t.n; i++) {
		const struct tok *k = &t.v[i];

		if (k->type != TK_SPEC)
			continue;
		if (in_angle) {
			if (spec_is(val, k, '<'))
				bad = 1;
			else if (spec_is(val, k, '>')) {
				size_t  s = angle + 1;

				for (size_t x = angle + 1; x < i; x++)
					if (spec_is(val, &t.v[x], ':'))
						s = x + 1;
				in_angle = 0;
				if (!bad) {
					span_add(&sp, &nsp, &csp, done, s, 0);
					span_add(&sp, &nsp, &csp, s, i, 1);
					done = s < i ? i : s;
				}
			}
			continue;
		}
		if (spec_is(val, k, '<')) {
			in_angle = 1;
			has_angle = 1;
			angle = i;
		} else if (spec_is(val, k, '>')) {
			bad = 1;
		} else if (spec_is(val, k, ',') || spec_is(val, k, ';')) {
			if (!has_angle && !bad) {
				span_add(&sp, &nsp, &csp, done, unit, 0);
				span_add(&sp, &nsp, &csp, unit, i, 1);
				done = unit < i ? i : unit;
			}
			unit = i + 1;
			has_angle = bad = 0;
		} else if (spec_is(val, k, ':')) {
			/* a group's name */
			unit = i + 1;
			has_angle = bad = 0;
		}
	}
	if (!in_angle && !has_angle && !bad) {
		span_add(&sp, &nsp, &csp, done, unit, 0);
		span_add(&sp, &nsp, &csp, unit, t.n, 1);
		done = unit < t.n ? t.n : unit;
	}
	span_add(&sp, &nsp, &csp, done, t.n, 0);
	for (i = 0; i < nsp; i++) {
		const struct span *s = &sp[i];

		if (s->addr) {
			if ((rc = emit_addr(out, val, &t, s->a, s->b, tops)) < 0)
				goto full;
			n += rc;
		} else if (buf_append(out, val + t.v[s->a].off,
		    t.v[s->b - 1].off + t.v[s->b - 1].len - t.v[s->a].off) < 0)
			goto full;
	}
	free(sp);
	free(t.v);
	return n;
full:
	free(sp);
	free(t.v);
	return -1;
verbatim:
	free(t.v);
	return buf_append(out, val, len) < 0 ? -1 : 0;
}

/* rfc822_addr_fix - an envelope address with its domains in Internet order */
int rfc822_addr_fix(const char *addr, const char *tops, char *dst, size_t dstlen)
{
	const char *at = strrchr(addr, '@'), *p, *q;
	char    rev[ADDR_HOST_MAX + 1];
	size_t  n = 0, r;
	int     changed = 0;

#define PUT(s, len) do { \
		if (n + (len) >= dstlen) \
			return -1; \
		memcpy(dst + n, (s), (len)); \
		n += (len); \
	} while (0)
	if (at == NULL || addr[0] == '"') {
		/* no host, or a quoted local part: only the host */
		p = at ? at + 1 : addr + strlen(addr);
		PUT(addr, (size_t) (p - addr));
	} else {
		/* user, then each % hop */
		for (p = addr; p < at; p = q) {
			q = p + 1;
			while (q < at && *q != '%')
				q++;
			if (p > addr && (r = rfc822_big_endian(p + 1, (size_t) (q - p - 1), tops,
			    rev, sizeof(rev))) > 0) {
				PUT("%", 1);
				PUT(rev, r);
				changed = 1;
			} else
				PUT(p, (size_t) (q - p));
		}
		PUT("@", 1);
		p = at + 1;
	}
	if (at != NULL) {
		if ((r = rfc822_big_endian(p, strlen(p), tops, rev, sizeof(rev))) > 0) {
			PUT(rev, r);
			changed = 1;
		} else
			PUT(p, strlen(p));
	}
	dst[n] = '\0';
	return changed;
#undef PUT
}
