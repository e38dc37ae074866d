/*++
 * NAME
 *	loop 3
 * SUMMARY
 *	a small single-threaded event loop (file descriptors and timers)
 * SYNOPSIS
 *	#include "util/loop.h"
 * DESCRIPTION
 *	File events live in an array indexed by descriptor. Each
 *	registration carries a generation number that is also stored in
 *	the epoll event data; a ready event whose generation no longer
 *	matches (the fd was deleted, perhaps closed and its number reused
 *	by a callback earlier in the same batch) is dropped. That is how
 *	the loop keeps its promise never to touch an event after its
 *	loop_fd_del().
 *
 *	Timers live in slots (reused through a free list) ordered by a
 *	binary min-heap on (deadline, sequence), so timers with equal
 *	deadlines fire in the order they were added; add, delete and fire
 *	are O(log n). A timer id is (slot generation << 32 | slot), so a
 *	stale id (fired or deleted timer, slot reused) never cancels
 *	somebody else's timer. A slot is released before its callback
 *	runs: the callback may add timers (the arrays may move) or delete
 *	its own id (a no-op).
 *
 *	loop_post() appends to a mutex-protected list and writes an
 *	eventfd at most once until the loop drains the list.
 *
 *	Order within one loop_run_once(): ready descriptors, posted
 *	functions, due timers. Timers added by a timer callback are not
 *	run in the same pass, so a zero-delay timer that re-arms itself
 *	cannot starve descriptors.
 *--*/
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/loop.h"

#define LOOP_MAX_EVENTS	256
#define LOOP_POST_TAG	UINT64_MAX	/* epoll data of the eventfd */

struct loop_fd {
	loop_fd_fn *fn;
	void   *arg;
	int	mask;
	uint32_t gen;
	unsigned char used;	/* registered */
	unsigned char in_epoll;	/* known to epoll (mask != 0) */
};

struct loop_timer {
	int64_t	when;
	uint64_t seq;
	loop_timer_fn *fn;
	void   *arg;
	uint32_t gen;
	int32_t	heap;		/* index in heap, -1 when free */
	uint32_t next_free;
};

struct loop_post_item {
	loop_post_fn *fn;
	void   *arg;
	struct loop_post_item *next;
};

struct loop {
	int	epfd;
	int	evfd;
	int	stop;
	struct loop_fd *fds;
	int	nfds;

	struct loop_timer *ts;	/* timer slots */
	uint32_t nts;
	uint32_t free_ts;	/* head of free list, UINT32_MAX = none */
	uint32_t *heap;		/* slot numbers */
	size_t	nheap;
	uint64_t seq;

	pthread_mutex_t post_lock;
	struct loop_post_item *post_head;
	struct loop_post_item *post_tail;
	int	post_signalled;

	struct epoll_event ev[LOOP_MAX_EVENTS];
};

/* loop_now_ms - CLOCK_MONOTONIC in milliseconds */
int64_t loop_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("clock_gettime CLOCK_MONOTONIC: %s", strerror(errno));
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* loop_new - create a loop; NULL with errno on failure */
struct loop *loop_new(void)
{
	struct epoll_event ev;
	struct loop *loop;
	int     saved;

	loop = xcalloc(1, sizeof(*loop));
	loop->evfd = -1;
	loop->free_ts = UINT32_MAX;
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto fail;
	if ((loop->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = LOOP_POST_TAG;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->evfd, &ev) < 0)
		goto fail;
	pthread_mutex_init(&loop->post_lock, NULL);
	return loop;

fail:
	saved = errno;
	if (loop->evfd >= 0)
		close(loop->evfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop);
	errno = saved;
	return NULL;
}

