/* weft lab: paths, records, running commands inside namespaces, atomic files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab-internal.h"
#include "lib/alloc.h"
#include "lib/cgroup.h"
#include "lib/log.h"

int wf_lab_init(struct wf_lab *lab, const char *name)
{
	const char *root = getenv("WEFT_LAB_ROOT");
	size_t len = strlen(name);
	ssize_t n;

	memset(lab, 0, sizeof(*lab));
	if (len == 0 || len > WF_LAB_NAME_MAX || name[0] == '-')
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return -EINVAL;
	memcpy(lab->name, name, len + 1);
	snprintf(lab->dir, sizeof(lab->dir), "%s/%s", root && *root ? root : WF_LAB_STATE_ROOT,
		 name);
	n = readlink("/proc/self/exe", lab->self, sizeof(lab->self) - 1);
	if (n < 0)
		return -errno;
	lab->self[n] = '\0';
	lab->nodes = 2;
	return 0;
}

char *wf_lab_path(const struct wf_lab *lab, char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, size, "%s/", lab->dir);

	if (n < 0 || (size_t)n >= size)
		abort();
	va_start(ap, fmt);
	n += vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
	if ((size_t)n >= size)
		abort();
	return buf;
}

void wf_lab_netns_name(const struct wf_lab *lab, const char *what, char *buf, size_t size)
{
	snprintf(buf, size, "weft-%s-%s", lab->name, what);
}

int wf_lab_load(struct wf_lab *lab)
{
	char path[512];
	json_t *j;
	json_error_t e;

	j = json_load_file(wf_lab_path(lab, path, sizeof(path), "lab.json"), 0, &e);
	if (!j)
		return access(path, F_OK) == 0 ? -EIO : -ENOENT;
	lab->nodes = json_integer_value(json_object_get(j, "nodes"));
	lab->fabric = strcmp(json_string_value(json_object_get(j, "fabric")) ?: "", "host-gw") == 0
			      ? WF_LAB_FABRIC_HOST_GW
			      : WF_LAB_FABRIC_VXLAN;
	lab->subnet = json_integer_value(json_object_get(j, "subnet"));
	lab->dns = json_is_true(json_object_get(j, "dns"));
	lab->agent = json_is_true(json_object_get(j, "agent"));
	snprintf(lab->cni, sizeof(lab->cni), "%s",
		 json_string_value(json_object_get(j, "cni")) ?: "");
	json_decref(j);
	return 0;
}

int wf_lab_save(const struct wf_lab *lab)
{
	char path[512];
	char *s;
	int r;
	json_t *j = json_pack(
		"{s:s, s:i, s:s, s:i, s:b, s:b, s:s}", "name", lab->name, "nodes", (int)lab->nodes,
		"fabric", lab->fabric == WF_LAB_FABRIC_HOST_GW ? "host-gw" : "vxlan", "subnet",
		(int)lab->subnet, "dns", lab->dns, "agent", lab->agent, "cni", lab->cni);

	if (!j)
		return -ENOMEM;
	s = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	if (!s)
		return -ENOMEM;
	r = wf_lab_write_atomic(wf_lab_path(lab, path, sizeof(path), "lab.json"), s, strlen(s));
	free(s);
	return r;
}

int wf_lab_record(const struct wf_lab *lab, const char *fmt, ...)
{
	char path[512], line[512];
	va_list ap;
	int fd, n, r = 0;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return -EINVAL;
	line[n++] = '\n';
	fd = open(wf_lab_path(lab, path, sizeof(path), "created"),
		  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return -errno;
	/* One write(2) per line: O_APPEND keeps lines from the CLI and the daemon whole. */
	if (write(fd, line, n) != n)
		r = -EIO;
	close(fd);
	return r;
}

int wf_lab_netns_enter(const char *name)
{
	char path[256];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (setns(fd, CLONE_NEWNET) == -1)
		r = -errno;
	close(fd);
	return r;
}

