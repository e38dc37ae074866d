/*++
 * NAME
 *	crash 3h
 * SUMMARY
 *	named crash points for fault tests (DESIGN section 11)
 * SYNOPSIS
 *	#include "util/crash.h"
 *
 *	crash_point("q-after-data-before-er");
 * DESCRIPTION
 *	When the environment variable NIFTPMAIL_CRASH is "NAME" or
 *	"NAME:N", the Nth time (default 1st) crash_point(NAME) is reached
 *	the process writes "crash point NAME" to stderr and calls _exit(99)
 *	at once: no atexit handlers, no buffered output, no cleanup, as
 *	close as a user process gets to a power cut at that instant.
 *	Several points may be listed separated by commas.
 *
 *	crash_hook(NAME) returns 1 on exactly the Nth call when the named
 *	hook is armed (same variable syntax, NIFTPMAIL_HOOK), 0 otherwise, so a
 *	test can make a process cut a connection or send a RESET at an
 *	exact protocol point instead of relying on timing.
 *--*/
#ifndef UTIL_CRASH_H
#define UTIL_CRASH_H

/* crash_point - _exit(99) here if NIFTPMAIL_CRASH names this point */
void crash_point(const char *name);
/* crash_hook - 1 if NIFTPMAIL_HOOK names this hook and its count is reached */
int  crash_hook(const char *name);

#endif
