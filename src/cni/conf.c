/* CNI environment, configuration and result encoding (CNI SPEC.md sections "Parameters",
 * "Network configuration", "Result Types", CONVENTIONS.md for capabilities). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/cni.h"
#include "lib/ip.h"

const char *const wf_cni_versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL};

int wf_cni_fail(struct wf_cni_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int wf_cni_version_num(const char *v)
{
	unsigned a, b, c;
	int n = 0;
	if (!v || sscanf(v, "%3u.%3u.%3u%n", &a, &b, &c, &n) != 3 || v[n] != 0)
		return -1;
	if (!isdigit((unsigned char)v[0]) || b > 99 || c > 99)
		return -1;
	return (int)(a * 10000 + b * 100 + c);
}

bool wf_cni_version_supported(const char *v)
{
	for (unsigned i = 0; wf_cni_versions[i]; i++)
		if (strcmp(v, wf_cni_versions[i]) == 0)
			return true;
	return false;
}

bool wf_cni_ifname_valid(const char *name)
{
	size_t len = strlen(name);
	/* SPEC.md "Parameters": CNI_IFNAME; Linux IFNAMSIZ is 16 with the NUL. */
	if (len == 0 || len > 15 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == ':' || isspace((unsigned char)name[i]))
			return false;
	return true;
}

static bool containerid_valid(const char *id)
{
	/* SPEC.md "Parameters": alphanumeric start, then alphanumerics, '_', '.' or '-'. */
	if (!isalnum((unsigned char)id[0]))
		return false;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return strlen(id) < 256;
}

int wf_cni_args_parse(struct wf_cni_env *env, const char *args, struct wf_cni_err *err)
{
	bool ignore_unknown = false;
	char unknown[64] = "";
	const char *p = args;

	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (!eq)
			return wf_cni_fail(err, WF_CNI_E_ENV, "CNI_ARGS: invalid pair '%.*s'",
					   (int)len, p);
		size_t klen = (size_t)(eq - p);
		const char *v = eq + 1;
		size_t vlen = len - klen - 1;
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(p, s, klen) == 0)
		if (KEY("IgnoreUnknown")) {
			ignore_unknown = (vlen == 1 && *v == '1') ||
					 (vlen == 4 && strncasecmp(v, "true", 4) == 0);
		} else if (KEY("IP")) {
			/* host-local: IP=a,b (one per range set) */
			const char *q = v, *vend = v + vlen;
			while (q < vend) {
				const char *c = memchr(q, ',', (size_t)(vend - q));
				size_t n = c ? (size_t)(c - q) : (size_t)(vend - q);
				if (env->n_arg_ips == WF_CNI_MAX_SETS ||
				    wf_ip_parsen(q, n, &env->arg_ips[env->n_arg_ips]) < 0)
					return wf_cni_fail(err, WF_CNI_E_ENV,
							   "CNI_ARGS: invalid IP '%.*s'", (int)n,
							   q);
				env->n_arg_ips++;
				q += n + (c ? 1 : 0);
			}
		} else if (KEY("K8S_POD_NAMESPACE")) {
			env->pod_ns = v;
			env->pod_ns_len = (unsigned)vlen;
		} else if (KEY("K8S_POD_NAME")) {
			env->pod_name = v;
			env->pod_name_len = (unsigned)vlen;
		} else if (KEY("K8S_POD_INFRA_CONTAINER_ID") || KEY("K8S_POD_UID")) {
			/* kubelet sends these; nothing to do with them */
		} else if (!unknown[0]) {
			snprintf(unknown, sizeof(unknown), "%.*s", (int)klen, p);
		}
#undef KEY
		p = end ? end + 1 : NULL;
	}
	if (unknown[0] && !ignore_unknown)
		return wf_cni_fail(err, WF_CNI_E_ENV,
				   "CNI_ARGS: unknown key '%s' (set IgnoreUnknown=1 to allow)",
				   unknown);
	return 0;
}

