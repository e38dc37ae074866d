/*++
 * NAME
 *	chan_niftp 3
 * SUMMARY
 *	mailrelayd: the niftp channel (donor side)
 * SYNOPSIS
 *	#include "relay/channel.h"
 *	#include "relay/chan_niftp.h"
 *
 *	extern const struct channel_ops chan_niftp_ops;
 * DESCRIPTION
 *	Per next hop, at most [niftp] calls_per_hop calls (default [limits]
 *	calls_per_hop; niftp_call_open to the hop's current alternate,
 *	calling = [node] calling), each carrying one copy after another: a
 *	call that finishes a copy takes the next ready envelope of its hop,
 *	and hangs up after [niftp] idle_hangup (2 s) without one. [niftp]
 *	deflate (yes) offers the private deflate facility. A call that cannot be placed moves the hop to its next
 *	alternate at once; when every alternate failed the envelope is
 *	deferred.
 *
 *	The copy identity is fixed before the first SFT: the prefix (the
 *	hop's address list and the "Via: NODE ; DATE" line, letter_prefix)
 *	is stored as queue/NAME_p_HOP, and the channel's lines of the
 *	envelope docket record the transfer id (1..65534 per hop, never
 *	one still held by another copy), the copy's size and CRC-32, in one
 *	transaction; only then does the transfer start. The copy is the
 *	prefix followed by the stored letter from its header on; a resumed
 *	transfer (mode|0x0100, the same id) sends the same bytes. The SFT
 *	carries "niftpmail-copy NODE/NAME size=N crc=C" (C: 8 hex digits).
 *
 *	Saved state (docket lines, relay/rec.h records): "copy TID SIZE CRC
 *	HOFF", "dk MODE INTERVAL MARK OFFSET DATADONE" (the NIFTP docket of
 *	a transfer that may be resumed), "remote NAME" (the name the next
 *	hop assigned: a peer's text, always escaped). After STOPACK the
 *	queue's result transaction journals "forwarded" with that name and
 *	removes the envelope, its prefix and its docket together.
 *	Crash points: relay-forward-mid-data (each read of the copy),
 *	relay-after-stopack-before-journal.
 *--*/
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mailchannel/addr.h"
#include "mailchannel/letter.h"
#include "mailchannel/route.h"
#include "niftp/niftp_call.h"
#include "relay/chan_niftp.h"
#include "relay/channel.h"
#include "relay/conf.h"
#include "relay/peer.h"
#include "relay/pull.h"
#include "relay/queue.h"
#include "relay/rec.h"
#include "relay/relayd.h"
#include "relay/sched.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/version.h"
#include "util/workq.h"

#define FWD_IDLE_MS	2000	/* default [niftp] idle_hangup */
#define HOP_HELD_MAX	512	/* copies fixed ahead per hop (transfer ids held) */
#define TID_MAX		65534
#define FWD_ADDR_MAX	300	/* a TS address as shown in the journal */
#define FWD_COPYID_MAX	400	/* "niftpmail-copy NODE/NAME size=N crc=C" */
#define FWD_PREFIX_REC	16384	/* a prefix up to this long is kept in the docket, a longer
				 * one (a copy for thousands of recipients) in a file */

struct fcall;
struct rhop;

/* An operator's route override for a next hop: one NIFTP alternate. */
struct reroute {
	char   *hop;		/* next hop name (lower case) */
	char   *route;		/* as given: "niftp ADDR [CALLED]" */
	char   *addr;		/* the TS address to call */
	char   *called;		/* called address, NULL: the default */
};

/* The channel. */
struct chniftp {
	struct relayd *rd;
	struct rhop *hops;
	struct reroute *rr;
	size_t	nrr;
};

/* An envelope's state in this channel (e->cs). */
struct fenv {
	int	working;		/* a preparation or a transfer carries it */
	int	copy;			/* copy identity fixed (tid held) */
	uint16_t tid;
	uint32_t crc;
	uint64_t size;
	uint64_t hoff;
	int	have_dk;		/* *dk is a resumable NIFTP docket */
	struct niftp_docket *dk;	/* made on first use (fdk): most envelopes
					 * of a long queue never need one */
	char   *remote;			/* name the next hop assigned, NULL */
	char   *prefix;			/* the bytes the copy adds (in the docket), or NULL */
	size_t	plen;
	int	pfile;			/* the prefix is the file queue/LETTER_p_HOP */
	char   *via;			/* address of the call that carried it, NULL */
	struct pull_file *pf;		/* pull: the peer's read of it in progress */
};

/* A next hop. Its envelopes wait in unprep (copy identity not fixed
 * yet) or ready (fixed, waiting for a free call). A copy is fixed, and
 * takes a transfer id, only when it is about to be sent: at most
 * HOP_HELD_MAX copies of a hop hold an id at a time (ids held by copies
 * that failed and wait for their retry count too), so any number of
 * queued copies works with 65,534 ids. When the hop is down, all but
 * HOP_HELD_MAX of its envelopes wait in unprep: an operator action takes
 * them back from there (chn_take_back). */
struct rhop {
	struct rhop *next;
	char	name[300];
	unsigned alt;			/* current alternate */
	unsigned alt_fails;		/* consecutive unreachable alternates */
	uint16_t next_tid;
	unsigned char *tids;		/* bit per transfer id held by a docket */
	unsigned nheld;			/* bits set */
	unsigned npreparing;		/* copy_prepare() in flight */
	struct qenvq unprep;
	struct qenvq ready;
	struct fcall *calls;
	unsigned ncalls;
};

struct fcall {
	struct chniftp *cn;
	struct rhop *hop;
	struct fcall *next;
	struct niftp_call *call;
	struct qenv *cur;
	int	up;
	int	down;
	uint64_t idle_timer;
	uint64_t reap_timer;
	char	addr[FWD_ADDR_MAX];
};

struct niftp_file {
	int	pfd;			/* the prefix file, or -1: pmem */
	char   *pmem;			/* the prefix from the docket (a copy) */
	int	lfd;
	uint64_t plen;
	uint64_t hoff;
	uint64_t off;
	uint64_t size;
};

/* settings - the [niftp] settings of the current configuration */
static struct chan_niftp_settings settings(const struct chniftp *cn)
{
	const struct chan_niftp_settings *st = cn->rd->conf->chconf[ROUTE_CH_NIFTP];
	struct chan_niftp_settings def;

	if (st != NULL)
		return *st;
	def.calls_per_hop = cn->rd->conf->calls_per_hop;
	def.idle_ms = FWD_IDLE_MS;
	def.deflate = 1;
	return def;
}

static struct fenv *fenv(struct qenv *e)
{
	if (e->cs == NULL)
		e->cs = xcalloc(1, sizeof(struct fenv));
	return e->cs;
}

/* fdk - f's NIFTP docket (made zeroed on first use) */
static struct niftp_docket *fdk(struct fenv *f)
{
	if (f->dk == NULL)
		f->dk = xcalloc(1, sizeof(*f->dk));
	return f->dk;
}

static void set_str(char **sp, const char *s)
{
	char   *old = *sp;

	*sp = s != NULL && *s ? xstrdup(s) : NULL;
	free(old);
}

/* --- results ------------------------------------------------------------------ */

/* fwd_all - every recipient of e has the same outcome */
static void fwd_all(struct chniftp *cn, struct qenv *e, enum qoutcome what, const char *reason)
{
	struct qresult r;

	qenvq_del(e);
	fenv(e)->working = 0;
	memset(&r, 0, sizeof(r));
	r.all = what;
	r.reason = reason;
	queue_result(cn->rd->q, e, &r);
}

static void fwd_deferred(struct chniftp *cn, struct qenv *e, const char *reason)
{
	fwd_all(cn, e, QOUT_DEFER, reason && *reason ? reason : "temporary failure");
}

static void fwd_failed(struct chniftp *cn, struct qenv *e, const char *reason)
{
	fwd_all(cn, e, QOUT_FAIL, reason);
}

static void fwd_forwarded(struct chniftp *cn, struct qenv *e)
{
	struct fenv *f = fenv(e);
	struct qresult r;
	char    tid[16];
	const char *kv[2];

	f->working = 0;
	snprintf(tid, sizeof(tid), "%u", f->tid);
	kv[0] = "tid";
	kv[1] = tid;
	memset(&r, 0, sizeof(r));
	r.all = QOUT_DONE;
	r.remote = f->remote;
	r.via = f->via;
	r.kv = kv;
	r.nkv = 1;
	queue_result(cn->rd->q, e, &r);
}

