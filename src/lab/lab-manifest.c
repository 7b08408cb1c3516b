/* weft lab: loading manifests (YAML or JSON) with line numbers, and checking them as the API
 * server would before the lab accepts them.
 *
 * The YAML reader here is the lab's own small libyaml-to-jansson converter, kept because it
 * records the line of every value for diagnostics; it resolves plain scalars as YAML 1.1 does
 * (null/~, true/false/yes/no/on/off, integers, floats). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "lab/lab-internal.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/ip.h"
#include "k8s/object.h"

static int add_line(struct wf_lab_docs *docs, const json_t *v, unsigned line)
{
	if (docs->n_lines == docs->cap_lines) {
		size_t ncap = docs->cap_lines ? docs->cap_lines * 2 : 256;
		struct wf_lab_line *nl = wf_reallocarray(docs->lines, ncap, sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		docs->lines = nl;
		docs->cap_lines = ncap;
	}
	docs->lines[docs->n_lines++] = (struct wf_lab_line){v, line, (unsigned)docs->n};
	return 0;
}

static unsigned line_of(const struct wf_lab_docs *docs, const json_t *v, unsigned fallback)
{
	for (size_t i = 0; v && i < docs->n_lines; i++)
		if (docs->lines[i].value == v)
			return docs->lines[i].line;
	return fallback;
}

static json_t *scalar_value(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	char *end;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag)
		return json_stringn(s, len);
	if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "yes") ||
	    !strcmp(s, "Yes") || !strcmp(s, "on") || !strcmp(s, "On"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE") || !strcmp(s, "no") ||
	    !strcmp(s, "No") || !strcmp(s, "off") || !strcmp(s, "Off"))
		return json_false();
	if ((s[0] >= '0' && s[0] <= '9') || ((s[0] == '-' || s[0] == '+') && len > 1)) {
		long long n;
		double d;

		errno = 0;
		n = strtoll(s, &end, 10);
		if (!*end && !errno)
			return json_integer(n);
		d = strtod(s, &end);
		if (!*end && strchr(s, '.'))
			return json_real(d);
	}
	return json_stringn(s, len);
}

struct yload {
	yaml_parser_t parser;
	struct wf_lab_docs *docs;
	const char *file;
	char *err;
	size_t errlen;
};

static int yerr(struct yload *y, unsigned line, const char *msg)
{
	snprintf(y->err, y->errlen, "%s:%u: %s", y->file, line, msg);
	return -WF_E_PARSE;
}

/* Reads one node whose first event is ev (consumed by the caller) into *ret. */
static int read_node(struct yload *y, yaml_event_t *ev, int depth, json_t **ret)
{
	unsigned line = ev->start_mark.line + 1;
	json_t *v = NULL;
	int r;

	if (depth > 64)
		return yerr(y, line, "nesting too deep");
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		v = scalar_value(ev);
		break;
	case YAML_ALIAS_EVENT:
		return yerr(y, line, "YAML aliases are not supported in lab manifests");
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;

		v = map ? json_object() : json_array();
		if (!v)
			return -ENOMEM;
		for (;;) {
			yaml_event_t kev, vev;
			json_t *child = NULL;
			char key[1024];

			if (!yaml_parser_parse(&y->parser, &kev)) {
				r = yerr(y, y->parser.problem_mark.line + 1, y->parser.problem);
				goto fail;
			}
			if (kev.type == YAML_SEQUENCE_END_EVENT ||
			    kev.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&kev);
				break;
			}
			if (!map) {
				r = read_node(y, &kev, depth + 1, &child);
				yaml_event_delete(&kev);
				if (r < 0)
					goto fail;
				json_array_append_new(v, child);
				continue;
			}
			if (kev.type != YAML_SCALAR_EVENT) {
				r = yerr(y, kev.start_mark.line + 1,
					 "mapping keys must be scalars");
				yaml_event_delete(&kev);
				goto fail;
			}
			snprintf(key, sizeof(key), "%s", (const char *)kev.data.scalar.value);
			if (json_object_get(v, key)) {
				char m[1200];

				snprintf(m, sizeof(m), "duplicate key \"%s\"", key);
				r = yerr(y, kev.start_mark.line + 1, m);
				yaml_event_delete(&kev);
				goto fail;
			}
			yaml_event_delete(&kev);
			if (!yaml_parser_parse(&y->parser, &vev)) {
				r = yerr(y, y->parser.problem_mark.line + 1, y->parser.problem);
				goto fail;
			}
			r = read_node(y, &vev, depth + 1, &child);
			yaml_event_delete(&vev);
			if (r < 0)
				goto fail;
			json_object_set_new(v, key, child);
		}
		break;
	}
	default:
		return yerr(y, line, "unexpected YAML event");
	}
	if (!v)
		return -ENOMEM;
	r = add_line(y->docs, v, line);
	if (r < 0)
		goto fail;
	*ret = v;
	return 0;
