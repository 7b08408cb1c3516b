/* weft lab: loading manifests (YAML or JSON) and the checks only the lab can make.
 *
 * A file is read once, by the shared object model (wf_k8s_parse_docs: syntax, kinds, every field
 * and type, with file:line:col and the field path), which also hands over the jansson documents
 * it decoded, because the lab's control plane stores and rewrites objects as JSON as an API
 * server does. What is left here is what the API server's allocators and
 * admission know: the kinds the lab runs, ClusterIPs and NodePorts (range, taken, immutable),
 * nodes, and what a container runs. Their diagnostics find the offending field's line with
 * wf_yj_locate on the error path; nothing is recorded per value on the success path. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "k8s/object.h"
#include "lab/lab-internal.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/ip.h"
#include "lib/yaml-json.h"

/* Steps of a diagnostic path from a document root: items[i] plus a field path. */
#define PATH_STEPS_MAX 32

struct load {
	struct wf_lab_docs *docs;
	unsigned src;
};

static int push_doc(struct load *l, json_t *obj, unsigned index, long item, unsigned line)
{
	struct wf_lab_docs *docs = l->docs;
	struct wf_lab_doc *nv = docs->v;

	/* grown by doubling: a reload reads every object the lab holds */
	if (docs->n == docs->cap) {
		size_t cap = docs->cap ? docs->cap * 2 : 16;

		nv = wf_reallocarray(docs->v, cap, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		docs->v = nv;
		docs->cap = cap;
	}
	nv[docs->n] = (struct wf_lab_doc){
		.obj = json_incref(obj),
		.src = l->src,
		.index = index,
		.item = item,
		.line = line,
	};
	docs->n++;
	return 0;
}

/* kind: List (and FooList), as wf_k8s_parse reads it: its items are the objects. */
static bool is_list(json_t *doc)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	size_t n = kind ? strlen(kind) : 0;

	return n >= 4 && !strcmp(kind + n - 4, "List");
}

/* One document of the text, handed over by wf_k8s_parse_docs once it has decoded it: a mapping,
 * or a List of them. */
