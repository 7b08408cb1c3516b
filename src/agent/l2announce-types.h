/* Layer-2 announcement of LoadBalancer addresses: types. Functions are in l2announce.h;
 * docs/internals/l2announce.md. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/ip-types.h"

/* IFA_PROTO of the addresses the announcer installs: an agent adopts (and removes) exactly
 * these after a restart, and never touches an address someone else added. */
#define WF_L2ANNOUNCE_PROTO 87
/* Set by the LB IPAM that allocated status.loadBalancer.ingress (the lab's control plane): only
 * such addresses are announced, never one a cloud load balancer owns. */
#define WF_L2ANNOUNCE_POOL_ANNOTATION "weft.dev/ip-allocated-from-pool"

/* An address this node must answer for. */
struct wf_l2announce_want {
	struct wf_ip ip;
	const char *service; /* the object key ("Service/ns/name"), borrowed from the snapshot */
};

/* An address the announcer installed (found by its IFA_PROTO mark). */
struct wf_l2announce_addr {
	struct wf_ip ip;
	int ifindex;
};

/* The data plane, behind ops: the kernel's (l2announce-nl.c) or the fake (tests). */
struct wf_l2announce_backend;
struct wf_l2announce_backend_ops {
	/* The interface holding node_ip and the network it is on. Returns 0 or -errno
	 * (-EADDRNOTAVAIL when no interface has it). */
	int (*underlay)(struct wf_l2announce_backend *be, const struct wf_ip *node_ip,
			int *ret_ifindex, struct wf_cidr *ret_net);
	/* Every address carrying WF_L2ANNOUNCE_PROTO, in a new array (wf_free). Returns the count
	 * or -errno. */
	ssize_t (*list)(struct wf_l2announce_backend *be, struct wf_l2announce_addr **ret);
	/* Adds ip/32 (marked) to ifindex. -EEXIST when the address is there already. */
	int (*add)(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip);
	int (*del)(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip);
	/* Sends a gratuitous ARP for ip out of ifindex, so that neighbours' caches move to us. */
	int (*garp)(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip);
	void (*free)(struct wf_l2announce_backend *be);
};

struct wf_l2announce_backend {
	const struct wf_l2announce_backend_ops *ops;
};
