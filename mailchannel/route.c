/*++
 * NAME
 *	route 3
 * SUMMARY
 *	the routing decision for one recipient (DESIGN section 4)
 * SYNOPSIS
 *	#include "mailchannel/route.h"
 * DESCRIPTION
 *	See route.h for the contract and doc/routing.md for the rules.
 *
 *	Implementation notes. The table is small arrays searched
 *	linearly: a node has tens of routes and names, and the lookup
 *	cost is nothing beside a file transfer. Resolution is a
 *	recursive walk bounded three ways: nesting depth
 *	(ROUTE_MAX_DEPTH), targets (ROUTE_MAX_TARGETS) and total work
 *	(ROUTE_MAX_WORK visits), so a table of lists of lists cannot make
 *	one recipient cost more than a bounded amount of time and memory.
 * DIAGNOSTICS
 *	Builder errors name the object: "alias 'x': ...", "route 'x': ...".
 *--*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailchannel/mc_util.h"
#include "mailchannel/route.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define ROUTE_MAX_WORK	(4 * ROUTE_MAX_TARGETS)	/* resolve() visits per result */

enum pat_kind { PAT_EXACT, PAT_SUFFIX, PAT_ANY };

struct rt_hop {
	struct route_hop pub;		/* pub.alts points at alts */
	struct route_alt alts[ROUTE_MAX_ALTS];
};

struct rt_route {
	char	*pattern;		/* lower case as written: "pss", "*.ac.uk", "*" */
	enum pat_kind kind;
	const char *suffix;		/* PAT_SUFFIX: into pattern, from the '.' */
	struct rt_hop *hop;
};

struct rt_alias {
	char	*name;			/* lower case */
	int	is_list;
	struct addr_list *targets;
	char	*owner;			/* lists: canonical text, or NULL */
};

struct route_table {
	char	*node;
	int	reversed;
	unsigned max_hops;
	char	**names;		/* [0] is node */
	size_t	nnames;
	struct rt_route *routes;
	size_t	nroutes;
	struct rt_hop **hops;
	size_t	nhops;
	struct rt_alias *aliases;
	size_t	naliases;
	char	**users;
	size_t	nusers;
};

struct rt_target {
	struct route_target pub;
	struct addr *addr;
	char	*text;
	char	*mailbox;
	char	*reason;
	char	*owner;
	char	*list;
};

struct route_result {
	char	*rcpt;
	struct rt_target *t;
	size_t	n, cap;
	char	**steps;
	size_t	nsteps, stepcap;
	int	steps_cut;
	int	targets_cut;
	unsigned long work;
};

/* Resolution context: one chain entry per alias or list being expanded. */
struct rctx {
	const struct route_table *t;
	struct route_result *r;
	unsigned hops;
	const char *chain[ROUTE_MAX_DEPTH + 1];
	size_t	nchain;
	int	in_alias;		/* some alias or list is on the chain */
};

/*
 * Small helpers.
 */

static char *lower_dup(const char *s)
{
	return addr_lower(xstrdup(s));
}

