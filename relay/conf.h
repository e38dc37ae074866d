/*++
 * NAME
 *	conf 3h
 * SUMMARY
 *	mailrelayd node configuration: load, validate, read
 * SYNOPSIS
 *	#include "relay/conf.h"
 * DESCRIPTION
 *	conf_load() reads one node's INI file (DESIGN section 10,
 *	doc/mailrelayd.conf.5) with iniparser, checks every value, and
 *	returns an immutable struct conf. Its fields are public for
 *	reading only; nothing in it changes after conf_load() returned,
 *	so a daemon may keep the old one running while it loads a new
 *	one on SIGHUP, and drop the new one if it has errors.
 *
 *	Every key has a default; only [node] name is required. Sections
 *	and keys (iniparser lower-cases their names):
 *
 *	  [node]    name, spool, control, calling, log_file, pid_file,
 *	            metrics_file, metrics_interval, user, syslog_facility,
 *	            syslog_ident
 *	  [listen]  mail (comma-separated TS addresses, each optionally
 *	            followed by accept=peers|local|any), accept, trace
 *	  [peer NAME] username, password_file, from, via (relay/peer.h)
 *	  [routes]  HOST = CHANNEL ADDR [CALLED] [, CHANNEL ADDR [CALLED] ...]
 *	            (channels niftp, local; "local" takes no ADDR)
 *	  [exec]    NAME = command line (for exec:NAME addresses)
 *	  [local]   names, maildir, users, reversed_names
 *	  [aliases] NAME = addresses
 *	  [lists]   NAME = members, NAME.owner = address
 *	  [retry]   first, max, warn, give_up, docket_keep (durations)
 *	  [limits]  hops, max_letter_size, max_recipients, calls_per_hop,
 *	            max_calls, connect_timeout, setup_timeout, idle_timeout,
 *	            hop_fail_warn, max_calls_per_addr, max_pending,
 *	            max_pending_per_addr, pending_timeout, min_rate,
 *	            rate_window, idle_call_timeout, max_calls_per_peer,
 *	            max_partial_per_peer, max_dockets_per_peer,
 *	            max_dockets_per_source, auth_fail_delay
 *	  [archive] enabled, dir, keep
 *	  [CHANNEL] a channel's own section, read by the channel
 *	            (relay/channel.h): [niftp] calls_per_hop, idle_hangup, deflate
 *
 *	Relative paths (spool, control, log_file, pid_file, maildir, and
 *	the PATH of unix: addresses) are taken relative to the directory
 *	of the configuration file, and stored absolute.
 *
 *	A second pass over the file's lines gives each error its line
 *	number and finds what iniparser lets through silently: a repeated
 *	key or section, an unknown section or key. It is validation only:
 *	every value comes from iniparser.
 *
 *	An unknown section or key is an error, with the name meant when one
 *	is near enough (edit distance), the section where the key belongs,
 *	or the names known: "ucl.ini:7: [node] 'spol' is not a key of
 *	[node] (did you mean 'spool'?)". (A warning that the key was ignored
 *	left the default in force while the file looked right.)
 * DIAGNOSTICS
 *	Each problem is appended to a caller's buffer as one line
 *	"FILE:LINE: [section] key: reason\n" (LINE 0 when the problem
 *	belongs to no line, e.g. a missing required key). Warnings read
 *	"FILE:LINE: warning: ..." and do not make the load fail: retry
 *	settings that make no sense together, a repeated section.
 *--*/
#ifndef RELAY_CONF_H
#define RELAY_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mailchannel/route.h"

struct buf;

#define CONF_FILE_MAX	(1024 * 1024)	/* largest configuration file */
#define CONF_LINE_MAX	8192		/* longest line (iniparser's ASCIILINESZ is 1024
					 * per line read: longer lines are errors) */
#define CONF_PATH_MAX	4096		/* longest path after making it absolute */
#define CONF_MAX_LISTEN	32		/* [listen] mail addresses */
#define CONF_ERRS_MAX	(256 * 1024)	/* cap for an error buffer built by conf_check */

/* The configuration mailrelayd, mailctl and niftpmail-sendmail read when
 * not given -c: $NIFTPMAIL_CONF, else the default, for a one-node host
 * (util/confpath.h chooses; doc/mailrelayd.8 SERVICE) */
#define CONF_ENV		"NIFTPMAIL_CONF"
#define CONF_DEFAULT_PATH	"/etc/niftpmail/mailrelayd.ini"

struct conf {
	char	*path;		/* the file as given to conf_load */