/* loop_free - free the loop; registered events are simply forgotten */
void loop_free(struct loop *loop)
{
	struct loop_post_item *p, *next;

	if (loop == NULL)
		return;
	for (p = loop->post_head; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	pthread_mutex_destroy(&loop->post_lock);
	close(loop->evfd);
	close(loop->epfd);
	free(loop->fds);
	free(loop->ts);
	free(loop->heap);
	free(loop);
}

/* loop_epoll_sync - make epoll's view of fd match its mask */
static int loop_epoll_sync(struct loop *loop, int fd)
{
	struct loop_fd *f = &loop->fds[fd];
	struct epoll_event ev;
	int     op;

	if (f->mask == 0) {
		if (f->in_epoll)
			(void) epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		f->in_epoll = 0;
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = (f->mask & LOOP_READ ? EPOLLIN : 0)
	    | (f->mask & LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.u64 = (uint64_t) f->gen << 32 | (uint32_t) fd;
	op = f->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
		/*
		 * The caller may have closed and reopened the fd behind our
		 * back (epoll forgot it: ENOENT), or epoll may still know a
		 * descriptor we dropped (EEXIST). Retry with the other op.
		 */
		if (errno == ENOENT && op == EPOLL_CTL_MOD)
			op = EPOLL_CTL_ADD;
		else if (errno == EEXIST && op == EPOLL_CTL_ADD)
			op = EPOLL_CTL_MOD;
		else
			return -1;
		if (epoll_ctl(loop->epfd, op, fd, &ev) < 0)
			return -1;
	}
	f->in_epoll = 1;
	return 0;
}

/* loop_fd_set - watch fd for mask; replaces an earlier fn/arg/mask */
int loop_fd_set(struct loop *loop, int fd, int mask, loop_fd_fn *fn, void *arg)
{
	struct loop_fd *f, old;
	int     n;

	if (fd < 0 || (mask & ~(LOOP_READ | LOOP_WRITE)) || fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (fd >= loop->nfds) {
		n = loop->nfds ? loop->nfds : 16;
		while (n <= fd)
			n = n > INT_MAX / 2 ? fd + 1 : n * 2;
		loop->fds = xrealloc(loop->fds, (size_t) n * sizeof(*loop->fds));
		memset(loop->fds + loop->nfds, 0,
		    (size_t) (n - loop->nfds) * sizeof(*loop->fds));
		loop->nfds = n;
	}
	f = &loop->fds[fd];
	old = *f;
	if (!f->used) {
		f->gen++;		/* a new registration */
		f->used = 1;
	}
	f->fn = fn;
	f->arg = arg;
	f->mask = mask;
	if (loop_epoll_sync(loop, fd) < 0) {
		n = errno;
		*f = old;
		errno = n;
		return -1;
	}
	return 0;
}

/* loop_fd_mask - change only the mask of a registered fd */
int loop_fd_mask(struct loop *loop, int fd, int mask)
{
	struct loop_fd *f;
	int     old;

	if (fd < 0 || fd >= loop->nfds || !loop->fds[fd].used
	    || (mask & ~(LOOP_READ | LOOP_WRITE))) {
		errno = EINVAL;
		return -1;
	}
	f = &loop->fds[fd];
	old = f->mask;
	f->mask = mask;
	if (loop_epoll_sync(loop, fd) < 0) {
		f->mask = old;
		return -1;
	}
	return 0;
}

/* loop_fd_del - stop watching fd (does not close it); no-op if unknown */
void loop_fd_del(struct loop *loop, int fd)
{
	struct loop_fd *f;

	if (fd < 0 || fd >= loop->nfds || !loop->fds[fd].used)
		return;
	f = &loop->fds[fd];
	/* EBADF when the caller closed it first: epoll already forgot it. */
	if (f->in_epoll)
		(void) epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	f->in_epoll = 0;
	f->used = 0;
	f->mask = 0;
	f->fn = NULL;
	f->arg = NULL;
	f->gen++;			/* stale ready events no longer match */
}

/* Timer heap. */

/* loop_before - heap order: earlier deadline, then earlier add */
static int loop_before(const struct loop *loop, uint32_t a, uint32_t b)
{
	const struct loop_timer *x = &loop->ts[a], *y = &loop->ts[b];

	return x->when < y->when || (x->when == y->when && x->seq < y->seq);
}

/* loop_heap_put - store slot at heap index i */
static void loop_heap_put(struct loop *loop, size_t i, uint32_t slot)
{
	loop->heap[i] = slot;
	loop->ts[slot].heap = (int32_t) i;
}

static void loop_sift_up(struct loop *loop, size_t i)
{
	uint32_t slot = loop->heap[i];
	size_t  parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!loop_before(loop, slot, loop->heap[parent]))
			break;
		loop_heap_put(loop, i, loop->heap[parent]);
		i = parent;
	}
	loop_heap_put(loop, i, slot);
}

static void loop_sift_down(struct loop *loop, size_t i)
{
	uint32_t slot = loop->heap[i];
	size_t  child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap
		    && loop_before(loop, loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!loop_before(loop, loop->heap[child], slot))
			break;
		loop_heap_put(loop, i, loop->heap[child]);
		i = child;
	}
	loop_heap_put(loop, i, slot);
}

