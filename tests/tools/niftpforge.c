/*++
 * NAME
 *	niftpforge 1
 * SUMMARY
 *	a hostile NIFTP peer for forgery tests: any copy identity, calling
 *	address, transfer id or assigned name
 * SYNOPSIS
 *	niftpforge send ADDR --calling NAME --tid N [--copy TEXT] [--file F]
 *		[--resume] [--restart-mark M] [--mark-interval N]
 *		[--cut-after N] [--timeout S]
 *	niftpforge serve --listen ADDR --ready-file F [--name TEXT]
 *		[--refuse] [--record FILE] [--max-time S]
 * DESCRIPTION
 *	A test oracle built on the engine under test (libniftp), used the
 *	way a hostile peer would use it: every string it sends is taken
 *	from the command line as raw octets, newlines included (write them
 *	with printf(1) in the calling script), and nothing is checked
 *	before it goes on the wire.
 *
 *	send: call ADDR (called address FTP.MAIL) as calling address NAME
 *	and send the file F (default: an empty file) as a mail transfer
 *	with transfer id N and, with --copy, the information message TEXT
 *	as its copy identity (the engine recognises one that starts with
 *	"niftpmail-copy "). --resume asks for a resumption with initial
 *	restart mark M (default 0xFFFF, "only STOP left"). --mark-interval
 *	sets the octets between marks (default: the engine's choice).
 *	--cut-after N aborts the call once N data octets went out (the
 *	server sees a broken transfer after its marks). Standard output
 *	gets "name NAME" (str_escape form) when the server assigned a
 *	name, then one of "status ok", "status cut", "status refused
 *	STATE REASON", "status failed REASON". Exit 0 ok, 3 cut as asked,
 *	2 refused or failed, 64 usage, 1 other.
 *
 *	serve: a next hop that says yes to every mail transfer and answers
 *	with the assigned name TEXT (default "forge.0001"), whatever the
 *	octets, in RPOS and STOPACK; the data is counted and thrown away
 *	and the commit always succeeds. With --refuse every SFT is refused
 *	with RNEG 0x1003 ("try later") instead. With --record each SFT
 *	appends "sft caller=C tid=N copy=TEXT resume=0|1" (values in
 *	str_escape form) to FILE before it is answered. The ready file
 *	gets the bound address once listening. It exits after --max-time
 *	seconds (default 300) or on SIGTERM.
 * DIAGNOSTICS
 *	Errors on stderr; exit statuses as above.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "niftp/niftp.h"
#include "niftp/niftp_call.h"
#include "util/alloc.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"

#define FORGE_TEXT_MAX	1024	/* an escaped value printed */

enum { OPT_CALLING = 256, OPT_TID, OPT_COPY, OPT_FILE, OPT_RESUME, OPT_MARK, OPT_INTERVAL,
	OPT_CUT, OPT_TIMEOUT, OPT_LISTEN, OPT_READY, OPT_NAME, OPT_REFUSE, OPT_RECORD,
	OPT_MAXTIME };

static volatile sig_atomic_t forge_stop;

static void forge_sig(int sig)
{
	(void) sig;
	forge_stop = 1;
}

/* esc - s in str_escape form (static rotation of two buffers) */
static const char *esc(const char *s)
{
	static char b[2][FORGE_TEXT_MAX];
	static int k;

	k ^= 1;
	str_escape(b[k], sizeof(b[k]), s ? s : "", s ? strlen(s) : 0);
	return b[k];
}

/* --- send ------------------------------------------------------------------- */

struct niftp_file {
	int	fd;
	uint64_t size;
	uint64_t pos;
};

struct sender {
	struct niftp_call *call;
	uint64_t cut_after;
	int	cut;
	int	down;
	int	done;
	enum niftp_status status;
	uint16_t state;
	char	name[256];
	char	reason[512];
};

static int snd_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct niftp_file *f = fs;

	(void) req;
	f->pos = 0;
	res->fh = f;
	str_copy(res->name, "letter", sizeof(res->name));
	res->size = (int64_t) f->size;
	return 0;
}

static int snd_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	(void) fs;
	(void) req;
	res->state = NIFTP_ST_REJ_ATTR;
	str_copy(res->reason, "this side only sends", sizeof(res->reason));
	return -1;
}

static ssize_t snd_read(struct niftp_file *f, void *p, size_t len, char *reason)
{
	ssize_t n;

	if (f->fd < 0)
		return 0;
	n = pread(f->fd, p, len, (off_t) f->pos);
	if (n < 0) {
		snprintf(reason, 256, "read: %s", strerror(errno));
		return -1;
	}
	f->pos += (uint64_t) n;
	return n;
}

