/* The manifest directory source (source-dir.h).
 *
 * Bookkeeping: files maps a path to what that file contributed (its objects, each with a
 * fingerprint of its text); owners maps an object key ("Kind/ns/name") to the file that
 * defines it, which is how a second definition is caught and named. Both are only changed
 * after the store accepted the file's batch, so a failure anywhere leaves store and books as
 * they were. */
#include "k8s/source-dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "lib/loop.h"

#define WF_SOURCE_DIR_SETTLE_MS 20 /* wait after a removal for a rename-and-write */
#define MAX_DEPTH 32		   /* directory nesting (symlink loops end here) */
#define WATCH_MASK                                                                               \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_ONLYDIR)

struct fobj {
	struct wf_k8s_object *obj; /* one reference */
	uint64_t fp;		   /* hash of the object's text; 0 = unknown */
};

struct file_rec {
	char *path;
	struct fobj *objs;
	size_t n;
	size_t ignored;
	bool applied;	/* objs are in the store */
	bool explicit_; /* named by the caller, not found by a scan */
	bool dup_held;	/* last attempt failed on a duplicate: retry when others change */
	int error;	/* last attempt's error, 0 when the file is applied as it is */
};

struct watch {
	int wd;
	bool recursive; /* a scanned directory; else the parent of explicit files */
	char *path;
};

struct wf_source_dir {
	struct wf_source_dir_config cfg;
	int ifd;
	struct wf_hash *files;	/* path -> struct file_rec */
	struct wf_hash *owners; /* object key -> struct file_rec */
	struct watch *watches;
	size_t n_watches;
	size_t batches;
	bool released; /* keys were given up since files held by a duplicate were last tried */
	/* Objects of files that went away in this round: still in the store until the round
	 * ends, so that a file that defines them again (a rename, a move to another directory)
	 * takes them over without a DELETED/ADDED pair. key -> struct fobj (wf_malloc'd). */
	struct wf_hash *orphans;
	struct wf_loop_io *io;
};

/* A set of owned path strings, for the files one round must look at, each with what was last
 * seen happen to it. */
enum {
	SEEN_CHANGED, /* written, moved in, or found by a scan: apply it, or remove it if gone */
	SEEN_REMOVED, /* deleted or moved away: remove it, unless a new version is being written */
};

struct pathset {
	struct wf_hash *h; /* path -> 1 + index */
	char **paths;
	uint8_t *seen;
	size_t n;
	size_t cap;
};

static void report(struct wf_source_dir *src, int err, const struct wf_diag *d)
{
	if (src->cfg.on_error)
		src->cfg.on_error(src->cfg.userdata, err, d);
}

static void report_errno(struct wf_source_dir *src, const char *path, int err)
{
	struct wf_diag d;
	wf_diag_clear(&d);
	wf_diag_set(&d, path, 0, 0, NULL, "%s", wf_strerror(err));
	report(src, err, &d);
}

static char *path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	char *p = wf_malloc(dl + 1 + nl + 1);
	if (!p)
		return NULL;
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	return p;
}

bool wf_source_dir_wanted_name(const char *name)
{
	size_t n = strlen(name);
	/* Hidden files include vim's .x.swp and emacs' .#x lock links. */
	if (n == 0 || name[0] == '.' || name[n - 1] == '~' || strcmp(name, "4913") == 0)
		return false;
	const char *dot = strrchr(name, '.');
	if (!dot)
		return false;
	return strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 || strcmp(dot, ".json") == 0;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* ---- path sets ---- */

static int pathset_mark(struct pathset *ps, const char *path, int seen)
{
	if (!ps->h) {
		ps->h = wf_hash_new(16);
		if (!ps->h)
			return -ENOMEM;
	}
	uintptr_t ix = (uintptr_t)wf_hash_gets(ps->h, path);
	if (ix) {
		ps->seen[ix - 1] = (uint8_t)seen;
		return 0;
	}
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		char **p = wf_reallocarray(ps->paths, cap, sizeof(*p));
		if (!p)
			return -ENOMEM;
		ps->paths = p;
		uint8_t *f = wf_realloc(ps->seen, cap);
		if (!f)
			return -ENOMEM;
		ps->seen = f;
		ps->cap = cap;
	}
	char *copy = wf_strdup(path);
	if (!copy)
		return -ENOMEM;
	int r = wf_hash_put(ps->h, copy, strlen(copy), (void *)(uintptr_t)(ps->n + 1), NULL);
	if (r < 0) {
		wf_free(copy);
		return r;
	}
	ps->seen[ps->n] = (uint8_t)seen;
	ps->paths[ps->n++] = copy;
	return 0;
}

static int pathset_add(struct pathset *ps, const char *path)
{
	return pathset_mark(ps, path, SEEN_CHANGED);
}

