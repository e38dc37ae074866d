/*++
 * NAME
 *	relayd_stats 3
 * SUMMARY
 *	queue statistics from the spool: mailctl stats, the metrics file,
 *	the "next hop failing" warning
 * SYNOPSIS
 *	#include "relay/relayd_stats.h"
 * DESCRIPTION
 *	See relayd_stats.h. Offline ("mailctl stats" without the daemon)
 *	the envelope listing is queue_list_dir() (the same reader as the
 *	offline "mailctl queue"), parsed back: one line "NAME AGE HOP RCPTS
 *	STATE ERROR" per envelope, "NAME AGE - - received -" per unrouted
 *	letter. In the daemon the same counts come from the queue in memory
 *	(stats_scan_queue, on the loop thread): reading every record back
 *	from the spool each interval cost a second docket map per worker
 *	and a tenth of a core with 100,000 letters queued.
 *
 *	Journal tail: the first scan reads at most STATS_TAIL_MAX octets
 *	from the end of SPOOL/journal (starting after the first newline);
 *	later scans read from the remembered offset. A new journal (other
 *	inode, or shorter than the offset: rotated) is read from its start;
 *	lines written to the old file after the last scan are then missed
 *	(the rates are a little low for one window). A torn last line is
 *	left for the next scan.
 *
 *	In the daemon a one-shot timer re-arms itself after each scan, so
 *	at most one scan runs at a time; the scan, the Prometheus text and
 *	its durable_write_file() run on a worker; the warnings are decided
 *	and logged on the loop thread when the job is done.
 * DIAGNOSTICS
 *	mailctl stats: exit 1 when the spool cannot be read. The daemon
 *	logs a failing metrics write once (and once when it works again).
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "relay/conf.h"
#include "relay/ctl_ops.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/relayd_stats.h"
#include "relay/trace.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/workq.h"

#define STATS_LIST_MAX	(256 * 1024 * 1024)	/* cap of the envelope listing */
#define STATS_OUT_MAX	(64 * 1024 * 1024)	/* cap of a text or metrics rendering */
#define STATS_READ	65536

enum stats_ev { EV_RECEIVED, EV_FORWARDED, EV_DELIVERED };

struct stats_event {
	time_t	t;
	enum stats_ev ev;
	char	hop[64];		/* forwarded: next hop (cut) */
};

/* The journal events counted (STATS_COUNTERS), by their journal word. */
static const char *const stats_counted[STATS_COUNTERS] = {
	"received", "forwarded", "delivered", "failed", "deferred",
};

struct stats_tail {
	int	started;
	int	fd;			/* the journal read, kept open between scans: a
					 * rotation renames it, and its last lines are
					 * read before the new journal's */
	dev_t	dev;
	ino_t	ino;
	off_t	off;			/* next octet to read */
	struct stats_event *ev;		/* ring, oldest at head */
	size_t	head, n, cap;
	int	counting;		/* stats_tail_count(): totals kept */
	time_t	count_since;
	dev_t	cnt_dev;		/* lines of that journal before cnt_off, */
	ino_t	cnt_ino;		/* written before the count began, do not */
	off_t	cnt_off;		/* count; those of any later journal do */
	unsigned long long total[STATS_COUNTERS];
};

struct stats_tail *stats_tail_new(void)
{
	struct stats_tail *t = xcalloc(1, sizeof(struct stats_tail));

	t->fd = -1;
	return t;
}

void stats_tail_free(struct stats_tail *t)
{
	if (t == NULL)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t->ev);
	free(t);
}