static int on_doc(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	struct load *l = userdata;
	json_t *item;
	size_t i;
	int r;

	if (!is_list(doc))
		return push_doc(l, doc, info->index, -1, info->line);
	json_array_foreach(json_object_get(doc, "items"), i, item)
	{
		unsigned line =
			info->item_lines && i < info->n_items ? info->item_lines[i] : info->line;

		r = push_doc(l, item, info->index, (long)i, line);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Checks then reads text (wf_malloc'd, NUL at text[len]), which it takes whatever happens. One
 * pass over the text gives both the model's verdict and the JSON documents the lab keeps. */
static int load_owned(char *text, size_t len, const char *name, struct wf_lab_docs *docs, char *err,
		      size_t errlen)
{
	struct wf_k8s_parse_result res = {0};
	struct load l = {.docs = docs, .src = (unsigned)docs->n_src};
	size_t n0 = docs->n;
	struct wf_lab_src *ns;
	struct wf_diag diag;
	int r;

	wf_diag_clear(&diag);
	ns = docs->src;
	if (docs->n_src == docs->cap_src) {
		size_t cap = docs->cap_src ? docs->cap_src * 2 : 16;

		ns = wf_reallocarray(docs->src, cap, sizeof(*ns));
		if (!ns)
			goto oom_text;
		docs->src = ns;
		docs->cap_src = cap;
	}
	/* The one validator: what it refuses, the node agents and weft dns would refuse too. */
	r = wf_k8s_parse_docs(text, len, name, on_doc, &l, &res, &diag);
	if (r < 0) {
		/* all or nothing per file */
		while (docs->n > n0)
			json_decref(docs->v[--docs->n].obj);
		if (!diag.msg[0])
			wf_diag_set(&diag, name, 0, 0, NULL, "%s", wf_strerror(r));
		goto fail_text;
	}
	wf_k8s_parse_result_done(&res);
	/* kept for wf_yj_locate on the error path of wf_lab_manifest_validate */
	ns[l.src] = (struct wf_lab_src){.name = wf_strdup(name), .text = text, .len = len};
	if (!ns[l.src].name) {
		while (docs->n > n0)
			json_decref(docs->v[--docs->n].obj);
		goto oom_text;
	}
	docs->n_src++;
	return 0;
oom_text:
	r = -ENOMEM;
	wf_diag_set(&diag, name, 0, 0, NULL, "out of memory");
fail_text:
	wf_diag_format(&diag, err, errlen);
	wf_free(text);
	return r;
}

int wf_lab_manifest_load_text(const char *text, const char *name, struct wf_lab_docs *docs,
			      char *err, size_t errlen)
{
	size_t len = strlen(text);
	char *copy = wf_memdup(text, len + 1);

	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	return load_owned(copy, len, name, docs, err, errlen);
}

static int load_file(const char *path, struct wf_lab_docs *docs, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int r = wf_lab_read_file(path, &text, &len);

	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	return load_owned(text, len, path, docs, err, errlen);
}

static int namecmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int wf_lab_manifest_load(const char *path, struct wf_lab_docs *docs, char *err, size_t errlen)
{
	struct dirent **list;
	struct stat st;
	int n, r = 0;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return load_file(path, docs, err, errlen);
	n = scandir(path, &list, NULL, namecmp);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		const char *f = list[i]->d_name;
		size_t l = strlen(f);
		char sub[4200];

		if (r == 0 && f[0] != '.' &&
		    ((l > 5 && !strcmp(f + l - 5, ".yaml")) ||
		     (l > 4 && !strcmp(f + l - 4, ".yml")) ||
		     (l > 5 && !strcmp(f + l - 5, ".json")))) {
			snprintf(sub, sizeof(sub), "%s/%s", path, f);
			r = load_file(sub, docs, err, errlen);
		}
		free(list[i]);
	}
	free(list);
	return r;
}

void wf_lab_docs_done(struct wf_lab_docs *docs)
{
	for (size_t i = 0; i < docs->n; i++)
		json_decref(docs->v[i].obj);
	wf_free(docs->v);
	for (size_t i = 0; i < docs->n_src; i++) {
		wf_free(docs->src[i].name);
		wf_free(docs->src[i].text);
	}
	wf_free(docs->src);
	memset(docs, 0, sizeof(*docs));
}

static bool cluster_scoped(const char *kind)
{
	return !strcmp(kind, "Namespace") || !strcmp(kind, "Node") ||
	       !strcmp(kind, "IngressClass") || !strcmp(kind, "GatewayClass");
}

void wf_lab_object_file(const json_t *obj, char *buf, size_t size)
{
	const char *kind = json_string_value(json_object_get(obj, "kind")) ?: "";
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace")) ?: "";
	const char *name = json_string_value(json_object_get(md, "name")) ?: "";
	char lk[64];
	size_t i;

	for (i = 0; kind[i] && i < sizeof(lk) - 1; i++)
		lk[i] = (kind[i] >= 'A' && kind[i] <= 'Z') ? kind[i] + 32 : kind[i];
	lk[i] = '\0';
	snprintf(buf, size, "%s_%s_%s.json", lk, cluster_scoped(kind) ? "" : ns, name);
}

/* ---- the lab's own checks (what an API server's allocators and admission know) ---- */

struct vctx {
	const struct wf_lab *lab;
	struct wf_lab_docs *docs;
	size_t doc;
	char *err;
	size_t errlen;
};

/* "spec.ports[1].nodePort" into steps; keys point into buf. Returns the number of steps. */
static size_t path_steps(const char *path, char *buf, size_t size, struct wf_yj_step *steps,
			 size_t max)
{
	char *p = buf;
	size_t n = 0;

	snprintf(buf, size, "%s", path);
	while (*p && n < max) {
		size_t k = strcspn(p, ".[");
		char sep = p[k];

		if (k)
			steps[n++] = (struct wf_yj_step){.key = p};
		p[k] = '\0';
		p += k + (sep != '\0');
		while (sep == '[' && n < max) {
			steps[n++] = (struct wf_yj_step){.index = strtoul(p, &p, 10)};
			p += *p == ']';
			sep = *p;
			p += sep == '.' || sep == '[';
		}
	}
	return n;
}

/* Fills err with "file:line:col: path: message", the position being that of the field at path
 * in the document's text (or of the deepest part of path that exists). Returns code. */
static int verr(struct vctx *c, int code, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int verr(struct vctx *c, int code, const char *path, const char *fmt, ...)
{
	const struct wf_lab_doc *d = &c->docs->v[c->doc];
	const struct wf_lab_src *s = &c->docs->src[d->src];
	struct wf_yj_step steps[PATH_STEPS_MAX];
	char buf[WF_DIAG_PATH_MAX];
	unsigned line = d->line, col = 0;
	struct wf_diag diag;
	size_t n = 0;
	va_list ap;

	if (d->item >= 0) {
		steps[n++] = (struct wf_yj_step){.key = "items"};
		steps[n++] = (struct wf_yj_step){.index = (size_t)d->item};
	}
	n += path_steps(path, buf, sizeof(buf), steps + n, PATH_STEPS_MAX - n);
	if (wf_yj_locate(s->text, s->len, d->index, steps, n, &line, &col) < 0) {
		line = d->line;
		col = 0;
	}
	va_start(ap, fmt);
	wf_diag_setv(&diag, s->name, line, col, path, fmt, ap);
	va_end(ap);
	wf_diag_format(&diag, c->err, c->errlen);
	return code;
}

static bool has_value(json_t *v)
{
	return v && !json_is_null(v) && (!json_is_string(v) || json_string_length(v)) &&
	       (!json_is_array(v) || json_array_size(v));
}

/* Checks a pod spec wf_k8s_parse has accepted against the lab: its nodes, what it can run. */
static int check_pod_spec(struct vctx *c, json_t *spec, const char *path)
{
	json_t *ctrs = json_object_get(spec, "containers"), *ctr, *node;
	char sub[256];
	size_t i;

	if (json_array_size(ctrs) > 8) {
		snprintf(sub, sizeof(sub), "%s.containers", path);
		return verr(c, -WF_E_INVALID, sub, "the lab runs at most 8 containers per pod");
	}
	node = json_object_get(spec, "nodeName");
	/* "" too: the control plane pins a pod to whatever nodeName says */
	if (node && !json_is_null(node)) {
		const char *n = json_string_value(node);
		unsigned idx = 0;
		char tail;

		if (sscanf(n, "node-%u%c", &idx, &tail) != 1 || idx < 1 || idx > c->lab->nodes) {
			snprintf(sub, sizeof(sub), "%s.nodeName", path);
			return verr(
				c, -WF_E_INVALID, sub,
				"node \"%s\" does not exist in lab \"%s\" (its nodes are node-1 "
				"... node-%u)",
				n, c->lab->name, c->lab->nodes);
		}
	}
	json_array_foreach(ctrs, i, ctr)
	{
		/* The lab runs a container's command, or the program behind a known image. */
		if (has_value(json_object_get(ctr, "image")) ||
		    has_value(json_object_get(ctr, "command")))
			continue;
		snprintf(sub, sizeof(sub), "%s.containers[%zu].image", path, i);
		return verr(c, -WF_E_INVALID, sub,
			    "required value (the lab runs the container's command, or the image "
			    "\"%s\")",
			    WF_LAB_ECHO_IMAGE);
	}
	return 0;
}

static void service_key(json_t *svc, char *buf, size_t size)
{
	json_t *md = json_object_get(svc, "metadata");

	snprintf(buf, size, "%s/%s",
		 json_string_value(json_object_get(md, "namespace")) ?: "default",
		 json_string_value(json_object_get(md, "name")) ?: "");
}

/* The Service of objects other than self (ns/name) that holds clusterIP ip (when ip is not
 * NULL) or nodePort port; its ns/name goes into owner. */
static bool taken_by(json_t *objects, const char *self, const char *ip, long long port, char *owner,
		     size_t size)
{
	size_t i, j;
	json_t *o, *p;

	json_array_foreach(objects, i, o)
	{
		json_t *spec = json_object_get(o, "spec");

		if (strcmp(json_string_value(json_object_get(o, "kind")) ?: "", "Service"))
			continue;
		service_key(o, owner, size);
		if (!strcmp(owner, self))
			continue;
		if (ip && !strcmp(json_string_value(json_object_get(spec, "clusterIP")) ?: "", ip))
			return true;
		if (!ip)
			json_array_foreach(json_object_get(spec, "ports"), j, p)
			{
				if (json_integer_value(json_object_get(p, "nodePort")) == port)
					return true;
			}
	}
	return false;
}

/* The ClusterIP allocator: immutable once allocated, inside the service CIDR, not taken. */
static int check_cluster_ip(struct vctx *c, json_t *current, const char *self, const char *cip)
{
	struct wf_cidr range;
	struct wf_ip ip;
	char owner[300];
	size_t i;
	json_t *o;

	/* Service: spec.clusterIP is immutable once allocated (set, and not being cleared) */
	json_array_foreach(current, i, o)
	{
		const char *have =
			json_string_value(json_object_get(json_object_get(o, "spec"), "clusterIP"));

		service_key(o, owner, sizeof(owner));
		if (strcmp(json_string_value(json_object_get(o, "kind")) ?: "", "Service") ||
		    strcmp(owner, self) || !have || !strcmp(have, cip))
			continue;
		return verr(c, -WF_E_INVALID, "spec.clusterIP",
			    "Invalid value: \"%s\": field is immutable (the Service has %s)", cip,
			    have);
	}
	if (!strcmp(cip, "None"))
		return 0;
	wf_cidr_parse(WF_LAB_SERVICE_CIDR, true, &range);
	if (wf_ip_parse(cip, &ip) < 0 || !wf_cidr_contains(&range, &ip))
		return verr(c, -WF_E_INVALID, "spec.clusterIP",
			    "Invalid value: \"%s\": provided IP is not in the valid range. The "
			    "range of valid IPs is %s",
			    cip, WF_LAB_SERVICE_CIDR);
	if (taken_by(current, self, cip, 0, owner, sizeof(owner)))
		return verr(c, -WF_E_CONFLICT, "spec.clusterIP",
			    "Invalid value: \"%s\": provided IP is already allocated (to %s)", cip,
			    owner);
	return 0;
}

/* The lab's LoadBalancer pool, hosts of the underlay /24 (lab-ctl.c allocates from it). */
#define LB_POOL_FIRST 200
#define LB_POOL_LAST 249

/* The LB IPAM: spec.loadBalancerIP (deprecated upstream, still what MetalLB and Cilium honour)
 * must be in the pool and not held by another Service, requested or allocated. */
static int check_lb_ip(struct vctx *c, json_t *current, const char *self, const char *want)
{
	char owner[300], lo[20], hi[20];
	unsigned a0, a1, a2, a3;
	size_t i;
	json_t *o;
	char tail;

	snprintf(lo, sizeof(lo), "172.30.%u.%u", c->lab->subnet, LB_POOL_FIRST);
	snprintf(hi, sizeof(hi), "172.30.%u.%u", c->lab->subnet, LB_POOL_LAST);
	if (sscanf(want, "%u.%u.%u.%u%c", &a0, &a1, &a2, &a3, &tail) != 4 || a0 != 172 ||
	    a1 != 30 || a2 != c->lab->subnet || a3 < LB_POOL_FIRST || a3 > LB_POOL_LAST)
		return verr(c, -WF_E_INVALID, "spec.loadBalancerIP",
			    "Invalid value: \"%s\": provided IP is not in the LoadBalancer pool. "
			    "The range of valid IPs is %s-%s",
			    want, lo, hi);
	json_array_foreach(current, i, o)
	{
		json_t *spec = json_object_get(o, "spec"), *ing;
		const char *held;

		if (strcmp(json_string_value(json_object_get(o, "kind")) ?: "", "Service"))
			continue;
		service_key(o, owner, sizeof(owner));
		if (!strcmp(owner, self))
			continue;
		ing = json_object_get(json_object_get(json_object_get(o, "status"), "loadBalancer"),
				      "ingress");
		held = json_string_value(json_object_get(json_array_get(ing, 0), "ip"));
		if ((held && !strcmp(held, want)) ||
		    !strcmp(json_string_value(json_object_get(spec, "loadBalancerIP")) ?: "", want))
			return verr(
				c, -WF_E_CONFLICT, "spec.loadBalancerIP",
				"Invalid value: \"%s\": provided IP is already allocated (to %s)",
				want, owner);
	}
	return 0;
}

/* The NodePort allocator: in range, not taken. (nodePort 0 is unset: the lab allocates.) */
static int check_service(struct vctx *c, json_t *obj, json_t *current)
{
	json_t *spec = json_object_get(obj, "spec"), *p;
	const char *cip = json_string_value(json_object_get(spec, "clusterIP"));
	const char *lbip = json_string_value(json_object_get(spec, "loadBalancerIP"));
	const char *type = json_string_value(json_object_get(spec, "type")) ?: "";
	char self[300], owner[300], sub[128];
	size_t i;
	int r;

	service_key(obj, self, sizeof(self));
	if (cip && *cip) {
		r = check_cluster_ip(c, current, self, cip);
		if (r < 0)
			return r;
	}
	if (lbip && *lbip && !strcmp(type, "LoadBalancer") &&
	    !json_object_get(spec, "loadBalancerClass")) {
		r = check_lb_ip(c, current, self, lbip);
		if (r < 0)
			return r;
	}
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		long long np = json_integer_value(json_object_get(p, "nodePort"));

		if (!np)
			continue;
		snprintf(sub, sizeof(sub), "spec.ports[%zu].nodePort", i);
		if (np < WF_LAB_NODEPORT_MIN || np > WF_LAB_NODEPORT_MAX)
			return verr(c, -WF_E_INVALID, sub,
				    "Invalid value: %lld: provided port is not in the valid range. "
				    "The range of valid ports is %d-%d",
				    np, WF_LAB_NODEPORT_MIN, WF_LAB_NODEPORT_MAX);
		if (taken_by(current, self, NULL, np, owner, sizeof(owner)))
			return verr(
				c, -WF_E_CONFLICT, sub,
				"Invalid value: %lld: provided port is already allocated (to %s)",
				np, owner);
	}
	return 0;
}

/* Kinds the object model does not decode (wf_k8s_parse skips them) but the lab stores, in files
 * named after them: their names are checked here. */
static int check_untyped(struct vctx *c, const char *kind, json_t *md)
{
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *why;

	if (!name || !*name)
		return verr(c, -WF_E_INVALID, "metadata.name", "required value");
	if ((why = wf_k8s_check_dns_subdomain(name)))
		return verr(c, -WF_E_INVALID, "metadata.name", "invalid name \"%s\": %s", name,
			    why);
	if (!cluster_scoped(kind) && ns && *ns && (why = wf_k8s_check_dns_label(ns)))
		return verr(c, -WF_E_INVALID, "metadata.namespace", "invalid namespace \"%s\": %s",
			    ns, why);
	return 0;
}

static int check_doc(struct vctx *c, json_t *obj, json_t *current)
{
	static const char *const known[] = {
		"Namespace",	 "Pod",		 "Service",	 "Deployment", "EndpointSlice",
		"NetworkPolicy", "Ingress",	 "IngressClass", "Secret",     "ConfigMap",
		"Gateway",	 "GatewayClass", "HTTPRoute",	 NULL};
	const char *kind = json_string_value(json_object_get(obj, "kind")) ?: "";
	json_t *md = json_object_get(obj, "metadata"), *spec = json_object_get(obj, "spec");
	enum wf_k8s_kind k;
	size_t i;
	int r;

	for (i = 0; known[i] && strcmp(kind, known[i]); i++)
		;
	if (!known[i])
		return verr(c, -WF_E_UNKNOWN_KIND, "kind", "kind \"%s\" is not known to weft lab",
			    kind);
	if (wf_k8s_kind_lookup(kind, &k) < 0) {
		r = check_untyped(c, kind, md);
		if (r < 0)
			return r;
	}
	/* kubectl apply: an object without a namespace lands in "default" */
	if (!cluster_scoped(kind) && !has_value(json_object_get(md, "namespace")) &&
	    json_object_set_new(md, "namespace", json_string("default")) < 0)
		return -ENOMEM;
	if (!strcmp(kind, "Pod"))
		return check_pod_spec(c, spec, "spec");
	if (!strcmp(kind, "Deployment")) {
		if (json_integer_value(json_object_get(spec, "replicas")) > 500)
			return verr(c, -WF_E_INVALID, "spec.replicas",
				    "the lab runs at most 500 replicas of a Deployment");
		return check_pod_spec(c, json_object_get(json_object_get(spec, "template"), "spec"),
				      "spec.template.spec");
	}
	if (!strcmp(kind, "Service")) {
		r = check_service(c, obj, current);
		/* Services of this batch count as taken too: two new ones may not share an IP. */
		if (r == 0 && json_array_append(current, obj) < 0)
			return -ENOMEM;
		return r;
	}
	return 0;
}

int wf_lab_manifest_validate(const struct wf_lab *lab, struct wf_lab_docs *docs, char *err,
			     size_t errlen)
{
	struct vctx c = {.lab = lab, .docs = docs, .err = err, .errlen = errlen};
	json_t *current = lab->dir[0] ? wf_lab_objects_load(lab) : NULL;
	int r = 0;

	if (!current)
		current = json_array();
	if (!current)
		r = -ENOMEM;
	for (c.doc = 0; c.doc < docs->n && r == 0; c.doc++)
		r = check_doc(&c, docs->v[c.doc].obj, current);
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	json_decref(current);
	return r;
}
