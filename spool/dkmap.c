/*++
 * NAME
 *	dkmap 3
 * SUMMARY
 *	the spool's dockets in memory, as journal records and as a snapshot
 * SYNOPSIS
 *	#include "spool/dkmap.h"
 * DESCRIPTION
 *	The map is a chained hash table (FNV-1a of the key), doubled when
 *	it holds as many dockets as buckets, for dkmap_get(); the same
 *	entries are also an AVL tree ordered by key (strcmp), for
 *	dkmap_prefixed(): the keys that start with a prefix are one range of
 *	that order, found in O(log n) and walked in O(k). The callers look
 *	up one letter's dockets by prefix ("env NAME_") once per letter of
 *	a bulk action, so a scan of every docket per look-up made a release
 *	of 20,000 letters take 20 s (quadratic); the tree costs two pointers
 *	and a height per docket and O(log n) per put and delete.
 *
 *	Records are formatted with journal_format_kv(), so a value may hold
 *	any octet. A put whose record would not fit in a line is split: the
 *	part of the value that fits, escaped, in what the line leaves, then
 *	the rest in adds. The size of every line is computed exactly and
 *	checked against what the formatter produced (a cut line would be a
 *	lost docket: panic).
 *
 *	The replay keeps the records of a group in progress (copied, capped
 *	by DKMAP_GROUP_MAX and DKMAP_GROUP_OCTETS) and applies them when
 *	its last record is read.
 *
 *	The snapshot parser checks the CRC first, then walks the file twice:
 *	once to check every length (nothing allocated), once to fill the map.
 *--*/
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "spool/dkmap.h"
#include "spool/journal.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

#define DKMAP_MAGIC	"nmd1"
#define DKMAP_LINE_BUDGET (JOURNAL_LINE_MAX - JOURNAL_TIMELEN - 1 - 32)	/* a record
				 * without its time, with room to spare */
#define DKMAP_FIXED	(sizeof("docket - dk=") - 1 + 10 + 1 + 10 + sizeof(" key=") - 1 \
			+ sizeof(" put=") - 1 + 1)	/* a record less key and value */

struct dkent {
	struct dkent *next;		/* hash chain */
	uint64_t hash;
	struct dkent *left, *right;	/* the tree: keys below, keys above */
	int	height;			/* of its subtree: 1 for a leaf */
	struct dkmap_ent e;
};

struct dkmap {
	struct dkent **b;
	size_t	nb, n;
	struct dkent *root;		/* the tree of every entry, by key */
};

/*
 * The map
 */

/* dkmap_hash - FNV-1a 64 of s */
static uint64_t dkmap_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

/* dkmap_new - an empty map */
struct dkmap *dkmap_new(void)
{
	struct dkmap *m = xcalloc(1, sizeof(*m));

	m->nb = 64;
	m->b = xcalloc(m->nb, sizeof(*m->b));
	return m;
}

/* dkent_free - one entry */
static void dkent_free(struct dkent *d)
{
	free((char *) d->e.key);
	free((unsigned char *) d->e.val);
	free(d);
}

/* dkmap_free - free the map and its dockets */
void dkmap_free(struct dkmap *m)
{
	struct dkent *d, *next;
	size_t  i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nb; i++)
		for (d = m->b[i]; d; d = next) {
			next = d->next;
			dkent_free(d);
		}
	free(m->b);
	free(m);
}

/* dkmap_count - dockets in the map */
size_t dkmap_count(const struct dkmap *m)
{
	return m->n;
}

/* dkmap_find - the link that points at key's entry (or at NULL) */
static struct dkent **dkmap_find(const struct dkmap *m, const char *key, uint64_t h)
{
	struct dkent **pp = &m->b[h & (m->nb - 1)];

	while (*pp && ((*pp)->hash != h || strcmp((*pp)->e.key, key) != 0))
		pp = &(*pp)->next;
	return pp;
}

/* dkmap_grow - twice the buckets */
static void dkmap_grow(struct dkmap *m)
{
	struct dkent **nb, *d, *next;
	size_t  i, n = m->nb * 2;

	nb = xcalloc(n, sizeof(*nb));
	for (i = 0; i < m->nb; i++)
		for (d = m->b[i]; d; d = next) {
			next = d->next;
			d->next = nb[d->hash & (n - 1)];
			nb[d->hash & (n - 1)] = d;
		}
	free(m->b);
	m->b = nb;
	m->nb = n;
}