fail:
	json_decref(v);
	return r;
}

static int push_doc(struct wf_lab_docs *docs, json_t *obj, const char *file, unsigned line,
		    char *err, size_t errlen)
{
	struct wf_lab_doc *nv;
	json_t *items = json_object_get(obj, "items");
	const char *kind = json_string_value(json_object_get(obj, "kind"));

	/* kind: List (and FooList): its items are the objects. */
	if (kind && strlen(kind) >= 4 && !strcmp(kind + strlen(kind) - 4, "List") &&
	    json_is_array(items)) {
		size_t i;
		json_t *it;

		json_array_foreach(items, i, it)
		{
			int r = push_doc(docs, json_incref(it), file, line_of(docs, it, line), err,
					 errlen);

			if (r < 0) {
				json_decref(obj);
				return r;
			}
		}
		json_decref(obj);
		return 0;
	}
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s:%u: a manifest must be a mapping (a Kubernetes object)",
			 file, line);
		json_decref(obj);
		return -WF_E_PARSE;
	}
	nv = wf_reallocarray(docs->v, docs->n + 1, sizeof(*nv));
	if (!nv) {
		json_decref(obj);
		return -ENOMEM;
	}
	docs->v = nv;
	nv[docs->n].obj = obj;
	snprintf(nv[docs->n].file, sizeof(nv[docs->n].file), "%s", file);
	nv[docs->n].line = line;
	docs->n++;
	return 0;
}

int wf_lab_manifest_load_text(const char *text, const char *name, struct wf_lab_docs *docs,
			      char *err, size_t errlen)
{
	struct yload y = {.docs = docs, .file = name, .err = err, .errlen = errlen};
	const char *p = text;
	int r = 0;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '{' || *p == '[') {
		json_error_t je;
		json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);

		if (!j) {
			snprintf(err, errlen, "%s:%d: %s", name, je.line, je.text);
			return -WF_E_PARSE;
		}
		if (json_is_array(j)) {
			size_t i;
			json_t *it;

			json_array_foreach(j, i, it)
			{
				r = push_doc(docs, json_incref(it), name, 1, err, errlen);
				if (r < 0)
					break;
			}
			json_decref(j);
			return r;
		}
		return push_doc(docs, j, name, 1, err, errlen);
	}
	if (!yaml_parser_initialize(&y.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, strlen(text));
	for (;;) {
		yaml_event_t ev;
		json_t *root = NULL;

		if (!yaml_parser_parse(&y.parser, &ev)) {
			r = yerr(&y, y.parser.problem_mark.line + 1,
				 y.parser.problem ? y.parser.problem : "YAML syntax error");
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT ||
		    ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		unsigned line = ev.start_mark.line + 1;

		r = read_node(&y, &ev, 0, &root);
		yaml_event_delete(&ev);
		if (r < 0)
			break;
		if (json_is_null(root)) {
			json_decref(root);
			continue;
		}
		r = push_doc(docs, root, name, line, err, errlen);
		if (r < 0)
			break;
	}
	yaml_parser_delete(&y.parser);
	return r;
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
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: binary file (NUL byte)", path);
		wf_free(text);
		return -WF_E_PARSE;
	}
	r = wf_lab_manifest_load_text(text, path, docs, err, errlen);
	wf_free(text);
	return r;
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
	wf_free(docs->lines);
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

/* ---- validation ---- */

struct vctx {
	const struct wf_lab *lab;
	struct wf_lab_docs *docs;
	size_t doc;
	char *err;
	size_t errlen;
};

static int verr(struct vctx *c, const json_t *at, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int verr(struct vctx *c, const json_t *at, const char *path, const char *fmt, ...)
{
	const struct wf_lab_doc *d = &c->docs->v[c->doc];
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%u: %s%s%s", d->file, line_of(c->docs, at, d->line),
		 path ? path : "", path ? ": " : "", msg);
	return -WF_E_INVALID;
}

/* RFC 1123 label (DNS_LABEL), the rule for most names; subdomain allows dots. */
static bool dns_name_ok(const char *s, size_t max, bool dots)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && ch != '-' && !(dots && ch == '.'))
			return false;
		if (!alnum && (i == 0 || i == len - 1))
			return false;
	}
	return true;
}

