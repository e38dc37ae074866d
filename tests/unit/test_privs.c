/*++
 * NAME
 *	test_privs 1
 * SUMMARY
 *	unit tests of relay/privs.c: the [node] user, the spool given to
 *	it, the drop
 * SYNOPSIS
 *	build/tests/test_privs
 * DESCRIPTION
 *	privs_resolve() for no user, an unknown user, the process's own
 *	user, and another user (PRIVS_DROP as root, PRIVS_NOTROOT
 *	otherwise). As root only (otherwise those tests say so and pass):
 *	privs_spool_prepare() on a missing spool, and on one a root daemon
 *	left with a symbolic link and a hard link to root's files outside,
 *	another user's file, a drop in out/; a spool path that is a link
 *	(errno ELOOP: a configuration error); privs_give_socket() on a socket
 *	bound as root, a file, a link and nothing in its place; and
 *	privs_drop() in a child process (every id changed, setuid(0)
 *	refused).
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relay/privs.h"
#include "spool/spool.h"
#include "tests/unit/tl_test.h"

#define OTHER_UID	4242	/* a uid no test user has: "another user" */

static char dir[PATH_MAX - 64];	/* room for the names below it */

/* target - a user to give the spool to: nobody, else uid 65534 */
static void target(struct privs *pv)
{
	struct passwd *pw = getpwnam("nobody");

	memset(pv, 0, sizeof(*pv));
	pv->drop = 1;
	pv->uid = pw ? pw->pw_uid : 65534;
	pv->gid = pw ? pw->pw_gid : 65534;
	snprintf(pv->name, sizeof(pv->name), "%s", pw ? "nobody" : "uid65534");
}

static uid_t owner(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 ? sb.st_uid : (uid_t) -1;
}

static void test_resolve(void)
{
	struct privs pv;
	struct passwd *me = getpwuid(geteuid());
	char    err[512];
	enum privs_how how;

	how = privs_resolve(NULL, &pv, err, sizeof(err));
	EXPECT_INT(how, geteuid() == 0 ? PRIVS_ROOT : PRIVS_STAY);
	EXPECT_INT(pv.drop, 0);
	err[0] = '\0';
	EXPECT_INT(privs_resolve("nosuchuserxyz", &pv, err, sizeof(err)), PRIVS_NOUSER);
	EXPECT_HAS(err, "[node] user 'nosuchuserxyz' does not exist");
	EXPECT_HAS(err, "useradd");
	CU_ASSERT_PTR_NOT_NULL_FATAL(me);
	EXPECT_INT(privs_resolve(me->pw_name, &pv, err, sizeof(err)), PRIVS_STAY);
	EXPECT_INT(pv.drop, 0);
	if (geteuid() == 0) {
		struct passwd *nb = getpwnam("nobody");

		if (nb == NULL) {
			fprintf(stderr, "\n(no user nobody: PRIVS_DROP not tested)\n");
			return;
		}
		EXPECT_INT(privs_resolve("nobody", &pv, err, sizeof(err)), PRIVS_DROP);
		EXPECT_INT(pv.drop, 1);
		EXPECT_INT(pv.uid, nb->pw_uid);
		EXPECT_INT(pv.gid, nb->pw_gid);
		EXPECT_STR(pv.name, "nobody");
	} else {
		err[0] = '\0';
		EXPECT_INT(privs_resolve("root", &pv, err, sizeof(err)), PRIVS_NOTROOT);
		EXPECT_HAS(err, "cannot become [node] user 'root'");
	}
}

static void test_prepare_new(void)
{
	struct privs pv;
	struct privs_report rep;
	char    spool[PATH_MAX], path[PATH_MAX + 32], err[512];
	int     i;

	if (geteuid() != 0) {
		fprintf(stderr, "\n(not root: privs_spool_prepare not tested)\n");
		return;
	}
	target(&pv);
	snprintf(spool, sizeof(spool), "%s/new/parent/spool", dir);
	EXPECT_INT(privs_spool_prepare(&pv, spool, &rep, err, sizeof(err)), 0);
	EXPECT_INT(rep.created, 1 + SPOOL_NSTATES);
	EXPECT_INT(owner(spool), pv.uid);
	snprintf(path, sizeof(path), "%s/new/parent", dir);
	EXPECT_INT(owner(path), 0);	/* a parent made: root's */
	for (i = 0; i < SPOOL_NSTATES; i++) {
		snprintf(path, sizeof(path), "%s/%s", spool, spool_state_name((enum spool_state) i));
		EXPECT_INT(owner(path), pv.uid);
	}
	/* again: nothing to do */
	EXPECT_INT(privs_spool_prepare(&pv, spool, &rep, err, sizeof(err)), 0);
	EXPECT_INT(rep.created, 0);
	EXPECT_INT(rep.chowned, 0);
}

