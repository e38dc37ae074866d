/*++
 * NAME
 *	test_queue 1
 * SUMMARY
 *	CUnit tests of the relay's queue core and scheduler, with a fake
 *	channel and no sockets
 * SYNOPSIS
 *	build/tests/test_queue
 * DESCRIPTION
 *	Each test builds a real node in a scratch directory: a spool on a
 *	loop with its worker queue, a configuration loaded from an ini
 *	file, the queue core, the scheduler, the real local channel and,
 *	in rd.chops[ROUTE_CH_NIFTP], a fake channel of this file's own
 *	(struct channel_ops "fake") put there before
 *	relayd_channels_start(): a channel joins the node through the
 *	channel interface alone. The fake's start() only records the
 *	envelope; the test answers for it with queue_result() or
 *	queue_requeue() and runs the loop until the queue settles, waiting
 *	on what it can observe (spool_pending(), queue_busy(), the fake's
 *	counters), never on a sleep. The fake keeps saved state in the
 *	docket ("fake-state N", the number of starts, and "fake-remote")
 *	and must find it again after a restart.
 *
 *	Letters enter through the inbound door: written with spool_create
 *	and spool_write, committed by inbound_commit() in a transaction,
 *	then inbound_accepted().
 *
 *	Time: the retry settings are minutes and hours, so nothing comes due
 *	by itself while a test runs; a test that needs time to pass moves
 *	an envelope's next_try or first back instead of sleeping.
 *
 *	Faults: every write, fsync, rename, link, unlink and open of a
 *	result transaction is failed in turn (util/sysio.h), the node is
 *	thrown away and a fresh one recovers the spool; the letter must
 *	then be in exactly one recoverable state. A failed transaction is
 *	undone whole by the spool, its removes and docket operations too
 *	(doc/spool.md), so no run may lose a line. Crashes: the binary
 *	re-executes itself ("--child-crash DIR KIND") with NIFTPMAIL_CRASH
 *	naming each spool crash point and count, and the parent recovers
 *	and checks the same.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "relay/channel.h"
#include "relay/conf.h"
#include "relay/inbound.h"
#include "relay/ops.h"
#include "relay/queue.h"
#include "relay/rec.h"
#include "relay/relayd.h"
#include "relay/sched.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "tests/unit/tl_test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/sysio.h"
#include "util/workq.h"

#define T_PATH		1024
#define T_TURNS		1000	/* loop turns a wait may take (about 10 s at most) */
#define T_TURN_MS	10
#define FAKE_MAX	16	/* envelopes the fake holds at once */
#define FAULT_NMAX	60	/* calls of one kind failed in turn, at most */
#define CRASH_NMAX	30	/* hits of one crash point tried, at most */

/* The retry settings, in seconds (see DESCRIPTION: Time). */
#define T_FIRST		10
#define T_MAX		80
#define T_WARN		3600
#define T_GIVE_UP	7200

static char tdir[T_PATH - 64];
static char self_exe[T_PATH];
static int ndirs;
static const char *name_file;		/* put_letter writes the letter's name here */
static const char *child_dir;		/* --child-crash DIR CASE */
static unsigned child_case;

/* --- the fake channel ----------------------------------------------------- */

/* Its state per envelope (e->cs). */
struct fake_env {
	unsigned state;		/* starts so far ("fake-state") */
	char   *remote;		/* the remote name of its last answer ("fake-remote") */
};

struct fake {
	struct relayd *rd;
	struct qenv *active[FAKE_MAX];	/* started, not answered yet */
	size_t	nactive;
	unsigned starts, loaded, gone, released, recovers, leaving;
	const char *waiting;		/* take_back: the envelopes of this hop only
					 * wait ("*": every hop's; NULL: none) */
	unsigned asked, taken;		/* take_back calls, envelopes given back */
};

static void *fake_init(struct relayd *rd, char *err, size_t errlen)
{
	struct fake *f = xcalloc(1, sizeof(*f));

	(void) err;
	(void) errlen;
	f->rd = rd;
	return f;
}

static struct fake_env *fake_env_of(struct qenv *e)
{
	if (e->cs == NULL)
		e->cs = xcalloc(1, sizeof(struct fake_env));
	return e->cs;
}

static void fake_start(void *self, struct qenv *e)
{
	struct fake *f = self;

	PANIC_IF(f->nactive >= FAKE_MAX);
	fake_env_of(e)->state++;
	f->active[f->nactive++] = e;
	f->starts++;
}

/* fake_forget - e out of the active list, if there */
static void fake_forget(struct fake *f, const struct qenv *e);

/* fake_take_back - an envelope of the hop f->waiting only waits: given
 * back; any other is carried */
static int fake_take_back(void *self, struct qenv *e)
{
	struct fake *f = self;

	f->asked++;
	if (f->waiting == NULL || (strcmp(f->waiting, "*") != 0 && strcmp(f->waiting, e->hop) != 0))
		return 0;
	fake_forget(f, e);
	f->taken++;
	return 1;
}

static int fake_busy(const void *self)
{
	(void) self;
	return 0;		/* no calls, no jobs */
}

static void fake_stop(void *self, int now)
{
	(void) self;
	(void) now;
}

static void fake_free(void *self)
{
	free(self);
}

static void fake_env_save(void *self, const struct qenv *e, struct buf *b)
{
	const struct fake_env *fe = e->cs;

	(void) self;
	if (fe == NULL)
		return;
	(void) rec_addf(b, "fake-state", "%u", fe->state);
	if (fe->remote != NULL)
		(void) rec_add(b, "fake-remote", fe->remote);
}

