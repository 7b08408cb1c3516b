/* The shared printer (k8s/print.h) that `weft get` and `weft lab get|status` use: kubectl's
 * AGE, a pod's READY/STATUS/RESTARTS, whole tables at a fixed "now", and YAML that reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/object.h"
#include "k8s/print.h"
#include "lib/yaml-json.h"

/* 2024-05-01T10:00:00Z */
#define T0 1714557600LL

static void test_age(void **state)
{
	static const struct {
		int64_t ago;
		const char *want;
	} cases[] = {
		{0, "0s"},
		{-1, "0s"},
		{-2, "<invalid>"},
		{59, "59s"},
		{119, "119s"},
		{120, "2m"},
		{200, "3m20s"},
		{599, "9m59s"},
		{600, "10m"},
		{10799, "179m"},
		{10800, "3h"},
		{3 * 3600 + 60, "3h1m"},
		{8 * 3600, "8h"},
		{47 * 3600 + 59, "47h"},
		{48 * 3600, "2d"},
		{50 * 3600, "2d2h"},
		{8 * 86400, "8d"},
		{729 * 86400, "729d"},
		{730 * 86400, "2y"},
		{731 * 86400, "2y1d"},
		{2920 * 86400, "8y"},
	};
	char buf[WF_K8S_PRINT_AGE_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wf_k8s_print_age(T0, T0 + cases[i].ago, buf);
		if (strcmp(buf, cases[i].want))
			fail_msg("age of %lld s: got %s, want %s", (long long)cases[i].ago, buf,
				 cases[i].want);
	}
	assert_string_equal(wf_k8s_print_age(0, T0, buf), "<unknown>");
}

static struct wf_k8s_object *parse_one(const char *text)
{
	struct wf_k8s_parse_result res = {0};
	struct wf_diag diag;
	struct wf_k8s_object *o;

	if (wf_k8s_parse(text, strlen(text), "t.yaml", &res, &diag) != 1)
		fail_msg("parse: %s", diag.msg);
	o = wf_k8s_object_ref(res.objects[0]);
	wf_k8s_parse_result_done(&res);
	return o;
}

/* A pod with two containers whose statuses are given as JSON. */
static struct wf_k8s_object *pod(const char *status, const char *extra_md)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"%s},"
		 "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"},"
		 "{\"name\":\"b\",\"image\":\"x\"}]},\"status\":%s}",
		 extra_md, status);
	return parse_one(text);
}

static void summary(const char *status, const char *extra_md, const char *want_status,
		    size_t want_ready, int64_t want_restarts)
{
	struct wf_k8s_object *o = pod(status, extra_md);
	struct wf_k8s_pod_summary s;

	wf_k8s_pod_summary(o, &s);
	if (strcmp(s.status, want_status) || s.ready != want_ready || s.total != 2 ||
	    s.restarts != want_restarts)
		fail_msg("%s: got %zu/%zu %s %lld, want %zu/2 %s %lld", status, s.ready, s.total,
			 s.status, (long long)s.restarts, want_ready, want_status,
			 (long long)want_restarts);
	wf_k8s_object_unref(o);
}

#define RUN_READY "{\"name\":\"%s\",\"ready\":true,\"restartCount\":%d,\"state\":{\"running\":{}}}"

static void test_pod_summary(void **state)
{
	/* printPod: READY counts ready and running containers; RESTARTS adds them up */
	summary("{\"phase\":\"Running\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":true,\"restartCount\":1,\"state\":{\"running\":{}}},"
		"{\"name\":\"b\",\"ready\":false,\"restartCount\":2,\"state\":{\"running\":{}}}]}",
		"", "Running", 1, 3);
	/* a waiting reason wins over the phase */
	summary("{\"phase\":\"Running\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}},"
		"{\"name\":\"b\",\"ready\":false,\"restartCount\":5,"
		"\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}",
		"", "CrashLoopBackOff", 1, 5);
	/* terminated without a reason: ExitCode:N or Signal:N */
	summary("{\"phase\":\"Running\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":false,\"restartCount\":0,"
		"\"state\":{\"terminated\":{\"exitCode\":3}}}]}",
		"", "ExitCode:3", 0, 0);
	summary("{\"phase\":\"Running\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":false,\"restartCount\":0,"
		"\"state\":{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]}",
		"", "Signal:9", 0, 0);
	/* Completed while another container runs: Running (Ready) or NotReady */
	summary("{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
		"\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":false,\"restartCount\":0,"
		"\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},"
		"{\"name\":\"b\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}",
		"", "Running", 1, 0);
	summary("{\"phase\":\"Running\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":false,\"restartCount\":0,"
		"\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},"
		"{\"name\":\"b\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}",
		"", "NotReady", 1, 0);
	/* status.reason over the phase; deletion over everything; no status: Pending */
	summary("{\"phase\":\"Failed\",\"reason\":\"Evicted\"}", "", "Evicted", 0, 0);
	summary("{\"phase\":\"Running\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}",
		",\"deletionTimestamp\":\"2024-05-01T10:00:30Z\"", "Terminating", 1, 0);
	summary("{\"phase\":\"Succeeded\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":false,\"restartCount\":0,"
		"\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}",
		",\"deletionTimestamp\":\"2024-05-01T10:00:30Z\"", "Completed", 0, 0);
	summary("{\"phase\":\"Running\",\"reason\":\"NodeLost\"}",
		",\"deletionTimestamp\":\"2024-05-01T10:00:30Z\"", "Unknown", 0, 0);
	summary("{}", "", "Pending", 0, 0);
}

