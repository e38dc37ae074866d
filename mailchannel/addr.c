/*++
 * NAME
 *	addr 3
 * SUMMARY
 *	mail addresses: parsing, address lists, % routing, mailbox names
 * SYNOPSIS
 *	#include "mailchannel/addr.h"
 * DESCRIPTION
 *	addr_parse() is a small lexer plus a recursive-descent parser over
 *	at most ADDR_MAX_LEN bytes. The lexer turns the text into tokens
 *	(atoms, quoted strings, domain literals, the specials <>@,;:.),
 *	dropping white space, CR and comments but remembering whether
 *	white space preceded a token: that is what tells the RFC 733 host
 *	indicator " at " from an atom "at" inside a dotted local part.
 *
 *	The parser then reads "phrase <route:addr-spec>" or a bare
 *	addr-spec. All host indicators end up in one ordered list, from
 *	the innermost host to the first hop: RFC 733 "u@a@b" gives (a, b),
 *	an RFC 822 route "<@b,@c:u@a>" gives (a, c, b). Trailing domain
 *	literals are dropped (Grey Book practice: MMDF and PP drop a
 *	trailing domain-literal route element), the last host becomes the
 *	host part and the others join the local part with '%', so every
 *	form reduces to the one that % routing rewrites.
 *
 *	'%' is an ordinary atom character (RFC 822), so a source route
 *	written "user%a%b@c" is one atom and needs no special case.
 * DIAGNOSTICS
 *	Every failure is returned with a reason; nothing is logged.
 *--*/
#include <stdlib.h>
#include <string.h>

#include "mailchannel/addr.h"
#include "mailchannel/mc_util.h"
#include "util/alloc.h"
#include "util/buf.h"

struct addr {
	char   *local;			/* unquoted local part */
	char   *host;			/* host part as written */
};

struct addr_list {
	struct addr **v;
	size_t	n;
	size_t	cap;
	size_t	mem;			/* bytes held, see addr_list_mem() */
};

/*
 * Lexer.
 */
enum addr_tk { TK_END, TK_ATOM, TK_QSTR, TK_DLIT, TK_SPEC };

struct addr_tok {
	enum addr_tk kind;
	int	ch;			/* TK_SPEC: the character */
	const char *p;			/* ATOM: text; QSTR: inside the quotes;
					 * DLIT: including the brackets */
	size_t	len;
	int	sp;			/* white space or a comment before it */
};

#define ADDR_SPECIALS	"()<>@,;:\\\".[]"

/* addr_atomc - may c appear in an atom? (8-bit bytes may) */
static int addr_atomc(unsigned char c)
{
	return c > ' ' && c != 0x7f && strchr(ADDR_SPECIALS, c) == NULL;
}

