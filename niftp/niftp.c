/*++
 * NAME
 *	niftp 3
 * SUMMARY
 *	NIFTP-80 protocol engine, P and Q roles, sans I/O
 * SYNOPSIS
 *	#include "niftp/niftp.h"
 * DESCRIPTION
 *	The call-level state machine: engine life cycle, the command
 *	table (SFT, RPOS, RNEG, GO, STOP, STOPACK by state), STOP and
 *	STOPACK, transfer completion and the events the program sees.
 *	Attribute negotiation lives in niftp_attr.c, the data phase
 *	(marks, restarts, compression, commit) in niftp_data.c.
 *
 *	Callbacks may re-enter the engine or free it: every public entry
 *	counts its depth, niftp_free() inside a callback only marks the
 *	engine, and the outermost entry frees it on the way out. After an
 *	event the engine looks at nothing but that mark.
 * DIAGNOSTICS
 *	Peer errors end the transfer (NIFTP_EV_DONE) or the call
 *	(NIFTP_EV_FAILED) with a reason naming the command and the fault.
 *--*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/niftp_int.h"
#include "util/alloc.h"

/* Command handlers. */
static int q_sft(struct niftp *n);
static int q_go(struct niftp *n);
static int q_stop(struct niftp *n);
static int p_rpos(struct niftp *n);
static int p_rneg(struct niftp *n);
static int p_stopack(struct niftp *n);

#define S(x)	(1u << (x))

/* Which command is handled by which role in which states. */
static const struct niftp_cmdtab {
	uint8_t	cmd;
	int	role_p;			/* handled by P (1) or Q (0) */
	unsigned states;		/* S(state) mask */
	int	(*fn)(struct niftp *n);
} niftp_cmdtab[] = {
	{NIFTP_SFT, 0, S(NS_IDLE), q_sft},
	{NIFTP_GO, 0, S(NS_POS), q_go},
	{NIFTP_STOP, 0, S(NS_POS) | S(NS_RNEG) | S(NS_WAIT_STOP), q_stop},
	{NIFTP_RPOS, 1, S(NS_SFT_SENT), p_rpos},
	{NIFTP_RNEG, 1, S(NS_SFT_SENT), p_rneg},
	{NIFTP_STOPACK, 1, S(NS_STOP_SENT), p_stopack},
};

static const char *const niftp_state_names[] = {
	"idle", "opening", "SFT sent", "RPOS sent", "RNEG sent", "data phase",
	"waiting for STOP", "STOP sent", "removing", "dead",
};

/* state_name - for messages */
static const char *state_name(const struct niftp *n)
{
	return niftp_state_names[n->st];
}

const char *niftp_status_str(enum niftp_status st)
{
	switch (st) {
	case NIFTP_OK:
		return "ok";
	case NIFTP_ERR_TEMP:
		return "temporary failure";
	case NIFTP_ERR_RESUMABLE:
		return "call broken, resumable";
	case NIFTP_ERR_NORESUME:
		return "resumption impossible";
	case NIFTP_ERR_PERM:
		return "permanent failure";
	case NIFTP_ERR_AUTH:
		return "refused: username or password";
	case NIFTP_ERR_PROTO:
		return "protocol error";
	}
	return "?";
}

uint32_t niftp_mark_interval(int64_t size)
{
	uint32_t iv = 64 * 1024;

	while (size > 0 && (uint64_t) size / iv >= 65000 && iv < 0x80000000u)
		iv *= 2;
	return iv;
}

enum niftp_status niftp_status_of_state(uint16_t st)
{
	if (st == NIFTP_ST_OK || st == NIFTP_ST_OK_PROBLEM)
		return NIFTP_OK;
	if (st == NIFTP_ST_REJ_LATER || st == NIFTP_ST_ABORT_RETRY)
		return NIFTP_ERR_TEMP;
	if (st == NIFTP_ST_REJ_NORESUME)
		return NIFTP_ERR_NORESUME;
	if ((st & 0xF000) == 0x1000)
		return NIFTP_ERR_PERM;
	if ((st & 0xF000) == 0x3000)
		return (st & 1) ? NIFTP_ERR_TEMP : NIFTP_ERR_PERM;
	return NIFTP_ERR_TEMP;
}

