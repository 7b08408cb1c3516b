/* Parsing many manifest files at once, on a small pool of threads (one per online CPU).
 *
 * Thread context: the call blocks until every file is parsed; it starts and joins its own
 * threads and the calling thread works too. Objects are refcounted atomically, so the results
 * may be used from any thread afterwards. */
#pragma once
#include <stddef.h>

#include "k8s/object.h"
#include "lib/diag.h"

struct wf_k8s_file_result {
	int r;				/* wf_k8s_parse_file()'s return: object count or -errno */
	struct wf_k8s_parse_result res; /* valid when r >= 0 */
	struct wf_diag diag;		/* valid when r < 0 */
};

/* Parses paths[0..n) with wf_k8s_parse_file() and fills results[i] for paths[i], exactly as a
 * serial loop would (same objects, same diagnostics), whatever the order the threads finish
 * in. threads: 0 = one per online CPU; never more than n. If threads cannot be started the
 * calling thread parses the rest alone. Returns the number of files that failed (0 = all
 * parsed); release with wf_k8s_file_results_done(). */
size_t wf_k8s_parse_files(const char *const *paths, size_t n, unsigned threads,
			  struct wf_k8s_file_result *results);

/* Releases the parse results of results[0..n) (the objects unless the caller took refs). */
void wf_k8s_file_results_done(struct wf_k8s_file_result *results, size_t n);
