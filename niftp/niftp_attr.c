/*++
 * NAME
 *	niftp_attr 3
 * SUMMARY
 *	NIFTP-80 attribute negotiation: P's SFT, Q's RPOS/RNEG, P's reading of them
 * SYNOPSIS
 *	#include "niftp/niftp_int.h"
 * DESCRIPTION
 *	niftp_sft_attrs() builds P's SFT in unix-niftp's attribute order.
 *	niftp_q_sft() reads an SFT on Q: every attribute unix-niftp sends
 *	is understood (q_attrs[] below); an unknown one is answered in
 *	RPOS with qualifier 0x00; a value Q cannot accept goes back in
 *	RNEG with operator NE, the state of transfer and a reason.
 *	niftp_q_answer() sends RPOS (or RNEG) once the filestore opened
 *	the file; it grants resumption marks. niftp_p_rpos() and
 *	niftp_p_rneg() are P's side.
 *
 *	RPOS carries only EQ or ANY operators (unix-niftp rejects others),
 *	only values Q changed, monitored attributes, unknown attributes,
 *	and our information message; passwords are never echoed with a
 *	value. The negotiation table is in doc/niftp.md.
 * DIAGNOSTICS
 *	Reasons name the attribute, its value and why it was refused.
 *--*/
#include <stdio.h>
#include <string.h>

#include "niftp/niftp_int.h"

/* How an attribute goes back in RPOS (x->ret[]). */
enum { RET_NONE, RET_VALUE, RET_NOVALUE, RET_UNKNOWN };

#define FMT_ANY	0xFF		/* any format accepted */

/* Attributes Q understands: id, expected format, name. */
static const struct q_attr {
	uint8_t	id;
	uint8_t	fmt;
	const char *name;
} q_attrs[] = {
	{NIFTP_A_PROTOCOL, NIFTP_Q_INT, "protocol id"},
	{NIFTP_A_MODE, NIFTP_Q_INT, "mode of access"},
	{NIFTP_A_TEXTCODE, NIFTP_Q_INT, "text code"},
	{NIFTP_A_TEXTFMT, NIFTP_Q_INT, "text formatting"},
	{NIFTP_A_BINFMT, NIFTP_Q_INT, "binary format"},
	{NIFTP_A_MAXRECORD, NIFTP_Q_INT, "maximum transfer record size"},
	{NIFTP_A_XFERLIMIT, NIFTP_Q_INT, "transfer limit"},
	{NIFTP_A_ESTIMATE, NIFTP_Q_INT, "data estimate"},
	{NIFTP_A_TID, NIFTP_Q_INT, "transfer id"},
	{NIFTP_A_ACKWINDOW, NIFTP_Q_INT, "acknowledgement window"},
	{NIFTP_A_RESTARTMARK, NIFTP_Q_INT, "initial restart mark"},
	{NIFTP_A_MINTIMEOUT, NIFTP_Q_INT, "minimum timeout"},
	{NIFTP_A_FACILITIES, NIFTP_Q_INT, "facilities"},
	{NIFTP_A_STATE, NIFTP_Q_INT, "state of transfer"},
	{NIFTP_A_DATATYPE, NIFTP_Q_INT, "data type"},
	{NIFTP_A_DELIMPRES, NIFTP_Q_INT, "delimiter preservation"},
	{0x22, FMT_ANY, "text storage code"},
	{0x23, FMT_ANY, "horizontal tabs"},
	{NIFTP_A_WORDSIZE, NIFTP_Q_INT, "binary word size"},
	{NIFTP_A_FILENAME, NIFTP_Q_STRING, "filename"},
	{NIFTP_A_USERNAME, NIFTP_Q_STRING, "username"},
	{NIFTP_A_PASSWORD, NIFTP_Q_STRING, "user password"},
	{NIFTP_A_FILEPASSWORD, NIFTP_Q_STRING, "file password"},
	{0x4A, NIFTP_Q_STRING, "account"},
	{NIFTP_A_ACCOUNTPASSWORD, NIFTP_Q_STRING, "account password"},
	{0x50, NIFTP_Q_STRING, "output device type"},
	{0x51, NIFTP_Q_STRING, "device type qualifier"},
	{NIFTP_A_FILESIZE, NIFTP_Q_INT, "file size"},
	{NIFTP_A_ACTIONMSG, NIFTP_Q_STRING, "action message"},
	{NIFTP_A_INFOMSG, NIFTP_Q_STRING, "information message"},
	{0x80, FMT_ANY, "special options"},
};

/* Negotiation scratch for one SFT. */
struct neg {
	const struct niftp_attr *seen[256];	/* last occurrence with a value */
	struct niftp_attr fail[48];		/* answered with NE in RNEG */
	size_t	nfail;
	uint16_t state;				/* reject state */
	char	why[300];
};

/* q_attr_find - table entry for id, or NULL */
static const struct q_attr *q_attr_find(uint8_t id)
{
	size_t	i;

	for (i = 0; i < sizeof(q_attrs) / sizeof(q_attrs[0]); i++)
		if (q_attrs[i].id == id)
			return &q_attrs[i];
	return NULL;
}

/* neg_fail - refuse attribute a: it goes back with NE */
static void neg_fail(struct neg *g, const struct niftp_attr *a, uint16_t state,
	const char *why)
{
	if (g->nfail < sizeof(g->fail) / sizeof(g->fail[0])) {
		g->fail[g->nfail] = *a;
		g->fail[g->nfail].qual = (uint8_t) ((a->qual & NIFTP_Q_FMT_MASK) | NIFTP_OP_NE);
		g->nfail++;
	}
	if (g->state == 0) {
		g->state = state;
		snprintf(g->why, sizeof(g->why), "%s", why);
	}
}

