/*++
 * NAME
 *	notices 3
 * SUMMARY
 *	mailrelayd: non-delivery notices, warnings and acknowledgements
 * SYNOPSIS
 *	#include "relay/notices.h"
 * DESCRIPTION
 *	See notices.h. The letter a notice is about is opened here, and
 *	only when a notice is to be written (the header and the start of
 *	the body are quoted, read with pread).
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "mailchannel/notice.h"
#include "mailchannel/route.h"
#include "relay/inbound.h"
#include "relay/notices.h"
#include "relay/queue.h"
#include "relay/relayd.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

/* The letter a notice is about, opened for its header and body. */
struct about {
	int	fd;
	struct letter *lt;
	const struct hdr *h;	/* NULL when it cannot be read */
	uint64_t body_off;
};

static void about_open(struct relayd *rd, enum spool_state st, const char *name,
	struct about *ab)
{
	char    path[PATH_MAX], err[LETTER_ERRLEN];

	memset(ab, 0, sizeof(*ab));
	ab->fd = -1;
	if (spool_path(rd->sp, st, name, path, sizeof(path)) == NULL
	    || (ab->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_warn("notice about '%s': open '%s/%s': %s", name, spool_state_name(st),
		    name, strerror(errno));
		return;
	}
	if ((ab->lt = letter_open_fd(ab->fd, NULL, err, sizeof(err))) == NULL) {
		log_warn("notice about '%s': %s", name, err);
		return;
	}
	ab->h = letter_hdr(ab->lt);
	ab->body_off = letter_body_offset(ab->lt);
}

static void about_close(struct about *ab)
{
	if (ab->lt != NULL)
		letter_free(ab->lt);
	if (ab->fd >= 0)
		close(ab->fd);
	memset(ab, 0, sizeof(*ab));
	ab->fd = -1;
}

/* --- failsets ---------------------------------------------------------- */

void failset_add(struct failset *fs, const char *rcpt, const char *reason, const char *owner)
{
	fs->items = xrealloc(fs->items, sizeof(*fs->items) * (fs->n + 1));
	fs->owners = xrealloc(fs->owners, sizeof(*fs->owners) * (fs->n + 1));
	fs->items[fs->n].rcpt = xstrdup(rcpt);
	fs->items[fs->n].reason = reason ? xstrdup(reason) : NULL;
	fs->owners[fs->n] = owner ? xstrdup(owner) : NULL;
	fs->n++;
}

void failset_add_rcpt(struct failset *fs, const struct qrcpt *r, const char *reason,
	int with_owner)
{
	char   *label = NULL;

	if (r->owner != NULL && r->addr != NULL && strcasecmp(r->addr, r->orig) != 0)
		label = xasprintf("%s (list %s)", r->addr, r->orig);
	failset_add(fs, label ? label : r->orig, reason, with_owner ? r->owner : NULL);
	free(label);
}

void failset_free(struct failset *fs)
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

/* same_owner - both NULL, or the same address (case-insensitively) */
static int same_owner(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcasecmp(a, b) == 0;
}

/* --- composing a notice ------------------------------------------------- */

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
	if (h == NULL)
		return NULL;
	/* the envelope sender an MTA gave (niftpmail-sendmail) before the
	 * header's originator, as SMTP does; a null one gets no notice */
	switch (notice_return_path(h, &a, err, sizeof(err))) {
	case NOTICE_RP_NULL:
		return NULL;
	case NOTICE_RP_ADDR:
		break;
	case NOTICE_RP_BAD:
		log_warn("notice: %s: the originator instead", err);
		/* FALLTHROUGH */
	default:
		if ((a = hdr_originator(h, err, sizeof(err))) == NULL)
			return NULL;
		break;
	}
	r = route_resolve(rd->conf->routes, a, 0);
	for (i = 0; i < route_result_count(r); i++)
		if (route_result_get(r, i)->kind != ROUTE_FAIL)
			ok = 1;
	route_result_free(r);
	if (ok)
		s = addr_to_str(a);
	else if ((rp = hdr_return_path_for(h, a, calling, err, sizeof(err))) != NULL) {
		s = addr_to_str(rp);
		addr_free(rp);
	}
	addr_free(a);
	return s;
}

/* add_notice - compose a notice about nr->letter and commit it to in/ in
 * t through the inbound door; its name is added to nr. 0, or -1 (logged) */
static int add_notice(struct relayd *rd, struct spool_txn *t, struct notice_report *nr,
	enum notice_kind kind, const struct about *ab, const char *to,
	const struct notice_item *items, size_t n, time_t since)
{
	struct notice no;
	struct buf b = BUF_INIT(NOTICE_MAX);
	struct spool_file *f;
	struct inbound in;
	char    err[SPOOL_ERRLEN], from[SPOOL_NAMELEN + 16], msgid[SPOOL_NAMELEN + 80];

	if (nr->nnames >= NOTICES_MAX) {
		log_error("notice about '%s': more than %d at once", nr->letter, NOTICES_MAX);
		return -1;
	}
	memset(&no, 0, sizeof(no));
	if ((f = spool_create(rd->sp, NULL, err, sizeof(err))) == NULL) {
		log_error("notice about '%s': %s", nr->letter, err);
		return -1;
	}
	no.kind = kind;
	no.node = rd->conf->name;
	no.letter = nr->letter;
	no.to = to;
	no.id = spool_file_name(f);
	no.when = time(NULL);
	no.since = since;
	no.give_up = since ? since + (time_t) (rd->conf->give_up_ms / 1000) : 0;
	no.items = items;
	no.nitems = n;
	no.hdr = ab->h;
	no.body_fd = ab->fd;
	no.body_off = ab->body_off;
	if (notice_format(&b, &no, err, sizeof(err)) < 0
	    || spool_write(f, buf_data(&b), b.len, err, sizeof(err)) < 0) {
		log_error("notice about '%s': %s", nr->letter, err);
		buf_release(&b);
		spool_file_abort(f);
		return -1;
	}
	str_copy(nr->names[nr->nnames], spool_file_name(f), sizeof(nr->names[0]));
	snprintf(from, sizeof(from), "notice:%s", nr->letter);
	snprintf(msgid, sizeof(msgid), "<%s@%s>", nr->names[nr->nnames], rd->conf->name);
	memset(&in, 0, sizeof(in));
	in.from = from;
	in.size = b.len;
	in.no_crc = 1;
	in.rcpts = to;
	in.msgid = msgid;
	inbound_commit(rd, t, f, &in, NULL);
	nr->nnames++;
	buf_release(&b);
	return 0;
}

