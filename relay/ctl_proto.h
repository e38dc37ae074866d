/*++
 * NAME
 *	ctl_proto 3h
 * SUMMARY
 *	the control protocol of mailrelayd: one table of requests
 * SYNOPSIS
 *	#include "relay/ctl_proto.h"
 * DESCRIPTION
 *	The requests of the control socket SPOOL/control, listed once for
 *	the daemon (relay/ctl_server.c, which answers them) and for mailctl
 *	(relay/ctl.c, which checks a command line with the same table
 *	before it connects and lists the table in its --help).
 *
 *	Wire protocol: one request line per connection, "VERB ARGS" with
 *	arguments separated by spaces, at most CTL_LINE_MAX octets before
 *	the newline (a CR before the newline is allowed); then answer
 *	lines, the first "ok ..." or "err REASON" (one line), the last
 *	".". A request that changes queue state (CTL_LATER) is answered
 *	once its spool transactions are durable, queue once a worker made
 *	its listing (relay/qlist.h), trace-fetch once its call
 *	is over ("ok LEN", then the LEN octets of the document, which need
 *	not be lines, then "."; relay/trace_fetch.h); the others at once.
 *
 *	Parsing moves a cursor over a copy of the line and never reads
 *	past its length: control characters (0x00-0x1f, 0x7f) anywhere
 *	are refused, so neither a request nor the echo of one in an error
 *	can split a line. Nothing here does I/O.
 *
 *	Adding a request: an entry in ctl_cmds (ctl_proto.c) with its id
 *	here, its handler in relay/ctl_server.c, and doc/mailctl.1.
 *--*/
#ifndef RELAY_CTL_PROTO_H
#define RELAY_CTL_PROTO_H

#include <stddef.h>

struct buf;

#define CTL_LINE_MAX	4096	/* octets of a request line, without CR LF */
#define CTL_ARGS_MAX	256	/* arguments of one request */
#define CTL_ECHO_MAX	64	/* octets of a bad verb echoed in an error */
#define CTL_ERRLEN	256	/* an error of ctl_proto_parse() */

/* The requests; ctl_proto_get(id)->id == id. */
enum ctl_id {
	CTL_PING,
	CTL_PICKUP,
	CTL_QUEUE,
	CTL_RETRY,
	CTL_HOLD,
	CTL_RELEASE,
	CTL_DELETE,
	CTL_BOUNCE,
	CTL_FORWARD,
	CTL_REROUTE,
	CTL_RESUBMIT,
	CTL_RELOAD,
	CTL_FETCH,
	CTL_TRACE_FETCH,
	CTL_SUBMIT,
	CTL_NCMDS
};

/* Flags of a request. */
#define CTL_LATER	0x01	/* answered later, by a callback (a spool
				 * transaction, a worker, a call), and
				 * refused while stopping */
#define CTL_REST	0x02	/* the last argument is the rest of the line
				 * (spaces kept), e.g. bounce's REASON */
#define CTL_HIDDEN	0x04	/* not a mailctl command (submit sends
				 * pickup, trace sends trace-fetch) */
#define CTL_RESULT	0x08	/* "ok TEXT": mailctl prints TEXT */
#define CTL_ANYONE	0x10	/* any local user may ask; without it only
				 * root and the daemon's own user (the peer's
				 * uid by SO_PEERCRED, relay/ctl_server.c) */
#define CTL_SELECT	0x20	/* the arguments are a selection of letters
				 * (struct ctl_sel, ctl_proto_sel()) */
#define CTL_REASON	0x40	/* an argument "--reason" takes the rest of
				 * the line (spaces kept) as the next one */

/*
 * How an "err" answer starts when mailctl's exit status depends on it
 * (DESIGN section 2): "err usage: ..." 64; CTL_ERR_PERM 77 (a request
 * this user may not make); CTL_ERR_MALFORMED and CTL_ERR_TOOBIG 65 (a
 * submitted letter refused as bad data: not worth retrying).
 */
#define CTL_ERR_PERM		"permission denied: "
#define CTL_ERR_MALFORMED	"malformed letter: "
#define CTL_ERR_TOOBIG		"letter too large: "
#define CTL_ERR_STOPPING	"mail relay shutting down"	/* a CTL_LATER request
						 * while the daemon stops (queue: mailctl
						 * reads the spool instead) */

struct ctl_req;

/* One request of the protocol. */
struct ctl_cmd {
	enum ctl_id id;
	const char *verb;
	unsigned min_args;		/* arguments required */
	unsigned max_args;		/* at most; CTL_ARGS_MAX: any number */
	unsigned flags;			/* CTL_LATER, CTL_REST, ... */
	/* a syntax rule the counts cannot say (NULL: none): 0, or -1 for
	 * a usage error, with err saying what is wrong (or left empty:
	 * the usage alone is the reason) */
	int	(*check)(const struct ctl_req *rq, char *err, size_t errlen);
	const char *usage;		/* "hold NAME": the verb and its arguments */
	const char *help;		/* one line: what it does */
};

/* A parsed request. argv[] points into text, a NUL-separated copy of
 * the line; the struct owns everything (no release needed). */
struct ctl_req {
	const struct ctl_cmd *cmd;
	size_t	argc;
	const char *argv[CTL_ARGS_MAX];
	char	text[CTL_LINE_MAX + 1];
};

