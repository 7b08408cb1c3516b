/* weft lab: the control plane, one background process per lab. It plays the parts the API
 * server, the controller manager, the scheduler and the kubelet play in a real cluster
 * (DESIGN.md "How data flows", step 3): it reads what the user applied (manifests/), expands
 * Deployments into Pods, places pods on nodes, creates their namespaces and calls weft-cni as a
 * runtime does, runs their processes and readiness probes, allocates ClusterIPs and NodePorts,
 * and writes Nodes, Pods (with status), Services and EndpointSlices into objects/ for the node
 * agents and weft dns, which read that directory with their ordinary directory source.
 *
 * One loop, every 100 ms: reload manifests when the generation changed, reconcile pods, reap
 * children (container processes and probe processes), start due probes and restarts, then
 * write every object whose text changed (atomically, by rename). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab-internal.h"
#include "lib/alloc.h"
#include "lib/ip.h"
#include "lib/log.h"

#define CTL_MAX_CTRS 8
/* The LoadBalancer pool, hosts of the underlay 172.30.<subnet>.0/24 (lab-manifest.c checks
 * spec.loadBalancerIP against the same range). */
#define WF_LAB_LB_FIRST 200
#define WF_LAB_LB_LAST 249

struct ctr {
	json_t *spec; /* borrowed from pod->obj */
	const char *name;
	pid_t pid;
	bool running, ever_started, bad;
	int restarts, exit_code, signal;
	double restart_at, started_at;
	time_t started_wall, finished_wall;
	/* the run before the current one (kubelet's lastState.terminated), once restarted */
	bool has_last;
	int last_exit_code, last_signal;
	time_t last_started_wall, last_finished_wall;
	/* readiness (Pod lifecycle: container probes) */
	json_t *probe;
	bool ready;
	int succ, fails;
	double next_probe;
	pid_t probe_pid;
	char reason[64], message[256];
};

struct pod {
	char ns[64], name[254], key[320], uid[40], netns[64], ip[16], node[16], dir[512];
	unsigned node_idx;
	json_t *obj; /* apiVersion, kind, metadata, spec (owned) */
	time_t created, started;
	bool setup_done, failed, desired, terminating;
	double delete_at;
	time_t deletion_ts;
	char reason[64], message[512];
	size_t n_ctr;
	struct ctr ctr[CTL_MAX_CTRS];
};

struct ctl {
	struct wf_lab *lab;
	long gen, seen_gen;
	json_t *manifests; /* array of objects */
	struct pod **pods;
	size_t n_pods;
	json_t *svc_alloc; /* "ns/name" -> {clusterIP, nodePorts: {"i": n}, lbIP} */
	unsigned node_pods[WF_LAB_MAX_NODES + 1];
	uint8_t ipam[WF_LAB_MAX_NODES + 1][256];
	json_t *written;    /* file name -> text last written */
	json_t *first_seen; /* file name -> creationTimestamp of computed objects */
	char objdir[512];
	time_t boot;
	json_t *node_info; /* status.nodeInfo of every node */
};

static volatile sig_atomic_t ctl_stop;

static void on_term(int sig)
{
	ctl_stop = 1;
}

static void rfc3339(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *ts_json(time_t t)
{
	char b[32];

	rfc3339(t, b, sizeof(b));
	return json_string(b);
}

static void make_uid(char *buf, size_t size)
{
	uint8_t r[16];

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		memset(r, 0x5a, sizeof(r));
	snprintf(buf, size, "%02x%02x%02x%02x-%02x%02x-4%x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6] & 15, r[7], (r[8] & 0x3f) | 0x80, r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
}

/* Kubernetes' rand.SafeEncodeString alphabet (no vowels, no confusable digits). */
static void safe_encode(uint32_t h, char *buf, size_t n)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";

	for (size_t i = 0; i < n; i++) {
		buf[i] = alpha[h % 27];
		h = h / 27 + (h * 2654435761u >> 7);
	}
	buf[n] = '\0';
}

/* ---- manifests ---- */

static int reload_manifests(struct ctl *c)
{
	char dir[512], err[1024];
	struct wf_lab_docs docs = {0};
	json_t *arr;
	int r;

	wf_lab_path(c->lab, dir, sizeof(dir), "manifests");
	r = wf_lab_manifest_load(dir, &docs, err, sizeof(err));
	if (r < 0) {
		/* apply validated them: this is a bug or tampering; keep the last good set */
		wf_log_error("lab", "reading applied manifests failed, keeping the last set",
			     "err=\"%s\"", err);
		wf_lab_docs_done(&docs);
		return r;
	}
	arr = json_array();
	for (size_t i = 0; i < docs.n; i++)
		json_array_append(arr, docs.v[i].obj);
	wf_lab_docs_done(&docs);
	json_decref(c->manifests);
	c->manifests = arr;
	return 0;
}

/* The desired pods: bare Pods plus the expansion of every Deployment. Returns a new array of
 * Pod objects (metadata + spec). */
static json_t *desired_pods(struct ctl *c)
{
	json_t *out = json_array(), *m;
	size_t i;

	json_array_foreach(c->manifests, i, m)
	{
		const char *kind = json_string_value(json_object_get(m, "kind"));
		json_t *md = json_object_get(m, "metadata");

		if (!strcmp(kind, "Pod")) {
			json_t *p =
				json_pack("{s:s, s:s, s:O, s:O}", "apiVersion", "v1", "kind", "Pod",
					  "metadata", md, "spec", json_object_get(m, "spec"));

			json_array_append_new(out, json_deep_copy(p));
			json_decref(p);
		} else if (!strcmp(kind, "Deployment")) {
			json_t *spec = json_object_get(m, "spec");
			json_t *tmpl = json_object_get(spec, "template");
			json_t *rep = json_object_get(spec, "replicas");
			const char *dname = json_string_value(json_object_get(md, "name"));
			int replicas = rep ? (int)json_integer_value(rep) : 1;
			char *text = json_dumps(tmpl, JSON_SORT_KEYS | JSON_COMPACT);
			char hash[16], rs[300];

			/* pod-template-hash: names change exactly when the template does, so a
			 * changed template replaces the pods (Recreate-style). */
			safe_encode(wf_lab_hash(text ? text : ""), hash, 10);
			free(text);
			snprintf(rs, sizeof(rs), "%s-%s", dname, hash);
			for (int k = 0; k < replicas; k++) {
				char seed[400], sfx[8], name[330];
				json_t *pmd = json_object(), *labels;

				snprintf(seed, sizeof(seed), "%s/%d", rs, k);
				safe_encode(wf_lab_hash(seed), sfx, 5);
				snprintf(name, sizeof(name), "%s-%s", rs, sfx);
				json_object_set_new(pmd, "name", json_string(name));
				json_object_set(pmd, "namespace", json_object_get(md, "namespace"));
				labels = json_deep_copy(json_object_get(
					json_object_get(tmpl, "metadata"), "labels"));
				if (!labels)
					labels = json_object();
				json_object_set_new(labels, "pod-template-hash", json_string(hash));
				json_object_set_new(pmd, "labels", labels);
				if (json_object_get(json_object_get(tmpl, "metadata"),
						    "annotations"))
					json_object_set_new(
						pmd, "annotations",
						json_deep_copy(json_object_get(
							json_object_get(tmpl, "metadata"),
							"annotations")));
				json_object_set_new(
					pmd, "ownerReferences",
					json_pack("[{s:s, s:s, s:s, s:b, s:b}]", "apiVersion",
						  "apps/v1", "kind", "ReplicaSet", "name", rs,
						  "controller", 1, "blockOwnerDeletion", 1));
				json_array_append_new(
					out,
					json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1",
						  "kind", "Pod", "metadata", pmd, "spec",
						  json_deep_copy(json_object_get(tmpl, "spec"))));
			}
		}
	}
	return out;
}

/* ---- pods ---- */

static struct pod *find_pod(struct ctl *c, const char *key, bool terminating)
{
	for (size_t i = 0; i < c->n_pods; i++)
		if (!strcmp(c->pods[i]->key, key) && c->pods[i]->terminating == terminating)
			return c->pods[i];
	return NULL;
}

