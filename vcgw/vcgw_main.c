/*++
 * NAME
 *	vcgw 8
 * SUMMARY
 *	virtual call gateway daemon
 * SYNOPSIS
 *	vcgw [-c GW.ini] [-f] [-v] [-p PIDFILE] [--ready-file FILE]
 *	vcgw --check [-c GW.ini]
 *	vcgw --version
 * DESCRIPTION
 *	Options, daemon mode, signals, pid and ready files; the gateway
 *	itself is vcgw.c and its configuration vcgw_conf.c. See vcgw(8)
 *	(doc/vcgw.8) and doc/vcgw.md.
 *
 *	Without -f the process forks, the child starts a new session and
 *	forks once more; the first parent waits for the daemon to report
 *	that its listeners are open (through a pipe) and exits with the
 *	daemon's start-up status, so "vcgw -c GW.ini && next" is safe.
 *
 *	Signals reach the loop through a self-pipe (not signalfd: exec:
 *	children must not inherit a blocked signal mask). SIGHUP reopens
 *	the log file when it was renamed (logrotate) and reloads, SIGTERM
 *	and SIGINT shut down (a second one cuts the calls).
 *
 *	Logging: standard error; with [gateway] log_file also that file
 *	(one that cannot be opened: exit 78); daemonized without one,
 *	syslog ([gateway] syslog_facility, default mail; syslog_ident,
 *	default vcgw). A daemon's standard error goes to /dev/null once
 *	it is ready.
 *
 *	Without -c the configuration is $NIFTPMAIL_VCGW_CONF, else
 *	/etc/niftpmail/vcgw.ini (util/confpath.h; a missing one: exit 78).
 *	With NOTIFY_SOCKET set (systemd Type=notify, with -f) the manager
 *	hears READY=1 once the listeners are open (MAINPID= too when we
 *	forked), RELOADING=1 and READY=1 around a SIGHUP reload, and
 *	STOPPING=1 at the first SIGTERM (util/sdnotify.h).
 * DIAGNOSTICS
 *	Exit 0 after a shutdown, 64 usage error, 78 configuration error
 *	(with FILE:LINE for each problem), 1 anything else (a listener
 *	cannot be opened, fork failed, already running).
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/confpath.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/sdnotify.h"
#include "util/strutil.h"
#include "util/version.h"
#include "vcgw/vcgw.h"
#include "vcgw/vcgw_conf.h"

#define EX_OK_		0
#define EX_USAGE_	64
#define EX_CONFIG_	78
#define EX_OTHER_	1

static const char usage_text[] =
"usage: vcgw [-c GW.ini] [-f] [-v] [-p PIDFILE] [--ready-file FILE]\n"
"       vcgw --check [-c GW.ini]\n"
"\n"
"The virtual call gateway (INDRA Note 1025 section 4.3): accepts\n"
"transport-service calls on the [listen] addresses and makes one call\n"
"onward per call as the [map] rules say.\n"
"\n"
"  -c, --config FILE     the configuration (else $" VCGW_CONF_ENV ",\n"
"                        else " VCGW_CONF_DEFAULT ")\n"
"  -f, --foreground      do not become a daemon; log to standard error\n"
"      --check           validate the configuration and exit (0 or 78)\n"
"  -p, --pid-file FILE   write our pid there (overrides [gateway] pid_file)\n"
"      --ready-file FILE once listening, write the bound addresses there\n"
"  -v, --verbose         log each call's set-up too\n"
"  -h, --help            this text\n"
"      --version         the version of niftpmail\n"
"\n"
"Signals: SIGHUP reloads the configuration (a broken one is refused and\n"
"the old one kept); SIGTERM/SIGINT stop listening and let calls finish\n"
"within [gateway] shutdown_grace (a second signal cuts them).\n"
"With NOTIFY_SOCKET set (systemd Type=notify: run with -f), READY=1,\n"
"RELOADING=1 and STOPPING=1 are sent there (doc/vcgw.8).\n"
"Exit status: 0 stopped, 64 usage, 78 configuration error, 1 other.\n";

struct opts {
	const char *config;
	const char *pid_file;
	const char *ready_file;
	int	foreground;
	int	check;
	int	verbose;
};

/* Signals: the handler only writes the signal number into this pipe. */
static int sig_pipe[2] = { -1, -1 };

