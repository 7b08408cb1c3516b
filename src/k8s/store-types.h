/* The object store: types. Functions and the threading rules are in store.h; the design is in
 * docs/internals/store.md. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "k8s/object-types.h"

struct wf_store;	  /* the writer's handle: one per source of truth */
struct wf_store_snapshot; /* an immutable version, refcounted, readable from any thread */
struct wf_store_batch;	  /* an open write transaction */

enum wf_store_event_type {
	WF_STORE_ADDED,
	WF_STORE_MODIFIED,
	WF_STORE_DELETED,
};

/* One change. old_obj is NULL for ADDED, new_obj is NULL for DELETED. Both are borrowed from
 * the event (valid during the callback; take a reference to keep one). */
struct wf_store_event {
	enum wf_store_event_type type;
	const struct wf_k8s_object *old_obj;
	const struct wf_k8s_object *new_obj;
};

/* Called on the writer's thread after a batch is published, with the new snapshot (borrowed:
 * wf_store_snapshot_ref() to keep it) and the batch's changes in the order they were made. */
typedef void (*wf_store_event_fn)(void *userdata, const struct wf_store_snapshot *snap,
				  const struct wf_store_event *events, size_t n_events);

/* Visitor for iteration and selection: return 0 to go on, anything else to stop (the value is
 * then returned by the iterating function). obj is borrowed from the snapshot. */
typedef int (*wf_store_visit_fn)(void *userdata, const struct wf_k8s_object *obj);
