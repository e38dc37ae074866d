/*++
 * NAME
 *	smtpsink 1
 * SUMMARY
 *	a scripted SMTP server that stores what it accepts (tests)
 * SYNOPSIS
 *	smtpsink --dir DIR --ready-file F [--listen ADDR] [--pipelining]
 *		[--reject CODE:WHO]... [--defer-times N] [--die-in-data N]
 *		[--drop-after-dot N] [--timeout S] [--max-time S]
 *		[--max-size N] [--max-conns N] [--hostile KIND:AT:WHO]...
 *		[--hostile silent] [--verbose]
 * DESCRIPTION
 *	Listens on ADDR (default tcp:127.0.0.1:0; port 0 picks a free one)
 *	and speaks enough SMTP (RFC 5321) for a client under test:
 *	EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, QUIT. Each accepted
 *	message becomes one file DIR/ID, ID being a queue id it invents,
 *	and the reply is "250 2.0.0 Ok: queued as ID". The file holds
 *	"X-Sink-Envelope-From: <FROM>" and one "X-Sink-Envelope-To: <TO>"
 *	line per accepted recipient (CRLF), then the message exactly as
 *	received after dot-unstuffing. It is written as DIR/.tmp.ID and
 *	renamed, so a file without a dot is always complete: count copies
 *	with "ls DIR".
 *
 *	Commands may be pipelined whether or not PIPELINING is advertised
 *	(--pipelining advertises it). Replies follow the usual Postfix
 *	wording and enhanced status codes.
 * .IP "--reject CODE:WHO"
 *	answer RCPT TO for WHO with CODE (a 4xx or 5xx): WHO is a whole
 *	address or a local part, compared without case. Repeatable.
 * .IP "--defer-times N"
 *	a 4xx rule applies only to the first N RCPTs it matches (over all
 *	connections); later ones are accepted. 0 (default): always.
 * .IP "--die-in-data N"
 *	the first N messages: close the connection (RST) as soon as the
 *	first octets of the message arrive; nothing is stored.
 * .IP "--drop-after-dot N"
 *	the first N messages: store the message, then close the
 *	connection (RST) without a reply (the client cannot know it was
 *	taken: the duplicate case of RFC 5321 6.1).
 * .IP "--timeout S"
 *	idle time of a connection before "421 4.4.2" and close (300).
 * .IP "--max-time S"
 *	the sink exits 0 by itself after S seconds (900).
 * .IP "--max-size N"
 *	largest message in octets (SIZE advertised; larger: 552), 64 MiB.
 * .IP "--max-conns N"
 *	connections served at once (16); more get 421 and are closed.
 * .IP "--hostile KIND:AT:WHO"
 *	a broken or hostile server for recipient WHO (matched as for
 *	--reject; repeatable). AT is "rcpt" (the reply to RCPT TO for
 *	WHO; the recipient is not accepted) or "data" (WHO is accepted,
 *	and the reply after the message of a transaction holding WHO is
 *	the hostile one). KIND:
 * .RS
 * .IP long
 *	one reply line of exactly 5,000 octets with its CRLF: at rcpt
 *	"450 4.2.0 <WHO>: xxx...", at data "250 2.0.0 Ok: queued as ID
 *	xxx..." (the message is stored).
 * .IP ctl
 *	a reply whose text holds ESC sequences, a NUL, a bare CR, BEL and
 *	DEL: at rcpt a 450, at data a 250 naming the queue id (stored).
 * .IP multi
 *	a multi-line reply whose code changes between lines: at rcpt
 *	"250-..." then "550 ...", at data "250-... queued as ID" then
 *	"451 ..." (nothing stored: the last line is the verdict).
 * .IP nonnum
 *	one line without a reply code ("Ok, ..."), then nothing more
 *	for that command: the client waits for a reply that never comes
 *	(at data nothing is stored).
 * .IP late
 *	a 554 sent 3 seconds late; until then the connection's input is
 *	read but not looked at, as by a server still busy with the
 *	command (at data nothing is stored). With a client timeout below
 *	3 s, the reply arrives after the client gave up.
 * .RE
 * .IP "--hostile silent"
 *	every connection gets the 220 greeting and then nothing: what the
 *	client sends is read and dropped.
 * .IP --verbose
 *	log every command line and reply (the first 120 octets, control
 *	octets as \xNN; with the minute, second and millisecond of the
 *	clock), not only the connection events.
 * .PP
 *	Bounded: a command line is at most 2048 octets (longer: 500), a
 *	transaction at most 10000 recipients (then 452), each connection
 *	holds one input and one output buffer of fixed size and stops
 *	reading while its replies are not taken. SIGTERM or SIGINT make it
 *	exit 0. Plain POSIX sockets; it shares no code with what it tests.
 * DIAGNOSTICS
 *	One line per connection event on stderr. Exit 0 on SIGTERM/SIGINT
 *	or --max-time, 1 on a start-up failure, 64 on a usage error.
 *--*/
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tests/tools/toolnet.h"

