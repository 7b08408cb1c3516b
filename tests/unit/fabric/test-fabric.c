/* The fabric core against the fake backend: desired state, diffs (add, remove, change a node),
 * restart with stale entries, host-gw on-link checks, dual-stack, failures and retries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "fabric/fabric-fake.h"
#include "fabric/fabric.h"
#include "k8s/object.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/ip.h"

static struct wf_fabric_node node(const char *name, const char *ip4, const char *ip6,
				  const char *cidr4, const char *cidr6)
{
	struct wf_fabric_node n = {.name = name};
	if (ip4)
		assert_int_equal(wf_ip_parse(ip4, &n.ip4), 0);
	if (ip6)
		assert_int_equal(wf_ip_parse(ip6, &n.ip6), 0);
	if (cidr4)
		assert_int_equal(wf_cidr_parse(cidr4, true, &n.pod_cidrs[n.n_pod_cidrs++]), 0);
	if (cidr6)
		assert_int_equal(wf_cidr_parse(cidr6, true, &n.pod_cidrs[n.n_pod_cidrs++]), 0);
	return n;
}

static struct wf_fabric *fabric(enum wf_fabric_mode mode, const char *self,
				struct wf_fabric_fake **ret_fk)
{
	struct wf_fabric_fake *fk;
	struct wf_fabric *f;
	assert_int_equal(wf_fabric_fake_new(&fk), 0);
	wf_fabric_fake_add_link(fk, "192.168.50.1/24", 2, 1500);
	wf_fabric_fake_add_link(fk, "fd50::1/64", 2, 1500);
	assert_int_equal(wf_fabric_new(mode, self, &fk->be, &f), 0);
	*ret_fk = fk;
	return f;
}

static const struct wf_fabric_route *find_route(const struct wf_fabric_fake *fk, const char *dst)
{
	struct wf_cidr c;
	assert_int_equal(wf_cidr_parse(dst, true, &c), 0);
	for (size_t i = 0; i < fk->installed.n_routes; i++) {
		const struct wf_fabric_route *r = &fk->installed.routes[i];
		if (r->dst.prefix == c.prefix && wf_ip_equal(&r->dst.ip, &c.ip))
			return r;
	}
	return NULL;
}

static void assert_gw(const struct wf_fabric_route *r, const char *gw)
{
	char b[WF_IP_STRLEN];
	assert_non_null(r);
	assert_string_equal(wf_ip_format(&r->gw, b), gw);
}

static const struct wf_fabric_fdb *find_fdb(const struct wf_fabric_fake *fk, const char *dst)
{
	struct wf_ip ip;
	assert_int_equal(wf_ip_parse(dst, &ip), 0);
	for (size_t i = 0; i < fk->installed.n_fdbs; i++) {
		if (wf_ip_equal(&fk->installed.fdbs[i].dst, &ip))
			return &fk->installed.fdbs[i];
	}
	return NULL;
}

static void test_vxlan_three_nodes(void **state)
{
	struct wf_fabric_fake *fk;
	struct wf_fabric *f = fabric(WF_FABRIC_VXLAN, "node-1", &fk);
	struct wf_fabric_node nodes[] = {
		node("node-1", "192.168.50.1", NULL, "10.244.1.0/24", NULL),
		node("node-2", "192.168.50.2", NULL, "10.244.2.0/24", NULL),
		node("node-3", "192.168.50.3", NULL, "10.244.3.0/24", NULL),
	};
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_string_equal(wf_fabric_error(f), "");
	assert_true(fk->forwarding4);
	assert_false(fk->forwarding6); /* no IPv6 pods, no IPv6 forwarding */
	assert_true(fk->has_vxlan);
	assert_int_equal(fk->vxlan.mtu, 1450);
	assert_int_equal(wf_fabric_pod_mtu(f), 1450);
	assert_int_equal(fk->vxlan.vni, 1);
	assert_int_equal(fk->vxlan.port, 8472);
	assert_int_equal(fk->vxlan.underlay, 2);
	static const uint8_t mac1[6] = {0x0e, 0x57, 192, 168, 50, 1};
	assert_memory_equal(fk->vxlan.mac, mac1, 6);

	assert_int_equal(fk->installed.n_routes, 2);
	assert_null(find_route(fk, "10.244.1.0/24")); /* own podCIDR stays local */
	const struct wf_fabric_route *r = find_route(fk, "10.244.2.0/24");
	assert_gw(r, "10.244.2.0");
	assert_true(r->onlink);
	assert_int_equal(r->oif, fk->vxlan_ifindex);
	assert_int_equal(fk->installed.n_neighs, 2);
	assert_int_equal(fk->installed.n_fdbs, 2);
	const struct wf_fabric_fdb *e = find_fdb(fk, "192.168.50.3");
	assert_non_null(e);
	static const uint8_t mac3[6] = {0x0e, 0x57, 192, 168, 50, 3};
	assert_memory_equal(e->mac, mac3, 6);

	/* Level-triggered: the same input changes nothing. */
	unsigned replaces = fk->replaces;
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_int_equal(fk->replaces, replaces);
	assert_int_equal(fk->dels, 0);
	assert_int_equal(fk->vxlan_created, 1);

	struct wf_fabric_stats st;
	wf_fabric_get_stats(f, &st);
	assert_int_equal(st.peers, 2);
	assert_int_equal(st.routes, 2);
	assert_int_equal(st.syncs, 2);
	wf_fabric_free(f);
}

