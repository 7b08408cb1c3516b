/* zone-build: times the zone rebuild that follows a change, in-process: the view taken from
 * the store's snapshot (manifests loaded once by the directory source) and the zone compile. With
 * a query file, also times answering (parse + lookup + response, no syscalls) per query.
 *
 * usage: zone-build MANIFEST_DIR [ROUNDS [QUERYFILE]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/view.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lib/ip.h"

static double ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void answer_bench(const struct wf_dns_zone *z, const char *file)
{
	static uint8_t pkts[100000][300];
	static uint16_t lens[100000];
	static uint8_t out[4096];
	size_t n = 0;
	char line[512], name[300], type[16];
	FILE *f = fopen(file, "r");

	if (!f)
		return;
	while (n < 100000 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%299s %15s", name, type) != 2)
			continue;
		int l = wf_dns_wire_build_query(pkts[n], (uint16_t)n, name,
						strcmp(type, "SRV") == 0 ? 33 : 1, false, 1232);
		if (l > 0)
			lens[n++] = (uint16_t)l;
	}
	fclose(f);
	struct timespec c1, c2;
	size_t bytes = 0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	for (int rep = 0; rep < 10; rep++)
		for (size_t i = 0; i < n; i++) {
			struct wf_dns_query q;
			enum wf_dns_zone_result res;
			if (wf_dns_wire_parse_query(pkts[i], lens[i], &q) == 0)
				bytes += wf_dns_zone_answer(z, &q, out, 1232, &res);
		}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c2);
	printf("answering: %.0f ns of CPU per query (parse + lookup + response, %zu queries x 10, "
	       "%zu bytes)\n",
	       ms(&c1, &c2) * 1e6 / (double)(n * 10), n, bytes);
	/* the same in batches of 64 with prefetching, as the server's UDP path does */
	static struct wf_dns_query qs[64];
	uint64_t hs[64];
	int ok[64];
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	for (int rep = 0; rep < 10; rep++)
		for (size_t i = 0; i < n; i += 64) {
			size_t m = n - i < 64 ? n - i : 64;
			for (size_t k = 0; k < m; k++) {
				ok[k] = wf_dns_wire_parse_query(pkts[i + k], lens[i + k], &qs[k]) ==
					0;
				if (ok[k])
					hs[k] = wf_dns_zone_prefetch(z, &qs[k]);
			}
			for (size_t k = 0; k < m; k++)
				if (ok[k])
					wf_dns_zone_prefetch_node(z, hs[k]);
			for (size_t k = 0; k < m; k++) {
				enum wf_dns_zone_result res;
				if (ok[k])
					bytes += wf_dns_zone_answer_hashed(z, &qs[k], hs[k], out,
									   1232, &res);
			}
		}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c2);
	printf("answering in batches of 64 with prefetch: %.0f ns of CPU per query\n",
	       ms(&c1, &c2) * 1e6 / (double)(n * 10));
}

int main(int argc, char **argv)
{
	struct wf_dns_zone_config cfg = {
		.cluster_domain = "cluster.local", .ttl = 30, .pods = WF_DNS_PODS_INSECURE};
	struct wf_store *store;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;

	if (argc < 2 || wf_store_new(&store) < 0 ||
	    wf_source_load_paths(store, (const char *const *)&argv[1], 1, NULL, NULL, NULL) != 0) {
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
		struct wf_store_snapshot *snap;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		snap = wf_store_snapshot(store);
		if (wf_dns_view_from_snapshot(snap, false, &v) < 0)
			return 1;
		wf_store_snapshot_unref(snap);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		if (wf_dns_zone_build(&cfg, wf_dns_view_cluster(v), 1, &z, NULL) < 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t2);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c2);
		printf("round %d: view %.1f ms (%zu services), compile %.1f ms wall %.1f ms cpu "
		       "(%zu names, %zu bytes)\n",
		       r, ms(&t0, &t1), wf_dns_view_cluster(v)->n_services, ms(&t1, &t2),
		       ms(&c1, &c2), wf_dns_zone_node_count(z), wf_dns_zone_memory(z));
		if (argc > 3 && r == rounds - 1)
			answer_bench(z, argv[3]);
		wf_dns_zone_free(z);
		wf_dns_view_free(v);
	}
	wf_store_free(store);
	return 0;
}