int wf_cni_env_parse(struct wf_cni_env *env, bool ipam_only, struct wf_cni_err *err)
{
	static const char *const names[] = {"ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"};
	const char *cmd = getenv("CNI_COMMAND");

	memset(env, 0, sizeof(*env));
	if (!cmd || !*cmd)
		return wf_cni_fail(err, WF_CNI_E_ENV,
				   "required env variables [CNI_COMMAND] missing");
	unsigned i;
	for (i = 0; i < 6; i++)
		if (strcmp(cmd, names[i]) == 0)
			break;
	if (i == 6)
		return wf_cni_fail(err, WF_CNI_E_ENV, "unknown CNI_COMMAND: %.64s", cmd);
	env->cmd = (enum wf_cni_cmd)i;
	env->containerid = getenv("CNI_CONTAINERID");
	env->netns = getenv("CNI_NETNS");
	env->ifname = getenv("CNI_IFNAME");
	env->args = getenv("CNI_ARGS");
	env->path = getenv("CNI_PATH");
	if (env->cmd != WF_CNI_ADD && env->cmd != WF_CNI_DEL && env->cmd != WF_CNI_CHECK)
		return 0;

	/* SPEC.md "Parameters" table: what each operation requires. */
	char missing[128] = "";
	if (!env->containerid || !*env->containerid)
		strcat(missing, " CNI_CONTAINERID");
	if (env->cmd != WF_CNI_DEL && !ipam_only && (!env->netns || !*env->netns))
		strcat(missing, " CNI_NETNS");
	if (!env->ifname || !*env->ifname)
		strcat(missing, " CNI_IFNAME");
	if (missing[0])
		return wf_cni_fail(err, WF_CNI_E_ENV, "required env variables [%s] missing",
				   missing + 1);
	if (!containerid_valid(env->containerid))
		return wf_cni_fail(err, WF_CNI_E_ENV, "invalid CNI_CONTAINERID '%.64s'",
				   env->containerid);
	if (!wf_cni_ifname_valid(env->ifname))
		return wf_cni_fail(err, WF_CNI_E_ENV, "invalid CNI_IFNAME '%.64s'", env->ifname);
	return wf_cni_args_parse(env, env->args, err);
}

/* --- configuration --- */

static int get_str(json_t *obj, const char *key, const char **ret, bool required,
		   struct wf_cni_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			return wf_cni_fail(err, WF_CNI_E_CONFIG, "missing required field '%s'",
					   key);
		return 0;
	}
	if (!json_is_string(v))
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "field '%s' must be a string", key);
	*ret = json_string_value(v);
	return 0;
}

static int get_bool(json_t *obj, const char *key, bool *ret, struct wf_cni_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "field '%s' must be a boolean", key);
	*ret = json_is_true(v);
	return 0;
}

static int parse_ip_field(json_t *obj, const char *key, struct wf_ip *ret, const char *path,
			  struct wf_cni_err *err)
{
	const char *s = NULL;
	if (get_str(obj, key, &s, false, err) < 0)
		return -1;
	if (!s)
		return 0;
	if (wf_ip_parse(s, ret) < 0)
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "%s.%s: invalid IP address '%.64s'", path,
				   key, s);
	return 0;
}

/* host-local's range (plugins/ipam/host-local/backend/allocator/range.go Canonicalize). */
static int parse_range(json_t *obj, struct wf_cni_range *r, const char *path,
		       struct wf_cni_err *err)
{
	const char *subnet = NULL;
	struct wf_cidr c;
	char buf[WF_IP_STRLEN];

