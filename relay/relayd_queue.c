/*++
 * NAME
 *	relayd_queue 3
 * SUMMARY
 *	mailrelayd: routing, envelopes, retries, local delivery, notices
 * SYNOPSIS
 *	#include "relay/relayd.h"
 * DESCRIPTION
 *	A letter in in/ is routed (mailchannel/route.h) in one spool
 *	transaction: one envelope file per next hop (queue/NAME_f_HOP),
 *	one for the local deliveries (queue/NAME_l), an NDN for the
 *	recipients that failed at once, the move of the letter to
 *	queue/NAME (its message store from then on), and the journal
 *	lines routed/failed/ndn. Envelope files never change; their
 *	changing state (attempts, next try, warned, the copy identity and
 *	NIFTP docket of a forwarded copy, local recipients done) is the
 *	docket "env ENVELOPE", replaced in the transaction of each change.
 *
 *	Leaving the queue is two transactions: the first writes the
 *	journal lines (forwarded, delivered, failed, ndn) with the docket
 *	marked "finished"; the second removes the envelope, its prefix and
 *	docket and, with the last envelope, the letter (or moves it to
 *	dead/ when a NAME_d marker says a failure could not be returned).
 *	A crash between them finds a finished docket at start-up and only
 *	does the second.
 *
 *	The scheduler runs every second and when poked: it gives up on
 *	envelopes older than [retry] give_up (NDN), sends one "still
 *	trying" notice after warn, and starts envelopes whose next try
 *	has come (local: a worker job; niftp: relayd_fwd.c). Back-off:
 *	conf_backoff_ms().
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mailchannel/addr.h"
#include "mailchannel/ch_local.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "mailchannel/notice.h"
#include "mailchannel/route.h"
#include "relay/relayd.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"
#include "util/workq.h"

#define ENV_FILE_MAX	(32 * 1024 * 1024)
#define SCHED_MS	1000
#define SCHED_MIN_MS	100	/* full passes asked for: at most this often */
#define OUT_STABLE_S	2
#define CLAIMS_MAX	256	/* drops read at a time (memory stays bounded) */

/* --- small helpers ------------------------------------------------------- */

/* letter_hash - FNV-1a of a letter name */
static size_t letter_hash(const char *name)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *name; name++)
		h = (h ^ (unsigned char) *name) * 1099511628211ULL;
	return (size_t) (h ^ (h >> 32));
}

static struct rletter *letter_find(struct relayd *rd, const char *name)
{
	struct rletter *l;

	if (rd->ltab == NULL)
		return NULL;
	for (l = rd->ltab[letter_hash(name) & (rd->ltab_size - 1)]; l != NULL; l = l->hnext)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}

/* letter_grow - double the hash table (load factor 1) */
static void letter_grow(struct relayd *rd)
{
	size_t  nsize = rd->ltab_size ? 2 * rd->ltab_size : 1024, i;
	struct rletter **nt = xcalloc(nsize, sizeof(*nt)), *l, *next;

	for (i = 0; i < rd->ltab_size; i++)
		for (l = rd->ltab[i]; l != NULL; l = next) {
			size_t  k = letter_hash(l->name) & (nsize - 1);

			next = l->hnext;
			l->hnext = nt[k];
			nt[k] = l;
		}
	free(rd->ltab);
	rd->ltab = nt;
	rd->ltab_size = nsize;
}

static struct rletter *letter_add(struct relayd *rd, const char *name)
{
	struct rletter *l = letter_find(rd, name);
	size_t  k, n = strlen(name);

	if (l != NULL)
		return l;
	if (rd->nletters >= rd->ltab_size)
		letter_grow(rd);
	l = xcalloc(1, sizeof(*l) + n + 1);
	memcpy(l->name, name, n + 1);
	k = letter_hash(name) & (rd->ltab_size - 1);
	l->hnext = rd->ltab[k];
	rd->ltab[k] = l;
	rd->nletters++;
	return l;
}

static void rletter_free(struct rletter *l)
{
	free(l->calling);
	free(l->dead_reason);
	free(l);
}

static void letter_del(struct relayd *rd, struct rletter *l)
{
	struct rletter **lp;

	for (lp = &rd->ltab[letter_hash(l->name) & (rd->ltab_size - 1)]; *lp != NULL;
	    lp = &(*lp)->hnext)
		if (*lp == l) {
			*lp = l->hnext;
			rd->nletters--;
			rletter_free(l);
			return;
		}
}

/* env_set_str - replace *sp with a copy of s (NULL or "": none) */
void env_set_str(char **sp, const char *s)
{
	char   *old = *sp;

	*sp = s != NULL && *s ? xstrdup(s) : NULL;
	free(old);
}

/* env_set_dk - e's resumable NIFTP docket */
void env_set_dk(struct renv *e, const struct niftp_docket *d)
{
	if (d == NULL) {
		e->have_dk = 0;
		return;
	}
	if (e->dk == NULL)
		e->dk = xmalloc(sizeof(*e->dk));
	if (e->dk != d)
		*e->dk = *d;
	e->have_dk = 1;
}

/* envq_add - e at the tail of q (taken out of its queue first) */
void envq_add(struct renvq *q, struct renv *e)
{
	if (e->q == q)
		return;
	envq_del(e);
	e->q = q;
	e->qnext = NULL;
	e->qprev = q->tail;
	if (q->tail)
		q->tail->qnext = e;
	else
		q->head = e;
	q->tail = e;
	q->n++;
}

/* envq_del - e out of its queue, if any */
void envq_del(struct renv *e)
{
	struct renvq *q = e->q;

	if (q == NULL)
		return;
	if (e->qprev)
		e->qprev->qnext = e->qnext;
	else
		q->head = e->qnext;
	if (e->qnext)
		e->qnext->qprev = e->qprev;
	else
		q->tail = e->qprev;
	q->n--;
	e->q = NULL;
	e->qnext = e->qprev = NULL;
}

static void env_free(struct renv *e)
{
	size_t  i;

	for (i = 0; i < e->nrcpts; i++) {
		if (e->rcpts[i].orig != e->rcpts[i].addr)
			free(e->rcpts[i].orig);
		free(e->rcpts[i].addr);
		free(e->rcpts[i].owner);
		free(e->rcpts[i].mailbox);
	}
	free(e->rcpts);
	free(e->name);
	free(e->hop);
	free(e->error);
	free(e->dk);
	free(e->remote);
	free(e->via_addr);
	free(e);
}

/* env_link - e into rd->envs */
static void env_link(struct relayd *rd, struct renv *e)
{
	e->prev = NULL;
	e->next = rd->envs;
	if (rd->envs)
		rd->envs->prev = e;
	rd->envs = e;
}

static void env_unlink(struct relayd *rd, struct renv *e)
{
	envq_del(e);
	if (e->prev)
		e->prev->next = e->next;
	else if (rd->envs == e)
		rd->envs = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->next = e->prev = NULL;
}

