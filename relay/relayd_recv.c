/*++
 * NAME
 *	relayd_recv 3
 * SUMMARY
 *	mailrelayd: the receive side, a spool-backed NIFTP filestore
 * SYNOPSIS
 *	#include "relay/relayd.h"
 * DESCRIPTION
 *	Every accepted call for FTP.MAIL (or FTP) is served by the engine
 *	(niftp_call_serve) with this filestore:
 * .IP open_write
 *	a fresh transfer gets a new spool name (tmp/NAME, returned in
 *	RPOS). If a server docket "srv CALLER TID" exists from an older
 *	transfer, it is deleted durably before RPOS (a fresh SFT replaces
 *	it), so a later resumption can never match an unrelated docket.
 *	A resumption looks the docket up: committed (and the same copy
 *	identity, when the donor sends one) answers "only STOP left" with
 *	the same name; no docket, or another copy, is refused with 0x1004.
 *	A resumption of a transfer that was not committed is granted from
 *	mark 0 under the docket's name: partial data is not kept across
 *	calls (marks are not checkpointed), which is always correct and
 *	costs a re-send of that letter only.
 * .IP write
 *	appends to tmp/NAME, with a running CRC-32 (crash point
 *	relay-receive-mid-data).
 * .IP commit
 *	reads the address list and header back from the file (the
 *	streaming reader: bounded memory); a malformed letter is refused
 *	with QR(0x21) and a reason naming the problem and the line.
 *	Otherwise ONE spool transaction: commit tmp/NAME to in/NAME, the
 *	docket "committed NAME" (when the transfer has an id), the
 *	journal line received. ER(OK) is sent from the transaction's
 *	completion (crash point relay-after-commit-before-er), then the
 *	letter is routed: routing happens after ER, never before.
 * .PP
 *	Server dockets are pruned after [retry] docket_keep.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mailchannel/letter.h"
#include "niftp/niftp_call.h"
#include "relay/relayd.h"
#include "util/alloc.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"

#define RECV_DOCKET_MAX	4096

struct rcall {
	struct relayd *rd;
	struct rcall *next;
	struct niftp_call *call;
	struct ts_conn *ts;		/* until served */
	struct niftp_file *fh;		/* the open file, if any */
	int	down;
	int	active;			/* a transfer in progress */
	uint64_t reap_timer;
	char	peer[300];
	char	calling[300];
};

struct niftp_file {
	struct rcall *rc;		/* NULL once the call is gone */
	struct relayd *rd;
	struct spool_file *sf;
	char	name[SPOOL_NAMELEN];
	char	key[1200];		/* docket key, "" when the transfer has no id */
	char	caller[300];
	char	calling[300];
	char	copy_id[300];
	uint16_t tid;
	uint64_t size;
	uint32_t crc;
	int	committing;
	int	committed;
	int	released;
	struct niftp *n;		/* for commit_done, NULL when gone */
	/* a late open */
	struct niftp_open res;
};

static void rfile_free(struct niftp_file *fh)
{
	if (fh->sf != NULL)
		spool_file_abort(fh->sf);
	if (fh->rc != NULL && fh->rc->fh == fh)
		fh->rc->fh = NULL;
	free(fh);
}

static int refuse(struct niftp_open *res, uint16_t state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct niftp_open *res, uint16_t state, const char *fmt, ...)
{
	va_list ap;

	res->state = state;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return -1;
}

static void srv_key(const char *caller, unsigned tid, char *key, size_t len)
{
	snprintf(key, len, "srv %s %u", caller, tid);
}

/* docket text: "committed 0|1\nname NAME\ncopy COPYID\n" */
static int srv_docket_get(struct relayd *rd, const char *key, int *committed, char *name,
	size_t nlen, char *copy, size_t clen)
{
	char    err[SPOOL_ERRLEN];
	char   *text, *line, *next;
	size_t  len;

	if ((text = spool_docket_get(rd->sp, key, &len, NULL, err, sizeof(err))) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", err);
		return -1;
	}
	*committed = 0;
	name[0] = copy[0] = '\0';
	for (line = text; line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strcmp(line, "committed 1") == 0)
			*committed = 1;
		else if (strncmp(line, "name ", 5) == 0)
			str_copy(name, line + 5, nlen);
		else if (strncmp(line, "copy ", 5) == 0)
			str_copy(copy, line + 5, clen);
	}
	free(text);
	return name[0] ? 0 : -1;
}