static int snd_write(struct niftp_file *f, const void *p, size_t len, int *retry, char *reason)
{
	(void) f;
	(void) p;
	(void) len;
	*retry = 0;
	snprintf(reason, 256, "this side only sends");
	return -1;
}

static int snd_seek(struct niftp_file *f, uint64_t off, char *reason)
{
	if (off > f->size) {
		snprintf(reason, 256, "seek beyond the end");
		return -1;
	}
	f->pos = off;
	return 0;
}

static int snd_truncate(struct niftp_file *f, uint64_t off, char *reason)
{
	(void) f;
	(void) off;
	snprintf(reason, 256, "this side only sends");
	return -1;
}

static void snd_commit(struct niftp_file *f, struct niftp *n)
{
	(void) f;
	niftp_commit_done(n, 0, 0, "this side only sends");
}

static void snd_suspend(struct niftp_file *f)
{
	(void) f;
}

static void snd_finish(struct niftp_file *f, int ok)
{
	(void) f;
	(void) ok;
}

static const struct niftp_fs_ops snd_ops = {
	snd_open_write, snd_open_read, snd_read, snd_write, snd_seek, snd_truncate,
	NULL, snd_commit, snd_suspend, snd_finish,
	NULL,
};

static void snd_event(void *arg, struct niftp_call *call, const struct niftp_event *ev)
{
	struct sender *s = arg;

	switch (ev->type) {
	case NIFTP_EV_POS:
		if (ev->name != NULL)
			str_copy(s->name, ev->name, sizeof(s->name));
		break;
	case NIFTP_EV_PROGRESS:
		if (s->cut_after > 0 && ev->offset >= s->cut_after && !s->cut) {
			s->cut = 1;
			niftp_call_abort(call, TS_R_NORMAL, "cut on purpose");
		}
		break;
	case NIFTP_EV_DONE:
		s->done = 1;
		s->status = ev->status;
		s->state = ev->state;
		if (ev->name != NULL && *ev->name)
			str_copy(s->name, ev->name, sizeof(s->name));
		str_copy(s->reason, ev->reason ? ev->reason : "", sizeof(s->reason));
		niftp_call_hangup(call);
		break;
	case NIFTP_EV_FAILED:
		str_copy(s->reason, ev->reason ? ev->reason : "protocol error",
		    sizeof(s->reason));
		break;
	default:
		break;
	}
}

static void snd_callev(void *arg, struct niftp_call *call, enum niftp_call_ev ev, int reason,
	const char *text)
{
	struct sender *s = arg;

	(void) call;
	(void) reason;
	if (ev != NIFTP_CALL_EV_DOWN)
		return;
	s->down = 1;
	if (!s->done && s->reason[0] == '\0')
		str_copy(s->reason, text ? text : "call down", sizeof(s->reason));
}

