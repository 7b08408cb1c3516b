/* weft lab: the commands (issue 4, item 1) - up, apply, delete, exec, status, get, logs, down -
 * and the topology `up` builds and `down` removes (DESIGN.md "The lab"):
 *
 *   underlay netns (bridge br0, 172.30.<k>.0/24)
 *     node-N netns: eth0 172.30.<k>.<10+N>, cni0 10.244.N.1/24, its weft agent; pods hang off cni0
 *     outside netns: eth0 172.30.<k>.250, a client beyond the cluster
 *
 * Every namespace and process is written to <state>/created before it is made, so `down` can
 * remove everything even after any lab process was killed with -9. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab-internal.h"
#include "lab/lab.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/log.h"

/* The cluster DNS addon (kube-system/kube-dns at 10.96.0.10 and its weft/dns Deployment), as
 * kubeadm installs CoreDNS; applied by `up` when this build has `weft dns`, unless --no-dns. */
static const char dns_addon[] = "apiVersion: v1\n"
				"kind: Service\n"
				"metadata:\n"
				"  name: kube-dns\n"
				"  namespace: kube-system\n"
				"  labels: {k8s-app: kube-dns}\n"
				"spec:\n"
				"  clusterIP: " WF_LAB_DNS_IP "\n"
				"  selector: {k8s-app: kube-dns}\n"
				"  ports:\n"
				"  - {name: dns, port: 53, protocol: UDP, targetPort: 53}\n"
				"  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}\n"
				"---\n"
				"apiVersion: apps/v1\n"
				"kind: Deployment\n"
				"metadata:\n"
				"  name: weft-dns\n"
				"  namespace: kube-system\n"
				"spec:\n"
				"  replicas: 1\n"
				"  selector: {matchLabels: {k8s-app: kube-dns}}\n"
				"  template:\n"
				"    metadata:\n"
				"      labels: {k8s-app: kube-dns}\n"
				"    spec:\n"
				"      dnsPolicy: Default\n"
				"      containers:\n"
				"      - name: dns\n"
				"        image: " WF_LAB_DNS_IMAGE "\n"
				"        args: [--upstream, none]\n"
				"        ports:\n"
				"        - {name: dns, containerPort: 53, protocol: UDP}\n"
				"        - {name: dns-tcp, containerPort: 53, protocol: TCP}\n";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft lab COMMAND [--name NAME] ...\n"
		"  up -f PATH... [--nodes N] [--fabric vxlan|host-gw] [--no-dns] [--no-socket-lb]\n"
		"     [--timeout S]\n"
		"  apply -f PATH...        add or change objects in a running lab\n"
		"  delete -f PATH...       remove them (pods terminate for their grace period)\n"
		"  exec [-n NS] POD -- CMD...   (or --node NODE, or --outside, instead of POD)\n"
		"  status                  nodes, pods, services\n"
		"  get KIND [NAME] [-n NS|-A] [-o wide|json|yaml]\n"
		"  logs [-n NS] [-c CONTAINER] POD\n"
		"  down                    remove everything the lab made\n"
		"Every command takes --name NAME (default \"%s\"); labs of different names coexist.\n",
		WF_LAB_DEFAULT_NAME);
}

static bool daemon_alive(const struct wf_lab *lab)
{
	char path[512];
	long pid = wf_lab_read_long(wf_lab_path(lab, path, sizeof(path), "daemon.pid"));
	char spath[512];
	long start = wf_lab_read_long(wf_lab_path(lab, spath, sizeof(spath), "daemon.start"));

	return pid > 0 && (long)wf_lab_proc_start(pid) == start;
}

static int bump_gen(const struct wf_lab *lab, long *ret)
{
	char path[512], buf[32];
	long gen = wf_lab_read_long(wf_lab_path(lab, path, sizeof(path), "gen")) + 1;
	int n = snprintf(buf, sizeof(buf), "%ld\n", gen);

	*ret = gen;
	return wf_lab_write_atomic(path, buf, n);
}

/* Waits until the daemon has seen gen and no pod is still being created; prints progress.
 * Returns 0 when all pods run, 1 when some failed, -ETIMEDOUT or -ESRCH (daemon gone). */
