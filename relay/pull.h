/*++
 * NAME
 *	pull 3h
 * SUMMARY
 *	mailrelayd: pull mode (INDRA Note 1025 section 4.4), both sides
 * SYNOPSIS
 *	#include "relay/pull.h"
 * DESCRIPTION
 *	At the relay, a route "HOST = pull" keeps HOST's letters until HOST
 *	calls and reads them (chan_pull_ops, relay/chan_niftp.c: a passive
 *	channel). The receive side (relay/relayd_recv.c) hands an
 *	authenticated peer's reads to pull_srv_open(): "pull:list" is the
 *	list of what waits for that peer, NAME one of its letters, read
 *	with mode read-and-remove; the letter leaves the queue ("forwarded
 *	... pulled=1", durably) before the STOPACK that tells the peer so.
 *
 *	At the pulling node, pull_fetch() runs one pass against a relay
 *	(relay/pull.c): list, then fetch every letter over up to [pull]
 *	max_calls calls; each fetched letter is stored by the receive
 *	side's filestore (a server docket keyed "pull:RELAY", the copy
 *	identity from the list) and enters through the inbound door. A
 *	copy whose docket says committed is never stored again: its fetch
 *	is a resumption at mark 0xFFFF, which only asks the relay to let
 *	it go. The wire format is in doc/niftp.md ("Pull mode").
 * DIAGNOSTICS
 *	pull_srv_open() refuses with a state and a reason (res); a pass
 *	reports counts and the first error through its callback.
 *--*/
#ifndef RELAY_PULL_H
#define RELAY_PULL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "niftp/niftp.h"

struct relayd;
struct buf;

#define PULL_LIST_NAME	"pull:list"	/* the virtual file a puller reads first */
#define PULL_LIST_MAX	1000		/* letters in one list (the puller lists again) */
#define PULL_LIST_BYTES	(PULL_LIST_MAX * 600)	/* a list's largest size */

/* The [pull] section (conf->chconf[ROUTE_CH_PULL]). */
struct pull_settings {
	char  **from;		/* relays to fetch from on a schedule */
	size_t	nfrom;
	int64_t	every_ms;	/* how often; 0: only when asked (mailctl fetch) */
	unsigned max_calls;	/* calls to one relay in a pass (default 4) */
};

/* --- at the relay (relay/chan_niftp.c) --- */

struct pull_file;

/* pull_srv_open - peer (an authenticated peer's name) reads req->filename:
 * 0 with *pf (res->name, res->size filled), or -1 with res->state/reason
 * (res->denied when the caller may not read it) */
int	pull_srv_open(struct relayd *rd, const char *peer, const struct niftp_req *req,
	struct niftp_open *res, struct pull_file **pf);
ssize_t	pull_srv_read(struct pull_file *pf, void *p, size_t len, char *reason);
int	pull_srv_seek(struct pull_file *pf, uint64_t offset, char *reason);
/* pull_srv_remove - the peer holds it (its STOP, info: its information
 * messages): the letter leaves the queue; done(arg, ok, why) when that
 * is durable (or failed), never after pull_srv_close() */
void	pull_srv_remove(struct pull_file *pf, const char *info,
	void (*done)(void *arg, int ok, const char *why), void *arg);
/* pull_srv_close - the read ended (removed or not); frees pf */
void	pull_srv_close(struct pull_file *pf);
/* pull_list_parse_line - one line of a list (len octets, no LF, NUL
 * after them): 0 with the fields (name and copy point into line, which
 * is changed), or -1 (a NUL among the octets, a bad field) */
int	pull_list_parse_line(char *line, size_t len, char **name, uint64_t *size, uint32_t *crc,
	char **copy);

/* --- at the pulling node (relay/pull.c) --- */

/* What one pass did. */
struct pull_report {
	unsigned listed;	/* letters the relay listed */
	unsigned fetched;	/* stored here by this pass */
	unsigned released;	/* held here already: the relay only let them go */
	unsigned failed;	/* not fetched (tried again next pass) */
	char	error[300];	/* the first trouble, "" none */
};

/* pull_fetch - one pass against relay (a [routes] niftp hop); done(arg,
 * report) when it is over. 0, or -1 with err (no such route, a pass to it
 * already running) */
int	pull_fetch(struct relayd *rd, const char *relay,
	void (*done)(void *arg, const struct pull_report *r), void *arg,
	char *err, size_t errlen);
/* pull_forget - the caller of pull_fetch() with arg is gone: no callback */
void	pull_forget(struct relayd *rd, void *arg);

/* The puller: passes and the schedule, held by the pull channel's
 * instance (chan_pull_puller()), which calls these at start, reload, stop
 * and exit. puller_schedule - [pull] from/every (again after a reload);
 * puller_stop - end the schedule, cut passes (now) or let them end;
 * puller_busy - passes in progress. */
struct puller;
struct puller *chan_pull_puller(struct relayd *rd);
struct puller *puller_new(struct relayd *rd);
void	puller_schedule(struct puller *pu);
void	puller_stop(struct puller *pu, int now);
int	puller_busy(const struct puller *pu);
void	puller_free(struct puller *pu);

#endif
