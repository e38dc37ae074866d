/*++
 * NAME
 *	fuzz_envelope 1
 * SUMMARY
 *	libFuzzer target for the envelope records (relay/qenv.h)
 * SYNOPSIS
 *	build-fuzz/fuzz_envelope [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The first octet chooses the reader, the rest is the record's text.
 *	Even: an envelope file (qenv_file_parse); what it takes is written
 *	again with qenv_file_text and must parse to the same letter,
 *	calling address, hop, first time and recipients. Odd: an envelope
 *	docket (qenv_docket_parse) applied to a fixed envelope of three
 *	recipients; what it takes is written again with qenv_docket_text
 *	and must parse to the same fields and the same channel lines. A
 *	rejection must say why. So a peer's text in any field can never
 *	become another line of either record.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/qenv.h"
#include "spool/spool.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void file_case(const char *text, size_t len)
{
	char    letter[SPOOL_NAMELEN], calling[QUEUE_CALLING_MAX], err[256];
	char    letter2[SPOOL_NAMELEN], calling2[QUEUE_CALLING_MAX];
	struct buf b = BUF_INIT(QUEUE_ENV_MAX);
	struct qenv *e, *e2;
	size_t  i;

	err[0] = '\0';
	if ((e = qenv_file_parse(text, len, letter, sizeof(letter), calling, sizeof(calling),
	    err, sizeof(err))) == NULL) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (qenv_file_text(e, letter, calling, &b) < 0)
		abort();
	e2 = qenv_file_parse((const char *) buf_data(&b), b.len, letter2, sizeof(letter2),
	    calling2, sizeof(calling2), err, sizeof(err));
	if (e2 == NULL || strcmp(letter, letter2) != 0 || strcmp(calling, calling2) != 0
	    || strcmp(e->hop, e2->hop) != 0 || e->first != e2->first || e->nrcpts != e2->nrcpts)
		abort();
	for (i = 0; i < e->nrcpts; i++)
		if (!same(e->rcpts[i].addr, e2->rcpts[i].addr)
		    || !same(e->rcpts[i].orig, e2->rcpts[i].orig)
		    || !same(e->rcpts[i].owner, e2->rcpts[i].owner)
		    || !same(e->rcpts[i].mailbox, e2->rcpts[i].mailbox))
			abort();
	qenv_free(e);
	qenv_free(e2);
	buf_release(&b);
}

static struct qenv *three(void)
{
	struct qenv *e = qenv_new("ucl.2612052300.000001", "cam", 0, 1);

	qenv_add_rcpt(e, "a@cam", NULL, NULL, NULL);
	qenv_add_rcpt(e, "b@cam", "list@ucl", "owner@ucl", NULL);
	qenv_add_rcpt(e, "c@cam", NULL, NULL, NULL);
	return e;
}

static void docket_case(const char *text, size_t len)
{
	struct buf b = BUF_INIT(QUEUE_DOCKET_MAX);
	struct qenv *e = three(), *e2 = three();
	char    err[256];
	int     fin, fin2;
	size_t  i;

	err[0] = '\0';
	if (qenv_docket_parse(e, text, len, &fin, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();
		goto out;
	}
	qenv_docket_text(e, &b);
	if (qenv_docket_parse(e2, (const char *) buf_data(&b), b.len, &fin2, err,
	    sizeof(err)) < 0)
		abort();
	/* the writer writes "finished 0": a finished docket is never written */
	if (e->attempts != e2->attempts || e->next_try != e2->next_try
	    || e->warned != e2->warned || !same(e->error, e2->error)
	    || !same(e->chsaved, e2->chsaved))
		abort();
	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].done != e2->rcpts[i].done)
			abort();
out:
	qenv_free(e);
	qenv_free(e2);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		docket_case((const char *) data + 1, size - 1);
	else
		file_case((const char *) data + 1, size - 1);
	return 0;
}
