/*++
 * NAME
 *	pickup 3
 * SUMMARY
 *	mailrelayd: taking letters dropped into out/
 * SYNOPSIS
 *	#include "relay/pickup.h"
 * DESCRIPTION
 *	See pickup.h.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mailchannel/letter.h"
#include "relay/inbound.h"
#include "relay/pickup.h"
#include "relay/relayd.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"
#include "util/workq.h"

#define PICKUP_COPY_CHUNK	(64 * 1024)	/* octets read at a time from a drop */
#define PICKUP_ADOPT_PREFIX	".adopt."	/* adopt()'s copies: .adopt.PID.JOB */

/* A look at a drop: the first look of a stability interval, or what the
 * drop rule passed (the worker checks that it still is after reading). */
struct snap {
	int	on;			/* 0: none (renamed in, or asked for: no check) */
	dev_t	dev;
	ino_t	ino;
	off_t	size;
	struct timespec mtim;
};

/* A claim asked for while PICKUP_CLAIMS_MAX are in flight: a name, not a job. */
struct claim_wait {
	char   *file;
	pickup_done_fn *cb;
	void   *cb_arg;
	struct snap vf;
};

/* A drop being read on a worker. */
struct claim_job {
	struct claim_job *next;
	struct pickup *p;
	char	file[NAME_MAX + 1];
	char	path[PATH_MAX];
	pickup_done_fn *cb;
	void   *cb_arg;
	struct snap vf;
	uint64_t max;			/* [limits] max_letter_size when it started (0: none) */
	/* filled by the worker */
	struct letter *lt;
	enum letter_status st;
	int	err_no;
	int	toobig;			/* larger than max: refused unread (lerr says so) */
	int	changed;		/* vf.on and the file changed or got a writer */
	uint32_t crc;
	uint64_t size;
	char	lerr[LETTER_ERRLEN];
};

/* A claim being made durable. */
struct claim_ctx {
	struct pickup *p;
	char	name[SPOOL_NAMELEN];
	int	corrupt;
	char	reason[LETTER_ERRLEN + SPOOL_NAMELEN + 32];	/* corrupt: the callback's */
	pickup_done_fn *cb;
	void   *cb_arg;
};

/* A name in out/ the pickup knows: a drop waiting for the drop rule, or
 * one being claimed (events about it are then our own reading). */
enum drop_state { DROP_WAIT, DROP_CLAIM };

struct drop {
	struct pickup *p;
	struct drop *hnext;		/* hash chain */
	struct drop *prev, *next;	/* every drop */
	enum drop_state state;
	int	writer;			/* a writer has it open: IN_MODIFY since the last
					 * IN_CLOSE_WRITE, or the lease probe said so */
	int	opens;			/* IN_OPEN minus IN_CLOSE_* seen (>= 0) */
	int	nolease;		/* the lease probe is not allowed on it */
	int	logged;			/* "still open for writing" said */
	int	have_ref;
	struct snap ref;		/* the first look of the stability interval */
	uint64_t timer;			/* the second look */
	int64_t	since;			/* known since (loop ms) */
	char	name[];
};

struct pickup {
	struct relayd *rd;
	struct claim_job *jobs;		/* drops being read */
	int	nclaims;		/* jobs and claims in flight (<= PICKUP_CLAIMS_MAX) */
	struct claim_wait *pend;	/* claims asked while at the limit (FIFO) */
	size_t	pend_head, pend_n;
	int64_t	last_scan;
	/* the out/ watch and the drops known by name */
	int	ifd;			/* inotify, or -1 */
	int	watched;		/* the watch was tried */
	uint64_t scan_timer;		/* a scan soon (after an overflow) */
	struct drop **hash;
	size_t	nhash, ndrops, nwait;
	struct drop *all;
};

struct pickup *pickup_new(struct relayd *rd)
{
	struct pickup *p = xcalloc(1, sizeof(*p));

	p->rd = rd;
	p->ifd = -1;
	return p;
}

static void drop_free_all(struct pickup *p);

void pickup_free(struct pickup *p)
{
	size_t  i;

	if (p == NULL)
		return;
	for (i = p->pend_head; i < p->pend_n; i++)
		free(p->pend[i].file);
	free(p->pend);
	drop_free_all(p);
	loop_timer_del(p->rd->loop, p->scan_timer);
	if (p->ifd >= 0) {
		loop_fd_del(p->rd->loop, p->ifd);
		close(p->ifd);
	}
	free(p);
}

/* --- the drops known by name ----------------------------------------------- */

static size_t drop_hash(const struct pickup *p, const char *name)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char) *name) * 16777619u;
	return h & (p->nhash - 1);
}

static struct drop *drop_find(const struct pickup *p, const char *name)
{
	struct drop *d;

