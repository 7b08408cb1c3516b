/* The compiled cluster zone: an immutable snapshot built from a cluster view and consulted by
 * every worker without locks. A zone is published by pointer swap (dns/server.h) and freed
 * after an RCU grace period, so readers never block and never see a half-built zone. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dns/wire-types.h"
#include "dns/zone-types.h"

struct wf_dns_zone;

enum wf_dns_zone_result {
	WF_DNS_ZONE_NOT_OURS, /* outside every zone we serve: forward or refuse */
	WF_DNS_ZONE_ANSWER,   /* NOERROR with records */
	WF_DNS_ZONE_NODATA,   /* NOERROR, empty answer, SOA */
	WF_DNS_ZONE_NXDOMAIN, /* NXDOMAIN, SOA */
	WF_DNS_ZONE_REFUSED,  /* zone transfer, or a class other than IN */
};

/* Compiles a zone from cfg and c (both borrowed for the call only). serial is the SOA serial
 * (unix time of the last change). Records that cannot be named (labels over 63 bytes, names
 * over 255) are skipped; ret_skipped (optional) counts them. Returns 0 or -ENOMEM/-EINVAL.
 * Any thread; the result is immutable and may be read by many threads at once. */
int wf_dns_zone_build(const struct wf_dns_zone_config *cfg, const struct wf_dns_cluster *c,
		      uint32_t serial, struct wf_dns_zone **ret, size_t *ret_skipped);
void wf_dns_zone_free(struct wf_dns_zone *z); /* takes NULL */

/* Answers q (a parsed NOERROR query) from z into out, at most limit bytes (>= 512); sets TC and
 * keeps whole records when the answer does not fit. Returns the response length, or 0 with
 * *ret_res = WF_DNS_ZONE_NOT_OURS when the name is outside our zones. No allocation, no locks:
 * the hot path. */
size_t wf_dns_zone_answer(const struct wf_dns_zone *z, const struct wf_dns_query *q, uint8_t *out,
			  size_t limit, enum wf_dns_zone_result *ret_res);

/* Batch helpers for the hot path: a zone much larger than the CPU caches costs a few memory
 * misses per query, which a batch can overlap. wf_dns_zone_prefetch returns the question's
 * hash and prefetches its table slot; wf_dns_zone_prefetch_node (a little later) prefetches
 * the node; wf_dns_zone_answer_hashed (later still) answers as wf_dns_zone_answer does. */
uint64_t wf_dns_zone_prefetch(const struct wf_dns_zone *z, const struct wf_dns_query *q);
void wf_dns_zone_prefetch_node(const struct wf_dns_zone *z, uint64_t hash);
size_t wf_dns_zone_answer_hashed(const struct wf_dns_zone *z, const struct wf_dns_query *q,
				 uint64_t hash, uint8_t *out, size_t limit,
				 enum wf_dns_zone_result *ret_res);

size_t wf_dns_zone_node_count(const struct wf_dns_zone *z);
/* Bytes held by the zone (records, names, index). */
size_t wf_dns_zone_memory(const struct wf_dns_zone *z);
uint32_t wf_dns_zone_serial(const struct wf_dns_zone *z);