	if (!json_is_object(obj))
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "%s: a range must be an object", path);
	if (get_str(obj, "subnet", &subnet, true, err) < 0)
		return -1;
	if (wf_cidr_parse(subnet, false, &c) < 0)
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "%s.subnet: invalid CIDR '%.64s'", path,
				   subnet);
	wf_cidr_network(&c, &c.ip);
	unsigned bits = c.ip.family == AF_INET ? 32 : 128;
	if (bits - c.prefix < 2)
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "%s.subnet: network %s too small", path,
				   subnet);
	r->subnet = c;
	memset(&r->start, 0, sizeof(r->start));
	memset(&r->end, 0, sizeof(r->end));
	memset(&r->gw, 0, sizeof(r->gw));
	if (parse_ip_field(obj, "rangeStart", &r->start, path, err) < 0 ||
	    parse_ip_field(obj, "rangeEnd", &r->end, path, err) < 0 ||
	    parse_ip_field(obj, "gateway", &r->gw, path, err) < 0)
		return -1;
	struct wf_ip first, last;
	wf_ip_add(&c.ip, 1, &first);
	wf_cidr_last(&c, &last);
	if (c.ip.family == AF_INET)
		wf_ip_add(&last, -1, &last); /* broadcast is never handed out */
	if (!r->start.family)
		r->start = first;
	if (!r->end.family)
		r->end = last;
	if (!r->gw.family)
		r->gw = first; /* host-local: the gateway defaults to .1 */
	const struct wf_ip *chk[] = {&r->start, &r->end, &r->gw};
	const char *nm[] = {"rangeStart", "rangeEnd", "gateway"};
	for (unsigned i = 0; i < 3; i++)
		if (!wf_cidr_contains(&c, chk[i]))
			return wf_cni_fail(err, WF_CNI_E_CONFIG, "%s.%s: %s is not in %s", path,
					   nm[i], wf_ip_format(chk[i], buf), subnet);
	if (wf_ip_cmp(&r->start, &first) < 0 || wf_ip_cmp(&r->end, &last) > 0 ||
	    wf_ip_cmp(&r->start, &r->end) > 0)
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "%s: invalid range start/end in %s", path,
				   subnet);
	return 0;
}

static int parse_ipam(struct wf_cni_conf *conf, json_t *ipam, struct wf_cni_err *err)
{
	json_t *v;
	if (!json_is_object(ipam))
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "field 'ipam' must be an object");
	if (get_str(ipam, "type", &conf->ipam_type, true, err) < 0)
		return -1;
	if (strcmp(conf->ipam_type, "weft-ipam") != 0)
		return 0; /* delegated: the plugin parses its own section */
	conf->ipam_builtin = true;
	conf->data_dir = "/var/lib/cni/networks";
	if (get_str(ipam, "dataDir", &conf->data_dir, false, err) < 0)
		return -1;

	json_t *ranges = json_object_get(ipam, "ranges");
	const char *subnet = NULL;
	if (get_str(ipam, "subnet", &subnet, false, err) < 0)
		return -1;
	if (subnet) {
		/* host-local: top-level subnet/rangeStart/... is the first range set */
		conf->n_sets = 1;
		conf->sets[0].n = 1;
		if (parse_range(ipam, &conf->sets[0].r[0], "ipam", err) < 0)
			return -1;
	}
	if (ranges) {
		size_t i, j;
		json_t *set, *r;
		if (!json_is_array(ranges))
			return wf_cni_fail(err, WF_CNI_E_CONFIG, "ipam.ranges must be an array");
		json_array_foreach(ranges, i, set)
		{
			char path[80];
			if (!json_is_array(set) || json_array_size(set) == 0)
				return wf_cni_fail(err, WF_CNI_E_CONFIG,
						   "ipam.ranges[%zu] must be a non-empty array", i);
			if (conf->n_sets == WF_CNI_MAX_SETS)
				return wf_cni_fail(err, WF_CNI_E_CONFIG,
						   "ipam.ranges: more than %d range sets",
						   WF_CNI_MAX_SETS);
			struct wf_cni_rangeset *rs = &conf->sets[conf->n_sets++];
			rs->n = 0;
			json_array_foreach(set, j, r)
			{
				if (rs->n == WF_CNI_MAX_RANGES)
					return wf_cni_fail(err, WF_CNI_E_CONFIG,
							   "ipam.ranges[%zu]: too many ranges", i);
				snprintf(path, sizeof(path), "ipam.ranges[%zu][%zu]", i, j);
				if (parse_range(r, &rs->r[rs->n], path, err) < 0)
					return -1;
				if (rs->r[rs->n].subnet.ip.family != rs->r[0].subnet.ip.family)
					return wf_cni_fail(err, WF_CNI_E_CONFIG,
							   "%s: mixed address families in one set",
							   path);
				rs->n++;
			}
		}
	}
	if (conf->n_sets == 0)
		return wf_cni_fail(err, WF_CNI_E_CONFIG,
				   "ipam: missing 'subnet' or 'ranges' (weft-ipam needs a range)");

	v = json_object_get(ipam, "routes");
	if (v) {
		size_t i;
		json_t *r;
		if (!json_is_array(v))
			return wf_cni_fail(err, WF_CNI_E_CONFIG, "ipam.routes must be an array");
		json_array_foreach(v, i, r)
		{
			const char *dst = NULL;
			char path[48];
			if (conf->n_routes == WF_CNI_MAX_ROUTES)
				return wf_cni_fail(err, WF_CNI_E_CONFIG, "ipam.routes: too many");
			struct wf_cni_route *rt = &conf->routes[conf->n_routes];
			memset(rt, 0, sizeof(*rt));
			if (!json_is_object(r) || get_str(r, "dst", &dst, true, err) < 0)
				return wf_cni_fail(err, WF_CNI_E_CONFIG,
						   "ipam.routes[%zu]: needs a 'dst' string", i);
			if (wf_cidr_parse(dst, false, &rt->dst) < 0)
				return wf_cni_fail(err, WF_CNI_E_CONFIG,
						   "ipam.routes[%zu].dst: invalid CIDR '%.64s'", i,
						   dst);
			wf_cidr_network(&rt->dst, &rt->dst.ip);
			snprintf(path, sizeof(path), "ipam.routes[%zu]", i);
			if (parse_ip_field(r, "gw", &rt->gw, path, err) < 0)
				return -1;
			conf->n_routes++;
		}
	}
	return 0;
}

