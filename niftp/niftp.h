/*++
 * NAME
 *	niftp 3h
 * SUMMARY
 *	NIFTP-80 protocol engine, P and Q roles, sans I/O
 * SYNOPSIS
 *	#include "niftp/niftp.h"
 * DESCRIPTION
 *	One struct niftp is the NIFTP side of one transport call, in
 *	the P (initiator) or Q (responder) role. It does no network I/O:
 *	the driver feeds it the bytes received (niftp_input), pulls the
 *	bytes to send (niftp_output) when the transport has room, and
 *	tells it about transport RESETs and lost calls. File data goes
 *	through a filestore (struct niftp_fs_ops) supplied by the
 *	program: the file server, the mail spool, or a test's memory.
 *
 *	Wire format, attributes, modes, marks, resumption and the
 *	deflate extension follow DESIGN.md section 6; see doc/niftp.md
 *	for the choices this engine makes where the Blue Book is silent.
 *
 *	Several transfers may follow on one call. P starts each with
 *	niftp_start() once the previous one has ended (NIFTP_EV_DONE).
 *	Q serves SFTs as they come.
 *
 *	Asynchronous commit: when the data receiver sees ES(OK) it calls
 *	fs->commit(); ER(OK) is produced only after the program calls
 *	niftp_commit_done() with success. Likewise a filestore open may
 *	finish later (niftp_open_done) so a server can do slow work off
 *	the event loop.
 *
 *	Ownership: every pointer passed in is borrowed for the duration
 *	of the call unless said otherwise; strings in events are valid
 *	only during the callback.
 *--*/
#ifndef NIFTP_NIFTP_H
#define NIFTP_NIFTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;
struct niftp;
struct niftp_file;		/* a filestore's open file (opaque to the engine) */

/* Commands (first octet of a command record). */
#define NIFTP_STOP	0x00
#define NIFTP_GO	0x01
#define NIFTP_RPOS	0x02
#define NIFTP_RNEG	0x03
#define NIFTP_SFT	0x04
#define NIFTP_STOPACK	0x05
/* Transfer-control commands (00 cc aa escapes). */
#define NIFTP_SS	0x40
#define NIFTP_MS	0x41
#define NIFTP_CS	0x42
#define NIFTP_ES	0x43
#define NIFTP_RR	0x44
#define NIFTP_MR	0x45
#define NIFTP_QR	0x46
#define NIFTP_ER	0x47

/* Attribute identifiers. */
#define NIFTP_A_PROTOCOL	0x00
#define NIFTP_A_MODE		0x01
#define NIFTP_A_TEXTCODE	0x02
#define NIFTP_A_TEXTFMT		0x03
#define NIFTP_A_BINFMT		0x04
#define NIFTP_A_MAXRECORD	0x05
#define NIFTP_A_XFERLIMIT	0x06
#define NIFTP_A_ESTIMATE	0x07
#define NIFTP_A_TID		0x08
#define NIFTP_A_ACKWINDOW	0x0A
#define NIFTP_A_RESTARTMARK	0x0B
#define NIFTP_A_MINTIMEOUT	0x0D
#define NIFTP_A_FACILITIES	0x0E
#define NIFTP_A_STATE		0x0F
#define NIFTP_A_DATATYPE	0x20
#define NIFTP_A_DELIMPRES	0x21
#define NIFTP_A_WORDSIZE	0x24
#define NIFTP_A_FILENAME	0x40
#define NIFTP_A_USERNAME	0x42
#define NIFTP_A_PASSWORD	0x44
#define NIFTP_A_FILEPASSWORD	0x45
#define NIFTP_A_ACCOUNTPASSWORD	0x4B
#define NIFTP_A_FILESIZE	0x60
#define NIFTP_A_ACTIONMSG	0x70
#define NIFTP_A_INFOMSG		0x71

/* Qualifier octet. */
#define NIFTP_Q_MONITOR		0x80
#define NIFTP_Q_FMT_MASK	0x30
#define NIFTP_Q_UNKNOWN		0x00
#define NIFTP_Q_NOVALUE		0x10
#define NIFTP_Q_INT		0x20
#define NIFTP_Q_STRING		0x30
#define NIFTP_Q_OP_MASK		0x07
#define NIFTP_OP_EQ		2
#define NIFTP_OP_LE		3
#define NIFTP_OP_NE		5
#define NIFTP_OP_GE		6
#define NIFTP_OP_ANY		7

