/*++
 * NAME
 *	ctl_proto 3
 * SUMMARY
 *	the control protocol of mailrelayd: the request table and its parser
 * SYNOPSIS
 *	#include "relay/ctl_proto.h"
 * DESCRIPTION
 *	ctl_cmds lists every request once; see ctl_proto.h for the wire
 *	protocol and relay/ctl_server.c for the handlers.
 *--*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "relay/ctl_proto.h"
#include "relay/trace_fetch.h"
#include "spool/spool.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define CTL_HELP_COL	18	/* width of the usage column in --help */

/* check_sel - a selection (ctl_proto_sel) */
static int check_sel(const struct ctl_req *rq, char *err, size_t errlen)
{
	struct ctl_sel sel;

	return ctl_proto_sel(rq, &sel, err, errlen);
}

/* check_reroute - nothing, HOST ROUTE, or --clear HOST */
static int check_reroute(const struct ctl_req *rq, char *err, size_t errlen)
{
	int     clear = rq->argc > 0 && strcmp(rq->argv[0], "--clear") == 0;

	if (rq->argc == 0)
		return 0;
	if (rq->argc == 1 && clear) {
		snprintf(err, errlen, "--clear wants the HOST whose override ends");
		return -1;
	}
	if (rq->argc == 1) {
		snprintf(err, errlen, "no ROUTE for HOST, e.g. 'niftp tcp:10.0.0.9:4521'");
		return -1;
	}
	if (clear && strchr(rq->argv[1], ' ') != NULL) {
		snprintf(err, errlen, "--clear takes one HOST");
		return -1;
	}
	if (!clear && rq->argv[0][0] == '-') {
		snprintf(err, errlen, "unknown option '%.*s'", CTL_ECHO_MAX, rq->argv[0]);
		return -1;
	}
	return 0;
}

/* check_trace_fetch - ADDR CALLED SECONDS KEY (relay/trace_fetch.h):
 * SECONDS a whole number of seconds the fetch may take */
static int check_trace_fetch(const struct ctl_req *rq, char *err, size_t errlen)
{
	uint64_t s;

	(void) err;
	(void) errlen;
	return str_to_u64(rq->argv[2], 1, TRACE_FETCH_SECS_MAX, &s);
}

/*
 * The requests, in the order mailctl --help lists them. Help lines
 * are kept short enough for the usage column plus the text to fit in
 * 80 columns.
 */
