/* Store benchmark: load a manifest tree into the store through the directory source, then
 * measure how long one changed file takes to reach the store (from the write to the event
 * delivered with the new snapshot, via inotify), and what one changed object costs in a full
 * store. Prints "key value" lines that bench/store/run.sh turns into a table.
 *
 *	store-bench DIR [ROUNDS]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "k8s/object.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lib/alloc.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0)
			v = strtol(line + n, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

struct watch_ev {
	double t_event;
	size_t modified;
};

static void on_event(void *ud, const struct wf_store_snapshot *snap,
		     const struct wf_store_event *ev, size_t n)
{
	struct watch_ev *w = ud;
	w->t_event = now_ms();
	for (size_t i = 0; i < n; i++)
		w->modified += ev[i].type == WF_STORE_MODIFIED;
}

static void on_error(void *ud, int err, const struct wf_diag *d)
{
	char buf[1024];
	fprintf(stderr, "store-bench: %s\n", wf_diag_format(d, buf, sizeof(buf)));
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	char *buf = malloc(*len + 1);
	if (fread(buf, 1, *len, f) != *len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Rewrites file (in place, or through a hidden temp file and rename(2) as editors do) with
 * the first occurrence of `from` replaced by `to`, and waits for the store to report it. */
static double change_once(struct wf_source_dir *src, struct watch_ev *w, const char *path,
			  const char *text, size_t len, const char *from, const char *to,
			  bool via_rename)
{
	const char *at = strstr(text, from);
	size_t fl = strlen(from), tl = strlen(to);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	char *slash = strrchr(tmp, '/');
	snprintf(slash + 1, sizeof(tmp) - (size_t)(slash + 1 - tmp), ".bench.tmp");

	size_t before = w->modified;
	double t0 = now_ms();
	int fd = open(via_rename ? tmp : path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
	if (fd == -1 || write(fd, text, (size_t)(at - text)) < 0 || write(fd, to, tl) < 0 ||
	    write(fd, at + fl, len - (size_t)(at - text) - fl) < 0 || close(fd) == -1) {
		perror("store-bench: write");
		exit(1);
	}
	if (via_rename && rename(tmp, path) == -1) {
		perror("store-bench: rename");
		exit(1);
	}
	while (w->modified == before) {
		struct pollfd pfd = {wf_source_dir_fd(src), POLLIN, 0};
		if (poll(&pfd, 1, 2000) <= 0) {
			fprintf(stderr, "store-bench: no event for %s\n", path);
			exit(1);
		}
		wf_source_dir_process(src);
	}
	return w->t_event - t0;
}

static void latency(struct wf_source_dir *src, struct watch_ev *w, const char *dir,
		    const char *file, const char *from, const char *to, bool via_rename, int rounds,
		    const char *label)
{
	double *ms = calloc((size_t)rounds, sizeof(*ms));
	for (int i = 0; i < rounds; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/ns-%03d/%s", dir, i % 100, file);
		size_t len;
		char *text = slurp(path, &len);
		if (!text || !strstr(text, from)) {
			fprintf(stderr, "store-bench: %s lacks '%s'\n", path, from);
			exit(1);
		}
		ms[i] = change_once(src, w, path, text, len, from, to, via_rename);
		/* put it back (not measured) */
		char *now = slurp(path, &len);
		change_once(src, w, path, now, len, to, from, false);
		free(now);
		free(text);
	}
	qsort(ms, (size_t)rounds, sizeof(*ms), cmp_double);
	printf("%s_p50_ms %.2f\n", label, ms[rounds / 2]);
	printf("%s_p90_ms %.2f\n", label, ms[rounds * 9 / 10]);
	printf("%s_max_ms %.2f\n", label, ms[rounds - 1]);
	free(ms);
}

/* One changed object in the full store: a batch with one put, timed and counted in
 * allocations (the persistent maps copy a path, not the map). */
static void one_object(struct wf_store *store, int rounds)
{
	double total = 0;
	unsigned long allocs = 0;
	for (int i = 0; i < rounds; i++) {
		char doc[512];
		int n = snprintf(
			doc, sizeof(doc),
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: svc-%03d-%04d\n"
			"  namespace: ns-%03d\n  labels: {app: svc-%03d, moved: \"%d\"}\n"
			"spec:\n  nodeName: node-001\n  containers: [{name: a, image: x}]\n",
			i % 100, i % 1000, i % 100, i % 100, i);
		struct wf_k8s_parse_result res;
		if (wf_k8s_parse(doc, (size_t)n, "bench", &res, NULL) != 1) {
			fprintf(stderr, "store-bench: parse failed\n");
			exit(1);
		}
		struct wf_store_batch *b;
		wf_alloc_fail_at(0);
		unsigned long a0 = wf_alloc_count();
		double t0 = now_ms();
		if (wf_store_batch_begin(store, &b) < 0 ||
		    wf_store_batch_put(b, res.objects[0]) < 0 || wf_store_batch_commit(b) < 0) {
			fprintf(stderr, "store-bench: batch failed\n");
			exit(1);
		}
		total += now_ms() - t0;
		allocs += wf_alloc_count() - a0;
		wf_k8s_parse_result_done(&res);
	}
	printf("one_object_us %.2f\n", total * 1e3 / rounds);
	printf("one_object_allocs %.1f\n", (double)allocs / rounds);
}

/* The store's share of a load: the same objects put into a fresh store in batches of 250, as
 * the source does per file (measurement only: the objects' resource versions are rewritten,
 * which is fine with no reader around). */
static void store_only(const struct wf_store_snapshot *snap)
{
	struct wf_store *s2;
	if (wf_store_new(&s2) < 0)
		exit(1);
	double total = 0;
	for (int k = 0; k < WF_K8S_KIND_COUNT; k++) {
		const struct wf_k8s_object **objs;
		ssize_t n = wf_store_list(snap, (enum wf_k8s_kind)k, NULL, &objs);
		for (ssize_t i = 0; i < n; i += 250) {
			struct wf_store_batch *b;
			double t0 = now_ms();
			if (wf_store_batch_begin(s2, &b) < 0)
				exit(1);
			for (ssize_t j = i; j < n && j < i + 250; j++)
				if (wf_store_batch_put(b, (struct wf_k8s_object *)objs[j]) < 0)
					exit(1);
			if (wf_store_batch_commit(b) < 0)
				exit(1);
			total += now_ms() - t0;
		}
		wf_free(objs);
	}
	printf("store_insert_ms %.0f\n", total);
	wf_store_free(s2);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: store-bench DIR [ROUNDS]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 50;
	struct wf_store *store;
	struct wf_source_dir *src;
	struct watch_ev w = {0};

	if (wf_store_new(&store) < 0)
		return 1;
	struct wf_source_dir_config cfg = {
		.store = store, .watch = true, .on_error = on_error, .userdata = NULL};
	if (wf_source_dir_new(&cfg, &src) < 0)
		return 1;

	double t0 = now_ms();
	int r = wf_source_dir_add(src, argv[1]);
	double t1 = now_ms();
	if (r != 0) {
		fprintf(stderr, "store-bench: load failed (%d)\n", r);
		return 1;
	}
	struct wf_source_dir_stats st;
	wf_source_dir_get_stats(src, &st);
	struct wf_store_snapshot *snap = wf_store_snapshot(store);
	printf("load_ms %.0f\n", t1 - t0);
	printf("objects %zu\n", st.objects);
	printf("files %zu\n", st.files);
	printf("services %zu\n", wf_store_count(snap, WF_K8S_SERVICE, NULL));
	printf("endpointslices %zu\n", wf_store_count(snap, WF_K8S_ENDPOINTSLICE, NULL));
	printf("pods %zu\n", wf_store_count(snap, WF_K8S_POD, NULL));
	printf("rss_mb %.0f\n", rss_kb("VmRSS:") / 1024.0);
	printf("peak_rss_mb %.0f\n", rss_kb("VmHWM:") / 1024.0);
	store_only(snap);
	wf_store_snapshot_unref(snap);

	wf_store_subscribe(store, on_event, &w);
	latency(src, &w, argv[1], "services.yaml", "targetPort: 8080", "targetPort: 8081", false,
		rounds, "change_services_file");
	latency(src, &w, argv[1], "pods-1.yaml", "image: registry", "image: mirror.ex", false,
		rounds, "change_pods_file");
	latency(src, &w, argv[1], "services.yaml", "targetPort: 8080", "targetPort: 8081", true,
		rounds, "rename_services_file");
	one_object(store, rounds * 20);

	wf_source_dir_free(src);
	wf_store_free(store);
	return 0;
}