static int forge_send(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "calling", required_argument, NULL, OPT_CALLING },
		{ "tid", required_argument, NULL, OPT_TID },
		{ "copy", required_argument, NULL, OPT_COPY },
		{ "file", required_argument, NULL, OPT_FILE },
		{ "resume", no_argument, NULL, OPT_RESUME },
		{ "restart-mark", required_argument, NULL, OPT_MARK },
		{ "mark-interval", required_argument, NULL, OPT_INTERVAL },
		{ "cut-after", required_argument, NULL, OPT_CUT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	const char *calling = NULL, *copy = NULL, *file = NULL, *addr;
	uint64_t tid = 0, mark = NIFTP_MARK_EOF, interval = 0, cut = 0, timeout = 30, v;
	int     resume = 0, c, rc;
	struct niftp_file f = { -1, 0, 0 };
	struct sender s;
	struct niftp_req req;
	struct niftp_call_hooks hooks;
	struct niftp_config cfg;
	struct loop *loop;
	struct stat stb;
	char    err[512];
	int64_t end;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_CALLING: calling = optarg; break;
		case OPT_COPY: copy = optarg; break;
		case OPT_FILE: file = optarg; break;
		case OPT_RESUME: resume = 1; break;
		case OPT_TID:
		case OPT_MARK:
		case OPT_INTERVAL:
		case OPT_CUT:
		case OPT_TIMEOUT:
			if (str_to_u64(optarg, 0, UINT32_MAX, &v) < 0) {
				fprintf(stderr, "niftpforge: bad number '%s'\n", optarg);
				return 64;
			}
			if (c == OPT_TID)
				tid = v;
			else if (c == OPT_MARK)
				mark = v;
			else if (c == OPT_INTERVAL)
				interval = v;
			else if (c == OPT_CUT)
				cut = v;
			else
				timeout = v;
			break;
		default:
			return 64;
		}
	}
	if (optind != argc - 1 || calling == NULL || tid == 0 || tid > 65535 || mark > 0xFFFF) {
		fprintf(stderr, "usage: niftpforge send ADDR --calling NAME --tid N [options]\n");
		return 64;
	}
	addr = argv[optind];
	if (file != NULL) {
		if ((f.fd = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f.fd, &stb) < 0) {
			fprintf(stderr, "niftpforge: open '%s': %s\n", file, strerror(errno));
			return 1;
		}
		f.size = (uint64_t) stb.st_size;
	}
	memset(&s, 0, sizeof(s));
	s.cut_after = cut;
	memset(&req, 0, sizeof(req));
	req.mode = NIFTP_MODE_REPLACE_MAKE;
	req.mail = 1;
	req.tid = (uint16_t) tid;
	req.size = (int64_t) f.size;
	req.copy_id = copy;
	req.mark_interval = (uint32_t) interval;
	req.resume = resume;
	req.restart_mark = resume ? (uint16_t) mark : 0;
	memset(&hooks, 0, sizeof(hooks));
	hooks.event = snd_event;
	hooks.call = snd_callev;
	memset(&cfg, 0, sizeof(cfg));
	cfg.info = "niftpforge";
	loop = loop_new();
	s.call = niftp_call_open(loop, addr, "FTP.MAIL", calling, NULL, &cfg, &hooks, &s, &snd_ops,
	    &f, err, sizeof(err));
	if (s.call == NULL) {
		fprintf(stderr, "niftpforge: call %s: %s\n", addr, err);
		return 1;
	}
	if (niftp_call_start(s.call, &req) < 0) {
		fprintf(stderr, "niftpforge: the transfer could not start\n");
		return 1;
	}
	end = loop_now_ms() + (int64_t) timeout * 1000;
	while (!s.down && loop_now_ms() < end)
		if (loop_run_once(loop, 200) < 0 && errno != EINTR)
			break;
	niftp_call_free(s.call);
	loop_free(loop);
	if (f.fd >= 0)
		close(f.fd);
	if (s.name[0])
		printf("name %s\n", esc(s.name));
	if (s.cut) {
		printf("status cut\n");
		rc = 3;
	} else if (s.done && s.status == NIFTP_OK) {
		printf("status ok\n");
		rc = 0;
	} else if (s.done && s.state != 0) {
		printf("status refused 0x%04x %s\n", s.state, esc(s.reason));
		rc = 2;
	} else {
		printf("status failed %s\n", esc(s.reason[0] ? s.reason : "timeout"));
		rc = 2;
	}
	fflush(stdout);
	return rc;
}

/* --- serve ------------------------------------------------------------------ */

struct server {
	struct loop *loop;
	const char *name;
	const char *record;
	int	refuse;
};

struct qcall {
	struct server *sv;
	struct niftp_call *call;
	int	down;
};

struct qfile {
	uint64_t size;
};

/* srv_record - append one line about an SFT to the record file */
static void srv_record(const struct server *sv, const struct niftp_req *req)
{
	FILE   *fp;

	if (sv->record == NULL)
		return;
	if ((fp = fopen(sv->record, "ae")) == NULL) {
		fprintf(stderr, "niftpforge: open '%s': %s\n", sv->record, strerror(errno));
		return;
	}
	fprintf(fp, "sft caller=%s tid=%u copy=%s resume=%d\n", esc(req->caller),
	    (unsigned) req->tid, esc(req->copy_id), req->resume);
	fclose(fp);
}

static int srv_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct qcall *qc = fs;
	struct server *sv = qc->sv;

	srv_record(sv, req);
	if (sv->refuse) {
		res->state = NIFTP_ST_REJ_LATER;
		str_copy(res->reason, "try later", sizeof(res->reason));
		return -1;
	}
	res->fh = (struct niftp_file *) xcalloc(1, sizeof(struct qfile));
	str_copy(res->name, sv->name, sizeof(res->name));
	res->committed = 0;
	res->mark = 0;
	res->offset = 0;
	return 0;
}

static int srv_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	(void) fs;
	(void) req;
	res->state = NIFTP_ST_REJ_MSG;
	str_copy(res->reason, "nothing to read", sizeof(res->reason));
	return -1;
}

static ssize_t srv_read(struct niftp_file *f, void *p, size_t len, char *reason)
{
	(void) f;
	(void) p;
	(void) len;
	snprintf(reason, 256, "not readable");
	return -1;
}

static int srv_write(struct niftp_file *f, const void *p, size_t len, int *retry, char *reason)
{
	struct qfile *q = (struct qfile *) f;

	(void) p;
	(void) retry;
	(void) reason;
	q->size += len;
	return 0;
}

