/*++
 * NAME
 *	unfpeer 1
 * SUMMARY
 *	replay captured unix-niftp 5.6 sessions against our P and Q (rawtcp:)
 * SYNOPSIS
 *	unfpeer p ADDR SESSION [--timeout S] [-v]
 *	unfpeer q --listen ADDR --ready-file F [--expect-file FILE] [--timeout S] [-v]
 *	unfpeer q-fail67 --listen ADDR --ready-file F [--expect-file FILE] [--timeout S] [-v]
 *	unfpeer decode SESSION
 * DESCRIPTION
 *	An independent test oracle for interworking with unix-niftp 5.6
 *	over the raw TCP mapping (called address, NUL, bare NIFTP stream).
 *	It embeds the exact bytes of the sessions in Appendix A of
 *	shared/reference/unix-niftp-sessions.md and plays one side of
 *	them, checking the other side's answers in order. It has its own
 *	minimal record and sub-record decoder and links nothing of the
 *	engine under test, on purpose.
 *
 *	p: act as unix-niftp's P against our Q ("niftp serve --listen
 *	rawtcp:HOST:PORT"). SESSION is one of:
 *
 *	  mail_small     the main accepted case. The captured preamble
 *	                 "ftp.mail" NUL and SFT are sent; the answer must be
 *	                 an RPOS whose attributes all use operator EQ (2) or
 *	                 ANY (7) (unix-niftp's P rejects any other), with
 *	                 TextFormatting EQ 0x0080 (the captured data is in
 *	                 transparent format), a Filename string (the
 *	                 server-assigned name, printed as "name NAME" on
 *	                 standard output), Facilities (if returned) keeping
 *	                 text compression (the captured data uses it) and
 *	                 every returned value within what the SFT allowed.
 *	                 Then GO and the data phase go exactly as captured,
 *	                 the answer must be ER(0) 00 47 00 (an MR(0) before
 *	                 it is accepted), STOP 0x2000 is sent and STOPACK
 *	                 with state 0x2000 must come back. Finally P closes
 *	                 its side and the server must close too.
 *	  ftp_plain      the captured plain-file SFT names
 *	                 "/var/ftp/home/niftp/recv-plain.txt" (user niftp,
 *	                 password secret). Our server refuses names with
 *	                 '/', so the choice made here is: the answer must be
 *	                 a clean RNEG with a state of transfer 0x1xxx; P then
 *	                 sends STOP 0x1000 (as unix-niftp's P does after
 *	                 RNEG) and the STOPACK must repeat the RNEG's state.
 *	                 The reason is printed as "rneg STATE TEXT".
 *	  ftp_plain_rel  not a capture: the ftp_plain SFT re-encoded with
 *	                 the relative Filename "recv-plain.txt" (the password
 *	                 string now spans a sub-record boundary). It must be
 *	                 accepted like mail_small and the captured ftp_plain
 *	                 data stored under that name ("name recv-plain.txt").
 *
 *	The stored file is compared by the calling script with the
 *	decoded captured content (tests/integration/data/).
 *
 *	q: act as unix-niftp's Q for our P ("niftp put FILE rawtcp:HOST:PORT
 *	--called ftp.mail"). Listen (the bound address goes to the ready
 *	file), accept one call, read the preamble (must be "ftp.mail" NUL),
 *	parse the SFT and check that it carries the attribute ids of the
 *	captured mail SFT (00 01 03 08 0a 0b 0e 21 40 42 60 71) with
 *	qualifiers compatible with the captured RPOS that answers it (the
 *	transfer id, the information text and mode 0x0003 instead of 0x0001
 *	may differ; other attributes unix-niftp knows may be added). Answer
 *	with the captured RPOS of mail_small (Filename
 *	"/var/ftp/spool/mail/fvdagxll", strings spanning sub-records), read
 *	GO and the data phase (SS, sub-records with run-length compression
 *	when offered, MS marks in sequence, answering MR when more than
 *	half the window of 32 is unacknowledged, ES), compare the data with
 *	--expect-file, then send MR(last mark) and ER(0) as unix-niftp's Q
 *	does (section 5.2: 00 45 14 then 00 47 00 after 20 marks; with no
 *	mark outstanding, as in mail_small, ER alone), expect STOP 0x2000,
 *	answer the captured STOPACK and expect P to close the call.
 *
 *	q-fail67: as q, but after ES(0) answer QR(0x21) as unix-niftp does
 *	when its mailer fails, expect the second ES(0x21), send ER(0x21),
 *	expect STOP with state 0x3010 and answer the captured STOPACK with
 *	"User name unknown".
 *
 *	decode: print the decoded data of a session's captured data phase
 *	(a self-check of the embedded bytes against the data files).
 *
 *	Every wait is bounded by --timeout (default 30 s) in all.
 * DIAGNOSTICS
 *	On a mismatch one line "unfpeer: FAIL: got X, want Y" on standard
 *	error and exit 1. Exit 0 when the session went as captured, 64 on a
 *	usage error. -v traces every record and command.
 *--*/
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tests/tools/toolnet.h"

#define MAX_REC		8192		/* octets in one command record */
#define MAX_ATTR	64		/* attributes in one command */
#define MAX_DATA	(64u << 20)	/* data octets accepted without --expect-file */
#define MAX_EXPECT	(256u << 20)	/* largest --expect-file */
#define PREAMBLE_MAX	64		/* called address octets */

/* Commands, transfer-control commands, attribute ids and qualifiers. */
#define C_STOP		0x00
#define C_GO		0x01
#define C_RPOS		0x02
#define C_RNEG		0x03
#define C_SFT		0x04
#define C_STOPACK	0x05
#define T_SS		0x40
#define T_MS		0x41
#define T_CS		0x42
#define T_ES		0x43
#define T_MR		0x45
#define A_TEXTFMT	0x03
#define A_FACIL		0x0e
#define A_STATE		0x0f
#define A_FILENAME	0x40
#define A_PASSWORD	0x44
#define Q_MONITOR	0x80
#define Q_FMT		0x30
#define Q_NOVAL		0x10
#define Q_INT		0x20
#define Q_STR		0x30
#define OP_EQ		2
#define OP_LE		3
#define OP_NE		5
#define OP_GE		6
#define OP_ANY		7

/*
 * The captured bytes (Appendix A of unix-niftp-sessions.md), exactly.
 * mail_small, ftp_plain and mail_fail67 share GO, ER(0), STOP 0x2000 and
 * STOPACK 0x2000, so those appear once.
 */
/* mail_small P->Q: "ftp.mail" NUL, SFT with 12 attributes (88 octets) */
static const unsigned char ms_p_sft[] = {
	0x66, 0x74, 0x70, 0x2e, 0x6d, 0x61, 0x69, 0x6c, 0x00, 0x3f, 0x04, 0x0c,
	0x00, 0x22, 0x01, 0x00, 0x01, 0x22, 0x00, 0x01, 0x03, 0x23, 0x00, 0xff,
	0x08, 0x22, 0x98, 0xc9, 0x0a, 0xa3, 0x00, 0x20, 0x0b, 0x22, 0x00, 0x00,
	0x0e, 0x23, 0x00, 0x5f, 0x21, 0x23, 0x80, 0x00, 0x40, 0x97, 0x42, 0x97,
	0x60, 0x22, 0x00, 0x01, 0x71, 0x32, 0x20, 0x55, 0x4e, 0x49, 0x58, 0x2d,
	0x4e, 0x49, 0x46, 0x54, 0x50, 0x20, 0x24, 0x52, 0x65, 0x76, 0x69, 0x73,
	0x69, 0x8e, 0x6f, 0x6e, 0x3a, 0x20, 0x35, 0x2e, 0x36, 0x2e, 0x31, 0x2e,
	0x31, 0x30, 0x20, 0x24,
};