void stats_tail_count(struct stats_tail *t, const char *spool, time_t now)
{
	char    path[CONF_PATH_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/journal", spool);
	t->counting = 1;
	t->count_since = now;
	if (stat(path, &st) == 0) {
		t->cnt_dev = st.st_dev;
		t->cnt_ino = st.st_ino;
		t->cnt_off = st.st_size;
	}
}

void stats_snap_free(struct stats_snap *s)
{
	if (s == NULL)
		return;
	free(s->hops);
	free(s);
}

/* tail_push - remember one event; the oldest goes when full */
static void tail_push(struct stats_tail *t, time_t when, enum stats_ev ev, const char *hop)
{
	struct stats_event *e;

	if (t->cap == 0) {
		t->cap = 1024;
		t->ev = xcalloc(t->cap, sizeof(*t->ev));
	} else if (t->n == t->cap && t->cap < STATS_EVENTS_MAX) {
		struct stats_event *nev = xcalloc(t->cap * 2, sizeof(*nev));

		for (size_t i = 0; i < t->n; i++)
			nev[i] = t->ev[(t->head + i) % t->cap];
		free(t->ev);
		t->ev = nev;
		t->head = 0;
		t->cap *= 2;
	}
	if (t->n == t->cap) {		/* full at the cap: drop the oldest */
		t->head = (t->head + 1) % t->cap;
		t->n--;
	}
	e = &t->ev[(t->head + t->n) % t->cap];
	e->t = when;
	e->ev = ev;
	str_copy(e->hop, hop ? hop : "", sizeof(e->hop));
	t->n++;
}

/* iso_time - "YYYY-MM-DDTHH:MM:SSZ" to time_t; -1 when malformed */
static time_t iso_time(const char *s)
{
	struct tm tm;
	int     y, mo, d, h, mi, se;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &mo, &d, &h, &mi, &se) != 6)
		return (time_t) -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return timegm(&tm);
}

/* tail_line - one journal line (it starts at t->off): remember the
 * events of the window, count the events since the count began */
static void tail_line(struct stats_tail *t, const char *line, size_t len, time_t since,
	struct journal_rec *rec)
{
	time_t  when;
	const char *to;

	if (len < JOURNAL_TIMELEN + 2 || journal_parse(line, len, rec) < 0)
		return;
	if (t->counting && (t->dev != t->cnt_dev || t->ino != t->cnt_ino || t->off >= t->cnt_off))
		for (size_t k = 0; k < STATS_COUNTERS; k++)
			if (strcmp(rec->event, stats_counted[k]) == 0)
				t->total[k]++;
	if ((when = iso_time(rec->time)) == (time_t) -1 || when < since)
		return;
	if (strcmp(rec->event, "received") == 0)
		tail_push(t, when, EV_RECEIVED, NULL);
	else if (strcmp(rec->event, "delivered") == 0)
		tail_push(t, when, EV_DELIVERED, "local");
	else if (strcmp(rec->event, "forwarded") == 0 && (to = journal_get(rec, "to", NULL)))
		tail_push(t, when, EV_FORWARDED, to);
}

/* tail_fd - read the journal open on fd from t->off to its last
 * complete line (skip: the first line is cut) */
static void tail_fd(struct stats_tail *t, int fd, int skip, time_t since)
{
	struct journal_rec *rec = NULL;
	char   *b = NULL;
	size_t  have = 0, cap = STATS_READ + JOURNAL_LINE_MAX;
	ssize_t n;

	if (lseek(fd, t->off, SEEK_SET) < 0)
		return;
	b = xmalloc(cap);
	rec = xmalloc(sizeof(*rec));
	for (;;) {
		char   *p, *nl;

		n = read(fd, b + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t) n;
		for (p = b; (nl = memchr(p, '\n', have - (size_t) (p - b))) != NULL; p = nl + 1) {
			if (skip)
				skip = 0;
			else
				tail_line(t, p, (size_t) (nl - p), since, rec);
			t->off += (nl - p) + 1;
		}
		have -= (size_t) (p - b);
		memmove(b, p, have);
		if (have == cap) {	/* an over-long line: skip it */
			t->off += (off_t) have;
			have = 0;
			skip = 1;
		}
	}
	free(b);
	free(rec);
}

/* tail_read - what the journal got since the last scan: the journal kept
 * open is read to its end first (rotated meanwhile, it is journal.1 now,
 * and its last lines count), then a new journal from its start */