/* Modes of access. */
#define NIFTP_MODE_MAKE		0x0001
#define NIFTP_MODE_REPLACE	0x0002
#define NIFTP_MODE_REPLACE_MAKE	0x0003
#define NIFTP_MODE_APPEND_MAKE	0x0005
#define NIFTP_MODE_READ_REMOVE	0x8001
#define NIFTP_MODE_READ		0x8002
#define NIFTP_MODE_RESUME	0x0100
#define NIFTP_MODE_IS_READ(m)	(((m) & 0x8000) != 0)

/* Facilities. */
#define NIFTP_F_TEXTCOMP	0x0001
#define NIFTP_F_RESUME		0x0002
#define NIFTP_F_RESTART		0x0004
#define NIFTP_F_MARKACK		0x0008
#define NIFTP_F_HOLDS		0x0010
#define NIFTP_F_BINCOMP		0x0040
#define NIFTP_F_DEFLATE		0x0100	/* private: zlib raw deflate between marks */

/* Text formatting. */
#define NIFTP_TF_LINES		0x0001	/* record = line, LF not sent */
#define NIFTP_TF_TRANSPARENT	0x0080

/* State of transfer. */
#define NIFTP_ST_VIABLE		0x0000
#define NIFTP_ST_REJECTED	0x1000
#define NIFTP_ST_REJ_MSG	0x1001
#define NIFTP_ST_REJ_ATTR	0x1002
#define NIFTP_ST_REJ_LATER	0x1003
#define NIFTP_ST_REJ_NORESUME	0x1004
#define NIFTP_ST_OK		0x2000
#define NIFTP_ST_OK_PROBLEM	0x2001
#define NIFTP_ST_ABORT_NORETRY	0x3010
#define NIFTP_ST_ABORT_RETRY	0x3011

/* Initial restart mark meaning "all data is there, only STOP/STOPACK left". */
#define NIFTP_MARK_EOF		0xFFFF

/* Protocol limits (a peer passing them gets a clear protocol error). */
#define NIFTP_MAX_CMD_RECORD	8192	/* octets in one command record */
#define NIFTP_MAX_INFO		16	/* information messages kept per command */
#define NIFTP_MAX_NAME		255	/* string attribute length on the wire */
#define NIFTP_MAX_INTERVAL	0x80000000u	/* largest mark interval a sender uses; with
					 * deflate the most octets a receiver inflates
					 * before the first mark (later: the first
					 * stretch's length, i.e. the sender's interval) */

/*
 * A transfer request: what P asks for (niftp_start), or what Q was
 * asked (passed to the filestore's open). Strings are borrowed.
 */
struct niftp_req {
	uint16_t mode;		/* NIFTP_MODE_* without NIFTP_MODE_RESUME */
	int	resume;		/* resumption of an earlier transfer */
	uint16_t tid;		/* transfer id, 0 = none */
	uint16_t restart_mark;	/* requested initial restart mark (resume only) */
	int	binary;		/* data type binary (else text, IA5) */
	int	compress;	/* P: offer compression (run-length, and deflate) */
	int	mail;		/* P: mail profile (filename/username as 0x97) */
	uint32_t mark_interval;	/* P as data sender: octets between marks (0 = choose) */
	uint16_t ack_window;	/* P: window to offer (0 = default 32) */
	const char *filename;	/* remote name (P) / requested name (Q); NULL = none */
	const char *username;
	const char *password;
	int64_t	size;		/* file size in octets if known, else -1 */
	const char *copy_id;	/* "niftpmail-copy NODE/NAME size=N crc=C", or NULL */
	/* Filled in on the Q side for the filestore: */
	const char *caller;	/* caller identity (calling address, user or peer) */
	const char *info;	/* P's information messages, '\n'-separated, or NULL */
	uint16_t textfmt;	/* agreed text formatting (Q); P: 0 offers LE 0x0081,
				 * NIFTP_TF_LINES or NIFTP_TF_TRANSPARENT asks EQ */
	uint16_t facilities;	/* agreed facilities */
};

#define NIFTP_REASON_MAX	256	/* a refusal's or a filestore's reason (struct niftp_open,
				 * struct niftp_fs_ops), NUL included */