/* addr_lex - tokenise text into toks (room for len + 1 tokens) */
static int addr_lex(const char *s, size_t len, struct addr_tok *toks,
	size_t *ntok, char *why, size_t whylen)
{
	size_t  i = 0, n = 0, j;
	int     sp, depth;
	unsigned char c;

	for (;;) {
		sp = 0;
		while (i < len) {
			c = (unsigned char) s[i];
			if (mc_is_ws(c)) {
				sp = 1;
				i++;
			} else if (c == '(') {
				for (depth = 0; i < len; i++) {
					if (s[i] == '\\' && i + 1 < len)
						i++;
					else if (s[i] == '(')
						depth++;
					else if (s[i] == ')' && --depth == 0)
						break;
				}
				if (i >= len) {
					mc_err(why, whylen, "unterminated comment");
					return -1;
				}
				i++;
				sp = 1;
			} else {
				break;
			}
		}
		toks[n].sp = sp;
		toks[n].ch = 0;
		if (i >= len) {
			toks[n].kind = TK_END;
			toks[n].p = s + len;
			toks[n].len = 0;
			*ntok = n + 1;
			return 0;
		}
		c = (unsigned char) s[i];
		if (c == '"') {
			for (j = i + 1; j < len && s[j] != '"'; j++)
				if (s[j] == '\\' && j + 1 < len)
					j++;
			if (j >= len) {
				mc_err(why, whylen, "unterminated quoted string");
				return -1;
			}
			toks[n].kind = TK_QSTR;
			toks[n].p = s + i + 1;
			toks[n].len = j - i - 1;
			i = j + 1;
		} else if (c == '[') {
			for (j = i + 1; j < len && s[j] != ']' && s[j] != '['; j++)
				if (s[j] == '\\' && j + 1 < len)
					j++;
			if (j >= len || s[j] != ']') {
				mc_err(why, whylen, "unterminated domain literal");
				return -1;
			}
			toks[n].kind = TK_DLIT;
			toks[n].p = s + i;
			toks[n].len = j - i + 1;
			i = j + 1;
		} else if (c != 0 && strchr("<>@,;:.", c) != NULL) {
			toks[n].kind = TK_SPEC;
			toks[n].ch = c;
			toks[n].p = s + i;
			toks[n].len = 1;
			i++;
		} else if (addr_atomc(c)) {
			for (j = i; j < len && addr_atomc((unsigned char) s[j]); j++)
				;
			toks[n].kind = TK_ATOM;
			toks[n].p = s + i;
			toks[n].len = j - i;
			i = j;
		} else if (c == ')' || c == ']' || c == '\\') {
			mc_err(why, whylen, "unexpected '%c'", c);
			return -1;
		} else {
			mc_err(why, whylen, "control byte 0x%02x", c);
			return -1;
		}
		n++;
	}
}

/*
 * Parser.
 */
struct addr_host_el {
	char   *s;			/* NUL-terminated copy */
	size_t	len;
	int	dlit;			/* a domain literal "[...]" */
};

struct addr_pc {
	struct addr_tok *t;
	size_t	i;			/* cursor */
	size_t	end;			/* tokens [i, end) are ours */
	struct buf local;
	struct addr_host_el *h;		/* host indicators, innermost first */
	size_t	nh;
	char   *why;
	size_t	whylen;
};

/* addr_is_at - the RFC 733 host indicator " at " */
static int addr_is_at(const struct addr_tok *t)
{
	return t->kind == TK_ATOM && t->sp && t->len == 2
	    && (t->p[0] == 'a' || t->p[0] == 'A')
	    && (t->p[1] == 't' || t->p[1] == 'T');
}

/* addr_tokname - describe a token for an error message */
static const char *addr_tokname(const struct addr_tok *t, char *dst, size_t len)
{
	char    show[MC_SHOWLEN];

	if (t->kind == TK_END) {
		mc_err(dst, len, "end of address");
	} else if (t->kind == TK_QSTR) {
		mc_err(dst, len, "\"%s\"", mc_show(show, sizeof(show), t->p, t->len));
	} else {
		mc_err(dst, len, "'%s'", mc_show(show, sizeof(show), t->p, t->len));
	}
	return dst;
}

/* addr_unexpected - the common parse error */
static int addr_unexpected(struct addr_pc *pc, const char *where)
{
	char    name[MC_SHOWLEN + 8];

	if (pc->i >= pc->end)
		mc_err(name, sizeof(name), "end of address");
	else
		addr_tokname(&pc->t[pc->i], name, sizeof(name));
	mc_err(pc->why, pc->whylen, "unexpected %s %s", name, where);
	return -1;
}

/* addr_word - append an atom or the unquoted text of a quoted string */
static int addr_word(struct addr_pc *pc, const struct addr_tok *t)
{
	size_t  k;
	int     rc = 0;

	if (t->kind == TK_ATOM)
		return buf_append(&pc->local, t->p, t->len);
	/* CR and LF, quoted or not, are folding (RFC 822 unfolding): a
	 * local part never holds a line break, so an address written one
	 * per line always reads back as one address. */
	for (k = 0; k < t->len && rc == 0; k++) {
		if (t->p[k] == '\\' && k + 1 < t->len)
			k++;
		if (t->p[k] == '\r' || t->p[k] == '\n')
			continue;
		rc = buf_putc(&pc->local, (unsigned char) t->p[k]);
	}
	return rc;
}

