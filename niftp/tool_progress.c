/*++
 * NAME
 *	tool_progress 3
 * SUMMARY
 *	the progress line of niftp put and get
 * SYNOPSIS
 *	#include "niftp/tool_progress.h"
 * DESCRIPTION
 *	See tool_progress.h. The rate is the average since the first
 *	update; the time left is (total - done) / rate. Output is one
 *	write(2) per refresh: "\r" + text + erase-to-end-of-line.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "niftp/tool_progress.h"
#include "util/alloc.h"
#include "util/loop.h"

#define PROGRESS_EVERY_MS	200

struct progress {
	char   *label;
	int	on;
	int	shown;
	int64_t	t0;
	int64_t	last;
	uint64_t first;		/* octets at the first update (a resumed start) */
};

/* progress_new - a progress line labelled label; on = 0 disables */
struct progress *progress_new(const char *label, int on)
{
	struct progress *p = xcalloc(1, sizeof(*p));

	p->label = xstrdup(label);
	p->on = on && isatty(STDERR_FILENO);
	p->t0 = -1;
	return p;
}

/* progress_size - "12.3 MiB" */
static void progress_size(char *buf, size_t len, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int     u = 0;

	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
}

/* progress_update - done octets of total (-1 unknown); throttled */
void progress_update(struct progress *p, uint64_t done, int64_t total)
{
	char    line[256], d[32], t[32], r[32], left[32];
	int64_t now;
	double  secs, rate;
	int     n;

	if (p == NULL || !p->on)
		return;
	now = loop_now_ms();
	if (p->t0 < 0) {
		p->t0 = now;
		p->first = done;
		p->last = now - PROGRESS_EVERY_MS;
	}
	if (now - p->last < PROGRESS_EVERY_MS && !(total >= 0 && done >= (uint64_t) total))
		return;
	p->last = now;
	secs = (double) (now - p->t0) / 1000.0;
	rate = secs > 0.05 ? (double) (done - p->first) / secs : 0.0;
	progress_size(d, sizeof(d), (double) done);
	progress_size(r, sizeof(r), rate);
	left[0] = '\0';
	if (total >= 0) {
		progress_size(t, sizeof(t), (double) total);
		if (rate > 0 && (uint64_t) total > done) {
			long    s = (long) (((double) total - (double) done) / rate + 0.5);

			snprintf(left, sizeof(left), "%ld:%02ld:%02ld left",
			    s / 3600, (s / 60) % 60, s % 60);
		}
		n = snprintf(line, sizeof(line), "\r%s  %s / %s  %s/s  %s\033[K",
		    p->label, d, t, r, left);
	} else {
		n = snprintf(line, sizeof(line), "\r%s  %s  %s/s\033[K", p->label, d, r);
	}
	if (n > 0) {
		if ((size_t) n >= sizeof(line))
			n = (int) sizeof(line) - 1;
		(void) !write(STDERR_FILENO, line, (size_t) n);
		p->shown = 1;
	}
}

/* progress_clear - erase the line if one is shown */
void progress_clear(struct progress *p)
{
	static const char erase[] = "\r\033[K";

	if (p == NULL || !p->shown)
		return;
	(void) !write(STDERR_FILENO, erase, sizeof(erase) - 1);
	p->shown = 0;
}

/* progress_free - clear and free (NULL is fine) */
void progress_free(struct progress *p)
{
	if (p == NULL)
		return;
	progress_clear(p);
	free(p->label);
	free(p);
}
