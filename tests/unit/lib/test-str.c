#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/arena.h"
#include "lib/hash.h"
#include "lib/str.h"

static void test_prefix_suffix(void **state)
{
	assert_true(wf_str_startswith("kube-system", "kube-"));
	assert_true(wf_str_startswith("kube", ""));
	assert_false(wf_str_startswith("ku", "kube"));
	assert_true(wf_str_endswith("svc.cluster.local", ".cluster.local"));
	assert_true(wf_str_endswith("x", ""));
	assert_true(wf_str_endswith("abc", "abc"));
	assert_false(wf_str_endswith("bc", "abc"));
	assert_false(wf_str_endswith("abd", "c"));
	assert_string_equal(wf_str_after("--manifests=dir", "--manifests="), "dir");
	assert_null(wf_str_after("--kubeconfig", "--manifests="));
	assert_true(wf_str_empty(NULL));
	assert_true(wf_str_empty(""));
	assert_false(wf_str_empty(" "));
	assert_true(wf_str_eq("a", "a"));
}

static void test_case(void **state)
{
	assert_true(wf_str_caseeq("Example.COM", "example.com"));
	assert_false(wf_str_caseeq("example.co", "example.com"));
	assert_int_equal(wf_str_casecmp("a", "B"), -1);
	assert_int_equal(wf_str_casecmp("b", "A"), 1);
	assert_int_equal(wf_str_casecmp("", ""), 0);
	assert_int_equal(wf_str_casecmp("", "a"), -1);
	/* Only ASCII letters fold: bytes >= 0x80 and punctuation compare exactly. */
	assert_false(wf_str_caseeq("\xc3\x89", "\xc3\xa9"));
	assert_false(wf_str_caseeq("@", "`"));
	assert_false(wf_str_caseeq("[", "{"));
	assert_true(wf_str_caseeqn("CoreDNS", 7, "coredns", 7));
	assert_false(wf_str_caseeqn("CoreDNS", 7, "coredns", 6));
	assert_true(wf_str_caseeqn("a\0B", 3, "A\0b", 3));
	char s[] = "MiXeD-Case.Local";
	assert_string_equal(wf_str_lower(s), "mixed-case.local");

	assert_int_equal(wf_str_hash_ci("Example.COM", 11), wf_str_hash_ci("example.com", 11));
	assert_int_equal(wf_str_hash_ci("example.com", 11), wf_hash_bytes("example.com", 11));
	assert_int_not_equal(wf_str_hash_ci("example.com", 11), wf_str_hash_ci("example.org", 11));
	assert_int_equal(wf_str_hash_ci("", 0), wf_hash_bytes("", 0));
	/* Longer than the internal chunk. */
	char a[600], b[600];
	for (size_t i = 0; i < sizeof(a); i++) {
		a[i] = (char)('a' + i % 26);
		b[i] = (char)('A' + i % 26);
	}
	assert_int_equal(wf_str_hash_ci(a, sizeof(a)), wf_str_hash_ci(b, sizeof(b)));
	b[599] = '0';
	assert_int_not_equal(wf_str_hash_ci(a, sizeof(a)), wf_str_hash_ci(b, sizeof(b)));
}

static void test_trim(void **state)
{
	const char *s = "  \t hello world \r\n";
	size_t len = wf_str_trimn(&s, strlen(s));
	assert_int_equal(len, 11);
	assert_memory_equal(s, "hello world", 11);
	s = "   ";
	assert_int_equal(wf_str_trimn(&s, 3), 0);
	s = "";
	assert_int_equal(wf_str_trimn(&s, 0), 0);

	char b1[] = "  x y  ";
	assert_string_equal(wf_str_strip(b1), "x y");
	char b2[] = "noop";
	assert_ptr_equal(wf_str_strip(b2), b2);
	char b3[] = " \n\t ";
	assert_string_equal(wf_str_strip(b3), "");
}

