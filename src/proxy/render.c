/* nft text for weft's table (render.h). The layout is drawn in docs/services.md; the names,
 * keys and verdicts come from plan.c. */
#include "proxy/render.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/ip.h"
#include "proxy/model.h"
#include "proxy/nft-plan.h"

#define T WF_PROXY_TABLE

static const char *fam_ip(int family)
{
	return family == AF_INET6 ? "ip6" : "ip";
}

static const char *fam_addr(int family)
{
	return family == AF_INET6 ? "ipv6_addr" : "ipv4_addr";
}

static const char *proto_str(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_SCTP ? "sctp" : "tcp";
}

/* The key (and data) of one global element, as nft writes it. */
static int put_elem(struct wf_buf *b, const struct wf_proxy_elem *e)
{
	char a[WF_IP_STRLEN];

	switch (e->map) {
	case WF_PROXY_GMAP_SERVICES:
	case WF_PROXY_GMAP_NOEP:
		if (wf_buf_printf(b, "%s . %s . %u", wf_ip_format(&e->addr, a), proto_str(e->proto),
				  e->port))
			return -ENOMEM;
		break;
	case WF_PROXY_GMAP_NODEPORTS:
	case WF_PROXY_GMAP_NOEP_NP:
		if (wf_buf_printf(b, "%s . %u", proto_str(e->proto), e->port))
			return -ENOMEM;
		break;
	case WF_PROXY_GMAP_HAIRPIN:
		wf_ip_format(&e->addr, a);
		return wf_buf_printf(b, "%s . %s", a, a);
	default:
		return -EINVAL;
	}
	switch (e->verdict) {
	case WF_PROXY_V_GOTO:
		return wf_buf_printf(b, " : goto %s", e->chain);
	case WF_PROXY_V_JUMP:
		return wf_buf_printf(b, " : jump %s", e->chain);
	case WF_PROXY_V_DROP:
		return wf_buf_printf(b, " : drop");
	default:
		return 0;
	}
}

int wf_proxy_render_elem(const struct wf_proxy_elem *e, bool add, struct wf_buf *out)
{
	int r = wf_buf_printf(out, "%s element inet " T " %s { ", add ? "add" : "delete",
			      wf_proxy_gmap_name(e->map, e->family));

	if (!r)
		r = put_elem(out, e);
	if (!r)
		r = wf_buf_append_str(out, " }\n");
	return r;
}

/* Collects the elements of one global map for one family, comma-separated. */
struct collect {
	struct wf_buf *b;
	enum wf_proxy_gmap map;
	int family;
	size_t n;
};

static int collect_elem(void *ud, const struct wf_proxy_elem *e)
{
	struct collect *c = ud;
	int r;

	if (e->map != c->map || e->family != c->family)
		return 0;
	r = wf_buf_append_str(c->b, c->n++ ? ",\n\t\t\t     " : "\t\telements = { ");
	return r ? r : put_elem(c->b, e);
}

