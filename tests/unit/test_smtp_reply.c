/*++
 * NAME
 *	test_smtp_reply 1
 * SUMMARY
 *	CUnit tests of relay/smtp_reply: pairing SMTP replies with commands
 * SYNOPSIS
 *	build/tests/test_smtp_reply
 * DESCRIPTION
 *	Each transcript is written as lines "> command" (sent, what
 *	CURLINFO_HEADER_OUT shows) and "< reply" (received, what
 *	CURLINFO_HEADER_IN shows), each given CRLF, and is fed three ways:
 *	runs of lines of one direction at once, octet by octet, and in
 *	pieces of 3 octets; every way must give the same results. Cases:
 *	one command at a time and pipelined, multi-line replies, 550 and
 *	450 per recipient, every recipient refused, DATA refused, the final
 *	"queued as" reply, libcurl's short end-of-data write, a reused
 *	connection, AUTH, stale replies after RSET, garbage, the caps, and
 *	smtp_addr_ok().
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "relay/smtp_reply.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"

enum { FEED_RUNS, FEED_OCTETS, FEED_THREES, FEED_NWAYS };

/* feed_chunk - n octets of one direction in the given way */
static void feed_chunk(struct smtp_tx *tx, int sent, const char *p, size_t n, int way)
{
	size_t  step = way == FEED_OCTETS ? 1 : way == FEED_THREES ? 3 : n;
	size_t  off;

	if (n == 0)
		return;
	for (off = 0; off < n; off += step)
		smtp_tx_feed(tx, sent, p + off, off + step <= n ? step : n - off);
}

/* feed_script - feed "> cmd" / "< reply" lines (LF-separated, CRLF added) */
static void feed_script(struct smtp_tx *tx, const char *script, int way)
{
	char   *run = xmalloc(strlen(script) * 2 + 8);
	size_t  rlen = 0;
	int     dir = -1;
	const char *p = script;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t  len = eol ? (size_t) (eol - p) : strlen(p);
		int     sent;

		if (len >= 2 && (p[0] == '>' || p[0] == '<') && p[1] == ' ') {
			sent = p[0] == '>';
			if (sent != dir) {
				if (dir >= 0)
					feed_chunk(tx, dir, run, rlen, way);
				rlen = 0;
				dir = sent;
			}
			memcpy(run + rlen, p + 2, len - 2);
			rlen += len - 2;
			run[rlen++] = '\r';
			run[rlen++] = '\n';
		}
		p += len + (eol ? 1 : 0);
	}
	if (dir >= 0)
		feed_chunk(tx, dir, run, rlen, way);
	free(run);
}

/* What a transcript must give. */
struct want {
	int	greeting, hello, mail, data, final, last;
	const char *final_text;
	size_t	nrcpt;
	int	rcpt[4];
	const char *addr[4];
	int	outcome[4];
	int	desync;
	unsigned long garbage;
};

/* check - feed script every way and compare with w */
static void check(const char *name, const char *script, const struct want *w)
{
	int     way;
	size_t  i;

	for (way = 0; way < FEED_NWAYS; way++) {
		struct smtp_tx *tx = smtp_tx_new();
		unsigned before = CU_get_number_of_failures();
		const char *t;

		feed_script(tx, script, way);
		EXPECT_INT(smtp_tx_code(tx, SMTP_GREETING, NULL), w->greeting);
		EXPECT_INT(smtp_tx_code(tx, SMTP_HELLO, NULL), w->hello);
		EXPECT_INT(smtp_tx_code(tx, SMTP_MAIL, NULL), w->mail);
		EXPECT_INT(smtp_tx_code(tx, SMTP_DATA, NULL), w->data);
		EXPECT_INT(smtp_tx_code(tx, SMTP_FINAL, &t), w->final);
		if (w->final_text)
			EXPECT_STR(t, w->final_text);
		EXPECT_INT(smtp_tx_code(tx, SMTP_LAST, NULL), w->last);
		EXPECT_INT(smtp_tx_nrcpt(tx), w->nrcpt);
		for (i = 0; i < w->nrcpt && i < 4; i++) {
			EXPECT_INT(smtp_tx_rcpt_code(tx, i, NULL), w->rcpt[i]);
			EXPECT_STR(smtp_tx_rcpt_addr(tx, i), w->addr[i]);
			EXPECT_INT(smtp_tx_outcome(tx, i, NULL, NULL), w->outcome[i]);
		}
		EXPECT_INT(smtp_tx_desync(tx), w->desync);
		EXPECT_INT(smtp_tx_garbage(tx), w->garbage);
		if (CU_get_number_of_failures() != before)
			fprintf(stderr, "  (in \"%s\", fed %s)\n", name,
			    way == FEED_RUNS ? "in runs" : way == FEED_OCTETS ? "octet by octet"
			    : "3 octets at a time");
		smtp_tx_free(tx);
	}
}

