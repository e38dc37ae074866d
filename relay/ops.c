/*++
 * NAME
 *	ops 3
 * SUMMARY
 *	mailrelayd: operator actions on queued letters
 * SYNOPSIS
 *	#include "relay/ops.h"
 * DESCRIPTION
 *	See ops.h. Crash safety of the file moves: a letter moves first
 *	into hold/ or dead/ and last back into queue/, so a crash in
 *	between leaves envelopes in queue/ without their letter (start-up
 *	moves them after it), never a letter in queue/ without its
 *	envelopes (start-up would finish it).
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "mailchannel/route.h"
#include "relay/notices.h"
#include "relay/ops.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/router.h"
#include "relay/sched.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

/* An action in flight. */
struct op_ctx {
	struct relayd *rd;
	char	op[16];
	char	name[SPOOL_NAMELEN];
	struct qenv **envs;		/* taken out of the queue in memory */
	size_t	nenvs;
	int	released;		/* their saved state goes (delete, bounce, forward) */
	int	reload;			/* load queue/NAME_* again when ok */
	char  **files;			/* ... those files (when have_files; else queue/ */
	size_t	nfiles;			/* is read) */
	int	have_files;
	struct notice_report nr;	/* notices to route once durable */
	ops_done_fn *cb;
	void   *cb_arg;
};

static struct op_ctx *op_new(struct relayd *rd, const char *op, const char *name,
	ops_done_fn *cb, void *cb_arg)
{
	struct op_ctx *oc = xcalloc(1, sizeof(*oc));

	oc->rd = rd;
	str_copy(oc->op, op, sizeof(oc->op));
	str_copy(oc->name, name, sizeof(oc->name));
	oc->cb = cb;
	oc->cb_arg = cb_arg;
	return oc;
}

static void op_done(void *arg, int ok, const char *err)
{
	struct op_ctx *oc = arg;
	struct relayd *rd = oc->rd;

	queue_gone(rd->q, oc->envs, oc->nenvs, ok && oc->released);
	if (!ok)
		log_error("%s '%s': %s", oc->op, oc->name, err);
	else
		notices_route(rd, &oc->nr);
	if ((ok ? oc->reload : oc->nenvs > 0) && oc->have_files)
		queue_letter_reload_files(rd->q, oc->name, oc->files, oc->nfiles, 1);
	else if (ok ? oc->reload : oc->nenvs > 0)
		queue_letter_reload(rd->q, oc->name, 1);	/* what queue/ holds now */
	if (oc->cb != NULL)
		oc->cb(oc->cb_arg, ok, err);
	for (size_t i = 0; i < oc->nfiles; i++)
		free(oc->files[i]);
	free(oc->files);
	free(oc->envs);
	free(oc);
}

static int bad_name(const char *name, char *err, size_t errlen)
{
	if (!spool_name_ok(name) || strchr(name, '_') != NULL) {
		snprintf(err, errlen, "bad letter name '%.100s'", name);
		errno = EINVAL;
		return 1;
	}
	return 0;
}

/* queued - the queued letter name, not busy (what its channels held
 * without carrying is taken back); NULL with err */
static struct qletter *queued(struct relayd *rd, const char *name, char *err, size_t errlen)
{
	struct qletter *l;

	if (bad_name(name, err, errlen))
		return NULL;
	if (!spool_exists(rd->sp, SPOOL_QUEUE, name)) {
		if (spool_exists(rd->sp, SPOOL_IN, name)) {
			snprintf(err, errlen, "busy: '%s' is not routed yet, try again", name);
			errno = EBUSY;
		} else if (spool_exists(rd->sp, SPOOL_HOLD, name)) {
			snprintf(err, errlen, "'%s' is held (mailctl release it first)", name);
			errno = EPERM;
		} else {
			snprintf(err, errlen, "no letter '%s' in queue/", name);
			errno = ENOENT;
		}
		return NULL;
	}
	if ((l = queue_letter(rd->q, name)) == NULL || l->nenv <= 0) {
		snprintf(err, errlen, "busy: '%s' is leaving the queue, try again", name);
		errno = EBUSY;
		return NULL;
	}
	/* envelopes that only wait in their channel are taken back */
	if (queue_letter_take_back(rd->q, l, err, errlen)) {
		errno = EBUSY;
		return NULL;
	}
	return l;
}