static int render_gmap(const struct wf_proxy_model *m, struct wf_buf *b, enum wf_proxy_gmap map,
		       int family)
{
	struct collect c = {.b = b, .map = map, .family = family};
	const char *fa = fam_addr(family);
	int r;

	r = wf_buf_printf(b, "\t%s %s {\n\t\ttype ", map == WF_PROXY_GMAP_HAIRPIN ? "set" : "map",
			  wf_proxy_gmap_name(map, family));
	if (r)
		return r;
	switch (map) {
	case WF_PROXY_GMAP_NODEPORTS:
	case WF_PROXY_GMAP_NOEP_NP:
		r = wf_buf_append_str(b, "inet_proto . inet_service : verdict");
		break;
	case WF_PROXY_GMAP_HAIRPIN:
		r = wf_buf_printf(b, "%s . %s", fa, fa);
		break;
	default:
		r = wf_buf_printf(b, "%s . inet_proto . inet_service : verdict", fa);
		break;
	}
	if (!r)
		r = wf_buf_append_str(b, "\n");
	if (map == WF_PROXY_GMAP_HAIRPIN) {
		/* Every endpoint address once: a pod reaching itself through a Service. */
		const struct wf_ip *prev = NULL;
		char a[WF_IP_STRLEN];

		/* Endpoints are sorted per service, not globally: a small sort-free dedupe
		 * through a sorted copy keeps output stable. */
		size_t total = 0, k = 0;
		struct wf_ip *all;

		for (size_t i = 0; i < m->n_svcs; i++)
			if (m->svcs[i].family == family)
				total += m->svcs[i].n_eps + m->svcs[i].n_local_eps;
		all = total ? wf_reallocarray(NULL, total, sizeof(*all)) : NULL;
		if (total && !all)
			return -ENOMEM;
		for (size_t i = 0; i < m->n_svcs; i++) {
			const struct wf_proxy_svc *s = &m->svcs[i];

			if (s->family != family)
				continue;
			for (size_t j = 0; j < s->n_eps; j++)
				all[k++] = s->eps[j].ip;
			for (size_t j = 0; j < s->n_local_eps; j++)
				all[k++] = s->local_eps[j].ip;
		}
		if (k)
			qsort(all, k, sizeof(*all), (int (*)(const void *, const void *))wf_ip_cmp);
		for (size_t i = 0; !r && i < k; i++) {
			if (prev && wf_ip_equal(prev, &all[i]))
				continue;
			wf_ip_format(&all[i], a);
			r = wf_buf_printf(b, "%s%s . %s",
					  c.n++ ? ",\n\t\t\t     " : "\t\telements = { ", a, a);
			prev = &all[i];
		}
		wf_free(all);
	} else {
		for (size_t i = 0; !r && i < m->n_svcs; i++)
			if (m->svcs[i].family == family)
				r = wf_proxy_svc_elems(m, &m->svcs[i], collect_elem, &c);
	}
	if (!r && c.n)
		r = wf_buf_append_str(b, " }\n");
	if (!r)
		r = wf_buf_append_str(b, "\t}\n\n");
	return r;
}

static int render_addr_set(struct wf_buf *b, const char *name, int family, bool interval,
			   const struct wf_ip *ips, const struct wf_cidr *cidrs, size_t n)
{
	char a[WF_CIDR_STRLEN];
	size_t k = 0;
	int r;

	r = wf_buf_printf(b, "\tset %s%c {\n\t\ttype %s\n%s", name, family == AF_INET6 ? '6' : '4',
			  fam_addr(family), interval ? "\t\tflags interval\n" : "");
	for (size_t i = 0; !r && i < n; i++) {
		int f = ips ? ips[i].family : cidrs[i].ip.family;

		if (f != family)
			continue;
		if (ips)
			wf_ip_format(&ips[i], a);
		else
			wf_cidr_format(&cidrs[i], a);
		r = wf_buf_printf(b, "%s%s", k++ ? ", " : "\t\telements = { ", a);
	}
	if (!r && k)
		r = wf_buf_append_str(b, " }\n");
	return r ? r : wf_buf_append_str(b, "\t}\n\n");
}

