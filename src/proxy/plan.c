/* How the model maps onto weft's nftables table (nft-plan.h): set names, the elements each
 * service contributes and their kernel layout. The one place where those decisions live. */
#include "proxy/nft-plan.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/ip.h"
#include "proxy/model.h"

static const char *const set_kind[WF_PROXY_SET_COUNT] = {
	[WF_PROXY_SET_EPS] = "eps",	      [WF_PROXY_SET_LEPS] = "leps",
	[WF_PROXY_SET_MASQ] = "masq",	      [WF_PROXY_SET_CMASQ] = "cmasq",
	[WF_PROXY_SET_POLICY] = "policy",     [WF_PROXY_SET_FW] = "fw",
	[WF_PROXY_SET_FWALLOW] = "fwallow",   [WF_PROXY_SET_INTLOCAL] = "intlocal",
	[WF_PROXY_SET_EXTLOCAL] = "extlocal", [WF_PROXY_SET_NOEP] = "noep",
	[WF_PROXY_SET_EMPTY] = "empty",	      [WF_PROXY_SET_AFF] = "aff",
	[WF_PROXY_SET_CLS] = "cls",	      [WF_PROXY_SET_LCLS] = "lcls",
	[WF_PROXY_SET_HAIRPIN] = "hairpin",   [WF_PROXY_SET_KEYS] = "keys",
};

uint8_t wf_proxy_ipproto(enum wf_k8s_protocol p)
{
	switch (p) {
	case WF_K8S_PROTO_UDP:
		return IPPROTO_UDP;
	case WF_K8S_PROTO_SCTP:
		return IPPROTO_SCTP;
	case WF_K8S_PROTO_TCP:
	default:
		return IPPROTO_TCP;
	}
}

const char *wf_proxy_ipproto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_SCTP ? "sctp" : "tcp";
}

bool wf_proxy_plan_owns_set(const char *name)
{
	for (int k = 0; k < WF_PROXY_SET_COUNT; k++) {
		size_t len = strlen(set_kind[k]);
		const char *rest = name + len;

		if (strncmp(name, set_kind[k], len))
			continue;
		if (k == WF_PROXY_SET_HAIRPIN) /* hairpin4, hairpin6 */
			return (rest[0] == '4' || rest[0] == '6') && !rest[1];
		if (k == WF_PROXY_SET_CLS || k == WF_PROXY_SET_LCLS || k == WF_PROXY_SET_AFF) {
			/* numbered: cls3-tcp4, aff10800-udp6 (the affinity map "aff-P" is not) */
			if (*rest < '0' || *rest > '9')
				continue;
			while (*rest >= '0' && *rest <= '9')
				rest++;
		}
		if (*rest == '-')
			return true;
	}
	return false;
}

bool wf_proxy_set_is_map(enum wf_proxy_set set)
{
	return set == WF_PROXY_SET_EPS || set == WF_PROXY_SET_LEPS;
}

char *wf_proxy_el_set_name(const struct wf_proxy_el *e, char *buf)
{
	char fc = e->family == AF_INET6 ? '6' : '4';

	if (e->set == WF_PROXY_SET_HAIRPIN)
		snprintf(buf, WF_PROXY_NAME_MAX, "hairpin%c", fc);
	else if (e->set == WF_PROXY_SET_CLS || e->set == WF_PROXY_SET_LCLS ||
		 e->set == WF_PROXY_SET_AFF)
		snprintf(buf, WF_PROXY_NAME_MAX, "%s%u-%s%c", set_kind[e->set], e->n,
			 wf_proxy_ipproto_name(e->proto), fc);
	else
		snprintf(buf, WF_PROXY_NAME_MAX, "%s-%s%c", set_kind[e->set],
			 wf_proxy_ipproto_name(e->proto), fc);
	return buf;
}

static size_t put_addr(uint8_t *k, const struct wf_ip *ip)
{
	size_t l = ip->family == AF_INET6 ? 16 : 4;

	memcpy(k, ip->addr, l);
	return l;
}

static size_t put_port(uint8_t *k, uint16_t port)
{
	k[0] = (uint8_t)(port >> 8);
	k[1] = (uint8_t)port;
	k[2] = k[3] = 0;
	return 4;
}

size_t wf_proxy_el_key(const struct wf_proxy_el *e, uint8_t *key, uint8_t *key_end)
{
	size_t n;

	memset(key, 0, WF_PROXY_KEY_MAX);
	if (e->set == WF_PROXY_SET_HAIRPIN) {
		n = put_addr(key, &e->addr);
		return n + put_addr(key + n, &e->addr);
	}
	n = put_addr(key, &e->addr);
	n += put_port(key + n, e->port);
	if (e->set == WF_PROXY_SET_EPS || e->set == WF_PROXY_SET_LEPS) {
		/* numgen's result is a host-endian u32 in its register */
		memcpy(key + n, &e->slot, 4);
		n += 4;
	} else if (e->set == WF_PROXY_SET_FWALLOW) {
		struct wf_ip last;

		if (key_end) {
			memcpy(key_end, key, n);
			wf_cidr_last(&e->src, &last);
			put_addr(key_end + n, &last);
		}
		n += put_addr(key + n, &e->src.ip);
	}
	return n;
}

