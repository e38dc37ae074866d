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
#include <stdio.h>
#include <string.h>

#include "relay/ctl_proto.h"
#include "relay/trace_fetch.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define CTL_HELP_COL	18	/* width of the usage column in --help */

/* check_retry - NAME..., hop:HOST..., --hop HOST..., or --all alone */
static int check_retry(const struct ctl_req *rq)
{
	size_t  i;

	for (i = 0; i < rq->argc; i++) {
		if (strcmp(rq->argv[i], "--all") == 0) {
			if (rq->argc != 1)
				return -1;
		} else if (strcmp(rq->argv[i], "--hop") == 0) {
			if (++i == rq->argc || rq->argv[i][0] == '-')
				return -1;
		} else if (rq->argv[i][0] == '-')
			return -1;
	}
	return 0;
}

/* check_reroute - nothing, HOST ROUTE, or --clear HOST */
static int check_reroute(const struct ctl_req *rq)
{
	if (rq->argc == 0)
		return 0;
	if (rq->argc == 1)
		return -1;
	if (strcmp(rq->argv[0], "--clear") == 0)
		return strchr(rq->argv[1], ' ') != NULL ? -1 : 0;
	return rq->argv[0][0] == '-' ? -1 : 0;
}

/* check_trace_fetch - ADDR CALLED SECONDS KEY (relay/trace_fetch.h):
 * SECONDS a whole number of seconds the fetch may take */
static int check_trace_fetch(const struct ctl_req *rq)
{
	uint64_t s;

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
	{ CTL_QUEUE, "queue", 0, 0, 0, NULL,
	    "queue", "letters by next hop: name, age, hop, rcpts, state, error" },
	{ CTL_RETRY, "retry", 0, CTL_ARGS_MAX, 0, check_retry,
	    "retry [NAME...|--hop HOST...|--all]",
	    "try the letters named, those for a next hop, or all, now" },
	{ CTL_HOLD, "hold", 1, 1, CTL_LATER, NULL,
	    "hold NAME", "keep a queued letter from being sent (moved to hold/)" },
	{ CTL_RELEASE, "release", 1, 1, CTL_LATER, NULL,
	    "release NAME", "queue a held letter again, due now" },
	{ CTL_DELETE, "delete", 1, 1, CTL_LATER, NULL,
	    "delete NAME", "move a letter (queued or held) to dead/" },
	{ CTL_BOUNCE, "bounce", 1, 2, CTL_LATER | CTL_REST, NULL,
	    "bounce NAME [REASON]", "return a queued letter to its sender now (one NDN)" },
	{ CTL_FORWARD, "forward", 2, 2, CTL_LATER | CTL_REST, NULL,
	    "forward NAME ADDRESS", "send a queued letter to ADDRESS instead (routed as usual)" },
	{ CTL_REROUTE, "reroute", 0, 2, CTL_REST, check_reroute,
	    "reroute [HOST ROUTE|--clear HOST]",
	    "force HOST's route, kept; --clear HOST ends it; alone: list" },
	{ CTL_RESUBMIT, "resubmit", 1, 1, CTL_LATER | CTL_RESULT, NULL,
	    "resubmit NAME", "queue the archived copy of NAME as a new letter; its name" },
	{ CTL_RELOAD, "reload", 0, 0, 0, NULL,
	    "reload", "make the daemon reload its configuration" },
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
	char    show[CTL_ECHO_MAX + 4];
	char   *p, *e, *verb;
	size_t  i;

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
	for (;;) {
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
		/* the last argument of a CTL_REST request: all that is left */
		if ((cmd->flags & CTL_REST) && rq->argc == cmd->max_args)
			break;
		while (p < e && *p != ' ')
			p++;
		if (p < e)
			*p++ = '\0';
	}
	if (rq->argc < cmd->min_args || (cmd->check != NULL && cmd->check(rq) < 0))
		return usage(rq, err, errlen);
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
