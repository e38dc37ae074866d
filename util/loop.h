/*++
 * NAME
 *	loop 3h
 * SUMMARY
 *	a small single-threaded event loop (file descriptors and timers)
 * SYNOPSIS
 *	#include "util/loop.h"
 * DESCRIPTION
 *	Modelled on Redis's ae: file events (readable/writable) on
 *	descriptors, one-shot timers in milliseconds of CLOCK_MONOTONIC,
 *	and a wakeup for other threads (loop_post). Backend: epoll.
 *
 *	Callbacks run on the loop thread only. A callback may add or remove
 *	any event, including its own, and may free the object behind arg
 *	after removing that object's events: the loop never touches an
 *	event again once loop_fd_del() or loop_timer_del() returned.
 *
 *	loop_post() is the only function that may be called from another
 *	thread: it queues fn(arg) to run on the loop thread soon (used by
 *	util/workq.h to report completed fsyncs).
 *--*/
#ifndef UTIL_LOOP_H
#define UTIL_LOOP_H

#include <stdint.h>

struct loop;

#define LOOP_READ	1
#define LOOP_WRITE	2

typedef void loop_fd_fn(struct loop *loop, int fd, int mask, void *arg);
typedef void loop_timer_fn(struct loop *loop, void *arg);
typedef void loop_post_fn(void *arg);

/* loop_new - create a loop; NULL with errno on failure */
struct loop *loop_new(void);
/* loop_free - free the loop; registered events are simply forgotten */
void loop_free(struct loop *loop);

/* loop_fd_set - watch fd for mask (LOOP_READ|LOOP_WRITE, 0 = watch nothing
 * but stay registered); replaces an earlier fn/arg/mask. 0 or -1 (errno). */
int  loop_fd_set(struct loop *loop, int fd, int mask, loop_fd_fn *fn, void *arg);
/* loop_fd_mask - change only the mask of a registered fd */
int  loop_fd_mask(struct loop *loop, int fd, int mask);
/* loop_fd_del - stop watching fd (does not close it); no-op if unknown */
void loop_fd_del(struct loop *loop, int fd);

/* loop_timer_add - call fn(arg) once after ms milliseconds; returns an id > 0 */
uint64_t loop_timer_add(struct loop *loop, int64_t ms, loop_timer_fn *fn, void *arg);
/* loop_timer_del - cancel a pending timer; no-op for 0, fired or unknown ids */
void loop_timer_del(struct loop *loop, uint64_t id);

/* loop_post - thread-safe: run fn(arg) on the loop thread soon */
void loop_post(struct loop *loop, loop_post_fn *fn, void *arg);

/* loop_run - dispatch events until loop_stop(); 0, or -1 on epoll failure */
int  loop_run(struct loop *loop);
/* loop_run_once - wait at most timeout_ms (-1 = until an event), dispatch
 * what is ready, return the number of callbacks run or -1 */
int  loop_run_once(struct loop *loop, int timeout_ms);
/* loop_stop - make loop_run() return after the current callback */
void loop_stop(struct loop *loop);

/* loop_now_ms - CLOCK_MONOTONIC in milliseconds */
int64_t loop_now_ms(void);

#endif
