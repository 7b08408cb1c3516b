/* `weft dns`: options, the store and its manifest source, zone rebuilds and publication. */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "dns/live.h"
#include "dns/server.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lib/admin.h"
#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/diag.h"
#include "lib/error.h"
#include "lib/ip.h"
#include "lib/log.h"
#include "lib/metrics.h"

#define DEBOUNCE_MS 5

/* CPU time of the calling thread, ns: what a rebuild costs, whatever the machine's load. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * WF_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct dns_ctx {
	struct wf_dns_zone_config zcfg;
	struct wf_dns_server_config scfg;
	struct wf_dns_server *srv;
	struct wf_store *store;
	struct wf_source_dir *src;
	struct wf_dns_live *live;
	bool always_full; /* --rebuild full */
	int sub;
	bool pending; /* the store changed in a way DNS cares about since the last build */
	struct wf_metrics *metrics;
	struct wf_metric *m_names, *m_bytes, *m_serial, *m_build, *m_updates, *m_errors;
	uint32_t serial;
};

static void usage(FILE *f)
{
	fputs("usage: weft dns [--manifests PATH] [--listen ADDR:PORT ...] [--upstream ADDR:PORT ...]\n"
	      "                [--cluster-domain D] [--workers N] [--pods disabled|insecure|verified]\n"
	      "                [--ttl S] [--service-cidr CIDR ...] [--pod-cidr CIDR ...]\n"
	      "                [--udp-size N] [--admin ADDR:PORT] [--pin]\n"
	      "                [--rebuild incremental|full]\n"
	      "\n"
	      "  --manifests PATH     directory (watched) or file of Kubernetes manifests\n"
	      "  --listen ADDR:PORT   UDP and TCP address to serve (default 0.0.0.0:53)\n"
	      "  --upstream ADDR:PORT resolver for names outside the cluster zones (default: the\n"
	      "                       nameservers of /etc/resolv.conf; 'none' refuses them)\n"
	      "  --cluster-domain D   default cluster.local\n"
	      "  --workers N          worker threads, each with its own sockets (default 1)\n"
	      "  --pods MODE          pod A records: disabled, insecure (default), verified\n"
	      "  --ttl S              TTL of records and negative answers (default 30)\n"
	      "  --service-cidr CIDR  reverse zone to serve (default 10.96.0.0/12)\n"
	      "  --pod-cidr CIDR      reverse zone to serve (default 10.244.0.0/16)\n"
	      "  --udp-size N         largest UDP answer (default 1232)\n"
	      "  --admin ADDR:PORT    /healthz, /readyz and /metrics over HTTP\n"
	      "  --pin                pin worker i to CPU i\n"
	      "  --rebuild MODE       zone updates: incremental (default) or full (every change\n"
	      "                       recompiles the zone)\n",
	      f);
}

static int parse_hostport(const char *s, uint16_t default_port, struct sockaddr_storage *ret)
{
	unsigned len;
	char buf[160];

	if (wf_admin_parse_addr(s, ret, &len) == 0)
		return 0;
	/* a bare address: default port */
	if (strchr(s, ':') && !strchr(s, '.'))
		snprintf(buf, sizeof(buf), "[%s]:%u", s, default_port);
	else
		snprintf(buf, sizeof(buf), "%s:%u", s, default_port);
	return wf_admin_parse_addr(buf, ret, &len);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		/* a wildcard listener is "us" for loopback addresses on its port only: a Service
		 * address that leads back to this server cannot be told from here */
		return x->sin_port == y->sin_port &&
		       (x->sin_addr.s_addr == y->sin_addr.s_addr ||
			(y->sin_addr.s_addr == 0 && (ntohl(x->sin_addr.s_addr) >> 24) == 127));
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

/* Default upstreams: the host's resolv.conf, minus ourselves (a resolver pointing back at this
 * server would loop, the CoreDNS "loop" failure on systemd-resolved hosts). */
static void upstreams_from_resolv(struct wf_dns_server_config *cfg)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && cfg->n_upstream < WF_DNS_MAX_UPSTREAM) {
		char addr[128];
		struct sockaddr_storage ss;
		bool self = false;

		if (sscanf(line, "nameserver %127s", addr) != 1)
			continue;
		if (parse_hostport(addr, 53, &ss) < 0)
			continue;
		for (unsigned i = 0; i < cfg->n_listen; i++)
			self |= same_addr(&ss, &cfg->listen[i]);
		if (self) {
			wf_log_warn("dns", "skipping upstream that is this server", "upstream=%s",
				    addr);
			continue;
		}
		cfg->upstream[cfg->n_upstream++] = ss;
	}
	fclose(f);
}

