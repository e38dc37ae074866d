/*++
 * NAME
 *	fuzz_rfc822 1
 * SUMMARY
 *	libFuzzer target: mailchannel/rfc822, RFC 733 address forms made RFC 822
 * SYNOPSIS
 *	build-fuzz/fuzz_rfc822 [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The first octet chooses the big-endian top-level list (none, "uk",
 *	"uk,nl"); the rest is a field body. Checked: rfc822_fix() returns a
 *	count or -1 only when its buffer is full; with 0 the output is the
 *	input; the output is at most twice the input plus a little (it
 *	only moves comments, drops white space and swaps labels); no
 *	octet the input did not hold appears but "@", "%", "\"", " " and
 *	"."; and the rewrite is idempotent (a second pass changes nothing).
 *	rfc822_addr_fix() on the same text: its result is a C string within
 *	the buffer, and a second pass changes nothing.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailchannel/rfc822.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const topsv[] = { NULL, "uk", "uk,nl", "" };
	const char *tops, *in;
	struct buf a = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20);
	unsigned char seen[256];
	char    addr[600], d1[600], d2[600];
	size_t  len, i;
	int     n;

	if (size < 1)
		return 0;
	tops = topsv[data[0] & 3];
	in = (const char *) data + 1;
	len = size - 1;
	if ((n = rfc822_fix(&a, in, len, tops)) < 0)
		abort();		/* 1 MiB is room enough for any input here */
	if (n == 0 && (a.len != len || memcmp(buf_data(&a), in, len) != 0))
		abort();
	if (a.len > 2 * len + 16)
		abort();
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < len; i++)
		seen[(unsigned char) in[i]] = 1;
	for (i = 0; i < a.len; i++) {
		unsigned char c = buf_data(&a)[i];

		if (!seen[c] && strchr("@%\" .", c) == NULL)
			abort();
	}
	if (rfc822_fix(&b, (const char *) buf_data(&a), a.len, tops) != 0)
		abort();
	if (b.len != a.len || memcmp(buf_data(&a), buf_data(&b), a.len) != 0)
		abort();
	buf_release(&a);
	buf_release(&b);

	/* the envelope form, on a NUL-free prefix */
	for (i = 0; i < len && i < sizeof(addr) - 1 && in[i] != '\0'; i++)
		addr[i] = in[i];
	addr[i] = '\0';
	if ((n = rfc822_addr_fix(addr, tops, d1, sizeof(d1))) < -1 || n > 1)
		abort();
	if (n >= 0) {
		if (strlen(d1) >= sizeof(d1))
			abort();
		if (rfc822_addr_fix(d1, tops, d2, sizeof(d2)) != 0 || strcmp(d1, d2) != 0)
			abort();
	}
	return 0;
}
