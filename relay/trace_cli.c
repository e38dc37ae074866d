/*++
 * NAME
 *	trace_cli 3
 * SUMMARY
 *	mailctl trace: a letter's life here, and at the next and previous hops
 * SYNOPSIS
 *	#include "relay/trace.h"
 *	int trace_main(const struct conf *c, int argc, char **argv);
 * DESCRIPTION
 *	mailctl trace [--follow] [--back] [--json|--dot] [--timeout SECONDS] KEY
 *
 *	The local record comes from this node's journal (read-only, no
 *	daemon needed). --follow fetches trace:NAME from every next hop the
 *	letter was forwarded to (called address the route's mail called
 *	address without ".MAIL"), with the route the forwarding node
 *	recorded, until every branch ends (delivered, failed, still queued,
 *	unreachable, or handed to Internet mail). --back walks from the
 *	letter to the node that sent it (the received line's
 *	donor=NODE/NAME, reached by the route that node has to it) until the
 *	origin; a donor that the line's authenticated peer does not back
 *	(trace_donor_ok()) is not followed.
 *
 *	Remote documents are fetched by the local daemon, never by mailctl
 *	itself: a node serves traces only to authenticated peers and local
 *	callers, and only the daemon holds the node's credentials (request
 *	trace-fetch, relay/trace_fetch.h). Each fetch is one call bounded by
 *	the timeout (default 10 s): a hop that does not answer is shown as
 *	unreachable, and the trace never hangs. The output is a tree, one
 *	hop per level, or with --json the document of doc/trace.md, or with
 *	--dot a Graphviz digraph of the same hops (nodes: node, letter name
 *	and status; edges: forwarded, notice, sent by; labels quoted with
 *	'"' and '\' escaped and every other octet outside printable ASCII
 *	as the text \xNN, so that dot reads any journal's text as it is).
 *
 *	A letter forwarded by the smtp channel (a forwarded line with
 *	proto=smtp, or, in records older than proto=, with the reply= only
 *	that channel writes) went to an Internet SMTP server, which has no
 *	trace service: that branch ends in a hop named by the server's
 *	"queued as" id (the line's remote=), shown with the server's reply
 *	and never asked over NIFTP (no call, no timeout to wait for).
 *
 *	Text output escapes control octets (\xNN): journal values, peers'
 *	documents and SMTP replies are text from outside, and a terminal
 *	must not receive their escape sequences.
 * DIAGNOSTICS
 *	The local record needs the spool directory and its journals: one
 *	that may not be read is named ("mailctl: trace: cannot read
 *	'SPOOL/journal': Permission denied", exit 77; 1 for other errors),
 *	checked before the journals are read, never shown as "no record".
 *
 *	When remote hops were to be asked and the daemon could not be
 *	reached, the trace is printed with each of them "not asked", then
 *	"mailctl: trace: the other nodes were not asked: ..." and exit 75;
 *	when the control socket or the daemon refused this user, exit 77.
 *	The daemon is not tried again after the first such failure.
 *--*/
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/conf.h"
#include "relay/ctl_ops.h"
#include "relay/relayd.h"
#include "relay/trace.h"
#include "relay/trace_fetch.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/strutil.h"


#define TRACE_MAX_DEPTH	32
#define TRACE_MAX_HOPS	256

/* --- the walk ---------------------------------------------------------------- */

struct hop {
	char	node[128];
	char	name[256];
	struct trace_doc *doc;		/* NULL: not reached */
	int	own_doc;
	const struct trace_letter *l;	/* NULL: not reached / not found */
	char	error[600];
	char	addr[300], called[128];	/* how it was reached ("" locally) */
	char	link[32];		/* "forwarded", "notice", "sent-by", "" */
	const struct trace_ev *smtp;	/* handed to an SMTP server by this forwarded
					 * line (the parent's; borrowed), or NULL */
	struct hop **kids;
	size_t	nkids;
};

struct walk {
	const struct conf *c;
	int	follow, back, json, dot, timeout_ms;
	enum trace_ask daemon;		/* NODAEMON or DENIED once the daemon failed */
	char	daemon_err[TRACE_FETCH_ERRLEN];
	size_t	nhops;
	char	seen[TRACE_MAX_HOPS][400];
	size_t	nseen;
};

static struct hop *hop_new(const char *node, const char *name, const char *link)
{
	struct hop *h = xcalloc(1, sizeof(*h));

	str_copy(h->node, node, sizeof(h->node));
	str_copy(h->name, name, sizeof(h->name));
	str_copy(h->link, link, sizeof(h->link));
	return h;
}

