/*++
 * NAME
 *	qlist 3
 * SUMMARY
 *	the queue listing: the letters a selection picks, summarised
 * SYNOPSIS
 *	#include "relay/channel.h"
#include "relay/qlist.h"
 * DESCRIPTION
 *	See qlist.h. The snapshot indexes its letters by name (an open
 *	hash of indexes into v, freed once the snapshot is taken), so that
 *	the envelopes of one letter, met anywhere in the queue's list or
 *	in the dockets, find their letter in constant time: a listing of
 *	100,000 letters is a few passes, never a pass per letter.
 *
 *	A letter's state is the most advanced of its envelopes' (active
 *	over deferred over queued); held and received letters are their
 *	directories'.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "relay/qenv.h"
#include "relay/qlist.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/trace.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/workq.h"

#define QLIST_JSON_SLACK 4096	/* room a letter's JSON needs beyond its strings */

/* --- the snapshot ------------------------------------------------------------------- */

struct qindex {
	size_t *slot;		/* index + 1 into ql->v, 0: empty */
	size_t	cap;		/* a power of two */
	size_t	n;
};

static size_t name_hash(const char *s)
{
	size_t  h = 5381;

	for (; *s; s++)
		h = h * 33 + (unsigned char) *s;
	return h;
}

static void index_put(struct qindex *ix, const struct qlist *ql, size_t i)
{
	size_t  k;

	if ((ix->n + 1) * 2 > ix->cap) {
		struct qindex big = { NULL, ix->cap ? ix->cap * 2 : 1024, 0 };

		big.slot = xcalloc(big.cap, sizeof(*big.slot));
		for (k = 0; k < ix->cap; k++)
			if (ix->slot[k] != 0) {
				size_t  j = name_hash(ql->v[ix->slot[k] - 1].name) & (big.cap - 1);

				while (big.slot[j] != 0)
					j = (j + 1) & (big.cap - 1);
				big.slot[j] = ix->slot[k];
				big.n++;
			}
		free(ix->slot);
		*ix = big;
	}
	k = name_hash(ql->v[i].name) & (ix->cap - 1);
	while (ix->slot[k] != 0)
		k = (k + 1) & (ix->cap - 1);
	ix->slot[k] = i + 1;
	ix->n++;
}

static struct qlist_letter *index_get(const struct qindex *ix, struct qlist *ql,
	const char *name)
{
	size_t  k;

	if (ix == NULL || ix->cap == 0)
		return NULL;
	for (k = name_hash(name) & (ix->cap - 1); ix->slot[k] != 0; k = (k + 1) & (ix->cap - 1))
		if (strcmp(ql->v[ix->slot[k] - 1].name, name) == 0)
			return &ql->v[ix->slot[k] - 1];
	return NULL;
}

struct qlist *qlist_new(const char *spool, time_t now)
{
	struct qlist *ql = xcalloc(1, sizeof(*ql));

	ql->spool = xstrdup(spool);
	ql->now = now;
	ql->index = xcalloc(1, sizeof(struct qindex));
	return ql;
}

/* index_done - the snapshot is taken: the index goes */
static void index_done(struct qlist *ql)
{
	struct qindex *ix = ql->index;

	if (ix != NULL)
		free(ix->slot);
	free(ix);
	ql->index = NULL;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void qlist_free(struct qlist *ql)
{
	size_t  i, j;

	if (ql == NULL)
		return;
	for (i = 0; i < ql->n; i++) {
		struct qlist_letter *l = &ql->v[i];

		for (j = 0; j < l->nenvs; j++) {
			free(l->envs[j].hop);
			free(l->envs[j].state);
			free(l->envs[j].error);
			strv_free(l->envs[j].rcpts, l->envs[j].nrcpts);
		}
		free(l->envs);
		strv_free(l->rcpts, l->nrcpts);
		strv_free(l->efiles, l->nefiles);
		free(l->name);
		free(l->from);
		free(l->subject);
	}
	free(ql->v);
	index_done(ql);
	free(ql->spool);
	free(ql);
}

void qlist_strv_add(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, sizeof(**v) * (*n + 1));
	(*v)[(*n)++] = xstrdup(s);
}

struct qlist_letter *qlist_letter(struct qlist *ql, const char *name, enum ctl_state st,
	time_t arrived)
{
	struct qlist_letter *l = index_get(ql->index, ql, name);

	if (l != NULL)
		return l;
	if (ql->n == ql->cap) {
		ql->cap = ql->cap ? ql->cap * 2 : 256;
		ql->v = xrealloc(ql->v, ql->cap * sizeof(*ql->v));
	}
	l = &ql->v[ql->n];
	memset(l, 0, sizeof(*l));
	l->name = xstrdup(name);
	l->state = st;
	l->arrived = arrived;
	l->size = -1;
	if (ql->index != NULL)
		index_put(ql->index, ql, ql->n);
	ql->n++;
	return l;
}

