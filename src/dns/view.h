/* The DNS view of a cluster: turns Kubernetes objects (from the store or from manifests) into
 * the struct wf_dns_cluster the zone compiler reads. This is the seam between src/k8s and the
 * DNS server: nothing else in src/dns knows the object model.
 *
 * Ownership: a view holds compact copies of what DNS needs, never the objects themselves (at
 * 10,000 Services the parsed objects would outweigh the zone); free it with wf_dns_view_free.
 * Any thread; a view is immutable. */
#pragma once
#include <stddef.h>

#include "dns/zone-types.h"

struct wf_k8s_object;
struct wf_dns_view;

/* Builds a view from objs (n of them, any kinds; Services, EndpointSlices, Pods and Namespaces
 * are used, the rest ignored). Copies what DNS needs (the objects are not referenced
 * afterwards). Returns 0 or -ENOMEM. */
int wf_dns_view_new(struct wf_k8s_object *const *objs, size_t n, struct wf_dns_view **ret);
void wf_dns_view_free(struct wf_dns_view *v); /* takes NULL */
const struct wf_dns_cluster *wf_dns_view_cluster(const struct wf_dns_view *v);

/* A manifest path (file or directory) as a source of objects, re-read on demand: only files
 * whose size, mtime or inode changed are parsed again; a file that fails to parse keeps its
 * last good objects (and is reported through ret_errors). */
struct wf_dns_source;

/* Returns 0 or -errno (path missing) / -ENOMEM. Sets up inotify on a directory. */
int wf_dns_source_new(const char *path, struct wf_dns_source **ret);
void wf_dns_source_free(struct wf_dns_source *s); /* takes NULL */
/* inotify descriptor to poll (readable when something changed), or -1 for a single file. */
int wf_dns_source_fd(const struct wf_dns_source *s);
/* Drains pending inotify events; returns true if any concerned the manifests. */
bool wf_dns_source_drain(struct wf_dns_source *s);
/* Re-reads the path and builds a new view (*ret), which borrows the source's memory: free it
 * before the next wf_dns_source_load or wf_dns_source_free. ret_changed tells whether any file changed
 * since the last call (the first call always counts as a change); ret_errors counts files
 * that failed to parse (their diagnostics are logged at warn by the caller via last_error).
 * Returns 0 or -errno/-ENOMEM. */
int wf_dns_source_load(struct wf_dns_source *s, struct wf_dns_view **ret, bool *ret_changed,
		       unsigned *ret_errors);
/* "file:line:col: path: message" of the last parse failure, or "". */
const char *wf_dns_source_last_error(const struct wf_dns_source *s);
