/* weft-cni commands: ADD, DEL, CHECK, STATUS, GC, VERSION (CNI SPEC.md "CNI operations"), for
 * the interface plugin (bridge or routed mode) and for the standalone IPAM plugin weft-ipam. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>
#include <linux/rtnetlink.h>

#include "cni/cni.h"
#include "cni/exec.h"
#include "lib/alloc.h"
#include "lib/ip.h"
#include "lib/netlink.h"

#define STDIN_CAP (1 << 20)
#define MAX_NFT 16 /* nft elements per attachment: 4 per address + 2 per port mapping */

/* Routed mode: the pod's next hop, answered by a static neighbour entry (as Calico does). */
static const char routed_gw4[] = "169.254.1.1";
static const char routed_gw6[] = "fe80::1";

/* One invocation's working state. */
struct run {
	struct wf_cni_env env;
	struct wf_cni_conf conf;
	struct wf_cni_err *err;
	const char *input;
	size_t input_len;
	bool ipam_only;
	char host_veth[16];
	char ifb[16]; /* bandwidth: egress shaping device, "" when none */
	char state_path[4096];
	char state_dir[4096];
	char ipam_dir[4096]; /* the built-in store's directory of this network */
	bool record_written; /* the reservation file carries the record */
	/* results */
	struct wf_cni_ip ips[WF_CNI_MAX_RESULT_IPS];
	unsigned n_ips;
	struct wf_cni_route routes[WF_CNI_MAX_ROUTES + 4];
	unsigned n_routes;
	json_t *delegate_result; /* delegated IPAM's result or NULL */
	bool link_created;	 /* this ADD created the veth pair */
	/* nft element specs ("set { elem }") this attachment owns */
	char *nft[MAX_NFT * 2];
	unsigned n_nft;
};

/* --- small helpers --- */

static uint64_t fnv1a(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = a; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	h = (h ^ 0) * 1099511628211ULL;
	for (const char *p = b; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return h;
}

/* The host end's name is a function of the attachment, so that DEL and GC find it without any
 * state (after a crash, or when the netns is gone). */
static void host_veth_name(const char *id, const char *ifname, char buf[16])
{
	snprintf(buf, 16, "wf%012llx", (unsigned long long)(fnv1a(id, ifname) & 0xffffffffffffULL));
}

static void random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		uint64_t x = (uint64_t)getpid() * 2654435761ULL ^ (uint64_t)(uintptr_t)mac;
		memcpy(mac, &x, 6);
	}
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

static int sysctl_on(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	int ret = 0;
	if (read(fd, &c, 1) == 1 && c == '1')
		goto out;
	if (pwrite(fd, "1", 1, 0) != 1)
		ret = -errno;
out:
	close(fd);
	return ret;
}

static int read_stdin(FILE *in, char **ret, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = wf_malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len - 1, in);
		len += n;
		if (n == 0) {
			if (ferror(in)) {
				wf_free(buf);
				return -EIO;
			}
			break;
		}
		if (len + 1 == cap) {
			if (cap >= STDIN_CAP) {
				wf_free(buf);
				return -E2BIG;
			}
			char *b = wf_realloc(buf, cap * 2);
			if (!b) {
				wf_free(buf);
				return -ENOMEM;
			}
			buf = b;
			cap *= 2;
		}
	}
	buf[len] = 0;
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Step timestamps (CLOCK_MONOTONIC, a vDSO call) printed to stderr at exit when WEFT_CNI_TRACE
 * is set: "weft-cni trace: STEP=µs …", each the time since the step before (docs/internals/cni.md). */
#define TRACE_MAX 24
static struct {
	const char *what;
	struct timespec t;
} trace_marks[TRACE_MAX];
static unsigned trace_n;

static void trace(const char *what)
{
	if (trace_n < TRACE_MAX) {
		trace_marks[trace_n].what = what;
		clock_gettime(CLOCK_MONOTONIC, &trace_marks[trace_n++].t);
	}
}

static void trace_print(void)
{
	if (trace_n < 2 || !getenv("WEFT_CNI_TRACE"))
		return;
	/* @start and @end: CLOCK_MONOTONIC in µs, for a caller that times the whole process */
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	fprintf(stderr, "weft-cni trace: @start=%lld @end=%lld",
		(long long)trace_marks[0].t.tv_sec * 1000000 + trace_marks[0].t.tv_nsec / 1000,
		(long long)end.tv_sec * 1000000 + end.tv_nsec / 1000);
	for (unsigned i = 1; i < trace_n; i++) {
		const struct timespec *a = &trace_marks[i - 1].t, *b = &trace_marks[i].t;
		long us = (b->tv_sec - a->tv_sec) * 1000000L + (b->tv_nsec - a->tv_nsec) / 1000;
		fprintf(stderr, " %s=%ld", trace_marks[i].what, us);
	}
	fputc('\n', stderr);
}

static int nl_fail(struct run *r, int e, const char *what)
{
	return wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "%s: %s", what, strerror(-e));
}

/* --- state file: what an attachment holds, written before it is created --- */

static int state_paths(struct run *r)
{
	const struct wf_cni_conf *c = &r->conf;
	int n;
	if (c->state_dir)
		n = snprintf(r->state_dir, sizeof(r->state_dir), "%s/%s", c->state_dir, c->name);
	else if (c->ipam_builtin)
		n = snprintf(r->state_dir, sizeof(r->state_dir), "%s/%s", c->data_dir, c->name);
	else
		n = snprintf(r->state_dir, sizeof(r->state_dir), "/var/lib/cni/weft/%s", c->name);
	if (n < 0 || (size_t)n >= sizeof(r->state_dir))
		return -ENAMETOOLONG;
	if (c->ipam_builtin) {
		n = snprintf(r->ipam_dir, sizeof(r->ipam_dir), "%s/%s", c->data_dir, c->name);
		if (n < 0 || (size_t)n >= sizeof(r->ipam_dir))
			return -ENAMETOOLONG;
	}
	if (!r->env.containerid)
		return 0;
	/* ':' appears in neither a container id nor an interface name */
	n = snprintf(r->state_path, sizeof(r->state_path), "%s/weft:%s:%s", r->state_dir,
		     r->env.containerid, r->env.ifname);
	return n < 0 || (size_t)n >= sizeof(r->state_path) ? -ENAMETOOLONG : 0;
}

/* The attachment's record as JSON (malloc()ed), or NULL when out of memory. */
static char *record_text(struct run *r)
{
	char buf[WF_CIDR_STRLEN + 8];
	json_t *ips = json_array(), *nft = json_array();
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "containerID", r->env.containerid,
			      "ifname", r->env.ifname, "hostVeth", r->host_veth, "ifb", r->ifb,
			      "ips", ips, "nft", nft);
	if (!o)
		return NULL;
	for (unsigned i = 0; i < r->n_ips; i++) {
		wf_ip_format(&r->ips[i].ip, buf);
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%u", r->ips[i].prefix);
		json_array_append_new(ips, json_string(buf));
	}
	for (unsigned i = 0; i < r->n_nft; i++)
		json_array_append_new(nft, json_string(r->nft[i]));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* The record in a file of its own: where the address store is not the record's directory
 * (delegated IPAM, no IPAM, a stateDir of its own). */
static int state_write(struct run *r)
{
	char tmp[4200];
	int ret = 0;
	char *text = record_text(r);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	/* written complete as an unnamed inode, then named: a crash leaves no torn state */
	int fd = open(r->state_dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd == -1 && errno == ENOENT) {
		if ((ret = wf_cni_mkdir_p(r->state_dir)) < 0)
			goto out_text;
		fd = open(r->state_dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	}
	if (fd >= 0) {
		if (write(fd, text, len) != (ssize_t)len)
			ret = -EIO;
		else if (linkat(fd, "", AT_FDCWD, r->state_path, AT_EMPTY_PATH) == -1)
			ret = -errno;
		close(fd);
		if (ret != -EEXIST)
			goto out_text;
		ret = 0;
	}
	/* no O_TMPFILE here, or a stale file to replace: temporary name and rename() */
	snprintf(tmp, sizeof(tmp), "%s.tmp", r->state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, text, len) != (ssize_t)len || rename(tmp, r->state_path) == -1) {
		ret = fd == -1 ? -errno : -EIO;
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
out_text:
	free(text);
	return ret;
}

/* Loads a record (JSON) into r->ips / r->nft. Returns 0 or -EINVAL (not a record). */
static int record_parse(struct run *r, const char *json)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);
	if (!o)
		return -EINVAL;
	size_t i;
	json_t *v;
	r->n_ips = 0;
	json_array_foreach(json_object_get(o, "ips"), i, v)
	{
		struct wf_cidr c;
		const char *s = json_string_value(v);
		if (s && r->n_ips < WF_CNI_MAX_RESULT_IPS && wf_cidr_parse(s, false, &c) == 0) {
			memset(&r->ips[r->n_ips], 0, sizeof(r->ips[0]));
			r->ips[r->n_ips].ip = c.ip;
			r->ips[r->n_ips].prefix = c.prefix;
			r->n_ips++;
		}
	}
	json_array_foreach(json_object_get(o, "nft"), i, v)
	{
		const char *s = json_string_value(v);
		if (s && r->n_nft < MAX_NFT * 2) {
			char *d = wf_strdup(s);
			if (d)
				r->nft[r->n_nft++] = d;
		}
	}
	const char *ifb = json_string_value(json_object_get(o, "ifb"));
	if (ifb && strlen(ifb) < sizeof(r->ifb))
		strcpy(r->ifb, ifb);
	const char *hv = json_string_value(json_object_get(o, "hostVeth"));
	if (hv && strlen(hv) < sizeof(r->host_veth))
		strcpy(r->host_veth, hv);
	json_decref(o);
	return 0;
}

