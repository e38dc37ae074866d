/*++
 * NAME
 *	ctl_sel 3
 * SUMMARY
 *	mailctl: the commands over a selection of letters (queue, hold,
 *	release, delete, bounce, retry)
 * SYNOPSIS
 *	#include "relay/ctl_ops.h"
 * DESCRIPTION
 *	The selection (relay/ctl_proto.h) is the daemon's to apply: mailctl
 *	checks the command line with the protocol's own parser, then sends
 *	it. Of a queue of 100,000 only what was selected crosses the socket.
 *
 *	queue: the listing is copied to standard output as it comes (its
 *	last line "." dropped); an answer that ends before that line is an
 *	error, never a short listing. A text listing without a letter says
 *	"mailctl: the queue is empty" (or "no letter matches the
 *	selection") rather than nothing. Without the daemon (it does not run,
 *	its socket or the request is refused to this user) the spool is read
 *	instead (relay/qlist.h, qlist_from_dir), with the same selection.
 *
 *	The actions: their names go in requests of at most CTL_LINE_MAX
 *	octets and CTL_ARGS_MAX arguments (the names of "-", read from
 *	standard input, in as many requests as they need); ALL is one
 *	request. The answers ("ok CHANGED", then "missing|failed|gone NAME
 *	REASON" lines: relay/ops_bulk.h) are summed into one line on
 *	standard output, "held 3 letters; 1 name not found: ucl.2612", and
 *	one line per letter not changed on standard error. The daemon's
 *	framing ("ok", "err", ".") is never shown.
 *
 *	Names on standard input: the first word of each line that does not
 *	start with white space (empty lines are skipped, and so is a line
 *	whose first word ends in ':', queue's "mailctl: the queue is empty":
 *	no name has one), so that the text listing of "mailctl queue" can be
 *	piped in as it is; at most CTL_SEL_NAMES_MAX names.
 * DIAGNOSTICS
 *	Exit status: 0 every letter changed (or none selected); 67
 *	(EX_NOUSER) a name given was not found, even when others were
 *	changed; 1 a letter could not be changed (busy, held already, ...);
 *	64 usage; 69 the daemon cannot be reached; 77 permission denied.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay/conf.h"
#include "relay/ctl_ops.h"
#include "relay/ctl_proto.h"
#include "relay/qlist.h"
#include "relay/relayd.h"
#include "util/alloc.h"
#include "util/buf.h"

#define CTL_SEL_NAMES_MAX	10000000	/* names read from standard input */
#define CTL_SEL_SHOWN		5		/* names listed in the summary */
#define CTL_SEL_DETAIL_MAX	100		/* lines about letters not changed */
#define CTL_SEL_READ		65536

#define IS_PERM(e)	((e) == EACCES || (e) == EPERM)

const char ctl_sel_help[] =
"Selections (queue, and ALL of hold, release, delete, bounce, retry):\n"
"  --to ADDR          a pending recipient is ADDR (local@domain, or @domain)\n"
"  --from ADDR        the sender (Sender:, else From:) is ADDR\n"
"  --hop HOP[,HOP]    an envelope waits for one of these next hops\n"
"  --older-than TIME  arrived at least TIME ago (90s, 5m, 2h, 3d)\n"
"  --state STATE[,STATE]\n"
"                     received, queued, deferred, active, held\n"
"  ALL                every letter selected (and no name)\n"
"  -                  names on standard input (the first word of each line\n"
"                     not starting with a space: 'mailctl queue' output works)\n"
"  --json             queue, stats, route: one JSON document (mailctl(1))\n"
"The actions print what they changed; a name not found exits 67.\n";

/* What the command line says. */
struct selargs {
	const struct ctl_cmd *cmd;
	struct buf base;		/* "VERB" and every argument but the names */
	const char *reason;		/* bounce --reason TEXT, or NULL */
	int	from_stdin;		/* "-" */
	int	json;			/* --json */
	int	filtered;		/* a selection option (--to, --state, ...) */
	char  **names;
	size_t	n;
	int	owned;			/* names read from standard input */
};