/* addr_isword - atom or quoted string */
static int addr_isword(const struct addr_tok *t)
{
	return t->kind == TK_ATOM || t->kind == TK_QSTR;
}

/* addr_host_el_add - parse one host (domain or literal) at the cursor */
static int addr_host_el_add(struct addr_pc *pc)
{
	struct addr_tok *t = &pc->t[pc->i];
	struct buf hb = BUF_INIT(ADDR_MAX_LEN);
	struct addr_host_el *el;

	if (pc->i < pc->end && t->kind == TK_DLIT) {
		if (buf_append(&hb, t->p, t->len) < 0)
			goto toolong;
		pc->i++;
	} else if (pc->i < pc->end && t->kind == TK_ATOM) {
		for (;;) {
			if (buf_append(&hb, pc->t[pc->i].p, pc->t[pc->i].len) < 0)
				goto toolong;
			pc->i++;
			if (pc->i >= pc->end || pc->t[pc->i].kind != TK_SPEC
			    || pc->t[pc->i].ch != '.')
				break;
			if (buf_putc(&hb, '.') < 0)
				goto toolong;
			pc->i++;
			if (pc->i >= pc->end || pc->t[pc->i].kind != TK_ATOM) {
				buf_release(&hb);
				return addr_unexpected(pc, "after '.' in a host name");
			}
		}
	} else {
		buf_release(&hb);
		return addr_unexpected(pc, "where a host name should be");
	}
	pc->h = xrealloc(pc->h, (pc->nh + 1) * sizeof(*pc->h));
	el = &pc->h[pc->nh++];
	el->len = hb.len;
	el->s = xmemdup(buf_data(&hb), hb.len);
	el->dlit = (el->s[0] == '[');
	buf_release(&hb);
	return 0;

toolong:
	buf_release(&hb);
	mc_err(pc->why, pc->whylen, "host name too long");
	return -1;
}

/* addr_spec - local-part host-indicator host {host-indicator host} */
static int addr_spec(struct addr_pc *pc)
{
	struct addr_tok *t;
	size_t  nh0 = pc->nh;

	t = &pc->t[pc->i];
	if (pc->i >= pc->end || !addr_isword(t)) {
		if (pc->i >= pc->end || (t->kind == TK_SPEC && t->ch == '@')) {
			mc_err(pc->why, pc->whylen, "empty local part");
			return -1;
		}
		return addr_unexpected(pc, "where a local part should be");
	}
	for (;;) {
		if (addr_word(pc, &pc->t[pc->i]) < 0)
			goto toolong;
		pc->i++;
		if (pc->i >= pc->end)
			break;
		t = &pc->t[pc->i];
		if (t->kind == TK_SPEC && t->ch == '.') {
			if (buf_putc(&pc->local, '.') < 0)
				goto toolong;
			pc->i++;
			if (pc->i >= pc->end || !addr_isword(&pc->t[pc->i]))
				return addr_unexpected(pc, "after '.' in the local part");
			continue;
		}
		if (addr_isword(t) && !t->sp)
			continue;	/* "a"b or "x"%y: adjacent words */
		break;
	}
	if (pc->local.len == 0) {
		mc_err(pc->why, pc->whylen, "empty local part");
		return -1;
	}
	while (pc->i < pc->end) {
		t = &pc->t[pc->i];
		if ((t->kind == TK_SPEC && t->ch == '@') || addr_is_at(t)) {
			pc->i++;
			if (addr_host_el_add(pc) < 0)
				return -1;
			continue;
		}
		if (pc->nh == nh0 && addr_isword(t))
			return addr_unexpected(pc,
			    "after the local part (a name without <...>?)");
		return addr_unexpected(pc, "after the address");
	}
	if (pc->nh == nh0) {
		mc_err(pc->why, pc->whylen, "no host part");
		return -1;
	}
	return 0;

toolong:
	mc_err(pc->why, pc->whylen, "local part too long");
	return -1;
}

