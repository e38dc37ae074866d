/*++
 * NAME
 *	dkmap 3h
 * SUMMARY
 *	the spool's dockets in memory, as journal records and as a snapshot
 * SYNOPSIS
 *	#include "spool/dkmap.h"
 * DESCRIPTION
 *	Dockets live in the spool's write-ahead log (doc/spool.md,
 *	"Dockets"): a put or delete is a journal record committed with the
 *	batch's other lines, the live dockets are an in-memory map, and a
 *	snapshot file holds the map and the journal position it covers.
 *	This module is the map and its two serialised forms; it does no
 *	I/O (spool/dkstore.h reads and writes the files) and takes no lock.
 *
 *	Records, one journal line each (spool/journal.h syntax, time first):
 *
 *	    TIME docket - dk=I/N key=KEY put=VALUE
 *	    TIME docket - dk=I/N key=KEY add=VALUE
 *	    TIME docket - dk=I/N key=KEY del=1
 *
 *	A transaction's lines are written together in the batch's one
 *	write: its K docket records first, numbered I = 1..K, then its other
 *	lines; N counts them all. This group is applied only when its N
 *	lines are read, records in order, so a batch that a crash cut short
 *	can never leave half a transaction's dockets, nor its dockets
 *	without its other lines (the spool then cuts the group away). A
 *	value too long for one line is a put of its first part followed by
 *	adds of the rest (same key, same group); every record fits in
 *	JOURNAL_LINE_MAX with its time, so every journal reader parses it.
 *
 *	Snapshot, integers little-endian:
 *
 *	    "nmd1"  u64 journal inode  u64 journal offset
 *	            u16 tail length  tail (the journal's last octets
 *	            before the offset, at most DKMAP_TAILMAX)
 *	            u64 dockets, then for each: u16 key length  u32 value
 *	            length  i64 time of its last put  key  value
 *	    u32 CRC-32 (zlib) of everything before it
 *
 *	The parser checks the CRC over the whole file before it reads a
 *	single docket, and every length against the octets left.
 *--*/
#ifndef SPOOL_DKMAP_H
#define SPOOL_DKMAP_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define DKMAP_EVENT		"docket"
#define DKMAP_KEYMAX		1024		/* = SPOOL_DOCKET_KEYMAX */
#define DKMAP_VALMAX		65536		/* = SPOOL_DOCKET_MAX */
#define DKMAP_GROUP_MAX		(1 << 20)	/* lines of one transaction */
#define DKMAP_GROUP_OCTETS	((size_t) 16 << 20)	/* their octets, lines or values */
#define DKMAP_TAILMAX		64
#define DKMAP_SNAP_MAX		((size_t) 1 << 31)	/* a larger snapshot is not ours */

struct dkmap;

/* One docket. Pointers are the map's: valid until it changes. */
struct dkmap_ent {
	const char *key;
	const unsigned char *val;	/* vlen octets, then a NUL */
	size_t	vlen;
	int64_t	mtime;			/* time of the last put */
};

/* A journal position: the journal file (by inode, and by its last
 * octets before off, which survive a copy of the spool) and offset. */
struct dkmap_pos {
	uint64_t ino, off;
	size_t	taillen;
	unsigned char tail[DKMAP_TAILMAX];
};

/* One change of a transaction, in the order made. */
struct dkmap_op {
	int	del;			/* 1 delete, 0 put */
	const char *key;
	const void *val;
	size_t	vlen;
};

/*
 * The map
 */

/* dkmap_new - an empty map */
struct dkmap *dkmap_new(void);
/* dkmap_free - free the map and its dockets (NULL is a no-op) */
void	dkmap_free(struct dkmap *m);
/* dkmap_count - dockets in the map */
size_t	dkmap_count(const struct dkmap *m);
/* dkmap_put - key holds val (vlen octets, both copied) since mtime */
void	dkmap_put(struct dkmap *m, const char *key, const void *val, size_t vlen,
	int64_t mtime);
