/*++
 * NAME
 *	trace_fs 3
 * SUMMARY
 *	mailrelayd: the trace service, read-only virtual files trace:KEY
 * SYNOPSIS
 *	#include "relay/trace_fs.h"
 * DESCRIPTION
 *	See trace_fs.h. open_read answers later: the journal is read on a
 *	worker (trace_collect), the route lines are added on the loop
 *	thread from the configuration in force (which a reload may replace,
 *	so the worker never sees it), then niftp_open_done(). The document
 *	is held in memory (at most TRACE_DOC_MAX octets) and read from it.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mailchannel/route.h"
#include "niftp/niftp_call.h"
#include "niftp/ts.h"
#include "relay/relayd.h"
#include "relay/trace.h"
#include "relay/trace_fs.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/workq.h"

struct trace_job;

struct trace_fs {
	struct relayd *rd;
	struct niftp_call *call;
	struct trace_job *job;		/* a document being built */
	int	entitled;		/* the caller may read traces (trace_fs_entitle) */
};

struct niftp_file {
	struct buf doc;
	size_t	pos;
	char	key[256];
};

struct trace_job {
	struct trace_fs *tf;		/* NULL once the call is gone */
	struct relayd *rd;
	char   *spool;
	char	key[256];
	struct buf lines;
	int	found;
	char	err[TRACE_ERRLEN];
};

/* trace_fs_called - exactly FTP, any case */
int trace_fs_called(const char *called)
{
	return called != NULL && str_ieq(called, "FTP");
}

void trace_fs_entitle(struct trace_fs *tf, int yes)
{
	tf->entitled = yes;
}

struct trace_fs *trace_fs_new(struct relayd *rd)
{
	struct trace_fs *tf = xcalloc(1, sizeof(*tf));

	tf->rd = rd;
	return tf;
}

void trace_fs_set_call(struct trace_fs *tf, struct niftp_call *call)
{
	tf->call = call;
}

void trace_fs_free(struct trace_fs *tf)
{
	if (tf == NULL)
		return;
	if (tf->job != NULL)
		tf->job->tf = NULL;
	free(tf);
}

static int refuse(struct niftp_open *res, const char *reason)
{
	res->fh = NULL;
	res->state = NIFTP_ST_REJ_MSG;
	str_copy(res->reason, reason, sizeof(res->reason));
	return -1;
}

static int tfs_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	(void) fs;
	(void) req;
	return refuse(res, "the FTP service of a mail relay only serves trace:NAME "
	    "(send mail to FTP.MAIL)");
}

static void job_work(void *arg)
{
	struct trace_job *j = arg;

	j->found = trace_collect(j->spool, j->key, &j->lines, j->err, sizeof(j->err));
}

static void job_done(void *arg)
{
	struct trace_job *j = arg;
	struct trace_fs *tf = j->tf;
	struct niftp_open res;
	struct niftp_file *fh;
	struct niftp *n;

	relayd_job(j->rd, -1);
	if (tf == NULL)
		goto out;
	tf->job = NULL;
	n = tf->call ? niftp_call_engine(tf->call) : NULL;
	if (n == NULL)
		goto out;
	memset(&res, 0, sizeof(res));
	if (j->found < 0) {
		log_warn("trace '%s': %s", j->key, j->err);
		res.state = NIFTP_ST_REJ_LATER;
		snprintf(res.reason, sizeof(res.reason), "trace not available: %.200s", j->err);
		niftp_open_done(n, 0, &res);
		niftp_call_kick(tf->call);
		goto out;
	}
	fh = xcalloc(1, sizeof(*fh));
	buf_init(&fh->doc, TRACE_DOC_MAX + 64 * 1024);
	str_copy(fh->key, j->key, sizeof(fh->key));
	if (trace_document(j->rd->conf->name, j->key, j->rd->conf->routes,
	    (const char *) buf_data(&j->lines), j->lines.len, j->found, &fh->doc) < 0) {
		buf_release(&fh->doc);
		free(fh);
		res.state = NIFTP_ST_REJ_MSG;
		str_copy(res.reason, "trace document too large", sizeof(res.reason));
		niftp_open_done(n, 0, &res);
		niftp_call_kick(tf->call);
		goto out;
	}
	res.fh = fh;
	res.size = (int64_t) fh->doc.len;
	snprintf(res.name, sizeof(res.name), "trace:%.240s", j->key);
	niftp_open_done(n, 1, &res);
	niftp_call_kick(tf->call);
out:
	buf_release(&j->lines);
	free(j->spool);
	free(j);
}

static int tfs_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct trace_fs *tf = fs;
	struct trace_job *j;
	const char *name = req->filename;

	if (name == NULL || strncmp(name, "trace:", 6) != 0 || name[6] == '\0'
	    || strlen(name + 6) >= sizeof(j->key))
		return refuse(res, "no such file: this service only serves trace:NAME, "
		    "trace:msgid:ID and trace:out:FILE");
	if (!tf->entitled) {
		/* the caller is refused, not the name: niftp get exits 77 */
		res->denied = 1;
		return refuse(res, "not permitted: traces are served to authenticated peers and "
		    "local callers");
	}
	if (tf->job != NULL)
		return refuse(res, "a trace is being built on this call");
	j = xcalloc(1, sizeof(*j));
	j->tf = tf;
	j->rd = tf->rd;
	j->spool = xstrdup(tf->rd->conf->spool);
	str_copy(j->key, name + 6, sizeof(j->key));
	buf_init(&j->lines, TRACE_DOC_MAX);
	tf->job = j;
	relayd_job(tf->rd, 1);
	workq_submit(tf->rd->wq, job_work, job_done, j);
	return 1;
}

static ssize_t tfs_read(struct niftp_file *fh, void *p, size_t len, char *reason)
{
	size_t  n = fh->doc.len - fh->pos;

	(void) reason;
	if (n > len)
		n = len;
	memcpy(p, buf_data(&fh->doc) + fh->pos, n);
	fh->pos += n;
	return (ssize_t) n;
}

static int tfs_write(struct niftp_file *fh, const void *p, size_t len, int *retry,
	char *reason)
{
	(void) fh;
	(void) p;
	(void) len;
	*retry = 0;
	snprintf(reason, NIFTP_REASON_MAX, "read-only");
	return -1;
}

static int tfs_seek(struct niftp_file *fh, uint64_t offset, char *reason)
{
	if (offset > fh->doc.len) {
		snprintf(reason, NIFTP_REASON_MAX, "seek past the end of 'trace:%.200s'", fh->key);
		return -1;
	}
	fh->pos = (size_t) offset;
	return 0;
}

static int tfs_truncate(struct niftp_file *fh, uint64_t offset, char *reason)
{
	(void) fh;
	(void) offset;
	snprintf(reason, NIFTP_REASON_MAX, "read-only");
	return -1;
}

static void tfs_commit(struct niftp_file *fh, struct niftp *n)
{
	(void) fh;
	niftp_commit_done(n, 0, 0, "read-only");
}

static void tfs_free(struct niftp_file *fh)
{
	buf_release(&fh->doc);
	free(fh);
}

static void tfs_suspend(struct niftp_file *fh)
{
	tfs_free(fh);
}

static void tfs_finish(struct niftp_file *fh, int ok)
{
	(void) ok;
	tfs_free(fh);
}

const struct niftp_fs_ops trace_fs_ops = {
	tfs_open_write,
	tfs_open_read,
	tfs_read,
	tfs_write,
	tfs_seek,
	tfs_truncate,
	NULL,
	tfs_commit,
	tfs_suspend,
	tfs_finish,
	NULL,
};