static void open_late_done(void *arg, int ok, const char *err)
{
	struct niftp_file *fh = arg;

	if (!ok)
		log_warn("delete old docket '%s': %s", fh->key, err);
	if (fh->rc == NULL || fh->n == NULL) {
		rfile_free(fh);
		return;
	}
	if (!ok) {
		fh->res.fh = NULL;
		fh->res.state = NIFTP_ST_REJ_LATER;
		snprintf(fh->res.reason, sizeof(fh->res.reason), "local trouble: %s", err);
		fh->rc->fh = NULL;
		niftp_open_done(fh->n, 0, &fh->res);
		niftp_call_kick(fh->rc->call);
		rfile_free(fh);
		return;
	}
	niftp_open_done(fh->n, 1, &fh->res);
	niftp_call_kick(fh->rc->call);
}

/* recv_open_write - fs->open_write */
static int recv_open_write(void *fsv, const struct niftp_req *req, struct niftp_open *res)
{
	struct rcall *rc = fsv;
	struct relayd *rd = rc->rd;
	struct niftp_file *fh;
	char    err[SPOOL_ERRLEN], name[SPOOL_NAMELEN], copy[300], key[1200];
	const char *caller = req->caller && *req->caller ? req->caller : rc->peer;
	int     committed = 0, have = 0;

	res->fh = NULL;
	res->committed = 0;
	res->mark = 0;
	res->offset = 0;
	if (rd->stopping)
		return refuse(res, NIFTP_ST_REJ_LATER, "server shutting down");
	if (rd->conf->max_letter_size > 0 && req->size > 0
	    && (uint64_t) req->size > rd->conf->max_letter_size)
		return refuse(res, NIFTP_ST_REJ_MSG, "letter of %lld octets is larger than the "
		    "limit of %llu", (long long) req->size,
		    (unsigned long long) rd->conf->max_letter_size);
	key[0] = '\0';
	if (req->tid != 0) {
		srv_key(caller, req->tid, key, sizeof(key));
		have = srv_docket_get(rd, key, &committed, name, sizeof(name), copy,
		    sizeof(copy)) == 0;
	}
	if (req->resume) {
		if (req->tid == 0 || !have)
			return refuse(res, NIFTP_ST_REJ_NORESUME, "no record of that transfer");
		if (req->copy_id != NULL && copy[0] && strcmp(req->copy_id, copy) != 0)
			return refuse(res, NIFTP_ST_REJ_NORESUME, "a different copy had that "
			    "transfer id");
		if (committed) {
			res->committed = 1;
			str_copy(res->name, name, sizeof(res->name));
			log_info("call from %s: transfer %u resumed after commit: '%s' already "
			    "stored", rc->peer, req->tid, name);
			return 0;
		}
	}
	fh = xcalloc(1, sizeof(*fh));
	fh->rc = rc;
	fh->rd = rd;
	fh->tid = req->tid;
	fh->crc = (uint32_t) crc32(0L, Z_NULL, 0);
	str_copy(fh->key, key, sizeof(fh->key));
	str_copy(fh->caller, caller, sizeof(fh->caller));
	str_copy(fh->calling, rc->calling, sizeof(fh->calling));
	if (req->copy_id)
		str_copy(fh->copy_id, req->copy_id, sizeof(fh->copy_id));
	fh->sf = spool_create(rd->sp, req->resume ? name : NULL, err, sizeof(err));
	if (fh->sf == NULL) {
		free(fh);
		return refuse(res, NIFTP_ST_REJ_LATER, "local trouble: %s", err);
	}
	str_copy(fh->name, spool_file_name(fh->sf), sizeof(fh->name));
	res->fh = fh;
	str_copy(res->name, fh->name, sizeof(res->name));
	rc->fh = fh;
	if (have && !req->resume) {
		/* a fresh SFT replaces the older docket of its key: durably, before RPOS */
		struct spool_txn *t = spool_txn_new(rd->sp);

		fh->res = *res;
		fh->n = niftp_call_engine(rc->call);
		spool_txn_docket_del(t, key);
		spool_txn_submit(t, open_late_done, fh);
		return 1;
	}
	fh->n = niftp_call_engine(rc->call);
	return 0;
}

