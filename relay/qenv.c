/*++
 * NAME
 *	qenv 3
 * SUMMARY
 *	mailrelayd: envelopes, their records and results
 * SYNOPSIS
 *	#include "relay/qenv.h"
 * DESCRIPTION
 *	See qenv.h.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "relay/channel.h"
#include "relay/qenv.h"
#include "relay/rec.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/strutil.h"

/* set_str - replace *sp with a copy of s (NULL or "": none) */
static void set_str(char **sp, const char *s)
{
	char   *old = *sp;

	*sp = s != NULL && *s ? xstrdup(s) : NULL;
	free(old);
}

void qenvq_add(struct qenvq *lst, struct qenv *e)
{
	if (e->q == lst)
		return;
	qenvq_del(e);
	e->q = lst;
	e->qnext = NULL;
	e->qprev = lst->tail;
	if (lst->tail)
		lst->tail->qnext = e;
	else
		lst->head = e;
	lst->tail = e;
	lst->n++;
}

void qenvq_del(struct qenv *e)
{
	struct qenvq *lst = e->q;

	if (lst == NULL)
		return;
	if (e->qprev)
		e->qprev->qnext = e->qnext;
	else
		lst->head = e->qnext;
	if (e->qnext)
		e->qnext->qprev = e->qprev;
	else
		lst->tail = e->qprev;
	lst->n--;
	e->q = NULL;
	e->qnext = e->qprev = NULL;
}

/* hop_safe - a next-hop name as a file-name part */
static void hop_safe(const char *hop, char *dst, size_t len)
{
	size_t  i, n = strlen(hop);

	if (n > 60 || len < 64) {
		snprintf(dst, len, "h%08lx", crc32(0L, (const Bytef *) hop, (uInt) n) & 0xffffffffUL);
		return;
	}
	for (i = 0; i < n && i + 1 < len; i++) {
		unsigned char ch = (unsigned char) hop[i];

		dst[i] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
		    || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-') ? (char) ch : '-';
	}
	dst[i] = '\0';
	if (dst[0] == '.' || dst[0] == '\0')
		dst[0] = '-';
}

struct qenv *qenv_new(const char *letter, const char *hop, int local, time_t now)
{
	struct qenv *e = xcalloc(1, sizeof(*e));
	char    hs[80];

	e->hop = xstrdup(hop);
	e->local = local;
	if (local)
		e->name = xasprintf("%s_l", letter);
	else {
		hop_safe(hop, hs, sizeof(hs));
		e->name = xasprintf("%s_f_%s", letter, hs);
	}
	e->first = now;
	e->next_try = now;
	return e;
}

