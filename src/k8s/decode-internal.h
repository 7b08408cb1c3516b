/* Private to src/k8s: the decoding context and typed field readers that decode.c,
 * decode-core.c and decode-http.c share. Not installed, not used by other modules. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/object-types.h"
#include "lib/diag.h"
#include "lib/yaml-json.h"

#define WF_K8S_PATH_MAX 96

struct wf_arena;

/* One object being decoded. Errors fill diag with the located position and the path from the
 * object's root (path[base..depth)); the full path from the document root locates it. */
struct wf_k8s_dctx {
	struct wf_arena *a;
	const char *buf;
	size_t len;
	const char *file;
	unsigned doc_index;
	struct wf_diag *diag;
	struct wf_yj_step path[WF_K8S_PATH_MAX];
	size_t depth;
	size_t base;
};

/* Path maintenance: every push has its pop. Over-deep paths are clamped (the document is at
 * most 64 deep, so this does not happen). */
void wf_k8s_push_key(struct wf_k8s_dctx *d, const char *key);
void wf_k8s_push_index(struct wf_k8s_dctx *d, size_t index);
void wf_k8s_pop(struct wf_k8s_dctx *d);

/* Returns from the calling decoder with expr's value when it is negative (an error; the diag
 * is already filled). */
#define WF_K8S_TRY(expr)           \
	do {                       \
		int r_ = (expr);   \
		if (r_ < 0)        \
			return r_; \
	} while (0)

/* Records an error at the current path; returns code. */
int wf_k8s_fail(struct wf_k8s_dctx *d, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, at field key of the current node. */
int wf_k8s_fail_key(struct wf_k8s_dctx *d, const char *key, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Typed readers. o may be NULL (absent parent): then nothing is read. Absent and null fields
 * leave *out untouched and return 0 (callers preset defaults); *present, when given, says
 * whether the field was there. Wrong types are -WF_E_INVALID with the field's path. */
int wf_k8s_get_obj(struct wf_k8s_dctx *d, json_t *o, const char *key, json_t **out);
int wf_k8s_get_arr(struct wf_k8s_dctx *d, json_t *o, const char *key, json_t **out);
int wf_k8s_get_str(struct wf_k8s_dctx *d, json_t *o, const char *key, const char **out);
int wf_k8s_get_req_str(struct wf_k8s_dctx *d, json_t *o, const char *key, const char **out);
int wf_k8s_get_bool(struct wf_k8s_dctx *d, json_t *o, const char *key, bool *out, bool *present);
int wf_k8s_get_tristate(struct wf_k8s_dctx *d, json_t *o, const char *key,
			enum wf_k8s_tristate *out);
int wf_k8s_get_i64(struct wf_k8s_dctx *d, json_t *o, const char *key, int64_t min, int64_t max,
		   int64_t *out, bool *present);
int wf_k8s_get_i32(struct wf_k8s_dctx *d, json_t *o, const char *key, int32_t min, int32_t max,
		   int32_t *out, bool *present);
int wf_k8s_get_port(struct wf_k8s_dctx *d, json_t *o, const char *key, bool required, int32_t *out);
int wf_k8s_get_int_or_string(struct wf_k8s_dctx *d, json_t *o, const char *key,
			     struct wf_k8s_int_or_string *out);
/* int-or-string that must be a port: 1-65535 or an IANA_SVC_NAME. */
int wf_k8s_get_port_or_name(struct wf_k8s_dctx *d, json_t *o, const char *key, bool required,
			    struct wf_k8s_int_or_string *out);
int wf_k8s_get_protocol(struct wf_k8s_dctx *d, json_t *o, const char *key,
			enum wf_k8s_protocol *out);
/* One of the NULL-terminated names; stores the index. Default untouched when absent. */
int wf_k8s_get_enum(struct wf_k8s_dctx *d, json_t *o, const char *key, const char *const *names,
		    int *out);
int wf_k8s_get_str_array(struct wf_k8s_dctx *d, json_t *o, const char *key, size_t *ret_n,
			 const char ***out);
/* A map of strings (labels: keys and values checked as labels; annotations: keys checked). */
enum wf_k8s_map_check {
	WF_K8S_MAP_ANY,
	WF_K8S_MAP_LABELS,
	WF_K8S_MAP_ANNOTATIONS,
};
int wf_k8s_get_map(struct wf_k8s_dctx *d, json_t *o, const char *key, enum wf_k8s_map_check check,
		   struct wf_k8s_map *out);
/* metav1.LabelSelector at key; absent or null: out->present stays false. */
int wf_k8s_get_selector(struct wf_k8s_dctx *d, json_t *o, const char *key,
			struct wf_k8s_selector *out);
int wf_k8s_get_ip(struct wf_k8s_dctx *d, json_t *o, const char *key, struct wf_ip *out,
		  bool *present);
/* metav1.Time (RFC 3339) into Unix seconds; absent, null or "": *out untouched. */
int wf_k8s_get_time(struct wf_k8s_dctx *d, json_t *o, const char *key, int64_t *out);
/* Decodes the list at key whose items are objects: allocates n elements of elem_size (zeroed)
 * and calls fn(d, item, element, ctx) with the path at key[i]. Absent: *ret_n untouched. */
typedef int (*wf_k8s_item_fn)(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx);
int wf_k8s_get_list(struct wf_k8s_dctx *d, json_t *o, const char *key, size_t elem_size,
		    wf_k8s_item_fn fn, void *ctx, size_t *ret_n, void **ret_items);
/* size zeroed bytes from the object's arena, or NULL (then return wf_k8s_oom(d)). */
void *wf_k8s_zalloc(struct wf_k8s_dctx *d, size_t size);
/* Records "out of memory" at the current path; returns -ENOMEM. */
int wf_k8s_oom(struct wf_k8s_dctx *d);
/* Allocates n zeroed elements (NULL when n == 0); -ENOMEM with a diag. */
int wf_k8s_alloc_array(struct wf_k8s_dctx *d, size_t n, size_t size, void **out);
char *wf_k8s_dup(struct wf_k8s_dctx *d, const char *s);

/* Kind decoders: spec/status of the document o into obj (metadata is done). */
int wf_k8s_decode_namespace(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_node(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_pod(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_service(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_endpointslice(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_networkpolicy(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_ingress(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_ingressclass(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_secret(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_gateway(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_httproute(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
int wf_k8s_decode_deployment(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);
