/* Fuzz target: the lab's manifest loading and its own checks (src/lab/lab-manifest.c), on top of
 * the shared validator. Any input must give objects or a "fuzz.yaml:..." error, never a crash
 * or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab-internal.h"
#include "lib/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wf_lab_docs docs = {0};
	struct wf_lab lab = {.name = "fuzz", .nodes = 3};
	char err[512] = "";
	char *text;
	int r;

	if (size > 1 << 20)
		return 0;
	text = wf_malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = wf_lab_manifest_load_text(text, "fuzz.yaml", &docs, err, sizeof(err));
	if (r == 0)
		r = wf_lab_manifest_validate(&lab, &docs, err, sizeof(err));
	/* every refusal names the file (and, from the checks, the position) */
	if (r < 0 && strncmp(err, "fuzz.yaml", 9) != 0)
		abort();
	for (size_t i = 0; i < docs.n; i++) {
		char name[512];

		wf_lab_object_file(docs.v[i].obj, name, sizeof(name));
		/* names are checked before the lab makes a file of them */
		if (r == 0 && strchr(name, '/'))
			abort();
	}
	wf_lab_docs_done(&docs);
	wf_free(text);
	return 0;
}