/*
 * The tree (AVL: the heights of a node's two subtrees differ by at most
 * one, so its height is below 1.45 log2(n + 2): recursion is shallow)
 */

static int dk_height(const struct dkent *d)
{
	return d ? d->height : 0;
}

/* dk_fix - d's height from its children's */
static void dk_fix(struct dkent *d)
{
	int     l = dk_height(d->left), r = dk_height(d->right);

	d->height = (l > r ? l : r) + 1;
}

/* dk_rotate_right - d's left child becomes the subtree's root */
static struct dkent *dk_rotate_right(struct dkent *d)
{
	struct dkent *l = d->left;

	d->left = l->right;
	l->right = d;
	dk_fix(d);
	dk_fix(l);
	return l;
}

/* dk_rotate_left - d's right child becomes the subtree's root */
static struct dkent *dk_rotate_left(struct dkent *d)
{
	struct dkent *r = d->right;

	d->right = r->left;
	r->left = d;
	dk_fix(d);
	dk_fix(r);
	return r;
}

/* dk_balance - the subtree d (whose children are balanced and differ in
 * height by at most two) balanced; its new root */
static struct dkent *dk_balance(struct dkent *d)
{
	int     bf = dk_height(d->left) - dk_height(d->right);

	if (bf > 1) {
		if (dk_height(d->left->left) < dk_height(d->left->right))
			d->left = dk_rotate_left(d->left);
		return dk_rotate_right(d);
	}
	if (bf < -1) {
		if (dk_height(d->right->right) < dk_height(d->right->left))
			d->right = dk_rotate_right(d->right);
		return dk_rotate_left(d);
	}
	dk_fix(d);
	return d;
}

/* dk_insert - d (a key not in the tree) into the subtree t; its new root */
static struct dkent *dk_insert(struct dkent *t, struct dkent *d)
{
	if (t == NULL) {
		d->left = d->right = NULL;
		d->height = 1;
		return d;
	}
	if (strcmp(d->e.key, t->e.key) < 0)
		t->left = dk_insert(t->left, d);
	else
		t->right = dk_insert(t->right, d);
	return dk_balance(t);
}

/* dk_remove_min - the entry of t with the smallest key out of t into
 * *min; t's new root */
static struct dkent *dk_remove_min(struct dkent *t, struct dkent **min)
{
	if (t->left == NULL) {
		*min = t;
		return t->right;
	}
	t->left = dk_remove_min(t->left, min);
	return dk_balance(t);
}

/* dk_remove - d (in the tree) out of the subtree t; its new root */
static struct dkent *dk_remove(struct dkent *t, struct dkent *d)
{
	struct dkent *min;
	int     c;

	PANIC_IF(t == NULL);		/* d is in the tree: never passed */
	if (t != d) {
		c = strcmp(d->e.key, t->e.key);
		if (c < 0)
			t->left = dk_remove(t->left, d);
		else
			t->right = dk_remove(t->right, d);
		return dk_balance(t);
	}
	if (t->left == NULL)
		return t->right;
	if (t->right == NULL)
		return t->left;
	/* its successor takes its place */
	min = NULL;
	t->right = dk_remove_min(t->right, &min);
	min->left = t->left;
	min->right = t->right;
	return dk_balance(min);
}

/* A walk of the keys with a prefix, in order, into a growing array. */
struct dk_walk {
	const char *prefix;
	size_t	plen;
	const struct dkmap_ent **v;
	size_t	n, alloc;
};

/* dk_collect - the entries of t whose key starts with w->prefix, in order */
static void dk_collect(const struct dkent *t, struct dk_walk *w)
{
	int     c;

	while (t != NULL) {
		c = w->plen ? strncmp(t->e.key, w->prefix, w->plen) : 0;
		if (c < 0) {
			t = t->right;		/* t and its left are below the range */
			continue;
		}
		if (c > 0) {
			t = t->left;		/* t and its right are above it */
			continue;
		}
		dk_collect(t->left, w);
		if (w->n == w->alloc) {
			w->alloc = w->alloc ? 2 * w->alloc : 16;
			w->v = xrealloc(w->v, w->alloc * sizeof(*w->v));
		}
		w->v[w->n++] = &t->e;
		t = t->right;
	}
}

