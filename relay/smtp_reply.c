/*++
 * NAME
 *	smtp_reply 3
 * SUMMARY
 *	SMTP client transcript: pair each reply with the command it answers
 * SYNOPSIS
 *	#include "relay/smtp_reply.h"
 * DESCRIPTION
 *	Two line assemblers (sent, received) cut the octet streams at LF
 *	into bounded buffers. A complete sent line is classified by the
 *	command table and queued in a ring of owed replies; a complete
 *	received line extends the reply being read, and the line that ends
 *	it pops the oldest owed command and files the reply under the step
 *	the command table names. Every cursor stops at a length; the text
 *	kept is cleaned and bounded as it is copied.
 * DIAGNOSTICS
 *	None: see smtp_tx_desync() and smtp_tx_garbage() in smtp_reply.h.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/smtp_reply.h"
#include "util/alloc.h"

/* What a sent line is. */
enum smtp_cmd {
	CMD_OTHER,		/* NOOP, VRFY, an unknown line: its reply is only "last" */
	CMD_HELLO,
	CMD_STARTTLS,
	CMD_AUTH,		/* AUTH and the lines of its exchange */
	CMD_MAIL,
	CMD_RCPT,
	CMD_DATA,
	CMD_RSET,
	CMD_QUIT
};

/* The command table: verb, what it is, where its reply is filed
 * (SMTP_NSTEP: nowhere but SMTP_LAST; RCPT replies go to their slot). */
static const struct smtp_cmd_info {
	const char *verb;
	enum smtp_cmd cmd;
	enum smtp_step step;
} smtp_cmds[] = {
	{ "EHLO", CMD_HELLO, SMTP_HELLO },
	{ "HELO", CMD_HELLO, SMTP_HELLO },
	{ "LHLO", CMD_HELLO, SMTP_HELLO },
	{ "STARTTLS", CMD_STARTTLS, SMTP_STARTTLS },
	{ "AUTH", CMD_AUTH, SMTP_AUTH },
	{ "MAIL", CMD_MAIL, SMTP_MAIL },
	{ "RCPT", CMD_RCPT, SMTP_NSTEP },
	{ "DATA", CMD_DATA, SMTP_DATA },
	{ "RSET", CMD_RSET, SMTP_NSTEP },
	{ "QUIT", CMD_QUIT, SMTP_QUIT },
};

/* A line being assembled. */
struct smtp_line {
	char	buf[SMTP_LINE_MAX];
	size_t	len;
};

/* A command owed a reply. */
struct smtp_pend {
	enum smtp_cmd cmd;
	unsigned long gen;	/* the transaction it was sent in */
	size_t	rcpt;		/* RCPT: its slot, or SIZE_MAX when not recorded */
};

struct smtp_rcpt {
	int	code;
	char   *text;		/* NULL until answered */
	char   *addr;
};

struct smtp_tx {
	struct smtp_line in, out;
	/* the reply being read */
	int	cur_open;	/* a "NNN-" line was seen */
	int	cur_code;
	char	cur_text[SMTP_REPLY_TEXT_MAX + 1];
	size_t	cur_len;
	/* replies filed per step */
	int	code[SMTP_NSTEP];
	char	text[SMTP_NSTEP][SMTP_REPLY_TEXT_MAX + 1];
	/* owed replies: a ring */
	struct smtp_pend *pend;
	size_t	pend_cap, pend_head, pend_n;
	/* this transaction */
	unsigned long gen;
	struct smtp_rcpt *rcpt;
	size_t	nrcpt, rcpt_cap;
	int	await_final;	/* a 354 came; the next reply answers the message */
	int	in_auth;	/* an AUTH exchange is under way */
	int	seen_reply;	/* the greeting came */
	int	desync;
	unsigned long garbage;
};

/* smtp_clean - copy n octets to dst (room for n + 1), control octets and DEL
 * as '?'; returns n */
static size_t smtp_clean(char *dst, const char *src, size_t n)
{
	size_t  i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char) src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
	}
	dst[n] = '\0';
	return n;
}

/* smtp_tx_clear_tx - forget the current transaction's results */
static void smtp_tx_clear_tx(struct smtp_tx *tx)
{
	size_t  i;

	for (i = 0; i < tx->nrcpt; i++) {
		free(tx->rcpt[i].text);
		free(tx->rcpt[i].addr);
	}
	tx->nrcpt = 0;
	tx->code[SMTP_MAIL] = tx->code[SMTP_DATA] = tx->code[SMTP_FINAL] = 0;
	tx->text[SMTP_MAIL][0] = tx->text[SMTP_DATA][0] = tx->text[SMTP_FINAL][0] = '\0';
	tx->await_final = 0;
	tx->gen++;
}