static void read_into(int fd, char **buf, size_t *len, size_t *cap, size_t max)
{
	for (;;) {
		ssize_t n;

		if (*len + 1 >= *cap) {
			size_t ncap = *cap ? *cap * 2 : 4096;
			char *nb;

			if (ncap > max + 1)
				ncap = max + 1;
			if (ncap <= *len + 1)
				return;
			nb = wf_realloc(*buf, ncap);
			if (!nb)
				return;
			*buf = nb;
			*cap = ncap;
		}
		n = read(fd, *buf + *len, *cap - *len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		*len += n;
	}
}

int wf_lab_run(const char *netns, char *const argv[], const char *input, char **ret_out,
	       char *errbuf, size_t errlen)
{
	int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
	char *out = NULL, *err = NULL;
	size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
	int status, r;
	pid_t pid;

	if (pipe2(inp, O_CLOEXEC) == -1 || pipe2(outp, O_CLOEXEC) == -1 ||
	    pipe2(errp, O_CLOEXEC) == -1) {
		r = -errno;
		goto out_close;
	}
	pid = fork();
	if (pid == -1) {
		r = -errno;
		goto out_close;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(input ? inp[0] : null, 0);
		dup2(ret_out ? outp[1] : null, 1);
		dup2(errp[1], 2);
		if (netns && wf_lab_netns_enter(netns) < 0) {
			dprintf(2, "cannot enter netns %s: %m", netns);
			_exit(127);
		}
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %m", argv[0]);
		_exit(127);
	}
	close(inp[0]);
	inp[0] = -1;
	close(outp[1]);
	outp[1] = -1;
	close(errp[1]);
	errp[1] = -1;
	if (input) {
		size_t len = strlen(input), off = 0;

		signal(SIGPIPE, SIG_IGN);
		while (off < len) {
			ssize_t n = write(inp[1], input + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += n;
		}
	}
	close(inp[1]);
	inp[1] = -1;
	/* stdout then stderr: commands here write little to stderr, well below a pipe's 64 KiB. */
	read_into(outp[0], &out, &olen, &ocap, 16u << 20);
	read_into(errp[0], &err, &elen, &ecap, 65536);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			r = -errno;
			goto out_close;
		}
	r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (errbuf && errlen) {
		snprintf(errbuf, errlen, "%.*s", (int)elen, err ? err : "");
		for (char *p = errbuf; *p; p++)
			if (*p == '\n')
				*p = (p[1] ? ' ' : '\0');
	}
	if (ret_out) {
		if (!out)
			out = wf_calloc(1, 1);
		else
			out[olen] = '\0';
		*ret_out = out;
		out = NULL;
	}
out_close:
	for (int i = 0; i < 2; i++) {
		if (inp[i] >= 0)
			close(inp[i]);
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	wf_free(out);
	wf_free(err);
	return r;
}

int wf_lab_ip(const char *netns, const char *fmt, ...)
{
	char cmd[1024], err[512];
	char *argv[64];
	int argc = 0, r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	argv[argc++] = "ip";
	if (netns) {
		argv[argc++] = "-n";
		argv[argc++] = (char *)netns;
	}
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", cmd);
	for (char *save, *t = strtok_r(copy, " ", &save); t && argc < 63;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	r = wf_lab_run(NULL, argv, NULL, NULL, err, sizeof(err));
	if (r != 0) {
		wf_log_error("lab", "ip command failed", "netns=%s cmd=\"%s\" status=%d err=\"%s\"",
			     netns ? netns : "-", cmd, r, err);
		return -EIO;
	}
	return 0;
}

int wf_lab_ip_batch(const char *netns, const char *script)
{
	char err[512];
	char *argv[] = {"ip", "-n", (char *)netns, "-batch", "-", NULL};
	char *argv_here[] = {"ip", "-batch", "-", NULL};
	int r = wf_lab_run(NULL, netns ? argv : argv_here, script, NULL, err, sizeof(err));

	if (r != 0) {
		wf_log_error("lab", "ip batch failed", "netns=%s status=%d err=\"%s\"",
			     netns ? netns : "-", r, err);
		return -EIO;
	}
	return 0;
}

int wf_lab_netns_add(const struct wf_lab *lab, const char *name)
{
	int r = wf_lab_record(lab, "netns %s", name);

	if (r < 0)
		return r;
	return wf_lab_ip(NULL, "netns add %s", name);
}

int wf_lab_netns_add_fast(const struct wf_lab *lab, const char *name)
{
	char path[256];
	int r, fd, status;
	pid_t pid;

	/* `ip netns add` prepares /run/netns (a shared mount) the first time; the topology's
	 * namespaces always come first, so without it something is off: take the slow path. */
	if (access("/run/netns", F_OK) != 0)
		return wf_lab_netns_add(lab, name);
	r = wf_lab_record(lab, "netns %s", name);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	close(fd);
	/* what ip-netns(8) does, without an exec: a child unshares and its namespace is pinned
	 * by a bind mount; lo comes up there too (the runtime's job, as the loopback plugin's) */
	pid = fork();
	if (pid == -1) {
		r = -errno;
		unlink(path);
		return r;
	}
	if (pid == 0) {
		struct ifreq ifr = {0};
		int sk;

		if (unshare(CLONE_NEWNET) == -1 ||
		    mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) == -1)
			_exit(1);
		sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
		if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) == -1)
			_exit(2);
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(sk, SIOCSIFFLAGS, &ifr) == -1)
			_exit(2);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		umount2(path, MNT_DETACH);
		unlink(path);
		return -EIO;
	}
	return 0;
}

