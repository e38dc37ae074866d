/*++
 * NAME
 *	submit 3
 * SUMMARY
 *	mailrelayd: a letter submitted over the control socket
 * SYNOPSIS
 *	#include "relay/submit.h"
 * DESCRIPTION
 *	See submit.h.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mailchannel/letter.h"
#include "relay/ctl_proto.h"
#include "relay/inbound.h"
#include "relay/relayd.h"
#include "relay/submit.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"

struct submit {
	struct relayd *rd;
	int	fd;			/* the pipe; -1 once it ended */
	struct spool_file *f;		/* tmp/NAME, until committed */
	char	name[SPOOL_NAMELEN];
	uint64_t size;			/* octets read */
	uint64_t max;			/* max_letter_size (0: none) */
	uint32_t crc;
	int	ended;			/* the client said "end" */
	uint64_t declared;		/* ... with this count */
	int	committing;		/* the transaction is in flight */
	int	cancelled;		/* ... and nobody waits for its answer */
	uint64_t timer;
	int64_t	start;			/* loop ms of the start */
	int64_t	last;			/* loop ms of the last data */
	uid_t	uid;
	gid_t	gid;
	pid_t	pid;
	char	user[SUBMIT_USER_MAX];
	submit_done_fn *done;
	void   *arg;
};

/* release - close what s holds and free it (a letter not committed is
 * removed) */
static void release(struct submit *s)
{
	if (s->fd >= 0) {
		loop_fd_del(s->rd->loop, s->fd);
		close(s->fd);
	}
	loop_timer_del(s->rd->loop, s->timer);
	if (s->f != NULL)
		spool_file_abort(s->f);
	relayd_job(s->rd, -1);
	free(s);
}