static int check_port_num(struct vctx *c, json_t *v, const char *path, bool required)
{
	if (!v && !required)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return verr(c, v ? v : json_object_get(c->docs->v[c->doc].obj, "spec"), path,
			    "must be a port number between 1 and 65535");
	return 0;
}

static int check_protocol(struct vctx *c, json_t *v, const char *path)
{
	const char *p = json_string_value(v);

	if (v && (!p || (strcmp(p, "TCP") && strcmp(p, "UDP") && strcmp(p, "SCTP"))))
		return verr(c, v, path, "supported values: \"TCP\", \"UDP\", \"SCTP\"");
	return 0;
}

static int check_probe(struct vctx *c, json_t *p, const char *path)
{
	char sub[400];
	json_t *h;

	if (!p)
		return 0;
	if (!json_is_object(p))
		return verr(c, p, path, "must be an object");
	if ((h = json_object_get(p, "tcpSocket")) || (h = json_object_get(p, "httpGet"))) {
		json_t *port = json_object_get(h, "port");

		snprintf(sub, sizeof(sub), "%s.%s.port", path,
			 json_object_get(p, "tcpSocket") ? "tcpSocket" : "httpGet");
		if (json_is_string(port))
			return 0;
		return check_port_num(c, port, sub, true);
	}
	if ((h = json_object_get(p, "exec"))) {
		json_t *cmd = json_object_get(h, "command");

		if (!json_is_array(cmd) || json_array_size(cmd) == 0)
			return verr(c, h, path, "exec.command: Required value");
		return 0;
	}
	return verr(c, p, path, "must specify a handler type (exec, tcpSocket or httpGet)");
}

