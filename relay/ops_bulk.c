/*++
 * NAME
 *	ops_bulk 3
 * SUMMARY
 *	mailrelayd: an operator action on many letters
 * SYNOPSIS
 *	#include "relay/ops_bulk.h"
 * DESCRIPTION
 *	See ops_bulk.h. The action lives until its last letter's
 *	transaction is over, even when it was cancelled (the transactions'
 *	callbacks point at it): cancelled only means that nobody hears the
 *	result and that no further chunk starts.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/ctl_proto.h"
#include "relay/ops.h"
#include "relay/ops_bulk.h"
#include "relay/qenv.h"
#include "relay/qlist.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/sched.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loop.h"

#define OPS_BULK_LINES_MAX (256 * 1024 * 1024)	/* the result's lines */
#define OPS_BULK_SLICE_MS 100			/* a turn's actions stop starting after
						 * this (the directory reads aside) */
#define OPS_BULK_REASON	600			/* octets of a reason shown */

struct bulk_item {
	struct ops_bulk *b;
	size_t	i;			/* index in b->names */
};

struct ops_bulk {
	struct relayd *rd;
	enum ops_bulk_op op;
	char   *user;
	char   *reason;			/* bounce's, or NULL */
	char   *hop;			/* retry: only these next hops (NULL: all) */
	struct ctl_sel sel;		/* ALL: the selection (its strings: to, from, hop) */
	char   *to, *from;
	char  **names;
	size_t	n;
	struct bulk_item *items;
	size_t	next;			/* the first name not yet started */
	size_t	inflight;		/* actions whose callback is to come */
	size_t	changed;
	int	all;			/* names from a selection: vanished is "gone" */
	int	cancelled;
	int	ended;			/* done was called (or cancelled and told) */
	uint64_t timer;			/* the next chunk's turn */
	struct qlist_job *job;		/* ALL with --to or --from: the reading */
	struct buf lines;
	ops_bulk_done_fn *done;
	void   *arg;
};

static const char *const op_verbs[] = {
	[OPS_HOLD] = "hold",
	[OPS_RELEASE] = "release",
	[OPS_DELETE] = "delete",
	[OPS_BOUNCE] = "bounce",
	[OPS_RETRY] = "retry",
};

static void bulk_arm(struct ops_bulk *b);

static void bulk_free(struct ops_bulk *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->names[i]);
	free(b->names);
	free(b->items);
	free(b->user);
	free(b->reason);
	free(b->hop);
	free(b->to);
	free(b->from);
	buf_release(&b->lines);
	free(b);
}

/* bulk_line - one line of the result: KIND NAME REASON */
static void bulk_line(struct ops_bulk *b, const char *kind, const char *name, const char *why)
{
	char    esc[OPS_BULK_REASON];

	ctl_proto_esc(esc, sizeof(esc), why ? why : "failed", strlen(why ? why : "failed"));
	(void) buf_printf(&b->lines, "%s %s %s\n", kind, name, esc);
}

/* bulk_fail - letter i was not changed: err, errno e */
static void bulk_fail(struct ops_bulk *b, size_t i, int e, const char *err)
{
	if (e == ENOENT)
		bulk_line(b, b->all ? "gone" : "missing", b->names[i], err);
	else
		bulk_line(b, "failed", b->names[i], err);
}

/* bulk_end - every letter had its turn: the result, then the action goes
 * (once its last callback came) */
static void bulk_end(struct ops_bulk *b)
{
	if (!b->ended) {
		b->ended = 1;
		if (!b->cancelled)
			b->done(b->arg, b->changed, b->lines.len ? &b->lines : NULL);
	}
	if (b->inflight == 0 && b->timer == 0 && b->job == NULL)
		bulk_free(b);
}

static void bulk_one_done(void *arg, int ok, const char *err)
{
	struct bulk_item *it = arg;
	struct ops_bulk *b = it->b;

	b->inflight--;
	if (ok)
		b->changed++;
	else
		bulk_line(b, "failed", b->names[it->i], err);
	if (b->inflight > 0)
		return;
	if (b->next < b->n && !b->cancelled)
		bulk_arm(b);
	else
		bulk_end(b);
}

/* retry_one - make due the envelopes of name (a letter, or one of its
 * envelopes), within the --hop list; journalled in t. 0, or -1 with err
 * and errno */
