/*++
 * NAME
 *	tool_serve 3
 * SUMMARY
 *	niftp serve: an NIFTP file server on a directory
 * SYNOPSIS
 *	niftp serve --listen ADDR [--listen ADDR]... --dir DIR [options]
 * DESCRIPTION
 *	Listens on every --listen address (tcp:, rawtcp:, unix:, stdio)
 *	and serves many calls at once, each a niftp_call_serve() with the
 *	directory filestore (tool_dirfs.h). A call is accepted when its
 *	called address starts, at a component boundary and ignoring case,
 *	with FTP (an empty called address counts as FTP); FTP.MAIL and
 *	longer addresses under it are the mail service, which refuses
 *	read modes and caller-given names like a Grey Book mail server.
 *	Other called addresses are refused with reason 19.
 *
 *	--users FILE (lines "user:password", '#' comments) requires a
 *	login; without it every caller is let in. The file is read once.
 *
 *	One log line per transfer goes to standard error (and --log):
 *	time, peer, caller identity, called address, mode, name, octets,
 *	seconds, rate, and the result with its reason.
 *
 *	--ready-file FILE is written atomically, once every listener is
 *	bound, with their addresses one per line (port 0 resolved), so a
 *	test can wait for it instead of sleeping.
 *
 *	SIGTERM or SIGINT: the listeners close, calls between transfers
 *	are ended, transfers in progress may finish for --grace seconds
 *	(default 30), then the rest are cut (their files suspended with a
 *	durable docket) and the server exits 0 once all disk work is done.
 *	A second signal cuts at once. With only stdio listeners the server
 *	exits when its call has ended.
 * DIAGNOSTICS
 *	Start-up problems exit with 64 (usage), 78 (configuration: users
 *	file, directory) or 75 (cannot listen).
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "niftp/niftp_call.h"
#include "niftp/tool_common.h"
#include "niftp/tool_dirfs.h"
#include "util/alloc.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/workq.h"

#define SERVE_MAX_LISTEN	16
#define SERVE_THREADS		4
#define SERVE_USERS_MAX		(1024 * 1024)

struct serve_user {
	char   *name;
	char   *password;
};

struct scall;

struct serve {
	struct loop *loop;
	struct workq *wq;
	struct dirfs *fs;
	struct ts_listener *ls[SERVE_MAX_LISTEN];
	int	nls;
	int	oneshot;		/* only stdio listeners */
	int	served;			/* calls seen */
	struct scall *calls;
	int	ncalls;
	struct serve_user *users;
	int	nusers;
	int	need_login;
	struct niftp_config cfg;
	struct ts_opts tsopts;
	int	quiet;
	int	stopping;
	int	signals;
	int64_t	grace_ms;
	uint64_t grace_timer;
	char	local_name[256];
};

struct scall {
	struct serve *sv;
	struct scall *next;
	struct scall *prev;
	struct ts_conn *ts;		/* until served */
	struct niftp_call *call;
	struct dirfs_conn *fc;
	int	down;
	uint64_t reap_timer;
	char	peer[300];
	char	calling[300];
	char	called[300];
	/* the transfer in progress, for its log line */
	int	active;
	int64_t	t0;
	unsigned mode;
	int	resume;
	char	name[256];
	char	user[64];
	uint64_t octets;
};

static const char serve_help[] =
"Usage: niftp serve --listen ADDR [--listen ADDR]... --dir DIR [OPTION]...\n"
"Serve NIFTP calls on ADDR (tcp:HOST:PORT, rawtcp:HOST:PORT, unix:PATH, stdio),\n"
"storing received files in DIR and sending files from it. Called addresses FTP\n"
"and FTP.MAIL are answered.\n"
"\n"
"  --listen ADDR        listen here (may repeat; 'stdio' serves one call)\n"
"  --dir DIR            the directory served (must exist)\n"
"  --users FILE         require a login; FILE has lines user:password\n"
"  --max-size SIZE      refuse files larger than SIZE (k, M, G suffixes)\n"
"  --log FILE           also append log lines to FILE\n"
"  --ready-file FILE    write the bound addresses to FILE once listening\n"
"  --checkpoint SIZE    make received data durable every SIZE (default 64M)\n"
"  --keep-dockets TIME  keep transfer dockets this long (default 7d)\n"
"  --timeout SECONDS    end calls idle this long (default 660)\n"
"  --grace SECONDS      on SIGTERM let transfers finish this long (default 30)\n"
"  --calling NAME       our name in transport messages (default the host name)\n"
"  -q, --quiet          no per-transfer log lines\n"
"  -v, --verbose        debugging messages\n"
"  --help               this text\n"
"\n"
"Exit status: 0 stopped by a signal or the stdio call ended, 64 usage error,\n"
"75 cannot listen, 78 configuration error, 1 other error.\n";