struct prefix_scan {
	const char *prefix;
	char  **v;
	size_t	n;
};

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int prefix_collect(void *arg, const char *name)
{
	struct prefix_scan *ps = arg;

	if (strncmp(name, ps->prefix, strlen(ps->prefix)) != 0)
		return 0;
	ps->v = xrealloc(ps->v, sizeof(char *) * (ps->n + 1));
	ps->v[ps->n++] = xstrdup(name);
	return 0;
}

/* side_name - a name with '_' (not a letter's own file) */
static int side_name(void *arg, const char *name)
{
	(void) arg;
	return strchr(name, '_') != NULL;
}

/* ops_side_scan - see ops.h */
int ops_side_scan(struct relayd *rd, enum spool_state st, struct ops_side *side, char *err,
	size_t errlen)
{
	struct prefix_scan ps;

	memset(&ps, 0, sizeof(ps));
	ps.prefix = "";
	side->v = NULL;
	side->n = 0;
	/* the letters (most of a directory of 100,000) are passed over as
	 * it is read: read once per chunk, it is not sorted each time */
	if (spool_scan_some(rd->sp, st, side_name, prefix_collect, &ps, err, errlen) < 0) {
		side->v = ps.v;
		side->n = ps.n;
		ops_side_free(side);
		return -1;
	}
	side->v = ps.v;
	side->n = ps.n;
	side->read = 1;
	if (side->n > 1)
		qsort(side->v, side->n, sizeof(*side->v), str_ptr_cmp);
	return 0;
}

/* ops_side_free - see ops.h */
void ops_side_free(struct ops_side *side)
{
	for (size_t i = 0; i < side->n; i++)
		free(side->v[i]);
	free(side->v);
	side->v = NULL;
	side->n = 0;
	side->read = 0;
}

