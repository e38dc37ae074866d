/*++
 * NAME
 *	vcgw_conf 3
 * SUMMARY
 *	virtual call gateway: configuration and address mapping
 * SYNOPSIS
 *	#include "vcgw/vcgw_conf.h"
 * DESCRIPTION
 *	The file is read twice: once by a line scanner that knows only
 *	what iniparser accepts (sections, key = value, comments, backslash
 *	continuations) and records the line of every key, and once by
 *	iniparser, which provides every value. The scanner reports syntax
 *	errors, repeated keys, unknown sections and keys with their lines;
 *	the value checks then look the line up by section and key.
 *
 *	Sections: [gateway] (name, max_calls, call_memory, connect_timeout,
 *	setup_timeout, idle_timeout, shutdown_grace, pid_file, log_file,
 *	syslog_facility, syslog_ident, splice),
 *	[listen] (NAME = ADDR[, ADDR...]), [map] (PREFIX = ADDR [CALLED])
 *	and [exec] (NAME = COMMAND, for exec:NAME addresses in [map]).
 * DIAGNOSTICS
 *	"FILE:LINE: message" lines in the caller's buffer.
 *--*/
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <iniparser/iniparser.h>

#include "niftp/ts.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/strutil.h"
#include "vcgw/vcgw_conf.h"

#define SEC_MAX		64
#define KEY_MAX		256
#define MAX_ENTRIES	4096
#define MAX_LISTEN	64

/* A key seen by the line scanner. */
struct ent {
	char	sec[SEC_MAX];
	char	key[KEY_MAX];
	int	line;
};

struct scan {
	const char *path;
	struct buf *errs;
	int	nerr;
	struct ent *ent;
	int	nent;
};

static const char *const gw_keys[] = {
	"name", "max_calls", "call_memory", "connect_timeout", "setup_timeout",
	"idle_timeout", "shutdown_grace", "pid_file", "log_file", "syslog_facility",
	"syslog_ident", "splice", NULL
};
static const char *const sections[] = { "gateway", "listen", "map", "exec", NULL };

/* conf_err - record one error with its line */
static void conf_err(struct scan *s, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void conf_err(struct scan *s, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->nerr++;
	if (s->errs != NULL)
		(void)buf_printf(s->errs, "%s:%d: %s\n", s->path, line, msg);
}

/* trim_copy - copy at most size-1 bytes of p..p+n, trimmed, lowered if asked */
static void trim_copy(char *dst, size_t size, const char *p, size_t n, int lower)
{
	size_t i, k = 0;

	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	for (i = 0; i < n && k + 1 < size; i++)
		dst[k++] = lower ? (char)tolower((unsigned char)p[i]) : p[i];
	dst[k] = '\0';
}

/* in_list - s is one of a NULL-terminated list */
static int in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* find_ent - the scanner's entry for sec/key, or NULL */
static const struct ent *find_ent(const struct scan *s, const char *sec, const char *key)
{
	int i;

	for (i = 0; i < s->nent; i++)
		if (strcmp(s->ent[i].sec, sec) == 0 && strcmp(s->ent[i].key, key) == 0)
			return &s->ent[i];
	return NULL;
}

/* line_of - the line of sec/key (0 when unknown) */
static int line_of(const struct scan *s, const char *sec, const char *key)
{
	const struct ent *e = find_ent(s, sec, key);

	return e ? e->line : 0;
}

/* scan_line - one logical line (continuations joined) starting at line no */
static void scan_line(struct scan *s, char *sec, const char *p, size_t n, int no)
{
	const char *eq, *end;
	char key[KEY_MAX];
	const struct ent *old;

	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0 || *p == ';' || *p == '#')
		return;
	if (*p == '[') {
		end = memchr(p, ']', n);
		if (end == NULL) {
			conf_err(s, no, "syntax error: section header without ']'");
			return;
		}
		trim_copy(sec, SEC_MAX, p + 1, (size_t)(end - p - 1), 1);
		if (!in_list(sec, sections))
			conf_err(s, no, "unknown section [%s] (known: gateway, listen, map, "
				"exec)", sec);
		return;
	}
	eq = memchr(p, '=', n);
	if (eq == NULL) {
		conf_err(s, no, "syntax error: expected [section] or KEY = VALUE");
		return;
	}
	trim_copy(key, sizeof(key), p, (size_t)(eq - p), 1);
	if (key[0] == '\0') {
		conf_err(s, no, "syntax error: empty key");
		return;
	}
	if (sec[0] == '\0') {
		conf_err(s, no, "key '%s' outside any section", key);
		return;
	}
	if (!in_list(sec, sections))
		return;		/* reported with the section */
	if (strcmp(sec, "gateway") == 0 && !in_list(key, gw_keys))
		conf_err(s, no, "unknown key '%s' in [gateway]", key);
	if ((old = find_ent(s, sec, key)) != NULL) {
		conf_err(s, no, "key '%s' repeated in [%s] (first on line %d)", key, sec,
			old->line);
		return;
	}
	if (s->nent >= MAX_ENTRIES) {
		conf_err(s, no, "more than %d keys", MAX_ENTRIES);
		return;
	}
	str_copy(s->ent[s->nent].sec, sec, SEC_MAX);
	str_copy(s->ent[s->nent].key, key, KEY_MAX);
	s->ent[s->nent].line = no;
	s->nent++;
}

