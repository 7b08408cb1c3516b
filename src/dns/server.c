/* DNS server workers: UDP (recvmmsg/sendmmsg), TCP (RFC 7766: pipelining, idle timeout),
 * forwarding through the shared cache. See server.h for the threading model. */
#define _LGPL_SOURCE
#include "dns/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>
#include <urcu/urcu-qsbr.h>

#include "dns/cache.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/metrics.h"

#define BATCH 64
#define RBUF 4096
#define SBUF 4096
#define MAX_CONNS 256
#define PENDING 512
#define PENDING_PKT 1024
#define TCP_RCAP (2 + WF_DNS_MAX_MSG)
#define TCP_WCAP (256 * 1024)
#define TICK_MS 100

enum ev_kind {
	EV_UDP = 1,
	EV_TCP_LISTEN,
	EV_CONN,
	EV_UPSTREAM,
	EV_STOP,
};

#define EV(kind, idx) ((uint64_t)(kind) << 32 | (uint32_t)(idx))

enum {
	RC_NOERROR,
	RC_FORMERR,
	RC_SERVFAIL,
	RC_NXDOMAIN,
	RC_NOTIMP,
	RC_REFUSED,
	RC_OTHER,
	RC_COUNT,
};

static const char *const rc_names[RC_COUNT] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					       "NOTIMP",  "REFUSED", "OTHER"};

struct conn {
	int fd;
	uint32_t gen;
	uint8_t *rbuf;
	size_t rlen;
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint64_t last_ms;
	bool epollout;
};

struct pending {
	bool used;
	bool tcp;
	uint8_t tries;
	uint8_t up_idx;
	uint16_t up_id;
	uint16_t client_id;
	uint16_t len;
	uint64_t start_ns;
	uint64_t deadline_ms;
	int udp_fd;
	socklen_t addrlen;
	struct sockaddr_storage addr;
	uint32_t conn_idx, conn_gen;
	uint8_t pkt[PENDING_PKT];
};

/* Per-event counters, flushed to the registry once per batch. */
struct counts {
	uint64_t udp, tcp, dropped, fwd, hit, miss, timeouts;
	uint64_t batches; /* recvmmsg calls that returned datagrams */
	uint64_t rc[RC_COUNT];
};

struct worker {
	struct wf_dns_server *srv;
	unsigned idx;
	pthread_t thread;
	bool started;
	int epfd;
	int udp_fd[WF_DNS_MAX_LISTEN];
	int tcp_fd[WF_DNS_MAX_LISTEN];
	int up_fd[WF_DNS_MAX_UPSTREAM];
	bool up_connected[WF_DNS_MAX_UPSTREAM];
	struct wf_dns_cache *cache; /* the server's, shared */
	uint64_t rng;
	uint64_t last_sweep_ms;
	struct counts k;
	struct wf_dns_query q;	       /* TCP */
	struct wf_dns_query qs[BATCH]; /* UDP batch */
	uint64_t hs[BATCH];
	int8_t st[BATCH];
	struct mmsghdr rmsg[BATCH];
	struct iovec riov[BATCH];
	struct sockaddr_storage raddr[BATCH];
	struct mmsghdr smsg[BATCH];
	struct iovec siov[BATCH];
	uint8_t rbuf[BATCH][RBUF];
	uint8_t sbuf[BATCH][SBUF];
	uint8_t out[TCP_RCAP];
	struct conn conns[MAX_CONNS];
	struct pending pend[PENDING];
	uint16_t free_pend[PENDING];
	unsigned n_free_pend;
	uint16_t id_map[65536]; /* upstream query ID -> pending slot + 1 */
};

struct metric_set {
	struct wf_metric *req_udp, *req_tcp, *dropped, *fwd, *hit, *miss, *timeouts;
	struct wf_metric *rc[RC_COUNT];
	struct wf_metric *latency;
	/* each written by its worker only */
	struct wf_metric *worker_req[WF_DNS_MAX_WORKERS], *worker_batches[WF_DNS_MAX_WORKERS];
};

struct wf_dns_server {
	struct wf_dns_server_config cfg;
	struct wf_dns_zone *zone; /* RCU-published */
	struct wf_dns_cache *cache;
	atomic_bool stop;
	int stop_fd;
	unsigned n_workers;
	struct worker *workers[WF_DNS_MAX_WORKERS];
	uint16_t ports[WF_DNS_MAX_LISTEN];
	struct metric_set m;
};

