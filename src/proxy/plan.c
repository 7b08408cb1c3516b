/* How the model maps onto weft's nftables table (nft-plan.h): names, global elements, which
 * per-service objects exist. The one place where those decisions live. */
#include "proxy/nft-plan.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/ip.h"

static const char *const gmap_names[WF_PROXY_GMAP_COUNT][2] = {
	[WF_PROXY_GMAP_SERVICES] = {"services4", "services6"},
	[WF_PROXY_GMAP_NODEPORTS] = {"nodeports4", "nodeports6"},
	[WF_PROXY_GMAP_NOEP] = {"no-endpoints4", "no-endpoints6"},
	[WF_PROXY_GMAP_NOEP_NP] = {"no-endpoint-nodeports4", "no-endpoint-nodeports6"},
	[WF_PROXY_GMAP_HAIRPIN] = {"hairpin4", "hairpin6"},
};

const char *wf_proxy_gmap_name(enum wf_proxy_gmap map, int family)
{
	return gmap_names[map][family == AF_INET6];
}

char *wf_proxy_obj_name(char *buf, const char *kind, const struct wf_proxy_svc *s)
{
	snprintf(buf, WF_PROXY_NAME_MAX, "%s%c-%s", kind, s->family == AF_INET6 ? '6' : '4', s->id);
	return buf;
}

char *wf_proxy_ep_name(char *buf, const char *kind, const struct wf_proxy_svc *s,
		       const struct wf_proxy_endpoint *ep)
{
	char a[WF_IP_STRLEN];

	wf_ip_format(&ep->ip, a);
	for (char *c = a; *c; c++)
		if (*c == ':')
			*c = '-';
	snprintf(buf, WF_PROXY_NAME_MAX, "%s%c-%s/%s/%u", kind, s->family == AF_INET6 ? '6' : '4',
		 s->id, a, ep->port);
	return buf;
}

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

bool wf_proxy_has_cidr(const struct wf_proxy_model *m, int family)
{
	for (size_t i = 0; i < m->n_cluster_cidrs; i++)
		if (m->cluster_cidrs[i].ip.family == family)
			return true;
	return false;
}

void wf_proxy_svc_objs(const struct wf_proxy_svc *s, struct wf_proxy_objs *ret)
{
	bool lb = false, ext = s->node_port != 0;

	for (size_t i = 0; i < s->n_vips; i++) {
		ext |= s->vips[i].kind != WF_PROXY_VIP_CLUSTER;
		lb |= s->vips[i].kind == WF_PROXY_VIP_LB;
	}
	ret->ext = ext;
	/* kube-proxy filters only traffic addressed to the LB IP by source range, not NodePort
	 * traffic (KEP-3866 "firewall"). */
	ret->fw = lb && s->n_source_ranges > 0;
	ret->llb = (ext && s->external_local) || s->internal_local;
	ret->aff = s->affinity_timeout > 0;
}

static int emit(wf_proxy_elem_fn fn, void *ud, struct wf_proxy_elem *e, enum wf_proxy_gmap map,
		enum wf_proxy_verdict v, const char *chain)
{
	e->map = map;
	e->verdict = v;
	snprintf(e->chain, sizeof(e->chain), "%s", chain ? chain : "");
	return fn(ud, e);
}

int wf_proxy_svc_elems(const struct wf_proxy_model *m, const struct wf_proxy_svc *s,
		       wf_proxy_elem_fn fn, void *userdata)
{
	struct wf_proxy_elem e = {.family = s->family, .proto = wf_proxy_ipproto(s->protocol)};
	char svc[WF_PROXY_NAME_MAX], ext[WF_PROXY_NAME_MAX], fw[WF_PROXY_NAME_MAX];
	struct wf_proxy_objs o;
	/* No endpoints: reject at once (TCP RST / ICMP unreachable), except that a Local policy
	 * drops (kube-proxy; KEP-2086 for internal, docs for external traffic). */
	enum wf_proxy_verdict int_empty = s->internal_local ? WF_PROXY_V_DROP : WF_PROXY_V_GOTO;
	enum wf_proxy_verdict ext_empty = s->external_local ? WF_PROXY_V_DROP : WF_PROXY_V_GOTO;
	bool has_eps = s->n_eps > 0;
	int r;

	wf_proxy_svc_objs(s, &o);
	wf_proxy_obj_name(svc, "svc", s);
	wf_proxy_obj_name(ext, "ext", s);
	wf_proxy_obj_name(fw, "fw", s);
	for (size_t i = 0; i < s->n_vips; i++) {
		const struct wf_proxy_vip *v = &s->vips[i];
		bool cluster = v->kind == WF_PROXY_VIP_CLUSTER;
		enum wf_proxy_verdict empty = cluster ? int_empty : ext_empty;
		const char *target = cluster ? svc : v->kind == WF_PROXY_VIP_LB && o.fw ? fw : ext;

		e.addr = v->ip;
		e.port = s->port;
		if (has_eps)
			r = emit(fn, userdata, &e, WF_PROXY_GMAP_SERVICES, WF_PROXY_V_GOTO, target);
		else
			r = emit(fn, userdata, &e, WF_PROXY_GMAP_NOEP, empty,
				 empty == WF_PROXY_V_GOTO ? "reject-chain" : NULL);
		if (r)
			return r;
	}
	if (s->node_port) {
		memset(&e.addr, 0, sizeof(e.addr));
		e.port = s->node_port;
		if (has_eps)
			r = emit(fn, userdata, &e, WF_PROXY_GMAP_NODEPORTS, WF_PROXY_V_GOTO, ext);
		else
			r = emit(fn, userdata, &e, WF_PROXY_GMAP_NOEP_NP, ext_empty,
				 ext_empty == WF_PROXY_V_GOTO ? "reject-chain" : NULL);
		if (r)
			return r;
	}
	return 0;
}
