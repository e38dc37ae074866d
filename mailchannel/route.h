/*++
 * NAME
 *	route 3h
 * SUMMARY
 *	the routing decision for one recipient (DESIGN section 4)
 * SYNOPSIS
 *	#include "mailchannel/route.h"
 * DESCRIPTION
 *	A struct route_table is everything a node knows about where mail
 *	goes: its own names, the route table (host patterns to ordered
 *	alternates), aliases, lists with owners, known users, the hop
 *	limit. It is built by the configuration loader (relay/conf.h)
 *	with the route_table_*() builders, then only read: it is
 *	immutable after building and may be shared by any number of
 *	readers. mailchannel knows nothing of the INI file.
 *
 *	route_resolve() decides, purely (no I/O, no clock, no global
 *	state), what happens to one recipient, in the order of DESIGN
 *	section 4:
 *
 *	 1. the host is this node (the node name, a [local] name, or a
 *	    host whose route is the local channel) and the local part
 *	    has no '%': local. An alias replaces the name by its targets
 *	    and a list by its members (each routed again from the top;
 *	    errors of a list's members go to the list's owner); a plain
 *	    name becomes LOCAL with the lower-cased, safety-checked
 *	    mailbox name (addr_mailbox). A list with no members fails
 *	    ("list 'x' has no members").
 *	 2. the host is this node and the local part has '%': drop the
 *	    host, turn the rightmost '%' into '@' (addr_percent_hop) and
 *	    route again from the top.
 *	 3. the host names another host: look it up (route_table_lookup)
 *	    and FORWARD to that route's next hop with the address as it
 *	    now stands; no route is FAIL "no route to host 'x'".
 *
 *	One recipient may so become several targets (an alias with two
 *	targets, a list). Targets are de-duplicated within one result
 *	(the same mailbox, or the same address to the same next hop).
 *	Alias, list and '%' expansions nest at most ROUTE_MAX_DEPTH deep;
 *	deeper, or an alias or list that reaches itself again, fails
 *	the target with "alias loop" (a name whose alias includes the
 *	name itself, "bennett = bennett, bennett@pss", delivers that
 *	target locally, as sendmail does). A result never holds more
 *	than ROUTE_MAX_TARGETS targets; the rest fail with "too many
 *	recipients in expansion".
 *
 *	A hop count (the letter's Via: lines) is passed in: a FORWARD
 *	target would add one more Via: line, so when hops >= the table's
 *	max_hops a would-be FORWARD becomes FAIL "routing loop (N hops)".
 *	Local delivery is never refused for the hop count.
 *
 *	Unknown users are not decided here: the local channel finds out
 *	when it delivers (route_table_user_known() helps it and mailctl;
 *	route_explain_with() shows the caller's verdict).
 *
 *	Every decision is also written down as text steps (at most
 *	ROUTE_MAX_STEPS lines, each at most ROUTE_STEP_MAX bytes), which
 *	route_explain() formats for "mailctl route" (like exim -bt).
 *
 *	Host lookup (route_table_lookup): host names compare ignoring
 *	ASCII case. In order: an exact pattern; then the "*.suffix"
 *	pattern with the longest suffix that the host ends with (at a
 *	label boundary: "*.ac.uk" matches "cs.ucl.ac.uk", not "ac.uk");
 *	then the default "*". With reversed names on, the reversed host
 *	(JANET order "uk.ac.ucl" for "ucl.ac.uk") is tried as well: exact
 *	as written, exact reversed, longest suffix of either form, "*".
 *	Reversed names also apply to matching this node's own names.
 *
 *	Next hops: routes whose alternates are identical (same channels,
 *	addresses and called addresses, in the same order) share one
 *	struct route_hop, so "one copy per next hop" holds even when two
 *	patterns lead to the same place. A hop's name is the pattern of
 *	the first route that defined it, lower-cased ("pss", "*.ac.uk",
 *	"*"); it is stable across reloads of an unchanged table.
 * DIAGNOSTICS
 *	Builders return -1 with err ("route 'pss': duplicate pattern");
 *	route_resolve() never fails: failure is a target of kind
 *	ROUTE_FAIL with its reason.
 *--*/
#ifndef MAILCHANNEL_ROUTE_H
#define MAILCHANNEL_ROUTE_H

#include <stddef.h>

#include "mailchannel/addr.h"

struct buf;

#define ROUTE_MAX_DEPTH		20	/* nested alias/list/% expansions */
#define ROUTE_MAX_TARGETS	10000	/* targets from one recipient (ADDR_LIST_MAX) */
#define ROUTE_MAX_STEPS		400	/* explanation lines kept per result */
#define ROUTE_STEP_MAX		1200	/* bytes of one explanation line */
#define ROUTE_MAX_ALTS		16	/* alternates of one route */
#define ROUTE_CALLED_DEFAULT	"FTP.MAIL"
#define ROUTE_DEFAULT_HOPS	30	/* default max_hops */
#define ROUTE_ERRLEN		512	/* a good size for error buffers */

