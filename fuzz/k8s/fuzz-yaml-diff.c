/* Fuzz target: the YAML fast path against libyaml (yaml-diff.h); aborts on any difference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml-diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[768];
	/* A private copy, not NUL-terminated at size: the parser must respect len. */
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (yd_check(buf, size, why, sizeof(why)) < 0) {
		fprintf(stderr, "fast path differs from libyaml: %s\n", why);
		abort();
	}
	free(buf);
	return 0;
}