static void release_ip(struct ctl *c, struct pod *p)
{
	unsigned a, b, n, h;

	if (p->ip[0] && sscanf(p->ip, "%u.%u.%u.%u", &a, &b, &n, &h) == 4 && n == p->node_idx &&
	    h < 256)
		c->ipam[n][h] = 0;
}

/* CNI ADD/DEL with weft-cni, in the node's namespace (which is the runtime's namespace here):
 * network configuration on stdin, parameters in the CNI_* environment (CNI spec, "Parameters"). */
static int cni_call(struct ctl *c, struct pod *p, const char *cmd, char **ret_out)
{
	char conf[2048], nodens[64], what[32], netns[128], datadir[512], cid[64], cnipath[4096];
	char env_cmd[32], env_cid[96], env_ns[160], env_path[4200], err[256], args[1024];
	char *dir;
	unsigned mtu = c->lab->fabric == WF_LAB_FABRIC_VXLAN ? 1450 : 1500;

	snprintf(what, sizeof(what), "node-%u", p->node_idx);
	wf_lab_netns_name(c->lab, what, nodens, sizeof(nodens));
	wf_lab_path(c->lab, datadir, sizeof(datadir), "ipam/%s", what);
	snprintf(conf, sizeof(conf),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"weft-lab\",\"type\":\"weft-cni\","
		 "\"bridge\":\"cni0\",\"isGateway\":true,\"isDefaultGateway\":true,"
		 "\"hairpinMode\":true,\"mtu\":%u,"
		 "\"ipam\":{\"type\":\"weft-ipam\",\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":"
		 "\"10.244.%u.0/24\",\"gateway\":\"10.244.%u.1\"}]],\"routes\":[{\"dst\":"
		 "\"0.0.0.0/0\"}]}}",
		 mtu, datadir, p->node_idx, p->node_idx);
	snprintf(cid, sizeof(cid), "%s", p->uid);
	snprintf(netns, sizeof(netns), "/run/netns/%s", p->netns);
	snprintf(cnipath, sizeof(cnipath), "%s", c->lab->cni);
	dir = strrchr(cnipath, '/');
	if (dir)
		*dir = '\0';
	snprintf(env_cmd, sizeof(env_cmd), "CNI_COMMAND=%s", cmd);
	snprintf(env_cid, sizeof(env_cid), "CNI_CONTAINERID=%s", cid);
	snprintf(env_ns, sizeof(env_ns), "CNI_NETNS=%s", netns);
	snprintf(env_path, sizeof(env_path), "CNI_PATH=%s", cnipath);
	snprintf(args, sizeof(args),
		 "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
		 "K8S_POD_INFRA_CONTAINER_ID=%s",
		 p->ns, p->name, cid);
	char *argv[] = {"env",	  env_cmd, env_cid,	env_ns, "CNI_IFNAME=eth0",
			env_path, args,	   c->lab->cni, NULL};
	int r = wf_lab_run(nodens, argv, conf, ret_out, err, sizeof(err));

	if (r != 0) {
		snprintf(p->message, sizeof(p->message), "weft-cni %s failed (status %d): %s %s",
			 cmd, r, err, ret_out && *ret_out ? *ret_out : "");
		return -EIO;
	}
	return 0;
}

static void write_pod_files(struct ctl *c, struct pod *p)
{
	char path[600], buf[1024];
	int n;

	/* kubelet's resolv.conf for dnsPolicy ClusterFirst (Pod DNS policy docs) */
	n = snprintf(buf, sizeof(buf),
		     "search %s.svc.cluster.local svc.cluster.local cluster.local\n"
		     "nameserver %s\n"
		     "options ndots:5\n",
		     p->ns, WF_LAB_DNS_IP);
	snprintf(path, sizeof(path), "%s/resolv.conf", p->dir);
	wf_lab_write_atomic(path, buf, n);
	/* kubelet's managed /etc/hosts */
	{
		json_t *spec = json_object_get(p->obj, "spec");
		const char *hn = json_string_value(json_object_get(spec, "hostname")) ?: p->name;
		const char *sub = json_string_value(json_object_get(spec, "subdomain"));
		char fq[400] = "";

		if (sub)
			snprintf(fq, sizeof(fq), "%s.%s.%s.svc.cluster.local\t", hn, sub, p->ns);
		n = snprintf(buf, sizeof(buf),
			     "# Kubernetes-managed hosts file (weft lab).\n"
			     "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			     "%s\t%s%s\n",
			     p->ip, fq, hn);
	}
	snprintf(path, sizeof(path), "%s/hosts", p->dir);
	wf_lab_write_atomic(path, buf, n);
}

static int ctr_argv(struct ctl *c, struct pod *p, struct ctr *k, char **argv, size_t max,
		    char *store, size_t store_len)
{
	json_t *cmd = json_object_get(k->spec, "command"), *args = json_object_get(k->spec, "args");
	const char *image = json_string_value(json_object_get(k->spec, "image")) ?: "";
	size_t n = 0, off = 0, i;
	json_t *v;
	char tag[128];

	/* image names as references: "weft/echo", "weft/echo:latest", "docker.io/weft/echo" */
	snprintf(tag, sizeof(tag), "%s", image);
	if (strchr(tag, ':'))
		*strchr(tag, ':') = '\0';
	if (!strncmp(tag, "docker.io/", 10))
		memmove(tag, tag + 10, strlen(tag + 10) + 1);

#define PUSH(s)                                                               \
	do {                                                                  \
		int len_ = snprintf(store + off, store_len - off, "%s", (s)); \
		if (n + 1 >= max || off + len_ + 1 > store_len)               \
			return -E2BIG;                                        \
		argv[n++] = store + off;                                      \
		off += len_ + 1;                                              \
	} while (0)

	if (json_array_size(cmd)) {
		/* command replaces the image's entrypoint (Container.command) */
		json_array_foreach(cmd, i, v) PUSH(json_string_value(v) ?: "");
	} else if (!strcmp(tag, WF_LAB_ECHO_IMAGE)) {
		PUSH(c->lab->self);
		PUSH("echo");
		if (!json_array_size(args)) {
			json_t *ports = json_object_get(k->spec, "ports"), *pt;

			PUSH("--pod");
			PUSH(p->name);
			PUSH("--namespace");
			PUSH(p->ns);
			PUSH("--node");
			PUSH(p->node);
			json_array_foreach(ports, i, pt)
			{
				char spec[32];

				snprintf(spec, sizeof(spec), "%d/%s",
					 (int)json_integer_value(
						 json_object_get(pt, "containerPort")),
					 json_string_value(json_object_get(pt, "protocol"))
						 ?: "TCP");
				PUSH("--port");
				PUSH(spec);
			}
		}
	} else if (!strcmp(tag, WF_LAB_DNS_IMAGE)) {
		/* weft dns reads the lab's objects like the node agents do; args add to that */
		PUSH(c->lab->self);
		PUSH("dns");
		PUSH("--manifests");
		PUSH(c->objdir);
	} else {
		snprintf(k->reason, sizeof(k->reason), "ErrImagePull");
		snprintf(k->message, sizeof(k->message),
			 "image \"%s\" is not known to weft lab: give the container a command, or "
			 "use image %s",
			 image, WF_LAB_ECHO_IMAGE);
		return -ENOENT;
	}
	json_array_foreach(args, i, v) PUSH(json_string_value(v) ?: "");
#undef PUSH
	argv[n] = NULL;
	return 0;
}

