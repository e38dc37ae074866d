/*++
 * NAME
 *	trace 3
 * SUMMARY
 *	a letter's life at one node, from its journal
 * SYNOPSIS
 *	#include "relay/trace.h"
 * DESCRIPTION
 *	See trace.h and doc/trace.md. trace_collect() reads the journals
 *	once, oldest first, keeping a small set of names: a line joins the
 *	set when it names the key itself, or is a "received" line whose
 *	msgid, out/ file or donor name is the key, or whose from=notice:X
 *	or orig=X names a letter already in the set (the notices a letter
 *	caused and the resubmissions of it). Every line whose NAME is in
 *	the set is kept, re-formatted canonically.
 *
 *	A received line carries what the caller claimed (from=, donor=) and
 *	who the caller was (peer=, auth=: relay/relayd_recv.c). A claim
 *	links letters only when that identity backs it (trace_donor_ok):
 *	so a stranger who sends "niftpmail-copy ucl/NAME", or who calls
 *	itself "out/FILE", is not found by a trace of ucl's NAME or of
 *	out:FILE, and is not shown as having come from ucl.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mailchannel/route.h"
#include "relay/trace.h"
#include "spool/journal.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/strutil.h"

/* strip_angle - "<id>" to "id" into dst */
static void strip_angle(const char *s, char *dst, size_t len)
{
	size_t  n;

	if (*s == '<')
		s++;
	str_copy(dst, s, len);
	n = strlen(dst);
	if (n > 0 && dst[n - 1] == '>')
		dst[n - 1] = '\0';
}

struct nameset {
	char	names[TRACE_MAX_NAMES][256];
	size_t	n;
};

static int set_has(const struct nameset *s, const char *name)
{
	size_t  i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}

static void set_add(struct nameset *s, const char *name)
{
	if (!set_has(s, name) && s->n < TRACE_MAX_NAMES && strlen(name) < 256)
		str_copy(s->names[s->n++], name, sizeof(s->names[0]));
}

/* trace_donor_ok - may donor=NODE/NAME be believed of a line with
 * peer= and auth= (NULL: absent)? */
int trace_donor_ok(const char *donor, const char *peer, const char *auth)
{
	const char *slash = donor ? strchr(donor, '/') : NULL;
	size_t  k;

	if (slash == NULL)
		return 0;
	/* a letter made here (no peer=), or a journal older than peers */
	if (peer == NULL)
		return 1;
	/* a local caller: root or the daemon's user, who could write the
	 * spool itself */
	if (auth != NULL && strcmp(auth, "local") == 0)
		return 1;
	k = (size_t) (slash - donor);
	return strcmp(peer, "-") != 0 && strlen(peer) == k && strncasecmp(peer, donor, k) == 0;
}

/* from_out_ok - may from=out/FILE be believed of rec? Only drops and
 * submissions say it (they carry no peer=); a caller's calling address
 * might be anything. */
static int from_out_ok(const struct journal_rec *rec)
{
	const char *auth = journal_get(rec, "auth", NULL);

	return journal_get(rec, "peer", NULL) == NULL || (auth != NULL
	    && strcmp(auth, "local") == 0);
}

/* rec_donor_ok - trace_donor_ok() of rec's donor */
static int rec_donor_ok(const struct journal_rec *rec, const char *donor)
{
	return trace_donor_ok(donor, journal_get(rec, "peer", NULL),
	    journal_get(rec, "auth", NULL));
}

/* key_matches - does received/corrupt line rec name the letter key? */
static int key_matches(const struct journal_rec *rec, const char *key)
{
	const char *v;
	char    a[1024], b[1024];
	int     force_id = strncmp(key, "msgid:", 6) == 0;
	int     force_out = strncmp(key, "out:", 4) == 0;
	const char *k = force_id ? key + 6 : force_out ? key + 4 : key;

	if (!force_id && !force_out && strcmp(rec->name, k) == 0)
		return 1;
	if (!force_out && (v = journal_get(rec, "msgid", NULL)) != NULL) {
		strip_angle(v, a, sizeof(a));
		strip_angle(k, b, sizeof(b));
		if (a[0] && strcmp(a, b) == 0)
			return 1;
	}
	if (force_id)
		return 0;
	if ((v = journal_get(rec, "from", NULL)) != NULL && strncmp(v, "out/", 4) == 0
	    && strcmp(v + 4, k) == 0 && from_out_ok(rec))
		return 1;
	if (force_out)
		return 0;
	if ((v = journal_get(rec, "donor", NULL)) != NULL && strchr(v, '/') != NULL
	    && strcmp(strchr(v, '/') + 1, k) == 0 && rec_donor_ok(rec, v))
		return 1;
	return 0;
}