static void strv_push(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* show - a safe rendering of untrusted text for a message */
static const char *show(char *dst, size_t len, const char *s)
{
	return mc_show(dst, len, s, strlen(s));
}

/*
 * Building.
 */

struct route_table *route_table_new(const char *node, char *err, size_t errlen)
{
	struct route_table *t;
	char why[ADDR_ERRLEN];

	if (node == NULL || addr_host_check(node, strlen(node), why, sizeof(why)) < 0) {
		mc_err(err, errlen, "node name: %s", node ? why : "missing");
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->node = lower_dup(node);
	t->max_hops = ROUTE_DEFAULT_HOPS;
	strv_push(&t->names, &t->nnames, lower_dup(node));
	return t;
}

void route_table_free(struct route_table *t)
{
	if (t == NULL)
		return;
	free(t->node);
	strv_free(t->names, t->nnames);
	for (size_t i = 0; i < t->nroutes; i++)
		free(t->routes[i].pattern);
	free(t->routes);
	for (size_t i = 0; i < t->nhops; i++) {
		struct rt_hop *h = t->hops[i];

		for (size_t j = 0; j < h->pub.nalts; j++) {
			free((char *) h->alts[j].addr);
			free((char *) h->alts[j].shown);
			free((char *) h->alts[j].called);
		}
		free((char *) h->pub.name);
		free(h);
	}
	free(t->hops);
	for (size_t i = 0; i < t->naliases; i++) {
		free(t->aliases[i].name);
		addr_list_free(t->aliases[i].targets);
		free(t->aliases[i].owner);
	}
	free(t->aliases);
	strv_free(t->users, t->nusers);
	free(t);
}

void route_table_set_reversed(struct route_table *t, int on)
{
	t->reversed = on != 0;
}

void route_table_set_max_hops(struct route_table *t, unsigned max_hops)
{
	t->max_hops = max_hops ? max_hops : 1;
}

int route_table_add_name(struct route_table *t, const char *name, char *err, size_t errlen)
{
	char why[ADDR_ERRLEN];

	if (addr_host_check(name, strlen(name), why, sizeof(why)) < 0) {
		mc_err(err, errlen, "local name: %s", why);
		return -1;
	}
	for (size_t i = 0; i < t->nnames; i++)
		if (addr_host_eq(t->names[i], name))
			return 0;
	strv_push(&t->names, &t->nnames, lower_dup(name));
	return 0;
}

/* pattern_parse - kind of a route pattern; -1 with err when bad */
static int pattern_parse(const char *p, enum pat_kind *kind, char *err, size_t errlen)
{
	char why[ADDR_ERRLEN], sh[MC_SHOWLEN];

	if (strcmp(p, "*") == 0) {
		*kind = PAT_ANY;
		return 0;
	}
	if (p[0] == '*') {
		if (p[1] != '.' || addr_host_check(p + 2, strlen(p + 2), why, sizeof(why)) < 0) {
			mc_err(err, errlen, "route '%s': a wildcard must be '*' or '*.suffix'"
			    " with a valid host name suffix", show(sh, sizeof(sh), p));
			return -1;
		}
		*kind = PAT_SUFFIX;
		return 0;
	}
	if (addr_host_check(p, strlen(p), why, sizeof(why)) < 0) {
		mc_err(err, errlen, "route: %s", why);
		return -1;
	}
	*kind = PAT_EXACT;
	return 0;
}

static int alts_equal(const struct rt_hop *h, const struct route_alt *alts, size_t n)
{
	if (h->pub.nalts != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct route_alt *a = &h->alts[i], *b = &alts[i];
		const char *bc = b->called ? b->called : ROUTE_CALLED_DEFAULT;

		if (a->channel != b->channel)
			return 0;
		if (a->channel == ROUTE_CH_PULL)
			return 0;	/* each names its own peer: never shared */
		if (a->channel == ROUTE_CH_LOCAL)
			continue;
		if (strcmp(a->addr, b->addr) != 0 || !str_ieq(a->called, bc))
			return 0;
	}
	return 1;
}

int route_table_add_route(struct route_table *t, const char *pattern,
	const struct route_alt *alts, size_t n, char *err, size_t errlen)
{
	enum pat_kind kind;
	struct rt_route *r;
	struct rt_hop *hop = NULL;
	char sh[MC_SHOWLEN];

	if (pattern_parse(pattern, &kind, err, errlen) < 0)
		return -1;
	show(sh, sizeof(sh), pattern);
	for (size_t i = 0; i < t->nroutes; i++)
		if (str_ieq(t->routes[i].pattern, pattern)) {
			mc_err(err, errlen, "route '%s': duplicate pattern", sh);
			return -1;
		}
	if (n == 0 || n > ROUTE_MAX_ALTS) {
		mc_err(err, errlen, "route '%s': %s", sh, n == 0 ? "no alternates"
		    : "more than 16 alternates");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((alts[i].channel == ROUTE_CH_LOCAL || alts[i].channel == ROUTE_CH_PULL)
		    && n > 1) {
			mc_err(err, errlen, "route '%s': the %s channel cannot have"
			    " alternates", sh, alts[i].channel == ROUTE_CH_LOCAL ? "local" : "pull");
			return -1;
		}
		if (alts[i].channel == ROUTE_CH_PULL && kind != PAT_EXACT) {
			mc_err(err, errlen, "route '%s': a pull route names one peer (no"
			    " wildcard)", sh);
			return -1;
		}
		if (alts[i].channel != ROUTE_CH_NIFTP && alts[i].channel != ROUTE_CH_LOCAL
		    && alts[i].channel != ROUTE_CH_SMTP && alts[i].channel != ROUTE_CH_PULL) {
			mc_err(err, errlen, "route '%s': unknown channel", sh);
			return -1;
		}
		if (alts[i].channel != ROUTE_CH_LOCAL && alts[i].channel != ROUTE_CH_PULL &&
		    (alts[i].addr == NULL || alts[i].addr[0] == '\0')) {
			mc_err(err, errlen, "route '%s': %s alternate %zu has no address",
			    sh, alts[i].channel == ROUTE_CH_SMTP ? "smtp" : "niftp", i + 1);
			return -1;
		}
		if (alts[i].channel != alts[0].channel) {
			mc_err(err, errlen, "route '%s': alternates of different channels", sh);
			return -1;
		}
	}
	for (size_t i = 0; i < t->nhops && hop == NULL; i++)
		if (alts_equal(t->hops[i], alts, n))
			hop = t->hops[i];
	if (hop == NULL) {
		hop = xcalloc(1, sizeof(*hop));
		hop->pub.name = lower_dup(pattern);
		hop->pub.nalts = n;
		hop->pub.alts = hop->alts;
		hop->pub.index = (unsigned) t->nhops;
		for (size_t i = 0; i < n; i++) {
			hop->alts[i].channel = alts[i].channel;
			if (alts[i].channel == ROUTE_CH_LOCAL
			    || (alts[i].channel == ROUTE_CH_PULL && alts[i].addr == NULL))
				continue;
			hop->alts[i].addr = xstrdup(alts[i].addr);
			hop->alts[i].shown = xstrdup(alts[i].shown ? alts[i].shown : alts[i].addr);
			hop->alts[i].called = xstrdup(alts[i].called ? alts[i].called
			    : ROUTE_CALLED_DEFAULT);
		}
		t->hops = xrealloc(t->hops, (t->nhops + 1) * sizeof(*t->hops));
		t->hops[t->nhops++] = hop;
	}
	t->routes = xrealloc(t->routes, (t->nroutes + 1) * sizeof(*t->routes));
	r = &t->routes[t->nroutes++];
	r->pattern = lower_dup(pattern);
	r->kind = kind;
	r->suffix = kind == PAT_SUFFIX ? r->pattern + 1 : NULL;
	r->hop = hop;
	return 0;
}

/* bare_name - 1 when item is a plain user name without a host */
static int bare_name(const char *p, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) p[i];

		if (c <= ' ' || c >= 0x7f || strchr("<>@,;:\"()[]\\", c) != NULL)
			return 0;
	}
	return 1;
}

