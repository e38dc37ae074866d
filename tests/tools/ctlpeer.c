/*++
 * NAME
 *	ctlpeer 1
 * SUMMARY
 *	hostile clients of mailrelayd's control socket (tests of its limits)
 * SYNOPSIS
 *	ctlpeer hold PATH N [SECONDS]
 *	ctlpeer stall PATH
 * DESCRIPTION
 *	hold: opens N connections to the Unix socket PATH, one after the
 *	other (a blocking connect with a 5 s SO_SNDTIMEO: a listen backlog
 *	that stays full counts as a connection not made), and sends nothing
 *	on them. Prints "open K" (K connected) once every one was tried,
 *	then, as the far end closes them, "close TEXT" with the first line
 *	it answered (or "-" for none); it ends once every connection is
 *	closed, after SECONDS (default 60), or on SIGTERM, printing "closed
 *	M", "held H" (still open) and "secs S" (from "open" to the last
 *	close).
 *
 *	stall: the attack on a daemon that reads a pipe the client passes
 *	(review item S1): it makes a pipe, sends "submit" with the pipe's
 *	read end (SCM_RIGHTS) and clears O_NONBLOCK on its own copy of it
 *	(they share one open file description), then reads the first
 *	answer line: "first LINE" is printed, and for a descriptor passed
 *	back "passed fifo write-end" (or what it is). It clears O_NONBLOCK on
 *	that one too, writes the start of a letter into it, and races the
 *	daemon for its own pipe (writes an octet, reads it back, many
 *	times: a daemon reading that pipe would now and then find it empty
 *	and block). Then it prints "stalling" and holds everything, without
 *	"end", until standard input ends (or 120 s pass).
 *
 *	A test oracle: plain POSIX (tests/tools/toolnet.h), none of the
 *	code under test. Every wait is bounded.
 * DIAGNOSTICS
 *	Errors on stderr; exit 0, 1 on a failure, 64 on a usage error.
 *--*/
#include <signal.h>
#include <sys/time.h>

#include "tests/tools/toolnet.h"

#define CP_MAX_CONNS	4096
#define CP_CONNECT_S	5		/* a connect may wait this long */
#define CP_LINE_MAX	512		/* an answer line kept */
#define CP_RACE		2000		/* octets raced through the client's own pipe */
#define CP_STALL_S	120		/* stall holds at most this long */

static volatile sig_atomic_t cp_stop;

static void cp_sig(int sig)
{
	(void) sig;
	cp_stop = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: ctlpeer hold PATH N [SECONDS]\n"
	    "       ctlpeer stall PATH\n");
	return 64;
}

