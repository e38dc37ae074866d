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
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"
#include "util/workq.h"

/* A claim asked for while PICKUP_CLAIMS_MAX are in flight: a name, not a job. */
struct claim_wait {
	char   *file;
	pickup_done_fn *cb;
	void   *cb_arg;
};

/* A drop being read on a worker. */
struct claim_job {
	struct claim_job *next;
	struct pickup *p;
	char	file[NAME_MAX + 1];
	char	path[PATH_MAX];
	pickup_done_fn *cb;
	void   *cb_arg;
	/* filled by the worker */
	struct letter *lt;
	enum letter_status st;
	int	err_no;
	uint32_t crc;
	uint64_t size;
	char	lerr[LETTER_ERRLEN];
};

/* A claim being made durable. */
struct claim_ctx {
	struct pickup *p;
	char	name[SPOOL_NAMELEN];
	int	corrupt;
	pickup_done_fn *cb;
	void   *cb_arg;
};

struct pickup {
	struct relayd *rd;
	struct claim_job *jobs;		/* drops being read */
	int	nclaims;		/* jobs and claims in flight (<= PICKUP_CLAIMS_MAX) */
	struct claim_wait *pend;	/* claims asked while at the limit (FIFO) */
	size_t	pend_head, pend_n;
	int64_t	last_scan;
};

struct pickup *pickup_new(struct relayd *rd)
{
	struct pickup *p = xcalloc(1, sizeof(*p));

	p->rd = rd;
	return p;
}

void pickup_free(struct pickup *p)
{
	size_t  i;

	if (p == NULL)
		return;
	for (i = p->pend_head; i < p->pend_n; i++)
		free(p->pend[i].file);
	free(p->pend);
	free(p);
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
		    !ok ? err : cc->corrupt ? "malformed letter (moved to corrupt/)" : NULL);
	free(cc);
	slot_free(p);		/* the slot is held until the claim is durable */
}

/* crc_file - CRC-32 and size of fd from its start */
static int crc_file(int fd, uint32_t *crc, uint64_t *size)
{
	unsigned char b[64 * 1024];
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

static void claim_work(void *arg)
{
	struct claim_job *cj = arg;
	int     fd;

	if ((fd = open(cj->path, O_RDONLY | O_CLOEXEC)) < 0) {
		cj->err_no = errno;
		cj->st = LETTER_EIO;
		snprintf(cj->lerr, sizeof(cj->lerr), "open 'out/%s': %s", cj->file,
		    strerror(errno));
		return;
	}
	if ((cj->lt = letter_open_fd(fd, &cj->st, cj->lerr, sizeof(cj->lerr))) != NULL
	    && crc_file(fd, &cj->crc, &cj->size) < 0) {
		cj->err_no = errno;
		cj->st = LETTER_EIO;
		snprintf(cj->lerr, sizeof(cj->lerr), "read 'out/%s': %s", cj->file,
		    strerror(errno));
		letter_free(cj->lt);
		cj->lt = NULL;
	}
	close(fd);
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
	if (cj->lt == NULL && cj->st == LETTER_EIO) {
		if (cj->err_no != ENOENT)
			log_error("pick up 'out/%s': %s", cj->file, cj->lerr);
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
		log_warn("drop 'out/%s' is not a letter: %s (moved to 'corrupt/%s')", cj->file,
		    cj->lerr, cc->name);
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
	spool_txn_submit(t, claim_done, cc);	/* it frees the slot */
	goto out;
fail:
	/* ENOENT: taken meanwhile (the rename is the claim) */
	if (errno != ENOENT)
		log_error("pick up 'out/%s': %s", cj->file, err);
	spool_txn_abort(t);
	free(cc);
	if (cj->cb)
		cj->cb(cj->cb_arg, 0, NULL, err);
	slot_free(p);
out:
	if (cj->lt)
		letter_free(cj->lt);
	free(cj);
}

int pickup_claim(struct pickup *p, const char *file, pickup_done_fn *cb, void *cb_arg,
	char *err, size_t errlen)
{
	struct relayd *rd = p->rd;
	struct claim_job *cj;

	if (file[0] == '.' || file[0] == '\0' || strchr(file, '/') != NULL
	    || strlen(file) > NAME_MAX) {
		errno = EINVAL;
		snprintf(err, errlen, "claim 'out/%.*s': not a drop file name", NAME_MAX, file);
		return -1;
	}
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
	if (p->nclaims >= PICKUP_CLAIMS_MAX) {
		/* started when a slot frees (a copy of the name, not a job) */
		p->pend = xrealloc(p->pend, sizeof(*p->pend) * (p->pend_n + 1));
		p->pend[p->pend_n].file = xstrdup(file);
		p->pend[p->pend_n].cb = cb;
		p->pend[p->pend_n].cb_arg = cb_arg;
		p->pend_n++;
		return 0;
	}
	cj = xcalloc(1, sizeof(*cj));
	cj->p = p;
	str_copy(cj->file, file, sizeof(cj->file));
	if (spool_path(rd->sp, SPOOL_OUT, file, cj->path, sizeof(cj->path)) == NULL) {
		free(cj);
		errno = ENAMETOOLONG;
		snprintf(err, errlen, "claim 'out/%s': name too long", file);
		return -1;
	}
	cj->cb = cb;
	cj->cb_arg = cb_arg;
	cj->next = p->jobs;
	p->jobs = cj;
	p->nclaims++;
	rd->jobs++;
	workq_submit(rd->wq, claim_work, claim_job_done, cj);
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
			if (w.cb)
				w.cb(w.cb_arg, 0, NULL, "mail relay shutting down");
			free(w.file);
			continue;
		}
		if (pickup_claim(p, w.file, w.cb, w.cb_arg, err, sizeof(err)) < 0) {
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

struct scan_ctx {
	struct pickup *p;
	int	force;
	time_t	now;
	char  **names;
	size_t	n;
};

static int scan_out(void *arg, const char *name)
{
	struct scan_ctx *sc = arg;
	char    path[PATH_MAX];
	struct stat st;

	if (spool_path(sc->p->rd->sp, SPOOL_OUT, name, path, sizeof(path)) == NULL
	    || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (!sc->force && st.st_mtime + PICKUP_STABLE_S > sc->now)
		return 0;
	sc->names = xrealloc(sc->names, sizeof(char *) * (sc->n + 1));
	sc->names[sc->n++] = xstrdup(name);
	return sc->n >= 4 * PICKUP_CLAIMS_MAX;	/* a batch at a time */
}

void pickup_scan(struct pickup *p, int force)
{
	struct scan_ctx sc;
	char    err[SPOOL_ERRLEN];
	size_t  i;

	if (p->rd->stdio_mode || p->rd->stopping)
		return;
	p->last_scan = loop_now_ms();
	if (p->pend_head < p->pend_n)
		return;		/* a backlog is being taken already */
	memset(&sc, 0, sizeof(sc));
	sc.p = p;
	sc.force = force;
	sc.now = time(NULL);
	if (spool_scan(p->rd->sp, SPOOL_OUT, scan_out, &sc, err, sizeof(err)) < 0)
		log_error("%s", err);
	for (i = 0; i < sc.n; i++) {
		if (pickup_claim(p, sc.names[i], NULL, NULL, err, sizeof(err)) < 0
		    && errno != ENOENT)
			log_error("pick up 'out/%s': %s", sc.names[i], err);
		free(sc.names[i]);
	}
	free(sc.names);
}

void pickup_tick(struct pickup *p)
{
	if (loop_now_ms() - p->last_scan >= 1000)
		pickup_scan(p, 0);
}