struct qlist_env *qlist_env_add(struct qlist_letter *l, const char *hop, const char *state,
	unsigned attempts, time_t next_try, const char *error)
{
	struct qlist_env *e;

	l->envs = xrealloc(l->envs, sizeof(*l->envs) * (l->nenvs + 1));
	e = &l->envs[l->nenvs++];
	memset(e, 0, sizeof(*e));
	e->hop = xstrdup(hop);
	e->state = xstrdup(state);
	e->attempts = attempts;
	e->next_try = next_try;
	e->error = error != NULL && *error ? xstrdup(error) : NULL;
	return e;
}

/* env_from - an envelope parsed from its records (e: envelope file
 * parsed, its docket applied) added to l as state word */
static void env_from(struct qlist_letter *l, const struct qenv *e, const char *word)
{
	struct qlist_env *qe = qlist_env_add(l, e->hop, word, e->attempts, e->next_try,
	    e->error);

	for (size_t i = 0; i < e->nrcpts; i++)
		if (!e->rcpts[i].done)
			qlist_strv_add(&qe->rcpts, &qe->nrcpts, e->rcpts[i].addr);
	if (e->first != 0 && (l->arrived == 0 || e->first < l->arrived))
		l->arrived = e->first;
}

/* env_kind - what a file named name in queue/ or hold/ is: 'f' or 'l'
 * an envelope file (its letter's name is the first *llen octets), 0 a
 * letter, '?' something else (a channel's file, a dead marker) */
static int env_kind(const char *name, size_t *llen)
{
	const char *us = strchr(name, '_');

	*llen = us ? (size_t) (us - name) : strlen(name);
	if (us == NULL)
		return 0;
	if (us[1] == 'l' && us[2] == '\0')
		return 'l';
	if (us[1] == 'f' && us[2] == '_')
		return 'f';
	return '?';
}

/* dir_each - fn(arg, name, mtime) for every plain entry of DIR (no
 * dot-files); 0, or -1 (errno) when DIR cannot be read (ENOENT: none) */
static int dir_each(const char *dir, void (*fn)(void *, const char *, time_t), void *arg)
{
	struct dirent *de;
	struct stat sb;
	DIR    *d;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(sb.st_mode))
			continue;
		fn(arg, de->d_name, sb.st_mtime);
	}
	closedir(d);
	return 0;
}

struct dirpass {
	struct qlist *ql;
	enum ctl_state st;
};

/* add_in - a letter of in/ */
static void add_in(void *arg, const char *name, time_t mtime)
{
	struct dirpass *dp = arg;

	if (strchr(name, '_') == NULL)
		(void) qlist_letter(dp->ql, name, CTL_ST_RECEIVED, mtime);
}

/* add_hold - a held letter, or a held letter's envelope file */
static void add_hold(void *arg, const char *name, time_t mtime)
{
	struct dirpass *dp = arg;
	struct qlist_letter *l;
	char    letter[SPOOL_NAMELEN];
	size_t  llen;
	int     k = env_kind(name, &llen);

	if (k == 0) {
		(void) qlist_letter(dp->ql, name, CTL_ST_HELD, mtime);
		return;
	}
	if ((k != 'f' && k != 'l') || llen >= sizeof(letter))
		return;
	memcpy(letter, name, llen);
	letter[llen] = '\0';
	l = qlist_letter(dp->ql, letter, CTL_ST_HELD, mtime);
	qlist_strv_add(&l->efiles, &l->nefiles, name);
}

/* rank - how far a state is on: the letter takes its envelopes' highest */
static int rank(enum ctl_state st)
{
	return st == CTL_ST_ACTIVE ? 3 : st == CTL_ST_DEFERRED ? 2 : 1;
}

/* --- the daemon's snapshot -------------------------------------------------------- */

#define QLIST_HELD_PREFIX 8	/* held letters looked up one by one; more: one pass */

struct heldpass {
	struct relayd *rd;
	struct qlist *ql;		/* the pass over every record: letters by name */
	struct qlist_letter *l;		/* or the one letter */
};

/* held_env - an "envf ENVELOPE" record of a held letter, with the state
 * its "env ENVELOPE" record keeps */
