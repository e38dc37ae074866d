/*++
 * NAME
 *	relayd 3
 * SUMMARY
 *	mailrelayd: start-up, listeners, signals, readiness
 * SYNOPSIS
 *	#include "relay/relayd.h"
 *	int relayd_main(int argc, char **argv);
 * DESCRIPTION
 *	Start-up: load the configuration (errors: exit 78), find the
 *	[node] user to run as (relay/privs.h: exit 78 when it does not
 *	exist, 75 when the user database fails, 77 when a non-root process
 *	is asked to become another user; root without one stays root, with
 *	a warning), daemonize unless -f (the parent waits for the child's
 *	readiness), open the log file (as root: never through a link, only
 *	a regular file with one link; one that cannot be opened: exit 78;
 *	one made now is given to the user) or, daemonized without one,
 *	syslog ([node] syslog_facility, syslog_ident), refuse a spool another
 *	daemon holds (exit 75), listen on every [listen] mail address (as
 *	root: privileged ports, sockets in root's directories, those made
 *	mode 0666 and the user's), give the spool to the user (78, 74 or 75
 *	by the failure) and become it for good (77 when that fails), check
 *	that what a reload reads is readable by the user (the configuration,
 *	each password_file: exit 78), then open and recover the spool (its
 *	lock taken as the user),
 *	listen on SPOOL/stdio.sock (Yellow Book over a Unix socket: the door
 *	through which "mailrelayd --stdio" hands its call to this daemon, so
 *	the daemon stays the only writer of the spool), open the control
 *	socket SPOOL/control, load the queue, write SPOOL/pid and
 *	SPOOL/ready, and tell a service manager READY=1 (util/sdnotify.h:
 *	only when NOTIFY_SOCKET is set). Everything from the spool on is
 *	created by the user. Without -c the configuration is
 *	$NIFTPMAIL_CONF, else CONF_DEFAULT_PATH (util/confpath.h; a missing
 *	one: exit 78).
 *
 *	Signals arrive through a self-pipe and are handled on the loop:
 *	SIGHUP reopens the log file when its name no longer names it (a
 *	rotation; a failure keeps the old one) and reloads (conf_load; a
 *	configuration with errors is refused,
 *	every error logged, the old one kept; listeners are not changed by
 *	a reload; a service manager hears RELOADING=1 before and READY=1
 *	after); SIGTERM/SIGINT stop (STOPPING=1): listeners close, calls between
 *	transfers end, transfers in flight may finish for 30 s (then they
 *	are cut and stay resumable: dockets), disk work drains, exit 0.
 *
 *	The control socket and its requests: relay/ctl_server.c, with the
 *	protocol table of relay/ctl_proto.h (reload is relayd_reload() here).
 *
 *	--stdio: splice stdin/stdout to SPOOL/stdio.sock (exit 75 when the
 *	daemon is not running).
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "niftp/ts.h"
#include "relay/archive.h"
#include "relay/chan_smtp.h"
#include "relay/conf.h"
#include "relay/ctl_server.h"
#include "relay/peer.h"
#include "relay/pickup.h"
#include "relay/privs.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/relayd_recv.h"
#include "relay/relayd_stats.h"
#include "relay/sched.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/confpath.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/sdnotify.h"
#include "util/strutil.h"
#include "util/version.h"
#include "util/workq.h"

#define RELAYD_GRACE_MS		30000
#define RELAYD_THREADS		4

static int sig_wfd = -1;		/* the self-pipe: set once at start-up */

static void on_signal(int sig)
{
	unsigned char c = (unsigned char) sig;
	int     saved = errno;

	if (sig_wfd >= 0)
		(void) write(sig_wfd, &c, 1);
	errno = saved;
}

int relayd_channels_start(struct relayd *rd, char *err, size_t errlen)
{
	int     i;

	for (i = 0; i < CHANNEL_MAX; i++) {
		if (rd->chops[i] == NULL)
			rd->chops[i] = channel_default((enum route_channel) i);
		if (rd->chops[i] == NULL || rd->chself[i] != NULL)
			continue;
		if ((rd->chself[i] = rd->chops[i]->init(rd, err, errlen)) == NULL)
			return -1;
	}
	return 0;
}