/* addr_route_addr - [@a,@b:]addr-spec inside <...> */
static int addr_route_addr(struct addr_pc *pc)
{
	struct addr_host_el *route = NULL;
	size_t  nroute, k, spec0;
	struct addr_tok *t;

	if (pc->i >= pc->end) {
		mc_err(pc->why, pc->whylen, "empty address '<>'");
		return -1;
	}
	t = &pc->t[pc->i];
	if (!(t->kind == TK_SPEC && t->ch == '@'))
		return addr_spec(pc);

	/* Route: parse its hosts first, then move them behind the spec's. */
	for (;;) {
		t = &pc->t[pc->i];
		if (pc->i < pc->end && t->kind == TK_SPEC && t->ch == '@') {
			pc->i++;
			if (addr_host_el_add(pc) < 0)
				return -1;
			continue;
		}
		if (pc->i < pc->end && t->kind == TK_SPEC && t->ch == ',') {
			pc->i++;
			continue;
		}
		if (pc->i < pc->end && t->kind == TK_SPEC && t->ch == ':') {
			pc->i++;
			break;
		}
		return addr_unexpected(pc, "in a source route (want ':')");
	}
	nroute = pc->nh;
	route = xmemdup(pc->h, nroute * sizeof(*route));
	pc->nh = 0;
	if (addr_spec(pc) < 0) {
		for (k = 0; k < nroute; k++)
			free(route[k].s);
		free(route);
		return -1;
	}
	/* "<@b,@c:u@a>" goes to b, then c, then a: as host indicators,
	 * innermost first, that is (a, c, b): the route reversed. */
	spec0 = pc->nh;
	pc->h = xrealloc(pc->h, (spec0 + nroute) * sizeof(*pc->h));
	for (k = 0; k < nroute; k++)
		pc->h[spec0 + k] = route[nroute - 1 - k];
	pc->nh = spec0 + nroute;
	free(route);
	return 0;
}

/* addr_parse_tokens - phrase <route-addr> | addr-spec */
static int addr_parse_tokens(struct addr_pc *pc, size_t ntok)
{
	size_t  k, lt = ntok, gt = ntok;
	struct addr_tok *t;

	pc->end = ntok - 1;
	for (k = 0; k + 1 < ntok; k++)
		if (pc->t[k].kind == TK_SPEC && pc->t[k].ch == '<') {
			lt = k;
			break;
		}
	if (ntok == 1) {
		mc_err(pc->why, pc->whylen, "empty address");
		return -1;
	}
	if (lt == ntok) {
		pc->i = 0;
		pc->end = ntok - 1;
		return addr_spec(pc);
	}
	for (k = lt + 1; k + 1 < ntok; k++) {
		t = &pc->t[k];
		if (t->kind == TK_SPEC && t->ch == '<') {
			pc->i = k;
			return addr_unexpected(pc, "inside <...>");
		}
		if (t->kind == TK_SPEC && t->ch == '>') {
			gt = k;
			break;
		}
	}
	if (gt == ntok) {
		mc_err(pc->why, pc->whylen, "'<' without '>'");
		return -1;
	}
	if (pc->t[gt + 1].kind != TK_END) {
		pc->i = gt + 1;
		return addr_unexpected(pc, "after '>'");
	}
	for (k = 0; k < lt; k++)
		if (pc->t[k].kind == TK_SPEC && pc->t[k].ch == '>') {
			pc->i = k;
			return addr_unexpected(pc, "before '<'");
		}
	pc->i = lt + 1;
	pc->end = gt;
	return addr_route_addr(pc);
}

/* addr_build - reduce the host indicators to local%...@host */
static struct addr *addr_build(struct addr_pc *pc)
{
	char    hwhy[ADDR_ERRLEN], show[MC_SHOWLEN];
	size_t  nh = pc->nh, k;
	struct addr *a;

