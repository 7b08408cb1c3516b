/* Object decoding per kind: fields, the API server's defaults, validation errors with their
 * exact diagnostics; kinds, keys, refcounts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "k8s/object.h"
#include "lib/error.h"
#include "lib/ip.h"

static struct wf_k8s_parse_result res;

/* Parses text that must yield exactly one object. */
static struct wf_k8s_object *parse1(const char *text)
{
	struct wf_diag diag;
	char line[1024];
	int r = wf_k8s_parse(text, strlen(text), "t.yaml", &res, &diag);

	if (r < 0)
		fail_msg("parse failed: %s", wf_diag_format(&diag, line, sizeof(line)));
	assert_int_equal(r, 1);
	return res.objects[0];
}

static void done(void)
{
	wf_k8s_parse_result_done(&res);
}

/* Parses text that must fail with exactly this diagnostic. */
static void parse_err(const char *text, int code, const char *expect)
{
	struct wf_diag diag;
	char line[1024];
	struct wf_k8s_parse_result r;
	int got = wf_k8s_parse(text, strlen(text), "t.yaml", &r, &diag);

	if (got >= 0)
		fail_msg("parsed, expected %s", expect);
	assert_int_equal(got, code);
	assert_string_equal(wf_diag_format(&diag, line, sizeof(line)), expect);
}

static const char *ipstr(const struct wf_ip *ip)
{
	static char buf[WF_IP_STRLEN];

	return wf_ip_format(ip, buf);
}

static void test_kinds(void **state)
{
	enum wf_k8s_kind k;

	assert_string_equal(wf_k8s_kind_name(WF_K8S_SERVICE), "Service");
	assert_string_equal(wf_k8s_kind_name(WF_K8S_ENDPOINTSLICE), "EndpointSlice");
	assert_string_equal(wf_k8s_kind_name(WF_K8S_KIND_COUNT), "?");
	assert_string_equal(wf_k8s_kind_plural(WF_K8S_NETWORKPOLICY), "networkpolicies");
	assert_string_equal(wf_k8s_kind_api_version(WF_K8S_DEPLOYMENT), "apps/v1");
	const struct {
		const char *s;
		enum wf_k8s_kind k;
	} names[] = {
		{"svc", WF_K8S_SERVICE},
		{"Service", WF_K8S_SERVICE},
		{"services", WF_K8S_SERVICE},
		{"ep", WF_K8S_ENDPOINTSLICE},
		{"eps", WF_K8S_ENDPOINTSLICE},
		{"endpointslice", WF_K8S_ENDPOINTSLICE},
		{"po", WF_K8S_POD},
		{"pods", WF_K8S_POD},
		{"no", WF_K8S_NODE},
		{"ns", WF_K8S_NAMESPACE},
		{"netpol", WF_K8S_NETWORKPOLICY},
		{"networkpolicy", WF_K8S_NETWORKPOLICY},
		{"ing", WF_K8S_INGRESS},
		{"ingress", WF_K8S_INGRESS},
		{"ingresses", WF_K8S_INGRESS},
		{"deploy", WF_K8S_DEPLOYMENT},
		{"HTTPRoute", WF_K8S_HTTPROUTE},
		{"ingressclass", WF_K8S_INGRESSCLASS},
		{"secret", WF_K8S_SECRET},
		{"gateways", WF_K8S_GATEWAY},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(wf_k8s_kind_lookup(names[i].s, &k), 0);
		assert_int_equal(k, names[i].k);
	}
	assert_int_equal(wf_k8s_kind_lookup("widget", &k), -WF_E_UNKNOWN_KIND);
	assert_true(wf_k8s_kind_cluster_scoped(WF_K8S_NODE));
	assert_true(wf_k8s_kind_cluster_scoped(WF_K8S_INGRESSCLASS));
	assert_false(wf_k8s_kind_cluster_scoped(WF_K8S_POD));
}

