/*++
 * NAME
 *	test_service 1
 * SUMMARY
 *	unit tests of util/confpath.c and util/sdnotify.c
 * SYNOPSIS
 *	build/tests/test_service
 * DESCRIPTION
 *	confpath_find() for a table of -c, environment and default
 *	choices, the files there or not, and the messages of the missing
 *	ones. sdnotify() into a datagram socket bound here, by path and by
 *	abstract name: the exact octets received; nothing sent and 0 without
 *	NOTIFY_SOCKET; malformed addresses and a socket nobody listens on
 *	give -1 with a reason that names the address.
 *--*/
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/tl_test.h"
#include "util/confpath.h"
#include "util/sdnotify.h"
#include "util/version.h"

static char tdir[PATH_MAX / 2];	/* short: room for the names added */

#define ENV	"TEST_SERVICE_CONF"

static void test_confpath(void)
{
	char    there[PATH_MAX], gone[PATH_MAX], err[512];
	static const struct {
		int	opt;		/* 0 none, 1 there, 2 gone */
		int	env;		/* the same, for $ENV; 3: set but empty */
		int	dflt;		/* 1 there, 2 gone */
		int	want;
		int	want_path;	/* 1 there, 2 gone */
		enum confpath_from from;
		const char *msg;
	} t[] = {
		{ 1, 2, 2, 0, 1, CONFPATH_OPTION, NULL },
		{ 2, 1, 1, 0, 2, CONFPATH_OPTION, NULL },	/* -c: the loader says */
		{ 0, 1, 2, 0, 1, CONFPATH_ENV, NULL },
		{ 0, 2, 1, -1, 2, CONFPATH_ENV, "(from $" ENV ") does not exist" },
		{ 0, 0, 1, 0, 1, CONFPATH_DEFAULT, NULL },
		{ 0, 3, 1, 0, 1, CONFPATH_DEFAULT, NULL },	/* empty: as unset */
		{ 0, 0, 2, -1, 2, CONFPATH_DEFAULT, "does not exist (give -c FILE, or set " ENV ")" },
	};
	const char *path;
	enum confpath_from from;
	size_t  i;

	snprintf(there, sizeof(there), "%s/there.ini", tdir);
	snprintf(gone, sizeof(gone), "%s/gone/x.ini", tdir);
	EXPECT_INT(tl_write_file(there, "[node]\n"), 0);
	for (i = 0; i < NELEM(t); i++) {
		const char *opt = t[i].opt == 1 ? there : t[i].opt == 2 ? gone : NULL;

		if (t[i].env == 0)
			unsetenv(ENV);
		else
			setenv(ENV, t[i].env == 1 ? there : t[i].env == 2 ? gone : "", 1);
		err[0] = '\0';
		EXPECT_INT(confpath_find(opt, ENV, t[i].dflt == 1 ? there : gone, &path, &from, err,
		    sizeof(err)), t[i].want);
		EXPECT_STR(path, t[i].want_path == 1 ? there : gone);
		EXPECT_INT(from, t[i].from);
		if (t[i].msg != NULL) {
			EXPECT_HAS(err, t[i].msg);
			EXPECT_HAS(err, gone);
		} else
			EXPECT_STR(err, "");
	}
	unsetenv(ENV);
	/* no variable at all: the message does not offer one */
	EXPECT_INT(confpath_find(NULL, NULL, gone, &path, NULL, err, sizeof(err)), -1);
	EXPECT_HAS(err, "does not exist (give -c FILE)");
}

/* bind_dgram - a datagram socket bound to path (abstract when it starts
 * with '@'); the descriptor or -1 */
static int bind_dgram(const char *path)
{
	struct sockaddr_un sa;
	socklen_t len;
	int     fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	else
		len++;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *) &sa, len) < 0) {
		fprintf(stderr, "bind '%s': %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* recv_text - one datagram (waiting at most a second) as a string */
static const char *recv_text(int fd, char *buf, size_t len)
{
	struct timeval tv = { 1, 0 };
	ssize_t n;

	(void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_sdnotify(void)
{
	char    path[PATH_MAX], abs[64], buf[SDNOTIFY_MAX], err[512];
	int     fd;

	unsetenv(SDNOTIFY_ENV);
	EXPECT_INT(sdnotify("READY=1", err, sizeof(err)), 0);
	setenv(SDNOTIFY_ENV, "", 1);
	EXPECT_INT(sdnotify("READY=1", err, sizeof(err)), 0);

	snprintf(path, sizeof(path), "%s/notify", tdir);
	fd = bind_dgram(path);
	EXPECT_TRUE(fd >= 0);
	setenv(SDNOTIFY_ENV, path, 1);
	EXPECT_INT(sdnotify("READY=1\nSTATUS=up", err, sizeof(err)), 1);
	EXPECT_STR(recv_text(fd, buf, sizeof(buf)), "READY=1\nSTATUS=up");
	EXPECT_INT(sdnotify_reloading(err, sizeof(err)), 1);
	EXPECT_HAS(recv_text(fd, buf, sizeof(buf)), "RELOADING=1\nMONOTONIC_USEC=");
	close(fd);
	/* nobody listens there any more */
	EXPECT_INT(sdnotify("STOPPING=1", err, sizeof(err)), -1);
	EXPECT_HAS(err, path);

	snprintf(abs, sizeof(abs), "@test_service.%ld", (long) getpid());
	fd = bind_dgram(abs);
	EXPECT_TRUE(fd >= 0);
	setenv(SDNOTIFY_ENV, abs, 1);
	EXPECT_INT(sdnotify("STOPPING=1", err, sizeof(err)), 1);
	EXPECT_STR(recv_text(fd, buf, sizeof(buf)), "STOPPING=1");
	close(fd);

	setenv(SDNOTIFY_ENV, "relative/sock", 1);
	EXPECT_INT(sdnotify("READY=1", err, sizeof(err)), -1);
	EXPECT_HAS(err, "notify 'relative/sock': not an absolute path");
	setenv(SDNOTIFY_ENV, "@", 1);
	EXPECT_INT(sdnotify("READY=1", err, sizeof(err)), -1);
	memset(buf, 'x', 200);
	buf[0] = '/';
	buf[200] = '\0';
	setenv(SDNOTIFY_ENV, buf, 1);
	EXPECT_INT(sdnotify("READY=1", err, sizeof(err)), -1);
	EXPECT_HAS(err, "too long");
	unsetenv(SDNOTIFY_ENV);
}

static void test_version(void)
{
	EXPECT_STR(VERSION_LINE("mailrelayd"), "mailrelayd (niftpmail) " NIFTPMAIL_VERSION);
}

int main(void)
{
	static const struct tl_test tests[] = {
		{ "confpath", "-c, environment, default; missing ones", test_confpath },
		{ "sdnotify", "datagrams by path and abstract name; failures", test_sdnotify },
		{ "version", "the --version line", test_version },
	};
	int     rc;

	if (tl_tmpdir(tdir, sizeof(tdir), "test_service") < 0)
		return 1;
	rc = tl_run(tests, NELEM(tests), NULL, NULL);
	tl_rmtree(tdir);
	return rc;
}
