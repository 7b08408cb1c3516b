/* Internal to src/proxy: how the model maps onto weft's nftables table. Shared by the text
 * renderer (render.c) and the netlink delta writer (nft.c) so that both always agree on names,
 * element keys and verdicts. See docs/services.md for the drawing.
 *
 * Thread context: pure functions over an immutable model. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/model-types.h"

#define WF_PROXY_TABLE "weft"
/* Chain and set names are "<kind><4|6>-<service id>"; nft allows 256 bytes. */
#define WF_PROXY_NAME_MAX 256

/* Global maps and sets, one per family. */
enum wf_proxy_gmap {
	WF_PROXY_GMAP_SERVICES,	 /* addr . proto . port : goto svc/ext/fw chain */
	WF_PROXY_GMAP_NODEPORTS, /* proto . port : goto ext chain (daddr in @nodeips) */
	WF_PROXY_GMAP_NOEP,	 /* addr . proto . port : goto reject | drop (filter hooks) */
	WF_PROXY_GMAP_NOEP_NP,	 /* proto . port : goto reject (daddr in @nodeips) */
	WF_PROXY_GMAP_HAIRPIN,	 /* set: endpoint . endpoint */
	WF_PROXY_GMAP_COUNT
};

enum wf_proxy_verdict {
	WF_PROXY_V_NONE, /* a set element */
	WF_PROXY_V_GOTO,
	WF_PROXY_V_JUMP,
	WF_PROXY_V_DROP,
};

struct wf_proxy_elem {
	enum wf_proxy_gmap map;
	int family;
	uint8_t proto; /* IPPROTO_TCP/UDP/SCTP */
	struct wf_ip addr;
	uint16_t port;
	enum wf_proxy_verdict verdict;
	char chain[WF_PROXY_NAME_MAX]; /* target of GOTO/JUMP */
};

/* Name of a global map or set for a family ("services4", ...). */
const char *wf_proxy_gmap_name(enum wf_proxy_gmap map, int family);
/* Writes "<kind><4|6>-<id>" into buf (WF_PROXY_NAME_MAX); kind is "svc", "ext", "fw", "lb"
 * or "llb" (chains). */
char *wf_proxy_obj_name(char *buf, const char *kind, const struct wf_proxy_svc *s);
/* Names of the per-endpoint objects of an affinity service: "<kind><4|6>-<id>/<ip>/<port>"
 * with ':' of IPv6 addresses written as '-'; kind is "ep" (chain) or "aff" (set). */
char *wf_proxy_ep_name(char *buf, const char *kind, const struct wf_proxy_svc *s,
		       const struct wf_proxy_endpoint *ep);
uint8_t wf_proxy_ipproto(enum wf_k8s_protocol p);

typedef int (*wf_proxy_elem_fn)(void *userdata, const struct wf_proxy_elem *e);
/* Calls fn for every element of the global maps that s contributes, except hairpin ones
 * (those are shared between services: see wf_proxy_hairpin_*). Stops at and returns the
 * first non-zero value fn returns. */
int wf_proxy_svc_elems(const struct wf_proxy_model *m, const struct wf_proxy_svc *s,
		       wf_proxy_elem_fn fn, void *userdata);

/* Which per-service chains and maps exist for s. */
struct wf_proxy_objs {
	bool ext; /* ext chain: externally reachable (NodePort, externalIP, LB) */
	bool fw;  /* fw chain: loadBalancerSourceRanges */
	bool llb; /* llb chain: a Local policy */
	bool aff; /* ClientIP affinity: an ep chain and an aff set per endpoint */
};
void wf_proxy_svc_objs(const struct wf_proxy_svc *s, struct wf_proxy_objs *ret);
/* True when some of the cluster CIDRs are of family f. */
bool wf_proxy_has_cidr(const struct wf_proxy_model *m, int family);
