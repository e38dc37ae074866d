/*++
 * NAME
 *	tool_progress 3h
 * SUMMARY
 *	the progress line of niftp put and get
 * SYNOPSIS
 *	#include "niftp/tool_progress.h"
 * DESCRIPTION
 *	One line on standard error, rewritten in place at most five
 *	times a second: octets moved, the total when known, the rate, and
 *	the time left. It is shown only when standard error is a
 *	terminal and the user did not ask for quiet; otherwise every
 *	function does nothing. progress_clear() erases the line, so
 *	messages that follow start on a clean line.
 *--*/
#ifndef NIFTP_TOOL_PROGRESS_H
#define NIFTP_TOOL_PROGRESS_H

#include <stdint.h>

struct progress;

/* progress_new - a progress line labelled label (copied); on = 0 disables */
struct progress *progress_new(const char *label, int on);
/* progress_update - done octets of total (-1 unknown); throttled */
void progress_update(struct progress *p, uint64_t done, int64_t total);
/* progress_clear - erase the line if one is shown */
void progress_clear(struct progress *p);
/* progress_free - clear and free (NULL is fine) */
void progress_free(struct progress *p);

#endif