static void test_metadata_and_key(void **state)
{
	char buf[64];
	struct wf_k8s_object *o = parse1(
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  namespace: ignored\n"
		"  uid: abc\n  labels: {b: '2', a: '1', c: ''}\n  annotations: {x/y: free text}\n"
		"  creationTimestamp: 2024-05-01T10:00:00Z\n");

	assert_int_equal(o->kind, WF_K8S_NAMESPACE);
	assert_null(o->namespace); /* cluster-scoped */
	assert_string_equal(o->name, "shop");
	assert_string_equal(o->uid, "abc");
	assert_string_equal(wf_k8s_object_key(o), "Namespace/shop");
	assert_int_equal(o->labels.n, 3);
	assert_string_equal(o->labels.items[0].key, "a"); /* sorted */
	assert_string_equal(wf_k8s_object_label(o, "b"), "2");
	assert_string_equal(wf_k8s_object_label(o, "c"), "");
	assert_string_equal(wf_k8s_object_annotation(o, "x/y"), "free text");
	assert_int_equal(o->creation_timestamp, 1714557600);
	assert_int_equal(o->deletion_timestamp, 0);
	assert_string_equal(o->ns->phase, "Active");
	assert_string_equal(o->origin.file, "t.yaml");
	assert_int_equal(o->origin.line, 1);
	assert_int_equal(o->resource_version, 0);
	/* refcount: an extra reference outlives the parse result */
	struct wf_k8s_object *kept = wf_k8s_object_ref(o);
	done();
	assert_string_equal(kept->name, "shop");
	wf_k8s_object_unref(kept);
	wf_k8s_object_unref(NULL);

	o = parse1("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
		   "  containers: [{name: c, image: i}]\n");
	assert_string_equal(o->namespace, "default"); /* omitted: "default" */
	assert_string_equal(o->key, "Pod/default/p");
	done();

	assert_int_equal(wf_k8s_key_format(buf, sizeof(buf), WF_K8S_SERVICE, "ns", "web"), 14);
	assert_string_equal(buf, "Service/ns/web");
	assert_int_equal(wf_k8s_key_format(buf, sizeof(buf), WF_K8S_NODE, NULL, "n1"), 7);
	assert_string_equal(buf, "Node/n1");
	assert_int_equal(wf_k8s_key_format(buf, 8, WF_K8S_SERVICE, "ns", "web"), -ENOSPC);
}

static void test_node(void **state)
{
	struct wf_k8s_object *o = parse1(
		"apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels:\n"
		"    topology.kubernetes.io/zone: z1\nspec:\n  podCIDR: 10.244.1.0/24\n"
		"  podCIDRs: [10.244.1.0/24, 'fd00::/64']\nstatus:\n  addresses:\n"
		"  - {type: InternalIP, address: 172.18.0.2}\n  - {type: Hostname, address: n1}\n");
	const struct wf_k8s_node *n = o->node;
	char buf[WF_CIDR_STRLEN];

	assert_int_equal(n->n_pod_cidrs, 2);
	assert_string_equal(wf_cidr_format(&n->pod_cidrs[0], buf), "10.244.1.0/24");
	assert_string_equal(wf_cidr_format(&n->pod_cidrs[1], buf), "fd00::/64");
	assert_int_equal(n->n_addresses, 2);
	assert_true(n->addresses[0].is_ip);
	assert_string_equal(ipstr(&n->addresses[0].ip), "172.18.0.2");
	assert_false(n->addresses[1].is_ip);
	assert_string_equal(n->zone, "z1");
	done();

	parse_err(
		"apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec:\n  podCIDR: 10.0.0.0/24\n"
		"  podCIDRs: [10.0.1.0/24]\n",
		-WF_E_INVALID,
		"t.yaml:5:12: spec.podCIDR: must equal podCIDRs[0] (\"10.0.1.0/24\")");
}

static const char *pod_yaml =
	"apiVersion: v1\nkind: Pod\nmetadata: {name: web-0, namespace: shop}\nspec:\n"
	"  nodeName: node-1\n  hostname: web-0\n  subdomain: web\n"
	"  containers:\n  - name: web\n    image: nginx\n    command: [/bin/sh, -c]\n"
	"    args: [sleep 1]\n    env: [{name: A, value: b}, {name: B}]\n"
	"    ports:\n    - {name: http, containerPort: 80}\n"
	"    - {containerPort: 53, protocol: UDP, hostPort: 5353, hostIP: 127.0.0.1}\n"
	"    readinessProbe:\n      httpGet: {port: http}\n"
	"    livenessProbe:\n      tcpSocket: {port: 80}\n      periodSeconds: 3\n"
	"    startupProbe:\n      exec: {command: [cat, /ready]}\n"
	"status:\n  phase: Running\n  hostIP: 172.18.0.2\n  podIP: 10.244.1.5\n"
	"  podIPs: [{ip: 10.244.1.5}, {ip: 'fd00::5'}]\n"
	"  conditions: [{type: Ready, status: 'True'}, {type: PodScheduled, status: Unknown}]\n";