static void test_vxlan_node_removed_and_changed(void **state)
{
	struct wf_fabric_fake *fk;
	struct wf_fabric *f = fabric(WF_FABRIC_VXLAN, "node-1", &fk);
	struct wf_fabric_node nodes[] = {
		node("node-1", "192.168.50.1", NULL, "10.244.1.0/24", NULL),
		node("node-2", "192.168.50.2", NULL, "10.244.2.0/24", NULL),
		node("node-3", "192.168.50.3", NULL, "10.244.3.0/24", NULL),
	};
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);

	/* node-3 goes away: its route, neighbour and FDB entry go with it. */
	assert_int_equal(wf_fabric_sync(f, nodes, 2), 0);
	assert_null(find_route(fk, "10.244.3.0/24"));
	assert_non_null(find_route(fk, "10.244.2.0/24"));
	assert_int_equal(fk->installed.n_neighs, 1);
	assert_int_equal(fk->installed.n_fdbs, 1);
	assert_null(find_fdb(fk, "192.168.50.3"));
	assert_int_equal(fk->dels, 3);

	/* node-2 moves to another address: a new FDB entry replaces the old one; its route
	 * (via the podCIDR's network address) stays and is not touched. */
	nodes[1] = node("node-2", "192.168.50.22", NULL, "10.244.2.0/24", NULL);
	unsigned dels = fk->dels;
	assert_int_equal(wf_fabric_sync(f, nodes, 2), 0);
	assert_non_null(find_fdb(fk, "192.168.50.22"));
	assert_null(find_fdb(fk, "192.168.50.2"));
	assert_int_equal(fk->installed.n_fdbs, 1);
	assert_int_equal(fk->dels, dels + 1); /* the old FDB entry; the neighbour is replaced */
	assert_int_equal(fk->installed.n_neighs, 1);
	static const uint8_t mac[6] = {0x0e, 0x57, 192, 168, 50, 22};
	assert_memory_equal(fk->installed.neighs[0].mac, mac, 6);

	/* node-2 gets another podCIDR: the route follows. */
	nodes[1] = node("node-2", "192.168.50.22", NULL, "10.244.20.0/24", NULL);
	assert_int_equal(wf_fabric_sync(f, nodes, 2), 0);
	assert_null(find_route(fk, "10.244.2.0/24"));
	assert_gw(find_route(fk, "10.244.20.0/24"), "10.244.20.0");
	assert_int_equal(fk->installed.n_routes, 1);
	assert_int_equal(fk->installed.n_neighs, 1);

	/* A node without a podCIDR yet is not routed (and is no error). */
	nodes[1].n_pod_cidrs = 0;
	assert_int_equal(wf_fabric_sync(f, nodes, 2), 0);
	assert_int_equal(fk->installed.n_routes, 0);
	assert_int_equal(fk->installed.n_fdbs, 0);
	wf_fabric_free(f);
}

/* A restarted agent finds its entries installed: the wanted ones stay untouched (no flush),
 * stale ones (a node deleted while the agent was down) are removed, foreign ones are never
 * seen (the backend reports only entries with the weft marker). */