static const struct option serve_longopts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "users", required_argument, NULL, OPT_USERS },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "ready-file", required_argument, NULL, OPT_READY_FILE },
	{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
	{ "keep-dockets", required_argument, NULL, OPT_KEEP_DOCKETS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "calling", required_argument, NULL, OPT_CALLING },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* --- users ---------------------------------------------------------------- */

/* serve_load_users - read FILE of user:password lines; 0 or -1 (printed) */
static int serve_load_users(struct serve *sv, const char *path)
{
	char    err[DURABLE_ERRLEN];
	char   *text, *line, *next, *colon;
	size_t  len;
	int     lineno = 0;

	if ((text = durable_read_file(path, SERVE_USERS_MAX, &len, err, sizeof(err))) == NULL) {
		log_error("serve: users file: %s", err);
		return -1;
	}
	if (strlen(text) != len) {
		log_error("serve: users file '%s': contains a NUL octet", path);
		free(text);
		return -1;
	}
	sv->need_login = 1;
	for (line = text; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = str_trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		if ((colon = strchr(line, ':')) == NULL || colon == line) {
			log_error("serve: users file '%s', line %d: want user:password",
			    path, lineno);
			free(text);
			return -1;
		}
		*colon = '\0';
		sv->users = xrealloc(sv->users, sizeof(*sv->users) * (size_t) (sv->nusers + 1));
		sv->users[sv->nusers].name = xstrdup(line);
		sv->users[sv->nusers].password = xstrdup(colon + 1);
		sv->nusers++;
	}
	memset(text, 0, len);
	free(text);
	return 0;
}

/* same_secret - compare without an early exit on the first difference */
static int same_secret(const char *a, const char *b)
{
	size_t  la = strlen(a), lb = strlen(b), i;
	unsigned diff = la != lb;

	for (i = 0; i < la; i++)
		diff |= (unsigned char) a[i] ^ (unsigned char) b[i % (lb ? lb : 1)];
	return diff == 0;
}

/* serve_auth - the engine's auth question */
static int serve_auth(void *arg, const char *user, const char *password, const char *caller)
{
	struct scall *sc = arg;
	struct serve *sv = sc->sv;
	int     i;

	if (!sv->need_login)
		return 0;
	if (user == NULL || *user == '\0') {
		log_warn("login refused for '%s' from %s: no user name", caller ? caller : "",
		    sc->peer);
		return -1;
	}
	for (i = 0; i < sv->nusers; i++)
		if (strcmp(sv->users[i].name, user) == 0) {
			if (password != NULL && same_secret(sv->users[i].password, password))
				return 0;
			break;
		}
	log_warn("login refused for user '%s' from %s: %s", user, sc->peer,
	    i < sv->nusers ? "wrong password" : "unknown user");
	return -1;
}

/* --- calls ---------------------------------------------------------------- */

/* called_match - does called start with name at a component boundary? */
static int called_match(const char *called, const char *name)
{
	size_t  n = strlen(name), i;

	for (i = 0; i < n; i++) {
		unsigned char a = (unsigned char) called[i], b = (unsigned char) name[i];

		if (a == '\0')
			return 0;
		if (a >= 'a' && a <= 'z')
			a = (unsigned char) (a - 'a' + 'A');
		if (a != b)
			return 0;
	}
	return called[n] == '\0' || called[n] == '.';
}

/* serve_finished - nothing is left to do */
static int serve_finished(const struct serve *sv)
{
	return (sv->stopping || (sv->oneshot && sv->served > 0))
	    && sv->ncalls == 0 && !dirfs_busy(sv->fs);
}

/* scall_free - unlink and free */
static void scall_free(struct scall *sc)
{
	struct serve *sv = sc->sv;

	if (sc->reap_timer != 0)
		loop_timer_del(sv->loop, sc->reap_timer);
	if (sc->call != NULL)
		niftp_call_free(sc->call);	/* the engine first: it may suspend files */
	if (sc->fc != NULL)
		dirfs_conn_free(sc->fc);
	if (sc->ts != NULL)
		ts_close(sc->ts);
	if (sc->prev != NULL)
		sc->prev->next = sc->next;
	else
		sv->calls = sc->next;
	if (sc->next != NULL)
		sc->next->prev = sc->prev;
	sv->ncalls--;
	free(sc);
}

/* scall_reap - timer: free a call that went down (outside its callbacks) */
static void scall_reap(struct loop *loop, void *arg)
{
	struct scall *sc = arg;

	(void) loop;
	sc->reap_timer = 0;
	scall_free(sc);
}

/* scall_down - free sc soon */
static void scall_down(struct scall *sc)
{
	sc->down = 1;
	if (sc->reap_timer == 0)
		sc->reap_timer = loop_timer_add(sc->sv->loop, 0, scall_reap, sc);
}

/* fmt_value - a log value, quoted when needed */
static const char *fmt_value(char *buf, size_t len, const char *s)
{
	if (s == NULL || *s == '\0')
		return "-";
	str_escape(buf, len, s, strlen(s));
	return buf;
}

/* serve_log_transfer - the one line per transfer */
static void serve_log_transfer(struct scall *sc, const struct niftp_event *ev)
{
	char    peer[400], caller[400], called[400], name[600], reason[800], user[200];
	const char *result;
	double  secs = (double) (loop_now_ms() - sc->t0) / 1000.0;
	double  rate = secs > 0.0005 ? (double) ev->offset / secs : 0.0;

	if (sc->sv->quiet)
		return;
	switch (ev->status) {
	case NIFTP_OK:
		result = "ok";
		break;
	case NIFTP_ERR_TEMP:
		result = "temporary";
		break;
	case NIFTP_ERR_RESUMABLE:
		result = "suspended";
		break;
	case NIFTP_ERR_NORESUME:
		result = "noresume";
		break;
	case NIFTP_ERR_PERM:
		result = "refused";
		break;
	case NIFTP_ERR_AUTH:
		result = "denied";
		break;
	default:
		result = "protocol-error";
		break;
	}
	log_info("transfer peer=%s caller=%s called=%s user=%s mode=%s%s name=%s "
	    "octets=%llu seconds=%.3f rate=%.0fB/s result=%s state=0x%04x reason=%s",
	    fmt_value(peer, sizeof(peer), sc->peer),
	    fmt_value(caller, sizeof(caller), sc->calling),
	    fmt_value(called, sizeof(called), sc->called),
	    fmt_value(user, sizeof(user), sc->user),
	    tool_mode_name(sc->mode), sc->resume ? "+resume" : "",
	    fmt_value(name, sizeof(name), ev->name && *ev->name ? ev->name : sc->name),
	    (unsigned long long) ev->offset, secs, rate, result, ev->state,
	    fmt_value(reason, sizeof(reason), ev->status == NIFTP_OK ? NULL : ev->reason));
}

/* serve_event - engine events of a served call */
static void serve_event(void *arg, struct niftp_call *call, const struct niftp_event *ev)
{
	struct scall *sc = arg;

	(void) call;
	switch (ev->type) {
	case NIFTP_EV_SFT:
		sc->active = 1;
		sc->t0 = loop_now_ms();
		sc->octets = 0;
		sc->name[0] = '\0';
		sc->user[0] = '\0';
		if (ev->req != NULL) {
			sc->mode = ev->req->mode;
			sc->resume = ev->req->resume;
			if (ev->req->filename != NULL)
				str_copy(sc->name, ev->req->filename, sizeof(sc->name));
			if (ev->req->username != NULL)
				str_copy(sc->user, ev->req->username, sizeof(sc->user));
			if (ev->req->caller != NULL && *ev->req->caller)
				str_copy(sc->calling, ev->req->caller, sizeof(sc->calling));
		}
		break;
	case NIFTP_EV_POS:
		if (ev->name != NULL)
			str_copy(sc->name, ev->name, sizeof(sc->name));
		break;
	case NIFTP_EV_PROGRESS:
		sc->octets = ev->offset;
		break;
	case NIFTP_EV_DONE:
		if (!sc->active)
			sc->t0 = loop_now_ms();
		serve_log_transfer(sc, ev);
		sc->active = 0;
		break;
	case NIFTP_EV_FAILED:
		log_warn("call from %s: %s", sc->peer, ev->reason ? ev->reason : "protocol error");
		break;
	default:
		break;
	}
}

/* serve_callev - call events of a served call */
static void serve_callev(void *arg, struct niftp_call *call, enum niftp_call_ev ev,
	int reason, const char *text)
{
	struct scall *sc = arg;

	(void) call;
	if (ev != NIFTP_CALL_EV_DOWN)
		return;
	if (reason != TS_R_NORMAL)
		log_debug("call from %s ended: %s (reason %d)", sc->peer, text, reason);
	scall_down(sc);
}

/* serve_kick, serve_supersede - the filestore's requests */
static void serve_kick(void *arg)
{
	struct scall *sc = arg;

	if (sc->call != NULL && !sc->down)
		niftp_call_kick(sc->call);
}

static void serve_supersede(void *arg)
{
	struct scall *sc = arg;

	if (sc->call != NULL && !sc->down)
		niftp_call_abort(sc->call, TS_R_LOCALPROC,
		    "superseded by a newer call resuming the same transfer");
}

/* serve_incoming - transport events of a call not yet served */
static void serve_incoming(struct ts_conn *c, const struct ts_event *ev, void *arg)
{
	struct scall *sc = arg;
	struct serve *sv = sc->sv;
	struct niftp_call_hooks hooks;
	struct niftp_config cfg;
	const char *called;
	int     mail;

	switch (ev->type) {
	case TS_EV_INCOMING:
		called = ev->called ? ev->called : "";
		str_copy(sc->called, called, sizeof(sc->called));
		str_copy(sc->calling, ev->calling ? ev->calling : "", sizeof(sc->calling));
		str_copy(sc->peer, ts_peer(c), sizeof(sc->peer));
		if (sv->stopping) {
			ts_refuse(c, TS_R_OUTOFORDER, "server shutting down");
			return;
		}
		if (*called != '\0' && !called_match(called, "FTP")) {
			log_warn("call from %s refused: unknown called address '%s'",
			    sc->peer, called);
			ts_refuse(c, TS_R_BADADDR, "unknown called address");
			return;
		}
		mail = called_match(called, "FTP.MAIL");
		if (ts_accept(c) < 0) {
			log_warn("call from %s: accept failed", sc->peer);
			return;		/* a DISCONNECT follows */
		}
		log_debug("call from %s (calling '%s', called '%s') accepted", sc->peer,
		    sc->calling, called);
		cfg = sv->cfg;
		cfg.mail_only = mail;
		memset(&hooks, 0, sizeof(hooks));
		hooks.event = serve_event;
		hooks.call = serve_callev;
		hooks.auth = serve_auth;
		sc->fc = dirfs_conn_new(sv->fs, serve_kick, serve_supersede, sc);
		sc->ts = NULL;
		sc->call = niftp_call_serve(sv->loop, c, &cfg, &hooks, sc, &dirfs_ops, sc->fc);
		dirfs_conn_engine(sc->fc, niftp_call_engine(sc->call));
		return;
	case TS_EV_DISCONNECT:
		scall_down(sc);
		return;
	default:
		return;
	}
}

/* serve_new - a new transport call on a listener */
static void serve_new(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	struct serve *sv = arg;
	struct scall *sc = xcalloc(1, sizeof(*sc));

	(void) l;
	sc->sv = sv;
	sc->ts = c;
	str_copy(sc->peer, ts_peer(c), sizeof(sc->peer));
	sc->next = sv->calls;
	if (sv->calls != NULL)
		sv->calls->prev = sc;
	sv->calls = sc;
	sv->ncalls++;
	sv->served++;
	ts_set_handler(c, serve_incoming, sc);
}

/* --- stopping -------------------------------------------------------------- */

/* serve_cut_all - end every call now */
static void serve_cut_all(struct serve *sv, const char *why)
{
	struct scall *sc;

	for (sc = sv->calls; sc != NULL; sc = sc->next) {
		if (sc->down)
			continue;
		if (sc->call != NULL)
			niftp_call_abort(sc->call, TS_R_OUTOFORDER, why);
		else if (sc->ts != NULL)
			ts_disconnect(sc->ts, TS_R_OUTOFORDER, why);
	}
}

static void serve_grace_over(struct loop *loop, void *arg)
{
	struct serve *sv = arg;

	(void) loop;
	sv->grace_timer = 0;
	if (sv->ncalls > 0)
		log_info("grace time over: ending %d calls", sv->ncalls);
	serve_cut_all(sv, "server shutting down");
}

/* serve_signal - SIGTERM/SIGINT on the loop thread */
static void serve_signal(void *arg, int sig)
{
	struct serve *sv = arg;
	struct scall *sc;
	int     i;

	sv->signals++;
	if (sv->stopping) {
		log_info("signal %d again: ending all calls now", sig);
		serve_cut_all(sv, "server shutting down");
		return;
	}
	sv->stopping = 1;
	log_info("signal %d: stopping (%d calls in progress)", sig, sv->ncalls);
	for (i = 0; i < sv->nls; i++)
		ts_listener_close(sv->ls[i]);
	sv->nls = 0;
	for (sc = sv->calls; sc != NULL; sc = sc->next)
		if (!sc->down && (sc->call == NULL || !sc->active)) {
			if (sc->call != NULL)
				niftp_call_abort(sc->call, TS_R_OUTOFORDER, "server shutting down");
			else if (sc->ts != NULL)
				ts_disconnect(sc->ts, TS_R_OUTOFORDER, "server shutting down");
		}
	sv->grace_timer = loop_timer_add(sv->loop, sv->grace_ms, serve_grace_over, sv);
}

/* serve_ready - write the ready file with the bound addresses */
static int serve_ready(struct serve *sv, const char *path)
{
	char    err[DURABLE_ERRLEN];
	char   *text = xstrdup(""), *more;
	int     i, rc;

	for (i = 0; i < sv->nls; i++) {
		more = xasprintf("%s%s\n", text, ts_listener_addr(sv->ls[i]));
		free(text);
		text = more;
	}
	rc = durable_write_file(path, text, strlen(text), err, sizeof(err));
	if (rc < 0)
		log_error("serve: ready file: %s", err);
	free(text);
	return rc;
}

/* tool_serve - the serve subcommand */
int tool_serve(int argc, char **argv)
{
	struct serve sv;
	struct dirfs_opts dopts;
	const char *listen[SERVE_MAX_LISTEN];
	const char *dir = NULL, *users = NULL, *logfile = NULL, *ready = NULL;
	char    err[DURABLE_ERRLEN];
	uint64_t u;
	int64_t ms;
	int     nlisten = 0, c, i, verbose = 0, rc = TOOL_OTHER;

	memset(&sv, 0, sizeof(sv));
	memset(&dopts, 0, sizeof(dopts));
	sv.grace_ms = 30000;
	memset(&sv.tsopts, 0, sizeof(sv.tsopts));
	sv.tsopts.connect_timeout_ms = 10000;
	sv.tsopts.setup_timeout_ms = 30000;
	sv.tsopts.idle_timeout_ms = 660000;
	if (gethostname(sv.local_name, sizeof(sv.local_name) - 1) < 0 || !sv.local_name[0])
		str_copy(sv.local_name, "localhost", sizeof(sv.local_name));

	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "qv", serve_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			if (nlisten == SERVE_MAX_LISTEN)
				return tool_usage("serve", "at most %d --listen addresses",
				    SERVE_MAX_LISTEN);
			listen[nlisten++] = optarg;
			break;
		case OPT_DIR:
			dir = optarg;
			break;
		case OPT_USERS:
			users = optarg;
			break;
		case OPT_MAX_SIZE:
			if (str_to_size(optarg, &u) < 0 || u == 0)
				return tool_usage("serve", "bad --max-size '%s'", optarg);
			dopts.max_size = u;
			break;
		case OPT_LOG:
			logfile = optarg;
			break;
		case OPT_READY_FILE:
			ready = optarg;
			break;
		case OPT_CHECKPOINT:
			if (str_to_size(optarg, &u) < 0 || u < 4096)
				return tool_usage("serve", "bad --checkpoint '%s' (at least 4k)",
				    optarg);
			dopts.checkpoint = u;
			break;
		case OPT_KEEP_DOCKETS:
			if (tool_duration(optarg, &ms) < 0 || ms <= 0)
				return tool_usage("serve", "bad --keep-dockets '%s'", optarg);
			dopts.keep_ms = ms;
			break;
		case OPT_TIMEOUT:
			if (tool_duration(optarg, &ms) < 0 || ms <= 0 || ms > INT32_MAX)
				return tool_usage("serve", "bad --timeout '%s'", optarg);
			sv.tsopts.idle_timeout_ms = (int) ms;
			break;
		case OPT_GRACE:
			if (tool_duration(optarg, &ms) < 0 || ms < 0)
				return tool_usage("serve", "bad --grace '%s'", optarg);
			sv.grace_ms = ms;
			break;
		case OPT_CALLING:
			if (*optarg == '\0' || strlen(optarg) >= sizeof(sv.local_name))
				return tool_usage("serve", "bad --calling '%s'", optarg);
			str_copy(sv.local_name, optarg, sizeof(sv.local_name));
			break;
		case 'q':
			sv.quiet = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case OPT_HELP:
			fputs(serve_help, stdout);
			return TOOL_OK;
		default:
			return tool_bad_option("serve");
		}
	}
	if (optind < argc)
		return tool_usage("serve", "unexpected argument '%s'", argv[optind]);
	if (nlisten == 0)
		return tool_usage("serve", "no --listen address");
	if (dir == NULL)
		return tool_usage("serve", "no --dir");
	sv.tsopts.local_name = sv.local_name;
	log_init("niftp", verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	log_timestamps(1);
	if (logfile != NULL && log_to_file(logfile, err, sizeof(err)) < 0) {
		log_error("serve: %s", err);
		return TOOL_CONFIG;
	}
	if (users != NULL && serve_load_users(&sv, users) < 0)
		return TOOL_CONFIG;
	/* stdout may be the call itself (stdio): nothing of ours goes there */
	for (i = 0, sv.oneshot = 1; i < nlisten; i++)
		if (strcmp(listen[i], "stdio") != 0)
			sv.oneshot = 0;

	if ((sv.loop = loop_new()) == NULL) {
		log_error("serve: create event loop: %s", strerror(errno));
		return TOOL_OTHER;
	}
	if ((sv.wq = workq_new(sv.loop, SERVE_THREADS)) == NULL) {
		log_error("serve: start worker threads: failed");
		goto out;
	}
	if ((sv.fs = dirfs_open(sv.loop, sv.wq, dir, &dopts, err, sizeof(err))) == NULL) {
		log_error("serve: %s", err);
		rc = TOOL_CONFIG;
		goto out;
	}
	sv.cfg.info = TOOL_VERSION;
	sv.cfg.deflate = 1;
	sv.cfg.resumption = 1;
	sv.cfg.max_size = dopts.max_size;
	if (tool_signals(sv.loop, serve_signal, &sv) < 0)
		goto out;
	for (i = 0; i < nlisten; i++) {
		struct ts_addr a;

		if (strcmp(listen[i], "stdio") != 0
		    && ts_addr_parse(listen[i], &a, err, sizeof(err)) < 0) {
			rc = tool_usage("serve", "bad --listen '%s': %s", listen[i], err);
			goto out;
		}
		sv.ls[sv.nls] = ts_listen(sv.loop, listen[i], &sv.tsopts, serve_new, &sv,
		    err, sizeof(err));
		if (sv.ls[sv.nls] == NULL) {
			log_error("serve: listen on '%s': %s", listen[i], err);
			rc = TOOL_TEMPFAIL;
			goto out;
		}
		log_debug("listening on %s", ts_listener_addr(sv.ls[sv.nls]));
		sv.nls++;
	}
	if (ready != NULL && serve_ready(&sv, ready) < 0) {
		rc = TOOL_OTHER;
		goto out;
	}
	while (!serve_finished(&sv))
		if (loop_run_once(sv.loop, -1) < 0 && errno != EINTR) {
			log_error("serve: event loop: %s", strerror(errno));
			goto out;
		}
	rc = TOOL_OK;
out:
	for (i = 0; i < sv.nls; i++)
		ts_listener_close(sv.ls[i]);
	while (sv.calls != NULL)
		scall_free(sv.calls);
	if (sv.wq != NULL)
		workq_free(sv.wq);
	dirfs_close(sv.fs);
	for (i = 0; i < sv.nusers; i++) {
		memset(sv.users[i].password, 0, strlen(sv.users[i].password));
		free(sv.users[i].name);
		free(sv.users[i].password);
	}
	free(sv.users);
	if (sv.loop != NULL)
		loop_free(sv.loop);
	return rc;
}