/* dk_check - the subtree t is ordered strictly between lo and hi (NULL:
 * no bound), its heights right and balanced; its entries counted in *n.
 * 0, or -1 */
static int dk_check(const struct dkent *t, const char *lo, const char *hi, size_t *n)
{
	int     l, r;

	if (t == NULL)
		return 0;
	if ((lo != NULL && strcmp(t->e.key, lo) <= 0) || (hi != NULL && strcmp(t->e.key, hi) >= 0))
		return -1;
	if (dk_check(t->left, lo, t->e.key, n) < 0 || dk_check(t->right, t->e.key, hi, n) < 0)
		return -1;
	l = dk_height(t->left);
	r = dk_height(t->right);
	if (t->height != (l > r ? l : r) + 1 || l - r > 1 || r - l > 1)
		return -1;
	(*n)++;
	return 0;
}

/* dkmap_put - key holds val since mtime */
void dkmap_put(struct dkmap *m, const char *key, const void *val, size_t vlen, int64_t mtime)
{
	uint64_t h = dkmap_hash(key);
	struct dkent **pp = dkmap_find(m, key, h), *d = *pp;
	unsigned char *v = xmalloc(vlen + 1);

	if (vlen)
		memcpy(v, val, vlen);
	v[vlen] = '\0';
	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->hash = h;
		d->e.key = xstrdup(key);
		*pp = d;
		m->root = dk_insert(m->root, d);
		if (++m->n > m->nb)
			dkmap_grow(m);
	} else {
		free((unsigned char *) d->e.val);
	}
	d->e.val = v;
	d->e.vlen = vlen;
	d->e.mtime = mtime;
}

/* dkmap_del - remove key */
int dkmap_del(struct dkmap *m, const char *key)
{
	struct dkent **pp = dkmap_find(m, key, dkmap_hash(key)), *d = *pp;

	if (d == NULL)
		return 0;
	*pp = d->next;
	m->root = dk_remove(m->root, d);
	dkent_free(d);
	m->n--;
	return 1;
}

/* dkmap_get - the docket of key or NULL */
const struct dkmap_ent *dkmap_get(const struct dkmap *m, const char *key)
{
	struct dkent *d = *dkmap_find(m, key, dkmap_hash(key));

	return d ? &d->e : NULL;
}

/* dkmap_sorted - every docket, ordered by key */
const struct dkmap_ent **dkmap_sorted(const struct dkmap *m, size_t *n)
{
	return dkmap_prefixed(m, NULL, n);
}

/* dkmap_prefixed - the dockets whose key starts with prefix, ordered by
 * key: the range of the tree that holds them */
const struct dkmap_ent **dkmap_prefixed(const struct dkmap *m, const char *prefix, size_t *n)
{
	struct dk_walk w;

	memset(&w, 0, sizeof(w));
	w.prefix = prefix ? prefix : "";
	w.plen = strlen(w.prefix);
	if (w.plen == 0) {
		/* every docket: the size is known */
		w.alloc = m->n ? m->n : 1;
		w.v = xcalloc(w.alloc, sizeof(*w.v));
	}
	dk_collect(m->root, &w);
	PANIC_IF(w.plen == 0 && w.n != m->n);
	if (w.v == NULL)
		w.v = xcalloc(1, sizeof(*w.v));
	*n = w.n;
	return w.v;
}

/* dkmap_check - the tree holds exactly the map's dockets, ordered and
 * balanced */
int dkmap_check(const struct dkmap *m)
{
	const struct dkent *d;
	size_t  n = 0, i, inhash = 0;

	if (dk_check(m->root, NULL, NULL, &n) < 0 || n != m->n)
		return -1;
	for (i = 0; i < m->nb; i++)
		for (d = m->b[i]; d; d = d->next)
			inhash++;
	return inhash == m->n ? 0 : -1;
}

/*
 * Records
 */

/* dkmap_key_ok - 1..DKMAP_KEYMAX octets (a C string: no NUL) */
static int dkmap_key_ok(const char *key, size_t len)
{
	return len > 0 && len <= DKMAP_KEYMAX && memchr(key, '\0', len) == NULL;
}

