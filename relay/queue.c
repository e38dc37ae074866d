/*++
 * NAME
 *	queue 3
 * SUMMARY
 *	mailrelayd: the queue core
 * SYNOPSIS
 *	#include "relay/queue.h"
 * DESCRIPTION
 *	See queue.h. Envelope files and dockets are relay/rec.h records;
 *	their formats are in doc/spool.md.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "relay/channel.h"
#include "relay/notices.h"
#include "relay/queue.h"
#include "relay/rec.h"
#include "relay/relayd.h"
#include "relay/router.h"
#include "relay/sched.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/sysio.h"

#define QUEUE_DOCKET_MAX (1024 * 1024)	/* largest envelope docket */
#define QUEUE_DEAD_MAX	500		/* octets of a dead marker read back */

struct queue {
	struct relayd *rd;
	struct qletter **ltab;		/* letters by name (hash, chained) */
	size_t	ltab_size;		/* a power of two */
	size_t	nletters;
	struct qenv *envs;		/* every envelope (doubly linked) */
	size_t	nenvs;
	int	txns;			/* transactions of the queue in flight */
	unsigned mark;			/* the last queue_new_mark() */
};

/* --- letters ---------------------------------------------------------------- */

/* letter_hash - FNV-1a of a letter name */
static size_t letter_hash(const char *name)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *name; name++)
		h = (h ^ (unsigned char) *name) * 1099511628211ULL;
	return (size_t) (h ^ (h >> 32));
}

struct qletter *queue_letter(const struct queue *q, const char *name)
{
	struct qletter *l;

	if (q->ltab == NULL)
		return NULL;
	for (l = q->ltab[letter_hash(name) & (q->ltab_size - 1)]; l != NULL; l = l->hnext)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}

/* letter_grow - double the hash table (load factor 1) */
static void letter_grow(struct queue *q)
{
	size_t  nsize = q->ltab_size ? 2 * q->ltab_size : 1024, i;
	struct qletter **nt = xcalloc(nsize, sizeof(*nt)), *l, *next;

	for (i = 0; i < q->ltab_size; i++)
		for (l = q->ltab[i]; l != NULL; l = next) {
			size_t  k = letter_hash(l->name) & (nsize - 1);

			next = l->hnext;
			l->hnext = nt[k];
			nt[k] = l;
		}
	free(q->ltab);
	q->ltab = nt;
	q->ltab_size = nsize;
}

static struct qletter *letter_add(struct queue *q, const char *name)
{
	struct qletter *l = queue_letter(q, name);
	size_t  k, n = strlen(name);

	if (l != NULL)
		return l;
	if (q->nletters >= q->ltab_size)
		letter_grow(q);
	l = xcalloc(1, sizeof(*l) + n + 1);
	memcpy(l->name, name, n + 1);
	k = letter_hash(name) & (q->ltab_size - 1);
	l->hnext = q->ltab[k];
	q->ltab[k] = l;
	q->nletters++;
	return l;
}

static void qletter_free(struct qletter *l)
{
	free(l->calling);
	free(l->dead_reason);
	free(l);
}

static void letter_del(struct queue *q, struct qletter *l)
{
	struct qletter **lp;

	for (lp = &q->ltab[letter_hash(l->name) & (q->ltab_size - 1)]; *lp != NULL;
	    lp = &(*lp)->hnext)
		if (*lp == l) {
			*lp = l->hnext;
			q->nletters--;
			qletter_free(l);
			return;
		}
}

/* set_str - replace *sp with a copy of s (NULL or "": none) */
static void set_str(char **sp, const char *s)
{
	char   *old = *sp;

	*sp = s != NULL && *s ? xstrdup(s) : NULL;
	free(old);
}

/* set_dead - l has a dead marker with reason */
static void set_dead(struct qletter *l, const char *reason)
{
	l->dead = 1;
	set_str(&l->dead_reason, reason);
}

/* --- envelopes -------------------------------------------------------------- */

struct qenv *queue_first(const struct queue *q)
{
	return q->envs;
}

struct qenv *queue_next(const struct qenv *e)
{
	return e->next;
}

unsigned queue_new_mark(struct queue *q)
{
	return ++q->mark;
}

size_t queue_count(const struct queue *q, size_t *nletters)
{
	if (nletters)
		*nletters = q->nletters;
	return q->nenvs;
}

/* env_link - e into the queue, as an envelope of letter l */
static void env_link(struct queue *q, struct qenv *e, struct qletter *l)
{
	e->l = l;
	l->nenv++;
	e->lprev = NULL;
	e->lnext = l->envs;
	if (l->envs)
		l->envs->lprev = e;
	l->envs = e;
	e->prev = NULL;
	e->next = q->envs;
	if (q->envs)
		q->envs->prev = e;
	q->envs = e;
	q->nenvs++;
}

/* env_unlink - e out of the queue in memory (and out of any list); with
 * its last envelope the letter is forgotten */
static void env_unlink(struct queue *q, struct qenv *e)
{
	struct qletter *l = e->l;

	qenvq_del(e);
	if (e->prev)
		e->prev->next = e->next;
	else if (q->envs == e)
		q->envs = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->next = e->prev = NULL;
	if (l != NULL) {
		if (e->lprev)
			e->lprev->lnext = e->lnext;
		else if (l->envs == e)
			l->envs = e->lnext;
		if (e->lnext)
			e->lnext->lprev = e->lprev;
	}
	e->lnext = e->lprev = NULL;
	q->nenvs--;
	e->l = NULL;
	if (l != NULL && --l->nenv <= 0 && l->leaving == 0)
		letter_del(q, l);
}

/* env_gone - e is out of the queue: its channel hears it, then it is freed */
static void env_gone(struct qenv *e, int released)
{
	if (e->ch != NULL && e->ch->env_gone != NULL)
		e->ch->env_gone(e->chself, e, released);
	qenv_free(e);
}

/* --- channels ---------------------------------------------------------------- */

/* hop_channel - the route channel of e's next hop now, or -1 */
static int hop_channel(struct queue *q, const struct qenv *e)
{
	const struct route_hop *h;

	if (e->local)
		return q->rd->chops[ROUTE_CH_LOCAL] ? ROUTE_CH_LOCAL : -1;
	if ((h = route_table_hop_by_name(q->rd->conf->routes, e->hop)) == NULL || h->nalts == 0
	    || (unsigned) h->alts[0].channel >= CHANNEL_MAX
	    || q->rd->chops[h->alts[0].channel] == NULL)
		return -1;
	return (int) h->alts[0].channel;
}

struct chload {
	const struct channel_ops *ch;
	void   *self;
	struct qenv *e;
};

static int chload_line(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct chload *c = arg;

	if (c->ch->env_load == NULL) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	return c->ch->env_load(c->self, c->e, key, val, vlen, err, errlen);
}

const struct channel_ops *queue_env_channel(struct queue *q, struct qenv *e, char *err,
	size_t errlen)
{
	const struct channel_ops *ch;
	struct chload c;
	char    rerr[256];
	int     n;

	if (e->ch != NULL)
		return e->ch;
	if ((n = hop_channel(q, e)) < 0) {
		snprintf(err, errlen, "no route for this next hop in the configuration");
		return NULL;
	}
	ch = q->rd->chops[n];
	c.ch = ch;
	c.self = q->rd->chself[n];
	c.e = e;
	if (e->chsaved != NULL && rec_each(e->chsaved, strlen(e->chsaved), chload_line, &c, rerr,
	    sizeof(rerr)) < 0) {
		snprintf(err, errlen, "docket 'env %s': %s channel state: %s (left alone)",
		    e->name, ch->name, rerr);
		return NULL;
	}
	free(e->chsaved);
	e->chsaved = NULL;
	e->ch = ch;
	e->chself = c.self;
	if (ch->env_loaded != NULL)
		ch->env_loaded(c.self, e);
	return ch;
}