static void test_pod(void **state)
{
	const struct wf_k8s_pod *p = parse1(pod_yaml)->pod;
	const struct wf_k8s_container *c = &p->spec.containers[0];

	assert_string_equal(p->spec.node_name, "node-1");
	assert_string_equal(p->spec.hostname, "web-0");
	assert_string_equal(p->spec.subdomain, "web");
	assert_false(p->spec.host_network);
	/* defaults */
	assert_int_equal(p->spec.termination_grace_period_seconds, 30);
	assert_string_equal(p->spec.restart_policy, "Always");
	assert_string_equal(p->spec.dns_policy, "ClusterFirst");
	assert_int_equal(p->spec.n_containers, 1);
	assert_string_equal(c->name, "web");
	assert_string_equal(c->image, "nginx");
	assert_int_equal(c->n_command, 2);
	assert_string_equal(c->command[1], "-c");
	assert_string_equal(c->args[0], "sleep 1");
	assert_int_equal(c->n_env, 2);
	assert_string_equal(c->env[1].name, "B");
	assert_string_equal(c->env[1].value, "");
	assert_int_equal(c->n_ports, 2);
	assert_string_equal(c->ports[0].name, "http");
	assert_int_equal(c->ports[0].protocol, WF_K8S_PROTO_TCP); /* default */
	assert_int_equal(c->ports[1].protocol, WF_K8S_PROTO_UDP);
	assert_int_equal(c->ports[1].host_port, 5353);
	assert_string_equal(c->ports[1].host_ip, "127.0.0.1");
	/* probe defaults: period 10, timeout 1, success 1, failure 3; httpGet path "/" HTTP */
	const struct wf_k8s_probe *rp = c->readiness_probe;
	assert_int_equal(rp->handler, WF_K8S_PROBE_HTTP);
	assert_true(rp->port.is_str);
	assert_string_equal(rp->port.str, "http");
	assert_string_equal(rp->path, "/");
	assert_string_equal(rp->scheme, "HTTP");
	assert_int_equal(rp->initial_delay_seconds, 0);
	assert_int_equal(rp->period_seconds, 10);
	assert_int_equal(rp->timeout_seconds, 1);
	assert_int_equal(rp->success_threshold, 1);
	assert_int_equal(rp->failure_threshold, 3);
	assert_int_equal(c->liveness_probe->handler, WF_K8S_PROBE_TCP);
	assert_int_equal(c->liveness_probe->port.num, 80);
	assert_int_equal(c->liveness_probe->period_seconds, 3);
	assert_int_equal(c->startup_probe->handler, WF_K8S_PROBE_EXEC);
	assert_string_equal(c->startup_probe->command[1], "/ready");
	assert_string_equal(p->phase, "Running");
	assert_true(p->has_host_ip);
	assert_int_equal(p->n_pod_ips, 2);
	assert_string_equal(ipstr(&p->pod_ips[1]), "fd00::5");
	assert_int_equal(p->ready, WF_K8S_TRUE);
	assert_int_equal(p->conditions[1].status, WF_K8S_UNSET);
	done();

	parse_err("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
		  "  - {name: a, image: i}\n  - {name: a, image: i}\n",
		  -WF_E_INVALID,
		  "t.yaml:7:12: spec.containers[1].name: duplicate container name \"a\"");
	parse_err("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
		  "  - name: a\n    livenessProbe: {tcpSocket: {port: 1}, successThreshold: 2}\n",
		  -WF_E_INVALID,
		  "t.yaml:7:61: spec.containers[0].livenessProbe.successThreshold: must be 1");
	parse_err(
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  restartPolicy: Sometimes\n"
		"  containers: [{name: a}]\n",
		-WF_E_INVALID,
		"t.yaml:5:18: spec.restartPolicy: unsupported value \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
}

static void test_service_defaults(void **state)
{
	const struct wf_k8s_service *s =
		parse1("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
		       "  selector: {app: web}\n  ports: [{port: 80}]\n")
			->service;

	assert_int_equal(s->type, WF_K8S_SVC_CLUSTER_IP);
	assert_false(s->headless);
	assert_int_equal(s->n_cluster_ips, 0);
	assert_int_equal(s->n_ports, 1);
	assert_string_equal(s->ports[0].name, "");
	assert_int_equal(s->ports[0].protocol, WF_K8S_PROTO_TCP);
	assert_true(s->ports[0].target_port.set);
	assert_false(s->ports[0].target_port.is_str);
	assert_int_equal(s->ports[0].target_port.num, 80); /* targetPort defaults to port */
	assert_true(s->has_selector);
	assert_string_equal(wf_k8s_map_get(&s->selector, "app"), "web");
	assert_false(s->session_affinity_client_ip);
	assert_int_equal(s->external_traffic_policy, WF_K8S_POLICY_UNSET);
	assert_int_equal(s->internal_traffic_policy, WF_K8S_POLICY_CLUSTER);
	assert_false(s->allocate_load_balancer_node_ports);
	done();

	s = parse1("apiVersion: v1\nkind: Service\nmetadata: {name: lb}\nspec:\n"
		   "  type: LoadBalancer\n  clusterIPs: [10.96.0.5, 'fd00::5']\n"
		   "  sessionAffinity: ClientIP\n  externalIPs: [192.0.2.1]\n"
		   "  loadBalancerIP: 198.51.100.1\n  loadBalancerSourceRanges: [10.0.0.0/8]\n"
		   "  ipFamilies: [IPv4, IPv6]\n  ipFamilyPolicy: PreferDualStack\n"
		   "  loadBalancerClass: weft.dev/lb\n  trafficDistribution: PreferClose\n"
		   "  publishNotReadyAddresses: true\n"
		   "  ports:\n  - {name: http, port: 80, targetPort: web, nodePort: 30080, appProtocol: http}\n"
		   "  - {name: dns, port: 53, protocol: UDP}\n"
		   "status:\n  loadBalancer:\n    ingress: [{ip: 198.51.100.1}, {hostname: lb.example.com}]\n")
		    ->service;
	assert_int_equal(s->type, WF_K8S_SVC_LOAD_BALANCER);
	assert_int_equal(s->n_cluster_ips, 2);
	assert_string_equal(ipstr(&s->cluster_ips[0]), "10.96.0.5");
	assert_int_equal(s->cluster_ips[1].family, AF_INET6);
	assert_true(s->session_affinity_client_ip);
	assert_int_equal(s->session_affinity_timeout, 10800); /* default 3 hours */
	assert_int_equal(s->external_traffic_policy, WF_K8S_POLICY_CLUSTER);
	assert_true(s->allocate_load_balancer_node_ports);
	assert_int_equal(s->n_external_ips, 1);
	assert_true(s->has_load_balancer_ip);
	assert_int_equal(s->n_load_balancer_source_ranges, 1);
	assert_int_equal(s->n_ip_families, 2);
	assert_int_equal(s->ip_families[1], AF_INET6);
	assert_int_equal(s->ip_family_policy, WF_K8S_FAMILY_PREFER_DUAL_STACK);
	assert_string_equal(s->load_balancer_class, "weft.dev/lb");
	assert_string_equal(s->traffic_distribution, "PreferClose");
	assert_true(s->publish_not_ready_addresses);
	assert_true(s->ports[0].target_port.is_str);
	assert_string_equal(s->ports[0].target_port.str, "web");
	assert_int_equal(s->ports[0].node_port, 30080);
	assert_string_equal(s->ports[0].app_protocol, "http");
	assert_int_equal(s->ports[1].protocol, WF_K8S_PROTO_UDP);
	assert_int_equal(s->n_lb_ingress, 2);
	assert_string_equal(s->lb_ingress[1].hostname, "lb.example.com");
	assert_false(s->has_selector);
	done();

	s = parse1("apiVersion: v1\nkind: Service\nmetadata: {name: h}\nspec:\n  clusterIP: None\n"
		   "  selector: {app: h}\n")
		    ->service;
	assert_true(s->headless);
	assert_int_equal(s->n_ports, 0);
	done();

	s = parse1("apiVersion: v1\nkind: Service\nmetadata: {name: e}\nspec:\n  type: ExternalName\n"
		   "  externalName: db.example.com\n")
		    ->service;
	assert_int_equal(s->type, WF_K8S_SVC_EXTERNAL_NAME);
	assert_string_equal(s->external_name, "db.example.com");
	assert_int_equal(s->internal_traffic_policy, WF_K8S_POLICY_UNSET);
	done();

	s = parse1("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n"
		   "  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n"
		   "  type: NodePort\n  externalTrafficPolicy: Local\n  ports: [{port: 80}]\n")
		    ->service;
	assert_int_equal(s->session_affinity_timeout, 60);
	assert_int_equal(s->external_traffic_policy, WF_K8S_POLICY_LOCAL);
	done();
}

static void test_service_errors(void **state)
{
	parse_err(
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n",
		-WF_E_INVALID, "t.yaml:5:3: spec.ports: required value");
	parse_err(
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: Magic\n"
		"  ports: [{port: 80}]\n",
		-WF_E_INVALID,
		"t.yaml:5:9: spec.type: unsupported value \"Magic\": supported values: \"ClusterIP\", \"NodePort\", \"LoadBalancer\", \"ExternalName\"");
	parse_err(
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
		"  externalTrafficPolicy: Local\n  ports: [{port: 80}]\n",
		-WF_E_INVALID,
		"t.yaml:5:26: spec.externalTrafficPolicy: may only be set for externally-accessible services");
	parse_err(
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: ExternalName\n",
		-WF_E_INVALID, "t.yaml:5:3: spec.externalName: required value");
	parse_err("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
		  "  ports: [{port: 80, targetPort: 0}]\n",
		  -WF_E_INVALID,
		  "t.yaml:5:34: spec.ports[0].targetPort: must be between 1 and 65535, not 0");
	parse_err("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
		  "  ports: [{port: 80}]\n  externalIPs: [nope]\n",
		  -WF_E_INVALID, "t.yaml:6:17: spec.externalIPs[0]: invalid IP address \"nope\"");
	parse_err(
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
		"  ports: [{port: 80}]\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 5}}\n",
		-WF_E_INVALID,
		"t.yaml:6:26: spec.sessionAffinityConfig: must not be set when sessionAffinity is None");
	parse_err(
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
		"  ports: [{name: a, port: 53, protocol: UDP}, {name: b, port: 53, protocol: UDP}]\n",
		-WF_E_INVALID,
		"t.yaml:5:47: spec.ports[1]: duplicate port 53/UDP (same as ports[0])");
	parse_err("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: [1]\n",
		  -WF_E_INVALID, "t.yaml:4:7: spec: must be an object, not a list");
}

static void test_endpointslice(void **state)
{
	const struct wf_k8s_endpointslice *s =
		parse1("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-1\n"
		       "  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\n"
		       "ports: [{name: '', port: 80}, {name: dns, protocol: UDP}]\nendpoints:\n"
		       "- addresses: [10.0.0.1]\n"
		       "- addresses: [10.0.0.2]\n  conditions: {ready: false, serving: true, terminating: true}\n"
		       "  hostname: h\n  nodeName: n1\n  zone: z\n  hints: {forZones: [{name: z}]}\n"
		       "  targetRef: {kind: Pod, namespace: default, name: p}\n"
		       "- addresses: [10.0.0.3]\n  conditions: {ready: false}\n")
			->endpointslice;

	assert_int_equal(s->address_type, WF_K8S_ADDR_IPV4);
	assert_string_equal(s->service_name, "web");
	assert_int_equal(s->n_ports, 2);
	assert_string_equal(s->ports[0].name, "");
	assert_true(s->ports[0].has_port);
	assert_false(s->ports[1].has_port); /* nullable */
	assert_int_equal(s->ports[1].protocol, WF_K8S_PROTO_UDP);
	assert_int_equal(s->n_endpoints, 3);
	/* tri-state: unset is not false */
	assert_int_equal(s->endpoints[0].ready, WF_K8S_UNSET);
	assert_true(wf_k8s_endpoint_ready(&s->endpoints[0]));
	assert_true(wf_k8s_endpoint_serving(&s->endpoints[0]));
	assert_false(wf_k8s_endpoint_terminating(&s->endpoints[0]));
	assert_int_equal(s->endpoints[1].ready, WF_K8S_FALSE);
	assert_false(wf_k8s_endpoint_ready(&s->endpoints[1]));
	assert_true(wf_k8s_endpoint_serving(&s->endpoints[1]));
	assert_true(wf_k8s_endpoint_terminating(&s->endpoints[1]));
	assert_false(wf_k8s_endpoint_serving(&s->endpoints[2])); /* serving unset follows ready */
	assert_string_equal(s->endpoints[1].hostname, "h");
	assert_string_equal(s->endpoints[1].zone, "z");
	assert_string_equal(s->endpoints[1].hint_zones[0], "z");
	assert_true(s->endpoints[1].has_target_ref);
	assert_string_equal(s->endpoints[1].target_ref.name, "p");
	assert_string_equal(ipstr(&s->endpoints[2].ips[0]), "10.0.0.3");
	done();

	parse_err("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a}\n"
		  "endpoints: []\n",
		  -WF_E_INVALID, "t.yaml:1:1: addressType: required value");
	parse_err("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: a}\n"
		  "addressType: IPv4\nendpoints: [{addresses: []}]\n",
		  -WF_E_INVALID,
		  "t.yaml:5:25: endpoints[0].addresses: must contain at least 1 address");
}

static void test_networkpolicy(void **state)
{
	const struct wf_k8s_networkpolicy *np;
	struct wf_k8s_label web[] = {{"app", "web"}};
	struct wf_k8s_map web_labels = {1, web};

	np = parse1("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
		    "spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n"
		    "  - from:\n    - podSelector: {}\n    - namespaceSelector: {matchLabels: {a: b}}\n"
		    "      podSelector: {matchExpressions: [{key: x, operator: Exists}]}\n"
		    "    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n"
		    "    ports: [{port: 80}, {protocol: UDP, port: dns}, {port: 3000, endPort: 3010}]\n"
		    "  - {}\n")
		     ->networkpolicy;
	assert_true(wf_k8s_selector_matches(&np->pod_selector, &web_labels));
	/* policyTypes inferred: Ingress always, Egress only with egress rules */
	assert_true(np->policy_ingress);
	assert_false(np->policy_egress);
	assert_int_equal(np->n_ingress, 2);
	const struct wf_k8s_netpol_rule *r = &np->ingress[0];
	assert_int_equal(r->n_peers, 3);
	assert_true(r->peers[0].pod_selector.present);
	assert_false(r->peers[0].namespace_selector.present); /* null, not {} */
	assert_true(r->peers[1].pod_selector.present);
	assert_true(r->peers[1].namespace_selector.present);
	assert_int_equal(r->peers[1].pod_selector.exprs[0].op, WF_K8S_SEL_EXISTS);
	assert_non_null(r->peers[2].ip_block);
	assert_int_equal(r->peers[2].ip_block->n_except, 1);
	assert_int_equal(r->n_ports, 3);
	assert_int_equal(r->ports[0].protocol, WF_K8S_PROTO_TCP);
	assert_int_equal(r->ports[0].port.num, 80);
	assert_int_equal(r->ports[0].end_port, 0);
	assert_true(r->ports[1].port.is_str);
	assert_int_equal(r->ports[2].end_port, 3010);
	assert_int_equal(np->ingress[1].n_peers, 0); /* all sources */
	done();

	np = parse1("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
		    "spec:\n  podSelector: {}\n  egress: []\n")
		     ->networkpolicy;
	assert_true(np->policy_ingress);
	assert_true(np->policy_egress);
	assert_true(np->pod_selector.present);
	assert_true(wf_k8s_selector_matches(&np->pod_selector, &web_labels));
	done();

	np = parse1("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
		    "spec:\n  policyTypes: [Egress]\n")
		     ->networkpolicy;
	assert_false(np->policy_ingress);
	assert_true(np->policy_egress);
	done();

	parse_err(
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
		"spec:\n  ingress: [{from: [{}]}]\n",
		-WF_E_INVALID,
		"t.yaml:5:21: spec.ingress[0].from[0]: must specify a peer: podSelector, namespaceSelector or ipBlock");
	parse_err("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
		  "spec:\n  policyTypes: [Ingress, Ingress]\n",
		  -WF_E_INVALID, "t.yaml:5:26: spec.policyTypes[1]: duplicate value \"Ingress\"");
}

static void test_ingress(void **state)
{
	struct wf_k8s_object *o = parse1(
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: i\n"
		"  annotations: {kubernetes.io/ingress.class: legacy}\nspec:\n"
		"  defaultBackend: {service: {name: fallback, port: {number: 8080}}}\n"
		"  tls: [{hosts: [a.example.com], secretName: tls}]\n  rules:\n"
		"  - host: '*.example.com'\n    http:\n      paths:\n"
		"      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}\n"
		"      - {pathType: ImplementationSpecific, backend: {resource: {kind: Bucket, name: b}}}\n"
		"  - http: {paths: [{path: /, pathType: Exact, backend: {service: {name: x, port: {number: 1}}}}]}\n");
	const struct wf_k8s_ingress *in = o->ingress;

	assert_string_equal(in->class_name, "legacy"); /* from the annotation */
	assert_string_equal(in->default_backend->service_name, "fallback");
	assert_int_equal(in->default_backend->port.num, 8080);
	assert_int_equal(in->n_tls, 1);
	assert_string_equal(in->tls[0].hosts[0], "a.example.com");
	assert_string_equal(in->tls[0].secret_name, "tls");
	assert_int_equal(in->n_rules, 2);
	assert_true(in->rules[0].wildcard);
	assert_string_equal(in->rules[0].host, "*.example.com");
	assert_int_equal(in->rules[0].paths[0].path_type, WF_K8S_PATH_PREFIX);
	assert_true(in->rules[0].paths[0].backend.port.is_str);
	assert_string_equal(in->rules[0].paths[0].backend.port.str, "http");
	assert_string_equal(in->rules[0].paths[1].backend.resource_kind, "Bucket");
	assert_null(in->rules[1].host);
	assert_int_equal(in->rules[1].paths[0].path_type, WF_K8S_PATH_EXACT);
	done();

	const struct wf_k8s_ingressclass *ic =
		parse1("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: weft\n"
		       "  annotations: {ingressclass.kubernetes.io/is-default-class: 'true'}\n"
		       "spec: {controller: weft.dev/ingress}\n")
			->ingressclass;
	assert_string_equal(ic->controller, "weft.dev/ingress");
	assert_true(ic->is_default);
	done();

	parse_err(
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec:\n"
		"  rules: [{http: {paths: [{path: api, pathType: Prefix, backend: {service: {name: a, port: {number: 1}}}}]}}]\n",
		-WF_E_INVALID,
		"t.yaml:5:34: spec.rules[0].http.paths[0].path: must be an absolute path (start with '/')");
	parse_err(
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec: {}\n",
		-WF_E_INVALID,
		"t.yaml:4:7: spec: either `defaultBackend` or `rules` must be specified");
}

static void test_secret(void **state)
{
	const struct wf_k8s_secret *s =
		parse1("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\n"
		       "data:\n  tls.crt: Y2VydA==\n  tls.key: a2V5\n  extra: \"\"\n"
		       "stringData: {tls.key: plain, note: hi}\n")
			->secret;
	const struct wf_k8s_secret_item *it;

	assert_string_equal(s->type, "kubernetes.io/tls");
	assert_int_equal(s->n_items, 4);
	it = wf_k8s_secret_get(s, "tls.crt");
	assert_non_null(it);
	assert_int_equal(it->len, 4);
	assert_memory_equal(it->value, "cert", 4);
	it = wf_k8s_secret_get(s, "tls.key");
	assert_string_equal((const char *)it->value, "plain"); /* stringData wins */
	assert_int_equal(wf_k8s_secret_get(s, "extra")->len, 0);
	assert_null(wf_k8s_secret_get(s, "missing"));
	assert_string_equal(s->items[0].key, "extra"); /* sorted */
	done();

	s = parse1("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")->secret;
	assert_string_equal(s->type, "Opaque");
	assert_int_equal(s->n_items, 0);
	done();
}

static void test_gateway_httproute(void **state)
{
	const struct wf_k8s_gateway *g =
		parse1("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\n"
		       "spec:\n  gatewayClassName: weft\n  listeners:\n"
		       "  - {name: http, port: 80, protocol: HTTP}\n"
		       "  - name: https\n    port: 443\n    protocol: HTTPS\n    hostname: '*.example.com'\n"
		       "    tls: {certificateRefs: [{name: cert}]}\n"
		       "    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {a: b}}}, kinds: [{kind: HTTPRoute}]}\n")
			->gateway;

	assert_string_equal(g->gateway_class_name, "weft");
	assert_int_equal(g->n_listeners, 2);
	assert_int_equal(g->listeners[0].routes_from, WF_K8S_FROM_SAME); /* default */
	assert_null(g->listeners[0].tls_mode);
	assert_string_equal(g->listeners[1].tls_mode, "Terminate"); /* default */
	assert_string_equal(g->listeners[1].certificate_refs[0].kind, "Secret");
	assert_string_equal(g->listeners[1].certificate_refs[0].name, "cert");
	assert_null(g->listeners[1].certificate_refs[0].namespace);
	assert_int_equal(g->listeners[1].routes_from, WF_K8S_FROM_SELECTOR);
	assert_true(g->listeners[1].routes_selector.present);
	assert_string_equal(g->listeners[1].route_kinds[0], "HTTPRoute");
	done();

	const struct wf_k8s_httproute *hr =
		parse1("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\n"
		       "spec:\n  parentRefs: [{name: gw, sectionName: http}]\n  hostnames: [a.example.com]\n"
		       "  rules:\n  - matches:\n    - path: {value: /api}\n      headers: [{name: x, value: v1}]\n"
		       "      queryParams: [{type: RegularExpression, name: q, value: '^a'}]\n      method: GET\n"
		       "    filters:\n    - type: RequestRedirect\n      requestRedirect: {scheme: https}\n"
		       "    - type: RequestHeaderModifier\n      requestHeaderModifier: {set: [{name: a, value: b}], remove: [c]}\n"
		       "    backendRefs: [{name: a, port: 80}, {name: b, port: 80, weight: 0}]\n"
		       "    timeouts: {request: 1m30s, backendRequest: 500ms}\n"
		       "  - backendRefs: [{name: c, port: 8080}]\n")
			->httproute;
	assert_int_equal(hr->n_parent_refs, 1);
	assert_string_equal(hr->parent_refs[0].kind, "Gateway");
	assert_string_equal(hr->parent_refs[0].group, "gateway.networking.k8s.io");
	assert_string_equal(hr->parent_refs[0].section_name, "http");
	assert_int_equal(hr->n_rules, 2);
	const struct wf_k8s_http_rule *r = &hr->rules[0];
	assert_int_equal(r->matches[0].path_type, WF_K8S_HTTP_PATH_PREFIX); /* default */
	assert_string_equal(r->matches[0].path, "/api");
	assert_int_equal(r->matches[0].headers[0].type, WF_K8S_HTTP_VALUE_EXACT);
	assert_int_equal(r->matches[0].query_params[0].type, WF_K8S_HTTP_VALUE_REGEX);
	assert_string_equal(r->matches[0].method, "GET");
	assert_int_equal(r->filters[0].type, WF_K8S_HTTP_FILTER_REQUEST_REDIRECT);
	assert_int_equal(r->filters[0].status_code, 302); /* default */
	assert_string_equal(r->filters[0].scheme, "https");
	assert_int_equal(r->filters[1].n_set, 1);
	assert_string_equal(r->filters[1].remove[0], "c");
	assert_int_equal(r->backend_refs[0].weight, 1); /* default */
	assert_int_equal(r->backend_refs[1].weight, 0);
	assert_string_equal(r->backend_refs[0].kind, "Service");
	assert_int_equal(r->timeout_request_ms, 90000);
	assert_int_equal(r->timeout_backend_request_ms, 500);
	/* matches default to PathPrefix "/" */
	assert_int_equal(hr->rules[1].n_matches, 1);
	assert_string_equal(hr->rules[1].matches[0].path, "/");
	assert_int_equal(hr->rules[1].timeout_request_ms, -1);
	done();

	parse_err(
		"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\n"
		"spec:\n  rules: [{backendRefs: [{name: a}]}]\n",
		-WF_E_INVALID,
		"t.yaml:5:26: spec.rules[0].backendRefs[0].port: required value when the backend is a Service");
	parse_err(
		"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\n"
		"spec:\n  rules: [{filters: [{type: URLRewrite}]}]\n",
		-WF_E_INVALID,
		"t.yaml:5:22: spec.rules[0].filters[0].urlRewrite: required value for filter type URLRewrite");
}

static void test_deployment(void **state)
{
	const struct wf_k8s_deployment *d =
		parse1("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
		       "  selector: {matchExpressions: [{key: app, operator: In, values: [web]}]}\n"
		       "  template:\n    metadata: {labels: {app: web, v: '2'}}\n"
		       "    spec:\n      containers: [{name: web, image: nginx, readinessProbe: {httpGet: {port: 80}}}]\n")
			->deployment;

	assert_int_equal(d->replicas, 1); /* default */
	assert_int_equal(d->template_labels.n, 2);
	assert_string_equal(d->template_spec.containers[0].name, "web");
	assert_int_equal(d->template_spec.containers[0].readiness_probe->period_seconds, 10);
	assert_int_equal(d->template_spec.termination_grace_period_seconds, 30);
	done();

	parse_err("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
		  "  template: {spec: {containers: [{name: a}]}}\n",
		  -WF_E_INVALID, "t.yaml:5:3: spec.selector: required value");
	parse_err("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
		  "  replicas: -1\n  selector: {matchLabels: {a: b}}\n",
		  -WF_E_INVALID,
		  "t.yaml:5:13: spec.replicas: must be greater than or equal to 0, not -1");
}

static void test_lists_and_json(void **state)
{
	struct wf_diag diag;
	char line[512];
	const char *json =
		"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n"
		"  {\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}},\n"
		"  {\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": 7}}]}";
	const char *ok =
		"apiVersion: v1\nkind: PodList\nitems:\n- apiVersion: v1\n  kind: Namespace\n"
		"  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n"
		"  metadata: {name: b}\n";

	assert_int_equal(wf_k8s_parse(json, strlen(json), "l.json", &res, &diag), -WF_E_INVALID);
	assert_string_equal(wf_diag_format(&diag, line, sizeof(line)),
			    "l.json:3:66: metadata.name: must be a string, not an integer");
	assert_int_equal(wf_k8s_parse(ok, strlen(ok), "l.yaml", &res, &diag), 2);
	/* origins of List items point at the items */
	assert_int_equal(res.objects[0]->origin.line, 4);
	assert_int_equal(res.objects[0]->origin.column, 3);
	assert_int_equal(res.objects[1]->origin.line, 7);
	done();
	/* empty input: no objects */
	assert_int_equal(wf_k8s_parse(NULL, 0, "e.yaml", &res, &diag), 0);
	assert_int_equal(res.n_objects, 0);
	done();
	assert_int_equal(wf_k8s_parse("", 0, "e.json", &res, &diag), 0);
	done();
	assert_int_equal(wf_k8s_parse("{\"apiVersion\": \"v1\", \"kind\": \"List\"}", 36, "e.json",
				      &res, &diag),
			 0);
	done();
	parse_err(
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: []\n",
		-WF_E_INVALID, "t.yaml:4:3: a List item cannot be a List");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_metadata_and_key),
		cmocka_unit_test(test_node),
		cmocka_unit_test(test_pod),
		cmocka_unit_test(test_service_defaults),
		cmocka_unit_test(test_service_errors),
		cmocka_unit_test(test_endpointslice),
		cmocka_unit_test(test_networkpolicy),
		cmocka_unit_test(test_ingress),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_gateway_httproute),
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_lists_and_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
