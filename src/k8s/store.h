/* The object store: every Kubernetes object weft knows, by kind/namespace/name and by label,
 * with a resource version per object, change events per batch and immutable snapshots.
 *
 * Threading (docs/internals/store.md):
 * - One writer thread owns the struct wf_store: wf_store_batch_*, wf_store_subscribe and
 *   wf_store_free run there, and events are delivered there.
 * - Any thread may call wf_store_snapshot() (a short mutex held only to take a reference while
 *   the pointer may be swapped) and then read the snapshot with no lock at all, for as long
 *   as it likes, while the writer publishes newer versions. wf_store_snapshot_unref() may run
 *   on any thread.
 * - Objects reached through a snapshot are immutable and valid while the snapshot is held (or
 *   longer, with wf_k8s_object_ref()).
 *
 * Cost: a change to one object copies O(log32 n) trie nodes of its kind's map and of the label
 * index for each of its labels; everything else is shared with the previous snapshot. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "k8s/selector-types.h"
#include "k8s/store-types.h"

/* ---- the writer's side ---- */

/* A new, empty store (its first snapshot is empty). Returns 0 or -ENOMEM. */
int wf_store_new(struct wf_store **ret);
/* Frees the store. Snapshots still held elsewhere stay valid until released. Takes NULL. */
void wf_store_free(struct wf_store *s);

/* Opens a write transaction. One at a time per store (-EBUSY otherwise). Returns 0 or
 * -ENOMEM/-EBUSY. Nothing is visible to readers until wf_store_batch_commit(). */
int wf_store_batch_begin(struct wf_store *s, struct wf_store_batch **ret);
/* Adds or replaces the object with obj's kind/namespace/name. Borrows obj and takes a reference
 * of its own; sets obj->resource_version (obj must not have been handed to readers yet).
 * Putting the object already stored is a no-op. Returns 0 or -ENOMEM. After an error the
 * batch is poisoned: every call returns the error and commit aborts. */
int wf_store_batch_put(struct wf_store_batch *b, struct wf_k8s_object *obj);
/* Deletes an object (namespace NULL for cluster-scoped kinds). Returns 0, -ENOENT (nothing
 * deleted; the batch is not poisoned) or -ENOMEM. */
int wf_store_batch_delete(struct wf_store_batch *b, enum wf_k8s_kind kind, const char *namespace,
			  const char *name);
/* Number of changes in the batch so far. */
size_t wf_store_batch_changes(const struct wf_store_batch *b);
/* Publishes the batch as one new snapshot and delivers its events to every subscriber, then
 * frees b. A batch without changes publishes nothing. If the batch is poisoned, it is aborted
 * and its error returned: the store is exactly as before wf_store_batch_begin(). */
int wf_store_batch_commit(struct wf_store_batch *b);
/* Drops every change of the batch and frees it. Takes NULL. */
void wf_store_batch_abort(struct wf_store_batch *b);

/* Subscribes fn to events. Returns a subscription id > 0, or -ENOMEM. */
int wf_store_subscribe(struct wf_store *s, wf_store_event_fn fn, void *userdata);
/* Returns 0 or -ENOENT. Safe to call from within an event callback. */
int wf_store_unsubscribe(struct wf_store *s, int id);

/* ---- the readers' side (any thread) ---- */

/* The current snapshot, with a reference for the caller. Never NULL. */
struct wf_store_snapshot *wf_store_snapshot(struct wf_store *s);
struct wf_store_snapshot *wf_store_snapshot_ref(const struct wf_store_snapshot *snap);
/* Takes NULL. */
void wf_store_snapshot_unref(struct wf_store_snapshot *snap);

/* The number of batches published before this snapshot (0 for the empty first one). */
uint64_t wf_store_snapshot_seq(const struct wf_store_snapshot *snap);
/* The highest resource version in the store when this snapshot was published. */
uint64_t wf_store_snapshot_resource_version(const struct wf_store_snapshot *snap);

/* Lookup by key; namespace NULL (or ignored) for cluster-scoped kinds. Returns the object
 * (borrowed, valid while snap is held) or NULL. */
const struct wf_k8s_object *wf_store_get(const struct wf_store_snapshot *snap,
					 enum wf_k8s_kind kind, const char *namespace,
					 const char *name);
/* Objects of a kind, in all namespaces or in one. */
size_t wf_store_count(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		      const char *namespace);
/* Visits every object of kind (namespace NULL: all namespaces), in no particular order. Returns
 * 0, or the first non-zero value fn returned. */
int wf_store_foreach(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		     const char *namespace, wf_store_visit_fn fn, void *userdata);
/* Visits the objects of kind (namespace NULL: all) that a label selector selects. The label
 * index narrows the candidates to those of the most selective matchLabels pair or In
 * expression (up to 16 values); only selectors with neither scan the kind. A null selector
 * selects nothing. */
int wf_store_select(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		    const char *namespace, const struct wf_k8s_selector *sel, wf_store_visit_fn fn,
		    void *userdata);
/* The same for a Service-style selector (a map, every pair must match; empty matches all). */
int wf_store_select_map(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
			const char *namespace, const struct wf_k8s_map *sel, wf_store_visit_fn fn,
			void *userdata);
/* The EndpointSlices of a Service (label kubernetes.io/service-name in its namespace). */
int wf_store_endpointslices(const struct wf_store_snapshot *snap, const char *namespace,
			    const char *service, wf_store_visit_fn fn, void *userdata);

/* Collects the objects of kind (namespace NULL: all), sorted by namespace then name, into a new
 * array of borrowed pointers (valid while snap is held; free the array with wf_free). Returns
 * the count (and *ret, NULL when 0) or -ENOMEM. */
ssize_t wf_store_list(const struct wf_store_snapshot *snap, enum wf_k8s_kind kind,
		      const char *namespace, const struct wf_k8s_object ***ret);

/* Trie nodes reachable from the snapshot (tests and benchmarks: structural sharing). */
size_t wf_store_snapshot_nodes(const struct wf_store_snapshot *snap);
