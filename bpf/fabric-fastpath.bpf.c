// SPDX-License-Identifier: GPL-2.0
/* The fabric's fast path (docs/internals/fabric.md, "Fast path"): tc ingress programs that
 * forward established, un-NATed pod-to-pod IPv4 traffic between a node's pods and the fabric
 * without the node's IP forwarding path (routing decision, netfilter hooks, conntrack).
 *
 *   wf_from_pod     on the host side of every pod veth (ports of the pods' bridge): a frame
 *                   a pod routes (sent to the bridge's MAC) towards another node's podCIDR
 *                   goes straight out of the fabric link that the route lookup picks.
 *   wf_from_fabric  on the link other nodes' pod traffic arrives on (the underlay link for
 *                   host-gw, the VXLAN device for vxlan): a packet for one of this node's pods
 *                   goes straight to the pods' bridge.
 *
 * Everything else - other destinations, new flows, NATed flows (Service DNAT and its replies,
 * masquerade), TCP SYN/FIN/RST, fragments, IP options, TTL expiry, packets too big for the
 * egress MTU, unresolved neighbours - goes on to the kernel's stack unchanged (TC_ACT_OK), so
 * the fast path can only ever be a shortcut for what the stack would have done anyway. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* include/uapi/linux/netfilter/nf_conntrack_common.h */
#define IPS_ASSURED (1 << 2)
#define IPS_SRC_NAT (1 << 4)
#define IPS_DST_NAT (1 << 5)

/* The fields of the kernel's struct nf_conn we read; CO-RE finds them in the kernel's BTF. */
struct nf_conn {
	unsigned long status;
} __attribute__((preserve_access_index));

/* The first 12 bytes of the kernel's struct bpf_ct_opts (net/netfilter/nf_conntrack_bpf.c),
 * a size every kernel with these kfuncs (5.19+) accepts. */
struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};
#define WF_CT_OPTS_SZ 12

extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *tuple,
					 __u32 tuple_sz, struct bpf_ct_opts *opts,
					 __u32 opts_sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

/* Shared with src/fabric/fabric-bpf.c. */
struct wf_fp_config {
	__u32 bridge;	    /* ifindex of the pods' bridge */
	__u8 bridge_mac[6]; /* frames a pod routes are sent to this MAC */
	__u8 flags;	    /* WF_FP_F_* */
	__u8 pad;
};

/* The service proxy keeps pod-to-pod traffic out of conntrack (its table's raw-prerouting,
 * docs/services.md "Pod traffic without conntrack"): such a flow has no entry to look up, and
 * nothing on this node NATs it. */
#define WF_FP_F_POD_NOTRACK 1

struct wf_fp_lpm_key {
	__u32 prefixlen;
	__u32 addr; /* network byte order */
};

enum {
	WF_FP_STAT_FROM_POD,
	WF_FP_STAT_FROM_FABRIC,
	WF_FP_STAT_MAX
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wf_fp_config);
} wf_fp_config SEC(".maps");

/* This node's podCIDRs. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct wf_fp_lpm_key);
	__type(value, __u8);
} wf_fp_local SEC(".maps");

/* Other nodes' podCIDRs. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct wf_fp_lpm_key);
	__type(value, __u8);
} wf_fp_remote SEC(".maps");

/* Packets forwarded by each program (the agent's weft_fabric_fastpath_packets_total). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WF_FP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} wf_fp_stats SEC(".maps");

/* The pods' MACs and the bridge port (host side of the pod's veth) each was seen on: what the
 * bridge's forwarding database holds, learned the same way - from the source MAC of what pods
 * send (here: what they route). Lets wf_from_fabric hand a packet straight to the pod
 * (bpf_redirect_peer) instead of through the bridge. LRU: deleted pods' entries age out. */
struct wf_fp_mac {
	__u8 addr[6];
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct wf_fp_mac);
	__type(value, __u32);
} wf_fp_ports SEC(".maps");

