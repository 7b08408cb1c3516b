/* The object store (store.h). A snapshot is a set of persistent maps (store-map.h):
 *
 *   kinds[kind]: namespace -> set of (name -> object)      ("" for cluster-scoped kinds)
 *   labels:      kind, namespace, label key, value -> set of (name -> object)
 *
 * A "set" is a small refcounted value holding an inner map; like trie nodes, a set created
 * under the current edit id is private to the open batch and changed in place, an older one is
 * copied (sharing its inner trie) before it changes. A batch starts from the published
 * snapshot's roots under a fresh edit id, so nothing a reader can see is ever written, and an
 * aborted batch just drops its working copy. */
#include "k8s/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/object.h"
#include "k8s/store-map.h"
#include "lib/alloc.h"
#include "lib/hash.h"

/* EndpointSlice -> Service link (discovery.k8s.io/v1 EndpointSlice: "kubernetes.io/service-name"
 * label). */
#define SERVICE_NAME_LABEL "kubernetes.io/service-name"

struct set {
	uint32_t refcnt; /* atomic */
	uint64_t edit;
	struct wf_store_map m; /* name -> object */
	size_t keylen;
	char key[]; /* the index key this set is filed under (borrowed by the outer map) */
};

struct wf_store_snapshot {
	uint32_t refcnt; /* atomic */
	uint64_t seq;
	uint64_t resource_version;
	size_t count[WF_K8S_KIND_COUNT];
	struct wf_store_map kinds[WF_K8S_KIND_COUNT];
	struct wf_store_map labels;
};

struct subscriber {
	int id;
	wf_store_event_fn fn;
	void *userdata;
};

struct wf_store {
	pthread_mutex_t lock; /* held only to swap cur, or to take a reference on it */
	struct wf_store_snapshot *cur;
	/* writer's thread only */
	uint64_t edit;
	uint64_t resource_version;
	bool batch_open;
	bool delivering;
	struct subscriber *subs;
	size_t n_subs;
	int next_sub_id;
};

struct wf_store_batch {
	struct wf_store *store;
	struct wf_store_snapshot *work;
	uint64_t edit;
	uint64_t resource_version;
	int error;
	struct wf_store_event *events;
	size_t n_events;
	size_t cap_events;
};

/* ---- value ops ---- */

static void obj_ref(void *v)
{
	wf_k8s_object_ref(v);
}

static void obj_unref(void *v)
{
	wf_k8s_object_unref(v);
}

static const struct wf_store_map_ops obj_ops = {.ref = obj_ref, .unref = obj_unref};

static void set_ref(void *v)
{
	struct set *set = v;
	__atomic_add_fetch(&set->refcnt, 1, __ATOMIC_RELAXED);
}

