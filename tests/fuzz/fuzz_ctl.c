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
 *	trace-fetch's %XX arguments (relay/trace_fetch.h): one that decodes
 *	encodes to a line argument that decodes to the same octets. A
 *	selection (queue, hold, ...: CTL_SELECT) that the parser took is
 *	taken again by ctl_proto_sel(), its strings inside the request, its
 *	names and states valid; --to, --from and --hop are matched against
 *	every argument (ctl_sel_addr and ctl_sel_hop read no further than
 *	their strings).
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/ctl_proto.h"
#include "relay/trace_fetch.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctl_req rq;

/* fetch_arg - a decodable trace-fetch argument survives enc and dec */
static void fetch_arg(const char *arg)
{
	static char a[CTL_LINE_MAX + 1], b[CTL_LINE_MAX + 1];
	struct buf e = BUF_INIT(3 * CTL_LINE_MAX + 1);
	const char *p;

	if (trace_fetch_dec(arg, a, sizeof(a)) < 0)
		return;
	if (trace_fetch_enc(&e, a) < 0 || buf_cstr(&e) == NULL)
		abort();
	for (p = buf_cstr(&e); *p; p++)
		if ((unsigned char) *p <= 0x20 || *p == 0x7f)
			abort();
	if (trace_fetch_dec(buf_cstr(&e), b, sizeof(b)) < 0 || strcmp(a, b) != 0)
		abort();
	buf_release(&e);
}

/* inside - p is a string of the request's own copy */
static int inside(const char *p)
{
	return p == NULL || (p >= rq.text && p < rq.text + sizeof(rq.text));
}

/* selection - a selection the parser took is a valid one */
static void selection(void)
{
	static struct ctl_sel sel;
	char    err[CTL_ERRLEN];
	size_t  i;

	if (ctl_proto_sel(&rq, &sel, err, sizeof(err)) < 0)
		abort();
	if (!inside(sel.to) || !inside(sel.from) || !inside(sel.hop) || !inside(sel.reason)
	    || sel.states >= 1u << CTL_NSTATES || sel.older < -1
	    || (sel.nnames > 0 && sel.all) || (!sel.all && sel.nnames == 0)
	    || (sel.json && rq.cmd->id != CTL_QUEUE) || sel.nnames > rq.argc)
		abort();
	for (i = 0; i < sel.nnames; i++)
		if (!inside(sel.names[i]) || sel.names[i][0] == '-' || sel.names[i][0] == '\0'
		    || strchr(sel.names[i], ' ') != NULL)
			abort();
	for (i = 0; i < rq.argc; i++) {
		if (sel.to != NULL)
			(void) ctl_sel_addr(sel.to, rq.argv[i]);
		if (sel.from != NULL)
			(void) ctl_sel_addr(sel.from, rq.argv[i]);
		(void) ctl_sel_hop(&sel, rq.argv[i]);
	}
}

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
	if (rq.cmd->id == CTL_TRACE_FETCH)
		for (i = 0; i < rq.argc; i++)
			fetch_arg(rq.argv[i]);
	if (rq.cmd->flags & CTL_SELECT)
		selection();
	return 0;
}
