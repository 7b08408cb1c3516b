/* Unit tests of the lab's manifest loading and its own checks (src/lab/lab-manifest.c) and its
 * YAML printer (src/lab/lab-show.c). Field validation is wf_k8s_parse's (tests/unit/k8s); the
 * refusals here prove that it runs first and that the lab's own checks keep file:line:col and
 * the field path. No root, no namespaces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "k8s/object.h"
#include "k8s/print.h"
#include "lab/lab-internal.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/yaml-json.h"

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
	assert_int_equal(docs.v[0].item, 0);
	assert_int_equal(docs.v[1].line, 12);
	assert_int_equal(docs.v[1].item, -1);
	assert_int_equal(docs.v[1].index, 2); /* the stream's third document (one is empty) */
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
		/* the shared validator (wf_k8s_parse), first */
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n"
		 "    ports:\n    - containerPort: 70000\n",
		 "m.yaml:8:22: spec.containers[0].ports[0].containerPort: must be between 1 and 65535"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: []}\n",
		 "m.yaml:4:20: spec.containers: required value"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {}\n",
		 "m.yaml:3:18: metadata.name: invalid name \"Bad_Name\""},
		{"apiVersion: v1\nkind: Frobnicator\nmetadata: {name: a}\n",
		 "m.yaml:2:7: kind: unknown kind \"Frobnicator\""},
		{"kind: Pod\nmetadata: {name: a}\n", "m.yaml:1:1: apiVersion: required value"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80, "
		 "nodePort: 30001}]\n",
		 "m.yaml:5:32: spec.ports[0].nodePort: may only be used when type is 'NodePort'"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - port: 80\n"
		 "  - port: 81\n",
		 "m.yaml:6:5: spec.ports[0].name: required value (a service with several ports"},
		{"a: 1\na: 2\n", "m.yaml:2:1: duplicate key \"a\""},
		{"a: [1, 2\n", "m.yaml:2:1: "},
		{"- 1\n- 2\n", "m.yaml:1:1: an object must be a mapping"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: -1\n",
		 "m.yaml:5:13: spec.replicas: must be greater than or equal to 0"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n"
		 "    image: weft/echo\n    readinessProbe: {periodSeconds: 1}\n",
		 "m.yaml:8:21: spec.containers[0].readinessProbe: must specify a handler type"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n"
		 "    image: weft/echo\n  restartPolicy: Sometimes\n",
		 "m.yaml:8:18: spec.restartPolicy: unsupported value \"Sometimes\""},
		/* a field error beats a lab error in the same object: the file is validated first */
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  nodeName: node-9\n"
		 "  containers: [{name: c, ports: [{containerPort: 0}]}]\n",
		 "m.yaml:6:50: spec.containers[0].ports[0].containerPort: "},
		{"{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n \"metadata\": {\"name\": \"a\"},\n"
		 " \"spec\": {\"containers\": 7}}\n",
		 "m.yaml:3:25: spec.containers: must be a list, not an integer"},
		/* the lab's own checks (allocators, admission), with the field's position */
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  nodeName: node-3\n"
		 "  containers: [{name: c, image: x}]\n",
		 "m.yaml:5:13: spec.nodeName: node \"node-3\" does not exist in lab \"unit\""},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  nodeName: \"\"\n"
		 "  containers: [{name: c, image: x}]\n",
		 "m.yaml:5:13: spec.nodeName: node \"\" does not exist"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n",
		 "m.yaml:6:5: spec.containers[0].image: required value (the lab runs the container's "
		 "command"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n"
		 "    image: \"\"\n    command: []\n",
		 "m.yaml:7:12: spec.containers[0].image: required value"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 501\n"
		 "  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
		 "    spec:\n      containers: [{name: c, image: weft/echo}]\n",
		 "m.yaml:5:13: spec.replicas: the lab runs at most 500 replicas"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
		 "  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
		 "    spec:\n      nodeName: node-0\n      containers: [{name: c, image: weft/echo}]\n",
		 "m.yaml:9:17: spec.template.spec.nodeName: node \"node-0\" does not exist"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
		 "  - {name: c1, image: x}\n  - {name: c2, image: x}\n  - {name: c3, image: x}\n"
		 "  - {name: c4, image: x}\n  - {name: c5, image: x}\n  - {name: c6, image: x}\n"
		 "  - {name: c7, image: x}\n  - {name: c8, image: x}\n  - {name: c9, image: x}\n",
		 "m.yaml:6:3: spec.containers: the lab runs at most 8 containers per pod"},
		{"apiVersion: v1\nkind: Node\nmetadata: {name: node-5}\n",
		 "m.yaml:2:7: kind: kind \"Node\" is not known to weft lab"},
		{"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\n",
		 "m.yaml:2:7: kind: kind \"DaemonSet\" is not known to weft lab"},
		/* kinds the object model skips: the lab stores them in files named after them */
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../../etc/x}\n",
		 "m.yaml:3:18: metadata.name: invalid name \"../../etc/x\""},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n",
		 "m.yaml:3:11: metadata.name: required value"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  clusterIP: 10.0.0.1\n"
		 "  ports: [{port: 80}]\n",
		 "m.yaml:5:14: spec.clusterIP: Invalid value: \"10.0.0.1\": provided IP is not in the "
		 "valid range"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n"
		 "  ports: [{port: 80, nodePort: 80}]\n",
		 "m.yaml:6:32: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the "
		 "valid range. The range of valid ports is 30000-32767"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  clusterIP: 10.96.5.5\n"
		 "  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: t}\n"
		 "spec:\n  clusterIP: 10.96.5.5\n  ports: [{port: 80}]\n",
		 "m.yaml:12:14: spec.clusterIP: Invalid value: \"10.96.5.5\": provided IP is already "
		 "allocated (to default/s)"},
		/* in a List: the item's field, not the List */
		{"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n"
		 "  metadata: {name: s}\n  spec:\n    type: NodePort\n    ports:\n"
		 "    - {name: a, port: 80, nodePort: 30080}\n"
		 "- apiVersion: v1\n  kind: Service\n  metadata: {name: t}\n  spec:\n"
		 "    type: NodePort\n    ports:\n    - {name: a, port: 80}\n"
		 "    - {name: b, port: 81, nodePort: 30080}\n",
		 "m.yaml:18:37: spec.ports[1].nodePort: Invalid value: 30080: provided port is already "
		 "allocated (to default/s)"},
		{"[{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"j\"}}]\n",
		 "m.yaml:1:1: an object must be a mapping, not a list"},
		{"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"j\"},\n"
		 " \"spec\": {\"nodeName\": \"node-9\", \"containers\": [{\"name\": \"c\", "
		 "\"image\": \"weft/echo\"}]}}\n",
		 "m.yaml:2:23: spec.nodeName: node \"node-9\" does not exist"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		int r = check_text(cases[i].text, err, sizeof(err));

		if (r >= 0 || !strstr(err, cases[i].want))
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

static int keep_doc(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	*(json_t **)userdata = json_incref(doc);
	return 0;
}

/* wf_k8s_print_yaml (`weft lab get -o yaml`) writes what the shared reader (wf_yj_load) reads back to the same value. */
static void test_yaml_roundtrip(void **state)
{
	json_t *v = json_loads("{\"kind\":\"Pod\",\"a\":[{\"x\":1,\"y\":[\"on\",\"1\",\"\"]},[]],"
			       "\"b\":{},\"c\":\"key: value\",\"d\":true,\"e\":null,\"f\":2.5,"
			       "\"g\":[[1,2],{\"h\":\"-x\"}]}",
			       0, NULL);
	json_t *back = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(v);
	wf_k8s_print_yaml(f, v);
	fclose(f);
	assert_int_equal(wf_yj_load(text, len, "y", NULL, keep_doc, &back, NULL), 0);
	if (!json_equal(v, back))
		fail_msg("round trip differs:\n%s", text);
	free(text);
	json_decref(back);
	json_decref(v);
}

struct seen {
	size_t n;
	char kinds[4][32];
	int stop_at; /* return -ECANCELED on this call (1-based), 0 = never */
};

static int see_doc(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	struct seen *s = userdata;

	if (s->n < 4)
		snprintf(s->kinds[s->n], sizeof(s->kinds[0]), "%s",
			 json_string_value(json_object_get(doc, "kind")));
	return ++s->n == (size_t)s->stop_at ? -ECANCELED : 0;
}

/* The lab reads a file once: wf_k8s_parse_docs hands over each document (a List once, whole)
 * after decoding it, in order; a document the model refuses is never handed over, and the
 * callback can stop the parse. */
static void test_parse_docs(void **state)
{
	static const char text[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				   "spec: {ports: [{port: 80}]}\n"
				   "---\n"
				   "apiVersion: v1\nkind: List\nitems:\n"
				   "- {apiVersion: v1, kind: Namespace, metadata: {name: ns1}}\n"
				   "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n"
				   "---\n"
				   "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
				   "spec: {ports: [{port: 0}]}\n";
	struct wf_k8s_parse_result res = {0};
	struct seen s = {0};
	struct wf_diag diag;

	/* the third document is refused: the first two were handed over, it was not */
	assert_true(wf_k8s_parse_docs(text, sizeof(text) - 1, "t.yaml", see_doc, &s, &res, &diag) ==
		    -WF_E_INVALID);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.kinds[0], "Service");
	assert_string_equal(s.kinds[1], "List");
	/* without it: three documents, two objects (ConfigMap is an ignored kind) */
	memset(&s, 0, sizeof(s));
	assert_int_equal(
		wf_k8s_parse_docs(
			text,
			strstr(text, "---\napiVersion: v1\nkind: Service\nmetadata: {name: b}") -
				text,
			"t.yaml", see_doc, &s, &res, &diag),
		2);
	assert_int_equal(s.n, 2);
	assert_int_equal(res.ignored, 1);
	wf_k8s_parse_result_done(&res);
	/* the callback's error stops the parse and is its result */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(
		wf_k8s_parse_docs(text, sizeof(text) - 1, "t.yaml", see_doc, &s, &res, &diag),
		-ECANCELED);
	assert_int_equal(s.n, 1);
}

/* YAML anchors and aliases are YAML (kubectl reads them); the shared reader bounds them. */
static void test_aliases(void **state)
{
	static const char text[] = "apiVersion: apps/v1\n"
				   "kind: Deployment\n"
				   "metadata: {name: d}\n"
				   "spec:\n"
				   "  selector: {matchLabels: &l {app: d}}\n"
				   "  template:\n"
				   "    metadata: {labels: *l}\n"
				   "    spec: {containers: [{name: c, image: weft/echo}]}\n";
	struct wf_lab_docs docs = {0};
	struct wf_lab lab;
	char err[512] = "";

	lab_for_test(&lab);
	assert_int_equal(wf_lab_manifest_load_text(text, "m.yaml", &docs, err, sizeof(err)), 0);
	assert_int_equal(wf_lab_manifest_validate(&lab, &docs, err, sizeof(err)), 0);
	assert_int_equal(docs.n, 1);
	json_t *tmpl = json_object_get(json_object_get(docs.v[0].obj, "spec"), "template");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(tmpl, "metadata"), "labels"), "app")),
		"d");
	wf_lab_docs_done(&docs);
}

