/*++
 * NAME
 *	relayd 3h
 * SUMMARY
 *	mailrelayd: the node
 * SYNOPSIS
 *	#include "relay/relayd.h"
 * DESCRIPTION
 *	The node is what every module of the daemon shares: the loop, the
 *	worker queue, the spool, the configuration, the queue core and the
 *	scheduler, the channels, and whether the daemon is stopping. Each
 *	module owns its own state behind its own header:
 *
 *	relayd.c        start-up, listeners, signals, readiness, stop
 *	relayd_recv.c   NIFTP receive (relay/relayd_recv.h)
 *	inbound.c       the one door every letter enters by (relay/inbound.h)
 *	router.c        routing a received letter into envelopes
 *	queue.c         the queue core: letters, envelopes, results
 *	sched.c         the scheduler: due list, retries, warn, give-up
 *	notices.c       non-delivery notices, warnings, acknowledgements
 *	pickup.c        out/ drops and mailctl submit
 *	ops.c           operator actions
 *	channel.c       the channel table; chan_local.c, chan_niftp.c
 *	ctl_server.c    the control socket (relay/ctl_proto.h)
 *
 *	Everything runs on the loop thread except jobs on wq, which touch
 *	only their own job structure. doc/relay.md describes the spool
 *	layout, the journal events and the protocols.
 *--*/
#ifndef RELAY_RELAYD_H
#define RELAY_RELAYD_H

#include <stdint.h>

#include "relay/channel.h"
#include "relay/conf.h"

struct loop;
struct workq;
struct spool;
struct queue;
struct sched;
struct pickup;
struct rcall;
struct ts_listener;

#define RELAYD_ERRLEN	1024

/* Exit codes (DESIGN section 2). */
#define RX_OK		0
#define RX_OTHER	1
#define RX_USAGE	64
#define RX_DATAERR	65
#define RX_NOUSER	67	/* mailctl: a letter named is not there (EX_NOUSER) */
#define RX_UNAVAIL	69
#define RX_SOFTWARE	70	/* mailctl submit: no answer after the whole letter went:
				 * it may have been accepted */
#define RX_IOERR	74	/* the spool's file system failed (EIO, EROFS) */
#define RX_TEMPFAIL	75
#define RX_NOPERM	77	/* the spool or the control socket may not be read; the
				 * daemon cannot become its [node] user */
#define RX_CONFIG	78

struct relayd {
	struct loop *loop;
	struct workq *wq;
	struct spool *sp;
	struct conf *conf;		/* current configuration */
	const char *conf_path;
	int	stdio_mode;		/* --stdio: one call, no queue work */
	int	foreground;
	struct ts_listener *ls[CONF_MAX_LISTEN + 1];
	int	ls_accept[CONF_MAX_LISTEN + 1];	/* each listener's accept= and local=, */
	int	ls_local[CONF_MAX_LISTEN + 1];	/* as it was bound (a reload keeps them) */
	int	nls;
	/* incoming calls (relayd_recv.c) */
	struct rcall *rcalls;
	int	nrcalls;
	/* the queue, its scheduler, its channels, the pickup of out/ */
	struct queue *q;
	struct sched *sched;
	struct pickup *pickup;
	const struct channel_ops *chops[CHANNEL_MAX];
	void   *chself[CHANNEL_MAX];
	/* stopping */
	int	stopping;
	int	stop_now;
	int64_t	stop_deadline;
	int	sig_pipe[2];
	int	jobs;			/* workq jobs whose done() has not run */
};

/* relayd_job - bookkeeping of rd->jobs (inline: the modules that call
 * it must not link relayd.c, which names the channel table) */
static inline void relayd_job(struct relayd *rd, int delta)
{
	rd->jobs += delta;
}
/* relayd_ready_write - (re)write SPOOL/ready */
void relayd_ready_write(struct relayd *rd);

/* relayd_channels_start - an instance of each channel in rd->chops (a
 * NULL entry is taken from the channel table); 0, or -1 with err */
int  relayd_channels_start(struct relayd *rd, char *err, size_t errlen);
/* relayd_channels_busy - some channel has calls or jobs alive */
int  relayd_channels_busy(const struct relayd *rd);
/* relayd_channels_stop - stop() every channel */
void relayd_channels_stop(struct relayd *rd, int now);
/* relayd_channels_free - free every channel instance */
void relayd_channels_free(struct relayd *rd);

#endif
