#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/error.h"

static void test_append(void **state)
{
	struct wf_buf b;
	wf_buf_init(&b, 0);
	assert_int_equal(wf_buf_len(&b), 0);
	assert_int_equal(wf_buf_append(&b, "hello", 5), 0);
	assert_int_equal(wf_buf_append_byte(&b, ' '), 0);
	assert_int_equal(wf_buf_append_str(&b, "world"), 0);
	assert_int_equal(wf_buf_append(&b, NULL, 0), 0);
	assert_int_equal(wf_buf_len(&b), 11);
	assert_memory_equal(wf_buf_data(&b), "hello world", 11);
	assert_string_equal(wf_buf_cstr(&b), "hello world");
	assert_int_equal(wf_buf_len(&b), 11); /* the NUL is not content */

	/* Growth keeps the content. */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(wf_buf_append_byte(&b, (uint8_t)('a' + i % 26)), 0);
	assert_int_equal(wf_buf_len(&b), 10011);
	assert_memory_equal(wf_buf_data(&b), "hello worldabc", 14);
	assert_int_equal(wf_buf_data(&b)[10010], 'a' + 9999 % 26);

	wf_buf_truncate(&b, 5);
	assert_string_equal(wf_buf_cstr(&b), "hello");
	wf_buf_truncate(&b, 50);
	assert_int_equal(wf_buf_len(&b), 5);
	wf_buf_clear(&b);
	assert_int_equal(wf_buf_len(&b), 0);
	assert_string_equal(wf_buf_cstr(&b), "");
	wf_buf_done(&b);
	wf_buf_done(&b); /* twice is fine */

	struct wf_buf s = WF_BUF_INIT(16);
	assert_int_equal(wf_buf_append_str(&s, "static"), 0);
	assert_string_equal(wf_buf_cstr(&s), "static");
	wf_buf_done(&s);
}

static void test_printf(void **state)
{
	struct wf_buf b;
	wf_buf_init(&b, 1 << 20);
	assert_int_equal(wf_buf_printf(&b, "%s=%d", "a", 1), 0);
	assert_int_equal(wf_buf_printf(&b, " %s", ""), 0);
	assert_int_equal(wf_buf_printf(&b, "%s", ""), 0);
	assert_string_equal(wf_buf_cstr(&b), "a=1 ");
	/* Longer than any room there is: the second, sized pass. */
	assert_int_equal(wf_buf_printf(&b, "%0300d|", 5), 0);
	assert_int_equal(wf_buf_len(&b), 4 + 301);
	assert_int_equal(wf_buf_data(&b)[4 + 299], '5');
	assert_int_equal(wf_buf_data(&b)[4 + 300], '|');
	/* Many small ones. */
	wf_buf_clear(&b);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(wf_buf_printf(&b, "%d,", i % 10), 0);
	assert_int_equal(wf_buf_len(&b), 2000);
	assert_memory_equal(wf_buf_data(&b) + 1990, "5,6,7,8,9,", 10);
	wf_buf_done(&b);
}