static int wait_settled(const struct wf_lab *lab, long gen, int timeout, bool progress)
{
	double end = wf_lab_now() + timeout;
	char path[512], last[128] = "";

	wf_lab_path(lab, path, sizeof(path), "status.json");
	while (wf_lab_now() < end) {
		json_t *st = json_load_file(path, 0, NULL);
		char line[128];

		if (!daemon_alive(lab)) {
			json_decref(st);
			return -ESRCH;
		}
		if (st && json_integer_value(json_object_get(st, "gen")) >= gen) {
			long run = json_integer_value(json_object_get(st, "running"));
			long pend = json_integer_value(json_object_get(st, "pending"));
			long fail = json_integer_value(json_object_get(st, "failed"));

			snprintf(line, sizeof(line),
				 "  pods: %ld running, %ld starting, %ld failed", run, pend, fail);
			if (progress && strcmp(line, last)) {
				printf("%s\n", line);
				fflush(stdout);
				snprintf(last, sizeof(last), "%s", line);
			}
			if (pend == 0) {
				json_t *f;
				size_t i;

				json_array_foreach(json_object_get(st, "failures"), i, f)
					fprintf(stderr, "  pod %s\n", json_string_value(f));
				json_decref(st);
				return fail ? 1 : 0;
			}
		}
		json_decref(st);
		usleep(100000);
	}
	return -ETIMEDOUT;
}

static int write_manifests(const struct wf_lab *lab, struct wf_lab_docs *docs, bool report)
{
	for (size_t i = 0; i < docs->n; i++) {
		json_t *o = docs->v[i].obj;
		char file[600], path[1200], *text, *old = NULL;
		const char *kind = json_string_value(json_object_get(o, "kind"));
		const char *verb = "created";
		int r;

		wf_lab_object_file(o, file, sizeof(file));
		wf_lab_path(lab, path, sizeof(path), "manifests/%s", file);
		text = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(1));
		if (!text)
			return -ENOMEM;
		if (wf_lab_read_file(path, &old, NULL) == 0)
			verb = strcmp(old, text) ? "configured" : "unchanged";
		wf_free(old);
		r = wf_lab_write_atomic(path, text, strlen(text));
		free(text);
		if (r < 0)
			return r;
		if (report) {
			char lk[64];
			size_t k;

			for (k = 0; kind[k] && k < sizeof(lk) - 1; k++)
				lk[k] = (kind[k] >= 'A' && kind[k] <= 'Z') ? kind[k] + 32 : kind[k];
			lk[k] = '\0';
			printf("%s/%s %s\n", lk,
			       json_string_value(
				       json_object_get(json_object_get(o, "metadata"), "name")),
			       verb);
		}
	}
	return 0;
}

/* Loads and validates every -f path into docs. Prints the error and returns nonzero on any. */
static int load_paths(const struct wf_lab *lab, char **paths, int n, struct wf_lab_docs *docs,
		      bool validate)
{
	char err[1024];
	int r = 0;

	if (n == 0) {
		fprintf(stderr, "weft lab: give manifests with -f PATH\n");
		return -EINVAL;
	}
	for (int i = 0; i < n && r == 0; i++)
		r = wf_lab_manifest_load(paths[i], docs, err, sizeof(err));
	if (r == 0 && validate)
		r = wf_lab_manifest_validate(lab, docs, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "error: %s\n", err);
	return r;
}

/* ---- down ---- */

static void kill_wait(pid_t *pids, unsigned long long *starts, size_t n)
{
	/* A SIGKILLed process normally dies within milliseconds, but its exit (closing sockets,
	 * tearing down its mm) can take seconds on a loaded machine; until it is a zombie it may
	 * still hold a namespace, so wait generously - the common case does not wait at all. */
	double end = wf_lab_now() + 15;

	for (size_t i = 0; i < n; i++)
		if (wf_lab_proc_start(pids[i]) == starts[i])
			kill(pids[i], SIGKILL);
	for (size_t i = 0; i < n; i++) {
		while (wf_lab_now() < end) {
			char path[64], st[512] = "";
			int fd;

			if (wf_lab_proc_start(pids[i]) != starts[i])
				break;
			snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (read(fd, st, sizeof(st) - 1) < 0)
					st[0] = '\0';
				close(fd);
			}
			/* a zombie is gone for our purpose: it holds no namespace */
			if (strstr(st, ") Z ") || strstr(st, ") X "))
				break;
			usleep(10000);
		}
	}
}

