/* Services + EndpointSlices -> the desired data plane of one node. Every Kubernetes rule the
 * proxy implements is decided here, so that backends only translate. */
#include "proxy/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "k8s/object.h"
#include "lib/alloc.h"
#include "lib/arena.h"
#include "lib/hash.h"
#include "lib/ip.h"

/* A candidate endpoint before the readiness and topology rules pick from them. */
struct cand {
	struct wf_ip ip;
	uint16_t port;
	bool local;
	bool ready;
	bool fallback; /* serving and terminating (KEP-1669) */
	size_t n_hint_zones;
	const char **hint_zones;
};

struct slice_list {
	size_t n, cap;
	const struct wf_k8s_object **items;
	char key[]; /* "namespace/service" */
};

struct builder {
	const struct wf_proxy_config *cfg;
	struct wf_proxy_model *m;
	struct wf_arena *a;
	struct wf_hash *slices; /* "ns/name" -> struct slice_list */
	const char *zone;
	size_t cap_svcs;
	struct cand *cands; /* scratch, grown as needed */
	size_t cap_cands;
};

const char *wf_proxy_proto_name(enum wf_k8s_protocol p)
{
	switch (p) {
	case WF_K8S_PROTO_UDP:
		return "udp";
	case WF_K8S_PROTO_SCTP:
		return "sctp";
	case WF_K8S_PROTO_TCP:
	default:
		return "tcp";
	}
}

int wf_proxy_svc_cmp(const struct wf_proxy_svc *a, const struct wf_proxy_svc *b)
{
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return strcmp(a->id, b->id);
}

static int svc_qcmp(const void *a, const void *b)
{
	return wf_proxy_svc_cmp(a, b);
}

int wf_proxy_ep_cmp(const struct wf_proxy_endpoint *a, const struct wf_proxy_endpoint *b)
{
	int c = wf_ip_cmp(&a->ip, &b->ip);

	if (c)
		return c;
	return (int)a->port - (int)b->port;
}

static int ep_cmp(const void *a, const void *b)
{
	return wf_proxy_ep_cmp(a, b);
}

static bool eps_equal(size_t na, const struct wf_proxy_endpoint *a, size_t nb,
		      const struct wf_proxy_endpoint *b)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (ep_cmp(&a[i], &b[i]) || a[i].local != b[i].local)
			return false;
	return true;
}

bool wf_proxy_svc_eps_equal(const struct wf_proxy_svc *a, const struct wf_proxy_svc *b)
{
	return eps_equal(a->n_eps, a->eps, b->n_eps, b->eps) &&
	       eps_equal(a->n_local_eps, a->local_eps, b->n_local_eps, b->local_eps) &&
	       a->n_local_ready == b->n_local_ready;
}

bool wf_proxy_svc_shape_equal(const struct wf_proxy_svc *a, const struct wf_proxy_svc *b)
{
	if (wf_proxy_svc_cmp(a, b) || a->protocol != b->protocol || a->port != b->port ||
	    a->node_port != b->node_port || a->n_vips != b->n_vips ||
	    a->external_local != b->external_local || a->internal_local != b->internal_local ||
	    a->affinity_timeout != b->affinity_timeout ||
	    a->n_source_ranges != b->n_source_ranges ||
	    a->health_check_node_port != b->health_check_node_port)
		return false;
	for (size_t i = 0; i < a->n_vips; i++)
		if (!wf_ip_equal(&a->vips[i].ip, &b->vips[i].ip) ||
		    a->vips[i].kind != b->vips[i].kind)
			return false;
	for (size_t i = 0; i < a->n_source_ranges; i++)
		if (!wf_ip_equal(&a->source_ranges[i].ip, &b->source_ranges[i].ip) ||
		    a->source_ranges[i].prefix != b->source_ranges[i].prefix)
			return false;
	return true;
}

const struct wf_proxy_svc *wf_proxy_model_find(const struct wf_proxy_model *m, int family,
					       const char *id)
{
	struct wf_proxy_svc key = {.family = family, .id = id};

	return bsearch(&key, m->svcs, m->n_svcs, sizeof(*m->svcs), svc_qcmp);
}

/* A Service rebuilt by an update (its entries live in its own arena), or an ignored one. */
struct svc_rec {
	struct wf_arena *arena;
	bool ignored;
	char key[]; /* "namespace/name" */
};

void wf_proxy_model_free(struct wf_proxy_model *m)
{
	struct svc_rec *rec;

	if (!m)
		return;
	for (size_t it = 0; m->recs && wf_hash_next(m->recs, &it, NULL, NULL, (void **)&rec);) {
		wf_arena_free(rec->arena);
		wf_free(rec);
	}
	wf_hash_free(m->recs);
	wf_free(m->eps_hist);
	wf_free(m->touts);
	wf_free(m->svcs);
	wf_arena_free(m->arena);
	wf_free(m);
}