/* parse_one - one alias target, list member or owner: an address, or a
 * bare name meaning that name at this node. NULL with err. */
static struct addr *parse_one(const struct route_table *t, const char *p, size_t len,
	char *err, size_t errlen)
{
	char *tmp;
	struct addr *a;

	while (len > 0 && mc_is_ws((unsigned char) p[0]))
		p++, len--;
	while (len > 0 && mc_is_ws((unsigned char) p[len - 1]))
		len--;
	if (!bare_name(p, len))
		return addr_parse(p, len, err, errlen);
	tmp = xstrndup(p, len);
	a = addr_new(tmp, t->node, err, errlen);
	free(tmp);
	return a;
}

/* parse_targets - a comma-separated list of targets; NULL with err */
static struct addr_list *parse_targets(const struct route_table *t, const char *text,
	char *err, size_t errlen)
{
	struct addr_list *l = addr_list_new();
	size_t len = strlen(text), off = 0;

	if (len > ADDR_LINE_MAX) {
		mc_err(err, errlen, "longer than %d bytes", ADDR_LINE_MAX);
		goto bad;
	}
	while (off < len) {
		size_t n = addr_split(text + off, len - off);
		struct addr *a;

		if (!mc_blank(text + off, n)) {
			if ((a = parse_one(t, text + off, n, err, errlen)) == NULL)
				goto bad;
			if (addr_list_append(l, a, err, errlen) < 0)
				goto bad;
		}
		off += n;
		if (off < len)		/* the comma */
			off++;
	}
	return l;
bad:
	addr_list_free(l);
	return NULL;
}

static struct rt_alias *alias_find(const struct route_table *t, const char *name)
{
	for (size_t i = 0; i < t->naliases; i++)
		if (str_ieq(t->aliases[i].name, name))
			return &t->aliases[i];
	return NULL;
}

