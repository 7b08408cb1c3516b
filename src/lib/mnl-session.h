/* A request/response session on a libmnl rtnetlink socket: one socket, one reply buffer, a
 * sequence counter. The fabric and the layer-2 announcer build their requests with libmnl's
 * attribute helpers and run them through this; src/lib/netlink.h is the raw-socket helper that
 * the static weft-cni uses instead (libmnl has no static archive in Debian).
 *
 * Not thread-safe: one session per thread. */
#pragma once
#include <libmnl/libmnl.h>
#include <stdint.h>

#define WF_MNL_BUFSIZE 65536 /* a dump message is at most 32 KiB */

struct wf_mnl_session {
	struct mnl_socket *mnl;
	uint32_t portid;
	uint32_t seq;
	char *buf; /* WF_MNL_BUFSIZE bytes: the request being built, then the replies */
};

/* Opens and binds a NETLINK_ROUTE socket with small ACKs (NETLINK_CAP_ACK) and a 5 s receive
 * timeout, so a kernel that never answers cannot hang a daemon. Returns 0 or -errno/-ENOMEM;
 * on failure s holds nothing. */
int wf_mnl_session_init(struct wf_mnl_session *s);
/* Takes a session that was never initialised or failed to (all zero). */
void wf_mnl_session_done(struct wf_mnl_session *s);
/* Starts a request of type with NLM_F_REQUEST | flags in s->buf; returns its header, valid until
 * the next call. */
struct nlmsghdr *wf_mnl_session_msg(struct wf_mnl_session *s, uint16_t type, uint16_t flags);
/* Sends the request in s->buf and runs cb (may be NULL) over the replies until the ACK or
 * NLMSG_DONE. Returns 0, or -errno (the kernel's error for a refused request). */
int wf_mnl_session_transact(struct wf_mnl_session *s, mnl_cb_t cb, void *data);