/* ---- aggregates (plan.c's class count and timeouts without a walk) ---- */

static size_t svc_weight(const struct wf_proxy_svc *s)
{
	return s->n_eps > s->n_local_eps ? s->n_eps : s->n_local_eps;
}

/* Makes room for adding s (the only step that allocates), so that account() cannot fail
 * half-way through an update. */
static int account_reserve(struct wf_proxy_model *m, const struct wf_proxy_svc *s)
{
	size_t k = svc_weight(s);

	if (k >= m->cap_hist) {
		size_t cap = m->cap_hist ? m->cap_hist : 64;
		size_t *h;

		while (cap <= k)
			cap *= 2;
		h = wf_reallocarray(m->eps_hist, cap, sizeof(*h));
		if (!h)
			return -ENOMEM;
		memset(h + m->cap_hist, 0, (cap - m->cap_hist) * sizeof(*h));
		m->eps_hist = h;
		m->cap_hist = cap;
	}
	if (s->affinity_timeout && s->n_eps && m->n_touts == m->cap_touts) {
		size_t cap = m->cap_touts ? m->cap_touts * 2 : 4;
		struct wf_proxy_tout_count *t = wf_reallocarray(m->touts, cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		m->touts = t;
		m->cap_touts = cap;
	}
	return 0;
}

/* Counts s in (delta +1) or out (-1) of the aggregates; room was reserved for +1. */
static void account(struct wf_proxy_model *m, const struct wf_proxy_svc *s, int delta)
{
	size_t k = svc_weight(s), i;

	m->eps_hist[k] += (size_t)(ssize_t)delta;
	if (delta > 0 && k > m->max_eps)
		m->max_eps = k;
	while (m->max_eps && !m->eps_hist[m->max_eps])
		m->max_eps--;
	if (!s->affinity_timeout || !s->n_eps)
		return;
	for (i = 0; i < m->n_touts && m->touts[i].timeout != s->affinity_timeout; i++)
		;
	if (i == m->n_touts) {
		if (delta < 0)
			return; /* not counted: cannot happen */
		m->touts[m->n_touts++] = (struct wf_proxy_tout_count){s->affinity_timeout, 0};
	}
	m->touts[i].n += (size_t)(ssize_t)delta;
	if (!m->touts[i].n)
		m->touts[i] = m->touts[--m->n_touts];
}

size_t wf_proxy_model_max_eps(const struct wf_proxy_model *m)
{
	size_t max = 0;

	if (m->eps_hist)
		return m->max_eps;
	for (size_t i = 0; i < m->n_svcs; i++)
		if (svc_weight(&m->svcs[i]) > max)
			max = svc_weight(&m->svcs[i]);
	return max;
}

static int account_all(struct wf_proxy_model *m)
{
	/* Always present after a build, even when empty: plan.c then never walks. */
	m->eps_hist = wf_calloc(64, sizeof(*m->eps_hist));
	if (!m->eps_hist)
		return -ENOMEM;
	m->cap_hist = 64;
	for (size_t i = 0; i < m->n_svcs; i++) {
		int r = account_reserve(m, &m->svcs[i]);

		if (r < 0)
			return r;
		account(m, &m->svcs[i], +1);
	}
	return 0;
}

static int index_slice(struct builder *b, const struct wf_k8s_object *o)
{
	const struct wf_k8s_endpointslice *es = o->endpointslice;
	struct slice_list *l;
	char *key;
	void *items;

	if (!es->service_name || !o->namespace)
		return 0; /* not owned by a Service: no proxy can use it */
	key = wf_arena_printf(b->a, "%s/%s", o->namespace, es->service_name);
	if (!key)
		return -ENOMEM;
	l = wf_hash_gets(b->slices, key);
	if (!l) {
		l = wf_arena_zalloc(b->a, sizeof(*l) + strlen(key) + 1);
		if (!l)
			return -ENOMEM;
		strcpy(l->key, key);
		if (wf_hash_puts(b->slices, l->key, l, NULL))
			return -ENOMEM;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;

		items = wf_arena_alloc(b->a, cap * sizeof(*l->items));
		if (!items)
			return -ENOMEM;
		if (l->n)
			memcpy(items, l->items, l->n * sizeof(*l->items));
		l->items = items;
		l->cap = cap;
	}
	l->items[l->n++] = o;
	return 0;
}

/* Does the service ask for topology-aware routing? (KEP-2433 annotation, KEP-4444
 * trafficDistribution.) */
static bool topology_enabled(const struct wf_k8s_object *o)
{
	const struct wf_k8s_service *s = o->service;
	const char *mode = wf_k8s_object_annotation(o, "service.kubernetes.io/topology-mode");
	const char *hints =
		wf_k8s_object_annotation(o, "service.kubernetes.io/topology-aware-hints");

	if (s->traffic_distribution && (!strcmp(s->traffic_distribution, "PreferClose") ||
					!strcmp(s->traffic_distribution, "PreferSameZone")))
		return true;
	if (mode && !strcmp(mode, "Auto"))
		return true;
	return hints && (!strcmp(hints, "Auto") || !strcmp(hints, "auto"));
}

static bool hinted_for(const struct cand *c, const char *zone)
{
	for (size_t i = 0; i < c->n_hint_zones; i++)
		if (c->hint_zones[i] && !strcmp(c->hint_zones[i], zone))
			return true;
	return false;
}

static int grow_cands(struct builder *b, size_t need)
{
	struct cand *c;
	size_t cap;

	if (need <= b->cap_cands)
		return 0;
	cap = b->cap_cands ? b->cap_cands : 16;
	while (cap < need)
		cap *= 2;
	c = wf_reallocarray(b->cands, cap, sizeof(*c));
	if (!c)
		return -ENOMEM;
	b->cands = c;
	b->cap_cands = cap;
	return 0;
}

static bool slice_port_matches(const struct wf_k8s_endpoint_port *ep,
			       const struct wf_k8s_service_port *sp)
{
	const char *a = ep->name ? ep->name : "";
	const char *n = sp->name ? sp->name : "";

	return ep->protocol == sp->protocol && !strcmp(a, n);
}

/* Collects the candidates of one service port in one family from its EndpointSlices. */
static int collect(struct builder *b, const struct wf_k8s_object *svc,
		   const struct wf_k8s_service_port *sp, int family, size_t *ret_n)
{
	const struct slice_list *l;
	enum wf_k8s_address_type want = family == AF_INET ? WF_K8S_ADDR_IPV4 : WF_K8S_ADDR_IPV6;
	const char *node = b->cfg->node_name;
	char key[512];
	size_t n = 0;
	int r;

	snprintf(key, sizeof(key), "%s/%s", svc->namespace, svc->name);
	l = wf_hash_gets(b->slices, key);
	for (size_t i = 0; l && i < l->n; i++) {
		const struct wf_k8s_endpointslice *es = l->items[i]->endpointslice;
		const struct wf_k8s_endpoint_port *port = NULL;

		if (es->address_type != want)
			continue;
		/* The port by name and protocol: the slice carries the targetPort resolved for
		 * its pods, so named targetPorts need no lookup here (EndpointSlice API). */
		for (size_t j = 0; j < es->n_ports; j++) {
			if (slice_port_matches(&es->ports[j], sp)) {
				port = &es->ports[j];
				break;
			}
		}
		if (!port || !port->has_port || port->port < 1 || port->port > 65535)
			continue;
		r = grow_cands(b, n + es->n_endpoints);
		if (r < 0)
			return r;
		for (size_t j = 0; j < es->n_endpoints; j++) {
			const struct wf_k8s_endpoint *ep = &es->endpoints[j];
			struct cand *c = &b->cands[n];

			/* kube-proxy uses the first address of an endpoint only. */
			if (!ep->n_addresses || !ep->ips || ep->ips[0].family != family)
				continue;
			c->ip = ep->ips[0];
			c->port = (uint16_t)port->port;
			c->ready = wf_k8s_endpoint_ready(ep);
			/* KEP-1669: serving and terminating endpoints are the fallback; serving
			 * false is never used. */
			c->fallback = !c->ready && wf_k8s_endpoint_serving(ep) &&
				      wf_k8s_endpoint_terminating(ep);
			if (!c->ready && !c->fallback)
				continue;
			c->local = node && ep->node_name && !strcmp(node, ep->node_name);
			c->n_hint_zones = ep->n_hint_zones;
			c->hint_zones = ep->hint_zones;
			n++;
		}
	}
	*ret_n = n;
	return 0;
}

/* Copies the candidates accepted by pick() into a sorted, duplicate-free endpoint array. */
static int take(struct builder *b, size_t n, bool (*pick)(const struct cand *, const char *),
		const char *arg, struct wf_proxy_endpoint **ret, size_t *ret_n)
{
	struct wf_proxy_endpoint *eps;
	size_t k = 0, out = 0;

	for (size_t i = 0; i < n; i++)
		k += pick(&b->cands[i], arg);
	if (!k) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	eps = wf_arena_alloc(b->a, k * sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!pick(&b->cands[i], arg))
			continue;
		eps[k].ip = b->cands[i].ip;
		eps[k].port = b->cands[i].port;
		eps[k].local = b->cands[i].local;
		k++;
	}
	qsort(eps, k, sizeof(*eps), ep_cmp);
	/* An endpoint listed by two slices (during a slice handover) counts once. */
	for (size_t i = 0; i < k; i++)
		if (!out || ep_cmp(&eps[out - 1], &eps[i]))
			eps[out++] = eps[i];
	*ret = eps;
	*ret_n = out;
	return 0;
}

