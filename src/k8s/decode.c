/* Manifest parsing: documents from lib/yaml-json, Lists unwrapped, metadata decoded, kinds
 * dispatched to decode-*.c, all or nothing per file. Also the typed field readers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s/decode-internal.h"
#include "k8s/object.h"
#include "k8s/selector.h"
#include "lib/alloc.h"
#include "lib/arena.h"
#include "lib/error.h"
#include "lib/ip.h"

/* Each object lives in an arena of exactly its size (see decode_object); the scratch arena in
 * which it is measured first is reused for every object of a file. */
#define SCRATCH_ARENA_CHUNK (16u << 10)
#define OBJ_ARENA_CAP (64u << 20)

/* ---- path and errors ---- */

void wf_k8s_push_key(struct wf_k8s_dctx *d, const char *key)
{
	if (d->depth < WF_K8S_PATH_MAX)
		d->path[d->depth] = (struct wf_yj_step){.key = key};
	d->depth++;
}

void wf_k8s_push_index(struct wf_k8s_dctx *d, size_t index)
{
	if (d->depth < WF_K8S_PATH_MAX)
		d->path[d->depth] = (struct wf_yj_step){.key = NULL, .index = index};
	d->depth++;
}

void wf_k8s_pop(struct wf_k8s_dctx *d)
{
	d->depth--;
}

static void format_path(const struct wf_k8s_dctx *d, char *buf, size_t len)
{
	size_t off = 0, n = d->depth < WF_K8S_PATH_MAX ? d->depth : WF_K8S_PATH_MAX;
	int w;

	buf[0] = '\0';
	for (size_t i = d->base; i < n; i++) {
		const struct wf_yj_step *s = &d->path[i];
		if (s->key)
			w = snprintf(buf + off, len - off, "%s%s", off ? "." : "", s->key);
		else
			w = snprintf(buf + off, len - off, "[%zu]", s->index);
		if (w < 0 || (size_t)w >= len - off)
			return;
		off += (size_t)w;
	}
}

static int failv(struct wf_k8s_dctx *d, int code, const char *fmt, va_list ap)
{
	char path[WF_DIAG_PATH_MAX];
	unsigned line = 0, col = 0;
	size_t n = d->depth < WF_K8S_PATH_MAX ? d->depth : WF_K8S_PATH_MAX;

	format_path(d, path, sizeof(path));
	if (wf_yj_locate(d->buf, d->len, d->doc_index, d->path, n, &line, &col) < 0)
		line = col = 0;
	wf_diag_setv(d->diag, d->file, line, col, path, fmt, ap);
	return code;
}

int wf_k8s_fail(struct wf_k8s_dctx *d, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(d, code, fmt, ap);
	va_end(ap);
	return code;
}

int wf_k8s_fail_key(struct wf_k8s_dctx *d, const char *key, int code, const char *fmt, ...)
{
	va_list ap;

	wf_k8s_push_key(d, key);
	va_start(ap, fmt);
	failv(d, code, fmt, ap);
	va_end(ap);
	wf_k8s_pop(d);
	return code;
}

int wf_k8s_oom(struct wf_k8s_dctx *d)
{
	return wf_k8s_fail(d, -ENOMEM, "out of memory");
}

void *wf_k8s_zalloc(struct wf_k8s_dctx *d, size_t size)
{
	return wf_arena_zalloc(d->a, size);
}

char *wf_k8s_dup(struct wf_k8s_dctx *d, const char *s)
{
	return wf_arena_strdup(d->a, s);
}

int wf_k8s_alloc_array(struct wf_k8s_dctx *d, size_t n, size_t size, void **out)
{
	if (n == 0) {
		*out = NULL;
		return 0;
	}
	if (n > SIZE_MAX / size)
		return wf_k8s_oom(d);
	*out = wf_arena_zalloc(d->a, n * size);
	return *out ? 0 : wf_k8s_oom(d);
}

/* ---- typed readers ---- */

static const char *type_name(const json_t *j);

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static int type_error(struct wf_k8s_dctx *d, const char *key, const char *want, const json_t *j)
{
	return wf_k8s_fail_key(d, key, -WF_E_INVALID, "must be %s, not %s", want, type_name(j));
}

/* The field, or NULL when absent or null. */
static json_t *field(json_t *o, const char *key)
{
	json_t *j = o ? json_object_get(o, key) : NULL;

	return j && !json_is_null(j) ? j : NULL;
}

int wf_k8s_get_obj(struct wf_k8s_dctx *d, json_t *o, const char *key, json_t **out)
{
	json_t *j = field(o, key);

	if (!j)
		return 0;
	if (!json_is_object(j))
		return type_error(d, key, "an object", j);
	*out = j;
	return 0;
}

int wf_k8s_get_arr(struct wf_k8s_dctx *d, json_t *o, const char *key, json_t **out)
{
	json_t *j = field(o, key);

	if (!j)
		return 0;
	if (!json_is_array(j))
		return type_error(d, key, "a list", j);
	*out = j;
	return 0;
}

