/*++
 * NAME
 *	router 3
 * SUMMARY
 *	mailrelayd: routing a received letter into envelopes
 * SYNOPSIS
 *	#include "relay/router.h"
 * DESCRIPTION
 *	See router.h.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "mailchannel/route.h"
#include "relay/conf.h"
#include "relay/notices.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "relay/router.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/log.h"
#include "util/strutil.h"

#define ROUTER_CALLING_MAX	300	/* calling address kept from a Via: line */

struct route_ctx {
	struct relayd *rd;
	char	name[SPOOL_NAMELEN];
	struct qenv **envs;
	size_t	nenvs;
	struct notice_report nr;
};

static void route_done(void *arg, int ok, const char *err)
{
	struct route_ctx *rc = arg;
	size_t  i;

	if (!ok) {
		if (err != NULL)
			log_error("route '%s': %s (will try again at the next start)", rc->name,
			    err);
		for (i = 0; i < rc->nenvs; i++)
			qenv_free(rc->envs[i]);
	} else {
		for (i = 0; i < rc->nenvs; i++)
			queue_env_added(rc->rd->q, rc->name, rc->envs[i]);
		if (rc->nr.dead && rc->nenvs > 0)
			queue_letter_mark_dead(rc->rd->q, rc->name, rc->nr.dead_reason);
		notices_route(rc->rd, &rc->nr);
	}
	free(rc->envs);
	free(rc);
}

/* calling_of - the calling address of a letter in in/ (best effort: the
 * received line is not at hand, so the first Via: host) */
static void calling_of(const struct hdr *h, char *dst, size_t len)
{
	char  **v = hdr_via_hosts(h, NULL);

	dst[0] = '\0';
	if (v != NULL && v[0] != NULL)
		str_copy(dst, v[0], len);
	hdr_strv_free(v);
}

static void push(struct qenv ***envs, size_t *n, struct qenv *e)
{
	*envs = xrealloc(*envs, sizeof(**envs) * (*n + 1));
	(*envs)[(*n)++] = e;
}

void router_envelopes(const char *letter, struct route_result **res, size_t n,
	struct qenv ***envs, size_t *nenvs)
{
	struct route_group *groups;
	struct qenv *loc = NULL, *e;
	time_t  now = time(NULL);
	size_t  i, j, k, ng = 0;

	*envs = NULL;
	*nenvs = 0;
	for (i = 0; i < n; i++)
		for (j = 0; j < route_result_count(res[i]); j++) {
			const struct route_target *tg = route_result_get(res[i], j);

			if (tg->kind != ROUTE_LOCAL)
				continue;
			if (loc == NULL) {
				loc = qenv_new(letter, "local", 1, now);
				push(envs, nenvs, loc);
			}
			for (k = 0; k < loc->nrcpts; k++)
				if (strcmp(loc->rcpts[k].mailbox, tg->mailbox) == 0)
					break;
			if (k == loc->nrcpts)
				qenv_add_rcpt(loc, tg->text, route_result_rcpt(res[i]), tg->owner,
				    tg->mailbox);
		}
	groups = route_group(res, n, &ng);
	for (i = 0; i < ng; i++) {
		e = qenv_new(letter, groups[i].hop->name, 0, now);
		for (j = 0; j < groups[i].n; j++)
			qenv_add_rcpt(e, groups[i].targets[j]->text,
			    route_result_rcpt(res[groups[i].rcpt[j]]), groups[i].targets[j]->owner,
			    NULL);
		push(envs, nenvs, e);
	}
	route_groups_free(groups, ng);
}

/* corrupt - in/NAME is not a letter: to corrupt/ with its line */
static void corrupt(struct relayd *rd, const char *name, const char *why)
{
	struct spool_txn *t = spool_txn_new(rd->sp);
	const char *kv[4] = { "from", "in", "reason", why };

	log_error("route '%s': malformed: %s (moved to corrupt/)", name, why);
	spool_txn_move(t, name, SPOOL_IN, SPOOL_CORRUPT, NULL);
	spool_txn_journal(t, "corrupt", name, kv, 2);
	spool_txn_submit(t, NULL, NULL);
}