#define LINE_MAX_SINK	2048		/* command line octets */
#define IN_CAP		65536		/* input buffer per connection */
#define OUT_CAP		65536		/* output buffer per connection */
#define OUT_HIGH	(OUT_CAP / 2)	/* stop taking commands above this */
#define RCPT_MAX	10000		/* recipients per transaction */
#define PATH_CAP	1024		/* octets of a path kept */
#define RULES_MAX	64
#define HOSTILE_LINE	5000		/* octets of the "long" reply, CRLF included */
#define LATE_SECS	3		/* the "late" reply's delay */
#define LATE_CAP	512		/* octets of a held reply */
#define CONNS_MAX	256

enum data_st { D_BOL, D_MID, D_DOT, D_DOTCR, D_END };

struct rule {
	int	code;
	char	who[256];
	unsigned long hits;
};

enum hkind { H_LONG, H_CTL, H_MULTI, H_NONNUM, H_LATE };
enum hat { AT_RCPT, AT_DATA };

struct hostile {
	enum hkind kind;
	enum hat at;
	char	who[256];
};

static const char *const hkind_names[] = { "long", "ctl", "multi", "nonnum", "late", NULL };

struct conn {
	int	fd;			/* -1: free */
	unsigned id;
	int	helo, mail, in_data, quitting, skip;
	char	from[PATH_CAP];
	char  **rcpt;
	size_t	nrcpt;
	char	in[IN_CAP];
	size_t	inlen;
	char	out[OUT_CAP];
	size_t	outlen;
	double	last;
	double	late_at;		/* a held reply goes out then (0: none) */
	char	late[LATE_CAP];
	size_t	latelen;
	/* the message being received */
	enum data_st dst;
	int	tmpfd, toobig;
	char	qid[40], tmp[PATH_CAP + 64];
	unsigned long long size;
};

struct sink {
	const char *dir;
	struct rule rules[RULES_MAX];
	int	nrules;
	struct hostile hostile[RULES_MAX];
	int	nhostile, silent;
	unsigned long defer_times, die_in_data, drop_after_dot;
	double	timeout;
	unsigned long long max_size;
	int	pipelining, max_conns;
	unsigned conns, seq;
	struct conn *c;
};

static volatile sig_atomic_t stop_flag;
static int verbose;			/* --verbose; set once at start-up */

static void on_signal(int sig)
{
	(void) sig;
	stop_flag = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: smtpsink --dir DIR --ready-file F [--listen ADDR] [--pipelining] "
		"[--reject CODE:WHO]... [--defer-times N] [--die-in-data N] "
		"[--drop-after-dot N] [--timeout S] [--max-time S] [--max-size N] "
		"[--max-conns N] [--hostile KIND:AT:WHO]... [--hostile silent] [--verbose]\n");
	exit(64);
}

/* trace_line - with --verbose, one line on stderr: dir, then at most 120
 * octets of p, control octets as \xNN */
static void trace_line(const struct conn *c, const char *dir, const char *p, size_t n)
{
	struct timespec ts;
	size_t  i;

	if (!verbose)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "smtpsink: conn %u: %s ", c->id, dir);
	for (i = 0; i < n && i < 120; i++) {
		unsigned char ch = (unsigned char) p[i];

		if (ch < 0x20 || ch == 0x7f)
			fprintf(stderr, "\\x%02x", ch);
		else
			fputc(ch, stderr);
	}
	fprintf(stderr, "%s (%zu octets, %02ld:%02ld.%03ld)\n", n > 120 ? "..." : "", n,
	    (long) (ts.tv_sec / 60 % 60), (long) (ts.tv_sec % 60), ts.tv_nsec / 1000000);
}

/* reply_n - queue n octets of reply (NULs allowed); the connection is
 * closed when it cannot hold them */
static void reply_n(struct conn *c, const char *text, size_t n)
{
	if (c->fd < 0)
		return;
	trace_line(c, ">", text, n);
	if (n > OUT_CAP - c->outlen) {
		fprintf(stderr, "smtpsink: conn %u: output buffer full, closing\n", c->id);
		c->quitting = 1;
		return;
	}
	memcpy(c->out + c->outlen, text, n);
	c->outlen += n;
}

