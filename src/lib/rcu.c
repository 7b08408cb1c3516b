#include "lib/rcu.h"

#include <stddef.h>

#include "lib/alloc.h"

/* A free queued with call_rcu. */
struct deferred_free {
	struct rcu_head head;
	void *snapshot;
	wf_rcu_free_fn free_fn;
};

void wf_rcu_ptr_init(struct wf_rcu_ptr *r)
{
	r->ptr = NULL;
	r->free_fn = NULL;
	pthread_mutex_init(&r->lock, NULL);
}

void wf_rcu_ptr_done(struct wf_rcu_ptr *r)
{
	wf_rcu_publish_sync(r, NULL, NULL);
	pthread_mutex_destroy(&r->lock);
}

/* Swaps in the new snapshot; returns the old one and its free function. */
static void *swap(struct wf_rcu_ptr *r, void *snapshot, wf_rcu_free_fn free_fn,
		  wf_rcu_free_fn *ret_free_fn)
{
	pthread_mutex_lock(&r->lock);
	/* Release order: everything written into the snapshot is visible before the
	 * pointer to it (rcu_assign_pointer). */
	void *old = __atomic_exchange_n(&r->ptr, snapshot, __ATOMIC_ACQ_REL);
	*ret_free_fn = r->free_fn;
	r->free_fn = free_fn;
	pthread_mutex_unlock(&r->lock);
	return old;
}

static void run_deferred(struct rcu_head *head)
{
	struct deferred_free *d =
		(struct deferred_free *)((char *)head - offsetof(struct deferred_free, head));
	d->free_fn(d->snapshot);
	wf_free(d);
}

void wf_rcu_publish(struct wf_rcu_ptr *r, void *snapshot, wf_rcu_free_fn free_fn)
{
	wf_rcu_free_fn old_free;
	void *old = swap(r, snapshot, free_fn, &old_free);
	if (!old || !old_free)
		return;
	struct deferred_free *d = wf_malloc(sizeof(*d));
	if (!d) {
		urcu_memb_synchronize_rcu();
		old_free(old);
		return;
	}
	d->snapshot = old;
	d->free_fn = old_free;
	urcu_memb_call_rcu(&d->head, run_deferred);
}

void wf_rcu_publish_sync(struct wf_rcu_ptr *r, void *snapshot, wf_rcu_free_fn free_fn)
{
	wf_rcu_free_fn old_free;
	void *old = swap(r, snapshot, free_fn, &old_free);
	if (!old || !old_free)
		return;
	urcu_memb_synchronize_rcu();
	old_free(old);
}

void wf_rcu_synchronize(void)
{
	urcu_memb_synchronize_rcu();
}

void wf_rcu_barrier(void)
{
	urcu_memb_barrier();
}
