/*++
 * NAME
 *	fuzz_dockets 1
 * SUMMARY
 *	libFuzzer target for the spool's docket snapshot and docket records
 * SYNOPSIS
 *	build-fuzz/fuzz_dockets [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The first octet of the input chooses what the rest is:
 *
 *	0: a snapshot file (spool/dkmap.h). dkmap_snap_parse() must never
 *	read past it (ASan); one it takes is encoded again and must parse
 *	again into the very same dockets and position, and one it rejects
 *	must leave the map empty.
 *
 *	1: journal lines. Each goes to dkmap_replay_line() as the spool's
 *	loader feeds them (until the first it rejects); whatever reaches the
 *	map is a docket the writer could have written (key and value within
 *	their limits).
 *
 *	2: a transaction's docket changes, drawn from the octets: formatted
 *	as records with dkmap_records(), timed, and replayed, they must give
 *	exactly what applying the changes in order gives, every line must
 *	be a journal line of at most JOURNAL_LINE_MAX octets, and nothing
 *	may apply before the group's last line.
 *
 *	In every mode, the map's ordered index must hold exactly its
 *	dockets, ordered and balanced (dkmap_check()), and a look-up by a
 *	prefix of a key must give what filtering every docket gives.
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/dkmap.h"
#include "spool/journal.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct journal_rec rec;

/* same_maps - 1 when a and b hold the same dockets */
static int same_maps(const struct dkmap *a, const struct dkmap *b, int times)
{
	const struct dkmap_ent **v;
	const struct dkmap_ent *e;
	size_t  n, i;
	int     ok;

	if (dkmap_count(a) != dkmap_count(b))
		return 0;
	v = dkmap_sorted(a, &n);
	ok = 1;
	for (i = 0; i < n && ok; i++) {
		e = dkmap_get(b, v[i]->key);
		ok = e != NULL && e->vlen == v[i]->vlen && memcmp(e->val, v[i]->val, e->vlen) == 0
		    && (!times || e->mtime == v[i]->mtime);
	}
	free(v);
	return ok;
}

/* index_agrees - 1 when m's index is sound and the dockets with a prefix
 * (the first half of a few keys) are those a filter of all finds */
static int index_agrees(const struct dkmap *m)
{
	const struct dkmap_ent **v, **w;
	char    pre[DKMAP_KEYMAX + 1];
	size_t  n, nw, i, j, k, plen;
	int     ok;

	if (dkmap_check(m) != 0)
		return 0;
	v = dkmap_sorted(m, &n);
	ok = 1;
	for (i = 0; i < n && i < 16 && ok; i++) {
		plen = strlen(v[i]->key) / 2;
		memcpy(pre, v[i]->key, plen);
		pre[plen] = '\0';
		w = dkmap_prefixed(m, pre, &nw);
		for (j = 0, k = 0; j < n && ok; j++)
			if (strncmp(v[j]->key, pre, plen) == 0)
				ok = k < nw && w[k++] == v[j];
		ok = ok && k == nw;
		free(w);
	}
	free(v);
	return ok;
}

/* fuzz_snapshot - mode 0 */
static void fuzz_snapshot(const uint8_t *p, size_t len)
{
	struct dkmap *m1 = dkmap_new(), *m2 = dkmap_new();
	struct dkmap_pos pos1, pos2;
	struct buf b = BUF_INIT(DKMAP_SNAP_MAX);
	char    err[128];

	if (dkmap_snap_parse(p, len, &pos1, m1, NULL, err, sizeof(err)) < 0) {
		if (dkmap_count(m1) != 0 || err[0] == '\0')
			abort();
		goto out;
	}
	if (dkmap_snap_encode(m1, &pos1, &b) < 0
	    || dkmap_snap_parse(buf_data(&b), b.len, &pos2, m2, NULL, err, sizeof(err)) < 0
	    || pos1.ino != pos2.ino || pos1.off != pos2.off || pos1.taillen != pos2.taillen
	    || memcmp(pos1.tail, pos2.tail, pos1.taillen) != 0 || !same_maps(m1, m2, 1)
	    || !index_agrees(m1))
		abort();
out:
	buf_release(&b);
	dkmap_free(m1);
	dkmap_free(m2);
}

