/* The subcommands of weft, one line each, in the order `weft --help` lists them. A part that
 * adds a command declares its function in its own header and adds one line here (and its
 * dependency in src/cli/meson.build). */
#include "cli/cli.h"
#include "agent/agent.h"
#include "lab/lab.h"
#include "dns/dns.h"
#include "proxy/cmd.h"

const struct wf_cli_command wf_cli_commands[] = {
	{"get", "Show the objects in manifests, kubectl-style", wf_cli_cmd_get},
	{"validate", "Check manifests and report every error", wf_cli_cmd_validate},
	{"version", "Print the version", wf_cli_cmd_version},
	{"render", "Print the nftables ruleset manifests yield (render proxy -f PATH)",
	 wf_proxy_render_main},
	{"agent", "Run the node's network: fabric and the registered reconcilers", wf_agent_main},
	{"dns", "Run the cluster DNS server (Kubernetes DNS spec 1.1.0)", wf_dns_main},
	{"lab", "Run a virtual multi-node cluster of network namespaces", wf_lab_main},
	{"echo", "The example server of image weft/echo (lab pods)", wf_lab_echo_main},
	{NULL, NULL, NULL},
};
