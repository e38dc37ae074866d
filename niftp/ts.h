/*++
 * NAME
 *	ts 3h
 * SUMMARY
 *	the transport service: calls over TCP, Unix sockets, commands, stdio
 * SYNOPSIS
 *	#include "niftp/ts.h"
 * DESCRIPTION
 *	A transport-service call (struct ts_conn) offers the Yellow Book
 *	primitives CONNECT, ACCEPT, DATA with PUSH, RESET and DISCONNECT,
 *	each with reason codes and text, over these drivers (addresses as
 *	in DESIGN section 7):
 *
 *	  tcp:HOST:PORT, tcp:[V6]:PORT   Yellow Book framing (IEN 154) over TCP
 *	  unix:PATH                      Yellow Book framing over a Unix stream socket
 *	  exec:COMMAND ARGS              Yellow Book framing over a child's stdin/stdout
 *	                                 (run with /bin/sh -c)
 *	  stdio                          Yellow Book framing over our stdin/stdout
 *	  rawtcp:HOST:PORT               unix-niftp's mapping: "called\0" then the bare
 *	                                 stream; no ACCEPT, RESET or reasons
 *
 *	Everything is non-blocking and driven by a util/loop.h loop.
 *	Events reach the owner through one callback (ts_set_handler).
 *	Timeouts (struct ts_opts) end a call with TS_EV_DISCONNECT,
 *	reason TS_R_TSFAIL and a text naming the timeout.
 *
 *	Back-pressure: ts_send() queues at most the send cap; ts_room()
 *	says how much more may be queued, and TS_EV_DRAINED is raised when
 *	the queue falls below half the cap after ts_send() found it full or
 *	after ts_room() returned less than the caller wanted (ts_want_room).
 *	ts_pause() stops reading from the peer (the kernel then slows it).
 *
 *	Lifetime: a ts_conn is freed only by ts_close(). After
 *	TS_EV_DISCONNECT no more events come; the owner must ts_close().
 *	It is safe to call ts_close() from inside the event callback.
 *
 *	Events are raised only from the loop, never from inside a ts_*()
 *	call: a failure found during ts_send() etc. is reported as
 *	TS_EV_DISCONNECT on the next loop pass.
 *
 *	Listener side: data that follows the CONNECT before ts_accept() is
 *	kept (up to the send cap, at least 64 KiB; beyond that reading
 *	stops) and delivered after ts_accept(), in order and with its push
 *	boundaries (at most 32 of them are kept apart). A caller's
 *	DISCONNECT or close before ts_accept() still raises TS_EV_DISCONNECT.
 *
 *	ts_disconnect() and ts_refuse() flush, send DISCONNECT, half-close
 *	and raise TS_EV_DISCONNECT when the peer closes in turn (at most
 *	5 s later); a peer's DISCONNECT is answered by closing at once.
 *
 *	rawtcp: each chunk received is one TS_EV_DATA with push = 1. The
 *	peer's close is TS_EV_DISCONNECT with TS_R_NORMAL when the call is
 *	open and nothing of ours is unsent, TS_R_TSFAIL otherwise.
 *
 *	Raw data phase (ts_raw_*, for vcgw's splice path): between two
 *	Yellow Book calls the octets of data records pass unchanged, so a
 *	gateway may move them itself (splice(2) through a pipe) instead of
 *	through TS_EV_DATA and ts_send(). It takes one call's input and the
 *	other call's output, each at a place in the record structure
 *	(struct ts_ybpos); while the owner holds the input, ts does not read
 *	the socket; while it holds the output, ts writes nothing to it
 *	(ts_send() refuses, ts_room() is 0, no TS_EV_DRAINED) and the owner
 *	must give it back before ts_reset() or ts_disconnect() on that call.
 *	Everything else (commands read, timers, the other direction) goes
 *	on as usual. The owner gives each back with the place where it
 *	stopped; ts goes on from there.
 *--*/
#ifndef NIFTP_TS_H
#define NIFTP_TS_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct ts_conn;
struct ts_listener;

/* Yellow Book reason codes (DISCONNECT and RESET). */
#define TS_R_NORMAL	0
#define TS_R_NOCONN	16
#define TS_R_BUSY	17
#define TS_R_OUTOFORDER	18
#define TS_R_BADADDR	19
#define TS_R_BARRED	20
#define TS_R_LOCALPROC	32
#define TS_R_REMOTEPROC	33
#define TS_R_APPFAIL	39
#define TS_R_TSFAIL	40

/* Yellow Book command codes over TCP (IEN 154). */
#define YB_CONNECT	16
#define YB_ACCEPT	17
#define YB_DISCONNECT	18
#define YB_RESET	19

