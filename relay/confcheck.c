/*++
 * NAME
 *	confcheck 3
 * SUMMARY
 *	mailctl check-config: a configuration against the machine it runs on
 * SYNOPSIS
 *	#include "relay/confcheck.h"
 * DESCRIPTION
 *	See confcheck.h. Nothing here changes the machine: sockets are
 *	bound and closed (never a Unix socket, which would leave a file),
 *	directories are looked at, never made.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/route.h"
#include "niftp/ts.h"
#include "relay/confcheck.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/strutil.h"

#define CC_PWBUF	(64 * 1024)	/* getpwnam_r buffer */
#define CC_ERRLEN	512

struct cc {
	const struct conf *c;
	struct conf_rep *r;
	int	has_uid;		/* [node] user set and found */
	uid_t	uid;
	int	runs;			/* the daemon runs: -1 not asked yet, 0, 1 */
};

/* --- [node] user ------------------------------------------------------------ */

/* check_user - [node] user exists: its uid for the owner checks */
static void check_user(struct cc *k)
{
	struct passwd pw, *res = NULL;
	char   *buf;
	int     e;

	if (k->c->user == NULL)
		return;
	buf = xmalloc(CC_PWBUF);
	e = getpwnam_r(k->c->user, &pw, buf, CC_PWBUF, &res);
	if (e == 0 && res != NULL) {
		k->has_uid = 1;
		k->uid = pw.pw_uid;
	} else if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		conf_rep(k->r, CONF_ERROR, "node", "user", "user '%s' does not exist: create it"
		    " (e.g. useradd --system --no-create-home --shell /usr/sbin/nologin %s) or"
		    " name an existing user", k->c->user, k->c->user);
	else
		conf_rep(k->r, CONF_NOTE, "node", "user", "look-up of user '%s' failed (%s):"
		    " owners not checked", k->c->user, strerror(e));
	free(buf);
}

/* --- is the daemon running? --------------------------------------------------- */

