/*++
 * NAME
 *	ts_drv 3
 * SUMMARY
 *	transport service drivers: addresses, sockets, child processes
 * SYNOPSIS
 *	#include "niftp/ts.h"
 *	#include "niftp/ts_int.h"
 *
 *	int ts_addr_parse(const char *s, struct ts_addr *a, char *err, size_t errlen);
 *	const char *ts_addr_str(const struct ts_addr *a, char *buf, size_t len);
 * DESCRIPTION
 *	The system-call half of the transport service (ts.c holds the call
 *	state machine). Address strings are those of DESIGN section 7:
 *	tcp:HOST:PORT (IPv6 literals in brackets), rawtcp:HOST:PORT,
 *	unix:PATH, exec:COMMAND and stdio. A tcp listener may name the host
 *	"*" (or leave it empty) for every local address.
 *
 *	Sockets are created non-blocking and close-on-exec. The exec child
 *	gets one end of a socketpair as both stdin and stdout, default
 *	SIGPIPE handling and an empty signal mask, whatever the parent had.
 *
 *	A Unix listener whose path exists is only replaced when it is a
 *	socket that refuses connections (a leftover of a dead process): a
 *	live listener or a plain file is never removed.
 * DIAGNOSTICS
 *	Errors fill err with the operation, the object and the reason,
 *	e.g. "bind tcp:0.0.0.0:4521: Address already in use".
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "niftp/ts.h"
#include "niftp/ts_int.h"
#include "util/strutil.h"

#define TS_BACKLOG	128

/* seterr - fill an error buffer */
static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* parse_hostport - "HOST:PORT" or "[V6]:PORT" into a */
static int parse_hostport(const char *s, const char *whole, struct ts_addr *a,
	char *err, size_t errlen)
{
	const char *colon, *hs, *he, *p;
	size_t hl, pl;
	uint64_t pn;

	if (*s == '[') {
		hs = s + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':') {
			seterr(err, errlen, "bad address '%s': want [IPV6]:PORT", whole);
			return -1;
		}
		colon = he + 1;
	} else {
		hs = s;
		if ((colon = strrchr(s, ':')) == NULL) {
			seterr(err, errlen, "bad address '%s': no port (want HOST:PORT)", whole);
			return -1;
		}
		he = colon;
		if (memchr(hs, ':', (size_t)(he - hs)) != NULL) {
			seterr(err, errlen, "bad address '%s': put an IPv6 address in brackets",
				whole);
			return -1;
		}
	}
	hl = (size_t)(he - hs);
	pl = strlen(colon + 1);
	if (hl >= sizeof(a->host)) {
		seterr(err, errlen, "bad address '%s': host name too long", whole);
		return -1;
	}
	if (pl == 0 || pl >= sizeof(a->port)) {
		seterr(err, errlen, "bad address '%s': bad port", whole);
		return -1;
	}
	for (p = colon + 1; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')
		    || (*p >= 'A' && *p <= 'Z') || *p == '-')) {
			seterr(err, errlen, "bad address '%s': bad port", whole);
			return -1;
		}
	}
	/* a number past 65535 would be taken modulo 65536 by the resolver */
	if (strspn(colon + 1, "0123456789") == pl && str_to_u64(colon + 1, 0, 65535, &pn) < 0) {
		seterr(err, errlen, "bad address '%s': port %s out of range (0 to 65535)", whole,
		    colon + 1);
		return -1;
	}
	for (p = hs; p < he; p++) {
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == '[' || *p == ']') {
			seterr(err, errlen, "bad address '%s': bad host name", whole);
			return -1;
		}
	}
	memcpy(a->host, hs, hl);
	a->host[hl] = 0;
	memcpy(a->port, colon + 1, pl + 1);
	return 0;
}

