/*++
 * NAME
 *	fuzz_ctl 1
 * SUMMARY
 *	libFuzzer target for the control request parser (relay/ctl_proto.h)
 * SYNOPSIS
 *	build-fuzz/fuzz_ctl [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The input is one request line as a client sends it on the control
 *	socket. ctl_proto_parse() must never read past it (ASan); a request
 *	it takes names a table entry and has an argument count within that
 *	entry's limits, every argument inside the request's own copy and
 *	free of control characters; a refusal has a one-line reason with no
 *	control character (it is sent back to the client as "err REASON").
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctl_req rq;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char    err[CTL_ERRLEN];
	size_t  i;
	const char *p;

	err[0] = '\0';
	if (ctl_proto_parse((const char *) data, size, &rq, err, sizeof(err)) != CTL_PARSE_OK) {
		if (err[0] == '\0')
			abort();
		for (p = err; *p; p++)
			if ((unsigned char) *p < 0x20 || *p == 0x7f)
				abort();
		return 0;
	}
	if (rq.cmd == NULL || rq.argc < rq.cmd->min_args
	    || (rq.cmd->max_args != CTL_ARGS_MAX && rq.argc > rq.cmd->max_args))
		abort();
	for (i = 0; i < rq.argc; i++) {
		if (rq.argv[i] < rq.text || rq.argv[i] >= rq.text + sizeof(rq.text))
			abort();
		for (p = rq.argv[i]; *p; p++)
			if ((unsigned char) *p < 0x20 || *p == 0x7f)
				abort();
	}
	return 0;
}
