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
 *	RPOS). A transfer with an id and a copy identity keeps a server
 *	docket "srv IDENT TID COPYCRC" (relay/srv_docket.h: a line record,
 *	the copy identity escaped, so no caller can plant lines in it):
 *	IDENT is the caller's identity (relay/peer.h: "peer:NAME",
 *	"local:uid:N", "anon:ADDR"), never the calling address it typed,
 *	and COPYCRC the CRC-32 of the copy identity, so another copy under
 *	a reused id has a docket of its own. If the docket exists from an
 *	older transfer of the same copy, it is deleted durably before RPOS
 *	(a fresh SFT replaces it); one of another copy (a CRC collision) is
 *	never replaced: the SFT is refused "try later". A transfer without a copy identity keeps no
 *	docket and touches none: it can never be resumed (below), and a
 *	caller that sends none cannot remove another copy's docket.
 *	A resumption is matched only by a non-empty copy identity equal
 *	to the docket's: committed answers "only STOP left" with the same
 *	name; no docket, a malformed one (logged with its key), no copy
 *	identity on either side, or another copy is refused with 0x1004
 *	(the donor then sends afresh, which is safe). A resumption of a
 *	transfer that was not committed is granted the mark of its last
 *	checkpoint (below), or mark 0, under the docket's name.
 * .IP mark
 *	receive checkpoints: every RECV_CKPT_BYTES at a mark, and when the
 *	call breaks (suspend), a worker job fdatasyncs the partial file
 *	and links tmp/NAME as part/NAME (start-up recovery leaves part/
 *	alone); then the docket records "part MARK OFFSET CRC". A
 *	resumption moves the file back (part/NAME linked as tmp/NAME),
 *	checks on a worker that its first OFFSET octets still have that
 *	CRC-32, and grants MARK (else mark 0). The commit removes part/NAME
 *	in its transaction; a fresh SFT for the key, an abandoned
 *	transfer, or pruning ([retry] docket_keep) removes leftovers.
 *	Docket puts of a checkpoint never overtake the commit: a commit
 *	waits for the checkpoint in flight.
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
 *	Server dockets are pruned after [retry] docket_keep, but for those
 *	of pulls ("srv pull:RELAY ..."): a pull's docket is all that stops
 *	this node storing a letter again that the relay, never told of its
 *	safe arrival (a lost STOPACK), still lists, however long the relay
 *	keeps it. It goes when the relay confirms its removal
 *	(relayd_pull_docket_drop()).
 *
 *	Budgets ([limits], doc/mailrelayd.conf.5). A connection is pending
 *	from the accept until its Yellow Book CONNECT is answered, then a
 *	call. Pending connections have their own budget (max_pending, and
 *	max_pending_per_addr from one source) and pending_timeout; when
 *	a budget is full the OLDEST pending connection (of that source, or
 *	of all) is dropped to make room, never a call: an honest caller
 *	sends CONNECT at once and is pending for a moment only, so silent
 *	connections cannot lock it out (refusing the newest would, until
 *	they time out). Calls have max_calls and max_calls_per_addr
 *	(beyond: CONNECT refused, reason 17 busy). A call between transfers
 *	ends after idle_call_timeout, whatever octets trickle in; a call in
 *	a transfer that moved less than min_rate octets/s over rate_window
 *	is cut (its transfer stays resumable, as with any broken call);
 *	time spent waiting for our own disk (a late open, a resumption's
 *	check, a commit) does not count. Trace calls (trace_fs.h) are not
 *	held to min_rate: their document is built on a worker first.
 *	Source address: IPv4, or the /64 of IPv6; connections over Unix
 *	sockets have none (the transport does not give their peer's
 *	credentials) and are held to the global budgets only.
 *
 *	Refusals by these limits (dropped, refused, timed out, cut) are
 *	counted by source and reason: the first of a burst is journaled
 *	within a second, then at most one line a minute while it goes on,
 *	"refused - from=ADDR reason=\"max_calls_per_addr 8\" count=N"
 *	(N: refusals since the previous line), and logged alike. More
 *	than RECV_REFUSE_MAX sources at once are counted as from=*.
 *
 *	Caller identities (the docket key) and calling addresses are kept
 *	whole, up to RECV_CALLER_MAX; longer ones are refused rather than
 *	cut, since two identities cut to one prefix would share dockets.
 * DIAGNOSTICS
 *	"receive: server docket 'KEY': line N: reason: no record of that
 *	transfer" for a malformed docket; refusals go to the caller in
 *	RNEG with their reason. "refused N connections from ADDR: REASON"
 *	once per burst (above).
 *--*/
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "niftp/niftp_call.h"
#include "niftp/ts_yb.h"
#include "relay/inbound.h"
#include "relay/peer.h"
#include "relay/pull.h"
#include "relay/relayd.h"
#include "relay/relayd_recv.h"
#include "relay/srv_docket.h"
#include "relay/trace_fs.h"
#include "util/alloc.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"
#include "util/version.h"
#include "util/workq.h"

#define RECV_CKPT_BYTES	(4u << 20)	/* octets between receive checkpoints */
/* Caller identity, calling address or peer text, NUL included: a Yellow
 * Book CONNECT parameter is at most YB_MAX_PARAM octets, a peer address
 * far less. Longer text is refused, never cut (see DESCRIPTION). */
#define RECV_CALLER_MAX	NIFTP_CALLER_MAX
#define RECV_KEY_MAX	(SPOOL_DOCKET_KEYMAX + 1)	/* "srv IDENT TID COPYCRC" + NUL */
#define RECV_REASON_MAX	NIFTP_REASON_MAX	/* a filestore reason (struct niftp_fs_ops) */
#define RECV_ADDR_MAX	128		/* a source address key ("1.2.3.4", "2001:db8::/64",
					 * through a gateway "1.2.3.4>ucl.gw", cut) */
#define RECV_FROM_MAX	128		/* a refusal's from= (the key, or a unix: peer) */
#define RECV_WHY_MAX	64		/* a refusal's reason ("max_calls_per_addr 8") */
#define RECV_REFUSE_MAX	128		/* sources whose refusals are counted apart; more
					 * are counted together as from=* */
#define RECV_REFUSE_FIRST_MS	1000	/* a burst's first line: its first second */
#define RECV_REFUSE_EVERY_MS	60000	/* then at most one line a minute */

/* An incoming connection: pending until its CONNECT is answered, then a
 * call; gone once refused, cut or disconnected (counted in no budget). */
enum rc_state { RC_PENDING, RC_CALL, RC_GONE };

struct rcall {
	struct relayd *rd;
	struct rcall *next;
	struct niftp_call *call;
	struct ts_conn *ts;		/* until served */
	struct niftp_file *fh;		/* the open file, if any */
	int	down;
	int	active;			/* a transfer in progress */
	enum rc_state st;
	uint64_t reap_timer;
	uint64_t lim_timer;		/* pending: set-up; call: idle or rate check */
	int64_t	win_start;		/* the rate window of a transfer: its start */
	uint64_t win_octets;		/* ... and the octets moved by then */
	char	addr[RECV_ADDR_MAX];	/* source address key, "" none (unix:) */
	char	peer[RECV_CALLER_MAX];
	char	calling[RECV_CALLER_MAX];
	/* who the caller is (relay/peer.h): set at CONNECT, and again at
	 * every SFT (its username and password) */
	struct peer_src src;		/* src.calling points to calling */
	int	accept;			/* the listener's enum peer_accept */
	enum peer_how how;
	char	ident[PEER_IDENT_MAX];	/* "peer:NAME" or "anon:ADDR" */
	char	peername[PEER_NAME_MAX];	/* "" unless authenticated */
	int	held;			/* refused credentials: held, then ended */
	int	lo_looked;		/* src.lo_uid looked up (loopback TCP) */
	int	no_local;		/* never a local caller: the stdio door, or a
					 * listener with local=no (doc/peers.md) */
	struct trace_fs *tfs;		/* called FTP: the trace service (trace_fs.h) */
	int	pulling;		/* our call to a relay, fetching (relay/pull.h) */
	struct buf list;		/* pulling: the relay's list, as read */
};

struct niftp_file {
	struct rcall *rc;		/* NULL once the call is gone */
	struct relayd *rd;
	struct spool_file *sf;
	struct route_ctx *route;	/* routed in the commit (inbound_commit_routed) */
	char	name[SPOOL_NAMELEN];
	char	key[RECV_KEY_MAX];	/* docket key, "" when the transfer keeps none */
	char	ident[PEER_IDENT_MAX];	/* the caller's identity (rc->ident) */
	char	peername[PEER_NAME_MAX];	/* "" unauthenticated */
	int	accept;			/* what an unauthenticated caller may send */
	enum peer_how how;
	int	part_full;		/* the identity's partial space was full */
	char	caller[RECV_CALLER_MAX];
	char	calling[RECV_CALLER_MAX];
	char	copy_id[SRV_DOCKET_COPY_MAX];
	uint16_t tid;
	uint16_t want_mark;		/* a resumption: the mark the donor asked */
	uint64_t size;
	uint32_t crc;
	int	committing;
	int	committed;
	int	released;
	struct niftp *n;		/* for commit_done, NULL when gone */
	/* a late open */
	struct niftp_open res;
	/* receive checkpoints (see DESCRIPTION) */
	uint32_t last_mark;		/* last mark reached, its offset and CRC */
	uint64_t last_off;
	uint32_t last_crc;
	uint32_t ck_mark;		/* the checkpoint in the docket */
	uint64_t ck_off;
	uint32_t ck_crc;
	int	ckpt_busy;		/* a checkpoint job or its docket put in flight */
	int	ckpt_again;		/* one more when that is done (suspend) */
	int	verify;			/* a resumption's CRC check in flight */
	int	wrote;			/* data written since the open */
	int	discard;		/* abandoned: remove part/NAME */
	int	late;			/* a late open (old docket deleted) in flight */
	struct niftp *commit_n;		/* commit() waiting for the checkpoint */
	struct pull_file *pf;		/* a peer reading a letter kept for it (pull) */
	int	listing;		/* pulling: the relay's list, into rc->list */
};

