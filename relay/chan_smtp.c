/*++
 * NAME
 *	chan_smtp 3
 * SUMMARY
 *	mailrelayd: the smtp channel (letters to an Internet relay host)
 * SYNOPSIS
 *	#include "relay/channel.h"
 *	#include "relay/chan_smtp.h"
 *
 *	extern const struct channel_ops chan_smtp_ops;
 * DESCRIPTION
 *	Routes "HOST = smtp tcp:ADDR:PORT[, smtp ...]" name a relay host
 *	(like Postfix's relayhost: no MX lookup). Each envelope (one copy of
 *	a letter for one next hop) is one SMTP transaction: MAIL FROM, one
 *	RCPT TO per recipient, DATA, the message. libcurl does the protocol;
 *	its multi handle is driven by an event loop through the socket
 *	interface (CURLMOPT_SOCKETFUNCTION maps curl's sockets to loop fd
 *	watches, CURLMOPT_TIMERFUNCTION only arms a loop timer,
 *	curl_multi_socket_action() runs from the loop's callbacks). Each
 *	next hop has its own loop and multi handle on a thread of its own,
 *	because libcurl 7.88 blocks while it waits for the reply to the
 *	final "." (see "the hop's thread" below): a slow server holds up its
 *	own hop, never the node's loop. Connections stay in the hop's multi
 *	handle's cache and are reused; at most [smtp] max_per_hop (4)
 *	transactions of a hop run at a time, and as many connections
 *	(CURLMOPT_MAX_HOST_CONNECTIONS). A watchdog enforces [smtp] timeout
 *	where libcurl does not; a cut transaction's socket is shut down
 *	first so that no "." ends a message cut short; after a failure the
 *	hop's connections are not reused (a late reply would answer the
 *	next letter).
 *
 *	Before a transaction a worker reads the letter (relay/queue.h:
 *	queue/NAME) and decides what it can: the envelope sender (the
 *	header's Return-Path: when there is one, "<>" for a notice, else the
 *	originator, Sender: or From:), the Received: line, and whether the
 *	message can go at all. It cannot when a line is longer than 998
 *	octets (RFC 5321 4.5.3.1.6) or holds an 8-bit octet or NUL: libcurl
 *	7.88 never sends BODY=8BITMIME, and a 7-bit server may mangle such
 *	text. Such a letter is refused (every recipient fails with the
 *	reason, an NDN goes back) rather than converted: the letter format
 *	(doc/mail-format.md) is 7-bit text, so only a letter from outside
 *	can hold one, and a quoted-printable conversion would have to
 *	rewrite MIME headers. Folding and conversion may come later.
 *
 *	The message is streamed from the letter file by the read callback
 *	(no whole-letter buffer): the Received: line, then the stored header
 *	and body with LF made CRLF; libcurl doubles leading dots. Every
 *	address is checked with smtp_addr_ok() first (a CR or LF would
 *	inject commands): a bad recipient fails alone, a bad sender fails the
 *	copy.
 *
 *	Results. libcurl tells no result per RCPT (CURLOPT_MAIL_RCPT_ALLLOWFAILS
 *	only lets the transaction go on): the channel rebuilds them from the
 *	transcript that CURLOPT_DEBUGFUNCTION shows (relay/smtp_reply.h).
 *	Per recipient: accepted and the message taken, forwarded; 5xx at
 *	MAIL, RCPT, DATA or after the message, failed with the server's
 *	text; anything else (4xx, no reply, a broken connection) deferred.
 *	A hop whose current alternate cannot be reached (connection refused,
 *	no greeting) moves on to its next alternate at once; when every
 *	alternate failed the copy is deferred. The queue's journal gets the
 *	outcome with the reply code and text; the text of the server's final
 *	reply ("250 2.0.0 Ok: queued as 4XyZ") is the remote name, its
 *	"queued as" id when it has one.
 *
 *	No saved state: an SMTP transaction cannot be resumed. A crash after
 *	the server took the message and before the queue's result was
 *	durable sends the letter again at the next start (SMTP cannot do
 *	better; RFC 5321 6.1, RFC 1047). doc/smtp.md compares this with
 *	NIFTP's resumption. Crash points (util/crash.h, tests/postfix/
 *	t_postfix_crash.sh): relay-smtp-mid-data (part of the message sent,
 *	no final "."), relay-smtp-after-final-before-journal (the server
 *	took the message, the queue does not know it yet).
 *
 *	Its configuration, the [smtp] section (max_per_hop, tls, ca_file,
 *	verify, username and password_file, timeout) and the route
 *	addresses, is read by relay/smtp_conf.c, which needs no libcurl:
 *	programs that only read a configuration do not link this file.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "mailchannel/notice.h"
#include "mailchannel/rfc822.h"
#include "mailchannel/route.h"
#include "relay/chan_smtp.h"
#include "relay/channel.h"
#include "relay/conf.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/smtp_reply.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/workq.h"

#define SMTP_LINE_OCTETS	998	/* longest text line (RFC 5321 4.5.3.1.6) */
#define SMTP_RECEIVED_MAX	600	/* the Received: line */
#define SMTP_URL_MAX		400	/* smtp://HOST:PORT/NODE */
#define SMTP_HOST_MAX		CHAN_SMTP_HOST_MAX
#define SMTP_READ_CHUNK		(16 * 1024)	/* letter octets read at a time */
#define SMTP_REMOTE_MAX		200	/* the remote name kept */

struct shop;

/* The channel (the node's loop thread). */
struct chsmtp {
	struct relayd *rd;
	struct shop *hops;
	unsigned nxfer;			/* transactions begun and not yet answered */
	unsigned nprep;			/* letters read on workers */
};

/* A next hop: its envelopes waiting for a free transaction (the node's
 * thread), and the thread that runs its transactions: its own loop and
 * libcurl multi handle, touched by that thread only once it runs. */
