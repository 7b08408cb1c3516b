/* Live updates: after every random change to a store (Services added, removed and modified,
 * ClusterIP <-> headless <-> ExternalName, EndpointSlices with endpoints turning ready and not,
 * shared addresses so that PTR names have several owners, Namespaces), the incrementally
 * derived zone equals a zone built in full from the same snapshot, name by name and byte by
 * byte; and the updates really are incremental. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/live.h"
#include "dns/view.h"
#include "dns/zone.h"
#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/diag.h"
#include "lib/alloc.h"
#include "lib/ip.h"

#define N_SVC 14
#define N_NS 3

static uint32_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) % n;
}

struct env {
	struct wf_store *store;
	struct wf_dns_live *live;
	struct wf_dns_zone_config cfg;
};

static void on_event(void *userdata, const struct wf_store_snapshot *snap,
		     const struct wf_store_event *ev, size_t n)
{
	struct env *e = userdata;
	(void)snap;
	wf_dns_live_note(e->live, ev, n);
}

static void put_yaml(struct env *e, const char *yaml)
{
	struct wf_k8s_parse_result res = {0};
	struct wf_store_batch *b;
	struct wf_diag diag;
	char text[512];

	wf_diag_clear(&diag);
	if (wf_k8s_parse(yaml, strlen(yaml), "test.yaml", &res, &diag) < 0)
		fail_msg("%s\n%s", wf_diag_format(&diag, text, sizeof(text)), yaml);
	assert_int_equal(wf_store_batch_begin(e->store, &b), 0);
	for (size_t i = 0; i < res.n_objects; i++)
		assert_int_equal(wf_store_batch_put(b, res.objects[i]), 0);
	assert_int_equal(wf_store_batch_commit(b), 0);
	wf_k8s_parse_result_done(&res);
}

static void del(struct env *e, enum wf_k8s_kind kind, const char *ns, const char *name)
{
	struct wf_store_batch *b;

	assert_int_equal(wf_store_batch_begin(e->store, &b), 0);
	wf_store_batch_delete(b, kind, ns, name);
	if (wf_store_batch_changes(b))
		assert_int_equal(wf_store_batch_commit(b), 0);
	else
		wf_store_batch_abort(b);
}

/* A random Service svc-i: the namespace is fixed per i so that keys stay stable. */
static void random_service(struct env *e, unsigned i)
{
	char y[2048];
	size_t n = 0;
	unsigned kind = rnd(4);

	n += (size_t)snprintf(y + n, sizeof(y) - n,
			      "apiVersion: v1\nkind: Service\nmetadata: {name: svc-%u, namespace: "
			      "ns-%u}\nspec:\n",
			      i, i % N_NS);
	if (kind == 0) {
		n += (size_t)snprintf(y + n, sizeof(y) - n,
				      "  type: ExternalName\n  externalName: ext-%u.example.com\n",
				      rnd(3));
	} else if (kind == 1) {
		n += (size_t)snprintf(y + n, sizeof(y) - n, "  clusterIP: None\n");
	} else {
		/* few addresses: two Services often share one, and so its PTR name */
		n += (size_t)snprintf(y + n, sizeof(y) - n, "  clusterIP: 10.96.0.%u\n",
				      1 + rnd(5));
	}
	if (rnd(3))
		n += (size_t)snprintf(y + n, sizeof(y) - n, "  publishNotReadyAddresses: %s\n",
				      rnd(2) ? "true" : "false");
	if (rnd(4) == 0) /* one unnamed port: no SRV */
		n += (size_t)snprintf(y + n, sizeof(y) - n,
				      "  ports:\n  - {port: 53, protocol: UDP}\n");
	else
		n += (size_t)snprintf(y + n, sizeof(y) - n,
				      "  ports:\n  - {name: http, port: %u}\n%s", 80 + rnd(2),
				      rnd(2) ? "  - {name: dns, port: 53, protocol: UDP}\n" : "");
	put_yaml(e, y);
}