static void tail_read(struct stats_tail *t, const char *spool, time_t since)
{
	char    path[CONF_PATH_MAX + 16];
	struct stat st, pst;
	int     fd, skip = 0;

	snprintf(path, sizeof(path), "%s/journal", spool);
	if (t->fd >= 0) {
		if (fstat(t->fd, &st) == 0 && st.st_size < t->off)
			t->off = 0;		/* cut short in place: read again */
		tail_fd(t, t->fd, 0, since);
		if (stat(path, &pst) == 0 && pst.st_dev == t->dev && pst.st_ino == t->ino)
			return;
		close(t->fd);		/* rotated (or gone): on to the new one */
		t->fd = -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return;
	}
	/* first scan: the tail only; a new journal: from its start */
	t->off = 0;
	if (!t->started && st.st_size > STATS_TAIL_MAX) {
		t->off = st.st_size - STATS_TAIL_MAX;
		skip = 1;	/* the first line is probably cut */
	}
	t->started = 1;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->fd = fd;
	tail_fd(t, fd, skip, since);
}

/* hop_get - the entry of hop in s (added, kept sorted by insertion) */
static struct stats_hop *hop_get(struct stats_snap *s, size_t *cap, const char *hop)
{
	struct stats_hop *h;

	for (size_t i = 0; i < s->nhops; i++)
		if (strcmp(s->hops[i].hop, hop) == 0)
			return &s->hops[i];
	if (s->nhops == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		s->hops = xrealloc(s->hops, *cap * sizeof(*s->hops));
	}
	h = &s->hops[s->nhops++];
	memset(h, 0, sizeof(*h));
	str_copy(h->hop, hop, sizeof(h->hop));
	h->oldest = h->failing = -1;
	return h;
}

static int hop_cmp(const void *a, const void *b)
{
	return strcmp(((const struct stats_hop *) a)->hop, ((const struct stats_hop *) b)->hop);
}

/* stats_count_unrouted - letters in in/ (their age from their mtime) */
static void stats_count_unrouted(struct stats_snap *s, const char *spool, time_t now)
{
	char    path[CONF_PATH_MAX + 16];
	struct dirent *de;
	struct stat sb;
	long long age;
	DIR    *d;

	snprintf(path, sizeof(path), "%s/in", spool);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strchr(de->d_name, '_') != NULL
		    || fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(sb.st_mode))
			continue;
		s->unrouted++;
		age = (long long) (now - sb.st_mtime);
		if (s->oldest < age)
			s->oldest = age;
	}
	closedir(d);
}

/* count_held - letters in hold/ (envelope-suffixed names excluded) */
static unsigned count_held(const char *spool)
{
	char    path[CONF_PATH_MAX + 16];
	struct dirent *de;
	unsigned n = 0;
	DIR    *d;

	snprintf(path, sizeof(path), "%s/hold", spool);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strchr(de->d_name, '_') == NULL)
			n++;
	closedir(d);
	return n;
}

static void stats_finish(struct stats_snap *s, const char *spool, struct stats_tail *tail,
	time_t now);

