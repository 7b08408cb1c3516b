// SPDX-License-Identifier: GPL-2.0
/* The service proxy's socket-level load balancer (docs/services.md "Socket-level load
 * balancing", docs/internals/proxy.md "Socket-LB"): cgroup sock_addr programs that rewrite a
 * connect() or sendmsg() to a Service's address into one of its endpoints', so that the packet
 * leaves the socket already addressed to the endpoint and needs no DNAT (nor, once the nft
 * table stops tracking pod-to-pod flows, conntrack).
 *
 *   wf_slb_connect4/6      connect() of TCP and UDP sockets
 *   wf_slb_sendmsg4/6      sendto()/sendmsg() of unconnected UDP sockets
 *   wf_slb_recvmsg4/6      the source of a UDP reply shown as the VIP again (resolvers check it)
 *   wf_slb_getpeername4/6  getpeername() shows the VIP, as through DNAT
 *   wf_slb_release         a released socket's connect() record goes
 *
 * IPv4-mapped addresses (::ffff:a.b.c.d) on IPv6 sockets count as IPv4. Anything the maps do
 * not describe - other addresses, SCTP, a scope with no endpoint - is left alone, and the nft
 * table handles it as before (reject, drop, DNAT): the programs are a shortcut for what the
 * table would have done for a locally originated connection, never something else. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ALLOW 1 /* sock_addr programs: 1 lets the call go on, 0 fails it with EPERM */

/* Shared with src/proxy/socklb.c (struct slb_* there): every field in network byte order
 * except counts, ids and seconds. */
struct wf_slb_key {
	__u32 addr[4]; /* IPv4: addr[0], the rest zero */
	__u16 port;
	__u8 proto;  /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 family; /* 4 or 6 */
};

struct wf_slb_svc {
	__u32 id;	/* the endpoint list: keys of wf_slb_eps are (id, slot) */
	__u32 count;	/* slots 0..count-1 are filled; 0: do not rewrite */
	__u32 affinity; /* sessionAffinity ClientIP timeout in seconds, 0: none */
	__u32 pad;
};

struct wf_slb_ep_key {
	__u32 id;
	__u32 slot;
};

struct wf_slb_ep {
	__u32 addr[4];
	__u16 port;
	__u16 pad;
};

/* The endpoint a socket was sent to, and the VIP it asked for. */
struct wf_slb_rev_key {
	__u64 cookie; /* bpf_get_socket_cookie */
	__u32 addr[4];
	__u16 port;
	__u8 family;
	__u8 pad[5];
};

struct wf_slb_aff_key {
	__u64 netns; /* the client: bpf_get_netns_cookie (one pod, or the node) */
	__u32 id;
	__u32 pad;
};

struct wf_slb_aff {
	struct wf_slb_ep ep;
	__u32 slot;
	__u32 pad;
	__u64 last_ns; /* bpf_ktime_get_ns of the last connection that used it */
};

struct wf_slb_config {
	__u32 enabled; /* 0 while the maps are being repaired after a failure: rewrite nothing */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct wf_slb_key);
	__type(value, struct wf_slb_svc);
} wf_slb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct wf_slb_ep_key);
	__type(value, struct wf_slb_ep);
} wf_slb_eps SEC(".maps");

/* LRU: a closed socket's entry ages out; nobody deletes it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct wf_slb_rev_key);
	__type(value, struct wf_slb_key);
} wf_slb_rev SEC(".maps");

/* What a connect() chose, by socket cookie: getpeername() and the replies of a connected UDP
 * socket show the VIP for as long as the socket lives. The entry goes when the socket is
 * released (wf_slb_release), never earlier, so a long-lived connection keeps it however many
 * others come and go. Preallocated: a connect() pays a plain hash insert (a socket-storage
 * or LRU entry cost twice as much here, bench/services/RESULTS.md). When it is full, connect()
 * is left to the nft table. */
struct wf_slb_peer {
	struct wf_slb_key vip;
	struct wf_slb_ep ep;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct wf_slb_peer);
} wf_slb_peer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct wf_slb_aff_key);
	__type(value, struct wf_slb_aff);
} wf_slb_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wf_slb_config);
} wf_slb_config SEC(".maps");

static __always_inline int enabled(void)
{
	__u32 zero = 0;
	struct wf_slb_config *c = bpf_map_lookup_elem(&wf_slb_config, &zero);

	return c && c->enabled;
}