static void selargs_release(struct selargs *a)
{
	if (a->owned)
		for (size_t i = 0; i < a->n; i++)
			free(a->names[i]);
	free(a->names);
	buf_release(&a->base);
}

/* takes_value - an option of a selection followed by its value */
static int takes_value(const char *s)
{
	static const char *const opts[] = { "--to", "--from", "--hop", "--older-than", "--state" };

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strcmp(s, opts[i]) == 0)
			return 1;
	return 0;
}

/* sel_args - argv[0..argc) (after the command) into *a; 0, or -1 with err */
static int sel_args(const struct ctl_cmd *cmd, int argc, char **argv, struct selargs *a,
	char *err, size_t errlen)
{
	int     i, value = 0;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	buf_init(&a->base, CTL_LINE_MAX + 1);
	a->names = xcalloc((size_t) argc + 1, sizeof(*a->names));
	(void) buf_printf(&a->base, "%s", cmd->verb);
	for (i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (!value && strcmp(s, "--reason") == 0 && i + 1 < argc && (cmd->flags & CTL_REASON)) {
			a->reason = argv[++i];
			if (a->reason[0] == '\0' || strpbrk(a->reason, "\r\n") != NULL) {
				snprintf(err, errlen, "usage: %s (--reason: one line of text)",
				    cmd->usage);
				return -1;
			}
			continue;
		}
		if (s[0] == '\0' || strchr(s, ' ') != NULL) {
			snprintf(err, errlen, "usage: %s (an argument is empty or holds a space)",
			    cmd->usage);
			return -1;
		}
		if (!value && strcmp(s, "-") == 0) {
			a->from_stdin = 1;
			continue;
		}
		if (value || s[0] == '-' || strcmp(s, "ALL") == 0) {
			if (!value && strcmp(s, "--json") == 0)
				a->json = 1;
			value = !value && takes_value(s);
			if (value)
				a->filtered = 1;
			if (buf_printf(&a->base, " %s", s) < 0) {
				snprintf(err, errlen, "request too long (more than %d octets)",
				    CTL_LINE_MAX);
				return -1;
			}
			continue;
		}
		a->names[a->n++] = argv[i];
	}
	if (a->from_stdin && a->n > 0) {
		snprintf(err, errlen, "usage: %s ('-' is the only name: names on standard input)",
		    cmd->usage);
		return -1;
	}
	return 0;
}

/* line_add - the request line: base, names[from..], the reason; how many
 * names went in (at least one when there is one), or -1 with err */
static long line_make(const struct selargs *a, size_t from, struct buf *line, char *err,
	size_t errlen)
{
	size_t  tail = a->reason ? strlen(" --reason ") + strlen(a->reason) : 0;
	size_t  args = 0, k;
	const char *p;

	line->len = 0;
	(void) buf_append(line, buf_data(&a->base), a->base.len);
	for (p = (const char *) buf_data(&a->base); p != NULL && (p = strchr(p, ' ')) != NULL; p++)
		args++;
	for (k = from; k < a->n; k++) {
		if (line->len + 1 + strlen(a->names[k]) + tail > CTL_LINE_MAX
		    || args + 1 + (a->reason ? 2 : 0) > CTL_ARGS_MAX)
			break;
		(void) buf_printf(line, " %s", a->names[k]);
		args++;
	}
	if (k == from && from < a->n) {
		snprintf(err, errlen, "request too long (more than %d octets)", CTL_LINE_MAX);
		return -1;
	}
	if (a->reason != NULL && buf_printf(line, " --reason %s", a->reason) < 0) {
		snprintf(err, errlen, "request too long (more than %d octets)", CTL_LINE_MAX);
		return -1;
	}
	if (line->len > CTL_LINE_MAX) {
		snprintf(err, errlen, "request too long (more than %d octets)", CTL_LINE_MAX);
		return -1;
	}
	return (long) (k - from);
}

/* line_check - the line as the daemon will parse it; 0, or -1 with err */
static int line_check(struct buf *line, char *err, size_t errlen)
{
	struct ctl_req *rq = xmalloc(sizeof(*rq));
	int     rc;

	rc = ctl_proto_parse((const char *) buf_data(line), line->len, rq, err, errlen)
	    == CTL_PARSE_OK ? 0 : -1;
	free(rq);
	return rc;
}