static int add_req_ip(struct wf_cni_conf *conf, const char *s, struct wf_cni_err *err)
{
	struct wf_cidr c;
	/* "ips" entries may carry a prefix ("10.1.2.3/24"); the range decides the mask. */
	if (wf_cidr_parse(s, false, &c) < 0 && wf_ip_parse(s, &c.ip) < 0)
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "invalid requested IP '%.64s'", s);
	if (conf->n_req_ips == WF_CNI_MAX_SETS)
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "too many requested IPs");
	conf->req_ips[conf->n_req_ips++] = c.ip;
	return 0;
}

static int parse_ip_list(struct wf_cni_conf *conf, json_t *list, struct wf_cni_err *err)
{
	size_t i;
	json_t *v;
	if (!json_is_array(list))
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "'ips' must be an array of strings");
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v))
			return wf_cni_fail(err, WF_CNI_E_CONFIG, "'ips' must hold strings");
		if (add_req_ip(conf, json_string_value(v), err) < 0)
			return -1;
	}
	return 0;
}

static int parse_ports(struct wf_cni_conf *conf, json_t *pm, struct wf_cni_err *err)
{
	size_t i;
	json_t *p;
	if (!json_is_array(pm))
		return wf_cni_fail(err, WF_CNI_E_CONFIG,
				   "runtimeConfig.portMappings: not an array");
	json_array_foreach(pm, i, p)
	{
		json_int_t hp = json_integer_value(json_object_get(p, "hostPort"));
		json_int_t cp = json_integer_value(json_object_get(p, "containerPort"));
		const char *proto = "tcp", *hip = NULL;
		if (!json_is_object(p) || hp <= 0 || hp > 65535 || cp <= 0 || cp > 65535)
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "portMappings[%zu]: hostPort and containerPort must be "
					   "1-65535",
					   i);
		if (get_str(p, "protocol", &proto, false, err) < 0 ||
		    get_str(p, "hostIP", &hip, false, err) < 0)
			return -1;
		if (conf->n_ports == WF_CNI_MAX_PORTS)
			return wf_cni_fail(err, WF_CNI_E_CONFIG, "portMappings: too many");
		struct wf_cni_portmap *m = &conf->ports[conf->n_ports];
		memset(m, 0, sizeof(*m));
		m->host_port = (uint16_t)hp;
		m->container_port = (uint16_t)cp;
		if (!*proto)
			proto = "tcp";
		if (strcasecmp(proto, "tcp") && strcasecmp(proto, "udp") &&
		    strcasecmp(proto, "sctp"))
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "portMappings[%zu].protocol: unsupported '%.16s'", i,
					   proto);
		for (unsigned k = 0; proto[k] && k < sizeof(m->proto) - 1; k++)
			m->proto[k] = (char)tolower((unsigned char)proto[k]);
		if (hip && *hip && wf_ip_parse(hip, &m->host_ip) < 0)
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "portMappings[%zu].hostIP: invalid '%.64s'", i, hip);
		/* 0.0.0.0 and :: mean any address */
		static const uint8_t zero[16];
		if (m->host_ip.family && memcmp(m->host_ip.addr, zero, 16) == 0)
			m->host_ip.family = 0;
		conf->n_ports++;
	}
	return 0;
}

