/* zone-build: times the zone rebuild that follows a change, in-process: re-reading the
 * manifest path (only changed files are parsed), merging the view and compiling the zone.
 *
 * usage: zone-build MANIFEST_DIR [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dns/view.h"
#include "dns/zone.h"
#include "lib/ip.h"

static double ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

int main(int argc, char **argv)
{
	struct wf_dns_zone_config cfg = {
		.cluster_domain = "cluster.local", .ttl = 30, .pods = WF_DNS_PODS_INSECURE};
	struct wf_dns_source *src;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;

	if (argc < 2 || wf_dns_source_new(argv[1], &src) < 0) {
		fprintf(stderr, "usage: zone-build MANIFEST_DIR [ROUNDS]\n");
		return 2;
	}
	wf_cidr_parse("10.96.0.0/12", true, &cfg.service_cidrs[0]);
	wf_cidr_parse("10.244.0.0/16", true, &cfg.pod_cidrs[0]);
	cfg.n_service_cidrs = cfg.n_pod_cidrs = 1;
	for (int r = 0; r < rounds; r++) {
		struct timespec t0, t1, t2, c1, c2;
		struct wf_dns_view *v;
		struct wf_dns_zone *z;
		bool changed;
		unsigned errors;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (wf_dns_source_load(src, &v, &changed, &errors) < 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		if (wf_dns_zone_build(&cfg, wf_dns_view_cluster(v), 1, &z, NULL) < 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t2);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c2);
		printf("round %d: load+merge %.1f ms (%zu services), compile %.1f ms wall %.1f ms cpu "
		       "(%zu names, %zu bytes)\n",
		       r, ms(&t0, &t1), wf_dns_view_cluster(v)->n_services, ms(&t1, &t2),
		       ms(&c1, &c2), wf_dns_zone_node_count(z), wf_dns_zone_memory(z));
		wf_dns_zone_free(z);
		wf_dns_view_free(v);
	}
	wf_dns_source_free(src);
	return 0;
}