/* --- hops and transfer ids ------------------------------------------------------ */

static struct rhop *hop_find(struct chniftp *cn, const char *name)
{
	struct rhop *h;

	for (h = cn->hops; h != NULL; h = h->next)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

static struct rhop *hop_get(struct chniftp *cn, const char *name)
{
	struct rhop *h = hop_find(cn, name);

	if (h != NULL)
		return h;
	h = xcalloc(1, sizeof(*h));
	str_copy(h->name, name, sizeof(h->name));
	h->next_tid = (uint16_t) (time(NULL) % 60000 + 1);
	h->tids = xcalloc((TID_MAX + 8) / 8 + 1, 1);
	h->next = cn->hops;
	cn->hops = h;
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

static void hop_pump(struct chniftp *cn, struct rhop *h);

/* prefix_name - queue/LETTER_p_HOP: the bytes the copy adds */
static void prefix_name(const struct qenv *e, char *dst, size_t len)
{
	/* the envelope is LETTER_f_HOP: the prefix shares its hop part */
	const char *f = strstr(e->name, "_f_");

	snprintf(dst, len, "%.*s_p_%s", (int) (f ? f - e->name : 0), e->name, f ? f + 3 : "");
}

/* --- the copy as a filestore (P reads) -------------------------------------------- */

/* copy_open - a reader of e's fixed copy (its prefix, then the stored
 * letter from its header on): 0 with res->fh, name and size, or -1 with
 * res->state and reason */
static int copy_open(struct relayd *rd, struct qenv *e, struct niftp_open *res)
{
	struct fenv *f;
	struct niftp_file *fh;
	char    path[PATH_MAX], pn[SPOOL_NAMELEN * 2];
	struct stat st;

	if (e == NULL || e->l == NULL) {
		res->state = NIFTP_ST_REJ_LATER;
		str_copy(res->reason, "no copy to send", sizeof(res->reason));
		return -1;
	}
	f = fenv(e);
	fh = xcalloc(1, sizeof(*fh));
	fh->pfd = fh->lfd = -1;
	if (!f->pfile) {
		fh->pmem = xmalloc(f->plen ? f->plen : 1);
		if (f->plen)
			memcpy(fh->pmem, f->prefix, f->plen);
		fh->plen = f->plen;
	} else {
		prefix_name(e, pn, sizeof(pn));
		if (spool_path(rd->sp, SPOOL_QUEUE, pn, path, sizeof(path)) == NULL
		    || (fh->pfd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fh->pfd, &st) < 0)
			goto fail;
		fh->plen = (uint64_t) st.st_size;
	}
	if (spool_path(rd->sp, SPOOL_QUEUE, e->l->name, path, sizeof(path)) == NULL
	    || (fh->lfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	fh->hoff = f->hoff;
	fh->size = f->size;
	res->fh = fh;
	res->size = (int64_t) f->size;
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
	free(fh->pmem);
	free(fh);
	return -1;
}

static int fwd_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct fcall *fc = fs;

	(void) req;
	return copy_open(fc->cn->rd, fc->cur, res);
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

		if (fh->pfd < 0) {
			memcpy(p, fh->pmem + fh->off, want);
			n = (ssize_t) want;
		} else
			n = pread(fh->pfd, p, want, (off_t) fh->off);
	} else
		n = pread(fh->lfd, p, len, (off_t) (fh->hoff + fh->off - fh->plen));
	if (n < 0) {
		snprintf(reason, NIFTP_REASON_MAX, "read copy: %s", strerror(errno));
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
	snprintf(reason, NIFTP_REASON_MAX, "not writable");
	return -1;
}

static int fwd_seek(struct niftp_file *fh, uint64_t offset, char *reason)
{
	if (offset > fh->size) {
		snprintf(reason, NIFTP_REASON_MAX, "seek copy to %llu: beyond its end",
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
	snprintf(reason, NIFTP_REASON_MAX, "not writable");
	return -1;
}

static void fwd_close(struct niftp_file *fh)
{
	if (fh->pfd >= 0)
		close(fh->pfd);
	if (fh->lfd >= 0)
		close(fh->lfd);
	free(fh->pmem);
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
	NULL,
};

/* --- calls ------------------------------------------------------------------------ */

static void fcall_next(struct fcall *fc);

static void fcall_free(struct fcall *fc)
{
	struct rhop *h = fc->hop;
	struct fcall **pp;

	if (fc->idle_timer)
		loop_timer_del(fc->cn->rd->loop, fc->idle_timer);
	if (fc->reap_timer)
		loop_timer_del(fc->cn->rd->loop, fc->reap_timer);
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
	struct chniftp *cn = fc->cn;
	struct rhop *h = fc->hop;

	(void) loop;
	fc->reap_timer = 0;
	fcall_free(fc);
	hop_pump(cn, h);		/* a call slot is free */
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
	struct qenv *e = fc->cur;
	struct fenv *f;

	if (e == NULL || d == NULL)
		return 0;
	f = fenv(e);
	f->have_dk = d->tid != 0;
	if (f->have_dk)
		*fdk(f) = *d;
	/* Kept in memory only: after a crash a fixed copy without a saved
	 * docket resumes with 0xFFFF ("only STOP left", chn_env_loaded),
	 * which is exactly what this docket would say once ER(OK) came, so
	 * saving it would cost a transaction per letter for nothing. */
	return 0;
}

static void fwd_event(void *arg, struct niftp_call *call, const struct niftp_event *ev)
{
	struct fcall *fc = arg;
	struct chniftp *cn = fc->cn;
	struct qenv *e = fc->cur;
	const struct niftp_docket *d;
	struct fenv *f;

	if (e == NULL)
		return;
	f = fenv(e);
	switch (ev->type) {
	case NIFTP_EV_POS:
		if (ev->name && *ev->name)
			set_str(&f->remote, ev->name);
		break;
	case NIFTP_EV_DONE:
		if (!fc->up && ev->status != NIFTP_OK)
			return;		/* never reached: fwd_callev tries the alternates */
		fc->cur = NULL;
		if (ev->name && *ev->name)
			set_str(&f->remote, ev->name);
		switch (ev->status) {
		case NIFTP_OK:
			crash_point("relay-after-stopack-before-journal");
			set_str(&f->via, fc->addr);
			fc->hop->alt_fails = 0;
			fwd_forwarded(cn, e);
			break;
		case NIFTP_ERR_RESUMABLE:
			if ((d = niftp_docket(niftp_call_engine(call))) != NULL && d->tid != 0) {
				*fdk(f) = *d;
				f->have_dk = 1;
			}
			fwd_deferred(cn, e, ev->reason ? ev->reason : "call broken");
			break;
		case NIFTP_ERR_NORESUME:
			f->have_dk = 0;
			f->working = 0;
			log_info("'%s' to %s: cannot resume (%s): sending afresh", e->l->name,
			    e->hop, ev->reason ? ev->reason : "");
			queue_requeue(cn->rd->q, e);
			break;
		case NIFTP_ERR_AUTH:
			if ((ev->state & 0xF000) == NIFTP_ST_REJECTED) {
				/* our credentials (or their absence) refused at the
				 * SFT: the link's configuration, which an operator
				 * mends; the letters wait (as Postfix defers on a
				 * failed login). Relaying denied (QR 0x23) is final. */
				char    why[QUEUE_REASON_MAX];

				snprintf(why, sizeof(why), "credentials refused by %s (see [peer %s]"
				    " at both ends): %s", e->hop, e->hop,
				    ev->reason ? ev->reason : niftp_status_str(ev->status));
				log_warn("'%s' to %s: %s", e->l->name, e->hop, why);
				fwd_deferred(cn, e, why);
				break;
			}
			/* FALLTHROUGH */
		case NIFTP_ERR_PERM: {
			char    why[QUEUE_REASON_MAX];

			snprintf(why, sizeof(why), "refused by %s: %s", e->hop,
			    ev->reason ? ev->reason : niftp_status_str(ev->status));
			fwd_failed(cn, e, why);
			break;
		}
		default:
			fwd_deferred(cn, e, ev->reason ? ev->reason : niftp_status_str(ev->status));
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
	struct chniftp *cn = fc->cn;
	struct qenv *e = fc->cur;

	(void) call;
	if (ev == NIFTP_CALL_EV_UP) {
		fc->up = 1;
		h->alt_fails = 0;
		return;
	}
	fc->down = 1;
	fc->cur = NULL;
	if (e != NULL) {
		const struct route_hop *rh = route_table_hop_by_name(cn->rd->conf->routes, h->name);
		char    why[QUEUE_REASON_MAX];

		if (!fc->up && rh != NULL) {
			h->alt_fails++;
			h->alt = (h->alt + 1) % (unsigned) rh->nalts;
			if (h->alt_fails < rh->nalts) {
				/* try the next alternate at once (when reaped) */
				fenv(e)->working = 0;
				qenvq_add(&h->ready, e);
				goto reap;
			}
			h->alt_fails = 0;
		}
		snprintf(why, sizeof(why), "%s%s (reason %d)", fc->up ? "call broken: "
		    : "unreachable: ", text ? text : "", reason);
		fwd_deferred(cn, e, why);
	}
reap:
	if (fc->reap_timer == 0)
		fc->reap_timer = loop_timer_add(cn->rd->loop, 0, fcall_reap, fc);
}

/* --- fixing a copy's identity --------------------------------------------------------- */

/* Fixing a copy's identity reads the whole letter (its CRC-32): the
 * reading is done on a worker (prep_work), the spool work on the loop
 * thread (prep_job_done). */
struct prep_job {
	struct relayd *rd;
	struct chniftp *cn;		/* a copy to push, or NULL: */
	struct chpull *cp;		/* a copy to be pulled */
	struct qenv *e;
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
	struct chniftp *cn;		/* a push's channel, or */
	struct chpull *cp;		/* a pull's */
	struct qenv *e;
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

/* copy_fix - after prep_work: store e's prefix (a file of its own when
 * long) and fix its copy identity under tid (0: a copy to be pulled);
 * the transaction that makes it durable (to submit), or NULL with err */
static struct spool_txn *copy_fix(struct relayd *rd, struct qenv *e, struct prep_job *pj,
	uint16_t tid, char *err, size_t errlen)
{
	struct fenv *f = fenv(e);
	struct spool_file *sf = NULL;
	struct spool_txn *t;
	char    pn[SPOOL_NAMELEN * 2];

	free(f->prefix);
	f->prefix = NULL;
	f->plen = 0;
	f->pfile = pj->pre.len > FWD_PREFIX_REC;
	if (f->pfile) {
		/* a long prefix is a file of its own */
		prefix_name(e, pn, sizeof(pn));
		if (spool_exists(rd->sp, SPOOL_QUEUE, pn)) {
			/* left by a crash before the docket: replace it */
			struct spool_txn *rt = spool_txn_new(rd->sp);

			spool_txn_remove(rt, SPOOL_QUEUE, pn);
			(void) spool_txn_run(rt, NULL, 0);
		}
		if ((sf = spool_create(rd->sp, pn, err, errlen)) == NULL
		    || spool_write(sf, buf_data(&pj->pre), pj->pre.len, err, errlen) < 0) {
			if (sf)
				spool_file_abort(sf);
			return NULL;
		}
	} else {
		f->plen = pj->pre.len;
		f->prefix = xmalloc(f->plen ? f->plen : 1);
		memcpy(f->prefix, buf_data(&pj->pre), f->plen);
	}
	f->tid = tid;
	f->hoff = pj->hoff;
	f->size = pj->total;
	f->crc = pj->crc;
	f->copy = 1;
	f->have_dk = 0;
	t = spool_txn_new(rd->sp);
	if (sf != NULL)
		spool_txn_commit(t, sf, SPOOL_QUEUE);
	queue_env_save(rd->q, e, t);
	return t;
}

/* prep_job_done - store the prefix and the copy identity (one transaction) */
static void prep_job_done(void *arg)
{
	struct prep_job *pj = arg;
	struct chniftp *cn = pj->cn;
	struct relayd *rd = cn->rd;
	struct qenv *e = pj->e;
	struct rhop *h = hop_get(cn, e->hop);
	struct spool_txn *t;
	struct prep *p;
	char    err[RELAYD_ERRLEN];
	uint16_t tid;

	rd->jobs--;
	h->npreparing--;
	if (!pj->ok) {
		fwd_deferred(cn, e, pj->err);
		goto out;
	}
	/* a transfer id no unresolved docket of this hop holds */
	if ((tid = tid_take(h)) == 0) {
		fwd_deferred(cn, e, "no free transfer id for this next hop");
		goto out;
	}
	if ((t = copy_fix(rd, e, pj, tid, err, sizeof(err))) == NULL) {
		tid_clear(h, tid);
		fwd_deferred(cn, e, err);
		goto out;
	}
	p = xcalloc(1, sizeof(*p));
	p->cn = cn;
	p->e = e;
	spool_txn_submit(t, prep_done, p);
out:
	prep_job_free(pj);
	hop_pump(cn, h);
}

/* prep_job_new - the job that reads e's letter to fix its copy */
static struct prep_job *prep_job_new(struct relayd *rd, struct qenv *e)
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
	fenv(e)->working = 1;
	rd->jobs++;
	return pj;
}

/* copy_prepare - fix the copy identity of e (on a worker, then the loop) */
static void copy_prepare(struct chniftp *cn, struct rhop *h, struct qenv *e)
{
	struct prep_job *pj = prep_job_new(cn->rd, e);

	pj->cn = cn;
	h->npreparing++;
	workq_submit(cn->rd->wq, prep_work, prep_job_done, pj);
}

/* transfer_start - start e's transfer on fc */
static void transfer_start(struct fcall *fc, struct qenv *e)
{
	struct chniftp *cn = fc->cn;
	struct fenv *f = fenv(e);
	struct niftp_req req;
	char    copy_id[FWD_COPYID_MAX];

	if (fc->idle_timer) {
		loop_timer_del(cn->rd->loop, fc->idle_timer);
		fc->idle_timer = 0;
	}
	qenvq_del(e);
	fc->cur = e;
	f->working = 1;
	memset(&req, 0, sizeof(req));
	req.mode = NIFTP_MODE_REPLACE_MAKE;
	req.mail = 1;
	req.tid = f->tid;
	req.size = (int64_t) f->size;
	snprintf(copy_id, sizeof(copy_id), "niftpmail-copy %s/%s size=%llu crc=%08lx",
	    cn->rd->conf->name, e->l->name, (unsigned long long) f->size, (unsigned long) f->crc);
	req.copy_id = copy_id;
	{
		/* the link's credentials, when the next hop is a [peer] with
		 * them (never over rawtcp:, relay/peer.h); else "no value" */
		const struct conf_peer *p = peer_for_hop(cn->rd->conf, fc->hop->name, fc->addr);

		if (p != NULL) {
			req.username = p->username;
			req.password = p->password;
		}
	}
	if (f->have_dk)
		niftp_resume_req(&req, fdk(f));
	set_str(&f->remote, NULL);
	if (niftp_call_start(fc->call, &req) < 0) {
		fc->cur = NULL;
		fwd_deferred(cn, e, "the transfer could not be started");
	}
}

static void prep_done(void *arg, int ok, const char *err)
{
	struct prep *p = arg;
	struct chniftp *cn = p->cn;
	struct qenv *e = p->e;
	struct fenv *f = fenv(e);
	struct rhop *h = hop_get(cn, e->hop);

	f->working = 0;
	if (!ok) {
		f->copy = 0;
		tid_clear(h, f->tid);	/* the docket was not written */
		log_error("store copy of '%s' for %s: %s", e->l->name, e->hop, err);
		fwd_deferred(cn, e, err);
	} else if (!cn->rd->stopping)
		qenvq_add(&h->ready, e);
	hop_pump(cn, h);
	free(p);
}

static const struct reroute *reroute_find(const struct chniftp *cn, const char *hop);
static void reroute_clear_one(struct reroute *r);

/* fcall_new - place a call to h's current alternate carrying e; 0, or
 * -1 (e deferred) */
static int fcall_new(struct chniftp *cn, struct rhop *h, const struct route_hop *rh,
	struct qenv *e)
{
	struct relayd *rd = cn->rd;
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
	if ((rr = reroute_find(cn, h->name)) != NULL) {
		/* mailctl reroute: the operator's address before the table's */
		memset(&ov, 0, sizeof(ov));
		ov.channel = ROUTE_CH_NIFTP;
		ov.addr = rr->addr;
		ov.called = rr->called;
		alt = &ov;
	}
	fc = xcalloc(1, sizeof(*fc));
	fc->cn = cn;
	fc->hop = h;
	str_copy(fc->addr, alt->shown ? alt->shown : alt->addr, sizeof(fc->addr));
	memset(&hooks, 0, sizeof(hooks));
	hooks.event = fwd_event;
	hooks.call = fwd_callev;
	hooks.docket_save = docket_hook;
	memset(&cfg, 0, sizeof(cfg));
	cfg.info = VERSION_LINE("mailrelayd");
	cfg.deflate = settings(cn).deflate;
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
		fwd_deferred(cn, e, err);
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
static void hop_pump(struct chniftp *cn, struct rhop *h)
{
	struct relayd *rd = cn->rd;
	const struct route_hop *rh;
	struct qenv *e;
	struct fcall *fc;

	if (rd->stopping)
		return;
	while ((e = h->unprep.head) != NULL && h->nheld + h->npreparing < HOP_HELD_MAX) {
		qenvq_del(e);
		if (fenv(e)->copy)
			qenvq_add(&h->ready, e);
		else
			copy_prepare(cn, h, e);
	}
	if (h->ready.head == NULL)
		return;
	if ((rh = route_table_hop_by_name(rd->conf->routes, h->name)) == NULL) {
		while ((e = h->ready.head) != NULL)
			fwd_deferred(cn, e, "no route for this next hop in the configuration");
		return;
	}
	while ((e = h->ready.head) != NULL) {
		for (fc = h->calls; fc != NULL; fc = fc->next)
			if (!fc->down && fc->cur == NULL && fc->up)
				break;
		if (fc != NULL) {
			transfer_start(fc, e);
			continue;
		}
		if (h->ncalls >= settings(cn).calls_per_hop)
			break;		/* waits for a call to become free */
		(void) fcall_new(cn, h, rh, e);
	}
}

/* fcall_next - give an idle call the next ready copy of its hop */
static void fcall_next(struct fcall *fc)
{
	struct chniftp *cn = fc->cn;

	if (cn->rd->stopping) {
		niftp_call_hangup(fc->call);
		return;
	}
	hop_pump(cn, fc->hop);
	if (fc->cur == NULL && !fc->down && fc->idle_timer == 0)
		fc->idle_timer = loop_timer_add(cn->rd->loop, settings(cn).idle_ms, fcall_idle_over,
		    fc);
}

/* --- the channel interface ---------------------------------------------------------------- */

static int reroute_load(struct chniftp *cn, char *err, size_t errlen);

static void *chn_init(struct relayd *rd, char *err, size_t errlen)
{
	struct chniftp *cn = xcalloc(1, sizeof(*cn));

	cn->rd = rd;
	if (reroute_load(cn, err, errlen) < 0)
		log_error("route overrides (mailctl reroute): %s", err);
	return cn;
}

/* chn_start - e is due: queue it on its hop (fixing its copy first when
 * needed) and start what can start */
static void chn_start(void *self, struct qenv *e)
{
	struct chniftp *cn = self;
	struct rhop *h = hop_get(cn, e->hop);

	qenvq_add(fenv(e)->copy ? &h->ready : &h->unprep, e);
	hop_pump(cn, h);
}

/* chn_take_back - e waits in its hop's unprep list with nothing begun
 * (no copy identity fixed: no transfer id taken, nothing saved, no job
 * reading it): it can go back to the queue. Anything further along
 * stays: a copy being fixed (a job, then its transaction), one fixed and
 * waiting for a call (its transfer id is in its docket), one being sent,
 * and one whose docket holds what an earlier try began (a resumable
 * NIFTP docket, the name the next hop assigned). */
static int chn_take_back(void *self, struct qenv *e)
{
	struct chniftp *cn = self;
	struct rhop *h = hop_find(cn, e->hop);
	struct fenv *f = e->cs;

	if (h == NULL || e->q != &h->unprep)
		return 0;
	if (f != NULL && (f->working || f->copy || f->have_dk || f->remote != NULL))
		return 0;
	qenvq_del(e);
	if (f != NULL && f->prefix == NULL && f->via == NULL) {
		/* the empty state start() made: none (as chn_env_loaded) */
		free(f->dk);
		free(f);
		e->cs = NULL;
	}
	return 1;
}

static int chn_busy(const void *self)
{
	const struct chniftp *cn = self;
	const struct rhop *h;

	for (h = cn->hops; h != NULL; h = h->next)
		if (h->calls != NULL || h->npreparing > 0)
			return 1;
	return 0;
}

static void chn_stop(void *self, int now)
{
	struct chniftp *cn = self;
	struct rhop *h;
	struct fcall *fc;

	for (h = cn->hops; h != NULL; h = h->next)
		for (fc = h->calls; fc != NULL; fc = fc->next) {
			if (fc->down)
				continue;
			if (now)
				niftp_call_abort(fc->call, TS_R_OUTOFORDER, "mail relay shutting down");
			else if (fc->cur == NULL)
				niftp_call_hangup(fc->call);
		}
}

static void chn_free(void *self)
{
	struct chniftp *cn = self;
	struct rhop *h;

	if (cn == NULL)
		return;
	while ((h = cn->hops) != NULL) {
		while (h->calls != NULL)
			fcall_free(h->calls);
		while (h->unprep.head != NULL)
			qenvq_del(h->unprep.head);
		while (h->ready.head != NULL)
			qenvq_del(h->ready.head);
		cn->hops = h->next;
		free(h->tids);
		free(h);
	}
	while (cn->nrr > 0)
		reroute_clear_one(&cn->rr[--cn->nrr]);
	free(cn->rr);
	free(cn);
}

static void chn_env_save(void *self, const struct qenv *e, struct buf *b)
{
	const struct fenv *f = e->cs;

	(void) self;
	if (f == NULL)
		return;
	if (f->copy)
		rec_addf(b, "copy", "%u %llu %08lx %llu", f->tid, (unsigned long long) f->size,
		    (unsigned long) f->crc, (unsigned long long) f->hoff);
	if (f->have_dk && f->dk != NULL)
		rec_addf(b, "dk", "%u %lu %lu %llu %d", f->dk->mode,
		    (unsigned long) f->dk->mark_interval, (unsigned long) f->dk->mark,
		    (unsigned long long) f->dk->offset, f->dk->data_done);
	if (f->remote)
		rec_add(b, "remote", f->remote);	/* a peer's text: escaped */
	if (f->copy && !f->pfile)
		rec_addn(b, "prefix", f->prefix ? f->prefix : "", f->plen);
}

/* words - split val (a copy in buf) into at most max space-separated words */
static size_t words(const char *val, char *buf, size_t len, char **w, size_t max)
{
	size_t  n = 0;
	char   *p;

	str_copy(buf, val, len);
	for (p = buf; *p && n < max + 1;) {
		w[n < max ? n : max - 1] = p;
		n++;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static int chn_env_load(void *self, struct qenv *e, const char *key, const char *val,
	size_t vlen, char *err, size_t errlen)
{
	struct fenv *f = fenv(e);
	char    b[256], *w[5];
	uint64_t v[5];
	size_t  i;

	(void) self;
	if (strcmp(key, "remote") == 0) {
		set_str(&f->remote, val);
		return 0;
	}
	if (strcmp(key, "prefix") == 0 && f->prefix == NULL) {
		f->plen = vlen;
		f->prefix = xmalloc(vlen ? vlen : 1);
		memcpy(f->prefix, val, vlen);
		return 0;
	}
	if (strcmp(key, "copy") == 0 && !f->copy) {
		if (words(val, b, sizeof(b), w, 4) != 4
		    || rec_u64(w[0], 0, TID_MAX, &v[0]) < 0	/* 0: a copy to be pulled */
		    || rec_u64(w[1], 0, INT64_MAX, &v[1]) < 0
		    || strlen(w[2]) != 8 || strspn(w[2], "0123456789abcdef") != 8
		    || rec_u64(w[3], 0, INT64_MAX, &v[3]) < 0)
			goto bad;
		f->copy = 1;
		f->tid = (uint16_t) v[0];
		f->size = v[1];
		f->crc = (uint32_t) strtoul(w[2], NULL, 16);
		f->hoff = v[3];
		return 0;
	}
	if (strcmp(key, "dk") == 0 && !f->have_dk) {
		static const uint64_t max[5] = { 0xffff, UINT32_MAX, UINT32_MAX, INT64_MAX, 1 };

		if (words(val, b, sizeof(b), w, 5) != 5)
			goto bad;
		for (i = 0; i < 5; i++)
			if (rec_u64(w[i], 0, max[i], &v[i]) < 0)
				goto bad;
		memset(fdk(f), 0, sizeof(*f->dk));
		fdk(f)->mode = (uint16_t) v[0];
		fdk(f)->mark_interval = (uint32_t) v[1];
		fdk(f)->mark = (uint32_t) v[2];
		fdk(f)->offset = v[3];
		fdk(f)->data_done = (int) v[4];
		f->have_dk = 1;
		return 0;
	}
	snprintf(err, errlen, "unknown or repeated key '%s'", key);
	return -1;
bad:
	snprintf(err, errlen, "bad value for '%s'", key);
	return -1;
}

static void chn_env_loaded(void *self, struct qenv *e)
{
	struct chniftp *cn = self;
	struct fenv *f = fenv(e);

	if (f->copy && f->tid == 0)
		f->copy = 0;	/* fixed to be pulled (the route changed since): afresh */

	if (f->have_dk)
		fdk(f)->tid = f->tid;
	if (f->copy && !f->have_dk) {
		/* The copy was fixed before this start, so its SFT may have
		 * gone out and the next hop may hold it committed (a crash
		 * before our docket said so): never send it afresh under the
		 * same id, resume "only STOP left". The next hop answers with
		 * the same name, grants the mark it holds, or 0x1004 (then we
		 * send afresh). */
		memset(fdk(f), 0, sizeof(*f->dk));
		fdk(f)->tid = f->tid;
		fdk(f)->mode = NIFTP_MODE_REPLACE_MAKE;
		fdk(f)->mark_interval = niftp_mark_interval((int64_t) f->size);
		fdk(f)->data_done = 1;
		f->have_dk = 1;
	}
	if (f->copy && f->prefix == NULL)
		f->pfile = 1;	/* a long prefix, or a spool of an older version: its file */
	if (f->copy)
		tid_set(hop_get(cn, e->hop), f->tid);
	else if (!f->have_dk && !f->working && f->remote == NULL && f->prefix == NULL
	    && f->via == NULL) {
		/* nothing saved: no state until it is sent (fenv() makes it),
		 * so that a long queue costs no channel memory */
		free(f->dk);
		free(f);
		e->cs = NULL;
	}
}

/* prefix_leaving - add to t the removal of e's prefix file, if it has one */
static void prefix_leaving(struct relayd *rd, struct qenv *e, struct spool_txn *t)
{
	char    pn[SPOOL_NAMELEN * 2];

	if (e->cs == NULL || !fenv(e)->copy || !fenv(e)->pfile)
		return;
	prefix_name(e, pn, sizeof(pn));
	if (spool_exists(rd->sp, SPOOL_QUEUE, pn))
		spool_txn_remove(t, SPOOL_QUEUE, pn);
}

/* fenv_free - forget e's state in its channel (niftp or pull) */
static void fenv_free(struct qenv *e)
{
	struct fenv *f = e->cs;

	qenvq_del(e);
	free(f->remote);
	free(f->prefix);
	free(f->via);
	free(f->dk);
	free(f);
	e->cs = NULL;
}

static void chn_env_leaving(void *self, struct qenv *e, struct spool_txn *t)
{
	struct chniftp *cn = self;

	prefix_leaving(cn->rd, e, t);
}

static void chn_env_gone(void *self, struct qenv *e, int released)
{
	struct chniftp *cn = self;
	struct fenv *f = e->cs;
	struct rhop *h;

	if (f == NULL)
		return;
	qenvq_del(e);	/* before hop_pump() */
	if (released && f->copy && (h = hop_find(cn, e->hop)) != NULL) {
		tid_clear(h, f->tid);		/* its docket is resolved */
		hop_pump(cn, h);
	}
	fenv_free(e);
}

struct orphan {
	int	finished;
	char	remote[FWD_ADDR_MAX];
	char	tid[16];
};

static int orphan_line(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct orphan *o = arg;
	unsigned u;

	(void) vlen;
	(void) err;
	(void) errlen;
	if (strcmp(key, "finished") == 0)
		o->finished = strcmp(val, "1") == 0;
	else if (strcmp(key, "remote") == 0)
		str_copy(o->remote, val, sizeof(o->remote));
	else if (strcmp(key, "copy") == 0 && sscanf(val, "%u", &u) == 1)
		snprintf(o->tid, sizeof(o->tid), "%u", u);
	return 0;
}

/* orphan_prefix - queue/PNAME is the prefix of envelope ENAME, which is
 * gone: a removal cut short by a crash (spools of older versions; the
 * spool's redo of a cut batch finishes such removals now). If the
 * envelope's docket is still there and holds the name the next hop
 * assigned (not finished otherwise), the forwarded line may be lost:
 * journal it again (recovered=1). Then remove the prefix and the docket. */
static void orphan_prefix(struct chniftp *cn, const char *pname, const char *ename,
	size_t llen, const char *hop)
{
	struct relayd *rd = cn->rd;
	struct spool_txn *t = spool_txn_new(rd->sp);
	char    key[SPOOL_NAMELEN * 2 + 8], err[SPOOL_ERRLEN], letter[SPOOL_NAMELEN];
	char   *text;
	const char *kv[8];
	struct orphan o;
	size_t  len;

	memset(&o, 0, sizeof(o));
	snprintf(letter, sizeof(letter), "%.*s", (int) llen, pname);
	snprintf(key, sizeof(key), "env %s", ename);
	if ((text = spool_docket_get(rd->sp, key, &len, NULL, err, sizeof(err))) != NULL) {
		if (rec_each(text, len, orphan_line, &o, err, sizeof(err)) < 0)
			log_error("docket '%s' is malformed: %s", key, err);
		else if (!o.finished && o.remote[0]) {
			kv[0] = "to";
			kv[1] = hop;
			kv[2] = "remote";
			kv[3] = o.remote;
			kv[4] = "tid";
			kv[5] = o.tid[0] ? o.tid : "-";
			kv[6] = "recovered";
			kv[7] = "1";
			spool_txn_journal(t, "forwarded", letter, kv, 4);
		}
		free(text);
		spool_txn_docket_del(t, key);
	}
	log_info("removing '%s': its envelope '%s' was removed before a crash", pname, ename);
	spool_txn_remove(t, SPOOL_QUEUE, pname);
	if (spool_txn_run(t, err, sizeof(err)) < 0)
		log_error("remove '%s': %s", pname, err);
}

static void chn_recover(void *self, char *const *names, size_t n)
{
	struct chniftp *cn = self;
	char    ename[SPOOL_NAMELEN * 2];
	size_t  i;

	for (i = 0; i < n; i++) {
		const char *nm = names[i];
		const char *pp = strstr(nm, "_p_");

		if (!nm[0] || pp == NULL)
			continue;
		snprintf(ename, sizeof(ename), "%.*s_f_%s", (int) (pp - nm), nm, pp + 3);
		if (spool_exists(cn->rd->sp, SPOOL_QUEUE, ename))
			continue;
		orphan_prefix(cn, nm, ename, (size_t) (pp - nm), pp + 3);
	}
}

static const char *const chn_keys[] = { "calls_per_hop", "idle_hangup", "deflate", NULL };

/* chn_conf_load - the [niftp] section (absent: the defaults) */
static void *chn_conf_load(struct conf_sect *s)
{
	struct chan_niftp_settings *st = xcalloc(1, sizeof(*st));
	uint64_t n;

	st->calls_per_hop = conf_sect_conf(s)->calls_per_hop;
	st->idle_ms = FWD_IDLE_MS;
	st->deflate = 1;
	if (conf_sect_num(s, "calls_per_hop", 1, 64, &n) > 0)
		st->calls_per_hop = (unsigned) n;
	(void) conf_sect_dur(s, "idle_hangup", 0, 3600 * 1000, &st->idle_ms);
	(void) conf_sect_bool(s, "deflate", &st->deflate);
	return st;
}

static void chn_conf_free(void *cfg)
{
	free(cfg);
}

const struct channel_ops chan_niftp_ops = {
	.name = "niftp",
	.section = "niftp",
	.keys = chn_keys,
	.conf_load = chn_conf_load,
	.conf_free = chn_conf_free,
	.init = chn_init,
	.start = chn_start,
	.take_back = chn_take_back,
	.busy = chn_busy,
	.stop = chn_stop,
	.free = chn_free,
	.env_save = chn_env_save,
	.env_load = chn_env_load,
	.env_loaded = chn_env_loaded,
	.env_leaving = chn_env_leaving,
	.env_gone = chn_env_gone,
	.recover = chn_recover,
};

/* --- operator route overrides (mailctl reroute) --------------------------------------- */

static void reroute_clear_one(struct reroute *r)
{
	free(r->hop);
	free(r->route);
	free(r->addr);
	free(r->called);
}

static const struct reroute *reroute_find(const struct chniftp *cn, const char *hop)
{
	size_t  i;

	for (i = 0; i < cn->nrr; i++)
		if (strcmp(cn->rr[i].hop, hop) == 0)
			return &cn->rr[i];
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
static int reroute_save(struct chniftp *cn, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(1024 * 1024);
	char    path[PATH_MAX], derr[DURABLE_ERRLEN];
	size_t  i;
	int     rc = 0;

	snprintf(path, sizeof(path), "%s/reroute", cn->rd->conf->spool);
	buf_printf(&b, "# mailctl reroute: next hop, route (do not edit while the daemon "
	    "runs)\n");
	for (i = 0; i < cn->nrr; i++)
		buf_printf(&b, "%s %s\n", cn->rr[i].hop, cn->rr[i].route);
	if (durable_write_file(path, buf_data(&b), b.len, derr, sizeof(derr)) < 0) {
		snprintf(err, errlen, "write '%s': %s", path, derr);
		rc = -1;
	}
	buf_release(&b);
	return rc;
}

static int reroute_load(struct chniftp *cn, char *err, size_t errlen)
{
	char    path[PATH_MAX], perr[RELAYD_ERRLEN];
	char   *text, *line, *next, *sp;
	size_t  len;
	struct reroute r;

	snprintf(path, sizeof(path), "%s/reroute", cn->rd->conf->spool);
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
		if (reroute_find(cn, line) != NULL) {
			reroute_clear_one(&r);
			continue;
		}
		r.hop = xstrdup(line);
		cn->rr = xrealloc(cn->rr, sizeof(*cn->rr) * (cn->nrr + 1));
		cn->rr[cn->nrr++] = r;
		log_info("next hop %s rerouted by the operator: %s", r.hop, r.route);
	}
	free(text);
	return 0;
}

/* chn_self - the node's niftp channel, or NULL with err */
static struct chniftp *chn_self(const struct relayd *rd, char *err, size_t errlen)
{
	if (rd->chops[ROUTE_CH_NIFTP] != &chan_niftp_ops || rd->chself[ROUTE_CH_NIFTP] == NULL) {
		snprintf(err, errlen, "this node has no niftp channel");
		return NULL;
	}
	return rd->chself[ROUTE_CH_NIFTP];
}

int chan_niftp_reroute_set(struct relayd *rd, const char *host, const char *route,
	const char *user, char *err, size_t errlen)
{
	struct chniftp *cn = chn_self(rd, err, errlen);
	struct reroute r, old;
	struct spool_txn *t;
	struct rhop *h;
	struct qenv *e;
	const char *kv[4];
	char    hop[80];
	size_t  i;

	if (cn == NULL)
		return -1;
	memset(&r, 0, sizeof(r));
	str_copy(hop, host, sizeof(hop));
	for (i = 0; hop[i]; i++)
		if (hop[i] >= 'A' && hop[i] <= 'Z')
			hop[i] = (char) (hop[i] - 'A' + 'a');
	if (strlen(host) >= sizeof(hop) || strchr(host, ' ') != NULL || host[0] == '\0') {
		snprintf(err, errlen, "bad next hop '%s'", host);
		return -1;
	}
	for (i = 0; i < cn->nrr && strcmp(cn->rr[i].hop, hop) != 0; i++)
		;
	if (route == NULL) {
		if (i == cn->nrr) {
			snprintf(err, errlen, "no route override for '%s'", hop);
			return -1;
		}
		old = cn->rr[i];
		cn->rr[i] = cn->rr[--cn->nrr];
		if (reroute_save(cn, err, errlen) < 0) {
			cn->rr[cn->nrr++] = cn->rr[i];
			cn->rr[i] = old;
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
		if (i == cn->nrr) {
			cn->rr = xrealloc(cn->rr, sizeof(*cn->rr) * (cn->nrr + 1));
			memset(&cn->rr[cn->nrr], 0, sizeof(*cn->rr));
			cn->nrr++;
		}
		old = cn->rr[i];
		cn->rr[i] = r;
		if (reroute_save(cn, err, errlen) < 0) {
			cn->rr[i] = old;
			if (old.hop == NULL)
				cn->nrr--;
			reroute_clear_one(&r);
			return -1;
		}
		reroute_clear_one(&old);
	}
	t = spool_txn_new(rd->sp);
	kv[0] = route ? "route" : "by";
	kv[1] = route ? cn->rr[i].route : user;
	kv[2] = "by";
	kv[3] = user;
	spool_txn_journal(t, route ? "reroute" : "reroute-cleared", hop, kv, route ? 2 : 1);
	spool_txn_submit(t, NULL, NULL);
	log_info("next hop %s: route %s by %s", hop, route ? cn->rr[i].route
	    : "override cleared", user);
	/* idle calls to the old address end; the hop's copies are due now */
	if ((h = hop_find(cn, hop)) != NULL) {
		struct fcall *fc, *fnext;

		h->alt = 0;
		for (fc = h->calls; fc != NULL; fc = fnext) {
			fnext = fc->next;
			if (!fc->down && fc->up && fc->cur == NULL)
				niftp_call_hangup(fc->call);
		}
	}
	for (e = queue_first(rd->q); e != NULL; e = queue_next(e))
		if (!e->local && strcmp(e->hop, hop) == 0)
			e->next_try = 0;
	sched_poke(rd->sched);
	return 0;
}

void chan_niftp_reroute_list(const struct relayd *rd, struct buf *out)
{
	char    err[64];
	const struct chniftp *cn = chn_self(rd, err, sizeof(err));
	size_t  i;

	if (cn == NULL)
		return;
	for (i = 0; i < cn->nrr; i++)
		buf_printf(out, "%s %s\n", cn->rr[i].hop, cn->rr[i].route);
}

/* --- pull mode (INDRA 4.4): the passive channel and what its peer reads --------------- */

/*
 * A route "HOST = pull" keeps HOST's letters here. The scheduler starts
 * such an envelope only to fix its copy (the prefix, size and CRC-32, as
 * for a push, with no transfer id: the peer chooses those), durably,
 * before it is ever listed, so that the copy identity a peer sees is the
 * one it will be sent after any crash. Then the envelope waits, queued,
 * until HOST reads it (pull_srv_*, called by the receive side for an
 * authenticated peer); the read takes the envelope from the queue like
 * a transfer of a push (busy to operator actions) and gives it back when
 * it ends without the peer's STOP. On that STOP the envelope's result is
 * "forwarded ... pulled=1" with the name the peer stored it under; the
 * STOPACK waits until the transaction that removes it has completed
 * (env_gone with released), so a peer told "done" never finds it again,
 * and a peer that is not told (a cut call) finds it gone or, if the
 * transaction failed, listed again: its own docket says it holds it.
 */

struct chpull {
	struct relayd *rd;
	unsigned npreparing;		/* copies being fixed */
	unsigned nopen;			/* reads open */
	struct puller *pu;		/* this node fetching from its relays (relay/pull.c) */
};

struct pull_file {
	struct chpull *cp;
	struct qenv *e;			/* the letter read (NULL: the list, or gone) */
	struct niftp_file *rf;		/* its copy's reader */
	struct buf list;		/* the list */
	uint64_t off;
	int	removing;		/* the letter's final transaction is in flight */
	void	(*done)(void *arg, int ok, const char *why);
	void   *arg;
};

/* pull_hop - is hop the pull route of peer? */
static int pull_hop(const struct relayd *rd, const char *hop, const char *peer)
{
	const struct route_hop *h = route_table_hop_by_name(rd->conf->routes, hop);

	return h != NULL && h->nalts > 0 && h->alts[0].channel == ROUTE_CH_PULL
	    && str_ieq(h->name, peer);
}

/* copy_id_of - the copy identity of e (its copy is fixed) */
static void copy_id_of(const struct relayd *rd, struct qenv *e, char *buf, size_t len)
{
	const struct fenv *f = fenv(e);

	snprintf(buf, len, "niftpmail-copy %s/%s size=%llu crc=%08lx", rd->conf->name,
	    e->l->name, (unsigned long long) f->size, (unsigned long) f->crc);
}

/* pull_waiting - e waits for its peer with its copy fixed, and may be read */
static int pull_waiting(struct qenv *e)
{
	return !e->local && e->state == QENV_QUEUED && !qenv_busy(e) && e->cs != NULL
	    && fenv(e)->copy && e->l != NULL;
}

static void pull_list(struct relayd *rd, const char *peer, struct buf *b)
{
	char    id[FWD_COPYID_MAX];
	struct qenv *e;
	unsigned n = 0;

	for (e = queue_first(rd->q); e != NULL && n < PULL_LIST_MAX; e = queue_next(e)) {
		if (!pull_waiting(e) || !pull_hop(rd, e->hop, peer))
			continue;
		copy_id_of(rd, e, id, sizeof(id));
		if (buf_printf(b, "%s %llu %08lx %s\n", e->l->name,
		    (unsigned long long) fenv(e)->size, (unsigned long) fenv(e)->crc, id) < 0)
			break;
		n++;
	}
}

int pull_list_parse_line(char *line, size_t len, char **name, uint64_t *size, uint32_t *crc,
	char **copy)
{
	char   *w[3], *p = line, *end;
	size_t  i;

	if (memchr(line, '\0', len) != NULL)
		return -1;

	for (i = 0; i < 3; i++) {
		w[i] = p;
		if ((p = strchr(p, ' ')) == NULL)
			return -1;
		*p++ = '\0';
	}
	if (!spool_name_ok(w[0]) || rec_u64(w[1], 0, INT64_MAX, size) < 0
	    || strlen(w[2]) != 8 || strspn(w[2], "0123456789abcdef") != 8)
		return -1;
	*crc = (uint32_t) strtoul(w[2], &end, 16);
	/* the copy identity: ours, printable, naming that letter */
	if (strncmp(p, "niftpmail-copy ", 15) != 0 || strlen(p) > NIFTP_MAX_NAME)
		return -1;
	for (end = p; *end; end++)
		if ((unsigned char) *end < 0x20 || (unsigned char) *end > 0x7e)
			return -1;
	*name = w[0];
	*copy = p;
	return 0;
}

static struct chpull *pull_self(struct relayd *rd)
{
	return rd->chops[ROUTE_CH_PULL] == &chan_pull_ops ? rd->chself[ROUTE_CH_PULL] : NULL;
}

int pull_srv_open(struct relayd *rd, const char *peer, const struct niftp_req *req,
	struct niftp_open *res, struct pull_file **pfp)
{
	struct chpull *cp = pull_self(rd);
	const struct route_hop *h = route_table_hop_by_name(rd->conf->routes, peer);
	const char *name = req->filename;
	struct pull_file *pf;
	struct qletter *l;
	struct qenv *e;
	char    id[FWD_COPYID_MAX];

	*pfp = NULL;
	if (cp == NULL || h == NULL || !pull_hop(rd, h->name, peer)) {
		res->denied = 1;
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "no letters are kept here for "
		    "peer %s to collect", peer);
	}
	if (rd->stopping)
		return niftp_refuse(res, NIFTP_ST_REJ_LATER, "mail relay shutting down");
	if (name == NULL)
		return niftp_refuse(res, NIFTP_ST_REJ_ATTR, "no filename given for a read");
	pf = xcalloc(1, sizeof(*pf));
	pf->cp = cp;
	buf_init(&pf->list, PULL_LIST_BYTES);
	if (strcmp(name, PULL_LIST_NAME) == 0) {
		if (req->mode != NIFTP_MODE_READ) {
			free(pf);
			return niftp_refuse(res, NIFTP_ST_REJ_ATTR, "%s is read with mode "
			    "0x8002 (read only)", PULL_LIST_NAME);
		}
		pull_list(rd, h->name, &pf->list);
		str_copy(res->name, PULL_LIST_NAME, sizeof(res->name));
		res->size = (int64_t) pf->list.len;
		goto opened;
	}
	if (req->mode != NIFTP_MODE_READ_REMOVE) {
		buf_release(&pf->list);
		free(pf);
		return niftp_refuse(res, NIFTP_ST_REJ_ATTR, "a letter is read with mode "
		    "0x8001 (read and remove)");
	}
	e = NULL;
	if (spool_name_ok(name) && (l = queue_letter(rd->q, name)) != NULL)
		for (e = l->envs; e != NULL; e = e->lnext)
			if (!e->local && str_ieq(e->hop, h->name))
				break;
	if (e == NULL) {
		buf_release(&pf->list);
		free(pf);
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "no such letter waits here for %s",
		    h->name);
	}
	if (!pull_waiting(e)) {
		buf_release(&pf->list);
		free(pf);
		return niftp_refuse(res, NIFTP_ST_REJ_LATER, "letter '%s' is busy: try later",
		    name);
	}
	copy_id_of(rd, e, id, sizeof(id));
	if (req->copy_id != NULL && strcmp(req->copy_id, id) != 0) {
		buf_release(&pf->list);
		free(pf);
		return niftp_refuse(res, req->resume ? NIFTP_ST_REJ_NORESUME : NIFTP_ST_REJ_LATER,
		    "letter '%s' is another copy now: list again", name);
	}
	if (copy_open(rd, e, res) < 0) {
		buf_release(&pf->list);
		free(pf);
		return -1;
	}
	pf->rf = res->fh;
	res->fh = NULL;
	/* the read owns e until it ends: busy to operator actions */
	qenvq_del(e);
	e->state = QENV_ACTIVE;
	fenv(e)->working = 1;
	fenv(e)->pf = pf;
	pf->e = e;
opened:
	cp->nopen++;
	*pfp = pf;
	return 0;
}

ssize_t pull_srv_read(struct pull_file *pf, void *p, size_t len, char *reason)
{
	size_t  n;

	if (pf->rf != NULL)
		return fwd_read(pf->rf, p, len, reason);
	n = pf->off < pf->list.len ? (size_t) (pf->list.len - pf->off) : 0;
	if (n > len)
		n = len;
	if (n == 0)
		return 0;	/* an empty list has no buffer: no memcpy from NULL */
	memcpy(p, buf_data(&pf->list) + pf->off, n);
	pf->off += n;
	return (ssize_t) n;
}

int pull_srv_seek(struct pull_file *pf, uint64_t offset, char *reason)
{
	if (pf->rf != NULL)
		return fwd_seek(pf->rf, offset, reason);
	if (offset > pf->list.len) {
		snprintf(reason, NIFTP_REASON_MAX, "seek beyond the end of %s", PULL_LIST_NAME);
		return -1;
	}
	pf->off = offset;
	return 0;
}

/* stored_name - the name the peer stored the letter under, from its STOP's
 * information messages ("" when it gave none that is a spool name) */
static void stored_name(const char *info, char *dst, size_t len)
{
	const size_t k = sizeof(NIFTP_STORED_PREFIX) - 1;
	const char *p, *e;
	char    nm[SPOOL_NAMELEN];

	dst[0] = '\0';
	for (p = info; p != NULL && *p; p = e ? e + 1 : NULL) {
		e = strchr(p, '\n');
		if (strncmp(p, NIFTP_STORED_PREFIX, k) != 0)
			continue;
		snprintf(nm, sizeof(nm), "%.*s", (int) ((e ? (size_t) (e - p) : strlen(p)) - k),
		    p + k);
		if (spool_name_ok(nm))
			str_copy(dst, nm, len);
		return;
	}
}

void pull_srv_remove(struct pull_file *pf, const char *info,
	void (*done)(void *arg, int ok, const char *why), void *arg)
{
	struct relayd *rd = pf->cp->rd;
	struct qenv *e = pf->e;
	struct qresult r;
	char    remote[SPOOL_NAMELEN];
	const char *kv[2];

	if (e == NULL) {
		done(arg, 0, "nothing to remove");
		return;
	}
	stored_name(info, remote, sizeof(remote));
	pf->removing = 1;
	pf->done = done;
	pf->arg = arg;
	fenv(e)->working = 0;
	kv[0] = "pulled";
	kv[1] = "1";
	memset(&r, 0, sizeof(r));
	r.all = QOUT_DONE;
	r.remote = remote[0] ? remote : NULL;
	r.kv = kv;
	r.nkv = 1;
	queue_result(rd->q, e, &r);	/* pull_env_gone() answers */
}

void pull_srv_close(struct pull_file *pf)
{
	struct relayd *rd = pf->cp->rd;
	struct qenv *e = pf->e;

	if (pf->rf != NULL)
		fwd_close(pf->rf);
	if (e != NULL) {
		struct fenv *f = fenv(e);

		f->pf = NULL;
		if (!pf->removing) {
			/* read without the peer's STOP: it waits again */
			f->working = 0;
			queue_requeue(rd->q, e);
		}
	}
	pf->cp->nopen--;
	buf_release(&pf->list);
	free(pf);
}

/* --- the passive channel ------------------------------------------------------------ */

static const char *const pull_keys[] = { "from", "every", "max_calls", NULL };

static void *pull_conf_load(struct conf_sect *s)
{
	struct pull_settings *st = xcalloc(1, sizeof(*st));
	const char *v = conf_sect_str(s, "from");
	uint64_t n;

	st->max_calls = 4;
	if (conf_sect_num(s, "max_calls", 1, 64, &n) > 0)
		st->max_calls = (unsigned) n;
	(void) conf_sect_dur(s, "every", 1000, 7LL * 24 * 3600 * 1000, &st->every_ms);
	while (v != NULL && *v) {
		size_t  k;

		v += strspn(v, " \t,");
		if ((k = strcspn(v, " \t,")) == 0)
			break;
		st->from = xrealloc(st->from, (st->nfrom + 1) * sizeof(*st->from));
		st->from[st->nfrom] = xmalloc(k + 1);
		memcpy(st->from[st->nfrom], v, k);
		st->from[st->nfrom][k] = '\0';
		for (char *c = st->from[st->nfrom]; *c; c++)
			*c = (char) tolower((unsigned char) *c);
		st->nfrom++;
		v += k;
	}
	if (st->nfrom > 0 && st->every_ms == 0)
		st->every_ms = 5 * 60 * 1000;
	return st;
}

static void pull_conf_free(void *cfg)
{
	struct pull_settings *st = cfg;

	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nfrom; i++)
		free(st->from[i]);
	free(st->from);
	free(st);
}

static void *pull_init(struct relayd *rd, char *err, size_t errlen)
{
	struct chpull *cp = xcalloc(1, sizeof(*cp));

	(void) err;
	(void) errlen;
	cp->rd = rd;
	cp->pu = puller_new(rd);
	puller_schedule(cp->pu);
	return cp;
}

static void pullch_reload(void *self)
{
	struct chpull *cp = self;

	puller_schedule(cp->pu);
}

static void pullch_stop(void *self, int now)
{
	struct chpull *cp = self;

	puller_stop(cp->pu, now);
}

struct puller *chan_pull_puller(struct relayd *rd)
{
	struct chpull *cp = pull_self(rd);

	return cp != NULL ? cp->pu : NULL;
}

static void pull_saved(void *arg, int ok, const char *err)
{
	struct prep *p = arg;
	struct chpull *cp = p->cp;
	struct qenv *e = p->e;
	struct fenv *f = fenv(e);
	struct qresult r;

	free(p);
	cp->npreparing--;
	f->working = 0;
	if (ok) {
		queue_requeue(cp->rd->q, e);	/* listed from now on */
		return;
	}
	f->copy = 0;
	log_error("store copy of '%s' for %s: %s", e->l->name, e->hop, err);
	memset(&r, 0, sizeof(r));
	r.all = QOUT_DEFER;
	r.reason = err;
	queue_result(cp->rd->q, e, &r);
}

static void pull_prep_done(void *arg)
{
	struct prep_job *pj = arg;
	struct chpull *cp = pj->cp;
	struct relayd *rd = cp->rd;
	struct qenv *e = pj->e;
	struct spool_txn *t = NULL;
	struct prep *p;
	char    err[RELAYD_ERRLEN];
	struct qresult r;

	rd->jobs--;
	if (pj->ok && (t = copy_fix(rd, e, pj, 0, err, sizeof(err))) != NULL) {
		p = xcalloc(1, sizeof(*p));
		p->cp = cp;
		p->e = e;
		spool_txn_submit(t, pull_saved, p);
		prep_job_free(pj);
		return;
	}
	cp->npreparing--;
	fenv(e)->working = 0;
	memset(&r, 0, sizeof(r));
	r.all = QOUT_DEFER;
	r.reason = pj->ok ? err : pj->err;
	queue_result(rd->q, e, &r);
	prep_job_free(pj);
}

/* pullch_start - e is not ready to be collected: fix its copy, then give it back */
static void pullch_start(void *self, struct qenv *e)
{
	struct chpull *cp = self;
	struct prep_job *pj = prep_job_new(cp->rd, e);

	pj->cp = cp;
	cp->npreparing++;
	workq_submit(cp->rd->wq, prep_work, pull_prep_done, pj);
}

static int pull_ready(void *self, const struct qenv *e)
{
	const struct fenv *f = e->cs;

	(void) self;
	return f != NULL && f->copy;
}

static int pullch_busy(const void *self)
{
	const struct chpull *cp = self;

	return cp->npreparing > 0 || cp->nopen > 0 || puller_busy(cp->pu);
}

static void pull_free(void *self)
{
	struct chpull *cp = self;

	if (cp == NULL)
		return;
	puller_free(cp->pu);
	free(cp);
}

static int pull_env_load(void *self, struct qenv *e, const char *key, const char *val,
	size_t vlen, char *err, size_t errlen)
{
	return chn_env_load(self, e, key, val, vlen, err, errlen);
}

static void pull_env_loaded(void *self, struct qenv *e)
{
	struct fenv *f = e->cs;

	(void) self;
	if (f == NULL)
		return;
	if (f->copy && f->prefix == NULL)
		f->pfile = 1;
	free(f->dk);		/* a push's docket means nothing here */
	f->dk = NULL;
	f->have_dk = 0;
}

static void pull_env_leaving(void *self, struct qenv *e, struct spool_txn *t)
{
	struct chpull *cp = self;

	prefix_leaving(cp->rd, e, t);
}

static void pull_env_gone(void *self, struct qenv *e, int released)
{
	struct fenv *f = e->cs;
	struct pull_file *pf;

	(void) self;
	if (f == NULL)
		return;
	if ((pf = f->pf) != NULL && pf->removing) {
		/* the peer's read ends: the letter is gone for good, or its
		 * removal failed (it comes back: listed again) */
		pf->e = NULL;
		f->pf = NULL;
		if (released)
			crash_point("relay-pull-removed-before-stopack");
		pf->done(pf->arg, released, released ? NULL : "the relay could not record it");
	} else if (pf != NULL) {
		pf->e = NULL;	/* the queue is being freed under a read: never requeued */
	}
	fenv_free(e);
}

const struct channel_ops chan_pull_ops = {
	.name = "pull",
	.passive = 1,
	.section = "pull",
	.keys = pull_keys,
	.conf_load = pull_conf_load,
	.conf_free = pull_conf_free,
	.init = pull_init,
	.start = pullch_start,
	.ready = pull_ready,
	.busy = pullch_busy,
	.reload = pullch_reload,
	.stop = pullch_stop,
	.free = pull_free,
	.env_save = chn_env_save,
	.env_load = pull_env_load,
	.env_loaded = pull_env_loaded,
	.env_leaving = pull_env_leaving,
	.env_gone = pull_env_gone,
};