/* ping - 1 when the control socket answers "ping" with "ok" */
static int ping(const char *control)
{
	struct sockaddr_un sa;
	struct timeval tv = { CONFCHECK_PING_MS / 1000, (CONFCHECK_PING_MS % 1000) * 1000 };
	char    ans[64];
	ssize_t n;
	size_t  got = 0;
	int     fd, ok = 0;

	if (control == NULL || strlen(control) >= sizeof(sa.sun_path))
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	str_copy(sa.sun_path, control, sizeof(sa.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	(void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0
	    && send(fd, "ping\n", 5, MSG_NOSIGNAL) == 5) {
		while (got < 3 && (n = read(fd, ans + got, sizeof(ans) - 1 - got)) > 0)
			got += (size_t) n;
		ok = got >= 3 && memcmp(ans, "ok ", 3) == 0;
	}
	close(fd);
	return ok;
}

/* daemon_runs - the node's daemon runs: its control socket answers, or
 * a process holds the spool's lock (asked once) */
static int daemon_runs(struct cc *k)
{
	char    err[CC_ERRLEN];

	if (k->runs < 0)
		k->runs = ping(k->c->control) || spool_lock_probe(k->c->spool, err, sizeof(err));
	return k->runs;
}

/* --- [listen] ------------------------------------------------------------------- */

/* in_use - addr is taken by someone: a note when the daemon runs */
static void in_use(struct cc *k, const char *addr, const char *how)
{
	if (daemon_runs(k))
		conf_rep(k->r, CONF_NOTE, "listen", "mail", "'%s' is in use, by the running daemon"
		    " it seems (its control socket answers or it holds the spool's lock)", addr);
	else
		conf_rep(k->r, CONF_ERROR, "listen", "mail", "'%s' is in use by another program"
		    " (%s) and the daemon does not run: mailrelayd could not start; stop that"
		    " program or choose another address", addr, how);
}

/* check_tcp - a tcp: or rawtcp: address can be bound */
static void check_tcp(struct cc *k, const char *addr, const struct ts_addr *ta)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *host;
	int     fd, e = 0, g, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	/* "*" or nothing: every local address (niftp/ts_drv.c) */
	host = ta->host[0] != '\0' && strcmp(ta->host, "*") != 0 ? ta->host : NULL;
	if ((g = getaddrinfo(host, ta->port, &hints, &res)) != 0) {
		conf_rep(k->r, CONF_ERROR, "listen", "mail", "'%s': cannot resolve '%s': %s",
		    addr, ta->host, gai_strerror(g));
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			e = errno;
			continue;
		}
		/* as the daemon binds it (niftp/ts_drv.c) */
		(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			close(fd);
			freeaddrinfo(res);
			return;
		}
		e = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (e == EADDRINUSE)
		in_use(k, addr, "bind: Address already in use");
	else if ((e == EACCES || e == EPERM) && geteuid() != 0)
		conf_rep(k->r, CONF_NOTE, "listen", "mail", "'%s': only root may bind it (port"
		    " below 1024): start mailrelayd as root (it binds, then becomes [node] user)",
		    addr);
	else if (e == EADDRNOTAVAIL)
		conf_rep(k->r, CONF_ERROR, "listen", "mail", "'%s': bind: %s ('%s' is not an"
		    " address of this host)", addr, strerror(e), ta->host);
	else
		conf_rep(k->r, CONF_ERROR, "listen", "mail", "'%s': bind: %s", addr, strerror(e));
}

/* check_unix - a unix: path is free (or a stale socket, replaced by the
 * daemon), and its directory exists */
static void check_unix(struct cc *k, const char *addr, const char *path)
{
	struct sockaddr_un sa;
	struct stat sb;
	char    dir[PATH_MAX], *slash;
	int     fd, e;

	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			conf_rep(k->r, CONF_ERROR, "listen", "mail", "'%s': '%s' exists and is not"
			    " a socket: remove it or choose another path", addr, path);
			return;
		}
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		str_copy(sa.sun_path, path, sizeof(sa.sun_path));
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return;
		e = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 ? 0 : errno;
		close(fd);
		if (e == 0)
			in_use(k, addr, "a process accepts calls on it");
		/* ECONNREFUSED: stale, the daemon replaces it */
		return;
	}
	if (errno != ENOENT) {
		conf_rep(k->r, CONF_ERROR, "listen", "mail", "'%s': cannot look at '%s': %s",
		    addr, path, strerror(errno));
		return;
	}
	str_copy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		conf_rep(k->r, CONF_ERROR, "listen", "mail", "'%s': directory '%s' %s: mailrelayd"
		    " binds before it makes anything: create it", addr, dir,
		    stat(dir, &sb) < 0 ? "does not exist" : "is not a directory");
}

static void check_listen(struct cc *k)
{
	struct ts_addr ta;
	char    why[CC_ERRLEN];

	for (size_t i = 0; i < k->c->nlisten; i++) {
		const char *a = k->c->listen[i];

		/* parsed when the file was loaded: cannot fail here */
		if (ts_addr_parse(a, &ta, why, sizeof(why)) < 0)
			continue;
		if (ta.kind == TS_TCP || ta.kind == TS_RAWTCP)
			check_tcp(k, a, &ta);
		else if (ta.kind == TS_UNIX)
			check_unix(k, a, ta.path);
	}
}

/* --- paths ------------------------------------------------------------------------- */

/* owner_name - "uid N (NAME)" of uid into b */
static const char *owner_name(uid_t uid, char *b, size_t len)
{
	struct passwd pw, *res = NULL;
	char    pwb[4096];

	if (getpwuid_r(uid, &pw, pwb, sizeof(pwb), &res) == 0 && res != NULL)
		snprintf(b, len, "uid %lu (%s)", (unsigned long) uid, pw.pw_name);
	else
		snprintf(b, len, "uid %lu", (unsigned long) uid);
	return b;
}

/* dir_safe - a directory the daemon will use (sb: its stat): not
 * writable by others (nor by its group when strict: the spool refuses
 * it), and the user's (root's when top: the daemon gives it away) */