static int fake_env_load(void *self, struct qenv *e, const char *key, const char *val,
	size_t vlen, char *err, size_t errlen)
{
	struct fake_env *fe = fake_env_of(e);
	uint64_t u;

	(void) vlen;
	(void) self;
	if (strcmp(key, "fake-state") == 0 && rec_u64(val, 0, UINT32_MAX, &u) == 0) {
		fe->state = (unsigned) u;
		return 0;
	}
	if (strcmp(key, "fake-remote") == 0) {
		free(fe->remote);
		fe->remote = xstrdup(val);
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -1;
}

static void fake_env_loaded(void *self, struct qenv *e)
{
	struct fake *f = self;

	(void) e;
	f->loaded++;
}

static void fake_env_leaving(void *self, struct qenv *e, struct spool_txn *t)
{
	struct fake *f = self;

	(void) e;
	(void) t;
	f->leaving++;
}

/* fake_forget - e out of the active list, if there */
static void fake_forget(struct fake *f, const struct qenv *e)
{
	size_t  i;

	for (i = 0; i < f->nactive; i++)
		if (f->active[i] == e) {
			f->active[i] = f->active[--f->nactive];
			return;
		}
}

static void fake_env_gone(void *self, struct qenv *e, int released)
{
	struct fake *f = self;
	struct fake_env *fe = e->cs;

	fake_forget(f, e);
	if (fe != NULL) {
		free(fe->remote);
		free(fe);
		e->cs = NULL;
	}
	f->gone++;
	if (released)
		f->released++;
}

static void fake_recover(void *self, char *const *names, size_t n)
{
	struct fake *f = self;

	(void) names;
	(void) n;
	f->recovers++;
}

static const struct channel_ops fake_ops = {
	.name = "fake",
	.init = fake_init,
	.start = fake_start,
	.take_back = fake_take_back,
	.busy = fake_busy,
	.stop = fake_stop,
	.free = fake_free,
	.env_save = fake_env_save,
	.env_load = fake_env_load,
	.env_loaded = fake_env_loaded,
	.env_leaving = fake_env_leaving,
	.env_gone = fake_env_gone,
	.recover = fake_recover,
};

/* --- a node ---------------------------------------------------------------- */

struct tnode {
	struct relayd rd;
	char	dir[T_PATH];		/* the test's directory: t.ini, spool/, mail/ */
	char	spool[T_PATH];
};

static struct fake *fake_of(struct tnode *n)
{
	return n->rd.chself[ROUTE_CH_NIFTP];
}

/* newdir - a fresh test directory with its configuration */
static void newdir(char *dir, size_t len)
{
	char    path[T_PATH + 16], text[4 * T_PATH];

	snprintf(dir, len, "%s/n%d", tdir, ndirs++);
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	snprintf(text, sizeof(text),
	    "[node]\n"
	    "name  = ucl\n"
	    "spool = %s/spool\n"
	    "[routes]\n"
	    "b = niftp unix:/nonexistent\n"
	    "x = niftp unix:/other\n"
	    "[local]\n"
	    "names   = ucl\n"
	    "users   = alice, bob\n"
	    "maildir = %s/mail/%%u/\n"
	    "[retry]\n"
	    "first   = %ds\n"
	    "max     = %ds\n"
	    "warn    = %ds\n"
	    "give_up = %ds\n", dir, dir, T_FIRST, T_MAX, T_WARN, T_GIVE_UP);
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	CU_ASSERT_FATAL(tl_write_file(path, text) == 0);
}

/* node_open - a node on dir's spool (recovered, queue loaded, scheduler
 * started); 0, or -1 with a message */
static int node_open(struct tnode *n, const char *dir)
{
	struct buf errs = BUF_INIT(64 * 1024);
	struct spool_opts so;
	char    path[T_PATH + 16], err[RELAYD_ERRLEN];

	memset(n, 0, sizeof(*n));
	n->rd.sig_pipe[0] = n->rd.sig_pipe[1] = -1;
	str_copy(n->dir, dir, sizeof(n->dir));
	snprintf(n->spool, sizeof(n->spool), "%s/spool", dir);
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	if ((n->rd.conf = conf_load(path, &errs, NULL, NULL)) == NULL) {
		fprintf(stderr, "\nconf_load: %s\n", buf_cstr(&errs) ? buf_cstr(&errs) : "");
		buf_release(&errs);
		return -1;
	}
	buf_release(&errs);
	n->rd.loop = loop_new();
	n->rd.wq = workq_new(n->rd.loop, 2);
	memset(&so, 0, sizeof(so));
	so.dir = n->rd.conf->spool;
	so.node = n->rd.conf->name;
	so.loop = n->rd.loop;
	if ((n->rd.sp = spool_open(&so, err, sizeof(err))) == NULL
	    || spool_recover(n->rd.sp, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "\nspool: %s\n", err);
		return -1;
	}
	n->rd.q = queue_new(&n->rd);
	n->rd.sched = sched_new(&n->rd);
	/* the fake joins through the channel interface alone */
	n->rd.chops[ROUTE_CH_NIFTP] = &fake_ops;
	if (relayd_channels_start(&n->rd, err, sizeof(err)) < 0
	    || queue_load(n->rd.q, err, sizeof(err)) < 0) {
		fprintf(stderr, "\nnode: %s\n", err);
		return -1;
	}
	sched_start(n->rd.sched);
	return 0;
}

/* quiet - nothing of the node in flight */
static int quiet(struct tnode *n)
{
	return spool_pending(n->rd.sp) == 0 && !queue_busy(n->rd.q) && n->rd.jobs == 0
	    && workq_pending(n->rd.wq) == 0;
}

typedef int cond_fn(struct tnode *n, const void *arg);

/* run_until - turn the loop until c holds (bounded); 1 when it does */
static int run_until(struct tnode *n, cond_fn *c, const void *arg)
{
	int     i;

	for (i = 0; i < T_TURNS; i++) {
		if (c(n, arg))
			return 1;
		(void) loop_run_once(n->rd.loop, T_TURN_MS);
	}
	return c(n, arg);
}

static int is_quiet(struct tnode *n, const void *arg)
{
	(void) arg;
	return quiet(n);
}

/* settle - run until quiet, and still quiet after a few more turns (a
 * kick of the scheduler runs at the next turn and may start something) */
static void settle(struct tnode *n)
{
	int     k;

	for (k = 0; k < 50; k++) {
		if (!run_until(n, is_quiet, NULL))
			break;
		(void) loop_run_once(n->rd.loop, 1);
		(void) loop_run_once(n->rd.loop, 1);
		(void) loop_run_once(n->rd.loop, 1);
		if (quiet(n))
			return;
	}
	fprintf(stderr, "\nsettle: the node did not settle\n");
	CU_FAIL("node did not settle");
}

static void node_close(struct tnode *n)
{
	settle(n);
	/* in relayd.c's order: transactions end while what they call back into
	 * still exists */
	spool_close(n->rd.sp);
	workq_free(n->rd.wq);
	queue_free(n->rd.q);
	relayd_channels_free(&n->rd);
	sched_free(n->rd.sched);
	loop_free(n->rd.loop);
	conf_free(n->rd.conf);
	memset(&n->rd, 0, sizeof(n->rd));
}

/* node_restart - a fresh node on the same spool */
static void node_restart(struct tnode *n)
{
	char    dir[T_PATH];

	str_copy(dir, n->dir, sizeof(dir));
	node_close(n);
	CU_ASSERT_FATAL(node_open(n, dir) == 0);
	settle(n);
}

/* --- letters ----------------------------------------------------------------- */

/* put_letter - a letter to rcpts (the address list as text) from
 * alice@ucl enters through the inbound door; its name into name */
static void put_letter(struct tnode *n, const char *rcpts, char *name, size_t len)
{
	static unsigned seq;
	struct spool_file *f;
	struct spool_txn *t;
	struct inbound in;
	char    text[2048], msgid[64], err[SPOOL_ERRLEN];
	int     tl;

	snprintf(msgid, sizeof(msgid), "<q%u.%ld@ucl>", ++seq, (long) getpid());
	tl = snprintf(text, sizeof(text),
	    "%s\n"
	    "\n"
	    "Date: 23 Jan 81 1230-GMT\n"
	    "From: Alice <alice@ucl>\n"
	    "To: %s\n"
	    "Subject: queue test\n"
	    "Message-ID: %s\n"
	    "\n"
	    "A body line.\n", rcpts, rcpts, msgid);
	f = spool_create(n->rd.sp, NULL, err, sizeof(err));
	if (f == NULL)
		fprintf(stderr, "\nspool_create: %s\n", err);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(spool_write(f, text, (size_t) tl, err, sizeof(err)) == 0);
	str_copy(name, spool_file_name(f), len);
	if (name_file != NULL)
		CU_ASSERT_FATAL(tl_write_file(name_file, name) == 0);
	memset(&in, 0, sizeof(in));
	in.from = "submit";
	in.size = (uint64_t) tl;
	in.no_crc = 1;
	in.rcpts = rcpts;
	in.msgid = msgid;
	t = spool_txn_new(n->rd.sp);
	inbound_commit(&n->rd, t, f, &in, NULL);
	if (spool_txn_run(t, err, sizeof(err)) < 0)
		fprintf(stderr, "\ncommit: %s\n", err);
	inbound_accepted(&n->rd, name, 0);
}

static int has_active(struct tnode *n, const void *arg)
{
	return fake_of(n)->nactive >= *(const size_t *) arg;
}

/* wait_active - until the fake holds k envelopes and the node is quiet */
static int wait_active(struct tnode *n, size_t k)
{
	int     ok = run_until(n, has_active, &k);

	settle(n);
	return ok && fake_of(n)->nactive >= k;
}

/* fake_take - the active envelope of hop (NULL: any), out of the list */
static struct qenv *fake_take(struct tnode *n, const char *hop)
{
	struct fake *f = fake_of(n);
	struct qenv *e;
	size_t  i;

	for (i = 0; i < f->nactive; i++)
		if (hop == NULL || strcmp(f->active[i]->hop, hop) == 0) {
			e = f->active[i];
			fake_forget(f, e);
			return e;
		}
	return NULL;
}

/* answer - the fake's answer for e: one outcome per recipient (a string
 * of 'd' done, 'r' deferred, 'f' failed, 's' skip) */
static void answer(struct tnode *n, struct qenv *e, const char *what, const char *reason,
	const char *remote)
{
	struct qrcpt_result rr[16];
	struct qresult r;
	size_t  i;

	CU_ASSERT_FATAL(strlen(what) == e->nrcpts && e->nrcpts <= NELEM(rr));
	memset(&r, 0, sizeof(r));
	memset(rr, 0, sizeof(rr));
	for (i = 0; i < e->nrcpts; i++) {
		rr[i].what = what[i] == 'd' ? QOUT_DONE : what[i] == 'r' ? QOUT_DEFER
		    : what[i] == 'f' ? QOUT_FAIL : QOUT_SKIP;
		rr[i].reason = reason;
	}
	r.rcpt = rr;
	r.nrcpt = e->nrcpts;
	r.remote = remote;
	r.via = "unix:/nonexistent";
	if (remote != NULL) {
		struct fake_env *fe = fake_env_of(e);

		free(fe->remote);
		fe->remote = xstrdup(remote);
	}
	queue_result(n->rd.q, e, &r);
}

/* env_of - the queued envelope named name, or NULL */
static struct qenv *env_of(struct tnode *n, const char *name)
{
	struct qenv *e;

	for (e = queue_first(n->rd.q); e != NULL; e = queue_next(e))
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* in_state - 1 when STATE/NAME exists */
static int in_state(struct tnode *n, enum spool_state st, const char *name)
{
	return spool_exists(n->rd.sp, st, name);
}

/* env_stored - envelope en is stored (its record, or its file) */
static int env_stored(struct tnode *n, const char *en)
{
	return queue_env_exists(n->rd.q, en);
}

/* dead_marked - letter name has its dead marker (the record "dead NAME") */
static int dead_marked(struct tnode *n, const char *name)
{
	char    key[SPOOL_NAMELEN + 8];
	size_t  len;
	void   *v;

	snprintf(key, sizeof(key), "dead %s", name);
	v = spool_docket_get(n->rd.sp, key, &len, NULL, NULL, 0);
	free(v);
	return v != NULL;
}

/* docket - the docket "env NAME" (new memory) or NULL */
static char *docket(struct tnode *n, const char *env)
{
	char    key[SPOOL_NAMELEN + 32], err[SPOOL_ERRLEN];
	size_t  len;

	snprintf(key, sizeof(key), "env %s", env);
	return spool_docket_get(n->rd.sp, key, &len, NULL, err, sizeof(err));
}

/* --- the journal --------------------------------------------------------------- */

/* jscan - lines of event ev about name (NULL: any) with key k (NULL: any)
 * equal to v (NULL: any value); the value of key want (when not NULL) of
 * the last such line into *got (new memory) */
static int jscan(const char *spool, const char *ev, const char *name, const char *k,
	const char *v, const char *want, char **got)
{
	struct journal_reader *r;
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	char    err[256];
	const char *x;
	int     n = 0;

	if (got)
		*got = NULL;
	r = journal_reader_open(spool, err, sizeof(err));
	CU_ASSERT_FATAL(r != NULL);
	while (journal_reader_next(r, rec, err, sizeof(err)) == 1) {
		if (strcmp(rec->event, ev) != 0 || (name && strcmp(rec->name, name) != 0))
			continue;
		if (k && ((x = journal_get(rec, k, NULL)) == NULL || (v && strcmp(x, v) != 0)))
			continue;
		n++;
		if (got && want && (x = journal_get(rec, want, NULL)) != NULL) {
			free(*got);
			*got = xstrdup(x);
		}
	}
	EXPECT_INT(journal_reader_skipped(r), 0);
	journal_reader_free(r);
	free(rec);
	return n;
}

static int jcount(struct tnode *n, const char *ev, const char *name, const char *k,
	const char *v)
{
	return jscan(n->spool, ev, name, k, v, NULL, NULL);
}

/* jget - the value of key want in the last line ev about name (new memory) */
static char *jget(struct tnode *n, const char *ev, const char *name, const char *want)
{
	char   *got;

	(void) jscan(n->spool, ev, name, NULL, NULL, want, &got);
	return got;
}

/* maildir_count - messages in mail/USER/new */
static int maildir_count(struct tnode *n, const char *user)
{
	char    path[T_PATH + 64];
	struct dirent *de;
	DIR    *d;
	int     k = 0;

	snprintf(path, sizeof(path), "%s/mail/%s/new", n->dir, user);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		k += de->d_name[0] != '.';
	closedir(d);
	return k;
}

/* has_line - cond_fn: a journal line arg[0] about arg[1] exists */
static int has_line(struct tnode *n, const void *arg)
{
	const char *const *a = arg;

	return jcount(n, a[0], a[1], NULL, NULL) > 0;
}

/* --- tests --------------------------------------------------------------------- */

/* One copy per next hop, a local envelope, all done: the letter leaves. */
static void test_copies(void)
{
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16];
	struct qenv *eb, *ex;
	char   *s;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b, u2@b, u3@b, v1@x, v2@x, alice@ucl", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 2));
	EXPECT_INT(fake_of(&n)->starts, 2);
	EXPECT_INT(queue_count(n.rd.q, NULL), 2);	/* the local one was delivered */
	EXPECT_INT(maildir_count(&n, "alice"), 1);
	EXPECT_INT(jcount(&n, "delivered", name, "rcpt", "alice@ucl"), 1);
	s = jget(&n, "routed", name, "hops");
	EXPECT_STR(s, "local,b,x");
	free(s);

	eb = fake_take(&n, "b");
	ex = fake_take(&n, "x");
	CU_ASSERT_FATAL(eb != NULL && ex != NULL);
	EXPECT_INT(eb->nrcpts, 3);
	EXPECT_INT(ex->nrcpts, 2);
	s = qenv_rcpts_text(eb);
	EXPECT_STR(s, "u1@b,u2@b,u3@b");
	free(s);
	s = qenv_rcpts_text(ex);
	EXPECT_STR(s, "v1@x,v2@x");
	free(s);
	snprintf(en, sizeof(en), "%s_f_b", name);
	EXPECT_STR(eb->name, en);
	EXPECT_TRUE(env_stored(&n, en));

	/* all done: envelope, docket and, with the last, the letter go */
	answer(&n, eb, "ddd", NULL, "b.0001");
	settle(&n);
	EXPECT_TRUE(!env_stored(&n, en));
	EXPECT_TRUE(in_state(&n, SPOOL_QUEUE, name));
	EXPECT_INT(jcount(&n, "forwarded", name, "remote", "b.0001"), 1);
	s = jget(&n, "forwarded", name, "rcpts");
	EXPECT_STR(s, "u1@b,u2@b,u3@b");
	free(s);
	answer(&n, ex, "dd", NULL, "x.0002");
	settle(&n);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	snprintf(en, sizeof(en), "%s_f_x", name);
	EXPECT_TRUE(!env_stored(&n, en));
	s = docket(&n, en);
	EXPECT_TRUE(s == NULL);
	free(s);
	EXPECT_INT(jcount(&n, "forwarded", name, "to", "x"), 1);
	s = jget(&n, "forwarded", name, "remote");
	EXPECT_STR(s, "x.0002");
	free(s);
	EXPECT_INT(queue_count(n.rd.q, NULL), 0);
	EXPECT_INT(jcount(&n, "deferred", name, NULL, NULL), 0);
	EXPECT_INT(jcount(&n, "failed", name, NULL, NULL), 0);
	node_close(&n);
}

/* One result with done, deferred and failed recipients. */
static void test_mixed(void)
{
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16];
	char   *ndn, *s;
	struct qenv *e;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b, u2@b, u3@b", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	str_copy(en, e->name, sizeof(en));
	{
		struct qrcpt_result rr[3] = {
			{ QOUT_DONE, NULL, NULL },
			{ QOUT_DEFER, "busy, try later", NULL },
			{ QOUT_FAIL, "no such user", NULL },
		};
		struct qresult r;

		memset(&r, 0, sizeof(r));
		r.rcpt = rr;
		r.nrcpt = 3;
		r.remote = "b.77";
		fake_env_of(e)->remote = xstrdup("b.77");
		queue_result(n.rd.q, e, &r);
	}
	settle(&n);
	EXPECT_INT(jcount(&n, "forwarded", name, "rcpts", "u1@b"), 1);
	EXPECT_INT(jcount(&n, "deferred", name, "attempts", "1"), 1);
	s = jget(&n, "deferred", name, "reason");
	EXPECT_STR(s, "busy, try later");
	free(s);
	EXPECT_INT(jcount(&n, "failed", name, "rcpt", "u3@b"), 1);
	s = jget(&n, "failed", name, "reason");
	EXPECT_STR(s, "no such user");
	free(s);
	EXPECT_INT(jcount(&n, "failed", name, NULL, NULL), 1);
	ndn = jget(&n, "ndn", name, "notice");
	CU_ASSERT_FATAL(ndn != NULL);
	s = jget(&n, "ndn", name, "to");
	EXPECT_STR(s, "alice@ucl");
	free(s);
	/* the NDN entered by the inbound door, was routed and delivered */
	EXPECT_INT(jcount(&n, "received", ndn, "from", NULL), 1);
	s = jget(&n, "received", ndn, "from");
	EXPECT_HAS(s, "notice:");
	free(s);
	EXPECT_INT(jcount(&n, "routed", ndn, NULL, NULL), 1);
	EXPECT_INT(jcount(&n, "delivered", ndn, "rcpt", "alice@ucl"), 1);
	EXPECT_INT(maildir_count(&n, "alice"), 1);
	/* the envelope stays, for the deferred recipient only */
	EXPECT_TRUE(in_state(&n, SPOOL_QUEUE, name));
	EXPECT_TRUE(env_stored(&n, en));
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->rcpts[0].done, 1);
	EXPECT_INT(e->rcpts[1].done, 0);
	EXPECT_INT(e->rcpts[2].done, 1);
	EXPECT_INT(e->attempts, 1);
	EXPECT_STR(qenv_error(e), "busy, try later");
	s = docket(&n, en);
	EXPECT_HAS(s, "fake-state 1\n");
	EXPECT_HAS(s, "done 0\n");
	EXPECT_HAS(s, "done 2\n");
	free(s);

	/* the docket remembers across a restart, the fake's state too */
	node_restart(&n);
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->rcpts[0].done, 1);
	EXPECT_INT(e->rcpts[1].done, 0);
	EXPECT_INT(e->rcpts[2].done, 1);
	EXPECT_INT(e->attempts, 1);
	EXPECT_STR(qenv_error(e), "busy, try later");
	EXPECT_INT(fake_of(&n)->recovers, 1);
	EXPECT_INT(fake_of(&n)->loaded, 1);
	CU_ASSERT_FATAL(e->cs != NULL);
	EXPECT_INT(((struct fake_env *) e->cs)->state, 1);
	EXPECT_STR(((struct fake_env *) e->cs)->remote, "b.77");
	EXPECT_INT(fake_of(&n)->starts, 0);	/* not due yet */

	/* due now (time passing, see DESCRIPTION): the last one is done */
	queue_env_due(n.rd.q, e, 0);
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(((struct fake_env *) e->cs)->state, 2);
	answer(&n, e, "sds", NULL, "b.78");
	settle(&n);
	EXPECT_INT(jcount(&n, "forwarded", name, NULL, NULL), 2);
	s = jget(&n, "forwarded", name, "rcpts");
	EXPECT_STR(s, "u2@b");
	free(s);
	EXPECT_INT(jcount(&n, "failed", name, NULL, NULL), 1);
	EXPECT_INT(jcount(&n, "ndn", name, NULL, NULL), 1);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_TRUE(!env_stored(&n, en));
	EXPECT_INT(queue_count(n.rd.q, NULL), 0);
	free(ndn);
	node_close(&n);
}

