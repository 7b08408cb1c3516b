/* `weft render proxy -f PATH... [--node NAME] [--node-ip IP]... [--cluster-cidr CIDR]...`:
 * prints the nftables ruleset that a set of manifests yields on one node.
 *
 * Thread context: a command's main; single-threaded. */
#pragma once
#include <stddef.h>

#include "k8s/object-types.h"

/* argv[0] is "proxy" (the word after "render"). Returns the process exit status: 0, 1 on bad
 * input (with a "file:line:col: msg" diagnostic on stderr), 2 on bad usage. */
int wf_proxy_cmd_render(int argc, char **argv);

/* Loads every manifest named by paths (files, or directories: their *.yaml, *.yml and *.json
 * files in name order) into one growing array of objects (*objs, *n; each holds a reference:
 * release with wf_proxy_objects_free). Prints a diagnostic on stderr and returns -errno or
 * -WF_E_* on the first bad file. */
int wf_proxy_load_manifests(char *const *paths, size_t n_paths, struct wf_k8s_object ***objs,
			    size_t *n);
void wf_proxy_objects_free(struct wf_k8s_object **objs, size_t n);

/* A scriptable driver over the real engine and nft backend, for end-to-end tests, benchmarks
 * and debugging: `ARGS` are the render options without -f; then commands are read from stdin,
 * one per line:
 *   apply PATH...   load the manifests (files or directories), build the model, sync it
 *   echo TEXT       print TEXT (a marker for scripts)
 * After each apply prints one line: "ok kind=full|block|nl|none ms=F ... tx=N max_tx_ms=F" or
 * "error: ...". Returns 0 at end of input, 1 when an apply failed. */
int wf_proxy_cmd_apply(int argc, char **argv);

/* `weft render WHAT ...`: argv[0] is "render", argv[1] names the ruleset. "proxy" runs
 * wf_proxy_cmd_render; other rulesets (policy) are not rendered here. Exit status as above. */
int wf_proxy_render_main(int argc, char **argv);