static int parse_u64(json_t *o, const char *k, uint64_t *ret)
{
	json_t *v = json_object_get(o, k);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_runtime(struct wf_cni_conf *conf, json_t *rc, struct wf_cni_err *err)
{
	json_t *v;
	if (!json_is_object(rc))
		return wf_cni_fail(err, WF_CNI_E_CONFIG, "'runtimeConfig' must be an object");
	if ((v = json_object_get(rc, "ips")) && parse_ip_list(conf, v, err) < 0)
		return -1;
	if ((v = json_object_get(rc, "portMappings")) && parse_ports(conf, v, err) < 0)
		return -1;
	if ((v = json_object_get(rc, "mac"))) {
		unsigned m[6];
		int n = 0;
		if (!json_is_string(v) ||
		    sscanf(json_string_value(v), "%2x:%2x:%2x:%2x:%2x:%2x%n", &m[0], &m[1], &m[2],
			   &m[3], &m[4], &m[5], &n) != 6 ||
		    json_string_value(v)[n] != 0 || (m[0] & 1))
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "runtimeConfig.mac: invalid unicast MAC address");
		for (int i = 0; i < 6; i++)
			conf->mac[i] = (uint8_t)m[i];
		conf->has_mac = true;
	}
	if ((v = json_object_get(rc, "bandwidth"))) {
		if (!json_is_object(v) || parse_u64(v, "ingressRate", &conf->bw.in_rate) < 0 ||
		    parse_u64(v, "ingressBurst", &conf->bw.in_burst) < 0 ||
		    parse_u64(v, "egressRate", &conf->bw.out_rate) < 0 ||
		    parse_u64(v, "egressBurst", &conf->bw.out_burst) < 0)
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "runtimeConfig.bandwidth: rates and bursts must be "
					   "non-negative integers");
		/* bandwidth plugin: a rate needs a burst and vice versa */
		if ((conf->bw.in_rate > 0) != (conf->bw.in_burst > 0) ||
		    (conf->bw.out_rate > 0) != (conf->bw.out_burst > 0))
			return wf_cni_fail(err, WF_CNI_E_CONFIG,
					   "runtimeConfig.bandwidth: a rate needs a burst");
		conf->has_bw = conf->bw.in_rate || conf->bw.out_rate;
	}
	return 0;
}

static const char *name_ok(const char *s)
{
	/* SPEC.md "Network configuration": ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ */
	if (!isalnum((unsigned char)s[0]))
		return NULL;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return NULL;
	return s;
}