static uint64_t now_ms(void)
{
	return wf_now_ns() / WF_NSEC_PER_MSEC;
}

static uint64_t rng_next(struct worker *w)
{
	/* xorshift64*: upstream query IDs need to be unpredictable to off-path spoofers only as
	 * far as 16 bits go (RFC 5452 also relies on the random source port) */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dULL;
}

void wf_dns_server_config_init(struct wf_dns_server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 1;
	cfg->udp_cap = WF_DNS_EDNS_CAP;
	cfg->tcp_idle_ms = 10000;
	cfg->upstream_timeout_ms = 2000;
	cfg->cache_entries = 8192;
	cfg->cache_max_ttl = 3600;
}

/* ---- counters ---- */

static void count_rcode(struct counts *k, const uint8_t *resp)
{
	unsigned rc = resp[3] & 0x0f;
	k->rc[rc < RC_OTHER ? rc : RC_OTHER]++;
}

static void flush_counts(struct worker *w)
{
	struct metric_set *m = &w->srv->m;
	struct counts *k = &w->k;
	unsigned s = w->idx;

	if (k->udp)
		wf_metric_add(m->req_udp, s, k->udp);
	if (k->tcp)
		wf_metric_add(m->req_tcp, s, k->tcp);
	if (k->udp + k->tcp)
		wf_metric_add(m->worker_req[s], s, k->udp + k->tcp);
	if (k->batches)
		wf_metric_add(m->worker_batches[s], s, k->batches);
	if (k->dropped)
		wf_metric_add(m->dropped, s, k->dropped);
	if (k->fwd)
		wf_metric_add(m->fwd, s, k->fwd);
	if (k->hit)
		wf_metric_add(m->hit, s, k->hit);
	if (k->miss)
		wf_metric_add(m->miss, s, k->miss);
	if (k->timeouts)
		wf_metric_add(m->timeouts, s, k->timeouts);
	for (unsigned i = 0; i < RC_COUNT; i++)
		if (k->rc[i])
			wf_metric_add(m->rc[i], s, k->rc[i]);
	memset(k, 0, sizeof(*k));
}

/* ---- forwarding ---- */

struct client {
	bool tcp;
	int udp_fd;
	const struct sockaddr_storage *addr;
	socklen_t addrlen;
	uint32_t conn_idx;
};

static void conn_close(struct worker *w, struct conn *c);
static int conn_queue(struct worker *w, struct conn *c, const uint8_t *msg, size_t len);
static void conn_flush(struct worker *w, struct conn *c);

static void pending_release(struct worker *w, struct pending *p)
{
	w->id_map[p->up_id] = 0;
	p->used = false;
	w->free_pend[w->n_free_pend++] = (uint16_t)(p - w->pend);
}

/* Connects the upstream socket: the kernel then drops datagrams from anyone but this
 * upstream. */
static int upstream_connect(struct worker *w, unsigned i)
{
	const struct sockaddr_storage *u = &w->srv->cfg.upstream[i];

	if (connect(w->up_fd[i], (const struct sockaddr *)u,
		    u->ss_family == AF_INET ? sizeof(struct sockaddr_in)
					    : sizeof(struct sockaddr_in6)) == -1)
		return -errno;
	w->up_connected[i] = true;
	return 0;
}

static int pending_send(struct worker *w, struct pending *p)
{
	uint16_t id;
	unsigned tries = 0;

	do {
		id = (uint16_t)rng_next(w);
	} while (w->id_map[id] && ++tries < 16);
	if (w->id_map[id])
		return -EBUSY;
	if (p->used && w->id_map[p->up_id] == (uint16_t)(p - w->pend) + 1)
		w->id_map[p->up_id] = 0;
	p->up_id = id;
	w->id_map[id] = (uint16_t)(p - w->pend) + 1;
	wf_dns_put16(p->pkt, id);
	p->deadline_ms = now_ms() + w->srv->cfg.upstream_timeout_ms;
	if (!w->up_connected[p->up_idx] && upstream_connect(w, p->up_idx) < 0)
		return -ENETUNREACH; /* the timeout retries, then SERVFAIL */
	if (send(w->up_fd[p->up_idx], p->pkt, p->len, 0) == -1)
		return -errno; /* the timeout retries */
	return 0;
}