/* ts_addr_parse - parse an address string */
int ts_addr_parse(const char *s, struct ts_addr *a, char *err, size_t errlen)
{
	size_t n;

	memset(a, 0, sizeof(*a));
	if (s == NULL)
		s = "";
	if (strncmp(s, "tcp:", 4) == 0) {
		a->kind = TS_TCP;
		return parse_hostport(s + 4, s, a, err, errlen);
	}
	if (strncmp(s, "rawtcp:", 7) == 0) {
		a->kind = TS_RAWTCP;
		return parse_hostport(s + 7, s, a, err, errlen);
	}
	if (strncmp(s, "unix:", 5) == 0) {
		a->kind = TS_UNIX;
		n = strlen(s + 5);
		if (n == 0 || n >= sizeof(a->path)) {
			seterr(err, errlen, "bad address '%s': %s", s,
				n ? "socket path longer than 107 octets" : "no path");
			return -1;
		}
		memcpy(a->path, s + 5, n + 1);
		return 0;
	}
	if (strncmp(s, "exec:", 5) == 0) {
		a->kind = TS_EXEC;
		n = strlen(s + 5);
		if (n == 0 || n >= sizeof(a->cmd)) {
			seterr(err, errlen, "bad address '%.40s...': %s", s,
				n ? "command longer than 1023 octets" : "no command");
			return -1;
		}
		memcpy(a->cmd, s + 5, n + 1);
		return 0;
	}
	if (strcmp(s, "stdio") == 0) {
		a->kind = TS_STDIO;
		return 0;
	}
	seterr(err, errlen, "bad address '%.200s': unknown transport "
		"(want tcp:, rawtcp:, unix:, exec: or stdio)", s);
	return -1;
}

/* ts_addr_str - canonical text of an address */
const char *ts_addr_str(const struct ts_addr *a, char *buf, size_t len)
{
	const char *br = strchr(a->host, ':') ? "[" : "";
	const char *ket = *br ? "]" : "";

	switch (a->kind) {
	case TS_TCP:
	case TS_RAWTCP:
		snprintf(buf, len, "%s:%s%s%s:%s", a->kind == TS_TCP ? "tcp" : "rawtcp",
			br, a->host, ket, a->port);
		break;
	case TS_UNIX:
		snprintf(buf, len, "unix:%s", a->path);
		break;
	case TS_EXEC:
		snprintf(buf, len, "exec:%s", a->cmd);
		break;
	case TS_STDIO:
		snprintf(buf, len, "stdio");
		break;
	}
	return buf;
}

/* ts_drv_sockname - printable socket address */
void ts_drv_sockname(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;
	const struct sockaddr_un *su;

	switch (sa->sa_family) {
	case AF_INET:
		s4 = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(s4->sin_port));
		break;
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(s6->sin6_port));
		break;
	case AF_UNIX:
		su = (const struct sockaddr_un *)(const void *)sa;
		if (salen > (socklen_t)offsetof(struct sockaddr_un, sun_path)
		    && su->sun_path[0])
			snprintf(buf, len, "unix:%.*s", (int)(salen
				- offsetof(struct sockaddr_un, sun_path)), su->sun_path);
		else
			snprintf(buf, len, "unix:");
		break;
	default:
		snprintf(buf, len, "(address family %d)", sa->sa_family);
		break;
	}
}

/* ts_drv_nonblock - make fd non-blocking */
int ts_drv_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ts_drv_resolve - addresses of a tcp/rawtcp address */
int ts_drv_resolve(const struct ts_addr *a, int passive, struct addrinfo **res,
	char *err, size_t errlen)
{
	struct addrinfo hints;
	const char *host = a->host;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if (passive) {
		hints.ai_flags = AI_PASSIVE;
		if (*host == 0 || strcmp(host, "*") == 0)
			host = NULL;
	}
	/*
	 * Literal addresses are the common case and never block; a name
	 * takes the resolver's ordinary (blocking) path.
	 */
	hints.ai_flags |= AI_NUMERICHOST;
	rc = getaddrinfo(host, a->port, &hints, res);
	if (rc == EAI_NONAME && host != NULL) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		rc = getaddrinfo(host, a->port, &hints, res);
	}
	if (rc != 0) {
		seterr(err, errlen, "resolve %s port %s: %s", host ? host : "*", a->port,
			rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	return 0;
}

/* ts_drv_connect - start a non-blocking connect */
int ts_drv_connect(const struct sockaddr *sa, socklen_t salen, int *fdp)
{
	int fd, one = 1, e;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/*
	 * NIFTP is request and response with small commands: Nagle's
	 * algorithm would hold a command back for the delayed ACK of the
	 * previous one. We gather our output ourselves, so it is off.
	 */
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		e = errno;
		close(fd);
		errno = e;
		return -2;
	}
	*fdp = fd;
	return 0;
}

