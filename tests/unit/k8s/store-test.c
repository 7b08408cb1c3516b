/* Unit tests: the persistent map (store-map.h) and the object store (store.h). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/object.h"
#include "k8s/store-map.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/arena.h"
#include "lib/hash.h"

/* ---- map: a refcounted test value that counts how many are alive ---- */

static long live_values;

struct val {
	int refcnt;
	int n;
	char key[24];
};

static void val_ref(void *v)
{
	__atomic_add_fetch(&((struct val *)v)->refcnt, 1, __ATOMIC_RELAXED);
}

static void val_unref(void *v)
{
	struct val *x = v;
	if (__atomic_sub_fetch(&x->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
		free(x);
		__atomic_sub_fetch(&live_values, 1, __ATOMIC_RELAXED);
	}
}

static const struct wf_store_map_ops val_ops = {val_ref, val_unref};

static struct val *val_new(int n)
{
	struct val *v = calloc(1, sizeof(*v));
	assert_non_null(v);
	v->refcnt = 1;
	v->n = n;
	snprintf(v->key, sizeof(v->key), "key-%d", n);
	live_values++;
	return v;
}

/* Hash function under test control: `weak` hashes collide a lot (few distinct values). */
static int weak;

static uint64_t h(const char *key)
{
	uint64_t x = wf_hash_bytes(key, strlen(key));
	return weak ? (x & 0x7) | 0xfff0000000000000ull : x;
}

static int map_put_n(struct wf_store_map *m, uint64_t edit, int n)
{
	struct val *v = val_new(n);
	int r = wf_store_map_put(m, &val_ops, edit, h(v->key), v->key, strlen(v->key), v, NULL);
	if (r < 0)
		val_unref(v);
	return r;
}

static struct val *map_get_n(const struct wf_store_map *m, int n)
{
	char key[24];
	snprintf(key, sizeof(key), "key-%d", n);
	return wf_store_map_get(m, h(key), key, strlen(key));
}

static int map_del_n(struct wf_store_map *m, uint64_t edit, int n)
{
	char key[24];
	snprintf(key, sizeof(key), "key-%d", n);
	return wf_store_map_del(m, &val_ops, edit, h(key), key, strlen(key), NULL);
}

static void check_map(const struct wf_store_map *m, int lo, int hi, int step)
{
	size_t want = 0;
	for (int i = lo; i < hi; i += step) {
		struct val *v = map_get_n(m, i);
		assert_non_null(v);
		assert_int_equal(v->n, i);
		want++;
	}
	assert_int_equal(m->count, want);
	struct wf_store_map_iter it;
	void *v;
	size_t seen = 0;
	for (wf_store_map_iter_init(&it, m); wf_store_map_next(&it, &v);) {
		int n = ((struct val *)v)->n;
		assert_true(n >= lo && n < hi && (n - lo) % step == 0);
		seen++;
	}
	assert_int_equal(seen, want);
}

static void run_map_basic(void)
{
	struct wf_store_map m;
	wf_store_map_init(&m);
	const int N = 20000;
	for (int i = 0; i < N; i++)
		assert_int_equal(map_put_n(&m, 1, i), 0);
	check_map(&m, 0, N, 1);
	assert_null(map_get_n(&m, N));

	/* A version taken now must not see later changes (edit 2: the old nodes are shared). */
	struct wf_store_map v1;
	wf_store_map_copy(&v1, &m);
	for (int i = 1; i < N; i += 2)
		assert_int_equal(map_del_n(&m, 2, i), 0);
	assert_int_equal(map_del_n(&m, 2, 1), -ENOENT);
	check_map(&m, 0, N, 2);
	check_map(&v1, 0, N, 1);

	/* Replacing a value: the old version keeps the old one. */
	struct wf_store_map v2;
	wf_store_map_copy(&v2, &m);
	struct val *nv = val_new(0);
	void *old = NULL;
	assert_int_equal(
		wf_store_map_put(&m, &val_ops, 3, h("key-0"), nv->key, strlen(nv->key), nv, &old),
		0);
	assert_ptr_equal(old, map_get_n(&v2, 0));
	assert_ptr_equal(map_get_n(&m, 0), nv);
	val_unref(old);
	assert_int_equal(m.count, v2.count);

	wf_store_map_done(&v1, &val_ops);
	wf_store_map_done(&v2, &val_ops);
	for (int i = 0; i < N; i += 2)
		assert_int_equal(map_del_n(&m, 4, i), 0);
	assert_int_equal(m.count, 0);
	assert_null(m.root);
	wf_store_map_done(&m, &val_ops);
	assert_int_equal(live_values, 0);
}

static void test_map_basic(void **state)
{
	weak = 0;
	run_map_basic();
}

/* With 8 distinct hashes, every key lands in a collision node below 64 bits of trie. */
static void test_map_collisions(void **state)
{
	weak = 1;
	run_map_basic();
	weak = 0;
}

/* One changed key copies a path, not the map: the versions share all other nodes. */
static void test_map_sharing(void **state)
{
	struct wf_store_map m, v1;
	wf_store_map_init(&m);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(map_put_n(&m, 1, i), 0);
	size_t nodes = wf_store_map_node_count(&m);
	wf_store_map_copy(&v1, &m);
	assert_int_equal(map_del_n(&m, 2, 5), 0);
	assert_int_equal(map_put_n(&m, 2, 5), 0);
	/* Count nodes of m that are not in v1: walk both, compare node pointers is internal;
	 * instead check via the allocator: a put on a 100k map allocates at most depth nodes. */
	wf_alloc_fail_at(0);
	unsigned long before = wf_alloc_count();
	assert_int_equal(map_del_n(&m, 3, 7), 0);
	unsigned long used = wf_alloc_count() - before;
	assert_true(used <= WF_STORE_MAP_MAX_DEPTH);
	assert_true(nodes > 1000);
	wf_store_map_done(&v1, &val_ops);
	wf_store_map_done(&m, &val_ops);
	assert_int_equal(live_values, 0);
}

/* Random puts and deletes against a model, keeping old versions along the way: every
 * version must still hold exactly what the model held when it was taken. */
#define RKEYS 3000
#define RVERSIONS 20

static void check_model(const struct wf_store_map *m, const int *model)
{
	size_t want = 0;
	for (int k = 0; k < RKEYS; k++) {
		struct val *v = map_get_n(m, k);
		if (model[k] < 0) {
			assert_null(v);
			continue;
		}
		assert_non_null(v);
		assert_int_equal(v->n, model[k]);
		want++;
	}
	assert_int_equal(m->count, want);
	struct wf_store_map_iter it;
	void *v;
	size_t seen = 0;
	for (wf_store_map_iter_init(&it, m); wf_store_map_next(&it, &v);)
		seen++;
	assert_int_equal(seen, want);
}

static void test_map_random(void **state)
{
	for (int w = 0; w < 2; w++) {
		weak = w;
		static int model[RVERSIONS + 1][RKEYS];
		struct wf_store_map versions[RVERSIONS], m;
		unsigned seed = 12345;
		wf_store_map_init(&m);
		for (int k = 0; k < RKEYS; k++)
			model[RVERSIONS][k] = -1;
		uint64_t edit = 1;
		for (int ver = 0; ver < RVERSIONS; ver++) {
			for (int op = 0; op < 2000; op++) {
				int k = (int)(rand_r(&seed) % RKEYS);
				if (rand_r(&seed) % 3 == 0) {
					int r = map_del_n(&m, edit, k);
					assert_int_equal(r, model[RVERSIONS][k] < 0 ? -ENOENT : 0);
					model[RVERSIONS][k] = -1;
				} else {
					assert_int_equal(map_put_n(&m, edit, k), 0);
					model[RVERSIONS][k] = k;
				}
			}
			/* Hand this version out; the writer moves to a new edit id. */
			wf_store_map_copy(&versions[ver], &m);
			memcpy(model[ver], model[RVERSIONS], sizeof(model[ver]));
			edit++;
		}
		for (int ver = 0; ver < RVERSIONS; ver++) {
			check_model(&versions[ver], model[ver]);
			wf_store_map_done(&versions[ver], &val_ops);
		}
		check_model(&m, model[RVERSIONS]);
		wf_store_map_done(&m, &val_ops);
		assert_int_equal(live_values, 0);
	}
	weak = 0;
}

/* Every allocation failure leaves the map exactly as it was, and leaks nothing. */
static void test_map_fault_injection(void **state)
{
	for (int w = 0; w < 2; w++) {
		weak = w;
		struct wf_store_map base;
		wf_store_map_init(&base);
		for (int i = 0; i < 300; i++)
			assert_int_equal(map_put_n(&base, 1, i), 0);
		for (unsigned long nth = 1;; nth++) {
			struct wf_store_map m;
			wf_store_map_copy(&m, &base);
			int r = 0;
			wf_alloc_fail_at(nth);
			for (int i = 300; i < 330 && r == 0; i++)
				r = map_put_n(&m, 2, i);
			for (int i = 0; i < 300 && r == 0; i += 3)
				r = map_del_n(&m, 2, i);
			wf_alloc_fail_at(0);
			check_map(&base, 0, 300, 1);
			wf_store_map_done(&m, &val_ops);
			if (r == 0)
				break;
			assert_int_equal(r, -ENOMEM);
		}
		wf_store_map_done(&base, &val_ops);
		assert_int_equal(live_values, 0);
	}
	weak = 0;
}

/* ---- store: objects built by hand (the store does not care how they were parsed) ---- */

static struct wf_k8s_object *mkobj(enum wf_k8s_kind kind, const char *ns, const char *name,
				   const char *labels)
{
	struct wf_arena *a = wf_arena_new(1024, 0);
	assert_non_null(a);
	struct wf_k8s_object *o = wf_arena_zalloc(a, sizeof(*o));
	assert_non_null(o);
	o->arena = a;
	o->refcount = 1;
	o->kind = kind;
	o->namespace = wf_k8s_kind_cluster_scoped(kind) ? NULL : wf_arena_strdup(a, ns);
	o->name = wf_arena_strdup(a, name);
	char key[256];
	wf_k8s_key_format(key, sizeof(key), kind, o->namespace, name);
	o->key = wf_arena_strdup(a, key);
	/* labels: "k=v,k2=v2", given sorted by key */
	if (labels && *labels) {
		struct wf_k8s_label *items = wf_arena_zalloc(a, 16 * sizeof(*items));
		char *copy = wf_arena_strdup(a, labels), *save = NULL;
		size_t n = 0;
		for (char *tok = strtok_r(copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(tok, '=');
			*eq = '\0';
			items[n].key = tok;
			items[n].value = eq + 1;
			n++;
		}
		o->labels.n = n;
		o->labels.items = items;
	}
	return o;
}

static void put(struct wf_store_batch *b, struct wf_k8s_object *o)
{
	assert_int_equal(wf_store_batch_put(b, o), 0);
	wf_k8s_object_unref(o);
}

struct recorder {
	int batches;
	size_t n;
	enum wf_store_event_type type[64];
	char old_name[64][32];
	char new_name[64][32];
	uint64_t seq;
};

static void record(void *ud, const struct wf_store_snapshot *snap, const struct wf_store_event *ev,
		   size_t n)
{
	struct recorder *r = ud;
	r->batches++;
	r->seq = wf_store_snapshot_seq(snap);
	for (size_t i = 0; i < n && r->n < 64; i++, r->n++) {
		r->type[r->n] = ev[i].type;
		snprintf(r->old_name[r->n], 32, "%s", ev[i].old_obj ? ev[i].old_obj->name : "-");
		snprintf(r->new_name[r->n], 32, "%s", ev[i].new_obj ? ev[i].new_obj->name : "-");
	}
}

static int count_visit(void *ud, const struct wf_k8s_object *obj)
{
	(*(int *)ud)++;
	return 0;
}

static void test_store_basic(void **state)
{
	struct wf_store *s;
	struct wf_store_batch *b;
	struct recorder rec = {0};
	assert_int_equal(wf_store_new(&s), 0);
	int id = wf_store_subscribe(s, record, &rec);
	assert_true(id > 0);

	struct wf_store_snapshot *s0 = wf_store_snapshot(s);
	assert_int_equal(wf_store_snapshot_seq(s0), 0);

	assert_int_equal(wf_store_batch_begin(s, &b), 0);
	struct wf_store_batch *b2;
	assert_int_equal(wf_store_batch_begin(s, &b2), -EBUSY);
	put(b, mkobj(WF_K8S_SERVICE, "default", "web", "app=web"));
	put(b, mkobj(WF_K8S_POD, "default", "web-1", "app=web,tier=front"));
	put(b, mkobj(WF_K8S_POD, "default", "web-2", "app=web,tier=back"));
	put(b, mkobj(WF_K8S_POD, "other", "web-3", "app=web"));
	put(b, mkobj(WF_K8S_NODE, NULL, "node-1", "zone=a"));
	assert_int_equal(wf_store_batch_changes(b), 5);
	assert_int_equal(wf_store_batch_commit(b), 0);
	assert_int_equal(rec.batches, 1);
	assert_int_equal(rec.n, 5);
	assert_int_equal(rec.type[0], WF_STORE_ADDED);
	assert_string_equal(rec.old_name[0], "-");

	struct wf_store_snapshot *s1 = wf_store_snapshot(s);
	assert_int_equal(wf_store_snapshot_seq(s1), 1);
	assert_int_equal(wf_store_count(s0, WF_K8S_POD, NULL), 0);
	assert_int_equal(wf_store_count(s1, WF_K8S_POD, NULL), 3);
	assert_int_equal(wf_store_count(s1, WF_K8S_POD, "default"), 2);
	const struct wf_k8s_object *web1 = wf_store_get(s1, WF_K8S_POD, "default", "web-1");
	assert_non_null(web1);
	assert_string_equal(web1->name, "web-1");
	assert_null(wf_store_get(s1, WF_K8S_POD, "other", "web-1"));
	assert_non_null(wf_store_get(s1, WF_K8S_NODE, NULL, "node-1"));
	assert_non_null(wf_store_get(s1, WF_K8S_NODE, "ignored", "node-1"));
	uint64_t rv1 = web1->resource_version;
	assert_true(rv1 > 0);

	/* Modify, delete: s1 keeps what it saw. */
	assert_int_equal(wf_store_batch_begin(s, &b), 0);
	put(b, mkobj(WF_K8S_POD, "default", "web-1", "app=api,tier=front"));
	assert_int_equal(wf_store_batch_delete(b, WF_K8S_POD, "default", "web-2"), 0);
	assert_int_equal(wf_store_batch_delete(b, WF_K8S_POD, "default", "nope"), -ENOENT);
	assert_int_equal(wf_store_batch_commit(b), 0);
	assert_int_equal(rec.batches, 2);
	assert_int_equal(rec.n, 7);
	assert_int_equal(rec.type[5], WF_STORE_MODIFIED);
	assert_string_equal(rec.old_name[5], "web-1");
	assert_string_equal(rec.new_name[5], "web-1");
	assert_int_equal(rec.type[6], WF_STORE_DELETED);
	assert_string_equal(rec.new_name[6], "-");

	struct wf_store_snapshot *s2 = wf_store_snapshot(s);
	assert_ptr_equal(wf_store_get(s1, WF_K8S_POD, "default", "web-1"), web1);
	assert_string_equal(web1->labels.items[0].value, "web");
	assert_non_null(wf_store_get(s1, WF_K8S_POD, "default", "web-2"));
	assert_null(wf_store_get(s2, WF_K8S_POD, "default", "web-2"));
	const struct wf_k8s_object *web1b = wf_store_get(s2, WF_K8S_POD, "default", "web-1");
	assert_true(web1b->resource_version > rv1);
	assert_true(wf_store_snapshot_resource_version(s2) >= web1b->resource_version);

	/* Selection against each snapshot's own label index. */
	struct wf_k8s_label app_web = {"app", "web"};
	struct wf_k8s_map sel = {1, &app_web};
	int n = 0;
	wf_store_select_map(s1, WF_K8S_POD, "default", &sel, count_visit, &n);
	assert_int_equal(n, 2);
	n = 0;
	wf_store_select_map(s2, WF_K8S_POD, "default", &sel, count_visit, &n);
	assert_int_equal(n, 0);
	n = 0;
	wf_store_select_map(s1, WF_K8S_POD, NULL, &sel, count_visit, &n);
	assert_int_equal(n, 3);

	/* An empty batch publishes nothing. */
	assert_int_equal(wf_store_batch_begin(s, &b), 0);
	assert_int_equal(wf_store_batch_commit(b), 0);
	assert_int_equal(rec.batches, 2);

	assert_int_equal(wf_store_unsubscribe(s, id), 0);
	assert_int_equal(wf_store_unsubscribe(s, id), -ENOENT);
	wf_store_snapshot_unref(s0);
	wf_store_snapshot_unref(s1);
	wf_store_free(s);
	/* A snapshot outlives its store. */
	assert_int_equal(wf_store_count(s2, WF_K8S_POD, NULL), 2);
	wf_store_snapshot_unref(s2);
}

static void test_store_selectors(void **state)
{
	struct wf_store *s;
	struct wf_store_batch *b;
	assert_int_equal(wf_store_new(&s), 0);
	assert_int_equal(wf_store_batch_begin(s, &b), 0);
	char name[32], labels[64];
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "pod-%d", i);
		snprintf(labels, sizeof(labels), "app=a%d,env=%s,tier=t%d", i % 10,
			 (i / 10) % 2 ? "prod" : "dev", i % 3);
		put(b, mkobj(WF_K8S_POD, "ns", name, labels));
	}
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "svc-%d-abc", i);
		snprintf(labels, sizeof(labels), "kubernetes.io/service-name=svc-%d", i % 5);
		put(b, mkobj(WF_K8S_ENDPOINTSLICE, "ns", name, labels));
	}
	assert_int_equal(wf_store_batch_commit(b), 0);
	struct wf_store_snapshot *snap = wf_store_snapshot(s);

	/* matchLabels app=a3 AND expression env In (prod): 50 of the 100 a3 pods. */
	struct wf_k8s_label ml = {"app", "a3"};
	const char *prod[] = {"prod"};
	const char *t01[] = {"t0", "t1"};
	struct wf_k8s_selector_req reqs[] = {
		{"env", WF_K8S_SEL_IN, 1, prod},
	};
	struct wf_k8s_selector sel = {true, {1, &ml}, 1, reqs};
	int n = 0;
	wf_store_select(snap, WF_K8S_POD, "ns", &sel, count_visit, &n);
	assert_int_equal(n, 50);
	/* No equality requirement: tier In (t0, t1) scans. 667 pods have i % 3 in {0, 1}. */
	struct wf_k8s_selector_req reqs2[] = {{"tier", WF_K8S_SEL_IN, 2, t01}};
	struct wf_k8s_selector sel2 = {true, {0, NULL}, 1, reqs2};
	n = 0;
	wf_store_select(snap, WF_K8S_POD, NULL, &sel2, count_visit, &n);
	assert_int_equal(n, 667);
	/* In over several values (index: union of the value sets) with a pair; NotIn scans. */
	const char *both[] = {"prod", "dev", "nobody"};
	const char *a3[] = {"a3"};
	struct wf_k8s_selector_req reqs3[] = {{"env", WF_K8S_SEL_IN, 3, both}};
	struct wf_k8s_selector sel4 = {true, {1, &ml}, 1, reqs3};
	n = 0;
	wf_store_select(snap, WF_K8S_POD, "ns", &sel4, count_visit, &n);
	assert_int_equal(n, 100);
	struct wf_k8s_selector_req reqs4[] = {{"app", WF_K8S_SEL_NOT_IN, 1, a3}};
	struct wf_k8s_selector sel5 = {true, {0, NULL}, 1, reqs4};
	n = 0;
	wf_store_select(snap, WF_K8S_POD, "ns", &sel5, count_visit, &n);
	assert_int_equal(n, 900);
	/* {} selects all; null selects nothing; a pair no one has selects nothing. */
	struct wf_k8s_selector all = {true, {0, NULL}, 0, NULL}, none = {0};
	n = 0;
	wf_store_select(snap, WF_K8S_POD, "ns", &all, count_visit, &n);
	assert_int_equal(n, 1000);
	n = 0;
	wf_store_select(snap, WF_K8S_POD, "ns", &none, count_visit, &n);
	assert_int_equal(n, 0);
	struct wf_k8s_label nobody = {"app", "zzz"};
	struct wf_k8s_selector sel3 = {true, {1, &nobody}, 0, NULL};
	n = 0;
	wf_store_select(snap, WF_K8S_POD, "ns", &sel3, count_visit, &n);
	assert_int_equal(n, 0);
	/* Other namespace: nothing. */
	n = 0;
	wf_store_select(snap, WF_K8S_POD, "elsewhere", &sel, count_visit, &n);
	assert_int_equal(n, 0);

	n = 0;
	wf_store_endpointslices(snap, "ns", "svc-3", count_visit, &n);
	assert_int_equal(n, 2);

	/* Sorted listing. */
	const struct wf_k8s_object **objs;
	ssize_t cnt = wf_store_list(snap, WF_K8S_ENDPOINTSLICE, NULL, &objs);
	assert_int_equal(cnt, 10);
	for (ssize_t i = 1; i < cnt; i++)
		assert_true(strcmp(objs[i - 1]->name, objs[i]->name) < 0);
	wf_free(objs);

	wf_store_snapshot_unref(snap);
	wf_store_free(s);
}