static int add_alias(struct route_table *t, const char *what, const char *name,
	const char *targets, const char *owner, int is_list, char *err, size_t errlen)
{
	char why[ADDR_ERRLEN], sh[MC_SHOWLEN];
	struct addr_list *l;
	struct addr *o = NULL;
	struct rt_alias *al;

	show(sh, sizeof(sh), name);
	if (addr_mailbox_check(name, strlen(name), why, sizeof(why)) < 0
	    || strchr(name, '%') != NULL) {
		mc_err(err, errlen, "%s '%s': %s", what, sh, strchr(name, '%') ?
		    "name contains '%'" : why);
		return -1;
	}
	if ((al = alias_find(t, name)) != NULL) {
		mc_err(err, errlen, "%s '%s': already defined as %s", what, sh,
		    al->is_list ? "a list" : "an alias");
		return -1;
	}
	if ((l = parse_targets(t, targets, why, sizeof(why))) == NULL) {
		mc_err(err, errlen, "%s '%s': %s", what, sh, why);
		return -1;
	}
	if (!is_list && addr_list_count(l) == 0) {
		mc_err(err, errlen, "%s '%s': no targets", what, sh);
		addr_list_free(l);
		return -1;
	}
	if (owner != NULL && (o = parse_one(t, owner, strlen(owner), why, sizeof(why))) == NULL) {
		mc_err(err, errlen, "%s '%s': owner: %s", what, sh, why);
		addr_list_free(l);
		return -1;
	}
	t->aliases = xrealloc(t->aliases, (t->naliases + 1) * sizeof(*t->aliases));
	al = &t->aliases[t->naliases++];
	al->name = lower_dup(name);
	al->is_list = is_list;
	al->targets = l;
	al->owner = o ? addr_to_str(o) : NULL;
	addr_free(o);
	return 0;
}

int route_table_add_alias(struct route_table *t, const char *name, const char *targets,
	char *err, size_t errlen)
{
	return add_alias(t, "alias", name, targets, NULL, 0, err, errlen);
}

int route_table_add_list(struct route_table *t, const char *name, const char *members,
	const char *owner, char *err, size_t errlen)
{
	return add_alias(t, "list", name, members, owner, 1, err, errlen);
}

int route_table_add_user(struct route_table *t, const char *name, char *err, size_t errlen)
{
	char why[ADDR_ERRLEN];

	if (addr_mailbox_check(name, strlen(name), why, sizeof(why)) < 0) {
		mc_err(err, errlen, "user: %s", why);
		return -1;
	}
	if (route_table_user_known(t, name))
		return 0;
	strv_push(&t->users, &t->nusers, lower_dup(name));
	return 0;
}

/*
 * Reading.
 */

const char *route_table_node(const struct route_table *t)
{
	return t->node;
}

unsigned route_table_max_hops(const struct route_table *t)
{
	return t->max_hops;
}

/* reverse - host in reversed label order into buf; NULL when it does not fit */
static const char *reverse(const char *host, char *buf, size_t len)
{
	if (addr_host_reverse(host, buf, len) >= len)
		return NULL;
	return buf;
}

int route_table_is_local(const struct route_table *t, const char *host)
{
	char rbuf[ADDR_HOST_MAX + 2];
	const char *rev = t->reversed ? reverse(host, rbuf, sizeof(rbuf)) : NULL;

	for (size_t i = 0; i < t->nnames; i++)
		if (addr_host_eq(t->names[i], host) || (rev && addr_host_eq(t->names[i], rev)))
			return 1;
	return 0;
}

/* suffix_match - length of the suffix when host ends with suffix (".x.y")
 * and has at least one label before it, else 0 */
static size_t suffix_match(const char *host, const char *suffix)
{
	size_t hl = strlen(host), sl = strlen(suffix);

	if (hl <= sl)
		return 0;
	return str_ieq(host + hl - sl, suffix) ? sl : 0;
}