struct shop {
	struct shop *next;
	struct chsmtp *cs;
	char   *name;
	unsigned alt;			/* current alternate */
	unsigned alt_fails;		/* consecutive unreachable alternates */
	unsigned active;		/* preparations and transactions */
	struct qenvq wait;
	/* the hop's thread */
	pthread_t th;
	int	th_running;
	struct loop *loop;
	CURLM  *multi;
	uint64_t timer;			/* the loop timer libcurl asked for, 0: none */
	uint64_t watchdog;		/* the idle check, 0: none */
	struct sxfer *xfers;		/* transactions in the multi handle */
	struct sxfer *held;		/* waiting for a fresh multi handle */
	unsigned nin;			/* in the multi handle */
	unsigned cur_per_hop;		/* CURLMOPT_MAX_HOST_CONNECTIONS as set */
	int	poisoned;		/* a transaction failed: no reuse of its
					 * connections (a late reply would answer
					 * the next letter); fresh handle when idle */
	int	cutting;		/* stop(now): no new transactions */
	int	freeing;		/* curl_multi_cleanup runs: no new watches or timers */
};

/* What the worker found in the letter. */
struct sprep {
	struct chsmtp *cs;
	struct shop *h;
	struct qenv *e;
	char	path[PATH_MAX];
	char	letter[SPOOL_NAMELEN];
	char	node[SPOOL_NODEMAX + 1];
	time_t	now;
	/* results */
	int	ok;			/* can be sent */
	int	perm;			/* !ok: refused for good (else deferred) */
	char	err[RELAYD_ERRLEN];
	char   *sender;			/* NULL: the null sender */
	char	tops[RFC822_TOPS_MAX];	/* big-endian top-level names ("": none) */
	/* results */
	uint64_t soff;			/* the first octet of the file to stream */
	struct buf pre;			/* what goes before it: the Received: line,
					 * and the header when it was rewritten */
};

/* One SMTP transaction: one envelope to one alternate. Built on the
 * node's thread, run on the hop's (from th_add() to th_finish()),
 * answered and freed on the node's. */
struct sxfer {
	struct sxfer *next, *prev;	/* h->xfers or h->held (the hop's thread) */
	int	added;			/* in the multi handle */
	CURLcode res;			/* how libcurl (or the watchdog) ended it */
	int64_t	last_ms;		/* last sign of life (the hop's thread) */
	curl_socket_t sock;		/* its connection's socket (sock_cb) */
	int	cut;			/* th_remove() cut it: ignore what follows */
	char	cutwhy[128];		/* why (the reason journaled), or "" */
	int64_t	timeout_ms;		/* [smtp] timeout */
	unsigned per_hop;		/* [smtp] max_per_hop */
	struct chsmtp *cs;
	struct shop *h;
	struct qenv *e;
	CURL   *easy;
	struct curl_slist *rcpts;
	struct smtp_tx *tx;
	size_t *map;			/* map[i]: envelope recipient of the i-th RCPT */
	size_t	nmap;
	char  **bad;			/* per envelope recipient: why it cannot go, or NULL */
	char   *sender;
	char	addr[SMTP_URL_MAX];	/* the alternate ("tcp:HOST:PORT") */
	char	url[SMTP_URL_MAX];
	char	errbuf[CURL_ERROR_SIZE];
	/* the message stream */
	int	fd;
	uint64_t soff;			/* the first octet of the file to send */
	uint64_t off;			/* next file offset to read */
	struct buf pre;			/* sent first (struct sprep) */
	size_t	preoff;
	unsigned char in[SMTP_READ_CHUNK];
	size_t	ilen, ipos;
	int	last_cr;		/* the last octet given was CR */
	int	pend_lf;		/* a LF is owed (its CR went out last) */
	char	ioerr[RELAYD_ERRLEN];	/* reading the letter failed */
};

static void hop_pump(struct chsmtp *cs, struct shop *h);
static const char *smtp_tops(const struct chsmtp *cs);
static void *th_main(void *arg);
static void th_add(void *arg);

/* --- settings ---------------------------------------------------------------- */

static struct chan_smtp_settings settings(const struct chsmtp *cs)
{
	const struct chan_smtp_settings *st = cs->rd->conf->chconf[ROUTE_CH_SMTP];
	struct chan_smtp_settings def;

	if (st != NULL)
		return *st;
	chan_smtp_settings_default(&def);
	return def;
}

/* smtp_tops - the top-level names whose domains are written big-endian
 * in letters ([smtp] big_endian), when [local] reversed_names is on; ""
 * otherwise (mailchannel/rfc822.h) */
static const char *smtp_tops(const struct chsmtp *cs)
{
	const struct chan_smtp_settings *st = cs->rd->conf->chconf[ROUTE_CH_SMTP];

	if (!cs->rd->conf->reversed_names)
		return "";
	return st != NULL ? st->big_endian : CHAN_SMTP_BIG_ENDIAN;
}

/* --- route addresses --------------------------------------------------------------- */

/* split_addr - a route's address ("tcp:HOST:PORT") into host and port:
 * chan_smtp_addr_split() (relay/smtp_conf.c) */
static int split_addr(const char *in, char *host, size_t hlen, unsigned *port, char *err,
	size_t errlen)
{
	return chan_smtp_addr_split(in, host, hlen, port, err, errlen);
}

void chan_smtp_global_init(void)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		log_fatal(1, "libcurl: curl_global_init: %s", curl_easy_strerror(rc));
}

/* --- results ---------------------------------------------------------------------- */

static struct shop *hop_find(struct chsmtp *cs, const char *name)
{
	struct shop *h;

	for (h = cs->hops; h != NULL; h = h->next)
		if (strcmp(h->name, name) == 0)
			return h;
	h = xcalloc(1, sizeof(*h));
	h->cs = cs;
	h->name = xstrdup(name);
	h->next = cs->hops;
	cs->hops = h;
	return h;
}

/* hop_thread - start h's thread (its loop; the multi handle comes with
 * the first transaction); 0 or -1 with err */
static int hop_thread(struct shop *h, char *err, size_t errlen)
{
	sigset_t all, old;
	int     rc;

	if (h->loop == NULL && (h->loop = loop_new()) == NULL) {
		snprintf(err, errlen, "smtp: a loop for next hop %s: %s", h->name,
		    strerror(errno));
		return -1;
	}
	/* signals stay with the node's thread */
	sigfillset(&all);
	(void) pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&h->th, NULL, th_main, h);
	(void) pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "smtp: a thread for next hop %s: %s", h->name,
		    strerror(rc));
		return -1;
	}
	h->th_running = 1;
	return 0;
}

