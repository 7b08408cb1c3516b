/* weft lab: a virtual multi-node Kubernetes cluster made of network namespaces on one host
 * (DESIGN.md "The lab", docs/lab.md). Entry points for the `weft` command table.
 *
 * Thread context: each entry point owns the process it runs in (it may fork, setns, exec and
 * install signal handlers); call it from main() only. */
#pragma once

/* `weft lab SUBCOMMAND ...` (argv[0] is "lab"). Returns the process exit status. */
int wf_lab_main(int argc, char **argv);
/* `weft echo ...` (argv[0] is "echo"): the built-in example server of image weft/echo. Returns
 * the process exit status. */
int wf_lab_echo_main(int argc, char **argv);
