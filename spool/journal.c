/*++
 * NAME
 *	journal 3
 * SUMMARY
 *	the spool journal: line format, parser and reader
 * SYNOPSIS
 *	#include "spool/journal.h"
 * DESCRIPTION
 *	journal_format() builds a line with str_escape(); journal_parse()
 *	is its exact inverse and accepts nothing else: one space between
 *	fields, a fixed-width time, words for EVENT and keys, values plain
 *	or quoted. It moves a cursor that never passes len and unescapes
 *	into the record's own store, which is sized so that no line of at
 *	most JOURNAL_LINE_MAX octets can overflow it (unescaping only
 *	shrinks; each field adds one NUL).
 *
 *	The reader lists journal.N names with readdir, sorts them oldest
 *	(highest N) first and reads each file line by line through a
 *	capped buffer, so a huge line costs no memory.
 * DIAGNOSTICS
 *	"spool: open 'journal.2': reason", "spool: read 'journal': reason".
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool/journal.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define JOURNAL_MAX_FILES	100000	/* rotated journals listed */

/* journal_wordc - 1 for a character of an EVENT or key word */
static int journal_wordc(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* journal_word_ok - 1 when s is a valid EVENT or key word */
int journal_word_ok(const char *s)
{
	size_t  n;

	if (s == NULL || *s == '\0')
		return 0;
	for (n = 0; s[n]; n++)
		if (!journal_wordc((unsigned char) s[n]) || n >= 64)
			return 0;
	return 1;
}

/* journal_list_init - an empty list */
void journal_list_init(struct journal_list *l)
{
	/* the items, a ',' each and the marker fit under this cap */
	buf_init(&l->b, JOURNAL_VALUE_MAX + JOURNAL_LIST_MARK + 1);
	l->n = 0;
	l->more = 0;
	l->sealed = 0;
}

/* journal_list_add - add item, or count it as left out */
void journal_list_add(struct journal_list *l, const char *item)
{
	size_t  len = strlen(item), need = len + (l->n > 0);

	PANIC_IF(l->sealed);
	/* once cut, always cut: the kept items are the first ones, in order */
	if (l->more > 0 || l->b.len + need > JOURNAL_VALUE_MAX - JOURNAL_LIST_MARK
	    || (l->n > 0 && buf_putc(&l->b, ',') < 0) || buf_append(&l->b, item, len) < 0) {
		l->more++;
		return;
	}
	l->n++;
}

/* journal_list_text - the value, with the marker when cut */
const char *journal_list_text(struct journal_list *l)
{
	char    mark[JOURNAL_LIST_MARK];
	const char *s;

	if (!l->sealed && l->more > 0) {
		snprintf(mark, sizeof(mark), "%s+%zu more", l->n > 0 ? " " : "", l->more);
		/* room is kept for it: this cannot fail */
		PANIC_IF(buf_append(&l->b, mark, strlen(mark)) < 0);
	}
	l->sealed = 1;
	s = buf_cstr(&l->b);
	return s != NULL ? s : "";
}

/* journal_list_release - free the memory */
void journal_list_release(struct journal_list *l)
{
	buf_release(&l->b);
	l->n = l->more = 0;
	l->sealed = 0;
}

/* journal_list_more - N of a value ending in " +N more", or 0 */
size_t journal_list_more(const char *v, size_t vlen, size_t *keep)
{
	size_t  i, n = 0, digits;

	if (keep != NULL)
		*keep = vlen;
	if (vlen < 7 || memcmp(v + vlen - 5, " more", 5) != 0)
		return 0;
	i = vlen - 5;
	for (digits = 0; i > 0 && v[i - 1] >= '0' && v[i - 1] <= '9' && digits < 19; digits++)
		i--;
	if (digits == 0 || i == 0 || v[i - 1] != '+' || v[i] == '0')
		return 0;
	if (i - 1 > 0 && v[i - 2] != ' ')
		return 0;
	for (size_t k = i; k < vlen - 5; k++)
		n = n * 10 + (size_t) (v[k] - '0');
	if (keep != NULL)
		*keep = i - 1 > 0 ? i - 2 : 0;
	return n;
}

/* journal_put_escaped - append " " (if sep) and the escaped value */
static int journal_put_escaped(struct buf *b, const char *v, size_t vlen)
{
	unsigned char *p;
	size_t  need;

	need = str_escape(NULL, 0, v, vlen);
	if ((p = buf_reserve(b, need + 1)) == NULL)
		return -1;
	(void) str_escape((char *) p, need + 1, v, vlen);
	buf_commit(b, need);
	return 0;
}

/* journal_format - append one line to b */
int journal_format(struct buf *b, const char *time, const char *event,
	const char *name, const char *const *kv, size_t nkv)
{
	struct journal_kv v[JOURNAL_MAX_KV];
	size_t  i;

	if (nkv > JOURNAL_MAX_KV - 1)
		log_panic("journal_format: %zu pairs, at most %d", nkv, JOURNAL_MAX_KV - 1);
	for (i = 0; i < nkv; i++) {
		v[i].key = kv[2 * i];
		v[i].val = kv[2 * i + 1] ? kv[2 * i + 1] : "";
		v[i].vlen = strlen(v[i].val);
	}
	return journal_format_kv(b, time, event, name, v, nkv);
}

/* journal_format_kv - journal_format() with counted values */
int journal_format_kv(struct buf *b, const char *time, const char *event,
	const char *name, const struct journal_kv *kv, size_t nkv)
{
	struct buf line = BUF_INIT(JOURNAL_LINE_MAX);
	size_t  i, vlen, mark;
	int     ret = -1, cut = 0;

	if (!journal_word_ok(event))
		log_panic("journal_format: bad event word '%s'", event ? event : "(null)");
	if (nkv > JOURNAL_MAX_KV - 1)
		log_panic("journal_format: %zu pairs, at most %d", nkv, JOURNAL_MAX_KV - 1);
	if (time != NULL && (buf_append(&line, time, strlen(time)) < 0
	    || buf_putc(&line, ' ') < 0))
		goto out;
	if (buf_append(&line, event, strlen(event)) < 0 || buf_putc(&line, ' ') < 0)
		goto out;
	if (name == NULL || *name == '\0') {
		if (buf_putc(&line, '-') < 0)
			goto out;
	} else {
		vlen = strlen(name);
		if (vlen > JOURNAL_VALUE_MAX)
			vlen = JOURNAL_VALUE_MAX;
		if (journal_put_escaped(&line, name, vlen) < 0)
			goto out;
	}
	for (i = 0; i < nkv; i++) {
		const char *k = kv[i].key, *v = kv[i].val ? kv[i].val : "";

		if (!journal_word_ok(k))
			log_panic("journal_format: bad key word '%s'", k ? k : "(null)");
		vlen = kv[i].val ? kv[i].vlen : 0;
		if (vlen > JOURNAL_VALUE_MAX)
			vlen = JOURNAL_VALUE_MAX;
		mark = line.len;
		/* keep room for " cut=1\n" */
		if (buf_room(&line) < 8 + strlen(k) + 2 + str_escape(NULL, 0, v, vlen)) {
			cut = 1;
			break;
		}
		if (buf_putc(&line, ' ') < 0 || buf_append(&line, k, strlen(k)) < 0
		    || buf_putc(&line, '=') < 0 || journal_put_escaped(&line, v, vlen) < 0) {
			line.len = mark;
			cut = 1;
			break;
		}
	}
	if (cut && buf_append(&line, " cut=1", 6) < 0)
		goto out;
	if (buf_putc(&line, '\n') < 0)
		goto out;
	ret = buf_append(b, buf_data(&line), line.len);
out:
	buf_release(&line);
	return ret;
}

/* journal_plainc - a character allowed in an unquoted value */
static int journal_plainc(int c)
{
	return c >= '!' && c <= '~' && c != '"' && c != '=' && c != '\\';
}

/*
 * journal_value - parse a value at line[*pos] up to end, unescaping
 * into out (room for at least end-*pos+1 octets); *olen gets the length.
 * Stops at a space or the end. 0 or -1.
 */
static int journal_value(const char *line, size_t end, size_t *pos, char *out, size_t *olen)
{
	size_t  i = *pos, n = 0, used;

	if (i >= end)
		return -1;
	if (line[i] != '"') {
		while (i < end && line[i] != ' ') {
			if (!journal_plainc((unsigned char) line[i]))
				return -1;
			out[n++] = line[i++];
		}
		if (n == 0)
			return -1;
		goto done;
	}
	/* quoted: str_escape()'s inverse, shared with the other line records */
	if (str_unescape(out, end - i + 1, line + i, end - i, &n, &used, NULL) < 0)
		return -1;
	i += used;
	if (i < end && line[i] != ' ')
		return -1;
done:
	out[n] = '\0';
	*olen = n;
	*pos = i;
	return 0;
}

/* journal_time_ok - "YYYY-MM-DDTHH:MM:SSZ" shape */
static int journal_time_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t  i;

	for (i = 0; i < JOURNAL_TIMELEN; i++) {
		if (shape[i] == 'd') {
			if (s[i] < '0' || s[i] > '9')
				return 0;
		} else if (s[i] != shape[i]) {
			return 0;
		}
	}
	return 1;
}