size_t wf_proxy_el_data(const struct wf_proxy_el *e, uint8_t *data)
{
	size_t n;

	if (!wf_proxy_set_is_map(e->set))
		return 0;
	memset(data, 0, WF_PROXY_KEY_MAX);
	n = put_addr(data, &e->to);
	return n + put_port(data + n, e->to_port);
}

bool wf_proxy_has_cidr(const struct wf_proxy_model *m, int family)
{
	for (size_t i = 0; i < m->n_cluster_cidrs; i++)
		if (m->cluster_cidrs[i].ip.family == family)
			return true;
	return false;
}

/* One service key: a VIP or (addr all-zero) the NodePort. */
struct key {
	struct wf_ip addr;
	uint16_t port;
	bool cluster; /* a ClusterIP: in-cluster traffic */
	bool lb;      /* a LoadBalancer ingress IP */
};

struct emitter {
	const struct wf_proxy_model *m;
	const struct wf_proxy_svc *s;
	wf_proxy_el_fn fn;
	void *ud;
	struct wf_proxy_el e;
};

static int put(struct emitter *em, const struct key *k, enum wf_proxy_set set)
{
	em->e.set = (uint8_t)set;
	em->e.addr = k->addr;
	em->e.port = k->port;
	return em->fn(em->ud, &em->e);
}

static int put_eps(struct emitter *em, const struct key *k, enum wf_proxy_set set,
		   const struct wf_proxy_endpoint *eps, size_t n)
{
	int r = 0;

	for (size_t i = 0; !r && i < n; i++) {
		em->e.slot = (uint32_t)i;
		em->e.to = eps[i].ip;
		em->e.to_port = eps[i].port;
		r = put(em, k, set);
	}
	em->e.slot = 0;
	memset(&em->e.to, 0, sizeof(em->e.to));
	em->e.to_port = 0;
	return r;
}

static int put_class(struct emitter *em, const struct key *k, enum wf_proxy_set set, size_t n)
{
	int r;

	if (!n)
		return 0; /* no rule matches: the Local chain ends in drop */
	em->e.n = (uint32_t)n;
	r = put(em, k, set);
	em->e.n = 0;
	return r;
}

/* The elements of one key in one phase: 0 endpoints, 1 attributes, 2 classes. */
static int key_elems(struct emitter *em, const struct key *k, int phase)
{
	const struct wf_proxy_svc *s = em->s;
	/* Which scopes this key dispatches to: Cluster (all endpoints) and/or Local. */
	bool local = k->cluster ? s->internal_local : s->external_local;
	bool cluster = !k->cluster || !s->internal_local;
	bool fw = k->lb && s->n_source_ranges > 0;
	int r = 0;

	if (!s->n_eps) {
		/* No endpoints: reject at once (TCP RST / ICMP unreachable), except that a
		 * Local policy drops (kube-proxy; KEP-2086 for internal traffic). */
		if (phase != 1)
			return 0;
		r = put(em, k, WF_PROXY_SET_EMPTY);
		return r || local ? r : put(em, k, WF_PROXY_SET_NOEP);
	}
	switch (phase) {
	case 0:
		if (cluster)
			r = put_eps(em, k, WF_PROXY_SET_EPS, s->eps, s->n_eps);
		if (!r && local)
			r = put_eps(em, k, WF_PROXY_SET_LEPS, s->local_eps, s->n_local_eps);
		return r;
	case 1:
		if (k->cluster) {
			/* Masquerade in-cluster traffic from outside the cluster CIDRs (the
			 * node itself, hosts beyond), KEP-3866 "Masquerading". */
			if (em->m->masquerade_all)
				r = put(em, k, WF_PROXY_SET_MASQ);
			else if (!local && wf_proxy_has_cidr(em->m, s->family))
				r = put(em, k, WF_PROXY_SET_CMASQ);
			if (!r && local)
				r = put(em, k, WF_PROXY_SET_INTLOCAL);
		} else if (local) {
			/* Pods and the node itself reaching an eTP=Local service take all
			 * endpoints (docs "externalTrafficPolicy"); only traffic from beyond
			 * keeps its source and needs a local endpoint. */
			r = put(em, k, WF_PROXY_SET_EXTLOCAL);
		} else {
			r = put(em, k, WF_PROXY_SET_MASQ);
		}
		if (!r && (fw || local))
			r = put(em, k, WF_PROXY_SET_POLICY);
		/* kube-proxy filters only traffic addressed to the LB IP by source range,
		 * not NodePort traffic (KEP-3866 "firewall"). */
		if (!r && fw)
			r = put(em, k, WF_PROXY_SET_FW);
		for (size_t i = 0; !r && fw && i < s->n_source_ranges; i++) {
			em->e.src = s->source_ranges[i];
			r = put(em, k, WF_PROXY_SET_FWALLOW);
		}
		memset(&em->e.src, 0, sizeof(em->e.src));
		if (!r && s->affinity_timeout) {
			em->e.n = s->affinity_timeout;
			r = put(em, k, WF_PROXY_SET_AFF);
			em->e.n = 0;
		}
		return r;
	default:
		if (cluster)
			r = put_class(em, k, WF_PROXY_SET_CLS, s->n_eps);
		if (!r && local)
			r = put_class(em, k, WF_PROXY_SET_LCLS, s->n_local_eps);
		/* last: the gate opens once the key's dispatch is complete */
		return r ? r : put(em, k, WF_PROXY_SET_KEYS);
	}
}