static void hop_free(struct hop *h)
{
	size_t  i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nkids; i++)
		hop_free(h->kids[i]);
	free(h->kids);
	if (h->own_doc)
		trace_doc_free(h->doc);
	free(h);
}

static void hop_add(struct hop *p, struct hop *k)
{
	p->kids = xrealloc(p->kids, (p->nkids + 1) * sizeof(*p->kids));
	p->kids[p->nkids++] = k;
}

/* seen - 1 when node/name was visited already (else remember it) */
static int seen(struct walk *w, const char *node, const char *name)
{
	char    k[400];
	size_t  i;

	snprintf(k, sizeof(k), "%s/%s", node, name);
	for (i = 0; i < w->nseen; i++)
		if (strcmp(w->seen[i], k) == 0)
			return 1;
	if (w->nseen < TRACE_MAX_HOPS)
		str_copy(w->seen[w->nseen++], k, sizeof(w->seen[0]));
	return 0;
}

/* local_doc - this node's document for key */
static struct trace_doc *local_doc(const struct conf *c, const char *key, char *err,
	size_t errlen)
{
	struct buf lines = BUF_INIT(TRACE_DOC_MAX), doc = BUF_INIT(TRACE_DOC_MAX + 64 * 1024);
	struct trace_doc *d = NULL;
	int     n;

	if ((n = trace_collect(c->spool, key, &lines, err, errlen)) < 0)
		goto out;
	if (trace_document(c->name, key, c->routes, (const char *) buf_data(&lines), lines.len,
	    n, &doc) < 0) {
		snprintf(err, errlen, "trace document too large");
		goto out;
	}
	d = trace_doc_parse((const char *) buf_data(&doc), doc.len, err, errlen);
out:
	buf_release(&lines);
	buf_release(&doc);
	return d;
}

/* reach - fill h from node h->node by route r (NULL: local) */
static void reach(struct walk *w, struct hop *h, const struct trace_route *r)
{
	struct buf b = BUF_INIT(TRACE_DOC_MAX + 64 * 1024);
	char    err[TRACE_FETCH_ERRLEN], called[128];
	enum trace_ask st;

	w->nhops++;
	if (r == NULL) {
		h->doc = local_doc(w->c, h->name, h->error, sizeof(h->error));
	} else if (r->addr == NULL) {
		snprintf(h->error, sizeof(h->error), "unreachable: no route to '%s'", h->node);
		return;
	} else {
		trace_service(r->called, called, sizeof(called));
		str_copy(h->addr, r->addr, sizeof(h->addr));
		str_copy(h->called, called, sizeof(h->called));
		if (w->nhops > TRACE_MAX_HOPS)
			snprintf(h->error, sizeof(h->error), "not asked: more than %d hops",
			    TRACE_MAX_HOPS);
		else if (w->daemon != TRACE_ASK_OK)
			snprintf(h->error, sizeof(h->error), "not asked: %s", w->daemon_err);
		else if ((st = trace_fetch_ask(w->c, r->addr, called, h->name, w->timeout_ms, &b,
		    err, sizeof(err))) == TRACE_ASK_NODAEMON || st == TRACE_ASK_DENIED) {
			/* the daemon is the only way out: do not try it for every hop */
			w->daemon = st;
			str_copy(w->daemon_err, err, sizeof(w->daemon_err));
			snprintf(h->error, sizeof(h->error), "not asked: %s", err);
		} else if (st != TRACE_ASK_OK)
			snprintf(h->error, sizeof(h->error), "unreachable: %s", err);
		else if ((h->doc = trace_doc_parse((const char *) buf_data(&b), b.len, err,
		    sizeof(err))) == NULL)
			snprintf(h->error, sizeof(h->error), "bad answer: %s", err);
	}
	buf_release(&b);
	if (h->doc == NULL)
		return;
	h->own_doc = 1;
	str_copy(h->node, h->doc->node, sizeof(h->node));
	if ((h->l = trace_find(h->doc, h->name)) == NULL)
		h->l = trace_root(h->doc);
	if (h->l == NULL)
		snprintf(h->error, sizeof(h->error), "no record of '%s' at %s", h->name, h->node);
	else
		str_copy(h->name, h->l->name, sizeof(h->name));
}

/* smtp_ev - 1 when forwarded line ev handed the letter to an SMTP server:
 * proto=smtp, or (lines older than proto=) a reply=, which only the smtp
 * channel writes */
static int smtp_ev(const struct trace_ev *ev)
{
	const char *p = trace_ev_get(ev, "proto");

	if (p != NULL)
		return strcmp(p, "smtp") == 0;
	return trace_ev_get(ev, "reply") != NULL;
}