	if (p->nhash == 0)
		return NULL;
	for (d = p->hash[drop_hash(p, name)]; d != NULL; d = d->hnext)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static struct drop *drop_add(struct pickup *p, const char *name, enum drop_state state)
{
	size_t  len = strlen(name), i, h;
	struct drop *d, *next;

	if (p->ndrops >= 2 * p->nhash) {
		struct drop **old = p->hash;
		size_t  nold = p->nhash;

		p->nhash = nold ? 2 * nold : 256;
		p->hash = xcalloc(p->nhash, sizeof(*p->hash));
		for (i = 0; i < nold; i++)
			for (d = old[i]; d != NULL; d = next) {
				next = d->hnext;
				h = drop_hash(p, d->name);
				d->hnext = p->hash[h];
				p->hash[h] = d;
			}
		free(old);
	}
	d = xcalloc(1, sizeof(*d) + len + 1);
	memcpy(d->name, name, len + 1);
	d->p = p;
	d->state = state;
	d->since = loop_now_ms();
	h = drop_hash(p, name);
	d->hnext = p->hash[h];
	p->hash[h] = d;
	d->next = p->all;
	if (p->all)
		p->all->prev = d;
	p->all = d;
	p->ndrops++;
	if (state == DROP_WAIT)
		p->nwait++;
	return d;
}

static void drop_state(struct pickup *p, struct drop *d, enum drop_state state)
{
	if (d->state == DROP_WAIT)
		p->nwait--;
	if (state == DROP_WAIT)
		p->nwait++;
	d->state = state;
	if (state == DROP_CLAIM) {
		loop_timer_del(p->rd->loop, d->timer);
		d->timer = 0;
	}
}

static void drop_del(struct pickup *p, struct drop *d)
{
	struct drop **pp;

	loop_timer_del(p->rd->loop, d->timer);
	for (pp = &p->hash[drop_hash(p, d->name)]; *pp != d; pp = &(*pp)->hnext)
		;
	*pp = d->hnext;
	if (d->prev)
		d->prev->next = d->next;
	else
		p->all = d->next;
	if (d->next)
		d->next->prev = d->prev;
	p->ndrops--;
	if (d->state == DROP_WAIT)
		p->nwait--;
	free(d);
}

static void drop_free_all(struct pickup *p)
{
	while (p->all != NULL)
		drop_del(p, p->all);
	free(p->hash);
	p->hash = NULL;
	p->nhash = 0;
}

static void snap_set(struct snap *s, const struct stat *st)
{
	s->on = 1;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtim = st->st_mtim;
}

/* snap_same_stat - two looks at one file saw the same inode, size and mtime */
static int snap_same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
	    && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int snap_same(const struct snap *s, const struct stat *st)
{
	return s->on && s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size
	    && s->mtim.tv_sec == st->st_mtim.tv_sec && s->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

/* lease_probe - does anyone have fd's file open for writing? 1 yes, 0 no,
 * -1 the kernel will not say (errno). A read lease is refused (EAGAIN)
 * while a descriptor is open for writing; it is given back at once. */
static int lease_probe(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		(void) fcntl(fd, F_SETLEASE, F_UNLCK);
		return 0;
	}
	return errno == EAGAIN ? 1 : -1;
}

int pickup_busy(const struct pickup *p)
{
	return p != NULL && p->nclaims > 0;
}

static void claims_more(struct pickup *p);

/* slot_free - a claim ended: its slot serves a waiting one */
static void slot_free(struct pickup *p)
{
	p->nclaims--;
	claims_more(p);
}

static void claim_done(void *arg, int ok, const char *err)
{
	struct claim_ctx *cc = arg;
	struct pickup *p = cc->p;

	sysio_mark("pickup %s %s", cc->name, ok && !cc->corrupt ? "ok" : "refused");
	if (ok && !cc->corrupt)
		inbound_accepted(p->rd, cc->name, 1);
	if (cc->cb != NULL)
		cc->cb(cc->cb_arg, ok && !cc->corrupt, cc->name,
		    !ok ? err : cc->corrupt ? cc->reason : NULL);
	free(cc);
	slot_free(p);		/* the slot is held until the claim is durable */
}

/* crc_file - CRC-32 and size of fd from its start */
static int crc_file(int fd, uint32_t *crc, uint64_t *size)
{
	unsigned char b[PICKUP_COPY_CHUNK];
	unsigned long c = crc32(0L, Z_NULL, 0);
	uint64_t n0 = 0;
	ssize_t n;

	for (;;) {
		n = pread(fd, b, sizeof(b), (off_t) n0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		c = crc32(c, b, (uInt) n);
		n0 += (uint64_t) n;
	}
	*crc = (uint32_t) c;
	*size = n0;
	return 0;
}

/* adopt - out/FILE (fd, opened from cj->path; first, its fstat before it
 * was parsed), another user's, becomes a file of ours with the same
 * content: with fs.protected_hardlinks (the
 * Linux default) a daemon that is not root may not link another user's
 * file, and the claim is a link (spool_txn_claim). The content is
 * copied into a dot-file of out/ (never looked at), synced, and swapped
 * with out/FILE in one step (renameat2 RENAME_EXCHANGE); the original,
 * now under the dot-name, is removed. The copy must be what was parsed
 * and will be journalled: the size and CRC-32 in cj, and a file that did
 * not change since the first look (first). When out/FILE changed before
 * or while it was copied, or was replaced meanwhile (another inode came
 * out of the swap: the swap is undone), cj->changed is set and the drop
 * waits again. A crash leaves at worst a dot-file (removed at the next
 * start: pickup_scan): out/FILE is the original or its synced copy, and
 * the claim's fsync of out/ makes the swap durable. 0, or -1 with errno
 * (the drop is as it was). */
static int adopt(struct claim_job *cj, int fd, const struct stat *first)
{
	char    tmp[PATH_MAX], *slash;
	unsigned char b[PICKUP_COPY_CHUNK];
	const struct stat *before = first;
	struct stat after, got;
	unsigned long crc = crc32(0L, Z_NULL, 0);
	uint64_t off = 0;
	ssize_t n;
	int     out, saved;

	if (str_copy(tmp, cj->path, sizeof(tmp)) >= sizeof(tmp)
	    || (slash = strrchr(tmp, '/')) == NULL) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(slash + 1, sizeof(tmp) - (size_t) (slash + 1 - tmp),
	    PICKUP_ADOPT_PREFIX "%ld.%lx", (long) getpid(), (unsigned long) (uintptr_t) cj);
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640)) < 0)
		return -1;
	for (;;) {
		n = pread(fd, b, sizeof(b), (off_t) off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_full(out, b, (size_t) n) < 0)
			break;
		crc = crc32(crc, b, (uInt) n);
		off += (uint64_t) n;
	}
	if (n != 0 || fsync(out) < 0) {
		saved = errno;
		close(out);
		(void) unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(out) < 0) {
		saved = errno;
		(void) unlink(tmp);
		errno = saved;
		return -1;
	}
	/* the copy is the letter parsed (size and CRC journalled), of a file
	 * that did not change since it was first looked at */
	if (fstat(fd, &after) < 0 || !snap_same_stat(before, &after)
	    || off != (uint64_t) after.st_size || off != cj->size
	    || (uint64_t) after.st_size != cj->size || (uint32_t) crc != cj->crc) {
		(void) unlink(tmp);
		cj->changed = 1;
		return 0;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, cj->path, RENAME_EXCHANGE) < 0) {
		saved = errno;
		(void) unlink(tmp);
		errno = saved;
		return -1;
	}
	/* tmp names what was out/FILE: the file copied, unless it was
	 * replaced since it was opened */
	if (lstat(tmp, &got) < 0 || got.st_dev != before->st_dev || got.st_ino != before->st_ino) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, cj->path, RENAME_EXCHANGE) == 0)
			(void) unlink(tmp);	/* our copy, out/FILE the new one again */
		cj->changed = 1;
		return 0;
	}
	(void) unlink(tmp);
	return 0;
}

