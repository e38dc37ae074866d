/*++
 * NAME
 *	fuzz_journal 1
 * SUMMARY
 *	libFuzzer target for the spool journal line parser
 * SYNOPSIS
 *	build-fuzz/fuzz_journal [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The input is one journal line (without its newline). It is parsed
 *	with journal_parse(), which must never read past the input (ASan).
 *	When it parses, the record is formatted again with journal_format()
 *	and parsed again: the second parse must succeed and give the same
 *	event, name and key/value pairs (values without NUL octets, whose
 *	C-string form cannot carry them, are compared byte for byte), so
 *	that what the writer escapes the reader reads back unchanged and
 *	a value can never turn into extra keys or an extra line.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool/journal.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct journal_rec rec1, rec2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT(2 * JOURNAL_LINE_MAX);
	const char *kv[2 * JOURNAL_MAX_KV];
	size_t  i;

	if (journal_parse((const char *) data, size, &rec1) < 0)
		return 0;
	if (rec1.nkv > JOURNAL_MAX_KV - 1 || rec1.namelen == 0 || rec1.namelen > JOURNAL_VALUE_MAX
	    || memchr(rec1.name, '\0', rec1.namelen) != NULL)
		return 0;
	for (i = 0; i < rec1.nkv; i++) {
		if (rec1.kv[i].vlen > JOURNAL_VALUE_MAX
		    || memchr(rec1.kv[i].val, '\0', rec1.kv[i].vlen) != NULL)
			return 0;
		kv[2 * i] = rec1.kv[i].key;
		kv[2 * i + 1] = rec1.kv[i].val;
	}
	if (journal_format(&b, rec1.time, rec1.event, rec1.name, kv, rec1.nkv) < 0)
		abort();
	if (b.len < 1 || buf_data(&b)[b.len - 1] != '\n'
	    || memchr(buf_data(&b), '\n', b.len - 1) != NULL)
		abort();			/* exactly one line */
	if (journal_parse((const char *) buf_data(&b), b.len - 1, &rec2) < 0)
		abort();
	if (journal_get(&rec2, "cut", NULL) && !journal_get(&rec1, "cut", NULL))
		goto out;			/* over-long: cut on purpose */
	if (strcmp(rec1.time, rec2.time) || strcmp(rec1.event, rec2.event)
	    || rec1.namelen != rec2.namelen || memcmp(rec1.name, rec2.name, rec1.namelen)
	    || rec1.nkv != rec2.nkv)
		abort();
	for (i = 0; i < rec1.nkv; i++)
		if (strcmp(rec1.kv[i].key, rec2.kv[i].key) || rec1.kv[i].vlen != rec2.kv[i].vlen
		    || memcmp(rec1.kv[i].val, rec2.kv[i].val, rec1.kv[i].vlen))
			abort();
out:
	buf_release(&b);
	return 0;
}