static const char *tri(void)
{
	static const char *v[] = {"true", "false", NULL};
	return v[rnd(3)];
}

static void random_slice(struct env *e, unsigned i, char which)
{
	char y[4096];
	size_t n = 0;
	unsigned eps = rnd(4);

	n += (size_t)snprintf(y + n, sizeof(y) - n,
			      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
			      "  name: svc-%u-%c\n  namespace: ns-%u\n"
			      "  labels: {kubernetes.io/service-name: svc-%u}\naddressType: IPv4\n"
			      "ports:\n- {name: http, port: %u, protocol: TCP}\n",
			      i, which, i % N_NS, i, 8080 + rnd(2));
	if (rnd(2))
		n += (size_t)snprintf(y + n, sizeof(y) - n,
				      "- {name: dns, port: 53, protocol: UDP}\n");
	n += (size_t)snprintf(y + n, sizeof(y) - n, "endpoints:%s\n", eps ? "" : " []");
	for (unsigned k = 0; k < eps; k++) {
		const char *r = tri(), *t = tri();
		n += (size_t)snprintf(y + n, sizeof(y) - n, "- addresses: [10.244.0.%u]\n",
				      1 + rnd(6));
		if (rnd(3) == 0)
			n += (size_t)snprintf(y + n, sizeof(y) - n, "  hostname: host-%u\n",
					      rnd(3));
		n += (size_t)snprintf(y + n, sizeof(y) - n, "  conditions: {");
		if (r)
			n += (size_t)snprintf(y + n, sizeof(y) - n, "ready: %s", r);
		if (t)
			n += (size_t)snprintf(y + n, sizeof(y) - n, "%sterminating: %s",
					      r ? ", " : "", t);
		n += (size_t)snprintf(y + n, sizeof(y) - n, "}\n");
	}
	put_yaml(e, y);
}

/* The zone for the store's snapshot, built in full. */
static struct wf_dns_zone *full_zone(struct env *e, uint32_t serial)
{
	struct wf_store_snapshot *snap = wf_store_snapshot(e->store);
	struct wf_dns_view *v;
	struct wf_dns_zone *z;

	assert_int_equal(wf_dns_view_from_snapshot(snap, false, &v), 0);
	assert_int_equal(wf_dns_zone_build(&e->cfg, wf_dns_view_cluster(v), serial, &z, NULL), 0);
	wf_dns_view_free(v);
	wf_store_snapshot_unref(snap);
	return z;
}

/* One random change to the store. */
static void random_change(struct env *e)
{
	unsigned i = rnd(N_SVC), action = rnd(100);
	char ns[16], name[32];

	snprintf(ns, sizeof(ns), "ns-%u", i % N_NS);
	if (action < 30) {
		random_service(e, i);
	} else if (action < 40) {
		snprintf(name, sizeof(name), "svc-%u", i);
		del(e, WF_K8S_SERVICE, ns, name);
	} else if (action < 80) {
		random_slice(e, i, rnd(2) ? 'a' : 'b');
	} else if (action < 95) {
		snprintf(name, sizeof(name), "svc-%u-%c", i, rnd(2) ? 'a' : 'b');
		del(e, WF_K8S_ENDPOINTSLICE, ns, name);
	} else if (action < 98) {
		char y[256];
		snprintf(y, sizeof(y), "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n",
			 rnd(2) ? ns : "empty-ns");
		put_yaml(e, y);
	} else {
		del(e, WF_K8S_NAMESPACE, NULL, rnd(2) ? ns : "empty-ns");
	}
}

static void env_init(struct env *e, enum wf_dns_pod_mode pods)
{
	memset(e, 0, sizeof(*e));
	e->cfg.cluster_domain = "cluster.local";
	e->cfg.ttl = 30;
	e->cfg.pods = pods;
	wf_cidr_parse("10.96.0.0/12", true, &e->cfg.service_cidrs[0]);
	e->cfg.n_service_cidrs = 1;
	wf_cidr_parse("10.244.0.0/16", true, &e->cfg.pod_cidrs[0]);
	e->cfg.n_pod_cidrs = 1;
	assert_int_equal(wf_store_new(&e->store), 0);
	assert_int_equal(wf_dns_live_new(&e->cfg, &e->live), 0);
	assert_true(wf_store_subscribe(e->store, on_event, e) > 0);
}

