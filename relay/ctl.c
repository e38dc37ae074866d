/*++
 * NAME
 *	ctl 3
 * SUMMARY
 *	mailctl: commands, and the client side of the control socket
 * SYNOPSIS
 *	int ctl_main(int argc, char **argv);
 * DESCRIPTION
 *	mailctl -c NODE.ini COMMAND [ARGS]. Commands that change queue
 *	state are carried out by the daemon over SPOOL/control (one request
 *	line, answer lines, a last line "."):
 * .IP "submit [FILE]"
 *	reads the letter (FILE or stdin), checks it with the letter reader
 *	(a malformed letter exits 65 with the reason), writes it
 *	atomically into out/ (dot temporary, fsync, rename, fsync out/),
 *	and asks the daemon to take it now ("pickup"); prints the name the
 *	daemon assigned. When the daemon cannot be reached the letter stays
 *	in out/ (taken at its next start): the drop name is printed on
 *	standard error and the exit status is 69 (daemon unreachable).
 * .IP queue
 *	one line per letter and next hop: NAME AGE HOP RCPTS STATE ERROR
 *	(from the daemon; when it cannot be reached, read from the spool
 *	directly, read-only: envelopes with the state their dockets record).
 * .IP "route ADDRESS"
 *	route_explain(): rewrites and the chosen next hop, no side effects.
 * .IP check-config
 *	conf_check(): every error with file and line; exit 78 on errors.
 * .IP "retry [NAME...|--hop HOST...|--all]", "hold NAME", "release NAME", "delete NAME", "bounce NAME [REASON]",
 *	"forward NAME ADDRESS",
 *	"reroute [HOST ROUTE|--clear HOST]", reload
 *	passed to the daemon (which journals the operator's login name).
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/letter.h"
#include "mailchannel/route.h"
#include "relay/conf.h"
#include "relay/ctl_ops.h"
#include "relay/relayd.h"
#include "relay/relayd_stats.h"
#include "relay/trace.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/strutil.h"

#define CTL_ANSWER_MAX	(64 * 1024 * 1024)

static const char ctl_help[] =
"Usage: mailctl -c NODE.ini COMMAND [ARGS]\n"
"Commands:\n"
"  submit [FILE]      submit a letter (FILE or standard input); prints its name\n"
"  queue              one line per letter and next hop: name, age, next hop,\n"
"                     recipients, state, last error\n"
"  route ADDRESS      show how ADDRESS would be rewritten and routed\n"
"  trace [--follow] [--back] [--json] NAME\n"
"                     a letter's life here (NAME, Message-ID or out/ file),\n"
"                     at every next hop (--follow) or back to the origin\n"
"  view [--all] [--lines N] [--archive] NAME\n"
"                     a letter held here (or its archived copy): address\n"
"                     list, header, first lines\n"
"  resubmit NAME      put the archived copy of NAME back into the queue as a\n"
"                     new letter; prints its name\n"
"  stats [--prometheus]\n"
"                     per next hop: queued, oldest, failing since, letters\n"
"                     per minute, last error; totals (read-only)\n"
"  check-config       check the configuration; every error with file and line\n"
"  retry [NAME...|--hop HOST...|--all]\n"
"                         try the letters named, those for a next hop, or all, now\n"
"  hold NAME          keep a queued letter from being sent (moved to hold/)\n"
"  release NAME       queue a held letter again, due now\n"
"  delete NAME        move a letter (queued or held) to dead/\n"
"  bounce NAME [REASON]\n"
"                     return a queued letter to its sender now (one NDN with\n"
"                     REASON, default \"returned by operator\")\n"
"  forward NAME ADDRESS\n"
"                     send a queued letter to ADDRESS instead of its pending\n"
"                     recipients (routed as usual)\n"
"  reroute HOST ROUTE force next hop HOST's route (as a [routes] value, one\n"
"                     niftp alternate) for queued and new letters, kept\n"
"                     across restarts; reroute --clear HOST ends it;\n"
"                     reroute alone lists the overrides\n"
"  reload             make the daemon reload its configuration\n"
"Options:\n"
"  -c, --config FILE  the node's configuration (required)\n"
"  --help             this text (also after a command)\n"
"Exit status: 0 done, 64 usage, 65 malformed letter, 69 daemon unreachable\n"
"(submit: the letter waits in out/ for the daemon's next start), 78 configuration\n"
"error, 1 other error.\n";

/* ctl_request - ask the daemon; the answer (new memory) or NULL with err */
static char *ctl_request(const struct conf *c, const char *req, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct buf b = BUF_INIT(CTL_ANSWER_MAX);
	unsigned char *p;
	char   *s;
	ssize_t n;
	int     fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	str_copy(sa.sun_path, c->control, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "connect to the daemon at '%s': %s", c->control,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (write_full(fd, req, strlen(req)) < 0 || write_full(fd, "\n", 1) < 0) {
		snprintf(err, errlen, "write to '%s': %s", c->control, strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		if ((p = buf_reserve(&b, 65536)) == NULL)
			break;
		n = read(fd, p, 65536);
		if (n < 0 && errno == EINTR) {
			buf_commit(&b, 0);
			continue;
		}
		buf_commit(&b, n > 0 ? (size_t) n : 0);
		if (n <= 0)
			break;
	}
	close(fd);
	s = xstrdup(buf_cstr(&b) ? buf_cstr(&b) : "");
	buf_release(&b);
	return s;
}

/* answer_body - print the answer minus its status line and the final "." */
static int answer_print(const char *ans, FILE *fp)
{
	const char *nl = strchr(ans, '\n'), *p;

	if (strncmp(ans, "ok", 2) != 0) {
		fprintf(stderr, "mailctl: daemon: %s", ans[0] ? ans : "no answer\n");
		return -1;
	}
	for (p = nl ? nl + 1 : ans + strlen(ans); *p; ) {
		const char *e = strchr(p, '\n');
		size_t  len = e ? (size_t) (e - p) : strlen(p);

		if (len == 1 && p[0] == '.')
			break;
		fwrite(p, 1, len, fp);
		fputc('\n', fp);
		p += len + (e ? 1 : 0);
	}
	return 0;
}

static ssize_t fd_read(void *ctx, void *p, size_t len)
{
	return read(*(int *) ctx, p, len);
}

/* cmd_submit - submit [FILE] */
static int cmd_submit(const struct conf *c, const char *file)
{
	char    outdir[PATH_MAX - 128], tmp[PATH_MAX], fin[PATH_MAX], err[RELAYD_ERRLEN];
	char    req[PATH_MAX + 16], base[64];
	unsigned char b[64 * 1024];
	struct letter *lt;
	enum letter_status st;
	int     in = 0, out = -1, rc = RX_OTHER;
	ssize_t n;
	char   *ans = NULL;
	static unsigned seq;

	snprintf(outdir, sizeof(outdir), "%s/out", c->spool);
	if (file != NULL && strcmp(file, "-") != 0 && (in = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "mailctl: submit: open '%s': %s\n", file, strerror(errno));
		return RX_OTHER;
	}
	snprintf(base, sizeof(base), "submit.%ld.%ld.%u", (long) time(NULL), (long) getpid(),
	    seq++);
	if ((out = durable_tmp_open(outdir, "submit", tmp, sizeof(tmp), err, sizeof(err))) < 0) {
		fprintf(stderr, "mailctl: submit: %s\n", err);
		goto out;
	}
	while ((n = read(in, b, sizeof(b))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_full(out, b, (size_t) n) < 0) {
			fprintf(stderr, "mailctl: submit: copy the letter: %s\n", strerror(errno));
			goto fail;
		}
	}
	/* check it as the daemon will */
	{
		int     rfd = open(tmp, O_RDONLY | O_CLOEXEC);

		lt = rfd >= 0 ? letter_open(fd_read, &rfd, &st, err, sizeof(err)) : NULL;
		if (rfd < 0)
			snprintf(err, sizeof(err), "reopen: %s", strerror(errno));
		if (lt == NULL) {
			fprintf(stderr, "mailctl: submit: malformed letter: %s\n", err);
			rc = st == LETTER_EIO ? RX_OTHER : RX_DATAERR;
			if (rfd >= 0)
				close(rfd);
			goto fail;
		}
		letter_free(lt);
		close(rfd);
	}
	snprintf(fin, sizeof(fin), "%s/%s", outdir, base);
	if (durable_commit(out, tmp, fin, err, sizeof(err)) < 0) {
		out = -1;
		fprintf(stderr, "mailctl: submit: %s\n", err);
		goto out;
	}
	out = -1;
	snprintf(req, sizeof(req), "pickup %s", base);
	if ((ans = ctl_request(c, req, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mailctl: submit: %s; the letter waits in 'out/%s'\n", err, base);
		rc = RX_UNAVAIL;
		goto out;
	}
	if (strncmp(ans, "ok ", 3) == 0) {
		char   *nl = strchr(ans, '\n');

		if (nl)
			*nl = '\0';
		printf("%s\n", ans + 3);
		rc = RX_OK;
	} else {
		fprintf(stderr, "mailctl: submit: daemon: %s", ans);
		rc = RX_OTHER;
	}
	goto out;
fail:
	close(out);
	out = -1;
	(void) unlink(tmp);
out:
	free(ans);
	if (in > 0)
		close(in);
	return rc;
}

/* cmd_route - route ADDRESS */
static int cmd_route(const struct conf *c, const char *text)
{
	struct route_result *r;
	struct buf b = BUF_INIT(16 * 1024 * 1024);
	char    err[ADDR_ERRLEN];
	struct addr *a = addr_parse(text, strlen(text), err, sizeof(err));

	if (a == NULL) {
		fprintf(stderr, "mailctl: route: %s\n", err);
		return RX_DATAERR;
	}
	r = route_resolve(c->routes, a, 0);
	(void) route_explain(r, &b);
	fwrite(buf_data(&b), 1, b.len, stdout);
	{
		/* operator overrides (mailctl reroute) of the hops named */
		char    path[PATH_MAX], *rt, *line, *next, *sp;
		size_t  i, len;

		snprintf(path, sizeof(path), "%s/reroute", c->spool);
		if ((rt = durable_read_file(path, 1024 * 1024, &len, NULL, 0)) != NULL) {
			for (line = rt; line != NULL && *line; line = next) {
				if ((next = strchr(line, '\n')) != NULL)
					*next++ = '\0';
				if (line[0] == '#' || (sp = strchr(line, ' ')) == NULL)
					continue;
				*sp = '\0';
				for (i = 0; i < route_result_count(r); i++) {
					const struct route_target *tg = route_result_get(r, i);

					if (tg->kind == ROUTE_FORWARD && strcmp(tg->hop->name, line) == 0) {
						printf("override: next hop %s rerouted by the operator: "
						    "%s (mailctl reroute --clear %s ends it)\n", line,
						    sp + 1, line);
						break;
					}
				}
			}
			free(rt);
		}
	}
	buf_release(&b);
	route_result_free(r);
	addr_free(a);
	return RX_OK;
}

int ctl_main(int argc, char **argv);

int ctl_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL, *cmd;
	struct buf errs = BUF_INIT(CONF_ERRS_MAX);
	struct conf *c;
	char    err[RELAYD_ERRLEN];
	char   *ans, *text;
	int     o, rc, i;

	log_init("mailctl", LOG_LVL_INFO);
	while ((o = getopt_long(argc, argv, "+c:", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			fputs(ctl_help, stdout);
			return RX_OK;
		default:
			fputs("Try 'mailctl --help'.\n", stderr);
			return RX_USAGE;
		}
	}
	if (optind >= argc) {
		fputs("mailctl: no command\nTry 'mailctl --help'.\n", stderr);
		return RX_USAGE;
	}
	cmd = argv[optind++];
	for (i = optind; i < argc && strcmp(cmd, "trace") != 0 && strcmp(cmd, "view") != 0
	    && strcmp(cmd, "stats") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(ctl_help, stdout);
			return RX_OK;
		}
	if (strcmp(cmd, "help") == 0) {
		fputs(ctl_help, stdout);
		return RX_OK;
	}
	if (path == NULL) {
		fputs("mailctl: no configuration (-c FILE)\nTry 'mailctl --help'.\n", stderr);
		return RX_USAGE;
	}
	if (strcmp(cmd, "check-config") == 0)
		return conf_check(path, stdout) == 0 ? RX_OK : RX_CONFIG;
	c = conf_load(path, &errs, NULL, NULL);
	if (c == NULL) {
		if ((text = buf_cstr(&errs)) != NULL)
			fputs(text, stderr);
		buf_release(&errs);
		return RX_CONFIG;
	}
	buf_release(&errs);
	rc = RX_USAGE;
	if (strcmp(cmd, "submit") == 0 && argc - optind <= 1)
		rc = cmd_submit(c, optind < argc ? argv[optind] : NULL);
	else if (strcmp(cmd, "route") == 0 && argc - optind == 1)
		rc = cmd_route(c, argv[optind]);
	else if (strcmp(cmd, "trace") == 0)
		rc = trace_main(c, argc - optind + 1, argv + optind - 1);
	else if (strcmp(cmd, "view") == 0)
		rc = ctl_view(c, argc - optind + 1, argv + optind - 1);
	else if (strcmp(cmd, "stats") == 0)
		rc = ctl_stats(c, argc - optind + 1, argv + optind - 1);
	else if (strcmp(cmd, "resubmit") == 0 && argc - optind == 1) {
		char   *req = xasprintf("resubmit %s", argv[optind]);

		if ((ans = ctl_request(c, req, err, sizeof(err))) == NULL) {
			fprintf(stderr, "mailctl: resubmit: %s\n", err);
			rc = RX_UNAVAIL;
		} else if (strncmp(ans, "ok ", 3) == 0) {
			ans[strcspn(ans, "\n")] = '\0';
			printf("%s\n", ans + 3);
			rc = RX_OK;
		} else {
			fprintf(stderr, "mailctl: resubmit: daemon: %s", ans);
			rc = RX_OTHER;
		}
		free(ans);
		free(req);
	}
	else if ((strcmp(cmd, "queue") == 0 && argc == optind)
	    || (strcmp(cmd, "reload") == 0 && argc == optind) || strcmp(cmd, "retry") == 0
	    || ((strcmp(cmd, "hold") == 0 || strcmp(cmd, "release") == 0
	    || strcmp(cmd, "delete") == 0) && argc - optind == 1)
	    || (strcmp(cmd, "bounce") == 0 && argc - optind >= 1)
	    || (strcmp(cmd, "forward") == 0 && argc - optind == 2)
	    || (strcmp(cmd, "reroute") == 0 && (argc == optind || argc - optind >= 2))) {
		struct buf req = BUF_INIT(64 * 1024);

		buf_printf(&req, "%s", cmd);
		for (i = optind; i < argc; i++) {
			if (strcmp(cmd, "retry") == 0 && strcmp(argv[i], "--all") == 0)
				continue;
			if (strcmp(cmd, "retry") == 0 && strcmp(argv[i], "--hop") == 0) {
				if (++i == argc) {
					fprintf(stderr, "mailctl: retry --hop needs a next hop name\n");
					buf_release(&req);
					conf_free(c);
					return RX_USAGE;
				}
				buf_printf(&req, " hop:%s", argv[i]);
				continue;
			}
			buf_printf(&req, " %s", argv[i]);
		}
		if ((ans = ctl_request(c, buf_cstr(&req), err, sizeof(err))) == NULL
		    && strcmp(cmd, "queue") == 0) {
			/* read-only: the spool itself, without the daemon */
			struct buf q = BUF_INIT(CTL_ANSWER_MAX);
			char    qerr[RELAYD_ERRLEN];

			if (relayd_queue_list_dir(c->spool, &q, qerr, sizeof(qerr)) < 0) {
				fprintf(stderr, "mailctl: queue: %s; %s\n", err, qerr);
				rc = RX_UNAVAIL;
			} else {
				if (q.len > 0)
					fwrite(buf_data(&q), 1, q.len, stdout);
				rc = RX_OK;
			}
			buf_release(&q);
		} else if (ans == NULL) {
			fprintf(stderr, "mailctl: %s: %s\n", cmd, err);
			rc = RX_UNAVAIL;
		} else {
			rc = answer_print(ans, stdout) == 0 ? RX_OK : RX_OTHER;
			free(ans);
		}
		buf_release(&req);
	} else
		fprintf(stderr, "mailctl: bad command or arguments: '%s'\nTry 'mailctl --help'.\n",
		    cmd);
	conf_free(c);
	return rc;
}