int wf_k8s_get_str(struct wf_k8s_dctx *d, json_t *o, const char *key, const char **out)
{
	json_t *j = field(o, key);

	if (!j)
		return 0;
	if (!json_is_string(j))
		return type_error(d, key, "a string", j);
	/* Strings are copied into the object's arena: the jansson tree is dropped after decoding. */
	char *s = wf_arena_strndup(d->a, json_string_value(j), json_string_length(j));
	if (!s)
		return wf_k8s_oom(d);
	*out = s;
	return 0;
}

int wf_k8s_get_req_str(struct wf_k8s_dctx *d, json_t *o, const char *key, const char **out)
{
	const char *s = NULL;
	int r = wf_k8s_get_str(d, o, key, &s);

	if (r < 0)
		return r;
	if (!s || !*s)
		return wf_k8s_fail_key(d, key, -WF_E_INVALID, "required value");
	*out = s;
	return 0;
}

int wf_k8s_get_bool(struct wf_k8s_dctx *d, json_t *o, const char *key, bool *out, bool *present)
{
	json_t *j = field(o, key);

	if (!j)
		return 0;
	if (!json_is_boolean(j))
		return type_error(d, key, "a boolean", j);
	*out = json_is_true(j);
	if (present)
		*present = true;
	return 0;
}

int wf_k8s_get_tristate(struct wf_k8s_dctx *d, json_t *o, const char *key,
			enum wf_k8s_tristate *out)
{
	bool v = false, present = false;
	int r = wf_k8s_get_bool(d, o, key, &v, &present);

	if (r < 0)
		return r;
	if (present)
		*out = v ? WF_K8S_TRUE : WF_K8S_FALSE;
	return 0;
}

int wf_k8s_get_i64(struct wf_k8s_dctx *d, json_t *o, const char *key, int64_t min, int64_t max,
		   int64_t *out, bool *present)
{
	json_t *j = field(o, key);
	int64_t v;

	if (!j)
		return 0;
	if (!json_is_integer(j))
		return type_error(d, key, "an integer", j);
	v = json_integer_value(j);
	if (v < min || v > max) {
		if (max == INT64_MAX)
			return wf_k8s_fail_key(d, key, -WF_E_INVALID,
					       "must be greater than or equal to %lld, not %lld",
					       (long long)min, (long long)v);
		return wf_k8s_fail_key(d, key, -WF_E_INVALID,
				       "must be between %lld and %lld, not %lld", (long long)min,
				       (long long)max, (long long)v);
	}
	*out = v;
	if (present)
		*present = true;
	return 0;
}

int wf_k8s_get_i32(struct wf_k8s_dctx *d, json_t *o, const char *key, int32_t min, int32_t max,
		   int32_t *out, bool *present)
{
	int64_t v;
	bool p = false;
	int r = wf_k8s_get_i64(d, o, key, min, max == INT32_MAX ? INT64_MAX : max, &v, &p);

	if (r < 0)
		return r;
	if (!p)
		return 0;
	if (v > INT32_MAX)
		return wf_k8s_fail_key(d, key, -WF_E_INVALID, "must be at most %d, not %lld",
				       INT32_MAX, (long long)v);
	*out = (int32_t)v;
	if (present)
		*present = true;
	return 0;
}

int wf_k8s_get_port(struct wf_k8s_dctx *d, json_t *o, const char *key, bool required, int32_t *out)
{
	bool present = false;
	int r = wf_k8s_get_i32(d, o, key, 1, 65535, out, &present);

	if (r < 0)
		return r;
	if (required && !present)
		return wf_k8s_fail_key(d, key, -WF_E_INVALID, "required value");
	return 0;
}

int wf_k8s_get_int_or_string(struct wf_k8s_dctx *d, json_t *o, const char *key,
			     struct wf_k8s_int_or_string *out)
{
	json_t *j = field(o, key);

	if (!j)
		return 0;
	if (json_is_integer(j)) {
		json_int_t v = json_integer_value(j);
		if (v < INT32_MIN || v > INT32_MAX)
			return wf_k8s_fail_key(d, key, -WF_E_INVALID, "integer out of range: %lld",
					       (long long)v);
		*out = (struct wf_k8s_int_or_string){.set = true, .num = (int32_t)v};
		return 0;
	}
	if (json_is_string(j)) {
		const char *s = NULL;
		int r = wf_k8s_get_str(d, o, key, &s);
		if (r < 0)
			return r;
		*out = (struct wf_k8s_int_or_string){.set = true, .is_str = true, .str = s};
		return 0;
	}
	return type_error(d, key, "an integer or a string", j);
}

int wf_k8s_get_port_or_name(struct wf_k8s_dctx *d, json_t *o, const char *key, bool required,
			    struct wf_k8s_int_or_string *out)
{
	struct wf_k8s_int_or_string v = {0};
	const char *why;
	int r = wf_k8s_get_int_or_string(d, o, key, &v);

