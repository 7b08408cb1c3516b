#pragma once
#include <pthread.h>

/* Frees a snapshot once no reader can see it. Runs on liburcu's call_rcu thread (or on the
 * publisher's thread for the _sync variants): it must not touch the loop or thread-local
 * state of the publisher. */
typedef void (*wf_rcu_free_fn)(void *snapshot);

/* A pointer to an immutable snapshot, published under RCU. Embeddable: wf_rcu_ptr_init,
 * wf_rcu_ptr_done. */
struct wf_rcu_ptr {
	void *ptr;		/* read only through wf_rcu_deref */
	wf_rcu_free_fn free_fn; /* frees ptr; publishers only, under lock */
	pthread_mutex_t lock;	/* serialises publishers; readers never take it */
};