/* Deliver a response to the client recorded in p. */
static void pending_reply(struct worker *w, struct pending *p, const uint8_t *msg, size_t len)
{
	count_rcode(&w->k, msg);
	wf_metric_observe(w->srv->m.latency, w->idx, (double)(wf_now_ns() - p->start_ns) / 1e9, 1);
	if (!p->tcp) {
		sendto(p->udp_fd, msg, len, MSG_DONTWAIT, (struct sockaddr *)&p->addr, p->addrlen);
		return;
	}
	struct conn *c = &w->conns[p->conn_idx];
	if (c->fd < 0 || c->gen != p->conn_gen)
		return; /* the connection went away meanwhile */
	if (conn_queue(w, c, msg, len) == 0)
		conn_flush(w, c);
}

static size_t forward(struct worker *w, const struct wf_dns_query *q, const struct client *cl,
		      uint8_t *out)
{
	struct pending *p;

	if (w->n_free_pend == 0 || q->len > PENDING_PKT)
		return wf_dns_wire_error(q, WF_DNS_R_SERVFAIL, WF_DNS_F_RA, out, WF_DNS_EDNS_CAP);
	p = &w->pend[w->free_pend[--w->n_free_pend]];
	p->tcp = cl->tcp;
	p->tries = 0;
	p->up_idx = (uint8_t)(rng_next(w) % w->srv->cfg.n_upstream);
	p->len = (uint16_t)q->len;
	p->client_id = q->id;
	p->start_ns = wf_now_ns();
	memcpy(p->pkt, q->pkt, q->len);
	if (cl->tcp) {
		p->conn_idx = cl->conn_idx;
		p->conn_gen = w->conns[cl->conn_idx].gen;
	} else {
		p->udp_fd = cl->udp_fd;
		p->addrlen = cl->addrlen;
		memcpy(&p->addr, cl->addr, cl->addrlen);
	}
	p->used = false;
	p->up_id = 0;
	if (pending_send(w, p) == -EBUSY) {
		w->free_pend[w->n_free_pend++] = (uint16_t)(p - w->pend);
		return wf_dns_wire_error(q, WF_DNS_R_SERVFAIL, WF_DNS_F_RA, out, WF_DNS_EDNS_CAP);
	}
	p->used = true;
	w->k.fwd++;
	return 0;
}

static void upstream_read(struct worker *w, unsigned up_idx)
{
	uint8_t *buf = w->out;
	struct wf_dns_query cq;
	struct wf_dns_upstream_msg m;

	for (;;) {
		ssize_t n = recv(w->up_fd[up_idx], buf, WF_DNS_MAX_MSG, MSG_DONTWAIT);
		if (n < 0)
			return;
		if (n < WF_DNS_HDR_LEN)
			continue;
		uint16_t slot = w->id_map[wf_dns_get16(buf)];
		if (!slot)
			continue;
		struct pending *p = &w->pend[slot - 1];
		if (!p->used || p->up_idx != up_idx)
			continue;
		if (wf_dns_wire_parse_query(p->pkt, p->len, &cq) < 0)
			continue;
		cq.id = p->client_id; /* p->pkt carries the upstream ID now */
		if (wf_dns_upstream_parse(buf, (size_t)n, cq.qname_lc, cq.qname_len, cq.qtype,
					  cq.qclass, w->srv->cfg.cache_max_ttl, &m) < 0)
			continue; /* not the answer to this question: keep waiting */
		size_t limit =
			p->tcp ? WF_DNS_MAX_MSG : wf_dns_wire_udp_limit(&cq, w->srv->cfg.udp_cap);
		/* relay in place is impossible (same buffer): use the first send slot */
		uint8_t *resp = w->sbuf[0];
		size_t rl;
		if (limit > SBUF)
			limit = SBUF; /* larger forwarded answers over TCP are cut (TC) */
		rl = wf_dns_relay(&cq, buf, &m, 0, resp, limit);
		if (w->cache) /* out of memory only means "not cached" */
			(void)wf_dns_cache_put(w->cache, &cq, buf, &m, now_ms());
		pending_reply(w, p, resp, rl);
		pending_release(w, p);
	}
}