enum niftp_status niftp_status_of_code(uint8_t code)
{
	if (code == NIFTP_QR_DENIED)
		return NIFTP_ERR_AUTH;
	return (code & 1) ? NIFTP_ERR_PERM : NIFTP_ERR_TEMP;
}

uint16_t niftp_state_of_code(uint8_t code)
{
	return (code & 1) ? NIFTP_ST_ABORT_NORETRY : NIFTP_ST_ABORT_RETRY;
}

void niftp_set_reason(struct niftp *n, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(n->x.reason, sizeof(n->x.reason), fmt, ap);
	va_end(ap);
}

int niftp_emit(struct niftp *n, const struct niftp_event *ev)
{
	if (n->hooks.event)
		n->hooks.event(n->hook_arg, n, ev);
	return n->zombie;
}

/* xfer_resumable - may this transfer be resumed on a new call? */
int niftp_xfer_resumable(const struct niftp *n)
{
	return n->x.active && (n->x.facilities & NIFTP_F_RESUME) && !n->x.committed_resume;
}

/* niftp_xfer_release - give the open file back to the filestore and
 * free the transfer's buffers; ok: the transfer completed */
void niftp_xfer_release(struct niftp *n, int ok)
{
	struct niftp_file *fh = n->x.fh;

	niftp_data_free(n);
	n->x.fh = NULL;
	if (fh == NULL || n->fs == NULL)
		return;
	if (n->x.is_write) {
		if (n->x.commit_ok || n->x.committed_resume)
			n->fs->finish(fh, 1);
		else if (!ok && niftp_xfer_resumable(n) && n->fs->suspend && n->x.ds != DS_NONE)
			n->fs->suspend(fh);
		else
			n->fs->finish(fh, 0);
	} else {
		n->fs->finish(fh, ok);
	}
}

/* xfer_clear - forget the transfer */
static void xfer_clear(struct niftp *n)
{
	memset(&n->x, 0, sizeof(n->x));
}

/* xfer_done - the transfer ended: release, raise DONE, back to idle */
static int xfer_done(struct niftp *n, enum niftp_status st, uint16_t state)
{
	struct niftp_event ev;
	char	name[NIFTP_MAX_NAME + 1];
	char	reason[1100];
	uint64_t offset = n->x.offset;

	niftp_xfer_release(n, st == NIFTP_OK);
	snprintf(name, sizeof(name), "%s", n->role_p ? n->docket.name : n->x.open.name);
	if (st == NIFTP_OK)
		reason[0] = 0;
	else if (n->x.local_err && n->x.reason[0])
		snprintf(reason, sizeof(reason), "%s", n->x.reason);
	else if (n->x.peer_info[0] && n->role_p)
		snprintf(reason, sizeof(reason), "%s", n->x.peer_info);
	else if (n->x.reason[0])
		snprintf(reason, sizeof(reason), "%s", n->x.reason);
	else if (n->x.peer_info[0])
		snprintf(reason, sizeof(reason), "%s", n->x.peer_info);
	else
		snprintf(reason, sizeof(reason), "%s (state of transfer 0x%04x)",
			niftp_status_str(st), state);
	xfer_clear(n);
	n->st = NS_IDLE;
	memset(&ev, 0, sizeof(ev));
	ev.type = NIFTP_EV_DONE;
	ev.status = st;
	ev.state = state;
	ev.name = name;
	ev.reason = st == NIFTP_OK ? NULL : reason;
	ev.offset = offset;
	ev.size = -1;
	return niftp_emit(n, &ev);
}

int niftp_fail(struct niftp *n, enum niftp_status st, const char *fmt, ...)
{
	struct niftp_event ev;
	char	reason[600];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (n->st == NS_DEAD)
		return -1;
	if (n->x.active)
		niftp_xfer_release(n, 0);
	xfer_clear(n);
	n->st = NS_DEAD;
	n->failed = 1;
	n->gone = 1;
	buf_reset(&n->outq);
	memset(&ev, 0, sizeof(ev));
	ev.type = NIFTP_EV_FAILED;
	ev.status = st;
	ev.reason = reason;
	ev.size = -1;
	niftp_emit(n, &ev);
	return -1;
}

int niftp_send_cmd(struct niftp *n, uint8_t cmd, const struct niftp_attr *a, size_t na)
{
	if (niftp_cmd_put(&n->outq, cmd, a, na) < 0)
		return niftp_fail(n, NIFTP_ERR_PROTO, "cannot queue %s: record longer than %d "
			"octets or output queue full", niftp_cmd_name(cmd), NIFTP_MAX_CMD_RECORD);
	return 0;
}