static const struct ctl_cmd ctl_cmds[CTL_NCMDS] = {
	{ CTL_PING, "ping", 0, 0, CTL_RESULT | CTL_ANYONE, NULL,
	    "ping", "the node's name, when its daemon answers" },
	{ CTL_PICKUP, "pickup", 1, 1, CTL_LATER | CTL_HIDDEN | CTL_RESULT, NULL,
	    "pickup FILE", "take out/FILE now; the letter's name once durable" },
	{ CTL_QUEUE, "queue", 0, CTL_ARGS_MAX, CTL_LATER | CTL_SELECT, check_sel,
	    "queue [SELECTION] [--json]",
	    "letters: name, age, next hops, state, size, sender, Subject" },
	{ CTL_RETRY, "retry", 0, CTL_ARGS_MAX, CTL_LATER | CTL_SELECT, check_sel,
	    "retry [SELECTION] [NAME...|ALL]",
	    "try the letters named, or selected (none: all), now" },
	{ CTL_HOLD, "hold", 1, CTL_ARGS_MAX, CTL_LATER | CTL_SELECT, check_sel,
	    "hold [SELECTION] NAME...|ALL",
	    "keep queued letters from being sent (moved to hold/)" },
	{ CTL_RELEASE, "release", 1, CTL_ARGS_MAX, CTL_LATER | CTL_SELECT, check_sel,
	    "release [SELECTION] NAME...|ALL", "queue held letters again, due now" },
	{ CTL_DELETE, "delete", 1, CTL_ARGS_MAX, CTL_LATER | CTL_SELECT, check_sel,
	    "delete [SELECTION] NAME...|ALL", "move letters (queued or held) to dead/" },
	{ CTL_BOUNCE, "bounce", 1, CTL_ARGS_MAX, CTL_LATER | CTL_SELECT | CTL_REASON, check_sel,
	    "bounce [SELECTION] NAME...|ALL [--reason TEXT]",
	    "return queued letters to their senders now (one NDN each)" },
	{ CTL_FORWARD, "forward", 2, 2, CTL_LATER | CTL_REST, NULL,
	    "forward NAME ADDRESS", "send a queued letter to ADDRESS instead (routed as usual)" },
	{ CTL_REROUTE, "reroute", 0, 2, CTL_REST, check_reroute,
	    "reroute [HOST ROUTE|--clear HOST]",
	    "force HOST's route, kept; --clear HOST ends it; alone: list" },
	{ CTL_RESUBMIT, "resubmit", 1, 1, CTL_LATER | CTL_RESULT, NULL,
	    "resubmit NAME", "queue the archived copy of NAME as a new letter; its name" },
	{ CTL_RELOAD, "reload", 0, 0, 0, NULL,
	    "reload", "make the daemon reload its configuration" },
	{ CTL_FETCH, "fetch", 0, 1, CTL_LATER | CTL_RESULT, NULL,
	    "fetch [RELAY]", "collect what RELAY keeps for us (pull); none: [pull] from" },
	{ CTL_TRACE_FETCH, "trace-fetch", 4, 4, CTL_LATER | CTL_HIDDEN, check_trace_fetch,
	    "trace-fetch ADDR CALLED SECONDS KEY",
	    "another node's trace:KEY, fetched by the daemon" },
	/* a pipe passed with the line (SCM_RIGHTS), then "end OCTETS":
	 * relay/submit.h */
	{ CTL_SUBMIT, "submit", 0, 0, CTL_LATER | CTL_HIDDEN | CTL_RESULT | CTL_ANYONE, NULL,
	    "submit", "a letter from the pipe passed; its name once durable" },
};

/* ctl_proto_get - the entry of request id */
const struct ctl_cmd *ctl_proto_get(enum ctl_id id)
{
	PANIC_IF((unsigned) id >= CTL_NCMDS || ctl_cmds[id].id != id);
	return &ctl_cmds[id];
}

/* ctl_proto_find - the entry of a verb, or NULL */
const struct ctl_cmd *ctl_proto_find(const char *verb, size_t len)
{
	size_t  i;

	for (i = 0; i < CTL_NCMDS; i++)
		if (strlen(ctl_cmds[i].verb) == len && memcmp(ctl_cmds[i].verb, verb, len) == 0)
			return &ctl_cmds[i];
	return NULL;
}

/* esc1 - octet c as it is shown; returns its length */
static size_t esc1(unsigned char c, char tmp[4])
{
	static const char hex[] = "0123456789abcdef";

	if (c >= 0x20 && c < 0x7f && c != '\\') {
		tmp[0] = (char) c;
		return 1;
	}
	tmp[0] = '\\';
	if (c == '\\') {
		tmp[1] = '\\';
		return 2;
	}
	tmp[1] = 'x';
	tmp[2] = hex[c >> 4];
	tmp[3] = hex[c & 0xf];
	return 4;
}

/* ctl_proto_esc - s for one line of text, cut with "..." to dstlen */
char *ctl_proto_esc(char *dst, size_t dstlen, const char *s, size_t len)
{
	char    tmp[4];
	size_t  need = 0, limit, o = 0, i, n;
	int     cut;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < len; i++)
		need += esc1((unsigned char) s[i], tmp);
	cut = need >= dstlen && dstlen >= 4;
	limit = cut ? dstlen - 4 : dstlen - 1;
	for (i = 0; i < len; i++) {
		n = esc1((unsigned char) s[i], tmp);
		if (o + n > limit)
			break;
		memcpy(dst + o, tmp, n);
		o += n;
	}
	if (cut) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/* --- selections ------------------------------------------------------------------ */

static const char *const ctl_states[CTL_NSTATES] = {
	[CTL_ST_RECEIVED] = "received",
	[CTL_ST_QUEUED] = "queued",
	[CTL_ST_DEFERRED] = "deferred",
	[CTL_ST_ACTIVE] = "active",
	[CTL_ST_HELD] = "held",
};

