/* dns-mem: where weft dns's memory goes. Loads a manifest directory into a store as `weft dns`
 * does (the kinds DNS reads), builds the zone with the live updater, and prints the heap in
 * use (mallinfo2) after each step, with the store's objects, the zone and the updater's index
 * counted apart.
 *
 * usage: dns-mem MANIFEST_DIR [full]   (full: --rebuild full, no index) */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/live.h"
#include "dns/zone.h"
#include "k8s/object.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lib/arena.h"
#include "lib/ip.h"

static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

struct obj_stats {
	size_t n, used;
};

static int count_obj(void *userdata, const struct wf_k8s_object *obj)
{
	struct obj_stats *st = userdata;
	st->n++;
	st->used += wf_arena_used(obj->arena);
	return 0;
}

int main(int argc, char **argv)
{
	struct wf_store *store = NULL;
	struct wf_source_dir *src = NULL;
	struct wf_dns_live *live = NULL;
	struct wf_dns_zone *zone = NULL;
	struct wf_dns_zone_config zcfg = {
		.cluster_domain = "cluster.local",
		.ttl = 30,
		.pods = WF_DNS_PODS_INSECURE,
	};

	if (argc < 2) {
		fprintf(stderr, "usage: dns-mem MANIFEST_DIR [full]\n");
		return 2;
	}
	wf_cidr_parse("10.96.0.0/12", false, &zcfg.service_cidrs[0]);
	wf_cidr_parse("10.244.0.0/16", false, &zcfg.pod_cidrs[0]);
	zcfg.n_service_cidrs = zcfg.n_pod_cidrs = 1;

	size_t h0 = heap_used();
	if (wf_store_new(&store) < 0)
		return 1;
	struct wf_source_dir_config sc = {
		.store = store,
		.watch = true,
		.kinds = WF_SOURCE_KIND(WF_K8S_NAMESPACE) | WF_SOURCE_KIND(WF_K8S_SERVICE) |
			 WF_SOURCE_KIND(WF_K8S_ENDPOINTSLICE),
	};
	if (wf_source_dir_new(&sc, &src) < 0 || wf_source_dir_add(src, argv[1]) < 0)
		return 1;
	malloc_trim(0);
	size_t h1 = heap_used();

	struct wf_store_snapshot *snap = wf_store_snapshot(store);
	struct obj_stats os = {0};
	for (int k = 0; k < WF_K8S_KIND_COUNT; k++)
		wf_store_foreach(snap, (enum wf_k8s_kind)k, NULL, count_obj, &os);
	size_t n_svc = wf_store_count(snap, WF_K8S_SERVICE, NULL);

	if (wf_dns_live_new(&zcfg, &live) < 0)
		return 1;
	wf_dns_live_set_full_only(live, argc > 2 && strcmp(argv[2], "full") == 0);
	struct wf_dns_live_stats st;
	if (wf_dns_live_update(live, snap, 1, &zone, &st) < 0)
		return 1;
	wf_store_snapshot_unref(snap);
	malloc_trim(0);
	size_t h2 = heap_used();
	size_t zbytes = wf_dns_zone_memory(zone);
	double per = n_svc ? 1000.0 / (double)n_svc / 1048576.0 : 0;

	printf("services=%zu objects=%zu names=%zu\n", n_svc, os.n, wf_dns_zone_node_count(zone));
	if (h2 < h1 + zbytes || h1 < h0) {
		/* a sanitizer's allocator does not fill mallinfo2 */
		printf("mallinfo2 does not see this allocator: no heap figures (zone: %zu bytes)\n",
		       zbytes);
		h0 = h1 = h2 = 0;
		zbytes = 0;
	}
	printf("store+source: %zu bytes of heap (%.3f MiB per 1,000 Services); objects' arenas "
	       "hand out %zu bytes (%.0f per object)\n",
	       h1 - h0, (double)(h1 - h0) * per, os.used,
	       os.n ? (double)os.used / (double)os.n : 0);
	printf("zone: %zu bytes (%.3f MiB per 1,000 Services); updater index and the rest: %zu bytes "
	       "(%.3f MiB per 1,000)\n",
	       zbytes, (double)zbytes * per, h2 - h1 - zbytes, (double)(h2 - h1 - zbytes) * per);
	printf("heap total: %zu bytes, %.3f MiB per 1,000 Services\n", h2 - h0,
	       (double)(h2 - h0) * per);
	struct mallinfo2 mi = mallinfo2();
	printf("malloc: %zu bytes in use, %zu held from the system (the rest is free space the "
	       "allocator keeps)\n",
	       mi.uordblks + mi.hblkhd, mi.arena + mi.hblkhd);

	wf_dns_live_free(live);
	wf_dns_zone_free(zone);
	wf_source_dir_free(src);
	wf_store_free(store);
	return 0;
}