/* trace_collect - the journal lines of the letters key names */
int trace_collect(const char *spool, const char *key, struct buf *out, char *err,
	size_t errlen)
{
	struct journal_reader *r;
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	struct nameset *set = xcalloc(1, sizeof(*set));
	const char *kv[2 * JOURNAL_MAX_KV];
	const char *v;
	size_t  i;
	int     rc, found = 0;

	if ((r = journal_reader_open(spool, err, errlen)) == NULL) {
		free(rec);
		free(set);
		return -1;
	}
	while ((rc = journal_reader_next(r, rec, err, errlen)) == 1) {
		int     keep = set_has(set, rec->name);

		if (!keep && strcmp(rec->name, "-") != 0
		    && (strcmp(rec->event, "received") == 0 || strcmp(rec->event, "corrupt") == 0
		    || strcmp(rec->event, "refused") == 0 || strcmp(rec->event, "recovered") == 0)) {
			if (key_matches(rec, key))
				keep = 1;
			else if ((v = journal_get(rec, "from", NULL)) != NULL
			    && strncmp(v, "notice:", 7) == 0 && set_has(set, v + 7))
				keep = 1;
			else if ((v = journal_get(rec, "orig", NULL)) != NULL && set_has(set, v))
				keep = 1;
			if (keep) {
				set_add(set, rec->name);
				found++;
			}
		}
		if (!keep && strcmp(rec->name, "-") != 0 && strcmp(rec->name, key) == 0) {
			/* a line about the key whose received line was rotated away */
			set_add(set, rec->name);
			found++;
			keep = 1;
		}
		if (!keep)
			continue;
		for (i = 0; i < rec->nkv; i++) {
			kv[2 * i] = rec->kv[i].key;
			kv[2 * i + 1] = rec->kv[i].val;
		}
		if (journal_format(out, rec->time, rec->event, rec->name, kv, rec->nkv) < 0) {
			snprintf(err, errlen, "trace of '%s': more than %zu octets", key,
			    (size_t) out->max);
			rc = -1;
			break;
		}
	}
	journal_reader_free(r);
	free(rec);
	free(set);
	return rc < 0 ? -1 : found;
}

/* trace_service - the trace service's called address */
void trace_service(const char *mail_called, char *dst, size_t len)
{
	size_t  n = mail_called ? strlen(mail_called) : 0;

	if (n > 5 && str_ieq(mail_called + n - 5, ".MAIL") && n - 5 < len) {
		memcpy(dst, mail_called, n - 5);
		dst[n - 5] = '\0';
	} else
		str_copy(dst, "FTP", len);
}

/* route_line - one route or noderoute line */
static int route_line(struct buf *out, const char *now, const char *event, const char *name,
	const struct route_alt *alt)
{
	const char *kv[4];

	/* a pull route's address (if any) is where its peer's trace service answers */
	if (alt == NULL || (alt->channel != ROUTE_CH_NIFTP && alt->channel != ROUTE_CH_PULL)
	    || alt->addr == NULL) {
		kv[0] = "noroute";
		kv[1] = "1";
		return journal_format(out, now, event, name, kv, 1);
	}
	kv[0] = "addr";
	kv[1] = alt->addr;
	kv[2] = "called";
	kv[3] = alt->called ? alt->called : ROUTE_CALLED_DEFAULT;
	return journal_format(out, now, event, name, kv, 2);
}