int ctl_sel_check(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct selargs a;
	struct buf line = BUF_INIT(CTL_LINE_MAX + 64);
	char    err[RELAYD_ERRLEN], one[] = "x";
	int     rc = RX_OK;

	if (sel_args(cmd, argc, argv, &a, err, sizeof(err)) < 0)
		rc = RX_USAGE;
	else if (argc == 0 && cmd->min_args > 0) {
		/* the table's count alone would say nothing of what to give */
		snprintf(err, sizeof(err), "usage: %s (no letter named: NAME..., ALL with a "
		    "selection, or - for names on standard input)", cmd->usage);
		rc = RX_USAGE;
	}
	if (rc == RX_OK && a.from_stdin) {
		/* standard input is read later: a name stands for its names */
		a.names[0] = one;
		a.n = 1;
	}
	if (rc == RX_OK && (line_make(&a, 0, &line, err, sizeof(err)) < 0
	    || line_check(&line, err, sizeof(err)) < 0))
		rc = RX_USAGE;
	if (rc != RX_OK)
		fprintf(stderr, "mailctl: %s\nTry 'mailctl %s --help'.\n", err, cmd->verb);
	a.n = a.from_stdin ? 0 : a.n;
	selargs_release(&a);
	buf_release(&line);
	return rc;
}

/* read_names - the names on standard input into a (see DESCRIPTION); 0,
 * or -1 with err */
static int read_names(struct selargs *a, char *err, size_t errlen)
{
	char   *line = NULL;
	size_t  cap = 0, k = 0, w;
	ssize_t n;

	free(a->names);
	a->names = NULL;
	a->n = 0;
	a->owned = 1;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		k++;
		if (n == 0 || line[0] == ' ' || line[0] == '\t' || line[0] == '\n' || line[0] == '\r')
			continue;
		w = strcspn(line, " \t\r\n");
		line[w] = '\0';
		/* queue's "mailctl: the queue is empty": no name has a ':' */
		if (w > 0 && line[w - 1] == ':')
			continue;
		if (a->n == CTL_SEL_NAMES_MAX) {
			snprintf(err, errlen, "more than %d names on standard input", CTL_SEL_NAMES_MAX);
			free(line);
			return -1;
		}
		if ((a->n & (a->n - 1)) == 0 || a->n == 0)
			a->names = xrealloc(a->names, sizeof(*a->names) * (a->n ? a->n * 2 : 1));
		a->names[a->n++] = xstrdup(line);
	}
	free(line);
	if (ferror(stdin)) {
		snprintf(err, errlen, "read standard input (line %zu): %s", k + 1, strerror(errno));
		return -1;
	}
	return 0;
}

/* The answers, summed. */
struct tally {
	size_t	changed;
	size_t	nmissing, nfailed, ngone;
	struct buf missing, failed;	/* the first names, ", "-separated */
	size_t	shown;			/* detail lines written */
};

/* tally_line - one line of an action's answer after its "ok" */
static void tally_line(struct tally *t, const char *label, const char *p, size_t len)
{
	const char *sp = memchr(p, ' ', len), *name, *why;
	size_t  nlen, wlen;
	struct buf *list = NULL;

	if (sp == NULL)
		return;
	name = sp + 1;
	why = memchr(name, ' ', len - (size_t) (name - p));
	nlen = why ? (size_t) (why - name) : len - (size_t) (name - p);
	wlen = why ? len - (size_t) (why + 1 - p) : 0;
	if ((size_t) (sp - p) == 7 && memcmp(p, "missing", 7) == 0) {
		list = t->nmissing++ < CTL_SEL_SHOWN ? &t->missing : NULL;
	} else if ((size_t) (sp - p) == 6 && memcmp(p, "failed", 6) == 0) {
		list = t->nfailed++ < CTL_SEL_SHOWN ? &t->failed : NULL;
	} else if ((size_t) (sp - p) == 4 && memcmp(p, "gone", 4) == 0) {
		t->ngone++;
		return;
	} else
		return;
	if (list != NULL)
		(void) buf_printf(list, "%s%.*s", list->len ? ", " : "", (int) nlen, name);
	if (t->shown++ < CTL_SEL_DETAIL_MAX)
		fprintf(stderr, "mailctl: %s: %.*s: %.*s\n", label, (int) nlen, name, (int) wlen,
		    why ? why + 1 : "");
}

