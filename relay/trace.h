/*++
 * NAME
 *	trace 3h
 * SUMMARY
 *	a letter's life at one node, from its journal (mailctl trace)
 * SYNOPSIS
 *	#include "relay/trace.h"
 * DESCRIPTION
 *	Tracing is a reading of journals, across nodes (DESIGN section 9).
 *	A node's record of a letter is a TRACE DOCUMENT: the journal lines
 *	about the letter (and about the notices it caused) in the journal's
 *	own line format, led by a header line and followed by route lines
 *	that say how this node reaches the next hops and the previous node
 *	(so a tracer elsewhere can go on with the same route mail takes):
 *
 *	    TIME trace KEY node=NODE version=1 names=N
 *	    TIME received NAME from=... (journal lines, oldest first)
 *	    TIME route HOP addr=ADDR called=CALLED     (one per next hop used)
 *	    TIME noderoute NODE addr=ADDR called=CALLED (the previous node;
 *	                                               noroute=1 when none)
 *
 *	The same document is built for a local trace (mailctl reads the
 *	spool) and served to remote tracers as the read-only virtual file
 *	trace:KEY (relay/trace_fs.c), so both go through one parser
 *	(journal_parse: strict, fuzzed).
 *
 *	KEY is a spool name, a Message-ID (with or without <>; "msgid:ID"
 *	forces it), the name of a file dropped into out/ ("out:FILE"
 *	forces it; only lines without peer=, i.e. drops and submissions,
 *	or from a local caller), or a previous hop's name for the letter
 *	(matched against donor=NODE/NAME when trace_donor_ok() believes
 *	it). The notices a letter caused (ndn, warned, ack) are collected
 *	with it; a resubmitted letter links its original by orig=NAME. A
 *	Message-ID is the sender's word: every letter carrying it is found.
 *
 *	Structures below are read-only for callers: they are built by
 *	trace_doc_parse() and freed by trace_doc_free().
 *--*/
#ifndef RELAY_TRACE_H
#define RELAY_TRACE_H

#include <stddef.h>

struct buf;
struct conf;
struct route_table;

#define TRACE_DOC_MAX	(4 * 1024 * 1024)	/* largest trace document */
#define TRACE_MAX_NAMES	64			/* letters collected for one key */
#define TRACE_ERRLEN	512

/* One journal line of a letter. */
struct trace_ev {
	char	time[24];
	char   *event;
	char  **kv;		/* key, value, key, value ... (unescaped copies) */
	size_t	nkv;		/* pairs */
};

/* One letter at one node. */
struct trace_letter {
	char   *name;
	struct trace_ev *ev;
	size_t	nev;
	const struct trace_ev *recv;	/* received, corrupt, refused or recovered line */
	char	status[32];		/* see trace_letter_status() */
	char	detail[600];		/* why queued/failed/held, or "" */
};

/* How the node reaches a hop (kind 'h') or a previous node (kind 'n'). */
struct trace_route {
	int	kind;
	char   *name;
	char   *addr;		/* NULL: no route */
	char   *called;
};

struct trace_doc {
	char   *node;
	char   *key;
	struct trace_letter *l;
	size_t	nl;
	struct trace_route *r;
	size_t	nr;
};

/* trace_collect - scan the journals of spool directory spool for the
 * letters KEY names (see DESCRIPTION) and append their lines, oldest
 * first, in canonical journal form to out. Returns the number of
 * letters found (0: none), or -1 with err (journal unreadable, or out
 * full). Reads only; safe on a worker thread and without a daemon. */
int  trace_collect(const char *spool, const char *key, struct buf *out,
	char *err, size_t errlen);

/* trace_document - the whole document for key at node: the header
 * line, lines (as from trace_collect), and the route lines computed
 * from rt (borrowed; may be NULL: no route lines). 0, or -1 when out's
 * cap was passed. */
int  trace_document(const char *node, const char *key, const struct route_table *rt,
	const char *lines, size_t len, int nnames, struct buf *out);

/* trace_doc_parse - parse a document (from here or from a peer: it is
 * untrusted). NULL with err when it is not one. */
struct trace_doc *trace_doc_parse(const char *text, size_t len, char *err, size_t errlen);
/* trace_doc_free - NULL allowed */
void trace_doc_free(struct trace_doc *d);

/* trace_donor_ok - may a received line's donor=NODE/NAME (donor) be
 * believed, given the line's peer= and auth= values (NULL when the line
 * has none)? 1 when the line has no peer= (a letter made here, or a
 * journal older than peers), when auth is "local" (root or the daemon's
 * user: it could write the spool itself), or when peer is NODE (ignoring
 * case); else 0, as for a donor without '/'. A donor not believed links
 * nothing: a trace by its NAME does not find the line, no noderoute line
 * is written for NODE, and mailctl trace --back stops there. */
int  trace_donor_ok(const char *donor, const char *peer, const char *auth);

/* trace_ev_get - the value of key in ev, or NULL */
const char *trace_ev_get(const struct trace_ev *ev, const char *key);
/* trace_find - the letter named name in d, or NULL */
const struct trace_letter *trace_find(const struct trace_doc *d, const char *name);
/* trace_root - the letter the key was about: the one not caused by
 * another letter of d (not a notice of one of them), first received */
const struct trace_letter *trace_root(const struct trace_doc *d);
/* trace_route_of - how d's node reaches hop (kind 'h') or node ('n'),
 * or NULL when the document does not say */
const struct trace_route *trace_route_of(const struct trace_doc *d, int kind,
	const char *name);

/* trace_service - the called address of the trace service for a mail
 * called address: a last ".MAIL" component dropped ("FTP.MAIL" gives
 * "FTP", "JANET.FTP.MAIL" gives "JANET.FTP"); otherwise "FTP". */
void trace_service(const char *mail_called, char *dst, size_t len);

/* trace_json_str - append s as a JSON string (quoted, escaped) */
void trace_json_str(struct buf *b, const char *s);

/* trace_main - "mailctl trace" (relay/trace_cli.c): argv[0] is "trace";
 * prints the trace and returns the exit status; c NULL: the arguments
 * checked (relay/ctl_ops.h CTL_ARGS_OK) */
int  trace_main(const struct conf *c, int argc, char **argv);

#endif