static void env_done(struct env *e, struct wf_dns_zone *cur)
{
	wf_dns_zone_free(cur);
	wf_dns_live_free(e->live);
	wf_store_free(e->store);
}

static void run(uint32_t seed, enum wf_dns_pod_mode pods, unsigned steps)
{
	struct env e = {0};
	struct wf_dns_zone *cur = NULL;
	unsigned incremental = 0, full = 0;
	char why[600];

	rng_state = seed;
	env_init(&e, pods);

	for (unsigned step = 1; step <= steps; step++) {
		random_change(&e);

		struct wf_store_snapshot *snap = wf_store_snapshot(e.store);
		struct wf_dns_live_stats st;
		struct wf_dns_zone *next;
		assert_int_equal(wf_dns_live_update(e.live, snap, step, &next, &st), 0);
		wf_store_snapshot_unref(snap);
		/* as the server does: the replaced version goes once the next one is out */
		wf_dns_zone_free(cur);
		cur = next;
		full += st.full;
		incremental += !st.full;

		struct wf_dns_zone *ref = full_zone(&e, step);
		if (!wf_dns_zone_equal(ref, cur, why, sizeof(why)))
			fail_msg("seed %u step %u (%s): %s", seed, step,
				 st.full ? "full" : "incremental", why);
		wf_dns_zone_free(ref);
	}
	/* Namespace changes and compaction rebuild in full; Service and slice changes do not */
	if (pods != WF_DNS_PODS_VERIFIED)
		assert_true(incremental > steps / 2);
	env_done(&e, cur);
}

/* Every allocation of an update fails in turn (a fresh random change each time): the update
 * fails cleanly or falls back to a full build, and the next one is right again. */
static void test_alloc_failures(void **state)
{
	struct env e;
	struct wf_dns_zone *cur = NULL;
	unsigned long nth;
	uint32_t serial = 0;
	bool done = false;
	char why[600];

	(void)state;
	rng_state = 7;
	env_init(&e, WF_DNS_PODS_INSECURE);
	for (nth = 1; !done && nth < 5000; nth++) {
		struct wf_store_snapshot *snap;
		struct wf_dns_live_stats st;
		struct wf_dns_zone *next = NULL, *ref;
		unsigned long count;
		int rc;

		random_change(&e);
		snap = wf_store_snapshot(e.store);
		serial++;
		wf_alloc_fail_at(nth < 40 ? 0 : nth - 40); /* the first rounds fill the store */
		rc = wf_dns_live_update(e.live, snap, serial, &next, &st);
		count = wf_alloc_count();
		wf_alloc_fail_at(0);
		if (rc < 0)
			assert_int_equal(wf_dns_live_update(e.live, snap, serial, &next, &st), 0);
		else
			done = nth > 640 && count < nth - 40;
		wf_store_snapshot_unref(snap);
		wf_dns_zone_free(cur);
		cur = next;
		ref = full_zone(&e, serial);
		if (!wf_dns_zone_equal(ref, cur, why, sizeof(why)))
			fail_msg("after failing allocation %lu: %s", nth - 40, why);
		wf_dns_zone_free(ref);
	}
	assert_true(done);
	env_done(&e, cur);
}

static void test_incremental_equals_full(void **state)
{
	(void)state;
	for (uint32_t seed = 1; seed <= 6; seed++)
		run(seed, seed % 2 ? WF_DNS_PODS_INSECURE : WF_DNS_PODS_DISABLED, 400);
}

static void test_verified_pods_rebuild(void **state)
{
	(void)state;
	run(99, WF_DNS_PODS_VERIFIED, 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incremental_equals_full),
		cmocka_unit_test(test_verified_pods_rebuild),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
