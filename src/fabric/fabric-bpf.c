/* The fabric's eBPF fast path: loading, maps, tc attachment (fabric-bpf.h). */
#include "fabric/fabric-bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "lib/alloc.h"
#include "lib/bpf-load.h"
#include "lib/mnl-session.h"

#ifdef WF_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* Our filter at tc ingress: one handle and priority, so that attaching again replaces it (an
 * agent restart) and removing it never touches anyone else's filters. 0x5746 = "WF". */
#define FP_HANDLE 1
#define FP_PRIO 0x5746

/* Shared with bpf/fabric-fastpath.bpf.c. */
struct fp_config {
	uint32_t bridge;
	uint8_t bridge_mac[6];
	uint8_t flags; /* FP_F_* */
	uint8_t pad;
};

#define FP_F_POD_NOTRACK 1

struct fp_lpm_key {
	uint32_t prefixlen;
	uint32_t addr;
};

enum {
	FP_STAT_FROM_POD,
	FP_STAT_FROM_FABRIC,
	FP_STAT_MAX
};

extern const unsigned char wf_fabric_fastpath_obj[];
extern const size_t wf_fabric_fastpath_obj_len;

struct wf_fabric_bpf {
	struct bpf_object *obj;
	int prog_pod, prog_fabric; /* fds */
	uint32_t id_pod, id_fabric;
	int map_config, map_local, map_remote, map_stats;
	int fabric_link; /* where wf_from_fabric is attached, 0: nowhere yet */
	int *ports;	 /* bridge ports carrying wf_from_pod (as of the last apply) */
	size_t n_ports;
};

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

static int load(struct wf_fabric_bpf **ret, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "weft_fabric");
	struct wf_fabric_bpf *b;
	int r;

	wf_bpf_log_begin();
	b = wf_calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->obj = bpf_object__open_mem(wf_fabric_fastpath_obj, wf_fabric_fastpath_obj_len, &oo);
	if (!b->obj) {
		r = -errno;
		snprintf(err, errlen, "opening the eBPF object: %s", strerror(-r));
		goto err_b;
	}
	/* refused by an old kernel (no conntrack kfuncs, no BTF), without CAP_BPF, ... */
	r = wf_bpf_object_load(b->obj, err, errlen);
	if (r < 0)
		goto err_obj;
	struct {
		const char *name;
		int *fd;
	} progs[] = {{"wf_from_pod", &b->prog_pod}, {"wf_from_fabric", &b->prog_fabric}},
	  maps[] = {{"wf_fp_config", &b->map_config},
		    {"wf_fp_local", &b->map_local},
		    {"wf_fp_remote", &b->map_remote},
		    {"wf_fp_stats", &b->map_stats}};
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(b->obj, progs[i].name);
		*progs[i].fd = p ? bpf_program__fd(p) : -1;
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(b->obj, maps[i].name);
		*maps[i].fd = m ? bpf_map__fd(m) : -1;
	}
	if (b->prog_pod < 0 || b->prog_fabric < 0 || b->map_config < 0 || b->map_local < 0 ||
	    b->map_remote < 0 || b->map_stats < 0) {
		snprintf(err, errlen, "the eBPF object lacks a program or map");
		r = -EOPNOTSUPP;
		goto err_obj;
	}
	b->id_pod = prog_id(b->prog_pod);
	b->id_fabric = prog_id(b->prog_fabric);
	*ret = b;
	return 0;
err_obj:
	bpf_object__close(b->obj);
err_b:
	wf_free(b);
	return r;
}

void wf_fabric_bpf_free(struct wf_fabric_bpf *b)
{
	if (!b)
		return;
	bpf_object__close(b->obj);
	wf_free(b->ports);
	wf_free(b);
}

/* ---- links ---- */

struct link_scan {
	const char *bridge;
	int bridge_index;
	uint8_t bridge_mac[6];
	int *indexes; /* bridge ports, or every link when bridge is NULL */
	size_t n, cap;
	int err;
};

