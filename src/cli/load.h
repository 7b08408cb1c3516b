/* Loading manifests for one-shot commands (validate, get, render...). */
#pragma once
#include <stdio.h>

#include "k8s/source-dir.h"
#include "k8s/store-types.h"

struct wf_cli_paths {
	char **paths; /* borrowed from argv */
	size_t n;
	size_t cap;
};

/* Appends path (borrowed). Returns 0 or -ENOMEM. */
int wf_cli_paths_add(struct wf_cli_paths *p, char *path);
void wf_cli_paths_done(struct wf_cli_paths *p);

/* Loads the paths into store, printing each error to out as "file:line:col: path: reason".
 * Fills *ret_stats; *ret_errors is the number of errors printed. Returns 0 or -ENOMEM. */
int wf_cli_load(struct wf_store *store, const struct wf_cli_paths *p, FILE *out,
		struct wf_source_dir_stats *ret_stats, size_t *ret_errors);
