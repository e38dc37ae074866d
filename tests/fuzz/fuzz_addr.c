/*++
 * NAME
 *	fuzz_addr 1
 * SUMMARY
 *	libFuzzer target: mailchannel/addr parsing and rewriting
 * SYNOPSIS
 *	build-fuzz/fuzz_addr [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	Feeds the input to addr_parse() and addr_list_parse() and checks
 *	the invariants that callers rely on: an accepted address formats
 *	to canonical text that parses back to the same address; a valid
 *	host name reversed twice is itself; % hops never produce an
 *	address that fails to format and re-parse; a mailbox name that
 *	passes the check holds no '/' and no leading '.'.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailchannel/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_roundtrip - canonical text parses back to the same address */
static void check_roundtrip(const struct addr *a)
{
	char   *s = addr_to_str(a);
	struct addr *b = addr_parse(s, strlen(s), NULL, 0);

	if (strpbrk(s, "\r\n") != NULL)
		abort();		/* would break an address-list line */
	if (b == NULL || strcmp(addr_local(a), addr_local(b)) != 0
	    || strcmp(addr_host(a), addr_host(b)) != 0)
		abort();
	addr_free(b);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char    err[ADDR_ERRLEN], mbox[ADDR_MBOX_MAX + 1], r1[300], r2[300];
	const char *text = (const char *) data;
	struct addr_list *l;
	struct addr *a;
	int     hops = 0;
	size_t  i;

	a = addr_parse(text, size, err, sizeof(err));
	if (a != NULL) {
		check_roundtrip(a);
		if (addr_host_check(addr_host(a), strlen(addr_host(a)), NULL, 0) != 0)
			abort();
		addr_host_reverse(addr_host(a), r1, sizeof(r1));
		addr_host_reverse(r1, r2, sizeof(r2));
		if (strcmp(r2, addr_host(a)) != 0)
			abort();
		while (addr_has_route(a) && hops++ < 100
		    && addr_percent_hop(a, err, sizeof(err)) == 0)
			check_roundtrip(a);
		if (addr_mailbox(a, mbox, sizeof(mbox), err, sizeof(err)) == 0
		    && (strchr(mbox, '/') != NULL || mbox[0] == '.'))
			abort();
		addr_free(a);
	} else if (memchr(err, 0, sizeof(err)) == NULL) {
		abort();		/* error text not terminated */
	}
	l = addr_list_parse(text, size, err, sizeof(err));
	if (l != NULL) {
		for (i = 0; i < addr_list_count(l); i++)
			check_roundtrip(addr_list_get(l, i));
		addr_list_free(l);
	}
	(void) addr_split(text, size);
	return 0;
}