static __always_inline int in_cidrs(void *map, __u32 addr)
{
	struct wf_fp_lpm_key k = {.prefixlen = 32, .addr = addr};

	return bpf_map_lookup_elem(map, &k) != NULL;
}

/* An established flow conntrack already knows and that nothing NATs on this node: what the
 * stack would only forward. A flow conntrack does not know yet goes through the stack, so
 * its first packets meet the node's netfilter rules (Services, policy) and create the entry -
 * unless the flow is pod-to-pod under WF_FP_F_POD_NOTRACK (pod_src: the source is a pod
 * address, and the flag is on): the stack would leave it untracked, so no entry is ever
 * coming, the proxy's rules guarantee nothing NATs it, and no packet of it - SYN, FIN and RST
 * included - needs anything of the stack but the route, which forward() looks up. */
static __always_inline int flow_is_plain(struct __sk_buff *skb, struct iphdr *ip, void *end,
					 int pod_src)
{
	struct bpf_sock_tuple t = {};
	struct bpf_ct_opts opts = {.netns_id = -1 /* BPF_F_CURRENT_NETNS */};
	struct nf_conn *ct;
	__u16 *ports = (void *)(ip + 1);
	int plain, flags = 0;

	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *th = (void *)(ip + 1);

		if ((void *)(th + 1) > end)
			return 0;
		/* conntrack must see connections open and close, so it tracks their state and
		 * times their entries out - unless it never tracks the flow (below) */
		flags = th->syn || th->fin || th->rst;
		if (flags && !pod_src)
			return 0;
	} else if (ip->protocol == IPPROTO_UDP) {
		if ((void *)(ports + 2) > end)
			return 0;
	} else {
		return 0;
	}
	t.ipv4.saddr = ip->saddr;
	t.ipv4.daddr = ip->daddr;
	t.ipv4.sport = ports[0];
	t.ipv4.dport = ports[1];
	opts.l4proto = ip->protocol;
	ct = bpf_skb_ct_lookup(skb, &t, sizeof(t.ipv4), &opts, WF_CT_OPTS_SZ);
	if (!ct)
		return pod_src;
	/* a flow conntrack knows (from before pod_notrack, or from outside the pods) */
	plain = !flags && (ct->status & IPS_ASSURED) && !(ct->status & (IPS_SRC_NAT | IPS_DST_NAT));
	bpf_ct_release(ct);
	return plain;
}

static __always_inline int same_mac(const __u8 *a, const __u8 *b)
{
	return !((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		 (a[5] ^ b[5]));
}

static __always_inline void count(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&wf_fp_stats, &which);

	if (n)
		*n += 1;
}

/* Routes the packet as ip_forward() would - route lookup with the input device in_if, TTL
 * decrement, new MACs - and hands it to the egress device. want_bridge: the route must lead
 * to the pods' bridge (1) or away from it (0). */
