/* The service proxy's socket-level load balancer (docs/internals/proxy.md "Socket-LB"): eBPF
 * cgroup sock_addr programs (bpf/proxy-socklb.bpf.c) that rewrite a connect()/sendmsg() to a
 * Service address into one of its endpoints, and the maps that keep them equal to the proxy
 * model, beside the nft table (which keeps handling everything the programs leave alone).
 *
 * What the programs do for a locally originated connection is what the nft table does for it:
 * ClusterIPs (internalTrafficPolicy Local: this node's endpoints), externalIPs and LB ingress
 * IPs (all endpoints, whatever externalTrafficPolicy says: locally originated traffic is never
 * confined to local endpoints), NodePorts on this node's addresses; TCP and UDP. Not rewritten,
 * so left to the table: a scope with no endpoint (reject / drop), SCTP, LB IPs with
 * loadBalancerSourceRanges (the table's firewall decides).
 *
 * Thread context: a struct wf_socklb belongs to one thread (the agent's loop). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/model-types.h"

/* The maps' entries, as the programs read them (bpf/proxy-socklb.bpf.c struct wf_slb_*).
 * Addresses and ports in network byte order; IPv4 in addr[0] with the rest zero. */
struct wf_socklb_key {
	uint32_t addr[4];
	uint16_t port;
	uint8_t proto;	/* IPPROTO_TCP, IPPROTO_UDP */
	uint8_t family; /* 4 or 6 */
};

struct wf_socklb_svc {
	uint32_t id;	   /* the endpoint list's id */
	uint32_t count;	   /* slots 0..count-1 of that list are written; 0: no rewrite */
	uint32_t affinity; /* ClientIP affinity timeout in seconds; 0: none */
	uint32_t pad;
};

struct wf_socklb_ep_key {
	uint32_t id;
	uint32_t slot;
};

struct wf_socklb_ep {
	uint32_t addr[4];
	uint16_t port;
	uint16_t pad;
};

struct wf_socklb_config {
	uint32_t enabled; /* 0: the programs rewrite nothing */
};

enum wf_socklb_map {
	WF_SOCKLB_MAP_SERVICES, /* wf_socklb_key -> wf_socklb_svc */
	WF_SOCKLB_MAP_EPS,	/* wf_socklb_ep_key -> wf_socklb_ep */
	WF_SOCKLB_MAP_CONFIG,	/* uint32_t 0 -> wf_socklb_config */
	WF_SOCKLB_MAP_MAX,
};

/* Called by dump for each entry (key and value valid for the call); nonzero stops. */
typedef int (*wf_socklb_entry_fn)(void *ctx, const void *key, const void *value);

/* The seam between the sync logic and the kernel: the bpf(2) map calls, or a fake (tests).
 * Each returns 0 or -errno. clear empties a map whatever it holds (repair after a failure);
 * dump reads every entry (adopting the maps of programs attached by an earlier agent). */
struct wf_socklb_map_ops {
	int (*update)(void *ud, enum wf_socklb_map map, const void *key, const void *value);
	int (*remove)(void *ud, enum wf_socklb_map map, const void *key);
	int (*clear)(void *ud, enum wf_socklb_map map);
	int (*dump)(void *ud, enum wf_socklb_map map, wf_socklb_entry_fn fn, void *ctx);
};

struct wf_socklb_stats {
	unsigned long full_syncs;   /* wf_socklb_sync_full calls that succeeded */
	unsigned long change_syncs; /* wf_socklb_sync_changes calls that succeeded */
	unsigned long updates;	    /* map entries written */
	unsigned long removes;	    /* map entries deleted */
	unsigned long conflicts;    /* keys another service port holds (not taken) */
	unsigned long adopted;	    /* keys taken over from an earlier agent's maps */
	size_t keys, ids;	    /* service keys and endpoint lists installed */
	uint64_t last_sync_ns;	    /* duration of the last sync */
};

struct wf_socklb;

/* Loads the programs and attaches them to the cgroup v2 directory cgroup (and so to every
 * process in it and below), in place of any weft socket-LB programs attached there before (an
 * earlier agent's, replaced atomically) and beside anyone else's. When such programs are
 * there, their maps are reused (found by id, if their layout matches) and their content adopted
 * by the first full sync, which then writes only the differences: connections keep being
 * balanced through an agent restart. Otherwise the maps are new and the rewriting is off until
 * the first full sync. The programs stay attached after wf_socklb_free, as the nft table stays: a
 * restarting agent replaces them; removing the cgroup removes them. Returns 0 and *ret, or
 * -errno / -EOPNOTSUPP (no eBPF in this build or kernel) with a one-line reason in err. */
int wf_socklb_open(const char *cgroup, struct wf_socklb **ret, char *err, size_t errlen);
/* The same sync logic over ops (ud passed back): no kernel. adopt: the maps may hold an earlier
 * instance's entries, which the first full sync takes over (wf_socklb_open sets it when it
 * reuses maps). */
int wf_socklb_new(const struct wf_socklb_map_ops *ops, void *ud, bool adopt,
		  struct wf_socklb **ret);
/* Takes NULL. Leaves the programs attached (see wf_socklb_open). */
void wf_socklb_free(struct wf_socklb *s);

/* Makes the maps equal to m (borrowed for the call), writing only what differs from what was
 * installed last (or, the first time after adopting maps, from what they hold); after a failed
 * sync, empties the maps first. Returns 0 or -errno; after a
 * failure the rewriting is off (the nft table carries every connection) until a full sync
 * succeeds. */
int wf_socklb_sync_full(struct wf_socklb *s, const struct wf_proxy_model *m);
/* Applies the service ports that an update of m changed (wf_proxy_model_update's delta), in
 * O(their keys and endpoints). A port's endpoint slots are written before the count that
 * covers them and a count shrinks before its slots go, so a connect() never picks an empty
 * slot. Returns 0, -ESTALE when no full sync succeeded since the last failure (call
 * wf_socklb_sync_full), or -errno as above. */
int wf_socklb_sync_changes(struct wf_socklb *s, const struct wf_proxy_model *m,
			   const struct wf_proxy_svc_change *ch, size_t n);
/* True when the programs are attached (wf_socklb_open) and the maps equal the model of the
 * last successful sync: every connection the programs handle needs no DNAT. */
bool wf_socklb_active(const struct wf_socklb *s);
const struct wf_socklb_stats *wf_socklb_stats(const struct wf_socklb *s);