/* trace_document - header, lines, route lines */
int trace_document(const char *node, const char *key, const struct route_table *rt,
	const char *lines, size_t len, int nnames, struct buf *out)
{
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	char    now[32], n[16], done[16][310];
	const char *kv[6], *p, *e, *v;
	size_t  ndone = 0, i;
	int     rc = 0;

	str_iso8601(time(NULL), now, sizeof(now));
	snprintf(n, sizeof(n), "%d", nnames);
	kv[0] = "node";
	kv[1] = node;
	kv[2] = "version";
	kv[3] = "1";
	kv[4] = "names";
	kv[5] = n;
	if (journal_format(out, now, "trace", key, kv, 3) < 0 || buf_append(out, lines, len) < 0) {
		free(rec);
		return -1;
	}
	for (p = lines; rt != NULL && p < lines + len; p = e + 1) {
		const struct route_hop *h;
		const struct route_alt *alt;
		char    what[310], node2[300];
		const char *ev;

		if ((e = memchr(p, '\n', (size_t) (lines + len - p))) == NULL)
			break;
		if (journal_parse(p, (size_t) (e - p), rec) < 0)
			continue;
		what[0] = '\0';
		alt = NULL;
		ev = NULL;
		if (strcmp(rec->event, "forwarded") == 0 && (v = journal_get(rec, "to", NULL))) {
			const char *addr = journal_get(rec, "addr", NULL);

			snprintf(what, sizeof(what), "h %s", v);
			ev = "route";
			str_copy(node2, v, sizeof(node2));
			if ((h = route_table_hop_by_name(rt, v)) != NULL) {
				alt = &h->alts[0];
				for (i = 0; addr != NULL && i < h->nalts; i++)
					if (h->alts[i].addr && strcmp(h->alts[i].addr, addr) == 0)
						alt = &h->alts[i];
			}
		} else if (strcmp(rec->event, "received") == 0
		    && (v = journal_get(rec, "donor", NULL)) != NULL && strchr(v, '/') != NULL
		    && rec_donor_ok(rec, v)) {
			size_t  k = (size_t) (strchr(v, '/') - v);

			if (k >= sizeof(node2))
				continue;
			memcpy(node2, v, k);
			node2[k] = '\0';
			snprintf(what, sizeof(what), "n %s", node2);
			ev = "noderoute";
			if ((h = route_table_lookup(rt, node2, NULL)) != NULL)
				alt = &h->alts[0];
		}
		if (ev == NULL)
			continue;
		for (i = 0; i < ndone; i++)
			if (strcmp(done[i], what) == 0)
				break;
		if (i < ndone || ndone >= 16)
			continue;
		str_copy(done[ndone++], what, sizeof(done[0]));
		/* a forward records the address it used: it is how that hop was reached */
		if (ev[0] == 'r' && alt == NULL && (v = journal_get(rec, "addr", NULL)) != NULL
		    && strcmp(v, "-") != 0) {
			struct route_alt a2;

			memset(&a2, 0, sizeof(a2));
			a2.channel = ROUTE_CH_NIFTP;
			a2.addr = v;
			a2.called = ROUTE_CALLED_DEFAULT;
			rc = route_line(out, now, ev, node2, &a2);
		} else if (ev[0] == 'r' && alt != NULL && (v = journal_get(rec, "addr", NULL)) != NULL
		    && strcmp(v, "-") != 0 && (alt->addr == NULL || strcmp(alt->addr, v) != 0)) {
			struct route_alt a2 = *alt;

			a2.addr = v;
			rc = route_line(out, now, ev, node2, &a2);
		} else
			rc = route_line(out, now, ev, node2, alt);
		if (rc < 0)
			break;
	}
	free(rec);
	return rc;
}

/* --- parsing ------------------------------------------------------------ */

static struct trace_letter *letter_get(struct trace_doc *d, const char *name)
{
	size_t  i;

	for (i = 0; i < d->nl; i++)
		if (strcmp(d->l[i].name, name) == 0)
			return &d->l[i];
	if (d->nl >= TRACE_MAX_NAMES)
		return NULL;
	d->l = xrealloc(d->l, (d->nl + 1) * sizeof(*d->l));
	memset(&d->l[d->nl], 0, sizeof(d->l[0]));
	d->l[d->nl].name = xstrdup(name);
	return &d->l[d->nl++];
}

const char *trace_ev_get(const struct trace_ev *ev, const char *key)
{
	size_t  i;

	for (i = 0; i < ev->nkv; i++)
		if (strcmp(ev->kv[2 * i], key) == 0)
			return ev->kv[2 * i + 1];
	return NULL;
}

