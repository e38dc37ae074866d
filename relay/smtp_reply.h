/*++
 * NAME
 *	smtp_reply 3h
 * SUMMARY
 *	SMTP client transcript: pair each reply with the command it answers
 * SYNOPSIS
 *	#include "relay/smtp_reply.h"
 * DESCRIPTION
 *	libcurl reports no result per RCPT. With CURLOPT_VERBOSE its
 *	CURLOPT_DEBUGFUNCTION shows the commands it sends
 *	(CURLINFO_HEADER_OUT) and the reply lines it receives
 *	(CURLINFO_HEADER_IN). An smtp_tx is fed those octets, in the order
 *	the callback sees them, and rebuilds the transaction from them: the
 *	MAIL FROM reply, one reply per RCPT TO in the order sent, the DATA
 *	reply, and the reply to the message itself. It does no I/O and
 *	knows nothing of libcurl beyond that transcript, so tests and the
 *	fuzzer drive it with plain bytes.
 *
 *	Pairing. Every command line sent (LF-terminated, in any number of
 *	pieces) is queued; every complete reply (a run of "NNN-text"
 *	lines ended by "NNN text" or "NNN") answers the oldest queued
 *	command (RFC 5321 4.2, RFC 2920: replies come in command order,
 *	also when several commands were pipelined). A reply with nothing
 *	queued is the greeting when it is the first reply on the
 *	connection, the reply to the message when a 354 was the last
 *	reply (the final "." goes out as body data, not as a command), and
 *	otherwise unsolicited (a 421 before the server closes).
 *
 *	Transactions. A MAIL FROM or RSET sent starts a new transaction:
 *	the MAIL, RCPT, DATA and final results of the previous one are
 *	forgotten. Replies still owed to commands of an earlier transaction
 *	(pipelined "RCPT, RSET, MAIL") update only the last reply. The
 *	greeting, HELO/EHLO, STARTTLS and AUTH replies belong to the
 *	connection and survive that; smtp_tx_reset() forgets everything
 *	(a new connection).
 *
 *	Why "end of message" ignores "." and empty sent lines: libcurl
 *	writes the end-of-data mark itself and, when that write is short,
 *	shows the rest through CURLINFO_HEADER_OUT. After a 354 such
 *	fragments are not commands. Any other command sent after the 354
 *	cancels the wait for the message reply: the reply that follows
 *	answers that command, and the message's outcome stays unknown.
 *
 *	Losing the thread. When a command cannot be queued (more than
 *	SMTP_TX_PENDING_MAX owed replies) or a reply other than a 421
 *	arrives with nothing owed, later pairings cannot be trusted:
 *	smtp_tx_desync() turns 1 and stays so until smtp_tx_reset(), and
 *	smtp_tx_outcome() defers every recipient. Lines that are not
 *	replies ("NNN" with N out of range, no code) are ignored and
 *	counted (smtp_tx_garbage()).
 *
 *	Bounds. A line is kept up to SMTP_LINE_MAX octets (the rest is
 *	dropped, the line still counts); a reply's text up to
 *	SMTP_REPLY_TEXT_MAX octets; at most SMTP_TX_RCPT_MAX recipients
 *	per transaction (later RCPTs are paired but not recorded) and at
 *	most SMTP_TX_PENDING_MAX owed replies. Reply text is the text
 *	after each line's code and separator, the lines joined by "\n";
 *	other control octets and DEL become '?', so the text is a C string
 *	of printable octets, 8-bit ones included, and '\n'.
 *
 *	smtp_addr_ok() is the check every address passes before it is
 *	handed to libcurl, which copies an address into "RCPT TO:<%s>"
 *	without looking at it: a CR or LF would inject commands, a '<' or
 *	'>' would end the path early.
 *
 *	Ownership: fed octets are copied; text pointers returned stay valid
 *	until the next smtp_tx_feed(), smtp_tx_reset() or smtp_tx_free().
 *	Allocation failures panic (util/alloc.h); nothing else does.
 *--*/
#ifndef RELAY_SMTP_REPLY_H
#define RELAY_SMTP_REPLY_H

#include <stddef.h>

#include "mailchannel/addr.h"

#define SMTP_LINE_MAX		2048	/* octets of one line kept (RFC 5321: 512) */
#define SMTP_REPLY_TEXT_MAX	512	/* octets of one reply's text kept */
#define SMTP_TX_RCPT_MAX	ADDR_LIST_MAX	/* recipients recorded per transaction */
#define SMTP_TX_PENDING_MAX	(ADDR_LIST_MAX + 16)	/* commands owed a reply */
/* longest address: "MAIL FROM:<" ADDR ">" CRLF fits the 512-octet
 * command line of RFC 5321 4.5.3.1.4 */
#define SMTP_ADDR_MAX		(512 - 14)

