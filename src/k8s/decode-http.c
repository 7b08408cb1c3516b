/* Decoders for the kinds the ingress reads: Ingress, IngressClass, Secret, Gateway, HTTPRoute.
 * Validation follows pkg/apis/networking/validation and the Gateway API CRD schemas (v1) for
 * the fields weft reads.
 *
 * On error a decoder returns at once: the path stack is not unwound, the context is dropped. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/decode-internal.h"
#include "k8s/object.h"
#include "k8s/selector.h"
#include "lib/arena.h"
#include "lib/error.h"
#include "lib/ip.h"

/* A host name as Ingress rules and Gateway listeners take it: a DNS subdomain, optionally
 * "*." + subdomain (wildcard in the first label only), never an IP address. */
static const char *check_host(const char *host, bool *wildcard)
{
	struct wf_ip ip;

	*wildcard = strncmp(host, "*.", 2) == 0;
	if (wf_ip_parse(host, &ip) == 0)
		return "must be a DNS name, not an IP address";
	if (strchr(*wildcard ? host + 2 : host, '*'))
		return "a wildcard '*' must be the whole first label";
	return wf_k8s_check_dns_subdomain(*wildcard ? host + 2 : host);
}

/* ---- Ingress ---- */

static int decode_backend(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_ingress_backend *b)
{
	json_t *svc = NULL, *port = NULL, *res = NULL, *num, *name;

	WF_K8S_TRY(wf_k8s_get_obj(d, o, "service", &svc));
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "resource", &res));
	if (!!svc == !!res)
		return wf_k8s_fail(d, -WF_E_INVALID,
				   svc ? "cannot set both service and resource backends"
				       : "one backend (service or resource) must be specified");
	if (res) {
		wf_k8s_push_key(d, "resource");
		WF_K8S_TRY(wf_k8s_get_req_str(d, res, "kind", &b->resource_kind));
		WF_K8S_TRY(wf_k8s_get_req_str(d, res, "name", &b->resource_name));
		wf_k8s_pop(d);
		return 0;
	}
	wf_k8s_push_key(d, "service");
	WF_K8S_TRY(wf_k8s_get_req_str(d, svc, "name", &b->service_name));
	WF_K8S_TRY(wf_k8s_get_obj(d, svc, "port", &port));
	if (!port)
		return wf_k8s_fail_key(d, "port", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "port");
	num = json_object_get(port, "number");
	name = json_object_get(port, "name");
	if (num && !json_is_null(num) && name && !json_is_null(name))
		return wf_k8s_fail(d, -WF_E_INVALID, "cannot set both port name and port number");
	if (num && !json_is_null(num)) {
		b->port.set = true;
		WF_K8S_TRY(wf_k8s_get_port(d, port, "number", true, &b->port.num));
	} else {
		const char *why;
		WF_K8S_TRY(wf_k8s_get_str(d, port, "name", &b->port.str));
		if (!b->port.str)
			return wf_k8s_fail(d, -WF_E_INVALID, "port name or number is required");
		if ((why = wf_k8s_check_port_name(b->port.str)))
			return wf_k8s_fail_key(d, "name", -WF_E_INVALID,
					       "invalid port name \"%s\": %s", b->port.str, why);
		b->port.set = b->port.is_str = true;
	}
	wf_k8s_pop(d);
	wf_k8s_pop(d);
	return 0;
}

static int decode_ingress_path(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	static const char *const types[] = {"Exact", "Prefix", "ImplementationSpecific", NULL};
	struct wf_k8s_ingress_path *p = elem;
	json_t *backend = NULL;
	int type = -1;

	WF_K8S_TRY(wf_k8s_get_str(d, item, "path", &p->path));
	WF_K8S_TRY(wf_k8s_get_enum(d, item, "pathType", types, &type));
	if (type < 0)
		return wf_k8s_fail_key(d, "pathType", -WF_E_INVALID,
				       "required value (Exact, Prefix or ImplementationSpecific)");
	p->path_type = (enum wf_k8s_path_type)type;
	/* HTTPIngressPath: Exact and Prefix paths are absolute. */
	if (p->path_type != WF_K8S_PATH_IMPLEMENTATION_SPECIFIC) {
		if (!p->path || p->path[0] != '/')
			return wf_k8s_fail_key(d, "path", -WF_E_INVALID,
					       "must be an absolute path (start with '/')");
		if (strstr(p->path, "//"))
			return wf_k8s_fail_key(d, "path", -WF_E_INVALID, "must not contain '//'");
	}
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "backend", &backend));
	if (!backend)
		return wf_k8s_fail_key(d, "backend", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "backend");
	WF_K8S_TRY(decode_backend(d, backend, &p->backend));
	wf_k8s_pop(d);
	return 0;
}

