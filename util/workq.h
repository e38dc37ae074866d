/*++
 * NAME
 *	workq 3h
 * SUMMARY
 *	a small pool of worker threads for blocking work (fsync, rename)
 * SYNOPSIS
 *	#include "util/workq.h"
 * DESCRIPTION
 *	The event loop never blocks on fsync (DESIGN section 6, group
 *	commit). workq_submit() queues work(arg) to run on a worker
 *	thread; when it has returned, done(arg) runs on the loop thread
 *	(through loop_post). Work items share nothing but arg; work()
 *	must not touch the loop or any loop-thread object.
 *
 *	workq_free() waits for queued and running work to finish and
 *	then runs no more done() callbacks.
 *--*/
#ifndef UTIL_WORKQ_H
#define UTIL_WORKQ_H

struct loop;
struct workq;

typedef void workq_fn(void *arg);

/* workq_new - start nthreads workers (1..64) reporting to loop */
struct workq *workq_new(struct loop *loop, int nthreads);
/* workq_submit - queue work; done runs later on the loop thread (may be NULL) */
void workq_submit(struct workq *wq, workq_fn *work, workq_fn *done, void *arg);
/* workq_pending - items queued or running whose done() has not yet run */
int  workq_pending(const struct workq *wq);
/* workq_free - drain and stop the workers */
void workq_free(struct workq *wq);

#endif