/* smtp_hop - the last hop of a branch that left by SMTP: the hop name,
 * the server's id for the letter; nothing to ask */
static struct hop *smtp_hop(const struct trace_ev *ev, const char *to)
{
	const char *v = trace_ev_get(ev, "remote");
	struct hop *k = hop_new(to, v != NULL && v[0] != '\0' ? v : "-", "forwarded");

	k->smtp = ev;
	if ((v = trace_ev_get(ev, "addr")) != NULL && strcmp(v, "-") != 0)
		str_copy(k->addr, v, sizeof(k->addr));
	return k;
}

/* forward - the children of h: notices here, and (with follow) next hops */
static void forward(struct walk *w, struct hop *h, int depth)
{
	size_t  i;
	const char *v, *to;

	if (h->l == NULL || depth >= TRACE_MAX_DEPTH || seen(w, h->node, h->name))
		return;
	for (i = 0; i < h->l->nev; i++) {
		const struct trace_ev *ev = &h->l->ev[i];
		struct hop *k;

		if (strcmp(ev->event, "forwarded") == 0 && w->follow && smtp_ev(ev)) {
			/* the trail ends: an SMTP server has no trace service,
			 * and asking it over NIFTP would only wait for the timeout */
			if ((to = trace_ev_get(ev, "to")) != NULL)
				hop_add(h, smtp_hop(ev, to));
		} else if (strcmp(ev->event, "forwarded") == 0 && w->follow
		    && (v = trace_ev_get(ev, "remote")) != NULL && strcmp(v, "-") != 0
		    && (to = trace_ev_get(ev, "to")) != NULL) {
			const struct trace_route *r = trace_route_of(h->doc, 'h', to);
			struct trace_route none = { 'h', NULL, NULL, NULL };

			k = hop_new(to, v, "forwarded");
			if ((r == NULL || r->addr == NULL) && trace_ev_get(ev, "pulled") != NULL)
				snprintf(k->error, sizeof(k->error), "not asked: %s collects its letters "
				    "(pull), and its route at %s gives no address to ask it at", to,
				    h->node);
			else
				reach(w, k, r ? r : &none);
			hop_add(h, k);
			forward(w, k, depth + 1);
		} else if ((strcmp(ev->event, "ndn") == 0 || strcmp(ev->event, "warned") == 0
		    || strcmp(ev->event, "ack") == 0) && (v = trace_ev_get(ev, "notice")) != NULL) {
			k = hop_new(h->node, v, "notice");
			k->doc = h->doc;
			str_copy(k->addr, h->addr, sizeof(k->addr));
			str_copy(k->called, h->called, sizeof(k->called));
			if ((k->l = trace_find(h->doc, v)) == NULL)
				snprintf(k->error, sizeof(k->error), "no record of notice '%s'", v);
			hop_add(h, k);
			forward(w, k, depth + 1);
		}
	}
}

/* backward - the chain from h to its origin; returns the origin's hop,
 * with each hop's sender as its only kid (reversed when printed) */
static void backward(struct walk *w, struct hop *h, int depth)
{
	const char *v, *slash;
	char    node[128];
	struct hop *p;

	if (h->l == NULL || h->l->recv == NULL || depth >= TRACE_MAX_DEPTH
	    || seen(w, h->node, h->name))
		return;
	if ((v = trace_ev_get(h->l->recv, "from")) != NULL && strncmp(v, "notice:", 7) == 0) {
		/* a notice made here about another letter of this node */
		struct trace_route same = { 'n', NULL, NULL, NULL };

		p = hop_new(h->node, v + 7, "notice-of");
		same.addr = h->addr[0] ? h->addr : NULL;
		same.called = h->called[0] ? h->called : NULL;
		if (h->addr[0]) {
			char    mc[160];

			snprintf(mc, sizeof(mc), "%s.MAIL", h->called);
			same.called = mc;
			reach(w, p, &same);
		} else
			reach(w, p, NULL);
		hop_add(h, p);
		backward(w, p, depth + 1);
		return;
	}
	if ((v = trace_ev_get(h->l->recv, "donor")) == NULL || (slash = strchr(v, '/')) == NULL
	    || (size_t) (slash - v) >= sizeof(node))
		return;
	memcpy(node, v, (size_t) (slash - v));
	node[slash - v] = '\0';
	p = hop_new(node, slash + 1, "sent-by");
	if (!trace_donor_ok(v, trace_ev_get(h->l->recv, "peer"),
	    trace_ev_get(h->l->recv, "auth"))) {
		/* the caller claimed a copy of NODE's letter without being NODE */
		snprintf(p->error, sizeof(p->error), "not followed: the caller (peer=%s auth=%s) "
		    "is not %s, whose letter it claimed to send", trace_ev_get(h->l->recv, "peer"),
		    trace_ev_get(h->l->recv, "auth") ? trace_ev_get(h->l->recv, "auth") : "?",
		    node);
		hop_add(h, p);
		return;
	}
	{
		const struct trace_route *r = trace_route_of(h->doc, 'n', node);
		struct trace_route none = { 'n', NULL, NULL, NULL };

		if (str_ieq(node, w->c->name))
			reach(w, p, NULL);
		else
			reach(w, p, r ? r : &none);
	}
	hop_add(h, p);
	backward(w, p, depth + 1);
}

