/* The DNS view of a cluster: turns Kubernetes objects (a store snapshot) into
 * the struct wf_dns_cluster the zone compiler reads. This is the seam between src/k8s and the
 * DNS server: nothing else in src/dns knows the object model.
 *
 * Ownership: a view holds compact copies of what DNS needs, never the objects themselves (at
 * 10,000 Services the parsed objects would outweigh the zone); free it with wf_dns_view_free.
 * Any thread; a view is immutable. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "dns/zone-types.h"

struct wf_k8s_object;
struct wf_store_snapshot;
struct wf_dns_view;

/* Builds a view from objs (n of them, any kinds; Services, EndpointSlices, Pods and Namespaces
 * are used, the rest ignored). Copies what DNS needs (the objects are not referenced
 * afterwards). Returns 0 or -ENOMEM. */
int wf_dns_view_new(const struct wf_k8s_object *const *objs, size_t n, struct wf_dns_view **ret);
void wf_dns_view_free(struct wf_dns_view *v); /* takes NULL */
const struct wf_dns_cluster *wf_dns_view_cluster(const struct wf_dns_view *v);

/* Builds a view from the Namespaces, Services and EndpointSlices of snap (and its Pods when
 * with_pods: only --pods verified needs them), listed in namespace/name order. Borrows snap
 * for the call only. Returns 0 or -ENOMEM. Any thread. */
int wf_dns_view_from_snapshot(const struct wf_store_snapshot *snap, bool with_pods,
			      struct wf_dns_view **ret);