int niftp_send_tcc(struct niftp *n, uint8_t cc, uint8_t arg)
{
	if (niftp_tcc_put(&n->outq, cc, arg) < 0)
		return niftp_fail(n, NIFTP_ERR_PROTO, "cannot queue %s: output queue full",
			niftp_tcc_name(cc));
	return 0;
}

/* send_stop_like - STOP or STOPACK with a state and optional text */
static int send_stop_like(struct niftp *n, uint8_t cmd, uint16_t state, const char *text)
{
	struct niftp_attr a[4];
	size_t	na = 0;
	char	part[3][NIFTP_MAX_NAME + 1];
	size_t	len, off = 0;
	int	i;

	niftp_attr_int(&a[na++], NIFTP_A_STATE, NIFTP_OP_EQ, state);
	len = text ? strlen(text) : 0;
	for (i = 0; i < 3 && off < len; i++) {
		size_t	k = len - off > NIFTP_MAX_NAME ? NIFTP_MAX_NAME : len - off;

		memcpy(part[i], text + off, k);
		part[i][k] = 0;
		off += k;
		niftp_attr_str(&a[na++], NIFTP_A_INFOMSG, NIFTP_OP_EQ, part[i]);
	}
	return niftp_send_cmd(n, cmd, a, na);
}

/* niftp_data_over - ER went or came: the data phase is over */
void niftp_data_over(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;

	x->ds = DX_DONE;
	niftp_data_free(n);
	niftp_dec_set_mode(&n->dec, NIFTP_DEC_MODE_CMD, 0);
	if (x->data_ok && x->cut_short) {
		/* The receiver accepted a file it had cut short (QR(0)): STOP
		 * says "terminated with a problem" and P does not call it done. */
		x->data_ok = 0;
		x->state = NIFTP_ST_OK_PROBLEM;
		x->status = NIFTP_ERR_PERM;
	} else if (x->data_ok) {
		x->state = NIFTP_ST_OK;
	} else {
		x->state = niftp_state_of_code(x->err_code);
		x->status = niftp_status_of_code(x->err_code);
		if (!x->reason[0])
			niftp_set_reason(n, "data phase ended with error 0x%02x", x->err_code);
	}
	if (!n->role_p) {
		n->st = NS_WAIT_STOP;
		return;
	}
	if (x->data_ok) {
		struct niftp_event ev;

		n->docket.data_done = 1;
		if (n->hooks.docket_save && x->sender)
			(void) n->hooks.docket_save(n->hook_arg, &n->docket);
		if (x->sender) {
			memset(&ev, 0, sizeof(ev));
			ev.type = NIFTP_EV_DATA_DONE;
			ev.name = n->docket.name;
			ev.offset = x->offset;
			ev.size = x->req.size;
			ev.mark = x->mark;
			if (niftp_emit(n, &ev))
				return;
		}
	}
	if (niftp_p_send_stop(n, x->state, x->data_ok ? NULL : x->reason) < 0)
		return;
	n->st = NS_STOP_SENT;
}

int niftp_p_send_stop(struct niftp *n, uint16_t state, const char *text)
{
	struct niftp_xfer *x = &n->x;
	char	stored[sizeof(NIFTP_STORED_PREFIX) + sizeof(x->open.name)];

	/* a mail receiver reading and removing names what it stored (pull
	 * mode), in one message or not at all: split in two, the name would
	 * arrive cut */
	if (text == NULL && state == NIFTP_ST_OK && x->req.mail && !x->sender
	    && x->mode == NIFTP_MODE_READ_REMOVE && x->open.name[0]
	    && strlen(x->open.name) <= NIFTP_STORED_NAME_MAX) {
		snprintf(stored, sizeof(stored), "%s%s", NIFTP_STORED_PREFIX, x->open.name);
		text = stored;
	}
	return send_stop_like(n, NIFTP_STOP, state, text);
}

/* collect_peer_info - remember the peer's information messages */
static void collect_peer_info(struct niftp *n)
{
	char	tmp[sizeof(n->x.peer_info)];

	niftp_collect_info(n, &n->cmd, tmp, sizeof(tmp));
	if (tmp[0])
		snprintf(n->x.peer_info, sizeof(n->x.peer_info), "%s", tmp);
}