static void dir_safe(struct cc *k, const char *sec, const char *key, const char *path,
	const struct stat *sb, int strict, int top)
{
	char    who[300];

	if (sb->st_mode & (strict ? (S_IWGRP | S_IWOTH) : S_IWOTH))
		conf_rep(k->r, CONF_ERROR, sec, key, "'%s' is writable by %s (mode %04o): anyone"
		    " who may write it can swap the files in it; mailrelayd refuses it (chmod go-w"
		    " '%s')", path, sb->st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned) (sb->st_mode & 07777), path);
	if (!k->has_uid || sb->st_uid == k->uid)
		return;
	if (sb->st_uid == 0 && top)
		conf_rep(k->r, CONF_NOTE, sec, key, "'%s' belongs to root: mailrelayd, started as"
		    " root, gives it to [node] user '%s'", path, k->c->user);
	else if (sb->st_uid != 0)
		conf_rep(k->r, CONF_ERROR, sec, key, "'%s' belongs to %s, not to [node] user '%s':"
		    " mailrelayd refuses it (chown -R %s '%s')", path,
		    owner_name(sb->st_uid, who, sizeof(who)), k->c->user, k->c->user, path);
}

/* creatable - path does not exist: its nearest existing parent is a
 * directory where it can be made */
static void creatable(struct cc *k, const char *sec, const char *key, const char *path)
{
	char    anc[PATH_MAX], *slash;
	struct stat sb;

	str_copy(anc, path, sizeof(anc));
	for (;;) {
		if ((slash = strrchr(anc, '/')) == NULL)
			return;
		if (slash == anc)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(anc, &sb) == 0)
			break;
		if (errno == ENOTDIR)
			continue;		/* a file further up: found there */
		if (errno != ENOENT) {
			conf_rep(k->r, CONF_ERROR, sec, key, "'%s' cannot be created: look at '%s':"
			    " %s", path, anc, strerror(errno));
			return;
		}
		if (slash == anc)
			return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		conf_rep(k->r, CONF_ERROR, sec, key, "'%s' cannot be created: '%s' is not a"
		    " directory", path, anc);
		return;
	}
	if (access(anc, W_OK | X_OK) == 0)
		return;
	if (errno == EROFS)
		conf_rep(k->r, CONF_ERROR, sec, key, "'%s' cannot be created: '%s' is on a"
		    " read-only file system", path, anc);
	else if (geteuid() != 0)
		conf_rep(k->r, CONF_NOTE, sec, key, "'%s' does not exist and uid %lu may not"
		    " create it in '%s': mailrelayd must start as root to create it", path,
		    (unsigned long) geteuid(), anc);
	else
		conf_rep(k->r, CONF_ERROR, sec, key, "'%s' cannot be created in '%s': %s", path,
		    anc, strerror(errno));
}

/* check_dir - a directory of the daemon's (spool: also its states) */
static void check_dir(struct cc *k, const char *sec, const char *key, const char *path,
	int spool)
{
	struct stat sb, lsb;
	char    sub[PATH_MAX];

	if (lstat(path, &lsb) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			creatable(k, sec, key, path);
		else
			conf_rep(k->r, CONF_ERROR, sec, key, "cannot look at '%s': %s", path,
			    strerror(errno));
		return;
	}
	if (S_ISLNK(lsb.st_mode) && spool && k->c->user != NULL) {
		/* relay/privs.c opens it with O_NOFOLLOW */
		conf_rep(k->r, CONF_ERROR, sec, key, "'%s' is a symbolic link, which mailrelayd"
		    " started as root does not follow: name the directory itself", path);
		return;
	}
	if (stat(path, &sb) < 0) {
		conf_rep(k->r, CONF_ERROR, sec, key, "cannot look at '%s': %s", path,
		    strerror(errno));
		return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		conf_rep(k->r, CONF_ERROR, sec, key, "'%s' exists and is not a directory", path);
		return;
	}
	dir_safe(k, sec, key, path, &sb, spool, 1);
	if (!spool)
		return;
	/* out/ is the drop: others may write it (relay/pickup.h) */
	for (int i = 0; i < SPOOL_NSTATES; i++) {
		if (i == SPOOL_OUT)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, spool_state_name((enum spool_state) i));
		if (lstat(sub, &lsb) == 0 && S_ISDIR(lsb.st_mode))
			dir_safe(k, sec, key, sub, &lsb, 1, 0);
	}
}

/* check_file - a file the daemon writes (log: opened as root, never
 * through a link; pid: written by the user) */
