/*++
 * NAME
 *	intent 3h
 * SUMMARY
 *	the spool's redo intent record: format, encoder, parser
 * SYNOPSIS
 *	#include "spool/intent.h"
 * DESCRIPTION
 *	Before a batch of transactions changes any file, the spool writes
 *	ONE intent record describing it into SPOOL/intent (always at
 *	offset 0 of the same preallocated file) and syncs it; start-up
 *	recovery reads it back to finish or undo the batch (doc/spool.md,
 *	"Journal truth across crashes"). This module only encodes and
 *	parses; it does no I/O and knows nothing of spool states.
 *
 *	Layout, integers little-endian:
 *
 *	    "nmi2"  u32 body length  u32 CRC-32 (zlib) of the body
 *	    body:   u64 journal inode  u64 journal size before the batch
 *	            u32 transactions, then for each:
 *	                u32 operations  u32 octets of journal lines
 *	                operations: u8 kind u8 from u8 to u8 0  u64 inode
 *	                            u64 trash
 *	                            4 strings (name, newname, dkfile, dktmp),
 *	                            each u16 length, octets, NUL
 *	                the journal lines, exactly as they are appended
 *
 *	"trash" numbers the name under which the operation keeps the file
 *	it removes or replaces until its batch is over, so that it can be
 *	put back (0: none). A record of the first format ("nmi1", written
 *	before operations had a trash) is still read, with trash 0.
 *
 *	A record that is torn (a crash inside its write) fails its CRC.
 *	A cleared record (zeros) has no magic: intent_head() says "none".
 *--*/
#ifndef SPOOL_INTENT_H
#define SPOOL_INTENT_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define INTENT_HEADLEN	12		/* magic, length, CRC */
#define INTENT_STRMAX	1024		/* longest string field */

/* One operation. Strings are NULL or NUL-terminated; in a parsed
 * record they point into the parsed data. */
struct intent_op {
	unsigned kind, from, to;	/* the spool's own numbering (< 256) */
	uint64_t ino;			/* identity of the file it acts on, 0 none */
	uint64_t trash;			/* its trash name's number, 0 none */
	const char *name, *newname, *dkfile, *dktmp;
};

struct intent_txn {
	size_t	op0, nops;		/* its operations: rec->op[op0 .. op0+nops) */
	const char *lines;		/* journal lines (not NUL-terminated) */
	size_t	linelen;
};

struct intent {
	uint64_t jino, joff;
	struct intent_txn *txn;
	size_t	ntxn;
	struct intent_op *op;
	size_t	nop;
	size_t	linelen;		/* sum of the transactions' linelen */
};

/* intent_begin - start a record in b (reset first) for a journal of
 * inode jino and size joff; 0 or -1 (b's cap) */
int	intent_begin(struct buf *b, uint64_t jino, uint64_t joff);

/* intent_put_txn - start a transaction of nops operations and linelen
 * octets of lines; the caller then adds nops intent_put_op() and the
 * lines (buf_append). 0 or -1 (b's cap) */
int	intent_put_txn(struct buf *b, size_t nops, size_t linelen);

/* intent_put_op - add one operation (strings longer than INTENT_STRMAX
 * or kind/from/to above 255 are a programming error: panic); 0 or -1 */
int	intent_put_op(struct buf *b, const struct intent_op *op);

/* intent_seal - write the transaction count, length and CRC */
void	intent_seal(struct buf *b, size_t ntxn);

/* intent_head - look at the first INTENT_HEADLEN octets: 1 with
 * *bodylen when they start a record, 0 when they do not (cleared,
 * never written) */
int	intent_head(const void *p, size_t len, size_t *bodylen);

/* intent_parse - check and parse a whole record of len octets (header
 * included) into rec, whose pointers then point into p (kept by the
 * caller); rec's arrays are new memory (intent_release). 0, or -1 with
 * errno EBADMSG when the CRC fails (a torn write) or the record is
 * malformed; nothing is read past len. */
int	intent_parse(const void *p, size_t len, struct intent *rec);

/* intent_release - free rec's arrays (not the data it points into) */
void	intent_release(struct intent *rec);

#endif
