/* The fabric: types. Functions are in fabric.h; the design is in docs/internals/fabric.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ip-types.h"

enum wf_fabric_mode {
	WF_FABRIC_VXLAN,   /* overlay: one VXLAN device, per-node VTEP MAC, FDB + neighbour */
	WF_FABRIC_HOST_GW, /* direct routes: podCIDR via the node's InternalIP (L2 adjacency) */
};

/* Routes, neighbours and FDB entries weft installs carry this marker: rtm_protocol for routes,
 * NDA_PROTOCOL for neighbour and FDB entries. It lets a restarted agent tell its own entries
 * from everyone else's and remove stale ones without flushing. (87 = 'W'; unused in
 * /etc/iproute2/rt_protos.) */
#define WF_FABRIC_RTPROT 87

#define WF_FABRIC_VXLAN_NAME "weft.vxlan"
#define WF_FABRIC_VXLAN_VNI 1
#define WF_FABRIC_VXLAN_PORT 8472 /* Flannel's; the Linux default before RFC 7348 */
/* Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 (RFC 7348 5); IPv6 adds 20. */
#define WF_FABRIC_VXLAN_OVERHEAD4 50
#define WF_FABRIC_VXLAN_OVERHEAD6 70

#define WF_FABRIC_MAX_CIDRS 2 /* dual-stack: one IPv4 and one IPv6 podCIDR */

/* What the fabric needs to know about one node (from a Node object). */
struct wf_fabric_node {
	const char *name;   /* borrowed */
	struct wf_ip ip4;   /* InternalIP (IPv4); family 0 when the node has none */
	struct wf_ip ip6;   /* InternalIP (IPv6); family 0 when the node has none */
	size_t n_pod_cidrs; /* spec.podCIDRs, at most one per family */
	struct wf_cidr pod_cidrs[WF_FABRIC_MAX_CIDRS];
};

/* One route the fabric owns: dst via gw (dev oif, onlink for the overlay). */
struct wf_fabric_route {
	struct wf_cidr dst;
	struct wf_ip gw;
	int oif; /* 0: let the kernel pick (host-gw) */
	bool onlink;
};

/* A permanent neighbour entry on the VXLAN device: remote gateway address -> remote VTEP MAC. */
struct wf_fabric_neigh {
	struct wf_ip ip;
	uint8_t mac[6];
	int ifindex;
};

/* A forwarding database entry on the VXLAN device: remote VTEP MAC -> remote underlay IP. */
struct wf_fabric_fdb {
	uint8_t mac[6];
	struct wf_ip dst;
	int ifindex;
};

/* A set of entries: what is installed (as the backend reports it) or what is wanted. */
struct wf_fabric_state {
	size_t n_routes, n_neighs, n_fdbs;
	struct wf_fabric_route *routes;
	struct wf_fabric_neigh *neighs;
	struct wf_fabric_fdb *fdbs;
};

/* The VXLAN device the overlay wants. */
struct wf_fabric_vxlan {
	uint32_t vni;
	uint16_t port;
	struct wf_ip local; /* the node's underlay address */
	int underlay;	    /* ifindex holding local */
	unsigned mtu;	    /* underlay MTU minus the encapsulation */
	uint8_t mac[6];	    /* derived from local (wf_fabric_vtep_mac) */
};

/* The eBPF fast path (bpf/fabric-fastpath.bpf.c, docs/internals/fabric.md "Fast path"): what
 * the fabric wants on this node. IPv4 only; IPv6 always takes the kernel's forwarding path. */
struct wf_fabric_fastpath {
	const char *bridge; /* the pods' bridge: its ports get the from-pod program; borrowed */
	int fabric_link;    /* ifindex other nodes' pod traffic arrives on (underlay or VXLAN) */
	size_t n_local, n_remote;
	const struct wf_cidr *local;  /* this node's IPv4 podCIDRs; borrowed */
	const struct wf_cidr *remote; /* other nodes' IPv4 podCIDRs; borrowed */
	/* The service proxy keeps pod-to-pod traffic out of conntrack: a pod-to-pod flow without
	 * a conntrack entry is plain too (docs/fabric.md, "Fast path"). */
	bool pod_notrack;
};

/* Packets the fast path forwarded, per direction. */
struct wf_fabric_fastpath_stats {
	uint64_t from_pods;   /* pod -> another node */
	uint64_t from_fabric; /* another node -> pod */
};

struct wf_fabric_backend;

/* A data plane. Every function returns 0 or -errno. Entries passed in are borrowed. */
struct wf_fabric_ops {
	const char *name;
	/* Finds the link holding address ip: its ifindex and MTU. -EADDRNOTAVAIL when none. */
	int (*underlay)(struct wf_fabric_backend *be, const struct wf_ip *ip, int *ret_ifindex,
			unsigned *ret_mtu);
	/* Makes the VXLAN device exist, up, exactly as described (recreating it when its VNI,
	 * port, local address or MAC differ; changing the MTU in place). Returns its ifindex. */
	int (*vxlan_ensure)(struct wf_fabric_backend *be, const struct wf_fabric_vxlan *vx,
			    int *ret_ifindex);
	/* Removes the VXLAN device; 0 when there is none. */
	int (*vxlan_remove)(struct wf_fabric_backend *be);
	/* Reads what is installed: routes with protocol WF_FABRIC_RTPROT in the main table, and
	 * the permanent neighbour and FDB entries on the VXLAN device (if it exists). Fills *ret
	 * (release with wf_fabric_state_done). */
	int (*dump)(struct wf_fabric_backend *be, struct wf_fabric_state *ret);
	/* Add or replace (the key is dst, ip, mac respectively). */
	int (*route_replace)(struct wf_fabric_backend *be, const struct wf_fabric_route *r);
	int (*route_del)(struct wf_fabric_backend *be, const struct wf_fabric_route *r);
	int (*neigh_replace)(struct wf_fabric_backend *be, const struct wf_fabric_neigh *n);
	int (*neigh_del)(struct wf_fabric_backend *be, const struct wf_fabric_neigh *n);
	int (*fdb_replace)(struct wf_fabric_backend *be, const struct wf_fabric_fdb *f);
	int (*fdb_del)(struct wf_fabric_backend *be, const struct wf_fabric_fdb *f);
	/* Sets a sysctl-like switch the fabric needs (IPv4/IPv6 forwarding). */
	int (*forwarding)(struct wf_fabric_backend *be, int family);
	/* Installs the fast path as fp describes (idempotent; new bridge ports are picked up on
	 * the next call), or removes it when fp is NULL. -EOPNOTSUPP when this build or kernel
	 * cannot, with the reason in err (errlen bytes). On any failure the kernel's forwarding
	 * path carries everything; nothing half-installed can divert traffic. */
	int (*fastpath)(struct wf_fabric_backend *be, const struct wf_fabric_fastpath *fp,
			char *err, size_t errlen);
	/* Adds up the fast path's packet counters (zero when it is not installed). */
	int (*fastpath_stats)(struct wf_fabric_backend *be, struct wf_fabric_fastpath_stats *ret);
	void (*free)(struct wf_fabric_backend *be);
};

/* Embedded first in every backend's own struct. */
struct wf_fabric_backend {
	const struct wf_fabric_ops *ops;
};

/* Counters of one wf_fabric (metrics, tests). */
struct wf_fabric_stats {
	uint64_t syncs;
	uint64_t sync_errors;
	uint64_t added; /* entries added or replaced */
	uint64_t removed;
	size_t routes; /* installed after the last sync */
	size_t peers;  /* other nodes routed to */
	bool fastpath; /* the eBPF fast path is installed */
};

struct wf_fabric;