/* sig_handler - note a signal for the loop */
static void sig_handler(int sig)
{
	int e = errno;
	unsigned char c = (unsigned char)sig;

	(void)!write(sig_pipe[1], &c, 1);
	errno = e;
}

struct mainctx {
	struct loop *loop;
	struct vcgw *gw;
	char	config[PATH_MAX];
	int	nterm;
};

/* report_errs - print configuration errors, one log line each */
static void report_errs(struct buf *errs, int as_error)
{
	char *s = buf_cstr(errs), *p, *nl;

	if (s == NULL)
		return;
	for (p = s; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (*p) {
			if (as_error)
				log_error("%s", p);
			else
				log_warn("%s", p);
		}
		if (nl == NULL)
			break;
	}
}

/* notify - tell the service manager (util/sdnotify.h; nothing without
 * NOTIFY_SOCKET); a failure is logged, never fatal */
static void notify(const char *state)
{
	char err[DURABLE_ERRLEN];

	if (sdnotify(state, err, sizeof(err)) < 0)
		log_warn("%s", err);
}

/* reload - SIGHUP */
static void reload(struct mainctx *m)
{
	struct buf errs = BUF_INIT(64 * 1024);
	struct vcgw_conf *conf;
	char err[1024];
	int r;

	/* a log file renamed away (logrotate) first, whatever becomes of
	 * the configuration: the new file gets every line after the signal;
	 * a failure keeps the old file */
	if ((r = log_reopen(err, sizeof(err))) < 0)
		log_error("reload: %s: still logging to the old file", err);
	else if (r > 0)
		log_info("reload: log file '%s' reopened", log_file_path());
	conf = vcgw_conf_load(m->config, &errs);
	if (conf == NULL) {
		report_errs(&errs, 1);
		log_error("reload '%s': refused: the configuration has errors; keeping "
			"the old one", m->config);
		buf_release(&errs);
		return;
	}
	buf_release(&errs);
	if (vcgw_reload(m->gw, conf, err, sizeof(err)) < 0) {
		log_error("reload '%s': refused: %s; keeping the old configuration",
			m->config, err);
		vcgw_conf_free(conf);
		return;
	}
	/* another log file named: taken now (one that cannot be opened
	 * leaves the old one in use); no log file named: the old one stays */
	if (conf->log_file != NULL && (log_file_path() == NULL
	    || strcmp(conf->log_file, log_file_path()) != 0)
	    && log_to_file(conf->log_file, err, sizeof(err)) < 0)
		log_error("reload: %s: still logging to the old file", err);
	log_info("reloaded '%s': %d listeners, %d map rules", m->config, conf->nlisten,
		conf->nrules);
}

/* sig_cb - signals noted by the handler */
static void sig_cb(struct loop *loop, int fd, int mask, void *arg)
{
	struct mainctx *m = arg;
	unsigned char c[16];
	ssize_t n, i;

	(void)loop;
	(void)mask;
	while ((n = read(fd, c, sizeof(c))) > 0) {
		for (i = 0; i < n; i++) {
			if (c[i] == SIGHUP) {
				char err[DURABLE_ERRLEN];

				/* READY=1 again whether it was taken or refused:
				 * the gateway runs on either way */
				if (sdnotify_reloading(err, sizeof(err)) < 0)
					log_warn("%s", err);
				reload(m);
				notify("READY=1");
			} else if (c[i] == SIGTERM || c[i] == SIGINT) {
				m->nterm++;
				if (m->nterm == 1)
					notify("STOPPING=1");
				if (m->nterm == 1)
					log_info("shutting down: listeners closed; calls may "
						"finish within %d ms",
						vcgw_conf(m->gw)->grace_ms);
				else
					log_info("shutting down now: cutting the calls");
				vcgw_shutdown(m->gw, m->nterm > 1);
			}
		}
	}
}

/* sig_setup - the self-pipe and the handlers; 0 or -1 */
static int sig_setup(void)
{
	struct sigaction sa;
	int i;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGHUP, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0
	    || sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	for (i = 0; i < 2; i++)
		(void)fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
	return 0;
}