static void ctr_start(struct ctl *c, struct pod *p, struct ctr *k)
{
	char *argv[128], store[8192], *env[80], envstore[8192], log[600], resolv[600], hosts[600];
	size_t ne = 0, eoff = 0, i;
	json_t *e;
	pid_t pid;

	if (ctr_argv(c, p, k, argv, 128, store, sizeof(store)) < 0) {
		k->bad = true;
		if (!k->reason[0])
			snprintf(k->reason, sizeof(k->reason), "CreateContainerError");
		return;
	}
	json_array_foreach(json_object_get(k->spec, "env"), i, e)
	{
		int len = snprintf(envstore + eoff, sizeof(envstore) - eoff, "%s=%s",
				   json_string_value(json_object_get(e, "name")) ?: "",
				   json_string_value(json_object_get(e, "value")) ?: "");

		if (ne + 1 >= 80 || eoff + len + 1 > sizeof(envstore))
			break;
		env[ne++] = envstore + eoff;
		eoff += len + 1;
	}
	env[ne] = NULL;
	snprintf(log, sizeof(log), "%s/%s.log", p->dir, k->name);
	/* dnsPolicy Default: the node's resolver configuration, i.e. the host's (Pod DNS policy) */
	if (!strcmp(json_string_value(json_object_get(json_object_get(p->obj, "spec"), "dnsPolicy"))
			    ?: "ClusterFirst",
		    "Default"))
		resolv[0] = '\0';
	else
		snprintf(resolv, sizeof(resolv), "%s/resolv.conf", p->dir);
	snprintf(hosts, sizeof(hosts), "%s/hosts", p->dir);
	/* the node's cgroup: its agent's socket-level load balancer serves the pod's sockets */
	char cg[512];
	if (wf_lab_cgroup_path(c->lab, p->node, cg, sizeof(cg)) < 0)
		cg[0] = '\0';
	struct wf_lab_spawn s = {
		.cgroup = cg[0] ? cg : NULL,
		.netns = p->netns,
		.resolv = resolv[0] ? resolv : NULL,
		.hosts = hosts,
		.hostname = json_string_value(
				    json_object_get(json_object_get(p->obj, "spec"), "hostname"))
				    ?: p->name,
		.log = log,
		.argv = argv,
		.env = env,
	};
	pid = wf_lab_spawn(&s);
	if (pid < 0) {
		snprintf(k->reason, sizeof(k->reason), "StartError");
		snprintf(k->message, sizeof(k->message), "fork: %s", strerror(-pid));
		k->restart_at = wf_lab_now() + 5;
		return;
	}
	wf_lab_record(c->lab, "pid %d %llu", (int)pid, wf_lab_proc_start(pid));
	k->pid = pid;
	k->running = true;
	k->ever_started = true;
	k->started_at = wf_lab_now();
	k->started_wall = time(NULL);
	k->reason[0] = k->message[0] = '\0';
	k->succ = k->fails = 0;
	k->ready = false;
	k->next_probe =
		k->started_at +
		(k->probe ? json_integer_value(json_object_get(k->probe, "initialDelaySeconds"))
			  : 0);
}

static void pod_setup(struct ctl *c, struct pod *p)
{
	char *out = NULL;
	int r;

	if (wf_lab_netns_add_fast(c->lab, p->netns) < 0) {
		snprintf(p->reason, sizeof(p->reason), "NetworkSetupError");
		snprintf(p->message, sizeof(p->message), "cannot create network namespace %s",
			 p->netns);
		p->failed = true;
		return;
	}
	/* lo is up already (wf_lab_netns_add_fast) */
	r = cni_call(c, p, "ADD", &out);
	if (r == 0) {
		json_t *res = json_loads(out, 0, NULL);
		const char *addr = json_string_value(
			json_object_get(json_array_get(json_object_get(res, "ips"), 0), "address"));

		if (addr) {
			snprintf(p->ip, sizeof(p->ip), "%.*s", (int)strcspn(addr, "/"), addr);
		} else {
			snprintf(p->message, sizeof(p->message),
				 "weft-cni ADD returned no address: %s", out);
			r = -EIO;
		}
		json_decref(res);
	}
	wf_free(out);
	if (r < 0) {
		snprintf(p->reason, sizeof(p->reason), "FailedCreatePodSandBox");
		p->failed = true;
		wf_log_error("lab", "pod network setup failed", "pod=%s err=\"%s\"", p->key,
			     p->message);
		return;
	}
	mkdir(p->dir, 0755);
	write_pod_files(c, p);
	p->started = time(NULL);
	for (size_t i = 0; i < p->n_ctr; i++)
		ctr_start(c, p, &p->ctr[i]);
	p->setup_done = true;
}

static struct pod *pod_new(struct ctl *c, json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata"), *spec = json_object_get(obj, "spec"), *k;
	const char *node = json_string_value(json_object_get(spec, "nodeName"));
	struct pod *p = wf_calloc(1, sizeof(*p));
	char h[16];
	size_t i;

	if (!p)
		return NULL;
	p->obj = json_incref(obj);
	snprintf(p->ns, sizeof(p->ns), "%s", json_string_value(json_object_get(md, "namespace")));
	snprintf(p->name, sizeof(p->name), "%s", json_string_value(json_object_get(md, "name")));
	snprintf(p->key, sizeof(p->key), "%s/%s", p->ns, p->name);
	make_uid(p->uid, sizeof(p->uid));
	snprintf(h, sizeof(h), "p-%08x", wf_lab_hash(p->uid));
	wf_lab_netns_name(c->lab, h, p->netns, sizeof(p->netns));
	wf_lab_path(c->lab, p->dir, sizeof(p->dir), "pods/%s_%s", p->ns, p->name);
	p->created = time(NULL);
	/* Scheduling: nodeName pins (validated by apply); otherwise the emptiest node. */
	if (node) {
		sscanf(node, "node-%u", &p->node_idx);
	} else {
		p->node_idx = 1;
		for (unsigned n = 2; n <= c->lab->nodes; n++)
			if (c->node_pods[n] < c->node_pods[p->node_idx])
				p->node_idx = n;
		json_object_set_new(spec, "nodeName", json_sprintf("node-%u", p->node_idx));
	}
	snprintf(p->node, sizeof(p->node), "node-%u", p->node_idx);
	c->node_pods[p->node_idx]++;
	json_array_foreach(json_object_get(spec, "containers"), i, k)
	{
		if (i >= CTL_MAX_CTRS)
			break;
		p->ctr[i].spec = k;
		p->ctr[i].name = json_string_value(json_object_get(k, "name")) ?: "main";
		p->ctr[i].probe = json_object_get(k, "readinessProbe");
		p->n_ctr++;
	}
	return p;
}

static void pod_signal(struct pod *p, int sig)
{
	for (size_t i = 0; i < p->n_ctr; i++)
		if (p->ctr[i].running && p->ctr[i].pid > 0)
			kill(-p->ctr[i].pid, sig);
}

static void pod_terminate(struct ctl *c, struct pod *p)
{
	json_t *g =
		json_object_get(json_object_get(p->obj, "spec"), "terminationGracePeriodSeconds");
	/* Pod termination: SIGTERM now, SIGKILL after the grace period (default 30 s). */
	long grace = g ? (long)json_integer_value(g) : 30;

	p->terminating = true;
	p->deletion_ts = time(NULL) + grace;
	p->delete_at = wf_lab_now() + grace;
	pod_signal(p, SIGTERM);
	wf_log_info("lab", "pod terminating", "pod=%s grace=%ld", p->key, grace);
}

static bool pod_any_running(const struct pod *p)
{
	for (size_t i = 0; i < p->n_ctr; i++)
		if (p->ctr[i].running)
			return true;
	return false;
}

static void pod_teardown(struct ctl *c, struct pod *p)
{
	char *argv[] = {"ip", "netns", "pids", p->netns, NULL};
	char *out = NULL;

	pod_signal(p, SIGKILL);
	/* anything else still in the namespace (exec'd shells, probes) */
	if (wf_lab_run(NULL, argv, NULL, &out, NULL, 0) == 0 && out)
		for (char *s = out, *e; *s; s = e) {
			long pid = strtol(s, &e, 10);

			if (e == s)
				break;
			if (pid > 1)
				kill(pid, SIGKILL);
		}
	wf_free(out);
	if (p->setup_done || p->ip[0]) {
		if (c->lab->cni[0]) {
			out = NULL;
			cni_call(c, p, "DEL", &out);
			wf_free(out);
		}
	}
	wf_lab_netns_del_fast(p->netns);
	release_ip(c, p);
	wf_lab_rmtree(p->dir);
	if (c->node_pods[p->node_idx])
		c->node_pods[p->node_idx]--;
	wf_log_info("lab", "pod deleted", "pod=%s", p->key);
}

