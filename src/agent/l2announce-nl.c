/* The kernel backend of the layer-2 announcer: the LoadBalancer address as a /32 on the
 * underlay interface, marked with IFA_PROTO (Linux 6.0+), so the kernel answers ARP for it there
 * whatever arp_ignore says (the address is on the interface the request arrives on); and a
 * gratuitous ARP over an AF_PACKET socket when this node takes an address over.
 * docs/internals/l2announce.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/l2announce.h"
#include "lib/alloc.h"
#include "lib/mnl-session.h"
#include "lib/ip.h"

struct nl_be {
	struct wf_l2announce_backend be;
	struct wf_mnl_session nl;
};

static struct nl_be *to_nl(struct wf_l2announce_backend *be)
{
	return (struct nl_be *)be;
}

static int transact(struct nl_be *b, mnl_cb_t cb, void *data)
{
	return wf_mnl_session_transact(&b->nl, cb, data);
}

static struct nlmsghdr *msg_start(struct nl_be *b, uint16_t type, uint16_t flags)
{
	return wf_mnl_session_msg(&b->nl, type, flags);
}

/* One IPv4 address of a dump: its IFA_LOCAL, prefix, interface and IFA_PROTO. */
struct addr_info {
	struct wf_ip ip;
	uint8_t prefix, proto;
	int ifindex;
};

static void parse_addr(const struct nlmsghdr *h, struct addr_info *ret)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;

	memset(ret, 0, sizeof(*ret));
	ret->prefix = ifa->ifa_prefixlen;
	ret->ifindex = (int)ifa->ifa_index;
	mnl_attr_for_each(a, h, sizeof(*ifa))
	{
		uint16_t t = mnl_attr_get_type(a);

		if (t == IFA_LOCAL && mnl_attr_get_payload_len(a) == 4) {
			ret->ip.family = AF_INET;
			memcpy(ret->ip.addr, mnl_attr_get_payload(a), 4);
		} else if (t == IFA_PROTO && mnl_attr_get_payload_len(a) >= 1) {
			ret->proto = mnl_attr_get_u8(a);
		}
	}
}

struct underlay_find {
	const struct wf_ip *ip;
	int ifindex;
	uint8_t prefix;
};

static int underlay_cb(const struct nlmsghdr *h, void *data)
{
	struct underlay_find *f = data;
	struct addr_info ai;

	if (h->nlmsg_type != RTM_NEWADDR)
		return MNL_CB_OK;
	parse_addr(h, &ai);
	if (ai.ip.family && wf_ip_equal(&ai.ip, f->ip)) {
		f->ifindex = ai.ifindex;
		f->prefix = ai.prefix;
	}
	return MNL_CB_OK;
}

static int dump_start(struct nl_be *b)
{
	struct nlmsghdr *h = msg_start(b, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));

	ifa->ifa_family = AF_INET;
	return 0;
}

static int nl_underlay(struct wf_l2announce_backend *be, const struct wf_ip *node_ip,
		       int *ret_ifindex, struct wf_cidr *ret_net)
{
	struct nl_be *b = to_nl(be);
	struct underlay_find f = {.ip = node_ip};
	struct wf_cidr net;
	char buf[WF_CIDR_STRLEN], a[WF_IP_STRLEN];
	int ret;

	dump_start(b);
	ret = transact(b, underlay_cb, &f);
	if (ret < 0)
		return ret;
	if (!f.ifindex)
		return -EADDRNOTAVAIL;
	snprintf(buf, sizeof(buf), "%s/%u", wf_ip_format(node_ip, a), f.prefix);
	ret = wf_cidr_parse(buf, false, &net);
	if (ret < 0)
		return ret;
	*ret_ifindex = f.ifindex;
	*ret_net = net;
	return 0;
}

struct list_acc {
	struct wf_l2announce_addr *v;
	size_t n;
	int err;
};

static int list_cb(const struct nlmsghdr *h, void *data)
{
	struct list_acc *l = data;
	struct addr_info ai;

	if (h->nlmsg_type != RTM_NEWADDR)
		return MNL_CB_OK;
	parse_addr(h, &ai);
	if (!ai.ip.family || ai.proto != WF_L2ANNOUNCE_PROTO || ai.prefix != 32)
		return MNL_CB_OK;
	struct wf_l2announce_addr *nv = wf_reallocarray(l->v, l->n + 1, sizeof(*nv));
	if (!nv) {
		l->err = -ENOMEM;
		return MNL_CB_OK; /* read the dump to its end */
	}
	l->v = nv;
	l->v[l->n++] = (struct wf_l2announce_addr){.ip = ai.ip, .ifindex = ai.ifindex};
	return MNL_CB_OK;
}