void router_route(struct relayd *rd, const char *name)
{
	struct route_result **res = NULL;
	struct route_ctx *rc;
	struct spool_txn *t;
	struct letter *lt;
	struct failset fs;
	const struct addr_list *al;
	const struct hdr *h;
	enum letter_status st;
	char    err[LETTER_ERRLEN], calling[ROUTER_CALLING_MAX], path[PATH_MAX];
	struct journal_list hops, rcpts;
	size_t  n, i, j;
	unsigned via;
	int     fd;
	const char *kv[4];

	if (rd->stdio_mode)
		return;
	journal_list_init(&hops);
	journal_list_init(&rcpts);
	if (spool_path(rd->sp, SPOOL_IN, name, path, sizeof(path)) == NULL
	    || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("route '%s': open 'in/%s': %s", name, name, strerror(errno));
		return;
	}
	if ((lt = letter_open_fd(fd, &st, err, sizeof(err))) == NULL) {
		if (st == LETTER_EIO)
			log_error("route '%s': %s", name, err);
		else
			corrupt(rd, name, err);
		close(fd);
		return;
	}
	memset(&fs, 0, sizeof(fs));
	rc = xcalloc(1, sizeof(*rc));
	rc->rd = rd;
	str_copy(rc->name, name, sizeof(rc->name));
	al = letter_rcpts(lt);
	h = letter_hdr(lt);
	calling_of(h, calling, sizeof(calling));
	via = (unsigned) hdr_via_count(h);
	n = addr_list_count(al);
	res = xcalloc(n ? n : 1, sizeof(*res));
	for (i = 0; i < n; i++) {
		char   *s = addr_to_str(addr_list_get(al, i));

		res[i] = route_resolve(rd->conf->routes, addr_list_get(al, i), via);
		journal_list_add(&rcpts, s);
		free(s);
		for (j = 0; j < route_result_count(res[i]); j++) {
			const struct route_target *tg = route_result_get(res[i], j);

			if (tg->kind == ROUTE_FAIL)
				failset_add(&fs, route_result_rcpt(res[i]), tg->reason, tg->owner);
		}
	}
	router_envelopes(name, res, n, &rc->envs, &rc->nenvs);

	t = spool_txn_new(rd->sp);
	for (i = 0; i < rc->nenvs; i++) {
		if (queue_env_commit(rd->q, t, rc->envs[i], calling) < 0)
			goto fail;
		journal_list_add(&hops, rc->envs[i]->hop);
	}
	rc->nr.letter = name;
	rc->nr.state = SPOOL_IN;
	rc->nr.to_hop = "-";
	rc->nr.calling = calling;
	notices_report(rd, t, &rc->nr, &fs);
	rc->nr.letter = rc->name;	/* outlives this call */
	rc->nr.calling = "";
	kv[0] = "rcpts";
	kv[1] = journal_list_text(&rcpts);
	kv[2] = "hops";
	kv[3] = hops.n + hops.more > 0 ? journal_list_text(&hops) : "-";
	spool_txn_journal(t, "routed", name, kv, 2);
	if (rc->nenvs > 0) {
		if (rc->nr.dead && queue_dead_marker(rd->q, t, name, rc->nr.dead_reason) < 0)
			goto fail;
		spool_txn_move(t, name, SPOOL_IN, SPOOL_QUEUE, NULL);
	} else if (rc->nr.dead) {
		spool_txn_move(t, name, SPOOL_IN, SPOOL_DEAD, NULL);
		kv[0] = "reason";
		kv[1] = rc->nr.dead_reason;
		spool_txn_journal(t, "dead", name, kv, 1);
	} else
		spool_txn_remove(t, SPOOL_IN, name);
	crash_point("relay-after-route-before-commit");
	spool_txn_submit(t, route_done, rc);
	rc = NULL;
	goto out;
fail:
	spool_txn_abort(t);
	for (i = 0; i < rc->nenvs; i++)
		qenv_free(rc->envs[i]);
	free(rc->envs);
	free(rc);
	log_error("route '%s': could not write its envelopes; left in in/", name);
out:
	for (i = 0; i < n; i++)
		route_result_free(res[i]);
	free(res);
	failset_free(&fs);
	journal_list_release(&hops);
	journal_list_release(&rcpts);
	letter_free(lt);
	close(fd);
}