/* copy_attr_str - a string attribute as a C string (cut at NUL) */
static void copy_attr_str(char *dst, size_t len, const struct niftp_attr *a)
{
	size_t	k = a->slen < len - 1 ? a->slen : len - 1;

	if (k)
		memcpy(dst, a->str, k);
	dst[k] = 0;
}

size_t niftp_sft_attrs(struct niftp *n, struct niftp_attr *a, size_t max)
{
	struct niftp_xfer *x = &n->x;
	const struct niftp_req *r = &x->req;
	size_t	na = 0;
	uint16_t fac = NIFTP_F_RESUME | NIFTP_F_RESTART | NIFTP_F_MARKACK;

	if (max < 20)
		return 0;
	if (r->compress) {
		fac |= NIFTP_F_TEXTCOMP | NIFTP_F_BINCOMP;
		if (n->cfg.deflate)
			fac |= NIFTP_F_DEFLATE;
	}
	x->offered_fac = fac;
	niftp_attr_int(&a[na++], NIFTP_A_PROTOCOL, NIFTP_OP_EQ, 0x0100);
	niftp_attr_int(&a[na++], NIFTP_A_MODE, NIFTP_OP_EQ,
		(uint16_t) (x->mode | (r->resume ? NIFTP_MODE_RESUME : 0)));
	if (r->textfmt == NIFTP_TF_LINES || r->textfmt == NIFTP_TF_TRANSPARENT)
		niftp_attr_int(&a[na++], NIFTP_A_TEXTFMT, NIFTP_OP_EQ, r->textfmt);
	else
		niftp_attr_int(&a[na++], NIFTP_A_TEXTFMT, NIFTP_OP_LE,
			NIFTP_TF_LINES | NIFTP_TF_TRANSPARENT);
	if (x->binary)
		niftp_attr_int(&a[na++], NIFTP_A_DATATYPE, NIFTP_OP_EQ, 0x0002);
	if (r->tid)
		niftp_attr_int(&a[na++], NIFTP_A_TID, NIFTP_OP_EQ, r->tid);
	niftp_attr_int(&a[na++], NIFTP_A_ACKWINDOW, NIFTP_Q_MONITOR | NIFTP_OP_LE,
		r->ack_window ? r->ack_window : 32);
	niftp_attr_int(&a[na++], NIFTP_A_RESTARTMARK, NIFTP_OP_EQ,
		r->resume ? r->restart_mark : 0);
	niftp_attr_int(&a[na++], NIFTP_A_FACILITIES, NIFTP_OP_LE, fac);
	niftp_attr_int(&a[na++], NIFTP_A_DELIMPRES, NIFTP_OP_LE, 0x8000);
	if ((r->mail && x->sender) || r->filename == NULL)
		niftp_attr_none(&a[na++], NIFTP_A_FILENAME,
			NIFTP_Q_MONITOR | NIFTP_Q_NOVALUE | NIFTP_OP_ANY);
	else
		niftp_attr_str(&a[na++], NIFTP_A_FILENAME, NIFTP_OP_EQ, r->filename);
	/* mail: "no value" unless the program gives one (a mail relay sends
	 * the link's credentials only to a peer that expects them: unix-niftp
	 * refuses a username on a mail transfer) */
	if (r->username == NULL)
		niftp_attr_none(&a[na++], NIFTP_A_USERNAME,
			NIFTP_Q_MONITOR | NIFTP_Q_NOVALUE | NIFTP_OP_ANY);
	else
		niftp_attr_str(&a[na++], NIFTP_A_USERNAME, NIFTP_OP_EQ, r->username);
	if (r->password)
		niftp_attr_str(&a[na++], NIFTP_A_PASSWORD, NIFTP_OP_EQ, r->password);
	if (x->sender && r->size >= 0)
		niftp_attr_int(&a[na++], NIFTP_A_FILESIZE, NIFTP_OP_EQ,
			r->size > 64 * 1024 * 1024 ? 0xFFFF : (uint16_t) (r->size / 1024 + 1));
	if (n->cfg.info)
		niftp_attr_str(&a[na++], NIFTP_A_INFOMSG, NIFTP_OP_EQ, n->cfg.info);
	if (r->copy_id)
		niftp_attr_str(&a[na++], NIFTP_A_INFOMSG, NIFTP_OP_EQ, r->copy_id);
	return na;
}

void niftp_collect_info(struct niftp *n, const struct niftp_cmd *c, char *dst, size_t len)
{
	size_t	i, off = 0;

	(void) n;
	dst[0] = 0;
	for (i = 0; i < c->nattr; i++) {
		const struct niftp_attr *a = &c->attr[i];
		size_t	k;

		if ((a->id != NIFTP_A_INFOMSG && a->id != NIFTP_A_ACTIONMSG)
		    || niftp_attr_fmt(a->qual) != NIFTP_Q_STRING)
			continue;
		if (off > 0 && off + 2 < len) {
			memcpy(dst + off, "; ", 2);
			off += 2;
		}
		k = a->slen;
		if (k > len - off - 1)
			k = len - off - 1;
		memcpy(dst + off, a->str, k);
		off += k;
		dst[off] = 0;
		/* A NUL inside peer text would cut it: stop there. */
		dst[strlen(dst)] = 0;
		off = strlen(dst);
	}
}

uint16_t niftp_find_state(const struct niftp_cmd *c, uint16_t dflt)
{
	size_t	i;

	for (i = 0; i < c->nattr; i++)
		if (c->attr[i].id == NIFTP_A_STATE && niftp_attr_fmt(c->attr[i].qual) == NIFTP_Q_INT)
			return c->attr[i].ival;
	return dflt;
}