static int recv_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	(void) fs;
	(void) req;
	return refuse(res, NIFTP_ST_REJ_MSG, "the mail service does not send files");
}

static ssize_t recv_read(struct niftp_file *fh, void *p, size_t len, char *reason)
{
	(void) fh;
	(void) p;
	(void) len;
	snprintf(reason, 256, "not readable");
	return -1;
}

static int recv_write(struct niftp_file *fh, const void *p, size_t len, int *retry,
	char *reason)
{
	struct relayd *rd = fh->rd;

	crash_point("relay-receive-mid-data");
	*retry = 0;
	if (rd->conf->max_letter_size > 0 && fh->size + len > rd->conf->max_letter_size) {
		snprintf(reason, 256, "letter is larger than the limit of %llu octets",
		    (unsigned long long) rd->conf->max_letter_size);
		return -1;
	}
	if (pwrite_full(spool_file_fd(fh->sf), p, len, (off_t) fh->size) < 0) {
		*retry = errno == ENOSPC || errno == EDQUOT || errno == EIO;
		snprintf(reason, 256, "write 'tmp/%s': %s", fh->name, strerror(errno));
		return -1;
	}
	fh->crc = (uint32_t) crc32(fh->crc, p, (uInt) len);
	fh->size += len;
	return 0;
}

static int recv_seek(struct niftp_file *fh, uint64_t offset, char *reason)
{
	(void) fh;
	(void) offset;
	snprintf(reason, 256, "not readable");
	return -1;
}

static int recv_truncate(struct niftp_file *fh, uint64_t offset, char *reason)
{
	unsigned char b[64 * 1024];
	uint64_t done = 0;
	ssize_t n;
	int     fd = spool_file_fd(fh->sf);

	if (ftruncate(fd, (off_t) offset) < 0) {
		snprintf(reason, 256, "truncate 'tmp/%s': %s", fh->name, strerror(errno));
		return -1;
	}
	fh->size = offset;
	fh->crc = (uint32_t) crc32(0L, Z_NULL, 0);
	while (done < offset) {
		size_t  want = offset - done < sizeof(b) ? (size_t) (offset - done) : sizeof(b);

		n = pread(fd, b, want, (off_t) done);
		if (n <= 0) {
			snprintf(reason, 256, "read 'tmp/%s': %s", fh->name,
			    n < 0 ? strerror(errno) : "short file");
			return -1;
		}
		fh->crc = (uint32_t) crc32(fh->crc, b, (uInt) n);
		done += (uint64_t) n;
	}
	return 0;
}

static void recv_mark(struct niftp_file *fh, uint32_t mark, uint64_t offset)
{
	(void) fh;
	(void) mark;
	(void) offset;		/* no checkpoints: see DESCRIPTION */
}

struct pctx {
	int	fd;
	uint64_t off;
};

static ssize_t prd(void *ctx, void *p, size_t len)
{
	struct pctx *c = ctx;
	ssize_t n = pread(c->fd, p, len, (off_t) c->off);

	if (n > 0)
		c->off += (uint64_t) n;
	return n;
}

static void commit_done(void *arg, int ok, const char *err)
{
	struct niftp_file *fh = arg;
	struct relayd *rd = fh->rd;
	char    name[SPOOL_NAMELEN];

	fh->committing = 0;
	fh->sf = NULL;			/* handed to the transaction */
	str_copy(name, fh->name, sizeof(name));
	if (ok) {
		fh->committed = 1;
		crash_point("relay-after-commit-before-er");
	} else
		log_error("receive '%s': %s", fh->name, err);
	if (fh->n != NULL && fh->rc != NULL) {
		niftp_commit_done(fh->n, ok, 1, ok ? NULL : "local trouble storing the letter");
		niftp_call_kick(fh->rc->call);
	}
	if (fh->released)
		rfile_free(fh);
	if (ok)
		relayd_route_letter(rd, name);
}