/* answer_err - the text of an "err" answer, framing removed */
static void answer_err(const char *label, const char *ans)
{
	size_t  len = strcspn(ans + 4, "\n");

	fprintf(stderr, "mailctl: %s: %.*s\n", label, (int) len, ans + 4);
}

/* answer_rc - the exit status of an "err" answer */
static int answer_rc(const char *ans)
{
	if (strncmp(ans + 4, CTL_ERR_PERM, strlen(CTL_ERR_PERM)) == 0)
		return RX_NOPERM;
	return strncmp(ans + 4, "usage:", 6) == 0 ? RX_USAGE : RX_OTHER;
}

static const char *past(enum ctl_id id)
{
	switch (id) {
	case CTL_HOLD:
		return "held";
	case CTL_RELEASE:
		return "released";
	case CTL_DELETE:
		return "deleted";
	case CTL_BOUNCE:
		return "bounced";
	default:
		return "retried";
	}
}

/* summary - the one line of what was done */
static void summary(const struct ctl_cmd *cmd, struct tally *t, int cut)
{
	FILE   *fp = stdout;

	fprintf(fp, "%s %zu letter%s", past(cmd->id), t->changed, t->changed == 1 ? "" : "s");
	if (t->nmissing > 0)
		fprintf(fp, "; %zu name%s not found: %s%s", t->nmissing, t->nmissing == 1 ? "" : "s",
		    buf_cstr(&t->missing), t->nmissing > CTL_SEL_SHOWN ? ", ..." : "");
	if (t->nfailed > 0)
		fprintf(fp, "; %zu not changed: %s%s", t->nfailed, buf_cstr(&t->failed),
		    t->nfailed > CTL_SEL_SHOWN ? ", ..." : "");
	if (t->ngone > 0)
		fprintf(fp, "; %zu left the queue meanwhile", t->ngone);
	if (cut)
		fprintf(fp, "; stopped before the end (see above)");
	fputc('\n', fp);
	if (t->shown > CTL_SEL_DETAIL_MAX)
		fprintf(stderr, "mailctl: %s: %zu more letters not changed\n", cmd->verb,
		    t->shown - CTL_SEL_DETAIL_MAX);
}

