/*++
 * NAME
 *	rec 3h
 * SUMMARY
 *	strict line records: "KEY VALUE" lines that no value can forge
 * SYNOPSIS
 *	#include "relay/rec.h"
 * DESCRIPTION
 *	The text form of the relay's small records (server dockets,
 *	envelope files and envelope dockets): one "KEY SP VALUE LF" line per
 *	field, in the order written. It knows nothing of mail; each caller
 *	decides which keys it takes, which it needs, and whether one may
 *	repeat.
 *
 *	Grammar of a line:
 * .IP KEY
 *	1 to REC_KEY_MAX-1 octets of [a-z0-9._-]. Lower case only, so that
 *	"copy" and "Copy" can never be two spellings of one field (a reader
 *	that refuses a repeated key would otherwise take both).
 * .IP VALUE
 *	either raw: octets 0x20..0x7e, not starting with '"', spaces
 *	allowed, possibly empty ("KEY SP LF" is the empty value); or quoted
 *	as str_escape() writes it: '"', printable octets and the C escapes
 *	\\ \" \n \r \t \xNN (lowercase hex), a closing '"' that ends the
 *	line. The writer quotes every value that is not a plain word
 *	(str_escape), so free text from anyone (a copy identity, a name a
 *	peer assigned, an error message) is always one line.
 * .PP
 *	The reader guesses nothing: a record is taken whole or rejected
 *	with the line and the reason.
 *
 *	Ownership: text is borrowed for the call; the key and value passed
 *	to a rec_fn are valid only during that call.
 * DIAGNOSTICS
 *	rec_each() fills err with "line N: reason": "no newline at the end
 *	(torn record)", "empty line", "bad key", "key longer than 31
 *	octets", "no space after the key", "control octet 0x0d in the
 *	value", "control or 8-bit octet inside quotes", "bad escape",
 *	"truncated escape", "text after the closing quote", "NUL
 *	octet in the value", or the callback's own reason; a record larger
 *	than REC_TEXT_MAX gives "record of N octets is larger than the limit
 *	of 1048576". Panics (program errors): a bad key given to a writer,
 *	rec_addf() formatting anything but printable ASCII.
 *--*/
#ifndef RELAY_REC_H
#define RELAY_REC_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define REC_KEY_MAX	32		/* longest key + 1 */
#define REC_TEXT_MAX	(1 << 20)	/* largest record text */

/* rec_add - append "KEY VALUE\n" to b, VALUE = str_escape(val) (free text
 * from anyone, may be empty: written as ""). 0, or -1 when b's cap would be
 * passed (b unchanged). */
int	rec_add(struct buf *b, const char *key, const char *val);
/* rec_addn - rec_add() with an explicit length (val may hold any octet) */
int	rec_addn(struct buf *b, const char *key, const char *val, size_t len);
/* rec_addf - append "KEY VALUE\n" with a printf-formatted VALUE made of the
 * program's own numbers and words (printable ASCII and spaces, not starting
 * with '"'; anything else is a program error: panic; an empty result is
 * written as ""). 0 or -1 as rec_add. */
int	rec_addf(struct buf *b, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* rec_fn - one line: the key and the value (unescaped when it was quoted;
 * NUL-terminated; vlen octets, none of them NUL: such a line is rejected
 * before the call). Return 0 to go on, or -1 to reject the record with err
 * (errlen octets) filled, e.g. "unknown key 'x'", "bad value for
 * 'attempts'"; rec_each() puts "line N: " before it. */
typedef int rec_fn(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen);

/* rec_each - parse a whole record of len octets (see the grammar above),
 * calling fn for each line in order. 0 when every line was taken; -1 with
 * err "line N: reason" for a malformed line (also a missing final newline:
 * a torn record), a record larger than REC_TEXT_MAX, or fn returning -1.
 * Lines before the bad one have been passed to fn: a caller that rejects
 * the record throws away what it collected. Never reads past len; an empty
 * text (len 0) is a record of no lines. */
int	rec_each(const char *text, size_t len, rec_fn *fn, void *arg, char *err, size_t errlen);

/* rec_u64 - val is a decimal number in [min,max] (digits only: no sign, no
 * space, not empty) into *out; 0 or -1 (*out unchanged) */
int	rec_u64(const char *val, uint64_t min, uint64_t max, uint64_t *out);

#endif
