/*++
 * NAME
 *	conf 3
 * SUMMARY
 *	mailrelayd node configuration: load, validate, read
 * SYNOPSIS
 *	#include "relay/conf.h"
 * DESCRIPTION
 *	See conf.h for the contract and doc/mailrelayd.conf.5 for the
 *	file format.
 *
 *	Loading happens in three steps. (1) The whole file is read (at
 *	most CONF_FILE_MAX bytes) and scanned line by line the way
 *	iniparser 4.1 reads it (comments, sections, "key = value", lines
 *	continued with a trailing backslash), only to learn the line of
 *	each section and key and to find repeated keys, unknown names and
 *	lines iniparser would refuse. (2) iniparser loads the file; every
 *	value comes from it, so we never disagree with the library about
 *	quoting or comments. (3) Each value is checked and the route
 *	table is built; every problem is reported and checking goes on,
 *	so one run of check-config lists them all.
 *
 *	iniparser reports its own syntax errors through a process-wide
 *	callback; it is silenced while loading (our scan reports the
 *	same lines with a better message). Loading is therefore not
 *	thread-safe, which is fine for a configuration read by main().
 * DIAGNOSTICS
 *	"FILE:LINE: [section] key: reason", see conf.h.
 *--*/
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iniparser/iniparser.h>

#include "mailchannel/addr.h"
#include "mailchannel/route.h"
#include "niftp/ts.h"
#include "relay/chan_smtp.h"
#include "relay/channel.h"
#include "relay/conf.h"
#include "relay/peer.h"
#include "relay/pull.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/strutil.h"

#define INI_LINE_MAX	1023	/* iniparser 4.1: ASCIILINESZ 1024 with the newline */
#define CALLED_MAX	255	/* called and calling addresses */
#define CONF_MSG_MAX	1024	/* one diagnostic line */

/* What the line scan learnt about one key or section header. */
struct scan_ent {
	char	*sec;		/* lower case */
	char	*key;		/* lower case; NULL for a section header */
	int	line;
};

struct ld {
	const char *path;	/* for messages */
	char	*dir;		/* absolute directory of the file */
	struct buf *errs;
	unsigned nerrs, nwarns, nnotes;
	struct scan_ent *ents;
	size_t	nents;
	dictionary *d;
	struct conf *c;
};

static const char *const node_keys[] = { "name", "spool", "control", "calling", "log_file",
	"pid_file", "metrics_file", "metrics_interval", "user", "syslog_facility",
	"syslog_ident", NULL };
static const char *const listen_keys[] = { "mail", "accept", "trace", NULL };
static const char *const peer_keys[] = { "username", "password_file", "from", "via", NULL };
static const char *const local_keys[] = { "names", "maildir", "users", "reversed_names", NULL };
static const char *const retry_keys[] = { "first", "max", "warn", "give_up", "docket_keep", NULL };
static const char *const limits_keys[] = { "hops", "max_letter_size", "max_recipients",
	"calls_per_hop", "max_calls", "connect_timeout", "setup_timeout", "idle_timeout",
	"hop_fail_warn", "max_calls_per_addr", "max_pending", "max_pending_per_addr",
	"pending_timeout", "min_rate", "rate_window", "idle_call_timeout", "max_calls_per_peer",
	"max_partial_per_peer", "max_dockets_per_peer", "max_dockets_per_source",
	"auth_fail_delay", NULL };
static const char *const archive_keys[] = { "enabled", "dir", "keep", NULL };