/* defer_once - start (made due now) and defer e's only recipient */
static struct qenv *defer_once(struct tnode *n, const char *en, const char *reason)
{
	struct qenv *e = env_of(n, en);

	CU_ASSERT_FATAL(e != NULL);
	if (e->state == QENV_QUEUED)
		queue_env_due(n->rd.q, e, 0);
	CU_ASSERT_FATAL(wait_active(n, 1));
	e = fake_take(n, "b");
	CU_ASSERT_FATAL(e != NULL);
	answer(n, e, "r", reason, NULL);
	settle(n);
	return env_of(n, en);
}

/* Back-off: next_try grows per conf_backoff_ms with each deferral. */
static void test_backoff(void)
{
	static const int64_t want_s[] = { 10, 20, 40, 80, 80 };
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16], att[16];
	struct qenv *e;
	unsigned i;
	time_t  now;
	char   *s;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	snprintf(en, sizeof(en), "%s_f_b", name);
	for (i = 0; i < NELEM(want_s); i++) {
		int64_t want = conf_backoff_ms(n.rd.conf, i + 1) / 1000, got;

		EXPECT_INT(want, want_s[i]);
		e = defer_once(&n, en, "no answer");
		CU_ASSERT_FATAL(e != NULL);
		now = time(NULL);
		got = (int64_t) (e->next_try - now);
		if (got > want || got < want - 2)
			fprintf(stderr, "\nbackoff after attempt %u: got %llds, want %llds\n", i + 1,
			    (long long) got, (long long) want);
		CU_ASSERT(got <= want && got >= want - 2);
		EXPECT_INT(e->attempts, i + 1);
		snprintf(att, sizeof(att), "%u", i + 1);
		EXPECT_INT(jcount(&n, "deferred", name, "attempts", att), 1);
		EXPECT_INT(fake_of(&n)->starts, i + 1);
	}
	s = jget(&n, "deferred", name, "next");
	EXPECT_TRUE(s != NULL && strlen(s) == JOURNAL_TIMELEN);
	free(s);
	/* not due: a full pass starts nothing */
	sched_poke(n.rd.sched);
	settle(&n);
	EXPECT_INT(fake_of(&n)->starts, NELEM(want_s));
	/* and the count survives a restart */
	node_restart(&n);
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->attempts, NELEM(want_s));
	EXPECT_TRUE(e->next_try > time(NULL));
	node_close(&n);
}

