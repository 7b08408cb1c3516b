/* Fuzz target: manifest parsing from arbitrary bytes (YAML, or JSON when the input starts with
 * '{' or '['). Every successful parse is walked (keys, selectors, endpoint conditions); every
 * failure must come with a diagnostic. Built as fuzz-k8s-yaml and, with WF_FUZZ_JSON, as
 * fuzz-k8s-json, which forces the JSON path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/object.h"
#include "lib/yaml-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct wf_k8s_object *o)
{
	volatile size_t sink = strlen(wf_k8s_object_key(o));

	if (o->kind == WF_K8S_NETWORKPOLICY)
		sink += wf_k8s_selector_matches(&o->networkpolicy->pod_selector, &o->labels);
	if (o->kind == WF_K8S_DEPLOYMENT)
		sink += wf_k8s_selector_matches(&o->deployment->selector, &o->labels);
	if (o->kind == WF_K8S_SERVICE)
		sink += wf_k8s_map_matches(&o->service->selector, &o->labels);
	if (o->kind == WF_K8S_ENDPOINTSLICE)
		for (size_t i = 0; i < o->endpointslice->n_endpoints; i++)
			sink += wf_k8s_endpoint_serving(&o->endpointslice->endpoints[i]);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wf_k8s_parse_result res;
	struct wf_diag diag;
	char line[1024];
	char *buf;
	int r;

	/* A private copy, not NUL-terminated at size: the parser must respect len. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
#ifdef WF_FUZZ_JSON
	if (size > 0 && buf[0] != '{' && buf[0] != '[')
		buf[0] = '{';
#endif
	r = wf_k8s_parse(buf, size, "fuzz", &res, &diag);
	if (r >= 0) {
		for (size_t i = 0; i < res.n_objects; i++)
			walk(res.objects[i]);
		wf_k8s_parse_result_done(&res);
	} else {
		wf_diag_format(&diag, line, sizeof(line));
		if (!diag.msg[0])
			abort(); /* every error explains itself */
	}
	/* The error-path locator must cope with any text too. */
	struct wf_yj_step path[] = {{"spec", 0}, {"ports", 0}, {NULL, 1}, {"port", 0}};
	unsigned l, c, lines[4], cols[4];
	wf_yj_locate(buf, size, 0, path, 4, &l, &c);
	wf_yj_locate_items(buf, size, 0, path, 1, lines, cols, 4);
	free(buf);
	return 0;
}
