/* weft-cni and weft-ipam: one program, chosen by the name it runs under. Nothing happens at
 * start-up that an ADD does not need: no logging set-up, no configuration files. */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include <jansson.h>

#include "cni/cni.h"

int main(int argc, char **argv)
{
	/* weft-ipam list DIR: what the store of one network holds, for operators (the store is
	 * one file, not a file per address as host-local's) */
	if (argc == 3 && strcmp(argv[1], "list") == 0) {
		int e = wf_cni_ipam_list(argv[2], stdout);
		if (e < 0)
			fprintf(stderr, "%s: %s: %s\n", argv[0], argv[2], strerror(-e));
		return e < 0;
	}
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