/* Result of a filestore open. */
struct niftp_open {
	struct niftp_file *fh;	/* the open file (on success) */
	char	name[256];	/* the name assigned (writes) or opened */
	int64_t	size;		/* reads: file size in octets, -1 unknown */
	/* resumption (writes): what the filestore holds durably */
	int	committed;	/* the file was already committed: only STOP left */
	uint32_t mark;		/* last durable mark number (0 = none) */
	uint64_t offset;	/* file octets at that mark */
	/* refusal: state of transfer (NIFTP_ST_REJ_*) and a reason */
	uint16_t state;
	char	reason[NIFTP_REASON_MAX];
	/* refusal (Q): the caller, not the request, is what is refused (it may
	 * not have this file): the RNEG marks the username as unacceptable,
	 * as for refused credentials, so P ends with NIFTP_ERR_AUTH (niftp
	 * get: exit 77) */
	int	denied;
};

/*
 * The filestore. All calls are made from the engine on the driver's
 * thread. Functions that can fail fill a reason (at most 255 octets)
 * and return -1; the engine turns that into the right protocol answer.
 */
struct niftp_fs_ops {
	/* open_write - a file is coming (P->Q on Q, or a get on P). Fill
	 * res->name with the assigned name. For req->resume also fill
	 * res->committed / mark / offset from the docket keyed by
	 * (req->caller, req->tid), checking req->copy_id when non-NULL;
	 * the engine truncates to the granted mark with fs->truncate().
	 * Return 0 (done now), 1 (the program will call niftp_open_done()
	 * later), or -1 with res->state and res->reason. */
	int	(*open_write)(void *fs, const struct niftp_req *req, struct niftp_open *res);
	/* open_read - a file is wanted (Q->P on Q, or a put on P). Fill
	 * res->fh, res->name, res->size. Same return convention. */
	int	(*open_read)(void *fs, const struct niftp_req *req, struct niftp_open *res);
	/* read - up to len octets from the current position; the count,
	 * 0 at end of file, or -1 with reason. In read, write, seek and
	 * truncate, reason is the engine's buffer of NIFTP_REASON_MAX
	 * octets (its text goes to the peer and into logs). */
	ssize_t	(*read)(struct niftp_file *fh, void *p, size_t len, char *reason);
	/* write - append len octets; 0 or -1 with reason (a write failure
	 * that may pass, e.g. ENOSPC, sets *retry) */
	int	(*write)(struct niftp_file *fh, const void *p, size_t len, int *retry, char *reason);
	/* seek - reads: continue reading at offset; 0 or -1 */
	int	(*seek)(struct niftp_file *fh, uint64_t offset, char *reason);
	/* truncate - writes: discard everything after offset (restart); 0 or -1 */
	int	(*truncate)(struct niftp_file *fh, uint64_t offset, char *reason);
	/* mark - writes: mark number (full count) reached at file offset;
	 * the filestore may checkpoint (make data durable and record the
	 * mark in its docket) when it likes. May be NULL. */
	void	(*mark)(struct niftp_file *fh, uint32_t mark, uint64_t offset);
	/* commit - writes: all data arrived; make it durable under its
	 * name (and the docket "committed"), then call niftp_commit_done().
	 * May call niftp_commit_done() before returning. If the engine
	 * calls suspend() or finish() on fh while the commit is pending
	 * (the call was lost or failed, or the engine was freed), the
	 * filestore must not call niftp_commit_done() for it any more; the
	 * commit may still complete (the docket then says committed and a
	 * resumption with NIFTP_MARK_EOF finds it) or be dropped. */
	void	(*commit)(struct niftp_file *fh, struct niftp *n);
	/* suspend - the transfer broke but may be resumed: keep the
	 * partial file (make it durable with its docket) and free fh. */
	void	(*suspend)(struct niftp_file *fh);
	/* finish - the transfer ended (after STOPACK, or abandoned when
	 * ok == 0). For read-and-remove with ok, remove the file, unless
	 * the filestore has remove(): then only remove() removes, and
	 * finish(fh, 1) comes after its success, or ends a transfer P did
	 * not end with 0x2000 (0x2001, "a problem"; no state), whose file
	 * stays. A write that was not committed is discarded. Frees fh. */
	void	(*finish)(struct niftp_file *fh, int ok);
	/* remove - Q sending in read-and-remove mode: P's STOP said it holds
	 * the file (state 0x2000 after the data phase, or in a resumption
	 * from 0xFFFF; a STOP before any data never removes). Remove it
	 * durably, then call
	 * niftp_remove_done(); STOPACK waits for that answer, so a caller
	 * told "done" never finds the file again. info: P's information
	 * messages on that STOP ('\n'-separated, "" none; peer text).
	 * May call niftp_remove_done() before returning. When the call is
	 * lost meanwhile the engine calls finish(fh, 0) and the filestore
	 * must not call niftp_remove_done() for it any more (the removal
	 * may still complete). May be NULL: finish(fh, 1) removes the file
	 * after STOPACK, as a plain file server does. */
	void	(*remove)(struct niftp_file *fh, struct niftp *n, const char *info);
};