struct stats_snap *stats_scan(const char *spool, struct stats_tail *tail, time_t now,
	char *err, size_t errlen)
{
	struct buf q = BUF_INIT(STATS_LIST_MAX);
	struct stats_snap *s;
	struct stats_hop *h;
	size_t  cap = 0;
	char   *text, *line, *next;

	if (queue_list_dir(spool, &q, err, errlen) < 0) {
		buf_release(&q);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->now = now;
	s->oldest = -1;
	text = buf_cstr(&q);
	for (line = text; line != NULL && *line; line = next) {
		char    name[SPOOL_NAMELEN], hop[STATS_HOPLEN], state[32];
		long long age;
		int     off = 0;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/* NAME AGE HOP RCPTS STATE ERROR (ERROR: the rest) */
		if (sscanf(line, "%127s %llds %299s %*s %31s %n", name, &age, hop, state, &off) < 4
		    || off == 0)
			continue;
		if (s->oldest < age)
			s->oldest = age;
		if (strcmp(hop, "-") == 0) {
			s->unrouted++;
			continue;
		}
		h = hop_get(s, &cap, hop);
		h->queued++;
		s->queued++;
		if (h->oldest < age)
			h->oldest = age;
		if (strcmp(state, "deferred") == 0) {
			h->deferred++;
			if (h->failing < age) {
				h->failing = age;
				str_copy(h->error, strcmp(line + off, "-") ? line + off : "",
				    sizeof(h->error));
			}
		}
	}
	buf_release(&q);
	stats_finish(s, spool, tail, now);
	return s;
}

/* stats_finish - the held letters and the journal's window into s (the
 * envelopes are counted already); hops sorted */
static void stats_finish(struct stats_snap *s, const char *spool, struct stats_tail *tail,
	time_t now)
{
	struct stats_hop *h;
	size_t  cap = s->nhops;
	time_t  since = now - STATS_WINDOW;

	s->held = count_held(spool);

	/* the journal: forget what left the window, read what is new */
	while (tail->n > 0 && tail->ev[tail->head].t < since) {
		tail->head = (tail->head + 1) % tail->cap;
		tail->n--;
	}
	tail_read(tail, spool, since);
	s->counting = tail->counting;
	s->count_since = tail->count_since;
	memcpy(s->total, tail->total, sizeof(s->total));
	for (size_t i = 0; i < tail->n; i++) {
		const struct stats_event *e = &tail->ev[(tail->head + i) % tail->cap];

		if (e->t < since)
			continue;
		if (e->ev == EV_RECEIVED) {
			s->received++;
			continue;
		}
		h = hop_get(s, &cap, e->hop);
		if (e->ev == EV_FORWARDED)
			h->forwarded++;
		else
			h->delivered++;
	}
	if (s->nhops > 1)
		qsort(s->hops, s->nhops, sizeof(*s->hops), hop_cmp);
}

/* age_text - "42s", "-" for none */
static const char *age_text(long long age, char *b, size_t len)
{
	if (age < 0)
		return "-";
	snprintf(b, len, "%llds", age);
	return b;
}

void stats_text(const struct stats_snap *s, struct buf *out)
{
	char    a1[32], a2[32];
	unsigned fwd = 0, dlv = 0;

	buf_printf(out, "%-24s %7s %9s %9s %7s %7s %s\n", "HOP", "QUEUED", "OLDEST", "FAILING",
	    "FWD/MIN", "DLV/MIN", "LAST-ERROR");
	for (size_t i = 0; i < s->nhops; i++) {
		const struct stats_hop *h = &s->hops[i];

		buf_printf(out, "%-24s %7u %9s %9s %7u %7u %s\n", h->hop, h->queued,
		    age_text(h->oldest, a1, sizeof(a1)), age_text(h->failing, a2, sizeof(a2)),
		    h->forwarded, h->delivered, h->error[0] ? h->error : "-");
		fwd += h->forwarded;
		dlv += h->delivered;
	}
	buf_printf(out, "%-24s %7u %9s %9s %7u %7u received/min=%u unrouted=%u held=%u\n",
	    "total", s->queued, age_text(s->oldest, a1, sizeof(a1)), "-", fwd, dlv, s->received,
	    s->unrouted, s->held);
}

/* prom_label - a label value: \\, \" and \n escaped */
static void prom_label(struct buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_printf(out, "\\%c", *v);
		else if (*v == '\n')
			buf_printf(out, "\\n");
		else
			buf_putc(out, *v);
	}
}

/* The HELP text of each counter (stats_counted). */
static const char *const counter_help[STATS_COUNTERS] = {
	"Letters received (journal received lines) since the daemon started.",
	"Copies forwarded to a next hop (forwarded lines: one per letter and hop) since the"
	    " daemon started.",
	"Recipients delivered into a local mailbox (delivered lines) since the daemon started.",
	"Recipients failed for good, an NDN due (failed lines) since the daemon started.",
	"Tries that failed and wait for another (deferred lines: one per envelope and try)"
	    " since the daemon started.",
};