/* replies of the connection and of the current transaction */
enum smtp_step {
	SMTP_GREETING,		/* the 220 banner (connection) */
	SMTP_HELLO,		/* last EHLO/HELO/LHLO (connection) */
	SMTP_STARTTLS,		/* STARTTLS (connection) */
	SMTP_AUTH,		/* last reply of the AUTH exchange (connection) */
	SMTP_MAIL,		/* MAIL FROM (transaction) */
	SMTP_DATA,		/* DATA: 354 or a refusal (transaction) */
	SMTP_FINAL,		/* the reply to the message after 354 (transaction) */
	SMTP_QUIT,		/* QUIT (connection) */
	SMTP_LAST,		/* the last complete reply of any kind */
	SMTP_NSTEP
};

/* what became of one recipient */
enum smtp_outcome {
	SMTP_SENT = 1,		/* accepted and the message taken (2xx final) */
	SMTP_DEFER,		/* try again: 4xx, or no reply, or desync */
	SMTP_FAIL		/* permanent: a 5xx at MAIL, RCPT, DATA or final */
};

struct smtp_tx;

/* smtp_tx_new - an empty transcript for a new connection */
struct smtp_tx *smtp_tx_new(void);

/* smtp_tx_free - release tx and everything it holds; NULL is fine */
void	smtp_tx_free(struct smtp_tx *tx);

/* smtp_tx_reset - forget everything, as for a new connection */
void	smtp_tx_reset(struct smtp_tx *tx);

/* smtp_tx_feed - n octets (any octets, any split) of the transcript:
 * sent != 0 for commands we sent (CURLINFO_HEADER_OUT), 0 for replies
 * received (CURLINFO_HEADER_IN). Never fails; see DESCRIPTION. */
void	smtp_tx_feed(struct smtp_tx *tx, int sent, const char *p, size_t n);

/* smtp_tx_code - the code of a step's reply (200..599), 0 when none came
 * (yet, or in this transaction); its text in *text unless text is NULL
 * ("" when there is none) */
int	smtp_tx_code(const struct smtp_tx *tx, enum smtp_step step, const char **text);

/* smtp_tx_nrcpt - RCPT TO commands recorded in this transaction (at most
 * SMTP_TX_RCPT_MAX), whether or not answered */
size_t	smtp_tx_nrcpt(const struct smtp_tx *tx);

/* smtp_tx_rcpt_code - the reply code to the i-th RCPT TO (from 0) of this
 * transaction, 0 when none came or i >= smtp_tx_nrcpt(); text as for
 * smtp_tx_code() */
int	smtp_tx_rcpt_code(const struct smtp_tx *tx, size_t i, const char **text);

/* smtp_tx_rcpt_addr - the address of the i-th RCPT TO as sent, between
 * the angle brackets (after libcurl's IDN conversion: compare host parts
 * with that in mind), or NULL when i >= smtp_tx_nrcpt() */
const char *smtp_tx_rcpt_addr(const struct smtp_tx *tx, size_t i);

/* smtp_tx_outcome - what became of the i-th recipient: the first of the
 * MAIL, RCPT i, DATA and final replies that is not a success decides
 * (5xx: SMTP_FAIL; 4xx, none, or anything else: SMTP_DEFER); all of them
 * successes (2xx, and 3xx for DATA) give SMTP_SENT. Always SMTP_DEFER
 * when smtp_tx_desync(). The deciding code (0 when a reply is missing)
 * in *code and its text in *text, each unless NULL. */
enum smtp_outcome smtp_tx_outcome(const struct smtp_tx *tx, size_t i, int *code,
	const char **text);

/* smtp_tx_desync - 1 when replies and commands may be mispaired */
int	smtp_tx_desync(const struct smtp_tx *tx);

/* smtp_tx_garbage - received lines ignored since the last reset because
 * they were not reply lines */
unsigned long smtp_tx_garbage(const struct smtp_tx *tx);

/* smtp_tx_pending - commands sent and not yet answered */
size_t	smtp_tx_pending(const struct smtp_tx *tx);

/* smtp_addr_ok - 0 when addr may go into MAIL FROM:<> or RCPT TO:<>: not
 * empty, at most SMTP_ADDR_MAX octets, no control octet (CR and LF above
 * all; a NUL ends a C string, so a caller holding a length must refuse an
 * inner NUL itself), no DEL, no '<' or '>'. Otherwise -1 and why (when
 * not NULL, len > 0) says "address 'PREFIX': REASON", the prefix at most
 * 40 octets with unprintable ones shown as '?'. The null sender is not an address: leave CURLOPT_MAIL_FROM
 * unset and libcurl sends MAIL FROM:<>. */
int	smtp_addr_ok(const char *addr, char *why, size_t len);

#endif