/* Warn: one "still trying" notice after [retry] warn, not twice. */
static void test_warn(void)
{
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16];
	struct qenv *e;
	char   *s;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	snprintf(en, sizeof(en), "%s_f_b", name);
	e = defer_once(&n, en, "no answer");
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(jcount(&n, "warned", name, NULL, NULL), 0);
	/* an hour passes (see DESCRIPTION) */
	e->first = time(NULL) - T_WARN - 1;
	sched_poke(n.rd.sched);
	CU_ASSERT(run_until(&n, has_line, (const char *[]) { "warned", name }));
	settle(&n);
	EXPECT_INT(jcount(&n, "warned", name, "to", "alice@ucl"), 1);
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->warned, 1);
	EXPECT_INT(e->attempts, 1);
	s = docket(&n, en);
	EXPECT_HAS(s, "warned 1\n");
	free(s);
	/* the notice entered by the inbound door and was delivered */
	s = jget(&n, "warned", name, "notice");
	CU_ASSERT_FATAL(s != NULL);
	EXPECT_INT(jcount(&n, "received", s, NULL, NULL), 1);
	EXPECT_INT(jcount(&n, "delivered", s, "rcpt", "alice@ucl"), 1);
	free(s);
	/* looked at again (warn is checked before a start): not twice */
	e = defer_once(&n, en, "no answer");
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->attempts, 2);
	sched_poke(n.rd.sched);
	settle(&n);
	EXPECT_INT(jcount(&n, "warned", name, NULL, NULL), 1);
	/* nor after a restart (the first arrival is the envelope file's: moved
	 * back again) */
	node_restart(&n);
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->warned, 1);
	e->first = time(NULL) - T_WARN - 1;
	e = defer_once(&n, en, "no answer");
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->attempts, 3);
	EXPECT_INT(jcount(&n, "warned", name, NULL, NULL), 1);
	EXPECT_INT(maildir_count(&n, "alice"), 1);
	node_close(&n);
}

/* has_left - cond_fn: the letter arg is no longer in queue/ */
static int has_left(struct tnode *n, const void *arg)
{
	return !in_state(n, SPOOL_QUEUE, arg);
}

/* Give-up: every pending recipient fails, an NDN, the letter leaves. */
static void test_give_up(void)
{
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16];
	struct qenv *e;
	char   *s;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b, u2@b", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	str_copy(en, e->name, sizeof(en));
	answer(&n, e, "dr", "no answer", "b.5");
	settle(&n);
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	/* two hours pass (see DESCRIPTION) */
	e->first = time(NULL) - T_GIVE_UP - 1;
	sched_poke(n.rd.sched);
	CU_ASSERT(run_until(&n, has_left, name));
	settle(&n);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_TRUE(!env_stored(&n, en));
	EXPECT_TRUE(!in_state(&n, SPOOL_DEAD, name));
	s = docket(&n, en);
	EXPECT_TRUE(s == NULL);
	free(s);
	EXPECT_INT(jcount(&n, "failed", name, NULL, NULL), 1);
	EXPECT_INT(jcount(&n, "failed", name, "rcpt", "u2@b"), 1);
	s = jget(&n, "failed", name, "reason");
	EXPECT_STR(s, "gave up after 1 attempts: no answer");
	free(s);
	EXPECT_INT(jcount(&n, "forwarded", name, "rcpts", "u1@b"), 1);
	s = jget(&n, "ndn", name, "notice");
	CU_ASSERT_FATAL(s != NULL);
	EXPECT_INT(jcount(&n, "delivered", s, "rcpt", "alice@ucl"), 1);
	free(s);
	EXPECT_INT(fake_of(&n)->starts, 1);
	EXPECT_INT(fake_of(&n)->released, 1);
	EXPECT_INT(queue_count(n.rd.q, NULL), 0);
	node_close(&n);
}

struct opres {
	int	done, ok;
	char	err[256];
};

static void op_cb(void *arg, int ok, const char *err)
{
	struct opres *r = arg;

	r->done = 1;
	r->ok = ok;
	str_copy(r->err, err ? err : "", sizeof(r->err));
}

static int op_done(struct tnode *n, const void *arg)
{
	(void) n;
	return ((const struct opres *) arg)->done;
}

