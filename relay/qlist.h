/*++
 * NAME
 *	qlist 3h
 * SUMMARY
 *	the queue listing: the letters a selection picks, summarised
 *	(mailctl queue, and the ALL of the bulk actions)
 * SYNOPSIS
 *	#include "relay/qlist.h"
 * DESCRIPTION
 *	A struct qlist is a snapshot of letters, each with its state
 *	(enum ctl_state), arrival, next hops and, once its file was read,
 *	size, sender (the header's Sender:, else From:) and Subject. It is
 *	taken in two steps, so that the daemon's loop never reads a letter:
 *
 *	1. qlist_from_queue() (the daemon, loop thread: the queue in
 *	   memory, the dockets of held letters, the names in in/ and hold/)
 *	   or qlist_from_dir() (mailctl without the daemon: the spool read
 *	   alone, read-only) takes every letter and drops those the
 *	   selection's --state, --hop, --older-than and (where the
 *	   recipients are known) --to refuse;
 *	2. qlist_read() (blocking: a worker in the daemon) opens each
 *	   letter left for its size, sender, Subject and, for letters
 *	   without envelopes, the address list, and drops those --from and
 *	   --to still refuse.
 *
 *	qlist_render() writes the listing as text or as one JSON document
 *	(doc/mailctl.1, JSON OUTPUT). Text: per letter one line
 *
 *	    NAME AGE HOPS STATE SIZE SENDER
 *
 *	(HOPS comma-separated, "-" when none is known; SIZE in octets), then
 *	indented lines: "Subject: ..." (at most QLIST_SUBJECT_SHOWN octets),
 *	one line per envelope "HOP: STATE[, N tries, next in T]: RCPTS"
 *	(at most QLIST_RCPTS_SHOWN recipients, then "+N more") with the
 *	last error on a line of its own, or "rcpts: ..." for a letter
 *	without envelopes. Text from letters and peers is shown through
 *	ctl_proto_esc(): printable ASCII, everything else as \xNN.
 *	Letters are in name order (the order they arrived).
 *
 *	qlist_start() runs both steps for the daemon: the snapshot at once,
 *	the reading and the rendering on a worker, the callback on the loop
 *	thread.
 * DIAGNOSTICS
 *	A letter that left its state between the steps keeps what the
 *	snapshot knew (size and sender unknown: -1 and NULL). A listing
 *	over QLIST_OUT_MAX octets is refused with a reason asking for a
 *	narrower selection.
 *--*/
#ifndef RELAY_QLIST_H
#define RELAY_QLIST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "relay/ctl_proto.h"

struct buf;
struct relayd;

#define QLIST_OUT_MAX	(512 * 1024 * 1024)	/* octets of one rendered listing */
#define QLIST_SUBJECT_MAX 998			/* octets of a Subject kept (RFC 5322 line) */
#define QLIST_SUBJECT_SHOWN 100			/* ... shown in the text listing */
#define QLIST_SENDER_SHOWN 200			/* octets of a sender shown in text */
#define QLIST_ERROR_SHOWN 300			/* octets of a last error shown in text */
#define QLIST_RCPTS_SHOWN 5			/* recipients shown per envelope in text */

/* One envelope: a next hop (or "local") and its pending recipients. */
struct qlist_env {
	char   *hop;
	char   *state;		/* queued, deferred, sending, delivering, finishing, held */
	unsigned attempts;
	time_t	next_try;	/* 0: due now or unknown */
	char   *error;		/* last error, or NULL */
	char  **rcpts;		/* the pending recipients, as routed */
	size_t	nrcpts;
};

/* One letter. */
struct qlist_letter {
	char   *name;
	enum ctl_state state;
	time_t	arrived;	/* 0: unknown */
	long long size;		/* octets of its file; -1 until read (or unreadable) */
	char   *from;		/* the sender, canonical; NULL: unknown */
	char   *subject;	/* unfolded, at most QLIST_SUBJECT_MAX octets; NULL: none */
	struct qlist_env *envs;
	size_t	nenvs;
	char  **rcpts;		/* from the address list: letters without envelopes */
	size_t	nrcpts;
	char  **efiles;		/* envelope files of a held letter, read by qlist_read */
	size_t	nefiles;
	int	undecided;	/* --to or --from still to be checked by qlist_read */
	int	dropped;	/* refused by the selection */
};

