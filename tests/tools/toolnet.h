/*++
 * NAME
 *	toolnet 3h
 * SUMMARY
 *	small plain-POSIX helpers shared by the test tools
 * SYNOPSIS
 *	#include "tests/tools/toolnet.h"
 * DESCRIPTION
 *	Address parsing (tcp:HOST:PORT, tcp:[V6]:PORT, rawtcp:HOST:PORT,
 *	unix:PATH), listening and bounded connecting, full writes, the
 *	atomic ready file, bounded number parsing and a monotonic clock.
 *
 *	The test tools are independent oracles: they deliberately use
 *	none of util/ or niftp/, so a bug in the code under test cannot
 *	hide itself in the tool that checks it. Everything here is static
 *	inline so each tool compiles it on its own without warnings for
 *	what it does not use.
 *
 *	Functions that can fail return -1 and fill err (if not NULL) with
 *	"operation 'object': reason".
 *--*/
#ifndef TESTS_TOOLS_TOOLNET_H
#define TESTS_TOOLS_TOOLNET_H

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

enum tn_kind { TN_TCP, TN_UNIX };

/* A parsed address. prefix keeps the scheme as given (tcp, rawtcp, unix). */
struct tn_addr {
	enum tn_kind kind;
	char	prefix[8];
	char	host[256];
	char	port[16];
	char	path[108];
};

