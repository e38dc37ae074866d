/*++
 * NAME
 *	niftp 1
 * SUMMARY
 *	NIFTP file transfer client and server
 * SYNOPSIS
 *	niftp put [OPTION]... FILE ADDR
 *	niftp get [OPTION]... ADDR NAME FILE
 *	niftp serve --listen ADDR... --dir DIR [OPTION]...
 * DESCRIPTION
 *	main() only dispatches to the subcommand (tool_put.c, tool_get.c,
 *	tool_serve.c); see doc/niftp.1 for the user's view and
 *	doc/niftp-tool.md for the choices made.
 * DIAGNOSTICS
 *	Exit status as in DESIGN section 2; 64 for a usage error.
 *--*/
#include <stdio.h>
#include <string.h>

#include "niftp/tool_common.h"
#include "util/log.h"

static const char main_help[] =
"Usage: niftp COMMAND [OPTION]... ARGS\n"
"NIFTP-80 file transfer over Yellow Book transports.\n"
"\n"
"Commands:\n"
"  put FILE ADDR           send FILE; print the name the server assigned\n"
"  get ADDR NAME FILE      fetch the remote file NAME into FILE\n"
"  serve --listen ADDR --dir DIR\n"
"                          serve a directory (many calls at once)\n"
"\n"
"Addresses: tcp:HOST:PORT, tcp:[V6]:PORT, rawtcp:HOST:PORT, unix:PATH,\n"
"'exec:COMMAND ARGS', and stdio (serve only).\n"
"\n"
"'niftp COMMAND --help' describes the options of a command;\n"
"'niftp --version' prints the version of niftpmail.\n"
"\n"
"Exit status: 0 done, 64 usage, 65 refused as bad data, 67 unknown called\n"
"address, 69 unreachable, 75 temporary failure, 77 permission,\n"
"78 configuration, 1 other.\n";

int main(int argc, char **argv)
{
	const char *cmd;

	log_init("niftp", LOG_LVL_INFO);
	if (argc < 2)
		return tool_usage(NULL, "no command (put, get or serve)");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0
	    || strcmp(cmd, "help") == 0) {
		fputs(main_help, stdout);
		return TOOL_OK;
	}
	if (strcmp(cmd, "--version") == 0) {
		puts(TOOL_VERSION);
		return TOOL_OK;
	}
	if (strcmp(cmd, "put") == 0)
		return tool_put(argc - 1, argv + 1);
	if (strcmp(cmd, "get") == 0)
		return tool_get(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return tool_serve(argc - 1, argv + 1);
	return tool_usage(NULL, "unknown command '%s' (put, get or serve)", cmd);
}