/* send_rneg - RNEG with the failing attributes, state and reason */
static int send_rneg(struct niftp *n, const struct niftp_attr *fail, size_t nfail,
	uint16_t state, const char *why)
{
	struct niftp_attr a[64];
	size_t	na = 0, i, size = 2 + 4 + 2 + NIFTP_MAX_NAME + 1;

	/* Echo the failing attributes while the record stays well under
	 * NIFTP_MAX_CMD_RECORD (an SFT of many bad strings would not fit). */
	for (i = 0; i < nfail && na < 60; i++) {
		size_t	k = 2 + (niftp_attr_fmt(fail[i].qual) == NIFTP_Q_INT ? 2
			: niftp_attr_fmt(fail[i].qual) == NIFTP_Q_STRING ? 1 + fail[i].slen : 0);

		if (size + k > NIFTP_MAX_CMD_RECORD / 2)
			break;
		size += k;
		a[na++] = fail[i];
	}
	niftp_attr_int(&a[na++], NIFTP_A_STATE, NIFTP_OP_EQ, state);
	if (why && why[0])
		niftp_attr_str(&a[na++], NIFTP_A_INFOMSG, NIFTP_OP_EQ, why);
	n->x.state = state;
	n->x.status = niftp_status_of_state(state);
	if (!n->x.reason[0])
		niftp_set_reason(n, "%s", why && why[0] ? why : "refused");
	if (niftp_send_cmd(n, NIFTP_RNEG, a, na) < 0)
		return -1;
	n->st = NS_RNEG;
	return 0;
}

/* pick - helper results */
#define BAD	-1

/* pick_textfmt - agreed text formatting for operator op and value v */
static int pick_textfmt(int op, uint16_t v)
{
	switch (op) {
	case NIFTP_OP_EQ:
		return v == NIFTP_TF_LINES || v == NIFTP_TF_TRANSPARENT ? v : BAD;
	case NIFTP_OP_LE:
		return (v & NIFTP_TF_TRANSPARENT) ? NIFTP_TF_TRANSPARENT
			: (v & NIFTP_TF_LINES) ? NIFTP_TF_LINES : BAD;
	case NIFTP_OP_GE:
		return v <= NIFTP_TF_TRANSPARENT ? NIFTP_TF_TRANSPARENT : BAD;
	case NIFTP_OP_NE:
		return v != NIFTP_TF_TRANSPARENT ? NIFTP_TF_TRANSPARENT : NIFTP_TF_LINES;
	case NIFTP_OP_ANY:
		return NIFTP_TF_TRANSPARENT;
	}
	return BAD;
}

/* pick_small - a value from 1..hi for op/v (windows, sizes); dflt for ANY */
static int pick_range(int op, uint16_t v, int lo, int hi, int dflt)
{
	switch (op) {
	case NIFTP_OP_EQ:
		return v >= lo && v <= hi ? v : BAD;
	case NIFTP_OP_LE:
		return v < lo ? BAD : v > hi ? hi : v;
	case NIFTP_OP_GE:
		return v > hi ? BAD : v < lo ? lo : (dflt >= v ? dflt : v);
	case NIFTP_OP_NE:
		return v != dflt ? dflt : (dflt > lo ? dflt - 1 : dflt + 1);
	case NIFTP_OP_ANY:
		return dflt;
	}
	return BAD;
}

/* valid_mode - a mode of access we serve */
static int valid_mode(uint16_t m)
{
	switch (m) {
	case NIFTP_MODE_MAKE:
	case NIFTP_MODE_REPLACE:
	case NIFTP_MODE_REPLACE_MAKE:
	case NIFTP_MODE_APPEND_MAKE:
	case NIFTP_MODE_READ_REMOVE:
	case NIFTP_MODE_READ:
		return 1;
	}
	return 0;
}

