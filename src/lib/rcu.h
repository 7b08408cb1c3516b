/* Publication of immutable snapshots under RCU (liburcu, memb flavour): a routing table, a
 * DNS zone, a service map is built aside, then published with one pointer swap; readers on
 * any thread see either the old snapshot or the new one, never a half-built one, and never
 * wait. The old snapshot is freed once every reader that could have seen it has left its
 * read-side critical section (a grace period).
 *
 * The rules:
 *  1. A thread that reads calls wf_rcu_thread_register() first and wf_rcu_thread_unregister()
 *     before it exits. Publishing needs no registration.
 *  2. Readers bracket every use with wf_rcu_read_lock()/wf_rcu_read_unlock() (they nest, cost
 *     a few ns and never block) and get the snapshot inside with wf_rcu_deref(). The pointer
 *     is valid until the matching unlock: never keep it past it, never write through it.
 *     Do not block (sleep, wait on a lock another reader's grace period needs) inside.
 *  3. A snapshot is immutable once published. To change it, build a new one and publish it.
 *  4. Publishers never free what they replaced themselves: wf_rcu_publish does it after a
 *     grace period, on liburcu's call_rcu thread, with the free function given with it.
 *  5. Never call wf_rcu_publish_sync, wf_rcu_synchronize, wf_rcu_barrier or wf_rcu_ptr_done
 *     inside a read-side critical section: they wait for it, so they would wait forever.
 *  6. Before exit (and at the end of every test) call wf_rcu_barrier() so that pending frees
 *     have run: a snapshot still queued is otherwise reported as a leak. */
#pragma once
#include <urcu/urcu-memb.h>

#include "lib/rcu-types.h"

static inline void wf_rcu_thread_register(void)
{
	urcu_memb_register_thread();
}

static inline void wf_rcu_thread_unregister(void)
{
	urcu_memb_unregister_thread();
}

static inline void wf_rcu_read_lock(void)
{
	urcu_memb_read_lock();
}

static inline void wf_rcu_read_unlock(void)
{
	urcu_memb_read_unlock();
}

/* The current snapshot (NULL before the first publish). Only inside a read-side critical
 * section, or on the publisher's side while publishers are serialised by the caller. */
static inline void *wf_rcu_deref(const struct wf_rcu_ptr *r)
{
	/* A consume load, what rcu_dereference does in liburcu's inline form. */
	return __atomic_load_n(&r->ptr, __ATOMIC_CONSUME);
}

/* Starts empty (NULL). */
void wf_rcu_ptr_init(struct wf_rcu_ptr *r);
/* Unpublishes the current snapshot, waits for a grace period and frees it. No publisher may
 * race with this, and readers that start afterwards see NULL. */
void wf_rcu_ptr_done(struct wf_rcu_ptr *r);

/* Publishes snapshot (may be NULL), which r takes over along with free_fn (NULL: never freed
 * by r). The snapshot it replaces is freed with its own free function after a grace period;
 * the call does not wait. Thread-safe against other publishers of r. If the small record
 * that defers the free cannot be allocated, the call waits for the grace period and frees
 * the old snapshot itself, so it never fails. */
void wf_rcu_publish(struct wf_rcu_ptr *r, void *snapshot, wf_rcu_free_fn free_fn);
/* Same, but waits for the grace period and frees the old snapshot before returning. */
void wf_rcu_publish_sync(struct wf_rcu_ptr *r, void *snapshot, wf_rcu_free_fn free_fn);

/* Waits until every read-side critical section that had started has ended. */
void wf_rcu_synchronize(void);
/* Waits until every free queued by wf_rcu_publish so far has run. */
void wf_rcu_barrier(void);
