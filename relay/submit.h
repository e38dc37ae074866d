/*++
 * NAME
 *	submit 3h
 * SUMMARY
 *	mailrelayd: a letter submitted over the control socket
 * SYNOPSIS
 *	#include "relay/submit.h"
 * DESCRIPTION
 *	"mailctl submit" sends its "submit" request; the daemon makes a
 *	pipe, keeps its read end and passes the write end back with the
 *	line "pipe" (SCM_RIGHTS, relay/ctl_server.c); the client writes the
 *	letter into it, closes it and says how many octets it wrote ("end
 *	N"). The read end never leaves the daemon: its open file description
 *	is the daemon's alone, so no client can clear its O_NONBLOCK (a
 *	descriptor passed by the client shares its file description with
 *	the client, which could make the daemon's read() block the loop for
 *	good; reopening it through /proc/self/fd is refused to a daemon that
 *	is not the pipe's owner, so the daemon makes the pipe instead).
 *	This module reads the pipe on the loop thread as data comes (a slow
 *	or silent submitter holds no thread), writes it into a new spool
 *	file (never the whole letter in memory), and once the pipe ended and
 *	the count matched, checks it with the letter reader and commits it
 *	through the inbound door (relay/inbound.h) into in/ with its
 *	received line, which names the submitter by the credentials the
 *	kernel gave for the connection (SO_PEERCRED: user=NAME uid=N;
 *	nothing the client says about itself is believed). The answer, with
 *	the letter's name, comes only once that transaction is durable; then
 *	the letter is archived and routed as a drop taken from out/ is.
 *
 *	The daemon never reads a file system on a submitter's behalf (a
 *	file on a FUSE mount could hang the loop), so mailctl copies a FILE
 *	argument into the pipe too.
 *
 *	A letter larger than [limits] max_letter_size, or one the reader
 *	refuses, is refused whole (SUBMIT_DATA); one cut short (the pipe
 *	ended before the octets announced, or the client left without
 *	"end"), idle for SUBMIT_IDLE_MS, not read whole within
 *	SUBMIT_DEADLINE_MS, slower on average than SUBMIT_RATE_MIN octets a
 *	second once SUBMIT_RATE_GRACE_MS have passed, or still being read
 *	when the daemon stops, is dropped (SUBMIT_TEMP): the submitter keeps
 *	it and may try again. So a slow submitter cannot hold a submission
 *	slot and a spool file for long. Nothing of a refused or dropped
 *	letter stays in the spool.
 * DIAGNOSTICS
 *	The reason passed to done() is one line; for SUBMIT_DATA it starts
 *	with CTL_ERR_MALFORMED or CTL_ERR_TOOBIG (relay/ctl_proto.h), so
 *	mailctl can tell a bad letter (exit 65) from a temporary failure.
 *	Refusals are logged at info, failures of the daemon's own as errors.
 *--*/
#ifndef RELAY_SUBMIT_H
#define RELAY_SUBMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct relayd;
struct submit;

#define SUBMIT_CHUNK	(64 * 1024)	/* octets read from the pipe at a time */
#define SUBMIT_IDLE_MS	60000		/* a submission that sends nothing this long is dropped */
#define SUBMIT_TICK_MS	1000		/* how often the idle time and a stop are looked at */
#define SUBMIT_DEADLINE_MS 600000	/* the whole letter and its "end" within this */
#define SUBMIT_RATE_GRACE_MS 60000	/* then, while the pipe is open, at least ... */
#define SUBMIT_RATE_MIN	1024		/* ... this many octets a second on average */
#define SUBMIT_USER_MAX	64		/* a submitter's login name */

/* Who submits: the kernel's word (SO_PEERCRED), and the login name of
 * that uid (or "uid:N" when it has none). */
struct submit_who {
	uid_t	uid;
	gid_t	gid;
	pid_t	pid;
	const char *user;		/* copied */
};

enum submit_status {
	SUBMIT_OK,
	SUBMIT_DATA,		/* the letter is malformed or too large: never retry it */
	SUBMIT_TEMP		/* not accepted now (cut short, idle, stopping, spool trouble) */
};

/* submit_done_fn - the outcome, once: SUBMIT_OK with the letter's name
 * (durable), or the status and a reason (both borrowed for the call).
 * It is never called from inside submit_start(), submit_end() or
 * submit_cancel(). */
typedef void submit_done_fn(void *arg, enum submit_status st, const char *name,
	const char *err);

/* submit_start - a submission for who: a pipe whose read end this
 * module keeps (non-blocking, its own) and whose write end goes to *wfd
 * for the caller to pass to the client and close; done(arg, ...) hears
 * the outcome. The submission, or NULL with err when it cannot start
 * (no pipe, spool file not created). */
struct submit *submit_start(struct relayd *rd, const struct submit_who *who,
	submit_done_fn *done, void *arg, int *wfd, char *err, size_t errlen);

/* submit_overdue - is a submission that has read size octets in ran_ms
 * (its pipe still open: reading) to be dropped: not done within
 * SUBMIT_DEADLINE_MS, or, while reading, less than SUBMIT_RATE_MIN octets
 * a second on average once SUBMIT_RATE_GRACE_MS have passed. 1 with why
 * (one line), or 0. */
int	submit_overdue(uint64_t size, int64_t ran_ms, int reading, char *why, size_t len);

/* submit_end - the client says it wrote size octets into the pipe: the
 * letter is committed once the pipe has ended and the counts agree */
void submit_end(struct submit *s, uint64_t size);

/* submit_cancel - the client left: the letter is dropped, done() is not
 * called, s is freed. A letter already being committed (the client left
 * after "end") is accepted all the same: only the answer is lost. */
void submit_cancel(struct submit *s);

#endif