/* all_result - every pending recipient of e has the same outcome */
static void all_result(struct chsmtp *cs, struct qenv *e, enum qoutcome what,
	const char *reason)
{
	struct qresult r;

	memset(&r, 0, sizeof(r));
	r.all = what;
	r.reason = reason;
	queue_result(cs->rd->q, e, &r);
}

/* remote_name - the far server's id from its final reply text: the word
 * after "queued as", else the whole first line (bounded) */
static void remote_name(const char *text, char *dst, size_t len)
{
	const char *p = text, *q;
	size_t  n;

	for (q = text; *q; q++)
		if (strncasecmp(q, "queued as ", 10) == 0) {
			p = q + 10;
			while (*p == ' ')
				p++;
			for (n = 0; p[n] && p[n] != ' ' && p[n] != '\n' && p[n] != ';'; n++)
				;
			if (n > 0)
				goto copy;
			p = text;
			break;
		}
	for (n = 0; p[n] && p[n] != '\n'; n++)
		;
copy:
	if (n >= len)
		n = len - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* reply_reason - "CODE TEXT" of a reply, or what curl said when none came */
static void reply_reason(struct sxfer *x, int code, const char *text, CURLcode res,
	char *dst, size_t len)
{
	const char *ce = x->cutwhy[0] ? x->cutwhy : x->errbuf[0] ? x->errbuf
	    : curl_easy_strerror(res);

	if (code != 0)
		snprintf(dst, len, "%s (%s) said: %d %s", x->h->name, x->addr, code,
		    text ? text : "");
	else if (res != CURLE_OK)
		snprintf(dst, len, "%s (%s): %s", x->h->name, x->addr, ce);
	else
		snprintf(dst, len, "%s (%s): no reply", x->h->name, x->addr);
	/* multi-line replies: one line in the journal and the NDN */
	for (char *p = dst; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* xfer_free - on the node's thread, out of every list and multi handle */
static void xfer_free(struct sxfer *x)
{
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->rcpts);
	smtp_tx_free(x->tx);
	if (x->bad != NULL)
		for (size_t i = 0; i < x->e->nrcpts; i++)
			free(x->bad[i]);
	free(x->bad);
	free(x->map);
	free(x->sender);
	buf_release(&x->pre);
	if (x->fd >= 0)
		close(x->fd);
	free(x);
}

/* unreachable - the transaction never reached a server's greeting */
static int unreachable(const struct sxfer *x, CURLcode res)
{
	if (smtp_tx_code(x->tx, SMTP_GREETING, NULL) != 0
	    || smtp_tx_code(x->tx, SMTP_MAIL, NULL) != 0)
		return 0;
	return res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST
	    || res == CURLE_OPERATION_TIMEDOUT || res == CURLE_RECV_ERROR
	    || res == CURLE_GOT_NOTHING || res == CURLE_SEND_ERROR;
}

/* xfer_done - libcurl finished x with res: answer the queue */
static void xfer_done(struct sxfer *x, CURLcode res)
{
	struct chsmtp *cs = x->cs;
	struct shop *h = x->h;
	struct qenv *e = x->e;
	const struct route_hop *rh;
	struct qrcpt_result *out;
	struct qresult r;
	char  **why;
	char    remote[SMTP_REMOTE_MAX], final[SMTP_REPLY_TEXT_MAX + 16];
	char    via[SMTP_URL_MAX];
	const char *kv[4], *ftext = NULL;
	int     fcode, sent = 0;
	size_t  i;

	h->active--;
	cs->nxfer--;
	if (res != CURLE_OK && unreachable(x, res)
	    && (rh = route_table_hop_by_name(cs->rd->conf->routes, h->name)) != NULL) {
		h->alt_fails++;
		h->alt = (h->alt + 1) % (unsigned) rh->nalts;
		if (h->alt_fails < rh->nalts) {
			log_info("'%s' to %s: %s unreachable (%s): next alternate", e->l->name,
			    h->name, x->addr, x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
			xfer_free(x);
			qenvq_add(&h->wait, e);
			return;
		}
		h->alt_fails = 0;
	} else if (smtp_tx_code(x->tx, SMTP_GREETING, NULL) != 0
	    || smtp_tx_code(x->tx, SMTP_MAIL, NULL) != 0)
		h->alt_fails = 0;

	out = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof(*out));
	why = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof(*why));
	for (i = 0; i < e->nrcpts; i++)
		out[i].what = e->rcpts[i].done ? QOUT_SKIP : QOUT_DEFER;
	for (i = 0; i < e->nrcpts; i++)
		if (x->bad[i] != NULL) {
			out[i].what = QOUT_FAIL;
			out[i].reason = x->bad[i];
		}
	if (x->ioerr[0])
		log_warn("'%s' to %s: %s", e->l->name, h->name, x->ioerr);
	for (i = 0; i < x->nmap; i++) {
		size_t  k = x->map[i];
		int     code = 0;
		const char *text = NULL;
		enum smtp_outcome o = smtp_tx_outcome(x->tx, i, &code, &text);
		char    rs[QUEUE_REASON_MAX];

		if (o == SMTP_SENT && res == CURLE_OK) {
			out[k].what = QOUT_DONE;
			sent++;
			continue;
		}
		if (x->ioerr[0])
			snprintf(rs, sizeof(rs), "%s", x->ioerr);
		else
			reply_reason(x, code, text, res, rs, sizeof(rs));
		why[k] = xstrdup(rs);
		out[k].reason = why[k];
		/* a 2xx after the message with a curl error (the read failed):
		 * the server took what it got; defer, never fail, on our side */
		out[k].what = o == SMTP_FAIL ? QOUT_FAIL : QOUT_DEFER;
	}
	fcode = smtp_tx_code(x->tx, SMTP_FINAL, &ftext);
	remote[0] = '\0';
	if (sent > 0 && ftext != NULL)
		remote_name(ftext, remote, sizeof(remote));
	snprintf(final, sizeof(final), "%d %s", fcode, ftext ? ftext : "");
	for (char *p = final; *p; p++)
		if (*p == '\n')
			*p = ' ';
	log_info("'%s' to %s (%s): %d forwarded of %zu%s%s", e->l->name, h->name, x->addr,
	    sent, x->nmap, fcode ? ", " : "", fcode ? final : "");
	/* the server has the message, the queue does not know it yet: a
	 * crash here sends it again after the restart (doc/smtp.md) */
	if (sent > 0)
		crash_point("relay-smtp-after-final-before-journal");
	memset(&r, 0, sizeof(r));
	r.rcpt = out;
	r.nrcpt = e->nrcpts;
	r.remote = remote[0] ? remote : NULL;
	str_copy(via, x->addr, sizeof(via));	/* x is freed before the result */
	r.via = via;
	/* proto=smtp: where mailctl trace --follow stops (no trace service
	 * on the far side; the "queued as" id is the last hop's name) */
	kv[0] = "proto";
	kv[1] = "smtp";
	kv[2] = "reply";
	kv[3] = final;
	r.kv = kv;
	r.nkv = fcode ? 2 : 1;
	xfer_free(x);
	queue_result(cs->rd->q, e, &r);
	for (i = 0; i < e->nrcpts; i++)
		free(why[i]);
	free(why);
	free(out);
}

/* --- the hop's thread: libcurl's multi socket interface on its loop ------------ */

/*
 * libcurl 7.88 waits for the reply to the final "." inside
 * curl_multi_socket_action() (smtp_done() runs its state machine in
 * blocking mode until the reply or [smtp] timeout), so a slow server
 * would stop whatever loop drives the multi handle. Each next hop
 * therefore has a thread of its own with its own loop and multi handle:
 * a slow server holds up its own hop only, never NIFTP, the control
 * socket or another hop. The node's thread hands a transaction over with
 * loop_post(h->loop, th_add) and gets it back, ended, with
 * loop_post(rd->loop, xfer_back); in between only the hop's thread
 * touches it (the callbacks, the transcript parser, the read of the
 * letter).
 */

static void th_check_done(struct shop *h);
static void th_watch(struct shop *h);

static void xfer_back(void *arg);

/* th_unlink - x out of the list it is on (h->xfers or h->held) */
static void th_unlink(struct sxfer **head, struct sxfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		*head = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->next = x->prev = NULL;
}

static void th_link(struct sxfer **head, struct sxfer *x)
{
	x->prev = NULL;
	x->next = *head;
	if (*head != NULL)
		(*head)->prev = x;
	*head = x;
}

/* th_finish - x is over: back to the node's thread with res */
static void th_finish(struct shop *h, struct sxfer *x, CURLcode res)
{
	x->res = res;
	loop_post(h->cs->rd->loop, xfer_back, x);
}

/* th_remove - take x out of the multi handle and finish it with res.
 * cut: the transfer is still running (watchdog, stop). libcurl 7.88's
 * smtp_done() ignores that a removal is premature and sends the
 * end-of-data "." on the connection, which would make the server take a
 * message cut short; so its socket is shut down first: the server sees
 * the connection end without the "." and discards the transaction
 * (RFC 5321 4.1.1.4), and libcurl's write fails. */
static void th_remove(struct shop *h, struct sxfer *x, CURLcode res, int cut)
{
	if (cut) {
		x->cut = 1;		/* the transcript ends here (debug_cb) */
		if (x->sock != CURL_SOCKET_BAD)
			(void) shutdown(x->sock, SHUT_RDWR);
	}
	(void) curl_multi_remove_handle(h->multi, x->easy);
	x->added = 0;
	th_unlink(&h->xfers, x);
	h->nin--;
	if (res != CURLE_OK)
		h->poisoned = 1;
	th_finish(h, x, res);
}

static void on_fd(struct loop *loop, int fd, int mask, void *arg)
{
	struct shop *h = arg;
	int     ev = 0, running;

	(void) loop;
	if (mask & LOOP_READ)
		ev |= CURL_CSELECT_IN;
	if (mask & LOOP_WRITE)
		ev |= CURL_CSELECT_OUT;
	(void) curl_multi_socket_action(h->multi, fd, ev, &running);
	th_check_done(h);
}

static void on_timer(struct loop *loop, void *arg)
{
	struct shop *h = arg;
	int     running;

	(void) loop;
	h->timer = 0;
	(void) curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	th_check_done(h);
}

/* sock_cb - libcurl tells which socket to watch for what */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *clientp, void *socketp)
{
	struct shop *h = clientp;
	struct sxfer *x = NULL;
	int     mask = 0;

	(void) socketp;
	if (easy != NULL && curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &x) == CURLE_OK
	    && x != NULL)
		x->sock = what == CURL_POLL_REMOVE ? CURL_SOCKET_BAD : s;
	if (what == CURL_POLL_REMOVE) {
		loop_fd_del(h->loop, s);
		return 0;
	}
	if (h->freeing)
		return 0;
	if (what & CURL_POLL_IN)
		mask |= LOOP_READ;
	if (what & CURL_POLL_OUT)
		mask |= LOOP_WRITE;
	if (loop_fd_set(h->loop, s, mask, on_fd, h) < 0)
		return -1;		/* libcurl fails the transfer: reported then */
	return 0;
}

