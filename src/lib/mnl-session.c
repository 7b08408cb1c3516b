#include "lib/mnl-session.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "lib/alloc.h"

int wf_mnl_session_init(struct wf_mnl_session *s)
{
	int one = 1;
	/* The kernel always answers; a bounded wait keeps a bug from hanging the daemon. */
	struct timeval tv = {.tv_sec = 5};
	int err;

	memset(s, 0, sizeof(*s));
	s->buf = wf_malloc(WF_MNL_BUFSIZE);
	if (!s->buf)
		return -ENOMEM;
	s->mnl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!s->mnl) {
		err = -errno;
		goto err_buf;
	}
	if (mnl_socket_bind(s->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto err_mnl;
	}
	/* Without the request echoed in each error, ACKs stay small. */
	mnl_socket_setsockopt(s->mnl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(s->mnl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		err = -errno;
		goto err_mnl;
	}
	s->portid = mnl_socket_get_portid(s->mnl);
	s->seq = (uint32_t)time(NULL);
	return 0;
err_mnl:
	mnl_socket_close(s->mnl);
err_buf:
	wf_free(s->buf);
	memset(s, 0, sizeof(*s));
	return err;
}

void wf_mnl_session_done(struct wf_mnl_session *s)
{
	if (s->mnl)
		mnl_socket_close(s->mnl);
	wf_free(s->buf);
	memset(s, 0, sizeof(*s));
}

struct nlmsghdr *wf_mnl_session_msg(struct wf_mnl_session *s, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(s->buf);

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++s->seq;
	return h;
}

int wf_mnl_session_transact(struct wf_mnl_session *s, mnl_cb_t cb, void *data)
{
	struct nlmsghdr *h = (struct nlmsghdr *)s->buf;
	uint32_t seq = h->nlmsg_seq;

	if (mnl_socket_sendto(s->mnl, h, h->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->mnl, s->buf, WF_MNL_BUFSIZE);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int ret = mnl_cb_run(s->buf, (size_t)n, seq, s->portid, cb, data);
		if (ret == -1)
			return -errno;
		if (ret <= MNL_CB_STOP)
			return 0;
	}
}