int wf_cni_conf_parse(struct wf_cni_conf *conf, const char *buf, size_t len, enum wf_cni_cmd cmd,
		      struct wf_cni_err *err)
{
	json_error_t jerr;
	json_t *v;

	memset(conf, 0, sizeof(*conf));
	conf->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!conf->root) {
		wf_cni_fail(err, WF_CNI_E_DECODE, "invalid JSON on stdin: %s (line %d, column %d)",
			    jerr.text, jerr.line, jerr.column);
		return -1;
	}
	if (!json_is_object(conf->root)) {
		wf_cni_fail(err, WF_CNI_E_DECODE, "configuration must be a JSON object");
		goto fail;
	}
	if (get_str(conf->root, "cniVersion", &conf->version, false, err) < 0) {
		err->code = WF_CNI_E_DECODE;
		goto fail;
	}
	if (!conf->version && cmd != WF_CNI_VERSION) {
		/* skel: no cniVersion means 0.1.0, which weft does not speak */
		wf_cni_fail(
			err, WF_CNI_E_VERSION,
			"missing cniVersion (0.1.0 assumed); supported: 0.3.0 0.3.1 0.4.0 1.0.0 "
			"1.1.0");
		goto fail;
	}
	if (conf->version && wf_cni_version_supported(conf->version))
		snprintf(err->version, sizeof(err->version), "%s", conf->version);
	if (cmd == WF_CNI_VERSION)
		return 0;
	int vn = wf_cni_version_num(conf->version);
	if (vn < 0) {
		wf_cni_fail(err, WF_CNI_E_DECODE, "invalid cniVersion '%.32s'", conf->version);
		goto fail;
	}
	conf->vnum = (unsigned)vn;
	if (!wf_cni_version_supported(conf->version)) {
		wf_cni_fail(err, WF_CNI_E_VERSION,
			    "incompatible CNI versions: config is \"%.32s\", plugin supports "
			    "[\"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]",
			    conf->version);
		goto fail;
	}
	if ((cmd == WF_CNI_STATUS || cmd == WF_CNI_GC) && conf->vnum < 10100) {
		wf_cni_fail(err, WF_CNI_E_VERSION, "config version %s does not allow %s",
			    conf->version, cmd == WF_CNI_GC ? "GC" : "STATUS");
		goto fail;
	}
	if (get_str(conf->root, "name", &conf->name, true, err) < 0 ||
	    get_str(conf->root, "type", &conf->type, true, err) < 0)
		goto fail;
	if (!name_ok(conf->name)) {
		wf_cni_fail(err, WF_CNI_E_CONFIG, "invalid network name '%.64s'", conf->name);
		goto fail;
	}

	const char *mode = "bridge";
	conf->bridge = "cni0";
	conf->hairpin = false;
	if (get_str(conf->root, "mode", &mode, false, err) < 0 ||
	    get_str(conf->root, "bridge", &conf->bridge, false, err) < 0 ||
	    get_bool(conf->root, "isGateway", &conf->is_gw, err) < 0 ||
	    get_bool(conf->root, "isDefaultGateway", &conf->is_default_gw, err) < 0 ||
	    get_bool(conf->root, "ipMasq", &conf->ip_masq, err) < 0 ||
	    get_bool(conf->root, "hairpinMode", &conf->hairpin, err) < 0 ||
	    get_str(conf->root, "stateDir", &conf->state_dir, false, err) < 0)
		goto fail;
	if (strcmp(mode, "bridge") == 0) {
		conf->mode = WF_CNI_MODE_BRIDGE;
	} else if (strcmp(mode, "routed") == 0) {
		conf->mode = WF_CNI_MODE_ROUTED;
	} else {
		wf_cni_fail(err, WF_CNI_E_CONFIG,
			    "mode: unsupported value '%.32s' (bridge, routed)", mode);
		goto fail;
	}
	/* reference bridge: isDefaultGateway implies isGateway */
	if (conf->is_default_gw)
		conf->is_gw = true;
	if (!wf_cni_ifname_valid(conf->bridge)) {
		wf_cni_fail(err, WF_CNI_E_CONFIG, "bridge: invalid interface name '%.32s'",
			    conf->bridge);
		goto fail;
	}
	if ((v = json_object_get(conf->root, "mtu"))) {
		json_int_t m = json_integer_value(v);
		if (!json_is_integer(v) || m < 68 || m > 65535) {
			wf_cni_fail(err, WF_CNI_E_CONFIG, "mtu: must be an integer 68-65535");
			goto fail;
		}
		conf->mtu = (unsigned)m;
	}
	if ((v = json_object_get(conf->root, "ipam")) && parse_ipam(conf, v, err) < 0)
		goto fail;
	if ((v = json_object_get(conf->root, "dns")) && json_is_object(v))
		conf->dns = v;
	if ((v = json_object_get(conf->root, "runtimeConfig")) && parse_runtime(conf, v, err) < 0)
		goto fail;
	/* CONVENTIONS.md: args.cni.ips */
	v = json_object_get(json_object_get(json_object_get(conf->root, "args"), "cni"), "ips");
	if (v && parse_ip_list(conf, v, err) < 0)
		goto fail;
	conf->prev_result = json_object_get(conf->root, "prevResult");
	if (conf->prev_result && !json_is_object(conf->prev_result)) {
		wf_cni_fail(err, WF_CNI_E_DECODE, "prevResult must be an object");
		goto fail;
	}
	/* SPEC.md GC: the real key is cni.dev/valid-attachments (cni#1101); older texts said
	 * cni.dev/attachments. */
	conf->valid = json_object_get(conf->root, "cni.dev/valid-attachments");
	if (!conf->valid)
		conf->valid = json_object_get(conf->root, "cni.dev/attachments");
	if (cmd == WF_CNI_GC && conf->valid && !json_is_array(conf->valid)) {
		wf_cni_fail(err, WF_CNI_E_CONFIG, "cni.dev/valid-attachments must be an array");
		goto fail;
	}
	return 0;
