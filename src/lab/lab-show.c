/* weft lab: reading the lab's objects back for `status` and `get`. Everything shown comes from
 * objects/, the files the node agents read: tables decode them with the same object model and
 * print them with the printer `weft get` uses (k8s/print.h), in kubectl's columns; -o json|yaml
 * prints the stored objects as they are, status included, as kubectl prints what the API server
 * stores. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s/object.h"
#include "k8s/print.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lab/lab-internal.h"
#include "lib/alloc.h"
#include "lib/diag.h"
#include "lib/ip.h"

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

		if (out && f[0] != '.' && l > 5 && !strcmp(f + l - 5, ".json")) {
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

/* ---- the typed view: objects/ through the object model ---- */

static void on_load_error(void *userdata, int err, const struct wf_diag *diag)
{
	char line[WF_DIAG_FILE_MAX + WF_DIAG_PATH_MAX + WF_DIAG_MSG_MAX + 32];

	/* a pod deleted between the directory scan and the read: it is simply gone */
	if (err == -ENOENT)
		return;
	fprintf(stderr, "weft lab: %s\n", wf_diag_format(diag, line, sizeof(line)));
}

/* A snapshot of the lab's objects, decoded as the node agents decode them. Returns it (the
 * caller unrefs it), or NULL with the reason printed. */
static struct wf_store_snapshot *objects_snapshot(const struct wf_lab *lab)
{
	struct wf_store_snapshot *snap = NULL;
	struct wf_store *store = NULL;
	char dir[512];
	const char *paths[1] = {wf_lab_path(lab, dir, sizeof(dir), "objects")};
	int r;

	if (access(dir, F_OK) == -1) {
		fprintf(stderr, "weft lab: lab \"%s\" is not running\n", lab->name);
		return NULL;
	}
	r = wf_store_new(&store);
	if (r == 0)
		r = wf_source_load_paths(store, paths, 1, on_load_error, NULL, NULL);
	if (r >= 0)
		snap = wf_store_snapshot(store);
	else
		fprintf(stderr, "weft lab: reading %s: %s\n", dir, strerror(-r));
	/* the snapshot holds its own references to the objects */
	wf_store_free(store);
	return snap;
}

/* ---- get ---- */

struct get_args {
	bool kinds[WF_K8S_KIND_COUNT];
	size_t n_kinds;
	const char *names[16]; /* none: every object */
	size_t n_names;
	const char *ns;
	bool all_ns;
	bool wide, json, yaml;
};

static const char get_usage[] = "usage: weft lab get KIND[,KIND...] [NAME...] [-n NS|-A] "
				"[-o wide|json|yaml]   (or KIND/NAME)\n";

static bool named(const struct get_args *a, const char *name)
{
	for (size_t i = 0; i < a->n_names; i++)
		if (!strcmp(a->names[i], name ? name : ""))
			return true;
	return a->n_names == 0;
}

/* "pods", "svc,eps", "deploy/web", "all", as kubectl takes them. Returns 0 or 2 (usage). */
static int parse_kinds(struct get_args *a, char *arg)
{
	char *slash = strchr(arg, '/'), *save = NULL;

	if (slash) {
		*slash = '\0';
		a->names[a->n_names++] = slash + 1;
		if (!*a->names[0]) {
			fprintf(stderr, "weft lab get: no NAME after KIND/\n%s", get_usage);
			return 2;
		}
	}
	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum wf_k8s_kind k;

		if (!strcmp(tok, "all")) {
			for (int i = 0; i < WF_K8S_KIND_COUNT; i++)
				a->kinds[i] = true;
			continue;
		}
		if (wf_k8s_kind_lookup(tok, &k) < 0) {
			fprintf(stderr,
				"error: the server doesn't have a resource type \"%s\" (try pods, "
				"services, endpointslices, deployments, nodes, namespaces)\n",
				tok);
			return 1;
		}
		a->kinds[k] = true;
	}
	for (int i = 0; i < WF_K8S_KIND_COUNT; i++)
		a->n_kinds += a->kinds[i];
	return a->n_kinds ? 0 : 2;
}

