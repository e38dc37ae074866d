/*++
 * NAME
 *	ctl_ops 3
 * SUMMARY
 *	mailctl: operator commands on letters (view)
 * SYNOPSIS
 *	#include "relay/ctl_ops.h"
 * DESCRIPTION
 *	mailctl view [--all] [--lines N] NAME: the letter NAME as this node
 *	holds it (in/, queue/, hold/, dead/ or corrupt/, looked up in that
 *	order), read-only: the state, the address list, the message
 *	header and the first N lines of the body (default 20), or the
 *	whole letter with --all. Reading needs no daemon and changes
 *	nothing. With --archive, the copy ARCHIVE/NAME.gz ([archive] dir,
 *	relay/archive.h) is shown instead, decompressed while it is read.
 *	(hold, release, delete, retry, bounce: relay/ctl_sel.c; forward,
 *	reroute: requests to the daemon, relay/ctl.c.)
 *
 *	ctl_spool_readable(): what the readers without the daemon (queue
 *	when the daemon does not answer, stats, trace) need of the spool,
 *	checked before they read it, because they take a directory or a
 *	file they cannot open for an empty one (an empty queue, no record).
 * DIAGNOSTICS
 *	A spool, directory or file that cannot be read (view: the letter,
 *	or a directory on the way to it) is named with the reason,
 *	"mailctl: view: cannot read 'PATH': Permission denied"; the exit
 *	status is then 77 (EX_NOPERM) for EACCES and EPERM, 1 otherwise.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "relay/conf.h"
#include "relay/ctl_ops.h"
#include "relay/relayd.h"
#include "util/strutil.h"


static const char view_help[] =
"Usage: mailctl [-c NODE.ini] view [--all] [--lines N] [--archive] NAME\n"
"Show a letter held by this node (in/, queue/, hold/, dead/, corrupt/):\n"
"its state, address list, header and the first N lines of the body\n"
"(default 20), or all of it with --all. --archive shows the archived copy\n"
"([archive] dir, NAME.gz) instead. Read-only.\n"
"Exit status: 0 shown, 1 no such letter (or it cannot be read), 64 usage,\n"
"77 permission denied (the spool, or the letter, cannot be read).\n";

/* ctl_usage - see ctl_ops.h */
int ctl_usage(const char *cmd, const char *help, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "mailctl: %s: ", cmd);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "%.*s\nTry 'mailctl %s --help'.\n", (int) strcspn(help, "\n"), help, cmd);
	return RX_USAGE;
}

/* perm_rc - the exit status of a read that failed with errno e */
static int perm_rc(int e)
{
	return e == EACCES || e == EPERM ? RX_NOPERM : RX_OTHER;
}

/* blame - the path to name for a failure e on path: for a permission
 * error the first directory on the way that may not be searched (the
 * spool of mode 0700, rather than the letter in it), else path */
static void blame(const char *path, int e, char *dst, size_t len)
{
	char    p[PATH_MAX];
	size_t  i;

	str_copy(dst, path, len);
	if ((e != EACCES && e != EPERM) || str_copy(p, path, sizeof(p)) >= sizeof(p))
		return;
	for (i = 1; p[i] != '\0'; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		if (faccessat(AT_FDCWD, p, X_OK, AT_EACCESS) < 0
		    && (errno == EACCES || errno == EPERM)) {
			str_copy(dst, p, len);
			return;
		}
		p[i] = '/';
	}
}

/* cannot - "cannot read 'PATH': REASON" into err for a failure e on
 * path; the exit status */
static int cannot(const char *path, int e, char *err, size_t errlen)
{
	char    who[PATH_MAX];

	blame(path, e, who, sizeof(who));
	snprintf(err, errlen, "cannot read '%s': %s", who, strerror(e));
	return perm_rc(e);
}

/* readable - path may be read (mode: R_OK, or R_OK | X_OK for a
 * directory to list), or is not there (its reader says so); 0, or the
 * exit status with err */
static int readable(const char *path, int mode, char *err, size_t errlen)
{
	if (faccessat(AT_FDCWD, path, mode, AT_EACCESS) == 0 || errno == ENOENT)
		return 0;
	return cannot(path, errno, err, errlen);
}