static void pathset_done(struct pathset *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		wf_free(ps->paths[i]);
	wf_free(ps->paths);
	wf_free(ps->seen);
	wf_hash_free(ps->h);
	memset(ps, 0, sizeof(*ps));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- file records ---- */

static void rec_free(struct file_rec *rec)
{
	if (!rec)
		return;
	for (size_t i = 0; i < rec->n; i++)
		wf_k8s_object_unref(rec->objs[i].obj);
	wf_free(rec->objs);
	wf_free(rec->path);
	wf_free(rec);
}

static struct file_rec *rec_get_or_new(struct wf_source_dir *src, const char *path)
{
	struct file_rec *rec = wf_hash_gets(src->files, path);
	if (rec)
		return rec;
	rec = wf_calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	rec->path = wf_strdup(path);
	if (!rec->path || wf_hash_put(src->files, rec->path, strlen(rec->path), rec, NULL) < 0) {
		rec_free(rec);
		return NULL;
	}
	return rec;
}

static void rec_drop(struct wf_source_dir *src, struct file_rec *rec)
{
	wf_hash_del(src->files, rec->path, strlen(rec->path));
	rec_free(rec);
}

static int read_all(const char *path, char **ret_buf, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	struct stat st;
	int r;
	char *buf = NULL;
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out_close;
	}
	if ((uint64_t)st.st_size > WF_K8S_MAX_FILE_BYTES) {
		r = -WF_E_TOO_BIG;
		goto out_close;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	buf = wf_malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		if (len == cap) {
			/* The file grew since fstat: take what fits under the cap. */
			if (cap > WF_K8S_MAX_FILE_BYTES) {
				r = -WF_E_TOO_BIG;
				goto out_free;
			}
			char *bigger = wf_realloc(buf, cap * 2);
			if (!bigger) {
				r = -ENOMEM;
				goto out_free;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*ret_buf = buf;
	*ret_len = len;
	return 0;
out_free:
	wf_free(buf);
out_close:
	close(fd);
	return r;
}

/* Fingerprints: each object's text runs from its origin to the next object's origin (or the
 * end of the file). Unchanged text means an unchanged object, whatever moved around it. */
struct origin_ix {
	size_t i;
	unsigned line, column;
	size_t off;
};

static int cmp_origin(const void *a, const void *b)
{
	const struct origin_ix *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->column < y->column ? -1 : x->column > y->column;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Where an object's text really ends: before trailing blanks, comments-free separators
 * ("---", "...") and the blanks before them, so that appending or removing the next document
 * does not change the text of this one. */
static size_t text_end(const char *buf, size_t start, size_t end)
{
	for (;;) {
		while (end > start && is_space(buf[end - 1]))
			end--;
		if (end - start >= 3 &&
		    (memcmp(buf + end - 3, "---", 3) == 0 ||
		     memcmp(buf + end - 3, "...", 3) == 0) &&
		    (end - start == 3 || buf[end - 4] == '\n')) {
			end -= 3;
			continue;
		}
		return end;
	}
}

static int fingerprint(const char *buf, size_t len, const struct wf_k8s_parse_result *res,
		       uint64_t *fps)
{
	size_t n = res->n_objects;
	if (n == 0)
		return 0;
	struct origin_ix *ox = wf_reallocarray(NULL, n, sizeof(*ox));
	if (!ox)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ox[i] = (struct origin_ix){i, res->objects[i]->origin.line,
					   res->objects[i]->origin.column, 0};
	qsort(ox, n, sizeof(*ox), cmp_origin);
	unsigned line = 1;
	size_t off = 0;
	for (size_t k = 0; k < n; k++) {
		while (line < ox[k].line && off < len) {
			const char *nl = memchr(buf + off, '\n', len - off);
			if (!nl) {
				off = len;
				break;
			}
			off = (size_t)(nl - buf) + 1;
			line++;
		}
		size_t col = ox[k].column ? ox[k].column - 1 : 0;
		ox[k].off = off + col <= len ? off + col : len;
	}
	for (size_t k = 0; k < n; k++) {
		size_t end = k + 1 < n ? ox[k + 1].off : len;
		if (ox[k].line == 0 || end < ox[k].off) {
			fps[ox[k].i] = 0;
			continue;
		}
		end = text_end(buf, ox[k].off, end);
		uint64_t h = wf_hash_bytes(buf + ox[k].off, end - ox[k].off);
		fps[ox[k].i] = h ? h : 1;
	}
	wf_free(ox);
	return 0;
}

/* ---- applying one file ---- */

static bool report_duplicates(struct wf_source_dir *src, struct file_rec *rec,
			      const struct wf_k8s_parse_result *res)
{
	bool dup = false;
	for (size_t i = 0; i < res->n_objects; i++) {
		const struct wf_k8s_object *obj = res->objects[i];
		struct file_rec *other = wf_hash_gets(src->owners, obj->key);
		if (!other || other == rec)
			continue;
		const struct wf_k8s_object *theirs = NULL;
		for (size_t j = 0; j < other->n && !theirs; j++)
			if (strcmp(other->objs[j].obj->key, obj->key) == 0)
				theirs = other->objs[j].obj;
		struct wf_diag d;
		wf_diag_clear(&d);
		wf_diag_set(&d, rec->path, obj->origin.line, obj->origin.column, "metadata.name",
			    "%s is also defined in %s:%u", obj->key, other->path,
			    theirs ? theirs->origin.line : 0);
		report(src, -WF_E_DUPLICATE, &d);
		dup = true;
	}
	return dup;
}

static void rec_fail(struct file_rec *rec, int err)
{
	rec->error = err;
	rec->dup_held = err == -WF_E_DUPLICATE;
}

/* A file read, parsed and fingerprinted: the part of applying a file that touches no source
 * state, so that worker threads can do it for many files at once. */
struct parsed {
	int err; /* 0, or the error described by diag */
	struct wf_diag diag;
	struct wf_k8s_parse_result res;
	uint64_t *fps;
};

/* Drops the objects of kinds the source does not keep (cfg.kinds), with their fingerprints,
 * and counts them as ignored. */
static void filter_kinds(struct parsed *p, uint64_t kinds)
{
	size_t kept = 0;

	if (!kinds)
		return;
	for (size_t i = 0; i < p->res.n_objects; i++) {
		struct wf_k8s_object *obj = p->res.objects[i];
		if (!(kinds & WF_SOURCE_KIND(obj->kind))) {
			wf_k8s_object_unref(obj);
			p->res.ignored++;
			continue;
		}
		p->res.objects[kept] = obj;
		p->fps[kept] = p->fps[i];
		kept++;
	}
	p->res.n_objects = kept;
}

static void parse_file(const char *path, uint64_t kinds, struct parsed *p)
{
	char *buf = NULL;
	size_t len = 0;

	memset(&p->res, 0, sizeof(p->res));
	p->fps = NULL;
	wf_diag_clear(&p->diag);
	p->err = read_all(path, &buf, &len);
	if (p->err < 0) {
		wf_diag_set(&p->diag, path, 0, 0, NULL, "%s", wf_strerror(p->err));
		return;
	}
	p->err = wf_k8s_parse(buf, len, path, &p->res, &p->diag);
	if (p->err >= 0) {
		p->err = 0;
		size_t n = p->res.n_objects;
		p->fps = wf_calloc(n ? n : 1, sizeof(*p->fps));
		if (!p->fps || fingerprint(buf, len, &p->res, p->fps) < 0) {
			p->err = -ENOMEM;
			wf_diag_set(&p->diag, path, 0, 0, NULL, "%s", wf_strerror(p->err));
			wf_k8s_parse_result_done(&p->res);
		} else {
			filter_kinds(p, kinds);
		}
	}
	wf_free(buf);
}

static void parsed_done(struct parsed *p)
{
	wf_k8s_parse_result_done(&p->res);
	wf_free(p->fps);
	p->fps = NULL;
}

/* Applies a parsed file as one batch (p stays the caller's). Returns 1 when applied, 0 when
 * the file failed (reported), -ENOMEM when not even the failure could be recorded. */
static int apply_parsed(struct wf_source_dir *src, const char *path, bool explicit_,
			struct parsed *p)
{
	struct wf_k8s_parse_result res = p->res;
	struct wf_store_batch *b = NULL;
	struct wf_hash *old_ix = NULL;
	struct fobj *objs = NULL;
	const uint64_t *fps = p->fps;
	bool *seen = NULL, *adopted = NULL;
	size_t n_owned = 0;
	int r;

	struct file_rec *rec = rec_get_or_new(src, path);
	if (!rec)
		return -ENOMEM;
	rec->explicit_ |= explicit_;

	if (p->err < 0) {
		r = p->err;
		report(src, r, &p->diag);
		goto fail;
	}
	size_t n = res.n_objects;
	if (report_duplicates(src, rec, &res)) {
		r = -WF_E_DUPLICATE;
		goto fail;
	}

	r = -ENOMEM;
	objs = wf_calloc(n ? n : 1, sizeof(*objs));
	seen = wf_calloc(rec->n ? rec->n : 1, sizeof(*seen));
	adopted = wf_calloc(n ? n : 1, sizeof(*adopted));
	old_ix = wf_hash_new(rec->n);
	if (!objs || !seen || !adopted || !old_ix)
		goto fail_report;
	for (size_t i = 0; i < rec->n; i++)
		if (wf_hash_put(old_ix, rec->objs[i].obj->key, strlen(rec->objs[i].obj->key),
				&rec->objs[i], NULL) < 0)
			goto fail_report;

	r = wf_store_batch_begin(src->cfg.store, &b);
	if (r < 0)
		goto fail_report;
	for (size_t i = 0; i < n; i++) {
		struct wf_k8s_object *obj = res.objects[i];
		struct fobj *old = wf_hash_gets(old_ix, obj->key);
		if (old) {
			seen[old - rec->objs] = true;
		} else if ((old = wf_hash_gets(src->orphans, obj->key))) {
			/* Left behind by a file that went away this round: take it over. */
			adopted[i] = true;
		}
		if (old && old->fp && old->fp == fps[i]) {
			/* Same text: keep the stored object (no event). */
			objs[i] = (struct fobj){wf_k8s_object_ref(old->obj), old->fp};
			continue;
		}
		r = wf_store_batch_put(b, obj);
		if (r < 0)
			goto fail_report;
		objs[i] = (struct fobj){wf_k8s_object_ref(obj), fps[i]};
	}
	for (size_t i = 0; i < rec->n; i++) {
		const struct wf_k8s_object *obj = rec->objs[i].obj;
		if (seen[i])
			continue;
		r = wf_store_batch_delete(b, obj->kind, obj->namespace, obj->name);
		if (r < 0 && r != -ENOENT)
			goto fail_report;
	}
	/* Claim the keys this file newly defines before committing: that is the last step that
	 * can fail. */
	for (n_owned = 0; n_owned < n; n_owned++) {
		const char *key = objs[n_owned].obj->key;
		if (wf_hash_gets(src->owners, key))
			continue;
		r = wf_hash_put(src->owners, key, strlen(key), rec, NULL);
		if (r < 0)
			goto fail_report;
	}
	size_t changes = wf_store_batch_changes(b);
	r = wf_store_batch_commit(b);
	b = NULL;
	if (r < 0)
		goto fail_report;
	if (changes)
		src->batches++;

	/* Books: keys of dropped objects go, kept keys now point into the objects we keep
	 * (replacing an entry never allocates). */
	for (size_t i = 0; i < rec->n; i++) {
		if (seen[i])
			continue;
		wf_hash_del(src->owners, rec->objs[i].obj->key, strlen(rec->objs[i].obj->key));
		src->released = true;
	}
	for (size_t i = 0; i < n; i++)
		wf_hash_put(src->owners, objs[i].obj->key, strlen(objs[i].obj->key), rec, NULL);
	for (size_t i = 0; i < n; i++) {
		if (!adopted[i])
			continue;
		const char *key = objs[i].obj->key;
		struct fobj *o = wf_hash_del(src->orphans, key, strlen(key));
		wf_k8s_object_unref(o->obj);
		wf_free(o);
	}
	for (size_t i = 0; i < rec->n; i++)
		wf_k8s_object_unref(rec->objs[i].obj);
	wf_free(rec->objs);
	rec->objs = objs;
	rec->n = n;
	rec->ignored = res.ignored;
	rec->applied = true;
	rec->error = 0;
	rec->dup_held = false;
	objs = NULL;
	r = 1;
	goto out;

fail_report:
	report_errno(src, path, r);
fail:
	rec_fail(rec, r);
	/* Undo key claims (only keys that pointed nowhere before were added). */
	for (size_t i = 0; objs && i < n_owned; i++) {
		const char *key = objs[i].obj->key;
		if (wf_hash_gets(src->owners, key) == rec && !wf_hash_gets(old_ix, key))
			wf_hash_del(src->owners, key, strlen(key));
	}
	wf_store_batch_abort(b);
	if (objs)
		for (size_t i = 0; i < res.n_objects; i++)
			wf_k8s_object_unref(objs[i].obj);
	r = 0;
out:
	wf_free(objs);
	wf_free(seen);
	wf_free(adopted);
	wf_hash_free(old_ix);
	return r;
}

static int apply_file(struct wf_source_dir *src, const char *path, bool explicit_)
{
	struct parsed p;
	parse_file(path, src->cfg.kinds, &p);
	int r = apply_parsed(src, path, explicit_, &p);
	parsed_done(&p);
	return r;
}

/* Deletes objs[0..n) from the store in one batch. Returns 0 or -ENOMEM (nothing deleted). */
static int delete_objects(struct wf_source_dir *src, struct fobj *const *objs, size_t n)
{
	struct wf_store_batch *b;
	int r = wf_store_batch_begin(src->cfg.store, &b);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		const struct wf_k8s_object *obj = objs[i]->obj;
		r = wf_store_batch_delete(b, obj->kind, obj->namespace, obj->name);
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0) {
		wf_store_batch_abort(b);
		return r;
	}
	size_t changes = wf_store_batch_changes(b);
	r = wf_store_batch_commit(b);
	if (r == 0 && changes)
		src->batches++;
	return r;
}

/* The file is gone: its objects become orphans, deleted from the store when the round ends
 * unless another file takes them over. Returns 1, or 0 on failure (reported; the books stay
 * as they were so that a later round can retry). */
static int remove_file(struct wf_source_dir *src, struct file_rec *rec)
{
	size_t n_moved = 0;
	int r = 0;

	if (rec->applied) {
		for (; n_moved < rec->n; n_moved++) {
			struct fobj *o = wf_malloc(sizeof(*o));
			const char *key = rec->objs[n_moved].obj->key;
			if (!o) {
				r = -ENOMEM;
				break;
			}
			*o = rec->objs[n_moved];
			r = wf_hash_put(src->orphans, key, strlen(key), o, NULL);
			if (r < 0) {
				wf_free(o);
				break;
			}
		}
		if (r < 0) {
			/* Undo; no object reference moved yet. */
			for (size_t i = 0; i < n_moved; i++) {
				const char *key = rec->objs[i].obj->key;
				wf_free(wf_hash_del(src->orphans, key, strlen(key)));
			}
			report_errno(src, rec->path, r);
			return 0;
		}
	}
	/* The references moved to the orphans; the keys are free for any file to define. */
	for (size_t i = 0; i < rec->n; i++) {
		const char *key = rec->objs[i].obj->key;
		if (wf_hash_gets(src->owners, key) == rec) {
			wf_hash_del(src->owners, key, strlen(key));
			src->released = true;
		}
		if (!rec->applied)
			wf_k8s_object_unref(rec->objs[i].obj);
	}
	wf_free(rec->objs);
	rec->objs = NULL;
	rec->n = 0;
	if (rec->explicit_) {
		/* Keep the record so that the name is still recognised when it comes back. */
		rec->applied = false;
		rec->error = 0;
		rec->dup_held = false;
		return 1;
	}
	rec_drop(src, rec);
	return 1;
}

/* The round is over: orphans no file took over leave the store, in one batch. */
static int flush_orphans(struct wf_source_dir *src)
{
	size_t n = wf_hash_count(src->orphans), k = 0, it = 0;
	const void *key;
	size_t kl;
	void *v;

	if (n == 0)
		return 0;
	struct fobj **list = wf_reallocarray(NULL, n, sizeof(*list));
	if (!list)
		return -ENOMEM;
	while (wf_hash_next(src->orphans, &it, &key, &kl, &v))
		list[k++] = v;
	int r = delete_objects(src, list, k);
	if (r == 0) {
		for (size_t i = 0; i < k; i++) {
			const char *okey = list[i]->obj->key;
			wf_hash_del(src->orphans, okey, strlen(okey));
			wf_k8s_object_unref(list[i]->obj);
			wf_free(list[i]);
		}
	}
	wf_free(list);
	return r;
}

/* Files held back by a duplicate get another chance after the books changed. */
static int retry_held(struct wf_source_dir *src)
{
	struct pathset ps = {0};
	size_t it = 0;
	const void *k;
	size_t kl;
	void *v;
	int r = 0, applied = 0;

	if (!src->released)
		return 0;
	src->released = false;
	while (wf_hash_next(src->files, &it, &k, &kl, &v))
		if (((struct file_rec *)v)->dup_held && (r = pathset_add(&ps, k)) < 0)
			break;
	if (r == 0 && ps.n > 1)
		qsort(ps.paths, ps.n, sizeof(*ps.paths), cmp_str); /* ps.h is not used again */
	for (size_t i = 0; r == 0 && i < ps.n; i++) {
		r = apply_file(src, ps.paths[i], false);
		if (r > 0)
			applied++, r = 0;
	}
	pathset_done(&ps);
	return r < 0 ? r : applied;
}

/* ---- scanning and watching ---- */

static struct watch *watch_find(struct wf_source_dir *src, int wd)
{
	for (size_t i = 0; i < src->n_watches; i++)
		if (src->watches[i].wd == wd)
			return &src->watches[i];
	return NULL;
}

static int watch_add(struct wf_source_dir *src, const char *dir, bool recursive)
{
	if (src->ifd < 0)
		return 0;
	int wd = inotify_add_watch(src->ifd, dir, WATCH_MASK);
	if (wd == -1)
		return -errno;
	struct watch *w = watch_find(src, wd);
	if (w) {
		/* Same directory again (or the kernel reused the id): refresh. */
		w->recursive |= recursive;
		if (strcmp(w->path, dir) != 0) {
			char *p = wf_strdup(dir);
			if (!p)
				return -ENOMEM;
			wf_free(w->path);
			w->path = p;
		}
		return 0;
	}
	struct watch *ws = wf_reallocarray(src->watches, src->n_watches + 1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	src->watches = ws;
	char *p = wf_strdup(dir);
	if (!p)
		return -ENOMEM;
	ws[src->n_watches++] = (struct watch){wd, recursive, p};
	return 0;
}

static void watch_forget(struct wf_source_dir *src, struct watch *w, bool rm)
{
	if (rm)
		inotify_rm_watch(src->ifd, w->wd);
	wf_free(w->path);
	*w = src->watches[--src->n_watches];
}

/* The directories from a scan's root down to the current one: a symlink back to one of
 * them is a loop, not more manifests. */
struct ancestors {
	dev_t dev[MAX_DEPTH + 1];
	ino_t ino[MAX_DEPTH + 1];
	int n;
};

static int scan_dir_at(struct wf_source_dir *src, const char *dir, struct ancestors *up,
		       struct pathset *ps)
{
	struct stat st;
	if (up->n > MAX_DEPTH || stat(dir, &st) == -1)
		return 0;
	for (int i = 0; i < up->n; i++)
		if (up->dev[i] == st.st_dev && up->ino[i] == st.st_ino)
			return 0;
	int r = watch_add(src, dir, true);
	if (r < 0)
		return r;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	up->dev[up->n] = st.st_dev;
	up->ino[up->n] = st.st_ino;
	up->n++;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ., .., hidden files and directories */
		char *p = path_join(dir, de->d_name);
		if (!p) {
			r = -ENOMEM;
			break;
		}
		if (stat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				r = scan_dir_at(src, p, up, ps);
			else if (S_ISREG(st.st_mode) && wf_source_dir_wanted_name(de->d_name))
				r = pathset_add(ps, p);
			/* A subdirectory that vanished or cannot be read is no reason to stop. */
			if (r != -ENOMEM)
				r = 0;
		}
		wf_free(p);
		if (r < 0)
			break;
	}
	up->n--;
	closedir(d);
	return r;
}

/* Collects the wanted files below dir into ps (and watches each directory). */
static int scan_dir(struct wf_source_dir *src, const char *dir, struct pathset *ps)
{
	struct ancestors up = {.n = 0};
	return scan_dir_at(src, dir, &up, ps);
}

int wf_source_dir_new(const struct wf_source_dir_config *cfg, struct wf_source_dir **ret)
{
	struct wf_source_dir *src = wf_calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;
	src->cfg = *cfg;
	src->ifd = -1;
	src->files = wf_hash_new(64);
	src->owners = wf_hash_new(256);
	src->orphans = wf_hash_new(16);
	if (!src->files || !src->owners || !src->orphans) {
		wf_source_dir_free(src);
		return -ENOMEM;
	}
	if (cfg->watch) {
		src->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (src->ifd == -1) {
			int r = -errno;
			wf_source_dir_free(src);
			return r;
		}
	}
	*ret = src;
	return 0;
}

void wf_source_dir_free(struct wf_source_dir *src)
{
	if (!src)
		return;
	if (src->files) {
		size_t it = 0;
		const void *k;
		size_t kl;
		void *v;
		while (wf_hash_next(src->files, &it, &k, &kl, &v))
			rec_free(v);
	}
	if (src->orphans) {
		size_t it = 0;
		const void *k;
		size_t kl;
		void *v;
		while (wf_hash_next(src->orphans, &it, &k, &kl, &v)) {
			wf_k8s_object_unref(((struct fobj *)v)->obj);
			wf_free(v);
		}
	}
	wf_hash_free(src->orphans);
	wf_hash_free(src->files);
	wf_hash_free(src->owners);
	for (size_t i = 0; i < src->n_watches; i++)
		wf_free(src->watches[i].path);
	wf_free(src->watches);
	wf_loop_io_free(src->io);
	if (src->ifd >= 0)
		close(src->ifd);
	wf_free(src);
}

int wf_source_dir_fd(const struct wf_source_dir *src)
{
	return src->ifd;
}

/* ---- parsing in parallel ----
 *
 * Parsing is most of the cost of a load and independent per file, so a big load (the first
 * scan, a rescan) parses on one worker per CPU while this thread applies the files in name
 * order as they become ready: the store still sees one batch per file, in the same order as a
 * serial load. Workers stay at most PIPELINE_AHEAD files ahead to bound memory. */
#define PIPELINE_MIN 8
#define PIPELINE_AHEAD 8
#define PIPELINE_MAX_THREADS 8

struct pipeline {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char **paths;
	uint64_t kinds; /* cfg.kinds of the source */
	struct parsed *slots;
	bool *ready;
	size_t n;
	size_t next;	/* next file a worker takes */
	size_t applied; /* files the applying thread is done with */
};

static void *pipeline_worker(void *arg)
{
	struct pipeline *pl = arg;
	pthread_mutex_lock(&pl->lock);
	while (pl->next < pl->n) {
		if (pl->next >= pl->applied + PIPELINE_AHEAD) {
			pthread_cond_wait(&pl->cond, &pl->lock);
			continue;
		}
		size_t i = pl->next++;
		pthread_mutex_unlock(&pl->lock);
		parse_file(pl->paths[i], pl->kinds, &pl->slots[i]);
		pthread_mutex_lock(&pl->lock);
		pl->ready[i] = true;
		pthread_cond_broadcast(&pl->cond);
	}
	pthread_mutex_unlock(&pl->lock);
	return NULL;
}

/* Applies paths[0..n) in order, parsing them on worker threads. Returns like apply_paths'
 * loop: -ENOMEM, or 0 with *ret_done and *ret_failed counted; -EAGAIN when no thread could be
 * started (the caller goes serial). */
static int apply_parallel(struct wf_source_dir *src, char **paths, size_t n, bool explicit_,
			  int *ret_done, int *ret_failed)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = cpus > 1 ? (size_t)cpus : 1;
	if (nthreads > PIPELINE_MAX_THREADS)
		nthreads = PIPELINE_MAX_THREADS;
	struct pipeline pl = {.paths = paths, .kinds = src->cfg.kinds, .n = n};
	pthread_t threads[PIPELINE_MAX_THREADS];
	size_t started = 0;
	int r = 0;

	pl.slots = wf_calloc(n, sizeof(*pl.slots));
	pl.ready = wf_calloc(n, sizeof(*pl.ready));
	if (!pl.slots || !pl.ready) {
		wf_free(pl.slots);
		wf_free(pl.ready);
		return -ENOMEM;
	}
	pthread_mutex_init(&pl.lock, NULL);
	pthread_cond_init(&pl.cond, NULL);
	for (; started < nthreads; started++)
		if (pthread_create(&threads[started], NULL, pipeline_worker, &pl) != 0)
			break;
	if (started == 0) {
		r = -EAGAIN;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&pl.lock);
		while (!pl.ready[i])
			pthread_cond_wait(&pl.cond, &pl.lock);
		pthread_mutex_unlock(&pl.lock);
		if (r == 0) {
			r = apply_parsed(src, paths[i], explicit_, &pl.slots[i]);
			if (r > 0)
				(*ret_done)++;
			else if (r == 0)
				(*ret_failed)++;
			r = r < 0 ? r : 0;
		}
		parsed_done(&pl.slots[i]);
		pthread_mutex_lock(&pl.lock);
		pl.applied = i + 1;
		pthread_cond_broadcast(&pl.cond);
		pthread_mutex_unlock(&pl.lock);
	}
	for (size_t t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
out:
	pthread_cond_destroy(&pl.cond);
	pthread_mutex_destroy(&pl.lock);
	wf_free(pl.slots);
	wf_free(pl.ready);
	return r;
}

/* Applies every path in ps: the ones that are gone first (removals), then the others in name
 * order. A path last seen removed that exists again is being rewritten (an editor's
 * rename-and-write): its close will come as an event of its own, so it waits. Returns the
 * number of files that failed (reported) or -ENOMEM; *ret_done counts the files applied or
 * removed. */
static int apply_paths(struct wf_source_dir *src, struct pathset *ps, bool explicit_, int *ret_done)
{
	int failed = 0, done = 0, r = 0;
	char **order = wf_reallocarray(NULL, ps->n ? ps->n : 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < ps->n; i++) {
		struct stat st;
		if (stat(ps->paths[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
			order[i] = ps->seen[i] == SEEN_REMOVED ? NULL : ps->paths[i];
			continue;
		}
		order[i] = NULL;
		struct file_rec *rec = wf_hash_gets(src->files, ps->paths[i]);
		if (rec)
			done += remove_file(src, rec);
	}
	size_t n = 0;
	for (size_t i = 0; i < ps->n; i++)
		if (order[i])
			order[n++] = order[i];
	qsort(order, n, sizeof(*order), cmp_str);
	if (n >= PIPELINE_MIN) {
		r = apply_parallel(src, order, n, explicit_, &done, &failed);
		if (r != -EAGAIN)
			n = 0;
		else
			r = 0;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = apply_file(src, order[i], explicit_);
		if (r < 0)
			break;
		if (r > 0)
			done++;
		else
			failed++;
		r = 0;
	}
	wf_free(order);
	if (r == 0) {
		r = retry_held(src);
		if (r > 0)
			done += r, r = 0;
	}
	if (r == 0 && flush_orphans(src) < 0)
		report_errno(src, "", -ENOMEM); /* tried again after the next round */
	*ret_done = done;
	return r < 0 ? r : failed;
}

int wf_source_dir_add(struct wf_source_dir *src, const char *path)
{
	struct pathset ps = {0};
	struct stat st;
	int r, done;

	if (stat(path, &st) == -1)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		r = scan_dir(src, path, &ps);
		if (r < 0)
			goto out;
		r = apply_paths(src, &ps, false, &done);
	} else {
		/* An explicit file: watch its directory for events about this name. */
		char *dir = wf_strdup(path), *slash;
		if (!dir)
			return -ENOMEM;
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		r = watch_add(src, slash ? dir : ".", false);
		wf_free(dir);
		if (r < 0)
			goto out;
		r = pathset_add(&ps, path);
		if (r < 0)
			goto out;
		r = apply_paths(src, &ps, true, &done);
	}
out:
	pathset_done(&ps);
	return r;
}

static bool is_explicit(struct wf_source_dir *src, const char *path)
{
	struct file_rec *rec = wf_hash_gets(src->files, path);
	return rec && rec->explicit_;
}

/* Every known file under dir, plus every wanted file found there now, into ps. */
static int mark_tree(struct wf_source_dir *src, const char *dir, bool rescan, struct pathset *ps)
{
	size_t it = 0;
	const void *k;
	size_t kl;
	void *v;
	int r = 0;
	while (wf_hash_next(src->files, &it, &k, &kl, &v))
		if (under(k, dir) && (r = pathset_add(ps, k)) < 0)
			return r;
	if (rescan) {
		struct stat st;
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			r = scan_dir(src, dir, ps);
	}
	return r == -ENOMEM ? r : 0;
}

static void forget_watches_under(struct wf_source_dir *src, const char *dir)
{
	for (size_t i = 0; i < src->n_watches;) {
		if (src->watches[i].recursive && under(src->watches[i].path, dir))
			watch_forget(src, &src->watches[i], true);
		else
			i++;
	}
}

static int handle_event(struct wf_source_dir *src, const struct inotify_event *ev,
			struct pathset *ps)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		/* Events were lost: look at everything again. */
		for (size_t i = 0; i < src->n_watches; i++) {
			int r = mark_tree(src, src->watches[i].path, src->watches[i].recursive, ps);
			if (r < 0)
				return r;
		}
		size_t it = 0;
		const void *k;
		size_t kl;
		void *v;
		while (wf_hash_next(src->files, &it, &k, &kl, &v))
			if (pathset_add(ps, k) < 0)
				return -ENOMEM;
		return 0;
	}
	struct watch *w = watch_find(src, ev->wd);
	if (!w)
		return 0;
	if (ev->mask & IN_IGNORED) {
		watch_forget(src, w, false);
		return 0;
	}
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		/* A watched directory went away: its files go with it. */
		int r = w->recursive ? mark_tree(src, w->path, false, ps) : 0;
		if (ev->mask & IN_MOVE_SELF)
			watch_forget(src, w, true);
		return r;
	}
	if (ev->len == 0 || ev->name[0] == '\0')
		return 0;

	char *full = path_join(w->path, ev->name);
	if (!full)
		return -ENOMEM;
	int r = 0;
	if (ev->name[0] == '.' && ev->name[1] == '.' && w->recursive) {
		/* Kubernetes volume projections (ConfigMap, Secret) publish a new version by
		 * swapping a hidden ..data symlink: everything visible may have changed. */
		if (ev->mask & (IN_MOVED_TO | IN_CREATE))
			r = mark_tree(src, w->path, true, ps);
	} else if (ev->mask & IN_ISDIR) {
		if (!w->recursive || ev->name[0] == '.') {
			/* not ours */
		} else if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
			r = mark_tree(src, full, true, ps);
		} else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
			forget_watches_under(src, full);
			r = mark_tree(src, full, false, ps);
		}
	} else if (w->recursive ? wf_source_dir_wanted_name(ev->name) : is_explicit(src, full)) {
		struct stat st;
		if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
			r = pathset_mark(ps, full, SEEN_CHANGED);
		else if ((ev->mask & IN_CREATE) && lstat(full, &st) == 0 &&
			 (S_ISLNK(st.st_mode) || st.st_nlink > 1))
			/* A symlink or a hard link is complete when it appears; a new file is
			 * not until it is closed (IN_CLOSE_WRITE). */
			r = pathset_mark(ps, full, SEEN_CHANGED);
		else if (ev->mask & (IN_MOVED_FROM | IN_DELETE))
			r = pathset_mark(ps, full, SEEN_REMOVED);
	}
	wf_free(full);
	return r;
}