/* reply - queue a reply (a C string) */
static void reply(struct conn *c, const char *text)
{
	reply_n(c, text, strlen(text));
}

/* tx_clear - forget the transaction (and any message being received) */
static void tx_clear(struct conn *c)
{
	size_t  i;

	for (i = 0; i < c->nrcpt; i++)
		free(c->rcpt[i]);
	free(c->rcpt);
	c->rcpt = NULL;
	c->nrcpt = 0;
	c->mail = 0;
	c->from[0] = '\0';
	if (c->tmpfd >= 0) {
		close(c->tmpfd);
		(void) unlink(c->tmp);
		c->tmpfd = -1;
	}
	c->in_data = 0;
}

/* conn_end - close a connection, abruptly when rst */
static void conn_end(struct conn *c, int rst, const char *why)
{
	fprintf(stderr, "smtpsink: conn %u: closed: %s\n", c->id, why);
	tx_clear(c);
	if (rst)
		tn_rst_close(c->fd);
	else
		close(c->fd);
	c->fd = -1;
}

/* path_arg - the path of "MAIL FROM:<x> ..." / "RCPT TO:<x> ...": 0 or -1 */
static int path_arg(const char *line, size_t skip, char *out, size_t outlen)
{
	const char *p = line + skip, *gt;

	while (*p == ' ')
		p++;
	if (*p != '<' || (gt = strchr(p, '>')) == NULL)
		return -1;
	return tn_copy(out, outlen, p + 1, (size_t) (gt - p - 1));
}

/* who_is - does rule address or local part who name addr (any case)? */
static int who_is(const char *who, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t  llen = at ? (size_t) (at - addr) : strlen(addr);

	return strcasecmp(who, addr) == 0
	    || (strlen(who) == llen && strncasecmp(who, addr, llen) == 0);
}

/* hostile_for - the --hostile rule of point at for addr, or NULL */
static const struct hostile *hostile_for(const struct sink *s, enum hat at, const char *addr)
{
	int     i;

	for (i = 0; i < s->nhostile; i++)
		if (s->hostile[i].at == at && who_is(s->hostile[i].who, addr))
			return &s->hostile[i];
	return NULL;
}

/* hostile_reply - queue (or, for "late", hold) the reply of rule h for
 * recipient who (qid: the message's id at data, else NULL) */
static void hostile_reply(struct conn *c, const struct hostile *h, const char *who,
	const char *qid)
{
	/* ESC [ 2 J (clear screen), an OSC title ended by BEL, NUL, bare CR, DEL */
	static const char ctl[] = "\033[2J\033]0;pwned\007 nul<\000> cr<\r> del<\177>";
	char    b[HOSTILE_LINE + 600];
	int     n;

	switch (h->kind) {
	case H_LONG:
		n = h->at == AT_RCPT
		    ? snprintf(b, sizeof(b), "450 4.2.0 <%.200s>: ", who)
		    : snprintf(b, sizeof(b), "250 2.0.0 Ok: queued as %s ", qid);
		memset(b + n, 'x', (size_t) (HOSTILE_LINE - 2 - n));
		memcpy(b + HOSTILE_LINE - 2, "\r\n", 2);
		n = HOSTILE_LINE;
		break;
	case H_CTL:
		n = h->at == AT_RCPT
		    ? snprintf(b, sizeof(b), "450 4.2.0 <%.200s>: ", who)
		    : snprintf(b, sizeof(b), "250 2.0.0 Ok: queued as %s ", qid);
		memcpy(b + n, ctl, sizeof(ctl) - 1);
		n += (int) sizeof(ctl) - 1;
		memcpy(b + n, "\r\n", 2);
		n += 2;
		break;
	case H_MULTI:
		n = h->at == AT_RCPT
		    ? snprintf(b, sizeof(b), "250-2.1.5 <%.200s> Ok\r\n550 5.1.1 <%.200s>: on "
			"second thought, no such user\r\n", who, who)
		    : snprintf(b, sizeof(b), "250-2.0.0 Ok: queued as %s\r\n451 4.3.0 on second "
			"thought, not queued\r\n", qid);
		break;
	case H_LATE:
		n = h->at == AT_RCPT
		    ? snprintf(b, sizeof(b), "554 5.7.1 <%.200s>: rejected, after some thought\r\n",
			who)
		    : snprintf(b, sizeof(b), "554 5.7.1 message %s rejected, after some "
			"thought\r\n", qid);
		if (n >= LATE_CAP)
			n = LATE_CAP - 1;
		memcpy(c->late, b, (size_t) n);
		c->latelen = (size_t) n;
		c->late_at = tn_now() + LATE_SECS;
		fprintf(stderr, "smtpsink: conn %u: %s: hostile reply late (in %d s)\n", c->id,
		    h->at == AT_RCPT ? "RCPT" : "end of data", LATE_SECS);
		return;
	case H_NONNUM:
	default:
		n = h->at == AT_RCPT
		    ? snprintf(b, sizeof(b), "Ok, <%.200s> is welcome here\r\n", who)
		    : snprintf(b, sizeof(b), "Queued as %s, thank you\r\n", qid);
		break;
	}
	fprintf(stderr, "smtpsink: conn %u: %s: hostile reply %s (%d octets)\n", c->id,
	    h->at == AT_RCPT ? "RCPT" : "end of data", hkind_names[h->kind], n);
	reply_n(c, b, (size_t) n);
}