static int link_cb(const struct nlmsghdr *h, void *data)
{
	struct link_scan *s = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;
	const char *name = NULL;
	const void *mac = NULL;
	int master = 0;

	if (h->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	mnl_attr_for_each(a, h, sizeof(*ifi))
	{
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			name = mnl_attr_get_str(a);
			break;
		case IFLA_MASTER:
			if (mnl_attr_get_payload_len(a) == 4)
				master = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == 6)
				mac = mnl_attr_get_payload(a);
			break;
		}
	}
	if (s->bridge && name && strcmp(name, s->bridge) == 0 && mac) {
		s->bridge_index = ifi->ifi_index;
		memcpy(s->bridge_mac, mac, 6);
	}
	/* ports are matched against the bridge's index once the dump is complete */
	if (s->bridge && !master)
		return MNL_CB_OK;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		int *p = wf_realloc(s->indexes, cap * 2 * sizeof(*p));
		if (!p) {
			s->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		s->indexes = p;
		s->cap = cap;
	}
	/* pairs: (ifindex, master) */
	s->indexes[2 * s->n] = ifi->ifi_index;
	s->indexes[2 * s->n + 1] = master;
	s->n++;
	return MNL_CB_OK;
}

/* Dumps the links: the bridge's index and MAC, and its ports (bridge != NULL), or every link. */
static int scan_links(struct wf_mnl_session *mnl, const char *bridge, struct link_scan *s)
{
	struct nlmsghdr *h = wf_mnl_session_msg(mnl, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	size_t k = 0;
	int r;

	ifi->ifi_family = AF_UNSPEC;
	memset(s, 0, sizeof(*s));
	s->bridge = bridge;
	r = wf_mnl_session_transact(mnl, link_cb, s);
	if (r < 0 || s->err < 0) {
		wf_free(s->indexes);
		s->indexes = NULL;
		return s->err < 0 ? s->err : r;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (bridge && s->indexes[2 * i + 1] != s->bridge_index)
			continue;
		s->indexes[k++] = s->indexes[2 * i];
	}
	s->n = k;
	return 0;
}

/* ---- tc ---- */

static int attach(int ifindex, int prog_fd, uint32_t id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = FP_HANDLE, .priority = FP_PRIO);
	int r;

	if (bpf_tc_query(&hook, &q) == 0 && q.prog_id == id)
		return 0;
	r = bpf_tc_hook_create(&hook); /* the clsact qdisc */
	if (r < 0 && r != -EEXIST)
		return r;
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = FP_HANDLE, .priority = FP_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	return bpf_tc_attach(&hook, &o);
}

/* Detaches our filter from ifindex; 0 when there was none (or the link is gone). The clsact
 * qdisc stays: other programs may use it, and it costs nothing empty. */
static int detach(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = FP_HANDLE, .priority = FP_PRIO);
	int r = bpf_tc_detach(&hook, &o);

	return r == -ENOENT || r == -EINVAL || r == -ENODEV ? 0 : r;
}

/* ---- maps ---- */

/* Makes the LPM map hold exactly the IPv4 CIDRs of want[]. */
static int sync_cidrs(int fd, const struct wf_cidr *want, size_t n)
{
	struct fp_lpm_key k, next;
	uint8_t one = 1;
	int r;

	/* stale keys first; deleting the current key restarts the walk */
	for (bool again = true; again;) {
		again = false;
		void *prev = NULL;
		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			bool keep = false;
			for (size_t i = 0; i < n && !keep; i++)
				keep = want[i].ip.family == AF_INET &&
				       want[i].prefix == next.prefixlen &&
				       memcmp(&want[i].ip.addr, &next.addr, 4) == 0;
			if (!keep) {
				r = bpf_map_delete_elem(fd, &next);
				if (r < 0)
					return r;
				again = true;
				break;
			}
			k = next;
			prev = &k;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (want[i].ip.family != AF_INET)
			continue;
		k.prefixlen = want[i].prefix;
		memcpy(&k.addr, &want[i].ip.addr, 4);
		r = bpf_map_update_elem(fd, &k, &one, BPF_ANY);
		if (r < 0)
			return r;
	}
	return 0;
}

/* conntrack must see connections close, although it no longer sees their data: with the
 * default window tracking, a FIN far beyond the last sequence number conntrack saw is ignored
 * and the entry would stay ESTABLISHED for days. Liberal tracking accepts it (kube-proxy's
 * conntrack.tcpBeLiberal). No conntrack in this namespace: nothing to do. */
static int conntrack_liberal(void)
{
	int fd = open("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal", O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd == -1)
		return errno == ENOENT ? 0 : -errno;
	if (write(fd, "1\n", 2) != 2)
		r = -errno;
	close(fd);
	return r;
}