static const char one_at_a_time[] =
	"< 220 mx.example ESMTP\n"
	"> EHLO node\n"
	"< 250-mx.example\n< 250-PIPELINING\n< 250-SIZE 10240000\n< 250 8BITMIME\n"
	"> MAIL FROM:<bennett@ucl>\n< 250 2.1.0 Ok\n"
	"> RCPT TO:<a@example.org>\n< 250 2.1.5 Ok\n"
	"> RCPT TO:<b@example.org>\n"
	"< 550-5.1.1 <b@example.org>: Recipient address rejected:\n"
	"< 550 5.1.1 User unknown in virtual mailbox table\n"
	"> RCPT TO:<c@example.org>\n< 450 4.2.0 <c@example.org>: Recipient address rejected: Greylisted\n"
	"> DATA\n< 354 End data with <CR><LF>.<CR><LF>\n"
	"< 250 2.0.0 Ok: queued as 4QbXyZ1m2Kz9\n"
	"> QUIT\n< 221 2.0.0 Bye\n";

static const char pipelined[] =
	"< 220 mx.example ESMTP\n"
	"> EHLO node\n"
	"< 250-mx.example\n< 250 PIPELINING\n"
	"> MAIL FROM:<bennett@ucl>\n> RCPT TO:<a@example.org>\n> RCPT TO:<b@example.org>\n"
	"> RCPT TO:<c@example.org>\n> DATA\n"
	"< 250 2.1.0 Ok\n< 250 2.1.5 Ok\n< 550 5.1.1 unknown\n< 450 4.2.0 later\n"
	"< 354 go ahead\n"
	"< 250 2.0.0 Ok: queued as 4QbXyZ1m2Kz9\n";

static void test_sequences(void)
{
	struct want w = {
		220, 250, 250, 354, 250, 221, "2.0.0 Ok: queued as 4QbXyZ1m2Kz9", 3,
		{ 250, 550, 450 }, { "a@example.org", "b@example.org", "c@example.org" },
		{ SMTP_SENT, SMTP_FAIL, SMTP_DEFER }, 0, 0
	};
	struct smtp_tx *tx;
	const char *t;
	int     code;

	check("one at a time", one_at_a_time, &w);
	w.last = 250;
	check("pipelined", pipelined, &w);

	/* texts: multi-line joined by "\n", codes dropped */
	tx = smtp_tx_new();
	feed_script(tx, one_at_a_time, FEED_OCTETS);
	EXPECT_INT(smtp_tx_code(tx, SMTP_HELLO, &t), 250);
	EXPECT_STR(t, "mx.example\nPIPELINING\nSIZE 10240000\n8BITMIME");
	EXPECT_INT(smtp_tx_rcpt_code(tx, 1, &t), 550);
	EXPECT_STR(t, "5.1.1 <b@example.org>: Recipient address rejected:\n"
	    "5.1.1 User unknown in virtual mailbox table");
	EXPECT_INT(smtp_tx_outcome(tx, 2, &code, &t), SMTP_DEFER);
	EXPECT_INT(code, 450);
	EXPECT_HAS(t, "Greylisted");
	EXPECT_INT(smtp_tx_outcome(tx, 0, &code, &t), SMTP_SENT);
	EXPECT_INT(code, 250);
	EXPECT_HAS(t, "queued as 4QbXyZ1m2Kz9");
	EXPECT_INT(smtp_tx_code(tx, SMTP_QUIT, NULL), 221);
	EXPECT_INT(smtp_tx_pending(tx), 0);
	EXPECT_INT(smtp_tx_rcpt_code(tx, 3, &t), 0);
	EXPECT_STR(t, "");
	EXPECT_STR(smtp_tx_rcpt_addr(tx, 3), NULL);
	smtp_tx_free(tx);
}

