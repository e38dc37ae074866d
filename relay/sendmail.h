/*++
 * NAME
 *	sendmail 3h
 * SUMMARY
 *	niftpmail-sendmail: an RFC 822 message from an MTA made a letter
 * SYNOPSIS
 *	#include "relay/sendmail.h"
 * DESCRIPTION
 *	The sendmail-compatible entry (doc/niftpmail-sendmail.8), shared
 *	by the program niftpmail-sendmail and by "mailctl sendmail": the
 *	message on standard input, the envelope sender from -f and the
 *	recipients from the command line (and, with -t, from To:, Cc: and
 *	Bcc:) become a letter (address list, blank line, message) that is
 *	submitted through the daemon exactly as "mailctl submit" does
 *	(relay/ctl_ops.h ctl_submit_from: the daemon's pipe, streamed; no
 *	whole-letter buffer: only the header is held, up to HDR_MAX).
 *
 *	The message is changed thus: a leading mbox "From " line is
 *	dropped, CRLF line ends become LF, every Return-Path: and Bcc:
 *	field is removed, and "Return-Path: <SENDER>" (or "<>") is put at
 *	the top when -f was given; a message without From: or Sender: gets
 *	"From: SENDER". Without -i, a line of a lone "." ends the message.
 * DIAGNOSTICS
 *	The exit status is what Postfix's pipe(8) expects: SM_OK (0) once
 *	the daemon said the letter is durable, SM_DATAERR (65) for bad
 *	data (a malformed message or address, no recipients with -t),
 *	SM_NOUSER (67) for a recipient this node already knows it cannot
 *	deliver (an unknown local user, an address its routes refuse),
 *	SM_TEMPFAIL (75) for everything else, usage errors and a daemon
 *	that is down included: Postfix defers and retries. Never 69.
 *--*/
#ifndef RELAY_SENDMAIL_H
#define RELAY_SENDMAIL_H

#define SM_OK		0
#define SM_DATAERR	65	/* EX_DATAERR: bounce, bad data */
#define SM_NOUSER	67	/* EX_NOUSER: bounce, unknown user */
#define SM_TEMPFAIL	75	/* EX_TEMPFAIL: defer, try again */

#define SM_IOBUF	(64 * 1024)			/* the standard input buffer */

/* sendmail_main - the whole command: argv[0] is the program's name (or
 * "sendmail" under mailctl), then sendmail's options and recipients.
 * conf is the configuration path mailctl was given with -c before the
 * command, or NULL. prog is the command as the user ran it (borrowed),
 * "niftpmail-sendmail" or "mailctl sendmail": messages on standard
 * error start with it, its first space made ": " ("mailctl: sendmail:
 * ..."), because an MTA quotes them in its bounces. Reads standard
 * input; returns the exit status. */
int sendmail_main(int argc, char **argv, const char *conf, const char *prog);

#endif