int wf_fabric_bpf_apply(struct wf_fabric_bpf **bp, struct wf_mnl_session *mnl,
			const struct wf_fabric_fastpath *fp, char *err, size_t errlen)
{
	struct link_scan s;
	struct wf_fabric_bpf *b;
	uint32_t zero = 0;
	int r;

	r = scan_links(mnl, fp->bridge, &s);
	if (r < 0) {
		snprintf(err, errlen, "listing links: %s", strerror(-r));
		return r;
	}
	if (!s.bridge_index) {
		snprintf(err, errlen, "bridge %s does not exist yet", fp->bridge);
		r = -ENODEV;
		goto out;
	}
	if (!*bp) {
		r = load(bp, err, errlen);
		if (r < 0)
			goto out;
	}
	b = *bp;
	r = conntrack_liberal();
	if (r < 0) {
		snprintf(err, errlen, "setting nf_conntrack_tcp_be_liberal: %s", strerror(-r));
		goto out;
	}
	/* maps before programs: an attached program never sees a half-filled map as wanted */
	struct fp_config cfg = {.bridge = (uint32_t)s.bridge_index,
				.flags = fp->pod_notrack ? FP_F_POD_NOTRACK : 0};
	memcpy(cfg.bridge_mac, s.bridge_mac, 6);
	r = sync_cidrs(b->map_local, fp->local, fp->n_local);
	if (r == 0)
		r = sync_cidrs(b->map_remote, fp->remote, fp->n_remote);
	if (r == 0)
		r = bpf_map_update_elem(b->map_config, &zero, &cfg, BPF_ANY);
	if (r < 0) {
		snprintf(err, errlen, "writing the fast path's maps: %s", strerror(-r));
		goto out;
	}
	if (b->fabric_link && b->fabric_link != fp->fabric_link)
		detach(b->fabric_link); /* the fabric changed links (vxlan <-> host-gw) */
	r = attach(fp->fabric_link, b->prog_fabric, b->id_fabric);
	if (r < 0) {
		snprintf(err, errlen, "attaching to link %d: %s", fp->fabric_link, strerror(-r));
		goto out;
	}
	b->fabric_link = fp->fabric_link;
	for (size_t i = 0; i < s.n; i++) {
		bool known = false;
		for (size_t j = 0; j < b->n_ports && !known; j++)
			known = b->ports[j] == s.indexes[i];
		if (known)
			continue;
		r = attach(s.indexes[i], b->prog_pod, b->id_pod);
		if (r == -ENODEV || r == -ENXIO) {
			s.indexes[i] = 0; /* the pod went away meanwhile */
			continue;
		}
		if (r < 0) {
			snprintf(err, errlen, "attaching to bridge port %d: %s", s.indexes[i],
				 strerror(-r));
			goto out;
		}
	}
	/* the ports as they are now: ports of deleted pods drop out */
	wf_free(b->ports);
	b->ports = s.indexes;
	b->n_ports = s.n;
	s.indexes = NULL;
	r = 0;
out:
	wf_free(s.indexes);
	return r;
}

int wf_fabric_bpf_remove(struct wf_fabric_bpf *b, struct wf_mnl_session *mnl)
{
	struct link_scan s;
	int r = scan_links(mnl, NULL, &s), first = 0;

	if (r < 0)
		return r;
	for (size_t i = 0; i < s.n; i++) {
		r = detach(s.indexes[i]);
		first = first ? first : r;
	}
	wf_free(s.indexes);
	if (b) {
		b->fabric_link = 0;
		b->n_ports = 0;
	}
	return first;
}

int wf_fabric_bpf_stats(struct wf_fabric_bpf *b, struct wf_fabric_fastpath_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!b)
		return 0;
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	uint64_t *v = wf_calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t k = 0; k < FP_STAT_MAX; k++) {
		uint64_t sum = 0;
		if (bpf_map_lookup_elem(b->map_stats, &k, v) == 0)
			for (int c = 0; c < ncpu; c++)
				sum += v[c];
		if (k == FP_STAT_FROM_POD)
			ret->from_pods = sum;
		else
			ret->from_fabric = sum;
	}
	wf_free(v);
	return 0;
}

#else /* !WF_HAVE_BPF */

int wf_fabric_bpf_apply(struct wf_fabric_bpf **bp, struct wf_mnl_session *mnl,
			const struct wf_fabric_fastpath *fp, char *err, size_t errlen)
{
	snprintf(err, errlen, "weft was built without eBPF (clang or libbpf missing)");
	return -EOPNOTSUPP;
}

int wf_fabric_bpf_remove(struct wf_fabric_bpf *b, struct wf_mnl_session *mnl)
{
	return 0;
}

int wf_fabric_bpf_stats(struct wf_fabric_bpf *b, struct wf_fabric_fastpath_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	return 0;
}

void wf_fabric_bpf_free(struct wf_fabric_bpf *b)
{
}

#endif
