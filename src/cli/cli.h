/* The weft command line: one binary, subcommands from a table (commands.c). Each command is a
 * function taking its own argv (argv[0] is the command name) and returning the process exit
 * status: 0 success, 1 failure (bad manifests, object not found), 2 usage error. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#define WF_CLI_EXIT_OK 0
#define WF_CLI_EXIT_FAIL 1
#define WF_CLI_EXIT_USAGE 2

struct wf_cli_command {
	const char *name;
	const char *summary; /* one line for `weft --help` */
	int (*run)(int argc, char **argv);
};

/* The table, ended by an entry with name == NULL (commands.c). */
extern const struct wf_cli_command wf_cli_commands[];

/* Prints "weft CMD: <message>", the synopsis of usage (its lines up to the first blank one;
 * usage may be NULL) and "Run 'weft CMD --help' for more." to stderr; returns
 * WF_CLI_EXIT_USAGE. cmd NULL stands for weft itself. */
int wf_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The getopt_long results every command treats alike: 'h' prints usage to stdout and returns
 * WF_CLI_EXIT_OK; ':' (an option without its value) and anything else are usage errors
 * (wf_cli_usage_error) and return WF_CLI_EXIT_USAGE. argv is the command's, after getopt. */
int wf_cli_opt_common(const char *cmd, const char *usage, int c, char **argv);

/* Commands (one file each). */
int wf_cli_cmd_version(int argc, char **argv);
int wf_cli_cmd_validate(int argc, char **argv);
int wf_cli_cmd_get(int argc, char **argv);
