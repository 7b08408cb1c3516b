/* The node agent: loop, store, source, reconcilers, admin endpoint (agent.h). */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fabric/fabric.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lib/diag.h"
#include "lib/admin.h"
#include "lib/alloc.h"
#include "lib/cgroup.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/metrics.h"

#define LOG_SUB "agent"

struct rec {
	struct wf_agent *agent;
	const struct wf_agent_reconciler_ops *ops;
	void *state;
	bool dirty;	  /* input changed (or a retry is due) since the last sync */
	bool ok_once;	  /* has synced successfully at least once */
	bool failing;	  /* the last sync failed */
	uint64_t backoff; /* the next retry delay */
	struct wf_loop_timer *retry;
	char err[256]; /* the last error, logged once */
	unsigned long syncs, failures;
	struct wf_metric *m_syncs, *m_failures, *m_duration, *m_ok;
};

struct wf_agent {
	struct wf_agent_config cfg;
	struct wf_agent_facts facts; /* cfg.facts */
	struct wf_loop *loop;
	struct wf_store *store;
	struct wf_source_dir *source;
	struct wf_loop_defer *pass;
	struct wf_loop_timer *resync;
	struct wf_loop_signal *sigterm, *sigint;
	struct wf_metrics *metrics;
	struct wf_admin *admin;
	struct wf_metric *m_ready;
	int sub;
	size_t n_recs;
	struct rec *recs;
	atomic_bool ready; /* read by the admin thread */
};

struct wf_loop *wf_agent_loop(struct wf_agent *a)
{
	return a->loop;
}

struct wf_store *wf_agent_store(struct wf_agent *a)
{
	return a->store;
}

bool wf_agent_ready(const struct wf_agent *a)
{
	return atomic_load(&a->ready);
}

unsigned long wf_agent_syncs(const struct wf_agent *a, size_t i)
{
	return i < a->n_recs ? a->recs[i].syncs : 0;
}

unsigned long wf_agent_sync_failures(const struct wf_agent *a, size_t i)
{
	return i < a->n_recs ? a->recs[i].failures : 0;
}

static void update_ready(struct wf_agent *a)
{
	bool ready = true;
	for (size_t i = 0; i < a->n_recs; i++)
		ready &= a->recs[i].ok_once;
	if (ready && !atomic_load(&a->ready))
		wf_log_info(LOG_SUB, "ready", "node=%s", a->cfg.node_name);
	atomic_store(&a->ready, ready);
	wf_metric_set(a->m_ready, 0, ready);
}

static void format_delay(uint64_t ns, char *buf, size_t len)
{
	if (ns >= WF_NSEC_PER_SEC)
		snprintf(buf, len, "%llus", (unsigned long long)(ns / WF_NSEC_PER_SEC));
	else
		snprintf(buf, len, "%llums", (unsigned long long)(ns / WF_NSEC_PER_MSEC));
}

/* One sync of one reconciler from the current snapshot. */
static void sync_one(struct wf_agent *a, struct rec *r)
{
	struct wf_store_snapshot *snap = wf_store_snapshot(a->store);
	char err[sizeof(r->err)] = "";
	uint64_t t0 = wf_now_ns();
	int ret = r->ops->sync(r->state, snap, err, sizeof(err));
	uint64_t dt = wf_now_ns() - t0;
	wf_store_snapshot_unref(snap);

	r->dirty = false;
	r->syncs++;
	wf_metric_add(r->m_syncs, 0, 1);
	wf_metric_observe(r->m_duration, 0, (double)dt / 1e9, 1);
	if (ret >= 0) {
		if (r->failing)
			wf_log_info(LOG_SUB, "sync recovered", "reconciler=%s", r->ops->name);
		r->failing = false;
		r->ok_once = true;
		r->err[0] = 0;
		r->backoff = a->cfg.backoff_initial_ns;
		wf_loop_timer_stop(r->retry);
		wf_metric_set(r->m_ok, 0, 1);
		update_ready(a);
		return;
	}
	r->failures++;
	wf_metric_add(r->m_failures, 0, 1);
	wf_metric_set(r->m_ok, 0, 0);
	if (!err[0])
		snprintf(err, sizeof(err), "%s", wf_strerror(ret));
	char delay[32], msg[64], q[512];
	format_delay(r->backoff, delay, sizeof(delay));
	snprintf(msg, sizeof(msg), "sync failed, retrying in %s", delay);
	/* Logged once per distinct error: a retry that fails the same way says nothing new. */
	if (!r->failing || strcmp(err, r->err) != 0)
		wf_log_warn(LOG_SUB, msg, "reconciler=%s error=%s", r->ops->name,
			    wf_log_quote(err, q, sizeof(q)));
	else
		wf_log_debug(LOG_SUB, msg, "reconciler=%s", r->ops->name);
	snprintf(r->err, sizeof(r->err), "%s", err);
	r->failing = true;
	wf_loop_timer_set(r->retry, r->backoff, 0);
	r->backoff =
		r->backoff * 2 > a->cfg.backoff_max_ns ? a->cfg.backoff_max_ns : r->backoff * 2;
}

