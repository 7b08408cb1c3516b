/* The compiled cluster zone: an immutable snapshot built from a cluster view and consulted by
 * every worker without locks. A zone is published by pointer swap (dns/server.h) and freed
 * after an RCU grace period, so readers never block and never see a half-built zone. */
#pragma once
#include <stdbool.h>
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

/* ---- versions: incremental updates (dns/live.h drives them) ----
 *
 * A published zone's table is cut in 8 KiB chunks shared by pointer; wf_dns_zone_derive makes
 * a new version that shares every chunk and node with old, and wf_dns_zone_set_node /
 * _del_node then copy only the chunks they write to. Chunks and nodes are reference-counted
 * by the versions holding them, so any version may be freed (wf_dns_zone_free) in any order.
 * All of this runs on one thread (the one that builds and frees zones); readers only read
 * published versions. */

/* One record as generated for a zone (rdata borrowed). */
struct wf_dns_zone_rec {
	uint16_t type;
	uint16_t rdlen;
	uint32_t ttl;
	const uint8_t *rdata;
};

/* Receives one record: owner in lower-cased wire form, inside one of z's zones. Return 0 to go
 * on or a negative error to stop. */
typedef int (*wf_dns_zone_rec_fn)(void *userdata, const uint8_t *owner, size_t len,
				  const struct wf_dns_zone_rec *rec);

/* Generates the records of one Service as wf_dns_zone_build would, in the same order, without
 * touching z (its zones are read to drop names outside them). Returns 0 or fn's error. */
int wf_dns_zone_service_records(const struct wf_dns_zone *z, const struct wf_dns_zone_config *cfg,
				const struct wf_dns_service *s, wf_dns_zone_rec_fn fn,
				void *userdata);

/* A new version of old (a built or derived zone, still alive) with the SOA serial changed and
 * everything else shared. Returns 0, -ENOMEM or -EINVAL (old is not complete). */
int wf_dns_zone_derive(const struct wf_dns_zone *old, uint32_t serial, struct wf_dns_zone **ret);
/* Sets the records of owner name (lower-cased wire form) in a version being derived: recs in
 * the order the full build would meet them (they are sorted by type and de-duplicated as
 * there); n = 0 makes an empty non-terminal. pod_ns marks <ns>.pod.<zone> names. Returns 0,
 * -ENOMEM, -EINVAL (name outside our zones) or -ENOSPC (the table is full: rebuild). */
int wf_dns_zone_set_node(struct wf_dns_zone *z, const uint8_t *name, size_t len, bool pod_ns,
			 const struct wf_dns_zone_rec *recs, size_t n);
/* Removes a name from a version being derived. Returns 0, -ENOENT or -ENOMEM. */
int wf_dns_zone_del_node(struct wf_dns_zone *z, const uint8_t *name, size_t len);
/* Length of the apex of the zone of ours that holds name, or -1 when none does. */
int wf_dns_zone_apex_len(const struct wf_dns_zone *z, const uint8_t *name, size_t len);
bool wf_dns_zone_has(const struct wf_dns_zone *z, const uint8_t *name, size_t len);
/* Bytes of nodes made by derived versions since the full build (replaced ones included) and
 * of the full build's own nodes: the caller rebuilds in full when the first grows too big. */
size_t wf_dns_zone_heap_bytes(const struct wf_dns_zone *z);
size_t wf_dns_zone_base_bytes(const struct wf_dns_zone *z);
/* Same names, flags and records (tests: incremental == full). On a difference, says where. */
bool wf_dns_zone_equal(const struct wf_dns_zone *a, const struct wf_dns_zone *b, char *why,
		       size_t why_len);
