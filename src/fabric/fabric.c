/* The fabric core: desired state from nodes, diff against the installed state, apply. */
#include "fabric/fabric.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "lib/ip.h"
#include "lib/log.h"

#define LOG_SUB "fabric"

struct wf_fabric {
	enum wf_fabric_mode mode;
	char *node_name;
	struct wf_fabric_backend *be;
	struct wf_fabric_stats stats;
	unsigned pod_mtu;
	bool forwarding4, forwarding6; /* switched on already */
	uint64_t warn_hash; /* of the last warnings logged, so that each is logged once */
	char error[256];
	char warn[512];
	size_t warn_len;
	char *fp_bridge;      /* the pods' bridge when the fast path is wanted, else NULL */
	bool fp_pod_notrack;  /* wf_fabric_set_pod_notrack() */
	bool fp_asked;	      /* a fast path state (on or off) was asked of the backend */
	uint64_t fp_err_hash; /* of the last fast path problem logged */
};

int wf_fabric_mode_parse(const char *s, enum wf_fabric_mode *ret)
{
	if (strcmp(s, "vxlan") == 0)
		*ret = WF_FABRIC_VXLAN;
	else if (strcmp(s, "host-gw") == 0)
		*ret = WF_FABRIC_HOST_GW;
	else
		return -EINVAL;
	return 0;
}

const char *wf_fabric_mode_name(enum wf_fabric_mode mode)
{
	return mode == WF_FABRIC_VXLAN ? "vxlan" : "host-gw";
}

void wf_fabric_vtep_mac(const struct wf_ip *ip, uint8_t ret[6])
{
	/* 0x0e: locally administered (bit 1), unicast (bit 0 clear). */
	ret[0] = 0x0e;
	ret[1] = 0x57;
	if (ip->family == AF_INET) {
		memcpy(ret + 2, ip->addr, 4);
	} else {
		uint64_t h = wf_hash_seeded(ip->addr, 16, 0x77656674);
		memcpy(ret + 2, &h, 4);
	}
}

int wf_fabric_node_from_k8s(const struct wf_k8s_object *obj, struct wf_fabric_node *ret)
{
	if (!obj || obj->kind != WF_K8S_NODE || !obj->node)
		return -EINVAL;
	const struct wf_k8s_node *n = obj->node;
	struct wf_fabric_node fn = {.name = obj->name};
	for (size_t i = 0; i < n->n_addresses; i++) {
		const struct wf_k8s_node_address *a = &n->addresses[i];
		if (!a->is_ip || !a->type || strcmp(a->type, "InternalIP") != 0)
			continue;
		struct wf_ip *slot = a->ip.family == AF_INET ? &fn.ip4 : &fn.ip6;
		if (slot->family == 0)
			*slot = a->ip; /* the first of each family wins, as kubelet orders them */
	}
	for (size_t i = 0; i < n->n_pod_cidrs; i++) {
		bool dup = false;
		for (size_t j = 0; j < fn.n_pod_cidrs; j++)
			dup |= fn.pod_cidrs[j].ip.family == n->pod_cidrs[i].ip.family;
		/* Node spec: at most one podCIDR per family. */
		if (!dup && fn.n_pod_cidrs < WF_FABRIC_MAX_CIDRS)
			fn.pod_cidrs[fn.n_pod_cidrs++] = n->pod_cidrs[i];
	}
	*ret = fn;
	return 0;
}

/* ---- states ---- */

void wf_fabric_state_done(struct wf_fabric_state *s)
{
	wf_free(s->routes);
	wf_free(s->neighs);
	wf_free(s->fdbs);
	memset(s, 0, sizeof(*s));
}

static int push(void **arr, size_t *n, size_t size, const void *item)
{
	/* The capacity is the smallest power of two >= n (1 for 0): grow when n is one. */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? *n * 2 : 1;
		void *p = wf_reallocarray(*arr, cap, size);
		if (!p)
			return -ENOMEM;
		*arr = p;
	}
	memcpy((char *)*arr + *n * size, item, size);
	(*n)++;
	return 0;
}

int wf_fabric_state_add_route(struct wf_fabric_state *s, const struct wf_fabric_route *r)
{
	return push((void **)&s->routes, &s->n_routes, sizeof(*r), r);
}

int wf_fabric_state_add_neigh(struct wf_fabric_state *s, const struct wf_fabric_neigh *n)
{
	return push((void **)&s->neighs, &s->n_neighs, sizeof(*n), n);
}