/* timer_cb - libcurl wants to be called after timeout_ms (-1: never):
 * only arm the loop's timer (libcurl must not be called from here) */
static int timer_cb(CURLM *multi, long timeout_ms, void *clientp)
{
	struct shop *h = clientp;

	(void) multi;
	if (h->freeing)
		return 0;
	loop_timer_del(h->loop, h->timer);
	h->timer = 0;
	if (timeout_ms >= 0)
		h->timer = loop_timer_add(h->loop, timeout_ms, on_timer, h);
	return 0;
}

/* th_multi - a fresh multi handle for h (the old one, if any, is idle:
 * its cached connections are closed) */
static int th_multi(struct shop *h)
{
	if (h->multi != NULL) {
		loop_timer_del(h->loop, h->timer);
		h->timer = 0;
		(void) curl_multi_cleanup(h->multi);
	}
	h->cur_per_hop = 0;
	h->poisoned = 0;
	if ((h->multi = curl_multi_init()) == NULL)
		return -1;
	(void) curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	(void) curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	(void) curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	(void) curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return 0;
}

/* th_start - x into the multi handle */
static void th_start(struct shop *h, struct sxfer *x)
{
	CURLMcode mc;

	if (h->multi == NULL && th_multi(h) < 0) {
		snprintf(x->errbuf, sizeof(x->errbuf), "libcurl: curl_multi_init failed");
		th_finish(h, x, CURLE_OUT_OF_MEMORY);
		return;
	}
	if (x->per_hop != h->cur_per_hop) {
		h->cur_per_hop = x->per_hop;
		(void) curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
		    (long) x->per_hop);
	}
	x->last_ms = loop_now_ms();
	if ((mc = curl_multi_add_handle(h->multi, x->easy)) != CURLM_OK) {
		snprintf(x->errbuf, sizeof(x->errbuf), "libcurl: curl_multi_add_handle: %s",
		    curl_multi_strerror(mc));
		th_finish(h, x, CURLE_FAILED_INIT);
		return;
	}
	x->added = 1;
	th_link(&h->xfers, x);
	h->nin++;
	th_watch(h);
}