/* fail - end s with st and a reason (printf format); done() hears it */
static void fail(struct submit *s, enum submit_status st, const char *fmt, ...)
{
	char    reason[RELAYD_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (st == SUBMIT_DATA)
		log_info("submit by %s (uid %lu): refused: %s", s->user, (unsigned long) s->uid,
		    reason);
	else
		log_warn("submit by %s (uid %lu): not accepted: %s", s->user,
		    (unsigned long) s->uid, reason);
	s->done(s->arg, st, NULL, reason);
	release(s);
}

static void committed(void *arg, int ok, const char *err)
{
	struct submit *s = arg;
	struct relayd *rd = s->rd;

	if (ok) {
		/* the acknowledgement point of a local submission: the same
		 * promise as a pickup's (tests/tools/sysio_order.c) */
		sysio_mark("pickup %s ok", s->name);
		/* logged by the spool with the received line (from=submit
		 * user= uid= size=): once, as every letter event */
		inbound_accepted(rd, s->name, 1);
	} else
		log_error("submit by %s (uid %lu): commit '%s': %s", s->user,
		    (unsigned long) s->uid, s->name, err ? err : "failed");
	if (!s->cancelled)
		s->done(s->arg, ok ? SUBMIT_OK : SUBMIT_TEMP, s->name,
		    ok ? NULL : err ? err : "commit failed");
	s->f = NULL;			/* the transaction's */
	release(s);
}

/* finish - the pipe ended and the count is known: check the letter and
 * commit it into in/ with its received line */
static void finish(struct submit *s)
{
	struct relayd *rd = s->rd;
	struct spool_txn *t;
	struct inbound in;
	struct letter *lt;
	enum letter_status st = LETTER_OK;
	char    lerr[LETTER_ERRLEN], uid[32];
	const char *kv[4];

	if (s->fd >= 0 || !s->ended || s->committing)
		return;
	if (s->declared != s->size) {
		fail(s, SUBMIT_TEMP, "the letter was cut short: %llu octets announced, %llu"
		    " received", (unsigned long long) s->declared, (unsigned long long) s->size);
		return;
	}
	/* the address list and the header only, as for an NIFTP letter */
	if ((lt = letter_open_pread(spool_file_fd(s->f), &st, lerr, sizeof(lerr))) == NULL) {
		if (st == LETTER_EIO)
			fail(s, SUBMIT_TEMP, "read 'tmp/%s': %s", s->name, lerr);
		else
			fail(s, SUBMIT_DATA, CTL_ERR_MALFORMED "%s", lerr);
		return;
	}
	snprintf(uid, sizeof(uid), "%lu", (unsigned long) s->uid);
	kv[0] = "user";			/* the kernel's word, never the client's */
	kv[1] = s->user;
	kv[2] = "uid";
	kv[3] = uid;
	memset(&in, 0, sizeof(in));
	in.from = "submit";
	in.size = s->size;
	in.crc = s->crc;
	in.kv = kv;
	in.nkv = 2;
	t = spool_txn_new(rd->sp);
	inbound_commit(rd, t, s->f, &in, lt);
	s->f = NULL;			/* handed to t */
	letter_free(lt);
	s->committing = 1;
	loop_timer_del(rd->loop, s->timer);
	s->timer = 0;
	spool_txn_submit(t, committed, s);
}

static void readable(struct loop *loop, int fd, int mask, void *arg)
{
	struct submit *s = arg;
	unsigned char b[SUBMIT_CHUNK];
	char    err[SPOOL_ERRLEN];
	ssize_t n;

	(void) mask;
	if (s->rd->stopping) {
		fail(s, SUBMIT_TEMP, "mail relay shutting down");
		return;
	}
	n = read(fd, b, sizeof(b));
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		fail(s, SUBMIT_TEMP, "read the letter: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		loop_fd_del(loop, fd);
		close(fd);
		s->fd = -1;
		finish(s);
		return;
	}
	if (s->max > 0 && s->size + (uint64_t) n > s->max) {
		fail(s, SUBMIT_DATA, CTL_ERR_TOOBIG "more than %llu octets ([limits]"
		    " max_letter_size)", (unsigned long long) s->max);
		return;
	}
	if (spool_write(s->f, b, (size_t) n, err, sizeof(err)) < 0) {
		fail(s, SUBMIT_TEMP, "%s", err);
		return;
	}
	s->crc = (uint32_t) crc32(s->crc, b, (uInt) n);
	s->size += (uint64_t) n;
	s->last = loop_now_ms();
}

/* submit_overdue - too long, or too slow */
int submit_overdue(uint64_t size, int64_t ran_ms, int reading, char *why, size_t len)
{
	if (ran_ms >= SUBMIT_DEADLINE_MS) {
		snprintf(why, len, "not sent whole within %d s (%llu octets): dropped",
		    SUBMIT_DEADLINE_MS / 1000, (unsigned long long) size);
		return 1;
	}
	if (reading && ran_ms >= SUBMIT_RATE_GRACE_MS
	    && size < (uint64_t) SUBMIT_RATE_MIN * (uint64_t) (ran_ms / 1000)) {
		snprintf(why, len, "too slow: %llu octets in %lld s (less than %d a second on"
		    " average): dropped", (unsigned long long) size, (long long) (ran_ms / 1000),
		    SUBMIT_RATE_MIN);
		return 1;
	}
	return 0;
}

/* tick - a stop, a submitter that went quiet, or one too slow to be let
 * hold its slot and its spool file */
static void tick(struct loop *loop, void *arg)
{
	struct submit *s = arg;
	int64_t now = loop_now_ms();
	char    why[RELAYD_ERRLEN];

	s->timer = 0;
	if (s->rd->stopping) {
		fail(s, SUBMIT_TEMP, "mail relay shutting down");
		return;
	}
	if (now - s->last >= SUBMIT_IDLE_MS) {
		fail(s, SUBMIT_TEMP, "nothing sent for %d s: dropped", SUBMIT_IDLE_MS / 1000);
		return;
	}
	if (submit_overdue(s->size, now - s->start, s->fd >= 0, why, sizeof(why))) {
		fail(s, SUBMIT_TEMP, "%s", why);
		return;
	}
	s->timer = loop_timer_add(loop, SUBMIT_TICK_MS, tick, s);
}

/* tick_finish - finish() from the loop, for submit_end() */
static void tick_finish(struct loop *loop, void *arg)
{
	struct submit *s = arg;

	(void) loop;
	s->timer = 0;
	finish(s);
}

/* submit_start - a submission for who, through a pipe of our own */
struct submit *submit_start(struct relayd *rd, const struct submit_who *who,
	submit_done_fn *done, void *arg, int *wfd, char *err, size_t errlen)
{
	struct submit *s;
	int     p[2];

	*wfd = -1;
	/* the two ends are two open file descriptions: O_NONBLOCK on ours
	 * is ours alone, the client's end stays blocking */
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "submit: make a pipe: %s", strerror(errno));
		return NULL;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		snprintf(err, errlen, "submit: make the pipe non-blocking: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->rd = rd;
	s->fd = p[0];
	s->uid = who->uid;
	s->gid = who->gid;
	s->pid = who->pid;
	str_copy(s->user, who->user, sizeof(s->user));
	s->max = rd->conf->max_letter_size;
	s->crc = (uint32_t) crc32(0L, Z_NULL, 0);
	s->done = done;
	s->arg = arg;
	s->start = s->last = loop_now_ms();
	relayd_job(rd, 1);
	if ((s->f = spool_create(rd->sp, NULL, err, errlen)) == NULL) {
		close(p[1]);
		release(s);
		return NULL;
	}
	str_copy(s->name, spool_file_name(s->f), sizeof(s->name));
	if (loop_fd_set(rd->loop, s->fd, LOOP_READ, readable, s) < 0) {
		snprintf(err, errlen, "watch the letter's pipe: %s", strerror(errno));
		close(p[1]);
		release(s);
		return NULL;
	}
	s->timer = loop_timer_add(rd->loop, SUBMIT_TICK_MS, tick, s);
	log_debug("submit by %s (uid %lu, pid %ld): reading into 'tmp/%s'", s->user,
	    (unsigned long) s->uid, (long) s->pid, s->name);
	*wfd = p[1];
	return s;
}

/* submit_end - the client's count */
void submit_end(struct submit *s, uint64_t size)
{
	if (s->ended || s->committing)
		return;
	s->ended = 1;
	s->declared = size;
	if (s->fd < 0 && s->timer != 0) {
		/* the pipe has ended already: finish from the loop, not from
		 * inside the caller (done() is never called from here) */
		loop_timer_del(s->rd->loop, s->timer);
		s->timer = loop_timer_add(s->rd->loop, 0, tick_finish, s);
	}
}

/* submit_cancel - the client left */
void submit_cancel(struct submit *s)
{
	if (s->committing) {
		s->cancelled = 1;	/* committed() frees it; the answer is lost */
		return;
	}
	log_info("submit by %s (uid %lu): the client left before the end of its letter"
	    " (%llu octets read): dropped", s->user, (unsigned long) s->uid,
	    (unsigned long long) s->size);
	release(s);
}
