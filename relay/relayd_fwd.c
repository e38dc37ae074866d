/*++
 * NAME
 *	relayd_fwd 3
 * SUMMARY
 *	mailrelayd: the niftp channel (donor side)
 * SYNOPSIS
 *	#include "relay/relayd.h"
 * DESCRIPTION
 *	Per next hop, at most [limits] calls_per_hop calls (niftp_call_open
 *	to the hop's current alternate, calling = [node] calling), each
 *	carrying one copy after another: a call that finishes a copy takes
 *	the next due envelope of its hop, and hangs up after two idle
 *	seconds. A call that cannot be placed moves the hop to its next
 *	alternate at once; when every alternate failed the envelope is
 *	deferred.
 *
 *	The copy identity is fixed before the first SFT: the prefix (the
 *	hop's address list and the "Via: NODE ; DATE" line, letter_prefix)
 *	is stored as queue/NAME_p_HOP, and the envelope docket records the
 *	transfer id (1..65534 per hop, never one still in use), the copy's
 *	size and CRC-32, in one transaction; only then does the transfer
 *	start. The copy is the prefix followed by the stored letter from
 *	its header on; a resumed transfer (mode|0x0100, the same id) sends
 *	the same bytes. The SFT carries "niftpmail-copy NODE/NAME size=N
 *	crc=C" (C: 8 hex digits).
 *
 *	After STOPACK the forwarded line is written (with the name the
 *	next hop assigned) in a transaction that also marks the docket
 *	finished; the envelope, its prefix and the docket are removed only
 *	after that transaction completed.
 *	Crash points: relay-forward-mid-data (each read of the copy),
 *	relay-after-stopack-before-journal.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mailchannel/addr.h"
#include "mailchannel/letter.h"
#include "mailchannel/route.h"
#include "niftp/niftp_call.h"
#include "relay/relayd.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/workq.h"

#define FWD_IDLE_MS	2000
#define HOP_HELD_MAX	512	/* copies fixed ahead per hop (transfer ids held) */
#define TID_MAX		65534

struct fcall;

/* A next hop. Its due envelopes wait in unprep (copy identity not fixed
 * yet) or ready (fixed, waiting for a free call). A copy is fixed, and
 * takes a transfer id, only when it is about to be sent: at most
 * HOP_HELD_MAX copies of a hop hold an id at a time (ids held by copies
 * that failed and wait for their retry count too), so any number of
 * queued copies works with 65,534 ids. */
struct rhop {
	struct rhop *next;
	char	name[300];
	unsigned alt;			/* current alternate */
	unsigned alt_fails;		/* consecutive unreachable alternates */
	uint16_t next_tid;
	unsigned char *tids;		/* bit per transfer id held by a docket */
	unsigned nheld;			/* bits set */
	unsigned npreparing;		/* copy_prepare() in flight */
	struct renvq unprep;
	struct renvq ready;
	struct fcall *calls;
	unsigned ncalls;
};

struct fcall {
	struct relayd *rd;
	struct rhop *hop;
	struct fcall *next;
	struct niftp_call *call;
	struct renv *cur;
	int	up;
	int	down;
	int	done_seen;
	uint64_t idle_timer;
	uint64_t reap_timer;
	char	addr[300];
};

struct niftp_file {
	int	pfd;
	int	lfd;
	uint64_t plen;
	uint64_t hoff;
	uint64_t off;
	uint64_t size;
};

static struct rhop *hop_find(struct relayd *rd, const char *name)
{
	struct rhop *h;

	for (h = rd->hops; h != NULL; h = h->next)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

static struct rhop *hop_get(struct relayd *rd, const char *name)
{
	struct rhop *h = hop_find(rd, name);

