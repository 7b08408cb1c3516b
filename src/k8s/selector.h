/* Label maps and selectors: lookup, matching with Kubernetes semantics, key/value syntax
 * checks. Pure functions over immutable data; thread-safe; no allocation. */
#pragma once
#include <stdbool.h>

#include "k8s/selector-types.h"

/* Value of key in m (binary search), or NULL. */
const char *wf_k8s_map_get(const struct wf_k8s_map *m, const char *key);

/* Does sel select an object with these labels? Null selector: false. {}: true.
 * In: key present and value listed. NotIn: key absent, or value not listed (an object without
 * the key matches). Exists / DoesNotExist: presence of the key. */
bool wf_k8s_selector_matches(const struct wf_k8s_selector *sel, const struct wf_k8s_map *labels);

/* Service-style selector (a plain map, every pair must be present and equal). The empty map
 * matches everything: callers check wf_k8s_service.has_selector first. */
bool wf_k8s_map_matches(const struct wf_k8s_map *sel, const struct wf_k8s_map *labels);

/* Syntax checks as the API server does them (apimachinery validation). Each returns NULL when
 * valid, else a static message such as "must be no more than 63 characters".
 * Label key: [prefix/]name, prefix a DNS-1123 subdomain of at most 253 characters, name a
 * qualified name ([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63). */
const char *wf_k8s_check_label_key(const char *key);
/* Label value: empty, or a qualified name without prefix (at most 63 characters). */
const char *wf_k8s_check_label_value(const char *value);
/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
const char *wf_k8s_check_dns_label(const char *s);
/* DNS-1123 subdomain: dot-separated labels, at most 253. */
const char *wf_k8s_check_dns_subdomain(const char *s);
/* IANA_SVC_NAME (named ports): at most 15, [a-z0-9-], at least one letter, no leading,
 * trailing or doubled '-'. */
const char *wf_k8s_check_port_name(const char *s);