/* q_eval - evaluate the attributes of an SFT; fails go to g */
static void q_eval(struct niftp *n, struct neg *g)
{
	struct niftp_xfer *x = &n->x;
	const struct niftp_attr *a;
	char	why[300];
	int	v, op;
	uint16_t sup, fac;

	/* Protocol id: any NIFTP-80 variant 0x01xx. */
	if ((a = g->seen[NIFTP_A_PROTOCOL]) != NULL && (a->ival >> 8) != 0x01) {
		snprintf(why, sizeof(why), "Not Niftp-80 protocol (protocol id 0x%04x)", a->ival);
		neg_fail(g, a, NIFTP_ST_REJ_MSG, why);
	}
	/* Mode of access. */
	x->mode = NIFTP_MODE_MAKE;
	if ((a = g->seen[NIFTP_A_MODE]) != NULL) {
		uint16_t m = (uint16_t) (a->ival & ~NIFTP_MODE_RESUME);

		x->req.resume = (a->ival & NIFTP_MODE_RESUME) != 0;
		if (niftp_attr_op(a->qual) != NIFTP_OP_EQ || !valid_mode(m)) {
			snprintf(why, sizeof(why), "mode of access 0x%04x not supported", a->ival);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		} else if (n->cfg.mail_only && ((NIFTP_MODE_IS_READ(m) && !n->cfg.mail_reads)
		    || m == NIFTP_MODE_REPLACE)) {
			snprintf(why, sizeof(why), "mode of access 0x%04x not offered by the "
				"mail service", a->ival);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		} else if (n->cfg.mail_only && !NIFTP_MODE_IS_READ(m) && m != NIFTP_MODE_MAKE) {
			x->mode = NIFTP_MODE_MAKE;	/* narrowed, as unix-niftp does */
			x->ret[NIFTP_A_MODE] = RET_VALUE;
		} else {
			x->mode = m;
		}
	}
	x->retval[NIFTP_A_MODE] = x->mode;
	x->sender = NIFTP_MODE_IS_READ(x->mode);
	x->is_write = !x->sender;
	/* Text code: IA5 only. */
	if ((a = g->seen[NIFTP_A_TEXTCODE]) != NULL) {
		op = niftp_attr_op(a->qual);
		if (!((op == NIFTP_OP_EQ && a->ival == 1) || (op == NIFTP_OP_LE && a->ival >= 1)
		    || op == NIFTP_OP_ANY || (op == NIFTP_OP_GE && a->ival <= 1)))
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, "only text code IA5 (0x0001) is supported");
		else if (op != NIFTP_OP_EQ)
			x->ret[NIFTP_A_TEXTCODE] = RET_VALUE;
		x->retval[NIFTP_A_TEXTCODE] = 1;
	}
	/* Data type: text or binary. */
	x->binary = 0;
	if ((a = g->seen[NIFTP_A_DATATYPE]) != NULL) {
		op = niftp_attr_op(a->qual);
		v = BAD;
		if (op == NIFTP_OP_EQ)
			v = a->ival == 1 || a->ival == 2 ? a->ival : BAD;
		else if (op == NIFTP_OP_LE)
			v = (a->ival & 1) ? 1 : (a->ival & 2) ? 2 : BAD;
		else if (op == NIFTP_OP_ANY)
			v = 1;
		else if (op == NIFTP_OP_GE)
			v = a->ival <= 1 ? 1 : a->ival <= 2 ? 2 : BAD;
		else if (op == NIFTP_OP_NE)
			v = a->ival != 1 ? 1 : 2;
		if (v == BAD) {
			snprintf(why, sizeof(why), "data type 0x%04x not supported "
				"(text 0x0001 or binary 0x0002)", a->ival);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		} else {
			x->binary = v == 2;
			x->retval[NIFTP_A_DATATYPE] = (uint16_t) v;
			if (op != NIFTP_OP_EQ)
				x->ret[NIFTP_A_DATATYPE] = RET_VALUE;
		}
	}
	/* Binary word size: 8 only. */
	if ((a = g->seen[NIFTP_A_WORDSIZE]) != NULL) {
		op = niftp_attr_op(a->qual);
		if ((v = pick_range(op, a->ival, 8, 8, 8)) == BAD) {
			snprintf(why, sizeof(why), "binary word size %u not supported (8 only)", a->ival);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		} else if (op != NIFTP_OP_EQ) {
			x->ret[NIFTP_A_WORDSIZE] = RET_VALUE;
		}
		x->retval[NIFTP_A_WORDSIZE] = 8;
	}
	/* Text formatting: transparent (0x80) preferred, lines (0x01). */
	x->textfmt = NIFTP_TF_LINES;
	if ((a = g->seen[NIFTP_A_TEXTFMT]) != NULL) {
		op = niftp_attr_op(a->qual);
		if ((v = pick_textfmt(op, a->ival)) == BAD) {
			snprintf(why, sizeof(why), "text formatting 0x%04x not supported "
				"(0x0001 or 0x0080)", a->ival);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		} else {
			x->textfmt = (uint16_t) v;
			if (op != NIFTP_OP_EQ)
				x->ret[NIFTP_A_TEXTFMT] = RET_VALUE;
		}
	}
	x->retval[NIFTP_A_TEXTFMT] = x->textfmt;
	/* Maximum transfer record size: 0xFFFF unlimited. */
	x->maxrec = 0xFFFF;
	if ((a = g->seen[NIFTP_A_MAXRECORD]) != NULL) {
		op = niftp_attr_op(a->qual);
		if ((v = pick_range(op, a->ival, 1, 0xFFFF, 0xFFFF)) == BAD) {
			snprintf(why, sizeof(why), "maximum transfer record size %u not supported",
				a->ival);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		} else {
			x->maxrec = (uint16_t) v;
			if (op != NIFTP_OP_EQ)
				x->ret[NIFTP_A_MAXRECORD] = RET_VALUE;
		}
	}
	x->retval[NIFTP_A_MAXRECORD] = x->maxrec;
	/* Acknowledgement window: 1..255. */
	x->window = 32;
	if ((a = g->seen[NIFTP_A_ACKWINDOW]) != NULL) {
		op = niftp_attr_op(a->qual);
		if ((v = pick_range(op, a->ival, 1, 255, 32)) == BAD) {
			snprintf(why, sizeof(why), "acknowledgement window %u not supported (1..255)",
				a->ival);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		} else {
			x->window = (uint16_t) v;
			if (op != NIFTP_OP_EQ)
				x->ret[NIFTP_A_ACKWINDOW] = RET_VALUE;
		}
	}
	x->retval[NIFTP_A_ACKWINDOW] = x->window;
	/* Facilities: what we support of what is offered (holds never). */
	sup = NIFTP_F_TEXTCOMP | NIFTP_F_RESTART | NIFTP_F_MARKACK | NIFTP_F_BINCOMP;
	if (n->cfg.resumption)
		sup |= NIFTP_F_RESUME;
	if (n->cfg.deflate && (x->binary || x->textfmt == NIFTP_TF_TRANSPARENT))
		sup |= NIFTP_F_DEFLATE;
	fac = 0;
	if ((a = g->seen[NIFTP_A_FACILITIES]) != NULL) {
		op = niftp_attr_op(a->qual);
		if (op == NIFTP_OP_ANY)
			fac = sup & (NIFTP_F_RESUME | NIFTP_F_RESTART);
		else if (op == NIFTP_OP_NE)
			fac = (uint16_t) (sup & ~a->ival & (NIFTP_F_RESUME | NIFTP_F_RESTART));
		else
			fac = (uint16_t) (a->ival & sup);
		if (fac != a->ival || op != NIFTP_OP_EQ)
			x->ret[NIFTP_A_FACILITIES] = RET_VALUE;
	}
	/* Deflate only with marks: they bound what one stream may inflate to. */
	if ((fac & NIFTP_F_DEFLATE) && !(fac & (NIFTP_F_RESUME | NIFTP_F_RESTART | NIFTP_F_MARKACK))) {
		fac = (uint16_t) (fac & ~NIFTP_F_DEFLATE);
		if (g->seen[NIFTP_A_FACILITIES])
			x->ret[NIFTP_A_FACILITIES] = RET_VALUE;
	}
	x->facilities = fac;
	x->retval[NIFTP_A_FACILITIES] = fac;
	x->deflate = (fac & NIFTP_F_DEFLATE) != 0;
	x->rle = x->binary ? (fac & NIFTP_F_BINCOMP) != 0 : (fac & NIFTP_F_TEXTCOMP) != 0;
	x->marks = (fac & (NIFTP_F_RESUME | NIFTP_F_RESTART | NIFTP_F_MARKACK)) != 0;
	/* Transfer id and initial restart mark. */
	if ((a = g->seen[NIFTP_A_TID]) != NULL)
		x->req.tid = a->ival;
	if ((a = g->seen[NIFTP_A_RESTARTMARK]) != NULL) {
		x->req.restart_mark = a->ival;
		if (!x->req.resume && a->ival != 0) {
			snprintf(why, sizeof(why), "initial restart mark %u given without "
				"resumption", a->ival);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		}
	}
	/* File size in KiB (size/1024+1; 0xFFFF = more than 64 MiB). */
	x->req.size = -1;
	if ((a = g->seen[NIFTP_A_FILESIZE]) != NULL && n->cfg.max_size > 0) {
		if ((a->ival == 0xFFFF && n->cfg.max_size < 64ull * 1024 * 1024)
		    || (a->ival != 0xFFFF && a->ival > 0
			&& (uint64_t) (a->ival - 1) * 1024 > n->cfg.max_size)) {
			snprintf(why, sizeof(why), "file too large: %u KiB, the limit is %llu octets",
				a->ival, (unsigned long long) n->cfg.max_size);
			neg_fail(g, a, NIFTP_ST_REJ_ATTR, why);
		}
	}
	/* Names. */
	if ((a = g->seen[NIFTP_A_FILENAME]) != NULL) {
		copy_attr_str(x->filename, sizeof(x->filename), a);
		x->req.filename = x->filename;
	}
	if ((a = g->seen[NIFTP_A_USERNAME]) != NULL) {
		copy_attr_str(x->username, sizeof(x->username), a);
		x->req.username = x->username;
	}
	if ((a = g->seen[NIFTP_A_PASSWORD]) != NULL) {
		copy_attr_str(x->password, sizeof(x->password), a);
		x->req.password = x->password;
	}
}

