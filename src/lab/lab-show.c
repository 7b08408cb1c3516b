/* weft lab: reading the lab's objects back for `status` and `get` (kubectl's tables, JSON and
 * YAML). Everything shown comes from objects/, the same files the node agents read. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lab/lab-internal.h"
#include "lib/alloc.h"

static int namecmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

json_t *wf_lab_objects_load(const struct wf_lab *lab)
{
	struct dirent **list;
	char dir[512];
	json_t *out;
	int n;

	n = scandir(wf_lab_path(lab, dir, sizeof(dir), "objects"), &list, NULL, namecmp);
	if (n < 0)
		return NULL;
	out = json_array();
	for (int i = 0; i < n; i++) {
		const char *f = list[i]->d_name;
		size_t l = strlen(f);

		if (f[0] != '.' && l > 5 && !strcmp(f + l - 5, ".json")) {
			char path[1024];
			json_t *o;

			snprintf(path, sizeof(path), "%s/%s", dir, f);
			o = json_load_file(path, 0, NULL);
			if (o)
				json_array_append_new(out, o);
		}
		free(list[i]);
	}
	free(list);
	return out;
}

static bool yaml_plain_ok(const char *s)
{
	static const char *const reserved[] = {"true", "false", "yes", "no", "on", "off",
					       "null", "~",	"y",   "n",  NULL};
	char *end;

	if (!*s || strchr(":#{}[],&*!|>'\"%@`\n\t", s[0]) || s[0] == '-' || s[0] == ' ' ||
	    s[strlen(s) - 1] == ' ' || strstr(s, ": ") || strstr(s, " #") || strchr(s, '\n'))
		return false;
	for (size_t i = 0; reserved[i]; i++)
		if (!strcasecmp(s, reserved[i]))
			return false;
	strtod(s, &end);
	return *end != '\0';
}

static void yaml_scalar(FILE *f, const json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (yaml_plain_ok(s)) {
			fputs(s, f);
			return;
		}
		/* a JSON string is a valid YAML double-quoted scalar */
		char *q = json_dumps(v, JSON_ENCODE_ANY);

		fputs(q ? q : "\"\"", f);
		free(q);
		return;
	}
	char *t = json_dumps(v, JSON_ENCODE_ANY);

	fputs(t ? t : "null", f);
	free(t);
}

static bool yaml_empty_container(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) == 0) ||
	       (json_is_array(v) && json_array_size(v) == 0);
}

static void yaml_inline(FILE *f, const json_t *x, int indent)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	wf_lab_yaml_print(m, x, indent);
	fclose(m);
	fputs(buf + ((int)len > indent ? indent : 0), f);
	free(buf);
}

void wf_lab_yaml_print(FILE *f, const json_t *v, int indent)
{
	const char *k;
	json_t *x;
	size_t i;
	bool first = true;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
		{
			if (!first || indent >= 0)
				fprintf(f, "%*s", indent < 0 ? 0 : indent, "");
			first = false;
			fprintf(f, "%s:", k);
			if (yaml_empty_container(x)) {
				fputs(json_is_object(x) ? " {}\n" : " []\n", f);
			} else if (json_is_object(x)) {
				fputc('\n', f);
				wf_lab_yaml_print(f, x, (indent < 0 ? 0 : indent) + 2);
			} else if (json_is_array(x)) {
				fputc('\n', f);
				wf_lab_yaml_print(f, x, indent < 0 ? 0 : indent);
			} else {
				fputc(' ', f);
				yaml_scalar(f, x);
				fputc('\n', f);
			}
		}
		return;
	}
	if (json_is_array(v)) {
		json_array_foreach((json_t *)v, i, x)
		{
			fprintf(f, "%*s- ", indent < 0 ? 0 : indent, "");
			if (yaml_empty_container(x)) {
				fputs(json_is_object(x) ? "{}\n" : "[]\n", f);
			} else if (json_is_object(x)) {
				/* first key on the dash line, the rest indented under it */
				yaml_inline(f, x, (indent < 0 ? 0 : indent) + 2);
			} else if (json_is_array(x)) {
				fputc('\n', f);
				wf_lab_yaml_print(f, x, (indent < 0 ? 0 : indent) + 2);
			} else {
				yaml_scalar(f, x);
				fputc('\n', f);
			}
		}
		return;
	}
	yaml_scalar(f, v);
	fputc('\n', f);
}

