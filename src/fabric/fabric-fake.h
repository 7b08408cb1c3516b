/* A fake fabric data plane for unit tests: keeps installed entries in memory, behaves like the
 * kernel where it matters (host-gw gateways must be on-link: -ENETUNREACH otherwise; removing
 * the VXLAN device drops its routes, neighbours and FDB entries), counts operations and can
 * fail the Nth one. Tests read and preset its fields directly.
 *
 * Thread context: one thread. */
#pragma once
#include "fabric/fabric-types.h"

#define WF_FABRIC_FAKE_MAX_LINKS 4

struct wf_fabric_fake {
	struct wf_fabric_backend be; /* first: what wf_fabric_new() takes */
	struct wf_fabric_state installed;
	/* The underlay: addresses the node holds, with the on-link prefix of each. */
	size_t n_links;
	struct {
		struct wf_cidr addr;
		int ifindex;
		unsigned mtu;
	} links[WF_FABRIC_FAKE_MAX_LINKS];
	bool has_vxlan;
	struct wf_fabric_vxlan vxlan;
	int vxlan_ifindex;	 /* changes each time the device is created */
	unsigned vxlan_created;	 /* creations (including re-creations) */
	unsigned replaces, dels; /* entry operations */
	bool forwarding4, forwarding6;
	unsigned long fail_at; /* make the Nth entry operation from now fail (1 = next) */
	int fail_err;	       /* with this error (default -EIO) */
	unsigned long ops_seen;
	/* The fast path: what the last call asked for (CIDRs copied), or absent. */
	bool fastpath;
	int fastpath_err; /* returned (with "injected") by every fastpath call when set */
	unsigned fastpath_calls;
	char fastpath_bridge[16];
	int fastpath_link;
	size_t fastpath_n_local, fastpath_n_remote;
	struct wf_cidr fastpath_local[WF_FABRIC_MAX_CIDRS];
	struct wf_cidr fastpath_remote[16];
};

/* A new fake (all zero, no links). Returns 0 or -ENOMEM. The fake is freed by
 * wf_fabric_free() of the fabric that takes it. */
int wf_fabric_fake_new(struct wf_fabric_fake **ret);
/* Adds an underlay address addr/prefix on link ifindex with the given MTU. */
void wf_fabric_fake_add_link(struct wf_fabric_fake *fk, const char *cidr, int ifindex,
			     unsigned mtu);
