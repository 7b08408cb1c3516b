/* The fabric as an agent reconciler: Node objects of a snapshot -> wf_fabric_sync(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "fabric/fabric.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/metrics.h"

int (*wf_agent_fabric_backend_new)(struct wf_fabric_backend **ret) = wf_fabric_nl_new;

struct fabric_rec {
	struct wf_fabric *fabric;
	unsigned logged_mtu;
	size_t logged_peers;
	struct wf_metric *m_routes, *m_peers, *m_added, *m_removed, *m_mtu;
	struct wf_metric *m_fastpath, *m_fp_pods, *m_fp_fabric;
	struct wf_fabric_fastpath_stats fp_seen; /* counted into the metrics already */
	struct wf_agent_facts *facts;		 /* the agent's: the proxy's pod_notrack */
};

static int fabric_init(const struct wf_agent_config *cfg, struct wf_metrics *metrics,
		       void **ret_state)
{
	struct wf_fabric_backend *be;
	int ret;

	struct fabric_rec *fr = wf_calloc(1, sizeof(*fr));
	if (!fr)
		return -ENOMEM;
	ret = wf_agent_fabric_backend_new(&be);
	if (ret < 0)
		goto err_fr;
	ret = wf_fabric_new(cfg->fabric, cfg->node_name, be, &fr->fabric);
	if (ret < 0)
		goto err_fr;
	ret = wf_fabric_set_fastpath(fr->fabric, cfg->fastpath_bridge);
	if (ret < 0)
		goto err_fabric;
	fr->logged_peers = (size_t)-1;
	fr->facts = cfg->facts;
	if (fr->facts)
		fr->facts->tunnel_port = cfg->fabric == WF_FABRIC_VXLAN ? WF_FABRIC_VXLAN_PORT : 0;
	fr->m_routes = wf_metrics_gauge(metrics, "weft_fabric_routes", NULL,
					"Routes to other nodes' podCIDRs the fabric wants");
	fr->m_peers = wf_metrics_gauge(metrics, "weft_fabric_peers", NULL,
				       "Other nodes the fabric routes to");
	fr->m_added = wf_metrics_counter(metrics, "weft_fabric_entries_added_total", NULL,
					 "Routes, neighbour and FDB entries added or replaced");
	fr->m_removed = wf_metrics_counter(metrics, "weft_fabric_entries_removed_total", NULL,
					   "Stale routes, neighbour and FDB entries removed");
	fr->m_mtu = wf_metrics_gauge(metrics, "weft_fabric_pod_mtu", NULL,
				     "The MTU pods on this node must use");
	fr->m_fastpath = wf_metrics_gauge(metrics, "weft_fabric_fastpath", NULL,
					  "1 when the eBPF fast path is installed");
	static const char fp_help[] = "Packets the eBPF fast path forwarded (from this node's pods "
				      "to other nodes, from other nodes to this node's pods); "
				      "updated at each sync";
	fr->m_fp_pods = wf_metrics_counter(metrics, "weft_fabric_fastpath_packets_total",
					   "direction=\"from_pods\"", fp_help);
	fr->m_fp_fabric = wf_metrics_counter(metrics, "weft_fabric_fastpath_packets_total",
					     "direction=\"from_fabric\"", fp_help);
	*ret_state = fr;
	return 0;
err_fabric:
	wf_fabric_free(fr->fabric);
err_fr:
	wf_free(fr);
	return ret;
}

static int fabric_sync(void *state, const struct wf_store_snapshot *snap, char *err, size_t errlen)
{
	struct fabric_rec *fr = state;
	const struct wf_k8s_object **objs = NULL;
	struct wf_fabric_stats before, after;
	int ret;

	ssize_t n = wf_store_list(snap, WF_K8S_NODE, NULL, &objs);
	if (n < 0)
		return (int)n;
	struct wf_fabric_node *nodes = wf_calloc(n ? (size_t)n : 1, sizeof(*nodes));
	if (!nodes) {
		wf_free(objs);
		return -ENOMEM;
	}
	for (ssize_t i = 0; i < n; i++)
		wf_fabric_node_from_k8s(objs[i], &nodes[i]);
	wf_fabric_get_stats(fr->fabric, &before);
	wf_fabric_set_pod_notrack(fr->fabric, fr->facts && fr->facts->pod_notrack);
	ret = wf_fabric_sync(fr->fabric, nodes, (size_t)n);
	wf_fabric_get_stats(fr->fabric, &after);
	if (ret < 0)
		snprintf(err, errlen, "%s", wf_fabric_error(fr->fabric));

	uint64_t added = after.added - before.added, removed = after.removed - before.removed;
	wf_metric_set(fr->m_routes, 0, (int64_t)after.routes);
	wf_metric_set(fr->m_peers, 0, (int64_t)after.peers);
	wf_metric_add(fr->m_added, 0, added);
	wf_metric_add(fr->m_removed, 0, removed);
	wf_metric_set(fr->m_fastpath, 0, after.fastpath);
	struct wf_fabric_fastpath_stats fp;
	if (wf_fabric_fastpath_stats(fr->fabric, &fp) == 0) {
		/* the kernel's counters restart when the programs are reloaded */
		if (fp.from_pods >= fr->fp_seen.from_pods)
			wf_metric_add(fr->m_fp_pods, 0, fp.from_pods - fr->fp_seen.from_pods);
		if (fp.from_fabric >= fr->fp_seen.from_fabric)
			wf_metric_add(fr->m_fp_fabric, 0, fp.from_fabric - fr->fp_seen.from_fabric);
		fr->fp_seen = fp;
	}
	unsigned mtu = wf_fabric_pod_mtu(fr->fabric);
	wf_metric_set(fr->m_mtu, 0, mtu);
	if (ret == 0 && (added || removed || after.peers != fr->logged_peers)) {
		wf_log_info("fabric", "routes updated",
			    "peers=%zu routes=%zu added=%llu removed=%llu", after.peers,
			    after.routes, (unsigned long long)added, (unsigned long long)removed);
		fr->logged_peers = after.peers;
	}
	if (mtu && mtu != fr->logged_mtu) {
		wf_log_info("fabric", "pod MTU", "mtu=%u", mtu);
		fr->logged_mtu = mtu;
	}
	wf_free(nodes);
	wf_free(objs);
	return ret;
}

static void fabric_done(void *state)
{
	struct fabric_rec *fr = state;
	if (!fr)
		return;
	wf_fabric_free(fr->fabric);
	wf_free(fr);
}

const struct wf_agent_reconciler_ops wf_agent_fabric_reconciler = {
	.name = "fabric",
	.init = fabric_init,
	.sync = fabric_sync,
	.done = fabric_done,
};