/* Known sections; keys NULL means any key is allowed. */
static const struct {
	const char *name;
	const char *const *keys;
} sections[] = {
	{ "node", node_keys }, { "listen", listen_keys }, { "routes", NULL },
	{ "exec", NULL }, { "local", local_keys }, { "aliases", NULL }, { "lists", NULL },
	{ "retry", retry_keys }, { "limits", limits_keys }, { "archive", archive_keys },
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

/* The configuration table: per route channel, the channel_ops whose
 * section, keys, conf_load and conf_free read its own section. Not the
 * channel table (channel_default()): that one would link every
 * channel's runtime, libcurl with the smtp channel, into every program
 * that reads a configuration (relay/channel.h). */
static const struct channel_ops *const chconf_table[ROUTE_CH_MAX] = {
	[ROUTE_CH_NIFTP] = &chan_niftp_ops,
	[ROUTE_CH_SMTP] = &chan_smtp_conf_ops,
	[ROUTE_CH_PULL] = &chan_pull_ops,
};

/*
 * Diagnostics.
 */

/* line_of - the line of sec/key (key NULL: the section header), or 0 */
static int line_of(const struct ld *ld, const char *sec, const char *key)
{
	for (size_t i = 0; i < ld->nents; i++) {
		const struct scan_ent *e = &ld->ents[i];

		if (strcmp(e->sec, sec) != 0)
			continue;
		if (key == NULL ? e->key == NULL : (e->key != NULL && strcmp(e->key, key) == 0))
			return e->line;
	}
	/* a missing key is reported at its section's header, if any */
	if (key != NULL)
		return line_of(ld, sec, NULL);
	return 0;
}

/* vreport - one diagnostic; warn: 0 an error, 1 a warning, 2 a note
 * (enum conf_sev) */
static void vreport(struct ld *ld, int warn, int line, const char *sec, const char *key,
	const char *fmt, va_list ap)
{
	static const char *const tag[] = { "", "warning: ", "note: " };
	char msg[CONF_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (warn == CONF_NOTE)
		ld->nnotes++;
	else if (warn)
		ld->nwarns++;
	else
		ld->nerrs++;
	if (ld->errs == NULL)
		return;
	/* a full buffer drops the line; the counts stay right */
	if (sec == NULL)
		(void) buf_printf(ld->errs, "%s:%d: %s%s\n", ld->path, line, tag[warn], msg);
	else if (key == NULL)
		(void) buf_printf(ld->errs, "%s:%d: %s[%s]: %s\n", ld->path, line, tag[warn],
		    sec, msg);
	else
		(void) buf_printf(ld->errs, "%s:%d: %s[%s] %s: %s\n", ld->path, line, tag[warn],
		    sec, key, msg);
}

static void err_line(struct ld *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn_line(struct ld *ld, int line, const char *sec, const char *key,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void cerr(struct ld *ld, const char *sec, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void cwarn(struct ld *ld, const char *sec, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* err_line - a problem of a line, not of a key */
static void err_line(struct ld *ld, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, 0, line, NULL, NULL, fmt, ap);
	va_end(ap);
}

static void warn_line(struct ld *ld, int line, const char *sec, const char *key,
	const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, 1, line, sec, key, fmt, ap);
	va_end(ap);
}

/* cerr - an error in the value of sec/key (key NULL: the section) */
static void cerr(struct ld *ld, const char *sec, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, 0, line_of(ld, sec, key), sec, key, fmt, ap);
	va_end(ap);
}

static void cwarn(struct ld *ld, const char *sec, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, 1, line_of(ld, sec, key), sec, key, fmt, ap);
	va_end(ap);
}

/* strip_subject - "alias 'x': reason" -> "reason" (the key already names x) */
static const char *strip_subject(const char *msg)
{
	static const char *const subj[] = { "alias '", "list '", "route '", NULL };

	for (size_t i = 0; subj[i] != NULL; i++)
		if (strncmp(msg, subj[i], strlen(subj[i])) == 0) {
			const char *p = strstr(msg, "': ");

			return p ? p + 3 : msg;
		}
	return msg;
}

/*
 * The line scan.
 */

static char *lower_ndup(const char *s, size_t n)
{
	char *p = xstrndup(s, n);

	return addr_lower(p);
}

static int known_section(const char *sec, const char *const **keys)
{
	const struct channel_ops *ch;

	for (size_t i = 0; i < NSECTIONS; i++)
		if (strcmp(sections[i].name, sec) == 0) {
			*keys = sections[i].keys;
			return 1;
		}
	if (strncmp(sec, "peer ", 5) == 0) {
		*keys = peer_keys;
		return 1;
	}
	/* a channel's own section */
	for (int i = 0; i < ROUTE_CH_MAX; i++)
		if ((ch = chconf_table[i]) != NULL && ch->section != NULL
		    && strcmp(ch->section, sec) == 0) {
			*keys = ch->keys;
			return 1;
		}
	return 0;
}

static int in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/*
 * Unknown names. An unknown key or section is an error, never ignored:
 * a typing mistake ("spol") that only warned left the default in force
 * (a spool elsewhere, a limit not set) while the file looked right. The
 * message says what was meant: the nearest known name by edit distance,
 * the section where the key belongs, or else the names known there.
 */

/* near_max - how far a name may be from the one suggested for it */
static unsigned near_max(const char *s)
{
	size_t n = strlen(s);

	return n <= 3 ? 1 : n <= 9 ? 2 : 3;
}

/* nearest - the name of list nearest to s (within near_max(s) and less
 * than *best, which it lowers), else the first that s (4 octets or more)
 * begins ("password" for "password_file"), or NULL */
static const char *nearest(const char *s, const char *const *list, unsigned *best)
{
	const char *hit = NULL;
	unsigned d, max = near_max(s);
	size_t  n = strlen(s);

	for (size_t i = 0; list[i] != NULL; i++)
		if ((d = str_distance(s, list[i], max)) <= max && d < *best) {
			*best = d;
			hit = list[i];
		}
	for (size_t i = 0; hit == NULL && n >= 4 && list[i] != NULL; i++)
		if (strncmp(list[i], s, n) == 0)
			hit = list[i];
	return hit;
}

/* names_list - "a, b, c" of list into b */
static void names_list(struct buf *b, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		(void) buf_printf(b, "%s%s", i ? ", " : "", list[i]);
}

/* key_hint - what key, not a key of sec (whose keys are keys), may have
 * meant, into b: "did you mean 'spool'?", "'users' is a key of [local]",
 * or the keys of sec */
static void key_hint(struct buf *b, const char *sec, const char *key, const char *const *keys)
{
	const struct channel_ops *ch;
	unsigned best = UINT_MAX;
	const char *near = nearest(key, keys, &best);
	int n = 0;

	if (near != NULL && buf_printf(b, "did you mean '%s'?", near) == 0)
		n++;
	/* the right key in the wrong section ("did you mean 'x'? 'y' is ...") */
	for (size_t i = 0; i < NSECTIONS; i++)
		if (sections[i].keys != NULL && strcmp(sections[i].name, sec) != 0
		    && in_list(key, sections[i].keys) && buf_printf(b, "%s'%s' is a key of [%s]",
		    n == 0 ? "" : near ? " " : "; ", key, sections[i].name) == 0)
			n++;
	for (int i = 0; i < ROUTE_CH_MAX; i++)
		if ((ch = chconf_table[i]) != NULL && ch->section != NULL && ch->keys != NULL
		    && strcmp(ch->section, sec) != 0 && in_list(key, ch->keys)
		    && buf_printf(b, "%s'%s' is a key of [%s]", n == 0 ? "" : near ? " " : "; ",
		    key, ch->section) == 0)
			n++;
	if (strncmp(sec, "peer ", 5) != 0 && in_list(key, peer_keys)
	    && buf_printf(b, "%s'%s' is a key of [peer NAME]", n == 0 ? "" : near ? " " : "; ",
	    key) == 0)
		n++;
	if (n > 0)
		return;
	(void) buf_printf(b, "the keys of [%s] are ", strncmp(sec, "peer ", 5) == 0
	    ? "peer NAME" : sec);
	names_list(b, keys);
}

/* section_hint - what sec, not a section, may have meant, into b */
static void section_hint(struct buf *b, const char *sec)
{
	const char *names[NSECTIONS + ROUTE_CH_MAX + 2], *near;
	const char *sp = strpbrk(sec, " \t");
	char    first[64];
	unsigned best = UINT_MAX;
	size_t  n = 0;

	for (size_t i = 0; i < NSECTIONS; i++)
		names[n++] = sections[i].name;
	for (int i = 0; i < ROUTE_CH_MAX; i++)
		if (chconf_table[i] != NULL && chconf_table[i]->section != NULL)
			names[n++] = chconf_table[i]->section;
	names[n] = NULL;
	/* [peer NAME], misspelt or without its NAME */
	snprintf(first, sizeof(first), "%.*s", sp ? (int) (sp - sec) : (int) strlen(sec), sec);
	if (strcmp(first, "peer") == 0 && sp == NULL) {
		(void) buf_printf(b, "a peer's section is [peer NAME]");
		return;
	}
	if (sp != NULL && str_distance(first, "peer", 1) <= 1) {
		(void) buf_printf(b, "did you mean [peer%s]?", sp);
		return;
	}
	if ((near = nearest(sec, names, &best)) != NULL) {
		(void) buf_printf(b, "did you mean [%s]?", near);
		return;
	}
	(void) buf_printf(b, "the sections are ");
	names_list(b, names);
	(void) buf_printf(b, " and [peer NAME]");
}

static void scan_add(struct ld *ld, const char *sec, const char *key, int line)
{
	ld->ents = xrealloc(ld->ents, (ld->nents + 1) * sizeof(*ld->ents));
	ld->ents[ld->nents].sec = xstrdup(sec);
	ld->ents[ld->nents].key = key ? xstrdup(key) : NULL;
	ld->ents[ld->nents].line = line;
	ld->nents++;
}

static const struct scan_ent *scan_find(const struct ld *ld, const char *sec, const char *key)
{
	for (size_t i = 0; i < ld->nents; i++) {
		const struct scan_ent *e = &ld->ents[i];

		if (strcmp(e->sec, sec) == 0 && ((key == NULL && e->key == NULL)
		    || (key != NULL && e->key != NULL && strcmp(e->key, key) == 0)))
			return e;
	}
	return NULL;
}

/* scan_logical - one logical line (continuations joined), trimmed */
static void scan_logical(struct ld *ld, char *line, int lineno, char **sec, int *sec_known,
	const char *const **sec_keys)
{
	size_t len = strlen(line);
	char *eq;

	if (len == 0 || line[0] == ';' || line[0] == '#')
		return;
	if (line[0] == '[') {
		char *name;
		const struct scan_ent *e;

		if (line[len - 1] != ']') {
			err_line(ld, lineno, "syntax error: a section header must end with ']'");
			return;
		}
		line[len - 1] = '\0';
		name = str_trim(line + 1);
		free(*sec);
		*sec = lower_ndup(name, strlen(name));
		if (**sec == '\0' || strchr(*sec, ':') != NULL) {
			err_line(ld, lineno, "syntax error: bad section name '[%s]'", *sec);
			*sec_known = 1;		/* no second message for its keys */
			*sec_keys = NULL;
			return;
		}
		*sec_known = known_section(*sec, sec_keys);
		if ((e = scan_find(ld, *sec, NULL)) != NULL) {
			warn_line(ld, lineno, *sec, NULL, "section repeated (first on line %d);"
			    " its keys are merged", e->line);
			return;
		}
		scan_add(ld, *sec, NULL, lineno);
		if (!*sec_known) {
			struct buf hint = BUF_INIT(CONF_MSG_MAX);

			section_hint(&hint, *sec);
			err_line(ld, lineno, "[%s] is not a section (%s)", *sec,
			    buf_cstr(&hint) ? buf_cstr(&hint) : "");
			buf_release(&hint);
		}
		return;
	}
	if ((eq = strchr(line, '=')) == NULL) {
		err_line(ld, lineno, "syntax error: want '[section]' or 'key = value'");
		return;
	}
	{
		char *key;
		const struct scan_ent *e;

		*eq = '\0';
		key = str_trim(line);
		key = lower_ndup(key, strlen(key));
		if (*key == '\0')
			err_line(ld, lineno, "syntax error: empty key name");
		else if (*sec == NULL)
			err_line(ld, lineno, "key '%s' outside any section", key);
		else if ((e = scan_find(ld, *sec, key)) != NULL)
			err_line(ld, lineno, "[%s] %s: duplicate key (first on line %d)", *sec,
			    key, e->line);
		else {
			scan_add(ld, *sec, key, lineno);
			if (*sec_known && *sec_keys != NULL && !in_list(key, *sec_keys)) {
				struct buf hint = BUF_INIT(CONF_MSG_MAX);

				key_hint(&hint, *sec, key, *sec_keys);
				err_line(ld, lineno, "[%s] '%s' is not a key of [%s] (%s)", *sec,
				    key, *sec, buf_cstr(&hint) ? buf_cstr(&hint) : "");
				buf_release(&hint);
			}
		}
		free(key);
	}
}

/* scan - the second pass: line numbers, duplicates, unknown names */
static void scan(struct ld *ld, const char *text, size_t len)
{
	struct buf logical = BUF_INIT(INI_LINE_MAX + 2);
	char *sec = NULL;
	int sec_known = 1, start = 0, lineno = 0;
	const char *const *sec_keys = NULL;
	size_t off = 0;

	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t) (nl - (text + off)) : len - off;
		char *line;
		size_t ll;

		lineno++;
		if (n > INI_LINE_MAX) {
			err_line(ld, lineno, "line longer than %d bytes", INI_LINE_MAX);
			buf_reset(&logical);
			off += n + 1;
			continue;
		}
		if (memchr(text + off, '\0', n) != NULL) {
			err_line(ld, lineno, "NUL byte in line");
			off += n + 1;
			continue;
		}
		line = xstrndup(text + off, n);
		off += n + 1;
		line = memmove(line, str_trim(line), strlen(str_trim(line)) + 1);
		if (logical.len == 0)
			start = lineno;
		ll = strlen(line);
		if (ll > 0 && line[ll - 1] == '\\') {
			/* iniparser joins a line ending in '\' with the next */
			if (buf_append(&logical, line, ll - 1) < 0) {
				err_line(ld, start, "continued line longer than %d bytes",
				    INI_LINE_MAX);
				buf_reset(&logical);
			}
			free(line);
			continue;
		}
		if (buf_append(&logical, line, ll) < 0 || buf_cstr(&logical) == NULL) {
			err_line(ld, start, "continued line longer than %d bytes", INI_LINE_MAX);
			buf_reset(&logical);
			free(line);
			continue;
		}
		free(line);
		line = xstrdup(buf_cstr(&logical));
		buf_reset(&logical);
		scan_logical(ld, str_trim(line), start, &sec, &sec_known, &sec_keys);
		free(line);
	}
	if (logical.len > 0) {
		char *line = xstrndup((char *) buf_data(&logical), logical.len);

		scan_logical(ld, str_trim(line), start, &sec, &sec_known, &sec_keys);
		free(line);
	}
	buf_release(&logical);
	free(sec);
}

