/*++
 * NAME
 *	ctl 3
 * SUMMARY
 *	mailctl: commands, and the client side of the control socket
 * SYNOPSIS
 *	int ctl_main(int argc, char **argv);
 * DESCRIPTION
 *	mailctl [-c NODE.ini] COMMAND [ARGS] (without -c: $NIFTPMAIL_CONF,
 *	else /etc/niftpmail/mailrelayd.ini; relay/conf.h CONF_DEFAULT_PATH;
 *	a missing one is exit 78 naming it). --help, and the usage errors
 *	of every command, are answered before the configuration is looked
 *	for (the table's requests by relay/ctl_proto.h, mailctl's own
 *	commands by a first call without one: relay/ctl_ops.h CTL_ARGS_OK),
 *	so that a newcomer's "mailctl trace --help" needs no node. The
 *	daemon's refusals are shown as "mailctl: COMMAND: REASON", never
 *	with the protocol's framing. Commands that change queue
 *	state are carried out by the daemon over SPOOL/control (one request
 *	line, answer lines, a last line "."):
 * .IP "submit [FILE]"
 *	sends "submit"; the daemon answers "pipe" with the write end of a
 *	pipe it made (SCM_RIGHTS); mailctl copies the letter (FILE or stdin)
 *	into it, closes it, sends "end OCTETS" and prints the name the
 *	daemon answers once the letter is durable (relay/submit.h); a
 *	refusal reads "LABEL: node NODE refused the letter: REASON" (the
 *	label is the program the user ran: niftpmail-sendmail's is quoted
 *	in an MTA's bounces). Any
 *	local user may: the daemon names the submitter by the socket's
 *	credentials. A letter the daemon refuses as malformed or too large
 *	exits 65 with the reason; any other refusal 75 (not accepted: try
 *	again). A connection that ends after "end" was sent but before the
 *	answer exits 70: the letter may have been accepted (a retry could
 *	send it twice). When the daemon cannot be reached, a user who may
 *	write out/ has the letter checked and written atomically there (dot
 *	temporary, fsync, rename, fsync out/), made readable by the daemon's
 *	user (root gives it to out/'s owner), taken at the daemon's next
 *	start: the drop name is printed on standard error and the exit
 *	status is 69; anyone else keeps the letter: exit 75 (77 when the
 *	socket refused the connection).
 * .IP "queue, hold, release, delete, bounce, retry"
 *	the commands over a selection of letters: relay/ctl_sel.c (the
 *	listing from the daemon, or from the spool when it cannot be asked;
 *	names in requests of CTL_LINE_MAX, "-" for standard input, the
 *	answers summed, exit 67 for a name not found).
 * .IP "route [--json] [--from WHO] ADDRESS"
 *	route_explain_with(): rewrites and the chosen next hop, no side
 *	effects; a local mailbox the relay rules call an unknown user
 *	(peer_mailbox_known) is shown failing, as delivery would, and the
 *	exit status is 67 for a target that fails to the sender; --json:
 *	the same as one JSON document (doc/mailctl.1).
 * .IP check-config
 *	conf_check_with() and relay/confcheck.h (ports, paths, owners,
 *	routing against delivery): every error with file and line; exit 78
 *	on errors (warnings and notes leave it 0).
 * .IP "sendmail [OPTIONS] [--] RCPT..."
 *	relay/sendmail.h: what niftpmail-sendmail does (-c before the
 *	command is its configuration), with its own exit codes.
 * .IP "ping, queue, retry, hold, release, delete, bounce, forward, reroute, resubmit, reload"
 *	requests to the daemon, from the table of relay/ctl_proto.h: the
 *	command line is joined into the request line and checked with
 *	that table before connecting (a usage error exits 64 with the
 *	table's usage text); the answer's lines are printed (and, for
 *	CTL_RESULT requests, the text of its "ok" line). The daemon
 *	journals the operator's login name. --help lists the table.
 *	Except ping, they are for root and the daemon's user only: anyone
 *	else is answered "err permission denied: ..." (exit 77; queue then
 *	reads the spool, as when the socket refuses the connection).
 * DIAGNOSTICS
 *	Exit 77 (EX_NOPERM) when the spool (queue, stats, trace, view
 *	without the daemon) or the control socket (the other requests)
 *	may not be read or connected to (EACCES, EPERM): "mailctl: queue:
 *	cannot read 'SPOOL/queue': Permission denied", never an empty
 *	queue or "no record"; also when the daemon refuses a request to
 *	this user.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
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
#include "relay/confcheck.h"
#include "relay/ctl_proto.h"
#include "relay/ctl_ops.h"
#include "relay/queue.h"
#include "relay/peer.h"
#include "relay/relayd.h"
#include "relay/relayd_stats.h"
#include "relay/sendmail.h"
#include "relay/trace.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/confpath.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/version.h"

#define CTL_ANSWER_MAX	(64 * 1024 * 1024)


#define IS_PERM(e)	((e) == EACCES || (e) == EPERM)


static const char ctl_help_head[] =
"Usage: mailctl [-c NODE.ini] COMMAND [ARGS]\n"
"Commands:\n"
"  submit [FILE]      submit a letter (FILE or standard input); prints its name\n"
"  route [--json] [--from WHO] ADDRESS\n"
"                     show how ADDRESS would be rewritten and routed (exit\n"
"                     67: undeliverable, e.g. an unknown user); with --from\n"
"                     PEER, local or anonymous: whether a letter to it from\n"
"                     that caller is taken (exit 77: relaying denied)\n"
"  trace [--follow] [--back] [--json] [--timeout SECONDS] NAME\n"
"                     a letter's life here (NAME, Message-ID or out/ file),\n"
"                     at every next hop (--follow) or back to the origin;\n"
"                     a hop silent SECONDS (default 10) is unreachable\n"
"  view [--all] [--lines N] [--archive] NAME\n"
"                     a letter held here (or its archived copy): address\n"
"                     list, header, first lines\n"
"  stats [--prometheus|--json]\n"
"                     per next hop: queued, oldest, failing since, letters\n"
"                     per minute, last error; totals (read-only)\n"
"  check-config       check the configuration and what it names (ports, spool\n"
"                     and log paths, owners, users): every error with file\n"
"                     and line; exit 78 on errors\n"
"  sendmail [-f SENDER] [-t] [-i] [--] RCPT...\n"
"                     an RFC 822 message on standard input made a letter and\n"
"                     submitted (niftpmail-sendmail; its own exit codes: see\n"
"                     'mailctl sendmail --help')\n"
"Requests to the daemon (SPOOL/control):\n";

static const char ctl_help_tail[] =
"Options:\n"
"  -c, --config FILE  the node's configuration (else $" CONF_ENV ", else\n"
"                     " CONF_DEFAULT_PATH ")\n"
"  --help             this text; after a command (or 'mailctl help COMMAND'),\n"
"                     that command's; no configuration needed\n"
"  --version          the version of niftpmail\n"
"Exit status: 0 done, 64 usage, 65 malformed or too large letter, 69 daemon\n"
"unreachable (submit: the letter waits in out/ for the daemon's next start),\n"
"70 submit: no answer after the whole letter was sent (it may have been\n"
"accepted: see mailctl trace or the journal before sending it again),\n"
"75 submit: letter not accepted now (try again), 77 permission denied (the\n"
"spool, the daemon's control socket, or a request only root and the daemon's\n"
"user may make), 67 a letter named is not there (hold, release, delete,\n"
"bounce, retry) or an address is undeliverable (route), 78 configuration error,\n"
"1 other error.\n";

/* ctl_help - the help text: mailctl's own commands, then the requests
 * of the protocol table */