static void test_refusals(void)
{
	static const struct {
		const char *name, *script;
		struct want w;
	} cases[] = {
		{ "every RCPT refused",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 550 no a\n> RCPT TO:<b@y>\n< 554 no b\n> QUIT\n< 221 bye\n",
		  { 220, 250, 250, 0, 0, 221, NULL, 2, { 550, 554 }, { "a@y", "b@y" },
		    { SMTP_FAIL, SMTP_FAIL }, 0, 0 } },
		{ "DATA refused 554",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 554 5.5.1 no valid recipients\n",
		  { 220, 250, 250, 554, 0, 554, "", 1, { 250 }, { "a@y" }, { SMTP_FAIL }, 0, 0 } },
		{ "DATA refused 451",
		  "< 220 hi\n> HELO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 451 4.3.0 try later\n",
		  { 220, 250, 250, 451, 0, 451, NULL, 1, { 250 }, { "a@y" }, { SMTP_DEFER }, 0, 0 } },
		{ "MAIL refused",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 553 5.7.1 sender refused\n",
		  { 220, 250, 553, 0, 0, 553, NULL, 0, { 0 }, { NULL }, { 0 }, 0, 0 } },
		{ "final 452",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 354 go\n< 452 4.3.1 disk full\n",
		  { 220, 250, 250, 354, 452, 452, "4.3.1 disk full", 1, { 250 }, { "a@y" },
		    { SMTP_DEFER }, 0, 0 } },
		{ "final 552",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 354 go\n< 552 5.3.4 too big\n",
		  { 220, 250, 250, 354, 552, 552, NULL, 1, { 250 }, { "a@y" }, { SMTP_FAIL }, 0, 0 } },
		{ "connection lost after the message",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 354 go\n",
		  { 220, 250, 250, 354, 0, 354, "", 1, { 250 }, { "a@y" }, { SMTP_DEFER }, 0, 0 } },
		{ "RCPT not answered",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n> RCPT TO:<a@y>\n",
		  { 220, 250, 250, 0, 0, 250, NULL, 1, { 0 }, { "a@y" }, { SMTP_DEFER }, 0, 0 } },
		{ "short end-of-data write shown as HEADER_OUT",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 354 go\n> \n> .\n< 250 queued as Q1\n",
		  { 220, 250, 250, 354, 250, 250, "queued as Q1", 1, { 250 }, { "a@y" },
		    { SMTP_SENT }, 0, 0 } },
		{ "a command after the 354 cancels the final",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 354 go\n> QUIT\n< 250 queued as Q1\n",
		  { 220, 250, 250, 354, 0, 250, "", 1, { 250 }, { "a@y" }, { SMTP_DEFER }, 0, 0 } },
		{ "commands pipelined after DATA",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n> RCPT TO:<a@y>\n> DATA\n"
		  "> NOOP\n< 250 ok\n< 250 ok\n< 354 go\n< 250 queued\n",
		  { 220, 250, 250, 354, 0, 250, "", 1, { 250 }, { "a@y" }, { SMTP_DEFER }, 1, 0 } },
		{ "421 at any time",
		  "< 220 hi\n> EHLO n\n< 250 ok\n< 421 4.3.2 shutting down\n",
		  { 220, 250, 0, 0, 0, 421, NULL, 0, { 0 }, { NULL }, { 0 }, 0, 0 } },
	};
	size_t  i;

	for (i = 0; i < NELEM(cases); i++)
		check(cases[i].name, cases[i].script, &cases[i].w);
}