	while (nh > 1 && pc->h[nh - 1].dlit)
		nh--;
	for (k = 0; k < nh; k++) {
		if (pc->h[k].dlit) {
			mc_err(pc->why, pc->whylen, nh == 1
			    ? "domain literal '%s' is the only host" :
			    "domain literal '%s' inside a route",
			    mc_show(show, sizeof(show), pc->h[k].s, pc->h[k].len));
			return NULL;
		}
		if (addr_host_check(pc->h[k].s, pc->h[k].len, hwhy, sizeof(hwhy)) < 0) {
			mc_err(pc->why, pc->whylen, "%s", hwhy);
			return NULL;
		}
	}
	for (k = 0; k + 1 < nh; k++)
		if (buf_putc(&pc->local, '%') < 0
		    || buf_append(&pc->local, pc->h[k].s, pc->h[k].len) < 0) {
			mc_err(pc->why, pc->whylen, "local part too long");
			return NULL;
		}
	a = xmalloc(sizeof(*a));
	a->local = xmemdup(buf_data(&pc->local), pc->local.len);
	a->host = xmemdup(pc->h[nh - 1].s, pc->h[nh - 1].len);
	/* What we write must be readable by the next hop's parser. */
	if (addr_format(a, NULL, 0) > ADDR_MAX_LEN) {
		mc_err(pc->why, pc->whylen, "canonical form longer than %d bytes", ADDR_MAX_LEN);
		addr_free(a);
		return NULL;
	}
	return a;
}

/* addr_parse - one address in any supported form */
struct addr *addr_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct addr_pc pc;
	struct addr *a = NULL;
	char    why[ADDR_ERRLEN], show[MC_SHOWLEN];
	size_t  ntok, k;

	memset(&pc, 0, sizeof(pc));
	why[0] = 0;
	if (len > ADDR_MAX_LEN) {
		mc_err(err, errlen, "address '%s': longer than %d bytes",
		    mc_show(show, sizeof(show), text, len), ADDR_MAX_LEN);
		return NULL;
	}
	if (memchr(text, 0, len) != NULL) {
		mc_err(err, errlen, "address '%s': contains a NUL byte",
		    mc_show(show, sizeof(show), text, len));
		return NULL;
	}
	pc.t = xcalloc(len + 1, sizeof(*pc.t));
	pc.why = why;
	pc.whylen = sizeof(why);
	buf_init(&pc.local, ADDR_MAX_LEN);
	if (addr_lex(text, len, pc.t, &ntok, why, sizeof(why)) == 0
	    && addr_parse_tokens(&pc, ntok) == 0)
		a = addr_build(&pc);
	if (a == NULL)
		mc_err(err, errlen, "address '%s': %s",
		    mc_show(show, sizeof(show), text, len), why);
	for (k = 0; k < pc.nh; k++)
		free(pc.h[k].s);
	free(pc.h);
	free(pc.t);
	buf_release(&pc.local);
	return a;
}

/* addr_new - address from parts */
struct addr *addr_new(const char *local, const char *host, char *err, size_t errlen)
{
	struct addr *a;

	if (local == NULL || local[0] == 0) {
		mc_err(err, errlen, "address: empty local part");
		return NULL;
	}
	if (strpbrk(local, "\r\n") != NULL) {
		mc_err(err, errlen, "address: line break in the local part");
		return NULL;
	}
	if (strlen(local) > ADDR_MAX_LEN) {
		mc_err(err, errlen, "address: local part longer than %d bytes", ADDR_MAX_LEN);
		return NULL;
	}
	if (host == NULL || addr_host_check(host, strlen(host), err, errlen) < 0) {
		if (host == NULL)
			mc_err(err, errlen, "address: no host part");
		return NULL;
	}
	a = xmalloc(sizeof(*a));
	a->local = xstrdup(local);
	a->host = xstrdup(host);
	if (addr_format(a, NULL, 0) > ADDR_MAX_LEN) {
		mc_err(err, errlen, "address: canonical form longer than %d bytes", ADDR_MAX_LEN);
		addr_free(a);
		return NULL;
	}
	return a;
}