fail:
	json_decref(conf->root);
	conf->root = NULL;
	conf->version = NULL; /* it pointed into root */
	return -1;
}

void wf_cni_conf_done(struct wf_cni_conf *conf)
{
	json_decref(conf->root);
	conf->root = NULL;
}

void wf_cni_err_print(const struct wf_cni_err *err, const char *version, FILE *out)
{
	if (!version || !wf_cni_version_supported(version))
		version = err->version[0] ? err->version : "1.1.0";
	json_t *o = json_pack("{s:s, s:i, s:s}", "cniVersion", version, "code", err->code, "msg",
			      err->msg);
	if (!o) {
		fprintf(out, "{\"code\":%d,\"msg\":\"out of memory\"}\n", err->code);
		return;
	}
	if (err->details[0])
		json_object_set_new(o, "details", json_string(err->details));
	json_dumpf(o, out, JSON_COMPACT);
	fputc('\n', out);
	json_decref(o);
}

/* --- results --- */

static json_t *ip_json(const struct wf_cni_ip *ip, int iface, bool old_shape)
{
	char buf[WF_CIDR_STRLEN + 4];
	char gw[WF_IP_STRLEN];
	wf_ip_format(&ip->ip, buf);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%u", ip->prefix);
	json_t *o = json_pack("{s:s}", "address", buf);
	if (!o)
		return NULL;
	/* 0.3.x/0.4.0 results carry "version"; 1.0.0 removed it. */
	if (old_shape)
		json_object_set_new(o, "version",
				    json_string(ip->ip.family == AF_INET ? "4" : "6"));
	if (ip->gw.family)
		json_object_set_new(o, "gateway", json_string(wf_ip_format(&ip->gw, gw)));
	if (iface >= 0)
		json_object_set_new(o, "interface", json_integer(iface));
	return o;
}