/* Loads the record of a file of its own. Returns 0, -ENOENT, -EINVAL (not a record) or
 * -errno. */
static int state_read(struct run *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	struct stat st;
	char *buf = NULL;
	int ret = -EINVAL;
	if (fstat(fd, &st) == -1 || st.st_size > STDIN_CAP ||
	    !(buf = wf_malloc((size_t)st.st_size + 1)))
		goto out;
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	if (n < 0)
		goto out;
	buf[n] = 0;
	ret = record_parse(r, buf);
out:
	wf_free(buf);
	close(fd);
	return ret;
}

/* Whether the attachments' records live in the built-in store, with their reservations (the
 * default), rather than in files of their own (delegated IPAM, no IPAM, a stateDir). */
static bool records_in_store(const struct run *r)
{
	return r->conf.ipam_builtin && !r->ipam_only && strcmp(r->state_dir, r->ipam_dir) == 0;
}

/* Loads the attachment's record, from the store or its file. Returns 0, -ENOENT, -EINVAL
 * (not a record) or -errno (code 5 set in r->err for a store that cannot be opened). */
static int record_load(struct run *r)
{
	if (!records_in_store(r))
		return state_read(r, r->state_path);
	struct wf_cni_ipam ipam;
	char *text = NULL;
	int e = wf_cni_ipam_open(&ipam, r->conf.data_dir, r->conf.name);
	if (e < 0)
		return e;
	e = wf_cni_ipam_record(&ipam, r->env.containerid, r->env.ifname, &text);
	wf_cni_ipam_close(&ipam);
	if (e == 0)
		e = record_parse(r, text);
	wf_free(text);
	return e;
}

static void nft_clear(struct run *r)
{
	for (unsigned i = 0; i < r->n_nft; i++)
		wf_free(r->nft[i]);
	r->n_nft = 0;
}

/* --- nftables: one table, per-attachment set and map elements --- */

static const char nft_base[] =
	"table inet weft_cni {\n"
	"  set masq4 { type ipv4_addr; }\n"
	"  set masq6 { type ipv6_addr; }\n"
	"  set nomasq4 { type ipv4_addr . ipv4_addr; flags interval; }\n"
	"  set nomasq6 { type ipv6_addr . ipv6_addr; flags interval; }\n"
	"  set hairpin4 { type ipv4_addr . ipv4_addr; flags interval; }\n"
	"  set hairpin6 { type ipv6_addr . ipv6_addr; flags interval; }\n"
	"  map ports4 { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
	"  map ports6 { type inet_proto . inet_service : ipv6_addr . inet_service; }\n"
	"  map hports4 { type ipv4_addr . inet_proto . inet_service : ipv4_addr . "
	"inet_service; }\n"
	"  map hports6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . "
	"inet_service; }\n"
	"  chain hostports {\n"
	"    meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @hports4\n"
	"    meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports4\n"
	"    meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @hports6\n"
	"    meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @ports6\n"
	"  }\n"
	"  chain prerouting { type nat hook prerouting priority dstnat; fib daddr type local "
	"jump hostports; }\n"
	"  chain output { type nat hook output priority -100; fib daddr type local jump "
	"hostports; }\n"
	"  chain postrouting { type nat hook postrouting priority srcnat;\n"
	"    ct status dnat ip saddr . ip daddr @hairpin4 masquerade\n"
	"    ct status dnat ip6 saddr . ip6 daddr @hairpin6 masquerade\n"
	"    ip saddr . ip daddr @nomasq4 return\n"
	"    ip6 saddr . ip6 daddr @nomasq6 return\n"
	"    ip saddr @masq4 ip daddr != 224.0.0.0/4 masquerade\n"
	"    ip6 saddr @masq6 ip6 daddr != ff00::/8 masquerade\n"
	"  }\n"
	"}\n";

