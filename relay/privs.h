/*++
 * NAME
 *	privs 3h
 * SUMMARY
 *	mailrelayd: start as root, bind, give the spool to the service user, drop
 * SYNOPSIS
 *	#include "relay/privs.h"
 * DESCRIPTION
 *	[node] user names the service user the daemon runs as when it is
 *	started as root. The start-up order (relay/relayd.c) is: resolve
 *	the user (privs_resolve: exit 78 when it does not exist, 75 when the
 *	user database cannot say, 77 when a non-root process is asked to
 *	become another user), bind every [listen] address as root (ports
 *	below 1024, sockets in root's directories: those made mode 0666 and
 *	given to the user, privs_give_socket), give the spool to the user
 *	(privs_spool_prepare), give up root for good (privs_drop: 77 when
 *	it fails), and only then lock and open
 *	the spool and create SPOOL/stdio.sock and the control socket, so
 *	that every file the daemon creates from then on is the user's.
 *
 *	privs_spool_prepare() works inside the configured spool only and
 *	never follows a symbolic link: the spool and its state directories
 *	are created when missing (the spool's parents, when missing, as
 *	root's, mode 0755), and what is there and belongs to root (left by
 *	a daemon that ran as root) is given to the user: directories and
 *	regular files with one link, each opened without following links
 *	(O_NOFOLLOW, O_PATH) and changed through that descriptor (fchown),
 *	never by a name looked up twice. A regular file with more than one
 *	link may be a hard link to a file outside the spool: left as it
 *	is, like symbolic links, sockets and devices. What belongs to
 *	another user is left alone too: spool_open() refuses a spool or a
 *	state that is not the user's, naming it. The contents of out/, the
 *	drop, are its writers' and are not looked at.
 * DIAGNOSTICS
 *	Every failure fills err with the operation, the object and the
 *	reason ("privs: chown '/var/spool/niftpmail/ucl/queue': ...").
 *--*/
#ifndef RELAY_PRIVS_H
#define RELAY_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

#define PRIVS_NAMELEN	64	/* a user name, NUL included */
#define PRIVS_DEPTH_MAX	8	/* directory levels below the spool that are walked */

/* Whom the daemon runs as. */
struct privs {
	int	drop;			/* started as root: become uid/gid */
	uid_t	uid;
	gid_t	gid;
	char	name[PRIVS_NAMELEN];	/* the user's name ("" when none is set) */
};

/* What privs_resolve() found. */
enum privs_how {
	PRIVS_STAY,		/* no user set and not root, or already the user */
	PRIVS_DROP,		/* root, and a user to become */
	PRIVS_ROOT,		/* root, and no user set: stays root (a warning) */
	PRIVS_NOUSER,		/* the user does not exist (err: exit 78) */
	PRIVS_LOOKUP,		/* the user database failed (NSS): err, exit 75 */
	PRIVS_NOTROOT		/* not root, and the user is another one (err: exit 77) */
};

/* privs_resolve - look up user (NULL: none set) for a process with the
 * effective uid it has now; *pv filled for PRIVS_DROP and PRIVS_STAY.
 * err (NOUSER, LOOKUP: getpwnam_r failed otherwise than "not found",
 * NOTROOT) names the user and the fix. */
enum privs_how privs_resolve(const char *user, struct privs *pv, char *err, size_t errlen);

/* What privs_spool_prepare() changed (for a log line). */
struct privs_report {
	unsigned created;	/* directories made */
	unsigned chowned;	/* entries given to the user */
	unsigned skipped;	/* root's entries left: links, other kinds */
};

/* privs_spool_prepare - as root, before privs_drop(): make the spool in
 * dir and its state directories exist and belong to pv's user (see the
 * DESCRIPTION). 0, or -1 with err and errno (ELOOP or ENOTDIR: the spool
 * or a state is a symbolic link, or not a directory; otherwise the errno
 * of the mkdir, open, read or chown that failed, e.g. EROFS, EIO). */
int privs_spool_prepare(const struct privs *pv, const char *dir, struct privs_report *rep,
	char *err, size_t errlen);

/* privs_give_socket - as root, before privs_drop(): the socket file
 * path, which bind(2) just made as root's (a [listen] unix: address),
 * given to pv's user, so that it is the daemon's like every socket it
 * makes later. Opened without following a link and changed through that
 * descriptor; anything but a socket of root's there is left alone. Does
 * nothing unless pv->drop. 0, or -1 with err. */
int privs_give_socket(const struct privs *pv, const char *path, char *err, size_t errlen);

/* privs_drop - become pv's user for good: supplementary groups
 * (initgroups), then real, effective and saved gid and uid; checked
 * afterwards (every id is the user's, and setuid(0) fails). Does
 * nothing unless pv->drop. Call it before any thread is created.
 * 0, or -1 with err. */
int privs_drop(const struct privs *pv, char *err, size_t errlen);

#endif