/* --- output ------------------------------------------------------------------ */

static time_t iso_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		return (time_t) -1;
	return timegm(&tm);
}

struct sum {
	unsigned hops, delivered, failed, queued, unreachable, notices, smtp;
	char	first[24], last[24];
};

static void sum_hop(const struct hop *h, struct sum *s)
{
	size_t  i;

	s->hops++;
	if (h->smtp != NULL) {
		s->smtp++;
		return;
	}
	if (h->l == NULL) {
		s->unreachable++;
		return;
	}
	if (strcmp(h->link, "notice") == 0)
		s->notices++;
	if (strcmp(h->l->status, "queued") == 0 || strcmp(h->l->status, "held") == 0
	    || strcmp(h->l->status, "received") == 0)
		s->queued++;
	for (i = 0; i < h->l->nev; i++) {
		const char *t = h->l->ev[i].time;

		if (strcmp(h->l->ev[i].event, "delivered") == 0)
			s->delivered++;
		else if (strcmp(h->l->ev[i].event, "failed") == 0)
			s->failed++;
		if (!s->first[0] || strcmp(t, s->first) < 0)
			str_copy(s->first, t, sizeof(s->first));
		if (strcmp(t, s->last) > 0)
			str_copy(s->last, t, sizeof(s->last));
	}
}

static void sum_tree(const struct hop *h, struct sum *s)
{
	size_t  i;

	sum_hop(h, s);
	for (i = 0; i < h->nkids; i++)
		sum_tree(h->kids[i], s);
}

/* ev_text - an event in words */
static void ev_text(const struct trace_ev *ev, struct buf *b)
{
#define G(k) (trace_ev_get(ev, k) ? trace_ev_get(ev, k) : "?")
#define H(k) (trace_ev_get(ev, k) != NULL)
	const char *e = ev->event;
	size_t  i;

	if (strcmp(e, "received") == 0) {
		buf_printf(b, "received from %s", G("from"));
		if (H("donor"))
			buf_printf(b, " (its name there %s, transfer %s)", G("donor"), G("tid"));
		if (H("size"))
			buf_printf(b, ", %s octets", G("size"));
		if (H("rcpts"))
			buf_printf(b, ", for %s", G("rcpts"));
		if (H("msgid"))
			buf_printf(b, ", Message-ID %s", G("msgid"));
		if (H("orig"))
			buf_printf(b, ", resubmitted from %s", G("orig"));
	} else if (strcmp(e, "routed") == 0)
		buf_printf(b, "routed %s to %s", G("rcpts"), G("hops"));
	else if (strcmp(e, "forwarded") == 0 && H("pulled"))
		buf_printf(b, "collected by %s (pull) as %s for %s", G("to"), G("remote"), G("rcpts"));
	else if (strcmp(e, "forwarded") == 0) {
		buf_printf(b, "forwarded to %s (%s) as %s for %s%s", G("to"), G("addr"), G("remote"),
		    G("rcpts"), H("recovered") ? " (recovered at start-up)" : "");
		if (smtp_ev(ev) && H("reply"))
			buf_printf(b, "; the SMTP server said \"%s\"", G("reply"));
		else if (smtp_ev(ev))
			buf_printf(b, "; by SMTP");
	} else if (strcmp(e, "delivered") == 0)
		buf_printf(b, "delivered %s to %s", G("rcpt"), G("mailbox"));
	else if (strcmp(e, "deferred") == 0)
		buf_printf(b, "deferred (to %s): %s; next try %s (attempt %s)", G("to"), G("reason"),
		    G("next"), G("attempts"));
	else if (strcmp(e, "failed") == 0) {
		/* to=-: while routing, or a bounce of several next hops */
		buf_printf(b, "FAILED %s", G("rcpt"));
		if (H("to") && strcmp(G("to"), "-") != 0)
			buf_printf(b, " (to %s)", G("to"));
		buf_printf(b, ": %s", G("reason"));
		if (H("by"))
			buf_printf(b, " (bounced by %s)", G("by"));
	}
	else if (strcmp(e, "ndn") == 0)
		buf_printf(b, "non-delivery notice %s sent to %s", G("notice"), G("to"));
	else if (strcmp(e, "warned") == 0)
		buf_printf(b, "still-trying notice %s sent (to %s)", G("notice"), G("to"));
	else if (strcmp(e, "ack") == 0)
		buf_printf(b, "delivery acknowledgement %s sent to %s", G("notice"), G("to"));
	else if (strcmp(e, "dead") == 0)
		buf_printf(b, "moved to dead/: %s", G("reason"));
	else if (strcmp(e, "corrupt") == 0)
		buf_printf(b, "not a letter (from %s), moved aside to corrupt/: %s", G("from"),
		    G("reason"));
	else if (strcmp(e, "refused") == 0)
		buf_printf(b, "refused from %s: %s", G("from"), G("reason"));
	else {
		buf_printf(b, "%s", e);
		for (i = 0; i < ev->nkv; i++)
			buf_printf(b, " %s=%s", ev->kv[2 * i], ev->kv[2 * i + 1]);
	}
#undef G
#undef H
}