static __always_inline int ep_equal(const struct wf_slb_ep *a, const struct wf_slb_ep *b)
{
	return a->addr[0] == b->addr[0] && a->addr[1] == b->addr[1] && a->addr[2] == b->addr[2] &&
	       a->addr[3] == b->addr[3] && a->port == b->port;
}

/* The endpoint for a new connection to the service s: the client's previous one while its
 * affinity lasts and that endpoint still holds its slot, else a random one. 0: none. */
static __always_inline int pick(void *ctx, const struct wf_slb_svc *s, struct wf_slb_ep *ret)
{
	struct wf_slb_ep_key ek = {.id = s->id};
	struct wf_slb_aff_key ak = {};
	struct wf_slb_aff *a = NULL, na = {};
	struct wf_slb_ep *ep;
	__u32 count = s->count;
	__u64 now = 0;

	if (!count)
		return 0;
	if (s->affinity) {
		ak.netns = bpf_get_netns_cookie(ctx);
		ak.id = s->id;
		now = bpf_ktime_get_ns();
		a = bpf_map_lookup_elem(&wf_slb_affinity, &ak);
		if (a && now - a->last_ns < (__u64)s->affinity * 1000000000ull && a->slot < count) {
			ek.slot = a->slot;
			ep = bpf_map_lookup_elem(&wf_slb_eps, &ek);
			if (ep && ep_equal(ep, &a->ep)) {
				a->last_ns = now;
				*ret = *ep;
				return 1;
			}
		}
	}
	ek.slot = bpf_get_prandom_u32() % count;
	ep = bpf_map_lookup_elem(&wf_slb_eps, &ek);
	if (!ep)
		return 0; /* a slot being rewritten: leave this one to the nft table */
	*ret = *ep;
	if (s->affinity) {
		na.ep = *ep;
		na.slot = ek.slot;
		na.last_ns = now;
		bpf_map_update_elem(&wf_slb_affinity, &ak, &na, BPF_ANY);
	}
	return 1;
}

/* Rewrites addr and port (network order, family 4: addr[0] only) when they name a service with
 * an endpoint in scope, and remembers the VIP for recvmsg/getpeername: with the socket for a
 * connect() (connected), in wf_slb_rev for a sendmsg() (one socket, many peers). */
static __always_inline void balance(struct bpf_sock_addr *ctx, __u8 family, __u32 addr[4],
				    __u16 *port, int connected)
{
	struct wf_slb_key k = {.port = *port, .family = family};
	struct wf_slb_rev_key rk = {.family = family};
	struct wf_slb_svc *s;
	struct wf_slb_ep ep;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return;
	if (!enabled())
		return;
	k.proto = ctx->protocol;
	k.addr[0] = addr[0];
	if (family == 6) {
		k.addr[1] = addr[1];
		k.addr[2] = addr[2];
		k.addr[3] = addr[3];
	}
	s = bpf_map_lookup_elem(&wf_slb_services, &k);
	if (!s || !pick(ctx, s, &ep))
		return;
	if (connected) {
		struct wf_slb_peer peer = {.vip = k, .ep = ep};
		__u64 cookie = bpf_get_socket_cookie(ctx);

		if (bpf_map_update_elem(&wf_slb_peer, &cookie, &peer, BPF_ANY))
			return; /* full: leave this one to the nft table */
		goto rewrite;
	}
	rk.cookie = bpf_get_socket_cookie(ctx);
	rk.addr[0] = ep.addr[0];
	rk.addr[1] = ep.addr[1];
	rk.addr[2] = ep.addr[2];
	rk.addr[3] = ep.addr[3];
	rk.port = ep.port;
	bpf_map_update_elem(&wf_slb_rev, &rk, &k, BPF_ANY);
rewrite:
	addr[0] = ep.addr[0];
	if (family == 6) {
		addr[1] = ep.addr[1];
		addr[2] = ep.addr[2];
		addr[3] = ep.addr[3];
	}
	*port = ep.port;
}