static int held_env(void *arg, const char *key, const void *value, size_t len)
{
	struct heldpass *hp = arg;
	char    letter[SPOOL_NAMELEN], calling[QUEUE_CALLING_MAX + 1], err[256];
	char    dkey[SPOOL_DOCKET_KEYMAX + 8];
	struct qlist_letter *l = hp->l;
	struct qenv *e;
	size_t  dlen, n = strcspn(key + 5, "_");
	char   *d;
	int     fin = 0;

	if (l == NULL) {
		/* the pass over every record: is it a held letter's? */
		if (n >= sizeof(letter))
			return 0;
		memcpy(letter, key + 5, n);
		letter[n] = '\0';
		if ((l = index_get(hp->ql->index, hp->ql, letter)) == NULL
		    || l->state != CTL_ST_HELD)
			return 0;
	}
	e = qenv_file_parse(value, len, letter, sizeof(letter), calling, sizeof(calling), err,
	    sizeof(err));
	if (e == NULL)
		return 0;
	snprintf(dkey, sizeof(dkey), "env %s", key + 5);
	if ((d = spool_docket_get(hp->rd->sp, dkey, &dlen, NULL, err, sizeof(err))) != NULL) {
		(void) qenv_docket_parse(e, d, dlen, &fin, err, sizeof(err));
		free(d);
	}
	env_from(l, e, "held");
	qenv_free(e);
	return 0;
}

/* env_word - an envelope's state in the daemon's queue */
static const char *env_word(const struct qenv *e, enum ctl_state *st)
{
	switch (e->state) {
	case QENV_LEAVING:
	case QENV_FINISHED:
		*st = CTL_ST_ACTIVE;
		return "finishing";
	case QENV_ACTIVE:
		*st = CTL_ST_ACTIVE;
		if (e->ch != NULL && e->ch->passive)
			return "being collected";
		return e->local ? "delivering" : "sending";
	default:
		*st = e->attempts ? CTL_ST_DEFERRED : CTL_ST_QUEUED;
		if (e->ch != NULL && e->ch->passive)
			return "waiting to be collected (pull)";
		return e->attempts ? "deferred" : "queued";
	}
}

struct qlist *qlist_from_queue(struct relayd *rd, const struct ctl_sel *sel)
{
	struct qlist *ql = qlist_new(spool_dir(rd->sp), time(NULL));
	struct dirpass dp = { ql, CTL_ST_HELD };
	char    path[PATH_MAX], pre[SPOOL_NAMELEN + 8];
	struct qlist_letter *l;
	enum ctl_state st;
	const char *word;
	struct qenv *e;
	size_t  i, held0;

	for (e = queue_first(rd->q); e != NULL; e = queue_next(e)) {
		if (e->l == NULL)
			continue;
		word = env_word(e, &st);
		l = qlist_letter(ql, e->l->name, st, e->first);
		if (rank(st) > rank(l->state))
			l->state = st;
		env_from(l, e, word);
	}
	snprintf(path, sizeof(path), "%s/in", spool_dir(rd->sp));
	(void) dir_each(path, add_in, &dp);
	held0 = ql->n;
	snprintf(path, sizeof(path), "%s/hold", spool_dir(rd->sp));
	(void) dir_each(path, add_hold, &dp);
	/* a held letter's envelopes are records that stay with it: a look-up
	 * by prefix goes over every record (spool_docket_each), so more than
	 * a few held letters take one pass instead of one each */
	if (sel->states != 0 && !(sel->states & (1u << CTL_ST_HELD)))
		;			/* not wanted: dropped by qlist_select */
	else if (ql->n - held0 > QLIST_HELD_PREFIX) {
		struct heldpass hp = { rd, ql, NULL };

		(void) spool_docket_each(rd->sp, "envf ", held_env, &hp);
	} else
		for (i = held0; i < ql->n; i++) {
			struct heldpass hp = { rd, NULL, &ql->v[i] };

			if (ql->v[i].state != CTL_ST_HELD)
				continue;
			snprintf(pre, sizeof(pre), "envf %s_", ql->v[i].name);
			(void) spool_docket_each(rd->sp, pre, held_env, &hp);
		}
	index_done(ql);
	qlist_select(ql, sel);
	return ql;
}

/* --- the snapshot without the daemon ----------------------------------------------- */

struct rec {
	char   *key;		/* the envelope's name */
	char   *val;
	size_t	len;
};

struct recs {
	struct rec *v;
	size_t	n, cap;
};

struct peekpass {
	struct recs envf;	/* "envf ENVELOPE": fixed parts */
	struct recs env;	/* "env ENVELOPE": states */
};

