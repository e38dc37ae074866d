/*++
 * NAME
 *	tl_memfs 3
 * SUMMARY
 *	in-memory NIFTP filestore and capture vectors for tests
 * SYNOPSIS
 *	#include "tests/unit/tl_memfs.h"
 * DESCRIPTION
 *	See tl_memfs.h. Dockets model a spool's durable state: fs->mark()
 *	checkpoints (the data up to the mark becomes "durable"), suspend
 *	keeps the partial file, commit stores the file under its name and
 *	marks the docket committed. Everything lives in linked lists; the
 *	store is small by construction (tests only).
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niftp/niftp.h"
#include "tests/unit/tl_memfs.h"
#include "util/alloc.h"
#include "util/strutil.h"

struct mfile {
	char	name[256];
	unsigned char *data;
	size_t	len;
	struct mfile *next;
};

struct mdocket {
	char	caller[256];
	uint16_t tid;
	char	name[256];
	char	copy_id[256];
	int	committed;
	uint32_t mark;
	uint64_t offset;
	struct mdocket *next;
};

struct niftp_file {
	struct tl_memfs *m;
	int	write;
	uint16_t mode;
	char	name[256];
	unsigned char *data;
	size_t	len, cap, pos;
	struct mdocket *dk;
	int	committed;
	struct niftp *commit_n;
	struct niftp_file *next_pending;
	struct niftp *remove_n;		/* pending asynchronous removal */
	struct niftp_file *next_remove;
	int	removed;		/* fs->remove removed the file */
};

struct pending_open {
	int	write;
	struct niftp_req req;
	char	filename[256], caller[256], copy_id[256];
	struct pending_open *next;
};

struct tl_memfs {
	struct tl_memfs_opts o;
	struct mfile *files;
	struct mdocket *dockets;
	struct niftp_file *pending;
	struct niftp_file *removes;	/* pending removals, oldest first */
	struct pending_open *opens;
	struct niftp *bound;
	unsigned seq;
	int64_t	written, readn;
	struct tl_memfs_stats st;
};

static struct mfile *find_file(struct tl_memfs *m, const char *name)
{
	struct mfile *f;

	for (f = m->files; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static struct mdocket *find_docket(struct tl_memfs *m, const char *caller, uint16_t tid)
{
	struct mdocket *d;

	for (d = m->dockets; d; d = d->next)
		if (d->tid == tid && strcmp(d->caller, caller ? caller : "") == 0)
			return d;
	return NULL;
}

struct tl_memfs *tl_memfs_new(const struct tl_memfs_opts *opts)
{
	struct tl_memfs *m = xcalloc(1, sizeof(*m));

	if (opts)
		m->o = *opts;
	return m;
}

struct tl_memfs_opts *tl_memfs_options(struct tl_memfs *m)
{
	return &m->o;
}

void tl_memfs_bind(struct tl_memfs *m, struct niftp *n)
{
	m->bound = n;
}

void tl_memfs_free(struct tl_memfs *m)
{
	while (m->files) {
		struct mfile *f = m->files;

		m->files = f->next;
		free(f->data);
		free(f);
	}
	while (m->dockets) {
		struct mdocket *d = m->dockets;

		m->dockets = d->next;
		free(d);
	}
	while (m->opens) {
		struct pending_open *p = m->opens;

		m->opens = p->next;
		free(p);
	}
	free(m);
}

void tl_memfs_put(struct tl_memfs *m, const char *name, const void *p, size_t len)
{
	struct mfile *f = find_file(m, name);

	if (f == NULL) {
		f = xcalloc(1, sizeof(*f));
		str_copy(f->name, name, sizeof(f->name));
		f->next = m->files;
		m->files = f;
	}
	free(f->data);
	f->data = xmemdup(p, len);
	f->len = len;
}

const unsigned char *tl_memfs_get(struct tl_memfs *m, const char *name, size_t *len)
{
	struct mfile *f = find_file(m, name);

	if (f == NULL)
		return NULL;
	*len = f->len;
	return f->data;
}

int tl_memfs_count(const struct tl_memfs *m)
{
	const struct mfile *f;
	int	k = 0;

	for (f = m->files; f; f = f->next)
		k++;
	return k;
}

const struct tl_memfs_stats *tl_memfs_stats(const struct tl_memfs *m)
{
	return &m->st;
}

static void remove_file(struct tl_memfs *m, const char *name)
{
	struct mfile **pp;

	for (pp = &m->files; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct mfile *f = *pp;

			*pp = f->next;
			free(f->data);
			free(f);
			return;
		}
	}
}

static struct niftp_file *new_fh(struct tl_memfs *m, int write, uint16_t mode, const char *name)
{
	struct niftp_file *fh = xcalloc(1, sizeof(*fh));