/* rule_for - the rule that refuses addr now, or NULL */
static struct rule *rule_for(struct sink *s, const char *addr)
{
	int     i;

	for (i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];

		if (!who_is(r->who, addr))
			continue;
		if (r->code / 100 == 4 && s->defer_times > 0 && r->hits >= s->defer_times)
			continue;
		r->hits++;
		return r;
	}
	return NULL;
}

/* put - message octets to the temporary file, counting the size; 0 or -1 */
static int put(struct sink *s, struct conn *c, const char *p, size_t n)
{
	c->size += n;
	if (c->toobig || c->size > s->max_size) {
		c->toobig = 1;
		return 0;
	}
	return tn_write_all(c->tmpfd, p, n);
}

/* data_start - open the message file with its envelope lines; 0 or -1 */
static int data_start(struct sink *s, struct conn *c)
{
	char    line[PATH_CAP + 64];
	size_t  i;
	int     n;

	snprintf(c->qid, sizeof(c->qid), "%08lX%04lX%06X", (unsigned long) time(NULL),
		(unsigned long) getpid() & 0xffff, ++s->seq & 0xffffff);
	snprintf(c->tmp, sizeof(c->tmp), "%s/.tmp.%s", s->dir, c->qid);
	c->tmpfd = open(c->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (c->tmpfd < 0) {
		fprintf(stderr, "smtpsink: create '%s': %s\n", c->tmp, strerror(errno));
		return -1;
	}
	c->size = 0;
	c->toobig = 0;
	c->dst = D_BOL;
	n = snprintf(line, sizeof(line), "X-Sink-Envelope-From: <%s>\r\n", c->from);
	if (tn_write_all(c->tmpfd, line, (size_t) n) < 0)
		return -1;
	for (i = 0; i < c->nrcpt; i++) {
		n = snprintf(line, sizeof(line), "X-Sink-Envelope-To: <%s>\r\n", c->rcpt[i]);
		if (tn_write_all(c->tmpfd, line, (size_t) n) < 0)
			return -1;
	}
	return 0;
}

/* data_end - the end mark came: store or refuse the message */
static void data_end(struct sink *s, struct conn *c)
{
	char    path[PATH_CAP + 64], text[128];
	const struct hostile *h = NULL;
	size_t  i;
	int     rc = 0;

	for (i = 0; i < c->nrcpt && h == NULL; i++)
		h = hostile_for(s, AT_DATA, c->rcpt[i]);
	snprintf(path, sizeof(path), "%s/%s", s->dir, c->qid);
	if (h != NULL && (h->kind == H_MULTI || h->kind == H_NONNUM || h->kind == H_LATE)) {
		/* a reply that is no "yes": nothing is kept */
		hostile_reply(c, h, h->who, c->qid);
		tx_clear(c);
		return;
	}
	if (c->toobig) {
		reply(c, "552 5.3.4 Error: message file too big\r\n");
		fprintf(stderr, "smtpsink: conn %u: message of %llu octets refused\n", c->id,
			c->size);
		tx_clear(c);
		return;
	}
	if (fsync(c->tmpfd) < 0)
		rc = -1;
	if (close(c->tmpfd) < 0)
		rc = -1;
	c->tmpfd = -1;
	if (rc < 0 || rename(c->tmp, path) < 0) {
		fprintf(stderr, "smtpsink: store '%s': %s\n", path, strerror(errno));
		(void) unlink(c->tmp);
		reply(c, "451 4.3.0 Error: queue file write error\r\n");
		tx_clear(c);
		return;
	}
	fprintf(stderr, "smtpsink: conn %u: queued as %s: from <%s>, %zu recipients, "
		"%llu octets\n", c->id, c->qid, c->from, c->nrcpt, c->size);
	tx_clear(c);
	if (s->drop_after_dot > 0) {
		s->drop_after_dot--;
		conn_end(c, 1, "dropped after the final dot (--drop-after-dot)");
		return;
	}
	if (h != NULL) {
		hostile_reply(c, h, h->who, c->qid);
		return;
	}
	snprintf(text, sizeof(text), "250 2.0.0 Ok: queued as %s\r\n", c->qid);
	reply(c, text);
}

/* data_bytes - take message octets up to the end mark; octets consumed, or
 * -1 when the connection was closed or the file failed */
static long data_bytes(struct sink *s, struct conn *c, const char *p, size_t n)
{
	size_t  i, run = 0;	/* run: octets p[i-run..i) to copy as they are */

	if (n > 0 && s->die_in_data > 0) {
		s->die_in_data--;
		conn_end(c, 1, "died in the middle of DATA (--die-in-data)");
		return -1;
	}
	for (i = 0; i < n && c->dst != D_END; i++) {
		char    ch = p[i];

		switch (c->dst) {
		case D_BOL:
			if (ch == '.') {
				if (put(s, c, p + i - run, run) < 0)
					goto fail;
				run = 0;
				c->dst = D_DOT;
				continue;
			}
			c->dst = ch == '\n' ? D_BOL : D_MID;
			break;
		case D_MID:
			if (ch == '\n')
				c->dst = D_BOL;
			break;
		case D_DOT:
			if (ch == '\r') {
				c->dst = D_DOTCR;
				continue;
			}
			if (ch == '\n') {
				c->dst = D_END;
				continue;
			}
			c->dst = D_MID;	/* the leading dot is dropped (RFC 5321 4.5.2) */
			break;
		case D_DOTCR:
			if (ch == '\n') {
				c->dst = D_END;
				continue;
			}
			if (put(s, c, "\r", 1) < 0)
				goto fail;
			c->dst = D_MID;
			break;
		case D_END:
			break;
		}
		run++;
	}
	if (put(s, c, p + i - run, run) < 0)
		goto fail;
	if (c->dst == D_END)
		data_end(s, c);
	return (long) i;
fail:
	fprintf(stderr, "smtpsink: write '%s': %s\n", c->tmp, strerror(errno));
	conn_end(c, 0, "message file write error");
	return -1;
}

/* command - one command line (CRLF removed) */
static void command(struct sink *s, struct conn *c, char *line)
{
	char    path[PATH_CAP], text[PATH_CAP + 128];
	const struct hostile *h;
	struct rule *r;

	if (strncasecmp(line, "EHLO", 4) == 0 && (line[4] == ' ' || line[4] == '\0')) {
		tx_clear(c);
		c->helo = 1;
		snprintf(text, sizeof(text), "250-smtpsink\r\n%s250-SIZE %llu\r\n"
			"250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n",
			s->pipelining ? "250-PIPELINING\r\n" : "", s->max_size);
		reply(c, text);
	} else if (strncasecmp(line, "HELO", 4) == 0 && (line[4] == ' ' || line[4] == '\0')) {
		tx_clear(c);
		c->helo = 1;
		reply(c, "250 smtpsink\r\n");
	} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
		if (!c->helo)
			reply(c, "503 5.5.1 Error: send HELO/EHLO first\r\n");
		else if (c->mail)
			reply(c, "503 5.5.1 Error: nested MAIL command\r\n");
		else if (path_arg(line, 10, c->from, sizeof(c->from)) < 0)
			reply(c, "501 5.1.7 Bad sender address syntax\r\n");
		else {
			c->mail = 1;
			reply(c, "250 2.1.0 Ok\r\n");
		}
	} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
		if (!c->mail)
			reply(c, "503 5.5.1 Error: need MAIL command\r\n");
		else if (path_arg(line, 8, path, sizeof(path)) < 0 || path[0] == '\0')
			reply(c, "501 5.1.3 Bad recipient address syntax\r\n");
		else if (c->nrcpt >= RCPT_MAX)
			reply(c, "452 4.5.3 Error: too many recipients\r\n");
		else if ((h = hostile_for(s, AT_RCPT, path)) != NULL)
			hostile_reply(c, h, path, NULL);
		else if ((r = rule_for(s, path)) != NULL) {
			snprintf(text, sizeof(text), "%d %s <%s>: Recipient address rejected: %s\r\n",
				r->code, r->code / 100 == 5 ? "5.1.1" : "4.2.0", path,
				r->code / 100 == 5 ? "User unknown" : "Try again later");
			fprintf(stderr, "smtpsink: conn %u: RCPT <%s>: %d\n", c->id, path, r->code);
			reply(c, text);
		} else {
			c->rcpt = realloc(c->rcpt, (c->nrcpt + 1) * sizeof(*c->rcpt));
			if (c->rcpt == NULL || (c->rcpt[c->nrcpt] = strdup(path)) == NULL) {
				fprintf(stderr, "smtpsink: out of memory\n");
				exit(1);
			}
			c->nrcpt++;
			reply(c, "250 2.1.5 Ok\r\n");
		}
	} else if (strcasecmp(line, "DATA") == 0) {
		if (!c->mail)
			reply(c, "503 5.5.1 Error: need MAIL command\r\n");
		else if (c->nrcpt == 0)
			reply(c, "554 5.5.1 Error: no valid recipients\r\n");
		else if (data_start(s, c) < 0) {
			tx_clear(c);
			reply(c, "451 4.3.0 Error: queue file write error\r\n");
		} else {
			c->in_data = 1;
			reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
		}
	} else if (strcasecmp(line, "RSET") == 0) {
		tx_clear(c);
		reply(c, "250 2.0.0 Ok\r\n");
	} else if (strncasecmp(line, "NOOP", 4) == 0) {
		reply(c, "250 2.0.0 Ok\r\n");
	} else if (strncasecmp(line, "VRFY", 4) == 0) {
		reply(c, "252 2.0.0 Cannot VRFY\r\n");
	} else if (strcasecmp(line, "QUIT") == 0) {
		reply(c, "221 2.0.0 Bye\r\n");
		c->quitting = 1;
	} else {
		reply(c, "502 5.5.2 Error: command not recognized\r\n");
	}
}

