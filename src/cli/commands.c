/* The subcommands of weft, one line each, in the order `weft --help` lists them. A part that
 * adds a command declares its function in its own header and adds one line here (and its
 * dependency in src/cli/meson.build). */
#include "cli/cli.h"

const struct wf_cli_command wf_cli_commands[] = {
	{"get", "Show the objects in manifests, kubectl-style", wf_cli_cmd_get},
	{"validate", "Check manifests and report every error", wf_cli_cmd_validate},
	{"version", "Print the version", wf_cli_cmd_version},
	{NULL, NULL, NULL},
};
