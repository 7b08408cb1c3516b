/* weft get: load manifests into a store and show them as kubectl would. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/get.h"
#include "cli/load.h"
#include "k8s/object.h"
#include "k8s/print.h"
#include "k8s/store.h"
#include "lib/alloc.h"

static const char usage[] =
	"Usage: weft get [KIND[,KIND...] [NAME]] [-n NAMESPACE | -A] [-l SELECTOR] [-o FORMAT]\n"
	"                -f PATH [-f PATH]...\n"
	"\n"
	"Loads manifests as weft reads them and lists the objects in kubectl's columns (status\n"
	"included): Service TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S), AGE; Pod READY, STATUS,\n"
	"RESTARTS, AGE (-o wide: IP, NODE...); EndpointSlice ADDRESSTYPE, PORTS, ENDPOINTS...\n"
	"\n"
	"KIND is a kind as kubectl accepts it: service, services, svc, pod, po, endpointslice,\n"
	"eps, node, no, namespace, ns, networkpolicy, netpol, ingress, ing, ingressclass,\n"
	"secret, gateway, httproute, deployment, deploy. Also KIND/NAME. Without KIND (or with\n"
	"'all'), every kind that has objects is listed.\n"
	"\n"
	"Options:\n"
	"  -f, --filename PATH       a manifest file or directory (repeatable, required)\n"
	"  -n, --namespace NS        only this namespace (default: \"default\")\n"
	"  -A, --all-namespaces      every namespace, with a NAMESPACE column\n"
	"  -l, --selector SELECTOR   only objects whose labels match, e.g. app=web,tier!=db\n"
	"  -o, --output FORMAT       wide (more columns), json or yaml (what weft understood,\n"
	"                            defaults included)\n"
	"  -h, --help                show this help\n"
	"\n"
	"Exit status: 0 on success, 1 when a manifest has errors (they are printed on stderr and\n"
	"the valid objects still listed) or NAME is not found, 2 on a usage error.\n"
	"\n"
	"Examples:\n"
	"  weft get -f examples/                    everything in namespace default\n"
	"  weft get svc -A -f examples/             services of every namespace\n"
	"  weft get eps -n shop -o wide -f app.yaml\n"
	"  weft get service/web -o yaml -f app.yaml\n";

enum output {
	OUT_TABLE,
	OUT_WIDE,
	OUT_JSON,
	OUT_YAML,
};

/* -l: equality-based requirements only ("k=v", "k==v", "k!=v", "k", "!k"), comma-separated. */
struct label_req {
	char *key;
	char *value; /* NULL for existence tests */
	bool negate;
};

struct get_args {
	bool kinds[WF_K8S_KIND_COUNT];
	const char *name;
	const char *ns;
	bool all_ns;
	enum output out;
	struct label_req reqs[16];
	size_t n_reqs;
	char *sel_copy;
};

static int parse_selector(struct get_args *a, const char *s)
{
	a->sel_copy = wf_strdup(s);
	if (!a->sel_copy)
		return -ENOMEM;
	char *save = NULL;
	for (char *tok = strtok_r(a->sel_copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (a->n_reqs == 16)
			return -E2BIG;
		struct label_req *r = &a->reqs[a->n_reqs++];
		char *op;
		if ((op = strstr(tok, "!="))) {
			*op = '\0';
			r->value = op + 2;
			r->negate = true;
		} else if ((op = strstr(tok, "=="))) {
			*op = '\0';
			r->value = op + 2;
		} else if ((op = strchr(tok, '='))) {
			*op = '\0';
			r->value = op + 1;
		} else if (tok[0] == '!') {
			tok++;
			r->negate = true;
		}
		r->key = tok;
		if (!*r->key)
			return -EINVAL;
	}
	return a->n_reqs ? 0 : -EINVAL;
}

static bool selected(const struct get_args *a, const struct wf_k8s_object *o)
{
	for (size_t i = 0; i < a->n_reqs; i++) {
		const struct label_req *r = &a->reqs[i];
		const char *v = wf_k8s_object_label(o, r->key);
		bool match = r->value ? (v && strcmp(v, r->value) == 0) : v != NULL;
		if (match == r->negate)
			return false;
	}
	return true;
}

/* "svc", "svc,pods", "svc/web", "all". */
static int parse_kind(struct get_args *a, char *arg)
{
	char *slash = strchr(arg, '/');
	if (slash) {
		*slash = '\0';
		if (!slash[1])
			return -EINVAL;
		a->name = slash + 1;
	}
	char *save = NULL;
	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum wf_k8s_kind k;
		if (strcmp(tok, "all") == 0) {
			for (int i = 0; i < WF_K8S_KIND_COUNT; i++)
				a->kinds[i] = true;
			continue;
		}
		if (wf_k8s_kind_lookup(tok, &k) < 0) {
			wf_cli_usage_error("get", usage, "unknown kind '%s'", tok);
			return 1; /* reported */
		}
		a->kinds[k] = true;
	}
	return 0;
}

