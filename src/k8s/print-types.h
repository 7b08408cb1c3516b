/* kubectl's presentation of objects (print.h): the table, the options of a listing, and the
 * summary of a pod that its READY, STATUS and RESTARTS columns show. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WF_K8S_PRINT_MAX_COLS 12
/* Room for an AGE cell ("<invalid>", "3m20s", "7y364d"; two 64-bit numbers at most). */
#define WF_K8S_PRINT_AGE_MAX 48

/* A text table printed as kubectl prints one: columns padded to their widest cell, three
 * spaces apart, the last one unpadded. */
struct wf_k8s_print_table {
	size_t ncols;
	size_t nrows;
	size_t cap;
	char **cells; /* nrows x ncols, owned */
};

struct wf_k8s_print_opts {
	bool wide;	     /* -o wide: kubectl's extra columns */
	bool show_namespace; /* NAMESPACE column first (-A), for namespaced kinds */
	bool kind_prefix;    /* NAME as "service/web" (several kinds in one listing) */
	int64_t now;	     /* Unix seconds that AGE counts to; 0 = the current time */
};

/* What `kubectl get pods` shows of a pod (printers.go printPod). */
struct wf_k8s_pod_summary {
	size_t ready; /* containers ready and running */
	size_t total; /* spec.containers */
	int64_t restarts;
	int64_t last_restart; /* Unix seconds of the latest lastState.terminated.finishedAt */
	char status[64];      /* reason, phase, "Terminating"... */
};