static void test_prepare_left(void)
{
	struct privs pv;
	struct privs_report rep;
	char    spool[PATH_MAX], p[PATH_MAX + 64], q[PATH_MAX + 64], err[512];
	int     e;

	if (geteuid() != 0)
		return;
	target(&pv);
	snprintf(spool, sizeof(spool), "%s/left", dir);
	/* what a daemon that ran as root left, and worse */
	snprintf(p, sizeof(p), "%s/queue", spool);
	CU_ASSERT_FATAL(mkdir(spool, 0750) == 0 && mkdir(p, 0750) == 0);
	snprintf(p, sizeof(p), "%s/journal", spool);
	CU_ASSERT_FATAL(tl_write_file(p, "x\n") == 0);
	snprintf(p, sizeof(p), "%s/outside", dir);
	CU_ASSERT_FATAL(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/outside/precious", dir);
	CU_ASSERT_FATAL(tl_write_file(p, "root's\n") == 0);
	snprintf(q, sizeof(q), "%s/queue/link", spool);
	snprintf(p, sizeof(p), "%s/outside", dir);
	CU_ASSERT_FATAL(symlink(p, q) == 0);
	snprintf(p, sizeof(p), "%s/outside/precious", dir);
	snprintf(q, sizeof(q), "%s/queue/hard", spool);
	CU_ASSERT_FATAL(link(p, q) == 0);
	snprintf(p, sizeof(p), "%s/queue/theirs", spool);
	CU_ASSERT_FATAL(tl_write_file(p, "another user's\n") == 0 && chown(p, OTHER_UID, OTHER_UID) == 0);
	snprintf(p, sizeof(p), "%s/out", spool);
	CU_ASSERT_FATAL(mkdir(p, 0750) == 0);
	snprintf(p, sizeof(p), "%s/out/drop", spool);
	CU_ASSERT_FATAL(tl_write_file(p, "a drop of root's\n") == 0);

	EXPECT_INT(privs_spool_prepare(&pv, spool, &rep, err, sizeof(err)), 0);
	EXPECT_INT(owner(spool), pv.uid);
	snprintf(p, sizeof(p), "%s/queue", spool);
	EXPECT_INT(owner(p), pv.uid);
	snprintf(p, sizeof(p), "%s/journal", spool);
	EXPECT_INT(owner(p), pv.uid);
	snprintf(p, sizeof(p), "%s/out", spool);
	EXPECT_INT(owner(p), pv.uid);
	/* left alone: links, another user's, the drop's contents, outside */
	snprintf(p, sizeof(p), "%s/queue/link", spool);
	EXPECT_INT(owner(p), 0);
	snprintf(p, sizeof(p), "%s/queue/hard", spool);
	EXPECT_INT(owner(p), 0);
	snprintf(p, sizeof(p), "%s/queue/theirs", spool);
	EXPECT_INT(owner(p), OTHER_UID);
	snprintf(p, sizeof(p), "%s/out/drop", spool);
	EXPECT_INT(owner(p), 0);
	snprintf(p, sizeof(p), "%s/outside", dir);
	EXPECT_INT(owner(p), 0);
	snprintf(p, sizeof(p), "%s/outside/precious", dir);
	EXPECT_INT(owner(p), 0);
	EXPECT_INT(rep.skipped, 2);	/* the two links */

	/* a spool path that is a symbolic link is refused */
	snprintf(p, sizeof(p), "%s/linked", dir);
	CU_ASSERT_FATAL(symlink(spool, p) == 0);
	err[0] = '\0';
	errno = 0;
	EXPECT_INT(privs_spool_prepare(&pv, p, &rep, err, sizeof(err)), -1);
	e = errno;
	EXPECT_HAS(err, "is not a directory (a symbolic link is not followed)");
	/* mailrelayd: a configuration error, 78 */
	EXPECT_TRUE(e == ELOOP || e == ENOTDIR);
}

/* test_give_socket - a [listen] socket bound as root goes to the user;
 * anything else at its name is left alone */
static void test_give_socket(void)
{
	struct privs pv;
	struct sockaddr_un su;
	char    p[PATH_MAX], q[PATH_MAX], err[512];
	int     fd;

	memset(&pv, 0, sizeof(pv));
	EXPECT_INT(privs_give_socket(&pv, "/nonexistent/sock", err, sizeof(err)), 0);
	if (geteuid() != 0) {
		fprintf(stderr, "\n(not root: privs_give_socket not tested)\n");
		return;
	}
	target(&pv);
	snprintf(p, sizeof(p), "%s/s.sock", dir);
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CU_ASSERT_FATAL(strlen(p) < sizeof(su.sun_path));
	memcpy(su.sun_path, p, strlen(p) + 1);
	CU_ASSERT_FATAL((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *) &su, sizeof(su)) == 0);
	EXPECT_INT(privs_give_socket(&pv, p, err, sizeof(err)), 0);
	EXPECT_INT(owner(p), pv.uid);
	close(fd);
	/* a file, and a link to a socket of root's, in its place */
	snprintf(q, sizeof(q), "%s/f.sock", dir);
	CU_ASSERT_FATAL(tl_write_file(q, "not a socket\n") == 0);
	err[0] = '\0';
	EXPECT_INT(privs_give_socket(&pv, q, err, sizeof(err)), -1);
	EXPECT_HAS(err, "is no longer the socket bound (a file of uid 0)");
	EXPECT_INT(owner(q), 0);
	CU_ASSERT_FATAL(lchown(p, 0, 0) == 0);
	snprintf(q, sizeof(q), "%s/l.sock", dir);
	CU_ASSERT_FATAL(symlink(p, q) == 0);
	EXPECT_INT(privs_give_socket(&pv, q, err, sizeof(err)), -1);
	EXPECT_INT(owner(p), 0);
	snprintf(q, sizeof(q), "%s/none.sock", dir);
	EXPECT_INT(privs_give_socket(&pv, q, err, sizeof(err)), -1);
	EXPECT_HAS(err, "No such file or directory");
}