/* The VIP a socket asked for when addr/port is the endpoint it was sent to. */
static __always_inline void unbalance(struct bpf_sock_addr *ctx, __u8 family, __u32 addr[4],
				      __u16 *port)
{
	struct wf_slb_rev_key rk = {.family = family, .port = *port};
	struct wf_slb_peer *peer;
	struct wf_slb_key *k;

	rk.cookie = bpf_get_socket_cookie(ctx);
	peer = bpf_map_lookup_elem(&wf_slb_peer, &rk.cookie);
	if (peer && peer->ep.port == *port && peer->ep.addr[0] == addr[0] &&
	    (family == 4 || (peer->ep.addr[1] == addr[1] && peer->ep.addr[2] == addr[2] &&
			     peer->ep.addr[3] == addr[3]))) {
		k = &peer->vip;
		goto found;
	}
	rk.addr[0] = addr[0];
	if (family == 6) {
		rk.addr[1] = addr[1];
		rk.addr[2] = addr[2];
		rk.addr[3] = addr[3];
	}
	k = bpf_map_lookup_elem(&wf_slb_rev, &rk);
	if (!k)
		return;
found:
	addr[0] = k->addr[0];
	if (family == 6) {
		addr[1] = k->addr[1];
		addr[2] = k->addr[2];
		addr[3] = k->addr[3];
	}
	*port = k->port;
}

static __always_inline void v4_forward(struct bpf_sock_addr *ctx, int connected)
{
	__u32 a[4] = {ctx->user_ip4};
	__u16 port = (__u16)ctx->user_port;

	balance(ctx, 4, a, &port, connected);
	ctx->user_ip4 = a[0];
	ctx->user_port = port;
}

static __always_inline void v4_reverse(struct bpf_sock_addr *ctx)
{
	__u32 a[4] = {ctx->user_ip4};
	__u16 port = (__u16)ctx->user_port;

	unbalance(ctx, 4, a, &port);
	ctx->user_ip4 = a[0];
	ctx->user_port = port;
}

/* ::ffff:0:0/96 */
static __always_inline int v4_mapped(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* reverse: recvmsg/getpeername; else connect (connected) or sendmsg */
static __always_inline void v6(struct bpf_sock_addr *ctx, int reverse, int connected)
{
	__u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
	__u16 port = (__u16)ctx->user_port;

	if (v4_mapped(a)) {
		__u32 m[4] = {a[3]};

		if (reverse)
			unbalance(ctx, 4, m, &port);
		else
			balance(ctx, 4, m, &port, connected);
		if (m[0] == a[3] && port == (__u16)ctx->user_port)
			return;
		ctx->user_ip6[3] = m[0];
		ctx->user_port = port;
		return;
	}
	if (reverse)
		unbalance(ctx, 6, a, &port);
	else
		balance(ctx, 6, a, &port, connected);
	if (port == (__u16)ctx->user_port && a[0] == ctx->user_ip6[0] && a[1] == ctx->user_ip6[1] &&
	    a[2] == ctx->user_ip6[2] && a[3] == ctx->user_ip6[3])
		return;
	ctx->user_ip6[0] = a[0];
	ctx->user_ip6[1] = a[1];
	ctx->user_ip6[2] = a[2];
	ctx->user_ip6[3] = a[3];
	ctx->user_port = port;
}

SEC("cgroup/connect4")
int wf_slb_connect4(struct bpf_sock_addr *ctx)
{
	v4_forward(ctx, 1);
	return ALLOW;
}

SEC("cgroup/sendmsg4")
int wf_slb_sendmsg4(struct bpf_sock_addr *ctx)
{
	v4_forward(ctx, 0);
	return ALLOW;
}

SEC("cgroup/recvmsg4")
int wf_slb_recvmsg4(struct bpf_sock_addr *ctx)
{
	v4_reverse(ctx);
	return ALLOW;
}

SEC("cgroup/getpeername4")
int wf_slb_getpeername4(struct bpf_sock_addr *ctx)
{
	v4_reverse(ctx);
	return ALLOW;
}

SEC("cgroup/connect6")
int wf_slb_connect6(struct bpf_sock_addr *ctx)
{
	v6(ctx, 0, 1);
	return ALLOW;
}

SEC("cgroup/sendmsg6")
int wf_slb_sendmsg6(struct bpf_sock_addr *ctx)
{
	v6(ctx, 0, 0);
	return ALLOW;
}

SEC("cgroup/recvmsg6")
int wf_slb_recvmsg6(struct bpf_sock_addr *ctx)
{
	v6(ctx, 1, 0);
	return ALLOW;
}

SEC("cgroup/getpeername6")
int wf_slb_getpeername6(struct bpf_sock_addr *ctx)
{
	v6(ctx, 1, 0);
	return ALLOW;
}

/* A socket's end: its connect() record goes (a miss for most sockets, which never had one). */
SEC("cgroup/sock_release")
int wf_slb_release(struct bpf_sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);

	bpf_map_delete_elem(&wf_slb_peer, &cookie);
	return ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