static __always_inline int forward(struct __sk_buff *skb, const struct wf_fp_config *cfg,
				   __u32 in_if, int want_bridge, __u32 stat)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct bpf_fib_lookup p = {};
	__u16 old_ttl, new_ttl;

	if ((void *)(ip + 1) > end)
		return TC_ACT_OK;
	p.family = AF_INET;
	p.tos = ip->tos;
	p.l4_protocol = ip->protocol;
	p.ipv4_src = ip->saddr;
	p.ipv4_dst = ip->daddr;
	p.ifindex = in_if;
	/* tot_len 0: the helper checks the egress MTU against the skb itself, GSO included;
	 * a packet that does not fit gets the stack's ICMP "fragmentation needed" */
	if (bpf_fib_lookup(skb, &p, sizeof(p), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return TC_ACT_OK;
	if ((p.ifindex == cfg->bridge) != want_bridge)
		return TC_ACT_OK;

	/* RFC 1812 5.3.1: a router decrements the TTL (the caller made sure it is > 1); the
	 * header checksum follows (RFC 1624) */
	old_ttl = bpf_htons((__u16)ip->ttl << 8);
	ip->ttl--;
	new_ttl = bpf_htons((__u16)ip->ttl << 8);
	if (bpf_l3_csum_replace(skb, ETH_HLEN + __builtin_offsetof(struct iphdr, check), old_ttl,
				new_ttl, 2) < 0)
		return TC_ACT_SHOT; /* the TTL changed already: the packet is damaged */
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_SHOT;
	__builtin_memcpy(eth->h_dest, p.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, p.smac, ETH_ALEN);
	count(stat);
	if (want_bridge) {
		/* The neighbour entry named the pod's MAC, the learned port names its veth: as
		 * the bridge would deliver it, without the bridge and the veth's queue. */
		struct wf_fp_mac m = {};
		__u32 *port;

		__builtin_memcpy(m.addr, p.dmac, ETH_ALEN);
		port = bpf_map_lookup_elem(&wf_fp_ports, &m);
		if (port)
			return bpf_redirect_peer(*port, 0);
	}
	return bpf_redirect(p.ifindex, 0);
}

/* The checks both directions share; returns the IPv4 header or NULL (leave it to the stack).
 * map: the podCIDRs the destination must be in. */
static __always_inline struct iphdr *plain_ipv4(struct __sk_buff *skb, void *map,
						const struct wf_fp_config *cfg)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	if (ip->ihl != 5 || ip->ttl <= 1 || (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
		return NULL;
	if (!in_cidrs(map, ip->daddr))
		return NULL;
	/* a pod source: one of this node's pods or another node's (where destinations are
	 * this node's own addresses, the route lookup in forward() declines them) */
	int pod_src = (cfg->flags & WF_FP_F_POD_NOTRACK) &&
		      (in_cidrs(&wf_fp_local, ip->saddr) || in_cidrs(&wf_fp_remote, ip->saddr));
	if (!flow_is_plain(skb, ip, end, pod_src))
		return NULL;
	return ip;
}

/* Remembers that mac sits behind port (bridge learning, for routed frames only: the same-node
 * path does not pay for it). A lookup first: the common case writes nothing. */
static __always_inline void learn(const __u8 *mac, __u32 port)
{
	struct wf_fp_mac m = {};
	__u32 *known;

	if (mac[0] & 1) /* multicast source: never a pod */
		return;
	__builtin_memcpy(m.addr, mac, ETH_ALEN);
	known = bpf_map_lookup_elem(&wf_fp_ports, &m);
	if (!known || *known != port)
		bpf_map_update_elem(&wf_fp_ports, &m, &port, BPF_ANY);
}

SEC("tc")
int wf_from_pod(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 zero = 0;
	struct wf_fp_config *cfg = bpf_map_lookup_elem(&wf_fp_config, &zero);

	if (!cfg || !cfg->bridge || (void *)(eth + 1) > end)
		return TC_ACT_OK;
	/* only what the pod routes: a frame to another pod's MAC is the bridge's business */
	if (!same_mac(eth->h_dest, cfg->bridge_mac))
		return TC_ACT_OK;
	learn(eth->h_source, skb->ingress_ifindex);
	if (!plain_ipv4(skb, &wf_fp_remote, cfg))
		return TC_ACT_OK;
	/* routed as if it came in on the bridge, where the stack would see it */
	return forward(skb, cfg, cfg->bridge, 0, WF_FP_STAT_FROM_POD);
}

SEC("tc")
int wf_from_fabric(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct wf_fp_config *cfg = bpf_map_lookup_elem(&wf_fp_config, &zero);

	if (!cfg || !cfg->bridge)
		return TC_ACT_OK;
	if (!plain_ipv4(skb, &wf_fp_local, cfg))
		return TC_ACT_OK;
	return forward(skb, cfg, skb->ingress_ifindex, 1, WF_FP_STAT_FROM_FABRIC);
}

char _license[] SEC("license") = "GPL";