static void test_garbage(void)
{
	static const struct {
		const char *name, *script;
		struct want w;
	} cases[] = {
		{ "lines that are no replies",
		  "< hello there\n< 99 short\n< 2500 four digits\n< 250x\n< 650 bad class\n"
		  "< 270 bad second digit\n< \n< 25\n< 220 hi\n"
		  "> EHLO n\n< 250 ok\n> MAIL FROM:<s@x>\n< 250 ok\n> RCPT TO:<a@y>\n< 250 ok\n",
		  { 220, 250, 250, 0, 0, 250, NULL, 1, { 250 }, { "a@y" }, { SMTP_DEFER }, 0, 8 } },
		{ "a reply nobody asked for",
		  "< 220 hi\n> EHLO n\n< 250 ok\n< 250 extra\n> MAIL FROM:<s@x>\n< 250 ok\n"
		  "> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 354 go\n< 250 queued\n",
		  { 220, 250, 250, 354, 250, 250, NULL, 1, { 250 }, { "a@y" }, { SMTP_DEFER }, 1,
		    0 } },
		{ "continuation with another code",
		  "< 220-hi\n< 221 there\n> EHLO n\n< 250 ok\n",
		  { 221, 250, 0, 0, 0, 250, NULL, 0, { 0 }, { NULL }, { 0 }, 0, 1 } },
		{ "odd RCPT forms",
		  "< 220 hi\n> EHLO n\n< 250 ok\n> mail from:<s@x> SIZE=10\n< 250 ok\n"
		  "> rcpt to:<a@y> NOTIFY=NEVER\n< 250 ok\n> RCPT TO:b@y\n< 250 ok\n"
		  "> RCPT TO:<c@y\n< 250 ok\n",
		  { 220, 250, 250, 0, 0, 250, NULL, 3, { 250, 250, 250 }, { "a@y", "b@y", "c@y" },
		    { SMTP_DEFER, SMTP_DEFER, SMTP_DEFER }, 0, 0 } },
	};
	struct smtp_tx *tx;
	const char *t;
	char    junk[4096];
	size_t  i;

	for (i = 0; i < NELEM(cases); i++)
		check(cases[i].name, cases[i].script, &cases[i].w);

	/* NUL, control octets and 8-bit octets in a reply */
	tx = smtp_tx_new();
	smtp_tx_feed(tx, 0, "220 a\0b\tc\x7f\xc3\xa9\r\n", 14);
	EXPECT_INT(smtp_tx_code(tx, SMTP_GREETING, &t), 220);
	EXPECT_STR(t, "a?b?c?\xc3\xa9");
	/* a bare LF ends a line as well; a lone CR inside stays (as '?') */
	smtp_tx_feed(tx, 1, "NOOP\n", 5);
	smtp_tx_feed(tx, 0, "250 x\ry\n", 8);
	EXPECT_INT(smtp_tx_code(tx, SMTP_LAST, &t), 250);
	EXPECT_STR(t, "x?y");
	EXPECT_INT(smtp_tx_desync(tx), 0);
	/* random octets never crash and never leave a code out of range */
	srand(11);
	for (i = 0; i < 2000; i++) {
		size_t  n = (size_t) rand() % sizeof(junk), k;

		for (k = 0; k < n; k++)
			junk[k] = (char) (rand() % 4 == 0 ? "0123456789- \r\n"[rand() % 14]
			    : rand());
		smtp_tx_feed(tx, rand() % 2, junk, n);
		CU_ASSERT(smtp_tx_code(tx, SMTP_LAST, NULL) == 0
		    || (smtp_tx_code(tx, SMTP_LAST, NULL) >= 200
			&& smtp_tx_code(tx, SMTP_LAST, NULL) <= 559));
	}
	CU_ASSERT(smtp_tx_nrcpt(tx) <= SMTP_TX_RCPT_MAX);
	smtp_tx_free(tx);
	smtp_tx_free(NULL);
}