static void idstat_part_gone(struct niftp_file *fh);

static void rfile_free(struct niftp_file *fh)
{
	char    err[SPOOL_ERRLEN];

	if (fh->sf != NULL && fh->discard && spool_file_parted(fh->sf)) {
		if (spool_part_remove(fh->rd->sp, fh->name, err, sizeof(err)) < 0)
			log_warn("%s", err);
		else
			idstat_part_gone(fh);
	}
	if (fh->sf != NULL)
		spool_file_abort(fh->sf);
	if (fh->rc != NULL && fh->rc->fh == fh)
		fh->rc->fh = NULL;
	free(fh);
}

static void lim_refused(struct rcall *rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* srv_key - the docket key of (identity, tid, copy): "srv IDENT TID CRC"
 * with the CRC-32 of the copy identity, so that another copy under a
 * reused transfer id has a docket of its own; 0, or -1 when it does not fit */
static int srv_key(const char *ident, unsigned tid, const char *copy, char *key, size_t len)
{
	unsigned long c = crc32(0L, (const Bytef *) copy, (uInt) strlen(copy));
	int     n = snprintf(key, len, "srv %s %u %08lx", ident, tid, c);

	return n < 0 || (size_t) n >= len || (size_t) n > SPOOL_DOCKET_KEYMAX ? -1 : 0;
}

/* --- what each identity holds: dockets and kept partial files --------------- */

/*
 * Counted from the dockets ("srv IDENT ...") at most every IDSTAT_MS,
 * plus what this process added since: a cheap, slightly generous count
 * (pruning and commits lower it only at the next count), never a scan
 * per transfer.
 */
#define IDSTAT_MS	30000
#define IDSTAT_BUCKETS	256

struct idstat {
	struct idstat *next;
	unsigned dockets;
	uint64_t part;			/* octets of kept partial files */
	char	ident[PEER_IDENT_MAX];
};

static struct {
	struct spool *sp;
	int64_t	at;			/* last count; 0 never */
	struct idstat *b[IDSTAT_BUCKETS];
} ids;

static struct idstat *idstat_get(const char *ident, int make)
{
	unsigned h = (unsigned) crc32(0L, (const Bytef *) ident, (uInt) strlen(ident))
	    % IDSTAT_BUCKETS;
	struct idstat *e;

	for (e = ids.b[h]; e != NULL; e = e->next)
		if (strcmp(e->ident, ident) == 0)
			return e;
	if (!make)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	str_copy(e->ident, ident, sizeof(e->ident));
	e->next = ids.b[h];
	ids.b[h] = e;
	return e;
}

static int idstat_one(void *arg, const char *key, const void *value, size_t len)
{
	char    ident[PEER_IDENT_MAX], perr[64];
	const char *p = key + 4, *sp = strchr(p, ' ');
	struct srv_docket d;
	struct idstat *e;

	(void) arg;
	if (sp == NULL || (size_t) (sp - p) >= sizeof(ident))
		return 0;
	memcpy(ident, p, (size_t) (sp - p));
	ident[sp - p] = '\0';
	e = idstat_get(ident, 1);
	/* committed dockets stand for letters taken (as many as the relay
	 * rules and the disk let in): only unfinished transfers count */
	if (srv_docket_parse(value, len, &d, perr, sizeof(perr)) == 0 && !d.committed) {
		e->dockets++;
		if (d.part_mark > 0)
			e->part += d.part_off;
	}
	return 0;
}

static void idstat_clear(void)
{
	for (size_t i = 0; i < IDSTAT_BUCKETS; i++)
		while (ids.b[i] != NULL) {
			struct idstat *e = ids.b[i];

			ids.b[i] = e->next;
			free(e);
		}
}

/* part_limit - max_partial_per_peer; by default (UINT64_MAX in the
 * configuration) 256 MiB or 4 letters of max_letter_size, the larger */
static uint64_t part_limit(const struct conf *cf)
{
	uint64_t four = cf->max_letter_size > UINT64_MAX / 4 ? UINT64_MAX : 4 * cf->max_letter_size;

	if (cf->max_partial_per_peer != UINT64_MAX)
		return cf->max_partial_per_peer;
	return four > (256ULL << 20) ? four : 256ULL << 20;
}

/* idstat_part_gone - fh's kept partial octets are no longer kept */
static void idstat_part_gone(struct niftp_file *fh)
{
	struct idstat *e;

	if (fh->ck_off == 0 || ids.sp != fh->rd->sp || (e = idstat_get(fh->ident, 0)) == NULL)
		return;
	e->part = e->part > fh->ck_off ? e->part - fh->ck_off : 0;
	fh->ck_off = 0;
}

/* idstat_of - ident's counts, counted afresh when they are old */
static struct idstat *idstat_of(struct relayd *rd, const char *ident)
{
	int64_t now = loop_now_ms();

	if (ids.sp != rd->sp || ids.at == 0 || now - ids.at >= IDSTAT_MS) {
		idstat_clear();
		ids.sp = rd->sp;
		ids.at = now ? now : 1;
		(void) spool_docket_each(rd->sp, "srv ", idstat_one, NULL);
	}
	return idstat_get(ident, 1);
}

/* srv_docket_get - the docket of key into *d: 1; 0 when there is none (or
 * it cannot be read); -1 when it is malformed (logged: no record of that
 * transfer for a resumption, and a fresh transfer replaces it) */
static int srv_docket_get(struct relayd *rd, const char *key, struct srv_docket *d)
{
	char    err[SPOOL_ERRLEN], perr[256];
	char   *text;
	size_t  len;

	if ((text = spool_docket_get(rd->sp, key, &len, NULL, err, sizeof(err))) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", err);
		return 0;
	}
	if (srv_docket_parse(text, len, d, perr, sizeof(perr)) < 0) {
		log_warn("receive: server docket '%s': %s: no record of that transfer", key, perr);
		free(text);
		return -1;
	}
	free(text);
	return 1;
}

/* srv_docket_text - the docket of fh: committed, or not with its checkpoint
 * mark/off/crc when mark > 0; new memory (buf_release it), never empty */
static void srv_docket_text(const struct niftp_file *fh, int committed, uint32_t mark,
	uint64_t off, uint32_t crc, struct buf *b)
{
	struct srv_docket d;

	memset(&d, 0, sizeof(d));
	d.committed = committed;
	str_copy(d.name, fh->name, sizeof(d.name));
	str_copy(d.copy, fh->copy_id, sizeof(d.copy));
	d.part_mark = committed ? 0 : mark;
	d.part_off = off;
	d.part_crc = crc;
	buf_init(b, SRV_DOCKET_MAX);
	if (srv_docket_format(b, &d) < 0)	/* a name and 255 octets escaped fit */
		log_panic("receive '%s': docket of %zu octets at most", fh->name, b->max);
}

/* --- receive checkpoints ---------------------------------------------------- */

struct ckpt_job {
	struct niftp_file *fh;
	uint32_t mark;
	uint64_t off;
	uint32_t crc;
	int	ok;
	char	err[SPOOL_ERRLEN];
};

static void recv_commit(struct niftp_file *fh, struct niftp *n);

static void ckpt_start(struct niftp_file *fh);

/* ckpt_settled - no checkpoint in flight any more: go on with what waited */
static void ckpt_settled(struct niftp_file *fh)
{
	struct niftp *n = fh->commit_n;

	fh->ckpt_busy = 0;
	fh->commit_n = NULL;
	if (n != NULL && !fh->released) {
		fh->ckpt_again = 0;
		recv_commit(fh, n);
		return;
	}
	if (fh->ckpt_again) {
		fh->ckpt_again = 0;
		ckpt_start(fh);
		if (fh->ckpt_busy)
			return;
	}
	if (fh->released && !fh->committing)
		rfile_free(fh);
}

static void ckpt_saved(void *arg, int ok, const char *err)
{
	struct ckpt_job *j = arg;
	struct niftp_file *fh = j->fh;

	if (ok) {
		struct idstat *e = idstat_of(fh->rd, fh->ident);

		e->part += j->off > fh->ck_off ? j->off - fh->ck_off : 0;
		fh->ck_mark = j->mark;
		fh->ck_off = j->off;
		fh->ck_crc = j->crc;
		crash_point("relay-receive-after-checkpoint");
		log_debug("receive '%s': checkpoint at mark %lu (%llu octets)", fh->name,
		    (unsigned long) j->mark, (unsigned long long) j->off);
	} else
		log_warn("receive '%s': checkpoint: %s", fh->name, err);
	free(j);
	ckpt_settled(fh);
}

static void ckpt_work(void *arg)
{
	struct ckpt_job *j = arg;

	j->ok = spool_file_checkpoint(j->fh->sf, j->err, sizeof(j->err)) == 0;
}

static void ckpt_done(void *arg)
{
	struct ckpt_job *j = arg;
	struct niftp_file *fh = j->fh;
	struct relayd *rd = fh->rd;
	struct spool_txn *t;
	struct buf dk;

	relayd_job(rd, -1);
	if (!j->ok || fh->discard || fh->committing || fh->committed) {
		if (!j->ok)
			log_warn("receive '%s': checkpoint: %s", fh->name, j->err);
		free(j);
		ckpt_settled(fh);
		return;
	}
	srv_docket_text(fh, 0, j->mark, j->off, j->crc, &dk);
	t = spool_txn_new(rd->sp);
	spool_txn_docket_put(t, fh->key, buf_data(&dk), dk.len);
	buf_release(&dk);
	spool_txn_submit(t, ckpt_saved, j);
}

/* ckpt_start - checkpoint fh at its last mark (on a worker) */
static void ckpt_start(struct niftp_file *fh)
{
	struct ckpt_job *j;

	if (fh->ckpt_busy) {
		fh->ckpt_again = fh->released;	/* the last mark before a suspend */
		return;
	}
	if (fh->verify || fh->committing || fh->committed || fh->discard
	    || fh->sf == NULL || fh->key[0] == '\0' || fh->last_mark == 0
	    || fh->last_off <= fh->ck_off)
		return;
	if (part_limit(fh->rd->conf) > 0) {
		struct idstat *e = idstat_of(fh->rd, fh->ident);

		if (e->part + (fh->last_off - fh->ck_off) > part_limit(fh->rd->conf)) {
			if (!fh->part_full)
				log_warn("receive '%s': %s keeps %llu octets of partial files "
				    "(max_partial_per_peer %llu): no checkpoint, the transfer "
				    "resumes from mark %lu at most", fh->name, fh->ident,
				    (unsigned long long) e->part,
				    (unsigned long long) part_limit(fh->rd->conf),
				    (unsigned long) fh->ck_mark);
			fh->part_full = 1;
			return;
		}
	}
	j = xcalloc(1, sizeof(*j));
	j->fh = fh;
	j->mark = fh->last_mark;
	j->off = fh->last_off;
	j->crc = fh->last_crc;
	fh->ckpt_busy = 1;
	relayd_job(fh->rd, 1);
	workq_submit(fh->rd->wq, ckpt_work, ckpt_done, j);
}

/* A resumption's check that part/NAME still holds the checkpoint. */
struct verify_job {
	struct niftp_file *fh;
	int	fd;
	uint64_t off;
	uint32_t want;
	int	ok;
};

static void verify_work(void *arg)
{
	struct verify_job *j = arg;
	unsigned char b[64 * 1024];
	uint32_t crc = (uint32_t) crc32(0L, Z_NULL, 0);
	uint64_t done = 0;
	ssize_t n;

	while (done < j->off) {
		size_t  want = j->off - done < sizeof(b) ? (size_t) (j->off - done) : sizeof(b);

		if ((n = pread(j->fd, b, want, (off_t) done)) <= 0)
			return;
		crc = (uint32_t) crc32(crc, b, (uInt) n);
		done += (uint64_t) n;
	}
	j->ok = crc == j->want;
}

/*
 * recv_log_grant - say which mark a resumption gets. The engine grants
 * the lower of the donor's mark and ours (0xFFFE at most: 0xFFFF is "only
 * STOP left"), so a donor that asks for mark 0 starts over whatever we
 * kept, and that is what the log must say.
 */
static void recv_log_grant(const struct niftp_file *fh)
{
	uint32_t g = fh->want_mark < fh->ck_mark ? fh->want_mark : fh->ck_mark;

	if (g > NIFTP_MARK_EOF - 1)
		g = NIFTP_MARK_EOF - 1;
	if (g == fh->ck_mark)
		log_info("receive '%s': resumed from its checkpoint at mark %lu (%llu octets)",
		    fh->name, (unsigned long) fh->ck_mark, (unsigned long long) fh->ck_off);
	else if (g == 0)
		log_info("receive '%s': the donor asked to start over (mark 0); its checkpoint "
		    "at mark %lu (%llu octets) is not used", fh->name,
		    (unsigned long) fh->ck_mark, (unsigned long long) fh->ck_off);
	else
		log_info("receive '%s': resumed at mark %lu, the donor's, below its "
		    "checkpoint at mark %lu (%llu octets)", fh->name, (unsigned long) g,
		    (unsigned long) fh->ck_mark, (unsigned long long) fh->ck_off);
}

static void verify_done(void *arg)
{
	struct verify_job *j = arg;
	struct niftp_file *fh = j->fh;

	relayd_job(fh->rd, -1);
	fh->verify = 0;
	if (j->ok) {
		fh->res.mark = fh->ck_mark;
		fh->res.offset = fh->ck_off;
		fh->last_mark = fh->ck_mark;
		fh->last_off = fh->ck_off;
		fh->last_crc = fh->ck_crc;
		recv_log_grant(fh);
	} else {
		log_info("receive '%s': checkpoint at %llu octets not intact: from mark 0",
		    fh->name, (unsigned long long) fh->ck_off);
		fh->ck_mark = 0;
		fh->ck_off = 0;
		fh->ck_crc = 0;
	}
	free(j);
	if (fh->rc == NULL || fh->n == NULL) {
		if (fh->released || fh->rc == NULL)
			rfile_free(fh);
		return;
	}
	niftp_open_done(fh->n, 1, &fh->res);
	niftp_call_kick(fh->rc->call);
}

static void open_late_done(void *arg, int ok, const char *err)
{
	struct niftp_file *fh = arg;

	fh->late = 0;
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
	char    err[SPOOL_ERRLEN], key[RECV_KEY_MAX];
	const char *caller = req->caller && *req->caller ? req->caller : rc->peer;
	const char *copy = req->copy_id != NULL ? req->copy_id : "";
	const struct conf *cf = rd->conf;
	struct srv_docket d;
	int     found = 0;		/* srv_docket_get(): 1, 0 none, -1 malformed */

	res->fh = NULL;
	res->committed = 0;
	res->mark = 0;
	res->offset = 0;
	if (rd->stopping)
		return niftp_refuse(res, NIFTP_ST_REJ_LATER, "server shutting down");
	if (rc->pulling && req->filename != NULL && strcmp(req->filename, PULL_LIST_NAME) == 0) {
		/* the relay's list of what waits for us: into memory */
		fh = xcalloc(1, sizeof(*fh));
		fh->rc = rc;
		fh->rd = rd;
		fh->listing = 1;
		buf_reset(&rc->list);
		str_copy(fh->name, PULL_LIST_NAME, sizeof(fh->name));
		str_copy(res->name, PULL_LIST_NAME, sizeof(res->name));
		res->fh = fh;
		rc->fh = fh;
		return 0;
	}
	if (rd->conf->max_letter_size > 0 && req->size > 0
	    && (uint64_t) req->size > rd->conf->max_letter_size)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "letter of %lld octets is larger than the "
		    "limit of %llu", (long long) req->size,
		    (unsigned long long) rd->conf->max_letter_size);
	if (strlen(caller) >= RECV_CALLER_MAX)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "caller identity of %zu octets is longer "
		    "than %d", strlen(caller), RECV_CALLER_MAX - 1);
	if (strlen(copy) >= SRV_DOCKET_COPY_MAX)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "copy identity of %zu octets is longer "
		    "than %d", strlen(copy), SRV_DOCKET_COPY_MAX - 1);
	if (rc->peername[0] && cf->max_calls_per_peer > 0) {
		unsigned n = 0;

		for (const struct rcall *o = rd->rcalls; o != NULL; o = o->next)
			if (o->st == RC_CALL && o->active && strcmp(o->ident, rc->ident) == 0)
				n++;
		/* this call is active (its SFT came) and counted */
		if (n > cf->max_calls_per_peer) {
			lim_refused(rc, "max_calls_per_peer %u", cf->max_calls_per_peer);
			return niftp_refuse(res, NIFTP_ST_REJ_LATER, "too many transfers from peer %s "
			    "at once (max_calls_per_peer %u)", rc->peername,
			    cf->max_calls_per_peer);
		}
	}
	/* only a transfer that can be resumed (an id and a copy identity to
	 * match) keeps a docket or replaces one; dockets are keyed by the
	 * caller's identity (relay/peer.h), never by what it typed */
	key[0] = '\0';
	memset(&d, 0, sizeof(d));
	if (req->tid != 0 && *copy != '\0') {
		if (srv_key(rc->ident, req->tid, copy, key, sizeof(key)) < 0)
			return niftp_refuse(res, NIFTP_ST_REJ_MSG, "caller identity too long for a "
			    "docket key");
		if ((found = srv_docket_get(rd, key, &d)) <= 0)
			memset(&d, 0, sizeof(d));
		/* the key holds a hash of the copy identity: another copy here
		 * is a collision, never replaced (it may be committed) */
		if (found > 0 && d.copy[0] != '\0' && strcmp(copy, d.copy) != 0 && !req->resume)
			return niftp_refuse(res, NIFTP_ST_REJ_LATER, "transfer id %u is taken by another "
			    "copy: send it under another id", req->tid);
		if (found == 0 && !req->resume) {
			/* peers and local callers: per_peer; anyone else per source */
			unsigned max = rc->how != PEER_UNAUTH ? cf->max_dockets_per_peer
			    : cf->max_dockets_per_source;
			struct idstat *e = max > 0 ? idstat_of(rd, rc->ident) : NULL;

			if (e != NULL && e->dockets >= max) {
				const char *what = rc->how != PEER_UNAUTH ? "max_dockets_per_peer"
				    : "max_dockets_per_source";

				lim_refused(rc, "%s %u", what, max);
				return niftp_refuse(res, NIFTP_ST_REJ_LATER, "too many transfers on record "
				    "for %s (%s %u): try later", rc->ident, what, max);
			}
			if (e != NULL)
				e->dockets++;
		}
	}
	if (req->resume) {
		/* an empty copy identity on either side matches nothing */
		if (found <= 0 || d.copy[0] == '\0')
			return niftp_refuse(res, NIFTP_ST_REJ_NORESUME, "no record of that transfer");
		if (strcmp(copy, d.copy) != 0)
			return niftp_refuse(res, NIFTP_ST_REJ_NORESUME, "a different copy had that "
			    "transfer id");
		if (d.committed) {
			res->committed = 1;
			str_copy(res->name, d.name, sizeof(res->name));
			log_info("call from %s: transfer %u resumed after commit: '%s' already "
			    "stored", rc->peer, req->tid, d.name);
			return 0;
		}
	}
	fh = xcalloc(1, sizeof(*fh));
	fh->rc = rc;
	fh->rd = rd;
	fh->tid = req->tid;
	fh->crc = (uint32_t) crc32(0L, Z_NULL, 0);
	fh->want_mark = req->resume ? req->restart_mark : 0;
	/* the lengths were checked above (and calling when the call came) */
	str_copy(fh->key, key, sizeof(fh->key));
	str_copy(fh->ident, rc->ident, sizeof(fh->ident));
	str_copy(fh->peername, rc->peername, sizeof(fh->peername));
	fh->accept = rc->accept;
	fh->how = rc->how;
	str_copy(fh->caller, caller, sizeof(fh->caller));
	str_copy(fh->calling, rc->calling, sizeof(fh->calling));
	str_copy(fh->copy_id, copy, sizeof(fh->copy_id));
	fh->sf = NULL;
	if (req->resume && d.part_mark > 0) {
		/* the checkpoint's file, if it is still there (ENOENT: afresh) */
		fh->sf = spool_file_resume(rd->sp, d.name, err, sizeof(err));
		if (fh->sf == NULL && errno != ENOENT) {
			free(fh);
			return niftp_refuse(res, NIFTP_ST_REJ_LATER, "local trouble: %s", err);
		}
		if (fh->sf != NULL && spool_file_size(fh->sf) >= d.part_off) {
			fh->ck_mark = d.part_mark;
			fh->ck_off = d.part_off;
			fh->ck_crc = d.part_crc;
		}
	}
	if (fh->sf == NULL)
		fh->sf = spool_create(rd->sp, req->resume ? d.name : NULL, err, sizeof(err));
	if (fh->sf == NULL) {
		free(fh);
		return niftp_refuse(res, NIFTP_ST_REJ_LATER, "local trouble: %s", err);
	}
	str_copy(fh->name, spool_file_name(fh->sf), sizeof(fh->name));
	res->fh = fh;
	str_copy(res->name, fh->name, sizeof(res->name));
	rc->fh = fh;
	if (fh->ck_mark > 0) {
		/* check the kept octets on a worker, then grant their mark */
		struct verify_job *j = xcalloc(1, sizeof(*j));

		fh->res = *res;
		fh->n = niftp_call_engine(rc->call);
		fh->verify = 1;
		j->fh = fh;
		j->fd = spool_file_fd(fh->sf);
		j->off = fh->ck_off;
		j->want = fh->ck_crc;
		relayd_job(rd, 1);
		workq_submit(rd->wq, verify_work, verify_done, j);
		return 1;
	}
	if (found != 0 && !req->resume) {
		/* a fresh SFT replaces the older docket of its key (a malformed
		 * one too): durably, before RPOS; the older transfer's partial
		 * file goes too */
		struct spool_txn *t = spool_txn_new(rd->sp);

		if (found > 0 && d.part_mark > 0 && strcmp(d.name, fh->name) != 0
		    && spool_part_remove(rd->sp, d.name, err, sizeof(err)) < 0)
			log_warn("%s", err);
		fh->res = *res;
		fh->n = niftp_call_engine(rc->call);
		fh->late = 1;
		spool_txn_docket_del(t, key);
		spool_txn_submit(t, open_late_done, fh);
		return 1;
	}
	fh->n = niftp_call_engine(rc->call);
	return 0;
}