static int nft_push(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int nft_push(struct run *r, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	if (r->n_nft == MAX_NFT * 2)
		return -E2BIG;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *s = wf_strdup(buf);
	if (!s)
		return -ENOMEM;
	r->nft[r->n_nft++] = s;
	return 0;
}

/* Computes the elements this attachment needs (before anything is created, so that the state
 * file can name them). */
static int nft_plan(struct run *r)
{
	const struct wf_cni_conf *c = &r->conf;
	char ip[WF_IP_STRLEN], net[WF_CIDR_STRLEN], hip[WF_IP_STRLEN];
	for (unsigned i = 0; i < r->n_ips; i++) {
		const struct wf_cni_ip *a = &r->ips[i];
		const char *f = a->ip.family == AF_INET ? "4" : "6";
		struct wf_cidr sub = {.ip = a->ip, .prefix = a->prefix};
		wf_cidr_network(&sub, &sub.ip);
		wf_ip_format(&a->ip, ip);
		wf_cidr_format(&sub, net);
		/* reference bridge ipMasq: masquerade what leaves the pod's own subnet */
		if (c->ip_masq && (nft_push(r, "masq%s { %s }", f, ip) < 0 ||
				   nft_push(r, "nomasq%s { %s . %s }", f, ip, net) < 0))
			return -ENOMEM;
		bool any = false;
		for (unsigned p = 0; p < c->n_ports; p++) {
			const struct wf_cni_portmap *m = &c->ports[p];
			if (m->host_ip.family && m->host_ip.family != a->ip.family)
				continue;
			any = true;
			int e;
			if (m->host_ip.family)
				e = nft_push(r, "hports%s { %s . %s . %u : %s . %u }", f,
					     wf_ip_format(&m->host_ip, hip), m->proto, m->host_port,
					     ip, m->container_port);
			else
				e = nft_push(r, "ports%s { %s . %u : %s . %u }", f, m->proto,
					     m->host_port, ip, m->container_port);
			if (e < 0)
				return e;
		}
		/* portmap's hairpin: a pod of the subnet reaching a hostPort that leads back
		 * into the subnet is masqueraded, so the reply returns through the host */
		if (any && nft_push(r, "hairpin%s { %s . %s }", f, net, ip) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int run_nft(const char *script, char *errbuf, size_t errsize)
{
	char path[64];
	if (wf_cni_find_tool("nft", path, sizeof(path)) < 0) {
		snprintf(errbuf, errsize, "nft not found");
		return -ENOENT;
	}
	char *argv[] = {path, "-f", "-", NULL};
	int st = wf_cni_exec(path, argv, script, strlen(script), NULL, NULL, errbuf, errsize);
	return st == 0 ? 0 : (st < 0 ? st : -EIO);
}

/* Adds (add=true, with "create" so that a taken hostPort fails) or removes this attachment's
 * elements. Removal adds each element first and then deletes it in the same transaction, so
 * that it succeeds whether or not the element is still there (DEL is idempotent). */
static int nft_apply(struct run *r, bool add, char *errbuf, size_t errsize)
{
	size_t cap = 512 + r->n_nft * 600, len = 0;
	char *s = wf_malloc(cap + sizeof(nft_base));
	int ret;
	if (!s)
		return -ENOMEM;
	for (unsigned i = 0; i < r->n_nft; i++) {
		if (add)
			len += (size_t)snprintf(s + len, cap - len,
						"create element inet weft_cni %s\n", r->nft[i]);
		else
			len += (size_t)snprintf(s + len, cap - len,
						"add element inet weft_cni %s\n"
						"delete element inet weft_cni %s\n",
						r->nft[i], r->nft[i]);
	}
	ret = run_nft(s, errbuf, errsize);
	if (ret == -EIO && add && strstr(errbuf, "No such file or directory")) {
		/* first use on this node: create the table with the elements, atomically;
		 * if another ADD won the race, the element-only batch now succeeds */
		memmove(s + sizeof(nft_base) - 1, s, len + 1);
		memcpy(s, nft_base, sizeof(nft_base) - 1);
		ret = run_nft(s, errbuf, errsize);
		if (ret < 0)
			ret = run_nft(s + sizeof(nft_base) - 1, errbuf, errsize);
	} else if (ret == -EIO && !add && strstr(errbuf, "No such file or directory")) {
		/* add-then-delete only fails so when the table itself is missing: then the
		 * elements are gone too */
		ret = 0;
	} else if (ret == -EIO && !add && strstr(errbuf, "File exists")) {
		/* a map key (hostPort) held by another attachment with another value: that
		 * element is not ours to delete. Remove the rest one by one. */
		ret = 0;
		for (unsigned i = 0; i < r->n_nft; i++) {
			snprintf(s, cap,
				 "add element inet weft_cni %s\ndelete element inet weft_cni %s\n",
				 r->nft[i], r->nft[i]);
			int e = run_nft(s, errbuf, errsize);
			if (e < 0 && !strstr(errbuf, "File exists") &&
			    !strstr(errbuf, "No such file or directory"))
				ret = e;
		}
	}
	wf_free(s);
	return ret;
}

/* --- tc: bandwidth capability (bandwidth plugin semantics) --- */

static int tc_apply(struct run *r, char *errbuf, size_t errsize)
{
	const struct wf_cni_bandwidth *b = &r->conf.bw;
	char path[64], script[1024];
	size_t len = 0;
	if (wf_cni_find_tool("tc", path, sizeof(path)) < 0) {
		snprintf(errbuf, errsize, "tc not found");
		return -ENOENT;
	}
	/* ingress (towards the pod) leaves the host end: shape it there with tbf; egress (from
	 * the pod) enters the host end: redirect it to an ifb device and shape it there, as the
	 * reference bandwidth plugin does */
	if (b->in_rate)
		len += (size_t)snprintf(
			script + len, sizeof(script) - len,
			"qdisc add dev %s root tbf rate %llubit burst %llub latency "
			"25ms\n",
			r->host_veth, (unsigned long long)b->in_rate,
			(unsigned long long)(b->in_burst / 8 ? b->in_burst / 8 : 1));
	if (b->out_rate)
		len += (size_t)snprintf(
			script + len, sizeof(script) - len,
			"qdisc add dev %s handle ffff: ingress\n"
			"filter add dev %s parent ffff: protocol all u32 match u32 0 0 "
			"action mirred egress redirect dev %s\n"
			"qdisc add dev %s root tbf rate %llubit burst %llub latency 25ms\n",
			r->host_veth, r->host_veth, r->ifb, r->ifb, (unsigned long long)b->out_rate,
			(unsigned long long)(b->out_burst / 8 ? b->out_burst / 8 : 1));
	if (b->out_rate) {
		struct wf_nl nl = {0};
		struct wf_nl_link_opts o = {.up = true, .mtu = r->conf.mtu};
		int e = wf_nl_init(&nl);
		if (e == 0)
			e = wf_nl_link_add(&nl, r->ifb, "ifb", &o);
		wf_nl_done(&nl);
		if (e < 0) {
			snprintf(errbuf, errsize, "creating ifb device %s: %s", r->ifb,
				 strerror(-e));
			return e;
		}
	}
	char *argv[] = {path, "-b", "-", NULL};
	int st = wf_cni_exec(path, argv, script, len, NULL, NULL, errbuf, errsize);
	return st == 0 ? 0 : (st < 0 ? st : -EIO);
}

/* --- delegated IPAM (SPEC.md "Delegated plugins") --- */

static int delegate(struct run *r, const char *cmd, json_t **ret_result)
{
	char path[4096], errbuf[1024];
	char *out = NULL;
	size_t out_len = 0;
	if (wf_cni_find_plugin(r->env.path, r->conf.ipam_type, path, sizeof(path)) < 0)
		return wf_cni_fail(r->err, WF_CNI_E_CONFIG,
				   "failed to find plugin \"%s\" in path [%s]", r->conf.ipam_type,
				   r->env.path ? r->env.path : "");
	/* same environment, except the command; the complete configuration on stdin */
	setenv("CNI_COMMAND", cmd, 1);
	char *argv[] = {path, NULL};
	int st = wf_cni_exec(path, argv, r->input, r->input_len, &out, &out_len, errbuf, 0);
	if (st < 0)
		return wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "running %s: %s", path,
				   strerror(-st));
	json_t *res = out_len ? json_loadb(out, out_len, 0, NULL) : NULL;
	wf_free(out);
	if (st != 0) {
		/* propagate the delegate's error as it gave it */
		json_t *code = json_object_get(res, "code");
		const char *msg = json_string_value(json_object_get(res, "msg"));
		const char *det = json_string_value(json_object_get(res, "details"));
		wf_cni_fail(r->err, json_is_integer(code) ? (int)json_integer_value(code) : 999,
			    "%s", msg ? msg : "delegated IPAM plugin failed");
		if (det)
			snprintf(r->err->details, sizeof(r->err->details), "%s", det);
		json_decref(res);
		return -1;
	}
	if (ret_result) {
		if (!json_is_object(res)) {
			json_decref(res);
			return wf_cni_fail(r->err, WF_CNI_E_DECODE,
					   "delegated IPAM plugin returned no result");
		}
		*ret_result = res;
	} else {
		json_decref(res);
	}
	return 0;
}

/* --- the interface --- */

static void add_route(struct run *r, const char *dst, const struct wf_ip *gw)
{
	struct wf_cni_route *rt = &r->routes[r->n_routes];
	if (r->n_routes == WF_CNI_MAX_ROUTES + 4)
		return;
	memset(rt, 0, sizeof(*rt));
	wf_cidr_parse(dst, false, &rt->dst);
	if (gw)
		rt->gw = *gw;
	r->n_routes++;
}

/* Routes the pod gets: ipam routes, plus the default route with isDefaultGateway (bridge) or
 * always (routed). A route without gw uses its family's gateway (reference ConfigureIface). */
static void plan_routes(struct run *r)
{
	const struct wf_cni_conf *c = &r->conf;
	struct wf_ip gw4 = {0}, gw6 = {0};
	for (unsigned i = 0; i < r->n_ips; i++) {
		struct wf_ip *g = r->ips[i].ip.family == AF_INET ? &gw4 : &gw6;
		if (!g->family)
			*g = r->ips[i].gw;
	}
	if (c->mode == WF_CNI_MODE_ROUTED) {
		wf_ip_parse(routed_gw4, &gw4);
		wf_ip_parse(routed_gw6, &gw6);
	}
	bool have4 = false, have6 = false;
	for (unsigned i = 0; i < r->n_ips; i++) {
		have4 |= r->ips[i].ip.family == AF_INET;
		have6 |= r->ips[i].ip.family == AF_INET6;
	}
	if (c->is_default_gw || c->mode == WF_CNI_MODE_ROUTED) {
		if (have4 && gw4.family)
			add_route(r, "0.0.0.0/0", &gw4);
		if (have6 && gw6.family)
			add_route(r, "::/0", &gw6);
	}
	const struct wf_cni_route *src = c->routes;
	unsigned n = c->n_routes;
	if (!c->ipam_builtin) {
		n = 0; /* delegated routes were parsed into r->routes already */
	}
	for (unsigned i = 0; i < n && r->n_routes < WF_CNI_MAX_ROUTES + 4; i++) {
		struct wf_cni_route rt = src[i];
		if (c->mode == WF_CNI_MODE_ROUTED || !rt.gw.family)
			rt.gw = rt.dst.ip.family == AF_INET ? gw4 : gw6;
		if (c->is_default_gw && rt.dst.prefix == 0)
			continue; /* already there */
		r->routes[r->n_routes++] = rt;
	}
	if (c->mode == WF_CNI_MODE_ROUTED)
		for (unsigned i = 0; i < r->n_ips; i++)
			r->ips[i].gw = r->ips[i].ip.family == AF_INET ? gw4 : gw6;
}

/* Requests queued on one netlink socket (wf_nl_batch_begin()) and what each is for, so that
 * a failure names its step. */
#define NL_BATCH_MAX 64

struct nl_batch {
	struct wf_nl *nl;
	unsigned n;
	int err; /* first request that could not be queued */
	const char *err_what;
	const char *what[NL_BATCH_MAX];
	bool exist_ok[NL_BATCH_MAX]; /* -EEXIST counts as success */
	int res[NL_BATCH_MAX];
};

static void batch_begin(struct nl_batch *b, struct wf_nl *nl)
{
	b->nl = nl;
	b->n = 0;
	b->err = 0;
	wf_nl_batch_begin(nl);
}

/* Notes a request just queued (e: what the wf_nl_* call returned). */
static void batch_note(struct nl_batch *b, int e, const char *what, bool exist_ok)
{
	if (e == 0 && b->n >= NL_BATCH_MAX)
		e = -E2BIG; /* queued, but its ACK could not be told apart: fail the batch */
	if (e < 0) {
		if (!b->err) {
			b->err = e;
			b->err_what = what;
		}
		return;
	}
	b->what[b->n] = what;
	b->exist_ok[b->n] = exist_ok;
	b->n++;
}

/* Sends the batch; res[] then holds each request's result. Returns 0 once sent and ACKed
 * (whatever the requests' results), or fails the run. */
static int batch_send(struct run *r, struct nl_batch *b)
{
	int e = wf_nl_batch_end(b->nl, b->res, NL_BATCH_MAX);
	if (e < 0)
		return nl_fail(r, e, "netlink");
	return 0;
}

/* Fails the run with the first request of the sent batch that failed (or could not be
 * queued); 0 when all succeeded. */
static int batch_check(struct run *r, const struct nl_batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		int e = b->res[i];
		if (e < 0 && !(e == -EEXIST && b->exist_ok[i]))
			return nl_fail(r, e, b->what[i]);
	}
	if (b->err)
		return nl_fail(r, b->err, b->err_what);
	return 0;
}

/* Looks the bridge up, creating it (up) when missing. The gateway addresses are added by the
 * caller, in the batch that creates the veth pair. */
static int ensure_bridge(struct run *r, struct wf_nl *nl, struct wf_nl_link *br)
{
	const struct wf_cni_conf *c = &r->conf;
	int e = wf_nl_link_get(nl, c->bridge, br);
	if (e == -ENODEV) {
		/* a MAC of its own keeps the bridge's address from following its ports */
		uint8_t mac[6];
		random_mac(mac);
		struct wf_nl_link_opts o = {.mtu = c->mtu, .up = true, .mac = mac};
		e = wf_nl_bridge_add(nl, c->bridge, &o);
		if (e < 0 && e != -EEXIST)
			return nl_fail(r, e, "creating bridge");
		e = wf_nl_link_get(nl, c->bridge, br);
	}
	if (e < 0)
		return nl_fail(r, e, "looking up bridge");
	if (!(br->flags & IFF_UP) && (e = wf_nl_link_set(nl, br->index, true, 0, -1)) < 0)
		return nl_fail(r, e, "bringing the bridge up");
	return 0;
}

/* Creates everything in the kernel. On failure the caller deletes the host veth (which takes
 * the pod end with it); the bridge, shared by every pod, stays.
 *
 * Netlink round trips (docs/internals/cni.md, "ADD"): bridge lookup; one batch on the host
 * socket (gateway addresses, the veth pair with the pod end created in the pod netns, hairpin
 * by name); pod end lookup; one batch on the pod socket (up, addresses, routes); in routed mode
 * a host end lookup and one more host batch (routes, neighbours). */
static int link_add(struct run *r, int nsfd, struct wf_cni_iface *ifs, unsigned *ret_n,
		    int *ret_ip_iface)
{
	const struct wf_cni_conf *c = &r->conf;
	struct wf_nl host = {0}, pod = {0};
	struct wf_nl_link br = {0};
	struct nl_batch b;
	uint8_t host_mac[6], pod_mac[6];
	unsigned n = 0;
	int e, ret = -1;
	bool bridged = c->mode == WF_CNI_MODE_BRIDGE;
	bool routed = c->mode == WF_CNI_MODE_ROUTED;

	if ((e = wf_nl_init(&host)) < 0)
		return nl_fail(r, e, "netlink");
	if (bridged && ensure_bridge(r, &host, &br) < 0)
		goto out;
	trace("bridge-lookup");
	random_mac(host_mac);
	if (c->has_mac)
		memcpy(pod_mac, c->mac, 6);
	else
		random_mac(pod_mac);
	/* MACs are chosen here, so the result and the routed-mode neighbour entries need no
	 * lookup; the host end joins the bridge and comes up in the creating request */
	struct wf_nl_link_opts ho = {
		.mtu = c->mtu, .master = br.index, .up = true, .mac = host_mac};
	struct wf_nl_link_opts po = {.mtu = c->mtu, .mac = pod_mac};
	bool hairpin = bridged && c->hairpin;

	batch_begin(&b, &host);
	if (bridged && c->is_gw) {
		for (unsigned i = 0; i < r->n_ips; i++) {
			if (!r->ips[i].gw.family)
				continue;
			e = wf_nl_addr_add(&host, br.index, &r->ips[i].gw, r->ips[i].prefix);
			batch_note(&b, e, "adding the gateway address to the bridge", true);
		}
	}
	unsigned veth_req = b.n;
	/* the pod end is created directly inside the pod's namespace (IFLA_NET_NS_FD) */
	e = wf_nl_veth_add(&host, r->host_veth, &ho, r->env.ifname, nsfd, &po);
	batch_note(&b, e, "creating the veth pair", false);
	/* hairpin is a bridge port setting, which the create request cannot carry (the port
	 * has no master ops yet when rtnl_newlink() parses it): set by name, right after */
	if (hairpin)
		batch_note(&b, wf_nl_brport_hairpin_name(&host, r->host_veth, true),
			   "setting hairpin mode", false);
	if (batch_send(r, &b) < 0)
		goto out;
	trace("host-batch");
	e = veth_req < b.n ? b.res[veth_req] : b.err;
	if (e == -EEXIST) {
		if ((e = wf_nl_init_in(&pod, nsfd)) < 0) {
			nl_fail(r, e, "netlink in the pod namespace");
			goto out;
		}
		struct wf_nl_link l;
		if (wf_nl_link_get(&pod, r->env.ifname, &l) == 0) {
			wf_cni_fail(r->err, WF_CNI_E_INTERNAL,
				    "container veth name \"%s\" already exists", r->env.ifname);
			goto out;
		}
		/* a host end left over by a killed ADD of this attachment: replace it */
		wf_nl_link_del_name(&host, r->host_veth);
		e = wf_nl_veth_add(&host, r->host_veth, &ho, r->env.ifname, nsfd, &po);
		if (e == 0)
			r->link_created = true;
		if (e == 0 && hairpin &&
		    (e = wf_nl_brport_hairpin_name(&host, r->host_veth, true)) < 0) {
			nl_fail(r, e, "setting hairpin mode");
			goto out;
		}
		if (e < 0) {
			nl_fail(r, e, "creating the veth pair");
			goto out;
		}
		for (unsigned i = 0; i < b.n; i++)
			if (i != veth_req && b.res[i] < 0 &&
			    !(b.res[i] == -EEXIST && b.exist_ok[i]) &&
			    strcmp(b.what[i], "setting hairpin mode") != 0) {
				nl_fail(r, b.res[i], b.what[i]);
				goto out;
			}
	} else {
		if (e == 0)
			r->link_created = true;
		if (batch_check(r, &b) < 0)
			goto out;
	}

	if (!pod.buf && (e = wf_nl_init_in(&pod, nsfd)) < 0) {
		nl_fail(r, e, "netlink in the pod namespace");
		goto out;
	}
	trace("pod-socket");
	struct wf_nl_link pl;
	if ((e = wf_nl_link_get(&pod, r->env.ifname, &pl)) < 0) {
		nl_fail(r, e, "looking up the pod interface");
		goto out;
	}
	trace("pod-lookup");
	/* both ends get the same MTU (c->mtu, or the kernel's veth default) */
	struct wf_nl_link hv = {.mtu = pl.mtu};
	if (routed && (e = wf_nl_link_get(&host, r->host_veth, &hv)) < 0) {
		nl_fail(r, e, "looking up the host veth");
		goto out;
	}

	/* the pod side in one batch: in order, so the link is up before routes through it */
	batch_begin(&b, &pod);
	batch_note(&b, wf_nl_link_set(&pod, pl.index, true, 0, -1), "bringing the pod interface up",
		   false);
	for (unsigned i = 0; i < r->n_ips; i++) {
		const struct wf_cni_ip *a = &r->ips[i];
		uint8_t plen = routed ? (a->ip.family == AF_INET ? 32 : 128) : a->prefix;
		batch_note(&b, wf_nl_addr_add(&pod, pl.index, &a->ip, plen),
			   "adding the pod address", false);
	}
	if (routed) {
		/* pod side: the next hop is on-link and resolves to the host end's MAC without
		 * ARP/ND or proxy_arp */
		struct wf_ip gw;
		const char *gws[2] = {routed_gw4, routed_gw6};
		for (unsigned f = 0; f < 2; f++) {
			wf_ip_parse(gws[f], &gw);
			bool want = false;
			for (unsigned i = 0; i < r->n_ips; i++)
				want |= r->ips[i].ip.family == gw.family;
			if (!want)
				continue;
			batch_note(&b, wf_nl_neigh_add(&pod, pl.index, &gw, host_mac),
				   "adding the gateway neighbour", false);
			if (gw.family == AF_INET) {
				struct wf_nl_route lr = {.dst = gw,
							 .prefix = 32,
							 .oif = pl.index,
							 .scope = RT_SCOPE_LINK};
				batch_note(&b, wf_nl_route_add(&pod, &lr),
					   "adding the gateway route", false);
			}
		}
	}
	for (unsigned i = 0; i < r->n_routes; i++) {
		const struct wf_cni_route *rt = &r->routes[i];
		struct wf_nl_route nr = {
			.dst = rt->dst.ip, .prefix = rt->dst.prefix, .gw = rt->gw, .oif = pl.index};
		if (!rt->gw.family)
			nr.scope = RT_SCOPE_LINK;
		batch_note(&b, wf_nl_route_add(&pod, &nr), "adding a pod route", true);
	}
	if (batch_send(r, &b) < 0 || batch_check(r, &b) < 0)
		goto out;
	trace("pod-batch");

	if (routed) {
		batch_begin(&b, &host);
		for (unsigned i = 0; i < r->n_ips; i++) {
			const struct wf_cni_ip *a = &r->ips[i];
			uint8_t plen = a->ip.family == AF_INET ? 32 : 128;
			/* host side: a /32 (/128) route per pod address (as Calico) */
			struct wf_nl_route hr = {.dst = a->ip,
						 .prefix = plen,
						 .oif = hv.index,
						 .scope = RT_SCOPE_LINK};
			batch_note(&b, wf_nl_route_add(&host, &hr), "adding the host route", true);
			/* and a static neighbour: no ARP/ND, and no wait for the host end's
			 * IPv6 link-local address to finish DAD */
			batch_note(&b, wf_nl_neigh_add(&host, hv.index, &a->ip, pod_mac),
				   "adding the pod neighbour", false);
		}
		if (batch_send(r, &b) < 0 || batch_check(r, &b) < 0)
			goto out;
	}
	if ((c->is_gw || routed) && r->n_ips) {
		for (unsigned i = 0; i < r->n_ips; i++) {
			const char *p = r->ips[i].ip.family == AF_INET
						? "/proc/sys/net/ipv4/ip_forward"
						: "/proc/sys/net/ipv6/conf/all/forwarding";
			if ((e = sysctl_on(p)) < 0) {
				nl_fail(r, e, "enabling forwarding");
				goto out;
			}
		}
	}

	if (bridged) {
		snprintf(ifs[n].name, sizeof(ifs[n].name), "%s", c->bridge);
		memcpy(ifs[n].mac, br.mac, 6);
		ifs[n].mtu = br.mtu;
		n++;
	}
	snprintf(ifs[n].name, sizeof(ifs[n].name), "%s", r->host_veth);
	memcpy(ifs[n].mac, host_mac, 6);
	ifs[n].mtu = hv.mtu;
	n++;
	snprintf(ifs[n].name, sizeof(ifs[n].name), "%s", r->env.ifname);
	memcpy(ifs[n].mac, pod_mac, 6);
	ifs[n].mtu = pl.mtu;
	ifs[n].sandbox = true;
	*ret_ip_iface = (int)n;
	*ret_n = n + 1;
	ret = 0;
out:
	wf_nl_done(&pod);
	wf_nl_done(&host);
	return ret;
}

/* Deletes the host end (and with it the pod end) and the ifb device, if any. 0 also when they
 * are already gone. */
static int link_del(const char *host_veth, const char *ifb)
{
	struct wf_nl nl = {0};
	int e = wf_nl_init(&nl);
	if (e < 0)
		return e;
	e = wf_nl_link_del_name(&nl, host_veth);
	if (ifb && ifb[0]) {
		int e2 = wf_nl_link_del_name(&nl, ifb);
		if (e == 0 || e == -ENODEV)
			e = e2;
	}
	wf_nl_done(&nl);
	return e == -ENODEV ? 0 : e;
}

/* --- IPAM (built in or delegated) --- */

/* wf_cni_record.text: the record for the addresses the store picked (everything else in it
 * follows from them and the configuration). */
static char *record_text_picked(const struct wf_cni_ip *ips, unsigned n, void *arg)
{
	struct run *r = arg;
	if (ips != r->ips)
		memmove(r->ips, ips, n * sizeof(*ips));
	r->n_ips = n;
	nft_clear(r);
	if (nft_plan(r) < 0)
		return NULL;
	return record_text(r);
}

static int ipam_add(struct run *r)
{
	const struct wf_cni_conf *c = &r->conf;
	if (!c->ipam_type)
		return 0;
	if (!c->ipam_builtin) {
		if (delegate(r, "ADD", &r->delegate_result) < 0)
			return -1;
		int n = wf_cni_result_ips(r->delegate_result, r->ips, WF_CNI_MAX_RESULT_IPS);
		if (n < 0)
			return wf_cni_fail(r->err, WF_CNI_E_DECODE,
					   "delegated IPAM result: invalid 'ips'");
		r->n_ips = (unsigned)n;
		size_t i;
		json_t *rt;
		json_array_foreach(json_object_get(r->delegate_result, "routes"), i, rt)
		{
			const char *dst = json_string_value(json_object_get(rt, "dst"));
			const char *gw = json_string_value(json_object_get(rt, "gw"));
			struct wf_ip g = {0};
			if (!dst || (gw && wf_ip_parse(gw, &g) < 0))
				continue;
			add_route(r, dst, gw ? &g : NULL);
		}
		return 0;
	}
	struct wf_ip req[WF_CNI_MAX_SETS * 2];
	unsigned n_req = 0;
	for (unsigned i = 0; i < c->n_req_ips; i++)
		req[n_req++] = c->req_ips[i];
	for (unsigned i = 0; i < r->env.n_arg_ips && n_req < WF_CNI_MAX_SETS * 2; i++)
		req[n_req++] = r->env.arg_ips[i];
	struct wf_cni_ipam ipam;
	int e = wf_cni_ipam_open(&ipam, c->data_dir, c->name);
	if (e < 0)
		return wf_cni_fail(r->err, WF_CNI_E_IO, "ipam store %s/%s: %s", c->data_dir,
				   c->name, strerror(-e));
	/* one slot write per ADD: the reservation carries the record where the record belongs
	 * in the store (the default) */
	struct wf_cni_record rec = {.text = record_text_picked, .arg = r};
	bool with_record = records_in_store(r);
	int n = wf_cni_ipam_alloc(&ipam, c, req, n_req, r->env.containerid, r->env.ifname,
				  with_record ? &rec : NULL, r->ips, r->err);
	wf_cni_ipam_close(&ipam);
	if (n == -EEXIST && !with_record)
		return wf_cni_fail(r->err, WF_CNI_E_IO,
				   "ipam store: %s/%s holds addresses already (DEL it first)",
				   r->env.containerid, r->env.ifname);
	if (n < 0)
		return n;
	r->n_ips = (unsigned)n;
	r->record_written = with_record;
	return 0;
}

/* Releases the attachment's addresses (and its record, when the store keeps it). */
static int ipam_del(struct run *r)
{
	const struct wf_cni_conf *c = &r->conf;
	if (!c->ipam_type)
		return 0;
	if (!c->ipam_builtin)
		return delegate(r, "DEL", NULL);
	struct wf_cni_ipam ipam;
	int e = wf_cni_ipam_open(&ipam, c->data_dir, c->name);
	if (e < 0)
		return wf_cni_fail(r->err, WF_CNI_E_IO, "ipam store: %s", strerror(-e));
	e = wf_cni_ipam_release(&ipam, r->env.containerid, r->env.ifname);
	wf_cni_ipam_close(&ipam);
	if (e < 0)
		return wf_cni_fail(r->err, WF_CNI_E_IO, "releasing addresses: %s", strerror(-e));
	return 0;
}

static void print_result(struct run *r, json_t *res, FILE *out)
{
	json_dumpf(res, out, JSON_COMPACT);
	fputc('\n', out);
}

/* --- commands --- */

static int cmd_del(struct run *r);

/* ADD found a state file for its attachment. If the interface exists, this is a second ADD
 * without a DEL: refuse it and touch nothing. Otherwise a killed ADD left it: undo that first. */
static int clear_stale(struct run *r, int nsfd)
{
	struct wf_nl pod = {0};
	struct wf_nl_link l;
	int e = wf_nl_init_in(&pod, nsfd);
	if (e < 0)
		return nl_fail(r, e, "netlink in the pod namespace");
	e = wf_nl_link_get(&pod, r->env.ifname, &l);
	wf_nl_done(&pod);
	if (e == 0)
		return wf_cni_fail(r->err, WF_CNI_E_INTERNAL,
				   "container veth name \"%s\" already exists", r->env.ifname);
	/* what this ADD planned so far is not the leftover's: DEL reads that from its record */
	nft_clear(r);
	r->n_ips = 0;
	e = cmd_del(r);
	nft_clear(r);
	r->n_ips = 0;
	r->ifb[0] = 0;
	host_veth_name(r->env.containerid, r->env.ifname, r->host_veth);
	return e;
}

static int cmd_add(struct run *r, FILE *out)
{
	const struct wf_cni_conf *c = &r->conf;
	struct wf_cni_iface ifs[WF_CNI_MAX_IFACES];
	unsigned n_ifs = 0;
	int ip_iface = -1;
	char errbuf[1024];
	int nsfd = -1, e;

	if (r->ipam_only) {
		if (ipam_add(r) < 0)
			return -1;
		for (unsigned i = 0; i < c->n_routes; i++)
			r->routes[r->n_routes++] = c->routes[i];
		json_t *res = wf_cni_result_build(c, NULL, NULL, 0, -1, r->ips, r->n_ips, r->routes,
						  r->n_routes, true);
		if (!res)
			goto nomem_ipam;
		print_result(r, res, out);
		json_decref(res);
		return 0;
	nomem_ipam:
		wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "out of memory");
		goto undo_ipam;
	}

	nsfd = open(r->env.netns, O_RDONLY | O_CLOEXEC);
	if (nsfd == -1)
		return wf_cni_fail(r->err, WF_CNI_E_UNKNOWN, "failed to open netns \"%s\": %s",
				   r->env.netns, strerror(errno));
	if (!records_in_store(r) && access(r->state_path, F_OK) == 0 && clear_stale(r, nsfd) < 0)
		goto out_ns;
	trace("netns-open");
	if (c->has_bw && c->bw.out_rate)
		snprintf(r->ifb, sizeof(r->ifb), "wi%s", r->host_veth + 2);
	/* the record is written before anything exists, so that a DEL after a kill -9 at any
	 * later point knows what to remove: with the reservation, or else right after it */
	e = ipam_add(r);
	if (e == -EEXIST) {
		/* the store holds a record of this attachment: see clear_stale() */
		if (clear_stale(r, nsfd) < 0)
			goto out_ns;
		e = ipam_add(r);
		if (e == -EEXIST)
			wf_cni_fail(r->err, WF_CNI_E_IO, "ipam store: %s/%s exists",
				    r->env.containerid, r->env.ifname);
	}
	if (e < 0)
		goto out_ns;
	trace("ipam");
	if (!r->record_written) {
		if (nft_plan(r) < 0) {
			wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "out of memory");
			goto undo_ipam;
		}
		if ((e = state_write(r)) < 0) {
			wf_cni_fail(r->err, WF_CNI_E_IO, "writing %s: %s", r->state_path,
				    strerror(-e));
			goto undo_ipam;
		}
		trace("record");
	}
	plan_routes(r);
	if (link_add(r, nsfd, ifs, &n_ifs, &ip_iface) < 0)
		goto undo_link;
	trace("links");
	if (r->n_nft && (e = nft_apply(r, true, errbuf, sizeof(errbuf))) < 0) {
		wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "nftables: %s", errbuf);
		goto undo_link;
	}
	if (c->has_bw && (e = tc_apply(r, errbuf, sizeof(errbuf))) < 0) {
		wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "bandwidth (tc): %s", errbuf);
		goto undo_nft;
	}
	json_t *res = wf_cni_result_build(c, r->env.netns, ifs, n_ifs, ip_iface, r->ips, r->n_ips,
					  r->routes, r->n_routes, false);
	if (!res) {
		wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "out of memory");
		goto undo_nft;
	}
	if (!json_object_get(res, "dns") && r->delegate_result &&
	    json_object_get(r->delegate_result, "dns"))
		json_object_set(res, "dns", json_object_get(r->delegate_result, "dns"));
	print_result(r, res, out);
	json_decref(res);
	close(nsfd);
	trace("result");
	return 0;

	/* ADD that fails part-way leaves nothing behind (undo in reverse) */
