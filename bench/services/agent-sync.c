/* proxy-agent-bench: the agent's service proxy path for one EndpointSlice change, end to end -
 * from wf_store_batch_commit() of the changed slice, through the store's events and the proxy
 * reconciler's sync, to the data plane (the nft backend, in the netns the caller made) or to
 * the fake backend (the user-space part alone).
 *
 *   proxy-agent-bench MANIFEST CHANGES nft|fake
 *
 * MANIFEST is gen.py's weft.yaml (Service svc-<i> in namespace bench, EndpointSlice svc-<i>-x).
 * Each change moves endpoint 0 of one service (spread over all of them) to a fresh address.
 * The store's events reach the reconciler the way src/agent/agent.c hands them over. Prints
 * the first (full) sync and p50/p90/max of the changes, in microseconds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent-types.h"
#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "proxy/reconciler.h"

struct bench {
	const struct wf_agent_reconciler_ops *ops;
	void *state;
};

/* What agent.c's store subscription does for a reconciler that takes events. */
static void on_store(void *ud, const struct wf_store_snapshot *snap,
		     const struct wf_store_event *ev, size_t n)
{
	struct bench *b = ud;

	if (b->ops->changes)
		b->ops->changes(b->state, snap, ev, n);
}

static int put_all(struct wf_store *s, struct wf_k8s_parse_result *res)
{
	struct wf_store_batch *b;
	int r = wf_store_batch_begin(s, &b);

	for (size_t i = 0; !r && i < res->n_objects; i++)
		r = wf_store_batch_put(b, res->objects[i]);
	if (r < 0) {
		wf_store_batch_abort(b);
		return r;
	}
	return wf_store_batch_commit(b);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The slice of svc-<i> as gen.py writes it, endpoint 0 moved to a per-change address. */
static int changed_slice(size_t i, size_t k, struct wf_k8s_parse_result *res)
{
	char doc[2048];
	size_t n_eps = 2 + (i * 7919) % 9, off;
	struct wf_diag d;

	off = (size_t)snprintf(doc, sizeof(doc),
			       "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			       "metadata:\n  name: svc-%zu-x\n  namespace: bench\n"
			       "  labels: {kubernetes.io/service-name: svc-%zu}\n"
			       "addressType: IPv4\nports: [{name: http, port: 8080}]\nendpoints:\n",
			       i, i);
	for (size_t j = 0; j < n_eps; j++) {
		size_t a = i * 10 + j;

		if (j == 0)
			off += (size_t)snprintf(
				doc + off, sizeof(doc) - off,
				"- {addresses: [10.251.%zu.%zu], nodeName: node-1}\n",
				(k >> 8) & 255, k & 255);
		else
			off += (size_t)snprintf(
				doc + off, sizeof(doc) - off,
				"- {addresses: [10.250.%zu.%zu], nodeName: node-1}\n",
				(a >> 8) & 255, a & 255);
	}
	return wf_k8s_parse(doc, off, "change.yaml", res, &d);
}

int main(int argc, char **argv)
{
	struct wf_agent_config cfg = {.node_name = "node-1"};
	struct wf_k8s_parse_result res = {0};
	struct bench b = {0};
	struct wf_store *store;
	struct wf_store_snapshot *snap;
	struct wf_diag d;
	char err[256] = "";
	size_t n_svcs = 0, changes;
	uint64_t t0, t1, first, *dt, *dc;
	int r;

	if (argc != 4 || (strcmp(argv[3], "nft") && strcmp(argv[3], "fake"))) {
		fprintf(stderr, "usage: %s MANIFEST CHANGES nft|fake\n", argv[0]);
		return 2;
	}
	changes = (size_t)strtoul(argv[2], NULL, 10);
	b.ops = strcmp(argv[3], "nft") ? &wf_proxy_agent_reconciler_fake
				       : &wf_proxy_agent_reconciler;
	if (wf_k8s_parse_file(argv[1], &res, &d) < 0) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 1;
	}
	for (size_t i = 0; i < res.n_objects; i++)
		n_svcs += res.objects[i]->kind == WF_K8S_SERVICE;
	dt = calloc(changes ? changes : 1, sizeof(*dt));
	dc = calloc(changes ? changes : 1, sizeof(*dc));
	if (!dt || !dc || !n_svcs || wf_store_new(&store) < 0)
		return 1;
	r = b.ops->init(&cfg, NULL, &b.state);
	if (r < 0) {
		fprintf(stderr, "init: %s\n", wf_strerror(r));
		return 1;
	}
	if (wf_store_subscribe(store, on_store, &b) < 0 || put_all(store, &res) < 0)
		return 1;
	wf_k8s_parse_result_done(&res);
	t0 = wf_now_ns();
	snap = wf_store_snapshot(store);
	r = b.ops->sync(b.state, snap, err, sizeof(err));
	wf_store_snapshot_unref(snap);
	first = wf_now_ns() - t0;
	if (r < 0) {
		fprintf(stderr, "first sync: %s\n", err);
		return 1;
	}
	for (size_t k = 0; k < changes; k++) {
		struct wf_k8s_parse_result c = {0};
		size_t i = (k * 7919 + n_svcs / 2) % n_svcs;

		if (changed_slice(i, k + 1, &c) < 0)
			return 1;
		t0 = wf_now_ns();
		r = put_all(store, &c);
		t1 = wf_now_ns();
		snap = wf_store_snapshot(store);
		if (!r)
			r = b.ops->sync(b.state, snap, err, sizeof(err));
		wf_store_snapshot_unref(snap);
		dt[k] = wf_now_ns() - t0;
		dc[k] = t1 - t0;
		wf_k8s_parse_result_done(&c);
		if (r < 0) {
			fprintf(stderr, "change %zu: %s\n", k, err[0] ? err : wf_strerror(r));
			return 1;
		}
	}
	qsort(dt, changes, sizeof(*dt), u64_cmp);
	qsort(dc, changes, sizeof(*dc), u64_cmp);
	/* commit: the store's own part (begin, put, commit with its events to the reconciler). */
	printf("backend=%s services=%zu first_sync_us=%llu changes=%zu p50_us=%.1f p90_us=%.1f "
	       "max_us=%.1f commit_p50_us=%.1f commit_p90_us=%.1f\n",
	       argv[3], n_svcs, (unsigned long long)(first / 1000), changes,
	       changes ? dt[changes / 2] / 1e3 : 0, changes ? dt[changes * 9 / 10] / 1e3 : 0,
	       changes ? dt[changes - 1] / 1e3 : 0, changes ? dc[changes / 2] / 1e3 : 0,
	       changes ? dc[changes * 9 / 10] / 1e3 : 0);
	b.ops->done(b.state);
	wf_store_free(store);
	free(dt);
	free(dc);
	return 0;
}
