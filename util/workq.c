/*++
 * NAME
 *	workq 3
 * SUMMARY
 *	a small pool of worker threads for blocking work (fsync, rename)
 * SYNOPSIS
 *	#include "util/workq.h"
 * DESCRIPTION
 *	Items wait in a FIFO under a mutex and condition variable; a
 *	worker runs work(arg) and hands the item to the loop thread with
 *	loop_post(), where done(arg) runs and the item is freed.
 *
 *	workq_free() may return while completions are still posted to the
 *	loop. Those must not call done() and must not touch freed memory,
 *	so the workq is reference counted: one reference for the owner and
 *	one for each item in flight. workq_free() marks the queue dead,
 *	joins the workers and drops the owner's reference; the last posted
 *	completion frees the structure. Posted completions still pending
 *	when the loop itself is freed are lost with it (and so is the
 *	workq): drain the loop first.
 *--*/
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/workq.h"

#define WORKQ_MAX_THREADS	64

struct workq_item {
	workq_fn *work;
	workq_fn *done;
	void   *arg;
	struct workq *wq;
	struct workq_item *next;
};

struct workq {
	struct loop *loop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct workq_item *head;
	struct workq_item *tail;
	int	stopping;
	int	nthreads;
	pthread_t threads[WORKQ_MAX_THREADS];
	atomic_int pending;		/* submitted, done() not yet run */
	atomic_int refs;		/* owner + completions in flight */
	atomic_int dead;		/* workq_free() called */
};

/* workq_unref - drop a reference; the last one frees */
static void workq_unref(struct workq *wq)
{
	if (atomic_fetch_sub(&wq->refs, 1) == 1) {
		pthread_mutex_destroy(&wq->lock);
		pthread_cond_destroy(&wq->cond);
		free(wq);
	}
}

/* workq_complete - loop thread: run done() unless the workq was freed */
static void workq_complete(void *arg)
{
	struct workq_item *it = arg;
	struct workq *wq = it->wq;

	if (!atomic_load(&wq->dead)) {
		if (it->done)
			it->done(it->arg);
		atomic_fetch_sub(&wq->pending, 1);
	}
	free(it);
	workq_unref(wq);
}

/* workq_main - worker thread */
static void *workq_main(void *arg)
{
	struct workq *wq = arg;
	struct workq_item *it;

	for (;;) {
		pthread_mutex_lock(&wq->lock);
		while (wq->head == NULL && !wq->stopping)
			pthread_cond_wait(&wq->cond, &wq->lock);
		if ((it = wq->head) == NULL) {	/* stopping and drained */
			pthread_mutex_unlock(&wq->lock);
			return NULL;
		}
		wq->head = it->next;
		if (wq->head == NULL)
			wq->tail = NULL;
		pthread_mutex_unlock(&wq->lock);

		it->work(it->arg);
		atomic_fetch_add(&wq->refs, 1);
		loop_post(wq->loop, workq_complete, it);
	}
}

/* workq_new - start nthreads workers (1..64) reporting to loop */
struct workq *workq_new(struct loop *loop, int nthreads)
{
	struct workq *wq;
	int     i, err;

	if (nthreads < 1 || nthreads > WORKQ_MAX_THREADS)
		log_panic("workq_new: %d threads, want 1..%d", nthreads,
		    WORKQ_MAX_THREADS);
	wq = xcalloc(1, sizeof(*wq));
	wq->loop = loop;
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->cond, NULL);
	atomic_init(&wq->pending, 0);
	atomic_init(&wq->refs, 1);
	atomic_init(&wq->dead, 0);
	for (i = 0; i < nthreads; i++) {
		if ((err = pthread_create(&wq->threads[i], NULL, workq_main, wq)) != 0)
			log_panic("workq_new: pthread_create: %s", strerror(err));
		wq->nthreads++;
	}
	return wq;
}

/* workq_submit - queue work; done runs later on the loop thread (may be NULL) */
void workq_submit(struct workq *wq, workq_fn *work, workq_fn *done, void *arg)
{
	struct workq_item *it = xmalloc(sizeof(*it));

	PANIC_IF(work == NULL);
	it->work = work;
	it->done = done;
	it->arg = arg;
	it->wq = wq;
	it->next = NULL;
	atomic_fetch_add(&wq->pending, 1);
	pthread_mutex_lock(&wq->lock);
	PANIC_IF(wq->stopping);
	if (wq->tail)
		wq->tail->next = it;
	else
		wq->head = it;
	wq->tail = it;
	pthread_cond_signal(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
}

/* workq_pending - items queued or running whose done() has not yet run */
int workq_pending(const struct workq *wq)
{
	return atomic_load(&((struct workq *) wq)->pending);
}

/* workq_free - drain and stop the workers */
void workq_free(struct workq *wq)
{
	int     i;

	if (wq == NULL)
		return;
	pthread_mutex_lock(&wq->lock);
	wq->stopping = 1;
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
	for (i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);
	atomic_store(&wq->dead, 1);
	workq_unref(wq);
}