/* Q: an SFT arrived */
static int q_sft(struct niftp *n)
{
	return niftp_q_sft(n);
}

/* Q: GO - start the data phase */
static int q_go(struct niftp *n)
{
	if (n->cmd.nattr != 0)
		return niftp_fail(n, NIFTP_ERR_PROTO, "GO carries %zu attributes (none allowed)",
			n->cmd.nattr);
	n->st = NS_DATA;
	return niftp_data_start(n);
}

static int q_stopack(struct niftp *n, uint16_t pstate, uint16_t mine, const char *text);

/* info_lines - a command's information and action messages for a
 * filestore, '\n'-separated as fs->remove promises (niftp_collect_info
 * joins them with "; " for people); whole messages only, cut at a NUL */
static void info_lines(const struct niftp_cmd *c, char *dst, size_t len)
{
	size_t	i, off = 0;

	dst[0] = 0;
	for (i = 0; i < c->nattr; i++) {
		const struct niftp_attr *a = &c->attr[i];
		const unsigned char *nul;
		size_t	k = a->slen;

		if ((a->id != NIFTP_A_INFOMSG && a->id != NIFTP_A_ACTIONMSG)
		    || niftp_attr_fmt(a->qual) != NIFTP_Q_STRING)
			continue;
		if (k > 0 && (nul = memchr(a->str, 0, k)) != NULL)
			k = (size_t) (nul - a->str);
		if (k == 0 || off + (off > 0) + k >= len)
			continue;
		if (off > 0)
			dst[off++] = '\n';
		memcpy(dst + off, a->str, k);
		off += k;
		dst[off] = 0;
	}
}

/* Q: STOP - answer STOPACK and end the transfer */
static int q_stop(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	uint16_t pstate = niftp_find_state(&n->cmd, NIFTP_ST_VIABLE);
	uint16_t mine;
	const char *text = NULL;

	x->peer_state = pstate;
	collect_peer_info(n);
	switch (n->st) {
	case NS_RNEG:
		mine = x->state;
		text = x->reason;
		break;
	case NS_POS:
		/* P abandoned after RPOS (or finished a committed resumption). */
		if (x->committed_resume)
			mine = NIFTP_ST_OK;
		else
			mine = pstate ? pstate : NIFTP_ST_ABORT_RETRY;
		if (!x->committed_resume && !x->reason[0])
			niftp_set_reason(n, "the caller abandoned the transfer after RPOS "
				"(STOP 0x%04x)", pstate);
		break;
	default:		/* NS_WAIT_STOP */
		mine = x->state;
		if (!x->data_ok)
			text = x->reason;
		break;
	}
	if (mine == NIFTP_ST_OK && pstate == NIFTP_ST_OK && x->sender
	    && x->mode == NIFTP_MODE_READ_REMOVE && x->fh != NULL && n->fs != NULL
	    && n->fs->remove != NULL && (n->st == NS_WAIT_STOP || x->committed_resume)) {
		/* read-and-remove: STOPACK only once the file is gone (P holds
		 * it after the data phase or, resuming from 0xFFFF, before) */
		char	info[NIFTP_MAX_INFO * (NIFTP_MAX_NAME + 1)];

		info_lines(&n->cmd, info, sizeof(info));
		x->stop_state = pstate;
		n->st = NS_REMOVING;
		n->fs->remove(x->fh, n, info);
		return 0;
	}
	return q_stopack(n, pstate, mine, text);
}

/* q_stopack - Q: answer P's STOP (state pstate) with ours and end the transfer */
static int q_stopack(struct niftp *n, uint16_t pstate, uint16_t mine, const char *text)
{
	struct niftp_xfer *x = &n->x;
	enum niftp_status st;

	if (send_stop_like(n, NIFTP_STOPACK, mine, text && text[0] ? text : NULL) < 0)
		return -1;
	st = niftp_status_of_state(mine);
	if (st == NIFTP_OK && pstate != NIFTP_ST_OK && pstate != NIFTP_ST_OK_PROBLEM
	    && pstate != NIFTP_ST_VIABLE && !x->committed_resume) {
		st = niftp_status_of_state(pstate);
		niftp_set_reason(n, "the caller ended with state 0x%04x", pstate);
	}
	if (st == NIFTP_OK)
		x->status = NIFTP_OK;
	else if (x->status == NIFTP_OK)
		x->status = st;
	return xfer_done(n, x->status, mine);
}