/* th_drain - h's multi handle is idle and poisoned: a fresh one, then the
 * transactions held for it */
static void th_drain(struct shop *h)
{
	struct sxfer *x;

	if (h->nin > 0 || !h->poisoned)
		return;
	if (th_multi(h) < 0)
		h->multi = NULL;	/* th_start() fails them with a reason */
	while ((x = h->held) != NULL) {
		th_unlink(&h->held, x);
		th_start(h, x);
	}
}

/* th_add - the node's thread hands x over */
static void th_add(void *arg)
{
	struct sxfer *x = arg;
	struct shop *h = x->h;

	if (h->cutting) {
		th_finish(h, x, CURLE_ABORTED_BY_CALLBACK);
		return;
	}
	if (h->poisoned && h->nin > 0) {
		th_link(&h->held, x);	/* not on a connection that may be stale */
		return;
	}
	if (h->poisoned)
		th_drain(h);
	th_start(h, x);
}

static void th_check_done(struct shop *h)
{
	CURLMsg *m;
	int     left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct sxfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		(void) curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &x);
		if (x == NULL) {
			(void) curl_multi_remove_handle(h->multi, m->easy_handle);
			continue;
		}
		th_remove(h, x, m->data.result, 0);
	}
	th_drain(h);
}

/* on_watchdog - libcurl 7.88 checks [smtp] timeout only when something
 * else wakes the transfer: a transaction without a sign of life (a
 * reply, octets sent, the letter read) for that long is cut here */
static void on_watchdog(struct loop *loop, void *arg)
{
	struct shop *h = arg;
	struct sxfer *x, *next;
	int64_t now = loop_now_ms();

	(void) loop;
	h->watchdog = 0;
	for (x = h->xfers; x != NULL; x = next) {
		next = x->next;
		if (now - x->last_ms <= x->timeout_ms)
			continue;
		snprintf(x->cutwhy, sizeof(x->cutwhy), "no reply and nothing sent for %lld s"
		    " ([smtp] timeout)", (long long) ((now - x->last_ms) / 1000));
		th_remove(h, x, CURLE_OPERATION_TIMEDOUT, 1);
	}
	th_drain(h);
	th_watch(h);
}

/* th_watch - the watchdog runs once a second while transactions do */
static void th_watch(struct shop *h)
{
	if (h->watchdog == 0 && h->nin > 0 && !h->freeing)
		h->watchdog = loop_timer_add(h->loop, 1000, on_watchdog, h);
}

/* th_cut - stop(now): every transaction of h ends (deferred) */
static void th_cut(void *arg)
{
	struct shop *h = arg;
	struct sxfer *x;

	h->cutting = 1;
	for (x = h->xfers; x != NULL; x = x->next)
		snprintf(x->cutwhy, sizeof(x->cutwhy), "cut short: the node is stopping");
	while ((x = h->xfers) != NULL)
		th_remove(h, x, CURLE_ABORTED_BY_CALLBACK, 1);
	while ((x = h->held) != NULL) {
		th_unlink(&h->held, x);
		th_finish(h, x, CURLE_ABORTED_BY_CALLBACK);
	}
}

/* th_quit - the channel is freed: close the cached connections (QUIT)
 * and leave the thread's loop */
static void th_quit(void *arg)
{
	struct shop *h = arg;

	loop_timer_del(h->loop, h->watchdog);
	h->watchdog = 0;
	loop_timer_del(h->loop, h->timer);
	h->timer = 0;
	h->freeing = 1;
	if (h->multi != NULL)
		(void) curl_multi_cleanup(h->multi);
	h->multi = NULL;
	loop_stop(h->loop);
}

static void *th_main(void *arg)
{
	struct shop *h = arg;

	(void) loop_run(h->loop);
	return NULL;
}

/* xfer_back - on the node's thread: x came back from its hop */
static void xfer_back(void *arg)
{
	struct sxfer *x = arg;
	struct chsmtp *cs = x->cs;
	struct shop *h = x->h;

	xfer_done(x, x->res);
	hop_pump(cs, h);
}

/* debug_cb - the transcript, for the reply parser; nothing else is kept
 * (AUTH lines carry credentials) */
static int debug_cb(CURL *easy, curl_infotype type, char *data, size_t size, void *arg)
{
	struct sxfer *x = arg;

	(void) easy;
	if (x->cut)
		return 0;
	if (type == CURLINFO_DATA_OUT)
		x->last_ms = loop_now_ms();
	if (type != CURLINFO_HEADER_OUT && type != CURLINFO_HEADER_IN)
		return 0;
	x->last_ms = loop_now_ms();
	/* on a cached connection the transcript starts with our MAIL FROM:
	 * the parser pairs its reply with it (no greeting) */
	smtp_tx_feed(x->tx, type == CURLINFO_HEADER_OUT, data, size);
	return 0;
}

/* read_cb - the message: the Received: line, then the letter from its
 * header on, LF made CRLF (a CRLF in the file stays as it is) */