/* ts_drv_listen_tcp - bound and listening TCP socket */
int ts_drv_listen_tcp(const struct ts_addr *a, char *bound, size_t boundlen,
	char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char abuf[300];
	int fd = -1, one = 1, e = 0;

	if (ts_drv_resolve(a, 1, &res, err, errlen) < 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0
		    && listen(fd, TS_BACKLOG) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		seterr(err, errlen, "bind %s: %s", ts_addr_str(a, abuf, sizeof(abuf)),
			strerror(e));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		e = errno;
		close(fd);
		seterr(err, errlen, "getsockname %s: %s", ts_addr_str(a, abuf,
			sizeof(abuf)), strerror(e));
		return -1;
	}
	ts_drv_sockname((struct sockaddr *)&ss, sl, bound, boundlen);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ts_drv_unix_sa - fill a Unix socket address */
socklen_t ts_drv_unix_sa(struct sockaddr_un *su, const char *path)
{
	memset(su, 0, sizeof(*su));
	su->sun_family = AF_UNIX;
	str_copy(su->sun_path, path, sizeof(su->sun_path));
	return (socklen_t)sizeof(*su);
}

/* stale_socket - 1 when path is a socket nobody listens on */
static int stale_socket(const char *path)
{
	struct sockaddr_un su;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&su, ts_drv_unix_sa(&su, path));
	rc = rc < 0 && errno == ECONNREFUSED;
	close(fd);
	return rc;
}

/* ts_drv_listen_unix - bound and listening Unix socket */
int ts_drv_listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un su;
	socklen_t sl = ts_drv_unix_sa(&su, path);
	int fd, e;

	if (strlen(path) >= sizeof(su.sun_path)) {
		seterr(err, errlen, "bind unix:%s: socket path too long", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		seterr(err, errlen, "socket unix:%s: %s", path, strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&su, sl) < 0) {
		e = errno;
		if (e != EADDRINUSE || !stale_socket(path) || unlink(path) < 0
		    || bind(fd, (struct sockaddr *)&su, sl) < 0) {
			close(fd);
			seterr(err, errlen, "bind unix:%s: %s", path, strerror(e));
			return -1;
		}
	}
	if (listen(fd, TS_BACKLOG) < 0) {
		e = errno;
		close(fd);
		(void)unlink(path);
		seterr(err, errlen, "listen unix:%s: %s", path, strerror(e));
		return -1;
	}
	return fd;
}

/* ts_drv_spawn - run a command on a socketpair */
pid_t ts_drv_spawn(const char *cmd, int *fd, char *err, size_t errlen)
{
	int sv[2], e;
	pid_t pid;
	sigset_t none;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		seterr(err, errlen, "socketpair for exec:%s: %s", cmd, strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		e = errno;
		close(sv[0]);
		close(sv[1]);
		seterr(err, errlen, "fork for exec:%s: %s", cmd, strerror(e));
		return -1;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls from here on. */
		(void)signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if (sv[1] == 0 || sv[1] == 1) {
			/* dup2 onto itself keeps close-on-exec: move it away */
			int t = fcntl(sv[1], F_DUPFD, 3);
			if (t < 0)
				_exit(127);
			sv[1] = t;
		}
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	if (ts_drv_nonblock(sv[0]) < 0) {
		e = errno;
		close(sv[0]);
		ts_drv_reap(pid, 0);
		seterr(err, errlen, "fcntl for exec:%s: %s", cmd, strerror(e));
		return -1;
	}
	*fd = sv[0];
	return pid;
}

/* reaped - 1 when pid has been collected (or is not ours) */
static int reaped(pid_t pid)
{
	pid_t r;

	do
		r = waitpid(pid, NULL, WNOHANG);
	while (r < 0 && errno == EINTR);
	return r != 0;
}

/* wait_for - poll for the child's end for up to ms milliseconds */
static int wait_for(pid_t pid, int ms)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	int i;

	for (i = 0; i < ms / 2; i++) {
		if (reaped(pid))
			return 1;
		(void)nanosleep(&ts, NULL);
	}
	return reaped(pid);
}

/* ts_drv_reap - collect the child, ending it if it lingers */
void ts_drv_reap(pid_t pid, int gentle)
{
	pid_t r;

	if (pid <= 0 || reaped(pid))
		return;
	if (gentle && wait_for(pid, 200))
		return;
	(void)kill(pid, SIGTERM);
	if (wait_for(pid, 500))
		return;
	(void)kill(pid, SIGKILL);
	do
		r = waitpid(pid, NULL, 0);
	while (r < 0 && errno == EINTR);
}

/* ts_drv_status - collect an ended child and describe its end */
int ts_drv_status(pid_t pid, char *buf, size_t len)
{
	int st;
	pid_t r;

	if (pid <= 0)
		return 0;
	do
		r = waitpid(pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r != pid)
		return 0;
	if (WIFEXITED(st))
		snprintf(buf, len, " (exit status %d)", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, " (killed by signal %d)", WTERMSIG(st));
	else
		snprintf(buf, len, " (ended)");
	return 1;
}
