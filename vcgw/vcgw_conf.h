/*++
 * NAME
 *	vcgw_conf 3h
 * SUMMARY
 *	virtual call gateway: configuration and address mapping
 * SYNOPSIS
 *	#include "vcgw/vcgw_conf.h"
 * DESCRIPTION
 *	vcgw_conf_load() reads a gateway INI file (DESIGN section 10,
 *	doc/vcgw.md) with iniparser and validates it. A second pass over
 *	the file's lines gives every error a line number and finds what
 *	iniparser lets through silently (a repeated key, an unknown
 *	section or key); it is validation only: every value comes from
 *	iniparser.
 *
 *	The map (DESIGN section 8): a rule maps a called-address prefix
 *	to an outgoing transport address and, optionally, a replacement
 *	for the prefix. Prefixes match at component boundaries ('.'),
 *	ignoring ASCII case; the longest matching prefix wins; the rule
 *	"*" matches everything and loses to any other match. The called
 *	address passed on is the replacement (if any) followed by the rest
 *	of the called address after the prefix, joined with '.'.
 *
 *	The calling address passed on is the caller's, extended with the
 *	gateway's name as a last component ("ucl" becomes "ucl.gw1").
 * DIAGNOSTICS
 *	Load errors are appended to a caller's buffer, one line each, as
 *	"FILE:LINE: message" (LINE 0 when the error has no line).
 *--*/
#ifndef VCGW_CONF_H
#define VCGW_CONF_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define VCGW_ADDRMAX	1024	/* called and calling addresses (YB_MAX_PARAM) */
#define VCGW_NAMEMAX	64	/* the gateway's name */
#define VCGW_CONFMAX	(1024 * 1024)	/* largest configuration file */
#define VCGW_MIN_CALLMEM (576 * 1024)	/* smallest call_memory */

/* The configuration vcgw reads without -c: $NIFTPMAIL_VCGW_CONF, else the
 * default (util/confpath.h). Not NIFTPMAIL_CONF: that names a node's
 * configuration, which a gateway cannot read. */
#define VCGW_CONF_ENV		"NIFTPMAIL_VCGW_CONF"
#define VCGW_CONF_DEFAULT	"/etc/niftpmail/vcgw.ini"

/* One [listen] entry: a transport address to accept calls on. */
struct vcgw_listen {
	char	*name;		/* the key */
	char	*addr;		/* a ts address (not exec:) */
	int	line;
};

/* One [map] rule. */
struct vcgw_rule {
	char	*prefix;	/* lower case; "" for the rule "*" */
	int	any;		/* the rule "*" */
	char	*addr;		/* outgoing ts address (exec:NAME resolved) */
	char	*pass;		/* replacement for the prefix, or NULL */
	int	line;
};

struct vcgw_conf {
	char	*path;
	char	*name;		/* [gateway] name */
	int	max_calls;
	size_t	call_memory;	/* octets per call, all buffers */
	int	connect_timeout_ms;
	int	setup_timeout_ms;
	int	idle_timeout_ms;	/* 0: none */
	int	grace_ms;		/* SIGTERM: calls may finish within this */
	int	splice;			/* 1: data records spliced where both sides
					 * allow it (default); 0: always copied */
	char	*pid_file;		/* or NULL */
	char	*log_file;		/* or NULL (stderr; daemonized: syslog) */
	char	*syslog_facility;	/* "mail" (default), "daemon", "user",
					 * "local0".."local7" (util/log.h) */
	char	*syslog_ident;		/* or NULL: "vcgw" */
	struct vcgw_listen *listen;
	int	nlisten;
	struct vcgw_rule *rules;
	int	nrules;
};

/* vcgw_conf_load - read and validate path. NULL when any error was found
 * (each appended to errs as "FILE:LINE: message\n"; errs may be NULL). */
struct vcgw_conf *vcgw_conf_load(const char *path, struct buf *errs);
/* vcgw_conf_free - release a configuration (NULL is fine) */
void vcgw_conf_free(struct vcgw_conf *c);

/* vcgw_send_cap - the ts send cap that keeps one call within call_memory */
size_t vcgw_send_cap(const struct vcgw_conf *c);

/* vcgw_prefix_ok - 1 when s is a valid called prefix (dot-separated,
 * non-empty components of printable non-space ASCII) or "*" */
int vcgw_prefix_ok(const char *s);

#define VCGW_MAP_OK	0
#define VCGW_MAP_NONE	(-1)	/* no rule matches */
#define VCGW_MAP_LONG	(-2)	/* the called address to pass on is too long */

/* vcgw_map - the rule for called and the called address to pass on
 * (into out, outlen bytes). VCGW_MAP_OK with *rule set (borrowed from
 * c), or VCGW_MAP_NONE, VCGW_MAP_LONG. */
int vcgw_map(const struct vcgw_conf *c, const char *called,
	const struct vcgw_rule **rule, char *out, size_t outlen);

#define VCGW_CALLING_OK		0
#define VCGW_CALLING_LONG	(-1)	/* the result would not fit */
#define VCGW_CALLING_LOOP	(-2)	/* our name is already a later component */

/* vcgw_calling - calling extended with name (into out): "ucl" + "gw1"
 * is "ucl.gw1"; an empty calling gives "name". A call whose calling
 * address already names us after its first component has passed us
 * before: a routing loop. */
int vcgw_calling(const char *calling, const char *name, char *out, size_t outlen);

#endif