static int lab_down(const struct wf_lab *lab, bool quiet)
{
	char path[512], *rec = NULL, *save;
	pid_t pids[4096];
	unsigned long long starts[4096];
	size_t npid = 0;
	int r;
	struct stat st;

	if (stat(lab->dir, &st) == -1) {
		if (!quiet)
			printf("lab %s is not running: nothing to do\n", lab->name);
		return 0;
	}
	/* 1. processes we started (control plane first, so it makes nothing new) */
	if (wf_lab_read_file(wf_lab_path(lab, path, sizeof(path), "created"), &rec, NULL) == 0) {
		for (char *l = strtok_r(rec, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			int pid;
			unsigned long long s;

			if (sscanf(l, "pid %d %llu", &pid, &s) == 2 && pid > 1 && npid < 4096) {
				pids[npid] = pid;
				starts[npid++] = s;
			}
		}
		kill_wait(pids, starts, npid);
		wf_free(rec);
		rec = NULL;
	}
	/* 2. namespaces: whatever still runs inside (exec'd shells, children), found in one pass
	 * over /proc by namespace inode, then the /run/netns mounts themselves */
	if (wf_lab_read_file(path, &rec, NULL) == 0) {
		static char *lines[WF_LAB_MAX_PODS + 64];
		static struct stat ns_st[WF_LAB_MAX_PODS + 64];
		size_t nl = 0;
		DIR *proc;

		for (char *l = strtok_r(rec, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char np[300];

			if (strncmp(l, "netns ", 6) || nl >= sizeof(lines) / sizeof(lines[0]))
				continue;
			snprintf(np, sizeof(np), "/run/netns/%s", l + 6);
			if (stat(np, &ns_st[nl]) == -1)
				continue; /* gone already */
			lines[nl++] = l + 6;
		}
		npid = 0;
		proc = opendir("/proc");
		for (struct dirent *e; proc && (e = readdir(proc)) && npid < 4096;) {
			char pp[300];
			struct stat pst;
			long pid = strtol(e->d_name, NULL, 10);

			if (pid <= 1)
				continue;
			snprintf(pp, sizeof(pp), "/proc/%ld/ns/net", pid);
			if (stat(pp, &pst) == -1)
				continue;
			for (size_t i = 0; i < nl; i++)
				if (pst.st_ino == ns_st[i].st_ino &&
				    pst.st_dev == ns_st[i].st_dev) {
					pids[npid] = pid;
					starts[npid++] = wf_lab_proc_start(pid);
					break;
				}
		}
		if (proc)
			closedir(proc);
		kill_wait(pids, starts, npid);
		/* pods first (reverse order of creation), the underlay last */
		for (size_t i = nl; i-- > 0;) {
			r = wf_lab_netns_del_fast(lines[i]);
			if (r < 0)
				fprintf(stderr, "weft lab: removing namespace %s: %s\n", lines[i],
					strerror(-r));
		}
		wf_free(rec);
	}
	/* 3. cgroups, now empty (only those recorded: never anyone else's) */
	if (wf_lab_read_file(path, &rec, NULL) == 0) {
		wf_lab_cgroups_del(rec);
		wf_free(rec);
		rec = NULL;
	}
	/* 4. files */
	r = wf_lab_rmtree(lab->dir);
	if (r < 0) {
		fprintf(stderr, "weft lab: removing %s: %s\n", lab->dir, strerror(-r));
		return 1;
	}
	{
		char parent[256];

		snprintf(parent, sizeof(parent), "%s", lab->dir);
		*strrchr(parent, '/') = '\0';
		rmdir(parent); /* /run/weft/lab when no other lab is left */
		if (!strcmp(parent, WF_LAB_STATE_ROOT))
			rmdir("/run/weft");
	}
	if (!quiet)
		printf("lab %s is down\n", lab->name);
	return 0;
}

/* ---- up ---- */

static int spawn_logged(const struct wf_lab *lab, const char *netns, const char *log,
			char *const argv[], pid_t *ret_pid)
{
	int fds[2];
	pid_t mid, pid = -1;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -errno;
	mid = fork();
	if (mid == -1) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (mid == 0) {
		/* detached: its own session, reparented to init when the middle child exits */
		setsid();
		pid = fork();
		if (pid == 0) {
			int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
			int null = open("/dev/null", O_RDONLY);

			close(fds[1]);
			dup2(null, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (netns && wf_lab_netns_enter(netns) < 0)
				_exit(127);
			execv(argv[0], argv);
			_exit(127);
		}
		if (write(fds[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &pid, sizeof(pid)) != sizeof(pid))
		pid = -1;
	close(fds[0]);
	waitpid(mid, NULL, 0);
	if (pid <= 0)
		return -ECHILD;
	/* the record may miss a process only if we die right here; its netns entry catches it */
	wf_lab_record(lab, "pid %d %llu", (int)pid, wf_lab_proc_start(pid));
	*ret_pid = pid;
	return 0;
}

/* Starts `weft agent` in every node once the control plane has written the Node objects (a
 * kubelet registers its Node before the network comes up), then waits for each /readyz. */
static int start_agents(const struct wf_lab *lab, long gen)
{
	char path[512], objdir[512], log[512];
	double end = wf_lab_now() + 10;
	unsigned ready = 0;
	pid_t pid;
	int r;

	wf_lab_path(lab, path, sizeof(path), "status.json");
	while (wf_lab_now() < end) {
		json_t *st = json_load_file(path, 0, NULL);
		bool seen = st && json_integer_value(json_object_get(st, "gen")) >= gen;

		json_decref(st);
		if (seen)
			break;
		usleep(20000);
	}
	wf_lab_path(lab, objdir, sizeof(objdir), "objects");
	for (unsigned n = 1; n <= lab->nodes; n++) {
		char node[32], ns[64];

		snprintf(node, sizeof(node), "node-%u", n);
		wf_lab_netns_name(lab, node, ns, sizeof(ns));
		wf_lab_path(lab, log, sizeof(log), "logs/agent-%s.log", node);
		/* the socket-LB serves the node's own cgroup, never the host's root one */
		char cg[512], *slb[2] = {"--no-socket-lb", NULL};
		struct stat st;

		if (!lab->no_socket_lb && wf_lab_cgroup_path(lab, node, cg, sizeof(cg)) == 0 &&
		    stat(cg, &st) == 0) {
			slb[0] = "--socket-lb-cgroup";
			slb[1] = cg;
		}
		char *av[] = {(char *)lab->self,
			      "agent",
			      "--node-name",
			      node,
			      "--manifests",
			      objdir,
			      "--fabric",
			      lab->fabric == WF_LAB_FABRIC_HOST_GW ? "host-gw" : "vxlan",
			      "--admin",
			      WF_LAB_AGENT_ADMIN,
			      slb[0],
			      slb[1],
			      NULL};
		r = spawn_logged(lab, ns, log, av, &pid);
		if (r < 0)
			return r;
	}
	end = wf_lab_now() + 15;
	for (unsigned n = 1; n <= lab->nodes && wf_lab_now() < end;) {
		char node[32], ns[64];
		char *av[] = {"curl", "-sf", "-m", "1", "http://" WF_LAB_AGENT_ADMIN "/readyz",
			      NULL};

		snprintf(node, sizeof(node), "node-%u", n);
		wf_lab_netns_name(lab, node, ns, sizeof(ns));
		if (wf_lab_run(ns, av, NULL, NULL, NULL, 0) == 0) {
			ready++;
			n++;
			continue;
		}
		usleep(100000);
	}
	if (ready == lab->nodes)
		printf("  weft agent ready on every node\n");
	else
		printf("  warning: weft agent is not ready on %u of %u nodes yet (see %s/logs/)\n",
		       lab->nodes - ready, lab->nodes, lab->dir);
	return 0;
}

static int topology_up(struct wf_lab *lab)
{
	char under[64], ns[64], what[32], script[1024];
	char *fwd[] = {"sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward", NULL};
	char *nf_off[] = {
		"sh", "-c",
		"cd /proc/sys/net/bridge 2>/dev/null || exit 0; for f in "
		"bridge-nf-call-iptables bridge-nf-call-ip6tables bridge-nf-call-arptables; "
		"do echo 0 > $f; done",
		NULL};
	int r;

	wf_lab_netns_name(lab, "underlay", under, sizeof(under));
	r = wf_lab_netns_add(lab, under);
	if (r < 0)
		return r;
	r = wf_lab_ip_batch(under, "link set lo up\nlink add br0 type bridge\nlink set br0 up\n");
	if (r < 0)
		return r;
	/* The underlay plays the switch between the nodes, and a switch does not run the host's
	 * IP netfilter hooks on the frames it bridges: with br_netfilter loaded, every frame
	 * between two nodes would otherwise pay for them here (and the underlay has no rules). */
	wf_lab_run(under, nf_off, NULL, NULL, NULL, 0);
	for (unsigned n = 0; n <= lab->nodes; n++) {
		/* n == 0 is the outside client */
		unsigned host = n ? 10 + n : 250;

		if (n)
			snprintf(what, sizeof(what), "node-%u", n);
		else
			snprintf(what, sizeof(what), "outside");
		wf_lab_netns_name(lab, what, ns, sizeof(ns));
		r = wf_lab_netns_add(lab, ns);
		if (r < 0)
			return r;
		snprintf(script, sizeof(script),
			 "link add u-%s type veth peer name eth0 netns %s\n"
			 "link set u-%s master br0 up\n",
			 n ? what : "out", ns, n ? what : "out");
		r = wf_lab_ip_batch(under, script);
		if (r < 0)
			return r;
		snprintf(script, sizeof(script),
			 "link set lo up\n"
			 "addr add 172.30.%u.%u/24 dev eth0\n"
			 "link set eth0 up\n",
			 lab->subnet, host);
		r = wf_lab_ip_batch(ns, script);
		if (r < 0)
			return r;
		if (n && wf_lab_run(ns, fwd, NULL, NULL, NULL, 0) != 0)
			return -EIO;
	}
	return 0;
}

/* Finds weft-cni: $WEFT_CNI, beside this binary, in the build tree, or in /opt/cni/bin.
 * Returns 0, or -ENOENT with an error printed. */
static int find_cni(struct wf_lab *lab)
{
	char dir[4096], cand[3][4200];
	const char *env = getenv("WEFT_CNI");

	lab->cni[0] = '\0';
	if (env && *env) {
		if (access(env, X_OK) == 0) {
			snprintf(lab->cni, sizeof(lab->cni), "%s", env);
			return 0;
		}
		fprintf(stderr, "error: WEFT_CNI=%s is not an executable file\n", env);
		return -ENOENT;
	}
	snprintf(dir, sizeof(dir), "%s", lab->self);
	*strrchr(dir, '/') = '\0';
	snprintf(cand[0], sizeof(cand[0]), "%s/weft-cni", dir);
	snprintf(cand[1], sizeof(cand[1]), "%s/../cni/weft-cni", dir);
	snprintf(cand[2], sizeof(cand[2]), "/opt/cni/bin/weft-cni");
	for (int i = 0; i < 3; i++)
		if (access(cand[i], X_OK) == 0 && realpath(cand[i], lab->cni))
			return 0;
	lab->cni[0] = '\0';
	fprintf(stderr,
		"error: weft-cni not found (looked in %s, %s and %s); build it or set "
		"WEFT_CNI=PATH\n",
		cand[0], cand[1], cand[2]);
	return -ENOENT;
}

static int cmd_up(struct wf_lab *lab, int argc, char **argv)
{
	char *paths[64], path[512], log[512];
	int npaths = 0, timeout = 300, r, rc = 1;
	bool no_dns = false;
	struct wf_lab_docs docs = {0};
	char err[1024];
	long gen;
	pid_t pid;
	double t0 = wf_lab_now();

	for (int i = 0; i < argc; i++) {
		if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--filename")) && i + 1 < argc &&
		    npaths < 64)
			paths[npaths++] = argv[++i];
		else if (!strcmp(argv[i], "--nodes") && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);

			if (*end || n < 1 || n > WF_LAB_MAX_NODES) {
				fprintf(stderr, "weft lab up: --nodes must be 1 to %d\n",
					WF_LAB_MAX_NODES);
				return 2;
			}
			lab->nodes = n;
		} else if (!strcmp(argv[i], "--fabric") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "vxlan"))
				lab->fabric = WF_LAB_FABRIC_VXLAN;
			else if (!strcmp(argv[i], "host-gw"))
				lab->fabric = WF_LAB_FABRIC_HOST_GW;
			else {
				fprintf(stderr, "weft lab up: --fabric is vxlan or host-gw\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--no-dns"))
			no_dns = true;
		else if (!strcmp(argv[i], "--no-socket-lb"))
			lab->no_socket_lb = true;
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else {
			fprintf(stderr, "weft lab up: unknown argument %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (access(lab->dir, F_OK) == 0) {
		fprintf(stderr,
			"error: lab \"%s\" already exists (%s); run `weft lab down --name %s` first, "
			"or pick another --name\n",
			lab->name, lab->dir, lab->name);
		return 1;
	}
	if (find_cni(lab) < 0)
		return 1;
	/* the fabric and the service proxy are the node agents' */
	if (!wf_lab_has_command(lab, "agent")) {
		fprintf(stderr, "error: %s has no `agent` command; run the lab with `weft lab`\n",
			lab->self);
		return 1;
	}
	lab->agent = true;
	lab->dns = !no_dns && wf_lab_has_command(lab, "dns");
	lab->subnet = wf_lab_hash(lab->name) % 250 + 1;
	/* validate everything before anything is made: a broken manifest changes nothing */
	{
		struct wf_lab probe = *lab;

		probe.dir[0] = '\0';
		if (npaths && load_paths(&probe, paths, npaths, &docs, false) < 0)
			goto out;
		if (lab->dns && wf_lab_manifest_load_text(dns_addon, "<dns addon>", &docs, err,
							  sizeof(err)) < 0) {
			fprintf(stderr, "error: %s\n", err);
			goto out;
		}
		if (wf_lab_manifest_validate(&probe, &docs, err, sizeof(err)) < 0) {
			fprintf(stderr, "error: %s\n", err);
			goto out;
		}
	}
	snprintf(path, sizeof(path), "%s", lab->dir);
	*strrchr(path, '/') = '\0';
	mkdir("/run/weft", 0755);
	mkdir(path, 0755);
	if (mkdir(lab->dir, 0755) == -1) {
		fprintf(stderr, "error: cannot create %s: %m\n", lab->dir);
		goto out;
	}
	static const char *const subdirs[] = {"manifests", "objects", "pods", "logs", "ipam"};
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		mkdir(wf_lab_path(lab, path, sizeof(path), "%s", subdirs[i]), 0755);
	r = wf_lab_save(lab);
	if (r < 0)
		goto fail;
	printf("Creating lab \"%s\": %u nodes, fabric %s\n", lab->name, lab->nodes,
	       lab->fabric == WF_LAB_FABRIC_HOST_GW ? "host-gw" : "vxlan");
	r = topology_up(lab);
	if (r < 0)
		goto fail;
	r = wf_lab_cgroups_add(lab);
	if (r < 0)
		goto fail;
	printf("  underlay, %u node namespaces and the outside client are up (%.1fs)\n", lab->nodes,
	       wf_lab_now() - t0);
	r = write_manifests(lab, &docs, false);
	if (r < 0)
		goto fail;
	r = bump_gen(lab, &gen);
	if (r < 0)
		goto fail;
	{
		char *av[] = {lab->self, "lab", "_daemon", "--name", lab->name, NULL};
		char buf[32];
		int n;

		wf_lab_path(lab, log, sizeof(log), "logs/control-plane.log");
		r = spawn_logged(lab, NULL, log, av, &pid);
		if (r < 0)
			goto fail;
		n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
		wf_lab_write_atomic(wf_lab_path(lab, path, sizeof(path), "daemon.pid"), buf, n);
		n = snprintf(buf, sizeof(buf), "%llu\n", wf_lab_proc_start(pid));
		wf_lab_write_atomic(wf_lab_path(lab, path, sizeof(path), "daemon.start"), buf, n);
	}
	printf("  control plane started; starting %s\n", docs.n ? "pods" : "(no manifests)");
	r = start_agents(lab, gen);
	if (r < 0)
		goto fail;
	r = wait_settled(lab, gen, timeout, true);
	if (r < 0) {
		fprintf(stderr, "error: %s (see %s)\n",
			r == -ESRCH ? "the lab's control plane exited"
				    : "pods did not settle in time",
			log);
		goto fail;
	}
	printf("Lab \"%s\" is up in %.1fs%s.\n", lab->name, wf_lab_now() - t0,
	       r ? " (some pods failed: see above)" : "");
	printf("Try:\n"
	       "  weft lab status%s%s\n"
	       "  weft lab get pods -o wide%s%s\n"
	       "  weft lab exec%s%s POD -- curl -s http://OTHER_POD_IP:8080/\n"
	       "  weft lab exec%s%s --outside -- curl -s http://172.30.%u.11:NODEPORT/\n"
	       "  weft lab down%s%s\n",
	       strcmp(lab->name, "weft") ? " --name " : "",
	       strcmp(lab->name, "weft") ? lab->name : "",
	       strcmp(lab->name, "weft") ? " --name " : "",
	       strcmp(lab->name, "weft") ? lab->name : "",
	       strcmp(lab->name, "weft") ? " --name " : "",
	       strcmp(lab->name, "weft") ? lab->name : "",
	       strcmp(lab->name, "weft") ? " --name " : "",
	       strcmp(lab->name, "weft") ? lab->name : "", lab->subnet,
	       strcmp(lab->name, "weft") ? " --name " : "",
	       strcmp(lab->name, "weft") ? lab->name : "");
	rc = r ? 1 : 0;
	goto out;
fail:
	fprintf(stderr, "error: lab \"%s\" could not be set up (%s); removing what was made\n",
		lab->name, wf_strerror(r));
	{
		char *text = NULL;

		wf_lab_path(lab, log, sizeof(log), "logs/control-plane.log");
		if (wf_lab_read_file(log, &text, NULL) == 0 && *text)
			fprintf(stderr, "control plane log:\n%s", text);
		wf_free(text);
	}
	lab_down(lab, true);
out:
	wf_lab_docs_done(&docs);
	return rc;
}

static int need_lab(struct wf_lab *lab)
{
	int r = wf_lab_load(lab);

	if (r == -ENOENT) {
		fprintf(stderr, "error: lab \"%s\" is not running (start it with `weft lab up`)\n",
			lab->name);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "error: lab \"%s\": cannot read its state: %s\n", lab->name,
			strerror(-r));
		return 1;
	}
	return 0;
}

static int cmd_apply(struct wf_lab *lab, int argc, char **argv, bool del)
{
	char *paths[64];
	int npaths = 0, rc = 1, r;
	struct wf_lab_docs docs = {0};
	long gen;

	if (need_lab(lab))
		return 1;
	for (int i = 0; i < argc; i++) {
		if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--filename")) && i + 1 < argc &&
		    npaths < 64)
			paths[npaths++] = argv[++i];
		else {
			fprintf(stderr, "weft lab %s: unknown argument %s\n",
				del ? "delete" : "apply", argv[i]);
			return 2;
		}
	}
	if (!daemon_alive(lab)) {
		fprintf(stderr,
			"error: the control plane of lab \"%s\" is not running (killed?); run "
			"`weft lab down --name %s` and start again\n",
			lab->name, lab->name);
		return 1;
	}
	if (load_paths(lab, paths, npaths, &docs, !del) < 0)
		goto out;
	if (del) {
		for (size_t i = 0; i < docs.n; i++) {
			char file[600], path[1200];
			json_t *o = docs.v[i].obj, *md = json_object_get(o, "metadata");
			const char *kind = json_string_value(json_object_get(o, "kind")) ?: "?";

			if (!json_object_get(md, "namespace"))
				json_object_set_new(md, "namespace", json_string("default"));
			wf_lab_object_file(o, file, sizeof(file));
			wf_lab_path(lab, path, sizeof(path), "manifests/%s", file);
			char lk[64];
			size_t k;

			for (k = 0; kind[k] && k < sizeof(lk) - 1; k++)
				lk[k] = (kind[k] >= 'A' && kind[k] <= 'Z') ? kind[k] + 32 : kind[k];
			lk[k] = '\0';
			if (unlink(path) == 0)
				printf("%s \"%s\" deleted\n", lk,
				       json_string_value(json_object_get(md, "name")));
			else
				fprintf(stderr,
					"Error from server (NotFound): %s \"%s\" not found\n", kind,
					json_string_value(json_object_get(md, "name")));
		}
	} else {
		r = write_manifests(lab, &docs, true);
		if (r < 0) {
			fprintf(stderr, "error: writing manifests: %s\n", strerror(-r));
			goto out;
		}
	}
	r = bump_gen(lab, &gen);
	if (r == 0)
		r = wait_settled(lab, gen, 120, false);
	if (r < 0) {
		fprintf(stderr, "error: the lab did not settle: %s\n",
			r == -ESRCH ? "its control plane exited" : "timed out");
		goto out;
	}
	rc = r ? 1 : 0;
out:
	wf_lab_docs_done(&docs);
	return rc;
}

static int cmd_exec(struct wf_lab *lab, int argc, char **argv)
{
	const char *ns = "default", *pod = NULL, *node = NULL;
	bool outside = false;
	char **cmd = NULL;
	char netns[128], dir[600], resolv[700], hosts[700], path[1200], cg[512] = "";
	static char *shell[] = {"sh", NULL};

	if (need_lab(lab))
		return 1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			cmd = argv + i + 1;
			break;
		} else if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--namespace")) &&
			   i + 1 < argc)
			ns = argv[++i];
		else if (!strcmp(argv[i], "--node") && i + 1 < argc)
			node = argv[++i];
		else if (!strcmp(argv[i], "--outside"))
			outside = true;
		else if (!strcmp(argv[i], "-it") || !strcmp(argv[i], "-i") ||
			 !strcmp(argv[i], "-t"))
			continue;
		else if (argv[i][0] != '-' && !pod)
			pod = argv[i];
		else if (argv[i][0] != '-') {
			cmd = argv + i;
			break;
		} else {
			fprintf(stderr, "weft lab exec: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!cmd || !*cmd)
		cmd = shell;
	if (!!pod + !!node + outside != 1) {
		fprintf(stderr,
			"usage: weft lab exec [-n NS] POD -- CMD... | --node NODE -- CMD... "
			"| --outside -- CMD...\n");
		return 2;
	}
	if (node || outside) {
		wf_lab_netns_name(lab, outside ? "outside" : node, netns, sizeof(netns));
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
		if (access(path, F_OK) != 0) {
			fprintf(stderr, "error: %s \"%s\" not found in lab \"%s\"\n",
				outside ? "namespace" : "node", outside ? "outside" : node,
				lab->name);
			return 1;
		}
		/* a node's host-network command gets the node's socket-LB, as its pods do */
		if (node && wf_lab_cgroup_path(lab, node, cg, sizeof(cg)) == 0)
			wf_lab_cgroup_join(cg);
		if (wf_lab_netns_enter(netns) < 0) {
			fprintf(stderr, "error: cannot enter %s: %m\n", netns);
			return 1;
		}
		execvp(cmd[0], cmd);
		fprintf(stderr, "error: cannot run %s: %m\n", cmd[0]);
		return 127;
	}
	{
		json_t *o;
		char h[16];
		const char *uid;

		wf_lab_path(lab, path, sizeof(path), "objects/pod_%s_%s.json", ns, pod);
		o = json_load_file(path, 0, NULL);
		uid = json_string_value(json_object_get(json_object_get(o, "metadata"), "uid"));
		if (!uid || !json_object_get(json_object_get(o, "status"), "podIP")) {
			fprintf(stderr, "Error from server (NotFound): pods \"%s\" not found%s\n",
				pod, o ? " (or not started)" : "");
			json_decref(o);
			return 1;
		}
		snprintf(h, sizeof(h), "p-%08x", wf_lab_hash(uid));
		/* the pod's node's cgroup, as its containers (lab-ctl.c) */
		node = json_string_value(json_object_get(json_object_get(o, "spec"), "nodeName"));
		if (!node || wf_lab_cgroup_path(lab, node, cg, sizeof(cg)) < 0)
			cg[0] = '\0';
		json_decref(o);
		wf_lab_netns_name(lab, h, netns, sizeof(netns));
	}
	wf_lab_path(lab, dir, sizeof(dir), "pods/%s_%s", ns, pod);
	snprintf(resolv, sizeof(resolv), "%s/resolv.conf", dir);
	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	struct wf_lab_spawn s = {.netns = netns,
				 .resolv = resolv,
				 .hosts = hosts,
				 .hostname = pod,
				 .argv = cmd,
				 .cgroup = cg[0] ? cg : NULL};
	wf_lab_enter_exec(&s);
	return 127;
}

static int cmd_logs(struct wf_lab *lab, int argc, char **argv)
{
	const char *ns = "default", *pod = NULL, *ctr = NULL;
	char path[1200], *text;
	json_t *o;

	if (need_lab(lab))
		return 1;
	for (int i = 0; i < argc; i++) {
		if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--namespace")) && i + 1 < argc)
			ns = argv[++i];
		else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--container")) &&
			 i + 1 < argc)
			ctr = argv[++i];
		else if (argv[i][0] != '-' && !pod)
			pod = argv[i];
		else {
			fprintf(stderr, "usage: weft lab logs [-n NS] [-c CONTAINER] POD\n");
			return 2;
		}
	}
	if (!pod) {
		fprintf(stderr, "usage: weft lab logs [-n NS] [-c CONTAINER] POD\n");
		return 2;
	}
	wf_lab_path(lab, path, sizeof(path), "objects/pod_%s_%s.json", ns, pod);
	o = json_load_file(path, 0, NULL);
	if (!o) {
		fprintf(stderr, "Error from server (NotFound): pods \"%s\" not found\n", pod);
		return 1;
	}
	if (!ctr)
		ctr = json_string_value(json_object_get(
			json_array_get(json_object_get(json_object_get(o, "spec"), "containers"),
				       0),
			"name"));
	wf_lab_path(lab, path, sizeof(path), "pods/%s_%s/%s.log", ns, pod, ctr ? ctr : "");
	json_decref(o);
	if (wf_lab_read_file(path, &text, NULL) < 0) {
		fprintf(stderr, "error: no logs for container \"%s\" of pod %s/%s\n",
			ctr ? ctr : "", ns, pod);
		return 1;
	}
	fputs(text, stdout);
	wf_free(text);
	return 0;
}

int wf_lab_main(int argc, char **argv)
{
	const char *name = getenv("WEFT_LAB_NAME") ?: WF_LAB_DEFAULT_NAME;
	char *rest[256];
	int n = 0, r;
	struct wf_lab lab;
	const char *cmd;

	/* --name may come anywhere */
	for (int i = 1; i < argc && n < 255; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < argc && n < 255)
				rest[n++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strncmp(argv[i], "--name=", 7))
			name = argv[i] + 7;
		else
			rest[n++] = argv[i];
	}
	rest[n] = NULL;
	if (n == 0 || !strcmp(rest[0], "-h") || !strcmp(rest[0], "--help") ||
	    !strcmp(rest[0], "help")) {
		usage(n ? stdout : stderr);
		return n ? 0 : 2;
	}
	cmd = rest[0];
	r = wf_lab_init(&lab, name);
	if (r < 0) {
		fprintf(stderr,
			"error: bad lab name \"%s\": use 1-%d lowercase letters, digits or '-'\n",
			name, WF_LAB_NAME_MAX);
		return 2;
	}
	if (geteuid() != 0 && strcmp(cmd, "get") && strcmp(cmd, "status") && strcmp(cmd, "logs")) {
		fprintf(stderr, "error: weft lab %s needs root (network namespaces)\n", cmd);
		return 1;
	}
	if (!strcmp(cmd, "up"))
		return cmd_up(&lab, n - 1, rest + 1);
	if (!strcmp(cmd, "down"))
		return lab_down(&lab, false);
	if (!strcmp(cmd, "apply"))
		return cmd_apply(&lab, n - 1, rest + 1, false);
	if (!strcmp(cmd, "delete"))
		return cmd_apply(&lab, n - 1, rest + 1, true);
	if (!strcmp(cmd, "exec"))
		return cmd_exec(&lab, n - 1, rest + 1);
	if (!strcmp(cmd, "logs"))
		return cmd_logs(&lab, n - 1, rest + 1);
	if (!strcmp(cmd, "status")) {
		if (need_lab(&lab))
			return 1;
		if (!daemon_alive(&lab))
			printf("warning: the control plane of lab \"%s\" is not running\n",
			       lab.name);
		return wf_lab_cmd_status(&lab);
	}
	if (!strcmp(cmd, "get")) {
		if (need_lab(&lab))
			return 1;
		return wf_lab_cmd_get(&lab, n - 1, rest + 1);
	}
	if (!strcmp(cmd, "_daemon")) {
		if (need_lab(&lab))
			return 1;
		return wf_lab_ctl_run(&lab) ? 1 : 0;
	}
	fprintf(stderr, "weft lab: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return 2;
}