static void pod_free(struct pod *p)
{
	if (!p)
		return;
	json_decref(p->obj);
	wf_free(p);
}

static void reconcile_pods(struct ctl *c)
{
	json_t *want = desired_pods(c), *o;
	size_t i;

	for (i = 0; i < c->n_pods; i++)
		c->pods[i]->desired = false;
	json_array_foreach(want, i, o)
	{
		json_t *md = json_object_get(o, "metadata");
		char key[320];
		struct pod *p, **np;

		snprintf(key, sizeof(key), "%s/%s",
			 json_string_value(json_object_get(md, "namespace")),
			 json_string_value(json_object_get(md, "name")));
		p = find_pod(c, key, false);
		if (p) {
			p->desired = true;
			continue;
		}
		/* the name is free again only once the old pod is gone */
		if (find_pod(c, key, true) || c->n_pods >= WF_LAB_MAX_PODS)
			continue;
		p = pod_new(c, o);
		np = p ? wf_reallocarray(c->pods, c->n_pods + 1, sizeof(*np)) : NULL;
		if (!np) {
			pod_free(p);
			continue;
		}
		c->pods = np;
		c->pods[c->n_pods++] = p;
		p->desired = true;
	}
	json_decref(want);
	for (i = 0; i < c->n_pods; i++)
		if (!c->pods[i]->desired && !c->pods[i]->terminating)
			pod_terminate(c, c->pods[i]);
}

/* ---- probes ---- */

static int named_port(const struct pod *p, const char *name)
{
	json_t *k, *pt;
	size_t i, j;

	json_array_foreach(json_object_get(json_object_get(p->obj, "spec"), "containers"), i, k)
	{
		json_array_foreach(json_object_get(k, "ports"), j, pt)
		{
			const char *n = json_string_value(json_object_get(pt, "name"));

			if (n && !strcmp(n, name))
				return (int)json_integer_value(
					json_object_get(pt, "containerPort"));
		}
	}
	return -1;
}

/* Runs in a forked child: exits 0 when the probe succeeds. kubelet probes from the node. */
static void __attribute__((noreturn)) probe_child(struct ctl *c, struct pod *p, struct ctr *k)
{
	json_t *h, *pj;
	int port, fd, tmo = (int)json_integer_value(json_object_get(k->probe, "timeoutSeconds"));
	struct sockaddr_in a = {.sin_family = AF_INET};
	char nodens[64];
	bool http;

	if (tmo <= 0)
		tmo = 1;
	if ((h = json_object_get(k->probe, "exec"))) {
		char *argv[64], resolv[600], hosts[600];
		size_t i, n = 0;
		json_t *v;
		int null = open("/dev/null", O_RDWR);

		json_array_foreach(json_object_get(h, "command"), i, v) if (n < 63) argv[n++] =
			(char *)(json_string_value(v) ?: "");
		argv[n] = NULL;
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		snprintf(resolv, sizeof(resolv), "%s/resolv.conf", p->dir);
		snprintf(hosts, sizeof(hosts), "%s/hosts", p->dir);
		char cg[512];
		if (wf_lab_cgroup_path(c->lab, p->node, cg, sizeof(cg)) < 0)
			cg[0] = '\0';
		struct wf_lab_spawn s = {.netns = p->netns,
					 .resolv = resolv,
					 .hosts = hosts,
					 .argv = argv,
					 .timeout = (unsigned)tmo,
					 .cgroup = cg[0] ? cg : NULL};
		wf_lab_enter_exec(&s);
		_exit(1);
	}
	http = (h = json_object_get(k->probe, "httpGet")) != NULL;
	if (!http)
		h = json_object_get(k->probe, "tcpSocket");
	pj = json_object_get(h, "port");
	port = json_is_string(pj) ? named_port(p, json_string_value(pj))
				  : (int)json_integer_value(pj);
	if (port <= 0)
		_exit(2);
	snprintf(nodens, sizeof(nodens), "weft-%s-%s", c->lab->name, p->node);
	if (wf_lab_netns_enter(nodens) < 0)
		_exit(3);
	a.sin_port = htons(port);
	inet_pton(AF_INET, json_string_value(json_object_get(h, "host")) ?: p->ip, &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	alarm(tmo);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		_exit(1);
	if (http) {
		char req[600], resp[64] = "";
		int code = 0, n;

		n = snprintf(req, sizeof(req),
			     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kube-probe/1.30\r\n"
			     "Connection: close\r\n\r\n",
			     json_string_value(json_object_get(h, "path")) ?: "/", p->ip, port);
		if (write(fd, req, n) != n)
			_exit(1);
		n = read(fd, resp, sizeof(resp) - 1);
		if (n <= 0)
			_exit(1);
		resp[n] = '\0';
		/* probe success: 200 <= status < 400 */
		if (sscanf(resp, "HTTP/%*s %d", &code) != 1 || code < 200 || code >= 400)
			_exit(1);
	}
	_exit(0);
}

static void probes_and_restarts(struct ctl *c)
{
	double now = wf_lab_now();

	for (size_t i = 0; i < c->n_pods; i++) {
		struct pod *p = c->pods[i];
		const char *policy = json_string_value(json_object_get(
					     json_object_get(p->obj, "spec"), "restartPolicy"))
					     ?: "Always";

		if (!p->setup_done)
			continue;
		for (size_t j = 0; j < p->n_ctr; j++) {
			struct ctr *k = &p->ctr[j];

			if (!k->running) {
				bool again = !strcmp(policy, "Always") ||
					     (!strcmp(policy, "OnFailure") && k->exit_code != 0);

				k->ready = false;
				if (!p->terminating && !k->bad && again && k->restart_at &&
				    now >= k->restart_at) {
					k->restarts++;
					k->restart_at = 0;
					k->has_last = true;
					k->last_exit_code = k->exit_code;
					k->last_signal = k->signal;
					k->last_started_wall = k->started_wall;
					k->last_finished_wall = k->finished_wall;
					ctr_start(c, p, k);
				}
				continue;
			}
			if (!k->probe) {
				k->ready = true;
				continue;
			}
			if (k->probe_pid || now < k->next_probe)
				continue;
			pid_t pid = fork();

			if (pid == 0)
				probe_child(c, p, k);
			if (pid > 0)
				k->probe_pid = pid;
			long period =
				json_integer_value(json_object_get(k->probe, "periodSeconds"));

			k->next_probe = now + (period > 0 ? period : 10);
		}
	}
}

static void reap(struct ctl *c)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < c->n_pods; i++) {
			struct pod *p = c->pods[i];

			for (size_t j = 0; j < p->n_ctr; j++) {
				struct ctr *k = &p->ctr[j];

				if (k->pid == pid) {
					double ran = wf_lab_now() - k->started_at;
					/* CrashLoopBackOff, shortened for a lab: 1 s doubling to 30 s,
					 * reset after 10 s of good running */
					double back =
						k->restarts > 5 ? 30 : (double)(1 << k->restarts);

					if (ran > 10)
						back = 1;
					k->running = false;
					k->ready = false;
					k->pid = 0;
					k->exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
									 : 128 + WTERMSIG(status);
					k->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
					k->finished_wall = time(NULL);
					k->restart_at = wf_lab_now() + back;
					wf_log_info("lab", "container exited",
						    "pod=%s container=%s code=%d", p->key, k->name,
						    k->exit_code);
				} else if (k->probe_pid == pid) {
					bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
					long st = json_integer_value(
						json_object_get(k->probe, "successThreshold"));
					long ft = json_integer_value(
						json_object_get(k->probe, "failureThreshold"));

					k->probe_pid = 0;
					if (!k->running)
						continue;
					if (ok) {
						k->fails = 0;
						if (++k->succ >= (st > 0 ? st : 1))
							k->ready = true;
					} else {
						k->succ = 0;
						if (++k->fails >= (ft > 0 ? ft : 3))
							k->ready = false;
					}
				}
			}
		}
	}
}

