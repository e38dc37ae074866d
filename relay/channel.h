/*++
 * NAME
 *	channel 3h
 * SUMMARY
 *	mailrelayd: the channel interface and the channel table
 * SYNOPSIS
 *	#include "relay/channel.h"
 * DESCRIPTION
 *	A channel carries envelopes out of the queue: "local" delivers
 *	into Maildirs (relay/chan_local.c), "niftp" sends copies to a next
 *	hop through the NIFTP engine (relay/chan_niftp.c), "smtp" hands them
 *	to an Internet relay host through libcurl (relay/chan_smtp.c). The queue core
 *	(relay/queue.h) knows letters, envelopes and results and nothing
 *	about any channel; the scheduler (relay/sched.h) hands each due
 *	envelope to the channel of its next hop, and the channel answers
 *	once with queue_result() (per-recipient outcomes), or gives the
 *	envelope back with queue_requeue().
 *
 *	The channel of an envelope is the channel of its next hop's
 *	current first alternate in the route table (mailchannel/route.h):
 *	ROUTE_CH_LOCAL for local deliveries, ROUTE_CH_NIFTP, ... The
 *	table maps each route channel to its operations; the node copies
 *	it into rd->chops and holds one instance of each (rd->chself). A
 *	unit test puts a channel of its own into rd->chops before
 *	relayd_channels_start() (tests/unit/test_queue.c).
 *
 *	Adding a channel: its file (struct channel_ops), one line in the
 *	table (relay/channel.c) and its word in the route parser
 *	(ROUTE_CH_* in mailchannel/route.h, the [routes] syntax in
 *	relay/conf.c); when it has a section, one line in the configuration
 *	table as well (relay/conf.c). Nothing else: its configuration
 *	section is read by the channel itself (conf_load below).
 *
 *	Two tables, because a program links whole files of a static
 *	library: the channel table names every channel's operations, so a
 *	program that uses it links every channel, and libcurl with the smtp
 *	one; only mailrelayd may. The configuration loader, which
 *	niftpmail-sendmail (run once per message) and mailctl use too,
 *	reaches a channel's section through the configuration table only.
 *	Its entry is the channel's own channel_ops when the channel is
 *	cheap to link (niftp), else a channel_ops holding only the
 *	configuration fields, from a file of its own (chan_smtp_conf_ops,
 *	relay/smtp_conf.c).
 *
 *	A channel's saved state (what it must find again after a crash,
 *	e.g. a copy's identity and its NIFTP docket) lives in the
 *	envelope's docket beside the queue's own fields: the channel
 *	writes its lines in env_save() and reads them back, one line at a
 *	time, in env_load(). The queue never interprets them.
 *
 *	A passive channel's envelopes wait until a peer comes for them
 *	(pull mode, relay/pull.h). The scheduler starts one only to make
 *	it ready to be collected (ready() says 0): start() then prepares
 *	it and gives it back with queue_requeue(). It warns and gives up on
 *	a passive envelope by its age alone (no attempts are made).
 *
 *	Threading: every operation runs on the loop thread. A channel may
 *	put work on the node's worker queue (rd->wq) and sockets and
 *	timers on its loop (rd->loop).
 * DIAGNOSTICS
 *	init() returns NULL with err (the daemon refuses to start);
 *	env_load() returns -1 with err for a malformed line (the queue then
 *	leaves the envelope alone and logs the docket's key). Failures of
 *	a transfer are results, never return values.
 *--*/
#ifndef RELAY_CHANNEL_H
#define RELAY_CHANNEL_H

#include <stddef.h>

#include "mailchannel/route.h"

struct buf;
struct conf_sect;
struct relayd;
struct qenv;
struct spool_txn;

#define CHANNEL_MAX	ROUTE_CH_MAX	/* entries of the channel table */