static int decode_ingress_rule(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_ingress_rule *rule = elem;
	json_t *http = NULL;
	const char *why;

	WF_K8S_TRY(wf_k8s_get_str(d, item, "host", &rule->host));
	if (rule->host && !*rule->host)
		rule->host = NULL;
	if (rule->host && (why = check_host(rule->host, &rule->wildcard)))
		return wf_k8s_fail_key(d, "host", -WF_E_INVALID, "invalid host \"%s\": %s",
				       rule->host, why);
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "http", &http));
	wf_k8s_push_key(d, "http");
	WF_K8S_TRY(wf_k8s_get_list(d, http, "paths", sizeof(*rule->paths), decode_ingress_path,
				   NULL, &rule->n_paths, (void **)&rule->paths));
	if (http && rule->n_paths == 0)
		return wf_k8s_fail_key(d, "paths", -WF_E_INVALID, "required value");
	wf_k8s_pop(d);
	return 0;
}

static int decode_ingress_tls(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_ingress_tls *t = elem;

	WF_K8S_TRY(wf_k8s_get_str_array(d, item, "hosts", &t->n_hosts, &t->hosts));
	for (size_t i = 0; i < t->n_hosts; i++) {
		bool wild;
		const char *why = check_host(t->hosts[i], &wild);
		if (why) {
			wf_k8s_push_key(d, "hosts");
			wf_k8s_push_index(d, i);
			return wf_k8s_fail(d, -WF_E_INVALID, "invalid host \"%s\": %s", t->hosts[i],
					   why);
		}
	}
	WF_K8S_TRY(wf_k8s_get_str(d, item, "secretName", &t->secret_name));
	return 0;
}

int wf_k8s_decode_ingress(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_ingress *in = wf_k8s_zalloc(d, sizeof(*in));
	json_t *spec = NULL, *def = NULL;

	if (!in)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	if (!spec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(wf_k8s_get_str(d, spec, "ingressClassName", &in->class_name));
	/* The deprecated annotation still names the class when the field is absent. */
	if (!in->class_name)
		in->class_name = wf_k8s_map_get(&obj->annotations, "kubernetes.io/ingress.class");
	WF_K8S_TRY(wf_k8s_get_obj(d, spec, "defaultBackend", &def));
	if (def) {
		struct wf_k8s_ingress_backend *b = wf_k8s_zalloc(d, sizeof(*b));
		if (!b)
			return wf_k8s_oom(d);
		wf_k8s_push_key(d, "defaultBackend");
		WF_K8S_TRY(decode_backend(d, def, b));
		wf_k8s_pop(d);
		in->default_backend = b;
	}
	WF_K8S_TRY(wf_k8s_get_list(d, spec, "rules", sizeof(*in->rules), decode_ingress_rule, NULL,
				   &in->n_rules, (void **)&in->rules));
	if (!def && in->n_rules == 0)
		return wf_k8s_fail(d, -WF_E_INVALID,
				   "either `defaultBackend` or `rules` must be specified");
	WF_K8S_TRY(wf_k8s_get_list(d, spec, "tls", sizeof(*in->tls), decode_ingress_tls, NULL,
				   &in->n_tls, (void **)&in->tls));
	wf_k8s_pop(d);
	obj->ingress = in;
	return 0;
}

int wf_k8s_decode_ingressclass(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_ingressclass *ic = wf_k8s_zalloc(d, sizeof(*ic));
	json_t *spec = NULL;
	const char *def;

	if (!ic)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	if (!spec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(wf_k8s_get_req_str(d, spec, "controller", &ic->controller));
	if (strlen(ic->controller) > 250)
		return wf_k8s_fail_key(d, "controller", -WF_E_INVALID,
				       "must be no more than 250 characters");
	wf_k8s_pop(d);
	def = wf_k8s_map_get(&obj->annotations, "ingressclass.kubernetes.io/is-default-class");
	ic->is_default = def && strcmp(def, "true") == 0;
	obj->ingressclass = ic;
	return 0;
}

/* ---- Secret ---- */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 (RFC 4648 4) with padding, as Secret.data is. Returns the length or -1. */
static ssize_t b64_decode(const char *s, size_t n, uint8_t *out)
{
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0, pad = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=') {
			if (i < n - 2)
				return -1;
			pad++;
			continue;
		}
		int v = b64val((unsigned char)s[i]);
		if (v < 0 || pad)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (ssize_t)o;
}

static bool valid_secret_key(const char *k)
{
	/* validation.IsConfigMapKey: [-._a-zA-Z0-9]+, at most 253 */
	size_t n = strlen(k);

	if (n == 0 || n > 253 || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct wf_k8s_secret_item *)a)->key,
		      ((const struct wf_k8s_secret_item *)b)->key);
}

