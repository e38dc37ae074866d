/*++
 * NAME
 *	tool_get 3
 * SUMMARY
 *	niftp get: fetch a file from an NIFTP server
 * SYNOPSIS
 *	niftp get [OPTION]... ADDR NAME FILE
 * DESCRIPTION
 *	Fetches the remote file NAME (mode read, or read-remove) into
 *	FILE. The data goes to a temporary file next to FILE
 *	(".tmp.FILE.XXXXXX", created with O_EXCL), kept across the calls
 *	of a resumed transfer; when all data is there it is fsynced,
 *	renamed to FILE and the directory fsynced, and only then is ER(OK)
 *	sent, so with read-remove the server removes its copy only after
 *	ours is durable. On failure the temporary file is removed.
 * DIAGNOSTICS
 *	"niftp: get 'NAME' from ADDR: reason"; exit status per DESIGN 2.
 *--*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "niftp/tool_client.h"
#include "niftp/tool_common.h"
#include "util/alloc.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/strutil.h"

struct niftp_file {
	struct client_spec *cs;
	const char *path;		/* FILE */
	char	dir[4096];		/* its directory */
	char	tmp[4096];		/* the temporary file */
	int	fd;
	uint64_t pos;
	int	committed;
};

static const char get_help[] =
"Usage: niftp get [OPTION]... ADDR NAME FILE\n"
"Fetch the file NAME from the NIFTP server at ADDR into FILE.\n"
"\n"
"  --mode MODE          read (default) or read-remove\n"
"  --binary             binary data (default: text, IA5)\n"
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

/* get_local_error - a local failure ends the transfer with this status */
static void get_local_error(struct niftp_file *gf, int status, const char *msg)
{
	if (gf->cs->local_error[0] == '\0') {
		str_copy(gf->cs->local_error, msg, sizeof(gf->cs->local_error));
		gf->cs->local_status = status;
	}
}

/* get_open_write - the data is coming: our temporary file */
static int get_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct niftp_file *gf = fs;
	char    err[DURABLE_ERRLEN], prefix[65];
	const char *base = strrchr(gf->path, '/');
	mode_t  um;
	size_t  i;

	res->fh = NULL;
	if (gf->fd < 0) {
		base = base ? base + 1 : gf->path;
		for (i = 0; base[i] && i < sizeof(prefix) - 1; i++)
			prefix[i] = base[i] == '/' ? '_' : base[i];
		prefix[i] = '\0';
		gf->fd = durable_tmp_open(gf->dir, prefix, gf->tmp, sizeof(gf->tmp),
		    err, sizeof(err));
		if (gf->fd < 0) {
			get_local_error(gf, errno == EACCES ? TOOL_NOPERM : TOOL_OTHER, err);
			res->state = NIFTP_ST_REJ_LATER;
			str_copy(res->reason, "receiver cannot store the file", sizeof(res->reason));
			return -1;
		}
		um = umask(022);
		umask(um);
		(void) fchmod(gf->fd, 0666 & ~um);
	}
	if (req->resume && gf->cs->have_dk) {
		res->mark = gf->cs->dk.mark;
		res->offset = gf->cs->dk.offset;
		gf->pos = gf->cs->dk.offset;
	} else {
		if (ftruncate(gf->fd, 0) < 0) {
			snprintf(err, sizeof(err), "truncate '%.200s': %s", gf->tmp, strerror(errno));
			get_local_error(gf, TOOL_OTHER, err);
			res->state = NIFTP_ST_REJ_LATER;
			str_copy(res->reason, "receiver cannot store the file", sizeof(res->reason));
			return -1;
		}
		gf->pos = 0;
		res->mark = 0;
		res->offset = 0;
	}
	res->fh = gf;
	res->committed = 0;
	res->size = -1;
	str_copy(res->name, req->filename ? req->filename : "", sizeof(res->name));
	return 0;
}

/* get_open_read - a get never sends */
static int get_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	(void) fs;
	(void) req;
	res->fh = NULL;
	res->state = NIFTP_ST_REJ_ATTR;
	str_copy(res->reason, "this side only receives", sizeof(res->reason));
	return -1;
}

static ssize_t get_read(struct niftp_file *gf, void *p, size_t len, char *reason)
{
	(void) gf;
	(void) p;
	(void) len;
	snprintf(reason, NIFTP_REASON_MAX, "this side only receives");
	return -1;
}

static int get_write(struct niftp_file *gf, const void *p, size_t len, int *retry,
	char *reason)
{
	char    err[512];

	*retry = 0;
	if (pwrite_full(gf->fd, p, len, (off_t) gf->pos) < 0) {
		snprintf(err, sizeof(err), "write '%.400s': %s", gf->tmp, strerror(errno));
		get_local_error(gf, errno == ENOSPC || errno == EDQUOT ? TOOL_TEMPFAIL
		    : TOOL_OTHER, err);
		snprintf(reason, NIFTP_REASON_MAX, "receiver cannot store the file");
		return -1;
	}
	gf->pos += len;
	return 0;
}

static int get_seek(struct niftp_file *gf, uint64_t offset, char *reason)
{
	(void) gf;
	(void) offset;
	snprintf(reason, NIFTP_REASON_MAX, "this side only receives");
	return -1;
}