/* addr_dup - deep copy */
struct addr *addr_dup(const struct addr *a)
{
	struct addr *d = xmalloc(sizeof(*d));

	d->local = xstrdup(a->local);
	d->host = xstrdup(a->host);
	return d;
}

/* addr_free - release */
void addr_free(struct addr *a)
{
	if (a == NULL)
		return;
	free(a->local);
	free(a->host);
	free(a);
}

/* addr_local - unquoted local part */
const char *addr_local(const struct addr *a)
{
	return a->local;
}

/* addr_host - host part */
const char *addr_host(const struct addr *a)
{
	return a->host;
}

/* addr_needs_quote - would the local part not read back as dot-atoms? */
static int addr_needs_quote(const char *s)
{
	size_t  n = strlen(s), k;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..") != NULL)
		return 1;
	for (k = 0; k < n; k++)
		if (s[k] != '.' && !addr_atomc((unsigned char) s[k]))
			return 1;
	return 0;
}

/* addr_format - canonical text */
size_t addr_format(const struct addr *a, char *dst, size_t dstlen)
{
	size_t  need = 0, k;
	int     q = addr_needs_quote(a->local);
	const char *s;

#define ADDR_PUT(c) do { \
	if (need + 1 < dstlen) \
		dst[need] = (char) (c); \
	need++; \
} while (0)

	if (q)
		ADDR_PUT('"');
	for (s = a->local; *s; s++) {
		if (q && (*s == '"' || *s == '\\'))
			ADDR_PUT('\\');
		ADDR_PUT(*s);
	}
	if (q)
		ADDR_PUT('"');
	ADDR_PUT('@');
	for (k = 0; a->host[k]; k++)
		ADDR_PUT(a->host[k]);
#undef ADDR_PUT
	if (dstlen > 0)
		dst[need < dstlen ? need : dstlen - 1] = 0;
	return need;
}

/* addr_to_str - canonical text in new memory */
char *addr_to_str(const struct addr *a)
{
	size_t  n = addr_format(a, NULL, 0);
	char   *s = xmalloc(n + 1);

	addr_format(a, s, n + 1);
	return s;
}

/* addr_host_check - valid host name? */
int addr_host_check(const char *host, size_t len, char *err, size_t errlen)
{
	char    show[MC_SHOWLEN], bad[8];
	size_t  k;
	unsigned char c;

	if (len == 0) {
		mc_err(err, errlen, "host name '': empty");
		return -1;
	}
	if (len > ADDR_HOST_MAX) {
		mc_err(err, errlen, "host name '%s': longer than %d bytes",
		    mc_show(show, sizeof(show), host, len), ADDR_HOST_MAX);
		return -1;
	}
	for (k = 0; k < len; k++) {
		c = (unsigned char) host[k];
		if (c == '.') {
			if (k == 0 || k + 1 == len || host[k + 1] == '.') {
				mc_err(err, errlen, "host name '%s': empty label",
				    mc_show(show, sizeof(show), host, len));
				return -1;
			}
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			mc_err(err, errlen, "host name '%s': bad character '%s'",
			    mc_show(show, sizeof(show), host, len),
			    mc_show(bad, sizeof(bad), host + k, 1));
			return -1;
		}
	}
	return 0;
}

/* addr_host_eq - equal ignoring ASCII case */
int addr_host_eq(const char *a, const char *b)
{
	unsigned char x, y;

	for (;; a++, b++) {
		x = (unsigned char) *a;
		y = (unsigned char) *b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char) (x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char) (y - 'A' + 'a');
		if (x != y)
			return 0;
		if (x == 0)
			return 1;
	}
}

/* addr_host_is - a's host is host? */
int addr_host_is(const struct addr *a, const char *host)
{
	return addr_host_eq(a->host, host);
}