struct smtp_tx *smtp_tx_new(void)
{
	struct smtp_tx *tx = xcalloc(1, sizeof(*tx));

	return tx;
}

void	smtp_tx_free(struct smtp_tx *tx)
{
	if (tx == NULL)
		return;
	smtp_tx_clear_tx(tx);
	free(tx->rcpt);
	free(tx->pend);
	free(tx);
}

void	smtp_tx_reset(struct smtp_tx *tx)
{
	struct smtp_rcpt *rcpt = tx->rcpt;
	struct smtp_pend *pend = tx->pend;
	size_t  rcpt_cap = tx->rcpt_cap, pend_cap = tx->pend_cap;
	unsigned long gen;

	smtp_tx_clear_tx(tx);
	gen = tx->gen;
	memset(tx, 0, sizeof(*tx));
	/* keep the arrays (a reused connection needs them again) and the
	 * generation (no stale reply can match a new transaction) */
	tx->rcpt = rcpt;
	tx->rcpt_cap = rcpt_cap;
	tx->pend = pend;
	tx->pend_cap = pend_cap;
	tx->gen = gen;
}

/* smtp_pend_push - queue an owed reply; -1 when the queue is full */
static int smtp_pend_push(struct smtp_tx *tx, const struct smtp_pend *p)
{
	if (tx->pend_n == tx->pend_cap) {
		struct smtp_pend *np;
		size_t  ncap, i;

		if (tx->pend_cap >= SMTP_TX_PENDING_MAX)
			return -1;
		ncap = tx->pend_cap ? tx->pend_cap * 2 : 16;
		if (ncap > SMTP_TX_PENDING_MAX)
			ncap = SMTP_TX_PENDING_MAX;
		np = xcalloc(ncap, sizeof(*np));
		for (i = 0; i < tx->pend_n; i++)
			np[i] = tx->pend[(tx->pend_head + i) % tx->pend_cap];
		free(tx->pend);
		tx->pend = np;
		tx->pend_cap = ncap;
		tx->pend_head = 0;
	}
	tx->pend[(tx->pend_head + tx->pend_n) % tx->pend_cap] = *p;
	tx->pend_n++;
	return 0;
}

/* smtp_pend_pop - take the oldest owed reply; 0, or -1 when none */
static int smtp_pend_pop(struct smtp_tx *tx, struct smtp_pend *p)
{
	if (tx->pend_n == 0)
		return -1;
	*p = tx->pend[tx->pend_head];
	tx->pend_head = (tx->pend_head + 1) % tx->pend_cap;
	tx->pend_n--;
	return 0;
}

/* smtp_verb_is - the line starts with verb (any case) followed by its end,
 * a space or a colon */
static int smtp_verb_is(const char *s, size_t n, const char *verb)
{
	size_t  i, vl = strlen(verb);

	if (n < vl)
		return 0;
	for (i = 0; i < vl; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			c = (char) (c - 'a' + 'A');
		if (c != verb[i])
			return 0;
	}
	return n == vl || s[vl] == ' ' || s[vl] == ':';
}

/* smtp_rcpt_addr - the path of "RCPT TO:<path>" in new memory: between
 * the first '<' and the next '>' (or the end), bounded and cleaned */
static char *smtp_rcpt_addr(const char *s, size_t n)
{
	const char *lt = memchr(s, '<', n), *gt;
	size_t  len;
	char   *a;

	if (lt == NULL) {
		const char *colon = memchr(s, ':', n);

		lt = colon != NULL ? colon : s + n - 1;
	}
	lt++;
	len = (size_t) (s + n - lt);
	gt = memchr(lt, '>', len);
	if (gt != NULL)
		len = (size_t) (gt - lt);
	if (len > SMTP_ADDR_MAX)
		len = SMTP_ADDR_MAX;
	a = xmalloc(len + 1);
	smtp_clean(a, lt, len);
	return a;
}

/* smtp_rcpt_slot - a new recipient slot; SIZE_MAX when the cap is reached */
static size_t smtp_rcpt_slot(struct smtp_tx *tx, const char *s, size_t n)
{
	struct smtp_rcpt *r;

	if (tx->nrcpt >= SMTP_TX_RCPT_MAX)
		return (size_t) -1;
	if (tx->nrcpt == tx->rcpt_cap) {
		size_t  ncap = tx->rcpt_cap ? tx->rcpt_cap * 2 : 8;

		if (ncap > SMTP_TX_RCPT_MAX)
			ncap = SMTP_TX_RCPT_MAX;
		tx->rcpt = xrealloc(tx->rcpt, ncap * sizeof(*tx->rcpt));
		tx->rcpt_cap = ncap;
	}
	r = &tx->rcpt[tx->nrcpt];
	r->code = 0;
	r->text = NULL;
	r->addr = smtp_rcpt_addr(s, n);
	return tx->nrcpt++;
}