static int get_truncate(struct niftp_file *gf, uint64_t offset, char *reason)
{
	if (ftruncate(gf->fd, (off_t) offset) < 0) {
		snprintf(reason, NIFTP_REASON_MAX, "truncate '%.200s': %s", gf->tmp, strerror(errno));
		return -1;
	}
	gf->pos = offset;
	return 0;
}

/* get_commit - all data is here: fsync, rename to FILE, fsync the directory */
static void get_commit(struct niftp_file *gf, struct niftp *n)
{
	char    err[DURABLE_ERRLEN];
	int     fd = gf->fd;

	gf->fd = -1;
	if (durable_commit(fd, gf->tmp, gf->path, err, sizeof(err)) < 0) {
		get_local_error(gf, errno == ENOSPC || errno == EDQUOT ? TOOL_TEMPFAIL
		    : TOOL_OTHER, err);
		gf->tmp[0] = '\0';
		niftp_commit_done(n, 0, 0, "receiver cannot store the file");
		return;
	}
	gf->tmp[0] = '\0';
	gf->committed = 1;
	niftp_commit_done(n, 1, 0, NULL);
}

static void get_suspend(struct niftp_file *gf)
{
	(void) gf;		/* the temporary file waits for the next call */
}

static void get_finish(struct niftp_file *gf, int ok)
{
	(void) gf;
	(void) ok;
}

/* get_restart - start afresh: drop what was received */
static void get_restart(void *fs)
{
	struct niftp_file *gf = fs;

	if (gf->fd >= 0 && ftruncate(gf->fd, 0) == 0)
		gf->pos = 0;
}

static const struct niftp_fs_ops get_ops = {
	get_open_write, get_open_read, get_read, get_write, get_seek, get_truncate,
	NULL, get_commit, get_suspend, get_finish,
	NULL,
};

/* tool_get - the get subcommand */
int tool_get(int argc, char **argv)
{
	static const struct option longopts[] = {
		TOOL_CLIENT_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct tool_opts o;
	struct client_spec cs;
	struct niftp_file gf;
	struct ts_addr a;
	char    err[512], *what = NULL, *slash;
	const char *addr, *name, *file, *label;
	uint16_t tid = 0;
	int     c, r, rc = TOOL_OTHER;

	tool_opts_init(&o);
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "qv", longopts, NULL)) != -1) {
		if (c == OPT_HELP) {
			fputs(get_help, stdout);
			return TOOL_OK;
		}
		if ((r = tool_client_opt(&o, "get", c, optarg)) < 0)
			return TOOL_USAGE;
		if (r == 0)
			return tool_bad_option("get");
	}
	if (argc - optind != 3)
		return tool_usage("get", argc - optind < 3 ? "missing ADDR, NAME or FILE"
		    : "too many arguments");
	addr = argv[optind];
	name = argv[optind + 1];
	file = argv[optind + 2];
	if (o.mode < 0)
		o.mode = NIFTP_MODE_READ;
	if (!NIFTP_MODE_IS_READ(o.mode))
		return tool_usage("get", "--mode %s writes; get reads (use put)",
		    tool_mode_name((unsigned) o.mode));
	if (*name == '\0' || strlen(name) > NIFTP_MAX_NAME)
		return tool_usage("get", "NAME is empty or longer than %d octets", NIFTP_MAX_NAME);
	if (*file == '\0')
		return tool_usage("get", "FILE is empty");
	if (ts_addr_parse(addr, &a, err, sizeof(err)) < 0)
		return tool_usage("get", "%s", err);
	if (a.kind == TS_STDIO)
		return tool_usage("get", "address 'stdio' is for serve --listen only");
	tool_opts_finish(&o);

	memset(&gf, 0, sizeof(gf));
	gf.fd = -1;
	gf.path = file;
	str_copy(gf.dir, file, sizeof(gf.dir));
	if ((slash = strrchr(gf.dir, '/')) == NULL)
		str_copy(gf.dir, ".", sizeof(gf.dir));
	else if (slash == gf.dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	label = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;

	memset(&cs, 0, sizeof(cs));
	gf.cs = &cs;
	what = xasprintf("get '%s' from %s", name, addr);
	cs.what = what;
	cs.label = label;
	cs.addr = addr;
	cs.o = &o;
	cs.req.mode = (uint16_t) o.mode;
	if (getrandom(&tid, sizeof(tid), 0) != (ssize_t) sizeof(tid))
		tid = (uint16_t) getpid();
	cs.req.tid = (uint16_t) (tid % 65534 + 1);
	cs.req.binary = o.binary;
	cs.req.compress = o.compress;
	cs.req.filename = name;
	cs.req.username = o.user;
	cs.req.password = o.password;
	cs.req.size = -1;
	if (a.kind == TS_RAWTCP)
		cs.req.ack_window = 32;
	cs.fs_ops = &get_ops;
	cs.fs = &gf;
	cs.restart = get_restart;
	if ((cs.loop = loop_new()) == NULL) {
		log_error("%s: create event loop: %s", what, strerror(errno));
		goto out;
	}
	rc = client_run(&cs);
	loop_free(cs.loop);
	if (rc == TOOL_OK && !gf.committed) {
		log_error("%s: the transfer ended but '%s' was not stored", what, file);
		rc = TOOL_OTHER;
	}
	if (rc == TOOL_OK && o.verbose > 0)
		log_info("%s: stored as '%s'", what, file);
out:
	if (gf.fd >= 0)
		close(gf.fd);
	if (gf.tmp[0] != '\0')
		(void) unlink(gf.tmp);
	free(what);
	return rc;
}