/* parse_args - options into o; 0, or the exit status */
static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_CHECK = 256, OPT_READY, OPT_VERSION };
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	char err[CONFPATH_ERRLEN];
	int ch;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:fp:vh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case OPT_CHECK:
			o->check = 1;
			break;
		case 'p':
			o->pid_file = optarg;
			break;
		case OPT_READY:
			o->ready_file = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case OPT_VERSION:
			puts(VERSION_LINE("vcgw"));
			return -1;
		case ':':
			log_error("usage: option '%s' needs an argument", argv[optind - 1]);
			return EX_USAGE_;
		default:
			log_error("usage: unknown option '%s' (see vcgw --help)",
				argv[optind - 1]);
			return EX_USAGE_;
		}
	}
	if (optind < argc) {
		log_error("usage: unexpected argument '%s' (see vcgw --help)", argv[optind]);
		return EX_USAGE_;
	}
	/* no -c: $NIFTPMAIL_VCGW_CONF, else the default */
	if (confpath_find(o->config, VCGW_CONF_ENV, VCGW_CONF_DEFAULT, &o->config, NULL, err,
	    sizeof(err)) < 0) {
		log_error("%s", err);
		return EX_CONFIG_;
	}
	return 0;
}

/* tell_parent - daemon start-up status to the waiting parent */
static void tell_parent(int *fd, int status)
{
	unsigned char c = (unsigned char)status;

	if (*fd >= 0) {
		(void)!write(*fd, &c, 1);
		close(*fd);
		*fd = -1;
	}
}

/* daemonize - fork, new session, fork; the first parent waits for the
 * daemon's start-up status. Returns the write end of the status pipe. */
static int daemonize(void)
{
	int p[2], nul;
	pid_t pid;
	unsigned char c;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		log_fatal(EX_OTHER_, "daemon: pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		log_fatal(EX_OTHER_, "daemon: fork: %s", strerror(errno));
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1) {
			log_error("daemon: ended during start-up");
			_exit(EX_OTHER_);
		}
		_exit(c);
	}
	close(p[0]);
	if (setsid() < 0)
		log_fatal(EX_OTHER_, "daemon: setsid: %s", strerror(errno));
	if ((pid = fork()) < 0)
		log_fatal(EX_OTHER_, "daemon: fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);	/* the first parent waits on the pipe, not on us */
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(nul, 0);
		(void)dup2(nul, 1);
		if (nul > 2)
			close(nul);
	}
	return p[1];
}