/* P: RPOS - agreed; GO (or STOP for a finished resumption) */
static int p_rpos(struct niftp *n)
{
	return niftp_p_rpos(n);
}

/* P: RNEG - refused; STOP anyway */
static int p_rneg(struct niftp *n)
{
	return niftp_p_rneg(n);
}

/* P: STOPACK - the transfer is over */
static int p_stopack(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	uint16_t qstate = niftp_find_state(&n->cmd, NIFTP_ST_VIABLE);
	enum niftp_status st = x->status;
	char	info[sizeof(x->peer_info)];

	niftp_collect_info(n, &n->cmd, info, sizeof(info));
	if (info[0] && !x->peer_info[0])
		snprintf(x->peer_info, sizeof(x->peer_info), "%s", info);
	x->peer_state = qstate;
	if (st == NIFTP_OK && x->state == NIFTP_ST_OK) {
		st = niftp_status_of_state(qstate);
		if (st != NIFTP_OK && !x->reason[0])
			niftp_set_reason(n, "STOPACK state of transfer 0x%04x", qstate);
	}
	if (st != NIFTP_OK && !x->reason[0])
		niftp_set_reason(n, "%s", niftp_status_str(st));
	return xfer_done(n, st, qstate);
}

/* handle_cmd - one complete command record */
static int handle_cmd(struct niftp *n, const unsigned char *rec, size_t len)
{
	size_t	i;

	if (niftp_cmd_parse(rec, len, &n->cmd, n->err, sizeof(n->err)) < 0)
		return niftp_fail(n, NIFTP_ERR_PROTO, "%s", n->err);
	for (i = 0; i < sizeof(niftp_cmdtab) / sizeof(niftp_cmdtab[0]); i++) {
		const struct niftp_cmdtab *t = &niftp_cmdtab[i];

		if (t->cmd != n->cmd.cmd)
			continue;
		if (t->role_p != n->role_p || !(t->states & S(n->st)))
			break;
		return t->fn(n);
	}
	return niftp_fail(n, NIFTP_ERR_PROTO, "%s received by %s in state %s",
		niftp_cmd_name(n->cmd.cmd), n->role_p ? "P" : "Q", state_name(n));
}

/* enter, leave - bracket every public entry point */
static void enter(struct niftp *n)
{
	n->depth++;
}

static void really_free(struct niftp *n)
{
	buf_release(&n->outq);
	free(n->caller);
	free(n->info);
	free(n);
}

/* leave - 1 when the engine was freed and must not be touched */
static int leave(struct niftp *n)
{
	if (--n->depth == 0 && n->zombie) {
		really_free(n);
		return 1;
	}
	return 0;
}

struct niftp *niftp_new(int role_p, const struct niftp_config *cfg,
	const struct niftp_hooks *hooks, void *hook_arg,
	const struct niftp_fs_ops *fs_ops, void *fs)
{
	struct niftp *n = xcalloc(1, sizeof(*n));

	n->role_p = role_p != 0;
	if (cfg) {
		n->cfg = *cfg;
	} else {
		n->cfg.deflate = 1;
	}
	n->caller = n->cfg.caller ? xstrdup(n->cfg.caller) : NULL;
	n->info = n->cfg.info ? xstrdup(n->cfg.info) : NULL;
	n->cfg.caller = n->caller;
	n->cfg.info = n->info;
	if (hooks)
		n->hooks = *hooks;
	n->hook_arg = hook_arg;
	n->fs = fs_ops;
	n->fsarg = fs;
	n->st = NS_IDLE;
	buf_init(&n->outq, NIFTP_OUTQ_MAX);
	niftp_dec_init(&n->dec);
	return n;
}

void niftp_free(struct niftp *n)
{
	if (n == NULL)
		return;
	if (n->x.active)
		niftp_xfer_release(n, 0);
	xfer_clear(n);
	n->st = NS_DEAD;
	if (n->depth > 0) {
		n->zombie = 1;
		return;
	}
	really_free(n);
}

void niftp_resume_req(struct niftp_req *req, const struct niftp_docket *d)
{
	req->mode = (uint16_t) (d->mode & ~NIFTP_MODE_RESUME);
	req->resume = 1;
	req->tid = d->tid;
	if (d->data_done)
		req->restart_mark = NIFTP_MARK_EOF;
	else
		req->restart_mark = (uint16_t) (d->mark > 0xFFFE ? 0xFFFE : d->mark);
	req->mark_interval = d->mark_interval;
}

