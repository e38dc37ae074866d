/*++
 * NAME
 *	relayd_stats 3h
 * SUMMARY
 *	queue statistics from the spool: mailctl stats, the metrics file,
 *	the "next hop failing" warning
 * SYNOPSIS
 *	#include "relay/relayd_stats.h"
 * DESCRIPTION
 *	Statistics are computed from the spool itself, never from the
 *	daemon's memory: the envelope listing of queue_list_dir()
 *	(next hop, age, state, last error of every envelope; unrouted
 *	letters of in/), the letters of hold/, and the journal lines
 *	"received", "forwarded" and "delivered" of the last STATS_WINDOW
 *	seconds, read from the tail of SPOOL/journal (a stats_tail keeps
 *	the offset between scans). A scan only reads, so mailctl can run it
 *	beside a daemon or without one.
 *
 *	Per next hop: envelopes queued, age of the oldest, how long the hop
 *	has been failing (the age of its oldest envelope that failed at
 *	least once: every failed try since that envelope arrived kept it
 *	queued), the last error of that envelope, letters forwarded (or,
 *	for "local", delivered) per minute.
 *
 *	Counters: a tail told to count (stats_tail_count: the daemon's, at
 *	start-up) also keeps totals of the journal's received, forwarded,
 *	delivered, failed and deferred lines written since then: monotonic
 *	while the daemon runs (a restart begins again at 0, as Prometheus
 *	expects of a counter), carried over journal rotations (the journal
 *	being read is kept open, so the lines a rotation moved into
 *	journal.1 after the last scan are read and counted before the new
 *	journal's). They are the Prometheus counters niftpmail_*_total of
 *	the metrics file; mailctl stats, which reads the spool once, has no
 *	start to count from and shows none.
 *--*/
#ifndef RELAY_RELAYD_STATS_H
#define RELAY_RELAYD_STATS_H

#include <stddef.h>
#include <time.h>

struct buf;
struct conf;
struct relayd;
struct stats_tail;
struct relayd_stats;

#define STATS_WINDOW	60		/* seconds of journal for "per minute" */
#define STATS_TAIL_MAX	(4 << 20)	/* journal octets read at the first scan */
#define STATS_EVENTS_MAX 200000		/* journal events remembered */
#define STATS_HOPLEN	300
#define STATS_ERRLEN	1200
#define STATS_COUNTERS	5		/* received, forwarded, delivered, failed, deferred */

struct stats_hop {
	char	hop[STATS_HOPLEN];	/* next hop name, "local" */
	unsigned queued;		/* envelopes */
	unsigned deferred;		/* envelopes that failed at least once */
	long long oldest;		/* age of the oldest envelope, s; -1 none */
	long long failing;		/* age of the oldest failed envelope, s; -1 none */
	char	error[STATS_ERRLEN];	/* its last error (journal-escaped) or "" */
	unsigned forwarded;		/* "forwarded to=HOP" lines in the window */
	unsigned delivered;		/* "delivered" lines (hop "local") */
};

struct stats_snap {
	time_t	now;
	struct stats_hop *hops;		/* sorted by name */
	size_t	nhops;
	unsigned unrouted;		/* letters in in/ */
	unsigned held;			/* letters in hold/ */
	unsigned received;		/* "received" lines in the window */
	unsigned queued;		/* envelopes, all hops */
	long long oldest;		/* oldest envelope or unrouted letter, s; -1 */
	int	counting;		/* total[] holds counts (the daemon's tail) */
	time_t	count_since;		/* ... of the lines written since then */
	unsigned long long total[STATS_COUNTERS];	/* received, forwarded,
						 * delivered, failed, deferred */
};

/* stats_tail_new - journal tail state for repeated scans (new memory) */
struct stats_tail *stats_tail_new(void);
/* stats_tail_free - NULL allowed */
void stats_tail_free(struct stats_tail *t);
/* stats_tail_count - count, from now on, the journal lines of spool
 * written after this call (the journal's present end: what is there now
 * is not counted); the snapshots of t's scans carry the totals */
void stats_tail_count(struct stats_tail *t, const char *spool, time_t now);

/* stats_scan - statistics of the spool directory spool at time now.
 * tail (not NULL) carries the journal offset and the recent events
 * from one scan to the next; a scan uses it alone (one thread at a
 * time). Returns a new snapshot, or NULL with err when the spool
 * cannot be read. Blocking (directory and file reads): run it on a
 * worker in the daemon. */
struct stats_snap *stats_scan(const char *spool, struct stats_tail *tail, time_t now,
	char *err, size_t errlen);
/* stats_snap_free - NULL allowed */
void stats_snap_free(struct stats_snap *s);

/* stats_text - the mailctl stats table (header line, one line per
 * next hop, a "total" line) appended to out */
void stats_text(const struct stats_snap *s, struct buf *out);
/* stats_prom - the snapshot in the Prometheus text exposition format:
 * gauges, and the counters when s has them */
void stats_prom(const struct stats_snap *s, const char *node, struct buf *out);
/* stats_json - the snapshot as one JSON document (doc/mailctl.1, JSON
 * OUTPUT) */
void stats_json(const struct stats_snap *s, const char *node, struct buf *out);

/* ctl_stats - "mailctl stats [--prometheus|--json]" (argv[0] is "stats"):
 * scans the spool read-only; returns the exit status; c NULL: the
 * arguments checked (relay/ctl_ops.h CTL_ARGS_OK) */
int  ctl_stats(const struct conf *c, int argc, char **argv);

/* relayd_stats_start - the daemon's periodic scan: every
 * [node] metrics_interval a worker scans the spool and rewrites
 * [node] metrics_file durably; next hops failing longer than
 * [limits] hop_fail_warn are logged once (again only after they
 * recovered). The configuration is read from rd->conf at every tick
 * (reloads apply). Returns the state to pass to relayd_stats_free(). */
struct relayd_stats *relayd_stats_start(struct relayd *rd);
/* relayd_stats_free - after the loop and the workers are gone; NULL ok */
void relayd_stats_free(struct relayd_stats *st);

#endif