struct channel_ops {
	const char *name;	/* "local", "niftp": in logs and queue listings */
	int	passive;	/* envelopes wait for a peer (pull): see above */
	/* Its configuration section ([niftp]), parsed by the channel: its keys
	 * (any other is an error of the file), and conf_load(), which reads them with
	 * the conf_sect_*() functions of relay/conf.h (errors are reported with
	 * the file and line) and returns its settings, kept in the
	 * configuration (conf->chconf[ROUTE_CH_...]) and freed with
	 * conf_free(). Called for every configuration loaded, also when the
	 * section is absent (defaults). All may be NULL: no section. Read by
	 * the configuration loader from its configuration table only (see
	 * above), so an entry of the channel table may leave them NULL when
	 * they are in the channel's configuration-only channel_ops. */
	const char *section;
	const char *const *keys;
	void   *(*conf_load)(struct conf_sect *s);
	void	(*conf_free)(void *cfg);
	/* init - the channel's instance for node rd (configuration in rd->conf,
	 * loop rd->loop); NULL with err */
	void   *(*init)(struct relayd *rd, char *err, size_t errlen);
	/* reload - rd->conf was replaced (copies already started keep what
	 * they fixed) */
	void	(*reload)(void *self);
	/* start - e is due and not busy: carry it; the channel owns e until it
	 * calls queue_result() or queue_requeue() (once) */
	void	(*start)(void *self, struct qenv *e);
	/* ready - passive channels: e may be collected as it is (else the
	 * scheduler start()s it to prepare it) */
	int	(*ready)(void *self, const struct qenv *e);
	/* take_back - an operator action wants e, which start() gave this
	 * channel and which it holds without carrying it yet: waiting for a
	 * call slot or a free transaction, with nothing begun for it (no call,
	 * no transfer, no worker job, no saved state such as a transfer id
	 * fixed for it). Then e leaves the channel's lists and the channel
	 * forgets it as if never started: 1 (e is the queue's again). 0 when
	 * anything was begun: e stays the channel's, busy, until its answer
	 * (exactly once: a copy whose identity is fixed is never handed to
	 * two owners). May be NULL: never given back. */
	int	(*take_back)(void *self, struct qenv *e);
	/* busy - calls, jobs or sockets of this channel still alive */
	int	(*busy)(const void *self);
	/* stop - end idle calls; now: cut everything (copies stay resumable) */
	void	(*stop)(void *self, int now);
	/* free - after the loop ran dry (NULL allowed) */
	void	(*free)(void *self);
	/* env_save - append the channel's lines of e's docket to b (may be NULL) */
	void	(*env_save)(void *self, const struct qenv *e, struct buf *b);
	/* env_load - one docket line of e that the queue does not know: 0
	 * taken, -1 with err (unknown key or bad value). May be NULL: every
	 * such line is then an error. */
	int	(*env_load)(void *self, struct qenv *e, const char *key, const char *val,
		size_t vlen, char *err, size_t errlen);
	/* env_loaded - e was loaded at start-up (or put back by the operator) with
	 * its docket applied (may be NULL) */
	void	(*env_loaded)(void *self, struct qenv *e);
	/* env_leaving - add to t the removal of the channel's own files of e (may be
	 * NULL); called when e leaves the queue in t */
	void	(*env_leaving)(void *self, struct qenv *e, struct spool_txn *t);
	/* env_gone - e left the queue in memory; free its state (e->cs).
	 * released: its saved state is gone from disk for good (what it
	 * held, e.g. a transfer id, may be used again); 0: it stays on disk
	 * (held by the operator, or its removal failed: found again at the
	 * next start). May be NULL. */
	void	(*env_gone)(void *self, struct qenv *e, int released);
	/* recover - start-up, after every envelope was loaded: the names of
	 * queue/ (borrowed) for leftovers of the channel's own (may be NULL) */
	void	(*recover)(void *self, char *const *names, size_t n);
};

extern const struct channel_ops chan_local_ops;
extern const struct channel_ops chan_niftp_ops;
extern const struct channel_ops chan_smtp_ops;
extern const struct channel_ops chan_pull_ops;
/* the smtp channel's configuration fields alone (no libcurl) */
extern const struct channel_ops chan_smtp_conf_ops;

/* channel_default - the operations of route channel ch in the channel
 * table, or NULL. The node copies the table into rd->chops at start-up
 * (a unit test fills rd->chops with channels of its own). Not for the
 * configuration loader (it would link every channel; see above). */
const struct channel_ops *channel_default(enum route_channel ch);

#endif
