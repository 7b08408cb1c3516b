/* Types for the raw rtnetlink helper (netlink.h). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "lib/ip-types.h"

/* One NETLINK_ROUTE socket, bound to the network namespace that was current when it was
 * opened. Embedded by the caller: wf_nl_init() / wf_nl_done(). */
struct wf_nl {
	int fd;
	uint32_t seq;
	uint32_t portid;
	uint8_t *buf; /* request/reply buffer, WF_NL_BUFSIZE bytes */
	/* wf_nl_batch_begin() .. wf_nl_batch_end(): requests queued in buf, not yet sent */
	bool batching;
	unsigned batch_n;   /* requests queued */
	size_t batch_len;   /* bytes queued */
	uint32_t batch_seq; /* sequence number of the first one */
};

#define WF_NL_BUFSIZE 16384

/* What wf_nl_link_get() reports about a link. */
struct wf_nl_link {
	int index;
	int master; /* 0: none */
	unsigned mtu;
	unsigned flags; /* IFF_* */
	uint8_t mac[6];
	bool has_mac;
	char name[16];
};

/* Optional attributes when creating a link; zero means "kernel default". */
struct wf_nl_link_opts {
	unsigned mtu;
	int master;	    /* ifindex of a bridge to enslave to */
	bool up;	    /* bring the link up in the same request */
	const uint8_t *mac; /* 6 bytes or NULL */
};

/* A VXLAN device (wf_nl_vxlan_add). */
struct wf_nl_vxlan {
	uint32_t vni;
	uint16_t port;	    /* UDP destination port, host order; 0: 4789 */
	int dev;	    /* underlay ifindex or 0 */
	struct wf_ip local; /* family 0: unset */
	bool learning;
};

/* A route (wf_nl_route_add/del). dst with prefix 0 is the default route. */
struct wf_nl_route {
	struct wf_ip dst;
	uint8_t prefix;
	struct wf_ip gw; /* family 0: no gateway */
	int oif;	 /* 0: none */
	uint8_t scope;	 /* RT_SCOPE_*; 0 = universe */
	uint32_t table;	 /* 0: main */
	uint32_t priority;
	unsigned mtu; /* 0: none */
	bool onlink;
};