/* pid_file_write - refuse to run twice; write our pid; 0 or -1 */
static int pid_file_write(const char *path)
{
	char err[DURABLE_ERRLEN], line[32], *old;
	size_t len;
	uint64_t pid;

	if ((old = durable_read_file(path, 64, &len, err, sizeof(err))) != NULL) {
		char *nl = strchr(old, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (str_to_u64(old, 1, INT_MAX, &pid) == 0 && (pid_t)pid != getpid()
		    && kill((pid_t)pid, 0) == 0) {
			log_error("pid file '%s': process %" PRIu64 " is running", path, pid);
			free(old);
			return -1;
		}
		free(old);
	}
	snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (durable_write_file(path, line, strlen(line), err, sizeof(err)) < 0) {
		log_error("pid file: %s", err);
		return -1;
	}
	return 0;
}

/* ready_file_write - the bound addresses, one per line; 0 or -1 */
static int ready_file_write(const char *path, const struct vcgw *gw)
{
	struct buf b = BUF_INIT(64 * 1024);
	char err[DURABLE_ERRLEN];
	const char *a;
	int i, rc;

	for (i = 0; i < vcgw_naddr(gw); i++)
		if ((a = vcgw_addr(gw, i)) != NULL)
			(void)buf_printf(&b, "%s\n", a);
	rc = durable_write_file(path, buf_data(&b), b.len, err, sizeof(err));
	if (rc < 0)
		log_error("ready file: %s", err);
	buf_release(&b);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct mainctx m;
	struct buf errs = BUF_INIT(64 * 1024);
	struct vcgw_conf *conf;
	struct vcgw_stats st;
	char pid_file[PATH_MAX] = "", err[1024];
	int rc, status_fd = -1, i;

	log_init("vcgw", LOG_LVL_INFO);
	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc < 0 ? EX_OK_ : rc;
	if (o.verbose)
		log_init("vcgw", LOG_LVL_DEBUG);
	conf = vcgw_conf_load(o.config, &errs);
	if (conf == NULL) {
		report_errs(&errs, 1);
		buf_release(&errs);
		return EX_CONFIG_;
	}
	buf_release(&errs);
	if (o.check) {
		printf("%s: configuration OK: gateway '%s', %d listeners, %d map rules\n",
			o.config, conf->name, conf->nlisten, conf->nrules);
		vcgw_conf_free(conf);
		return EX_OK_;
	}
	memset(&m, 0, sizeof(m));
	if (realpath(o.config, m.config) == NULL)
		str_copy(m.config, o.config, sizeof(m.config));
	for (i = 0; i < conf->nlisten; i++) {
		if (strcmp(conf->listen[i].addr, "stdio") == 0 && !o.foreground) {
			log_error("%s:%d: a stdio listener needs -f (foreground)", o.config,
				conf->listen[i].line);
			vcgw_conf_free(conf);
			return EX_CONFIG_;
		}
	}
	/* a copy: a reload frees the configuration */
	if (o.pid_file != NULL || conf->pid_file != NULL)
		str_copy(pid_file, o.pid_file ? o.pid_file : conf->pid_file, sizeof(pid_file));
	if (!o.foreground)
		status_fd = daemonize();
	log_timestamps(1);
	/* a log that cannot be opened stops the start (never silence);
	 * daemonized without one: syslog (doc/vcgw.8, LOGGING) */
	if (conf->log_file != NULL && log_to_file(conf->log_file, err, sizeof(err)) < 0) {
		log_error("%s: fix [gateway] log_file in '%s' (or create its directory)", err,
			o.config);
		tell_parent(&status_fd, EX_CONFIG_);
		return EX_CONFIG_;
	}
	if (conf->log_file == NULL && !o.foreground
	    && log_to_syslog(conf->syslog_ident, conf->syslog_facility, err, sizeof(err)) < 0) {
		log_error("%s", err);
		tell_parent(&status_fd, EX_CONFIG_);
		return EX_CONFIG_;
	}
	if (pid_file[0] && pid_file_write(pid_file) < 0) {
		tell_parent(&status_fd, EX_OTHER_);
		return EX_OTHER_;
	}
	if ((m.loop = loop_new()) == NULL || sig_setup() < 0
	    || loop_fd_set(m.loop, sig_pipe[0], LOOP_READ, sig_cb, &m) < 0) {
		log_error("start: event loop or signals: %s", strerror(errno));
		tell_parent(&status_fd, EX_OTHER_);
		return EX_OTHER_;
	}
	if ((m.gw = vcgw_new(m.loop, conf, err, sizeof(err))) == NULL) {
		log_error("start: %s", err);
		if (pid_file[0])
			(void)unlink(pid_file);
		tell_parent(&status_fd, EX_OTHER_);
		return EX_OTHER_;
	}
	if (o.ready_file != NULL && ready_file_write(o.ready_file, m.gw) < 0) {
		vcgw_free(m.gw);
		tell_parent(&status_fd, EX_OTHER_);
		return EX_OTHER_;
	}
	for (i = 0; i < vcgw_naddr(m.gw); i++)
		log_info("gateway '%s' listening on %s", vcgw_conf(m.gw)->name,
			vcgw_addr(m.gw, i));
	if (status_fd >= 0) {
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (nul >= 0) {
			(void)dup2(nul, 2);	/* the log file or syslog has it all */
			if (nul != 2)
				close(nul);
		}
	}
	tell_parent(&status_fd, EX_OK_);
	{
		/* with the pid when this is the forked daemon */
		char state[64];

		if (o.foreground)
			snprintf(state, sizeof(state), "READY=1");
		else
			snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld", (long)getpid());
		notify(state);
	}
	rc = loop_run(m.loop) < 0 ? EX_OTHER_ : EX_OK_;
	vcgw_stats(m.gw, &st);
	log_info("stopped: %" PRIu64 " calls, %" PRIu64 " refused, at most %" PRIu64
		" at once, %" PRIu64 " octets spliced", st.calls, st.refused, st.peak,
		st.spliced);
	if (pid_file[0])
		(void)unlink(pid_file);
	vcgw_free(m.gw);
	loop_free(m.loop);
	return rc;
}
