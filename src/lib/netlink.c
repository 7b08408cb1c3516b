/* Raw rtnetlink (RFC 3549, linux/rtnetlink.h): request building, ACK handling and the few
 * object kinds weft needs. */
#include "lib/netlink.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "lib/alloc.h"

/* A request under construction in nl->buf. */
struct req {
	struct nlmsghdr *h;
	size_t cap;
	bool overflow;
};

#define BATCH_SLACK 256

static void *req_start(struct wf_nl *nl, struct req *r, uint16_t type, uint16_t flags,
		       size_t hdrlen)
{
	/* In a batch the request goes after the ones queued. Queued requests may fill the buffer
	 * only up to WF_NL_BUFSIZE - BATCH_SLACK, so that the header of one more always has room
	 * (it is then flagged as overflowing, and not queued). */
	size_t base = nl->batching ? nl->batch_len : 0;
	r->h = (struct nlmsghdr *)(nl->buf + base);
	r->cap = nl->batching ? WF_NL_BUFSIZE - BATCH_SLACK - base : WF_NL_BUFSIZE;
	r->overflow = NLMSG_SPACE(hdrlen) > r->cap;
	memset(r->h, 0, NLMSG_SPACE(hdrlen));
	r->h->nlmsg_len = NLMSG_LENGTH(hdrlen);
	r->h->nlmsg_type = type;
	r->h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->h->nlmsg_seq = ++nl->seq;
	return NLMSG_DATA(r->h);
}

static struct rtattr *put(struct req *r, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->h->nlmsg_len);
	if (off + RTA_SPACE(len) > r->cap) {
		r->overflow = true;
		return NULL;
	}
	struct rtattr *a = (struct rtattr *)((uint8_t *)r->h + off);
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->h->nlmsg_len = off + RTA_SPACE(len);
	return a;
}

static void put_u32(struct req *r, uint16_t type, uint32_t v)
{
	put(r, type, &v, sizeof(v));
}

static void put_str(struct req *r, uint16_t type, const char *s)
{
	put(r, type, s, strlen(s) + 1);
}

static struct rtattr *nest_start(struct req *r, uint16_t type)
{
	return put(r, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct req *r, struct rtattr *a)
{
	if (a)
		a->rta_len = (uint8_t *)r->h + r->h->nlmsg_len - (uint8_t *)a;
}

/* Sends the request and reads replies until the ACK (or the end of a dump). For a plain
 * request, cb sees each reply message that is not the ACK; for a dump it sees every message.
 * Returns 0, the callback's first negative value, or the kernel's -errno. */
typedef int (*reply_fn)(const struct nlmsghdr *h, void *arg);

/* In a batch: queues the request (see wf_nl_batch_begin()). */
static int queue(struct wf_nl *nl, struct req *r, reply_fn cb)
{
	if (cb || r->overflow) {
		/* not queued: give its sequence number back, so that the queued ones stay
		 * consecutive and wf_nl_batch_end() can match ACKs by number */
		nl->seq--;
		return cb ? -EBUSY : -EMSGSIZE;
	}
	if (nl->batch_n == 0)
		nl->batch_seq = r->h->nlmsg_seq;
	nl->batch_len += NLMSG_ALIGN(r->h->nlmsg_len);
	nl->batch_n++;
	return 0;
}

static int transact(struct wf_nl *nl, struct req *r, reply_fn cb, void *arg)
{
	if (nl->batching)
		return queue(nl, r, cb);
	if (r->overflow)
		return -EMSGSIZE;
	uint32_t seq = r->h->nlmsg_seq;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	ssize_t n = sendto(nl->fd, r->h, r->h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa));
	if (n == -1)
		return -errno;
	int err = 0;
	for (;;) {
		n = recv(nl->fd, nl->buf, WF_NL_BUFSIZE, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)nl->buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				return err ? err : e->error;
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return err;
			if (cb && !err)
				err = cb(h, arg);
		}
	}
}

int wf_nl_init(struct wf_nl *nl)
{
	int ret;

	nl->buf = wf_malloc(WF_NL_BUFSIZE);
	if (!nl->buf)
		return -ENOMEM;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd == -1) {
		ret = -errno;
		goto err_buf;
	}
	int one = 1;
	/* Extended ACKs are not needed; capped ACKs keep replies small. */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		ret = -errno;
		goto err_fd;
	}
	socklen_t len = sizeof(sa);
	if (getsockname(nl->fd, (struct sockaddr *)&sa, &len) == -1) {
		ret = -errno;
		goto err_fd;
	}
	nl->portid = sa.nl_pid;
	nl->seq = 0;
	nl->batching = false;
	nl->batch_n = 0;
	nl->batch_len = 0;
	return 0;