/*
 * Values.
 */

static int ini_quiet(const char *fmt, ...)
{
	(void) fmt;
	return 0;
}

/* get - the value of sec:key from iniparser, or NULL */
static const char *get(const struct ld *ld, const char *sec, const char *key)
{
	char *full;
	const char *v;

	if (ld->d == NULL)
		return NULL;
	full = xasprintf("%s:%s", sec, key);
	v = iniparser_getstring(ld->d, full, NULL);
	free(full);
	return v;
}

/* item_next - the next comma-separated item of *pp, trimmed, in new
 * memory, or NULL at the end */
static char *item_next(const char **pp)
{
	const char *p = *pp, *e;
	char *item;

	if (p == NULL || *p == '\0')
		return NULL;
	e = strchr(p, ',');
	if (e == NULL)
		e = p + strlen(p);
	item = xstrndup(p, (size_t) (e - p));
	*pp = *e ? e + 1 : e;
	return memmove(item, str_trim(item), strlen(str_trim(item)) + 1);
}

/* make_abs - path relative to the file's directory, or NULL (error reported) */
static char *make_abs(struct ld *ld, const char *sec, const char *key, const char *v)
{
	char *p;

	if (v[0] == '\0') {
		cerr(ld, sec, key, "empty path");
		return NULL;
	}
	p = v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", ld->dir, v);
	if (strlen(p) > CONF_PATH_MAX) {
		cerr(ld, sec, key, "path longer than %d bytes", CONF_PATH_MAX);
		free(p);
		return NULL;
	}
	return p;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	for (size_t i = 0; yes[i]; i++)
		if (str_ieq(v, yes[i]))
			return *out = 1, 0;
	for (size_t i = 0; no[i]; i++)
		if (str_ieq(v, no[i]))
			return *out = 0, 0;
	return -1;
}

/* called_ok - dot-separated non-empty components of printable
 * non-space ASCII other than ',' (also used for the calling address) */
static int called_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CALLED_MAX || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..") != NULL)
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f || *p == ',')
			return 0;
	return 1;
}

/* ts_check - parse a TS address for a listener or a route; unix: paths
 * made absolute. New string, or NULL (error reported). */
static char *ts_check(struct ld *ld, const char *sec, const char *key, const char *v,
	const char *what)
{
	struct ts_addr ta;
	char why[512];
	char *s;

	if (strncmp(v, "unix:", 5) == 0 && v[5] != '\0' && v[5] != '/') {
		char *p = make_abs(ld, sec, key, v + 5);

		if (p == NULL)
			return NULL;
		s = xasprintf("unix:%s", p);
		free(p);
	} else
		s = xstrdup(v);
	if (ts_addr_parse(s, &ta, why, sizeof(why)) < 0) {
		cerr(ld, sec, key, "%s%s", what, why);
		free(s);
		return NULL;
	}
	return s;
}

