#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/alloc.h"
#include "lib/arena.h"

static void test_alloc(void **state)
{
	struct wf_arena *a = wf_arena_new(1024, 0);
	assert_non_null(a);
	assert_int_equal(wf_arena_used(a), 0);

	char *prev = NULL;
	for (int i = 1; i < 500; i++) {
		char *p = wf_arena_alloc(a, (size_t)i % 37 + 1);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 'x', (size_t)i % 37 + 1);
		assert_ptr_not_equal(p, prev);
		prev = p;
	}
	/* Zero-size allocations are distinct, valid pointers. */
	void *z1 = wf_arena_alloc(a, 0), *z2 = wf_arena_alloc(a, 0);
	assert_non_null(z1);
	assert_ptr_not_equal(z1, z2);

	unsigned char *zero = wf_arena_zalloc(a, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(zero[i], 0);

	/* Bigger than a chunk: gets a block of its own. */
	char *big = wf_arena_alloc(a, 5000);
	assert_non_null(big);
	memset(big, 'b', 5000);
	char *after = wf_arena_alloc(a, 16);
	assert_non_null(after);
	memset(after, 'a', 16);
	assert_int_equal(big[4999], 'b');
	wf_arena_free(a);
	wf_arena_free(NULL);
}

static void test_strings(void **state)
{
	struct wf_arena *a = wf_arena_new(64, 0);
	assert_string_equal(wf_arena_strdup(a, "hello"), "hello");
	assert_string_equal(wf_arena_strndup(a, "hello", 3), "hel");
	assert_string_equal(wf_arena_strndup(a, "hi", 10), "hi");
	assert_string_equal(wf_arena_strdup(a, ""), "");
	assert_string_equal(wf_arena_printf(a, "%s-%d", "pod", 42), "pod-42");
	/* Longer than a chunk. */
	char *s = wf_arena_printf(a, "%0500d", 7);
	assert_int_equal(strlen(s), 500);
	assert_int_equal(s[499], '7');
	wf_arena_free(a);
}

static void test_cap(void **state)
{
	struct wf_arena *a = wf_arena_new(256, 1000);
	/* Usage is counted in 16-byte units. */
	assert_non_null(wf_arena_alloc(a, 1));
	assert_int_equal(wf_arena_used(a), 16);
	assert_non_null(wf_arena_alloc(a, 900));
	assert_int_equal(wf_arena_used(a), 16 + 912);
	errno = 0;
	assert_null(wf_arena_alloc(a, 100));
	assert_int_equal(errno, E2BIG);
	assert_int_equal(wf_arena_used(a), 928);
	/* What still fits under the cap is served. */
	assert_non_null(wf_arena_alloc(a, 64));
	assert_int_equal(wf_arena_used(a), 992);
	/* 8 bytes left, but the smallest allocation takes 16. */
	assert_null(wf_arena_alloc(a, 1));
	assert_int_equal(wf_arena_used(a), 992);
	errno = 0;
	assert_null(wf_arena_alloc(a, SIZE_MAX));
	assert_null(wf_arena_printf(a, "%s", "over the cap"));
	assert_null(wf_arena_strdup(a, "x"));

	/* Reset gives the whole cap back. */
	wf_arena_reset(a);
	assert_int_equal(wf_arena_used(a), 0);
	assert_non_null(wf_arena_alloc(a, 992));
	wf_arena_free(a);
}

static void test_cap_exact(void **state)
{
	struct wf_arena *a = wf_arena_new(256, 64);
	assert_non_null(wf_arena_alloc(a, 64));
	assert_null(wf_arena_alloc(a, 1));
	wf_arena_free(a);
}

static void test_reset_reuses_first_block(void **state)
{
	struct wf_arena *a = wf_arena_new(4096, 0);
	for (int round = 0; round < 5; round++) {
		wf_alloc_fail_at(0);
		/* Well inside the first block: no allocation at all. */
		for (int i = 0; i < 50; i++)
			assert_non_null(wf_arena_alloc(a, 32));
		assert_int_equal(wf_alloc_count(), 0);
		/* Spill into more blocks, then reset frees them. */
		for (int i = 0; i < 200; i++)
			assert_non_null(wf_arena_alloc(a, 100));
		assert_true(wf_alloc_count() > 0);
		assert_non_null(wf_arena_alloc(a, 10000));
		wf_arena_reset(a);
		assert_int_equal(wf_arena_used(a), 0);
	}
	wf_arena_free(a);
}

static void test_alloc_failure(void **state)
{
	wf_alloc_fail_at(1);
	assert_null(wf_arena_new(256, 0));

	/* One wf_malloc for the arena and its first block. */
	wf_alloc_fail_at(0);
	struct wf_arena *a = wf_arena_new(256, 0);
	assert_non_null(a);
	assert_int_equal(wf_alloc_count(), 1);

	/* Fill the first block, then fail the next block. */
	while (wf_alloc_count() == 1)
		assert_non_null(wf_arena_alloc(a, 48));
	size_t used = wf_arena_used(a);
	wf_alloc_fail_at(1);
	void *p;
	do {
		errno = 0;
		p = wf_arena_alloc(a, 48);
	} while (p);
	assert_int_equal(errno, ENOMEM);
	assert_true(wf_arena_used(a) >= used);
	size_t before = wf_arena_used(a);
	/* Still usable afterwards, and the failure cost nothing. */
	wf_alloc_fail_at(0);
	assert_non_null(wf_arena_alloc(a, 48));
	assert_int_equal(wf_arena_used(a), before + 48);
	wf_alloc_fail_at(1);
	assert_null(wf_arena_alloc(a, 100000));
	wf_alloc_fail_at(0);
	wf_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_cap_exact),
		cmocka_unit_test(test_reset_reuses_first_block),
		cmocka_unit_test(test_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