/* --- reports ------------------------------------------------------------- */

void notices_report(struct relayd *rd, struct spool_txn *t, struct notice_report *nr,
	const struct failset *fs)
{
	struct notice_item *grp;
	struct about ab;
	const char *kv[8], *owner;
	char   *done, *to;
	size_t  i, g, ng, nnotices = 0;

	nr->nnames = 0;
	nr->dead = 0;
	nr->dead_reason[0] = '\0';
	for (i = 0; i < fs->n; i++) {
		if (fs->items[i].reason == NULL)
			continue;
		kv[0] = "rcpt";
		kv[1] = fs->items[i].rcpt;
		kv[2] = "reason";
		kv[3] = fs->items[i].reason;
		kv[4] = "to";
		kv[5] = nr->to_hop;
		kv[6] = "by";
		kv[7] = nr->by;
		spool_txn_journal(t, "failed", nr->letter, kv, nr->by ? 4 : 3);
	}
	if (fs->n == 0)
		return;
	about_open(rd, nr->state, nr->letter, &ab);
	if (notice_no_return(ab.h)) {
		/* no notice about a notice, nor to a null return path */
		nr->dead = 1;
		snprintf(nr->dead_reason, sizeof(nr->dead_reason), "%s: %s: %s",
		    notice_is_notice(ab.h) ? "failed notice" : "null return path",
		    fs->items[0].rcpt, fs->items[0].reason ? fs->items[0].reason : "");
		about_close(&ab);
		return;
	}
	grp = xcalloc(fs->n, sizeof(*grp));
	done = xcalloc(fs->n, 1);
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
		to = notice_addressee(rd, ab.h, nr->calling, owner);
		if (to == NULL || add_notice(rd, t, nr, NOTICE_NDN, &ab, to, grp, ng, 0) < 0) {
			nr->dead = 1;
			snprintf(nr->dead_reason, sizeof(nr->dead_reason), "no return address for "
			    "a non-delivery notice: %s: %s", grp[0].rcpt,
			    grp[0].reason ? grp[0].reason : "");
			free(to);
			continue;
		}
		nnotices++;
		kv[0] = "notice";
		kv[1] = nr->names[nr->nnames - 1];
		kv[2] = "to";
		kv[3] = to;
		kv[4] = "by";
		kv[5] = nr->by;
		spool_txn_journal(t, "ndn", nr->letter, kv, nr->by ? 3 : 2);
		free(to);
	}
	free(grp);
	free(done);
	about_close(&ab);
}

void notices_warn(struct relayd *rd, struct spool_txn *t, struct notice_report *nr,
	const struct failset *fs, time_t since)
{
	struct about ab;
	const char *kv[4];
	char   *to;

	nr->nnames = 0;
	about_open(rd, nr->state, nr->letter, &ab);
	if (ab.h == NULL || notice_no_return(ab.h)
	    || (to = notice_addressee(rd, ab.h, nr->calling, NULL)) == NULL) {
		about_close(&ab);
		return;
	}
	if (add_notice(rd, t, nr, NOTICE_WARN, &ab, to, fs->items, fs->n, since) == 0) {
		kv[0] = "to";
		kv[1] = to;
		kv[2] = "notice";
		kv[3] = nr->names[nr->nnames - 1];
		spool_txn_journal(t, "warned", nr->letter, kv, 2);
	}
	free(to);
	about_close(&ab);
}

void notices_ack(struct relayd *rd, struct spool_txn *t, struct notice_report *nr,
	const struct failset *acks)
{
	struct about ab;
	struct addr *a;
	char    err[ADDR_ERRLEN];
	const char *kv[4];
	char   *to;

	if (acks->n == 0)
		return;
	about_open(rd, nr->state, nr->letter, &ab);
	if (ab.h == NULL || notice_no_return(ab.h) || hdr_find(ab.h, HDR_ACK_TO, 0) < 0
	    || (a = hdr_mailbox(ab.h, HDR_ACK_TO, err, sizeof(err))) == NULL) {
		about_close(&ab);
		return;
	}
	to = addr_to_str(a);
	if (add_notice(rd, t, nr, NOTICE_ACK, &ab, to, acks->items, acks->n, 0) == 0) {
		kv[0] = "notice";
		kv[1] = nr->names[nr->nnames - 1];
		kv[2] = "to";
		kv[3] = to;
		spool_txn_journal(t, "ack", nr->letter, kv, 2);
	}
	free(to);
	addr_free(a);
	about_close(&ab);
}

void notices_route(struct relayd *rd, const struct notice_report *nr)
{
	size_t  i;

	for (i = 0; i < nr->nnames; i++)
		inbound_accepted(rd, nr->names[i], 0);
}