/* Reads the events pending now into ps. Returns 0 or -errno. */
static int read_events(struct wf_source_dir *src, struct pathset *ps)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int r = 0;

	for (;;) {
		ssize_t n = read(src->ifd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? r : -errno;
		}
		if (n == 0)
			return r; /* not expected from inotify; never spin on it */
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (r == 0)
				r = handle_event(src, ev, ps);
			p += sizeof(*ev) + ev->len;
		}
		if (r < 0)
			return r;
	}
}

int wf_source_dir_process(struct wf_source_dir *src)
{
	struct pathset ps = {0};
	int r, done = 0;

	if (src->ifd < 0)
		return 0;
	r = read_events(src, &ps);
	/* A file just renamed away or deleted may be an editor saving through a rename: give
	 * its new version a moment to appear, so that readers do not see it vanish. */
	bool removal = false;
	for (size_t i = 0; i < ps.n; i++)
		removal |= ps.seen[i] == SEEN_REMOVED;
	if (r == 0 && removal) {
		struct pollfd pfd = {.fd = src->ifd, .events = POLLIN};
		if (poll(&pfd, 1, WF_SOURCE_DIR_SETTLE_MS) > 0)
			r = read_events(src, &ps);
	}
	if (r == 0 && ps.n > 0) {
		r = apply_paths(src, &ps, false, &done);
		if (r >= 0)
			r = done;
	}
	pathset_done(&ps);
	return r;
}