static void test_connection(void)
{
	struct smtp_tx *tx = smtp_tx_new();
	const char *t;

	/* AUTH: the client's exchange lines are not commands of their own */
	feed_script(tx, "< 220 hi\n> EHLO n\n< 250-hi\n< 250 AUTH LOGIN PLAIN\n"
	    "> AUTH LOGIN\n< 334 VXNlcm5hbWU6\n> dXNlcg==\n< 334 UGFzc3dvcmQ6\n"
	    "> cGFzcw==\n< 235 2.7.0 Authentication successful\n"
	    "> MAIL FROM:<s@x>\n< 250 ok\n> RCPT TO:<a@y>\n< 250 ok\n> DATA\n< 354 go\n"
	    "< 250 queued as ONE\n", FEED_RUNS);
	EXPECT_INT(smtp_tx_code(tx, SMTP_AUTH, NULL), 235);
	EXPECT_INT(smtp_tx_code(tx, SMTP_FINAL, &t), 250);
	EXPECT_STR(t, "queued as ONE");
	EXPECT_INT(smtp_tx_desync(tx), 0);

	/* the next MAIL FROM on the same connection starts afresh */
	feed_script(tx, "> MAIL FROM:<s@x>\n", FEED_RUNS);
	EXPECT_INT(smtp_tx_nrcpt(tx), 0);
	EXPECT_INT(smtp_tx_code(tx, SMTP_MAIL, NULL), 0);
	EXPECT_INT(smtp_tx_code(tx, SMTP_FINAL, NULL), 0);
	EXPECT_INT(smtp_tx_code(tx, SMTP_GREETING, NULL), 220);
	EXPECT_INT(smtp_tx_code(tx, SMTP_AUTH, NULL), 235);
	feed_script(tx, "< 250 ok\n> RCPT TO:<b@y>\n< 451 later\n> RCPT TO:<c@y>\n< 250 ok\n"
	    "> DATA\n< 354 go\n< 250 queued as TWO\n", FEED_OCTETS);
	EXPECT_INT(smtp_tx_nrcpt(tx), 2);
	EXPECT_STR(smtp_tx_rcpt_addr(tx, 0), "b@y");
	EXPECT_INT(smtp_tx_outcome(tx, 0, NULL, NULL), SMTP_DEFER);
	EXPECT_INT(smtp_tx_outcome(tx, 1, NULL, NULL), SMTP_SENT);
	EXPECT_INT(smtp_tx_code(tx, SMTP_FINAL, &t), 250);
	EXPECT_STR(t, "queued as TWO");

	/* a parser started on a reused connection sees no greeting: the
	 * first reply answers the command waiting for it */
	{
		struct smtp_tx *re = smtp_tx_new();

		feed_script(re, "> MAIL FROM:<s@x>\n< 250 ok\n> RCPT TO:<a@y>\n< 250 ok\n"
		    "> DATA\n< 354 go\n< 250 queued as THREE\n", FEED_OCTETS);
		EXPECT_INT(smtp_tx_code(re, SMTP_GREETING, NULL), 0);
		EXPECT_INT(smtp_tx_code(re, SMTP_MAIL, NULL), 250);
		EXPECT_INT(smtp_tx_outcome(re, 0, NULL, NULL), SMTP_SENT);
		EXPECT_INT(smtp_tx_code(re, SMTP_FINAL, &t), 250);
		EXPECT_STR(t, "queued as THREE");
		EXPECT_INT(smtp_tx_desync(re), 0);
		smtp_tx_free(re);
	}

	/* pipelined RCPT, RSET, MAIL: the old RCPT's reply touches nothing */
	feed_script(tx, "> MAIL FROM:<s@x>\n< 250 ok\n> RCPT TO:<old@y>\n> RSET\n"
	    "> MAIL FROM:<s@x>\n< 550 old refused\n< 250 reset\n< 250 ok\n"
	    "> RCPT TO:<new@y>\n< 250 ok\n", FEED_RUNS);
	EXPECT_INT(smtp_tx_nrcpt(tx), 1);
	EXPECT_STR(smtp_tx_rcpt_addr(tx, 0), "new@y");
	EXPECT_INT(smtp_tx_rcpt_code(tx, 0, NULL), 250);
	EXPECT_INT(smtp_tx_code(tx, SMTP_MAIL, NULL), 250);
	EXPECT_INT(smtp_tx_desync(tx), 0);

	/* reset: everything forgotten, the next reply is a greeting again */
	smtp_tx_feed(tx, 1, "RCPT TO:<half", 13);
	smtp_tx_reset(tx);
	EXPECT_INT(smtp_tx_nrcpt(tx), 0);
	EXPECT_INT(smtp_tx_pending(tx), 0);
	EXPECT_INT(smtp_tx_code(tx, SMTP_GREETING, NULL), 0);
	feed_script(tx, "< 220 again\n> EHLO n\n< 250 ok\n", FEED_THREES);
	EXPECT_INT(smtp_tx_code(tx, SMTP_GREETING, &t), 220);
	EXPECT_STR(t, "again");
	EXPECT_INT(smtp_tx_code(tx, SMTP_HELLO, NULL), 250);
	EXPECT_INT(smtp_tx_code(tx, SMTP_NSTEP, &t), 0);
	EXPECT_STR(t, "");
	smtp_tx_free(tx);
}

