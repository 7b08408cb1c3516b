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
	/* default limits, then a document limit of about half the input (the per-document
	 * max_doc_bytes check in multi-document streams) */
	if (yd_check(buf, size, why, sizeof(why)) < 0 ||
	    yd_check_max_doc(buf, size, size / 2 + 1, why, sizeof(why)) < 0) {
		fprintf(stderr, "fast path differs from libyaml: %s\n", why);
		abort();
	}
	free(buf);
	return 0;
}