const struct route_hop *route_table_lookup(const struct route_table *t, const char *host,
	const char **pattern)
{
	char rbuf[ADDR_HOST_MAX + 2];
	const char *forms[2];
	size_t nforms = 0, best = 0;
	const struct rt_route *hit = NULL;

	forms[nforms++] = host;
	if (t->reversed && reverse(host, rbuf, sizeof(rbuf)) != NULL && !str_ieq(rbuf, host))
		forms[nforms++] = rbuf;
	/* 1: an exact pattern, the host as written first */
	for (size_t f = 0; f < nforms && hit == NULL; f++)
		for (size_t i = 0; i < t->nroutes && hit == NULL; i++)
			if (t->routes[i].kind == PAT_EXACT && str_ieq(t->routes[i].pattern, forms[f]))
				hit = &t->routes[i];
	/* 2: the longest "*.suffix" of either form (first written wins a tie) */
	if (hit == NULL)
		for (size_t f = 0; f < nforms; f++)
			for (size_t i = 0; i < t->nroutes; i++) {
				size_t n;

				if (t->routes[i].kind != PAT_SUFFIX)
					continue;
				if ((n = suffix_match(forms[f], t->routes[i].suffix)) > best) {
					best = n;
					hit = &t->routes[i];
				}
			}
	/* 3: the default route */
	for (size_t i = 0; i < t->nroutes && hit == NULL; i++)
		if (t->routes[i].kind == PAT_ANY)
			hit = &t->routes[i];
	if (hit == NULL)
		return NULL;
	if (pattern != NULL)
		*pattern = hit->pattern;
	return &hit->hop->pub;
}

size_t route_table_nhops(const struct route_table *t)
{
	return t->nhops;
}

const struct route_hop *route_table_hop(const struct route_table *t, size_t i)
{
	PANIC_IF(i >= t->nhops);
	return &t->hops[i]->pub;
}

const struct route_hop *route_table_hop_by_name(const struct route_table *t, const char *name)
{
	for (size_t i = 0; i < t->nhops; i++)
		if (str_ieq(t->hops[i]->pub.name, name))
			return &t->hops[i]->pub;
	return NULL;
}

int route_table_user_known(const struct route_table *t, const char *mailbox)
{
	for (size_t i = 0; i < t->nusers; i++)
		if (str_ieq(t->users[i], mailbox))
			return 1;
	return 0;
}

size_t route_table_nusers(const struct route_table *t)
{
	return t->nusers;
}

const char *route_table_user(const struct route_table *t, size_t i)
{
	PANIC_IF(i >= t->nusers);
	return t->users[i];
}

size_t route_table_naliases(const struct route_table *t)
{
	return t->naliases;
}

const char *route_table_alias(const struct route_table *t, size_t i, int *is_list)
{
	PANIC_IF(i >= t->naliases);
	if (is_list != NULL)
		*is_list = t->aliases[i].is_list;
	return t->aliases[i].name;
}

/*
 * Resolution.
 */