/* recv_open_read - a peer collects what is kept for it (pull mode,
 * relay/pull.h): only an authenticated peer, only its own letters */
static int recv_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct rcall *rc = fs;
	struct pull_file *pf;
	struct niftp_file *fh;
	char    nm[80];

	if (rc->pulling)
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "this call reads, it sends nothing");
	if (rc->peername[0] == '\0' || (rc->how != PEER_BY_PASSWORD && rc->how != PEER_BY_ADDRESS)) {
		log_warn("call from %s (%s): refused a read: only an authenticated peer may "
		    "collect letters", rc->peer, rc->ident);
		lim_refused(rc, "read by a caller that is no peer");
		res->denied = 1;
		return niftp_refuse(res, NIFTP_ST_REJ_MSG, "the mail service sends letters only to "
		    "the peer they wait for, authenticated");
	}
	if (pull_srv_open(rc->rd, rc->peername, req, res, &pf) < 0) {
		str_escape(nm, sizeof(nm), req->filename ? req->filename : "",
		    req->filename ? strlen(req->filename) : 0);
		log_info("call from %s (%s): read of %s refused: %s", rc->peer, rc->ident, nm,
		    res->reason);
		return -1;
	}
	fh = xcalloc(1, sizeof(*fh));
	fh->rc = rc;
	fh->rd = rc->rd;
	fh->pf = pf;
	str_copy(fh->name, res->name, sizeof(fh->name));
	str_copy(fh->ident, rc->ident, sizeof(fh->ident));
	fh->n = niftp_call_engine(rc->call);
	rc->fh = fh;
	res->fh = fh;
	return 0;
}

