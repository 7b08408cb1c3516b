/* weft-cni unit tests: versions, names, CNI_ARGS, configuration errors and their spec codes,
 * result shapes, and the IPAM store (allocation order, exhaustion, release, GC, requests, the
 * record with the reservation, torn and garbage slots, growth, crash points, conversion of the
 * previous layout's files). */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cni/cni.h"
#include "cni/store.h"
#include "lib/alloc.h"
#include "lib/ip.h"

static int parse(const char *json, enum wf_cni_cmd cmd, struct wf_cni_conf *conf,
		 struct wf_cni_err *err)
{
	memset(err, 0, sizeof(*err));
	return wf_cni_conf_parse(conf, json, strlen(json), cmd, err);
}

static void expect_code(const char *json, int code)
{
	struct wf_cni_conf conf;
	struct wf_cni_err err;
	if (parse(json, WF_CNI_ADD, &conf, &err) == 0) {
		wf_cni_conf_done(&conf);
		fail_msg("accepted: %s", json);
	}
	if (err.code != code)
		fail_msg("code %d (want %d) for %s: %s", err.code, code, json, err.msg);
	assert_true(err.msg[0] != 0);
	/* the Error object can be printed after a failed parse (conf.version must not dangle) */
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	wf_cni_err_print(&err, conf.version, devnull);
	fclose(devnull);
}

static void test_versions(void **state)
{
	assert_int_equal(wf_cni_version_num("1.1.0"), 10100);
	assert_int_equal(wf_cni_version_num("0.3.1"), 301);
	assert_int_equal(wf_cni_version_num("1.0"), -1);
	assert_int_equal(wf_cni_version_num("x.1.0"), -1);
	assert_int_equal(wf_cni_version_num("1.0.0 "), -1);
	assert_true(wf_cni_version_supported("0.4.0"));
	assert_false(wf_cni_version_supported("0.2.0"));
	assert_false(wf_cni_version_supported("1.2.0"));
}

static void test_ifname(void **state)
{
	assert_true(wf_cni_ifname_valid("eth0"));
	assert_true(wf_cni_ifname_valid("123456789012345"));
	assert_false(wf_cni_ifname_valid("1234567890123456"));
	assert_false(wf_cni_ifname_valid(""));
	assert_false(wf_cni_ifname_valid("."));
	assert_false(wf_cni_ifname_valid(".."));
	assert_false(wf_cni_ifname_valid("a/b"));
	assert_false(wf_cni_ifname_valid("a:b"));
	assert_false(wf_cni_ifname_valid("a b"));
}

static void test_cni_args(void **state)
{
	struct wf_cni_env env = {0};
	struct wf_cni_err err = {0};
	assert_int_equal(wf_cni_args_parse(&env,
					   "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME="
					   "web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u;X=y",
					   &err),
			 0);
	assert_int_equal(env.pod_name_len, 5);
	assert_memory_equal(env.pod_name, "web-0", 5);
	memset(&env, 0, sizeof(env));
	assert_int_equal(wf_cni_args_parse(&env, "IP=10.1.2.3,fd00::3", &err), 0);
	assert_int_equal(env.n_arg_ips, 2);
	assert_int_equal(env.arg_ips[1].family, AF_INET6);
	memset(&env, 0, sizeof(env));
	assert_int_equal(wf_cni_args_parse(&env, "FOO=bar", &err), -1);
	assert_int_equal(err.code, WF_CNI_E_ENV);
	assert_int_equal(wf_cni_args_parse(&env, "novalue", &err), -1);
	assert_int_equal(wf_cni_args_parse(&env, "IP=10.1.2.300", &err), -1);
	memset(&env, 0, sizeof(env));
	assert_int_equal(wf_cni_args_parse(&env, "", &err), 0);
}

#define BASE "\"name\":\"n\",\"type\":\"weft-cni\""

