/* `weft render proxy` (cmd.h). */
#include "proxy/cmd.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "k8s/object.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/ip.h"
#include "proxy/health.h"
#include "proxy/model.h"
#include "proxy/proxy.h"
#include "proxy/reconciler.h"
#include "proxy/socklb.h"
#include "proxy/render.h"

#define MAX_ARGS 64

static int load_file(const char *path, struct wf_k8s_object ***objs, size_t *n)
{
	struct wf_k8s_parse_result res = {0};
	struct wf_diag diag;
	struct wf_k8s_object **grown;
	char msg[1024];
	int r;

	wf_diag_clear(&diag);
	r = wf_k8s_parse_file(path, &res, &diag);
	if (r < 0) {
		if (diag.msg[0])
			fprintf(stderr, "weft: %s\n", wf_diag_format(&diag, msg, sizeof(msg)));
		else
			fprintf(stderr, "weft: %s: %s\n", path, wf_strerror(r));
		return r;
	}
	grown = wf_reallocarray(*objs, *n + res.n_objects + 1, sizeof(**objs));
	if (!grown) {
		wf_k8s_parse_result_done(&res);
		fprintf(stderr, "weft: %s: %s\n", path, wf_strerror(-ENOMEM));
		return -ENOMEM;
	}
	*objs = grown;
	for (size_t i = 0; i < res.n_objects; i++)
		grown[(*n)++] = wf_k8s_object_ref(res.objects[i]);
	wf_k8s_parse_result_done(&res);
	return 0;
}

static bool manifest_name(const char *name)
{
	size_t l = strlen(name);

	if (name[0] == '.')
		return false;
	return (l > 5 && !strcmp(name + l - 5, ".yaml")) ||
	       (l > 4 && !strcmp(name + l - 4, ".yml")) ||
	       (l > 5 && !strcmp(name + l - 5, ".json"));
}

int wf_proxy_load_manifests(char *const *paths, size_t n_paths, struct wf_k8s_object ***objs,
			    size_t *n)
{
	for (size_t i = 0; i < n_paths; i++) {
		struct dirent **names;
		struct stat st;
		int k, r = 0;

		if (stat(paths[i], &st) == -1) {
			r = -errno;
			fprintf(stderr, "weft: %s: %s\n", paths[i], strerror(errno));
			return r;
		}
		if (!S_ISDIR(st.st_mode)) {
			r = load_file(paths[i], objs, n);
			if (r < 0)
				return r;
			continue;
		}
		k = scandir(paths[i], &names, NULL, alphasort);
		if (k == -1) {
			r = -errno;
			fprintf(stderr, "weft: %s: %s\n", paths[i], strerror(errno));
			return r;
		}
		for (int j = 0; j < k; j++) {
			char path[4096];

			if (!r && manifest_name(names[j]->d_name)) {
				snprintf(path, sizeof(path), "%s/%s", paths[i], names[j]->d_name);
				r = load_file(path, objs, n);
			}
			free(names[j]);
		}
		free(names);
		if (r < 0)
			return r;
	}
	return 0;
}

void wf_proxy_objects_free(struct wf_k8s_object **objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wf_k8s_object_unref(objs[i]);
	wf_free(objs);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft render proxy -f PATH... [--node NAME] [--node-ip IP]...\n"
		"                         [--cluster-cidr CIDR]... [--zone ZONE] [--masquerade-all]\n"
		"                         [--pod-notrack [--tunnel-port PORT]]\n"
		"Prints the nftables ruleset the manifests yield on node NAME.\n"
		"The apply driver also takes --socket-lb-cgroup DIR: the socket-level load\n"
		"balancer attached to that cgroup v2 directory and synced after each apply.\n");
}

struct opts {
	char *files[MAX_ARGS];
	size_t n_files;
	struct wf_ip ips[MAX_ARGS];
	struct wf_cidr cidrs[MAX_ARGS];
	struct wf_ip local[MAX_ARGS]; /* apply --pod-notrack: the namespace's addresses */
	struct wf_proxy_config cfg;
	const char *socklb_cgroup; /* apply: attach the socket-LB there (socklb.h) */
};