static void test_split(void **state)
{
	struct wf_arena *a = wf_arena_new(256, 0);
	char **v;
	assert_int_equal(wf_str_split(a, "a,b,,c", ',', 0, &v), 4);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "b");
	assert_string_equal(v[2], "");
	assert_string_equal(v[3], "c");
	assert_null(v[4]);

	assert_int_equal(wf_str_split(a, "a,b,,c", ',', WF_STR_SPLIT_SKIP_EMPTY, &v), 3);
	assert_string_equal(v[2], "c");
	assert_null(v[3]);

	assert_int_equal(wf_str_split(a, " ndots:5 , timeout:1,  ", ',',
				      WF_STR_SPLIT_TRIM | WF_STR_SPLIT_SKIP_EMPTY, &v),
			 2);
	assert_string_equal(v[0], "ndots:5");
	assert_string_equal(v[1], "timeout:1");

	assert_int_equal(wf_str_split(a, "", ',', 0, &v), 1);
	assert_string_equal(v[0], "");
	assert_int_equal(wf_str_split(a, "", ',', WF_STR_SPLIT_SKIP_EMPTY, &v), 0);
	assert_null(v[0]);
	assert_int_equal(wf_str_split(a, ",", ',', 0, &v), 2);
	assert_int_equal(wf_str_split(a, "nodelim", ',', 0, &v), 1);
	assert_string_equal(v[0], "nodelim");
	assert_int_equal(wf_str_split(a, "a.b.c.cluster.local", '.', 0, &v), 5);
	assert_string_equal(v[4], "local");
	assert_int_equal(wf_str_split(a, "a", '\0', 0, &v), -EINVAL);
	wf_arena_free(a);

	/* Over the arena's cap. */
	a = wf_arena_new(256, 64);
	assert_int_equal(wf_str_split(a, "a,b,c,d,e,f,g,h", ',', 0, &v), -E2BIG);
	wf_arena_free(a);
}

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
		{"", true},
		{"plain ascii", true},
		{"caf\xc3\xa9", true},
		{"\xe2\x82\xac", true},	     /* U+20AC */
		{"\xf0\x9f\x98\x80", true},  /* U+1F600 */
		{"\xf4\x8f\xbf\xbf", true},  /* U+10FFFF */
		{"\xef\xbf\xbf", true},	     /* U+FFFF */
		{"\xed\x9f\xbf", true},	     /* U+D7FF */
		{"\xee\x80\x80", true},	     /* U+E000 */
		{"\xc0\xaf", false},	     /* overlong '/' */
		{"\xc1\xbf", false},	     /* overlong */
		{"\xe0\x80\xaf", false},     /* overlong */
		{"\xe0\x9f\xbf", false},     /* overlong */
		{"\xf0\x80\x80\xaf", false}, /* overlong */
		{"\xf0\x8f\xbf\xbf", false}, /* overlong */
		{"\xed\xa0\x80", false},     /* surrogate U+D800 */
		{"\xed\xbf\xbf", false},     /* surrogate U+DFFF */
		{"\xf4\x90\x80\x80", false}, /* U+110000 */
		{"\xf5\x80\x80\x80", false},
		{"\xff", false},
		{"\x80", false},    /* lone continuation */
		{"caf\xc3", false}, /* truncated */
		{"\xe2\x82", false},
		{"\xf0\x9f\x98", false},
		{"\xc3\x28", false}, /* bad continuation */
		{"\xe2\x28\xa1", false},
		{"\xe2\x82\x28", false},
		{"\xf0\x9f\x98\x28", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (wf_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].valid)
			fail_msg("case %zu: want %d", i, cases[i].valid);
	assert_true(wf_utf8_valid("a\0b", 3));
}

static void test_copy(void **state)
{
	char buf[8];
	assert_int_equal(wf_str_copy(buf, "eth0", sizeof(buf)), 0);
	assert_string_equal(buf, "eth0");
	assert_int_equal(wf_str_copy(buf, "1234567", sizeof(buf)), 0);
	assert_string_equal(buf, "1234567");
	assert_int_equal(wf_str_copy(buf, "12345678", sizeof(buf)), -ENOBUFS);
	assert_string_equal(buf, "1234567");
	assert_int_equal(wf_str_copy(buf, "", sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(wf_str_copy(buf, "x", 0), -ENOBUFS);
	assert_int_equal(wf_str_copy(buf, "x", 1), -ENOBUFS);
	assert_string_equal(buf, "");
}

static void test_integers(void **state)
{
	uint64_t v = 77;
	assert_int_equal(wf_str_to_u64("0", UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(wf_str_to_u64("65535", 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(wf_str_to_u64("007", 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(wf_str_to_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);

	v = 77;
	assert_int_equal(wf_str_to_u64("65536", 65535, &v), -ERANGE);
	assert_int_equal(wf_str_to_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(wf_str_to_u64("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(wf_str_to_u64("99999999999999999999999x", UINT64_MAX, &v), -EINVAL);
	static const char *bad[] = {"", " 1", "1 ", "-1", "+1", "0x10", "1e3", "1.0", "12a"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wf_str_to_u64(bad[i], UINT64_MAX, &v), -EINVAL);
	assert_int_equal(wf_str_to_u64(NULL, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 77); /* untouched on failure */

	assert_int_equal(wf_strn_to_u64("8080/TCP", 4, 65535, &v), 0);
	assert_int_equal(v, 8080);
	assert_int_equal(wf_strn_to_u64("8080/TCP", 5, 65535, &v), -EINVAL);
	assert_int_equal(wf_strn_to_u64("8080", 0, 65535, &v), -EINVAL);

	uint32_t u = 0;
	assert_int_equal(wf_str_to_u32("4294967295", UINT32_MAX, &u), 0);
	assert_int_equal(u, UINT32_MAX);
	assert_int_equal(wf_str_to_u32("4294967296", UINT32_MAX, &u), -ERANGE);

	int64_t i = 0;
	assert_int_equal(wf_str_to_i64("-5", -10, 10, &i), 0);
	assert_int_equal(i, -5);
	assert_int_equal(wf_str_to_i64("-11", -10, 10, &i), -ERANGE);
	assert_int_equal(wf_str_to_i64("11", -10, 10, &i), -ERANGE);
	assert_int_equal(wf_str_to_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(wf_str_to_i64("9223372036854775807", INT64_MIN, INT64_MAX, &i), 0);
	assert_true(i == INT64_MAX);
	assert_int_equal(wf_str_to_i64("9223372036854775808", INT64_MIN, INT64_MAX, &i), -ERANGE);
	assert_int_equal(wf_str_to_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &i), -ERANGE);
	assert_int_equal(wf_str_to_i64("-", INT64_MIN, INT64_MAX, &i), -EINVAL);
	assert_int_equal(wf_str_to_i64("--1", INT64_MIN, INT64_MAX, &i), -EINVAL);
	assert_int_equal(wf_str_to_i64("-0", -1, 1, &i), 0);
	assert_int_equal(i, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_suffix), cmocka_unit_test(test_case),
		cmocka_unit_test(test_trim),	      cmocka_unit_test(test_split),
		cmocka_unit_test(test_utf8),	      cmocka_unit_test(test_copy),
		cmocka_unit_test(test_integers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
