/* weft-lab: a development entry point with the same `lab` and `echo` subcommands as `weft`,
 * for this module's tests while the `weft` command table is being built. */
#include <stdio.h>
#include <string.h>

#include "lab/lab.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "lab"))
		return wf_lab_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "echo"))
		return wf_lab_echo_main(argc - 1, argv + 1);
	fprintf(stderr, "usage: weft-lab lab|echo ...\n");
	return 2;
}
