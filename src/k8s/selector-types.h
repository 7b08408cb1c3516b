/* Label maps and label selectors (metav1.LabelSelector and the Service-style map selector). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct wf_k8s_label {
	const char *key;
	const char *value;
};

/* A string map (labels, annotations, a Service selector): n entries sorted by key (strcmp),
 * keys unique. Empty map: n == 0, items == NULL. */
struct wf_k8s_map {
	size_t n;
	const struct wf_k8s_label *items;
};

enum wf_k8s_selector_op {
	WF_K8S_SEL_IN,
	WF_K8S_SEL_NOT_IN,
	WF_K8S_SEL_EXISTS,
	WF_K8S_SEL_DOES_NOT_EXIST,
};

struct wf_k8s_selector_req {
	const char *key;
	enum wf_k8s_selector_op op;
	size_t n_values; /* > 0 for In/NotIn, 0 for Exists/DoesNotExist */
	const char **values;
};

/* metav1.LabelSelector. present == false is the null selector, which matches nothing; a present
 * selector with no labels and no expressions ({}) matches everything. Requirements are ANDed;
 * matchLabels k: v is the requirement k In (v). */
struct wf_k8s_selector {
	bool present;
	struct wf_k8s_map match_labels;
	size_t n_exprs;
	const struct wf_k8s_selector_req *exprs;
};