/* smtp_sent_line - one complete command line (LF and CR removed) */
static void smtp_sent_line(struct smtp_tx *tx, const char *s, size_t n)
{
	struct smtp_pend p;
	size_t  i;

	/* the tail of libcurl's end-of-data mark, not a command */
	if (tx->await_final && (n == 0 || (n == 1 && s[0] == '.')))
		return;
	tx->await_final = 0;
	p.cmd = CMD_OTHER;
	for (i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++) {
		if (smtp_verb_is(s, n, smtp_cmds[i].verb)) {
			p.cmd = smtp_cmds[i].cmd;
			break;
		}
	}
	/* the client's lines of an AUTH exchange (RFC 4954) are no verbs */
	if (p.cmd == CMD_OTHER && tx->in_auth)
		p.cmd = CMD_AUTH;
	tx->in_auth = p.cmd == CMD_AUTH;
	if (p.cmd == CMD_MAIL || p.cmd == CMD_RSET)
		smtp_tx_clear_tx(tx);
	p.gen = tx->gen;
	p.rcpt = (size_t) -1;
	if (p.cmd == CMD_RCPT)
		p.rcpt = smtp_rcpt_slot(tx, s, n);
	if (smtp_pend_push(tx, &p) < 0)
		tx->desync = 1;
}

/* smtp_file - file a complete reply */
static void smtp_file(struct smtp_tx *tx, int code, const char *text, size_t len)
{
	struct smtp_pend p;
	enum smtp_step step = SMTP_NSTEP;
	size_t  i;
	int     first = !tx->seen_reply;

	tx->seen_reply = 1;
	tx->code[SMTP_LAST] = code;
	memcpy(tx->text[SMTP_LAST], text, len + 1);
	if (first && tx->pend_n == 0) {
		/* a server speaks first; a reply with a command waiting is that
		 * command's (a reused connection shows no greeting) */
		step = SMTP_GREETING;
	} else if (tx->await_final && tx->pend_n == 0) {
		step = SMTP_FINAL;
		tx->await_final = 0;
	} else if (smtp_pend_pop(tx, &p) < 0) {
		/* RFC 5321 3.8: a server may send 421 at any time, then close */
		if (code != 421)
			tx->desync = 1;
		return;
	} else {
		for (i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++)
			if (smtp_cmds[i].cmd == p.cmd)
				step = smtp_cmds[i].step;
		if (p.cmd == CMD_AUTH && code / 100 != 3)
			tx->in_auth = 0;
		if (p.gen != tx->gen)
			return;		/* a command of an earlier transaction */
		if (p.cmd == CMD_RCPT) {
			if (p.rcpt < tx->nrcpt) {
				tx->rcpt[p.rcpt].code = code;
				free(tx->rcpt[p.rcpt].text);
				tx->rcpt[p.rcpt].text = xmemdup(text, len);
			}
			return;
		}
		if (p.cmd == CMD_DATA && code / 100 == 3) {
			/* commands pipelined after DATA (RFC 2920 forbids it)
			 * leave no way to tell the message's reply from theirs */
			if (tx->pend_n == 0)
				tx->await_final = 1;
			else
				tx->desync = 1;
		}
	}
	if (step != SMTP_NSTEP) {
		tx->code[step] = code;
		memcpy(tx->text[step], text, len + 1);
	}
}

/* smtp_recv_line - one complete received line (LF and CR removed) */
static void smtp_recv_line(struct smtp_tx *tx, const char *s, size_t n)
{
	int     code, more;
	size_t  tlen;

	/* RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39, then "-" (more
	 * lines follow), SP or the end of the line */
	if (n < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5'
	    || s[2] < '0' || s[2] > '9' || (n > 3 && s[3] != '-' && s[3] != ' ')) {
		tx->garbage++;
		return;
	}
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	more = n > 3 && s[3] == '-';
	if (tx->cur_open && code != tx->cur_code)
		tx->garbage++;		/* taken all the same: the last line decides */
	if (!tx->cur_open)
		tx->cur_len = 0;
	else if (tx->cur_len < SMTP_REPLY_TEXT_MAX)
		tx->cur_text[tx->cur_len++] = '\n';
	tlen = n > 4 ? n - 4 : 0;
	if (tlen > SMTP_REPLY_TEXT_MAX - tx->cur_len)
		tlen = SMTP_REPLY_TEXT_MAX - tx->cur_len;
	tx->cur_len += smtp_clean(tx->cur_text + tx->cur_len, s + (n > 4 ? 4 : n), tlen);
	tx->cur_text[tx->cur_len] = '\0';
	tx->cur_code = code;
	tx->cur_open = more;
	if (!more)
		smtp_file(tx, code, tx->cur_text, tx->cur_len);
}

