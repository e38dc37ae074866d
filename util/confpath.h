/*++
 * NAME
 *	confpath 3h
 * SUMMARY
 *	which configuration file a program reads: -c, environment, default
 * SYNOPSIS
 *	#include "util/confpath.h"
 * DESCRIPTION
 *	A program that reads one configuration file takes it from its -c
 *	option; without one, from an environment variable; without that,
 *	from a fixed default path (the callers name theirs: relay/conf.h
 *	CONF_DEFAULT_PATH, vcgw/vcgw_conf.h). So an operator of a one-node
 *	host types no -c at all, and a script can name the file once in
 *	its environment.
 *
 *	A file named by -c that cannot be read is the configuration
 *	loader's to report (it names the file, and the line of each later
 *	error). A file chosen by the environment or the default that does
 *	not exist is reported here, because the user did not name it: the
 *	message says where the path came from and how to give another.
 *--*/
#ifndef UTIL_CONFPATH_H
#define UTIL_CONFPATH_H

#include <stddef.h>

#define CONFPATH_ERRLEN	4400	/* an error with a path of PATH_MAX octets fits */

/* Where the path came from. */
enum confpath_from {
	CONFPATH_OPTION,		/* -c FILE */
	CONFPATH_ENV,			/* the environment variable */
	CONFPATH_DEFAULT		/* the program's default path */
};

/* confpath_find - the configuration file to read: opt (from -c) when not
 * NULL, else the value of the environment variable env when set and not
 * empty, else dflt. *path gets it (borrowed: opt, the environment's
 * string or dflt, valid while they are) and *from, when from is not
 * NULL, where it came from. Returns 0; or -1 when a path that came from
 * env or dflt does not exist (ENOENT, ENOTDIR), with err saying so:
 * "no configuration: 'DFLT' does not exist (give -c FILE, or set ENV)";
 * *path is set then too. Every other failure is left to the loader. */
int confpath_find(const char *opt, const char *env, const char *dflt, const char **path,
	enum confpath_from *from, char *err, size_t errlen);

#endif