static void test_restart_with_stale_entries(void **state)
{
	struct wf_fabric_fake *fk;
	struct wf_fabric *f = fabric(WF_FABRIC_VXLAN, "node-1", &fk);
	struct wf_fabric_node nodes[] = {
		node("node-1", "192.168.50.1", NULL, "10.244.1.0/24", NULL),
		node("node-2", "192.168.50.2", NULL, "10.244.2.0/24", NULL),
	};
	/* What the previous run left: the device, node-2's entries and node-9's. */
	struct wf_fabric_vxlan vx = {.vni = 1, .port = 8472, .underlay = 2, .mtu = 1450};
	assert_int_equal(wf_ip_parse("192.168.50.1", &vx.local), 0);
	wf_fabric_vtep_mac(&vx.local, vx.mac);
	fk->has_vxlan = true;
	fk->vxlan = vx;
	fk->vxlan_ifindex = 7;
	const char *peers[][3] = {{"10.244.2.0/24", "10.244.2.0", "192.168.50.2"},
				  {"10.244.9.0/24", "10.244.9.0", "192.168.50.9"}};
	for (int i = 0; i < 2; i++) {
		struct wf_fabric_route r = {.oif = 7, .onlink = true};
		struct wf_fabric_neigh ne = {.ifindex = 7};
		struct wf_fabric_fdb e = {.ifindex = 7};
		assert_int_equal(wf_cidr_parse(peers[i][0], true, &r.dst), 0);
		assert_int_equal(wf_ip_parse(peers[i][1], &r.gw), 0);
		ne.ip = r.gw;
		assert_int_equal(wf_ip_parse(peers[i][2], &e.dst), 0);
		wf_fabric_vtep_mac(&e.dst, e.mac);
		memcpy(ne.mac, e.mac, 6);
		assert_int_equal(wf_fabric_state_add_route(&fk->installed, &r), 0);
		assert_int_equal(wf_fabric_state_add_neigh(&fk->installed, &ne), 0);
		assert_int_equal(wf_fabric_state_add_fdb(&fk->installed, &e), 0);
	}
	assert_int_equal(wf_fabric_sync(f, nodes, 2), 0);
	assert_int_equal(fk->vxlan_created, 0); /* the device was kept */
	assert_int_equal(fk->replaces, 0);	/* node-2's entries were kept */
	assert_int_equal(fk->dels, 3);		/* node-9's were removed */
	assert_non_null(find_route(fk, "10.244.2.0/24"));
	assert_null(find_route(fk, "10.244.9.0/24"));
	assert_null(find_fdb(fk, "192.168.50.9"));
	wf_fabric_free(f);
}

static void test_host_gw(void **state)
{
	struct wf_fabric_fake *fk;
	struct wf_fabric *f = fabric(WF_FABRIC_HOST_GW, "node-1", &fk);
	struct wf_fabric_node nodes[] = {
		node("node-1", "192.168.50.1", "fd50::1", "10.244.1.0/24", "fd00:10:244:1::/64"),
		node("node-2", "192.168.50.2", "fd50::2", "10.244.2.0/24", "fd00:10:244:2::/64"),
		/* dual-stack podCIDRs but no IPv6 address: IPv4 routed, IPv6 warned about */
		node("node-3", "192.168.50.3", NULL, "10.244.3.0/24", "fd00:10:244:3::/64"),
	};
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_false(fk->has_vxlan);
	assert_true(fk->forwarding6);
	assert_int_equal(wf_fabric_pod_mtu(f), 1500);
	assert_int_equal(fk->installed.n_routes, 3);
	assert_gw(find_route(fk, "10.244.2.0/24"), "192.168.50.2");
	assert_gw(find_route(fk, "fd00:10:244:2::/64"), "fd50::2");
	assert_gw(find_route(fk, "10.244.3.0/24"), "192.168.50.3");
	assert_false(find_route(fk, "10.244.2.0/24")->onlink);
	assert_null(find_route(fk, "fd00:10:244:3::/64"));

	/* A node on another segment: reported clearly, the others still routed. */
	nodes[2] = node("node-3", "172.16.0.3", NULL, "10.244.3.0/24", NULL);
	int ret = wf_fabric_sync(f, nodes, 3);
	assert_int_equal(ret, -ENETUNREACH);
	assert_non_null(strstr(wf_fabric_error(f), "node node-3 (172.16.0.3) is not on-link"));
	assert_non_null(find_route(fk, "10.244.2.0/24"));
	/* The route via node-3's old address could not be replaced: it stays until the new
	 * one can be installed (a retry), rather than leaving the podCIDR unrouted. */
	assert_gw(find_route(fk, "10.244.3.0/24"), "192.168.50.3");
	wf_fabric_free(f);
}

