/*++
 * NAME
 *	dkstore 3
 * SUMMARY
 *	the spool's docket files: snapshot, journal replay, old docket files
 * SYNOPSIS
 *	#include "spool/dkstore.h"
 * DESCRIPTION
 *	The journals are opened (all of them, each by name, then checked by
 *	inode) before a line is read, so a rotation while loading cannot
 *	make a reader skip a file: a reader beside the daemon starts again
 *	when a name no longer leads to the file it opened. Lines are read
 *	through a buffer of JOURNAL_LINE_MAX; a longer line is handed over
 *	cut (it fails to parse, which matters only when it claims to be a
 *	docket record), and an unfinished last line (no newline: written
 *	right now, or torn by a crash) is not read at all.
 *
 *	The old docket file, kept for conversion and for readers of an
 *	unconverted spool:
 *
 *	    niftpmail-docket 1
 *	    key ESCAPED-KEY          (str_escape form)
 *
 *	    VALUE OCTETS...
 *
 *	named after its key ([A-Za-z0-9_-], and '.' except first, kept,
 *	other octets %XX; cut to 160 plus '~' and the FNV-1a-64 of the key
 *	when longer than 180). A file whose name is not its key's name was
 *	never readable as a docket and is not read now.
 * DIAGNOSTICS
 *	"spool: dockets: 'FILE' ...: what is wrong: what to do".
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool/dkmap.h"
#include "spool/dkstore.h"
#include "spool/journal.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/sysio.h"

#define DKSTORE_TRIES		5	/* reader restarts when files moved */
#define DKSTORE_READ		65536
#define DKSTORE_JMAX		100000	/* journal files considered */
#define DKSTORE_LEGACY_HEAD	"niftpmail-docket 1\nkey "
#define DKSTORE_REMEDY		"restore it from a backup, or remove dockets.snap and " \
				"dockets.snap.1 to rebuild the dockets from the journals kept " \
				"(dockets older than the oldest journal are then lost)"

struct dkjfile {
	char	name[32];
	unsigned long num;		/* journal.NUM; 0 the current journal */
	int	fd;
	uint64_t ino, size;
};

/*
 * Snapshot files
 */

/* dkstore_read_snap - read and parse rootfd/name: 1 with *mp and *pos,
 * 0 missing, -1 unusable (why), -2 read error (errno) */
static int dkstore_read_snap(int rootfd, const char *name, const char *only,
	struct dkmap **mp, struct dkmap_pos *pos, char *why, size_t wlen)
{
	struct stat sb;
	unsigned char *data = NULL;
	ssize_t got;
	int     fd, ret = -2;
	struct dkmap *m;

