/* The fabric: pod-to-pod routing between nodes, as a VXLAN overlay or as direct routes
 * (host-gw). Level-triggered: wf_fabric_sync() computes the desired routes, neighbour and FDB
 * entries from the list of nodes, reads what is installed (entries carrying the weft marker,
 * WF_FABRIC_RTPROT), and applies the difference. Nothing else on the node is touched.
 *
 * Thread context: a struct wf_fabric belongs to one thread (the agent's loop). */
#pragma once
#include <stddef.h>

#include "fabric/fabric-types.h"
#include "k8s/object-types.h"

/* Creates a fabric for node node_name (copied). Takes be (freed by wf_fabric_free, also on
 * failure). Returns 0 or -ENOMEM. */
int wf_fabric_new(enum wf_fabric_mode mode, const char *node_name, struct wf_fabric_backend *be,
		  struct wf_fabric **ret);
/* Frees the fabric and its backend. The data plane stays as it is (it must survive an agent
 * restart). Takes NULL. */
void wf_fabric_free(struct wf_fabric *f);

/* Wants the eBPF fast path (docs/internals/fabric.md "Fast path") for pods attached to bridge
 * (copied), or not (NULL: it is removed on the next sync, also when an earlier agent installed
 * it). Takes effect at the next wf_fabric_sync(). Off by default. Returns 0 or -ENOMEM. */
int wf_fabric_set_fastpath(struct wf_fabric *f, const char *bridge);
/* Tells the fast path that the service proxy keeps pod-to-pod traffic out of conntrack (the
 * proxy's pod_notrack), so that such flows, which have no conntrack entry, are forwarded too.
 * Takes effect at the next sync. */
void wf_fabric_set_pod_notrack(struct wf_fabric *f, bool on);
/* Packets the fast path forwarded (zeros when it is not installed). Returns 0 or -errno. */
int wf_fabric_fastpath_stats(struct wf_fabric *f, struct wf_fabric_fastpath_stats *ret);

/* Brings the data plane to the state nodes[] (borrowed) asks for. Entries are applied one by
 * one; a failed entry does not stop the others, and the next sync converges. Returns 0, or the
 * first error (-errno or -WF_E_*), described by wf_fabric_error(). Problems that a retry cannot
 * fix (a node without an address of the right family, overlapping podCIDRs) are logged once
 * as warnings and do not make the sync fail. */
int wf_fabric_sync(struct wf_fabric *f, const struct wf_fabric_node *nodes, size_t n_nodes);
/* Text of the last sync's error ("" after a successful one); valid until the next sync. */
const char *wf_fabric_error(const struct wf_fabric *f);
void wf_fabric_get_stats(const struct wf_fabric *f, struct wf_fabric_stats *ret);
/* The MTU pods must use on this node: the VXLAN device's MTU, or the underlay's for host-gw.
 * 0 before the first successful sync. */
unsigned wf_fabric_pod_mtu(const struct wf_fabric *f);

/* Parses "vxlan" / "host-gw". Returns 0 or -EINVAL. */
int wf_fabric_mode_parse(const char *s, enum wf_fabric_mode *ret);
const char *wf_fabric_mode_name(enum wf_fabric_mode mode);

/* The VTEP MAC of the node whose underlay address is ip: locally administered, unicast,
 * 0e:57 followed by the IPv4 address (or a hash of the IPv6 one). Every node computes every
 * other node's MAC, so no annotation has to carry it. */
void wf_fabric_vtep_mac(const struct wf_ip *ip, uint8_t ret[6]);

/* Fills *ret from a Node object (borrowing its strings): InternalIP addresses per family and
 * podCIDRs (at most one per family; further ones are ignored). Returns 0 or -EINVAL when obj
 * is not a Node. */
int wf_fabric_node_from_k8s(const struct wf_k8s_object *obj, struct wf_fabric_node *ret);

/* Releases the arrays of a state; leaves it empty. */
void wf_fabric_state_done(struct wf_fabric_state *s);
/* Appends one entry (copied). 0 or -ENOMEM. */
int wf_fabric_state_add_route(struct wf_fabric_state *s, const struct wf_fabric_route *r);
int wf_fabric_state_add_neigh(struct wf_fabric_state *s, const struct wf_fabric_neigh *n);
int wf_fabric_state_add_fdb(struct wf_fabric_state *s, const struct wf_fabric_fdb *e);

/* Backends. Each returns 0 and a backend for wf_fabric_new(), or -errno. */
/* The kernel, over rtnetlink, in the current network namespace. */
int wf_fabric_nl_new(struct wf_fabric_backend **ret);
