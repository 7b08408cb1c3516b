#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/alloc.h"
#include "lib/hash.h"

static void test_hash_function(void **state)
{
	/* Deterministic for a given seed, different across seeds. */
	assert_int_equal(wf_hash_seeded("abc", 3, 1), wf_hash_seeded("abc", 3, 1));
	assert_int_not_equal(wf_hash_seeded("abc", 3, 1), wf_hash_seeded("abc", 3, 2));
	assert_int_equal(wf_hash_bytes("abc", 3), wf_hash_seeded("abc", 3, wf_hash_seed()));
	/* Length is part of the input. */
	assert_int_not_equal(wf_hash_bytes("a\0", 1), wf_hash_bytes("a\0", 2));
	assert_int_not_equal(wf_hash_bytes("", 0), wf_hash_bytes("\0", 1));

	/* Every length reads exactly its bytes: exact-size heap copies let ASan catch an
	 * over-read, and the hash must not depend on what lies beyond. */
	unsigned char src[300];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + 1);
	uint64_t prev = 0;
	for (size_t len = 0; len <= sizeof(src); len++) {
		unsigned char *p = wf_memdup(src, len);
		assert_non_null(p);
		uint64_t h = wf_hash_seeded(p, len, 7);
		unsigned char big[320];
		memcpy(big, src, len);
		memset(big + len, 0xee, sizeof(big) - len);
		assert_int_equal(h, wf_hash_seeded(big, len, 7));
		assert_int_not_equal(h, prev);
		prev = h;
		wf_free(p);
	}
}

static void test_hash_avalanche(void **state)
{
	/* Flipping one input bit flips about half of the output bits. */
	unsigned long total = 0, n = 0;
	for (size_t len = 1; len <= 64; len += 7) {
		unsigned char buf[64];
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(len + i);
		uint64_t base = wf_hash_seeded(buf, len, 12345);
		for (size_t bit = 0; bit < len * 8; bit++) {
			buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			total += (unsigned long)__builtin_popcountll(
				base ^ wf_hash_seeded(buf, len, 12345));
			n++;
			buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		}
	}
	double mean = (double)total / (double)n;
	assert_true(mean > 28.0 && mean < 36.0);
}

static void test_basic(void **state)
{
	struct wf_hash *h = wf_hash_new(0);
	assert_non_null(h);
	int a = 1, b = 2, c = 3;
	void *old = &c;

	assert_null(wf_hash_gets(h, "a"));
	assert_int_equal(wf_hash_puts(h, "a", &a, &old), 0);
	assert_null(old);
	assert_int_equal(wf_hash_puts(h, "b", &b, NULL), 0);
	assert_int_equal(wf_hash_count(h), 2);
	assert_ptr_equal(wf_hash_gets(h, "a"), &a);
	assert_ptr_equal(wf_hash_gets(h, "b"), &b);
	assert_null(wf_hash_get(h, "a", 0));
	assert_null(wf_hash_get(h, "ab", 2));

	/* Replace returns the old value and keeps the count. */
	assert_int_equal(wf_hash_puts(h, "a", &c, &old), 0);
	assert_ptr_equal(old, &a);
	assert_ptr_equal(wf_hash_gets(h, "a"), &c);
	assert_int_equal(wf_hash_count(h), 2);

	assert_ptr_equal(wf_hash_dels(h, "a"), &c);
	assert_null(wf_hash_dels(h, "a"));
	assert_null(wf_hash_gets(h, "a"));
	assert_int_equal(wf_hash_count(h), 1);

	/* Binary keys with NULs, and the empty key. */
	assert_int_equal(wf_hash_put(h, "x\0y", 3, &a, NULL), 0);
	assert_int_equal(wf_hash_put(h, "x\0z", 3, &b, NULL), 0);
	assert_ptr_equal(wf_hash_get(h, "x\0y", 3), &a);
	assert_ptr_equal(wf_hash_get(h, "x\0z", 3), &b);
	assert_null(wf_hash_get(h, "x", 1));
	assert_int_equal(wf_hash_put(h, NULL, 0, &c, NULL), 0);
	assert_ptr_equal(wf_hash_get(h, "", 0), &c);
	assert_ptr_equal(wf_hash_get(h, NULL, 0), &c);
	assert_int_equal(wf_hash_count(h), 4);

	wf_hash_clear(h);
	assert_int_equal(wf_hash_count(h), 0);
	assert_null(wf_hash_gets(h, "b"));
	assert_int_equal(wf_hash_puts(h, "b", &b, NULL), 0);
	assert_ptr_equal(wf_hash_gets(h, "b"), &b);
	wf_hash_free(h);
	wf_hash_free(NULL);
}