/* ctl_state_name - the word of a state */
const char *ctl_state_name(enum ctl_state st)
{
	PANIC_IF((unsigned) st >= CTL_NSTATES);
	return ctl_states[st];
}

/* list_item - the next item of a comma list at *p (its length in *len;
 * *p moved past it and its comma); 0 at the end */
static int list_item(const char **p, const char **item, size_t *len)
{
	const char *c;

	if (*p == NULL || **p == '\0')
		return 0;
	*item = *p;
	c = strchr(*p, ',');
	*len = c ? (size_t) (c - *p) : strlen(*p);
	*p = c ? c + 1 : *p + *len;
	return 1;
}

/* hop_list_ok - HOP[,HOP...]: items not empty, none starting with '-' */
static int hop_list_ok(const char *v)
{
	const char *p = v, *it;
	size_t  len;

	if (*v == '\0' || v[strlen(v) - 1] == ',')
		return 0;
	while (list_item(&p, &it, &len))
		if (len == 0 || it[0] == '-')
			return 0;
	return 1;
}

/* state_list - STATE[,STATE...] as bits; 0 when a word is unknown */
static unsigned state_list(const char *v)
{
	const char *p = v, *it;
	unsigned bits = 0, k;
	size_t  len;

	if (*v == '\0' || v[strlen(v) - 1] == ',')
		return 0;
	while (list_item(&p, &it, &len)) {
		for (k = 0; k < CTL_NSTATES; k++)
			if (strlen(ctl_states[k]) == len && memcmp(ctl_states[k], it, len) == 0)
				break;
		if (k == CTL_NSTATES)
			return 0;
		bits |= 1u << k;
	}
	return bits;
}

/* addr_pattern_ok - local@domain or @domain: one '@' that is not last,
 * no '<' or '>' (the address alone, not a phrase) */
static int addr_pattern_ok(const char *v)
{
	const char *at = strrchr(v, '@');

	return at != NULL && at[1] != '\0' && strlen(v) <= CTL_SEL_ADDR_MAX
	    && strpbrk(v, "<>,") == NULL && v[0] != '-';
}

/* letter_name_ok - a letter's (or, for retry, an envelope's) spool name */
static int letter_name_ok(const char *v)
{
	return v[0] != '-' && spool_name_ok(v);
}