/* scan_file - the line pass over the file's text */
static void scan_file(struct scan *s, const char *text, size_t len)
{
	char sec[SEC_MAX] = "";
	struct buf logical = BUF_INIT(VCGW_CONFMAX);
	const char *p = text, *nl, *end = text + len;
	size_t n, t;
	int no = 0, start = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		no++;
		if (logical.len == 0)
			start = no;
		t = n;
		while (t > 0 && isspace((unsigned char)p[t - 1]))
			t--;
		if (t > 0 && p[t - 1] == '\\') {
			/* iniparser joins a continued line with the next one */
			(void)buf_append(&logical, p, t - 1);
		} else {
			(void)buf_append(&logical, p, n);
			scan_line(s, sec, (const char *)buf_data(&logical), logical.len, start);
			buf_reset(&logical);
		}
		p = nl ? nl + 1 : end;
	}
	if (logical.len > 0)
		scan_line(s, sec, (const char *)buf_data(&logical), logical.len, start);
	buf_release(&logical);
}

/* ini_quiet - iniparser's own messages: the scanner reports with lines */
static int ini_quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

/* get - a value of sec:key, or NULL */
static const char *get(dictionary *d, const char *sec, const char *key)
{
	char full[4096];

	snprintf(full, sizeof(full), "%s:%s", sec, key);
	return iniparser_getstring(d, full, NULL);
}

/* name_ok - a gateway name: one component of [A-Za-z0-9_-] */
static int name_ok(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return n > 0 && n < VCGW_NAMEMAX;
}

/* vcgw_prefix_ok - a valid called prefix or "*" */
int vcgw_prefix_ok(const char *s)
{
	int comp = 0;
	size_t n = 0;

	if (strcmp(s, "*") == 0)
		return 1;
	for (; *s; s++, n++) {
		if (*s == '.') {
			if (comp == 0)
				return 0;
			comp = 0;
		} else if (*s <= ' ' || *s > '~' || *s == '*') {
			return 0;
		} else {
			comp++;
		}
	}
	return comp > 0 && n < VCGW_ADDRMAX;
}

/* conf_duration - a duration key within [min,max] ms; keeps *out if absent */
static void conf_duration(struct scan *s, dictionary *d, const char *key,
	int64_t min, int64_t max, int *out)
{
	const char *v = get(d, "gateway", key);
	int64_t ms;

	if (v == NULL)
		return;
	if (str_to_duration_ms(v, &ms) < 0 || ms < min || ms > max) {
		conf_err(s, line_of(s, "gateway", key), "%s '%s': want a duration "
			"(e.g. 30s, 5m) from %lld ms to %lld ms", key, v, (long long)min,
			(long long)max);
		return;
	}
	*out = (int)ms;
}