	if (r < 0)
		return r;
	if (!v.set) {
		if (required)
			return wf_k8s_fail_key(d, key, -WF_E_INVALID, "required value");
		return 0;
	}
	if (!v.is_str && (v.num < 1 || v.num > 65535))
		return wf_k8s_fail_key(d, key, -WF_E_INVALID, "must be between 1 and 65535, not %d",
				       v.num);
	if (v.is_str && (why = wf_k8s_check_port_name(v.str)))
		return wf_k8s_fail_key(d, key, -WF_E_INVALID, "invalid port name \"%s\": %s", v.str,
				       why);
	*out = v;
	return 0;
}

int wf_k8s_get_enum(struct wf_k8s_dctx *d, json_t *o, const char *key, const char *const *names,
		    int *out)
{
	json_t *j = field(o, key);
	char list[256];
	size_t off = 0;

	if (!j)
		return 0;
	if (!json_is_string(j))
		return type_error(d, key, "a string", j);
	for (int i = 0; names[i]; i++)
		if (strcmp(json_string_value(j), names[i]) == 0) {
			*out = i;
			return 0;
		}
	list[0] = '\0';
	for (int i = 0; names[i] && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s\"%s\"", i ? ", " : "",
				 names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return wf_k8s_fail_key(d, key, -WF_E_INVALID,
			       "unsupported value \"%s\": supported values: %s",
			       json_string_value(j), list);
}

int wf_k8s_get_protocol(struct wf_k8s_dctx *d, json_t *o, const char *key,
			enum wf_k8s_protocol *out)
{
	static const char *const names[] = {"TCP", "UDP", "SCTP", NULL};
	int v = WF_K8S_PROTO_TCP;
	int r = wf_k8s_get_enum(d, o, key, names, &v);

	if (r < 0)
		return r;
	*out = (enum wf_k8s_protocol)v;
	return 0;
}

int wf_k8s_get_str_array(struct wf_k8s_dctx *d, json_t *o, const char *key, size_t *ret_n,
			 const char ***out)
{
	json_t *arr = NULL, *v;
	const char **items;
	size_t i;
	int r;

	r = wf_k8s_get_arr(d, o, key, &arr);
	if (r < 0 || !arr)
		return r;
	r = wf_k8s_alloc_array(d, json_array_size(arr), sizeof(*items), (void **)&items);
	if (r < 0)
		return r;
	wf_k8s_push_key(d, key);
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v)) {
			wf_k8s_push_index(d, i);
			r = wf_k8s_fail(d, -WF_E_INVALID, "must be a string, not %s", type_name(v));
			wf_k8s_pop(d);
			goto out;
		}
		items[i] = wf_arena_strndup(d->a, json_string_value(v), json_string_length(v));
		if (!items[i]) {
			r = wf_k8s_oom(d);
			goto out;
		}
	}
	*ret_n = json_array_size(arr);
	*out = items;
out:
	wf_k8s_pop(d);
	return r;
}

int wf_k8s_get_list(struct wf_k8s_dctx *d, json_t *o, const char *key, size_t elem_size,
		    wf_k8s_item_fn fn, void *ctx, size_t *ret_n, void **ret_items)
{
	json_t *arr = NULL, *v;
	char *items;
	size_t i;
	int r;

	r = wf_k8s_get_arr(d, o, key, &arr);
	if (r < 0 || !arr)
		return r;
	r = wf_k8s_alloc_array(d, json_array_size(arr), elem_size, (void **)&items);
	if (r < 0)
		return r;
	wf_k8s_push_key(d, key);
	json_array_foreach(arr, i, v)
	{
		wf_k8s_push_index(d, i);
		if (!json_is_object(v))
			r = wf_k8s_fail(d, -WF_E_INVALID, "must be an object, not %s",
					type_name(v));
		else
			r = fn(d, v, items + i * elem_size, ctx);
		wf_k8s_pop(d);
		if (r < 0)
			break;
	}
	wf_k8s_pop(d);
	if (r < 0)
		return r;
	*ret_n = json_array_size(arr);
	*ret_items = items;
	return 0;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct wf_k8s_label *)a)->key, ((const struct wf_k8s_label *)b)->key);
}

int wf_k8s_get_map(struct wf_k8s_dctx *d, json_t *o, const char *key, enum wf_k8s_map_check check,
		   struct wf_k8s_map *out)
{
	json_t *m = NULL, *v;
	struct wf_k8s_label *items;
	const char *k, *why;
	size_t i = 0;
	int r;