static void sweep(struct worker *w, uint64_t now)
{
	struct wf_dns_query cq;

	for (unsigned i = 0; i < PENDING; i++) {
		struct pending *p = &w->pend[i];
		if (!p->used || now < p->deadline_ms)
			continue;
		unsigned max_tries = w->srv->cfg.n_upstream > 1 ? w->srv->cfg.n_upstream : 2;
		if (++p->tries < max_tries) {
			p->up_idx = (uint8_t)((p->up_idx + 1) % w->srv->cfg.n_upstream);
			if (pending_send(w, p) != -EBUSY)
				continue;
		}
		w->k.timeouts++;
		if (wf_dns_wire_parse_query(p->pkt, p->len, &cq) == 0) {
			cq.id = p->client_id;
			size_t l = wf_dns_wire_error(&cq, WF_DNS_R_SERVFAIL, WF_DNS_F_RA,
						     w->sbuf[0], WF_DNS_EDNS_CAP);
			pending_reply(w, p, w->sbuf[0], l);
		}
		pending_release(w, p);
	}
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &w->conns[i];
		if (c->fd >= 0 && now - c->last_ms >= w->srv->cfg.tcp_idle_ms)
			conn_close(w, c); /* RFC 7766 6.2.3: idle timeout */
	}
}

/* ---- one query ---- */

/* Answers a parsed query into out (st: -1 dropped by the parser, 0 parsed, 1 parsed with its
 * zone hash h computed and prefetched). Returns the length, or 0 when there is nothing to
 * send now (dropped, or forwarded upstream). */
static size_t answer(struct worker *w, const struct wf_dns_zone *z, const struct wf_dns_query *q,
		     int st, uint64_t h, uint8_t *out, const struct client *cl)
{
	const struct wf_dns_server_config *cfg = &w->srv->cfg;
	enum wf_dns_zone_result res;
	size_t limit, n;

	if (st < 0) {
		w->k.dropped++;
		return 0;
	}
	if (cl->tcp)
		w->k.tcp++;
	else
		w->k.udp++;
	if (q->rcode != WF_DNS_R_NOERROR)
		return wf_dns_wire_error(q, q->rcode, 0, out, WF_DNS_EDNS_CAP);
	limit = cl->tcp ? WF_DNS_MAX_MSG : wf_dns_wire_udp_limit(q, cfg->udp_cap);
	if (!z)
		return wf_dns_wire_error(q, WF_DNS_R_SERVFAIL, 0, out, WF_DNS_EDNS_CAP);
	if (st == 1)
		n = wf_dns_zone_answer_hashed(z, q, h, out, limit, &res);
	else
		n = wf_dns_zone_answer(z, q, out, limit, &res);
	if (res != WF_DNS_ZONE_NOT_OURS)
		return n;
	/* Not ours: never answered as if authoritative. */
	if (cfg->n_upstream == 0)
		return wf_dns_wire_error(q, WF_DNS_R_REFUSED, 0, out, WF_DNS_EDNS_CAP);
	if (w->cache) {
		n = wf_dns_cache_answer(w->cache, q, now_ms(), out, limit > SBUF ? SBUF : limit);
		if (n) {
			w->k.hit++;
			return n;
		}
		w->k.miss++;
	}
	return forward(w, q, cl, out);
}

/* One query from a TCP stream. */
static size_t handle(struct worker *w, const struct wf_dns_zone *z, const uint8_t *pkt, size_t len,
		     uint8_t *out, const struct client *cl)
{
	int st = wf_dns_wire_parse_query(pkt, len, &w->q) < 0 ? -1 : 0;

	return answer(w, z, &w->q, st, 0, out, cl);
}

/* ---- UDP ---- */

