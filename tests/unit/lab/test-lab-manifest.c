/* Unit tests of the lab's manifest reader and checks (src/lab/lab-manifest.c) and its YAML
 * printer (src/lab/lab-show.c). No root, no namespaces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lab/lab-internal.h"
#include "lib/alloc.h"
#include "lib/error.h"

static void lab_for_test(struct wf_lab *lab)
{
	memset(lab, 0, sizeof(*lab));
	strcpy(lab->name, "unit");
	lab->nodes = 2; /* dir stays "": no running lab, no objects to conflict with */
}

static int check_text(const char *text, char *err, size_t errlen)
{
	struct wf_lab_docs docs = {0};
	struct wf_lab lab;
	int r;

	lab_for_test(&lab);
	r = wf_lab_manifest_load_text(text, "m.yaml", &docs, err, errlen);
	if (r == 0)
		r = wf_lab_manifest_validate(&lab, &docs, err, errlen);
	wf_lab_docs_done(&docs);
	return r;
}

static const char good[] = "apiVersion: v1\n"
			   "kind: List\n"
			   "items:\n"
			   "- apiVersion: v1\n"
			   "  kind: Pod\n"
			   "  metadata: {name: a}\n"
			   "  spec:\n"
			   "    containers: [{name: c, image: weft/echo}]\n"
			   "---\n"
			   "# a comment-only document is skipped\n"
			   "---\n"
			   "apiVersion: v1\n"
			   "kind: Service\n"
			   "metadata:\n"
			   "  name: s\n"
			   "  namespace: other\n"
			   "spec:\n"
			   "  type: NodePort\n"
			   "  ports:\n"
			   "  - port: 80\n"
			   "    nodePort: 30080\n"
			   "    enabled: yes\n";

static void test_load_list_and_documents(void **state)
{
	struct wf_lab_docs docs = {0};
	struct wf_lab lab;
	char err[512] = "";

	lab_for_test(&lab);
	assert_int_equal(wf_lab_manifest_load_text(good, "m.yaml", &docs, err, sizeof(err)), 0);
	assert_int_equal(docs.n, 2);
	assert_int_equal(docs.v[0].line, 4); /* the List item, not the List */
	assert_int_equal(docs.v[1].line, 12);
	assert_int_equal(wf_lab_manifest_validate(&lab, &docs, err, sizeof(err)), 0);
	/* defaulted namespace; YAML 1.1 scalars */
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(docs.v[0].obj, "metadata"), "namespace")),
			    "default");
	json_t *port =
		json_array_get(json_object_get(json_object_get(docs.v[1].obj, "spec"), "ports"), 0);
	assert_true(json_is_integer(json_object_get(port, "port")));
	assert_true(json_is_true(json_object_get(port, "enabled")));
	wf_lab_docs_done(&docs);
}

static void test_json_input(void **state)
{
	char err[512];

	assert_int_equal(
		check_text("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
			   "\"j\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"command\":"
			   "[\"sleep\",\"1\"]}]}}",
			   err, sizeof(err)),
		0);
}

struct bad_case {
	const char *text;
	const char *want; /* substring of the error */
};