static int retry_one(struct ops_bulk *b, const char *name, struct spool_txn *t, char *err,
	size_t errlen)
{
	struct relayd *rd = b->rd;
	char    lname[SPOOL_NAMELEN];
	const char *kv[2] = { "by", b->user };
	struct qletter *l;
	struct qenv *e;
	size_t  len = strcspn(name, "_");
	int     n = 0;

	snprintf(lname, sizeof(lname), "%.*s", (int) len, name);
	if ((l = queue_letter(rd->q, lname)) == NULL) {
		if (spool_exists(rd->sp, SPOOL_HOLD, lname)) {
			snprintf(err, errlen, "'%s' is held (mailctl release it first)", lname);
			errno = EPERM;
		} else if (spool_exists(rd->sp, SPOOL_IN, lname)) {
			snprintf(err, errlen, "busy: '%s' is not routed yet, try again", lname);
			errno = EBUSY;
		} else {
			snprintf(err, errlen, "no letter '%s' in queue/", name);
			errno = ENOENT;
		}
		return -1;
	}
	for (e = l->envs; e != NULL; e = e->lnext) {
		if ((name[len] != '\0' && strcmp(e->name, name) != 0)
		    || (b->hop != NULL && !ctl_sel_hop(&b->sel, e->hop)))
			continue;
		e->next_try = 0;
		sched_kick(rd->sched, e);
		n++;
	}
	if (n == 0) {
		if (name[len] != '\0') {
			snprintf(err, errlen, "no envelope '%s' in queue/", name);
			errno = ENOENT;
		} else if (b->hop != NULL) {
			snprintf(err, errlen, "'%s' waits for no next hop %s", name, b->hop);
			errno = ENOENT;
		} else {
			snprintf(err, errlen, "busy: '%s' is leaving the queue, try again", name);
			errno = EBUSY;
		}
		return -1;
	}
	spool_txn_journal(t, "retry", lname, kv, 1);
	return 0;
}

/* bulk_pump - the next chunk */
static void bulk_pump(struct loop *loop, void *arg)
{
	struct ops_bulk *b = arg;
	struct relayd *rd = b->rd;
	struct ops_side sides[SPOOL_NSTATES];
	struct spool_txn *t = NULL;
	char    err[RELAYD_ERRLEN];
	size_t  end, i;
	int64_t t1 = 0;
	int     r;

	(void) loop;
	b->timer = 0;
	if (b->cancelled) {
		bulk_end(b);
		return;
	}
	memset(sides, 0, sizeof(sides));
	/* the directories this chunk's actions leave, read once for all, by
	 * the first action that gets that far */
	sides[SPOOL_QUEUE].lazy = sides[SPOOL_HOLD].lazy = 1;
	end = b->next + OPS_BULK_CHUNK < b->n ? b->next + OPS_BULK_CHUNK : b->n;
	b->inflight++;			/* no end while the chunk starts */
	for (i = b->next; i < end; i++) {
		struct bulk_item *it = &b->items[i];

		/* the loop has other work: a slice of time per turn, measured
		 * from the end of the first action (which reads the chunk's
		 * directory, a one-off cost) */
		if (i == b->next + 1)
			t1 = loop_now_ms();
		else if (i > b->next + 1 && loop_now_ms() - t1 > OPS_BULK_SLICE_MS)
			break;
		err[0] = '\0';
		errno = 0;
		if (rd->stopping) {
			bulk_line(b, "failed", b->names[i], CTL_ERR_STOPPING);
			continue;
		}
		switch (b->op) {
		case OPS_RETRY:
			if (t == NULL)
				t = spool_txn_new(rd->sp);
			if ((r = retry_one(b, b->names[i], t, err, sizeof(err))) == 0)
				b->changed++;
			else
				bulk_fail(b, i, errno, err);
			continue;
		case OPS_BOUNCE:
			b->inflight++;
			r = ops_bounce(rd, b->names[i], b->reason, b->user, bulk_one_done, it, err,
			    sizeof(err));
			break;
		default:
			b->inflight++;
			r = ops_letter_side(rd, op_verbs[b->op], b->names[i], sides, b->user,
			    bulk_one_done, it, err, sizeof(err));
			break;
		}
		if (r < 0) {
			b->inflight--;
			bulk_fail(b, i, errno, err);
		}
	}
	b->next = i;
	if (t != NULL)
		spool_txn_submit(t, NULL, NULL);
	if (b->op == OPS_RETRY)
		sched_poke(rd->sched);
	for (i = 0; i < SPOOL_NSTATES; i++)
		ops_side_free(&sides[i]);
	b->inflight--;
	if (b->inflight > 0)
		return;			/* the last callback goes on */
	if (b->next < b->n)
		bulk_arm(b);
	else
		bulk_end(b);
}