/* copy_str - keep a request string in the transfer */
static const char *copy_str(char *dst, size_t len, const char *s)
{
	if (s == NULL)
		return NULL;
	snprintf(dst, len, "%s", s);
	return dst;
}

/* p_opened - P: the local file is open; save the docket and send the SFT */
static int p_opened(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	struct niftp_attr a[24];
	size_t	na;

	x->fh = x->open.fh;
	if (x->sender && x->open.size >= 0)
		x->req.size = x->open.size;
	if (x->sender) {
		x->interval = x->req.mark_interval ? x->req.mark_interval
			: niftp_mark_interval(x->req.size);
		if (x->interval > NIFTP_MAX_INTERVAL)
			x->interval = NIFTP_MAX_INTERVAL;	/* receivers cap a stretch */
	}
	x->req.mark_interval = x->interval;
	if (x->req.resume && !x->sender && x->req.restart_mark != NIFTP_MARK_EOF
	    && x->open.mark < x->req.restart_mark)
		x->req.restart_mark = (uint16_t) x->open.mark;
	memset(&n->docket, 0, sizeof(n->docket));
	n->docket.tid = x->req.tid;
	n->docket.mode = x->mode;
	n->docket.mark_interval = x->interval;
	if (x->req.resume && x->req.restart_mark != NIFTP_MARK_EOF) {
		n->docket.mark = x->req.restart_mark;
		n->docket.offset = (uint64_t) x->req.restart_mark * x->interval;
	}
	n->docket.data_done = x->req.resume && x->req.restart_mark == NIFTP_MARK_EOF;
	if (n->hooks.docket_save && n->hooks.docket_save(n->hook_arg, &n->docket) < 0) {
		niftp_set_reason(n, "cannot save the docket for transfer id %u", x->req.tid);
		return xfer_done(n, NIFTP_ERR_TEMP, NIFTP_ST_VIABLE);
	}
	na = niftp_sft_attrs(n, a, sizeof(a) / sizeof(a[0]));
	if (niftp_send_cmd(n, NIFTP_SFT, a, na) < 0)
		return -1;
	n->st = NS_SFT_SENT;
	return 0;
}

/* p_open_failed - P: the local file could not be opened */
static int p_open_failed(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	uint16_t state = x->open.state ? x->open.state : NIFTP_ST_REJ_LATER;

	x->fh = NULL;
	niftp_set_reason(n, "%s", x->open.reason[0] ? x->open.reason : "cannot open the local file");
	return xfer_done(n, niftp_status_of_state(state), state);
}

int niftp_start(struct niftp *n, const struct niftp_req *req)
{
	struct niftp_xfer *x = &n->x;
	int	rc;

	if (!n->role_p || n->st != NS_IDLE || x->active || n->fs == NULL || n->gone)
		return -1;
	enter(n);
	xfer_clear(n);
	x->active = 1;
	x->req = *req;
	x->req.filename = copy_str(x->filename, sizeof(x->filename), req->filename);
	x->req.username = copy_str(x->username, sizeof(x->username), req->username);
	x->req.password = copy_str(x->password, sizeof(x->password), req->password);
	x->req.copy_id = copy_str(x->copy_id, sizeof(x->copy_id), req->copy_id);
	x->req.caller = NULL;
	x->req.info = NULL;
	x->mode = (uint16_t) (req->mode & ~NIFTP_MODE_RESUME);
	x->req.mode = x->mode;
	x->sender = !NIFTP_MODE_IS_READ(x->mode);
	x->is_write = !x->sender;
	x->binary = req->binary != 0;
	x->open.size = -1;
	if (!req->resume)
		x->req.restart_mark = 0;
	rc = x->sender ? n->fs->open_read(n->fsarg, &x->req, &x->open)
		: n->fs->open_write(n->fsarg, &x->req, &x->open);
	if (rc == 1)
		n->st = NS_OPENING;
	else if (rc == 0)
		(void) p_opened(n);
	else
		(void) p_open_failed(n);
	leave(n);
	return 0;
}