int wf_proxy_svc_plan(const struct wf_proxy_model *m, const struct wf_proxy_svc *s,
		      wf_proxy_el_fn fn, void *userdata)
{
	struct emitter em = {.m = m, .s = s, .fn = fn, .ud = userdata};
	int r = 0;

	em.e.family = (uint8_t)s->family;
	em.e.proto = wf_proxy_ipproto(s->protocol);
	for (int phase = 0; !r && phase < 3; phase++) {
		struct key k = {.port = s->port};

		for (size_t i = 0; !r && i < s->n_vips; i++) {
			k.addr = s->vips[i].ip;
			k.cluster = s->vips[i].kind == WF_PROXY_VIP_CLUSTER;
			k.lb = s->vips[i].kind == WF_PROXY_VIP_LB;
			r = key_elems(&em, &k, phase);
		}
		if (!r && s->node_port) {
			memset(&k, 0, sizeof(k));
			k.addr.family = (uint8_t)s->family;
			k.port = s->node_port;
			r = key_elems(&em, &k, phase);
		}
	}
	return r;
}

static int ip_qcmp(const void *a, const void *b)
{
	return wf_ip_cmp(a, b);
}

int wf_proxy_plan_hairpin(const struct wf_proxy_model *m, wf_proxy_el_fn fn, void *userdata)
{
	struct wf_proxy_el e = {.set = WF_PROXY_SET_HAIRPIN};
	size_t total = 0, k = 0;
	struct wf_ip *all;
	int r = 0;

	for (size_t i = 0; i < m->n_svcs; i++)
		total += m->svcs[i].n_eps + m->svcs[i].n_local_eps;
	if (!total)
		return 0;
	all = wf_reallocarray(NULL, total, sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_svcs; i++) {
		const struct wf_proxy_svc *s = &m->svcs[i];

		for (size_t j = 0; j < s->n_eps; j++)
			all[k++] = s->eps[j].ip;
		for (size_t j = 0; j < s->n_local_eps; j++)
			all[k++] = s->local_eps[j].ip;
	}
	/* wf_ip_cmp orders IPv4 before IPv6: one sorted pass, duplicates adjacent. */
	qsort(all, k, sizeof(*all), ip_qcmp);
	for (size_t i = 0; !r && i < k; i++) {
		if (i && wf_ip_equal(&all[i - 1], &all[i]))
			continue;
		e.family = all[i].family;
		e.addr = all[i];
		r = fn(userdata, &e);
	}
	wf_free(all);
	return r;
}

int wf_proxy_plan_all(const struct wf_proxy_model *m, wf_proxy_el_fn fn, void *userdata)
{
	int r = 0;

	for (size_t i = 0; !r && i < m->n_svcs; i++)
		r = wf_proxy_svc_plan(m, &m->svcs[i], fn, userdata);
	return r ? r : wf_proxy_plan_hairpin(m, fn, userdata);
}

unsigned wf_proxy_plan_classes(const struct wf_proxy_model *m)
{
	size_t max = wf_proxy_model_max_eps(m);

	if (max < 1)
		max = 1;
	return (unsigned)((max + WF_PROXY_CLASS_STEP - 1) / WF_PROXY_CLASS_STEP *
			  WF_PROXY_CLASS_STEP);
}

/* Puts t into the sorted out[0..n) when it fits in cap; counts it either way. */
static size_t insert_sorted(uint32_t *out, size_t n, size_t cap, uint32_t t)
{
	if (n < cap) {
		size_t j;

		for (j = n; j > 0 && out[j - 1] > t; j--)
			out[j] = out[j - 1];
		out[j] = t;
	}
	return n + 1;
}

size_t wf_proxy_plan_timeouts(const struct wf_proxy_model *m, uint32_t *out, size_t cap)
{
	size_t n = 0;

	if (m->eps_hist) {
		/* Kept by the model as services come and go: no walk. */
		for (size_t i = 0; i < m->n_touts; i++)
			n = insert_sorted(out, n, cap, m->touts[i].timeout);
		return n;
	}
	/* Few distinct values (10800 almost everywhere): an insertion-sorted small array. */
	for (size_t i = 0; i < m->n_svcs; i++) {
		uint32_t t = m->svcs[i].affinity_timeout;
		size_t j;
		bool seen = false;

		if (!t || !m->svcs[i].n_eps)
			continue;
		for (j = 0; j < n && j < cap && !seen; j++)
			seen = out[j] == t;
		if (!seen)
			n = insert_sorted(out, n, cap, t);
	}
	return n;
}
