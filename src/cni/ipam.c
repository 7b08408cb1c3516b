/* The address store, laid out as host-local's disk backend
 * (plugins/ipam/host-local/backend/disk): <dataDir>/<network>/<ip> holds "<id>\r\n<ifname>",
 * last_reserved_ip.<set> remembers where round-robin continues, and "lock" is flock()ed for
 * the whole of an operation, so many processes may run at once.
 *
 * Crash safety: a reservation file is first written complete as an unnamed O_TMPFILE inode (or
 * under a temporary name), then link()ed to the address's name. link() either creates the name with the full content or
 * fails with EEXIST, so a kill -9 at any point leaves either a complete reservation (owned, and
 * released by DEL or GC) or none, never an empty or half-written one. flock() locks die with
 * their process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/cni.h"
#include "lib/error.h"
#include "lib/ip.h"

#define TMP_NAME ".weft-reserve.tmp"

int wf_cni_mkdir_p(const char *path)
{
	char buf[4096];
	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) == -1 && errno != EEXIST)
		return -errno;
	return 0;
}

int wf_cni_ipam_open(struct wf_cni_ipam *ipam, const char *data_dir, const char *network)
{
	char path[4096];
	int ret;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, network) >= sizeof(path))
		return -ENAMETOOLONG;
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1 && errno == ENOENT) {
		ret = wf_cni_mkdir_p(path);
		if (ret < 0)
			return ret;
		dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dirfd == -1)
		return -errno;
	int lockfd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lockfd == -1) {
		ret = -errno;
		goto err_dir;
	}
	while (flock(lockfd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			ret = -errno;
			goto err_lock;
		}
	}
	ipam->dirfd = dirfd;
	ipam->lockfd = lockfd;
	return 0;
err_lock:
	close(lockfd);
err_dir:
	close(dirfd);
	return ret;
}

void wf_cni_ipam_close(struct wf_cni_ipam *ipam)
{
	if (ipam->lockfd >= 0)
		close(ipam->lockfd); /* drops the flock */
	if (ipam->dirfd >= 0)
		close(ipam->dirfd);
	ipam->lockfd = ipam->dirfd = -1;
}

