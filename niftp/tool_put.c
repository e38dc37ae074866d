/*++
 * NAME
 *	tool_put 3
 * SUMMARY
 *	niftp put: send a file to an NIFTP server
 * SYNOPSIS
 *	niftp put [OPTION]... FILE ADDR
 * DESCRIPTION
 *	Sends FILE (a regular file) to the server at ADDR with the mode
 *	given (default replace-or-make; the server assigns a name unless
 *	--as names the remote file) and prints the name the server
 *	assigned on standard output, only on success.
 *
 *	The transfer has a random transfer id and carries the copy
 *	identity "niftpmail-copy CALLING/FILE size=N file=DEV:INO.MTIME",
 *	so a server recognises a resumption of it and refuses one against
 *	another or a changed file. The local filestore reads FILE with pread(), so any
 *	resumption point can be served; the file is opened once and kept
 *	open across the calls.
 *
 *	Towards rawtcp: peers (unix-niftp) the mark interval is 2048 and
 *	the acknowledgement window 32; otherwise the engine chooses.
 * DIAGNOSTICS
 *	"niftp: put 'FILE' to ADDR: reason"; exit status per DESIGN 2.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "niftp/tool_client.h"
#include "niftp/tool_common.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"


struct niftp_file {
	int	fd;
	uint64_t size;
	uint64_t pos;
	const char *path;
};

static const char put_help[] =
"Usage: niftp put [OPTION]... FILE ADDR\n"
"Send FILE to the NIFTP server at ADDR (tcp:HOST:PORT, rawtcp:HOST:PORT,\n"
"unix:PATH, 'exec:COMMAND ARGS') and print the name the server gave it.\n"
"\n"
"  --as NAME            the remote file name (needed for replace and append)\n"
"  --mode MODE          make, replace, replace-or-make (default), append\n"
"  --binary             send as binary data (default: text, IA5)\n"
"  --compress           offer compression (run-length and deflate)\n"
"  --called ADDR        called address (default FTP)\n"
"  --calling NAME       our calling address (default the host name)\n"
"  --user NAME          user name for the server\n"
"  --password WORD      password (or the environment variable NIFTP_PASSWORD)\n"
"  --retries N          retries of a failed call without progress (default 5)\n"
"  --retry-wait SECONDS first wait before a retry, doubled, at most 30 (default 1)\n"
"  --timeout SECONDS    end a call idle this long\n"
"  -q, --quiet          no progress line, no retry notices\n"
"  -v, --verbose        tell about each call\n"
"  --help               this text\n"
"\n"
"Exit status: 0 done, 64 usage, 65 refused as bad data, 67 unknown called\n"
"address, 69 unreachable, 75 temporary failure, 77 permission, 1 other.\n";

/* put_open_read - the engine wants our file */
static int put_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct niftp_file *pf = fs;
	const char *base = strrchr(pf->path, '/');

	(void) req;
	pf->pos = 0;
	res->fh = pf;
	str_copy(res->name, base ? base + 1 : pf->path, sizeof(res->name));
	res->size = (int64_t) pf->size;
	return 0;
}

/* put_open_write - a put never receives */
static int put_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	(void) fs;
	(void) req;
	res->fh = NULL;
	res->state = NIFTP_ST_REJ_ATTR;
	str_copy(res->reason, "this side only sends", sizeof(res->reason));
	return -1;
}

static ssize_t put_read(struct niftp_file *pf, void *p, size_t len, char *reason)
{
	ssize_t n;

	do
		n = pread(pf->fd, p, len, (off_t) pf->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(reason, NIFTP_REASON_MAX, "read '%s': %s", pf->path, strerror(errno));
		return -1;
	}
	pf->pos += (uint64_t) n;
	return n;
}

static int put_write(struct niftp_file *pf, const void *p, size_t len, int *retry,
	char *reason)
{
	(void) pf;
	(void) p;
	(void) len;
	*retry = 0;
	snprintf(reason, NIFTP_REASON_MAX, "this side only sends");
	return -1;
}

static int put_seek(struct niftp_file *pf, uint64_t offset, char *reason)
{
	if (offset > pf->size) {
		snprintf(reason, NIFTP_REASON_MAX, "seek '%s' to %llu: beyond its end", pf->path,
		    (unsigned long long) offset);
		return -1;
	}
	pf->pos = offset;
	return 0;
}

static int put_truncate(struct niftp_file *pf, uint64_t offset, char *reason)
{
	(void) pf;
	(void) offset;
	snprintf(reason, NIFTP_REASON_MAX, "this side only sends");
	return -1;
}

static void put_commit(struct niftp_file *pf, struct niftp *n)
{
	(void) pf;
	niftp_commit_done(n, 0, 0, "this side only sends");
}

static void put_suspend(struct niftp_file *pf)
{
	(void) pf;		/* the file stays open for the next call */
}

static void put_finish(struct niftp_file *pf, int ok)
{
	(void) pf;
	(void) ok;
}

static const struct niftp_fs_ops put_ops = {
	put_open_write, put_open_read, put_read, put_write, put_seek, put_truncate,
	NULL, put_commit, put_suspend, put_finish,
	NULL,
};