static void test_caps(void)
{
	struct smtp_tx *tx = smtp_tx_new();
	char    line[SMTP_LINE_MAX * 2];
	const char *t;
	size_t  i;

	/* reply text kept up to SMTP_REPLY_TEXT_MAX, a line cut at SMTP_LINE_MAX */
	memcpy(line, "220-", 4);
	memset(line + 4, 'x', sizeof(line) - 6);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	smtp_tx_feed(tx, 0, line, sizeof(line));
	smtp_tx_feed(tx, 0, "220 end\r\n", 9);
	EXPECT_INT(smtp_tx_code(tx, SMTP_GREETING, &t), 220);
	EXPECT_INT(strlen(t), SMTP_REPLY_TEXT_MAX);
	EXPECT_INT(smtp_tx_garbage(tx), 0);
	/* a command line longer than SMTP_LINE_MAX still counts once */
	memcpy(line, "RCPT TO:<", 9);
	memset(line + 9, 'a', sizeof(line) - 11);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	smtp_tx_feed(tx, 1, "MAIL FROM:<>\r\n", 14);
	smtp_tx_feed(tx, 1, line, sizeof(line));
	EXPECT_INT(smtp_tx_nrcpt(tx), 1);
	EXPECT_INT(strlen(smtp_tx_rcpt_addr(tx, 0)), SMTP_ADDR_MAX);
	EXPECT_INT(smtp_tx_pending(tx), 2);
	smtp_tx_reset(tx);

	/* ADDR_LIST_MAX recipients recorded, the next one paired only */
	smtp_tx_feed(tx, 0, "220 hi\r\n", 8);
	smtp_tx_feed(tx, 1, "MAIL FROM:<s@x>\r\n", 17);
	for (i = 0; i <= SMTP_TX_RCPT_MAX; i++) {
		int n = snprintf(line, sizeof(line), "RCPT TO:<u%zu@y>\r\n", i);

		smtp_tx_feed(tx, 1, line, (size_t) n);
	}
	EXPECT_INT(smtp_tx_nrcpt(tx), SMTP_TX_RCPT_MAX);
	EXPECT_INT(smtp_tx_pending(tx), SMTP_TX_RCPT_MAX + 2);
	smtp_tx_feed(tx, 0, "250 ok\r\n", 8);
	for (i = 0; i <= SMTP_TX_RCPT_MAX; i++)
		smtp_tx_feed(tx, 0, i % 2 ? "550 no\r\n" : "250 ok\r\n", 8);
	EXPECT_INT(smtp_tx_rcpt_code(tx, 0, NULL), 250);
	EXPECT_INT(smtp_tx_rcpt_code(tx, 1, NULL), 550);
	EXPECT_INT(smtp_tx_rcpt_code(tx, SMTP_TX_RCPT_MAX - 1, NULL), 550);
	EXPECT_STR(smtp_tx_rcpt_addr(tx, SMTP_TX_RCPT_MAX - 1), "u9999@y");
	EXPECT_INT(smtp_tx_pending(tx), 0);
	EXPECT_INT(smtp_tx_desync(tx), 0);
	smtp_tx_reset(tx);

	/* more owed replies than SMTP_TX_PENDING_MAX: pairing lost */
	for (i = 0; i <= SMTP_TX_PENDING_MAX; i++)
		smtp_tx_feed(tx, 1, "NOOP\r\n", 6);
	EXPECT_INT(smtp_tx_pending(tx), SMTP_TX_PENDING_MAX);
	EXPECT_INT(smtp_tx_desync(tx), 1);
	smtp_tx_reset(tx);
	EXPECT_INT(smtp_tx_desync(tx), 0);
	smtp_tx_free(tx);
}