static size_t read_cb(char *ptr, size_t size, size_t nitems, void *arg)
{
	struct sxfer *x = arg;
	size_t  room = size * nitems, out = 0;

	if (x->ioerr[0])
		return CURL_READFUNC_ABORT;
	x->last_ms = loop_now_ms();
	/* libcurl asks for more only once the octets it got last were
	 * written to the socket: the server holds part of the message */
	if (x->off > x->soff)
		crash_point("relay-smtp-mid-data");
	if (x->pend_lf && room > 0) {
		ptr[out++] = '\n';
		x->pend_lf = 0;
	}
	while (x->preoff < x->pre.len && out < room)
		ptr[out++] = (char) buf_data(&x->pre)[x->preoff++];
	while (out < room) {
		unsigned char c;

		if (x->ipos == x->ilen) {
			ssize_t n;

			do
				n = pread(x->fd, x->in, sizeof(x->in), (off_t) x->off);
			while (n < 0 && errno == EINTR);
			if (n < 0) {
				snprintf(x->ioerr, sizeof(x->ioerr), "read 'queue/%s': %s",
				    x->e->l->name, strerror(errno));
				return CURL_READFUNC_ABORT;
			}
			if (n == 0)
				break;
			x->off += (uint64_t) n;
			x->ilen = (size_t) n;
			x->ipos = 0;
		}
		c = x->in[x->ipos++];
		if (c == '\n' && !x->last_cr) {
			ptr[out++] = '\r';
			if (out == room) {
				x->pend_lf = 1;
				x->last_cr = 0;
				break;
			}
		}
		ptr[out++] = (char) c;
		x->last_cr = c == '\r';
	}
	return out;
}

/* --- preparing a transaction (on a worker) ---------------------------------------- */

/* sender_of - the envelope sender of a letter with header h: NULL for
 * the null sender, else new memory; -1 with err */
static int sender_of(const struct hdr *h, char **out, char *err, size_t errlen)
{
	char   *rp = hdr_get(h, "Return-Path");
	struct addr *a;

	*out = NULL;
	if (rp != NULL) {
		char   *p = str_trim(rp);
		size_t  n = strlen(p);

		if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
			p[n - 1] = '\0';
			p++;
		}
		if (*p == '\0') {
			free(rp);
			return 0;	/* <>: an Internet bounce */
		}
		a = addr_parse(p, strlen(p), err, errlen);
		free(rp);
		if (a == NULL)
			return -1;
	} else if (notice_is_notice(h))
		return 0;		/* no notice about a notice */
	else if ((a = hdr_originator(h, err, errlen)) == NULL)
		return -1;
	*out = addr_to_str(a);
	addr_free(a);
	return 0;
}

/* scan - the message part of the letter (from off) holds nothing an SMTP
 * server without 8BITMIME could mangle; 0 or -1 with err */
static int scan(int fd, uint64_t off, const char *letter, char *err, size_t errlen)
{
	unsigned char b[64 * 1024];
	unsigned long line = 1;
	size_t  col = 0;
	ssize_t n;

	for (;; off += (uint64_t) n) {
		n = pread(fd, b, sizeof(b), (off_t) off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0) {
			snprintf(err, errlen, "read 'queue/%s': %s", letter, strerror(errno));
			return -2;
		}
		if (n == 0)
			return 0;
		for (ssize_t i = 0; i < n; i++) {
			unsigned char c = b[i];

			if (c == '\n') {
				line++;
				col = 0;
				continue;
			}
			if (c != '\r')
				col++;
			if (c >= 0x80 || c == '\0') {
				snprintf(err, errlen, "message line %lu holds %s: the smtp channel"
				    " sends 7-bit text only", line, c ? "an 8-bit octet" : "a NUL");
				return -1;
			}
			if (col > SMTP_LINE_OCTETS) {
				snprintf(err, errlen, "message line %lu is longer than %d octets"
				    " (RFC 5321)", line, SMTP_LINE_OCTETS);
				return -1;
			}
		}
	}
}

/* lines_ok - every line of b[0..n) fits RFC 5321's 998 octets */
static int lines_ok(const unsigned char *b, size_t n)
{
	size_t  col = 0;

	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\n')
			col = 0;
		else if (b[i] != '\r' && ++col > SMTP_LINE_OCTETS)
			return 0;
	}
	return 1;
}

/* header_822 - h with its address fields made RFC 822 (mailchannel/rfc822.h)
 * appended to out with CRLF line ends; 1 when anything was rewritten,
 * 0 when nothing was (or the result would not do: out unchanged) */
static int header_822(struct buf *out, const struct hdr *h, const char *tops)
{
	struct buf nh = BUF_INIT(HDR_MAX + HDR_EDIT_SLACK);
	size_t  blen, i, end = 0;
	const char *block = hdr_block(h, &blen);
	const unsigned char *d;
	int     n = 0, rc;

	for (i = 0; i < hdr_count(h); i++) {
		size_t  rl, nl, vo;
		const char *raw = hdr_raw(h, i, &rl), *name = hdr_name(h, i, &nl), *colon;

		end = (size_t) (raw - block) + rl;
		if (!rfc822_addr_field(name, nl) || (colon = memchr(raw, ':', rl)) == NULL) {
			if (buf_append(&nh, raw, rl) < 0)
				goto keep;
			continue;
		}
		vo = (size_t) (colon - raw) + 1;
		if (buf_append(&nh, raw, vo) < 0
		    || (rc = rfc822_fix(&nh, raw + vo, rl - vo, tops)) < 0)
			goto keep;
		n += rc;
	}
	if (n == 0 || buf_append(&nh, block + end, blen - end) < 0)
		goto keep;
	/* joined folds must not make a line too long */
	d = buf_data(&nh);
	if (!lines_ok(d, nh.len))
		goto keep;
	for (i = 0; i < nh.len; i++) {
		if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r') && buf_putc(out, '\r') < 0)
			goto keep;
		if (buf_putc(out, d[i]) < 0)
			goto keep;
	}
	buf_release(&nh);
	return 1;
keep:
	buf_release(&nh);
	return 0;
}