static void test_conf_errors(void **state)
{
	expect_code("{\"cniVersion\":\"1.0.0\",", WF_CNI_E_DECODE);
	expect_code("[1]", WF_CNI_E_DECODE);
	expect_code("{" BASE "}", WF_CNI_E_VERSION);
	expect_code("{\"cniVersion\":\"0.2.0\"," BASE "}", WF_CNI_E_VERSION);
	expect_code("{\"cniVersion\":\"abc\"," BASE "}", WF_CNI_E_DECODE);
	expect_code("{\"cniVersion\":\"1.0.0\",\"type\":\"weft-cni\"}", WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\",\"name\":\"-x\",\"type\":\"weft-cni\"}",
		    WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE ",\"mode\":\"vxlan\"}", WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE ",\"mtu\":10}", WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE ",\"bridge\":\"a/b\"}", WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE ",\"ipam\":{\"type\":\"weft-ipam\"}}",
		    WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE
		    ",\"ipam\":{\"type\":\"weft-ipam\",\"subnet\":\"10.0.0.0/33\"}}",
		    WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE
		    ",\"ipam\":{\"type\":\"weft-ipam\",\"subnet\":\"10.0.0.0/31\"}}",
		    WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE
		    ",\"ipam\":{\"type\":\"weft-ipam\",\"subnet\":\"10.0.0.0/24\",\"rangeStart\":"
		    "\"10.0.0.9\",\"rangeEnd\":\"10.0.0.5\"}}",
		    WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE
		    ",\"ipam\":{\"type\":\"weft-ipam\",\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"},"
		    "{\"subnet\":\"fd00::/64\"}]]}}",
		    WF_CNI_E_CONFIG);
	expect_code(
		"{\"cniVersion\":\"1.0.0\"," BASE
		",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":70000,\"containerPort\":1}]}}",
		WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE
		    ",\"runtimeConfig\":{\"mac\":\"01:00:00:00:00:00\"}}",
		    WF_CNI_E_CONFIG);
	expect_code("{\"cniVersion\":\"1.0.0\"," BASE
		    ",\"runtimeConfig\":{\"bandwidth\":{\"ingressRate\":100}}}",
		    WF_CNI_E_CONFIG);

	struct wf_cni_conf conf;
	struct wf_cni_err err;
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\"," BASE "}", WF_CNI_GC, &conf, &err), -1);
	assert_int_equal(err.code, WF_CNI_E_VERSION);
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\"," BASE "}", WF_CNI_STATUS, &conf, &err),
			 -1);
	assert_int_equal(err.code, WF_CNI_E_VERSION);
}

static void test_conf_defaults(void **state)
{
	struct wf_cni_conf conf;
	struct wf_cni_err err;
	char buf[WF_IP_STRLEN];
	assert_int_equal(parse("{\"cniVersion\":\"1.1.0\"," BASE
			       ",\"isDefaultGateway\":true,\"ipam\":{\"type\":\"weft-ipam\","
			       "\"subnet\":\"10.1.2.0/24\"}}",
			       WF_CNI_ADD, &conf, &err),
			 0);
	assert_true(conf.is_gw); /* isDefaultGateway implies isGateway */
	assert_string_equal(conf.bridge, "cni0");
	assert_int_equal(conf.mode, WF_CNI_MODE_BRIDGE);
	assert_string_equal(conf.data_dir, "/var/lib/cni/networks");
	assert_int_equal(conf.n_sets, 1);
	assert_string_equal(wf_ip_format(&conf.sets[0].r[0].start, buf), "10.1.2.1");
	assert_string_equal(wf_ip_format(&conf.sets[0].r[0].end, buf), "10.1.2.254");
	assert_string_equal(wf_ip_format(&conf.sets[0].r[0].gw, buf), "10.1.2.1");
	wf_cni_conf_done(&conf);
}

static void test_result_shapes(void **state)
{
	static const char *const versions[] = {"0.3.1", "0.4.0", "1.0.0", "1.1.0"};
	for (unsigned v = 0; v < 4; v++) {
		char json[512];
		struct wf_cni_conf conf;
		struct wf_cni_err err;
		snprintf(json, sizeof(json),
			 "{\"cniVersion\":\"%s\"," BASE
			 ",\"dns\":{\"nameservers\":[\"10.96.0.10\"]}}",
			 versions[v]);
		assert_int_equal(parse(json, WF_CNI_ADD, &conf, &err), 0);
		struct wf_cni_iface ifs[1] = {{.name = "eth0", .sandbox = true, .mtu = 1500}};
		struct wf_cni_ip ip = {.prefix = 24};
		wf_ip_parse("10.1.2.3", &ip.ip);
		wf_ip_parse("10.1.2.1", &ip.gw);
		json_t *res = wf_cni_result_build(&conf, "/run/netns/p", ifs, 1, 0, &ip, 1, NULL, 0,
						  false);
		assert_non_null(res);
		json_t *jip = json_array_get(json_object_get(res, "ips"), 0);
		assert_string_equal(json_string_value(json_object_get(jip, "address")),
				    "10.1.2.3/24");
		assert_int_equal(json_integer_value(json_object_get(jip, "interface")), 0);
		bool old = versions[v][0] == '0';
		assert_int_equal(json_object_get(jip, "version") != NULL, old);
		json_t *jif = json_array_get(json_object_get(res, "interfaces"), 0);
		assert_int_equal(json_object_get(jif, "mtu") != NULL, v == 3);
		assert_string_equal(json_string_value(json_object_get(jif, "sandbox")),
				    "/run/netns/p");
		assert_non_null(json_object_get(res, "dns"));
		assert_string_equal(json_string_value(json_object_get(res, "cniVersion")),
				    versions[v]);
		json_decref(res);
		wf_cni_conf_done(&conf);
	}
}