static void step(struct rctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* step - record one explanation line, indented by the chain depth */
static void step(struct rctx *x, const char *fmt, ...)
{
	struct route_result *r = x->r;
	char line[ROUTE_STEP_MAX];
	size_t ind = 2 + 2 * x->nchain;
	va_list ap;

	if (r->nsteps >= ROUTE_MAX_STEPS) {
		r->steps_cut = 1;
		return;
	}
	if (ind > 42)
		ind = 42;
	memset(line, ' ', ind);
	va_start(ap, fmt);
	vsnprintf(line + ind, sizeof(line) - ind, fmt, ap);
	va_end(ap);
	if (r->nsteps == r->stepcap) {
		r->stepcap = r->stepcap ? 2 * r->stepcap : 8;
		r->steps = xrealloc(r->steps, r->stepcap * sizeof(*r->steps));
	}
	r->steps[r->nsteps++] = xstrdup(line);
}

/* same_addr - equal local parts and hosts equal ignoring case */
static int same_addr(const struct addr *a, const struct addr *b)
{
	return strcmp(addr_local(a), addr_local(b)) == 0 && addr_host_eq(addr_host(a), addr_host(b));
}

/* add_target - append a target unless an equal one exists; a is copied */
static void add_target(struct rctx *x, enum route_kind kind, const struct addr *a,
	const char *mailbox, const struct route_hop *hop, const char *reason,
	const char *owner, const char *list)
{
	struct route_result *r = x->r;
	struct rt_target *tg;

	for (size_t i = 0; i < r->n; i++) {
		struct rt_target *o = &r->t[i];

		if (o->pub.kind != kind)
			continue;
		if ((kind == ROUTE_LOCAL && strcmp(o->mailbox, mailbox) == 0)
		    || (kind == ROUTE_FORWARD && o->pub.hop == hop && same_addr(o->addr, a))
		    || (kind == ROUTE_FAIL && same_addr(o->addr, a)
			&& strcmp(o->reason, reason) == 0)) {
			step(x, "(already a target)");
			return;
		}
	}
	if (r->n >= ROUTE_MAX_TARGETS) {
		if (!r->targets_cut)
			step(x, "too many recipients in expansion: the rest is left out");
		r->targets_cut = 1;
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 4;
		r->t = xrealloc(r->t, r->cap * sizeof(*r->t));
	}
	tg = &r->t[r->n++];
	memset(tg, 0, sizeof(*tg));
	tg->pub.kind = kind;
	tg->addr = addr_dup(a);
	tg->text = addr_to_str(a);
	tg->mailbox = mailbox ? xstrdup(mailbox) : NULL;
	tg->reason = reason ? xstrdup(reason) : NULL;
	tg->owner = owner ? xstrdup(owner) : NULL;
	tg->list = list ? xstrdup(list) : NULL;
	tg->pub.hop = hop;
}

static void fail(struct rctx *x, const struct addr *a, const char *owner, const char *list,
	const char *reason)
{
	step(x, "-> fail: %s", reason);
	add_target(x, ROUTE_FAIL, a, NULL, NULL, reason, owner, list);
}

static void resolve(struct rctx *x, struct addr *a, unsigned depth, const char *owner,
	const char *list);

/* expand - route each target of alias or list al for address a */
static void expand(struct rctx *x, const struct addr *a, const struct rt_alias *al,
	unsigned depth, const char *owner, const char *list)
{
	size_t n = addr_list_count(al->targets);
	int was_in = x->in_alias;

	if (al->is_list) {
		step(x, "'%s' is a list of %zu members%s%s", al->name, n,
		    al->owner ? ", errors to " : ", no owner", al->owner ? al->owner : "");
		owner = al->owner;
		list = al->name;
	} else {
		step(x, "'%s' is an alias for %zu address%s", al->name, n, n == 1 ? "" : "es");
	}
	if (n == 0) {
		char reason[ADDR_MBOX_MAX * 4 + 64], sh[MC_SHOWLEN];

		snprintf(reason, sizeof(reason), "list '%s' has no members",
		    show(sh, sizeof(sh), al->name));
		fail(x, a, owner, list, reason);
		return;
	}
	if (depth >= ROUTE_MAX_DEPTH) {
		fail(x, a, owner, list, "alias loop (more than 20 nested expansions)");
		return;
	}
	x->chain[x->nchain++] = al->name;
	x->in_alias = 1;
	for (size_t i = 0; i < n; i++)
		resolve(x, addr_dup(addr_list_get(al->targets, i)), depth + 1, owner, list);
	x->nchain--;
	x->in_alias = was_in;
}

/* deliver - a plain local name: the mailbox or a failure */
static void deliver(struct rctx *x, const struct addr *a, const char *owner, const char *list)
{
	char mbox[ADDR_MBOX_MAX + 1], why[ADDR_ERRLEN];

	if (addr_mailbox(a, mbox, sizeof(mbox), why, sizeof(why)) < 0) {
		fail(x, a, owner, list, why);
		return;
	}
	step(x, "-> deliver to mailbox '%s'", mbox);
	add_target(x, ROUTE_LOCAL, a, mbox, NULL, NULL, owner, list);
}

/* resolve - route a (owned, freed here) at nesting depth */
static void resolve(struct rctx *x, struct addr *a, unsigned depth, const char *owner,
	const char *list)
{
	const struct route_table *t = x->t;
	char why[ADDR_ERRLEN], text[ADDR_MAX_LEN + 8], sh[MC_SHOWLEN];
	const struct route_hop *hop;
	const char *pat = NULL;
	int here;

	if (++x->r->work > ROUTE_MAX_WORK) {
		if (x->r->work == ROUTE_MAX_WORK + 1)
			fail(x, a, owner, list, "too many recipients in expansion");
		addr_free(a);
		return;
	}
	for (;;) {
		const char *host = addr_host(a);

		addr_format(a, text, sizeof(text));
		show(sh, sizeof(sh), host);
		here = route_table_is_local(t, host);
		hop = here ? NULL : route_table_lookup(t, host, &pat);
		if (here)
			step(x, "%s: host '%s' is this node", text, sh);
		else if (hop != NULL && hop->alts[0].channel == ROUTE_CH_LOCAL) {
			step(x, "%s: host '%s' matches route '%s': local channel", text, sh, pat);
			here = 1;
		}
		if (!here || !addr_has_route(a))
			break;
		if (depth >= ROUTE_MAX_DEPTH) {
			fail(x, a, owner, list, x->in_alias
			    ? "alias loop (more than 20 nested expansions)"
			    : "routing loop (more than 20 '%' rewrites)");
			goto out;
		}
		if (addr_percent_hop(a, why, sizeof(why)) < 0) {
			fail(x, a, owner, list, why);
			goto out;
		}
		addr_format(a, text, sizeof(text));
		step(x, "rewrite to %s (rightmost '%%' to '@')", text);
		depth++;
	}
	if (here) {
		const char *name = addr_local(a);
		const struct rt_alias *al = alias_find(t, name);

		if (al != NULL) {
			for (size_t i = 0; i < x->nchain; i++) {
				if (!str_ieq(x->chain[i], name))
					continue;
				if (i + 1 == x->nchain) {
					/* "bennett = bennett, ..." names itself: deliver */
					step(x, "'%s' names itself in its own alias", al->name);
					deliver(x, a, owner, list);
				} else
					fail(x, a, owner, list, "alias loop");
				goto out;
			}
			expand(x, a, al, depth, owner, list);
			goto out;
		}
		deliver(x, a, owner, list);
		goto out;
	}
	if (hop == NULL) {
		char reason[ADDR_HOST_MAX * 4 + 64];

		snprintf(reason, sizeof(reason), "no route to host '%s'", sh);
		fail(x, a, owner, list, reason);
		goto out;
	}
	step(x, "host '%s' matches route '%s'", sh, pat);
	if (x->hops >= t->max_hops) {
		char reason[64];

		snprintf(reason, sizeof(reason), "routing loop (%u hops)", x->hops + 1);
		fail(x, a, owner, list, reason);
		goto out;
	}
	step(x, "-> forward to %s as %s", hop->name, text);
	add_target(x, ROUTE_FORWARD, a, NULL, hop, NULL, owner, list);
out:
	addr_free(a);
}

struct route_result *route_resolve(const struct route_table *t, const struct addr *rcpt,
	unsigned hops)
{
	struct route_result *r = xcalloc(1, sizeof(*r));
	struct rctx x;

	memset(&x, 0, sizeof(x));
	x.t = t;
	x.r = r;
	x.hops = hops;
	r->rcpt = addr_to_str(rcpt);
	resolve(&x, addr_dup(rcpt), 0, NULL, NULL);
	PANIC_IF(r->n == 0);
	for (size_t i = 0; i < r->n; i++) {
		struct rt_target *tg = &r->t[i];

		tg->pub.addr = tg->addr;
		tg->pub.text = tg->text;
		tg->pub.mailbox = tg->mailbox;
		tg->pub.reason = tg->reason;
		tg->pub.owner = tg->owner;
		tg->pub.list = tg->list;
	}
	return r;
}

void route_result_free(struct route_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct rt_target *tg = &r->t[i];

		addr_free(tg->addr);
		free(tg->text);
		free(tg->mailbox);
		free(tg->reason);
		free(tg->owner);
		free(tg->list);
	}
	free(r->t);
	strv_free(r->steps, r->nsteps);
	free(r->rcpt);
	free(r);
}