int wf_fabric_state_add_fdb(struct wf_fabric_state *s, const struct wf_fabric_fdb *e)
{
	return push((void **)&s->fdbs, &s->n_fdbs, sizeof(*e), e);
}

/* ---- life cycle ---- */

int wf_fabric_new(enum wf_fabric_mode mode, const char *node_name, struct wf_fabric_backend *be,
		  struct wf_fabric **ret)
{
	struct wf_fabric *f = wf_calloc(1, sizeof(*f));
	if (!f)
		goto err_be;
	f->node_name = wf_strdup(node_name);
	if (!f->node_name)
		goto err_f;
	f->mode = mode;
	f->be = be;
	*ret = f;
	return 0;
err_f:
	wf_free(f);
err_be:
	if (be)
		be->ops->free(be);
	return -ENOMEM;
}

int wf_fabric_set_fastpath(struct wf_fabric *f, const char *bridge)
{
	char *b = NULL;

	if (bridge) {
		b = wf_strdup(bridge);
		if (!b)
			return -ENOMEM;
	}
	wf_free(f->fp_bridge);
	f->fp_bridge = b;
	f->fp_asked = false;
	return 0;
}

void wf_fabric_set_pod_notrack(struct wf_fabric *f, bool on)
{
	f->fp_pod_notrack = on;
}

int wf_fabric_fastpath_stats(struct wf_fabric *f, struct wf_fabric_fastpath_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!f->be->ops->fastpath_stats)
		return 0;
	return f->be->ops->fastpath_stats(f->be, ret);
}

void wf_fabric_free(struct wf_fabric *f)
{
	if (!f)
		return;
	if (f->be)
		f->be->ops->free(f->be);
	wf_free(f->fp_bridge);
	wf_free(f->node_name);
	wf_free(f);
}

const char *wf_fabric_error(const struct wf_fabric *f)
{
	return f->error;
}

void wf_fabric_get_stats(const struct wf_fabric *f, struct wf_fabric_stats *ret)
{
	*ret = f->stats;
}

unsigned wf_fabric_pod_mtu(const struct wf_fabric *f)
{
	return f->pod_mtu;
}

/* ---- desired state ---- */