/* dkmap_del - remove key; 1 removed, 0 there was none */
int	dkmap_del(struct dkmap *m, const char *key);
/* dkmap_get - the docket of key or NULL (borrowed: valid until the map changes) */
const struct dkmap_ent *dkmap_get(const struct dkmap *m, const char *key);
/* dkmap_sorted - every docket, ordered by key (strcmp), into new memory
 * (the caller frees the array, not the entries); *n gets the count */
const struct dkmap_ent **dkmap_sorted(const struct dkmap *m, size_t *n);
/* dkmap_prefixed - as dkmap_sorted, only the dockets whose key starts
 * with prefix (NULL or "": every docket). O(log n + k) for k dockets
 * found: the map keeps its keys in order (a look-up per letter of a
 * queue of 100,000 must not read every docket) */
const struct dkmap_ent **dkmap_prefixed(const struct dkmap *m, const char *prefix, size_t *n);
/* dkmap_check - 0 when the map's ordered index holds exactly its
 * dockets, in order and balanced; -1 (for tests and fuzz targets) */
int	dkmap_check(const struct dkmap *m);

/*
 * Records
 */

/* dkmap_records - append the records of ops[0..n) (one transaction,
 * whose other lines, others of them, follow the records) to b as
 * journal lines without time: "docket - dk=I/N key=..."; *nlines gets
 * the number of records. Keys must be 1..DKMAP_KEYMAX octets without
 * NUL and values at most DKMAP_VALMAX (else panic: the caller checks).
 * 0, or -1 with nothing appended when b's cap or DKMAP_GROUP_MAX lines
 * would be passed. */
int	dkmap_records(struct buf *b, const struct dkmap_op *ops, size_t n, size_t others,
	unsigned *nlines);

/* dkmap_time - "YYYY-MM-DDTHH:MM:SSZ" as seconds since the epoch; 0 or -1 */
int	dkmap_time(const char *iso, int64_t *t);

struct dkmap_replay;

/* dkmap_replay_new - replay records into m (borrowed); only (copied,
 * NULL: every key) keeps just the changes of that key */
struct dkmap_replay *dkmap_replay_new(struct dkmap *m, const char *only);

/* dkmap_replay_line - one whole journal line (len octets, no newline)
 * found at offset off of its file, every line in order. A group applies
 * to the map when its N lines are read; a record that starts a group
 * while one is in progress drops that one (a batch cut short). 0, or -1
 * with err naming the problem when the line is a docket record that does
 * not parse or comes out of order (a damaged journal: nothing is
 * guessed). */
int	dkmap_replay_line(struct dkmap_replay *r, const char *line, size_t len, uint64_t off,
	char *err, size_t errlen);

/* dkmap_replay_break - the end of a file: a group in progress is dropped */
void	dkmap_replay_break(struct dkmap_replay *r);

/* dkmap_replay_pending - 1 with *off (offset of its first record) when
 * a group is in progress (the last batch of the file was cut short), 0 */
int	dkmap_replay_pending(const struct dkmap_replay *r, uint64_t *off);

/* dkmap_replay_counts - records read and groups dropped so far */
void	dkmap_replay_counts(const struct dkmap_replay *r, unsigned long *records,
	unsigned long *dropped);

/* dkmap_replay_free - free (NULL is a no-op); a group in progress is dropped */
void	dkmap_replay_free(struct dkmap_replay *r);

/*
 * Snapshot
 */

/* dkmap_snap_encode - the snapshot of m at pos into b (reset first); 0,
 * or -1 when b's cap would be passed */
int	dkmap_snap_encode(const struct dkmap *m, const struct dkmap_pos *pos, struct buf *b);

/* dkmap_snap_parse - check and read a snapshot of len octets: *pos gets
 * its position and m (which should be empty) its dockets (only: just
 * that key; NULL: all). 0, or -1 with errno EBADMSG and err naming the
 * problem ("bad CRC", "truncated", ...), and m unchanged, when it is
 * not exactly a snapshot. Never reads past len. */
int	dkmap_snap_parse(const void *p, size_t len, struct dkmap_pos *pos, struct dkmap *m,
	const char *only, char *err, size_t errlen);

#endif