/* ctl_proto_sel - the selection of a CTL_SELECT request */
int ctl_proto_sel(const struct ctl_req *rq, struct ctl_sel *sel, char *err, size_t errlen)
{
	enum ctl_id id = rq->cmd->id;
	char    show[CTL_ECHO_MAX + 4];
	const char *a, *v;
	size_t  i;
	int     opts = 0, dup = 0;

	memset(sel, 0, sizeof(*sel));
	sel->older = -1;
	if (errlen > 0)
		err[0] = '\0';
	for (i = 0; i < rq->argc; i++) {
		a = rq->argv[i];
		ctl_proto_esc(show, sizeof(show), a, strlen(a));
		if (strcmp(a, "ALL") == 0 || (id == CTL_RETRY && strcmp(a, "--all") == 0)) {
			/* retry's --all: the older spelling */
			if (id == CTL_QUEUE) {
				snprintf(err, errlen, "queue lists every letter selected: no ALL");
				return -1;
			}
			dup |= sel->all;
			sel->all = 1;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			if (id != CTL_QUEUE) {
				snprintf(err, errlen, "--json is for queue");
				return -1;
			}
			dup |= sel->json;
			sel->json = 1;
			continue;
		}
		if (strcmp(a, "--reason") == 0) {
			/* ctl_proto_parse() made the rest of the line the next
			 * argument: it is the last */
			if (!(rq->cmd->flags & CTL_REASON)) {
				snprintf(err, errlen, "--reason is for bounce");
				return -1;
			}
			if (i + 1 >= rq->argc) {
				snprintf(err, errlen, "--reason without a text");
				return -1;
			}
			sel->reason = rq->argv[++i];
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			if (i + 1 >= rq->argc) {
				snprintf(err, errlen, "%s without a value", show);
				return -1;
			}
			v = rq->argv[++i];
			opts = 1;
			if (strcmp(a, "--to") == 0 || strcmp(a, "--from") == 0) {
				if (!addr_pattern_ok(v)) {
					snprintf(err, errlen, "%s wants local@domain or @domain", a);
					return -1;
				}
				if (a[2] == 't') {
					dup |= sel->to != NULL;
					sel->to = v;
				} else {
					dup |= sel->from != NULL;
					sel->from = v;
				}
			} else if (strcmp(a, "--hop") == 0) {
				if (!hop_list_ok(v)) {
					snprintf(err, errlen, "--hop wants HOP[,HOP...]");
					return -1;
				}
				dup |= sel->hop != NULL;
				sel->hop = v;
			} else if (strcmp(a, "--older-than") == 0) {
				int64_t ms;

				if (str_to_duration_ms(v, &ms) < 0 || ms < 0) {
					snprintf(err, errlen, "--older-than wants a duration (90s, 5m, 2h,"
					    " 3d)");
					return -1;
				}
				dup |= sel->older >= 0;
				sel->older = (long long) (ms / 1000);
			} else if (strcmp(a, "--state") == 0) {
				unsigned bits = state_list(v);

				if (bits == 0) {
					snprintf(err, errlen, "--state wants %s, %s, %s, %s or %s",
					    ctl_states[0], ctl_states[1], ctl_states[2], ctl_states[3],
					    ctl_states[4]);
					return -1;
				}
				dup |= sel->states != 0;
				sel->states = bits;
			} else {
				snprintf(err, errlen, "unknown option '%s'", show);
				return -1;
			}
			continue;
		}
		if (id == CTL_QUEUE) {
			snprintf(err, errlen, "queue takes no names; mailctl view NAME shows one");
			return -1;
		}
		if (!letter_name_ok(a)) {
			snprintf(err, errlen, "'%s' is not a letter name", show);
			return -1;
		}
		sel->names[sel->nnames++] = a;
	}
	if (dup) {
		snprintf(err, errlen, "an option given twice");
		return -1;
	}
	if (sel->nnames > 0 && (sel->all || opts)) {
		snprintf(err, errlen, "names, or a selection with ALL, not both");
		return -1;
	}
	/* retry alone: everything, as before */
	if (id == CTL_QUEUE || (id == CTL_RETRY && sel->nnames == 0))
		sel->all = 1;
	if (!sel->all && sel->nnames == 0) {
		snprintf(err, errlen, "no letter named: NAME..., or ALL for the letters selected");
		return -1;
	}
	return 0;
}

/* ctl_sel_hop - hop is on sel's --hop list */
int ctl_sel_hop(const struct ctl_sel *sel, const char *hop)
{
	const char *p = sel->hop, *it;
	size_t  len;

	if (sel->hop == NULL)
		return 1;
	while (list_item(&p, &it, &len))
		if (strncasecmp(it, hop, len) == 0 && hop[len] == '\0')
			return 1;
	return 0;
}

/* ctl_sel_addr - addr matches a --to or --from pattern */
int ctl_sel_addr(const char *pattern, const char *addr)
{
	const char *pat = strrchr(pattern, '@'), *lt, *gt, *at;
	size_t  alen;

	/* "Ada <a@b>": what is inside the angle brackets */
	if ((lt = strchr(addr, '<')) != NULL && (gt = strchr(lt, '>')) != NULL) {
		addr = lt + 1;
		alen = (size_t) (gt - addr);
	} else
		alen = strlen(addr);
	while (alen > 0 && addr[alen - 1] == ' ')
		alen--;
	while (alen > 0 && addr[0] == ' ') {
		addr++;
		alen--;
	}
	at = NULL;
	for (size_t i = 0; i < alen; i++)
		if (addr[i] == '@')
			at = addr + i;
	if (pat == NULL || at == NULL)
		return 0;
	if (strlen(pat + 1) != (size_t) (addr + alen - at - 1)
	    || strncasecmp(pat + 1, at + 1, strlen(pat + 1)) != 0)
		return 0;
	if (pat == pattern)
		return 1;		/* "@domain": anyone there */
	return (size_t) (pat - pattern) == (size_t) (at - addr)
	    && memcmp(pattern, addr, (size_t) (at - addr)) == 0;
}

