/* weft-cni unit tests: versions, names, CNI_ARGS, configuration errors and their spec codes,
 * result shapes, and the IPAM store (allocation order, exhaustion, release, GC, requests, the
 * record in the reservation file, spare files, host-local's files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cni/cni.h"
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

static int store_setup(void **state)
{
	struct store *s = calloc(1, sizeof(*s));
	strcpy(s->dir, "/tmp/weft-cni-unit.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	char json[512];
	struct wf_cni_err err;
	snprintf(json, sizeof(json),
		 "{\"cniVersion\":\"1.0.0\"," BASE
		 ",\"ipam\":{\"type\":\"weft-ipam\",\"dataDir\":\"%s\",\"ranges\":["
		 "[{\"subnet\":\"10.5.0.0/29\"}],[{\"subnet\":\"fd00:5::/125\"}]]}}",
		 s->dir);
	if (parse(json, WF_CNI_ADD, &s->conf, &err) < 0)
		return -1;
	*state = s;
	return 0;
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
	assert_int_equal(wf_cni_ipam_release_all(&ipam, "c2", "eth0"), 2);
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
	assert_int_equal(wf_cni_ipam_release_all(&ipam, "c6", "eth0"), 0);
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
	/* release_ip only frees what the attachment owns */
	assert_int_equal(wf_cni_ipam_release_ip(&ipam, &ips[0].ip, "other", "eth0"), 0);
	assert_true(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c3", "eth0"));
	assert_int_equal(wf_cni_ipam_release_ip(&ipam, &ips[0].ip, "c3", "eth0"), 0);
	assert_false(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c3", "eth0"));
	/* GC keeps c1 only: c2's two and c3's IPv6 address go */
	assert_int_equal(wf_cni_ipam_gc(&ipam, keep_c1, NULL), 3);
	assert_int_equal(wf_cni_ipam_free(&ipam, &s->conf), 4);
	wf_cni_ipam_close(&ipam);
}

/* --- one file per ADD: the reservation carries the record; files are kept for reuse --- */

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
	char name[64];
	snprintf(name, sizeof(name), "weft:%s:eth0", id);
	struct wf_cni_record rec = {.text = record_of, .arg = (void *)tag, .name = name};
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	int n = wf_cni_ipam_alloc(&ipam, &s->conf, NULL, 0, id, "eth0", &rec, ips, &err);
	wf_cni_ipam_close(&ipam);
	return n < 0 ? -err.code : n;
}

static void del_rec(struct store *s, const char *id, const struct wf_cni_ip *ips)
{
	struct wf_cni_ipam ipam;
	char name[64];
	snprintf(name, sizeof(name), "weft:%s:eth0", id);
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(wf_cni_ipam_release_ip(&ipam, &ips[i].ip, id, "eth0"), 0);
	assert_int_equal(wf_cni_ipam_retire(&ipam, name), 0);
	wf_cni_ipam_close(&ipam);
}

static void read_path(const struct store *s, const char *name, char *buf, size_t size,
		      struct stat *st)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/n/%s", s->dir, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	assert_int_equal(fstat(fileno(f), st), 0);
	fclose(f);
}

