/* Golden answers: the fixture in tests/data/dns/fixture compiled into a zone, every query of
 * tests/data/dns/golden/queries.txt answered, and the answers compared as text with
 * tests/data/dns/golden/answers.txt. WEFT_GOLDEN_UPDATE=1 rewrites the golden file.
 *
 * queries.txt: one query per line, "NAME TYPE [noedns|bufsize=N|tcp]"; "@pods MODE" and
 * "@domain D" rebuild the zone with another setting; '#' starts a comment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dump.h"
#include "dns/view.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/ip.h"

static const struct {
	const char *name;
	uint16_t type;
} types[] = {{"A", 1},	  {"NS", 2},	{"CNAME", 5}, {"SOA", 6},    {"PTR", 12},  {"MX", 15},
	     {"TXT", 16}, {"AAAA", 28}, {"SRV", 33},  {"AXFR", 252}, {"ANY", 255}, {"HTTPS", 65}};

static struct wf_dns_zone *build(const struct wf_dns_cluster *c, enum wf_dns_pod_mode pods,
				 const char *domain)
{
	struct wf_dns_zone_config cfg = {.cluster_domain = domain, .ttl = 30, .pods = pods};
	struct wf_dns_zone *z;

	wf_cidr_parse("10.96.0.0/12", true, &cfg.service_cidrs[0]);
	wf_cidr_parse("fd00:10:96::/112", true, &cfg.service_cidrs[1]);
	cfg.n_service_cidrs = 2;
	wf_cidr_parse("10.244.0.0/16", true, &cfg.pod_cidrs[0]);
	wf_cidr_parse("fd00:10:244::/56", true, &cfg.pod_cidrs[1]);
	cfg.n_pod_cidrs = 2;
	if (wf_dns_zone_build(&cfg, c, 2024010100, &z, NULL) < 0)
		return NULL;
	return z;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s FIXTURE_DIR QUERIES GOLDEN\n", argv[0]);
		return 2;
	}
	struct wf_store *store;
	struct wf_store_snapshot *snap;
	struct wf_dns_view *view;
	const char *paths[] = {argv[1]};
	int rc = wf_store_new(&store);
	if (rc == 0)
		rc = wf_source_load_paths(store, paths, 1, NULL, NULL, NULL);
	if (rc != 0) {
		fprintf(stderr, "cannot load fixture %s: %d\n", argv[1], rc);
		return 1;
	}
	snap = wf_store_snapshot(store);
	rc = wf_dns_view_from_snapshot(snap, true, &view);
	wf_store_snapshot_unref(snap);
	if (rc < 0)
		return 1;
	FILE *qf = fopen(argv[2], "re");
	if (!qf) {
		perror(argv[2]);
		return 1;
	}
	size_t cap = 1 << 20, len = 0;
	char *got = malloc(cap);
	char line[512], domain[256] = "cluster.local";
	enum wf_dns_pod_mode pods = WF_DNS_PODS_INSECURE;
	struct wf_dns_zone *z = build(wf_dns_view_cluster(view), pods, domain);
	unsigned n_queries = 0;

	if (!z || !got)
		return 1;
	while (fgets(line, sizeof(line), qf)) {
		char name[300], type[16], opt[32] = "";
		line[strcspn(line, "\n#")] = '\0';
		if (line[0] == '@') {
			char key[32], val[256];
			if (sscanf(line, "@%31s %255s", key, val) != 2)
				return 1;
			if (strcmp(key, "pods") == 0)
				pods = strcmp(val, "disabled") == 0   ? WF_DNS_PODS_DISABLED
				       : strcmp(val, "verified") == 0 ? WF_DNS_PODS_VERIFIED
								      : WF_DNS_PODS_INSECURE;
			else if (strcmp(key, "domain") == 0)
				snprintf(domain, sizeof(domain), "%s", val);
			wf_dns_zone_free(z);
			z = build(wf_dns_view_cluster(view), pods, domain);
			if (!z)
				return 1;
			len += (size_t)snprintf(got + len, cap - len, "\n@%s %s\n", key, val);
			continue;
		}
		if (sscanf(line, "%299s %15s %31s", name, type, opt) < 2)
			continue;
		uint16_t t = 0;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(types[i].name, type) == 0)
				t = types[i].type;
		if (!t) {
			fprintf(stderr, "unknown type %s\n", type);
			return 1;
		}
		bool tcp = strcmp(opt, "tcp") == 0;
		uint16_t edns = strcmp(opt, "noedns") == 0 ? 0 : 1232;
		if (strncmp(opt, "bufsize=", 8) == 0)
			edns = (uint16_t)atoi(opt + 8);
		uint8_t pkt[512], out[65536];
		struct wf_dns_query q;
		enum wf_dns_zone_result res;
		int pl = wf_dns_wire_build_query(pkt, 0x1234, name, t, true, edns);
		if (pl < 0 || wf_dns_wire_parse_query(pkt, (size_t)pl, &q) < 0) {
			fprintf(stderr, "bad query %s\n", line);
			return 1;
		}
		size_t limit = tcp ? 65535 : wf_dns_wire_udp_limit(&q, 1232);
		size_t ol = wf_dns_zone_answer(z, &q, out, limit, &res);
		if (res == WF_DNS_ZONE_NOT_OURS)
			ol = wf_dns_wire_error(&q, WF_DNS_R_REFUSED, 0, out, 1232);
		if (len + 70000 > cap) {
			cap *= 2;
			got = realloc(got, cap);
			if (!got)
				return 1;
		}
		len += (size_t)snprintf(got + len, cap - len, "\n### %s %s%s%s (%zu bytes)\n", name,
					type, opt[0] ? " " : "", opt, ol);
		len += wf_dns_dump(out, ol, got + len, cap - len);
		n_queries++;
	}
	fclose(qf);
	wf_dns_zone_free(z);
	wf_dns_view_free(view);
	wf_store_free(store);

	const char *update = getenv("WEFT_GOLDEN_UPDATE");
	if (update && strcmp(update, "1") == 0) {
		FILE *gf = fopen(argv[3], "we");
		if (!gf || fwrite(got, 1, len, gf) != len || fclose(gf) != 0)
			return 1;
		printf("golden: wrote %u answers to %s\n", n_queries, argv[3]);
		free(got);
		return 0;
	}
	FILE *gf = fopen(argv[3], "re");
	if (!gf) {
		perror(argv[3]);
		return 1;
	}
	char *want = malloc(cap);
	size_t wl = fread(want, 1, cap, gf);
	fclose(gf);
	int status = 0;
	if (wl != len || memcmp(want, got, len) != 0) {
		/* show the first differing line of each */
		size_t i = 0, ls = 0;
		while (i < len && i < wl && want[i] == got[i]) {
			if (got[i] == '\n')
				ls = i + 1;
			i++;
		}
		fprintf(stderr,
			"golden mismatch at byte %zu\n--- want:\n%.300s\n--- got:\n%.300s\n", i,
			want + ls, got + ls);
		status = 1;
	} else {
		printf("golden: %u answers match\n", n_queries);
	}
	free(want);
	free(got);
	return status;
}