	if (h != NULL)
		return h;
	h = xcalloc(1, sizeof(*h));
	str_copy(h->name, name, sizeof(h->name));
	h->next_tid = (uint16_t) (time(NULL) % 60000 + 1);
	h->tids = xcalloc((TID_MAX + 8) / 8 + 1, 1);
	h->next = rd->hops;
	rd->hops = h;
	return h;
}

static int tid_held(const struct rhop *h, uint16_t tid)
{
	return (h->tids[tid >> 3] >> (tid & 7)) & 1;
}

static void tid_set(struct rhop *h, uint16_t tid)
{
	if (tid == 0 || tid > TID_MAX || tid_held(h, tid))
		return;
	h->tids[tid >> 3] |= (unsigned char) (1u << (tid & 7));
	h->nheld++;
}

static void tid_clear(struct rhop *h, uint16_t tid)
{
	if (tid == 0 || tid > TID_MAX || !tid_held(h, tid))
		return;
	h->tids[tid >> 3] &= (unsigned char) ~(1u << (tid & 7));
	h->nheld--;
}

/* tid_take - a transfer id no docket of h holds (1..65534), 0 if none */
static uint16_t tid_take(struct rhop *h)
{
	unsigned i;

	for (i = 0; i < TID_MAX; i++) {
		uint16_t tid = h->next_tid;

		h->next_tid = (uint16_t) (h->next_tid >= TID_MAX ? 1 : h->next_tid + 1);
		if (!tid_held(h, tid)) {
			tid_set(h, tid);
			return tid;
		}
	}
	return 0;
}

/* relayd_fwd_hold - e's docket (loaded at start-up) holds its id */
void relayd_fwd_hold(struct relayd *rd, struct renv *e)
{
	if (e->copy && !e->local)
		tid_set(hop_get(rd, e->hop), e->tid);
}

static void hop_pump(struct relayd *rd, struct rhop *h);

/* relayd_fwd_release - the docket holding tid for hop is resolved */
void relayd_fwd_release(struct relayd *rd, const char *hop, uint16_t tid)
{
	struct rhop *h = hop_find(rd, hop);

	if (h == NULL)
		return;
	tid_clear(h, tid);
	hop_pump(rd, h);
}

static void hop_safe(const char *hop, char *dst, size_t len)
{
	size_t  i, n = strlen(hop);

	if (n > 60 || len < 64) {
		unsigned long c = crc32(0L, (const Bytef *) hop, (uInt) n);

		snprintf(dst, len, "h%08lx", c & 0xffffffffUL);
		return;
	}
	for (i = 0; i < n && i + 1 < len; i++) {
		unsigned char ch = (unsigned char) hop[i];

		dst[i] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
		    || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-') ? (char) ch : '-';
	}
	dst[i] = '\0';
	if (dst[0] == '.' || dst[0] == '\0')
		dst[0] = '-';
}

static void prefix_name(const struct renv *e, char *dst, size_t len)
{
	char    hs[80];

	hop_safe(e->hop, hs, sizeof(hs));
	snprintf(dst, len, "%s_p_%s", e->l->name, hs);
}

/* --- the copy as a filestore (P reads) ------------------------------------ */

static struct renv *cur_env(void *fs)
{
	return ((struct fcall *) fs)->cur;
}

static int fwd_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct fcall *fc = fs;
	struct renv *e = cur_env(fs);
	struct niftp_file *fh;
	char    path[PATH_MAX], pn[SPOOL_NAMELEN * 2];
	struct stat st;