static void load_node(struct ld *ld)
{
	struct conf *c = ld->c;
	const char *v;
	char why[ADDR_ERRLEN];

	v = get(ld, "node", "name");
	if (v == NULL)
		cerr(ld, "node", "name", "missing (the node's name is required)");
	else if (addr_host_check(v, strlen(v), why, sizeof(why)) < 0)
		cerr(ld, "node", "name", "%s", why);
	else
		c->name = addr_lower(xstrdup(v));

	v = get(ld, "node", "spool");
	if (v != NULL)
		c->spool = make_abs(ld, "node", "spool", v);
	else
		c->spool = xasprintf("/var/spool/niftpmail/%s", c->name ? c->name : "unnamed");

	v = get(ld, "node", "control");
	if (v != NULL)
		c->control = make_abs(ld, "node", "control", v);
	else if (c->spool != NULL)
		c->control = xasprintf("%s/control", c->spool);
	if (c->control != NULL && strlen(c->control) > 107) {
		cerr(ld, "node", v ? "control" : "spool", "control socket path '%.60s...' longer"
		    " than 107 bytes", c->control);
	}

	v = get(ld, "node", "calling");
	if (v != NULL) {
		if (!called_ok(v))
			cerr(ld, "node", "calling", "bad calling address '%.60s' (want"
			    " dot-separated components without spaces or commas)", v);
		else
			c->calling = xstrdup(v);
	} else if (c->name != NULL)
		c->calling = xstrdup(c->name);

	if ((v = get(ld, "node", "user")) != NULL) {
		if (*v == '\0' || strlen(v) > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(v) || *v == '-')
			cerr(ld, "node", "user", "bad user name '%.40s'", v);
		else
			c->user = xstrdup(v);
	}
	if ((v = get(ld, "node", "log_file")) != NULL)
		c->log_file = make_abs(ld, "node", "log_file", v);
	if ((v = get(ld, "node", "pid_file")) != NULL)
		c->pid_file = make_abs(ld, "node", "pid_file", v);
	/* syslog: used when daemonized without log_file (doc/mailrelayd.8) */
	if ((v = get(ld, "node", "syslog_facility")) == NULL)
		c->syslog_facility = xstrdup("mail");
	else if (!log_syslog_facility_ok(v))
		cerr(ld, "node", "syslog_facility", "unknown facility '%.40s' (want mail, daemon,"
		    " user or local0 to local7)", v);
	else
		c->syslog_facility = xstrdup(v);
	if ((v = get(ld, "node", "syslog_ident")) != NULL) {
		if (*v == '\0' || strlen(v) > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") != strlen(v))
			cerr(ld, "node", "syslog_ident", "bad ident '%.40s' (want 1 to 32 of"
			    " A-Z a-z 0-9 . _ / -)", v);
		else
			c->syslog_ident = xstrdup(v);
	}
}

static void load_listen(struct ld *ld)
{
	struct conf *c = ld->c;
	const char *v = get(ld, "listen", "mail"), *p = v;
	char *item;
	int dflt = PEER_ACCEPT_LOCAL;

	if ((v = get(ld, "listen", "accept")) != NULL
	    && (dflt = peer_accept_parse(v)) < 0) {
		cerr(ld, "listen", "accept", "'%.40s' is not peers, local or any", v);
		dflt = PEER_ACCEPT_LOCAL;
	}
	c->trace_access = PEER_ACCEPT_PEERS;
	if ((v = get(ld, "listen", "trace")) != NULL
	    && (c->trace_access = peer_accept_parse(v)) < 0) {
		cerr(ld, "listen", "trace", "'%.40s' is not peers, local or any", v);
		c->trace_access = PEER_ACCEPT_PEERS;
	}
	while ((item = item_next(&p)) != NULL) {
		char *a, *opt, *w;
		int acc = dflt, loc = 1, bad = 0;

		if (item[0] == '\0') {
			free(item);
			continue;
		}
		/* "ADDR [accept=WHO] [local=yes|no]" */
		if ((opt = strpbrk(item, " \t")) != NULL) {
			*opt++ = '\0';
			while (!bad && (w = strsep(&opt, " \t")) != NULL) {
				if (*w == '\0')
					continue;
				if (strncmp(w, "accept=", 7) == 0 && (acc = peer_accept_parse(w + 7)) >= 0)
					continue;
				if (strncmp(w, "local=", 6) == 0 && parse_bool(w + 6, &loc) == 0)
					continue;
				cerr(ld, "listen", "mail", "after '%.60s': '%.40s' is not accept=peers, "
				    "accept=local, accept=any, local=yes or local=no", item, w);
				bad = 1;
			}
			if (bad) {
				free(item);
				continue;
			}
		}
		if (strncmp(item, "exec:", 5) == 0 || strcmp(item, "stdio") == 0) {
			cerr(ld, "listen", "mail", "cannot listen on '%.60s' (use tcp:, rawtcp:"
			    " or unix:; stdio is mailrelayd --stdio)", item);
			free(item);
			continue;
		}
		if ((a = ts_check(ld, "listen", "mail", item, "")) != NULL) {
			if (c->nlisten >= CONF_MAX_LISTEN) {
				cerr(ld, "listen", "mail", "more than %d addresses", CONF_MAX_LISTEN);
				free(a);
				free(item);
				break;
			}
			c->listen = xrealloc(c->listen, (c->nlisten + 1) * sizeof(*c->listen));
			c->listen_accept = xrealloc(c->listen_accept,
			    (c->nlisten + 1) * sizeof(*c->listen_accept));
			c->listen_accept[c->nlisten] = acc;
			c->listen_local = xrealloc(c->listen_local,
			    (c->nlisten + 1) * sizeof(*c->listen_local));
			c->listen_local[c->nlisten] = loc;
			c->listen[c->nlisten++] = a;
		}
		free(item);
	}
}

/* place_list - a comma-separated list of places into *out (new memory);
 * with_calling: "PLACE CALLING" items (via) */
static void place_list(struct ld *ld, const char *sec, const char *key, const char *v,
	struct conf_peer *pe, int with_calling)
{
	const char *p = v;
	char *item, why[200];

	while ((item = item_next(&p)) != NULL) {
		struct peer_place pl;
		char *calling = NULL;

		if (item[0] == '\0') {
			free(item);
			continue;
		}
		if (with_calling) {
			char *sp = strpbrk(item, " \t");

			if (sp == NULL) {
				cerr(ld, sec, key, "'%.60s': want GATEWAY-ADDRESS CALLING (e.g. "
				    "\"127.0.0.1 ucl.gw\")", item);
				free(item);
				continue;
			}
			*sp++ = '\0';
			calling = str_trim(sp);
			if (!called_ok(calling)) {
				cerr(ld, sec, key, "bad calling address '%.60s'", calling);
				free(item);
				continue;
			}
		}
		if (peer_place_parse(item, &pl, why, sizeof(why)) < 0) {
			cerr(ld, sec, key, "%s", why);
			free(item);
			continue;
		}
		if (with_calling) {
			if (pe->nvia >= 64) {
				cerr(ld, sec, key, "more than 64 gateways");
				free(item);
				break;
			}
			pe->via = xrealloc(pe->via, (pe->nvia + 1) * sizeof(*pe->via));
			pe->via[pe->nvia].gw = pl;
			pe->via[pe->nvia++].calling = addr_lower(xstrdup(calling));
		} else {
			if (pe->nfrom >= 64) {
				cerr(ld, sec, key, "more than 64 addresses");
				free(item);
				break;
			}
			pe->from = xrealloc(pe->from, (pe->nfrom + 1) * sizeof(*pe->from));
			pe->from[pe->nfrom++] = pl;
		}
		free(item);
	}
}

static void peer_free(struct conf_peer *pe)
{
	free(pe->name);
	free(pe->username);
	if (pe->password != NULL)
		memset(pe->password, 0, pe->password_len);
	free(pe->password);
	free(pe->password_file);
	free(pe->from);
	for (size_t i = 0; i < pe->nvia; i++)
		free(pe->via[i].calling);
	free(pe->via);
}

/* load_peers - every [peer NAME] section (relay/peer.h) */
static void load_peers(struct ld *ld)
{
	struct conf *c = ld->c;
	int n = ld->d ? iniparser_getnsec(ld->d) : 0;

	for (int i = 0; i < n; i++) {
		const char *sec = iniparser_getsecname(ld->d, i), *v, *name;
		struct conf_peer pe;
		char why[ADDR_ERRLEN + 200];
		unsigned before = ld->nerrs;

		if (sec == NULL || strncmp(sec, "peer ", 5) != 0)
			continue;
		name = sec + 5;
		while (*name == ' ' || *name == '\t')
			name++;
		memset(&pe, 0, sizeof(pe));
		if (*name == '\0' || strlen(name) >= PEER_NAME_MAX
		    || addr_host_check(name, strlen(name), why, sizeof(why)) < 0) {
			cerr(ld, sec, NULL, "bad peer name '%.60s' (want a host name of at most "
			    "%d octets)", name, PEER_NAME_MAX - 1);
			continue;
		}
		if (peer_find(c, name) != NULL) {
			cerr(ld, sec, NULL, "peer '%s' defined twice", name);
			continue;
		}
		pe.name = addr_lower(xstrdup(name));
		if ((v = get(ld, sec, "username")) != NULL) {
			if (*v == '\0' || strlen(v) > 255 || strpbrk(v, " \t\r\n") != NULL)
				cerr(ld, sec, "username", "bad username (1 to 255 octets, no "
				    "spaces)");
			else
				pe.username = xstrdup(v);
		}
		if ((v = get(ld, sec, "password_file")) != NULL) {
			if ((pe.password_file = make_abs(ld, sec, "password_file", v)) != NULL
			    && (pe.password = peer_read_password(pe.password_file,
			    &pe.password_len, why, sizeof(why))) == NULL) {
				/* another user (mailctl submit, route) may not read it: only
				 * the daemon needs it (peer_ready() before it serves) */
				if (errno == EACCES && geteuid() != 0)
					cwarn(ld, sec, "password_file", "%s (only the daemon "
					    "needs to read it)", why);
				else
					cerr(ld, sec, "password_file", "%s", why);
			}
		}
		if ((pe.username == NULL) != (pe.password_file == NULL))
			cerr(ld, sec, pe.username ? "password_file" : "username", "username and "
			    "password_file go together (a peer without them is known by its "
			    "address: from or via)");
		if ((v = get(ld, sec, "from")) != NULL)
			place_list(ld, sec, "from", v, &pe, 0);
		if ((v = get(ld, sec, "via")) != NULL)
			place_list(ld, sec, "via", v, &pe, 1);
		if (pe.username == NULL && pe.nfrom == 0 && pe.nvia == 0 && ld->nerrs == before)
			cerr(ld, sec, NULL, "a peer needs username and password_file, or from "
			    "or via (an address-only peer)");
		if (pe.username != NULL) {
			for (size_t k = 0; k < c->npeers; k++)
				if (c->peers[k].username && strcmp(c->peers[k].username, pe.username) == 0) {
					cerr(ld, sec, "username", "username '%.40s' is also peer "
					    "%s's", pe.username, c->peers[k].name);
					break;
				}
		}
		if (ld->nerrs != before) {
			peer_free(&pe);
			continue;
		}
		c->peers = xrealloc(c->peers, (c->npeers + 1) * sizeof(*c->peers));
		c->peers[c->npeers++] = pe;
	}
}

/* peer_hops - a peer with credentials whose name is no route's: they
 * are never sent (it may only call us) */
static void peer_hops(struct ld *ld, const struct route_table *t)
{
	for (size_t i = 0; i < ld->c->npeers; i++) {
		const struct conf_peer *pe = &ld->c->peers[i];
		char *sec;

		if (pe->username == NULL || route_table_hop_by_name(t, pe->name) != NULL)
			continue;
		sec = xasprintf("peer %s", pe->name);
		cwarn(ld, sec, NULL, "no route is named '%s': its credentials are only checked "
		    "when it calls, never sent", pe->name);
		free(sec);
	}
	/* a pull route's letters are read by the peer of its name only */
	for (size_t i = 0; i < route_table_nhops(t); i++) {
		const struct route_hop *h = route_table_hop(t, i);

		if (h->nalts > 0 && h->alts[0].channel == ROUTE_CH_PULL
		    && peer_find(ld->c, h->name) == NULL)
			cerr(ld, "routes", h->name, "a pull route needs a [peer %s] section: only "
			    "that peer, authenticated, may collect its letters", h->name);
	}
	/* [pull] from: relays this node calls to collect its letters */
	{
		const struct pull_settings *st = ld->c->chconf[ROUTE_CH_PULL];
		const struct route_hop *h;

		for (size_t i = 0; st != NULL && i < st->nfrom; i++)
			if ((h = route_table_lookup(t, st->from[i], NULL)) == NULL || h->nalts == 0
			    || h->alts[0].channel != ROUTE_CH_NIFTP)
				cerr(ld, "pull", "from", "'%s' has no niftp route to call it at"
				    " ([routes] %s = niftp ADDRESS)", st->from[i], st->from[i]);
	}
}

/* sec_keys - the full "sec:key" names of a section (iniparser order);
 * free the array only (the strings belong to the dictionary) */
static const char **sec_keys(struct ld *ld, const char *sec, int *np)
{
	const char **keys;
	int n;

	*np = 0;
	if (ld->d == NULL || (n = iniparser_getsecnkeys(ld->d, sec)) <= 0)
		return NULL;
	keys = xcalloc((size_t) n, sizeof(*keys));
	if (iniparser_getseckeys(ld->d, sec, keys) == NULL) {
		free(keys);
		return NULL;
	}
	/* a section named "sec:" (an error of its own) shows up as a key
	 * "sec:" without a value: leave such entries out */
	for (int i = 0; i < n; i++) {
		const char *p = strchr(keys[i], ':');

		if (p != NULL && p[1] != '\0' && iniparser_getstring(ld->d, keys[i], NULL) != NULL)
			keys[(*np)++] = keys[i];
	}
	return keys;
}

/* short_key - "routes:pss" -> "pss" */
static const char *short_key(const char *full)
{
	const char *p = strchr(full, ':');

	return p ? p + 1 : full;
}

/* exec_used - names of [exec] entries used by some route */
struct exec_use {
	char	**names;
	size_t	n;
};

/* route_alt_parse - one "CHANNEL ADDR [CALLED]"; 0 or -1 (reported).
 * Strings in *alt are new memory. */
static int route_alt_parse(struct ld *ld, const char *key, const char *item, size_t idx,
	struct route_alt *alt, struct exec_use *used)
{
	char *words[4] = { NULL, NULL, NULL, NULL };
	char *copy = xstrdup(item), *p = copy;
	size_t nw = 0;
	int rc = -1;

	memset(alt, 0, sizeof(*alt));
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (nw == 4) {
			nw++;
			break;
		}
		words[nw++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (nw > 3) {
		cerr(ld, "routes", key, "alternate %zu: too many words (want CHANNEL ADDR"
		    " [CALLED])", idx);
		goto out;
	}
	if (str_ieq(words[0], "local")) {
		if (nw > 1) {
			cerr(ld, "routes", key, "alternate %zu: the local channel takes no"
			    " address", idx);
			goto out;
		}
		alt->channel = ROUTE_CH_LOCAL;
		rc = 0;
		goto out;
	}
	if (str_ieq(words[0], "smtp")) {
		char    why[ROUTE_ERRLEN];

		if (nw != 2) {
			cerr(ld, "routes", key, "alternate %zu: smtp needs one address (want"
			    " smtp tcp:ADDR:PORT)", idx);
			goto out;
		}
		alt->channel = ROUTE_CH_SMTP;
		if ((alt->addr = chan_smtp_addr_norm(words[1], why, sizeof(why))) == NULL) {
			cerr(ld, "routes", key, "alternate %zu: %s", idx, why);
			goto out;
		}
		alt->shown = xstrdup(words[1]);
		rc = 0;
		goto out;
	}
	if (str_ieq(words[0], "pull")) {
		/* kept until the peer KEY calls for it; an address, if any, is
		 * where KEY's trace service answers (mailctl trace --follow) */
		alt->channel = ROUTE_CH_PULL;
		if (nw == 1) {
			rc = 0;
			goto out;
		}
	} else if (!str_ieq(words[0], "niftp")) {
		cerr(ld, "routes", key, "unknown channel '%.40s' (want niftp, smtp, pull or"
		    " local)", words[0]);
		goto out;
	} else
		alt->channel = ROUTE_CH_NIFTP;
	if (nw < 2) {
		cerr(ld, "routes", key, "alternate %zu: niftp needs an address", idx);
		goto out;
	}
	if (strncmp(words[1], "exec:", 5) == 0) {
		char *name = addr_lower(xstrdup(words[1] + 5));
		const char *cmd = get(ld, "exec", name);

		if (cmd == NULL) {
			cerr(ld, "routes", key, "unknown exec name '%.60s' (define it in [exec])",
			    name);
			free(name);
			goto out;
		}
		used->names = xrealloc(used->names, (used->n + 1) * sizeof(*used->names));
		used->names[used->n++] = name;
		alt->addr = xasprintf("exec:%s", cmd);
		alt->shown = xstrdup(words[1]);
		/* a bad command was reported under [exec] */
	} else if (strcmp(words[1], "stdio") == 0) {
		cerr(ld, "routes", key, "alternate %zu: stdio cannot be a route", idx);
		goto out;
	} else {
		if ((alt->addr = ts_check(ld, "routes", key, words[1], "")) == NULL)
			goto out;
		alt->shown = xstrdup(alt->addr);
	}
	if (nw == 3) {
		if (!called_ok(words[2])) {
			cerr(ld, "routes", key, "alternate %zu: bad called address '%.60s'", idx,
			    words[2]);
			goto out;
		}
		alt->called = xstrdup(words[2]);
	}
	rc = 0;
out:
	if (rc < 0) {
		free((char *) alt->addr);
		free((char *) alt->shown);
		free((char *) alt->called);
		memset(alt, 0, sizeof(*alt));
	}
	free(copy);
	return rc;
}

static void load_exec(struct ld *ld)
{
	const char **keys;
	int n;

	keys = sec_keys(ld, "exec", &n);
	for (int i = 0; i < n; i++) {
		const char *k = short_key(keys[i]), *v = iniparser_getstring(ld->d, keys[i], "");
		struct ts_addr ta;
		char *s, why[512];

		if (v[0] == '\0') {
			cerr(ld, "exec", k, "empty command line");
			continue;
		}
		s = xasprintf("exec:%s", v);
		if (ts_addr_parse(s, &ta, why, sizeof(why)) < 0)
			cerr(ld, "exec", k, "%s", why);
		free(s);
	}
	free(keys);
}

static void load_routes(struct ld *ld, struct route_table *t)
{
	const char **keys;
	struct exec_use used = { NULL, 0 };
	int n;

	keys = sec_keys(ld, "routes", &n);
	for (int i = 0; i < n; i++) {
		const char *k = short_key(keys[i]), *v = iniparser_getstring(ld->d, keys[i], "");
		const char *p = v;
		struct route_alt alts[ROUTE_MAX_ALTS];
		size_t na = 0, idx = 0;
		int bad = 0;
		char *item, why[ROUTE_ERRLEN];

		while ((item = item_next(&p)) != NULL) {
			idx++;
			if (item[0] == '\0') {
				free(item);
				continue;
			}
			if (na == ROUTE_MAX_ALTS) {
				cerr(ld, "routes", k, "more than %d alternates", ROUTE_MAX_ALTS);
				bad = 1;
				free(item);
				break;
			}
			if (route_alt_parse(ld, k, item, idx, &alts[na], &used) < 0)
				bad = 1;
			else
				na++;
			free(item);
		}
		if (na == 0 && !bad)
			cerr(ld, "routes", k, "no alternates (want CHANNEL ADDR [CALLED], ...)");
		else if (!bad && route_table_add_route(t, k, alts, na, why, sizeof(why)) < 0)
			cerr(ld, "routes", k, "%s", strip_subject(why));
		for (size_t j = 0; j < na; j++) {
			free((char *) alts[j].addr);
			free((char *) alts[j].shown);
			free((char *) alts[j].called);
		}
	}
	free(keys);

	/* [exec] names no route uses are probably typing mistakes */
	keys = sec_keys(ld, "exec", &n);
	for (int i = 0; i < n; i++) {
		const char *k = short_key(keys[i]);
		int hit = 0;

		for (size_t j = 0; j < used.n && !hit; j++)
			hit = strcmp(used.names[j], k) == 0;
		if (!hit)
			cwarn(ld, "exec", k, "not used by any route");
	}
	free(keys);
	for (size_t j = 0; j < used.n; j++)
		free(used.names[j]);
	free(used.names);
}

static void load_local(struct ld *ld, struct route_table *t)
{
	struct conf *c = ld->c;
	const char *v, *p;
	char *item, why[ROUTE_ERRLEN];

	p = get(ld, "local", "names");
	while ((item = item_next(&p)) != NULL) {
		if (item[0] != '\0' && route_table_add_name(t, item, why, sizeof(why)) < 0)
			cerr(ld, "local", "names", "%s", why);
		free(item);
	}
	p = get(ld, "local", "users");
	while ((item = item_next(&p)) != NULL) {
		if (item[0] != '\0' && route_table_add_user(t, item, why, sizeof(why)) < 0)
			cerr(ld, "local", "users", "%s", why);
		free(item);
	}
	if ((v = get(ld, "local", "reversed_names")) != NULL) {
		if (parse_bool(v, &c->reversed_names) < 0)
			cerr(ld, "local", "reversed_names", "'%.40s' is not yes or no", v);
		route_table_set_reversed(t, c->reversed_names);
	}
	v = get(ld, "local", "maildir");
	if (v != NULL) {
		int has_u = 0, bad = 0;

		for (const char *q = v; *q && !bad; q++) {
			if (*q != '%')
				continue;
			if (q[1] == 'u')
				has_u = 1;
			else if (q[1] != '%') {
				cerr(ld, "local", "maildir", "bad escape '%%%c' (want %%u or %%%%)",
				    q[1] ? q[1] : ' ');
				bad = 1;
			}
			q++;
			if (*q == '\0')
				break;
		}
		if (!bad) {
			c->maildir = make_abs(ld, "local", "maildir", v);
			if (!has_u)
				cwarn(ld, "local", "maildir", "no %%u: every user shares one"
				    " mail directory");
		}
	} else if (c->spool != NULL)
		c->maildir = xasprintf("%s/mail/%%u/", c->spool);
}

static void load_aliases(struct ld *ld, struct route_table *t)
{
	const char **keys;
	int n;
	char why[ROUTE_ERRLEN];

	keys = sec_keys(ld, "aliases", &n);
	for (int i = 0; i < n; i++) {
		const char *k = short_key(keys[i]), *v = iniparser_getstring(ld->d, keys[i], "");

		if (route_table_add_alias(t, k, v, why, sizeof(why)) < 0)
			cerr(ld, "aliases", k, "%s", strip_subject(why));
	}
	free(keys);

	keys = sec_keys(ld, "lists", &n);
	for (int i = 0; i < n; i++) {
		const char *k = short_key(keys[i]), *v = iniparser_getstring(ld->d, keys[i], "");
		size_t kl = strlen(k);
		char *okey;

		if (kl > 6 && strcmp(k + kl - 6, ".owner") == 0) {
			char *list = xstrndup(k, kl - 6);

			if (get(ld, "lists", list) == NULL)
				cerr(ld, "lists", k, "owner of an unknown list '%.60s'", list);
			free(list);
			continue;
		}
		okey = xasprintf("%s.owner", k);
		if (route_table_add_list(t, k, v, get(ld, "lists", okey), why, sizeof(why)) < 0)
			cerr(ld, "lists", k, "%s", strip_subject(why));
		else if (get(ld, "lists", okey) == NULL)
			cwarn(ld, "lists", k, "no owner: errors go only to the sender");
		free(okey);
	}
	free(keys);
}

/* alias_check - a loop or an unroutable target in an alias or list is
 * found now, with the alias's line, rather than by the first letter */
static void alias_check(struct ld *ld, const struct route_table *t, const char *sec)
{
	const char **keys;
	int n;

	keys = sec_keys(ld, sec, &n);
	for (int i = 0; i < n; i++) {
		const char *k = short_key(keys[i]);
		struct addr *a;
		struct route_result *r;
		size_t kl = strlen(k);

		if (kl > 6 && strcmp(k + kl - 6, ".owner") == 0)
			continue;
		if ((a = addr_new(k, route_table_node(t), NULL, 0)) == NULL)
			continue;
		r = route_resolve(t, a, 0);
		for (size_t j = 0; j < route_result_count(r); j++) {
			const struct route_target *tg = route_result_get(r, j);

			if (tg->kind == ROUTE_FAIL) {
				cwarn(ld, sec, k, "%s: %s", tg->text, tg->reason);
				break;
			}
		}
		route_result_free(r);
		addr_free(a);
	}
	free(keys);
}

/* own_name_routes - a route for one of our own names is never used:
 * routing checks "this node" first */
static void own_name_routes(struct ld *ld, const struct route_table *t)
{
	const char **keys;
	int n;

	keys = sec_keys(ld, "routes", &n);
	for (int i = 0; i < n; i++) {
		const char *k = short_key(keys[i]);

		if (k[0] != '*' && route_table_is_local(t, k))
			cwarn(ld, "routes", k, "names this node: the route is never used");
	}
	free(keys);
}

/* dur - a duration key; 0 when absent (*out unchanged), -1 reported */
static int dur(struct ld *ld, const char *sec, const char *key, int64_t min, int64_t max,
	int64_t *out)
{
	const char *v = get(ld, sec, key);
	int64_t ms;

	if (v == NULL)
		return 0;
	if (str_to_duration_ms(v, &ms) < 0) {
		cerr(ld, sec, key, "bad duration '%.40s' (want e.g. 30s, 10m, 4h, 5d)", v);
		return -1;
	}
	if (ms < min || ms > max) {
		cerr(ld, sec, key, "duration '%.40s' out of range", v);
		return -1;
	}
	*out = ms;
	return 1;
}

/* num - a number key in [min,max] (sizes with k/M/G when size) */
static void num(struct ld *ld, const char *sec, const char *key, uint64_t min, uint64_t max,
	int size, uint64_t *out)
{
	const char *v = get(ld, sec, key);
	uint64_t x;

	if (v == NULL)
		return;
	if ((size ? str_to_size(v, &x) : str_to_u64(v, 0, UINT64_MAX, &x)) < 0) {
		cerr(ld, sec, key, "'%.40s' is not a %s", v, size ? "size (e.g. 64M)" : "number");
		return;
	}
	if (x < min || x > max) {
		cerr(ld, sec, key, "%llu out of range %llu..%llu", (unsigned long long) x,
		    (unsigned long long) min, (unsigned long long) max);
		return;
	}
	*out = x;
}

#define SEC_MS	1000LL
#define DAY_MS	(86400LL * SEC_MS)

/*
 * load_call_limits - the budgets of incoming calls (relay/relayd_recv.c):
 * connections before their CONNECT, calls per source address, the
 * set-up and between-transfers timeouts, the minimum transfer rate.
 */
static void load_call_limits(struct ld *ld)
{
	struct conf *c = ld->c;
	uint64_t x;
	int64_t ms;

	x = 8;
	num(ld, "limits", "max_calls_per_addr", 0, 10000, 0, &x);
	c->max_calls_per_addr = (unsigned) x;
	x = 32;
	num(ld, "limits", "max_pending", 1, 10000, 0, &x);
	c->max_pending = (unsigned) x;
	x = 8;
	num(ld, "limits", "max_pending_per_addr", 0, 10000, 0, &x);
	c->max_pending_per_addr = (unsigned) x;
	/* a default above a small max_calls is no mistake of the file's */
	if (c->max_calls_per_addr > c->max_calls && get(ld, "limits", "max_calls_per_addr"))
		cwarn(ld, "limits", "max_calls_per_addr", "%u is more than max_calls (%u): "
		    "only max_calls applies", c->max_calls_per_addr, c->max_calls);
	if (c->max_pending_per_addr > c->max_pending && get(ld, "limits", "max_pending_per_addr"))
		cwarn(ld, "limits", "max_pending_per_addr", "%u is more than max_pending (%u): "
		    "only max_pending applies", c->max_pending_per_addr, c->max_pending);
	/* at most the transport's own set-up limit of an incoming call */
	ms = 10 * SEC_MS;
	(void) dur(ld, "limits", "pending_timeout", 100, 30 * SEC_MS, &ms);
	c->pending_timeout_ms = (int) ms;
	x = 16;
	num(ld, "limits", "max_calls_per_peer", 0, 10000, 0, &x);
	c->max_calls_per_peer = (unsigned) x;
	x = UINT64_MAX;		/* 256M or 4 x max_letter_size (relayd_recv.c) */
	num(ld, "limits", "max_partial_per_peer", 0, 1ULL << 44, 1, &x);
	c->max_partial_per_peer = x;
	x = 0;
	num(ld, "limits", "max_dockets_per_peer", 0, 100000000, 0, &x);
	c->max_dockets_per_peer = (unsigned) x;
	x = 1000;
	num(ld, "limits", "max_dockets_per_source", 0, 100000000, 0, &x);
	c->max_dockets_per_source = (unsigned) x;
	ms = 3 * SEC_MS;
	(void) dur(ld, "limits", "auth_fail_delay", 0, 60 * SEC_MS, &ms);
	c->auth_fail_delay_ms = (int) ms;
	x = 1024;
	num(ld, "limits", "min_rate", 0, 1ULL << 30, 1, &x);
	c->min_rate = x;
	ms = 30 * SEC_MS;
	(void) dur(ld, "limits", "rate_window", SEC_MS, 3600 * SEC_MS, &ms);
	c->rate_window_ms = (int) ms;
	ms = 120 * SEC_MS;
	(void) dur(ld, "limits", "idle_call_timeout", 0, DAY_MS, &ms);
	c->idle_call_timeout_ms = (int) ms;
}

static void load_retry_limits(struct ld *ld)
{
	struct conf *c = ld->c;
	int64_t keep = -1, ms;
	uint64_t x;
	int kmax, kfirst;

	c->retry_first_ms = 60 * SEC_MS;
	c->retry_max_ms = 3600 * SEC_MS;
	c->warn_ms = 4 * 3600 * SEC_MS;
	c->give_up_ms = 5 * DAY_MS;
	kfirst = dur(ld, "retry", "first", 1, 365 * DAY_MS, &c->retry_first_ms);
	kmax = dur(ld, "retry", "max", 1, 365 * DAY_MS, &c->retry_max_ms);
	(void) dur(ld, "retry", "warn", 1, 3650 * DAY_MS, &c->warn_ms);
	(void) dur(ld, "retry", "give_up", 1, 3650 * DAY_MS, &c->give_up_ms);
	(void) dur(ld, "retry", "docket_keep", 1, 3650 * DAY_MS, &keep);
	if (kfirst >= 0 && kmax >= 0 && c->retry_first_ms > c->retry_max_ms)
		cerr(ld, "retry", kmax > 0 ? "max" : "first", "first (%lld s) is longer than"
		    " max (%lld s)", (long long) (c->retry_first_ms / SEC_MS),
		    (long long) (c->retry_max_ms / SEC_MS));
	if (c->warn_ms >= c->give_up_ms)
		cwarn(ld, "retry", "warn", "not shorter than give_up: no \"still trying\""
		    " notice will be sent");
	c->docket_keep_ms = keep >= 0 ? keep : c->give_up_ms + DAY_MS;
	if (keep >= 0 && keep < c->give_up_ms)
		cwarn(ld, "retry", "docket_keep", "shorter than give_up: a donor's late"
		    " resumption may find no docket and send the letter twice");

	x = ROUTE_DEFAULT_HOPS;
	num(ld, "limits", "hops", 1, 1000, 0, &x);
	c->max_hops = (unsigned) x;
	x = 64ULL << 20;
	num(ld, "limits", "max_letter_size", 1024, 1ULL << 40, 1, &x);
	c->max_letter_size = x;
	x = ADDR_LIST_MAX;
	num(ld, "limits", "max_recipients", 1, ADDR_LIST_MAX, 0, &x);
	c->max_recipients = (unsigned) x;
	x = 4;
	num(ld, "limits", "calls_per_hop", 1, 64, 0, &x);
	c->calls_per_hop = (unsigned) x;
	x = 64;
	num(ld, "limits", "max_calls", 1, 10000, 0, &x);
	c->max_calls = (unsigned) x;

	ms = 10 * SEC_MS;
	(void) dur(ld, "limits", "connect_timeout", 1, INT_MAX, &ms);
	c->connect_timeout_ms = (int) ms;
	ms = 30 * SEC_MS;
	(void) dur(ld, "limits", "setup_timeout", 1, INT_MAX, &ms);
	c->setup_timeout_ms = (int) ms;
	ms = 660 * SEC_MS;
	(void) dur(ld, "limits", "idle_timeout", 0, INT_MAX, &ms);
	c->idle_timeout_ms = (int) ms;
	c->hop_fail_warn_ms = 3600 * SEC_MS;
	(void) dur(ld, "limits", "hop_fail_warn", 0, 3650 * DAY_MS, &c->hop_fail_warn_ms);
	load_call_limits(ld);
}

/* load_monitor - [node] metrics_file, metrics_interval; [archive] */
static void load_monitor(struct ld *ld)
{
	struct conf *c = ld->c;
	const char *v;

	if ((v = get(ld, "node", "metrics_file")) != NULL) {
		if (v[0] != '\0' && !str_ieq(v, "none"))
			c->metrics_file = make_abs(ld, "node", "metrics_file", v);
	} else if (c->spool != NULL)
		c->metrics_file = xasprintf("%s/metrics", c->spool);
	c->metrics_interval_ms = 5 * SEC_MS;
	(void) dur(ld, "node", "metrics_interval", SEC_MS, DAY_MS, &c->metrics_interval_ms);

	if ((v = get(ld, "archive", "enabled")) != NULL && parse_bool(v, &c->archive_enabled) < 0)
		cerr(ld, "archive", "enabled", "'%.40s' is not yes or no", v);
	if ((v = get(ld, "archive", "dir")) != NULL)
		c->archive_dir = make_abs(ld, "archive", "dir", v);
	else if (c->spool != NULL)
		c->archive_dir = xasprintf("%s/archive", c->spool);
	c->archive_keep_ms = 7 * DAY_MS;
	(void) dur(ld, "archive", "keep", SEC_MS, 36500 * DAY_MS, &c->archive_keep_ms);
}

/* file_dir - absolute directory of path (new memory), or NULL */
static char *file_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t) (slash - path));
	abs = realpath(dir, NULL);
	free(dir);
	if (abs == NULL)
		return NULL;
	dir = xstrdup(abs);	/* keep to our allocator */
	free(abs);
	return dir;
}