/* Events from the engine. */
enum niftp_ev_type {
	NIFTP_EV_SFT,		/* Q: an SFT arrived (req filled) - informational */
	NIFTP_EV_POS,		/* transfer agreed: RPOS sent (Q) or received (P); name set */
	NIFTP_EV_PROGRESS,	/* octets moved so far (offset), size if known */
	NIFTP_EV_DATA_DONE,	/* P: ER(OK) received: the peer holds the data durably */
	NIFTP_EV_DONE,		/* transfer ended (after STOPACK, or failed): see status */
	NIFTP_EV_FAILED,	/* the call cannot go on (protocol error): disconnect */
};

/* How a transfer ended. */
enum niftp_status {
	NIFTP_OK = 0,		/* STOPACK with 0x2000 */
	NIFTP_ERR_TEMP,		/* retry later (0x1003, 0x3011, QR/ER retry bit) */
	NIFTP_ERR_RESUMABLE,	/* the call broke; resume with niftp_docket */
	NIFTP_ERR_NORESUME,	/* 0x1004: start afresh with a new transfer */
	NIFTP_ERR_PERM,		/* refused as bad data (0x1001/0x1002, no-retry errors) */
	NIFTP_ERR_AUTH,		/* refused: username/password */
	NIFTP_ERR_PROTO,	/* protocol error by the peer */
};

struct niftp_event {
	enum niftp_ev_type type;
	enum niftp_status status;	/* DONE, FAILED */
	uint16_t state;			/* state of transfer in STOPACK/RNEG */
	const char *name;		/* POS, DONE: the server-assigned name */
	const char *reason;		/* DONE (not OK), FAILED: why; peer text included */
	const struct niftp_req *req;	/* SFT, POS: the request as agreed */
	uint64_t offset;		/* PROGRESS, DONE: octets moved */
	int64_t	size;			/* PROGRESS: total if known, else -1 */
	uint32_t mark;			/* PROGRESS: last mark sent/received */
};

/*
 * P's docket: what a P needs to resume a transfer on a new call.
 * Kept by the program (durably, for the mail donor) via docket_save.
 */
struct niftp_docket {
	uint16_t tid;
	uint16_t mode;
	uint32_t mark_interval;
	uint32_t mark;		/* highest mark sent (P sender) or received (P receiver) */
	uint64_t offset;	/* file octets at that mark */
	int	data_done;	/* ER(OK) received: resume with NIFTP_MARK_EOF */
	char	name[256];	/* name assigned by Q, if known */
};

struct niftp_hooks {
	/* event - see enum niftp_ev_type; the engine may be freed inside
	 * the callback only for NIFTP_EV_FAILED and NIFTP_EV_DONE */
	void	(*event)(void *arg, struct niftp *n, const struct niftp_event *ev);
	/* auth - Q: 0 accept, -1 refuse (username/password may be NULL) */
	int	(*auth)(void *arg, const char *user, const char *password, const char *caller);
	/* docket_save - P: called before the SFT goes out and after ER(OK);
	 * 0, or -1 to abandon the transfer (temporary failure). May be NULL. */
	int	(*docket_save)(void *arg, const struct niftp_docket *d);
};

/* Engine configuration. */
struct niftp_config {
	const char *caller;	/* Q: caller identity for dockets (calling address etc.) */
	const char *info;	/* our information message (version text), or NULL */
	int	deflate;	/* offer/accept the private deflate facility (default 1) */
	int	resumption;	/* Q: agree to later resumption (filestore keeps dockets) */
	uint64_t max_size;	/* Q: largest file accepted in octets (0 = no limit) */
	int	mail_only;	/* Q: mail service: refuse read modes and given names */
	int	mail_reads;	/* Q with mail_only: also serve reads (0x8002, 0x8001) of
				 * a named file: pull mode; the filestore decides who
				 * may read what */
};