/* prom_head - # HELP and # TYPE of a gauge */
static void prom_head(struct buf *out, const char *metric, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
}

static void prom_hop(struct buf *out, const char *metric, const char *hop, const char *ev,
	long long v)
{
	buf_printf(out, "%s{hop=\"", metric);
	prom_label(out, hop);
	if (ev != NULL)
		buf_printf(out, "\",event=\"%s", ev);
	buf_printf(out, "\"} %lld\n", v);
}

void stats_prom(const struct stats_snap *s, const char *node, struct buf *out)
{
	unsigned fwd = 0, dlv = 0, failing = 0;
	size_t  i;

	prom_head(out, "niftpmail_queued", "Envelopes queued per next hop.");
	for (i = 0; i < s->nhops; i++)
		prom_hop(out, "niftpmail_queued", s->hops[i].hop, NULL, s->hops[i].queued);
	prom_head(out, "niftpmail_oldest_seconds", "Age of the oldest envelope per next hop.");
	for (i = 0; i < s->nhops; i++)
		prom_hop(out, "niftpmail_oldest_seconds", s->hops[i].hop, NULL,
		    s->hops[i].oldest < 0 ? 0 : s->hops[i].oldest);
	prom_head(out, "niftpmail_hop_failing_seconds",
	    "Age of the oldest envelope that failed at least once, per next hop (0: not failing).");
	for (i = 0; i < s->nhops; i++) {
		prom_hop(out, "niftpmail_hop_failing_seconds", s->hops[i].hop, NULL,
		    s->hops[i].failing < 0 ? 0 : s->hops[i].failing);
		failing += s->hops[i].failing >= 0;
	}
	prom_head(out, "niftpmail_letters_per_minute",
	    "Letters forwarded (or delivered locally) in the last minute, per next hop.");
	for (i = 0; i < s->nhops; i++) {
		prom_hop(out, "niftpmail_letters_per_minute", s->hops[i].hop, "forwarded",
		    s->hops[i].forwarded);
		prom_hop(out, "niftpmail_letters_per_minute", s->hops[i].hop, "delivered",
		    s->hops[i].delivered);
		fwd += s->hops[i].forwarded;
		dlv += s->hops[i].delivered;
	}
	prom_head(out, "niftpmail_queued_all", "Envelopes queued, all next hops.");
	buf_printf(out, "niftpmail_queued_all %u\n", s->queued);
	prom_head(out, "niftpmail_unrouted", "Letters received and not yet routed (in/).");
	buf_printf(out, "niftpmail_unrouted %u\n", s->unrouted);
	prom_head(out, "niftpmail_held", "Letters held by the operator (hold/).");
	buf_printf(out, "niftpmail_held %u\n", s->held);
	prom_head(out, "niftpmail_oldest_all_seconds", "Age of the oldest letter queued.");
	buf_printf(out, "niftpmail_oldest_all_seconds %lld\n", s->oldest < 0 ? 0 : s->oldest);
	prom_head(out, "niftpmail_hops_failing", "Next hops with a failed envelope.");
	buf_printf(out, "niftpmail_hops_failing %u\n", failing);
	prom_head(out, "niftpmail_all_per_minute",
	    "Letters received, forwarded and delivered in the last minute, all next hops.");
	buf_printf(out, "niftpmail_all_per_minute{event=\"received\"} %u\n", s->received);
	buf_printf(out, "niftpmail_all_per_minute{event=\"forwarded\"} %u\n", fwd);
	buf_printf(out, "niftpmail_all_per_minute{event=\"delivered\"} %u\n", dlv);
	prom_head(out, "niftpmail_stats_time_seconds", "When these figures were taken (Unix time).");
	buf_printf(out, "niftpmail_stats_time_seconds{node=\"");
	prom_label(out, node);
	buf_printf(out, "\"} %lld\n", (long long) s->now);
	if (!s->counting)
		return;
	for (i = 0; i < STATS_COUNTERS; i++)
		buf_printf(out, "# HELP niftpmail_%s_total %s\n# TYPE niftpmail_%s_total counter\n"
		    "niftpmail_%s_total %llu\n", stats_counted[i], counter_help[i],
		    stats_counted[i], stats_counted[i], s->total[i]);
	prom_head(out, "niftpmail_counters_start_time_seconds",
	    "When the daemon began counting the niftpmail_*_total counters (Unix time).");
	buf_printf(out, "niftpmail_counters_start_time_seconds %lld\n", (long long) s->count_since);
}