static bool pick_ready(const struct cand *c, const char *zone)
{
	return c->ready;
}

static bool pick_ready_zone(const struct cand *c, const char *zone)
{
	return c->ready && hinted_for(c, zone);
}

static bool pick_fallback(const struct cand *c, const char *zone)
{
	return c->fallback;
}

static bool pick_local_ready(const struct cand *c, const char *zone)
{
	return c->ready && c->local;
}

static bool pick_local_fallback(const struct cand *c, const char *zone)
{
	return c->fallback && c->local;
}

static int endpoints(struct builder *b, const struct wf_k8s_object *o,
		     const struct wf_k8s_service_port *sp, struct wf_proxy_svc *s)
{
	size_t n, ready = 0;
	bool use_zone = false;
	int r;

	r = collect(b, o, sp, s->family, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		ready += b->cands[i].ready;
	/* Topology hints (KEP-2433/4444): only when every ready endpoint carries hints and
	 * some are meant for this zone; otherwise all endpoints are used. */
	if (ready && b->zone && topology_enabled(o)) {
		bool all_hinted = true, any_here = false;

		for (size_t i = 0; i < n; i++) {
			if (!b->cands[i].ready)
				continue;
			all_hinted &= b->cands[i].n_hint_zones > 0;
			any_here |= hinted_for(&b->cands[i], b->zone);
		}
		use_zone = all_hinted && any_here;
	}
	if (use_zone)
		r = take(b, n, pick_ready_zone, b->zone, &s->eps, &s->n_eps);
	else if (ready)
		r = take(b, n, pick_ready, NULL, &s->eps, &s->n_eps);
	else
		r = take(b, n, pick_fallback, NULL, &s->eps, &s->n_eps);
	if (r < 0)
		return r;
	/* Local scope falls back on its own: ready local endpoints, else local serving and
	 * terminating ones (KEP-1669, "per policy scope"). */
	r = take(b, n, pick_local_ready, NULL, &s->local_eps, &s->n_local_eps);
	if (r < 0)
		return r;
	s->n_local_ready = s->n_local_eps;
	if (!s->n_local_eps)
		r = take(b, n, pick_local_fallback, NULL, &s->local_eps, &s->n_local_eps);
	return r;
}

static int cidr_cmp(const void *pa, const void *pb)
{
	const struct wf_cidr *a = pa, *b = pb;
	int c = wf_ip_cmp(&a->ip, &b->ip);

	return c ? c : (int)a->prefix - (int)b->prefix;
}

static bool add_vip(struct wf_proxy_vip *vips, size_t *n, const struct wf_ip *ip,
		    enum wf_proxy_vip_kind kind)
{
	for (size_t i = 0; i < *n; i++)
		if (wf_ip_equal(&vips[i].ip, ip))
			return false;
	vips[*n].ip = *ip;
	vips[*n].kind = kind;
	(*n)++;
	return true;
}

static int vips_for(struct builder *b, const struct wf_k8s_service *s, int family,
		    struct wf_proxy_vip **ret, size_t *ret_n)
{
	size_t cap = s->n_cluster_ips + s->n_external_ips + s->n_lb_ingress, n = 0;
	struct wf_proxy_vip *v = wf_arena_alloc(b->a, (cap ? cap : 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_cluster_ips; i++)
		if (s->cluster_ips[i].family == family)
			add_vip(v, &n, &s->cluster_ips[i], WF_PROXY_VIP_CLUSTER);
	for (size_t i = 0; i < s->n_external_ips; i++)
		if (s->external_ips[i].family == family)
			add_vip(v, &n, &s->external_ips[i], WF_PROXY_VIP_EXTERNAL);
	/* status.loadBalancer.ingress IPs are handled like cluster IPs, for external traffic
	 * (docs: "type LoadBalancer"). Hostname-only entries have nothing to program. */
	for (size_t i = 0; s->type == WF_K8S_SVC_LOAD_BALANCER && i < s->n_lb_ingress; i++) {
		struct wf_ip ip;

		if (!s->lb_ingress[i].ip || wf_ip_parse(s->lb_ingress[i].ip, &ip) < 0 ||
		    ip.family != family)
			continue;
		add_vip(v, &n, &ip, WF_PROXY_VIP_LB);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int add_svc(struct builder *b, struct wf_proxy_svc *s)
{
	struct wf_proxy_model *m = b->m;

	if (m->n_svcs == b->cap_svcs) {
		size_t cap = b->cap_svcs ? b->cap_svcs * 2 : 64;
		struct wf_proxy_svc *n = wf_reallocarray(m->svcs, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		m->svcs = n;
		b->cap_svcs = cap;
	}
	m->svcs[m->n_svcs++] = *s;
	return 0;
}

/* Should this proxy program the Service at all? (docs: "Virtual IPs and Service Proxies",
 * "Headless Services", "ExternalName") */
static bool wanted(const struct builder *b, const struct wf_k8s_object *o)
{
	const struct wf_k8s_service *s = o->service;
	const char *owner = wf_k8s_object_label(o, WF_PROXY_LABEL_PROXY_NAME);

	if (s->type == WF_K8S_SVC_EXTERNAL_NAME || s->headless || !s->n_cluster_ips)
		return false;
	if (wf_k8s_object_label(o, WF_PROXY_LABEL_HEADLESS))
		return false;
	if (owner && (!b->cfg->proxy_name || strcmp(owner, b->cfg->proxy_name)))
		return false;
	return true;
}

static int build_service(struct builder *b, const struct wf_k8s_object *o)
{
	const struct wf_k8s_service *s = o->service;
	static const int families[] = {AF_INET, AF_INET6};
	int r;

	for (size_t f = 0; f < 2; f++) {
		struct wf_proxy_vip *vips;
		size_t n_vips;
		bool has_cluster_ip = false;

		for (size_t i = 0; i < s->n_cluster_ips; i++)
			has_cluster_ip |= s->cluster_ips[i].family == families[f];
		if (!has_cluster_ip)
			continue; /* dual-stack: each family stands alone (KEP-563) */
		r = vips_for(b, s, families[f], &vips, &n_vips);
		if (r < 0)
			return r;
		for (size_t p = 0; p < s->n_ports; p++) {
			const struct wf_k8s_service_port *sp = &s->ports[p];
			struct wf_proxy_svc v = {0};
			size_t n_ranges = 0;

			if (sp->port < 1 || sp->port > 65535)
				continue;
			v.family = families[f];
			v.namespace = wf_arena_strdup(b->a, o->namespace ? o->namespace : "");
			v.name = wf_arena_strdup(b->a, o->name);
			v.port_name = wf_arena_strdup(b->a, sp->name ? sp->name : "");
			v.id = wf_arena_printf(b->a, "%s/%s/%s/%d", v.namespace ? v.namespace : "",
					       o->name, wf_proxy_proto_name(sp->protocol),
					       sp->port);
			if (!v.namespace || !v.name || !v.port_name || !v.id)
				return -ENOMEM;
			v.protocol = sp->protocol;
			v.port = (uint16_t)sp->port;
			if (s->type == WF_K8S_SVC_NODE_PORT || s->type == WF_K8S_SVC_LOAD_BALANCER)
				if (sp->node_port > 0 && sp->node_port <= 65535)
					v.node_port = (uint16_t)sp->node_port;
			v.vips = vips;
			v.n_vips = n_vips;
			v.external_local = s->external_traffic_policy == WF_K8S_POLICY_LOCAL;
			v.internal_local = s->internal_traffic_policy == WF_K8S_POLICY_LOCAL;
			if (s->session_affinity_client_ip)
				v.affinity_timeout = s->session_affinity_timeout > 0
							     ? (uint32_t)s->session_affinity_timeout
							     : 10800;
			if (s->type == WF_K8S_SVC_LOAD_BALANCER) {
				for (size_t i = 0; i < s->n_load_balancer_source_ranges; i++)
					n_ranges += s->load_balancer_source_ranges[i].ip.family ==
						    v.family;
				if (n_ranges) {
					v.source_ranges = wf_arena_alloc(
						b->a, n_ranges * sizeof(*v.source_ranges));
					if (!v.source_ranges)
						return -ENOMEM;
				}
				for (size_t i = 0; i < s->n_load_balancer_source_ranges; i++)
					if (s->load_balancer_source_ranges[i].ip.family == v.family)
						v.source_ranges[v.n_source_ranges++] =
							s->load_balancer_source_ranges[i];
				if (v.external_local && s->health_check_node_port > 0 &&
				    s->health_check_node_port <= 65535)
					v.health_check_node_port =
						(uint16_t)s->health_check_node_port;
			}
			r = endpoints(b, o, sp, &v);
			if (r < 0)
				return r;
			r = add_svc(b, &v);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Records what an update must know of a Service between syncs: the arena its entries live in
 * (NULL: the model's own) and whether it is ignored. Neither: the record goes. The replaced
 * arena is handed back in *ret_old (NULL: none) for the caller to retire. */
static int rec_set(struct wf_proxy_model *m, const char *ns, const char *name,
		   struct wf_arena *arena, bool ignored, struct wf_arena **ret_old)
{
	char key[512];
	struct svc_rec *rec;

	if (ret_old)
		*ret_old = NULL;
	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
	rec = m->recs ? wf_hash_gets(m->recs, key) : NULL;
	if (rec && ret_old)
		*ret_old = rec->arena;
	if (!arena && !ignored) {
		if (rec) {
			wf_hash_dels(m->recs, key);
			wf_free(rec);
		}
		return 0;
	}
	if (!rec) {
		if (!m->recs && !(m->recs = wf_hash_new(64)))
			return -ENOMEM;
		rec = wf_malloc(sizeof(*rec) + strlen(key) + 1);
		if (!rec)
			return -ENOMEM;
		strcpy(rec->key, key);
		if (wf_hash_puts(m->recs, rec->key, rec, NULL) < 0) {
			wf_free(rec);
			return -ENOMEM;
		}
	}
	rec->arena = arena;
	rec->ignored = ignored;
	return 0;
}

static bool in_cluster(const struct wf_proxy_model *m, const struct wf_ip *ip)
{
	for (size_t i = 0; i < m->n_cluster_cidrs; i++)
		if (wf_cidr_contains(&m->cluster_cidrs[i], ip))
			return true;
	return false;
}

static int ip_cmp(const void *a, const void *b)
{
	return wf_ip_cmp(a, b);
}

/* m->node_pod_addrs: the configured local addresses and the gateway of each of self's
 * podCIDRs, those inside the cluster CIDRs, sorted and unique. */
static int node_pod_addrs(struct builder *b, const struct wf_k8s_node *self)
{
	const struct wf_proxy_config *cfg = b->cfg;
	struct wf_proxy_model *m = b->m;
	size_t cap = cfg->n_local_addrs + (self ? self->n_pod_cidrs : 0), n = 0;
	struct wf_ip *v;

	if (!cap)
		return 0;
	v = wf_arena_alloc(b->a, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_local_addrs; i++)
		if (in_cluster(m, &cfg->local_addrs[i]))
			v[n++] = cfg->local_addrs[i];
	for (size_t i = 0; self && i < self->n_pod_cidrs; i++)
		if (wf_cidr_nth(&self->pod_cidrs[i], 1, &v[n]) == 0 && in_cluster(m, &v[n]))
			n++;
	qsort(v, n, sizeof(*v), ip_cmp);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || !wf_ip_equal(&v[u - 1], &v[i]))
			v[u++] = v[i];
	m->node_pod_addrs = v;
	m->n_node_pod_addrs = u;
	return 0;
}

static int node_identity(struct builder *b, const struct wf_k8s_object *const *objects, size_t n)
{
	const struct wf_proxy_config *cfg = b->cfg;
	const struct wf_k8s_node *self = NULL;
	struct wf_proxy_model *m = b->m;

	for (size_t i = 0; cfg->node_name && i < n; i++)
		if (objects[i]->kind == WF_K8S_NODE && !strcmp(objects[i]->name, cfg->node_name))
			self = objects[i]->node;
	b->zone = cfg->zone ? cfg->zone : self ? self->zone : NULL;
	if (cfg->n_node_ips) {
		m->node_ips = wf_arena_alloc(b->a, cfg->n_node_ips * sizeof(*m->node_ips));
		if (!m->node_ips)
			return -ENOMEM;
		memcpy(m->node_ips, cfg->node_ips, cfg->n_node_ips * sizeof(*m->node_ips));
		m->n_node_ips = cfg->n_node_ips;
	} else if (self && self->n_addresses) {
		/* NodePorts answer on the node's own addresses, never on localhost (KEP-3866). */
		m->node_ips = wf_arena_alloc(b->a, self->n_addresses * sizeof(*m->node_ips));
		if (!m->node_ips)
			return -ENOMEM;
		for (size_t i = 0; i < self->n_addresses; i++) {
			const struct wf_k8s_node_address *a = &self->addresses[i];

			if (!a->is_ip || !a->type ||
			    (strcmp(a->type, "InternalIP") && strcmp(a->type, "ExternalIP")))
				continue;
			m->node_ips[m->n_node_ips++] = a->ip;
		}
	}
	if (cfg->n_cluster_cidrs) {
		m->cluster_cidrs =
			wf_arena_alloc(b->a, cfg->n_cluster_cidrs * sizeof(*m->cluster_cidrs));
		if (!m->cluster_cidrs)
			return -ENOMEM;
		memcpy(m->cluster_cidrs, cfg->cluster_cidrs,
		       cfg->n_cluster_cidrs * sizeof(*m->cluster_cidrs));
		m->n_cluster_cidrs = cfg->n_cluster_cidrs;
	} else {
		/* Without a configured cluster CIDR, the Nodes' podCIDRs are the cluster's pod
		 * addresses (kube-proxy's detect-local "NodeCIDR", cluster-wide). */
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (objects[i]->kind == WF_K8S_NODE)
				k += objects[i]->node->n_pod_cidrs;
		if (k) {
			m->cluster_cidrs = wf_arena_alloc(b->a, k * sizeof(*m->cluster_cidrs));
			if (!m->cluster_cidrs)
				return -ENOMEM;
		}
		for (size_t i = 0; k && i < n; i++) {
			if (objects[i]->kind != WF_K8S_NODE)
				continue;
			for (size_t j = 0; j < objects[i]->node->n_pod_cidrs; j++)
				m->cluster_cidrs[m->n_cluster_cidrs++] =
					objects[i]->node->pod_cidrs[j];
		}
		if (m->n_cluster_cidrs > 1)
			qsort(m->cluster_cidrs, m->n_cluster_cidrs, sizeof(*m->cluster_cidrs),
			      cidr_cmp);
	}
	m->masquerade_all = cfg->masquerade_all;
	m->pod_notrack = cfg->pod_notrack;
	m->tunnel_port = cfg->pod_notrack ? cfg->tunnel_port : 0;
	return m->pod_notrack ? node_pod_addrs(b, self) : 0;
}

int wf_proxy_model_build(const struct wf_proxy_config *cfg,
			 const struct wf_k8s_object *const *objects, size_t n_objects,
			 struct wf_proxy_model **ret_model)
{
	struct builder b = {.cfg = cfg};
	int r = -ENOMEM;

	b.m = wf_calloc(1, sizeof(*b.m));
	if (!b.m)
		return -ENOMEM;
	b.a = b.m->arena = wf_arena_new(64 * 1024, 0);
	if (!b.a)
		goto err_model;
	b.slices = wf_hash_new(n_objects / 2 + 16);
	if (!b.slices)
		goto err_model;
	r = node_identity(&b, objects, n_objects);
	if (r < 0)
		goto err_hash;
	for (size_t i = 0; i < n_objects; i++) {
		if (objects[i]->kind != WF_K8S_ENDPOINTSLICE)
			continue;
		r = index_slice(&b, objects[i]);
		if (r < 0)
			goto err_hash;
	}
	for (size_t i = 0; i < n_objects; i++) {
		if (objects[i]->kind != WF_K8S_SERVICE)
			continue;
		if (!wanted(&b, objects[i])) {
			b.m->n_ignored++;
			r = rec_set(b.m, objects[i]->namespace, objects[i]->name, NULL, true, NULL);
			if (r < 0)
				goto err_hash;
			continue;
		}
		r = build_service(&b, objects[i]);
		if (r < 0)
			goto err_hash;
	}
	/* Two manifests may name the same service port only if the store let them through;
	 * the model keeps its order total either way. */
	if (b.m->n_svcs)
		qsort(b.m->svcs, b.m->n_svcs, sizeof(*b.m->svcs), svc_qcmp);
	b.m->cap_svcs = b.cap_svcs;
	r = account_all(b.m);
	if (!r && b.zone) {
		b.m->zone = wf_arena_strdup(b.a, b.zone);
		r = b.m->zone ? 0 : -ENOMEM;
	}
	if (r < 0)
		goto err_hash;
	wf_hash_free(b.slices);
	wf_free(b.cands);
	*ret_model = b.m;
	return 0;

err_hash:
	wf_hash_free(b.slices);
err_model:
	wf_free(b.cands);
	wf_proxy_model_free(b.m);
	return r;
}

/* ---- incremental update ---- */

static int delta_push(struct wf_proxy_model_delta *d, const struct wf_proxy_svc *o,
		      const struct wf_proxy_svc *n)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct wf_proxy_svc_change *v = wf_reallocarray(d->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n] = (struct wf_proxy_svc_change){.has_old = o != NULL, .has_new = n != NULL};
	if (o)
		d->v[d->n].old = *o;
	if (n)
		d->v[d->n].new = *n;
	d->n++;
	return 0;
}

static int delta_retire(struct wf_proxy_model_delta *d, struct wf_arena *a)
{
	if (!a)
		return 0;
	if (d->n_retired == d->cap_retired) {
		size_t cap = d->cap_retired ? d->cap_retired * 2 : 8;
		struct wf_arena **v = wf_reallocarray(d->retired, cap, sizeof(*v));

		if (!v) {
			wf_arena_free(a); /* nothing references it once the update failed */
			return -ENOMEM;
		}
		d->retired = v;
		d->cap_retired = cap;
	}
	d->retired[d->n_retired++] = a;
	return 0;
}

void wf_proxy_model_delta_done(struct wf_proxy_model_delta *d)
{
	for (size_t i = 0; i < d->n_retired; i++)
		wf_arena_free(d->retired[i]);
	wf_free(d->retired);
	wf_free(d->v);
	*d = (struct wf_proxy_model_delta){0};
}

/* First entry of family f whose id is >= key. */
static size_t lower_bound(const struct wf_proxy_model *m, int f, const char *key)
{
	struct wf_proxy_svc k = {.family = f, .id = key};
	size_t lo = 0, hi = m->n_svcs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (wf_proxy_svc_cmp(&m->svcs[mid], &k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Replaces the entries of family f whose id starts with prefix ("ns/name/": one Service's)
 * by nv[0..nn) (sorted), recording what changed in d. */
static int splice(struct wf_proxy_model *m, int f, const char *prefix,
		  const struct wf_proxy_svc *nv, size_t nn, struct wf_proxy_model_delta *d)
{
	size_t plen = strlen(prefix), lo = lower_bound(m, f, prefix), hi = lo, i, j;
	int r = 0;

	while (hi < m->n_svcs && m->svcs[hi].family == f && !strncmp(m->svcs[hi].id, prefix, plen))
		hi++;
	/* The changes first (old and new side by id), while the old entries are in place. */
	for (i = lo, j = 0; !r && (i < hi || j < nn);) {
		const struct wf_proxy_svc *o = NULL, *n = NULL;
		int c = i == hi ? 1 : j == nn ? -1 : strcmp(m->svcs[i].id, nv[j].id);

		if (c <= 0)
			o = &m->svcs[i++];
		if (c >= 0)
			n = &nv[j++];
		if (o && n && wf_proxy_svc_eps_equal(o, n) && wf_proxy_svc_shape_equal(o, n))
			continue;
		r = delta_push(d, o, n);
	}
	for (j = 0; !r && j < nn; j++)
		r = account_reserve(m, &nv[j]);
	if (!r && m->n_svcs - (hi - lo) + nn > m->cap_svcs) {
		size_t cap = m->cap_svcs ? m->cap_svcs : 64;
		struct wf_proxy_svc *v;

		while (cap < m->n_svcs - (hi - lo) + nn)
			cap *= 2;
		v = wf_reallocarray(m->svcs, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->svcs = v;
		m->cap_svcs = cap;
	}
	if (r < 0)
		return r;
	for (i = lo; i < hi; i++)
		account(m, &m->svcs[i], -1);
	for (j = 0; j < nn; j++)
		account(m, &nv[j], +1);
	/* Same number of ports: in place. Otherwise the tail moves (a Service added or gone). */
	if (nn != hi - lo)
		memmove(&m->svcs[lo + nn], &m->svcs[hi], (m->n_svcs - hi) * sizeof(*m->svcs));
	if (nn)
		memcpy(&m->svcs[lo], nv, nn * sizeof(*nv));
	m->n_svcs = m->n_svcs - (hi - lo) + nn;
	return 0;
}

static int update_one(struct wf_proxy_model *m, const struct wf_proxy_config *cfg,
		      const struct wf_proxy_service_input *in, struct wf_proxy_model_delta *d)
{
	static const int families[] = {AF_INET, AF_INET6};
	struct wf_proxy_model scratch = {0};
	struct builder b = {.cfg = cfg, .m = &scratch, .zone = m->zone};
	struct wf_arena *old = NULL;
	char prefix[512];
	bool ignored = false, was_ignored;
	struct svc_rec *rec;
	size_t at = 0;
	int r = -ENOMEM;

	snprintf(prefix, sizeof(prefix), "%s/%s", in->namespace, in->name);
	rec = m->recs ? wf_hash_gets(m->recs, prefix) : NULL;
	was_ignored = rec && rec->ignored;
	b.a = wf_arena_new(4096, 0);
	if (!b.a)
		return -ENOMEM;
	b.slices = wf_hash_new(8);
	if (!b.slices)
		goto out;
	r = 0;
	for (size_t i = 0; !r && i < in->n_slices; i++)
		if (in->slices[i]->kind == WF_K8S_ENDPOINTSLICE)
			r = index_slice(&b, in->slices[i]);
	if (!r && in->service) {
		ignored = !wanted(&b, in->service);
		if (!ignored)
			r = build_service(&b, in->service);
	}
	if (r < 0)
		goto out;
	if (scratch.n_svcs > 1)
		qsort(scratch.svcs, scratch.n_svcs, sizeof(*scratch.svcs), svc_qcmp);
	/* The id prefix of this Service's ports: ids are "namespace/name/proto/port". */
	snprintf(prefix, sizeof(prefix), "%s/%s/", in->namespace, in->name);
	for (size_t f = 0; !r && f < 2; f++) {
		size_t k = at;

		while (k < scratch.n_svcs && scratch.svcs[k].family == families[f])
			k++;
		r = splice(m, families[f], prefix, scratch.svcs + at, k - at, d);
		at = k;
	}
	if (r < 0)
		goto out;
	r = rec_set(m, in->namespace, in->name, scratch.n_svcs ? b.a : NULL, ignored, &old);
	if (r < 0)
		goto out;
	m->n_ignored = m->n_ignored + ignored - was_ignored;
	/* The replaced entries stay readable (d's old side) until the delta is applied. */
	r = delta_retire(d, old);
	if (!r && !scratch.n_svcs)
		r = delta_retire(d, b.a);
	b.a = NULL;
out:
	wf_arena_free(b.a);
	wf_hash_free(b.slices);
	wf_free(b.cands);
	wf_free(scratch.svcs);
	return r;
}

int wf_proxy_model_update(struct wf_proxy_model *m, const struct wf_proxy_config *cfg,
			  const struct wf_proxy_service_input *in, size_t n,
			  struct wf_proxy_model_delta *d)
{
	int r = 0;

	for (size_t i = 0; !r && i < n; i++)
		r = update_one(m, cfg, &in[i], d);
	return r;
}