static void test_ipam_record(void **state)
{
	struct store *s = *state;
	struct wf_cni_ip ips[4], ips2[4];
	char buf[512], name[WF_IP_STRLEN];
	struct stat rec_st, ip_st, st;

	assert_int_equal(alloc_rec(s, "c1", ips, "first"), 2);
	/* one file under three names: owner line (host-local's), newline, record */
	read_path(s, "weft:c1:eth0", buf, sizeof(buf), &rec_st);
	assert_string_equal(buf,
			    "c1\r\neth0\n{\"ips\":[\"10.5.0.2\",\"fd00:5::2\"],\"tag\":\"first\"}");
	assert_int_equal(rec_st.st_nlink, 3);
	read_path(s, wf_ip_format(&ips[1].ip, name), buf, sizeof(buf), &ip_st);
	assert_int_equal(ip_st.st_ino, rec_st.st_ino);

	/* the owner is the first line: ownership checks and GC read it so */
	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	assert_true(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c1", "eth0"));
	assert_false(wf_cni_ipam_owns(&ipam, &ips[0].ip, "c1", "eth1"));
	/* a record still named by an address is not kept as a spare: it is removed */
	assert_int_equal(wf_cni_ipam_retire(&ipam, "weft:c1:eth0"), 0);
	assert_int_equal(fstatat(ipam.dirfd, ".spare.0", &st, 0), -1);
	assert_int_equal(wf_cni_ipam_gc(&ipam, keep_c1, NULL), 0);
	wf_cni_ipam_close(&ipam);
	del_rec(s, "c1", ips);
	assert_int_equal(alloc_rec(s, "c1", ips, "first"), 2);

	/* DEL keeps the file as a spare; the next ADD rewrites and renames it */
	del_rec(s, "c1", ips);
	read_path(s, ".spare.0", buf, sizeof(buf), &st);
	assert_int_equal(st.st_nlink, 1);
	ino_t spare_ino = st.st_ino;
	assert_int_equal(alloc_rec(s, "c2", ips2, "x"), 2);
	read_path(s, "weft:c2:eth0", buf, sizeof(buf), &st);
	assert_int_equal(st.st_ino, spare_ino);
	assert_int_equal(st.st_nlink, 3);
	/* shorter than what the file held before: nothing of the old content is left */
	assert_string_equal(buf,
			    "c2\r\neth0\n{\"ips\":[\"10.5.0.4\",\"fd00:5::4\"],\"tag\":\"x\"}");

	/* a count that is off (a kill -9 between a rename and its update) is corrected */
	assert_int_equal(alloc_rec(s, "c3", ips, "third"), 2);
	del_rec(s, "c3", ips); /* .spare.0 */
	char lock[160];
	snprintf(lock, sizeof(lock), "%s/n/lock", s->dir);
	FILE *f = fopen(lock, "w");
	fputs("0   \n", f); /* too low */
	fclose(f);
	del_rec(s, "c2", ips2); /* must not replace .spare.0: goes to .spare.1 */
	read_path(s, ".spare.0", buf, sizeof(buf), &st);
	read_path(s, ".spare.1", buf, sizeof(buf), &st);
	assert_int_equal(st.st_ino, spare_ino);
	f = fopen(lock, "w");
	fputs("5   \n", f); /* too high */
	fclose(f);
	assert_int_equal(alloc_rec(s, "c4", ips, "fourth"), 2);
	read_path(s, "weft:c4:eth0", buf, sizeof(buf), &st);
	assert_int_equal(st.st_ino, spare_ino);
	assert_int_equal(st.st_nlink, 3);
}

static void test_ipam_hostlocal_files(void **state)
{
	/* a store written by host-local (content "<id>\r\n<ifname>", or the id alone before
	 * 0.8) is read as such: ownership, release and GC */
	struct store *s = *state;
	char path[160];
	struct wf_cni_ip ips[4];
	const char *files[][2] = {{"10.5.0.2", "h1\r\neth0"}, {"10.5.0.3", "h2"}};
	struct wf_cni_ipam ipam;
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	wf_cni_ipam_close(&ipam);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/n/%s", s->dir, files[i][0]);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(files[i][1], f);
		fclose(f);
	}
	assert_int_equal(alloc(s, "c1", ips, NULL), 2);
	char got[WF_IP_STRLEN];
	assert_string_equal(wf_ip_format(&ips[0].ip, got), "10.5.0.4");
	assert_int_equal(wf_cni_ipam_open(&ipam, s->dir, "n"), 0);
	struct wf_ip a;
	wf_ip_parse("10.5.0.2", &a);
	assert_true(wf_cni_ipam_owns(&ipam, &a, "h1", "eth0"));
	assert_int_equal(wf_cni_ipam_release_all(&ipam, "h2", "eth0"), 1);
	assert_int_equal(wf_cni_ipam_gc(&ipam, keep_c1, NULL), 1); /* h1's */
	assert_int_equal(wf_cni_ipam_free(&ipam, &s->conf), 4);
	wf_cni_ipam_close(&ipam);
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
		cmocka_unit_test_setup_teardown(test_ipam_hostlocal_files, store_setup,
						store_teardown),
		cmocka_unit_test(test_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
