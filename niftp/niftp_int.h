/*++
 * NAME
 *	niftp_int 3h
 * SUMMARY
 *	NIFTP-80 engine internals shared by niftp.c, niftp_attr.c, niftp_data.c
 * SYNOPSIS
 *	#include "niftp/niftp_int.h"
 * DESCRIPTION
 *	Not a public interface: the engine's state, one struct niftp per
 *	call, and the functions the three engine files call in each other.
 *	The call-level state is n->st (enum niftp_state); during the data
 *	phase n->x.ds says where the data sender or receiver stands.
 *--*/
#ifndef NIFTP_NIFTP_INT_H
#define NIFTP_NIFTP_INT_H

#include <zlib.h>

#include "niftp/niftp.h"
#include "niftp/niftp_rec.h"
#include "util/buf.h"

/* Call-level states. */
enum niftp_state {
	NS_IDLE,		/* P: no transfer; Q: waiting for an SFT */
	NS_OPENING,		/* waiting for the filestore (niftp_open_done) */
	NS_SFT_SENT,		/* P: SFT sent, waiting for RPOS or RNEG */
	NS_POS,			/* Q: RPOS sent, waiting for GO or STOP */
	NS_RNEG,		/* Q: RNEG sent, waiting for STOP */
	NS_DATA,		/* data phase, see enum niftp_dstate */
	NS_WAIT_STOP,		/* Q: data phase over, waiting for STOP */
	NS_STOP_SENT,		/* P: STOP sent, waiting for STOPACK */
	NS_REMOVING,		/* Q: read-and-remove, STOP came: waiting for the
				 * filestore's removal (niftp_remove_done) */
	NS_DEAD,		/* protocol error or lost call: nothing more */
};

/* Data phase states. */
enum niftp_dstate {
	DS_NONE,
	DS_SEND,		/* sender: SS sent, sending data and marks */
	DS_WAIT_RR,		/* sender: transport RESET, waiting for RR (or ER) */
	DS_ES_SENT,		/* sender: ES sent, waiting for ER (MR, QR allowed) */
	DR_WAIT_SS,		/* receiver: waiting for SS (start, or after RR) */
	DR_RECV,		/* receiver: receiving data */
	DR_COMMIT,		/* receiver: ES(OK) seen, commit in progress */
	DR_QR_SENT,		/* receiver: QR sent, waiting for the sender's ES */
	DX_DONE,		/* ER exchanged */
};

/* Sizes of the engine's working buffers. */
#define NIFTP_RBUF	(128 * 1024)	/* file data read ahead by a sender */
#define NIFTP_WBUF	(256 * 1024)	/* file data gathered by a receiver */
#define NIFTP_ZBUF	(64 * 1024)	/* deflate staging */
#define NIFTP_OUTQ_MAX	(64 * 1024)	/* commands and escapes waiting to go */
#define NIFTP_MAX_RESTARTS 10
#define NIFTP_OUT_CHUNK	(256 * 1024)	/* most octets one niftp_output() makes */

/* Everything about the transfer in progress; zeroed between transfers. */
struct niftp_xfer {
	struct niftp_req req;		/* request (P: copy; Q: as received) */
	char	filename[NIFTP_MAX_NAME + 1];
	char	username[NIFTP_MAX_NAME + 1];
	char	password[NIFTP_MAX_NAME + 1];
	char	copy_id[NIFTP_MAX_NAME + 1];
	char	infos[NIFTP_MAX_INFO * (NIFTP_MAX_NAME + 1)];
	struct niftp_open open;		/* filestore's answer */
	struct niftp_file *fh;
	int	active;			/* a transfer is in progress */
	int	sender;			/* we send the file data */
	int	is_write;		/* fh was opened for writing */

	/* Agreed values. */
	uint16_t mode;			/* without NIFTP_MODE_RESUME */
	uint16_t textfmt;
	uint16_t facilities;
	uint16_t maxrec;		/* 0xFFFF = unlimited */
	uint16_t window;
	uint16_t restart;		/* granted initial restart mark */
	int	binary;
	int	rle;			/* run-length compression in force */
	int	deflate;		/* private deflate facility in force */
	int	marks;			/* sender emits marks */
	int	committed_resume;	/* Q: resumed a committed file (0xFFFF) */
	uint16_t stop_state;		/* Q: P's STOP state, kept while NS_REMOVING */
	int	open_ok;		/* the filestore opened the file */
	uint16_t offered_fac;		/* P: facilities offered */
	uint8_t	ret[256];		/* Q: how each attribute goes back in RPOS */
	uint16_t retval[256];		/* Q: integer value returned */

