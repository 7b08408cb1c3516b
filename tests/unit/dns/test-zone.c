/* Unit tests of the zone compiler: every allocation failure unwinds cleanly (run under ASan
 * in the suite), rebuilding keeps answers identical, and the view joins EndpointSlices to their
 * Service across objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dump.h"
#include "dns/view.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "k8s/object.h"
#include "lib/alloc.h"
#include "lib/ip.h"

static const char *fixture;

static void config(struct wf_dns_zone_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cluster_domain = "cluster.local";
	cfg->ttl = 30;
	cfg->pods = WF_DNS_PODS_VERIFIED;
	wf_cidr_parse("10.96.0.0/12", true, &cfg->service_cidrs[0]);
	wf_cidr_parse("10.244.0.0/16", true, &cfg->pod_cidrs[0]);
	cfg->n_service_cidrs = cfg->n_pod_cidrs = 1;
}

static size_t ask(const struct wf_dns_zone *z, const char *name, uint16_t type, char *text,
		  size_t cap)
{
	uint8_t pkt[512], out[65536];
	struct wf_dns_query q;
	enum wf_dns_zone_result res;
	int n = wf_dns_wire_build_query(pkt, 1, name, type, false, 1232);

	assert_true(n > 0);
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	size_t l = wf_dns_zone_answer(z, &q, out, 1232, &res);
	return wf_dns_dump(out, l, text, cap);
}

static void test_view_and_zone_alloc_failures(void **state)
{
	struct wf_k8s_parse_result res = {0};
	char path[1024];
	struct wf_dns_zone_config cfg;
	unsigned long nth;
	bool done = false;

	snprintf(path, sizeof(path), "%s/services.yaml", fixture);
	assert_true(wf_k8s_parse_file(path, &res, NULL) > 0);
	config(&cfg);
	for (nth = 1; !done && nth < 100000; nth++) {
		struct wf_dns_view *v = NULL;
		struct wf_dns_zone *z = NULL;
		wf_alloc_fail_at(nth);
		if (wf_dns_view_new((const struct wf_k8s_object *const *)res.objects, res.n_objects,
				    &v) == 0) {
			if (wf_dns_zone_build(&cfg, wf_dns_view_cluster(v), 1, &z, NULL) == 0) {
				done = wf_alloc_count() < nth; /* no injected failure was reached */
				wf_dns_zone_free(z);
			}
			wf_dns_view_free(v);
		}
	}
	wf_alloc_fail_at(0);
	assert_true(done);
	print_message("zone build survived %lu injected allocation failures\n", nth - 2);
	wf_k8s_parse_result_done(&res);
}

static void test_rebuild_same_answers(void **state)
{
	struct wf_k8s_parse_result res = {0};
	struct wf_dns_zone_config cfg;
	struct wf_dns_view *v;
	struct wf_dns_zone *z1, *z2;
	char path[1024], a[8192], b[8192];
	static const char *const names[] = {
		"db.default.svc.cluster.local", "_postgres._tcp.db.default.svc.cluster.local",
		"10-244-1-5.default.pod.cluster.local", "10-244-9-9.default.pod.cluster.local",
		"5.1.244.10.in-addr.arpa"};
	static const uint16_t types[] = {1, 33, 1, 1, 12};

	snprintf(path, sizeof(path), "%s/services.yaml", fixture);
	assert_true(wf_k8s_parse_file(path, &res, NULL) > 0);
	assert_int_equal(wf_dns_view_new((const struct wf_k8s_object *const *)res.objects,
					 res.n_objects, &v),
			 0);
	wf_k8s_parse_result_done(&res); /* the view keeps its own copies */
	config(&cfg);
	assert_int_equal(wf_dns_zone_build(&cfg, wf_dns_view_cluster(v), 7, &z1, NULL), 0);
	assert_int_equal(wf_dns_zone_build(&cfg, wf_dns_view_cluster(v), 7, &z2, NULL), 0);
	assert_int_equal(wf_dns_zone_node_count(z1), wf_dns_zone_node_count(z2));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ask(z1, names[i], types[i], a, sizeof(a));
		ask(z2, names[i], types[i], b, sizeof(b));
		assert_string_equal(a, b);
	}
	/* verified pods: the pod's own address exists, another one does not */
	ask(z1, "10-244-1-5.default.pod.cluster.local", 1, a, sizeof(a));
	assert_non_null(strstr(a, "IN A 10.244.1.5"));
	ask(z1, "10-244-9-9.default.pod.cluster.local", 1, a, sizeof(a));
	assert_non_null(strstr(a, "rcode NXDOMAIN"));
	/* the EndpointSlice joined its Service: SRV per ready endpoint */
	ask(z1, "_postgres._tcp.db.default.svc.cluster.local", 33, a, sizeof(a));
	assert_non_null(strstr(a, "ANSWER 3"));
	wf_dns_zone_free(z1);
	wf_dns_zone_free(z2);
	wf_dns_view_free(v);
}

static void test_bad_names_skipped(void **state)
{
	struct wf_dns_zone_config cfg;
	struct wf_dns_service s[2] = {0};
	struct wf_dns_cluster c = {.services = s, .n_services = 2};
	struct wf_dns_zone *z;
	char longname[80], text[4096];
	size_t skipped = 0;

	memset(longname, 'x', 70);
	longname[70] = '\0';
	s[0] = (struct wf_dns_service){.ns = "default",
				       .name = longname,
				       .kind = WF_DNS_SVC_CLUSTERIP,
				       .n_cluster_ips = 1};
	wf_ip_parse("10.96.1.1", &s[0].cluster_ips[0]);
	s[1] = (struct wf_dns_service){.ns = "default",
				       .name = "ok",
				       .kind = WF_DNS_SVC_EXTERNALNAME,
				       .external_name = "a..b"};
	config(&cfg);
	assert_int_equal(wf_dns_zone_build(&cfg, &c, 1, &z, &skipped), 0);
	assert_int_equal(skipped, 3); /* A and PTR of the long name, the bad CNAME target */
	ask(z, "ok.default.svc.cluster.local", 1, text, sizeof(text));
	assert_non_null(strstr(text, "rcode NXDOMAIN"));
	wf_dns_zone_free(z);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_and_zone_alloc_failures),
		cmocka_unit_test(test_rebuild_same_answers),
		cmocka_unit_test(test_bad_names_skipped),
	};
	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