/* put_tid - a random transfer id 1..65534 */
static uint16_t put_tid(void)
{
	uint16_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t) sizeof(r))
		r = (uint16_t) (getpid() ^ (loop_now_ms() & 0xffff));
	return (uint16_t) (r % 65534 + 1);
}

/* tool_put - the put subcommand */
int tool_put(int argc, char **argv)
{
	static const struct option longopts[] = {
		TOOL_CLIENT_LONGOPTS,
		{ "as", required_argument, NULL, OPT_AS },
		{ NULL, 0, NULL, 0 }
	};
	struct tool_opts o;
	struct client_spec cs;
	struct niftp_file pf;
	struct ts_addr a;
	struct stat st;
	char    err[512], copy[256], base[65], *what = NULL, *label = NULL;
	const char *file, *addr, *b;
	size_t  i;
	int     c, r, rc = TOOL_OTHER;

	tool_opts_init(&o);
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "qv", longopts, NULL)) != -1) {
		if (c == OPT_HELP) {
			fputs(put_help, stdout);
			return TOOL_OK;
		}
		if (c == OPT_AS) {
			if (strlen(optarg) > NIFTP_MAX_NAME)
				return tool_usage("put", "--as name longer than %d octets",
				    NIFTP_MAX_NAME);
			o.as = optarg;
			continue;
		}
		if ((r = tool_client_opt(&o, "put", c, optarg)) < 0)
			return TOOL_USAGE;
		if (r == 0)
			return tool_bad_option("put");
	}
	if (argc - optind != 2)
		return tool_usage("put", argc - optind < 2 ? "missing FILE or ADDR"
		    : "too many arguments");
	file = argv[optind];
	addr = argv[optind + 1];
	if (o.mode < 0)
		o.mode = NIFTP_MODE_REPLACE_MAKE;
	if (NIFTP_MODE_IS_READ(o.mode))
		return tool_usage("put", "--mode %s reads; put sends (use get)",
		    tool_mode_name((unsigned) o.mode));
	if (o.mode == NIFTP_MODE_REPLACE && o.as == NULL)
		return tool_usage("put", "--mode replace needs --as NAME");
	if (ts_addr_parse(addr, &a, err, sizeof(err)) < 0)
		return tool_usage("put", "%s", err);
	if (a.kind == TS_STDIO)
		return tool_usage("put", "address 'stdio' is for serve --listen only");
	tool_opts_finish(&o);

	memset(&pf, 0, sizeof(pf));
	pf.path = file;
	if ((pf.fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("put '%s': open: %s", file, strerror(errno));
		return errno == EACCES ? TOOL_NOPERM : TOOL_OTHER;
	}
	if (fstat(pf.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("put '%s': not a regular file", file);
		goto out;
	}
	pf.size = (uint64_t) st.st_size;
	b = strrchr(file, '/');
	b = b ? b + 1 : file;
	for (i = 0; b[i] && i < sizeof(base) - 1; i++)
		base[i] = (b[i] > ' ' && b[i] < 0x7f) ? b[i] : '_';
	base[i] = '\0';
	/*
	 * The copy identity names this version of the file the way a quick
	 * check of rsync or make would: device, inode, size and modification
	 * time. It costs no pass over the data (a CRC would read a large file
	 * twice before the first octet is sent) and still makes a server
	 * refuse a resumption against another file or a changed one.
	 */
	snprintf(copy, sizeof(copy), "niftpmail-copy %.64s/%s size=%llu "
	    "file=%llx:%llx.%lld.%09ld", o.calling, base, (unsigned long long) pf.size,
	    (unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
	    (long long) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec);

	memset(&cs, 0, sizeof(cs));
	what = xasprintf("put '%s' to %s", file, addr);
	label = xstrdup(base);
	cs.what = what;
	cs.label = label;
	cs.addr = addr;
	cs.o = &o;
	cs.req.mode = (uint16_t) o.mode;
	cs.req.tid = put_tid();
	cs.req.binary = o.binary;
	cs.req.compress = o.compress;
	cs.req.filename = o.as;
	cs.req.username = o.user;
	cs.req.password = o.password;
	cs.req.size = (int64_t) pf.size;
	cs.req.copy_id = copy;
	if (a.kind == TS_RAWTCP) {
		cs.req.mark_interval = 2048;
		cs.req.ack_window = 32;
	}
	cs.fs_ops = &put_ops;
	cs.fs = &pf;
	if ((cs.loop = loop_new()) == NULL) {
		log_error("put '%s': create event loop: %s", file, strerror(errno));
		goto out;
	}
	rc = client_run(&cs);
	loop_free(cs.loop);
	if (rc == TOOL_OK) {
		/* a server that did not name the file in RPOS kept ours */
		if (cs.name[0] == '\0' && o.as != NULL)
			str_copy(cs.name, o.as, sizeof(cs.name));
		printf("%s\n", cs.name);
		if (fflush(stdout) == EOF || ferror(stdout)) {
			log_error("put '%s': write the name to standard output: %s", file,
			    strerror(errno));
			rc = TOOL_OTHER;
		}
	}
out:
	free(what);
	free(label);
	close(pf.fd);
	return rc;
}
