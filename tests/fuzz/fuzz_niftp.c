/*++
 * NAME
 *	fuzz_niftp 1
 * SUMMARY
 *	libFuzzer target: arbitrary octets into the NIFTP engine and codec
 * SYNOPSIS
 *	make build-fuzz/fuzz_niftp && build-fuzz/fuzz_niftp tests/fuzz/corpus/fuzz_niftp
 * DESCRIPTION
 *	The first octet chooses the victim (low 3 bits) and how the rest
 *	is cut into chunks (high bits):
 *	0 a mail Q; 1 a P that has sent a mail SFT (the input plays Q);
 *	2 a file-server Q with asynchronous open and commit; 3 a Q that
 *	suffers a transport RESET between chunks; 4 the decoder alone in
 *	command mode, 5 in data mode with compression, parsing each
 *	command record; 6 a P that has asked for a file (a get: the input
 *	plays the sending Q); 7 the decoder in command mode. The engines' output is pulled after every chunk,
 *	and the call is lost and freed at the end, so leaks show.
 *
 *	The seed corpus holds the captured unix-niftp streams: q_* are
 *	their P's octets (for a Q), p_* their Q's answers (for our P).
 *--*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/niftp.h"
#include "niftp/niftp_rec.h"
#include "util/buf.h"

/* The tests' in-memory filestore, compiled into this target. */
#include "tests/unit/tl_memfs.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ev_cb(void *arg, struct niftp *n, const struct niftp_event *ev)
{
	(void) n;
	if (ev->type == NIFTP_EV_FAILED || ev->type == NIFTP_EV_DONE)
		(*(int *) arg)++;
	if (ev->reason)
		(void) strlen(ev->reason);
	if (ev->name)
		(void) strlen(ev->name);
}

static int auth_cb(void *arg, const char *user, const char *pw, const char *caller)
{
	(void) arg;
	(void) caller;
	(void) pw;
	return user && strcmp(user, "nobody") == 0 ? -1 : 0;
}

static int docket_cb(void *arg, const struct niftp_docket *d)
{
	(void) arg;
	(void) d;
	return 0;
}

static void drain(struct niftp *n)
{
	struct buf out = BUF_INIT(1u << 20);
	int	i;

	for (i = 0; i < 64; i++) {
		ssize_t	k = niftp_output(n, &out, 65536);

		if (k <= 0)
			break;
		buf_reset(&out);
	}
	buf_release(&out);
}

static void fuzz_engine(int kind, const uint8_t *p, size_t len, size_t chunk)
{
	struct tl_memfs_opts o;
	struct tl_memfs *fs;
	struct niftp_config cfg;
	struct niftp_hooks hooks = {ev_cb, auth_cb, docket_cb};
	struct niftp *n;
	int	ends = 0;
	size_t	off;

	memset(&o, 0, sizeof(o));
	if (kind == 2) {
		o.async_open = 1;
		o.async_commit = 1;
	}
	o.name_prefix = "fz";
	fs = tl_memfs_new(&o);
	tl_memfs_put(fs, "letter", "a,\n\nFrom: b\n\nhello\n", 19);
	tl_memfs_put(fs, "file", "0123456789", 10);
	memset(&cfg, 0, sizeof(cfg));
	cfg.mail_only = kind == 0;
	cfg.resumption = 1;
	cfg.deflate = 1;
	cfg.caller = "fuzz";
	cfg.info = "fuzz";
	cfg.max_size = 1u << 20;
	n = niftp_new(kind == 1 || kind == 6, &cfg, &hooks, &ends, &tl_memfs_ops, fs);
	tl_memfs_bind(fs, n);
	if (kind == 6) {
		struct niftp_req r;

		memset(&r, 0, sizeof(r));
		tl_memfs_options(fs)->local = "got";
		r.mode = NIFTP_MODE_READ;
		r.filename = "file";
		r.tid = 9;
		r.size = -1;
		r.compress = 1;
		niftp_start(n, &r);
	}
	if (kind == 1) {
		struct niftp_req r;

		memset(&r, 0, sizeof(r));
		tl_memfs_options(fs)->local = "letter";
		r.mode = NIFTP_MODE_MAKE;
		r.mail = 1;
		r.tid = 7;
		r.size = -1;
		r.compress = 1;
		r.mark_interval = 4;
		niftp_start(n, &r);
	}
	drain(n);
	for (off = 0; off < len; off += chunk) {
		size_t	k = len - off < chunk ? len - off : chunk;

		if (niftp_input(n, p + off, k) < 0)
			break;
		drain(n);
		if (kind == 2) {
			tl_memfs_run_opens(fs);
			tl_memfs_run_commits(fs);
			drain(n);
		}
		if (kind == 3 && (off / chunk) % 3 == 2) {
			niftp_reset(n);
			drain(n);
		}
		(void) niftp_want_output(n);
		(void) niftp_idle(n);
	}
	niftp_lost(n, "fuzz: end of input");
	niftp_free(n);
	tl_memfs_free(fs);
}

static void fuzz_codec(int data_mode, const uint8_t *p, size_t len, size_t chunk)
{
	static struct niftp_dec d;
	static struct niftp_cmd c;
	unsigned char sink[100];
	char	err[256];
	size_t	off = 0;

	niftp_dec_init(&d);
	niftp_dec_set_mode(&d, data_mode ? NIFTP_DEC_MODE_DATA : NIFTP_DEC_MODE_CMD, 1);
	while (off < len) {
		size_t	k = len - off < chunk ? len - off : chunk, pos = 0;

		while (pos < k) {
			struct niftp_dec_ev ev;
			size_t	used = niftp_dec_next(&d, p + off + pos, k - pos, sink, sizeof(sink), &ev);

			pos += used;
			if (ev.type == NIFTP_DEC_ERROR)
				return;
			if (ev.type == NIFTP_DEC_CMD)
				(void) niftp_cmd_parse(ev.rec, ev.reclen, &c, err, sizeof(err));
			if (ev.type == NIFTP_DEC_NEED)
				break;
		}
		off += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	kind;
	size_t	chunk;

	if (size < 1)
		return 0;
	kind = data[0] & 7;
	chunk = (size_t) (data[0] >> 3) * 9 + 1;
	if (data[0] >> 3 == 0)
		chunk = 4096;
	if (kind <= 3 || kind == 6)
		fuzz_engine(kind, data + 1, size - 1, chunk);
	else
		fuzz_codec(kind == 5, data + 1, size - 1, chunk);
	return 0;
}
