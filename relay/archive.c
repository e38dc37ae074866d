/*++
 * NAME
 *	archive 3
 * SUMMARY
 *	mailrelayd: gzip copies of accepted letters, retention, resubmission
 * SYNOPSIS
 *	#include "relay/archive.h"
 * DESCRIPTION
 *	See archive.h. Every job counts in rd->jobs (relayd_job), so a
 *	stopping daemon waits for copies and resubmissions in flight. A
 *	resubmitted letter is archived by the control socket's answer
 *	callback, like a letter taken from out/ (relay/relayd.c).
 * DIAGNOSTICS
 *	A copy that cannot be written is logged ("archive 'NAME': ...")
 *	and its temporary file removed; a prune failure is logged.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "relay/archive.h"
#include "relay/inbound.h"
#include "relay/relayd.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/workq.h"

struct archive {
	struct relayd *rd;
	uint64_t timer;
	int	busy;			/* a prune job in flight */
};

/* --- copies ----------------------------------------------------------------- */

struct copy_job {
	struct relayd *rd;
	int	fd;			/* the letter, opened on the loop thread */
	char	name[SPOOL_NAMELEN];
	char	dir[CONF_PATH_MAX];
	char	err[2 * CONF_PATH_MAX];
	int	ok;
};

static void copy_work(void *arg)
{
	struct copy_job *j = arg;
	char    tmp[CONF_PATH_MAX + 64], fin[CONF_PATH_MAX + SPOOL_NAMELEN + 8];
	char    derr[DURABLE_ERRLEN];
	unsigned char *b = xmalloc(ARCHIVE_CHUNK);
	gzFile  gz = NULL;
	int     tfd = -1, gfd, zerr;
	ssize_t n;

	if (mkdir_p(j->dir, 0700, derr, sizeof(derr)) < 0
	    || (tfd = durable_tmp_open(j->dir, j->name, tmp, sizeof(tmp), derr,
	    sizeof(derr))) < 0) {
		snprintf(j->err, sizeof(j->err), "%s", derr);
		goto out;
	}
	/* gzclose closes its descriptor; durable_commit needs its own */
	if ((gfd = dup(tfd)) < 0 || (gz = gzdopen(gfd, "wb6")) == NULL) {
		snprintf(j->err, sizeof(j->err), "gzdopen '%s': %s", tmp, strerror(errno));
		if (gfd >= 0)
			close(gfd);
		goto fail;
	}
	for (;;) {
		n = read(j->fd, b, ARCHIVE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(j->err, sizeof(j->err), "read the letter: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (gzwrite(gz, b, (unsigned) n) != (int) n) {
			snprintf(j->err, sizeof(j->err), "write '%s': %s", tmp, gzerror(gz, &zerr));
			goto fail;
		}
	}
	zerr = gzclose(gz);
	gz = NULL;
	if (zerr != Z_OK) {
		snprintf(j->err, sizeof(j->err), "write '%s': %s", tmp,
		    zerr == Z_ERRNO ? strerror(errno) : "zlib error");
		goto fail;
	}
	snprintf(fin, sizeof(fin), "%s/%s.gz", j->dir, j->name);
	if (durable_commit(tfd, tmp, fin, derr, sizeof(derr)) < 0) {
		tfd = -1;
		snprintf(j->err, sizeof(j->err), "%s", derr);
		goto out;
	}
	tfd = -1;
	j->ok = 1;
	goto out;
fail:
	if (gz != NULL)
		(void) gzclose(gz);
	if (tfd >= 0) {
		close(tfd);
		tfd = -1;
		(void) unlink(tmp);
	}
out:
	free(b);
	close(j->fd);
}

static void copy_done(void *arg)
{
	struct copy_job *j = arg;

	if (!j->ok)
		log_warn("archive '%s': %s", j->name, j->err);
	relayd_job(j->rd, -1);
	free(j);
}

void archive_letter(struct relayd *rd, const char *name)
{
	static const char *const states[] = { "in", "queue" };
	struct copy_job *j;
	char    path[CONF_PATH_MAX + SPOOL_NAMELEN + 16];
	int     fd = -1;
	size_t  i;

	if (!rd->conf->archive_enabled || rd->conf->archive_dir == NULL)
		return;
	for (i = 0; i < 2 && fd < 0; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", rd->conf->spool, states[i], name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		log_warn("archive '%s': open in/ or queue/: %s", name, strerror(errno));
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->rd = rd;
	j->fd = fd;
	str_copy(j->name, name, sizeof(j->name));
	str_copy(j->dir, rd->conf->archive_dir, sizeof(j->dir));
	relayd_job(rd, 1);
	workq_submit(rd->wq, copy_work, copy_done, j);
}

/* --- retention -------------------------------------------------------------- */

struct prune_job {
	struct archive *a;
	char	dir[CONF_PATH_MAX];
	time_t	cutoff;
	unsigned removed;
	char	err[2 * CONF_PATH_MAX];
};

static void prune_work(void *arg)
{
	struct prune_job *j = arg;
	char    path[CONF_PATH_MAX + NAME_MAX + 2], derr[DURABLE_ERRLEN];
	struct dirent *de;
	struct stat st;
	size_t  len;
	DIR    *d;

	if ((d = opendir(j->dir)) == NULL) {
		if (errno != ENOENT)
			snprintf(j->err, sizeof(j->err), "open '%s': %s", j->dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		/* copies NAME.gz, and temporaries a crash left (.tmp.*) */
		if (!(len > 3 && strcmp(de->d_name + len - 3, ".gz") == 0 && de->d_name[0] != '.')
		    && strncmp(de->d_name, ".tmp.", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", j->dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_mtime >= j->cutoff)
			continue;
		if (unlink(path) < 0) {
			snprintf(j->err, sizeof(j->err), "remove '%s': %s", path, strerror(errno));
			continue;
		}
		j->removed++;
	}
	closedir(d);
	if (j->removed > 0 && fsync_dir(j->dir, derr, sizeof(derr)) < 0)
		snprintf(j->err, sizeof(j->err), "%s", derr);
}

static void prune_arm(struct archive *a);

static void prune_done(void *arg)
{
	struct prune_job *j = arg;
	struct archive *a = j->a;

	if (j->err[0])
		log_warn("archive prune: %s", j->err);
	if (j->removed > 0)
		log_info("archive: %u copies older than %llds removed from '%s'", j->removed,
		    (long long) (a->rd->conf->archive_keep_ms / 1000), j->dir);
	a->busy = 0;
	relayd_job(a->rd, -1);
	free(j);
	prune_arm(a);
}

static void prune_tick(struct loop *loop, void *arg)
{
	struct archive *a = arg;
	struct relayd *rd = a->rd;
	struct prune_job *j;

	(void) loop;
	a->timer = 0;
	if (rd->stopping || a->busy || rd->conf->archive_dir == NULL)
		return;
	j = xcalloc(1, sizeof(*j));
	j->a = a;
	str_copy(j->dir, rd->conf->archive_dir, sizeof(j->dir));
	j->cutoff = time(NULL) - (time_t) (rd->conf->archive_keep_ms / 1000);
	a->busy = 1;
	relayd_job(rd, 1);
	workq_submit(rd->wq, prune_work, prune_done, j);
}

static void prune_arm(struct archive *a)
{
	if (a->rd->stopping || a->timer != 0)
		return;
	a->timer = loop_timer_add(a->rd->loop, ARCHIVE_PRUNE_MS, prune_tick, a);
}

struct archive *archive_start(struct relayd *rd)
{
	struct archive *a = xcalloc(1, sizeof(*a));

	a->rd = rd;
	prune_tick(rd->loop, a);
	if (!a->busy)
		prune_arm(a);
	return a;
}

void archive_free(struct archive *a)
{
	free(a);
}

/* --- resubmission ------------------------------------------------------------ */

struct resub_job {
	struct relayd *rd;
	int	gzfd;
	struct spool_file *f;
	char	orig[SPOOL_NAMELEN];
	char	name[SPOOL_NAMELEN];
	char	user[64];
	uint64_t max;
	uint64_t size;
	uint32_t crc;
	char   *rcpts;
	char   *msgid;
	int	ok;
	char	err[2 * CONF_PATH_MAX];
	void	(*cb)(void *arg, int ok, const char *name, const char *err);
	void   *cb_arg;
};

static void resub_work(void *arg)
{
	struct resub_job *j = arg;
	unsigned char *b = xmalloc(ARCHIVE_CHUNK);
	struct journal_list rc;
	struct letter *lt;
	char    lerr[LETTER_ERRLEN];
	uLong   crc = crc32(0L, Z_NULL, 0);
	gzFile  gz;
	int     n, zerr;

	journal_list_init(&rc);
	if ((gz = gzdopen(j->gzfd, "rb")) == NULL) {
		snprintf(j->err, sizeof(j->err), "gzdopen: %s", strerror(errno));
		close(j->gzfd);
		goto out;
	}
	while ((n = gzread(gz, b, ARCHIVE_CHUNK)) > 0) {
		if (j->size + (uint64_t) n > j->max) {
			snprintf(j->err, sizeof(j->err), "letter longer than max_letter_size");
			(void) gzclose(gz);
			goto out;
		}
		crc = crc32(crc, b, (uInt) n);
		if (spool_write(j->f, b, (size_t) n, j->err, sizeof(j->err)) < 0) {
			(void) gzclose(gz);
			goto out;
		}
		j->size += (uint64_t) n;
	}
	if (n < 0) {
		snprintf(j->err, sizeof(j->err), "decompress: %s", gzerror(gz, &zerr));
		(void) gzclose(gz);
		goto out;
	}
	(void) gzclose(gz);
	j->crc = (uint32_t) crc;
	if ((lt = letter_open_pread(spool_file_fd(j->f), NULL, lerr, sizeof(lerr))) == NULL) {
		snprintf(j->err, sizeof(j->err), "malformed letter: %s", lerr);
		goto out;
	}
	{
		const struct addr_list *al = letter_rcpts(lt);

		for (size_t i = 0; i < addr_list_count(al); i++) {
			char   *s = addr_to_str(addr_list_get(al, i));

			journal_list_add(&rc, s);
			free(s);
		}
	}
	j->rcpts = xstrdup(journal_list_text(&rc));
	j->msgid = hdr_get(letter_hdr(lt), HDR_MESSAGE_ID);
	letter_free(lt);
	j->ok = 1;
out:
	journal_list_release(&rc);
	free(b);
}

static void resub_free(struct resub_job *j)
{
	relayd_job(j->rd, -1);
	free(j->rcpts);
	free(j->msgid);
	free(j);
}

static void resub_committed(void *arg, int ok, const char *err)
{
	struct resub_job *j = arg;
	struct relayd *rd = j->rd;

	if (ok) {
		log_info("'%s' resubmitted from the archive as '%s' by %s", j->orig, j->name,
		    j->user);
		inbound_accepted(rd, j->name, 1);
	}
	j->cb(j->cb_arg, ok, j->name, ok ? NULL : err);
	resub_free(j);
}

static void resub_done(void *arg)
{
	struct resub_job *j = arg;
	struct spool_txn *t;
	struct inbound in;
	const char *kv[4];
	char    from[SPOOL_NAMELEN + 16];

	if (!j->ok) {
		spool_file_abort(j->f);
		j->cb(j->cb_arg, 0, NULL, j->err);
		resub_free(j);
		return;
	}
	snprintf(from, sizeof(from), "resubmit:%s", j->orig);
	t = spool_txn_new(j->rd->sp);
	kv[0] = "orig";
	kv[1] = j->orig;
	kv[2] = "by";
	kv[3] = j->user;
	spool_txn_journal(t, "resubmitted", j->name, kv, 2);
	/* the received line, with orig= for mailctl trace */
	memset(&in, 0, sizeof(in));
	in.from = from;
	in.size = j->size;
	in.crc = j->crc;
	in.rcpts = j->rcpts;
	in.msgid = j->msgid;
	in.kv = kv;
	in.nkv = 1;
	inbound_commit(j->rd, t, j->f, &in, NULL);
	spool_txn_submit(t, resub_committed, j);
}

int archive_resubmit(struct relayd *rd, const char *orig, const char *user,
	void (*cb)(void *arg, int ok, const char *name, const char *err), void *cb_arg,
	char *err, size_t errlen)
{
	char    path[CONF_PATH_MAX + SPOOL_NAMELEN + 8];
	struct resub_job *j;
	size_t  len = strlen(orig);
	int     fd;

	if (len > 3 && strcmp(orig + len - 3, ".gz") == 0)
		len -= 3;
	if (len == 0 || len >= SPOOL_NAMELEN || orig[0] == '.'
	    || strspn(orig, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
	    < strlen(orig)) {
		snprintf(err, errlen, "bad letter name '%.*s'", (int) (len > 80 ? 80 : len), orig);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%.*s.gz", rd->conf->archive_dir, (int) len, orig);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "no archived letter '%.*s': open '%s': %s", (int) len, orig,
		    path, strerror(errno));
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	if ((j->f = spool_create(rd->sp, NULL, err, errlen)) == NULL) {
		close(fd);
		free(j);
		return -1;
	}
	j->rd = rd;
	j->gzfd = fd;
	snprintf(j->orig, sizeof(j->orig), "%.*s", (int) len, orig);
	str_copy(j->name, spool_file_name(j->f), sizeof(j->name));
	str_copy(j->user, user, sizeof(j->user));
	j->max = rd->conf->max_letter_size;
	j->cb = cb;
	j->cb_arg = cb_arg;
	relayd_job(rd, 1);
	workq_submit(rd->wq, resub_work, resub_done, j);
	return 0;
}

void archive_peer_user(int fd, char *buf, size_t len)
{
	struct ucred uc;
	socklen_t sl = sizeof(uc);
	struct passwd pw, *pp = NULL;
	char    pwb[4096];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0) {
		str_copy(buf, "unknown", len);
		return;
	}
	if (getpwuid_r(uc.uid, &pw, pwb, sizeof(pwb), &pp) == 0 && pp != NULL)
		str_copy(buf, pp->pw_name, len);
	else
		snprintf(buf, len, "uid:%lu", (unsigned long) uc.uid);
}