/* journal_parse - parse one line (without newline) into rec */
int journal_parse(const char *line, size_t len, struct journal_rec *rec)
{
	size_t  pos, s = 0, vlen, k;
	char   *st = rec->store;

	rec->nkv = 0;
	rec->event = rec->name = NULL;
	rec->namelen = 0;
	rec->time[0] = '\0';
	if (len > JOURNAL_LINE_MAX - 1 || len < JOURNAL_TIMELEN + 4)
		return -1;
	if (!journal_time_ok(line) || line[JOURNAL_TIMELEN] != ' ')
		return -1;
	memcpy(rec->time, line, JOURNAL_TIMELEN);
	rec->time[JOURNAL_TIMELEN] = '\0';
	pos = JOURNAL_TIMELEN + 1;

	/* EVENT */
	k = pos;
	while (pos < len && journal_wordc((unsigned char) line[pos]))
		pos++;
	if (pos == k || pos - k > 64 || pos >= len || line[pos] != ' ')
		return -1;
	memcpy(st + s, line + k, pos - k);
	rec->event = st + s;
	s += pos - k;
	st[s++] = '\0';
	pos++;

	/* NAME: "-" or a value */
	if (journal_value(line, len, &pos, st + s, &vlen) < 0)
		return -1;
	rec->name = st + s;
	rec->namelen = vlen;
	s += vlen + 1;

	/* key=value pairs */
	while (pos < len) {
		if (line[pos] != ' ' || rec->nkv == JOURNAL_MAX_KV)
			return -1;
		pos++;
		k = pos;
		while (pos < len && journal_wordc((unsigned char) line[pos]))
			pos++;
		if (pos == k || pos - k > 64 || pos >= len || line[pos] != '=')
			return -1;
		memcpy(st + s, line + k, pos - k);
		rec->kv[rec->nkv].key = st + s;
		s += pos - k;
		st[s++] = '\0';
		pos++;
		if (journal_value(line, len, &pos, st + s, &vlen) < 0)
			return -1;
		rec->kv[rec->nkv].val = st + s;
		rec->kv[rec->nkv].vlen = vlen;
		s += vlen + 1;
		rec->nkv++;
	}
	PANIC_IF(s > sizeof(rec->store));
	return 0;
}