enum ts_kind { TS_TCP, TS_RAWTCP, TS_UNIX, TS_EXEC, TS_STDIO };

/* A parsed transport address. */
struct ts_addr {
	enum ts_kind kind;
	char	host[256];	/* tcp, rawtcp: name or literal (no brackets) */
	char	port[16];	/* tcp, rawtcp */
	char	path[108];	/* unix */
	char	cmd[1024];	/* exec: the command line */
};

enum ts_ev_type {
	TS_EV_INCOMING,		/* listener side: CONNECT arrived; answer with
				 * ts_accept() or ts_refuse() (called, calling set) */
	TS_EV_ACCEPTED,		/* caller side: the far end accepted */
	TS_EV_DATA,		/* data octets; push = 1 at the end of a data record */
	TS_EV_RESET,		/* RESET: confirm = 0 the peer reset (answer with
				 * ts_reset()), 1 the answer to our ts_reset() */
	TS_EV_DISCONNECT,	/* the call ended (reason, text); only ts_close() now */
	TS_EV_DRAINED,		/* the send queue has room again */
};

struct ts_event {
	enum ts_ev_type type;
	const unsigned char *data;	/* DATA */
	size_t	len;
	int	push;
	int	confirm;		/* RESET */
	int	reason;			/* RESET, DISCONNECT: TS_R_* */
	const char *text;		/* RESET, DISCONNECT: explanatory text ("" if none) */
	const char *called;		/* INCOMING */
	const char *calling;		/* INCOMING */
};

/* opts may be NULL: all defaults. A field of 0 means its default, except
 * idle_timeout_ms, where 0 means none; connect and setup timeouts below 0
 * mean none. The send cap is at least 1024. */
struct ts_opts {
	int	connect_timeout_ms;	/* TCP/Unix connect (default 10000) */
	int	setup_timeout_ms;	/* CONNECT to ACCEPT (default 30000) */
	int	idle_timeout_ms;	/* no octets either way (default 660000; 0 none) */
	size_t	send_cap;		/* queued octets (default 256 KiB) */
	const char *local_name;		/* our name for DISCONNECT/RESET initiator */
};

typedef void ts_event_fn(struct ts_conn *c, const struct ts_event *ev, void *arg);
/* a new call on a listener: set its handler before returning */
typedef void ts_new_fn(struct ts_listener *l, struct ts_conn *c, void *arg);

/* ts_addr_parse - parse an address string; 0, or -1 with err */
int  ts_addr_parse(const char *s, struct ts_addr *a, char *err, size_t errlen);
/* ts_addr_str - canonical text of an address (into buf) */
const char *ts_addr_str(const struct ts_addr *a, char *buf, size_t len);

/* ts_connect - start a call to addr with called/calling addresses (calling
 * may be NULL). Events: TS_EV_ACCEPTED, or TS_EV_DISCONNECT when refused or
 * unreachable (reason TS_R_NOCONN etc., text names the peer). NULL with err
 * only for a bad address or a local failure (fork, socket). */
struct ts_conn *ts_connect(struct loop *loop, const char *addr, const char *called,
	const char *calling, const struct ts_opts *opts, ts_event_fn *fn, void *arg,
	char *err, size_t errlen);

/* ts_listen - accept calls on addr (not exec). stdio serves exactly one
 * call on fds 0 and 1. NULL with err. */
struct ts_listener *ts_listen(struct loop *loop, const char *addr,
	const struct ts_opts *opts, ts_new_fn *fn, void *arg, char *err, size_t errlen);
/* ts_listener_close - stop listening (calls already made live on; a Unix
 * socket path we created is removed) */
void ts_listener_close(struct ts_listener *l);
/* ts_listener_addr - the bound address (tcp port 0 resolved) */
const char *ts_listener_addr(const struct ts_listener *l);

/* ts_set_handler - set the event callback of a call */
void ts_set_handler(struct ts_conn *c, ts_event_fn *fn, void *arg);
/* ts_accept - accept an incoming call; 0 or -1 */
int  ts_accept(struct ts_conn *c);
/* ts_refuse - refuse an incoming call with reason and text; the call ends
 * (TS_EV_DISCONNECT follows) */
void ts_refuse(struct ts_conn *c, int reason, const char *text);

/* ts_send - queue data; push ends the data record. 0, or -1 when the call is
 * not open or the cap would be passed (nothing queued) */
int  ts_send(struct ts_conn *c, const void *p, size_t len, int push);
/* ts_room - octets that may be queued now */
size_t ts_room(const struct ts_conn *c);
/* ts_want_room - ask for TS_EV_DRAINED once room is back */
void ts_want_room(struct ts_conn *c);
/* ts_queued - octets queued and not yet written to the kernel */
size_t ts_queued(const struct ts_conn *c);
/* ts_pause - 1: stop reading from the peer; 0: read again */
void ts_pause(struct ts_conn *c, int on);

