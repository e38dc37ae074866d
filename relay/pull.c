/*++
 * NAME
 *	pull 3
 * SUMMARY
 *	mailrelayd: fetching the letters a relay keeps for this node (pull
 *	mode, INDRA Note 1025 section 4.4)
 * SYNOPSIS
 *	#include "relay/pull.h"
 * DESCRIPTION
 *	A pass against RELAY (a [routes] niftp hop of this node, called at
 *	its first alternate with the [peer RELAY] credentials, as a push
 *	would) reads the virtual file pull:list (mode 0x8002), one line per
 *	letter: "NAME SIZE CRC COPY-ID". Then up to [pull] max_calls calls
 *	(the first included) fetch the letters one after another with mode
 *	read-and-remove (0x8001), a transfer id derived from the copy
 *	identity (1 + its CRC-32 mod 65534) and the copy identity sent
 *	along: the receive side's filestore (relay/relayd_recv.h) stores
 *	each under a server docket keyed (pull:RELAY, id, copy), checkpoints
 *	long ones, and commits through the inbound door before ER(OK); our
 *	STOP names what we stored ("niftpmail-stored NAME"), and the relay
 *	removes its copy before its STOPACK.
 *
 *	Exactly once: before each fetch the docket of that copy is looked
 *	up. Committed: the letter is here already (a STOPACK lost, a call
 *	cut after ER): the fetch is a resumption at mark 0xFFFF, no data
 *	moves, and the relay lets its copy go. Partial: a resumption from
 *	the last checkpoint. None: a fresh fetch. The docket is kept,
 *	whatever [retry] docket_keep says, until the relay confirms that it
 *	let its copy go (STOPACK with a good state). A list longer than
 *	PULL_LIST_MAX lines is read again after the pass fetched something.
 *
 *	The schedule: [pull] from = RELAY ..., every = DURATION (default 5
 *	minutes when from is set); mailctl fetch [RELAY] runs a pass now.
 *	A pass to a relay already running is not started twice: the caller
 *	waits for the running one.
 * DIAGNOSTICS
 *	A pass logs one line: listed, fetched, released, failed and the first
 *	trouble; each letter's life is in the journal (received ... from
 *	the relay, donor=RELAY/NAME).
 *--*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mailchannel/route.h"
#include "niftp/niftp_call.h"
#include "relay/channel.h"
#include "relay/conf.h"
#include "relay/peer.h"
#include "relay/pull.h"
#include "relay/relayd.h"
#include "relay/relayd_recv.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/version.h"

#define PULL_ROUNDS_MAX	100		/* lists read in one pass */
#define PULL_CALL_FAILS	3		/* calls lost in a pass before it gives up */

/* One letter of the list. */
struct pitem {
	char	name[SPOOL_NAMELEN];
	char	copy[NIFTP_MAX_NAME + 1];
	uint64_t size;
	uint16_t tid;
	int	resumed;		/* fetched as "only STOP left" */
	int	state;			/* 0 to do, 1 being fetched, 2 over */
};

struct pcall;

/* Someone waiting for a pass (mailctl fetch). */
struct pwaiter {
	struct pwaiter *next;
	void	(*done)(void *arg, const struct pull_report *r);
	void   *arg;
};

struct ppass {
	struct puller *pu;
	struct ppass *next;
	char	relay[PEER_NAME_MAX];
	char   *addr, *called, *user, *pass;
	struct pitem *items;
	size_t	nitems, inext;		/* the list, and the first not taken */
	unsigned rounds;
	unsigned ncalls;
	unsigned fails;			/* calls lost */
	int	listing;		/* a list is being read */
	int	over;			/* no more calls */
	struct pcall *calls;
	struct pull_report rep;
	struct pwaiter *waiters;
	uint64_t reap;
};

struct pcall {
	struct ppass *pp;
	struct pcall *next;
	struct niftp_call *call;
	struct rcall *rc;
	struct pitem *cur;		/* being fetched, or NULL */
	int	lists;			/* this call reads the list */
	int	up, down;
	uint64_t reap;
};