static void udp_read(struct worker *w, unsigned li)
{
	int fd = w->udp_fd[li];

	/* Drain the socket (bounded, for fairness with TCP and upstream answers): while packets
	 * keep arriving, recvmmsg again instead of going back to epoll_wait. */
	for (unsigned round = 0; round < 16; round++) {
		for (unsigned i = 0; i < BATCH; i++) {
			w->rmsg[i].msg_hdr.msg_namelen = sizeof(w->raddr[i]);
			w->rmsg[i].msg_hdr.msg_flags = 0;
		}
		int n = recvmmsg(fd, w->rmsg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		w->k.batches++;
		uint64_t t0 = wf_now_ns();
		const struct wf_dns_zone *z = rcu_dereference(w->srv->zone);
		unsigned out = 0;
		/* Three passes over the batch so that the memory misses of 64 lookups overlap:
		 * parse and prefetch the table slots, prefetch the nodes, answer. */
		for (int i = 0; i < n; i++) {
			struct wf_dns_query *q = &w->qs[i];
			if (w->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				w->st[i] = -1; /* larger than any sane query */
				continue;
			}
			w->st[i] = wf_dns_wire_parse_query(w->rbuf[i], w->rmsg[i].msg_len, q) < 0
					   ? -1
					   : 0;
			if (w->st[i] == 0 && z && q->rcode == WF_DNS_R_NOERROR) {
				w->hs[i] = wf_dns_zone_prefetch(z, q);
				w->st[i] = 1;
			}
		}
		for (int i = 0; i < n; i++)
			if (w->st[i] == 1)
				wf_dns_zone_prefetch_node(z, w->hs[i]);
		for (int i = 0; i < n; i++) {
			struct client cl = {.udp_fd = fd,
					    .addr = &w->raddr[i],
					    .addrlen = w->rmsg[i].msg_hdr.msg_namelen};
			size_t len = answer(w, z, &w->qs[i], w->st[i], w->hs[i], w->sbuf[out], &cl);
			if (!len)
				continue;
			count_rcode(&w->k, w->sbuf[out]);
			w->siov[out].iov_len = len;
			w->smsg[out].msg_hdr.msg_name = &w->raddr[i];
			w->smsg[out].msg_hdr.msg_namelen = w->rmsg[i].msg_hdr.msg_namelen;
			out++;
		}
		for (unsigned sent = 0; sent < out;) {
			int s = sendmmsg(fd, w->smsg + sent, out - sent, MSG_DONTWAIT);
			if (s <= 0)
				break; /* full socket buffer: UDP may drop, the client retries */
			sent += (unsigned)s;
		}
		if (out)
			wf_metric_observe(w->srv->m.latency, w->idx,
					  (double)(wf_now_ns() - t0) / 1e9, out);
	}
}

/* ---- TCP ---- */

static void conn_close(struct worker *w, struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->gen++;
	wf_free(c->rbuf);
	wf_free(c->wbuf);
	c->rbuf = c->wbuf = NULL;
	c->rlen = c->wlen = c->wcap = 0;
	c->epollout = false;
}

static int conn_queue(struct worker *w, struct conn *c, const uint8_t *msg, size_t len)
{
	if (c->wlen + 2 + len > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 4096;
		while (cap < c->wlen + 2 + len)
			cap *= 2;
		if (cap > TCP_WCAP) {
			conn_close(w, c); /* the client does not read its answers */
			return -ENOBUFS;
		}
		uint8_t *b = wf_realloc(c->wbuf, cap);
		if (!b) {
			conn_close(w, c);
			return -ENOMEM;
		}
		c->wbuf = b;
		c->wcap = cap;
	}
	wf_dns_put16(c->wbuf + c->wlen, (uint16_t)len); /* RFC 1035 4.2.2 */
	memcpy(c->wbuf + c->wlen + 2, msg, len);
	c->wlen += 2 + len;
	return 0;
}

static void conn_flush(struct worker *w, struct conn *c)
{
	size_t off = 0;

	while (off < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + off, c->wlen - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(w, c);
			return;
		}
		off += (size_t)n;
	}
	memmove(c->wbuf, c->wbuf + off, c->wlen - off);
	c->wlen -= off;
	bool want = c->wlen > 0;
	if (want != c->epollout) {
		struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
					 .data.u64 = EV(EV_CONN, c - w->conns)};
		epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->epollout = want;
	}
}

static void conn_read(struct worker *w, struct conn *c, uint64_t now)
{
	uint32_t idx = (uint32_t)(c - w->conns);
	bool eof = false;

	c->last_ms = now;
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, TCP_RCAP - c->rlen, MSG_DONTWAIT);
		if (n == 0) {
			eof = true;
			break;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(w, c);
			return;
		}
		c->rlen += (size_t)n;
		const struct wf_dns_zone *z = rcu_dereference(w->srv->zone);
		size_t off = 0;
		/* RFC 7766 6.2.1.1: pipelined queries, answered as they come. */
		while (c->rlen - off >= 2) {
			size_t fl = wf_dns_get16(c->rbuf + off);
			if (c->rlen - off - 2 < fl)
				break;
			struct client cl = {.tcp = true, .conn_idx = idx};
			size_t rl = handle(w, z, c->rbuf + off + 2, fl, w->out, &cl);
			off += 2 + fl;
			if (rl) {
				count_rcode(&w->k, w->out);
				if (conn_queue(w, c, w->out, rl) < 0)
					return;
			}
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	conn_flush(w, c);
	if (eof && c->fd >= 0)
		conn_close(w, c);
}