static void test_mode_switch(void **state)
{
	struct wf_fabric_fake *fk;
	struct wf_fabric *f = fabric(WF_FABRIC_VXLAN, "node-1", &fk);
	struct wf_fabric_node nodes[] = {
		node("node-1", "192.168.50.1", NULL, "10.244.1.0/24", NULL),
		node("node-2", "192.168.50.2", NULL, "10.244.2.0/24", NULL),
	};
	assert_int_equal(wf_fabric_sync(f, nodes, 2), 0);
	assert_true(fk->has_vxlan);
	wf_fabric_free(f);
	/* The data plane (the fake) survives the fabric in real life; here a second fake
	 * starts from the state the first reached. */
	struct wf_fabric_fake *fk2;
	f = fabric(WF_FABRIC_HOST_GW, "node-1", &fk2);
	fk2->has_vxlan = true;
	fk2->vxlan_ifindex = 9;
	struct wf_fabric_route stale = {.oif = 9, .onlink = true};
	assert_int_equal(wf_cidr_parse("10.244.2.0/24", true, &stale.dst), 0);
	stale.gw = stale.dst.ip;
	assert_int_equal(wf_fabric_state_add_route(&fk2->installed, &stale), 0);
	assert_int_equal(wf_fabric_sync(f, nodes, 2), 0);
	assert_false(fk2->has_vxlan);
	assert_gw(find_route(fk2, "10.244.2.0/24"), "192.168.50.2");
	assert_int_equal(fk2->installed.n_routes, 1);
	wf_fabric_free(f);
}

static void test_errors_and_retry(void **state)
{
	struct wf_fabric_fake *fk;
	struct wf_fabric *f = fabric(WF_FABRIC_VXLAN, "node-1", &fk);
	struct wf_fabric_node nodes[] = {
		node("node-1", "192.168.50.1", NULL, "10.244.1.0/24", NULL),
		node("node-2", "192.168.50.2", NULL, "10.244.2.0/24", NULL),
		node("node-3", "192.168.50.3", NULL, "10.244.3.0/24", NULL),
	};
	/* Own node missing. */
	assert_int_equal(wf_fabric_sync(f, nodes + 1, 2), -ENOENT);
	assert_non_null(strstr(wf_fabric_error(f), "node-1"));

	/* The second entry operation fails: reported, the rest applied, the next sync
	 * converges. */
	fk->fail_at = 2;
	fk->fail_err = -ENOBUFS;
	assert_int_equal(wf_fabric_sync(f, nodes, 3), -ENOBUFS);
	assert_true(strlen(wf_fabric_error(f)) > 0);
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_int_equal(fk->installed.n_routes, 2);
	assert_int_equal(fk->installed.n_fdbs, 2);
	assert_int_equal(fk->installed.n_neighs, 2);

	/* No InternalIP on the own node; an address no link holds. */
	struct wf_fabric_node bad[] = {node("node-1", NULL, NULL, "10.244.1.0/24", NULL)};
	assert_int_equal(wf_fabric_sync(f, bad, 1), -WF_E_INVALID);
	bad[0] = node("node-1", "192.168.99.1", NULL, "10.244.1.0/24", NULL);
	assert_int_equal(wf_fabric_sync(f, bad, 1), -EADDRNOTAVAIL);
	assert_non_null(strstr(wf_fabric_error(f), "192.168.99.1"));

	/* Overlapping podCIDRs: the later node (in name order, as the store lists them) is
	 * not routed, and neither is one that overlaps the own podCIDR; no error. */
	struct wf_fabric_node ov[] = {
		node("node-1", "192.168.50.1", NULL, "10.244.1.0/24", NULL),
		node("node-2", "192.168.50.2", NULL, "10.244.2.0/24", NULL),
		node("node-3", "192.168.50.3", NULL, "10.244.2.0/25", NULL),
		node("node-4", "192.168.50.4", NULL, "10.244.0.0/16", NULL),
	};
	assert_int_equal(wf_fabric_sync(f, ov, 4), 0);
	assert_non_null(find_route(fk, "10.244.2.0/24"));
	assert_null(find_route(fk, "10.244.2.0/25"));
	assert_null(find_route(fk, "10.244.0.0/16"));
	assert_int_equal(fk->installed.n_routes, 1);
	wf_fabric_free(f);
}