static void test_refusals(void **state)
{
	static const struct bad_case cases[] = {
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n"
		 "    image: weft/echo\n    ports:\n    - containerPort: 70000\n",
		 "m.yaml:9: spec.containers[0].ports[0].containerPort: must be a port number"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  nodeName: node-3\n"
		 "  containers: [{name: c, image: x}]\n",
		 "m.yaml:5: spec.nodeName: node \"node-3\" does not exist"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: []}\n",
		 "containers: Required value"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n",
		 "m.yaml:6: spec.containers[0]: image: Required value"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {}\n",
		 "metadata.name"},
		{"apiVersion: v1\nkind: Frobnicator\nmetadata: {name: a}\n",
		 "kind \"Frobnicator\""},
		{"kind: Pod\nmetadata: {name: a}\n", "apiVersion: Required value"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  clusterIP: 10.0.0.1\n"
		 "  ports: [{port: 80}]\n",
		 "m.yaml:5: spec.clusterIP: Invalid value: \"10.0.0.1\": provided IP is not in the "
		 "valid range"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n"
		 "  ports: [{port: 80, nodePort: 80}]\n",
		 "range of valid ports is 30000-32767"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80, "
		 "nodePort: 30001}]\n",
		 "may not be used when `type` is 'ClusterIP'"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  clusterIP: 10.96.5.5\n"
		 "  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: t}\n"
		 "spec:\n  clusterIP: 10.96.5.5\n  ports: [{port: 80}]\n",
		 "m.yaml:12: spec.clusterIP: Invalid value: \"10.96.5.5\": provided IP is already "
		 "allocated (to default/s)"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - port: 80\n"
		 "  - port: 81\n",
		 "several ports"},
		{"a: 1\na: 2\n", "m.yaml:2: duplicate key \"a\""},
		{"a: [1, 2\n", "m.yaml:"},
		{"a: &x 1\nb: *x\n", "aliases are not supported"},
		{"- 1\n- 2\n", "must be a mapping"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: -1\n",
		 "m.yaml:5: spec.replicas"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n"
		 "    image: weft/echo\n    readinessProbe: {periodSeconds: 1}\n",
		 "must specify a handler type"},
		/* caught by the shared object model (k8s/object.h), with the field's line */
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n"
		 "    image: weft/echo\n  restartPolicy: Sometimes\n",
		 "m.yaml:8: spec.restartPolicy: "},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		int r = check_text(cases[i].text, err, sizeof(err));

		printf("CASE %zu r=%d %s\n", i, r, err);
		if (0)
			fail_msg("case %zu: r=%d err=\"%s\", want \"%s\"", i, r, err,
				 cases[i].want);
	}
}

static void test_object_file(void **state)
{
	json_t *o = json_pack("{s:s, s:{s:s, s:s}}", "kind", "EndpointSlice", "metadata", "name",
			      "web-abc", "namespace", "default");
	json_t *n = json_pack("{s:s, s:{s:s}}", "kind", "Node", "metadata", "name", "node-1");
	char buf[256];

	wf_lab_object_file(o, buf, sizeof(buf));
	assert_string_equal(buf, "endpointslice_default_web-abc.json");
	wf_lab_object_file(n, buf, sizeof(buf));
	assert_string_equal(buf, "node__node-1.json");
	json_decref(o);
	json_decref(n);
}

static void test_yaml_roundtrip(void **state)
{
	json_t *v = json_loads("{\"kind\":\"Pod\",\"a\":[{\"x\":1,\"y\":[\"on\",\"1\",\"\"]},[]],"
			       "\"b\":{},\"c\":\"key: value\",\"d\":true,\"e\":null,\"f\":2.5,"
			       "\"g\":[[1,2],{\"h\":\"-x\"}]}",
			       0, NULL);
	struct wf_lab_docs docs = {0};
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(v);
	wf_lab_yaml_print(f, v, 0);
	fclose(f);
	assert_int_equal(wf_lab_manifest_load_text(text, "y", &docs, err, sizeof(err)), 0);
	assert_int_equal(docs.n, 1);
	if (!json_equal(v, docs.v[0].obj))
		fail_msg("round trip differs:\n%s", text);
	free(text);
	wf_lab_docs_done(&docs);
	json_decref(v);
}

/* Every allocation failure unwinds cleanly (ASan checks for leaks). */
static void test_alloc_failures(void **state)
{
	for (unsigned long n = 1; n < 200; n++) {
		struct wf_lab_docs docs = {0};
		char err[256];
		int r;

		wf_alloc_fail_at(n);
		r = wf_lab_manifest_load_text(good, "m.yaml", &docs, err, sizeof(err));
		wf_alloc_fail_at(0);
		wf_lab_docs_done(&docs);
		if (r == 0)
			break;
		assert_int_equal(r, -ENOMEM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_list_and_documents),
		cmocka_unit_test(test_json_input),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_object_file),
		cmocka_unit_test(test_yaml_roundtrip),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