static void tcp_accept(struct worker *w, unsigned li, uint64_t now)
{
	for (;;) {
		int fd = accept4(w->tcp_fd[li], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;
		struct conn *c = NULL;
		for (unsigned i = 0; i < MAX_CONNS; i++)
			if (w->conns[i].fd < 0) {
				c = &w->conns[i];
				break;
			}
		if (!c) {
			close(fd); /* over the per-worker connection cap */
			continue;
		}
		c->rbuf = wf_malloc(TCP_RCAP);
		if (!c->rbuf) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->rlen = 0;
		c->last_ms = now;
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV(EV_CONN, c - w->conns)};
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
			conn_close(w, c);
	}
}

/* ---- worker ---- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct wf_dns_server *s = w->srv;
	struct epoll_event evs[64];

	urcu_qsbr_register_thread();
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		urcu_qsbr_thread_offline();
		int n = epoll_wait(w->epfd, evs, 64, TICK_MS);
		urcu_qsbr_thread_online();
		uint64_t now = now_ms();
		for (int i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32);
			uint32_t idx = (uint32_t)evs[i].data.u64;
			switch (kind) {
			case EV_UDP:
				udp_read(w, idx);
				break;
			case EV_TCP_LISTEN:
				tcp_accept(w, idx, now);
				break;
			case EV_CONN: {
				struct conn *c = &w->conns[idx];
				if (c->fd < 0)
					break;
				if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
				    !(evs[i].events & EPOLLIN)) {
					conn_close(w, c);
					break;
				}
				if (evs[i].events & EPOLLOUT)
					conn_flush(w, c);
				if (c->fd >= 0 && (evs[i].events & EPOLLIN))
					conn_read(w, c, now);
				break;
			}
			case EV_UPSTREAM:
				upstream_read(w, idx);
				break;
			default:
				break;
			}
		}
		if (now - w->last_sweep_ms >= TICK_MS) {
			sweep(w, now);
			w->last_sweep_ms = now;
		}
		flush_counts(w);
		urcu_qsbr_quiescent_state();
	}
	urcu_qsbr_unregister_thread();
	return NULL;
}

static int bind_socket(const struct sockaddr_storage *addr, int type)
{
	int fd = socket(addr->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, rc;
	socklen_t len = addr->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						   : sizeof(struct sockaddr_in6);

	if (fd == -1)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (addr->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_DGRAM) {
		int sz = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (bind(fd, (const struct sockaddr *)addr, len) == -1 ||
	    (type == SOCK_STREAM && listen(fd, 1024) == -1)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void worker_free(struct worker *w)
{
	if (!w)
		return;
	for (unsigned i = 0; i < WF_DNS_MAX_LISTEN; i++) {
		if (w->udp_fd[i] >= 0)
			close(w->udp_fd[i]);
		if (w->tcp_fd[i] >= 0)
			close(w->tcp_fd[i]);
	}
	for (unsigned i = 0; i < WF_DNS_MAX_UPSTREAM; i++)
		if (w->up_fd[i] >= 0)
			close(w->up_fd[i]);
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (w->conns[i].fd >= 0)
			conn_close(w, &w->conns[i]);
	if (w->epfd >= 0)
		close(w->epfd);
	wf_free(w);
}

static int epoll_add(struct worker *w, int fd, uint64_t data)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1 ? -errno : 0;
}

static int worker_new(struct wf_dns_server *s, unsigned idx, struct worker **ret)
{
	struct wf_dns_server_config *cfg = &s->cfg;
	struct worker *w = wf_calloc(1, sizeof(*w));
	int rc = 0;

	if (!w)
		return -ENOMEM;
	w->srv = s;
	w->idx = idx;
	w->epfd = -1;
	for (unsigned i = 0; i < WF_DNS_MAX_LISTEN; i++)
		w->udp_fd[i] = w->tcp_fd[i] = -1;
	for (unsigned i = 0; i < WF_DNS_MAX_UPSTREAM; i++)
		w->up_fd[i] = -1;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		w->conns[i].fd = -1;
	for (unsigned i = 0; i < PENDING; i++)
		w->free_pend[i] = (uint16_t)(PENDING - 1 - i);
	w->n_free_pend = PENDING;
	if (getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng) || w->rng == 0)
		w->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)idx;
	for (unsigned i = 0; i < BATCH; i++) {
		w->riov[i].iov_base = w->rbuf[i];
		w->riov[i].iov_len = RBUF;
		w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
		w->rmsg[i].msg_hdr.msg_iovlen = 1;
		w->rmsg[i].msg_hdr.msg_name = &w->raddr[i];
		w->siov[i].iov_base = w->sbuf[i];
		w->smsg[i].msg_hdr.msg_iov = &w->siov[i];
		w->smsg[i].msg_hdr.msg_iovlen = 1;
	}
	w->cache = s->cache;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd == -1) {
		rc = -errno;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		rc = bind_socket(&cfg->listen[i], SOCK_DGRAM);
		if (rc < 0)
			goto fail;
		w->udp_fd[i] = rc;
		if (idx == 0 && s->ports[i] == 0) {
			s->ports[i] = sock_port(rc);
			set_port(&cfg->listen[i], s->ports[i]);
		}
		rc = bind_socket(&cfg->listen[i], SOCK_STREAM);
		if (rc < 0)
			goto fail;
		w->tcp_fd[i] = rc;
		rc = epoll_add(w, w->udp_fd[i], EV(EV_UDP, i));
		if (rc == 0)
			rc = epoll_add(w, w->tcp_fd[i], EV(EV_TCP_LISTEN, i));
		if (rc < 0)
			goto fail;
	}
	for (unsigned i = 0; i < cfg->n_upstream; i++) {
		const struct sockaddr_storage *u = &cfg->upstream[i];
		w->up_fd[i] = socket(u->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (w->up_fd[i] == -1) {
			rc = -errno;
			goto fail;
		}
		/* No route yet is not fatal: pending_send connects again. */
		(void)upstream_connect(w, i);
		rc = epoll_add(w, w->up_fd[i], EV(EV_UPSTREAM, i));
		if (rc < 0)
			goto fail;
	}
	rc = epoll_add(w, s->stop_fd, EV(EV_STOP, 0));
	if (rc < 0)
		goto fail;
	*ret = w;
	return 0;