static ssize_t recv_read(struct niftp_file *fh, void *p, size_t len, char *reason)
{
	if (fh->pf != NULL)
		return pull_srv_read(fh->pf, p, len, reason);
	snprintf(reason, RECV_REASON_MAX, "not readable");
	return -1;
}

/* remove_done - the letter a peer read left the queue (or did not) */
static void remove_done(void *arg, int ok, const char *why)
{
	struct niftp_file *fh = arg;

	if (ok)
		log_info("call from %s (%s): '%s' collected", fh->rc ? fh->rc->peer : "?",
		    fh->ident, fh->name);
	else
		log_error("call from %s (%s): '%s' was read but not removed: %s",
		    fh->rc ? fh->rc->peer : "?", fh->ident, fh->name, why);
	if (fh->n != NULL && fh->rc != NULL) {
		struct niftp_call *call = fh->rc->call;

		niftp_remove_done(fh->n, ok, why);	/* its STOPACK frees fh */
		niftp_call_kick(call);
	}
}

/* recv_remove - the peer's STOP: it holds the letter; STOPACK once it
 * has left the queue durably */
static void recv_remove(struct niftp_file *fh, struct niftp *n, const char *info)
{
	fh->n = n;
	if (fh->pf == NULL) {
		niftp_remove_done(n, 0, "nothing to remove");
		return;
	}
	pull_srv_remove(fh->pf, info, remove_done, fh);
}

static int recv_write(struct niftp_file *fh, const void *p, size_t len, int *retry,
	char *reason)
{
	struct relayd *rd = fh->rd;

	crash_point("relay-receive-mid-data");
	*retry = 0;
	if (fh->listing) {
		if (fh->rc == NULL || buf_append(&fh->rc->list, p, len) < 0) {
			snprintf(reason, RECV_REASON_MAX, "%s longer than %u octets",
			    PULL_LIST_NAME, (unsigned) PULL_LIST_BYTES);
			return -1;
		}
		return 0;
	}
	if (rd->conf->max_letter_size > 0 && fh->size + len > rd->conf->max_letter_size) {
		snprintf(reason, RECV_REASON_MAX, "letter is larger than the limit of %llu octets",
		    (unsigned long long) rd->conf->max_letter_size);
		return -1;
	}
	if (pwrite_full(spool_file_fd(fh->sf), p, len, (off_t) fh->size) < 0) {
		*retry = errno == ENOSPC || errno == EDQUOT || errno == EIO;
		snprintf(reason, RECV_REASON_MAX, "write 'tmp/%s': %s", fh->name, strerror(errno));
		return -1;
	}
	fh->crc = (uint32_t) crc32(fh->crc, p, (uInt) len);
	fh->size += len;
	fh->wrote = 1;
	return 0;
}

static int recv_seek(struct niftp_file *fh, uint64_t offset, char *reason)
{
	if (fh->pf != NULL)
		return pull_srv_seek(fh->pf, offset, reason);
	snprintf(reason, RECV_REASON_MAX, "not readable");
	return -1;
}