/* loop_heap_remove - take heap entry i out and free its slot */
static void loop_heap_remove(struct loop *loop, size_t i)
{
	uint32_t slot = loop->heap[i];
	struct loop_timer *t = &loop->ts[slot];

	loop->nheap--;
	if (i < loop->nheap) {
		/* The last entry fills the hole, then moves whichever way it must. */
		loop_heap_put(loop, i, loop->heap[loop->nheap]);
		if (i > 0 && loop_before(loop, loop->heap[i], loop->heap[(i - 1) / 2]))
			loop_sift_up(loop, i);
		else
			loop_sift_down(loop, i);
	}
	t->heap = -1;
	t->fn = NULL;
	t->arg = NULL;
	if (++t->gen == 0)
		t->gen = 1;
	t->next_free = loop->free_ts;
	loop->free_ts = slot;
}

/* loop_timer_add - call fn(arg) once after ms milliseconds; returns an id > 0 */
uint64_t loop_timer_add(struct loop *loop, int64_t ms, loop_timer_fn *fn, void *arg)
{
	struct loop_timer *t;
	uint32_t slot, n, i;
	int64_t now = loop_now_ms();

	PANIC_IF(fn == NULL);
	if (loop->free_ts == UINT32_MAX) {
		if (loop->nts >= (uint32_t) INT32_MAX / 2)
			log_panic("loop_timer_add: too many timers (%u)", loop->nts);
		n = loop->nts ? loop->nts * 2 : 64;
		loop->ts = xrealloc(loop->ts, (size_t) n * sizeof(*loop->ts));
		loop->heap = xrealloc(loop->heap, (size_t) n * sizeof(*loop->heap));
		for (i = n; i-- > loop->nts; ) {
			loop->ts[i].gen = 1;
			loop->ts[i].heap = -1;
			loop->ts[i].fn = NULL;
			loop->ts[i].arg = NULL;
			loop->ts[i].next_free = loop->free_ts;
			loop->free_ts = i;
		}
		loop->nts = n;
	}
	slot = loop->free_ts;
	t = &loop->ts[slot];
	loop->free_ts = t->next_free;
	if (ms < 0)
		ms = 0;
	t->when = ms > INT64_MAX - now ? INT64_MAX : now + ms;
	t->seq = ++loop->seq;
	t->fn = fn;
	t->arg = arg;
	loop->heap[loop->nheap] = slot;
	t->heap = (int32_t) loop->nheap++;
	loop_sift_up(loop, loop->nheap - 1);
	return (uint64_t) t->gen << 32 | slot;
}

/* loop_timer_del - cancel a pending timer; no-op for 0, fired or unknown ids */
void loop_timer_del(struct loop *loop, uint64_t id)
{
	uint32_t slot = (uint32_t) id, gen = (uint32_t) (id >> 32);
	struct loop_timer *t;

	if (id == 0 || slot >= loop->nts)
		return;
	t = &loop->ts[slot];
	if (t->gen != gen || t->heap < 0)
		return;
	loop_heap_remove(loop, (size_t) t->heap);
}

/* Posting from other threads. */

/* loop_post - thread-safe: run fn(arg) on the loop thread soon */
void loop_post(struct loop *loop, loop_post_fn *fn, void *arg)
{
	struct loop_post_item *p = xmalloc(sizeof(*p));
	uint64_t one = 1;

	p->fn = fn;
	p->arg = arg;
	p->next = NULL;
	pthread_mutex_lock(&loop->post_lock);
	if (loop->post_tail)
		loop->post_tail->next = p;
	else
		loop->post_head = p;
	loop->post_tail = p;
	if (!loop->post_signalled) {
		/* EAGAIN only when the counter is huge: it is signalled anyway. */
		(void) !write(loop->evfd, &one, sizeof(one));
		loop->post_signalled = 1;
	}
	pthread_mutex_unlock(&loop->post_lock);
}

/* loop_post_take - detach the whole post list */
static struct loop_post_item *loop_post_take(struct loop *loop)
{
	struct loop_post_item *list;
	uint64_t val;

	pthread_mutex_lock(&loop->post_lock);
	list = loop->post_head;
	loop->post_head = loop->post_tail = NULL;
	loop->post_signalled = 0;
	(void) !read(loop->evfd, &val, sizeof(val));
	pthread_mutex_unlock(&loop->post_lock);
	return list;
}