int relayd_channels_busy(const struct relayd *rd)
{
	int     i;

	for (i = 0; i < CHANNEL_MAX; i++)
		if (rd->chself[i] != NULL && rd->chops[i]->busy != NULL
		    && rd->chops[i]->busy(rd->chself[i]))
			return 1;
	return 0;
}

void relayd_channels_stop(struct relayd *rd, int now)
{
	int     i;

	for (i = 0; i < CHANNEL_MAX; i++)
		if (rd->chself[i] != NULL && rd->chops[i]->stop != NULL)
			rd->chops[i]->stop(rd->chself[i], now);
}

void relayd_channels_free(struct relayd *rd)
{
	int     i;

	for (i = 0; i < CHANNEL_MAX; i++) {
		if (rd->chself[i] != NULL && rd->chops[i]->free != NULL)
			rd->chops[i]->free(rd->chself[i]);
		rd->chself[i] = NULL;
	}
}

/* stdio_sock - SPOOL/stdio.sock */
static void stdio_sock(const char *spool, char *buf, size_t len)
{
	snprintf(buf, len, "%s/stdio.sock", spool);
}

/* relayd_ready_write - SPOOL/ready */
void relayd_ready_write(struct relayd *rd)
{
	struct buf b = BUF_INIT(64 * 1024);
	char    path[PATH_MAX], err[DURABLE_ERRLEN];
	int     i;

	for (i = 0; i < rd->nls; i++)
		buf_printf(&b, "%s\n", ts_listener_addr(rd->ls[i]));
	buf_printf(&b, "control unix:%s\npid %ld\n", rd->conf->control, (long) getpid());
	snprintf(path, sizeof(path), "%s/ready", rd->conf->spool);
	if (durable_write_file(path, buf_data(&b), b.len, err, sizeof(err)) < 0)
		log_error("write ready file: %s", err);
	buf_release(&b);
}

/* relayd_notify - tell the service manager (util/sdnotify.h; nothing
 * without NOTIFY_SOCKET); a failure is logged, never fatal */
static void relayd_notify(const char *state)
{
	char    err[DURABLE_ERRLEN];

	if (sdnotify(state, err, sizeof(err)) < 0)
		log_warn("%s", err);
}

static void relayd_new_call(struct ts_listener *l, struct ts_conn *c, void *arg)
{
	relayd_serve_new(arg, l, c);
}

/* --- reload and stop -------------------------------------------------------- */