undo_nft:
	if (r->n_nft)
		nft_apply(r, false, errbuf, sizeof(errbuf));
undo_link:
	if (r->link_created)
		link_del(r->host_veth, r->ifb);
	if (!r->record_written)
		unlink(r->state_path);
undo_ipam : {
	struct wf_cni_err keep = *r->err;
	ipam_del(r);
	*r->err = keep;
}
out_ns:
	if (nsfd >= 0)
		close(nsfd);
	return -1;
}

/* --- DEL: the kernel's veth removal off the DEL path (docs/cni.md, "DEL and the kernel's
 * veth removal") ---
 *
 * unregister_netdevice_many() first closes the pair, unlists both ends (their names become
 * free), runs the NETDEV_UNREGISTER notifiers (addresses, routes, neighbours, the bridge port
 * go) and announces RTM_DELLINK, all within ~1 ms; then, after dropping RTNL, the requester's
 * sendmsg() waits in netdev_run_todo() for the device's last references (rcu_barrier(),
 * ~20 ms). A child process makes the request; DEL waits for the announcement only. */
struct unlink_job {
	struct wf_nl mon; /* subscribed to RTNLGRP_LINK before the request is made */
	int index[2];	  /* host veth, ifb; 0: absent */
	bool gone[2];
	const char *name[2];
	int child_rd; /* read end of a pipe the child holds: EOF when it exits */
};

