/*++
 * NAME
 *	srv_docket 3
 * SUMMARY
 *	the text of a server docket, parsed and formatted
 * SYNOPSIS
 *	#include "relay/srv_docket.h"
 * DESCRIPTION
 *	A table of keys, each with its parser; a bit per key seen makes a
 *	repeated key an error instead of "the last one wins", which is how
 *	a copy identity with a newline once planted "committed 1" and an
 *	empty "copy" after the real ones.
 * DIAGNOSTICS
 *	See srv_docket.h.
 *--*/
#include <stdio.h>
#include <string.h>

#include "relay/rec.h"
#include "relay/srv_docket.h"
#include "spool/spool.h"
#include "util/log.h"
#include "util/strutil.h"

struct sd_parse {
	struct srv_docket *d;
	unsigned seen;			/* bit per key of sd_keys */
};

typedef int sd_val_fn(struct srv_docket *d, const char *val, size_t vlen);

/* sd_committed - "0" or "1" */
static int sd_committed(struct srv_docket *d, const char *val, size_t vlen)
{
	if (vlen != 1 || (val[0] != '0' && val[0] != '1'))
		return -1;
	d->committed = val[0] == '1';
	return 0;
}

/* sd_name - a spool name */
static int sd_name(struct srv_docket *d, const char *val, size_t vlen)
{
	if (vlen >= sizeof(d->name) || !spool_name_ok(val))
		return -1;
	memcpy(d->name, val, vlen + 1);
	return 0;
}

/* sd_copy - any octets but NUL (rec_each rejected those), up to the limit */
static int sd_copy(struct srv_docket *d, const char *val, size_t vlen)
{
	if (vlen >= sizeof(d->copy))
		return -1;
	memcpy(d->copy, val, vlen + 1);
	return 0;
}

/* sd_hex8 - exactly 8 lowercase hex digits */
static int sd_hex8(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int     i;

	for (i = 0; i < 8; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint32_t) (s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint32_t) (s[i] - 'a' + 10);
		else
			return -1;
	}
	if (s[8] != '\0')
		return -1;
	*out = v;
	return 0;
}

/* sd_part - "MARK OFFSET CRC" */
static int sd_part(struct srv_docket *d, const char *val, size_t vlen)
{
	char    f[3][24];
	const char *p = val, *sp;
	uint64_t mark, off;
	uint32_t crc;
	size_t  i, n;

	(void) vlen;
	for (i = 0; i < 3; i++) {
		sp = strchr(p, ' ');
		n = sp != NULL && i < 2 ? (size_t) (sp - p) : strlen(p);
		if (n == 0 || n >= sizeof(f[i]))
			return -1;
		memcpy(f[i], p, n);
		f[i][n] = '\0';
		p += n;
		if (i < 2) {
			if (*p != ' ')
				return -1;
			p++;
		}
	}
	if (rec_u64(f[0], 1, UINT32_MAX, &mark) < 0 || rec_u64(f[1], 0, UINT64_MAX, &off) < 0
	    || sd_hex8(f[2], &crc) < 0)
		return -1;
	d->part_mark = (uint32_t) mark;
	d->part_off = off;
	d->part_crc = crc;
	return 0;
}

static const struct {
	const char *key;
	sd_val_fn *fn;
} sd_keys[] = {
	{ "committed", sd_committed },
	{ "name", sd_name },
	{ "copy", sd_copy },
	{ "part", sd_part },
};

#define SD_COMMITTED	(1u << 0)
#define SD_NAME		(1u << 1)
#define SD_PART		(1u << 3)

/* sd_line - rec_fn for one line */
static int sd_line(void *arg, const char *key, const char *val, size_t vlen, char *err,
	size_t errlen)
{
	struct sd_parse *ps = arg;
	char    shown[64];
	size_t  i;

	for (i = 0; i < sizeof(sd_keys) / sizeof(sd_keys[0]); i++) {
		if (strcmp(key, sd_keys[i].key) != 0)
			continue;
		if (ps->seen & (1u << i)) {
			snprintf(err, errlen, "repeated key '%s'", key);
			return -1;
		}
		ps->seen |= 1u << i;
		if (sd_keys[i].fn(ps->d, val, vlen) < 0) {
			str_escape(shown, sizeof(shown), val, vlen < 40 ? vlen : 40);
			snprintf(err, errlen, "bad value for '%s': %s", key, shown);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -1;
}

/* srv_docket_parse - text into *d */
int srv_docket_parse(const char *text, size_t len, struct srv_docket *d, char *err,
	size_t errlen)
{
	struct sd_parse ps;

	memset(d, 0, sizeof(*d));
	ps.d = d;
	ps.seen = 0;
	if (rec_each(text, len, sd_line, &ps, err, errlen) < 0)
		return -1;
	if (!(ps.seen & SD_COMMITTED) || !(ps.seen & SD_NAME)) {
		snprintf(err, errlen, "no '%s' line",
		    (ps.seen & SD_COMMITTED) ? "name" : "committed");
		return -1;
	}
	if (d->committed && (ps.seen & SD_PART)) {
		snprintf(err, errlen, "a checkpoint in a committed docket");
		return -1;
	}
	return 0;
}

/* srv_docket_format - append d as docket text to b */
int srv_docket_format(struct buf *b, const struct srv_docket *d)
{
	if (!spool_name_ok(d->name))
		log_panic("srv_docket_format: bad name '%.40s'", d->name);
	if (memchr(d->copy, '\0', sizeof(d->copy)) == NULL)
		log_panic("srv_docket_format: copy identity not terminated");
	if (d->committed && d->part_mark > 0)
		log_panic("srv_docket_format: checkpoint in a committed docket");
	if (rec_addf(b, "committed", "%d", d->committed ? 1 : 0) < 0
	    || rec_add(b, "name", d->name) < 0 || rec_add(b, "copy", d->copy) < 0)
		return -1;
	if (d->part_mark > 0 && rec_addf(b, "part", "%lu %llu %08lx",
	    (unsigned long) d->part_mark, (unsigned long long) d->part_off,
	    (unsigned long) d->part_crc) < 0)
		return -1;
	return 0;
}