/* conf_gateway - the [gateway] section */
static void conf_gateway(struct scan *s, dictionary *d, struct vcgw_conf *c)
{
	const char *v;
	uint64_t u;
	char host[256], *dot;

	if ((v = get(d, "gateway", "name")) != NULL) {
		if (!name_ok(v))
			conf_err(s, line_of(s, "gateway", "name"), "name '%s': want one "
				"address component of letters, digits, '-' or '_'", v);
		c->name = xstrdup(v);
	} else {
		if (gethostname(host, sizeof(host) - 1) < 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		if ((dot = strchr(host, '.')) != NULL)
			*dot = '\0';
		c->name = xstrdup(name_ok(host) ? host : "vcgw");
	}
	if ((v = get(d, "gateway", "max_calls")) != NULL) {
		if (str_to_u64(v, 1, 100000, &u) < 0)
			conf_err(s, line_of(s, "gateway", "max_calls"), "max_calls '%s': "
				"want a number from 1 to 100000", v);
		else
			c->max_calls = (int)u;
	}
	if ((v = get(d, "gateway", "call_memory")) != NULL) {
		if (str_to_size(v, &u) < 0 || u < VCGW_MIN_CALLMEM || u > (1u << 30))
			conf_err(s, line_of(s, "gateway", "call_memory"), "call_memory '%s': "
				"want a size from %uk to 1G", v, VCGW_MIN_CALLMEM / 1024);
		else
			c->call_memory = (size_t)u;
	}
	if ((v = get(d, "gateway", "splice")) != NULL) {
		if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0
		    || strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0)
			c->splice = 1;
		else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0
		    || strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0)
			c->splice = 0;
		else
			conf_err(s, line_of(s, "gateway", "splice"), "splice '%.40s': want "
				"yes or no", v);
	}
	conf_duration(s, d, "connect_timeout", 1, 3600000, &c->connect_timeout_ms);
	conf_duration(s, d, "setup_timeout", 1, 3600000, &c->setup_timeout_ms);
	conf_duration(s, d, "idle_timeout", 0, 86400000, &c->idle_timeout_ms);
	conf_duration(s, d, "shutdown_grace", 0, 3600000, &c->grace_ms);
	if ((v = get(d, "gateway", "pid_file")) != NULL && *v)
		c->pid_file = xstrdup(v);
	if ((v = get(d, "gateway", "log_file")) != NULL && *v)
		c->log_file = xstrdup(v);
	/* syslog: used when daemonized without log_file (doc/vcgw.8) */
	if ((v = get(d, "gateway", "syslog_facility")) == NULL)
		c->syslog_facility = xstrdup("mail");
	else if (!log_syslog_facility_ok(v))
		conf_err(s, line_of(s, "gateway", "syslog_facility"), "syslog_facility '%.40s': "
			"want mail, daemon, user or local0 to local7", v);
	else
		c->syslog_facility = xstrdup(v);
	if ((v = get(d, "gateway", "syslog_ident")) != NULL) {
		if (*v == '\0' || strlen(v) > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") != strlen(v))
			conf_err(s, line_of(s, "gateway", "syslog_ident"), "syslog_ident '%.40s': "
				"want 1 to 32 of A-Z a-z 0-9 . _ / -", v);
		else
			c->syslog_ident = xstrdup(v);
	}
}

/* conf_listen - the [listen] section */
static void conf_listen(struct scan *s, dictionary *d, struct vcgw_conf *c)
{
	const char *keys[MAX_ENTRIES], *v, *key;
	char err[512], one[1200];
	const char *p, *comma;
	struct ts_addr a;
	int n, i, j, line, nstdio = 0;

	n = iniparser_getsecnkeys(d, "listen");
	if (n > MAX_ENTRIES)
		n = MAX_ENTRIES;
	if (n > 0 && iniparser_getseckeys(d, "listen", keys) == NULL)
		n = 0;
	c->listen = xcalloc(MAX_LISTEN, sizeof(*c->listen));
	for (i = 0; i < n; i++) {
		key = keys[i] + strlen("listen:");
		line = line_of(s, "listen", key);
		v = iniparser_getstring(d, keys[i], "");
		for (p = v; ; p = comma + 1) {
			comma = strchr(p, ',');
			trim_copy(one, sizeof(one), p, comma ? (size_t)(comma - p) : strlen(p), 0);
			if (one[0] == '\0') {
				conf_err(s, line, "listener '%s': empty address", key);
			} else if (ts_addr_parse(one, &a, err, sizeof(err)) < 0) {
				conf_err(s, line, "listener '%s': %s", key, err);
			} else if (a.kind == TS_EXEC) {
				conf_err(s, line, "listener '%s': cannot listen on an exec: "
					"address", key);
			} else if (a.kind == TS_STDIO && ++nstdio > 1) {
				conf_err(s, line, "listener '%s': stdio listed twice", key);
			} else if (c->nlisten >= MAX_LISTEN) {
				conf_err(s, line, "more than %d listeners", MAX_LISTEN);
			} else {
				for (j = 0; j < c->nlisten; j++)
					if (strcmp(c->listen[j].addr, one) == 0)
						break;
				if (j < c->nlisten) {
					conf_err(s, line, "listener '%s': address %s is already "
						"listed (line %d)", key, one, c->listen[j].line);
				} else {
					c->listen[c->nlisten].name = xstrdup(key);
					c->listen[c->nlisten].addr = xstrdup(one);
					c->listen[c->nlisten].line = line;
					c->nlisten++;
				}
			}
			if (comma == NULL)
				break;
		}
	}
	if (c->nlisten == 0)
		conf_err(s, 0, "no [listen] address: the gateway would accept no calls");
}