	(void) req;
	if (e == NULL || e->l == NULL) {
		res->state = NIFTP_ST_REJ_LATER;
		str_copy(res->reason, "no copy to send", sizeof(res->reason));
		return -1;
	}
	fh = xcalloc(1, sizeof(*fh));
	fh->pfd = fh->lfd = -1;
	prefix_name(e, pn, sizeof(pn));
	if (spool_path(fc->rd->sp, SPOOL_QUEUE, pn, path, sizeof(path)) == NULL
	    || (fh->pfd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fh->pfd, &st) < 0)
		goto fail;
	fh->plen = (uint64_t) st.st_size;
	if (spool_path(fc->rd->sp, SPOOL_QUEUE, e->l->name, path, sizeof(path)) == NULL
	    || (fh->lfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	fh->hoff = e->hoff;
	fh->size = e->size;
	res->fh = fh;
	res->size = (int64_t) e->size;
	str_copy(res->name, e->l->name, sizeof(res->name));
	return 0;
fail:
	res->state = NIFTP_ST_REJ_LATER;
	snprintf(res->reason, sizeof(res->reason), "open copy of '%s': %s", e->l->name,
	    strerror(errno));
	if (fh->pfd >= 0)
		close(fh->pfd);
	if (fh->lfd >= 0)
		close(fh->lfd);
	free(fh);
	return -1;
}

static int fwd_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	(void) fs;
	(void) req;
	res->state = NIFTP_ST_REJ_MSG;
	str_copy(res->reason, "the relay's donor side receives nothing", sizeof(res->reason));
	return -1;
}

static ssize_t fwd_read(struct niftp_file *fh, void *p, size_t len, char *reason)
{
	ssize_t n;

	crash_point("relay-forward-mid-data");
	if (fh->off < fh->plen) {
		size_t  want = fh->plen - fh->off < len ? (size_t) (fh->plen - fh->off) : len;

		n = pread(fh->pfd, p, want, (off_t) fh->off);
	} else
		n = pread(fh->lfd, p, len, (off_t) (fh->hoff + fh->off - fh->plen));
	if (n < 0) {
		snprintf(reason, 256, "read copy: %s", strerror(errno));
		return -1;
	}
	fh->off += (uint64_t) n;
	return n;
}

static int fwd_write(struct niftp_file *fh, const void *p, size_t len, int *retry, char *reason)
{
	(void) fh;
	(void) p;
	(void) len;
	*retry = 0;
	snprintf(reason, 256, "not writable");
	return -1;
}

static int fwd_seek(struct niftp_file *fh, uint64_t offset, char *reason)
{
	if (offset > fh->size) {
		snprintf(reason, 256, "seek copy to %llu: beyond its end",
		    (unsigned long long) offset);
		return -1;
	}
	fh->off = offset;
	return 0;
}

static int fwd_truncate(struct niftp_file *fh, uint64_t offset, char *reason)
{
	(void) fh;
	(void) offset;
	snprintf(reason, 256, "not writable");
	return -1;
}

static void fwd_close(struct niftp_file *fh)
{
	if (fh->pfd >= 0)
		close(fh->pfd);
	if (fh->lfd >= 0)
		close(fh->lfd);
	free(fh);
}

static void fwd_commit(struct niftp_file *fh, struct niftp *n)
{
	(void) fh;
	niftp_commit_done(n, 0, 0, "not writable");
}

static void fwd_suspend(struct niftp_file *fh)
{
	fwd_close(fh);
}

static void fwd_finish(struct niftp_file *fh, int ok)
{
	(void) ok;
	fwd_close(fh);
}

static const struct niftp_fs_ops fwd_ops = {
	fwd_open_write,
	fwd_open_read,
	fwd_read,
	fwd_write,
	fwd_seek,
	fwd_truncate,
	NULL,
	fwd_commit,
	fwd_suspend,
	fwd_finish,
};

/* --- calls ---------------------------------------------------------------- */

static void fcall_next(struct fcall *fc);

static void fcall_free(struct fcall *fc)
{
	struct rhop *h = fc->hop;
	struct fcall **pp;

	if (fc->idle_timer)
		loop_timer_del(fc->rd->loop, fc->idle_timer);
	if (fc->reap_timer)
		loop_timer_del(fc->rd->loop, fc->reap_timer);
	if (fc->call)
		niftp_call_free(fc->call);
	for (pp = &h->calls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == fc) {
			*pp = fc->next;
			break;
		}
	h->ncalls--;
	free(fc);
}

static void fcall_reap(struct loop *loop, void *arg)
{
	struct fcall *fc = arg;
	struct relayd *rd = fc->rd;
	struct rhop *h = fc->hop;

	(void) loop;
	fc->reap_timer = 0;
	fcall_free(fc);
	hop_pump(rd, h);		/* a call slot is free */
}

static void fcall_idle_over(struct loop *loop, void *arg)
{
	struct fcall *fc = arg;

	(void) loop;
	fc->idle_timer = 0;
	if (fc->cur == NULL && !fc->down)
		niftp_call_hangup(fc->call);
}

static int docket_hook(void *arg, const struct niftp_docket *d)
{
	struct fcall *fc = arg;
	struct renv *e = fc->cur;

	if (e == NULL || d == NULL)
		return 0;
	env_set_dk(e, d->tid != 0 ? d : NULL);
	if (d->data_done && !fc->rd->stopping)
		env_save(fc->rd, e, NULL);	/* resume with 0xFFFF after a crash */
	return 0;
}

static void fwd_event(void *arg, struct niftp_call *call, const struct niftp_event *ev)
{
	struct fcall *fc = arg;
	struct relayd *rd = fc->rd;
	struct renv *e = fc->cur;
	const struct niftp_docket *d;

	if (e == NULL)
		return;
	switch (ev->type) {
	case NIFTP_EV_POS:
		if (ev->name && *ev->name)
			env_set_str(&e->remote, ev->name);
		break;
	case NIFTP_EV_DONE:
		if (!fc->up && ev->status != NIFTP_OK)
			return;		/* never reached: fwd_callev tries the alternates */
		fc->cur = NULL;
		if (ev->name && *ev->name)
			env_set_str(&e->remote, ev->name);
		switch (ev->status) {
		case NIFTP_OK:
			crash_point("relay-after-stopack-before-journal");
			env_set_str(&e->via_addr, fc->addr);
			fc->hop->alt_fails = 0;
			env_forwarded(rd, e);
			break;
		case NIFTP_ERR_RESUMABLE:
			if ((d = niftp_docket(niftp_call_engine(call))) != NULL && d->tid != 0)
				env_set_dk(e, d);
			env_deferred(rd, e, ev->reason ? ev->reason : "call broken");
			break;
		case NIFTP_ERR_NORESUME:
			e->have_dk = 0;
			e->busy = 0;
			e->next_try = 0;
			log_info("'%s' to %s: cannot resume (%s): sending afresh", e->l->name,
			    e->hop, ev->reason ? ev->reason : "");
			env_save(rd, e, NULL);
			break;
		case NIFTP_ERR_PERM:
		case NIFTP_ERR_AUTH: {
			char    why[600];

			snprintf(why, sizeof(why), "refused by %s: %s", e->hop,
			    ev->reason ? ev->reason : niftp_status_str(ev->status));
			env_failed(rd, e, why);
			break;
		}
		default:
			env_deferred(rd, e, ev->reason ? ev->reason : niftp_status_str(ev->status));
			break;
		}
		if (ev->status != NIFTP_ERR_RESUMABLE && !fc->down)
			fcall_next(fc);
		break;
	default:
		break;
	}
}

static void fwd_callev(void *arg, struct niftp_call *call, enum niftp_call_ev ev,
	int reason, const char *text)
{
	struct fcall *fc = arg;
	struct rhop *h = fc->hop;
	struct relayd *rd = fc->rd;
	struct renv *e = fc->cur;

	(void) call;
	if (ev == NIFTP_CALL_EV_UP) {
		fc->up = 1;
		h->alt_fails = 0;
		return;
	}
	fc->down = 1;
	fc->cur = NULL;
	if (e != NULL) {
		const struct route_hop *rh = route_table_hop_by_name(rd->conf->routes, h->name);
		char    why[700];

		if (!fc->up && rh != NULL) {
			h->alt_fails++;
			h->alt = (h->alt + 1) % (unsigned) rh->nalts;
			if (h->alt_fails < rh->nalts) {
				/* try the next alternate at once (when reaped) */
				e->busy = 0;
				envq_add(&h->ready, e);
				goto reap;
			}
			h->alt_fails = 0;
		}
		snprintf(why, sizeof(why), "%s%s (reason %d)", fc->up ? "call broken: "
		    : "unreachable: ", text ? text : "", reason);
		env_deferred(rd, e, why);
	}
reap:
	if (fc->reap_timer == 0)
		fc->reap_timer = loop_timer_add(rd->loop, 0, fcall_reap, fc);
}

/* Fixing a copy's identity reads the whole letter (its CRC-32): the
 * reading is done on a worker (prep_work), the spool work on the loop
 * thread (prep_job_done). */
struct prep_job {
	struct relayd *rd;
	struct renv *e;
	char	path[PATH_MAX];
	char	letter[SPOOL_NAMELEN];
	char	node[SPOOL_NODEMAX + 1];
	char  **rcpts;
	size_t	nrcpts;
	time_t	now;
	/* results */
	int	ok;
	char	err[RELAYD_ERRLEN];
	struct buf pre;
	uint64_t hoff;
	uint64_t total;
	uint32_t crc;
};

static void prep_work(void *arg)
{
	struct prep_job *pj = arg;
	struct addr_list *al = addr_list_new();
	struct letter *lt = NULL;
	unsigned char b[64 * 1024];
	unsigned long crc;
	uint64_t off;
	ssize_t n;
	size_t  i;
	int     fd;

	if ((fd = open(pj->path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(pj->err, sizeof(pj->err), "open 'queue/%s': %s", pj->letter,
		    strerror(errno));
		goto out;
	}
	if ((lt = letter_open_fd(fd, NULL, pj->err, sizeof(pj->err))) == NULL)
		goto out;
	for (i = 0; i < pj->nrcpts; i++) {
		struct addr *a = addr_parse(pj->rcpts[i], strlen(pj->rcpts[i]), pj->err,
		    sizeof(pj->err));

		if (a == NULL || addr_list_append(al, a, pj->err, sizeof(pj->err)) < 0)
			goto out;
	}
	if (letter_prefix(&pj->pre, al, pj->node, pj->now, hdr_crlf(letter_hdr(lt)), pj->err,
	    sizeof(pj->err)) < 0)
		goto out;
	pj->hoff = letter_hdr_offset(lt);
	crc = crc32(0L, buf_data(&pj->pre), (uInt) pj->pre.len);
	pj->total = pj->pre.len;
	for (off = pj->hoff;; off += (uint64_t) n) {
		n = pread(fd, b, sizeof(b), (off_t) off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0) {
			snprintf(pj->err, sizeof(pj->err), "read 'queue/%s': %s", pj->letter,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		crc = crc32(crc, b, (uInt) n);
		pj->total += (uint64_t) n;
	}
	pj->crc = (uint32_t) crc;
	pj->ok = 1;
out:
	if (lt)
		letter_free(lt);
	if (fd >= 0)
		close(fd);
	addr_list_free(al);
}

static void prep_done(void *arg, int ok, const char *err);

struct prep {
	struct relayd *rd;
	struct renv *e;
};

static void prep_job_free(struct prep_job *pj)
{
	size_t  i;

	for (i = 0; i < pj->nrcpts; i++)
		free(pj->rcpts[i]);
	free(pj->rcpts);
	buf_release(&pj->pre);
	free(pj);
}

/* prep_job_done - store the prefix and the copy identity (one transaction) */
static void prep_job_done(void *arg)
{
	struct prep_job *pj = arg;
	struct relayd *rd = pj->rd;
	struct renv *e = pj->e;
	struct rhop *h = hop_get(rd, e->hop);
	struct spool_file *f = NULL;
	struct spool_txn *t;
	struct prep *p;
	char    pn[SPOOL_NAMELEN * 2], err[RELAYD_ERRLEN];
	uint16_t tid;

	relayd_job(rd, -1);
	h->npreparing--;
	e->busy = 0;
	if (!pj->ok) {
		env_deferred(rd, e, pj->err);
		goto out;
	}
	prefix_name(e, pn, sizeof(pn));
	if (spool_exists(rd->sp, SPOOL_QUEUE, pn)) {
		/* left by a crash before the docket: replace it */
		struct spool_txn *rt = spool_txn_new(rd->sp);

		spool_txn_remove(rt, SPOOL_QUEUE, pn);
		(void) spool_txn_run(rt, NULL, 0);
	}
	/* a transfer id no unresolved docket of this hop holds */
	if ((tid = tid_take(h)) == 0) {
		env_deferred(rd, e, "no free transfer id for this next hop");
		goto out;
	}
	if ((f = spool_create(rd->sp, pn, err, sizeof(err))) == NULL
	    || spool_write(f, buf_data(&pj->pre), pj->pre.len, err, sizeof(err)) < 0) {
		if (f)
			spool_file_abort(f);
		tid_clear(h, tid);
		env_deferred(rd, e, err);
		goto out;
	}
	e->tid = tid;
	e->hoff = pj->hoff;
	e->size = pj->total;
	e->crc = pj->crc;
	e->copy = 1;
	e->have_dk = 0;
	t = spool_txn_new(rd->sp);
	spool_txn_commit(t, f, SPOOL_QUEUE);
	env_save(rd, e, t);
	p = xcalloc(1, sizeof(*p));
	p->rd = rd;
	p->e = e;
	e->busy = 1;
	spool_txn_submit(t, prep_done, p);
out:
	prep_job_free(pj);
	hop_pump(rd, h);
}

/* copy_prepare - fix the copy identity of e (on a worker, then the loop) */
static void copy_prepare(struct relayd *rd, struct rhop *h, struct renv *e)
{
	struct prep_job *pj = xcalloc(1, sizeof(*pj));
	size_t  i;

	pj->rd = rd;
	pj->e = e;
	buf_init(&pj->pre, LETTER_PREFIX_MAX);
	str_copy(pj->letter, e->l->name, sizeof(pj->letter));
	str_copy(pj->node, rd->conf->name, sizeof(pj->node));
	pj->now = time(NULL);
	if (spool_path(rd->sp, SPOOL_QUEUE, e->l->name, pj->path, sizeof(pj->path)) == NULL)
		pj->path[0] = '\0';
	pj->rcpts = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof(char *));
	for (i = 0; i < e->nrcpts; i++)
		pj->rcpts[i] = xstrdup(e->rcpts[i].addr);
	pj->nrcpts = e->nrcpts;
	e->busy = 1;
	h->npreparing++;
	relayd_job(rd, 1);
	workq_submit(rd->wq, prep_work, prep_job_done, pj);
}

/* transfer_start - start e's transfer on fc */
static void transfer_start(struct fcall *fc, struct renv *e)
{
	struct relayd *rd = fc->rd;
	struct niftp_req req;
	char    copy_id[400];

	if (fc->idle_timer) {
		loop_timer_del(rd->loop, fc->idle_timer);
		fc->idle_timer = 0;
	}
	envq_del(e);
	fc->cur = e;
	e->busy = 1;
	memset(&req, 0, sizeof(req));
	req.mode = NIFTP_MODE_REPLACE_MAKE;
	req.mail = 1;
	req.tid = e->tid;
	req.size = (int64_t) e->size;
	snprintf(copy_id, sizeof(copy_id), "niftpmail-copy %s/%s size=%llu crc=%08lx",
	    rd->conf->name, e->l->name, (unsigned long long) e->size, (unsigned long) e->crc);
	req.copy_id = copy_id;
	if (e->have_dk)
		niftp_resume_req(&req, e->dk);
	env_set_str(&e->remote, NULL);
	if (niftp_call_start(fc->call, &req) < 0) {
		fc->cur = NULL;
		env_deferred(rd, e, "the transfer could not be started");
	}
}

static void prep_done(void *arg, int ok, const char *err)
{
	struct prep *p = arg;
	struct renv *e = p->e;
	struct rhop *h = hop_get(p->rd, e->hop);

	e->busy = 0;
	if (!ok) {
		e->copy = 0;
		tid_clear(h, e->tid);	/* the docket was not written */
		log_error("store copy of '%s' for %s: %s", e->l->name, e->hop, err);
		env_deferred(p->rd, e, err);
	} else if (!e->finishing && !p->rd->stopping)
		envq_add(&h->ready, e);
	hop_pump(p->rd, h);
	free(p);
}

static const struct reroute *reroute_find(const struct relayd *rd, const char *hop);
static void reroute_clear_one(struct reroute *r);

/* fcall_new - place a call to h's current alternate carrying e; 0, or
 * -1 (e deferred) */
static int fcall_new(struct relayd *rd, struct rhop *h, const struct route_hop *rh,
	struct renv *e)
{
	struct niftp_call_hooks hooks;
	struct niftp_config cfg;
	struct ts_opts tso;
	struct fcall *fc;
	const struct route_alt *alt;
	const struct reroute *rr;
	struct route_alt ov;
	char    err[RELAYD_ERRLEN];

	if (h->alt >= rh->nalts)
		h->alt = 0;
	alt = &rh->alts[h->alt];
	if ((rr = reroute_find(rd, h->name)) != NULL) {
		/* mailctl reroute: the operator's address before the table's */
		memset(&ov, 0, sizeof(ov));
		ov.channel = ROUTE_CH_NIFTP;
		ov.addr = rr->addr;
		ov.called = rr->called;
		alt = &ov;
	}
	fc = xcalloc(1, sizeof(*fc));
	fc->rd = rd;
	fc->hop = h;
	str_copy(fc->addr, alt->shown ? alt->shown : alt->addr, sizeof(fc->addr));
	memset(&hooks, 0, sizeof(hooks));
	hooks.event = fwd_event;
	hooks.call = fwd_callev;
	hooks.docket_save = docket_hook;
	memset(&cfg, 0, sizeof(cfg));
	cfg.info = "mailrelayd (niftpmail) 1.0";
	cfg.deflate = 1;
	memset(&tso, 0, sizeof(tso));
	tso.connect_timeout_ms = rd->conf->connect_timeout_ms;
	tso.setup_timeout_ms = rd->conf->setup_timeout_ms;
	tso.idle_timeout_ms = rd->conf->idle_timeout_ms;
	tso.local_name = rd->conf->name;
	fc->call = niftp_call_open(rd->loop, alt->addr, alt->called ? alt->called
	    : ROUTE_CALLED_DEFAULT, rd->conf->calling, &tso, &cfg, &hooks, fc, &fwd_ops, fc,
	    err, sizeof(err));
	if (fc->call == NULL) {
		free(fc);
		envq_del(e);
		env_deferred(rd, e, err);
		return -1;
	}
	fc->next = h->calls;
	h->calls = fc;
	h->ncalls++;
	transfer_start(fc, e);
	return 0;
}

/* hop_pump - fix copies ahead (at most HOP_HELD_MAX ids held) and give
 * ready copies to idle calls, placing new calls up to calls_per_hop */
static void hop_pump(struct relayd *rd, struct rhop *h)
{
	const struct route_hop *rh;
	struct renv *e;
	struct fcall *fc;

	if (rd->stopping)
		return;
	while ((e = h->unprep.head) != NULL && h->nheld + h->npreparing < HOP_HELD_MAX) {
		envq_del(e);
		if (e->busy || e->finishing || e->l == NULL)
			continue;
		if (e->copy)
			envq_add(&h->ready, e);
		else
			copy_prepare(rd, h, e);
	}
	if (h->ready.head == NULL)
		return;
	if ((rh = route_table_hop_by_name(rd->conf->routes, h->name)) == NULL) {
		while ((e = h->ready.head) != NULL) {
			envq_del(e);
			if (!e->busy && !e->finishing)
				env_deferred(rd, e, "no route for this next hop in the configuration");
		}
		return;
	}
	while ((e = h->ready.head) != NULL) {
		if (e->busy || e->finishing || !e->copy || e->l == NULL) {
			envq_del(e);
			continue;
		}
		for (fc = h->calls; fc != NULL; fc = fc->next)
			if (!fc->down && fc->cur == NULL && fc->up)
				break;
		if (fc != NULL) {
			transfer_start(fc, e);
			continue;
		}
		if (h->ncalls >= rd->conf->calls_per_hop)
			break;		/* waits for a call to become free */
		(void) fcall_new(rd, h, rh, e);
	}
}

/* fcall_next - give an idle call the next ready copy of its hop */
static void fcall_next(struct fcall *fc)
{
	struct relayd *rd = fc->rd;

	if (rd->stopping) {
		niftp_call_hangup(fc->call);
		return;
	}
	hop_pump(rd, fc->hop);
	if (fc->cur == NULL && !fc->down && fc->idle_timer == 0)
		fc->idle_timer = loop_timer_add(rd->loop, FWD_IDLE_MS, fcall_idle_over, fc);
}

/* relayd_fwd_start - e is due: queue it on its hop (fixing its copy
 * first when needed) and start what can start */
int relayd_fwd_start(struct relayd *rd, struct renv *e)
{
	struct rhop *h;

	if (rd->stopping || e->busy)
		return -1;
	if (route_table_hop_by_name(rd->conf->routes, e->hop) == NULL) {
		envq_del(e);
		env_deferred(rd, e, "no route for this next hop in the configuration");
		return -1;
	}
	h = hop_get(rd, e->hop);
	if (e->q != &h->ready && e->q != &h->unprep)
		envq_add(e->copy ? &h->ready : &h->unprep, e);
	hop_pump(rd, h);
	return 0;
}

/* relayd_fwd_busy - outgoing calls alive */
int relayd_fwd_busy(const struct relayd *rd)
{
	const struct rhop *h;

	for (h = rd->hops; h != NULL; h = h->next)
		if (h->calls != NULL)
			return 1;
	return 0;
}

/* relayd_fwd_stop - end idle calls; now: abort all */
void relayd_fwd_stop(struct relayd *rd, int now)
{
	struct rhop *h;
	struct fcall *fc;

	for (h = rd->hops; h != NULL; h = h->next)
		for (fc = h->calls; fc != NULL; fc = fc->next) {
			if (fc->down)
				continue;
			if (now)
				niftp_call_abort(fc->call, TS_R_OUTOFORDER, "mail relay shutting down");
			else if (fc->cur == NULL)
				niftp_call_hangup(fc->call);
		}
}

/* relayd_fwd_free - free per-hop state */
void relayd_fwd_free(struct relayd *rd)
{
	struct rhop *h;

	while ((h = rd->hops) != NULL) {
		while (h->calls != NULL)
			fcall_free(h->calls);
		while (h->unprep.head != NULL)
			envq_del(h->unprep.head);
		while (h->ready.head != NULL)
			envq_del(h->ready.head);
		rd->hops = h->next;
		free(h->tids);
		free(h);
	}
	while (rd->nrr > 0)
		reroute_clear_one(&rd->rr[--rd->nrr]);
	free(rd->rr);
	rd->rr = NULL;
}

/* --- operator route overrides (mailctl reroute) ------------------------------ */

static void reroute_clear_one(struct reroute *r)
{
	free(r->hop);
	free(r->route);
	free(r->addr);
	free(r->called);
}

static const struct reroute *reroute_find(const struct relayd *rd, const char *hop)
{
	size_t  i;

	for (i = 0; i < rd->nrr; i++)
		if (strcmp(rd->rr[i].hop, hop) == 0)
			return &rd->rr[i];
	return NULL;
}

/* reroute_parse - "niftp ADDR [CALLED]" into r (addr, called, route);
 * 0, or -1 with err */
static int reroute_parse(const char *route, struct reroute *r, char *err, size_t errlen)
{
	char    ch[16], addr[300], called[300], extra[2];
	int     n;

	ch[0] = addr[0] = called[0] = '\0';
	n = sscanf(route, "%15s %299s %299s %1s", ch, addr, called, extra);
	if (n < 2 || n > 3 || strcasecmp(ch, "niftp") != 0 || strchr(route, ',') != NULL) {
		snprintf(err, errlen, "bad route '%s': want 'niftp ADDRESS [CALLED]' "
		    "(one alternate)", route);
		return -1;
	}
	if (strncmp(addr, "unix:", 5) != 0 && strncmp(addr, "tcp:", 4) != 0) {
		snprintf(err, errlen, "bad route '%s': the address must be unix:PATH or "
		    "tcp:HOST:PORT", route);
		return -1;
	}
	r->addr = xstrdup(addr);
	r->called = n == 3 ? xstrdup(called) : NULL;
	r->route = n == 3 ? xasprintf("niftp %s %s", addr, called) : xasprintf("niftp %s", addr);
	return 0;
}

/* reroute_save - SPOOL/reroute, durably (removed when empty) */
static int reroute_save(struct relayd *rd, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(1024 * 1024);
	char    path[PATH_MAX], derr[DURABLE_ERRLEN];
	size_t  i;
	int     rc = 0;

	snprintf(path, sizeof(path), "%s/reroute", rd->conf->spool);
	buf_printf(&b, "# mailctl reroute: next hop, route (do not edit while the daemon "
	    "runs)\n");
	for (i = 0; i < rd->nrr; i++)
		buf_printf(&b, "%s %s\n", rd->rr[i].hop, rd->rr[i].route);
	if (durable_write_file(path, buf_data(&b), b.len, derr, sizeof(derr)) < 0) {
		snprintf(err, errlen, "write '%s': %s", path, derr);
		rc = -1;
	}
	buf_release(&b);
	return rc;
}

int relayd_reroute_load(struct relayd *rd, char *err, size_t errlen)
{
	char    path[PATH_MAX], perr[RELAYD_ERRLEN];
	char   *text, *line, *next, *sp;
	size_t  len;
	struct reroute r;

	snprintf(path, sizeof(path), "%s/reroute", rd->conf->spool);
	if ((text = durable_read_file(path, 1024 * 1024, &len, err, errlen)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (line = text; line != NULL && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		memset(&r, 0, sizeof(r));
		if ((sp = strchr(line, ' ')) == NULL || reroute_parse(sp + 1, &r, perr,
		    sizeof(perr)) < 0) {
			log_error("'%s': skipped: %s", path, sp ? perr : line);
			continue;
		}
		*sp = '\0';
		if (reroute_find(rd, line) != NULL) {
			reroute_clear_one(&r);
			continue;
		}
		r.hop = xstrdup(line);
		rd->rr = xrealloc(rd->rr, sizeof(*rd->rr) * (rd->nrr + 1));
		rd->rr[rd->nrr++] = r;
		log_info("next hop %s rerouted by the operator: %s", r.hop, r.route);
	}
	free(text);
	return 0;
}

int relayd_reroute_set(struct relayd *rd, const char *host, const char *route,
	const char *user, char *err, size_t errlen)
{
	struct reroute r, old;
	struct spool_txn *t;
	struct rhop *h;
	struct renv *e;
	const char *kv[4];
	char    hop[80];
	size_t  i;

	memset(&r, 0, sizeof(r));
	str_copy(hop, host, sizeof(hop));
	for (i = 0; hop[i]; i++)
		if (hop[i] >= 'A' && hop[i] <= 'Z')
			hop[i] = (char) (hop[i] - 'A' + 'a');
	if (strlen(host) >= sizeof(hop) || strchr(host, ' ') != NULL || host[0] == '\0') {
		snprintf(err, errlen, "bad next hop '%s'", host);
		return -1;
	}
	for (i = 0; i < rd->nrr && strcmp(rd->rr[i].hop, hop) != 0; i++)
		;
	if (route == NULL) {
		if (i == rd->nrr) {
			snprintf(err, errlen, "no route override for '%s'", hop);
			return -1;
		}
		old = rd->rr[i];
		rd->rr[i] = rd->rr[--rd->nrr];
		if (reroute_save(rd, err, errlen) < 0) {
			rd->rr[rd->nrr++] = rd->rr[i];
			rd->rr[i] = old;
			return -1;
		}
		reroute_clear_one(&old);
	} else {
		if (route_table_hop_by_name(rd->conf->routes, hop) == NULL) {
			snprintf(err, errlen, "'%s' is not a next hop of the [routes] table "
			    "(mailctl route ADDRESS names it)", hop);
			return -1;
		}
		if (reroute_parse(route, &r, err, errlen) < 0)
			return -1;
		r.hop = xstrdup(hop);
		if (i == rd->nrr) {
			rd->rr = xrealloc(rd->rr, sizeof(*rd->rr) * (rd->nrr + 1));
			memset(&rd->rr[rd->nrr], 0, sizeof(*rd->rr));
			rd->nrr++;
		}
		old = rd->rr[i];
		rd->rr[i] = r;
		if (reroute_save(rd, err, errlen) < 0) {
			rd->rr[i] = old;
			if (old.hop == NULL)
				rd->nrr--;
			reroute_clear_one(&r);
			return -1;
		}
		reroute_clear_one(&old);
	}
	t = spool_txn_new(rd->sp);
	kv[0] = route ? "route" : "by";
	kv[1] = route ? rd->rr[i].route : user;
	kv[2] = "by";
	kv[3] = user;
	spool_txn_journal(t, route ? "reroute" : "reroute-cleared", hop, kv, route ? 2 : 1);
	spool_txn_submit(t, NULL, NULL);
	log_info("next hop %s: route %s by %s", hop, route ? rd->rr[i].route
	    : "override cleared", user);
	/* idle calls to the old address end; the hop's copies are due now */
	if ((h = hop_find(rd, hop)) != NULL) {
		struct fcall *fc, *fnext;

		h->alt = 0;
		for (fc = h->calls; fc != NULL; fc = fnext) {
			fnext = fc->next;
			if (!fc->down && fc->up && fc->cur == NULL)
				niftp_call_hangup(fc->call);
		}
	}
	for (e = rd->envs; e != NULL; e = e->next)
		if (!e->local && strcmp(e->hop, hop) == 0)
			e->next_try = 0;
	relayd_schedule(rd);
	return 0;
}

void relayd_reroute_list(const struct relayd *rd, struct buf *out)
{
	size_t  i;

	for (i = 0; i < rd->nrr; i++)
		buf_printf(out, "%s %s\n", rd->rr[i].hop, rd->rr[i].route);
}