static const char *const base =
	"\tchain reject-chain {\n"
	"\t\tmeta l4proto tcp reject with tcp reset\n"
	"\t\treject\n"
	"\t}\n\n"
	"\tchain filter-input {\n"
	"\t\ttype filter hook input priority -110; policy accept;\n"
	"\t\tct state new jump endpoints-check\n"
	"\t}\n\n"
	"\tchain filter-forward {\n"
	"\t\ttype filter hook forward priority -110; policy accept;\n"
	"\t\tct state new jump endpoints-check\n"
	"\t}\n\n"
	"\tchain filter-output {\n"
	"\t\ttype filter hook output priority -110; policy accept;\n"
	"\t\tct state new jump endpoints-check\n"
	"\t}\n\n"
	"\tchain endpoints-check {\n"
	"\t\tip daddr . meta l4proto . th dport vmap @no-endpoints4\n"
	"\t\tip6 daddr . meta l4proto . th dport vmap @no-endpoints6\n"
	"\t\tip daddr @nodeips4 meta l4proto . th dport vmap @no-endpoint-nodeports4\n"
	"\t\tip6 daddr @nodeips6 meta l4proto . th dport vmap @no-endpoint-nodeports6\n"
	"\t}\n\n"
	"\tchain nat-prerouting {\n"
	"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	"\t\tjump services\n"
	"\t}\n\n"
	"\tchain nat-output {\n"
	"\t\ttype nat hook output priority -100; policy accept;\n"
	"\t\tjump services\n"
	"\t}\n\n"
	"\tchain nat-postrouting {\n"
	"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	"\t\tjump masquerading\n"
	"\t}\n\n"
	"\tchain services {\n"
	"\t\tip daddr . meta l4proto . th dport vmap @services4\n"
	"\t\tip6 daddr . meta l4proto . th dport vmap @services6\n"
	"\t\tip daddr @nodeips4 meta l4proto . th dport vmap @nodeports4\n"
	"\t\tip6 daddr @nodeips6 meta l4proto . th dport vmap @nodeports6\n"
	"\t}\n\n"
	"\tchain masquerading {\n"
	"\t\tct status dnat ip saddr . ip daddr @hairpin4 meta mark set meta mark | 0x4000\n"
	"\t\tct status dnat ip6 saddr . ip6 daddr @hairpin6 meta mark set meta mark | 0x4000\n"
	"\t\tmeta mark & 0x4000 == 0 return\n"
	"\t\tmeta mark set meta mark ^ 0x4000\n"
	"\t\tmasquerade fully-random\n"
	"\t}\n";

/* Union of the cluster and local endpoints of an affinity service (each has an ep chain and
 * an aff set), sorted; into a wf_malloc'd array. */
static int ep_union(const struct wf_proxy_svc *s, struct wf_proxy_endpoint **ret, size_t *ret_n)
{
	size_t n = 0, i = 0, j = 0;
	struct wf_proxy_endpoint *u;

	*ret = NULL;
	*ret_n = 0;
	if (!s->n_eps && !s->n_local_eps)
		return 0;
	u = wf_reallocarray(NULL, s->n_eps + s->n_local_eps, sizeof(*u));
	if (!u)
		return -ENOMEM;
	while (i < s->n_eps || j < s->n_local_eps) {
		int c;

		if (i == s->n_eps)
			c = 1;
		else if (j == s->n_local_eps)
			c = -1;
		else
			c = wf_proxy_ep_cmp(&s->eps[i], &s->local_eps[j]);
		if (c <= 0) {
			u[n++] = s->eps[i++];
			j += c == 0;
		} else {
			u[n++] = s->local_eps[j++];
		}
	}
	*ret = u;
	*ret_n = n;
	return 0;
}

static int fmt_ep(char *buf, size_t len, const struct wf_proxy_svc *s,
		  const struct wf_proxy_endpoint *ep)
{
	char a[WF_IP_STRLEN];

	wf_ip_format(&ep->ip, a);
	return snprintf(buf, len, s->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, ep->port);
}

/* The rules of an lb/llb chain: one random pick among n endpoints, in the kernel, for each new
 * connection - a cascade where rule i matches with probability 1/(n-i), which makes every
 * endpoint equally likely and needs no set (named sets cost the kernel a linear search by name
 * on every reference, which made 10,000-service loads quadratic). With affinity, the
 * endpoints' client sets are checked first. Each rule is prefixed with prefix (indentation, or
 * "add rule inet weft CHAIN "). */