static void test_drop(void)
{
	struct privs pv;
	char    err[512];
	pid_t   pid;
	int     st;

	memset(&pv, 0, sizeof(pv));
	EXPECT_INT(privs_drop(&pv, err, sizeof(err)), 0);	/* nothing to drop */
	if (geteuid() != 0) {
		fprintf(stderr, "\n(not root: privs_drop not tested)\n");
		return;
	}
	target(&pv);
	if (getpwnam("nobody") == NULL)
		return;			/* initgroups needs a name */
	if ((pid = fork()) == 0) {
		uid_t   r, e, s;

		if (privs_drop(&pv, err, sizeof(err)) < 0) {
			fprintf(stderr, "privs_drop: %s\n", err);
			_exit(1);
		}
		if (getresuid(&r, &e, &s) < 0 || r != pv.uid || e != pv.uid || s != pv.uid)
			_exit(2);
		if (setuid(0) == 0 || seteuid(0) == 0)
			_exit(3);
		if (getgid() != pv.gid || getegid() != pv.gid)
			_exit(4);
		_exit(0);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_INT(WEXITSTATUS(st), 0);
}

static int setup(void)
{
	return tl_tmpdir(dir, sizeof(dir), "test_privs");
}

static int teardown(void)
{
	return tl_rmtree(dir);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "privs", "privs_resolve: none, unknown, self, another", test_resolve },
		{ "privs", "privs_spool_prepare: a new spool", test_prepare_new },
		{ "privs", "privs_spool_prepare: what root left, links", test_prepare_left },
		{ "privs", "privs_give_socket: root's socket, nothing else", test_give_socket },
		{ "privs", "privs_drop: permanent", test_drop },
	};

	return tl_run(tests, NELEM(tests), setup, teardown);
}
