/*++
 * NAME
 *	vcgw_pump 3h
 * SUMMARY
 *	one direction of a gateway call: data records spliced socket to
 *	pipe to socket
 * SYNOPSIS
 *	#include "vcgw/vcgw_pump.h"
 * DESCRIPTION
 *	Between two Yellow Book calls the octets of data records pass the
 *	gateway unchanged, so a pump moves them with splice(2): from the
 *	socket of one call (in) into a pipe, and from the pipe into the
 *	socket of the other (out). They are never written from user space.
 *
 *	The record structure must still be seen: a command record (RESET,
 *	DISCONNECT) is the owner's to read, through the transport service;
 *	payload octets are counted; and where the output stands must be
 *	known when the pump stops. Yellow Book has a header octet every
 *	128 octets at most, so the pump peeks (MSG_PEEK) at what the input
 *	socket holds, into the caller's scratch buffer, scans the headers,
 *	and splices exactly the octets scanned: one read-only copy into a
 *	cache-warm buffer instead of a copy in and a copy out, and no
 *	re-framing.
 *
 *	Only whole sub-records go out: the part of one that has come in
 *	waits in the pipe until the rest has come. A pump that stops
 *	therefore never leaves the output inside a sub-record whose rest
 *	it cannot supply (vcgw_pump_release).
 *
 *	Back-pressure: the pump takes in no more than the pipe holds
 *	(vcgw_pump_wants says when to read); a slow output stops the
 *	input, and the kernel's socket buffers then slow the sender.
 *
 *	The descriptors are borrowed and must be non-blocking sockets;
 *	SIGPIPE must be ignored (splice has no MSG_NOSIGNAL).
 *
 *	Life of a pump: vcgw_pump_new; then, any number of times,
 *	vcgw_pump_start (the owner took the input and the output from
 *	the transport service at the places given), vcgw_pump_run on
 *	readiness, vcgw_pump_stop_input (input back to the transport
 *	service), vcgw_pump_release (output back); vcgw_pump_free.
 *--*/
#ifndef VCGW_PUMP_H
#define VCGW_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include "niftp/ts.h"

struct vcgw_pump;

#define VCGW_PUMP_SUBMAX	127	/* octets in a sub-record body */

/* What one vcgw_pump_run() did. */
struct vcgw_pump_res {
	uint64_t moved;		/* payload octets taken in */
	uint64_t written;	/* octets written (framing included) */
	int	stopped;	/* the input stopped: a command record is next,
				 * or the end, or an error the transport service
				 * will see when it reads (vcgw_pump_stop_input) */
	int	nosplice;	/* ... because the kernel refused to splice from
				 * this socket (nothing was lost) */
	int	out_err;	/* a write failed with this errno: only
				 * vcgw_pump_release() is left to do */
};

/* vcgw_pump_new - a pump with its pipe, asking the kernel for pipe_size
 * octets (it keeps its default when it refuses). NULL with err when no
 * pipe can be made (descriptors). */
struct vcgw_pump *vcgw_pump_new(size_t pipe_size, char *err, size_t errlen);
/* vcgw_pump_free - close the pipe and free (NULL is fine) */
void vcgw_pump_free(struct vcgw_pump *p);
/* vcgw_pump_pipe_size - what the kernel gave */
size_t vcgw_pump_pipe_size(const struct vcgw_pump *p);

/* vcgw_pump_start - move records from in_fd, whose stream stands at
 * inpos, to out_fd, whose stream stands at outpos (a pump that is idle:
 * new, or stopped and released). 0, or -1 when the two places do not
 * fit together (a record open on the output but not on the input). */
int  vcgw_pump_start(struct vcgw_pump *p, int in_fd, int out_fd,
	const struct ts_ybpos *inpos, const struct ts_ybpos *outpos);

/* vcgw_pump_run - read (when can_read) and write (when can_write) until
 * the kernel says wait, a command record is next, or the pipe is full;
 * scratch (len octets) is where the input is peeked at. *res says what
 * happened. */
void vcgw_pump_run(struct vcgw_pump *p, int can_read, int can_write,
	unsigned char *scratch, size_t len, struct vcgw_pump_res *res);

/* vcgw_pump_wants - what the pump waits for: *rd the input to be
 * readable, *wr the output to be writable */
void vcgw_pump_wants(const struct vcgw_pump *p, int *rd, int *wr);
/* vcgw_pump_reading, vcgw_pump_writing - it holds the input / output */
int  vcgw_pump_reading(const struct vcgw_pump *p);
int  vcgw_pump_writing(const struct vcgw_pump *p);
/* vcgw_pump_drained - the input is stopped and everything that can go
 * out went out (what is left is part of a sub-record whose rest will
 * never come) */
int  vcgw_pump_drained(const struct vcgw_pump *p);

/* vcgw_pump_stop_input - stop reading: *pos is where the input stream
 * stands, *skipped the octets consumed since vcgw_pump_start. Octets of
 * an unfinished sub-record already in the pipe never go out. */
void vcgw_pump_stop_input(struct vcgw_pump *p, struct ts_ybpos *pos, uint64_t *skipped);
/* vcgw_pump_release - stop writing (the input is stopped) and empty the
 * pipe: what has not gone out is discarded, but for the rest of a
 * sub-record already half written, which is copied into rest
 * (pos->body octets, at most VCGW_PUMP_SUBMAX) for the transport
 * service to write first. *pos is where the output stream stands after
 * it. Returns the octets discarded (the rest not counted). */
size_t vcgw_pump_release(struct vcgw_pump *p, unsigned char *scratch, size_t len,
	struct ts_ybpos *pos, unsigned char rest[VCGW_PUMP_SUBMAX]);

/*
 * The scanner, for tests: walk n octets of a stream from a place (in
 * *st) the way the pump does, stopping before a record type octet that
 * is not 0 (a command, or a framing error for the transport service to
 * report). Returns the octets walked; *payload gets the body octets
 * among them, *stop 1 when it stopped before such a type octet.
 */
struct vcgw_scan {
	int	in_record;	/* a data record is open */
	size_t	body;		/* octets of the current sub-record body to come */
	int	last;		/* that sub-record ends the record */
};
size_t vcgw_pump_scan(struct vcgw_scan *st, const unsigned char *b, size_t n,
	uint64_t *payload, int *stop);

#endif