/* hop_to - the next hop a forwarded, delivered ("local"), failed or
 * deferred line is about ("-": failed while routing, or bounced), or
 * NULL (any other line: an ndn's to= is the notice's addressee) */
static const char *hop_to(const struct trace_ev *ev)
{
	if (strcmp(ev->event, "delivered") == 0)
		return "local";
	if (strcmp(ev->event, "forwarded") != 0 && strcmp(ev->event, "failed") != 0
	    && strcmp(ev->event, "deferred") != 0)
		return NULL;
	return trace_ev_get(ev, "to");
}

/* hop_pending - 1 when the last of forwarded/delivered/failed/deferred
 * about hop is none or deferred (l->detail then says why). A "failed"
 * line with to=- after the routed line at index routed ends every hop
 * still pending then: the operator's bounce of a letter that waited
 * for several next hops writes its failures so (relay/ops.c; the
 * router's own to=- failures come before its routed line). */
static int hop_pending(struct trace_letter *l, const char *hop, size_t routed)
{
	const struct trace_ev *last = NULL;
	const char *to, *v;
	size_t  i;

	for (i = 0; i < l->nev; i++) {
		const struct trace_ev *ev = &l->ev[i];

		if ((to = hop_to(ev)) == NULL)
			continue;
		if (strcmp(to, "-") == 0 && i > routed && strcmp(ev->event, "failed") == 0
		    && (last == NULL || strcmp(last->event, "deferred") == 0)) {
			last = ev;
			continue;
		}
		if (strcmp(to, hop) == 0)
			last = ev;
	}
	if (last != NULL && strcmp(last->event, "deferred") != 0)
		return 0;
	if (last != NULL)
		snprintf(l->detail, sizeof(l->detail), "to %s: %s; next try %s", hop,
		    (v = trace_ev_get(last, "reason")) ? v : "?",
		    trace_ev_get(last, "next") ? trace_ev_get(last, "next") : "?");
	return 1;
}

/* hop_listed - hop is one of the n octets of list "a,b,c" */
static int hop_listed(const char *list, size_t n, const char *hop)
{
	const char *p = list, *end = list + n, *q;
	size_t  len = strlen(hop);

	for (; p < end; p = q + 1) {
		if ((q = memchr(p, ',', (size_t) (end - p))) == NULL)
			q = end;
		if ((size_t) (q - p) == len && memcmp(p, hop, len) == 0)
			return 1;
	}
	return 0;
}