/* Hold and release through relay/ops.h; a busy letter is refused. */
static void test_hold(void)
{
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16], err[256];
	struct opres r;
	struct qenv *e;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	snprintf(en, sizeof(en), "%s_f_b", name);
	memset(&r, 0, sizeof(r));
	EXPECT_INT(ops_letter(&n.rd, "hold", name, "tester", op_cb, &r, err, sizeof(err)), -1);
	EXPECT_HAS(err, "busy");
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	answer(&n, e, "r", "no answer", NULL);
	settle(&n);

	EXPECT_INT(ops_letter(&n.rd, "hold", name, "tester", op_cb, &r, err, sizeof(err)), 0);
	CU_ASSERT(run_until(&n, op_done, &r));
	settle(&n);
	EXPECT_INT(r.ok, 1);
	EXPECT_TRUE(in_state(&n, SPOOL_HOLD, name));
	EXPECT_TRUE(!in_state(&n, SPOOL_HOLD, en));	/* a record: it stays */
	EXPECT_TRUE(env_stored(&n, en));
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, en));
	EXPECT_INT(jcount(&n, "held", name, "by", "tester"), 1);
	EXPECT_INT(queue_count(n.rd.q, NULL), 0);
	EXPECT_INT(fake_of(&n)->gone, 1);
	EXPECT_INT(fake_of(&n)->released, 0);	/* its saved state stays */
	/* nothing starts it meanwhile */
	EXPECT_INT(sched_retry(n.rd.sched, NULL), 0);
	settle(&n);
	EXPECT_INT(fake_of(&n)->starts, 1);
	memset(&r, 0, sizeof(r));
	EXPECT_INT(ops_letter(&n.rd, "hold", name, "tester", op_cb, &r, err, sizeof(err)), -1);
	EXPECT_HAS(err, "held already");

	/* release: back, due now, started again with its saved state */
	EXPECT_INT(ops_letter(&n.rd, "release", name, "tester", op_cb, &r, err, sizeof(err)),
	    0);
	CU_ASSERT(run_until(&n, op_done, &r));
	EXPECT_INT(r.ok, 1);
	CU_ASSERT_FATAL(wait_active(&n, 1));
	EXPECT_INT(fake_of(&n)->starts, 2);
	EXPECT_TRUE(in_state(&n, SPOOL_QUEUE, name));
	EXPECT_TRUE(env_stored(&n, en));
	EXPECT_TRUE(!in_state(&n, SPOOL_HOLD, name));
	EXPECT_INT(jcount(&n, "released", name, "by", "tester"), 1);
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->attempts, 1);
	CU_ASSERT_FATAL(e->cs != NULL);
	EXPECT_INT(((struct fake_env *) e->cs)->state, 2);
	answer(&n, e, "d", NULL, "b.6");
	settle(&n);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_INT(jcount(&n, "forwarded", name, "remote", "b.6"), 1);
	node_close(&n);
}

static int starts_at_least(struct tnode *n, const void *arg)
{
	return fake_of(n)->starts >= *(const unsigned *) arg;
}

/* An operator action takes back what a channel only holds (take_back):
 * with every envelope given back the letter is held; when one is carried
 * the action is refused as busy and what was given back starts again. */
static void test_take_back(void)
{
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], err[256];
	struct fake *f;
	struct opres r;
	struct qenv *e;
	unsigned three = 3;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	f = fake_of(&n);
	put_letter(&n, "u1@b, u2@x", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 2));
	EXPECT_INT(f->starts, 2);

	/* b's envelope only waits, x's is carried: busy, nothing held */
	f->waiting = "b";
	memset(&r, 0, sizeof(r));
	EXPECT_INT(ops_letter(&n.rd, "hold", name, "tester", op_cb, &r, err, sizeof(err)), -1);
	EXPECT_HAS(err, "busy");
	EXPECT_INT(f->taken, 1);
	EXPECT_TRUE(in_state(&n, SPOOL_QUEUE, name));
	/* b's is due again: started again (three starts in all) */
	CU_ASSERT(run_until(&n, starts_at_least, &three));
	CU_ASSERT_FATAL(wait_active(&n, 2));
	EXPECT_INT(f->starts, 3);

	/* nothing given back: refused, and the channel asked nothing when one
	 * envelope is busy for another reason (its save in flight) */
	f->waiting = NULL;
	f->asked = 0;
	EXPECT_INT(ops_letter(&n.rd, "hold", name, "tester", op_cb, &r, err, sizeof(err)), -1);
	EXPECT_HAS(err, "busy");
	EXPECT_INT(f->asked, 2);
	e = env_of(&n, f->active[0]->name);
	CU_ASSERT_FATAL(e != NULL);
	e->saving++;
	f->waiting = "*";
	f->asked = 0;
	EXPECT_INT(ops_letter(&n.rd, "hold", name, "tester", op_cb, &r, err, sizeof(err)), -1);
	EXPECT_HAS(err, "busy");
	EXPECT_INT(f->asked, 0);
	e->saving--;

	/* both only wait: both given back, the letter held with its records */
	f->taken = 0;
	EXPECT_INT(ops_letter(&n.rd, "hold", name, "tester", op_cb, &r, err, sizeof(err)), 0);
	EXPECT_INT(f->taken, 2);
	EXPECT_INT(f->nactive, 0);
	CU_ASSERT(run_until(&n, op_done, &r));
	settle(&n);
	EXPECT_INT(r.ok, 1);
	EXPECT_TRUE(in_state(&n, SPOOL_HOLD, name));
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_INT(jcount(&n, "held", name, "by", "tester"), 1);
	EXPECT_INT(queue_count(n.rd.q, NULL), 0);
	EXPECT_INT(f->released, 0);		/* their saved state stays */
	EXPECT_INT(f->starts, 3);		/* and nothing started them */

	/* released: started again, answered as usual */
	f->waiting = NULL;
	memset(&r, 0, sizeof(r));
	EXPECT_INT(ops_letter(&n.rd, "release", name, "tester", op_cb, &r, err, sizeof(err)),
	    0);
	CU_ASSERT(run_until(&n, op_done, &r));
	EXPECT_INT(r.ok, 1);
	CU_ASSERT_FATAL(wait_active(&n, 2));
	EXPECT_INT(f->starts, 5);
	while ((e = fake_take(&n, NULL)) != NULL)
		answer(&n, e, "d", NULL, "b.9");
	settle(&n);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_INT(jcount(&n, "forwarded", name, NULL, NULL), 2);
	node_close(&n);
}

/* queue_requeue: due again at once, no attempt counted. */
static void test_requeue(void)
{
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16];
	struct qenv *e;
	unsigned two = 2;
	char   *s;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	str_copy(en, e->name, sizeof(en));
	queue_requeue(n.rd.q, e);
	CU_ASSERT(run_until(&n, starts_at_least, &two));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	EXPECT_INT(fake_of(&n)->starts, 2);
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->attempts, 0);
	EXPECT_STR(qenv_error(e), "");
	EXPECT_INT(jcount(&n, "deferred", name, NULL, NULL), 0);
	s = docket(&n, en);
	EXPECT_HAS(s, "attempts 0\n");
	EXPECT_HAS(s, "fake-state 1\n");
	free(s);
	answer(&n, e, "d", NULL, "b.7");
	settle(&n);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	node_close(&n);
}

/* A hostile next hop: its name and reason carry a newline and a line of
 * the docket's own; they are journalled and saved escaped. */
static void test_hostile(void)
{
	static const char remote[] = "evil\nfinished 1";
	static const char reason[] = "later\nfinished 1\ndone 1";
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16], path[T_PATH + 16];
	struct qenv *e;
	char   *s;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b, u2@b", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	str_copy(en, e->name, sizeof(en));
	answer(&n, e, "dr", reason, remote);
	settle(&n);
	s = jget(&n, "forwarded", name, "remote");
	EXPECT_STR(s, remote);
	free(s);
	s = jget(&n, "deferred", name, "reason");
	EXPECT_STR(s, reason);
	free(s);
	snprintf(path, sizeof(path), "%s/journal", n.spool);
	s = tl_read_file(path, NULL);
	CU_ASSERT_FATAL(s != NULL);
	EXPECT_TRUE(strstr(s, "\nfinished") == NULL && strstr(s, "\ndone") == NULL);
	free(s);
	s = docket(&n, en);
	CU_ASSERT_FATAL(s != NULL);
	EXPECT_HAS(s, "finished 0\n");
	EXPECT_TRUE(strstr(s, "finished 1\n") == NULL && strstr(s, "\ndone 1\n") == NULL);
	free(s);

	node_restart(&n);
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->state, QENV_QUEUED);
	EXPECT_INT(e->rcpts[0].done, 1);
	EXPECT_INT(e->rcpts[1].done, 0);
	EXPECT_STR(qenv_error(e), reason);
	CU_ASSERT_FATAL(e->cs != NULL);
	EXPECT_STR(((struct fake_env *) e->cs)->remote, remote);
	EXPECT_TRUE(in_state(&n, SPOOL_QUEUE, name));
	queue_env_due(n.rd.q, e, 0);
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	answer(&n, e, "sd", NULL, "b.8");
	settle(&n);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_INT(jcount(&n, "forwarded", name, NULL, NULL), 2);
	s = jget(&n, "forwarded", name, "rcpts");
	EXPECT_STR(s, "u2@b");
	free(s);
	node_close(&n);
}

