/*++
 * NAME
 *	sysio_order 1
 * SUMMARY
 *	replay a sysio trace on a model of a crash and check every
 *	acknowledgement against it
 * SYNOPSIS
 *	sysio_order [-v] TRACE
 * DESCRIPTION
 *	TRACE is written by util/sysio.h (NIFTPMAIL_SYSIO_TRACE=FILE or
 *	sysio_trace_open()). The records are replayed in file order on a
 *	model of what a power cut at that moment would leave
 *	(doc/spool.md, "Checking the order of durability"):
 *
 *	- the data of a file (by DEV:INODE) is durable when an fsync or
 *	  fdatasync of it came after its last write; a file none of whose
 *	  writes is in the trace needs one sync all the same;
 *	- a directory entry created (create, link, rename into) or removed
 *	  (unlink, rename out of) is durable when an fsync of that
 *	  directory came after the change; until then a crash leaves the
 *	  entry as it was at the last such fsync (an entry first seen being
 *	  removed was there durably before);
 *	- a line appended to a log (a "line" record) is durable when the
 *	  log file was synced after the write that appended it.
 *
 *	At each mark it checks what the acknowledgement promised:
 *
 *	  er-ok NAME, pickup NAME ok
 *	    the letter, i.e. the entry named NAME in a directory other
 *	    than tmp/ and part/ that was made last: its data, its entry (or
 *	    another durable entry of NAME for the same file), for a rename
 *	    whose new entry is durable the removal of the source name when
 *	    that is in a state directory (else a drop would be taken twice;
 *	    a name left in tmp/ by a commit is removed by recovery), and the
 *	    journal line "received NAME", which must exist;
 *	  env-left LETTER ENV HOP
 *	    the removal of ENV, any change to an entry named LETTER (its
 *	    removal, or move to dead/, with the last envelope), and every
 *	    journal line "forwarded LETTER ... to=HOP" (for HOP "local":
 *	    "delivered LETTER") written before the mark. A letter simply
 *	    unlinked, or renamed out of the states (into tmp/ for reuse),
 *	    once its transaction committed, without a directory sync, need
 *	    not be durable, but that must come after the first sync of the
 *	    journal that followed each such line.
 *
 *	Other marks ("pickup NAME refused", unknown words) are counted and
 *	skipped. Docket files are not looked at (dockets are becoming
 *	journal records).
 *
 *	The tool uses nothing from util/ (an oracle must not share the
 *	code it judges). With -DSYSIO_ORDER_NO_MAIN the file is a library
 *	of static functions for tests/unit/test_order.c: order_check().
 * DIAGNOSTICS
 *	One line per broken promise on standard output:
 *	"sysio_order: TRACE:LINE: mark 'TEXT': PROBLEM", then a summary.
 *	Exit 0 when every promise held, 1 when one did not, 2 when the
 *	trace is unreadable, malformed, cut short or has no mark at all,
 *	64 on a usage error.
 *--*/
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORDER_NONE	(-1)	/* no file at an entry */
#define ORDER_WORDS	16	/* fields of a record */
#define ORDER_LINEMAX	(64 * 1024)	/* longer trace lines are malformed */

/* What order_check() counted. */
struct order_sum {
	unsigned long records;	/* trace records */
	unsigned long erok, pickup, envleft, other;	/* marks */
	unsigned long jlines;	/* journal lines whose durability was checked */
	unsigned long skipped;	/* syncs the shim was told to skip */
	unsigned long problems;
};

/* string -> index, open addressing */
struct order_map {
	char  **keys;
	int    *vals;
	size_t	cap, n;
};

struct order_file {
	char   *id;		/* DEV:INODE */
	char   *path;		/* last name seen */
	long	wline;		/* last write (0: none seen) */
	long	sline;		/* last sync (0: none) */
	long	skline;		/* last skipped sync */
	int	nnames;		/* entries the model knows for it */
	long   *syncs;		/* every sync, in order (for "synced before X") */
	size_t	nsyncs, asyncs;
};

struct order_ent {
	char   *dir, *name;
	int	cur, dur;	/* file index or ORDER_NONE */
	long	line;		/* last change */
	const char *how;	/* "created", "linked from", "renamed from", "renamed to", "unlinked" */
	int	peer;		/* rename/link: the entry at the other end, or -1 */
	int	pending;	/* in its directory's pending list */
	int	next;		/* next entry of the same name, or -1 */
};

