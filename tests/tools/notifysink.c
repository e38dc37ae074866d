/*++
 * NAME
 *	notifysink 1
 * SUMMARY
 *	a service manager's notification socket, for tests of Type=notify
 * SYNOPSIS
 *	notifysink [--ready-file FILE] SOCKET OUTFILE
 * DESCRIPTION
 *	Binds a datagram socket (AF_UNIX) at SOCKET, a path, or an
 *	abstract name when it starts with '@', as systemd does for
 *	NOTIFY_SOCKET (a path mode 0666, as systemd's: a daemon that has
 *	become another user still reaches it); then writes "bound\n" to the ready file (atomically)
 *	and appends every datagram it receives to OUTFILE as one line, its
 *	newlines (between the VAR=VALUE assignments) made spaces:
 *
 *	  READY=1 STATUS=node ucl ready
 *	  RELOADING=1 MONOTONIC_USEC=123456789
 *
 *	A datagram with a NUL or another control octet is written with
 *	"BAD " in front, so the test sees it. SIGTERM or SIGINT: unlink a
 *	SOCKET path and exit 0.
 *
 *	Like every tool here it uses none of util/: the code under test
 *	(util/sdnotify.c) cannot hide its own mistakes in it.
 * DIAGNOSTICS
 *	Exit 0 after SIGTERM, 64 usage, 1 when the socket cannot be bound
 *	or OUTFILE written.
 *--*/
#include <signal.h>
#include <stddef.h>

#include "tests/tools/toolnet.h"

#define NS_DGRAM_MAX	4096	/* the longest datagram kept whole */

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void) sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: notifysink [--ready-file FILE] SOCKET OUTFILE\n");
	exit(64);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa;
	struct sigaction sig;
	const char *ready = NULL, *path, *out;
	char    buf[NS_DGRAM_MAX + 1], line[NS_DGRAM_MAX + 8], err[512];
	socklen_t salen;
	size_t  plen, i, n;
	ssize_t got;
	int     fd, ofd, a = 1, bad;

	if (argc > 2 && strcmp(argv[1], "--ready-file") == 0) {
		ready = argv[2];
		a = 3;
	}
	if (argc - a != 2)
		usage();
	path = argv[a];
	out = argv[a + 1];
	plen = strlen(path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (plen < 2 || plen >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		usage();
	memcpy(sa.sun_path, path, plen);
	salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	else {
		salen++;
		(void) unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0
	    || bind(fd, (struct sockaddr *) &sa, salen) < 0) {
		fprintf(stderr, "notifysink: bind '%s': %s\n", path, strerror(errno));
		return 1;
	}
	if (path[0] == '/' && chmod(path, 0666) < 0) {
		fprintf(stderr, "notifysink: chmod '%s': %s\n", path, strerror(errno));
		return 1;
	}
	if ((ofd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "notifysink: open '%s': %s\n", out, strerror(errno));
		return 1;
	}
	memset(&sig, 0, sizeof(sig));
	sig.sa_handler = on_stop;
	sigemptyset(&sig.sa_mask);
	(void) sigaction(SIGTERM, &sig, NULL);	/* no SA_RESTART: recv returns */
	(void) sigaction(SIGINT, &sig, NULL);
	if (ready != NULL && tn_write_file_atomic(ready, "bound\n", err, sizeof(err)) < 0) {
		fprintf(stderr, "notifysink: %s\n", err);
		return 1;
	}
	while (!stop) {
		got = recv(fd, buf, NS_DGRAM_MAX, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notifysink: recv: %s\n", strerror(errno));
			return 1;
		}
		bad = 0;
		for (i = 0; i < (size_t) got; i++) {
			if (buf[i] == '\n')
				buf[i] = ' ';
			else if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f) {
				buf[i] = '?';
				bad = 1;
			}
		}
		n = (size_t) snprintf(line, sizeof(line), "%s%.*s\n", bad ? "BAD " : "", (int) got,
		    buf);
		if (tn_write_all(ofd, line, n < sizeof(line) ? n : sizeof(line) - 1) < 0) {
			fprintf(stderr, "notifysink: write '%s': %s\n", out, strerror(errno));
			return 1;
		}
	}
	if (path[0] == '/')
		(void) unlink(path);
	return 0;
}
