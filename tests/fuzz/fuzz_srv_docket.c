/*++
 * NAME
 *	fuzz_srv_docket 1
 * SUMMARY
 *	libFuzzer target for the server docket parser (relay/srv_docket.h)
 * SYNOPSIS
 *	build-fuzz/fuzz_srv_docket [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The input is a docket's text. srv_docket_parse() must never read
 *	past it (ASan) and must say why it rejects one. A docket it takes is
 *	formatted again with srv_docket_format() (which must not fail or
 *	panic for anything the parser accepted) and parsed again into the
 *	very same struct, so what the writer escapes the reader reads back
 *	and a copy identity can never become another line.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/srv_docket.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct srv_docket d1, d2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT(SRV_DOCKET_MAX);
	char    err[256];

	err[0] = '\0';
	if (srv_docket_parse((const char *) data, size, &d1, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (srv_docket_format(&b, &d1) < 0)
		abort();
	if (srv_docket_parse((const char *) buf_data(&b), b.len, &d2, err, sizeof(err)) < 0)
		abort();
	if (memcmp(&d1, &d2, sizeof(d1)) != 0)
		abort();
	buf_release(&b);
	return 0;
}