struct order_dir {
	char   *path;
	int    *pend;		/* entries changed since the last fsync */
	size_t	npend, apend;
	long	skline;		/* last skipped fsync */
};

struct order_line {
	int	file;
	long	line;
	char   *event, *name, *text;
	int	next;		/* next line of the same name, or -1 */
};

struct order {
	const char *trace;
	FILE   *out;
	int	verbose;
	long	ln;		/* current trace line */
	struct order_map fmap, emap, dmap, nmap, lmap;	/* files, entries, dirs, names, lines by name */
	struct order_file *files;
	size_t	nfiles, afiles;
	struct order_ent *ents;
	size_t	nents, aents;
	struct order_dir *dirs;
	size_t	ndirs, adirs;
	struct order_line *lines;
	size_t	nlines, alines;
	struct order_sum sum;
};

/*
 * Memory (the tool is an oracle: its own, plain)
 */

static void *order_alloc(void *p, size_t n)
{
	void   *q = realloc(p, n ? n : 1);

	if (q == NULL) {
		fprintf(stderr, "sysio_order: out of memory\n");
		exit(2);
	}
	return q;
}

/* order_strdup - strdup or exit */
static char *order_strdup(const char *s)
{
	size_t  n = strlen(s) + 1;

	return memcpy(order_alloc(NULL, n), s, n);
}

/* order_grow - make room for one more element of size in *v */
static void order_grow(void **v, size_t *alloc, size_t n, size_t size)
{
	if (n < *alloc)
		return;
	*alloc = *alloc ? 2 * *alloc : 64;
	*v = order_alloc(*v, *alloc * size);
}

/* order_hash - FNV-1a */
static uint64_t order_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char) *s++) * 1099511628211ULL;
	return h;
}

