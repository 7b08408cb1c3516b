/* nft text for weft's table (render.h). The layout is drawn in docs/services.md; set names,
 * keys and which elements exist come from plan.c.
 *
 * Per IP family and protocol (tcp4 ... sctp6) the table has the same sets and the same chains:
 *   svc-P    VIP keys: masquerade marks, source ranges, Local policies, affinity, then one
 *            rule per endpoint count k: key in @clsk-P -> dnat to @eps-P[key . random mod k]
 *   np-P     the same for NodePorts, keyed with address 0, behind `daddr @nodeips`
 *   local-P, nplocal-P   the Local scope: @lclsk-P -> @leps-P, else drop
 * and the filter hooks reject (or, under a Local policy, drop) keys in @empty-P. Sets that
 * few keys are in (no endpoints; source ranges and Local policies) sit behind one lookup of
 * their union, so that a plain ClusterIP costs as few lookups as possible.
 *
 * No chain has a set's name: the writer lists our chains and sets by name together. */
#include "proxy/render.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/ip.h"
#include "proxy/model.h"

#define T WF_PROXY_TABLE
/* Dynamic affinity maps must be sized (nft's default is 65535 clients). */
#define AFF_SIZE 1048576
#define MAX_TIMEOUTS 256

static const int fams[] = {AF_INET, AF_INET6};
static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP};

/* The words of one (family, protocol) as rules and set declarations use them. */
struct fp {
	int family;
	uint8_t proto;
	const char *ip;	  /* "ip" / "ip6" */
	const char *p;	  /* "tcp" */
	char sfx[8];	  /* "tcp4" */
	char fc;	  /* '4' */
	const char *zero; /* "0.0.0.0" / "::" */
};

static void fp_init(struct fp *f, int family, uint8_t proto)
{
	f->family = family;
	f->proto = proto;
	f->ip = family == AF_INET6 ? "ip6" : "ip";
	f->p = wf_proxy_ipproto_name(proto);
	f->fc = family == AF_INET6 ? '6' : '4';
	f->zero = family == AF_INET6 ? "::" : "0.0.0.0";
	snprintf(f->sfx, sizeof(f->sfx), "%s%c", f->p, f->fc);
}

int wf_proxy_render_el(const struct wf_proxy_el *e, struct wf_buf *out)
{
	char a[WF_IP_STRLEN], b[WF_CIDR_STRLEN];

	wf_ip_format(&e->addr, a);
	switch (e->set) {
	case WF_PROXY_SET_HAIRPIN:
		return wf_buf_printf(out, "%s . %s", a, a);
	case WF_PROXY_SET_EPS:
	case WF_PROXY_SET_LEPS:
		wf_ip_format(&e->to, b);
		return wf_buf_printf(out, "%s . %u . %u : %s . %u", a, e->port, e->slot, b,
				     e->to_port);
	case WF_PROXY_SET_FWALLOW:
		return wf_buf_printf(out, "%s . %u . %s", a, e->port, wf_cidr_format(&e->src, b));
	default:
		return wf_buf_printf(out, "%s . %u", a, e->port);
	}
}

/* ---- elements, sorted by set for inline rendering ---- */

struct named {
	char set[WF_PROXY_NAME_MAX];
	struct wf_proxy_el e;
};

struct all {
	struct named *v;
	size_t n, cap;
};

