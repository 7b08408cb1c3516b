/* weft-cni and weft-ipam: one program, chosen by the name it runs under. Nothing happens at
 * start-up that an ADD does not need: no logging set-up, no configuration files. */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include <jansson.h>

#include "cni/cni.h"

int main(int argc, char **argv)
{
	(void)argc;
	/* jansson seeds its hash function from /dev/urandom (three system calls) unless given a
	 * seed: the kernel's AT_RANDOM bytes are there already */
	const void *rnd = (const void *)getauxval(AT_RANDOM);
	uint32_t seed = 0;
	if (rnd)
		memcpy(&seed, rnd, sizeof(seed));
	json_object_seed(seed | 1);
	int ret = wf_cni_main(argv[0] ? argv[0] : "weft-cni", stdin, stdout);
	fflush(stdout);
	return ret;
}