int queue_env_passive(struct queue *q, const struct qenv *e)
{
	int     n = hop_channel(q, e);

	return n >= 0 && q->rd->chops[n]->passive;
}

int queue_env_start(struct queue *q, struct qenv *e, char *err, size_t errlen)
{
	const struct channel_ops *ch;

	PANIC_IF(qenv_busy(e));
	if ((ch = queue_env_channel(q, e, err, errlen)) == NULL)
		return -1;
	if (ch->passive && (ch->ready == NULL || ch->ready(e->chself, e)))
		return 1;	/* waits for its peer to call */
	qenvq_del(e);
	e->state = QENV_ACTIVE;
	ch->start(e->chself, e);
	return 0;
}

void queue_env_due(struct queue *q, struct qenv *e, time_t t)
{
	e->next_try = t;
	if (t <= time(NULL))
		sched_kick(q->rd->sched, e);
}

/* --- the envelope store ------------------------------------------------------------
 *
 * An envelope's fixed part (letter, hop, calling, first, recipients) is
 * the docket "envf ENVELOPE", written once with the transaction that
 * queues the letter; its changing state is the docket "env ENVELOPE". A
 * fixed part too long for a record (over QUEUE_ENV_REC octets: thousands
 * of recipients for one hop) is the file queue/ENVELOPE instead, as every
 * envelope was in a spool of an older version (converted at start-up).
 * A letter that could not be returned has the docket "dead LETTER" (the
 * reason); an older version wrote the file queue/LETTER_d. */


static void envf_key(const char *ename, char *key, size_t len)
{
	snprintf(key, len, "envf %s", ename);
}

static void dead_key(const char *letter, char *key, size_t len)
{
	snprintf(key, len, "dead %s", letter);
}

/* docket_has - 1 when the docket key exists */
static int docket_has(struct queue *q, const char *key)
{
	size_t  len;
	void   *v = spool_docket_get(q->rd->sp, key, &len, NULL, NULL, 0);

	free(v);
	return v != NULL;
}

/* queue_env_exists - 1 when envelope ename is stored (record or file) */
int queue_env_exists(struct queue *q, const char *ename)
{
	char    key[SPOOL_NAMELEN + 80];

	envf_key(ename, key, sizeof(key));
	return docket_has(q, key) || spool_exists(q->rd->sp, SPOOL_QUEUE, ename);
}

/* env_store_del - add to t the removal of e's fixed part */
static void env_store_del(struct queue *q, struct qenv *e, struct spool_txn *t)
{
	char    key[SPOOL_NAMELEN + 80];

	(void) q;
	if (e->efile)
		spool_txn_remove(t, SPOOL_QUEUE, e->name);
	else {
		envf_key(e->name, key, sizeof(key));
		spool_txn_docket_del(t, key);
	}
}

int queue_env_commit(struct queue *q, struct spool_txn *t, struct qenv *e, const char *calling)
{
	struct buf b = BUF_INIT(QUEUE_ENV_MAX);
	struct spool_file *f;
	char    err[SPOOL_ERRLEN], letter[SPOOL_NAMELEN], key[SPOOL_NAMELEN + 80];

	/* the letter's name is the envelope's up to its suffix */
	snprintf(letter, sizeof(letter), "%.*s", (int) strcspn(e->name, "_"), e->name);
	if (qenv_file_text(e, letter, calling, &b) < 0) {
		log_error("envelope '%s': too large", e->name);
		buf_release(&b);
		return -1;
	}
	if (b.len <= QUEUE_ENV_REC) {
		envf_key(e->name, key, sizeof(key));
		spool_txn_docket_put(t, key, buf_data(&b), b.len);
		buf_release(&b);
		e->efile = 0;
		return 0;
	}
	if ((f = spool_create(q->rd->sp, e->name, err, sizeof(err))) == NULL
	    || spool_write(f, buf_data(&b), b.len, err, sizeof(err)) < 0) {
		log_error("envelope '%s': %s", e->name, err);
		if (f)
			spool_file_abort(f);
		buf_release(&b);
		return -1;
	}
	buf_release(&b);
	spool_txn_commit(t, f, SPOOL_QUEUE);
	e->efile = 1;
	return 0;
}

void queue_env_added(struct queue *q, const char *letter, struct qenv *e)
{
	struct qletter *l = letter_add(q, letter);

	env_link(q, e, l);
	sched_kick(q->rd->sched, e);
}

/* --- dockets ------------------------------------------------------------------- */

static void env_key(const struct qenv *e, char *key, size_t len)
{
	snprintf(key, len, "env %s", e->name);
}

struct env_saving {
	struct queue *q;
	struct qenv *e;
	struct notice_report nr;	/* notices committed with it */
};

static void result_apply(struct queue *q, struct qenv *e, const struct qresult *r);
static int load_marker(struct queue *q, const char *letter);

/* env_reload - a transaction about envelope nm failed (the spool undid
 * what it could) and e is out of the queue in memory: load it again from
 * disk, as the next start would, due after the first back-off. Memory
 * that ran ahead of the disk (recipients done, an attempt) is dropped,
 * and the letter is not removed by its other envelopes meanwhile. */
static void env_reload(struct queue *q, const char *nm)
{
	char    ln[SPOOL_NAMELEN];
	size_t  llen = strcspn(nm, "_");
	struct qletter *l;
	struct qenv *e;

	snprintf(ln, sizeof(ln), "%.*s", (int) llen, nm);
	if (!queue_env_exists(q, nm) || queue_env_load(q, nm) < 0)
		return;		/* removed after all, or left alone (logged) */
	if ((l = queue_letter(q, ln)) != NULL && !l->dead)
		(void) load_marker(q, ln);
	for (e = q->envs; e != NULL; e = e->next)
		if (strcmp(e->name, nm) == 0) {
			queue_env_due(q, e, time(NULL)
			    + (time_t) ((conf_backoff_ms(q->rd->conf, 1) + 999) / 1000));
			break;
		}
}

/* env_saved - a transaction that saved e's docket completed */
static void env_saved(void *arg, int ok, const char *err)
{
	struct env_saving *sv = arg;
	struct qenv *e = sv->e;
	struct queue *q = sv->q;

	q->txns--;
	if (!ok)
		log_error("save the state of '%s': %s", e->name, err);
	else {
		if (sv->nr.dead)
			queue_letter_mark_dead(q, e->l->name, sv->nr.dead_reason);
		notices_route(q->rd, &sv->nr);
	}
	if (--e->saving == 0 && e->result_wait) {
		struct qresult *r = e->pending;

		e->pending = NULL;
		e->result_wait = 0;
		result_apply(q, e, r);
		qresult_free(r);
	} else if (e->saving == 0 && !ok && e->state == QENV_QUEUED) {
		/* e in memory holds what the failed transaction would have
		 * saved (recipients done or failed, an attempt, a warning)
		 * without its lines and notices: what is on disk counts */
		struct qletter *l = e->l;
		char    nm[SPOOL_NAMELEN + 80];

		str_copy(nm, e->name, sizeof(nm));
		l->nenv++;		/* l stays while e is loaded again */
		env_unlink(q, e);
		env_gone(e, 0);
		env_reload(q, nm);
		if (--l->nenv <= 0 && l->leaving == 0)
			letter_del(q, l);
	} else if (e->saving == 0 && e->state == QENV_QUEUED)
		sched_kick(q->rd->sched, e);	/* (an active one is its channel's) */
	free(sv);
}