/* ---- objects ---- */

static bool pod_ready(const struct pod *p)
{
	if (!p->setup_done || p->failed)
		return false;
	for (size_t i = 0; i < p->n_ctr; i++)
		if (!p->ctr[i].ready)
			return false;
	return true;
}

static const char *pod_phase(const struct pod *p)
{
	const char *policy =
		json_string_value(json_object_get(json_object_get(p->obj, "spec"), "restartPolicy"))
			?: "Always";
	bool all_exited = p->setup_done, all_ok = true, any_start = false;

	for (size_t i = 0; i < p->n_ctr; i++) {
		all_exited &= p->ctr[i].ever_started && !p->ctr[i].running;
		all_ok &= p->ctr[i].exit_code == 0;
		any_start |= p->ctr[i].ever_started;
	}
	if (strcmp(policy, "Always") && all_exited)
		return all_ok ? "Succeeded" : (strcmp(policy, "Never") ? "Running" : "Failed");
	return any_start && p->setup_done ? "Running" : "Pending";
}

/* ContainerStateTerminated of a run that ended. */
static json_t *terminated_json(int exit_code, int sig, time_t started, time_t finished)
{
	json_t *t = json_pack("{s:i, s:s, s:o, s:o}", "exitCode", exit_code, "reason",
			      exit_code ? "Error" : "Completed", "startedAt", ts_json(started),
			      "finishedAt", ts_json(finished));

	if (t && sig)
		json_object_set_new(t, "signal", json_integer(sig));
	return t;
}

/* status.containerStatuses[i] as kubelet reports it: ready, restartCount, the current state
 * (waiting with CrashLoopBackOff while a restart is backing off) and lastState, the run before
 * the last restart. */
static json_t *container_status(const struct pod *p, const struct ctr *k)
{
	const char *policy =
		json_string_value(json_object_get(json_object_get(p->obj, "spec"), "restartPolicy"))
			?: "Always";
	bool again = !strcmp(policy, "Always") || (!strcmp(policy, "OnFailure") && k->exit_code);
	json_t *state, *last = json_object();

	if (k->running) {
		state = json_pack("{s:{s:o}}", "running", "startedAt", ts_json(k->started_wall));
		if (k->has_last)
			json_object_set_new(last, "terminated",
					    terminated_json(k->last_exit_code, k->last_signal,
							    k->last_started_wall,
							    k->last_finished_wall));
	} else if (k->ever_started && again && !p->terminating && !k->bad) {
		/* exited, and to be started again after the back-off */
		state = json_pack("{s:{s:s, s:o}}", "waiting", "reason", "CrashLoopBackOff",
				  "message",
				  json_sprintf("back-off restarting failed container %s in pod %s",
					       k->name, p->key));
		json_object_set_new(last, "terminated",
				    terminated_json(k->exit_code, k->signal, k->started_wall,
						    k->finished_wall));
	} else if (k->ever_started) {
		state = json_pack("{s:o}", "terminated",
				  terminated_json(k->exit_code, k->signal, k->started_wall,
						  k->finished_wall));
		if (k->has_last)
			json_object_set_new(last, "terminated",
					    terminated_json(k->last_exit_code, k->last_signal,
							    k->last_started_wall,
							    k->last_finished_wall));
	} else {
		state = json_pack("{s:{s:s, s:s}}", "waiting", "reason",
				  k->reason[0] ? k->reason : "ContainerCreating", "message",
				  k->message[0] ? k->message : p->message);
	}
	return json_pack("{s:s, s:s, s:b, s:b, s:i, s:o, s:o}", "name", k->name, "image",
			 json_string_value(json_object_get(k->spec, "image")) ?: "", "ready",
			 k->ready, "started", k->running, "restartCount", k->restarts, "state",
			 state, "lastState", last);
}