/* q_infos - collect information and action messages; find the copy id */
static void q_infos(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	size_t	i, off = 0, count = 0;

	for (i = 0; i < n->cmd.nattr; i++) {
		const struct niftp_attr *a = &n->cmd.attr[i];
		char	s[NIFTP_MAX_NAME + 1];
		size_t	k;

		if ((a->id != NIFTP_A_INFOMSG && a->id != NIFTP_A_ACTIONMSG)
		    || niftp_attr_fmt(a->qual) != NIFTP_Q_STRING || count >= NIFTP_MAX_INFO)
			continue;
		copy_attr_str(s, sizeof(s), a);
		count++;
		if (strncmp(s, "niftpmail-copy ", 15) == 0 && !x->copy_id[0]) {
			snprintf(x->copy_id, sizeof(x->copy_id), "%s", s);
			x->req.copy_id = x->copy_id;
		}
		k = strlen(s);
		if (off + k + 2 > sizeof(x->infos))
			continue;
		if (off > 0)
			x->infos[off++] = '\n';
		memcpy(x->infos + off, s, k);
		off += k;
		x->infos[off] = 0;
	}
	x->req.info = off > 0 ? x->infos : NULL;
}

int niftp_q_sft(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	struct neg g;
	struct niftp_event ev;
	size_t	i;
	int	rc;

	memset(x, 0, sizeof(*x));
	memset(&g, 0, sizeof(g));
	x->active = 1;
	x->open.size = -1;
	for (i = 0; i < n->cmd.nattr; i++) {
		const struct niftp_attr *a = &n->cmd.attr[i];
		const struct q_attr *t;
		int	fmt = niftp_attr_fmt(a->qual);

		if (a->id == NIFTP_A_INFOMSG || a->id == NIFTP_A_ACTIONMSG)
			continue;
		if ((t = q_attr_find(a->id)) == NULL) {
			x->ret[a->id] = RET_UNKNOWN;
			continue;
		}
		if (a->qual & NIFTP_Q_MONITOR) {
			if (a->id == NIFTP_A_FILENAME || a->id == NIFTP_A_USERNAME
			    || (fmt == NIFTP_Q_INT && t->fmt == NIFTP_Q_INT)) {
				x->ret[a->id] = RET_VALUE;
				x->retval[a->id] = a->ival;
			} else {
				x->ret[a->id] = RET_NOVALUE;
			}
		}
		if (fmt == NIFTP_Q_UNKNOWN || fmt == NIFTP_Q_NOVALUE)
			continue;	/* no value: not given */
		if (t->fmt != FMT_ANY && fmt != t->fmt) {
			char	why[200];

			snprintf(why, sizeof(why), "attribute 0x%02x (%s) has the wrong format "
				"(qualifier 0x%02x)", a->id, t->name, a->qual);
			neg_fail(&g, a, NIFTP_ST_REJ_ATTR, why);
			continue;
		}
		g.seen[a->id] = a;
	}
	q_eval(n, &g);
	q_infos(n);
	x->req.mode = x->mode;
	x->req.binary = x->binary;
	x->req.caller = n->cfg.caller;
	x->req.textfmt = x->textfmt;
	x->req.facilities = x->facilities;
	x->req.mail = n->cfg.mail_only;

	memset(&ev, 0, sizeof(ev));
	ev.type = NIFTP_EV_SFT;
	ev.req = &x->req;
	ev.size = -1;
	if (niftp_emit(n, &ev))
		return -1;
	if (g.nfail > 0)
		return send_rneg(n, g.fail, g.nfail, g.state, g.why);
	/* Policy: state only, no attribute (as unix-niftp does). */
	if (n->cfg.mail_only && x->req.filename && !(n->cfg.mail_reads && x->sender))
		return send_rneg(n, NULL, 0, NIFTP_ST_REJ_ATTR, "Filename given when not expected");
	if (x->sender && x->req.filename == NULL)
		return send_rneg(n, NULL, 0, NIFTP_ST_REJ_ATTR, "no filename given for a read");
	if (n->hooks.auth && n->hooks.auth(n->hook_arg, x->req.username, x->req.password,
	    n->cfg.caller) < 0) {
		struct niftp_attr f[2];
		size_t	nf = 0;

		if (x->req.username)
			niftp_attr_str(&f[nf++], NIFTP_A_USERNAME, NIFTP_OP_NE, x->req.username);
		else
			niftp_attr_none(&f[nf++], NIFTP_A_USERNAME, NIFTP_Q_NOVALUE | NIFTP_OP_NE);
		if (x->req.password)
			niftp_attr_none(&f[nf++], NIFTP_A_PASSWORD, NIFTP_Q_NOVALUE | NIFTP_OP_NE);
		return send_rneg(n, f, nf, NIFTP_ST_REJ_MSG, "username or password refused");
	}
	if (x->req.resume && !n->cfg.resumption)
		return send_rneg(n, NULL, 0, NIFTP_ST_REJ_NORESUME,
			"resumption not offered by this server");
	if (n->fs == NULL)
		return send_rneg(n, NULL, 0, NIFTP_ST_REJ_LATER, "no filestore");
	rc = x->sender ? n->fs->open_read(n->fsarg, &x->req, &x->open)
		: n->fs->open_write(n->fsarg, &x->req, &x->open);
	if (rc == 1) {
		n->st = NS_OPENING;
		return 0;
	}
	x->open_ok = rc == 0;
	x->fh = rc == 0 ? x->open.fh : NULL;
	return niftp_q_answer(n);
}