/* Every allocation of a sync may fail: the sync reports -ENOMEM and leaks nothing (ASan). */
static bool has_cidr(const struct wf_cidr *c, size_t n, const char *want)
{
	struct wf_cidr w;
	assert_int_equal(wf_cidr_parse(want, true, &w), 0);
	for (size_t i = 0; i < n; i++)
		if (c[i].prefix == w.prefix && wf_ip_equal(&c[i].ip, &w.ip))
			return true;
	return false;
}

/* The fast path follows the routes: other nodes' IPv4 podCIDRs, the node's own, the link their
 * traffic arrives on; it never fails a sync, and "off" removes it once. */
static void test_fastpath(void **state)
{
	struct wf_fabric_fake *fk;
	struct wf_fabric_stats st;
	struct wf_fabric *f = fabric(WF_FABRIC_HOST_GW, "node-1", &fk);
	struct wf_fabric_node nodes[] = {
		node("node-1", "192.168.50.1", "fd50::1", "10.244.1.0/24", "fd00:10:244:1::/64"),
		node("node-2", "192.168.50.2", "fd50::2", "10.244.2.0/24", "fd00:10:244:2::/64"),
		node("node-3", "192.168.50.3", NULL, "10.244.3.0/24", NULL),
	};

	/* off by default: only the (one) removal of what an earlier agent may have left */
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_int_equal(fk->fastpath_calls, 1);
	assert_false(fk->fastpath);

	assert_int_equal(wf_fabric_set_fastpath(f, "cni0"), 0);
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_true(fk->fastpath);
	assert_string_equal(fk->fastpath_bridge, "cni0");
	assert_int_equal(fk->fastpath_link, 2); /* the underlay link holding 192.168.50.1 */
	assert_int_equal(fk->fastpath_n_local, 1);
	assert_true(has_cidr(fk->fastpath_local, 1, "10.244.1.0/24"));
	assert_int_equal(fk->fastpath_n_remote, 2); /* IPv4 only */
	assert_true(has_cidr(fk->fastpath_remote, 2, "10.244.2.0/24"));
	assert_true(has_cidr(fk->fastpath_remote, 2, "10.244.3.0/24"));
	wf_fabric_get_stats(f, &st);
	assert_true(st.fastpath);

	/* a node goes: its podCIDR leaves the map with its route */
	assert_int_equal(wf_fabric_sync(f, nodes, 2), 0);
	assert_int_equal(fk->fastpath_n_remote, 1);
	assert_true(has_cidr(fk->fastpath_remote, 1, "10.244.2.0/24"));

	/* cannot be loaded: logged, the routes carry everything, the sync succeeds */
	fk->fastpath_err = -EOPNOTSUPP;
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_int_equal(fk->installed.n_routes, 3);
	wf_fabric_get_stats(f, &st);
	assert_false(st.fastpath);
	fk->fastpath_err = 0;
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	wf_fabric_get_stats(f, &st);
	assert_true(st.fastpath);

	/* switched off: removed once */
	unsigned calls = fk->fastpath_calls;
	assert_int_equal(wf_fabric_set_fastpath(f, NULL), 0);
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_false(fk->fastpath);
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_int_equal(fk->fastpath_calls, calls + 1);
	wf_fabric_get_stats(f, &st);
	assert_false(st.fastpath);
	wf_fabric_free(f);

	/* vxlan: the traffic of other nodes' pods arrives on the VXLAN device */
	f = fabric(WF_FABRIC_VXLAN, "node-1", &fk);
	assert_int_equal(wf_fabric_set_fastpath(f, "cbr0"), 0);
	assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
	assert_true(fk->fastpath);
	assert_string_equal(fk->fastpath_bridge, "cbr0");
	assert_int_equal(fk->fastpath_link, fk->vxlan_ifindex);
	assert_int_equal(fk->fastpath_n_remote, 2);
	wf_fabric_free(f);
}