enum route_channel {
	ROUTE_CH_NIFTP,		/* NIFTP over a TS address */
	ROUTE_CH_LOCAL,		/* deliver here: the host is treated as this node */
	ROUTE_CH_SMTP,		/* SMTP to a relay host (libcurl): addr "tcp:HOST:PORT" */
	ROUTE_CH_PULL,		/* kept until the peer of that name calls for it (INDRA
				 * 4.4); addr: where its trace service answers, or NULL */
	ROUTE_CH_MAX		/* how many (not a channel) */
};

/* One alternate of a route. */
struct route_alt {
	enum route_channel channel;
	const char *addr;	/* NIFTP: the TS address to call, exec:NAME already
				 * resolved to "exec:COMMAND ARGS"; SMTP: "tcp:HOST:PORT";
				 * NULL for local */
	const char *shown;	/* the address as written in the config (exec:NAME),
				 * for messages; NULL for local */
	const char *called;	/* NIFTP: called address (default FTP.MAIL); NULL for local */
};

/* A next hop: the ordered alternates, tried first to last. */
struct route_hop {
	const char *name;	/* lower-cased pattern of the first route naming it */
	size_t	nalts;		/* 1..ROUTE_MAX_ALTS */
	const struct route_alt *alts;
	unsigned index;		/* 0.. in order of definition (dense, for arrays) */
};

enum route_kind {
	ROUTE_LOCAL,		/* deliver to mailbox here */
	ROUTE_FORWARD,		/* send to hop with addr in the copy's address list */
	ROUTE_FAIL,		/* fails permanently with reason */
};

/* One outcome of route_resolve(). All pointers are owned by the result
 * (or by the table, for hop) and valid until route_result_free(). */
struct route_target {
	enum route_kind kind;
	const struct addr *addr;	/* LOCAL: the address delivered (local part as
					 * written, host one of ours); FORWARD: the
					 * rewritten address to send; FAIL: the address as
					 * it stood when it failed */
	const char *text;		/* addr in canonical text (addr_format) */
	const char *mailbox;		/* LOCAL: lower-cased safe mailbox name; else NULL */
	const struct route_hop *hop;	/* FORWARD: the next hop (borrowed from the table) */
	const char *reason;		/* FAIL: "no route to host 'x'", "invalid mailbox
					 * name 'x': ...", "routing loop (31 hops)", "alias
					 * loop" ...; else NULL */
	const char *owner;		/* when the target came from a list: the owner's
					 * address text (where its errors go) or NULL when
					 * the list has no owner; NULL otherwise */
	const char *list;		/* the innermost list it came from, or NULL */
};

struct route_table;
struct route_result;

/*
 * Building a table (the configuration loader does this once).
 */

/* route_table_new - empty table for node (a valid host name, copied;
 * it is also this node's first local name); NULL with err when node is
 * not a valid host name */
struct route_table *route_table_new(const char *node, char *err, size_t errlen);
/* route_table_free - release the table and everything in it; NULL allowed */
void route_table_free(struct route_table *t);

/* route_table_set_reversed - also match hosts in reversed label order */
void route_table_set_reversed(struct route_table *t, int on);
/* route_table_set_max_hops - the hop limit (>= 1; default ROUTE_DEFAULT_HOPS) */
void route_table_set_max_hops(struct route_table *t, unsigned max_hops);

/* route_table_add_name - another name of this node (copied); -1 with err
 * for a bad host name. A name given twice is accepted once. */
int route_table_add_name(struct route_table *t, const char *name, char *err, size_t errlen);

/* route_table_add_route - pattern ("host", "*.suffix" or "*") to the
 * ordered alternates alts[0..n) (all strings copied; called NULL means
 * ROUTE_CALLED_DEFAULT). -1 with err: bad pattern, duplicate pattern
 * (ignoring case), n of 0 or above ROUTE_MAX_ALTS, a NIFTP or SMTP
 * alternate without an address, a local alternate together with others,
 * alternates of different channels (a next hop is carried by the channel
 * of its first alternate, which knows only its own addresses). The TS
 * address syntax is the caller's to check. */
int route_table_add_route(struct route_table *t, const char *pattern,
	const struct route_alt *alts, size_t n, char *err, size_t errlen);

/* route_table_add_alias - name (a local part, matched ignoring case) to
 * targets: comma-separated addresses (addr_list syntax); an item that
 * is a bare name without host ("root") means that name at this node.
 * -1 with err: bad or duplicate name (an alias or list of that name
 * exists), empty target list, bad address. */
int route_table_add_alias(struct route_table *t, const char *name, const char *targets,
	char *err, size_t errlen);

/* route_table_add_list - a mailing list: name to members (syntax as
 * for aliases; an empty member list is allowed) and owner (one
 * address, bare name allowed, or NULL for none). -1 with err as for
 * aliases, or a bad owner. */
int route_table_add_list(struct route_table *t, const char *name, const char *members,
	const char *owner, char *err, size_t errlen);

/* route_table_add_user - a known local user (mailbox name; lower-cased
 * copy kept); -1 with err for an invalid mailbox name */
int route_table_add_user(struct route_table *t, const char *name, char *err, size_t errlen);

/*
 * Reading a table.
 */

