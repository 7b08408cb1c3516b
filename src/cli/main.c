/* weft: dispatch to a subcommand (commands.c). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f, "weft - Kubernetes networking in C\n"
		   "\n"
		   "Usage: weft COMMAND [OPTIONS]\n"
		   "\n"
		   "Commands:\n");
	for (const struct wf_cli_command *c = wf_cli_commands; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\n"
		   "Options:\n"
		   "  -h, --help     Show this help\n"
		   "  --version      Print the version\n"
		   "\n"
		   "Run 'weft COMMAND --help' for the options of a command, e.g.\n"
		   "  weft validate -f manifests/\n"
		   "  weft get services -A -f manifests/\n");
}

int wf_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "weft%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	if (usage) {
		const char *end = strstr(usage, "\n\n");
		fprintf(stderr, "\n%.*s\n", end ? (int)(end - usage) : (int)strlen(usage), usage);
	}
	fprintf(stderr, "\nRun 'weft%s%s --help' for usage.\n", cmd ? " " : "", cmd ? cmd : "");
	return WF_CLI_EXIT_USAGE;
}

int wf_cli_opt_common(const char *cmd, const char *usage, int c, char **argv)
{
	if (c == 'h') {
		fputs(usage, stdout);
		return WF_CLI_EXIT_OK;
	}
	if (c == ':')
		return wf_cli_usage_error(cmd, usage, "option '%s' needs a value",
					  argv[optind - 1]);
	return wf_cli_usage_error(cmd, usage, "unknown option '%s'", argv[optind - 1]);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return WF_CLI_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
		if (argc > 2 && strcmp(name, "help") == 0) {
			/* "weft help get" is "weft get --help" */
			for (const struct wf_cli_command *c = wf_cli_commands; c->name; c++)
				if (strcmp(c->name, argv[2]) == 0) {
					char *args[] = {argv[2], "--help", NULL};
					return c->run(2, args);
				}
			return wf_cli_usage_error(NULL, NULL, "unknown command '%s'", argv[2]);
		}
		usage(stdout);
		return WF_CLI_EXIT_OK;
	}
	if (strcmp(name, "--version") == 0) {
		char *args[] = {"version", NULL};
		return wf_cli_cmd_version(1, args);
	}
	for (const struct wf_cli_command *c = wf_cli_commands; c->name && name[0] != '-'; c++)
		if (strcmp(c->name, name) == 0)
			return c->run(argc - 1, argv + 1);
	/* Not a command: say so, then show what there is. */
	fprintf(stderr, "weft: unknown %s '%s'\n\n", name[0] == '-' ? "option" : "command", name);
	usage(stderr);
	return WF_CLI_EXIT_USAGE;
}
