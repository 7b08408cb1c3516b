#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/alloc.h"
#include "lib/log.h"

static int out_fd = -1;

/* Everything logged so far, as a NUL-terminated string (caller frees); empties the capture. */
static char *captured(void)
{
	struct stat st;
	assert_int_equal(fstat(out_fd, &st), 0);
	off_t len = st.st_size;
	char *s = calloc(1, (size_t)len + 1);
	assert_int_equal(pread(out_fd, s, (size_t)len, 0), len);
	assert_int_equal(ftruncate(out_fd, 0), 0);
	return s;
}

static int setup(void **state)
{
	out_fd = memfd_create("log", 0);
	assert_true(out_fd >= 0);
	/* Appends: threads writing through one file offset could overwrite each other's
	 * lines (stderr is a pipe or a socket in real use, where a write <= PIPE_BUF is
	 * atomic - why lines are capped at 4096 bytes). */
	assert_int_equal(fcntl(out_fd, F_SETFL, O_APPEND), 0);
	wf_log_set_fd(out_fd);
	return 0;
}

static int teardown(void **state)
{
	wf_log_set_fd(2);
	close(out_fd);
	return 0;
}

static void test_environment(void **state)
{
	/* main() set WEFT_LOG before anything logged. */
	assert_true(wf_log_enabled("envsub", WF_LOG_DEBUG));
	assert_false(wf_log_enabled("other", WF_LOG_INFO));
	assert_true(wf_log_enabled("other", WF_LOG_WARN));
	assert_true(wf_log_enabled(NULL, WF_LOG_WARN));
	assert_false(wf_log_enabled(NULL, WF_LOG_INFO));
}

static void test_levels(void **state)
{
	assert_int_equal(wf_log_configure("info"), 0);
	assert_true(wf_log_enabled("dns", WF_LOG_INFO));
	assert_true(wf_log_enabled("dns", WF_LOG_ERROR));
	assert_false(wf_log_enabled("dns", WF_LOG_DEBUG));

	assert_int_equal(wf_log_configure("warn, dns=debug,cni = error"), 0);
	assert_true(wf_log_enabled("dns", WF_LOG_DEBUG));
	assert_false(wf_log_enabled("cni", WF_LOG_WARN));
	assert_true(wf_log_enabled("cni", WF_LOG_ERROR));
	assert_false(wf_log_enabled("proxy", WF_LOG_INFO));
	assert_true(wf_log_enabled("proxy", WF_LOG_WARN));
	assert_false(wf_log_enabled("dn", WF_LOG_DEBUG)); /* exact names only */

	/* Later entries win; the default may come anywhere; empty items are ignored. */
	assert_int_equal(wf_log_configure("dns=info,,dns=ERROR,debug"), 0);
	assert_false(wf_log_enabled("dns", WF_LOG_WARN));
	assert_true(wf_log_enabled("other", WF_LOG_DEBUG));
	assert_int_equal(wf_log_configure(""), 0);
	assert_true(wf_log_enabled("x", WF_LOG_INFO));
	assert_false(wf_log_enabled("x", WF_LOG_DEBUG));

	/* Invalid specs change nothing. */
	assert_int_equal(wf_log_configure("dns=debug"), 0);
	static const char *bad[] = {"loud",	"dns=",	  "=debug",
				    "dns=loud", "info,x", "averyveryverylongsubsystemname=debug"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wf_log_configure(bad[i]), -EINVAL);
	assert_int_equal(wf_log_configure(NULL), -EINVAL);
	assert_true(wf_log_enabled("dns", WF_LOG_DEBUG));

	char many[2048] = "info";
	for (int i = 0; i < 40; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",s%d=debug", i);
	assert_int_equal(wf_log_configure(many), -EINVAL);

	wf_alloc_fail_at(1);
	assert_int_equal(wf_log_configure("error"), -ENOMEM);
	wf_alloc_fail_at(0);
	assert_true(wf_log_enabled("dns", WF_LOG_DEBUG));
}