/* route_table_node - the node name given to route_table_new */
const char *route_table_node(const struct route_table *t);
/* route_table_max_hops - the hop limit */
unsigned route_table_max_hops(const struct route_table *t);
/* route_table_is_local - 1 when host is one of this node's names (or
 * their reversed form with reversed names on), else 0. A host whose
 * route is the local channel is not counted here. */
int route_table_is_local(const struct route_table *t, const char *host);
/* route_table_lookup - the hop for host by the lookup rules above, or
 * NULL when no route matches; *pattern (if not NULL) gets the matching
 * pattern (borrowed from the table) */
const struct route_hop *route_table_lookup(const struct route_table *t, const char *host,
	const char **pattern);
/* route_table_nhops - number of distinct next hops; route_table_hop -
 * hop i (< nhops), borrowed from the table */
size_t route_table_nhops(const struct route_table *t);
const struct route_hop *route_table_hop(const struct route_table *t, size_t i);
/* route_table_hop_by_name - the hop named name (ignoring case) or NULL */
const struct route_hop *route_table_hop_by_name(const struct route_table *t, const char *name);
/* route_table_user_known - 1 when mailbox is listed in [local] users, else 0.
 * The local channel also counts a mailbox as known when its Maildir
 * directory already exists (issue 3); that is its check, not this one. */
int route_table_user_known(const struct route_table *t, const char *mailbox);
/* route_table_nusers - number of configured users */
size_t route_table_nusers(const struct route_table *t);
/* route_table_user - configured user i (< route_table_nusers), lower
 * case, borrowed from the table (mailctl check-config) */
const char *route_table_user(const struct route_table *t, size_t i);
/* route_table_naliases - number of aliases and lists; route_table_alias -
 * the name of alias or list i (< naliases; lower case, borrowed), *is_list
 * (if not NULL) set for a list */
size_t route_table_naliases(const struct route_table *t);
const char *route_table_alias(const struct route_table *t, size_t i, int *is_list);

/*
 * Routing.
 */

/* route_resolve - route one recipient (borrowed) given the letter's hop
 * count (its Via: lines). Never NULL: failures are targets. */
struct route_result *route_resolve(const struct route_table *t, const struct addr *rcpt,
	unsigned hops);
/* route_result_free - release; NULL allowed */
void route_result_free(struct route_result *r);
/* route_result_rcpt - the recipient as given, canonical text */
const char *route_result_rcpt(const struct route_result *r);
/* route_result_count - number of targets (>= 1) */
size_t route_result_count(const struct route_result *r);
/* route_result_get - target i (< count), borrowed from r */
const struct route_target *route_result_get(const struct route_result *r, size_t i);
/* route_result_nsteps, route_result_step - explanation line i, with
 * leading spaces showing the nesting; borrowed from r */
size_t route_result_nsteps(const struct route_result *r);
const char *route_result_step(const struct route_result *r, size_t i);

/* route_explain - append to out, one line each ending in "\n", the
 * recipient, the steps taken and the targets, e.g.
 *
 *	linington%cambridge%pss@ucl
 *	  host 'ucl' is this node
 *	  rewrite: linington%cambridge@pss (rightmost '%' to '@')
 *	  host 'pss' matches route 'pss'
 *	  -> forward to pss: linington%cambridge@pss
 *	       via niftp tcp:127.0.0.1:4522 FTP.MAIL
 *
 * 0, or -1 when out's cap was reached (out then holds what fitted). */
int route_explain(const struct route_result *r, struct buf *out);

/* route_unknown_fn - why a LOCAL target's mailbox cannot be delivered
 * to (an unknown user: what only the caller can tell, from its
 * configuration and file system), or NULL when it can. The text is
 * borrowed until the next call. */
typedef const char *route_unknown_fn(const char *mailbox, void *ctx);

/* route_explain_with - route_explain(), with unknown(mailbox, ctx) asked
 * of each LOCAL target: one it gives a reason for is shown as "=> fail
 * ADDRESS: REASON", what delivery would do, never "=> deliver". unknown
 * NULL: route_explain(). */
int route_explain_with(const struct route_result *r, struct buf *out,
	route_unknown_fn *unknown, void *ctx);

/*
 * Economy: one copy per next hop (INDRA 1025 section 5.3).
 */

/* A group of FORWARD targets that share a next hop. */
struct route_group {
	const struct route_hop *hop;		/* borrowed from the table */
	size_t	n;				/* targets, >= 1 */
	const struct route_target **targets;	/* borrowed from the results */
	size_t	*rcpt;				/* rcpt[i]: index in results[] that
						 * targets[i] came from */
};

/* route_group - group the FORWARD targets of results[0..n) by next hop,
 * in order of first appearance; within a group a target whose address
 * text equals an earlier one's (host ignoring case) is left out, so no
 * hop gets a recipient twice. Returns a new array of *ngroups groups
 * (NULL when there are none); free with route_groups_free. The
 * borrowed pointers are valid while the results and table live. */
struct route_group *route_group(struct route_result *const *results, size_t n,
	size_t *ngroups);
/* route_groups_free - release an array from route_group; NULL allowed */
void route_groups_free(struct route_group *g, size_t ngroups);

#endif