static int render_lb_rules(struct wf_buf *b, const struct wf_proxy_svc *s, const char *prefix,
			   const struct wf_proxy_endpoint *eps, size_t n)
{
	const char *ip = fam_ip(s->family), *p = wf_proxy_proto_name(s->protocol);
	char name[WF_PROXY_NAME_MAX], name2[WF_PROXY_NAME_MAX], to[WF_IP_STRLEN + 10];
	int r = 0;

	if (!n)
		return wf_buf_printf(b, "%sdrop\n", prefix);
	/* ClientIP affinity (docs "Session affinity"; kube-proxy's layout): a client seen by
	 * an endpoint within the timeout goes back to it. */
	for (size_t i = 0; !r && s->affinity_timeout && i < n; i++)
		r = wf_buf_printf(b, "%s%s saddr @%s goto %s\n", prefix, ip,
				  wf_proxy_ep_name(name, "aff", s, &eps[i]),
				  wf_proxy_ep_name(name2, "ep", s, &eps[i]));
	for (size_t i = 0; !r && i < n; i++) {
		if (i + 1 < n)
			r = wf_buf_printf(b, "%snumgen random mod %zu 0 ", prefix, n - i);
		else
			r = wf_buf_append_str(b, prefix);
		if (!r && s->affinity_timeout)
			r = wf_buf_printf(b, "goto %s\n", wf_proxy_ep_name(name, "ep", s, &eps[i]));
		else if (!r) {
			fmt_ep(to, sizeof(to), s, &eps[i]);
			r = wf_buf_printf(b, "meta l4proto %s dnat %s to %s\n", p, ip, to);
		}
	}
	return r;
}

/* The chain and client set of one endpoint of an affinity service, as a table-block fragment
 * (block) or as standalone commands. */
static int render_aff_ep(struct wf_buf *b, const struct wf_proxy_svc *s,
			 const struct wf_proxy_endpoint *ep, bool block)
{
	const char *ip = fam_ip(s->family), *fa = fam_addr(s->family);
	char set[WF_PROXY_NAME_MAX], chain[WF_PROXY_NAME_MAX], to[WF_IP_STRLEN + 10];

	wf_proxy_ep_name(set, "aff", s, ep);
	wf_proxy_ep_name(chain, "ep", s, ep);
	fmt_ep(to, sizeof(to), s, ep);
	if (block)
		return wf_buf_printf(b,
				     "\tset %s {\n\t\ttype %s\n\t\tflags dynamic,timeout\n"
				     "\t\ttimeout %us\n\t}\n\n"
				     "\tchain %s {\n\t\tupdate @%s { %s saddr }\n"
				     "\t\tmeta l4proto %s dnat %s to %s\n\t}\n\n",
				     set, fa, s->affinity_timeout, chain, set, ip,
				     wf_proxy_proto_name(s->protocol), ip, to);
	return wf_buf_printf(b,
			     "add set inet " T
			     " %s { type %s; flags dynamic,timeout; timeout %us; }\n"
			     "add chain inet " T " %s\n"
			     "add rule inet " T " %s update @%s { %s saddr }\n"
			     "add rule inet " T " %s meta l4proto %s dnat %s to %s\n",
			     set, fa, s->affinity_timeout, chain, chain, set, ip, chain,
			     wf_proxy_proto_name(s->protocol), ip, to);
}

static int render_aff_ep_delete(struct wf_buf *b, const struct wf_proxy_svc *s,
				const struct wf_proxy_endpoint *ep)
{
	char set[WF_PROXY_NAME_MAX], chain[WF_PROXY_NAME_MAX];

	wf_proxy_ep_name(set, "aff", s, ep);
	wf_proxy_ep_name(chain, "ep", s, ep);
	return wf_buf_printf(b,
			     "flush chain inet " T " %s\ndelete chain inet " T " %s\n"
			     "delete set inet " T " %s\n",
			     chain, chain, set);
}

static int render_svc(const struct wf_proxy_model *m, const struct wf_proxy_svc *s,
		      struct wf_buf *b)
{
	char svc[WF_PROXY_NAME_MAX], ext[WF_PROXY_NAME_MAX], fw[WF_PROXY_NAME_MAX],
		lb[WF_PROXY_NAME_MAX], llb[WF_PROXY_NAME_MAX];
	const char *ip = fam_ip(s->family);
	char fc = s->family == AF_INET6 ? '6' : '4';
	bool cidr = wf_proxy_has_cidr(m, s->family);
	struct wf_proxy_objs o;
	int r = 0;

	wf_proxy_svc_objs(s, &o);
	wf_proxy_obj_name(svc, "svc", s);
	wf_proxy_obj_name(ext, "ext", s);
	wf_proxy_obj_name(fw, "fw", s);
	wf_proxy_obj_name(lb, "lb", s);
	wf_proxy_obj_name(llb, "llb", s);