/* The deferred pass: every dirty reconciler syncs once, however many changes came in. */
static void on_pass(struct wf_loop *loop, struct wf_loop_defer *d, void *data)
{
	struct wf_agent *a = data;
	for (size_t i = 0; i < a->n_recs; i++) {
		struct rec *r = &a->recs[i];
		/* A failing reconciler waits for its retry timer, unless its input changed. */
		if (r->dirty)
			sync_one(a, r);
	}
}

static void mark_all(struct wf_agent *a)
{
	for (size_t i = 0; i < a->n_recs; i++)
		a->recs[i].dirty = true;
	wf_loop_defer_schedule(a->pass);
}

static void on_store(void *userdata, const struct wf_store_snapshot *snap,
		     const struct wf_store_event *events, size_t n_events)
{
	struct wf_agent *a = userdata;
	for (size_t i = 0; i < a->n_recs; i++)
		if (a->recs[i].ops && a->recs[i].ops->changes)
			a->recs[i].ops->changes(a->recs[i].state, snap, events, n_events);
	mark_all(a);
}

static void on_retry(struct wf_loop *loop, struct wf_loop_timer *t, void *data)
{
	struct rec *r = data;
	r->dirty = true;
	wf_loop_defer_schedule(r->agent->pass);
}

static void on_resync(struct wf_loop *loop, struct wf_loop_timer *t, void *data)
{
	mark_all(data);
}

static void on_signal(struct wf_loop *loop, struct wf_loop_signal *s,
		      const struct signalfd_siginfo *si, void *data)
{
	wf_log_info(LOG_SUB, "shutting down, leaving the data plane in place", "signal=%s",
		    strsignal((int)si->ssi_signo));
	wf_loop_stop(loop, 0);
}

/* A manifest the source could not apply: its earlier objects stay in the store. */
static void on_source_error(void *userdata, int err, const struct wf_diag *diag)
{
	char msg[WF_DIAG_FILE_MAX + WF_DIAG_PATH_MAX + WF_DIAG_MSG_MAX + 16], q[1024];
	wf_log_warn(LOG_SUB, "manifest rejected, keeping its previous objects", "error=%s",
		    wf_log_quote(wf_diag_format(diag, msg, sizeof(msg)), q, sizeof(q)));
}

/* The directory source (src/k8s/source-dir.h), watched with inotify on the agent's loop. */
static int start_source(struct wf_agent *a)
{
	struct wf_source_dir_config sc = {
		.store = a->store, .watch = true, .on_error = on_source_error, .userdata = a};
	int err = wf_source_dir_new(&sc, &a->source);
	if (err < 0)
		return err;
	err = wf_source_dir_add(a->source, a->cfg.manifests);
	if (err < 0) {
		wf_log_error(LOG_SUB, "cannot read the manifests directory", "dir=%s error=\"%s\"",
			     a->cfg.manifests, wf_strerror(err));
		return err;
	}
	return wf_source_dir_attach(a->source, a->loop);
}

static bool admin_ready(void *data)
{
	return wf_agent_ready(data);
}