/* --- faults and crashes ---------------------------------------------------------- */

/* rcpt_lined - addr has a forwarded line (in its rcpts list) or a failed
 * line about letter name */
static int rcpt_lined(struct tnode *n, const char *name, const char *addr)
{
	struct journal_reader *r;
	struct journal_rec *rec = xmalloc(sizeof(*rec));
	char    err[256];
	const char *v;
	size_t  al = strlen(addr);
	int     hit = 0;

	r = journal_reader_open(n->spool, err, sizeof(err));
	CU_ASSERT_FATAL(r != NULL);
	while (!hit && journal_reader_next(r, rec, err, sizeof(err)) == 1) {
		if (strcmp(rec->name, name) != 0)
			continue;
		if (strcmp(rec->event, "failed") == 0 && (v = journal_get(rec, "rcpt", NULL))
		    != NULL && strcmp(v, addr) == 0)
			hit = 1;
		if (strcmp(rec->event, "forwarded") == 0
		    && (v = journal_get(rec, "rcpts", NULL)) != NULL)
			for (; *v; v += strcspn(v, ","), v += *v == ',')
				if (strncmp(v, addr, al) == 0 && (v[al] == ',' || v[al] == '\0'))
					hit = 1;
	}
	journal_reader_free(r);
	free(rec);
	return hit;
}

/* What a result transaction is tried with. */
struct rcase {
	const char *label;
	const char *rcpts;
	const char *what;	/* per recipient, as answer() takes it */
};

static const struct rcase rcases[] = {
	{ "all done", "u1@b, u2@b", "dd" },
	{ "done+deferred+failed", "u1@b, u2@b, u3@b", "drf" },
};

/* letter_state - after a restart (live: on the node that ran it) is
 * the letter in exactly one recoverable state? NULL, or what is wrong
 * (static); what loses a line says "(neither)", what would do a thing
 * twice "(both)". */
static const char *letter_state(struct tnode *n, const char *name, const struct rcase *rc,
	int live)
{
	char    en[SPOOL_NAMELEN + 16];
	int     queued = in_state(n, SPOOL_QUEUE, name), envf, fwd, ndn, nfail, hasdk;
	struct qenv *e;
	char   *dk;
	size_t  i;

	snprintf(en, sizeof(en), "%s_f_b", name);
	envf = env_stored(n, en);
	dk = docket(n, en);
	hasdk = dk != NULL;
	free(dk);
	e = env_of(n, en);
	if (jcount(n, "received", name, NULL, NULL) == 0) {
		/* never accepted: then it is nowhere */
		if (queued || envf || in_state(n, SPOOL_IN, name))
			return "a letter without its received line";
		return NULL;
	}
	if (in_state(n, SPOOL_IN, name))
		return "still in in/ after a restart";
	if (queued && !envf)
		return "letter in queue/ without its envelope";
	if (!queued && envf)
		return "envelope in queue/ without its letter";
	if (queued && e == NULL) {
		/* a live node may leave it for the next start (queue.h) */
		return live ? NULL : "queued but not loaded";
	}
	if (e != NULL && e->state == QENV_FINISHED)
		return "loaded as finished";
	fwd = jcount(n, "forwarded", name, NULL, NULL);
	nfail = jcount(n, "failed", name, NULL, NULL);
	ndn = jcount(n, "ndn", name, NULL, NULL);
	if (!queued) {
		/* gone: with its lines, and with its docket */
		if (fwd == 0)
			return "gone without its forwarded line (neither)";
		if (hasdk)
			return "gone but its docket stays";
		for (i = 0; i < strlen(rc->what); i++) {
			char    a[32];

			snprintf(a, sizeof(a), "u%zu@b", i + 1);
			if (!rcpt_lined(n, name, a))
				return "gone, a recipient without its line (neither)";
		}
		return NULL;
	}
	if (jcount(n, "routed", name, NULL, NULL) == 0)
		return "queued without its routed line";
	/* queued: what the docket says is done is exactly what is journalled */
	for (i = 0; i < e->nrcpts; i++) {
		int     lined;
		char    a[32];

		snprintf(a, sizeof(a), "u%zu@b", i + 1);
		lined = rcpt_lined(n, name, a);
		if (e->rcpts[i].done && !lined)
			return "a recipient done without its line (neither)";
		if (!e->rcpts[i].done && lined)
			return "a recipient journalled but still pending (both)";
	}
	if (nfail > 0 && ndn == 0 && !dead_marked(n, name))
		return "a failure with neither an NDN nor a dead marker";
	if ((int) e->attempts != jcount(n, "deferred", name, NULL, NULL))
		return "attempts and deferred lines disagree";
	return NULL;
}

/* signature - the events about name and the files of its envelope */
static void signature(struct tnode *n, const char *name, char *sig, size_t len)
{
	static const char *const ev[] = { "forwarded", "deferred", "failed", "ndn", "dead" };
	char    en[SPOOL_NAMELEN + 16];
	size_t  i, o = 0;
	char   *dk;

	snprintf(en, sizeof(en), "%s_f_b", name);
	dk = docket(n, en);
	for (i = 0; i < NELEM(ev); i++)
		o += (size_t) snprintf(sig + o, len - o, "%s=%d ", ev[i], jcount(n, ev[i], name, NULL,
		    NULL));
	snprintf(sig + o, len - o, "q=%d e=%d d=%d", in_state(n, SPOOL_QUEUE, name),
	    env_stored(n, en), dk != NULL);
	free(dk);
}

/* fault_run - one result of case rc with call nth of op failed (nth 0:
 * none); the signature before the restart into sig; 1 when a
 * transaction failed. The letter's state after a restart is checked. */
static int fault_run(const struct rcase *rc, enum sysio_op op, unsigned long nth, char *sig,
	size_t siglen)
{
	static const char *const opname[] = { "write", "fsync", "rename", "link", "unlink",
	"open" };
	struct spool_stats st0, st1;
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN];
	const char *bad;
	struct qenv *e;
	int     failed;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, rc->rcpts, name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	spool_stats(n.rd.sp, &st0);
	if (nth > 0)
		sysio_fail(op, nth, EIO);
	answer(&n, e, rc->what, "trouble", "b.9");
	settle(&n);
	sysio_reset();
	spool_stats(n.rd.sp, &st1);
	failed = st1.txns_failed > st0.txns_failed;
	signature(&n, name, sig, siglen);
	/* thrown away: a fresh node recovers the spool */
	node_restart(&n);
	bad = letter_state(&n, name, rc, 0);
	if (bad != NULL) {
		char    now[512];

		signature(&n, name, now, sizeof(now));
		fprintf(stderr, "\n%s, %s call %lu failed: %s\n  before restart: %s\n"
		    "  after restart:  %s\n", rc->label, opname[op], nth, bad, sig, now);
	}
	CU_ASSERT(bad == NULL);
	node_close(&n);
	CU_ASSERT(tl_rmtree(dir) == 0);
	return failed;
}

/* answer_pending - answer e: every pending recipient as `what` */
static void answer_pending(struct tnode *n, struct qenv *e, char what, const char *remote)
{
	char    w[16];
	size_t  i;

	CU_ASSERT_FATAL(e->nrcpts < sizeof(w));
	for (i = 0; i < e->nrcpts; i++)
		w[i] = e->rcpts[i].done ? 's' : what;
	w[i] = '\0';
	answer(n, e, w, "trouble", remote);
}

/* A result transaction fails and the spool undoes it (the NDN's commit,
 * a rename, its first step, fails): the node must not go on from what the failed
 * transaction would have made, recipients done or failed without their
 * lines and without the NDN. */
