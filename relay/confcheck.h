/*++
 * NAME
 *	confcheck 3h
 * SUMMARY
 *	mailctl check-config: a configuration against the machine it runs on
 * SYNOPSIS
 *	#include "relay/confcheck.h"
 * DESCRIPTION
 *	relay/conf.c checks the file: syntax, names, values. What a file
 *	cannot say by itself is checked here, once it loads without errors
 *	(conf_check_with() runs confcheck_probe()), each finding reported
 *	with the line of the key it concerns:
 *
 *	- [node] user exists (the daemon exits 78 otherwise).
 *	- [listen] mail: each tcp: and rawtcp: address can be bound (a
 *	  socket bound and closed at once, SO_REUSEADDR as the daemon binds);
 *	  a unix: path is free, a stale socket, or one the daemon made, and
 *	  its directory exists (the daemon binds before it makes its spool).
 *	  An address in use while the daemon runs (its control socket
 *	  answers "ping", or another process holds the spool's lock) is a
 *	  note, not an error: the daemon holds it. A port below 1024 checked
 *	  by a user other than root is a note (root binds it).
 *	- [node] spool (and [archive] dir when the archive is on): a
 *	  directory, or creatable (its nearest existing parent is a
 *	  directory); not writable by others, nor, for the spool and its
 *	  state directories but out/, by its group (the daemon refuses them:
 *	  spool/spool.c); owned by [node] user when set (root's is a note:
 *	  the daemon, started as root, gives it to the user: relay/privs.h).
 *	- [node] log_file and pid_file: a regular file with one link, never
 *	  a symbolic link (the daemon refuses them), not writable by others;
 *	  or absent in an existing directory (the daemon makes no directory
 *	  for them).
 *	- That routing agrees with delivery about local users (mailctl route
 *	  decides with the route table; the local channel delivers to a
 *	  mailbox listed in [local] users or whose Maildir exists,
 *	  relay/chan_local.c): each [local] users entry is routed to its own
 *	  mailbox (an alias of the same name takes its mail elsewhere); each
 *	  mailbox an alias or list leads to is one delivery knows; each
 *	  Maildir found under the maildir template ("/var/mail/%u/": every
 *	  directory of /var/mail) is one routing delivers to (a Maildir
 *	  "Bennett" never is: mailboxes are lower case). Disagreements are
 *	  warnings: mail is bounced or never reaches a Maildir, but the
 *	  daemon runs.
 * DIAGNOSTICS
 *	Through conf_rep() (relay/conf.h): "FILE:LINE: [section] key:
 *	reason", each naming the path or address at fault and the fix.
 *--*/
#ifndef RELAY_CONFCHECK_H
#define RELAY_CONFCHECK_H

#include "relay/conf.h"

#define CONFCHECK_PING_MS	2000	/* the control socket's answer to "ping" */
#define CONFCHECK_DIR_MAX	100000	/* directories of a Maildir root looked at */
#define CONFCHECK_SAY_MAX	20	/* disagreements of one kind reported */

/* confcheck_probe - the checks above (a conf_probe_fn; arg unused) */
void confcheck_probe(const struct conf *c, struct conf_rep *r, void *arg);

#endif