	/* Data phase. */
	enum niftp_dstate ds;
	uint32_t interval;		/* sender's mark interval */
	uint64_t offset;		/* file octets sent / received */
	uint32_t mark;			/* last mark sent / received (full count) */
	uint64_t mark_off;		/* receiver: file offset of that mark */
	uint32_t acked;			/* sender: last MR (or RR); receiver: last MR sent */
	int	mr_due;			/* receiver: MR at the next mark (after a RR) */
	uint64_t next_mark;		/* sender: offset of the next mark */
	uint64_t reclen;		/* octets in the current record */
	int	restarts;
	int	seg_in;			/* octets entered the deflate stream since the mark */
	uint64_t stretch;		/* receiver, deflate: octets inflated since the mark */
	uint64_t stretch_max;		/* receiver, deflate: the first whole stretch (0 = none yet) */

	/* Sender buffers. */
	unsigned char *rbuf;
	size_t	rpos, rlen;
	int	eof;
	int	es_pending;		/* data all framed: send ES(es_code) */
	uint8_t	es_code;
	int	read_failed;

	/* Deflate (both directions). */
	z_stream z;
	int	z_init;			/* 1 deflate, 2 inflate */
	unsigned char *zbuf;		/* sender: compressed output; receiver: raw input */
	size_t	zpos, zlen;
	int	z_end;			/* sender: stream finished; receiver: Z_STREAM_END seen */

	/* Receiver buffers. */
	unsigned char *wbuf;
	size_t	wlen;

	/* Outcome. */
	uint8_t	qr_code;		/* receiver: QR sent / sender: QR received */
	uint8_t	err_code;		/* ES/ER error in play */
	int	data_ok;		/* ER(0) sent or received */
	int	cut_short;		/* sender: QR(0) came before our ES(OK) */
	int	commit_ok;		/* receiver: commit succeeded */
	uint16_t state;			/* our state of transfer */
	uint16_t peer_state;		/* state in RNEG, STOP or STOPACK */
	int	auth_refused;		/* RNEG named username/password */
	int	local_err;		/* the failure is ours, not the peer's */
	int	go_maybe_lost;		/* Q: a RESET came while waiting for GO */
	enum niftp_status status;
	char	reason[512];		/* our reason text */
	char	peer_info[512];		/* peer's information messages */
};

struct niftp {
	int	role_p;
	struct niftp_config cfg;
	char	*caller;		/* copies of cfg strings */
	char	*info;
	struct niftp_hooks hooks;
	void	*hook_arg;
	const struct niftp_fs_ops *fs;
	void	*fsarg;

	enum niftp_state st;
	struct niftp_dec dec;
	struct buf outq;		/* encoded commands and escapes not yet pulled */
	struct niftp_docket docket;	/* P */
	struct niftp_cmd cmd;		/* scratch: the command being handled */
	char	err[512];		/* scratch for reasons */

	int	depth;			/* API calls in progress (callbacks may re-enter) */
	int	zombie;			/* niftp_free() called inside a callback */
	int	failed;			/* NIFTP_EV_FAILED raised */
	int	gone;			/* the call is lost or failed: no new transfers */
	struct niftp_xfer x;
};

/* niftp.c */
int  niftp_emit(struct niftp *n, const struct niftp_event *ev);
int  niftp_fail(struct niftp *n, enum niftp_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int  niftp_send_cmd(struct niftp *n, uint8_t cmd, const struct niftp_attr *a, size_t na);
int  niftp_send_tcc(struct niftp *n, uint8_t cc, uint8_t arg);
void niftp_data_over(struct niftp *n);
void niftp_set_reason(struct niftp *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum niftp_status niftp_status_of_state(uint16_t st);
enum niftp_status niftp_status_of_code(uint8_t code);
uint16_t niftp_state_of_code(uint8_t code);
void niftp_xfer_release(struct niftp *n, int ok);
int  niftp_xfer_resumable(const struct niftp *n);

/* niftp_attr.c */
size_t niftp_sft_attrs(struct niftp *n, struct niftp_attr *a, size_t max);
int  niftp_q_sft(struct niftp *n);
int  niftp_q_answer(struct niftp *n);
int  niftp_p_rpos(struct niftp *n);
int  niftp_p_rneg(struct niftp *n);
void niftp_collect_info(struct niftp *n, const struct niftp_cmd *c, char *dst, size_t len);
/* niftp_p_send_stop - P: queue STOP with state and text (NULL: none; a mail
 * receiver that holds the file then names it, NIFTP_STORED_PREFIX) */
int niftp_p_send_stop(struct niftp *n, uint16_t state, const char *text);
uint16_t niftp_find_state(const struct niftp_cmd *c, uint16_t dflt);

/* niftp_data.c */
int  niftp_data_start(struct niftp *n);
ssize_t niftp_data_output(struct niftp *n, unsigned char *p, size_t room);
int  niftp_data_want(const struct niftp *n);
int  niftp_data_tcc(struct niftp *n, uint8_t tcc, uint8_t arg);
unsigned char *niftp_data_sink(struct niftp *n, size_t *room);
int  niftp_data_got(struct niftp *n, size_t dlen, int eor);
void niftp_data_reset(struct niftp *n);
void niftp_data_free(struct niftp *n);
int  niftp_data_commit_done(struct niftp *n, int ok, int retry, const char *reason);

#endif