void niftp_open_done(struct niftp *n, int ok, const struct niftp_open *res)
{
	if (n->st != NS_OPENING) {
		/* The transfer was abandoned meanwhile: give the file back. */
		if (ok && res && res->fh && n->fs)
			n->fs->finish(res->fh, 0);
		return;
	}
	enter(n);
	if (res && res != &n->x.open)
		n->x.open = *res;
	if (n->role_p) {
		if (ok)
			(void) p_opened(n);
		else
			(void) p_open_failed(n);
	} else {
		n->x.open_ok = ok;
		n->x.fh = ok ? n->x.open.fh : NULL;
		(void) niftp_q_answer(n);
	}
	leave(n);
}

int niftp_input(struct niftp *n, const void *p, size_t len)
{
	const unsigned char *in = p;
	struct niftp_dec_ev ev;
	int	rc = 0;

	if (n->st == NS_DEAD)
		return -1;
	enter(n);
	while (len > 0 && !n->zombie && n->st != NS_DEAD) {
		unsigned char *sink = NULL;
		size_t	room = 0, used;

		if (n->dec.mode == NIFTP_DEC_MODE_DATA)
			sink = niftp_data_sink(n, &room);
		if (n->st == NS_DEAD || n->zombie)
			break;
		used = niftp_dec_next(&n->dec, in, len, sink, room, &ev);
		in += used;
		len -= used;
		switch (ev.type) {
		case NIFTP_DEC_NEED:
			break;
		case NIFTP_DEC_ERROR:
			(void) niftp_fail(n, NIFTP_ERR_PROTO, "%s", ev.err);
			break;
		case NIFTP_DEC_CMD:
			(void) handle_cmd(n, ev.rec, ev.reclen);
			break;
		case NIFTP_DEC_TCC:
			if (n->st == NS_POS && n->x.go_maybe_lost && ev.tcc == NIFTP_RR
			    && n->x.sender) {
				/* The receiving P took our silence for a lost GO. */
				n->st = NS_DATA;
				n->x.restarts++;
				(void) niftp_data_start(n);
				break;
			}
			if (n->st != NS_DATA && !(n->st == NS_WAIT_STOP || n->st == NS_STOP_SENT)) {
				(void) niftp_fail(n, NIFTP_ERR_PROTO, "%s(0x%02x) received by %s "
					"outside the data phase (state %s)", niftp_tcc_name(ev.tcc),
					ev.arg, n->role_p ? "P" : "Q", state_name(n));
				break;
			}
			(void) niftp_data_tcc(n, ev.tcc, ev.arg);
			break;
		case NIFTP_DEC_DATA:
			(void) niftp_data_got(n, ev.dlen, ev.eor);
			break;
		}
	}
	if (!n->zombie && n->st == NS_DEAD && n->failed)
		rc = -1;
	if (leave(n))
		return -1;
	return rc;
}

ssize_t niftp_output(struct niftp *n, struct buf *out, size_t max)
{
	size_t	total = 0;

	if (n->st == NS_DEAD && n->outq.len == 0)
		return n->failed ? -1 : 0;
	enter(n);
	if (max > NIFTP_OUT_CHUNK)
		max = NIFTP_OUT_CHUNK;
	if (max > buf_room(out))
		max = buf_room(out);
	while (total < max && !n->zombie) {
		if (n->outq.len > 0) {
			size_t	k = n->outq.len;

			if (k > max - total)
				k = max - total;
			if (buf_append(out, buf_data(&n->outq), k) < 0)
				break;
			buf_consume(&n->outq, k);
			total += k;
			continue;
		}
		if (!niftp_data_want(n))
			break;
		if (max - total < 128) {
			/* Too little room for whole sub-records: frame a few into the
			 * queue, which may be pulled octet by octet. */
			unsigned char tmp[256], tcc[64];
			ssize_t	k = niftp_data_output(n, tmp, sizeof(tmp));
			size_t	nt = n->outq.len;

			if (n->zombie || k < 0)
				break;
			/* The data framed goes before any escape queued meanwhile. */
			if (nt > sizeof(tcc))
				nt = sizeof(tcc);		/* cannot happen: one escape at most */
			memcpy(tcc, buf_data(&n->outq), nt);
			buf_reset(&n->outq);
			if ((k > 0 && buf_append(&n->outq, tmp, (size_t) k) < 0)
			    || buf_append(&n->outq, tcc, nt) < 0)
				break;
			if (k == 0 && n->outq.len == 0)
				break;
			continue;
		}
		{
			unsigned char *w = buf_reserve(out, max - total);
			ssize_t	k;

			if (w == NULL)
				break;
			k = niftp_data_output(n, w, max - total);
			if (n->zombie)
				break;
			buf_commit(out, k > 0 ? (size_t) k : 0);
			if (k > 0)
				total += (size_t) k;
			if (k <= 0 && n->outq.len == 0)
				break;
		}
	}
	if (leave(n))
		return (ssize_t) total;
	return (ssize_t) total;
}