fail:
	worker_free(w);
	return rc;
}

static void register_metrics(struct wf_dns_server *s, struct wf_metrics *m)
{
	static const double bounds[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
					0.001,	 0.0025,   0.005,   0.01,   0.025,   0.05,
					0.1,	 0.25,	   0.5,	    1,	    2.5};
	char labels[64];

	if (!m)
		return;
	s->m.req_udp = wf_metrics_counter(m, "weft_dns_requests_total", "proto=\"udp\"",
					  "DNS queries received.");
	s->m.req_tcp = wf_metrics_counter(m, "weft_dns_requests_total", "proto=\"tcp\"",
					  "DNS queries received.");
	for (unsigned i = 0; i < RC_COUNT; i++) {
		snprintf(labels, sizeof(labels), "rcode=\"%s\"", rc_names[i]);
		s->m.rc[i] = wf_metrics_counter(m, "weft_dns_responses_total", labels,
						"DNS responses sent, by response code.");
	}
	s->m.dropped = wf_metrics_counter(m, "weft_dns_dropped_total", NULL,
					  "Packets dropped unanswered (malformed or responses).");
	s->m.fwd = wf_metrics_counter(m, "weft_dns_forward_requests_total", NULL,
				      "Queries sent to upstream resolvers.");
	s->m.timeouts = wf_metrics_counter(m, "weft_dns_forward_timeouts_total", NULL,
					   "Forwarded queries answered SERVFAIL after timeouts.");
	s->m.hit = wf_metrics_counter(m, "weft_dns_cache_hits_total", NULL,
				      "Forwarded names answered from the cache.");
	s->m.miss = wf_metrics_counter(m, "weft_dns_cache_misses_total", NULL,
				       "Forwarded names not in the cache.");
	s->m.latency = wf_metrics_histogram(m, "weft_dns_request_duration_seconds", NULL,
					    "Time from receiving a query to sending its answer.",
					    bounds, sizeof(bounds) / sizeof(bounds[0]));
	/* how SO_REUSEPORT spreads clients over the workers (one family after the other: a
	 * family's samples are rendered together) */
	for (unsigned i = 0; i < s->cfg.workers; i++) {
		snprintf(labels, sizeof(labels), "worker=\"%u\"", i);
		s->m.worker_req[i] = wf_metrics_counter(m, "weft_dns_worker_requests_total", labels,
							"DNS queries received, by worker thread.");
	}
	for (unsigned i = 0; i < s->cfg.workers; i++) {
		snprintf(labels, sizeof(labels), "worker=\"%u\"", i);
		s->m.worker_batches[i] = wf_metrics_counter(
			m, "weft_dns_worker_udp_batches_total", labels,
			"recvmmsg calls that returned queries, by worker thread (requests / batches: "
			"the mean batch).");
	}
}