/* env_submit_saving - submit t, which saves e's docket: e counts it */
static void env_submit_saving(struct queue *q, struct qenv *e, struct spool_txn *t,
	const struct notice_report *nr)
{
	struct env_saving *sv = xcalloc(1, sizeof(*sv));

	sv->q = q;
	sv->e = e;
	if (nr != NULL)
		sv->nr = *nr;
	e->saving++;
	q->txns++;
	spool_txn_submit(t, env_saved, sv);
}

void queue_env_save(struct queue *q, struct qenv *e, struct spool_txn *t)
{
	struct buf b = BUF_INIT(QUEUE_DOCKET_MAX);
	char    key[SPOOL_NAMELEN + 8];
	int     own = t == NULL;

	qenv_docket_text(e, &b);
	env_key(e, key, sizeof(key));
	if (own)
		t = spool_txn_new(q->rd->sp);
	spool_txn_docket_put(t, key, buf_data(&b), b.len);
	buf_release(&b);
	if (own)
		env_submit_saving(q, e, t, NULL);
}

/* env_load_docket - apply the docket of e, if any; 0, or -1 (logged:
 * malformed, or unreadable: moved to dockets/corrupt/) */
static int env_load_docket(struct queue *q, struct qenv *e)
{
	char    key[SPOOL_NAMELEN + 8], err[SPOOL_ERRLEN];
	char   *text;
	size_t  len;
	int     finished = 0, rc = 0;

	env_key(e, key, sizeof(key));
	if ((text = spool_docket_get(q->rd->sp, key, &len, NULL, err, sizeof(err))) == NULL) {
		if (errno == ENOENT)
			return 0;
		log_error("%s", err);
		return -1;
	}
	if (qenv_docket_parse(e, text, len, &finished, err, sizeof(err)) < 0) {
		log_error("docket '%s' is malformed: %s", key, err);
		rc = -1;
	} else if (finished)
		e->state = QENV_FINISHED;
	free(text);
	return rc;
}

/* --- loading -------------------------------------------------------------------- */

int queue_env_load(struct queue *q, const char *nm)
{
	char    path[PATH_MAX], letter[SPOOL_NAMELEN], calling[SPOOL_NAMELEN * 3];
	char    err[RELAYD_ERRLEN], key[SPOOL_NAMELEN + 80], what[SPOOL_NAMELEN + 80];
	char   *text;
	size_t  len;
	struct qenv *e;
	struct qletter *l;
	int     efile = 0;

	envf_key(nm, key, sizeof(key));
	snprintf(what, sizeof(what), "record 'envf %s'", nm);
	if ((text = spool_docket_get(q->rd->sp, key, &len, NULL, NULL, 0)) == NULL) {
		efile = 1;
		snprintf(what, sizeof(what), "'queue/%s'", nm);
		spool_path(q->rd->sp, SPOOL_QUEUE, nm, path, sizeof(path));
		if ((text = durable_read_file(path, QUEUE_ENV_MAX, &len, err, sizeof(err)))
		    == NULL) {
			log_error("load envelope 'queue/%s': %s", nm, err);
			return -1;
		}
	}
	letter[0] = calling[0] = '\0';
	e = qenv_file_parse(text, len, letter, sizeof(letter), calling, sizeof(calling), err,
	    sizeof(err));
	free(text);
	if (e == NULL) {
		log_error("envelope %s is malformed: %s (left alone)", what, err);
		return -1;
	}
	e->efile = efile;
	if (strncmp(nm, letter, strlen(letter)) != 0 || nm[strlen(letter)] != '_') {
		log_error("envelope %s names another letter, '%s' (left alone)", what, letter);
		qenv_free(e);
		return -1;
	}
	if (!spool_exists(q->rd->sp, SPOOL_QUEUE, letter)) {
		/* an operator action moved the letter before a crash: follow it */
		enum spool_state to = spool_exists(q->rd->sp, SPOOL_HOLD, letter) ? SPOOL_HOLD
		    : spool_exists(q->rd->sp, SPOOL_DEAD, letter) ? SPOOL_DEAD : SPOOL_QUEUE;

		if (!efile) {
			/* a record stays with its held letter */
			if (to == SPOOL_QUEUE)
				log_error("envelope %s: its letter '%s' is missing: left alone",
				    what, letter);
		} else if (to != SPOOL_QUEUE) {
			struct spool_txn *t = spool_txn_new(q->rd->sp);

			spool_txn_move(t, nm, SPOOL_QUEUE, to, NULL);
			if (spool_txn_run(t, err, sizeof(err)) < 0)
				log_error("envelope 'queue/%s': %s", nm, err);
			else
				log_info("envelope 'queue/%s' follows its letter to %s/", nm,
				    spool_state_name(to));
		} else
			log_error("envelope 'queue/%s': its letter '%s' is missing: left alone", nm,
			    letter);
		qenv_free(e);
		return -1;
	}
	e->name = xstrdup(nm);
	e->local = strcmp(e->hop, "local") == 0;
	e->next_try = time(NULL);
	if (env_load_docket(q, e) < 0) {
		log_error("envelope %s: left alone until its docket is repaired", what);
		qenv_free(e);
		return -1;
	}
	l = letter_add(q, letter);
	if (l->calling == NULL)
		set_str(&l->calling, calling);
	env_link(q, e, l);
	if (e->state != QENV_FINISHED && queue_env_channel(q, e, err, sizeof(err)) == NULL
	    && e->chsaved != NULL && hop_channel(q, e) >= 0) {
		/* its channel refused the saved state: never guess a copy's identity */
		log_error("%s", err);
		env_unlink(q, e);
		qenv_free(e);
		return -1;
	}
	return 0;
}

struct names {
	char  **v;
	size_t	n;
	const char *prefix;
};

static int collect(void *arg, const char *name)
{
	struct names *nm = arg;

	if (nm->prefix != NULL && strncmp(name, nm->prefix, strlen(nm->prefix)) != 0)
		return 0;
	nm->v = xrealloc(nm->v, sizeof(char *) * (nm->n + 1));
	nm->v[nm->n++] = xstrdup(name);
	return 0;
}

static int collect_key(void *arg, const char *key, const void *value, size_t len)
{
	(void) value;
	(void) len;
	return collect(arg, key);
}