	/* [node] */
	char	*name;		/* node name, lower-cased (required) */
	char	*spool;		/* absolute; default /var/spool/niftpmail/NAME */
	char	*control;	/* control socket path; default SPOOL/control */
	char	*calling;	/* calling address we send; default the node name */
	char	*log_file;	/* or NULL (stderr; daemonized: syslog) */
	char	*syslog_facility;	/* "mail" (default), "daemon", "user",
				 * "local0".."local7" (util/log.h) */
	char	*syslog_ident;	/* or NULL: the program name */
	char	*pid_file;	/* or NULL */
	char	*metrics_file;	/* Prometheus text file; default SPOOL/metrics,
				 * NULL when set to "none" or empty (no file) */
	int64_t	metrics_interval_ms;	/* rewrite period; default 5 s */
	char	*user;		/* the service user: started as root, the daemon
				 * binds, gives it the spool and becomes it for
				 * good (relay/privs.h); NULL (default): it stays
				 * as started (as root: with a warning). Checked
				 * for syntax only here; mailrelayd looks it up */

	/* [peer NAME] (relay/peer.h) */
	struct conf_peer *peers;
	size_t	npeers;

	/* [listen] */
	char	**listen;	/* TS addresses (unix: paths absolute); default none */
	int	*listen_accept;	/* each one's enum peer_accept */
	int	*listen_local;	/* each one's local=: 1 its callers running as root
				 * or the daemon's user are local submission (the
				 * default), 0 never (a forwarder calls it) */
	size_t	nlisten;
	int	trace_access;	/* who may read traces: PEER_ACCEPT_PEERS (peers and
				 * local callers, default), _LOCAL (local callers
				 * only), _ANY */

	/* [local] */
	char	*maildir;	/* absolute template with %u (lower-cased local
				 * part); default SPOOL/mail/%u/ */
	int	reversed_names;	/* also match hosts in JANET order; default 0 */

	/* [retry], milliseconds */
	int64_t	retry_first_ms;	/* default 60 s */
	int64_t	retry_max_ms;	/* default 1 h (the back-off never exceeds it) */
	int64_t	warn_ms;	/* "still trying" notice after; default 4 h */
	int64_t	give_up_ms;	/* NDN after; default 5 d */
	int64_t	docket_keep_ms;	/* keep server dockets; default give_up + 1 d */

	/* [limits] */
	unsigned max_hops;		/* Via: lines before "routing loop"; default 30 */
	uint64_t max_letter_size;	/* bytes of one received letter; default 64 MiB */
	unsigned max_recipients;	/* addresses in one letter; default ADDR_LIST_MAX */
	unsigned calls_per_hop;		/* parallel outgoing calls per next hop; default 4 */
	unsigned max_calls;		/* concurrent incoming calls past their CONNECT;
					 * default 64 */
	unsigned max_calls_per_addr;	/* ... from one source address (relayd_recv.c);
					 * default 8; 0 no such limit */
	unsigned max_pending;		/* connections that have not sent CONNECT;
					 * default 32 (the oldest is dropped) */
	unsigned max_pending_per_addr;	/* ... from one source address; default 8; 0 none */
	int	pending_timeout_ms;	/* connection to CONNECT; default 10 s (<= 30 s) */
	uint64_t min_rate;		/* octets/s of a call in a transfer; default
					 * 1024; 0 none */
	int	rate_window_ms;		/* min_rate averaged over; default 30 s */
	int	idle_call_timeout_ms;	/* an incoming call with no transfer; default
					 * 2 m; 0 none */
	unsigned max_calls_per_peer;	/* calls of one authenticated peer; default
					 * 16; 0 none */
	uint64_t max_partial_per_peer;	/* octets of kept partial files of one
					 * identity (a peer, or one unauthenticated
					 * source); UINT64_MAX (the default): 256 MiB
					 * or 4 x max_letter_size, the larger; 0 none */
	unsigned max_dockets_per_peer;	/* server dockets of one peer; default 0 none */
	unsigned max_dockets_per_source;	/* ... of one unauthenticated source;
					 * default 1000 */
	int	auth_fail_delay_ms;	/* a refused username/password: the call
					 * is held that long, then ended; default 3 s */
	int	connect_timeout_ms;	/* default 10 s */
	int	setup_timeout_ms;	/* default 30 s */
	int	idle_timeout_ms;	/* default 11 m; 0 none */
	int64_t	hop_fail_warn_ms;	/* warn when a next hop fails longer; default
					 * 1 h; 0 never */