static void warn(struct wf_fabric *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct wf_fabric *f, const char *fmt, ...)
{
	if (f->warn_len + 3 >= sizeof(f->warn))
		return;
	if (f->warn_len) {
		memcpy(f->warn + f->warn_len, "; ", 2);
		f->warn_len += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(f->warn + f->warn_len, sizeof(f->warn) - f->warn_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		f->warn_len += (size_t)n;
	if (f->warn_len >= sizeof(f->warn))
		f->warn_len = sizeof(f->warn) - 1;
}

static const struct wf_ip *node_ip(const struct wf_fabric_node *n, int family)
{
	const struct wf_ip *ip = family == AF_INET ? &n->ip4 : &n->ip6;
	return ip->family ? ip : NULL;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* True when c overlaps a podCIDR already claimed by self or by an earlier node. */
static bool overlaps(const struct wf_fabric_node *nodes, size_t upto, const struct wf_cidr *c,
		     const struct wf_fabric_node *self, const char **ret_other)
{
	for (size_t k = 0; k < self->n_pod_cidrs; k++) {
		if (wf_cidr_overlaps(&self->pod_cidrs[k], c)) {
			*ret_other = self->name;
			return true;
		}
	}
	for (size_t j = 0; j < upto; j++) {
		if (&nodes[j] == self)
			continue;
		for (size_t k = 0; k < nodes[j].n_pod_cidrs; k++) {
			if (wf_cidr_overlaps(&nodes[j].pod_cidrs[k], c)) {
				*ret_other = nodes[j].name;
				return true;
			}
		}
	}
	return false;
}

/* The entries one peer needs. */
static int desire_peer(struct wf_fabric *f, const struct wf_fabric_node *nodes, size_t i,
		       const struct wf_fabric_node *self, const struct wf_ip *local, int vxif,
		       struct wf_fabric_state *want)
{
	const struct wf_fabric_node *peer = &nodes[i];
	char a[WF_CIDR_STRLEN];
	int ret;

	if (peer->n_pod_cidrs == 0)
		return 0; /* not allocated yet: nothing to route */
	if (f->mode == WF_FABRIC_VXLAN) {
		const struct wf_ip *remote = node_ip(peer, local->family);
		if (!remote) {
			warn(f, "node %s has no %s InternalIP for the VXLAN underlay", peer->name,
			     family_name(local->family));
			return 0;
		}
		struct wf_fabric_fdb fdb = {.dst = *remote, .ifindex = vxif};
		wf_fabric_vtep_mac(remote, fdb.mac);
		bool any = false;
		for (size_t k = 0; k < peer->n_pod_cidrs; k++) {
			const struct wf_cidr *c = &peer->pod_cidrs[k];
			const char *other;
			if (overlaps(nodes, i, c, self, &other)) {
				warn(f, "podCIDR %s of node %s overlaps node %s's; not routed",
				     wf_cidr_format(c, a), peer->name, other);
				continue;
			}
			/* The remote VTEP answers for the network address of each of its
			 * podCIDRs (as Flannel does): route via it onlink, resolved by a
			 * permanent neighbour entry, so the overlay never ARPs. */
			struct wf_fabric_neigh ne = {.ip = c->ip, .ifindex = vxif};
			memcpy(ne.mac, fdb.mac, 6);
			struct wf_fabric_route r = {
				.dst = *c, .gw = c->ip, .oif = vxif, .onlink = true};
			ret = wf_fabric_state_add_neigh(want, &ne);
			if (ret == 0)
				ret = wf_fabric_state_add_route(want, &r);
			if (ret < 0)
				return ret;
			any = true;
		}
		if (any)
			return wf_fabric_state_add_fdb(want, &fdb);
		return 0;
	}
	for (size_t k = 0; k < peer->n_pod_cidrs; k++) {
		const struct wf_cidr *c = &peer->pod_cidrs[k];
		const struct wf_ip *gw = node_ip(peer, c->ip.family);
		const char *other;
		if (!gw) {
			warn(f,
			     "node %s has no %s InternalIP: podCIDR %s cannot be routed by host-gw",
			     peer->name, family_name(c->ip.family), wf_cidr_format(c, a));
			continue;
		}
		if (overlaps(nodes, i, c, self, &other)) {
			warn(f, "podCIDR %s of node %s overlaps node %s's; not routed",
			     wf_cidr_format(c, a), peer->name, other);
			continue;
		}
		struct wf_fabric_route r = {.dst = *c, .gw = *gw};
		ret = wf_fabric_state_add_route(want, &r);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- diff ---- */

static bool cidr_eq(const struct wf_cidr *a, const struct wf_cidr *b)
{
	return a->prefix == b->prefix && wf_ip_equal(&a->ip, &b->ip);
}

/* An installed route satisfies a wanted one (host-gw leaves oif to the kernel). */
static bool route_same(const struct wf_fabric_route *want, const struct wf_fabric_route *have)
{
	return cidr_eq(&want->dst, &have->dst) && wf_ip_equal(&want->gw, &have->gw) &&
	       want->onlink == have->onlink && (want->oif == 0 || want->oif == have->oif);
}

static bool neigh_same(const struct wf_fabric_neigh *a, const struct wf_fabric_neigh *b)
{
	return wf_ip_equal(&a->ip, &b->ip) && a->ifindex == b->ifindex &&
	       memcmp(a->mac, b->mac, 6) == 0;
}

static bool fdb_same(const struct wf_fabric_fdb *a, const struct wf_fabric_fdb *b)
{
	return memcmp(a->mac, b->mac, 6) == 0 && a->ifindex == b->ifindex &&
	       wf_ip_equal(&a->dst, &b->dst);
}

static void describe(struct wf_fabric *f, int err, const char *what, const char *detail)
{
	if (f->error[0])
		return; /* keep the first */
	snprintf(f->error, sizeof(f->error), "%s %s: %s", what, detail, wf_strerror(err));
}

static int apply(struct wf_fabric *f, const struct wf_fabric_state *want,
		 const struct wf_fabric_state *have, const struct wf_fabric_node *nodes,
		 size_t n_nodes)
{
	const struct wf_fabric_ops *ops = f->be->ops;
	char a[WF_CIDR_STRLEN], b[WF_IP_STRLEN];
	int first = 0, ret;

	/* Adds first (FDB, then neighbours, then the routes that need them), removals last:
	 * a changed entry is replaced in one step, never removed and re-added. */
	for (size_t i = 0; i < want->n_fdbs; i++) {
		bool ok = false;
		for (size_t j = 0; j < have->n_fdbs && !ok; j++)
			ok = fdb_same(&want->fdbs[i], &have->fdbs[j]);
		if (ok)
			continue;
		ret = ops->fdb_replace(f->be, &want->fdbs[i]);
		if (ret < 0) {
			describe(f, ret, "adding FDB entry for VTEP",
				 wf_ip_format(&want->fdbs[i].dst, b));
			first = first ? first : ret;
		} else {
			f->stats.added++;
		}
	}
	for (size_t i = 0; i < want->n_neighs; i++) {
		bool ok = false;
		for (size_t j = 0; j < have->n_neighs && !ok; j++)
			ok = neigh_same(&want->neighs[i], &have->neighs[j]);
		if (ok)
			continue;
		ret = ops->neigh_replace(f->be, &want->neighs[i]);
		if (ret < 0) {
			describe(f, ret, "adding neighbour", wf_ip_format(&want->neighs[i].ip, b));
			first = first ? first : ret;
		} else {
			f->stats.added++;
		}
	}
	for (size_t i = 0; i < want->n_routes; i++) {
		const struct wf_fabric_route *r = &want->routes[i];
		bool ok = false;
		for (size_t j = 0; j < have->n_routes && !ok; j++)
			ok = route_same(r, &have->routes[j]);
		if (ok)
			continue;
		ret = ops->route_replace(f->be, r);
		if (ret == -ENETUNREACH && f->mode == WF_FABRIC_HOST_GW) {
			const char *name = "?";
			for (size_t k = 0; k < n_nodes; k++) {
				const struct wf_ip *ip = node_ip(&nodes[k], r->gw.family);
				if (ip && wf_ip_equal(ip, &r->gw))
					name = nodes[k].name;
			}
			if (!f->error[0])
				snprintf(f->error, sizeof(f->error),
					 "node %s (%s) is not on-link: host-gw needs every node on "
					 "one L2 segment; podCIDR %s not routed",
					 name, wf_ip_format(&r->gw, b), wf_cidr_format(&r->dst, a));
			first = first ? first : ret;
		} else if (ret < 0) {
			describe(f, ret, "adding route to", wf_cidr_format(&r->dst, a));
			first = first ? first : ret;
		} else {
			f->stats.added++;
		}
	}
	for (size_t j = 0; j < have->n_routes; j++) {
		bool keep = false;
		for (size_t i = 0; i < want->n_routes && !keep; i++)
			keep = cidr_eq(&want->routes[i].dst, &have->routes[j].dst);
		if (keep)
			continue; /* replaced above if it differed */
		ret = ops->route_del(f->be, &have->routes[j]);
		if (ret < 0 && ret != -ESRCH) {
			describe(f, ret, "removing route to",
				 wf_cidr_format(&have->routes[j].dst, a));
			first = first ? first : ret;
		} else {
			f->stats.removed++;
		}
	}
	for (size_t j = 0; j < have->n_neighs; j++) {
		bool keep = false;
		for (size_t i = 0; i < want->n_neighs && !keep; i++)
			keep = wf_ip_equal(&want->neighs[i].ip, &have->neighs[j].ip) &&
			       want->neighs[i].ifindex == have->neighs[j].ifindex;
		if (keep)
			continue;
		ret = ops->neigh_del(f->be, &have->neighs[j]);
		if (ret < 0 && ret != -ENOENT) {
			describe(f, ret, "removing neighbour",
				 wf_ip_format(&have->neighs[j].ip, b));
			first = first ? first : ret;
		} else {
			f->stats.removed++;
		}
	}
	for (size_t j = 0; j < have->n_fdbs; j++) {
		bool keep = false;
		for (size_t i = 0; i < want->n_fdbs && !keep; i++)
			keep = fdb_same(&want->fdbs[i], &have->fdbs[j]);
		if (keep)
			continue;
		ret = ops->fdb_del(f->be, &have->fdbs[j]);
		if (ret < 0 && ret != -ENOENT) {
			describe(f, ret, "removing FDB entry for VTEP",
				 wf_ip_format(&have->fdbs[j].dst, b));
			first = first ? first : ret;
		} else {
			f->stats.removed++;
		}
	}
	return first;
}

/* Sets up the VXLAN device; returns its ifindex and the underlay address in *ret_local. */
static int setup_vxlan(struct wf_fabric *f, const struct wf_fabric_node *self,
		       struct wf_ip *ret_local, int *ret_ifindex)
{
	const struct wf_ip *local = self->ip4.family ? &self->ip4 : node_ip(self, AF_INET6);
	char b[WF_IP_STRLEN];
	int ret;

	if (!local) {
		snprintf(f->error, sizeof(f->error), "node %s has no InternalIP", self->name);
		return -WF_E_INVALID;
	}
	struct wf_fabric_vxlan vx = {
		.vni = WF_FABRIC_VXLAN_VNI, .port = WF_FABRIC_VXLAN_PORT, .local = *local};
	unsigned mtu;
	ret = f->be->ops->underlay(f->be, local, &vx.underlay, &mtu);
	if (ret < 0) {
		snprintf(f->error, sizeof(f->error), "no link holds InternalIP %s of node %s: %s",
			 wf_ip_format(local, b), self->name, wf_strerror(ret));
		return ret;
	}
	unsigned overhead =
		local->family == AF_INET ? WF_FABRIC_VXLAN_OVERHEAD4 : WF_FABRIC_VXLAN_OVERHEAD6;
	if (mtu < overhead + 1280) {
		snprintf(f->error, sizeof(f->error),
			 "underlay MTU %u is too small for VXLAN (needs %u)", mtu, overhead + 1280);
		return -WF_E_INVALID;
	}
	vx.mtu = mtu - overhead;
	wf_fabric_vtep_mac(local, vx.mac);
	ret = f->be->ops->vxlan_ensure(f->be, &vx, ret_ifindex);
	if (ret < 0) {
		snprintf(f->error, sizeof(f->error), "setting up %s: %s", WF_FABRIC_VXLAN_NAME,
			 wf_strerror(ret));
		return ret;
	}
	f->pod_mtu = vx.mtu;
	*ret_local = *local;
	return 0;
}

/* Logs a fast path problem once (until it changes or goes away). */
static void fastpath_problem(struct wf_fabric *f, int err, const char *why)
{
	uint64_t h = wf_hash_seeded(why, strlen(why), (uint64_t)err);
	char q[400];

	if (h == f->fp_err_hash)
		return;
	f->fp_err_hash = h;
	if (err == -ENODEV) /* no pod on the node yet: not a problem */
		wf_log_debug(LOG_SUB, "fast path waits", "reason=%s",
			     wf_log_quote(why, q, sizeof(q)));
	else
		wf_log_warn(LOG_SUB, "fast path unavailable, pods use the kernel's forwarding path",
			    "error=%s", wf_log_quote(why, q, sizeof(q)));
}

/* The eBPF fast path follows the routes just installed: other nodes' IPv4 podCIDRs that the
 * fabric routes, this node's own, and the link their traffic arrives on. It is a shortcut
 * only: when it cannot be installed the routes carry everything, so a problem is logged and
 * does not fail the sync. */
static void sync_fastpath(struct wf_fabric *f, const struct wf_fabric_node *self, int link,
			  const struct wf_fabric_state *want)
{
	struct wf_cidr local[WF_FABRIC_MAX_CIDRS], *remote = NULL;
	struct wf_fabric_fastpath fp = {
		.bridge = f->fp_bridge, .fabric_link = link, .pod_notrack = f->fp_pod_notrack};
	char why[256] = "";
	int ret;

	if (!f->be->ops->fastpath)
		return;
	if (!f->fp_bridge || !link) {
		if (f->fp_bridge && !f->fp_asked)
			fastpath_problem(f, -ENODEV, "no fabric link yet");
		if (f->fp_bridge || f->fp_asked)
			return;
		/* off: remove what an earlier agent may have left (once) */
		ret = f->be->ops->fastpath(f->be, NULL, why, sizeof(why));
		f->fp_asked = true; /* once: a failure (no CAP_BPF...) is not retried each sync */
		f->stats.fastpath = false;
		if (ret < 0)
			fastpath_problem(f, ret, why);
		return;
	}
	for (size_t k = 0; k < self->n_pod_cidrs; k++)
		if (self->pod_cidrs[k].ip.family == AF_INET)
			local[fp.n_local++] = self->pod_cidrs[k];
	remote = wf_calloc(want->n_routes ? want->n_routes : 1, sizeof(*remote));
	if (!remote) {
		fastpath_problem(f, -ENOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < want->n_routes; i++)
		if (want->routes[i].dst.ip.family == AF_INET)
			remote[fp.n_remote++] = want->routes[i].dst;
	fp.local = local;
	fp.remote = remote;
	ret = f->be->ops->fastpath(f->be, &fp, why, sizeof(why));
	wf_free(remote);
	if (ret < 0) {
		f->stats.fastpath = false;
		fastpath_problem(f, ret, why);
		return;
	}
	if (!f->stats.fastpath)
		wf_log_info(LOG_SUB, "fast path installed",
			    "bridge=%s link=%d local=%zu remote=%zu", f->fp_bridge, link,
			    fp.n_local, fp.n_remote);
	f->stats.fastpath = true;
	f->fp_asked = true;
	f->fp_err_hash = 0;
}

int wf_fabric_sync(struct wf_fabric *f, const struct wf_fabric_node *nodes, size_t n_nodes)
{
	struct wf_fabric_state want = {0}, have = {0};
	const struct wf_fabric_node *self = NULL;
	struct wf_ip local = {0};
	int vxif = 0, link = 0, ret;

	f->error[0] = 0;
	f->warn_len = 0;
	f->warn[0] = 0;
	f->stats.syncs++;
	for (size_t i = 0; i < n_nodes; i++) {
		if (nodes[i].name && strcmp(nodes[i].name, f->node_name) == 0)
			self = &nodes[i];
	}
	if (!self) {
		snprintf(f->error, sizeof(f->error), "node %s is not among the %zu Node objects",
			 f->node_name, n_nodes);
		ret = -ENOENT;
		goto out;
	}
	/* A node forwards between its pods and the fabric - for the families its pods have
	 * (IPv6 forwarding changes how a host treats router advertisements, so not without
	 * IPv6 pods). */
	for (size_t k = 0; k < self->n_pod_cidrs; k++) {
		int fam = self->pod_cidrs[k].ip.family;
		bool *done = fam == AF_INET ? &f->forwarding4 : &f->forwarding6;
		if (*done)
			continue;
		ret = f->be->ops->forwarding(f->be, fam);
		if (ret < 0) {
			snprintf(f->error, sizeof(f->error), "enabling %s forwarding: %s",
				 family_name(fam), wf_strerror(ret));
			goto out;
		}
		*done = true;
	}
	if (f->mode == WF_FABRIC_VXLAN) {
		ret = setup_vxlan(f, self, &local, &vxif);
		if (ret < 0)
			goto out;
		link = vxif;
	} else {
		ret = f->be->ops->vxlan_remove(f->be); /* left over from a vxlan run */
		if (ret < 0) {
			snprintf(f->error, sizeof(f->error), "removing %s: %s",
				 WF_FABRIC_VXLAN_NAME, wf_strerror(ret));
			goto out;
		}
		unsigned mtu = 0;
		int ifindex;
		if (self->ip4.family || self->ip6.family) {
			const struct wf_ip *ip = self->ip4.family ? &self->ip4 : &self->ip6;
			if (f->be->ops->underlay(f->be, ip, &ifindex, &mtu) == 0) {
				f->pod_mtu = mtu;
				link = ifindex;
			}
		}
	}
	size_t peers = 0;
	for (size_t i = 0; i < n_nodes; i++) {
		if (&nodes[i] == self || !nodes[i].name)
			continue;
		size_t before = want.n_routes;
		ret = desire_peer(f, nodes, i, self, &local, vxif, &want);
		if (ret < 0) {
			snprintf(f->error, sizeof(f->error), "computing routes: %s",
				 wf_strerror(ret));
			goto out;
		}
		peers += want.n_routes > before;
	}
	ret = f->be->ops->dump(f->be, &have);
	if (ret < 0) {
		snprintf(f->error, sizeof(f->error), "reading installed routes: %s",
			 wf_strerror(ret));
		goto out;
	}
	ret = apply(f, &want, &have, nodes, n_nodes);
	f->stats.routes = want.n_routes;
	f->stats.peers = peers;
	sync_fastpath(f, self, link, &want);
out:
	if (f->warn_len) {
		uint64_t h = wf_hash_seeded(f->warn, f->warn_len, 1);
		if (h != f->warn_hash) {
			char q[600];
			wf_log_warn(LOG_SUB, "some nodes cannot be routed", "detail=%s",
				    wf_log_quote(f->warn, q, sizeof(q)));
		}
		f->warn_hash = h;
	} else {
		f->warn_hash = 0;
	}
	if (ret < 0)
		f->stats.sync_errors++;
	wf_fabric_state_done(&want);
	wf_fabric_state_done(&have);
	return ret;
}
