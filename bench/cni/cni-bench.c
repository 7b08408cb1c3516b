/* Times CNI plugins the way a runtime runs them: one process per ADD/DEL, config on stdin,
 * from inside a "node" netns, N pods with C invocations in flight. Also measures the floor:
 * spawning a do-nothing static process, creating one veth pair into a namespace, and deleting
 * one.
 *
 *   cni-bench run LABEL NODE_NS POD_PREFIX N CONC PLUGIN CNI_PATH CONFIG_FILE
 *       prints "LABEL add_median add_p95 del_median del_p95 max_rss_kib" (ms)
 *   cni-bench floor NODE_NS POD_NS NOOP N
 *       prints "floor spawn_median veth_add_median veth_del_median" (ms)
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/netlink.h"

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	int i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

static int enter(const char *ns)
{
	char path[512];
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || setns(fd, CLONE_NEWNET) == -1) {
		perror(path);
		return -1;
	}
	close(fd);
	return 0;
}

struct job {
	pid_t pid;
	double start;
	int idx;
};

/* Runs cmd for pods 0..n-1 with conc in flight; fills times[]; returns max RSS (KiB) or -1. */
static long run_phase(const char *cmd, const char *prefix, int n, int conc, const char *plugin,
		      const char *cni_path, const char *config, double *times)
{
	struct job jobs[64] = {0};
	int next = 0, running = 0, failed = 0;
	long maxrss = 0;
	if (conc > 64)
		conc = 64;
	while (next < n || running > 0) {
		while (running < conc && next < n) {
			char env_cmd[64], env_id[64], env_ns[512], env_path[1024];
			snprintf(env_cmd, sizeof(env_cmd), "CNI_COMMAND=%s", cmd);
			snprintf(env_id, sizeof(env_id), "CNI_CONTAINERID=bench%d", next);
			snprintf(env_ns, sizeof(env_ns), "CNI_NETNS=/run/netns/%s%d", prefix, next);
			snprintf(env_path, sizeof(env_path), "CNI_PATH=%s", cni_path);
			char *envp[] = {
				env_cmd,
				env_id,
				env_ns,
				"CNI_IFNAME=eth0",
				env_path,
				"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=p",
				"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				NULL};
			posix_spawn_file_actions_t fa;
			posix_spawn_file_actions_init(&fa);
			posix_spawn_file_actions_addopen(&fa, 0, config, O_RDONLY, 0);
			posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
			char *argv[] = {(char *)plugin, NULL};
			int slot = 0;
			while (jobs[slot].pid)
				slot++;
			jobs[slot].start = now_ms();
			jobs[slot].idx = next;
			if (posix_spawn(&jobs[slot].pid, plugin, &fa, NULL, argv, envp) != 0) {
				perror(plugin);
				exit(1);
			}
			posix_spawn_file_actions_destroy(&fa);
			running++;
			next++;
		}
		int st;
		struct rusage ru;
		pid_t p = wait4(-1, &st, 0, &ru);
		if (p == -1) {
			if (errno == EINTR)
				continue;
			perror("wait4");
			exit(1);
		}
		double end = now_ms();
		for (int s = 0; s < 64; s++) {
			if (jobs[s].pid != p)
				continue;
			times[jobs[s].idx] = end - jobs[s].start;
			jobs[s].pid = 0;
			running--;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "%s %s pod %d failed (status %d)\n", plugin, cmd,
					jobs[s].idx, st);
				failed++;
			}
		}
		if (ru.ru_maxrss > maxrss)
			maxrss = ru.ru_maxrss;
	}
	return failed ? -1 : maxrss;
}

static int cmd_run(char **a)
{
	const char *label = a[0], *node = a[1], *prefix = a[2];
	int n = atoi(a[3]), conc = atoi(a[4]);
	const char *plugin = a[5], *cni_path = a[6], *config = a[7];
	double *add = calloc((size_t)n, sizeof(double)), *del = calloc((size_t)n, sizeof(double));
	if (!add || !del || enter(node) < 0)
		return 1;
	long rss1 = run_phase("ADD", prefix, n, conc, plugin, cni_path, config, add);
	long rss2 = run_phase("DEL", prefix, n, conc, plugin, cni_path, config, del);
	if (rss1 < 0 || rss2 < 0)
		return 1;
	printf("%s %.3f %.3f %.3f %.3f %ld\n", label, pct(add, n, 0.5), pct(add, n, 0.95),
	       pct(del, n, 0.5), pct(del, n, 0.95), rss1 > rss2 ? rss1 : rss2);
	free(add);
	free(del);
	return 0;
}

static int cmd_floor(char **a)
{
	const char *node = a[0], *pod = a[1], *noop = a[2];
	int n = atoi(a[3]);
	double *sp = calloc((size_t)n, sizeof(double)), *va = calloc((size_t)n, sizeof(double)),
	       *vd = calloc((size_t)n, sizeof(double));
	char path[512];
	if (!sp || !va || !vd || enter(node) < 0)
		return 1;
	snprintf(path, sizeof(path), "/run/netns/%s", pod);
	int podfd = open(path, O_RDONLY | O_CLOEXEC);
	if (podfd == -1) {
		perror(path);
		return 1;
	}
	struct wf_nl nl;
	if (wf_nl_init(&nl) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		char *argv[] = {(char *)noop, NULL};
		char *envp[] = {NULL};
		pid_t pid;
		int st;
		double t0 = now_ms();
		if (posix_spawn(&pid, noop, NULL, NULL, argv, envp) != 0 ||
		    waitpid(pid, &st, 0) == -1)
			return 1;
		sp[i] = now_ms() - t0;
		struct wf_nl_link_opts o = {.up = true};
		t0 = now_ms();
		int e = wf_nl_veth_add(&nl, "wfbenchfloor", &o, "eth0", podfd, &o);
		va[i] = now_ms() - t0;
		if (e < 0) {
			fprintf(stderr, "veth add: %s\n", strerror(-e));
			return 1;
		}
		t0 = now_ms();
		e = wf_nl_link_del_name(&nl, "wfbenchfloor");
		vd[i] = now_ms() - t0;
		if (e < 0) {
			fprintf(stderr, "veth del: %s\n", strerror(-e));
			return 1;
		}
	}
	wf_nl_done(&nl);
	printf("floor %.3f %.3f %.3f\n", pct(sp, n, 0.5), pct(va, n, 0.5), pct(vd, n, 0.5));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 10 && strcmp(argv[1], "run") == 0)
		return cmd_run(argv + 2);
	if (argc == 6 && strcmp(argv[1], "floor") == 0)
		return cmd_floor(argv + 2);
	fprintf(stderr, "usage: cni-bench run LABEL NODE_NS POD_PREFIX N CONC PLUGIN CNI_PATH "
			"CONFIG\n       cni-bench floor NODE_NS POD_NS NOOP N\n");
	return 2;
}