	r = wf_k8s_get_obj(d, o, key, &m);
	if (r < 0 || !m)
		return r;
	r = wf_k8s_alloc_array(d, json_object_size(m), sizeof(*items), (void **)&items);
	if (r < 0)
		return r;
	wf_k8s_push_key(d, key);
	json_object_foreach(m, k, v)
	{
		if (json_is_null(v) && check == WF_K8S_MAP_ANY)
			continue;
		if (!json_is_string(v)) {
			r = wf_k8s_fail_key(d, k, -WF_E_INVALID, "must be a string, not %s",
					    type_name(v));
			goto out;
		}
		if (check != WF_K8S_MAP_ANY && (why = wf_k8s_check_label_key(k))) {
			r = wf_k8s_fail_key(d, k, -WF_E_INVALID, "invalid key \"%s\": %s", k, why);
			goto out;
		}
		if (check == WF_K8S_MAP_LABELS &&
		    (why = wf_k8s_check_label_value(json_string_value(v)))) {
			r = wf_k8s_fail_key(d, k, -WF_E_INVALID, "invalid value \"%s\": %s",
					    json_string_value(v), why);
			goto out;
		}
		items[i].key = wf_k8s_dup(d, k);
		items[i].value =
			wf_arena_strndup(d->a, json_string_value(v), json_string_length(v));
		if (!items[i].key || !items[i].value) {
			r = wf_k8s_oom(d);
			goto out;
		}
		i++;
	}
	/* Sorted for wf_k8s_map_get's binary search; jansson keys are unique already. */
	if (i > 1)
		qsort(items, i, sizeof(*items), label_cmp);
	out->n = i;
	out->items = i ? items : NULL;
out:
	wf_k8s_pop(d);
	return r;
}

static int decode_requirement(struct wf_k8s_dctx *d, json_t *e, struct wf_k8s_selector_req *req)
{
	static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist", NULL};
	json_t *values = NULL;
	const char *why;
	int op = -1, r;

	if (!json_is_object(e))
		return wf_k8s_fail(d, -WF_E_INVALID, "must be an object, not %s", type_name(e));
	r = wf_k8s_get_req_str(d, e, "key", &req->key);
	if (r < 0)
		return r;
	if ((why = wf_k8s_check_label_key(req->key)))
		return wf_k8s_fail_key(d, "key", -WF_E_INVALID, "invalid label key \"%s\": %s",
				       req->key, why);
	r = wf_k8s_get_enum(d, e, "operator", ops, &op);
	if (r < 0)
		return r;
	if (op < 0)
		return wf_k8s_fail_key(d, "operator", -WF_E_INVALID, "required value");
	req->op = (enum wf_k8s_selector_op)op;
	r = wf_k8s_get_arr(d, e, "values", &values);
	if (r < 0)
		return r;
	r = wf_k8s_get_str_array(d, e, "values", &req->n_values, &req->values);
	if (r < 0)
		return r;
	/* LabelSelectorRequirement: In/NotIn need values, Exists/DoesNotExist must have none. */
	if ((req->op == WF_K8S_SEL_IN || req->op == WF_K8S_SEL_NOT_IN) && req->n_values == 0)
		return wf_k8s_fail_key(d, "values", -WF_E_INVALID,
				       "must be specified when `operator` is 'In' or 'NotIn'");
	if ((req->op == WF_K8S_SEL_EXISTS || req->op == WF_K8S_SEL_DOES_NOT_EXIST) &&
	    req->n_values > 0)
		return wf_k8s_fail_key(
			d, "values", -WF_E_INVALID,
			"may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
	for (size_t i = 0; i < req->n_values; i++) {
		if ((why = wf_k8s_check_label_value(req->values[i]))) {
			wf_k8s_push_key(d, "values");
			wf_k8s_push_index(d, i);
			r = wf_k8s_fail(d, -WF_E_INVALID, "invalid label value \"%s\": %s",
					req->values[i], why);
			wf_k8s_pop(d);
			wf_k8s_pop(d);
			return r;
		}
	}
	return 0;
}

int wf_k8s_get_selector(struct wf_k8s_dctx *d, json_t *o, const char *key,
			struct wf_k8s_selector *out)
{
	json_t *sel = NULL, *exprs = NULL, *e;
	struct wf_k8s_selector s = {.present = true};
	struct wf_k8s_selector_req *reqs;
	size_t i;
	int r;

	r = wf_k8s_get_obj(d, o, key, &sel);
	if (r < 0 || !sel)
		return r;
	wf_k8s_push_key(d, key);
	r = wf_k8s_get_map(d, sel, "matchLabels", WF_K8S_MAP_LABELS, &s.match_labels);
	if (r < 0)
		goto out;
	r = wf_k8s_get_arr(d, sel, "matchExpressions", &exprs);
	if (r < 0 || !exprs)
		goto done;
	r = wf_k8s_alloc_array(d, json_array_size(exprs), sizeof(*reqs), (void **)&reqs);
	if (r < 0)
		goto out;
	wf_k8s_push_key(d, "matchExpressions");
	json_array_foreach(exprs, i, e)
	{
		wf_k8s_push_index(d, i);
		r = decode_requirement(d, e, &reqs[i]);
		wf_k8s_pop(d);
		if (r < 0)
			break;
	}
	wf_k8s_pop(d);
	if (r < 0)
		goto out;
	s.n_exprs = json_array_size(exprs);
	s.exprs = reqs;
done:
	*out = s;
out:
	wf_k8s_pop(d);
	return r;
}

int wf_k8s_get_ip(struct wf_k8s_dctx *d, json_t *o, const char *key, struct wf_ip *out,
		  bool *present)
{
	json_t *j = field(o, key);

	if (!j)
		return 0;
	if (!json_is_string(j))
		return type_error(d, key, "a string", j);
	if (json_string_length(j) == 0)
		return 0;
	if (wf_ip_parse(json_string_value(j), out) < 0)
		return wf_k8s_fail_key(d, key, -WF_E_INVALID, "invalid IP address \"%s\"",
				       json_string_value(j));
	if (present)
		*present = true;
	return 0;
}

/* ---- metadata ---- */

/* RFC 3339 as metav1.Time writes it ("2024-05-01T10:00:00Z", offsets and fractions allowed). */
static int parse_rfc3339(const char *s, int64_t *ret)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t off = 0;

	if (!p)
		return -EINVAL;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -EINVAL;
		off = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*ret = (int64_t)timegm(&tm) - off;
	return 0;
}