/* journal_get - the value of key in rec or NULL */
const char *journal_get(const struct journal_rec *rec, const char *key, size_t *vlen)
{
	size_t  i;

	for (i = 0; i < rec->nkv; i++)
		if (strcmp(rec->kv[i].key, key) == 0) {
			if (vlen)
				*vlen = rec->kv[i].vlen;
			return rec->kv[i].val;
		}
	return NULL;
}

/*
 * Reader
 */

struct journal_reader {
	char   *dir;
	unsigned long *nums;	/* rotated numbers, oldest (highest) first */
	size_t	nnum, next;	/* next index; nnum means the current journal */
	int	done_current;
	FILE   *fp;
	char	fname[64];
	unsigned long lineno;
	unsigned long skipped;
	char	line[JOURNAL_LINE_MAX + 2];
};

/* journal_numcmp - descending order of rotation numbers */
static int journal_numcmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *) a, y = *(const unsigned long *) b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* journal_reader_open - iterate the journals of dir, oldest first */
struct journal_reader *journal_reader_open(const char *dir, char *err, size_t errlen)
{
	struct journal_reader *r;
	DIR    *d;
	struct dirent *e;
	uint64_t n;
	size_t  alloc = 0;

	if ((d = opendir(dir)) == NULL) {
		if (err && errlen)
			snprintf(err, errlen, "spool: open '%s': %s", dir, strerror(errno));
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->dir = xstrdup(dir);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "journal.", 8) != 0
		    || str_to_u64(e->d_name + 8, 1, 999999999, &n) < 0)
			continue;
		if (r->nnum == JOURNAL_MAX_FILES)
			break;
		if (r->nnum == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			r->nums = xrealloc(r->nums, alloc * sizeof(*r->nums));
		}
		r->nums[r->nnum++] = (unsigned long) n;
	}
	closedir(d);
	if (r->nnum)
		qsort(r->nums, r->nnum, sizeof(*r->nums), journal_numcmp);
	return r;
}