static void prep_work(void *arg)
{
	struct sprep *p = arg;
	struct letter *lt = NULL;
	char  **via = NULL, date[HDR_DATE_LEN];
	uint64_t hoff;
	size_t  rlen;
	int     fd, rc;

	if ((fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(p->err, sizeof(p->err), "open 'queue/%s': %s", p->letter,
		    strerror(errno));
		return;
	}
	if ((lt = letter_open_fd(fd, NULL, p->err, sizeof(p->err))) == NULL)
		goto out;
	hoff = letter_hdr_offset(lt);
	if (sender_of(letter_hdr(lt), &p->sender, p->err, sizeof(p->err)) < 0) {
		p->perm = 1;
		goto out;
	}
	if (p->sender != NULL && smtp_addr_ok(p->sender, p->err, sizeof(p->err)) < 0) {
		p->perm = 1;
		goto out;
	}
	if (p->sender != NULL && p->tops[0]) {
		char    fixed[SMTP_ADDR_MAX + 1];

		if (rfc822_addr_fix(p->sender, p->tops, fixed, sizeof(fixed)) == 1) {
			free(p->sender);
			p->sender = xstrdup(fixed);
		}
	}
	if ((rc = scan(fd, hoff, p->letter, p->err, sizeof(p->err))) < 0) {
		p->perm = rc == -1;
		goto out;
	}
	via = hdr_via_hosts(letter_hdr(lt), NULL);
	if (hdr_date(p->now, date, sizeof(date)) == 0)
		date[0] = '\0';
	buf_init(&p->pre, SMTP_RECEIVED_MAX + 2 * (HDR_MAX + HDR_EDIT_SLACK));
	if (buf_printf(&p->pre, "Received: from %s by %s (niftpmail) id %s;\r\n\t%s\r\n",
	    via && via[0] ? via[0] : p->node, p->node, p->letter, date) < 0)
		log_panic("smtp: the Received: line does not fit");
	rlen = p->pre.len;
	if (rlen > SMTP_RECEIVED_MAX)
		log_panic("smtp: Received: line of %zu octets", rlen);
	/* RFC 733 forms made RFC 822: the header goes from memory, the
	 * body from the file; else all from the file */
	p->soff = hoff;
	if (header_822(&p->pre, letter_hdr(lt), p->tops[0] ? p->tops : NULL) == 1)
		p->soff = letter_body_offset(lt);
	p->ok = 1;
out:
	hdr_strv_free(via);
	if (lt)
		letter_free(lt);
	close(fd);
}

static void xfer_start(struct chsmtp *cs, struct sprep *p);

static void prep_done(void *arg)
{
	struct sprep *p = arg;
	struct chsmtp *cs = p->cs;

	cs->nprep--;
	cs->rd->jobs--;
	if (!p->ok) {
		p->h->active--;
		log_warn("'%s' to %s: %s", p->letter, p->h->name, p->err);
		all_result(cs, p->e, p->perm ? QOUT_FAIL : QOUT_DEFER, p->err);
		hop_pump(cs, p->h);
	} else
		xfer_start(cs, p);
	free(p->sender);
	buf_release(&p->pre);
	free(p);
}

/* --- a transaction ------------------------------------------------------------------- */

static void xfer_setopts(struct chsmtp *cs, struct sxfer *x)
{
	struct chan_smtp_settings st = settings(cs);
	CURL   *c = x->easy;

	(void) curl_easy_setopt(c, CURLOPT_URL, x->url);
	(void) curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp");
	(void) curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void) curl_easy_setopt(c, CURLOPT_PRIVATE, (char *) x);
	(void) curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	if (x->sender != NULL)
		(void) curl_easy_setopt(c, CURLOPT_MAIL_FROM, x->sender);
	(void) curl_easy_setopt(c, CURLOPT_MAIL_RCPT, x->rcpts);
	(void) curl_easy_setopt(c, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	(void) curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	(void) curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	(void) curl_easy_setopt(c, CURLOPT_READDATA, x);
	(void) curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	(void) curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
	(void) curl_easy_setopt(c, CURLOPT_DEBUGDATA, x);
	(void) curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long) (cs->rd->conf->connect_timeout_ms > 0 ? cs->rd->conf->connect_timeout_ms
	    : 10000));
	(void) curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT,
	    (long) ((st.timeout_ms + 999) / 1000));
	if (st.tls != CHAN_SMTP_TLS_NONE) {
		(void) curl_easy_setopt(c, CURLOPT_USE_SSL, st.tls == CHAN_SMTP_TLS_ENCRYPT
		    ? (long) CURLUSESSL_ALL : (long) CURLUSESSL_TRY);
		if (st.ca_file != NULL)
			(void) curl_easy_setopt(c, CURLOPT_CAINFO, st.ca_file);
		(void) curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, st.verify ? 1L : 0L);
		(void) curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, st.verify ? 2L : 0L);
	}
	if (st.username != NULL) {
		(void) curl_easy_setopt(c, CURLOPT_USERNAME, st.username);
		(void) curl_easy_setopt(c, CURLOPT_PASSWORD, st.password ? st.password : "");
	}
}

/* xfer_start - the letter can go: one transaction to h's current
 * alternate. Recipients that cannot go fail alone; with none left the
 * copy is answered at once. */