/* side_collect - the names of side that start with ps->prefix, into ps */
static void side_collect(const struct ops_side *side, struct prefix_scan *ps)
{
	size_t  lo = 0, hi = side->n, plen = strlen(ps->prefix);

	/* the first name not below the prefix */
	while (lo < hi) {
		size_t  mid = lo + (hi - lo) / 2;

		if (strcmp(side->v[mid], ps->prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < side->n && strncmp(side->v[lo], ps->prefix, plen) == 0; lo++)
		(void) prefix_collect(ps, side->v[lo]);
}

int ops_letter(struct relayd *rd, const char *op, const char *name, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen)
{
	return ops_letter_side(rd, op, name, NULL, user, cb, cb_arg, err, errlen);
}

int ops_letter_side(struct relayd *rd, const char *op, const char *name,
	struct ops_side *sides, const char *user, ops_done_fn *cb, void *cb_arg, char *err,
	size_t errlen)
{
	struct qletter *l = NULL;
	struct prefix_scan ps;
	struct op_ctx *oc;
	struct spool_txn *t;
	enum spool_state from, to;
	char    pre[SPOOL_NAMELEN + 2];
	const char *kv[4];
	size_t  i;

	if (bad_name(name, err, errlen))
		return -1;
	if (strcmp(op, "hold") == 0) {
		from = SPOOL_QUEUE;
		to = SPOOL_HOLD;
	} else if (strcmp(op, "release") == 0) {
		from = SPOOL_HOLD;
		to = SPOOL_QUEUE;
	} else if (strcmp(op, "delete") == 0) {
		from = spool_exists(rd->sp, SPOOL_HOLD, name) ? SPOOL_HOLD : SPOOL_QUEUE;
		to = SPOOL_DEAD;
	} else {
		snprintf(err, errlen, "unknown action '%.40s'", op);
		errno = EINVAL;
		return -1;
	}
	if (!spool_exists(rd->sp, from, name)) {
		if (spool_exists(rd->sp, SPOOL_IN, name)) {
			snprintf(err, errlen, "busy: '%s' is not routed yet, try again", name);
			errno = EBUSY;
		} else if (to == SPOOL_HOLD && spool_exists(rd->sp, SPOOL_HOLD, name)) {
			snprintf(err, errlen, "'%s' is held already", name);
			errno = EEXIST;
		} else {
			snprintf(err, errlen, "no letter '%s' in %s/", name, spool_state_name(from));
			errno = ENOENT;
		}
		return -1;
	}
	if (to == SPOOL_DEAD && spool_exists(rd->sp, SPOOL_DEAD, name)) {
		snprintf(err, errlen, "'dead/%s' exists already", name);
		errno = EEXIST;
		return -1;
	}
	if (from == SPOOL_QUEUE && (l = queued(rd, name, err, errlen)) == NULL)
		return -1;
	memset(&ps, 0, sizeof(ps));
	snprintf(pre, sizeof(pre), "%s_", name);
	ps.prefix = pre;
	if (sides != NULL && sides[from].lazy && !sides[from].read
	    && ops_side_scan(rd, from, &sides[from], err, errlen) < 0)
		return -1;
	if (sides != NULL && sides[from].read)
		side_collect(&sides[from], &ps);
	else if (spool_scan(rd->sp, from, prefix_collect, &ps, err, errlen) < 0) {
		for (i = 0; i < ps.n; i++)
			free(ps.v[i]);
		free(ps.v);
		return -1;
	}
	oc = op_new(rd, op, name, cb, cb_arg);
	oc->released = to == SPOOL_DEAD;
	oc->reload = to == SPOOL_QUEUE;
	t = spool_txn_new(rd->sp);
	if (to != SPOOL_QUEUE)
		spool_txn_move(t, name, from, to, NULL);
	/* envelopes that are files (too long for a record, or of an older
	 * version) and a channel's files go with the letter; a release
	 * reloads them from that list, and a failed hold from queue/ too */
	for (i = 0; i < ps.n; i++)
		spool_txn_move(t, ps.v[i], from, to, NULL);
	if (to == SPOOL_QUEUE || from == SPOOL_QUEUE) {
		oc->files = ps.v;
		oc->nfiles = ps.n;
		oc->have_files = 1;
	} else {
		for (i = 0; i < ps.n; i++)
			free(ps.v[i]);
		free(ps.v);
	}
	/* records stay with a held letter; nothing will send a dead one */
	if (to == SPOOL_DEAD)
		queue_letter_drop_records(rd->q, t, name);
	if (to == SPOOL_QUEUE)
		spool_txn_move(t, name, from, to, NULL);
	kv[0] = "reason";
	kv[1] = "deleted by operator";
	kv[2] = "by";
	kv[3] = user;
	if (to == SPOOL_DEAD)
		spool_txn_journal(t, "dead", name, kv, 2);
	else
		spool_txn_journal(t, to == SPOOL_HOLD ? "held" : "released", name, kv + 2, 1);
	/* out of the queue in memory now: nothing starts them meanwhile */
	if (l != NULL)
		queue_letter_take(rd->q, l, NULL, &oc->envs, &oc->nenvs);
	spool_txn_submit(t, op_done, oc);
	return 0;
}

int ops_bounce(struct relayd *rd, const char *name, const char *reason, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen)
{
	struct qletter *l;
	struct qenv *e;
	struct failset fs;
	struct spool_txn *t;
	struct op_ctx *oc;
	const char *to = NULL;
	char    dr[NOTICES_DEAD_MAX];
	size_t  i;
	int     dead;

	if (reason == NULL || *reason == '\0')
		reason = "returned by operator";
	if ((l = queued(rd, name, err, errlen)) == NULL)
		return -1;
	memset(&fs, 0, sizeof(fs));
	for (e = l->envs; e != NULL; e = e->lnext) {
		for (i = 0; i < e->nrcpts; i++)
			if (!e->rcpts[i].done)
				failset_add_rcpt(&fs, &e->rcpts[i], reason, 0);
		to = to == NULL ? e->hop : "-";
	}
	oc = op_new(rd, "bounce", name, cb, cb_arg);
	oc->released = 1;
	t = spool_txn_new(rd->sp);
	oc->nr.letter = oc->name;
	oc->nr.state = SPOOL_QUEUE;
	oc->nr.to_hop = to ? to : "-";
	oc->nr.calling = l->calling ? l->calling : "";
	oc->nr.by = user;
	notices_report(rd, t, &oc->nr, &fs);
	oc->nr.by = NULL;
	oc->nr.calling = "";
	failset_free(&fs);
	dead = oc->nr.dead || l->dead;
	str_copy(dr, oc->nr.dead ? oc->nr.dead_reason : l->dead_reason ? l->dead_reason
	    : "undeliverable", sizeof(dr));
	/* the envelopes go first, the letter last (l is forgotten here) */
	queue_letter_take(rd->q, l, t, &oc->envs, &oc->nenvs);
	queue_letter_end_ops(rd->q, t, name, dead, dr);
	spool_txn_submit(t, op_done, oc);
	return 0;
}

int ops_forward(struct relayd *rd, const char *name, const char *address, const char *user,
	ops_done_fn *cb, void *cb_arg, char *err, size_t errlen)
{
	struct qletter *l;
	struct qenv *e, **ne = NULL;
	struct route_result *res = NULL;
	struct spool_txn *t;
	struct op_ctx *oc;
	struct letter *lt;
	struct addr *a;
	struct journal_list old, hops;
	char    aerr[ADDR_ERRLEN], lerr[LETTER_ERRLEN], path[PATH_MAX];
	const char *kv[8];
	unsigned via = 0;
	size_t  i, j, nn = 0;
	int     rc = -1, fd;

	if ((l = queued(rd, name, err, errlen)) == NULL)
		return -1;
	if ((a = addr_parse(address, strlen(address), aerr, sizeof(aerr))) == NULL) {
		snprintf(err, errlen, "bad address '%.200s': %s", address, aerr);
		return -1;
	}
	journal_list_init(&old);
	journal_list_init(&hops);
	if (spool_path(rd->sp, SPOOL_QUEUE, name, path, sizeof(path)) != NULL
	    && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		if ((lt = letter_open_fd(fd, NULL, lerr, sizeof(lerr))) != NULL) {
			via = (unsigned) hdr_via_count(letter_hdr(lt));
			letter_free(lt);
		}
		close(fd);
	}
	res = route_resolve(rd->conf->routes, a, via);
	for (i = 0; i < route_result_count(res); i++) {
		const struct route_target *tg = route_result_get(res, i);

		if (tg->kind == ROUTE_FAIL) {
			snprintf(err, errlen, "'%.200s': %s", address, tg->reason ? tg->reason
			    : "fails");
			goto out;
		}
	}
	router_envelopes(name, &res, 1, &ne, &nn);
	if (nn == 0) {
		snprintf(err, errlen, "'%.200s' routes nowhere", address);
		goto out;
	}
	for (i = 0; i < nn; i++)
		if (queue_env_exists(rd->q, ne[i]->name)) {
			snprintf(err, errlen, "'%.200s' goes to next hop %s, which the letter's copy "
			    "'%s' already waits for (mailctl reroute changes a hop's route)",
			    address, ne[i]->hop, ne[i]->name);
			goto out;
		}
	for (e = queue_first(rd->q); e != NULL; e = queue_next(e))
		if (e->l == l)
			for (j = 0; j < e->nrcpts; j++)
				if (!e->rcpts[j].done)
					journal_list_add(&old, e->rcpts[j].orig);
	t = spool_txn_new(rd->sp);
	/* new envelopes first, the old ones removed last: a crash in the
	 * middle leaves more envelopes, never a letter without any */
	for (i = 0; i < nn; i++) {
		if (queue_env_commit(rd->q, t, ne[i], l->calling) < 0) {
			spool_txn_abort(t);
			snprintf(err, errlen, "could not write the envelope '%s'", ne[i]->name);
			goto out;
		}
		journal_list_add(&hops, ne[i]->hop);
	}
	kv[0] = "to";
	kv[1] = address;
	kv[2] = "rcpts";
	kv[3] = old.n + old.more > 0 ? journal_list_text(&old) : "-";
	kv[4] = "hops";
	kv[5] = journal_list_text(&hops);
	kv[6] = "by";
	kv[7] = user;
	spool_txn_journal(t, "forwarded-by-operator", name, kv, 4);
	oc = op_new(rd, "forward", name, cb, cb_arg);
	oc->released = 1;
	oc->reload = 1;
	queue_letter_take(rd->q, l, t, &oc->envs, &oc->nenvs);
	spool_txn_submit(t, op_done, oc);
	rc = 0;
out:
	for (i = 0; i < nn; i++)
		qenv_free(ne[i]);
	free(ne);
	route_result_free(res);
	addr_free(a);
	journal_list_release(&old);
	journal_list_release(&hops);
	return rc;
}