	if (o.aff) {
		struct wf_proxy_endpoint *u;
		size_t n;

		r = ep_union(s, &u, &n);
		for (size_t i = 0; !r && i < n; i++)
			r = render_aff_ep(b, s, &u[i], true);
		wf_free(u);
	}
	/* In-cluster traffic to the cluster IP. Masquerade what comes from outside the
	 * cluster CIDR (the node itself, hosts beyond it), KEP-3866 "Masquerading". */
	if (!r)
		r = wf_buf_printf(b, "\tchain %s {\n", svc);
	if (!r && m->masquerade_all)
		r = wf_buf_append_str(b, "\t\tmeta mark set meta mark | 0x4000\n");
	else if (!r && cidr && !s->internal_local)
		r = wf_buf_printf(
			b, "\t\t%s saddr != @clustercidrs%c meta mark set meta mark | 0x4000\n", ip,
			fc);
	if (!r)
		r = wf_buf_printf(b, "\t\tgoto %s\n\t}\n\n", s->internal_local ? llb : lb);
	/* External traffic: NodePort, externalIPs, LB ingress IPs. */
	if (!r && o.ext) {
		r = wf_buf_printf(b, "\tchain %s {\n", ext);
		if (!r && !s->external_local) {
			r = wf_buf_printf(b, "\t\tmeta mark set meta mark | 0x4000\n\t\tgoto %s\n",
					  lb);
		} else if (!r) {
			/* Pods and the node itself reaching an eTP=Local service are
			 * short-circuited to all endpoints (docs "externalTrafficPolicy");
			 * only traffic from beyond keeps its source and needs a local one. */
			if (cidr)
				r = wf_buf_printf(b, "\t\t%s saddr @clustercidrs%c goto %s\n", ip,
						  fc, lb);
			if (!r)
				r = wf_buf_printf(
					b,
					"\t\tfib saddr type local meta mark set meta mark | 0x4000 goto %s\n"
					"\t\tgoto %s\n",
					lb, llb);
		}
		if (!r)
			r = wf_buf_append_str(b, "\t}\n\n");
	}
	if (!r && o.fw) {
		char a[WF_CIDR_STRLEN];

		r = wf_buf_printf(b, "\tchain %s {\n\t\t%s saddr { ", fw, ip);
		for (size_t i = 0; !r && i < s->n_source_ranges; i++)
			r = wf_buf_printf(b, "%s%s", i ? ", " : "",
					  wf_cidr_format(&s->source_ranges[i], a));
		if (!r)
			r = wf_buf_printf(b, " } goto %s\n\t\tdrop\n\t}\n\n", ext);
	}
	if (!r)
		r = wf_buf_printf(b, "\tchain %s {\n", lb);
	if (!r)
		r = render_lb_rules(b, s, "\t\t", s->eps, s->n_eps);
	if (!r)
		r = wf_buf_append_str(b, "\t}\n\n");
	if (!r && o.llb) {
		r = wf_buf_printf(b, "\tchain %s {\n", llb);
		if (!r)
			r = render_lb_rules(b, s, "\t\t", s->local_eps, s->n_local_eps);
		if (!r)
			r = wf_buf_append_str(b, "\t}\n\n");
	}
	return r;
}

int wf_proxy_render_svc_objs(const struct wf_proxy_model *m, const struct wf_proxy_svc *s,
			     struct wf_buf *out)
{
	int r = wf_buf_append_str(out, "table inet " T " {\n");

	if (!r)
		r = render_svc(m, s, out);
	if (!r) {
		wf_buf_truncate(out, wf_buf_len(out) - 1); /* the last blank line */
		r = wf_buf_append_str(out, "}\n");
	}
	return r;
}

int wf_proxy_render_svc_eps(const struct wf_proxy_svc *old, const struct wf_proxy_svc *s,
			    struct wf_buf *out)
{
	char lb[WF_PROXY_NAME_MAX], cmd[2 * WF_PROXY_NAME_MAX];
	struct wf_proxy_endpoint *ou = NULL, *nu = NULL;
	size_t on = 0, nn = 0;
	struct wf_proxy_objs o;
	int r = 0;

