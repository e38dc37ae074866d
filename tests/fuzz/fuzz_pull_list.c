/*++
 * NAME
 *	fuzz_pull_list 1
 * SUMMARY
 *	libFuzzer target: the puller's reading of a relay's pull:list
 * SYNOPSIS
 *	build-fuzz/fuzz_pull_list [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The input is a list as a relay would send it (relay/pull.h), split
 *	at LF; each line goes to pull_list_parse_line(). A line it takes
 *	must give a name that may name a spool file, a copy identity that
 *	starts "niftpmail-copy ", is printable ASCII and at most 255 octets
 *	(it goes back to the relay in an SFT and into our dockets), and
 *	fields read back exactly from the line: nothing is invented.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/niftp.h"
#include "relay/pull.h"
#include "spool/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *nl;

	for (; p < end; p = nl + 1) {
		char   *line, *name, *copy;
		uint64_t sz;
		uint32_t crc;
		size_t  n, i;

		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		n = (size_t) (nl - p);
		if ((line = malloc(n + 1)) == NULL)
			abort();
		memcpy(line, p, n);
		line[n] = '\0';
		if (pull_list_parse_line(line, n, &name, &sz, &crc, &copy) == 0) {
			if (!spool_name_ok(name) || strncmp(copy, "niftpmail-copy ", 15) != 0
			    || strlen(copy) > NIFTP_MAX_NAME || memchr(p, 0, n) != NULL)
				abort();
			for (i = 0; copy[i]; i++)
				if ((unsigned char) copy[i] < 0x20 || (unsigned char) copy[i] > 0x7e)
					abort();
			/* both fields are the line's own octets */
			if (name < line || name >= line + n || copy < line || copy >= line + n
			    || memcmp(copy, p + (copy - line), strlen(copy)) != 0)
				abort();
		}
		free(line);
	}
	return 0;
}