int wf_lab_netns_del_fast(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if (umount2(path, MNT_DETACH) == -1 && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

int wf_lab_write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	int fd, r = 0;
	size_t off = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		off += n;
	}
	if (close(fd) == -1 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) == -1)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int wf_lab_read_file(const char *path, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -errno;
	if (fstat(fd, &st) == 0 && st.st_size > (64 << 20)) {
		close(fd);
		return -EFBIG;
	}
	read_into(fd, &buf, &len, &cap, 64u << 20);
	close(fd);
	if (!buf)
		buf = wf_calloc(1, 1);
	if (!buf)
		return -ENOMEM;
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

unsigned long long wf_lab_proc_start(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	ssize_t n;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

int wf_lab_rmtree(const char *path)
{
	DIR *d;
	struct dirent *e;
	int r = 0;

	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR)
			return unlink(path) == -1 ? -errno : 0;
		return -errno;
	}
	while ((e = readdir(d))) {
		char sub[4200];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			r = wf_lab_rmtree(sub) ?: r;
		else if (unlink(sub) == -1 && errno != ENOENT)
			r = -errno;
	}
	closedir(d);
	if (rmdir(path) == -1 && errno != ENOENT)
		r = -errno;
	return r;
}

uint32_t wf_lab_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

double wf_lab_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

long wf_lab_read_long(const char *path)
{
	char buf[64] = "";
	long v = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		v = strtol(buf, NULL, 10);
	close(fd);
	return v;
}

bool wf_lab_has_command(const struct wf_lab *lab, const char *cmd)
{
	char *argv[] = {(char *)lab->self, (char *)cmd, "--help", NULL};

	return wf_lab_run(NULL, argv, NULL, NULL, NULL, 0) == 0;
}

/* ---- cgroups ---- */

int wf_lab_cgroup_path(const struct wf_lab *lab, const char *node, char *buf, size_t size)
{
	char root[256];
	int r = wf_cgroup2_root(root, sizeof(root)), n;

	if (r < 0)
		return r;
	n = node ? snprintf(buf, size, "%s/weft-lab-%s/%s", root, lab->name, node)
		 : snprintf(buf, size, "%s/weft-lab-%s", root, lab->name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int wf_lab_cgroups_add(const struct wf_lab *lab)
{
	char path[512], node[32];
	int r;

	for (unsigned n = 0; n <= lab->nodes; n++) {
		snprintf(node, sizeof(node), "node-%u", n);
		r = wf_lab_cgroup_path(lab, n ? node : NULL, path, sizeof(path));
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		/* recorded first: down removes it even if we die right after the mkdir */
		r = wf_lab_record(lab, "cgroup %s", path);
		if (r < 0)
			return r;
		if (mkdir(path, 0755) == -1) {
			r = -errno;
			fprintf(stderr, "weft lab: creating cgroup %s: %s\n", path, strerror(-r));
			return r;
		}
	}
	return 0;
}

int wf_lab_cgroup_join(const char *dir)
{
	char path[600];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (write(fd, "0\n", 2) != 2) /* "0": the writing process */
		r = -errno;
	close(fd);
	return r;
}

static int cgroup_write(const char *dir, const char *file, const char *val)
{
	char path[600];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (write(fd, val, strlen(val)) == -1)
		r = -errno;
	close(fd);
	return r;
}

int wf_lab_cgroups_del(char *rec)
{
	char *lines[64], *save = NULL;
	size_t n = 0;
	int ret = 0;

	for (char *l = strtok_r(rec, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "cgroup ", 7) && strstr(l, "/weft-lab-") && n < 64)
			lines[n++] = l + 7;
	/* recorded parent first, so removed in reverse */
	for (size_t i = n; i-- > 0;) {
		double end = wf_lab_now() + 5;
		int r = 0;

		/* whatever is left inside (a pod's grandchild that escaped its session) */
		cgroup_write(lines[i], "cgroup.kill", "1");
		while (rmdir(lines[i]) == -1) {
			r = -errno;
			if (r == -ENOENT) {
				r = 0;
				break;
			}
			if (r != -EBUSY || wf_lab_now() > end)
				break;
			usleep(20000); /* killed processes leave the cgroup as they exit */
		}
		if (r < 0) {
			fprintf(stderr, "weft lab: removing cgroup %s: %s\n", lines[i],
				strerror(-r));
			if (!ret)
				ret = r;
		}
	}
	return ret;
}