/* consume - take buffered input while replies can be queued */
static void consume(struct sink *s, struct conn *c)
{
	size_t  off = 0;

	while (c->fd >= 0 && !c->quitting && c->late_at == 0 && off < c->inlen
	    && c->outlen < OUT_HIGH) {
		if (c->in_data) {
			long    n = data_bytes(s, c, c->in + off, c->inlen - off);

			if (n < 0)
				return;
			off += (size_t) n;
			continue;
		} else {
			char   *lf = memchr(c->in + off, '\n', c->inlen - off);
			size_t  len;

			if (lf == NULL) {
				if (c->inlen - off > LINE_MAX_SINK) {
					c->skip = 1;	/* drop it, answer at its end */
					off = c->inlen;
				}
				break;
			}
			len = (size_t) (lf - (c->in + off));
			*lf = '\0';
			if (len > 0 && c->in[off + len - 1] == '\r')
				c->in[off + len - 1] = '\0';
			if (c->skip || len > LINE_MAX_SINK) {
				c->skip = 0;
				reply(c, "500 5.5.0 Error: line too long\r\n");
			} else if (memchr(c->in + off, '\0', len) != NULL
			    && strlen(c->in + off) + 1 < len) {
				reply(c, "500 5.5.2 Error: bad syntax\r\n");
			} else {
				trace_line(c, "<", c->in + off, strlen(c->in + off));
				command(s, c, c->in + off);
			}
			off += len + 1;
		}
	}
	if (c->fd >= 0 && off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
}

/* conn_read - read what is there and consume it */
static void conn_read(struct sink *s, struct conn *c)
{
	ssize_t n;

	n = read(c->fd, c->in + c->inlen, IN_CAP - c->inlen);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		conn_end(c, 0, n == 0 ? (c->in_data ? "client gone in DATA" : "client closed")
			: strerror(errno));
		return;
	}
	c->last = tn_now();
	if (s->silent) {
		/* --hostile silent: the greeting was all */
		fprintf(stderr, "smtpsink: conn %u: %zd octets dropped unanswered (silent)\n",
		    c->id, n);
		return;
	}
	c->inlen += (size_t) n;
	consume(s, c);
}

