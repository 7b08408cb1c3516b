/* Forwarding support: relaying an upstream response to a client, and the response cache.
 *
 * One cache is shared by all workers (a hit on one worker serves every other). Lookups take no
 * lock and write nothing shared: entries are immutable and published under RCU (liburcu QSBR),
 * so a lookup must run on a registered, online QSBR thread (the server's workers) or where no
 * other thread writes (tests). Inserts take one of 64 striped mutexes and free what they
 * replace after a grace period (call_rcu); wf_dns_cache_free waits for those frees. Entries
 * are keyed
 * by the lower-cased question name, type and class; they keep the upstream's record sections
 * (without its OPT record) and are served with the requester's ID, flags, question spelling
 * and EDNS, TTLs lowered by the time spent in the cache (RFC 1035 7.4), negative answers for
 * min(SOA TTL, SOA MINIMUM) (RFC 2308 5). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dns/wire-types.h"

struct wf_dns_cache;

/* The parts of an upstream response a relay or cache entry needs. */
struct wf_dns_upstream_msg {
	uint16_t flags;
	uint16_t an, ns, ar;	 /* ar without the OPT record */
	size_t rec_off, rec_end; /* record sections after the question, OPT excluded */
	uint16_t n_ttls;
	uint16_t ttl_offs[64]; /* TTL offsets relative to rec_off */
	uint32_t ttl;	       /* cache lifetime; 0: not cacheable */
};

/* Checks that msg answers the question (qname_lc, qtype, qclass) and describes it in ret.
 * max_ttl caps the lifetime. Returns 0 or -WF_E_PARSE (malformed, or not the answer to this
 * question: drop it). */
int wf_dns_upstream_parse(const uint8_t *msg, size_t len, const uint8_t *qname_lc, size_t qname_len,
			  uint16_t qtype, uint16_t qclass, uint32_t max_ttl,
			  struct wf_dns_upstream_msg *ret);

/* Writes the response for query q (the client's) from an upstream message: client's ID, RD/CD
 * and question bytes; TTLs lowered by elapsed seconds; TC and no records when it exceeds
 * limit. Returns the length. */
size_t wf_dns_relay(const struct wf_dns_query *q, const uint8_t *msg,
		    const struct wf_dns_upstream_msg *m, uint32_t elapsed, uint8_t *out,
		    size_t limit);

/* entries: capacity (rounded up to a power of two, at least 64). Returns 0 or -ENOMEM. */
int wf_dns_cache_new(size_t entries, struct wf_dns_cache **ret);
void wf_dns_cache_free(struct wf_dns_cache *c); /* takes NULL */

/* On a fresh hit writes the response to q into out and returns its length; 0 on a miss. */
size_t wf_dns_cache_answer(struct wf_dns_cache *c, const struct wf_dns_query *q, uint64_t now_ms,
			   uint8_t *out, size_t limit);
/* Stores msg as the answer to q's question if m says it is cacheable. Returns 0, or -ENOMEM
 * (the cache is unchanged). */
int wf_dns_cache_put(struct wf_dns_cache *c, const struct wf_dns_query *q, const uint8_t *msg,
		     const struct wf_dns_upstream_msg *m, uint64_t now_ms);
size_t wf_dns_cache_count(const struct wf_dns_cache *c);