/* is_journal - SPOOL/journal or a rotated SPOOL/journal.N */
static int is_journal(const char *name)
{
	uint64_t n;

	return strcmp(name, "journal") == 0 || (strncmp(name, "journal.", 8) == 0
	    && str_to_u64(name + 8, 1, 999999999, &n) == 0);
}

/* is_envfile - queue/LETTER_l or queue/LETTER_f_HOP: an envelope file
 * of an older version, read by queue_list_dir() (letters are only
 * stat()ed; their envelopes are docket records) */
static int is_envfile(const char *name)
{
	const char *us = strchr(name, '_');

	return name[0] != '.' && us != NULL && ((us[1] == 'l' && us[2] == '\0')
	    || (us[1] == 'f' && us[2] == '_'));
}

/* ctl_spool_readable - can cmd ("trace": the journals; "queue" or
 * "stats": the journals, the docket snapshots, queue/ with its
 * envelope files, in/ and hold/) read the spool directory spool? 0,
 * or the exit status (77 for EACCES and EPERM, else 1) with err,
 * "cannot read 'PATH': REASON". Whatever is not there is left to the
 * reader (which has its own message for a missing spool). */
int ctl_spool_readable(const char *spool, const char *cmd, char *err, size_t errlen)
{
	static const char *const dirs[] = { "queue", "in", "hold", "dockets" };
	int     all = strcmp(cmd, "trace") != 0, rc = 0;
	char    path[PATH_MAX];
	struct dirent *de;
	size_t  i;
	DIR    *d;

	if ((rc = readable(spool, R_OK | X_OK, err, errlen)) != 0)
		return rc;
	if ((d = opendir(spool)) == NULL)
		return errno == ENOENT ? 0 : cannot(spool, errno, err, errlen);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (!is_journal(de->d_name) && !(all && (strcmp(de->d_name, "dockets.snap") == 0
		    || strcmp(de->d_name, "dockets.snap.1") == 0)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", spool, de->d_name);
		rc = readable(path, R_OK, err, errlen);
	}
	closedir(d);
	for (i = 0; all && rc == 0 && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", spool, dirs[i]);
		rc = readable(path, R_OK | X_OK, err, errlen);
	}
	if (!all || rc != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/queue", spool);
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : cannot(path, errno, err, errlen);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (!is_envfile(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/queue/%s", spool, de->d_name);
		rc = readable(path, R_OK, err, errlen);
	}
	closedir(d);
	return rc;
}

/* name_ok - a spool name: [A-Za-z0-9._-], not starting with '.' */
static int name_ok(const char *s)
{
	size_t  i;

	if (s[0] == '\0' || s[0] == '.' || strlen(s) > 200)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
		    || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* A letter being shown: a plain file or an archived gzip copy. */
struct vsrc {
	FILE   *fp;
	gzFile	gz;
};

/* vgets - the next line (cut at len-1 octets), or NULL at the end */
static char *vgets(struct vsrc *v, char *line, int len)
{
	return v->gz != NULL ? gzgets(v->gz, line, len) : fgets(line, len, v->fp);
}

/* ctl_view - mailctl view */
int ctl_view(const struct conf *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "lines", required_argument, NULL, 'n' },
		{ "archive", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const states[] = { "in", "queue", "hold", "dead", "corrupt" };
	char    path[4200], line[8192], err[PATH_MAX + 128];
	const char *name, *st = NULL;
	uint64_t n = 20;
	int     o, all = 0, part = 0, arch = 0, zerr, rc = RX_OK;
	struct vsrc v = { NULL, NULL };
	unsigned long body = 0;
	size_t  i;
	FILE   *fp = NULL;

	optind = 0;
	while ((o = getopt_long(argc, argv, "an:h", lo, NULL)) != -1) {
		switch (o) {
		case 'a':
			all = 1;
			break;
		case 'A':
			arch = 1;
			break;
		case 'n':
			if (str_to_u64(optarg, 0, 1000000, &n) < 0)
				return ctl_usage("view", view_help, "--lines wants a number "
				    "of lines (0 to 1000000), not '%s'", optarg);
			break;
		case 'h':
			fputs(view_help, stdout);
			return RX_OK;
		default:
			/* getopt said what */
			return ctl_usage("view", view_help, NULL);
		}
	}
	if (optind == argc)
		return ctl_usage("view", view_help, "no NAME: the letter's name, as 'mailctl "
		    "queue' shows it");
	if (optind < argc - 1)
		return ctl_usage("view", view_help, "one NAME at a time ('%s' is one too many)",
		    argv[optind + 1]);
	if (!name_ok(argv[optind]))
		return ctl_usage("view", view_help, "'%s' is not a letter's name (letters, digits,"
		    " '.', '-' and '_', as 'mailctl queue' shows it)", argv[optind]);
	if (c == NULL)
		return CTL_ARGS_OK;
	name = argv[optind];
	if (arch) {
		struct stat ast;
		char    when[32];
		size_t  nl = strlen(name);

		if (nl > 3 && strcmp(name + nl - 3, ".gz") == 0)
			nl -= 3;
		snprintf(path, sizeof(path), "%s/%.*s.gz", c->archive_dir, (int) nl, name);
		errno = 0;
		if ((v.gz = gzopen(path, "rbe")) == NULL || stat(path, &ast) < 0) {
			int     e = errno;

			if (v.gz != NULL)
				gzclose(v.gz);
			if (e == EACCES || e == EPERM) {
				rc = cannot(path, e, err, sizeof(err));
				fprintf(stderr, "mailctl: view: %s\n", err);
				return rc;
			}
			fprintf(stderr, "mailctl: view: no archived letter '%.*s': open '%s': %s\n",
			    (int) nl, name, path, e ? strerror(e) : "out of memory");
			return RX_OTHER;
		}
		printf("letter %.*s at %s, archived copy '%s' (%s)\n", (int) nl, name, c->name,
		    path, str_iso8601(ast.st_mtime, when, sizeof(when)));
		goto show;
	}
	/* a state that may not be read is passed over: the letter may be in
	 * another (a letter is in one state); not found, that is the error */
	for (i = 0; i < sizeof(states) / sizeof(states[0]) && fp == NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", c->spool, states[i], name);
		if ((fp = fopen(path, "re")) != NULL)
			st = states[i];
		else if (errno == EACCES || errno == EPERM) {
			if (rc == RX_OK)
				rc = cannot(path, errno, err, sizeof(err));
		} else if (errno != ENOENT) {
			rc = cannot(path, errno, err, sizeof(err));
			fprintf(stderr, "mailctl: view: %s\n", err);
			return rc;
		}
	}
	if (fp == NULL && rc != RX_OK) {
		fprintf(stderr, "mailctl: view: %s\n", err);
		return rc;
	}
	if (fp == NULL) {
		fprintf(stderr, "mailctl: view: no letter '%s' at %s (in/, queue/, hold/, dead/, "
		    "corrupt/); 'mailctl trace %s' tells what became of it\n", name, c->name, name);
		return RX_OTHER;
	}
	printf("letter %s at %s, in %s/\n", name, c->name, st);
	v.fp = fp;
show:
	/* address list, blank line(s), header, blank line, body */
	while (vgets(&v, line, sizeof(line)) != NULL) {
		int     is_blank = strspn(line, " \t\r\n") == strlen(line);

		if (part == 0 && is_blank) {
			part = 1;
			printf("\n");
			continue;
		}
		if (part == 1 && is_blank)
			continue;
		if (part == 1)
			part = 2;
		if (part == 2 && is_blank) {
			part = 3;
			fputs(line, stdout);
			continue;
		}
		if (part == 3 && !all && body >= n) {
			printf("[... more; --all shows the whole letter]\n");
			break;
		}
		if (part == 3)
			body++;
		fputs(line, stdout);
	}
	if (v.gz != NULL) {
		const char *ze = gzerror(v.gz, &zerr);

		if (zerr != Z_OK && zerr != Z_STREAM_END) {
			fprintf(stderr, "mailctl: view: read '%s': %s\n", path,
			    zerr == Z_ERRNO ? strerror(errno) : ze);
			gzclose(v.gz);
			return RX_OTHER;
		}
		gzclose(v.gz);
		return RX_OK;
	}
	if (ferror(fp)) {
		fprintf(stderr, "mailctl: view: read '%s': %s\n", path, strerror(errno));
		fclose(fp);
		return RX_OTHER;
	}
	fclose(fp);
	return RX_OK;
}