/* ---- tables ---- */

struct tab {
	size_t ncol, n;
	char **cell; /* n cells */
};

static void tab_add(struct tab *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tab_add(struct tab *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	char **nc;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	nc = wf_reallocarray(t->cell, t->n + 1, sizeof(*nc));
	if (!nc)
		return;
	t->cell = nc;
	t->cell[t->n] = wf_strdup(buf);
	if (t->cell[t->n])
		t->n++;
}

static void tab_print(struct tab *t)
{
	size_t w[32] = {0};

	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->cell[i]) > w[i % t->ncol])
			w[i % t->ncol] = strlen(t->cell[i]);
	for (size_t i = 0; i < t->n; i++) {
		bool last = i % t->ncol == t->ncol - 1;

		if (last)
			printf("%s\n", t->cell[i]);
		else
			printf("%-*s   ", (int)w[i % t->ncol], t->cell[i]);
		wf_free(t->cell[i]);
	}
	wf_free(t->cell);
	t->cell = NULL;
	t->n = 0;
}

static const char *sget(const json_t *o, const char *path)
{
	char buf[256], *save, *tok;
	const json_t *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, tok);
	return json_string_value(cur);
}

static json_t *jget(const json_t *o, const char *path)
{
	char buf[256], *save, *tok;
	const json_t *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, tok);
	return (json_t *)cur;
}

/* status.loadBalancer.ingress[0].ip (the lab's LB IPAM fills it), or NULL. */
static const char *lb_ip(const json_t *svc)
{
	return json_string_value(
		json_object_get(json_array_get(jget(svc, "status.loadBalancer.ingress"), 0), "ip"));
}

static void age(const json_t *o, char *buf, size_t size)
{
	const char *ts = sget(o, "metadata.creationTimestamp");
	struct tm tm = {0};
	long d;

	if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
		snprintf(buf, size, "<unknown>");
		return;
	}
	d = (long)(time(NULL) - timegm(&tm));
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(buf, size, "%lds", d);
	else if (d < 3600 * 3)
		snprintf(buf, size, "%ldm", d / 60);
	else if (d < 86400 * 2)
		snprintf(buf, size, "%ldh", d / 3600);
	else
		snprintf(buf, size, "%ldd", d / 86400);
}

static void pod_status_text(const json_t *p, char *buf, size_t size, int *ret_ready, int *ret_total,
			    int *ret_restarts)
{
	json_t *cs = jget(p, "status.containerStatuses"), *k;
	size_t i;

	snprintf(buf, size, "%s", sget(p, "status.phase") ?: "Unknown");
	*ret_ready = *ret_total = *ret_restarts = 0;
	json_array_foreach(cs, i, k)
	{
		const char *w = sget(k, "state.waiting.reason");

		(*ret_total)++;
		*ret_ready += json_is_true(json_object_get(k, "ready"));
		*ret_restarts += json_integer_value(json_object_get(k, "restartCount"));
		if (w)
			snprintf(buf, size, "%s", w);
		else if (jget(k, "state.terminated") && !strcmp(buf, "Running"))
			snprintf(buf, size, "%s",
				 json_integer_value(jget(k, "state.terminated.exitCode"))
					 ? "Error"
					 : "Completed");
	}
	if (sget(p, "status.reason"))
		snprintf(buf, size, "%s", sget(p, "status.reason"));
	if (sget(p, "metadata.deletionTimestamp"))
		snprintf(buf, size, "Terminating");
}

static void svc_ports_text(const json_t *s, char *buf, size_t size)
{
	json_t *p;
	size_t i, off = 0;

	buf[0] = '\0';
	json_array_foreach(jget(s, "spec.ports"), i, p)
	{
		long np = json_integer_value(json_object_get(p, "nodePort"));

		if (np)
			off += snprintf(buf + off, size - off, "%s%lld:%ld/%s", i ? "," : "",
					(long long)json_integer_value(json_object_get(p, "port")),
					np,
					json_string_value(json_object_get(p, "protocol")) ?: "TCP");
		else
			off += snprintf(buf + off, size - off, "%s%lld/%s", i ? "," : "",
					(long long)json_integer_value(json_object_get(p, "port")),
					json_string_value(json_object_get(p, "protocol")) ?: "TCP");
		if (off >= size)
			break;
	}
	if (!buf[0])
		snprintf(buf, size, "<none>");
}