/* mail_small Q->P: RPOS, 5 attributes, InfoMsg spanning two sub-records (85 octets) */
static const unsigned char ms_q_rpos[] = {
	0x3f, 0x02, 0x05, 0x03, 0x22, 0x00, 0x80, 0x0a, 0x22, 0x00, 0x20, 0x40,
	0x32, 0x1c, 0x2f, 0x76, 0x61, 0x72, 0x2f, 0x66, 0x74, 0x70, 0x2f, 0x73,
	0x70, 0x6f, 0x6f, 0x6c, 0x2f, 0x6d, 0x61, 0x69, 0x6c, 0x2f, 0x66, 0x76,
	0x64, 0x61, 0x67, 0x78, 0x6c, 0x6c, 0x42, 0x32, 0x04, 0x72, 0x6f, 0x6f,
	0x74, 0x71, 0x32, 0x20, 0x55, 0x4e, 0x49, 0x58, 0x2d, 0x4e, 0x49, 0x46,
	0x54, 0x50, 0x20, 0x24, 0x94, 0x52, 0x65, 0x76, 0x69, 0x73, 0x69, 0x6f,
	0x6e, 0x3a, 0x20, 0x35, 0x2e, 0x36, 0x2e, 0x31, 0x2e, 0x31, 0x30, 0x20,
	0x24,
};

/* P->Q: GO (3 octets) */
static const unsigned char ms_p_go[] = {
	0x82, 0x01, 0x00,
};

/* mail_small P->Q: SS(0), one text record (compressed runs), ES(0) (264 octets) */
static const unsigned char ms_p_data[] = {
	0x00, 0x40, 0x00, 0x23, 0x6a, 0x69, 0x6d, 0x40, 0x75, 0x6b, 0x2e, 0x61,
	0x63, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x2e, 0x71, 0x2c, 0x0a, 0x66, 0x72,
	0x65, 0x64, 0x40, 0x75, 0x6b, 0x2e, 0x61, 0x63, 0x2e, 0x74, 0x65, 0x73,
	0x74, 0x2e, 0x71, 0x42, 0x0a, 0x3f, 0x46, 0x72, 0x6f, 0x6d, 0x3a, 0x20,
	0x41, 0x6c, 0x69, 0x63, 0x65, 0x20, 0x3c, 0x61, 0x6c, 0x69, 0x63, 0x65,
	0x40, 0x75, 0x6b, 0x2e, 0x61, 0x63, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x2e,
	0x70, 0x3e, 0x0a, 0x54, 0x6f, 0x3a, 0x20, 0x6a, 0x69, 0x6d, 0x40, 0x75,
	0x6b, 0x2e, 0x61, 0x63, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x2e, 0x71, 0x2c,
	0x20, 0x66, 0x72, 0x65, 0x64, 0x40, 0x75, 0x6b, 0x2e, 0x3f, 0x61, 0x63,
	0x2e, 0x74, 0x65, 0x73, 0x74, 0x2e, 0x71, 0x0a, 0x53, 0x75, 0x62, 0x6a,
	0x65, 0x63, 0x74, 0x3a, 0x20, 0x4e, 0x49, 0x46, 0x54, 0x50, 0x20, 0x69,
	0x6e, 0x74, 0x65, 0x72, 0x6f, 0x70, 0x20, 0x74, 0x65, 0x73, 0x74, 0x0a,
	0x44, 0x61, 0x74, 0x65, 0x3a, 0x20, 0x4d, 0x6f, 0x6e, 0x2c, 0x20, 0x32,
	0x33, 0x20, 0x4e, 0x6f, 0x76, 0x20, 0x38, 0x37, 0x20, 0x31, 0x39, 0x3a,
	0x35, 0x02, 0x30, 0x3a, 0x42, 0x30, 0x04, 0x20, 0x47, 0x4d, 0x54, 0x42,
	0x0a, 0x02, 0x48, 0x65, 0x42, 0x6c, 0x1d, 0x6f, 0x20, 0x76, 0x69, 0x61,
	0x20, 0x4e, 0x49, 0x46, 0x54, 0x50, 0x2d, 0x38, 0x30, 0x20, 0x61, 0x6e,
	0x64, 0x20, 0x74, 0x68, 0x65, 0x20, 0x47, 0x72, 0x65, 0x79, 0x20, 0x42,
	0x42, 0x6f, 0xaa, 0x6b, 0x2e, 0x0a, 0x54, 0x68, 0x69, 0x73, 0x20, 0x6c,
	0x69, 0x6e, 0x65, 0x20, 0x6d, 0x65, 0x6e, 0x74, 0x69, 0x6f, 0x6e, 0x73,
	0x20, 0x2d, 0x64, 0x61, 0x73, 0x68, 0x20, 0x61, 0x6e, 0x64, 0x20, 0x27,
	0x71, 0x75, 0x6f, 0x74, 0x65, 0x73, 0x27, 0x2e, 0x0a, 0x00, 0x43, 0x00,
};

/* Q->P: ER(0) (3 octets) */
static const unsigned char ms_q_er[] = {
	0x00, 0x47, 0x00,
};

/* P->Q: STOP, state 0x2000 (7 octets) */
static const unsigned char ms_p_stop[] = {
	0x86, 0x00, 0x01, 0x0f, 0x22, 0x20, 0x00,
};

/* Q->P: STOPACK, state 0x2000 (7 octets) */
static const unsigned char ms_q_stopack[] = {
	0x86, 0x05, 0x01, 0x0f, 0x22, 0x20, 0x00,
};

/* ftp_plain P->Q: "ftp" NUL, SFT with 13 attributes, Filename spanning two sub-records (134 octets) */
static const unsigned char fp_p_sft[] = {
	0x66, 0x74, 0x70, 0x00, 0x3f, 0x04, 0x0d, 0x00, 0x22, 0x01, 0x00, 0x01,
	0x22, 0x00, 0x01, 0x03, 0x23, 0x00, 0xff, 0x08, 0x22, 0x98, 0xc6, 0x0a,
	0xa3, 0x00, 0x20, 0x0b, 0x22, 0x00, 0x00, 0x0e, 0x23, 0x00, 0x5f, 0x21,
	0x23, 0x80, 0x00, 0x40, 0x32, 0x22, 0x2f, 0x76, 0x61, 0x72, 0x2f, 0x66,
	0x74, 0x70, 0x2f, 0x68, 0x6f, 0x6d, 0x65, 0x2f, 0x6e, 0x69, 0x66, 0x74,
	0x70, 0x2f, 0x72, 0x65, 0x63, 0x76, 0x2d, 0x70, 0x3f, 0x6c, 0x61, 0x69,
	0x6e, 0x2e, 0x74, 0x78, 0x74, 0x42, 0x32, 0x05, 0x6e, 0x69, 0x66, 0x74,
	0x70, 0x44, 0x32, 0x06, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x60, 0x22,
	0x00, 0x01, 0x71, 0x32, 0x20, 0x55, 0x4e, 0x49, 0x58, 0x2d, 0x4e, 0x49,
	0x46, 0x54, 0x50, 0x20, 0x24, 0x52, 0x65, 0x76, 0x69, 0x73, 0x69, 0x6f,
	0x6e, 0x3a, 0x20, 0x35, 0x2e, 0x36, 0x2e, 0x31, 0x2e, 0x31, 0x30, 0x20,
	0x81, 0x24,
};