static int all_add(void *ud, const struct wf_proxy_el *e)
{
	struct all *a = ud;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct named *v = wf_reallocarray(a->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	wf_proxy_el_set_name(e, a->v[a->n].set);
	a->v[a->n++].e = *e;
	return 0;
}

static int named_cmp(const void *pa, const void *pb)
{
	const struct named *a = pa, *b = pb;
	int c = strcmp(a->set, b->set);

	if (!c)
		c = wf_ip_cmp(&a->e.addr, &b->e.addr);
	if (!c)
		c = (int)a->e.port - (int)b->e.port;
	if (!c)
		c = a->e.slot < b->e.slot ? -1 : a->e.slot > b->e.slot;
	if (!c)
		c = wf_ip_cmp(&a->e.src.ip, &b->e.src.ip);
	if (!c)
		c = (int)a->e.src.prefix - (int)b->e.src.prefix;
	return c;
}

/* First element of set name in the sorted list, or NULL. */
static const struct named *first_of(const struct all *a, const char *name)
{
	size_t lo = 0, hi = a ? a->n : 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(a->v[mid].set, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < (a ? a->n : 0) && !strcmp(a->v[lo].set, name) ? &a->v[lo] : NULL;
}

/* "\t<set|map> NAME { DECL; }" on one line when empty, else with the elements below. */
static int decl(struct wf_buf *b, const struct all *a, const char *kind, const char *name,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int decl(struct wf_buf *b, const struct all *a, const char *kind, const char *name,
		const char *fmt, ...)
{
	const struct named *e = first_of(a, name), *end = a ? a->v + a->n : NULL;
	va_list ap;
	int r;

	r = wf_buf_printf(b, "\t%s %s { ", kind, name);
	if (!r) {
		va_start(ap, fmt);
		r = wf_buf_vprintf(b, fmt, ap);
		va_end(ap);
	}
	if (!r && !e)
		return wf_buf_append_str(b, "; }\n");
	if (!r)
		r = wf_buf_append_str(b, "\n\t\telements = { ");
	for (size_t i = 0; !r && e < end && !strcmp(e->set, name); e++, i++) {
		if (i)
			r = wf_buf_append_str(b, ",\n\t\t\t     ");
		if (!r)
			r = wf_proxy_render_el(&e->e, b);
	}
	return r ? r : wf_buf_append_str(b, " }\n\t}\n");
}

static int render_addr_set(struct wf_buf *b, const char *name, int family, bool interval,
			   const struct wf_ip *ips, const struct wf_cidr *cidrs, size_t n)
{
	char a[WF_CIDR_STRLEN];
	size_t k = 0;
	int r;

	r = wf_buf_printf(b, "\tset %s%c { type %s;%s", name, family == AF_INET6 ? '6' : '4',
			  family == AF_INET6 ? "ipv6_addr" : "ipv4_addr",
			  interval ? " flags interval;" : "");
	for (size_t i = 0; !r && i < n; i++) {
		int f = ips ? ips[i].family : cidrs[i].ip.family;

		if (f != family)
			continue;
		if (ips)
			wf_ip_format(&ips[i], a);
		else
			wf_cidr_format(&cidrs[i], a);
		r = wf_buf_printf(b, "%s%s", k++ ? ", " : " elements = { ", a);
	}
	if (!r && k)
		r = wf_buf_append_str(b, " }");
	return r ? r : wf_buf_append_str(b, " }\n");
}

/* The sets and maps of one (family, protocol). */
static int render_fp_sets(struct wf_buf *b, const struct all *a, const struct fp *f, unsigned k,
			  const uint32_t *touts, size_t n_touts)
{
	static const char *const plain[] = {"masq",	"cmasq", "policy", "fw",  "intlocal",
					    "extlocal", "noep",	 "empty",  "keys"};
	char name[WF_PROXY_NAME_MAX];
	int r = 0;

	for (int l = 0; !r && l < 2; l++) {
		snprintf(name, sizeof(name), "%s-%s", l ? "leps" : "eps", f->sfx);
		r = decl(b, a, "map", name,
			 "typeof %s daddr . %s dport . numgen random mod 2 : %s daddr . %s dport",
			 f->ip, f->p, f->ip, f->p);
	}
	for (size_t i = 0; !r && i < sizeof(plain) / sizeof(*plain); i++) {
		snprintf(name, sizeof(name), "%s-%s", plain[i], f->sfx);
		r = decl(b, a, "set", name, "typeof %s daddr . %s dport", f->ip, f->p);
	}
	snprintf(name, sizeof(name), "fwallow-%s", f->sfx);
	if (!r)
		r = decl(b, a, "set", name, "typeof %s daddr . %s dport . %s saddr; flags interval",
			 f->ip, f->p, f->ip);
	for (size_t i = 0; !r && i < n_touts; i++) {
		snprintf(name, sizeof(name), "aff%u-%s", touts[i], f->sfx);
		r = decl(b, a, "set", name, "typeof %s daddr . %s dport", f->ip, f->p);
	}
	if (!r && n_touts)
		r = wf_buf_printf(b,
				  "\tmap aff-%s { typeof %s saddr . %s daddr . %s dport : %s daddr "
				  ". %s dport; size %u; flags dynamic,timeout; }\n",
				  f->sfx, f->ip, f->ip, f->p, f->ip, f->p, AFF_SIZE);
	for (int l = 0; !r && l < 2; l++)
		for (unsigned c = 1; !r && c <= k; c++) {
			snprintf(name, sizeof(name), "%scls%u-%s", l ? "l" : "", c, f->sfx);
			r = decl(b, a, "set", name, "typeof %s daddr . %s dport", f->ip, f->p);
		}
	return r;
}

/* svc-P (np false) or np-P (np true): the dispatch of one (family, protocol). */
static int render_dispatch(struct wf_buf *b, const struct fp *f, bool np, unsigned k, bool aff)
{
	char key[64];
	const char *ip = f->ip, *s = f->sfx, *loc = np ? "nplocal" : "local";
	const char *pol = np ? "nppol" : "pol";
	int r;

	if (np)
		snprintf(key, sizeof(key), "%s daddr & %s . %s dport", ip, f->zero, f->p);
	else
		snprintf(key, sizeof(key), "%s daddr . %s dport", ip, f->p);
	/* Source ranges and Local policies: few keys, one lookup for all others. */
	r = wf_buf_printf(b, "\n\tchain %s-%s {\n", pol, s);
	if (!r && !np)
		r = wf_buf_printf(b,
				  "\t\t%s @fw-%s %s . %s saddr != @fwallow-%s drop\n"
				  "\t\t%s @intlocal-%s goto local-%s\n",
				  key, s, key, ip, s, key, s, s);
	if (!r)
		r = wf_buf_printf(
			b,
			"\t\t%s @extlocal-%s %s saddr != @clustercidrs%c fib saddr type "
			"local meta mark set meta mark | 0x4000\n"
			"\t\t%s @extlocal-%s %s saddr != @clustercidrs%c fib saddr type != "
			"local goto %s-%s\n\t}\n",
			key, s, ip, f->fc, key, s, ip, f->fc, loc, s);
	/* The gate: a connection to anything but a service key (most new connections a node
	 * makes or forwards) leaves after one lookup, not after every rule below; NodePort
	 * addresses go on to np-P, which has its own gate. */
	if (!r)
		r = wf_buf_printf(b, "\n\tchain %s-%s {\n", np ? "np" : "svc", s);
	if (!r && np)
		r = wf_buf_printf(b, "\t\t%s != @keys-%s return\n", key, s);
	else if (!r)
		r = wf_buf_printf(b, "\t\t%s != @keys-%s %s daddr != @nodeips%c return\n", key, s,
				  ip, f->fc);
	if (!r)
		r = wf_buf_printf(b, "\t\t%s @masq-%s meta mark set meta mark | 0x4000\n", key, s);
	if (!r && !np)
		r = wf_buf_printf(b,
				  "\t\t%s @cmasq-%s %s saddr != @clustercidrs%c meta mark set meta "
				  "mark | 0x4000\n",
				  key, s, ip, f->fc);
	if (!r)
		r = wf_buf_printf(b, "\t\t%s @policy-%s jump %s-%s\n", key, s, pol, s);
	if (!r && aff)
		r = wf_buf_printf(b, "\t\tdnat %s to %s saddr . %s daddr . %s dport map @aff-%s\n",
				  ip, ip, ip, f->p, s);
	for (unsigned c = 1; !r && c <= k; c++)
		r = wf_buf_printf(
			b, "\t\t%s @cls%u-%s dnat %s to %s . numgen random mod %u map @eps-%s\n",
			key, c, s, ip, key, c, s);
	if (!r && !np)
		r = wf_buf_printf(b, "\t\t%s daddr @nodeips%c goto np-%s\n", ip, f->fc, s);
	if (!r)
		r = wf_buf_printf(b, "\t}\n\n\tchain %s-%s {\n", loc, s);
	if (!r && aff)
		r = wf_buf_printf(b, "\t\tdnat %s to %s saddr . %s daddr . %s dport map @aff-%s\n",
				  ip, ip, ip, f->p, s);
	for (unsigned c = 1; !r && c <= k; c++)
		r = wf_buf_printf(
			b, "\t\t%s @lcls%u-%s dnat %s to %s . numgen random mod %u map @leps-%s\n",
			key, c, s, ip, key, c, s);
	return r ? r : wf_buf_append_str(b, "\t\tdrop\n\t}\n");
}

/* No endpoints: one lookup of @empty-P for VIPs (and one of @nodeips for NodePorts) on the
 * common path; the chains behind tell reject from drop. */
static int render_checks(struct wf_buf *b, const struct fp *f)
{
	const char *ip = f->ip, *s = f->sfx;

	return wf_buf_printf(
		b,
		"\t\t%s daddr . %s dport @empty-%s jump reject-%s\n"
		"\t\t%s daddr @nodeips%c %s daddr & %s . %s dport @empty-%s jump npreject-%s\n",
		ip, f->p, s, s, ip, f->fc, ip, f->zero, f->p, s, s);
}

static int render_noep_chains(struct wf_buf *b, const struct fp *f)
{
	const char *rej = f->proto == IPPROTO_TCP ? "reject with tcp reset" : "reject";
	const char *ip = f->ip, *s = f->sfx;

	return wf_buf_printf(
		b,
		"\n\tchain reject-%s {\n\t\t%s daddr . %s dport @noep-%s %s\n\t\tdrop\n\t}\n"
		"\n\tchain npreject-%s {\n\t\t%s daddr & %s . %s dport @noep-%s %s\n"
		"\t\tdrop\n\t}\n",
		s, ip, f->p, s, rej, s, ip, f->zero, f->p, s, rej);
}

/* ClientIP affinity (docs "Session affinity"): a new connection to a key in @aff<T>-P records
 * client -> endpoint in @aff-P for T seconds; the dispatch chains look clients up there
 * first. Recorded after DNAT (postrouting), where the chosen endpoint is known. */
static int render_affinity(struct wf_buf *b, const struct fp *f, uint32_t t, bool commented)
{
	const char *ip = f->ip, *s = f->sfx;
	char upd[256];

	snprintf(upd, sizeof(upd),
		 "update @aff-%s { %s saddr . ct original %s daddr . ct original proto-dst timeout "
		 "%us : %s daddr . %s dport }",
		 s, ip, ip, t, ip, f->p);
	const char *c = commented ? "# " : "";

	return wf_buf_printf(
		b,
		"\t\t%smeta l4proto %s ct status dnat ct original %s daddr . ct original "
		"proto-dst @aff%u-%s %s\n"
		"\t\t%smeta l4proto %s ct status dnat ct original %s daddr @nodeips%c ct "
		"original %s daddr & %s . ct original proto-dst @aff%u-%s %s\n",
		c, f->p, ip, t, s, upd, c, f->p, ip, f->fc, ip, f->zero, t, s, upd);
}

/* The no-endpoints check sits in the nat chains, before the dispatch: they see only a
 * connection's first packet, so established and untracked traffic pays nothing for it, and no
 * filter hook is registered at all (a hook costs every packet that crosses it). */
static const char *const base =
	"\n\tchain nat-prerouting {\n"
	"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	"\t\tjump endpoints-check\n"
	"\t\tjump services\n"
	"\t}\n\n"
	"\tchain nat-output {\n"
	"\t\ttype nat hook output priority -100; policy accept;\n"
	"\t\tjump endpoints-check\n"
	"\t\tjump services\n"
	"\t}\n\n"
	"\tchain masquerading {\n"
	"\t\tct status dnat ip saddr . ip daddr @hairpin4 meta mark set meta mark | 0x4000\n"
	"\t\tct status dnat ip6 saddr . ip6 daddr @hairpin6 meta mark set meta mark | 0x4000\n";

static const char *const masquerade_tail = "\t\tmeta mark & 0x4000 == 0 return\n"
					   "\t\tmeta mark set meta mark ^ 0x4000\n"
					   "\t\tmasquerade fully-random\n"
					   "\t}\n";

/* Pod traffic without conntrack (docs/services.md): pod-to-pod TCP and UDP that is not for
 * this node skips conntrack, which is sound only while nothing here NATs a connection whose
 * replies would be pod-to-pod. So every connection from a pod that some DNAT on this node
 * rewrites (a Service's, when the socket-level balancer did not; a hostPort's) is also
 * masqueraded: its replies come to an address of this node, which conntrack still tracks. */
static const char *const pod_notrack_masq =
	"\t\tct status dnat ip saddr @clustercidrs4 meta mark set meta mark | 0x4000\n"
	"\t\tct status dnat ip6 saddr @clustercidrs6 meta mark set meta mark | 0x4000\n";

/* raw-prerouting (and pod-notrack4/6 where a family has several cluster CIDRs). The CIDRs are
 * written into the rules, one prefix test each, rather than looked up in @clustercidrs: an
 * interval set lookup per packet costs more than the few compares a cluster's handful of CIDRs
 * needs. With one CIDR per family (the usual cluster) the test is one rule, without a jump.
 * The destination is tested first: most packets that are not pod-to-pod leave after one
 * compare. Last, the node's own addresses in the CIDRs (@nodepodaddrs: the pods' gateway)
 * stay tracked - one hash lookup; `fib daddr type local` said the same for 3 us more per
 * connection in the lab (bench/services/RESULTS.md). */
static int render_pod_notrack(const struct wf_proxy_model *m, struct wf_buf *b)
{
	static const char *const tail[2] = {"ip daddr != @nodepodaddrs4 notrack",
					    "ip6 daddr != @nodepodaddrs6 notrack"};
	size_t n[2] = {0};
	char c[WF_CIDR_STRLEN], d[WF_CIDR_STRLEN];
	int r;

	for (size_t i = 0; i < m->n_cluster_cidrs; i++)
		n[m->cluster_cidrs[i].ip.family == AF_INET6]++;
	r = wf_buf_append_str(b, "\n\tchain raw-prerouting {\n"
				 "\t\ttype filter hook prerouting priority raw; policy accept;\n");
	/* the fabric's encapsulated pod traffic, arriving from other nodes */
	if (!r && m->tunnel_port)
		r = wf_buf_printf(b, "\t\tudp dport %u notrack\n", m->tunnel_port);
	for (size_t i = 0; !r && i < m->n_cluster_cidrs; i++) {
		const struct wf_cidr *x = &m->cluster_cidrs[i];
		bool v6 = x->ip.family == AF_INET6;
		const char *ip = v6 ? "ip6" : "ip";

		wf_cidr_format(x, c);
		if (n[v6] == 1)
			r = wf_buf_printf(b, "\t\t%s daddr %s %s saddr %s %s\n", ip, c, ip,
					  wf_cidr_format(x, d), tail[v6]);
		else
			r = wf_buf_printf(b, "\t\t%s daddr %s jump pod-notrack%c\n", ip, c,
					  v6 ? '6' : '4');
	}
	if (!r)
		r = wf_buf_append_str(b, "\t}\n");
	/* ...and leaving for them: the tunnel's packets are sent by the node itself */
	if (!r && m->tunnel_port)
		r = wf_buf_printf(b,
				  "\n\tchain raw-output {\n"
				  "\t\ttype filter hook output priority raw; policy accept;\n"
				  "\t\tudp dport %u notrack\n\t}\n",
				  m->tunnel_port);
	for (size_t f = 0; !r && f < 2; f++) {
		bool v6 = fams[f] == AF_INET6;

		if (n[v6] < 2)
			continue;
		r = wf_buf_printf(b, "\n\tchain pod-notrack%c {\n", v6 ? '6' : '4');
		for (size_t i = 0; !r && i < m->n_cluster_cidrs; i++)
			if (m->cluster_cidrs[i].ip.family == fams[f])
				r = wf_buf_printf(b, "\t\t%s saddr %s %s\n", v6 ? "ip6" : "ip",
						  wf_cidr_format(&m->cluster_cidrs[i], c),
						  tail[v6]);
		if (!r)
			r = wf_buf_append_str(b, "\t}\n");
	}
	return r;
}

static int render_table(const struct wf_proxy_model *m, const struct all *a, struct wf_buf *out)
{
	uint32_t touts[MAX_TIMEOUTS];
	size_t n_touts = wf_proxy_plan_timeouts(m, touts, MAX_TIMEOUTS);
	unsigned k = wf_proxy_plan_classes(m);
	struct fp f;
	int r;

	if (n_touts > MAX_TIMEOUTS)
		return -WF_E_TOO_BIG;
	r = wf_buf_append_str(out, "table inet " T " {\n"
				   "\tcomment \"weft service proxy: generated, do not edit\"\n\n");
	for (size_t i = 0; !r && i < 2; i++)
		r = render_addr_set(out, "nodeips", fams[i], false, m->node_ips, NULL,
				    m->n_node_ips);
	for (size_t i = 0; !r && i < 2; i++)
		r = render_addr_set(out, "clustercidrs", fams[i], true, NULL, m->cluster_cidrs,
				    m->n_cluster_cidrs);
	for (size_t i = 0; !r && m->pod_notrack && i < 2; i++)
		r = render_addr_set(out, "nodepodaddrs", fams[i], false, m->node_pod_addrs, NULL,
				    m->n_node_pod_addrs);
	for (size_t i = 0; !r && i < 2; i++) {
		const char *t = fams[i] == AF_INET6 ? "ipv6_addr" : "ipv4_addr";
		char name[16];

		snprintf(name, sizeof(name), "hairpin%c", fams[i] == AF_INET6 ? '6' : '4');
		r = decl(out, a, "set", name, "type %s . %s", t, t);
	}
	for (size_t i = 0; !r && i < 2; i++)
		for (size_t j = 0; !r && j < 3; j++) {
			fp_init(&f, fams[i], protos[j]);
			r = render_fp_sets(out, a, &f, k, touts, n_touts);
		}
	if (!r)
		r = wf_buf_append_str(out, base);
	if (!r && m->pod_notrack)
		r = wf_buf_append_str(out, pod_notrack_masq);
	if (!r)
		r = wf_buf_append_str(out, masquerade_tail);
	if (!r && m->pod_notrack)
		r = render_pod_notrack(m, out);
	if (!r)
		r = wf_buf_append_str(
			out,
			"\n\tchain services {\n"
			"\t\tmeta nfproto . meta l4proto vmap { ipv4 . tcp : goto svc-tcp4, "
			"ipv4 . udp : goto svc-udp4, ipv4 . sctp : goto svc-sctp4, ipv6 . tcp "
			": goto svc-tcp6, ipv6 . udp : goto svc-udp6, ipv6 . sctp : goto "
			"svc-sctp6 }\n\t}\n"
			"\n\tchain block-tag {\n"
			"\t\t# never traversed: the agent adds a rule whose comment names this block\n"
			"\t\t# (a hash of its text) once the block and its netlink-written rules are in\n"
			"\t}\n");
	if (!r)
		r = wf_buf_printf(out,
				  "\n\tchain nat-postrouting {\n"
				  "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
				  "%s\t\tjump masquerading\n\t}\n",
				  n_touts ? "\t\tjump affinity\n\t\tjump affinity6\n" : "");
	if (!r && n_touts) {
		r = wf_buf_append_str(out, "\n\tchain affinity {\n");
		for (size_t t = 0; !r && t < n_touts; t++)
			for (size_t j = 0; !r && j < 3; j++) {
				fp_init(&f, AF_INET, protos[j]);
				r = render_affinity(out, &f, touts[t], false);
			}
		if (!r)
			r = wf_buf_append_str(
				out,
				"\t}\n\n\tchain affinity6 {\n"
				"\t\t# the same for IPv6, written by the agent over netlink: nft 1.0.6\n"
				"\t\t# cannot write an update of a map keyed by an IPv6 concatenation\n");
		for (size_t t = 0; !r && t < n_touts; t++)
			for (size_t j = 0; !r && j < 3; j++) {
				fp_init(&f, AF_INET6, protos[j]);
				r = render_affinity(out, &f, touts[t], true);
			}
		if (!r)
			r = wf_buf_append_str(out, "\t}\n");
	}
	if (!r)
		r = wf_buf_append_str(out, "\n\tchain endpoints-check {\n");
	for (size_t i = 0; !r && i < 2; i++)
		for (size_t j = 0; !r && j < 3; j++) {
			fp_init(&f, fams[i], protos[j]);
			r = render_checks(out, &f);
		}
	if (!r)
		r = wf_buf_append_str(out, "\t}\n");
	for (size_t i = 0; !r && i < 2; i++)
		for (size_t j = 0; !r && j < 3; j++) {
			fp_init(&f, fams[i], protos[j]);
			r = render_noep_chains(out, &f);
		}
	for (size_t i = 0; !r && i < 2; i++)
		for (size_t j = 0; !r && j < 3; j++) {
			fp_init(&f, fams[i], protos[j]);
			r = render_dispatch(out, &f, false, k, n_touts > 0);
			if (!r)
				r = render_dispatch(out, &f, true, k, n_touts > 0);
		}
	return r ? r : wf_buf_append_str(out, "}\n");
}

int wf_proxy_render_block(const struct wf_proxy_model *m, struct wf_buf *out)
{
	return render_table(m, NULL, out);
}

int wf_proxy_render(const struct wf_proxy_model *m, struct wf_buf *out)
{
	struct all a = {0};
	int r = wf_proxy_plan_all(m, all_add, &a);

	if (!r && a.n)
		qsort(a.v, a.n, sizeof(*a.v), named_cmp);
	if (!r)
		r = render_table(m, &a, out);
	wf_free(a.v);
	return r;
}