/* json_err - a last error as kept (journal-escaped, str_escape) in JSON */
static void json_err(struct buf *out, const char *e)
{
	char    raw[STATS_ERRLEN];
	size_t  dlen, used;

	if (e[0] == '\0')
		trace_json_str(out, NULL);
	else if (e[0] == '"' && str_unescape(raw, sizeof(raw), e, strlen(e), &dlen, &used,
	    NULL) == 0 && strlen(raw) == dlen)
		trace_json_str(out, raw);
	else
		trace_json_str(out, e);
}

static void json_age(struct buf *out, const char *key, long long v)
{
	if (v < 0)
		buf_printf(out, ",\"%s\":null", key);
	else
		buf_printf(out, ",\"%s\":%lld", key, v);
}

void stats_json(const struct stats_snap *s, const char *node, struct buf *out)
{
	unsigned fwd = 0, dlv = 0;
	size_t  i;

	buf_printf(out, "{\"node\":");
	trace_json_str(out, node);
	buf_printf(out, ",\"time\":%lld,\"hops\":[", (long long) s->now);
	for (i = 0; i < s->nhops; i++) {
		const struct stats_hop *h = &s->hops[i];

		buf_printf(out, "%s\n{\"hop\":", i ? "," : "");
		trace_json_str(out, h->hop);
		buf_printf(out, ",\"queued\":%u,\"deferred\":%u", h->queued, h->deferred);
		json_age(out, "oldest", h->oldest);
		json_age(out, "failing", h->failing);
		buf_printf(out, ",\"error\":");
		json_err(out, h->error);
		buf_printf(out, ",\"forwarded_per_minute\":%u,\"delivered_per_minute\":%u}",
		    h->forwarded, h->delivered);
		fwd += h->forwarded;
		dlv += h->delivered;
	}
	buf_printf(out, "],\n\"total\":{\"queued\":%u", s->queued);
	json_age(out, "oldest", s->oldest);
	buf_printf(out, ",\"unrouted\":%u,\"held\":%u,\"received_per_minute\":%u,"
	    "\"forwarded_per_minute\":%u,\"delivered_per_minute\":%u},\n\"counters\":",
	    s->unrouted, s->held, s->received, fwd, dlv);
	if (!s->counting) {
		buf_printf(out, "null}\n");
		return;
	}
	buf_printf(out, "{\"since\":%lld", (long long) s->count_since);
	for (i = 0; i < STATS_COUNTERS; i++)
		buf_printf(out, ",\"%s\":%llu", stats_counted[i], s->total[i]);
	buf_printf(out, "}}\n");
}

static const char stats_help[] =
"Usage: mailctl [-c NODE.ini] stats [--prometheus|--json]\n"
"Queue statistics from the spool (read-only; the daemon need not run): per\n"
"next hop the envelopes queued, the age of the oldest, how long the hop has\n"
"been failing (age of its oldest envelope that failed), letters forwarded and\n"
"delivered in the last minute, the last error; then the totals.\n"
"--prometheus prints them in the metrics file's format (its gauges; the\n"
"niftpmail_*_total counters are the daemon's, in the metrics file only).\n"
"--json prints one JSON document (mailctl(1), JSON OUTPUT).\n"
"Exit status: 0 shown, 1 spool unreadable, 64 usage, 77 permission denied (the\n"
"spool or its journal cannot be read by this user).\n";

