/* Kubernetes objects: parse manifests (YAML, multi-document, Lists, JSON) into typed, immutable,
 * refcounted objects; kinds; keys; condition helpers.
 *
 * Thread context: parsing is independent per call (no shared state). An object is immutable
 * after parse (except resource_version, written once by the store before publication), so any
 * number of threads may read it; ref/unref are atomic. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/object-types.h"
#include "lib/diag.h"
#include "lib/yaml-json.h"

/* Caps on input (WF_E_TOO_BIG beyond them). */
#define WF_K8S_MAX_FILE_BYTES (64u << 20)
#define WF_K8S_MAX_DOC_BYTES (10u << 20)
#define WF_K8S_MAX_DEPTH 64

/* "Service", "EndpointSlice", ...; "?" for a value out of range. */
const char *wf_k8s_kind_name(enum wf_k8s_kind kind);
/* Lowercase plural: "services", "endpointslices", ... */
const char *wf_k8s_kind_plural(enum wf_k8s_kind kind);
/* apiVersion weft writes for the kind: "v1", "discovery.k8s.io/v1", ... */
const char *wf_k8s_kind_api_version(enum wf_k8s_kind kind);
/* True for Namespace, Node, IngressClass. */
bool wf_k8s_kind_cluster_scoped(enum wf_k8s_kind kind);
/* Looks a kind up as the CLI accepts it, case-insensitively: kind name ("Service"), singular
 * ("service"), plural ("services"), short name ("svc", "ep", "eps", "po", "no", "ns", "netpol",
 * "ing", "deploy", "gtw", "secret"...). Returns 0 and *ret, or -WF_E_UNKNOWN_KIND. */
int wf_k8s_kind_lookup(const char *s, enum wf_k8s_kind *ret);

/* Parses one file (buf, len bytes, need not be NUL-terminated; file names it in diagnostics
 * and in each object's origin) into objects, all or nothing. Accepts multi-document YAML,
 * kind: List / *List with items, and JSON (one object or a List). Well-known kinds weft does
 * not use (ConfigMap, ServiceAccount, RBAC, CRDs, ...) are skipped and counted in ignored.
 * Two objects with the same key in one file are an error (-WF_E_DUPLICATE).
 * On success fills *ret (release with wf_k8s_parse_result_done) and returns the number of
 * objects. On failure returns -WF_E_PARSE, -WF_E_INVALID, -WF_E_UNKNOWN_KIND, -WF_E_DUPLICATE,
 * -WF_E_TOO_BIG or -ENOMEM, leaves *ret untouched and fills diag (may be NULL). */
int wf_k8s_parse(const char *buf, size_t len, const char *file, struct wf_k8s_parse_result *ret,
		 struct wf_diag *diag);
/* Called by wf_k8s_parse_docs() with each non-empty document of the text (a List once, whole)
 * after its objects were decoded, in order. doc is borrowed: json_incref() it to keep it.
 * Return 0 to go on, negative to stop: the parse then fails with that value. */
typedef int (*wf_k8s_doc_fn)(void *userdata, json_t *doc, const struct wf_yj_docinfo *info);
/* wf_k8s_parse() that also hands every document, as JSON, to fn (which may be NULL): for a
 * caller that needs both the typed objects and the JSON tree, so that the text is read once.
 * When it fails, documents handed over before the failure are not part of a result. */
int wf_k8s_parse_docs(const char *buf, size_t len, const char *file, wf_k8s_doc_fn fn,
		      void *userdata, struct wf_k8s_parse_result *ret, struct wf_diag *diag);
/* Unrefs every object and frees the array; r is zeroed. Takes NULL. */
void wf_k8s_parse_result_done(struct wf_k8s_parse_result *r);

/* Reads and parses a file (wf_k8s_parse with the path as file name). -errno when unreadable. */
int wf_k8s_parse_file(const char *path, struct wf_k8s_parse_result *ret, struct wf_diag *diag);

/* Takes a reference; returns obj. Takes NULL. */
struct wf_k8s_object *wf_k8s_object_ref(struct wf_k8s_object *obj);
/* Drops a reference; the last one frees the object and everything it owns. Takes NULL. */
void wf_k8s_object_unref(struct wf_k8s_object *obj);

/* "Kind/namespace/name" for namespaced kinds, "Kind/name" for cluster-scoped ones: stable and
 * unique per object, valid as long as obj. */
const char *wf_k8s_object_key(const struct wf_k8s_object *obj);
/* Builds the same key from parts into buf. Returns its length, or -ENOSPC (buf too small). */
int wf_k8s_key_format(char *buf, size_t len, enum wf_k8s_kind kind, const char *namespace,
		      const char *name);
/* Label and annotation lookup (NULL when absent). */
static inline const char *wf_k8s_object_label(const struct wf_k8s_object *obj, const char *key);
static inline const char *wf_k8s_object_annotation(const struct wf_k8s_object *obj,
						   const char *key);

/* EndpointSlice conditions with the API's rules for unset values (EndpointConditions):
 * ready unset = ready; serving unset = same as ready; terminating unset = not terminating. */
bool wf_k8s_endpoint_ready(const struct wf_k8s_endpoint *ep);
bool wf_k8s_endpoint_serving(const struct wf_k8s_endpoint *ep);
bool wf_k8s_endpoint_terminating(const struct wf_k8s_endpoint *ep);

/* Secret item by key (e.g. "tls.crt"), or NULL. */
const struct wf_k8s_secret_item *wf_k8s_secret_get(const struct wf_k8s_secret *s, const char *key);

/* "TCP", "UDP", "SCTP". */
const char *wf_k8s_protocol_name(enum wf_k8s_protocol p);

#include "k8s/selector.h"

static inline const char *wf_k8s_object_label(const struct wf_k8s_object *obj, const char *key)
{
	return wf_k8s_map_get(&obj->labels, key);
}

static inline const char *wf_k8s_object_annotation(const struct wf_k8s_object *obj, const char *key)
{
	return wf_k8s_map_get(&obj->annotations, key);
}
