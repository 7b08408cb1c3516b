/* weft validate: parse manifests, list every error, summarise. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/load.h"
#include "k8s/store.h"
#include "lib/error.h"

static const char usage[] =
	"Usage: weft validate -f PATH [-f PATH]...\n"
	"       weft validate PATH...\n"
	"\n"
	"Parses Kubernetes manifests as weft reads them (the API server's defaults and checks\n"
	"applied) and reports every problem as\n"
	"\n"
	"  file:line:column: field.path: reason\n"
	"\n"
	"A PATH is a file (YAML, multi-document YAML, JSON, or a List) or a directory, read\n"
	"recursively for *.yaml, *.yml and *.json. An object defined in two files is an error that\n"
	"names both. Kinds weft does not use (ConfigMap, RBAC, ...) are counted as ignored.\n"
	"\n"
	"Options:\n"
	"  -f, --filename PATH   a manifest file or directory (repeatable)\n"
	"  -q, --quiet           print only errors, no summary line\n"
	"  -h, --help            show this help\n"
	"\n"
	"Exit status: 0 when every file is valid, 1 when any is not, 2 on a usage error.\n"
	"\n"
	"Examples:\n"
	"  weft validate -f examples/\n"
	"  weft validate -f app.yaml -f services.json\n";

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int wf_cli_cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"filename", required_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct wf_cli_paths paths = {0};
	struct wf_store *store = NULL;
	bool quiet = false;
	int c, status = WF_CLI_EXIT_USAGE;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (wf_cli_paths_add(&paths, optarg) < 0)
				goto oom;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			status = wf_cli_opt_common("validate", usage, c, argv);
			goto out;
		}
	}
	for (; optind < argc; optind++)
		if (wf_cli_paths_add(&paths, argv[optind]) < 0)
			goto oom;

	struct wf_source_dir_stats st;
	size_t errors;
	status = wf_cli_load_new("validate", usage, &paths, stdout, &store, &st, &errors);
	if (status != WF_CLI_EXIT_OK)
		goto out;
	if (errors == 0) {
		if (!quiet) {
			printf("ok: %zu %s in %zu %s", st.objects,
			       plural(st.objects, "object", "objects"), st.files,
			       plural(st.files, "file", "files"));
			if (st.ignored)
				printf(" (%zu ignored %s)", st.ignored,
				       plural(st.ignored, "kind", "kinds"));
			printf("\n");
		}
		status = WF_CLI_EXIT_OK;
	} else {
		if (!quiet)
			printf("failed: %zu %s; %zu %s in %zu valid %s\n", errors,
			       plural(errors, "error", "errors"), st.objects,
			       plural(st.objects, "object", "objects"), st.files,
			       plural(st.files, "file", "files"));
		status = WF_CLI_EXIT_FAIL;
	}
	goto out;
oom:
	fprintf(stderr, "weft validate: %s\n", strerror(ENOMEM));
	status = WF_CLI_EXIT_FAIL;
out:
	wf_store_free(store);
	wf_cli_paths_done(&paths);
	return status;
}