int wf_k8s_decode_secret(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_secret *s = wf_k8s_zalloc(d, sizeof(*s));
	struct wf_k8s_map data = {0}, sdata = {0};
	size_t n = 0;

	if (!s)
		return wf_k8s_oom(d);
	s->type = "Opaque";
	WF_K8S_TRY(wf_k8s_get_str(d, o, "type", &s->type));
	WF_K8S_TRY(wf_k8s_get_map(d, o, "data", WF_K8S_MAP_ANY, &data));
	WF_K8S_TRY(wf_k8s_get_map(d, o, "stringData", WF_K8S_MAP_ANY, &sdata));
	WF_K8S_TRY(wf_k8s_alloc_array(d, data.n + sdata.n, sizeof(*s->items), (void **)&s->items));
	for (size_t i = 0; i < data.n + sdata.n; i++) {
		bool str = i >= data.n;
		const struct wf_k8s_label *kv = str ? &sdata.items[i - data.n] : &data.items[i];
		const char *field = str ? "stringData" : "data";
		if (!valid_secret_key(kv->key)) {
			wf_k8s_push_key(d, field);
			return wf_k8s_fail_key(
				d, kv->key, -WF_E_INVALID,
				"invalid key \"%s\": must consist of alphanumeric characters, '-', '_' or '.'",
				kv->key);
		}
		size_t len = strlen(kv->value);
		uint8_t *v = wf_arena_alloc(d->a, len + 1);
		if (!v)
			return wf_k8s_oom(d);
		ssize_t got = (ssize_t)len;
		if (str)
			memcpy(v, kv->value, len);
		else
			got = b64_decode(kv->value, len, v);
		if (got < 0) {
			wf_k8s_push_key(d, field);
			return wf_k8s_fail_key(d, kv->key, -WF_E_INVALID, "invalid base64 data");
		}
		v[got] = '\0';
		/* stringData is merged into data and wins (Secret API). */
		struct wf_k8s_secret_item *slot = NULL;
		for (size_t j = 0; j < n; j++)
			if (strcmp(s->items[j].key, kv->key) == 0)
				slot = &s->items[j];
		if (!slot)
			slot = &s->items[n++];
		*slot = (struct wf_k8s_secret_item){kv->key, v, (size_t)got};
	}
	if (n > 1)
		qsort(s->items, n, sizeof(*s->items), item_cmp);
	s->n_items = n;
	if (strcmp(s->type, "kubernetes.io/tls") == 0)
		for (const char *const *k = (const char *const[]){"tls.crt", "tls.key", NULL}; *k;
		     k++)
			if (!wf_k8s_secret_get(s, *k))
				return wf_k8s_fail_key(d, "data", -WF_E_INVALID,
						       "a kubernetes.io/tls secret needs \"%s\"",
						       *k);
	obj->secret = s;
	return 0;
}

/* ---- Gateway ---- */

static int decode_secret_ref(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_secret_ref *r = elem;

	r->group = "";
	r->kind = "Secret";
	WF_K8S_TRY(wf_k8s_get_str(d, item, "group", &r->group));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "kind", &r->kind));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "namespace", &r->namespace));
	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &r->name));
	return 0;
}

static int decode_route_kind(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	return wf_k8s_get_req_str(d, item, "kind", elem);
}