static int recv_truncate(struct niftp_file *fh, uint64_t offset, char *reason)
{
	unsigned char b[64 * 1024];
	uint64_t done = 0;
	ssize_t n;
	int     fd;

	if (fh->listing) {
		if (fh->rc == NULL || offset > fh->rc->list.len) {
			snprintf(reason, RECV_REASON_MAX, "cannot cut %s", PULL_LIST_NAME);
			return -1;
		}
		fh->rc->list.len = (size_t) offset;
		return 0;
	}
	fd = spool_file_fd(fh->sf);

	if (ftruncate(fd, (off_t) offset) < 0) {
		snprintf(reason, RECV_REASON_MAX, "truncate 'tmp/%s': %s", fh->name,
		    strerror(errno));
		return -1;
	}
	fh->size = offset;
	if (fh->last_off > offset) {
		fh->last_mark = 0;
		fh->last_off = 0;
	}
	if (offset > 0 && offset == fh->ck_off && fh->ck_mark > 0) {
		fh->crc = fh->ck_crc;	/* checked when the transfer was resumed */
		return 0;
	}
	fh->crc = (uint32_t) crc32(0L, Z_NULL, 0);
	while (done < offset) {
		size_t  want = offset - done < sizeof(b) ? (size_t) (offset - done) : sizeof(b);

		n = pread(fd, b, want, (off_t) done);
		if (n <= 0) {
			snprintf(reason, RECV_REASON_MAX, "read 'tmp/%s': %s", fh->name,
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
	if (fh->listing || offset != fh->size)
		return;			/* not at the end of what we hold: no CRC */
	fh->last_mark = mark;
	fh->last_off = offset;
	fh->last_crc = fh->crc;
	if (offset >= fh->ck_off + RECV_CKPT_BYTES)
		ckpt_start(fh);
}

static void commit_done(void *arg, int ok, const char *err)
{
	struct niftp_file *fh = arg;
	struct relayd *rd = fh->rd;
	struct route_ctx *route;
	char    name[SPOOL_NAMELEN];

	fh->committing = 0;
	fh->sf = NULL;			/* handed to the transaction */
	str_copy(name, fh->name, sizeof(name));
	if (ok) {
		fh->committed = 1;
		idstat_part_gone(fh);
		if (fh->key[0] && ids.sp == rd->sp) {
			struct idstat *e = idstat_get(fh->ident, 0);

			if (e != NULL && e->dockets > 0)
				e->dockets--;	/* committed: no longer unfinished */
		}
		crash_point("relay-after-commit-before-er");
		sysio_mark("er-ok %s", name);
	} else
		log_error("receive '%s': %s", fh->name, err);
	if (fh->n != NULL && fh->rc != NULL) {
		niftp_commit_done(fh->n, ok, 1, ok ? NULL : "local trouble storing the letter");
		niftp_call_kick(fh->rc->call);
	}
	route = fh->route;
	fh->route = NULL;
	if (fh->released)
		rfile_free(fh);
	inbound_accepted_routed(rd, name, route, ok, err);
}

/* recv_refused - fh's letter refused in the call: logged, journaled
 * "refused NAME from=WHO calling=... reason=...", its file discarded */
static void recv_refused(struct niftp_file *fh, const char *who, const char *why)
{
	struct spool_txn *t = spool_txn_new(fh->rd->sp);
	const char *kv[6];

	log_warn("call from %s (%s): letter refused: %s", fh->rc ? fh->rc->peer : "?",
	    fh->ident, why);
	kv[0] = "from";
	kv[1] = who;
	kv[2] = "calling";
	kv[3] = fh->calling[0] ? fh->calling : "-";
	kv[4] = "reason";
	kv[5] = why;
	spool_txn_journal(t, "refused", fh->name, kv, 3);
	spool_txn_submit(t, NULL, NULL);
	fh->discard = 1;
}

static void recv_commit(struct niftp_file *fh, struct niftp *n)
{
	struct relayd *rd = fh->rd;
	struct spool_txn *t;
	struct letter *lt;
	struct inbound in;
	enum letter_status st;
	char    err[LETTER_ERRLEN], tid[16], donor[SRV_DOCKET_COPY_MAX], reason[512];
	const char *ikv[6];
	const char *donorp = NULL;
	int     parted;

	fh->n = n;
	if (fh->committed || fh->listing) {
		niftp_commit_done(n, 1, 0, NULL);
		return;
	}
	if (fh->ckpt_busy) {
		fh->commit_n = n;	/* its docket put must not overtake ours */
		return;
	}
	if ((lt = letter_open_pread(spool_file_fd(fh->sf), &st, err, sizeof(err))) == NULL) {
		snprintf(reason, sizeof(reason), "malformed letter: %s", err);
		recv_refused(fh, fh->caller, err);
		niftp_commit_done(n, 0, st == LETTER_EIO, reason);
		return;
	}
	/* relay rules (relay/peer.h): an unauthenticated caller's letter is
	 * refused whole, in the call, when any recipient is one it may not
	 * send to (never accepted and bounced later: no backscatter) */
	if (fh->how == PEER_UNAUTH) {
		int     deny = peer_relay_check(rd->conf, letter_rcpts(lt),
		    (unsigned) hdr_via_count(letter_hdr(lt)), fh->accept, reason, sizeof(reason));

		if (deny != 0) {
			recv_refused(fh, fh->ident, reason);
			letter_free(lt);
			niftp_commit_done(n, 0, deny == PEER_DENIED ? NIFTP_COMMIT_DENIED : 0, reason);
			return;
		}
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
	parted = spool_file_parted(fh->sf);
	memset(&in, 0, sizeof(in));
	in.from = fh->caller;
	in.calling = fh->calling[0] ? fh->calling : NULL;
	in.tid = fh->tid ? tid : NULL;
	in.donor = donorp;
	in.size = fh->size;
	in.crc = fh->crc;
	{
		static const char *const how[] = {
			[PEER_UNAUTH] = "none", [PEER_BY_PASSWORD] = "password",
			[PEER_BY_ADDRESS] = "address", [PEER_REFUSED] = "none",
			[PEER_BY_LOCAL] = "local",
		};

		ikv[0] = "peer";
		ikv[1] = fh->peername[0] ? fh->peername : "-";
		ikv[2] = "auth";
		ikv[3] = how[fh->how <= PEER_BY_LOCAL ? fh->how : 0];
		ikv[4] = "source";
		ikv[5] = fh->ident;
		in.kv = ikv;
		in.nkv = 3;
	}
	fh->route = inbound_commit_routed(rd, t, fh->sf, &in, lt);
	if (fh->key[0]) {
		struct buf dk;

		srv_docket_text(fh, 1, 0, 0, 0, &dk);
		spool_txn_docket_put(t, fh->key, buf_data(&dk), dk.len);
		buf_release(&dk);
	}
	if (parted)
		spool_txn_remove(t, SPOOL_PART, fh->name);
	letter_free(lt);
	fh->committing = 1;
	spool_txn_submit(t, commit_done, fh);
}

static void recv_release(struct niftp_file *fh)
{
	if (fh->pf != NULL) {
		pull_srv_close(fh->pf);
		fh->pf = NULL;
	}
	fh->released = 1;
	if (fh->rc != NULL && fh->rc->fh == fh)
		fh->rc->fh = NULL;
	fh->rc = NULL;
	fh->n = NULL;
	fh->commit_n = NULL;	/* never commit_done after suspend/finish */
	if (!fh->committing && !fh->ckpt_busy && !fh->verify)
		rfile_free(fh);
}

/* recv_suspend - the call broke: checkpoint at the last mark, if any */
static void recv_suspend(struct niftp_file *fh)
{
	fh->released = 1;
	if (!fh->committed && !fh->committing && !fh->listing && fh->pf == NULL)
		ckpt_start(fh);
	recv_release(fh);
}

/* recv_finish - ended; an abandoned write drops its partial file (unless
 * the transfer never wrote: a file handed back from a late open) */
static void recv_finish(struct niftp_file *fh, int ok)
{
	if (!ok && !fh->committed && !fh->committing && fh->wrote)
		fh->discard = 1;
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
	recv_remove,
};

/* --- limits: budgets, timeouts, refusals ------------------------------------- */

/* One kind of refusal from one source, counted between its journal lines. */
struct refusal {
	char	from[RECV_FROM_MAX];
	char	why[RECV_WHY_MAX];
	unsigned count;			/* refusals not journaled yet */
	int64_t	due;			/* its next line; with count 0, the burst is over */
};

/*
 * The refusal counts of the node. A daemon serves one node (one struct
 * relayd, one loop), so they are this file's own; they are started
 * afresh for another node or loop (lim_bind).
 */
static struct {
	struct relayd *rd;
	struct loop *loop;
	struct refusal *ref;		/* RECV_REFUSE_MAX + RECV_REFUSE_SPARE */
	size_t	nref;
	uint64_t tick;
	int64_t	tick_at;
} lim;

#define RECV_REFUSE_SPARE	16	/* room for the from=* entries */

static void lim_bind(struct relayd *rd)
{
	if (lim.rd == rd && lim.loop == rd->loop && lim.ref != NULL)
		return;
	free(lim.ref);			/* timers died with their loop */
	memset(&lim, 0, sizeof(lim));
	lim.rd = rd;
	lim.loop = rd->loop;
	lim.ref = xcalloc(RECV_REFUSE_MAX + RECV_REFUSE_SPARE, sizeof(*lim.ref));
}

static void lim_flush(int all);

static void lim_tick(struct loop *loop, void *arg)
{
	(void) loop;
	(void) arg;
	lim.tick = 0;
	lim_flush(0);
}

/* lim_arm - the timer for the earliest due entry */
static void lim_arm(void)
{
	int64_t at = INT64_MAX, now = loop_now_ms();
	size_t  i;

	for (i = 0; i < lim.nref; i++)
		if (lim.ref[i].due < at)
			at = lim.ref[i].due;
	if (lim.tick != 0 && (lim.nref == 0 || at < lim.tick_at)) {
		loop_timer_del(lim.loop, lim.tick);
		lim.tick = 0;
	}
	if (lim.tick == 0 && lim.nref > 0) {
		lim.tick_at = at;
		lim.tick = loop_timer_add(lim.loop, at > now ? at - now : 0, lim_tick, NULL);
	}
}

/*
 * lim_flush - one journal line (and one log line) "refused - from=FROM
 * reason=WHY count=N" for each entry that is due and counted refusals
 * since its last line (all: every entry with a count, due or not);
 * an entry due with nothing counted ends its burst and goes. All lines
 * of one flush share one transaction.
 */
static void lim_flush(int all)
{
	struct relayd *rd = lim.rd;
	struct spool_txn *t = NULL;
	int64_t now = loop_now_ms();
	const char *kv[6];
	char    n[24];
	size_t  i;

	for (i = 0; i < lim.nref;) {
		struct refusal *e = &lim.ref[i];

		if (!all && e->due > now) {
			i++;
			continue;
		}
		if (e->count == 0) {
			if (!all)
				lim.ref[i] = lim.ref[--lim.nref];
			else
				i++;
			continue;
		}
		log_warn("refused %u connection%s from %s: %s", e->count, e->count == 1 ? "" : "s",
		    e->from, e->why);
		if (rd->sp != NULL) {
			if (t == NULL)
				t = spool_txn_new(rd->sp);
			snprintf(n, sizeof(n), "%u", e->count);
			kv[0] = "from";
			kv[1] = e->from;
			kv[2] = "reason";
			kv[3] = e->why;
			kv[4] = "count";
			kv[5] = n;
			spool_txn_journal(t, "refused", NULL, kv, 3);
		}
		e->count = 0;
		e->due = now + RECV_REFUSE_EVERY_MS;
		i++;
	}
	if (t != NULL)
		spool_txn_submit(t, NULL, NULL);
	lim_arm();
}

static void lim_refused(struct rcall *rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * lim_refused - count one refusal of rc (a connection dropped, refused,
 * timed out or cut by a limit) under its source and reason; the first of
 * a burst is journaled within RECV_REFUSE_FIRST_MS, then at most once
 * every RECV_REFUSE_EVERY_MS while the burst goes on.
 */
static void lim_refused(struct rcall *rc, const char *fmt, ...)
{
	char    why[RECV_WHY_MAX];
	const char *from = rc->addr[0] ? rc->addr : rc->peer;
	struct refusal *e = NULL;
	va_list ap;
	size_t  i;
	int     pass;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	lim_bind(rc->rd);
	log_debug("call from %s: refused: %s", rc->peer, why);
	for (pass = 0; pass < 2 && e == NULL; pass++) {
		for (i = 0; i < lim.nref && e == NULL; i++)
			if (strcmp(lim.ref[i].why, why) == 0 && strncmp(lim.ref[i].from, from,
			    RECV_FROM_MAX - 1) == 0)
				e = &lim.ref[i];
		if (e != NULL)
			break;
		if (lim.nref < (pass == 0 ? RECV_REFUSE_MAX : RECV_REFUSE_MAX + RECV_REFUSE_SPARE)) {
			e = &lim.ref[lim.nref++];
			memset(e, 0, sizeof(*e));
			str_copy(e->from, from, sizeof(e->from));
			str_copy(e->why, why, sizeof(e->why));
			e->due = loop_now_ms() + RECV_REFUSE_FIRST_MS;
			break;
		}
		from = "*";		/* too many sources: counted together */
	}
	if (e == NULL)
		return;			/* no room even for "*" (reasons changed by reloads) */
	e->count++;
	if (rc->rd->stopping)
		lim_flush(1);
	else
		lim_arm();
}

/* addr_key - the source address key of a tcp peer ("1.2.3.4:P", "[V6]:P"):
 * IPv4 as is (also when mapped into IPv6), IPv6 by its /64 (one site
 * holds a /64 at least); "" for anything else (unix:, stdio: no address) */
static void addr_key(const char *peer, char *key, size_t len)
{
	struct in6_addr a6;
	struct in_addr a4;
	char    host[INET6_ADDRSTRLEN + 8];
	const char *end;

	key[0] = '\0';
	if (peer[0] == '[') {
		if ((end = strchr(peer, ']')) == NULL || (size_t) (end - peer - 1) >= sizeof(host))
			return;
		memcpy(host, peer + 1, (size_t) (end - peer - 1));
		host[end - peer - 1] = '\0';
		if (strncasecmp(host, "::ffff:", 7) == 0 && inet_pton(AF_INET, host + 7, &a4) == 1) {
			str_copy(key, host + 7, len);
			return;
		}
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return;
		memset(a6.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a6, host, sizeof(host)) != NULL)
			snprintf(key, len, "%s/64", host);
		return;
	}
	if ((end = strrchr(peer, ':')) == NULL || (size_t) (end - peer) >= sizeof(host))
		return;
	memcpy(host, peer, (size_t) (end - peer));
	host[end - peer] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1)
		str_copy(key, host, len);
}

/* dur_text - a duration as the configuration writes it */
static const char *dur_text(int ms, char *b, size_t len)
{
	if (ms > 0 && ms % 60000 == 0)
		snprintf(b, len, "%dm", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(b, len, "%ds", ms / 1000);
	else
		snprintf(b, len, "%dms", ms);
	return b;
}

/* count_rc - connections in state st (from addr, when not NULL) */
static unsigned count_rc(const struct relayd *rd, enum rc_state st, const char *addr)
{
	const struct rcall *rc;
	unsigned n = 0;

	for (rc = rd->rcalls; rc != NULL; rc = rc->next)
		if (rc->st == st && (addr == NULL || strcmp(rc->addr, addr) == 0))
			n++;
	return n;
}

/* oldest_pending - the pending connection that came first (from addr,
 * when not NULL); the list holds the newest first */
static struct rcall *oldest_pending(const struct relayd *rd, const char *addr)
{
	struct rcall *rc, *old = NULL;

	for (rc = rd->rcalls; rc != NULL; rc = rc->next)
		if (rc->st == RC_PENDING && (addr == NULL || strcmp(rc->addr, addr) == 0))
			old = rc;
	return old;
}

static void rcall_lim(struct loop *loop, void *arg);

/* rcall_arm - (re)start rc's limit timer; ms <= 0: none */
static void rcall_arm(struct rcall *rc, int64_t ms)
{
	if (rc->lim_timer)
		loop_timer_del(rc->rd->loop, rc->lim_timer);
	rc->lim_timer = ms > 0 ? loop_timer_add(rc->rd->loop, ms, rcall_lim, rc) : 0;
}

/* rcall_octets - payload octets the call moved either way so far */
static uint64_t rcall_octets(const struct rcall *rc)
{
	struct ts_conn *ts = rc->call != NULL ? niftp_call_ts(rc->call) : NULL;
	uint64_t sent = 0, rcvd = 0;

	if (ts == NULL)
		return rc->win_octets;
	ts_bytes(ts, &sent, &rcvd);
	return sent + rcvd;
}

/* rcall_window - start a rate window now */
static void rcall_window(struct rcall *rc)
{
	rc->win_start = loop_now_ms();
	rc->win_octets = rcall_octets(rc);
	rcall_arm(rc, rc->rd->conf->rate_window_ms);
}

/* waiting_on_us - the transfer waits for our disk, not for the caller */
static int waiting_on_us(const struct rcall *rc)
{
	const struct niftp_file *fh = rc->fh;

	return fh != NULL && (fh->late || fh->verify || fh->committing || fh->commit_n != NULL);
}

/* rcall_idle - the call is between transfers: end it after idle_call_timeout */
static void rcall_idle(struct rcall *rc)
{
	rcall_arm(rc, rc->rd->conf->idle_call_timeout_ms);
}

/*
 * rcall_lim - a limit timer: a pending connection's set-up time is over;
 * a call had no transfer for idle_call_timeout; a transfer's rate window
 * ended: below min_rate the call is cut (the transfer stays resumable,
 * as with any broken call).
 */
static void rcall_lim(struct loop *loop, void *arg)
{
	struct rcall *rc = arg;
	const struct conf *cf = rc->rd->conf;
	char    d[24], text[200];
	uint64_t now_oct, rate;
	int64_t el;

	(void) loop;
	rc->lim_timer = 0;
	if (rc->down)
		return;
	if (rc->st == RC_PENDING) {
		dur_text(cf->pending_timeout_ms, d, sizeof(d));
		lim_refused(rc, "pending_timeout %s", d);
		snprintf(text, sizeof(text), "no CONNECT within %s (pending_timeout)", d);
		rc->st = RC_GONE;
		ts_refuse(rc->ts, TS_R_TSFAIL, text);
		return;
	}
	if (rc->st != RC_CALL || rc->call == NULL)
		return;
	if (rc->held == 1 && niftp_call_ts(rc->call) != NULL) {
		/* the delay is over: read the caller's STOP and answer it, then
		 * hang up. Its STOPACK carries the refusal to the caller (niftp
		 * put exits 77); a call cut while the caller waits for it reads
		 * as a broken call, to be tried again. One more delay for a
		 * caller that sends no STOP. */
		rc->held = 2;
		ts_pause(niftp_call_ts(rc->call), 0);
		niftp_call_hangup(rc->call);
		rcall_arm(rc, cf->auth_fail_delay_ms);
		return;
	}
	if (rc->held) {
		rc->st = RC_GONE;
		niftp_call_abort(rc->call, TS_R_BARRED, "username or password refused");
		return;
	}
	if (!rc->active) {
		if (cf->idle_call_timeout_ms <= 0)
			return;
		dur_text(cf->idle_call_timeout_ms, d, sizeof(d));
		lim_refused(rc, "idle_call_timeout %s", d);
		log_info("call from %s: no transfer for %s: ended (idle_call_timeout)", rc->peer, d);
		snprintf(text, sizeof(text), "no transfer within %s (idle_call_timeout)", d);
		rc->st = RC_GONE;
		niftp_call_abort(rc->call, TS_R_TSFAIL, text);
		return;
	}
	if (cf->min_rate == 0 || rc->tfs != NULL)
		return;
	now_oct = rcall_octets(rc);
	el = loop_now_ms() - rc->win_start;
	if (waiting_on_us(rc) || el <= 0) {
		rcall_window(rc);
		return;
	}
	rate = (now_oct - rc->win_octets) * 1000 / (uint64_t) el;
	if (rate >= cf->min_rate) {
		rcall_window(rc);
		return;
	}
	lim_refused(rc, "min_rate %llu", (unsigned long long) cf->min_rate);
	log_info("call from %s: transfer at %llu octets/s over %s, below min_rate %llu: cut "
	    "(it can be resumed)", rc->peer, (unsigned long long) rate,
	    dur_text((int) el, d, sizeof(d)), (unsigned long long) cf->min_rate);
	snprintf(text, sizeof(text), "transfer slower than %llu octets/s (min_rate)",
	    (unsigned long long) cf->min_rate);
	rc->st = RC_GONE;
	niftp_call_abort(rc->call, TS_R_TSFAIL, text);
}

/* --- calls ---------------------------------------------------------------- */

static void rcall_free(struct rcall *rc)
{
	struct relayd *rd = rc->rd;
	struct rcall **pp;

	if (rc->reap_timer)
		loop_timer_del(rd->loop, rc->reap_timer);
	if (rc->lim_timer)
		loop_timer_del(rd->loop, rc->lim_timer);
	if (rc->fh != NULL) {
		rc->fh->rc = NULL;
		rc->fh->n = NULL;
	}
	if (rc->call != NULL)
		niftp_call_free(rc->call);
	trace_fs_free(rc->tfs);
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
	rc->st = RC_GONE;
	rcall_arm(rc, 0);
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
		if (rc->st == RC_CALL) {
			if (rc->rd->conf->min_rate > 0 && rc->tfs == NULL)
				rcall_window(rc);
			else
				rcall_arm(rc, 0);
		}
		break;
	case NIFTP_EV_DONE:
		rc->active = 0;
		if (rc->held)
			break;		/* refused credentials: the hold's timer ends it */
		if (ev->status != NIFTP_OK)
			log_info("call from %s: transfer ended: %s: %s", rc->peer,
			    niftp_status_str(ev->status), ev->reason ? ev->reason : "");
		if (rc->rd->stopping)
			niftp_call_hangup(rc->call);
		else if (rc->st == RC_CALL)
			rcall_idle(rc);
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

/*
 * local_caller - a caller running as us or as root on this host: over a
 * Unix socket (SO_PEERCRED), or over loopback TCP (the kernel's socket
 * table says whose the other end is: looked up once, only when asked).
 * Never one that comes through a forwarder, which would pass strangers
 * on as itself: a declared gateway ([peer] via), the stdio door, a
 * listener with local=no.
 */
static int local_caller(struct rcall *rc, struct ts_conn *c)
{
	unsigned long me = (unsigned long) geteuid();

	if (rc->no_local || peer_is_gateway(rc->rd->conf, &rc->src))
		return 0;
	if (rc->src.kind == PEER_PLACE_UID)
		return rc->src.uid == 0 || rc->src.uid == me;
	if (rc->src.kind != PEER_PLACE_IP)
		return 0;
	if (!rc->lo_looked && c != NULL) {
		rc->lo_looked = 1;
		rc->src.lo_uid_known = ts_peer_loopback_uid(c, &rc->src.lo_uid) == 0;
	}
	return rc->src.lo_uid_known && (rc->src.lo_uid == 0 || rc->src.lo_uid == me);
}

/* rcall_who - rc's identity after peer_identify(): a local caller that is
 * no peer is local submission (c: its connection, for the look-up) */
static void rcall_who(struct rcall *rc, enum peer_how how, const struct conf_peer *who,
	struct ts_conn *c)
{
	if (how == PEER_UNAUTH && local_caller(rc, c)) {
		rc->how = PEER_BY_LOCAL;
		snprintf(rc->ident, sizeof(rc->ident), "local:uid:%lu",
		    rc->src.kind == PEER_PLACE_UID ? rc->src.uid : rc->src.lo_uid);
		rc->peername[0] = '\0';
		return;
	}
	rc->how = how;
	peer_ident(who, &rc->src, rc->ident, sizeof(rc->ident));
	str_copy(rc->peername, who != NULL ? who->name : "", sizeof(rc->peername));
}

/*
 * recv_auth - the engine's auth hook, at every SFT: who is calling (the
 * username and password of this SFT, or the source alone). Refused
 * credentials cost the caller auth_fail_delay: the call is held (no
 * more input read) and then ended. On a listener with accept = peers an
 * unauthenticated caller is refused alike (without the delay).
 */
static int recv_auth(void *arg, const char *user, const char *password, const char *caller)
{
	struct rcall *rc = arg;
	const struct conf *cf = rc->rd->conf;
	const struct conf_peer *who = NULL;
	char    why[400];
	enum peer_how how;

	(void) caller;
	how = peer_identify(cf, &rc->src, user, password, &who, why, sizeof(why));
	if (how == PEER_REFUSED) {
		log_warn("call from %s: username or password refused: %s", rc->peer, why);
		lim_refused(rc, "authentication failed");
		rcall_who(rc, PEER_UNAUTH, NULL, NULL);
		if (!rc->held && cf->auth_fail_delay_ms > 0 && rc->call != NULL) {
			rc->held = 1;
			ts_pause(niftp_call_ts(rc->call), 1);
			rcall_arm(rc, cf->auth_fail_delay_ms);
		}
		return -1;
	}
	rcall_who(rc, how, who, rc->call != NULL ? niftp_call_ts(rc->call) : NULL);
	if (rc->tfs != NULL) {
		int     ok = cf->trace_access == PEER_ACCEPT_ANY || rc->how == PEER_BY_LOCAL
		    || (cf->trace_access == PEER_ACCEPT_PEERS && rc->peername[0]);

		trace_fs_entitle(rc->tfs, ok);
		return 0;
	}
	if (rc->how == PEER_UNAUTH && rc->accept == PEER_ACCEPT_PEERS) {
		log_warn("call from %s (%s): refused: this listener takes letters from "
		    "authenticated peers only (accept=peers)", rc->peer, rc->ident);
		lim_refused(rc, "accept=peers");
		return -1;
	}
	return 0;
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

/* recv_refuse - refuse rc's CONNECT: it counts in no budget from now */
static void recv_refuse(struct rcall *rc, struct ts_conn *c, int reason, const char *text)
{
	rc->st = RC_GONE;
	rcall_arm(rc, 0);
	ts_refuse(c, reason, text);
}

/* call_budget - rc's CONNECT came: room for one more call? 0, or -1 refused */
static int call_budget(struct rcall *rc, struct ts_conn *c)
{
	struct relayd *rd = rc->rd;
	const struct conf *cf = rd->conf;
	char    text[200];

	if (count_rc(rd, RC_CALL, NULL) >= cf->max_calls) {
		lim_refused(rc, "max_calls %u", cf->max_calls);
		recv_refuse(rc, c, TS_R_BUSY, "too many calls");
		return -1;
	}
	if (rc->addr[0] && cf->max_calls_per_addr > 0
	    && count_rc(rd, RC_CALL, rc->addr) >= cf->max_calls_per_addr) {
		lim_refused(rc, "max_calls_per_addr %u", cf->max_calls_per_addr);
		snprintf(text, sizeof(text), "too many calls from %s", rc->addr);
		recv_refuse(rc, c, TS_R_BUSY, text);
		return -1;
	}
	rc->st = RC_CALL;
	rcall_idle(rc);
	return 0;
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
		if (str_copy(rc->calling, ev->calling ? ev->calling : "", sizeof(rc->calling))
		    >= sizeof(rc->calling)) {
			log_warn("call from %s refused: calling address longer than %d octets",
			    rc->peer, RECV_CALLER_MAX - 1);
			recv_refuse(rc, c, TS_R_BADADDR, "calling address too long");
			return;
		}
		if (rd->stopping) {
			recv_refuse(rc, c, TS_R_OUTOFORDER, "mail relay shutting down");
			return;
		}
		peer_src_of(c, rc->calling, &rc->src);
		/* through a declared gateway, a peer's calls are counted per
		 * gateway and the calling address it passes on for that peer;
		 * any other caller through it shares the gateway's budget (it
		 * would pick a fresh calling address for each call) */
		if (rc->addr[0] && peer_via_known(rd->conf, &rc->src)) {
			char    k[2 * RECV_ADDR_MAX];

			snprintf(k, sizeof(k), "%s>%.*s", rc->addr, RECV_ADDR_MAX / 2, rc->calling);
			str_copy(rc->addr, k, sizeof(rc->addr));
		}
		if (!called_ok(called)) {
			log_warn("call from %s refused: unknown called address '%s'", rc->peer,
			    called);
			recv_refuse(rc, c, TS_R_BADADDR, "unknown called address");
			return;
		}
		if (call_budget(rc, c) < 0)
			return;
		{
			/* after the budget: a refused connection costs no look-up */
			const struct conf_peer *who = NULL;
			char    why[8];

			rcall_who(rc, peer_identify(rd->conf, &rc->src, NULL, NULL, &who, why,
			    sizeof(why)), who, c);
		}
		if (trace_fs_called(called)) {
			if (ts_accept(c) < 0)
				return;
			memset(&cfg, 0, sizeof(cfg));
			cfg.info = VERSION_LINE("mailrelayd") " trace";
			memset(&hooks, 0, sizeof(hooks));
			hooks.event = recv_event;
			hooks.call = recv_callev;
			hooks.auth = recv_auth;
			rc->ts = NULL;
			rc->tfs = trace_fs_new(rd);
			rc->call = niftp_call_serve(rd->loop, c, &cfg, &hooks, rc, &trace_fs_ops,
			    rc->tfs);
			trace_fs_set_call(rc->tfs, rc->call);
			return;
		}
		if (ts_accept(c) < 0)
			return;
		memset(&cfg, 0, sizeof(cfg));
		cfg.info = VERSION_LINE("mailrelayd");
		cfg.deflate = 1;
		cfg.resumption = 1;
		cfg.max_size = rd->conf->max_letter_size;
		cfg.mail_only = 1;
		cfg.mail_reads = 1;	/* pull mode: recv_open_read() decides */
		memset(&hooks, 0, sizeof(hooks));
		hooks.event = recv_event;
		hooks.call = recv_callev;
		hooks.auth = recv_auth;
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

/* pending_drop - drop a pending connection to make room (no reason
 * reaches it: it has not even sent its CONNECT) */
static void pending_drop(struct rcall *rc, const char *limit, unsigned n)
{
	lim_refused(rc, "%s %u", limit, n);
	rcall_free(rc);
}

/*
 * relayd_serve_new - a new transport connection: pending until its
 * CONNECT. Room is made first: beyond max_pending_per_addr from its
 * source, or max_pending in all, the OLDEST pending connection (of that
 * source, or of all) is dropped, never a call past its CONNECT. A caller
 * sends CONNECT at once, so an honest connection is pending for a moment
 * only: dropping the oldest keeps it served under a flood of silent ones,
 * where refusing the newest would lock it out until they time out.
 */
void relayd_serve_new(struct relayd *rd, struct ts_listener *l, struct ts_conn *c)
{
	struct rcall *rc = xcalloc(1, sizeof(*rc)), *old;
	const struct conf *cf = rd->conf;
	enum ts_kind k = ts_conn_kind(c);

	rc->rd = rd;
	rc->ts = c;
	rc->st = RC_PENDING;
	/* the listener's rules as it was bound (a reload does not rebind,
	 * so the configuration's list may no longer match rd->ls) */
	rc->accept = PEER_ACCEPT_LOCAL;
	rc->no_local = 1;
	for (int i = 0; i < rd->nls; i++)
		if (rd->ls[i] == l) {
			rc->accept = rd->ls_accept[i];
			rc->no_local = !rd->ls_local[i];
		}
	str_copy(rc->peer, ts_peer(c), sizeof(rc->peer));
	if (k == TS_TCP || k == TS_RAWTCP)
		addr_key(rc->peer, rc->addr, sizeof(rc->addr));
	if (rc->addr[0] && cf->max_pending_per_addr > 0)
		while (count_rc(rd, RC_PENDING, rc->addr) >= cf->max_pending_per_addr
		    && (old = oldest_pending(rd, rc->addr)) != NULL)
			pending_drop(old, "max_pending_per_addr", cf->max_pending_per_addr);
	while (count_rc(rd, RC_PENDING, NULL) >= cf->max_pending
	    && (old = oldest_pending(rd, NULL)) != NULL)
		pending_drop(old, "max_pending", cf->max_pending);
	rc->next = rd->rcalls;
	rd->rcalls = rc;
	rd->nrcalls++;
	ts_set_handler(c, recv_incoming, rc);
	rcall_arm(rc, cf->pending_timeout_ms);
}

/* relayd_recv_busy - calls alive */
int relayd_recv_busy(const struct relayd *rd)
{
	return rd->rcalls != NULL;
}

/* relayd_recv_stop - end calls between transfers (all when now); the
 * refusals counted so far are journaled */
void relayd_recv_stop(struct relayd *rd, int now)
{
	struct rcall *rc;

	if (lim.rd == rd && lim.loop == rd->loop)
		lim_flush(1);
	for (rc = rd->rcalls; rc != NULL; rc = rc->next) {
		if (rc->down || (!now && rc->active))
			continue;
		if (rc->call != NULL)
			niftp_call_abort(rc->call, TS_R_OUTOFORDER, "mail relay shutting down");
		else if (rc->ts != NULL)
			ts_disconnect(rc->ts, TS_R_OUTOFORDER, "mail relay shutting down");
	}
}

/* --- pulling: this node's call to a relay (relay/pull.c) ------------------------- */

/*
 * A pull call is ours (P), but what it brings in is received exactly as
 * a letter sent to us: by this filestore, with a server docket keyed by
 * the relay's identity "pull:RELAY", the transfer id the puller chose
 * and the copy identity the relay listed, committed through the inbound
 * door. Its rcall is the puller's, never in rd->rcalls (no budget of
 * incoming calls), and is freed by relayd_pull_rcall_free().
 */
struct rcall *relayd_pull_rcall(struct relayd *rd, const char *relay, const char *addr)
{
	struct rcall *rc = xcalloc(1, sizeof(*rc));

	rc->rd = rd;
	rc->st = RC_CALL;
	rc->pulling = 1;
	rc->no_local = 1;
	rc->how = PEER_BY_ADDRESS;		/* we called it, at its route's address */
	rc->accept = PEER_ACCEPT_PEERS;
	buf_init(&rc->list, PULL_LIST_BYTES);
	str_copy(rc->peer, addr, sizeof(rc->peer));
	snprintf(rc->ident, sizeof(rc->ident), "pull:%s", relay);
	str_copy(rc->peername, relay, sizeof(rc->peername));
	return rc;
}

void relayd_pull_rcall_bind(struct rcall *rc, struct niftp_call *call)
{
	rc->call = call;
}

const struct buf *relayd_pull_rcall_list(const struct rcall *rc)
{
	return &rc->list;
}

const char *relayd_pull_rcall_ident(const struct rcall *rc)
{
	return rc->ident;
}

void relayd_pull_rcall_free(struct rcall *rc)
{
	if (rc == NULL)
		return;
	if (rc->fh != NULL) {		/* the engine did not release it */
		rc->fh->rc = NULL;
		rc->fh->n = NULL;
	}
	buf_release(&rc->list);
	free(rc);
}

const struct niftp_fs_ops *relayd_recv_fs(void)
{
	return &recv_ops;
}

/* relayd_pull_docket - the server docket a pull of copy (tid) from relay
 * keeps: 1 with *committed, 0 none (or malformed: no record) */
int relayd_pull_docket(struct relayd *rd, const char *relay, unsigned tid, const char *copy,
	int *committed, char *name, size_t namelen)
{
	char    ident[PEER_IDENT_MAX], key[RECV_KEY_MAX];
	struct srv_docket d;

	snprintf(ident, sizeof(ident), "pull:%s", relay);
	if (srv_key(ident, tid, copy, key, sizeof(key)) < 0 || srv_docket_get(rd, key, &d) <= 0
	    || strcmp(d.copy, copy) != 0)
		return 0;
	*committed = d.committed;
	str_copy(name, d.name, namelen);
	return 1;
}

/* relayd_pull_docket_drop - forget a pull once the relay confirmed it let
 * its copy go (STOPACK 0x2000 after its durable removal): the relay will
 * not list that copy again, so the docket has done its work. A record in
 * the next batch; a crash before it leaves the docket, which the next
 * pass never meets (the copy is not listed) and costs a line. */
void relayd_pull_docket_drop(struct relayd *rd, const char *relay, unsigned tid,
	const char *copy)
{
	char    ident[PEER_IDENT_MAX], key[RECV_KEY_MAX];
	struct spool_txn *t;

	snprintf(ident, sizeof(ident), "pull:%s", relay);
	if (srv_key(ident, tid, copy, key, sizeof(key)) < 0)
		return;
	t = spool_txn_new(rd->sp);
	spool_txn_docket_del(t, key);
	spool_txn_submit(t, NULL, NULL);
}