static int parse_get_args(struct get_args *a, int argc, char **argv)
{
	bool ns_given = false;
	char *kind = NULL;
	const char *out = "";

	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];

		if ((!strcmp(s, "-n") || !strcmp(s, "--namespace")) && i + 1 < argc) {
			a->ns = argv[++i];
			ns_given = true;
		} else if (!strncmp(s, "--namespace=", 12)) {
			a->ns = s + 12;
			ns_given = true;
		} else if (!strcmp(s, "-A") || !strcmp(s, "--all-namespaces")) {
			a->all_ns = true;
		} else if ((!strcmp(s, "-o") || !strcmp(s, "--output")) && i + 1 < argc) {
			out = argv[++i];
		} else if (!strncmp(s, "-o", 2) && s[2]) {
			out = s + 2 + (s[2] == '=');
		} else if (!strncmp(s, "--output=", 9)) {
			out = s + 9;
		} else if (s[0] == '-') {
			fprintf(stderr, "weft lab get: unknown option %s\n%s", s, get_usage);
			return 2;
		} else if (!kind) {
			kind = argv[i];
		} else if (a->n_names < sizeof(a->names) / sizeof(a->names[0])) {
			a->names[a->n_names++] = s;
		} else {
			fprintf(stderr, "weft lab get: too many names\n%s", get_usage);
			return 2;
		}
	}
	if (!kind) {
		fputs(get_usage, stderr);
		return 2;
	}
	if (ns_given && a->all_ns) {
		fprintf(stderr, "weft lab get: -n and -A exclude each other\n");
		return 2;
	}
	a->wide = !strcmp(out, "wide");
	a->json = !strcmp(out, "json");
	a->yaml = !strcmp(out, "yaml");
	if (*out && !a->wide && !a->json && !a->yaml) {
		fprintf(stderr, "weft lab get: unknown output format \"%s\" (wide, json, yaml)\n",
			out);
		return 2;
	}
	/* KIND/NAME and NAME arguments exclude each other */
	if (strchr(kind, '/') && a->n_names) {
		fprintf(stderr, "weft lab get: there is a NAME in KIND/NAME already\n%s",
			get_usage);
		return 2;
	}
	return parse_kinds(a, kind);
}

static bool wanted_ns(const struct get_args *a, enum wf_k8s_kind k, const char *ns)
{
	return a->all_ns || wf_k8s_kind_cluster_scoped(k) || !strcmp(ns ? ns : "", a->ns);
}

/* -o json|yaml: the stored objects, one as itself, several as a v1 List. */
static int get_raw(const struct wf_lab *lab, const struct get_args *a)
{
	json_t *objs = wf_lab_objects_load(lab), *items, *o, *doc;
	size_t i;
	int rc = 0;

	if (!objs) {
		fprintf(stderr, "weft lab: lab \"%s\" is not running\n", lab->name);
		return 1;
	}
	items = json_array();
	json_array_foreach(objs, i, o)
	{
		json_t *md = json_object_get(o, "metadata");
		const char *kind = json_string_value(json_object_get(o, "kind"));
		const char *name = json_string_value(json_object_get(md, "name"));
		enum wf_k8s_kind k;

		if (!kind || wf_k8s_kind_lookup(kind, &k) < 0 || !a->kinds[k] ||
		    !wanted_ns(a, k, json_string_value(json_object_get(md, "namespace"))) ||
		    !named(a, name))
			continue;
		json_array_append(items, o);
	}
	if (a->n_names && json_array_size(items) == 0) {
		int k = 0;

		while (!a->kinds[k])
			k++;
		fprintf(stderr, "Error from server (NotFound): %s \"%s\" not found\n",
			wf_k8s_kind_plural((enum wf_k8s_kind)k), a->names[0]);
		rc = 1;
	} else {
		doc = a->n_names == 1 && json_array_size(items) == 1
			      ? json_incref(json_array_get(items, 0))
			      : json_pack("{s:s, s:O, s:s, s:{s:s}}", "apiVersion", "v1", "items",
					  items, "kind", "List", "metadata", "resourceVersion", "");
		if (a->json) {
			json_dumpf(doc, stdout, JSON_INDENT(4) | JSON_SORT_KEYS);
			putchar('\n');
		} else {
			wf_k8s_print_yaml(stdout, doc);
		}
		json_decref(doc);
	}
	json_decref(items);
	json_decref(objs);
	return rc;
}