int niftp_want_output(const struct niftp *n)
{
	if (n->outq.len > 0)
		return 1;
	return n->st == NS_DATA && niftp_data_want(n);
}

void niftp_reset(struct niftp *n)
{
	if (n->st == NS_DEAD)
		return;
	enter(n);
	buf_reset(&n->outq);
	niftp_dec_reset(&n->dec);
	switch (n->st) {
	case NS_IDLE:
		break;
	case NS_DATA:
		niftp_data_reset(n);
		break;
	case NS_POS:
		/* P's GO may have been lost with the reset. A receiving Q goes
		 * into the data phase and asks for the data with RR; a sending
		 * Q waits for P's RR. */
		if (!n->x.sender && !n->x.committed_resume) {
			n->st = NS_DATA;
			if (niftp_data_start(n) == 0)
				niftp_data_reset(n);
		} else {
			n->x.go_maybe_lost = 1;
		}
		break;
	case NS_WAIT_STOP:
		/* Our ER may have been lost: say it again (only a receiver
		 * sends ER; a sending Q just waits for STOP). */
		if (!n->x.sender)
			(void) niftp_send_tcc(n, NIFTP_ER, n->x.data_ok ? 0 : n->x.err_code);
		break;
	default:
		(void) niftp_fail(n, niftp_xfer_resumable(n) ? NIFTP_ERR_RESUMABLE : NIFTP_ERR_TEMP,
			"transport reset in state %s: the call cannot go on", state_name(n));
		break;
	}
	leave(n);
}

void niftp_lost(struct niftp *n, const char *reason)
{
	struct niftp_xfer *x = &n->x;
	enum niftp_status st;

	if (n->st == NS_DEAD)
		return;
	enter(n);
	n->gone = 1;
	buf_reset(&n->outq);
	if (x->active && n->st != NS_IDLE) {
		st = NIFTP_ERR_RESUMABLE;
		if (n->role_p && n->st != NS_SFT_SENT && n->st != NS_OPENING
		    && !(x->facilities & NIFTP_F_RESUME))
			st = NIFTP_ERR_TEMP;
		niftp_set_reason(n, "call lost in state %s: %s", state_name(n),
			reason ? reason : "no reason given");
		x->peer_info[0] = 0;
		(void) xfer_done(n, st, x->state);
	}
	if (!n->zombie)
		n->st = NS_DEAD;
	leave(n);
}

void niftp_commit_done(struct niftp *n, int ok, int retry, const char *reason)
{
	if (n->st != NS_DATA || n->x.ds != DR_COMMIT)
		return;
	enter(n);
	(void) niftp_data_commit_done(n, ok, retry, reason);
	leave(n);
}

/* niftp_refuse - fill a refusal into res */
int niftp_refuse(struct niftp_open *res, uint16_t state, const char *fmt, ...)
{
	va_list ap;

	res->fh = NULL;
	res->state = state;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return -1;
}

void niftp_remove_done(struct niftp *n, int ok, const char *reason)
{
	struct niftp_xfer *x = &n->x;

	if (n->st != NS_REMOVING)
		return;		/* the call was lost meanwhile: nothing to answer */
	enter(n);
	if (ok) {
		(void) q_stopack(n, x->stop_state, NIFTP_ST_OK, NULL);
	} else {
		niftp_set_reason(n, "the file was sent but not removed: %s",
			reason && reason[0] ? reason : "removal failed");
		x->status = NIFTP_ERR_TEMP;
		(void) q_stopack(n, x->stop_state, NIFTP_ST_ABORT_RETRY, x->reason);
	}
	leave(n);
}

int niftp_idle(const struct niftp *n)
{
	return n->st == NS_IDLE && !n->x.active;
}

const struct niftp_docket *niftp_docket(const struct niftp *n)
{
	return &n->docket;
}
