/*++
 * NAME
 *	privs 3
 * SUMMARY
 *	mailrelayd: start as root, bind, give the spool to the service user, drop
 * SYNOPSIS
 *	#include "relay/privs.h"
 * DESCRIPTION
 *	See privs.h.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/privs.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/durable.h"
#include "util/strutil.h"

#define PRIVS_PWBUF_MAX	(1024 * 1024)	/* largest getpwnam_r buffer tried */

/* lookup - the passwd entry of user into *pw (strings in *bufp, new
 * memory the caller frees); 1 found, 0 not, -1 failed (errno) */
static int lookup(const char *user, struct passwd *pw, char **bufp)
{
	struct passwd *res = NULL;
	size_t  len = 16 * 1024;
	int     e;

	*bufp = NULL;
	for (;;) {
		*bufp = xrealloc(*bufp, len);
		e = getpwnam_r(user, pw, *bufp, len, &res);
		if (e != ERANGE || len >= PRIVS_PWBUF_MAX)
			break;
		len *= 2;
	}
	if (e == 0)
		return res != NULL;
	/* "not found" is 0 or one of these, by the C library's taste */
	if (e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		return 0;
	errno = e;
	return -1;
}

/* privs_resolve - whom to run as */
enum privs_how privs_resolve(const char *user, struct privs *pv, char *err, size_t errlen)
{
	struct passwd pw;
	char   *buf;
	uid_t   euid = geteuid();
	int     r;

	memset(pv, 0, sizeof(*pv));
	pv->uid = euid;
	pv->gid = getegid();
	if (user == NULL)
		return euid == 0 ? PRIVS_ROOT : PRIVS_STAY;
	str_copy(pv->name, user, sizeof(pv->name));
	if ((r = lookup(user, &pw, &buf)) < 0) {
		/* the user database did not answer (NSS, LDAP): not a
		 * configuration error, try again */
		snprintf(err, errlen, "[node] user '%s': look-up failed: %s", user,
		    strerror(errno));
		free(buf);
		return PRIVS_LOOKUP;
	}
	if (r == 0) {
		snprintf(err, errlen, "[node] user '%s' does not exist: create it (e.g."
		    " useradd --system --no-create-home --shell /usr/sbin/nologin %s) or"
		    " name an existing user", user, user);
		free(buf);
		return PRIVS_NOUSER;
	}
	if (pw.pw_uid == euid) {
		free(buf);
		return PRIVS_STAY;		/* already the user (or root as root) */
	}
	if (euid != 0) {
		snprintf(err, errlen, "started as uid %lu, not as root: cannot become [node] user"
		    " '%s' (uid %lu); start mailrelayd as root or as '%s'", (unsigned long) euid,
		    user, (unsigned long) pw.pw_uid, user);
		free(buf);
		return PRIVS_NOTROOT;
	}
	pv->drop = 1;
	pv->uid = pw.pw_uid;
	pv->gid = pw.pw_gid;
	free(buf);
	return PRIVS_DROP;
}

/* --- the spool ------------------------------------------------------------------ */

struct walk {
	const struct privs *pv;
	struct privs_report *rep;
	char   *err;
	size_t	errlen;
	int	err_no;			/* errno of the failure */
};

/* walk_err - "privs: OP 'PATH': strerror(errno)"; -1 */
static int walk_err(struct walk *w, const char *op, const char *path)
{
	w->err_no = errno;
	snprintf(w->err, w->errlen, "privs: %s '%s': %s", op, path, strerror(w->err_no));
	return -1;
}

/* give - the entry fd (opened without following a link, sb its fstat)
 * to the user when it is root's: a directory, or a regular file with one
 * link (with more, one of them may be a file outside the spool) */
static int give(struct walk *w, int fd, const struct stat *sb, const char *path)
{
	if (sb->st_uid != 0)
		return 0;
	if (!S_ISDIR(sb->st_mode) && !(S_ISREG(sb->st_mode) && sb->st_nlink == 1)) {
		w->rep->skipped++;
		return 0;
	}
	/* through the descriptor: the entry checked is the one changed */
	if (fchownat(fd, "", w->pv->uid, w->pv->gid, AT_EMPTY_PATH) < 0)
		return walk_err(w, "chown", path);
	w->rep->chowned++;
	return 0;
}

/* walk_dir - give root's entries of the directory dfd (path, for
 * messages) to the user, and descend into its directories that are
 * root's or the user's, depth levels below the spool */
static int walk_dir(struct walk *w, int dfd, const char *path, int depth)
{
	char    sub[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR    *d;
	int     fd, cfd, rc = 0, dup_fd;

	if ((dup_fd = dup(dfd)) < 0 || (d = fdopendir(dup_fd)) == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return walk_err(w, "read directory", path);
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				rc = walk_err(w, "read directory", path);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t) snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= sizeof(sub))
			continue;		/* deeper than any path the daemon uses */
		/* O_PATH: nothing is opened for reading (a FIFO does not
		 * block, a device is not touched); O_NOFOLLOW: a symbolic
		 * link is the link itself, never what it points to */
		if ((fd = openat(dfd, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			if (errno == ENOENT)
				continue;	/* gone meanwhile */
			rc = walk_err(w, "open", sub);
			break;
		}
		if (fstat(fd, &sb) < 0) {
			rc = walk_err(w, "stat", sub);
			close(fd);
			break;
		}
		rc = give(w, fd, &sb, sub);
		/* descend through the descriptor already checked; out/ is the
		 * drop: what its writers put there stays theirs */
		if (rc == 0 && S_ISDIR(sb.st_mode) && depth < PRIVS_DEPTH_MAX
		    && (sb.st_uid == 0 || sb.st_uid == w->pv->uid)
		    && !(depth == 0 && strcmp(de->d_name, spool_state_name(SPOOL_OUT)) == 0)) {
			if ((cfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
				rc = walk_err(w, "open", sub);
			else {
				rc = walk_dir(w, cfd, sub, depth + 1);
				close(cfd);
			}
		}
		close(fd);
		if (rc < 0)
			break;
	}
	closedir(d);
	return rc;
}

/* make_spool - the spool directory dir (0750) and, as root's with mode
 * 0755, its missing parents */
static int make_spool(struct walk *w, const char *dir)
{
	char    parent[PATH_MAX], derr[DURABLE_ERRLEN];
	char   *slash;

	if (str_copy(parent, dir, sizeof(parent)) >= sizeof(parent)) {
		errno = ENAMETOOLONG;
		return walk_err(w, "mkdir", dir);
	}
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash > parent)
		*slash = '\0';			/* trailing slashes */
	if ((slash = strrchr(parent, '/')) != NULL && slash > parent) {
		*slash = '\0';
		if (mkdir_p(parent, 0755, derr, sizeof(derr)) < 0) {
			w->err_no = errno;
			snprintf(w->err, w->errlen, "privs: %s", derr);
			return -1;
		}
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return walk_err(w, "mkdir", dir);
	w->rep->created++;
	return 0;
}

/* privs_spool_prepare - the spool and its states, the user's */
int privs_spool_prepare(const struct privs *pv, const char *dir, struct privs_report *rep,
	char *err, size_t errlen)
{
	struct walk w;
	struct stat sb;
	int     rootfd, i, rc = -1;

	memset(rep, 0, sizeof(*rep));
	w.pv = pv;
	w.rep = rep;
	w.err = err;
	w.errlen = errlen;
	w.err_no = 0;
	if ((rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0
	    && errno == ENOENT) {
		if (make_spool(&w, dir) < 0) {
			errno = w.err_no;
			return -1;
		}
		rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (rootfd < 0) {
		w.err_no = errno;
		if (errno == ELOOP || errno == ENOTDIR)
			snprintf(err, errlen, "privs: spool '%s' is not a directory (a symbolic link"
			    " is not followed): name the directory itself in [node] spool", dir);
		else
			walk_err(&w, "open", dir);
		errno = w.err_no;
		return -1;
	}
	if (fstat(rootfd, &sb) < 0) {
		walk_err(&w, "stat", dir);
		goto out;
	}
	if (give(&w, rootfd, &sb, dir) < 0)
		goto out;
	/* states made here, as spool_open() would, so that they are the
	 * user's whatever it finds */
	for (i = 0; i < SPOOL_NSTATES; i++) {
		if (mkdirat(rootfd, spool_state_name((enum spool_state) i), 0750) == 0)
			rep->created++;
		else if (errno != EEXIST) {
			char    path[PATH_MAX];

			snprintf(path, sizeof(path), "%s/%s", dir,
			    spool_state_name((enum spool_state) i));
			walk_err(&w, "mkdir", path);
			goto out;
		}
	}
	if (sb.st_uid == 0 || sb.st_uid == pv->uid)
		rc = walk_dir(&w, rootfd, dir, 0);
	else
		rc = 0;			/* another user's: spool_open() refuses it */
out:
	close(rootfd);
	if (rc < 0)
		errno = w.err_no;
	return rc;
}

/* privs_give_socket - the socket file path, bound as root, to the user */
int privs_give_socket(const struct privs *pv, const char *path, char *err, size_t errlen)
{
	struct stat sb;
	int     fd, rc = -1;

	if (!pv->drop)
		return 0;
	/* through a descriptor of the name not followed: what is checked
	 * (a socket of root's, as bind made it) is what is changed */
	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "privs: open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0)
		snprintf(err, errlen, "privs: stat '%s': %s", path, strerror(errno));
	else if (!S_ISSOCK(sb.st_mode) || sb.st_uid != 0)
		snprintf(err, errlen, "privs: '%s' is no longer the socket bound (a %s of uid %lu):"
		    " left as it is", path, S_ISSOCK(sb.st_mode) ? "socket" : "file",
		    (unsigned long) sb.st_uid);
	else if (fchownat(fd, "", pv->uid, pv->gid, AT_EMPTY_PATH) < 0)
		snprintf(err, errlen, "privs: chown '%s': %s", path, strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

/* --- the drop --------------------------------------------------------------------- */

/* privs_drop - become the user for good */
int privs_drop(const struct privs *pv, char *err, size_t errlen)
{
	uid_t   ru, eu, su;
	gid_t   rg, eg, sg;

	if (!pv->drop)
		return 0;
	/* groups first: they need root, as the gid does before the uid */
	if (initgroups(pv->name, pv->gid) < 0) {
		snprintf(err, errlen, "privs: initgroups '%s': %s", pv->name, strerror(errno));
		return -1;
	}
	if (setresgid(pv->gid, pv->gid, pv->gid) < 0) {
		snprintf(err, errlen, "privs: setgid %lu: %s", (unsigned long) pv->gid,
		    strerror(errno));
		return -1;
	}
	if (setresuid(pv->uid, pv->uid, pv->uid) < 0) {
		snprintf(err, errlen, "privs: setuid %lu ('%s'): %s", (unsigned long) pv->uid,
		    pv->name, strerror(errno));
		return -1;
	}
	/* permanent: no id left to go back to, and root refused */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0
	    || ru != pv->uid || eu != pv->uid || su != pv->uid
	    || rg != pv->gid || eg != pv->gid || sg != pv->gid) {
		snprintf(err, errlen, "privs: after the change to '%s' the process still has"
		    " other ids", pv->name);
		return -1;
	}
	if (pv->uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "privs: setuid(0) succeeded after the change to '%s':"
		    " the drop is not permanent", pv->name);
		return -1;
	}
	return 0;
}