static void set_unref(void *v)
{
	struct set *set = v;
	if (!set || __atomic_sub_fetch(&set->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	wf_store_map_done(&set->m, &obj_ops);
	wf_free(set);
}

static const struct wf_store_map_ops set_ops = {.ref = set_ref, .unref = set_unref};

static struct set *set_new(uint64_t edit, const char *key, size_t keylen,
			   const struct wf_store_map *from)
{
	struct set *set = wf_malloc(sizeof(*set) + keylen + 1);
	if (!set)
		return NULL;
	set->refcnt = 1;
	set->edit = edit;
	if (from)
		wf_store_map_copy(&set->m, from);
	else
		wf_store_map_init(&set->m);
	set->keylen = keylen;
	memcpy(set->key, key, keylen);
	set->key[keylen] = '\0';
	return set;
}

/* ---- keys ---- */

static const char *ns_of(const struct wf_k8s_object *obj)
{
	return obj->namespace ? obj->namespace : "";
}

static uint64_t hash_str(const char *s, size_t len)
{
	return wf_hash_bytes(s, len);
}

/* Label index key: kind byte, namespace, NUL, label key, NUL, value. Returns its length, or 0
 * when it does not fit (keys are bounded by validation: 253 + 63 + 63 + 253). */
static size_t label_key(char *buf, size_t cap, enum wf_k8s_kind kind, const char *ns,
			const char *key, const char *value)
{
	size_t nl = strlen(ns), kl = strlen(key), vl = strlen(value);
	size_t len = 1 + nl + 1 + kl + 1 + vl;
	if (len > cap)
		return 0;
	char *p = buf;
	*p++ = (char)('A' + kind);
	memcpy(p, ns, nl + 1);
	p += nl + 1;
	memcpy(p, key, kl + 1);
	p += kl + 1;
	memcpy(p, value, vl);
	return len;
}

#define LABEL_KEY_MAX 1024

/* ---- set index maintenance (writer) ---- */

/* Files obj under name in the set at outer[key], creating or copying the set as needed. *ret_old
 * receives the replaced object's reference (or NULL). */
static int index_put(struct wf_store_map *outer, uint64_t edit, const char *key, size_t keylen,
		     struct wf_k8s_object *obj, void **ret_old)
{
	uint64_t h = hash_str(key, keylen);
	struct set *set = wf_store_map_get(outer, h, key, keylen);
	const char *name = obj->name;
	size_t nlen = strlen(name);
	uint64_t nh = hash_str(name, nlen);
	int r;

	if (set && set->edit == edit) {
		wf_k8s_object_ref(obj);
		r = wf_store_map_put(&set->m, &obj_ops, edit, nh, name, nlen, obj, ret_old);
		if (r < 0)
			wf_k8s_object_unref(obj);
		return r;
	}
	struct set *copy = set_new(edit, key, keylen, set ? &set->m : NULL);
	if (!copy)
		return -ENOMEM;
	wf_k8s_object_ref(obj);
	void *old = NULL;
	r = wf_store_map_put(&copy->m, &obj_ops, edit, nh, name, nlen, obj, &old);
	if (r < 0) {
		wf_k8s_object_unref(obj);
		set_unref(copy);
		return r;
	}
	r = wf_store_map_put(outer, &set_ops, edit, h, copy->key, copy->keylen, copy, NULL);
	if (r < 0) {
		wf_k8s_object_unref(old);
		set_unref(copy);
		return r;
	}
	*ret_old = old;
	return 0;
}

/* Removes name from the set at outer[key]; drops the set when it empties. *ret_old receives
 * the removed object's reference. Returns 0, -ENOENT or -ENOMEM. */
static int index_del(struct wf_store_map *outer, uint64_t edit, const char *key, size_t keylen,
		     const char *name, void **ret_old)
{
	uint64_t h = hash_str(key, keylen);
	struct set *set = wf_store_map_get(outer, h, key, keylen);
	size_t nlen = strlen(name);
	uint64_t nh = hash_str(name, nlen);
	int r;

	if (!set)
		return -ENOENT;
	struct wf_k8s_object *obj = wf_store_map_get(&set->m, nh, name, nlen);
	if (!obj)
		return -ENOENT;
	if (set->m.count == 1) {
		wf_k8s_object_ref(obj);
		r = wf_store_map_del(outer, &set_ops, edit, h, key, keylen, NULL);
		if (r < 0) {
			wf_k8s_object_unref(obj);
			return r;
		}
		*ret_old = obj;
		return 0;
	}
	if (set->edit == edit)
		return wf_store_map_del(&set->m, &obj_ops, edit, nh, name, nlen, ret_old);

	struct set *copy = set_new(edit, key, keylen, &set->m);
	if (!copy)
		return -ENOMEM;
	void *old = NULL;
	r = wf_store_map_del(&copy->m, &obj_ops, edit, nh, name, nlen, &old);
	if (r < 0) {
		set_unref(copy);
		return r;
	}
	r = wf_store_map_put(outer, &set_ops, edit, h, copy->key, copy->keylen, copy, NULL);
	if (r < 0) {
		wf_k8s_object_unref(old);
		set_unref(copy);
		return r;
	}
	*ret_old = old;
	return 0;
}

/* ---- snapshots ---- */

static struct wf_store_snapshot *snapshot_new(void)
{
	struct wf_store_snapshot *snap = wf_calloc(1, sizeof(*snap));
	if (!snap)
		return NULL;
	snap->refcnt = 1;
	return snap;
}

static struct wf_store_snapshot *snapshot_copy(const struct wf_store_snapshot *from)
{
	struct wf_store_snapshot *snap = snapshot_new();
	if (!snap)
		return NULL;
	snap->seq = from->seq;
	snap->resource_version = from->resource_version;
	memcpy(snap->count, from->count, sizeof(snap->count));
	for (int k = 0; k < WF_K8S_KIND_COUNT; k++)
		wf_store_map_copy(&snap->kinds[k], &from->kinds[k]);
	wf_store_map_copy(&snap->labels, &from->labels);
	return snap;
}

struct wf_store_snapshot *wf_store_snapshot_ref(const struct wf_store_snapshot *snap)
{
	struct wf_store_snapshot *s = (struct wf_store_snapshot *)snap;
	__atomic_add_fetch(&s->refcnt, 1, __ATOMIC_RELAXED);
	return s;
}

void wf_store_snapshot_unref(struct wf_store_snapshot *snap)
{
	if (!snap || __atomic_sub_fetch(&snap->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (int k = 0; k < WF_K8S_KIND_COUNT; k++)
		wf_store_map_done(&snap->kinds[k], &set_ops);
	wf_store_map_done(&snap->labels, &set_ops);
	wf_free(snap);
}

struct wf_store_snapshot *wf_store_snapshot(struct wf_store *s)
{
	pthread_mutex_lock(&s->lock);
	struct wf_store_snapshot *snap = wf_store_snapshot_ref(s->cur);
	pthread_mutex_unlock(&s->lock);
	return snap;
}

uint64_t wf_store_snapshot_seq(const struct wf_store_snapshot *snap)
{
	return snap->seq;
}

uint64_t wf_store_snapshot_resource_version(const struct wf_store_snapshot *snap)
{
	return snap->resource_version;
}

size_t wf_store_snapshot_nodes(const struct wf_store_snapshot *snap)
{
	size_t total = wf_store_map_node_count(&snap->labels);
	struct wf_store_map_iter it;
	void *v;
	for (int k = 0; k < WF_K8S_KIND_COUNT; k++) {
		total += wf_store_map_node_count(&snap->kinds[k]);
		for (wf_store_map_iter_init(&it, &snap->kinds[k]); wf_store_map_next(&it, &v);)
			total += wf_store_map_node_count(&((struct set *)v)->m);
	}
	for (wf_store_map_iter_init(&it, &snap->labels); wf_store_map_next(&it, &v);)
		total += wf_store_map_node_count(&((struct set *)v)->m);
	return total;
}

/* ---- the store ---- */

int wf_store_new(struct wf_store **ret)
{
	struct wf_store *s = wf_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cur = snapshot_new();
	if (!s->cur) {
		wf_free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->next_sub_id = 1;
	*ret = s;
	return 0;
}

void wf_store_free(struct wf_store *s)
{
	if (!s)
		return;
	wf_store_snapshot_unref(s->cur);
	pthread_mutex_destroy(&s->lock);
	wf_free(s->subs);
	wf_free(s);
}

int wf_store_subscribe(struct wf_store *s, wf_store_event_fn fn, void *userdata)
{
	struct subscriber *subs = wf_reallocarray(s->subs, s->n_subs + 1, sizeof(*subs));
	if (!subs)
		return -ENOMEM;
	s->subs = subs;
	subs[s->n_subs++] = (struct subscriber){s->next_sub_id, fn, userdata};
	return s->next_sub_id++;
}

static void subs_compact(struct wf_store *s)
{
	size_t j = 0;
	for (size_t i = 0; i < s->n_subs; i++)
		if (s->subs[i].fn)
			s->subs[j++] = s->subs[i];
	s->n_subs = j;
}

int wf_store_unsubscribe(struct wf_store *s, int id)
{
	for (size_t i = 0; i < s->n_subs; i++) {
		if (s->subs[i].id != id || !s->subs[i].fn)
			continue;
		/* Leave a hole while events are being delivered; compact after. */
		s->subs[i].fn = NULL;
		if (!s->delivering)
			subs_compact(s);
		return 0;
	}
	return -ENOENT;
}

/* ---- batches ---- */

int wf_store_batch_begin(struct wf_store *s, struct wf_store_batch **ret)
{
	if (s->batch_open)
		return -EBUSY;
	struct wf_store_batch *b = wf_calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	/* Only this thread swaps cur, so reading it here needs no lock. */
	b->work = snapshot_copy(s->cur);
	if (!b->work) {
		wf_free(b);
		return -ENOMEM;
	}
	b->store = s;
	b->edit = ++s->edit;
	b->resource_version = s->resource_version;
	s->batch_open = true;
	*ret = b;
	return 0;
}

size_t wf_store_batch_changes(const struct wf_store_batch *b)
{
	return b->n_events;
}

static int batch_fail(struct wf_store_batch *b, int r)
{
	b->error = r;
	return r;
}

/* Records an event; takes the references on old and new. */
static int batch_event(struct wf_store_batch *b, enum wf_store_event_type type,
		       struct wf_k8s_object *old, struct wf_k8s_object *new)
{
	if (b->n_events == b->cap_events) {
		size_t cap = b->cap_events ? b->cap_events * 2 : 16;
		struct wf_store_event *ev = wf_reallocarray(b->events, cap, sizeof(*ev));
		if (!ev) {
			wf_k8s_object_unref(old);
			wf_k8s_object_unref(new);
			return -ENOMEM;
		}
		b->events = ev;
		b->cap_events = cap;
	}
	b->events[b->n_events++] = (struct wf_store_event){type, old, new};
	return 0;
}

static int labels_del(struct wf_store_batch *b, const struct wf_k8s_object *obj,
		      const struct wf_k8s_object *keep)
{
	char key[LABEL_KEY_MAX];
	for (size_t i = 0; i < obj->labels.n; i++) {
		const struct wf_k8s_label *l = &obj->labels.items[i];
		/* A pair the new version keeps is replaced in place by labels_put. */
		if (keep) {
			const char *v = wf_k8s_map_get(&keep->labels, l->key);
			if (v && strcmp(v, l->value) == 0)
				continue;
		}
		size_t len = label_key(key, sizeof(key), obj->kind, ns_of(obj), l->key, l->value);
		if (!len)
			continue;
		void *old = NULL;
		int r = index_del(&b->work->labels, b->edit, key, len, obj->name, &old);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		wf_k8s_object_unref(old);
	}
	return 0;
}

static int labels_put(struct wf_store_batch *b, struct wf_k8s_object *obj)
{
	char key[LABEL_KEY_MAX];
	for (size_t i = 0; i < obj->labels.n; i++) {
		const struct wf_k8s_label *l = &obj->labels.items[i];
		size_t len = label_key(key, sizeof(key), obj->kind, ns_of(obj), l->key, l->value);
		if (!len)
			continue; /* too long to index: selection then scans */
		void *old = NULL;
		int r = index_put(&b->work->labels, b->edit, key, len, obj, &old);
		if (r < 0)
			return r;
		wf_k8s_object_unref(old);
	}
	return 0;
}

int wf_store_batch_put(struct wf_store_batch *b, struct wf_k8s_object *obj)
{
	if (b->error)
		return b->error;
	if ((unsigned)obj->kind >= WF_K8S_KIND_COUNT || !obj->name)
		return -EINVAL;

	const char *ns = ns_of(obj);
	struct wf_store_snapshot *w = b->work;
	const struct wf_k8s_object *cur = wf_store_get(w, obj->kind, obj->namespace, obj->name);
	if (cur == obj)
		return 0;

	obj->resource_version = b->resource_version + 1;
	void *old = NULL;
	int r = index_put(&w->kinds[obj->kind], b->edit, ns, strlen(ns), obj, &old);
	if (r < 0)
		return batch_fail(b, r);
	b->resource_version++;
	if (!old)
		w->count[obj->kind]++;
	if (old)
		r = labels_del(b, old, obj);
	if (r == 0)
		r = labels_put(b, obj);
	if (r == 0)
		r = batch_event(b, old ? WF_STORE_MODIFIED : WF_STORE_ADDED, old,
				wf_k8s_object_ref(obj));
	else
		wf_k8s_object_unref(old);
	if (r < 0)
		return batch_fail(b, r);
	return 0;
}

int wf_store_batch_delete(struct wf_store_batch *b, enum wf_k8s_kind kind, const char *namespace,
			  const char *name)
{
	if (b->error)
		return b->error;
	if ((unsigned)kind >= WF_K8S_KIND_COUNT || !name)
		return -EINVAL;
	if (wf_k8s_kind_cluster_scoped(kind) || !namespace)
	namespace = "";

	struct wf_store_snapshot *w = b->work;
	void *old = NULL;
	int r = index_del(&w->kinds[kind], b->edit, namespace, strlen(namespace), name, &old);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return batch_fail(b, r);
	w->count[kind]--;
	b->resource_version++;
	r = labels_del(b, old, NULL);
	if (r == 0)
		r = batch_event(b, WF_STORE_DELETED, old, NULL);
	else
		wf_k8s_object_unref(old);
	if (r < 0)
		return batch_fail(b, r);
	return 0;
}

static void batch_free(struct wf_store_batch *b)
{
	for (size_t i = 0; i < b->n_events; i++) {
		wf_k8s_object_unref((struct wf_k8s_object *)b->events[i].old_obj);
		wf_k8s_object_unref((struct wf_k8s_object *)b->events[i].new_obj);
	}
	wf_free(b->events);
	b->store->batch_open = false;
	wf_free(b);
}

void wf_store_batch_abort(struct wf_store_batch *b)
{
	if (!b)
		return;
	wf_store_snapshot_unref(b->work);
	batch_free(b);
}

int wf_store_batch_commit(struct wf_store_batch *b)
{
	struct wf_store *s = b->store;
	int r = b->error;

	if (r < 0 || b->n_events == 0) {
		wf_store_batch_abort(b);
		return r;
	}
	struct wf_store_snapshot *snap = b->work, *old;
	b->work = NULL;
	snap->seq++;
	snap->resource_version = b->resource_version;
	s->resource_version = b->resource_version;

	pthread_mutex_lock(&s->lock);
	old = s->cur;
	__atomic_store_n(&s->cur, snap, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);
	wf_store_snapshot_unref(old);

	/* Subscribers may unsubscribe (themselves or others) from the callback: holes are
	 * skipped and compacted after the round. */
	size_t n = s->n_subs;
	s->delivering = true;
	for (size_t i = 0; i < n && i < s->n_subs; i++)
		if (s->subs[i].fn)
			s->subs[i].fn(s->subs[i].userdata, snap, b->events, b->n_events);
	s->delivering = false;
	subs_compact(s);
	batch_free(b);
	return 0;
}

/* ---- reads ---- */

static const struct set *ns_set(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
				const char *namespace)
{
	if (wf_k8s_kind_cluster_scoped(kind) || !namespace)
	namespace = "";
	size_t len = strlen(namespace);
	return wf_store_map_get(&snap->kinds[kind], hash_str(namespace, len), namespace, len);
}

const struct wf_k8s_object *wf_store_get(const struct wf_store_snapshot *snap,
					 enum wf_k8s_kind kind, const char *namespace,
					 const char *name)
{
	if ((unsigned)kind >= WF_K8S_KIND_COUNT || !name)
		return NULL;
	const struct set *set = ns_set(snap, kind, namespace);
	if (!set)
		return NULL;
	size_t len = strlen(name);
	return wf_store_map_get(&set->m, hash_str(name, len), name, len);
}

size_t wf_store_count(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		      const char *namespace)
{
	if ((unsigned)kind >= WF_K8S_KIND_COUNT)
		return 0;
	if (!namespace)
		return snap->count[kind];
	const struct set *set = ns_set(snap, kind, namespace);
	return set ? set->m.count : 0;
}

static int set_visit(const struct set *set, wf_store_visit_fn fn, void *userdata)
{
	struct wf_store_map_iter it;
	void *v;
	for (wf_store_map_iter_init(&it, &set->m); wf_store_map_next(&it, &v);) {
		int r = fn(userdata, v);
		if (r)
			return r;
	}
	return 0;
}

int wf_store_foreach(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		     const char *namespace, wf_store_visit_fn fn, void *userdata)
{
	if ((unsigned)kind >= WF_K8S_KIND_COUNT)
		return 0;
	if (namespace && !wf_k8s_kind_cluster_scoped(kind)) {
		const struct set *set = ns_set(snap, kind, namespace);
		return set ? set_visit(set, fn, userdata) : 0;
	}
	struct wf_store_map_iter it;
	void *v;
	for (wf_store_map_iter_init(&it, &snap->kinds[kind]); wf_store_map_next(&it, &v);) {
		int r = set_visit(v, fn, userdata);
		if (r)
			return r;
	}
	return 0;
}

/* A selection in one namespace: candidates from the label index, then the full match. */
struct select_ctx {
	const struct wf_k8s_selector *sel;
	const struct wf_k8s_map *map;
	wf_store_visit_fn fn;
	void *userdata;
};

static int select_filter(void *userdata, const struct wf_k8s_object *obj)
{
	const struct select_ctx *c = userdata;
	bool ok = c->sel ? wf_k8s_selector_matches(c->sel, &obj->labels)
			 : wf_k8s_map_matches(c->map, &obj->labels);
	return ok ? c->fn(c->userdata, obj) : 0;
}

/* Candidates for a selection: the label-index sets of one requirement. For `k = v` (a
 * matchLabels pair, or In with one value) that is one set; for `k In (v1, v2...)` the sets of
 * each value, which are disjoint. The requirement with the fewest candidates wins; without any
 * such requirement the selection scans. */
#define MAX_IN_VALUES 16

struct candidates {
	bool indexed;
	size_t n;
	size_t total;
	const struct set *sets[MAX_IN_VALUES];
};

static bool requirement_sets(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
			     const char *ns, const char *k, const char *const *values, size_t nv,
			     struct candidates *ret)
{
	char key[LABEL_KEY_MAX];
	if (nv == 0 || nv > MAX_IN_VALUES)
		return false;
	ret->n = 0;
	ret->total = 0;
	for (size_t i = 0; i < nv; i++) {
		size_t len = label_key(key, sizeof(key), kind, ns, k, values[i]);
		if (!len)
			return false; /* not indexed: too long */
		const struct set *set =
			wf_store_map_get(&snap->labels, hash_str(key, len), key, len);
		if (set) {
			ret->sets[ret->n++] = set;
			ret->total += set->m.count;
		}
	}
	return true;
}

static void best_candidates(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
			    const char *ns, const struct wf_k8s_map *labels,
			    const struct wf_k8s_selector *sel, struct candidates *best)
{
	struct candidates c = {0};
	*best = (struct candidates){0};
	size_t n_reqs = labels->n + (sel ? sel->n_exprs : 0);
	for (size_t i = 0; i < n_reqs; i++) {
		bool ok;
		if (i < labels->n) {
			const char *v = labels->items[i].value;
			ok = requirement_sets(snap, kind, ns, labels->items[i].key, &v, 1, &c);
		} else {
			const struct wf_k8s_selector_req *req = &sel->exprs[i - labels->n];
			ok = req->op == WF_K8S_SEL_IN &&
			     requirement_sets(snap, kind, ns, req->key, req->values, req->n_values,
					      &c);
		}
		if (!ok || (best->indexed && c.total >= best->total))
			continue;
		*best = c;
		best->indexed = true;
		if (c.total == 0)
			return; /* nothing can match */
	}
}

static int select_ns(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind, const char *ns,
		     struct select_ctx *c)
{
	struct candidates cand;
	best_candidates(snap, kind, ns, c->sel ? &c->sel->match_labels : c->map, c->sel, &cand);
	if (cand.indexed) {
		for (size_t i = 0; i < cand.n; i++) {
			int r = set_visit(cand.sets[i], select_filter, c);
			if (r)
				return r;
		}
		return 0;
	}
	const struct set *set = ns_set(snap, kind, ns);
	return set ? set_visit(set, select_filter, c) : 0;
}

static int select_all(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		      const char *namespace, struct select_ctx *c)
{
	if ((unsigned)kind >= WF_K8S_KIND_COUNT)
		return 0;
	if (wf_k8s_kind_cluster_scoped(kind))
		return select_ns(snap, kind, "", c);
	if (namespace)
		return select_ns(snap, kind, namespace, c);
	struct wf_store_map_iter it;
	void *v;
	for (wf_store_map_iter_init(&it, &snap->kinds[kind]); wf_store_map_next(&it, &v);) {
		int r = select_ns(snap, kind, ((struct set *)v)->key, c);
		if (r)
			return r;
	}
	return 0;
}

int wf_store_select(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		    const char *namespace, const struct wf_k8s_selector *sel, wf_store_visit_fn fn,
		    void *userdata)
{
	if (!sel || !sel->present)
		return 0;
	struct select_ctx c = {.sel = sel, .fn = fn, .userdata = userdata};
	return select_all(snap, kind, namespace, &c);
}

int wf_store_select_map(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
			const char *namespace, const struct wf_k8s_map *sel, wf_store_visit_fn fn,
			void *userdata)
{
	struct select_ctx c = {.map = sel, .fn = fn, .userdata = userdata};
	return select_all(snap, kind, namespace, &c);
}

int wf_store_endpointslices(const struct wf_store_snapshot *snap, const char *namespace,
			    const char *service, wf_store_visit_fn fn, void *userdata)
{
	const struct wf_k8s_label pair = {SERVICE_NAME_LABEL, service};
	const struct wf_k8s_map sel = {.n = 1, .items = &pair};
	return wf_store_select_map(snap, WF_K8S_ENDPOINTSLICE, namespace ? namespace : "default",
				   &sel, fn, userdata);
}

struct list_ctx {
	const struct wf_k8s_object **objs;
	size_t n;
	size_t cap;
};

static int list_add(void *userdata, const struct wf_k8s_object *obj)
{
	struct list_ctx *c = userdata;
	if (c->n == c->cap)
		return -ENOMEM; /* the count was taken from the same snapshot */
	c->objs[c->n++] = obj;
	return 0;
}

static int list_cmp(const void *a, const void *b)
{
	const struct wf_k8s_object *x = *(const struct wf_k8s_object *const *)a;
	const struct wf_k8s_object *y = *(const struct wf_k8s_object *const *)b;
	int r = strcmp(ns_of(x), ns_of(y));
	return r ? r : strcmp(x->name, y->name);
}

ssize_t wf_store_list(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		      const char *namespace, const struct wf_k8s_object ***ret)
{
	size_t n = wf_store_count(snap, kind, wf_k8s_kind_cluster_scoped(kind) ? NULL : namespace);
	if (n == 0) {
		*ret = NULL;
		return 0;
	}
	struct list_ctx c = {.objs = wf_reallocarray(NULL, n, sizeof(*c.objs)), .cap = n};
	if (!c.objs)
		return -ENOMEM;
	wf_store_foreach(snap, kind, namespace, list_add, &c);
	qsort(c.objs, c.n, sizeof(*c.objs), list_cmp);
	*ret = c.objs;
	return (ssize_t)c.n;
}
