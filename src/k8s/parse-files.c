/* Parallel parse of many manifest files: workers take the next file from an atomic index. */
#include "k8s/parse-files.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 16

struct job {
	const char *const *paths;
	size_t n;
	struct wf_k8s_file_result *results;
	atomic_size_t next;
};

static void *worker(void *arg)
{
	struct job *job = arg;
	size_t i;

	/* Each file is parsed by one thread into its own slot: no locks, no shared state. */
	while ((i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed)) < job->n) {
		struct wf_k8s_file_result *fr = &job->results[i];
		memset(fr, 0, sizeof(*fr));
		fr->r = wf_k8s_parse_file(job->paths[i], &fr->res, &fr->diag);
	}
	return NULL;
}

size_t wf_k8s_parse_files(const char *const *paths, size_t n, unsigned threads,
			  struct wf_k8s_file_result *results)
{
	struct job job = {.paths = paths, .n = n, .results = results};
	pthread_t tids[MAX_THREADS];
	size_t started = 0, failed = 0;

	if (threads == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 1 ? (unsigned)(cpus < MAX_THREADS ? cpus : MAX_THREADS) : 1;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads > n)
		threads = (unsigned)n;
	atomic_init(&job.next, 0);
	/* The calling thread is one of the workers. */
	for (; started + 1 < threads; started++)
		if (pthread_create(&tids[started], NULL, worker, &job) != 0)
			break;
	worker(&job);
	for (size_t t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	for (size_t i = 0; i < n; i++)
		failed += results[i].r < 0;
	return failed;
}

void wf_k8s_file_results_done(struct wf_k8s_file_result *results, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (results[i].r >= 0)
			wf_k8s_parse_result_done(&results[i].res);
		results[i].r = 0;
		memset(&results[i].res, 0, sizeof(results[i].res));
	}
}
