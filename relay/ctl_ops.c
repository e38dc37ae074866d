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
 *	nothing. (hold, release, bounce, forward, reroute, delete: not yet.)
 *--*/
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/conf.h"
#include "relay/ctl_ops.h"
#include "relay/relayd.h"
#include "util/strutil.h"

static const char view_help[] =
"Usage: mailctl -c NODE.ini view [--all] [--lines N] NAME\n"
"Show a letter held by this node (in/, queue/, hold/, dead/, corrupt/):\n"
"its state, address list, header and the first N lines of the body\n"
"(default 20), or all of it with --all. Read-only.\n"
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

/* ctl_view - mailctl view */
int ctl_view(const struct conf *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "lines", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const states[] = { "in", "queue", "hold", "dead", "corrupt" };
	char    path[4200], line[8192];
	const char *name, *st = NULL;
	uint64_t n = 20;
	int     o, all = 0, part = 0;
	unsigned long body = 0;
	size_t  i;
	FILE   *fp = NULL;

	optind = 0;
	while ((o = getopt_long(argc, argv, "an:", lo, NULL)) != -1) {
		switch (o) {
		case 'a':
			all = 1;
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
	/* address list, blank line(s), header, blank line, body */
	while (fgets(line, sizeof(line), fp) != NULL) {
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
	if (ferror(fp)) {
		fprintf(stderr, "mailctl: view: read '%s': %s\n", path, strerror(errno));
		fclose(fp);
		return RX_OTHER;
	}
	fclose(fp);
	return RX_OK;
}