static void xfer_start(struct chsmtp *cs, struct sprep *p)
{
	struct qenv *e = p->e;
	struct shop *h = p->h;
	const struct route_hop *rh;
	struct sxfer *x;
	char    host[SMTP_HOST_MAX + 1], why[RELAYD_ERRLEN];
	unsigned port;
	size_t  i;

	rh = route_table_hop_by_name(cs->rd->conf->routes, h->name);
	if (rh == NULL || rh->nalts == 0 || rh->alts[0].channel != ROUTE_CH_SMTP) {
		h->active--;
		all_result(cs, e, QOUT_DEFER, "no smtp route for this next hop in the"
		    " configuration");
		return;
	}
	if (h->alt >= rh->nalts)
		h->alt = 0;
	x = xcalloc(1, sizeof(*x));
	x->cs = cs;
	x->h = h;
	x->e = e;
	x->fd = -1;
	x->sock = CURL_SOCKET_BAD;
	str_copy(x->addr, rh->alts[h->alt].addr, sizeof(x->addr));
	if (split_addr(x->addr, host, sizeof(host), &port, why, sizeof(why)) < 0)
		goto defer;
	snprintf(x->url, sizeof(x->url), strchr(host, ':') ? "smtp://[%s]:%u/%s"
	    : "smtp://%s:%u/%s", host, port, cs->rd->conf->name);
	x->bad = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof(char *));
	x->map = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof(size_t));
	for (i = 0; i < e->nrcpts; i++) {
		char    rb[SMTP_ADDR_MAX + 8], fixed[SMTP_ADDR_MAX + 1];
		const char *ra = e->rcpts[i].addr;

		if (e->rcpts[i].done)
			continue;
		if (smtp_addr_ok(ra, why, sizeof(why)) < 0) {
			x->bad[i] = xasprintf("not sent by smtp: %s", why);
			continue;
		}
		/* the domain order of the Internet (mailchannel/rfc822.h) */
		if (rfc822_addr_fix(ra, smtp_tops(cs), fixed, sizeof(fixed)) == 1)
			ra = fixed;
		snprintf(rb, sizeof(rb), "<%s>", ra);
		x->rcpts = curl_slist_append(x->rcpts, rb);
		if (x->rcpts == NULL)
			log_panic("smtp: curl_slist_append: out of memory");
		x->map[x->nmap++] = i;
	}
	if (p->sender != NULL)
		x->sender = xasprintf("<%s>", p->sender);
	x->pre = p->pre;		/* the buffer moves to x */
	buf_init(&p->pre, 0);
	x->soff = p->soff;
	x->off = p->soff;
	x->tx = smtp_tx_new();
	if (x->nmap == 0) {
		/* nothing to send: the bad ones fail */
		cs->nxfer++;
		xfer_done(x, CURLE_OK);
		return;
	}
	if ((x->fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, sizeof(why), "open 'queue/%s': %s", p->letter, strerror(errno));
		goto defer;
	}
	if ((x->easy = curl_easy_init()) == NULL) {
		snprintf(why, sizeof(why), "libcurl: curl_easy_init failed");
		goto defer;
	}
	xfer_setopts(cs, x);
	x->timeout_ms = settings(cs).timeout_ms;
	x->per_hop = settings(cs).max_per_hop;
	if (!h->th_running && hop_thread(h, why, sizeof(why)) < 0)
		goto defer;
	/* to the hop's thread; back through xfer_back() */
	cs->nxfer++;
	loop_post(h->loop, th_add, x);
	return;
defer:
	h->active--;
	log_warn("'%s' to %s: %s", e->l->name, h->name, why);
	xfer_free(x);
	all_result(cs, e, QOUT_DEFER, why);
}

/* hop_pump - start what the hop's limit allows */
static void hop_pump(struct chsmtp *cs, struct shop *h)
{
	struct relayd *rd = cs->rd;
	struct qenv *e;

	if (rd->stopping)
		return;
	while ((e = h->wait.head) != NULL && h->active < settings(cs).max_per_hop) {
		struct sprep *p = xcalloc(1, sizeof(*p));

		qenvq_del(e);
		h->active++;
		p->cs = cs;
		p->h = h;
		p->e = e;
		p->now = time(NULL);
		str_copy(p->letter, e->l->name, sizeof(p->letter));
		str_copy(p->node, rd->conf->name, sizeof(p->node));
		str_copy(p->tops, smtp_tops(cs), sizeof(p->tops));
		spool_path(rd->sp, SPOOL_QUEUE, e->l->name, p->path, sizeof(p->path));
		cs->nprep++;
		rd->jobs++;
		workq_submit(rd->wq, prep_work, prep_done, p);
	}
}

/* --- the channel interface ----------------------------------------------------------- */

static void *smtp_init(struct relayd *rd, char *err, size_t errlen)
{
	struct chsmtp *cs = xcalloc(1, sizeof(*cs));

	(void) err;
	(void) errlen;
	cs->rd = rd;
	return cs;
}

static void smtp_reload(void *self)
{
	(void) self;		/* transactions take the settings as they start */
}

static void smtp_start(void *self, struct qenv *e)
{
	struct chsmtp *cs = self;
	struct shop *h = hop_find(cs, e->hop);

	qenvq_add(&h->wait, e);
	hop_pump(cs, h);
}

/* smtp_take_back - e waits in its hop's wait list (no worker reads its
 * letter, no transaction): it can go back to the queue. One being
 * prepared or in a transaction stays. */
static int smtp_take_back(void *self, struct qenv *e)
{
	struct chsmtp *cs = self;
	struct shop *h;

	for (h = cs->hops; h != NULL; h = h->next)
		if (e->q == &h->wait) {
			qenvq_del(e);
			return 1;
		}
	return 0;
}

static int smtp_busy(const void *self)
{
	const struct chsmtp *cs = self;

	return cs->nxfer > 0 || cs->nprep > 0;
}

static void smtp_stop(void *self, int now)
{
	struct chsmtp *cs = self;
	struct shop *h;

	if (!now)
		return;		/* transactions finish on their own */
	/* cut them: each copy is deferred (a server discards a transaction
	 * that lacks its final "."); they come back through xfer_back() */
	for (h = cs->hops; h != NULL; h = h->next)
		if (h->th_running)
			loop_post(h->loop, th_cut, h);
}

static void smtp_free(void *self)
{
	struct chsmtp *cs = self;
	struct shop *h;

	if (cs == NULL)
		return;
	while ((h = cs->hops) != NULL) {
		if (h->th_running) {
			/* closes the cached connections (QUIT) on the hop's thread */
			loop_post(h->loop, th_quit, h);
			(void) pthread_join(h->th, NULL);
		}
		if (h->loop != NULL)
			loop_free(h->loop);
		while (h->wait.head != NULL)
			qenvq_del(h->wait.head);
		cs->hops = h->next;
		free(h->name);
		free(h);
	}
	free(cs);
}

/* Its configuration fields are chan_smtp_conf_ops's (relay/smtp_conf.c). */
const struct channel_ops chan_smtp_ops = {
	.name = "smtp",
	.init = smtp_init,
	.reload = smtp_reload,
	.start = smtp_start,
	.take_back = smtp_take_back,
	.busy = smtp_busy,
	.stop = smtp_stop,
	.free = smtp_free,
};
