/* weft get: output formats. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "k8s/object-types.h"

#define WF_CLI_MAX_COLS 12

/* A text table printed kubectl-style: columns padded to their widest cell, 3 spaces apart. */
struct wf_cli_table {
	size_t ncols;
	size_t nrows;
	size_t cap;
	char **cells; /* nrows x ncols, owned */
};

int wf_cli_table_init(struct wf_cli_table *t, size_t ncols, const char *const *headers);
/* Copies ncols cells (NULL = ""). Returns 0 or -ENOMEM. */
int wf_cli_table_row(struct wf_cli_table *t, const char *const *cells);
void wf_cli_table_print(const struct wf_cli_table *t, FILE *out);
void wf_cli_table_done(struct wf_cli_table *t);

struct wf_cli_get_opts {
	bool wide;
	bool show_namespace; /* NAMESPACE column (-A) */
	bool kind_prefix;    /* NAME as "service/web" (several kinds at once) */
};

/* Prints objs (all of kind) as a table. Returns 0 or -ENOMEM. */
int wf_cli_get_table(enum wf_k8s_kind kind, const struct wf_k8s_object *const *objs, size_t n,
		     const struct wf_cli_get_opts *opts, FILE *out);

/* Prints objs as JSON (yaml == false) or YAML: one object as itself, several as a v1 List,
 * as kubectl does. The fields are what weft understood, defaults included. Returns 0 or
 * -ENOMEM. */
int wf_cli_get_dump(const struct wf_k8s_object *const *objs, size_t n, bool yaml, FILE *out);