static int decode_listener(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	static const char *const modes[] = {"Terminate", "Passthrough", NULL};
	static const char *const froms[] = {"Same", "All", "Selector", NULL};
	struct wf_k8s_gateway_listener *l = elem;
	json_t *tls = NULL, *allowed = NULL, *ns = NULL;
	const char *why;
	int mode = 0, from = 0;

	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &l->name));
	if ((why = wf_k8s_check_dns_label(l->name)))
		return wf_k8s_fail_key(d, "name", -WF_E_INVALID, "invalid name \"%s\": %s", l->name,
				       why);
	WF_K8S_TRY(wf_k8s_get_str(d, item, "hostname", &l->hostname));
	if (l->hostname) {
		bool wild;
		if ((why = check_host(l->hostname, &wild)))
			return wf_k8s_fail_key(d, "hostname", -WF_E_INVALID,
					       "invalid hostname \"%s\": %s", l->hostname, why);
	}
	WF_K8S_TRY(wf_k8s_get_port(d, item, "port", true, &l->port));
	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "protocol", &l->protocol));
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "tls", &tls));
	if (tls) {
		wf_k8s_push_key(d, "tls");
		WF_K8S_TRY(wf_k8s_get_enum(d, tls, "mode", modes, &mode));
		l->tls_mode = modes[mode];
		WF_K8S_TRY(wf_k8s_get_list(d, tls, "certificateRefs", sizeof(*l->certificate_refs),
					   decode_secret_ref, NULL, &l->n_certificate_refs,
					   (void **)&l->certificate_refs));
		wf_k8s_pop(d);
	}
	/* GatewayTLSConfig: HTTPS and TLS-terminating listeners need a certificate. */
	if (strcmp(l->protocol, "HTTPS") == 0 &&
	    (!tls || (mode == 0 && l->n_certificate_refs == 0)))
		return wf_k8s_fail_key(d, "tls", -WF_E_INVALID,
				       "an HTTPS listener needs tls.certificateRefs");
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "allowedRoutes", &allowed));
	wf_k8s_push_key(d, "allowedRoutes");
	WF_K8S_TRY(wf_k8s_get_obj(d, allowed, "namespaces", &ns));
	wf_k8s_push_key(d, "namespaces");
	WF_K8S_TRY(wf_k8s_get_enum(d, ns, "from", froms, &from));
	l->routes_from = (enum wf_k8s_routes_from)from;
	WF_K8S_TRY(wf_k8s_get_selector(d, ns, "selector", &l->routes_selector));
	if (l->routes_from == WF_K8S_FROM_SELECTOR && !l->routes_selector.present)
		return wf_k8s_fail_key(d, "selector", -WF_E_INVALID,
				       "required value when from is Selector");
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_list(d, allowed, "kinds", sizeof(*l->route_kinds), decode_route_kind,
				   NULL, &l->n_route_kinds, (void **)&l->route_kinds));
	wf_k8s_pop(d);
	return 0;
}

int wf_k8s_decode_gateway(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_gateway *g = wf_k8s_zalloc(d, sizeof(*g));
	json_t *spec = NULL;

	if (!g)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	if (!spec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(wf_k8s_get_req_str(d, spec, "gatewayClassName", &g->gateway_class_name));
	WF_K8S_TRY(wf_k8s_get_list(d, spec, "listeners", sizeof(*g->listeners), decode_listener,
				   NULL, &g->n_listeners, (void **)&g->listeners));
	if (g->n_listeners == 0 || g->n_listeners > 64)
		return wf_k8s_fail_key(d, "listeners", -WF_E_INVALID,
				       g->n_listeners ? "must have at most 64 items"
						      : "required value");
	for (size_t i = 0; i < g->n_listeners; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(g->listeners[i].name, g->listeners[j].name) == 0) {
				wf_k8s_push_key(d, "listeners");
				wf_k8s_push_index(d, i);
				return wf_k8s_fail_key(d, "name", -WF_E_INVALID,
						       "duplicate listener name \"%s\"",
						       g->listeners[i].name);
			}
	wf_k8s_pop(d);
	obj->gateway = g;
	return 0;
}

/* ---- HTTPRoute ---- */

/* Gateway API Duration: ^([0-9]{1,5}(h|m|s|ms)){1,4}$ (GEP-2257). Returns ms, or -1. */
static int64_t parse_duration(const char *s)
{
	int64_t total = 0;
	unsigned parts = 0;

	if (!*s)
		return -1;
	while (*s) {
		int64_t v = 0;
		unsigned digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 6) {
			v = v * 10 + (*s++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 5 || ++parts > 4)
			return -1;
		if (strncmp(s, "ms", 2) == 0) {
			s += 2;
		} else if (*s == 'h') {
			v *= 3600000;
			s++;
		} else if (*s == 'm') {
			v *= 60000;
			s++;
		} else if (*s == 's') {
			v *= 1000;
			s++;
		} else {
			return -1;
		}
		total += v;
	}
	return total;
}

static int decode_kv_match(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	static const char *const types[] = {"Exact", "RegularExpression", NULL};
	struct wf_k8s_http_kv_match *m = elem;
	int type = 0;

	WF_K8S_TRY(wf_k8s_get_enum(d, item, "type", types, &type));
	m->type = (enum wf_k8s_http_value_match)type;
	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &m->name));
	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "value", &m->value));
	return 0;
}