/* Child: deletes the links (each request waits for its own removal) and exits. Holds nothing
 * the runtime or a following ADD/DEL waits on: no stdio pipes, no store lock. */
static void __attribute__((noreturn)) unlink_child(const struct unlink_job *j, int wr)
{
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
	}
	if (wr != 3 && dup2(wr, 3) == 3)
		wr = 3;
	close_range(wr + 1, ~0U, 0);
	/* test hook (tests/e2e/cni/cni.sh, case_del_async): die as if killed before the request */
	if (getenv("WEFT_CNI_TEST_UNLINK_KILL"))
		raise(SIGKILL);
	struct wf_nl nl = {0};
	int e = wf_nl_init(&nl);
	for (unsigned i = 0; e == 0 && i < 2; i++)
		if (j->index[i])
			wf_nl_link_del(&nl, j->index[i]);
	/* test hook (case_del_subreaper): outlive DEL long enough to be seen */
	const char *linger = getenv("WEFT_CNI_TEST_UNLINK_LINGER_MS");
	if (linger)
		usleep((useconds_t)atoi(linger) * 1000);
	_exit(0);
}

/* Looks the links up and starts their removal. 0 (also when there is nothing to remove; then
 * nothing is started) or -errno. */
static int unlink_start(struct run *r, struct unlink_job *j)
{
	struct wf_nl_link l;
	int e, fds[2];

	*j = (struct unlink_job){.child_rd = -1, .name = {r->host_veth, r->ifb}};
	if ((e = wf_nl_init(&j->mon)) < 0)
		return e;
	int grp = RTNLGRP_LINK;
	if (setsockopt(j->mon.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) == -1)
		return -errno;
	for (unsigned i = 0; i < 2; i++) {
		if (!j->name[i][0])
			continue;
		e = wf_nl_link_get(&j->mon, j->name[i], &l);
		if (e == -ENODEV)
			continue;
		if (e < 0)
			return e;
		j->index[i] = l.index;
	}
	if (!j->index[0] && !j->index[1])
		return 0;
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -errno;
	pid_t pid = fork();
	if (pid == -1) {
		e = -errno;
		close(fds[0]);
		close(fds[1]);
		return e;
	}
	if (pid == 0)
		unlink_child(j, fds[1]);
	close(fds[1]);
	j->child_rd = fds[0];
	return 0;
}