static void ctl_help(FILE *fp)
{
	struct buf b = BUF_INIT(64 * 1024);

	fputs(ctl_help_head, fp);
	if (ctl_proto_help(&b) == 0)
		fwrite(buf_data(&b), 1, b.len, fp);
	buf_release(&b);
	fputs(ctl_sel_help, fp);
	fputs(ctl_help_tail, fp);
}

/* ctl_connect - see ctl_ops.h */
int ctl_connect(const struct conf *c, char *err, size_t errlen, int *eno)
{
	struct sockaddr_un sa;
	int     fd;

	*eno = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	str_copy(sa.sun_path, c->control, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		*eno = errno;
		/* no socket, or no one behind it: say what that means */
		snprintf(err, errlen, "connect to the daemon at '%s': %s%s", c->control,
		    strerror(errno), errno == ENOENT || errno == ECONNREFUSED
		    ? " (is mailrelayd running for this node?)" : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* ctl_answer_read - the daemon's answer on fd, read to its end (new
 * memory; "" when it said nothing); fd is closed */
static char *ctl_answer_read(int fd)
{
	struct buf b = BUF_INIT(CTL_ANSWER_MAX);
	unsigned char *p;
	char   *s;
	ssize_t n;

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

/* send_full - len octets of p on the socket fd, without SIGPIPE; 0 or
 * -1 (errno: EPIPE when the daemon closed the connection) */
static int send_full(int fd, const void *p, size_t len)
{
	const char *q = p;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, q, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		q += n;
		len -= (size_t) n;
	}
	return 0;
}

/* ctl_ask - see ctl_ops.h */
char *ctl_ask(const struct conf *c, const char *req, char *err, size_t errlen,
	int *eno)
{
	char   *line, *ans;
	int     fd, r, e;

	if ((fd = ctl_connect(c, err, errlen, eno)) < 0)
		return NULL;
	line = xasprintf("%s\n", req);
	r = send_full(fd, line, strlen(line));
	e = errno;
	free(line);
	if (r < 0) {
		/* a daemon that refused the connection at once (too many)
		 * answered before it closed: that answer says why */
		ans = ctl_answer_read(fd);
		if (ans[0] != '\0')
			return ans;
		free(ans);
		snprintf(err, errlen, "write to '%s': %s", c->control, strerror(e));
		return NULL;
	}
	return ctl_answer_read(fd);
}

/* answer_denied - ans is the daemon's "permission denied" */
static int answer_denied(const char *ans)
{
	return strncmp(ans, "err " CTL_ERR_PERM, 4 + strlen(CTL_ERR_PERM)) == 0;
}

/* answer_show - print the daemon's answer to a request of cmd: on
 * "ok", the text of the ok line (CTL_RESULT requests only) and the lines
 * after it on standard output; on "err", the reason and its lines on
 * standard error after "PREFIX: " (e.g. "mailctl: forward", or
 * "niftpmail-sendmail: node ucl refused the letter"), never the
 * framing ("ok", "err", "."). Returns the exit status (64 when the
 * daemon found a usage error). */
static int answer_show(const char *prefix, const struct ctl_cmd *cmd, const char *ans)
{
	const char *p, *e;
	size_t  len;
	int     ok, first = 1;
	FILE   *fp;

	ok = strncmp(ans, "ok", 2) == 0 && (ans[2] == '\n' || ans[2] == ' ');
	if (!ok && strncmp(ans, "err ", 4) != 0) {
		fprintf(stderr, "%s: no answer from the daemon\n", prefix);
		return RX_OTHER;
	}
	fp = ok ? stdout : stderr;
	for (p = ans; *p; p += len + (e ? 1 : 0)) {
		e = strchr(p, '\n');
		len = e ? (size_t) (e - p) : strlen(p);
		if (len == 1 && p[0] == '.')
			break;
		if (first) {
			first = 0;
			if (!ok)
				fprintf(stderr, "%s: %.*s\n", prefix, (int) len - 4, p + 4);
			else if ((cmd->flags & CTL_RESULT) && len > 3)
				printf("%.*s\n", (int) len - 3, p + 3);
			continue;
		}
		fwrite(p, 1, len, fp);
		fputc('\n', fp);
	}
	if (ok)
		return RX_OK;
	if (answer_denied(ans))
		return RX_NOPERM;
	return strncmp(ans, "err usage:", 10) == 0 ? RX_USAGE : RX_OTHER;
}

static ssize_t fd_read(void *ctx, void *p, size_t len)
{
	return read(*(int *) ctx, p, len);
}

/* submit_drop - the letter from in written atomically into out/ (dot
 * temporary, fsync, rename, fsync out/) after the letter reader checked
 * it, for the daemon to take at its next start: what submit does when
 * the daemon cannot be reached (why) and this user may write out/ */
static int submit_drop(const struct conf *c, int in, const char *why)
{
	char    outdir[PATH_MAX - 128], tmp[PATH_MAX], fin[PATH_MAX], err[RELAYD_ERRLEN];
	char    base[64];
	unsigned char b[64 * 1024];
	struct letter *lt;
	enum letter_status st;
	int     out = -1, rc = RX_OTHER;
	uint64_t total = 0;
	ssize_t n;
	static unsigned seq;

	snprintf(outdir, sizeof(outdir), "%s/out", c->spool);
	snprintf(base, sizeof(base), "submit.%ld.%ld.%u", (long) time(NULL), (long) getpid(),
	    seq++);
	if ((out = durable_tmp_open(outdir, "submit", tmp, sizeof(tmp), err, sizeof(err))) < 0) {
		if (IS_PERM(errno))
			rc = RX_NOPERM;
		fprintf(stderr, "mailctl: submit: %s; %s\n", why, err);
		return rc;
	}
	while ((n = read(in, b, sizeof(b))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_full(out, b, (size_t) n) < 0) {
			fprintf(stderr, "mailctl: submit: copy the letter: %s\n", strerror(errno));
			goto fail;
		}
		/* the daemon's pickup would move it to corrupt/ */
		total += (uint64_t) n;
		if (c->max_letter_size > 0 && total > c->max_letter_size) {
			fprintf(stderr, "mailctl: submit: " CTL_ERR_TOOBIG "more than %llu octets"
			    " ([limits] max_letter_size of '%s')\n",
			    (unsigned long long) c->max_letter_size, c->path);
			rc = RX_DATAERR;
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
			fprintf(stderr, "mailctl: submit: " CTL_ERR_MALFORMED "%s\n", err);
			rc = st == LETTER_EIO ? RX_OTHER : RX_DATAERR;
			if (rfd >= 0)
				close(rfd);
			goto fail;
		}
		letter_free(lt);
		close(rfd);
	}
	/* the daemon, which may run as its own user, must be able to read
	 * it: root gives it to out/'s owner (the daemon's user), anyone else
	 * but that owner makes it readable (out/ is not listable by others) */
	{
		struct stat od;
		int     given;

		if (stat(outdir, &od) < 0) {
			fprintf(stderr, "mailctl: submit: stat '%s': %s\n", outdir, strerror(errno));
			goto fail;
		}
		given = od.st_uid == geteuid();
		if (!given && geteuid() == 0)
			given = fchown(out, od.st_uid, od.st_gid) == 0;
		if (!given && fchmod(out, 0644) < 0) {
			fprintf(stderr, "mailctl: submit: chmod '%s': %s\n", tmp, strerror(errno));
			goto fail;
		}
	}
	snprintf(fin, sizeof(fin), "%s/%s", outdir, base);
	if (durable_commit(out, tmp, fin, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailctl: submit: %s\n", err);
		return rc;
	}
	/* the daemon's scan of out/ takes it when it runs again */
	fprintf(stderr, "mailctl: submit: %s; the letter waits in 'out/%s'\n", why, base);
	return RX_UNAVAIL;
fail:
	close(out);
	(void) unlink(tmp);
	return rc;
}

/* recv_first - the daemon's first line on sock into b (with whatever
 * came after it in the same reads), and the first descriptor passed with
 * it (SCM_RIGHTS) in *pfd (-1: none; any other is closed). 0 once a
 * newline, the end of the connection or the cap of b came; -1 (errno) */
static int recv_first(int sock, struct buf *b, int *pfd)
{
	union {
		struct cmsghdr h;
		char	b[CMSG_SPACE(4 * sizeof(int))];
	} u;
	struct iovec iov;
	struct msghdr m;
	struct cmsghdr *ch;
	unsigned char *p;
	size_t  i, nfd;
	ssize_t n;
	int     fd;

	*pfd = -1;
	while (b->len == 0 || memchr(buf_data(b), '\n', b->len) == NULL) {
		if ((p = buf_reserve(b, 512)) == NULL)
			return 0;
		iov.iov_base = p;
		iov.iov_len = 512;
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = u.b;
		m.msg_controllen = sizeof(u.b);
		if ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0) {
			buf_commit(b, 0);
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf_commit(b, (size_t) n);
		for (ch = CMSG_FIRSTHDR(&m); ch != NULL; ch = CMSG_NXTHDR(&m, ch)) {
			if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
				continue;
			nfd = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < nfd; i++) {
				memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
				if (*pfd < 0)
					*pfd = fd;
				else
					close(fd);
			}
		}
		if (n == 0)
			break;
	}
	return 0;
}

/* answer_came - ans is an answer of the daemon's ("ok..." or "err ..."),
 * not the silence of a connection that ended first */
static int answer_came(const char *ans)
{
	return (strncmp(ans, "ok", 2) == 0 && (ans[2] == '\n' || ans[2] == ' '))
	    || strncmp(ans, "err ", 4) == 0;
}

/* submit_status - the exit status of the daemon's answer ans to submit
 * of what (a file, or "standard input": named in a refusal), shown on
 * standard error after "LABEL: node NODE refused ..." (an "ok" on
 * standard output, unless quiet): 0, 65 for a bad letter, 77, 64, and
 * 75 for any other refusal or no answer (the letter was not accepted:
 * try again later) */
static int submit_status(const struct conf *c, const char *ans, const char *what,
	const char *label, int quiet)
{
	static const struct {
		const char *reason;
		int	rc;
	} errs[] = {
		{ CTL_ERR_MALFORMED, RX_DATAERR },
		{ CTL_ERR_TOOBIG, RX_DATAERR },
		{ CTL_ERR_PERM, RX_NOPERM },
		{ "usage:", RX_USAGE },
	};
	char    prefix[PATH_MAX + 256];
	size_t  i;

	if (!answer_came(ans)) {
		fprintf(stderr, "%s: no answer from the daemon of node %s: the letter was not"
		    " accepted (try again)\n", label, c->name);
		return RX_TEMPFAIL;
	}
	if (quiet && strncmp(ans, "ok", 2) == 0)
		return RX_OK;
	/* the daemon's reason as the refusal of the letter, so that it
	 * reads well where an MTA quotes it (a bounce) */
	if (strcmp(what, "standard input") == 0)
		snprintf(prefix, sizeof(prefix), "%s: node %s refused the letter", label, c->name);
	else
		snprintf(prefix, sizeof(prefix), "%s: node %s refused '%s'", label, c->name, what);
	if (answer_show(prefix, ctl_proto_get(CTL_SUBMIT), ans) == RX_OK)
		return RX_OK;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (strncmp(ans + 4, errs[i].reason, strlen(errs[i].reason)) == 0)
			return errs[i].rc;
	return RX_TEMPFAIL;
}

/* submit_over - the letter read from rd(ctx) (what names it in
 * messages: a file or "standard input") over fd, a connection to the
 * daemon (closed here): the request "submit", the daemon's "pipe" line
 * with the write end of its pipe, the letter copied into the pipe,
 * "end OCTETS", then the answer, shown (with the letter's name on
 * standard output unless quiet). Messages start with "LABEL: ". No
 * answer once "end" was sent: exit 70, the letter may be accepted. */
static int submit_over(const struct conf *c, int fd, letter_read_fn *rd, void *ctx,
	const char *what, const char *label, int quiet)
{
	char    endl[48];
	unsigned char b[64 * 1024];
	int     wfd = -1, rc = RX_TEMPFAIL, cut = 0, end_sent = 0;
	struct buf first = BUF_INIT(CTL_LINE_MAX);
	const char *d, *nl;
	uint64_t total = 0;
	struct stat ws;
	ssize_t n;
	char   *ans, *rest;

	/* a daemon that stops reading the pipe (it refused the letter):
	 * EPIPE, and its answer says why */
	signal(SIGPIPE, SIG_IGN);
	/* refused at once (too many connections): the answer is there to
	 * read even when the request could not be written */
	if ((send_full(fd, "submit\n", 7) < 0 && errno != EPIPE && errno != ECONNRESET)
	    || recv_first(fd, &first, &wfd) < 0) {
		fprintf(stderr, "%s: ask '%s': %s\n", label, c->control, strerror(errno));
		goto out;
	}
	d = first.len > 0 ? (const char *) buf_data(&first) : "";
	nl = first.len > 0 ? memchr(d, '\n', first.len) : NULL;
	if (nl == NULL || nl - d != 4 || memcmp(d, "pipe", 4) != 0 || wfd < 0) {
		/* refused at once (no slot, stopping, ...): the whole answer */
		rest = ctl_answer_read(fd);
		fd = -1;
		ans = xasprintf("%.*s%s", (int) first.len, d, rest);
		free(rest);
		rc = submit_status(c, ans, what, label, quiet);
		free(ans);
		goto out;
	}
	/* the daemon reads its own pipe only (never a file system for us):
	 * a FILE is copied into it too */
	if (fstat(wfd, &ws) < 0 || !S_ISFIFO(ws.st_mode)) {
		fprintf(stderr, "%s: the daemon did not pass a pipe\n", label);
		rc = RX_OTHER;
		goto out;
	}
	for (;;) {
		if ((n = rd(ctx, b, sizeof(b))) < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* no "end": the daemon drops what it read */
			fprintf(stderr, "%s: read '%s': %s\n", label, what, strerror(errno));
			rc = RX_OTHER;
			goto out;
		}
		if (n == 0)
			break;
		if (write_full(wfd, b, (size_t) n) < 0) {
			if (errno != EPIPE) {
				fprintf(stderr, "%s: write to the daemon: %s\n", label,
				    strerror(errno));
				goto out;
			}
			cut = 1;
			break;
		}
		total += (uint64_t) n;
	}
	close(wfd);
	wfd = -1;
	if (!cut) {
		snprintf(endl, sizeof(endl), "end %llu\n", (unsigned long long) total);
		/* refused: the answer says why */
		end_sent = write_full(fd, endl, strlen(endl)) == 0;
	}
	rest = ctl_answer_read(fd);
	fd = -1;
	/* what came after "pipe" in the first reads belongs to the answer */
	ans = xasprintf("%.*s%s", (int) (first.len - (size_t) (nl + 1 - d)), nl + 1, rest);
	free(rest);
	if (end_sent && !answer_came(ans)) {
		/* the daemon had all it needed to commit the letter, and does
		 * so even when nobody waits for the answer */
		fprintf(stderr, "%s: the connection to the daemon ended after the"
		    " whole letter (%llu octets) was sent, before its answer: the letter may have"
		    " been accepted; look for it (mailctl trace, the journal's received lines)"
		    " before submitting it again\n", label, (unsigned long long) total);
		rc = RX_SOFTWARE;
	} else
		rc = submit_status(c, ans, what, label, quiet);
	free(ans);
out:
	buf_release(&first);
	if (wfd >= 0)
		close(wfd);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* cmd_submit - submit [FILE], over the control socket (relay/submit.h,
 * submit_over). When the daemon cannot be reached, the letter is
 * dropped into out/ by those who may write there (exit 69), and kept by
 * the others (exit 75, or 77 when the socket refused this user). */
static int cmd_submit(const struct conf *c, const char *file)
{
	char    outdir[PATH_MAX], err[RELAYD_ERRLEN];
	const char *what = file != NULL && strcmp(file, "-") != 0 ? file : NULL;
	struct stat st;
	int     in = 0, fd, rc, eno;

	if (what != NULL && (in = open(what, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "mailctl: submit: open '%s': %s\n", what, strerror(errno));
		return RX_OTHER;
	}
	/* early, as the daemon will refuse it (relay/submit.h) */
	if (what != NULL && c->max_letter_size > 0 && fstat(in, &st) == 0 && S_ISREG(st.st_mode)
	    && (uint64_t) st.st_size > c->max_letter_size) {
		fprintf(stderr, "mailctl: submit '%s': " CTL_ERR_TOOBIG "more than %llu octets"
		    " ([limits] max_letter_size of '%s'; the file has %llu)\n", what,
		    (unsigned long long) c->max_letter_size, c->path,
		    (unsigned long long) st.st_size);
		close(in);
		return RX_DATAERR;
	}
	if ((fd = ctl_connect(c, err, sizeof(err), &eno)) < 0) {
		snprintf(outdir, sizeof(outdir), "%s/out", c->spool);
		if (access(outdir, W_OK | X_OK) == 0)
			rc = submit_drop(c, in, err);
		else {
			fprintf(stderr, "mailctl: submit: %s: the letter was not accepted (try again"
			    " once the daemon runs)\n", err);
			rc = IS_PERM(eno) ? RX_NOPERM : RX_TEMPFAIL;
		}
	} else
		rc = submit_over(c, fd, fd_read, &in, what ? what : "standard input",
		    "mailctl: submit", 0);
	if (in > 0)
		close(in);
	return rc;
}

/* ctl_submit_from - see ctl_ops.h */
int ctl_submit_from(const struct conf *c, letter_read_fn *rd, void *ctx, const char *what,
	const char *label, int quiet)
{
	char    err[RELAYD_ERRLEN];
	int     fd, eno;

	if ((fd = ctl_connect(c, err, sizeof(err), &eno)) < 0) {
		fprintf(stderr, "%s: %s: the letter was not accepted (try again once the daemon"
		    " runs)\n", label, err);
		return IS_PERM(eno) ? RX_NOPERM : RX_TEMPFAIL;
	}
	return submit_over(c, fd, rd, ctx, what, label, quiet);
}

/* route_from - the relay rule's decision for a letter to a from the
 * caller who (a [peer] name, "local", or "anonymous"), on each listener:
 * RX_OK taken everywhere, RX_NOPERM refused somewhere (relaying denied),
 * RX_NOUSER refused for an undeliverable recipient, RX_DATAERR a
 * malformed address, RX_USAGE no such caller. With jb, the
 * decisions are the JSON array of doc/mailctl.1 appended to jb instead
 * of lines on standard output. */
static int route_from(const struct conf *c, const char *who, const char *text,
	struct buf *jb)
{
	struct addr_list *al;
	char    why[600], err[ADDR_ERRLEN];
	int     rc = RX_OK, seen[3] = { 0, 0, 0 };
	size_t  i;

	if (peer_find(c, who) != NULL || str_ieq(who, "local")) {
		if (jb != NULL)
			buf_printf(jb, "[{\"listener\":null,\"accept\":null,\"taken\":true,"
			    "\"reason\":null}]");
		else if (str_ieq(who, "local"))
			printf("from local submission (out/, mailctl submit, a Unix-socket caller as "
			    "root or the daemon's user): relayed along the route table\n");
		else
			printf("from peer %s (when it authenticates): relayed along the route table\n",
			    who);
		return RX_OK;
	}
	if (!str_ieq(who, "anonymous") && !str_ieq(who, "unauthenticated")) {
		fprintf(stderr, "mailctl: route: no [peer %s] in %s (want a peer's name, local or "
		    "anonymous)\n", who, c->path);
		return RX_USAGE;
	}
	al = addr_list_new();
	if (addr_list_add_line(al, text, strlen(text), 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailctl: route: %s\n", err);
		addr_list_free(al);
		return RX_DATAERR;
	}
	if (jb != NULL)
		buf_putc(jb, '[');
	for (i = 0; i < c->nlisten || (i == 0 && c->nlisten == 0); i++) {
		int     acc = c->nlisten ? c->listen_accept[i] : PEER_ACCEPT_LOCAL, d;

		if (c->nlisten == 0 && seen[acc]++)
			break;
		d = peer_relay_check(c, al, 0, acc, why, sizeof(why));
		if (jb != NULL) {
			buf_printf(jb, "%s{\"listener\":", i ? "," : "");
			trace_json_str(jb, c->nlisten ? c->listen[i] : NULL);
			buf_printf(jb, ",\"accept\":");
			trace_json_str(jb, peer_accept_str(acc));
			buf_printf(jb, ",\"taken\":%s,\"reason\":", d == 0 ? "true" : "false");
			trace_json_str(jb, d == 0 ? NULL : why);
			buf_putc(jb, '}');
		} else
			printf("from an unauthenticated caller on %s (accept=%s): %s%s\n",
			    c->nlisten ? c->listen[i] : "(no listener)", peer_accept_str(acc),
			    d == 0 ? "taken" : "refused in the call: ", d == 0 ? "" : why);
		if (d == PEER_DENIED)
			rc = RX_NOPERM;
		else if (d == PEER_BADRCPT && rc == RX_OK)
			rc = RX_NOUSER;
	}
	if (jb != NULL)
		buf_putc(jb, ']');
	addr_list_free(al);
	return rc;
}

/* What mailctl route asks of a local target (route_explain_with). */
struct route_unknown {
	const struct conf *c;
	char	why[CONF_PATH_MAX + 256];
};

/* route_unknown - route_unknown_fn: the reason delivery would refuse
 * mailbox, as the relay rules do (peer_mailbox_known), or NULL */
static const char *route_unknown(const char *mailbox, void *ctx)
{
	struct route_unknown *u = ctx;
	char    md[CONF_PATH_MAX];

	if (peer_mailbox_known(u->c, mailbox))
		return NULL;
	if (conf_maildir(u->c, mailbox, md, sizeof(md)) >= sizeof(md))
		md[0] = '\0';
	snprintf(u->why, sizeof(u->why), "undeliverable: unknown user '%s' (not in [local] "
	    "users, and no Maildir '%s')", mailbox, md);
	return u->why;
}

/* route_refused - the exit status of r by itself: RX_NOUSER when a
 * target fails whose errors go to the sender (no route, an unknown
 * user...: what the relay rules refuse in the call, and delivery
 * bounces), else RX_OK (a list member's failure goes to its owner) */
static int route_refused(const struct route_result *r, struct route_unknown *u)
{
	size_t  i;

	for (i = 0; i < route_result_count(r); i++) {
		const struct route_target *tg = route_result_get(r, i);

		if (tg->owner != NULL)
			continue;
		if (tg->kind == ROUTE_FAIL || (tg->kind == ROUTE_LOCAL && tg->mailbox != NULL
		    && route_unknown(tg->mailbox, u) != NULL))
			return RX_NOUSER;
	}
	return RX_OK;
}

/* route_override - the operator's route for next hop (mailctl reroute,
 * SPOOL/reroute "HOST ROUTE" lines) into dst, or NULL */
static const char *route_override(const struct conf *c, const char *hop, char *dst,
	size_t dstlen)
{
	char    path[PATH_MAX], *rt, *line, *next, *sp;
	const char *found = NULL;
	size_t  len;

	snprintf(path, sizeof(path), "%s/reroute", c->spool);
	if ((rt = durable_read_file(path, 1024 * 1024, &len, NULL, 0)) == NULL)
		return NULL;
	for (line = rt; line != NULL && *line && found == NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (line[0] == '#' || (sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		if (strcmp(line, hop) == 0)
			found = str_copy(dst, sp + 1, dstlen) < dstlen ? dst : NULL;
	}
	free(rt);
	return found;
}

/* route_json - mailctl route --json: one document (doc/mailctl.1, JSON
 * OUTPUT) on standard output; the exit status */
static int route_json(const struct conf *c, const char *from, const char *text,
	const struct route_result *r)
{
	static const char *const kinds[] = { "local", "forward", "fail" };
	static const char *const chans[ROUTE_CH_MAX] = { "niftp", "local", "smtp", "pull" };
	struct buf jb = BUF_INIT(64 * 1024 * 1024);
	struct route_unknown u;
	char    ov[4096];
	size_t  i, k;
	int     rc = RX_OK;

	u.c = c;
	buf_printf(&jb, "{\"address\":");
	trace_json_str(&jb, text);
	buf_printf(&jb, ",\"rcpt\":");
	trace_json_str(&jb, route_result_rcpt(r));
	buf_printf(&jb, ",\"steps\":[");
	for (i = 0; i < route_result_nsteps(r); i++) {
		if (i)
			buf_putc(&jb, ',');
		trace_json_str(&jb, route_result_step(r, i));
	}
	buf_printf(&jb, "],\"targets\":[");
	for (i = 0; i < route_result_count(r); i++) {
		const struct route_target *tg = route_result_get(r, i);
		int     fwd = tg->kind == ROUTE_FORWARD;
		const char *why = tg->reason;

		/* an unknown user: "fail", as delivery would, its mailbox kept */
		if (tg->kind == ROUTE_LOCAL && tg->mailbox != NULL)
			why = route_unknown(tg->mailbox, &u);
		buf_printf(&jb, "%s\n{\"kind\":\"%s\",\"address\":", i ? "," : "",
		    why != NULL ? "fail" : kinds[tg->kind]);
		trace_json_str(&jb, tg->text);
		buf_printf(&jb, ",\"mailbox\":");
		trace_json_str(&jb, tg->mailbox);
		buf_printf(&jb, ",\"hop\":");
		trace_json_str(&jb, fwd ? tg->hop->name : NULL);
		buf_printf(&jb, ",\"route\":");
		if (!fwd)
			buf_printf(&jb, "null");
		for (k = 0; fwd && k < tg->hop->nalts; k++) {
			const struct route_alt *alt = &tg->hop->alts[k];

			buf_printf(&jb, "%s{\"channel\":\"%s\",\"address\":", k ? "," : "[",
			    chans[alt->channel]);
			trace_json_str(&jb, alt->shown ? alt->shown : alt->addr);
			buf_printf(&jb, ",\"called\":");
			trace_json_str(&jb, alt->called);
			buf_putc(&jb, '}');
		}
		if (fwd)
			buf_putc(&jb, ']');
		buf_printf(&jb, ",\"override\":");
		trace_json_str(&jb, fwd ? route_override(c, tg->hop->name, ov, sizeof(ov)) : NULL);
		buf_printf(&jb, ",\"reason\":");
		trace_json_str(&jb, why);
		buf_printf(&jb, ",\"owner\":");
		trace_json_str(&jb, tg->owner);
		buf_printf(&jb, ",\"list\":");
		trace_json_str(&jb, tg->list);
		buf_putc(&jb, '}');
	}
	buf_printf(&jb, "],\n\"from\":");
	trace_json_str(&jb, from);
	buf_printf(&jb, ",\"relay\":");
	if (from != NULL)
		rc = route_from(c, from, text, &jb);
	else
		buf_printf(&jb, "null");
	buf_printf(&jb, "}\n");
	if (rc == RX_OK)
		rc = route_refused(r, &u);
	/* a refusal of --from's caller that is a usage error prints no JSON */
	if (rc != RX_USAGE)
		fwrite(buf_data(&jb), 1, jb.len, stdout);
	buf_release(&jb);
	return rc;
}

/* cmd_route - route [--json] [--from WHO] ADDRESS */
static int cmd_route(const struct conf *c, const char *from, const char *text, int json)
{
	int     rc;
	struct route_result *r;
	struct route_unknown u;
	struct buf b = BUF_INIT(16 * 1024 * 1024);
	char    err[ADDR_ERRLEN];
	struct addr *a = addr_parse(text, strlen(text), err, sizeof(err));

	if (a == NULL) {
		fprintf(stderr, "mailctl: route: %s\n", err);
		return RX_DATAERR;
	}
	r = route_resolve(c->routes, a, 0);
	if (json) {
		rc = route_json(c, from, text, r);
		route_result_free(r);
		addr_free(a);
		buf_release(&b);
		return rc;
	}
	u.c = c;
	(void) route_explain_with(r, &b, route_unknown, &u);
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
	rc = from != NULL ? route_from(c, from, text, NULL) : RX_OK;
	if (rc == RX_OK)
		rc = route_refused(r, &u);
	route_result_free(r);
	addr_free(a);
	return rc;
}

static const char route_help[] =
"Usage: mailctl [-c NODE.ini] route [--json] [--from WHO] ADDRESS\n"
"Show how this node would rewrite and route ADDRESS (no side effects): the\n"
"steps, then per target the mailbox it is delivered to, the next hop it is\n"
"forwarded to, or why it fails (no route, an unknown local user: as delivery\n"
"would refuse it).\n"
"  --json             one JSON document instead (mailctl(1), JSON OUTPUT)\n"
"  --from WHO         also the relay rules' decision for a letter to ADDRESS\n"
"                     from WHO: a [peer] name, local, or anonymous\n"
"Exit status: 0 deliverable (and taken), 64 usage or no such peer, 65 a\n"
"malformed address, 67 undeliverable (no route, unknown user), 77 relaying\n"
"denied to WHO.\n";

/* cmd_route_args - route [--json] [--from WHO] ADDRESS (argv[0]
 * "route"); c NULL: the arguments checked (CTL_ARGS_OK) */
static int cmd_route_args(const struct conf *c, int argc, char **argv)
{
	const char *from = NULL, *text = NULL;
	int     i, json = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(route_help, stdout);
			return RX_OK;
		}
		if (strcmp(argv[i], "--json") == 0 && !json)
			json = 1;
		else if (strcmp(argv[i], "--from") == 0 && from == NULL && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--from") == 0 && from == NULL)
			return ctl_usage("route", route_help, "--from wants a peer's name, local "
			    "or anonymous");
		else if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--from") == 0)
			return ctl_usage("route", route_help, "%s given twice", argv[i]);
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return ctl_usage("route", route_help, "unknown option '%s'", argv[i]);
		else if (text == NULL)
			text = argv[i];
		else
			return ctl_usage("route", route_help, "one ADDRESS at a time ('%s' is one "
			    "too many)", argv[i]);
	}
	if (text == NULL)
		return ctl_usage("route", route_help, "no ADDRESS (e.g. bennett@ucl)");
	if (c == NULL)
		return CTL_ARGS_OK;
	return cmd_route(c, from, text, json);
}

/* ctl_line - the request line: verb and args joined by spaces, in b.
 * 0; -1 when an argument is empty (it would vanish from the line,
 * "retry ''" becoming "retry everything"); -2 when it is longer than
 * CTL_LINE_MAX */
static int ctl_line(struct buf *b, const char *verb, int argc, char **argv)
{
	int     i;

	for (i = 0; i < argc; i++)
		if (argv[i][0] == '\0')
			return -1;
	if (buf_printf(b, "%s", verb) < 0)
		return -2;
	for (i = 0; i < argc; i++)
		if (buf_printf(b, " %s", argv[i]) < 0)
			return -2;
	return b->len > CTL_LINE_MAX ? -2 : 0;
}

/* ctl_daemon_line - the request line of cmd from the command line, in
 * line, checked with the table as the daemon will (so a usage error
 * needs neither the daemon nor the configuration). 0, or -1 after the
 * usage message on standard error. */
static int ctl_daemon_line(const struct ctl_cmd *cmd, int argc, char **argv, struct buf *line)
{
	struct ctl_req *rq = xmalloc(sizeof(*rq));
	char    err[RELAYD_ERRLEN];
	int     r, rc = -1;

	r = ctl_line(line, cmd->verb, argc, argv);
	if (r == -1)
		snprintf(err, sizeof(err), "usage: %s (an argument is empty)", cmd->usage);
	else if (r == -2)
		snprintf(err, sizeof(err), "request too long (more than %d octets)", CTL_LINE_MAX);
	else if (ctl_proto_parse((const char *) buf_data(line), line->len, rq, err,
	    sizeof(err)) == CTL_PARSE_OK)
		rc = 0;
	/* the table's usage alone: what is wrong with it, from the counts */
	if (rc < 0 && strncmp(err, "usage: ", 7) == 0 && strcmp(err + 7, cmd->usage) == 0) {
		size_t  n = strlen(err);

		if ((unsigned) argc < cmd->min_args)
			snprintf(err + n, sizeof(err) - n, " (an argument is missing)");
		else if (cmd->max_args == 0)
			snprintf(err + n, sizeof(err) - n, " (%s takes no argument)", cmd->verb);
		else if ((unsigned) argc > cmd->max_args && !(cmd->flags & CTL_REST))
			snprintf(err + n, sizeof(err) - n, " (too many arguments)");
	}
	if (rc < 0)
		fprintf(stderr, "mailctl: %s\nTry 'mailctl %s --help'.\n", err, cmd->verb);
	free(rq);
	return rc;
}

/* ctl_daemon - send the request line of cmd, show the answer; the exit
 * status */
static int ctl_daemon(const struct conf *c, const struct ctl_cmd *cmd, struct buf *line)
{
	char    err[RELAYD_ERRLEN];
	char   *ans;
	const char *nl;
	int     rc, eno;

	/* (queue, which reads the spool when the daemon cannot be asked, is
	 * relay/ctl_sel.c's) */
	ans = ctl_ask(c, buf_cstr(line), err, sizeof(err), &eno);
	if (ans != NULL) {
		char    prefix[64];

		snprintf(prefix, sizeof(prefix), "mailctl: %s", cmd->verb);
		rc = answer_show(prefix, cmd, ans);
		/* the list of overrides, empty: say so rather than nothing */
		nl = strchr(ans, '\n');
		if (rc == RX_OK && cmd->id == CTL_REROUTE && line->len == strlen(cmd->verb)
		    && (nl == NULL || nl[1] == '\0' || strncmp(nl + 1, ".\n", 2) == 0))
			printf("mailctl: no route overrides in force ('mailctl reroute HOST ROUTE'"
			    " sets one)\n");
		free(ans);
	} else {
		fprintf(stderr, "mailctl: %s: %s\n", cmd->verb, err);
		rc = IS_PERM(eno) ? RX_NOPERM : RX_UNAVAIL;
	}
	return rc;
}

/* cmd_stats - mailctl stats: the spool checked, then ctl_stats(); c
 * NULL: ctl_stats's check of the arguments */
static int cmd_stats(const struct conf *c, int argc, char **argv)
{
	char    err[RELAYD_ERRLEN];
	int     rc;

	if (c != NULL && (rc = ctl_spool_readable(c->spool, "stats", err, sizeof(err))) != 0) {
		fprintf(stderr, "mailctl: stats: %s\n", err);
		return rc;
	}
	return ctl_stats(c, argc, argv);
}

static const char submit_help[] =
"Usage: mailctl [-c NODE.ini] submit [FILE]\n"
"Submit a letter (an address list, a blank line, an RFC 822 message: see\n"
"niftpmail(5)) from FILE, or from standard input when there is none or it is\n"
"'-', to the node's daemon; prints the name it gave the letter once it is\n"
"durable. For a message without the address list, use 'mailctl sendmail'.\n"
"Exit status: 0 accepted, 65 malformed or too large (nothing kept), 69 the\n"
"daemon is not running (the letter waits in out/ for its next start), 70 no\n"
"answer after the whole letter was sent (it may have been accepted: look with\n"
"mailctl trace before sending it again), 75 not accepted now (try again), 77\n"
"permission denied, 1 FILE cannot be read.\n";

/* cmd_submit_args - submit [FILE] (argv[0] "submit"); c NULL: the
 * arguments checked (CTL_ARGS_OK) */
static int cmd_submit_args(const struct conf *c, int argc, char **argv)
{
	int     i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(submit_help, stdout);
			return RX_OK;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return ctl_usage("submit", submit_help, "unknown option '%s'", argv[i]);
	}
	if (argc > 2)
		return ctl_usage("submit", submit_help, "one FILE at a time ('%s' is one too "
		    "many)", argv[2]);
	if (c == NULL)
		return CTL_ARGS_OK;
	if (argc < 2 && isatty(0))
		fputs("mailctl: submit: reading the letter from standard input (end it with "
		    "Ctrl-D)\n", stderr);
	return cmd_submit(c, argc > 1 ? argv[1] : NULL);
}

static const char check_help[] =
"Usage: mailctl [-c NODE.ini] check-config\n"
"Check the configuration file and what it names on this machine (users,\n"
"listen addresses, spool, archive and log paths, routing against delivery):\n"
"every finding as FILE:LINE: [section] key: reason, then a summary line.\n"
"Nothing is changed.\n"
"Exit status: 0 no error (warnings and notes allowed), 78 an error.\n";

/* cmd_check_args - check-config's arguments (argv[0] "check-config"):
 * none; CTL_ARGS_OK. (The check itself needs the path, not a loaded
 * configuration: ctl_main does it.) */
static int cmd_check_args(const struct conf *c, int argc, char **argv)
{
	(void) c;
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(check_help, stdout);
		return RX_OK;
	}
	if (argc > 1)
		return ctl_usage("check-config", check_help, "no argument ('%s'): the file "
		    "checked is the configuration (-c FILE before the command)", argv[1]);
	return CTL_ARGS_OK;
}

/* Commands of mailctl that are not requests to the daemon (submit sends
 * one, trace may): each checks its arguments before the configuration
 * is looked for, then works with it (relay/ctl_ops.h, CTL_ARGS_OK). */
static const struct local_cmd {
	const char *name;
	int	(*fn)(const struct conf *c, int argc, char **argv);
} local_cmds[] = {
	{ "submit", cmd_submit_args },
	{ "route", cmd_route_args },
	{ "trace", trace_main },
	{ "view", ctl_view },
	{ "stats", cmd_stats },
	{ "check-config", cmd_check_args },
};

/* local_find - the entry of cmd in local_cmds, or NULL */
static const struct local_cmd *local_find(const char *cmd)
{
	size_t  i;

	for (i = 0; i < sizeof(local_cmds) / sizeof(local_cmds[0]); i++)
		if (strcmp(cmd, local_cmds[i].name) == 0)
			return &local_cmds[i];
	return NULL;
}

int ctl_main(int argc, char **argv);

int ctl_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static char prog[] = "mailctl", helpopt[] = "--help";
	const char *path = NULL, *cmd;
	const struct ctl_cmd *pc;
	const struct local_cmd *lc;
	struct buf errs = BUF_INIT(CONF_ERRS_MAX);
	struct buf line = BUF_INIT(CTL_LINE_MAX + 1);
	struct conf *c;
	char   *text, err[CONFPATH_ERRLEN], label[64];
	char  **av, *hv[3];
	int     o, rc, i, na;

	log_init("mailctl", LOG_LVL_INFO);
	/* getopt's messages name the program as typed: "mailctl", not its path */
	if (argc > 0)
		argv[0] = prog;
	while ((o = getopt_long(argc, argv, "+c:h", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			ctl_help(stdout);
			return RX_OK;
		case 'V':
			puts(VERSION_LINE("mailctl"));
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
	/* the command and its arguments (optind is theirs to reset) */
	av = argv + optind;
	na = argc - optind;
	cmd = av[0];
	if (strcmp(cmd, "help") == 0 && na == 1) {
		ctl_help(stdout);
		return RX_OK;
	}
	/* "help COMMAND" is "COMMAND --help" */
	if (strcmp(cmd, "help") == 0) {
		hv[0] = av[1];
		hv[1] = helpopt;
		hv[2] = NULL;
		av = hv;
		na = 2;
		cmd = av[0];
	}
	/* its own options, exit codes and configuration search */
	if (strcmp(cmd, "sendmail") == 0)
		return sendmail_main(na, av, path, "mailctl sendmail");
	pc = ctl_proto_find(cmd, strlen(cmd));
	if (pc != NULL && (pc->flags & CTL_HIDDEN))
		pc = NULL;
	lc = pc == NULL ? local_find(cmd) : NULL;
	if (pc == NULL && lc == NULL) {
		fprintf(stderr, "mailctl: unknown command '%s'\nTry 'mailctl --help'.\n", cmd);
		return RX_USAGE;
	}
	/* --help and usage errors need no configuration (nor daemon, nor
	 * spool). getopt's messages of the command say "mailctl: CMD: ". */
	if (lc != NULL) {
		snprintf(label, sizeof(label), "mailctl: %s", cmd);
		av[0] = label;
		if ((rc = lc->fn(NULL, na, av)) != CTL_ARGS_OK)
			return rc;
	}
	for (i = 1; i < na && pc != NULL; i++)
		if (strcmp(av[i], "--help") == 0 || strcmp(av[i], "-h") == 0) {
			printf("Usage: mailctl [-c NODE.ini] %s\n  %s\n(a request to the "
			    "daemon)\n%s", pc->usage, pc->help,
			    pc->flags & CTL_SELECT ? ctl_sel_help : "");
			return RX_OK;
		}
	/* the selections (queue, hold, ...) are checked as the daemon will,
	 * "-" standing for the names of standard input (relay/ctl_sel.c) */
	if (pc != NULL && (pc->flags & CTL_SELECT)) {
		if (ctl_sel_check(pc, na - 1, av + 1) != RX_OK) {
			buf_release(&line);
			return RX_USAGE;
		}
	} else if (pc != NULL && ctl_daemon_line(pc, na - 1, av + 1, &line) < 0) {
		buf_release(&line);
		return RX_USAGE;
	}
	/* no -c: $NIFTPMAIL_CONF, else the one-node host's default */
	if (confpath_find(path, CONF_ENV, CONF_DEFAULT_PATH, &path, NULL, err, sizeof(err)) < 0) {
		buf_release(&line);
		fprintf(stderr, "mailctl: %s\n", err);
		return RX_CONFIG;
	}
	if (strcmp(cmd, "check-config") == 0)
		return conf_check_with(path, stdout, confcheck_probe, NULL) == 0 ? RX_OK
		    : RX_CONFIG;
	c = conf_load(path, &errs, NULL, NULL);
	if (c == NULL) {
		if ((text = buf_cstr(&errs)) != NULL)
			fputs(text, stderr);
		buf_release(&errs);
		buf_release(&line);
		return RX_CONFIG;
	}
	buf_release(&errs);
	if (pc != NULL && (pc->flags & CTL_SELECT))
		rc = ctl_sel_run(c, pc, na - 1, av + 1);
	else if (pc != NULL)
		rc = ctl_daemon(c, pc, &line);
	else
		rc = lc->fn(c, na, av);
	conf_free(c);
	buf_release(&line);
	return rc;
}