static ssize_t nl_list(struct wf_l2announce_backend *be, struct wf_l2announce_addr **ret)
{
	struct nl_be *b = to_nl(be);
	struct list_acc l = {0};
	int err;

	dump_start(b);
	err = transact(b, list_cb, &l);
	if (err == 0)
		err = l.err;
	if (err < 0) {
		wf_free(l.v);
		return err;
	}
	*ret = l.v;
	return (ssize_t)l.n;
}

static int addr_req(struct nl_be *b, uint16_t type, uint16_t flags, int ifindex,
		    const struct wf_ip *ip)
{
	struct nlmsghdr *h = msg_start(b, type, flags | NLM_F_ACK);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));

	if (ip->family != AF_INET)
		return -EAFNOSUPPORT;
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put(h, IFA_LOCAL, 4, ip->addr);
	mnl_attr_put(h, IFA_ADDRESS, 4, ip->addr);
	if (type == RTM_NEWADDR)
		mnl_attr_put_u8(h, IFA_PROTO, WF_L2ANNOUNCE_PROTO);
	return transact(b, NULL, NULL);
}

static int nl_add(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip)
{
	/* NLM_F_EXCL: an address someone else added stays theirs (and unmarked) */
	return addr_req(to_nl(be), RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, ip);
}

static int nl_del(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip)
{
	return addr_req(to_nl(be), RTM_DELADDR, 0, ifindex, ip);
}

/* RFC 5227 2.4 (ARP Announcement): an ARP request with sender and target address both ip,
 * broadcast; followed by a reply of the same, which some stacks only take (arping -A). */
static int nl_garp(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip)
{
	struct __attribute__((packed)) {
		uint16_t hrd, pro;
		uint8_t hln, pln;
		uint16_t op;
		uint8_t sha[6], spa[4], tha[6], tpa[4];
	} arp;
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = ifindex,
		.sll_halen = 6,
		.sll_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	};
	struct ifreq ifr = {0};
	int fd, ret = 0;

	(void)be;
	if (ip->family != AF_INET)
		return -EAFNOSUPPORT;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd == -1)
		return -errno;
	if (!if_indextoname((unsigned)ifindex, ifr.ifr_name) ||
	    ioctl(fd, SIOCGIFHWADDR, &ifr) == -1) {
		ret = -errno;
		goto out_fd;
	}
	arp.hrd = htons(1); /* Ethernet */
	arp.pro = htons(ETH_P_IP);
	arp.hln = 6;
	arp.pln = 4;
	memcpy(arp.sha, ifr.ifr_hwaddr.sa_data, 6);
	memcpy(arp.spa, ip->addr, 4);
	memset(arp.tha, 0, 6);
	memcpy(arp.tpa, ip->addr, 4);
	for (uint16_t op = 1; op <= 2; op++) {
		arp.op = htons(op);
		if (op == 2)
			memset(arp.tha, 0xff, 6);
		if (sendto(fd, &arp, sizeof(arp), 0, (struct sockaddr *)&to, sizeof(to)) == -1) {
			ret = -errno;
			goto out_fd;
		}
	}
out_fd:
	close(fd);
	return ret;
}

static void nl_free(struct wf_l2announce_backend *be)
{
	struct nl_be *b = to_nl(be);

	if (!b)
		return;
	wf_mnl_session_done(&b->nl);
	wf_free(b);
}

static const struct wf_l2announce_backend_ops nl_ops = {
	.underlay = nl_underlay,
	.list = nl_list,
	.add = nl_add,
	.del = nl_del,
	.garp = nl_garp,
	.free = nl_free,
};

int wf_l2announce_nl_new(struct wf_l2announce_backend **ret)
{
	struct nl_be *b = wf_calloc(1, sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	b->be.ops = &nl_ops;
	err = wf_mnl_session_init(&b->nl);
	if (err < 0)
		goto err_b;
	*ret = &b->be;
	return 0;
err_b:
	nl_free(&b->be);
	return err;
}