	fh->m = m;
	fh->write = write;
	fh->mode = mode;
	str_copy(fh->name, name, sizeof(fh->name));
	m->st.open_files++;
	return fh;
}

static void fh_append(struct niftp_file *fh, const void *p, size_t len)
{
	if (fh->len + len > fh->cap) {
		size_t	cap = fh->cap ? fh->cap : 4096;

		while (cap < fh->len + len)
			cap *= 2;
		fh->data = xrealloc(fh->data, cap);
		fh->cap = cap;
	}
	if (len)
		memcpy(fh->data + fh->len, p, len);
	fh->len += len;
}

static int do_open_write(struct tl_memfs *m, const struct niftp_req *req, struct niftp_open *res)
{
	struct mdocket *dk = NULL;
	struct mfile *f;
	char	name[256];
	const char *caller = req->caller ? req->caller : "";

	if (m->o.refuse_open) {
		res->state = m->o.refuse_state;
		snprintf(res->reason, sizeof(res->reason), "memfs: open refused");
		return -1;
	}
	if (req->resume) {
		dk = find_docket(m, caller, req->tid);
		if (dk == NULL) {
			res->state = NIFTP_ST_REJ_NORESUME;
			snprintf(res->reason, sizeof(res->reason), "no docket for transfer id %u",
				req->tid);
			return -1;
		}
		if (req->copy_id && dk->copy_id[0] && strcmp(req->copy_id, dk->copy_id) != 0) {
			res->state = NIFTP_ST_REJ_NORESUME;
			snprintf(res->reason, sizeof(res->reason), "copy identity differs");
			return -1;
		}
		str_copy(res->name, dk->name, sizeof(res->name));
		res->fh = new_fh(m, 1, req->mode, dk->name);
		res->fh->dk = dk;
		if (dk->committed) {
			res->committed = 1;
			res->fh->committed = 1;
			return 0;
		}
		/* The durable partial data is the file's content up to the mark. */
		res->mark = dk->mark;
		res->offset = dk->offset;
		{
			char	pname[300];
			const unsigned char *pd;
			size_t	plen = 0;

			snprintf(pname, sizeof(pname), ".partial/%s", dk->name);
			pd = tl_memfs_get(m, pname, &plen);
			if (pd)
				fh_append(res->fh, pd, plen);
		}
		return 0;
	}
	if (m->o.local) {
		str_copy(name, m->o.local, sizeof(name));
	} else if (req->filename) {
		str_copy(name, req->filename, sizeof(name));
		f = find_file(m, name);
		if (req->mode == NIFTP_MODE_MAKE && f) {
			res->state = NIFTP_ST_REJ_ATTR;
			snprintf(res->reason, sizeof(res->reason), "file '%.200s' exists", name);
			return -1;
		}
		if (req->mode == NIFTP_MODE_REPLACE && !f) {
			res->state = NIFTP_ST_REJ_ATTR;
			snprintf(res->reason, sizeof(res->reason), "file '%.200s' does not exist", name);
			return -1;
		}
	} else {
		snprintf(name, sizeof(name), "%s.%04u", m->o.name_prefix ? m->o.name_prefix : "mem",
			++m->seq);
	}
	str_copy(res->name, name, sizeof(res->name));
	res->fh = new_fh(m, 1, req->mode, name);
	if (req->mode == NIFTP_MODE_APPEND_MAKE && (f = find_file(m, name)) != NULL)
		fh_append(res->fh, f->data, f->len);
	if (req->tid) {
		dk = find_docket(m, caller, req->tid);
		if (dk == NULL) {
			dk = xcalloc(1, sizeof(*dk));
			str_copy(dk->caller, caller, sizeof(dk->caller));
			dk->tid = req->tid;
			dk->next = m->dockets;
			m->dockets = dk;
			m->st.dockets++;
		}
		str_copy(dk->name, name, sizeof(dk->name));
		str_copy(dk->copy_id, req->copy_id ? req->copy_id : "", sizeof(dk->copy_id));
		dk->committed = 0;
		dk->mark = 0;
		dk->offset = 0;
		res->fh->dk = dk;
	}
	return 0;
}

static int do_open_read(struct tl_memfs *m, const struct niftp_req *req, struct niftp_open *res)
{
	struct mfile *f;
	if (m->o.refuse_open) {
		res->state = m->o.refuse_state;
		snprintf(res->reason, sizeof(res->reason), "memfs: open refused");
		return -1;
	}
	const char *name = m->o.local ? m->o.local : req->filename;

	if (name == NULL || (f = find_file(m, name)) == NULL) {
		res->state = NIFTP_ST_REJ_ATTR;
		snprintf(res->reason, sizeof(res->reason), "file '%.200s' not found",
			name ? name : "(none)");
		return -1;
	}
	res->fh = new_fh(m, 0, req->mode, f->name);
	fh_append(res->fh, f->data, f->len);
	str_copy(res->name, f->name, sizeof(res->name));
	res->size = m->o.unknown_size ? -1 : (int64_t) f->len;
	return 0;
}

static int queue_open(struct tl_memfs *m, int write, const struct niftp_req *req)
{
	struct pending_open *p = xcalloc(1, sizeof(*p)), **pp;

	p->write = write;
	p->req = *req;
	if (req->filename) {
		str_copy(p->filename, req->filename, sizeof(p->filename));
		p->req.filename = p->filename;
	}
	if (req->caller) {
		str_copy(p->caller, req->caller, sizeof(p->caller));
		p->req.caller = p->caller;
	}
	if (req->copy_id) {
		str_copy(p->copy_id, req->copy_id, sizeof(p->copy_id));
		p->req.copy_id = p->copy_id;
	}
	p->req.username = p->req.password = p->req.info = NULL;
	for (pp = &m->opens; *pp; pp = &(*pp)->next)
		;
	*pp = p;
	return 1;
}

static int mem_open_write(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct tl_memfs *m = fs;

	if (m->o.async_open)
		return queue_open(m, 1, req);
	return do_open_write(m, req, res);
}

static int mem_open_read(void *fs, const struct niftp_req *req, struct niftp_open *res)
{
	struct tl_memfs *m = fs;

	if (m->o.async_open)
		return queue_open(m, 0, req);
	return do_open_read(m, req, res);
}

int tl_memfs_run_opens(struct tl_memfs *m)
{
	int	k = 0;

	while (m->opens) {
		struct pending_open *p = m->opens;
		struct niftp_open res;
		int	rc;

		m->opens = p->next;
		memset(&res, 0, sizeof(res));
		res.size = -1;
		rc = p->write ? do_open_write(m, &p->req, &res) : do_open_read(m, &p->req, &res);
		free(p);
		if (m->bound)
			niftp_open_done(m->bound, rc == 0, &res);
		k++;
	}
	return k;
}

static ssize_t mem_read(struct niftp_file *fh, void *p, size_t len, char *reason)
{
	struct tl_memfs *m = fh->m;
	size_t	k = fh->len - fh->pos;

	if (k > len)
		k = len;
	if (m->o.read_fail_at > 0 && m->readn + (int64_t) k > m->o.read_fail_at) {
		snprintf(reason, 256, "memfs: read failure injected");
		return -1;
	}
	if (k == 0)
		return 0;
	memcpy(p, fh->data + fh->pos, k);
	fh->pos += k;
	m->readn += (int64_t) k;
	return (ssize_t) k;
}

static int mem_write(struct niftp_file *fh, const void *p, size_t len, int *retry, char *reason)
{
	struct tl_memfs *m = fh->m;

	if (m->o.write_fail_at > 0 && m->written + (int64_t) len > m->o.write_fail_at) {
		*retry = m->o.write_retry;
		snprintf(reason, 256, "memfs: write failure injected");
		return -1;
	}
	m->written += (int64_t) len;
	fh_append(fh, p, len);
	return 0;
}

static int mem_seek(struct niftp_file *fh, uint64_t off, char *reason)
{
	if (off > fh->len) {
		snprintf(reason, 256, "memfs: seek to %llu beyond %zu", (unsigned long long) off,
			fh->len);
		return -1;
	}
	fh->pos = (size_t) off;
	return 0;
}

static int mem_truncate(struct niftp_file *fh, uint64_t off, char *reason)
{
	fh->m->st.truncates++;
	if (off > fh->len) {
		snprintf(reason, 256, "memfs: truncate to %llu beyond %zu", (unsigned long long) off,
			fh->len);
		return -1;
	}
	fh->len = (size_t) off;
	return 0;
}

static void mem_mark(struct niftp_file *fh, uint32_t mark, uint64_t offset)
{
	struct tl_memfs *m = fh->m;
	char	pname[300];

	m->st.marks++;
	m->st.last_mark_off = offset;
	if (fh->dk) {
		/* Checkpoint: data to the mark is durable with the docket. */
		fh->dk->mark = mark;
		fh->dk->offset = offset;
		snprintf(pname, sizeof(pname), ".partial/%s", fh->dk->name);
		tl_memfs_put(m, pname, fh->data, (size_t) offset);
	}
}

static void do_commit(struct niftp_file *fh, struct niftp *n)
{
	struct tl_memfs *m = fh->m;
	char	pname[300];

	if (m->o.commit_fail) {
		niftp_commit_done(n, 0, m->o.commit_retry,
			m->o.commit_reason ? m->o.commit_reason : "memfs: commit failure injected");
		return;
	}
	tl_memfs_put(m, fh->name, fh->data ? fh->data : (const unsigned char *) "", fh->len);
	fh->committed = 1;
	if (fh->dk) {
		fh->dk->committed = 1;
		snprintf(pname, sizeof(pname), ".partial/%s", fh->dk->name);
		remove_file(m, pname);
	}
	m->st.commits++;
	niftp_commit_done(n, 1, 0, NULL);
}

static void mem_commit(struct niftp_file *fh, struct niftp *n)
{
	struct tl_memfs *m = fh->m;

	if (m->o.async_commit) {
		fh->commit_n = n;
		fh->next_pending = m->pending;
		m->pending = fh;
		return;
	}
	do_commit(fh, n);
}

int tl_memfs_run_commits(struct tl_memfs *m)
{
	int	k = 0;

	while (m->pending) {
		struct niftp_file *fh = m->pending;

		m->pending = fh->next_pending;
		fh->next_pending = NULL;
		do_commit(fh, fh->commit_n);
		k++;
	}
	return k;
}

static void unpend(struct niftp_file *fh)
{
	struct niftp_file **pp;

	for (pp = &fh->m->pending; *pp; pp = &(*pp)->next_pending)
		if (*pp == fh) {
			*pp = fh->next_pending;
			break;
		}
	for (pp = &fh->m->removes; *pp; pp = &(*pp)->next_remove)
		if (*pp == fh) {
			/* the engine gave the handle back: never answer for it */
			*pp = fh->next_remove;
			fh->m->st.removes_dropped++;
			break;
		}
}

static void mem_suspend(struct niftp_file *fh)
{
	struct tl_memfs *m = fh->m;

	m->st.suspends++;
	m->st.open_files--;
	unpend(fh);
	free(fh->data);
	free(fh);
}

/* finish_common - finish; has_remove: the engine has fs->remove, which
 * alone removes (finish(fh, 1) then follows a removal, or ends a transfer
 * P did not end with 0x2000: the file stays) */
static void finish_common(struct niftp_file *fh, int ok, int has_remove)
{
	struct tl_memfs *m = fh->m;

	if (ok)
		m->st.finishes_ok++;
	else
		m->st.finishes_fail++;
	if (!fh->write && ok && fh->mode == NIFTP_MODE_READ_REMOVE) {
		if (fh->removed) {
			m->st.finish_after_remove++;
		} else if (!has_remove) {
			remove_file(m, fh->name);
			m->st.removed++;
		}
	}
	m->st.open_files--;
	unpend(fh);
	free(fh->data);
	free(fh);
}

static void mem_finish(struct niftp_file *fh, int ok)
{
	finish_common(fh, ok, 0);
}

static void mem_rm_finish(struct niftp_file *fh, int ok)
{
	finish_common(fh, ok, 1);
}

/* do_remove - remove fh's file (or fail as told) and answer the engine;
 * fh may be freed by the answer (finish), so it is not touched after */
static void do_remove(struct niftp_file *fh, struct niftp *n)
{
	struct tl_memfs *m = fh->m;

	if (m->o.remove_fail) {
		m->st.removes_failed++;
		niftp_remove_done(n, 0, m->o.remove_reason ? m->o.remove_reason
			: "memfs: removal failure injected");
		return;
	}
	remove_file(m, fh->name);
	fh->removed = 1;
	m->st.removed++;
	niftp_remove_done(n, 1, NULL);
}

static void mem_remove(struct niftp_file *fh, struct niftp *n, const char *info)
{
	struct tl_memfs *m = fh->m;
	struct niftp_file **pp;

	m->st.remove_calls++;
	str_copy(m->st.remove_info, info ? info : "(null)", sizeof(m->st.remove_info));
	str_copy(m->st.remove_name, fh->name, sizeof(m->st.remove_name));
	if (m->o.async_remove) {
		fh->remove_n = n;
		fh->next_remove = NULL;
		for (pp = &m->removes; *pp; pp = &(*pp)->next_remove)
			;
		*pp = fh;
		return;
	}
	do_remove(fh, n);
}

int tl_memfs_run_removes(struct tl_memfs *m)
{
	int	k = 0;

	while (m->removes) {
		struct niftp_file *fh = m->removes;

		m->removes = fh->next_remove;
		fh->next_remove = NULL;
		do_remove(fh, fh->remove_n);
		k++;
	}
	return k;
}

int tl_memfs_pending_removes(const struct tl_memfs *m)
{
	const struct niftp_file *fh;
	int	k = 0;

	for (fh = m->removes; fh; fh = fh->next_remove)
		k++;
	return k;
}

const struct niftp_fs_ops tl_memfs_ops = {
	mem_open_write, mem_open_read, mem_read, mem_write, mem_seek, mem_truncate,
	mem_mark, mem_commit, mem_suspend, mem_finish,
	NULL,
};

const struct niftp_fs_ops tl_memfs_rm_ops = {
	mem_open_write, mem_open_read, mem_read, mem_write, mem_seek, mem_truncate,
	mem_mark, mem_commit, mem_suspend, mem_rm_finish,
	mem_remove,
};

/* Captured unix-niftp 5.6 sessions (unix-niftp-sessions.md, appendix A). */
static const struct tl_capseg cap_mail_small[] = {
	{1, 88,
	 "6674702e6d61696c003f040c0022010001220001032300ff082298c90aa30020"
	 "0b2200000e23005f212380004097429760220001713220554e49582d4e494654"
	 "5020245265766973698e6f6e3a20352e362e312e31302024"
	},
	{0, 85,
	 "3f0205032200800a22002040321c2f7661722f6674702f73706f6f6c2f6d6169"
	 "6c2f6676646167786c6c423204726f6f74713220554e49582d4e494654502024"
	 "945265766973696f6e3a20352e362e312e31302024"
	},
	{1, 3,
	 "820100"
	},
	{1, 264,
	 "004000236a696d40756b2e61632e746573742e712c0a6672656440756b2e6163"
	 "2e746573742e71420a3f46726f6d3a20416c696365203c616c69636540756b2e"
	 "61632e746573742e703e0a546f3a206a696d40756b2e61632e746573742e712c"
	 "206672656440756b2e3f61632e746573742e710a5375626a6563743a204e4946"
	 "545020696e7465726f7020746573740a446174653a204d6f6e2c203233204e6f"
	 "762038372031393a3502303a42300420474d54420a024865426c1d6f20766961"
	 "204e494654502d383020616e642074686520477265792042426faa6b2e0a5468"
	 "6973206c696e65206d656e74696f6e73202d6461736820616e64202771756f74"
	 "6573272e0a004300"
	},
	{0, 3,
	 "004700"
	},
	{1, 7,
	 "8600010f222000"
	},
	{0, 7,
	 "8605010f222000"
	},
};
static const struct tl_capseg cap_ftp_plain[] = {
	{1, 134,
	 "667470003f040d0022010001220001032300ff082298c60aa300200b2200000e"
	 "23005f212380004032222f7661722f6674702f686f6d652f6e696674702f7265"
	 "63762d703f6c61696e2e7478744232056e696674704432067365637265746022"
	 "0001713220554e49582d4e4946545020245265766973696f6e3a20352e362e31"
	 "2e3130208124"
	},
	{0, 46,
	 "ad0203032200800a220020713220554e49582d4e494654502024526576697369"
	 "6f6e3a20352e362e312e31302024"
	},
	{1, 3,
	 "820100"
	},
	{1, 95,
	 "004000024865426c326f204e4946545020776f726c642e0a5365636f6e64206c"
	 "696e65206f662074686520706c61696e20746578742066696c652e420a9e4c61"
	 "7374206c696e65206166746572206120626c616e6b206c696e652e0a004300"
	},
	{0, 3,
	 "004700"
	},
	{1, 7,
	 "8600010f222000"
	},
	{0, 7,
	 "8605010f222000"
	},
};
static const struct tl_capseg cap_mail_fail67[] = {
	{1, 88,
	 "6674702e6d61696c003f040c0022010001220001032300ff082298d50aa30020"
	 "0b2200000e23005f212380004097429760220001713220554e49582d4e494654"
	 "5020245265766973698e6f6e3a20352e362e312e31302024"
	},
	{0, 85,
	 "3f0205032200800a22002040321c2f7661722f6674702f73706f6f6c2f6d6169"
	 "6c2f667664616778786c423204726f6f74713220554e49582d4e494654502024"
	 "945265766973696f6e3a20352e362e312e31302024"
	},
	{1, 3,
	 "820100"
	},
	{1, 264,
	 "004000236a696d40756b2e61632e746573742e712c0a6672656440756b2e6163"
	 "2e746573742e71420a3f46726f6d3a20416c696365203c616c69636540756b2e"
	 "61632e746573742e703e0a546f3a206a696d40756b2e61632e746573742e712c"
	 "206672656440756b2e3f61632e746573742e710a5375626a6563743a204e4946"
	 "545020696e7465726f7020746573740a446174653a204d6f6e2c203233204e6f"
	 "762038372031393a3502303a42300420474d54420a024865426c1d6f20766961"
	 "204e494654502d383020616e642074686520477265792042426faa6b2e0a5468"
	 "6973206c696e65206d656e74696f6e73202d6461736820616e64202771756f74"
	 "6573272e0a004300"
	},
	{0, 3,
	 "004621"
	},
	{1, 3,
	 "004321"
	},
	{0, 3,
	 "004721"
	},
	{1, 22,
	 "9500020f22301071320c476f74206120515228323129"
	},
	{0, 27,
	 "9a05020f22301071321155736572206e616d6520756e6b6e6f776e"
	},
};

static const struct {
	const char *name;
	const struct tl_capseg *segs;
	size_t	n;
} captures[] = {
	{"mail_small", cap_mail_small, sizeof(cap_mail_small) / sizeof(cap_mail_small[0])},
	{"ftp_plain", cap_ftp_plain, sizeof(cap_ftp_plain) / sizeof(cap_ftp_plain[0])},
	{"mail_fail67", cap_mail_fail67, sizeof(cap_mail_fail67) / sizeof(cap_mail_fail67[0])},
};

const struct tl_capseg *tl_capture(const char *name, size_t *nseg)
{
	size_t	i;

	for (i = 0; i < sizeof(captures) / sizeof(captures[0]); i++)
		if (strcmp(captures[i].name, name) == 0) {
			*nseg = captures[i].n;
			return captures[i].segs;
		}
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t tl_unhex(const char *hex, unsigned char *out, size_t cap)
{
	size_t	k = 0;

	while (hex[0] && hex[1] && k < cap) {
		int	a = hexval(hex[0]), b = hexval(hex[1]);

		if (a < 0 || b < 0) {
			hex++;
			continue;
		}
		out[k++] = (unsigned char) (a * 16 + b);
		hex += 2;
	}
	return k;
}

unsigned char *tl_capseg_bytes(const struct tl_capseg *s)
{
	unsigned char *p = xmalloc(s->len + 1);

	tl_unhex(s->hex, p, s->len);
	return p;
}