static void recv_commit(struct niftp_file *fh, struct niftp *n)
{
	struct relayd *rd = fh->rd;
	struct spool_txn *t;
	struct letter *lt;
	struct pctx ctx;
	enum letter_status st;
	char    err[LETTER_ERRLEN], tid[16], donor[300], reason[512];
	const char *kv[6];
	const char *donorp = NULL;

	fh->n = n;
	if (fh->committed) {
		niftp_commit_done(n, 1, 0, NULL);
		return;
	}
	ctx.fd = spool_file_fd(fh->sf);
	ctx.off = 0;
	if ((lt = letter_open(prd, &ctx, &st, err, sizeof(err))) == NULL) {
		snprintf(reason, sizeof(reason), "malformed letter: %s", err);
		log_warn("call from %s: letter refused: %s", fh->rc ? fh->rc->peer : "?", err);
		t = spool_txn_new(rd->sp);
		kv[0] = "from";
		kv[1] = fh->caller;
		kv[2] = "calling";
		kv[3] = fh->calling[0] ? fh->calling : "-";
		kv[4] = "reason";
		kv[5] = err;
		spool_txn_journal(t, "refused", fh->name, kv, 3);
		spool_txn_submit(t, NULL, NULL);
		niftp_commit_done(n, 0, st == LETTER_EIO, reason);
		return;
	}
	/* donor = NODE/NAME from "niftpmail-copy NODE/NAME size=N crc=C" */
	if (strncmp(fh->copy_id, "niftpmail-copy ", 15) == 0) {
		char   *sp;

		str_copy(donor, fh->copy_id + 15, sizeof(donor));
		if ((sp = strchr(donor, ' ')) != NULL)
			*sp = '\0';
		donorp = donor;
	}
	snprintf(tid, sizeof(tid), "%u", fh->tid);
	t = spool_txn_new(rd->sp);
	spool_txn_commit(t, fh->sf, SPOOL_IN);
	if (fh->key[0]) {
		char   *dk = xasprintf("committed 1\nname %s\ncopy %s\n", fh->name, fh->copy_id);

		spool_txn_docket_put(t, fh->key, dk, strlen(dk));
		free(dk);
	}
	relayd_received_line(t, fh->name, fh->caller, fh->calling[0] ? fh->calling : NULL,
	    fh->tid ? tid : NULL, donorp, fh->size, fh->crc, lt);
	letter_free(lt);
	fh->committing = 1;
	spool_txn_submit(t, commit_done, fh);
}

static void recv_release(struct niftp_file *fh)
{
	fh->released = 1;
	if (fh->rc != NULL && fh->rc->fh == fh)
		fh->rc->fh = NULL;
	fh->rc = NULL;
	fh->n = NULL;
	if (!fh->committing)
		rfile_free(fh);
}

static void recv_suspend(struct niftp_file *fh)
{
	recv_release(fh);
}

static void recv_finish(struct niftp_file *fh, int ok)
{
	(void) ok;
	recv_release(fh);
}

static const struct niftp_fs_ops recv_ops = {
	recv_open_write,
	recv_open_read,
	recv_read,
	recv_write,
	recv_seek,
	recv_truncate,
	recv_mark,
	recv_commit,
	recv_suspend,
	recv_finish,
};

/* --- calls ---------------------------------------------------------------- */

static void rcall_free(struct rcall *rc)
{
	struct relayd *rd = rc->rd;
	struct rcall **pp;

	if (rc->reap_timer)
		loop_timer_del(rd->loop, rc->reap_timer);
	if (rc->fh != NULL) {
		rc->fh->rc = NULL;
		rc->fh->n = NULL;
	}
	if (rc->call != NULL)
		niftp_call_free(rc->call);
	if (rc->fh != NULL) {		/* the engine did not release it */
		rc->fh->rc = NULL;
		rc->fh->n = NULL;
	}
	if (rc->ts != NULL)
		ts_close(rc->ts);
	for (pp = &rd->rcalls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rc) {
			*pp = rc->next;
			break;
		}
	rd->nrcalls--;
	free(rc);
}

static void rcall_reap(struct loop *loop, void *arg)
{
	struct rcall *rc = arg;

	(void) loop;
	rc->reap_timer = 0;
	rcall_free(rc);
}

static void rcall_down(struct rcall *rc)
{
	rc->down = 1;
	if (rc->reap_timer == 0)
		rc->reap_timer = loop_timer_add(rc->rd->loop, 0, rcall_reap, rc);
}