/* Returns 0, 1 for --help (printed), or 2 after printing the problem. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"node", required_argument, NULL, 'n'},
		{"node-ip", required_argument, NULL, 'i'},
		{"cluster-cidr", required_argument, NULL, 'c'},
		{"zone", required_argument, NULL, 'z'},
		{"masquerade-all", no_argument, NULL, 'm'},
		{"pod-notrack", no_argument, NULL, 'N'},
		{"tunnel-port", required_argument, NULL, 'T'},
		{"socket-lb-cgroup", required_argument, NULL, 'L'},
		{"proxy-name", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct wf_proxy_config *cfg = &o->cfg;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (o->n_files == MAX_ARGS)
				goto usage_err;
			o->files[o->n_files++] = optarg;
			break;
		case 'n':
			cfg->node_name = optarg;
			break;
		case 'z':
			cfg->zone = optarg;
			break;
		case 'p':
			cfg->proxy_name = optarg;
			break;
		case 'm':
			cfg->masquerade_all = true;
			break;
		case 'N':
			cfg->pod_notrack = true;
			break;
		case 'T': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !v || v > 65535) {
				fprintf(stderr, "weft: --tunnel-port %s: not a port\n", optarg);
				return 2;
			}
			cfg->tunnel_port = (uint16_t)v;
			break;
		}
		case 'L':
			o->socklb_cgroup = optarg;
			break;
		case 'i':
			if (cfg->n_node_ips == MAX_ARGS ||
			    wf_ip_parse(optarg, &o->ips[cfg->n_node_ips])) {
				fprintf(stderr, "weft: --node-ip %s: not an IP address\n", optarg);
				return 2;
			}
			cfg->n_node_ips++;
			break;
		case 'c':
			if (cfg->n_cluster_cidrs == MAX_ARGS ||
			    wf_cidr_parse(optarg, false, &o->cidrs[cfg->n_cluster_cidrs])) {
				fprintf(stderr, "weft: --cluster-cidr %s: not a CIDR\n", optarg);
				return 2;
			}
			wf_cidr_network(&o->cidrs[cfg->n_cluster_cidrs],
					&o->cidrs[cfg->n_cluster_cidrs].ip);
			cfg->n_cluster_cidrs++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			goto usage_err;
		}
	}
	if (optind != argc)
		goto usage_err;
	cfg->node_ips = o->ips;
	cfg->cluster_cidrs = o->cidrs;
	return 0;

usage_err:
	usage(stderr);
	return 2;
}

int wf_proxy_cmd_render(int argc, char **argv)
{
	struct opts o = {0};
	struct wf_k8s_object **objs = NULL;
	struct wf_proxy_model *m = NULL;
	struct wf_buf out;
	size_t n_objs = 0;
	int r, status = 1;

	r = parse_opts(argc, argv, &o);
	if (r)
		return r == 1 ? 0 : r;
	if (!o.n_files) {
		usage(stderr);
		return 2;
	}
	r = wf_proxy_load_manifests(o.files, o.n_files, &objs, &n_objs);
	if (r < 0)
		goto out_objs;
	r = wf_proxy_model_build(&o.cfg, (const struct wf_k8s_object *const *)objs, n_objs, &m);
	if (r < 0) {
		fprintf(stderr, "weft: %s\n", wf_strerror(r));
		goto out_objs;
	}
	wf_buf_init(&out, 0);
	r = wf_proxy_render(m, &out);
	if (r < 0)
		fprintf(stderr, "weft: rendering: %s\n", wf_strerror(r));
	else if (fwrite(wf_buf_data(&out), 1, wf_buf_len(&out), stdout) != wf_buf_len(&out) ||
		 fflush(stdout))
		fprintf(stderr, "weft: writing: %s\n", strerror(errno));
	else
		status = 0;
	wf_buf_done(&out);
	wf_proxy_model_free(m);
out_objs:
	wf_proxy_objects_free(objs, n_objs);
	return status;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int apply_line(struct wf_proxy *p, struct wf_proxy_health *h, struct wf_socklb *slb,
		      const struct wf_proxy_config *cfg, char *line)
{
	char *paths[MAX_ARGS], *save = NULL;
	struct wf_k8s_object **objs = NULL;
	struct wf_proxy_model *m = NULL;
	struct wf_proxy_stats before = *wf_proxy_stats(p);
	const struct wf_proxy_stats *after;
	struct timespec t0;
	size_t n = 0, n_objs = 0;
	double load_ms;
	const char *kind;
	int r;

	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		if (n < MAX_ARGS)
			paths[n++] = t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = wf_proxy_load_manifests(paths, n, &objs, &n_objs);
	if (r < 0) {
		printf("error: loading manifests: %s\n", wf_strerror(r));
		goto out;
	}
	r = wf_proxy_model_build(cfg, (const struct wf_k8s_object *const *)objs, n_objs, &m);
	if (r < 0) {
		printf("error: model: %s\n", wf_strerror(r));
		goto out;
	}
	load_ms = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = wf_proxy_sync(p, m);
	if (r < 0) {
		printf("error: sync: %s: %s\n", wf_strerror(r), wf_proxy_error(p));
		goto out;
	}
	r = wf_proxy_health_update(h, wf_proxy_installed(p));
	if (r < 0) {
		printf("error: health servers: %s\n", wf_strerror(r));
		goto out;
	}
	/* the socket-LB follows, as in the agent (its time is not in ms=, but in slb_ms=) */
	if (slb) {
		r = wf_socklb_sync_full(slb, wf_proxy_installed(p));
		if (r < 0) {
			printf("error: socket-LB sync: %s\n", wf_strerror(r));
			goto out;
		}
	}
	after = wf_proxy_stats(p);
	kind = after->full_loads > before.full_loads	 ? "full"
	       : after->block_loads > before.block_loads ? "block"
	       : after->nl_deltas > before.nl_deltas	 ? "nl"
							 : "none";
	printf("ok kind=%s ms=%.3f load_ms=%.1f ct=%lu msgs=%lu elems=%lu tx=%lu max_tx_ms=%.3f "
	       "services=%zu",
	       kind, ms_since(&t0) - (slb ? (double)wf_socklb_stats(slb)->last_sync_ns / 1e6 : 0),
	       load_ms, after->ct_deleted - before.ct_deleted,
	       after->nl_messages - before.nl_messages, after->elements - before.elements,
	       after->transactions - before.transactions, (double)after->max_tx_ns / 1e6,
	       wf_proxy_installed(p)->n_svcs);
	if (slb)
		printf(" slb_ms=%.3f slb_keys=%zu slb_writes=%lu slb_adopted=%lu",
		       (double)wf_socklb_stats(slb)->last_sync_ns / 1e6, wf_socklb_stats(slb)->keys,
		       wf_socklb_stats(slb)->updates + wf_socklb_stats(slb)->removes,
		       wf_socklb_stats(slb)->adopted);
	printf("\n");