static json_t *pod_object(struct ctl *c, struct pod *p)
{
	json_t *o = json_deep_copy(p->obj), *md = json_object_get(o, "metadata");
	json_t *st = json_object(), *conds = json_array(), *cs = json_array();
	bool ready = pod_ready(p);
	const char *phase = pod_phase(p);

	json_object_set_new(md, "uid", json_string(p->uid));
	json_object_set_new(md, "creationTimestamp", ts_json(p->created));
	if (p->terminating) {
		json_object_set_new(md, "deletionTimestamp", ts_json(p->deletion_ts));
		json_object_set_new(md, "deletionGracePeriodSeconds",
				    json_integer((json_int_t)(p->delete_at - wf_lab_now() + 0.5)));
	}
	json_object_set_new(st, "phase", json_string(phase));
	json_object_set_new(st, "hostIP",
			    json_sprintf("172.30.%u.%u", c->lab->subnet, 10 + p->node_idx));
	json_object_set_new(
		st, "hostIPs",
		json_pack("[{s:o}]", "ip",
			  json_sprintf("172.30.%u.%u", c->lab->subnet, 10 + p->node_idx)));
	if (p->ip[0] && p->setup_done) {
		json_object_set_new(st, "podIP", json_string(p->ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", p->ip));
	}
	if (p->started)
		json_object_set_new(st, "startTime", ts_json(p->started));
	if (p->failed) {
		json_object_set_new(st, "reason", json_string(p->reason));
		json_object_set_new(st, "message", json_string(p->message));
	}
	json_array_append_new(conds,
			      json_pack("{s:s, s:s}", "type", "PodScheduled", "status", "True"));
	json_array_append_new(conds, json_pack("{s:s, s:s}", "type", "Initialized", "status",
					       p->setup_done ? "True" : "False"));
	json_array_append_new(conds, json_pack("{s:s, s:s}", "type", "ContainersReady", "status",
					       ready ? "True" : "False"));
	json_array_append_new(conds, json_pack("{s:s, s:s}", "type", "Ready", "status",
					       ready ? "True" : "False"));
	json_object_set_new(st, "conditions", conds);
	for (size_t i = 0; i < p->n_ctr; i++)
		json_array_append_new(cs, container_status(p, &p->ctr[i]));
	json_object_set_new(st, "containerStatuses", cs);
	json_object_set_new(o, "status", st);
	return o;
}

static const char *svc_key(json_t *svc, char *buf, size_t size)
{
	json_t *md = json_object_get(svc, "metadata");

	snprintf(buf, size, "%s/%s", json_string_value(json_object_get(md, "namespace")),
		 json_string_value(json_object_get(md, "name")));
	return buf;
}

static bool ip_used(struct ctl *c, const char *ip, const char *self)
{
	const char *k;
	json_t *v;

	if (!strcmp(ip, WF_LAB_DNS_IP) && strcmp(self, "kube-system/kube-dns"))
		return true; /* reserved for the cluster DNS addon */
	json_object_foreach(c->svc_alloc, k, v)
	{
		const char *a = json_string_value(json_object_get(v, "clusterIP"));

		if (a && !strcmp(a, ip) && strcmp(k, self))
			return true;
	}
	return false;
}

/* The LoadBalancer pool: WF_LAB_LB_FIRST..WF_LAB_LB_LAST of the underlay /24 (nodes use
 * .11-.60, the outside host .250; lab-manifest.c refuses spec.loadBalancerIP outside it). */
static bool lb_used(struct ctl *c, const char *ip, const char *self)
{
	const char *k;
	json_t *v;

	json_object_foreach(c->svc_alloc, k, v)
	{
		const char *a = json_string_value(json_object_get(v, "lbIP"));

		if (a && !strcmp(a, ip) && strcmp(k, self))
			return true;
	}
	return false;
}

/* LB IPAM, as MetalLB and Cilium LB IPAM do where no cloud exists: a LoadBalancer Service
 * without spec.loadBalancerClass gets an address of the pool, spec.loadBalancerIP when it is in
 * the pool and free; the address stays the Service's until it is deleted or changes type. */
static void lb_allocate(struct ctl *c, json_t *spec, json_t *a, const char *key)
{
	const char *want = json_string_value(json_object_get(spec, "loadBalancerIP"));
	const char *have = json_string_value(json_object_get(a, "lbIP"));
	unsigned span = WF_LAB_LB_LAST - WF_LAB_LB_FIRST + 1;
	char ip[20];

	if (want && *want) {
		unsigned a0, a1, a2, a3;
		char tail;

		if (have && !strcmp(have, want))
			return;
		/* apply refused an out-of-pool or taken one; a race leaves the Service pending */
		json_object_del(a, "lbIP");
		if (sscanf(want, "%u.%u.%u.%u%c", &a0, &a1, &a2, &a3, &tail) == 4 && a0 == 172 &&
		    a1 == 30 && a2 == c->lab->subnet && a3 >= WF_LAB_LB_FIRST &&
		    a3 <= WF_LAB_LB_LAST && !lb_used(c, want, key))
			json_object_set_new(a, "lbIP", json_string(want));
		return;
	}
	if (have)
		return;
	for (unsigned n = 0, start = wf_lab_hash(key) % span; n < span; n++) {
		snprintf(ip, sizeof(ip), "172.30.%u.%u", c->lab->subnet,
			 WF_LAB_LB_FIRST + (start + n) % span);
		if (!lb_used(c, ip, key)) {
			json_object_set_new(a, "lbIP", json_string(ip));
			return;
		}
	}
}

static bool port_used(struct ctl *c, long port, const char *self, size_t idx)
{
	const char *k, *pk;
	json_t *v, *pv;

	json_object_foreach(c->svc_alloc, k, v)
	{
		json_object_foreach(json_object_get(v, "nodePorts"), pk, pv)
		{
			if (json_integer_value(pv) == port &&
			    (strcmp(k, self) || (size_t)atoi(pk) != idx))
				return true;
		}
	}
	return false;
}

/* ClusterIP, NodePort and LoadBalancer address allocation (Service: "Choosing your own IP
 * address", NodePort range 30000-32767); spec values are honoured (apply refused taken or
 * out-of-range ones). */
static json_t *service_object(struct ctl *c, json_t *m)
{
	json_t *o = json_deep_copy(m), *spec = json_object_get(o, "spec"), *ports, *p, *a;
	char cipbuf[64] = "", key[320], type[32];
	const char *cip = NULL;
	size_t i;

	snprintf(type, sizeof(type), "%s",
		 json_string_value(json_object_get(spec, "type")) ?: "ClusterIP");
	/* copies: the spec fields they come from are replaced below */
	if (json_string_value(json_object_get(spec, "clusterIP"))) {
		snprintf(cipbuf, sizeof(cipbuf), "%s",
			 json_string_value(json_object_get(spec, "clusterIP")));
		cip = cipbuf;
	}

	svc_key(o, key, sizeof(key));
	if (!spec) {
		spec = json_object();
		json_object_set_new(o, "spec", spec);
	}
	json_object_set_new(spec, "type", json_string(type));
	a = json_object_get(c->svc_alloc, key);
	if (!a) {
		a = json_pack("{s:o}", "nodePorts", json_object());
		json_object_set_new(c->svc_alloc, key, a);
	}
	if (!strcmp(type, "ExternalName")) {
		json_object_del(a, "clusterIP");
	} else if (cip && !strcmp(cip, "None")) {
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", "None"));
	} else {
		const char *have = json_string_value(json_object_get(a, "clusterIP"));

		if (cip && *cip && !ip_used(c, cip, key)) {
			json_object_set_new(a, "clusterIP", json_string(cip));
		} else if (!have) {
			/* spread by name hash over 10.96.0.0/12, skipping .0-.15 */
			uint32_t start = wf_lab_hash(key) % ((1u << 20) - 32) + 16;

			for (uint32_t n = 0; n < (1u << 20); n++) {
				uint32_t off = (start + n) % (1u << 20);
				char ip[20];

				if (off < 16 || (off & 0xff) == 0xff || (off & 0xff) == 0)
					continue;
				snprintf(ip, sizeof(ip), "10.%u.%u.%u", 96 + (off >> 16),
					 (off >> 8) & 0xff, off & 0xff);
				if (!ip_used(c, ip, key)) {
					json_object_set_new(a, "clusterIP", json_string(ip));
					break;
				}
			}
		}
		have = json_string_value(json_object_get(a, "clusterIP"));
		json_object_set_new(spec, "clusterIP", json_string(have));
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", have));
		json_object_set_new(spec, "ipFamilies", json_pack("[s]", "IPv4"));
		json_object_set_new(spec, "ipFamilyPolicy", json_string("SingleStack"));
	}
	ports = json_object_get(spec, "ports");
	json_array_foreach(ports, i, p)
	{
		json_t *np = json_object_get(p, "nodePort"), *nps = json_object_get(a, "nodePorts");
		char idx[24];

		if (!json_object_get(p, "protocol"))
			json_object_set_new(p, "protocol", json_string("TCP"));
		if (!json_object_get(p, "targetPort"))
			json_object_set(p, "targetPort", json_object_get(p, "port"));
		if (strcmp(type, "NodePort") && strcmp(type, "LoadBalancer"))
			continue;
		snprintf(idx, sizeof(idx), "%zu", i);
		if (np && !port_used(c, json_integer_value(np), key, i)) {
			json_object_set(nps, idx, np);
			continue;
		}
		if (!json_object_get(nps, idx)) {
			long span = WF_LAB_NODEPORT_MAX - WF_LAB_NODEPORT_MIN + 1;
			long start = (wf_lab_hash(key) + i * 7919) % span;

			for (long n = 0; n < span; n++) {
				long port = WF_LAB_NODEPORT_MIN + (start + n) % span;

				if (!port_used(c, port, key, i)) {
					json_object_set_new(nps, idx, json_integer(port));
					break;
				}
			}
		}
		json_object_set(p, "nodePort", json_object_get(nps, idx));
	}
	if (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"))
		if (!json_object_get(spec, "externalTrafficPolicy"))
			json_object_set_new(spec, "externalTrafficPolicy", json_string("Cluster"));
	/* a loadBalancerClass names another implementation: the lab's pool stays out of it */
	if (!strcmp(type, "LoadBalancer") && !json_object_get(spec, "loadBalancerClass"))
		lb_allocate(c, spec, a, key);
	else
		json_object_del(a, "lbIP");
	if (json_object_get(a, "lbIP")) {
		json_t *md = json_object_get(o, "metadata"),
		       *ann = json_object_get(md, "annotations");

		/* the agents announce only what an IPAM of weft's allocated (agent/l2announce.h) */
		if (!json_is_object(ann)) {
			ann = json_object();
			json_object_set_new(md, "annotations", ann);
		}
		json_object_set_new(ann, "weft.dev/ip-allocated-from-pool", json_string("lab"));
		json_object_set_new(o, "status",
				    json_pack("{s:{s:[{s:O, s:s}]}}", "loadBalancer", "ingress",
					      "ip", json_object_get(a, "lbIP"), "ipMode", "VIP"));
	} else {
		json_object_set_new(o, "status", json_pack("{s:{}}", "loadBalancer"));
	}
	return o;
}

static bool labels_match(json_t *selector, json_t *labels)
{
	const char *k;
	json_t *v;

	json_object_foreach(selector, k, v)
	{
		const char *have = json_string_value(json_object_get(labels, k));

		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
			return false;
	}
	return true;
}

/* targetPort resolved for one pod (EndpointSlice controller: a named targetPort is looked up
 * in the pod's containers, per pod). -1 when the pod has no such port. */
static int target_port(struct pod *p, json_t *sp)
{
	json_t *tp = json_object_get(sp, "targetPort");

	if (json_is_string(tp))
		return named_port(p, json_string_value(tp));
	return tp ? (int)json_integer_value(tp)
		  : (int)json_integer_value(json_object_get(sp, "port"));
}

static void endpoint_slices(struct ctl *c, json_t *svc, json_t *out)
{
	json_t *md = json_object_get(svc, "metadata"), *spec = json_object_get(svc, "spec");
	json_t *sel = json_object_get(spec, "selector"), *groups = json_object();
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *sname = json_string_value(json_object_get(md, "name"));
	bool pnra = json_is_true(json_object_get(spec, "publishNotReadyAddresses"));
	const char *gk;
	json_t *g;
	int idx = 0;

	if (!json_object_size(sel))
		goto out; /* no selector: endpoints are someone else's (Service docs) */
	for (size_t i = 0; i < c->n_pods; i++) {
		struct pod *p = c->pods[i];
		json_t *pmd = json_object_get(p->obj, "metadata"), *ports = json_array(), *sp, *ep;
		json_t *pspec = json_object_get(p->obj, "spec");
		const char *hn = json_string_value(json_object_get(pspec, "hostname"));
		const char *sd = json_string_value(json_object_get(pspec, "subdomain"));
		bool ready = pod_ready(p);
		char *pk;
		size_t j;

		if (strcmp(p->ns, ns) || !p->setup_done || !p->ip[0] ||
		    !labels_match(sel, json_object_get(pmd, "labels"))) {
			json_decref(ports);
			continue;
		}
		json_array_foreach(json_object_get(spec, "ports"), j, sp)
		{
			int port = target_port(p, sp);

			if (port <= 0)
				continue;
			json_array_append_new(
				ports,
				json_pack("{s:s, s:s, s:i}", "name",
					  json_string_value(json_object_get(sp, "name")) ?: "",
					  "protocol",
					  json_string_value(json_object_get(sp, "protocol"))
						  ?: "TCP",
					  "port", port));
		}
		/* EndpointConditions: ready is false while terminating; serving follows the
		 * readiness probes even then; publishNotReadyAddresses makes every one ready */
		ep = json_pack("{s:[s], s:{s:b, s:b, s:b}, s:s, s:{s:s, s:s, s:s, s:s}}",
			       "addresses", p->ip, "conditions", "ready",
			       pnra || (ready && !p->terminating), "serving", pnra || ready,
			       "terminating", p->terminating, "nodeName", p->node, "targetRef",
			       "kind", "Pod", "namespace", p->ns, "name", p->name, "uid", p->uid);
		/* a pod's DNS hostname shows when its subdomain names this service */
		if (hn && sd && !strcmp(sd, sname))
			json_object_set_new(ep, "hostname", json_string(hn));
		pk = json_dumps(ports, JSON_COMPACT);
		g = json_object_get(groups, pk);
		if (!g) {
			g = json_pack("{s:o, s:[]}", "ports", json_incref(ports), "endpoints");
			json_object_set_new(groups, pk, g);
		}
		json_array_append_new(json_object_get(g, "endpoints"), ep);
		free(pk);
		json_decref(ports);
	}
out:
	if (json_object_size(groups) == 0 && json_object_size(sel)) {
		json_t *ports = json_array(), *sp;
		size_t j;

		/* the controller keeps one empty slice for a service with no endpoints */
		json_array_foreach(json_object_get(spec, "ports"), j, sp)
		{
			if (json_is_string(json_object_get(sp, "targetPort")))
				continue;
			json_array_append_new(
				ports,
				json_pack("{s:s, s:s, s:I}", "name",
					  json_string_value(json_object_get(sp, "name")) ?: "",
					  "protocol",
					  json_string_value(json_object_get(sp, "protocol"))
						  ?: "TCP",
					  "port",
					  json_integer_value(json_object_get(sp, "targetPort"))));
		}
		json_object_set_new(groups, "",
				    json_pack("{s:o, s:[]}", "ports", ports, "endpoints"));
	}
	json_object_foreach(groups, gk, g)
	{
		json_t *eps = json_object_get(g, "endpoints");
		size_t total = json_array_size(eps);

		for (size_t off = 0; off == 0 || off < total; off += WF_LAB_SLICE_MAX) {
			json_t *chunk = json_array();
			char seed[400], sfx[8];

			for (size_t e = off; e < total && e < off + WF_LAB_SLICE_MAX; e++)
				json_array_append(chunk, json_array_get(eps, e));
			snprintf(seed, sizeof(seed), "%s/%s/%d", ns, sname, idx++);
			safe_encode(wf_lab_hash(seed), sfx, 5);
			json_array_append_new(
				out,
				json_pack(
					"{s:s, s:s, s:{s:o, s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s, "
					"s:b, s:b, s:s}]}, s:s, s:o, s:O}",
					"apiVersion", "discovery.k8s.io/v1", "kind",
					"EndpointSlice", "metadata", "name",
					json_sprintf("%s-%s", sname, sfx), "namespace", ns,
					"labels", "kubernetes.io/service-name", sname,
					"endpointslice.kubernetes.io/managed-by",
					"endpointslice-controller.k8s.io", "ownerReferences",
					"apiVersion", "v1", "kind", "Service", "name", sname,
					"controller", 1, "blockOwnerDeletion", 1, "uid", "",
					"addressType", "IPv4", "endpoints", chunk, "ports",
					json_object_get(g, "ports")));
			if (total == 0)
				break;
		}
	}
	json_decref(groups);
}

/* status.nodeInfo as kubelet reports it: the lab's nodes are namespaces of this host, so the
 * host's OS and kernel; the "runtime" is the lab itself. */
static json_t *node_info(void)
{
	char os[256] = "Linux", line[512];
	struct utsname u;
	FILE *f = fopen("/etc/os-release", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "PRETTY_NAME=", 12)) {
			char *v = line + 12;

			v[strcspn(v, "\n")] = '\0';
			if (*v == '"' && strlen(v) >= 2) {
				v++;
				v[strlen(v) - 1] = '\0';
			}
			snprintf(os, sizeof(os), "%s", v);
		}
	if (f)
		fclose(f);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kubeletVersion", "weft-" WF_VERSION,
			 "containerRuntimeVersion", "weft-lab://" WF_VERSION, "osImage", os,
			 "kernelVersion", uname(&u) == 0 ? u.release : "", "operatingSystem",
			 "linux", "architecture", uname(&u) == 0 ? u.machine : "");
}

static void node_objects(struct ctl *c, json_t *out)
{
	for (unsigned n = 1; n <= c->lab->nodes; n++) {
		char name[16], ip[20], cidr[24];

		snprintf(name, sizeof(name), "node-%u", n);
		snprintf(ip, sizeof(ip), "172.30.%u.%u", c->lab->subnet, 10 + n);
		snprintf(cidr, sizeof(cidr), "10.244.%u.0/24", n);
		json_array_append_new(
			out, json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:o}, s:{s:s, s:[s]}, "
				       "s:{s:[{s:s, s:s}, {s:s, s:s}], s:[{s:s, s:s, s:s}]}}",
				       "apiVersion", "v1", "kind", "Node", "metadata", "name", name,
				       "labels", "kubernetes.io/hostname", name, "kubernetes.io/os",
				       "linux", "creationTimestamp", ts_json(c->boot), "spec",
				       "podCIDR", cidr, "podCIDRs", cidr, "status", "addresses",
				       "type", "InternalIP", "address", ip, "type", "Hostname",
				       "address", name, "conditions", "type", "Ready", "status",
				       "True", "reason", "KubeletReady"));
		json_object_set(
			json_object_get(json_array_get(out, json_array_size(out) - 1), "status"),
			"nodeInfo", c->node_info);
	}
}