static int srv_seek(struct niftp_file *f, uint64_t off, char *reason)
{
	(void) f;
	(void) off;
	snprintf(reason, 256, "not readable");
	return -1;
}

static int srv_truncate(struct niftp_file *f, uint64_t off, char *reason)
{
	struct qfile *q = (struct qfile *) f;

	(void) reason;
	q->size = off;
	return 0;
}

static void srv_commit(struct niftp_file *f, struct niftp *n)
{
	(void) f;
	niftp_commit_done(n, 1, 0, NULL);
}

static void srv_suspend(struct niftp_file *f)
{
	free(f);
}

static void srv_finish(struct niftp_file *f, int ok)
{
	(void) ok;
	free(f);
}

static const struct niftp_fs_ops srv_ops = {
	srv_open_write, srv_open_read, srv_read, srv_write, srv_seek, srv_truncate,
	NULL, srv_commit, srv_suspend, srv_finish,
	NULL,
};

static void qcall_reap(struct loop *loop, void *arg)
{
	struct qcall *qc = arg;

	(void) loop;
	niftp_call_free(qc->call);
	free(qc);
}

static void srv_callev(void *arg, struct niftp_call *call, enum niftp_call_ev ev, int reason,
	const char *text)
{
	struct qcall *qc = arg;

	(void) call;
	(void) reason;
	(void) text;
	if (ev != NIFTP_CALL_EV_DOWN || qc->down)
		return;
	qc->down = 1;
	loop_timer_add(qc->sv->loop, 0, qcall_reap, qc);
}

static void srv_incoming(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct qcall *qc = arg;
	struct niftp_call_hooks hooks;
	struct niftp_config cfg;

	switch (ev->type) {
	case TS_EV_INCOMING:
		if (ts_accept(c) < 0)
			return;
		memset(&cfg, 0, sizeof(cfg));
		cfg.info = "niftpforge";
		cfg.resumption = 1;
		cfg.mail_only = 1;
		memset(&hooks, 0, sizeof(hooks));
		hooks.call = srv_callev;
		qc->call = niftp_call_serve(qc->sv->loop, c, &cfg, &hooks, qc, &srv_ops, qc);
		return;
	case TS_EV_DISCONNECT:
		ts_close(c);
		free(qc);
		return;
	default:
		return;
	}
}

static void srv_new(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	struct qcall *qc = xcalloc(1, sizeof(*qc));

	(void) l;
	qc->sv = arg;
	ts_set_handler(c, srv_incoming, qc);
}

static int forge_serve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "refuse", no_argument, NULL, OPT_REFUSE },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "max-time", required_argument, NULL, OPT_MAXTIME },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = NULL, *ready = NULL;
	struct server sv;
	struct ts_listener *l;
	uint64_t maxtime = 300;
	char    err[512], *text;
	int64_t end;
	int     c;

	memset(&sv, 0, sizeof(sv));
	sv.name = "forge.0001";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN: listen = optarg; break;
		case OPT_READY: ready = optarg; break;
		case OPT_NAME: sv.name = optarg; break;
		case OPT_REFUSE: sv.refuse = 1; break;
		case OPT_RECORD: sv.record = optarg; break;
		case OPT_MAXTIME:
			if (str_to_u64(optarg, 1, 86400, &maxtime) < 0)
				return 64;
			break;
		default:
			return 64;
		}
	}
	if (optind != argc || listen == NULL || ready == NULL) {
		fprintf(stderr, "usage: niftpforge serve --listen ADDR --ready-file F [options]\n");
		return 64;
	}
	sv.loop = loop_new();
	if ((l = ts_listen(sv.loop, listen, NULL, srv_new, &sv, err, sizeof(err))) == NULL) {
		fprintf(stderr, "niftpforge: listen %s: %s\n", listen, err);
		return 1;
	}
	text = xasprintf("%s\n", ts_listener_addr(l));
	if (durable_write_file(ready, text, strlen(text), err, sizeof(err)) < 0) {
		fprintf(stderr, "niftpforge: ready file: %s\n", err);
		return 1;
	}
	free(text);
	end = loop_now_ms() + (int64_t) maxtime * 1000;
	while (!forge_stop && loop_now_ms() < end)
		if (loop_run_once(sv.loop, 200) < 0 && errno != EINTR)
			break;
	ts_listener_close(l);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	log_init("niftpforge", LOG_LVL_WARN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forge_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return forge_send(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return forge_serve(argc - 1, argv + 1);
	fprintf(stderr, "usage: niftpforge send|serve ...\n");
	return 64;
}