static void test_addr_ok(void)
{
	static const struct {
		const char *addr;
		int	rc;
		const char *why;
	} cases[] = {
		{ "a@example.org", 0, NULL },
		{ "\"john smith\"@ucl", 0, NULL },
		{ "linington%cambridge@pss", 0, NULL },
		{ "bj\xc3\xb6rn@ucl", 0, NULL },
		{ "", -1, "address '': empty address" },
		{ "a@b\r\nDATA", -1, "address 'a@b??DATA': CR or LF in the address" },
		{ "a@b\nRSET", -1, "CR or LF" },
		{ "a@b>\r\nRCPT TO:<c@d", -1, "'<' or '>'" },
		{ "a@b> NOTIFY=NEVER", -1, "'<' or '>' in the address" },
		{ "<a@b", -1, "'<' or '>'" },
		{ "a\tb@c", -1, "address 'a?b@c': control octet" },
		{ "a\x7f@c", -1, "control octet" },
		{ "a\x1b[31m@c", -1, "control octet" },
	};
	char    why[256], big[SMTP_ADDR_MAX + 2];
	size_t  i;

	for (i = 0; i < NELEM(cases); i++) {
		why[0] = '\0';
		EXPECT_INT(smtp_addr_ok(cases[i].addr, why, sizeof(why)), cases[i].rc);
		if (cases[i].why)
			EXPECT_HAS(why, cases[i].why);
	}
	memset(big, 'a', sizeof(big));
	big[0] = '@';
	big[SMTP_ADDR_MAX] = '\0';
	EXPECT_INT(smtp_addr_ok(big, why, sizeof(why)), 0);
	big[SMTP_ADDR_MAX] = 'a';
	big[SMTP_ADDR_MAX + 1] = '\0';
	EXPECT_INT(smtp_addr_ok(big, why, sizeof(why)), -1);
	EXPECT_HAS(why, "499 octets, longer than 498");
	EXPECT_HAS(why, "aaa...'");
	EXPECT_INT(smtp_addr_ok(NULL, NULL, 0), -1);
	EXPECT_INT(smtp_addr_ok("a\rb", why, 1), -1);
	EXPECT_STR(why, "");
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "smtp_tx", "one at a time and pipelined", test_sequences },
		{ "smtp_tx", "refusals and lost replies", test_refusals },
		{ "smtp_tx", "garbage", test_garbage },
		{ "smtp_tx", "auth, reuse, rset, reset", test_connection },
		{ "smtp_tx", "caps", test_caps },
		{ "smtp_addr", "addresses for libcurl", test_addr_ok },
	};

	return tl_run(tests, NELEM(tests), NULL, NULL);
}
