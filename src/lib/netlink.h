/* A small rtnetlink client over a raw AF_NETLINK socket: links (veth, bridge, vxlan), bridge
 * ports, addresses, routes and neighbours. No libmnl, so that static binaries (weft-cni) can use
 * it. Every request asks for an ACK and returns the kernel's errno (negative).
 *
 * Thread context: a struct wf_nl belongs to one thread at a time. The socket stays in the
 * network namespace that was current when wf_nl_init() ran, whatever setns() happens later. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "lib/netlink-types.h"

/* Opens the socket in the current network namespace. Returns 0 or -errno. */
int wf_nl_init(struct wf_nl *nl);
/* Opens the socket inside the network namespace nsfd (a /proc/…/ns/net or /run/netns fd),
 * returning the calling thread to its own namespace before it returns. */
int wf_nl_init_in(struct wf_nl *nl, int nsfd);
/* Closes the socket; safe on a zeroed or already-done struct. */
void wf_nl_done(struct wf_nl *nl);

/* Batching (several requests, one sendmsg). Between wf_nl_batch_begin() and
 * wf_nl_batch_end(), every call that only expects an ACK (the _add, _del, _set and
 * _hairpin calls) is queued in nl->buf instead of sent, and returns 0, or -EMSGSIZE when the
 * buffer is full (that request is not queued); lookups (_get, _has) return -EBUSY.
 * wf_nl_batch_end() sends the queued requests in one sendmsg and reads one ACK per request:
 * the kernel handles them one after another, in order, each seeing the effects of the ones
 * before it, and goes on after a failure. It stores request i's result (0 or -errno) in
 * ret_errs[i] for i < n and returns the number of requests sent, or -errno when the batch
 * could not be sent or its ACKs not read (nothing is known then about the requests). A batch
 * of zero requests sends nothing and returns 0. */
void wf_nl_batch_begin(struct wf_nl *nl);
int wf_nl_batch_end(struct wf_nl *nl, int *ret_errs, unsigned n);

/* Looks a link up by name. -ENODEV when there is none. */
int wf_nl_link_get(struct wf_nl *nl, const char *name, struct wf_nl_link *ret);
int wf_nl_link_get_index(struct wf_nl *nl, int index, struct wf_nl_link *ret);

/* Creates a veth pair: name here, peer named peer_name in the namespace peer_nsfd (-1: here).
 * peer options apply to the peer (mtu, mac); peer->up is ignored, because the kernel cannot
 * open a peer before the pair exists - bring it up with wf_nl_link_set() from its namespace.
 * -EEXIST when either name is taken. */
int wf_nl_veth_add(struct wf_nl *nl, const char *name, const struct wf_nl_link_opts *opts,
		   const char *peer_name, int peer_nsfd, const struct wf_nl_link_opts *peer);
/* Creates a bridge (up if opts->up). -EEXIST when the name is taken. */
int wf_nl_bridge_add(struct wf_nl *nl, const char *name, const struct wf_nl_link_opts *opts);
/* Creates a link of a kind that needs no IFLA_INFO_DATA ("bridge", "ifb", "dummy"). */
int wf_nl_link_add(struct wf_nl *nl, const char *name, const char *kind,
		   const struct wf_nl_link_opts *opts);
int wf_nl_vxlan_add(struct wf_nl *nl, const char *name, const struct wf_nl_vxlan *vx,
		    const struct wf_nl_link_opts *opts);
int wf_nl_link_del(struct wf_nl *nl, int index);
/* Deletes by name; -ENODEV when absent. */
int wf_nl_link_del_name(struct wf_nl *nl, const char *name);
/* Changes a link: up/down, mtu (0: unchanged), master (-1: unchanged, 0: release). */
int wf_nl_link_set(struct wf_nl *nl, int index, bool up, unsigned mtu, int master);
/* Moves a link into the namespace nsfd. */
int wf_nl_link_set_netns(struct wf_nl *nl, int index, int nsfd);
/* Sets a bridge port's hairpin mode (IFLA_BRPORT_MODE). */
int wf_nl_brport_hairpin(struct wf_nl *nl, int index, bool on);
/* The same, naming the port (RTM_NEWLINK with IFLA_INFO_SLAVE_DATA, as `ip link set NAME type
 * bridge_slave hairpin on`): usable in a batch right after the request that creates the port,
 * whose index is not known yet. -EOPNOTSUPP when the link is not a bridge port. */
int wf_nl_brport_hairpin_name(struct wf_nl *nl, const char *name, bool on);

/* Adds ip/prefix to the link. IPv6 addresses are added without DAD (IFA_F_NODAD). -EEXIST
 * when present. */
int wf_nl_addr_add(struct wf_nl *nl, int index, const struct wf_ip *ip, uint8_t prefix);
int wf_nl_addr_del(struct wf_nl *nl, int index, const struct wf_ip *ip, uint8_t prefix);
/* Returns 1 when the link has ip (any prefix), 0 when not, or -errno. */
int wf_nl_addr_has(struct wf_nl *nl, int index, const struct wf_ip *ip);
/* The addresses of every link of the namespace, both families, into out (at most cap; the
 * rest are counted but not stored). Returns how many there are, or -errno. */
int wf_nl_addr_list(struct wf_nl *nl, struct wf_ip *out, size_t cap);

int wf_nl_route_add(struct wf_nl *nl, const struct wf_nl_route *r);
int wf_nl_route_del(struct wf_nl *nl, const struct wf_nl_route *r);

/* Adds (replaces) a permanent neighbour entry ip -> mac on the link. */
int wf_nl_neigh_add(struct wf_nl *nl, int index, const struct wf_ip *ip, const uint8_t mac[6]);
