/* The node agent: types. Functions are in agent.h; the reconciler contract is described in
 * docs/internals/agent-reconciler.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/fabric-types.h"
#include "k8s/store-types.h"

struct wf_metrics;
struct wf_agent;

/* What the agent was started with (wf_agent_main parses it from the command line). Strings are
 * borrowed for the agent's lifetime. */
/* What one reconciler learns that another needs, owned by the agent (wf_agent_new points
 * wf_agent_config.facts at it) and read and written on the loop thread only. */
struct wf_agent_facts {
	/* The proxy keeps pod-to-pod traffic out of conntrack (its socket-level balancer is
	 * attached, docs/services.md): the fabric's fast path forwards such untracked flows. */
	bool pod_notrack;
	/* The fabric's tunnel: the UDP port its VXLAN packets go to between nodes (0: no tunnel,
	 * host-gw). With pod_notrack the proxy keeps them out of conntrack too. */
	uint16_t tunnel_port;
};

struct wf_agent_config {
	const char *manifests; /* directory of manifests, or NULL */
	const char *node_name;
	enum wf_fabric_mode fabric;
	const char *fastpath_bridge;  /* the pods' bridge, for the fabric's eBPF fast path; NULL:
				      * no fast path (weft agent: cni0 unless --no-fastpath) */
	const char *admin;	      /* "ADDR:PORT" or NULL: no admin endpoint */
	const char *socket_lb_cgroup; /* the cgroup v2 directory the proxy's socket-level load
				       * balancer attaches to; NULL: none (weft agent: the
				       * cgroup2 root unless --no-socket-lb) */
	struct wf_agent_facts *facts; /* set by wf_agent_new; NULL when a test builds a
				       * reconciler alone */
	/* Timing (0: the defaults below). */
	uint64_t backoff_initial_ns; /* first retry after a failed sync */
	uint64_t backoff_max_ns;
	uint64_t resync_ns; /* periodic full sync, repairing drift */
};

#define WF_AGENT_BACKOFF_INITIAL_NS (1000ULL * 1000 * 1000)
#define WF_AGENT_BACKOFF_MAX_NS (30ULL * 1000 * 1000 * 1000)
#define WF_AGENT_RESYNC_NS (60ULL * 1000 * 1000 * 1000)
#define WF_AGENT_ADMIN_DEFAULT "127.0.0.1:9402"
#define WF_AGENT_POD_BRIDGE_DEFAULT "cni0" /* weft-cni's default bridge */

/* A reconciler: one data plane driven from store snapshots. Every callback runs on the agent's
 * loop thread. See docs/internals/agent-reconciler.md. */
struct wf_agent_reconciler_ops {
	const char *name; /* "fabric", "proxy", ...: logs and metric labels */
	/* Creates the reconciler's state (*ret_state). metrics may be used to register the
	 * reconciler's own metrics (it outlives the state). Returns 0 or -errno; a failure stops
	 * the agent from starting. */
	int (*init)(const struct wf_agent_config *cfg, struct wf_metrics *metrics,
		    void **ret_state);
	/* Level-triggered: compute the desired state from snap (borrowed for the call), diff it
	 * against what is installed, apply the difference. Returns 0, or -errno / -WF_E_* with a
	 * one-line description in err (errlen bytes, NUL-terminated) - the agent then retries
	 * with backoff, so sync must converge when called again. */
	int (*sync)(void *state, const struct wf_store_snapshot *snap, char *err, size_t errlen);
	/* Optional: the changes of each committed store batch (events and snap borrowed for the
	 * call), before the sync they cause - so that sync can redo only what they touch. A
	 * reconciler that takes them must still converge from a sync with none (the first one,
	 * a retry, the periodic resync): such a sync is a full one. */
	void (*changes)(void *state, const struct wf_store_snapshot *snap,
			const struct wf_store_event *events, size_t n_events);
	/* Frees the state. Must leave the data plane in place: it survives an agent restart. */
	void (*done)(void *state);
};