/* journal_reader_openfile - open the next file that exists; 1, 0 at end, -1 */
static int journal_reader_openfile(struct journal_reader *r, char *err, size_t errlen)
{
	char    path[4096];

	for (;;) {
		if (r->next < r->nnum)
			snprintf(r->fname, sizeof(r->fname), "journal.%lu", r->nums[r->next]);
		else if (!r->done_current)
			str_copy(r->fname, "journal", sizeof(r->fname));
		else
			return 0;
		if (r->next < r->nnum)
			r->next++;
		else
			r->done_current = 1;
		if ((size_t) snprintf(path, sizeof(path), "%s/%s", r->dir, r->fname) >= sizeof(path)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		r->lineno = 0;
		if ((r->fp = fopen(path, "re")) != NULL)
			return 1;
		if (errno != ENOENT)
			goto fail;
	}
fail:
	if (err && errlen)
		snprintf(err, errlen, "spool: open '%s': %s", r->fname, strerror(errno));
	return -1;
}

/* journal_reader_next - the next well-formed line into rec */
int journal_reader_next(struct journal_reader *r, struct journal_rec *rec,
	char *err, size_t errlen)
{
	size_t  len;
	int     c, rc, toolong;

	for (;;) {
		if (r->fp == NULL && (rc = journal_reader_openfile(r, err, errlen)) <= 0)
			return rc;
		len = 0;
		toolong = 0;
		while ((c = getc(r->fp)) != EOF && c != '\n') {
			if (len < sizeof(r->line) - 1)
				r->line[len++] = (char) c;
			else
				toolong = 1;
		}
		if (c == EOF && ferror(r->fp)) {
			if (err && errlen)
				snprintf(err, errlen, "spool: read '%s': %s", r->fname,
				    strerror(errno));
			fclose(r->fp);
			r->fp = NULL;
			return -1;
		}
		if (c == EOF) {
			if (len > 0 || toolong)	/* torn last line */
				r->skipped++;
			fclose(r->fp);
			r->fp = NULL;
			continue;
		}
		r->lineno++;
		if (toolong || journal_parse(r->line, len, rec) < 0) {
			r->skipped++;
			continue;
		}
		return 1;
	}
}

/* journal_reader_where - file and line number of the last line returned */
const char *journal_reader_where(const struct journal_reader *r, unsigned long *lineno)
{
	if (lineno)
		*lineno = r->lineno;
	return r->fname;
}

/* journal_reader_skipped - lines skipped as malformed so far */
unsigned long journal_reader_skipped(const struct journal_reader *r)
{
	return r->skipped;
}

/* journal_reader_free - close and free */
void journal_reader_free(struct journal_reader *r)
{
	if (r == NULL)
		return;
	if (r->fp)
		fclose(r->fp);
	free(r->nums);
	free(r->dir);
	free(r);
}
