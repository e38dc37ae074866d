/*++
 * NAME
 *	dgramsink 1
 * SUMMARY
 *	a syslog listener for tests: record the datagrams sent to a socket
 * SYNOPSIS
 *	dgramsink SOCKET OUT READY
 * DESCRIPTION
 *	Binds a Unix datagram socket at SOCKET (mode 0666, as /dev/log is,
 *	so that a daemon that dropped root can still send), writes READY
 *	(atomically) once bound, and appends each datagram received to OUT
 *	as one line: control octets and backslashes shown as \xNN, then a
 *	newline, so that one message is always one line whatever it holds.
 *	The octets are otherwise as sent: a syslog(3) message begins with
 *	"<PRI>", PRI = facility * 8 + severity.
 *
 *	Runs until SIGTERM or SIGINT, then removes SOCKET. It uses none of
 *	util/ (tests/tools/toolnet.h: an independent oracle).
 * DIAGNOSTICS
 *	Exit 0 after a signal, 1 on a failed system call (named on stderr),
 *	64 on a usage error.
 *--*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "tests/tools/toolnet.h"

#define DGRAM_MAX	(64 * 1024)	/* largest datagram kept whole */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

/* escape - msg (n octets) as one line into out (room 4n + 2); its length */
static size_t escape(const unsigned char *msg, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t  i, k = 0;

	for (i = 0; i < n; i++) {
		if (msg[i] < 0x20 || msg[i] == 0x7f || msg[i] == '\\') {
			out[k++] = '\\';
			out[k++] = 'x';
			out[k++] = hex[msg[i] >> 4];
			out[k++] = hex[msg[i] & 0xf];
		} else
			out[k++] = (char) msg[i];
	}
	out[k++] = '\n';
	return k;
}

int main(int argc, char **argv)
{
	static unsigned char msg[DGRAM_MAX];
	static char line[4 * DGRAM_MAX + 2];
	struct sockaddr_un sa;
	struct sigaction act;
	char    err[512];
	ssize_t n;
	int     fd, out;

	if (argc != 4) {
		fprintf(stderr, "usage: dgramsink SOCKET OUT READY\n");
		return 64;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dgramsink: socket path '%s' too long\n", argv[1]);
		return 64;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;	/* no SA_RESTART: recv returns EINTR */
	sigemptyset(&act.sa_mask);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	if ((out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "dgramsink: open '%s': %s\n", argv[2], strerror(errno));
		return 1;
	}
	(void) unlink(argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0
	    || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0
	    || chmod(argv[1], 0666) < 0) {
		fprintf(stderr, "dgramsink: bind '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (tn_write_file_atomic(argv[3], argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "dgramsink: %s\n", err);
		(void) unlink(argv[1]);
		return 1;
	}
	while (!stop) {
		if ((n = recv(fd, msg, sizeof(msg), 0)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "dgramsink: recv: %s\n", strerror(errno));
			break;
		}
		if (tn_write_all(out, line, escape(msg, (size_t) n, line)) < 0) {
			fprintf(stderr, "dgramsink: write '%s': %s\n", argv[2], strerror(errno));
			break;
		}
	}
	(void) unlink(argv[1]);
	close(fd);
	close(out);
	return stop ? 0 : 1;
}
