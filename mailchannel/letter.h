/*++
 * NAME
 *	letter 3h
 * SUMMARY
 *	streaming letter reader and writer (Grey Book mail file)
 * SYNOPSIS
 *	#include "mailchannel/letter.h"
 * DESCRIPTION
 *	A letter is one file: an address list, one or more blank lines,
 *	an RFC 733 message header, a blank line, the body (DESIGN section
 *	3, doc/mail-format.md).
 *
 *	letter_open() reads and checks the address list and the header,
 *	and stops there: the body is then read as a stream with
 *	letter_body_read(), or copied by letter_write(). The reader holds
 *	at most one read buffer (LETTER_IOBUF), one address-list line
 *	(ADDR_LINE_MAX), the parsed address list (ADDR_LIST_MAX addresses
 *	of at most ADDR_MAX_LEN bytes) and the header (HDR_MAX): its
 *	memory does not grow with the size of the letter, whose body may
 *	be any length (letter_mem_used() tells what it holds).
 *
 *	A letter is refused (letter_open() returns NULL, *statusp is
 *	LETTER_EFORMAT) when it has no address list, no blank line after
 *	it, no message header, a header line that is not a field, no
 *	originator (Sender: or From: with a parseable first address), a
 *	bad address, or is cut short inside the header; the reason names
 *	the problem and the line, e.g. "line 3: no blank line after the
 *	address list (end of file)". A cap hit is LETTER_ECAP, a read
 *	failure LETTER_EIO.
 *
 *	Offsets are counted in bytes from the first byte the reader read
 *	(the start of the file when the fd was at offset 0).
 *
 *	A copy of a letter (letter_write) is a new address list, then
 *	optionally one Via: line, then the original header and body byte
 *	for byte. letter_prefix() computes the bytes that come before the
 *	original header, so a sender can store them once and re-send
 *	exactly the same bytes on a resumed transfer (DESIGN section 9).
 *--*/
#ifndef MAILCHANNEL_LETTER_H
#define MAILCHANNEL_LETTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "util/buf.h"

#define LETTER_IOBUF	(64 * 1024)	/* the reader's read buffer */
#define LETTER_ERRLEN	384		/* a good size for error buffers */
/* The largest prefix: every address at its longest plus the Via: line. */
#define LETTER_PREFIX_MAX ((size_t) ADDR_LIST_MAX * (2 * ADDR_MAX_LEN + 8) + 512)

enum letter_status {
	LETTER_OK = 0,
	LETTER_EIO,		/* reading the source failed (errno kept) */
	LETTER_EFORMAT,		/* malformed letter: refuse it, never retry */
	LETTER_ECAP,		/* a cap was hit: refuse it, never retry */
};

/* letter_read_fn - read up to len bytes into p; the count, 0 at end of
 * file, or -1 with errno set (EINTR is retried by the caller) */
typedef ssize_t letter_read_fn(void *ctx, void *p, size_t len);

struct letter;

/* letter_open - read the address list and header from rd(ctx, ...).
 * rd and ctx are borrowed and must stay usable until letter_free().
 * Returns a new reader positioned at the start of the body, or NULL
 * with *statusp (if not NULL) and err set. */
struct letter *letter_open(letter_read_fn *rd, void *ctx, enum letter_status *statusp,
	char *err, size_t errlen);
/* letter_open_fd - the same reading fd (borrowed: not closed, and its
 * file offset moves on). Enables the copy_file_range/sendfile path of
 * letter_write(). */
struct letter *letter_open_fd(int fd, enum letter_status *statusp, char *err, size_t errlen);
/* letter_open_pread - the same reading fd from its start with pread
 * (borrowed; its file offset does not move: for a file being written or
 * shared with other readers) */
struct letter *letter_open_pread(int fd, enum letter_status *statusp, char *err,
	size_t errlen);
/* letter_free - release the reader (the fd or callback is not closed) */
void letter_free(struct letter *l);

/* letter_rcpts - the address list, borrowed until letter_free */
const struct addr_list *letter_rcpts(const struct letter *l);
/* letter_hdr - the message header, borrowed until letter_free (the
 * header as read; letter_write adds its Via: line separately) */
const struct hdr *letter_hdr(const struct letter *l);
/* letter_hdr_offset - file offset of the header's first byte */
uint64_t letter_hdr_offset(const struct letter *l);
/* letter_body_offset - file offset of the body's first byte */
uint64_t letter_body_offset(const struct letter *l);
/* letter_hdr_line, letter_body_line - line numbers (from 1) where the
 * header and the body start */
unsigned long letter_hdr_line(const struct letter *l);
unsigned long letter_body_line(const struct letter *l);

/* letter_body_read - the next up to len bytes of the body: the count,
 * 0 at the end, -1 on a read error (reason in letter_error) */
ssize_t letter_body_read(struct letter *l, void *p, size_t len);
/* letter_body_done - body bytes delivered so far */
uint64_t letter_body_done(const struct letter *l);
/* letter_error - the last error text ("" when none); valid until the
 * next call on l */
const char *letter_error(const struct letter *l);
/* letter_mem_used - bytes of memory the reader holds now */
size_t letter_mem_used(const struct letter *l);

/*
 * Writing copies.
 */

/* letter_prefix - append to out (its cap is respected) the bytes a copy
 * adds before the original header: the addresses of rcpts in canonical
 * form, "addr,\n" each and the last followed by "\n\n", then, when
 * via_node is not NULL, "Via: via_node ; DATE" with DATE from when and
 * a CRLF line end when crlf (use hdr_crlf() of the letter's header).
 * 0, or -1 with err: empty list, bad via_node, out's cap. */
int letter_prefix(struct buf *out, const struct addr_list *rcpts, const char *via_node,
	time_t when, int crlf, char *err, size_t errlen);

#define LETTER_W_NOSPLICE 0x1	/* never use copy_file_range/sendfile */

/* letter_write - write prefix[0..plen) (from letter_prefix, perhaps
 * stored), then l's header block and its whole remaining body, to fd.
 * The body is consumed from l. Body copying uses copy_file_range()
 * then sendfile() when l reads an fd (unless LETTER_W_NOSPLICE) and
 * falls back to read/write through util/sysio. Returns the bytes
 * written, or -1 with err naming the failing side ("write copy: No
 * space left on device", "read letter body: ..."). The output is not
 * fsynced: committing it is the caller's business. */
int64_t letter_write(int fd, const void *prefix, size_t plen, struct letter *l,
	unsigned flags, char *err, size_t errlen);

#endif
