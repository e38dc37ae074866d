/*++
 * NAME
 *	sendmail 3
 * SUMMARY
 *	niftpmail-sendmail: an RFC 822 message from an MTA made a letter
 * SYNOPSIS
 *	#include "relay/sendmail.h"
 * DESCRIPTION
 *	See sendmail.h and doc/niftpmail-sendmail.8. The steps:
 *	sm_options() reads the command line; sm_header() reads the
 *	message header from standard input (CRLF made LF, an mbox "From "
 *	line dropped) and stops at its blank line; sm_letter() makes the
 *	letter's first part (address list, blank line, the edited header,
 *	blank line) and checks it as the daemon's letter reader will;
 *	sm_rcpt_check() asks the node's routes about each recipient; then
 *	sm_read() feeds that first part and the rest of standard input
 *	(the body, line ends converted on the fly) to ctl_submit_from().
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "mailchannel/notice.h"
#include "mailchannel/route.h"
#include "relay/conf.h"
#include "relay/ctl_ops.h"
#include "relay/peer.h"
#include "relay/relayd.h"
#include "relay/sendmail.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/confpath.h"
#include "util/strutil.h"
#include "util/version.h"

#define SM_LABEL	"niftpmail-sendmail"
#define SM_ERRLEN	512
#define SM_LABEL_MAX	64	/* "mailctl: sendmail" */
/* the letter's first part: addresses, Return-Path:, From:, header */
#define SM_FIRST_MAX	(LETTER_PREFIX_MAX + HDR_MAX + HDR_EDIT_SLACK)

static const char sm_help[] =
"Usage: niftpmail-sendmail [-c NODE.ini] [-f SENDER] [-t] [-i] [--] [RECIPIENT...]\n"
"       mailctl [-c NODE.ini] sendmail [OPTIONS] [--] [RECIPIENT...]\n"
"Read an RFC 822 message on standard input and submit it as a letter to the\n"
"niftpmail daemon of the node (sendmail conventions, for an MTA's pipe).\n"
"Options:\n"
"  -c, --config FILE  the node's configuration (else $" CONF_ENV ", else\n"
"                     " CONF_DEFAULT_PATH ")\n"
"  -f SENDER, -r SENDER\n"
"                     the envelope sender, kept as \"Return-Path: <SENDER>\"\n"
"                     (notices go there); '', '<>' or MAILER-DAEMON: the null\n"
"                     sender (an Internet bounce: never a notice)\n"
"  -t                 recipients also from To:, Cc: and Bcc:\n"
"  -i, -oi            a line of a lone \".\" does not end the message\n"
"  -v                 print the letter's name once accepted\n"
"  --                 the end of the options: recipients follow\n"
"  --help             this text\n"
"  --version          the version of niftpmail\n"
"Ignored (accepted for compatibility): -oX... (except -oi), -O OPT=VALUE, -bm,\n"
"-B TYPE, -F NAME, -h HOPS, -L LABEL, -N DSN, -R RET, -V ENVID, -X FILE, -m, -n,\n"
"-U, -e?. Refused (exit 75): other -b modes, -q, unknown options.\n"
"Exit status (for Postfix's pipe(8)): 0 the letter is durable, 65 bad data\n"
"(malformed message or address), 67 a recipient this node cannot deliver\n"
"(unknown local user, refused by its routes), 75 anything else (try again;\n"
"usage errors and a daemon that is down included).\n";

/* What the command line says. */
struct sm_opts {
	const char *label;		/* messages start "LABEL: " (sendmail_main) */
	const char *prog;		/* the command as typed: "Try 'PROG --help'" */
	const char *conf;
	const char *sender;		/* -f as given, or NULL */
	int	extract;		/* -t */
	int	dot_ends;		/* no -i: a lone "." ends the message */
	int	verbose;		/* -v */
	char  **rcpts;			/* borrowed from argv */
	int	nrcpts;
};

/* Standard input, buffered (one SM_IOBUF). */
struct sm_in {
	int	fd;
	unsigned char b[SM_IOBUF];
	size_t	off, len;
	int	eof;
};

