/* The fake fabric backend (fabric-fake.h). */
#include "fabric/fabric-fake.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "fabric/fabric.h"
#include "lib/alloc.h"
#include "lib/ip.h"

static struct wf_fabric_fake *to_fake(struct wf_fabric_backend *be)
{
	return (struct wf_fabric_fake *)be;
}

/* Counts an entry operation; returns the injected error when it is the chosen one. */
static int step(struct wf_fabric_fake *fk)
{
	fk->ops_seen++;
	if (fk->fail_at && fk->ops_seen == fk->fail_at) {
		fk->fail_at = 0;
		return fk->fail_err ? fk->fail_err : -EIO;
	}
	return 0;
}

static int fake_underlay(struct wf_fabric_backend *be, const struct wf_ip *ip, int *ret_ifindex,
			 unsigned *ret_mtu)
{
	struct wf_fabric_fake *fk = to_fake(be);
	for (size_t i = 0; i < fk->n_links; i++) {
		if (wf_ip_equal(&fk->links[i].addr.ip, ip)) {
			*ret_ifindex = fk->links[i].ifindex;
			*ret_mtu = fk->links[i].mtu;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

static void drop_vxlan_entries(struct wf_fabric_fake *fk)
{
	struct wf_fabric_state *s = &fk->installed;
	size_t k = 0;
	for (size_t i = 0; i < s->n_routes; i++) {
		if (s->routes[i].oif != fk->vxlan_ifindex)
			s->routes[k++] = s->routes[i];
	}
	s->n_routes = k;
	/* Neighbour and FDB entries live on the device only. */
	s->n_neighs = 0;
	s->n_fdbs = 0;
}

static int fake_vxlan_ensure(struct wf_fabric_backend *be, const struct wf_fabric_vxlan *vx,
			     int *ret_ifindex)
{
	struct wf_fabric_fake *fk = to_fake(be);
	if (fk->has_vxlan) {
		struct wf_fabric_vxlan a = fk->vxlan, b = *vx;
		a.mtu = b.mtu = 0;
		if (memcmp(&a, &b, sizeof(a)) == 0) {
			fk->vxlan.mtu = vx->mtu;
			*ret_ifindex = fk->vxlan_ifindex;
			return 0;
		}
		drop_vxlan_entries(fk);
	}
	fk->has_vxlan = true;
	fk->vxlan = *vx;
	fk->vxlan_ifindex = 100 + (int)fk->vxlan_created++;
	*ret_ifindex = fk->vxlan_ifindex;
	return 0;
}

static int fake_vxlan_remove(struct wf_fabric_backend *be)
{
	struct wf_fabric_fake *fk = to_fake(be);
	if (fk->has_vxlan)
		drop_vxlan_entries(fk);
	fk->has_vxlan = false;
	return 0;
}

static int fake_dump(struct wf_fabric_backend *be, struct wf_fabric_state *ret)
{
	struct wf_fabric_fake *fk = to_fake(be);
	struct wf_fabric_state st = {0};
	const struct wf_fabric_state *s = &fk->installed;
	int err = 0;
	for (size_t i = 0; i < s->n_routes && !err; i++)
		err = wf_fabric_state_add_route(&st, &s->routes[i]);
	for (size_t i = 0; i < s->n_neighs && !err; i++)
		err = wf_fabric_state_add_neigh(&st, &s->neighs[i]);
	for (size_t i = 0; i < s->n_fdbs && !err; i++)
		err = wf_fabric_state_add_fdb(&st, &s->fdbs[i]);
	if (err < 0) {
		wf_fabric_state_done(&st);
		return err;
	}
	*ret = st;
	return 0;
}

static bool on_link(struct wf_fabric_fake *fk, const struct wf_ip *gw)
{
	for (size_t i = 0; i < fk->n_links; i++) {
		if (wf_cidr_contains(&fk->links[i].addr, gw))
			return true;
	}
	return false;
}

static int fake_route_replace(struct wf_fabric_backend *be, const struct wf_fabric_route *r)
{
	struct wf_fabric_fake *fk = to_fake(be);
	struct wf_fabric_state *s = &fk->installed;
	int ret = step(fk);
	if (ret < 0)
		return ret;
	if (r->onlink && (!fk->has_vxlan || r->oif != fk->vxlan_ifindex))
		return -ENODEV;
	if (!r->onlink && !on_link(fk, &r->gw))
		return -ENETUNREACH; /* as the kernel's fib_check_nh() */
	struct wf_fabric_route in = *r;
	if (!in.oif) {
		for (size_t i = 0; i < fk->n_links; i++) {
			if (wf_cidr_contains(&fk->links[i].addr, &r->gw))
				in.oif = fk->links[i].ifindex;
		}
	}
	fk->replaces++;
	for (size_t i = 0; i < s->n_routes; i++) {
		if (s->routes[i].dst.prefix == r->dst.prefix &&
		    wf_ip_equal(&s->routes[i].dst.ip, &r->dst.ip)) {
			s->routes[i] = in;
			return 0;
		}
	}
	return wf_fabric_state_add_route(s, &in);
}

static int fake_route_del(struct wf_fabric_backend *be, const struct wf_fabric_route *r)
{
	struct wf_fabric_fake *fk = to_fake(be);
	struct wf_fabric_state *s = &fk->installed;
	int ret = step(fk);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < s->n_routes; i++) {
		if (s->routes[i].dst.prefix == r->dst.prefix &&
		    wf_ip_equal(&s->routes[i].dst.ip, &r->dst.ip)) {
			s->routes[i] = s->routes[--s->n_routes];
			fk->dels++;
			return 0;
		}
	}
	return -ESRCH;
}

static int fake_neigh_replace(struct wf_fabric_backend *be, const struct wf_fabric_neigh *n)
{
	struct wf_fabric_fake *fk = to_fake(be);
	struct wf_fabric_state *s = &fk->installed;
	int ret = step(fk);
	if (ret < 0)
		return ret;
	if (!fk->has_vxlan || n->ifindex != fk->vxlan_ifindex)
		return -ENODEV;
	fk->replaces++;
	for (size_t i = 0; i < s->n_neighs; i++) {
		if (wf_ip_equal(&s->neighs[i].ip, &n->ip)) {
			s->neighs[i] = *n;
			return 0;
		}
	}
	return wf_fabric_state_add_neigh(s, n);
}

static int fake_neigh_del(struct wf_fabric_backend *be, const struct wf_fabric_neigh *n)
{
	struct wf_fabric_fake *fk = to_fake(be);
	struct wf_fabric_state *s = &fk->installed;
	int ret = step(fk);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < s->n_neighs; i++) {
		if (wf_ip_equal(&s->neighs[i].ip, &n->ip)) {
			s->neighs[i] = s->neighs[--s->n_neighs];
			fk->dels++;
			return 0;
		}
	}
	return -ENOENT;
}

static int fake_fdb_replace(struct wf_fabric_backend *be, const struct wf_fabric_fdb *e)
{
	struct wf_fabric_fake *fk = to_fake(be);
	struct wf_fabric_state *s = &fk->installed;
	int ret = step(fk);
	if (ret < 0)
		return ret;
	if (!fk->has_vxlan || e->ifindex != fk->vxlan_ifindex)
		return -ENODEV;
	fk->replaces++;
	for (size_t i = 0; i < s->n_fdbs; i++) {
		if (memcmp(s->fdbs[i].mac, e->mac, 6) == 0) {
			s->fdbs[i] = *e;
			return 0;
		}
	}
	return wf_fabric_state_add_fdb(s, e);
}

static int fake_fdb_del(struct wf_fabric_backend *be, const struct wf_fabric_fdb *e)
{
	struct wf_fabric_fake *fk = to_fake(be);
	struct wf_fabric_state *s = &fk->installed;
	int ret = step(fk);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < s->n_fdbs; i++) {
		if (memcmp(s->fdbs[i].mac, e->mac, 6) == 0 &&
		    wf_ip_equal(&s->fdbs[i].dst, &e->dst)) {
			s->fdbs[i] = s->fdbs[--s->n_fdbs];
			fk->dels++;
			return 0;
		}
	}
	return -ENOENT;
}