/* A file is loaded all or nothing; the files before it stay. */
static void test_file_all_or_nothing(void **state)
{
	struct wf_lab_docs docs = {0};
	char err[512] = "";

	assert_int_equal(wf_lab_manifest_load_text(good, "a.yaml", &docs, err, sizeof(err)), 0);
	assert_int_equal(wf_lab_manifest_load_text("apiVersion: v1\nkind: Namespace\n"
						   "metadata: {name: x}\n---\nkind: Pod\n",
						   "b.yaml", &docs, err, sizeof(err)),
			 -WF_E_INVALID);
	assert_string_equal(err, "b.yaml:5:1: apiVersion: required value");
	assert_int_equal(docs.n, 2);
	wf_lab_docs_done(&docs);
}

/* Against a running lab: its objects/ hold the Services the allocators have handed out. */
static void test_running_lab(void **state)
{
	static const struct bad_case cases[] = {
		{"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
		 "  clusterIP: 10.96.7.7\n  ports: [{port: 80}]\n",
		 "m.yaml:5:14: spec.clusterIP: Invalid value: \"10.96.7.7\": field is immutable (the "
		 "Service has 10.96.0.20)"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: other}\nspec:\n"
		 "  clusterIP: 10.96.0.20\n  ports: [{port: 80}]\n",
		 "provided IP is already allocated (to default/web)"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: x}\nspec:\n"
		 "  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 30100\n",
		 "m.yaml:8:15: spec.ports[0].nodePort: Invalid value: 30100: provided port is already "
		 "allocated (to default/web)"},
	};
	char tmpl[] = "/tmp/weft-lab-unit.XXXXXX", path[600];
	static const char web[] = "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":"
				  "{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":"
				  "{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.20\",\"ports\":"
				  "[{\"port\":80,\"nodePort\":30100}]}}";
	struct wf_lab lab;
	char err[512];

	lab_for_test(&lab);
	assert_non_null(mkdtemp(tmpl));
	snprintf(lab.dir, sizeof(lab.dir), "%s", tmpl);
	snprintf(path, sizeof(path), "%s/objects", tmpl);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/objects/service_default_web.json", tmpl);
	assert_int_equal(wf_lab_write_atomic(path, web, strlen(web)), 0);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wf_lab_docs docs = {0};
		int r = wf_lab_manifest_load_text(cases[i].text, "m.yaml", &docs, err, sizeof(err));

		if (r == 0)
			r = wf_lab_manifest_validate(&lab, &docs, err, sizeof(err));
		wf_lab_docs_done(&docs);
		if (r >= 0 || !strstr(err, cases[i].want))
			fail_msg("case %zu: r=%d err=\"%s\", want \"%s\"", i, r, err,
				 cases[i].want);
	}
	/* the same Service again, unchanged or with its ClusterIP left out, is an update */
	for (int i = 0; i < 2; i++) {
		struct wf_lab_docs docs = {0};

		assert_int_equal(wf_lab_manifest_load_text(i ? "apiVersion: v1\nkind: Service\n"
							       "metadata: {name: web}\nspec:\n"
							       "  type: NodePort\n"
							       "  ports: [{port: 80}]\n"
							     : web,
							   "m.yaml", &docs, err, sizeof(err)),
				 0);
		assert_int_equal(wf_lab_manifest_validate(&lab, &docs, err, sizeof(err)), 0);
		wf_lab_docs_done(&docs);
	}
	assert_int_equal(wf_lab_rmtree(tmpl), 0);
}

/* Every allocation failure unwinds cleanly (ASan checks for leaks), loading and checking. */
static void test_alloc_failures(void **state)
{
	struct wf_lab lab;
	unsigned long n;

	lab_for_test(&lab);
	for (n = 1; n < 1000; n++) {
		struct wf_lab_docs docs = {0};
		char err[256];
		int r;

		wf_alloc_fail_at(n);
		r = wf_lab_manifest_load_text(good, "m.yaml", &docs, err, sizeof(err));
		if (r == 0)
			r = wf_lab_manifest_validate(&lab, &docs, err, sizeof(err));
		wf_alloc_fail_at(0);
		wf_lab_docs_done(&docs);
		if (r == 0)
			break;
		assert_int_equal(r, -ENOMEM);
	}
	assert_in_range(n, 2, 999); /* some failed, and then it went through */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_list_and_documents),
		cmocka_unit_test(test_json_input),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_object_file),
		cmocka_unit_test(test_yaml_roundtrip),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_parse_docs),
		cmocka_unit_test(test_file_all_or_nothing),
		cmocka_unit_test(test_running_lab),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