/* How a request line is refused. */
enum ctl_parse {
	CTL_PARSE_OK = 0,
	CTL_PARSE_EMPTY,		/* nothing but spaces */
	CTL_PARSE_LONG,			/* longer than CTL_LINE_MAX */
	CTL_PARSE_CTRL,			/* a control character */
	CTL_PARSE_UNKNOWN,		/* no such verb */
	CTL_PARSE_USAGE,		/* wrong arguments */
	CTL_PARSE_MANY			/* more than CTL_ARGS_MAX arguments */
};

/*
 * Selections (CTL_SELECT requests: queue, hold, release, delete, bounce,
 * retry). After the verb, in any order:
 *
 *	--to ADDR		a pending recipient is ADDR
 *	--from ADDR		the sender (the header's Sender:, else From:) is ADDR
 *	--hop HOP[,HOP...]	an envelope waits for one of these next hops
 *	--older-than DURATION	arrived at least DURATION ago (5m, 2h, 3d; s if bare)
 *	--state STATE[,STATE...] in one of these states (ctl_state_name)
 *	ALL			every letter that matches the options
 *	NAME...			these letters (no option then; retry: none is ALL)
 *	--json			queue only: the listing as one JSON document
 *	--reason TEXT...	bounce only, last: the rest of the line
 *
 * ADDR is "local@domain" (the local part exact, the domain in any case)
 * or "@domain" (anyone there). Each option at most once; a selection
 * with several options takes the letters that match all of them.
 */
enum ctl_state {
	CTL_ST_RECEIVED,	/* in/: not routed yet */
	CTL_ST_QUEUED,		/* queue/: no envelope tried yet */
	CTL_ST_DEFERRED,	/* queue/: an envelope failed and waits */
	CTL_ST_ACTIVE,		/* queue/: an envelope is being sent or finished */
	CTL_ST_HELD,		/* hold/ */
	CTL_NSTATES
};

#define CTL_SEL_ADDR_MAX 1024	/* octets of a --to or --from address */

/* A parsed selection; the strings point into the request (rq->text). */
struct ctl_sel {
	const char *to;			/* --to, or NULL */
	const char *from;		/* --from, or NULL */
	const char *hop;		/* --hop's list, or NULL */
	long long older;		/* --older-than in seconds, or -1 */
	unsigned states;		/* 1 << enum ctl_state per --state; 0: any */
	int	all;			/* ALL (or retry without names) */
	int	json;			/* --json */
	const char *reason;		/* --reason's text, or NULL */
	size_t	nnames;
	const char *names[CTL_ARGS_MAX];
};

/* ctl_state_name - "received", "queued", "deferred", "active", "held" */
const char *ctl_state_name(enum ctl_state st);

/* ctl_proto_sel - the selection of a parsed CTL_SELECT request into
 * *sel: 0, or -1 with err ("bad --state 'x' (received, queued, ...)",
 * empty for a plain usage error). ctl_proto_parse() has checked it. */
int	ctl_proto_sel(const struct ctl_req *rq, struct ctl_sel *sel, char *err, size_t errlen);

/* ctl_sel_hop - hop is one of sel's --hop list (case ignored); 1 when
 * there is no --hop */
int	ctl_sel_hop(const struct ctl_sel *sel, const char *hop);

/* ctl_sel_addr - the address text addr (canonical "local@domain", or
 * as written: a phrase and <...> are looked through) matches pattern, a
 * --to or --from value: 1 or 0 */
int	ctl_sel_addr(const char *pattern, const char *addr);

/* ctl_proto_get - the entry of request id (id < CTL_NCMDS, else panic) */
const struct ctl_cmd *ctl_proto_get(enum ctl_id id);

/* ctl_proto_find - the entry whose verb is the len octets at verb, or
 * NULL. Verbs are compared exactly (case matters). */
const struct ctl_cmd *ctl_proto_find(const char *verb, size_t len);

/* ctl_proto_parse - parse the request line (len octets, no newline; one
 * CR at the end is dropped) into *rq: the verb looked up, the arguments
 * split at runs of spaces (leading and trailing spaces ignored), with a
 * CTL_REST entry's last argument, and the argument after a CTL_REASON
 * entry's "--reason", taking the rest of the line, counted against the
 * entry and checked by its check(). CTL_PARSE_OK, or the
 * refusal with err holding a one-line reason without control characters
 * ("usage: hold NAME", "unknown request 'x'", ...); on a refusal,
 * rq->cmd is the entry when the verb was known (else NULL). */
enum ctl_parse ctl_proto_parse(const char *line, size_t len, struct ctl_req *rq,
	char *err, size_t errlen);

/* ctl_proto_esc - s (len octets) for one line of an answer or a log:
 * printable ASCII kept, '\\' and every other octet as \\ and \xNN. At
 * most dstlen - 1 octets and a NUL are written; text that does not fit
 * ends "..." (dstlen >= 4). Returns dst. */
char   *ctl_proto_esc(char *dst, size_t dstlen, const char *s, size_t len);

/* ctl_proto_help - append the mailctl command list: one entry per
 * request without CTL_HIDDEN, "  USAGE  HELP", aligned. 0, or -1 when
 * out is full. */
int	ctl_proto_help(struct buf *out);

#endif