static int decode_http_match(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	static const char *const types[] = {"PathPrefix", "Exact", "RegularExpression", NULL};
	static const char *const methods[] = {"GET",	 "HEAD",    "POST",  "PUT",   "DELETE",
					      "CONNECT", "OPTIONS", "TRACE", "PATCH", NULL};
	struct wf_k8s_http_match *m = elem;
	json_t *path = NULL;
	int type = 0, method = -1;

	m->path = "/";
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "path", &path));
	wf_k8s_push_key(d, "path");
	WF_K8S_TRY(wf_k8s_get_enum(d, path, "type", types, &type));
	m->path_type = (enum wf_k8s_http_path_match)type;
	WF_K8S_TRY(wf_k8s_get_str(d, path, "value", &m->path));
	if (m->path_type != WF_K8S_HTTP_PATH_REGEX && m->path[0] != '/')
		return wf_k8s_fail_key(d, "value", -WF_E_INVALID,
				       "must be an absolute path (start with '/')");
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_list(d, item, "headers", sizeof(*m->headers), decode_kv_match, NULL,
				   &m->n_headers, (void **)&m->headers));
	WF_K8S_TRY(wf_k8s_get_list(d, item, "queryParams", sizeof(*m->query_params),
				   decode_kv_match, NULL, &m->n_query_params,
				   (void **)&m->query_params));
	WF_K8S_TRY(wf_k8s_get_enum(d, item, "method", methods, &method));
	if (method >= 0)
		m->method = methods[method];
	return 0;
}

static int decode_header(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_http_header *h = elem;

	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &h->name));
	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "value", &h->value));
	return 0;
}

static int decode_backend_ref(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_http_backend_ref *b = elem;
	bool has_port = false;

	b->group = "";
	b->kind = "Service";
	b->weight = 1;
	WF_K8S_TRY(wf_k8s_get_str(d, item, "group", &b->group));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "kind", &b->kind));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "namespace", &b->namespace));
	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &b->name));
	WF_K8S_TRY(wf_k8s_get_i32(d, item, "port", 1, 65535, &b->port, &has_port));
	/* BackendRef: port is required when the referent is a Kubernetes Service. */
	if (!has_port && !*b->group && strcmp(b->kind, "Service") == 0)
		return wf_k8s_fail_key(d, "port", -WF_E_INVALID,
				       "required value when the backend is a Service");
	WF_K8S_TRY(wf_k8s_get_i32(d, item, "weight", 0, 1000000, &b->weight, NULL));
	return 0;
}

static int decode_path_modifier(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_http_filter *f)
{
	static const char *const types[] = {"ReplaceFullPath", "ReplacePrefixMatch", NULL};
	json_t *path = NULL;
	int type = -1;

	WF_K8S_TRY(wf_k8s_get_obj(d, o, "path", &path));
	if (!path)
		return 0;
	wf_k8s_push_key(d, "path");
	WF_K8S_TRY(wf_k8s_get_enum(d, path, "type", types, &type));
	if (type < 0)
		return wf_k8s_fail_key(d, "type", -WF_E_INVALID, "required value");
	f->path_modifier = type == 0 ? WF_K8S_HTTP_PATH_MOD_FULL : WF_K8S_HTTP_PATH_MOD_PREFIX;
	const char *key = type == 0 ? "replaceFullPath" : "replacePrefixMatch";
	WF_K8S_TRY(wf_k8s_get_req_str(d, path, key, &f->path_value));
	wf_k8s_pop(d);
	return 0;
}