/* Resource versions only grow, one per change, across batches. */
static void test_store_resource_versions(void **state)
{
	struct wf_store *s;
	struct wf_store_batch *b;
	assert_int_equal(wf_store_new(&s), 0);
	uint64_t last = 0;
	for (int round = 0; round < 5; round++) {
		assert_int_equal(wf_store_batch_begin(s, &b), 0);
		for (int i = 0; i < 4; i++) {
			char name[16];
			snprintf(name, sizeof(name), "svc-%d", i);
			struct wf_k8s_object *o = mkobj(WF_K8S_SERVICE, "default", name, NULL);
			assert_int_equal(wf_store_batch_put(b, o), 0);
			assert_true(o->resource_version > last);
			last = o->resource_version;
			wf_k8s_object_unref(o);
		}
		assert_int_equal(wf_store_batch_commit(b), 0);
		struct wf_store_snapshot *snap = wf_store_snapshot(s);
		assert_int_equal(wf_store_snapshot_resource_version(snap), last);
		wf_store_snapshot_unref(snap);
	}
	assert_int_equal(last, 20);
	wf_store_free(s);
}

/* Any allocation failure in a batch leaves the store as it was (same snapshot, same objects,
 * no event) and leaks nothing. */
static void test_store_fault_injection(void **state)
{
	struct wf_store *s;
	struct wf_store_batch *b;
	struct recorder rec = {0};
	assert_int_equal(wf_store_new(&s), 0);
	wf_store_subscribe(s, record, &rec);
	assert_int_equal(wf_store_batch_begin(s, &b), 0);
	for (int i = 0; i < 200; i++) {
		char name[16];
		snprintf(name, sizeof(name), "pod-%d", i);
		put(b, mkobj(WF_K8S_POD, "default", name, i % 2 ? "app=a,x=1" : "app=b"));
	}
	assert_int_equal(wf_store_batch_commit(b), 0);
	struct wf_store_snapshot *before = wf_store_snapshot(s);
	int batches = rec.batches;

	for (unsigned long nth = 1;; nth++) {
		/* Objects are made before injection starts: only the store's allocations fail. */
		struct wf_k8s_object *objs[20];
		for (int i = 0; i < 20; i++) {
			char name[16];
			snprintf(name, sizeof(name), "pod-%d", 190 + i);
			objs[i] = mkobj(WF_K8S_POD, "default", name, "app=c,y=2");
		}
		wf_alloc_fail_at(nth);
		int r = wf_store_batch_begin(s, &b);
		if (r == 0) {
			for (int i = 0; i < 20 && r == 0; i++)
				r = wf_store_batch_put(b, objs[i]);
			for (int i = 0; i < 50 && r == 0; i += 5) {
				char name[16];
				snprintf(name, sizeof(name), "pod-%d", i);
				r = wf_store_batch_delete(b, WF_K8S_POD, "default", name);
			}
			/* A poisoned batch aborts on commit and returns its error. */
			int rc = wf_store_batch_commit(b);
			assert_int_equal(rc, r);
		}
		wf_alloc_fail_at(0);
		for (int i = 0; i < 20; i++)
			wf_k8s_object_unref(objs[i]);
		if (r == 0)
			break;
		assert_int_equal(r, -ENOMEM);
		struct wf_store_snapshot *now = wf_store_snapshot(s);
		assert_ptr_equal(now, before);
		assert_int_equal(rec.batches, batches);
		assert_int_equal(wf_store_count(now, WF_K8S_POD, NULL), 200);
		wf_store_snapshot_unref(now);
	}
	struct wf_store_snapshot *after = wf_store_snapshot(s);
	assert_int_equal(wf_store_count(after, WF_K8S_POD, NULL), 200 + 10 - 10);
	struct wf_k8s_label c = {"app", "c"};
	struct wf_k8s_map sel = {1, &c};
	int n = 0;
	wf_store_select_map(after, WF_K8S_POD, "default", &sel, count_visit, &n);
	assert_int_equal(n, 20);
	/* The old snapshot still selects the old labels. */
	n = 0;
	wf_store_select_map(before, WF_K8S_POD, "default", &sel, count_visit, &n);
	assert_int_equal(n, 0);
	wf_store_snapshot_unref(after);
	wf_store_snapshot_unref(before);
	wf_store_free(s);
}

