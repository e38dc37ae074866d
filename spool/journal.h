/*++
 * NAME
 *	journal 3h
 * SUMMARY
 *	the spool journal: line format, parser and reader
 * SYNOPSIS
 *	#include "spool/journal.h"
 * DESCRIPTION
 *	One line per event (DESIGN section 9):
 *
 *	    TIME EVENT NAME key=value key=value ...\n
 *
 *	TIME is ISO 8601 UTC ("2026-11-23T19:30:00Z"). EVENT and every key
 *	are words of [A-Za-z0-9_.-]. NAME is the spool name the event is
 *	about, or "-". NAME and every value are written with str_escape()
 *	(util/strutil.h): plain when non-empty and made only of [!-~]
 *	without '"', '=' and '\\', otherwise double-quoted with the C
 *	escapes \\ \" \n \r \t \xNN. A value can therefore never contain a
 *	raw space, newline or control byte, and text from a hostile peer
 *	cannot forge a line or a key.
 *
 *	Values are cut to JOURNAL_VALUE_MAX octets before escaping; a line
 *	is at most JOURNAL_LINE_MAX octets including the newline (a line
 *	that would be longer has its last values dropped and gets the key
 *	"cut=1"). A list value (struct journal_list: recipients, next hops)
 *	is never cut inside an item: it keeps the first items that fit and
 *	ends in " +N more", N the items left out ("a@x,b@y +398 more").
 *
 *	The writer lives in spool/spool.c (lines are appended and synced in
 *	the spool's group commit); this module formats, parses and reads.
 *	Files: SPOOL/journal (current), SPOOL/journal.1 (newest rotated),
 *	... SPOOL/journal.N (oldest).
 *--*/
#ifndef SPOOL_JOURNAL_H
#define SPOOL_JOURNAL_H

#include <stddef.h>

#include "util/buf.h"

#define JOURNAL_LINE_MAX	8192	/* octets in a line, newline included */
#define JOURNAL_VALUE_MAX	2048	/* raw octets of one value kept */
#define JOURNAL_MAX_KV		32	/* key=value pairs in one line */
#define JOURNAL_TIMELEN		20	/* "YYYY-MM-DDTHH:MM:SSZ" */
#define JOURNAL_LIST_MARK	32	/* room kept in a list for " +N more" */

/*
 * A list value "a,b,c" that fits in JOURNAL_VALUE_MAX: items are kept
 * whole or not at all; once one does not fit, it and every later one
 * are counted instead, and the text ends in " +N more" ("+N more"
 * alone when not even the first fits). Fields are read-only.
 */
struct journal_list {
	struct buf b;
	size_t	n;		/* items kept */
	size_t	more;		/* items left out */
	int	sealed;		/* journal_list_text() was called: no more adds */
};

struct journal_kv {
	const char *key;	/* NUL-terminated word */
	const char *val;	/* unescaped, NUL-terminated (may hold NULs: use vlen) */
	size_t	vlen;
};

/*
 * A parsed line. All pointers point into rec->store: they are valid
 * until the record is parsed into again or goes away.
 */
struct journal_rec {
	char	time[JOURNAL_TIMELEN + 1];
	const char *event;
	const char *name;	/* "-" when the line is about no letter */
	size_t	namelen;
	size_t	nkv;
	struct journal_kv kv[JOURNAL_MAX_KV];
	char	store[JOURNAL_LINE_MAX + JOURNAL_MAX_KV + 8];
};

/* journal_word_ok - 1 when s is a valid EVENT or key word */
int journal_word_ok(const char *s);

/* journal_list_init - an empty list */
void journal_list_init(struct journal_list *l);
/* journal_list_add - add item (copied) after a ',', or count it as
 * left out (see struct journal_list) */
void journal_list_add(struct journal_list *l, const char *item);
/* journal_list_text - the value: the items joined by ',' and the marker
 * when some were left out; "" when empty. Valid until the list is
 * released; adding after it is a programming error (panic). */
const char *journal_list_text(struct journal_list *l);
/* journal_list_release - free the memory */
void journal_list_release(struct journal_list *l);
/* journal_list_more - the N of a value v (vlen octets) that ends in the
 * marker " +N more" (or is "+N more"), *keep (if not NULL) getting the
 * length of the items before it; 0 (and *keep = vlen) for a whole list.
 * Readers use it to tell a cut list from a whole one. */
size_t journal_list_more(const char *v, size_t vlen, size_t *keep);

/* journal_format - append one line (with its newline) to b: TIME (if not
 * NULL) EVENT NAME (NULL = "-") and nkv pairs kv[2i]=kv[2i+1]. Values
 * are escaped and capped as described above. EVENT and keys must be
 * valid words (an invalid one is a programming error: panic). Returns 0,
 * or -1 when b's cap would be passed (b unchanged then). */
int journal_format(struct buf *b, const char *time, const char *event,
	const char *name, const char *const *kv, size_t nkv);

/* journal_format_kv - journal_format() with counted values: kv[i].val
 * (kv[i].vlen octets, any octet including NUL) is escaped as above;
 * NULL is the empty value. Same caps, panics and result. */
int journal_format_kv(struct buf *b, const char *time, const char *event,
	const char *name, const struct journal_kv *kv, size_t nkv);

/* journal_parse - parse one line of len octets (the newline, if any,
 * must not be included) into rec. 0, or -1 when the line is not exactly
 * of the format above (nothing is guessed). Never reads past len. */
int journal_parse(const char *line, size_t len, struct journal_rec *rec);

/* journal_get - the value of key in rec (first occurrence) or NULL;
 * *vlen (if not NULL) gets its length */
const char *journal_get(const struct journal_rec *rec, const char *key, size_t *vlen);

struct journal_reader;

/* journal_reader_open - iterate the journals of spool directory dir,
 * oldest first: journal.N .. journal.1, journal. Missing numbers are
 * skipped; a missing current journal is no error. NULL with err on
 * failure (dir unreadable). */
struct journal_reader *journal_reader_open(const char *dir, char *err, size_t errlen);

/* journal_reader_next - the next well-formed line into rec: 1, 0 at the
 * end, -1 with err on a read error. Malformed or over-long lines and a
 * torn last line (no newline) are skipped and counted. Lines written
 * while reading may or may not be seen; a rotation while reading may
 * make lines be missed or seen twice (tracing tolerates both). */
int journal_reader_next(struct journal_reader *r, struct journal_rec *rec,
	char *err, size_t errlen);

/* journal_reader_where - file name ("journal.2") and line number of the
 * line last returned; borrowed, valid until the next call */
const char *journal_reader_where(const struct journal_reader *r, unsigned long *lineno);

/* journal_reader_skipped - lines skipped as malformed so far */
unsigned long journal_reader_skipped(const struct journal_reader *r);

/* journal_reader_free - close and free (NULL is a no-op) */
void journal_reader_free(struct journal_reader *r);

#endif