#define N 20000

static char (*make_keys(size_t n))[16]
{
	char(*keys)[16] = calloc(n, sizeof(*keys));
	for (size_t i = 0; i < n; i++)
		snprintf(keys[i], sizeof(keys[i]), "key-%zu", i);
	return keys;
}

static void test_growth(void **state)
{
	char(*keys)[16] = make_keys(N);
	struct wf_hash *h = wf_hash_new(0);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(wf_hash_puts(h, keys[i], keys[i], NULL), 0);
		/* Spot-check earlier keys survive every resize. */
		if ((i & (i - 1)) == 0)
			for (size_t j = 0; j <= i; j++)
				assert_ptr_equal(wf_hash_gets(h, keys[j]), keys[j]);
	}
	assert_int_equal(wf_hash_count(h), N);
	for (size_t i = 0; i < N; i++)
		assert_ptr_equal(wf_hash_gets(h, keys[i]), keys[i]);
	assert_null(wf_hash_gets(h, "key-20000"));
	wf_hash_free(h);
	free(keys);
}

static void test_presized_and_lookup_no_alloc(void **state)
{
	char(*keys)[16] = make_keys(1000);
	struct wf_hash *h = wf_hash_new(1000);
	wf_alloc_fail_at(0);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(wf_hash_puts(h, keys[i], keys[i], NULL), 0);
	assert_int_equal(wf_alloc_count(), 0); /* sized for 1000: no growth */
	for (size_t i = 0; i < 1000; i++)
		assert_ptr_equal(wf_hash_gets(h, keys[i]), keys[i]);
	assert_null(wf_hash_gets(h, "missing"));
	assert_int_equal(wf_alloc_count(), 0); /* lookups never allocate */
	wf_hash_free(h);
	free(keys);
}

static void test_tombstones(void **state)
{
	char(*keys)[16] = make_keys(N);
	struct wf_hash *h = wf_hash_new(0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(wf_hash_puts(h, keys[i], keys[i], NULL), 0);
	/* Delete every other key: the rest stay reachable past the tombstones. */
	for (size_t i = 0; i < N; i += 2)
		assert_ptr_equal(wf_hash_dels(h, keys[i]), keys[i]);
	assert_int_equal(wf_hash_count(h), N / 2);
	for (size_t i = 0; i < N; i++) {
		if (i % 2)
			assert_ptr_equal(wf_hash_gets(h, keys[i]), keys[i]);
		else
			assert_null(wf_hash_gets(h, keys[i]));
	}
	/* Reinsert: tombstones are reused. */
	for (size_t i = 0; i < N; i += 2)
		assert_int_equal(wf_hash_puts(h, keys[i], keys[i], NULL), 0);
	assert_int_equal(wf_hash_count(h), N);
	for (size_t i = 0; i < N; i++)
		assert_ptr_equal(wf_hash_gets(h, keys[i]), keys[i]);
	wf_hash_free(h);

	/* Churn in a small map: endless insert/delete of fresh keys must not fill the table
	 * with tombstones (a lookup would then never find an empty slot and never end). */
	h = wf_hash_new(4);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(wf_hash_puts(h, keys[i], keys[i], NULL), 0);
		if (i >= 3)
			assert_ptr_equal(wf_hash_dels(h, keys[i - 3]), keys[i - 3]);
		assert_null(wf_hash_gets(h, "never-there"));
	}
	assert_int_equal(wf_hash_count(h), 3);
	wf_hash_free(h);
	free(keys);
}