/*
 * Channel sections (relay/channel.h): read by the channels through these.
 */

struct conf_sect {
	struct ld *ld;
	const char *name;
};

const char *conf_sect_name(const struct conf_sect *s)
{
	return s->name;
}

const struct conf *conf_sect_conf(const struct conf_sect *s)
{
	return s->ld->c;
}

const char *conf_sect_str(struct conf_sect *s, const char *key)
{
	return get(s->ld, s->name, key);
}

int conf_sect_dur(struct conf_sect *s, const char *key, int64_t min, int64_t max,
	int64_t *out)
{
	return dur(s->ld, s->name, key, min, max, out);
}

int conf_sect_num(struct conf_sect *s, const char *key, uint64_t min, uint64_t max,
	uint64_t *out)
{
	unsigned before = s->ld->nerrs;
	uint64_t x = UINT64_MAX;

	if (get(s->ld, s->name, key) == NULL)
		return 0;
	num(s->ld, s->name, key, min, max, 0, &x);
	if (s->ld->nerrs != before)
		return -1;
	*out = x;
	return 1;
}

int conf_sect_bool(struct conf_sect *s, const char *key, int *out)
{
	const char *v = get(s->ld, s->name, key);

	if (v == NULL)
		return 0;
	if (parse_bool(v, out) < 0) {
		cerr(s->ld, s->name, key, "'%.40s' is not yes or no", v);
		return -1;
	}
	return 1;
}