/* Marks the links an RTM_DELLINK announcement in buf names as gone. */
static void unlink_seen(struct unlink_job *j, const uint8_t *buf, ssize_t n)
{
	for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
	     h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type != RTM_DELLINK)
			continue;
		const struct ifinfomsg *ifi = NLMSG_DATA(h);
		for (unsigned i = 0; i < 2; i++)
			if (j->index[i] && ifi->ifi_index == j->index[i])
				j->gone[i] = true;
	}
}

/* Asks the kernel whether link i is still there (announcements may have been dropped, or the
 * child may have died): 1 when it is gone, 0 when not, or -errno. */
static int unlink_check(struct unlink_job *j, unsigned i)
{
	struct wf_nl_link l;
	int e = wf_nl_link_get_index(&j->mon, j->index[i], &l);
	if (e == -ENODEV || (e == 0 && strcmp(l.name, j->name[i]) != 0))
		return 1;
	return e < 0 ? e : 0;
}

/* Waits until the kernel has announced the removal of every link unlink_start() found. When
 * the child dies without removing them, removes them here (synchronously). 0 or -errno. */
static int unlink_finish(struct unlink_job *j)
{
	int ret = 0;
	bool child_done = j->child_rd < 0;
	while ((j->index[0] && !j->gone[0]) || (j->index[1] && !j->gone[1])) {
		struct pollfd p[2] = {{.fd = j->mon.fd, .events = POLLIN},
				      {.fd = child_done ? -1 : j->child_rd, .events = POLLIN}};
		int n = poll(p, 2, 1000);
		if (n == -1 && errno != EINTR) {
			ret = -errno;
			break;
		}
		bool check = n == 0;
		if (p[0].revents) {
			ssize_t len = recv(j->mon.fd, j->mon.buf, WF_NL_BUFSIZE, MSG_DONTWAIT);
			if (len > 0)
				unlink_seen(j, j->mon.buf, len);
			else if (len == -1 && errno == ENOBUFS)
				check = true; /* announcements lost: ask */
			continue; /* the announcement precedes the child's exit: read it first */
		}
		if (p[1].revents) {
			/* the child exited: anything it removed has been announced by now */
			child_done = true;
			check = true;
		}
		for (unsigned i = 0; check && i < 2; i++) {
			if (!j->index[i] || j->gone[i])
				continue;
			int e = unlink_check(j, i);
			if (e == 0 && child_done) {
				e = wf_nl_link_del(&j->mon, j->index[i]);
				e = e == -ENODEV ? 1 : e;
			}
			if (e < 0) {
				ret = e;
				j->gone[i] = true; /* give up on it; DEL fails */
			} else if (e == 0 && !child_done) {
				continue;
			} else {
				j->gone[i] = true;
			}
		}
	}
	if (j->child_rd >= 0)
		close(j->child_rd);
	wf_nl_done(&j->mon);
	return ret;
}

