/* Fuzz target for the DNS packet parser: every input is parsed as a query and, when it
 * deserves an answer, answered from a small zone over UDP and TCP limits; it is also parsed as
 * an upstream response to its own question, relayed, cached, and dumped as text. Nothing may
 * crash, read out of bounds or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/cache.h"
#include "dns/dump.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "lib/ip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wf_dns_zone *zone;
static struct wf_dns_cache *cache;

static void setup(void)
{
	static struct wf_ip ips[3];
	static struct wf_dns_endpoint eps[2];
	static struct wf_dns_port ports[1] = {{"http", "TCP", 80}};
	static struct wf_dns_slice slice;
	static struct wf_dns_service svcs[3];
	static const char *nss[] = {"default"};
	struct wf_dns_cluster c = {0};
	struct wf_dns_zone_config cfg = {.cluster_domain = "cluster.local",
					 .ttl = 30,
					 .pods = WF_DNS_PODS_INSECURE,
					 .upstream = true};

	wf_ip_parse("10.96.0.1", &ips[0]);
	wf_ip_parse("10.244.0.5", &ips[1]);
	wf_ip_parse("fd00::5", &ips[2]);
	eps[0] = (struct wf_dns_endpoint){
		.hostname = "h0", .addrs = &ips[1], .n_addrs = 1, .ready = -1};
	eps[1] = (struct wf_dns_endpoint){.addrs = &ips[2], .n_addrs = 1, .ready = 1};
	slice = (struct wf_dns_slice){
		.ports = ports, .n_ports = 1, .endpoints = eps, .n_endpoints = 2};
	svcs[0] = (struct wf_dns_service){.ns = "default",
					  .name = "web",
					  .kind = WF_DNS_SVC_CLUSTERIP,
					  .n_cluster_ips = 1,
					  .ports = ports,
					  .n_ports = 1};
	svcs[0].cluster_ips[0] = ips[0];
	svcs[1] = (struct wf_dns_service){.ns = "default",
					  .name = "hl",
					  .kind = WF_DNS_SVC_HEADLESS,
					  .slices = &slice,
					  .n_slices = 1};
	svcs[2] = (struct wf_dns_service){.ns = "default",
					  .name = "ext",
					  .kind = WF_DNS_SVC_EXTERNALNAME,
					  .external_name = "example.com"};
	c.services = svcs;
	c.n_services = 3;
	c.namespaces = nss;
	c.n_namespaces = 1;
	wf_cidr_parse("10.96.0.0/12", true, &cfg.service_cidrs[0]);
	wf_cidr_parse("10.244.0.0/16", true, &cfg.pod_cidrs[0]);
	cfg.n_service_cidrs = cfg.n_pod_cidrs = 1;
	if (wf_dns_zone_build(&cfg, &c, 1, &zone, NULL) < 0)
		abort();
	if (wf_dns_cache_new(64, &cache) < 0)
		abort();
}

static void teardown(void)
{
	wf_dns_zone_free(zone);
	wf_dns_cache_free(cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65536];
	static char text[1 << 17];
	struct wf_dns_query q;
	struct wf_dns_upstream_msg m;
	enum wf_dns_zone_result res;

	if (!zone) {
		setup();
		atexit(teardown);
	}
	wf_dns_dump(data, size, text, sizeof(text));
	if (wf_dns_wire_parse_query(data, size, &q) < 0) {
		/* a response: try it as an upstream answer to the question it carries */
		struct wf_dns_query q2;
		uint8_t pkt[512];
		uint8_t name[WF_DNS_MAX_NAME];
		size_t off = WF_DNS_HDR_LEN;
		int nl = size > WF_DNS_HDR_LEN ? wf_dns_wire_read_name(data, size, &off, name) : -1;
		if (nl > 1 && off + 4 <= size) {
			char tname[1100];
			if (wf_dns_name_to_text(name, (size_t)nl, tname, sizeof(tname)) > 0) {
				int pl = wf_dns_wire_build_query(
					pkt, 1, tname, wf_dns_get16(data + off), true, 1232);
				if (pl > 0 && wf_dns_wire_parse_query(pkt, (size_t)pl, &q2) == 0 &&
				    q2.qclass == wf_dns_get16(data + off + 2) &&
				    wf_dns_upstream_parse(data, size, q2.qname_lc, q2.qname_len,
							  q2.qtype, q2.qclass, 3600, &m) == 0) {
					size_t l = wf_dns_relay(&q2, data, &m, 3, out, 1232);
					wf_dns_dump(out, l, text, sizeof(text));
					wf_dns_cache_put(cache, &q2, data, &m, 0);
					wf_dns_cache_answer(cache, &q2, 1000, out, 512);
				}
			}
		}
		return 0;
	}
	if (q.rcode != WF_DNS_R_NOERROR) {
		size_t l = wf_dns_wire_error(&q, q.rcode, 0, out, 1232);
		wf_dns_dump(out, l, text, sizeof(text));
		return 0;
	}
	size_t limits[] = {512, wf_dns_wire_udp_limit(&q, 1232), 65535};
	for (size_t i = 0; i < 3; i++) {
		size_t l = wf_dns_zone_answer(zone, &q, out, limits[i], &res);
		if (res == WF_DNS_ZONE_NOT_OURS) {
			l = wf_dns_cache_answer(cache, &q, 0, out, limits[i]);
			if (!l)
				l = wf_dns_wire_error(&q, WF_DNS_R_REFUSED, 0, out, 1232);
		}
		if (l > limits[i])
			abort(); /* an answer must never exceed the requester's limit */
		wf_dns_dump(out, l, text, sizeof(text));
	}
	return 0;
}