static json_t *compute_objects(struct ctl *c)
{
	json_t *out = json_array(), *m, *seen = json_object();
	size_t i;
	const char *k;
	json_t *v;
	void *tmp;

	node_objects(c, out);
	json_array_append_new(out, json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1",
					     "kind", "Namespace", "metadata", "name", "default",
					     "status", "phase", "Active"));
	json_array_append_new(out, json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1",
					     "kind", "Namespace", "metadata", "name", "kube-system",
					     "status", "phase", "Active"));
	json_array_foreach(c->manifests, i, m)
	{
		const char *kind = json_string_value(json_object_get(m, "kind"));
		char key[320];

		if (!strcmp(kind, "Pod"))
			continue;
		if (!strcmp(kind, "Service")) {
			json_t *s = service_object(c, m);

			json_object_set_new(seen, svc_key(s, key, sizeof(key)), json_true());
			endpoint_slices(c, s, out);
			json_array_append_new(out, s);
		} else if (!strcmp(kind, "Deployment")) {
			json_t *d = json_deep_copy(m);
			json_t *rep = json_object_get(json_object_get(d, "spec"), "replicas");
			int want = rep ? (int)json_integer_value(rep) : 1, have = 0, ready = 0;
			json_t *sel = json_object_get(
				json_object_get(json_object_get(d, "spec"), "selector"),
				"matchLabels");
			const char *ns = json_string_value(
				json_object_get(json_object_get(d, "metadata"), "namespace"));

			for (size_t j = 0; j < c->n_pods; j++) {
				struct pod *p = c->pods[j];

				if (p->terminating || strcmp(p->ns, ns) ||
				    !labels_match(sel, json_object_get(
							       json_object_get(p->obj, "metadata"),
							       "labels")))
					continue;
				have++;
				ready += pod_ready(p);
			}
			json_object_set_new(d, "status",
					    json_pack("{s:i, s:i, s:i, s:i, s:i}", "replicas", have,
						      "readyReplicas", ready, "availableReplicas",
						      ready, "updatedReplicas", have,
						      "unavailableReplicas",
						      want - ready > 0 ? want - ready : 0));
			json_array_append_new(out, d);
		} else if (!strcmp(kind, "Namespace")) {
			const char *n = json_string_value(
				json_object_get(json_object_get(m, "metadata"), "name"));

			if (strcmp(n, "default") && strcmp(n, "kube-system"))
				json_array_append(out, m);
		} else {
			json_array_append(out, m);
		}
	}
	/* a deleted Service gives its ClusterIP and NodePorts back */
	json_object_foreach_safe(c->svc_alloc, tmp, k, v)
	{
		if (!json_object_get(seen, k))
			json_object_del(c->svc_alloc, k);
	}
	json_decref(seen);
	for (i = 0; i < c->n_pods; i++)
		json_array_append_new(out, pod_object(c, c->pods[i]));
	return out;
}

