/* Fuzz target: the lab's manifest reader and checks (src/lab/lab-manifest.c). Any input must
 * give objects or a "file:line: message" error, never a crash or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lab/lab-internal.h"
#include "lib/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wf_lab_docs docs = {0};
	struct wf_lab lab = {.name = "fuzz", .nodes = 3};
	char err[512];
	char *text;

	if (size > 1 << 20)
		return 0;
	text = wf_malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (wf_lab_manifest_load_text(text, "fuzz.yaml", &docs, err, sizeof(err)) == 0)
		wf_lab_manifest_validate(&lab, &docs, err, sizeof(err));
	for (size_t i = 0; i < docs.n; i++) {
		char name[512];

		wf_lab_object_file(docs.v[i].obj, name, sizeof(name));
	}
	wf_lab_docs_done(&docs);
	wf_free(text);
	return 0;
}