static char *print(enum wf_k8s_kind kind, struct wf_k8s_object **objs, size_t n,
		   const struct wf_k8s_print_opts *opts)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(
		wf_k8s_print_objects(kind, (const struct wf_k8s_object *const *)objs, n, opts, f),
		0);
	fclose(f);
	return text;
}

/* Whole tables, as kubectl prints them, at a fixed now. */
static void test_tables(void **state)
{
	struct wf_k8s_print_opts opts = {.now = T0 + 200};
	struct wf_k8s_object *o[2];
	char *t;

	o[0] = pod(
		"{\"phase\":\"Running\",\"podIP\":\"10.244.1.5\",\"containerStatuses\":["
		"{\"name\":\"a\",\"ready\":true,\"restartCount\":1,\"state\":{\"running\":{}},"
		"\"lastState\":{\"terminated\":{\"exitCode\":1,"
		"\"finishedAt\":\"2024-05-01T10:03:00Z\"}}},"
		"{\"name\":\"b\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}",
		",\"creationTimestamp\":\"2024-05-01T10:00:00Z\"");
	t = print(WF_K8S_POD, o, 1, &opts);
	assert_string_equal(t, "NAME   READY   STATUS    RESTARTS      AGE\n"
			       "p      2/2     Running   1 (20s ago)   3m20s\n");
	free(t);
	opts.wide = true;
	t = print(WF_K8S_POD, o, 1, &opts);
	assert_string_equal(t,
			    "NAME   READY   STATUS    RESTARTS      AGE     IP           NODE     "
			    "NOMINATED NODE   READINESS GATES\n"
			    "p      2/2     Running   1 (20s ago)   3m20s   10.244.1.5   <none>   "
			    "<none>           <none>\n");
	free(t);
	wf_k8s_object_unref(o[0]);
	/* READINESS GATES: the gates' conditions that are True; NOMINATED NODE */
	o[0] = parse_one(
		"apiVersion: v1\nkind: Pod\nmetadata: {name: g}\n"
		"spec:\n  readinessGates: [{conditionType: a.io/lb}, {conditionType: b.io/x}]\n"
		"  containers: [{name: c, image: x}]\n"
		"status:\n  phase: Pending\n  nominatedNodeName: node-2\n"
		"  conditions: [{type: a.io/lb, status: \"True\"}, {type: b.io/x, "
		"status: \"False\"}]\n");
	t = print(WF_K8S_POD, o, 1, &opts);
	assert_non_null(
		strstr(t, "\ng      0/1     Pending   0          <unknown>   <none>   <none>   "
			  "node-2           1/2\n"));
	free(t);
	wf_k8s_object_unref(o[0]);

	opts.wide = false;
	opts.show_namespace = true;
	o[0] = parse_one(
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"lb\","
		"\"creationTimestamp\":\"2024-05-01T09:00:00Z\"},\"spec\":{\"type\":"
		"\"LoadBalancer\",\"clusterIP\":\"10.96.0.20\",\"ports\":[{\"port\":80,"
		"\"nodePort\":30080}]},\"status\":{\"loadBalancer\":{\"ingress\":["
		"{\"ip\":\"172.30.1.201\"},{\"ip\":\"172.30.1.200\"}]}}}");
	o[1] = parse_one(
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"x\","
		"\"namespace\":\"b\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":"
		"\"db.example.com\"}}");
	t = print(WF_K8S_SERVICE, o, 2, &opts);
	/* LoadBalancer addresses: a sorted set, cut to 16 characters unless wide */
	assert_string_equal(t, "NAMESPACE   NAME   TYPE           CLUSTER-IP   EXTERNAL-IP        "
			       "PORT(S)        AGE\n"
			       "default     lb     LoadBalancer   10.96.0.20   172.30.1.200,...   "
			       "80:30080/TCP   63m\n"
			       "b           x      ExternalName   <none>       db.example.com     "
			       "<none>         <unknown>\n");
	free(t);
	wf_k8s_object_unref(o[0]);
	wf_k8s_object_unref(o[1]);

	opts.show_namespace = false;
	opts.kind_prefix = true;
	o[0] = parse_one("apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n"
			 "  creationTimestamp: \"2024-04-29T10:00:00Z\"\n  labels:\n"
			 "    node-role.kubernetes.io/worker: \"\"\n    kubernetes.io/role: edge\n"
			 "spec: {unschedulable: true}\nstatus:\n"
			 "  conditions: [{type: Ready, status: \"False\"}]\n"
			 "  nodeInfo: {kubeletVersion: v1.30.2}\n");
	t = print(WF_K8S_NODE, o, 1, &opts);
	assert_string_equal(
		t, "NAME      STATUS                        ROLES         AGE   VERSION\n"
		   "node/n1   NotReady,SchedulingDisabled   edge,worker   2d    v1.30.2\n");
	free(t);
	wf_k8s_object_unref(o[0]);

	opts.kind_prefix = false;
	o[0] = parse_one("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
			 "spec:\n  replicas: 3\n  selector: {matchLabels: {app: d}}\n"
			 "  template:\n    metadata: {labels: {app: d}}\n"
			 "    spec: {containers: [{name: c, image: weft/echo}]}\n"
			 "status: {replicas: 3, readyReplicas: 2, updatedReplicas: 3, "
			 "availableReplicas: 2}\n");
	t = print(WF_K8S_DEPLOYMENT, o, 1, &opts);
	assert_string_equal(t, "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n"
			       "d      2/3     3            2           <unknown>\n");
	free(t);
	wf_k8s_object_unref(o[0]);

	o[0] = parse_one("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			 "metadata: {name: s}\naddressType: IPv4\n"
			 "ports: [{port: 80}, {name: dns}, {}, {port: 9}]\n"
			 "endpoints: [{addresses: [10.0.0.1]}, {addresses: [10.0.0.2]}]\n");
	t = print(WF_K8S_ENDPOINTSLICE, o, 1, &opts);
	assert_string_equal(t,
			    "NAME   ADDRESSTYPE   PORTS                  ENDPOINTS           AGE\n"
			    "s      IPv4          80,dns,* + 1 more...   10.0.0.1,10.0.0.2   "
			    "<unknown>\n");
	free(t);
	wf_k8s_object_unref(o[0]);
}