static int show(const struct get_args *a, const struct wf_store_snapshot *snap)
{
	struct wf_k8s_print_opts opts = {
		.wide = a->out == OUT_WIDE,
		.show_namespace = a->all_ns,
	};
	const struct wf_k8s_object **all = NULL;
	size_t n_all = 0, n_kinds = 0, printed = 0;
	int status = WF_CLI_EXIT_OK;

	for (int k = 0; k < WF_K8S_KIND_COUNT; k++)
		n_kinds += a->kinds[k];
	/* Several kinds in one table listing: NAME as "service/web", a blank line between. */
	opts.kind_prefix = n_kinds > 1;

	for (int k = 0; k < WF_K8S_KIND_COUNT; k++) {
		if (!a->kinds[k])
			continue;
		const struct wf_k8s_object **objs;
		ssize_t n =
			wf_store_list(snap, (enum wf_k8s_kind)k, a->all_ns ? NULL : a->ns, &objs);
		if (n < 0)
			return WF_CLI_EXIT_FAIL;
		size_t m = 0;
		for (ssize_t i = 0; i < n; i++)
			if ((!a->name || strcmp(objs[i]->name, a->name) == 0) &&
			    selected(a, objs[i]))
				objs[m++] = objs[i];
		if (a->name && m == 0 && n_kinds == 1) {
			fprintf(stderr, "weft get: %s \"%s\" not found%s%s\n",
				wf_k8s_kind_plural((enum wf_k8s_kind)k), a->name,
				wf_k8s_kind_cluster_scoped((enum wf_k8s_kind)k) ? ""
										: " in namespace ",
				wf_k8s_kind_cluster_scoped((enum wf_k8s_kind)k) ? "" : a->ns);
			status = WF_CLI_EXIT_FAIL;
		}
		if (m == 0) {
			wf_free(objs);
			continue;
		}
		if (a->out == OUT_JSON || a->out == OUT_YAML) {
			const struct wf_k8s_object **bigger =
				wf_reallocarray(all, n_all + m, sizeof(*all));
			if (!bigger) {
				wf_free(objs);
				wf_free(all);
				return WF_CLI_EXIT_FAIL;
			}
			all = bigger;
			memcpy(all + n_all, objs, m * sizeof(*objs));
			n_all += m;
		} else {
			if (printed++)
				fputc('\n', stdout);
			if (wf_k8s_print_objects((enum wf_k8s_kind)k, objs, m, &opts, stdout) < 0)
				status = WF_CLI_EXIT_FAIL;
		}
		wf_free(objs);
	}
	if (a->out == OUT_JSON || a->out == OUT_YAML) {
		if (n_all > 0 || !a->name)
			if (wf_cli_get_dump(all, n_all, a->out == OUT_YAML, stdout) < 0)
				status = WF_CLI_EXIT_FAIL;
		wf_free(all);
	} else if (printed == 0 && status == WF_CLI_EXIT_OK) {
		if (a->all_ns)
			fprintf(stderr, "No resources found\n");
		else
			fprintf(stderr, "No resources found in %s namespace.\n", a->ns);
	}
	return status;
}

int wf_cli_cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{"filename", required_argument, NULL, 'f'},
		{"namespace", required_argument, NULL, 'n'},
		{"all-namespaces", no_argument, NULL, 'A'},
		{"selector", required_argument, NULL, 'l'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct get_args a = {.ns = "default"};
	struct wf_cli_paths paths = {0};
	struct wf_store *store = NULL;
	struct wf_store_snapshot *snap = NULL;
	bool ns_given = false;
	int c, r, status = WF_CLI_EXIT_USAGE;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:n:Al:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (wf_cli_paths_add(&paths, optarg) < 0)
				goto oom;
			break;
		case 'n':
			a.ns = optarg;
			ns_given = true;
			break;
		case 'A':
			a.all_ns = true;
			break;
		case 'l':
			wf_free(a.sel_copy);
			a.n_reqs = 0;
			r = parse_selector(&a, optarg);
			if (r == -ENOMEM)
				goto oom;
			if (r < 0) {
				status = wf_cli_usage_error("get", usage, "bad selector '%s'",
							    optarg);
				goto out;
			}
			break;
		case 'o':
			if (strcmp(optarg, "wide") == 0) {
				a.out = OUT_WIDE;
			} else if (strcmp(optarg, "json") == 0) {
				a.out = OUT_JSON;
			} else if (strcmp(optarg, "yaml") == 0) {
				a.out = OUT_YAML;
			} else {
				status = wf_cli_usage_error(
					"get", usage,
					"unknown output format '%s' (wide, json or yaml)", optarg);
				goto out;
			}
			break;
		default:
			status = wf_cli_opt_common("get", usage, c, argv);
			goto out;
		}
	}
	if (ns_given && a.all_ns) {
		status = wf_cli_usage_error("get", usage, "-n and -A exclude each other");
		goto out;
	}
	if (optind < argc) {
		r = parse_kind(&a, argv[optind++]);
		if (r != 0) {
			if (r < 0)
				wf_cli_usage_error("get", usage, "bad KIND/NAME '%s'",
						   argv[optind - 1]);
			goto out;
		}
	} else {
		for (int k = 0; k < WF_K8S_KIND_COUNT; k++)
			a.kinds[k] = true;
	}
	if (optind < argc) {
		if (a.name) {
			status = wf_cli_usage_error("get", usage, "unexpected argument '%s'",
						    argv[optind]);
			goto out;
		}
		a.name = argv[optind++];
	}
	if (optind < argc) {
		status = wf_cli_usage_error("get", usage, "unexpected argument '%s'", argv[optind]);
		goto out;
	}

	struct wf_source_dir_stats st;
	size_t errors;
	status = wf_cli_load_new("get", usage, &paths, stderr, &store, &st, &errors);
	if (status != WF_CLI_EXIT_OK)
		goto out;
	snap = wf_store_snapshot(store);
	status = show(&a, snap);
	if (errors > 0)
		status = WF_CLI_EXIT_FAIL;
	goto out;
oom:
	fprintf(stderr, "weft get: %s\n", strerror(ENOMEM));
	status = WF_CLI_EXIT_FAIL;
out:
	wf_store_snapshot_unref(snap);
	wf_store_free(store);
	wf_cli_paths_done(&paths);
	wf_free(a.sel_copy);
	return status;
}
