/*++
 * NAME
 *	trace_fetch 3h
 * SUMMARY
 *	another node's trace document, fetched by the daemon for mailctl
 * SYNOPSIS
 *	#include "relay/trace_fetch.h"
 * DESCRIPTION
 *	A node's trace service answers only entitled callers: authenticated
 *	peers and local callers ([listen] trace, doc/trace.md). mailctl
 *	cannot present the node's credentials (the password files are the
 *	daemon's), so "mailctl trace --follow" and "--back" ask the local
 *	daemon to fetch each remote document with the control request
 *
 *	    trace-fetch ADDR CALLED SECONDS KEY
 *
 *	(relay/ctl_proto.h; ADDR and KEY encoded with trace_fetch_enc(),
 *	since an address such as "exec:COMMAND ARGS" or a key may hold
 *	spaces). The daemon reads trace:KEY from ADDR, called address
 *	CALLED, over NIFTP on its own loop, within SECONDS (1..600), and
 *	answers "ok LEN", the LEN octets of the document, and ".", or
 *	"err REASON".
 *
 *	Which credentials: those of the [peer] named after the route hop one
 *	of whose alternates is ADDR with CALLED as its trace service
 *	(peer_for_hop(); trace_service() of the alternate's called address),
 *	so a node's password only ever goes to an address its own routes
 *	give for that peer, never to one a document from elsewhere names.
 *	An address the routes do not give is called without credentials, and
 *	only when calling it cannot run anything or block the loop: exec:
 *	and stdio are refused, and so is a tcp: or rawtcp: host that is not a
 *	literal IP address (the resolver blocks).
 *
 *	Only root and the daemon's user may send trace-fetch
 *	(trace_fetch_permitted: SO_PEERCRED), as they alone may read the
 *	spool whose letters it traces and could present the credentials
 *	themselves.
 *--*/
#ifndef RELAY_TRACE_FETCH_H
#define RELAY_TRACE_FETCH_H

#include <stddef.h>

struct buf;
struct conf;
struct relayd;
struct trace_fetch;

#define TRACE_FETCH_SECS_MAX	600	/* the longest fetch a request may ask for */
#define TRACE_FETCH_KEY_MAX	255	/* octets of KEY (trace_fs's limit) */
#define TRACE_FETCH_ERRLEN	512

/* --- the daemon's side ------------------------------------------------------ */

/* What a fetch calls once, on the loop, when it ends: ok 1 with the
 * document (doc, len: borrowed for the call only), or 0 with err (one
 * line: "no answer within 10 s", the remote refusal ...). */
typedef void trace_fetch_done_fn(void *arg, int ok, const char *doc, size_t len,
	const char *err);

/* trace_fetch_start - fetch trace:key from addr/called on rd's loop
 * within timeout_ms (see DESCRIPTION for the credentials and the
 * addresses refused). The strings are copied. Returns the fetch, whose
 * done() comes later (never from inside this call), or NULL with err
 * when nothing was started (a refused or malformed address, a key too
 * long). A fetch also ends, with an error, within a second of
 * rd->stopping being set. */
struct trace_fetch *trace_fetch_start(struct relayd *rd, const char *addr,
	const char *called, const char *key, int timeout_ms, trace_fetch_done_fn *done,
	void *arg, char *err, size_t errlen);

/* trace_fetch_cancel - end a fetch whose done() has not come: it never
 * will (its owner went away). NULL allowed. */
void trace_fetch_cancel(struct trace_fetch *tf);

/* trace_fetch_permitted - may the peer of the control connection fd send
 * trace-fetch (root, or the daemon's effective user)? 1, or 0 with why */
int  trace_fetch_permitted(int fd, char *why, size_t len);

/* --- the wire ----------------------------------------------------------------- */

/* trace_fetch_enc - s as one argument of a request line: every octet
 * outside '!'..'~', and '%', as %XX (hex). 0, or -1 when out is full. */
int  trace_fetch_enc(struct buf *out, const char *s);
/* trace_fetch_dec - read back trace_fetch_enc() text into dst (dstlen
 * octets, NUL included). 0, or -1 for a malformed %XX, a NUL, or text
 * that does not fit. */
int  trace_fetch_dec(const char *s, char *dst, size_t dstlen);

/* --- mailctl's side ----------------------------------------------------------- */

enum trace_ask {
	TRACE_ASK_OK = 0,	/* the document is in out */
	TRACE_ASK_REMOTE,	/* the daemon could not get it: err says why */
	TRACE_ASK_NODAEMON,	/* the daemon was not reached (not running) */
	TRACE_ASK_DENIED,	/* the control socket or the request refused this user */
};

/* trace_fetch_ask - ask c's daemon (over c->control) for trace:key at
 * addr/called, waiting at most timeout_ms for the fetch and a few
 * seconds more for the daemon; the document is appended to out (at
 * most TRACE_DOC_MAX octets). Anything but TRACE_ASK_OK comes with err. */
enum trace_ask trace_fetch_ask(const struct conf *c, const char *addr, const char *called,
	const char *key, int timeout_ms, struct buf *out, char *err, size_t errlen);

#endif
