/* weft-cni and weft-ipam: one program, chosen by the name it runs under. Nothing happens at
 * start-up that an ADD does not need: no logging set-up, no configuration files. */
#include <stdio.h>

#include "cni/cni.h"

int main(int argc, char **argv)
{
	(void)argc;
	int ret = wf_cni_main(argv[0] ? argv[0] : "weft-cni", stdin, stdout);
	fflush(stdout);
	return ret;
}
