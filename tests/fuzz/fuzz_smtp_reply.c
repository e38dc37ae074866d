/*++
 * NAME
 *	fuzz_smtp_reply 1
 * SUMMARY
 *	libFuzzer target: relay/smtp_reply, the SMTP transcript parser
 * SYNOPSIS
 *	build-fuzz/fuzz_smtp_reply [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The input is a run of records: one control octet, then data. The
 *	control octet's high bit says sent (1, CURLINFO_HEADER_OUT) or
 *	received (0, CURLINFO_HEADER_IN), its low 7 bits how many data
 *	octets follow (fewer at the end of the input). The records are fed
 *	to one smtp_tx as they are, and the same direction-tagged octets to
 *	a second smtp_tx one octet at a time: both must end the same
 *	(pairing never depends on how the callback split its data). Also
 *	checked: every code is 0 or a reply code, every text a C string
 *	within SMTP_REPLY_TEXT_MAX holding no control octet but '\n',
 *	recipients within their cap, an outcome for each of them, and
 *	smtp_addr_ok() on the whole input never passing CR, LF, '<' or '>'.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_text - a text as smtp_reply.h promises it */
static void check_text(const char *t)
{
	size_t  n = strlen(t), i;

	if (n > SMTP_REPLY_TEXT_MAX)
		abort();
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char) t[i];

		if ((c < 0x20 && c != '\n') || c == 0x7f)
			abort();
	}
}

/* check_code - 0 or a reply code, and the text */
static int check_code(int code, const char *t)
{
	if (code != 0 && (code < 200 || code > 559))
		abort();
	check_text(t);
	return code;
}

/* same - both transcripts give the same results */
static void same(const struct smtp_tx *a, const struct smtp_tx *b)
{
	const char *ta, *tb;
	size_t  i;
	int     s;

	for (s = 0; s < SMTP_NSTEP; s++)
		if (check_code(smtp_tx_code(a, (enum smtp_step) s, &ta), ta)
		    != check_code(smtp_tx_code(b, (enum smtp_step) s, &tb), tb)
		    || strcmp(ta, tb) != 0)
			abort();
	if (smtp_tx_nrcpt(a) != smtp_tx_nrcpt(b) || smtp_tx_nrcpt(a) > SMTP_TX_RCPT_MAX
	    || smtp_tx_desync(a) != smtp_tx_desync(b)
	    || smtp_tx_garbage(a) != smtp_tx_garbage(b)
	    || smtp_tx_pending(a) != smtp_tx_pending(b))
		abort();
	for (i = 0; i < smtp_tx_nrcpt(a); i++) {
		enum smtp_outcome o = smtp_tx_outcome(a, i, NULL, &ta);

		if (check_code(smtp_tx_rcpt_code(a, i, &ta), ta)
		    != check_code(smtp_tx_rcpt_code(b, i, &tb), tb) || strcmp(ta, tb) != 0
		    || strcmp(smtp_tx_rcpt_addr(a, i), smtp_tx_rcpt_addr(b, i)) != 0
		    || strlen(smtp_tx_rcpt_addr(a, i)) > SMTP_ADDR_MAX
		    || (o != SMTP_SENT && o != SMTP_DEFER && o != SMTP_FAIL)
		    || o != smtp_tx_outcome(b, i, NULL, NULL))
			abort();
		check_text(ta);
	}
	if (smtp_tx_rcpt_addr(a, smtp_tx_nrcpt(a)) != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_tx *a = smtp_tx_new(), *b = smtp_tx_new();
	char    why[128], *s;
	size_t  off = 0, k;

	while (off < size) {
		int     sent = (data[off] & 0x80) != 0;
		size_t  n = data[off] & 0x7f;

		off++;
		if (n > size - off)
			n = size - off;
		smtp_tx_feed(a, sent, (const char *) data + off, n);
		for (k = 0; k < n; k++)
			smtp_tx_feed(b, sent, (const char *) data + off + k, 1);
		off += n;
	}
	same(a, b);
	smtp_tx_reset(a);
	if (smtp_tx_nrcpt(a) != 0 || smtp_tx_pending(a) != 0 || smtp_tx_desync(a) != 0)
		abort();
	smtp_tx_free(a);
	smtp_tx_free(b);

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (smtp_addr_ok(s, why, sizeof(why)) == 0 && strpbrk(s, "\r\n<>") != NULL)
		abort();
	if (smtp_addr_ok(s, why, sizeof(why)) != 0 && memchr(why, 0, sizeof(why)) == NULL)
		abort();
	free(s);
	return 0;
}