/* addr_host_reverse - reverse label order */
size_t addr_host_reverse(const char *host, char *dst, size_t dstlen)
{
	size_t  need = 0, end = strlen(host), start, k;

	while (end > 0) {
		start = end;
		while (start > 0 && host[start - 1] != '.')
			start--;
		for (k = start; k < end; k++, need++)
			if (need + 1 < dstlen)
				dst[need] = host[k];
		if (start == 0)
			break;
		if (need + 1 < dstlen)
			dst[need] = '.';
		need++;
		end = start - 1;
	}
	if (dstlen > 0)
		dst[need < dstlen ? need : dstlen - 1] = 0;
	return need;
}

/* addr_has_route - '%' in the local part? */
int addr_has_route(const struct addr *a)
{
	return strchr(a->local, '%') != NULL;
}

/* addr_percent_hop - drop the host, rightmost '%' becomes '@' */
int addr_percent_hop(struct addr *a, char *err, size_t errlen)
{
	char    show[MC_SHOWLEN], why[ADDR_ERRLEN];
	char   *pct = strrchr(a->local, '%');
	char   *nhost;

	if (pct == NULL) {
		mc_err(err, errlen, "address '%s@%s': no '%%' route in the local part",
		    mc_show(show, sizeof(show), a->local, strlen(a->local)), a->host);
		return -1;
	}
	if (pct == a->local) {
		mc_err(err, errlen, "address '%s@%s': empty local part before '%%'",
		    mc_show(show, sizeof(show), a->local, strlen(a->local)), a->host);
		return -1;
	}
	if (addr_host_check(pct + 1, strlen(pct + 1), why, sizeof(why)) < 0) {
		mc_err(err, errlen, "address '%s@%s': after '%%': %s",
		    mc_show(show, sizeof(show), a->local, strlen(a->local)), a->host, why);
		return -1;
	}
	nhost = xstrdup(pct + 1);
	*pct = 0;
	free(a->host);
	a->host = nhost;
	return 0;
}

/* addr_mailbox_check - may local name a mailbox? */
int addr_mailbox_check(const char *local, size_t len, char *err, size_t errlen)
{
	char    show[MC_SHOWLEN];
	const char *why = NULL;
	size_t  k;
	unsigned char c;

	if (len == 0)
		why = "empty";
	else if (len > ADDR_MBOX_MAX)
		why = "too long";
	else if (local[0] == '.')
		why = "starts with '.'";
	for (k = 0; k < len && why == NULL; k++) {
		c = (unsigned char) local[k];
		if (c == '/')
			why = "contains '/'";
		else if (c == 0)
			why = "contains a NUL byte";
		else if (c < ' ' || c == 0x7f)
			why = "contains a control byte";
	}
	if (why == NULL)
		return 0;
	mc_err(err, errlen, "invalid mailbox name '%s': %s",
	    mc_show(show, sizeof(show), local, len), why);
	return -1;
}

/* addr_lower - ASCII lower-case in place */
char *addr_lower(char *s)
{
	char   *p;

	for (p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char) (*p - 'A' + 'a');
	return s;
}

/* addr_mailbox - checked, lower-cased mailbox name */
int addr_mailbox(const struct addr *a, char *dst, size_t dstlen, char *err, size_t errlen)
{
	size_t  n = strlen(a->local);

	if (addr_mailbox_check(a->local, n, err, errlen) < 0)
		return -1;
	if (n >= dstlen) {
		mc_err(err, errlen, "mailbox name: buffer of %zu bytes too small", dstlen);
		return -1;
	}
	memcpy(dst, a->local, n + 1);
	addr_lower(dst);
	return 0;
}

/*
 * Lists.
 */

/* addr_split - length of the first comma-separated item */
size_t addr_split(const char *s, size_t len)
{
	size_t  k;
	int     paren = 0, angle = 0, quote = 0, lit = 0;

	for (k = 0; k < len; k++) {
		if ((quote || paren || lit) && s[k] == '\\') {
			k++;
			continue;
		}
		if (quote) {
			if (s[k] == '"')
				quote = 0;
		} else if (paren) {
			if (s[k] == '(')
				paren++;
			else if (s[k] == ')')
				paren--;
		} else if (lit) {
			if (s[k] == ']')
				lit = 0;
		} else if (s[k] == '"') {
			quote = 1;
		} else if (s[k] == '(') {
			paren = 1;
		} else if (s[k] == '[') {
			lit = 1;
		} else if (s[k] == '<') {
			angle++;
		} else if (s[k] == '>' && angle > 0) {
			angle--;
		} else if (s[k] == ',' && angle == 0) {
			return k;
		}
	}
	return len;
}