/* str_same - both NULL, or equal strings */
static int str_same(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* relayd_log_reopen - a log file renamed away (logrotate) is opened
 * anew, before the reload logs anything: the new file gets every line
 * after the signal. A failure keeps the old file and says why. */
static void relayd_log_reopen(const struct relayd *rd)
{
	char    err[RELAYD_ERRLEN];
	int     r = log_reopen(err, sizeof(err));

	if (r < 0)
		log_error("reload: %s: still logging to the old file (the log file's directory"
		    " must let user %s create it, or logrotate create it: doc/mailrelayd.8,"
		    " LOGGING)", err, rd->conf->user ? rd->conf->user : "of the daemon");
	else if (r > 0)
		log_info("reload: log file '%s' reopened", log_file_path());
}

static int relayd_reload(struct relayd *rd, struct buf *out)
{
	struct buf errs = BUF_INIT(CONF_ERRS_MAX);
	unsigned ne = 0, nw = 0;
	struct conf *c;
	char   *line, *next, *text;
	int     i;

	relayd_log_reopen(rd);
	c = conf_load(rd->conf_path, &errs, &ne, &nw);
	text = buf_cstr(&errs);
	for (line = text; line != NULL && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (c == NULL)
			log_error("reload: %s", line);
		else
			log_warn("reload: %s", line);
		if (out != NULL)
			buf_printf(out, "%s\n", line);
	}
	buf_release(&errs);
	if (c != NULL) {
		char    why[600];

		if (peer_ready(c, why, sizeof(why)) < 0) {
			log_error("reload: %s", why);
			if (out != NULL)
				buf_printf(out, "%s\n", why);
			conf_free(c);
			c = NULL;
			ne = 1;
		}
	}
	if (c == NULL) {
		log_error("reload: configuration '%s' has %u errors: refused, old one kept",
		    rd->conf_path, ne);
		return -1;
	}
	if (strcmp(c->name, rd->conf->name) != 0 || strcmp(c->spool, rd->conf->spool) != 0) {
		log_error("reload: node name and spool cannot change while running: refused");
		if (out != NULL)
			buf_printf(out, "node name and spool cannot change while running\n");
		conf_free(c);
		return -1;
	}
	if ((c->user == NULL) != (rd->conf->user == NULL)
	    || (c->user != NULL && strcmp(c->user, rd->conf->user) != 0))
		log_warn("reload: [node] user changes at the next start, not now");
	if (!str_same(c->log_file, rd->conf->log_file)
	    || !str_same(c->syslog_facility, rd->conf->syslog_facility)
	    || !str_same(c->syslog_ident, rd->conf->syslog_ident))
		log_warn("reload: [node] log_file, syslog_facility and syslog_ident change at the"
		    " next start, not now");
	/* copies already started keep their stored prefix and hop name */
	conf_free(rd->conf);
	rd->conf = c;
	log_info("reload: configuration '%s' loaded", rd->conf_path);
	relayd_ready_write(rd);
	for (i = 0; i < CHANNEL_MAX; i++)
		if (rd->chops[i] != NULL && rd->chops[i]->reload != NULL)
			rd->chops[i]->reload(rd->chself[i]);
	sched_poke(rd->sched);
	return 0;
}

static void relayd_begin_stop(struct relayd *rd)
{
	int     i;

	if (rd->stopping) {
		log_info("signal again: ending every call now");
		rd->stop_now = 1;
		relayd_recv_stop(rd, 1);
		relayd_channels_stop(rd, 1);
		return;
	}
	rd->stopping = 1;
	rd->stop_deadline = loop_now_ms() + RELAYD_GRACE_MS;
	relayd_notify("STOPPING=1");
	log_info("stopping: %d incoming calls", rd->nrcalls);
	for (i = 0; i < rd->nls; i++)
		ts_listener_close(rd->ls[i]);
	rd->nls = 0;
	relayd_recv_stop(rd, 0);
	relayd_channels_stop(rd, 0);
}

static void sig_readable(struct loop *loop, int fd, int mask, void *arg)
{
	struct relayd *rd = arg;
	unsigned char c;

	(void) loop;
	(void) mask;
	while (read(fd, &c, 1) == 1) {
		if (c == SIGHUP) {
			char    err[DURABLE_ERRLEN];

			/* Type=notify: RELOADING=1, then READY=1 whether the
			 * new configuration was taken or refused (the old one
			 * runs on: the service is ready either way) */
			if (sdnotify_reloading(err, sizeof(err)) < 0)
				log_warn("%s", err);
			if (relayd_reload(rd, NULL) < 0)
				relayd_notify("READY=1\nSTATUS=reload refused: the old configuration"
				    " runs on (see the log)");
			else
				relayd_notify("READY=1\nSTATUS=configuration reloaded");
		} else
			relayd_begin_stop(rd);
	}
}

static int relayd_signals(struct relayd *rd)
{
	struct sigaction sa;

	if (pipe2(rd->sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	sig_wfd = rd->sig_pipe[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* pickup's write check takes a read lease for an instant: a writer
	 * opening the file then breaks it, and the kernel sends SIGIO */
	signal(SIGIO, SIG_IGN);
	return loop_fd_set(rd->loop, rd->sig_pipe[0], LOOP_READ, sig_readable, rd);
}

/* --- --stdio --------------------------------------------------------------- */

static int stdio_splice(const struct conf *c)
{
	struct sockaddr_un sa;
	struct pollfd pf[2];
	char    path[PATH_MAX], b[64 * 1024];
	ssize_t n;
	int     fd, in_open = 1, out_open = 1;

	stdio_sock(c->spool, path, sizeof(path));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	str_copy(sa.sun_path, path, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		log_error("connect to the running daemon at '%s': %s", path, strerror(errno));
		return RX_TEMPFAIL;
	}
	signal(SIGPIPE, SIG_IGN);
	/* pickup's write check takes a read lease for an instant: a writer
	 * opening the file then breaks it, and the kernel sends SIGIO */
	signal(SIGIO, SIG_IGN);
	while (out_open) {
		pf[0].fd = in_open ? 0 : -1;
		pf[0].events = POLLIN;
		pf[1].fd = fd;
		pf[1].events = POLLIN;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (in_open && (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = read(0, b, sizeof(b));
			if (n <= 0) {
				in_open = 0;
				(void) shutdown(fd, SHUT_WR);
			} else if (write_full(fd, b, (size_t) n) < 0)
				break;
		}
		if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, b, sizeof(b));
			if (n <= 0)
				out_open = 0;
			else if (write_full(1, b, (size_t) n) < 0)
				break;
		}
	}
	close(fd);
	return RX_OK;
}

/* --- start-up checks ------------------------------------------------------ */

/* prepare_status - the exit status of a privs_spool_prepare() failure
 * with errno e: 78 for what the configuration must change (a spool that
 * is a link or not a directory, a path too long, a spool root may not
 * change), 74 for a file system that fails or is read-only, 75 for the
 * rest (no space, no memory, no descriptors: try again) */
static int prepare_status(int e)
{
	switch (e) {
	case ELOOP:
	case ENOTDIR:
	case ENAMETOOLONG:
	case EACCES:
	case EPERM:
		return RX_CONFIG;
	case EIO:
	case EROFS:
		return RX_IOERR;
	default:
		return RX_TEMPFAIL;
	}
}

/* reload_readable - after the drop, what a SIGHUP reload reads (the
 * configuration, every peer's password_file) is readable by the user
 * (user: its name, for the fix): 0, or -1 with err naming the file and
 * the fix. Read as root at start-up, a root-only file would pass, and
 * every later reload would be refused. */
static int reload_readable(const struct relayd *rd, const char *user, char *err, size_t errlen)
{
	struct buf errs = BUF_INIT(CONF_ERRS_MAX);
	char    why[RELAYD_ERRLEN / 2];
	struct conf *c;
	size_t  i;
	int     rc = 0;

	if ((c = conf_load(rd->conf_path, &errs, NULL, NULL)) == NULL) {
		snprintf(err, errlen, "configuration '%s' read as user %s: %.*s (a reload reads"
		    " it as this user: make it readable by %s)", rd->conf_path, user,
		    (int) strcspn(buf_cstr(&errs) ? buf_cstr(&errs) : "", "\n"),
		    buf_cstr(&errs) ? buf_cstr(&errs) : "errors", user);
		buf_release(&errs);
		return -1;
	}
	buf_release(&errs);
	if (peer_ready(c, why, sizeof(why)) < 0) {
		const char *file = "?";

		for (i = 0; i < c->npeers; i++)
			if (c->peers[i].username != NULL && c->peers[i].password == NULL) {
				file = c->peers[i].password_file ? c->peers[i].password_file : "?";
				break;
			}
		snprintf(err, errlen, "read as user %s: %s; a reload reads it as this user: chown"
		    " %s '%s' and chmod 600 it", user, why, user, file);
		rc = -1;
	}
	conf_free(c);
	return rc;
}

/* --- main --------------------------------------------------------------- */

static const char relayd_help[] =
"Usage: mailrelayd [-c NODE.ini] [-f] [-v]\n"
"       mailrelayd --stdio [-c NODE.ini]\n"
"Run one niftpmail node: receive letters over NIFTP (FTP.MAIL), pick up\n"
"letters dropped into SPOOL/out, route, deliver locally, forward, retry,\n"
"and send non-delivery notices.\n"
"\n"
"  -c, --config FILE   the node's configuration (else $" CONF_ENV ", else\n"
"                      " CONF_DEFAULT_PATH ")\n"
"  -f, --foreground    do not daemonize; log to standard error\n"
"  --stdio             serve one call on stdin/stdout through the running daemon\n"
"  -v, --verbose       debugging messages\n"
"  --help              this text\n"
"  --version           the version of niftpmail\n"
"\n"
"Signals: SIGHUP reloads the configuration (a broken one is refused),\n"
"SIGTERM finishes or safely abandons calls in flight and exits 0.\n"
"Readiness: SPOOL/ready lists the bound addresses once listening; with\n"
"NOTIFY_SOCKET set (systemd Type=notify: run with -f), READY=1, RELOADING=1\n"
"and STOPPING=1 are sent there too (doc/mailrelayd.8, SERVICE).\n"
"Started as root with [node] user set, it binds its addresses, gives the\n"
"spool to that user and runs as it (doc/mailrelayd.8, PRIVILEGES).\n"
"Exit status: 0 stopped, 64 usage, 74 the spool's file system failed (EIO,\n"
"EROFS), 75 cannot listen or reach the daemon (or another daemon holds the\n"
"spool, or the user database failed), 77 cannot become [node] user (not root,\n"
"or the change failed), 78 configuration error (also: no such [node] user, a\n"
"log file or password_file refused), 1 other error.\n";

int relayd_main(int argc, char **argv);

int relayd_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "stdio", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct relayd rd;
	struct relayd_stats *rstats = NULL;
	struct archive *rarch = NULL;
	struct ctl_server *ctl = NULL;
	struct spool_opts so;
	struct spool_recovery rep;
	struct privs pv;
	struct privs_report prep;
	enum privs_how how;
	struct buf errs = BUF_INIT(CONF_ERRS_MAX);
	char    err[RELAYD_ERRLEN], path[PATH_MAX], sockaddr[PATH_MAX + 8];
	unsigned ne = 0, nw = 0;
	int     c, verbose = 0, rc = RX_OTHER, readyp[2] = { -1, -1 }, logging = 0;
	size_t  i;
	char   *text;

	memset(&rd, 0, sizeof(rd));
	rd.sig_pipe[0] = rd.sig_pipe[1] = -1;
	log_init("mailrelayd", LOG_LVL_INFO);
	while ((c = getopt_long(argc, argv, "c:fv", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			rd.conf_path = optarg;
			break;
		case 'f':
			rd.foreground = 1;
			break;
		case 's':
			rd.stdio_mode = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			fputs(relayd_help, stdout);
			return RX_OK;
		case 'V':
			puts(VERSION_LINE("mailrelayd"));
			return RX_OK;
		default:
			fprintf(stderr, "Try 'mailrelayd --help'.\n");
			return RX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mailrelayd: unexpected argument '%s'\nTry 'mailrelayd --help'.\n",
		    argv[optind]);
		return RX_USAGE;
	}
	/* no -c: $NIFTPMAIL_CONF, else the one-node host's default */
	if (confpath_find(rd.conf_path, CONF_ENV, CONF_DEFAULT_PATH, &rd.conf_path, NULL, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "mailrelayd: %s\n", err);
		return RX_CONFIG;
	}
	log_init("mailrelayd", verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	rd.conf = conf_load(rd.conf_path, &errs, &ne, &nw);
	if ((text = buf_cstr(&errs)) != NULL && *text)
		fputs(text, stderr);
	buf_release(&errs);
	if (rd.conf == NULL) {
		log_error("configuration '%s': %u errors", rd.conf_path, ne);
		return RX_CONFIG;
	}
	if (peer_ready(rd.conf, err, sizeof(err)) < 0) {
		log_error("configuration '%s': %s", rd.conf_path, err);
		conf_free(rd.conf);
		return RX_CONFIG;
	}
	if (rd.stdio_mode) {
		rc = stdio_splice(rd.conf);
		conf_free(rd.conf);
		return rc;
	}
	/* whom to run as, before anything starts (a daemon's parent hears
	 * the refusal too) */
	how = privs_resolve(rd.conf->user, &pv, err, sizeof(err));
	if (how == PRIVS_NOUSER || how == PRIVS_LOOKUP || how == PRIVS_NOTROOT) {
		log_error("%s", err);
		conf_free(rd.conf);
		if (how == PRIVS_NOUSER)
			return RX_CONFIG;
		return how == PRIVS_LOOKUP ? RX_TEMPFAIL : RX_NOPERM;
	}
	if (!rd.foreground) {
		pid_t   pid;
		unsigned char st = RX_OTHER;

		if (pipe(readyp) < 0) {
			log_error("pipe: %s", strerror(errno));
			goto out;
		}
		if ((pid = fork()) < 0) {
			log_error("fork: %s", strerror(errno));
			goto out;
		}
		if (pid > 0) {
			close(readyp[1]);
			if (read(readyp[0], &st, 1) != 1)
				st = RX_OTHER;
			conf_free(rd.conf);
			return st;
		}
		close(readyp[0]);
		readyp[0] = -1;
		(void) setsid();
	}
	log_timestamps(1);
	/* opened before the drop, as root, and kept open: the log may be
	 * where only root can create it (doc/mailrelayd.8, PRIVILEGES); as
	 * root, never through a link or into what is not a log. A log that
	 * cannot be opened stops the start: a daemon must not run unheard.
	 * Daemonized without one: syslog (doc/mailrelayd.8, LOGGING). */
	if (rd.conf->log_file) {
		if (log_to_file(rd.conf->log_file, err, sizeof(err)) < 0) {
			log_error("%s: fix [node] log_file in '%s' (or create its directory)", err,
			    rd.conf_path);
			rc = RX_CONFIG;
			goto out;
		}
		/* a file made now is the user's, so that a reopen after a
		 * rotation (as the user) finds it its own */
		if (pv.drop && log_file_give(pv.uid, pv.gid, err, sizeof(err)) < 0)
			log_warn("%s", err);
		logging = 1;
	} else if (!rd.foreground) {
		if (log_to_syslog(rd.conf->syslog_ident, rd.conf->syslog_facility, err,
		    sizeof(err)) < 0) {
			log_error("%s", err);
			rc = RX_CONFIG;
			goto out;
		}
		logging = 1;
	}
	if (how == PRIVS_ROOT)
		log_warn("running as root: set [node] user (doc/mailrelayd.8, PRIVILEGES)");
	/* libcurl's process-wide state (the smtp channel), before any thread */
	chan_smtp_global_init();
	if ((rd.loop = loop_new()) == NULL) {
		log_error("create event loop: %s", strerror(errno));
		goto out;
	}
	/* a second daemon on this spool: said before its bind fails */
	if (spool_lock_probe(rd.conf->spool, err, sizeof(err))) {
		log_error("%s", err);
		rc = RX_TEMPFAIL;
		goto out;
	}
	/* the addresses first, while root may bind them; nothing is accepted
	 * before the loop runs, and the queue exists before it first does */
	for (i = 0; i < rd.conf->nlisten; i++) {
		int     as_root = geteuid() == 0 && strncmp(rd.conf->listen[i], "unix:", 5) == 0;
		mode_t  um = 0;

		/* a Unix socket bound as root: mode 0666, so that sibling nodes
		 * running as other users can call (callers are identified by
		 * the kernel and held to the relay rules: doc/peers.md); the
		 * umask says so at the bind, with no window after it */
		if (as_root)
			um = umask(0111);
		rd.ls[rd.nls] = ts_listen(rd.loop, rd.conf->listen[i], NULL, relayd_new_call, &rd,
		    err, sizeof(err));
		if (as_root)
			(void) umask(um);
		if (rd.ls[rd.nls] == NULL) {
			log_error("listen on '%s': %s", rd.conf->listen[i], err);
			rc = RX_TEMPFAIL;
			goto out;
		}
		/* ... and the service user's, as the sockets it makes later */
		if (as_root && strncmp(ts_listener_addr(rd.ls[rd.nls]), "unix:", 5) == 0
		    && privs_give_socket(&pv, ts_listener_addr(rd.ls[rd.nls]) + 5, err,
		    sizeof(err)) < 0)
			log_warn("listen on '%s': %s", rd.conf->listen[i], err);
		rd.ls_accept[rd.nls] = rd.conf->listen_accept[i];
		rd.ls_local[rd.nls] = rd.conf->listen_local[i];
		rd.nls++;
	}
	if (pv.drop) {
		if (privs_spool_prepare(&pv, rd.conf->spool, &prep, err, sizeof(err)) < 0) {
			rc = prepare_status(errno);
			log_error("%s", err);
			goto out;
		}
		if (privs_drop(&pv, err, sizeof(err)) < 0) {
			log_error("%s", err);
			rc = RX_NOPERM;
			goto out;
		}
		log_info("running as user %s (uid %lu, gid %lu); spool '%s': %u directories made,"
		    " %u entries given to %s, %u of root's left (links, other kinds)", pv.name,
		    (unsigned long) pv.uid, (unsigned long) pv.gid, rd.conf->spool, prep.created,
		    prep.chowned, pv.name, prep.skipped);
		/* what a SIGHUP reload will read, read now as the user */
		if (reload_readable(&rd, pv.name, err, sizeof(err)) < 0) {
			log_error("%s", err);
			rc = RX_CONFIG;
			goto out;
		}
	}
	/* the workers after the drop: every thread runs as the user */
	if ((rd.wq = workq_new(rd.loop, RELAYD_THREADS)) == NULL) {
		log_error("create worker threads: %s", strerror(errno));
		goto out;
	}
	memset(&so, 0, sizeof(so));
	so.dir = rd.conf->spool;
	so.node = rd.conf->name;
	so.loop = rd.loop;
	so.log_lines = 1;	/* a line per letter event (doc/mailrelayd.8, LOGGING) */
	if ((rd.sp = spool_open(&so, err, sizeof(err))) == NULL) {
		/* another daemon on this spool: temporary, it names the pid */
		rc = errno == EWOULDBLOCK ? RX_TEMPFAIL : RX_CONFIG;
		log_error("%s", err);
		goto out;
	}
	if (spool_recover(rd.sp, &rep, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (relayd_signals(&rd) < 0) {
		log_error("signals: %s", strerror(errno));
		goto out;
	}
	/* the queue and its channels before anything can call in */
	rd.q = queue_new(&rd);
	rd.sched = sched_new(&rd);
	rd.pickup = pickup_new(&rd);
	if (relayd_channels_start(&rd, err, sizeof(err)) < 0) {
		log_error("%s", err);
		rc = RX_CONFIG;
		goto out;
	}
	{
		/* after the queue and its channels: its transactions run the
		 * loop, which may accept a call on the addresses bound above */
		unsigned removed = 0;
		int64_t keep = rd.conf->docket_keep_ms / 1000;

		if (spool_docket_prune(rd.sp, keep > 0 ? keep : 6 * 86400, time(NULL),
		    (const char *const []) { "env ", "envf ", "dead ", "srv pull:", NULL }, &removed,
		    err, sizeof(err)) < 0)
			log_warn("%s", err);
	}
	stdio_sock(rd.conf->spool, path, sizeof(path));
	(void) unlink(path);
	snprintf(sockaddr, sizeof(sockaddr), "unix:%s", path);
	if ((rd.ls[rd.nls] = ts_listen(rd.loop, sockaddr, NULL, relayd_new_call, &rd, err,
	    sizeof(err))) == NULL)
		log_warn("listen on '%s': %s (mailrelayd --stdio will not work)", sockaddr, err);
	else {
		/* the door of remote callers (ssh, inetd): whoever runs the
		 * splice, its callers are never local submission */
		rd.ls_accept[rd.nls] = PEER_ACCEPT_LOCAL;
		rd.ls_local[rd.nls] = 0;
		rd.nls++;
	}
	if ((ctl = ctl_server_start(&rd, relayd_reload, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		rc = RX_TEMPFAIL;
		goto out;
	}
	{
		/* partial received files: committed before a crash, or kept
		 * longer than the server dockets that refer to them */
		unsigned removed = 0;
		int64_t keep = rd.conf->docket_keep_ms / 1000;

		if (spool_part_prune(rd.sp, keep > 0 ? keep : 6 * 86400, time(NULL), &removed,
		    err, sizeof(err)) < 0)
			log_warn("%s", err);
		else if (removed)
			log_info("removed %u partial received files", removed);
	}
	if (queue_load(rd.q, err, sizeof(err)) < 0) {
		log_error("load queue: %s", err);
		goto out;
	}
#ifdef __GLIBC__
	/* loading a long queue freed its reading buffers (the docket
	 * snapshot, the directory listings): give the pages back */
	(void) malloc_trim(0);
#endif
	sched_start(rd.sched);
	pickup_scan(rd.pickup, 1);
	{
		char    pid[32];

		snprintf(path, sizeof(path), "%s", rd.conf->pid_file ? rd.conf->pid_file : "");
		if (!path[0])
			snprintf(path, sizeof(path), "%s/pid", rd.conf->spool);
		snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
		if (durable_write_file(path, pid, strlen(pid), err, sizeof(err)) < 0)
			log_warn("pid file: %s", err);
	}
	rstats = relayd_stats_start(&rd);
	rarch = archive_start(&rd);
	relayd_ready_write(&rd);
	log_info("node %s ready (%zu listen addresses, spool '%s')", rd.conf->name,
	    rd.conf->nlisten, rd.conf->spool);
	{
		/* Type=notify: once listening, as SPOOL/ready says; with the
		 * pid when this is a forked daemon, not the process started */
		char    state[SDNOTIFY_MAX];
		int     n;

		n = snprintf(state, sizeof(state), "READY=1\nSTATUS=node %.64s ready",
		    rd.conf->name);
		if (!rd.foreground && n > 0 && (size_t) n < sizeof(state))
			snprintf(state + n, sizeof(state) - (size_t) n, "\nMAINPID=%ld",
			    (long) getpid());
		relayd_notify(state);
	}
	if (readyp[1] >= 0) {
		unsigned char ok = RX_OK;
		int     devnull = open("/dev/null", O_RDWR);

		(void) write(readyp[1], &ok, 1);
		close(readyp[1]);
		readyp[1] = -1;
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			if (logging)
				dup2(devnull, 2);
			close(devnull);
		}
	}
	for (;;) {
		if (rd.stopping) {
			if (!rd.stop_now && loop_now_ms() >= rd.stop_deadline) {
				log_info("grace time over: cutting calls (they stay resumable)");
				rd.stop_now = 1;
				relayd_recv_stop(&rd, 1);
				relayd_channels_stop(&rd, 1);
			}
			if (!relayd_recv_busy(&rd) && !relayd_channels_busy(&rd) && !queue_busy(rd.q)
			    && !pickup_busy(rd.pickup) && spool_pending(rd.sp) == 0 && rd.jobs == 0
			    && !ctl_server_busy(ctl))
				break;
		}
		if (loop_run_once(rd.loop, rd.stopping ? 200 : -1) < 0 && errno != EINTR) {
			log_error("event loop: %s", strerror(errno));
			goto out;
		}
	}
	log_info("stopped");
	rc = RX_OK;
out:
	if (readyp[1] >= 0) {
		unsigned char st = (unsigned char) rc;

		(void) write(readyp[1], &st, 1);
		close(readyp[1]);
	}
	if (rd.conf != NULL && rd.sp != NULL) {
		snprintf(path, sizeof(path), "%s/ready", rd.conf->spool);
		(void) unlink(path);
		if (!rd.conf->pid_file) {
			snprintf(path, sizeof(path), "%s/pid", rd.conf->spool);
			(void) unlink(path);
		}
	}
	for (c = 0; c < rd.nls; c++)
		ts_listener_close(rd.ls[c]);
	ctl_server_free(ctl);
	/* transactions and jobs end while the queue and channels they call
	 * back into still exist */
	if (rd.sp != NULL)
		spool_close(rd.sp);
	if (rd.wq != NULL)
		workq_free(rd.wq);
	relayd_stats_free(rstats);
	archive_free(rarch);
	if (rd.q != NULL)
		queue_free(rd.q);
	relayd_channels_free(&rd);
	sched_free(rd.sched);
	pickup_free(rd.pickup);
	if (rd.loop != NULL)
		loop_free(rd.loop);
	sig_wfd = -1;
	conf_free(rd.conf);
	return rc;
}
