/* The kernel backend of the fabric: rtnetlink (linux/rtnetlink.h, linux/neighbour.h) through
 * libmnl for what lib/netlink.h lacks — routes and neighbours carrying the weft protocol marker,
 * FDB entries (AF_BRIDGE RTM_NEWNEIGH with NTF_SELF on the VXLAN device), dumps filtered by
 * that marker — and lib/netlink.h for links. */
#include "fabric/fabric.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "fabric/fabric-bpf.h"
#include "lib/alloc.h"
#include "lib/mnl-session.h"
#include "lib/ip.h"
#include "lib/netlink.h"

struct nl_be {
	struct wf_fabric_backend be;
	struct wf_nl nl;
	struct wf_mnl_session mnl;
	struct wf_fabric_bpf *bpf;  /* the fast path's programs, once loaded */
	bool fastpath_removed;	    /* removal done since the fast path was last wanted */
	char fastpath_refused[256]; /* why the kernel refused the programs: not tried again */
};

static struct nl_be *to_nl(struct wf_fabric_backend *be)
{
	return (struct nl_be *)be;
}

static int transact(struct nl_be *b, mnl_cb_t cb, void *data)
{
	return wf_mnl_session_transact(&b->mnl, cb, data);
}

static struct nlmsghdr *msg_start(struct nl_be *b, uint16_t type, uint16_t flags)
{
	return wf_mnl_session_msg(&b->mnl, type, flags);
}

static void ip_from_attr(const struct nlattr *a, int family, struct wf_ip *ret)
{
	if (family == AF_INET && mnl_attr_get_payload_len(a) == 4) {
		uint32_t v;
		memcpy(&v, mnl_attr_get_payload(a), 4);
		wf_ip_from_in4(v, ret);
	} else if (family == AF_INET6 && mnl_attr_get_payload_len(a) == 16) {
		wf_ip_from_in6(mnl_attr_get_payload(a), ret);
	}
}

/* ---- links ---- */

struct addr_find {
	const struct wf_ip *ip;
	int ifindex;
};

static int addr_cb(const struct nlmsghdr *h, void *data)
{
	struct addr_find *f = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;
	if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != f->ip->family)
		return MNL_CB_OK;
	mnl_attr_for_each(a, h, sizeof(*ifa))
	{
		uint16_t t = mnl_attr_get_type(a);
		if (t != IFA_LOCAL && t != IFA_ADDRESS)
			continue;
		struct wf_ip ip = {0};
		ip_from_attr(a, ifa->ifa_family, &ip);
		if (ip.family && wf_ip_equal(&ip, f->ip))
			f->ifindex = (int)ifa->ifa_index;
	}
	return MNL_CB_OK;
}

