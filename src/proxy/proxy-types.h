/* The service proxy engine and its data-plane backends: types. Functions are in proxy.h. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ip-types.h"
#include "proxy/model-types.h"

/* A conntrack cleanup order (services.md #20): delete UDP entries whose original destination
 * is dst:port and whose reply source is none of svc's endpoints - entries toward an endpoint
 * that went away, and entries that black-holed the VIP while it had no endpoints. */
struct wf_proxy_ct_filter {
	int family;
	uint8_t proto; /* IPPROTO_UDP (SCTP could join: its NAT is stateful too) */
	struct wf_ip dst;
	uint16_t port;
	const struct wf_proxy_svc *svc; /* borrowed from the model being installed */
};

/* What a backend did, for logs, metrics and tests. */
struct wf_proxy_stats {
	unsigned long full_loads;   /* full reconciles (first sync, restart, after a failure) */
	unsigned long block_loads;  /* table blocks (sets, maps, rules) written by libnftables */
	unsigned long nl_deltas;    /* deltas sent as element batches only (libnftnl) */
	unsigned long nl_messages;  /* netlink messages in element batches */
	unsigned long elements;	    /* elements added or deleted */
	unsigned long transactions; /* element transactions sent */
	unsigned long ct_deleted;   /* conntrack entries deleted */
	uint64_t last_apply_ns;	    /* duration of the last apply */
	uint64_t max_tx_ns;	    /* longest element transaction of the last apply (sendmsg
				     * until the kernel's answer: the kernel's time) */
};

/* A data-plane backend (STYLE.md "Every backend behind an ops struct"). All callbacks run on
 * the thread that owns the struct wf_proxy. Errors: -errno, or -WF_E_* with the backend's
 * message in the state (see proxy.h wf_proxy_error). */
struct wf_proxy_ops {
	const char *name; /* "nft", "fake" */
	int (*init)(void **ret_state);
	/* Makes the installed data plane equal to m in one transaction, whatever is installed
	 * (nothing, an earlier agent's table after a restart): never flushed first, so
	 * established connections and affinity survive. */
	int (*apply_full)(void *state, const struct wf_proxy_model *m);
	/* Applies the difference from old (what this state installed last) to m. */
	int (*apply_delta)(void *state, const struct wf_proxy_model *old,
			   const struct wf_proxy_model *m);
	/* Applies the service ports that changed in m, which was updated in place since it was
	 * installed (wf_proxy_model_update): in O(n), whatever m's size. */
	int (*apply_changes)(void *state, const struct wf_proxy_model *m,
			     const struct wf_proxy_svc_change *ch, size_t n);
	/* Deletes the conntrack entries the filters describe (m is the installed model). */
	int (*ct_flush)(void *state, const struct wf_proxy_ct_filter *f, size_t n);
	const struct wf_proxy_stats *(*stats)(void *state);
	/* Last error's description, or "". */
	const char *(*error)(void *state);
	void (*done)(void *state);
};