static int decode_filter(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	static const char *const types[] = {"RequestHeaderModifier",
					    "ResponseHeaderModifier",
					    "RequestRedirect",
					    "URLRewrite",
					    "RequestMirror",
					    "ExtensionRef",
					    NULL};
	static const char *const fields[] = {"requestHeaderModifier", "responseHeaderModifier",
					     "requestRedirect",	      "urlRewrite",
					     "requestMirror",	      "extensionRef"};
	static const char *const schemes[] = {"http", "https", NULL};
	struct wf_k8s_http_filter *f = elem;
	json_t *o = NULL, *ref = NULL;
	int type = -1, scheme = -1;

	WF_K8S_TRY(wf_k8s_get_enum(d, item, "type", types, &type));
	if (type < 0)
		return wf_k8s_fail_key(d, "type", -WF_E_INVALID, "required value");
	f->type = (enum wf_k8s_http_filter_type)type;
	WF_K8S_TRY(wf_k8s_get_obj(d, item, fields[type], &o));
	/* HTTPRouteFilter: the field named by type must be set. */
	if (!o)
		return wf_k8s_fail_key(d, fields[type], -WF_E_INVALID,
				       "required value for filter type %s", types[type]);
	wf_k8s_push_key(d, fields[type]);
	switch (f->type) {
	case WF_K8S_HTTP_FILTER_REQUEST_HEADER_MODIFIER:
	case WF_K8S_HTTP_FILTER_RESPONSE_HEADER_MODIFIER:
		WF_K8S_TRY(wf_k8s_get_list(d, o, "set", sizeof(*f->set), decode_header, NULL,
					   &f->n_set, (void **)&f->set));
		WF_K8S_TRY(wf_k8s_get_list(d, o, "add", sizeof(*f->add), decode_header, NULL,
					   &f->n_add, (void **)&f->add));
		WF_K8S_TRY(wf_k8s_get_str_array(d, o, "remove", &f->n_remove, &f->remove));
		break;
	case WF_K8S_HTTP_FILTER_REQUEST_REDIRECT:
		f->status_code = 302;
		WF_K8S_TRY(wf_k8s_get_enum(d, o, "scheme", schemes, &scheme));
		if (scheme >= 0)
			f->scheme = schemes[scheme];
		WF_K8S_TRY(wf_k8s_get_str(d, o, "hostname", &f->hostname));
		WF_K8S_TRY(decode_path_modifier(d, o, f));
		WF_K8S_TRY(wf_k8s_get_i32(d, o, "port", 1, 65535, &f->port, NULL));
		WF_K8S_TRY(wf_k8s_get_i32(d, o, "statusCode", 301, 302, &f->status_code, NULL));
		break;
	case WF_K8S_HTTP_FILTER_URL_REWRITE:
		WF_K8S_TRY(wf_k8s_get_str(d, o, "hostname", &f->hostname));
		WF_K8S_TRY(decode_path_modifier(d, o, f));
		break;
	case WF_K8S_HTTP_FILTER_REQUEST_MIRROR:
		WF_K8S_TRY(wf_k8s_get_obj(d, o, "backendRef", &ref));
		if (!ref)
			return wf_k8s_fail_key(d, "backendRef", -WF_E_INVALID, "required value");
		wf_k8s_push_key(d, "backendRef");
		WF_K8S_TRY(decode_backend_ref(d, ref, &f->mirror, NULL));
		wf_k8s_pop(d);
		break;
	case WF_K8S_HTTP_FILTER_EXTENSION_REF:
		break;
	}
	wf_k8s_pop(d);
	return 0;
}

static int default_match(struct wf_k8s_dctx *d, struct wf_k8s_http_rule *rule)
{
	/* HTTPRouteRule: matches default to [{path: {type: PathPrefix, value: /}}]. */
	rule->matches = wf_k8s_zalloc(d, sizeof(*rule->matches));
	if (!rule->matches)
		return wf_k8s_oom(d);
	rule->matches[0].path_type = WF_K8S_HTTP_PATH_PREFIX;
	rule->matches[0].path = "/";
	rule->n_matches = 1;
	return 0;
}

