/* Live zone updates: follows the store and turns each round of changes into the next zone
 * version, rebuilding only the names of the Services that changed.
 *
 * A Service's own subtree (<svc>.<ns>.svc.<zone> and below) is written by diffing its
 * records regenerated from the previous snapshot (the one the current zone was built from: the
 * updater holds a reference to it) against those from the new one; nothing about it is kept.
 * Beside the zone the updater keeps an index of only what is counted across Services: names
 * outside any subtree (PTR names, which several Services may share) with the keys of the
 * Services that contribute records to them, how many names exist directly below a name (empty
 * non-terminals exist while that is not zero) and how many Namespaces/Services pin it (<ns>.svc
 * and <ns>.pod nodes). A change to a Service or to one of its EndpointSlices regenerates that
 * Service's records, updates the index, and writes the names whose content or existence changed
 * into a version derived from the current zone (dns/zone.h: copy-on-write chunks, everything
 * else shared).
 *
 * A full rebuild (dns/view.h + wf_dns_zone_build) is used for the first zone, for Namespace
 * changes, with --pods verified (pod records), when the derived table runs full, when the
 * nodes replaced since the last full build outweigh half of it, and after any error.
 *
 * Thread context: one thread (the store's writer thread), which also publishes the zones and
 * frees the replaced ones. Errors: -ENOMEM, or what wf_dns_zone_build returns. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/zone-types.h"
#include "k8s/store-types.h"

struct wf_dns_zone;
struct wf_dns_live;

/* cfg is borrowed and must outlive the updater. Returns 0 or -ENOMEM. */
int wf_dns_live_new(const struct wf_dns_zone_config *cfg, struct wf_dns_live **ret);
void wf_dns_live_free(struct wf_dns_live *l); /* takes NULL */

/* Notes one batch of store events (borrowed). Returns true when any concerns DNS. */
bool wf_dns_live_note(struct wf_dns_live *l, const struct wf_store_event *ev, size_t n);
/* The next update rebuilds in full. */
void wf_dns_live_reset(struct wf_dns_live *l);
/* Every update rebuilds in full and no index is kept (weft dns --rebuild full). */
void wf_dns_live_set_full_only(struct wf_dns_live *l, bool on);

struct wf_dns_live_stats {
	bool full;	 /* this update was a full rebuild */
	size_t services; /* Services regenerated (incremental) */
	size_t names;	 /* names written or removed (incremental) */
	size_t skipped;	 /* records that could not be named (full) */
};

/* Builds the zone for snap (borrowed) from the changes noted since the last call: derived
 * from the zone it returned last time, or rebuilt. The caller publishes *ret; the updater
 * keeps a borrowed pointer to it and derives the next version from it, so it must stay alive
 * until the next call returns (the server frees a replaced zone only when the next is
 * published). Returns 0 or a negative error (then nothing changed: the next call rebuilds). */
int wf_dns_live_update(struct wf_dns_live *l, const struct wf_store_snapshot *snap, uint32_t serial,
		       struct wf_dns_zone **ret, struct wf_dns_live_stats *ret_stats);