/* letter_status - what became of the letter at this node */
static void letter_status(struct trace_letter *l)
{
	const char *hops = NULL, *v;
	const struct trace_ev *bounce = NULL;
	char    hop[300];
	const char *p, *q, *end;
	size_t  i, j, keep, routed = 0;
	int     held = 0, pending = 0, dead = 0, failed = 0, fwd = 0, deliv = 0, ndn = 0;

	l->detail[0] = '\0';
	for (i = 0; i < l->nev; i++) {
		const struct trace_ev *ev = &l->ev[i];

		if (strcmp(ev->event, "routed") == 0) {
			hops = trace_ev_get(ev, "hops");
			routed = i;
		} else if (strcmp(ev->event, "held") == 0)
			held = 1;
		else if (strcmp(ev->event, "released") == 0)
			held = 0;
		else if (strcmp(ev->event, "dead") == 0 || strcmp(ev->event, "deleted") == 0) {
			dead = 1;
			str_copy(l->detail, (v = trace_ev_get(ev, "reason")) ? v : "", sizeof(l->detail));
		} else if (strcmp(ev->event, "failed") == 0) {
			failed++;
			/* the operator's (mailctl bounce) */
			if (trace_ev_get(ev, "by") != NULL)
				bounce = ev;
		} else if (strcmp(ev->event, "ndn") == 0)
			ndn++;
		else if (strcmp(ev->event, "forwarded") == 0)
			fwd++;
		else if (strcmp(ev->event, "delivered") == 0)
			deliv++;
	}
	if (l->recv != NULL && (strcmp(l->recv->event, "corrupt") == 0
	    || strcmp(l->recv->event, "refused") == 0)) {
		str_copy(l->status, l->recv->event, sizeof(l->status));
		str_copy(l->detail, (v = trace_ev_get(l->recv, "reason")) ? v : "", sizeof(l->detail));
		return;
	}
	if (dead) {
		str_copy(l->status, "dead", sizeof(l->status));
		return;
	}
	if (hops == NULL) {
		str_copy(l->status, "received", sizeof(l->status));
		str_copy(l->detail, "not yet routed", sizeof(l->detail));
		if (held)
			str_copy(l->status, "held", sizeof(l->status));
		return;
	}
	/* each hop: the last of forwarded/delivered/failed/deferred decides.
	 * A long list ends in " +N more" (spool/journal.h): the hops it
	 * leaves out are known only by the events about them. */
	end = hops + strlen(hops);
	if (journal_list_more(hops, (size_t) (end - hops), &keep) > 0) {
		end = hops + keep;
		for (i = 0; i < l->nev; i++) {
			const char *to = hop_to(&l->ev[i]);

			if (to == NULL || strcmp(to, "-") == 0 || hop_listed(hops, keep, to))
				continue;
			for (j = 0; j < i; j++)		/* once each */
				if (hop_to(&l->ev[j]) && strcmp(hop_to(&l->ev[j]), to) == 0)
					break;
			if (j == i)
				pending += hop_pending(l, to, routed);
		}
	}
	for (p = hops; p < end; p = q + 1) {
		if ((q = memchr(p, ',', (size_t) (end - p))) == NULL)
			q = end;
		if ((size_t) (q - p) >= sizeof(hop))
			continue;
		memcpy(hop, p, (size_t) (q - p));
		hop[q - p] = '\0';
		pending += hop_pending(l, hop, routed);
	}
	if (held)
		str_copy(l->status, "held", sizeof(l->status));
	else if (pending)
		str_copy(l->status, "queued", sizeof(l->status));
	else
		snprintf(l->status, sizeof(l->status), "%s%s%s%s%s", deliv ? "delivered" : "",
		    deliv && (fwd || failed) ? "+" : "", fwd ? "forwarded" : "",
		    fwd && failed ? "+" : "", failed ? "failed" : "");
	if (l->status[0] == '\0')
		str_copy(l->status, "done", sizeof(l->status));
	if (!held && !pending && bounce != NULL)
		snprintf(l->detail, sizeof(l->detail), "%s by %s: %s",
		    ndn ? "returned to the sender" : "bounced", trace_ev_get(bounce, "by"),
		    (v = trace_ev_get(bounce, "reason")) ? v : "?");
}

/* trace_doc_parse - parse a document */
struct trace_doc *trace_doc_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	struct trace_doc *d = xcalloc(1, sizeof(*d));
	const char *p, *e, *v;
	size_t  i, lineno = 0;

	for (p = text; p < text + len; p = e + 1) {
		lineno++;
		if ((e = memchr(p, '\n', (size_t) (text + len - p))) == NULL) {
			snprintf(err, errlen, "trace document: line %zu has no end", lineno);
			goto bad;
		}
		if (journal_parse(p, (size_t) (e - p), rec) < 0) {
			snprintf(err, errlen, "trace document: line %zu is not a journal line",
			    lineno);
			goto bad;
		}
		if (lineno == 1) {
			if (strcmp(rec->event, "trace") != 0
			    || (v = journal_get(rec, "node", NULL)) == NULL) {
				snprintf(err, errlen, "not a trace document");
				goto bad;
			}
			d->node = xstrdup(v);
			d->key = xstrdup(rec->name);
			continue;
		}
		if (strcmp(rec->event, "route") == 0 || strcmp(rec->event, "noderoute") == 0) {
			struct trace_route *r;

			d->r = xrealloc(d->r, (d->nr + 1) * sizeof(*d->r));
			r = &d->r[d->nr++];
			r->kind = rec->event[0] == 'r' ? 'h' : 'n';
			r->name = xstrdup(rec->name);
			r->addr = (v = journal_get(rec, "addr", NULL)) ? xstrdup(v) : NULL;
			r->called = xstrdup((v = journal_get(rec, "called", NULL)) ? v
			    : ROUTE_CALLED_DEFAULT);
			continue;
		}
		{
			struct trace_letter *l = letter_get(d, rec->name);
			struct trace_ev *ev;

			if (l == NULL)
				continue;
			l->ev = xrealloc(l->ev, (l->nev + 1) * sizeof(*l->ev));
			ev = &l->ev[l->nev++];
			str_copy(ev->time, rec->time, sizeof(ev->time));
			ev->event = xstrdup(rec->event);
			ev->nkv = rec->nkv;
			ev->kv = xcalloc(2 * rec->nkv + 1, sizeof(char *));
			for (i = 0; i < rec->nkv; i++) {
				ev->kv[2 * i] = xstrdup(rec->kv[i].key);
				ev->kv[2 * i + 1] = xstrdup(rec->kv[i].val);
			}
		}
	}
	if (d->node == NULL) {
		snprintf(err, errlen, "empty trace document");
		goto bad;
	}
	for (i = 0; i < d->nl; i++) {
		struct trace_letter *l = &d->l[i];
		size_t  j;

		for (j = 0; j < l->nev && l->recv == NULL; j++)
			if (strcmp(l->ev[j].event, "received") == 0
			    || strcmp(l->ev[j].event, "corrupt") == 0
			    || strcmp(l->ev[j].event, "refused") == 0)
				l->recv = &l->ev[j];
		for (j = 0; j < l->nev && l->recv == NULL; j++)
			if (strcmp(l->ev[j].event, "recovered") == 0)
				l->recv = &l->ev[j];
		letter_status(l);
	}
	free(rec);
	return d;
