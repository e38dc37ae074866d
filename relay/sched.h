/*++
 * NAME
 *	sched 3h
 * SUMMARY
 *	mailrelayd: the scheduler (due envelopes, retries, warnings,
 *	give-up)
 * SYNOPSIS
 *	#include "relay/sched.h"
 * DESCRIPTION
 *	The scheduler looks at every envelope once a second (give up after
 *	[retry] give_up with an NDN, one "still trying" notice after warn,
 *	start what came due) and whenever sched_poke() asks, but at most
 *	every SCHED_MIN_MS, so a long queue does not make each event cost
 *	a pass over it. What must happen at once (a routed envelope to
 *	start, a finished one to remove) is kicked: sched_kick() puts it on
 *	the soon list, worked on at the next loop turn. The back-off after
 *	a failed try is the queue's (conf_backoff_ms()); the scheduler only
 *	reads next_try. Every pass also looks at out/ (relay/pickup.h) at
 *	most once a second.
 *
 *	Starting an envelope is handing it to its channel
 *	(queue_env_start()); when that cannot be done (no route for its
 *	next hop now) the envelope is deferred with that reason.
 * DIAGNOSTICS
 *	Nothing here fails: what goes wrong with an envelope is its result
 *	(deferred, failed: journalled by the queue) and what goes wrong on
 *	disk is the queue's (logged with the letter's name).
 *--*/
#ifndef RELAY_SCHED_H
#define RELAY_SCHED_H

struct relayd;
struct qenv;
struct sched;

#define SCHED_MS	1000	/* a full pass at least this often */
#define SCHED_MIN_MS	100	/* full passes asked for: at most this often */

/* sched_new - the scheduler of node rd; its timers run from sched_start() */
struct sched *sched_new(struct relayd *rd);
/* sched_start - first full pass now, then every SCHED_MS */
void sched_start(struct sched *s);
/* sched_free - stop the timers, free */
void sched_free(struct sched *s);
/* sched_kick - look at e at the next loop turn */
void sched_kick(struct sched *s, struct qenv *e);
/* sched_poke - a full pass soon */
void sched_poke(struct sched *s);
/* sched_retry - make due now the envelopes that `what` names: NULL
 * (all), a letter or envelope name, or "hop:HOST"; returns how many */
int  sched_retry(struct sched *s, const char *what);
/* sched_retry_match - does e answer `what` (as above) */
int  sched_retry_match(const struct qenv *e, const char *what);

#endif