int wf_k8s_get_time(struct wf_k8s_dctx *d, json_t *o, const char *key, int64_t *out)
{
	const char *s = NULL;
	json_t *j = field(o, key);
	int r;

	if (!j)
		return 0;
	if (!json_is_string(j))
		return type_error(d, key, "a string (RFC 3339 time)", j);
	s = json_string_value(j);
	if (!*s)
		return 0;
	r = parse_rfc3339(s, out);
	if (r < 0)
		return wf_k8s_fail_key(d, key, -WF_E_INVALID, "invalid RFC 3339 time \"%s\"", s);
	return 0;
}

/* Service names are DNS-1035 labels (must start with a letter); most others DNS-1123
 * subdomains; Namespaces DNS-1123 labels. */
static const char *check_name(enum wf_k8s_kind kind, const char *name)
{
	switch (kind) {
	case WF_K8S_SERVICE:
		if (!(name[0] >= 'a' && name[0] <= 'z'))
			return "a DNS-1035 label must start with a lowercase letter";
		return wf_k8s_check_dns_label(name);
	case WF_K8S_NAMESPACE:
		return wf_k8s_check_dns_label(name);
	default:
		return wf_k8s_check_dns_subdomain(name);
	}
}

static int decode_metadata(struct wf_k8s_dctx *d, json_t *doc, struct wf_k8s_object *obj)
{
	json_t *md = NULL;
	const char *why, *gen = NULL;
	int r;

	r = wf_k8s_get_obj(d, doc, "metadata", &md);
	if (r < 0)
		return r;
	if (!md)
		return wf_k8s_fail_key(d, "metadata", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "metadata");
	r = wf_k8s_get_str(d, md, "name", &obj->name);
	if (r < 0)
		goto out;
	if (!obj->name || !*obj->name) {
		r = wf_k8s_get_str(d, md, "generateName", &gen);
		if (r < 0)
			goto out;
		r = wf_k8s_fail_key(
			d, "name", -WF_E_INVALID,
			gen ? "required value (generateName is not supported: manifests name their objects)"
			    : "required value");
		goto out;
	}
	if ((why = check_name(obj->kind, obj->name))) {
		r = wf_k8s_fail_key(d, "name", -WF_E_INVALID, "invalid name \"%s\": %s", obj->name,
				    why);
		goto out;
	}
	if (!wf_k8s_kind_cluster_scoped(obj->kind)) {
		r = wf_k8s_get_str(d, md, "namespace", &obj->namespace);
		if (r < 0)
			goto out;
		/* An object without a namespace lands in "default", as kubectl apply does. */
		if (!obj->namespace || !*obj->namespace)
			obj->namespace = "default";
		else if ((why = wf_k8s_check_dns_label(obj->namespace))) {
			r = wf_k8s_fail_key(d, "namespace", -WF_E_INVALID,
					    "invalid namespace \"%s\": %s", obj->namespace, why);
			goto out;
		}
	}
	r = wf_k8s_get_str(d, md, "uid", &obj->uid);
	if (r < 0)
		goto out;
	r = wf_k8s_get_map(d, md, "labels", WF_K8S_MAP_LABELS, &obj->labels);
	if (r < 0)
		goto out;
	r = wf_k8s_get_map(d, md, "annotations", WF_K8S_MAP_ANNOTATIONS, &obj->annotations);
	if (r < 0)
		goto out;
	r = wf_k8s_get_time(d, md, "creationTimestamp", &obj->creation_timestamp);
	if (r < 0)
		goto out;
	r = wf_k8s_get_time(d, md, "deletionTimestamp", &obj->deletion_timestamp);
	if (r < 0)
		goto out;
	char keybuf[600];
	int kl = wf_k8s_key_format(keybuf, sizeof(keybuf), obj->kind, obj->namespace, obj->name);
	if (kl < 0) {
		r = wf_k8s_fail_key(d, "name", -WF_E_INVALID, "name too long");
		goto out;
	}
	obj->key = wf_arena_strndup(d->a, keybuf, (size_t)kl);
	if (!obj->key)
		r = wf_k8s_oom(d);
out:
	wf_k8s_pop(d);
	return r;
}

/* ---- kinds ---- */

typedef int (*decode_fn)(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj);