static void test_format(void **state)
{
	assert_int_equal(wf_log_configure("info,dns=debug"), 0);
	free(captured());

	wf_log_info("dns", "listening", "addr=%s port=%d", "10.96.0.10", 53);
	wf_log_debug("dns", "cache miss", "name=%s", "example.com");
	wf_log_debug("cni", "not shown", "x=%d", 1);
	wf_log(WF_LOG_WARN, "proxy", "say \"hi\"\\\n\tnow\x01", NULL);
	wf_log(WF_LOG_ERROR, NULL, "", "%s", "");
	char *out = captured();

	char *lines[8];
	int n = 0;
	for (char *save, *l = strtok_r(out, "\n", &save); l && n < 8;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++) {
		assert_memory_equal(lines[i], "ts=", 3);
		/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
		assert_int_equal(lines[i][13], 'T');
		assert_int_equal(lines[i][26], 'Z');
		assert_int_equal(lines[i][27], ' ');
	}
	assert_string_equal(lines[0] + 28,
			    "level=info sub=dns msg=\"listening\" addr=10.96.0.10 port=53");
	assert_string_equal(lines[1] + 28,
			    "level=debug sub=dns msg=\"cache miss\" name=example.com");
	assert_string_equal(lines[2] + 28,
			    "level=warn sub=proxy msg=\"say \\\"hi\\\"\\\\\\n\\tnow\\u0001\"");
	assert_string_equal(lines[3] + 28, "level=error msg=\"\"");
	free(out);
}

static void test_long_line(void **state)
{
	assert_int_equal(wf_log_configure("info"), 0);
	free(captured());
	char *big = malloc(10000);
	memset(big, 'm', 9999);
	big[9999] = '\0';
	wf_log_info("x", big, "v=%s", big);
	wf_log_info("x", "short", "v=%s", big);
	free(big);
	char *out = captured();
	/* Two lines, each cut to at most 4096 bytes, each ending in a newline. */
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_true(nl - out + 1 <= 4096);
	char *nl2 = strchr(nl + 1, '\n');
	assert_non_null(nl2);
	assert_true(nl2 - nl <= 4096);
	assert_int_equal(nl2[1], '\0');
	assert_non_null(strstr(nl + 1, "msg=\"short\" v=mmm"));
	free(out);
}

static void test_quote(void **state)
{
	char buf[32];
	assert_string_equal(wf_log_quote("plain", buf, sizeof(buf)), "plain");
	assert_string_equal(wf_log_quote("two words", buf, sizeof(buf)), "\"two words\"");
	assert_string_equal(wf_log_quote("", buf, sizeof(buf)), "\"\"");
	assert_string_equal(wf_log_quote(NULL, buf, sizeof(buf)), "\"\"");
	assert_string_equal(wf_log_quote("a=b", buf, sizeof(buf)), "\"a=b\"");
	assert_string_equal(wf_log_quote("q\"", buf, sizeof(buf)), "\"q\\\"\"");
	/* Truncated, but still a closed quoted string. */
	const char *q = wf_log_quote("a long value that will not fit in here", buf, 16);
	assert_true(strlen(q) < 16);
	assert_int_equal(q[0], '"');
	assert_int_equal(q[strlen(q) - 1], '"');
}

#define THREADS 8
#define LINES 500

static void *log_thread(void *arg)
{
	for (int i = 0; i < LINES; i++)
		wf_log_info("t", "concurrent line with some padding to make it longer",
			    "thread=%d i=%d pad=%s", (int)(intptr_t)arg, i,
			    "................................................................");
	return NULL;
}

static void test_threads(void **state)
{
	assert_int_equal(wf_log_configure("info"), 0);
	free(captured());
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, log_thread, (void *)(intptr_t)i);
	/* Reconfiguring while others log is safe. */
	for (int i = 0; i < 50; i++)
		assert_int_equal(wf_log_configure(i % 2 ? "info,t=info" : "info"), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	char *out = captured();
	/* Every line whole: lines never interleave. */
	int n = 0;
	int seen[THREADS] = {0};
	for (char *save, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int th, i;
		char *p = strstr(l, " thread=");
		if (!p)
			fail_msg("bad line: %s", l);
		assert_int_equal(sscanf(p, " thread=%d i=%d", &th, &i), 2);
		assert_int_equal(i, seen[th]++);
		assert_non_null(strstr(l, "pad=......"));
		assert_memory_equal(l, "ts=", 3);
		n++;
	}
	assert_int_equal(n, THREADS * LINES);
	free(out);
}

int main(void)
{
	setenv("WEFT_LOG", "warn,envsub=debug", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_environment), cmocka_unit_test(test_levels),
		cmocka_unit_test(test_format),	    cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_quote),	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