err_fd:
	close(nl->fd);
	nl->fd = -1;
err_buf:
	wf_free(nl->buf);
	nl->buf = NULL;
	return ret;
}

void wf_nl_batch_begin(struct wf_nl *nl)
{
	nl->batching = true;
	nl->batch_n = 0;
	nl->batch_len = 0;
}

int wf_nl_batch_end(struct wf_nl *nl, int *ret_errs, unsigned n)
{
	unsigned count = nl->batch_n, got = 0;
	size_t len = nl->batch_len;
	uint32_t seq0 = nl->batch_seq;
	nl->batching = false;
	nl->batch_n = 0;
	nl->batch_len = 0;
	if (count == 0)
		return 0;
	for (unsigned i = 0; i < n && i < count; i++)
		ret_errs[i] = 0;
	/* netlink_rcv_skb() walks every nlmsghdr in the datagram and ACKs each (NLM_F_ACK) */
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (sendto(nl->fd, nl->buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		return -errno;
	while (got < count) {
		ssize_t r = recv(nl->fd, nl->buf, WF_NL_BUFSIZE, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)nl->buf; NLMSG_OK(h, (size_t)r);
		     h = NLMSG_NEXT(h, r)) {
			uint32_t i = h->nlmsg_seq - seq0;
			if (h->nlmsg_type != NLMSG_ERROR || i >= count)
				continue;
			const struct nlmsgerr *e = NLMSG_DATA(h);
			if (i < n)
				ret_errs[i] = e->error;
			got++;
		}
	}
	return (int)count;
}

int wf_nl_init_in(struct wf_nl *nl, int nsfd)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self == -1)
		return -errno;
	int ret;
	if (setns(nsfd, CLONE_NEWNET) == -1) {
		ret = -errno;
		goto out;
	}
	ret = wf_nl_init(nl);
	if (setns(self, CLONE_NEWNET) == -1 && ret == 0) {
		ret = -errno;
		wf_nl_done(nl);
	}
out:
	close(self);
	return ret;
}

void wf_nl_done(struct wf_nl *nl)
{
	if (nl->buf) {
		close(nl->fd);
		wf_free(nl->buf);
	}
	nl->buf = NULL;
	nl->fd = -1;
}

static int parse_link(const struct nlmsghdr *h, void *arg)
{
	struct wf_nl_link *l = arg;
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	memset(l, 0, sizeof(*l));
	l->index = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	int len = IFLA_PAYLOAD(h);
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		size_t plen = RTA_PAYLOAD(a);
		switch (a->rta_type) {
		case IFLA_IFNAME:
			if (plen > 0 && plen <= sizeof(l->name))
				memcpy(l->name, RTA_DATA(a), plen);
			l->name[sizeof(l->name) - 1] = 0;
			break;
		case IFLA_MTU:
			if (plen >= 4)
				memcpy(&l->mtu, RTA_DATA(a), 4);
			break;
		case IFLA_MASTER:
			if (plen >= 4)
				memcpy(&l->master, RTA_DATA(a), 4);
			break;
		case IFLA_ADDRESS:
			if (plen == 6) {
				memcpy(l->mac, RTA_DATA(a), 6);
				l->has_mac = true;
			}
			break;
		}
	}
	return 0;
}