static void test_cap(void **state)
{
	struct wf_buf b;
	wf_buf_init(&b, 10);
	assert_int_equal(wf_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(wf_buf_append_byte(&b, 'x'), -WF_E_TOO_BIG);
	assert_int_equal(wf_buf_len(&b), 10);
	assert_int_equal(wf_buf_printf(&b, "y"), -WF_E_TOO_BIG);
	assert_int_equal(wf_buf_reserve(&b, 1), -WF_E_TOO_BIG);
	assert_int_equal(wf_buf_len(&b), 10);
	/* The terminating NUL may go one byte over. */
	assert_string_equal(wf_buf_cstr(&b), "0123456789");

	/* Consuming makes room again, without growing past the cap. */
	wf_buf_consume(&b, 4);
	assert_int_equal(wf_buf_append(&b, "abcd", 4), 0);
	assert_string_equal(wf_buf_cstr(&b), "456789abcd");
	assert_int_equal(wf_buf_append(&b, "e", 1), -WF_E_TOO_BIG);
	assert_true(b.size <= 11);
	wf_buf_done(&b);

	/* printf over the cap in one go leaves the content as it was. */
	wf_buf_init(&b, 8);
	assert_int_equal(wf_buf_append_str(&b, "ab"), 0);
	assert_int_equal(wf_buf_printf(&b, "%s", "0123456789"), -WF_E_TOO_BIG);
	assert_int_equal(wf_buf_printf(&b, "%s", "01234"), 0);
	assert_string_equal(wf_buf_cstr(&b), "ab01234");
	assert_int_equal(wf_buf_printf(&b, "%s", "56"), -WF_E_TOO_BIG);
	assert_string_equal(wf_buf_cstr(&b), "ab01234");
	wf_buf_done(&b);

	/* A one-byte cap. */
	wf_buf_init(&b, 1);
	assert_int_equal(wf_buf_append_str(&b, "ab"), -WF_E_TOO_BIG);
	assert_int_equal(wf_buf_len(&b), 0);
	wf_buf_done(&b);
}

static void test_io(void **state)
{
	/* The read(2) pattern: reserve, read into the tail, commit, consume what was parsed. */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	struct wf_buf b;
	wf_buf_init(&b, 4096);
	char msg[100];
	for (int i = 0; i < 100; i++)
		msg[i] = (char)('A' + i % 26);
	size_t total_in = 0, total_out = 0;
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)(round % 97) + 1;
		assert_int_equal(write(fds[1], msg, n), (ssize_t)n);
		total_in += n;
		assert_int_equal(wf_buf_reserve(&b, 64), 0);
		assert_true(wf_buf_room(&b) >= 64);
		ssize_t r = read(fds[0], wf_buf_tail(&b), wf_buf_room(&b));
		assert_true(r > 0);
		wf_buf_commit(&b, (size_t)r);
		/* Consume in 7-byte "records", checking the stream is intact. */
		while (wf_buf_len(&b) >= 7) {
			for (size_t i = 0; i < 7; i++)
				assert_int_not_equal(wf_buf_data(&b)[i], 0);
			wf_buf_consume(&b, 7);
			total_out += 7;
		}
	}
	assert_int_equal(total_in, total_out + wf_buf_len(&b));
	/* Consuming everything resets to the front. */
	wf_buf_consume(&b, 1000);
	assert_int_equal(wf_buf_len(&b), 0);
	assert_int_equal(b.off, 0);
	assert_true(b.size <= 4097);
	close(fds[0]);
	close(fds[1]);
	wf_buf_done(&b);
}

static void test_compaction(void **state)
{
	struct wf_buf b;
	wf_buf_init(&b, 100);
	char data[100];
	memset(data, 'q', sizeof(data));
	assert_int_equal(wf_buf_append(&b, data, 100), 0);
	size_t size = b.size;
	/* Consume from the front, append at the back: the space is reused, never grown. */
	for (int i = 0; i < 1000; i++) {
		wf_buf_consume(&b, 30);
		assert_int_equal(wf_buf_append(&b, data, 30), 0);
		assert_int_equal(wf_buf_len(&b), 100);
	}
	assert_int_equal(b.size, size);
	wf_buf_done(&b);
}

static void test_steal(void **state)
{
	struct wf_buf b;
	wf_buf_init(&b, 0);
	assert_int_equal(wf_buf_append_str(&b, "xxhello"), 0);
	wf_buf_consume(&b, 2);
	size_t len = 0;
	char *s = wf_buf_steal(&b, &len);
	assert_string_equal(s, "hello");
	assert_int_equal(len, 5);
	assert_int_equal(wf_buf_len(&b), 0);
	wf_free(s);
	/* The buffer is reusable, with its cap. */
	assert_int_equal(wf_buf_append_str(&b, "again"), 0);
	s = wf_buf_steal(&b, NULL);
	assert_string_equal(s, "again");
	wf_free(s);
	/* Stealing an empty buffer gives "". */
	s = wf_buf_steal(&b, &len);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	wf_free(s);
	wf_buf_done(&b);
}

static void test_alloc_failure(void **state)
{
	struct wf_buf b;
	wf_buf_init(&b, 0);
	wf_alloc_fail_at(1);
	assert_int_equal(wf_buf_append_str(&b, "x"), -ENOMEM);
	assert_int_equal(wf_buf_len(&b), 0);
	wf_alloc_fail_at(1);
	assert_null(wf_buf_cstr(&b));
	assert_int_equal(wf_buf_append_str(&b, "abc"), 0);

	char big[1000];
	memset(big, 'z', sizeof(big));
	wf_alloc_fail_at(1);
	assert_int_equal(wf_buf_append(&b, big, sizeof(big)), -ENOMEM);
	assert_int_equal(wf_buf_printf(&b, "%s",
				       "0123456789012345678901234567890123456789"
				       "0123456789012345678901234567890123456789"),
			 0); /* the failure was used up by the append */
	wf_alloc_fail_at(1);
	assert_int_equal(wf_buf_printf(&b, "%1000d", 1), -ENOMEM);
	assert_int_equal(wf_buf_len(&b), 83);
	assert_memory_equal(wf_buf_data(&b), "abc0123", 7);
	wf_alloc_fail_at(0);
	wf_buf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append),	      cmocka_unit_test(test_printf),
		cmocka_unit_test(test_cap),	      cmocka_unit_test(test_io),
		cmocka_unit_test(test_compaction),    cmocka_unit_test(test_steal),
		cmocka_unit_test(test_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
