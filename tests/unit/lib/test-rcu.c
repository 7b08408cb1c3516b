#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/alloc.h"
#include "lib/rcu.h"

#define VALUES 32

/* A snapshot whose consistency a reader can check: every value equals gen. */
struct snap {
	uint64_t gen;
	uint64_t values[VALUES];
};

static atomic_ulong freed;

static struct snap *snap_new(uint64_t gen)
{
	struct snap *s = wf_malloc(sizeof(*s));
	assert_non_null(s);
	s->gen = gen;
	for (int i = 0; i < VALUES; i++)
		s->values[i] = gen;
	return s;
}

static void snap_free(void *p)
{
	struct snap *s = p;
	/* Scribble before freeing: a reader still looking would see it even without ASan. */
	memset(s, 0xa5, sizeof(*s));
	wf_free(s);
	atomic_fetch_add(&freed, 1);
}

static void test_publish_basic(void **state)
{
	struct wf_rcu_ptr r;
	wf_rcu_ptr_init(&r);
	wf_rcu_thread_register();
	atomic_store(&freed, 0);

	wf_rcu_read_lock();
	assert_null(wf_rcu_deref(&r));
	wf_rcu_read_unlock();

	wf_rcu_publish(&r, snap_new(1), snap_free);
	wf_rcu_read_lock();
	struct snap *s = wf_rcu_deref(&r);
	assert_int_equal(s->gen, 1);
	/* Nested critical sections. */
	wf_rcu_read_lock();
	assert_ptr_equal(wf_rcu_deref(&r), s);
	wf_rcu_read_unlock();
	wf_rcu_read_unlock();

	/* The replaced snapshot is freed after a grace period, not at once... */
	wf_rcu_publish(&r, snap_new(2), snap_free);
	wf_rcu_barrier();
	assert_int_equal(atomic_load(&freed), 1);

	/* ...or before returning, with the _sync variant. */
	wf_rcu_publish_sync(&r, snap_new(3), snap_free);
	assert_int_equal(atomic_load(&freed), 2);

	/* A snapshot published without a free function is never freed by r. */
	static struct snap fixed = {.gen = 99};
	wf_rcu_publish_sync(&r, &fixed, NULL);
	assert_int_equal(atomic_load(&freed), 3);
	wf_rcu_publish_sync(&r, snap_new(4), snap_free);
	assert_int_equal(atomic_load(&freed), 3);
	assert_int_equal(fixed.gen, 99);

	/* Publishing NULL unpublishes. */
	wf_rcu_publish_sync(&r, NULL, NULL);
	assert_int_equal(atomic_load(&freed), 4);
	wf_rcu_read_lock();
	assert_null(wf_rcu_deref(&r));
	wf_rcu_read_unlock();

	/* done frees what is published. */
	wf_rcu_publish(&r, snap_new(5), snap_free);
	wf_rcu_ptr_done(&r);
	assert_int_equal(atomic_load(&freed), 5);
	wf_rcu_thread_unregister();
}

static void test_publish_alloc_failure(void **state)
{
	/* Without memory for the deferred free, publish waits and frees in place. */
	struct wf_rcu_ptr r;
	wf_rcu_ptr_init(&r);
	atomic_store(&freed, 0);
	wf_rcu_publish(&r, snap_new(1), snap_free);
	struct snap *next = snap_new(2);
	wf_alloc_fail_at(1);
	wf_rcu_publish(&r, next, snap_free);
	wf_alloc_fail_at(0);
	assert_int_equal(atomic_load(&freed), 1);
	wf_rcu_ptr_done(&r);
	assert_int_equal(atomic_load(&freed), 2);
}

#define READERS 4
#define PUBLISHES 3000

struct shared {
	struct wf_rcu_ptr ptr;
	atomic_bool stop;
	atomic_ulong reads;
	atomic_ulong bad;
	atomic_ulong max_gen_seen;
};

static void *reader(void *arg)
{
	struct shared *sh = arg;
	uint64_t last = 0;
	wf_rcu_thread_register();
	while (!atomic_load(&sh->stop)) {
		wf_rcu_read_lock();
		const struct snap *s = wf_rcu_deref(&sh->ptr);
		if (s) {
			uint64_t gen = s->gen;
			for (int i = 0; i < VALUES; i++)
				if (s->values[i] != gen)
					atomic_fetch_add(&sh->bad, 1);
			/* Snapshots only move forward for one reader. */
			if (gen < last)
				atomic_fetch_add(&sh->bad, 1);
			last = gen;
		}
		wf_rcu_read_unlock();
		atomic_fetch_add(&sh->reads, 1);
	}
	wf_rcu_thread_unregister();
	if (last > atomic_load(&sh->max_gen_seen))
		atomic_store(&sh->max_gen_seen, last);
	return NULL;
}

static void test_concurrent_readers(void **state)
{
	struct shared sh = {0};
	wf_rcu_ptr_init(&sh.ptr);
	atomic_store(&freed, 0);
	wf_rcu_publish(&sh.ptr, snap_new(1), snap_free);

	pthread_t t[READERS];
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, &sh), 0);
	for (uint64_t gen = 2; gen <= PUBLISHES; gen++) {
		wf_rcu_publish(&sh.ptr, snap_new(gen), snap_free);
		if (gen % 500 == 0)
			wf_rcu_publish_sync(&sh.ptr, snap_new(gen), snap_free);
	}
	/* Let readers see the last one. */
	while (atomic_load(&sh.reads) < 1000)
		;
	atomic_store(&sh.stop, true);
	for (int i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);

	assert_int_equal(atomic_load(&sh.bad), 0);
	assert_true(atomic_load(&sh.reads) > 0);
	assert_true(atomic_load(&sh.max_gen_seen) >= 1);
	wf_rcu_barrier();
	/* Every snapshot but the current one has been freed, exactly once. */
	assert_int_equal(atomic_load(&freed), PUBLISHES - 1 + PUBLISHES / 500);
	wf_rcu_ptr_done(&sh.ptr);
	assert_int_equal(atomic_load(&freed), PUBLISHES + PUBLISHES / 500);
}

#define PUBLISHERS 4

static void *publisher(void *arg)
{
	struct wf_rcu_ptr *r = arg;
	for (int i = 0; i < 500; i++)
		wf_rcu_publish(r, snap_new((uint64_t)i), snap_free);
	return NULL;
}

static void test_concurrent_publishers(void **state)
{
	struct wf_rcu_ptr r;
	wf_rcu_ptr_init(&r);
	atomic_store(&freed, 0);
	pthread_t t[PUBLISHERS];
	for (int i = 0; i < PUBLISHERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, publisher, &r), 0);
	for (int i = 0; i < PUBLISHERS; i++)
		pthread_join(t[i], NULL);
	wf_rcu_barrier();
	assert_int_equal(atomic_load(&freed), PUBLISHERS * 500 - 1);
	wf_rcu_ptr_done(&r);
	assert_int_equal(atomic_load(&freed), PUBLISHERS * 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_basic),
		cmocka_unit_test(test_publish_alloc_failure),
		cmocka_unit_test(test_concurrent_readers),
		cmocka_unit_test(test_concurrent_publishers),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	wf_rcu_barrier();
	return r;
}