static int get_duration(struct wf_k8s_dctx *d, json_t *o, const char *key, const char **str,
			int64_t *ms)
{
	*ms = -1;
	WF_K8S_TRY(wf_k8s_get_str(d, o, key, str));
	if (*str && (*ms = parse_duration(*str)) < 0)
		return wf_k8s_fail_key(
			d, key, -WF_E_INVALID,
			"invalid duration \"%s\" (e.g. \"10s\", \"1m30s\", \"500ms\")", *str);
	return 0;
}

static int decode_http_rule(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_http_rule *rule = elem;
	json_t *t = NULL;

	WF_K8S_TRY(wf_k8s_get_list(d, item, "matches", sizeof(*rule->matches), decode_http_match,
				   NULL, &rule->n_matches, (void **)&rule->matches));
	if (rule->n_matches == 0)
		WF_K8S_TRY(default_match(d, rule));
	WF_K8S_TRY(wf_k8s_get_list(d, item, "filters", sizeof(*rule->filters), decode_filter, NULL,
				   &rule->n_filters, (void **)&rule->filters));
	WF_K8S_TRY(wf_k8s_get_list(d, item, "backendRefs", sizeof(*rule->backend_refs),
				   decode_backend_ref, NULL, &rule->n_backend_refs,
				   (void **)&rule->backend_refs));
	rule->timeout_request_ms = rule->timeout_backend_request_ms = -1;
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "timeouts", &t));
	wf_k8s_push_key(d, "timeouts");
	WF_K8S_TRY(
		get_duration(d, t, "request", &rule->timeout_request, &rule->timeout_request_ms));
	WF_K8S_TRY(get_duration(d, t, "backendRequest", &rule->timeout_backend_request,
				&rule->timeout_backend_request_ms));
	/* HTTPRouteTimeouts: backendRequest may not exceed request (0 = no timeout). */
	if (rule->timeout_request_ms > 0 && rule->timeout_backend_request_ms > 0 &&
	    rule->timeout_backend_request_ms > rule->timeout_request_ms)
		return wf_k8s_fail_key(d, "backendRequest", -WF_E_INVALID,
				       "must be less than or equal to request timeout");
	wf_k8s_pop(d);
	return 0;
}

static int decode_parent_ref(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_parent_ref *p = elem;

	p->group = "gateway.networking.k8s.io";
	p->kind = "Gateway";
	WF_K8S_TRY(wf_k8s_get_str(d, item, "group", &p->group));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "kind", &p->kind));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "namespace", &p->namespace));
	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &p->name));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "sectionName", &p->section_name));
	WF_K8S_TRY(wf_k8s_get_i32(d, item, "port", 1, 65535, &p->port, NULL));
	return 0;
}

int wf_k8s_decode_httproute(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_httproute *hr = wf_k8s_zalloc(d, sizeof(*hr));
	json_t *spec = NULL;

	if (!hr)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	if (!spec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(wf_k8s_get_list(d, spec, "parentRefs", sizeof(*hr->parent_refs),
				   decode_parent_ref, NULL, &hr->n_parent_refs,
				   (void **)&hr->parent_refs));
	WF_K8S_TRY(wf_k8s_get_str_array(d, spec, "hostnames", &hr->n_hostnames, &hr->hostnames));
	for (size_t i = 0; i < hr->n_hostnames; i++) {
		bool wild;
		const char *why = check_host(hr->hostnames[i], &wild);
		if (why) {
			wf_k8s_push_key(d, "hostnames");
			wf_k8s_push_index(d, i);
			return wf_k8s_fail(d, -WF_E_INVALID, "invalid hostname \"%s\": %s",
					   hr->hostnames[i], why);
		}
	}
	WF_K8S_TRY(wf_k8s_get_list(d, spec, "rules", sizeof(*hr->rules), decode_http_rule, NULL,
				   &hr->n_rules, (void **)&hr->rules));
	if (hr->n_rules == 0) {
		/* HTTPRouteSpec: rules default to one rule matching PathPrefix "/". */
		hr->rules = wf_k8s_zalloc(d, sizeof(*hr->rules));
		if (!hr->rules)
			return wf_k8s_oom(d);
		hr->n_rules = 1;
		hr->rules[0].timeout_request_ms = hr->rules[0].timeout_backend_request_ms = -1;
		WF_K8S_TRY(default_match(d, &hr->rules[0]));
	}
	wf_k8s_pop(d);
	obj->httproute = hr;
	return 0;
}
