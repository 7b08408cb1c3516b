/* Unit tests of the metrics registry (src/lib/metrics.c) and the admin endpoint
 * (src/lib/admin.c): exposition text, per-slot summing, histograms, HTTP routes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/admin.h"
#include "lib/alloc.h"
#include "lib/metrics.h"

static void test_counter_slots_summed(void **state)
{
	struct wf_metrics *m;
	char *text;
	size_t len;

	assert_int_equal(wf_metrics_new(4, &m), 0);
	struct wf_metric *udp = wf_metrics_counter(m, "q_total", "proto=\"udp\"", "Queries.");
	struct wf_metric *tcp = wf_metrics_counter(m, "q_total", "proto=\"tcp\"", "Queries.");
	struct wf_metric *g = wf_metrics_gauge(m, "zone_names", NULL, "Names.");
	assert_non_null(udp);
	assert_non_null(tcp);
	wf_metric_add(udp, 0, 5);
	wf_metric_add(udp, 3, 7);
	wf_metric_add(udp, 4, 100); /* out of range: ignored */
	wf_metric_add(tcp, 1, 1);
	wf_metric_set(g, 0, -3);
	wf_metric_add(NULL, 0, 1); /* no registry: a no-op */
	assert_int_equal(wf_metric_value(udp), 12);
	assert_int_equal(wf_metrics_render(m, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_string_equal(text,
			    "# HELP q_total Queries.\n# TYPE q_total counter\n"
			    "q_total{proto=\"udp\"} 12\nq_total{proto=\"tcp\"} 1\n"
			    "# HELP zone_names Names.\n# TYPE zone_names gauge\nzone_names -3\n");
	wf_free(text);
	wf_metrics_free(m);
}

static void test_histogram(void **state)
{
	static const double bounds[] = {0.001, 0.01, 0.1};
	struct wf_metrics *m;
	char *text;
	size_t len;

	assert_int_equal(wf_metrics_new(2, &m), 0);
	struct wf_metric *h = wf_metrics_histogram(m, "lat_seconds", NULL, "Latency.", bounds, 3);
	assert_non_null(h);
	wf_metric_observe(h, 0, 0.0005, 2);
	wf_metric_observe(h, 1, 0.05, 1);
	wf_metric_observe(h, 1, 5, 1);
	assert_int_equal(wf_metrics_render(m, &text, &len), 0);
	assert_non_null(strstr(text, "# TYPE lat_seconds histogram\n"));
	assert_non_null(strstr(text, "lat_seconds_bucket{le=\"0.001\"} 2\n"));
	assert_non_null(strstr(text, "lat_seconds_bucket{le=\"0.01\"} 2\n"));
	assert_non_null(strstr(text, "lat_seconds_bucket{le=\"0.1\"} 3\n"));
	assert_non_null(strstr(text, "lat_seconds_bucket{le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(text, "lat_seconds_count 4\n"));
	assert_non_null(strstr(text, "lat_seconds_sum 5.051\n"));
	wf_free(text);
	/* bounds must ascend; names must be valid */
	static const double bad[] = {0.1, 0.01};
	assert_null(wf_metrics_histogram(m, "x", NULL, "", bad, 2));
	assert_null(wf_metrics_counter(m, "9bad", NULL, ""));
	assert_null(wf_metrics_counter(m, "bad-name", NULL, ""));
	wf_metrics_free(m);
	assert_int_equal(wf_metrics_new(0, &m), -EINVAL);
}

static void test_alloc_failures(void **state)
{
	/* every allocation of registration and rendering may fail without a leak or a crash */
	for (unsigned long nth = 1; nth < 40; nth++) {
		struct wf_metrics *m = NULL;
		char *text = NULL;
		size_t len;
		wf_alloc_fail_at(nth);
		if (wf_metrics_new(2, &m) == 0) {
			wf_metric_add(wf_metrics_counter(m, "a_total", "k=\"v\"", "A."), 0, 1);
			if (wf_metrics_render(m, &text, &len) == 0)
				wf_free(text);
			wf_metrics_free(m);
		}
	}
	wf_alloc_fail_at(0);
}

static int http_get(unsigned port, const char *req, char *buf, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t len = 0;
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return -1;
	}
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return 0;
}

static bool not_ready(void *data)
{
	return *(bool *)data;
}

static void test_admin_routes(void **state)
{
	struct wf_metrics *m;
	struct wf_admin *a;
	bool ready = false;
	char buf[4096];

	assert_int_equal(wf_metrics_new(1, &m), 0);
	wf_metric_add(wf_metrics_counter(m, "hits_total", NULL, "Hits."), 0, 3);
	assert_int_equal(wf_admin_start("127.0.0.1:0", m, not_ready, &ready, &a), 0);
	unsigned port = wf_admin_port(a);
	assert_true(port > 0);
	assert_int_equal(
		http_get(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
	assert_int_equal(http_get(port, "GET /readyz HTTP/1.1\r\n\r\n", buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "HTTP/1.1 503"));
	ready = true;
	assert_int_equal(http_get(port, "GET /readyz HTTP/1.1\r\n\r\n", buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
	assert_int_equal(http_get(port, "GET /metrics?x=1 HTTP/1.1\r\n\r\n", buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
	assert_non_null(strstr(buf, "\r\n\r\n# HELP hits_total Hits.\n# TYPE hits_total counter\n"
				    "hits_total 3\n"));
	assert_int_equal(http_get(port, "GET /nope HTTP/1.1\r\n\r\n", buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "HTTP/1.1 404"));
	assert_int_equal(http_get(port, "POST /metrics HTTP/1.1\r\n\r\n", buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "HTTP/1.1 405"));
	assert_int_equal(http_get(port, "\r\n\r\n", buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "HTTP/1.1 400"));
	wf_admin_stop(a);
	wf_metrics_free(m);
	assert_int_equal(wf_admin_start("nonsense", NULL, NULL, NULL, &a), -EINVAL);
	assert_int_equal(wf_admin_start("127.0.0.1:99999", NULL, NULL, NULL, &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_slots_summed),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_admin_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
