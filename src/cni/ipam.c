/* The address store, laid out as host-local's disk backend
 * (plugins/ipam/host-local/backend/disk): <dataDir>/<network>/<ip> holds "<id>\r\n<ifname>",
 * last_reserved_ip.<set> remembers where round-robin continues, and "lock" is flock()ed for
 * the whole of an operation, so many processes may run at once.
 *
 * One file per ADD: weft-cni's reservation carries the attachment's record after the owner
 * line, and that one inode is linked under the record's name and under each address's
 * (docs/internals/cni.md, "The store"). weft-ipam alone writes host-local's content exactly.
 *
 * Crash safety: the file is first written complete as an unnamed O_TMPFILE inode (or under a
 * temporary name), then link()ed to its names, the record's first. link() either creates a
 * name with the full content or fails with EEXIST, so a kill -9 at any point leaves complete
 * names only: a record whose addresses are not all taken yet (DEL releases only those that
 * name the attachment as owner), a record with its reservations, or nothing. flock() locks die
 * with their process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/cni.h"
#include "lib/alloc.h"
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
	for (unsigned i = 0; i < WF_CNI_MAX_SETS; i++)
		ipam->hint_fd[i] = -1;
	ipam->spares = -1;
	return 0;
err_lock:
	close(lockfd);
err_dir:
	close(dirfd);
	return ret;
}

void wf_cni_ipam_close(struct wf_cni_ipam *ipam)
{
	for (unsigned i = 0; i < WF_CNI_MAX_SETS; i++) {
		if (ipam->hint_fd[i] >= 0)
			close(ipam->hint_fd[i]);
		ipam->hint_fd[i] = -1;
	}
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

/* Reads a reservation file's owner into buf (NUL-terminated): the whole content of host-local's
 * files, the first line of weft's ("<id>\r\n<ifname>\n<record>"; neither an id nor an
 * interface name holds a space). Returns its length or -errno. */
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
	char *crlf = strstr(buf, "\r\n");
	char *end = crlf ? strchr(crlf + 2, '\n') : NULL;
	if (end) {
		*end = 0;
		n = end - buf;
	}
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

/* Whether an address's name is free: 1 free, 0 taken, <0 error. Only a hint, taken under the
 * lock: link() in commit() is what claims the name. */
