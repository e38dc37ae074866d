/*++
 * NAME
 *	rusage 1
 * SUMMARY
 *	run a command; report its exit status, wall time and peak RSS
 * SYNOPSIS
 *	rusage [-o FILE] [--] COMMAND [ARGS...]
 * DESCRIPTION
 *	Runs COMMAND (found on PATH) as a child, waits for it and prints
 *	one line to standard error:
 *
 *	  rusage: status=0 wall=1.234s maxrss=5120KiB user=0.10s sys=0.20s cmd=niftp
 *
 *	maxrss is getrusage(RUSAGE_CHILDREN) ru_maxrss: the peak resident
 *	set of the largest waited-for descendant, in KiB. When the child
 *	was killed by a signal, status is 128 + the signal number and
 *	"signal=N" is added. With -o the same line is also written to
 *	FILE (replacing it), so a script need not pick it out of the
 *	command's own diagnostics.
 *
 *	SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to rusage are passed on
 *	to the child, so a benchmark can stop a server wrapped in rusage
 *	with SIGTERM to rusage's pid and still get the figures.
 * DIAGNOSTICS
 *	Exits with the command's exit status (128 + N after signal N),
 *	127 when it cannot be found (126 when it cannot be run), 64 on a
 *	usage error.
 *--*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "tests/tools/toolnet.h"

extern char **environ;

/* The child's pid, for the signal handler (the only global). */
static volatile sig_atomic_t child_pid;

/* forward - pass a terminating signal on to the child */
static void forward(int sig)
{
	if (child_pid > 0)
		(void) kill((pid_t) child_pid, sig);
}

static void usage(void)
{
	fprintf(stderr, "usage: rusage [-o FILE] [--] COMMAND [ARGS...]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *outfile = NULL;
	struct sigaction sa;
	sigset_t block, old, dfl;
	posix_spawnattr_t attr;
	struct rusage ru;
	char line[1024];
	double t0, wall;
	int i = 1, st, status, sig = 0, fd, rc;
	pid_t pid, w;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			outfile = argv[i + 1];
			i += 2;
			continue;
		}
		usage();
	}
	if (i >= argc)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);

	/* Block the forwarded signals until child_pid is set, so none is lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &old);
	/* posix_spawn (vfork-like in glibc) rather than fork: a forked copy
	 * of this process would count towards the child's ru_maxrss. */
	posix_spawnattr_init(&attr);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGQUIT);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setsigmask(&attr, &old);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	t0 = tn_now();
	rc = posix_spawnp(&pid, argv[i], NULL, &attr, argv + i, environ);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		fprintf(stderr, "rusage: run '%s': %s\n", argv[i], strerror(rc));
		return rc == ENOENT ? 127 : 126;
	}
	child_pid = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	wall = tn_now() - t0;
	child_pid = 0;
	if (w < 0) {
		fprintf(stderr, "rusage: waitpid: %s\n", strerror(errno));
		return 127;
	}
	if (WIFSIGNALED(st)) {
		sig = WTERMSIG(st);
		status = 128 + sig;
	} else
		status = WEXITSTATUS(st);
	memset(&ru, 0, sizeof(ru));
	(void) getrusage(RUSAGE_CHILDREN, &ru);

	if (sig)
		snprintf(line, sizeof(line), "rusage: status=%d signal=%d wall=%.3fs maxrss=%ldKiB "
			"user=%.2fs sys=%.2fs cmd=%s\n", status, sig, wall, ru.ru_maxrss,
			(double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			(double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, argv[i]);
	else
		snprintf(line, sizeof(line), "rusage: status=%d wall=%.3fs maxrss=%ldKiB "
			"user=%.2fs sys=%.2fs cmd=%s\n", status, wall, ru.ru_maxrss,
			(double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			(double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, argv[i]);
	(void) tn_write_all(2, line, strlen(line));
	if (outfile != NULL) {
		fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || tn_write_all(fd, line, strlen(line)) < 0 || close(fd) < 0)
			fprintf(stderr, "rusage: write '%s': %s\n", outfile, strerror(errno));
	}
	return status;
}