static void test_failed_live(void)
{
	const struct rcase *rc = &rcases[1];
	struct spool_stats st0, st1;
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16];
	const char *bad;
	struct qenv *e;
	char   *s;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, rc->rcpts, name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	str_copy(en, e->name, sizeof(en));
	spool_stats(n.rd.sp, &st0);
	sysio_fail(SYSIO_RENAME, 1, EIO);
	answer(&n, e, rc->what, "trouble", "b.3");
	settle(&n);
	sysio_reset();
	spool_stats(n.rd.sp, &st1);
	EXPECT_INT(st1.txns_failed - st0.txns_failed, 1);
	EXPECT_INT(jcount(&n, "forwarded", name, NULL, NULL), 0);
	EXPECT_INT(jcount(&n, "failed", name, NULL, NULL), 0);
	EXPECT_INT(jcount(&n, "deferred", name, NULL, NULL), 0);
	s = docket(&n, en);
	EXPECT_TRUE(s == NULL);
	free(s);
	/* memory is what is on disk again (nothing done, no attempt), tried
	 * again after a back-off */
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->state, QENV_QUEUED);
	EXPECT_INT(e->rcpts[0].done + e->rcpts[1].done + e->rcpts[2].done, 0);
	EXPECT_INT(e->attempts, 0);
	EXPECT_TRUE(e->next_try > time(NULL));
	EXPECT_INT(fake_of(&n)->starts, 1);
	/* time passes (see DESCRIPTION): the same result, durable this time */
	queue_env_due(n.rd.q, e, 0);
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	answer(&n, e, rc->what, "trouble", "b.4");
	settle(&n);
	bad = letter_state(&n, name, rc, 1);
	EXPECT_STR(bad, NULL);
	node_restart(&n);
	bad = letter_state(&n, name, rc, 0);
	EXPECT_STR(bad, NULL);
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	queue_env_due(n.rd.q, e, 0);
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	answer_pending(&n, e, 'd', "b.5");
	settle(&n);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	bad = letter_state(&n, name, rc, 0);
	EXPECT_STR(bad, NULL);
	EXPECT_INT(jcount(&n, "ndn", name, NULL, NULL), 1);
	node_close(&n);
}

/* A spool of an older version: its envelopes were files queue/NAME_f_HOP
 * and its dead markers files queue/NAME_d. Start-up converts each into a
 * record (one transaction: record put, file removed); the envelope keeps
 * its state; a file that is no envelope stays a file, left alone. */
static void test_convert(void)
{
	struct tnode n;
	struct buf b = BUF_INIT(1024 * 1024);
	struct spool_txn *t;
	struct qletter *l;
	struct qenv *e;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16], bad[SPOOL_NAMELEN + 16];
	char    mk[SPOOL_NAMELEN + 8], path[2 * T_PATH], key[SPOOL_NAMELEN + 32], err[256];

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	answer(&n, e, "r", "no answer", NULL);
	settle(&n);
	snprintf(en, sizeof(en), "%s_f_b", name);
	snprintf(mk, sizeof(mk), "%s_d", name);
	snprintf(bad, sizeof(bad), "%s_f_x", name);
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->efile, 0);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, en));	/* a record, no file */
	/* what the first relay wrote: the envelope and a marker as files */
	CU_ASSERT_FATAL(qenv_file_text(e, name, "rsre", &b) == 0);
	snprintf(path, sizeof(path), "%s/queue/%s", n.spool, en);
	CU_ASSERT_FATAL(tl_write_file(path, buf_cstr(&b)) == 0);
	snprintf(path, sizeof(path), "%s/queue/%s", n.spool, mk);
	CU_ASSERT_FATAL(tl_write_file(path, "no way back") == 0);
	snprintf(path, sizeof(path), "%s/queue/%s", n.spool, bad);
	CU_ASSERT_FATAL(tl_write_file(path, "niftpmail-envelope 1\nletter\n") == 0);
	buf_release(&b);
	t = spool_txn_new(n.rd.sp);
	snprintf(key, sizeof(key), "envf %s", en);
	spool_txn_docket_del(t, key);
	CU_ASSERT_FATAL(spool_txn_run(t, err, sizeof(err)) == 0);
	EXPECT_TRUE(!env_stored(&n, en) || in_state(&n, SPOOL_QUEUE, en));

	node_restart(&n);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, en));
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, mk));
	EXPECT_TRUE(env_stored(&n, en));
	EXPECT_TRUE(dead_marked(&n, name));
	e = env_of(&n, en);
	CU_ASSERT_FATAL(e != NULL);
	EXPECT_INT(e->efile, 0);
	EXPECT_INT(e->attempts, 1);			/* its state record still applies */
	EXPECT_STR(e->error, "no answer");
	l = queue_letter(n.rd.q, name);
	CU_ASSERT_FATAL(l != NULL);
	EXPECT_INT(l->dead, 1);
	EXPECT_STR(l->dead_reason, "no way back");
	/* no envelope: stays a file, no record, never loaded */
	EXPECT_TRUE(in_state(&n, SPOOL_QUEUE, bad));
	snprintf(key, sizeof(key), "envf %s", bad);
	EXPECT_TRUE(spool_docket_get(n.rd.sp, key, NULL, NULL, NULL, 0) == NULL);
	EXPECT_TRUE(env_of(&n, bad) == NULL);
	node_close(&n);
}

/* Two copies of a letter leave at once: the first's final transaction
 * is in flight (its batch started) when the second's is submitted, and
 * the first fails. The second must not take the letter with it: the
 * letter ends only after the last of them, and here the failed copy comes
 * back and needs it. Then it leaves for good and the letter ends. */
static void test_leave_overlap(void)
{
	struct spool_stats st0, st1;
	struct tnode n;
	struct qletter *l;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16];
	struct qenv *eb, *ex;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, "u1@b, v1@x", name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 2));
	eb = fake_take(&n, "b");
	ex = fake_take(&n, "x");
	CU_ASSERT_FATAL(eb != NULL && ex != NULL);
	str_copy(en, eb->name, sizeof(en));
	spool_stats(n.rd.sp, &st0);
	sysio_fail(SYSIO_FSYNC, 1, EIO);
	answer(&n, eb, "d", NULL, "b.1");
	/* one turn: the spool's kick starts the first batch (a worker); the
	 * second transaction cannot join it any more */
	(void) loop_run_once(n.rd.loop, T_TURN_MS);
	l = queue_letter(n.rd.q, name);
	CU_ASSERT_FATAL(l != NULL);
	EXPECT_INT(l->leaving, 1);
	answer(&n, ex, "d", NULL, "x.1");
	EXPECT_INT(l->leaving, 2);
	settle(&n);
	sysio_reset();
	spool_stats(n.rd.sp, &st1);
	EXPECT_INT(st1.txns_failed - st0.txns_failed, 1);
	EXPECT_INT(jcount(&n, "forwarded", name, "to", "x"), 1);
	EXPECT_INT(jcount(&n, "forwarded", name, "to", "b"), 0);
	EXPECT_TRUE(in_state(&n, SPOOL_QUEUE, name));
	EXPECT_TRUE(env_stored(&n, en));
	l = queue_letter(n.rd.q, name);
	CU_ASSERT_FATAL(l != NULL);
	EXPECT_INT(l->nenv, 1);
	EXPECT_INT(l->leaving, 0);
	eb = env_of(&n, en);
	CU_ASSERT_FATAL(eb != NULL);
	queue_env_due(n.rd.q, eb, 0);
	CU_ASSERT_FATAL(wait_active(&n, 1));
	eb = fake_take(&n, "b");
	CU_ASSERT_FATAL(eb != NULL);
	answer(&n, eb, "d", NULL, "b.2");
	settle(&n);
	EXPECT_INT(jcount(&n, "forwarded", name, "to", "b"), 1);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_TRUE(!env_stored(&n, en));
	EXPECT_TRUE(queue_letter(n.rd.q, name) == NULL);
	node_close(&n);
	/* and nothing is left for a restart to find */
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	settle(&n);
	EXPECT_INT(queue_count(n.rd.q, NULL), 0);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	node_close(&n);
}

/* The last result of one copy fails (its transaction's journal sync:
 * the envelope's removal is a record of it) while the letter's other
 * copy is still queued; that one then leaves. The letter must not go
 * with it while the failed copy's envelope is still stored. */