bad:
	free(rec);
	trace_doc_free(d);
	return NULL;
}

void trace_doc_free(struct trace_doc *d)
{
	size_t  i, j, k;

	if (d == NULL)
		return;
	for (i = 0; i < d->nl; i++) {
		for (j = 0; j < d->l[i].nev; j++) {
			for (k = 0; k < 2 * d->l[i].ev[j].nkv; k++)
				free(d->l[i].ev[j].kv[k]);
			free(d->l[i].ev[j].kv);
			free(d->l[i].ev[j].event);
		}
		free(d->l[i].ev);
		free(d->l[i].name);
	}
	for (i = 0; i < d->nr; i++) {
		free(d->r[i].name);
		free(d->r[i].addr);
		free(d->r[i].called);
	}
	free(d->l);
	free(d->r);
	free(d->node);
	free(d->key);
	free(d);
}

const struct trace_letter *trace_find(const struct trace_doc *d, const char *name)
{
	size_t  i;

	for (i = 0; i < d->nl; i++)
		if (strcmp(d->l[i].name, name) == 0)
			return &d->l[i];
	return NULL;
}

const struct trace_letter *trace_root(const struct trace_doc *d)
{
	size_t  i;
	const char *v;

	for (i = 0; i < d->nl; i++) {
		const struct trace_letter *l = &d->l[i];

		if (l->recv != NULL && (v = trace_ev_get(l->recv, "from")) != NULL
		    && strncmp(v, "notice:", 7) == 0 && trace_find(d, v + 7) != NULL)
			continue;
		if (l->recv != NULL && (v = trace_ev_get(l->recv, "orig")) != NULL
		    && trace_find(d, v) != NULL)
			continue;
		return l;
	}
	return d->nl > 0 ? &d->l[0] : NULL;
}

const struct trace_route *trace_route_of(const struct trace_doc *d, int kind, const char *name)
{
	size_t  i;

	for (i = 0; i < d->nr; i++)
		if (d->r[i].kind == kind && strcmp(d->r[i].name, name) == 0)
			return &d->r[i];
	return NULL;
}

void trace_json_str(struct buf *b, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		buf_printf(b, "null");
		return;
	}
	buf_putc(b, '"');
	for (p = (const unsigned char *) s; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			buf_printf(b, "\\n");
		else if (*p == '\t')
			buf_printf(b, "\\t");
		else if (*p == '\r')
			buf_printf(b, "\\r");
		else if (*p < 0x20 || *p >= 0x7f)	/* octets past ASCII as Latin-1 */
			buf_printf(b, "\\u%04x", *p);
		else
			buf_putc(b, *p);
	}
	buf_putc(b, '"');
}