static int add_cidr(struct wf_cidr *arr, unsigned *n, const char *arg)
{
	char buf[256];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct wf_cidr c;
		if (*n == WF_DNS_MAX_CIDRS || wf_cidr_parse(tok, false, &c) < 0)
			return -EINVAL;
		wf_cidr_network(&c, &c.ip);
		arr[(*n)++] = c;
	}
	return 0;
}

/* Store events (writer thread = this one): the updater notes what the next zone must redo. */
static void on_store_event(void *userdata, const struct wf_store_snapshot *snap,
			   const struct wf_store_event *ev, size_t n)
{
	struct dns_ctx *c = userdata;

	(void)snap;
	if (wf_dns_live_note(c->live, ev, n))
		c->pending = true;
}

static void on_source_error(void *userdata, int err, const struct wf_diag *diag)
{
	struct dns_ctx *c = userdata;
	char text[1024];

	wf_metric_add(c->m_errors, 0, 1);
	wf_log_warn("dns", "manifest rejected, keeping its last good version",
		    "err=\"%s\" diag=\"%s\"", wf_strerror(err),
		    wf_diag_format(diag, text, sizeof(text)));
}

/* Makes the zone for the store's current snapshot (incrementally when the updater can) and
 * publishes it. */
static int reload(struct dns_ctx *c)
{
	struct wf_store_snapshot *snap;
	struct wf_dns_zone *zone = NULL;
	struct wf_dns_live_stats st;
	uint64_t t0 = wf_now_ns(), cpu0 = thread_cpu_ns();
	int rc;

	c->pending = false;
	uint32_t now = (uint32_t)time(NULL);
	c->serial = now > c->serial ? now : c->serial + 1;
	snap = wf_store_snapshot(c->store);
	rc = wf_dns_live_update(c->live, snap, c->serial, &zone, &st);
	wf_store_snapshot_unref(snap);
	if (rc < 0) {
		wf_log_error("dns", "zone build failed, serving the previous zone", "err=\"%s\"",
			     wf_strerror(rc));
		c->pending = true;
		return rc;
	}
	/* a full build's scratch (records, view) is gone: give the pages back */
	if (st.full)
		malloc_trim(0);
	uint64_t built = wf_now_ns(), cpu = thread_cpu_ns() - cpu0;
	size_t names = wf_dns_zone_node_count(zone), bytes = wf_dns_zone_memory(zone);
	wf_dns_server_publish(c->srv, zone);
	wf_metric_set(c->m_names, 0, (int64_t)names);
	wf_metric_set(c->m_bytes, 0, (int64_t)bytes);
	wf_metric_set(c->m_serial, 0, c->serial);
	wf_metric_add(c->m_updates, 0, 1);
	wf_metric_set(c->m_build, 0, (int64_t)((built - t0) / 1000));
	wf_log_info("dns", "zone published",
		    "serial=%u mode=%s names=%zu bytes=%zu services=%zu changed_names=%zu "
		    "skipped=%zu build_us=%llu cpu_us=%llu publish_us=%llu",
		    c->serial, st.full ? "full" : "incremental", names, bytes, st.services,
		    st.names, st.skipped, (unsigned long long)((built - t0) / 1000),
		    (unsigned long long)(cpu / 1000),
		    (unsigned long long)((wf_now_ns() - built) / 1000));
	return 0;
}