static void test_failed_leave(void)
{
	static const struct rcase rc = { "two hops", "u1@b, v1@x", "d" };
	struct spool_stats st0, st1;
	struct tnode n;
	char    dir[T_PATH], name[SPOOL_NAMELEN], en[SPOOL_NAMELEN + 16];
	struct qenv *eb, *ex;
	const char *bad;

	newdir(dir, sizeof(dir));
	CU_ASSERT_FATAL(node_open(&n, dir) == 0);
	put_letter(&n, rc.rcpts, name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 2));
	eb = fake_take(&n, "b");
	ex = fake_take(&n, "x");
	CU_ASSERT_FATAL(eb != NULL && ex != NULL);
	str_copy(en, eb->name, sizeof(en));
	spool_stats(n.rd.sp, &st0);
	sysio_fail(SYSIO_FSYNC, 1, EIO);
	answer(&n, eb, "d", NULL, "b.1");
	settle(&n);
	sysio_reset();
	spool_stats(n.rd.sp, &st1);
	EXPECT_INT(st1.txns_failed - st0.txns_failed, 1);
	EXPECT_TRUE(env_stored(&n, en));
	EXPECT_INT(jcount(&n, "forwarded", name, NULL, NULL), 0);
	answer(&n, ex, "d", NULL, "x.1");
	settle(&n);
	EXPECT_INT(jcount(&n, "forwarded", name, "to", "x"), 1);
	EXPECT_TRUE(env_stored(&n, en));
	EXPECT_TRUE(in_state(&n, SPOOL_QUEUE, name));
	/* the failed copy is tried again (time passes, see DESCRIPTION) */
	eb = env_of(&n, en);
	if (eb != NULL) {
		EXPECT_TRUE(eb->next_try > time(NULL));
		queue_env_due(n.rd.q, eb, 0);
		CU_ASSERT_FATAL(wait_active(&n, 1));
		eb = fake_take(&n, "b");
		CU_ASSERT_FATAL(eb != NULL);
		answer(&n, eb, "d", NULL, "b.2");
		settle(&n);
	}
	node_restart(&n);
	bad = letter_state(&n, name, &rc, 0);
	EXPECT_STR(bad, NULL);
	EXPECT_TRUE(!in_state(&n, SPOOL_QUEUE, name));
	EXPECT_INT(jcount(&n, "forwarded", name, "to", "b"), 1);
	node_close(&n);
}

/* Each write, fsync, rename, link, unlink, open of a result transaction
 * fails in turn. A fault that hits leaves a failed transaction or a
 * different outcome; N goes on until three in a row hit nothing
 * (util/sysio.h cannot tell whether an armed fault was used). */
static void test_faults(void)
{
	char    base[512], sig[512];
	size_t  c;
	int     op;

	for (c = 0; c < NELEM(rcases); c++) {
		(void) fault_run(&rcases[c], SYSIO_WRITE, 0, base, sizeof(base));
		for (op = 0; op < SYSIO_NOPS; op++) {
			unsigned long nth;
			int     clean = 0;

			for (nth = 1; nth <= FAULT_NMAX && clean < 3; nth++) {
				int     failed = fault_run(&rcases[c], (enum sysio_op) op, nth, sig,
				    sizeof(sig));

				if (!failed && strcmp(sig, base) == 0)
					clean++;
				else
					clean = 0;
			}
			CU_ASSERT(nth <= FAULT_NMAX);
		}
	}
}

/* child_scenario - the child of test_crashes: one letter, one result of
 * rcases[child_case] (a crash point may end it anywhere) */
static void child_scenario(void)
{
	const struct rcase *rc = &rcases[child_case];
	char    name[SPOOL_NAMELEN], path[T_PATH + 16];
	struct tnode n;
	struct qenv *e;

	snprintf(path, sizeof(path), "%s/name", child_dir);
	name_file = path;
	CU_ASSERT_FATAL(node_open(&n, child_dir) == 0);
	put_letter(&n, rc->rcpts, name, sizeof(name));
	CU_ASSERT_FATAL(wait_active(&n, 1));
	e = fake_take(&n, "b");
	CU_ASSERT_FATAL(e != NULL);
	answer(&n, e, rc->what, "trouble", "b.9");
	settle(&n);
	node_close(&n);
	name_file = NULL;
}

/* run_child - the child on dir for case c with NIFTPMAIL_CRASH=point:nth;
 * its wait status */
static int run_child(const char *dir, unsigned c, const char *point, unsigned nth)
{
	char    cv[96], cs[16], log[T_PATH + 16];
	pid_t   pid;
	int     st = -1;

	snprintf(cv, sizeof(cv), "%s:%u", point, nth);
	snprintf(cs, sizeof(cs), "%u", c);
	snprintf(log, sizeof(log), "%s/child.log", dir);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (freopen(log, "w", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
			_exit(126);
		setenv("NIFTPMAIL_CRASH", cv, 1);
		execl(self_exe, self_exe, "--child-crash", dir, cs, (char *) NULL);
		_exit(127);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT(waitpid(pid, &st, 0) == pid);
	return st;
}

/* A crash at each spool step (util/crash.h points, each count in turn)
 * of a child that takes a letter in, routes it and applies one result;
 * a fresh node then recovers the spool and the letter must be in
 * exactly one recoverable state. The points _exit() the process: the
 * child is this binary executed again (the points read NIFTPMAIL_CRASH
 * once per process). */
static void test_crashes(void)
{
	static const char *const points[] = {
		"spool-prepared", "spool-after-link", "spool-after-intent", "spool-after-ops",
		"spool-after-dirsync", "spool-after-journal-write", "spool-after-journal-sync",
		"relay-after-route-before-commit",
	};
	char    dir[T_PATH], path[T_PATH + 16], *name;
	unsigned c, p, nth, children = 0, crashes = 0;

	for (c = 0; c < NELEM(rcases); c++)
		for (p = 0; p < NELEM(points); p++)
			for (nth = 1; nth <= CRASH_NMAX; nth++) {
				struct tnode n;
				const char *bad;
				int     st, crashed, clean;

				newdir(dir, sizeof(dir));
				st = run_child(dir, c, points[p], nth);
				crashed = WIFEXITED(st) && WEXITSTATUS(st) == 99;
				clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
				children++;
				crashes += crashed;
				/* every point is passed at least once */
				if (nth == 1)
					EXPECT_INT(crashed, 1);
				if (!crashed && !clean) {
					snprintf(path, sizeof(path), "%s/child.log", dir);
					name = tl_read_file(path, NULL);
					fprintf(stderr, "\nchild %s:%u (%s): status %#x\n%s\n", points[p],
					    nth, rcases[c].label, st, name ? name : "");
					free(name);
					CU_FAIL("child failed");
					break;
				}
				snprintf(path, sizeof(path), "%s/name", dir);
				name = tl_read_file(path, NULL);
				CU_ASSERT_FATAL(name != NULL && *name);
				CU_ASSERT_FATAL(node_open(&n, dir) == 0);
				settle(&n);
				bad = letter_state(&n, name, &rcases[c], 0);
				if (bad != NULL)
					fprintf(stderr, "\n%s, crash at %s:%u: %s\n", rcases[c].label,
					    points[p], nth, bad);
				CU_ASSERT(bad == NULL);
				node_close(&n);
				free(name);
				CU_ASSERT(tl_rmtree(dir) == 0);
				if (clean)
					break;
			}
	fprintf(stderr, "\n%u children, %u crashed\n", children, crashes);
}

/* --- main ---------------------------------------------------------------------- */

static int setup(void)
{
	return tl_tmpdir(tdir, sizeof(tdir), "test_queue");
}

static int teardown(void)
{
	return tl_rmtree(tdir);
}

int main(int argc, char **argv)
{
	static const struct tl_test tests[] = {
		{ "queue", "one copy per next hop, local, all done", test_copies },
		{ "queue", "done, deferred and failed in one result", test_mixed },
		{ "sched", "back-off", test_backoff },
		{ "sched", "warn once", test_warn },
		{ "sched", "give up", test_give_up },
		{ "ops", "hold, release, busy", test_hold },
		{ "ops", "an envelope a channel only holds is taken back", test_take_back },
		{ "queue", "requeue", test_requeue },
		{ "queue", "an older version's envelope files converted", test_convert },
		{ "queue", "hostile next hop", test_hostile },
		{ "crash", "a failed result on a live node", test_failed_live },
		{ "crash", "a failed leaving beside another copy", test_failed_leave },
		{ "crash", "two copies leave at once, the first fails", test_leave_overlap },
		{ "crash", "faults in each step of a result", test_faults },
		{ "crash", "crashes at each step", test_crashes },
	};
	static const struct tl_test child[] = {
		{ "child", "one letter, one result", child_scenario },
	};
	ssize_t k;

	log_init("test_queue", LOG_LVL_WARN);
	if (argc == 4 && strcmp(argv[1], "--child-crash") == 0) {
		child_dir = argv[2];
		child_case = (unsigned) strtoul(argv[3], NULL, 10) % NELEM(rcases);
		return tl_run(child, NELEM(child), NULL, NULL);
	}
	if ((k = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1)) > 0)
		self_exe[k] = '\0';
	return tl_run(tests, NELEM(tests), setup, teardown);
}