int wf_dns_server_new(const struct wf_dns_server_config *cfg, struct wf_metrics *metrics,
		      struct wf_dns_server **ret)
{
	struct wf_dns_server *s;
	int rc;

	if (cfg->workers == 0 || cfg->workers > WF_DNS_MAX_WORKERS || cfg->n_listen == 0 ||
	    cfg->n_listen > WF_DNS_MAX_LISTEN || cfg->n_upstream > WF_DNS_MAX_UPSTREAM)
		return -EINVAL;
	s = wf_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (s->cfg.udp_cap < WF_DNS_UDP_DEFAULT)
		s->cfg.udp_cap = WF_DNS_UDP_DEFAULT;
	if (s->cfg.udp_cap > SBUF)
		s->cfg.udp_cap = SBUF;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd == -1) {
		rc = -errno;
		wf_free(s);
		return rc;
	}
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		const struct sockaddr_storage *l = &cfg->listen[i];
		s->ports[i] = ntohs(l->ss_family == AF_INET
					    ? ((const struct sockaddr_in *)l)->sin_port
					    : ((const struct sockaddr_in6 *)l)->sin6_port);
	}
	register_metrics(s, metrics);
	if (cfg->cache_entries && cfg->n_upstream) {
		rc = wf_dns_cache_new(cfg->cache_entries, &s->cache);
		if (rc < 0) {
			wf_dns_server_free(s);
			return rc;
		}
	}
	for (unsigned i = 0; i < cfg->workers; i++) {
		rc = worker_new(s, i, &s->workers[i]);
		if (rc < 0) {
			wf_dns_server_free(s);
			return rc;
		}
		s->n_workers++;
	}
	*ret = s;
	return 0;
}

int wf_dns_server_start(struct wf_dns_server *s)
{
	for (unsigned i = 0; i < s->n_workers; i++) {
		struct worker *w = s->workers[i];
		int rc = -pthread_create(&w->thread, NULL, worker_main, w);
		if (rc < 0)
			return rc;
		w->started = true;
		char name[16];
		/* per-thread CPU in /proc (i < WF_DNS_MAX_WORKERS: the name fits in 16 bytes) */
		snprintf(name, sizeof(name), "weft-dns-w%u", i % WF_DNS_MAX_WORKERS);
		pthread_setname_np(w->thread, name);
		if (s->cfg.pin) {
			cpu_set_t set;
			long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			CPU_ZERO(&set);
			CPU_SET(i % (unsigned)(ncpu > 0 ? ncpu : 1), &set);
			pthread_setaffinity_np(w->thread, sizeof(set), &set);
		}
	}
	return 0;
}

void wf_dns_server_publish(struct wf_dns_server *s, struct wf_dns_zone *z)
{
	struct wf_dns_zone *old = rcu_xchg_pointer(&s->zone, z);

	if (old) {
		urcu_qsbr_synchronize_rcu();
		wf_dns_zone_free(old);
	}
}

bool wf_dns_server_ready(const struct wf_dns_server *s)
{
	return __atomic_load_n(&s->zone, __ATOMIC_ACQUIRE) != NULL;
}

uint16_t wf_dns_server_port(const struct wf_dns_server *s, unsigned i)
{
	return i < WF_DNS_MAX_LISTEN ? s->ports[i] : 0;
}

void wf_dns_server_free(struct wf_dns_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	atomic_store(&s->stop, true);
	if (write(s->stop_fd, &one, sizeof(one)) == -1) {
		/* cannot fail: the counter is far from overflow */
	}
	for (unsigned i = 0; i < s->n_workers; i++)
		if (s->workers[i]->started)
			pthread_join(s->workers[i]->thread, NULL);
	for (unsigned i = 0; i < s->n_workers; i++)
		worker_free(s->workers[i]);
	wf_dns_zone_free(s->zone);
	wf_dns_cache_free(s->cache);
	close(s->stop_fd);
	wf_free(s);
}