static bool ready_cb(void *data)
{
	struct dns_ctx *c = data;
	return wf_dns_server_ready(c->srv);
}

int wf_dns_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"manifests", required_argument, NULL, 'm'},
		{"listen", required_argument, NULL, 'l'},
		{"upstream", required_argument, NULL, 'u'},
		{"cluster-domain", required_argument, NULL, 'd'},
		{"workers", required_argument, NULL, 'w'},
		{"pods", required_argument, NULL, 'p'},
		{"ttl", required_argument, NULL, 't'},
		{"service-cidr", required_argument, NULL, 'S'},
		{"pod-cidr", required_argument, NULL, 'P'},
		{"udp-size", required_argument, NULL, 'U'},
		{"admin", required_argument, NULL, 'a'},
		{"pin", no_argument, NULL, 'x'},
		{"rebuild", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct dns_ctx c = {0};
	const char *manifests = NULL, *admin_addr = NULL;
	char *domain = NULL;
	bool no_upstream = false;
	struct wf_admin *admin = NULL;
	int opt, rc, status = 1, sfd = -1;
	long v;
	char *end;

	wf_dns_server_config_init(&c.scfg);
	c.zcfg.cluster_domain = "cluster.local";
	c.zcfg.ttl = 30;
	c.zcfg.pods = WF_DNS_PODS_INSECURE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			manifests = optarg;
			break;
		case 'l':
			if (c.scfg.n_listen == WF_DNS_MAX_LISTEN ||
			    parse_hostport(optarg, 53, &c.scfg.listen[c.scfg.n_listen]) < 0) {
				fprintf(stderr, "weft dns: bad --listen '%s'\n", optarg);
				return 2;
			}
			c.scfg.n_listen++;
			break;
		case 'u':
			if (strcmp(optarg, "none") == 0) {
				no_upstream = true;
				break;
			}
			if (c.scfg.n_upstream == WF_DNS_MAX_UPSTREAM ||
			    parse_hostport(optarg, 53, &c.scfg.upstream[c.scfg.n_upstream]) < 0) {
				fprintf(stderr, "weft dns: bad --upstream '%s'\n", optarg);
				return 2;
			}
			c.scfg.n_upstream++;
			break;
		case 'd':
			wf_free(domain);
			domain = wf_strdup(optarg);
			if (!domain)
				return 1;
			/* the zone names are absolute: drop a trailing dot */
			if (strlen(domain) > 1 && domain[strlen(domain) - 1] == '.')
				domain[strlen(domain) - 1] = '\0';
			c.zcfg.cluster_domain = domain;
			break;
		case 'w':
		case 't':
		case 'U':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 ||
			    (opt == 'w' && (v < 1 || v > WF_DNS_MAX_WORKERS)) ||
			    (opt == 't' && v > 3600) || (opt == 'U' && (v < 512 || v > 4096))) {
				fprintf(stderr, "weft dns: bad value '%s' for --%s\n", optarg,
					opt == 'w'   ? "workers"
					: opt == 't' ? "ttl"
						     : "udp-size");
				wf_free(domain);
				return 2;
			}
			if (opt == 'w')
				c.scfg.workers = (unsigned)v;
			else if (opt == 't')
				c.zcfg.ttl = (uint32_t)v;
			else
				c.scfg.udp_cap = (unsigned)v;
			break;
		case 'p':
			if (strcmp(optarg, "disabled") == 0)
				c.zcfg.pods = WF_DNS_PODS_DISABLED;
			else if (strcmp(optarg, "insecure") == 0)
				c.zcfg.pods = WF_DNS_PODS_INSECURE;
			else if (strcmp(optarg, "verified") == 0)
				c.zcfg.pods = WF_DNS_PODS_VERIFIED;
			else {
				fprintf(stderr,
					"weft dns: --pods takes disabled, insecure or verified\n");
				wf_free(domain);
				return 2;
			}
			break;
		case 'S':
		case 'P':
			rc = opt == 'S' ? add_cidr(c.zcfg.service_cidrs, &c.zcfg.n_service_cidrs,
						   optarg)
					: add_cidr(c.zcfg.pod_cidrs, &c.zcfg.n_pod_cidrs, optarg);
			if (rc < 0) {
				fprintf(stderr, "weft dns: bad CIDR '%s'\n", optarg);
				wf_free(domain);
				return 2;
			}
			break;
		case 'a':
			admin_addr = optarg;
			break;
		case 'x':
			c.scfg.pin = true;
			break;
		case 'r':
			if (strcmp(optarg, "full") == 0)
				c.always_full = true;
			else if (strcmp(optarg, "incremental") == 0)
				c.always_full = false;
			else {
				fprintf(stderr, "weft dns: --rebuild takes incremental or full\n");
				wf_free(domain);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			wf_free(domain);
			return 0;
		default:
			usage(stderr);
			wf_free(domain);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "weft dns: unexpected argument '%s'\n", argv[optind]);
		wf_free(domain);
		return 2;
	}
	{
		uint8_t wire[256];
		if (wf_dns_name_from_text(c.zcfg.cluster_domain, wire, true) < 0) {
			fprintf(stderr, "weft dns: bad --cluster-domain '%s'\n",
				c.zcfg.cluster_domain);
			wf_free(domain);
			return 2;
		}
	}
	if (c.scfg.n_listen == 0) {
		parse_hostport("0.0.0.0:53", 53, &c.scfg.listen[0]);
		c.scfg.n_listen = 1;
	}
	if (c.zcfg.n_service_cidrs == 0)
		add_cidr(c.zcfg.service_cidrs, &c.zcfg.n_service_cidrs, "10.96.0.0/12");
	if (c.zcfg.n_pod_cidrs == 0)
		add_cidr(c.zcfg.pod_cidrs, &c.zcfg.n_pod_cidrs, "10.244.0.0/16");
	if (no_upstream)
		c.scfg.n_upstream = 0;
	else if (c.scfg.n_upstream == 0)
		upstreams_from_resolv(&c.scfg);
	c.zcfg.upstream = c.scfg.n_upstream > 0;

	/* Signals are read from a signalfd in this thread; block them before any thread starts
	 * so that the workers inherit the mask. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd == -1) {
		wf_log_error("dns", "signalfd failed", "err=\"%s\"", wf_strerror(-errno));
		goto out;
	}

	rc = wf_metrics_new(c.scfg.workers, &c.metrics);
	if (rc < 0)
		goto out;
	c.m_names = wf_metrics_gauge(c.metrics, "weft_dns_zone_names", NULL,
				     "Owner names in the published zone.");
	c.m_bytes = wf_metrics_gauge(c.metrics, "weft_dns_zone_bytes", NULL,
				     "Memory held by the published zone.");
	c.m_serial = wf_metrics_gauge(c.metrics, "weft_dns_zone_serial", NULL,
				      "SOA serial of the published zone.");
	c.m_build = wf_metrics_gauge(c.metrics, "weft_dns_zone_build_microseconds", NULL,
				     "Time the last zone rebuild took.");
	c.m_updates = wf_metrics_counter(c.metrics, "weft_dns_zone_updates_total", NULL,
					 "Zones published.");
	c.m_errors = wf_metrics_counter(c.metrics, "weft_dns_manifest_errors_total", NULL,
					"Manifest files rejected by the parser.");

	rc = wf_dns_server_new(&c.scfg, c.metrics, &c.srv);
	if (rc < 0) {
		wf_log_error("dns", "cannot open sockets", "err=\"%s\"", wf_strerror(rc));
		goto out;
	}
	rc = wf_store_new(&c.store);
	if (rc == 0)
		rc = wf_dns_live_new(&c.zcfg, &c.live);
	if (rc < 0)
		goto out;
	wf_dns_live_set_full_only(c.live, c.always_full);
	c.sub = wf_store_subscribe(c.store, on_store_event, &c);
	if (c.sub < 0)
		goto out;
	if (manifests) {
		/* The zone reads Namespaces, Services and EndpointSlices (and Pods to verify pod
		 * names): the store keeps only those, which is most of the memory at scale. */
		uint64_t kinds = WF_SOURCE_KIND(WF_K8S_NAMESPACE) | WF_SOURCE_KIND(WF_K8S_SERVICE) |
				 WF_SOURCE_KIND(WF_K8S_ENDPOINTSLICE);
		if (c.zcfg.pods == WF_DNS_PODS_VERIFIED)
			kinds |= WF_SOURCE_KIND(WF_K8S_POD);
		struct wf_source_dir_config sc = {
			.store = c.store,
			.watch = true,
			.on_error = on_source_error,
			.userdata = &c,
			.kinds = kinds,
		};
		rc = wf_source_dir_new(&sc, &c.src);
		if (rc == 0)
			rc = wf_source_dir_add(c.src, manifests);
		if (rc < 0) {
			wf_log_error("dns", "cannot watch manifests", "path=%s err=\"%s\"",
				     manifests, wf_strerror(rc));
			goto out;
		}
	}
	/* the first zone (empty without manifests) */
	if (reload(&c) < 0)
		goto out;
	rc = wf_dns_server_start(c.srv);
	if (rc < 0) {
		wf_log_error("dns", "cannot start workers", "err=\"%s\"", wf_strerror(rc));
		goto out;
	}
	if (admin_addr) {
		rc = wf_admin_start(admin_addr, c.metrics, ready_cb, &c, &admin);
		if (rc < 0) {
			wf_log_error("dns", "cannot start admin endpoint", "addr=%s err=\"%s\"",
				     admin_addr, wf_strerror(rc));
			goto out;
		}
	}
	for (unsigned i = 0; i < c.scfg.n_listen; i++)
		wf_log_info("dns", "listening", "port=%u workers=%u upstreams=%u zone=%s",
			    wf_dns_server_port(c.srv, i), c.scfg.workers, c.scfg.n_upstream,
			    c.zcfg.cluster_domain);

	bool dirty = false;
	uint64_t dirty_since = 0;
	for (;;) {
		struct pollfd p[2] = {
			{.fd = sfd, .events = POLLIN},
			{.fd = c.src ? wf_source_dir_fd(c.src) : -1, .events = POLLIN}};
		int n = poll(p, 2, dirty ? DEBOUNCE_MS : -1);
		if (n == -1 && errno != EINTR)
			break;
		if (p[0].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					/* SIGHUP: scan the manifests again (unchanged files cost
					 * nothing) and rebuild the zone */
					if (c.src && wf_source_dir_add(c.src, manifests) < 0)
						wf_log_warn("dns", "rescan failed", "path=%s",
							    manifests);
					wf_dns_live_reset(c.live);
					dirty = true;
					continue;
				}
				wf_log_info("dns", "stopping", "signal=%u", si.ssi_signo);
				status = 0;
				break;
			}
		}
		bool fresh = false;
		if (p[1].revents) {
			rc = wf_source_dir_process(c.src);
			if (rc < 0)
				wf_log_warn("dns", "reading inotify events failed", "err=\"%s\"",
					    wf_strerror(rc));
			fresh = c.pending;
		}
		if (fresh) {
			/* Coalesce a burst of file events into one rebuild, but never wait more
			 * than a few debounce periods under a constant stream. */
			if (!dirty)
				dirty_since = wf_now_ns();
			dirty = true;
			if (wf_now_ns() - dirty_since < 4 * DEBOUNCE_MS * WF_NSEC_PER_MSEC)
				continue;
			n = 0;
		}
		if (n == 0 && dirty) {
			dirty = false;
			reload(&c);
		}
	}

out:
	wf_admin_stop(admin);
	wf_dns_server_free(c.srv);
	wf_source_dir_free(c.src);
	wf_store_free(c.store);
	wf_dns_live_free(c.live);
	wf_metrics_free(c.metrics);
	if (sfd >= 0)
		close(sfd);
	wf_free(domain);
	return status;
}