/* conn_write - send queued replies; close after QUIT once all is sent */
static void conn_write(struct sink *s, struct conn *c)
{
	size_t  off = 0;

	while (off < c->outlen) {
		ssize_t n = write(c->fd, c->out + off, c->outlen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_end(c, 1, "write failed");
			return;
		}
		off += (size_t) n;
	}
	memmove(c->out, c->out + off, c->outlen - off);
	c->outlen -= off;
	if (c->quitting && c->outlen == 0) {
		conn_end(c, 0, "quit");
		return;
	}
	/* input held back while the replies were pending */
	if (c->outlen < OUT_HIGH && c->inlen > 0 && !c->quitting)
		consume(s, c);
}

/* accept_one - take a new connection */
static void accept_one(struct sink *s, int lfd)
{
	int     fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), i;
	struct conn *c = NULL;

	if (fd < 0)
		return;
	for (i = 0; i < s->max_conns; i++)
		if (s->c[i].fd < 0) {
			c = &s->c[i];
			break;
		}
	s->conns++;
	if (c == NULL) {
		static const char busy[] = "421 4.3.2 smtpsink Error: too many connections\r\n";

		(void) !write(fd, busy, sizeof(busy) - 1);
		close(fd);
		fprintf(stderr, "smtpsink: conn %u: refused: too many connections\n", s->conns);
		return;
	}
	memset(c, 0, offsetof(struct conn, in));
	c->fd = fd;
	c->id = s->conns;
	c->tmpfd = -1;
	c->inlen = c->outlen = 0;
	c->last = tn_now();
	fprintf(stderr, "smtpsink: conn %u: accepted\n", c->id);
	reply(c, "220 smtpsink ESMTP\r\n");
}