static int register_metrics(struct wf_agent *a)
{
	static const double bounds[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
	char labels[96];
	a->m_ready = wf_metrics_gauge(a->metrics, "weft_agent_ready", NULL,
				      "1 when every reconciler has synced successfully");
	for (size_t i = 0; i < a->n_recs; i++) {
		struct rec *r = &a->recs[i];
		snprintf(labels, sizeof(labels), "reconciler=\"%s\"", r->ops->name);
		r->m_syncs = wf_metrics_counter(a->metrics, "weft_agent_syncs_total", labels,
						"Reconciler syncs, successful or not");
		r->m_failures = wf_metrics_counter(a->metrics, "weft_agent_sync_failures_total",
						   labels, "Reconciler syncs that failed");
		r->m_ok = wf_metrics_gauge(a->metrics, "weft_agent_sync_ok", labels,
					   "1 when the reconciler's last sync succeeded");
		r->m_duration = wf_metrics_histogram(a->metrics, "weft_agent_sync_seconds", labels,
						     "Time one sync took", bounds,
						     sizeof(bounds) / sizeof(bounds[0]));
		if (!r->m_syncs || !r->m_failures || !r->m_ok || !r->m_duration)
			return -ENOMEM;
	}
	return a->m_ready ? 0 : -ENOMEM;
}

int wf_agent_new(const struct wf_agent_config *cfg,
		 const struct wf_agent_reconciler_ops *const *reconcilers, size_t n,
		 struct wf_agent **ret)
{
	int err;
	struct wf_agent *a = wf_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->cfg.facts = &a->facts;
	if (!a->cfg.backoff_initial_ns)
		a->cfg.backoff_initial_ns = WF_AGENT_BACKOFF_INITIAL_NS;
	if (!a->cfg.backoff_max_ns)
		a->cfg.backoff_max_ns = WF_AGENT_BACKOFF_MAX_NS;
	if (!a->cfg.resync_ns)
		a->cfg.resync_ns = WF_AGENT_RESYNC_NS;
	a->recs = wf_calloc(n ? n : 1, sizeof(*a->recs));
	if (!a->recs) {
		err = -ENOMEM;
		goto err_a;
	}
	err = wf_loop_new(&a->loop);
	if (err < 0)
		goto err_a;
	err = wf_store_new(&a->store);
	if (err < 0)
		goto err_a;
	err = wf_metrics_new(1, &a->metrics);
	if (err < 0)
		goto err_a;
	err = wf_loop_defer_new(a->loop, on_pass, a, &a->pass);
	if (err < 0)
		goto err_a;
	err = wf_loop_timer_new(a->loop, a->cfg.resync_ns, a->cfg.resync_ns, on_resync, a,
				&a->resync);
	if (err < 0)
		goto err_a;
	err = wf_loop_signal_new(a->loop, SIGTERM, on_signal, a, &a->sigterm);
	if (err == 0)
		err = wf_loop_signal_new(a->loop, SIGINT, on_signal, a, &a->sigint);
	if (err < 0)
		goto err_a;
	for (size_t i = 0; i < n; i++) {
		struct rec *r = &a->recs[i];
		r->agent = a;
		r->ops = reconcilers[i];
		r->backoff = a->cfg.backoff_initial_ns;
		r->dirty = true;
		err = wf_loop_timer_new(a->loop, 0, 0, on_retry, r, &r->retry);
		if (err < 0)
			goto err_a;
		wf_loop_timer_stop(r->retry);
		a->n_recs++;
		err = r->ops->init(&a->cfg, a->metrics, &r->state);
		if (err < 0) {
			char q[256];
			wf_log_error(LOG_SUB, "reconciler failed to start",
				     "reconciler=%s error=%s", r->ops->name,
				     wf_log_quote(wf_strerror(err), q, sizeof(q)));
			r->ops = NULL; /* nothing to done() */
			goto err_a;
		}
	}
	err = register_metrics(a);
	if (err < 0)
		goto err_a;
	err = wf_store_subscribe(a->store, on_store, a);
	if (err < 0)
		goto err_a;
	a->sub = err;
	if (a->cfg.manifests) {
		err = start_source(a);
		if (err < 0)
			goto err_a;
	}
	if (a->cfg.admin) {
		err = wf_admin_start(a->cfg.admin, a->metrics, admin_ready, a, &a->admin);
		if (err < 0) {
			wf_log_error(LOG_SUB, "cannot start the admin endpoint",
				     "listen=%s error=\"%s\"", a->cfg.admin, wf_strerror(err));
			goto err_a;
		}
	}
	wf_loop_defer_schedule(a->pass); /* the first sync, whatever the store holds */
	*ret = a;
	return 0;
err_a:
	wf_agent_free(a);
	return err;
}

int wf_agent_run(struct wf_agent *a)
{
	return wf_loop_run(a->loop);
}

void wf_agent_stop(struct wf_agent *a)
{
	wf_loop_stop(a->loop, 0);
}

void wf_agent_free(struct wf_agent *a)
{
	if (!a)
		return;
	/* The admin thread reads the registry and the ready flag: stop it first. */
	wf_admin_stop(a->admin);
	wf_source_dir_free(a->source); /* before the loop it is attached to */
	for (size_t i = 0; i < a->n_recs; i++) {
		if (a->recs[i].ops && a->recs[i].ops->done)
			a->recs[i].ops->done(a->recs[i].state);
		wf_loop_timer_free(a->recs[i].retry);
	}
	wf_loop_defer_free(a->pass);
	wf_loop_timer_free(a->resync);
	wf_loop_signal_free(a->sigterm);
	wf_loop_signal_free(a->sigint);
	wf_store_free(a->store);
	wf_loop_free(a->loop);
	wf_metrics_free(a->metrics);
	wf_free(a->recs);
	wf_free(a);
}

/* ---- `weft agent` ---- */

/* Whether this process shares the network namespace of pid 1 (the host's, or with
 * hostNetwork a container's init's, which is the host's too). */
static bool in_host_netns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self) == -1 || stat("/proc/1/ns/net", &init) == -1)
		return false; /* unknown: the safe answer */
	return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: weft agent --manifests DIR | --kubeconfig FILE [options]\n"
		"\n"
		"Runs the node's network: fabric (pod routes between nodes) and the reconcilers\n"
		"registered with the agent.\n"
		"\n"
		"  --manifests DIR      watch a directory of Kubernetes manifests (YAML/JSON)\n"
		"  --kubeconfig FILE    the Kubernetes API (not yet supported)\n"
		"  --node-name NAME     this node's Node object (default: $NODE_NAME, else the\n"
		"                       host name)\n"
		"  --fabric MODE        vxlan (default) or host-gw\n"
		"  --pod-bridge NAME    the bridge pods are attached to (default %s): its ports\n"
		"                       get the fabric's eBPF fast path\n"
		"  --no-fastpath        no eBPF fast path: pod traffic between nodes takes the\n"
		"                       kernel's forwarding path only (and an installed fast path\n"
		"                       is removed)\n"
		"  --socket-lb-cgroup PATH  the cgroup v2 directory whose processes get the\n"
		"                       socket-level load balancer for Services (default: the\n"
		"                       cgroup2 mount's root, i.e. every process of the node)\n"
		"  --no-socket-lb       no socket-level load balancing: every Service connection\n"
		"                       goes through the nftables DNAT path\n"
		"  --admin ADDR:PORT    /healthz, /readyz, /metrics (default %s; \"none\": off)\n"
		"  --log SPEC           log levels, e.g. info,fabric=debug (or $WEFT_LOG)\n"
		"  -h, --help           this text\n",
		WF_AGENT_POD_BRIDGE_DEFAULT, WF_AGENT_ADMIN_DEFAULT);
}