/* put_line - one line of text output, indented: control octets as \xNN
 * (values come from journals, peers' documents and SMTP servers, and
 * must not drive the terminal or forge lines) */
static void put_line(FILE *fp, int ind, const struct buf *b)
{
	const unsigned char *p = b->len > 0 ? buf_data(b) : NULL;
	size_t  i;

	fprintf(fp, "%*s", ind, "");
	for (i = 0; i < b->len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(fp, "\\x%02x", p[i]);
		else
			fputc(p[i], fp);
	}
	fputc('\n', fp);
}

static void text_hop(const struct hop *h, int depth, const char *t0, FILE *fp)
{
	struct buf b = BUF_INIT(64 * 1024);
	size_t  i;
	int     ind = depth * 4;
	const char *arrow = depth == 0 ? "" : strcmp(h->link, "notice") == 0 ? "=> notice "
	    : strcmp(h->link, "notice-of") == 0 ? "<= notice about " : "-> ";

	buf_printf(&b, "%s%s %s", arrow, h->node, h->name);
	if (h->smtp != NULL)
		buf_printf(&b, "  [smtp %s]", h->addr[0] ? h->addr : "-");
	else if (h->addr[0])
		buf_printf(&b, "  [via %s %s]", h->addr, h->called);
	if (h->l != NULL && h->l->recv != NULL && t0 != NULL) {
		time_t  a = iso_time(t0), z = iso_time(h->l->recv->time);

		if (a != (time_t) -1 && z != (time_t) -1 && depth > 0)
			buf_printf(&b, "  (+%lds)", (long) (z - a));
	}
	put_line(fp, ind, &b);
	if (h->smtp != NULL) {
		const char *reply = trace_ev_get(h->smtp, "reply");

		buf_reset(&b);
		buf_printf(&b, "  handed to Internet mail: the SMTP server took it");
		if (reply != NULL)
			buf_printf(&b, " (\"%s\")", reply);
		buf_printf(&b, "; the trail ends here (SMTP has no trace service)");
		put_line(fp, ind, &b);
	} else if (h->l == NULL) {
		buf_reset(&b);
		buf_printf(&b, "  %s", h->error[0] ? h->error : "not reached");
		put_line(fp, ind, &b);
	} else {
		for (i = 0; i < h->l->nev; i++) {
			buf_reset(&b);
			buf_printf(&b, "  %s  ", h->l->ev[i].time);
			ev_text(&h->l->ev[i], &b);
			put_line(fp, ind, &b);
		}
		buf_reset(&b);
		buf_printf(&b, "  status: %s%s%s", h->l->status, h->l->detail[0] ? ": " : "",
		    h->l->detail);
		put_line(fp, ind, &b);
	}
	buf_release(&b);
}

static void text_tree(const struct hop *h, int depth, const char *t0, FILE *fp)
{
	size_t  i;

	text_hop(h, depth, t0, fp);
	for (i = 0; i < h->nkids; i++)
		text_tree(h->kids[i], depth + 1, t0, fp);
}