void	smtp_tx_feed(struct smtp_tx *tx, int sent, const char *p, size_t n)
{
	struct smtp_line *l = sent ? &tx->out : &tx->in;
	const char *end = p + n, *lf;

	while (p < end) {
		size_t  take, len;

		lf = memchr(p, '\n', (size_t) (end - p));
		take = (size_t) ((lf != NULL ? lf : end) - p);
		/* past SMTP_LINE_MAX the line is cut, not refused: its code
		 * (or verb) is at the start */
		len = take < sizeof(l->buf) - l->len ? take : sizeof(l->buf) - l->len;
		memcpy(l->buf + l->len, p, len);
		l->len += len;
		if (lf == NULL)
			return;
		p = lf + 1;
		len = l->len;
		if (len > 0 && l->buf[len - 1] == '\r')
			len--;
		l->len = 0;
		if (sent)
			smtp_sent_line(tx, l->buf, len);
		else
			smtp_recv_line(tx, l->buf, len);
	}
}

int	smtp_tx_code(const struct smtp_tx *tx, enum smtp_step step, const char **text)
{
	if ((unsigned) step >= SMTP_NSTEP) {
		if (text)
			*text = "";
		return 0;
	}
	if (text)
		*text = tx->text[step];
	return tx->code[step];
}

size_t	smtp_tx_nrcpt(const struct smtp_tx *tx)
{
	return tx->nrcpt;
}

int	smtp_tx_rcpt_code(const struct smtp_tx *tx, size_t i, const char **text)
{
	if (i >= tx->nrcpt || tx->rcpt[i].text == NULL) {
		if (text)
			*text = "";
		return 0;
	}
	if (text)
		*text = tx->rcpt[i].text;
	return tx->rcpt[i].code;
}

const char *smtp_tx_rcpt_addr(const struct smtp_tx *tx, size_t i)
{
	return i < tx->nrcpt ? tx->rcpt[i].addr : NULL;
}

enum smtp_outcome smtp_tx_outcome(const struct smtp_tx *tx, size_t i, int *code,
	const char **text)
{
	int     c[4], ok3[4] = { 0, 0, 1, 0 };
	const char *t[4];
	int     k;

	c[0] = smtp_tx_code(tx, SMTP_MAIL, &t[0]);
	c[1] = smtp_tx_rcpt_code(tx, i, &t[1]);
	c[2] = smtp_tx_code(tx, SMTP_DATA, &t[2]);
	c[3] = smtp_tx_code(tx, SMTP_FINAL, &t[3]);
	for (k = 0; k < 4; k++) {
		if (c[k] / 100 == 2 || (ok3[k] && c[k] / 100 == 3))
			continue;
		if (code)
			*code = c[k];
		if (text)
			*text = t[k];
		if (c[k] / 100 == 5 && !tx->desync)
			return SMTP_FAIL;
		return SMTP_DEFER;
	}
	if (code)
		*code = c[3];
	if (text)
		*text = t[3];
	return tx->desync ? SMTP_DEFER : SMTP_SENT;
}

int	smtp_tx_desync(const struct smtp_tx *tx)
{
	return tx->desync;
}

unsigned long smtp_tx_garbage(const struct smtp_tx *tx)
{
	return tx->garbage;
}

size_t	smtp_tx_pending(const struct smtp_tx *tx)
{
	return tx->pend_n;
}

int	smtp_addr_ok(const char *addr, char *why, size_t len)
{
	const char *reason = NULL;
	char    shown[41], toolong[64];
	size_t  n, i;

	if (addr == NULL)
		addr = "";
	n = strlen(addr);
	if (n == 0)
		reason = "empty address";
	else if (n > SMTP_ADDR_MAX) {
		snprintf(toolong, sizeof(toolong), "%zu octets, longer than %d", n, SMTP_ADDR_MAX);
		reason = toolong;
	}
	for (i = 0; i < n && reason == NULL; i++) {
		unsigned char c = (unsigned char) addr[i];

		if (c == '\r' || c == '\n')
			reason = "CR or LF in the address";
		else if (c < 0x20 || c == 0x7f)
			reason = "control octet in the address";
		else if (c == '<' || c == '>')
			reason = "'<' or '>' in the address";
	}
	if (reason == NULL)
		return 0;
	if (why != NULL && len > 0) {
		smtp_clean(shown, addr, n < sizeof(shown) - 1 ? n : sizeof(shown) - 1);
		snprintf(why, len, "address '%s%s': %s", shown,
		    n >= sizeof(shown) ? "..." : "", reason);
	}
	return -1;
}