/* q_grant - resumption: grant a restart mark and cut the file there */
static int q_grant(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	uint32_t want = x->req.restart_mark;
	char	reason[NIFTP_REASON_MAX] = "";

	x->ret[NIFTP_A_RESTARTMARK] = RET_VALUE;
	if (x->is_write) {
		uint32_t g;
		uint64_t off;

		if (x->open.committed) {
			x->committed_resume = 1;
			x->restart = NIFTP_MARK_EOF;
			x->retval[NIFTP_A_RESTARTMARK] = NIFTP_MARK_EOF;
			return 0;
		}
		g = want < x->open.mark ? want : x->open.mark;
		/*
		 * 0xFFFF means "committed, only STOP left", which only a
		 * committed docket may answer. A partial file whose docket
		 * holds 65,535 marks or more (small intervals, big files)
		 * resumes from the highest mark we can name, 0xFFFE: granting
		 * 0xFFFF would make P stop and the file would be lost.
		 */
		if (g > NIFTP_MARK_EOF - 1)
			g = NIFTP_MARK_EOF - 1;
		if (g == 0)
			off = 0;
		else if (g == x->open.mark)
			off = x->open.offset;
		else
			off = (uint64_t) g * (x->open.offset / x->open.mark);
		if (x->fh && n->fs->truncate && n->fs->truncate(x->fh, off, reason) < 0)
			return send_rneg(n, NULL, 0, NIFTP_ST_REJ_NORESUME,
				reason[0] ? reason : "cannot cut the file at the restart mark");
		x->restart = (uint16_t) g;
		x->mark = g;
		x->mark_off = off;
		x->offset = off;
	} else {
		uint64_t off;

		if (want == NIFTP_MARK_EOF) {
			x->committed_resume = 1;
			x->restart = NIFTP_MARK_EOF;
			x->retval[NIFTP_A_RESTARTMARK] = NIFTP_MARK_EOF;
			return 0;
		}
		off = (uint64_t) want * x->interval;
		if (x->open.size >= 0 && off > (uint64_t) x->open.size)
			return send_rneg(n, NULL, 0, NIFTP_ST_REJ_NORESUME,
				"restart mark beyond the end of the file");
		x->restart = (uint16_t) want;
		x->mark = want;
		x->offset = off;
	}
	x->retval[NIFTP_A_RESTARTMARK] = x->restart;
	return 0;
}

