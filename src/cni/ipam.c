/* IPAM with host-local's semantics (plugins/ipam/host-local: ranges, gateway and network
 * addresses skipped, round-robin after the last reservation, requested addresses) over weft's
 * own store (store.c): one slot file per network, <dataDir>/<network>/store, updated in place
 * under the flock of <dataDir>/<network>/lock, held for the whole of an operation so that many
 * processes may run at once. An attachment's reservation and its record are one slot write
 * (docs/internals/cni.md, "The store"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/cni.h"
#include "cni/store.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/ip.h"

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
	*ipam = (struct wf_cni_ipam){.dirfd = dirfd, .lockfd = lockfd, .fd = -1};
	ret = wf_cni_store_open(ipam);
	if (ret < 0)
		goto err_store;
	return 0;
err_store:
	if (ipam->fd >= 0)
		close(ipam->fd);
	ipam->fd = -1;
err_lock: /* closing the lock file drops the flock */
	close(lockfd);
err_dir:
	close(dirfd);
	return ret;
}

void wf_cni_ipam_close(struct wf_cni_ipam *ipam)
{
	wf_cni_store_flush(ipam);
	if (ipam->fd >= 0)
		close(ipam->fd);
	if (ipam->lockfd >= 0)
		close(ipam->lockfd); /* drops the flock */
	if (ipam->dirfd >= 0)
		close(ipam->dirfd);
	ipam->fd = ipam->lockfd = ipam->dirfd = -1;
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

/* Whether an address is free: 1 free, 0 taken, <0 error. */
static int probe(struct wf_cni_ipam *ipam, const struct wf_ip *ip)
{
	int e = wf_cni_store_ip_owner(ipam, ip, NULL, NULL);
	return e < 0 ? e : !e;
}

/* The round-robin hint of a range set (host-local's last_reserved_ip.<set>), in the header. */
static bool read_last(struct wf_cni_ipam *ipam, unsigned set, struct wf_ip *ret)
{
	if (!ipam->hint[set].family)
		return false;
	*ret = ipam->hint[set];
	return true;
}

static void write_last(struct wf_cni_ipam *ipam, unsigned set, const struct wf_ip *ip)
{
	ipam->hint[set] = *ip;
	ipam->dirty = true;
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

int wf_cni_ipam_alloc(struct wf_cni_ipam *ipam, const struct wf_cni_conf *conf,
		      const struct wf_ip *req, unsigned n_req, const char *id, const char *ifname,
		      const struct wf_cni_record *rec, struct wf_cni_ip *ret_ips,
		      struct wf_cni_err *err)
{
	char buf[WF_IP_STRLEN];
	int req_of_set[WF_CNI_MAX_SETS];

	if (strlen(id) > WF_CNI_STORE_ID_MAX)
		return wf_cni_fail(err, WF_CNI_E_ENV, "container id too long (over %d bytes)",
				   WF_CNI_STORE_ID_MAX);
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

	/* picked and taken under the lock: nothing else writes the store */
	int n = pick(ipam, conf, req, req_of_set, ret_ips, err);
	if (n < 0)
		return -1;
	char *text = rec ? rec->text(ret_ips, (unsigned)n, rec->arg) : NULL;
	if (rec && !text)
		return wf_cni_fail(err, WF_CNI_E_INTERNAL, "out of memory");
	int e = wf_cni_store_put(ipam, id, ifname, ret_ips, (unsigned)n, text ? text : "",
				 text ? strlen(text) : 0);
	free(text);
	if (e == -EEXIST)
		return -EEXIST; /* the caller decides: a leftover to undo, or an error */
	if (e < 0)
		return wf_cni_fail(err, WF_CNI_E_IO, "ipam store: %s", strerror(-e));
	for (unsigned s = 0; s < conf->n_sets; s++) /* ret_ips[s] is set s's */
		if (req_of_set[s] < 0)
			write_last(ipam, s, &ret_ips[s].ip);
	return n;
}

int wf_cni_ipam_release(struct wf_cni_ipam *ipam, const char *id, const char *ifname)
{
	int e = wf_cni_store_drop(ipam, id, ifname);
	/* host-local before 0.8 wrote the id alone: converted, its owner has no ifname */
	if (e == 0 && ifname[0])
		e = wf_cni_store_drop(ipam, id, "");
	return e;
}

bool wf_cni_ipam_owns(struct wf_cni_ipam *ipam, const struct wf_ip *ip, const char *id,
		      const char *ifname)
{
	char oid[WF_CNI_STORE_ID_MAX + 1], oif[16];
	return wf_cni_store_ip_owner(ipam, ip, oid, oif) == 1 && strcmp(oid, id) == 0 &&
	       (strcmp(oif, ifname) == 0 || !oif[0]);
}

int wf_cni_ipam_record(struct wf_cni_ipam *ipam, const char *id, const char *ifname,
		       char **ret_text)
{
	struct wf_cni_store_att att;
	int e = wf_cni_store_get(ipam, id, ifname, &att);
	if (e == 0)
		*ret_text = att.text;
	return e;
}

struct gc_arg {
	wf_cni_keep_fn keep;
	void *keep_arg;
};

static int gc_cb(struct wf_cni_ipam *ipam, const struct wf_cni_store_att *att, void *arg)
{
	struct gc_arg *a = arg;
	if (a->keep(att->id, att->ifname, a->keep_arg))
		return 0;
	int e = wf_cni_store_drop(ipam, att->id, att->ifname);
	return e < 0 ? e : (int)att->n_ips;
}

int wf_cni_ipam_gc(struct wf_cni_ipam *ipam, wf_cni_keep_fn keep, void *arg)
{
	struct gc_arg a = {.keep = keep, .keep_arg = arg};
	return wf_cni_store_each(ipam, gc_cb, &a);
}

struct each_arg {
	wf_cni_att_fn fn;
	void *arg;
};

static int each_cb(struct wf_cni_ipam *ipam, const struct wf_cni_store_att *att, void *arg)
{
	struct each_arg *a = arg;
	(void)ipam;
	return a->fn(att->id, att->ifname, att->text, a->arg);
}

int wf_cni_ipam_each(struct wf_cni_ipam *ipam, wf_cni_att_fn fn, void *arg)
{
	struct each_arg a = {.fn = fn, .arg = arg};
	return wf_cni_store_each(ipam, each_cb, &a);
}

struct count_arg {
	const struct wf_cni_conf *conf;
	uint64_t used[WF_CNI_MAX_SETS];
};

static int count_cb(struct wf_cni_ipam *ipam, const struct wf_cni_store_att *att, void *arg)
{
	struct count_arg *a = arg;
	(void)ipam;
	for (unsigned i = 0; i < att->n_ips; i++)
		for (unsigned s = 0; s < a->conf->n_sets; s++)
			if (set_find(&a->conf->sets[s], &att->ips[i].ip) >= 0)
				a->used[s]++;
	return 0;
}

uint64_t wf_cni_ipam_free(struct wf_cni_ipam *ipam, const struct wf_cni_conf *conf)
{
	struct count_arg a = {.conf = conf};
	uint64_t min = UINT64_MAX;
	wf_cni_store_each(ipam, count_cb, &a);
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
