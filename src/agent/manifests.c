/* The agent's manifest-directory seam (manifests.h). */
#include "agent/manifests.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/diag.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/loop.h"

#define LOG_SUB "agent"
#define MAX_FILES 65536

struct mfile {
	char *name;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct wf_k8s_parse_result res; /* the objects the file last parsed to */
	bool failed_logged;
};

struct wf_agent_manifests {
	struct wf_loop *loop;
	struct wf_store *store;
	char *dir;
	int ifd;
	struct wf_loop_io *io;
	struct wf_loop_defer *rescan;
	size_t n_files;
	struct mfile *files; /* sorted by name */
};

static bool wanted(const char *name)
{
	if (name[0] == '.')
		return false; /* dotfiles: editors' and atomic writers' temporaries */
	const char *dot = strrchr(name, '.');
	return dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") || !strcmp(dot, ".json"));
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct mfile *find_old(struct wf_agent_manifests *m, const char *name)
{
	for (size_t i = 0; i < m->n_files; i++) {
		if (strcmp(m->files[i].name, name) == 0)
			return &m->files[i];
	}
	return NULL;
}

static void mfiles_free(struct mfile *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		wf_free(files[i].name);
		wf_k8s_parse_result_done(&files[i].res);
	}
	wf_free(files);
}

/* Lists the wanted names of the directory, sorted. */
static int list_dir(const char *dir, char ***ret, size_t *ret_n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int err = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!wanted(de->d_name))
			continue;
		if (n == MAX_FILES) {
			err = -WF_E_TOO_BIG;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **p = wf_reallocarray(names, cap, sizeof(*names));
			if (!p) {
				err = -ENOMEM;
				break;
			}
			names = p;
		}
		names[n] = wf_strdup(de->d_name);
		if (!names[n]) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (err < 0) {
		for (size_t i = 0; i < n; i++)
			wf_free(names[i]);
		wf_free(names);
		return err;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	*ret = names;
	*ret_n = n;
	return 0;
}

/* Builds the new file table: unchanged files move their parse result over, changed ones are
 * parsed again (keeping the old result when the new parse fails). */
