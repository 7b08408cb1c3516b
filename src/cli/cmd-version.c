/* weft version */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

static const char usage[] = "Usage: weft version\n"
			    "\n"
			    "Prints the version of weft.\n";

int wf_cli_cmd_version(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		return wf_cli_opt_common("version", usage, c, argv);
	}
	if (optind < argc)
		return wf_cli_usage_error("version", usage, "unexpected argument '%s'",
					  argv[optind]);
	printf("weft %s\n", WF_VERSION);
	return WF_CLI_EXIT_OK;
}
