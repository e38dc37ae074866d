/*++
 * NAME
 *	sdnotify 3h
 * SUMMARY
 *	service readiness for systemd's Type=notify, without libsystemd
 * SYNOPSIS
 *	#include "util/sdnotify.h"
 * DESCRIPTION
 *	The service manager's notification protocol (sd_notify(3)): when
 *	the environment variable NOTIFY_SOCKET is set, the daemon sends
 *	each state change as one datagram of newline-separated VAR=VALUE
 *	assignments ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...",
 *	"MAINPID=N") to the AF_UNIX socket it names: a path, or an
 *	abstract name when it starts with '@'. Without NOTIFY_SOCKET
 *	nothing is sent and nothing fails, so a daemon calls these
 *	unconditionally.
 *
 *	A failed notification never stops a daemon (the manager may have
 *	gone, the service still works): the caller logs the reason.
 *	NOTIFY_SOCKET is left in the environment; a child that is no
 *	daemon of ours ignores it, and systemd only believes the main
 *	process (NotifyAccess=main).
 *--*/
#ifndef UTIL_SDNOTIFY_H
#define UTIL_SDNOTIFY_H

#include <stddef.h>

#define SDNOTIFY_ENV	"NOTIFY_SOCKET"
#define SDNOTIFY_MAX	512	/* longest state a caller builds (a datagram) */

/* sdnotify - send state (assignments separated by '\n', not empty) to
 * $NOTIFY_SOCKET. 1 when sent; 0 when NOTIFY_SOCKET is not set or empty
 * (nothing to do); -1 with err ("notify 'ADDR': REASON") when the
 * address is malformed or the datagram could not be sent whole. */
int sdnotify(const char *state, char *err, size_t errlen);

/* sdnotify_reloading - "RELOADING=1" with MONOTONIC_USEC= (the time of
 * the reload's start, which systemd's Type=notify-reload asks for; older
 * managers ignore it). Returns as sdnotify(). */
int sdnotify_reloading(char *err, size_t errlen);

#endif