static void json_hop(const struct hop *h, struct buf *b, int kids)
{
	size_t  i, j;

	buf_printf(b, "{\"node\":");
	trace_json_str(b, h->node);
	buf_printf(b, ",\"name\":");
	trace_json_str(b, h->name);
	buf_printf(b, ",\"link\":");
	trace_json_str(b, h->link[0] ? h->link : NULL);
	buf_printf(b, ",\"via\":");
	if (h->addr[0]) {
		buf_printf(b, "{\"addr\":");
		trace_json_str(b, h->addr);
		buf_printf(b, ",\"called\":");
		trace_json_str(b, h->smtp != NULL ? NULL : h->called);
		buf_printf(b, ",\"proto\":\"%s\"}", h->smtp != NULL ? "smtp" : "niftp");
	} else if (h->smtp != NULL)
		buf_printf(b, "{\"addr\":null,\"called\":null,\"proto\":\"smtp\"}");
	else
		buf_printf(b, "null");
	buf_printf(b, ",\"reachable\":%s,\"error\":", h->l ? "true" : "false");
	if (h->smtp != NULL) {
		/* not an error: the end of the trail */
		buf_printf(b, "null,\"status\":\"smtp\",\"detail\":");
		trace_json_str(b, trace_ev_get(h->smtp, "reply"));
	} else {
		trace_json_str(b, h->l ? NULL : h->error[0] ? h->error : "not reached");
		buf_printf(b, ",\"status\":");
		trace_json_str(b, h->l ? h->l->status : "unreachable");
		buf_printf(b, ",\"detail\":");
		trace_json_str(b, h->l && h->l->detail[0] ? h->l->detail : NULL);
	}
	buf_printf(b, ",\"received\":");
	trace_json_str(b, h->l && h->l->recv ? h->l->recv->time : NULL);
	buf_printf(b, ",\"events\":[");
	for (i = 0; h->l != NULL && i < h->l->nev; i++) {
		const struct trace_ev *ev = &h->l->ev[i];

		buf_printf(b, "%s{\"time\":", i ? "," : "");
		trace_json_str(b, ev->time);
		buf_printf(b, ",\"event\":");
		trace_json_str(b, ev->event);
		buf_printf(b, ",\"fields\":{");
		for (j = 0; j < ev->nkv; j++) {
			buf_printf(b, "%s", j ? "," : "");
			trace_json_str(b, ev->kv[2 * j]);
			buf_putc(b, ':');
			trace_json_str(b, ev->kv[2 * j + 1]);
		}
		buf_printf(b, "}}");
	}
	buf_printf(b, "]");
	if (kids) {
		buf_printf(b, ",\"next\":[");
		for (i = 0; i < h->nkids; i++) {
			buf_printf(b, "%s", i ? "," : "");
			json_hop(h->kids[i], b, 1);
		}
		buf_printf(b, "]");
	}
	buf_printf(b, "}");
}

/* --- Graphviz -------------------------------------------------------------------- */

#define DOT_LABEL_MAX	120	/* octets of a label's line taken from outside */

/* dot_text - s (at most max octets of it) inside a DOT quoted string: '"'
 * and '\\' escaped, octets outside printable ASCII as the text \xNN (a
 * journal's text is not UTF-8 for sure, and a DOT escape such as \N
 * must not be formed) */
static void dot_text(struct buf *b, const char *s, size_t max)
{
	size_t  i;

	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(b, "\\\\x%02x", c);
		else
			buf_putc(b, c);
	}
	if (s[i] != '\0')
		buf_printf(b, "...");
}

/* dot_hop - the node statement of h (id n), then its kids' */
static int dot_hop(const struct hop *h, int n, struct buf *b)
{
	const char *st = h->smtp != NULL ? "handed to Internet mail (SMTP)" : h->l != NULL
	    ? h->l->status : "unreachable";
	const char *color = h->smtp != NULL ? "blue" : h->l == NULL ? "gray"
	    : strstr(h->l->status, "failed") != NULL ? "red"
	    : strcmp(h->l->status, "delivered") == 0 ? "darkgreen"
	    : strstr(h->l->status, "forwarded") != NULL ? "black" : "orange";
	const char *why = h->smtp != NULL ? trace_ev_get(h->smtp, "reply") : h->l == NULL
	    ? (h->error[0] ? h->error : "not reached") : h->l->detail;
	int     id = n++;
	size_t  i;

	buf_printf(b, "  n%d [label=\"", id);
	dot_text(b, h->node, DOT_LABEL_MAX);
	buf_printf(b, "\\n");
	dot_text(b, h->name, DOT_LABEL_MAX);
	buf_printf(b, "\\n");
	dot_text(b, st, DOT_LABEL_MAX);
	if (why != NULL && why[0] != '\0') {
		buf_printf(b, "\\n");
		dot_text(b, why, DOT_LABEL_MAX);
	}
	buf_printf(b, "\", color=%s%s];\n", color, h->l == NULL && h->smtp == NULL
	    ? ", style=dashed" : h->smtp != NULL ? ", shape=ellipse" : "");
	for (i = 0; i < h->nkids; i++) {
		const struct hop *k = h->kids[i];

		buf_printf(b, "  n%d -> n%d [label=\"", id, n);
		dot_text(b, k->smtp != NULL ? "forwarded (SMTP)" : k->link[0] ? k->link
		    : "forwarded", DOT_LABEL_MAX);
		buf_printf(b, "\"%s];\n", strcmp(k->link, "notice") == 0 ? ", style=dashed" : "");
		n = dot_hop(k, n, b);
	}
	return n;
}

