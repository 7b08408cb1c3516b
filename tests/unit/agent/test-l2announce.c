/* The layer-2 announcer: the owner choice (stable, order-free, balanced, minimal movement), the
 * plan from a snapshot (pool annotation, loadBalancerClass, externalTrafficPolicy Local) and the
 * reconciler on the fake backend (add + GARP once, release, adopt after a restart). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/l2announce.h"
#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/ip.h"
#include "lib/metrics.h"

static void test_owner_stable(void **state)
{
	const char *a[] = {"node-1", "node-2", "node-3"};
	const char *b[] = {"node-3", "node-1", "node-2"};

	(void)state;
	assert_int_equal(wf_l2announce_owner("default/web", a, 0), -1);
	/* the same owner every time and whatever the order of the nodes */
	for (int i = 0; i < 200; i++) {
		char key[32];

		snprintf(key, sizeof(key), "ns/svc-%d", i);
		ssize_t x = wf_l2announce_owner(key, a, 3), y = wf_l2announce_owner(key, b, 3);
		assert_true(x >= 0 && y >= 0);
		assert_string_equal(a[x], b[y]);
		assert_int_equal(wf_l2announce_owner(key, a, 3), x);
	}
	/* pinned: agents of different builds must agree (the hash is part of the protocol) */
	assert_true(wf_l2announce_score("default/web", "node-1") ==
		    wf_l2announce_score("default/web", "node-1"));
	assert_true(wf_l2announce_score("default/web", "node-1") !=
		    wf_l2announce_score("default/web", "node-2"));
	assert_true(wf_l2announce_score("ab", "c") != wf_l2announce_score("a", "bc"));
}

static void test_owner_balanced(void **state)
{
	const char *nodes[] = {"node-1", "node-2", "node-3", "node-4", "node-5"};
	unsigned count[5] = {0};

	(void)state;
	for (int i = 0; i < 5000; i++) {
		char key[32];

		snprintf(key, sizeof(key), "default/lb-%d", i);
		count[wf_l2announce_owner(key, nodes, 5)]++;
	}
	/* 1000 expected each; 4 sigma is about 115 */
	for (int i = 0; i < 5; i++) {
		assert_in_range(count[i], 860, 1140);
	}
}

static void test_owner_minimal_movement(void **state)
{
	const char *three[] = {"node-1", "node-2", "node-3"};
	const char *two[] = {"node-1", "node-3"};
	int moved = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		char key[32];

		snprintf(key, sizeof(key), "default/lb-%d", i);
		const char *before = three[wf_l2announce_owner(key, three, 3)];
		const char *after = two[wf_l2announce_owner(key, two, 2)];
		if (strcmp(before, "node-2")) {
			assert_string_equal(before, after); /* only node-2's services move */
		} else {
			moved++;
		}
	}
	assert_in_range(moved, 250, 420);
}

/* ---- the plan from a snapshot ---- */

static const char *const base_yaml =
	"apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n"
	"status: {addresses: [{type: InternalIP, address: 172.30.5.11}]}\n---\n"
	"apiVersion: v1\nkind: Node\nmetadata: {name: node-2}\n"
	"status: {addresses: [{type: InternalIP, address: 172.30.5.12}]}\n---\n"
	"apiVersion: v1\nkind: Node\nmetadata: {name: node-3}\n"
	"status: {addresses: [{type: InternalIP, address: 172.30.5.13}]}\n---\n"
	/* Cluster policy, from the pool */
	"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default,\n"
	"  annotations: {weft.dev/ip-allocated-from-pool: lab}}\n"
	"spec: {type: LoadBalancer, ports: [{port: 80}], selector: {app: web}}\n"
	"status: {loadBalancer: {ingress: [{ip: 172.30.5.200}]}}\n---\n"
	/* a cloud's address (no pool annotation): never announced */
	"apiVersion: v1\nkind: Service\nmetadata: {name: cloud, namespace: default}\n"
	"spec: {type: LoadBalancer, ports: [{port: 80}]}\n"
	"status: {loadBalancer: {ingress: [{ip: 172.30.5.201}]}}\n---\n"
	/* another implementation's class */
	"apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: default,\n"
	"  annotations: {weft.dev/ip-allocated-from-pool: lab}}\n"
	"spec: {type: LoadBalancer, loadBalancerClass: example.com/lb, ports: [{port: 80}]}\n"
	"status: {loadBalancer: {ingress: [{ip: 172.30.5.202}]}}\n---\n"
	/* Local policy: only nodes with a ready endpoint */
	"apiVersion: v1\nkind: Service\nmetadata: {name: local, namespace: default,\n"
	"  annotations: {weft.dev/ip-allocated-from-pool: lab}}\n"
	"spec: {type: LoadBalancer, externalTrafficPolicy: Local, ports: [{port: 80}],\n"
	"  selector: {app: local}}\n"
	"status: {loadBalancer: {ingress: [{ip: 172.30.5.203}]}}\n";