const char *route_result_rcpt(const struct route_result *r)
{
	return r->rcpt;
}

size_t route_result_count(const struct route_result *r)
{
	return r->n;
}

const struct route_target *route_result_get(const struct route_result *r, size_t i)
{
	PANIC_IF(i >= r->n);
	return &r->t[i].pub;
}

size_t route_result_nsteps(const struct route_result *r)
{
	return r->nsteps;
}

const char *route_result_step(const struct route_result *r, size_t i)
{
	PANIC_IF(i >= r->nsteps);
	return r->steps[i];
}

int route_explain(const struct route_result *r, struct buf *out)
{
	return route_explain_with(r, out, NULL, NULL);
}

int route_explain_with(const struct route_result *r, struct buf *out,
	route_unknown_fn *unknown, void *ctx)
{
	const char *why;
	int rc = 0;

	rc |= buf_printf(out, "%s\n", r->rcpt);
	for (size_t i = 0; i < r->nsteps && rc == 0; i++)
		rc |= buf_printf(out, "%s\n", r->steps[i]);
	if (r->steps_cut)
		rc |= buf_printf(out, "  ... (more steps left out)\n");
	for (size_t i = 0; i < r->n && rc == 0; i++) {
		const struct route_target *tg = &r->t[i].pub;

		switch (tg->kind) {
		case ROUTE_LOCAL:
			why = unknown != NULL && tg->mailbox != NULL ? unknown(tg->mailbox, ctx)
			    : NULL;
			if (why != NULL)
				rc |= buf_printf(out, "=> fail %s: %s", tg->text, why);
			else
				rc |= buf_printf(out, "=> deliver %s to mailbox '%s'", tg->text,
				    tg->mailbox);
			break;
		case ROUTE_FORWARD:
			rc |= buf_printf(out, "=> forward to %s: %s", tg->hop->name, tg->text);
			break;
		case ROUTE_FAIL:
			rc |= buf_printf(out, "=> fail %s: %s", tg->text, tg->reason);
			break;
		}
		if (tg->list != NULL)
			rc |= buf_printf(out, " (list %s, errors to %s)", tg->list,
			    tg->owner ? tg->owner : "the sender");
		rc |= buf_putc(out, '\n');
		if (tg->kind != ROUTE_FORWARD)
			continue;
		for (size_t j = 0; j < tg->hop->nalts && rc == 0; j++) {
			const struct route_alt *al = &tg->hop->alts[j];

			if (al->channel == ROUTE_CH_SMTP)
				rc |= buf_printf(out, "     %s smtp %s\n", j == 0 ? "via" : " or",
				    al->shown);
			else if (al->channel == ROUTE_CH_PULL)
				rc |= buf_printf(out, "     kept until %s calls for it (pull)\n",
				    tg->hop->name);
			else
				rc |= buf_printf(out, "     %s niftp %s %s\n", j == 0 ? "via" : " or",
				    al->shown, al->called);
		}
	}
	return rc ? -1 : 0;
}