	wf_proxy_svc_objs(s, &o);
	if (o.aff) {
		/* Endpoints that stay keep their chain and their clients. */
		r = ep_union(old, &ou, &on);
		if (!r)
			r = ep_union(s, &nu, &nn);
		for (size_t i = 0, j = 0; !r && j < nn; j++) {
			while (i < on && wf_proxy_ep_cmp(&ou[i], &nu[j]) < 0)
				i++;
			if (i == on || wf_proxy_ep_cmp(&ou[i], &nu[j]))
				r = render_aff_ep(out, s, &nu[j], false);
		}
	}
	for (int local = 0; !r && local <= (int)o.llb; local++) {
		wf_proxy_obj_name(lb, local ? "llb" : "lb", s);
		snprintf(cmd, sizeof(cmd), "add rule inet " T " %s ", lb);
		r = wf_buf_printf(out, "flush chain inet " T " %s\n", lb);
		if (!r)
			r = render_lb_rules(out, s, cmd, local ? s->local_eps : s->eps,
					    local ? s->n_local_eps : s->n_eps);
	}
	for (size_t i = 0, j = 0; !r && i < on; i++) {
		while (j < nn && wf_proxy_ep_cmp(&nu[j], &ou[i]) < 0)
			j++;
		if (j == nn || wf_proxy_ep_cmp(&nu[j], &ou[i]))
			r = render_aff_ep_delete(out, old, &ou[i]);
	}
	wf_free(ou);
	wf_free(nu);
	return r;
}

int wf_proxy_render_svc_delete(const struct wf_proxy_svc *s, struct wf_buf *out)
{
	static const char *const chains[] = {"svc", "ext", "fw", "lb", "llb"};
	char name[WF_PROXY_NAME_MAX];
	bool have[5] = {true, false, false, true, false};
	struct wf_proxy_objs o;
	int r = 0;

	wf_proxy_svc_objs(s, &o);
	have[1] = o.ext;
	have[2] = o.fw;
	have[4] = o.llb;
	/* Rules go first so that nothing references the maps and chains when they go. */
	for (size_t i = 0; !r && i < 5; i++)
		if (have[i])
			r = wf_buf_printf(out, "flush chain inet " T " %s\n",
					  wf_proxy_obj_name(name, chains[i], s));
	for (size_t i = 0; !r && i < 5; i++)
		if (have[i])
			r = wf_buf_printf(out, "delete chain inet " T " %s\n",
					  wf_proxy_obj_name(name, chains[i], s));
	if (o.aff) {
		struct wf_proxy_endpoint *u;
		size_t n;

		if (!r)
			r = ep_union(s, &u, &n);
		for (size_t i = 0; !r && i < n; i++)
			r = render_aff_ep_delete(out, s, &u[i]);
		if (!r)
			wf_free(u);
	}
	return r;
}

int wf_proxy_render(const struct wf_proxy_model *m, struct wf_buf *out)
{
	static const int fams[] = {AF_INET, AF_INET6};
	int r;

	r = wf_buf_append_str(out, "table inet " T " {\n"
				   "\tcomment \"weft service proxy: generated, do not edit\"\n\n");
	for (size_t f = 0; !r && f < 2; f++)
		r = render_addr_set(out, "nodeips", fams[f], false, m->node_ips, NULL,
				    m->n_node_ips);
	for (size_t f = 0; !r && f < 2; f++)
		r = render_addr_set(out, "clustercidrs", fams[f], true, NULL, m->cluster_cidrs,
				    m->n_cluster_cidrs);
	for (int g = 0; !r && g < WF_PROXY_GMAP_COUNT; g++)
		for (size_t f = 0; !r && f < 2; f++)
			r = render_gmap(m, out, (enum wf_proxy_gmap)g, fams[f]);
	if (!r)
		r = wf_buf_append_str(out, base);
	for (size_t i = 0; !r && i < m->n_svcs; i++) {
		r = wf_buf_append_str(out, "\n");
		if (!r)
			r = render_svc(m, &m->svcs[i], out);
		if (!r)
			wf_buf_truncate(out, wf_buf_len(out) - 1);
	}
	return r ? r : wf_buf_append_str(out, "}\n");
}