static void env_add_rcpt(struct renv *e, const char *addr, const char *orig,
	const char *owner, const char *mailbox)
{
	struct rrcpt *r;

	e->rcpts = xrealloc(e->rcpts, sizeof(*e->rcpts) * (e->nrcpts + 1));
	r = &e->rcpts[e->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->addr = xstrdup(addr);
	r->orig = orig == NULL || strcmp(orig, addr) == 0 ? r->addr : xstrdup(orig);
	r->owner = owner ? xstrdup(owner) : NULL;
	r->mailbox = mailbox ? xstrdup(mailbox) : NULL;
}

/* hop_safe - a next-hop name as a file-name part */
static void hop_safe(const char *hop, char *dst, size_t len)
{
	size_t  i, n = strlen(hop);

	if (n > 60 || len < 64) {
		unsigned long c = crc32(0L, (const Bytef *) hop, (uInt) n);

		snprintf(dst, len, "h%08lx", c & 0xffffffffUL);
		return;
	}
	for (i = 0; i < n && i + 1 < len; i++) {
		unsigned char ch = (unsigned char) hop[i];

		dst[i] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
		    || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-') ? (char) ch : '-';
	}
	dst[i] = '\0';
	if (dst[0] == '.' || dst[0] == '\0')
		dst[0] = '-';
}

/* env_rcpts_text - recipients joined by ',' */
char *env_rcpts_text(const struct renv *e)
{
	struct buf b = BUF_INIT(4 * 1024 * 1024);
	size_t  i;
	char   *s;

	for (i = 0; i < e->nrcpts; i++)
		if (buf_printf(&b, "%s%s", i ? "," : "", e->rcpts[i].addr) < 0)
			break;
	s = buf_cstr(&b) ? xstrdup(buf_cstr(&b)) : xstrdup("");
	buf_release(&b);
	return s;
}

/* read_fn for letter_open over pread */
struct pread_ctx {
	int	fd;
	uint64_t off;
};

static ssize_t pread_fn(void *ctx, void *p, size_t len)
{
	struct pread_ctx *c = ctx;
	ssize_t n = pread(c->fd, p, len, (off_t) c->off);

	if (n > 0)
		c->off += (uint64_t) n;
	return n;
}

/* open_stored - open STATE/NAME and read its letter head; NULL with err */
static struct letter *open_stored(struct relayd *rd, enum spool_state st, const char *name,
	int *fdp, struct pread_ctx *ctx, enum letter_status *stp, char *err, size_t errlen)
{
	char    path[PATH_MAX];
	struct letter *l;

	*fdp = -1;
	if (spool_path(rd->sp, st, name, path, sizeof(path)) == NULL
	    || (*fdp = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "open '%s/%s': %s", spool_state_name(st), name,
		    strerror(errno));
		if (stp)
			*stp = LETTER_EIO;
		return NULL;
	}
	ctx->fd = *fdp;
	ctx->off = 0;
	if ((l = letter_open(pread_fn, ctx, stp, err, errlen)) == NULL) {
		close(*fdp);
		*fdp = -1;
	}
	return l;
}

/* crc_file - CRC-32 and size of fd from off to its end */
static int crc_file(int fd, uint64_t off, uint32_t *crc, uint64_t *size)
{
	unsigned char b[64 * 1024];
	unsigned long c = crc32(0L, Z_NULL, 0);
	uint64_t n0 = 0;
	ssize_t n;

	for (;;) {
		n = pread(fd, b, sizeof(b), (off_t) (off + n0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		c = crc32(c, b, (uInt) n);
		n0 += (uint64_t) n;
	}
	*crc = (uint32_t) c;
	*size = n0;
	return 0;
}

static void notice_later(struct relayd *rd, const char *name);

/* --- envelope file and docket -------------------------------------------- */

/* env_file_text - the immutable envelope file */
static int env_file_text(const struct renv *e, const char *letter, const char *calling,
	struct buf *b)
{
	size_t  i;

	if (buf_printf(b, "niftpmail-envelope 1\nletter %s\nhop %s\ncalling %s\nfirst %lld\n",
	    letter, e->hop, calling && *calling ? calling : "-", (long long) e->first) < 0)
		return -1;
	for (i = 0; i < e->nrcpts; i++) {
		const struct rrcpt *r = &e->rcpts[i];

		if (buf_printf(b, "rcpt %s\norig %s\n", r->addr, r->orig) < 0)
			return -1;
		if (r->mailbox && buf_printf(b, "mailbox %s\n", r->mailbox) < 0)
			return -1;
		if (r->owner && buf_printf(b, "owner %s\n", r->owner) < 0)
			return -1;
	}
	return 0;
}

/* env_file_parse - parse text (modified); NULL when malformed */
static struct renv *env_file_parse(char *text, char *letter, size_t llen, char *calling,
	size_t clen)
{
	struct renv *e = xcalloc(1, sizeof(*e));
	char   *line, *next, *val;
	int     head = 0;
	uint64_t u;

	for (line = text; line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (!head) {
			if (strcmp(line, "niftpmail-envelope 1") != 0)
				goto bad;
			head = 1;
			continue;
		}
		if ((val = strchr(line, ' ')) == NULL)
			goto bad;
		*val++ = '\0';
		if (strcmp(line, "letter") == 0)
			str_copy(letter, val, llen);
		else if (strcmp(line, "hop") == 0)
			env_set_str(&e->hop, val);
		else if (strcmp(line, "calling") == 0)
			str_copy(calling, strcmp(val, "-") ? val : "", clen);
		else if (strcmp(line, "first") == 0) {
			if (str_to_u64(val, 0, INT64_MAX, &u) < 0)
				goto bad;
			e->first = (time_t) u;
		} else if (strcmp(line, "rcpt") == 0)
			env_add_rcpt(e, val, NULL, NULL, NULL);
		else if (e->nrcpts > 0 && strcmp(line, "orig") == 0) {
			struct rrcpt *r = &e->rcpts[e->nrcpts - 1];

			if (r->orig != r->addr)
				free(r->orig);
			r->orig = strcmp(val, r->addr) == 0 ? r->addr : xstrdup(val);
		} else if (e->nrcpts > 0 && strcmp(line, "mailbox") == 0)
			e->rcpts[e->nrcpts - 1].mailbox = xstrdup(val);
		else if (e->nrcpts > 0 && strcmp(line, "owner") == 0)
			e->rcpts[e->nrcpts - 1].owner = xstrdup(val);
	}
	if (!head || e->nrcpts == 0 || e->hop == NULL || !letter[0])
		goto bad;
	return e;
bad:
	env_free(e);
	return NULL;
}

static void env_key(const struct renv *e, char *key, size_t len)
{
	snprintf(key, len, "env %s", e->name);
}

struct env_saving {
	struct relayd *rd;
	struct renv *e;
};

/* env_save_done - a docket save of its own completed; a forwarded
 * transaction that waited for it goes now */
static void env_save_done(void *arg, int ok, const char *err)
{
	struct env_saving *sv = arg;
	struct renv *e = sv->e;

	if (!ok)
		log_error("save the state of '%s': %s", e->name, err);
	if (--e->saving == 0 && e->fwd_wait) {
		e->fwd_wait = 0;
		env_forwarded(sv->rd, e);
	} else if (e->saving == 0)
		env_kick(sv->rd, e);	/* the scheduler passed it over */
	free(sv);
}

/* env_save - write e's docket in t (or a transaction of its own) */
void env_save(struct relayd *rd, struct renv *e, struct spool_txn *t)
{
	struct buf b = BUF_INIT(1024 * 1024);
	char    key[SPOOL_NAMELEN + 8], esc[1200];
	size_t  i;
	int     own = t == NULL;

	str_escape(esc, sizeof(esc), env_error(e), strlen(env_error(e)));
	buf_printf(&b, "attempts %u\nnext %lld\nwarned %d\nerror %s\nfinished %d\n",
	    e->attempts, (long long) e->next_try, e->warned, esc, e->fwd_done);
	if (e->copy)
		buf_printf(&b, "copy %u %llu %08lx %llu\n", e->tid,
		    (unsigned long long) e->size, (unsigned long) e->crc,
		    (unsigned long long) e->hoff);
	if (e->have_dk)
		buf_printf(&b, "dk %u %lu %lu %llu %d\n", e->dk->mode,
		    (unsigned long) e->dk->mark_interval, (unsigned long) e->dk->mark,
		    (unsigned long long) e->dk->offset, e->dk->data_done);
	if (e->remote)
		buf_printf(&b, "remote %s\n", e->remote);
	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].done)
			buf_printf(&b, "done %zu\n", i);
	env_key(e, key, sizeof(key));
	if (own)
		t = spool_txn_new(rd->sp);
	spool_txn_docket_put(t, key, buf_data(&b), b.len);
	buf_release(&b);
	if (own) {
		struct env_saving *sv = xcalloc(1, sizeof(*sv));

		sv->rd = rd;
		sv->e = e;
		e->saving++;
		spool_txn_submit(t, env_save_done, sv);
	}
}

/* env_load_docket - apply the docket of e, if any */
static void env_load_docket(struct relayd *rd, struct renv *e)
{
	char    key[SPOOL_NAMELEN + 8], err[SPOOL_ERRLEN];
	char   *text, *line, *next;
	size_t  len;
	unsigned long long a, b2, c, d;
	unsigned long m1, m2;
	unsigned u1;
	int     i1;
	long long ll;

	env_key(e, key, sizeof(key));
	if ((text = spool_docket_get(rd->sp, key, &len, NULL, err, sizeof(err))) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", err);
		return;
	}
	for (line = text; line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (sscanf(line, "attempts %u", &u1) == 1)
			e->attempts = u1;
		else if (sscanf(line, "next %lld", &ll) == 1)
			e->next_try = (time_t) ll;
		else if (sscanf(line, "warned %d", &i1) == 1)
			e->warned = i1;
		else if (sscanf(line, "finished %d", &i1) == 1)
			e->fwd_done = i1;
		else if (strncmp(line, "error ", 6) == 0)
			env_set_str(&e->error, line + 6);
		else if (sscanf(line, "copy %u %llu %lx %llu", &u1, &a, &m1, &b2) == 4) {
			e->copy = 1;
			e->tid = (uint16_t) u1;
			e->size = a;
			e->crc = (uint32_t) m1;
			e->hoff = b2;
		} else if (sscanf(line, "dk %u %lu %lu %llu %d", &u1, &m1, &m2, &c, &i1) == 5) {
			struct niftp_docket dk;

			memset(&dk, 0, sizeof(dk));
			dk.tid = e->tid;
			dk.mode = (uint16_t) u1;
			dk.mark_interval = (uint32_t) m1;
			dk.mark = (uint32_t) m2;
			dk.offset = c;
			dk.data_done = i1;
			env_set_dk(e, &dk);
		} else if (strncmp(line, "remote ", 7) == 0)
			env_set_str(&e->remote, line + 7);
		else if (sscanf(line, "done %llu", &d) == 1 && d < e->nrcpts)
			e->rcpts[d].done = 1;
	}
	if (e->have_dk)
		e->dk->tid = e->tid;
	free(text);
}

/* --- notices -------------------------------------------------------------- */

/* notice_addressee - where a notice about a letter goes; new memory or NULL */
static char *notice_addressee(struct relayd *rd, const struct hdr *h, const char *calling,
	const char *owner)
{
	struct addr *a, *rp;
	struct route_result *r;
	char    err[ADDR_ERRLEN];
	char   *s = NULL;
	size_t  i;
	int     ok = 0;

	if (owner != NULL)
		return xstrdup(owner);
	if (h == NULL || (a = hdr_originator(h, err, sizeof(err))) == NULL)
		return NULL;
	r = route_resolve(rd->conf->routes, a, 0);
	for (i = 0; i < route_result_count(r); i++)
		if (route_result_get(r, i)->kind != ROUTE_FAIL)
			ok = 1;
	route_result_free(r);
	if (ok)
		s = addr_to_str(a);
	else if ((rp = hdr_return_path(h, calling, err, sizeof(err))) != NULL) {
		s = addr_to_str(rp);
		addr_free(rp);
	}
	addr_free(a);
	return s;
}

/* add_notice - compose a notice letter about letter and commit it to
 * in/ in t with its received line; name gets its spool name. 0, or -1
 * (no addressee, or the notice could not be written: logged) */
static int add_notice(struct relayd *rd, struct spool_txn *t, enum notice_kind kind,
	const char *letter, const struct hdr *h, int fd, uint64_t body_off, const char *to,
	const struct notice_item *items, size_t n, time_t since, char *name, size_t len)
{
	struct notice no;
	struct buf b = BUF_INIT(NOTICE_MAX);
	struct spool_file *f;
	char    err[SPOOL_ERRLEN], from[SPOOL_NAMELEN + 16], sz[32], msgid[SPOOL_NAMELEN + 80];
	const char *kv[10];

	memset(&no, 0, sizeof(no));
	if ((f = spool_create(rd->sp, NULL, err, sizeof(err))) == NULL) {
		log_error("notice about '%s': %s", letter, err);
		return -1;
	}
	no.kind = kind;
	no.node = rd->conf->name;
	no.letter = letter;
	no.to = to;
	no.id = spool_file_name(f);
	no.when = time(NULL);
	no.since = since;
	no.give_up = since ? since + (time_t) (rd->conf->give_up_ms / 1000) : 0;
	no.items = items;
	no.nitems = n;
	no.hdr = h;
	no.body_fd = fd;
	no.body_off = body_off;
	if (notice_format(&b, &no, err, sizeof(err)) < 0
	    || spool_write(f, buf_data(&b), b.len, err, sizeof(err)) < 0) {
		log_error("%s", err);
		buf_release(&b);
		spool_file_abort(f);
		return -1;
	}
	str_copy(name, spool_file_name(f), len);
	snprintf(from, sizeof(from), "notice:%s", letter);
	snprintf(sz, sizeof(sz), "%zu", b.len);
	snprintf(msgid, sizeof(msgid), "<%s@%s>", name, rd->conf->name);
	kv[0] = "from";
	kv[1] = from;
	kv[2] = "calling";
	kv[3] = "-";
	kv[4] = "size";
	kv[5] = sz;
	kv[6] = "rcpts";
	kv[7] = to;
	kv[8] = "msgid";
	kv[9] = msgid;
	spool_txn_journal(t, "received", name, kv, 5);
	spool_txn_commit(t, f, SPOOL_IN);
	buf_release(&b);
	return 0;
}

/* A batch of failures to report about one letter. */
struct failset {
	struct notice_item *items;
	char  **owners;		/* per item: the list owner (errors go there) or NULL */
	size_t	n;
};

#define NOTICES_MAX	8	/* NDNs about one letter at one time (owners + sender) */

static void failset_add(struct failset *fs, const char *rcpt, const char *reason,
	const char *owner)
{
	fs->items = xrealloc(fs->items, sizeof(*fs->items) * (fs->n + 1));
	fs->owners = xrealloc(fs->owners, sizeof(*fs->owners) * (fs->n + 1));
	fs->items[fs->n].rcpt = xstrdup(rcpt);
	fs->items[fs->n].reason = reason ? xstrdup(reason) : NULL;
	fs->owners[fs->n] = owner ? xstrdup(owner) : NULL;
	fs->n++;
}

static void failset_free(struct failset *fs)
{
	size_t  i;

	for (i = 0; i < fs->n; i++) {
		free((char *) fs->items[i].rcpt);
		free((char *) fs->items[i].reason);
		free(fs->owners[i]);
	}
	free(fs->items);
	free(fs->owners);
	memset(fs, 0, sizeof(*fs));
}

/* failset_add_rcpt - r failed: a member of a list is named as itself
 * with the list it came from ("ADDR (list LIST)"), so the owner sees
 * which member failed */
static void failset_add_rcpt(struct failset *fs, const struct rrcpt *r, const char *reason,
	int with_owner)
{
	char   *label = NULL;

	if (r->owner != NULL && r->addr != NULL && strcasecmp(r->addr, r->orig) != 0)
		label = xasprintf("%s (list %s)", r->addr, r->orig);
	failset_add(fs, label ? label : r->orig, reason, with_owner ? r->owner : NULL);
	free(label);
}

/* same_owner - both NULL, or the same address (case-insensitively) */
static int same_owner(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcasecmp(a, b) == 0;
}

/* report_failures - journal failed lines and add NDNs (or the dead
 * marker) to t: one NDN per list owner for the recipients that came
 * from that owner's list, one to the originator for the others
 * (Grapevine: errors of a list go to its owner). Returns the notice
 * names in notice, separated by spaces (empty if none), and sets *dead
 * when some failures cannot be returned. */
static void report_failures(struct relayd *rd, struct spool_txn *t, const char *letter,
	const char *to_hop, const struct hdr *h, int fd, uint64_t body_off, const char *calling,
	struct failset *fs, char *notice, size_t nlen, int *dead, char *dead_reason,
	size_t drlen, const char *by)
{
	const char *kv[8];
	char   *to;
	size_t  i;

	notice[0] = '\0';
	for (i = 0; i < fs->n; i++) {
		if (fs->items[i].reason == NULL)
			continue;
		kv[0] = "rcpt";
		kv[1] = fs->items[i].rcpt;
		kv[2] = "reason";
		kv[3] = fs->items[i].reason;
		kv[4] = "to";
		kv[5] = to_hop;
		kv[6] = "by";
		kv[7] = by;
		spool_txn_journal(t, "failed", letter, kv, by ? 4 : 3);
	}
	if (fs->n == 0)
		return;
	if (notice_is_notice(h)) {
		*dead = 1;
		snprintf(dead_reason, drlen, "failed notice: %s: %s", fs->items[0].rcpt,
		    fs->items[0].reason ? fs->items[0].reason : "");
		return;
	}
	{
		struct notice_item *grp = xcalloc(fs->n, sizeof(*grp));
		char   *done = xcalloc(fs->n, 1);
		char    one[SPOOL_NAMELEN];
		size_t  g, ng, nnotices = 0, used = 0;
		const char *owner;

		for (g = 0; g < fs->n; g++) {
			if (done[g])
				continue;
			/* the group of g's owner (past NOTICES_MAX: all to the sender) */
			owner = nnotices + 1 < NOTICES_MAX ? fs->owners[g] : NULL;
			for (ng = 0, i = g; i < fs->n; i++)
				if (!done[i] && (same_owner(fs->owners[i], owner)
				    || nnotices + 1 >= NOTICES_MAX)) {
					grp[ng++] = fs->items[i];
					done[i] = 1;
				}
			if (ng == 0)
				continue;
			to = notice_addressee(rd, h, calling, owner);
			if (to == NULL || add_notice(rd, t, NOTICE_NDN, letter, h, fd, body_off, to,
			    grp, ng, 0, one, sizeof(one)) < 0) {
				*dead = 1;
				snprintf(dead_reason, drlen, "no return address for a non-delivery "
				    "notice: %s: %s", grp[0].rcpt, grp[0].reason ? grp[0].reason : "");
				free(to);
				continue;
			}
			nnotices++;
			kv[0] = "notice";
			kv[1] = one;
			kv[2] = "to";
			kv[3] = to;
			kv[4] = "by";
			kv[5] = by;
			spool_txn_journal(t, "ndn", letter, kv, by ? 3 : 2);
			free(to);
			if (used + strlen(one) + 2 <= nlen) {
				if (used)
					notice[used++] = ' ';
				used += str_copy(notice + used, one, nlen - used);
			} else
				log_error("notice '%s' about '%s': no room to route it now "
				    "(routed at the next start)", one, letter);
		}
		free(grp);
		free(done);
	}
}

/* add_dead_marker - queue/NAME_d in t */
static void add_dead_marker(struct relayd *rd, struct spool_txn *t, struct rletter *l,
	const char *reason)
{
	char    mname[SPOOL_NAMELEN + 8], err[SPOOL_ERRLEN];
	struct spool_file *f;

	if (l->dead)
		return;
	snprintf(mname, sizeof(mname), "%s_d", l->name);
	if ((f = spool_create(rd->sp, mname, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return;
	}
	if (spool_write(f, reason, strlen(reason), err, sizeof(err)) < 0) {
		log_error("%s", err);
		spool_file_abort(f);
		return;
	}
	spool_txn_commit(t, f, SPOOL_QUEUE);
	l->dead = 1;
	env_set_str(&l->dead_reason, reason);
}

/* --- routing a letter in in/ ---------------------------------------------- */

struct route_ctx {
	struct relayd *rd;
	char	name[SPOOL_NAMELEN];
	struct renv **envs;
	size_t	nenvs;
	char	notice[NOTICES_MAX * SPOOL_NAMELEN];	/* names, space-separated */
	int	dead;
};

static void route_done(void *arg, int ok, const char *err)
{
	struct route_ctx *rc = arg;
	struct relayd *rd = rc->rd;
	struct rletter *l;
	size_t  i;

	if (!ok) {
		log_error("route '%s': %s (will try again at the next start)", rc->name, err);
		for (i = 0; i < rc->nenvs; i++)
			env_free(rc->envs[i]);
	} else if (rc->nenvs > 0) {
		l = letter_add(rd, rc->name);
		for (i = 0; i < rc->nenvs; i++) {
			rc->envs[i]->l = l;
			l->nenv++;
			env_link(rd, rc->envs[i]);
			env_kick(rd, rc->envs[i]);
		}
	}
	if (ok && rc->notice[0]) {
		char   *p, *next;

		for (p = rc->notice; p != NULL && *p; p = next) {
			if ((next = strchr(p, ' ')) != NULL)
				*next++ = '\0';
			relayd_route_letter(rd, p);
		}
	}
	free(rc->envs);
	free(rc);
}

/* commit_env - write e's file and add it to t */
static int commit_env(struct relayd *rd, struct spool_txn *t, struct renv *e,
	const char *letter, const char *calling)
{
	struct buf b = BUF_INIT(ENV_FILE_MAX);
	struct spool_file *f;
	char    err[SPOOL_ERRLEN];

	if (env_file_text(e, letter, calling, &b) < 0) {
		log_error("envelope '%s': too large", e->name);
		buf_release(&b);
		return -1;
	}
	if ((f = spool_create(rd->sp, e->name, err, sizeof(err))) == NULL
	    || spool_write(f, buf_data(&b), b.len, err, sizeof(err)) < 0) {
		log_error("envelope: %s", err);
		if (f)
			spool_file_abort(f);
		buf_release(&b);
		return -1;
	}
	buf_release(&b);
	spool_txn_commit(t, f, SPOOL_QUEUE);
	return 0;
}

/* calling_of - the calling address journalled for in/NAME (best effort:
 * the letter's received line is not at hand, so the first Via: host) */
static void calling_of(const struct hdr *h, char *dst, size_t len)
{
	char  **v = hdr_via_hosts(h, NULL);

	dst[0] = '\0';
	if (v != NULL && v[0] != NULL)
		str_copy(dst, v[0], len);
	hdr_strv_free(v);
}

/* relayd_route_letter - route in/NAME */
void relayd_route_letter(struct relayd *rd, const char *name)
{
	struct route_result **res = NULL;
	struct route_group *groups = NULL;
	struct route_ctx *rc;
	struct spool_txn *t;
	struct letter *lt;
	struct pread_ctx ctx;
	struct failset fs;
	const struct addr_list *al;
	const struct hdr *h;
	struct renv *loc = NULL;
	enum letter_status st;
	char    err[LETTER_ERRLEN], hs[80], calling[300], dead_reason[600];
	struct buf hops = BUF_INIT(64 * 1024);
	size_t  n, i, j, ng = 0;
	unsigned via;
	int     fd;
	time_t  now = time(NULL);
	const char *kv[6];
	char   *rcpts;

	if (rd->stdio_mode)
		return;
	memset(&fs, 0, sizeof(fs));
	if ((lt = open_stored(rd, SPOOL_IN, name, &fd, &ctx, &st, err, sizeof(err))) == NULL) {
		if (st == LETTER_EIO) {
			log_error("route '%s': %s", name, err);
			return;
		}
		log_error("route '%s': malformed: %s (moved to corrupt/)", name, err);
		t = spool_txn_new(rd->sp);
		spool_txn_move(t, name, SPOOL_IN, SPOOL_CORRUPT, NULL);
		kv[0] = "from";
		kv[1] = "in";
		kv[2] = "reason";
		kv[3] = err;
		spool_txn_journal(t, "corrupt", name, kv, 2);
		spool_txn_submit(t, NULL, NULL);
		return;
	}
	rc = xcalloc(1, sizeof(*rc));
	rc->rd = rd;
	str_copy(rc->name, name, sizeof(rc->name));
	al = letter_rcpts(lt);
	h = letter_hdr(lt);
	calling_of(h, calling, sizeof(calling));
	via = (unsigned) hdr_via_count(h);
	n = addr_list_count(al);
	res = xcalloc(n ? n : 1, sizeof(*res));
	for (i = 0; i < n; i++)
		res[i] = route_resolve(rd->conf->routes, addr_list_get(al, i), via);

	t = spool_txn_new(rd->sp);
	/* local targets: one envelope */
	for (i = 0; i < n; i++)
		for (j = 0; j < route_result_count(res[i]); j++) {
			const struct route_target *tg = route_result_get(res[i], j);
			size_t  k;
			int     dup = 0;

			if (tg->kind == ROUTE_FAIL) {
				failset_add(&fs, route_result_rcpt(res[i]), tg->reason, tg->owner);
				continue;
			}
			if (tg->kind != ROUTE_LOCAL)
				continue;
			if (loc == NULL) {
				loc = xcalloc(1, sizeof(*loc));
				loc->local = 1;
				loc->hop = xstrdup("local");
				loc->name = xasprintf("%s_l", name);
				loc->first = now;
				loc->next_try = now;
			}
			for (k = 0; k < loc->nrcpts; k++)
				if (strcmp(loc->rcpts[k].mailbox, tg->mailbox) == 0)
					dup = 1;
			if (!dup)
				env_add_rcpt(loc, tg->text, route_result_rcpt(res[i]), tg->owner,
				    tg->mailbox);
		}
	if (loc != NULL) {
		if (commit_env(rd, t, loc, name, calling) < 0)
			goto fail;
		rc->envs = xrealloc(rc->envs, sizeof(*rc->envs) * (rc->nenvs + 1));
		rc->envs[rc->nenvs++] = loc;
		buf_printf(&hops, "local");
		loc = NULL;
	}
	groups = route_group(res, n, &ng);
	for (i = 0; i < ng; i++) {
		struct renv *e = xcalloc(1, sizeof(*e));

		e->hop = xstrdup(groups[i].hop->name);
		hop_safe(e->hop, hs, sizeof(hs));
		e->name = xasprintf("%s_f_%s", name, hs);
		e->first = now;
		e->next_try = now;
		for (j = 0; j < groups[i].n; j++)
			env_add_rcpt(e, groups[i].targets[j]->text,
			    route_result_rcpt(res[groups[i].rcpt[j]]), groups[i].targets[j]->owner,
			    NULL);
		if (commit_env(rd, t, e, name, calling) < 0) {
			env_free(e);
			goto fail;
		}
		rc->envs = xrealloc(rc->envs, sizeof(*rc->envs) * (rc->nenvs + 1));
		rc->envs[rc->nenvs++] = e;
		buf_printf(&hops, "%s%s", hops.len ? "," : "", e->hop);
	}
	dead_reason[0] = '\0';
	report_failures(rd, t, name, "-", h, fd, letter_body_offset(lt), calling, &fs,
	    rc->notice, sizeof(rc->notice), &rc->dead, dead_reason, sizeof(dead_reason), NULL);
	{
		struct renv tmp;

		memset(&tmp, 0, sizeof(tmp));
		for (i = 0; i < n; i++) {
			char   *s = addr_to_str(addr_list_get(al, i));

			env_add_rcpt(&tmp, s, NULL, NULL, NULL);
			free(s);
		}
		rcpts = env_rcpts_text(&tmp);
		for (i = 0; i < tmp.nrcpts; i++) {
			free(tmp.rcpts[i].addr);	/* orig is addr */
		}
		free(tmp.rcpts);
	}
	kv[0] = "rcpts";
	kv[1] = rcpts;
	kv[2] = "hops";
	kv[3] = buf_cstr(&hops) && hops.len ? buf_cstr(&hops) : "-";
	spool_txn_journal(t, "routed", name, kv, 2);
	free(rcpts);
	if (rc->nenvs > 0) {
		if (rc->dead) {
			struct rletter *l = letter_add(rd, name);

			add_dead_marker(rd, t, l, dead_reason);
		}
		spool_txn_move(t, name, SPOOL_IN, SPOOL_QUEUE, NULL);
	} else if (rc->dead) {
		spool_txn_move(t, name, SPOOL_IN, SPOOL_DEAD, NULL);
		kv[0] = "reason";
		kv[1] = dead_reason;
		spool_txn_journal(t, "dead", name, kv, 1);
	} else
		spool_txn_remove(t, SPOOL_IN, name);
	crash_point("relay-after-route-before-commit");
	spool_txn_submit(t, route_done, rc);
	rc = NULL;
	goto out;
fail:
	spool_txn_abort(t);
	if (loc)
		env_free(loc);
	for (i = 0; rc && i < rc->nenvs; i++)
		env_free(rc->envs[i]);
	if (rc) {
		free(rc->envs);
		free(rc);
	}
	log_error("route '%s': could not write its envelopes; left in in/", name);
out:
	route_groups_free(groups, ng);
	for (i = 0; i < n; i++)
		route_result_free(res[i]);
	free(res);
	failset_free(&fs);
	buf_release(&hops);
	letter_free(lt);
	close(fd);
}

/* --- leaving the queue --------------------------------------------------- */

static void env_removed(void *arg, int ok, const char *err)
{
	struct env_saving *sv = arg;
	struct renv *e = sv->e;

	/* the envelope is gone from memory already; on failure its files
	 * stay and are found again at the next start (its transfer id
	 * stays held: its docket may be unresolved) */
	if (!ok)
		log_error("remove envelope: %s", err);
	else if (e->copy)
		relayd_fwd_release(sv->rd, e->hop, e->tid);
	env_free(e);
	free(sv);
}

/* env_remove_ops - add to t the removal of e's files and docket and,
 * with the last envelope, of the letter (or its move to dead/); e is
 * taken out of the queue in memory */
static void env_remove_ops(struct relayd *rd, struct renv *e, struct spool_txn *t)
{
	struct rletter *l = e->l;
	char    key[SPOOL_NAMELEN + 8], pname[SPOOL_NAMELEN * 2], hs[80];
	const char *kv[2];

	/* Order matters for a crash in the middle of the apply step (removes
	 * are not undone and the journal lines come last): the envelope goes
	 * first (the copy is done), the prefix last, so a prefix without its
	 * envelope tells relayd_queue_start() that the lines may be missing
	 * (it journals them again from the docket, removed just before). */
	env_unlink(rd, e);
	spool_txn_remove(t, SPOOL_QUEUE, e->name);
	if (l != NULL && --l->nenv <= 0) {
		if (l->dead) {
			snprintf(pname, sizeof(pname), "%s_d", l->name);
			spool_txn_remove(t, SPOOL_QUEUE, pname);
			spool_txn_move(t, l->name, SPOOL_QUEUE, SPOOL_DEAD, NULL);
			kv[0] = "reason";
			kv[1] = l->dead_reason ? l->dead_reason : "undeliverable";
			spool_txn_journal(t, "dead", l->name, kv, 1);
		} else
			spool_txn_remove(t, SPOOL_QUEUE, l->name);
	}
	env_key(e, key, sizeof(key));
	spool_txn_docket_del(t, key);
	if (e->copy && l != NULL) {
		hop_safe(e->hop, hs, sizeof(hs));
		snprintf(pname, sizeof(pname), "%s_p_%s", l->name, hs);
		if (spool_exists(rd->sp, SPOOL_QUEUE, pname))
			spool_txn_remove(t, SPOOL_QUEUE, pname);
	}
	if (l != NULL && l->nenv <= 0)
		letter_del(rd, l);
	e->l = NULL;
}

/* env_remove - phase two: remove the envelope's files and docket; with
 * the last envelope, the letter */
static void env_remove(struct relayd *rd, struct renv *e)
{
	struct spool_txn *t = spool_txn_new(rd->sp);
	struct env_saving *sv = xcalloc(1, sizeof(*sv));

	sv->rd = rd;
	sv->e = e;
	env_remove_ops(rd, e, t);
	spool_txn_submit(t, env_removed, sv);
}

static void env_phase1_done(void *arg, int ok, const char *err)
{
	struct env_saving *sv = arg;
	struct renv *e = sv->e;

	e->busy = 0;
	if (!ok) {
		log_error("finish envelope '%s': %s (will try again)", e->name, err);
		e->finishing = 0;
		e->fwd_done = 0;
		free(sv);
		return;
	}
	/* phase two: at the next loop turn */
	e->fwd_done = 1;
	env_kick(sv->rd, e);
	free(sv);
}

/* env_finish - submit phase one (journal lines already in t) */
static void env_finish(struct relayd *rd, struct renv *e, struct spool_txn *t)
{
	struct env_saving *sv = xcalloc(1, sizeof(*sv));

	sv->rd = rd;
	sv->e = e;
	envq_del(e);
	e->finishing = 1;
	e->busy = 1;
	e->fwd_done = 1;
	env_save(rd, e, t);
	spool_txn_submit(t, env_phase1_done, sv);
}

static void env_forwarded_done(void *arg, int ok, const char *err)
{
	struct env_saving *sv = arg;
	struct renv *e = sv->e;

	/* e left the queue in memory when the transaction was built. On
	 * failure what is left on disk is found at the next start: an
	 * envelope still there resumes with mark 0xFFFF and the next hop
	 * answers with the same name (nothing is sent twice). */
	if (!ok)
		log_error("forwarded '%s': %s (resolved at the next start)", e->name, err);
	else if (e->copy)
		relayd_fwd_release(sv->rd, e->hop, e->tid);	/* docket resolved */
	env_free(e);
	free(sv);
}

/* env_forwarded - STOPACK for e: the forwarded line and the removal of
 * the envelope, its prefix and docket (and, with the last envelope, of
 * the letter) are ONE transaction, so they are durable together */
void env_forwarded(struct relayd *rd, struct renv *e)
{
	struct spool_txn *t;
	struct env_saving *sv;
	char    tid[16];
	char   *rcpts;
	const char *kv[10];

	if (e->saving > 0) {
		/* a docket save is in flight: it must not land after the
		 * removal (it would bring the docket back) */
		e->fwd_wait = 1;
		e->busy = 1;
		e->finishing = 1;
		return;
	}
	t = spool_txn_new(rd->sp);
	rcpts = env_rcpts_text(e);

	snprintf(tid, sizeof(tid), "%u", e->tid);
	kv[0] = "to";
	kv[1] = e->hop;
	kv[2] = "addr";
	kv[3] = e->via_addr ? e->via_addr : "-";
	kv[4] = "remote";
	kv[5] = e->remote ? e->remote : "-";
	kv[6] = "tid";
	kv[7] = tid;
	kv[8] = "rcpts";
	kv[9] = rcpts;
	spool_txn_journal(t, "forwarded", e->l ? e->l->name : "-", kv, 5);
	free(rcpts);
	e->finishing = 1;
	e->busy = 1;
	env_remove_ops(rd, e, t);
	sv = xcalloc(1, sizeof(*sv));
	sv->rd = rd;
	sv->e = e;
	spool_txn_submit(t, env_forwarded_done, sv);
}

/* env_deferred - a try failed temporarily */
void env_deferred(struct relayd *rd, struct renv *e, const char *reason)
{
	struct spool_txn *t = spool_txn_new(rd->sp);
	char    next[32], att[16];
	const char *kv[8];
	int64_t ms;

	e->attempts++;
	ms = conf_backoff_ms(rd->conf, e->attempts);
	e->next_try = time(NULL) + (time_t) ((ms + 999) / 1000);
	env_set_str(&e->error, reason && *reason ? reason : "temporary failure");
	str_iso8601(e->next_try, next, sizeof(next));
	snprintf(att, sizeof(att), "%u", e->attempts);
	kv[0] = "to";
	kv[1] = e->hop;
	kv[2] = "reason";
	kv[3] = env_error(e);
	kv[4] = "next";
	kv[5] = next;
	kv[6] = "attempts";
	kv[7] = att;
	spool_txn_journal(t, "deferred", e->l ? e->l->name : "-", kv, 4);
	env_save(rd, e, t);
	spool_txn_submit(t, NULL, NULL);
	e->busy = 0;
	envq_del(e);
}

/* env_fail_some - recipients of e (those with fail[i]) failed; the rest
 * (if any) are done; finish e. items: reasons per recipient. */
static void env_fail_list(struct relayd *rd, struct renv *e, struct spool_txn *t,
	struct failset *fs)
{
	struct letter *lt;
	struct pread_ctx ctx;
	enum letter_status st;
	char    err[LETTER_ERRLEN], notice[NOTICES_MAX * SPOOL_NAMELEN], dr[600];
	int     fd = -1, dead = 0;
	const struct hdr *h = NULL;
	uint64_t boff = 0;

	lt = open_stored(rd, SPOOL_QUEUE, e->l->name, &fd, &ctx, &st, err, sizeof(err));
	if (lt != NULL) {
		h = letter_hdr(lt);
		boff = letter_body_offset(lt);
	}
	notice[0] = '\0';
	dr[0] = '\0';
	report_failures(rd, t, e->l->name, e->hop, h, fd, boff, e->l->calling ? e->l->calling : "", fs, notice,
	    sizeof(notice), &dead, dr, sizeof(dr), NULL);
	if (dead)
		add_dead_marker(rd, t, e->l, dr);
	if (lt)
		letter_free(lt);
	if (fd >= 0)
		close(fd);
	if (notice[0]) {
		/* route the notices once durable: poke via the scheduler */
		char   *p, *next;

		for (p = notice; p != NULL && *p; p = next) {
			if ((next = strchr(p, ' ')) != NULL)
				*next++ = '\0';
			notice_later(rd, p);
		}
	}
}

/* env_failed - every recipient of e failed permanently */
void env_failed(struct relayd *rd, struct renv *e, const char *reason)
{
	struct spool_txn *t = spool_txn_new(rd->sp);
	struct failset fs;
	size_t  i;

	memset(&fs, 0, sizeof(fs));
	for (i = 0; i < e->nrcpts; i++)
		if (!e->rcpts[i].done)
			failset_add_rcpt(&fs, &e->rcpts[i], reason, 1);
	env_fail_list(rd, e, t, &fs);
	failset_free(&fs);
	env_finish(rd, e, t);
}

/* --- local delivery ------------------------------------------------------ */

struct local_job {
	struct relayd *rd;
	struct renv *e;
	char	letter[SPOOL_NAMELEN];
	char	letter_path[PATH_MAX];
	size_t	n;
	char  **maildir;
	int    *known;
	int    *skip;
	enum ch_local_status *st;
	char  **path;
	char  **err;
	uint64_t hoff;
};

static void local_work(void *arg)
{
	struct local_job *j = arg;
	struct letter *lt;
	char    err[LETTER_ERRLEN], path[PATH_MAX];
	size_t  i;
	int     fd;

	fd = open(j->letter_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		for (i = 0; i < j->n; i++) {
			j->st[i] = CH_LOCAL_TEMP;
			j->err[i] = xasprintf("open '%s': %s", j->letter_path, strerror(errno));
		}
		return;
	}
	if ((lt = letter_open_fd(fd, NULL, err, sizeof(err))) == NULL) {
		for (i = 0; i < j->n; i++) {
			j->st[i] = CH_LOCAL_TEMP;
			j->err[i] = xasprintf("read '%s': %s", j->letter_path, err);
		}
		close(fd);
		return;
	}
	j->hoff = letter_hdr_offset(lt);
	letter_free(lt);
	for (i = 0; i < j->n; i++) {
		if (j->skip[i])
			continue;
		err[0] = '\0';
		path[0] = '\0';
		j->st[i] = ch_local_deliver(j->maildir[i], j->known[i], j->letter, fd, j->hoff,
		    path, sizeof(path), err, sizeof(err));
		j->path[i] = xstrdup(path);
		j->err[i] = xstrdup(err);
	}
	close(fd);
}

static void local_done(void *arg)
{
	struct local_job *j = arg;
	struct relayd *rd = j->rd;
	struct renv *e = j->e;
	struct spool_txn *t = spool_txn_new(rd->sp);
	struct failset fs, acks;
	const char *kv[4];
	char   *temp = NULL;
	size_t  i;

	relayd_job(rd, -1);
	memset(&fs, 0, sizeof(fs));
	memset(&acks, 0, sizeof(acks));
	for (i = 0; i < j->n; i++) {
		if (j->skip[i])
			continue;
		switch (j->st[i]) {
		case CH_LOCAL_OK:
		case CH_LOCAL_ALREADY:
			kv[0] = "rcpt";
			kv[1] = e->rcpts[i].orig;
			kv[2] = "mailbox";
			kv[3] = j->path[i];
			spool_txn_journal(t, "delivered", e->l->name, kv, 2);
			e->rcpts[i].done = 1;
			failset_add(&acks, e->rcpts[i].orig, NULL, NULL);
			break;
		case CH_LOCAL_PERM:
			failset_add_rcpt(&fs, &e->rcpts[i], j->err[i], 1);
			failset_add_rcpt(&acks, &e->rcpts[i], j->err[i], 0);
			e->rcpts[i].done = 1;
			break;
		default:
			if (temp == NULL)
				temp = xstrdup(j->err[i] ? j->err[i] : "temporary failure");
			log_warn("deliver '%s' to '%s': %s", e->l->name, e->rcpts[i].orig,
			    j->err[i] ? j->err[i] : "");
			break;
		}
	}
	if (fs.n > 0)
		env_fail_list(rd, e, t, &fs);
	/* Acknowledge-To: the final server acknowledges (once all is decided) */
	if (temp == NULL && acks.n > 0) {
		struct letter *lt;
		struct pread_ctx ctx;
		enum letter_status st;
		char    err[LETTER_ERRLEN], nn[SPOOL_NAMELEN];
		struct addr *a;
		int     fd;

		lt = open_stored(rd, SPOOL_QUEUE, e->l->name, &fd, &ctx, &st, err, sizeof(err));
		if (lt != NULL && !notice_is_notice(letter_hdr(lt))
		    && hdr_find(letter_hdr(lt), HDR_ACK_TO, 0) >= 0
		    && (a = hdr_mailbox(letter_hdr(lt), HDR_ACK_TO, err, sizeof(err))) != NULL) {
			char   *to = addr_to_str(a);

			if (add_notice(rd, t, NOTICE_ACK, e->l->name, letter_hdr(lt), fd,
			    letter_body_offset(lt), to, acks.items, acks.n, 0, nn, sizeof(nn)) == 0) {
				kv[0] = "notice";
				kv[1] = nn;
				kv[2] = "to";
				kv[3] = to;
				spool_txn_journal(t, "ack", e->l->name, kv, 2);
				notice_later(rd, nn);
			}
			free(to);
			addr_free(a);
		}
		if (lt) {
			letter_free(lt);
			close(fd);
		}
	}
	if (temp != NULL) {
		/* the delivered and failed ones are recorded in the docket */
		spool_txn_submit(t, NULL, NULL);
		t = NULL;
		env_deferred(rd, e, temp);
	} else
		env_finish(rd, e, t);
	free(temp);
	failset_free(&fs);
	failset_free(&acks);
	for (i = 0; i < j->n; i++) {
		free(j->maildir[i]);
		free(j->path[i]);
		free(j->err[i]);
	}
	free(j->maildir);
	free(j->known);
	free(j->skip);
	free(j->st);
	free(j->path);
	free(j->err);
	free(j);
}

static void local_start(struct relayd *rd, struct renv *e)
{
	struct local_job *j = xcalloc(1, sizeof(*j));
	char    md[PATH_MAX];
	size_t  i;

	j->rd = rd;
	j->e = e;
	j->n = e->nrcpts;
	str_copy(j->letter, e->l->name, sizeof(j->letter));
	spool_path(rd->sp, SPOOL_QUEUE, e->l->name, j->letter_path, sizeof(j->letter_path));
	j->maildir = xcalloc(j->n, sizeof(char *));
	j->known = xcalloc(j->n, sizeof(int));
	j->skip = xcalloc(j->n, sizeof(int));
	j->st = xcalloc(j->n, sizeof(*j->st));
	j->path = xcalloc(j->n, sizeof(char *));
	j->err = xcalloc(j->n, sizeof(char *));
	for (i = 0; i < j->n; i++) {
		const char *mb = e->rcpts[i].mailbox ? e->rcpts[i].mailbox : "";

		j->skip[i] = e->rcpts[i].done;
		if (conf_maildir(rd->conf, mb, md, sizeof(md)) >= sizeof(md))
			md[0] = '\0';
		j->maildir[i] = xstrdup(md);
		j->known[i] = route_table_user_known(rd->conf->routes, mb);
	}
	e->busy = 1;
	relayd_job(rd, 1);
	workq_submit(rd->wq, local_work, local_done, j);
}

/* --- warnings and give-up ------------------------------------------------- */

static void env_warn(struct relayd *rd, struct renv *e)
{
	struct spool_txn *t;
	struct letter *lt;
	struct pread_ctx ctx;
	enum letter_status st;
	struct failset fs;
	char    err[LETTER_ERRLEN], nn[SPOOL_NAMELEN];
	const char *kv[4];
	char   *to;
	size_t  i;
	int     fd;

	e->warned = 1;
	lt = open_stored(rd, SPOOL_QUEUE, e->l->name, &fd, &ctx, &st, err, sizeof(err));
	if (lt == NULL) {
		env_save(rd, e, NULL);
		return;
	}
	t = spool_txn_new(rd->sp);
	memset(&fs, 0, sizeof(fs));
	for (i = 0; i < e->nrcpts; i++)
		if (!e->rcpts[i].done)
			failset_add(&fs, e->rcpts[i].orig, e->error ? e->error : "not yet delivered",
			    NULL);
	if (!notice_is_notice(letter_hdr(lt))
	    && (to = notice_addressee(rd, letter_hdr(lt), e->l->calling ? e->l->calling : "", NULL)) != NULL) {
		if (add_notice(rd, t, NOTICE_WARN, e->l->name, letter_hdr(lt), fd,
		    letter_body_offset(lt), to, fs.items, fs.n, e->first, nn, sizeof(nn)) == 0) {
			kv[0] = "to";
			kv[1] = to;
			kv[2] = "notice";
			kv[3] = nn;
			spool_txn_journal(t, "warned", e->l->name, kv, 2);
			notice_later(rd, nn);
		}
		free(to);
	}
	env_save(rd, e, t);
	spool_txn_submit(t, NULL, NULL);
	failset_free(&fs);
	letter_free(lt);
	close(fd);
}

/* --- the scheduler ------------------------------------------------------- */

/* The scheduler looks at every envelope once a second (give-up, warn,
 * retries that came due) and whenever relayd_schedule() asks, but at
 * most every SCHED_MIN_MS, so a long queue does not make each event
 * cost a pass over it. What must happen at once (a routed envelope to
 * start, a finished one to remove) is kicked: env_kick() puts it on the
 * soon list, which is worked on at the next loop turn. */

static void sched_tick(struct loop *loop, void *arg);
static void soon_tick(struct loop *loop, void *arg);

void relayd_schedule(struct relayd *rd)
{
	int64_t delay;

	if (rd->stdio_mode)
		return;
	if (rd->sched_timer != 0 && rd->sched_soon)
		return;
	if (rd->sched_timer != 0)
		loop_timer_del(rd->loop, rd->sched_timer);
	delay = rd->last_full + SCHED_MIN_MS - loop_now_ms();
	rd->sched_soon = 1;
	rd->sched_timer = loop_timer_add(rd->loop, delay > 0 ? delay : 0, sched_tick, rd);
}

/* env_kick - look at e at the next loop turn */
void env_kick(struct relayd *rd, struct renv *e)
{
	if (rd->stdio_mode)
		return;
	envq_add(&rd->soon, e);
	if (rd->soon_timer == 0)
		rd->soon_timer = loop_timer_add(rd->loop, 0, soon_tick, rd);
}

/* notice_later - route in/NAME (a notice being committed) once it is there */
static void notice_later(struct relayd *rd, const char *name)
{
	rd->notices = xrealloc(rd->notices, sizeof(char *) * (rd->nnotices + 1));
	rd->notices[rd->nnotices++] = xstrdup(name);
	if (!rd->stdio_mode && rd->soon_timer == 0)
		rd->soon_timer = loop_timer_add(rd->loop, 0, soon_tick, rd);
}

/* notices_route - notices waiting to be routed (their transaction is done
 * when the file is in in/) */
static void notices_route(struct relayd *rd)
{
	size_t  i, k = 0, n = rd->nnotices;
	char  **v = rd->notices;

	if (n == 0)
		return;
	rd->notices = NULL;
	rd->nnotices = 0;
	for (i = 0; i < n; i++) {
		if (spool_exists(rd->sp, SPOOL_IN, v[i])) {
			relayd_route_letter(rd, v[i]);
			free(v[i]);
		} else
			v[k++] = v[i];
	}
	/* still being committed: the completion of the transaction that
	 * wrote it kicks the queue, or the next full pass takes it */
	for (i = 0; i < k; i++) {
		rd->notices = xrealloc(rd->notices, sizeof(char *) * (rd->nnotices + 1));
		rd->notices[rd->nnotices++] = v[i];
	}
	free(v);
}

/* env_consider - start e if due, remove it if done, give up, warn */
static void env_consider(struct relayd *rd, struct renv *e, time_t now)
{
	if (e->busy || e->saving > 0)
		return;
	if (e->fwd_done) {
		env_remove(rd, e);
		return;
	}
	if (rd->stopping)
		return;
	if (rd->conf->give_up_ms > 0
	    && (int64_t) (now - e->first) * 1000 >= rd->conf->give_up_ms) {
		char    why[700];

		snprintf(why, sizeof(why), "gave up after %u attempts%s%s", e->attempts,
		    e->error ? ": " : "", env_error(e));
		envq_del(e);
		env_failed(rd, e, why);
		return;
	}
	if (!e->warned && e->attempts > 0 && rd->conf->warn_ms > 0
	    && (int64_t) (now - e->first) * 1000 >= rd->conf->warn_ms)
		env_warn(rd, e);
	if (e->next_try > now)
		return;
	if (e->local)
		local_start(rd, e);
	else
		(void) relayd_fwd_start(rd, e);
}

static void soon_tick(struct loop *loop, void *arg)
{
	struct relayd *rd = arg;
	struct renv *e;
	size_t  n = rd->soon.n;
	time_t  now = time(NULL);

	(void) loop;
	rd->soon_timer = 0;
	notices_route(rd);
	while (n-- > 0 && (e = rd->soon.head) != NULL) {
		envq_del(e);
		env_consider(rd, e, now);
	}
}

static void sched_tick(struct loop *loop, void *arg)
{
	struct relayd *rd = arg;
	struct renv *e, *next;
	time_t  now = time(NULL);

	(void) loop;
	rd->sched_timer = 0;
	rd->sched_soon = 0;
	rd->last_full = loop_now_ms();
	notices_route(rd);
	for (e = rd->envs; e != NULL; e = next) {
		next = e->next;
		env_consider(rd, e, now);
	}
	if (!rd->stopping && loop_now_ms() - rd->last_out_scan >= 1000)
		relayd_pickup(rd, 0);
	rd->sched_timer = loop_timer_add(rd->loop, SCHED_MS, sched_tick, rd);
}

/* retry_match - does envelope e answer a retry of name: NULL (all), a
 * letter or envelope name, or "hop:HOST" (every envelope for that next hop) */
static int retry_match(const struct renv *e, const char *name)
{
	if (e->l == NULL)
		return 0;
	if (name == NULL)
		return 1;
	if (strncmp(name, "hop:", 4) == 0)
		return e->hop != NULL && str_ieq(e->hop, name + 4);
	return strcmp(e->l->name, name) == 0 || strcmp(e->name, name) == 0;
}

/* relayd_retry - make envelopes due now */
int relayd_retry(struct relayd *rd, const char *name)
{
	struct renv *e;
	int     n = 0;

	for (e = rd->envs; e != NULL; e = e->next)
		if (retry_match(e, name)) {
			e->next_try = 0;
			n++;
		}
	relayd_schedule(rd);
	return n;
}

/* --- out/ pickup ------------------------------------------------------------ */

struct claim_ctx {
	struct relayd *rd;
	char	name[SPOOL_NAMELEN];
	int	corrupt;
	void	(*cb)(void *arg, int ok, const char *name, const char *err);
	void   *cb_arg;
};

static void claims_more(struct relayd *rd);

static void claim_done(void *arg, int ok, const char *err)
{
	struct claim_ctx *cc = arg;
	struct relayd *rd = cc->rd;

	if (ok && !cc->corrupt)
		relayd_route_letter(cc->rd, cc->name);
	if (cc->cb != NULL)
		cc->cb(cc->cb_arg, ok && !cc->corrupt, cc->name,
		    !ok ? err : cc->corrupt ? "malformed letter (moved to corrupt/)" : NULL);
	free(cc);
	rd->nclaims--;		/* the slot is held until the claim is durable */
	claims_more(rd);
}

/* received_kv - the received line's values from a letter head */
static void add_received(struct spool_txn *t, const char *name, const char *from,
	const char *calling, const char *tid, const char *donor, uint64_t size, uint32_t crc,
	struct letter *lt)
{
	const char *kv[16];
	char    sz[32], crcs[16];
	char   *msgid = hdr_get(letter_hdr(lt), HDR_MESSAGE_ID);
	struct renv tmp;
	char   *rcpts;
	size_t  i, k = 0;
	const struct addr_list *al = letter_rcpts(lt);

	memset(&tmp, 0, sizeof(tmp));
	for (i = 0; i < addr_list_count(al); i++) {
		char   *s = addr_to_str(addr_list_get(al, i));

		env_add_rcpt(&tmp, s, NULL, NULL, NULL);
		free(s);
	}
	rcpts = env_rcpts_text(&tmp);
	for (i = 0; i < tmp.nrcpts; i++) {
		free(tmp.rcpts[i].addr);	/* orig is addr */
	}
	free(tmp.rcpts);
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long) size);
	snprintf(crcs, sizeof(crcs), "%08lx", (unsigned long) crc);
	kv[k++] = "from";
	kv[k++] = from;
	kv[k++] = "calling";		/* "-" for drops and submissions */
	kv[k++] = calling && *calling ? calling : "-";
	if (tid) {
		kv[k++] = "tid";
		kv[k++] = tid;
	}
	if (donor) {
		kv[k++] = "donor";
		kv[k++] = donor;
	}
	kv[k++] = "size";
	kv[k++] = sz;
	kv[k++] = "crc32";
	kv[k++] = crcs;
	kv[k++] = "rcpts";
	kv[k++] = rcpts;
	kv[k++] = "msgid";
	kv[k++] = msgid ? msgid : "-";
	spool_txn_journal(t, "received", name, kv, k / 2);
	free(rcpts);
	free(msgid);
}


void relayd_received_line(struct spool_txn *t, const char *name, const char *from,
	const char *calling, const char *tid, const char *donor, uint64_t size, uint32_t crc,
	struct letter *lt)
{
	add_received(t, name, from, calling, tid, donor, size, crc, lt);
}


/* A claim asked for while CLAIMS_MAX are in flight: a name, not a job. */
struct claim_wait {
	char   *file;
	void	(*cb)(void *arg, int ok, const char *name, const char *err);
	void   *cb_arg;
};

/* claims_more - start claims that waited for a free slot */
static void claims_more(struct relayd *rd)
{
	char    err[RELAYD_ERRLEN];

	while (rd->nclaims < CLAIMS_MAX && rd->cpend_head < rd->cpend_n) {
		struct claim_wait w = rd->cpend[rd->cpend_head++];

		if (rd->stopping) {
			/* left in out/: taken at the next start */
			if (w.cb)
				w.cb(w.cb_arg, 0, NULL, "mail relay shutting down");
			free(w.file);
			continue;
		}
		if (relayd_claim(rd, w.file, w.cb, w.cb_arg, err, sizeof(err)) < 0) {
			if (errno != ENOENT)
				log_error("pick up 'out/%s': %s", w.file, err);
			if (w.cb)
				w.cb(w.cb_arg, 0, NULL, err);
		}
		free(w.file);
	}
	if (rd->cpend_head >= rd->cpend_n) {
		free(rd->cpend);
		rd->cpend = NULL;
		rd->cpend_head = rd->cpend_n = 0;
	}
}

/* A drop being read on a worker: its CRC-32 reads the whole letter, so
 * it is never computed on the loop thread. */
struct claim_job {
	struct claim_job *next;
	struct relayd *rd;
	char	file[NAME_MAX + 1];
	char	path[PATH_MAX];
	void	(*cb)(void *arg, int ok, const char *name, const char *err);
	void   *cb_arg;
	/* filled by the worker */
	struct letter *lt;
	enum letter_status st;
	int	err_no;
	uint32_t crc;
	uint64_t size;
	char	lerr[LETTER_ERRLEN];
};

static void claim_work(void *arg)
{
	struct claim_job *cj = arg;
	int     fd;

	if ((fd = open(cj->path, O_RDONLY | O_CLOEXEC)) < 0) {
		cj->err_no = errno;
		cj->st = LETTER_EIO;
		snprintf(cj->lerr, sizeof(cj->lerr), "open 'out/%s': %s", cj->file,
		    strerror(errno));
		return;
	}
	if ((cj->lt = letter_open_fd(fd, &cj->st, cj->lerr, sizeof(cj->lerr))) != NULL
	    && crc_file(fd, 0, &cj->crc, &cj->size) < 0) {
		cj->err_no = errno;
		cj->st = LETTER_EIO;
		snprintf(cj->lerr, sizeof(cj->lerr), "read 'out/%s': %s", cj->file,
		    strerror(errno));
		letter_free(cj->lt);
		cj->lt = NULL;
	}
	close(fd);
}

static void claim_job_done(void *arg)
{
	struct claim_job *cj = arg, **pp;
	struct relayd *rd = cj->rd;
	struct claim_ctx *cc;
	struct spool_txn *t = NULL;
	char    err[RELAYD_ERRLEN], from[PATH_MAX];
	const char *kv[4];

	relayd_job(rd, -1);
	for (pp = &rd->claims; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cj) {
			*pp = cj->next;
			break;
		}
	if (cj->lt == NULL && cj->st == LETTER_EIO) {
		if (cj->err_no != ENOENT)
			log_error("pick up 'out/%s': %s", cj->file, cj->lerr);
		if (cj->cb)
			cj->cb(cj->cb_arg, 0, NULL, cj->lerr);
		rd->nclaims--;
		claims_more(rd);
		goto out;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->rd = rd;
	cc->cb = cj->cb;
	cc->cb_arg = cj->cb_arg;
	t = spool_txn_new(rd->sp);
	/* submit.* drops are mailctl submit's (doc/relay.md): from=submit */
	if (strncmp(cj->file, "submit.", 7) == 0)
		str_copy(from, "submit", sizeof(from));
	else
		snprintf(from, sizeof(from), "out/%s", cj->file);
	if (cj->lt == NULL) {
		cc->corrupt = 1;
		if (spool_txn_claim(t, cj->file, SPOOL_CORRUPT, cc->name, sizeof(cc->name), err,
		    sizeof(err)) < 0)
			goto fail;
		log_warn("drop 'out/%s' is not a letter: %s (moved to 'corrupt/%s')", cj->file,
		    cj->lerr, cc->name);
		kv[0] = "from";
		kv[1] = from;
		kv[2] = "reason";
		kv[3] = cj->lerr;
		spool_txn_journal(t, "corrupt", cc->name, kv, 2);
	} else {
		if (spool_txn_claim(t, cj->file, SPOOL_IN, cc->name, sizeof(cc->name), err,
		    sizeof(err)) < 0)
			goto fail;
		add_received(t, cc->name, from, NULL, NULL, NULL, cj->size, cj->crc, cj->lt);
	}
	spool_txn_submit(t, claim_done, cc);	/* it frees the slot */
	goto out;
fail:
	/* ENOENT: taken meanwhile (the rename is the claim) */
	if (errno != ENOENT)
		log_error("pick up 'out/%s': %s", cj->file, err);
	spool_txn_abort(t);
	free(cc);
	if (cj->cb)
		cj->cb(cj->cb_arg, 0, NULL, err);
	rd->nclaims--;
	claims_more(rd);
out:
	if (cj->lt)
		letter_free(cj->lt);
	free(cj);
}

/* relayd_claim - read out/FILE on a worker (letter check, size, CRC-32),
 * then claim it into in/ (or corrupt/) with its journal line */
int relayd_claim(struct relayd *rd, const char *file,
	void (*cb)(void *arg, int ok, const char *name, const char *err), void *cb_arg,
	char *err, size_t errlen)
{
	struct claim_job *cj;

	if (file[0] == '.' || strchr(file, '/') != NULL || strlen(file) > NAME_MAX) {
		errno = EINVAL;
		snprintf(err, errlen, "claim 'out/%s': not a drop file name", file);
		return -1;
	}
	for (cj = rd->claims; cj != NULL; cj = cj->next)
		if (strcmp(cj->file, file) == 0 && (cb == NULL || cj->cb == NULL)) {
			if (cb == NULL)
				return 0;		/* already being read */
			/* a pickup request for a file a scan is reading: answer it
			 * from that job */
			cj->cb = cb;
			cj->cb_arg = cb_arg;
			return 0;
		}
	if (rd->nclaims >= CLAIMS_MAX) {
		/* started when a slot frees (a copy of the name, not a job) */
		rd->cpend = xrealloc(rd->cpend, sizeof(*rd->cpend) * (rd->cpend_n + 1));
		rd->cpend[rd->cpend_n].file = xstrdup(file);
		rd->cpend[rd->cpend_n].cb = cb;
		rd->cpend[rd->cpend_n].cb_arg = cb_arg;
		rd->cpend_n++;
		return 0;
	}
	cj = xcalloc(1, sizeof(*cj));
	cj->rd = rd;
	str_copy(cj->file, file, sizeof(cj->file));
	if (spool_path(rd->sp, SPOOL_OUT, file, cj->path, sizeof(cj->path)) == NULL) {
		free(cj);
		errno = ENAMETOOLONG;
		snprintf(err, errlen, "claim 'out/%s': name too long", file);
		return -1;
	}
	cj->cb = cb;
	cj->cb_arg = cb_arg;
	cj->next = rd->claims;
	rd->claims = cj;
	rd->nclaims++;
	relayd_job(rd, 1);
	workq_submit(rd->wq, claim_work, claim_job_done, cj);
	return 0;
}

struct scan_ctx {
	struct relayd *rd;
	int	force;
	time_t	now;
	char  **names;
	size_t	n;
};

static int scan_out(void *arg, const char *name)
{
	struct scan_ctx *sc = arg;
	char    path[PATH_MAX];
	struct stat st;

	if (spool_path(sc->rd->sp, SPOOL_OUT, name, path, sizeof(path)) == NULL
	    || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (!sc->force && st.st_mtime + OUT_STABLE_S > sc->now)
		return 0;
	sc->names = xrealloc(sc->names, sizeof(char *) * (sc->n + 1));
	sc->names[sc->n++] = xstrdup(name);
	return sc->n >= 4 * CLAIMS_MAX;	/* a batch at a time */
}

/* relayd_pickup - scan out/ */
void relayd_pickup(struct relayd *rd, int force)
{
	struct scan_ctx sc;
	char    err[SPOOL_ERRLEN];
	size_t  i;

	if (rd->stdio_mode || rd->stopping)
		return;
	rd->last_out_scan = loop_now_ms();
	if (rd->cpend_head < rd->cpend_n)
		return;		/* a backlog is being taken already */
	memset(&sc, 0, sizeof(sc));
	sc.rd = rd;
	sc.force = force;
	sc.now = time(NULL);
	if (spool_scan(rd->sp, SPOOL_OUT, scan_out, &sc, err, sizeof(err)) < 0)
		log_error("%s", err);
	for (i = 0; i < sc.n; i++) {
		if (relayd_claim(rd, sc.names[i], NULL, NULL, err, sizeof(err)) < 0
		    && errno != ENOENT)
			log_error("pick up 'out/%s': %s", sc.names[i], err);
		free(sc.names[i]);
	}
	free(sc.names);
}

/* --- start-up ------------------------------------------------------------ */

struct load_ctx {
	struct relayd *rd;
	char  **names;
	size_t	n;
	void   *arg;		/* op_collect() */
};

static int collect(void *arg, const char *name)
{
	struct load_ctx *lc = arg;

	lc->names = xrealloc(lc->names, sizeof(char *) * (lc->n + 1));
	lc->names[lc->n++] = xstrdup(name);
	return 0;
}

static void load_free(struct load_ctx *lc)
{
	size_t  i;

	for (i = 0; i < lc->n; i++)
		free(lc->names[i]);
	free(lc->names);
	memset(lc, 0, sizeof(*lc));
}

/* orphan_prefix - queue/PNAME is the prefix of envelope ENAME, which is
 * gone: the transaction that removed it was cut short by a crash after
 * the envelope's removal. If the envelope's docket is still there and
 * holds the name the next hop assigned (not finished otherwise), the
 * forwarded line may be lost: journal it again (recovered=1). Then
 * remove the prefix and the docket. */
static void orphan_prefix(struct relayd *rd, const char *pname, const char *ename,
	size_t llen, const char *hop)
{
	struct spool_txn *t = spool_txn_new(rd->sp);
	char    key[SPOOL_NAMELEN * 2 + 8], err[SPOOL_ERRLEN], letter[SPOOL_NAMELEN];
	char    remote[256], tid[16];
	char   *text, *line, *next;
	const char *kv[10];
	int     finished = 0;
	size_t  len;
	unsigned u;

	remote[0] = tid[0] = '\0';
	snprintf(letter, sizeof(letter), "%.*s", (int) llen, pname);
	snprintf(key, sizeof(key), "env %s", ename);
	if ((text = spool_docket_get(rd->sp, key, &len, NULL, err, sizeof(err))) != NULL) {
		for (line = text; line && *line; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			if (strcmp(line, "finished 1") == 0)
				finished = 1;
			else if (strncmp(line, "remote ", 7) == 0)
				str_copy(remote, line + 7, sizeof(remote));
			else if (sscanf(line, "copy %u", &u) == 1)
				snprintf(tid, sizeof(tid), "%u", u);
		}
		free(text);
		if (!finished && remote[0]) {
			kv[0] = "to";
			kv[1] = hop;
			kv[2] = "remote";
			kv[3] = remote;
			kv[4] = "tid";
			kv[5] = tid[0] ? tid : "-";
			kv[6] = "recovered";
			kv[7] = "1";
			spool_txn_journal(t, "forwarded", letter, kv, 4);
		}
		spool_txn_docket_del(t, key);
	}
	log_info("removing '%s': its envelope '%s' was removed before a crash", pname, ename);
	spool_txn_remove(t, SPOOL_QUEUE, pname);
	if (spool_txn_run(t, err, sizeof(err)) < 0)
		log_error("remove '%s': %s", pname, err);
}

/* relayd_queue_start - load queue/, route in/ */
/* env_load - load envelope queue/NM (start-up, release): its docket, its
 * letter in memory; 0, or -1 (logged) when it is left alone. An envelope
 * whose letter an operator action moved to hold/ or dead/ before a crash
 * follows its letter (the action is completed). */
static int env_load(struct relayd *rd, const char *nm, char *err, size_t errlen)
{
	char    path[PATH_MAX], letter[SPOOL_NAMELEN], calling[300];
	char   *text;
	size_t  len;
	struct renv *e;
	struct rletter *l;

	spool_path(rd->sp, SPOOL_QUEUE, nm, path, sizeof(path));
	if ((text = durable_read_file(path, ENV_FILE_MAX, &len, err, errlen)) == NULL) {
		log_error("load envelope: %s", err);
		return -1;
	}
	letter[0] = calling[0] = '\0';
	e = env_file_parse(text, letter, sizeof(letter), calling, sizeof(calling));
	free(text);
	if (e == NULL) {
		log_error("envelope 'queue/%s' is malformed: left alone", nm);
		return -1;
	}
	if (!spool_exists(rd->sp, SPOOL_QUEUE, letter)) {
		enum spool_state to = spool_exists(rd->sp, SPOOL_HOLD, letter) ? SPOOL_HOLD
		    : spool_exists(rd->sp, SPOOL_DEAD, letter) ? SPOOL_DEAD : SPOOL_QUEUE;

		if (to != SPOOL_QUEUE) {
			struct spool_txn *t = spool_txn_new(rd->sp);

			spool_txn_move(t, nm, SPOOL_QUEUE, to, NULL);
			if (spool_txn_run(t, err, errlen) < 0)
				log_error("envelope 'queue/%s': %s", nm, err);
			else
				log_info("envelope 'queue/%s' follows its letter to %s/", nm,
				    spool_state_name(to));
		} else
			log_error("envelope 'queue/%s': its letter '%s' is missing: left alone", nm,
			    letter);
		env_free(e);
		return -1;
	}
	e->name = xstrdup(nm);
	e->local = strcmp(e->hop, "local") == 0;
	e->next_try = time(NULL);
	env_load_docket(rd, e);
	if (e->copy && !e->have_dk && !e->fwd_done) {
		/* The copy was fixed before this start, so its SFT may
		 * have gone out and the next hop may hold it committed
		 * (a crash before our docket said so): never send it
		 * afresh under the same id, resume "only STOP left".
		 * The next hop answers with the same name, grants the
		 * mark it holds, or 0x1004 (then we send afresh). */
		struct niftp_docket dk;

		memset(&dk, 0, sizeof(dk));
		dk.tid = e->tid;
		dk.mode = NIFTP_MODE_REPLACE_MAKE;
		dk.mark_interval = niftp_mark_interval((int64_t) e->size);
		dk.data_done = 1;
		env_set_dk(e, &dk);
	}
	l = letter_add(rd, letter);
	if (l->calling == NULL)
		env_set_str(&l->calling, calling);
	e->l = l;
	l->nenv++;
	env_link(rd, e);
	if (e->copy)
		relayd_fwd_hold(rd, e);
	return 0;
}

int relayd_queue_start(struct relayd *rd, char *err, size_t errlen)
{
	struct load_ctx q, in;
	char    path[PATH_MAX];
	char   *us;
	size_t  i, j, len;
	struct rletter *l;

	memset(&q, 0, sizeof(q));
	memset(&in, 0, sizeof(in));
	{
		/* partial received files: committed before a crash, or kept
		 * longer than the server dockets that refer to them */
		unsigned removed = 0;
		int64_t keep = rd->conf->docket_keep_ms / 1000;
		char    perr[SPOOL_ERRLEN];

		if (spool_part_prune(rd->sp, keep > 0 ? keep : 6 * 86400, time(NULL), &removed,
		    perr, sizeof(perr)) < 0)
			log_warn("%s", perr);
		else if (removed)
			log_info("removed %u partial received files", removed);
	}
	if (spool_scan(rd->sp, SPOOL_QUEUE, collect, &q, err, errlen) < 0
	    || spool_scan(rd->sp, SPOOL_IN, collect, &in, err, errlen) < 0) {
		load_free(&q);
		load_free(&in);
		return -1;
	}
	/* envelopes of letters still in in/ are from a routing that did
	 * not complete: remove them, the letter is routed again */
	for (i = 0; i < q.n; i++) {
		if ((us = strchr(q.names[i], '_')) == NULL)
			continue;
		for (j = 0; j < in.n; j++)
			if (strlen(in.names[j]) == (size_t) (us - q.names[i])
			    && strncmp(in.names[j], q.names[i], (size_t) (us - q.names[i])) == 0) {
				spool_path(rd->sp, SPOOL_QUEUE, q.names[i], path, sizeof(path));
				log_info("removing '%s' of an unfinished routing", q.names[i]);
				(void) unlink(path);
				q.names[i][0] = '\0';
			}
	}
	for (i = 0; i < q.n; i++) {
		const char *nm = q.names[i];

		if (!nm[0] || (us = strchr(nm, '_')) == NULL)
			continue;
		if (us[1] == 'd' && us[2] == '\0') {
			char    ln[SPOOL_NAMELEN];
			char   *reason;

			str_copy(ln, nm, sizeof(ln));
			ln[us - nm] = '\0';
			l = letter_add(rd, ln);
			l->dead = 1;
			spool_path(rd->sp, SPOOL_QUEUE, nm, path, sizeof(path));
			if ((reason = durable_read_file(path, 500, &len, NULL, 0)) != NULL) {
				env_set_str(&l->dead_reason, reason);
				free(reason);
			}
			continue;
		}
		if (!((us[1] == 'l' && us[2] == '\0') || (us[1] == 'f' && us[2] == '_')))
			continue;
		(void) env_load(rd, nm, err, errlen);
	}
	/* a prefix without its envelope: a removal cut short by a crash */
	for (i = 0; i < q.n; i++) {
		char    ename[SPOOL_NAMELEN * 2];
		const char *nm = q.names[i];
		const char *pp = strstr(nm, "_p_");

		if (!nm[0] || pp == NULL)
			continue;
		snprintf(ename, sizeof(ename), "%.*s_f_%s", (int) (pp - nm), nm, pp + 3);
		if (spool_exists(rd->sp, SPOOL_QUEUE, ename))
			continue;
		orphan_prefix(rd, nm, ename, (size_t) (pp - nm), pp + 3);
	}
	/* letters with no envelope left: finish them */
	for (i = 0; i < q.n; i++) {
		const char *nm = q.names[i];

		if (!nm[0] || strchr(nm, '_') != NULL)
			continue;
		l = letter_add(rd, nm);
		if (l->nenv == 0) {
			struct spool_txn *t = spool_txn_new(rd->sp);
			const char *kv[2];

			if (l->dead) {
				char    mk[SPOOL_NAMELEN * 2];

				snprintf(mk, sizeof(mk), "%s_d", nm);
				spool_txn_remove(t, SPOOL_QUEUE, mk);
				spool_txn_move(t, nm, SPOOL_QUEUE, SPOOL_DEAD, NULL);
				kv[0] = "reason";
				kv[1] = l->dead_reason ? l->dead_reason : "undeliverable";
				spool_txn_journal(t, "dead", nm, kv, 1);
			} else
				spool_txn_remove(t, SPOOL_QUEUE, nm);
			if (spool_txn_run(t, err, errlen) < 0)
				log_error("finish '%s': %s", nm, err);
			letter_del(rd, l);
		}
	}
	load_free(&q);
	for (i = 0; i < in.n; i++)
		relayd_route_letter(rd, in.names[i]);
	load_free(&in);
	relayd_schedule(rd);
	return 0;
}

/* relayd_queue_busy - queue work in flight */
int relayd_queue_busy(const struct relayd *rd)
{
	const struct renv *e;

	for (e = rd->envs; e != NULL; e = e->next)
		if (e->busy)
			return 1;
	return spool_pending(rd->sp) > 0 || rd->jobs > 0;
}

/* --- operator actions (mailctl hold, release, delete, retry) ----------------- */

static unsigned retry_pass;

/* relayd_retry_by - relayd_retry() journalled for the operator */
int relayd_retry_by(struct relayd *rd, const char *name, const char *user)
{
	struct spool_txn *t = NULL;
	struct renv *e;
	const char *kv[2] = { "by", user };
	int     n;

	n = relayd_retry(rd, name);
	retry_pass++;
	for (e = rd->envs; e != NULL; e = e->next) {
		if (!retry_match(e, name) || e->l->mark == retry_pass)
			continue;
		e->l->mark = retry_pass;
		if (t == NULL)
			t = spool_txn_new(rd->sp);
		spool_txn_journal(t, "retry", e->l->name, kv, 1);
	}
	if (t != NULL)
		spool_txn_submit(t, NULL, NULL);
	return n;
}

struct op_ctx {
	struct relayd *rd;
	char   *op;
	char   *name;
	struct renv **envs;		/* taken out of the queue in memory */
	size_t	nenvs;
	void	(*cb)(void *arg, int ok, const char *err);
	void   *cb_arg;
	const char *prefix;		/* op_collect: "NAME_" */
};

/* op_collect - the files NAME_* of a state (envelopes, prefixes, marker) */
static int op_collect(void *arg, const char *name)
{
	struct load_ctx *lc = arg;
	struct op_ctx *oc = (struct op_ctx *) lc->arg;

	if (strncmp(name, oc->prefix, strlen(oc->prefix)) == 0)
		return collect(lc, name);
	return 0;
}

/* op_reload - load the envelopes of oc->name found in queue/ */
static void op_reload(struct relayd *rd, struct op_ctx *oc, int due)
{
	struct load_ctx q;
	char    err[RELAYD_ERRLEN], pre[SPOOL_NAMELEN + 2];
	struct rletter *l;
	struct renv *e;
	size_t  i;

	memset(&q, 0, sizeof(q));
	snprintf(pre, sizeof(pre), "%s_", oc->name);
	oc->prefix = pre;
	q.arg = oc;
	if (spool_scan(rd->sp, SPOOL_QUEUE, op_collect, &q, err, sizeof(err)) < 0)
		log_error("%s '%s': %s", oc->op, oc->name, err);
	for (i = 0; i < q.n; i++) {
		const char *us = q.names[i] + strlen(oc->name);

		if ((us[1] == 'l' && us[2] == '\0') || (us[1] == 'f' && us[2] == '_'))
			(void) env_load(rd, q.names[i], err, sizeof(err));
		else if (us[1] == 'd' && us[2] == '\0') {
			char    path[PATH_MAX], *reason;
			size_t  len;

			l = letter_add(rd, oc->name);
			l->dead = 1;
			spool_path(rd->sp, SPOOL_QUEUE, q.names[i], path, sizeof(path));
			if ((reason = durable_read_file(path, 500, &len, NULL, 0)) != NULL) {
				env_set_str(&l->dead_reason, reason);
				free(reason);
			}
		}
	}
	load_free(&q);
	if (due && (l = letter_find(rd, oc->name)) != NULL)
		for (e = rd->envs; e != NULL; e = e->next)
			if (e->l == l)
				e->next_try = 0;
	relayd_schedule(rd);
}

static void op_done(void *arg, int ok, const char *err)
{
	struct op_ctx *oc = arg;
	struct relayd *rd = oc->rd;
	size_t  i;

	for (i = 0; i < oc->nenvs; i++) {
		struct renv *e = oc->envs[i];

		/* a deleted copy's docket is gone: its transfer id is free
		 * (a held one keeps it until it is released or deleted) */
		if (ok && strcmp(oc->op, "delete") == 0 && e->copy)
			relayd_fwd_release(rd, e->hop, e->tid);
		env_free(e);
	}
	if (!ok)
		log_error("%s '%s': %s", oc->op, oc->name, err);
	if (strcmp(oc->op, "release") == 0 ? ok : !ok)
		op_reload(rd, oc, 1);	/* back in queue/ (or never left it) */
	if (oc->cb != NULL)
		oc->cb(oc->cb_arg, ok, err);
	free(oc->envs);
	free(oc->op);
	free(oc->name);
	free(oc);
}

/* relayd_letter_op - hold, release or delete a letter for the operator */
int relayd_letter_op(struct relayd *rd, const char *op, const char *name, const char *user,
	void (*cb)(void *arg, int ok, const char *err), void *cb_arg, char *err, size_t errlen)
{
	struct rletter *l = letter_find(rd, name);
	struct renv *e, *next;
	struct load_ctx fl;
	struct op_ctx *oc;
	struct spool_txn *t;
	enum spool_state from, to;
	char    pre[SPOOL_NAMELEN + 2];
	const char *kv[4];
	size_t  i;

	if (!spool_name_ok(name) || strchr(name, '_') != NULL) {
		snprintf(err, errlen, "bad letter name '%s'", name);
		return -1;
	}
	if (strcmp(op, "hold") == 0) {
		from = SPOOL_QUEUE;
		to = SPOOL_HOLD;
	} else if (strcmp(op, "release") == 0) {
		from = SPOOL_HOLD;
		to = SPOOL_QUEUE;
	} else if (strcmp(op, "delete") == 0) {
		from = spool_exists(rd->sp, SPOOL_HOLD, name) ? SPOOL_HOLD : SPOOL_QUEUE;
		to = SPOOL_DEAD;
	} else {
		snprintf(err, errlen, "unknown action '%s'", op);
		return -1;
	}
	if (!spool_exists(rd->sp, from, name)) {
		if (spool_exists(rd->sp, SPOOL_IN, name))
			snprintf(err, errlen, "busy: '%s' is not routed yet, try again", name);
		else if (to == SPOOL_HOLD && spool_exists(rd->sp, SPOOL_HOLD, name))
			snprintf(err, errlen, "'%s' is held already", name);
		else
			snprintf(err, errlen, "no letter '%s' in %s/", name, spool_state_name(from));
		return -1;
	}
	if (to == SPOOL_DEAD && spool_exists(rd->sp, SPOOL_DEAD, name)) {
		snprintf(err, errlen, "'dead/%s' exists already", name);
		return -1;
	}
	if (from == SPOOL_QUEUE) {
		if (l == NULL || l->nenv <= 0) {
			snprintf(err, errlen, "busy: '%s' is leaving the queue, try again", name);
			return -1;
		}
		for (e = rd->envs; e != NULL; e = e->next)
			if (e->l == l && (e->busy || e->saving > 0 || e->finishing
			    || e->fwd_done || e->fwd_wait)) {
				snprintf(err, errlen, "busy: transfer in progress, try again");
				return -1;
			}
	}
	oc = xcalloc(1, sizeof(*oc));
	oc->rd = rd;
	oc->op = xstrdup(op);
	oc->name = xstrdup(name);
	oc->cb = cb;
	oc->cb_arg = cb_arg;
	memset(&fl, 0, sizeof(fl));
	snprintf(pre, sizeof(pre), "%s_", name);
	oc->prefix = pre;
	fl.arg = oc;
	if (spool_scan(rd->sp, from, op_collect, &fl, err, errlen) < 0) {
		load_free(&fl);
		free(oc->op);
		free(oc->name);
		free(oc);
		return -1;
	}
	oc->prefix = NULL;
	t = spool_txn_new(rd->sp);
	/* The letter moves first into hold/ or dead/, last back into queue/:
	 * a crash in between leaves envelopes in queue/ without their letter
	 * there, which start-up moves after it (env_load), never a letter in
	 * queue/ without its envelopes (start-up would finish it). */
	if (to != SPOOL_QUEUE)
		spool_txn_move(t, name, from, to, NULL);
	for (i = 0; i < fl.n; i++)
		spool_txn_move(t, fl.names[i], from, to, NULL);
	if (to == SPOOL_QUEUE)
		spool_txn_move(t, name, from, to, NULL);
	if (to == SPOOL_DEAD) {
		/* the envelopes' dockets go with them: nothing will send them */
		for (i = 0; i < fl.n; i++) {
			char    key[SPOOL_NAMELEN + 8];
			const char *us = fl.names[i] + strlen(name);

			if ((us[1] == 'l' && us[2] == '\0') || (us[1] == 'f' && us[2] == '_')) {
				snprintf(key, sizeof(key), "env %s", fl.names[i]);
				spool_txn_docket_del(t, key);
			}
		}
		kv[0] = "reason";
		kv[1] = "deleted by operator";
		kv[2] = "by";
		kv[3] = user;
		spool_txn_journal(t, "dead", name, kv, 2);
	} else {
		kv[0] = "by";
		kv[1] = user;
		spool_txn_journal(t, to == SPOOL_HOLD ? "held" : "released", name, kv, 1);
	}
	load_free(&fl);
	/* out of the queue in memory now: nothing starts them meanwhile */
	if (from == SPOOL_QUEUE) {
		for (e = rd->envs; e != NULL; e = next) {
			next = e->next;
			if (e->l != l)
				continue;
			env_unlink(rd, e);
			e->l = NULL;
			oc->envs = xrealloc(oc->envs, sizeof(*oc->envs) * (oc->nenvs + 1));
			oc->envs[oc->nenvs++] = e;
		}
		letter_del(rd, l);
	}
	spool_txn_submit(t, op_done, oc);
	return 0;
}

/* queued_letter - the in-memory letter name, queued and not busy; NULL
 * with err */
static struct rletter *queued_letter(struct relayd *rd, const char *name, char *err,
	size_t errlen)
{
	struct rletter *l;
	struct renv *e;

	if (!spool_name_ok(name) || strchr(name, '_') != NULL) {
		snprintf(err, errlen, "bad letter name '%s'", name);
		return NULL;
	}
	if (!spool_exists(rd->sp, SPOOL_QUEUE, name)) {
		if (spool_exists(rd->sp, SPOOL_IN, name))
			snprintf(err, errlen, "busy: '%s' is not routed yet, try again", name);
		else
			snprintf(err, errlen, "no letter '%s' in queue/", name);
		return NULL;
	}
	if ((l = letter_find(rd, name)) == NULL || l->nenv <= 0) {
		snprintf(err, errlen, "busy: '%s' is leaving the queue, try again", name);
		return NULL;
	}
	for (e = rd->envs; e != NULL; e = e->next)
		if (e->l == l && (e->busy || e->saving > 0 || e->finishing
		    || e->fwd_done || e->fwd_wait)) {
			snprintf(err, errlen, "busy: transfer in progress, try again");
			return NULL;
		}
	return l;
}

/* take_letter - add to t the removal of l's envelopes, prefixes and
 * dockets and, unless keep, of its marker and the letter (to dead/ with
 * dead_reason when not NULL); the envelopes (and the letter) leave the
 * queue in memory into oc */
static void take_letter(struct relayd *rd, struct rletter *l, struct spool_txn *t,
	struct op_ctx *oc, const char *dead_reason, int keep)
{
	struct renv *e, *next;
	char    key[SPOOL_NAMELEN + 8], pname[SPOOL_NAMELEN * 2], hs[80];
	const char *kv[2];

	for (e = rd->envs; e != NULL; e = next) {
		next = e->next;
		if (e->l != l)
			continue;
		spool_txn_remove(t, SPOOL_QUEUE, e->name);
		env_key(e, key, sizeof(key));
		spool_txn_docket_del(t, key);
		if (e->copy) {
			hop_safe(e->hop, hs, sizeof(hs));
			snprintf(pname, sizeof(pname), "%s_p_%s", l->name, hs);
			if (spool_exists(rd->sp, SPOOL_QUEUE, pname))
				spool_txn_remove(t, SPOOL_QUEUE, pname);
		}
		env_unlink(rd, e);
		e->l = NULL;
		oc->envs = xrealloc(oc->envs, sizeof(*oc->envs) * (oc->nenvs + 1));
		oc->envs[oc->nenvs++] = e;
	}
	letter_del(rd, l);
	if (keep)
		return;
	snprintf(pname, sizeof(pname), "%s_d", oc->name);
	if (spool_exists(rd->sp, SPOOL_QUEUE, pname))
		spool_txn_remove(t, SPOOL_QUEUE, pname);
	if (dead_reason != NULL) {
		spool_txn_move(t, oc->name, SPOOL_QUEUE, SPOOL_DEAD, NULL);
		kv[0] = "reason";
		kv[1] = dead_reason;
		spool_txn_journal(t, "dead", oc->name, kv, 1);
	} else
		spool_txn_remove(t, SPOOL_QUEUE, oc->name);
}

static void op_free_done(void *arg, int ok, const char *err)
{
	struct op_ctx *oc = arg;
	size_t  i;

	for (i = 0; i < oc->nenvs; i++) {
		struct renv *e = oc->envs[i];

		if (ok && e->copy)
			relayd_fwd_release(oc->rd, e->hop, e->tid);
		env_free(e);
	}
	if (!ok)
		log_error("%s '%s': %s", oc->op, oc->name, err);
	if (!ok || strcmp(oc->op, "forward") == 0)
		op_reload(oc->rd, oc, 1);	/* what queue/ holds now, due now */
	if (oc->cb != NULL)
		oc->cb(oc->cb_arg, ok, err);
	free(oc->envs);
	free(oc->op);
	free(oc->name);
	free(oc);
}

/* relayd_letter_bounce - mailctl bounce: every pending recipient of
 * the queued letter name fails with reason; one NDN to the sender (or
 * the letter to dead/ when it cannot be returned), the envelopes and
 * the letter removed, in one transaction journalled with by=user */
int relayd_letter_bounce(struct relayd *rd, const char *name, const char *reason,
	const char *user, void (*cb)(void *arg, int ok, const char *err), void *cb_arg,
	char *err, size_t errlen)
{
	struct rletter *l;
	struct renv *e;
	struct failset fs;
	struct letter *lt;
	struct pread_ctx ctx;
	enum letter_status st;
	struct spool_txn *t;
	struct op_ctx *oc;
	char    lerr[LETTER_ERRLEN], notice[NOTICES_MAX * SPOOL_NAMELEN], dr[600];
	const char *to = NULL;
	const struct hdr *h = NULL;
	uint64_t boff = 0;
	int     fd = -1, dead = 0;
	size_t  i;
	char   *p, *next;

	if (reason == NULL || *reason == '\0')
		reason = "returned by operator";
	if ((l = queued_letter(rd, name, err, errlen)) == NULL)
		return -1;
	memset(&fs, 0, sizeof(fs));
	for (e = rd->envs; e != NULL; e = e->next)
		if (e->l == l) {
			for (i = 0; i < e->nrcpts; i++)
				if (!e->rcpts[i].done)
					failset_add_rcpt(&fs, &e->rcpts[i], reason, 0);
			to = to == NULL ? e->hop : "-";
		}
	lt = open_stored(rd, SPOOL_QUEUE, name, &fd, &ctx, &st, lerr, sizeof(lerr));
	if (lt != NULL) {
		h = letter_hdr(lt);
		boff = letter_body_offset(lt);
	}
	t = spool_txn_new(rd->sp);
	notice[0] = dr[0] = '\0';
	report_failures(rd, t, name, to ? to : "-", h, fd, boff, l->calling ? l->calling : "",
	    &fs, notice, sizeof(notice), &dead, dr, sizeof(dr), user);
	failset_free(&fs);
	if (lt != NULL)
		letter_free(lt);
	if (fd >= 0)
		close(fd);
	oc = xcalloc(1, sizeof(*oc));
	oc->rd = rd;
	oc->op = xstrdup("bounce");
	oc->name = xstrdup(name);
	oc->cb = cb;
	oc->cb_arg = cb_arg;
	if (!dead && l->dead)
		str_copy(dr, l->dead_reason ? l->dead_reason : "undeliverable", sizeof(dr));
	take_letter(rd, l, t, oc, dead || l->dead ? dr : NULL, 0);
	for (p = notice; *p; p = next) {
		if ((next = strchr(p, ' ')) != NULL)
			*next++ = '\0';
		notice_later(rd, p);
		if (next == NULL)
			break;
	}
	spool_txn_submit(t, op_free_done, oc);
	return 0;
}

/* relayd_letter_forward - mailctl forward: the pending recipients of
 * the queued letter name are replaced by address (routed as usual):
 * the new envelopes are committed, the old ones removed, in one
 * transaction with "forwarded-by-operator NAME to=ADDRESS rcpts=OLD
 * hops=NEW by=USER". The letter stays in queue/ under its name. */
int relayd_letter_forward(struct relayd *rd, const char *name, const char *address,
	const char *user, void (*cb)(void *arg, int ok, const char *err), void *cb_arg,
	char *err, size_t errlen)
{
	struct rletter *l;
	struct renv *e, **ne = NULL;
	struct route_result *res = NULL;
	struct route_group *groups = NULL;
	struct spool_txn *t;
	struct op_ctx *oc;
	struct letter *lt;
	struct pread_ctx ctx;
	enum letter_status st;
	struct addr *a;
	struct buf old = BUF_INIT(1024 * 1024), hops = BUF_INIT(64 * 1024);
	char    aerr[ADDR_ERRLEN], lerr[LETTER_ERRLEN], hs[80];
	const char *kv[8], *calling;
	unsigned via = 0;
	size_t  i, j, ng = 0, nn = 0;
	int     fd = -1, rc = -1;
	time_t  now = time(NULL);

	if ((l = queued_letter(rd, name, err, errlen)) == NULL)
		return -1;
	if ((a = addr_parse(address, strlen(address), aerr, sizeof(aerr))) == NULL) {
		snprintf(err, errlen, "bad address '%s': %s", address, aerr);
		return -1;
	}
	if ((lt = open_stored(rd, SPOOL_QUEUE, name, &fd, &ctx, &st, lerr, sizeof(lerr))) != NULL) {
		via = (unsigned) hdr_via_count(letter_hdr(lt));
		letter_free(lt);
	}
	if (fd >= 0)
		close(fd);
	calling = l->calling ? l->calling : "";
	res = route_resolve(rd->conf->routes, a, via);
	for (i = 0; i < route_result_count(res); i++) {
		const struct route_target *tg = route_result_get(res, i);

		if (tg->kind == ROUTE_FAIL) {
			snprintf(err, errlen, "'%s': %s", address, tg->reason ? tg->reason : "fails");
			goto out;
		}
		if (tg->kind != ROUTE_LOCAL)
			continue;
		if (nn == 0) {
			e = xcalloc(1, sizeof(*e));
			e->local = 1;
			e->hop = xstrdup("local");
			e->name = xasprintf("%s_l", name);
			e->first = now;
			e->next_try = now;
			ne = xrealloc(ne, sizeof(*ne) * (nn + 1));
			ne[nn++] = e;
		}
		for (j = 0; j < ne[0]->nrcpts; j++)
			if (strcmp(ne[0]->rcpts[j].mailbox, tg->mailbox) == 0)
				break;
		if (j == ne[0]->nrcpts)
			env_add_rcpt(ne[0], tg->text, route_result_rcpt(res), tg->owner, tg->mailbox);
	}
	groups = route_group(&res, 1, &ng);
	for (i = 0; i < ng; i++) {
		e = xcalloc(1, sizeof(*e));
		e->hop = xstrdup(groups[i].hop->name);
		hop_safe(e->hop, hs, sizeof(hs));
		e->name = xasprintf("%s_f_%s", name, hs);
		e->first = now;
		e->next_try = now;
		for (j = 0; j < groups[i].n; j++)
			env_add_rcpt(e, groups[i].targets[j]->text, route_result_rcpt(res),
			    groups[i].targets[j]->owner, NULL);
		ne = xrealloc(ne, sizeof(*ne) * (nn + 1));
		ne[nn++] = e;
	}
	if (nn == 0) {
		snprintf(err, errlen, "'%s' routes nowhere", address);
		goto out;
	}
	for (i = 0; i < nn; i++)
		if (spool_exists(rd->sp, SPOOL_QUEUE, ne[i]->name)) {
			snprintf(err, errlen, "'%s' goes to next hop %s, which the letter's copy "
			    "'%s' already waits for (mailctl reroute changes a hop's route)",
			    address, ne[i]->hop, ne[i]->name);
			goto out;
		}
	for (e = rd->envs; e != NULL; e = e->next)
		if (e->l == l)
			for (j = 0; j < e->nrcpts; j++)
				if (!e->rcpts[j].done)
					buf_printf(&old, "%s%s", old.len ? "," : "", e->rcpts[j].orig);
	t = spool_txn_new(rd->sp);
	/* new envelopes first, the old ones removed last: a crash in the
	 * middle leaves more envelopes, never a letter without any */
	for (i = 0; i < nn; i++) {
		if (commit_env(rd, t, ne[i], name, calling) < 0) {
			spool_txn_abort(t);
			snprintf(err, errlen, "could not write the envelope '%s'", ne[i]->name);
			goto out;
		}
		buf_printf(&hops, "%s%s", hops.len ? "," : "", ne[i]->hop);
	}
	kv[0] = "to";
	kv[1] = address;
	kv[2] = "rcpts";
	kv[3] = old.len ? buf_cstr(&old) : "-";
	kv[4] = "hops";
	kv[5] = buf_cstr(&hops);
	kv[6] = "by";
	kv[7] = user;
	spool_txn_journal(t, "forwarded-by-operator", name, kv, 4);
	oc = xcalloc(1, sizeof(*oc));
	oc->rd = rd;
	oc->op = xstrdup("forward");
	oc->name = xstrdup(name);
	oc->cb = cb;
	oc->cb_arg = cb_arg;
	take_letter(rd, l, t, oc, NULL, 1);
	spool_txn_submit(t, op_free_done, oc);
	rc = 0;
out:
	for (i = 0; i < nn; i++)
		env_free(ne[i]);
	free(ne);
	route_groups_free(groups, ng);
	route_result_free(res);
	addr_free(a);
	buf_release(&old);
	buf_release(&hops);
	return rc;
}

/* relayd_queue_free - free the in-memory queue */
void relayd_queue_free(struct relayd *rd)
{
	struct renv *e;
	struct rletter *l;

	size_t  i;

	while ((e = rd->envs) != NULL) {
		env_unlink(rd, e);
		env_free(e);
	}
	for (i = 0; i < rd->ltab_size; i++)
		while ((l = rd->ltab[i]) != NULL) {
			rd->ltab[i] = l->hnext;
			rletter_free(l);
		}
	free(rd->ltab);
	rd->ltab = NULL;
	rd->ltab_size = rd->nletters = 0;
	for (i = rd->cpend_head; i < rd->cpend_n; i++)
		free(rd->cpend[i].file);
	free(rd->cpend);
	rd->cpend = NULL;
	rd->cpend_head = rd->cpend_n = 0;
	for (i = 0; i < rd->nnotices; i++)
		free(rd->notices[i]);
	free(rd->notices);
	rd->notices = NULL;
	rd->nnotices = 0;
	if (rd->sched_timer)
		loop_timer_del(rd->loop, rd->sched_timer);
	rd->sched_timer = 0;
	if (rd->soon_timer)
		loop_timer_del(rd->loop, rd->soon_timer);
	rd->soon_timer = 0;
}


void relayd_queue_list(struct relayd *rd, struct buf *out)
{
	struct renv *e;
	struct load_ctx in;
	char    err[SPOOL_ERRLEN], esc[1200], path[PATH_MAX];
	time_t  now = time(NULL);
	struct stat st;
	size_t  i;

	for (e = rd->envs; e != NULL; e = e->next) {
		char   *r = env_rcpts_text(e);
		const char *state = e->finishing ? "finishing" : e->busy ? (e->local
		    ? "delivering" : "sending") : e->attempts ? "deferred" : "queued";

		str_escape(esc, sizeof(esc), e->error ? e->error : "-",
		    strlen(e->error ? e->error : "-"));
		buf_printf(out, "%s %llds %s %s %s %s\n", e->l ? e->l->name : "-",
		    (long long) (now - e->first), e->hop, r, state, esc);
		free(r);
	}
	memset(&in, 0, sizeof(in));
	if (spool_scan(rd->sp, SPOOL_IN, collect, &in, err, sizeof(err)) == 0)
		for (i = 0; i < in.n; i++) {
			long long age = 0;

			if (spool_path(rd->sp, SPOOL_IN, in.names[i], path, sizeof(path))
			    && stat(path, &st) == 0)
				age = (long long) (now - st.st_mtime);
			buf_printf(out, "%s %llds - - received -\n", in.names[i], age);
		}
	load_free(&in);
	/* held letters (mailctl hold): the letter, not its envelopes */
	memset(&in, 0, sizeof(in));
	if (spool_scan(rd->sp, SPOOL_HOLD, collect, &in, err, sizeof(err)) == 0)
		for (i = 0; i < in.n; i++) {
			long long age = 0;

			if (strchr(in.names[i], '_') != NULL)
				continue;
			if (spool_path(rd->sp, SPOOL_HOLD, in.names[i], path, sizeof(path))
			    && stat(path, &st) == 0)
				age = (long long) (now - st.st_mtime);
			buf_printf(out, "%s %llds - - held -\n", in.names[i], age);
		}
	load_free(&in);
}

static int name_cmp(const void *a, const void *b)
{
	return spool_name_cmp(*(char *const *) a, *(char *const *) b);
}

/* dir_names - the plain files of DIR (no dot-files), sorted; count in *n */
static char **dir_names(const char *dir, size_t *n)
{
	DIR    *d;
	struct dirent *de;
	char  **v = NULL;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		v = xrealloc(v, sizeof(char *) * (*n + 1));
		v[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(char *), name_cmp);
	return v;
}

/* relayd_queue_list_dir - the queue listing from the spool directory
 * alone, read-only (mailctl queue without a daemon): envelopes with the
 * state their docket records, then the unrouted letters of in/ */
int relayd_queue_list_dir(const char *spool, struct buf *out, char *err, size_t errlen)
{
	char    path[PATH_MAX], letter[SPOOL_NAMELEN], calling[300], key[SPOOL_NAMELEN + 8];
	char    derr[SPOOL_ERRLEN], esc[1200];
	char  **names;
	size_t  n, i, len;
	time_t  now = time(NULL);
	struct stat st;

	snprintf(path, sizeof(path), "%s/queue", spool);
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "read spool '%s': %s", path, strerror(errno));
		return -1;
	}
	names = dir_names(path, &n);
	for (i = 0; i < n; i++) {
		const char *nm = names[i], *us = strchr(nm, '_');
		char   *text, *r, *line, *next;
		struct renv *e;
		unsigned attempts = 0;
		int     finished = 0;

		if (us == NULL || !((us[1] == 'l' && us[2] == '\0') || (us[1] == 'f' && us[2] == '_')))
			continue;
		snprintf(path, sizeof(path), "%s/queue/%s", spool, nm);
		if ((text = durable_read_file(path, ENV_FILE_MAX, &len, NULL, 0)) == NULL)
			continue;
		letter[0] = calling[0] = '\0';
		e = env_file_parse(text, letter, sizeof(letter), calling, sizeof(calling));
		free(text);
		if (e == NULL)
			continue;
		snprintf(key, sizeof(key), "env %s", nm);
		if ((text = spool_docket_peek(spool, key, &len, derr, sizeof(derr))) != NULL) {
			for (line = text; line && *line; line = next) {
				if ((next = strchr(line, '\n')) != NULL)
					*next++ = '\0';
				if (sscanf(line, "attempts %u", &attempts) == 1)
					continue;
				if (strcmp(line, "finished 1") == 0)
					finished = 1;
				else if (strncmp(line, "error ", 6) == 0)
					env_set_str(&e->error, line + 6);
			}
			free(text);
		}
		r = env_rcpts_text(e);
		/* the docket's error is stored escaped already */
		str_copy(esc, e->error ? e->error : "-", sizeof(esc));
		buf_printf(out, "%s %llds %s %s %s %s\n", letter, (long long) (now - e->first),
		    e->hop, r, finished ? "finishing" : attempts ? "deferred" : "queued", esc);
		free(r);
		env_free(e);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	snprintf(path, sizeof(path), "%s/in", spool);
	names = dir_names(path, &n);
	for (i = 0; i < n; i++) {
		long long age = 0;

		snprintf(path, sizeof(path), "%s/in/%s", spool, names[i]);
		if (stat(path, &st) == 0)
			age = (long long) (now - st.st_mtime);
		buf_printf(out, "%s %llds - - received -\n", names[i], age);
		free(names[i]);
	}
	free(names);
	snprintf(path, sizeof(path), "%s/hold", spool);
	names = dir_names(path, &n);
	for (i = 0; i < n; i++) {
		long long age = 0;

		snprintf(path, sizeof(path), "%s/hold/%s", spool, names[i]);
		if (strchr(names[i], '_') == NULL && stat(path, &st) == 0) {
			age = (long long) (now - st.st_mtime);
			buf_printf(out, "%s %llds - - held -\n", names[i], age);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}
