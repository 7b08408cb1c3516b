/* Layer-2 announcement of LoadBalancer addresses (as MetalLB's layer-2 mode and Cilium's L2
 * announcements do): for every LoadBalancer IP that weft's LB IPAM allocated, exactly one node
 * makes the kernel answer ARP for it on its underlay interface, so that hosts on the underlay
 * reach the Service without a route. The owner is chosen by rendezvous hashing of the Service
 * key over the eligible nodes - every node for externalTrafficPolicy Cluster, the nodes with a
 * ready local endpoint for Local - so every agent computes the same owner from its snapshot and
 * no coordination is needed. docs/internals/l2announce.md.
 *
 * Thread context: the reconciler runs on the agent's loop thread; the pure functions are
 * thread-safe. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/agent-types.h"
#include "agent/l2announce-types.h"

struct wf_store_snapshot;

/* Rendezvous (highest random weight) score of node for service ("ns/name"): FNV-1a over both
 * names, finished by a 64-bit mixer. The same on every node and every run (no per-process seed). */
uint64_t wf_l2announce_score(const char *service, const char *node);
/* Index of the owner among nodes[0..n) (borrowed), or -1 when n is 0. Independent of the
 * order of nodes; removing a node moves only the services it owned. */
ssize_t wf_l2announce_owner(const char *service, const char *const *nodes, size_t n);
/* The LoadBalancer addresses node must answer for in snap (borrowed; the result borrows from
 * it): IPv4 status.loadBalancer.ingress[].ip of LoadBalancer Services without
 * loadBalancerClass that carry WF_L2ANNOUNCE_POOL_ANNOTATION, owned by node. *ret is a new
 * array (wf_free; NULL when empty). Returns the count or -ENOMEM. */
ssize_t wf_l2announce_plan(const struct wf_store_snapshot *snap, const char *node,
			   struct wf_l2announce_want **ret);

/* Backends. The kernel's works in the calling thread's network namespace. */
int wf_l2announce_nl_new(struct wf_l2announce_backend **ret);
int wf_l2announce_fake_new(struct wf_l2announce_backend **ret);
/* The fake's state: addresses installed (in ret, up to max; returns the count) and GARPs
 * sent so far. */
size_t wf_l2announce_fake_addrs(struct wf_l2announce_backend *be, struct wf_ip *ret, size_t max);
unsigned long wf_l2announce_fake_garps(struct wf_l2announce_backend *be);

/* The backend the reconciler creates: wf_l2announce_nl_new unless a test sets another. */
extern int (*wf_l2announce_backend_new)(struct wf_l2announce_backend **ret);
/* The announcer as an agent reconciler ("l2announce"). */
extern const struct wf_agent_reconciler_ops wf_l2announce_reconciler;