/* map_slot - the slot of key, or of the empty slot where it belongs */
static size_t map_slot(const struct order_map *m, const char *key)
{
	size_t  i = (size_t) order_hash(key) & (m->cap - 1);

	while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* map_get - the value of key, or -1 */
static int map_get(const struct order_map *m, const char *key)
{
	size_t  i;

	if (m->cap == 0)
		return -1;
	i = map_slot(m, key);
	return m->keys[i] ? m->vals[i] : -1;
}

/* map_set - key (copied) to val, replacing */
static void map_set(struct order_map *m, const char *key, int val)
{
	size_t  i, oldcap = m->cap;
	char  **ok = m->keys;
	int    *ov = m->vals;

	if (2 * (m->n + 1) > m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->keys = order_alloc(NULL, m->cap * sizeof(*m->keys));
		m->vals = order_alloc(NULL, m->cap * sizeof(*m->vals));
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
		for (i = 0; i < oldcap; i++)
			if (ok[i] != NULL) {
				size_t  j = map_slot(m, ok[i]);

				m->keys[j] = ok[i];
				m->vals[j] = ov[i];
			}
		free(ok);
		free(ov);
	}
	i = map_slot(m, key);
	if (m->keys[i] == NULL) {
		m->keys[i] = order_strdup(key);
		m->n++;
	}
	m->vals[i] = val;
}

/* map_free - free the keys and the tables */
static void map_free(struct order_map *m)
{
	size_t  i;

	for (i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/*
 * The model
 */

static int file_get(struct order *o, const char *id)
{
	int     k = map_get(&o->fmap, id);
	struct order_file *f;

	if (k >= 0)
		return k;
	order_grow((void **) &o->files, &o->afiles, o->nfiles, sizeof(*o->files));
	f = &o->files[o->nfiles];
	memset(f, 0, sizeof(*f));
	f->id = order_strdup(id);
	map_set(&o->fmap, id, (int) o->nfiles);
	return (int) o->nfiles++;
}

/* file_path - the last name seen for file k (for messages) */
static void file_path(struct order *o, int k, const char *path)
{
	free(o->files[k].path);
	o->files[k].path = order_strdup(path);
}

/* dir_get - the directory of that name, made on first sight */
static int dir_get(struct order *o, const char *path)
{
	int     k = map_get(&o->dmap, path);
	struct order_dir *d;

	if (k >= 0)
		return k;
	order_grow((void **) &o->dirs, &o->adirs, o->ndirs, sizeof(*o->dirs));
	d = &o->dirs[o->ndirs];
	memset(d, 0, sizeof(*d));
	d->path = order_strdup(path);
	map_set(&o->dmap, path, (int) o->ndirs);
	return (int) o->ndirs++;
}

/* ent_get - the entry DIR/NAME; a new one holds file (ORDER_NONE: none),
 * durably: it was there before the trace saw it */
static int ent_get(struct order *o, const char *dir, const char *name, int file)
{
	char   *key;
	size_t  n = strlen(dir) + strlen(name) + 2;
	int     k, head;
	struct order_ent *e;

	key = order_alloc(NULL, n);
	snprintf(key, n, "%s/%s", dir, name);
	k = map_get(&o->emap, key);
	if (k >= 0) {
		free(key);
		return k;
	}
	order_grow((void **) &o->ents, &o->aents, o->nents, sizeof(*o->ents));
	e = &o->ents[o->nents];
	memset(e, 0, sizeof(*e));
	e->dir = order_strdup(dir);
	e->name = order_strdup(name);
	e->cur = e->dur = file;
	e->how = "present before the trace";
	e->peer = -1;
	head = map_get(&o->nmap, name);
	e->next = head;
	map_set(&o->nmap, name, (int) o->nents);
	map_set(&o->emap, key, (int) o->nents);
	free(key);
	if (file != ORDER_NONE)
		o->files[file].nnames++;
	(void) dir_get(o, dir);
	return (int) o->nents++;
}

/* file_synced - file f was synced at the current line */
static void file_synced(struct order *o, int f)
{
	struct order_file *fl = &o->files[f];

	if (fl->nsyncs == fl->asyncs) {
		fl->asyncs = fl->asyncs ? 2 * fl->asyncs : 16;
		fl->syncs = realloc(fl->syncs, fl->asyncs * sizeof(*fl->syncs));
		if (fl->syncs == NULL) {
			perror("sysio_order: realloc");
			exit(2);
		}
	}
	fl->syncs[fl->nsyncs++] = o->ln;
}

/* first_sync_after - the first sync of file f after trace line ln, 0: none */
static long first_sync_after(const struct order *o, int f, long ln)
{
	const struct order_file *fl = &o->files[f];
	size_t  lo = 0, hi = fl->nsyncs;

	while (lo < hi) {
		size_t  mid = (lo + hi) / 2;

		if (fl->syncs[mid] <= ln)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < fl->nsyncs ? fl->syncs[lo] : 0;
}

/* ent_set - the entry now holds file (or nothing), by how at this line */
static void ent_set(struct order *o, int k, int file, const char *how, int peer)
{
	struct order_ent *e = &o->ents[k];
	struct order_dir *d = &o->dirs[dir_get(o, e->dir)];
	struct order_file *f;

	if (e->cur != ORDER_NONE) {
		f = &o->files[e->cur];
		/* its last name we knew of is gone: the inode may be reused */
		if (--f->nnames <= 0) {
			f->nnames = 0;
			f->wline = f->sline = f->skline = 0;
			f->nsyncs = 0;
		}
	}
	if (file != ORDER_NONE)
		o->files[file].nnames++;
	e->cur = file;
	e->line = o->ln;
	e->how = how;
	e->peer = peer;
	if (!e->pending) {
		e = &o->ents[k];
		order_grow((void **) &d->pend, &d->apend, d->npend, sizeof(*d->pend));
		d->pend[d->npend++] = k;
		e->pending = 1;
	}
}

/* dir_sync - an fsync of the directory: its changes are durable */
static void dir_sync(struct order *o, const char *path)
{
	struct order_dir *d = &o->dirs[dir_get(o, path)];
	size_t  i;

	for (i = 0; i < d->npend; i++) {
		struct order_ent *e = &o->ents[d->pend[i]];

		e->dur = e->cur;
		e->pending = 0;
	}
	d->npend = 0;
}

/* label - "in/NAME" for an entry: the last component of its directory */
static void ent_label(const struct order_ent *e, char *buf, size_t len)
{
	const char *s = strrchr(e->dir, '/');

	snprintf(buf, len, "%s/%s", s ? s + 1 : e->dir, e->name);
}

/* ent_is_state - an entry in a directory a letter is committed to */
static int ent_is_state(const struct order_ent *e)
{
	const char *s = strrchr(e->dir, '/');

	s = s ? s + 1 : e->dir;
	return strcmp(s, "tmp") != 0 && strcmp(s, "part") != 0 && e->name[0] != '.';
}

/*
 * Reporting
 */

static void problem(struct order *o, const char *mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct order *o, const char *mark, const char *fmt, ...)
{
	va_list ap;

	o->sum.problems++;
	fprintf(o->out, "sysio_order: %s:%ld: mark '%s': ", o->trace, o->ln, mark);
	va_start(ap, fmt);
	vfprintf(o->out, fmt, ap);
	va_end(ap);
	fputc('\n', o->out);
}

/* skipped_note - " (the sync at line N was skipped)" when one came after line */
static const char *skipped_note(long skline, long line, char *buf, size_t len)
{
	if (skline > line)
		snprintf(buf, len, " (the sync at trace line %ld was skipped: NIFTPMAIL_SYSIO_SKIP)",
		    skline);
	else
		buf[0] = '\0';
	return buf;
}

/* check_ent - the entry's last change is durable; else a problem */
static int check_ent(struct order *o, const char *mark, int k)
{
	struct order_ent *e = &o->ents[k];
	struct order_dir *d = &o->dirs[dir_get(o, e->dir)];
	char    lab[512], peer[512] = "", note[128];

	if (e->cur == e->dur)
		return 0;
	if (e->peer >= 0)
		ent_label(&o->ents[e->peer], peer, sizeof(peer));
	ent_label(e, lab, sizeof(lab));
	problem(o, mark, "entry '%s' not durable: %s%s%s%s at trace line %ld, no fsync of"
	    " directory '%s' after it%s", lab, e->how, peer[0] ? " '" : "", peer,
	    peer[0] ? "'" : "", e->line, e->dir,
	    skipped_note(d->skline, e->line, note, sizeof(note)));
	return -1;
}

/* check_data - the file's data is durable; else a problem */
static int check_data(struct order *o, const char *mark, int k, const char *lab)
{
	struct order_file *f = &o->files[k];
	char    note[128];

	if (f->sline > 0 && f->sline > f->wline)
		return 0;
	if (f->wline == 0)
		problem(o, mark, "data of '%s' (file %s) not durable: never fsynced or"
		    " fdatasynced in the trace%s", lab, f->id,
		    skipped_note(f->skline, 0, note, sizeof(note)));
	else
		problem(o, mark, "data of '%s' (file %s) not durable: written at trace line %ld,"
		    " no fsync or fdatasync of it after that%s", lab, f->id, f->wline,
		    skipped_note(f->skline, f->wline, note, sizeof(note)));
	return -1;
}

/* check_jline - a journal line is durable; else a problem */
static void check_jline(struct order *o, const char *mark, const struct order_line *l)
{
	struct order_file *f = &o->files[l->file];
	char    note[128];

	o->sum.jlines++;
	if (f->sline > l->line)
		return;
	problem(o, mark, "journal line '%s %s' (trace line %ld, '%s') not durable: no fdatasync"
	    " or fsync of the journal after it%s", l->event, l->name, l->line,
	    f->path ? f->path : f->id, skipped_note(f->skline, l->line, note, sizeof(note)));
}

/* has_word - the text of a journal line has the word w */
static int has_word(const char *text, const char *w)
{
	size_t  n = strlen(w);
	const char *p = text;

	while ((p = strstr(p, w)) != NULL) {
		if ((p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* mark_letter - er-ok NAME, pickup NAME ok: the letter and its "received" line */
static void mark_letter(struct order *o, const char *mark, const char *name)
{
	int     k, best = -1, n = 0, durable = 0;
	char    lab[512];
	struct order_ent *e;

	for (k = map_get(&o->nmap, name); k >= 0; k = o->ents[k].next) {
		e = &o->ents[k];
		if (e->cur != ORDER_NONE && ent_is_state(e)
		    && (best < 0 || e->line > o->ents[best].line))
			best = k;
	}
	if (best < 0) {
		problem(o, mark, "no entry '%s' in a state directory (never committed?)", name);
	} else {
		e = &o->ents[best];
		ent_label(e, lab, sizeof(lab));
		(void) check_data(o, mark, e->cur, lab);
		/* durable under its new name, or still under an older one */
		for (k = map_get(&o->nmap, name); k >= 0; k = o->ents[k].next)
			if (ent_is_state(&o->ents[k]) && o->ents[k].dur == e->cur)
				durable = 1;
		if (!durable)
			(void) check_ent(o, mark, best);
		/* durable under the new name and the old one: a drop whose
		 * removal from out/ is lost is taken twice (durable under the
		 * old name only, the letter is still where it was); a commit's
		 * tmp/ name that comes back is removed by recovery */
		if (e->dur == e->cur && strcmp(e->how, "renamed from") == 0 && e->peer >= 0
		    && ent_is_state(&o->ents[e->peer]))
			(void) check_ent(o, mark, e->peer);
	}
	for (k = map_get(&o->lmap, name); k >= 0; k = o->lines[k].next)
		if (strcmp(o->lines[k].event, "received") == 0) {
			check_jline(o, mark, &o->lines[k]);
			n++;
		}
	if (n == 0)
		problem(o, mark, "no journal line 'received %s' before it", name);
}

/* mark_left - env-left LETTER ENV HOP */
static void mark_left(struct order *o, const char *mark, const char *letter, const char *env,
	const char *hop)
{
	char    to[512];
	int     k, local = strcmp(hop, "local") == 0;
	const char *ev = local ? "delivered" : "forwarded";

	for (k = map_get(&o->nmap, env); k >= 0; k = o->ents[k].next)
		if (ent_is_state(&o->ents[k]))
			(void) check_ent(o, mark, k);
	int     lazy = -1;

	for (k = map_get(&o->nmap, letter); k >= 0; k = o->ents[k].next) {
		struct order_ent *e = &o->ents[k];

		if (!ent_is_state(e))
			continue;
		/* a letter unlinked after its transaction committed (no
		 * directory sync: a leftover has no envelope and is removed
		 * again at start-up) need not be durable, but must not go
		 * before its line is */
		if (e->cur == ORDER_NONE && e->dur != ORDER_NONE && (strcmp(e->how, "unlinked") == 0
		    || (strcmp(e->how, "renamed to") == 0 && e->peer >= 0
			&& !ent_is_state(&o->ents[e->peer]))))
			lazy = k;
		else
			(void) check_ent(o, mark, k);
	}
	snprintf(to, sizeof(to), "to=%s", hop);
	for (k = map_get(&o->lmap, letter); k >= 0; k = o->lines[k].next) {
		struct order_line *l = &o->lines[k];
		long    fs;

		if (strcmp(l->event, ev) != 0 || !(local || has_word(l->text, to)))
			continue;
		check_jline(o, mark, l);
		if (lazy >= 0 && ((fs = first_sync_after(o, l->file, l->line)) == 0
		    || fs > o->ents[lazy].line)) {
			char    lab[512];

			ent_label(&o->ents[lazy], lab, sizeof(lab));
			problem(o, mark, "'%s' removed (%s) at trace line %ld before its journal"
			    " line '%s %s' (trace line %ld) was synced", lab, o->ents[lazy].how,
			    o->ents[lazy].line, l->event, l->name, l->line);
		}
	}
}

/* do_mark - "mark WORD...": check what it promises */
static void do_mark(struct order *o, char **w, int nw)
{
	char    mark[1024];
	size_t  n = 0;
	unsigned long before = o->sum.problems;
	int     i, checked = 1;

	mark[0] = '\0';
	for (i = 3; i < nw && n < sizeof(mark); i++)
		n += (size_t) snprintf(mark + n, sizeof(mark) - n, "%s%s", i > 3 ? " " : "", w[i]);
	if (nw == 5 && strcmp(w[3], "er-ok") == 0) {
		o->sum.erok++;
		mark_letter(o, mark, w[4]);
	} else if (nw == 6 && strcmp(w[3], "pickup") == 0 && strcmp(w[5], "ok") == 0) {
		o->sum.pickup++;
		mark_letter(o, mark, w[4]);
	} else if (nw == 7 && strcmp(w[3], "env-left") == 0) {
		o->sum.envleft++;
		mark_left(o, mark, w[4], w[5], w[6]);
	} else {
		o->sum.other++;
		checked = 0;
	}
	if (o->verbose)
		fprintf(o->out, "sysio_order: %s:%ld: mark '%s': %s\n", o->trace, o->ln, mark,
		    !checked ? "not checked" : o->sum.problems == before ? "ok" : "FAILED");
}

/* hexval - a lowercase hex digit's value, or -1 */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* unescape - \xHH (lowercase, as the shim writes it) in place */
static int unescape(char *s)
{
	char   *r = s, *w = s;

	while (*r) {
		if (*r != '\\') {
			*w++ = *r++;
			continue;
		}
		if (r[1] != 'x' || hexval(r[2]) < 0 || hexval(r[3]) < 0)
			return -1;
		*w++ = (char) (hexval(r[2]) << 4 | hexval(r[3]));
		r += 4;
	}
	*w = '\0';
	return 0;
}

/* do_line - a "line ID TEXT" record: "TIME EVENT NAME ..." */
static void do_line(struct order *o, const char *id, const char *text)
{
	char   *t = order_strdup(text), *ev, *nm, *sp;
	struct order_line *l;

	ev = strchr(t, ' ');
	nm = ev ? strchr(ev + 1, ' ') : NULL;
	if (nm == NULL) {
		free(t);
		return;		/* not a journal line: nothing to check it against */
	}
	*ev++ = '\0';
	*nm++ = '\0';
	if ((sp = strchr(nm, ' ')) != NULL)
		*sp = '\0';
	order_grow((void **) &o->lines, &o->alines, o->nlines, sizeof(*o->lines));
	l = &o->lines[o->nlines];
	l->file = file_get(o, id);
	l->line = o->ln;
	l->event = order_strdup(ev);
	l->name = order_strdup(nm);
	l->text = order_strdup(text);
	l->next = map_get(&o->lmap, l->name);
	map_set(&o->lmap, l->name, (int) o->nlines);
	o->nlines++;
	free(t);
}

/* do_record - one trace line split into words; 0, -1 when malformed, -2
 * (reported) when the shim stopped tracing there */
static int do_record(struct order *o, char **w, int nw)
{
	const char *op = w[2];
	int     f, s, d;

	if (strcmp(op, "mark") == 0) {
		do_mark(o, w, nw);
	} else if (strcmp(op, "write") == 0 && nw == 6) {
		f = file_get(o, w[3]);
		o->files[f].wline = o->ln;
		file_path(o, f, w[5]);
	} else if (strcmp(op, "line") == 0 && nw == 5) {
		do_line(o, w[3], w[4]);
	} else if ((strcmp(op, "fsync") == 0 || strcmp(op, "fdatasync") == 0) && nw == 6) {
		if (strcmp(w[3], "D") == 0) {
			dir_sync(o, w[5]);
		} else {
			f = file_get(o, w[4]);
			o->files[f].sline = o->ln;
			file_synced(o, f);
			if (o->files[f].path == NULL)
				file_path(o, f, w[5]);
		}
	} else if (strcmp(op, "skip") == 0 && nw == 7) {
		o->sum.skipped++;
		if (strcmp(w[4], "D") == 0)
			o->dirs[dir_get(o, w[6])].skline = o->ln;
		else
			o->files[file_get(o, w[5])].skline = o->ln;
	} else if (strcmp(op, "create") == 0 && nw == 6) {
		f = file_get(o, w[5]);
		/* a new file: whatever an inode of that number had is gone */
		o->files[f].wline = o->files[f].sline = o->files[f].skline = 0;
		o->files[f].nsyncs = 0;
		ent_set(o, ent_get(o, w[3], w[4], ORDER_NONE), f, "created", -1);
	} else if ((strcmp(op, "link") == 0 || strcmp(op, "rename") == 0) && nw == 8) {
		f = file_get(o, w[7]);
		s = ent_get(o, w[3], w[4], f);
		d = ent_get(o, w[5], w[6], ORDER_NONE);
		/* the new name first: the file never looks nameless (gone) */
		ent_set(o, d, f, op[0] == 'r' ? "renamed from" : "linked from", s);
		if (op[0] == 'r')
			ent_set(o, s, ORDER_NONE, "renamed to", d);
	} else if (strcmp(op, "unlink") == 0 && nw == 6) {
		f = file_get(o, w[5]);
		ent_set(o, ent_get(o, w[3], w[4], f), ORDER_NONE, "unlinked", -1);
	} else if (strcmp(op, "overflow") == 0 || strcmp(op, "cut") == 0) {
		fprintf(o->out, "sysio_order: %s:%ld: the trace is incomplete (%s)\n", o->trace,
		    o->ln, op);
		return -2;
	} else {
		return -1;
	}
	return 0;
}

/* order_free - everything the model holds */
static void order_free(struct order *o)
{
	size_t  i;

	for (i = 0; i < o->nfiles; i++) {
		free(o->files[i].id);
		free(o->files[i].path);
		free(o->files[i].syncs);
	}
	for (i = 0; i < o->nents; i++) {
		free(o->ents[i].dir);
		free(o->ents[i].name);
	}
	for (i = 0; i < o->ndirs; i++) {
		free(o->dirs[i].path);
		free(o->dirs[i].pend);
	}
	for (i = 0; i < o->nlines; i++) {
		free(o->lines[i].event);
		free(o->lines[i].name);
		free(o->lines[i].text);
	}
	free(o->files);
	free(o->ents);
	free(o->dirs);
	free(o->lines);
	map_free(&o->fmap);
	map_free(&o->emap);
	map_free(&o->dmap);
	map_free(&o->nmap);
	map_free(&o->lmap);
}

/* order_check - replay the trace in (called name in messages), report to
 * out; sum (if not NULL) gets the counts. 0 when every promise held, 1
 * when one did not, 2 when the trace is malformed, incomplete or
 * unreadable, or holds no mark. */
static int order_check(FILE *in, const char *name, FILE *out, int verbose,
	struct order_sum *sum)
{
	struct order o;
	char   *buf = NULL, *w[ORDER_WORDS], *p;
	size_t  alloc = 0;
	ssize_t n;
	int     nw, rc = 0, i, k;

	memset(&o, 0, sizeof(o));
	o.trace = name;
	o.out = out;
	o.verbose = verbose;
	while ((n = getline(&buf, &alloc, in)) > 0) {
		o.ln++;
		if (buf[n - 1] != '\n' || n > ORDER_LINEMAX) {
			fprintf(out, "sysio_order: %s:%ld: torn or overlong line\n", name, o.ln);
			rc = 2;
			break;
		}
		buf[n - 1] = '\0';
		if (buf[0] == '#' || buf[0] == '\0')
			continue;
		for (nw = 0, p = buf; p && *p && nw < ORDER_WORDS; nw++) {
			w[nw] = p;
			if ((p = strchr(p, ' ')) != NULL)
				*p++ = '\0';
		}
		for (i = 0; i < nw; i++)
			if (unescape(w[i]) < 0)
				break;
		if (p != NULL || nw < 3 || i < nw)
			k = -1;
		else
			k = do_record(&o, w, nw);
		if (k == -1)
			fprintf(out, "sysio_order: %s:%ld: malformed record\n", name, o.ln);
		if (k < 0) {
			rc = 2;
			break;
		}
		o.sum.records++;
	}
	if (ferror(in)) {
		fprintf(out, "sysio_order: %s: read: %s\n", name, strerror(errno));
		rc = 2;
	}
	free(buf);
	if (rc == 0 && o.sum.erok + o.sum.pickup + o.sum.envleft == 0) {
		fprintf(out, "sysio_order: %s: no acknowledgement mark to check\n", name);
		rc = 2;
	}
	if (rc == 0 && o.sum.problems > 0)
		rc = 1;
	fprintf(out, "sysio_order: %s: %lu records; marks checked: er-ok %lu, pickup %lu,"
	    " env-left %lu (not checked %lu); journal lines checked %lu; syncs skipped %lu;"
	    " %lu problems: %s\n", name, o.sum.records, o.sum.erok, o.sum.pickup,
	    o.sum.envleft, o.sum.other, o.sum.jlines, o.sum.skipped, o.sum.problems,
	    rc == 0 ? "ok" : "FAILED");
	if (sum)
		*sum = o.sum;
	order_free(&o);
	return rc;
}

#ifndef SYSIO_ORDER_NO_MAIN
int main(int argc, char **argv)
{
	FILE   *in;
	int     verbose = 0, rc;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argc--;
		argv++;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: sysio_order [-v] TRACE\n");
		return 64;
	}
	if ((in = fopen(argv[1], "re")) == NULL) {
		fprintf(stderr, "sysio_order: open '%s': %s\n", argv[1], strerror(errno));
		return 2;
	}
	rc = order_check(in, argv[1], stdout, verbose, NULL);
	fclose(in);
	return rc;
}
#endif