int ctl_stats(const struct conf *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "prometheus", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct buf out = BUF_INIT(STATS_OUT_MAX);
	struct stats_tail *t;
	struct stats_snap *s;
	char    err[RELAYD_ERRLEN];
	int     o, prom = 0, json = 0;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'p':
			prom = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(stats_help, stdout);
			return RX_OK;
		default:
			/* getopt said what */
			return ctl_usage("stats", stats_help, NULL);
		}
	}
	if (optind != argc)
		return ctl_usage("stats", stats_help, "'%s': stats takes no argument but its "
		    "options", argv[optind]);
	if (prom && json)
		return ctl_usage("stats", stats_help, "--prometheus or --json, not both");
	if (c == NULL)
		return CTL_ARGS_OK;
	t = stats_tail_new();
	s = stats_scan(c->spool, t, time(NULL), err, sizeof(err));
	stats_tail_free(t);
	if (s == NULL) {
		fprintf(stderr, "mailctl: stats: %s\n", err);
		return RX_OTHER;
	}
	if (prom)
		stats_prom(s, c->name, &out);
	else if (json)
		stats_json(s, c->name, &out);
	else
		stats_text(s, &out);
	fwrite(buf_data(&out), 1, out.len, stdout);
	buf_release(&out);
	stats_snap_free(s);
	return RX_OK;
}

/* --- the daemon's periodic scan ---------------------------------------------- */

struct hop_warn {
	char	hop[STATS_HOPLEN];
	int	warned;
};

struct relayd_stats {
	struct relayd *rd;
	uint64_t timer;
	int	busy;			/* a scan job in flight */
	int	write_failing;		/* the last metrics write failed */
	struct stats_tail *tail;	/* used by the job only while busy */
	struct hop_warn *warns;
	size_t	nwarns;
};

struct stats_job {
	struct relayd_stats *st;
	char	*spool;
	char	*node;
	char	*metrics;		/* NULL: no file */
	struct stats_snap *snap;
	int	ok_write;		/* -1 failed, 0 no file, 1 written */
	char	err[RELAYD_ERRLEN];
};

static void stats_arm(struct relayd_stats *st);

/* stats_scan_queue - the envelopes' part of a snapshot, from the queue
 * in memory (loop thread): what queue_list_dir() would list, without
 * reading the spool's records back from disk every interval */
static struct stats_snap *stats_scan_queue(struct relayd *rd, time_t now)
{
	struct stats_snap *s = xcalloc(1, sizeof(*s));
	struct stats_hop *h;
	struct qenv *e;
	size_t  cap = 0;
	long long age;

	s->now = now;
	s->oldest = -1;
	for (e = queue_first(rd->q); e != NULL; e = queue_next(e)) {
		age = (long long) (now - e->first);
		h = hop_get(s, &cap, e->hop);
		h->queued++;
		s->queued++;
		if (h->oldest < age)
			h->oldest = age;
		if (s->oldest < age)
			s->oldest = age;
		if (e->state == QENV_QUEUED && e->attempts > 0) {
			h->deferred++;
			if (h->failing < age) {
				h->failing = age;
				/* a next hop's text: escaped, as the offline
				 * listing (queue_list_dir) writes it */
				str_escape(h->error, sizeof(h->error), qenv_error(e),
				    strlen(qenv_error(e)));
			}
		}
	}
	stats_count_unrouted(s, rd->conf->spool, now);
	return s;
}

static void stats_work(void *arg)
{
	struct stats_job *j = arg;
	struct buf out = BUF_INIT(STATS_OUT_MAX);

	stats_finish(j->snap, j->spool, j->st->tail, time(NULL));
	if (j->metrics == NULL)
		goto out;
	stats_prom(j->snap, j->node, &out);
	j->ok_write = durable_write_file(j->metrics, buf_data(&out), out.len, j->err,
	    sizeof(j->err)) < 0 ? -1 : 1;
out:
	buf_release(&out);
}

