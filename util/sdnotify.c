/*++
 * NAME
 *	sdnotify 3
 * SUMMARY
 *	service readiness for systemd's Type=notify, without libsystemd
 * SYNOPSIS
 *	#include "util/sdnotify.h"
 * DESCRIPTION
 *	See sdnotify.h. One datagram per call on a new socket: a state
 *	change is rare (start, reload, stop), and a socket kept open would
 *	be a descriptor every child inherits or a global to manage.
 *--*/
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/sdnotify.h"

/* sdnotify - see sdnotify.h */
int sdnotify(const char *state, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	const char *addr = getenv(SDNOTIFY_ENV);
	size_t  alen, slen = strlen(state);
	socklen_t salen;
	ssize_t n;
	int     fd, e;

	if (addr == NULL || *addr == '\0')
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	alen = strlen(addr);
	if ((addr[0] != '/' && addr[0] != '@') || alen < 2 || alen >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "notify '%s': %s", addr, alen >= sizeof(sa.sun_path)
		    ? "address too long for a Unix socket"
		    : "not an absolute path or an '@' abstract name");
		return -1;
	}
	memcpy(sa.sun_path, addr, alen);
	salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + alen);
	if (addr[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract: the name is the alen octets */
	else
		salen++;		/* a path: with its NUL */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "notify '%s': socket: %s", addr, strerror(errno));
		return -1;
	}
	do
		n = sendto(fd, state, slen, MSG_NOSIGNAL, (struct sockaddr *) &sa, salen);
	while (n < 0 && errno == EINTR);
	e = errno;
	(void) close(fd);
	if (n < 0 || (size_t) n != slen) {
		snprintf(err, errlen, "notify '%s': send: %s", addr, n < 0 ? strerror(e)
		    : "short datagram");
		return -1;
	}
	return 1;
}

/* sdnotify_reloading - see sdnotify.h */
int sdnotify_reloading(char *err, size_t errlen)
{
	struct timespec ts;
	char    state[64];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return sdnotify("RELOADING=1", err, errlen);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000);
	return sdnotify(state, err, errlen);
}