void conf_sect_err(struct conf_sect *s, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(s->ld, 0, line_of(s->ld, s->name, key), s->name, key, fmt, ap);
	va_end(ap);
}

/* load_channels - each channel's settings from its own section */
static void load_channels(struct ld *ld)
{
	struct conf_sect s;

	for (int i = 0; i < ROUTE_CH_MAX; i++) {
		const struct channel_ops *ch = chconf_table[i];

		if (ch == NULL || ch->conf_load == NULL)
			continue;
		s.ld = ld;
		s.name = ch->section;
		ld->c->chconf[i] = ch->conf_load(&s);
	}
}

/* The diagnostics of a conf_check_with() in progress. */
struct conf_rep {
	struct ld *ld;
};

/* conf_rep - a probe's finding, at the line of sec/key */
void conf_rep(struct conf_rep *r, enum conf_sev sev, const char *sec, const char *key,
	const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(r->ld, (int) sev, sec ? line_of(r->ld, sec, key) : 0, sec, key, fmt, ap);
	va_end(ap);
}

/* load - conf_load(), and then, when the file has no errors, probe(c,
 * ..., arg) (when not NULL) with the line numbers still at hand; *nnotes
 * (may be NULL) gets the count of notes */
static struct conf *load(const char *path, struct buf *errs, unsigned *nerrs, unsigned *nwarns,
	unsigned *nnotes, conf_probe_fn *probe, void *arg)
{
	struct ld ld;
	struct conf *c = xcalloc(1, sizeof(*c));
	struct route_table *t = NULL;
	char *text = NULL, why[DURABLE_ERRLEN];
	size_t len;

	memset(&ld, 0, sizeof(ld));
	ld.path = path;
	ld.errs = errs;
	ld.c = c;
	c->path = xstrdup(path);

	text = durable_read_file(path, CONF_FILE_MAX, &len, why, sizeof(why));
	if (text == NULL) {
		err_line(&ld, 0, "cannot read the file: %s", why);
		goto out;
	}
	if ((ld.dir = file_dir(path)) == NULL) {
		err_line(&ld, 0, "cannot find the file's directory: %s", strerror(errno));
		goto out;
	}
	scan(&ld, text, len);

	iniparser_set_error_callback(ini_quiet);
	ld.d = iniparser_load(path);
	iniparser_set_error_callback(NULL);
	if (ld.d == NULL) {
		if (ld.nerrs == 0)
			err_line(&ld, 0, "iniparser could not read the file");
		goto out;
	}

	load_node(&ld);
	t = route_table_new(c->name ? c->name : "unnamed", why, sizeof(why));
	if (t == NULL)			/* cannot happen: the name was checked */
		goto out;
	load_exec(&ld);
	load_routes(&ld, t);
	load_listen(&ld);
	load_peers(&ld);
	load_local(&ld, t);
	load_aliases(&ld, t);
	load_retry_limits(&ld);
	load_monitor(&ld);
	load_channels(&ld);
	route_table_set_max_hops(t, c->max_hops);
	own_name_routes(&ld, t);
	peer_hops(&ld, t);
	if (ld.nerrs == 0) {
		alias_check(&ld, t, "aliases");
		alias_check(&ld, t, "lists");
	}
	c->routes = t;
	t = NULL;
	if (probe != NULL && ld.nerrs == 0) {
		struct conf_rep r = { &ld };

		probe(c, &r, arg);
	}
out:
	route_table_free(t);
	if (ld.d != NULL)
		iniparser_freedict(ld.d);
	for (size_t i = 0; i < ld.nents; i++) {
		free(ld.ents[i].sec);
		free(ld.ents[i].key);
	}
	free(ld.ents);
	free(ld.dir);
	free(text);
	if (nerrs != NULL)
		*nerrs = ld.nerrs;
	if (nwarns != NULL)
		*nwarns = ld.nwarns;
	if (nnotes != NULL)
		*nnotes = ld.nnotes;
	if (ld.nerrs > 0 || c->routes == NULL) {
		conf_free(c);
		return NULL;
	}
	return c;
}