/* run_action - the requests of an action, their answers summed */
static int run_action(const struct conf *c, struct selargs *a)
{
	const struct ctl_cmd *cmd = a->cmd;
	struct buf line = BUF_INIT(CTL_LINE_MAX + 64);
	struct tally t;
	char    err[RELAYD_ERRLEN];
	size_t  from = 0, sent = 0;
	long    k;
	int     rc = RX_OK, eno;

	memset(&t, 0, sizeof(t));
	buf_init(&t.missing, 64 * 1024);
	buf_init(&t.failed, 64 * 1024);
	if (a->from_stdin && read_names(a, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailctl: %s: %s\n", cmd->verb, err);
		rc = RX_OTHER;
		goto out;
	}
	/* "-" with nothing on standard input: nothing to do */
	while (!a->from_stdin || a->n > 0) {
		char   *ans;
		const char *p, *nl;

		if ((k = line_make(a, from, &line, err, sizeof(err))) < 0
		    || line_check(&line, err, sizeof(err)) < 0) {
			fprintf(stderr, "mailctl: %s%s\n", a->from_stdin ? "standard input: " : "", err);
			rc = RX_USAGE;
			break;
		}
		from += (size_t) k;
		(void) buf_cstr(&line);
		if ((ans = ctl_ask(c, (const char *) buf_data(&line), err, sizeof(err), &eno)) == NULL) {
			fprintf(stderr, "mailctl: %s: %s\n", cmd->verb, err);
			rc = IS_PERM(eno) ? RX_NOPERM : RX_UNAVAIL;
			break;
		}
		if (strncmp(ans, "err ", 4) == 0) {
			answer_err(cmd->verb, ans);
			rc = answer_rc(ans);
			free(ans);
			break;
		}
		if (strncmp(ans, "ok ", 3) != 0) {
			fprintf(stderr, "mailctl: %s: no answer from the daemon\n", cmd->verb);
			free(ans);
			rc = RX_OTHER;
			break;
		}
		sent++;
		t.changed += strtoul(ans + 3, NULL, 10);
		for (p = strchr(ans, '\n'); p != NULL && *++p != '\0'; p = nl) {
			size_t  len;

			nl = strchr(p, '\n');
			len = nl ? (size_t) (nl - p) : strlen(p);
			if (len == 1 && p[0] == '.')
				break;
			tally_line(&t, cmd->verb, p, len);
			if (nl == NULL)
				break;
		}
		free(ans);
		if (from >= a->n)
			break;
	}
	/* after a refusal, what the requests before it did */
	if (rc == RX_OK || sent > 0)
		summary(cmd, &t, rc != RX_OK);
	if (rc == RX_OK && t.nmissing > 0)
		rc = RX_NOUSER;
	else if (rc == RX_OK && t.nfailed > 0)
		rc = RX_OTHER;
out:
	buf_release(&t.missing);
	buf_release(&t.failed);
	buf_release(&line);
	return rc;
}

/* queue_empty - the text listing of a showed no letter (n): say so on
 * standard output, as Postfix's mailq does, rather than print nothing.
 * (Those lines start with "mailctl:", which read_names passes over: an
 * empty listing piped into "hold -" holds nothing.) */
static void queue_empty(const struct selargs *a, size_t n)
{
	if (n > 0 || a->json)
		return;
	if (a->filtered)
		printf("mailctl: no letter matches the selection\n");
	else
		printf("mailctl: the queue is empty\n");
}

/* queue_offline - the listing of a from the spool (the daemon cannot be
 * asked: why); the exit status */
static int queue_offline(const struct conf *c, const struct selargs *a, struct buf *line,
	const char *why, int perm)
{
	struct ctl_req *rq = xmalloc(sizeof(*rq));
	struct buf out = BUF_INIT(QLIST_OUT_MAX);
	struct ctl_sel sel;
	struct qlist *ql = NULL;
	char    err[RELAYD_ERRLEN];
	int     rc;

	if ((rc = ctl_spool_readable(c->spool, "queue", err, sizeof(err))) != 0) {
		fprintf(stderr, "mailctl: queue: %s; %s\n", err, why);
		if (rc != RX_NOPERM)
			rc = RX_UNAVAIL;
		goto out;
	}
	if (ctl_proto_parse((const char *) buf_data(line), line->len, rq, err, sizeof(err))
	    != CTL_PARSE_OK || ctl_proto_sel(rq, &sel, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailctl: queue: %s\n", err);
		rc = RX_USAGE;
		goto out;
	}
	if ((ql = qlist_from_dir(c->spool, &sel, err, sizeof(err))) == NULL) {
		fprintf(stderr, "mailctl: queue: %s; %s\n", why, err);
		rc = RX_UNAVAIL;
		goto out;
	}
	qlist_read(ql, &sel, 1);
	if (qlist_render(ql, c->name, sel.json, &out) < 0) {
		fprintf(stderr, "mailctl: queue: the listing is longer than %d MiB: select fewer"
		    " letters\n", QLIST_OUT_MAX >> 20);
		rc = RX_OTHER;
		goto out;
	}
	if (perm)
		fprintf(stderr, "mailctl: queue: %s; read from the spool instead\n", why);
	if (out.len > 0)
		fwrite(buf_data(&out), 1, out.len, stdout);
	queue_empty(a, out.len > 0);
	rc = RX_OK;
out:
	qlist_free(ql);
	buf_release(&out);
	free(rq);
	return rc;
}

/* stream_answer - copy the daemon's answer on fd to standard output, its
 * framing removed, counting in *nletters its lines that do not start
 * with a space (a letter's first line): 0 after its last line ".", 1
 * after an "err" answer (in *ans, new memory), -1 when it ended early
 * (err) */
static int stream_answer(int fd, char **ans, size_t *nletters, char *err, size_t errlen)
{
	char   *b = xmalloc(CTL_SEL_READ + CTL_LINE_MAX), *p, *nl;
	size_t  have = 0;
	int     first = 1, rc = -1;
	ssize_t n;

	*ans = NULL;
	for (;;) {
		n = read(fd, b + have, CTL_SEL_READ + CTL_LINE_MAX - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read the daemon's answer: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			snprintf(err, errlen, "the daemon's answer ended early");
			break;
		}
		have += (size_t) n;
		for (p = b; (nl = memchr(p, '\n', have - (size_t) (p - b))) != NULL; p = nl + 1) {
			if (first) {
				first = 0;
				if (strncmp(p, "ok", 2) == 0 && (p[2] == '\n' || p[2] == ' '))
					continue;
				if (strncmp(p, "err ", 4) == 0) {
					*ans = xstrndup(p, (size_t) (nl - p));
					rc = 1;
				} else
					snprintf(err, errlen, "no answer from the daemon");
				goto out;
			}
			if (nl - p == 1 && p[0] == '.') {
				rc = 0;
				goto out;
			}
			if (p[0] != ' ')
				(*nletters)++;
			fwrite(p, 1, (size_t) (nl - p) + 1, stdout);
		}
		have -= (size_t) (p - b);
		memmove(b, p, have);
		if (have == CTL_SEL_READ + CTL_LINE_MAX) {
			/* a line this long is no line of ours */
			snprintf(err, errlen, "the daemon's answer has an over-long line");
			break;
		}
	}
out:
	free(b);
	return rc;
}

/* run_queue - the listing from the daemon, else from the spool */
static int run_queue(const struct conf *c, struct selargs *a)
{
	struct buf line = BUF_INIT(CTL_LINE_MAX + 64);
	char    err[RELAYD_ERRLEN], why[RELAYD_ERRLEN + 32];
	char   *ans = NULL;
	size_t  nletters = 0;
	int     fd, eno, rc, r;

	if (line_make(a, 0, &line, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailctl: %s\n", err);
		buf_release(&line);
		return RX_USAGE;
	}
	if ((fd = ctl_connect(c, err, sizeof(err), &eno)) < 0) {
		rc = queue_offline(c, a, &line, err, IS_PERM(eno));
		goto out;
	}
	(void) buf_putc(&line, '\n');
	r = 0;
	for (size_t off = 0; off < line.len && r >= 0; ) {
		ssize_t n = send(fd, (const char *) buf_data(&line) + off, line.len - off,
		    MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -1;		/* refused at once: the answer says why */
		else
			off += (size_t) n;
	}
	line.len--;
	r = stream_answer(fd, &ans, &nletters, err, sizeof(err));
	close(fd);
	if (r == 0) {
		queue_empty(a, nletters);
		rc = RX_OK;
	} else if (r < 0) {
		fprintf(stderr, "mailctl: queue: %s: the listing above is incomplete\n", err);
		rc = RX_OTHER;
	} else if (answer_rc(ans) == RX_NOPERM) {
		/* not an operator: the spool itself, if this user may read it
		 * (the same as a socket that refuses the connection) */
		snprintf(why, sizeof(why), "%s", ans + 4);
		rc = queue_offline(c, a, &line, why, 1);
	} else if (strcmp(ans + 4, CTL_ERR_STOPPING) == 0) {
		/* the daemon stops: what it leaves in the spool */
		snprintf(why, sizeof(why), "%s", ans + 4);
		rc = queue_offline(c, a, &line, why, 1);
	} else {
		answer_err("queue", ans);
		rc = answer_rc(ans);
	}
out:
	free(ans);
	buf_release(&line);
	return rc;
}

int ctl_sel_run(const struct conf *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct selargs a;
	char    err[RELAYD_ERRLEN];
	int     rc;

	if (sel_args(cmd, argc, argv, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailctl: %s\n", err);
		selargs_release(&a);
		return RX_USAGE;
	}
	rc = cmd->id == CTL_QUEUE ? run_queue(c, &a) : run_action(c, &a);
	selargs_release(&a);
	return rc;
}