int main(int argc, char **argv)
{
	struct sink s;
	struct tn_addr la;
	const char *listen_s = "tcp:127.0.0.1:0", *ready = NULL;
	char    bound[300], err[512], text[320];
	double  max_time = 900, start;
	struct sigaction sa;
	struct pollfd *pfd;
	uint64_t v;
	int     lfd, i;

	memset(&s, 0, sizeof(s));
	s.timeout = 300;
	s.max_size = 64ULL << 20;
	s.max_conns = 16;
	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--pipelining") == 0) {
			s.pipelining = 1;
			continue;
		}
		if (strcmp(o, "--verbose") == 0) {
			verbose = 1;
			continue;
		}
		if (a == NULL)
			usage();
		i++;
		if (strcmp(o, "--dir") == 0)
			s.dir = a;
		else if (strcmp(o, "--ready-file") == 0)
			ready = a;
		else if (strcmp(o, "--listen") == 0)
			listen_s = a;
		else if (strcmp(o, "--reject") == 0) {
			const char *colon = strchr(a, ':');
			struct rule *r = &s.rules[s.nrules];

			if (s.nrules >= RULES_MAX || colon == NULL || colon - a != 3
			    || tn_copy(r->who, sizeof(r->who), colon + 1, strlen(colon + 1)) < 0
			    || r->who[0] == '\0')
				usage();
			r->code = (a[0] - '0') * 100 + (a[1] - '0') * 10 + (a[2] - '0');
			if (a[0] < '4' || a[0] > '5' || a[1] < '0' || a[1] > '9' || a[2] < '0'
			    || a[2] > '9')
				usage();
			s.nrules++;
		} else if (strcmp(o, "--hostile") == 0) {
			struct hostile *h = &s.hostile[s.nhostile];
			const char *c1 = strchr(a, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			int     k;

			if (strcmp(a, "silent") == 0) {
				s.silent = 1;
				continue;
			}
			if (s.nhostile >= RULES_MAX || c1 == NULL || c2 == NULL)
				usage();
			for (k = 0; hkind_names[k] != NULL; k++)
				if (strlen(hkind_names[k]) == (size_t) (c1 - a)
				    && strncmp(hkind_names[k], a, (size_t) (c1 - a)) == 0)
					break;
			if (hkind_names[k] == NULL)
				usage();
			h->kind = (enum hkind) k;
			if (c2 - c1 - 1 == 4 && strncmp(c1 + 1, "rcpt", 4) == 0)
				h->at = AT_RCPT;
			else if (c2 - c1 - 1 == 4 && strncmp(c1 + 1, "data", 4) == 0)
				h->at = AT_DATA;
			else
				usage();
			if (tn_copy(h->who, sizeof(h->who), c2 + 1, strlen(c2 + 1)) < 0
			    || h->who[0] == '\0')
				usage();
			s.nhostile++;
		} else if (strcmp(o, "--defer-times") == 0) {
			if (tn_parse_u64(a, 0, 1000000, &v) < 0)
				usage();
			s.defer_times = (unsigned long) v;
		} else if (strcmp(o, "--die-in-data") == 0) {
			if (tn_parse_u64(a, 0, 1000000, &v) < 0)
				usage();
			s.die_in_data = (unsigned long) v;
		} else if (strcmp(o, "--drop-after-dot") == 0) {
			if (tn_parse_u64(a, 0, 1000000, &v) < 0)
				usage();
			s.drop_after_dot = (unsigned long) v;
		} else if (strcmp(o, "--timeout") == 0) {
			if (tn_parse_u64(a, 1, 86400, &v) < 0)
				usage();
			s.timeout = (double) v;
		} else if (strcmp(o, "--max-time") == 0) {
			if (tn_parse_u64(a, 1, 86400, &v) < 0)
				usage();
			max_time = (double) v;
		} else if (strcmp(o, "--max-size") == 0) {
			if (tn_parse_u64(a, 1, 1ULL << 40, &v) < 0)
				usage();
			s.max_size = v;
		} else if (strcmp(o, "--max-conns") == 0) {
			if (tn_parse_u64(a, 1, CONNS_MAX, &v) < 0)
				usage();
			s.max_conns = (int) v;
		} else
			usage();
	}
	if (s.dir == NULL || ready == NULL || strlen(s.dir) > PATH_CAP - 1)
		usage();
	if (tn_parse_addr(listen_s, &la, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsink: %s\n", err);
		return 64;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	s.c = calloc((size_t) s.max_conns, sizeof(*s.c));
	pfd = calloc((size_t) s.max_conns + 1, sizeof(*pfd));
	if (s.c == NULL || pfd == NULL) {
		fprintf(stderr, "smtpsink: out of memory\n");
		return 1;
	}
	for (i = 0; i < s.max_conns; i++)
		s.c[i].fd = s.c[i].tmpfd = -1;
	lfd = tn_listen(&la, 64, bound, sizeof(bound), err, sizeof(err));
	if (lfd < 0) {
		fprintf(stderr, "smtpsink: %s\n", err);
		return 1;
	}
	(void) tn_set_nonblock(lfd, 1);
	snprintf(text, sizeof(text), "%s\n", bound);
	if (tn_write_file_atomic(ready, text, err, sizeof(err)) < 0) {
		fprintf(stderr, "smtpsink: %s\n", err);
		return 1;
	}
	fprintf(stderr, "smtpsink: listening on %s, storing in %s\n", bound, s.dir);
	start = tn_now();
	while (!stop_flag && tn_now() - start < max_time) {
		double  now;

		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < s.max_conns; i++) {
			struct conn *c = &s.c[i];

			pfd[i + 1].fd = c->fd;
			pfd[i + 1].events = 0;
			if (c->fd < 0)
				continue;
			if (c->outlen > 0)
				pfd[i + 1].events |= POLLOUT;
			if (c->inlen < IN_CAP && c->outlen < OUT_HIGH && !c->quitting)
				pfd[i + 1].events |= POLLIN;
		}
		if (poll(pfd, (nfds_t) s.max_conns + 1, 1000) < 0 && errno != EINTR) {
			fprintf(stderr, "smtpsink: poll: %s\n", strerror(errno));
			return 1;
		}
		if (pfd[0].revents & POLLIN)
			accept_one(&s, lfd);
		now = tn_now();
		for (i = 0; i < s.max_conns; i++) {
			struct conn *c = &s.c[i];

			if (c->fd < 0 || pfd[i + 1].fd != c->fd)
				continue;
			if (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(&s, c);
			if (c->fd >= 0 && c->late_at > 0 && now >= c->late_at) {
				/* --hostile late: the held reply, then what waited */
				c->late_at = 0;
				reply_n(c, c->late, c->latelen);
				consume(&s, c);
			}
			if (c->fd >= 0 && c->outlen > 0)
				conn_write(&s, c);
			if (c->fd >= 0 && c->quitting && c->outlen == 0)
				conn_end(c, 0, "quit");
			if (c->fd >= 0 && now - c->last > s.timeout) {
				reply(c, "421 4.4.2 smtpsink Error: timeout exceeded\r\n");
				(void) !write(c->fd, c->out, c->outlen);
				conn_end(c, 0, "idle timeout");
			}
		}
	}
	for (i = 0; i < s.max_conns; i++)
		if (s.c[i].fd >= 0)
			conn_end(&s.c[i], 0, "sink stopping");
	close(lfd);
	free(s.c);
	free(pfd);
	fprintf(stderr, "smtpsink: stopped after %u connections\n", s.conns);
	return 0;
}