/* cp_connect - a blocking connection to the Unix socket path, or -1 */
static int cp_connect(const char *path)
{
	struct sockaddr_un su;
	struct timeval tv = { CP_CONNECT_S, 0 };
	int     fd, e;

	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	if (tn_copy(su.sun_path, sizeof(su.sun_path), path, strlen(path)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	(void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *) &su, sizeof(su)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* keep_line - the first line of b (n octets) into out, once (without
 * its newline, control characters as '?') */
static void keep_line(char *out, size_t len, char *b, size_t n)
{
	size_t  i;

	if (out[0] != '\0')
		return;
	for (i = 0; i < n && b[i] != '\n'; i++)
		if ((unsigned char) b[i] < 0x20 || b[i] == 0x7f)
			b[i] = '?';
	(void) tn_copy(out, len, b, i);
}

static int cmd_hold(const char *path, int n, int secs)
{
	static int fds[CP_MAX_CONNS];
	static char ans[CP_MAX_CONNS][CP_LINE_MAX];
	struct pollfd *pf;
	char    b[CP_LINE_MAX];
	double  t0, end, last;
	int     i, open_n = 0, closed = 0, held, r;
	ssize_t got;

	for (i = 0; i < n; i++)
		if ((fds[i] = cp_connect(path)) >= 0)
			open_n++;
		else
			fprintf(stderr, "ctlpeer: connect '%s' (%d): %s\n", path, i + 1,
			    strerror(errno));
	printf("open %d\n", open_n);
	fflush(stdout);
	if ((pf = calloc((size_t) n, sizeof(*pf))) == NULL)
		return 1;
	t0 = last = tn_now();
	end = t0 + secs;
	held = open_n;
	while (held > 0 && !cp_stop && tn_now() < end) {
		for (i = 0; i < n; i++) {
			pf[i].fd = fds[i];
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		r = poll(pf, (nfds_t) n, 200);
		if (r < 0 && errno != EINTR)
			break;
		for (i = 0; r > 0 && i < n; i++) {
			if (fds[i] < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = recv(fds[i], b, sizeof(b), MSG_DONTWAIT);
			if (got > 0) {
				keep_line(ans[i], sizeof(ans[i]), b, (size_t) got);
				continue;
			}
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			printf("close %s\n", ans[i][0] ? ans[i] : "-");
			fflush(stdout);
			close(fds[i]);
			fds[i] = -1;
			closed++;
			held--;
			last = tn_now();
		}
	}
	printf("closed %d\nheld %d\nsecs %.1f\n", closed, held, last - t0);
	fflush(stdout);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(pf);
	return 0;
}

/* send_fd - line and, with it, fd (SCM_RIGHTS); 0 or -1 */
static int send_fd(int sock, const char *line, int fd)
{
	union {
		struct cmsghdr h;
		char	b[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov;
	struct msghdr m;
	struct cmsghdr *ch;

	memset(&u, 0, sizeof(u));
	memset(&m, 0, sizeof(m));
	iov.iov_base = (void *) line;
	iov.iov_len = strlen(line);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.b;
	m.msg_controllen = sizeof(u.b);
	ch = CMSG_FIRSTHDR(&m);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t) iov.iov_len ? 0 : -1;
}

/* recv_line - the first line on sock (within 10 s) into line, and the
 * descriptor passed with it into *pfd (-1: none); 0 or -1 */
static int recv_line(int sock, char *line, size_t len, int *pfd)
{
	union {
		struct cmsghdr h;
		char	b[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov;
	struct msghdr m;
	struct cmsghdr *ch;
	struct pollfd pf;
	size_t  got = 0;
	ssize_t n;
	char    c;

	*pfd = -1;
	while (got + 1 < len) {
		pf.fd = sock;
		pf.events = POLLIN;
		if (poll(&pf, 1, 10000) <= 0)
			return -1;
		iov.iov_base = &c;
		iov.iov_len = 1;
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = u.b;
		m.msg_controllen = sizeof(u.b);
		if ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) <= 0)
			break;
		for (ch = CMSG_FIRSTHDR(&m); ch != NULL; ch = CMSG_NXTHDR(&m, ch))
			if (ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS
			    && *pfd < 0)
				memcpy(pfd, CMSG_DATA(ch), sizeof(int));
		if (c == '\n')
			break;
		line[got++] = c;
	}
	line[got] = '\0';
	return got > 0 ? 0 : -1;
}

static int cmd_stall(const char *path)
{
	static const char start[] = "bennett@ucl\n\nSubject: stalled\n\n";
	char    line[CP_LINE_MAX], c = 'x';
	struct stat sb;
	struct pollfd pf;
	int     mine[2], sock, w, i, fl;
	double  end;

	if (pipe2(mine, O_CLOEXEC) < 0 || (sock = cp_connect(path)) < 0) {
		fprintf(stderr, "ctlpeer: stall: %s\n", strerror(errno));
		return 1;
	}
	if (send_fd(sock, "submit\n", mine[0]) < 0) {
		fprintf(stderr, "ctlpeer: stall: send: %s\n", strerror(errno));
		return 1;
	}
	/* the attack: the file description passed is ours too */
	(void) fcntl(mine[0], F_SETFL, 0);
	if (recv_line(sock, line, sizeof(line), &w) < 0) {
		printf("first -\n");
		fflush(stdout);
		return 1;
	}
	printf("first %s\n", line);
	if (w >= 0) {
		fl = fcntl(w, F_GETFL);
		printf("passed %s %s\n", fstat(w, &sb) == 0 && S_ISFIFO(sb.st_mode) ? "fifo"
		    : "not-a-fifo", fl >= 0 && (fl & O_ACCMODE) == O_WRONLY ? "write-end"
		    : "readable");
		/* what can be done with it: only writing (its own flags) */
		(void) fcntl(w, F_SETFL, 0);
		(void) tn_write_all(w, start, sizeof(start) - 1);
	} else
		printf("passed none\n");
	/* race whoever else reads our pipe */
	for (i = 0; i < CP_RACE; i++) {
		if (write(mine[1], &c, 1) != 1)
			break;
		pf.fd = mine[0];
		pf.events = POLLIN;
		if (poll(&pf, 1, 0) == 1 && read(mine[0], &c, 1) != 1)
			break;
	}
	printf("stalling\n");
	fflush(stdout);
	end = tn_now() + CP_STALL_S;
	while (!cp_stop && tn_now() < end) {
		pf.fd = 0;
		pf.events = POLLIN;
		if (poll(&pf, 1, 1000) == 1 && read(0, line, sizeof(line)) <= 0)
			break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	uint64_t n, secs = 60;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cp_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 4 && strcmp(argv[1], "hold") == 0) {
		if (tn_parse_u64(argv[3], 1, CP_MAX_CONNS, &n) < 0
		    || (argc == 5 && tn_parse_u64(argv[4], 1, 3600, &secs) < 0) || argc > 5)
			return usage();
		return cmd_hold(argv[2], (int) n, (int) secs);
	}
	if (argc == 3 && strcmp(argv[1], "stall") == 0)
		return cmd_stall(argv[2]);
	return usage();
}