static void recv_event(void *arg, struct niftp_call *call, const struct niftp_event *ev)
{
	struct rcall *rc = arg;

	(void) call;
	switch (ev->type) {
	case NIFTP_EV_SFT:
		rc->active = 1;
		break;
	case NIFTP_EV_DONE:
		rc->active = 0;
		if (ev->status != NIFTP_OK)
			log_info("call from %s: transfer ended: %s: %s", rc->peer,
			    niftp_status_str(ev->status), ev->reason ? ev->reason : "");
		if (rc->rd->stopping)
			niftp_call_hangup(rc->call);
		break;
	case NIFTP_EV_FAILED:
		log_warn("call from %s: %s", rc->peer, ev->reason ? ev->reason : "protocol error");
		break;
	default:
		break;
	}
}

static void recv_callev(void *arg, struct niftp_call *call, enum niftp_call_ev ev,
	int reason, const char *text)
{
	struct rcall *rc = arg;

	(void) call;
	if (ev != NIFTP_CALL_EV_DOWN)
		return;
	if (reason != TS_R_NORMAL)
		log_debug("call from %s ended: %s (reason %d)", rc->peer, text, reason);
	rcall_down(rc);
}

/* called_ok - FTP or FTP.MAIL (or under it), any case; empty = FTP */
static int called_ok(const char *called)
{
	size_t  i;
	const char *want = "FTP";

	if (*called == '\0')
		return 1;
	for (i = 0; i < 3; i++)
		if (called[i] == '\0' || (called[i] & ~0x20) != want[i])
			return 0;
	return called[3] == '\0' || called[3] == '.';
}

static void recv_incoming(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct rcall *rc = arg;
	struct relayd *rd = rc->rd;
	struct niftp_call_hooks hooks;
	struct niftp_config cfg;
	const char *called;

	switch (ev->type) {
	case TS_EV_INCOMING:
		called = ev->called ? ev->called : "";
		str_copy(rc->calling, ev->calling ? ev->calling : "", sizeof(rc->calling));
		if (rd->stopping) {
			ts_refuse(c, TS_R_OUTOFORDER, "mail relay shutting down");
			return;
		}
		if (!called_ok(called)) {
			log_warn("call from %s refused: unknown called address '%s'", rc->peer,
			    called);
			ts_refuse(c, TS_R_BADADDR, "unknown called address");
			return;
		}
		if ((unsigned) rd->nrcalls > rd->conf->max_calls) {
			ts_refuse(c, TS_R_BUSY, "too many calls");
			return;
		}
		if (ts_accept(c) < 0)
			return;
		memset(&cfg, 0, sizeof(cfg));
		cfg.info = "mailrelayd (niftpmail) 1.0";
		cfg.deflate = 1;
		cfg.resumption = 1;
		cfg.max_size = rd->conf->max_letter_size;
		cfg.mail_only = 1;
		memset(&hooks, 0, sizeof(hooks));
		hooks.event = recv_event;
		hooks.call = recv_callev;
		rc->ts = NULL;
		rc->call = niftp_call_serve(rd->loop, c, &cfg, &hooks, rc, &recv_ops, rc);
		return;
	case TS_EV_DISCONNECT:
		rcall_down(rc);
		return;
	default:
		return;
	}
}

/* relayd_serve_new - a new transport call */
void relayd_serve_new(struct relayd *rd, struct ts_listener *l, struct ts_conn *c)
{
	struct rcall *rc = xcalloc(1, sizeof(*rc));

	(void) l;
	rc->rd = rd;
	rc->ts = c;
	str_copy(rc->peer, ts_peer(c), sizeof(rc->peer));
	rc->next = rd->rcalls;
	rd->rcalls = rc;
	rd->nrcalls++;
	ts_set_handler(c, recv_incoming, rc);
}

/* relayd_recv_busy - calls alive */
int relayd_recv_busy(const struct relayd *rd)
{
	return rd->rcalls != NULL;
}

/* relayd_recv_stop - end calls between transfers (all when now) */
void relayd_recv_stop(struct relayd *rd, int now)
{
	struct rcall *rc;

	for (rc = rd->rcalls; rc != NULL; rc = rc->next) {
		if (rc->down || (!now && rc->active))
			continue;
		if (rc->call != NULL)
			niftp_call_abort(rc->call, TS_R_OUTOFORDER, "mail relay shutting down");
		else if (rc->ts != NULL)
			ts_disconnect(rc->ts, TS_R_OUTOFORDER, "mail relay shutting down");
	}
}
