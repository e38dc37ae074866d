/*++
 * NAME
 *	ch_local 3
 * SUMMARY
 *	the local channel: idempotent Maildir delivery
 * SYNOPSIS
 *	#include "mailchannel/ch_local.h"
 * DESCRIPTION
 *	See ch_local.h. Sequence per delivery: look for FILE in new/ and
 *	cur/ (done if found); create tmp/FILE (O_TRUNC: a leftover of a
 *	crashed delivery is ours to overwrite), copy, fsync, close, rename
 *	to new/FILE, fsync new/.
 * DIAGNOSTICS
 *	Errors name the operation, the path and the system error.
 *--*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailchannel/ch_local.h"
#include "util/crash.h"
#include "util/durable.h"
#include "util/sysio.h"

#define CH_LOCAL_COPYBUF	(64 * 1024)

/* found_in_cur - 1 when cur/ holds FILE or FILE:... */
static int found_in_cur(const char *cur, const char *file, char *path, size_t len)
{
	struct dirent *e;
	size_t  n = strlen(file);
	DIR    *dp;
	int     found = 0;

	if ((dp = opendir(cur)) == NULL)
		return 0;
	while ((e = readdir(dp)) != NULL)
		if (strncmp(e->d_name, file, n) == 0 && (e->d_name[n] == '\0'
		    || e->d_name[n] == ':')) {
			snprintf(path, len, "%s/%s", cur, e->d_name);
			found = 1;
			break;
		}
	closedir(dp);
	return found;
}

/* mkdir_one - mkdir, EEXIST is fine */
static int mkdir_one(const char *dir)
{
	return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* ch_local_deliver - see ch_local.h */
enum ch_local_status ch_local_deliver(const char *maildir, int known, const char *letter,
	int fd, uint64_t hdr_off, char *path, size_t len, char *err, size_t errlen)
{
	char    base[PATH_MAX - 512], sub[PATH_MAX], tmp[PATH_MAX], fin[PATH_MAX];
	char    derr[DURABLE_ERRLEN];
	static const char *const subs[] = { "tmp", "new", "cur" };
	unsigned char buf[CH_LOCAL_COPYBUF];
	enum ch_local_status st = CH_LOCAL_TEMP;
	struct stat sb;
	uint64_t off = hdr_off;
	ssize_t n;
	size_t  bl;
	int     out = -1, i;

	bl = strlen(maildir);
	while (bl > 1 && maildir[bl - 1] == '/')
		bl--;
	if (bl == 0 || bl >= sizeof(base) - 16 || maildir[0] != '/') {
		snprintf(err, errlen, "deliver '%s' to '%s': bad Maildir path", letter, maildir);
		return CH_LOCAL_PERM;
	}
	memcpy(base, maildir, bl);
	base[bl] = '\0';
	if (stat(base, &sb) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "deliver '%s': stat '%s': %s", letter, base,
			    strerror(errno));
			return CH_LOCAL_TEMP;
		}
		if (!known) {
			/* The reason goes into NDNs to remote senders: it names
			 * no local path (the journal line names the recipient). */
			snprintf(err, errlen, "unknown user (not a configured user "
			    "and no mailbox)");
			return CH_LOCAL_PERM;
		}
		if (mkdir_p(base, 0700, derr, sizeof(derr)) < 0) {
			snprintf(err, errlen, "deliver '%s': %s", letter, derr);
			return CH_LOCAL_TEMP;
		}
	} else if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "deliver '%s': '%s' is not a directory", letter, base);
		return CH_LOCAL_PERM;
	}
	for (i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", base, subs[i]);
		if (mkdir_one(sub) < 0) {
			snprintf(err, errlen, "deliver '%s': mkdir '%s': %s", letter, sub,
			    strerror(errno));
			return CH_LOCAL_TEMP;
		}
	}
	snprintf(fin, sizeof(fin), "%s/new/%s", base, letter);
	if (access(fin, F_OK) == 0) {
		snprintf(path, len, "%s", fin);
		return CH_LOCAL_ALREADY;
	}
	snprintf(sub, sizeof(sub), "%s/cur", base);
	if (found_in_cur(sub, letter, path, len))
		return CH_LOCAL_ALREADY;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", base, letter);
	out = sys_openat(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (out < 0) {
		snprintf(err, errlen, "deliver '%s': create '%s': %s", letter, tmp, strerror(errno));
		return CH_LOCAL_TEMP;
	}
	for (;;) {
		n = pread(fd, buf, sizeof(buf), (off_t) off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "deliver '%s': read stored letter: %s", letter,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (write_full(out, buf, (size_t) n) < 0) {
			snprintf(err, errlen, "deliver '%s': write '%s': %s", letter, tmp,
			    strerror(errno));
			goto fail;
		}
		off += (uint64_t) n;
	}
	if (sys_fsync(out) < 0) {
		snprintf(err, errlen, "deliver '%s': fsync '%s': %s", letter, tmp, strerror(errno));
		goto fail;
	}
	if (close(out) < 0) {
		out = -1;
		snprintf(err, errlen, "deliver '%s': close '%s': %s", letter, tmp, strerror(errno));
		goto fail;
	}
	out = -1;
	if (sys_rename(tmp, fin) < 0) {
		snprintf(err, errlen, "deliver '%s': rename '%s' to '%s': %s", letter, tmp, fin,
		    strerror(errno));
		goto fail;
	}
	snprintf(sub, sizeof(sub), "%s/new", base);
	if (fsync_dir(sub, derr, sizeof(derr)) < 0) {
		/* after the commit point: the file is there, durability unsure */
		snprintf(err, errlen, "deliver '%s': %s", letter, derr);
		return CH_LOCAL_TEMP;
	}
	crash_point("relay-local-after-rename-before-journal");
	snprintf(path, len, "%s", fin);
	return CH_LOCAL_OK;
fail:
	if (out >= 0)
		close(out);
	(void) sys_unlink(tmp);
	return st;
}

/* ch_local_status_str - text for a status */
const char *ch_local_status_str(enum ch_local_status st)
{
	switch (st) {
	case CH_LOCAL_OK:
		return "ok";
	case CH_LOCAL_ALREADY:
		return "already";
	case CH_LOCAL_TEMP:
		return "temporary";
	default:
		return "permanent";
	}
}