struct puller {
	struct relayd *rd;
	struct ppass *passes;
	uint64_t timer;
	int	stopping;
};

static struct puller *puller_of(struct relayd *rd);

static void pass_pump(struct ppass *pp);

static void report_err(struct ppass *pp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report_err(struct ppass *pp, const char *fmt, ...)
{
	va_list ap;

	if (pp->rep.error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(pp->rep.error, sizeof(pp->rep.error), fmt, ap);
	va_end(ap);
}

/* --- the list ------------------------------------------------------------------ */

/* pass_fetching - a call of pp is fetching a letter of its list */
static int pass_fetching(const struct ppass *pp)
{
	const struct pcall *pc;

	for (pc = pp->calls; pc != NULL; pc = pc->next)
		if (pc->cur != NULL)
			return 1;
	return 0;
}

/* take_list - the list the relay sent (on rc): into pp->items */
static void take_list(struct ppass *pp, const struct buf *b)
{
	const char *p = (const char *) buf_data(b), *end = p + b->len, *nl;
	char    line[SPOOL_NAMELEN + NIFTP_MAX_NAME + 64];
	size_t  bad = 0;

	if (pass_fetching(pp))		/* their cur would point into the freed list */
		log_panic("pull from %s: list replaced while a letter is fetched", pp->relay);
	pp->nitems = pp->inext = 0;
	free(pp->items);
	pp->items = NULL;
	for (; p < end; p = nl + 1) {
		char   *name, *copy;
		uint64_t size;
		uint32_t crc;
		struct pitem *it;

		if ((nl = memchr(p, '\n', (size_t) (end - p))) == NULL)
			nl = end;
		if ((size_t) (nl - p) >= sizeof(line) || pp->nitems >= PULL_LIST_MAX) {
			bad++;
			continue;
		}
		memcpy(line, p, (size_t) (nl - p));
		line[nl - p] = '\0';
		if (line[0] == '\0')
			continue;
		if (pull_list_parse_line(line, (size_t) (nl - p), &name, &size, &crc, &copy) < 0) {
			bad++;
			continue;
		}
		pp->items = xrealloc(pp->items, (pp->nitems + 1) * sizeof(*pp->items));
		it = &pp->items[pp->nitems++];
		memset(it, 0, sizeof(*it));
		str_copy(it->name, name, sizeof(it->name));
		str_copy(it->copy, copy, sizeof(it->copy));
		it->size = size;
		it->tid = (uint16_t) (1 + crc32(0L, (const Bytef *) copy, (uInt) strlen(copy))
		    % 65534);
	}
	if (bad > 0) {
		log_warn("pull from %s: %zu malformed line(s) in %s left out", pp->relay, bad,
		    PULL_LIST_NAME);
		report_err(pp, "%zu malformed line(s) in the relay's list", bad);
	}
	pp->rep.listed += (unsigned) pp->nitems;
}

/* --- calls ------------------------------------------------------------------- */

static void pcall_free(struct pcall *pc)
{
	struct ppass *pp = pc->pp;
	struct pcall **pcp;

	for (pcp = &pp->calls; *pcp != NULL; pcp = &(*pcp)->next)
		if (*pcp == pc) {
			*pcp = pc->next;
			break;
		}
	pp->ncalls--;
	if (pc->reap)
		loop_timer_del(pp->pu->rd->loop, pc->reap);
	if (pc->call != NULL)
		niftp_call_free(pc->call);
	relayd_pull_rcall_free(pc->rc);
	free(pc);
}

static void pcall_reap(struct loop *loop, void *arg)
{
	struct pcall *pc = arg;
	struct ppass *pp = pc->pp;

	(void) loop;
	pc->reap = 0;
	pcall_free(pc);
	pass_pump(pp);
}

static void pcall_req(struct ppass *pp, struct niftp_req *req)
{
	memset(req, 0, sizeof(*req));
	req->mail = 1;
	req->size = -1;
	req->username = pp->user;
	req->password = pp->pass;
}

/* pcall_list - read the list on pc */
static void pcall_list(struct pcall *pc)
{
	struct ppass *pp = pc->pp;
	struct niftp_req req;

	pcall_req(pp, &req);
	req.mode = NIFTP_MODE_READ;
	req.filename = PULL_LIST_NAME;
	pc->lists = 1;
	pp->listing = 1;
	pp->rounds++;
	if (niftp_call_start(pc->call, &req) < 0) {
		pc->lists = 0;
		pp->listing = 0;
		report_err(pp, "the list could not be asked for");
		niftp_call_hangup(pc->call);
	}
}

/* pcall_fetch - fetch it on pc: afresh, from a checkpoint, or (held here
 * already) only to let the relay's copy go */
static void pcall_fetch(struct pcall *pc, struct pitem *it)
{
	struct ppass *pp = pc->pp;
	struct niftp_req req;
	char    here[SPOOL_NAMELEN];
	int     committed = 0;

	pcall_req(pp, &req);
	req.mode = NIFTP_MODE_READ_REMOVE;
	req.filename = it->name;
	req.tid = it->tid;
	req.copy_id = it->copy;
	req.compress = 1;
	if (relayd_pull_docket(pp->pu->rd, pp->relay, it->tid, it->copy, &committed, here,
	    sizeof(here)) > 0) {
		req.resume = 1;
		req.restart_mark = committed ? NIFTP_MARK_EOF : NIFTP_MARK_EOF - 1;
		it->resumed = committed;
		if (committed)
			log_info("pull from %s: '%s' is here already as '%s': letting the "
			    "relay's copy go", pp->relay, it->name, here);
	}
	it->state = 1;
	pc->cur = it;
	if (niftp_call_start(pc->call, &req) < 0) {
		it->state = 0;
		pc->cur = NULL;
		niftp_call_hangup(pc->call);
	}
}

/* pcall_next - pc is idle: the list, the next letter, or hang up */
static void pcall_next(struct pcall *pc)
{
	struct ppass *pp = pc->pp;

	if (pc->down || pc->cur != NULL || pc->lists)
		return;
	if (pp->over || pp->pu->stopping) {
		niftp_call_hangup(pc->call);
		return;
	}
	while (pp->inext < pp->nitems && pp->items[pp->inext].state != 0)
		pp->inext++;
	if (pp->inext < pp->nitems) {
		pcall_fetch(pc, &pp->items[pp->inext++]);
		return;
	}
	/* nothing left: a full list may hide more, once something moved.
	 * The new list replaces pp->items, into which the other calls'
	 * cur point: it is read only when no other call is fetching. Until
	 * then this call waits, idle: the last fetch to end reads it (its
	 * pcall_next()), or, if that call is lost, pass_pump() brings this
	 * one back here */
	if (!pp->listing && pp->nitems >= PULL_LIST_MAX && pp->rounds < PULL_ROUNDS_MAX
	    && pp->rep.fetched + pp->rep.released > 0) {
		if (!pass_fetching(pp))
			pcall_list(pc);
		return;
	}
	niftp_call_hangup(pc->call);
}

static void pcall_event(void *arg, struct niftp_call *call, const struct niftp_event *ev)
{
	struct pcall *pc = arg;
	struct ppass *pp = pc->pp;
	struct pitem *it = pc->cur;

	(void) call;
	if (ev->type == NIFTP_EV_FAILED) {
		report_err(pp, "%s", ev->reason ? ev->reason : "protocol error");
		return;
	}
	if (ev->type != NIFTP_EV_DONE)
		return;
	if (pc->lists) {
		pc->lists = 0;
		pp->listing = 0;
		if (ev->status == NIFTP_OK) {
			take_list(pp, relayd_pull_rcall_list(pc->rc));
		} else {
			log_warn("pull from %s: %s not read: %s", pp->relay, PULL_LIST_NAME,
			    ev->reason ? ev->reason : niftp_status_str(ev->status));
			report_err(pp, "list not read: %s", ev->reason ? ev->reason
			    : niftp_status_str(ev->status));
			pp->over = 1;
		}
		pass_pump(pp);
		return;
	}
	if (it == NULL)
		return;
	pc->cur = NULL;
	it->state = 2;
	if (ev->status == NIFTP_OK) {
		if (it->resumed)
			pp->rep.released++;
		else
			pp->rep.fetched++;
		relayd_pull_docket_drop(pp->pu->rd, pp->relay, it->tid, it->copy);
	} else {
		char    here[SPOOL_NAMELEN];
		int     committed = 0;

		if (relayd_pull_docket(pp->pu->rd, pp->relay, it->tid, it->copy, &committed,
		    here, sizeof(here)) > 0 && committed) {
			/* stored here; the relay did not say it let its copy go:
			 * if it still lists it, the next pass asks again (it is
			 * never stored twice) */
			log_info("pull from %s: '%s' stored here as '%s'; the relay did not confirm "
			    "its removal: %s", pp->relay, it->name, here, ev->reason ? ev->reason
			    : niftp_status_str(ev->status));
		} else
			log_warn("pull from %s: '%s' not fetched: %s", pp->relay, it->name,
			    ev->reason ? ev->reason : niftp_status_str(ev->status));
		if (committed && it->resumed)
			pp->rep.released++;	/* here since an earlier pass */
		else if (committed)
			pp->rep.fetched++;	/* here, whatever the relay says */
		else {
			pp->rep.failed++;
			report_err(pp, "'%s': %s", it->name, ev->reason ? ev->reason
			    : niftp_status_str(ev->status));
		}
		if (ev->status == NIFTP_ERR_AUTH)
			pp->over = 1;
	}
	pcall_next(pc);
}

static void pcall_callev(void *arg, struct niftp_call *call, enum niftp_call_ev ev,
	int reason, const char *text)
{
	struct pcall *pc = arg;
	struct ppass *pp = pc->pp;

	(void) call;
	if (ev == NIFTP_CALL_EV_UP) {
		pc->up = 1;
		return;
	}
	pc->down = 1;
	if (pc->cur != NULL) {
		size_t  k = (size_t) (pc->cur - pp->items);

		pc->cur->state = 0;		/* not over: another call may take it */
		pc->cur = NULL;
		if (k < pp->inext)
			pp->inext = k;
	}
	if (pc->lists) {
		pc->lists = 0;
		pp->listing = 0;
	}
	if (reason != TS_R_NORMAL) {
		pp->fails++;
		log_warn("pull from %s: call to %s ended: %s", pp->relay, pp->addr, text);
		report_err(pp, "call to %s: %s", pp->addr, text);
		if (!pc->up || pp->fails >= PULL_CALL_FAILS)
			pp->over = 1;	/* unreachable, or the link keeps failing */
	}
	if (pc->reap == 0)
		pc->reap = loop_timer_add(pp->pu->rd->loop, 0, pcall_reap, pc);
}

/* pcall_new - one more call of pp; NULL when it cannot be placed */
static struct pcall *pcall_new(struct ppass *pp)
{
	struct relayd *rd = pp->pu->rd;
	struct pcall *pc = xcalloc(1, sizeof(*pc));
	struct niftp_call_hooks hooks;
	struct niftp_config cfg;
	char    err[RELAYD_ERRLEN];

	pc->pp = pp;
	pc->rc = relayd_pull_rcall(rd, pp->relay, pp->addr);
	memset(&cfg, 0, sizeof(cfg));
	cfg.info = VERSION_LINE("mailrelayd");
	cfg.deflate = 1;
	cfg.max_size = rd->conf->max_letter_size;
	memset(&hooks, 0, sizeof(hooks));
	hooks.event = pcall_event;
	hooks.call = pcall_callev;
	pc->call = niftp_call_open(rd->loop, pp->addr, pp->called, rd->conf->calling, NULL, &cfg,
	    &hooks, pc, relayd_recv_fs(), pc->rc, err, sizeof(err));
	if (pc->call == NULL) {
		log_warn("pull from %s: %s", pp->relay, err);
		report_err(pp, "%s", err);
		relayd_pull_rcall_free(pc->rc);
		free(pc);
		return NULL;
	}
	relayd_pull_rcall_bind(pc->rc, pc->call);
	pc->next = pp->calls;
	pp->calls = pc;
	pp->ncalls++;
	return pc;
}

/* --- passes ---------------------------------------------------------------------- */

static void pass_free(struct ppass *pp)
{
	struct puller *pu = pp->pu;
	struct ppass **ppp;

	for (ppp = &pu->passes; *ppp != NULL; ppp = &(*ppp)->next)
		if (*ppp == pp) {
			*ppp = pp->next;
			break;
		}
	if (pp->reap)
		loop_timer_del(pu->rd->loop, pp->reap);
	free(pp->items);
	free(pp->addr);
	free(pp->called);
	free(pp->user);
	free(pp->pass);
	free(pp);
}

/* pass_end - no call left: report and go */
static void pass_end(struct loop *loop, void *arg)
{
	struct ppass *pp = arg;
	struct pwaiter *w;

	(void) loop;
	pp->reap = 0;
	log_info("pull from %s: listed %u, fetched %u, released %u, failed %u%s%s", pp->relay,
	    pp->rep.listed, pp->rep.fetched, pp->rep.released, pp->rep.failed,
	    pp->rep.error[0] ? ": " : "", pp->rep.error);
	while ((w = pp->waiters) != NULL) {
		pp->waiters = w->next;
		w->done(w->arg, &pp->rep);
		free(w);
	}
	pass_free(pp);
}

/* pass_pump - start calls for what is to do; end the pass when nothing is */
static void pass_pump(struct ppass *pp)
{
	const struct pull_settings *st = pp->pu->rd->conf->chconf[ROUTE_CH_PULL];
	unsigned max = st != NULL ? st->max_calls : 4;
	size_t  todo = 0, i;
	struct pcall *pc;

	/* idle calls take work first (or hang up) */
	for (pc = pp->calls; pc != NULL; pc = pc->next)
		if (!pc->down && pc->cur == NULL && !pc->lists)
			pcall_next(pc);
	for (i = pp->inext; i < pp->nitems; i++)
		if (pp->items[i].state == 0)
			todo++;
	if (!pp->over && !pp->pu->stopping) {
		if (pp->rounds == 0 && pp->ncalls == 0) {
			if ((pc = pcall_new(pp)) == NULL)
				pp->over = 1;
			else
				pcall_list(pc);
		} else if (!pp->listing) {
			/* more calls, up to max_calls, while letters wait */
			while (todo > 0 && pp->ncalls < max && (pc = pcall_new(pp)) != NULL) {
				todo--;
				pcall_next(pc);
			}
		}
	}
	if (pp->ncalls == 0 && pp->reap == 0 && (pp->over || pp->rounds > 0))
		pp->reap = loop_timer_add(pp->pu->rd->loop, 0, pass_end, pp);
}

static struct puller *puller_of(struct relayd *rd)
{
	return chan_pull_puller(rd);
}

int pull_fetch(struct relayd *rd, const char *relay,
	void (*done)(void *arg, const struct pull_report *r), void *arg,
	char *err, size_t errlen)
{
	struct puller *pu = puller_of(rd);
	const struct route_hop *h;
	const struct route_alt *alt;
	const struct conf_peer *p;
	struct ppass *pp;
	struct pwaiter *w;
	char    name[PEER_NAME_MAX];

	if (pu == NULL || rd->stopping) {
		snprintf(err, errlen, "mail relay shutting down");
		return -1;
	}
	if (str_copy(name, relay, sizeof(name)) >= sizeof(name)) {
		snprintf(err, errlen, "no route to a relay of that name");
		return -1;
	}
	for (char *c = name; *c; c++)
		*c = (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	/* the relay's route as for a letter to it (by pattern: a hop shared
	 * with "*" may be named after that pattern) */
	h = route_table_lookup(rd->conf->routes, name, NULL);
	if (h == NULL || h->nalts == 0 || h->alts[0].channel != ROUTE_CH_NIFTP) {
		snprintf(err, errlen, "no niftp route named '%s' to fetch from ([routes] %s = "
		    "niftp ADDRESS)", name, name);
		return -1;
	}
	for (pp = pu->passes; pp != NULL; pp = pp->next)
		if (strcmp(pp->relay, name) == 0)
			break;
	if (pp == NULL) {
		alt = &h->alts[0];
		pp = xcalloc(1, sizeof(*pp));
		pp->pu = pu;
		str_copy(pp->relay, name, sizeof(pp->relay));
		pp->addr = xstrdup(alt->addr);
		pp->called = xstrdup(alt->called ? alt->called : ROUTE_CALLED_DEFAULT);
		if ((p = peer_find(rd->conf, name)) != NULL || (p = peer_for_hop(rd->conf, h->name,
		    alt->addr)) != NULL) {
			pp->user = p->username ? xstrdup(p->username) : NULL;
			pp->pass = p->password ? xstrdup(p->password) : NULL;
		}
		pp->next = pu->passes;
		pu->passes = pp;
		pass_pump(pp);
	}
	if (done != NULL) {
		w = xcalloc(1, sizeof(*w));
		w->done = done;
		w->arg = arg;
		w->next = pp->waiters;
		pp->waiters = w;
	}
	return 0;
}

void pull_forget(struct relayd *rd, void *arg)
{
	struct puller *pu = puller_of(rd);
	struct ppass *pp;
	struct pwaiter **wp, *w;

	for (pp = pu ? pu->passes : NULL; pp != NULL; pp = pp->next)
		for (wp = &pp->waiters; (w = *wp) != NULL;)
			if (w->arg == arg) {
				*wp = w->next;
				free(w);
			} else
				wp = &w->next;
}

/* --- the schedule ---------------------------------------------------------------- */

static void pull_tick(struct loop *loop, void *arg)
{
	struct puller *pu = arg;
	const struct pull_settings *st = pu->rd->conf->chconf[ROUTE_CH_PULL];
	char    err[RELAYD_ERRLEN];

	(void) loop;
	pu->timer = 0;
	if (pu->stopping || st == NULL || st->nfrom == 0)
		return;
	for (size_t i = 0; i < st->nfrom; i++)
		if (pull_fetch(pu->rd, st->from[i], NULL, NULL, err, sizeof(err)) < 0)
			log_warn("pull from %s: %s", st->from[i], err);
	pu->timer = loop_timer_add(pu->rd->loop, st->every_ms, pull_tick, pu);
}

struct puller *puller_new(struct relayd *rd)
{
	struct puller *pu = xcalloc(1, sizeof(*pu));

	pu->rd = rd;
	return pu;
}

void puller_schedule(struct puller *pu)
{
	const struct pull_settings *st = pu->rd->conf->chconf[ROUTE_CH_PULL];

	if (pu->timer)
		loop_timer_del(pu->rd->loop, pu->timer);
	pu->timer = 0;
	if (!pu->stopping && st != NULL && st->nfrom > 0)
		pu->timer = loop_timer_add(pu->rd->loop, 0, pull_tick, pu);
}

void puller_stop(struct puller *pu, int now)
{
	struct ppass *pp;
	struct pcall *pc;

	pu->stopping = 1;
	if (pu->timer)
		loop_timer_del(pu->rd->loop, pu->timer);
	pu->timer = 0;
	for (pp = pu->passes; pp != NULL; pp = pp->next) {
		pp->over = 1;
		for (pc = pp->calls; pc != NULL; pc = pc->next) {
			if (pc->down)
				continue;
			if (now)
				niftp_call_abort(pc->call, TS_R_OUTOFORDER, "mail relay shutting down");
			else if (pc->cur == NULL && !pc->lists)
				niftp_call_hangup(pc->call);
		}
	}
}

int puller_busy(const struct puller *pu)
{
	return pu->passes != NULL;
}

void puller_free(struct puller *pu)
{
	struct ppass *pp;

	if (pu == NULL)
		return;
	if (pu->timer)
		loop_timer_del(pu->rd->loop, pu->timer);
	while ((pp = pu->passes) != NULL) {
		struct pwaiter *w;

		while (pp->calls != NULL)
			pcall_free(pp->calls);
		while ((w = pp->waiters) != NULL) {
			pp->waiters = w->next;
			free(w);
		}
		pass_free(pp);
	}
	free(pu);
}