/* dkmap_chunk - how many octets of v (len) fit, escaped, in room; at least 1 */
static size_t dkmap_chunk(const char *v, size_t len, size_t room)
{
	size_t  n = len < JOURNAL_VALUE_MAX ? len : JOURNAL_VALUE_MAX, need;

	while (n > 1 && (need = str_escape(NULL, 0, v, n)) > room) {
		size_t  m = (size_t) ((uint64_t) n * room / need);

		n = m < n ? m : n - 1;
		if (n == 0)
			n = 1;
	}
	return n;
}

struct dkmap_line {
	const char *what;	/* "put", "add", "del" */
	const char *key;
	const char *val;
	size_t	vlen;
};

/* dkmap_records - append the records of one transaction */
int dkmap_records(struct buf *b, const struct dkmap_op *ops, size_t n, size_t others,
	unsigned *nlines)
{
	struct dkmap_line *l = NULL;
	struct journal_kv kv[3];
	size_t  nl = 0, al = 0, i, klen, left, c, room, before = b->len, at, want;
	char    num[32];
	const char *v;

	for (i = 0; i < n; i++) {
		klen = strlen(ops[i].key);
		if (!dkmap_key_ok(ops[i].key, klen) || (!ops[i].del && ops[i].vlen > DKMAP_VALMAX))
			log_panic("dkmap_records: bad key or value of %zu octets", ops[i].vlen);
		room = DKMAP_LINE_BUDGET - DKMAP_FIXED - str_escape(NULL, 0, ops[i].key, klen);
		v = ops[i].del ? "1" : ops[i].val;
		left = ops[i].del ? 1 : ops[i].vlen;
		do {
			c = ops[i].del ? 1 : dkmap_chunk(v, left, room);
			if (nl == al) {
				al = al ? 2 * al : 8;
				l = xrealloc(l, al * sizeof(*l));
			}
			l[nl].what = ops[i].del ? "del" : v == ops[i].val ? "put" : "add";
			l[nl].key = ops[i].key;
			l[nl].val = c ? v : "";
			l[nl].vlen = c;
			nl++;
			v += c;
			left -= c;
		} while (left > 0);
	}
	if (nl + others > DKMAP_GROUP_MAX)
		goto toobig;
	for (i = 0; i < nl; i++) {
		snprintf(num, sizeof(num), "%zu/%zu", i + 1, nl + others);
		kv[0].key = "dk";
		kv[0].val = num;
		kv[0].vlen = strlen(num);
		kv[1].key = "key";
		kv[1].val = l[i].key;
		kv[1].vlen = strlen(l[i].key);
		kv[2].key = l[i].what;
		kv[2].val = l[i].val;
		kv[2].vlen = l[i].vlen;
		/* "docket -", " dk=", " key=", " WHAT=", newline */
		want = sizeof(DKMAP_EVENT " -") - 1 + 4 + kv[0].vlen + 5
		    + str_escape(NULL, 0, kv[1].val, kv[1].vlen) + 2 + strlen(kv[2].key)
		    + str_escape(NULL, 0, kv[2].val, kv[2].vlen) + 1;
		at = b->len;
		if (journal_format_kv(b, NULL, DKMAP_EVENT, NULL, kv, 3) < 0)
			goto toobig;
		/* a line the formatter cut would lose a docket */
		PANIC_IF(b->len - at != want || want > DKMAP_LINE_BUDGET);
	}
	free(l);
	*nlines = (unsigned) nl;
	return 0;
toobig:
	b->len = before;
	free(l);
	return -1;
}