static int probe(struct wf_cni_ipam *ipam, const struct wf_ip *ip)
{
	char name[WF_IP_STRLEN];
	struct stat st;
	wf_ip_format(ip, name);
	if (fstatat(ipam->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	return errno == ENOENT ? 1 : -errno;
}

/* The round-robin hint of a range set: last_reserved_ip.<set>, kept open from the first read
 * to the last write of an operation. */
static int hint_open(struct wf_cni_ipam *ipam, unsigned set)
{
	char name[32];
	if (ipam->hint_fd[set] < 0) {
		snprintf(name, sizeof(name), "last_reserved_ip.%u", set);
		ipam->hint_fd[set] = openat(ipam->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		ipam->hint_len[set] = 0;
	}
	return ipam->hint_fd[set];
}

static void write_last(struct wf_cni_ipam *ipam, unsigned set, const struct wf_ip *ip)
{
	char text[WF_IP_STRLEN];
	int fd = hint_open(ipam, set);
	if (fd == -1)
		return;
	/* rewritten in place, never truncated to zero first: no block is freed and allocated
	 * again on every ADD. A crash may leave a torn hint; read_last() then fails to parse it
	 * and round-robin restarts at the range start - harmless. */
	wf_ip_format(ip, text);
	int len = (int)strlen(text);
	if (pwrite(fd, text, (size_t)len, 0) == len && len < ipam->hint_len[set])
		(void)!ftruncate(fd, len);
	ipam->hint_len[set] = len;
}

static bool read_last(struct wf_cni_ipam *ipam, unsigned set, struct wf_ip *ret)
{
	char text[WF_IP_STRLEN + 1];
	int fd = hint_open(ipam, set);
	if (fd == -1)
		return false;
	/* a longer file (another writer's) is cut at the next write */
	ssize_t n = pread(fd, text, sizeof(text), 0);
	if (n <= 0)
		return false;
	ipam->hint_len[set] = (int)n;
	if (n == sizeof(text))
		return false;
	text[n] = 0;
	return wf_ip_parse(text, ret) == 0;
}

static int set_find(const struct wf_cni_rangeset *rs, const struct wf_ip *ip)
{
	for (unsigned i = 0; i < rs->n; i++)
		if (wf_ip_cmp(ip, &rs->r[i].start) >= 0 && wf_ip_cmp(ip, &rs->r[i].end) <= 0)
			return (int)i;
	return -1;
}

static bool picked(const struct wf_cni_ip *ips, unsigned n, const struct wf_ip *ip)
{
	for (unsigned i = 0; i < n; i++)
		if (wf_ip_equal(&ips[i].ip, ip))
			return true;
	return false;
}

/* host-local's round-robin: continue after the last reservation, across the set's ranges,
 * wrapping once. Picks a free address (not one of the n already picked) without taking it. */
static int pick_dynamic(struct wf_cni_ipam *ipam, const struct wf_cni_rangeset *rs, unsigned set,
			const struct wf_cni_ip *ips, unsigned n, struct wf_cni_ip *ret)
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
		if (skip_addr(r, &cur) || picked(ips, n, &cur))
			continue;
		int t = probe(ipam, &cur);
		if (t < 0)
			return t;
		if (t == 1) {
			ret->ip = cur;
			ret->prefix = r->subnet.prefix;
			ret->gw = r->gw;
			return 0;
		}
	}
	return -WF_E_EXHAUSTED;
}

/* One address per range set, picked but not yet taken: the requested ones (req_of_set[s] >= 0)
 * or round-robin. Returns the count or -1 with err set. */
static int pick(struct wf_cni_ipam *ipam, const struct wf_cni_conf *conf, const struct wf_ip *req,
		const int *req_of_set, struct wf_cni_ip *ips, struct wf_cni_err *err)
{
	char buf[WF_CIDR_STRLEN];
	unsigned n = 0;
	for (unsigned s = 0; s < conf->n_sets; s++) {
		const struct wf_cni_rangeset *rs = &conf->sets[s];
		struct wf_cni_ip *ip = &ips[n];
		memset(ip, 0, sizeof(*ip));
		if (req_of_set[s] >= 0) {
			const struct wf_ip *want = &req[req_of_set[s]];
			const struct wf_cni_range *r = &rs->r[set_find(rs, want)];
			if (skip_addr(r, want))
				return wf_cni_fail(
					err, WF_CNI_E_CONFIG,
					"requested IP %s is reserved (gateway or network)",
					wf_ip_format(want, buf));
			int t = picked(ips, n, want) ? 0 : probe(ipam, want);
			if (t <= 0)
				return wf_cni_fail(
					err, t == 0 ? WF_CNI_E_AGAIN : WF_CNI_E_IO,
					"requested IP address %s is not available in range set",
					wf_ip_format(want, buf));
			ip->ip = *want;
			ip->prefix = r->subnet.prefix;
			ip->gw = r->gw;
		} else {
			int e = pick_dynamic(ipam, rs, s, ips, n, ip);
			if (e == -WF_E_EXHAUSTED)
				return wf_cni_fail(err, WF_CNI_E_AGAIN,
						   "no IP addresses available in range set %s",
						   wf_cidr_format(&rs->r[0].subnet, buf));
			if (e < 0)
				return wf_cni_fail(err, WF_CNI_E_IO, "ipam store: %s",
						   strerror(-e));
		}
		n++;
	}
	return (int)n;
}

/* Spare files. DEL keeps the file of a removed attachment (once the record's is its only name)
 * as ".spare.<k>", and ADD rewrites and renames one rather than allocate an inode: on ext4
 * without a journal, allocation steps over every recently freed inode and costs 0.1 ms and more
 * where files come and go (docs/internals/cni.md, "The store"). "lock" holds the count. A
 * kill -9 between a rename and the count's update leaves the count one off, which the next
 * open that finds no file, or rename that finds the name taken, corrects. */
#define SPARES_MAX 64

static int spares_count(struct wf_cni_ipam *ipam)
{
	if (ipam->spares < 0) {
		char buf[8];
		ssize_t n = pread(ipam->lockfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		ipam->spares = atoi(buf);
		if (ipam->spares < 0 || ipam->spares > SPARES_MAX)
			ipam->spares = 0;
	}
	return ipam->spares;
}

static void spares_store(struct wf_cni_ipam *ipam)
{
	char buf[8];
	/* fixed width: rewritten in place, never truncated */
	int len = snprintf(buf, sizeof(buf), "%-4d\n", ipam->spares);
	(void)!pwrite(ipam->lockfd, buf, (size_t)len, 0);
}

static void spare_name(int k, char name[24])
{
	snprintf(name, 24, ".spare.%d", k);
}

/* Opens the last spare for writing: its fd (its name in name), or -1 when there is none. */
static int spare_open(struct wf_cni_ipam *ipam, char name[24])
{
	while (spares_count(ipam) > 0) {
		spare_name(ipam->spares - 1, name);
		int fd = openat(ipam->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT)
			break;
		ipam->spares--; /* the count was high */
	}
	return -1;
}

int wf_cni_ipam_retire(struct wf_cni_ipam *ipam, const char *name)
{
	struct stat st;
	char spare[24];
	if (fstatat(ipam->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -errno;
	/* only a file that no address names any more: a spare's content is rewritten */
	for (unsigned tries = 0; S_ISREG(st.st_mode) && st.st_nlink == 1 && tries < 4; tries++) {
		if (spares_count(ipam) >= SPARES_MAX)
			break;
		spare_name(ipam->spares, spare);
		if (renameat2(ipam->dirfd, name, ipam->dirfd, spare, RENAME_NOREPLACE) == 0) {
			ipam->spares++;
			spares_store(ipam);
			return 0;
		}
		if (errno != EEXIST)
			break;	/* e.g. no RENAME_NOREPLACE here */
		ipam->spares++; /* the count was low */
	}
	if (unlinkat(ipam->dirfd, name, 0) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Rewrites the open spare fd (named spare) with content and renames it to record_name.
 * 0, -EEXIST when record_name exists, other -errno (the file is still the spare). */
static int spare_fill(struct wf_cni_ipam *ipam, int fd, const char *spare, const char *content,
		      size_t len, const char *record_name)
{
	struct stat st;
	if (fstat(fd, &st) == -1)
		return -errno;
	ssize_t w = pwrite(fd, content, len, 0);
	if (w != (ssize_t)len)
		return w < 0 ? -errno : -EIO;
	/* truncated only when it held more (ext4 does work for a truncate to the same size) */
	if ((st.st_size > (off_t)len && ftruncate(fd, (off_t)len) == -1) ||
	    renameat2(ipam->dirfd, spare, ipam->dirfd, record_name, RENAME_NOREPLACE) == -1)
		return -errno;
	ipam->spares--;
	spares_store(ipam);
	return 0;
}

static int unlink_ips(struct wf_cni_ipam *ipam, const struct wf_cni_ip *ips, unsigned n)
{
	char name[WF_IP_STRLEN];
	for (unsigned i = 0; i < n; i++)
		unlinkat(ipam->dirfd, wf_ip_format(&ips[i].ip, name), 0);
	return 0;
}

/* Writes one file, content then names: the record's (record_name, in the store's directory)
 * when given, then each address's. 0; -EEXIST when an address was taken meanwhile by a writer
 * outside the lock (everything named so far is removed again); other -errno. */
static int commit(struct wf_cni_ipam *ipam, const char *content, size_t len,
		  const char *record_name, const struct wf_cni_ip *ips, unsigned n)
{
	char name[WF_IP_STRLEN], spare[24];
	int ret = 0;
	unsigned linked = 0;
	bool named_tmp = false;
	const char *rec_named = NULL; /* the record's name, once made */
	int fd = record_name ? spare_open(ipam, spare) : -1;
	if (fd >= 0) {
		/* complete under the spare's name, then renamed: the record appears whole */
		int e = spare_fill(ipam, fd, spare, content, len, record_name);
		if (e == -EEXIST) {
			close(fd);
			return -EBUSY; /* the record exists: not an address, no retry */
		}
		if (e == 0) {
			rec_named = record_name;
			record_name = NULL;
		} else {
			close(fd); /* it stays a spare; a new file instead */
			fd = -1;
		}
	}
	if (fd < 0) {
		/* an unnamed inode (O_TMPFILE) that link() names once complete; a named
		 * temporary file where the file system cannot do that (a stale one may be a link
		 * of a live reservation: it is removed, never truncated) */
		fd = openat(ipam->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
		if (fd == -1) {
			unlinkat(ipam->dirfd, TMP_NAME, 0);
			fd = openat(ipam->dirfd, TMP_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				    0644);
			if (fd == -1)
				return -errno;
			named_tmp = true;
		}
		ssize_t w = write(fd, content, len);
		if (w != (ssize_t)len) {
			ret = w < 0 ? -errno : -EIO;
			goto out;
		}
	}
	int from = named_tmp ? ipam->dirfd : fd;
	const char *from_name = named_tmp ? TMP_NAME : "";
	int flags = named_tmp ? 0 : AT_EMPTY_PATH;
	if (record_name) {
		if (linkat(from, from_name, ipam->dirfd, record_name, flags) == -1) {
			ret = errno == EEXIST ? -EBUSY : -errno; /* not an address: no retry */
			goto out;
		}
		rec_named = record_name;
	}
	for (; linked < n; linked++) {
		wf_ip_format(&ips[linked].ip, name);
		if (linkat(from, from_name, ipam->dirfd, name, flags) == -1) {
			ret = -errno;
			break;
		}
	}
	if (ret < 0) {
		unlink_ips(ipam, ips, linked);
		if (rec_named)
			unlinkat(ipam->dirfd, rec_named, 0);
	}
out:
	close(fd);
	if (named_tmp)
		unlinkat(ipam->dirfd, TMP_NAME, 0);
	return ret;
}

int wf_cni_ipam_alloc(struct wf_cni_ipam *ipam, const struct wf_cni_conf *conf,
		      const struct wf_ip *req, unsigned n_req, const char *id, const char *ifname,
		      const struct wf_cni_record *rec, struct wf_cni_ip *ret_ips,
		      struct wf_cni_err *err)
{
	char owner[600], buf[WF_IP_STRLEN];
	int req_of_set[WF_CNI_MAX_SETS];
	int len = owner_text(owner, sizeof(owner), id, ifname);

	if (len < 0)
		return wf_cni_fail(err, WF_CNI_E_ENV, "container id too long");
	for (unsigned s = 0; s < conf->n_sets; s++)
		req_of_set[s] = -1;
	for (unsigned i = 0; i < n_req; i++) {
		unsigned s;
		for (s = 0; s < conf->n_sets; s++)
			if (set_find(&conf->sets[s], &req[i]) >= 0)
				break;
		if (s == conf->n_sets)
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "requested IP %s is not in any configured range",
					   wf_ip_format(&req[i], buf));
		if (req_of_set[s] >= 0)
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "two requested IPs fall in the same range set");
		req_of_set[s] = (int)i;
	}

	/* Picked under the lock, then taken by link(): EEXIST there means a writer that does
	 * not take the lock got an address first; the next pick sees it taken. */
	for (unsigned attempt = 0; attempt < 8; attempt++) {
		int n = pick(ipam, conf, req, req_of_set, ret_ips, err);
		if (n < 0)
			return -1;
		char *text = rec ? rec->text(ret_ips, (unsigned)n, rec->arg) : NULL;
		if (rec && !text)
			return wf_cni_fail(err, WF_CNI_E_INTERNAL, "out of memory");
		char *content = owner;
		size_t clen = (size_t)len;
		if (text) {
			/* host-local's owner line, then the attachment's record */
			size_t tlen = strlen(text);
			content = wf_malloc((size_t)len + 1 + tlen);
			if (!content) {
				free(text);
				return wf_cni_fail(err, WF_CNI_E_INTERNAL, "out of memory");
			}
			memcpy(content, owner, (size_t)len);
			content[len] = '\n';
			memcpy(content + len + 1, text, tlen);
			clen = (size_t)len + 1 + tlen;
			free(text);
		}
		int e = commit(ipam, content, clen, rec ? rec->name : NULL, ret_ips, (unsigned)n);
		if (content != owner)
			wf_free(content);
		if (e == -EEXIST)
			continue;
		if (e == -EBUSY)
			return wf_cni_fail(err, WF_CNI_E_IO, "ipam store: record %s exists",
					   rec->name);
		if (e < 0)
			return wf_cni_fail(err, WF_CNI_E_IO, "ipam store: %s", strerror(-e));
		for (unsigned s = 0; s < conf->n_sets; s++) /* ret_ips[s] is set s's */
			if (req_of_set[s] < 0)
				write_last(ipam, s, &ret_ips[s].ip);
		return n;
	}
	return wf_cni_fail(err, WF_CNI_E_AGAIN, "ipam store: addresses taken concurrently");
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