/* ftp_plain P->Q: SS(0), one text record, ES(0) (95 octets) */
static const unsigned char fp_p_data[] = {
	0x00, 0x40, 0x00, 0x02, 0x48, 0x65, 0x42, 0x6c, 0x32, 0x6f, 0x20, 0x4e,
	0x49, 0x46, 0x54, 0x50, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x2e, 0x0a,
	0x53, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x20, 0x6c, 0x69, 0x6e, 0x65, 0x20,
	0x6f, 0x66, 0x20, 0x74, 0x68, 0x65, 0x20, 0x70, 0x6c, 0x61, 0x69, 0x6e,
	0x20, 0x74, 0x65, 0x78, 0x74, 0x20, 0x66, 0x69, 0x6c, 0x65, 0x2e, 0x42,
	0x0a, 0x9e, 0x4c, 0x61, 0x73, 0x74, 0x20, 0x6c, 0x69, 0x6e, 0x65, 0x20,
	0x61, 0x66, 0x74, 0x65, 0x72, 0x20, 0x61, 0x20, 0x62, 0x6c, 0x61, 0x6e,
	0x6b, 0x20, 0x6c, 0x69, 0x6e, 0x65, 0x2e, 0x0a, 0x00, 0x43, 0x00,
};

/* mail_fail67 Q->P: QR(0x21) (3 octets) */
static const unsigned char f67_q_qr[] = {
	0x00, 0x46, 0x21,
};

/* mail_fail67 P->Q: the second ES(0x21) (3 octets) */
static const unsigned char f67_p_es2[] = {
	0x00, 0x43, 0x21,
};

/* mail_fail67 Q->P: ER(0x21) (3 octets) */
static const unsigned char f67_q_er[] = {
	0x00, 0x47, 0x21,
};

/* mail_fail67 P->Q: STOP, state 0x3010, "Got a QR(21)" (22 octets) */
static const unsigned char f67_p_stop[] = {
	0x95, 0x00, 0x02, 0x0f, 0x22, 0x30, 0x10, 0x71, 0x32, 0x0c, 0x47, 0x6f,
	0x74, 0x20, 0x61, 0x20, 0x51, 0x52, 0x28, 0x32, 0x31, 0x29,
};

/* mail_fail67 Q->P: STOPACK, state 0x3010, "User name unknown" (27 octets) */
static const unsigned char f67_q_stopack[] = {
	0x9a, 0x05, 0x02, 0x0f, 0x22, 0x30, 0x10, 0x71, 0x32, 0x11, 0x55, 0x73,
	0x65, 0x72, 0x20, 0x6e, 0x61, 0x6d, 0x65, 0x20, 0x75, 0x6e, 0x6b, 0x6e,
	0x6f, 0x77, 0x6e,
};

/* ftp_plain_rel P->Q: ftp_plain's SFT with Filename "recv-plain.txt" (re-encoded, not captured) (113 octets) */
static const unsigned char fr_p_sft[] = {
	0x66, 0x74, 0x70, 0x00, 0x3f, 0x04, 0x0d, 0x00, 0x22, 0x01, 0x00, 0x01,
	0x22, 0x00, 0x01, 0x03, 0x23, 0x00, 0xff, 0x08, 0x22, 0x98, 0xc6, 0x0a,
	0xa3, 0x00, 0x20, 0x0b, 0x22, 0x00, 0x00, 0x0e, 0x23, 0x00, 0x5f, 0x21,
	0x23, 0x80, 0x00, 0x40, 0x32, 0x0e, 0x72, 0x65, 0x63, 0x76, 0x2d, 0x70,
	0x6c, 0x61, 0x69, 0x6e, 0x2e, 0x74, 0x78, 0x74, 0x42, 0x32, 0x05, 0x6e,
	0x69, 0x66, 0x74, 0x70, 0x44, 0x32, 0x06, 0x73, 0xac, 0x65, 0x63, 0x72,
	0x65, 0x74, 0x60, 0x22, 0x00, 0x01, 0x71, 0x32, 0x20, 0x55, 0x4e, 0x49,
	0x58, 0x2d, 0x4e, 0x49, 0x46, 0x54, 0x50, 0x20, 0x24, 0x52, 0x65, 0x76,
	0x69, 0x73, 0x69, 0x6f, 0x6e, 0x3a, 0x20, 0x35, 0x2e, 0x36, 0x2e, 0x31,
	0x2e, 0x31, 0x30, 0x20, 0x24,
};


/* STOP with state 0x1000, as unix-niftp's P sends it after an RNEG (section 4.5). */
static const unsigned char p_stop_rejected[] = { 0x86, 0x00, 0x01, 0x0f, 0x22, 0x10, 0x00 };

struct session {
	const char *name;
	const unsigned char *sft;	/* preamble + SFT */
	size_t	sftlen;
	const unsigned char *data;	/* GO is separate; SS .. ES */
	size_t	datalen;
	int	accept;			/* the server must answer RPOS */
};

static const struct session sessions[] = {
	{ "mail_small", ms_p_sft, sizeof(ms_p_sft), ms_p_data, sizeof(ms_p_data), 1 },
	{ "ftp_plain", fp_p_sft, sizeof(fp_p_sft), fp_p_data, sizeof(fp_p_data), 0 },
	{ "ftp_plain_rel", fr_p_sft, sizeof(fr_p_sft), fp_p_data, sizeof(fp_p_data), 1 },
};

/* Set once from the command line. */
static int verbose;

/* A byte source: a socket, or (fd -1) bytes in memory. */
struct conn {
	int	fd;
	const unsigned char *in;	/* unread octets in[off .. len) */
	size_t	off, len;
	unsigned char buf[16384];
	double	deadline, timeout;
	const char *want;		/* what we wait for, for messages */
	const char *who;		/* whose octets we read: "P" or "Q" */
};

struct attr {
	unsigned id, qual, ival;
	size_t	slen;
	unsigned char s[256];
};

struct cmd {
	unsigned code, n;
	struct attr a[MAX_ATTR];
};

/* An item of the stream: a transfer-control command or a whole record. */
struct item {
	int	tcc;
	unsigned cc, aa;
	size_t	len;
	unsigned char rec[MAX_REC];
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* die - report a failure of the session and exit 1 */
static void die(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "unfpeer: FAIL: %s\n", msg);
	exit(1);
}