static const struct {
	const char *kind;
	enum wf_k8s_kind id;
	const char *versions[3];
	decode_fn decode;
} known[] = {
	{"Namespace", WF_K8S_NAMESPACE, {"v1"}, wf_k8s_decode_namespace},
	{"Node", WF_K8S_NODE, {"v1"}, wf_k8s_decode_node},
	{"Pod", WF_K8S_POD, {"v1"}, wf_k8s_decode_pod},
	{"Service", WF_K8S_SERVICE, {"v1"}, wf_k8s_decode_service},
	{"EndpointSlice",
	 WF_K8S_ENDPOINTSLICE,
	 {"discovery.k8s.io/v1"},
	 wf_k8s_decode_endpointslice},
	{"NetworkPolicy",
	 WF_K8S_NETWORKPOLICY,
	 {"networking.k8s.io/v1"},
	 wf_k8s_decode_networkpolicy},
	{"Ingress", WF_K8S_INGRESS, {"networking.k8s.io/v1"}, wf_k8s_decode_ingress},
	{"IngressClass", WF_K8S_INGRESSCLASS, {"networking.k8s.io/v1"}, wf_k8s_decode_ingressclass},
	{"Secret", WF_K8S_SECRET, {"v1"}, wf_k8s_decode_secret},
	{"Gateway",
	 WF_K8S_GATEWAY,
	 {"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"},
	 wf_k8s_decode_gateway},
	{"HTTPRoute",
	 WF_K8S_HTTPROUTE,
	 {"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"},
	 wf_k8s_decode_httproute},
	{"Deployment", WF_K8S_DEPLOYMENT, {"apps/v1"}, wf_k8s_decode_deployment},
};

/* Well-known kinds that weft has no use for: skipped so that real manifests validate. */
static const char *const ignored_kinds[] = {"ConfigMap",
					    "ServiceAccount",
					    "Role",
					    "ClusterRole",
					    "RoleBinding",
					    "ClusterRoleBinding",
					    "CustomResourceDefinition",
					    "DaemonSet",
					    "StatefulSet",
					    "ReplicaSet",
					    "Job",
					    "CronJob",
					    "PersistentVolume",
					    "PersistentVolumeClaim",
					    "StorageClass",
					    "HorizontalPodAutoscaler",
					    "VerticalPodAutoscaler",
					    "PodDisruptionBudget",
					    "LimitRange",
					    "ResourceQuota",
					    "Endpoints",
					    "Event",
					    "PriorityClass",
					    "MutatingWebhookConfiguration",
					    "ValidatingWebhookConfiguration",
					    "ValidatingAdmissionPolicy",
					    "ValidatingAdmissionPolicyBinding",
					    "APIService",
					    "Lease",
					    "CSIDriver",
					    "CSINode",
					    "GatewayClass",
					    "ReferenceGrant",
					    "GRPCRoute",
					    "TCPRoute",
					    "TLSRoute",
					    "UDPRoute",
					    "BackendTLSPolicy",
					    "ReplicationController",
					    "RuntimeClass",
					    "VolumeAttachment",
					    "CertificateSigningRequest",
					    "ControllerRevision",
					    "PodTemplate",
					    "PodSecurityPolicy",
					    "FlowSchema",
					    "PriorityLevelConfiguration",
					    "ServiceCIDR",
					    "IPAddress",
					    "Certificate",
					    "Issuer",
					    "ClusterIssuer",
					    "ServiceMonitor",
					    "PodMonitor",
					    "PrometheusRule",
					    NULL};

/* ---- the parse driver ---- */

struct parse_state {
	const char *buf;
	size_t len;
	const char *file;
	struct wf_diag *diag;
	wf_k8s_doc_fn doc_fn; /* or NULL */
	void *doc_userdata;
	struct wf_k8s_object **objs;
	size_t n, cap;
	size_t ignored;
	struct wf_arena *scratch; /* each object is measured here first */
};

static int push_object(struct parse_state *ps, struct wf_k8s_object *obj)
{
	if (ps->n == ps->cap) {
		size_t ncap = ps->cap ? ps->cap * 2 : 16;
		struct wf_k8s_object **no = wf_reallocarray(ps->objs, ncap, sizeof(*no));
		if (!no)
			return -ENOMEM;
		ps->objs = no;
		ps->cap = ncap;
	}
	ps->objs[ps->n++] = obj;
	return 0;
}

/* Decodes o, a known kind (known[k]), with everything allocated from a. The caller sets the
 * arena and reference count of *ret. */
static int decode_into(struct parse_state *ps, struct wf_k8s_dctx *d, struct wf_arena *a, size_t k,
		       json_t *o, unsigned line, unsigned column, struct wf_k8s_object **ret)
{
	struct wf_k8s_object *obj = wf_arena_zalloc(a, sizeof(*obj));
	int r;

	if (!obj)
		return wf_k8s_fail(d, -ENOMEM, "out of memory");
	obj->kind = known[k].id;
	d->a = a;
	obj->origin.file = wf_arena_strdup(a, ps->file);
	obj->origin.line = line;
	obj->origin.column = column;
	if (!obj->origin.file)
		r = wf_k8s_fail(d, -ENOMEM, "out of memory");
	else
		r = decode_metadata(d, o, obj);
	if (r == 0)
		r = known[k].decode(d, o, obj);
	d->a = NULL;
	if (r < 0)
		return r;
	*ret = obj;
	return 0;
}

