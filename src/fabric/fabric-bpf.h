/* The fabric's eBPF fast path, for the kernel backend (fabric-nl.c): loads
 * bpf/fabric-fastpath.bpf.c (embedded at build time) with libbpf, fills its maps and attaches
 * its programs at tc ingress of the fabric link and of every port of the pods' bridge.
 * docs/internals/fabric.md, "Fast path".
 *
 * Thread context: one thread (the agent's loop), like the backend that owns it. */
#pragma once
#include <stddef.h>

#include "fabric/fabric-types.h"

struct wf_fabric_bpf;
struct wf_mnl_session;

/* Brings the fast path to fp (borrowed): loads the programs on first use (*bp is then set; the
 * caller frees it with wf_fabric_bpf_free), writes the maps, attaches where missing. mnl is the
 * caller's rtnetlink session (links, bridge ports). Returns 0; -EOPNOTSUPP when this build
 * has no eBPF or the kernel refuses the programs; -ENODEV when the bridge does not exist yet
 * (no pod on the node); another -errno otherwise - with the reason in err. */
int wf_fabric_bpf_apply(struct wf_fabric_bpf **bp, struct wf_mnl_session *mnl,
			const struct wf_fabric_fastpath *fp, char *err, size_t errlen);
/* Detaches the fast path's programs from every link of the network namespace, also those a
 * previous agent attached. Returns 0 or -errno. */
int wf_fabric_bpf_remove(struct wf_fabric_bpf *b, struct wf_mnl_session *mnl);
/* Adds up the packet counters; zeros when b is NULL. */
int wf_fabric_bpf_stats(struct wf_fabric_bpf *b, struct wf_fabric_fastpath_stats *ret);
/* Releases the programs and maps held by this process; attached programs stay in the kernel
 * (they survive an agent restart, like the routes). Takes NULL. */
void wf_fabric_bpf_free(struct wf_fabric_bpf *b);