int niftp_q_answer(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	struct niftp_attr a[300];
	struct niftp_event ev;
	size_t	na = 0;
	int	id;

	if (!x->open_ok) {
		uint16_t state = x->open.state ? x->open.state : NIFTP_ST_REJ_LATER;
		struct niftp_attr f[1];
		size_t	nf = 0;

		if (x->req.resume && !x->open.state)
			state = NIFTP_ST_REJ_NORESUME;
		if (x->open.denied && x->req.username)
			niftp_attr_str(&f[nf++], NIFTP_A_USERNAME, NIFTP_OP_NE, x->req.username);
		else if (x->open.denied)
			niftp_attr_none(&f[nf++], NIFTP_A_USERNAME, NIFTP_Q_NOVALUE | NIFTP_OP_NE);
		return send_rneg(n, f, nf, state,
			x->open.reason[0] ? x->open.reason : "the file cannot be opened");
	}
	if (x->sender) {
		x->req.size = x->open.size;
		x->interval = niftp_mark_interval(x->open.size);
	}
	if (x->req.resume) {
		if (q_grant(n) < 0 || n->st == NS_RNEG)
			return -1;
	}
	for (id = 0; id < 256; id++) {
		switch (x->ret[id]) {
		case RET_NONE:
			break;
		case RET_UNKNOWN:
			niftp_attr_none(&a[na++], (uint8_t) id, NIFTP_Q_UNKNOWN);
			break;
		case RET_NOVALUE:
			niftp_attr_none(&a[na++], (uint8_t) id, NIFTP_Q_NOVALUE | NIFTP_OP_ANY);
			break;
		case RET_VALUE:
			if (id == NIFTP_A_FILENAME) {
				if (x->open.name[0])
					niftp_attr_str(&a[na++], NIFTP_A_FILENAME, NIFTP_OP_EQ,
						x->open.name);
				else
					niftp_attr_none(&a[na++], NIFTP_A_FILENAME,
						NIFTP_Q_NOVALUE | NIFTP_OP_ANY);
			} else if (id == NIFTP_A_USERNAME) {
				if (x->req.username)
					niftp_attr_str(&a[na++], NIFTP_A_USERNAME, NIFTP_OP_EQ,
						x->req.username);
				else
					niftp_attr_none(&a[na++], NIFTP_A_USERNAME,
						NIFTP_Q_NOVALUE | NIFTP_OP_ANY);
			} else {
				niftp_attr_int(&a[na++], (uint8_t) id, NIFTP_OP_EQ, x->retval[id]);
			}
			break;
		}
	}
	if (n->cfg.info)
		niftp_attr_str(&a[na++], NIFTP_A_INFOMSG, NIFTP_OP_EQ, n->cfg.info);
	if (niftp_send_cmd(n, NIFTP_RPOS, a, na) < 0)
		return -1;
	n->st = NS_POS;
	memset(&ev, 0, sizeof(ev));
	ev.type = NIFTP_EV_POS;
	ev.name = x->open.name;
	ev.req = &x->req;
	ev.size = x->sender ? x->open.size : -1;
	return niftp_emit(n, &ev) ? -1 : 0;
}

/* p_refuse_rpos - P does not accept Q's answer: STOP instead of GO */
static int p_refuse_rpos(struct niftp *n, const char *why)
{
	struct niftp_attr a[2];

	n->x.status = NIFTP_ERR_PROTO;
	n->x.local_err = 1;
	n->x.state = NIFTP_ST_ABORT_NORETRY;
	niftp_set_reason(n, "%s", why);
	niftp_attr_int(&a[0], NIFTP_A_STATE, NIFTP_OP_EQ, NIFTP_ST_ABORT_NORETRY);
	niftp_attr_str(&a[1], NIFTP_A_INFOMSG, NIFTP_OP_EQ, why);
	if (niftp_send_cmd(n, NIFTP_STOP, a, 2) < 0)
		return -1;
	n->st = NS_STOP_SENT;
	return 0;
}

/* narrowed_ok - Q narrowed our mode sent to got */
static int narrowed_ok(uint16_t sent, uint16_t got)
{
	if (sent == got)
		return 1;
	if (sent == NIFTP_MODE_REPLACE_MAKE)
		return got == NIFTP_MODE_MAKE || got == NIFTP_MODE_REPLACE;
	if (sent == NIFTP_MODE_APPEND_MAKE)
		return got == NIFTP_MODE_MAKE || got == 0x0004;
	return 0;
}