static void names_free(struct names *nm)
{
	size_t  i;

	for (i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	memset(nm, 0, sizeof(*nm));
}

/* kind_of - what queue/NAME is: 'l' local envelope, 'f' forward envelope,
 * 'd' dead marker, 0 the letter, '?' something else (a channel's) */
static int kind_of(const char *name, size_t *llen)
{
	const char *us = strchr(name, '_');

	*llen = us ? (size_t) (us - name) : strlen(name);
	if (us == NULL)
		return 0;
	if (us[1] == 'l' && us[2] == '\0')
		return 'l';
	if (us[1] == 'd' && us[2] == '\0')
		return 'd';
	if (us[1] == 'f' && us[2] == '_')
		return 'f';
	return '?';
}

/* collect_rec - the envelope names of "envf ENVELOPE" records */
static int collect_rec(void *arg, const char *key, const void *value, size_t len)
{
	(void) value;
	(void) len;
	return collect(arg, key + 5);
}

/* load_marker - the letter could not be returned: record "dead LETTER"
 * or, from an older version, the file queue/LETTER_d. 1 when marked. */
static int load_marker(struct queue *q, const char *letter)
{
	char    key[SPOOL_NAMELEN + 8], path[PATH_MAX], mk[SPOOL_NAMELEN + 4];
	char   *reason;
	size_t  len;

	dead_key(letter, key, sizeof(key));
	if ((reason = spool_docket_get(q->rd->sp, key, &len, NULL, NULL, 0)) == NULL) {
		snprintf(mk, sizeof(mk), "%s_d", letter);
		if (!spool_exists(q->rd->sp, SPOOL_QUEUE, mk))
			return 0;
		spool_path(q->rd->sp, SPOOL_QUEUE, mk, path, sizeof(path));
		reason = durable_read_file(path, QUEUE_DEAD_MAX, &len, NULL, 0);
	}
	set_dead(letter_add(q, letter), reason && *reason ? reason : "undeliverable");
	free(reason);
	return 1;
}

/* marker_rec - a "dead LETTER" record at start-up */
static int marker_rec(void *arg, const char *key, const void *value, size_t len)
{
	struct queue *q = arg;
	char   *r = xmalloc(len + 1);

	memcpy(r, value, len);
	r[len] = '\0';
	if (spool_exists(q->rd->sp, SPOOL_QUEUE, key + 5))
		set_dead(letter_add(q, key + 5), *r ? r : "undeliverable");
	free(r);
	return 0;
}

void queue_letter_end_ops(struct queue *q, struct spool_txn *t, const char *name, int dead,
	const char *reason)
{
	char    mk[SPOOL_NAMELEN + 8];
	const char *kv[2];

	if (dead) {
		/* only a dead letter has a marker: no look-up on the way out of
		 * a letter delivered or forwarded */
		dead_key(name, mk, sizeof(mk));
		if (docket_has(q, mk))
			spool_txn_docket_del(t, mk);
		snprintf(mk, sizeof(mk), "%s_d", name);
		if (spool_exists(q->rd->sp, SPOOL_QUEUE, mk))
			spool_txn_remove(t, SPOOL_QUEUE, mk);
		spool_txn_move(t, name, SPOOL_QUEUE, SPOOL_DEAD, NULL);
		kv[0] = "reason";
		kv[1] = reason ? reason : "undeliverable";
		spool_txn_journal(t, "dead", name, kv, 1);
	} else {
		/* once t is committed, without a directory sync: t deletes
		 * the letter's last envelope record, so a letter file a
		 * crash keeps has no envelope, and start-up finishes it */
		spool_txn_remove_after(t, SPOOL_QUEUE, name);
	}
}

void queue_letter_drop_records(struct queue *q, struct spool_txn *t, const char *name)
{
	struct names nm;
	char    pre[SPOOL_NAMELEN + 8];
	size_t  i;

	memset(&nm, 0, sizeof(nm));
	snprintf(pre, sizeof(pre), "envf %s_", name);
	(void) spool_docket_each(q->rd->sp, pre, collect_rec, &nm);
	snprintf(pre, sizeof(pre), "env %s_", name);
	(void) spool_docket_each(q->rd->sp, pre, collect_key, &nm);
	snprintf(pre, sizeof(pre), "dead %s", name);
	if (docket_has(q, pre))
		collect(&nm, pre);
	for (i = 0; i < nm.n; i++) {
		if (strncmp(nm.v[i], "env ", 4) == 0 || strncmp(nm.v[i], "dead ", 5) == 0)
			spool_txn_docket_del(t, nm.v[i]);
		else {
			char    key[SPOOL_NAMELEN + 80];

			envf_key(nm.v[i], key, sizeof(key));
			spool_txn_docket_del(t, key);
		}
	}
	names_free(&nm);
}

/* convert - an older version's envelope file or dead marker queue/NAME
 * becomes a record (one transaction: the record put, the file removed).
 * 0 converted, -1 left as it is (logged; loaded as a file) */
static int convert(struct queue *q, const char *nm, int kind, size_t llen)
{
	char    path[PATH_MAX], key[SPOOL_NAMELEN + 80], err[RELAYD_ERRLEN];
	struct spool_txn *t;
	char   *text;
	size_t  len;

	spool_path(q->rd->sp, SPOOL_QUEUE, nm, path, sizeof(path));
	if ((text = durable_read_file(path, kind == 'd' ? QUEUE_DEAD_MAX : QUEUE_ENV_REC + 1,
	    &len, err, sizeof(err))) == NULL)
		return -1;	/* too long for a record, or unreadable: stays a file */
	if (kind == 'd') {
		char    ln[SPOOL_NAMELEN];

		snprintf(ln, sizeof(ln), "%.*s", (int) llen, nm);
		dead_key(ln, key, sizeof(key));
	} else {
		struct qenv *e;
		char    letter[SPOOL_NAMELEN], calling[SPOOL_NAMELEN * 3];

		/* only a file that parses becomes a record */
		if (len > QUEUE_ENV_REC || (e = qenv_file_parse(text, len, letter, sizeof(letter),
		    calling, sizeof(calling), err, sizeof(err))) == NULL) {
			free(text);
			return -1;
		}
		qenv_free(e);
		envf_key(nm, key, sizeof(key));
	}
	t = spool_txn_new(q->rd->sp);
	spool_txn_docket_put(t, key, text, len);
	spool_txn_remove(t, SPOOL_QUEUE, nm);
	free(text);
	if (spool_txn_run(t, err, sizeof(err)) < 0) {
		log_error("convert 'queue/%s' into a record: %s", nm, err);
		return -1;
	}
	return 0;
}

int queue_load(struct queue *q, char *err, size_t errlen)
{
	struct names qn, in, rn;
	char    path[PATH_MAX], ln[SPOOL_NAMELEN];
	size_t  i, j, llen;
	struct qletter *l;
	unsigned mark, converted = 0;
	int     k, c;

	memset(&qn, 0, sizeof(qn));
	memset(&in, 0, sizeof(in));
	memset(&rn, 0, sizeof(rn));
	if (spool_scan(q->rd->sp, SPOOL_QUEUE, collect, &qn, err, errlen) < 0
	    || spool_scan(q->rd->sp, SPOOL_IN, collect, &in, err, errlen) < 0) {
		names_free(&qn);
		names_free(&in);
		return -1;
	}
	/* envelope files of letters still in in/ are from a routing of an
	 * older version that did not complete: remove them, the letter is
	 * routed again (records come with their routing's transaction) */
	for (i = 0; i < qn.n && in.n > 0; i++) {
		if (kind_of(qn.v[i], &llen) == 0)
			continue;
		for (j = 0; j < in.n; j++)
			if (strlen(in.v[j]) == llen && strncmp(in.v[j], qn.v[i], llen) == 0) {
				spool_path(q->rd->sp, SPOOL_QUEUE, qn.v[i], path, sizeof(path));
				log_info("removing '%s' of an unfinished routing", qn.v[i]);
				(void) remove(path);
				qn.v[i][0] = '\0';
				break;
			}
	}
	/* an older version's envelope files and dead markers become records */
	for (i = 0; i < qn.n; i++) {
		k = qn.v[i][0] ? kind_of(qn.v[i], &llen) : 0;
		if ((k == 'l' || k == 'f' || k == 'd') && convert(q, qn.v[i], k, llen) == 0) {
			converted++;
			qn.v[i][0] = '\0';
		}
	}
	if (converted > 0)
		log_info("queue: %u envelope files and markers of an older version are records now",
		    converted);
	/* the records, then what stays a file */
	(void) spool_docket_each(q->rd->sp, "dead ", marker_rec, q);
	for (i = 0; i < qn.n; i++)
		if (qn.v[i][0] && kind_of(qn.v[i], &llen) == 'd') {
			snprintf(ln, sizeof(ln), "%.*s", (int) llen, qn.v[i]);
			(void) load_marker(q, ln);
		}
	(void) spool_docket_each(q->rd->sp, "envf ", collect_rec, &rn);
	for (i = 0; i < rn.n; i++)
		(void) queue_env_load(q, rn.v[i]);
	for (i = 0; i < qn.n; i++) {
		k = qn.v[i][0] ? kind_of(qn.v[i], &llen) : 0;
		if (k == 'l' || k == 'f')
			(void) queue_env_load(q, qn.v[i]);
	}
	/* the channels' own leftovers */
	for (c = 0; c < CHANNEL_MAX; c++)
		if (q->rd->chops[c] != NULL && q->rd->chops[c]->recover != NULL)
			q->rd->chops[c]->recover(q->rd->chself[c], qn.v, qn.n);
	/* letters with no envelope left: finish them. A letter whose
	 * envelopes are there but could not be loaded (malformed) is left
	 * alone for the operator, never finished. */
	mark = queue_new_mark(q);
	for (i = 0; i < rn.n; i++) {
		snprintf(ln, sizeof(ln), "%.*s", (int) strcspn(rn.v[i], "_"), rn.v[i]);
		if ((l = queue_letter(q, ln)) != NULL || spool_exists(q->rd->sp, SPOOL_QUEUE, ln))
			(l ? l : letter_add(q, ln))->mark = mark;
	}
	for (i = 0; i < qn.n; i++) {
		k = qn.v[i][0] ? kind_of(qn.v[i], &llen) : 0;
		if (k == 'l' || k == 'f') {
			snprintf(ln, sizeof(ln), "%.*s", (int) llen, qn.v[i]);
			letter_add(q, ln)->mark = mark;
		}
	}
	for (i = 0; i < qn.n; i++) {
		const char *nm = qn.v[i];

		if (!nm[0] || kind_of(nm, &llen) != 0)
			continue;
		l = letter_add(q, nm);
		if (l->nenv > 0)
			continue;
		if (l->mark == mark)
			log_error("'queue/%s': left alone: its envelopes could not be loaded", nm);
		else {
			struct spool_txn *t = spool_txn_new(q->rd->sp);

			queue_letter_end_ops(q, t, nm, l->dead, l->dead_reason);
			if (spool_txn_run(t, err, errlen) < 0)
				log_error("finish '%s': %s", nm, err);
		}
		letter_del(q, l);
	}
	/* letters marked above whose envelopes all failed to load, and whose
	 * letter file is missing, were never in memory for long */
	for (i = 0; i < q->ltab_size; i++) {
		struct qletter **lp = &q->ltab[i];

		while (*lp != NULL) {
			if ((*lp)->nenv == 0) {
				l = *lp;
				*lp = l->hnext;
				q->nletters--;
				qletter_free(l);
			} else
				lp = &(*lp)->hnext;
		}
	}
	names_free(&qn);
	names_free(&rn);
	for (i = 0; i < in.n; i++)
		router_route(q->rd, in.v[i]);
	names_free(&in);
	return 0;
}

/* --- results --------------------------------------------------------------------- */

/* env_leave_ops - add to t the removal of e (its file, docket, the
 * channel's files and, when it is the letter's last envelope and no
 * other is leaving, the letter: 1 returned then); e leaves the queue in
 * memory, the letter counts it as leaving until its transaction ends */
static int env_leave_ops(struct queue *q, struct qenv *e, struct spool_txn *t,
	const char *dead_reason)
{
	struct qletter *l = e->l;
	char    key[SPOOL_NAMELEN + 8];
	int     ends = 0;

	env_store_del(q, e, t);
	env_key(e, key, sizeof(key));
	spool_txn_docket_del(t, key);
	if (e->ch != NULL && e->ch->env_leaving != NULL)
		e->ch->env_leaving(e->chself, e, t);
	/* not while another envelope's final transaction is in flight: if
	 * that one fails, its envelope comes back and needs the letter */
	if (l != NULL && l->nenv <= 1 && l->leaving == 0) {
		queue_letter_end_ops(q, t, l->name, l->dead || dead_reason != NULL,
		    l->dead ? l->dead_reason : dead_reason);
		ends = 1;
	}
	if (l != NULL)
		l->leaving++;
	env_unlink(q, e);
	e->state = QENV_LEAVING;
	return ends;
}

struct env_leaving {
	struct queue *q;
	struct qenv *e;
	char	letter[SPOOL_NAMELEN];
	int	ends;			/* the transaction ends the letter too */
	struct notice_report nr;
};

/* letter_end - the last envelope of l left in a transaction that did not
 * end the letter (another was leaving then): end it now, in a
 * transaction of its own; l is forgotten. If that fails (logged by the
 * spool), the letter stays in queue/ without envelopes: the next start
 * finishes it. */
static void letter_end(struct queue *q, struct qletter *l)
{
	struct spool_txn *t = spool_txn_new(q->rd->sp);

	queue_letter_end_ops(q, t, l->name, l->dead, l->dead_reason);
	spool_txn_submit(t, NULL, NULL);
	letter_del(q, l);
}

static void env_left(void *arg, int ok, const char *err)
{
	struct env_leaving *lv = arg;
	struct qletter *l = queue_letter(lv->q, lv->letter);

	lv->q->txns--;
	if (l != NULL)
		l->leaving--;
	/* e is gone from memory already; on failure what is on disk is
	 * loaded again, so that the letter's other envelopes do not remove
	 * it meanwhile (a copy resumes: the next hop answers with the same
	 * name, nothing is sent twice) */
	if (!ok) {
		char    nm[SPOOL_NAMELEN + 80];

		log_error("'%s': envelope '%s': %s (tried again)", lv->letter, lv->e->name, err);
		str_copy(nm, lv->e->name, sizeof(nm));
		env_gone(lv->e, 0);
		env_reload(lv->q, nm);
	} else {
		sysio_mark("env-left %s %s %s", lv->letter, lv->e->name, lv->e->hop);
		if (lv->nr.dead)
			queue_letter_mark_dead(lv->q, lv->letter, lv->nr.dead_reason);
		notices_route(lv->q->rd, &lv->nr);
		env_gone(lv->e, 1);
	}
	/* the last to leave, with nothing come back: the letter ends now */
	if ((l = queue_letter(lv->q, lv->letter)) != NULL && l->nenv <= 0 && l->leaving == 0) {
		if (ok && !lv->ends)
			letter_end(lv->q, l);
		else
			letter_del(lv->q, l);
	}
	free(lv);
}

/* env_leave - e leaves the queue in t (with its notices nr, may be NULL):
 * submitted here, completed by env_left() */
static void env_leave(struct queue *q, struct qenv *e, struct spool_txn *t,
	const char *dead_now, const struct notice_report *nr)
{
	struct env_leaving *lv = xcalloc(1, sizeof(*lv));

	lv->q = q;
	lv->e = e;
	if (nr != NULL)
		lv->nr = *nr;
	str_copy(lv->letter, e->l->name, sizeof(lv->letter));
	lv->ends = env_leave_ops(q, e, t, dead_now);
	q->txns++;
	spool_txn_submit(t, env_left, lv);
}

int queue_dead_marker(struct queue *q, struct spool_txn *t, const char *letter,
	const char *reason)
{
	char    key[SPOOL_NAMELEN + 8];

	(void) q;
	dead_key(letter, key, sizeof(key));
	spool_txn_docket_put(t, key, reason, strlen(reason) < QUEUE_DEAD_MAX ? strlen(reason)
	    : QUEUE_DEAD_MAX);
	return 0;
}

void queue_letter_mark_dead(struct queue *q, const char *letter, const char *reason)
{
	struct qletter *l = queue_letter(q, letter);

	if (l != NULL)
		set_dead(l, reason);
}

static void result_apply(struct queue *q, struct qenv *e, const struct qresult *r)
{
	struct spool_txn *t = spool_txn_new(q->rd->sp);
	struct failset fs, acks;
	struct notice_report nr;
	struct journal_list fwd;
	const char *defer = NULL, *dead_now = NULL, *kv[2 * 16];
	char    next[32], att[16];
	size_t  i, k, pending = 0, delivered = 0;

	memset(&fs, 0, sizeof(fs));
	memset(&acks, 0, sizeof(acks));
	memset(&nr, 0, sizeof(nr));
	journal_list_init(&fwd);
	nr.letter = e->l->name;
	nr.state = SPOOL_QUEUE;
	nr.to_hop = e->hop;
	nr.calling = e->l->calling ? e->l->calling : "";
	for (i = 0; i < e->nrcpts; i++) {
		struct qrcpt *rc = &e->rcpts[i];
		enum qoutcome what = r->rcpt ? r->rcpt[i].what : r->all;
		const char *why = r->rcpt ? r->rcpt[i].reason : r->reason;

		if (rc->done)
			continue;
		switch (what) {
		case QOUT_DONE:
			if (r->rcpt && r->rcpt[i].mailbox) {
				kv[0] = "rcpt";
				kv[1] = rc->orig;
				kv[2] = "mailbox";
				kv[3] = r->rcpt[i].mailbox;
				spool_txn_journal(t, "delivered", e->l->name, kv, 2);
				failset_add(&acks, rc->orig, NULL, NULL);
				delivered++;
			} else
				journal_list_add(&fwd, rc->addr);
			rc->done = 1;
			break;
		case QOUT_FAIL:
			failset_add_rcpt(&fs, rc, why && *why ? why : "failed", 1);
			failset_add_rcpt(&acks, rc, why && *why ? why : "failed", 0);
			rc->done = 1;
			break;
		case QOUT_DEFER:
			if (defer == NULL)
				defer = why && *why ? why : "temporary failure";
			pending++;
			break;
		default:
			pending++;
			break;
		}
	}
	if (fwd.n + fwd.more > 0) {
		k = 0;
		kv[k++] = "to";
		kv[k++] = e->hop;
		kv[k++] = "addr";
		kv[k++] = r->via ? r->via : "-";
		kv[k++] = "remote";
		kv[k++] = r->remote ? r->remote : "-";
		for (i = 0; i < r->nkv && k + 4 <= sizeof(kv) / sizeof(kv[0]); i++) {
			kv[k++] = r->kv[2 * i];
			kv[k++] = r->kv[2 * i + 1];
		}
		kv[k++] = "rcpts";
		kv[k++] = journal_list_text(&fwd);
		spool_txn_journal(t, "forwarded", e->l->name, kv, k / 2);
	}
	if (fs.n > 0)
		notices_report(q->rd, t, &nr, &fs);
	/* a failure that cannot be returned keeps the letter for the
	 * operator: it goes to dead/ in this transaction when this is its
	 * last envelope, else its marker says so (and the letter in memory,
	 * once durable: nr.dead) */
	if (nr.dead && !e->l->dead && pending == 0 && e->l->nenv <= 1 && e->l->leaving == 0) {
		dead_now = nr.dead_reason;
		nr.dead = 0;
	} else if (nr.dead && (e->l->dead
	    || queue_dead_marker(q, t, e->l->name, nr.dead_reason) < 0))
		nr.dead = 0;		/* marked already, or logged */
	else if (nr.dead)
		/* marked in memory at once: another envelope of the letter that
		 * leaves before this transaction completed must take the letter
		 * to dead/, not remove it (if this transaction fails, the letter
		 * is kept in dead/ all the same: kept, never lost) */
		set_dead(e->l, nr.dead_reason);
	if (pending == 0 && delivered > 0)
		notices_ack(q->rd, t, &nr, &acks);
	failset_free(&fs);
	failset_free(&acks);
	journal_list_release(&fwd);
	if (pending == 0) {
		env_leave(q, e, t, dead_now, &nr);
		return;
	}
	e->state = QENV_QUEUED;
	if (defer != NULL) {
		int64_t ms;

		e->attempts++;
		ms = conf_backoff_ms(q->rd->conf, e->attempts);
		e->next_try = time(NULL) + (time_t) ((ms + 999) / 1000);
		set_str(&e->error, defer);
		str_iso8601(e->next_try, next, sizeof(next));
		snprintf(att, sizeof(att), "%u", e->attempts);
		kv[0] = "to";
		kv[1] = e->hop;
		kv[2] = "reason";
		kv[3] = qenv_error(e);
		kv[4] = "next";
		kv[5] = next;
		kv[6] = "attempts";
		kv[7] = att;
		spool_txn_journal(t, "deferred", e->l->name, kv, 4);
	} else
		e->next_try = 0;
	queue_env_save(q, e, t);
	env_submit_saving(q, e, t, &nr);
}

void queue_result(struct queue *q, struct qenv *e, const struct qresult *r)
{
	PANIC_IF(e->state != QENV_ACTIVE);
	PANIC_IF(r->rcpt != NULL && r->nrcpt != e->nrcpts);
	if (e->saving > 0) {
		/* a docket save is in flight: its put must not land after this
		 * transaction (it would bring a removed docket back) */
		PANIC_IF(e->result_wait);
		e->pending = qresult_copy(r);
		e->result_wait = 1;
		return;
	}
	result_apply(q, e, r);
}

void queue_requeue(struct queue *q, struct qenv *e)
{
	PANIC_IF(e->state != QENV_ACTIVE);
	e->state = QENV_QUEUED;
	e->next_try = 0;
	queue_env_save(q, e, NULL);	/* its completion kicks the scheduler */
}

void queue_give_up(struct queue *q, struct qenv *e, const char *reason)
{
	struct qresult r;

	PANIC_IF(qenv_busy(e));
	memset(&r, 0, sizeof(r));
	r.all = QOUT_FAIL;
	r.reason = reason;
	qenvq_del(e);
	e->state = QENV_ACTIVE;
	queue_result(q, e, &r);
}

void queue_warn(struct queue *q, struct qenv *e)
{
	struct spool_txn *t = spool_txn_new(q->rd->sp);
	struct notice_report nr;
	struct failset fs;
	size_t  i;

	memset(&fs, 0, sizeof(fs));
	memset(&nr, 0, sizeof(nr));
	e->warned = 1;
	for (i = 0; i < e->nrcpts; i++)
		if (!e->rcpts[i].done)
			failset_add(&fs, e->rcpts[i].orig, e->error ? e->error
			    : "not yet delivered", NULL);
	nr.letter = e->l->name;
	nr.state = SPOOL_QUEUE;
	nr.to_hop = e->hop;
	nr.calling = e->l->calling ? e->l->calling : "";
	notices_warn(q->rd, t, &nr, &fs, e->first);
	failset_free(&fs);
	queue_env_save(q, e, t);
	env_submit_saving(q, e, t, &nr);
}

void queue_env_remove(struct queue *q, struct qenv *e)
{
	PANIC_IF(e->state != QENV_FINISHED || e->saving > 0);
	env_leave(q, e, spool_txn_new(q->rd->sp), NULL, NULL);
}

/* --- operator actions ------------------------------------------------------------ */

int queue_letter_busy(const struct queue *q, const struct qletter *l, char *err, size_t errlen)
{
	const struct qenv *e;

	(void) q;
	if (l->leaving > 0) {
		snprintf(err, errlen, "busy: a copy is being finished, try again");
		return 1;
	}
	for (e = l->envs; e != NULL; e = e->lnext)
		if (qenv_busy(e)) {
			snprintf(err, errlen, "busy: transfer in progress, try again");
			return 1;
		}
	return 0;
}

/* can_take_back - e is busy only because its channel holds it, and the
 * channel may give it back (no save in flight, not leaving) */
static int can_take_back(const struct qenv *e)
{
	return e->state == QENV_ACTIVE && e->saving == 0 && e->ch != NULL
	    && e->ch->take_back != NULL;
}

int queue_letter_take_back(struct queue *q, struct qletter *l, char *err, size_t errlen)
{
	struct qenv *e;
	int     busy = 0;

	if (!queue_letter_busy(q, l, err, errlen))
		return 0;
	if (l->leaving > 0)
		return 1;
	/* one that no channel can give back: ask nothing (err says why) */
	for (e = l->envs; e != NULL; e = e->lnext)
		if (qenv_busy(e) && !can_take_back(e))
			return 1;
	for (e = l->envs; e != NULL; e = e->lnext) {
		if (!qenv_busy(e))
			continue;
		if (e->ch->take_back(e->chself, e))
			e->state = QENV_QUEUED;		/* as before start(): due */
		else
			busy = 1;
	}
	if (!busy)
		return 0;
	/* a transfer of another envelope is in progress: the action is
	 * refused, and what was given back starts again */
	for (e = l->envs; e != NULL; e = e->lnext)
		if (!qenv_busy(e))
			sched_kick(q->rd->sched, e);
	return queue_letter_busy(q, l, err, errlen);
}

void queue_letter_take(struct queue *q, struct qletter *l, struct spool_txn *t,
	struct qenv ***envs, size_t *nenvs)
{
	struct qenv *e, *next;
	char    key[SPOOL_NAMELEN + 8];

	*envs = NULL;
	*nenvs = 0;
	for (e = l->envs; e != NULL; e = next) {
		next = e->lnext;
		if (t != NULL) {
			env_store_del(q, e, t);
			env_key(e, key, sizeof(key));
			spool_txn_docket_del(t, key);
			if (e->ch != NULL && e->ch->env_leaving != NULL)
				e->ch->env_leaving(e->chself, e, t);
		}
		*envs = xrealloc(*envs, sizeof(**envs) * (*nenvs + 1));
		(*envs)[(*nenvs)++] = e;
	}
	/* the last unlink forgets the letter */
	for (size_t i = 0; i < *nenvs; i++) {
		(*envs)[i]->state = QENV_LEAVING;
		env_unlink(q, (*envs)[i]);
	}
}

void queue_gone(struct queue *q, struct qenv **envs, size_t n, int released)
{
	size_t  i;

	(void) q;
	for (i = 0; i < n; i++)
		env_gone(envs[i], released);
}

/* letter_reload - queue_letter_reload() with the files of queue/ that
 * may be the letter's envelope files given (files[0..n)) */
static void letter_reload(struct queue *q, const char *name, char *const *files, size_t n,
	int due)
{
	struct names nm;
	char    pre[SPOOL_NAMELEN + 8];
	struct qletter *l;
	struct qenv *e;
	size_t  i, llen;
	int     k;

	for (i = 0; i < n; i++) {
		k = kind_of(files[i], &llen);
		if (llen != strlen(name) || strncmp(files[i], name, llen) != 0)
			continue;
		if (k == 'l' || k == 'f') {
			char    key[SPOOL_NAMELEN + 80];

			envf_key(files[i], key, sizeof(key));
			if (!docket_has(q, key))
				(void) queue_env_load(q, files[i]);
		}
	}
	memset(&nm, 0, sizeof(nm));
	snprintf(pre, sizeof(pre), "envf %s_", name);
	nm.prefix = NULL;
	(void) spool_docket_each(q->rd->sp, pre, collect_rec, &nm);
	for (i = 0; i < nm.n; i++)
		if (strcspn(nm.v[i], "_") == strlen(name))
			(void) queue_env_load(q, nm.v[i]);
	names_free(&nm);
	if (queue_letter(q, name) != NULL)
		(void) load_marker(q, name);
	if ((l = queue_letter(q, name)) != NULL)
		for (e = l->envs; e != NULL; e = e->lnext) {
			if (due)
				e->next_try = 0;
			sched_kick(q->rd->sched, e);
		}
	sched_poke(q->rd->sched);
}

void queue_letter_reload(struct queue *q, const char *name, int due)
{
	struct names nm;
	char    err[SPOOL_ERRLEN], pre[SPOOL_NAMELEN + 8];

	memset(&nm, 0, sizeof(nm));
	snprintf(pre, sizeof(pre), "%s_", name);
	nm.prefix = pre;
	if (spool_scan(q->rd->sp, SPOOL_QUEUE, collect, &nm, err, sizeof(err)) < 0)
		log_error("reload '%s': %s", name, err);
	letter_reload(q, name, nm.v, nm.n, due);
	names_free(&nm);
}

void queue_letter_reload_files(struct queue *q, const char *name, char *const *files,
	size_t n, int due)
{
	letter_reload(q, name, files, n, due);
}

/* --- life cycle -------------------------------------------------------------------- */

struct queue *queue_new(struct relayd *rd)
{
	struct queue *q = xcalloc(1, sizeof(*q));

	q->rd = rd;
	return q;
}

int queue_busy(const struct queue *q)
{
	return q->txns > 0;
}

void queue_free(struct queue *q)
{
	struct qenv *e;
	struct qletter *l;
	size_t  i;

	if (q == NULL)
		return;
	while ((e = q->envs) != NULL) {
		env_unlink(q, e);
		env_gone(e, 0);
	}
	for (i = 0; i < q->ltab_size; i++)
		while ((l = q->ltab[i]) != NULL) {
			q->ltab[i] = l->hnext;
			qletter_free(l);
		}
	free(q->ltab);
	free(q);
}

/* --- listings ---------------------------------------------------------------------- */

/* list_state - "NAME AGE - - WORD -" for the letters of state st (not
 * the envelopes beside them) */
static void list_state(const char *spool, const char *dir, const char *word, struct buf *out,
	time_t now);

static int name_cmp(const void *a, const void *b)
{
	return spool_name_cmp(*(char *const *) a, *(char *const *) b);
}

/* dir_names - the plain files of DIR (no dot-files), sorted; count in *n */
static char **dir_names(const char *dir, size_t *n)
{
	DIR    *d;
	struct dirent *de;
	char  **v = NULL;

	*n = 0;
	errno = 0;			/* NULL with errno 0: empty */
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		v = xrealloc(v, sizeof(char *) * (*n + 1));
		v[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(char *), name_cmp);
	return v;
}

static void list_state(const char *spool, const char *dir, const char *word, struct buf *out,
	time_t now)
{
	char    path[PATH_MAX];
	char  **names;
	size_t  n, i;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", spool, dir);
	names = dir_names(path, &n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", spool, dir, names[i]);
		if (strchr(names[i], '_') == NULL && stat(path, &st) == 0)
			buf_printf(out, "%s %llds - - %s -\n", names[i],
			    (long long) (now - st.st_mtime), word);
		free(names[i]);
	}
	free(names);
}

/* The state of one envelope, from its docket. */
struct peek {
	char   *key;		/* "env ENVELOPE" */
	unsigned attempts;
	int	finished;
	char   *error;
};

struct peeks {
	struct peek *v;		/* in strcmp order of keys (spool_docket_peek_all) */
	size_t	n;
	struct names envf;	/* "envf" records: "ENVELOPE\nTEXT" */
};

static int peek_line(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct peek *p = arg;
	uint64_t u;

	(void) vlen;
	(void) err;
	(void) errlen;
	if (strcmp(key, "attempts") == 0 && rec_u64(val, 0, UINT32_MAX, &u) == 0)
		p->attempts = (unsigned) u;
	else if (strcmp(key, "finished") == 0)
		p->finished = strcmp(val, "1") == 0;
	else if (strcmp(key, "error") == 0)
		set_str(&p->error, val);
	return 0;
}

/* peek_one - keep the state of an envelope docket (the others are skipped) */
static int peek_one(void *arg, const char *key, const void *value, size_t len)
{
	struct peeks *ps = arg;
	struct peek *p;
	char    err[64];

	if (strncmp(key, "envf ", 5) == 0) {
		char   *v = xmalloc(strlen(key + 5) + 1 + len + 1);

		memcpy(v, key + 5, strlen(key + 5));
		v[strlen(key + 5)] = '\n';
		memcpy(v + strlen(key + 5) + 1, value, len);
		v[strlen(key + 5) + 1 + len] = '\0';
		ps->envf.v = xrealloc(ps->envf.v, sizeof(char *) * (ps->envf.n + 1));
		ps->envf.v[ps->envf.n++] = v;
		return 0;
	}
	if (strncmp(key, "env ", 4) != 0)
		return 0;
	ps->v = xrealloc(ps->v, sizeof(*ps->v) * (ps->n + 1));
	p = &ps->v[ps->n++];
	memset(p, 0, sizeof(*p));
	p->key = xstrdup(key);
	(void) rec_each(value, len, peek_line, p, err, sizeof(err));
	return 0;
}

static int peek_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct peek *) e)->key);
}