out:
	fflush(stdout);
	wf_proxy_objects_free(objs, n_objs);
	return r;
}

int wf_proxy_cmd_apply(int argc, char **argv)
{
	struct opts o = {0};
	struct wf_proxy *p = NULL;
	struct wf_proxy_health *h = NULL;
	struct wf_socklb *slb = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r, status = 0;

	r = parse_opts(argc, argv, &o);
	if (r)
		return r == 1 ? 0 : r;
	/* as the agent does: the node's addresses stay tracked under --pod-notrack (weft render
	 * reads no namespace and shows only the gateway a Node's podCIDR implies) */
	if (o.cfg.pod_notrack) {
		o.cfg.n_local_addrs = wf_proxy_node_addrs(o.local, MAX_ARGS);
		o.cfg.local_addrs = o.local;
	}
	r = wf_proxy_new(&wf_proxy_nft_ops, &p);
	if (r < 0) {
		fprintf(stderr, "weft: nft backend: %s\n", wf_strerror(r));
		return 1;
	}
	r = wf_proxy_health_new(&h);
	if (r < 0) {
		fprintf(stderr, "weft: health servers: %s\n", wf_strerror(r));
		wf_proxy_free(p);
		return 1;
	}
	if (o.socklb_cgroup) {
		char err[256] = "";

		r = wf_socklb_open(o.socklb_cgroup, &slb, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "weft: socket-LB: %s\n", err[0] ? err : wf_strerror(r));
			wf_proxy_health_free(h);
			wf_proxy_free(p);
			return 1;
		}
	}
	while ((len = getline(&line, &cap, stdin)) != -1) {
		if (len && line[len - 1] == '\n')
			line[len - 1] = 0;
		if (!strncmp(line, "apply ", 6)) {
			if (apply_line(p, h, slb, &o.cfg, line + 6) < 0)
				status = 1;
		} else if (!strncmp(line, "echo ", 5)) {
			printf("%s\n", line + 5);
			fflush(stdout);
		} else if (line[0] && line[0] != '#') {
			printf("error: unknown command\n");
			fflush(stdout);
			status = 1;
		}
	}
	free(line);
	wf_socklb_free(slb); /* its programs stay attached: the cgroup's owner removes them */
	wf_proxy_health_free(h);
	wf_proxy_free(p);
	return status;
}

int wf_proxy_render_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: weft render proxy -f PATH... [options]\n");
		if (argc >= 2)
			usage(stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "proxy")) {
		fprintf(stderr, "weft render: unknown ruleset '%s' (known: proxy)\n", argv[1]);
		return 2;
	}
	return wf_proxy_cmd_render(argc - 1, argv + 1);
}