/* Readers on other threads take snapshots and read them while the writer keeps changing the
 * store; every snapshot they see is internally consistent (ASan/TSan-friendly smoke test). */
struct reader_ctx {
	struct wf_store *s;
	volatile int stop;
	long checks;
	int bad;
};

static void *reader(void *arg)
{
	struct reader_ctx *c = arg;
	while (!c->stop) {
		struct wf_store_snapshot *snap = wf_store_snapshot(c->s);
		/* The writer keeps the invariant: pod count == 100 and every pod labelled
		 * gen=<seq parity> within one batch. */
		int n = 0;
		wf_store_foreach(snap, WF_K8S_POD, NULL, count_visit, &n);
		if (wf_store_snapshot_seq(snap) > 0 && n != 100)
			c->bad++;
		c->checks++;
		wf_store_snapshot_unref(snap);
	}
	return NULL;
}

static void test_store_threads(void **state)
{
	struct wf_store *s;
	struct wf_store_batch *b;
	assert_int_equal(wf_store_new(&s), 0);
	struct reader_ctx c = {.s = s};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, &c), 0);
	for (int round = 0; round < 300; round++) {
		assert_int_equal(wf_store_batch_begin(s, &b), 0);
		for (int i = 0; i < 100; i++) {
			char name[16];
			snprintf(name, sizeof(name), "pod-%d", (i + round) % 100);
			put(b,
			    mkobj(WF_K8S_POD, "default", name, round % 2 ? "gen=odd" : "gen=even"));
		}
		assert_int_equal(wf_store_batch_commit(b), 0);
	}
	c.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(c.bad, 0);
	assert_true(c.checks > 0);
	wf_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_basic),
		cmocka_unit_test(test_map_collisions),
		cmocka_unit_test(test_map_sharing),
		cmocka_unit_test(test_map_fault_injection),
		cmocka_unit_test(test_map_random),
		cmocka_unit_test(test_store_basic),
		cmocka_unit_test(test_store_selectors),
		cmocka_unit_test(test_store_resource_versions),
		cmocka_unit_test(test_store_fault_injection),
		cmocka_unit_test(test_store_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
