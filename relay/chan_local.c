/*++
 * NAME
 *	chan_local 3
 * SUMMARY
 *	mailrelayd: the local channel (Maildir delivery)
 * SYNOPSIS
 *	#include "relay/channel.h"
 *
 *	extern const struct channel_ops chan_local_ops;
 * DESCRIPTION
 *	The local envelope of a letter lists its mailboxes. start() reads
 *	the letter's head and delivers to each pending mailbox on a worker
 *	(mailchannel/ch_local.h: idempotent, so a delivery repeated after
 *	a crash finds its file and counts as done), then reports one
 *	outcome per recipient: done with the delivered file, failed for
 *	good (unknown user: an NDN goes back), or deferred (disk trouble).
 *	A mailbox is known when [local] users lists it or its Maildir
 *	exists. The channel keeps no saved state of its own, and no wait
 *	list (start() hands the envelope to a worker at once), so it has
 *	no take_back(): a letter being delivered is busy.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailchannel/ch_local.h"
#include "mailchannel/letter.h"
#include "mailchannel/route.h"
#include "relay/channel.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/workq.h"

struct chlocal {
	struct relayd *rd;
	int	jobs;			/* deliveries on workers */
};

/* One envelope's deliveries, on a worker. */
struct local_job {
	struct chlocal *cl;
	struct qenv *e;
	char	letter[SPOOL_NAMELEN];
	char	letter_path[PATH_MAX];
	size_t	n;
	char  **maildir;		/* per recipient; NULL: skip (done) */
	int    *known;
	/* results */
	enum ch_local_status *st;
	char  **path;
	char  **err;
};

static void *local_init(struct relayd *rd, char *err, size_t errlen)
{
	struct chlocal *cl = xcalloc(1, sizeof(*cl));

	(void) err;
	(void) errlen;
	cl->rd = rd;
	return cl;
}

static void local_work(void *arg)
{
	struct local_job *j = arg;
	struct letter *lt;
	char    err[LETTER_ERRLEN], path[PATH_MAX];
	uint64_t hoff;
	size_t  i;
	int     fd;

	fd = open(j->letter_path, O_RDONLY | O_CLOEXEC);
	lt = fd < 0 ? NULL : letter_open_fd(fd, NULL, err, sizeof(err));
	if (lt == NULL) {
		if (fd < 0)
			snprintf(err, sizeof(err), "open 'queue/%s': %s", j->letter,
			    strerror(errno));
		for (i = 0; i < j->n; i++) {
			j->st[i] = CH_LOCAL_TEMP;
			j->err[i] = xstrdup(err);
		}
		if (fd >= 0)
			close(fd);
		return;
	}
	hoff = letter_hdr_offset(lt);
	letter_free(lt);
	for (i = 0; i < j->n; i++) {
		if (j->maildir[i] == NULL)
			continue;
		err[0] = '\0';
		path[0] = '\0';
		j->st[i] = ch_local_deliver(j->maildir[i], j->known[i], j->letter, fd, hoff,
		    path, sizeof(path), err, sizeof(err));
		j->path[i] = xstrdup(path);
		j->err[i] = xstrdup(err);
	}
	close(fd);
}

static void local_done(void *arg)
{
	struct local_job *j = arg;
	struct chlocal *cl = j->cl;
	struct qenv *e = j->e;
	struct qrcpt_result *out = xcalloc(j->n ? j->n : 1, sizeof(*out));
	struct qresult r;
	size_t  i;

	cl->jobs--;
	cl->rd->jobs--;
	for (i = 0; i < j->n; i++) {
		if (j->maildir[i] == NULL) {
			out[i].what = QOUT_SKIP;
			continue;
		}
		switch (j->st[i]) {
		case CH_LOCAL_OK:
		case CH_LOCAL_ALREADY:
			out[i].what = QOUT_DONE;
			out[i].mailbox = j->path[i];
			break;
		case CH_LOCAL_PERM:
			out[i].what = QOUT_FAIL;
			out[i].reason = j->err[i];
			break;
		default:
			out[i].what = QOUT_DEFER;
			out[i].reason = j->err[i] && *j->err[i] ? j->err[i] : "temporary failure";
			log_warn("deliver '%s' to '%s': %s", j->letter, e->rcpts[i].orig,
			    out[i].reason);
			break;
		}
	}
	memset(&r, 0, sizeof(r));
	r.rcpt = out;
	r.nrcpt = j->n;
	queue_result(cl->rd->q, e, &r);
	free(out);
	for (i = 0; i < j->n; i++) {
		free(j->maildir[i]);
		free(j->path[i]);
		free(j->err[i]);
	}
	free(j->maildir);
	free(j->known);
	free(j->st);
	free(j->path);
	free(j->err);
	free(j);
}

static void local_start(void *self, struct qenv *e)
{
	struct chlocal *cl = self;
	struct relayd *rd = cl->rd;
	struct local_job *j = xcalloc(1, sizeof(*j));
	char    md[PATH_MAX];
	size_t  i;

	j->cl = cl;
	j->e = e;
	j->n = e->nrcpts;
	str_copy(j->letter, e->l->name, sizeof(j->letter));
	spool_path(rd->sp, SPOOL_QUEUE, e->l->name, j->letter_path, sizeof(j->letter_path));
	j->maildir = xcalloc(j->n ? j->n : 1, sizeof(char *));
	j->known = xcalloc(j->n ? j->n : 1, sizeof(int));
	j->st = xcalloc(j->n ? j->n : 1, sizeof(*j->st));
	j->path = xcalloc(j->n ? j->n : 1, sizeof(char *));
	j->err = xcalloc(j->n ? j->n : 1, sizeof(char *));
	for (i = 0; i < j->n; i++) {
		const char *mb = e->rcpts[i].mailbox ? e->rcpts[i].mailbox : "";

		if (e->rcpts[i].done)
			continue;
		if (conf_maildir(rd->conf, mb, md, sizeof(md)) >= sizeof(md))
			md[0] = '\0';
		j->maildir[i] = xstrdup(md);
		j->known[i] = route_table_user_known(rd->conf->routes, mb);
	}
	cl->jobs++;
	rd->jobs++;
	workq_submit(rd->wq, local_work, local_done, j);
}

static int local_busy(const void *self)
{
	const struct chlocal *cl = self;

	return cl->jobs > 0;
}

static void local_stop(void *self, int now)
{
	(void) self;
	(void) now;		/* deliveries are short and finish on their own */
}

static void local_free(void *self)
{
	free(self);
}

const struct channel_ops chan_local_ops = {
	.name = "local",
	.init = local_init,
	.start = local_start,
	.busy = local_busy,
	.stop = local_stop,
	.free = local_free,
};