/* Decodes one object: doc is the document root (base == 0) or a List item (path items[i]). */
static int decode_object(struct parse_state *ps, struct wf_k8s_dctx *d, json_t *o, unsigned line,
			 unsigned column)
{
	const char *kind, *api;
	json_t *jk, *ja;
	struct wf_k8s_object *obj;
	struct wf_arena *a;
	size_t k;
	int r;

	if (!json_is_object(o))
		return wf_k8s_fail(d, -WF_E_PARSE, "an object must be a mapping, not %s",
				   type_name(o));
	jk = json_object_get(o, "kind");
	ja = json_object_get(o, "apiVersion");
	if (!jk || !json_is_string(jk) || !json_string_length(jk))
		return wf_k8s_fail_key(d, "kind", -WF_E_INVALID,
				       jk ? "must be a non-empty string" : "required value");
	if (!ja || !json_is_string(ja) || !json_string_length(ja))
		return wf_k8s_fail_key(d, "apiVersion", -WF_E_INVALID,
				       ja ? "must be a non-empty string" : "required value");
	kind = json_string_value(jk);
	api = json_string_value(ja);
	for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (strcmp(kind, known[k].kind) == 0)
			break;
	if (k == sizeof(known) / sizeof(known[0])) {
		for (size_t i = 0; ignored_kinds[i]; i++)
			if (strcmp(kind, ignored_kinds[i]) == 0) {
				ps->ignored++;
				return 0;
			}
		return wf_k8s_fail_key(d, "kind", -WF_E_UNKNOWN_KIND,
				       "unknown kind \"%s\" (apiVersion %s)", kind, api);
	}
	bool version_ok = false;
	for (size_t v = 0; v < 3 && known[k].versions[v]; v++)
		version_ok |= strcmp(api, known[k].versions[v]) == 0;
	if (!version_ok)
		return wf_k8s_fail_key(d, "apiVersion", -WF_E_UNKNOWN_KIND,
				       "unsupported apiVersion \"%s\" for kind %s (weft reads %s)",
				       api, kind, known[k].versions[0]);

	/* An object is kept for as long as it is in the store, so its arena is cut to fit:
	 * the object is decoded once into the file's scratch arena, which says how many bytes
	 * it takes (decoding is deterministic and arena sizes do not depend on addresses), then
	 * again into an arena of exactly that size. The typed decode is a few percent of a
	 * file's parse; a fixed first chunk (1 KiB) left 40% of a Service unused and made
	 * larger objects spill into more chunks. */
	if (!ps->scratch) {
		ps->scratch = wf_arena_new(SCRATCH_ARENA_CHUNK, OBJ_ARENA_CAP);
		if (!ps->scratch)
			return wf_k8s_fail(d, -ENOMEM, "out of memory");
	}
	wf_arena_reset(ps->scratch);
	r = decode_into(ps, d, ps->scratch, k, o, line, column, &obj);
	if (r < 0)
		return r;
	a = wf_arena_new(wf_arena_used(ps->scratch), OBJ_ARENA_CAP);
	if (!a)
		return wf_k8s_fail(d, -ENOMEM, "out of memory");
	r = decode_into(ps, d, a, k, o, line, column, &obj);
	if (r < 0)
		goto fail;
	obj->arena = a;
	obj->refcount = 1;
	r = push_object(ps, obj);
	if (r < 0) {
		r = wf_k8s_fail(d, -ENOMEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
	wf_arena_free(a);
	return r;
}

static bool is_list_kind(json_t *doc)
{
	json_t *jk = json_is_object(doc) ? json_object_get(doc, "kind") : NULL;
	const char *k = jk ? json_string_value(jk) : NULL;
	size_t n = k ? strlen(k) : 0;

	/* "List", "ServiceList", ...: kubectl's List wrappers (items may be absent: empty). */
	return n >= 4 && strcmp(k + n - 4, "List") == 0;
}

static int decode_document(struct parse_state *ps, json_t *doc, const struct wf_yj_docinfo *info);

static int on_document(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	struct parse_state *ps = userdata;
	int r = decode_document(ps, doc, info);

	if (r == 0 && ps->doc_fn)
		r = ps->doc_fn(ps->doc_userdata, doc, info);
	return r;
}

static int decode_document(struct parse_state *ps, json_t *doc, const struct wf_yj_docinfo *info)
{
	struct wf_k8s_dctx d = {
		.buf = ps->buf,
		.len = ps->len,
		.file = ps->file,
		.doc_index = info->index,
		.diag = ps->diag,
	};
	json_t *items, *item;
	unsigned *lines = NULL, *cols = NULL;
	size_t i;
	int r = 0;

	if (!is_list_kind(doc))
		return decode_object(ps, &d, doc, info->line, info->column);

	items = json_object_get(doc, "items");
	if (!items || json_is_null(items))
		return 0;
	if (!json_is_array(items))
		return wf_k8s_fail_key(&d, "items", -WF_E_INVALID, "must be a list, not %s",
				       type_name(items));
	size_t n = json_array_size(items);
	if (n && info->item_lines && info->n_items == n) {
		/* The YAML converter recorded the items' positions in its pass. */
		lines = wf_memdup(info->item_lines, n * sizeof(*lines));
		cols = wf_memdup(info->item_columns, n * sizeof(*cols));
		if (!lines || !cols) {
			r = wf_k8s_fail(&d, -ENOMEM, "out of memory");
			goto out;
		}
	} else if (n) {
		/* One scan of the text for every item's position (origins). */
		struct wf_yj_step step = {.key = "items"};
		lines = wf_calloc(n, sizeof(*lines));
		cols = wf_calloc(n, sizeof(*cols));
		if (!lines || !cols) {
			r = wf_k8s_fail(&d, -ENOMEM, "out of memory");
			goto out;
		}
		if (wf_yj_locate_items(ps->buf, ps->len, info->index, &step, 1, lines, cols, n) < 0)
			memset(lines, 0, n * sizeof(*lines));
	}
	json_array_foreach(items, i, item)
	{
		wf_k8s_push_key(&d, "items");
		wf_k8s_push_index(&d, i);
		d.base = 2;
		json_t *ik = json_is_object(item) ? json_object_get(item, "kind") : NULL;
		if (ik && json_is_string(ik) && is_list_kind(item)) {
			r = wf_k8s_fail(&d, -WF_E_INVALID, "a List item cannot be a List");
		} else {
			r = decode_object(ps, &d, item, lines[i] ? lines[i] : info->line,
					  lines[i] ? cols[i] : info->column);
		}
		d.base = 0;
		wf_k8s_pop(&d);
		wf_k8s_pop(&d);
		if (r < 0)
			break;
	}
out:
	wf_free(lines);
	wf_free(cols);
	return r;
}

static int key_cmp(const void *a, const void *b)
{
	const struct wf_k8s_object *x = *(struct wf_k8s_object *const *)a;
	const struct wf_k8s_object *y = *(struct wf_k8s_object *const *)b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->origin.line < y->origin.line ? -1 : x->origin.line > y->origin.line;
}

/* Two objects with one key in one file: the later one is the error (it would silently
 * replace the first). */
static int check_duplicates(struct parse_state *ps)
{
	struct wf_k8s_object **sorted;
	int r = 0;

	if (ps->n < 2)
		return 0;
	sorted = wf_memdup(ps->objs, ps->n * sizeof(*sorted));
	if (!sorted) {
		wf_diag_set(ps->diag, ps->file, 0, 0, NULL, "out of memory");
		return -ENOMEM;
	}
	qsort(sorted, ps->n, sizeof(*sorted), key_cmp);
	for (size_t i = 1; i < ps->n; i++) {
		if (strcmp(sorted[i]->key, sorted[i - 1]->key) != 0)
			continue;
		wf_diag_set(ps->diag, ps->file, sorted[i]->origin.line, sorted[i]->origin.column,
			    NULL, "duplicate object %s (first defined at line %u)", sorted[i]->key,
			    sorted[i - 1]->origin.line);
		r = -WF_E_DUPLICATE;
		break;
	}
	wf_free(sorted);
	return r;
}

int wf_k8s_parse(const char *buf, size_t len, const char *file, struct wf_k8s_parse_result *ret,
		 struct wf_diag *diag)
{
	return wf_k8s_parse_docs(buf, len, file, NULL, NULL, ret, diag);
}

int wf_k8s_parse_docs(const char *buf, size_t len, const char *file, wf_k8s_doc_fn fn,
		      void *userdata, struct wf_k8s_parse_result *ret, struct wf_diag *diag)
{
	struct parse_state ps = {.buf = buf,
				 .len = len,
				 .file = file ? file : "",
				 .diag = diag,
				 .doc_fn = fn,
				 .doc_userdata = userdata};
	struct wf_yj_limits limits = {
		.max_file_bytes = WF_K8S_MAX_FILE_BYTES,
		.max_doc_bytes = WF_K8S_MAX_DOC_BYTES,
		.max_depth = WF_K8S_MAX_DEPTH,
		.items_key = "items",
		/* on_document copies everything it keeps into the objects' arenas; a doc_fn
		 * may keep the tree, which must then be an ordinary one */
		.scratch_arena = fn == NULL,
	};
	int r;

	r = wf_yj_load(buf, len, ps.file, &limits, on_document, &ps, diag);
	wf_arena_free(ps.scratch);
	if (r < 0)
		goto fail;
	r = check_duplicates(&ps);
	if (r < 0)
		goto fail;
	*ret = (struct wf_k8s_parse_result){
		.n_objects = ps.n,
		.objects = ps.objs,
		.ignored = ps.ignored,
	};
	return (int)ps.n;
fail:
	for (size_t i = 0; i < ps.n; i++)
		wf_k8s_object_unref(ps.objs[i]);
	wf_free(ps.objs);
	return r;
}
