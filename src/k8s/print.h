/* kubectl's presentation of objects: the tables of `kubectl get` (and -o wide), AGE, the
 * READY/STATUS/RESTARTS of a pod, and YAML as `kubectl get -o yaml` lays it out. `weft get`
 * (manifests) and `weft lab get|status` (the lab's objects) print through this one module, so
 * both show what the object model understood, in kubectl's columns
 * (k8s.io/kubernetes pkg/printers/internalversion/printers.go).
 *
 * Thread context: none shared; every call is independent. Output goes to a caller's FILE. */
#pragma once
#include <jansson.h>
#include <stdio.h>

#include "k8s/object-types.h"
#include "k8s/print-types.h"

/* A table with ncols columns and the header row. Returns 0 or -ENOMEM (t is then empty, and
 * wf_k8s_print_table_done() may still be called). */
int wf_k8s_print_table_init(struct wf_k8s_print_table *t, size_t ncols, const char *const *headers);
/* Appends a row: copies ncols cells (NULL prints as ""). Returns 0 or -ENOMEM. */
int wf_k8s_print_table_row(struct wf_k8s_print_table *t, const char *const *cells);
void wf_k8s_print_table_write(const struct wf_k8s_print_table *t, FILE *out);
/* Frees the cells; t is zeroed. */
void wf_k8s_print_table_done(struct wf_k8s_print_table *t);

/* Prints objs[0..n) (all of kind, in the order given) as `kubectl get KIND` does: header,
 * then one row each. Returns 0 or -ENOMEM. */
int wf_k8s_print_objects(enum wf_k8s_kind kind, const struct wf_k8s_object *const *objs, size_t n,
			 const struct wf_k8s_print_opts *opts, FILE *out);

/* The age of something made at Unix time ts, seen at now, as kubectl writes it
 * (apimachinery duration.HumanDuration: "45s", "3m20s", "5h12m", "2d4h", "3y"); "<unknown>"
 * when ts is 0 (unset), "<invalid>" when ts is more than a second in the future. Returns buf. */
const char *wf_k8s_print_age(int64_t ts, int64_t now, char buf[WF_K8S_PRINT_AGE_MAX]);

/* READY, STATUS and RESTARTS of pod (a Pod object), as printPod computes them from
 * status.containerStatuses, status.reason, status.phase and metadata.deletionTimestamp. */
void wf_k8s_pod_summary(const struct wf_k8s_object *pod, struct wf_k8s_pod_summary *ret);

/* Writes v as block YAML in kubectl's layout (two-space indent, sequences flush with their
 * key), quoting every string a YAML 1.1 reader would take for something else, so that what
 * it prints reads back (wf_yj_load, kubectl) as the same value. */
void wf_k8s_print_yaml(FILE *out, const json_t *v);