static void check_file(struct cc *k, const char *key, const char *path)
{
	struct stat sb;
	char    dir[PATH_MAX], *slash;

	if (path == NULL)
		return;
	if (lstat(path, &sb) == 0) {
		if (S_ISLNK(sb.st_mode))
			conf_rep(k->r, CONF_ERROR, "node", key, "'%s' is a symbolic link, which"
			    " mailrelayd does not follow: name the file itself", path);
		else if (!S_ISREG(sb.st_mode))
			conf_rep(k->r, CONF_ERROR, "node", key, "'%s' is not a regular file", path);
		else if (sb.st_nlink != 1)
			conf_rep(k->r, CONF_ERROR, "node", key, "'%s' has %lu links (another name of"
			    " it may be a file that is not ours): mailrelayd refuses it", path,
			    (unsigned long) sb.st_nlink);
		else if (sb.st_mode & S_IWOTH)
			conf_rep(k->r, CONF_ERROR, "node", key, "'%s' is writable by others (mode"
			    " %04o): chmod o-w '%s'", path, (unsigned) (sb.st_mode & 07777), path);
		return;
	}
	if (errno != ENOENT) {
		conf_rep(k->r, CONF_ERROR, "node", key, "cannot look at '%s': %s", path,
		    strerror(errno));
		return;
	}
	/* the spool's own files: made with the spool */
	if (strncmp(path, k->c->spool, strlen(k->c->spool)) == 0
	    && path[strlen(k->c->spool)] == '/')
		return;
	str_copy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		conf_rep(k->r, CONF_ERROR, "node", key, "directory '%s' of '%s' %s: mailrelayd"
		    " makes no directory for it, create it", dir, path,
		    stat(dir, &sb) < 0 ? "does not exist" : "is not a directory");
}

/* --- routing and delivery ------------------------------------------------------------ */

/* delivers - the local channel knows mailbox: listed in [local] users
 * or its Maildir exists (one it cannot look at counts as there, as for
 * relay/peer.c); md gets the Maildir */
static int delivers(const struct conf *c, const char *mailbox, char *md, size_t len)
{
	struct stat sb;

	if (conf_maildir(c, mailbox, md, len) >= len)
		return 1;
	if (route_table_user_known(c->routes, mailbox))
		return 1;
	return stat(md, &sb) == 0 || errno != ENOENT;
}

/* routes_to - the targets of name@node: 1 when one of them is the local
 * mailbox mailbox; else 0 with what they are in why */
static int routes_to(const struct conf *c, const char *name, const char *mailbox, char *why,
	size_t len)
{
	const struct route_target *tg;
	struct route_result *r;
	struct addr *a;
	char    err[ADDR_ERRLEN];
	size_t  n = 0;
	int     hit = 0;

	why[0] = '\0';
	if ((a = addr_new(name, route_table_node(c->routes), err, sizeof(err))) == NULL) {
		snprintf(why, len, "it is no address: %s", err);
		return 0;
	}
	r = route_resolve(c->routes, a, 0);
	for (size_t i = 0; i < route_result_count(r) && !hit; i++) {
		tg = route_result_get(r, i);
		if (tg->kind == ROUTE_LOCAL && strcmp(tg->mailbox, mailbox) == 0) {
			hit = 1;
			break;
		}
		if (n < len)
			n += (size_t) snprintf(why + n, len - n, "%s%s", n ? ", " : "",
			    tg->kind == ROUTE_LOCAL ? "mailbox '" : tg->kind == ROUTE_FORWARD
			    ? "forwarded to " : "fails: ");
		if (n < len)
			n += (size_t) snprintf(why + n, len - n, "%s%s",
			    tg->kind == ROUTE_LOCAL ? tg->mailbox : tg->kind == ROUTE_FORWARD
			    ? tg->text : tg->reason, tg->kind == ROUTE_LOCAL ? "'" : "");
	}
	route_result_free(r);
	addr_free(a);
	return hit;
}

/* check_users - each [local] users entry gets its own mail */
static void check_users(struct cc *k)
{
	const struct route_table *t = k->c->routes;
	char    why[CC_ERRLEN];

	for (size_t i = 0; i < route_table_nusers(t); i++) {
		const char *u = route_table_user(t, i);

		if (!routes_to(k->c, u, u, why, sizeof(why)))
			conf_rep(k->r, CONF_WARNING, "local", "users", "'%s' is a user, but mail to"
			    " %s@%s is not delivered to its mailbox (mailctl route: %s): an alias or"
			    " list of that name takes it; rename one of them", u, u,
			    route_table_node(t), why);
	}
}

