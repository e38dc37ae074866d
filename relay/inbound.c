/*++
 * NAME
 *	inbound 3
 * SUMMARY
 *	mailrelayd: the one door through which every letter enters
 * SYNOPSIS
 *	#include "relay/inbound.h"
 * DESCRIPTION
 *	See inbound.h.
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailchannel/addr.h"
#include "mailchannel/hdr.h"
#include "mailchannel/letter.h"
#include "relay/archive.h"
#include "relay/inbound.h"
#include "relay/relayd.h"
#include "relay/router.h"
#include "spool/journal.h"
#include "spool/spool.h"
#include "util/alloc.h"
#include "util/buf.h"

#define INBOUND_KV_MAX	32	/* pairs in a received line */

/* rcpts_text - the address list of lt joined by ',', cut at an address
 * with " +N more" (spool/journal.h; new memory) */
static char *rcpts_text(struct letter *lt)
{
	const struct addr_list *al = letter_rcpts(lt);
	struct journal_list jl;
	size_t  i;
	char   *s;

	journal_list_init(&jl);
	for (i = 0; i < addr_list_count(al); i++) {
		char   *a = addr_to_str(addr_list_get(al, i));

		journal_list_add(&jl, a);
		free(a);
	}
	s = xstrdup(journal_list_text(&jl));
	journal_list_release(&jl);
	return s;
}

/* inbound_received_line - the received line of NAME */
void inbound_received_line(struct spool_txn *t, const char *name, const struct inbound *in,
	struct letter *lt)
{
	const char *kv[2 * INBOUND_KV_MAX];
	char    sz[32], crcs[16];
	char   *msgid = lt ? hdr_get(letter_hdr(lt), HDR_MESSAGE_ID) : NULL;
	char   *rcpts = lt ? rcpts_text(lt) : NULL;
	size_t  i, k = 0;

	snprintf(sz, sizeof(sz), "%llu", (unsigned long long) in->size);
	snprintf(crcs, sizeof(crcs), "%08lx", (unsigned long) in->crc);
	kv[k++] = "from";
	kv[k++] = in->from;
	kv[k++] = "calling";		/* "-" for drops, submissions, notices */
	kv[k++] = in->calling && *in->calling ? in->calling : "-";
	if (in->tid) {
		kv[k++] = "tid";
		kv[k++] = in->tid;
	}
	if (in->donor) {
		kv[k++] = "donor";
		kv[k++] = in->donor;
	}
	kv[k++] = "size";
	kv[k++] = sz;
	if (!in->no_crc) {
		kv[k++] = "crc32";
		kv[k++] = crcs;
	}
	kv[k++] = "rcpts";
	kv[k++] = rcpts ? rcpts : in->rcpts ? in->rcpts : "-";
	kv[k++] = "msgid";
	kv[k++] = msgid ? msgid : in->msgid ? in->msgid : "-";
	for (i = 0; i < in->nkv && k + 2 <= 2 * INBOUND_KV_MAX; i++) {
		kv[k++] = in->kv[2 * i];
		kv[k++] = in->kv[2 * i + 1];
	}
	spool_txn_journal(t, "received", name, kv, k / 2);
	free(rcpts);
	free(msgid);
}

/* inbound_commit - f into in/ with its received line */
void inbound_commit(struct relayd *rd, struct spool_txn *t, struct spool_file *f,
	const struct inbound *in, struct letter *lt)
{
	(void) rd;
	inbound_received_line(t, spool_file_name(f), in, lt);
	spool_txn_commit(t, f, SPOOL_IN);
}

/* inbound_commit_routed - f routed in t itself when it can be */
struct route_ctx *inbound_commit_routed(struct relayd *rd, struct spool_txn *t,
	struct spool_file *f, const struct inbound *in, struct letter *lt)
{
	struct route_ctx *rc;

	inbound_received_line(t, spool_file_name(f), in, lt);
	if ((rc = router_route_commit(rd, t, f, lt)) == NULL)
		spool_txn_commit(t, f, SPOOL_IN);
	return rc;
}

/* inbound_accepted_routed - the transaction of inbound_commit_routed */
void inbound_accepted_routed(struct relayd *rd, const char *name, struct route_ctx *rc,
	int ok, const char *err)
{
	if (rc != NULL)
		router_route_done(rc, ok, err);
	else if (ok)
		inbound_accepted(rd, name, 1);
}

/* inbound_claim - out/FILE into in/ with its received line */
int inbound_claim(struct relayd *rd, struct spool_txn *t, const char *file,
	const struct inbound *in, struct letter *lt, char *name, size_t len, char *err,
	size_t errlen)
{
	(void) rd;
	if (spool_txn_claim(t, file, SPOOL_IN, name, len, err, errlen) < 0)
		return -1;
	inbound_received_line(t, name, in, lt);
	return 0;
}

/* inbound_accepted - archive and route in/NAME */
void inbound_accepted(struct relayd *rd, const char *name, int archive)
{
	if (archive)
		archive_letter(rd, name);	/* opens in/NAME before routing moves it */
	router_route(rd, name);
}