int queue_list_dir(const char *spool, struct buf *out, char *err, size_t errlen)
{
	char    path[PATH_MAX], letter[SPOOL_NAMELEN], calling[SPOOL_NAMELEN * 3];
	char    key[SPOOL_NAMELEN + 96], derr[SPOOL_ERRLEN], esc[QUEUE_REASON_MAX + 16];
	struct peeks ps;
	char  **names;
	size_t  n, i, len, llen;
	time_t  now = time(NULL);
	struct stat st;

	snprintf(path, sizeof(path), "%s/queue", spool);
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "read spool '%s': %s", path, strerror(errno));
		return -1;
	}
	/* every envelope docket at once: one read of the snapshot and the
	 * journal since it (a daemon may be writing: what is read is what
	 * was committed) */
	memset(&ps, 0, sizeof(ps));
	derr[0] = '\0';
	names = NULL;
	n = 0;
	/* the envelopes are records: without them there is no listing (an
	 * empty one would be a lie) */
	if (spool_docket_peek_all(spool, peek_one, &ps, derr, sizeof(derr)) < 0
	    || ((names = dir_names(path, &n)) == NULL && errno != 0 && errno != ENOENT)) {
		int     saved = errno;

		if (names == NULL && derr[0] == '\0')
			snprintf(derr, sizeof(derr), "read '%.300s': %s", path, strerror(saved));
		snprintf(err, errlen, "queue listing of '%s': %s", spool, derr);
		for (i = 0; i < ps.n; i++) {
			free(ps.v[i].key);
			free(ps.v[i].error);
		}
		free(ps.v);
		names_free(&ps.envf);
		errno = saved;
		return -1;
	}
	for (i = 0; i < ps.envf.n + n; i++) {
		const char *nm = i < ps.envf.n ? ps.envf.v[i] : names[i - ps.envf.n];
		int     k = kind_of(nm, &llen);
		const struct peek *pk;
		char   *text, *r, ename[SPOOL_NAMELEN + 80];
		struct qenv *e;

		if (i < ps.envf.n) {
			/* a record: its letter must be queued (not held) */
			snprintf(ename, sizeof(ename), "%.*s", (int) strcspn(nm, "\n"), nm);
			snprintf(path, sizeof(path), "%s/queue/%.*s", spool, (int) llen, nm);
			if (stat(path, &st) < 0)
				continue;
			text = xstrdup(nm + strlen(ename) + 1);
			len = strlen(text);
			nm = ename;
		} else {
			if (k != 'l' && k != 'f')
				continue;
			snprintf(path, sizeof(path), "%s/queue/%s", spool, nm);
			if ((text = durable_read_file(path, QUEUE_ENV_MAX, &len, NULL, 0)) == NULL)
				continue;
		}
		e = qenv_file_parse(text, len, letter, sizeof(letter), calling, sizeof(calling),
		    derr, sizeof(derr));
		free(text);
		if (e == NULL)
			continue;
		snprintf(key, sizeof(key), "env %s", nm);
		pk = ps.n ? bsearch(key, ps.v, ps.n, sizeof(*ps.v), peek_cmp) : NULL;
		r = qenv_rcpts_text(e);
		str_escape(esc, sizeof(esc), pk && pk->error ? pk->error : "-",
		    strlen(pk && pk->error ? pk->error : "-"));
		buf_printf(out, "%s %llds %s %s %s %s\n", letter, (long long) (now - e->first),
		    e->hop, r, pk && pk->finished ? "finishing" : pk && pk->attempts ? "deferred"
		    : "queued", esc);
		free(r);
		qenv_free(e);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	for (i = 0; i < ps.n; i++) {
		free(ps.v[i].key);
		free(ps.v[i].error);
	}
	free(ps.v);
	names_free(&ps.envf);
	list_state(spool, "in", "received", out, now);
	list_state(spool, "hold", "held", out, now);
	return 0;
}