static int build(struct wf_agent_manifests *m, char **names, size_t n, struct mfile **ret)
{
	struct mfile *nf = wf_calloc(n ? n : 1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	char path[4096];
	int err = 0;
	for (size_t i = 0; i < n; i++) {
		struct mfile *f = &nf[i];
		struct mfile *old = find_old(m, names[i]);
		struct stat st;
		f->name = names[i];
		names[i] = NULL;
		snprintf(path, sizeof(path), "%s/%s", m->dir, f->name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue; /* gone since readdir, or not a file: no objects */
		f->ino = st.st_ino;
		f->size = st.st_size;
		f->mtime = st.st_mtim;
		if (old && old->ino == f->ino && old->size == f->size &&
		    old->mtime.tv_sec == f->mtime.tv_sec && old->mtime.tv_nsec == f->mtime.tv_nsec) {
			f->res = old->res;
			memset(&old->res, 0, sizeof(old->res));
			f->failed_logged = old->failed_logged;
			continue;
		}
		struct wf_diag diag;
		wf_diag_clear(&diag);
		int r = wf_k8s_parse_file(path, &f->res, &diag);
		if (r == -ENOMEM) {
			err = r;
			break;
		}
		if (r < 0) {
			char msg[WF_DIAG_MSG_MAX + WF_DIAG_FILE_MAX + 64], q[1024];
			if (!diag.msg[0])
				snprintf(diag.msg, sizeof(diag.msg), "%s", wf_strerror(r));
			wf_log_warn(LOG_SUB, "manifest rejected, keeping its previous objects",
				    "error=%s", wf_log_quote(wf_diag_format(&diag, msg, sizeof(msg)),
							     q, sizeof(q)));
			if (old) {
				/* Keep what the file said last time, and its stamp, so that
				 * the next rescan parses it again only if it changes again. */
				f->res = old->res;
				memset(&old->res, 0, sizeof(old->res));
			}
			f->failed_logged = true;
			continue;
		}
		f->failed_logged = false;
	}
	if (err < 0) {
		mfiles_free(nf, n);
		return err;
	}
	*ret = nf;
	return 0;
}

int wf_agent_manifests_scan(struct wf_agent_manifests *m)
{
	char **names = NULL;
	size_t n = 0;
	struct mfile *nf = NULL;
	struct wf_hash *keep = NULL;
	struct wf_store_batch *b = NULL;
	int ret;

	ret = list_dir(m->dir, &names, &n);
	if (ret < 0)
		return ret;
	ret = build(m, names, n, &nf);
	for (size_t i = 0; i < n; i++)
		wf_free(names[i]);
	wf_free(names);
	if (ret < 0)
		return ret;
	keep = wf_hash_new(64);
	if (!keep) {
		ret = -ENOMEM;
		goto out;
	}
	ret = wf_store_batch_begin(m->store, &b);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < n && ret == 0; i++) {
		for (size_t j = 0; j < nf[i].res.n_objects && ret == 0; j++) {
			struct wf_k8s_object *o = nf[i].res.objects[j];
			ret = wf_hash_put(keep, o->key, strlen(o->key), o, NULL);
			if (ret == 0)
				ret = wf_store_batch_put(b, o);
		}
	}
	/* Objects of the previous scan that no file names any more. */
	for (size_t i = 0; i < m->n_files && ret == 0; i++) {
		const struct wf_k8s_parse_result *r = &m->files[i].res;
		for (size_t j = 0; j < r->n_objects && ret == 0; j++) {
			const struct wf_k8s_object *o = r->objects[j];
			if (wf_hash_get(keep, o->key, strlen(o->key)))
				continue;
			ret = wf_store_batch_delete(b, o->kind, o->namespace, o->name);
			if (ret == -ENOENT)
				ret = 0;
		}
	}
	/* Files whose results moved to nf have empty results in m->files; files deleted
	 * since still hold theirs: their objects are deleted above. */
	if (ret < 0) {
		wf_store_batch_abort(b);
		goto out;
	}
	ret = wf_store_batch_commit(b);
	if (ret < 0)
		goto out;
	/* Committed: the new table replaces the old one. */
	mfiles_free(m->files, m->n_files);
	m->files = nf;
	m->n_files = n;
	nf = NULL;
out:
	if (nf) {
		/* Give the moved results back so that nothing is lost for the next scan. */
		for (size_t i = 0; i < n; i++) {
			struct mfile *old = find_old(m, nf[i].name);
			if (old && old->res.n_objects == 0 && nf[i].res.n_objects) {
				old->res = nf[i].res;
				memset(&nf[i].res, 0, sizeof(nf[i].res));
			}
		}
		mfiles_free(nf, n);
	}
	wf_hash_free(keep);
	return ret;
}

static void on_rescan(struct wf_loop *loop, struct wf_loop_defer *d, void *data)
{
	struct wf_agent_manifests *m = data;
	int ret = wf_agent_manifests_scan(m);
	if (ret < 0) {
		wf_log_error(LOG_SUB, "manifest scan failed", "dir=%s error=\"%s\"", m->dir,
			     wf_strerror(ret));
	}
}

static void on_inotify(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events,
		       void *data)
{
	struct wf_agent_manifests *m = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	/* Drain; what changed does not matter, the rescan compares stamps. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	wf_loop_defer_schedule(m->rescan);
}

int wf_agent_manifests_new(struct wf_loop *loop, struct wf_store *store, const char *dir,
			   struct wf_agent_manifests **ret)
{
	int err;
	struct wf_agent_manifests *m = wf_calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->store = store;
	m->ifd = -1;
	m->dir = wf_strdup(dir);
	if (!m->dir) {
		err = -ENOMEM;
		goto err_m;
	}
	m->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->ifd == -1) {
		err = -errno;
		goto err_m;
	}
	if (inotify_add_watch(m->ifd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
				      IN_CREATE | IN_ATTRIB | IN_ONLYDIR) == -1) {
		err = -errno;
		goto err_m;
	}
	err = wf_loop_defer_new(loop, on_rescan, m, &m->rescan);
	if (err < 0)
		goto err_m;
	err = wf_loop_io_new(loop, m->ifd, WF_LOOP_READ, on_inotify, m, &m->io);
	if (err < 0)
		goto err_m;
	err = wf_agent_manifests_scan(m);
	if (err < 0)
		goto err_m;
	*ret = m;
	return 0;
err_m:
	wf_agent_manifests_free(m);
	return err;
}

void wf_agent_manifests_free(struct wf_agent_manifests *m)
{
	if (!m)
		return;
	wf_loop_io_free(m->io);
	wf_loop_defer_free(m->rescan);
	if (m->ifd >= 0)
		close(m->ifd);
	mfiles_free(m->files, m->n_files);
	wf_free(m->dir);
	wf_free(m);
}