/* The letter as ctl_submit_from reads it. */
struct sm_src {
	struct sm_in *in;
	const unsigned char *first;	/* the first part (borrowed) */
	size_t	flen, foff;
	int	dot_ends;
	int	bol;			/* the body is at the start of a line */
	int	done;			/* the message ended (end of input or ".") */
};

/* --- the command line ---------------------------------------------------- */

/* sm_options - argv into o; 0, or -1 (usage error, said), 1 (--help or --version
 * shown) */
static int sm_options(int argc, char **argv, struct sm_opts *o)
{
	/* options that take a value (attached or the next argument) */
	static const char with_arg[] = "cCfrOBFhLNRVX";
	const char *a, *val;
	int     i, k;
	char    ch;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--help") == 0) {
			fputs(sm_help, stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			puts(VERSION_LINE(SM_LABEL));
			return 1;
		}
		if (strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				goto missing;
			o->conf = argv[++i];
			continue;
		}
		if (a[1] == '-') {
			fprintf(stderr, "%s: unknown option '%s'\nTry '%s --help'.\n", o->label, a,
			    o->prog);
			return -1;
		}
		if (a[1] == 'o') {
			/* -oi; any other -oX... is a sendmail.cf option: ignored */
			if (strcmp(a, "-oi") == 0)
				o->dot_ends = 0;
			else if (a[2] == '\0' && ++i >= argc)
				goto missing;
			continue;
		}
		if (a[1] == 'b') {
			if (strcmp(a, "-bm") != 0) {
				fprintf(stderr, "%s: '%s': only -bm (deliver mail) is supported\n",
				    o->label, a);
				return -1;
			}
			continue;
		}
		/* a cluster of flags, the last of which may take a value */
		for (k = 1; (ch = a[k]) != '\0'; k++) {
			if (strchr(with_arg, ch) != NULL) {
				if (a[k + 1] != '\0')
					val = a + k + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					goto missing;
				if (ch == 'c' || ch == 'C')
					o->conf = val;
				else if (ch == 'f' || ch == 'r')
					o->sender = val;
				break;
			}
			switch (ch) {
			case 't':
				o->extract = 1;
				break;
			case 'i':
				o->dot_ends = 0;
				break;
			case 'v':
				o->verbose = 1;
				break;
			case 'm':
			case 'n':
			case 'U':
				break;
			case 'e':
				/* -eX: error mode, ignored with its letter */
				if (a[k + 1] != '\0')
					k++;
				break;
			default:
				fprintf(stderr, "%s: unknown option '-%c'\nTry '%s --help'.\n",
				    o->label, ch, o->prog);
				return -1;
			}
		}
	}
	o->rcpts = argv + i;
	o->nrcpts = argc - i;
	return 0;
missing:
	fprintf(stderr, "%s: option '%s' needs a value\nTry '%s --help'.\n", o->label, a,
	    o->prog);
	return -1;
}

/* sm_sender - the envelope sender: 0 and *ap NULL for the null sender,
 * 0 and a new *ap, or -1 with err */
static int sm_sender(const char *s, struct addr **ap, char *err, size_t errlen)
{
	char    aerr[ADDR_ERRLEN];
	char   *t = xstrdup(s), *v = str_trim(t);

	*ap = NULL;
	/* Postfix's pipe(8) says MAILER-DAEMON for the null sender unless
	 * null_sender= is set */
	if (v[0] == '\0' || strcmp(v, "<>") == 0 || str_ieq(v, "MAILER-DAEMON")) {
		free(t);
		return 0;
	}
	if ((*ap = addr_parse(v, strlen(v), aerr, sizeof(aerr))) == NULL) {
		snprintf(err, errlen, "sender '%s': %s", v, aerr);
		free(t);
		return -1;
	}
	free(t);
	return 0;
}

/* --- standard input ------------------------------------------------------ */

/* in_fill - at least n octets available, or the end of input; the number
 * available, or -1 (errno) */