/* stats_warn - one warning per next hop failing longer than hop_fail_warn */
static void stats_warn(struct relayd_stats *st, const struct stats_snap *s, int64_t warn_ms)
{
	size_t  i, k;

	/* forget hops no longer failing (recovered, or gone) */
	for (k = 0; k < st->nwarns; ) {
		for (i = 0; i < s->nhops; i++)
			if (strcmp(s->hops[i].hop, st->warns[k].hop) == 0 && s->hops[i].failing >= 0)
				break;
		if (i == s->nhops) {
			if (st->warns[k].warned)
				log_info("next hop '%s' no longer failing", st->warns[k].hop);
			st->warns[k] = st->warns[--st->nwarns];
		} else
			k++;
	}
	if (warn_ms <= 0)
		return;
	for (i = 0; i < s->nhops; i++) {
		const struct stats_hop *h = &s->hops[i];

		if (h->failing < 0 || h->failing * 1000 < warn_ms)
			continue;
		for (k = 0; k < st->nwarns; k++)
			if (strcmp(st->warns[k].hop, h->hop) == 0)
				break;
		if (k < st->nwarns && st->warns[k].warned)
			continue;
		if (k == st->nwarns) {
			st->warns = xrealloc(st->warns, (st->nwarns + 1) * sizeof(*st->warns));
			str_copy(st->warns[k].hop, h->hop, sizeof(st->warns[k].hop));
			st->nwarns++;
		}
		st->warns[k].warned = 1;
		log_warn("next hop '%s' failing for %llds (hop_fail_warn %llds): %u of %u "
		    "envelopes deferred, last error: %s", h->hop, h->failing,
		    (long long) (warn_ms / 1000), h->deferred, h->queued,
		    h->error[0] ? h->error : "-");
	}
}

static void stats_done(void *arg)
{
	struct stats_job *j = arg;
	struct relayd_stats *st = j->st;
	struct relayd *rd = st->rd;

	st->busy = 0;
	relayd_job(rd, -1);
	if (j->snap == NULL)
		log_warn("stats: %s", j->err);
	else
		stats_warn(st, j->snap, rd->conf->hop_fail_warn_ms);
	if (j->ok_write < 0 && !st->write_failing)
		log_warn("metrics file: %s", j->err);
	else if (j->ok_write > 0 && st->write_failing)
		log_info("metrics file '%s' written again", j->metrics);
	if (j->ok_write != 0)
		st->write_failing = j->ok_write < 0;
	stats_snap_free(j->snap);
	free(j->spool);
	free(j->node);
	free(j->metrics);
	free(j);
	stats_arm(st);
}

static void stats_tick(struct loop *loop, void *arg)
{
	struct relayd_stats *st = arg;
	struct relayd *rd = st->rd;
	struct stats_job *j;

	(void) loop;
	st->timer = 0;
	if (rd->stopping || st->busy)
		return;
	j = xcalloc(1, sizeof(*j));
	j->st = st;
	j->spool = xstrdup(rd->conf->spool);
	j->node = xstrdup(rd->conf->name);
	j->metrics = rd->conf->metrics_file ? xstrdup(rd->conf->metrics_file) : NULL;
	j->snap = stats_scan_queue(rd, time(NULL));
	st->busy = 1;
	relayd_job(rd, 1);
	workq_submit(rd->wq, stats_work, stats_done, j);
}

/* stats_arm - the next tick after metrics_interval */
static void stats_arm(struct relayd_stats *st)
{
	if (st->rd->stopping || st->timer != 0)
		return;
	st->timer = loop_timer_add(st->rd->loop, st->rd->conf->metrics_interval_ms, stats_tick,
	    st);
}

struct relayd_stats *relayd_stats_start(struct relayd *rd)
{
	struct relayd_stats *st = xcalloc(1, sizeof(*st));

	st->rd = rd;
	st->tail = stats_tail_new();
	/* the counters: what the journal gets from now on */
	stats_tail_count(st->tail, rd->conf->spool, time(NULL));
	/* the first figures soon after start-up */
	st->timer = loop_timer_add(rd->loop, 200, stats_tick, st);
	return st;
}

void relayd_stats_free(struct relayd_stats *st)
{
	if (st == NULL)
		return;
	stats_tail_free(st->tail);
	free(st->warns);
	free(st);
}