static void test_alloc_failures(void **state)
{
	struct wf_fabric_node nodes[] = {
		node("node-1", "192.168.50.1", NULL, "10.244.1.0/24", NULL),
		node("node-2", "192.168.50.2", NULL, "10.244.2.0/24", NULL),
		node("node-3", "192.168.50.3", NULL, "10.244.3.0/24", NULL),
	};
	for (unsigned long n = 1; n < 64; n++) {
		struct wf_fabric_fake *fk;
		struct wf_fabric *f = fabric(WF_FABRIC_VXLAN, "node-1", &fk);
		wf_alloc_fail_at(n);
		int ret = wf_fabric_sync(f, nodes, 3);
		wf_alloc_fail_at(0);
		assert_true(ret == 0 || ret == -ENOMEM);
		assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
		assert_int_equal(fk->installed.n_routes, 2);
		wf_fabric_free(f);
	}
	/* with the fast path: its allocations fail too, never the sync's result */
	for (unsigned long n = 1; n < 64; n++) {
		struct wf_fabric_fake *fk;
		struct wf_fabric *f = fabric(WF_FABRIC_HOST_GW, "node-1", &fk);
		assert_int_equal(wf_fabric_set_fastpath(f, "cni0"), 0);
		wf_alloc_fail_at(n);
		int ret = wf_fabric_sync(f, nodes, 3);
		wf_alloc_fail_at(0);
		assert_true(ret == 0 || ret == -ENOMEM);
		assert_int_equal(wf_fabric_sync(f, nodes, 3), 0);
		assert_true(fk->fastpath);
		assert_int_equal(fk->fastpath_n_remote, 2);
		wf_fabric_free(f);
	}
}

static void test_node_from_k8s(void **state)
{
	static const char yaml[] = "apiVersion: v1\n"
				   "kind: Node\n"
				   "metadata: {name: node-2}\n"
				   "spec:\n"
				   "  podCIDRs: [10.244.2.0/24, 'fd00:10:244:2::/64']\n"
				   "status:\n"
				   "  addresses:\n"
				   "  - {type: Hostname, address: node-2}\n"
				   "  - {type: ExternalIP, address: 203.0.113.2}\n"
				   "  - {type: InternalIP, address: 192.168.50.2}\n"
				   "  - {type: InternalIP, address: 'fd50::2'}\n";
	struct wf_k8s_parse_result res;
	assert_int_equal(wf_k8s_parse(yaml, sizeof(yaml) - 1, "n.yaml", &res, NULL), 1);
	struct wf_fabric_node n;
	assert_int_equal(wf_fabric_node_from_k8s(res.objects[0], &n), 0);
	char b[WF_CIDR_STRLEN];
	assert_string_equal(n.name, "node-2");
	assert_string_equal(wf_ip_format(&n.ip4, b), "192.168.50.2");
	assert_string_equal(wf_ip_format(&n.ip6, b), "fd50::2");
	assert_int_equal(n.n_pod_cidrs, 2);
	assert_string_equal(wf_cidr_format(&n.pod_cidrs[1], b), "fd00:10:244:2::/64");
	assert_int_equal(wf_fabric_node_from_k8s(NULL, &n), -EINVAL);
	wf_k8s_parse_result_done(&res);

	enum wf_fabric_mode m;
	assert_int_equal(wf_fabric_mode_parse("host-gw", &m), 0);
	assert_int_equal(m, WF_FABRIC_HOST_GW);
	assert_int_equal(wf_fabric_mode_parse("ipip", &m), -EINVAL);
	uint8_t mac[6];
	struct wf_ip v6;
	assert_int_equal(wf_ip_parse("fd50::2", &v6), 0);
	wf_fabric_vtep_mac(&v6, mac);
	assert_int_equal(mac[0], 0x0e); /* locally administered, unicast */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vxlan_three_nodes),
		cmocka_unit_test(test_vxlan_node_removed_and_changed),
		cmocka_unit_test(test_restart_with_stale_entries),
		cmocka_unit_test(test_host_gw),
		cmocka_unit_test(test_mode_switch),
		cmocka_unit_test(test_errors_and_retry),
		cmocka_unit_test(test_fastpath),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_node_from_k8s),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