static ssize_t in_fill(struct sm_in *in, size_t n)
{
	ssize_t r;

	while (in->len - in->off < n && !in->eof) {
		if (in->off > 0) {
			memmove(in->b, in->b + in->off, in->len - in->off);
			in->len -= in->off;
			in->off = 0;
		}
		if (in->len == sizeof(in->b))
			break;
		r = read(in->fd, in->b + in->len, sizeof(in->b) - in->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			in->eof = 1;
		in->len += (size_t) r;
	}
	return (ssize_t) (in->len - in->off);
}

/* in_line - the next line (without its LF; a CR before it dropped) in
 * *p, *len, not consumed: *used octets do that (LF and CR included). 0; 1 at
 * the end of input; -1 (errno) on a read error; -2 a line longer than
 * the buffer */
static int in_line(struct sm_in *in, const unsigned char **p, size_t *len, size_t *used)
{
	unsigned char *s, *e;
	ssize_t n;
	size_t  want = 1;

	for (;;) {
		if ((n = in_fill(in, want)) < 0)
			return -1;
		if (n == 0)
			return 1;
		s = in->b + in->off;
		if ((e = memchr(s, '\n', (size_t) n)) != NULL) {
			*p = s;
			*len = (size_t) (e - s);
			*used = *len + 1;
			if (*len > 0 && s[*len - 1] == '\r')
				(*len)--;
			return 0;
		}
		if (in->eof) {
			*p = s;
			*len = *used = (size_t) n;
			if (*len > 0 && s[*len - 1] == '\r')
				(*len)--;
			return 0;
		}
		if ((size_t) n == sizeof(in->b))
			return -2;
		want = (size_t) n + 1;
	}
}

/* is_field - line[0..len) starts a header field: a name of printable
 * ASCII but ':', optional blanks, ':' */
static int is_field(const unsigned char *line, size_t len)
{
	size_t  i = 0;

	while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
		i++;
	if (i == 0)
		return 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':';
}

/* sm_header - the message header from in into hdr, each line ending in
 * LF; the header's blank line consumed, a line that is neither a field
 * nor a continuation left for the body (the header ends there, as in
 * Postfix). *ended: the message ended too ("." without -i, or the end
 * of input). SM_OK, SM_DATAERR or SM_TEMPFAIL with err. */
static int sm_header(struct sm_in *in, int dot_ends, struct buf *hdr, int *ended, char *err,
	size_t errlen)
{
	const unsigned char *p;
	size_t  len, used;
	int     r, first = 1;

	*ended = 0;
	for (;;) {
		if ((r = in_line(in, &p, &len, &used)) == 1) {
			*ended = 1;
			return SM_OK;
		}
		if (r == -1) {
			snprintf(err, errlen, "read standard input: %s", strerror(errno));
			return SM_TEMPFAIL;
		}
		if (r == -2) {
			snprintf(err, errlen, "message header: a line longer than %d octets",
			    SM_IOBUF);
			return SM_DATAERR;
		}
		if (first && len >= 5 && memcmp(p, "From ", 5) == 0) {
			/* the mbox separator some MTAs put first */
			first = 0;
			in->off += used;
			continue;
		}
		first = 0;
		if (len == 0) {
			in->off += used;
			return SM_OK;
		}
		if (dot_ends && len == 1 && p[0] == '.') {
			in->off += used;
			*ended = 1;
			return SM_OK;
		}
		if (!is_field(p, len) && !(hdr->len > 0 && (p[0] == ' ' || p[0] == '\t')))
			return SM_OK;
		if (buf_append(hdr, p, len) < 0 || buf_putc(hdr, '\n') < 0) {
			snprintf(err, errlen, "message header longer than %d octets", HDR_MAX);
			return SM_DATAERR;
		}
		in->off += used;
	}
}

/* sm_read - letter_read_fn: the first part, then the body of the
 * message, CRLF made LF, up to the end of input or (without -i) a line
 * of a lone "." */
static ssize_t sm_read(void *ctx, void *buf, size_t len)
{
	struct sm_src *s = ctx;
	unsigned char *out = buf, c;
	size_t  k = 0, n;
	ssize_t av;
	struct sm_in *in = s->in;

	if (s->foff < s->flen) {
		n = s->flen - s->foff < len ? s->flen - s->foff : len;
		memcpy(out, s->first + s->foff, n);
		s->foff += n;
		return (ssize_t) n;
	}
	while (k < len && !s->done) {
		/* enough to see ".\r\n" at a line's start, or "\r\n" */
		if ((av = in_fill(in, s->bol && s->dot_ends ? 3 : 2)) < 0)
			return k > 0 ? (ssize_t) k : -1;
		if (av == 0) {
			s->done = 1;
			break;
		}
		c = in->b[in->off];
		if (s->bol && s->dot_ends && c == '.'
		    && (av == 1 || in->b[in->off + 1] == '\n'
		    || (in->b[in->off + 1] == '\r' && (av == 2 || in->b[in->off + 2] == '\n')))) {
			s->done = 1;
			break;
		}
		if (c == '\r' && av >= 2 && in->b[in->off + 1] == '\n') {
			in->off++;
			continue;
		}
		out[k++] = c;
		in->off++;
		s->bol = c == '\n';
	}
	return (ssize_t) k;
}

/* --- the letter ---------------------------------------------------------- */

/* sm_field_rcpts - the addresses of a To:, Cc: or Bcc: value v appended
 * to al: items separated by commas outside quotes, comments, domain
 * literals and <...>; a group's "name:" dropped and its ";" a separator
 * ("undisclosed-recipients:;" gives none). 0, or -1 with err. */
static int sm_field_rcpts(struct addr_list *al, const char *v, char *err, size_t errlen)
{
	char    aerr[ADDR_ERRLEN];
	struct addr *a;
	size_t  i, start = 0;
	int     q = 0, cmt = 0, lit = 0, ang = 0;
	char    ch;

	for (i = 0;; i++) {
		ch = v[i];
		if (ch != '\0' && (q || cmt || lit)) {
			if ((q || cmt) && ch == '\\' && v[i + 1] != '\0')
				i++;
			else if (q && ch == '"')
				q = 0;
			else if (cmt && ch == '(')
				cmt++;
			else if (cmt && ch == ')')
				cmt--;
			else if (lit && ch == ']')
				lit = 0;
			continue;
		}
		if (ch == '"')
			q = 1;
		else if (ch == '(')
			cmt = 1;
		else if (ch == '[')
			lit = 1;
		else if (ch == '<')
			ang++;
		else if (ch == '>' && ang > 0)
			ang--;
		else if (ch == ':' && ang == 0)
			start = i + 1;
		else if (((ch == ',' || ch == ';') && ang == 0) || ch == '\0') {
			const char *t = v + start;
			size_t  n = i - start, b = 0;

			while (b < n && (t[b] == ' ' || t[b] == '\t'))
				b++;
			if (b < n) {
				if ((a = addr_parse(t + b, n - b, aerr, sizeof(aerr))) == NULL) {
					snprintf(err, errlen, "%s", aerr);
					return -1;
				}
				if (addr_list_append(al, a, aerr, sizeof(aerr)) < 0) {
					snprintf(err, errlen, "%s", aerr);
					return -1;
				}
			}
			start = i + 1;
			if (ch == '\0')
				break;
		}
	}
	return 0;
}

/* field_is - field i of h is named name (any case) */
static int field_is(const struct hdr *h, size_t i, const char *name)
{
	size_t  len;
	const char *n = hdr_name(h, i, &len);

	return len == strlen(name) && strncasecmp(n, name, len) == 0;
}

/* sm_letter - the letter's first part into first: the address list of
 * al (with -t, To:, Cc:, Bcc: of the header text added to it), a blank
 * line, Return-Path: (when sender_given), From: when the header has no
 * originator, the header text without Return-Path: and Bcc:, a blank
 * line; checked as the daemon's reader will. SM_OK, or SM_DATAERR with
 * err. */
static int sm_letter(struct buf *first, const struct sm_opts *o, struct addr_list *al,
	const struct addr *sender, const struct buf *hdrtext, char *err, size_t errlen)
{
	char    herr[HDR_ERRLEN], lerr[LETTER_ERRLEN];
	struct hdr *h, *chk = NULL;
	struct addr *orig;
	const char *raw;
	char   *v, *s;
	size_t  i, len, mark;
	int     rc = SM_DATAERR;

	h = hdr_parse(hdrtext->len ? (const char *) buf_data(hdrtext) : "", hdrtext->len, 1,
	    herr, sizeof(herr));
	if (h == NULL) {
		snprintf(err, errlen, "message header: %s", herr);
		return SM_DATAERR;
	}
	if (o->extract)
		for (i = 0; i < hdr_count(h); i++)
			if (field_is(h, i, "To") || field_is(h, i, "Cc") || field_is(h, i, "Bcc")) {
				v = hdr_value(h, i);
				if (sm_field_rcpts(al, v, herr, sizeof(herr)) < 0) {
					snprintf(err, errlen, "line %lu: recipient: %s", hdr_line(h, i),
					    herr);
					free(v);
					goto out;
				}
				free(v);
			}
	if (addr_list_count(al) == 0) {
		snprintf(err, errlen, "no recipients%s", o->extract ? " (none on the command "
		    "line, none in To:, Cc: or Bcc:)" : "");
		goto out;
	}
	if (letter_prefix(first, al, NULL, 0, 0, lerr, sizeof(lerr)) < 0) {
		snprintf(err, errlen, "address list: %s", lerr);
		goto out;
	}
	mark = first->len;
	if (o->sender != NULL) {
		s = sender ? addr_to_str(sender) : NULL;
		if (buf_printf(first, HDR_RETURN_PATH ": <%s>\n", s ? s : "") < 0) {
			free(s);
			goto cap;
		}
		free(s);
	}
	if (hdr_find(h, HDR_FROM, 0) < 0 && hdr_find(h, HDR_SENDER, 0) < 0 && sender != NULL) {
		s = addr_to_str(sender);
		if (buf_printf(first, HDR_FROM ": %s\n", s) < 0) {
			free(s);
			goto cap;
		}
		free(s);
	}
	for (i = 0; i < hdr_count(h); i++) {
		/* an envelope sender comes from the MTA, never from the
		 * message; Bcc: is for the envelope only */
		if (field_is(h, i, HDR_RETURN_PATH) || field_is(h, i, "Bcc"))
			continue;
		raw = hdr_raw(h, i, &len);
		if (buf_append(first, raw, len) < 0)
			goto cap;
	}
	if (buf_putc(first, '\n') < 0)
		goto cap;
	/* what the daemon's letter reader will ask of the header */
	chk = hdr_parse((const char *) buf_data(first) + mark, first->len - mark, 1, herr,
	    sizeof(herr));
	if (chk == NULL) {
		snprintf(err, errlen, "message header: %s", herr);
		goto out;
	}
	if ((orig = hdr_originator(chk, herr, sizeof(herr))) == NULL) {
		snprintf(err, errlen, "message header: %s%s", herr, sender == NULL
		    ? " and no sender (-f) to make one from" : "");
		goto out;
	}
	addr_free(orig);
	rc = SM_OK;
	goto out;
cap:
	snprintf(err, errlen, "message header longer than %d octets", HDR_MAX);
out:
	hdr_free(chk);
	hdr_free(h);
	return rc;
}

/* sm_rcpt_check - what this node already knows of each recipient: an
 * address its routes refuse, or a local mailbox that is neither in
 * [local] users nor has a Maildir, is SM_NOUSER (err); else SM_OK. A
 * Maildir that cannot be looked at (another user's) is taken as there:
 * the daemon decides when it delivers, and a notice goes back. */
static int sm_rcpt_check(const struct conf *c, const struct addr_list *al, char *err,
	size_t errlen)
{
	const struct route_target *tg;
	struct route_result *r;
	size_t  i, j;
	int     rc = SM_OK;

	for (i = 0; i < addr_list_count(al) && rc == SM_OK; i++) {
		r = route_resolve(c->routes, addr_list_get(al, i), 0);
		for (j = 0; j < route_result_count(r) && rc == SM_OK; j++) {
			tg = route_result_get(r, j);
			if (tg->kind == ROUTE_FAIL) {
				snprintf(err, errlen, "recipient '%s': %s", tg->text, tg->reason);
				rc = SM_NOUSER;
			} else if (tg->kind == ROUTE_LOCAL && tg->mailbox != NULL
			    && !peer_mailbox_known(c, tg->mailbox)) {
				snprintf(err, errlen, "recipient '%s': unknown user (not a "
				    "configured user and no mailbox)", tg->text);
				rc = SM_NOUSER;
			}
		}
		route_result_free(r);
	}
	return rc;
}

/* sm_status - the exit status for Postfix: 0, 65, 67, else 75 */
static int sm_status(int rc)
{
	if (rc == RX_OK || rc == SM_DATAERR || rc == SM_NOUSER)
		return rc;
	return SM_TEMPFAIL;
}

/* sendmail_main - see sendmail.h */
int sendmail_main(int argc, char **argv, const char *conf, const char *prog)
{
	struct sm_opts o;
	struct sm_in *in = NULL;
	struct sm_src src;
	struct buf hdrtext = BUF_INIT(HDR_MAX);
	struct buf first = BUF_INIT(SM_FIRST_MAX);
	struct buf errs = BUF_INIT(CONF_ERRS_MAX);
	struct addr_list *al = NULL;
	struct addr *sender = NULL;
	struct conf *c = NULL;
	char    err[SM_ERRLEN], label[SM_LABEL_MAX];
	const char *sp;
	char   *text;
	int     i, rc = SM_TEMPFAIL, ended;

	memset(&o, 0, sizeof(o));
	/* "mailctl sendmail" says "mailctl: sendmail: ..." */
	sp = strchr(prog, ' ');
	snprintf(label, sizeof(label), "%.*s%s%s", sp ? (int) (sp - prog) : (int) strlen(prog),
	    prog, sp ? ":" : "", sp ? sp : "");
	o.label = label;
	o.prog = prog;
	o.conf = conf;
	o.dot_ends = 1;
	if ((i = sm_options(argc, argv, &o)) != 0)
		return i > 0 ? SM_OK : SM_TEMPFAIL;
	if (o.nrcpts == 0 && !o.extract) {
		fprintf(stderr, "%s: no recipients (give them after the options, or -t)\nTry '%s"
		    " --help'.\n", o.label, o.prog);
		return SM_TEMPFAIL;
	}
	if (confpath_find(o.conf, CONF_ENV, CONF_DEFAULT_PATH, &o.conf, NULL, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", o.label, err);
		goto out;
	}
	if ((c = conf_load(o.conf, &errs, NULL, NULL)) == NULL) {
		if ((text = buf_cstr(&errs)) != NULL)
			fputs(text, stderr);
		fprintf(stderr, "%s: configuration '%s' not usable\n", o.label, o.conf);
		goto out;
	}
	if (o.sender != NULL && sm_sender(o.sender, &sender, err, sizeof(err)) < 0) {
		rc = SM_DATAERR;
		goto fail;
	}
	al = addr_list_new();
	for (i = 0; i < o.nrcpts; i++)
		if (addr_list_add_line(al, o.rcpts[i], strlen(o.rcpts[i]), 1, err,
		    sizeof(err)) < 0) {
			/* "line 1: " means nothing on a command line */
			memmove(err, err + (strncmp(err, "line 1: ", 8) == 0 ? 8 : 0),
			    strlen(err) + 1 - (strncmp(err, "line 1: ", 8) == 0 ? 8 : 0));
			rc = SM_DATAERR;
			goto fail;
		}
	in = xcalloc(1, sizeof(*in));
	in->fd = 0;
	if ((rc = sm_header(in, o.dot_ends, &hdrtext, &ended, err, sizeof(err))) != SM_OK
	    || (rc = sm_letter(&first, &o, al, sender, &hdrtext, err, sizeof(err))) != SM_OK
	    || (rc = sm_rcpt_check(c, al, err, sizeof(err))) != SM_OK)
		goto fail;
	memset(&src, 0, sizeof(src));
	src.in = in;
	src.first = buf_data(&first);
	src.flen = first.len;
	src.dot_ends = o.dot_ends;
	src.bol = 1;
	src.done = ended;
	rc = sm_status(ctl_submit_from(c, sm_read, &src, "standard input", o.label,
	    !o.verbose));
	goto out;
fail:
	fprintf(stderr, "%s: %s%s\n", o.label, err, rc == SM_DATAERR || rc == SM_NOUSER
	    ? " (not accepted)" : "");
out:
	addr_free(sender);
	addr_list_free(al);
	free(in);
	buf_release(&hdrtext);
	buf_release(&first);
	buf_release(&errs);
	conf_free(c);
	return rc;
}