/* dot_graph - the digraph: the tree from root, or (back) the chain
 * chain[0..n) from the origin (chain[n - 1]) to here */
static void dot_graph(const char *key, const char *node, const struct hop *root,
	struct hop **chain, size_t n, struct buf *b)
{
	size_t  i;

	buf_printf(b, "digraph \"trace\" {\n  label=\"trace of ");
	dot_text(b, key, DOT_LABEL_MAX);
	buf_printf(b, " at ");
	dot_text(b, node, DOT_LABEL_MAX);
	buf_printf(b, "\";\n  labelloc=t;\n  rankdir=LR;\n  node [shape=box];\n");
	if (chain == NULL)
		(void) dot_hop(root, 0, b);
	else
		for (i = n; i-- > 0;) {
			struct hop one = *chain[i];

			/* each hop alone, linked to the next one forward */
			one.nkids = 0;
			(void) dot_hop(&one, (int) (n - 1 - i), b);
			if (i > 0)
				buf_printf(b, "  n%d -> n%d [label=\"forwarded\"];\n",
				    (int) (n - 1 - i), (int) (n - i));
		}
	buf_printf(b, "}\n");
}

static const char trace_help[] =
"Usage: mailctl [-c NODE.ini] trace [--follow] [--back] [--json|--dot] [--timeout SECONDS] KEY\n"
"The life of a letter at this node, from the journal. KEY is the letter's name\n"
"at this node (or at the node before), its Message-ID (msgid:ID), or the name\n"
"of the file dropped into out/ (out:FILE).\n"
"  -f, --follow       go on at every next hop (trace:NAME, fetched by the daemon)\n"
"  -b, --back         go back hop by hop to where the letter came from\n"
"  --json             a JSON document (doc/trace.md) instead of text\n"
"  --dot              a Graphviz digraph of the hops instead (dot -Tsvg)\n"
"  --timeout SECONDS  per remote hop (default 10): no answer = unreachable\n"
"Exit status: 0 found, 1 no record of KEY here (or the journal cannot be read),\n"
"64 usage, 75 the daemon (which asks the other nodes) not running, 77 permission\n"
"denied (the spool or its journal cannot be read, or the daemon refused).\n";