static int link_get(struct wf_nl *nl, const char *name, int index, struct wf_nl_link *ret)
{
	struct req r;
	struct ifinfomsg *ifi = req_start(nl, &r, RTM_GETLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	if (name) {
		if (strlen(name) >= IFNAMSIZ)
			return -ENODEV;
		put_str(&r, IFLA_IFNAME, name);
	}
	/* Skip statistics and VF info: smaller replies. */
	put_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	struct wf_nl_link l = {0};
	int err = transact(nl, &r, parse_link, &l);
	if (err < 0)
		return err;
	if (l.index == 0)
		return -ENODEV;
	*ret = l;
	return 0;
}

int wf_nl_link_get(struct wf_nl *nl, const char *name, struct wf_nl_link *ret)
{
	return link_get(nl, name, 0, ret);
}

int wf_nl_link_get_index(struct wf_nl *nl, int index, struct wf_nl_link *ret)
{
	return link_get(nl, NULL, index, ret);
}

static void put_opts(struct req *r, struct ifinfomsg *ifi, const struct wf_nl_link_opts *o)
{
	if (!o)
		return;
	if (o->mtu)
		put_u32(r, IFLA_MTU, o->mtu);
	if (o->master > 0)
		put_u32(r, IFLA_MASTER, (uint32_t)o->master);
	if (o->mac)
		put(r, IFLA_ADDRESS, o->mac, 6);
	if (o->up) {
		ifi->ifi_flags |= IFF_UP;
		ifi->ifi_change |= IFF_UP;
	}
}

/* Starts an RTM_NEWLINK create request and opens IFLA_LINKINFO; returns the nest of
 * IFLA_INFO_DATA (to be closed by the caller) or NULL for kinds without data. */
static struct rtattr *newlink_start(struct wf_nl *nl, struct req *r, const char *name,
				    const char *kind, const struct wf_nl_link_opts *opts,
				    struct rtattr **ret_info)
{
	struct ifinfomsg *ifi =
		req_start(nl, r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	put_str(r, IFLA_IFNAME, name);
	put_opts(r, ifi, opts);
	*ret_info = nest_start(r, IFLA_LINKINFO);
	put_str(r, IFLA_INFO_KIND, kind);
	return nest_start(r, IFLA_INFO_DATA);
}

int wf_nl_veth_add(struct wf_nl *nl, const char *name, const struct wf_nl_link_opts *opts,
		   const char *peer_name, int peer_nsfd, const struct wf_nl_link_opts *peer)
{
	struct req r;
	struct rtattr *info;
	struct rtattr *data = newlink_start(nl, &r, name, "veth", opts, &info);
	/* linux/veth.h: VETH_INFO_PEER carries a struct ifinfomsg followed by attributes. */
	/* veth's policy gives VETH_INFO_PEER a fixed header, so no NLA_F_NESTED here */
	struct rtattr *pa = put(&r, VETH_INFO_PEER, NULL, 0);
	struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC};
	size_t off = NLMSG_ALIGN(r.h->nlmsg_len);
	if (off + sizeof(pifi) > r.cap)
		return -EMSGSIZE;
	r.h->nlmsg_len = off + NLMSG_ALIGN(sizeof(pifi));
	put_str(&r, IFLA_IFNAME, peer_name);
	if (peer_nsfd >= 0)
		put_u32(&r, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	put_opts(&r, &pifi, peer);
	/* veth_newlink() opens the peer before the pair is linked, so IFF_UP there fails with
	 * ENOTCONN: the caller brings the peer up afterwards */
	pifi.ifi_flags = pifi.ifi_change = 0;
	memcpy((uint8_t *)r.h + off, &pifi, sizeof(pifi));
	nest_end(&r, pa);
	nest_end(&r, data);
	nest_end(&r, info);
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_bridge_add(struct wf_nl *nl, const char *name, const struct wf_nl_link_opts *opts)
{
	return wf_nl_link_add(nl, name, "bridge", opts);
}

int wf_nl_link_add(struct wf_nl *nl, const char *name, const char *kind,
		   const struct wf_nl_link_opts *opts)
{
	struct req r;
	struct rtattr *info;
	struct rtattr *data = newlink_start(nl, &r, name, kind, opts, &info);
	nest_end(&r, data);
	nest_end(&r, info);
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_vxlan_add(struct wf_nl *nl, const char *name, const struct wf_nl_vxlan *vx,
		    const struct wf_nl_link_opts *opts)
{
	struct req r;
	struct rtattr *info;
	struct rtattr *data = newlink_start(nl, &r, name, "vxlan", opts, &info);
	put_u32(&r, IFLA_VXLAN_ID, vx->vni);
	uint16_t port = htons(vx->port ? vx->port : 4789);
	put(&r, IFLA_VXLAN_PORT, &port, sizeof(port));
	if (vx->dev > 0)
		put_u32(&r, IFLA_VXLAN_LINK, (uint32_t)vx->dev);
	if (vx->local.family == AF_INET)
		put(&r, IFLA_VXLAN_LOCAL, vx->local.addr, 4);
	else if (vx->local.family == AF_INET6)
		put(&r, IFLA_VXLAN_LOCAL6, vx->local.addr, 16);
	uint8_t learning = vx->learning;
	put(&r, IFLA_VXLAN_LEARNING, &learning, 1);
	nest_end(&r, data);
	nest_end(&r, info);
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_link_del(struct wf_nl *nl, int index)
{
	struct req r;
	struct ifinfomsg *ifi = req_start(nl, &r, RTM_DELLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_link_del_name(struct wf_nl *nl, const char *name)
{
	if (strlen(name) >= IFNAMSIZ)
		return -ENODEV;
	struct req r;
	struct ifinfomsg *ifi = req_start(nl, &r, RTM_DELLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	put_str(&r, IFLA_IFNAME, name);
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_link_set(struct wf_nl *nl, int index, bool up, unsigned mtu, int master)
{
	struct req r;
	struct ifinfomsg *ifi = req_start(nl, &r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (mtu)
		put_u32(&r, IFLA_MTU, mtu);
	if (master >= 0)
		put_u32(&r, IFLA_MASTER, (uint32_t)master);
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_link_set_netns(struct wf_nl *nl, int index, int nsfd)
{
	struct req r;
	struct ifinfomsg *ifi = req_start(nl, &r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	put_u32(&r, IFLA_NET_NS_FD, (uint32_t)nsfd);
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_brport_hairpin(struct wf_nl *nl, int index, bool on)
{
	struct req r;
	struct ifinfomsg *ifi = req_start(nl, &r, RTM_SETLINK, 0, sizeof(*ifi));
	/* Bridge port attributes go through the AF_BRIDGE family (br_setlink). */
	ifi->ifi_family = AF_BRIDGE;
	ifi->ifi_index = index;
	struct rtattr *p = nest_start(&r, IFLA_PROTINFO);
	uint8_t mode = on;
	put(&r, IFLA_BRPORT_MODE, &mode, 1);
	nest_end(&r, p);
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_brport_hairpin_name(struct wf_nl *nl, const char *name, bool on)
{
	if (strlen(name) >= IFNAMSIZ)
		return -ENODEV;
	struct req r;
	struct ifinfomsg *ifi = req_start(nl, &r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	put_str(&r, IFLA_IFNAME, name);
	/* rtnl_newlink() on an existing port hands IFLA_INFO_SLAVE_DATA to the master's
	 * slave_changelink (br_port_slave_changelink); no IFLA_INFO_KIND needed */
	struct rtattr *info = nest_start(&r, IFLA_LINKINFO);
	struct rtattr *sd = nest_start(&r, IFLA_INFO_SLAVE_DATA);
	uint8_t mode = on;
	put(&r, IFLA_BRPORT_MODE, &mode, 1);
	nest_end(&r, sd);
	nest_end(&r, info);
	return transact(nl, &r, NULL, NULL);
}

static int addr_req(struct wf_nl *nl, uint16_t type, uint16_t flags, int index,
		    const struct wf_ip *ip, uint8_t prefix)
{
	struct req r;
	struct ifaddrmsg *ifa = req_start(nl, &r, type, flags, sizeof(*ifa));
	unsigned len = ip->family == AF_INET ? 4 : 16;
	ifa->ifa_family = ip->family;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_index = (unsigned)index;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	put(&r, IFA_LOCAL, ip->addr, len);
	put(&r, IFA_ADDRESS, ip->addr, len);
	if (ip->family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_addr_add(struct wf_nl *nl, int index, const struct wf_ip *ip, uint8_t prefix)
{
	return addr_req(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, ip, prefix);
}

int wf_nl_addr_del(struct wf_nl *nl, int index, const struct wf_ip *ip, uint8_t prefix)
{
	return addr_req(nl, RTM_DELADDR, 0, index, ip, prefix);
}

struct addr_find {
	int index;
	const struct wf_ip *ip;
	bool found;
};

static int match_addr(const struct nlmsghdr *h, void *arg)
{
	struct addr_find *f = arg;
	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	if ((int)ifa->ifa_index != f->index || ifa->ifa_family != f->ip->family)
		return 0;
	unsigned alen = f->ip->family == AF_INET ? 4 : 16;
	int len = IFA_PAYLOAD(h);
	for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if ((a->rta_type == IFA_LOCAL || a->rta_type == IFA_ADDRESS) &&
		    RTA_PAYLOAD(a) == alen && memcmp(RTA_DATA(a), f->ip->addr, alen) == 0)
			f->found = true;
	}
	return 0;
}

int wf_nl_addr_has(struct wf_nl *nl, int index, const struct wf_ip *ip)
{
	struct req r;
	struct ifaddrmsg *ifa = req_start(nl, &r, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));
	ifa->ifa_family = ip->family;
	struct addr_find f = {.index = index, .ip = ip};
	int err = transact(nl, &r, match_addr, &f);
	if (err < 0)
		return err;
	return f.found;
}

struct addr_list {
	struct wf_ip *out;
	size_t cap, n;
};

static int list_addr(const struct nlmsghdr *h, void *arg)
{
	struct addr_list *l = arg;
	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	unsigned alen = ifa->ifa_family == AF_INET ? 4 : ifa->ifa_family == AF_INET6 ? 16 : 0;
	const void *addr = NULL;
	int len = IFA_PAYLOAD(h);
	for (const struct rtattr *a = IFA_RTA(ifa); alen && RTA_OK(a, len); a = RTA_NEXT(a, len))
		/* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on point-to-point
		 * links and the same address elsewhere */
		if ((a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !addr)) &&
		    RTA_PAYLOAD(a) == alen)
			addr = RTA_DATA(a);
	if (!addr)
		return 0;
	if (l->n < l->cap) {
		struct wf_ip *ip = &l->out[l->n];
		memset(ip, 0, sizeof(*ip));
		ip->family = ifa->ifa_family;
		memcpy(ip->addr, addr, alen);
	}
	l->n++;
	return 0;
}

int wf_nl_addr_list(struct wf_nl *nl, struct wf_ip *out, size_t cap)
{
	struct req r;
	struct ifaddrmsg *ifa = req_start(nl, &r, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	struct addr_list l = {.out = out, .cap = cap};
	int err = transact(nl, &r, list_addr, &l);
	return err < 0 ? err : (int)l.n;
}

static int route_req(struct wf_nl *nl, uint16_t type, uint16_t flags, const struct wf_nl_route *rt)
{
	struct req r;
	struct rtmsg *rtm = req_start(nl, &r, type, flags, sizeof(*rtm));
	uint8_t family = rt->dst.family ? rt->dst.family : rt->gw.family;
	unsigned len = family == AF_INET ? 4 : 16;
	rtm->rtm_family = family;
	rtm->rtm_dst_len = rt->prefix;
	rtm->rtm_table = rt->table && rt->table < 256 ? (uint8_t)rt->table : RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = rt->scope;
	rtm->rtm_type = RTN_UNICAST;
	if (rt->onlink)
		rtm->rtm_flags |= RTNH_F_ONLINK;
	if (rt->prefix)
		put(&r, RTA_DST, rt->dst.addr, len);
	if (rt->gw.family)
		put(&r, RTA_GATEWAY, rt->gw.addr, len);
	if (rt->oif > 0)
		put_u32(&r, RTA_OIF, (uint32_t)rt->oif);
	if (rt->table >= 256)
		put_u32(&r, RTA_TABLE, rt->table);
	if (rt->priority)
		put_u32(&r, RTA_PRIORITY, rt->priority);
	if (rt->mtu) {
		struct rtattr *m = nest_start(&r, RTA_METRICS);
		put_u32(&r, RTAX_MTU, rt->mtu);
		nest_end(&r, m);
	}
	return transact(nl, &r, NULL, NULL);
}

int wf_nl_route_add(struct wf_nl *nl, const struct wf_nl_route *r)
{
	return route_req(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r);
}

int wf_nl_route_del(struct wf_nl *nl, const struct wf_nl_route *r)
{
	return route_req(nl, RTM_DELROUTE, 0, r);
}

int wf_nl_neigh_add(struct wf_nl *nl, int index, const struct wf_ip *ip, const uint8_t mac[6])
{
	struct req r;
	struct ndmsg *nd =
		req_start(nl, &r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*nd));
	nd->ndm_family = ip->family;
	nd->ndm_ifindex = index;
	nd->ndm_state = NUD_PERMANENT;
	put(&r, NDA_DST, ip->addr, ip->family == AF_INET ? 4 : 16);
	put(&r, NDA_LLADDR, mac, 6);
	return transact(nl, &r, NULL, NULL);
}
