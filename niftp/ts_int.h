/*++
 * NAME
 *	ts_int 3h
 * SUMMARY
 *	transport service internals shared by ts.c and ts_drv.c
 * SYNOPSIS
 *	#include "niftp/ts_int.h"
 * DESCRIPTION
 *	The system-call side of the drivers: address resolution, sockets
 *	that connect or listen, the child process of exec:, and printable
 *	socket addresses. Not for use outside the transport service.
 *--*/
#ifndef NIFTP_TS_INT_H
#define NIFTP_TS_INT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "niftp/ts.h"

struct addrinfo;
struct sockaddr_un;

/* ts_drv_sockname - "1.2.3.4:port" or "[v6]:port" of a socket address */
void ts_drv_sockname(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len);
/* ts_drv_nonblock - make fd non-blocking; 0 or -1 (errno) */
int  ts_drv_nonblock(int fd);
/* ts_drv_resolve - addresses of a tcp/rawtcp address (passive: for bind);
 * 0, or -1 with err ("resolve HOST: reason") */
int  ts_drv_resolve(const struct ts_addr *a, int passive, struct addrinfo **res,
	char *err, size_t errlen);
/* ts_drv_connect - start a non-blocking connect to one socket address;
 * 0 with the socket in *fd, -1 (errno) when no socket could be made,
 * -2 (errno) when the connect failed at once */
int  ts_drv_connect(const struct sockaddr *sa, socklen_t salen, int *fd);
/* ts_drv_unix_sa - a Unix socket address for path (truncated to fit) */
socklen_t ts_drv_unix_sa(struct sockaddr_un *su, const char *path);
/* ts_drv_listen_tcp - bound and listening socket; its address in bound
 * ("HOST:PORT" with the real port); -1 with err */
int  ts_drv_listen_tcp(const struct ts_addr *a, char *bound, size_t boundlen,
	char *err, size_t errlen);
/* ts_drv_listen_unix - bound and listening Unix socket (a stale socket file
 * nobody listens on is replaced); -1 with err */
int  ts_drv_listen_unix(const char *path, char *err, size_t errlen);
/* ts_drv_spawn - run /bin/sh -c cmd with its stdin and stdout on one end of
 * a socketpair; our end in *fd (non-blocking); the pid, or -1 with err */
pid_t ts_drv_spawn(const char *cmd, int *fd, char *err, size_t errlen);
/* ts_drv_reap - collect the child; gentle: it was told to finish (its
 * input is closed), so give it a moment before SIGTERM, then SIGKILL */
void ts_drv_reap(pid_t pid, int gentle);
/* ts_drv_status - if the child has ended, collect it, describe how in buf
 * (" (exit status 1)") and return 1; else 0 */
int  ts_drv_status(pid_t pid, char *buf, size_t len);

#endif
