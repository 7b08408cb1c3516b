/* Internal to src/proxy: how the model maps onto weft's nftables table. Shared by the text
 * renderer (render.c) and the netlink writer (nft.c and nft-ops.c) so that both always agree
 * on set names, element keys and data. See docs/services.md for the drawing.
 *
 * The table is fixed rules over data: every Service lives only in set and map elements, so
 * that any change after the first load is element adds and deletes (the kernel never
 * re-validates rules for those). The rules depend only on the number of endpoint classes
 * (wf_proxy_plan_classes) and the affinity timeouts in use (wf_proxy_plan_timeouts).
 *
 * Thread context: pure functions over an immutable model. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/model-types.h"

#define WF_PROXY_TABLE "weft"
/* Set names are short ("lcls16-sctp6"); nft allows 256 bytes. */
#define WF_PROXY_NAME_MAX 64
/* Endpoint classes are created in steps of this many (1..K, K a multiple of it): a service
 * whose endpoint count exceeds K makes the table grow by a step, which is rare. */
#define WF_PROXY_CLASS_STEP 8
/* Longest element key or data in bytes: IPv6 . port . IPv6 (fwallow). */
#define WF_PROXY_KEY_MAX 40

/* The sets and maps of one (family, protocol); every key starts with "address . port", the
 * service key: a VIP (ClusterIP, externalIP, LB IP) and its port, or address 0 and a NodePort
 * (the rules look NodePorts up as `ip daddr & 0.0.0.0 . dport` behind `ip daddr @nodeips`). */
enum wf_proxy_set {
	WF_PROXY_SET_EPS,      /* map key . slot : endpoint . port, all endpoints (Cluster) */
	WF_PROXY_SET_LEPS,     /* map key . slot : endpoint . port, this node's endpoints */
	WF_PROXY_SET_MASQ,     /* keys always masqueraded (external with eTP=Cluster) */
	WF_PROXY_SET_CMASQ,    /* keys masqueraded when the source is outside the cluster CIDRs */
	WF_PROXY_SET_POLICY,   /* keys in FW, INTLOCAL or EXTLOCAL: one lookup gates those */
	WF_PROXY_SET_FW,       /* LB keys with loadBalancerSourceRanges */
	WF_PROXY_SET_FWALLOW,  /* key . source range: the allowed sources (interval) */
	WF_PROXY_SET_INTLOCAL, /* cluster keys with internalTrafficPolicy Local */
	WF_PROXY_SET_EXTLOCAL, /* external keys with externalTrafficPolicy Local */
	WF_PROXY_SET_NOEP,     /* keys without endpoints that reject */
	WF_PROXY_SET_EMPTY,    /* keys without endpoints: those not in NOEP are dropped (a
				* Local policy) */
	WF_PROXY_SET_AFF,      /* aff<T>: keys with ClientIP affinity of T seconds */
	WF_PROXY_SET_CLS,      /* cls<k>: keys dispatched over k endpoints of EPS */
	WF_PROXY_SET_LCLS,     /* lcls<k>: keys dispatched over k endpoints of LEPS */
	WF_PROXY_SET_HAIRPIN,  /* per family: endpoint . endpoint (a pod reaching itself) */
	WF_PROXY_SET_KEYS,     /* every key with endpoints: the dispatch chains' gate */
	WF_PROXY_SET_COUNT
};

/* One element of one set. */
struct wf_proxy_el {
	uint8_t set;   /* enum wf_proxy_set */
	uint8_t proto; /* IPPROTO_TCP/UDP/SCTP; 0 for HAIRPIN */
	uint8_t family;
	uint32_t n;	    /* CLS/LCLS: k; AFF: timeout in seconds */
	struct wf_ip addr;  /* key address; all-zero (with family set) for a NodePort */
	uint16_t port;	    /* key port */
	uint32_t slot;	    /* EPS/LEPS: 0..k-1 */
	struct wf_ip to;    /* EPS/LEPS: the endpoint */
	uint16_t to_port;   /* EPS/LEPS */
	struct wf_cidr src; /* FWALLOW */
};

typedef int (*wf_proxy_el_fn)(void *userdata, const struct wf_proxy_el *e);

uint8_t wf_proxy_ipproto(enum wf_k8s_protocol p);
/* "tcp", "udp", "sctp". */
const char *wf_proxy_ipproto_name(uint8_t proto);
/* The name of e's set ("eps-tcp4", "cls3-udp6", "aff600-tcp4", "hairpin4") into buf
 * (WF_PROXY_NAME_MAX). */
char *wf_proxy_el_set_name(const struct wf_proxy_el *e, char *buf);
/* e's key in the kernel's layout (each field padded to 32 bits; ports big-endian, slots
 * host-endian, as numgen writes them); for FWALLOW also the interval's end (key_end may be
 * NULL otherwise). Returns the key length (the same for the end). */
size_t wf_proxy_el_key(const struct wf_proxy_el *e, uint8_t *key, uint8_t *key_end);
/* e's data (EPS/LEPS: endpoint . port); returns its length, 0 for plain sets. */
size_t wf_proxy_el_data(const struct wf_proxy_el *e, uint8_t *data);
/* True for sets whose elements have data (maps). */
bool wf_proxy_set_is_map(enum wf_proxy_set set);
/* Whether the set or map called name is one whose elements the plan writes (a name
 * wf_proxy_el_set_name gives), not one of the node's address sets nor a dynamic map. */
bool wf_proxy_plan_owns_set(const char *name);

/* Calls fn for every element s contributes, hairpin excepted (shared between services: see
 * wf_proxy_plan_hairpin): endpoints first, then attributes, then the class keys that make
 * the service reachable - so that a service whose elements are sent in that order is never
 * dispatched to a slot that is not there yet. Stops at and returns fn's first non-zero. */
int wf_proxy_svc_plan(const struct wf_proxy_model *m, const struct wf_proxy_svc *s,
		      wf_proxy_el_fn fn, void *userdata);
/* The hairpin elements of the whole model: every endpoint address of every service once. */
int wf_proxy_plan_hairpin(const struct wf_proxy_model *m, wf_proxy_el_fn fn, void *userdata);
/* Every element of the model: wf_proxy_svc_plan of each service, then the hairpin ones. */
int wf_proxy_plan_all(const struct wf_proxy_model *m, wf_proxy_el_fn fn, void *userdata);

/* K: class rules 1..K exist; the smallest multiple of WF_PROXY_CLASS_STEP that holds the
 * largest endpoint count of m. */
unsigned wf_proxy_plan_classes(const struct wf_proxy_model *m);
/* The distinct affinity timeouts of m, ascending, into out (at most cap); returns how many
 * there are (may exceed cap). */
size_t wf_proxy_plan_timeouts(const struct wf_proxy_model *m, uint32_t *out, size_t cap);
/* True when some of the cluster CIDRs are of family f. */
bool wf_proxy_has_cidr(const struct wf_proxy_model *m, int family);