/* trace_main - mailctl trace */
int trace_main(const struct conf *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "back", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "dot", no_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct walk w;
	struct hop *root, *h, *chain[TRACE_MAX_DEPTH + 2];
	struct sum s;
	size_t  nchain = 0, i;
	uint64_t secs;
	int     o, rc = RX_OK;
	time_t  a, z;

	memset(&w, 0, sizeof(w));
	w.c = c;
	w.timeout_ms = 10000;
	optind = 0;
	while ((o = getopt_long(argc, argv, "fbh", lo, NULL)) != -1) {
		switch (o) {
		case 'f':
			w.follow = 1;
			break;
		case 'b':
			w.back = 1;
			break;
		case 'j':
			w.json = 1;
			break;
		case 'd':
			w.dot = 1;
			break;
		case 't':
			if (str_to_u64(optarg, 1, 600, &secs) < 0)
				return ctl_usage("trace", trace_help, "--timeout wants "
				    "seconds (1 to 600), not '%s'", optarg);
			w.timeout_ms = (int) secs * 1000;
			break;
		case 'h':
			fputs(trace_help, stdout);
			return RX_OK;
		default:
			/* getopt said what */
			return ctl_usage("trace", trace_help, NULL);
		}
	}
	if (optind == argc)
		return ctl_usage("trace", trace_help, "no KEY: the letter's name, msgid:ID or "
		    "out:FILE");
	if (optind < argc - 1)
		return ctl_usage("trace", trace_help, "one KEY at a time ('%s' is one too many)",
		    argv[optind + 1]);
	if (w.json && w.dot)
		return ctl_usage("trace", trace_help, "--json or --dot, not both");
	if (c == NULL)
		return CTL_ARGS_OK;
	{
		char    err[TRACE_ERRLEN];

		if ((rc = ctl_spool_readable(c->spool, "trace", err, sizeof(err))) != 0) {
			fprintf(stderr, "mailctl: trace: %s\n", err);
			return rc;
		}
	}
	root = hop_new(c->name, argv[optind], "");
	reach(&w, root, NULL);
	w.nhops = 0;
	if (root->l == NULL) {
		if (root->doc == NULL)
			fprintf(stderr, "mailctl: trace: %s\n", root->error);
		else
			fprintf(stderr, "mailctl: trace: no record of '%s' at %s\n", argv[optind],
			    c->name);
		rc = RX_OTHER;
		goto out;
	}
	if (w.back) {
		backward(&w, root, 0);
		for (h = root; h != NULL && nchain < TRACE_MAX_DEPTH + 2;
		    h = h->nkids ? h->kids[0] : NULL)
			chain[nchain++] = h;
	} else
		forward(&w, root, 0);
	memset(&s, 0, sizeof(s));
	if (w.back)
		for (i = 0; i < nchain; i++)
			sum_hop(chain[i], &s);
	else
		sum_tree(root, &s);
	a = iso_time(s.first);
	z = iso_time(s.last);
	if (w.dot) {
		struct buf b = BUF_INIT(64 * 1024 * 1024);

		dot_graph(argv[optind], c->name, root, w.back ? chain : NULL, nchain, &b);
		fwrite(buf_data(&b), 1, b.len, stdout);
		buf_release(&b);
	} else if (w.json) {
		struct buf b = BUF_INIT(64 * 1024 * 1024);

		buf_printf(&b, "{\"trace_version\":1,\"query\":");
		trace_json_str(&b, argv[optind]);
		buf_printf(&b, ",\"node\":");
		trace_json_str(&b, c->name);
		buf_printf(&b, ",\"direction\":\"%s\",\"follow\":%s,\"first\":",
		    w.back ? "backward" : "forward", w.follow ? "true" : "false");
		trace_json_str(&b, s.first[0] ? s.first : NULL);
		buf_printf(&b, ",\"last\":");
		trace_json_str(&b, s.last[0] ? s.last : NULL);
		buf_printf(&b, ",\"elapsed_seconds\":%ld", a != (time_t) -1 && z != (time_t) -1
		    ? (long) (z - a) : 0L);
		buf_printf(&b, ",\"summary\":{\"hops\":%u,\"delivered\":%u,\"failed\":%u,"
		    "\"queued\":%u,\"unreachable\":%u,\"notices\":%u,\"smtp\":%u}", s.hops,
		    s.delivered, s.failed, s.queued, s.unreachable, s.notices, s.smtp);
		if (w.back) {
			buf_printf(&b, ",\"chain\":[");
			for (i = nchain; i-- > 0;) {
				json_hop(chain[i], &b, 0);
				buf_printf(&b, "%s", i ? "," : "");
			}
			buf_printf(&b, "]");
		} else {
			buf_printf(&b, ",\"tree\":");
			json_hop(root, &b, 1);
		}
		buf_printf(&b, "}\n");
		fwrite(buf_data(&b), 1, b.len, stdout);
		buf_release(&b);
	} else if (w.back) {
		printf("trace of %s at %s, backward to the origin (origin first):\n", argv[optind],
		    c->name);
		for (i = nchain; i-- > 0;) {
			struct hop *x = chain[i];
			int     d = (int) (nchain - 1 - i);

			/* printed origin first: the link reads forward */
			str_copy(x->link, d == 0 ? "" : "forwarded", sizeof(x->link));
			text_hop(x, d, s.first[0] ? s.first : NULL, stdout);
		}
	} else {
		printf("trace of %s at %s%s:\n", argv[optind], c->name,
		    w.follow ? ", following every next hop" : "");
		text_tree(root, 0, s.first[0] ? s.first : NULL, stdout);
	}
	if (!w.json && !w.dot) {
		printf("%u hop%s: %u delivered, %u failed, %u queued, %u unreachable", s.hops,
		    s.hops == 1 ? "" : "s", s.delivered, s.failed, s.queued, s.unreachable);
		if (s.smtp > 0)
			printf(", %u handed to Internet mail", s.smtp);
		printf("; elapsed %lds (%s to %s)\n", a != (time_t) -1 && z != (time_t) -1
		    ? (long) (z - a) : 0L, s.first, s.last);
	}
out:
	if (rc == RX_OK && w.daemon != TRACE_ASK_OK) {
		fprintf(stderr, "mailctl: trace: the other nodes were not asked: %s (remote "
		    "traces are fetched by the local daemon)\n", w.daemon_err);
		rc = w.daemon == TRACE_ASK_DENIED ? RX_NOPERM : RX_TEMPFAIL;
	}
	hop_free(root);
	return rc;
}