/* Pods and Nodes get their creationTimestamp where they are made (pod_new, the lab's boot). */
static bool owns_timestamp(const json_t *o)
{
	const char *kind = json_string_value(json_object_get(o, "kind")) ?: "";

	return !strcmp(kind, "Pod") || !strcmp(kind, "Node");
}

/* A restarted control plane keeps the creation times the objects already have. */
static void seed_first_seen(struct ctl *c)
{
	json_t *objs = wf_lab_objects_load(c->lab), *o;
	size_t i;

	json_array_foreach(objs, i, o)
	{
		json_t *ts = json_object_get(json_object_get(o, "metadata"), "creationTimestamp");
		char name[600];

		if (!json_is_string(ts) || owns_timestamp(o))
			continue;
		wf_lab_object_file(o, name, sizeof(name));
		json_object_set(c->first_seen, name, ts);
	}
	json_decref(objs);
}

static void write_objects(struct ctl *c)
{
	json_t *objs = compute_objects(c), *o, *now = json_object(), *v;
	const char *file;
	void *tmp;
	size_t i;

	json_array_foreach(objs, i, o)
	{
		char name[600], path[1200];
		json_t *md = json_object_get(o, "metadata");
		char *text;
		const char *old;

		wf_lab_object_file(o, name, sizeof(name));
		if (json_is_object(md) && !owns_timestamp(o)) {
			/* metadata.creationTimestamp is the API server's, not the manifest's: set
			 * when the object first appears and kept through every update (a manifest's
			 * own value, even "null" as kubectl's dry runs write it, is replaced) */
			json_t *ts = json_object_get(c->first_seen, name);

			if (!ts) {
				ts = ts_json(time(NULL));
				json_object_set_new(c->first_seen, name, ts);
			}
			json_object_set(md, "creationTimestamp", ts);
		}
		text = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(1));
		if (!text)
			continue;
		old = json_string_value(json_object_get(c->written, name));
		if (!old || strcmp(old, text)) {
			snprintf(path, sizeof(path), "%s/%s", c->objdir, name);
			if (wf_lab_write_atomic(path, text, strlen(text)) < 0)
				wf_log_error("lab", "writing object failed", "file=%s", path);
		}
		json_object_set_new(now, name, json_string(text));
		free(text);
	}
	json_object_foreach_safe(c->written, tmp, file, v)
	{
		if (!json_object_get(now, file)) {
			char path[1200];

			json_object_del(c->first_seen, file);
			snprintf(path, sizeof(path), "%s/%s", c->objdir, file);
			unlink(path);
		}
	}
	json_decref(c->written);
	c->written = now;
	json_decref(objs);
}

static void write_status(struct ctl *c)
{
	json_t *fails = json_array();
	int running = 0, pending = 0, failed = 0, terminating = 0;
	char path[512], *text;

	for (size_t i = 0; i < c->n_pods; i++) {
		struct pod *p = c->pods[i];
		const char *why = p->failed ? p->message : NULL;

		for (size_t j = 0; !why && j < p->n_ctr; j++)
			if (p->ctr[j].bad)
				why = p->ctr[j].message;
		if (p->terminating)
			terminating++;
		else if (why) {
			failed++;
			json_array_append_new(fails, json_sprintf("%s: %s", p->key, why));
		} else if (!strcmp(pod_phase(p), "Running") || !strcmp(pod_phase(p), "Succeeded"))
			running++;
		else
			pending++;
	}
	json_t *lbs = json_object(), *v;
	const char *k;

	json_object_foreach(c->svc_alloc, k, v)
	{
		if (json_object_get(v, "lbIP"))
			json_object_set(lbs, k, json_object_get(v, "lbIP"));
	}
	json_t *st =
		json_pack("{s:I, s:i, s:i, s:i, s:i, s:o, s:o}", "gen", (json_int_t)c->seen_gen,
			  "running", running, "pending", pending, "failed", failed, "terminating",
			  terminating, "failures", fails, "loadBalancers", lbs);
	text = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	if (text) {
		wf_lab_write_atomic(wf_lab_path(c->lab, path, sizeof(path), "status.json"), text,
				    strlen(text));
		free(text);
	}
}

int wf_lab_ctl_run(struct wf_lab *lab)
{
	struct ctl c = {.lab = lab,
			.svc_alloc = json_object(),
			.written = json_object(),
			.first_seen = json_object()};
	char genpath[512];

	c.boot = time(NULL);
	c.node_info = node_info();
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	wf_lab_path(lab, c.objdir, sizeof(c.objdir), "objects");
	wf_lab_path(lab, genpath, sizeof(genpath), "gen");
	c.manifests = json_array();
	seed_first_seen(&c);
	wf_log_info("lab", "control plane started", "lab=%s nodes=%u", lab->name, lab->nodes);
	while (!ctl_stop) {
		long gen = wf_lab_read_long(genpath);
		double now;

		if (gen != c.seen_gen && reload_manifests(&c) == 0)
			wf_log_info("lab", "manifests changed", "gen=%ld", gen);
		c.seen_gen = gen;
		/* every pass: a name freed by a pod that finished terminating is reused */
		reconcile_pods(&c);
		for (size_t i = 0; i < c.n_pods; i++)
			if (!c.pods[i]->setup_done && !c.pods[i]->failed && !c.pods[i]->terminating)
				pod_setup(&c, c.pods[i]);
		reap(&c);
		probes_and_restarts(&c);
		now = wf_lab_now();
		for (size_t i = 0; i < c.n_pods;) {
			struct pod *p = c.pods[i];

			if (p->terminating && (!pod_any_running(p) || now >= p->delete_at)) {
				pod_teardown(&c, p);
				pod_free(p);
				c.pods[i] = c.pods[--c.n_pods];
				continue;
			}
			i++;
		}
		write_objects(&c);
		write_status(&c);
		poll(NULL, 0, 100);
	}
	wf_log_info("lab", "control plane stopping", NULL);
	for (size_t i = 0; i < c.n_pods; i++)
		pod_free(c.pods[i]);
	wf_free(c.pods);
	json_decref(c.manifests);
	json_decref(c.svc_alloc);
	json_decref(c.written);
	json_decref(c.first_seen);
	json_decref(c.node_info);
	return 0;
}