/* --- IPAM store --- */

struct store {
	char dir[64];
	struct wf_cni_conf conf;
};

/* A store in a fresh directory whose network has the given ranges (the JSON of "ranges"). */
static int store_setup_ranges(void **state, const char *ranges)
{
	struct store *s = calloc(1, sizeof(*s));
	strcpy(s->dir, "/tmp/weft-cni-unit.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	char json[512];
	struct wf_cni_err err;
	snprintf(json, sizeof(json),
		 "{\"cniVersion\":\"1.0.0\"," BASE
		 ",\"ipam\":{\"type\":\"weft-ipam\",\"dataDir\":\"%s\",\"ranges\":%s}}",
		 s->dir, ranges);
	if (parse(json, WF_CNI_ADD, &s->conf, &err) < 0)
		return -1;
	*state = s;
	return 0;
}

static int store_setup(void **state)
{
	return store_setup_ranges(
		state, "[[{\"subnet\":\"10.5.0.0/29\"}],[{\"subnet\":\"fd00:5::/125\"}]]");
}

static int store_teardown(void **state)
{
	struct store *s = *state;
	char cmd[128];
	wf_cni_conf_done(&s->conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	if (system(cmd) != 0)
		return -1;
	free(s);
	return 0;
}

static int alloc(struct store *s, const char *id, struct wf_cni_ip *ips, const char *req)
{
	struct wf_cni_ipam ipam;
	struct wf_cni_err err = {0};
	struct wf_ip r;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	if (req)
		wf_ip_parse(req, &r);
	int n = wf_cni_ipam_alloc(&ipam, &s->conf, &r, req ? 1 : 0, id, "eth0", NULL, ips, &err);
	wf_cni_ipam_close(&ipam);
	return n < 0 ? -err.code : n;
}

static void test_ipam_alloc(void **state)
{
	struct store *s = *state;
	struct wf_cni_ip ips[4];
	char buf[WF_IP_STRLEN];
	char id[8];
	/* a /29 has .2-.6 once .0 (network), .1 (gateway) and .7 (broadcast) are skipped; the
	 * IPv6 /125 has ::2-::7 */
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		assert_int_equal(alloc(s, id, ips, NULL), 2);
		snprintf(buf, sizeof(buf), "10.5.0.%d", i + 2);
		char got[WF_IP_STRLEN];
		assert_string_equal(wf_ip_format(&ips[0].ip, got), buf);
		assert_int_equal(ips[0].prefix, 29);
		assert_string_equal(wf_ip_format(&ips[0].gw, got), "10.5.0.1");
		assert_int_equal(ips[1].ip.family, AF_INET6);
	}
	assert_int_equal(alloc(s, "c9", ips, NULL), -WF_CNI_E_AGAIN);

	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	assert_int_equal(wf_cni_ipam_free(&ipam, &s->conf), 0);
	assert_int_equal(wf_cni_ipam_release(&ipam, "c2", "eth0"), 1);
	assert_int_equal(wf_cni_ipam_free(&ipam, &s->conf), 1);
	wf_cni_ipam_close(&ipam);

	/* the freed address comes back; a requested address that is taken is refused */
	assert_int_equal(alloc(s, "c5", ips, NULL), 2);
	assert_string_equal(wf_ip_format(&ips[0].ip, buf), "10.5.0.4");
	assert_int_equal(alloc(s, "c6", ips, "10.5.0.3"), -WF_CNI_E_AGAIN);
	assert_int_equal(alloc(s, "c6", ips, "10.9.0.3"), -WF_CNI_E_CONFIG);
	assert_int_equal(alloc(s, "c6", ips, "10.5.0.1"), -WF_CNI_E_CONFIG);
	/* a failed allocation rolled back the IPv4 half it did not get */
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	assert_int_equal(wf_cni_ipam_release(&ipam, "c6", "eth0"), 0);
	wf_cni_ipam_close(&ipam);
}

static bool keep_c1(const char *id, const char *ifname, void *arg)
{
	return strcmp(id, "c1") == 0 && strcmp(ifname, "eth0") == 0;
}

static void test_ipam_gc_release(void **state)
{
	struct store *s = *state;
	struct wf_cni_ip ips[4];
	assert_int_equal(alloc(s, "c1", ips, "10.5.0.5"), 2);
	assert_int_equal(alloc(s, "c2", ips, NULL), 2);
	assert_int_equal(alloc(s, "c3", ips, NULL), 2);
	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	/* release frees only what the attachment owns; DEL is idempotent */
	assert_int_equal(wf_cni_ipam_release(&ipam, "other", "eth0"), 0);
	assert_int_equal(wf_cni_ipam_release(&ipam, "c3", "eth1"), 0);
	assert_true(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c3", "eth0"));
	assert_false(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c3", "eth1"));
	assert_false(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c2", "eth0"));
	/* GC keeps c1 only: c2's and c3's two addresses each go */
	assert_int_equal(wf_cni_ipam_gc(&ipam, keep_c1, NULL), 4);
	assert_false(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c3", "eth0"));
	assert_int_equal(wf_cni_ipam_free(&ipam, &s->conf), 4);
	wf_cni_ipam_close(&ipam);
}

/* --- the record with the reservation; the slot file --- */

static char *record_of(const struct wf_cni_ip *ips, unsigned n, void *arg)
{
	char a[WF_IP_STRLEN], b[WF_IP_STRLEN], *text;
	if (asprintf(&text, "{\"ips\":[\"%s\",\"%s\"],\"tag\":\"%s\"}", wf_ip_format(&ips[0].ip, a),
		     n > 1 ? wf_ip_format(&ips[1].ip, b) : "", (const char *)arg) < 0)
		return NULL;
	return text;
}

static int alloc_rec(struct store *s, const char *id, struct wf_cni_ip *ips, const char *tag)
{
	struct wf_cni_ipam ipam;
	struct wf_cni_err err = {0};
	struct wf_cni_record rec = {.text = record_of, .arg = (void *)tag};
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	int n = wf_cni_ipam_alloc(&ipam, &s->conf, NULL, 0, id, "eth0", &rec, ips, &err);
	wf_cni_ipam_close(&ipam);
	return n < 0 && n != -EEXIST ? -err.code : n;
}

static int release(struct store *s, const char *id)
{
	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	int e = wf_cni_ipam_release(&ipam, id, "eth0");
	wf_cni_ipam_close(&ipam);
	return e;
}

/* The record of an attachment, or NULL (to be freed). */
static char *record(struct store *s, const char *id)
{
	struct wf_cni_ipam ipam;
	char *text = NULL;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	if (wf_cni_ipam_record(&ipam, id, "eth0", &text) < 0)
		text = NULL;
	wf_cni_ipam_close(&ipam);
	return text;
}

/* Slots in use: what the store file holds that is not empty (kind byte at offset 16). */
static unsigned slots_in_use(struct store *s)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/n/store", s->dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	unsigned n = 0;
	char slot[512];
	fseek(f, 4096, SEEK_SET);
	while (fread(slot, 1, sizeof(slot), f) == sizeof(slot))
		n += slot[0] || slot[16];
	fclose(f);
	return n;
}

/* What `weft-ipam list` prints for network "n" of the store (malloc()ed, its size in size). */
static char *list_text(struct store *s, size_t *size)
{
	char path[160], *buf = NULL;
	snprintf(path, sizeof(path), "%s/n", s->dir);
	FILE *f = open_memstream(&buf, size);
	assert_int_equal(wf_cni_ipam_list(path, f), 0);
	fclose(f);
	return buf;
}

static unsigned listed(struct store *s)
{
	size_t size = 0;
	char *buf = list_text(s, &size);
	unsigned n = 0;
	for (size_t i = 0; i < size; i++)
		n += buf[i] == '\n';
	free(buf);
	return n;
}

static void test_ipam_record(void **state)
{
	struct store *s = *state;
	struct wf_cni_ip ips[4], ips2[4];
	char got[WF_IP_STRLEN];

	assert_int_equal(alloc_rec(s, "c1", ips, "first"), 2);
	char *text = record(s, "c1");
	assert_string_equal(text, "{\"ips\":[\"10.5.0.2\",\"fd00:5::2\"],\"tag\":\"first\"}");
	free(text);
	assert_null(record(s, "c9"));
	/* a second ADD of the same attachment is refused, and takes nothing */
	assert_int_equal(alloc_rec(s, "c1", ips2, "again"), -EEXIST);
	assert_int_equal(listed(s), 2);

	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	assert_true(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c1", "eth0"));
	assert_true(wf_cni_ipam_owns(&ipam, &ips[1].ip, "c1", "eth0"));
	assert_false(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c1", "eth1"));
	assert_int_equal(wf_cni_ipam_gc(&ipam, keep_c1, NULL), 0);
	wf_cni_ipam_close(&ipam);

	/* a record longer than a slot continues in others, and comes back whole */
	char tag[1500];
	memset(tag, 'x', sizeof(tag) - 1);
	tag[sizeof(tag) - 1] = 0;
	assert_int_equal(alloc_rec(s, "c2", ips2, tag), 2);
	assert_string_equal(wf_ip_format(&ips2[0].ip, got), "10.5.0.3");
	text = record(s, "c2");
	assert_non_null(text);
	assert_int_equal(strlen(text), 1499 + 41);
	assert_non_null(strstr(text, tag));
	free(text);

	/* DEL frees everything, in place: no slot stays in use, the addresses come back */
	assert_int_equal(release(s, "c2"), 1);
	assert_int_equal(release(s, "c2"), 0);
	assert_int_equal(release(s, "c1"), 1);
	assert_int_equal(slots_in_use(s), 0);
	assert_int_equal(listed(s), 0);
	assert_int_equal(alloc_rec(s, "c3", ips, "third"), 2);
	assert_string_equal(wf_ip_format(&ips[0].ip, got), "10.5.0.4"); /* round-robin */
}

/* Damages every head slot of the store: one byte of its record flipped. */
static void damage_slots(struct store *s)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/n/store", s->dir);
	FILE *f = fopen(path, "r+");
	assert_non_null(f);
	char slot[512];
	for (long off = 4096;; off += 512) {
		fseek(f, off, SEEK_SET);
		if (fread(slot, 1, sizeof(slot), f) != sizeof(slot))
			break;
		if (slot[16] != 1) /* heads only */
			continue;
		slot[120] ^= 0x5a; /* in the record, which the checksum covers */
		fseek(f, off, SEEK_SET);
		fwrite(slot, 1, sizeof(slot), f);
	}
	fclose(f);
}

static void test_store_garbage(void **state)
{
	/* a slot whose checksum fails (torn by a power loss, or garbage) counts as free */
	struct store *s = *state;
	struct wf_cni_ip ips[4];
	assert_int_equal(alloc_rec(s, "c1", ips, "one"), 2);
	assert_int_equal(listed(s), 2);
	damage_slots(s);
	assert_int_equal(listed(s), 0);
	assert_null(record(s, "c1"));
	/* its addresses are free again; the leftovers are cleared by the walk */
	assert_int_equal(alloc(s, "c2", ips, "10.5.0.2"), 2);
	assert_int_equal(listed(s), 2);
	assert_int_equal(release(s, "c2"), 1);
	assert_int_equal(listed(s), 0);

	/* a torn header: the store is rebuilt from its slots */
	assert_int_equal(alloc(s, "c3", ips, NULL), 2);
	char path[160];
	snprintf(path, sizeof(path), "%s/n/store", s->dir);
	FILE *f = fopen(path, "r+");
	fputs("garbage", f);
	fclose(f);
	assert_int_equal(listed(s), 2);
	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	assert_true(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c3", "eth0"));
	wf_cni_ipam_close(&ipam);
}

static int growth_setup(void **state)
{
	return store_setup_ranges(state, "[[{\"subnet\":\"10.6.0.0/16\"}]]");
}

static void test_store_growth(void **state)
{
	/* 600 attachments: the table starts at 64 slots and grows, every address distinct and
	 * found again; releasing them all leaves nothing in use */
	struct store *s = *state;
	struct wf_cni_ip ips[4];
	char id[16], want[WF_IP_STRLEN], got[WF_IP_STRLEN];
	struct stat st;
	char path[160];
	snprintf(path, sizeof(path), "%s/n/store", s->dir);
	for (int i = 0; i < 600; i++) {
		snprintf(id, sizeof(id), "g%d", i);
		assert_int_equal(alloc_rec(s, id, ips, id), 1);
		snprintf(want, sizeof(want), "10.6.%d.%d", (i + 2) / 256, (i + 2) % 256);
		assert_string_equal(wf_ip_format(&ips[0].ip, got), want);
		if (i == 0) {
			assert_int_equal(stat(path, &st), 0);
			assert_int_equal(st.st_size, 4096 + 64 * 512);
		}
	}
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size >= 4096 + 2400 * 512);
	assert_int_equal(listed(s), 600);
	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	for (int i = 0; i < 600; i += 37) {
		snprintf(id, sizeof(id), "g%d", i);
		struct wf_ip ip;
		snprintf(want, sizeof(want), "10.6.%d.%d", (i + 2) / 256, (i + 2) % 256);
		wf_ip_parse(want, &ip);
		assert_true(wf_cni_ipam_owns(&ipam, &ip, id, "eth0"));
		char *text = NULL;
		assert_int_equal(wf_cni_ipam_record(&ipam, id, "eth0", &text), 0);
		assert_non_null(strstr(text, id));
		wf_free(text);
	}
	assert_int_equal(wf_cni_ipam_free(&ipam, &s->conf), 65533 - 600);
	wf_cni_ipam_close(&ipam);
	for (int i = 0; i < 600; i++) {
		snprintf(id, sizeof(id), "g%d", i);
		assert_int_equal(release(s, id), 1);
	}
	assert_int_equal(listed(s), 0);
	assert_int_equal(slots_in_use(s), 0);
}

static void test_store_concurrent(void **state)
{
	/* 8 processes ADD 40 attachments each into one store while it grows (64 slots to 2 Ki,
	 * renamed into place while the others wait for the lock): every address is handed out
	 * once, every record is found */
	struct store *s = *state;
	pid_t pids[8];
	for (int p = 0; p < 8; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			int bad = 0;
			for (int i = 0; i < 40; i++) {
				char id[16];
				struct wf_cni_ip ips[4];
				snprintf(id, sizeof(id), "p%dc%d", p, i);
				struct wf_cni_ipam ipam;
				struct wf_cni_err err = {0};
				struct wf_cni_record rec = {.text = record_of, .arg = id};
				if (wf_cni_ipam_open(&ipam, s->dir, "n") < 0) {
					bad++;
					continue;
				}
				if (wf_cni_ipam_alloc(&ipam, &s->conf, NULL, 0, id, "eth0", &rec,
						      ips, &err) != 1)
					bad++;
				wf_cni_ipam_close(&ipam);
			}
			_exit(bad);
		}
	}
	for (int p = 0; p < 8; p++) {
		int st;
		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	size_t size = 0;
	char *buf = list_text(s, &size);
	/* 320 lines, 320 distinct addresses */
	unsigned lines = 0, distinct = 0;
	static bool seen[65536];
	memset(seen, 0, sizeof(seen));
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		struct wf_ip ip;
		char *sp = strchr(line, ' ');
		assert_non_null(sp);
		*sp = 0;
		assert_int_equal(wf_ip_parse(line, &ip), 0);
		unsigned k = (unsigned)ip.addr[2] << 8 | ip.addr[3];
		distinct += !seen[k];
		seen[k] = true;
		lines++;
	}
	free(buf);
	assert_int_equal(lines, 320);
	assert_int_equal(distinct, 320);
	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	for (int p = 0; p < 8; p++) {
		char id[16], *text = NULL;
		snprintf(id, sizeof(id), "p%dc39", p);
		assert_int_equal(wf_cni_ipam_record(&ipam, id, "eth0", &text), 0);
		assert_non_null(strstr(text, id));
		wf_free(text);
	}
	wf_cni_ipam_close(&ipam);
}

/* Runs op with the store stopped after `writes` writes, as a kill -9 there would, and
 * abandons the handle without writing anything back. Returns op's result. */
static int stopped_after(struct store *s, long writes, int (*op)(struct wf_cni_ipam *, void *),
			 void *arg)
{
	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	wf_cni_store_test_writes = writes;
	int e = op(&ipam, arg);
	wf_cni_store_test_writes = -1;
	close(ipam.fd); /* no flush: the process died */
	close(ipam.lockfd);
	close(ipam.dirfd);
	return e;
}

static int op_add(struct wf_cni_ipam *ipam, void *arg)
{
	struct store *s = arg;
	struct wf_cni_ip ips[4];
	struct wf_cni_err err = {0};
	char tag[700];
	memset(tag, 'y', sizeof(tag) - 1); /* a head and two continuations */
	tag[sizeof(tag) - 1] = 0;
	struct wf_cni_record rec = {.text = record_of, .arg = tag};
	return wf_cni_ipam_alloc(ipam, &s->conf, NULL, 0, "k", "eth0", &rec, ips, &err);
}

static int op_del(struct wf_cni_ipam *ipam, void *arg)
{
	return wf_cni_ipam_release(ipam, "k", "eth0");
}

static void test_store_crash_points(void **state)
{
	/* ADD and DEL stopped after each of their writes: the attachment is there whole (both
	 * addresses, the whole record) or not at all (both addresses free); DEL or GC then
	 * leave the store as it was, and no address is ever held twice */
	struct store *s = *state;
	struct wf_cni_ip other[4];
	assert_int_equal(alloc(s, "bystander", other, NULL), 2);
	unsigned base = slots_in_use(s);
	for (long w = 0; w < 8; w++) {
		int e = stopped_after(s, w, op_add, s);
		char *text = record(s, "k");
		unsigned n = listed(s);
		if (e >= 0) {
			assert_int_equal(n, 4);
		} else {
			/* stopped: whole or nothing */
			assert_true(n == 2 || n == 4);
			assert_true((n == 4) == (text != NULL));
		}
		if (text) {
			assert_int_equal(strlen(text), 699 + 41);
			free(text);
		}
		/* no duplicate: the next ADD gets other addresses than everyone's */
		struct wf_cni_ip ips[4];
		assert_int_equal(alloc(s, "probe", ips, NULL), 2);
		assert_false(wf_ip_equal(&ips[0].ip, &other[0].ip));
		assert_int_equal(listed(s), n + 2);
		assert_int_equal(release(s, "probe"), 1);

		/* DEL stopped after each write, then DEL again */
		for (long d = 0; n == 4 && d < 8; d++) {
			int de = stopped_after(s, d, op_del, NULL);
			unsigned m = listed(s);
			assert_true(m == 2 || m == 4);
			if (de >= 0)
				assert_int_equal(m, 2);
			if (m == 2)
				break;
		}
		release(s, "k");
		struct wf_cni_ipam ipam;
		assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
		assert_int_equal(wf_cni_ipam_gc(&ipam, keep_c1, NULL), 2); /* the bystander's */
		wf_cni_ipam_close(&ipam);
		assert_int_equal(listed(s), 0);
		assert_int_equal(slots_in_use(s), 0);
		assert_int_equal(alloc(s, "bystander", other, NULL), 2);
		assert_int_equal(slots_in_use(s), base);
	}
}

static bool keep_none(const char *id, const char *ifname, void *arg)
{
	return false;
}

static void test_store_random_damage(void **state)
{
	/* random bytes over a store (header, slots, past the end), 200 times: opening, listing,
	 * allocating, releasing and GC never fail on it or crash (ASan in CI), and GC then
	 * leaves nothing reserved */
	struct store *s = *state;
	uint64_t rnd = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 200; round++) {
		char net[16], path[160], id[16];
		struct wf_cni_ipam ipam;
		struct wf_cni_err err = {0};
		struct wf_cni_ip ips[4];
		struct wf_cni_record rec = {.text = record_of, .arg = "damaged"};
		snprintf(net, sizeof(net), "r%d", round);
		assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, net), 0);
		for (int i = 0; i < 3; i++) {
			snprintf(id, sizeof(id), "d%d", i);
			assert_int_equal(wf_cni_ipam_alloc(&ipam, &s->conf, NULL, 0, id, "eth0",
							   &rec, ips, &err),
					 2);
		}
		wf_cni_ipam_close(&ipam);
		snprintf(path, sizeof(path), "%s/%s/store", s->dir, net);
		FILE *f = fopen(path, "r+");
		assert_non_null(f);
		for (int k = 0; k < 1 + round % 40; k++) {
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			long off = (long)((rnd >> 33) % (4096 + 64 * 512 + 600));
			if (round % 3 == 0)
				off = 4096 + (off % (64 * 8)) * 64; /* slot headers */
			fseek(f, off, SEEK_SET);
			fputc((int)(rnd >> 20) & 0xff, f);
		}
		fclose(f);
		assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, net), 0);
		for (int i = 0; i < 6; i++) {
			snprintf(id, sizeof(id), "n%d", i);
			int n = wf_cni_ipam_alloc(&ipam, &s->conf, NULL, 0, id, "eth0", &rec, ips,
						  &err);
			assert_true(n == 2 || n == -1 || n == -EEXIST);
		}
		for (int i = 0; i < 3; i++) {
			snprintf(id, sizeof(id), "d%d", i);
			assert_true(wf_cni_ipam_release(&ipam, id, "eth0") >= 0);
		}
		assert_true(wf_cni_ipam_gc(&ipam, keep_none, NULL) >= 0);
		wf_cni_ipam_close(&ipam);
		char *buf = NULL;
		size_t size = 0;
		FILE *out = open_memstream(&buf, &size);
		snprintf(path, sizeof(path), "%s/%s", s->dir, net);
		assert_int_equal(wf_cni_ipam_list(path, out), 0);
		fclose(out);
		assert_int_equal(size, 0);
		free(buf);
	}
}