void qenv_add_rcpt(struct qenv *e, const char *addr, const char *orig, const char *owner,
	const char *mailbox)
{
	struct qrcpt *r;

	e->rcpts = xrealloc(e->rcpts, sizeof(*e->rcpts) * (e->nrcpts + 1));
	r = &e->rcpts[e->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->addr = xstrdup(addr);
	r->orig = orig == NULL || strcmp(orig, addr) == 0 ? r->addr : xstrdup(orig);
	r->owner = owner ? xstrdup(owner) : NULL;
	r->mailbox = mailbox ? xstrdup(mailbox) : NULL;
}


void qenv_free(struct qenv *e)
{
	size_t  i;

	if (e == NULL)
		return;
	for (i = 0; i < e->nrcpts; i++) {
		if (e->rcpts[i].orig != e->rcpts[i].addr)
			free(e->rcpts[i].orig);
		free(e->rcpts[i].addr);
		free(e->rcpts[i].owner);
		free(e->rcpts[i].mailbox);
	}
	free(e->rcpts);
	free(e->name);
	free(e->hop);
	free(e->error);
	free(e->chsaved);
	if (e->pending)
		qresult_free(e->pending);
	free(e);
}

char *qenv_rcpts_text(const struct qenv *e)
{
	struct buf b = BUF_INIT(4 * 1024 * 1024);
	size_t  i;
	char   *s;

	for (i = 0; i < e->nrcpts; i++)
		if (buf_printf(&b, "%s%s", i ? "," : "", e->rcpts[i].addr) < 0)
			break;
	s = xstrdup(buf_cstr(&b) ? buf_cstr(&b) : "");
	buf_release(&b);
	return s;
}

const char *qenv_error(const struct qenv *e)
{
	return e->error ? e->error : "";
}

int qenv_busy(const struct qenv *e)
{
	return e->state != QENV_QUEUED || e->saving > 0;
}


/* --- envelope files ------------------------------------------------------------ */

int qenv_file_text(const struct qenv *e, const char *letter, const char *calling,
	struct buf *b)
{
	size_t  i;

	if (rec_addf(b, "niftpmail-envelope", "1") < 0 || rec_add(b, "letter", letter) < 0
	    || rec_add(b, "hop", e->hop) < 0
	    || rec_add(b, "calling", calling && *calling ? calling : "-") < 0
	    || rec_addf(b, "first", "%lld", (long long) e->first) < 0)
		return -1;
	for (i = 0; i < e->nrcpts; i++) {
		const struct qrcpt *r = &e->rcpts[i];

		if (rec_add(b, "rcpt", r->addr) < 0 || rec_add(b, "orig", r->orig) < 0)
			return -1;
		if (r->mailbox && rec_add(b, "mailbox", r->mailbox) < 0)
			return -1;
		if (r->owner && rec_add(b, "owner", r->owner) < 0)
			return -1;
	}
	return 0;
}

struct envparse {
	struct qenv *e;
	char	letter[SPOOL_NAMELEN];
	char	calling[SPOOL_NAMELEN * 3];
	int	lineno;
	unsigned seen;		/* bits: letter hop calling first */
	unsigned rseen;		/* bits of the current recipient: orig mailbox owner */
};

static int env_line(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct envparse *p = arg;
	struct qenv *e = p->e;
	struct qrcpt *r = e->nrcpts ? &e->rcpts[e->nrcpts - 1] : NULL;
	uint64_t u;
	unsigned bit;

	if (p->lineno++ == 0) {
		if (strcmp(key, "niftpmail-envelope") != 0 || strcmp(val, "1") != 0) {
			snprintf(err, errlen, "not an envelope (version 1)");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "rcpt") == 0) {
		qenv_add_rcpt(e, val, NULL, NULL, NULL);
		p->rseen = 0;
		return 0;
	}
	bit = strcmp(key, "orig") == 0 ? 1 : strcmp(key, "mailbox") == 0 ? 2
	    : strcmp(key, "owner") == 0 ? 4 : 0;
	if (bit != 0) {
		if (r == NULL || (p->rseen & bit)) {
			snprintf(err, errlen, "'%s' %s", key, r ? "repeated" : "before any rcpt");
			return -1;
		}
		p->rseen |= bit;
		if (bit == 1) {
			if (r->orig != r->addr)
				free(r->orig);
			r->orig = strcmp(val, r->addr) == 0 ? r->addr : xstrdup(val);
		} else if (bit == 2)
			r->mailbox = xstrdup(val);
		else
			r->owner = xstrdup(val);
		return 0;
	}
	bit = strcmp(key, "letter") == 0 ? 1 : strcmp(key, "hop") == 0 ? 2
	    : strcmp(key, "calling") == 0 ? 4 : strcmp(key, "first") == 0 ? 8 : 0;
	if (bit == 0) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	if (p->seen & bit) {
		snprintf(err, errlen, "'%s' repeated", key);
		return -1;
	}
	p->seen |= bit;
	switch (bit) {
	case 1:
		if (!spool_name_ok(val) || strchr(val, '_') != NULL
		    || vlen >= sizeof(p->letter)) {
			snprintf(err, errlen, "bad letter name");
			return -1;
		}
		str_copy(p->letter, val, sizeof(p->letter));
		return 0;
	case 2:
		if (vlen == 0) {
			snprintf(err, errlen, "empty hop");
			return -1;
		}
		set_str(&e->hop, val);
		return 0;
	case 4:
		if (vlen >= sizeof(p->calling)) {
			snprintf(err, errlen, "calling address too long");
			return -1;
		}
		str_copy(p->calling, strcmp(val, "-") ? val : "", sizeof(p->calling));
		return 0;
	default:
		if (rec_u64(val, 0, INT64_MAX, &u) < 0) {
			snprintf(err, errlen, "bad value for 'first'");
			return -1;
		}
		e->first = (time_t) u;
		return 0;
	}
}

struct qenv *qenv_file_parse(const char *text, size_t len, char *letter, size_t llen,
	char *calling, size_t clen, char *err, size_t errlen)
{
	struct envparse p;

	memset(&p, 0, sizeof(p));
	p.e = xcalloc(1, sizeof(*p.e));
	if (rec_each(text, len, env_line, &p, err, errlen) < 0)
		goto bad;
	if (p.lineno == 0 || p.seen != 15 || p.e->nrcpts == 0) {
		snprintf(err, errlen, "incomplete envelope (%s)", p.lineno == 0 ? "empty"
		    : p.e->nrcpts == 0 ? "no recipient" : "a field is missing");
		goto bad;
	}
	str_copy(letter, p.letter, llen);
	str_copy(calling, p.calling, clen);
	return p.e;
bad:
	qenv_free(p.e);
	return NULL;
}


void qenv_docket_text(const struct qenv *e, struct buf *b)
{
	size_t  i;

	rec_addf(b, "attempts", "%u", e->attempts);
	rec_addf(b, "next", "%lld", (long long) e->next_try);
	rec_addf(b, "warned", "%d", e->warned);
	rec_add(b, "error", qenv_error(e));
	rec_addf(b, "finished", "%d", 0);
	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].done)
			rec_addf(b, "done", "%zu", i);
	if (e->ch != NULL && e->ch->env_save != NULL)
		e->ch->env_save(e->chself, e, b);
	else if (e->chsaved != NULL)
		buf_append(b, e->chsaved, strlen(e->chsaved));
}