	/* [archive] */
	int	archive_enabled;	/* keep a gzip copy of every accepted letter;
					 * default no */
	char	*archive_dir;		/* absolute; default SPOOL/archive */
	int64_t	archive_keep_ms;	/* retention; default 7 d */

	/* routes, local names, aliases, lists, users, max_hops: owned here */
	struct route_table *routes;

	/* each channel's settings from its own section (relay/channel.h),
	 * indexed by enum route_channel; NULL: the channel has none */
	void   *chconf[ROUTE_CH_MAX];
};

/* A channel's section of a configuration being loaded: what its
 * conf_load() reads. */
struct conf_sect;

/* conf_sect_name - the section's name */
const char *conf_sect_name(const struct conf_sect *s);
/* conf_sect_conf - the configuration being loaded: its core sections
 * ([node], [limits], ...) are loaded already (read-only) */
const struct conf *conf_sect_conf(const struct conf_sect *s);
/* conf_sect_str - the raw value of key, or NULL when absent */
const char *conf_sect_str(struct conf_sect *s, const char *key);
/* conf_sect_dur, conf_sect_num, conf_sect_bool - key as a duration (ms,
 * within [min,max]), a number within [min,max], a boolean (yes/no,
 * true/false, on/off, 1/0): 1 and *out set, 0 absent (*out unchanged),
 * -1 bad (reported as an error with the file and line) */
int  conf_sect_dur(struct conf_sect *s, const char *key, int64_t min, int64_t max,
	int64_t *out);
int  conf_sect_num(struct conf_sect *s, const char *key, uint64_t min, uint64_t max,
	uint64_t *out);
int  conf_sect_bool(struct conf_sect *s, const char *key, int *out);
/* conf_sect_err - report an error about key (NULL: the section) */
void conf_sect_err(struct conf_sect *s, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* conf_load - read and validate path. Returns a new configuration, or
 * NULL when any error was found. Errors and warnings are appended to
 * errs (may be NULL) as described under DIAGNOSTICS; *nerrs and
 * *nwarns (either may be NULL) get their counts. errs keeps its own
 * cap: lines that do not fit are dropped, the counts stay right. */
struct conf *conf_load(const char *path, struct buf *errs, unsigned *nerrs,
	unsigned *nwarns);
/* conf_free - release a configuration; NULL allowed */
void conf_free(struct conf *c);

/* conf_check - load path, print every error and warning to fp, and a
 * last line "FILE: N errors, M warnings" or "FILE: ok"; returns 0 when
 * the configuration loads (warnings allowed), 1 otherwise (mailctl
 * check-config then exits 78) */
int conf_check(const char *path, FILE *fp);

/* What a check of the world beyond the file found (mailctl check-config,
 * relay/confcheck.h): an error fails the check as an error of the file
 * does; a note is said and changes nothing (a port the running daemon
 * holds). Notes read "FILE:LINE: note: ...". */
enum conf_sev { CONF_ERROR, CONF_WARNING, CONF_NOTE };
/* The diagnostics of a conf_check_with() in progress. */
struct conf_rep;
/* conf_rep - report about sec/key (key NULL: the section; sec NULL: the
 * file, line 0) with the line of the key in the file */
void conf_rep(struct conf_rep *r, enum conf_sev sev, const char *sec, const char *key,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* conf_probe_fn - checks of a configuration that loaded without errors,
 * reported through r (valid for the call only) */
typedef void conf_probe_fn(const struct conf *c, struct conf_rep *r, void *arg);
/* conf_check_with - conf_check(), and probe(c, r, arg) when the file has
 * no errors; the last line also counts the notes ("FILE: ok (2 notes)",
 * "FILE: 1 error, 0 warnings, 1 note"); 1 when the file or a probe found
 * an error */
int conf_check_with(const char *path, FILE *fp, conf_probe_fn *probe, void *arg);

/* conf_maildir - the mail directory of mailbox (a lower-cased safe
 * mailbox name from route_resolve): the maildir template with "%u"
 * replaced by mailbox and "%%" by "%". Writes at most len-1 bytes plus
 * NUL; returns the full length like snprintf (>= len means cut). */
size_t conf_maildir(const struct conf *c, const char *mailbox, char *dst, size_t len);

/* conf_backoff_ms - retry delay after attempt n (1 = first failure):
 * retry_first_ms doubled per attempt, at most retry_max_ms */
int64_t conf_backoff_ms(const struct conf *c, unsigned n);

#endif