/* note - trace line with -v */
static void note(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fputs("unfpeer: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *cmd_name(unsigned code)
{
	static const char *const names[] = { "STOP", "GO", "RPOS", "RNEG", "SFT", "STOPACK" };

	return code < 6 ? names[code] : "unknown command";
}

static const char *tcc_name(unsigned cc)
{
	static const char *const names[] = { "SS", "MS", "CS", "ES", "RR", "MR", "QR", "ER" };

	return cc >= 0x40 && cc <= 0x47 ? names[cc - 0x40] : "unknown TCC";
}

/* hex - up to max octets as "66 74 70 ..." */
static const char *hex(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < len && o + 4 < outlen; i++)
		o += (size_t) snprintf(out + o, outlen - o, "%s%02x", i ? " " : "", p[i]);
	if (i < len && o + 4 < outlen)
		snprintf(out + o, outlen - o, " ...");
	return out;
}

/* strq - a peer's string, quoted, control octets escaped */
static void strq(const unsigned char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (outlen < 8)
		return;
	out[o++] = '"';
	for (i = 0; i < len && o + 6 < outlen; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			out[o++] = (char) s[i];
		else
			o += (size_t) snprintf(out + o, outlen - o, "\\x%02x", s[i]);
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* cmd_str - "RPOS [03 22 0x0080, 40 32 "name", ...]" */
static const char *cmd_str(const struct cmd *c, char *out, size_t outlen)
{
	size_t o;
	unsigned i;

	o = (size_t) snprintf(out, outlen, "%s [", cmd_name(c->code));
	for (i = 0; i < c->n && o < outlen; i++) {
		const struct attr *a = &c->a[i];
		char v[600];

		if ((a->qual & Q_FMT) == Q_INT)
			snprintf(v, sizeof(v), " 0x%04x", a->ival);
		else if ((a->qual & Q_FMT) == Q_STR) {
			v[0] = ' ';
			strq(a->s, a->slen, v + 1, sizeof(v) - 1);
		} else
			v[0] = '\0';
		o += (size_t) snprintf(out + o, outlen - o, "%s%02x %02x%s", i ? ", " : "",
			a->id, a->qual, v);
	}
	if (o < outlen)
		snprintf(out + o, outlen - o, "]");
	return out;
}

/* parse_cmd - a command record into code and attributes; 0 or -1 with why */
static int parse_cmd(const unsigned char *r, size_t len, struct cmd *c, char *why, size_t wl)
{
	size_t pos = 2;
	unsigned i;

	if (len < 2) {
		snprintf(why, wl, "a record of %zu octets is too short for a command", len);
		return -1;
	}
	c->code = r[0];
	c->n = r[1];
	if (c->n > MAX_ATTR) {
		snprintf(why, wl, "%u attributes, at most %d expected", c->n, MAX_ATTR);
		return -1;
	}
	for (i = 0; i < c->n; i++) {
		struct attr *a = &c->a[i];

		if (pos + 2 > len)
			goto short_rec;
		a->id = r[pos];
		a->qual = r[pos + 1];
		a->ival = 0;
		a->slen = 0;
		pos += 2;
		switch (a->qual & Q_FMT) {
		case Q_INT:
			if (pos + 2 > len)
				goto short_rec;
			a->ival = (unsigned) r[pos] << 8 | r[pos + 1];
			pos += 2;
			break;
		case Q_STR:
			if (pos + 1 > len)
				goto short_rec;
			a->slen = r[pos++];
			if (pos + a->slen > len)
				goto short_rec;
			memcpy(a->s, r + pos, a->slen);
			pos += a->slen;
			break;
		default:
			break;
		}
	}
	if (pos != len) {
		snprintf(why, wl, "%zu octets left after the last of %u attributes", len - pos, c->n);
		return -1;
	}
	return 0;
short_rec:
	snprintf(why, wl, "attribute %u of %u is cut short by the end of the record", i + 1, c->n);
	return -1;
}

static const struct attr *find_attr(const struct cmd *c, unsigned id)
{
	unsigned i;

	for (i = 0; i < c->n; i++)
		if (c->a[i].id == id)
			return &c->a[i];
	return NULL;
}

static unsigned count_attr(const struct cmd *c, unsigned id)
{
	unsigned i, k = 0;

	for (i = 0; i < c->n; i++)
		k += c->a[i].id == id;
	return k;
}

/* infos - the information messages of a command, joined with "; " */
static const char *infos(const struct cmd *c, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned i;

	out[0] = '\0';
	for (i = 0; i < c->n && o + 8 < outlen; i++) {
		char q[600];

		if ((c->a[i].id != 0x70 && c->a[i].id != 0x71) || (c->a[i].qual & Q_FMT) != Q_STR)
			continue;
		strq(c->a[i].s, c->a[i].slen, q, sizeof(q));
		o += (size_t) snprintf(out + o, outlen - o, "%s%s", o ? "; " : "", q);
	}
	return out;
}

/* c_mem - a source over bytes in memory */
static void c_mem(struct conn *c, const unsigned char *p, size_t len, const char *who)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->in = p;
	c->len = len;
	c->who = who;
}

/* c_sock - a source over a connected socket, all waits within timeout */
static void c_sock(struct conn *c, int fd, double timeout, const char *who)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->in = c->buf;
	c->timeout = timeout;
	c->deadline = tn_now() + timeout;
	c->who = who;
}

/* c_fill - read more octets: the count, or 0 at the end of the stream */
static size_t c_fill(struct conn *c)
{
	struct pollfd pfd;
	ssize_t n;
	int rc;

	if (c->fd < 0)
		return 0;
	for (;;) {
		double left = c->deadline - tn_now();

		if (left <= 0)
			die("timed out after %.0f s waiting for %s from %s", c->timeout, c->want, c->who);
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, (int) (left * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			die("poll: %s", strerror(errno));
		if (rc == 0)
			continue;
		n = read(c->fd, c->buf, sizeof(c->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("got %s from %s, want %s", strerror(errno), c->who, c->want);
		c->in = c->buf;
		c->off = 0;
		c->len = (size_t) n;
		return (size_t) n;
	}
}

/* c_byte - the next octet; the end of the stream is a failure here */
static unsigned c_byte(struct conn *c)
{
	if (c->off == c->len && c_fill(c) == 0)
		die("got the end of the stream from %s, want %s", c->who, c->want);
	return c->in[c->off++];
}

/* c_send - send octets to the peer (nothing for a memory source) */
static void c_send(struct conn *c, const unsigned char *p, size_t len, const char *what)
{
	char h[200];

	if (c->fd < 0)
		return;
	note("send %s: %s", what, hex(p, len, h, sizeof(h)));
	if (tn_write_all(c->fd, p, len) < 0)
		die("send %s: %s", what, strerror(errno));
}

/* read_item - the next TCC (00 cc aa) or whole command record */
static void read_item(struct conn *c, struct item *it)
{
	unsigned h = c_byte(c);

	it->tcc = 0;
	it->len = 0;
	if (h == 0) {
		it->tcc = 1;
		it->cc = c_byte(c);
		it->aa = c_byte(c);
		note("got TCC %s(0x%02x)", tcc_name(it->cc), it->aa);
		return;
	}
	for (;;) {
		unsigned n = h & 0x3f;

		if (h & 0x40)
			die("got a compressed sub-record (header 0x%02x) from %s, want %s: "
				"compression is off outside the data phase", h, c->who, c->want);
		if (it->len + n > MAX_REC)
			die("got a command record longer than %d octets from %s, want %s",
				MAX_REC, c->who, c->want);
		while (n-- > 0)
			it->rec[it->len++] = (unsigned char) c_byte(c);
		if (h & 0x80)
			break;
		h = c_byte(c);
		if (h == 0)
			die("got a transfer-control command inside a command record from %s, want %s",
				c->who, c->want);
	}
}

/* item_str - describe an item for a message */
static const char *item_str(const struct item *it, char *out, size_t outlen)
{
	struct cmd c;
	char why[200], h[200];

	if (it->tcc) {
		snprintf(out, outlen, "%s(0x%02x) 00 %02x %02x", tcc_name(it->cc), it->aa, it->cc, it->aa);
		return out;
	}
	if (parse_cmd(it->rec, it->len, &c, why, sizeof(why)) < 0) {
		snprintf(out, outlen, "a malformed record (%s): %s", why, hex(it->rec, it->len, h, sizeof(h)));
		return out;
	}
	return cmd_str(&c, out, outlen);
}

/* read_cmd - the next item must be a well-formed command record */
static void read_cmd(struct conn *c, struct cmd *cmd)
{
	static struct item it;
	char why[200], h[4096];

	read_item(c, &it);
	if (it.tcc)
		die("got %s from %s, want %s", item_str(&it, h, sizeof(h)), c->who, c->want);
	if (parse_cmd(it.rec, it.len, cmd, why, sizeof(why)) < 0)
		die("got a malformed record from %s (%s): %s, want %s", c->who, why,
			hex(it.rec, it.len, h, sizeof(h)), c->want);
	if (c->fd >= 0)
		note("got %s", cmd_str(cmd, h, sizeof(h)));
}

/* captured_cmd - parse a record of the embedded capture (after a preamble) */
static void captured_cmd(const unsigned char *p, size_t len, struct cmd *cmd)
{
	struct conn c;
	size_t i = 0;

	if (len > 0 && p[0] >= 'a' && p[0] <= 'z') {
		while (i < len && p[i] != 0)
			i++;
		i++;
	}
	c_mem(&c, p + i, len - i, "the capture");
	c.want = "a command record";
	read_cmd(&c, cmd);
}

/* state_of - the state of transfer of a command, or -1 when absent */
static long state_of(const struct cmd *c)
{
	const struct attr *a = find_attr(c, A_STATE);

	if (a == NULL || (a->qual & Q_FMT) != Q_INT)
		return -1;
	return (long) a->ival;
}

/* expect_eof - the peer must end the call now: no more octets, an orderly close */
static void expect_eof(struct conn *c, int shut_first)
{
	char h[200];

	if (shut_first)
		(void) shutdown(c->fd, SHUT_WR);
	c->want = "the end of the call";
	if (c->off < c->len)
		die("got %zu more octets from %s after STOPACK (%s), want the end of the call",
			c->len - c->off, c->who, hex(c->in + c->off, c->len - c->off, h, sizeof(h)));
	if (c_fill(c) != 0)
		die("got %zu more octets from %s after STOPACK (%s), want the end of the call",
			c->len, c->who, hex(c->in, c->len, h, sizeof(h)));
}

/*
 * The data phase, as the receiver: SS(0), sub-records (run-length
 * compressed ones when text compression is in force), MS in sequence,
 * CS(IA5), up to ES. The data goes to out_fd and/or is compared with
 * the expected file.
 */
struct dstate {
	const unsigned char *expect;	/* NULL: no comparison */
	size_t	expect_len;
	int	out_fd;			/* -1: none */
	unsigned fac;			/* facilities in force */
	unsigned window;		/* acknowledgement window */
	uint64_t total;			/* decoded octets */
	uint64_t mark_at;		/* octets at the last mark */
	uint64_t interval;		/* octets between the first two marks */
	unsigned marks, records, last_mark, unacked, mrs;
	int	open_record;
};

static void emit(struct dstate *d, const unsigned char *p, size_t len)
{
	size_t i;

	if (d->expect != NULL) {
		if (d->total + len > d->expect_len)
			die("got more data than the file's %zu octets (at octet %llu)",
				d->expect_len, (unsigned long long) d->total);
		for (i = 0; i < len; i++)
			if (p[i] != d->expect[d->total + i])
				die("data differs at octet %llu: got 0x%02x, want 0x%02x",
					(unsigned long long) (d->total + i), p[i],
					d->expect[d->total + i]);
	} else if (d->total + len > MAX_DATA)
		die("got more than %u octets of data", MAX_DATA);
	if (d->out_fd >= 0 && tn_write_all(d->out_fd, p, len) < 0)
		die("write decoded data: %s", strerror(errno));
	d->total += len;
}

/* data_phase - decode up to ES; returns the ES argument */
static unsigned data_phase(struct conn *c, struct dstate *d)
{
	unsigned char chunk[64];
	unsigned h, cc, aa, n, i;

	c->want = "SS(0x00) 00 40 00";
	h = c_byte(c);
	if (h != 0)
		die("got sub-record header 0x%02x from %s, want SS(0x00) 00 40 00 first", h, c->who);
	cc = c_byte(c);
	aa = c_byte(c);
	if (cc != T_SS || aa != 0)
		die("got %s(0x%02x) from %s, want SS(0x00) 00 40 00", tcc_name(cc), aa, c->who);
	note("got SS(0x00)");
	c->want = "data, MS or ES";
	for (;;) {
		h = c_byte(c);
		if (h == 0) {
			cc = c_byte(c);
			aa = c_byte(c);
			switch (cc) {
			case T_MS:
				if (aa != ((d->last_mark + 1) & 0xff))
					die("got MS(0x%02x), want MS(0x%02x): marks go in sequence",
						aa, (d->last_mark + 1) & 0xff);
				if (d->marks == 1)
					d->interval = d->total - d->mark_at;
				d->last_mark = aa;
				d->mark_at = d->total;
				d->marks++;
				if (++d->unacked > d->window / 2) {
					unsigned char mr[3] = { 0x00, T_MR, (unsigned char) aa };

					c_send(c, mr, sizeof(mr), "MR");
					d->unacked = 0;
					d->mrs++;
				}
				break;
			case T_CS:
				if ((aa & 0x0f) != 0)
					die("got CS(0x%02x), want CS(0x00) (IA5): the transfer is text", aa);
				break;
			case T_ES:
				note("got ES(0x%02x) after %llu octets, %u marks, %u records", aa,
					(unsigned long long) d->total, d->marks, d->records);
				return aa;
			default:
				die("got %s(0x%02x) 00 %02x %02x in the data phase, want MS, CS or ES",
					tcc_name(cc), aa, cc, aa);
			}
			continue;
		}
		n = h & 0x3f;
		if (h & 0x40) {
			if (!(d->fac & 0x01))
				die("got a compressed sub-record (header 0x%02x), but text "
					"compression (facility 0x01) is not in force", h);
			chunk[0] = (unsigned char) c_byte(c);
			for (i = 1; i < n; i++)
				chunk[i] = chunk[0];
		} else
			for (i = 0; i < n; i++)
				chunk[i] = (unsigned char) c_byte(c);
		emit(d, chunk, n);
		d->open_record = !(h & 0x80);
		if (h & 0x80)
			d->records++;
	}
}

/* find_session - by name, or die */
static const struct session *find_session(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(sessions) / sizeof(sessions[0]); i++)
		if (strcmp(sessions[i].name, name) == 0)
			return &sessions[i];
	fprintf(stderr, "unfpeer: unknown session '%s' (mail_small, ftp_plain, ftp_plain_rel)\n", name);
	exit(64);
}

/* is_mask - attributes whose integer value is a bit mask (LE = subset) */
static int is_mask(unsigned id)
{
	return id == A_TEXTFMT || id == A_FACIL || id == 0x20 || id == 0x21;
}

/*
 * check_rpos - the RPOS rules unix-niftp's P applies, and the values the
 * replayed data depends on.
 */
static void check_rpos(const struct cmd *r, const struct cmd *sft)
{
	char h[4096];
	const struct attr *a;
	unsigned i;

	cmd_str(r, h, sizeof(h));
	for (i = 0; i < r->n; i++) {
		const struct attr *ra = &r->a[i], *sa;
		unsigned op = ra->qual & 0x07;

		if (op != OP_EQ && op != OP_ANY)
			die("got RPOS attribute 0x%02x with qualifier 0x%02x (operator %u), want "
				"operator EQ (2) or ANY (7): unix-niftp's P rejects others; RPOS was %s",
				ra->id, ra->qual, op, h);
		if (ra->id == A_PASSWORD && (ra->qual & Q_FMT) == Q_STR)
			die("got the password echoed in RPOS, want it never echoed: %s", h);
		if (ra->id == A_STATE && ra->ival != 0)
			die("got state of transfer 0x%04x in RPOS, want 0x0000 (viable): %s", ra->ival, h);
		sa = find_attr(sft, ra->id);
		if (sa == NULL || ra->id == 0x70 || ra->id == 0x71)
			continue;
		if ((sa->qual & Q_FMT) == Q_INT && (ra->qual & Q_FMT) == Q_INT) {
			unsigned sv = sa->ival, rv = ra->ival, sop = sa->qual & 0x07;
			int ok = 1;

			if (sop == OP_EQ)
				ok = rv == sv;
			else if (sop == OP_LE)
				ok = is_mask(ra->id) ? (rv & ~sv) == 0 : rv <= sv;
			else if (sop == OP_GE)
				ok = rv >= sv;
			if (!ok)
				die("got attribute 0x%02x = 0x%04x in RPOS, want a value the SFT allowed "
					"(operator %u 0x%04x): %s", ra->id, rv, sop, sv, h);
		}
		if ((sa->qual & Q_FMT) == Q_STR && (sa->qual & 0x07) == OP_EQ &&
		    (ra->qual & Q_FMT) == Q_STR &&
		    (ra->slen != sa->slen || memcmp(ra->s, sa->s, sa->slen) != 0))
			die("got attribute 0x%02x changed in RPOS, want the SFT's value (EQ): %s", ra->id, h);
	}
	a = find_attr(r, A_TEXTFMT);
	if (a == NULL || (a->qual & Q_FMT) != Q_INT || a->ival != 0x0080)
		die("got %s, want TextFormatting EQ 0x0080 in RPOS: offered LE 0x00FF, unix-niftp's Q "
			"picks 0x80 and the captured data is in that transparent format", h);
	a = find_attr(r, A_FACIL);
	if (a != NULL && ((a->qual & Q_FMT) != Q_INT || !(a->ival & 0x01)))
		die("got %s, want Facilities absent or with text compression (0x01): the "
			"captured data is run-length compressed", h);
	a = find_attr(sft, A_FILENAME);
	if (a != NULL && (a->qual & Q_MONITOR)) {
		const struct attr *f = find_attr(r, A_FILENAME);

		if (f == NULL || (f->qual & Q_FMT) != Q_STR || f->slen == 0)
			die("got %s, want the Filename (monitored by the SFT) as a string: the "
				"server-assigned name", h);
	}
}

/* run_p - play unix-niftp's P against our server */
static int run_p(const char *addr_s, const struct session *s, double timeout)
{
	struct tn_addr addr;
	struct cmd sft, r, want_stop;
	struct conn c;
	static struct item it;
	char err[512], h[4096], inf[2048], name[600];
	const struct attr *fa;
	long st;
	int fd;

	captured_cmd(s->sft, s->sftlen, &sft);
	if (tn_parse_addr(addr_s, &addr, err, sizeof(err)) < 0 ||
	    strcmp(addr.prefix, "rawtcp") != 0) {
		fprintf(stderr, "unfpeer: p wants a rawtcp:HOST:PORT address, got '%s'\n", addr_s);
		return 64;
	}
	fd = tn_connect(&addr, (int) (timeout * 1000), err, sizeof(err));
	if (fd < 0)
		die("%s", err);
	c_sock(&c, fd, timeout, "the server (Q)");

	c_send(&c, s->sft, s->sftlen, "preamble and SFT");
	c.want = s->accept ? "RPOS" : "RNEG";
	read_cmd(&c, &r);
	if (!s->accept) {
		if (r.code != C_RNEG)
			die("got %s, want RNEG: the captured Filename \"/var/ftp/home/niftp/"
				"recv-plain.txt\" contains '/', which our server refuses", cmd_str(&r, h, sizeof(h)));
		st = state_of(&r);
		if (st < 0x1000 || st > 0x1fff)
			die("got %s, want RNEG with a state of transfer 0x1xxx", cmd_str(&r, h, sizeof(h)));
		printf("rneg 0x%04lx %s\n", (unsigned long) st, infos(&r, inf, sizeof(inf)));
		fflush(stdout);
		c_send(&c, p_stop_rejected, sizeof(p_stop_rejected), "STOP 0x1000");
		snprintf(err, sizeof(err), "STOPACK repeating the RNEG's state 0x%04lx", (unsigned long) st);
		c.want = err;
		read_cmd(&c, &r);
		if (r.code != C_STOPACK || state_of(&r) != st)
			die("got %s, want %s", cmd_str(&r, h, sizeof(h)), err);
		expect_eof(&c, 1);
		close(fd);
		fprintf(stderr, "unfpeer: p %s: ok (RNEG 0x%04lx)\n", s->name, (unsigned long) st);
		return 0;
	}
	if (r.code != C_RPOS)
		die("got %s, want RPOS", cmd_str(&r, h, sizeof(h)));
	check_rpos(&r, &sft);
	fa = find_attr(&r, A_FILENAME);
	if (fa == NULL || (fa->qual & Q_FMT) != Q_STR)
		fa = find_attr(&sft, A_FILENAME);
	if (fa == NULL || (fa->qual & Q_FMT) != Q_STR)
		die("no file name in the RPOS nor in the SFT");
	memcpy(name, fa->s, fa->slen);
	name[fa->slen] = '\0';
	if (strlen(name) != fa->slen)
		die("got a file name with a NUL octet in RPOS");
	printf("name %s\n", name);
	fflush(stdout);

	c_send(&c, ms_p_go, sizeof(ms_p_go), "GO");
	c_send(&c, s->data, s->datalen, "data phase");
	c.want = "ER(0x00) 00 47 00";
	for (;;) {
		read_item(&c, &it);
		if (it.tcc && it.cc == T_MR && it.aa == 0)
			continue;	/* unix-niftp's Q may acknowledge the last mark (0) before ER */
		if (it.tcc && it.len == 0 && it.cc == ms_q_er[1] && it.aa == ms_q_er[2])
			break;
		die("got %s, want ER(0x00) 00 47 00", item_str(&it, h, sizeof(h)));
	}
	captured_cmd(ms_p_stop, sizeof(ms_p_stop), &want_stop);
	c_send(&c, ms_p_stop, sizeof(ms_p_stop), "STOP 0x2000");
	c.want = "STOPACK with state 0x2000";
	read_cmd(&c, &r);
	if (r.code != C_STOPACK || state_of(&r) != state_of(&want_stop))
		die("got %s, want STOPACK with state 0x%04lx", cmd_str(&r, h, sizeof(h)),
			(unsigned long) state_of(&want_stop));
	expect_eof(&c, 1);
	close(fd);
	fprintf(stderr, "unfpeer: p %s: ok (name %s)\n", s->name, name);
	return 0;
}

/* known_id - attributes unix-niftp 5.6 knows (others would fail its SFT) */
static int known_id(unsigned id)
{
	static const unsigned char ids[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		0x08, 0x0a, 0x0b, 0x0d, 0x0e, 0x0f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x40, 0x42,
		0x44, 0x45, 0x4a, 0x4b, 0x50, 0x51, 0x60, 0x70, 0x71 };
	size_t i;

	for (i = 0; i < sizeof(ids); i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/*
 * check_sft - our P's mail SFT against the captured one: the same
 * attribute ids, with qualifiers the captured RPOS is a valid answer to.
 * Returns the facilities offered (the captured RPOS does not return
 * Facilities, so the offer stands).
 */
static unsigned check_sft(const struct cmd *s, const struct cmd *cap, int64_t size)
{
	char h[4096];
	unsigned i, fac = 0;

	cmd_str(s, h, sizeof(h));
	for (i = 0; i < cap->n; i++)
		if (find_attr(s, cap->a[i].id) == NULL)
			die("got SFT without attribute 0x%02x, want the attributes of the captured "
				"SFT (00 01 03 08 0a 0b 0e 21 40 42 60 71): %s", cap->a[i].id, h);
	for (i = 0; i < s->n; i++) {
		const struct attr *a = &s->a[i];
		unsigned op = a->qual & 0x07, fmt = a->qual & Q_FMT, v = a->ival;
		int ok = 1;
		const char *want = "";

		if (!known_id(a->id))
			die("got SFT attribute 0x%02x, want only attributes unix-niftp knows "
				"(it fails an SFT with others): %s", a->id, h);
		if (a->id != 0x70 && a->id != 0x71 && count_attr(s, a->id) > 1)
			die("got SFT attribute 0x%02x twice: %s", a->id, h);
		if (fmt == 0x00)
			die("got SFT attribute 0x%02x in the \"unknown\" format: %s", a->id, h);
		switch (a->id) {
		case 0x00:
			ok = fmt == Q_INT && op == OP_EQ && v == 0x0100;
			want = "int EQ 0x0100";
			break;
		case 0x01:
			ok = fmt == Q_INT && op == OP_EQ && (v == 0x0001 || v == 0x0003);
			want = "int EQ 0x0001 (make) or 0x0003 (replace or make)";
			break;
		case 0x02:
			ok = fmt == Q_INT && ((op == OP_EQ && v == 1) || (op == OP_LE && (v & 1)));
			want = "IA5 (0x0001)";
			break;
		case A_TEXTFMT:
			ok = fmt == Q_INT && ((op == OP_LE && (v & 0x80)) || (op == OP_EQ && v == 0x80) ||
				op == OP_ANY);
			want = "int LE with bit 0x80, as the captured RPOS answers EQ 0x0080";
			break;
		case 0x08:
			ok = fmt == Q_INT && op == OP_EQ && v != 0;
			want = "int EQ, not 0";
			break;
		case 0x0a:
			ok = fmt == Q_INT && ((op == OP_LE && v >= 0x20 && v <= 255) ||
				(op == OP_EQ && v == 0x20) || (op == OP_GE && v <= 0x20) || op == OP_ANY);
			want = "int allowing 0x0020, as the captured RPOS answers EQ 0x0020";
			break;
		case 0x0b:
			ok = fmt == Q_INT && op == OP_EQ && v == 0;
			want = "int EQ 0 (a fresh transfer)";
			break;
		case A_FACIL:
			ok = fmt == Q_INT && (op == OP_LE || op == OP_EQ);
			fac = v;
			want = "int LE";
			break;
		case 0x20:
			ok = fmt == Q_INT && ((op == OP_EQ && v == 1) || (op == OP_LE && (v & 1)));
			want = "text (0x0001): the captured RPOS does not change it";
			break;
		case 0x21:
			ok = fmt == Q_INT && ((op == OP_LE && (v & 0x8000)) || (op == OP_EQ && v == 0x8000));
			want = "int LE 0x8000";
			break;
		case 0x40:
		case 0x42:
			ok = a->qual == 0x97;
			want = "0x97 (no value, ANY, monitor): the mail profile";
			break;
		case A_PASSWORD:
		case 0x45:
		case 0x4b:
			ok = 0;
			want = "none: a mail SFT carries no password";
			break;
		case 0x60:
			ok = fmt == Q_INT && op == OP_EQ &&
				(size < 0 || (size > (64 << 20) && v == 0xffff) ||
				 ((int64_t) v >= size / 1024 && (int64_t) v <= size / 1024 + 1));
			want = "int EQ, the file size in KiB";
			break;
		case 0x70:
		case 0x71:
			ok = fmt == Q_STR;
			want = "a string";
			break;
		default:
			break;
		}
		if (!ok)
			die("got SFT attribute 0x%02x qualifier 0x%02x value 0x%04x, want %s: %s",
				a->id, a->qual, v, want, h);
	}
	return fac;
}

/* load - a whole file into memory */
static unsigned char *load(const char *path, size_t *lenp)
{
	struct stat sb;
	unsigned char *p;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) < 0)
		die("open '%s': %s", path, strerror(errno));
	if (sb.st_size > (off_t) MAX_EXPECT)
		die("'%s' is larger than %u octets", path, MAX_EXPECT);
	p = malloc((size_t) sb.st_size + 1);
	if (p == NULL)
		die("malloc: %s", strerror(errno));
	while (got < (size_t) sb.st_size) {
		n = read(fd, p + got, (size_t) sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("read '%s': %s", path, n < 0 ? strerror(errno) : "file shrank");
		got += (size_t) n;
	}
	close(fd);
	*lenp = got;
	return p;
}

/* run_q - play unix-niftp's Q for our P */
static int run_q(const char *listen_s, const char *ready, const char *expect_file, int fail67,
	double timeout)
{
	struct tn_addr la;
	struct cmd sft, cap_sft, cmd, want_stop;
	struct dstate d;
	struct conn c;
	struct pollfd pfd;
	static struct item it;
	char err[512], bound[300], line[320], h[4096], pre[PREAMBLE_MAX + 1];
	unsigned char *expect = NULL;
	size_t expect_len = 0, np = 0;
	unsigned es, b;
	int lfd, fd, rc;
	double deadline = tn_now() + timeout;

	if (expect_file != NULL)
		expect = load(expect_file, &expect_len);
	captured_cmd(ms_p_sft, sizeof(ms_p_sft), &cap_sft);
	if (tn_parse_addr(listen_s, &la, err, sizeof(err)) < 0) {
		fprintf(stderr, "unfpeer: %s\n", err);
		return 64;
	}
	lfd = tn_listen(&la, 1, bound, sizeof(bound), err, sizeof(err));
	if (lfd < 0)
		die("%s", err);
	snprintf(line, sizeof(line), "%s\n", bound);
	if (tn_write_file_atomic(ready, line, err, sizeof(err)) < 0)
		die("%s", err);
	note("listening on %s", bound);
	do {
		double left = deadline - tn_now();

		if (left <= 0)
			die("timed out after %.0f s waiting for a call on %s", timeout, bound);
		pfd.fd = lfd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, (int) (left * 1000) + 1);
	} while (rc == 0 || (rc < 0 && errno == EINTR));
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (rc < 0 || fd < 0)
		die("accept on %s: %s", bound, strerror(errno));
	/* unix-niftp's Q serves one call at a time and closes its listener meanwhile. */
	close(lfd);
	if (la.kind == TN_UNIX)
		(void) unlink(la.path);
	c_sock(&c, fd, timeout, "the donor (P)");
	c.deadline = deadline;

	c.want = "the called address \"ftp.mail\" and NUL";
	while ((b = c_byte(&c)) != 0) {
		if (np == PREAMBLE_MAX)
			die("got a called address longer than %d octets, want \"ftp.mail\" NUL", PREAMBLE_MAX);
		pre[np++] = (char) b;
	}
	pre[np] = '\0';
	if (strcmp(pre, "ftp.mail") != 0) {
		strq((const unsigned char *) pre, np, h, sizeof(h));
		die("got called address %s, want \"ftp.mail\" (lower case, NUL-terminated)", h);
	}
	note("got called address \"%s\"", pre);

	c.want = "SFT";
	read_cmd(&c, &sft);
	if (sft.code != C_SFT)
		die("got %s, want SFT", cmd_str(&sft, h, sizeof(h)));
	memset(&d, 0, sizeof(d));
	d.fac = check_sft(&sft, &cap_sft, expect ? (int64_t) expect_len : -1);
	d.expect = expect;
	d.expect_len = expect_len;
	d.out_fd = -1;
	d.window = 0x20;	/* the captured RPOS answers AckWindow EQ 0x0020 */

	c_send(&c, ms_q_rpos, sizeof(ms_q_rpos), "captured RPOS");
	c.want = "GO 82 01 00";
	read_cmd(&c, &cmd);
	if (cmd.code != C_GO || cmd.n != 0)
		die("got %s, want GO 82 01 00: our P must accept the captured RPOS", cmd_str(&cmd, h, sizeof(h)));

	es = data_phase(&c, &d);
	if (es != 0)
		die("got ES(0x%02x), want ES(0x00) 00 43 00", es);
	if (expect != NULL && d.total != expect_len)
		die("got %llu octets of data, want %zu (the file)", (unsigned long long) d.total, expect_len);
	if (d.open_record)
		fprintf(stderr, "unfpeer: note: ES came inside an open record (unix-niftp's P ends "
			"the record first)\n");

	if (!fail67) {
		unsigned char mr[3] = { 0x00, T_MR, (unsigned char) d.last_mark };

		/* unix-niftp's Q acknowledges the remaining marks before ER
		 * (section 5.2: MR(0x14) then ER); with no mark outstanding it
		 * sends ER alone (mail_small). */
		if (d.unacked > 0) {
			c_send(&c, mr, sizeof(mr), "MR before ER");
			d.mrs++;
		}
		c_send(&c, ms_q_er, sizeof(ms_q_er), "ER(0x00)");
		captured_cmd(ms_p_stop, sizeof(ms_p_stop), &want_stop);
		c.want = "STOP with state 0x2000";
		read_cmd(&c, &cmd);
		if (cmd.code != C_STOP || state_of(&cmd) != state_of(&want_stop))
			die("got %s, want STOP with state 0x%04lx", cmd_str(&cmd, h, sizeof(h)),
				(unsigned long) state_of(&want_stop));
		c_send(&c, ms_q_stopack, sizeof(ms_q_stopack), "captured STOPACK 0x2000");
	} else {
		c_send(&c, f67_q_qr, sizeof(f67_q_qr), "QR(0x21)");
		c.want = "the second ES(0x21) 00 43 21";
		read_item(&c, &it);
		if (!it.tcc || it.cc != f67_p_es2[1] || it.aa != f67_p_es2[2])
			die("got %s, want the second ES(0x21) 00 43 21: the sender echoes the QR code",
				item_str(&it, h, sizeof(h)));
		c_send(&c, f67_q_er, sizeof(f67_q_er), "ER(0x21)");
		captured_cmd(f67_p_stop, sizeof(f67_p_stop), &want_stop);
		c.want = "STOP with state 0x3010";
		read_cmd(&c, &cmd);
		if (cmd.code != C_STOP || state_of(&cmd) != state_of(&want_stop))
			die("got %s, want STOP with state 0x%04lx (aborted, no retry)",
				cmd_str(&cmd, h, sizeof(h)), (unsigned long) state_of(&want_stop));
		c_send(&c, f67_q_stopack, sizeof(f67_q_stopack),
			"captured STOPACK 0x3010 \"User name unknown\"");
	}
	expect_eof(&c, 0);
	close(fd);
	printf("q%s: ok: tid 0x%04x, %llu octets, %u records, %u marks every %llu octets, %u MR\n",
		fail67 ? "-fail67" : "", find_attr(&sft, 0x08)->ival, (unsigned long long) d.total,
		d.records, d.marks, (unsigned long long) d.interval, d.mrs);
	free(expect);
	return 0;
}

/* run_decode - print the decoded data of a session's captured data phase */
static int run_decode(const struct session *s)
{
	struct dstate d;
	struct conn c;
	unsigned es;

	memset(&d, 0, sizeof(d));
	d.out_fd = 1;
	d.fac = 0x01;
	d.window = 0x20;
	c_mem(&c, s->data, s->datalen, "the capture");
	es = data_phase(&c, &d);
	if (es != 0 || c.off != c.len)
		die("the captured data phase of %s does not end with ES(0)", s->name);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: unfpeer p rawtcp:HOST:PORT SESSION [--timeout S] [-v]\n"
		"       unfpeer q|q-fail67 --listen ADDR --ready-file F [--expect-file FILE] "
		"[--timeout S] [-v]\n"
		"       unfpeer decode SESSION\n"
		"SESSION: mail_small, ftp_plain, ftp_plain_rel\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *listen_s = NULL, *ready = NULL, *expect = NULL, *pos[2] = { NULL, NULL };
	uint64_t t = 30;
	int i, npos = 0;

	if (argc < 2)
		usage();
	for (i = 2; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--listen") == 0 && i + 1 < argc)
			listen_s = argv[++i];
		else if (strcmp(o, "--ready-file") == 0 && i + 1 < argc)
			ready = argv[++i];
		else if (strcmp(o, "--expect-file") == 0 && i + 1 < argc)
			expect = argv[++i];
		else if (strcmp(o, "--timeout") == 0 && i + 1 < argc) {
			if (tn_parse_u64(argv[++i], 1, 3600, &t) < 0)
				usage();
		} else if (strcmp(o, "-v") == 0)
			verbose = 1;
		else if (o[0] != '-' && npos < 2)
			pos[npos++] = o;
		else
			usage();
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "p") == 0) {
		if (npos != 2 || listen_s || ready || expect)
			usage();
		return run_p(pos[0], find_session(pos[1]), (double) t);
	}
	if (strcmp(argv[1], "q") == 0 || strcmp(argv[1], "q-fail67") == 0) {
		if (npos != 0 || listen_s == NULL || ready == NULL)
			usage();
		return run_q(listen_s, ready, expect, strcmp(argv[1], "q-fail67") == 0, (double) t);
	}
	if (strcmp(argv[1], "decode") == 0) {
		if (npos != 1)
			usage();
		return run_decode(find_session(pos[0]));
	}
	usage();
	return 64;
}