static int get_tables(const struct wf_lab *lab, const struct get_args *a)
{
	struct wf_k8s_print_opts opts = {
		.wide = a->wide,
		.show_namespace = a->all_ns,
		.kind_prefix = a->n_kinds > 1,
	};
	struct wf_store_snapshot *snap = objects_snapshot(lab);
	size_t printed = 0;
	int rc = 0;

	if (!snap)
		return 1;
	for (int k = 0; k < WF_K8S_KIND_COUNT; k++) {
		const struct wf_k8s_object **objs = NULL;
		ssize_t n;
		size_t m = 0;

		if (!a->kinds[k])
			continue;
		n = wf_store_list(snap, (enum wf_k8s_kind)k, a->all_ns ? NULL : a->ns, &objs);
		if (n < 0) {
			rc = 1;
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			if (named(a, objs[i]->name))
				objs[m++] = objs[i];
		/* kubectl: every NAME that is not there is an error, the others are listed */
		for (size_t j = 0; a->n_kinds == 1 && j < a->n_names; j++) {
			size_t i = 0;

			while (i < m && strcmp(objs[i]->name, a->names[j]))
				i++;
			if (i == m) {
				fprintf(stderr,
					"Error from server (NotFound): %s \"%s\" not found\n",
					wf_k8s_kind_plural((enum wf_k8s_kind)k), a->names[j]);
				rc = 1;
			}
		}
		if (m > 0) {
			if (printed++)
				putchar('\n');
			if (wf_k8s_print_objects((enum wf_k8s_kind)k, objs, m, &opts, stdout) < 0)
				rc = 1;
		}
		wf_free(objs);
	}
	if (printed == 0 && rc == 0) {
		if (a->all_ns)
			fprintf(stderr, "No resources found\n");
		else
			fprintf(stderr, "No resources found in %s namespace.\n", a->ns);
	}
	wf_store_snapshot_unref(snap);
	return rc;
}

int wf_lab_cmd_get(const struct wf_lab *lab, int argc, char **argv)
{
	struct get_args a = {.ns = "default"};
	int r = parse_get_args(&a, argc, argv);

	if (r != 0)
		return r;
	return a.json || a.yaml ? get_raw(lab, &a) : get_tables(lab, &a);
}

/* ---- status ---- */

static void node_cells(const struct wf_k8s_object *o, char *ip, size_t ipsz, char *cidr)
{
	const struct wf_k8s_node *n = o->node;

	snprintf(ip, ipsz, "<none>");
	for (size_t i = 0; i < n->n_addresses; i++)
		if (n->addresses[i].type && !strcmp(n->addresses[i].type, "InternalIP")) {
			snprintf(ip, ipsz, "%s", n->addresses[i].address);
			break;
		}
	if (n->n_pod_cidrs)
		wf_cidr_format(&n->pod_cidrs[0], cidr);
	else
		snprintf(cidr, WF_CIDR_STRLEN, "<none>");
}

static int status_nodes(const struct wf_k8s_object **nodes, size_t n_nodes,
			const struct wf_k8s_object **pods, size_t n_pods)
{
	static const char *const hdr[] = {"NODE", "STATUS", "INTERNAL-IP", "POD-CIDR", "PODS"};
	struct wf_k8s_print_table t;
	int r = wf_k8s_print_table_init(&t, 5, hdr);

	for (size_t i = 0; i < n_nodes && r == 0; i++) {
		const struct wf_k8s_object *o = nodes[i];
		char ip[256], cidr[WF_CIDR_STRLEN], count[24];
		size_t on = 0;

		for (size_t j = 0; j < n_pods; j++)
			on += pods[j]->pod->spec.node_name &&
			      !strcmp(pods[j]->pod->spec.node_name, o->name);
		node_cells(o, ip, sizeof(ip), cidr);
		snprintf(count, sizeof(count), "%zu", on);
		r = wf_k8s_print_table_row(
			&t,
			(const char *const[]){o->name,
					      o->node->has_ready && o->node->ready == WF_K8S_TRUE
						      ? "Ready"
						      : "NotReady",
					      ip, cidr, count});
	}
	if (r == 0)
		wf_k8s_print_table_write(&t, stdout);
	wf_k8s_print_table_done(&t);
	return r;
}

static int status_pods(const struct wf_k8s_object **pods, size_t n_pods)
{
	static const char *const hdr[] = {"NAMESPACE", "POD", "READY", "STATUS",
					  "RESTARTS",  "IP",  "NODE"};
	struct wf_k8s_print_table t;
	int r = wf_k8s_print_table_init(&t, 7, hdr);

	for (size_t i = 0; i < n_pods && r == 0; i++) {
		const struct wf_k8s_object *o = pods[i];
		const struct wf_k8s_pod *p = o->pod;
		struct wf_k8s_pod_summary s;
		char ready[48], restarts[24], ip[WF_IP_STRLEN];

		wf_k8s_pod_summary(o, &s);
		snprintf(ready, sizeof(ready), "%zu/%zu", s.ready, s.total);
		snprintf(restarts, sizeof(restarts), "%lld", (long long)s.restarts);
		r = wf_k8s_print_table_row(
			&t, (const char *const[]){
				    o->namespace, o->name, ready, s.status, restarts,
				    p->n_pod_ips ? wf_ip_format(&p->pod_ips[0], ip) : "<none>",
				    p->spec.node_name ? p->spec.node_name : "<none>"});
	}
	if (r == 0)
		wf_k8s_print_table_write(&t, stdout);
	wf_k8s_print_table_done(&t);
	if (r == 0 && n_pods == 0)
		printf("(no pods)\n");
	return r;
}

int wf_lab_cmd_status(const struct wf_lab *lab)
{
	const struct wf_k8s_object **nodes = NULL, **pods = NULL, **svcs = NULL;
	struct wf_k8s_print_opts opts = {.show_namespace = true};
	struct wf_store_snapshot *snap = objects_snapshot(lab);
	ssize_t nn, np, ns;
	int r = -ENOMEM;

	if (!snap)
		return 1;
	nn = wf_store_list(snap, WF_K8S_NODE, NULL, &nodes);
	np = wf_store_list(snap, WF_K8S_POD, NULL, &pods);
	ns = wf_store_list(snap, WF_K8S_SERVICE, NULL, &svcs);
	if (nn < 0 || np < 0 || ns < 0)
		goto out;
	printf("lab %s: %zd nodes, fabric %s, state in %s\n\n", lab->name, nn,
	       lab->fabric == WF_LAB_FABRIC_HOST_GW ? "host-gw" : "vxlan", lab->dir);
	r = status_nodes(nodes, (size_t)nn, pods, (size_t)np);
	putchar('\n');
	if (r == 0)
		r = status_pods(pods, (size_t)np);
	putchar('\n');
	if (r == 0)
		r = wf_k8s_print_objects(WF_K8S_SERVICE, svcs, (size_t)ns, &opts, stdout);
out:
	if (r < 0)
		fprintf(stderr, "weft lab: %s\n", strerror(-r));
	wf_free(nodes);
	wf_free(pods);
	wf_free(svcs);
	wf_store_snapshot_unref(snap);
	return r < 0;
}
