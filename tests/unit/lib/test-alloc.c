#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/alloc.h"

static void test_wrappers(void **state)
{
	char *p = wf_malloc(10);
	assert_non_null(p);
	memset(p, 1, 10);
	p = wf_realloc(p, 1000);
	assert_non_null(p);
	assert_int_equal(p[9], 1);
	wf_free(p);

	int *z = wf_calloc(100, sizeof(int));
	for (int i = 0; i < 100; i++)
		assert_int_equal(z[i], 0);
	wf_free(z);

	/* Size 0 still returns a pointer that can be freed. */
	void *zero = wf_malloc(0);
	assert_non_null(zero);
	wf_free(zero);
	wf_free(NULL);

	char *s = wf_strdup("weft");
	assert_string_equal(s, "weft");
	wf_free(s);
	s = wf_strndup("weft", 2);
	assert_string_equal(s, "we");
	wf_free(s);
	s = wf_strndup("we", 10);
	assert_string_equal(s, "we");
	wf_free(s);
	s = wf_memdup("a\0b", 3);
	assert_memory_equal(s, "a\0b", 3);
	wf_free(s);
}

static void test_reallocarray_overflow(void **state)
{
	errno = 0;
	assert_null(wf_reallocarray(NULL, SIZE_MAX / 2, 3));
	assert_int_equal(errno, ENOMEM);
	int *v = wf_reallocarray(NULL, 10, sizeof(int));
	assert_non_null(v);
	wf_free(v);
}

static void test_cleanup_attribute(void **state)
{
	/* Under ASan, a leak here would fail the test. */
	_wf_cleanup_free_ char *p = wf_strdup("freed at scope exit");
	assert_non_null(p);
	_wf_cleanup_free_ char *q = NULL;
	(void)q;
}

static void test_fault_injection(void **state)
{
	/* The nth allocation from now fails, once; every wrapper counts. */
	wf_alloc_fail_at(3);
	void *a = wf_malloc(1);
	void *b = wf_calloc(1, 1);
	errno = 0;
	void *c = wf_strdup("x");
	assert_non_null(a);
	assert_non_null(b);
	assert_null(c);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(wf_alloc_count(), 3);
	void *d = wf_memdup("y", 1);
	assert_non_null(d);
	assert_int_equal(wf_alloc_count(), 4);
	wf_free(a);
	wf_free(b);
	wf_free(d);

	/* realloc failing keeps the old block. */
	char *p = wf_strdup("keep");
	wf_alloc_fail_at(1);
	assert_null(wf_realloc(p, 4096));
	assert_string_equal(p, "keep");
	wf_free(p);

	/* Off: nothing fails; the count still runs. */
	wf_alloc_fail_at(0);
	for (int i = 0; i < 100; i++)
		wf_free(wf_malloc(8));
	assert_int_equal(wf_alloc_count(), 100);
}

/* The pattern every module's tests use: fail each allocation of an operation in turn, and
 * check that it reports -ENOMEM and leaks nothing (ASan). */
static int build(char **ret)
{
	char *a = wf_strdup("a");
	if (!a)
		return -ENOMEM;
	char *b = wf_realloc(a, 100);
	if (!b) {
		wf_free(a);
		return -ENOMEM;
	}
	char *c = wf_strdup("c");
	if (!c) {
		wf_free(b);
		return -ENOMEM;
	}
	wf_free(c);
	*ret = b;
	return 0;
}

static void test_fail_every_step(void **state)
{
	unsigned long n;
	for (n = 1;; n++) {
		wf_alloc_fail_at(n);
		char *out = NULL;
		int r = build(&out);
		if (r == 0) {
			wf_free(out);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(out);
	}
	assert_int_equal(n, 4); /* three allocations, each failed once */
	wf_alloc_fail_at(0);
}

static void *count_thread(void *arg)
{
	for (int i = 0; i < 1000; i++)
		wf_free(wf_malloc(16));
	return NULL;
}

static void test_threads(void **state)
{
	wf_alloc_fail_at(0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, count_thread, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(wf_alloc_count(), 4000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrappers),
		cmocka_unit_test(test_reallocarray_overflow),
		cmocka_unit_test(test_cleanup_attribute),
		cmocka_unit_test(test_fault_injection),
		cmocka_unit_test(test_fail_every_step),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