static int cmd_del(struct run *r)
{
	char errbuf[1024];
	if (r->ipam_only)
		return ipam_del(r);
	record_load(r); /* without a record: the derived host end, the store's addresses */
	/* SPEC.md DEL: succeed when things are gone, CNI_NETNS empty or its netns gone; the
	 * host end's name is derived from the attachment, so no netns is needed */
	host_veth_name(r->env.containerid, r->env.ifname, r->host_veth);
	/* The removal starts first and nftables work overlaps it; DEL returns once the kernel
	 * has announced it (the pair is down, unlisted, names free, addresses and routes gone),
	 * not after the kernel's ~20 ms wait for the device's last references. */
	struct unlink_job j;
	trace("record-read");
	int ue = unlink_start(r, &j);
	trace("unlink-start");
	if (r->n_nft && nft_apply(r, false, errbuf, sizeof(errbuf)) < 0)
		fprintf(stderr, "weft-cni: removing nftables elements: %s\n", errbuf);
	if (ue == 0)
		ue = unlink_finish(&j);
	else
		wf_nl_done(&j.mon);
	if (ue < 0) {
		/* no announcement to wait for (no netlink, no fork): the plain way */
		ue = link_del(r->host_veth, r->ifb);
		if (ue < 0)
			return nl_fail(r, ue, "deleting the veth");
	}
	trace("unlink-announced");
	/* the address is released only once no interface holds it any more */
	if (ipam_del(r) < 0)
		return -1;
	trace("ipam");
	/* the record goes last: a DEL that failed above can be retried with it (in the store it
	 * went with the addresses) */
	if (!records_in_store(r) && unlink(r->state_path) == -1 && errno != ENOENT)
		return wf_cni_fail(r->err, WF_CNI_E_IO, "removing %s: %s", r->state_path,
				   strerror(errno));
	return 0;
}

static int cmd_check(struct run *r)
{
	const struct wf_cni_conf *c = &r->conf;
	if (r->ipam_only) {
		struct wf_cni_ip ips[WF_CNI_MAX_RESULT_IPS];
		int n = c->prev_result ? wf_cni_result_ips(c->prev_result, ips, 16) : 0;
		struct wf_cni_ipam ipam;
		if (wf_cni_ipam_open(&ipam, c->data_dir, c->name) < 0)
			return wf_cni_fail(r->err, WF_CNI_E_IO, "ipam store unavailable");
		int bad = -1;
		for (int i = 0; i < n; i++)
			if (!wf_cni_ipam_owns(&ipam, &ips[i].ip, r->env.containerid, r->env.ifname))
				bad = i;
		wf_cni_ipam_close(&ipam);
		if (bad >= 0)
			return wf_cni_fail(r->err, WF_CNI_E_CHECK,
					   "address of ips[%d] is not reserved for %s", bad,
					   r->env.containerid);
		return 0;
	}
	if (record_load(r) < 0)
		return wf_cni_fail(r->err, WF_CNI_E_CHECK, "no attachment %s/%s on network %s",
				   r->env.containerid, r->env.ifname, c->name);
	int nsfd = open(r->env.netns, O_RDONLY | O_CLOEXEC);
	if (nsfd == -1)
		return wf_cni_fail(r->err, WF_CNI_E_UNKNOWN, "failed to open netns \"%s\": %s",
				   r->env.netns, strerror(errno));
	struct wf_nl host = {0}, pod = {0};
	struct wf_nl_link hl, pl, br;
	int ret = -1, e;
	char buf[WF_IP_STRLEN];
	if ((e = wf_nl_init(&host)) < 0 || (e = wf_nl_init_in(&pod, nsfd)) < 0) {
		nl_fail(r, e, "netlink");
		goto out;
	}
	if (wf_nl_link_get(&host, r->host_veth, &hl) < 0) {
		wf_cni_fail(r->err, WF_CNI_E_CHECK, "host interface %s is missing", r->host_veth);
		goto out;
	}
	if (wf_nl_link_get(&pod, r->env.ifname, &pl) < 0) {
		wf_cni_fail(r->err, WF_CNI_E_CHECK, "interface %s is missing in %s", r->env.ifname,
			    r->env.netns);
		goto out;
	}
	if (c->mode == WF_CNI_MODE_BRIDGE &&
	    (wf_nl_link_get(&host, c->bridge, &br) < 0 || hl.master != br.index)) {
		wf_cni_fail(r->err, WF_CNI_E_CHECK, "%s is not attached to bridge %s", r->host_veth,
			    c->bridge);
		goto out;
	}
	for (unsigned i = 0; i < r->n_ips; i++) {
		if (wf_nl_addr_has(&pod, pl.index, &r->ips[i].ip) != 1) {
			wf_cni_fail(r->err, WF_CNI_E_CHECK, "address %s is missing on %s",
				    wf_ip_format(&r->ips[i].ip, buf), r->env.ifname);
			goto out;
		}
	}
	if (c->ipam_builtin) {
		struct wf_cni_ipam ipam;
		if (wf_cni_ipam_open(&ipam, c->data_dir, c->name) == 0) {
			for (unsigned i = 0; i < r->n_ips; i++)
				if (!wf_cni_ipam_owns(&ipam, &r->ips[i].ip, r->env.containerid,
						      r->env.ifname)) {
					wf_cni_fail(r->err, WF_CNI_E_CHECK,
						    "address %s is not reserved",
						    wf_ip_format(&r->ips[i].ip, buf));
					wf_cni_ipam_close(&ipam);
					goto out;
				}
			wf_cni_ipam_close(&ipam);
		}
	} else if (c->ipam_type && delegate(r, "CHECK", NULL) < 0) {
		goto out;
	}
	ret = 0;
out:
	wf_nl_done(&pod);
	wf_nl_done(&host);
	close(nsfd);
	return ret;
}

