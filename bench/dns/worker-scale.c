/* worker-scale: does the answering path scale with cores? Runs the UDP worker's per-query work
 * (parse, batch prefetch, lookup, answer, rcode counts, per-batch metric updates under an RCU
 * read of the published zone, as src/dns/server.c does) in 1..N threads at once, each pinned
 * to its own CPU, without sockets, and prints each thread's queries per CPU-second. If the
 * path wrote anything shared per query, threads running at once would slow each other down
 * (cache lines bouncing between cores); flat figures show they do not.
 *
 * A control proves the method can see contention: with "shared", every query also increments
 * one counter shared by all threads (what a global stats counter would do).
 *
 * usage: worker-scale MANIFEST_DIR QUERYFILE [THREADS [SECONDS [shared]]] */
#define _LGPL_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-qsbr.h>

#include "dns/view.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lib/ip.h"
#include "lib/metrics.h"

#define BATCH 64
#define MAX_Q 100000
#define MAX_THREADS 64

static uint8_t pkts[MAX_Q][300];
static uint16_t lens[MAX_Q];
static size_t n_pkts;
static struct wf_dns_zone *zone; /* published as the server publishes it */
static struct wf_metric *m_req, *m_rc[3], *m_lat;
static atomic_bool go, stop;
static bool shared_counter;
static _Alignas(64) atomic_ulong shared_queries;

struct thread {
	pthread_t t;
	unsigned idx;
	unsigned long queries;
	double cpu_s;
	uint64_t bytes;
};

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	struct thread *th = arg;
	static _Thread_local struct wf_dns_query qs[BATCH];
	static _Thread_local uint8_t out[BATCH][1232];
	uint64_t hs[BATCH];
	int ok[BATCH];
	uint64_t rc[3] = {0};
	size_t i = (th->idx * 7919) % n_pkts; /* threads start at different queries */

	urcu_qsbr_register_thread();
	while (!atomic_load(&go))
		;
	double c0 = cpu_now();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		const struct wf_dns_zone *z = rcu_dereference(zone);
		for (int k = 0; k < BATCH; k++) {
			size_t j = (i + (size_t)k) % n_pkts;
			ok[k] = wf_dns_wire_parse_query(pkts[j], lens[j], &qs[k]) == 0;
			if (ok[k])
				hs[k] = wf_dns_zone_prefetch(z, &qs[k]);
		}
		for (int k = 0; k < BATCH; k++)
			if (ok[k])
				wf_dns_zone_prefetch_node(z, hs[k]);
		for (int k = 0; k < BATCH; k++) {
			enum wf_dns_zone_result res;
			if (!ok[k])
				continue;
			size_t l = wf_dns_zone_answer_hashed(z, &qs[k], hs[k], out[k], 1232, &res);
			th->bytes += l;
			rc[(out[k][3] & 0x0f) == 3 ? 1 : (out[k][3] & 0x0f) == 0 ? 0 : 2]++;
			if (shared_counter)
				atomic_fetch_add_explicit(&shared_queries, 1, memory_order_relaxed);
		}
		i = (i + BATCH) % n_pkts;
		th->queries += BATCH;
		/* per batch, as the server's flush_counts and latency histogram do */
		wf_metric_add(m_req, th->idx, BATCH);
		for (int r = 0; r < 3; r++)
			if (rc[r])
				wf_metric_add(m_rc[r], th->idx, rc[r]);
		memset(rc, 0, sizeof(rc));
		wf_metric_observe(m_lat, th->idx, 0.0001, BATCH);
		urcu_qsbr_quiescent_state();
	}
	th->cpu_s = cpu_now() - c0;
	urcu_qsbr_unregister_thread();
	return NULL;
}

static void load_queries(const char *file)
{
	char line[512], name[300], type[16];
	FILE *f = fopen(file, "r");

	while (f && n_pkts < MAX_Q && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%299s %15s", name, type) != 2)
			continue;
		int l = wf_dns_wire_build_query(pkts[n_pkts], (uint16_t)n_pkts, name,
						strcmp(type, "SRV") == 0 ? 33 : 1, false, 1232);
		if (l > 0)
			lens[n_pkts++] = (uint16_t)l;
	}
	if (f)
		fclose(f);
}