int wf_agent_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"manifests", required_argument, NULL, 'm'},
		{"kubeconfig", required_argument, NULL, 'k'},
		{"node-name", required_argument, NULL, 'n'},
		{"fabric", required_argument, NULL, 'f'},
		{"admin", required_argument, NULL, 'a'},
		{"pod-bridge", required_argument, NULL, 'b'},
		{"no-fastpath", no_argument, NULL, 'F'},
		{"socket-lb-cgroup", required_argument, NULL, 'C'},
		{"no-socket-lb", no_argument, NULL, 'S'},
		{"log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct wf_agent_config cfg = {.fabric = WF_FABRIC_VXLAN, .admin = WF_AGENT_ADMIN_DEFAULT};
	const char *bridge = WF_AGENT_POD_BRIDGE_DEFAULT;
	bool fastpath = true, socket_lb = true;
	static char cg_root[4096];
	char host[256];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			cfg.manifests = optarg;
			break;
		case 'k':
			fprintf(stderr, "weft agent: --kubeconfig is not supported yet; use "
					"--manifests DIR\n");
			return 2;
		case 'n':
			cfg.node_name = optarg;
			break;
		case 'f':
			if (wf_fabric_mode_parse(optarg, &cfg.fabric) < 0) {
				fprintf(stderr,
					"weft agent: --fabric %s: expected vxlan or host-gw\n",
					optarg);
				return 2;
			}
			break;
		case 'a':
			cfg.admin = strcmp(optarg, "none") == 0 ? NULL : optarg;
			break;
		case 'b':
			bridge = optarg;
			break;
		case 'F':
			fastpath = false;
			break;
		case 'C':
			cfg.socket_lb_cgroup = optarg;
			break;
		case 'S':
			socket_lb = false;
			break;
		case 'l':
			if (wf_log_configure(optarg) < 0) {
				fprintf(stderr, "weft agent: --log %s: bad log spec\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "weft agent: unknown or incomplete option %s\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "weft agent: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	cfg.fastpath_bridge = fastpath ? bridge : NULL;
	if (!socket_lb)
		cfg.socket_lb_cgroup = NULL;
	else if (!cfg.socket_lb_cgroup && !in_host_netns())
		/* the root cgroup holds every process of the host, whatever its network
		 * namespace: an agent that runs a namespace of its own (a lab node, a test)
		 * must be given its cgroup, never take the host's */
		fprintf(stderr,
			"weft agent: not in the host's network namespace: socket-level load "
			"balancing needs --socket-lb-cgroup here (off)\n");
	else if (!cfg.socket_lb_cgroup && wf_cgroup2_root(cg_root, sizeof(cg_root)) == 0)
		cfg.socket_lb_cgroup = cg_root;
	/* no cgroup2 mount: the proxy reconciler says so once and runs without it */
	if (!cfg.manifests) {
		fprintf(stderr, "weft agent: --manifests DIR is required (--kubeconfig is not "
				"supported yet)\n");
		return 2;
	}
	if (!cfg.node_name)
		cfg.node_name = getenv("NODE_NAME");
	if (!cfg.node_name || !cfg.node_name[0]) {
		if (gethostname(host, sizeof(host)) == -1) {
			fprintf(stderr, "weft agent: --node-name is required\n");
			return 2;
		}
		host[sizeof(host) - 1] = 0;
		cfg.node_name = host;
	}
	size_t n = 0;
	while (wf_agent_reconcilers[n])
		n++;
	struct wf_agent *a;
	int ret = wf_agent_new(&cfg, wf_agent_reconcilers, n, &a);
	if (ret < 0) {
		fprintf(stderr, "weft agent: %s\n", wf_strerror(ret));
		return 1;
	}
	wf_log_info(
		LOG_SUB, "started",
		"node=%s fabric=%s fastpath=%s socket_lb=%s manifests=%s admin=%s", cfg.node_name,
		wf_fabric_mode_name(cfg.fabric), cfg.fastpath_bridge ? cfg.fastpath_bridge : "off",
		socket_lb ? (cfg.socket_lb_cgroup ? cfg.socket_lb_cgroup : "no-cgroup2") : "off",
		cfg.manifests, cfg.admin ? cfg.admin : "none");
	ret = wf_agent_run(a);
	wf_agent_free(a);
	if (ret < 0) {
		fprintf(stderr, "weft agent: %s\n", wf_strerror(ret));
		return 1;
	}
	return 0;
}