static void on_inotify(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events,
		       void *data)
{
	/* Per-file errors went to on_error; a failed read(2) is retried on the next wakeup. */
	wf_source_dir_process(data);
}

int wf_source_dir_attach(struct wf_source_dir *src, struct wf_loop *loop)
{
	if (src->ifd < 0)
		return -EINVAL;
	if (src->io)
		return -EBUSY;
	return wf_loop_io_new(loop, src->ifd, WF_LOOP_READ, on_inotify, src, &src->io);
}

void wf_source_dir_get_stats(const struct wf_source_dir *src, struct wf_source_dir_stats *ret)
{
	struct wf_source_dir_stats st = {.batches = src->batches};
	size_t it = 0;
	const void *k;
	size_t kl;
	void *v;
	while (wf_hash_next(src->files, &it, &k, &kl, &v)) {
		const struct file_rec *rec = v;
		if (rec->applied) {
			st.files++;
			st.objects += rec->n;
			st.ignored += rec->ignored;
		}
		if (rec->error)
			st.errors++;
	}
	*ret = st;
}

int wf_source_load_paths(struct wf_store *store, const char *const *paths, size_t n_paths,
			 wf_source_error_fn on_error, void *userdata,
			 struct wf_source_dir_stats *ret_stats)
{
	struct wf_source_dir_config cfg = {
		.store = store, .watch = false, .on_error = on_error, .userdata = userdata};
	struct wf_source_dir *src;
	int failed = 0;

	int r = wf_source_dir_new(&cfg, &src);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_paths; i++) {
		r = wf_source_dir_add(src, paths[i]);
		if (r == -ENOMEM)
			break;
		if (r < 0) {
			report_errno(src, paths[i], r);
			failed++;
		} else {
			failed += r;
		}
		r = 0;
	}
	if (r == 0 && ret_stats)
		wf_source_dir_get_stats(src, ret_stats);
	wf_source_dir_free(src);
	return r < 0 ? r : failed;
}