static int nl_underlay(struct wf_fabric_backend *be, const struct wf_ip *ip, int *ret_ifindex,
		       unsigned *ret_mtu)
{
	struct nl_be *b = to_nl(be);
	struct nlmsghdr *h = msg_start(b, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	ifa->ifa_family = ip->family;
	struct addr_find f = {.ip = ip};
	int ret = transact(b, addr_cb, &f);
	if (ret < 0)
		return ret;
	if (f.ifindex == 0)
		return -EADDRNOTAVAIL;
	struct wf_nl_link l;
	ret = wf_nl_link_get_index(&b->nl, f.ifindex, &l);
	if (ret < 0)
		return ret;
	*ret_ifindex = f.ifindex;
	*ret_mtu = l.mtu;
	return 0;
}

/* What the kernel says about the existing VXLAN device. */
struct vx_info {
	int ifindex;
	unsigned mtu;
	bool up;
	bool is_vxlan;
	uint8_t mac[6];
	uint32_t vni;
	uint16_t port;
	uint8_t learning;
	struct wf_ip local;
	int link;
};

static int vxdata_cb(const struct nlattr *a, void *data)
{
	struct vx_info *v = data;
	switch (mnl_attr_get_type(a)) {
	case IFLA_VXLAN_ID:
		v->vni = mnl_attr_get_u32(a);
		break;
	case IFLA_VXLAN_PORT:
		v->port = ntohs(mnl_attr_get_u16(a));
		break;
	case IFLA_VXLAN_LEARNING:
		v->learning = mnl_attr_get_u8(a);
		break;
	case IFLA_VXLAN_LOCAL:
		ip_from_attr(a, AF_INET, &v->local);
		break;
	case IFLA_VXLAN_LOCAL6:
		ip_from_attr(a, AF_INET6, &v->local);
		break;
	case IFLA_VXLAN_LINK:
		v->link = (int)mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct vx_info *v = data;
	if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
		v->is_vxlan = strcmp(mnl_attr_get_str(a), "vxlan") == 0;
	else if (mnl_attr_get_type(a) == IFLA_INFO_DATA)
		mnl_attr_parse_nested(a, vxdata_cb, v);
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *h, void *data)
{
	struct vx_info *v = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;
	if (h->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	v->ifindex = ifi->ifi_index;
	v->up = ifi->ifi_flags & IFF_UP;
	mnl_attr_for_each(a, h, sizeof(*ifi))
	{
		switch (mnl_attr_get_type(a)) {
		case IFLA_MTU:
			v->mtu = mnl_attr_get_u32(a);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == 6)
				memcpy(v->mac, mnl_attr_get_payload(a), 6);
			break;
		case IFLA_LINKINFO:
			mnl_attr_parse_nested(a, linkinfo_cb, v);
			break;
		}
	}
	return MNL_CB_OK;
}

/* Reads the VXLAN device. -ENODEV when there is none. */
static int vx_get(struct nl_be *b, struct vx_info *ret_info)
{
	/* With an ACK after the reply, transact() knows when the answer is complete. */
	struct nlmsghdr *h = msg_start(b, RTM_GETLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, WF_FABRIC_VXLAN_NAME);
	mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	struct vx_info v = {0};
	int ret = transact(b, link_cb, &v);
	if (ret < 0)
		return ret;
	if (v.ifindex == 0)
		return -ENODEV;
	*ret_info = v;
	return 0;
}

static int nl_vxlan_ensure(struct wf_fabric_backend *be, const struct wf_fabric_vxlan *vx,
			   int *ret_ifindex)
{
	struct nl_be *b = to_nl(be);
	struct vx_info v;
	int ret = vx_get(b, &v);
	if (ret == 0) {
		bool same = v.is_vxlan && v.vni == vx->vni && v.port == vx->port && !v.learning &&
			    wf_ip_equal(&v.local, &vx->local) && memcmp(v.mac, vx->mac, 6) == 0 &&
			    v.link == vx->underlay;
		if (same) {
			if (v.mtu != vx->mtu || !v.up) {
				ret = wf_nl_link_set(&b->nl, v.ifindex, true, vx->mtu, -1);
				if (ret < 0)
					return ret;
			}
			*ret_ifindex = v.ifindex;
			return 0;
		}
		/* A device of that name with another configuration (the node's address
		 * changed, or it is not ours): recreate it; its routes go with it and the
		 * sync re-adds them. */
		ret = wf_nl_link_del(&b->nl, v.ifindex);
		if (ret < 0)
			return ret;
	} else if (ret != -ENODEV) {
		return ret;
	}
	struct wf_nl_vxlan cfg = {
		.vni = vx->vni,
		.port = vx->port,
		.dev = vx->underlay,
		.local = vx->local,
		.learning = false,
	};
	struct wf_nl_link_opts opts = {.mtu = vx->mtu, .mac = vx->mac, .up = true};
	ret = wf_nl_vxlan_add(&b->nl, WF_FABRIC_VXLAN_NAME, &cfg, &opts);
	if (ret < 0)
		return ret;
	ret = vx_get(b, &v);
	if (ret < 0)
		return ret;
	*ret_ifindex = v.ifindex;
	return 0;
}

static int nl_vxlan_remove(struct wf_fabric_backend *be)
{
	int ret = wf_nl_link_del_name(&to_nl(be)->nl, WF_FABRIC_VXLAN_NAME);
	return ret == -ENODEV ? 0 : ret;
}

/* ---- dumps ---- */

struct dump {
	struct wf_fabric_state *st;
	int vxif;
	int err;
};

static int route_cb(const struct nlmsghdr *h, void *data)
{
	struct dump *d = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;
	if (h->nlmsg_type != RTM_NEWROUTE || rtm->rtm_protocol != WF_FABRIC_RTPROT)
		return MNL_CB_OK;
	uint32_t table = rtm->rtm_table;
	struct wf_fabric_route r = {.dst.prefix = rtm->rtm_dst_len,
				    .onlink = rtm->rtm_flags & RTNH_F_ONLINK};
	r.dst.ip.family = rtm->rtm_family;
	mnl_attr_for_each(a, h, sizeof(*rtm))
	{
		switch (mnl_attr_get_type(a)) {
		case RTA_TABLE:
			table = mnl_attr_get_u32(a);
			break;
		case RTA_DST:
			ip_from_attr(a, rtm->rtm_family, &r.dst.ip);
			break;
		case RTA_GATEWAY:
			ip_from_attr(a, rtm->rtm_family, &r.gw);
			break;
		case RTA_OIF:
			r.oif = (int)mnl_attr_get_u32(a);
			break;
		}
	}
	if (table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	if (wf_fabric_state_add_route(d->st, &r) < 0) {
		d->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *h, void *data)
{
	struct dump *d = data;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;
	if (h->nlmsg_type != RTM_NEWNEIGH || nd->ndm_ifindex != d->vxif ||
	    !(nd->ndm_state & NUD_PERMANENT) || (nd->ndm_flags & NTF_MASTER))
		return MNL_CB_OK;
	struct wf_ip dst = {0};
	uint8_t mac[6];
	bool has_mac = false;
	mnl_attr_for_each(a, h, sizeof(*nd))
	{
		switch (mnl_attr_get_type(a)) {
		case NDA_DST:
			/* FDB entries carry the remote VTEP; its family is the attribute's. */
			ip_from_attr(a, mnl_attr_get_payload_len(a) == 4 ? AF_INET : AF_INET6,
				     &dst);
			break;
		case NDA_LLADDR:
			if (mnl_attr_get_payload_len(a) == 6) {
				memcpy(mac, mnl_attr_get_payload(a), 6);
				has_mac = true;
			}
			break;
		}
	}
	if (!dst.family || !has_mac)
		return MNL_CB_OK;
	int ret;
	if (nd->ndm_family == AF_BRIDGE) {
		struct wf_fabric_fdb e = {.dst = dst, .ifindex = nd->ndm_ifindex};
		memcpy(e.mac, mac, 6);
		ret = wf_fabric_state_add_fdb(d->st, &e);
	} else {
		struct wf_fabric_neigh n = {.ip = dst, .ifindex = nd->ndm_ifindex};
		memcpy(n.mac, mac, 6);
		ret = wf_fabric_state_add_neigh(d->st, &n);
	}
	if (ret < 0) {
		d->err = ret;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int dump_one(struct nl_be *b, uint16_t type, uint8_t family, mnl_cb_t cb, struct dump *d)
{
	struct nlmsghdr *h = msg_start(b, type, NLM_F_DUMP);
	if (type == RTM_GETROUTE) {
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
		rtm->rtm_family = family;
	} else {
		struct ndmsg *nd = mnl_nlmsg_put_extra_header(h, sizeof(*nd));
		nd->ndm_family = family;
	}
	int ret = transact(b, cb, d);
	return d->err ? d->err : ret;
}

static int nl_dump(struct wf_fabric_backend *be, struct wf_fabric_state *ret_state)
{
	struct nl_be *b = to_nl(be);
	struct wf_fabric_state st = {0};
	struct dump d = {.st = &st};
	int ret;

	ret = dump_one(b, RTM_GETROUTE, AF_INET, route_cb, &d);
	if (ret == 0)
		ret = dump_one(b, RTM_GETROUTE, AF_INET6, route_cb, &d);
	if (ret < 0)
		goto err;
	struct vx_info v;
	ret = vx_get(b, &v);
	if (ret == 0) {
		d.vxif = v.ifindex;
		ret = dump_one(b, RTM_GETNEIGH, AF_INET, neigh_cb, &d);
		if (ret == 0)
			ret = dump_one(b, RTM_GETNEIGH, AF_INET6, neigh_cb, &d);
		if (ret == 0)
			ret = dump_one(b, RTM_GETNEIGH, AF_BRIDGE, neigh_cb, &d);
		if (ret < 0)
			goto err;
	} else if (ret != -ENODEV) {
		goto err;
	}
	*ret_state = st;
	return 0;
err:
	wf_fabric_state_done(&st);
	return ret;
}

/* ---- changes ---- */

static int route_req(struct nl_be *b, uint16_t type, uint16_t flags,
		     const struct wf_fabric_route *r, bool full)
{
	struct nlmsghdr *h = msg_start(b, type, NLM_F_ACK | flags);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
	unsigned len = wf_ip_len(&r->dst.ip);
	rtm->rtm_family = r->dst.ip.family;
	rtm->rtm_dst_len = r->dst.prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = WF_FABRIC_RTPROT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(h, RTA_DST, len, r->dst.ip.addr);
	if (full) {
		if (r->onlink)
			rtm->rtm_flags |= RTNH_F_ONLINK;
		if (r->gw.family)
			mnl_attr_put(h, RTA_GATEWAY, len, r->gw.addr);
		if (r->oif > 0)
			mnl_attr_put_u32(h, RTA_OIF, (uint32_t)r->oif);
	}
	return transact(b, NULL, NULL);
}

static int nl_route_replace(struct wf_fabric_backend *be, const struct wf_fabric_route *r)
{
	return route_req(to_nl(be), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, r, true);
}

static int nl_route_del(struct wf_fabric_backend *be, const struct wf_fabric_route *r)
{
	/* By destination and protocol only: whatever its next hop, it is ours. */
	return route_req(to_nl(be), RTM_DELROUTE, 0, r, false);
}

static int neigh_req(struct nl_be *b, uint16_t type, uint16_t flags, uint8_t family, int ifindex,
		     const struct wf_ip *dst, const uint8_t *mac)
{
	struct nlmsghdr *h = msg_start(b, type, NLM_F_ACK | flags);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(h, sizeof(*nd));
	nd->ndm_family = family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_PERMANENT;
	if (family == AF_BRIDGE)
		nd->ndm_flags = NTF_SELF; /* the VXLAN device's own FDB, not a bridge's */
	mnl_attr_put(h, NDA_DST, wf_ip_len(dst), dst->addr);
	if (mac)
		mnl_attr_put(h, NDA_LLADDR, 6, mac);
	if (type == RTM_NEWNEIGH)
		mnl_attr_put_u8(h, NDA_PROTOCOL, WF_FABRIC_RTPROT);
	return transact(b, NULL, NULL);
}

static int nl_neigh_replace(struct wf_fabric_backend *be, const struct wf_fabric_neigh *n)
{
	return neigh_req(to_nl(be), RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, n->ip.family,
			 n->ifindex, &n->ip, n->mac);
}

static int nl_neigh_del(struct wf_fabric_backend *be, const struct wf_fabric_neigh *n)
{
	return neigh_req(to_nl(be), RTM_DELNEIGH, 0, n->ip.family, n->ifindex, &n->ip, NULL);
}

static int nl_fdb_replace(struct wf_fabric_backend *be, const struct wf_fabric_fdb *e)
{
	return neigh_req(to_nl(be), RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, AF_BRIDGE,
			 e->ifindex, &e->dst, e->mac);
}

static int nl_fdb_del(struct wf_fabric_backend *be, const struct wf_fabric_fdb *e)
{
	return neigh_req(to_nl(be), RTM_DELNEIGH, 0, AF_BRIDGE, e->ifindex, &e->dst, e->mac);
}

static int nl_forwarding(struct wf_fabric_backend *be, int family)
{
	const char *path = family == AF_INET ? "/proc/sys/net/ipv4/ip_forward"
					     : "/proc/sys/net/ipv6/conf/all/forwarding";
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -errno; /* IPv6 disabled: nothing to forward */
	int ret = 0;
	if (write(fd, "1\n", 2) != 2)
		ret = -errno;
	close(fd);
	return ret;
}

static int nl_fastpath(struct wf_fabric_backend *be, const struct wf_fabric_fastpath *fp, char *err,
		       size_t errlen)
{
	struct nl_be *b = to_nl(be);
	int ret;

	if (fp) {
		b->fastpath_removed = false;
		/* a refusal does not change until the agent (or the kernel) does: loading again
		 * at every sync would only run the verifier for nothing */
		if (b->fastpath_refused[0]) {
			snprintf(err, errlen, "%s", b->fastpath_refused);
			return -EOPNOTSUPP;
		}
		ret = wf_fabric_bpf_apply(&b->bpf, &b->mnl, fp, err, errlen);
		if (ret == -EOPNOTSUPP)
			snprintf(b->fastpath_refused, sizeof(b->fastpath_refused), "%s", err);
		return ret;
	}
	if (b->fastpath_removed)
		return 0;
	/* also what an earlier agent attached: a node switched to --fastpath off is cleaned */
	ret = wf_fabric_bpf_remove(b->bpf, &b->mnl);
	if (ret < 0) {
		snprintf(err, errlen, "removing the fast path: %s", strerror(-ret));
		return ret;
	}
	b->fastpath_removed = true;
	return 0;
}

static int nl_fastpath_stats(struct wf_fabric_backend *be, struct wf_fabric_fastpath_stats *ret)
{
	return wf_fabric_bpf_stats(to_nl(be)->bpf, ret);
}

static void nl_free(struct wf_fabric_backend *be)
{
	struct nl_be *b = to_nl(be);
	wf_fabric_bpf_free(b->bpf);
	wf_mnl_session_done(&b->mnl);
	wf_nl_done(&b->nl);
	wf_free(b);
}

static const struct wf_fabric_ops nl_ops = {
	.name = "netlink",
	.underlay = nl_underlay,
	.vxlan_ensure = nl_vxlan_ensure,
	.vxlan_remove = nl_vxlan_remove,
	.dump = nl_dump,
	.route_replace = nl_route_replace,
	.route_del = nl_route_del,
	.neigh_replace = nl_neigh_replace,
	.neigh_del = nl_neigh_del,
	.fdb_replace = nl_fdb_replace,
	.fdb_del = nl_fdb_del,
	.forwarding = nl_forwarding,
	.fastpath = nl_fastpath,
	.fastpath_stats = nl_fastpath_stats,
	.free = nl_free,
};

int wf_fabric_nl_new(struct wf_fabric_backend **ret)
{
	int err;
	struct nl_be *b = wf_calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->be.ops = &nl_ops;
	err = wf_nl_init(&b->nl);
	if (err < 0)
		goto err_b;
	err = wf_mnl_session_init(&b->mnl);
	if (err < 0)
		goto err_nl;
	*ret = &b->be;
	return 0;
err_nl:
	wf_nl_done(&b->nl);
err_b:
	wf_free(b);
	return err;
}