/* fuzz_lines - mode 1 */
static void fuzz_lines(const uint8_t *p, size_t len)
{
	struct dkmap *m = dkmap_new();
	struct dkmap_replay *r = dkmap_replay_new(m, NULL);
	const struct dkmap_ent **v;
	const uint8_t *nl, *end = p + len;
	char    err[160];
	size_t  n, i;
	uint64_t off = 0;

	while (p < end && (nl = memchr(p, '\n', (size_t) (end - p))) != NULL) {
		if (dkmap_replay_line(r, (const char *) p, (size_t) (nl - p), off, err,
		    sizeof(err)) < 0)
			break;
		off += (uint64_t) (nl - p) + 1;
		p = nl + 1;
	}
	v = dkmap_sorted(m, &n);
	for (i = 0; i < n; i++)
		if (strlen(v[i]->key) == 0 || strlen(v[i]->key) > DKMAP_KEYMAX
		    || v[i]->vlen > DKMAP_VALMAX)
			abort();
	free(v);
	if (!index_agrees(m))
		abort();
	dkmap_replay_free(r);
	dkmap_free(m);
}

/* fuzz_records - mode 2: up to 8 changes of keys "k0".."k3" */
static void fuzz_records(const uint8_t *p, size_t len)
{
	struct dkmap_op ops[8];
	struct dkmap *want = dkmap_new(), *got = dkmap_new();
	struct dkmap_replay *r = dkmap_replay_new(got, NULL);
	struct buf b = BUF_INIT(DKMAP_GROUP_OCTETS / 2), l = BUF_INIT(2 * JOURNAL_LINE_MAX);
	static const char *const keys[] = { "k0", "k1 with space", "k\"2\\\n", "k3=" };
	const char *tm = "2026-11-23T19:30:00Z", *s, *nl;
	char    err[160];
	unsigned nrec, i;
	size_t  n = 0, vl, others;
	uint64_t off;

	if (len < 1)
		goto out;
	others = p[0] & 3;
	p++;
	len--;
	while (len >= 3 && n < 8) {
		ops[n].del = p[0] & 1;
		ops[n].key = keys[(p[0] >> 1) & 3];
		vl = (size_t) p[1] << 8 | p[2];
		p += 3;
		len -= 3;
		if (vl > len)
			vl = len;
		ops[n].val = p;
		ops[n].vlen = vl;
		p += vl;
		len -= vl;
		if (ops[n].del)
			(void) dkmap_del(want, ops[n].key);
		else
			dkmap_put(want, ops[n].key, ops[n].val, ops[n].vlen, 1795462200);
		n++;
	}
	if (n == 0 || dkmap_records(&b, ops, n, others, &nrec) < 0)
		goto out;
	for (s = (const char *) buf_data(&b), i = 0; i < nrec + others; i++) {
		buf_reset(&l);
		if (i < nrec) {
			nl = memchr(s, '\n', b.len - (size_t) (s - (const char *) buf_data(&b)));
			if (nl == NULL)
				abort();
			(void) buf_printf(&l, "%s ", tm);
			(void) buf_append(&l, s, (size_t) (nl - s));
			s = nl + 1;
			if (l.len + 1 > JOURNAL_LINE_MAX || journal_parse((char *) buf_data(&l), l.len,
			    &rec) < 0)
				abort();
		} else {
			(void) buf_printf(&l, "%s tick -", tm);
		}
		if (dkmap_replay_line(r, (char *) buf_data(&l), l.len, 0, err, sizeof(err)) < 0)
			abort();
		if (i + 1 < nrec + others && dkmap_count(got) != 0)
			abort();		/* applied before its last line */
	}
	if (dkmap_replay_pending(r, &off) || !same_maps(want, got, 1) || !index_agrees(got))
		abort();
out:
	buf_release(&b);
	buf_release(&l);
	dkmap_replay_free(r);
	dkmap_free(want);
	dkmap_free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_snapshot(data + 1, size - 1);
		break;
	case 1:
		fuzz_lines(data + 1, size - 1);
		break;
	default:
		fuzz_records(data + 1, size - 1);
		break;
	}
	return 0;
}