struct route_ctx *router_route_commit(struct relayd *rd, struct spool_txn *t,
	struct spool_file *f, struct letter *lt)
{
	struct route_result **res;
	struct route_ctx *rc = NULL;
	const struct addr_list *al;
	const struct hdr *h;
	char    calling[ROUTER_CALLING_MAX];
	struct journal_list hops, rcpts;
	size_t  n, i, j;
	unsigned via;
	int     fails = 0;
	const char *kv[4];

	if (rd->stdio_mode || lt == NULL || rd->conf->archive_enabled)
		return NULL;
	journal_list_init(&hops);
	journal_list_init(&rcpts);
	al = letter_rcpts(lt);
	h = letter_hdr(lt);
	via = (unsigned) hdr_via_count(h);
	n = addr_list_count(al);
	if (n == 0)
		return NULL;
	res = xcalloc(n, sizeof(*res));
	for (i = 0; i < n; i++) {
		res[i] = route_resolve(rd->conf->routes, addr_list_get(al, i), via);
		for (j = 0; j < route_result_count(res[i]); j++)
			if (route_result_get(res[i], j)->kind == ROUTE_FAIL)
				fails++;
	}
	if (fails > 0)
		goto out;		/* notices: the letter is routed from in/ */
	rc = xcalloc(1, sizeof(*rc));
	rc->rd = rd;
	str_copy(rc->name, spool_file_name(f), sizeof(rc->name));
	router_envelopes(rc->name, res, n, &rc->envs, &rc->nenvs);
	if (rc->nenvs == 0) {
		free(rc->envs);
		free(rc);
		rc = NULL;
		goto out;
	}
	calling_of(h, calling, sizeof(calling));
	/* every envelope must be a record (a long one is a file: the slow
	 * way), so that nothing below can fail half-way through t */
	for (i = 0; i < rc->nenvs; i++) {
		struct buf eb = BUF_INIT(QUEUE_ENV_REC);
		int     fits = qenv_file_text(rc->envs[i], rc->name, calling, &eb) == 0;

		buf_release(&eb);
		if (!fits) {
			route_done(rc, 0, NULL);
			rc = NULL;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		char   *a = addr_to_str(addr_list_get(al, i));

		journal_list_add(&rcpts, a);
		free(a);
	}
	for (i = 0; i < rc->nenvs; i++) {
		PANIC_IF(queue_env_commit(rd->q, t, rc->envs[i], calling) < 0);
		journal_list_add(&hops, rc->envs[i]->hop);
	}
	kv[0] = "rcpts";
	kv[1] = journal_list_text(&rcpts);
	kv[2] = "hops";
	kv[3] = journal_list_text(&hops);
	spool_txn_journal(t, "routed", rc->name, kv, 2);
	crash_point("relay-after-route-before-commit");
	/* no intent record for it: without its envelope records (a batch
	 * a crash cut short) the letter is removed at start-up (queue.h) */
	spool_txn_commit_bare(t, f, SPOOL_QUEUE);
out:
	for (i = 0; i < n; i++)
		route_result_free(res[i]);
	free(res);
	journal_list_release(&hops);
	journal_list_release(&rcpts);
	return rc;
}

void router_route_done(struct route_ctx *rc, int ok, const char *err)
{
	route_done(rc, ok, err);
}

