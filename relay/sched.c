/*++
 * NAME
 *	sched 3
 * SUMMARY
 *	mailrelayd: the scheduler
 * SYNOPSIS
 *	#include "relay/sched.h"
 * DESCRIPTION
 *	See sched.h.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/pickup.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/sched.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"

struct sched {
	struct relayd *rd;
	struct qenvq soon;		/* envelopes to look at now */
	uint64_t timer;			/* the next full pass */
	int	timer_soon;		/* it was asked for (sched_poke) */
	int64_t	last_full;		/* last full pass (loop ms) */
	uint64_t soon_timer;
	int	started;
};

static void sched_tick(struct loop *loop, void *arg);
static void soon_tick(struct loop *loop, void *arg);

struct sched *sched_new(struct relayd *rd)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->rd = rd;
	return s;
}

void sched_start(struct sched *s)
{
	s->started = 1;
	sched_poke(s);
}

void sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	while (s->soon.head != NULL)
		qenvq_del(s->soon.head);
	if (s->timer)
		loop_timer_del(s->rd->loop, s->timer);
	if (s->soon_timer)
		loop_timer_del(s->rd->loop, s->soon_timer);
	free(s);
}

void sched_poke(struct sched *s)
{
	int64_t delay;

	if (!s->started)
		return;
	if (s->timer != 0 && s->timer_soon)
		return;
	if (s->timer != 0)
		loop_timer_del(s->rd->loop, s->timer);
	delay = s->last_full + SCHED_MIN_MS - loop_now_ms();
	s->timer_soon = 1;
	s->timer = loop_timer_add(s->rd->loop, delay > 0 ? delay : 0, sched_tick, s);
}

void sched_kick(struct sched *s, struct qenv *e)
{
	if (!s->started)
		return;
	qenvq_add(&s->soon, e);
	if (s->soon_timer == 0)
		s->soon_timer = loop_timer_add(s->rd->loop, 0, soon_tick, s);
}

/* consider - remove e if finished, give up, warn, start it when due */
static void consider(struct sched *s, struct qenv *e, time_t now)
{
	struct relayd *rd = s->rd;
	char    err[RELAYD_ERRLEN];
	int     passive;

	if (e->state == QENV_FINISHED && e->saving == 0) {
		queue_env_remove(rd->q, e);
		return;
	}
	if (qenv_busy(e) || rd->stopping)
		return;
	passive = !e->local && queue_env_passive(rd->q, e);
	if (rd->conf->give_up_ms > 0
	    && (int64_t) (now - e->first) * 1000 >= rd->conf->give_up_ms) {
		char    why[QUEUE_REASON_MAX + 64];

		if (passive)
			snprintf(why, sizeof(why), "gave up: %.200s did not call for it (pull)",
			    e->hop);
		else
			snprintf(why, sizeof(why), "gave up after %u attempts%s%s", e->attempts,
			    e->error ? ": " : "", qenv_error(e));
		queue_give_up(rd->q, e, why);
		return;
	}
	if (!e->warned && (e->attempts > 0 || passive) && rd->conf->warn_ms > 0
	    && (int64_t) (now - e->first) * 1000 >= rd->conf->warn_ms) {
		queue_warn(rd->q, e);
		return;		/* looked at again when its save is done */
	}
	if (e->next_try > now)
		return;
	if (queue_env_start(rd->q, e, err, sizeof(err)) < 0) {
		struct qresult r;

		/* defer it like a failed try: counted, backed off, journalled */
		memset(&r, 0, sizeof(r));
		r.all = QOUT_DEFER;
		r.reason = err;
		qenvq_del(e);
		e->state = QENV_ACTIVE;
		queue_result(rd->q, e, &r);
	}
}

static void soon_tick(struct loop *loop, void *arg)
{
	struct sched *s = arg;
	struct qenv *e;
	size_t  n = s->soon.n;
	time_t  now = time(NULL);

	(void) loop;
	s->soon_timer = 0;
	while (n-- > 0 && (e = s->soon.head) != NULL) {
		qenvq_del(e);
		consider(s, e, now);
	}
}

static void sched_tick(struct loop *loop, void *arg)
{
	struct sched *s = arg;
	struct relayd *rd = s->rd;
	struct qenv *e, *next;
	time_t  now = time(NULL);

	(void) loop;
	s->timer = 0;
	s->timer_soon = 0;
	s->last_full = loop_now_ms();
	for (e = queue_first(rd->q); e != NULL; e = next) {
		next = queue_next(e);
		consider(s, e, now);
	}
	if (!rd->stopping && rd->pickup != NULL)
		pickup_tick(rd->pickup);
	s->timer = loop_timer_add(rd->loop, SCHED_MS, sched_tick, s);
}

int sched_retry_match(const struct qenv *e, const char *what)
{
	if (e->l == NULL)
		return 0;
	if (what == NULL)
		return 1;
	if (strncmp(what, "hop:", 4) == 0)
		return e->hop != NULL && str_ieq(e->hop, what + 4);
	return strcmp(e->l->name, what) == 0 || strcmp(e->name, what) == 0;
}

int sched_retry(struct sched *s, const char *what)
{
	struct qenv *e;
	int     n = 0;

	for (e = queue_first(s->rd->q); e != NULL; e = queue_next(e))
		if (sched_retry_match(e, what)) {
			e->next_try = 0;
			n++;
		}
	sched_poke(s);
	return n;
}