/*
 * Grouping.
 */

/* key_hash - FNV-1a of the hop index, local part and lower-cased host */
static uint64_t key_hash(const struct route_target *tg)
{
	uint64_t h = 1469598103934665603ULL ^ tg->hop->index;
	const char *p;

	for (p = addr_local(tg->addr); *p; p++)
		h = (h ^ (unsigned char) *p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (p = addr_host(tg->addr); *p; p++) {
		unsigned char c = (unsigned char) *p;

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char) (c - 'A' + 'a');
		h = (h ^ c) * 1099511628211ULL;
	}
	return h;
}

struct route_group *route_group(struct route_result *const *results, size_t n,
	size_t *ngroups)
{
	struct route_group *g = NULL;
	size_t ng = 0, total = 0, nslots;
	const struct route_target **seen;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < results[i]->n; j++)
			total += results[i]->t[j].pub.kind == ROUTE_FORWARD;
	*ngroups = 0;
	if (total == 0)
		return NULL;
	nslots = 16;
	while (nslots < 2 * total)
		nslots *= 2;
	seen = xcalloc(nslots, sizeof(*seen));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < results[i]->n; j++) {
			const struct route_target *tg = &results[i]->t[j].pub;
			struct route_group *gp = NULL;
			size_t s;

			if (tg->kind != ROUTE_FORWARD)
				continue;
			/* open addressing: a slot holds the first target with a key */
			for (s = key_hash(tg) & (nslots - 1); seen[s] != NULL; s = (s + 1) & (nslots - 1))
				if (seen[s]->hop == tg->hop && same_addr(seen[s]->addr, tg->addr))
					break;
			if (seen[s] != NULL)
				continue;
			seen[s] = tg;
			for (size_t k = 0; k < ng && gp == NULL; k++)
				if (g[k].hop == tg->hop)
					gp = &g[k];
			if (gp == NULL) {
				g = xrealloc(g, (ng + 1) * sizeof(*g));
				gp = &g[ng++];
				gp->hop = tg->hop;
				gp->n = 0;
				gp->targets = xcalloc(total, sizeof(*gp->targets));
				gp->rcpt = xcalloc(total, sizeof(*gp->rcpt));
			}
			gp->targets[gp->n] = tg;
			gp->rcpt[gp->n] = i;
			gp->n++;
		}
	free(seen);
	for (size_t k = 0; k < ng; k++) {
		g[k].targets = xrealloc(g[k].targets, g[k].n * sizeof(*g[k].targets));
		g[k].rcpt = xrealloc(g[k].rcpt, g[k].n * sizeof(*g[k].rcpt));
	}
	*ngroups = ng;
	return g;
}

void route_groups_free(struct route_group *g, size_t ngroups)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < ngroups; i++) {
		free(g[i].targets);
		free(g[i].rcpt);
	}
	free(g);
}