static const char *const slice_yaml =
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	"metadata: {name: local-abc, namespace: default,\n"
	"  labels: {kubernetes.io/service-name: local}}\n"
	"addressType: IPv4\nports: [{port: 80, protocol: TCP}]\n"
	"endpoints:\n"
	"- {addresses: [10.244.2.5], nodeName: %s, conditions: {ready: true}}\n"
	"- {addresses: [10.244.3.5], nodeName: node-3, conditions: {ready: %s}}\n";

static void put_yaml(struct wf_store *s, const char *yaml)
{
	struct wf_k8s_parse_result res;
	struct wf_store_batch *b;

	assert_true(wf_k8s_parse(yaml, strlen(yaml), "t.yaml", &res, NULL) > 0);
	assert_int_equal(wf_store_batch_begin(s, &b), 0);
	for (size_t i = 0; i < res.n_objects; i++)
		assert_int_equal(wf_store_batch_put(b, res.objects[i]), 0);
	assert_int_equal(wf_store_batch_commit(b), 0);
	wf_k8s_parse_result_done(&res);
}

static void put_slice(struct wf_store *s, const char *node, const char *node3_ready)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), slice_yaml, node, node3_ready);
	put_yaml(s, yaml);
}

/* The owner of ip among node-1..3 (-1: nobody; fails when two nodes claim it). */
static int owner_of(struct wf_store *s, const char *ip)
{
	struct wf_store_snapshot *snap = wf_store_snapshot(s);
	struct wf_ip want;
	int owner = -1;

	assert_int_equal(wf_ip_parse(ip, &want), 0);
	for (int n = 1; n <= 3; n++) {
		struct wf_l2announce_want *w = NULL;
		char node[16];

		snprintf(node, sizeof(node), "node-%d", n);
		ssize_t k = wf_l2announce_plan(snap, node, &w);
		assert_true(k >= 0);
		for (ssize_t i = 0; i < k; i++)
			if (wf_ip_equal(&w[i].ip, &want)) {
				assert_int_equal(owner, -1); /* exactly one node */
				owner = n;
			}
		wf_free(w);
	}
	wf_store_snapshot_unref(snap);
	return owner;
}

static void test_plan(void **state)
{
	struct wf_store *s;

	(void)state;
	assert_int_equal(wf_store_new(&s), 0);
	put_yaml(s, base_yaml);
	/* Cluster: some node, the one rendezvous hashing names */
	const char *all[] = {"node-1", "node-2", "node-3"};
	assert_int_equal(owner_of(s, "172.30.5.200"),
			 1 + (int)wf_l2announce_owner("default/web", all, 3));
	assert_int_equal(owner_of(s, "172.30.5.201"), -1);
	assert_int_equal(owner_of(s, "172.30.5.202"), -1);
	/* Local without endpoints: nobody attracts traffic it would drop */
	assert_int_equal(owner_of(s, "172.30.5.203"), -1);
	/* one ready local endpoint on node-2 (node-3's is not ready): node-2 */
	put_slice(s, "node-2", "false");
	assert_int_equal(owner_of(s, "172.30.5.203"), 2);
	/* the endpoint moves to node-1: so does the address */
	put_slice(s, "node-1", "false");
	assert_int_equal(owner_of(s, "172.30.5.203"), 1);
	/* two eligible nodes: the hash picks between those two only */
	put_slice(s, "node-1", "true");
	const char *two[] = {"node-1", "node-3"};
	ssize_t o = wf_l2announce_owner("default/local", two, 2);
	assert_int_equal(owner_of(s, "172.30.5.203"), o == 0 ? 1 : 3);
	wf_store_free(s);
}

