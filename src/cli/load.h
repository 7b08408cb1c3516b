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

/* The loading step of a one-shot command: a usage error when p is empty, else a new store with
 * the paths loaded (wf_cli_load, errors printed to out). Returns WF_CLI_EXIT_OK with *ret_store
 * (the caller frees it), *ret_stats and *ret_errors set; otherwise the exit status, with the
 * message printed ("weft CMD: Cannot allocate memory" on -ENOMEM). */
int wf_cli_load_new(const char *cmd, const char *usage, const struct wf_cli_paths *p, FILE *out,
		    struct wf_store **ret_store, struct wf_source_dir_stats *ret_stats,
		    size_t *ret_errors);