/* tn_now - CLOCK_MONOTONIC in seconds */
static inline double tn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* tn_parse_u64 - whole string is a decimal number in [min,max]; 0 or -1 */
static inline int tn_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return -1;
	for (p = s; *p; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -1;
		d = (unsigned) (*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* tn_copy - bounded string copy that always terminates; -1 if truncated */
static inline int tn_copy(char *dst, size_t size, const char *src, size_t len)
{
	if (size == 0)
		return -1;
	if (len >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/* tn_parse_addr - parse tcp:/rawtcp:HOST:PORT or unix:PATH; 0 or -1 */
static inline int tn_parse_addr(const char *s, struct tn_addr *a, char *err, size_t errlen)
{
	const char *rest, *colon;
	uint64_t port;

	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix:", 5) == 0) {
		a->kind = TN_UNIX;
		(void) tn_copy(a->prefix, sizeof(a->prefix), "unix", 4);
		if (s[5] == '\0' || tn_copy(a->path, sizeof(a->path), s + 5, strlen(s + 5)) < 0)
			goto bad;
		return 0;
	}
	if (strncmp(s, "tcp:", 4) == 0) {
		(void) tn_copy(a->prefix, sizeof(a->prefix), "tcp", 3);
		rest = s + 4;
	} else if (strncmp(s, "rawtcp:", 7) == 0) {
		(void) tn_copy(a->prefix, sizeof(a->prefix), "rawtcp", 6);
		rest = s + 7;
	} else
		goto bad;
	a->kind = TN_TCP;
	if (*rest == '[') {
		const char *close = strchr(rest, ']');

		if (close == NULL || close[1] != ':')
			goto bad;
		if (tn_copy(a->host, sizeof(a->host), rest + 1, (size_t) (close - rest - 1)) < 0)
			goto bad;
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (colon == NULL || colon == rest)
			goto bad;
		if (tn_copy(a->host, sizeof(a->host), rest, (size_t) (colon - rest)) < 0)
			goto bad;
	}
	if (tn_parse_u64(colon + 1, 0, 65535, &port) < 0)
		goto bad;
	(void) tn_copy(a->port, sizeof(a->port), colon + 1, strlen(colon + 1));
	return 0;
bad:
	if (err)
		snprintf(err, errlen, "parse address '%s': want tcp:HOST:PORT, "
			"rawtcp:HOST:PORT or unix:PATH", s);
	return -1;
}

/* tn_set_nonblock - set or clear O_NONBLOCK; 0 or -1 */
static inline int tn_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl);
}

/* tn_sockname - "PREFIX:HOST:PORT" (or unix:PATH) of a bound socket */
static inline int tn_sockname(int fd, const struct tn_addr *a, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (a->kind == TN_UNIX) {
		snprintf(out, outlen, "unix:%s", a->path);
		return 0;
	}
	if (getsockname(fd, (struct sockaddr *) &ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(out, outlen, "%s:[%s]:%u", a->prefix, host, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(out, outlen, "%s:%s:%u", a->prefix, host, port);
	}
	return 0;
}

/* tn_listen - a listening socket (close-on-exec, blocking); its bound
 * address goes into bound. -1 with err. */
static inline int tn_listen(const struct tn_addr *a, int backlog, char *bound,
	size_t boundlen, char *err, size_t errlen)
{
	int fd = -1, one = 1, rc;

	if (a->kind == TN_UNIX) {
		struct sockaddr_un su;

		memset(&su, 0, sizeof(su));
		su.sun_family = AF_UNIX;
		(void) tn_copy(su.sun_path, sizeof(su.sun_path), a->path, strlen(a->path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto syserr;
		(void) unlink(a->path);
		if (bind(fd, (struct sockaddr *) &su, sizeof(su)) < 0 || listen(fd, backlog) < 0)
			goto syserr;
	} else {
		struct addrinfo hints, *res = NULL;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		rc = getaddrinfo(a->host, a->port, &hints, &res);
		if (rc != 0) {
			if (err)
				snprintf(err, errlen, "resolve '%s': %s", a->host, gai_strerror(rc));
			return -1;
		}
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			freeaddrinfo(res);
			goto syserr;
		}
		(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
			freeaddrinfo(res);
			goto syserr;
		}
		freeaddrinfo(res);
	}
	if (tn_sockname(fd, a, bound, boundlen) < 0)
		goto syserr;
	return fd;
syserr:
	if (err)
		snprintf(err, errlen, "listen '%s%s%s': %s", a->kind == TN_UNIX ? a->path : a->host,
			a->kind == TN_UNIX ? "" : ":", a->kind == TN_UNIX ? "" : a->port,
			strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* tn_connect_sa - connect one socket address within timeout_ms; fd (blocking) or -1 */
static inline int tn_connect_sa(int family, const struct sockaddr *sa, socklen_t salen,
	int timeout_ms)
{
	int fd, rc, soerr = 0;
	socklen_t sl = sizeof(soerr);
	struct pollfd pfd;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, sa, salen);
	if (rc < 0 && errno != EINPROGRESS && errno != EAGAIN && errno != EINTR)
		goto fail;
	if (rc < 0) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			rc = poll(&pfd, 1, timeout_ms);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	if (tn_set_nonblock(fd, 0) < 0)
		goto fail;
	return fd;
fail:
	rc = errno;
	close(fd);
	errno = rc;
	return -1;
}

/* tn_connect - connect to a tcp/rawtcp/unix address within timeout_ms;
 * a blocking fd, or -1 with err */
static inline int tn_connect(const struct tn_addr *a, int timeout_ms, char *err, size_t errlen)
{
	int fd = -1, rc;

	if (a->kind == TN_UNIX) {
		struct sockaddr_un su;

		memset(&su, 0, sizeof(su));
		su.sun_family = AF_UNIX;
		(void) tn_copy(su.sun_path, sizeof(su.sun_path), a->path, strlen(a->path));
		fd = tn_connect_sa(AF_UNIX, (struct sockaddr *) &su, sizeof(su), timeout_ms);
		if (fd < 0 && err)
			snprintf(err, errlen, "connect 'unix:%s': %s", a->path, strerror(errno));
		return fd;
	} else {
		struct addrinfo hints, *res = NULL, *ai;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		rc = getaddrinfo(a->host, a->port, &hints, &res);
		if (rc != 0) {
			if (err)
				snprintf(err, errlen, "resolve '%s': %s", a->host, gai_strerror(rc));
			return -1;
		}
		for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
			fd = tn_connect_sa(ai->ai_family, ai->ai_addr, ai->ai_addrlen, timeout_ms);
		rc = errno;
		freeaddrinfo(res);
		if (fd < 0 && err)
			snprintf(err, errlen, "connect '%s:%s': %s", a->host, a->port, strerror(rc));
		if (fd >= 0) {
			int one = 1;

			(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		return fd;
	}
}

/* tn_write_all - write all len bytes to a blocking fd (EINTR, short writes); 0 or -1 */
static inline int tn_write_all(int fd, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t) n;
	}
	return 0;
}

/* tn_write_file_atomic - write text to path via path.tmp and rename; 0 or -1 */
static inline int tn_write_file_atomic(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[4096];
	int fd;

	if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long) getpid()) >= sizeof(tmp)) {
		if (err)
			snprintf(err, errlen, "write '%s': path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	if (tn_write_all(fd, text, strlen(text)) < 0) {
		close(fd);
		(void) unlink(tmp);
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		(void) unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	if (err)
		snprintf(err, errlen, "write '%s': %s", path, strerror(errno));
	return -1;
}

/* tn_rst_close - close a socket abruptly: SO_LINGER 0 makes TCP send RST */
static inline void tn_rst_close(int fd)
{
	struct linger lg;

	if (fd < 0)
		return;
	lg.l_onoff = 1;
	lg.l_linger = 0;
	(void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

#endif