static void reshape_ips(json_t *ips, bool old_shape)
{
	size_t i;
	json_t *ip;
	json_array_foreach(ips, i, ip)
	{
		if (!json_is_object(ip))
			continue;
		if (!old_shape) {
			json_object_del(ip, "version");
		} else if (!json_object_get(ip, "version")) {
			const char *a = json_string_value(json_object_get(ip, "address"));
			json_object_set_new(ip, "version",
					    json_string(a && strchr(a, ':') ? "6" : "4"));
		}
	}
}

json_t *wf_cni_result_build(const struct wf_cni_conf *conf, const char *netns,
			    const struct wf_cni_iface *ifaces, unsigned n_ifaces, int ip_iface,
			    const struct wf_cni_ip *ips, unsigned n_ips,
			    const struct wf_cni_route *routes, unsigned n_routes, bool ipam_only)
{
	bool old_shape = conf->vnum < 10000;
	json_t *res = conf->prev_result ? json_deep_copy(conf->prev_result) : json_object();
	if (!res)
		return NULL;
	json_object_set_new(res, "cniVersion", json_string(conf->version));
	json_t *jif = json_object_get(res, "interfaces");
	json_t *jips = json_object_get(res, "ips");
	json_t *jrt = json_object_get(res, "routes");
	if (!json_is_array(jif) && !ipam_only)
		json_object_set_new(res, "interfaces", jif = json_array());
	if (!json_is_array(jips))
		json_object_set_new(res, "ips", jips = json_array());
	if (!json_is_array(jrt) && n_routes)
		json_object_set_new(res, "routes", jrt = json_array());
	reshape_ips(jips, old_shape);
	int base = jif ? (int)json_array_size(jif) : 0;
	for (unsigned i = 0; i < n_ifaces; i++) {
		char mac[18];
		const uint8_t *m = ifaces[i].mac;
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		json_t *o = json_pack("{s:s, s:s}", "name", ifaces[i].name, "mac", mac);
		if (!o)
			goto fail;
		if (ifaces[i].sandbox)
			json_object_set_new(o, "sandbox", json_string(netns));
		if (conf->vnum >= 10100 && ifaces[i].mtu)
			json_object_set_new(o, "mtu", json_integer(ifaces[i].mtu));
		json_array_append_new(jif, o);
	}
	for (unsigned i = 0; i < n_ips; i++) {
		json_t *o = ip_json(&ips[i], ip_iface >= 0 ? base + ip_iface : -1, old_shape);
		if (!o)
			goto fail;
		json_array_append_new(jips, o);
	}
	for (unsigned i = 0; i < n_routes; i++) {
		char dst[WF_CIDR_STRLEN], gw[WF_IP_STRLEN];
		json_t *o = json_pack("{s:s}", "dst", wf_cidr_format(&routes[i].dst, dst));
		if (!o)
			goto fail;
		if (routes[i].gw.family)
			json_object_set_new(o, "gw", json_string(wf_ip_format(&routes[i].gw, gw)));
		json_array_append_new(jrt, o);
	}
	if (conf->dns && !json_object_get(res, "dns"))
		json_object_set(res, "dns", conf->dns);
	return res;
fail:
	json_decref(res);
	return NULL;
}

int wf_cni_result_ips(json_t *result, struct wf_cni_ip *ips, unsigned max)
{
	size_t i;
	json_t *ip;
	unsigned n = 0;
	json_array_foreach(json_object_get(result, "ips"), i, ip)
	{
		const char *a = json_string_value(json_object_get(ip, "address"));
		const char *g = json_string_value(json_object_get(ip, "gateway"));
		struct wf_cidr c;
		if (!a || wf_cidr_parse(a, false, &c) < 0 || n == max)
			return -1;
		memset(&ips[n], 0, sizeof(ips[n]));
		ips[n].ip = c.ip;
		ips[n].prefix = c.prefix;
		if (g && wf_ip_parse(g, &ips[n].gw) < 0)
			return -1;
		n++;
	}
	return (int)n;
}