static void test_iterate(void **state)
{
	char(*keys)[16] = make_keys(1000);
	struct wf_hash *h = wf_hash_new(0);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(wf_hash_puts(h, keys[i], keys[i], NULL), 0);

	unsigned char seen[1000] = {0};
	const void *k;
	size_t kl;
	void *v;
	size_t n = 0;
	for (size_t it = 0; wf_hash_next(h, &it, &k, &kl, &v);) {
		assert_ptr_equal(k, v);
		assert_int_equal(kl, strlen(k));
		size_t idx = (size_t)atoi((const char *)k + 4);
		assert_int_equal(seen[idx], 0);
		seen[idx] = 1;
		n++;
	}
	assert_int_equal(n, 1000);

	/* Deleting the current entry during iteration: every entry is still visited once. */
	memset(seen, 0, sizeof(seen));
	n = 0;
	for (size_t it = 0; wf_hash_next(h, &it, &k, &kl, NULL);) {
		size_t idx = (size_t)atoi((const char *)k + 4);
		assert_int_equal(seen[idx], 0);
		seen[idx] = 1;
		n++;
		if (idx % 3 == 0)
			assert_non_null(wf_hash_del(h, k, kl));
	}
	assert_int_equal(n, 1000);
	assert_int_equal(wf_hash_count(h), 1000 - 334);
	n = 0;
	for (size_t it = 0; wf_hash_next(h, &it, NULL, NULL, &v);) {
		assert_int_not_equal(atoi((const char *)v + 4) % 3, 0);
		n++;
	}
	assert_int_equal(n, 1000 - 334);

	/* Empty map. */
	struct wf_hash *e = wf_hash_new(0);
	size_t it = 0;
	assert_false(wf_hash_next(e, &it, &k, &kl, &v));
	wf_hash_free(e);
	wf_hash_free(h);
	free(keys);
}

static void test_alloc_failure(void **state)
{
	wf_alloc_fail_at(1);
	assert_null(wf_hash_new(0));
	wf_alloc_fail_at(2);
	assert_null(wf_hash_new(0)); /* the table; the struct must not leak */
	wf_alloc_fail_at(0);

	char(*keys)[16] = make_keys(100);
	struct wf_hash *h = wf_hash_new(0);
	size_t i = 0;
	/* Fill until the next put must grow, then fail that growth. */
	for (;; i++) {
		wf_alloc_fail_at(0);
		assert_int_equal(wf_hash_puts(h, keys[i], keys[i], NULL), 0);
		if (wf_alloc_count() > 0)
			break;
	}
	size_t count = wf_hash_count(h);
	i++;
	for (;; i++) {
		wf_alloc_fail_at(1);
		int r = wf_hash_puts(h, keys[i], keys[i], NULL);
		if (r == -ENOMEM)
			break;
		assert_int_equal(r, 0);
		count++;
	}
	/* The failed put changed nothing. */
	assert_int_equal(wf_hash_count(h), count);
	assert_null(wf_hash_gets(h, keys[i]));
	for (size_t j = 0; j < i; j++)
		assert_ptr_equal(wf_hash_gets(h, keys[j]), keys[j]);
	wf_alloc_fail_at(0);
	assert_int_equal(wf_hash_puts(h, keys[i], keys[i], NULL), 0);
	assert_ptr_equal(wf_hash_gets(h, keys[i]), keys[i]);
	wf_hash_free(h);
	free(keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_function),
		cmocka_unit_test(test_hash_avalanche),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_presized_and_lookup_no_alloc),
		cmocka_unit_test(test_tombstones),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