/* conf_rule - one [map] entry */
static void conf_rule(struct scan *s, dictionary *d, struct vcgw_conf *c,
	const char *key, const char *v, int line)
{
	char w[3][1100], err[512], addr[1200];
	const char *p = v, *cmd;
	struct ts_addr a;
	struct vcgw_rule *r;
	size_t k;
	int nw = 0;

	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		for (k = 0; p[k] && !isspace((unsigned char)p[k]); k++)
			;
		if (nw < 3)
			snprintf(w[nw], sizeof(w[nw]), "%.*s", (int)k, p);
		nw++;
		p += k;
	}
	if (!vcgw_prefix_ok(key)) {
		conf_err(s, line, "map '%s': not a called-address prefix (dot-separated "
			"components, or '*')", key);
		return;
	}
	if (nw < 1 || nw > 2) {
		conf_err(s, line, "map '%s': want ADDRESS [CALLED-TO-PASS], got %d words",
			key, nw);
		return;
	}
	if (strncmp(w[0], "exec:", 5) == 0) {
		if ((cmd = get(d, "exec", w[0] + 5)) == NULL || *cmd == '\0') {
			conf_err(s, line, "map '%s': %s: no command '%s' in [exec]", key, w[0],
				w[0] + 5);
			return;
		}
		snprintf(addr, sizeof(addr), "exec:%s", cmd);
	} else {
		str_copy(addr, w[0], sizeof(addr));
	}
	if (ts_addr_parse(addr, &a, err, sizeof(err)) < 0) {
		conf_err(s, line, "map '%s': %s", key, err);
		return;
	}
	if (a.kind == TS_STDIO) {
		conf_err(s, line, "map '%s': cannot call out on stdio", key);
		return;
	}
	if (nw == 2 && (strcmp(w[1], "*") == 0 || !vcgw_prefix_ok(w[1]))) {
		conf_err(s, line, "map '%s': called address to pass '%s' is not "
			"dot-separated components", key, w[1]);
		return;
	}
	r = &c->rules[c->nrules++];
	r->any = strcmp(key, "*") == 0;
	r->prefix = xstrdup(r->any ? "" : key);
	for (k = 0; r->prefix[k]; k++)
		r->prefix[k] = (char)tolower((unsigned char)r->prefix[k]);
	r->addr = xstrdup(addr);
	r->pass = nw == 2 ? xstrdup(w[1]) : NULL;
	r->line = line;
}

/* conf_map - the [map] section */
static void conf_map(struct scan *s, dictionary *d, struct vcgw_conf *c)
{
	const char *keys[MAX_ENTRIES], *key;
	int n, i;

	n = iniparser_getsecnkeys(d, "map");
	if (n > MAX_ENTRIES)
		n = MAX_ENTRIES;
	if (n > 0 && iniparser_getseckeys(d, "map", keys) == NULL)
		n = 0;
	c->rules = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*c->rules));
	for (i = 0; i < n; i++) {
		key = keys[i] + strlen("map:");
		conf_rule(s, d, c, key, iniparser_getstring(d, keys[i], ""),
			line_of(s, "map", key));
	}
	if (c->nrules == 0 && n == 0)
		conf_err(s, 0, "no [map] rules: every call would be refused");
}

/* vcgw_conf_load - read and validate a configuration file */
struct vcgw_conf *vcgw_conf_load(const char *path, struct buf *errs)
{
	struct scan s;
	struct vcgw_conf *c = NULL;
	dictionary *d = NULL;
	char err[DURABLE_ERRLEN];
	char *text;
	size_t len;