/* dkmap_time - ISO 8601 UTC as seconds */
int dkmap_time(const char *s, int64_t *t)
{
	struct tm tm;
	int     v[6], i, k;
	static const int at[6] = { 0, 5, 8, 11, 14, 17 }, w[6] = { 4, 2, 2, 2, 2, 2 };
	time_t  r;

	for (i = 0; i < 6; i++) {
		v[i] = 0;
		for (k = 0; k < w[i]; k++) {
			if (s[at[i] + k] < '0' || s[at[i] + k] > '9')
				return -1;
			v[i] = v[i] * 10 + (s[at[i] + k] - '0');
		}
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if ((r = timegm(&tm)) == (time_t) -1)
		return -1;
	*t = (int64_t) r;
	return 0;
}

/*
 * Replay
 */

struct dkpend {
	int	del;
	char   *key;
	struct buf val;
	int64_t	mtime;
};

struct dkmap_replay {
	struct dkmap *m;
	char   *only;
	struct journal_rec rec;
	struct dkpend *p;		/* the group in progress */
	size_t	np, ap;
	unsigned long next, n;		/* its next line and its size (0: none) */
	int	others;			/* its other lines have begun */
	size_t	octets;
	uint64_t off0;			/* offset of its first record */
	unsigned long records, dropped;
};

/* dkmap_replay_new - replay records into m */
struct dkmap_replay *dkmap_replay_new(struct dkmap *m, const char *only)
{
	struct dkmap_replay *r = xcalloc(1, sizeof(*r));

	r->m = m;
	r->only = only ? xstrdup(only) : NULL;
	return r;
}

/* dkmap_pend_clear - forget the group in progress */
static void dkmap_pend_clear(struct dkmap_replay *r)
{
	size_t  i;

	for (i = 0; i < r->np; i++) {
		free(r->p[i].key);
		buf_release(&r->p[i].val);
	}
	r->np = 0;
	r->n = r->next = 0;
	r->others = 0;
	r->octets = 0;
}

/* dkmap_replay_break - a group in progress is dropped */
void dkmap_replay_break(struct dkmap_replay *r)
{
	if (r->n) {
		r->dropped++;
		dkmap_pend_clear(r);
	}
}

/* dkmap_group_of - parse "I/N" */
static int dkmap_group_of(const char *s, size_t len, unsigned long *i, unsigned long *n)
{
	const char *slash = memchr(s, '/', len);
	char    a[16], b[16];
	uint64_t x, y;

	if (slash == NULL || slash == s || (size_t) (slash - s) >= sizeof(a)
	    || len - (size_t) (slash - s) - 1 >= sizeof(b))
		return -1;
	memcpy(a, s, (size_t) (slash - s));
	a[slash - s] = '\0';
	memcpy(b, slash + 1, len - (size_t) (slash - s) - 1);
	b[len - (size_t) (slash - s) - 1] = '\0';
	if (str_to_u64(a, 1, DKMAP_GROUP_MAX, &x) < 0 || str_to_u64(b, 1, DKMAP_GROUP_MAX, &y) < 0
	    || x > y)
		return -1;
	*i = (unsigned long) x;
	*n = (unsigned long) y;
	return 0;
}

/* dkmap_apply - the group is whole: into the map, in order */
static void dkmap_apply(struct dkmap_replay *r)
{
	size_t  i;

	for (i = 0; i < r->np; i++) {
		if (r->only && strcmp(r->p[i].key, r->only) != 0)
			continue;
		if (r->p[i].del)
			(void) dkmap_del(r->m, r->p[i].key);
		else
			dkmap_put(r->m, r->p[i].key, buf_data(&r->p[i].val), r->p[i].val.len,
			    r->p[i].mtime);
	}
	dkmap_pend_clear(r);
}

/* dkmap_replay_line - one whole journal line */
int dkmap_replay_line(struct dkmap_replay *r, const char *line, size_t len, uint64_t off,
	char *err, size_t errlen)
{
	static const char tag[] = " " DKMAP_EVENT " ";
	struct journal_rec *rec = &r->rec;
	const char *what, *val, *key;
	size_t  vlen, klen;
	unsigned long i, n;
	int64_t t;
	struct dkpend *p;
	const char *why;

	if (len < JOURNAL_TIMELEN + sizeof(tag) - 1
	    || memcmp(line + JOURNAL_TIMELEN, tag, sizeof(tag) - 1) != 0) {
		/* another line: of the group's transaction, after its records */
		if (r->n) {
			r->others = 1;
			if (r->next++ == r->n)
				dkmap_apply(r);
		}
		return 0;
	}
	why = "not a journal line";
	if (journal_parse(line, len, rec) < 0)
		goto bad;
	why = "not a docket record";
	if (strcmp(rec->event, DKMAP_EVENT) != 0 || strcmp(rec->name, "-") != 0 || rec->nkv != 3
	    || strcmp(rec->kv[0].key, "dk") != 0 || strcmp(rec->kv[1].key, "key") != 0)
		goto bad;
	what = rec->kv[2].key;
	key = rec->kv[1].val;
	klen = rec->kv[1].vlen;
	val = rec->kv[2].val;
	vlen = rec->kv[2].vlen;
	why = "bad dk=I/N";
	if (dkmap_group_of(rec->kv[0].val, rec->kv[0].vlen, &i, &n) < 0)
		goto bad;
	why = "bad key";
	if (!dkmap_key_ok(key, klen))
		goto bad;
	why = "bad time";
	if (dkmap_time(rec->time, &t) < 0)
		goto bad;
	why = "not put, add or del";
	if (strcmp(what, "del") == 0) {
		why = "del is not 1";
		if (vlen != 1 || val[0] != '1')
			goto bad;
	} else if (strcmp(what, "put") != 0 && strcmp(what, "add") != 0) {
		goto bad;
	}
	if (i == 1) {
		dkmap_replay_break(r);		/* a group before it was cut short */
		r->n = n;
		r->next = 1;
		r->off0 = off;
	} else if (r->n == 0 || i != r->next || n != r->n || r->others) {
		why = "out of order (a line of its transaction is missing)";
		goto bad;
	}
	why = "group too large";
	r->octets += len;
	if (r->octets > DKMAP_GROUP_OCTETS)
		goto bad;
	if (strcmp(what, "add") == 0) {
		p = r->np ? &r->p[r->np - 1] : NULL;
		why = "add without its put";
		if (p == NULL || p->del || strcmp(p->key, key) != 0)
			goto bad;
		why = "value too large";
		if (p->val.len + vlen > DKMAP_VALMAX || buf_append(&p->val, val, vlen) < 0)
			goto bad;
	} else {
		why = "value too large";
		if (vlen > DKMAP_VALMAX)
			goto bad;
		if (r->np == r->ap) {
			r->ap = r->ap ? 2 * r->ap : 8;
			r->p = xrealloc(r->p, r->ap * sizeof(*r->p));
		}
		p = &r->p[r->np++];
		p->del = what[0] == 'd';
		p->key = xstrdup(key);
		p->mtime = t;
		buf_init(&p->val, DKMAP_VALMAX);
		if (!p->del && vlen)
			(void) buf_append(&p->val, val, vlen);
	}
	r->records++;
	if (r->next++ == r->n)
		dkmap_apply(r);
	return 0;
bad:
	if (err && errlen)
		snprintf(err, errlen, "malformed docket record: %s", why);
	errno = EBADMSG;
	return -1;
}

/* dkmap_replay_pending - the group in progress, if any */
int dkmap_replay_pending(const struct dkmap_replay *r, uint64_t *off)
{
	if (r->n == 0)
		return 0;
	*off = r->off0;
	return 1;
}

/* dkmap_replay_counts - records read and groups dropped */
void dkmap_replay_counts(const struct dkmap_replay *r, unsigned long *records,
	unsigned long *dropped)
{
	*records = r->records;
	*dropped = r->dropped;
}

/* dkmap_replay_free - free */
void dkmap_replay_free(struct dkmap_replay *r)
{
	if (r == NULL)
		return;
	dkmap_pend_clear(r);
	free(r->p);
	free(r->only);
	free(r);
}

/*
 * Snapshot
 */

/* dkmap_le - append v as n little-endian octets */
static int dkmap_le(struct buf *b, uint64_t v, int n)
{
	unsigned char o[8];
	int     i;

	for (i = 0; i < n; i++)
		o[i] = (unsigned char) (v >> (8 * i));
	return buf_append(b, o, (size_t) n);
}

/* dkmap_get_le - n little-endian octets at p */
static uint64_t dkmap_get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int     i;

	for (i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* dkmap_snap_encode - the snapshot of m at pos into b */
int dkmap_snap_encode(const struct dkmap *m, const struct dkmap_pos *pos, struct buf *b)
{
	const struct dkmap_ent *e;
	struct dkent *d;
	size_t  i;
	uLong   crc;

	PANIC_IF(pos->taillen > DKMAP_TAILMAX);
	buf_reset(b);
	if (buf_append(b, DKMAP_MAGIC, 4) < 0 || dkmap_le(b, pos->ino, 8) < 0
	    || dkmap_le(b, pos->off, 8) < 0 || dkmap_le(b, pos->taillen, 2) < 0
	    || buf_append(b, pos->tail, pos->taillen) < 0 || dkmap_le(b, m->n, 8) < 0)
		return -1;
	for (i = 0; i < m->nb; i++)
		for (d = m->b[i]; d; d = d->next) {
			e = &d->e;
			if (dkmap_le(b, strlen(e->key), 2) < 0 || dkmap_le(b, e->vlen, 4) < 0
			    || dkmap_le(b, (uint64_t) e->mtime, 8) < 0
			    || buf_append(b, e->key, strlen(e->key)) < 0
			    || buf_append(b, e->val, e->vlen) < 0)
				return -1;
		}
	crc = crc32(0L, Z_NULL, 0);
	for (i = 0; i < b->len; i += 1u << 30)
		crc = crc32(crc, buf_data(b) + i, (uInt) (b->len - i < (1u << 30) ? b->len - i
		    : 1u << 30));
	return dkmap_le(b, crc, 4);
}

/* dkmap_snap_walk - check (m NULL) or read the dockets of a snapshot whose
 * CRC passed; body [p, end) after the header; 0 or -1 with *why */
static int dkmap_snap_walk(const unsigned char *p, const unsigned char *end, uint64_t count,
	struct dkmap *m, const char *only, const char **why)
{
	uint64_t i;
	size_t  kl, vl;
	int64_t t;
	char    key[DKMAP_KEYMAX + 1];

	for (i = 0; i < count; i++) {
		*why = "truncated";
		if ((size_t) (end - p) < 14)
			return -1;
		kl = (size_t) dkmap_get_le(p, 2);
		vl = (size_t) dkmap_get_le(p + 2, 4);
		t = (int64_t) dkmap_get_le(p + 6, 8);
		p += 14;
		if ((size_t) (end - p) < kl || (size_t) (end - p) - kl < vl)
			return -1;
		*why = "bad docket";
		if (!dkmap_key_ok((const char *) p, kl) || vl > DKMAP_VALMAX)
			return -1;
		memcpy(key, p, kl);
		key[kl] = '\0';
		if (m != NULL && (only == NULL || strcmp(key, only) == 0))
			dkmap_put(m, key, p + kl, vl, t);
		p += kl + vl;
	}
	*why = "trailing octets";
	return p == end ? 0 : -1;
}

/* dkmap_snap_parse - check and read a snapshot */
int dkmap_snap_parse(const void *data, size_t len, struct dkmap_pos *pos, struct dkmap *m,
	const char *only, char *err, size_t errlen)
{
	const unsigned char *p = data, *end;
	const char *why = "too short";
	size_t  tl, i;
	uint64_t count;
	uLong   crc;

	if (len < 4 + 8 + 8 + 2 + 8 + 4 || len > DKMAP_SNAP_MAX)
		goto bad;
	why = "not a docket snapshot";
	if (memcmp(p, DKMAP_MAGIC, 4) != 0)
		goto bad;
	end = p + len - 4;
	crc = crc32(0L, Z_NULL, 0);
	for (i = 0; i < len - 4; i += 1u << 30)
		crc = crc32(crc, p + i, (uInt) (len - 4 - i < (1u << 30) ? len - 4 - i : 1u << 30));
	why = "bad CRC";
	if (dkmap_get_le(end, 4) != crc)
		goto bad;
	tl = (size_t) dkmap_get_le(p + 20, 2);
	why = "bad header";
	if (tl > DKMAP_TAILMAX || (size_t) (end - p) < 22 + tl + 8)
		goto bad;
	if (tl > dkmap_get_le(p + 12, 8))
		goto bad;
	count = dkmap_get_le(p + 22 + tl, 8);
	if (dkmap_snap_walk(p + 30 + tl, end, count, NULL, NULL, &why) < 0)
		goto bad;
	pos->ino = dkmap_get_le(p + 4, 8);
	pos->off = dkmap_get_le(p + 12, 8);
	pos->taillen = tl;
	memcpy(pos->tail, p + 22, tl);
	(void) dkmap_snap_walk(p + 30 + tl, end, count, m, only, &why);
	return 0;
bad:
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	errno = EBADMSG;
	return -1;
}