struct conf *conf_load(const char *path, struct buf *errs, unsigned *nerrs, unsigned *nwarns)
{
	return load(path, errs, nerrs, nwarns, NULL, NULL, NULL);
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->name);
	free(c->spool);
	free(c->control);
	free(c->calling);
	free(c->log_file);
	free(c->syslog_facility);
	free(c->syslog_ident);
	free(c->pid_file);
	free(c->metrics_file);
	free(c->archive_dir);
	for (size_t i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	free(c->listen);
	free(c->listen_accept);
	free(c->listen_local);
	for (size_t i = 0; i < c->npeers; i++)
		peer_free(&c->peers[i]);
	free(c->peers);
	free(c->user);
	free(c->maildir);
	route_table_free(c->routes);
	for (int i = 0; i < ROUTE_CH_MAX; i++) {
		const struct channel_ops *ch = chconf_table[i];

		if (c->chconf[i] != NULL && ch != NULL && ch->conf_free != NULL)
			ch->conf_free(c->chconf[i]);
	}
	free(c);
}

/* conf_check_with - every diagnostic of the file and of probe, and a summary */
int conf_check_with(const char *path, FILE *fp, conf_probe_fn *probe, void *arg)
{
	struct buf errs = BUF_INIT(CONF_ERRS_MAX);
	unsigned ne = 0, nw = 0, nn = 0;
	struct conf *c = load(path, &errs, &ne, &nw, &nn, probe, arg);

	if (errs.len > 0)
		fwrite(buf_data(&errs), 1, errs.len, fp);
	if (ne == 0 && nw == 0)
		fprintf(fp, "%s: ok", path);
	else
		fprintf(fp, "%s: %u error%s, %u warning%s", path, ne, ne == 1 ? "" : "s",
		    nw, nw == 1 ? "" : "s");
	if (nn > 0)
		fprintf(fp, "%s%u note%s%s", ne == 0 && nw == 0 ? " (" : ", ", nn,
		    nn == 1 ? "" : "s", ne == 0 && nw == 0 ? ")" : "");
	fputc('\n', fp);
	buf_release(&errs);
	conf_free(c);
	return c != NULL ? 0 : 1;
}

int conf_check(const char *path, FILE *fp)
{
	return conf_check_with(path, fp, NULL, NULL);
}

size_t conf_maildir(const struct conf *c, const char *mailbox, char *dst, size_t len)
{
	size_t n = 0;

#define PUT(ch) do { if (n + 1 < len) dst[n] = (ch); n++; } while (0)
	for (const char *p = c->maildir; *p; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			for (const char *m = mailbox; *m; m++)
				PUT(*m);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			PUT('%');
			p++;
		} else
			PUT(*p);
	}
#undef PUT
	if (len > 0)
		dst[n < len ? n : len - 1] = '\0';
	return n;
}

int64_t conf_backoff_ms(const struct conf *c, unsigned n)
{
	int64_t d = c->retry_first_ms;

	for (unsigned i = 1; i < n && d < c->retry_max_ms; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : 2 * d;
	return d < c->retry_max_ms ? d : c->retry_max_ms;
}