static void selector_text(const json_t *sel, char *buf, size_t size)
{
	const char *k;
	json_t *v;
	size_t off = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)sel, k, v)
	{
		off += snprintf(buf + off, size - off, "%s%s=%s", off ? "," : "", k,
				json_string_value(v) ?: "");
		if (off >= size)
			break;
	}
	if (!buf[0])
		snprintf(buf, size, "<none>");
}

static const char *canon_kind(const char *s)
{
	static const char *const map[][2] = {
		{"pods", "Pod"},
		{"pod", "Pod"},
		{"po", "Pod"},
		{"services", "Service"},
		{"service", "Service"},
		{"svc", "Service"},
		{"nodes", "Node"},
		{"node", "Node"},
		{"no", "Node"},
		{"endpointslices", "EndpointSlice"},
		{"endpointslice", "EndpointSlice"},
		{"eps", "EndpointSlice"},
		{"deployments", "Deployment"},
		{"deployment", "Deployment"},
		{"deploy", "Deployment"},
		{"namespaces", "Namespace"},
		{"namespace", "Namespace"},
		{"ns", "Namespace"},
		{"networkpolicies", "NetworkPolicy"},
		{"networkpolicy", "NetworkPolicy"},
		{"netpol", "NetworkPolicy"},
		{"ingresses", "Ingress"},
		{"ingress", "Ingress"},
		{"ing", "Ingress"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcasecmp(s, map[i][0]) || !strcasecmp(s, map[i][1]))
			return map[i][1];
	return NULL;
}

static void print_rows(const char *kind, json_t *items, bool wide, bool all_ns)
{
	struct tab t = {0};
	json_t *o;
	size_t i;
	char a[32];

#define NSCOL()                                                                 \
	do {                                                                    \
		if (all_ns)                                                     \
			tab_add(&t, "%s", sget(o, "metadata.namespace") ?: ""); \
	} while (0)
	if (!strcmp(kind, "Pod")) {
		t.ncol = (wide ? 7 : 5) + all_ns;
		if (all_ns)
			tab_add(&t, "NAMESPACE");
		tab_add(&t, "NAME");
		tab_add(&t, "READY");
		tab_add(&t, "STATUS");
		tab_add(&t, "RESTARTS");
		tab_add(&t, "AGE");
		if (wide) {
			tab_add(&t, "IP");
			tab_add(&t, "NODE");
		}
		json_array_foreach(items, i, o)
		{
			char st[64];
			int r, n, rs;

			pod_status_text(o, st, sizeof(st), &r, &n, &rs);
			age(o, a, sizeof(a));
			NSCOL();
			tab_add(&t, "%s", sget(o, "metadata.name"));
			tab_add(&t, "%d/%d", r, n);
			tab_add(&t, "%s", st);
			tab_add(&t, "%d", rs);
			tab_add(&t, "%s", a);
			if (wide) {
				tab_add(&t, "%s", sget(o, "status.podIP") ?: "<none>");
				tab_add(&t, "%s", sget(o, "spec.nodeName") ?: "<none>");
			}
		}
	} else if (!strcmp(kind, "Service")) {
		t.ncol = (wide ? 7 : 6) + all_ns;
		if (all_ns)
			tab_add(&t, "NAMESPACE");
		tab_add(&t, "NAME");
		tab_add(&t, "TYPE");
		tab_add(&t, "CLUSTER-IP");
		tab_add(&t, "EXTERNAL-IP");
		tab_add(&t, "PORT(S)");
		tab_add(&t, "AGE");
		if (wide)
			tab_add(&t, "SELECTOR");
		json_array_foreach(items, i, o)
		{
			char ports[512], sel[512];
			const char *type = sget(o, "spec.type") ?: "ClusterIP";

			svc_ports_text(o, ports, sizeof(ports));
			age(o, a, sizeof(a));
			NSCOL();
			tab_add(&t, "%s", sget(o, "metadata.name"));
			tab_add(&t, "%s", type);
			tab_add(&t, "%s", sget(o, "spec.clusterIP") ?: "<none>");
			tab_add(&t, "%s",
				!strcmp(type, "ExternalName")
					? (sget(o, "spec.externalName") ?: "<none>")
					: (!strcmp(type, "LoadBalancer") ? (lb_ip(o) ?: "<pending>")
									 : "<none>"));
			tab_add(&t, "%s", ports);
			tab_add(&t, "%s", a);
			if (wide) {
				selector_text(jget(o, "spec.selector"), sel, sizeof(sel));
				tab_add(&t, "%s", sel);
			}
		}
	} else if (!strcmp(kind, "Node")) {
		t.ncol = wide ? 7 : 5;
		tab_add(&t, "NAME");
		tab_add(&t, "STATUS");
		tab_add(&t, "ROLES");
		tab_add(&t, "AGE");
		tab_add(&t, "VERSION");
		if (wide) {
			tab_add(&t, "INTERNAL-IP");
			tab_add(&t, "POD-CIDR");
		}
		json_array_foreach(items, i, o)
		{
			age(o, a, sizeof(a));
			tab_add(&t, "%s", sget(o, "metadata.name"));
			tab_add(&t, "Ready");
			tab_add(&t, "<none>");
			tab_add(&t, "%s", a);
			tab_add(&t, "weft-%s", WF_VERSION);
			if (wide) {
				json_t *ad = json_array_get(jget(o, "status.addresses"), 0);

				tab_add(&t, "%s",
					json_string_value(json_object_get(ad, "address")));
				tab_add(&t, "%s", sget(o, "spec.podCIDR") ?: "");
			}
		}
	} else if (!strcmp(kind, "EndpointSlice")) {
		t.ncol = 5 + all_ns;
		if (all_ns)
			tab_add(&t, "NAMESPACE");
		tab_add(&t, "NAME");
		tab_add(&t, "ADDRESSTYPE");
		tab_add(&t, "PORTS");
		tab_add(&t, "ENDPOINTS");
		tab_add(&t, "AGE");
		json_array_foreach(items, i, o)
		{
			char ports[256] = "", eps[512] = "";
			size_t off = 0, j, n = 0;
			json_t *x;

			json_array_foreach(json_object_get(o, "ports"), j, x) off +=
				snprintf(ports + off, sizeof(ports) - off, "%s%lld", j ? "," : "",
					 (long long)json_integer_value(json_object_get(x, "port")));
			off = 0;
			json_array_foreach(json_object_get(o, "endpoints"), j, x)
			{
				if (n++ < 3)
					off += snprintf(
						eps + off, sizeof(eps) - off, "%s%s", j ? "," : "",
						json_string_value(json_array_get(
							json_object_get(x, "addresses"), 0)));
			}
			if (n > 3)
				snprintf(eps + off, sizeof(eps) - off, " + %zu more...", n - 3);
			age(o, a, sizeof(a));
			NSCOL();
			tab_add(&t, "%s", sget(o, "metadata.name"));
			tab_add(&t, "%s", sget(o, "addressType") ?: "");
			tab_add(&t, "%s", ports[0] ? ports : "<unset>");
			tab_add(&t, "%s", eps[0] ? eps : "<unset>");
			tab_add(&t, "%s", a);
		}
	} else if (!strcmp(kind, "Deployment")) {
		t.ncol = 5 + all_ns;
		if (all_ns)
			tab_add(&t, "NAMESPACE");
		tab_add(&t, "NAME");
		tab_add(&t, "READY");
		tab_add(&t, "UP-TO-DATE");
		tab_add(&t, "AVAILABLE");
		tab_add(&t, "AGE");
		json_array_foreach(items, i, o)
		{
			json_t *rep = jget(o, "spec.replicas");

			age(o, a, sizeof(a));
			NSCOL();
			tab_add(&t, "%s", sget(o, "metadata.name"));
			tab_add(&t, "%lld/%lld",
				(long long)json_integer_value(jget(o, "status.readyReplicas")),
				rep ? (long long)json_integer_value(rep) : 1LL);
			tab_add(&t, "%lld",
				(long long)json_integer_value(jget(o, "status.updatedReplicas")));
			tab_add(&t, "%lld",
				(long long)json_integer_value(jget(o, "status.availableReplicas")));
			tab_add(&t, "%s", a);
		}
	} else {
		t.ncol = 2 + all_ns;
		if (all_ns)
			tab_add(&t, "NAMESPACE");
		tab_add(&t, "NAME");
		tab_add(&t, "AGE");
		json_array_foreach(items, i, o)
		{
			age(o, a, sizeof(a));
			NSCOL();
			tab_add(&t, "%s", sget(o, "metadata.name"));
			tab_add(&t, "%s", a);
		}
	}
#undef NSCOL
	tab_print(&t);
}

int wf_lab_cmd_get(const struct wf_lab *lab, int argc, char **argv)
{
	const char *kind = NULL, *name = NULL, *ns = "default", *out = "";
	bool all_ns = false;
	int kind_idx = -1;
	json_t *objs, *items, *o;
	size_t i;
	int rc = 0;

	for (int i2 = 0; i2 < argc; i2++) {
		if ((!strcmp(argv[i2], "-n") || !strcmp(argv[i2], "--namespace")) && i2 + 1 < argc)
			ns = argv[++i2];
		else if (!strcmp(argv[i2], "-A") || !strcmp(argv[i2], "--all-namespaces"))
			all_ns = true;
		else if (!strcmp(argv[i2], "-o") && i2 + 1 < argc)
			out = argv[++i2];
		else if (!strncmp(argv[i2], "-o", 2) && argv[i2][2])
			out = argv[i2] + 2;
		else if (!strncmp(argv[i2], "--output=", 9))
			out = argv[i2] + 9;
		else if (argv[i2][0] == '-') {
			fprintf(stderr, "weft lab get: unknown option %s\n", argv[i2]);
			return 2;
		} else if (!kind) {
			kind = argv[i2];
			kind_idx = i2;
		} else if (!name)
			name = argv[i2];
		else {
			fprintf(stderr, "weft lab get: too many arguments\n");
			return 2;
		}
	}
	if (!kind) {
		fprintf(stderr, "usage: weft lab get KIND [NAME] [-n NS|-A] [-o wide|json|yaml]\n");
		return 2;
	}
	if (*out && strcmp(out, "wide") && strcmp(out, "json") && strcmp(out, "yaml")) {
		fprintf(stderr, "weft lab get: unknown output format \"%s\" (wide, json, yaml)\n",
			out);
		return 2;
	}
	/* kubectl get svc,eps: one table per kind */
	if (strchr(kind, ',')) {
		char copy[256], *save, *part;
		char *sub[64];

		if (*out == 'j' || *out == 'y' || name || argc > 63) {
			fprintf(stderr,
				"weft lab get: several kinds only as tables, without a NAME\n");
			return 2;
		}
		snprintf(copy, sizeof(copy), "%s", kind);
		for (int k = 0; k < argc; k++)
			sub[k] = argv[k];
		for (part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
			sub[kind_idx] = part;
			rc |= wf_lab_cmd_get(lab, argc, sub);
			if (save && *save)
				putchar('\n');
		}
		return rc;
	}
	const char *ck = canon_kind(kind);

	if (!ck) {
		fprintf(stderr,
			"error: the server doesn't have a resource type \"%s\" (try pods, services, "
			"endpointslices, deployments, nodes, namespaces)\n",
			kind);
		return 1;
	}
	objs = wf_lab_objects_load(lab);
	if (!objs) {
		fprintf(stderr, "weft lab: lab \"%s\" is not running\n", lab->name);
		return 1;
	}
	items = json_array();
	json_array_foreach(objs, i, o)
	{
		const char *k = json_string_value(json_object_get(o, "kind"));
		const char *ons = sget(o, "metadata.namespace");

		if (!k || strcmp(k, ck))
			continue;
		if (ons && !all_ns && strcmp(ons, ns))
			continue;
		if (name && strcmp(sget(o, "metadata.name") ?: "", name))
			continue;
		json_array_append(items, o);
	}
	if (name && json_array_size(items) == 0) {
		fprintf(stderr, "Error from server (NotFound): %s \"%s\" not found\n", ck, name);
		rc = 1;
	} else if (!strcmp(out, "json") || !strcmp(out, "yaml")) {
		json_t *doc = name ? json_incref(json_array_get(items, 0))
				   : json_pack("{s:s, s:s, s:O, s:{}}", "apiVersion", "v1", "kind",
					       "List", "items", items, "metadata");

		if (!strcmp(out, "json")) {
			json_dumpf(doc, stdout, JSON_INDENT(4) | JSON_SORT_KEYS);
			putchar('\n');
		} else {
			wf_lab_yaml_print(stdout, doc, 0);
		}
		json_decref(doc);
	} else if (json_array_size(items) == 0) {
		fprintf(stderr, "No resources found in %s namespace.\n", all_ns ? "any" : ns);
	} else {
		print_rows(ck, items, !strcmp(out, "wide"), all_ns);
	}
	json_decref(items);
	json_decref(objs);
	return rc;
}

int wf_lab_cmd_status(const struct wf_lab *lab)
{
	json_t *objs = wf_lab_objects_load(lab), *nodes, *pods, *svcs, *o;
	size_t i;
	struct tab t = {0};

	if (!objs) {
		fprintf(stderr, "weft lab: lab \"%s\" is not running\n", lab->name);
		return 1;
	}
	nodes = json_array();
	pods = json_array();
	svcs = json_array();
	json_array_foreach(objs, i, o)
	{
		const char *k = json_string_value(json_object_get(o, "kind")) ?: "";

		if (!strcmp(k, "Node"))
			json_array_append(nodes, o);
		else if (!strcmp(k, "Pod"))
			json_array_append(pods, o);
		else if (!strcmp(k, "Service"))
			json_array_append(svcs, o);
	}
	printf("lab %s: %zu nodes, fabric %s, state in %s\n\n", lab->name, json_array_size(nodes),
	       lab->fabric == WF_LAB_FABRIC_HOST_GW ? "host-gw" : "vxlan", lab->dir);
	t.ncol = 4;
	tab_add(&t, "NODE");
	tab_add(&t, "INTERNAL-IP");
	tab_add(&t, "POD-CIDR");
	tab_add(&t, "PODS");
	json_array_foreach(nodes, i, o)
	{
		size_t j, n = 0;
		json_t *p;

		json_array_foreach(pods, j, p) n +=
			!strcmp(sget(p, "spec.nodeName") ?: "", sget(o, "metadata.name"));
		tab_add(&t, "%s", sget(o, "metadata.name"));
		tab_add(&t, "%s",
			json_string_value(json_object_get(
				json_array_get(jget(o, "status.addresses"), 0), "address")));
		tab_add(&t, "%s", sget(o, "spec.podCIDR"));
		tab_add(&t, "%zu", n);
	}
	tab_print(&t);
	putchar('\n');
	t.ncol = 6;
	tab_add(&t, "NAMESPACE");
	tab_add(&t, "POD");
	tab_add(&t, "READY");
	tab_add(&t, "STATUS");
	tab_add(&t, "IP");
	tab_add(&t, "NODE");
	json_array_foreach(pods, i, o)
	{
		char st[64];
		int r, n, rs;

		pod_status_text(o, st, sizeof(st), &r, &n, &rs);
		tab_add(&t, "%s", sget(o, "metadata.namespace"));
		tab_add(&t, "%s", sget(o, "metadata.name"));
		tab_add(&t, "%d/%d", r, n);
		tab_add(&t, "%s", st);
		tab_add(&t, "%s", sget(o, "status.podIP") ?: "<none>");
		tab_add(&t, "%s", sget(o, "spec.nodeName") ?: "<none>");
	}
	if (json_array_size(pods))
		tab_print(&t);
	else {
		tab_print(&t);
		printf("(no pods)\n");
	}
	putchar('\n');
	t.ncol = 6;
	tab_add(&t, "NAMESPACE");
	tab_add(&t, "SERVICE");
	tab_add(&t, "TYPE");
	tab_add(&t, "CLUSTER-IP");
	tab_add(&t, "EXTERNAL-IP");
	tab_add(&t, "PORT(S)");
	json_array_foreach(svcs, i, o)
	{
		char ports[512];

		svc_ports_text(o, ports, sizeof(ports));
		tab_add(&t, "%s", sget(o, "metadata.namespace"));
		tab_add(&t, "%s", sget(o, "metadata.name"));
		tab_add(&t, "%s", sget(o, "spec.type") ?: "ClusterIP");
		tab_add(&t, "%s", sget(o, "spec.clusterIP") ?: "<none>");
		tab_add(&t, "%s", lb_ip(o) ?: "<none>");
		tab_add(&t, "%s", ports);
	}
	tab_print(&t);
	json_decref(nodes);
	json_decref(pods);
	json_decref(svcs);
	json_decref(objs);
	return 0;
}