static void write_file(struct store *s, const char *name, const char *content)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/n/%s", s->dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void test_store_convert(void **state)
{
	/* a store of the previous layout (host-local's files, weft's one-file-per-ADD records,
	 * records of their own, round-robin hints, spares) is converted on first open, under the
	 * lock, and its files removed */
	struct store *s = *state;
	char path[160], got[WF_IP_STRLEN];
	snprintf(path, sizeof(path), "%s/n", s->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file(s, "10.5.0.2", "h1\r\neth0");
	write_file(s, "10.5.0.3", "h2"); /* host-local before 0.8: the id alone */
	write_file(s, "10.5.0.5", "w1\r\neth0\n{\"ips\":[\"10.5.0.5/29\"]}");
	write_file(s, "fd00:5::5", "w1\r\neth0\n{\"ips\":[\"10.5.0.5/29\"]}");
	write_file(s, "weft:w1:eth0", "w1\r\neth0\n{\"ips\":[\"10.5.0.5/29\"]}");
	write_file(s, "weft:w2:eth1", "{\"ips\":[]}"); /* a record without addresses */
	write_file(s, "last_reserved_ip.0", "10.5.0.5");
	write_file(s, ".spare.0", "x\r\neth0\n{}");
	write_file(s, "lock", "1   \n");

	struct wf_cni_ipam ipam;
	struct wf_ip a;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	wf_ip_parse("10.5.0.2", &a);
	assert_true(wf_cni_ipam_owns(&ipam, &a, "h1", "eth0"));
	wf_ip_parse("10.5.0.3", &a);
	assert_true(wf_cni_ipam_owns(&ipam, &a, "h2", "eth0")); /* any interface, as before */
	wf_ip_parse("fd00:5::5", &a);
	assert_true(wf_cni_ipam_owns(&ipam, &a, "w1", "eth0"));
	char *text = NULL;
	assert_int_equal(wf_cni_ipam_record(&ipam, "w1", "eth0", &text), 0);
	assert_string_equal(text, "{\"ips\":[\"10.5.0.5/29\"]}");
	wf_free(text);
	assert_int_equal(wf_cni_ipam_record(&ipam, "w2", "eth1", &text), 0);
	assert_string_equal(text, "{\"ips\":[]}");
	wf_free(text);
	wf_cni_ipam_close(&ipam);
	assert_int_equal(listed(s), 5); /* 3 + w1's two addresses... minus one line each + w2 */

	/* only the new layout is left */
	DIR *d = opendir(path);
	struct dirent *de;
	unsigned files = 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".spare.0") == 0)
			files++, assert_true(strcmp(de->d_name, "store") == 0 ||
					     strcmp(de->d_name, "lock") == 0);
	closedir(d);
	assert_int_equal(files, 2);

	/* round-robin continues after the hint; host-local's semantics hold */
	struct wf_cni_ip ips[4];
	assert_int_equal(alloc(s, "c1", ips, NULL), 2);
	assert_string_equal(wf_ip_format(&ips[0].ip, got), "10.5.0.6");
	assert_int_equal(release(s, "w1"), 1);
	assert_int_equal(release(s, "h2"), 1);
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	assert_int_equal(wf_cni_ipam_gc(&ipam, keep_c1, NULL), 1); /* h1's; w2 holds none */
	assert_int_equal(wf_cni_ipam_free(&ipam, &s->conf), 4);
	wf_cni_ipam_close(&ipam);
	assert_int_equal(listed(s), 2);
}

static void test_alloc_failure(void **state)
{
	/* every allocation of the parser may fail without a leak or a crash */
	const char *json =
		"{\"cniVersion\":\"1.0.0\"," BASE ",\"runtimeConfig\":{\"ips\":[\"10.1.0.5\"]}}";
	for (unsigned long n = 1; n < 50; n++) {
		struct wf_cni_conf conf;
		struct wf_cni_err err;
		wf_alloc_fail_at(n);
		if (parse(json, WF_CNI_ADD, &conf, &err) == 0)
			wf_cni_conf_done(&conf);
	}
	wf_alloc_fail_at(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_ifname),
		cmocka_unit_test(test_cni_args),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_result_shapes),
		cmocka_unit_test_setup_teardown(test_ipam_alloc, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_ipam_gc_release, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_ipam_record, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_garbage, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_growth, growth_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_concurrent, growth_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(test_store_crash_points, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(test_store_random_damage, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(test_store_convert, store_setup, store_teardown),
		cmocka_unit_test(test_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