static void claim_work(void *arg)
{
	struct claim_job *cj = arg;
	struct stat st, first;
	uid_t   owner;
	int     fd;

	/* O_NONBLOCK: a FIFO put in place of the file does not hang a
	 * worker; O_NOFOLLOW: a symbolic link is not a drop */
	if ((fd = open(cj->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) < 0) {
		cj->err_no = errno;
		cj->st = LETTER_EIO;
		snprintf(cj->lerr, sizeof(cj->lerr), "open 'out/%s': %s", cj->file,
		    strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0) {
		cj->err_no = errno;
		cj->st = LETTER_EIO;
		snprintf(cj->lerr, sizeof(cj->lerr), "stat 'out/%s': %s", cj->file,
		    strerror(errno));
		close(fd);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		cj->err_no = EINVAL;
		cj->st = LETTER_EIO;
		snprintf(cj->lerr, sizeof(cj->lerr), "open 'out/%s': not a regular file", cj->file);
		close(fd);
		return;
	}
	owner = st.st_uid;
	first = st;			/* the file as it was when it was parsed */
	if (cj->max > 0 && (uint64_t) st.st_size > cj->max) {
		/* not read: refused whole and moved aside as a malformed drop
		 * is (its writer may have meant it; nothing is deleted) */
		cj->toobig = 1;
		cj->st = LETTER_ECAP;
		snprintf(cj->lerr, sizeof(cj->lerr), "letter too large: more than %llu octets"
		    " ([limits] max_letter_size; the file has %llu)", (unsigned long long) cj->max,
		    (unsigned long long) st.st_size);
	} else if ((cj->lt = letter_open_fd(fd, &cj->st, cj->lerr, sizeof(cj->lerr))) != NULL
	    && crc_file(fd, &cj->crc, &cj->size) < 0) {
		cj->err_no = errno;
		cj->st = LETTER_EIO;
		snprintf(cj->lerr, sizeof(cj->lerr), "read 'out/%s': %s", cj->file,
		    strerror(errno));
		letter_free(cj->lt);
		cj->lt = NULL;
	}
	/* a drop taken by the rule for files written in place: what was read
	 * must be what the rule passed, with still no writer */
	if (cj->vf.on && !(cj->lt == NULL && cj->st == LETTER_EIO)
	    && (fstat(fd, &st) < 0 || !snap_same(&cj->vf, &st)
	    || (cj->lt != NULL && cj->size != (uint64_t) st.st_size)
	    || lease_probe(fd) == 1))
		cj->changed = 1;
	/* another user's drop (root's, say, to a daemon that runs as its
	 * user): the claim's link would be refused; a copy of ours is taken */
	if (!cj->changed && !(cj->lt == NULL && cj->st == LETTER_EIO) && geteuid() != 0
	    && owner != geteuid()
	    && ((cj->lt == NULL && crc_file(fd, &cj->crc, &cj->size) < 0)
	    || adopt(cj, fd, &first) < 0)) {
		/* a refused drop is summed only here: adopt() copies what was
		 * summed (moved to corrupt/ by the same claim's link) */
		cj->err_no = errno;
		snprintf(cj->lerr, sizeof(cj->lerr), "take over 'out/%s' (another user's): %s",
		    cj->file, strerror(errno));
		if (cj->lt != NULL)
			letter_free(cj->lt);
		cj->lt = NULL;
		cj->st = LETTER_EIO;
	}
	close(fd);
}

static void watch_drain(struct pickup *p);
static void drop_arm(struct pickup *p, struct drop *d);

/* claim_ended - out/FILE is no longer being claimed: forget it, or let it
 * wait again (again: it changed while being read) */
static void claim_ended(struct pickup *p, const char *file, int again)
{
	struct drop *d = drop_find(p, file);

	if (d == NULL || d->state != DROP_CLAIM)
		return;
	if (!again || p->rd->stopping) {
		drop_del(p, d);
		return;
	}
	drop_state(p, d, DROP_WAIT);
	d->writer = 0;
	d->opens = 0;
	drop_arm(p, d);
}

static void claim_job_done(void *arg)
{
	struct claim_job *cj = arg, **pp;
	struct pickup *p = cj->p;
	struct relayd *rd = p->rd;
	struct claim_ctx *cc;
	struct spool_txn *t;
	struct inbound in;
	char    err[RELAYD_ERRLEN], from[NAME_MAX + 8];
	const char *kv[4];

	rd->jobs--;
	for (pp = &p->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cj) {
			*pp = cj->next;
			break;
		}
	/* the worker's own open and close of the file are events about a
	 * drop being claimed: read them while it still is */
	watch_drain(p);
	if (cj->changed) {
		/* written to while it was read: it waits again (not an error) */
		log_debug("drop 'out/%s' changed while it was read: it waits again", cj->file);
		claim_ended(p, cj->file, 1);
		if (cj->cb)
			cj->cb(cj->cb_arg, 0, NULL, "the drop changed while it was read");
		slot_free(p);
		goto out;
	}
	if (cj->lt == NULL && cj->st == LETTER_EIO) {
		if (cj->err_no != ENOENT)
			log_error("pick up 'out/%s': %s", cj->file, cj->lerr);
		claim_ended(p, cj->file, 0);
		if (cj->cb)
			cj->cb(cj->cb_arg, 0, NULL, cj->lerr);
		slot_free(p);
		goto out;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->p = p;
	cc->cb = cj->cb;
	cc->cb_arg = cj->cb_arg;
	t = spool_txn_new(rd->sp);
	/* submit.* drops are mailctl submit's (doc/relay.md): from=submit */
	if (strncmp(cj->file, "submit.", 7) == 0)
		str_copy(from, "submit", sizeof(from));
	else
		snprintf(from, sizeof(from), "out/%s", cj->file);
	if (cj->lt == NULL) {
		cc->corrupt = 1;
		if (spool_txn_claim(t, cj->file, SPOOL_CORRUPT, cc->name, sizeof(cc->name), err,
		    sizeof(err)) < 0)
			goto fail;
		log_warn("drop 'out/%s' %s: %s (moved to 'corrupt/%s')", cj->file,
		    cj->toobig ? "refused" : "is not a letter", cj->lerr, cc->name);
		snprintf(cc->reason, sizeof(cc->reason), "%s (moved to corrupt/%s)",
		    cj->toobig ? cj->lerr : "malformed letter", cc->name);
		kv[0] = "from";
		kv[1] = from;
		kv[2] = "reason";
		kv[3] = cj->lerr;
		spool_txn_journal(t, "corrupt", cc->name, kv, 2);
	} else {
		memset(&in, 0, sizeof(in));
		in.from = from;
		in.size = cj->size;
		in.crc = cj->crc;
		if (inbound_claim(rd, t, cj->file, &in, cj->lt, cc->name, sizeof(cc->name), err,
		    sizeof(err)) < 0)
			goto fail;
	}
	claim_ended(p, cj->file, 0);		/* renamed out of out/ */
	spool_txn_submit(t, claim_done, cc);	/* it frees the slot */
	goto out;
fail:
	/* ENOENT: taken meanwhile (the rename is the claim) */
	if (errno != ENOENT)
		log_error("pick up 'out/%s': %s", cj->file, err);
	spool_txn_abort(t);
	free(cc);
	claim_ended(p, cj->file, 0);
	if (cj->cb)
		cj->cb(cj->cb_arg, 0, NULL, err);
	slot_free(p);
out:
	if (cj->lt)
		letter_free(cj->lt);
	free(cj);
}

/* drop_name_ok - a name the pickup may take: not a dot-file, no '/' */
static int drop_name_ok(const char *file)
{
	return file[0] != '.' && file[0] != '\0' && strchr(file, '/') == NULL
	    && strlen(file) <= NAME_MAX;
}

/* claim_start - read out/FILE on a worker and claim it (vf: the look the
 * drop rule passed, checked again after the read; NULL: none) */
static int claim_start(struct pickup *p, const char *file, pickup_done_fn *cb, void *cb_arg,
	const struct snap *vf, char *err, size_t errlen)
{
	struct relayd *rd = p->rd;
	struct claim_job *cj;
	struct drop *d;
	size_t  i;

	for (cj = p->jobs; cj != NULL; cj = cj->next)
		if (strcmp(cj->file, file) == 0 && (cb == NULL || cj->cb == NULL)) {
			if (cb == NULL)
				return 0;		/* already being read */
			/* a pickup request for a file a scan is reading: answer it
			 * from that job */
			cj->cb = cb;
			cj->cb_arg = cb_arg;
			return 0;
		}
	if (cb != NULL)
		for (i = p->pend_head; i < p->pend_n; i++)
			if (p->pend[i].cb == NULL && strcmp(p->pend[i].file, file) == 0) {
				/* waiting for a slot already: answer from that claim */
				p->pend[i].cb = cb;
				p->pend[i].cb_arg = cb_arg;
				return 0;
			}
	if ((d = drop_find(p, file)) == NULL)
		d = drop_add(p, file, DROP_CLAIM);
	else
		drop_state(p, d, DROP_CLAIM);
	if (p->nclaims >= PICKUP_CLAIMS_MAX) {
		/* started when a slot frees (a copy of the name, not a job) */
		p->pend = xrealloc(p->pend, sizeof(*p->pend) * (p->pend_n + 1));
		p->pend[p->pend_n].file = xstrdup(file);
		p->pend[p->pend_n].cb = cb;
		p->pend[p->pend_n].cb_arg = cb_arg;
		if (vf != NULL)
			p->pend[p->pend_n].vf = *vf;
		else
			memset(&p->pend[p->pend_n].vf, 0, sizeof(p->pend[p->pend_n].vf));
		p->pend_n++;
		return 0;
	}
	cj = xcalloc(1, sizeof(*cj));
	cj->p = p;
	str_copy(cj->file, file, sizeof(cj->file));
	if (spool_path(rd->sp, SPOOL_OUT, file, cj->path, sizeof(cj->path)) == NULL) {
		free(cj);
		drop_del(p, d);
		errno = ENAMETOOLONG;
		snprintf(err, errlen, "claim 'out/%s': name too long", file);
		return -1;
	}
	cj->cb = cb;
	cj->cb_arg = cb_arg;
	if (vf != NULL)
		cj->vf = *vf;
	cj->max = rd->conf->max_letter_size;
	cj->next = p->jobs;
	p->jobs = cj;
	p->nclaims++;
	rd->jobs++;
	workq_submit(rd->wq, claim_work, claim_job_done, cj);
	return 0;
}

int pickup_claim(struct pickup *p, const char *file, pickup_done_fn *cb, void *cb_arg,
	char *err, size_t errlen)
{
	struct drop *d;

	if (!drop_name_ok(file)) {
		errno = EINVAL;
		snprintf(err, errlen, "claim 'out/%.*s': not a drop file name", NAME_MAX, file);
		return -1;
	}
	if (cb != NULL)
		return claim_start(p, file, cb, cb_arg, NULL, err, errlen);
	/* a notice from an out/ watch of the caller's: the pickup's own
	 * watch has the same event, with its kind */
	if (p->ifd >= 0) {
		watch_drain(p);
		return 0;
	}
	/* no watch of our own: the event's kind is unknown, so the drop rule
	 * for a file found by a scan applies */
	if (p->rd->stopping || strncmp(file, "submit.", 7) == 0)
		return 0;
	if ((d = drop_find(p, file)) == NULL) {
		if (p->nwait >= PICKUP_WATCH_MAX)
			return 0;		/* a later scan finds it */
		d = drop_add(p, file, DROP_WAIT);
	} else if (d->state != DROP_WAIT)
		return 0;
	d->writer = 0;
	drop_arm(p, d);
	return 0;
}

/* claims_more - start claims that waited for a free slot */
static void claims_more(struct pickup *p)
{
	char    err[RELAYD_ERRLEN];

	while (p->nclaims < PICKUP_CLAIMS_MAX && p->pend_head < p->pend_n) {
		struct claim_wait w = p->pend[p->pend_head++];

		if (p->rd->stopping) {
			/* left in out/: taken at the next start */
			claim_ended(p, w.file, 0);
			if (w.cb)
				w.cb(w.cb_arg, 0, NULL, "mail relay shutting down");
			free(w.file);
			continue;
		}
		if (claim_start(p, w.file, w.cb, w.cb_arg, w.vf.on ? &w.vf : NULL, err,
		    sizeof(err)) < 0) {
			if (errno != ENOENT)
				log_error("pick up 'out/%s': %s", w.file, err);
			if (w.cb)
				w.cb(w.cb_arg, 0, NULL, err);
		}
		free(w.file);
	}
	if (p->pend_head >= p->pend_n) {
		free(p->pend);
		p->pend = NULL;
		p->pend_head = p->pend_n = 0;
	}
}

/* --- the drop rule for files written in place ---------------------------------- */

static void drop_check(struct loop *loop, void *arg);

/* drop_arm - first look of a stability interval; the second look (and the
 * writer probe) PICKUP_STABLE_MS later. A file gone or not a regular file
 * is forgotten. */
static void drop_arm(struct pickup *p, struct drop *d)
{
	char    path[PATH_MAX];
	struct stat st;

	loop_timer_del(p->rd->loop, d->timer);
	d->timer = 0;
	if (spool_path(p->rd->sp, SPOOL_OUT, d->name, path, sizeof(path)) == NULL
	    || lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		drop_del(p, d);
		return;
	}
	snap_set(&d->ref, &st);
	d->have_ref = 1;
	d->timer = loop_timer_add(p->rd->loop, PICKUP_STABLE_MS, drop_check, d);
}

/* drop_check - the second look: take the drop when it has no writer and
 * did not change since the first look */
static void drop_check(struct loop *loop, void *arg)
{
	struct drop *d = arg;
	struct pickup *p = d->p;
	char    name[NAME_MAX + 1], path[PATH_MAX], err[RELAYD_ERRLEN];
	struct stat st;
	struct snap vf;
	int     fd, w;

	(void) loop;
	d->timer = 0;
	/* events not read yet may change the verdict (and may forget d) */
	str_copy(name, d->name, sizeof(name));
	watch_drain(p);
	if ((d = drop_find(p, name)) == NULL || d->state != DROP_WAIT || d->timer != 0
	    || p->rd->stopping)
		return;
	if (spool_path(p->rd->sp, SPOOL_OUT, name, path, sizeof(path)) == NULL) {
		drop_del(p, d);
		return;
	}
	fd = -1;
	if (!d->nolease
	    && (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) < 0) {
		if (errno == ENOENT || errno == ELOOP) {
			drop_del(p, d);		/* gone, or a symbolic link: not a drop */
			return;
		}
		d->nolease = 1;			/* cannot open it to ask (EACCES) */
	}
	if (fd >= 0) {
		if (fstat(fd, &st) < 0) {
			close(fd);
			drop_arm(p, d);		/* try again later */
			return;
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			drop_del(p, d);
			return;
		}
		if ((w = lease_probe(fd)) < 0) {
			/* not allowed (owner, file system): the open count of
			 * the events stands in, for this file from now on */
			log_debug("drop 'out/%s': no lease probe (%s); open events decide",
			    name, strerror(errno));
			d->nolease = 1;
		}
		close(fd);
	} else {
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			drop_del(p, d);
			return;
		}
		w = -1;
	}
	if (w == 1) {
		/* open for writing: wait for its IN_CLOSE_WRITE (without a
		 * watch, for the next scan) */
		d->writer = 1;
		d->have_ref = 0;
		return;
	}
	if (w < 0 && (d->writer || d->opens > 0)) {
		d->have_ref = 0;	/* its IN_CLOSE_* arms it again */
		return;
	}
	/* no writer now. One seen writing (IN_MODIFY) without a close event
	 * since (truncate(2) by name, say) had none since the first look. */
	d->writer = 0;
	if (!d->have_ref || !snap_same(&d->ref, &st)) {
		/* changed since the first look: a new interval from this look */
		snap_set(&d->ref, &st);
		d->have_ref = 1;
		d->timer = loop_timer_add(p->rd->loop, PICKUP_STABLE_MS, drop_check, d);
		return;
	}
	snap_set(&vf, &st);
	if (claim_start(p, name, NULL, NULL, &vf, err, sizeof(err)) < 0 && errno != ENOENT)
		log_error("pick up 'out/%s': %s", name, err);
}

/* --- the out/ watch ------------------------------------------------------------ */

static void watch_lost(struct pickup *p, const char *why)
{
	log_warn("the watch of 'out/' %s: out/ is scanned every %d ms instead "
	    "(files written in place there are taken without their close event)",
	    why, PICKUP_RESCAN_MS);
	loop_fd_del(p->rd->loop, p->ifd);
	close(p->ifd);
	p->ifd = -1;
}

static void scan_soon(struct loop *loop, void *arg)
{
	struct pickup *p = arg;

	(void) loop;
	p->scan_timer = 0;
	pickup_scan(p, 0);
}

/* watch_overflow - events were lost: nothing is known about the waiting
 * drops any more; they and every file of out/ follow the rule for files
 * found by a scan */
static void watch_overflow(struct pickup *p)
{
	struct drop *d;

	log_info("the watch of 'out/' overflowed: rescanning out/");
	for (d = p->all; d != NULL; d = d->next)
		if (d->state == DROP_WAIT) {
			loop_timer_del(p->rd->loop, d->timer);
			d->timer = 0;
			d->writer = 0;
			d->opens = 0;
			d->have_ref = 0;
		}
	/* a scan soon (not from here: this runs while events are read) */
	if (p->scan_timer == 0)
		p->scan_timer = loop_timer_add(p->rd->loop, 0, scan_soon, p);
}

static void watch_event(struct pickup *p, const struct inotify_event *ev)
{
	char    path[PATH_MAX], err[RELAYD_ERRLEN];
	struct drop *d;
	struct stat st;

	if (ev->mask & IN_Q_OVERFLOW) {
		watch_overflow(p);
		return;
	}
	if (ev->mask & IN_IGNORED) {
		if (p->ifd >= 0)
			watch_lost(p, "was removed");
		return;
	}
	if (ev->len == 0 || ev->name[0] == '.' || ev->name[0] == '\0')
		return;
	d = drop_find(p, ev->name);
	if (ev->mask & (IN_MOVED_FROM | IN_DELETE)) {
		if (d != NULL && d->state == DROP_WAIT)
			drop_del(p, d);
		return;
	}
	if (d != NULL && d->state == DROP_CLAIM)
		return;				/* our own reading, or too late */
	/* "submit.*" drops are taken by mailctl's pickup request, which must
	 * learn the name: not here (a scan takes them if mailctl died before
	 * asking) */
	if (strncmp(ev->name, "submit.", 7) == 0 || p->rd->stopping)
		return;
	if (ev->mask & IN_MOVED_TO) {
		/* the atomic drop: taken at once */
		if (d != NULL)
			drop_del(p, d);
		if (claim_start(p, ev->name, NULL, NULL, NULL, err, sizeof(err)) < 0
		    && errno != ENOENT)
			log_error("pick up 'out/%s': %s", ev->name, err);
		return;
	}
	if (d == NULL) {
		if ((ev->mask & (IN_OPEN | IN_MODIFY | IN_CLOSE_WRITE)) == 0
		    || p->nwait >= PICKUP_WATCH_MAX)
			return;			/* a later scan finds it */
		d = drop_add(p, ev->name, DROP_WAIT);
	}
	if (ev->mask & IN_OPEN)
		d->opens++;
	if (ev->mask & IN_MODIFY) {
		/* being written: nothing to look at before its close */
		d->writer = 1;
		d->have_ref = 0;
		loop_timer_del(p->rd->loop, d->timer);
		d->timer = 0;
	}
	if (ev->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) && d->opens > 0)
		d->opens--;
	if (ev->mask & IN_CLOSE_WRITE) {
		/* a writer closed it: the stability interval starts now (an
		 * IN_MODIFY or a writer found by the probe stops it) */
		d->writer = 0;
		drop_arm(p, d);
		return;
	}
	if ((ev->mask & IN_CLOSE_NOWRITE) && d->nolease && d->opens == 0 && !d->writer
	    && d->timer == 0) {
		/* without the lease probe, the last open closed: look again */
		if (spool_path(p->rd->sp, SPOOL_OUT, d->name, path, sizeof(path)) != NULL
		    && lstat(path, &st) == 0)
			drop_arm(p, d);
		else
			drop_del(p, d);
	}
}

/* watch_drain - read the events queued so far */
static void watch_drain(struct pickup *p)
{
	char    b[16 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	size_t  off;

	while (p->ifd >= 0) {
		if ((n = read(p->ifd, b, sizeof(b))) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				watch_lost(p, strerror(errno));
			return;
		}
		if (n == 0)
			return;
		for (off = 0; off + sizeof(struct inotify_event) <= (size_t) n;) {
			const struct inotify_event *ev = (const void *) (b + off);

			watch_event(p, ev);
			off += sizeof(*ev) + ev->len;
		}
	}
}

static void watch_readable(struct loop *loop, int fd, int mask, void *arg)
{
	(void) loop;
	(void) fd;
	(void) mask;
	watch_drain(arg);
}

/* watch_start - the pickup's own inotify watch on out/ */
static void watch_start(struct pickup *p)
{
	char    path[PATH_MAX];

	p->watched = 1;
	if ((size_t) snprintf(path, sizeof(path), "%s/out", spool_dir(p->rd->sp)) >= sizeof(path))
		return;
	if ((p->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		log_warn("inotify: %s: out/ is scanned every %d ms instead (files written in "
		    "place there are taken without their close event)", strerror(errno),
		    PICKUP_RESCAN_MS);
		return;
	}
	if (inotify_add_watch(p->ifd, path, IN_OPEN | IN_MODIFY | IN_CLOSE_WRITE
	    | IN_CLOSE_NOWRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR
	    | IN_DONT_FOLLOW) < 0 || loop_fd_set(p->rd->loop, p->ifd, LOOP_READ,
	    watch_readable, p) < 0) {
		log_warn("watch '%s': %s: out/ is scanned every %d ms instead (files written in "
		    "place there are taken without their close event)", path, strerror(errno),
		    PICKUP_RESCAN_MS);
		close(p->ifd);
		p->ifd = -1;
	}
}

/* --- the scan of out/ ------------------------------------------------------------ */

/* adopt_leftovers - remove the copies adopt() left in out/ when a daemon
 * died between the swap and the unlink, or while copying: whichever of
 * the original and the copy is there, out/FILE is the drop. Only another
 * process's (the pid in the name): the spool lock says no other daemon
 * runs, and this one's copies may be in flight. */
static void adopt_leftovers(struct pickup *p)
{
	char    path[PATH_MAX], mine[32];
	struct dirent *de;
	DIR    *d;
	int     dfd;
	unsigned n = 0;

	if (spool_path(p->rd->sp, SPOOL_OUT, ".", path, sizeof(path)) == NULL
	    || (dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	snprintf(mine, sizeof(mine), PICKUP_ADOPT_PREFIX "%ld.", (long) getpid());
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, PICKUP_ADOPT_PREFIX, strlen(PICKUP_ADOPT_PREFIX)) != 0
		    || strncmp(de->d_name, mine, strlen(mine)) == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
		else if (errno != ENOENT)
			log_warn("remove 'out/%s' (a copy left by a daemon that stopped): %s",
			    de->d_name, strerror(errno));
	}
	closedir(d);
	if (n > 0)
		log_info("removed %u copies of drops that an earlier daemon left in out/ ("
		    PICKUP_ADOPT_PREFIX "*)", n);
}

struct scan_ctx {
	struct pickup *p;
	int	force;
	time_t	now;
	char  **names;		/* submit.* files to take */
	size_t	n;
};

static int scan_out(void *arg, const char *name)
{
	struct scan_ctx *sc = arg;
	struct pickup *p = sc->p;
	char    path[PATH_MAX];
	struct stat st;
	struct drop *d;

	if (drop_find(p, name) != NULL)
		return 0;		/* known: waiting or being claimed */
	if (strncmp(name, "submit.", 7) == 0) {
		/* complete (renamed in by mailctl), but its mailctl may still
		 * ask for it: taken when nobody did for PICKUP_SUBMIT_S */
		if (spool_path(p->rd->sp, SPOOL_OUT, name, path, sizeof(path)) == NULL
		    || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			return 0;
		if (!sc->force && st.st_mtime + PICKUP_SUBMIT_S > sc->now)
			return 0;
		sc->names = xrealloc(sc->names, sizeof(char *) * (sc->n + 1));
		sc->names[sc->n++] = xstrdup(name);
		return sc->n >= 4 * PICKUP_CLAIMS_MAX;	/* a batch at a time */
	}
	if (p->nwait >= PICKUP_WATCH_MAX)
		return 0;		/* the next scans find the rest (go on: a
					 * left submit.* file later in out/ must
					 * still be found) */
	/* no event history: the drop rule without the close event */
	d = drop_add(p, name, DROP_WAIT);
	drop_arm(p, d);
	return 0;
}

void pickup_scan(struct pickup *p, int force)
{
	struct scan_ctx sc;
	struct drop *d, *next;
	char    err[SPOOL_ERRLEN];
	size_t  i;
	int64_t now;

	if (p->rd->stdio_mode || p->rd->stopping)
		return;
	now = loop_now_ms();
	p->last_scan = now;
	if (!p->watched) {
		watch_start(p);		/* before the scan: nothing falls between */
		adopt_leftovers(p);	/* once, at start-up */
	}
	watch_drain(p);
	/* waiting drops without a look due: looked at again (with the lease
	 * probe a writer is found as such; without it only a close event
	 * wakes a drop seen open); and the log line of a long wait */
	for (d = p->all; d != NULL; d = next) {
		next = d->next;
		if (d->state != DROP_WAIT)
			continue;
		if ((d->writer || (d->nolease && d->opens > 0)) && !d->logged
		    && now - d->since >= (int64_t) PICKUP_WAIT_LOG_S * 1000) {
			d->logged = 1;
			log_info("drop 'out/%s' is still open for writing after %d s: it is "
			    "taken once its writer closes it", d->name, PICKUP_WAIT_LOG_S);
		}
		if (d->timer != 0)
			continue;
		if (p->ifd < 0) {
			/* no events: every look is the probe's and the stat's */
			d->writer = 0;
			d->opens = 0;
			drop_arm(p, d);
		} else if (!d->nolease || (!d->writer && d->opens == 0))
			drop_arm(p, d);	/* the probe says whether a writer is there */
	}
	if (p->pend_head < p->pend_n)
		return;		/* a backlog is being taken already */
	memset(&sc, 0, sizeof(sc));
	sc.p = p;
	sc.force = force;
	sc.now = time(NULL);
	if (spool_scan(p->rd->sp, SPOOL_OUT, scan_out, &sc, err, sizeof(err)) < 0)
		log_error("%s", err);
	for (i = 0; i < sc.n; i++) {
		if (claim_start(p, sc.names[i], NULL, NULL, NULL, err, sizeof(err)) < 0
		    && errno != ENOENT)
			log_error("pick up 'out/%s': %s", sc.names[i], err);
		free(sc.names[i]);
	}
	free(sc.names);
}

void pickup_tick(struct pickup *p)
{
	if (loop_now_ms() - p->last_scan >= PICKUP_RESCAN_MS)
		pickup_scan(p, 0);
}
