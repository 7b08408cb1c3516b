/* weft-cni input parsers: the network configuration (with prevResult, runtimeConfig, args,
 * GC attachments), result building from it, and CNI_ARGS. */
#include <stdint.h>
#include <string.h>

#include "cni/cni.h"
#include "lib/alloc.h"
#include "lib/ip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum wf_cni_cmd cmds[] = {WF_CNI_ADD, WF_CNI_GC, WF_CNI_VERSION};
	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct wf_cni_conf conf;
		struct wf_cni_err err = {0};
		if (wf_cni_conf_parse(&conf, (const char *)data, size, cmds[i], &err) < 0)
			continue;
		if (cmds[i] == WF_CNI_ADD) {
			struct wf_cni_ip ips[WF_CNI_MAX_RESULT_IPS];
			struct wf_cni_iface ifs[1] = {{.name = "eth0", .sandbox = true}};
			if (conf.prev_result)
				wf_cni_result_ips(conf.prev_result, ips, WF_CNI_MAX_RESULT_IPS);
			memset(ips, 0, sizeof(ips));
			wf_ip_parse("10.0.0.2", &ips[0].ip);
			ips[0].prefix = 24;
			json_t *res = wf_cni_result_build(&conf, "/run/netns/x", ifs, 1, 0, ips, 1,
							  conf.routes, conf.n_routes, false);
			json_decref(res);
		}
		wf_cni_conf_done(&conf);
	}
	char *s = wf_strndup((const char *)data, size);
	if (s) {
		struct wf_cni_env env = {0};
		struct wf_cni_err err = {0};
		wf_cni_args_parse(&env, s, &err);
		wf_cni_ifname_valid(s);
		wf_cni_version_num(s);
		wf_free(s);
	}
	return 0;
}
