/* The service proxy's desired state: what the data plane must do on one node, computed from
 * Services, EndpointSlices and the node's identity (model.h). Pure data: no nftables, no
 * kernel. A backend (proxy.h) turns it into rules.
 *
 * Ownership: everything reachable from a struct wf_proxy_model lives in its arena and is valid
 * until wf_proxy_model_free(). A model is immutable once built; any thread may read it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ip-types.h"
#include "k8s/object-types.h"

/* Bit set in the packet mark when a connection must be masqueraded (the value kube-proxy uses,
 * so tooling that knows it keeps working). */
#define WF_PROXY_MASQ_MARK 0x4000u

/* Services labelled with a service-proxy-name other than ours are someone else's (docs:
 * "Virtual IPs and Service Proxies"); headless-labelled ones have no VIP at all. */
#define WF_PROXY_LABEL_PROXY_NAME "service.kubernetes.io/service-proxy-name"
#define WF_PROXY_LABEL_HEADLESS "service.kubernetes.io/headless"

enum wf_proxy_vip_kind {
	WF_PROXY_VIP_CLUSTER,  /* spec.clusterIPs: in-cluster traffic */
	WF_PROXY_VIP_EXTERNAL, /* spec.externalIPs: external traffic */
	WF_PROXY_VIP_LB,       /* status.loadBalancer.ingress[].ip: external traffic */
};

struct wf_proxy_vip {
	struct wf_ip ip;
	enum wf_proxy_vip_kind kind;
};

struct wf_proxy_endpoint {
	struct wf_ip ip;
	uint16_t port; /* resolved per endpoint from the EndpointSlice (named targetPorts) */
	bool local;    /* EndpointSlice nodeName is this node */
};

/* What traffic meets when a scope has no endpoint to go to. */
enum wf_proxy_empty {
	WF_PROXY_EMPTY_REJECT, /* TCP RST / ICMP port unreachable (no endpoints at all) */
	WF_PROXY_EMPTY_DROP,   /* a Local traffic policy with no local endpoints */
};

/* One Service port in one IP family: the unit the data plane is made of. */
struct wf_proxy_svc {
	const char *id;	       /* "namespace/name/proto/port": stable, unique per family */
	const char *namespace; /* borrowed from the model's arena */
	const char *name;
	const char *port_name; /* "" for an unnamed port */
	int family;	       /* AF_INET or AF_INET6 */
	enum wf_k8s_protocol protocol;
	uint16_t port;
	uint16_t node_port; /* 0 = none (ClusterIP, or allocateLoadBalancerNodePorts false) */
	size_t n_vips;	    /* cluster IP first, then externalIPs, then LB ingress IPs */
	struct wf_proxy_vip *vips;
	bool external_local;	   /* externalTrafficPolicy: Local */
	bool internal_local;	   /* internalTrafficPolicy: Local */
	uint32_t affinity_timeout; /* seconds of ClientIP affinity; 0 = none */
	size_t n_source_ranges;	   /* loadBalancerSourceRanges of this family */
	struct wf_cidr *source_ranges;
	uint16_t health_check_node_port; /* LB with externalTrafficPolicy Local; 0 = none */
	/* Endpoints for traffic with Cluster scope: ready ones (topology-filtered), else serving
	 * and terminating ones. Sorted by address and port, no duplicates. */
	size_t n_eps;
	struct wf_proxy_endpoint *eps;
	/* The same rule applied to this node's endpoints only (Local policies, healthz). */
	size_t n_local_eps;
	struct wf_proxy_endpoint *local_eps;
	/* Ready local endpoints, as /healthz counts them (terminating ones do not count,
	 * KEP-1669). */
	size_t n_local_ready;
};

/* Who this node is and how the cluster is shaped. Strings and arrays are borrowed for the
 * duration of wf_proxy_model_build(). */
struct wf_proxy_config {
	const char *node_name;	/* matched against EndpointSlice nodeName; NULL = none local */
	const char *zone;	/* topology zone; NULL = taken from the Node object, if any */
	const char *proxy_name; /* our service-proxy-name; NULL: only unlabelled Services */
	size_t n_node_ips;	/* NodePort addresses; none = the Node's InternalIP/ExternalIPs */
	const struct wf_ip *node_ips;
	size_t n_cluster_cidrs; /* pod CIDRs of the cluster: sources outside are masqueraded */
	const struct wf_cidr *cluster_cidrs;
	bool masquerade_all; /* masquerade every service connection */
	/* Pod-to-pod TCP and UDP skips conntrack (docs/services.md, "Pod traffic without
	 * conntrack"): set while the socket-level load balancer carries pods' Service traffic. */
	bool pod_notrack;
	/* The node's own addresses (all its links'; those inside the cluster CIDRs matter): with
	 * pod_notrack, traffic to them stays tracked. The first address of each of the node's
	 * podCIDRs (the pods' gateway, weft-ipam's and host-local's default) is added anyway,
	 * before a first pod has put it on the bridge. */
	size_t n_local_addrs;
	const struct wf_ip *local_addrs;
	/* The fabric's tunnel port (VXLAN), 0 for none: with pod_notrack, the encapsulated pod
	 * traffic between nodes skips conntrack as the pod traffic inside it does. */
	uint16_t tunnel_port;
};

struct wf_proxy_model {
	size_t n_svcs; /* sorted by (family, id) */
	struct wf_proxy_svc *svcs;
	size_t n_node_ips;
	struct wf_ip *node_ips;
	size_t n_cluster_cidrs;
	struct wf_cidr *cluster_cidrs;
	bool masquerade_all;
	bool pod_notrack;
	/* With pod_notrack: the node's addresses inside the cluster CIDRs (sorted, unique), to
	 * which traffic stays tracked (replies to what this node masquerades come there). */
	size_t n_node_pod_addrs;
	struct wf_ip *node_pod_addrs;
	uint16_t tunnel_port; /* with pod_notrack */
	size_t n_ignored;     /* Services with nothing to program (headless, ExternalName, ...) */
	/* private */
	struct wf_arena *arena;
	const char *zone; /* the topology zone the build used (updates reuse it) */
	/* What plan.c's class count and affinity timeouts read, kept as services come and go so
	 * that a delta need not walk the model: eps_hist[k] = service ports whose larger
	 * endpoint list has k entries; touts = (timeout, ports with it and endpoints). A model
	 * without them (eps_hist NULL) is walked. */
	size_t *eps_hist, cap_hist, max_eps;
	struct wf_proxy_tout_count *touts;
	size_t n_touts, cap_touts;
	struct wf_hash *recs; /* "ns/name" -> Services rebuilt by updates, and ignored ones */
	size_t cap_svcs;
};

struct wf_proxy_tout_count {
	uint32_t timeout;
	size_t n;
};

/* One Service as wf_proxy_model_update() takes it: what the store holds for it now. */
struct wf_proxy_service_input {
	const char *namespace, *name;
	const struct wf_k8s_object *service;	   /* NULL: the Service is gone */
	const struct wf_k8s_object *const *slices; /* its EndpointSlices */
	size_t n_slices;
};

/* One service port that an update changed: the entry before (has_old) and after (has_new).
 * Both are valid until wf_proxy_model_delta_done(). */
struct wf_proxy_svc_change {
	struct wf_proxy_svc old, new;
	bool has_old, has_new;
};

struct wf_proxy_model_delta {
	size_t n;
	struct wf_proxy_svc_change *v;
	/* private */
	size_t cap;
	struct wf_arena **retired; /* the replaced Services' memory, freed by _done */
	size_t n_retired, cap_retired;
};