struct qlist {
	char   *spool;		/* the spool directory */
	time_t	now;		/* when the snapshot was taken */
	struct qlist_letter *v;
	size_t	n;
	size_t	cap;
	void   *index;		/* name -> letter, while the snapshot is taken */
};

/* qlist_new - an empty snapshot of spool at time now */
struct qlist *qlist_new(const char *spool, time_t now);
/* qlist_free - NULL allowed */
void qlist_free(struct qlist *ql);

/* qlist_letter - the letter name of ql, added (state st, arrived) if it
 * is not there; borrowed from ql until the next addition */
struct qlist_letter *qlist_letter(struct qlist *ql, const char *name, enum ctl_state st,
	time_t arrived);
/* qlist_env_add - a new envelope of l (strings copied; error NULL: none) */
struct qlist_env *qlist_env_add(struct qlist_letter *l, const char *hop, const char *state,
	unsigned attempts, time_t next_try, const char *error);
/* qlist_strv_add - append a copy of s to the vector *v of *n */
void qlist_strv_add(char ***v, size_t *n, const char *s);

/* qlist_from_queue - the daemon's snapshot (loop thread): the letters of
 * the queue in memory, of in/ and of hold/ (their envelopes from their
 * records), with step 1 of the selection applied. Never NULL. */
struct qlist *qlist_from_queue(struct relayd *rd, const struct ctl_sel *sel);

/* qlist_from_dir - the same from the spool directory alone, read-only
 * (mailctl without the daemon: dockets from the snapshot and the
 * journals, envelope files, the state directories). The snapshot, or
 * NULL with err when the spool cannot be read. */
struct qlist *qlist_from_dir(const char *spool, const struct ctl_sel *sel, char *err,
	size_t errlen);

/* qlist_select - step 1 of the selection on every letter of ql not yet
 * dropped: state, hop, age, and --to where the recipients are known
 * (else the letter is left undecided for qlist_read) */
void qlist_select(struct qlist *ql, const struct ctl_sel *sel);

/* qlist_read - step 2: every letter left is read (when all is 0, only
 * the undecided ones): size, sender, Subject, the address list of a
 * letter without envelopes, the envelope files of a held letter; then
 * --from and --to decide. Blocking. */
void qlist_read(struct qlist *ql, const struct ctl_sel *sel, int all);

/* qlist_count - letters not dropped */
size_t qlist_count(const struct qlist *ql);

/* qlist_render - the letters not dropped, as text or JSON (node names
 * the node in the JSON document), appended to out. 0, or -1 when out's
 * cap was reached (out then holds a part). */
int  qlist_render(const struct qlist *ql, const char *node, int json, struct buf *out);

/* What qlist_start() hands back, on the loop thread: ql (the caller's
 * to free with qlist_free) and, when rendering was asked, out (the
 * caller's to release and free); or ql NULL with err. */
typedef void qlist_done_fn(void *arg, struct qlist *ql, struct buf *out, const char *err);

#define QLIST_NAMES	0	/* select only (read only the undecided letters) */
#define QLIST_TEXT	1	/* select and render as text */
#define QLIST_JSON	2	/* select and render as JSON */

struct qlist_job;

/* qlist_start - the daemon: the snapshot of sel (copied) now, step 2
 * (and the rendering, with QLIST_TEXT or QLIST_JSON) on rd's worker
 * queue, then cb(arg, ...) on the loop thread. Counted in rd->jobs.
 * Returns the job, for qlist_cancel(). */
struct qlist_job *qlist_start(struct relayd *rd, const struct ctl_sel *sel, int mode,
	qlist_done_fn *cb, void *arg);
/* qlist_cancel - cb will not be called (the job ends on its own); NULL
 * allowed */
void qlist_cancel(struct qlist_job *j);

#endif