static int keep_doc(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	*(json_t **)userdata = json_incref(doc);
	return 0;
}

/* Strings a YAML 1.1 reader would take for numbers, booleans or times are quoted; others
 * (IPs, versions, names) stay plain as kubectl prints them. */
static void test_yaml(void **state)
{
	json_t *v = json_loads(
		"{\"a\":[\"1_000\",\"0b101\",\"10:30\",\"2024-05-01\",\"2024-05-01T10:00:00Z\","
		"\"0x1F\",\"1e3\",\".inf\",\"Yes\",\"~\",\"\",\"-x\",\"a: b\",\"tab\\there\"],"
		"\"ip\":\"10.244.1.5\",\"v\":\"v1.30.2\",\"n\":-3,\"f\":2.5,\"e\":{},\"l\":[],"
		"\"key: odd\":1,\"2024-05-01\":\"k\"}",
		0, NULL);
	json_t *back = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(v);
	wf_k8s_print_yaml(f, v);
	fclose(f);
	assert_non_null(strstr(text, "\nip: 10.244.1.5\n"));
	assert_non_null(strstr(text, "\nv: v1.30.2\n"));
	assert_non_null(strstr(text, "- \"10:30\"\n"));
	assert_int_equal(wf_yj_load(text, len, "y", NULL, keep_doc, &back, NULL), 0);
	if (!json_equal(v, back))
		fail_msg("round trip differs:\n%s", text);
	free(text);
	json_decref(back);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_pod_summary),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_yaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