static bool attachment_valid(const char *id, const char *ifname, void *arg)
{
	json_t *valid = arg;
	size_t i;
	json_t *a;
	json_array_foreach(valid, i, a)
	{
		const char *vid = json_string_value(json_object_get(a, "containerID"));
		const char *vif = json_string_value(json_object_get(a, "ifname"));
		if (vid && vif && strcmp(vid, id) == 0 && strcmp(vif, ifname) == 0)
			return true;
	}
	return false;
}

/* GC of one attachment outside the valid list: its host end (named by the attachment, so
 * even an unreadable record names it), ifb and nftables elements. */
static int gc_links(struct run *r, struct run *tmp, const char *id, const char *ifname)
{
	char errbuf[1024];
	int ret = 0;
	host_veth_name(id, ifname, tmp->host_veth);
	link_del(tmp->host_veth, tmp->ifb);
	if (tmp->n_nft && nft_apply(tmp, false, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "weft-cni: GC: nftables: %s\n", errbuf);
		ret = wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "GC: nftables: %s", errbuf);
	}
	nft_clear(tmp);
	return ret;
}

/* wf_cni_ipam_each: collects the attachments GC removes, with their records. */
static int gc_collect(const char *id, const char *ifname, const char *text, void *arg)
{
	json_t **a = arg;
	if (attachment_valid(id, ifname, a[0]))
		return 0;
	json_array_append_new(
		a[1], json_pack("{s:s, s:s, s:s}", "id", id, "ifname", ifname, "text", text));
	return 0;
}

static int cmd_gc(struct run *r)
{
	const struct wf_cni_conf *c = &r->conf;
	json_t *valid = c->valid ? c->valid : json_array();
	int ret = 0;

	/* SPEC.md GC: remove what attachments outside the list hold, continue on errors */
	if (records_in_store(r)) {
		/* what the records name is removed first, without the lock (the kernel takes
		 * ~20 ms per veth); the store's GC below then releases these attachments */
		struct wf_cni_ipam ipam;
		json_t *stale = json_array(), *a[2] = {valid, stale};
		int e = wf_cni_ipam_open(&ipam, c->data_dir, c->name);
		if (e == 0) {
			e = wf_cni_ipam_each(&ipam, gc_collect, a);
			wf_cni_ipam_close(&ipam);
		}
		if (e < 0)
			ret = wf_cni_fail(r->err, WF_CNI_E_IO, "ipam store: %s", strerror(-e));
		size_t i;
		json_t *o;
		json_array_foreach(stale, i, o)
		{
			struct run tmp = {.err = r->err};
			record_parse(&tmp, json_string_value(json_object_get(o, "text")));
			if (gc_links(r, &tmp, json_string_value(json_object_get(o, "id")),
				     json_string_value(json_object_get(o, "ifname"))) < 0)
				ret = -1;
		}
		json_decref(stale);
	} else if (!r->ipam_only) {
		DIR *d = opendir(r->state_dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char path[8192];
			if (strncmp(de->d_name, "weft:", 5) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", r->state_dir, de->d_name);
			size_t nl = strlen(de->d_name);
			if (nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0) {
				unlink(path); /* left by a killed ADD; GC runs alone */
				continue;
			}
			const char *id = de->d_name + 5;
			char *sep = strchr(id, ':');
			if (!sep)
				continue;
			*sep = 0;
			if (attachment_valid(id, sep + 1, valid))
				continue;
			struct run tmp = {.err = r->err};
			if (state_read(&tmp, path) == -ENOENT)
				continue;
			if (gc_links(r, &tmp, id, sep + 1) < 0)
				ret = -1;
			unlink(path);
		}
		if (d)
			closedir(d);
	}
	if (c->ipam_builtin) {
		struct wf_cni_ipam ipam;
		int e = wf_cni_ipam_open(&ipam, c->data_dir, c->name);
		if (e < 0) {
			ret = wf_cni_fail(r->err, WF_CNI_E_IO, "ipam store: %s", strerror(-e));
		} else {
			wf_cni_ipam_gc(&ipam, attachment_valid, valid);
			wf_cni_ipam_close(&ipam);
		}
	} else if (c->ipam_type && delegate(r, "GC", NULL) < 0) {
		ret = -1;
	}
	if (valid != c->valid)
		json_decref(valid);
	return ret;
}

static int cmd_status(struct run *r)
{
	const struct wf_cni_conf *c = &r->conf;
	if (!c->ipam_type)
		return 0;
	if (!c->ipam_builtin)
		return delegate(r, "STATUS", NULL); /* SPEC.md STATUS: forward to IPAM */
	struct wf_cni_ipam ipam;
	if (wf_cni_ipam_open(&ipam, c->data_dir, c->name) < 0)
		return wf_cni_fail(r->err, WF_CNI_E_NOT_AVAIL, "ipam store %s is not usable",
				   c->data_dir);
	uint64_t free_n = wf_cni_ipam_free(&ipam, c);
	wf_cni_ipam_close(&ipam);
	if (free_n == 0)
		return wf_cni_fail(r->err, WF_CNI_E_NOT_AVAIL, "IP address pool exhausted");
	return 0;
}

static int cmd_version(struct run *r, FILE *out)
{
	json_t *v = json_array();
	for (unsigned i = 0; wf_cni_versions[i]; i++)
		json_array_append_new(v, json_string(wf_cni_versions[i]));
	const char *in = r->conf.version && *r->conf.version ? r->conf.version : "1.1.0";
	json_t *o = json_pack("{s:s, s:o}", "cniVersion", in, "supportedVersions", v);
	if (!o)
		return wf_cni_fail(r->err, WF_CNI_E_INTERNAL, "out of memory");
	print_result(r, o, out);
	json_decref(o);
	return 0;
}

int wf_cni_main(const char *argv0, FILE *in, FILE *out)
{
	struct wf_cni_err err = {0};
	struct run *r = wf_calloc(1, sizeof(*r));
	char *input = NULL;
	int ret = 1;

	trace("start");
	if (!r) {
		fputs("{\"cniVersion\":\"1.1.0\",\"code\":999,\"msg\":\"out of memory\"}\n", out);
		return 1;
	}
	const char *base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	r->ipam_only = strcmp(base, "weft-ipam") == 0;
	r->err = &err;
	if (wf_cni_env_parse(&r->env, r->ipam_only, &err) < 0)
		goto out;
	size_t len = 0;
	int e = read_stdin(in, &input, &len);
	if (e < 0) {
		wf_cni_fail(&err, WF_CNI_E_IO, "reading stdin: %s", strerror(-e));
		goto out;
	}
	r->input = input;
	r->input_len = len;
	if (r->env.cmd == WF_CNI_VERSION && len == 0) {
		/* skel tolerates an empty stdin for VERSION */
		ret = cmd_version(r, out) < 0;
		goto out;
	}
	if (wf_cni_conf_parse(&r->conf, input, len, r->env.cmd, &err) < 0)
		goto out;
	if (r->env.cmd == WF_CNI_VERSION) {
		ret = cmd_version(r, out) < 0;
		goto out;
	}
	if (r->ipam_only && !r->conf.ipam_builtin) {
		wf_cni_fail(&err, WF_CNI_E_CONFIG, "weft-ipam: ipam.type must be \"weft-ipam\"");
		goto out;
	}
	trace("parse");
	if (r->env.containerid)
		host_veth_name(r->env.containerid, r->env.ifname, r->host_veth);
	if (state_paths(r) < 0) {
		wf_cni_fail(&err, WF_CNI_E_CONFIG, "state path too long");
		goto out;
	}
	switch (r->env.cmd) {
	case WF_CNI_ADD:
		e = cmd_add(r, out);
		break;
	case WF_CNI_DEL:
		e = cmd_del(r);
		break;
	case WF_CNI_CHECK:
		e = cmd_check(r);
		break;
	case WF_CNI_GC:
		e = cmd_gc(r);
		break;
	case WF_CNI_STATUS:
		e = cmd_status(r);
		break;
	default:
		e = 0;
		break;
	}
	ret = e < 0;
out:
	if (ret && err.code)
		wf_cni_err_print(&err, r->conf.version, out);
	else if (ret)
		fputs("{\"cniVersion\":\"1.1.0\",\"code\":999,\"msg\":\"internal error\"}\n", out);
	if (err.code)
		fprintf(stderr, "weft-cni: %s\n", err.msg);
	trace_print();
	json_decref(r->delegate_result);
	nft_clear(r);
	wf_cni_conf_done(&r->conf);
	wf_free(input);
	wf_free(r);
	return ret;
}
