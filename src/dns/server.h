/* The DNS server: worker threads answering UDP and TCP from the published zone, forwarding
 * the rest to upstream resolvers through a cache shared by the workers.
 *
 * Each worker owns its sockets (one UDP and one TCP listener per address, SO_REUSEPORT so the
 * kernel spreads clients over workers), an epoll loop, its counters and a table of queries in
 * flight upstream. The hot path batches with recvmmsg/sendmmsg, allocates nothing and writes
 * nothing another worker reads: the zone and the cache are read under RCU, counters are
 * per worker (cache-line-separated metric slots, summed on scrape), so workers scale with
 * cores.
 *
 * The zone is published with wf_dns_server_publish (any one thread, typically the main one):
 * pointer swap, then an RCU (QSBR) grace period, then the old zone is freed. Workers never
 * block on an update. Until the first zone is published, zone names get SERVFAIL (as CoreDNS
 * does before its API cache syncs). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct wf_dns_server;
struct wf_dns_zone;
struct wf_metrics;

#define WF_DNS_MAX_LISTEN 8
#define WF_DNS_MAX_UPSTREAM 4
#define WF_DNS_MAX_WORKERS 32

struct wf_dns_server_config {
	struct sockaddr_storage listen[WF_DNS_MAX_LISTEN];
	unsigned n_listen;
	struct sockaddr_storage upstream[WF_DNS_MAX_UPSTREAM];
	unsigned n_upstream;
	unsigned workers;	      /* 1..WF_DNS_MAX_WORKERS */
	unsigned udp_cap;	      /* largest UDP answer, default 1232 (<= 4096) */
	unsigned tcp_idle_ms;	      /* default 10000 */
	unsigned upstream_timeout_ms; /* per try, default 2000 */
	unsigned cache_entries;	      /* shared by the workers, default 8192; 0: no cache */
	uint32_t cache_max_ttl;	      /* default 3600 */
	bool pin;		      /* pin worker i to CPU i (benchmarks) */
};

/* Fills the defaults above (no listen addresses, no upstream). */
void wf_dns_server_config_init(struct wf_dns_server_config *cfg);

/* Creates the server and binds every socket (so address errors show before anything runs).
 * metrics may be NULL; the server registers its metrics there (slots >= workers). Returns 0,
 * -EINVAL, -ENOMEM or the -errno of socket/bind. */
int wf_dns_server_new(const struct wf_dns_server_config *cfg, struct wf_metrics *metrics,
		      struct wf_dns_server **ret);
/* Starts the workers. Returns 0 or -errno of pthread_create. */
int wf_dns_server_start(struct wf_dns_server *s);
/* Publishes z (takes it); frees the previous zone after a grace period. Blocks the caller
 * (not the workers) for that grace period. One publisher at a time. */
void wf_dns_server_publish(struct wf_dns_server *s, struct wf_dns_zone *z);
/* True once a zone has been published (readiness). Any thread. */
bool wf_dns_server_ready(const struct wf_dns_server *s);
/* The port actually bound for listen address i (for port 0 in tests). */
uint16_t wf_dns_server_port(const struct wf_dns_server *s, unsigned i);
/* Stops and joins the workers, closes sockets, frees everything including the zone. Takes
 * NULL. */
void wf_dns_server_free(struct wf_dns_server *s);