static int fake_forwarding(struct wf_fabric_backend *be, int family)
{
	struct wf_fabric_fake *fk = to_fake(be);
	if (family == AF_INET)
		fk->forwarding4 = true;
	else
		fk->forwarding6 = true;
	return 0;
}

static int fake_fastpath(struct wf_fabric_backend *be, const struct wf_fabric_fastpath *fp,
			 char *err, size_t errlen)
{
	struct wf_fabric_fake *fk = to_fake(be);

	fk->fastpath_calls++;
	if (fk->fastpath_err) {
		snprintf(err, errlen, "injected");
		fk->fastpath = false;
		return fk->fastpath_err;
	}
	fk->fastpath = fp != NULL;
	if (!fp)
		return 0;
	if (fp->n_local > WF_FABRIC_MAX_CIDRS || fp->n_remote > 16)
		return -E2BIG;
	snprintf(fk->fastpath_bridge, sizeof(fk->fastpath_bridge), "%s", fp->bridge);
	fk->fastpath_link = fp->fabric_link;
	fk->fastpath_n_local = fp->n_local;
	fk->fastpath_n_remote = fp->n_remote;
	memcpy(fk->fastpath_local, fp->local, fp->n_local * sizeof(*fp->local));
	memcpy(fk->fastpath_remote, fp->remote, fp->n_remote * sizeof(*fp->remote));
	return 0;
}

static void fake_free(struct wf_fabric_backend *be)
{
	struct wf_fabric_fake *fk = to_fake(be);
	wf_fabric_state_done(&fk->installed);
	wf_free(fk);
}

static const struct wf_fabric_ops fake_ops = {
	.name = "fake",
	.underlay = fake_underlay,
	.vxlan_ensure = fake_vxlan_ensure,
	.vxlan_remove = fake_vxlan_remove,
	.dump = fake_dump,
	.route_replace = fake_route_replace,
	.route_del = fake_route_del,
	.neigh_replace = fake_neigh_replace,
	.neigh_del = fake_neigh_del,
	.fdb_replace = fake_fdb_replace,
	.fdb_del = fake_fdb_del,
	.forwarding = fake_forwarding,
	.fastpath = fake_fastpath,
	.free = fake_free,
};

int wf_fabric_fake_new(struct wf_fabric_fake **ret)
{
	struct wf_fabric_fake *fk = wf_calloc(1, sizeof(*fk));
	if (!fk)
		return -ENOMEM;
	fk->be.ops = &fake_ops;
	*ret = fk;
	return 0;
}

void wf_fabric_fake_add_link(struct wf_fabric_fake *fk, const char *cidr, int ifindex, unsigned mtu)
{
	if (fk->n_links == WF_FABRIC_FAKE_MAX_LINKS)
		return;
	if (wf_cidr_parse(cidr, false, &fk->links[fk->n_links].addr) < 0)
		return;
	fk->links[fk->n_links].ifindex = ifindex;
	fk->links[fk->n_links].mtu = mtu;
	fk->n_links++;
}