	if ((fd = openat(rootfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -2;
	if (fstat(fd, &sb) < 0)
		goto out;
	if ((uint64_t) sb.st_size > DKMAP_SNAP_MAX) {
		snprintf(why, wlen, "too large");
		ret = -1;
		goto out;
	}
	data = xmalloc((size_t) sb.st_size + 1);
	if ((got = read_full(fd, data, (size_t) sb.st_size)) < 0)
		goto out;
	m = dkmap_new();
	if (dkmap_snap_parse(data, (size_t) got, pos, m, only, why, wlen) < 0) {
		dkmap_free(m);
		ret = -1;
		goto out;
	}
	*mp = m;
	ret = 1;
out:
	free(data);
	close(fd);
	return ret;
}

/* dkstore_snap_write - the new dockets.snap, durably */
int dkstore_snap_write(const char *dir, int rootfd, const void *p, size_t len, char *err,
	size_t errlen)
{
	char    tmp[4096], derr[256];
	const char *base;
	int     fd;

	if ((fd = durable_tmp_open(dir, "dksnap", tmp, sizeof(tmp), derr, sizeof(derr))) < 0) {
		snprintf(err, errlen, "spool: write 'dockets.snap': %s", derr);
		return -1;
	}
	base = strrchr(tmp, '/') + 1;
	/* like the journal (0640): the spool's group may read the queue
	 * offline (mailctl queue, stats) */
	(void) fchmod(fd, 0640);
	if (write_full(fd, p, len) < 0 || sys_fsync(fd) < 0) {
		snprintf(err, errlen, "spool: write '%s': %s", base, strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		snprintf(err, errlen, "spool: close '%s': %s", base, strerror(errno));
		goto fail;
	}
	/* the older one stays as the fallback: a reader finds one of them
	 * whole at any instant */
	if (sys_renameat(rootfd, DKSTORE_SNAP, rootfd, DKSTORE_SNAP1) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "spool: rename 'dockets.snap' to 'dockets.snap.1': %s",
		    strerror(errno));
		goto fail;
	}
	if (sys_renameat(rootfd, base, rootfd, DKSTORE_SNAP) < 0) {
		snprintf(err, errlen, "spool: rename '%s' to 'dockets.snap': %s", base,
		    strerror(errno));
		goto fail;
	}
	if (sys_fsync(rootfd) < 0) {
		snprintf(err, errlen, "spool: fsync '%s': %s", dir, strerror(errno));
		return -1;
	}
	return 0;
fail:
	(void) unlinkat(rootfd, base, 0);
	return -1;
}

/* dkstore_tail - the journal's octets before pos->off */
int dkstore_tail(int rootfd, struct dkmap_pos *pos, char *err, size_t errlen)
{
	struct stat sb;
	size_t  n = pos->off < DKMAP_TAILMAX ? (size_t) pos->off : DKMAP_TAILMAX;
	int     fd;

	pos->taillen = 0;
	if ((fd = openat(rootfd, "journal", O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "spool: open 'journal': %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || (uint64_t) sb.st_ino != pos->ino
	    || pread(fd, pos->tail, n, (off_t) (pos->off - n)) != (ssize_t) n) {
		if (errno == 0)
			errno = EIO;
		snprintf(err, errlen, "spool: read 'journal' before offset %llu: %s",
		    (unsigned long long) pos->off, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	pos->taillen = n;
	return 0;
}

/*
 * Journals
 */

static int dkstore_jcmp(const void *a, const void *b)
{
	const struct dkjfile *x = a, *y = b;

	/* oldest first: journal.N with the highest N, ..., journal (0) last */
	if (x->num == 0 || y->num == 0)
		return x->num == 0 ? (y->num == 0 ? 0 : 1) : -1;
	return x->num < y->num ? 1 : x->num > y->num ? -1 : 0;
}

/* dkstore_jclose - close and free the list */
static void dkstore_jclose(struct dkjfile *v, size_t n)
{
	size_t  i;

	for (i = 0; i < n; i++)
		if (v[i].fd >= 0)
			close(v[i].fd);
	free(v);
}

/* dkstore_journals - open every journal, oldest first; 0, or -1 */
static int dkstore_journals(int rootfd, struct dkjfile **vp, size_t *np, char *err,
	size_t errlen)
{
	struct dkjfile *v = NULL;
	size_t  n = 0, alloc = 0;
	struct dirent *e;
	struct stat sb;
	uint64_t num;
	DIR    *d;
	int     fd;

	if ((fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
	    || (d = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "spool: dockets: scan the spool directory: %s",
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL && n < DKSTORE_JMAX) {
		if (strcmp(e->d_name, "journal") == 0)
			num = 0;
		else if (strncmp(e->d_name, "journal.", 8) != 0
		    || str_to_u64(e->d_name + 8, 1, 999999999, &num) < 0)
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		str_copy(v[n].name, e->d_name, sizeof(v[n].name));
		v[n].num = (unsigned long) num;
		v[n].fd = -1;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), dkstore_jcmp);
	for (size_t i = 0; i < n; i++) {
		v[i].fd = openat(rootfd, v[i].name, O_RDONLY | O_CLOEXEC);
		if (v[i].fd < 0 && errno != ENOENT) {
			snprintf(err, errlen, "spool: dockets: open '%s': %s", v[i].name,
			    strerror(errno));
			dkstore_jclose(v, n);
			return -1;
		}
		if (v[i].fd >= 0 && fstat(v[i].fd, &sb) == 0) {
			v[i].ino = (uint64_t) sb.st_ino;
			v[i].size = (uint64_t) sb.st_size;
		}
	}
	*vp = v;
	*np = n;
	return 0;
}

/* dkstore_moved - 1 when a name no longer leads to the file opened (a
 * rotation or an operator while we opened them) */
static int dkstore_moved(int rootfd, const struct dkjfile *v, size_t n)
{
	struct stat sb;
	size_t  i;

	for (i = 0; i < n; i++) {
		if (fstatat(rootfd, v[i].name, &sb, 0) < 0) {
			if (v[i].fd >= 0)
				return 1;
		} else if (v[i].fd < 0 || (uint64_t) sb.st_ino != v[i].ino) {
			return 1;
		}
	}
	return 0;
}

/* dkstore_holds - 1 when f holds pos's tail just before pos->off */
static int dkstore_holds(const struct dkjfile *f, const struct dkmap_pos *pos)
{
	unsigned char b[DKMAP_TAILMAX];

	if (f->fd < 0 || f->size < pos->off)
		return 0;
	if (pos->taillen == 0)
		return 1;
	return pread(f->fd, b, pos->taillen, (off_t) (pos->off - pos->taillen))
	    == (ssize_t) pos->taillen && memcmp(b, pos->tail, pos->taillen) == 0;
}

/* dkstore_find - the index of the journal that pos is in: -1 none,
 * -2 the one of its inode does not hold what it should (edited) */
static long dkstore_find(const struct dkjfile *v, size_t n, const struct dkmap_pos *pos)
{
	size_t  i;

	for (i = 0; i < n; i++)
		if (v[i].fd >= 0 && v[i].ino == pos->ino)
			return dkstore_holds(&v[i], pos) ? (long) i : -2;
	/* a copied spool: other inodes, same octets (newest first) */
	if (pos->off == 0 || pos->taillen == 0)
		return -1;
	for (i = n; i-- > 0;)
		if (dkstore_holds(&v[i], pos))
			return (long) i;
	return -1;
}

/* dkstore_replay_file - the lines of f from offset from to its size as
 * opened; last: the current journal (a group still open at its end is
 * reported, not dropped). 0, or -1 with err. */
static int dkstore_replay_file(const struct dkjfile *f, uint64_t from, struct dkmap_replay *r,
	int last, struct dkstore_load *res, char *err, size_t errlen)
{
	char   *chunk = xmalloc(DKSTORE_READ), *line = xmalloc(JOURNAL_LINE_MAX + 1);
	char    why[160];
	uint64_t off = from, lstart = from;
	size_t  llen = 0, i, want;
	ssize_t got;
	int     ret = -1;

	while (off < f->size) {
		want = f->size - off < DKSTORE_READ ? (size_t) (f->size - off) : DKSTORE_READ;
		if ((got = pread(f->fd, chunk, want, (off_t) off)) < 0) {
			snprintf(err, errlen, "spool: dockets: read '%s': %s", f->name,
			    strerror(errno));
			goto out;
		}
		if (got == 0)
			break;		/* shorter than when opened: read what is there */
		for (i = 0; i < (size_t) got; i++) {
			if (chunk[i] != '\n') {
				if (llen <= JOURNAL_LINE_MAX)
					line[llen++] = chunk[i];
				continue;
			}
			if (dkmap_replay_line(r, line, llen, lstart, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "spool: dockets: '%s' offset %llu: %s: the "
				    "journal is damaged: repair or remove that line by hand (the "
				    "dockets of its transaction are then lost)", f->name,
				    (unsigned long long) lstart, why);
				goto out;
			}
			llen = 0;
			lstart = off + i + 1;
		}
		off += (uint64_t) got;
	}
	if (!last)
		dkmap_replay_break(r);
	else if (dkmap_replay_pending(r, &res->pending_off))
		res->pending = 1;
	ret = 0;
out:
	free(chunk);
	free(line);
	return ret;
}

/* dkstore_load_once - one attempt; 1 done, 0 try again (retry: a reader
 * beside the daemon, not at its last try: files may have moved), -1 error */
static int dkstore_load_once(int rootfd, const char *only, int retry,
	struct dkstore_load *res, char *err, size_t errlen)
{
	struct dkjfile *v = NULL;
	struct dkmap_replay *r = NULL;
	struct dkmap *m = NULL;
	char    why1[128] = "";
	size_t  n = 0, i;
	long    at = 0;
	int     rc, rc1, dfd, ret = -1;

	memset(res, 0, sizeof(*res));
	rc = dkstore_read_snap(rootfd, DKSTORE_SNAP, only, &m, &res->pos, res->snap_why,
	    sizeof(res->snap_why));
	if (rc == 1) {
		res->snap = 1;
	} else if (rc == -2) {
		snprintf(err, errlen, "spool: dockets: read 'dockets.snap': %s", strerror(errno));
		return -1;
	} else {
		res->snap_bad = rc == -1;
		rc1 = dkstore_read_snap(rootfd, DKSTORE_SNAP1, only, &m, &res->pos, why1,
		    sizeof(why1));
		if (rc1 == 1) {
			res->snap = 2;
		} else if (rc1 == -2) {
			snprintf(err, errlen, "spool: dockets: read 'dockets.snap.1': %s",
			    strerror(errno));
			return -1;
		} else if (rc == -1 || rc1 == -1) {
			if (retry && rc1 == 0)
				return 0;	/* being replaced right now? */
			errno = EBADMSG;
			snprintf(err, errlen, "spool: dockets: 'dockets.snap' is %s%s and "
			    "'dockets.snap.1' is %s%s: the live dockets cannot be read: %s",
			    rc == -1 ? "unusable: " : "missing", rc == -1 ? res->snap_why : "",
			    rc1 == -1 ? "unusable: " : "missing", rc1 == -1 ? why1 : "",
			    DKSTORE_REMEDY);
			return -1;
		}
	}
	dfd = openat(rootfd, "dockets", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	res->legacy = dkstore_legacy_count(dfd);
	if (m == NULL) {
		m = dkmap_new();
		if (res->legacy > 0) {
			/* a spool of the previous version, not yet converted */
			if (dkstore_legacy_scan(dfd, only, m, NULL, NULL, err, errlen) < 0) {
				close(dfd);
				goto out;
			}
			res->legacy_base = 1;
		}
	}
	if (dfd >= 0)
		close(dfd);
	if (dkstore_journals(rootfd, &v, &n, err, errlen) < 0)
		goto out;
	if (retry && dkstore_moved(rootfd, v, n)) {
		ret = 0;
		goto out;
	}
	if (res->snap) {
		if ((at = dkstore_find(v, n, &res->pos)) < 0) {
			if (retry) {
				ret = 0;
				goto out;
			}
			errno = EBADMSG;
			snprintf(err, errlen, "spool: dockets: '%s' covers the journal of inode %llu "
			    "up to offset %llu, but %s: %s", res->snap == 1 ? DKSTORE_SNAP
			    : DKSTORE_SNAP1, (unsigned long long) res->pos.ino,
			    (unsigned long long) res->pos.off, at == -2 ? "that journal does not "
			    "hold there what it held (edited or cut by hand?)" : "no journal is that "
			    "one (removed by hand?)", DKSTORE_REMEDY);
			goto out;
		}
	}
	r = dkmap_replay_new(m, only);
	for (i = (size_t) at; i < n; i++) {
		if (v[i].fd < 0)
			continue;
		/* Unconverted docket files and no snapshot: no record can have
		 * been written (the spool takes none before the conversion,
		 * which writes the snapshot first), so the journals of an
		 * older version are not read through for nothing. */
		if (!res->legacy_base && dkstore_replay_file(&v[i], i == (size_t) at && res->snap
		    ? res->pos.off : 0, r, v[i].num == 0, res, err, errlen) < 0)
			goto out;
		res->journals++;
		if (v[i].num == 0) {
			res->jino = v[i].ino;
			res->jsize = v[i].size;
		}
	}
	dkmap_replay_counts(r, &res->records, &res->dropped);
	res->m = m;
	m = NULL;
	ret = 1;
out:
	dkmap_replay_free(r);
	dkmap_free(m);
	if (v)
		dkstore_jclose(v, n);
	return ret;
}

/* dkstore_load - the dockets of spool dir */
int dkstore_load(const char *dir, const char *only, int rdonly, struct dkstore_load *res,
	char *err, size_t errlen)
{
	int     rootfd, rc = 0, try;

	if ((rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "spool: open '%s': %s", dir, strerror(errno));
		return -1;
	}
	for (try = 0; try < DKSTORE_TRIES && rc == 0; try++) {
		if (try > 0)
			usleep(20000);
		rc = dkstore_load_once(rootfd, only, rdonly && try < DKSTORE_TRIES - 1, res, err,
		    errlen);
	}
	close(rootfd);
	if (rc == 0) {
		errno = EAGAIN;
		snprintf(err, errlen, "spool: dockets: the journals of '%s' kept moving while "
		    "read: try again", dir);
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

/*
 * Legacy docket files (the previous version: one file per docket)
 */

/* dkstore_fnv - FNV-1a 64 of s */
static uint64_t dkstore_fnv(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

/* dkstore_legacy_name - the legacy file name of key */
char *dkstore_legacy_name(const char *key)
{
	struct buf b = BUF_INIT(4 * DKMAP_KEYMAX + 64);
	size_t  i, cut = 0;
	char   *s;

	for (i = 0; key[i]; i++) {
		unsigned char c = (unsigned char) key[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		    || c == '_' || c == '-' || (c == '.' && i > 0))
			(void) buf_putc(&b, c);
		else
			(void) buf_printf(&b, "%%%02X", c);
		if (b.len <= 160)
			cut = b.len;
	}
	if (b.len > 180) {
		b.len = cut;
		(void) buf_printf(&b, "~%016llx", (unsigned long long) dkstore_fnv(key));
	}
	s = xstrdup(buf_cstr(&b));
	buf_release(&b);
	return s;
}

/* dkstore_legacy_parse - text of file name: 1 with key (into kbuf) and
 * the value's offset, 0 not a docket of that name */
static int dkstore_legacy_parse(const char *name, const char *text, size_t len,
	char *kbuf, size_t klen, size_t *voff)
{
	const size_t hl = sizeof(DKSTORE_LEGACY_HEAD) - 1;
	const char *p, *nl;
	size_t  n, used, i;
	char   *fn;
	int     ok;

	if (len < hl + 3 || memcmp(text, DKSTORE_LEGACY_HEAD, hl) != 0)
		return 0;
	p = text + hl;
	if ((nl = memchr(p, '\n', len - hl)) == NULL || (size_t) (nl - text) + 2 > len
	    || nl[1] != '\n')
		return 0;
	if (*p == '"') {
		if (str_unescape(kbuf, klen, p, (size_t) (nl - p), &n, &used, NULL) < 0
		    || used != (size_t) (nl - p))
			return 0;
	} else {
		n = (size_t) (nl - p);
		if (n == 0 || n >= klen)
			return 0;
		for (i = 0; i < n; i++)
			if (p[i] < '!' || p[i] > '~' || p[i] == '"' || p[i] == '=' || p[i] == '\\')
				return 0;
		memcpy(kbuf, p, n);
		kbuf[n] = '\0';
	}
	if (n == 0 || n > DKMAP_KEYMAX || strlen(kbuf) != n)
		return 0;
	fn = dkstore_legacy_name(kbuf);
	ok = strcmp(fn, name) == 0;
	free(fn);
	*voff = (size_t) (nl - text) + 2;
	return ok && len - *voff <= DKMAP_VALMAX;
}

/* dkstore_legacy_one - read dockets/name into m; 1 a docket, 0 not,
 * -1 gone meanwhile or unreadable (errno) */
static int dkstore_legacy_one(int dfd, const char *name, struct dkmap *m)
{
	char    kbuf[4 * DKMAP_KEYMAX + 8];
	unsigned char *text;
	struct stat sb;
	size_t  voff;
	ssize_t got;
	int     fd, ok;

	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return 0;
	}
	if ((uint64_t) sb.st_size > DKMAP_VALMAX + 8 * DKMAP_KEYMAX) {
		close(fd);
		return 0;
	}
	text = xmalloc((size_t) sb.st_size + 1);
	got = read_full(fd, text, (size_t) sb.st_size);
	close(fd);
	ok = got >= 0 && dkstore_legacy_parse(name, (const char *) text, (size_t) got, kbuf,
	    sizeof(kbuf), &voff);
	if (ok)
		dkmap_put(m, kbuf, text + voff, (size_t) got - voff, (int64_t) sb.st_mtime);
	free(text);
	return ok;
}

/* dkstore_legacy_scan - read the legacy files into m */
long dkstore_legacy_scan(int dfd, const char *only, struct dkmap *m, dkstore_legacy_fn *fn,
	void *arg, char *err, size_t errlen)
{
	struct dirent *e;
	DIR    *d;
	char   *name;
	long    n = 0;
	int     fd, rc;

	if (dfd < 0)
		return 0;
	if (only != NULL) {
		name = dkstore_legacy_name(only);
		rc = dkstore_legacy_one(dfd, name, m);
		free(name);
		return rc > 0;
	}
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
	    || (d = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "spool: dockets: scan 'dockets': %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
			continue;
		rc = dkstore_legacy_one(dfd, e->d_name, m);
		if (rc < 0 && errno == ENOENT)
			continue;
		if (rc > 0)
			n++;
		if (fn)
			fn(arg, e->d_name, rc > 0);
	}
	closedir(d);
	return n;
}

/* dkstore_legacy_count - regular files, not dot-files, in dockets/ */
unsigned dkstore_legacy_count(int dfd)
{
	struct dirent *e;
	struct stat sb;
	unsigned n = 0;
	DIR    *d;
	int     fd;

	if (dfd < 0)
		return 0;
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
	    || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type == DT_REG || (e->d_type == DT_UNKNOWN
		    && fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0
		    && S_ISREG(sb.st_mode)))
			n++;
	}
	closedir(d);
	return n;
}