/* loop_post_requeue - put back what loop_stop() left unrun, in front */
static void loop_post_requeue(struct loop *loop, struct loop_post_item *list)
{
	struct loop_post_item *last;
	uint64_t one = 1;

	if (list == NULL)
		return;
	for (last = list; last->next; last = last->next)
		;
	pthread_mutex_lock(&loop->post_lock);
	last->next = loop->post_head;
	if (loop->post_head == NULL)
		loop->post_tail = last;
	loop->post_head = list;
	if (!loop->post_signalled) {
		(void) !write(loop->evfd, &one, sizeof(one));
		loop->post_signalled = 1;
	}
	pthread_mutex_unlock(&loop->post_lock);
}

/* Dispatch. */

/* loop_timeout - epoll timeout given the caller's and the next timer */
static int loop_timeout(struct loop *loop, int timeout_ms)
{
	int64_t delay;

	if (loop->nheap == 0)
		return timeout_ms;
	delay = loop->ts[loop->heap[0]].when - loop_now_ms();
	if (delay < 0)
		delay = 0;
	if (delay > INT_MAX)
		delay = INT_MAX;
	if (timeout_ms >= 0 && timeout_ms < delay)
		return timeout_ms;
	return (int) delay;
}

/* loop_once - one pass; with stoppable, return early after loop_stop() */
static int loop_once(struct loop *loop, int timeout_ms, int stoppable)
{
	struct loop_post_item *list, *p;
	struct loop_fd *f;
	uint64_t data, last_seq;
	int64_t now;
	int     n, i, fd, ready, ran = 0, posted = 0;
	uint32_t gen, slot;
	loop_timer_fn *tfn;
	void   *targ;

#define STOPPED() (stoppable && loop->stop)

	n = epoll_wait(loop->epfd, loop->ev, LOOP_MAX_EVENTS,
	    loop_timeout(loop, timeout_ms));
	if (n < 0) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	for (i = 0; i < n && !STOPPED(); i++) {
		data = loop->ev[i].data.u64;
		if (data == LOOP_POST_TAG) {
			posted = 1;
			continue;
		}
		fd = (int) (uint32_t) data;
		gen = (uint32_t) (data >> 32);
		if (fd >= loop->nfds)
			continue;
		f = &loop->fds[fd];
		if (!f->used || f->gen != gen)
			continue;		/* deleted earlier in this batch */
		ready = 0;
		if (loop->ev[i].events & (EPOLLIN | EPOLLRDHUP))
			ready |= LOOP_READ;
		if (loop->ev[i].events & EPOLLOUT)
			ready |= LOOP_WRITE;
		/* Errors and hangups are reported as whatever is wanted. */
		if (loop->ev[i].events & (EPOLLERR | EPOLLHUP))
			ready |= LOOP_READ | LOOP_WRITE;
		ready &= f->mask;
		if (ready == 0)
			continue;
		f->fn(loop, fd, ready, f->arg);
		ran++;
	}
	if (posted && !STOPPED()) {
		list = loop_post_take(loop);
		while (list != NULL) {
			p = list;
			list = p->next;
			p->fn(p->arg);
			free(p);
			ran++;
			if (STOPPED()) {
				loop_post_requeue(loop, list);
				break;
			}
		}
	}
	/* Only timers that existed before this pass may fire in it. */
	now = loop_now_ms();
	last_seq = loop->seq;
	while (loop->nheap > 0 && !STOPPED()) {
		slot = loop->heap[0];
		if (loop->ts[slot].when > now || loop->ts[slot].seq > last_seq)
			break;
		tfn = loop->ts[slot].fn;
		targ = loop->ts[slot].arg;
		loop_heap_remove(loop, 0);
		tfn(loop, targ);
		ran++;
	}
#undef STOPPED
	return ran;
}

/* loop_run_once - wait at most timeout_ms, dispatch what is ready */
int loop_run_once(struct loop *loop, int timeout_ms)
{
	return loop_once(loop, timeout_ms, 0);
}

/* loop_run - dispatch events until loop_stop(); 0, or -1 on epoll failure */
int loop_run(struct loop *loop)
{
	loop->stop = 0;
	while (!loop->stop)
		if (loop_once(loop, -1, 1) < 0)
			return -1;
	loop->stop = 0;
	return 0;
}

/* loop_stop - make loop_run() return after the current callback */
void loop_stop(struct loop *loop)
{
	loop->stop = 1;
}