	memset(&s, 0, sizeof(s));
	s.path = path;
	s.errs = errs;
	if ((text = durable_read_file(path, VCGW_CONFMAX, &len, err, sizeof(err))) == NULL) {
		conf_err(&s, 0, "cannot read the configuration: %s", err);
		return NULL;
	}
	s.ent = xcalloc(MAX_ENTRIES, sizeof(*s.ent));
	scan_file(&s, text, len);
	free(text);
	iniparser_set_error_callback(ini_quiet);
	d = iniparser_load(path);
	iniparser_set_error_callback(NULL);
	if (d == NULL) {
		if (s.nerr == 0)
			conf_err(&s, 0, "iniparser could not load the file");
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->max_calls = 256;
	c->call_memory = 1024 * 1024;
	c->connect_timeout_ms = 10000;
	c->setup_timeout_ms = 30000;
	c->idle_timeout_ms = 660000;
	c->grace_ms = 30000;
	c->splice = 1;
	conf_gateway(&s, d, c);
	conf_listen(&s, d, c);
	conf_map(&s, d, c);
out:
	if (d != NULL)
		iniparser_freedict(d);
	free(s.ent);
	if (s.nerr > 0) {
		vcgw_conf_free(c);
		return NULL;
	}
	return c;
}

/* vcgw_conf_free - release a configuration */
void vcgw_conf_free(struct vcgw_conf *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlisten; i++) {
		free(c->listen[i].name);
		free(c->listen[i].addr);
	}
	for (i = 0; i < c->nrules; i++) {
		free(c->rules[i].prefix);
		free(c->rules[i].addr);
		free(c->rules[i].pass);
	}
	free(c->listen);
	free(c->rules);
	free(c->path);
	free(c->name);
	free(c->pid_file);
	free(c->log_file);
	free(c->syslog_facility);
	free(c->syslog_ident);
	free(c);
}

/*
 * Per call: two send queues (the cap plus command slack), two 64 KiB
 * read buffers, the caller's data held before ACCEPT (at most the cap),
 * and the gateway's two carry-over buffers (at most one read each).
 * 384 KiB covers everything but the three cap-sized parts.
 */
/* vcgw_send_cap - the ts send cap for one call's share of call_memory */
size_t vcgw_send_cap(const struct vcgw_conf *c)
{
	size_t m = c->call_memory;

	if (m < VCGW_MIN_CALLMEM)
		m = VCGW_MIN_CALLMEM;
	return (m - 384 * 1024) / 3;
}

/* match_len - length of prefix p matched by called at a component
 * boundary (ignoring case), or -1 */
static long match_len(const char *p, const char *called)
{
	size_t n = strlen(p);

	if (strncasecmp(called, p, n) != 0)
		return -1;
	if (called[n] != '\0' && called[n] != '.')
		return -1;
	return (long)n;
}

/* vcgw_map - find the rule and the called address to pass on */
int vcgw_map(const struct vcgw_conf *c, const char *called,
	const struct vcgw_rule **rule, char *out, size_t outlen)
{
	const struct vcgw_rule *best = NULL;
	const char *rest;
	long bl = -2, l;
	int i, n;

	for (i = 0; i < c->nrules; i++) {
		if (c->rules[i].any)
			l = -1;
		else if ((l = match_len(c->rules[i].prefix, called)) < 0)
			continue;
		if (l > bl) {
			bl = l;
			best = &c->rules[i];
		}
	}
	if (best == NULL)
		return VCGW_MAP_NONE;
	*rule = best;
	rest = best->any ? called : called + bl + (called[bl] == '.');
	if (best->pass != NULL)
		n = snprintf(out, outlen, "%s%s%s", best->pass, *rest ? "." : "", rest);
	else
		n = snprintf(out, outlen, "%s", rest);
	if (n < 0 || (size_t)n >= outlen || (size_t)n > VCGW_ADDRMAX)
		return VCGW_MAP_LONG;
	return VCGW_MAP_OK;
}

/* vcgw_calling - extend a calling address with our name */
int vcgw_calling(const char *calling, const char *name, char *out, size_t outlen)
{
	const char *p = strchr(calling, '.'), *q;
	size_t nl = strlen(name);
	int n;

	/* components after the first: has the call passed us already? */
	while (p != NULL) {
		p++;
		q = strchr(p, '.');
		if ((size_t)(q ? q - p : (long)strlen(p)) == nl && strncasecmp(p, name, nl) == 0)
			return VCGW_CALLING_LOOP;
		p = q;
	}
	n = snprintf(out, outlen, "%s%s%s", calling, *calling ? "." : "", name);
	if (n < 0 || (size_t)n >= outlen || (size_t)n > VCGW_ADDRMAX)
		return VCGW_CALLING_LONG;
	return VCGW_CALLING_OK;
}