/* usage - the usage error of rq's request */
static enum ctl_parse usage(const struct ctl_req *rq, char *err, size_t errlen)
{
	snprintf(err, errlen, "usage: %s", rq->cmd->usage);
	return CTL_PARSE_USAGE;
}

/* ctl_proto_parse - a request line into *rq, or the reason it is refused */
enum ctl_parse ctl_proto_parse(const char *line, size_t len, struct ctl_req *rq,
	char *err, size_t errlen)
{
	const struct ctl_cmd *cmd;
	char    show[CTL_ECHO_MAX + 4], why[CTL_ERRLEN];
	char   *p, *e, *verb;
	size_t  i;
	int     rest;

	rq->cmd = NULL;
	rq->argc = 0;
	rq->text[0] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > CTL_LINE_MAX) {
		snprintf(err, errlen, "request too long (more than %d octets)", CTL_LINE_MAX);
		return CTL_PARSE_LONG;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char) line[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "control character 0x%02x in the request (octet %zu)",
			    c, i + 1);
			return CTL_PARSE_CTRL;
		}
	}
	memcpy(rq->text, line, len);
	p = rq->text;
	e = rq->text + len;
	while (e > p && e[-1] == ' ')
		e--;
	*e = '\0';
	while (p < e && *p == ' ')
		p++;
	for (verb = p; p < e && *p != ' '; p++)
		;
	if (p == verb) {
		snprintf(err, errlen, "empty request");
		return CTL_PARSE_EMPTY;
	}
	if ((cmd = ctl_proto_find(verb, (size_t) (p - verb))) == NULL) {
		ctl_proto_esc(show, sizeof(show), verb, (size_t) (p - verb));
		snprintf(err, errlen, "unknown request '%s'", show);
		return CTL_PARSE_UNKNOWN;
	}
	rq->cmd = cmd;
	if (p < e)
		*p++ = '\0';
	for (rest = 0;;) {
		while (p < e && *p == ' ')
			p++;
		if (p == e)
			break;
		if (rq->argc == cmd->max_args) {
			if (cmd->max_args < CTL_ARGS_MAX)
				return usage(rq, err, errlen);
			snprintf(err, errlen, "too many arguments (more than %d)", CTL_ARGS_MAX);
			return CTL_PARSE_MANY;
		}
		rq->argv[rq->argc++] = p;
		/* the last argument of a CTL_REST request, or the one after a
		 * CTL_REASON request's "--reason": all that is left */
		if (rest || ((cmd->flags & CTL_REST) && rq->argc == cmd->max_args))
			break;
		while (p < e && *p != ' ')
			p++;
		if (p < e)
			*p++ = '\0';
		rest = (cmd->flags & CTL_REASON) && strcmp(rq->argv[rq->argc - 1], "--reason") == 0;
	}
	if (rq->argc < cmd->min_args)
		return usage(rq, err, errlen);
	if (cmd->check != NULL) {
		why[0] = '\0';
		if (cmd->check(rq, why, sizeof(why)) < 0) {
			if (why[0] == '\0')
				return usage(rq, err, errlen);
			snprintf(err, errlen, "usage: %s (%s)", cmd->usage, why);
			return CTL_PARSE_USAGE;
		}
	}
	return CTL_PARSE_OK;
}

/* ctl_proto_help - the mailctl command list */
int ctl_proto_help(struct buf *out)
{
	const struct ctl_cmd *c;
	int     rc = 0;

	for (c = ctl_cmds; c < ctl_cmds + CTL_NCMDS; c++) {
		if (c->flags & CTL_HIDDEN)
			continue;
		if (strlen(c->usage) <= CTL_HELP_COL)
			rc |= buf_printf(out, "  %-*s %s\n", CTL_HELP_COL, c->usage, c->help);
		else
			rc |= buf_printf(out, "  %s\n  %-*s %s\n", c->usage, CTL_HELP_COL, "",
			    c->help);
	}
	return rc < 0 ? -1 : 0;
}