/* addr_list_new - empty list */
struct addr_list *addr_list_new(void)
{
	struct addr_list *l = xcalloc(1, sizeof(*l));

	l->mem = sizeof(*l);
	return l;
}

/* addr_list_free - release */
void addr_list_free(struct addr_list *l)
{
	size_t  k;

	if (l == NULL)
		return;
	for (k = 0; k < l->n; k++)
		addr_free(l->v[k]);
	free(l->v);
	free(l);
}

/* addr_list_append - add one address (ownership passes) */
int addr_list_append(struct addr_list *l, struct addr *a, char *err, size_t errlen)
{
	if (l->n >= ADDR_LIST_MAX) {
		mc_err(err, errlen, "address list: more than %d addresses", ADDR_LIST_MAX);
		addr_free(a);
		return -1;
	}
	if (l->n == l->cap) {
		l->mem -= l->cap * sizeof(*l->v);
		l->cap = l->cap ? l->cap * 2 : 16;
		if (l->cap > ADDR_LIST_MAX)
			l->cap = ADDR_LIST_MAX;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		l->mem += l->cap * sizeof(*l->v);
	}
	l->v[l->n++] = a;
	l->mem += sizeof(*a) + strlen(a->local) + strlen(a->host) + 2;
	return 0;
}

/* addr_list_add_line - parse and append one line */
int addr_list_add_line(struct addr_list *l, const char *line, size_t len,
	unsigned long lineno, char *err, size_t errlen)
{
	char    why[ADDR_ERRLEN];
	size_t  item, b, e;
	struct addr *a;

	if (len > ADDR_LINE_MAX) {
		mc_err(err, errlen, "line %lu: address list line longer than %d bytes",
		    lineno, ADDR_LINE_MAX);
		return -2;
	}
	while (len > 0) {
		item = addr_split(line, len);
		for (b = 0; b < item && mc_is_ws((unsigned char) line[b]); b++)
			;
		for (e = item; e > b && mc_is_ws((unsigned char) line[e - 1]); e--)
			;
		if (e > b) {
			if ((a = addr_parse(line + b, e - b, why, sizeof(why))) == NULL) {
				mc_err(err, errlen, "line %lu: %s", lineno, why);
				return -1;
			}
			if (addr_list_append(l, a, why, sizeof(why)) < 0) {
				mc_err(err, errlen, "line %lu: %s", lineno, why);
				return -2;
			}
		}
		if (item == len)
			break;
		line += item + 1;
		len -= item + 1;
	}
	return 0;
}

/* addr_list_parse - a whole list text */
struct addr_list *addr_list_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct addr_list *l = addr_list_new();
	unsigned long lineno = 1;
	const char *nl;
	size_t  n;

	while (len > 0) {
		nl = memchr(text, '\n', len);
		n = nl ? (size_t) (nl - text) : len;
		if (addr_list_add_line(l, text, n, lineno, err, errlen) != 0) {
			addr_list_free(l);
			return NULL;
		}
		if (nl == NULL)
			break;
		text += n + 1;
		len -= n + 1;
		lineno++;
	}
	return l;
}

/* addr_list_count - number of addresses */
size_t addr_list_count(const struct addr_list *l)
{
	return l->n;
}

/* addr_list_get - borrowed address */
const struct addr *addr_list_get(const struct addr_list *l, size_t i)
{
	return i < l->n ? l->v[i] : NULL;
}

/* addr_list_mem - bytes held */
size_t addr_list_mem(const struct addr_list *l)
{
	return l->mem;
}