/* P receiving in the mail profile (req.mail) tells the sender the name it
 * stored the file under: an information message on its STOP, this prefix
 * and the name (pull mode: the relay journals it as the copy's remote name).
 * One message holds NIFTP_MAX_NAME octets: a name longer than
 * NIFTP_STORED_NAME_MAX is not sent at all (cut, it would name another file) */
#define NIFTP_STORED_PREFIX	"niftpmail-stored "
#define NIFTP_STORED_NAME_MAX	(NIFTP_MAX_NAME - (sizeof(NIFTP_STORED_PREFIX) - 1))	/* 238 */


/* niftp_new - a new engine; cfg and hooks are copied, fs is borrowed */
struct niftp *niftp_new(int role_p, const struct niftp_config *cfg,
	const struct niftp_hooks *hooks, void *hook_arg,
	const struct niftp_fs_ops *fs_ops, void *fs);
/* niftp_free - free the engine; an open file is finished with ok == 0
 * (or suspended if it may resume) */
void niftp_free(struct niftp *n);

/* niftp_start - P: begin a transfer; 0, or -1 when one is in progress
 * (or the call failed or was lost). Problems opening the local file are
 * reported by an NIFTP_EV_DONE event raised before it returns. */
int  niftp_start(struct niftp *n, const struct niftp_req *req);
/* niftp_resume_req - P: fill req for resuming from docket d (mode|resume,
 * tid, restart mark, interval); other fields are kept */
void niftp_resume_req(struct niftp_req *req, const struct niftp_docket *d);

/* niftp_input - bytes received from the transport; 0, or -1 after a
 * protocol error (an NIFTP_EV_FAILED event was raised) */
int  niftp_input(struct niftp *n, const void *p, size_t len);
/* niftp_output - append at most max octets of output to out; returns the
 * count appended (0 = nothing to send now) or -1 on a filestore error
 * that ended the call */
ssize_t niftp_output(struct niftp *n, struct buf *out, size_t max);
/* niftp_want_output - 1 when niftp_output() would produce octets now */
int  niftp_want_output(const struct niftp *n);
/* niftp_reset - the transport was RESET (data in flight lost): restart
 * from the last mark within the call (RR/SS) or fail the transfer */
void niftp_reset(struct niftp *n);
/* niftp_lost - the call is gone: end the current transfer (suspend it if
 * it can be resumed) and raise NIFTP_EV_DONE with NIFTP_ERR_RESUMABLE */
void niftp_lost(struct niftp *n, const char *reason);

/* niftp_commit_done - the filestore's answer to commit(): ok 1, or 0
 * with a reason and retry (temporary) flag */
void niftp_commit_done(struct niftp *n, int ok, int retry, const char *reason);
/* retry argument of niftp_commit_done: the file is refused as something the
 * caller is not permitted to send (a relaying refusal): QR(NIFTP_QR_DENIED),
 * no retry; the donor's status is NIFTP_ERR_AUTH (niftp put: exit 77) */
#define NIFTP_COMMIT_DENIED	2
#define NIFTP_QR_DENIED		0x23	/* QR/ER argument: not permitted, do not retry */
/* niftp_remove_done - the filestore's answer to remove(): ok 1 (STOPACK
 * 0x2000), or 0 with a reason (STOPACK 0x3011: the caller may come again
 * for the file, which is still there) */
void niftp_remove_done(struct niftp *n, int ok, const char *reason);
/* niftp_refuse - a filestore's refusal of an open: res->state and the
 * reason (printf format) filled in, no file; returns -1 for the open to
 * return */
int niftp_refuse(struct niftp_open *res, uint16_t state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* niftp_open_done - the filestore's late answer to an open returning 1;
 * when the transfer was abandoned meanwhile (call failed or lost), a file
 * opened (ok) is handed back at once with fs->finish(fh, 0) */
void niftp_open_done(struct niftp *n, int ok, const struct niftp_open *res);

/* niftp_idle - 1 when no transfer is in progress (P may start another) */
int  niftp_idle(const struct niftp *n);
/* niftp_docket - P: the current docket (valid until the next call) */
const struct niftp_docket *niftp_docket(const struct niftp *n);
/* niftp_mark_interval - the interval a sender uses for a file of size
 * octets: 64 KiB, doubled until the file needs fewer than 65,000 marks */
uint32_t niftp_mark_interval(int64_t size);
/* niftp_status_str - short text for a status */
const char *niftp_status_str(enum niftp_status st);

#endif