/* bulk_arm - the next chunk at the loop's next turn */
static void bulk_arm(struct ops_bulk *b)
{
	if (b->timer == 0)
		b->timer = loop_timer_add(b->rd->loop, 0, bulk_pump, b);
}

/* op_states - the states ALL takes for op */
static unsigned op_states(enum ops_bulk_op op)
{
	unsigned q = 1u << CTL_ST_QUEUED | 1u << CTL_ST_DEFERRED;

	switch (op) {
	case OPS_RELEASE:
		return 1u << CTL_ST_HELD;
	case OPS_DELETE:
		return q | 1u << CTL_ST_ACTIVE | 1u << CTL_ST_HELD;
	default:
		return q | 1u << CTL_ST_ACTIVE;
	}
}

/* bulk_take - the names of the letters ql selected */
static void bulk_take(struct ops_bulk *b, const struct qlist *ql)
{
	size_t  i, n = qlist_count(ql);

	b->names = xcalloc(n ? n : 1, sizeof(*b->names));
	for (i = 0; i < ql->n; i++)
		if (!ql->v[i].dropped)
			b->names[b->n++] = xstrdup(ql->v[i].name);
	b->items = xcalloc(b->n ? b->n : 1, sizeof(*b->items));
	for (i = 0; i < b->n; i++) {
		b->items[i].b = b;
		b->items[i].i = i;
	}
}

/* bulk_selected - the worker read what --to or --from needed */
static void bulk_selected(void *arg, struct qlist *ql, struct buf *out, const char *err)
{
	struct ops_bulk *b = arg;

	(void) out;
	b->job = NULL;
	if (ql == NULL) {
		bulk_line(b, "failed", "-", err);
		bulk_end(b);
		return;
	}
	bulk_take(b, ql);
	qlist_free(ql);
	bulk_arm(b);
}

struct ops_bulk *ops_bulk_start(struct relayd *rd, enum ops_bulk_op op,
	const struct ctl_sel *sel, const char *user, ops_bulk_done_fn *done, void *arg)
{
	struct ops_bulk *b = xcalloc(1, sizeof(*b));
	struct qlist *ql;
	size_t  i;

	b->rd = rd;
	b->op = op;
	b->user = xstrdup(user);
	b->done = done;
	b->arg = arg;
	b->reason = sel->reason ? xstrdup(sel->reason) : NULL;
	buf_init(&b->lines, OPS_BULK_LINES_MAX);
	/* the selection's strings are the request's: copies of our own */
	b->sel.older = sel->older;
	b->sel.states = (sel->states ? sel->states : ~0u) & op_states(op);
	b->sel.all = sel->all;
	b->sel.to = b->to = sel->to ? xstrdup(sel->to) : NULL;
	b->sel.from = b->from = sel->from ? xstrdup(sel->from) : NULL;
	b->sel.hop = b->hop = sel->hop ? xstrdup(sel->hop) : NULL;
	if (!sel->all) {
		b->names = xcalloc(sel->nnames ? sel->nnames : 1, sizeof(*b->names));
		b->items = xcalloc(sel->nnames ? sel->nnames : 1, sizeof(*b->items));
		for (i = 0; i < sel->nnames; i++) {
			b->names[i] = xstrdup(sel->names[i]);
			b->items[i].b = b;
			b->items[i].i = i;
		}
		b->n = sel->nnames;
		bulk_arm(b);
		return b;
	}
	b->all = 1;
	if (sel->to != NULL || sel->from != NULL) {
		b->job = qlist_start(rd, &b->sel, QLIST_NAMES, bulk_selected, b);
		return b;
	}
	ql = qlist_from_queue(rd, &b->sel);
	bulk_take(b, ql);
	qlist_free(ql);
	bulk_arm(b);
	return b;
}

void ops_bulk_cancel(struct ops_bulk *b)
{
	if (b == NULL)
		return;
	b->cancelled = 1;
	if (b->job != NULL) {
		qlist_cancel(b->job);
		b->job = NULL;
	}
	if (b->timer != 0) {
		loop_timer_del(b->rd->loop, b->timer);
		b->timer = 0;
	}
	/* an action that ended, or whose chunk is over, goes now; one with
	 * transactions in flight when their last callback comes */
	if (b->inflight == 0) {
		b->ended = 1;
		bulk_free(b);
	}
}