static void recs_add(struct recs *r, const char *key, const void *val, size_t len)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n].key = xstrdup(key);
	r->v[r->n].val = xmalloc(len + 1);
	memcpy(r->v[r->n].val, val, len);
	r->v[r->n].val[len] = '\0';
	r->v[r->n].len = len;
	r->n++;
}

static void recs_free(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].val);
	}
	free(r->v);
}

static int peek_rec(void *arg, const char *key, const void *value, size_t len)
{
	struct peekpass *pp = arg;

	if (strncmp(key, "envf ", 5) == 0)
		recs_add(&pp->envf, key + 5, value, len);
	else if (strncmp(key, "env ", 4) == 0)
		recs_add(&pp->env, key + 4, value, len);
	return 0;
}

static int rec_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct rec *) e)->key);
}

struct qnames {
	char  **v;
	size_t	n, cap;
};

static void add_qname(void *arg, const char *name, time_t mtime)
{
	struct qnames *qn = arg;

	(void) mtime;
	if (qn->n == qn->cap) {
		qn->cap = qn->cap ? qn->cap * 2 : 256;
		qn->v = xrealloc(qn->v, qn->cap * sizeof(*qn->v));
	}
	qn->v[qn->n++] = xstrdup(name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* offline_env - one envelope (its fixed part text, len octets; name
 * ename) with its docket, added to its letter when that letter is in
 * queue/ (names: sorted) or held */
static void offline_env(struct qlist *ql, const struct peekpass *pp, const struct qnames *queued,
	const char *ename, const char *text, size_t len)
{
	char    letter[SPOOL_NAMELEN], calling[QUEUE_CALLING_MAX + 1], err[256];
	const char *lp = letter;
	const struct rec *d;
	struct qlist_letter *l;
	enum ctl_state st;
	struct qenv *e;
	int     fin = 0;

	if ((e = qenv_file_parse(text, len, letter, sizeof(letter), calling, sizeof(calling), err,
	    sizeof(err))) == NULL)
		return;
	if ((d = pp->env.n ? bsearch(ename, pp->env.v, pp->env.n, sizeof(*pp->env.v), rec_cmp)
	    : NULL) != NULL)
		(void) qenv_docket_parse(e, d->val, d->len, &fin, err, sizeof(err));
	if ((l = index_get(ql->index, ql, letter)) != NULL && l->state == CTL_ST_HELD)
		env_from(l, e, "held");
	else if (queued->n && bsearch(&lp, queued->v, queued->n, sizeof(char *), str_cmp)) {
		st = fin ? CTL_ST_ACTIVE : e->attempts ? CTL_ST_DEFERRED : CTL_ST_QUEUED;
		l = qlist_letter(ql, letter, st, e->first);
		if (rank(st) > rank(l->state))
			l->state = st;
		env_from(l, e, fin ? "finishing" : e->attempts ? "deferred" : "queued");
	}
	qenv_free(e);
}

struct qlist *qlist_from_dir(const char *spool, const struct ctl_sel *sel, char *err,
	size_t errlen)
{
	struct qlist *ql = qlist_new(spool, time(NULL));
	struct dirpass dp = { ql, CTL_ST_HELD };
	struct peekpass pp;
	struct qnames qn;
	char    path[PATH_MAX], derr[SPOOL_ERRLEN];
	size_t  i, len, llen;
	char   *text;

	memset(&pp, 0, sizeof(pp));
	memset(&qn, 0, sizeof(qn));
	derr[0] = '\0';
	snprintf(path, sizeof(path), "%s/queue", spool);
	/* the envelopes are records: without them there is no listing (an
	 * empty one would be a lie) */
	if (spool_docket_peek_all(spool, peek_rec, &pp, derr, sizeof(derr)) < 0
	    || dir_each(path, add_qname, &qn) < 0) {
		if (derr[0] == '\0')
			snprintf(derr, sizeof(derr), "read '%.300s': %s", path, strerror(errno));
		snprintf(err, errlen, "queue listing of '%s': %s", spool, derr);
		qlist_free(ql);
		ql = NULL;
		goto out;
	}
	if (qn.n > 1)
		qsort(qn.v, qn.n, sizeof(*qn.v), str_cmp);
	snprintf(path, sizeof(path), "%s/hold", spool);
	(void) dir_each(path, add_hold, &dp);
	for (i = 0; i < pp.envf.n; i++)
		offline_env(ql, &pp, &qn, pp.envf.v[i].key, pp.envf.v[i].val, pp.envf.v[i].len);
	/* envelopes too long for a record, or of an older version */
	for (i = 0; i < qn.n; i++) {
		int     k = env_kind(qn.v[i], &llen);

		if (k != 'f' && k != 'l')
			continue;
		snprintf(path, sizeof(path), "%s/queue/%s", spool, qn.v[i]);
		if ((text = durable_read_file(path, QUEUE_ENV_MAX, &len, NULL, 0)) == NULL)
			continue;
		offline_env(ql, &pp, &qn, qn.v[i], text, len);
		free(text);
	}
	snprintf(path, sizeof(path), "%s/in", spool);
	(void) dir_each(path, add_in, &dp);
	index_done(ql);
	qlist_select(ql, sel);
out:
	recs_free(&pp.envf);
	recs_free(&pp.env);
	strv_free(qn.v, qn.n);
	return ql;
}

/* --- the selection ------------------------------------------------------------------ */

/* decide - does l pass sel: 1 yes, 0 no, -1 not known before its file
 * is read (final: what is not known does not pass) */
static int decide(const struct qlist *ql, const struct qlist_letter *l,
	const struct ctl_sel *sel, int final)
{
	size_t  i, j;
	int     hit;

	if (sel->states != 0 && !(sel->states & (1u << l->state)))
		return 0;
	if (sel->older >= 0 && (l->arrived == 0 || (long long) (ql->now - l->arrived) < sel->older))
		return 0;
	if (sel->hop != NULL) {
		for (hit = 0, i = 0; i < l->nenvs && !hit; i++)
			hit = ctl_sel_hop(sel, l->envs[i].hop);
		if (!hit)
			return !final && l->nefiles > 0 ? -1 : 0;
	}
	if (sel->to != NULL) {
		hit = 0;
		for (i = 0; i < l->nenvs && !hit; i++)
			for (j = 0; j < l->envs[i].nrcpts && !hit; j++)
				hit = ctl_sel_addr(sel->to, l->envs[i].rcpts[j]);
		for (j = 0; j < l->nrcpts && !hit; j++)
			hit = ctl_sel_addr(sel->to, l->rcpts[j]);
		if (!hit)
			return !final && (l->nenvs == 0 || l->nefiles > 0) ? -1 : 0;
	}
	if (sel->from != NULL) {
		if (l->from == NULL)
			return final ? 0 : -1;
		if (!ctl_sel_addr(sel->from, l->from))
			return 0;
	}
	return 1;
}

void qlist_select(struct qlist *ql, const struct ctl_sel *sel)
{
	int     d;

	for (size_t i = 0; i < ql->n; i++) {
		if (ql->v[i].dropped)
			continue;
		d = decide(ql, &ql->v[i], sel, 0);
		ql->v[i].dropped = d == 0;
		ql->v[i].undecided = d < 0;
	}
}

size_t qlist_count(const struct qlist *ql)
{
	size_t  n = 0;

	for (size_t i = 0; i < ql->n; i++)
		n += !ql->v[i].dropped;
	return n;
}

/* --- reading the letters ------------------------------------------------------------- */

/* read_efiles - the envelope files of a held letter */
static void read_efiles(struct qlist *ql, struct qlist_letter *l)
{
	char    path[PATH_MAX], letter[SPOOL_NAMELEN], calling[QUEUE_CALLING_MAX + 1], err[256];
	struct qenv *e;
	size_t  len;
	char   *text;

	for (size_t i = 0; i < l->nefiles; i++) {
		snprintf(path, sizeof(path), "%s/hold/%s", ql->spool, l->efiles[i]);
		if ((text = durable_read_file(path, QUEUE_ENV_MAX, &len, NULL, 0)) == NULL)
			continue;
		e = qenv_file_parse(text, len, letter, sizeof(letter), calling, sizeof(calling), err,
		    sizeof(err));
		free(text);
		if (e != NULL) {
			env_from(l, e, "held");
			qenv_free(e);
		}
	}
	strv_free(l->efiles, l->nefiles);
	l->efiles = NULL;
	l->nefiles = 0;
}

/* read_letter - size, sender, Subject and (no envelopes) the address
 * list of l, from its file in the directory of its state (or another:
 * it may have moved meanwhile) */
static void read_letter(struct qlist *ql, struct qlist_letter *l)
{
	static const char *const dirs[] = { "queue", "hold", "in" };
	const char *first = l->state == CTL_ST_HELD ? "hold" : l->state == CTL_ST_RECEIVED ? "in"
	    : "queue";
	char    path[PATH_MAX], err[LETTER_ERRLEN], aerr[HDR_ERRLEN];
	struct letter *lt = NULL;
	struct stat sb;
	struct addr *a;
	size_t  i;
	char   *s;
	int     fd = -1;

	snprintf(path, sizeof(path), "%s/%s/%s", ql->spool, first, l->name);
	for (i = 0; (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 && i < 3; i++)
		snprintf(path, sizeof(path), "%s/%s/%s", ql->spool, dirs[i], l->name);
	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		l->size = (long long) sb.st_size;
	if ((lt = letter_open_fd(fd, NULL, err, sizeof(err))) == NULL)
		goto out;
	if ((a = hdr_originator(letter_hdr(lt), aerr, sizeof(aerr))) != NULL) {
		free(l->from);
		l->from = addr_to_str(a);
		addr_free(a);
	}
	if ((s = hdr_get(letter_hdr(lt), "Subject")) != NULL) {
		if (strlen(s) > QLIST_SUBJECT_MAX)
			s[QLIST_SUBJECT_MAX] = '\0';
		free(l->subject);
		l->subject = s;
	}
	if (l->nenvs == 0 && l->nrcpts == 0)
		for (i = 0; i < addr_list_count(letter_rcpts(lt)); i++) {
			char   *t = addr_to_str(addr_list_get(letter_rcpts(lt), i));

			qlist_strv_add(&l->rcpts, &l->nrcpts, t);
			free(t);
		}
out:
	letter_free(lt);
	close(fd);
}

void qlist_read(struct qlist *ql, const struct ctl_sel *sel, int all)
{
	struct qlist_letter *l;

	for (size_t i = 0; i < ql->n; i++) {
		l = &ql->v[i];
		if (l->dropped || (!all && !l->undecided))
			continue;
		if (l->nefiles > 0)
			read_efiles(ql, l);
		read_letter(ql, l);
		if (l->undecided) {
			l->dropped = decide(ql, l, sel, 1) == 0;
			l->undecided = 0;
		}
	}
}

/* --- rendering ------------------------------------------------------------------------ */

static int letter_ptr_cmp(const void *a, const void *b)
{
	return spool_name_cmp((*(struct qlist_letter *const *) a)->name,
	    (*(struct qlist_letter *const *) b)->name);
}

/* age_text - "35s", "12m", "5h", "3d" */
static const char *age_text(long long s, char *b, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(b, len, "%llds", s);
	else if (s < 120 * 60)
		snprintf(b, len, "%lldm", s / 60);
	else if (s < 48 * 3600)
		snprintf(b, len, "%lldh", s / 3600);
	else
		snprintf(b, len, "%lldd", s / 86400);
	return b;
}

/* esc - s for one line of text, at most max octets shown */
static const char *esc(char *dst, size_t dstlen, const char *s)
{
	return ctl_proto_esc(dst, dstlen, s, strlen(s));
}

static int text_letter(const struct qlist *ql, const struct qlist_letter *l, struct buf *out)
{
	char    age[32], show[QLIST_ERROR_SHOWN + 4], rc[1100];
	size_t  i, j;
	int     r = 0;

	r |= buf_printf(out, "%s %s ", l->name, l->arrived ? age_text((long long) (ql->now
	    - l->arrived), age, sizeof(age)) : "-");
	if (l->nenvs == 0)
		r |= buf_putc(out, '-');
	for (i = 0; i < l->nenvs; i++) {
		for (j = 0; j < i && strcmp(l->envs[j].hop, l->envs[i].hop) != 0; j++)
			;
		if (j == i)
			r |= buf_printf(out, "%s%s", i ? "," : "", esc(show, 100, l->envs[i].hop));
	}
	r |= buf_printf(out, " %s ", ctl_state_name(l->state));
	if (l->size >= 0)
		r |= buf_printf(out, "%lld ", l->size);
	else
		r |= buf_printf(out, "- ");
	r |= buf_printf(out, "%s\n", l->from ? esc(show, QLIST_SENDER_SHOWN + 4, l->from) : "-");
	if (l->subject != NULL)
		r |= buf_printf(out, "  Subject: %s\n", esc(show, QLIST_SUBJECT_SHOWN + 4,
		    l->subject));
	for (i = 0; i < l->nenvs; i++) {
		const struct qlist_env *e = &l->envs[i];

		r |= buf_printf(out, "  %s: %s", esc(show, 100, e->hop), e->state);
		if (e->attempts > 0)
			r |= buf_printf(out, ", %u %s", e->attempts, e->attempts == 1 ? "try" : "tries");
		if (e->attempts > 0 && e->next_try > ql->now && l->state != CTL_ST_HELD)
			r |= buf_printf(out, ", next in %s", age_text((long long) (e->next_try
			    - ql->now), age, sizeof(age)));
		r |= buf_printf(out, ":");
		for (j = 0; j < e->nrcpts && j < QLIST_RCPTS_SHOWN; j++)
			r |= buf_printf(out, "%s%s", j ? ", " : " ", esc(rc, sizeof(rc), e->rcpts[j]));
		if (e->nrcpts > QLIST_RCPTS_SHOWN)
			r |= buf_printf(out, " +%zu more", e->nrcpts - QLIST_RCPTS_SHOWN);
		r |= buf_printf(out, "\n");
		if (e->error != NULL)
			r |= buf_printf(out, "    last error: %s\n", esc(show, sizeof(show), e->error));
	}
	if (l->nenvs == 0 && l->nrcpts > 0) {
		r |= buf_printf(out, "  rcpts:");
		for (j = 0; j < l->nrcpts && j < QLIST_RCPTS_SHOWN; j++)
			r |= buf_printf(out, "%s%s", j ? ", " : " ", esc(rc, sizeof(rc), l->rcpts[j]));
		if (l->nrcpts > QLIST_RCPTS_SHOWN)
			r |= buf_printf(out, " +%zu more", l->nrcpts - QLIST_RCPTS_SHOWN);
		r |= buf_printf(out, "\n");
	}
	return r < 0 ? -1 : 0;
}

/* json_need - an upper bound of the octets of l's JSON */
static size_t json_need(const struct qlist_letter *l)
{
	size_t  n = QLIST_JSON_SLACK, i, j;

	/* an octet is at most 6 in a JSON string (\u00XX) */
	n += 6 * (strlen(l->name) + (l->from ? strlen(l->from) : 0)
	    + (l->subject ? strlen(l->subject) : 0));
	for (i = 0; i < l->nenvs; i++) {
		n += 256 + 12 * (strlen(l->envs[i].hop) + strlen(l->envs[i].state))
		    + 6 * (l->envs[i].error ? strlen(l->envs[i].error) : 0);
		for (j = 0; j < l->envs[i].nrcpts; j++)
			n += 16 + 12 * strlen(l->envs[i].rcpts[j]);	/* twice: "rcpts" too */
	}
	for (j = 0; j < l->nrcpts; j++)
		n += 8 + 6 * strlen(l->rcpts[j]);
	return n;
}

static void json_strs(struct buf *out, char *const *v, size_t n)
{
	buf_putc(out, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		trace_json_str(out, v[i]);
	}
	buf_putc(out, ']');
}

static void json_letter(const struct qlist *ql, const struct qlist_letter *l, struct buf *out)
{
	size_t  i, j, k;

	buf_printf(out, "{\"name\":");
	trace_json_str(out, l->name);
	buf_printf(out, ",\"state\":\"%s\",\"arrived\":", ctl_state_name(l->state));
	if (l->arrived)
		buf_printf(out, "%lld,\"age\":%lld", (long long) l->arrived,
		    (long long) (ql->now > l->arrived ? ql->now - l->arrived : 0));
	else
		buf_printf(out, "null,\"age\":null");
	if (l->size >= 0)
		buf_printf(out, ",\"size\":%lld", l->size);
	else
		buf_printf(out, ",\"size\":null");
	buf_printf(out, ",\"from\":");
	trace_json_str(out, l->from);
	buf_printf(out, ",\"subject\":");
	trace_json_str(out, l->subject);
	buf_printf(out, ",\"hops\":[");
	for (i = k = 0; i < l->nenvs; i++) {
		for (j = 0; j < i && strcmp(l->envs[j].hop, l->envs[i].hop) != 0; j++)
			;
		if (j < i)
			continue;
		if (k++)
			buf_putc(out, ',');
		trace_json_str(out, l->envs[i].hop);
	}
	buf_printf(out, "],\"rcpts\":[");
	for (i = k = 0; i < l->nenvs; i++)
		for (j = 0; j < l->envs[i].nrcpts; j++) {
			if (k++)
				buf_putc(out, ',');
			trace_json_str(out, l->envs[i].rcpts[j]);
		}
	for (j = 0; j < l->nrcpts; j++) {
		if (k++)
			buf_putc(out, ',');
		trace_json_str(out, l->rcpts[j]);
	}
	buf_printf(out, "],\"envelopes\":[");
	for (i = 0; i < l->nenvs; i++) {
		const struct qlist_env *e = &l->envs[i];

		buf_printf(out, "%s{\"hop\":", i ? "," : "");
		trace_json_str(out, e->hop);
		buf_printf(out, ",\"state\":");
		trace_json_str(out, e->state);
		buf_printf(out, ",\"attempts\":%u,\"next_try\":", e->attempts);
		if (e->next_try > 0)
			buf_printf(out, "%lld", (long long) e->next_try);
		else
			buf_printf(out, "null");
		buf_printf(out, ",\"error\":");
		trace_json_str(out, e->error);
		buf_printf(out, ",\"rcpts\":");
		json_strs(out, e->rcpts, e->nrcpts);
		buf_putc(out, '}');
	}
	buf_printf(out, "]}");
}

int qlist_render(const struct qlist *ql, const char *node, int json, struct buf *out)
{
	struct qlist_letter **v = xcalloc(ql->n ? ql->n : 1, sizeof(*v));
	size_t  n = 0, i;
	int     rc = 0;

	for (i = 0; i < ql->n; i++)
		if (!ql->v[i].dropped)
			v[n++] = &ql->v[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), letter_ptr_cmp);
	if (json) {
		rc |= buf_printf(out, "{\"node\":");
		if (rc == 0 && buf_room(out) > 6 * strlen(node) + 64)
			trace_json_str(out, node);
		rc |= buf_printf(out, ",\"time\":%lld,\"count\":%zu,\"letters\":[",
		    (long long) ql->now, n);
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (!json) {
			rc |= text_letter(ql, v[i], out);
			continue;
		}
		/* trace_json_str cannot say when out is full: room first */
		if (buf_room(out) < json_need(v[i])) {
			rc = -1;
			break;
		}
		buf_printf(out, "%s\n", i ? "," : "");
		json_letter(ql, v[i], out);
	}
	if (json && rc == 0)
		rc |= buf_printf(out, "\n]}\n");
	free(v);
	return rc < 0 ? -1 : 0;
}

/* --- the daemon's job ------------------------------------------------------------------ */

struct qlist_job {
	struct relayd *rd;
	struct qlist *ql;
	struct ctl_sel sel;		/* its strings are the job's copies */
	char   *to, *from, *hop;
	char   *node;
	int	mode;
	int	cancelled;
	struct buf *out;
	char	err[256];
	qlist_done_fn *cb;
	void   *arg;
};

static void qlist_work(void *arg)
{
	struct qlist_job *j = arg;

	qlist_read(j->ql, &j->sel, j->mode != QLIST_NAMES);
	if (j->mode == QLIST_NAMES)
		return;
	j->out = xmalloc(sizeof(*j->out));
	buf_init(j->out, QLIST_OUT_MAX);
	if (qlist_render(j->ql, j->node, j->mode == QLIST_JSON, j->out) < 0) {
		snprintf(j->err, sizeof(j->err), "the listing of %zu letters is longer than %d MiB:"
		    " select fewer (--hop, --state, --older-than, --to, --from)",
		    qlist_count(j->ql), QLIST_OUT_MAX >> 20);
		buf_release(j->out);
		free(j->out);
		j->out = NULL;
	}
}

static void qlist_job_done(void *arg)
{
	struct qlist_job *j = arg;

	relayd_job(j->rd, -1);
	if (!j->cancelled && j->err[0] == '\0') {
		j->cb(j->arg, j->ql, j->out, NULL);
		j->ql = NULL;
		j->out = NULL;
	} else if (!j->cancelled)
		j->cb(j->arg, NULL, NULL, j->err);
	qlist_free(j->ql);
	if (j->out != NULL) {
		buf_release(j->out);
		free(j->out);
	}
	free(j->to);
	free(j->from);
	free(j->hop);
	free(j->node);
	free(j);
}

struct qlist_job *qlist_start(struct relayd *rd, const struct ctl_sel *sel, int mode,
	qlist_done_fn *cb, void *arg)
{
	struct qlist_job *j = xcalloc(1, sizeof(*j));

	j->rd = rd;
	j->mode = mode;
	j->cb = cb;
	j->arg = arg;
	j->node = xstrdup(rd->conf->name);
	/* the request's strings go with its connection: the job's own */
	j->sel.older = sel->older;
	j->sel.states = sel->states;
	j->sel.all = sel->all;
	j->sel.json = sel->json;
	j->sel.to = j->to = sel->to ? xstrdup(sel->to) : NULL;
	j->sel.from = j->from = sel->from ? xstrdup(sel->from) : NULL;
	j->sel.hop = j->hop = sel->hop ? xstrdup(sel->hop) : NULL;
	j->ql = qlist_from_queue(rd, &j->sel);
	relayd_job(rd, 1);
	workq_submit(rd->wq, qlist_work, qlist_job_done, j);
	return j;
}

void qlist_cancel(struct qlist_job *j)
{
	if (j != NULL)
		j->cancelled = 1;
}
