/*++
 * NAME
 *	fuzz_conf 1
 * SUMMARY
 *	libFuzzer target: relay/conf loading and the route table it builds
 * SYNOPSIS
 *	build-fuzz/fuzz_conf [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	Writes the input into a memfd and loads it as a node configuration
 *	through its /proc/self/fd path (iniparser reads files only).
 *	Checks: every diagnostic line starts with the path and a line
 *	number and ends with a newline; the error count is zero exactly
 *	when a configuration comes back; a loaded configuration has every
 *	field its contract promises; a handful of recipients (aliases,
 *	lists, '%' routes, other hosts) route without failing an
 *	invariant, and every target is well-formed.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/route.h"
#include "relay/conf.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_diag - "PATH:N: text\n" lines only */
static void check_diag(const char *path, struct buf *errs)
{
	const char *p, *end;
	size_t pl = strlen(path);

	if (errs->len == 0)
		return;
	p = buf_cstr(errs);
	if (p == NULL)
		abort();
	end = p + errs->len;
	if (end[-1] != '\n')
		abort();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));

		if (nl == NULL || strncmp(p, path, pl) != 0 || p[pl] != ':')
			abort();
		if (p[pl + 1] < '0' || p[pl + 1] > '9')
			abort();
		p = nl + 1;
	}
}

static void check_route(const struct conf *c, const char *local, const char *host)
{
	struct addr *a = addr_new(local, host, NULL, 0);
	struct route_result *r;

	if (a == NULL)
		return;
	r = route_resolve(c->routes, a, 0);
	if (route_result_count(r) == 0)
		abort();
	for (size_t i = 0; i < route_result_count(r); i++) {
		const struct route_target *tg = route_result_get(r, i);

		switch (tg->kind) {
		case ROUTE_LOCAL:
			if (tg->mailbox == NULL || strchr(tg->mailbox, '/') != NULL
			    || tg->mailbox[0] == '.')
				abort();
			break;
		case ROUTE_FORWARD:
			if (tg->hop == NULL || tg->hop->nalts == 0 || tg->text == NULL)
				abort();
			break;
		case ROUTE_FAIL:
			if (tg->reason == NULL)
				abort();
			break;
		default:
			abort();
		}
	}
	route_result_free(r);
	addr_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf errs = BUF_INIT(1 << 20);
	unsigned ne = 0, nw = 0;
	char path[64];
	struct conf *c;
	int fd;

	if (size > CONF_FILE_MAX)
		return 0;
	if ((fd = memfd_create("fuzz_conf", MFD_CLOEXEC)) < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t) size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c = conf_load(path, &errs, &ne, &nw);
	check_diag(path, &errs);
	if ((c == NULL) != (ne > 0))
		abort();
	if (c != NULL) {
		static const char *const locals[] = { "postmaster", "staff", "a%b", "x%y%z",
			"Root", "dcpu" };
		char mb[4096];

		if (c->name == NULL || c->spool == NULL || c->control == NULL
		    || c->calling == NULL || c->maildir == NULL || c->routes == NULL
		    || c->max_hops == 0 || c->calls_per_hop == 0)
			abort();
		if (c->retry_first_ms > c->retry_max_ms)
			abort();
		conf_maildir(c, "bennett", mb, sizeof(mb));
		for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
			check_route(c, locals[i], c->name);
			check_route(c, locals[i], "elsewhere.ac.uk");
		}
		for (size_t i = 0; i < route_table_nhops(c->routes); i++)
			if (route_table_hop(c->routes, i)->nalts == 0)
				abort();
		conf_free(c);
	}
	buf_release(&errs);
	close(fd);
	return 0;
}