static int check_pod_spec(struct vctx *c, json_t *spec, const char *path)
{
	json_t *ctrs = json_object_get(spec, "containers"), *ctr, *node;
	char sub[256];
	size_t i;
	int r;

	if (!json_is_object(spec))
		return verr(c, spec, path, "Required value");
	if (!json_is_array(ctrs) || json_array_size(ctrs) == 0)
		return verr(c, ctrs ? ctrs : spec, path, "containers: Required value");
	if (json_array_size(ctrs) > 8)
		return verr(c, ctrs, path, "containers: the lab runs at most 8 containers per pod");
	node = json_object_get(spec, "nodeName");
	if (node) {
		const char *n = json_string_value(node);
		unsigned idx = 0;
		char tail;

		if (!n || sscanf(n, "node-%u%c", &idx, &tail) != 1 || idx < 1 ||
		    idx > c->lab->nodes) {
			snprintf(sub, sizeof(sub), "%s.nodeName", path);
			return verr(
				c, node, sub,
				"node \"%s\" does not exist in lab \"%s\" (its nodes are node-1 "
				"... node-%u)",
				n ? n : "?", c->lab->name, c->lab->nodes);
		}
	}
	json_array_foreach(ctrs, i, ctr)
	{
		json_t *ports = json_object_get(ctr, "ports"), *p, *name;
		size_t j;

		snprintf(sub, sizeof(sub), "%s.containers[%zu]", path, i);
		name = json_object_get(ctr, "name");
		if (!dns_name_ok(json_string_value(name), 63, false))
			return verr(c, name ? name : ctr, sub,
				    "name: must be a lowercase RFC 1123 label");
		if (!json_object_get(ctr, "image") && !json_object_get(ctr, "command"))
			return verr(c, ctr, sub, "image: Required value");
		json_array_foreach(ports, j, p)
		{
			char psub[400];

			snprintf(psub, sizeof(psub), "%s.ports[%zu].containerPort", sub, j);
			r = check_port_num(c, json_object_get(p, "containerPort"), psub, true);
			if (r < 0)
				return r;
			snprintf(psub, sizeof(psub), "%s.ports[%zu].protocol", sub, j);
			r = check_protocol(c, json_object_get(p, "protocol"), psub);
			if (r < 0)
				return r;
		}
		snprintf(sub, sizeof(sub), "%s.containers[%zu].readinessProbe", path, i);
		r = check_probe(c, json_object_get(ctr, "readinessProbe"), sub);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A ClusterIP or NodePort in use by a Service other than self (ns/name). */
static const char *taken_by(struct vctx *c, json_t *objects, const char *self, const char *what,
			    long long port, const char *ip)
{
	static char owner[300];
	size_t i, j;
	json_t *o, *p;

	json_array_foreach(objects, i, o)
	{
		json_t *md = json_object_get(o, "metadata"), *spec = json_object_get(o, "spec");
		const char *kind = json_string_value(json_object_get(o, "kind"));

		if (!kind || strcmp(kind, "Service"))
			continue;
		snprintf(owner, sizeof(owner), "%s/%s",
			 json_string_value(json_object_get(md, "namespace")) ?: "default",
			 json_string_value(json_object_get(md, "name")) ?: "");
		if (!strcmp(owner, self))
			continue;
		if (ip && !strcmp(what, "ip")) {
			const char *cip = json_string_value(json_object_get(spec, "clusterIP"));

			if (cip && !strcmp(cip, ip))
				return owner;
		}
		if (!strcmp(what, "port"))
			json_array_foreach(json_object_get(spec, "ports"), j, p)
			{
				if (json_integer_value(json_object_get(p, "nodePort")) == port)
					return owner;
			}
	}
	return NULL;
}

static int check_service(struct vctx *c, json_t *obj, json_t *current)
{
	json_t *spec = json_object_get(obj, "spec"), *ports, *p, *cip;
	json_t *md = json_object_get(obj, "metadata");
	const char *type = json_string_value(json_object_get(spec, "type")) ?: "ClusterIP";
	char self[300], sub[128];
	const char *owner;
	size_t i;
	int r;

	snprintf(self, sizeof(self), "%s/%s", json_string_value(json_object_get(md, "namespace")),
		 json_string_value(json_object_get(md, "name")));
	if (strcmp(type, "ClusterIP") && strcmp(type, "NodePort") && strcmp(type, "LoadBalancer") &&
	    strcmp(type, "ExternalName"))
		return verr(c, json_object_get(spec, "type"), "spec.type",
			    "supported values: \"ClusterIP\", \"NodePort\", \"LoadBalancer\", "
			    "\"ExternalName\"");
	ports = json_object_get(spec, "ports");
	if (strcmp(type, "ExternalName") && (!json_is_array(ports) || !json_array_size(ports)))
		return verr(c, spec ? spec : obj, "spec.ports", "Required value");
	cip = json_object_get(spec, "clusterIP");
	/* Service: spec.clusterIP is immutable once allocated (set, and not being cleared) */
	if (cip && json_is_string(cip) && *json_string_value(cip)) {
		size_t k;
		json_t *o;

		json_array_foreach(current, k, o)
		{
			json_t *omd = json_object_get(o, "metadata");
			const char *have = json_string_value(
				json_object_get(json_object_get(o, "spec"), "clusterIP"));
			char other[300];

			snprintf(other, sizeof(other), "%s/%s",
				 json_string_value(json_object_get(omd, "namespace")) ?: "default",
				 json_string_value(json_object_get(omd, "name")) ?: "");
			if (strcmp(json_string_value(json_object_get(o, "kind")) ?: "",
				   "Service") ||
			    strcmp(other, self) || !have || !strcmp(have, json_string_value(cip)))
				continue;
			return verr(
				c, cip, "spec.clusterIP",
				"Invalid value: \"%s\": field is immutable (the Service has %s)",
				json_string_value(cip), have);
		}
	}
	if (cip && json_is_string(cip) && strcmp(json_string_value(cip), "None") &&
	    strcmp(json_string_value(cip), "")) {
		struct wf_ip ip;
		struct wf_cidr range;

		wf_cidr_parse(WF_LAB_SERVICE_CIDR, true, &range);
		if (wf_ip_parse(json_string_value(cip), &ip) < 0)
			return verr(c, cip, "spec.clusterIP", "must be a valid IP address");
		if (!wf_cidr_contains(&range, &ip))
			return verr(c, cip, "spec.clusterIP",
				    "Invalid value: \"%s\": provided IP is not in the valid range. "
				    "The range of valid IPs is %s",
				    json_string_value(cip), WF_LAB_SERVICE_CIDR);
		owner = taken_by(c, current, self, "ip", 0, json_string_value(cip));
		if (owner) {
			verr(c, cip, "spec.clusterIP",
			     "Invalid value: \"%s\": provided IP is already allocated (to %s)",
			     json_string_value(cip), owner);
			return -WF_E_CONFLICT;
		}
	}
	json_array_foreach(ports, i, p)
	{
		json_t *np = json_object_get(p, "nodePort");

		snprintf(sub, sizeof(sub), "spec.ports[%zu].port", i);
		r = check_port_num(c, json_object_get(p, "port"), sub, true);
		if (r < 0)
			return r;
		snprintf(sub, sizeof(sub), "spec.ports[%zu].protocol", i);
		r = check_protocol(c, json_object_get(p, "protocol"), sub);
		if (r < 0)
			return r;
		if (json_array_size(ports) > 1 && !json_string_value(json_object_get(p, "name"))) {
			snprintf(sub, sizeof(sub), "spec.ports[%zu].name", i);
			return verr(c, p, sub, "Required value (the service has several ports)");
		}
		if (!np)
			continue;
		snprintf(sub, sizeof(sub), "spec.ports[%zu].nodePort", i);
		if (!strcmp(type, "ClusterIP"))
			return verr(c, np, sub, "may not be used when `type` is 'ClusterIP'");
		if (!json_is_integer(np) || json_integer_value(np) < WF_LAB_NODEPORT_MIN ||
		    json_integer_value(np) > WF_LAB_NODEPORT_MAX)
			return verr(c, np, sub,
				    "Invalid value: provided port is not in the valid range. The "
				    "range of valid ports is %d-%d",
				    WF_LAB_NODEPORT_MIN, WF_LAB_NODEPORT_MAX);
		owner = taken_by(c, current, self, "port", json_integer_value(np), NULL);
		if (owner) {
			verr(c, np, sub,
			     "Invalid value: %lld: provided port is already allocated (to %s)",
			     (long long)json_integer_value(np), owner);
			return -WF_E_CONFLICT;
		}
	}
	return 0;
}

/* The value at a diagnostic's field path ("spec.ports[1].port"), or NULL. */
static json_t *at_path(json_t *v, const char *path)
{
	char buf[WF_DIAG_PATH_MAX], *save, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
		char *br = strchr(tok, '[');

		if (br)
			*br = '\0';
		if (*tok)
			v = json_object_get(v, tok);
		while (br && v) {
			v = json_array_get(v, strtoul(br + 1, NULL, 10));
			br = strchr(br + 1, '[');
		}
	}
	return v;
}

/* The object model the node agents and weft dns read (k8s/object.h) must accept it too. */
static int check_k8s(struct vctx *c, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	struct wf_k8s_parse_result res = {0};
	struct wf_diag diag;
	json_t *at;
	int r;

	if (!text)
		return -ENOMEM;
	wf_diag_clear(&diag);
	r = wf_k8s_parse(text, strlen(text), c->docs->v[c->doc].file, &res, &diag);
	free(text);
	if (r >= 0) {
		wf_k8s_parse_result_done(&res);
		return 0;
	}
	if (r == -ENOMEM)
		return r;
	at = diag.path[0] ? at_path(obj, diag.path) : NULL;
	return verr(c, at ? at : obj, diag.path[0] ? diag.path : NULL, "%s", diag.msg);
}

int wf_lab_manifest_validate(const struct wf_lab *lab, struct wf_lab_docs *docs, char *err,
			     size_t errlen)
{
	static const char *const known[] = {
		"Namespace",	 "Pod",		 "Service",	 "Deployment", "EndpointSlice",
		"NetworkPolicy", "Ingress",	 "IngressClass", "Secret",     "ConfigMap",
		"Gateway",	 "GatewayClass", "HTTPRoute",	 NULL};
	struct vctx c = {.lab = lab, .docs = docs, .err = err, .errlen = errlen};
	json_t *current = lab->dir[0] ? wf_lab_objects_load(lab) : NULL;
	int r = 0;

	if (!current)
		current = json_array();
	/* Services of this batch count as taken too: two new ones may not share an IP. */
	for (size_t i = 0; i < docs->n && r == 0; i++) {
		json_t *obj = docs->v[i].obj, *md = json_object_get(obj, "metadata");
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		json_t *name = json_object_get(md, "name");
		bool ok = false;

		c.doc = i;
		if (!json_string_value(json_object_get(obj, "apiVersion"))) {
			r = verr(&c, obj, "apiVersion", "Required value");
			break;
		}
		if (!kind) {
			r = verr(&c, obj, "kind", "Required value");
			break;
		}
		for (size_t k = 0; known[k]; k++)
			ok |= !strcmp(kind, known[k]);
		if (!ok) {
			r = verr(&c, json_object_get(obj, "kind"), "kind",
				 "kind \"%s\" is not known to weft lab", kind);
			break;
		}
		if (!json_is_object(md)) {
			r = verr(&c, obj, "metadata", "Required value");
			break;
		}
		if (!dns_name_ok(json_string_value(name), 253, true)) {
			r = verr(&c, name ? name : md, "metadata.name",
				 "Required value: a lowercase RFC 1123 subdomain");
			break;
		}
		if (!cluster_scoped(kind)) {
			json_t *ns = json_object_get(md, "namespace");

			if (!ns)
				json_object_set_new(md, "namespace", json_string("default"));
			else if (!dns_name_ok(json_string_value(ns), 63, false)) {
				r = verr(&c, ns, "metadata.namespace",
					 "must be a lowercase RFC 1123 label");
				break;
			}
		}
		if (!strcmp(kind, "Pod")) {
			r = check_pod_spec(&c, json_object_get(obj, "spec"), "spec");
		} else if (!strcmp(kind, "Deployment")) {
			json_t *spec = json_object_get(obj, "spec");
			json_t *tmpl = json_object_get(spec, "template");
			json_t *rep = json_object_get(spec, "replicas");

			if (rep && (!json_is_integer(rep) || json_integer_value(rep) < 0 ||
				    json_integer_value(rep) > 500))
				r = verr(&c, rep, "spec.replicas",
					 "must be an integer between 0 and 500 in the lab");
			else if (!json_is_object(json_object_get(spec, "selector")))
				r = verr(&c, spec ? spec : obj, "spec.selector", "Required value");
			else
				r = check_pod_spec(&c, json_object_get(tmpl, "spec"),
						   "spec.template.spec");
		} else if (!strcmp(kind, "Service")) {
			r = check_service(&c, obj, current);
			if (r == 0)
				json_array_append(current, obj);
		}
		if (r == 0)
			r = check_k8s(&c, obj);
	}
	json_decref(current);
	return r;
}