static int owner_text(char *buf, size_t size, const char *id, const char *ifname)
{
	int n = snprintf(buf, size, "%s\r\n%s", id, ifname);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

/* Reads a reservation file's content into buf (NUL-terminated). Returns length or -errno. */
static int read_owner(int dirfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = 0;
	return (int)n;
}

static bool owner_matches(const char *content, const char *id, const char *ifname)
{
	/* host-local wrote only the id before 0.8; accept that form too */
	char want[600];
	if (owner_text(want, sizeof(want), id, ifname) < 0)
		return false;
	if (strcmp(content, want) == 0)
		return true;
	return strcmp(content, id) == 0;
}

static bool skip_addr(const struct wf_cni_range *r, const struct wf_ip *ip)
{
	if (r->gw.family && wf_ip_equal(&r->gw, ip))
		return true;
	struct wf_ip last;
	wf_cidr_last(&r->subnet, &last);
	/* the network address (and IPv4 broadcast) are never handed out */
	return wf_ip_equal(&r->subnet.ip, ip) || (ip->family == AF_INET && wf_ip_equal(&last, ip));
}

/* Tries to take ip: link the prepared file (tmpfd, an O_TMPFILE inode, or else TMP_NAME) to its
 * name. 1 taken, 0 busy, <0 error. */
static int try_take(struct wf_cni_ipam *ipam, int tmpfd, const struct wf_ip *ip)
{
	char name[WF_IP_STRLEN];
	int ret;
	wf_ip_format(ip, name);
	if (tmpfd >= 0)
		ret = linkat(tmpfd, "", ipam->dirfd, name, AT_EMPTY_PATH);
	else
		ret = linkat(ipam->dirfd, TMP_NAME, ipam->dirfd, name, 0);
	if (ret == 0)
		return 1;
	return errno == EEXIST ? 0 : -errno;
}

static void write_last(struct wf_cni_ipam *ipam, unsigned set, const struct wf_ip *ip)
{
	char name[32], text[WF_IP_STRLEN];
	snprintf(name, sizeof(name), "last_reserved_ip.%u", set);
	/* rewritten in place, never truncated to zero first: no block is freed and allocated
	 * again on every ADD. A crash may leave a torn hint; read_last() then fails to parse it
	 * and round-robin restarts at the range start - harmless. */
	int fd = openat(ipam->dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return;
	wf_ip_format(ip, text);
	size_t len = strlen(text);
	if (pwrite(fd, text, len, 0) == (ssize_t)len)
		(void)!ftruncate(fd, (off_t)len);
	close(fd);
}

static bool read_last(struct wf_cni_ipam *ipam, unsigned set, struct wf_ip *ret)
{
	char name[32], text[WF_IP_STRLEN + 1];
	snprintf(name, sizeof(name), "last_reserved_ip.%u", set);
	if (read_owner(ipam->dirfd, name, text, sizeof(text)) <= 0)
		return false;
	return wf_ip_parse(text, ret) == 0;
}

static int set_find(const struct wf_cni_rangeset *rs, const struct wf_ip *ip)
{
	for (unsigned i = 0; i < rs->n; i++)
		if (wf_ip_cmp(ip, &rs->r[i].start) >= 0 && wf_ip_cmp(ip, &rs->r[i].end) <= 0)
			return (int)i;
	return -1;
}

/* host-local's round-robin: continue after the last reservation, across the set's ranges,
 * wrapping once. */
static int alloc_dynamic(struct wf_cni_ipam *ipam, int tmpfd, const struct wf_cni_rangeset *rs,
			 unsigned set, struct wf_cni_ip *ret)
{
	struct wf_ip last, cur;
	int ri = 0;
	if (read_last(ipam, set, &last) && (ri = set_find(rs, &last)) >= 0) {
		cur = last;
	} else {
		ri = 0;
		wf_ip_add(&rs->r[0].start, -1, &cur);
	}
	/* at most one full turn over every range (+1 to revisit the start range's head) */
	uint64_t budget = 0;
	for (unsigned i = 0; i < rs->n; i++) {
		uint64_t off_s, off_e;
		wf_cidr_offset(&rs->r[i].subnet, &rs->r[i].start, &off_s);
		wf_cidr_offset(&rs->r[i].subnet, &rs->r[i].end, &off_e);
		budget += off_e - off_s + 1;
		if (budget > (1ULL << 24))
			budget = 1ULL << 24; /* huge IPv6 ranges: round-robin keeps this short */
	}
	for (uint64_t step = 0; step < budget + 1; step++) {
		const struct wf_cni_range *r = &rs->r[ri];
		if (wf_ip_cmp(&cur, &r->end) >= 0 || wf_ip_add(&cur, 1, &cur) < 0) {
			ri = (ri + 1) % (int)rs->n;
			r = &rs->r[ri];
			cur = r->start;
		}
		if (wf_ip_cmp(&cur, &r->start) < 0)
			cur = r->start;
		if (skip_addr(r, &cur))
			continue;
		int t = try_take(ipam, tmpfd, &cur);
		if (t < 0)
			return t;
		if (t == 1) {
			ret->ip = cur;
			ret->prefix = r->subnet.prefix;
			ret->gw = r->gw;
			write_last(ipam, set, &cur);
			return 0;
		}
	}
	return -WF_E_EXHAUSTED;
}

int wf_cni_ipam_alloc(struct wf_cni_ipam *ipam, const struct wf_cni_conf *conf,
		      const struct wf_ip *req, unsigned n_req, const char *id, const char *ifname,
		      struct wf_cni_ip *ret_ips, struct wf_cni_err *err)
{
	char text[600], buf[WF_IP_STRLEN];
	int set_req[WF_CNI_MAX_SETS];
	unsigned n = 0;
	int len = owner_text(text, sizeof(text), id, ifname);

	if (len < 0)
		return wf_cni_fail(err, WF_CNI_E_ENV, "container id too long");
	for (unsigned s = 0; s < conf->n_sets; s++)
		set_req[s] = -1;
	for (unsigned i = 0; i < n_req; i++) {
		unsigned s;
		for (s = 0; s < conf->n_sets; s++)
			if (set_find(&conf->sets[s], &req[i]) >= 0)
				break;
		if (s == conf->n_sets)
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "requested IP %s is not in any configured range",
					   wf_ip_format(&req[i], buf));
		if (set_req[s] >= 0)
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "two requested IPs fall in the same range set");
		set_req[s] = (int)i;
	}

	/* an unnamed inode (O_TMPFILE) that link() gives a name once complete; a named
	 * temporary file where the file system cannot do that */
	int tmpfd = openat(ipam->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	int fd = tmpfd;
	if (tmpfd == -1)
		fd = openat(ipam->dirfd, TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return wf_cni_fail(err, WF_CNI_E_IO, "ipam store: %s", strerror(errno));
	ssize_t w = write(fd, text, (size_t)len);
	if (tmpfd == -1)
		close(fd);
	if (w != len) {
		wf_cni_fail(err, WF_CNI_E_IO, "ipam store: short write");
		goto fail;
	}
	for (unsigned s = 0; s < conf->n_sets; s++) {
		const struct wf_cni_rangeset *rs = &conf->sets[s];
		struct wf_cni_ip *ip = &ret_ips[n];
		memset(ip, 0, sizeof(*ip));
		if (set_req[s] >= 0) {
			const struct wf_ip *want = &req[set_req[s]];
			const struct wf_cni_range *r = &rs->r[set_find(rs, want)];
			if (skip_addr(r, want)) {
				wf_cni_fail(err, WF_CNI_E_CONFIG,
					    "requested IP %s is reserved (gateway or network)",
					    wf_ip_format(want, buf));
				goto fail;
			}
			int t = try_take(ipam, tmpfd, want);
			if (t <= 0) {
				wf_cni_fail(err, t == 0 ? WF_CNI_E_AGAIN : WF_CNI_E_IO,
					    "requested IP address %s is not available in range set",
					    wf_ip_format(want, buf));
				goto fail;
			}
			ip->ip = *want;
			ip->prefix = r->subnet.prefix;
			ip->gw = r->gw;
		} else {
			int e = alloc_dynamic(ipam, tmpfd, rs, s, ip);
			if (e == -WF_E_EXHAUSTED) {
				char c[WF_CIDR_STRLEN];
				wf_cni_fail(err, WF_CNI_E_AGAIN,
					    "no IP addresses available in range set %s",
					    wf_cidr_format(&rs->r[0].subnet, c));
				goto fail;
			}
			if (e < 0) {
				wf_cni_fail(err, WF_CNI_E_IO, "ipam store: %s", strerror(-e));
				goto fail;
			}
		}
		n++;
	}
	if (tmpfd >= 0)
		close(tmpfd);
	else
		unlinkat(ipam->dirfd, TMP_NAME, 0);
	return (int)n;
fail:
	for (unsigned i = 0; i < n; i++)
		wf_cni_ipam_release_ip(ipam, &ret_ips[i].ip, id, ifname);
	if (tmpfd >= 0)
		close(tmpfd);
	else
		unlinkat(ipam->dirfd, TMP_NAME, 0);
	return -1;
}

int wf_cni_ipam_release_ip(struct wf_cni_ipam *ipam, const struct wf_ip *ip, const char *id,
			   const char *ifname)
{
	char name[WF_IP_STRLEN], content[600];
	wf_ip_format(ip, name);
	int n = read_owner(ipam->dirfd, name, content, sizeof(content));
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return n;
	if (!owner_matches(content, id, ifname))
		return 0; /* someone else's now */
	if (unlinkat(ipam->dirfd, name, 0) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

bool wf_cni_ipam_owns(struct wf_cni_ipam *ipam, const struct wf_ip *ip, const char *id,
		      const char *ifname)
{
	char name[WF_IP_STRLEN], content[600];
	wf_ip_format(ip, name);
	return read_owner(ipam->dirfd, name, content, sizeof(content)) >= 0 &&
	       owner_matches(content, id, ifname);
}

/* Calls fn for every reservation file. */
static int scan(struct wf_cni_ipam *ipam,
		int (*fn)(struct wf_cni_ipam *, const char *name, char *content, void *), void *arg)
{
	int fd = openat(ipam->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int total = 0;
	while ((de = readdir(d))) {
		struct wf_ip ip;
		char content[600];
		if (de->d_name[0] == '.' || wf_ip_parse(de->d_name, &ip) < 0)
			continue;
		if (read_owner(ipam->dirfd, de->d_name, content, sizeof(content)) < 0)
			continue;
		total += fn(ipam, de->d_name, content, arg);
	}
	closedir(d);
	return total;
}

struct release_arg {
	const char *id, *ifname;
	wf_cni_keep_fn keep;
	void *keep_arg;
};

static int release_cb(struct wf_cni_ipam *ipam, const char *name, char *content, void *arg)
{
	struct release_arg *a = arg;
	if (!owner_matches(content, a->id, a->ifname))
		return 0;
	return unlinkat(ipam->dirfd, name, 0) == 0;
}

int wf_cni_ipam_release_all(struct wf_cni_ipam *ipam, const char *id, const char *ifname)
{
	struct release_arg a = {.id = id, .ifname = ifname};
	return scan(ipam, release_cb, &a);
}

static int gc_cb(struct wf_cni_ipam *ipam, const char *name, char *content, void *arg)
{
	struct release_arg *a = arg;
	char *sep = strstr(content, "\r\n");
	const char *ifname = "";
	if (sep) {
		*sep = 0;
		ifname = sep + 2;
	}
	if (a->keep(content, ifname, a->keep_arg))
		return 0;
	return unlinkat(ipam->dirfd, name, 0) == 0;
}

int wf_cni_ipam_gc(struct wf_cni_ipam *ipam, wf_cni_keep_fn keep, void *arg)
{
	struct release_arg a = {.keep = keep, .keep_arg = arg};
	/* temporary files of killed writers: harmless, but GC leaves the directory clean */
	unlinkat(ipam->dirfd, TMP_NAME, 0);
	return scan(ipam, gc_cb, &a);
}

struct count_arg {
	const struct wf_cni_conf *conf;
	uint64_t used[WF_CNI_MAX_SETS];
};

static int count_cb(struct wf_cni_ipam *ipam, const char *name, char *content, void *arg)
{
	struct count_arg *a = arg;
	struct wf_ip ip;
	if (wf_ip_parse(name, &ip) < 0)
		return 0;
	for (unsigned s = 0; s < a->conf->n_sets; s++)
		if (set_find(&a->conf->sets[s], &ip) >= 0)
			a->used[s]++;
	return 0;
}

uint64_t wf_cni_ipam_free(struct wf_cni_ipam *ipam, const struct wf_cni_conf *conf)
{
	struct count_arg a = {.conf = conf};
	uint64_t min = UINT64_MAX;
	scan(ipam, count_cb, &a);
	for (unsigned s = 0; s < conf->n_sets; s++) {
		uint64_t size = 0;
		const struct wf_cni_rangeset *rs = &conf->sets[s];
		for (unsigned i = 0; i < rs->n; i++) {
			uint64_t off_s, off_e;
			struct wf_ip last;
			const struct wf_cni_range *r = &rs->r[i];
			wf_cidr_offset(&r->subnet, &r->start, &off_s);
			wf_cidr_offset(&r->subnet, &r->end, &off_e);
			size += off_e - off_s + 1;
			if (r->gw.family && set_find(rs, &r->gw) == (int)i)
				size--;
			wf_cidr_last(&r->subnet, &last);
			if (set_find(rs, &last) == (int)i && r->subnet.ip.family == AF_INET)
				size--;
		}
		uint64_t free_n = size > a.used[s] ? size - a.used[s] : 0;
		if (free_n < min)
			min = free_n;
	}
	return min == UINT64_MAX ? 0 : min;
}