struct dkparse {
	struct qenv *e;
	struct buf *ch;		/* the channel's lines */
	unsigned seen;
	int	finished;
};

static int docket_line(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct dkparse *p = arg;
	struct qenv *e = p->e;
	static const char *const keys[] = { "attempts", "next", "warned", "error", "finished" };
	uint64_t u;
	unsigned i;

	if (strcmp(key, "done") == 0) {
		if (rec_u64(val, 0, e->nrcpts ? e->nrcpts - 1 : 0, &u) < 0 || e->nrcpts == 0) {
			snprintf(err, errlen, "bad value for 'done'");
			return -1;
		}
		e->rcpts[u].done = 1;
		return 0;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0])) {
		/* the channel's: kept as a record for it */
		if (rec_addn(p->ch, key, val, vlen) < 0) {
			snprintf(err, errlen, "channel state too large");
			return -1;
		}
		return 0;
	}
	if (p->seen & (1u << i)) {
		snprintf(err, errlen, "'%s' repeated", key);
		return -1;
	}
	p->seen |= 1u << i;
	if (i == 3) {
		set_str(&e->error, val);
		return 0;
	}
	if (rec_u64(val, 0, i == 1 ? INT64_MAX : i == 0 ? UINT32_MAX : 1, &u) < 0) {
		snprintf(err, errlen, "bad value for '%s'", key);
		return -1;
	}
	if (i == 0)
		e->attempts = (unsigned) u;
	else if (i == 1)
		e->next_try = (time_t) u;
	else if (i == 2)
		e->warned = (int) u;
	else
		p->finished = (int) u;
	return 0;
}


struct qresult *qresult_copy(const struct qresult *r)
{
	struct qresult *c = xcalloc(1, sizeof(*c));
	size_t  i;

	c->all = r->all;
	c->reason = r->reason ? xstrdup(r->reason) : NULL;
	c->remote = r->remote ? xstrdup(r->remote) : NULL;
	c->via = r->via ? xstrdup(r->via) : NULL;
	if (r->rcpt != NULL) {
		c->nrcpt = r->nrcpt;
		c->rcpt = xcalloc(r->nrcpt ? r->nrcpt : 1, sizeof(*c->rcpt));
		for (i = 0; i < r->nrcpt; i++) {
			c->rcpt[i].what = r->rcpt[i].what;
			c->rcpt[i].reason = r->rcpt[i].reason ? xstrdup(r->rcpt[i].reason) : NULL;
			c->rcpt[i].mailbox = r->rcpt[i].mailbox ? xstrdup(r->rcpt[i].mailbox)
			    : NULL;
		}
	}
	if (r->nkv > 0) {
		const char **kv = xcalloc(2 * r->nkv, sizeof(char *));

		for (i = 0; i < 2 * r->nkv; i++)
			kv[i] = xstrdup(r->kv[i]);
		c->kv = kv;
		c->nkv = r->nkv;
	}
	return c;
}

void qresult_free(struct qresult *r)
{
	size_t  i;

	if (r == NULL)
		return;
	free((char *) r->reason);
	free((char *) r->remote);
	free((char *) r->via);
	for (i = 0; r->rcpt != NULL && i < r->nrcpt; i++) {
		free((char *) r->rcpt[i].reason);
		free((char *) r->rcpt[i].mailbox);
	}
	free(r->rcpt);
	for (i = 0; i < 2 * r->nkv; i++)
		free((char *) r->kv[i]);
	free((void *) r->kv);
	free(r);
}

int qenv_docket_parse(struct qenv *e, const char *text, size_t len, int *finished,
	char *err, size_t errlen)
{
	struct buf ch = BUF_INIT(QUEUE_DOCKET_MAX);
	struct dkparse p;

	memset(&p, 0, sizeof(p));
	p.e = e;
	p.ch = &ch;
	*finished = 0;
	if (rec_each(text, len, docket_line, &p, err, errlen) < 0) {
		buf_release(&ch);
		return -1;
	}
	*finished = p.finished;
	free(e->chsaved);
	e->chsaved = ch.len > 0 ? xstrdup(buf_cstr(&ch)) : NULL;
	buf_release(&ch);
	return 0;
}