/* Runs n threads at once for secs; prints one line per thread and the total. */
static double run_threads(unsigned n, double secs)
{
	struct thread th[MAX_THREADS] = {0};
	unsigned long total = 0;
	double cpu = 0;

	atomic_store(&go, false);
	atomic_store(&stop, false);
	for (unsigned i = 0; i < n; i++) {
		th[i].idx = i;
		pthread_create(&th[i].t, NULL, run, &th[i]);
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(i, &set);
		pthread_setaffinity_np(th[i].t, sizeof(set), &set);
	}
	atomic_store(&go, true);
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < n; i++) {
		pthread_join(th[i].t, NULL);
		printf("  threads=%u thread=%u queries=%lu cpu_s=%.2f q_per_cpu_s=%.0f\n", n, i,
		       th[i].queries, th[i].cpu_s, (double)th[i].queries / th[i].cpu_s);
		total += th[i].queries;
		cpu += th[i].cpu_s;
	}
	printf("  threads=%u total queries=%lu cpu_s=%.2f q_per_cpu_s=%.0f qps=%.0f\n", n, total,
	       cpu, (double)total / cpu, (double)total / secs);
	return (double)total / cpu;
}

int main(int argc, char **argv)
{
	struct wf_dns_zone_config cfg = {
		.cluster_domain = "cluster.local", .ttl = 30, .pods = WF_DNS_PODS_INSECURE};
	struct wf_store *store;
	struct wf_metrics *metrics;
	unsigned max_threads = argc > 3 ? (unsigned)atoi(argv[3]) : 2;
	double secs = argc > 4 ? atof(argv[4]) : 3;

	shared_counter = argc > 5 && strcmp(argv[5], "shared") == 0;
	if (argc < 3 || max_threads < 1 || max_threads > MAX_THREADS || wf_store_new(&store) < 0 ||
	    wf_source_load_paths(store, (const char *const *)&argv[1], 1, NULL, NULL, NULL) != 0) {
		fprintf(stderr,
			"usage: worker-scale MANIFEST_DIR QUERYFILE [THREADS [SECONDS [shared]]]\n");
		return 2;
	}
	wf_cidr_parse("10.96.0.0/12", true, &cfg.service_cidrs[0]);
	wf_cidr_parse("10.244.0.0/16", true, &cfg.pod_cidrs[0]);
	cfg.n_service_cidrs = cfg.n_pod_cidrs = 1;
	struct wf_store_snapshot *snap = wf_store_snapshot(store);
	struct wf_dns_view *v;
	struct wf_dns_zone *z;
	if (wf_dns_view_from_snapshot(snap, false, &v) < 0 ||
	    wf_dns_zone_build(&cfg, wf_dns_view_cluster(v), 1, &z, NULL) < 0)
		return 1;
	wf_store_snapshot_unref(snap);
	wf_dns_view_free(v);
	rcu_assign_pointer(zone, z);
	load_queries(argv[2]);
	if (n_pkts == 0 || wf_metrics_new(max_threads, &metrics) < 0)
		return 1;
	static const double bounds[] = {0.00001, 0.0001, 0.001, 0.01, 0.1};
	m_req = wf_metrics_counter(metrics, "req", NULL, "");
	m_rc[0] = wf_metrics_counter(metrics, "rc", "rcode=\"NOERROR\"", "");
	m_rc[1] = wf_metrics_counter(metrics, "rc", "rcode=\"NXDOMAIN\"", "");
	m_rc[2] = wf_metrics_counter(metrics, "rc", "rcode=\"OTHER\"", "");
	m_lat = wf_metrics_histogram(metrics, "lat", NULL, "", bounds, 5);

	printf("worker-scale: %zu queries, zone of %zu names, %.1f s per run%s\n", n_pkts,
	       wf_dns_zone_node_count(z), secs,
	       shared_counter ? ", control: one counter shared by every thread" : "");
	double one = run_threads(1, secs);
	for (unsigned n = 2; n <= max_threads; n++) {
		double many = run_threads(n, secs);
		printf("  %u threads vs 1: queries per CPU-second %.2f\n", n, many / one);
	}
	wf_metrics_free(metrics);
	wf_dns_zone_free(z);
	wf_store_free(store);
	return 0;
}