/* check_aliases - each mailbox an alias or list leads to is one that
 * delivery knows */
static void check_aliases(struct cc *k)
{
	const struct route_table *t = k->c->routes;
	const struct route_target *tg;
	struct route_result *r;
	struct addr *a;
	char    md[PATH_MAX];
	unsigned said = 0;
	int     is_list;

	for (size_t i = 0; i < route_table_naliases(t); i++) {
		const char *name = route_table_alias(t, i, &is_list);

		if ((a = addr_new(name, route_table_node(t), NULL, 0)) == NULL)
			continue;
		r = route_resolve(t, a, 0);
		for (size_t j = 0; j < route_result_count(r); j++) {
			tg = route_result_get(r, j);
			if (tg->kind != ROUTE_LOCAL || delivers(k->c, tg->mailbox, md, sizeof(md))
			    || said++ >= CONFCHECK_SAY_MAX)
				continue;
			conf_rep(k->r, CONF_WARNING, is_list ? "lists" : "aliases", name, "leads to"
			    " mailbox '%s', which delivery does not know (not in [local] users, no"
			    " Maildir '%s'): mailctl route says deliver, the local channel bounces"
			    " \"unknown user\"; add '%s' to [local] users or create the Maildir",
			    tg->mailbox, md, tg->mailbox);
		}
		route_result_free(r);
		addr_free(a);
	}
	if (said > CONFCHECK_SAY_MAX)
		conf_rep(k->r, CONF_WARNING, "aliases", NULL, "%u more mailboxes of aliases or"
		    " lists that delivery does not know", said - CONFCHECK_SAY_MAX);
}

/* check_maildirs - each Maildir under the template's root is one that
 * routing delivers to: the template's %u must be a whole path component
 * ("/var/mail/%u/", "/home/%u/Maildir/"); the root is what precedes it */
static void check_maildirs(struct cc *k)
{
	const char *tpl = k->c->maildir, *u = tpl ? strstr(tpl, "%u") : NULL;
	char    root[PATH_MAX], md[PATH_MAX], why[CC_ERRLEN];
	struct dirent *de;
	struct stat sb;
	unsigned seen = 0, said = 0;
	int     upper;
	DIR    *d;

	if (u == NULL || u == tpl || u[-1] != '/' || (u[2] != '/' && u[2] != '\0')
	    || strstr(u + 2, "%u") != NULL || (size_t) (u - tpl) >= sizeof(root))
		return;
	snprintf(root, sizeof(root), "%.*s", (int) (u - tpl), tpl);
	if ((d = opendir(root)) == NULL)
		return;			/* no Maildir yet, or not ours to read */
	while ((de = readdir(d)) != NULL && seen++ < CONFCHECK_DIR_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if (conf_maildir(k->c, de->d_name, md, sizeof(md)) >= sizeof(md)
		    || stat(md, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		if (routes_to(k->c, de->d_name, de->d_name, why, sizeof(why)))
			continue;
		if (said++ >= CONFCHECK_SAY_MAX)
			continue;
		upper = strpbrk(de->d_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL;
		conf_rep(k->r, CONF_WARNING, "local", "maildir", "Maildir '%s' gets no mail: mailctl"
		    " route sends %s@%s to %s%s", md, de->d_name, route_table_node(k->c->routes),
		    why, upper ? " (mailboxes are lower case)" : "");
	}
	closedir(d);
	if (said > CONFCHECK_SAY_MAX)
		conf_rep(k->r, CONF_WARNING, "local", "maildir", "%u more Maildirs that get no"
		    " mail", said - CONFCHECK_SAY_MAX);
}

/* confcheck_probe - see confcheck.h */
void confcheck_probe(const struct conf *c, struct conf_rep *r, void *arg)
{
	struct cc k;

	(void) arg;
	memset(&k, 0, sizeof(k));
	k.c = c;
	k.r = r;
	k.runs = -1;
	check_user(&k);
	check_listen(&k);
	check_dir(&k, "node", "spool", c->spool, 1);
	if (c->archive_enabled && c->archive_dir != NULL)
		check_dir(&k, "archive", "dir", c->archive_dir, 0);
	check_file(&k, "log_file", c->log_file);
	check_file(&k, "pid_file", c->pid_file);
	check_users(&k);
	check_aliases(&k);
	check_maildirs(&k);
}