/* ts_reset - send RESET (or answer the peer's): queued output is discarded.
 * On rawtcp there is no RESET: the call is disconnected instead. */
void ts_reset(struct ts_conn *c, int reason, const char *text);
/* ts_disconnect - send what is queued, then DISCONNECT with reason and text,
 * and close; TS_EV_DISCONNECT follows (reason as given) */
void ts_disconnect(struct ts_conn *c, int reason, const char *text);
/* ts_close - free the call; an open call is disconnected abruptly first */
void ts_close(struct ts_conn *c);

/* ts_kind - the driver of a call */
enum ts_kind ts_conn_kind(const struct ts_conn *c);
/* ts_called, ts_calling - addresses of the call ("" if none) */
const char *ts_called(const struct ts_conn *c);
const char *ts_calling(const struct ts_conn *c);
/* ts_peer - the peer for messages and rawtcp caller identity:
 * "127.0.0.1:4521", "[::1]:4521", "unix:/path", "exec:cmd", "stdio" */
const char *ts_peer(const struct ts_conn *c);
/* ts_peer_uid - the user id of a unix: caller (SO_PEERCRED): 0 with *uid,
 * -1 for other kinds or when the kernel does not say */
int  ts_peer_uid(const struct ts_conn *c, unsigned long *uid);
/* ts_peer_loopback_uid - the user id owning the other end of a tcp:/rawtcp:
 * call over loopback (the kernel's socket table, /proc/net/tcp or tcp6,
 * as identd would answer): 0 with *uid, -1 when the call is not over
 * loopback or the other end is not found (another network namespace) */
int  ts_peer_loopback_uid(const struct ts_conn *c, unsigned long *uid);
/* ts_peer_ip - the address of a tcp:/rawtcp: peer as struct sockaddr
 * bytes: the family (AF_INET, AF_INET6; a v4-mapped v6 address is given
 * as AF_INET) and 4 or 16 octets in ip; -1 for other kinds */
int  ts_peer_ip(const struct ts_conn *c, int *family, unsigned char ip[16]);
/* ts_bytes - octets of payload sent and received so far */
void ts_bytes(const struct ts_conn *c, uint64_t *sent, uint64_t *rcvd);

/* A place in a Yellow Book stream's record structure (raw data phase). */
struct ts_ybpos {
	int	in_record;	/* inside a data record (its type octet is past) */
	size_t	body;		/* octets of the current sub-record's body not yet
				 * past (0..127; 0: at a sub-record boundary) */
	int	last;		/* with body > 0: that sub-record ends the record */
};

/* ts_raw_fd - the one socket of an open Yellow Book call (borrowed: dup it
 * to use it beyond the call's life), or -1 (rawtcp, stdio, not open) */
int  ts_raw_fd(const struct ts_conn *c);
/* ts_raw_take_input - the owner reads c's socket from now on: 0 with *pos,
 * the place after every octet ts read (all decoded and delivered); -1,
 * nothing changed, when c is not an open Yellow Book call, holds input not
 * yet delivered, stands inside a command, or a RESET is under way */
int  ts_raw_take_input(struct ts_conn *c, struct ts_ybpos *pos);
/* ts_raw_give_input - ts reads again, going on from pos; skipped: the
 * octets the owner consumed meanwhile (for offsets in error texts) */
void ts_raw_give_input(struct ts_conn *c, const struct ts_ybpos *pos, uint64_t skipped);
/* ts_raw_take_output - the owner writes c's socket from now on: 0 with
 * *pos (body 0; in_record says whether a data record is open); -1, nothing
 * changed, when c is not an open Yellow Book call, has output queued, or a
 * RESET is under way */
int  ts_raw_take_output(struct ts_conn *c, struct ts_ybpos *pos);
/* ts_raw_give_output - ts writes again; the stream stands at pos, and
 * rest (pos->body octets, copied: the rest of a sub-record the owner
 * half wrote) is written first. err != 0: the owner's write failed with
 * that errno; the call ends with TS_EV_DISCONNECT, reason TS_R_TSFAIL. */
void ts_raw_give_output(struct ts_conn *c, const struct ts_ybpos *pos,
	const unsigned char *rest, int err);
/* ts_raw_moved - the owner moved payload octets for c: count them (see
 * ts_bytes) and restart the idle timer */
void ts_raw_moved(struct ts_conn *c, uint64_t sent, uint64_t rcvd);

#endif