/* ---- the reconciler on the fake backend ---- */

static struct wf_l2announce_backend *fake_be;

static int fake_new(struct wf_l2announce_backend **ret)
{
	int r = wf_l2announce_fake_new(ret);

	if (r == 0)
		fake_be = *ret;
	return r;
}

static void test_reconciler(void **state)
{
	const char *all[] = {"node-1", "node-2", "node-3"};
	char node[16], err[256] = "";
	struct wf_metrics *m;
	struct wf_store *s;
	struct wf_ip got[8], want;
	void *rs;

	(void)state;
	snprintf(node, sizeof(node), "%s", all[wf_l2announce_owner("default/web", all, 3)]);
	struct wf_agent_config cfg = {.node_name = node};
	assert_int_equal(wf_metrics_new(64, &m), 0);
	assert_int_equal(wf_store_new(&s), 0);
	put_yaml(s, base_yaml);
	wf_l2announce_backend_new = fake_new;
	assert_int_equal(wf_l2announce_reconciler.init(&cfg, m, &rs), 0);

	struct wf_store_snapshot *snap = wf_store_snapshot(s);
	assert_int_equal(wf_l2announce_reconciler.sync(rs, snap, err, sizeof(err)), 0);
	assert_int_equal(wf_l2announce_fake_addrs(fake_be, got, 8), 1);
	assert_int_equal(wf_ip_parse("172.30.5.200", &want), 0);
	assert_true(wf_ip_equal(&got[0], &want));
	assert_int_equal(wf_l2announce_fake_garps(fake_be), 1);
	/* level-triggered: nothing changes, nothing is sent again */
	assert_int_equal(wf_l2announce_reconciler.sync(rs, snap, err, sizeof(err)), 0);
	assert_int_equal(wf_l2announce_fake_addrs(fake_be, got, 8), 1);
	assert_int_equal(wf_l2announce_fake_garps(fake_be), 1);
	wf_store_snapshot_unref(snap);

	/* the Service goes away: the address is released */
	struct wf_store_batch *b;
	assert_int_equal(wf_store_batch_begin(s, &b), 0);
	assert_int_equal(wf_store_batch_delete(b, WF_K8S_SERVICE, "default", "web"), 0);
	assert_int_equal(wf_store_batch_commit(b), 0);
	snap = wf_store_snapshot(s);
	assert_int_equal(wf_l2announce_reconciler.sync(rs, snap, err, sizeof(err)), 0);
	assert_int_equal(wf_l2announce_fake_addrs(fake_be, got, 8), 0);
	wf_store_snapshot_unref(snap);

	wf_l2announce_reconciler.done(rs);

	/* a restarted agent adopts its marked address (no new GARP) and removes a stale one */
	put_yaml(s, base_yaml);
	assert_int_equal(wf_l2announce_reconciler.init(&cfg, m, &rs), 0);
	struct wf_ip stale;
	assert_int_equal(wf_ip_parse("172.30.5.210", &stale), 0);
	assert_int_equal(fake_be->ops->add(fake_be, 2, &want), 0);
	assert_int_equal(fake_be->ops->add(fake_be, 2, &stale), 0);
	snap = wf_store_snapshot(s);
	assert_int_equal(wf_l2announce_reconciler.sync(rs, snap, err, sizeof(err)), 0);
	assert_int_equal(wf_l2announce_fake_addrs(fake_be, got, 8), 1);
	assert_true(wf_ip_equal(&got[0], &want));
	assert_int_equal(wf_l2announce_fake_garps(fake_be), 0);
	wf_store_snapshot_unref(snap);
	wf_l2announce_reconciler.done(rs);
	wf_l2announce_backend_new = wf_l2announce_nl_new;
	wf_store_free(s);
	wf_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_stable),
		cmocka_unit_test(test_owner_balanced),
		cmocka_unit_test(test_owner_minimal_movement),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_reconciler),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
