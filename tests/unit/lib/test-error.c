#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/error.h"

static void test_errno(void **state)
{
	assert_string_equal(wf_strerror(-ENOENT), "No such file or directory");
	assert_string_equal(wf_strerror(-ENOMEM), strerror(ENOMEM));
	/* Positive values are accepted too. */
	assert_string_equal(wf_strerror(EINVAL), strerror(EINVAL));
	assert_string_equal(wf_strerror(0), "Success");
	assert_string_equal(wf_strerror(-4000), "Unknown error");
}

static void test_project_codes(void **state)
{
	/* Every code has its own text, and none collides with an errno value. */
	for (int e = WF_E_PARSE; e < WF_E_MAX; e++) {
		assert_true(e > 4096);
		const char *s = wf_strerror(-e);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		for (int f = WF_E_PARSE; f < e; f++)
			assert_string_not_equal(s, wf_strerror(-f));
	}
	assert_string_equal(wf_strerror(-WF_E_TOO_BIG), "Input over the configured limit");
	assert_string_equal(wf_strerror(-WF_E_MAX), "Unknown weft error");
	assert_string_equal(wf_strerror(-100000), "Unknown weft error");
	assert_string_equal(wf_strerror(-4096), "Unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_project_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
