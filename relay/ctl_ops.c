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
 *	(hold, release, delete, retry, bounce, forward, reroute: requests to
 *	the daemon, relay/ctl.c.)
 *--*/
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "relay/conf.h"
#include "relay/ctl_ops.h"
#include "relay/relayd.h"
#include "util/strutil.h"

static const char view_help[] =
"Usage: mailctl -c NODE.ini view [--all] [--lines N] [--archive] NAME\n"
"Show a letter held by this node (in/, queue/, hold/, dead/, corrupt/):\n"
"its state, address list, header and the first N lines of the body\n"
"(default 20), or all of it with --all. --archive shows the archived copy\n"
"([archive] dir, NAME.gz) instead. Read-only.\n"
"Exit status: 0 shown, 1 no such letter, 64 usage.\n";

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
	char    path[4200], line[8192];
	const char *name, *st = NULL;
	uint64_t n = 20;
	int     o, all = 0, part = 0, arch = 0, zerr;
	struct vsrc v = { NULL, NULL };
	unsigned long body = 0;
	size_t  i;
	FILE   *fp = NULL;

	optind = 0;
	while ((o = getopt_long(argc, argv, "an:", lo, NULL)) != -1) {
		switch (o) {
		case 'a':
			all = 1;
			break;
		case 'A':
			arch = 1;
			break;
		case 'n':
			if (str_to_u64(optarg, 0, 1000000, &n) < 0) {
				fprintf(stderr, "mailctl: view: bad --lines '%s'\n", optarg);
				return RX_USAGE;
			}
			break;
		case 'h':
			fputs(view_help, stdout);
			return RX_OK;
		default:
			fputs(view_help, stderr);
			return RX_USAGE;
		}
	}
	if (optind != argc - 1 || !name_ok(argv[optind])) {
		fputs(view_help, stderr);
		return RX_USAGE;
	}
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
			fprintf(stderr, "mailctl: view: no archived letter '%.*s': open '%s': %s\n",
			    (int) nl, name, path, errno ? strerror(errno) : "out of memory");
			if (v.gz != NULL)
				gzclose(v.gz);
			return RX_OTHER;
		}
		printf("letter %.*s at %s, archived copy '%s' (%s)\n", (int) nl, name, c->name,
		    path, str_iso8601(ast.st_mtime, when, sizeof(when)));
		goto show;
	}
	for (i = 0; i < sizeof(states) / sizeof(states[0]) && fp == NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", c->spool, states[i], name);
		if ((fp = fopen(path, "re")) != NULL)
			st = states[i];
		else if (errno != ENOENT) {
			fprintf(stderr, "mailctl: view: open '%s': %s\n", path, strerror(errno));
			return RX_OTHER;
		}
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