int niftp_p_rpos(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	struct niftp_event ev;
	char	why[300];
	size_t	i;
	uint16_t restart_req = x->req.resume ? x->req.restart_mark : 0;

	x->textfmt = x->req.textfmt == NIFTP_TF_TRANSPARENT ? NIFTP_TF_TRANSPARENT : NIFTP_TF_LINES;
	x->facilities = x->offered_fac;
	x->window = x->req.ack_window ? x->req.ack_window : 32;
	x->maxrec = 0xFFFF;
	x->restart = restart_req;
	for (i = 0; i < n->cmd.nattr; i++) {
		const struct niftp_attr *a = &n->cmd.attr[i];
		int	fmt = niftp_attr_fmt(a->qual), op = niftp_attr_op(a->qual);

		if (fmt == NIFTP_Q_UNKNOWN) {
			if (a->id == NIFTP_A_PROTOCOL || a->id == NIFTP_A_MODE) {
				snprintf(why, sizeof(why), "the server does not know attribute 0x%02x",
					a->id);
				return p_refuse_rpos(n, why);
			}
			if (a->id == NIFTP_A_FACILITIES)
				x->facilities = 0;
			continue;
		}
		if (op != NIFTP_OP_EQ && op != NIFTP_OP_ANY) {
			snprintf(why, sizeof(why), "RPOS answers attribute 0x%02x with operator %d "
				"(only EQ and ANY are allowed)", a->id, op);
			return p_refuse_rpos(n, why);
		}
		if (a->id == NIFTP_A_FILENAME && fmt == NIFTP_Q_STRING) {
			copy_attr_str(n->docket.name, sizeof(n->docket.name), a);
			continue;
		}
		if (op == NIFTP_OP_ANY || fmt != NIFTP_Q_INT)
			continue;
		switch (a->id) {
		case NIFTP_A_MODE:
			if (!narrowed_ok(x->mode, (uint16_t) (a->ival & ~NIFTP_MODE_RESUME))) {
				snprintf(why, sizeof(why), "RPOS changes the mode of access 0x%04x "
					"to 0x%04x", x->mode, a->ival);
				return p_refuse_rpos(n, why);
			}
			break;
		case NIFTP_A_TEXTCODE:
			if (a->ival != 1)
				return p_refuse_rpos(n, "RPOS asks for a text code other than IA5");
			break;
		case NIFTP_A_TEXTFMT:
			if (a->ival != NIFTP_TF_LINES && a->ival != NIFTP_TF_TRANSPARENT) {
				snprintf(why, sizeof(why), "RPOS text formatting 0x%04x was not offered",
					a->ival);
				return p_refuse_rpos(n, why);
			}
			x->textfmt = a->ival;
			break;
		case NIFTP_A_MAXRECORD:
			if (a->ival == 0)
				return p_refuse_rpos(n, "RPOS maximum record size 0");
			x->maxrec = a->ival;
			break;
		case NIFTP_A_ACKWINDOW:
			if (a->ival == 0)
				return p_refuse_rpos(n, "RPOS acknowledgement window 0");
			/* MR numbers are mod 256: more than 255 outstanding marks
			 * cannot be told apart, and as a receiver we would ack
			 * later than a sender keeping 255 may wait. */
			x->window = a->ival > 255 ? 255 : a->ival;
			break;
		case NIFTP_A_RESTARTMARK:
			if (!x->req.resume ? a->ival != 0
			    : (a->ival != NIFTP_MARK_EOF && a->ival > restart_req)) {
				snprintf(why, sizeof(why), "RPOS initial restart mark %u, asked for %u",
					a->ival, restart_req);
				return p_refuse_rpos(n, why);
			}
			x->restart = a->ival;
			break;
		case NIFTP_A_FACILITIES:
			x->facilities = a->ival & x->offered_fac;
			break;
		case NIFTP_A_DATATYPE:
			if (a->ival != (x->binary ? 2 : 1)) {
				snprintf(why, sizeof(why), "RPOS data type 0x%04x, asked for 0x%04x",
					a->ival, x->binary ? 2 : 1);
				return p_refuse_rpos(n, why);
			}
			break;
		case NIFTP_A_WORDSIZE:
			if (a->ival != 8)
				return p_refuse_rpos(n, "RPOS binary word size other than 8");
			break;
		default:
			break;
		}
	}
	x->marks = (x->facilities & (NIFTP_F_RESUME | NIFTP_F_RESTART | NIFTP_F_MARKACK)) != 0;
	x->deflate = (x->facilities & NIFTP_F_DEFLATE) && x->marks
		&& (x->binary || x->textfmt == NIFTP_TF_TRANSPARENT);
	x->rle = x->binary ? (x->facilities & NIFTP_F_BINCOMP) != 0
		: (x->facilities & NIFTP_F_TEXTCOMP) != 0;
	x->req.textfmt = x->textfmt;
	x->req.facilities = x->facilities;
	if (x->restart != NIFTP_MARK_EOF) {
		x->mark = x->restart;
		n->docket.mark = x->restart;
		n->docket.offset = (uint64_t) x->restart * x->interval;
		/* We asked for 0xFFFF but Q holds less: the data goes again. */
		n->docket.data_done = 0;
	}

	memset(&ev, 0, sizeof(ev));
	ev.type = NIFTP_EV_POS;
	ev.name = n->docket.name;
	ev.req = &x->req;
	ev.size = x->req.size;
	if (niftp_emit(n, &ev))
		return -1;
	if (x->restart == NIFTP_MARK_EOF) {
		/* Everything is there already: only STOP/STOPACK left. */
		x->data_ok = 1;
		x->state = NIFTP_ST_OK;
		n->docket.data_done = 1;
		if (niftp_p_send_stop(n, NIFTP_ST_OK, NULL) < 0)
			return -1;
		n->st = NS_STOP_SENT;
		return 0;
	}
	if (niftp_send_cmd(n, NIFTP_GO, NULL, 0) < 0)
		return -1;
	n->st = NS_DATA;
	return niftp_data_start(n);
}

int niftp_p_rneg(struct niftp *n)
{
	struct niftp_xfer *x = &n->x;
	struct niftp_attr a[2];
	uint16_t state = niftp_find_state(&n->cmd, NIFTP_ST_REJECTED);
	char	info[sizeof(x->peer_info)];
	char	bad[200] = "";
	size_t	i, off = 0;

	niftp_collect_info(n, &n->cmd, info, sizeof(info));
	for (i = 0; i < n->cmd.nattr; i++) {
		const struct niftp_attr *at = &n->cmd.attr[i];

		if (niftp_attr_op(at->qual) != NIFTP_OP_NE)
			continue;
		if (at->id == NIFTP_A_USERNAME || at->id == NIFTP_A_PASSWORD)
			x->auth_refused = 1;
		if (off < sizeof(bad) - 20)
			off += (size_t) snprintf(bad + off, sizeof(bad) - off, "%s0x%02x",
				off ? ", " : "", at->id);
	}
	x->peer_state = state;
	x->state = state;
	x->status = x->auth_refused ? NIFTP_ERR_AUTH : niftp_status_of_state(state);
	if (x->status == NIFTP_OK)
		x->status = NIFTP_ERR_PERM;
	niftp_set_reason(n, "refused (RNEG state 0x%04x%s%s)%s%s", state,
		bad[0] ? ", attributes " : "", bad, info[0] ? ": " : "", info);
	snprintf(x->peer_info, sizeof(x->peer_info), "%s", x->reason);
	niftp_attr_int(&a[0], NIFTP_A_STATE, NIFTP_OP_EQ, state);
	if (niftp_send_cmd(n, NIFTP_STOP, a, 1) < 0)
		return -1;
	n->st = NS_STOP_SENT;
	return 0;
}
