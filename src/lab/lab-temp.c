/* weft lab: TEMPORARY stand-ins, used only while this build has no `weft agent` (fabric) or no
 * weft-cni binary. They give the lab the same shape the real pieces give it, so that the lab's
 * own tests can run:
 *   - fabric: host-gw routes between node namespaces, or a VXLAN device per node with static
 *     FDB/neighbour entries (Flannel's layout: vxlan0 holds 10.244.N.0/32);
 *   - attachment: a veth from the pod namespace to the node's cni0 bridge, .1 as gateway.
 * Delete this file once the fabric agent and weft-cni are in the build. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lab/lab-internal.h"

static void node_mac(unsigned node, char *buf, size_t size)
{
	snprintf(buf, size, "0a:58:0a:f4:%02x:00", node & 0xff);
}

int wf_lab_temp_fabric_up(const struct wf_lab *lab)
{
	char script[8192], fdb[4096];
	char mac[32];
	size_t off, foff;

	for (unsigned n = 1; n <= lab->nodes; n++) {
		char ns[64], what[32];

		snprintf(what, sizeof(what), "node-%u", n);
		wf_lab_netns_name(lab, what, ns, sizeof(ns));
		off = foff = 0;
		if (lab->fabric == WF_LAB_FABRIC_VXLAN) {
			node_mac(n, mac, sizeof(mac));
			off += snprintf(script + off, sizeof(script) - off,
					"link add vxlan0 address %s type vxlan id 1 dev eth0 local "
					"172.30.%u.%u dstport 4789 nolearning\n"
					"link set vxlan0 mtu 1450 up\n"
					"addr add 10.244.%u.0/32 dev vxlan0\n",
					mac, lab->subnet, 10 + n, n);
		}
		for (unsigned m = 1; m <= lab->nodes; m++) {
			if (m == n)
				continue;
			if (lab->fabric == WF_LAB_FABRIC_HOST_GW) {
				off += snprintf(
					script + off, sizeof(script) - off,
					"route add 10.244.%u.0/24 via 172.30.%u.%u dev eth0\n", m,
					lab->subnet, 10 + m);
				continue;
			}
			node_mac(m, mac, sizeof(mac));
			off += snprintf(
				script + off, sizeof(script) - off,
				"neigh replace 10.244.%u.0 lladdr %s dev vxlan0 nud permanent\n"
				"route add 10.244.%u.0/24 via 10.244.%u.0 dev vxlan0 onlink\n",
				m, mac, m, m);
			foff += snprintf(fdb + foff, sizeof(fdb) - foff,
					 "fdb append %s dev vxlan0 dst 172.30.%u.%u\n", mac,
					 lab->subnet, 10 + m);
			if (off >= sizeof(script) || foff >= sizeof(fdb))
				return -E2BIG;
		}
		if (off && wf_lab_ip_batch(ns, script) < 0)
			return -EIO;
		if (foff) {
			char *argv[] = {"bridge", "-n", ns, "-batch", "-", NULL};
			char err[256];

			if (wf_lab_run(NULL, argv, fdb, NULL, err, sizeof(err)) != 0) {
				fprintf(stderr, "weft lab: bridge fdb in %s: %s\n", ns, err);
				return -EIO;
			}
		}
	}
	return 0;
}

int wf_lab_temp_node_bridge(const struct wf_lab *lab, unsigned node)
{
	char ns[64], what[32], script[512];

	snprintf(what, sizeof(what), "node-%u", node);
	wf_lab_netns_name(lab, what, ns, sizeof(ns));
	snprintf(script, sizeof(script),
		 "link add cni0 address 0a:58:0a:f4:%02x:01 type bridge\n"
		 "addr add 10.244.%u.1/24 dev cni0\n"
		 "link set cni0 up\n",
		 node & 0xff, node);
	return wf_lab_ip_batch(ns, script);
}

int wf_lab_temp_attach(const struct wf_lab *lab, unsigned node, const char *pod_netns,
		       const char *ip, unsigned mtu)
{
	char ns[64], what[32], script[1024], host[16];
	int r;

	snprintf(what, sizeof(what), "node-%u", node);
	wf_lab_netns_name(lab, what, ns, sizeof(ns));
	snprintf(host, sizeof(host), "vw%08x", wf_lab_hash(pod_netns));
	snprintf(script, sizeof(script),
		 "link add %s mtu %u type veth peer name eth0 mtu %u netns %s\n"
		 "link set %s master cni0 up\n",
		 host, mtu, mtu, pod_netns, host);
	r = wf_lab_ip_batch(ns, script);
	if (r < 0)
		return r;
	snprintf(script, sizeof(script),
		 "link set lo up\n"
		 "addr add %s/24 dev eth0\n"
		 "link set eth0 up\n"
		 "route add default via 10.244.%u.1 dev eth0\n",
		 ip, node);
	return wf_lab_ip_batch(pod_netns, script);
}
