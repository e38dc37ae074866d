/*++
 * NAME
 *	confpath 3
 * SUMMARY
 *	which configuration file a program reads: -c, environment, default
 * SYNOPSIS
 *	#include "util/confpath.h"
 * DESCRIPTION
 *	See confpath.h. Only existence is looked at here (stat): whether
 *	the file can be read and parsed is the loader's to say, with the
 *	file and line.
 *--*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/confpath.h"

/* confpath_find - see confpath.h */
int confpath_find(const char *opt, const char *env, const char *dflt, const char **path,
	enum confpath_from *from, char *err, size_t errlen)
{
	enum confpath_from f = CONFPATH_OPTION;
	const char *p = opt, *e;
	struct stat st;

	if (p == NULL) {
		e = env != NULL ? getenv(env) : NULL;
		if (e != NULL && *e) {
			p = e;
			f = CONFPATH_ENV;
		} else {
			p = dflt;
			f = CONFPATH_DEFAULT;
		}
	}
	*path = p;
	if (from != NULL)
		*from = f;
	if (f == CONFPATH_OPTION || stat(p, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
		return 0;
	if (f == CONFPATH_ENV)
		snprintf(err, errlen, "no configuration: '%s' (from $%s) does not exist (give -c"
		    " FILE, or set %s to an existing file)", p, env, env);
	else if (env != NULL)
		snprintf(err, errlen, "no configuration: '%s' does not exist (give -c FILE, or"
		    " set %s)", p, env);
	else
		snprintf(err, errlen, "no configuration: '%s' does not exist (give -c FILE)", p);
	return -1;
}
