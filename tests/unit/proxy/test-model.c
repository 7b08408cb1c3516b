/* Unit tests of the service proxy: the model's Kubernetes rules, the engine over the fake
 * backend, conntrack filter computation, and allocation-failure unwinding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/ip.h"
#include "proxy/fake.h"
#include "proxy/model.h"
#include "proxy/nft-plan.h"
#include "proxy/proxy.h"
#include "proxy/reconciler.h"
#include "proxy/render.h"

struct fixture {
	struct wf_k8s_parse_result res;
	struct wf_proxy_model *m;
};

static void parse(struct fixture *f, const char *yaml)
{
	struct wf_diag d;
	int r = wf_k8s_parse(yaml, strlen(yaml), "test.yaml", &f->res, &d);

	if (r < 0)
		fprintf(stderr, "parse: %s (%s)\n", d.msg, d.path);
	assert_true(r >= 0);
}

static const struct wf_proxy_model *build(struct fixture *f, const char *yaml,
					  const struct wf_proxy_config *cfg)
{
	static const struct wf_proxy_config node1 = {.node_name = "node-1"};

	parse(f, yaml);
	assert_int_equal(wf_proxy_model_build(cfg ? cfg : &node1,
					      (const struct wf_k8s_object *const *)f->res.objects,
					      f->res.n_objects, &f->m),
			 0);
	return f->m;
}

static void done(struct fixture *f)
{
	wf_proxy_model_free(f->m);
	wf_k8s_parse_result_done(&f->res);
}

static const struct wf_proxy_svc *find(const struct wf_proxy_model *m, int family, const char *id)
{
	const struct wf_proxy_svc *s = wf_proxy_model_find(m, family, id);

	if (!s)
		fprintf(stderr, "no service port %s\n", id);
	assert_non_null(s);
	return s;
}

static void assert_ep(const struct wf_proxy_endpoint *e, const char *ip, uint16_t port)
{
	char a[WF_IP_STRLEN];

	assert_string_equal(wf_ip_format(&e->ip, a), ip);
	assert_int_equal(e->port, port);
}

#define SVC(name, extra)                             \
	"---\napiVersion: v1\nkind: Service\n"       \
	"metadata: {name: " name ", namespace: t}\n" \
	"spec:\n  clusterIP: 10.96.0.1\n  selector: {app: x}\n" extra
#define SLICE(svc, slice, body)                                       \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n" \
	"metadata:\n  name: " slice "\n  namespace: t\n"              \
	"  labels: {kubernetes.io/service-name: " svc "}\naddressType: IPv4\n" body

/* EndpointSlice conditions (KEP-1672, KEP-1669): ready ones; else serving+terminating; never
 * serving=false. */
static void test_conditions(void **unused)
{
	struct fixture f = {0};
	const struct wf_proxy_svc *s;

	build(&f,
	      SVC("a", "  ports: [{port: 80}]\n") SLICE(
		      "a", "a1",
		      "ports: [{port: 8080}]\n"
		      "endpoints:\n"
		      "- {addresses: [10.0.0.1], conditions: {ready: true}}\n"
		      "- {addresses: [10.0.0.2]}\n"
		      "- {addresses: [10.0.0.3], conditions: {ready: false}}\n"
		      "- {addresses: [10.0.0.4], conditions: {ready: false, serving: true, terminating: true}}\n")
		      SVC("b", "  ports: [{port: 80}]\n") SLICE(
			      "b", "b1",
			      "ports: [{port: 8080}]\n"
			      "endpoints:\n"
			      "- {addresses: [10.0.1.1], conditions: {ready: false}}\n"
			      "- {addresses: [10.0.1.2], conditions: {ready: false, serving: true, terminating: true}}\n"
			      "- {addresses: [10.0.1.3], conditions: {ready: false, serving: false, terminating: true}}\n"),
	      NULL);
	s = find(f.m, AF_INET, "t/a/tcp/80");
	assert_int_equal(s->n_eps, 2); /* unset ready counts as ready */
	assert_ep(&s->eps[0], "10.0.0.1", 8080);
	assert_ep(&s->eps[1], "10.0.0.2", 8080);
	s = find(f.m, AF_INET, "t/b/tcp/80");
	assert_int_equal(s->n_eps, 1);
	assert_ep(&s->eps[0], "10.0.1.2", 8080);
	done(&f);
}

/* A named targetPort resolves per endpoint: two slices, two numbers; a duplicate counts once. */
static void test_named_ports(void **unused)
{
	struct fixture f = {0};
	const struct wf_proxy_svc *s;

	build(&f,
	      SVC("a", "  ports: [{name: web, port: 80, targetPort: http}, "
		       "{name: dns, port: 53, protocol: UDP}, {name: dnst, port: 53}]\n")
		      SLICE("a", "a1",
			    "ports: [{name: web, port: 8080}, {name: dns, port: 5353, protocol: UDP}]\n"
			    "endpoints: [{addresses: [10.0.0.1]}]\n")
			      SLICE("a", "a2",
				    "ports: [{name: web, port: 9090}, {name: dnst, port: 5353}]\n"
				    "endpoints: [{addresses: [10.0.0.2]}, {addresses: [10.0.0.2]}]\n"),
	      NULL);
	s = find(f.m, AF_INET, "t/a/tcp/80");
	assert_int_equal(s->n_eps, 2);
	assert_ep(&s->eps[0], "10.0.0.1", 8080);
	assert_ep(&s->eps[1], "10.0.0.2", 9090);
	s = find(f.m, AF_INET, "t/a/udp/53");
	assert_int_equal(s->n_eps, 1);
	assert_ep(&s->eps[0], "10.0.0.1", 5353);
	s = find(f.m, AF_INET, "t/a/tcp/53");
	assert_int_equal(s->n_eps, 1);
	assert_ep(&s->eps[0], "10.0.0.2", 5353);
	done(&f);
}

/* Headless, ExternalName and other proxies' Services program nothing. */
static void test_ignored(void **unused)
{
	static const char yaml[] =
		"apiVersion: v1\nkind: Service\nmetadata: {name: h, namespace: t}\n"
		"spec: {clusterIP: None, ports: [{port: 80}]}\n"
		"---\napiVersion: v1\nkind: Service\nmetadata: {name: e, namespace: t}\n"
		"spec: {type: ExternalName, externalName: example.com}\n"
		"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: l\n  namespace: t\n"
		"  labels: {service.kubernetes.io/headless: ''}\n"
		"spec: {clusterIP: 10.96.0.2, ports: [{port: 80}]}\n"
		"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: o\n  namespace: t\n"
		"  labels: {service.kubernetes.io/service-proxy-name: other}\n"
		"spec: {clusterIP: 10.96.0.3, ports: [{port: 80}]}\n"
		"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: w\n  namespace: t\n"
		"  labels: {service.kubernetes.io/service-proxy-name: weft}\n"
		"spec: {clusterIP: 10.96.0.4, ports: [{port: 80}]}\n";
	struct wf_proxy_config cfg = {.node_name = "node-1", .proxy_name = "weft"};
	struct fixture f = {0};

	build(&f, yaml, NULL);
	assert_int_equal(f.m->n_svcs, 0);
	assert_int_equal(f.m->n_ignored, 5);
	done(&f);
	memset(&f, 0, sizeof(f));
	build(&f, yaml, &cfg);
	assert_int_equal(f.m->n_svcs, 1);
	assert_non_null(find(f.m, AF_INET, "t/w/tcp/80"));
	done(&f);
}

/* Dual-stack: one service port per family, each with its own endpoints (KEP-563). */
static void test_dual_stack(void **unused)
{
	struct fixture f = {0};
	const struct wf_proxy_svc *s4, *s6;

	build(&f,
	      "apiVersion: v1\nkind: Service\nmetadata: {name: d, namespace: t}\n"
	      "spec:\n  clusterIPs: [10.96.0.5, 'fd00::5']\n  ipFamilies: [IPv4, IPv6]\n"
	      "  ipFamilyPolicy: PreferDualStack\n  ports: [{port: 80}]\n"
	      "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	      "metadata: {name: d6, namespace: t, labels: {kubernetes.io/service-name: d}}\n"
	      "addressType: IPv6\nports: [{port: 80}]\nendpoints: [{addresses: ['fd00:1::1']}]\n",
	      NULL);
	assert_int_equal(f.m->n_svcs, 2);
	s4 = &f.m->svcs[0];
	s6 = &f.m->svcs[1];
	assert_int_equal(s4->family, AF_INET);
	assert_int_equal(s6->family, AF_INET6);
	assert_int_equal(s4->n_eps, 0);
	assert_int_equal(s6->n_eps, 1);
	assert_ep(&s6->eps[0], "fd00:1::1", 80);
	done(&f);
}

/* Local endpoints, Local policies, NodePorts on the Node's addresses, LB ingress and source
 * ranges, health check port, affinity defaults. */
static void test_external(void **unused)
{
	struct fixture f = {0};
	const struct wf_proxy_svc *s;
	char a[WF_CIDR_STRLEN];

	build(&f,
	      "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n"
	      "status:\n  addresses: [{type: InternalIP, address: 192.168.0.1}, "
	      "{type: Hostname, address: node-1}, {type: ExternalIP, address: 203.0.113.1}]\n"
	      "---\napiVersion: v1\nkind: Service\nmetadata: {name: lb, namespace: t}\n"
	      "spec:\n  type: LoadBalancer\n  clusterIP: 10.96.0.6\n  externalTrafficPolicy: Local\n"
	      "  healthCheckNodePort: 32100\n  sessionAffinity: ClientIP\n"
	      "  loadBalancerSourceRanges: [198.51.100.0/24, '2001:db8::/32']\n"
	      "  externalIPs: [203.0.113.9]\n  ports: [{port: 80, nodePort: 30100}]\n"
	      "status: {loadBalancer: {ingress: [{ip: 192.0.2.10}, {hostname: lb.example}]}}\n"
	      "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	      "metadata: {name: lb1, namespace: t, labels: {kubernetes.io/service-name: lb}}\n"
	      "addressType: IPv4\nports: [{port: 80}]\nendpoints:\n"
	      "- {addresses: [10.0.0.1], nodeName: node-1}\n"
	      "- {addresses: [10.0.0.2], nodeName: node-2}\n"
	      "- {addresses: [10.0.0.3], nodeName: node-1, conditions: {ready: false, serving: true, "
	      "terminating: true}}\n",
	      NULL);
	assert_int_equal(f.m->n_node_ips, 2);
	assert_string_equal(wf_ip_format(&f.m->node_ips[0], a), "192.168.0.1");
	assert_string_equal(wf_ip_format(&f.m->node_ips[1], a), "203.0.113.1");
	s = find(f.m, AF_INET, "t/lb/tcp/80");
	assert_int_equal(s->node_port, 30100);
	assert_int_equal(s->n_vips, 3);
	assert_int_equal(s->vips[0].kind, WF_PROXY_VIP_CLUSTER);
	assert_int_equal(s->vips[1].kind, WF_PROXY_VIP_EXTERNAL);
	assert_int_equal(s->vips[2].kind, WF_PROXY_VIP_LB);
	assert_string_equal(wf_ip_format(&s->vips[2].ip, a), "192.0.2.10");
	assert_true(s->external_local);
	assert_false(s->internal_local);
	assert_int_equal(s->health_check_node_port, 32100);
	assert_int_equal(s->affinity_timeout, 10800);
	assert_int_equal(s->n_source_ranges, 1); /* the IPv6 range is the other family's */
	assert_string_equal(wf_cidr_format(&s->source_ranges[0], a), "198.51.100.0/24");
	assert_int_equal(s->n_eps, 2);
	assert_int_equal(s->n_local_eps, 1);
	assert_ep(&s->local_eps[0], "10.0.0.1", 80);
	assert_int_equal(s->n_local_ready, 1);
	done(&f);
}

/* Local scope falls back to local serving+terminating endpoints on its own; /healthz counts
 * only ready ones. */
static void test_local_fallback(void **unused)
{
	struct fixture f = {0};
	const struct wf_proxy_svc *s;

	build(&f,
	      SVC("a", "  internalTrafficPolicy: Local\n  ports: [{port: 80}]\n") SLICE(
		      "a", "a1",
		      "ports: [{port: 80}]\nendpoints:\n"
		      "- {addresses: [10.0.0.1], nodeName: node-2}\n"
		      "- {addresses: [10.0.0.2], nodeName: node-1, conditions: {ready: false, "
		      "serving: true, terminating: true}}\n"),
	      NULL);
	s = find(f.m, AF_INET, "t/a/tcp/80");
	assert_int_equal(s->n_eps, 1);
	assert_ep(&s->eps[0], "10.0.0.1", 80);
	assert_int_equal(s->n_local_eps, 1);
	assert_ep(&s->local_eps[0], "10.0.0.2", 80);
	assert_int_equal(s->n_local_ready, 0);
	done(&f);
}

/* Topology hints (KEP-2433/4444): used only when every endpoint has them and some are for
 * this zone. */
static void test_topology(void **unused)
{
	struct wf_proxy_config cfg = {.node_name = "node-1", .zone = "a"};
	struct fixture f = {0};
	const struct wf_proxy_svc *s;

	build(&f,
	      SVC("h", "  trafficDistribution: PreferClose\n  ports: [{port: 80}]\n") SLICE(
		      "h", "h1",
		      "ports: [{port: 80}]\nendpoints:\n"
		      "- {addresses: [10.0.0.1], zone: a, hints: {forZones: [{name: a}]}}\n"
		      "- {addresses: [10.0.0.2], zone: b, hints: {forZones: [{name: b}]}}\n")
		      SVC("p", "  trafficDistribution: PreferClose\n  ports: [{port: 80}]\n") SLICE(
			      "p", "p1",
			      "ports: [{port: 80}]\nendpoints:\n"
			      "- {addresses: [10.0.1.1], hints: {forZones: [{name: a}]}}\n"
			      "- {addresses: [10.0.1.2]}\n") SVC("nohint",
								 "  ports: [{port: 80}]\n")
			      SLICE("nohint", "n1",
				    "ports: [{port: 80}]\nendpoints:\n"
				    "- {addresses: [10.0.2.1], hints: {forZones: [{name: a}]}}\n"
				    "- {addresses: [10.0.2.2], hints: {forZones: [{name: b}]}}\n"),
	      &cfg);
	s = find(f.m, AF_INET, "t/h/tcp/80");
	assert_int_equal(s->n_eps, 1);
	assert_ep(&s->eps[0], "10.0.0.1", 80);
	assert_int_equal(find(f.m, AF_INET, "t/p/tcp/80")->n_eps, 2);	   /* one lacks hints */
	assert_int_equal(find(f.m, AF_INET, "t/nohint/tcp/80")->n_eps, 2); /* not asked for */
	done(&f);
}

static const char engine_a[] = SVC("u", "  ports: [{port: 53, protocol: UDP}]\n") SLICE(
	"u", "u1", "ports: [{port: 53, protocol: UDP}]\nendpoints: [{addresses: [10.0.0.1]}]\n")
	SVC("t", "  ports: [{port: 80}]\n")
		SLICE("t", "t1", "ports: [{port: 80}]\nendpoints: [{addresses: [10.0.0.1]}]\n");
static const char engine_b[] = SVC("u", "  ports: [{port: 53, protocol: UDP}]\n") SLICE(
	"u", "u1", "ports: [{port: 53, protocol: UDP}]\nendpoints: [{addresses: [10.0.0.2]}]\n")
	SVC("t", "  ports: [{port: 80}]\n")
		SLICE("t", "t1", "ports: [{port: 80}]\nendpoints: [{addresses: [10.0.0.2]}]\n");

static struct wf_proxy_model *model_of(const char *yaml)
{
	struct fixture f = {0};
	struct wf_proxy_model *m;

	build(&f, yaml, NULL);
	m = f.m;
	wf_k8s_parse_result_done(&f.res); /* the model keeps no pointer into the objects */
	return m;
}

/* Full first, deltas after, full again after a failure; conntrack filters only for UDP
 * services whose endpoints changed (every UDP service after a restart). */
static void test_engine(void **unused)
{
	struct wf_proxy *p;
	struct wf_proxy_fake *fk;
	struct wf_proxy_ct_filter *flt;
	struct wf_proxy_model *a = model_of(engine_a), *b = model_of(engine_b);

	assert_int_equal(wf_proxy_ct_filters(NULL, a, &flt), 1);
	assert_int_equal(flt[0].port, 53);
	wf_free(flt);
	assert_int_equal(wf_proxy_ct_filters(a, b, &flt), 1);
	wf_free(flt);
	assert_int_equal(wf_proxy_ct_filters(a, a, &flt), 0);
	wf_proxy_model_free(b);

	assert_int_equal(wf_proxy_new(&wf_proxy_fake_ops, &p), 0);
	fk = wf_proxy_backend(p);
	assert_int_equal(wf_proxy_sync(p, a), 0);
	assert_int_equal(fk->stats.full_loads, 1);
	assert_int_equal(fk->ct_filters, 1);
	assert_non_null(strstr(fk->ruleset, " . 80 . 0 : 10.0.0.1 . 80"));
	assert_int_equal(wf_proxy_sync(p, model_of(engine_b)), 0);
	assert_int_equal(fk->stats.nl_deltas, 1);
	assert_int_equal(fk->ct_filters, 2);
	assert_non_null(strstr(fk->ruleset, " . 80 . 0 : 10.0.0.2 . 80"));
	fk->fail_next = -EIO;
	assert_int_equal(wf_proxy_sync(p, model_of(engine_a)), -EIO);
	assert_null(wf_proxy_installed(p));
	assert_int_equal(wf_proxy_sync(p, model_of(engine_a)), 0);
	assert_int_equal(fk->stats.full_loads, 2);
	wf_proxy_free(p);
}

struct plan_rec {
	struct wf_proxy_el e[64];
	size_t n;
};

static int plan_rec_add(void *ud, const struct wf_proxy_el *e)
{
	struct plan_rec *r = ud;

	assert_true(r->n < 64);
	r->e[r->n++] = *e;
	return 0;
}

static size_t count_set(const struct plan_rec *r, enum wf_proxy_set set)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->e[i].set == set;
	return n;
}

/* The element plan: endpoints before the class key that dispatches to them, keys in the
 * kernel's layout (ports big-endian, numgen slots host-endian), no endpoints -> reject key,
 * Local policies -> the local sets. */
static void test_plan(void **unused)
{
	struct wf_proxy_config cfg = {.node_name = "node-1"};
	struct fixture f = {0};
	struct plan_rec rec = {0};
	uint8_t key[WF_PROXY_KEY_MAX], data[WF_PROXY_KEY_MAX];
	char name[WF_PROXY_NAME_MAX];
	uint32_t slot = 2;
	size_t last_eps = 0, first_cls = 64;
	const struct wf_proxy_svc *s;

	build(&f,
	      SVC("t", "  ports: [{port: 80}]\n") SLICE(
		      "t", "t1",
		      "ports: [{port: 8080}]\nendpoints: [{addresses: [10.0.0.1]}, "
		      "{addresses: [10.0.0.2]}, {addresses: [10.0.0.3], nodeName: node-1}]\n")
		      SVC("e", "  ports: [{port: 53, protocol: UDP}]\n")
			      SVC("l", "  internalTrafficPolicy: Local\n  ports: [{port: 81}]\n")
				      SLICE("l", "l1",
					    "ports: [{port: 81}]\nendpoints: [{addresses: "
					    "[10.0.1.1], nodeName: node-2}]\n"),
	      &cfg);
	s = find(f.m, AF_INET, "t/t/tcp/80");
	assert_int_equal(wf_proxy_svc_plan(f.m, s, plan_rec_add, &rec), 0);
	assert_int_equal(count_set(&rec, WF_PROXY_SET_EPS), 3);
	assert_int_equal(count_set(&rec, WF_PROXY_SET_CLS), 1);
	for (size_t i = 0; i < rec.n; i++) {
		if (rec.e[i].set == WF_PROXY_SET_EPS)
			last_eps = i;
		if (rec.e[i].set == WF_PROXY_SET_CLS && i < first_cls)
			first_cls = i;
	}
	assert_true(last_eps < first_cls);
	assert_int_equal(rec.e[first_cls].n, 3);
	assert_string_equal(wf_proxy_el_set_name(&rec.e[first_cls], name), "cls3-tcp4");
	assert_string_equal(wf_proxy_el_set_name(&rec.e[last_eps], name), "eps-tcp4");
	assert_int_equal(rec.e[last_eps].slot, 2);
	/* key: VIP . port (padded to 32 bits) . slot; data: endpoint . port */
	assert_int_equal(wf_proxy_el_key(&rec.e[last_eps], key, NULL), 12);
	assert_memory_equal(key, s->vips[0].ip.addr, 4);
	assert_int_equal(key[4], 0);
	assert_int_equal(key[5], 80);
	assert_int_equal(key[6] | key[7], 0);
	assert_memory_equal(key + 8, &slot, 4);
	assert_int_equal(wf_proxy_el_data(&rec.e[last_eps], data), 8);
	assert_int_equal(data[4], 8080 >> 8);
	assert_int_equal(data[5], 8080 & 0xff);

	rec.n = 0;
	s = find(f.m, AF_INET, "t/e/udp/53");
	assert_int_equal(wf_proxy_svc_plan(f.m, s, plan_rec_add, &rec), 0);
	assert_int_equal(rec.n, 2); /* one key: without endpoints, rejected */
	assert_int_equal(count_set(&rec, WF_PROXY_SET_EMPTY), 1);
	assert_int_equal(count_set(&rec, WF_PROXY_SET_NOEP), 1);
	assert_string_equal(wf_proxy_el_set_name(&rec.e[1], name), "noep-udp4");

	/* iTP=Local without a local endpoint: the key goes to the Local chain, which has no
	 * class for it and drops. */
	rec.n = 0;
	s = find(f.m, AF_INET, "t/l/tcp/81");
	assert_int_equal(wf_proxy_svc_plan(f.m, s, plan_rec_add, &rec), 0);
	assert_int_equal(count_set(&rec, WF_PROXY_SET_INTLOCAL), 1);
	assert_int_equal(count_set(&rec, WF_PROXY_SET_POLICY), 1);
	assert_int_equal(count_set(&rec, WF_PROXY_SET_CLS) + count_set(&rec, WF_PROXY_SET_LCLS), 0);
	assert_int_equal(count_set(&rec, WF_PROXY_SET_EPS), 0);
	assert_int_equal(wf_proxy_plan_classes(f.m), WF_PROXY_CLASS_STEP);
	done(&f);
}

/* Every allocation failure unwinds cleanly (ASan/valgrind judge the leaks). */
static void test_alloc_failures(void **unused)
{
	struct wf_k8s_parse_result res = {0};
	struct wf_diag d;
	size_t len = strlen(engine_a);
	int ok = 0;

	assert_true(wf_k8s_parse(engine_a, len, "t.yaml", &res, &d) >= 0);
	for (unsigned long n = 1; n < 1000 && !ok; n++) {
		struct wf_proxy_config cfg = {.node_name = "node-1"};
		struct wf_proxy_model *m = NULL;
		struct wf_buf b;
		int r;

		wf_buf_init(&b, 0);
		wf_alloc_fail_at(n);
		r = wf_proxy_model_build(&cfg, (const struct wf_k8s_object *const *)res.objects,
					 res.n_objects, &m);
		if (r == 0)
			r = wf_proxy_render(m, &b);
		wf_alloc_fail_at(0);
		if (r == 0)
			ok = 1;
		else
			assert_int_equal(r, -ENOMEM);
		wf_proxy_model_free(m);
		wf_buf_done(&b);
	}
	assert_true(ok);
	wf_k8s_parse_result_done(&res);
}

/* ---- incremental updates equal a full build ---- */

#define INC_SVCS 14

/* No healthCheckNodePort: the reconciler test must not open ports in the host's namespace. */
static bool inc_no_hcnp;

static uint32_t inc_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Service i at version v (0: absent) with its slices, as YAML: every shape the model knows -
 * types, dual stack, traffic policies, affinity, named ports, conditions, hints, headless. */
static void inc_service(struct wf_buf *b, unsigned i, uint32_t v)
{
	static const char *const types[] = {"ClusterIP", "NodePort", "LoadBalancer"};
	static const char *const conds[] = {
		"", ", conditions: {ready: false, serving: true, terminating: true}",
		", conditions: {ready: false, serving: false}"};
	uint32_t x = v * 2654435761u + i + 1;
	const char *type = types[inc_rand(&x) % 3];
	bool dual = inc_rand(&x) % 3 == 0, headless = inc_rand(&x) % 9 == 0;
	unsigned n_ports = 1 + inc_rand(&x) % 2, n_slices = inc_rand(&x) % 3;

	if (!v)
		return;
	wf_buf_printf(b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: s%u, namespace: n%u",
		      i, i % 2);
	if (inc_rand(&x) % 3 == 0)
		wf_buf_printf(b, ", annotations: {service.kubernetes.io/topology-mode: Auto}");
	wf_buf_printf(b, "}\nspec:\n  type: %s\n", type);
	if (headless)
		wf_buf_printf(b, "  clusterIP: None\n");
	else if (dual)
		wf_buf_printf(b, "  clusterIPs: [10.96.0.%u, 'fd00::%x']\n", i + 1, i + 1);
	else
		wf_buf_printf(b, "  clusterIP: 10.96.0.%u\n", i + 1);
	if (strcmp(type, "ClusterIP") && inc_rand(&x) % 2) {
		wf_buf_printf(b, "  externalTrafficPolicy: Local\n");
		if (!strcmp(type, "LoadBalancer") && !inc_no_hcnp)
			wf_buf_printf(b, "  healthCheckNodePort: %u\n", 32000 + i);
	}
	if (inc_rand(&x) % 4 == 0)
		wf_buf_printf(b, "  internalTrafficPolicy: Local\n");
	if (inc_rand(&x) % 3 == 0)
		wf_buf_printf(b,
			      "  sessionAffinity: ClientIP\n  sessionAffinityConfig: "
			      "{clientIP: {timeoutSeconds: %u}}\n",
			      inc_rand(&x) % 2 ? 600 : 10800);
	if (inc_rand(&x) % 3 == 0)
		wf_buf_printf(b, "  externalIPs: [203.0.113.%u]\n", i + 1);
	if (!strcmp(type, "LoadBalancer") && inc_rand(&x) % 2)
		wf_buf_printf(b, "  loadBalancerSourceRanges: [198.51.100.0/24]\n");
	wf_buf_printf(b, "  ports:\n");
	for (unsigned p = 0; p < n_ports; p++) {
		wf_buf_printf(b, "  - {name: p%u, port: %u, protocol: %s", p,
			      80 + 2 * p + inc_rand(&x) % 2, inc_rand(&x) % 2 ? "UDP" : "TCP");
		if (strcmp(type, "ClusterIP"))
			wf_buf_printf(b, ", nodePort: %u", 30000 + i * 4 + p);
		wf_buf_printf(b, "}\n");
	}
	if (!strcmp(type, "LoadBalancer"))
		wf_buf_printf(b, "status: {loadBalancer: {ingress: [{ip: 192.0.2.%u}]}}\n", i + 1);
	for (unsigned sl = 0; sl < n_slices; sl++) {
		bool v6 = dual && sl == 1;
		unsigned n_eps = inc_rand(&x) % 12;

		wf_buf_printf(b,
			      "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			      "metadata: {name: s%u-%u, namespace: n%u, labels: "
			      "{kubernetes.io/service-name: s%u}}\naddressType: %s\nports:\n",
			      i, sl, i % 2, i, v6 ? "IPv6" : "IPv4");
		for (unsigned p = 0; p < 2; p++)
			wf_buf_printf(b, "- {name: p%u, port: %u, protocol: %s}\n", p,
				      8080 + inc_rand(&x) % 2, inc_rand(&x) % 2 ? "UDP" : "TCP");
		wf_buf_printf(b, "endpoints:%s\n", n_eps ? "" : " []");
		for (unsigned e = 0; e < n_eps; e++) {
			unsigned a = inc_rand(&x) % 16;
			bool hint = inc_rand(&x) % 4 != 0;

			if (v6)
				wf_buf_printf(b, "- {addresses: ['fd01::%x']", a + 1);
			else
				wf_buf_printf(b, "- {addresses: [10.1.%u.%u]", i, a + 1);
			wf_buf_printf(b, ", nodeName: node-%u%s", 1 + inc_rand(&x) % 2,
				      conds[inc_rand(&x) % 3]);
			if (hint)
				wf_buf_printf(b, ", hints: {forZones: [{name: z%u}]}",
					      1 + inc_rand(&x) % 2);
			wf_buf_printf(b, "}\n");
		}
	}
}

static void inc_parse(const uint32_t *ver, struct wf_k8s_parse_result *res)
{
	struct wf_buf b;
	struct wf_diag d;

	wf_buf_init(&b, 0);
	wf_buf_printf(&b, "apiVersion: v1\nkind: Node\nmetadata: {name: node-1, labels: "
			  "{topology.kubernetes.io/zone: z1}}\nspec: {podCIDR: 10.244.1.0/24}\n"
			  "status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}\n");
	for (unsigned i = 0; i < INC_SVCS; i++)
		inc_service(&b, i, ver[i]);
	*res = (struct wf_k8s_parse_result){0};
	if (wf_k8s_parse((const char *)wf_buf_data(&b), wf_buf_len(&b), "inc.yaml", res, &d) < 0)
		fail_msg("parse: %s (%s)\n%s", d.msg, d.path, (const char *)wf_buf_data(&b));
	wf_buf_done(&b);
}

static char *inc_render(const struct wf_proxy_model *m)
{
	struct wf_buf b;
	char *s;

	wf_buf_init(&b, 0);
	assert_int_equal(wf_proxy_render(m, &b), 0);
	s = wf_buf_steal(&b, NULL);
	wf_buf_done(&b);
	return s;
}

/* A random sequence of Service and EndpointSlice changes, applied through the engine's
 * incremental path (wf_proxy_sync_update over the fake backend): after each step the model is
 * the one a full build makes, and the delta names exactly the service ports that differ. */
static void test_incremental(void **unused)
{
	const struct wf_proxy_config cfg = {.node_name = "node-1"};
	uint32_t ver[INC_SVCS], seed = 12345;
	struct wf_k8s_parse_result res;
	struct wf_proxy_model *m, *prev;
	struct wf_proxy *p;

	for (unsigned i = 0; i < INC_SVCS; i++)
		ver[i] = inc_rand(&seed) % 4 ? i + 1 : 0;
	inc_parse(ver, &res);
	assert_int_equal(wf_proxy_new(&wf_proxy_fake_ops, &p), 0);
	assert_int_equal(wf_proxy_model_build(&cfg,
					      (const struct wf_k8s_object *const *)res.objects,
					      res.n_objects, &m),
			 0);
	assert_int_equal(wf_proxy_model_build(&cfg,
					      (const struct wf_k8s_object *const *)res.objects,
					      res.n_objects, &prev),
			 0);
	wf_k8s_parse_result_done(&res);
	assert_int_equal(wf_proxy_sync(p, m), 0);
	for (unsigned step = 0; step < 300; step++) {
		struct wf_proxy_service_input in[3];
		const struct wf_k8s_object *slices[3][4];
		struct wf_proxy_model_delta d = {0};
		struct wf_proxy_model *full;
		const struct wf_proxy_model *inc;
		unsigned n_in = 1 + inc_rand(&seed) % 3, picked[3];
		char names[3][16], *a, *b;
		uint32_t ta[8], tb[8];

		for (unsigned k = 0; k < n_in; k++) {
			unsigned i;
			bool dup;

			do {
				i = inc_rand(&seed) % INC_SVCS;
				dup = false;
				for (unsigned j = 0; j < k; j++)
					dup |= picked[j] == i;
			} while (dup);
			picked[k] = i;
			/* Gone, back, or another version (ports, endpoints, policies...). */
			ver[i] = inc_rand(&seed) % 5 == 0 ? 0 : inc_rand(&seed) % 1000 + 1;
		}
		inc_parse(ver, &res);
		for (unsigned k = 0; k < n_in; k++) {
			char ns[8];

			snprintf(ns, sizeof(ns), "n%u", picked[k] % 2);
			snprintf(names[k], sizeof(names[k]), "s%u", picked[k]);
			in[k] = (struct wf_proxy_service_input){.namespace =
									picked[k] % 2 ? "n1" : "n0",
								.name = names[k],
								.slices = slices[k]};
			for (size_t o = 0; o < res.n_objects; o++) {
				const struct wf_k8s_object *obj = res.objects[o];

				if (!obj->namespace || strcmp(obj->namespace, ns))
					continue;
				if (obj->kind == WF_K8S_SERVICE && !strcmp(obj->name, names[k]))
					in[k].service = obj;
				if (obj->kind == WF_K8S_ENDPOINTSLICE &&
				    obj->endpointslice->service_name &&
				    !strcmp(obj->endpointslice->service_name, names[k]))
					slices[k][in[k].n_slices++] = obj;
			}
		}
		assert_int_equal(wf_proxy_sync_update(p, &cfg, in, n_in, &d), 0);
		assert_int_equal(
			wf_proxy_model_build(&cfg, (const struct wf_k8s_object *const *)res.objects,
					     res.n_objects, &full),
			0);
		inc = wf_proxy_installed(p);
		a = inc_render(inc);
		b = inc_render(full);
		assert_string_equal(a, b);
		assert_int_equal(inc->n_svcs, full->n_svcs);
		assert_int_equal(inc->n_ignored, full->n_ignored);
		assert_int_equal(wf_proxy_plan_classes(inc), wf_proxy_plan_classes(full));
		assert_int_equal(wf_proxy_plan_timeouts(inc, ta, 8),
				 wf_proxy_plan_timeouts(full, tb, 8));
		assert_memory_equal(ta, tb, wf_proxy_plan_timeouts(full, tb, 8) * sizeof(*ta));
		for (size_t i = 0; i < full->n_svcs; i++)
			assert_true(wf_proxy_svc_eps_equal(&inc->svcs[i], &full->svcs[i]) &&
				    wf_proxy_svc_shape_equal(&inc->svcs[i], &full->svcs[i]));
		/* The delta: each change is one, and every difference is in it. */
		for (size_t i = 0; i < d.n; i++) {
			const struct wf_proxy_svc_change *c = &d.v[i];

			assert_true(c->has_old || c->has_new);
			if (c->has_old && c->has_new)
				assert_false(wf_proxy_svc_eps_equal(&c->old, &c->new) &&
					     wf_proxy_svc_shape_equal(&c->old, &c->new));
		}
		for (size_t i = 0; i < full->n_svcs; i++) {
			const struct wf_proxy_svc *s = &full->svcs[i];
			const struct wf_proxy_svc *o = wf_proxy_model_find(prev, s->family, s->id);
			bool listed = false;

			for (size_t j = 0; j < d.n && !listed; j++)
				listed = d.v[j].has_new && d.v[j].new.family == s->family &&
					 !strcmp(d.v[j].new.id, s->id);
			if (!o || !wf_proxy_svc_eps_equal(o, s) || !wf_proxy_svc_shape_equal(o, s))
				assert_true(listed);
		}
		for (size_t i = 0; i < prev->n_svcs; i++) {
			const struct wf_proxy_svc *o = &prev->svcs[i];
			bool listed = false;

			if (wf_proxy_model_find(full, o->family, o->id))
				continue;
			for (size_t j = 0; j < d.n && !listed; j++)
				listed = d.v[j].has_old && !d.v[j].has_new &&
					 d.v[j].old.family == o->family &&
					 !strcmp(d.v[j].old.id, o->id);
			assert_true(listed);
		}
		wf_free(a);
		wf_free(b);
		wf_proxy_model_delta_done(&d);
		wf_proxy_model_free(prev);
		prev = full;
		wf_k8s_parse_result_done(&res);
	}
	wf_proxy_model_free(prev);
	wf_proxy_free(p);
}

static unsigned long rec_batches;

static void rec_events(void *ud, const struct wf_store_snapshot *snap,
		       const struct wf_store_event *ev, size_t n)
{
	rec_batches++;
	wf_proxy_agent_reconciler_fake.changes(ud, snap, ev, n);
}

/* The picked Services' new objects into the store as one batch, the previous ones deleted
 * first - all of them, or (mode 1) the EndpointSlices only, or (mode 2) the Service only - so
 * that the reconciler sees the events the agent would hand it, slice-only changes included. */
static void rec_commit(struct wf_store *store, const uint32_t *ver, const unsigned *picked,
		       const unsigned *mode, unsigned n, struct wf_k8s_parse_result *res)
{
	struct wf_store_batch *b;

	inc_parse(ver, res);
	assert_int_equal(wf_store_batch_begin(store, &b), 0);
	for (unsigned k = 0; k < n; k++) {
		char ns[8], name[16], svc_name[16];

		snprintf(ns, sizeof(ns), "n%u", picked[k] % 2);
		snprintf(svc_name, sizeof(svc_name), "s%u", picked[k]);
		if (mode[k] != 1)
			wf_store_batch_delete(b, WF_K8S_SERVICE, ns, svc_name);
		for (unsigned sl = 0; mode[k] != 2 && sl < 3; sl++) {
			snprintf(name, sizeof(name), "s%u-%u", picked[k], sl);
			wf_store_batch_delete(b, WF_K8S_ENDPOINTSLICE, ns, name);
		}
		for (size_t o = 0; o < res->n_objects; o++) {
			const struct wf_k8s_object *obj = res->objects[o];
			bool svc = obj->kind == WF_K8S_SERVICE && mode[k] != 1 &&
				   !strcmp(obj->name, svc_name);
			bool slice = obj->kind == WF_K8S_ENDPOINTSLICE && mode[k] != 2 &&
				     obj->endpointslice->service_name &&
				     !strcmp(obj->endpointslice->service_name, svc_name);

			if ((svc || slice) && !strcmp(obj->namespace, ns))
				assert_int_equal(wf_store_batch_put(b, res->objects[o]), 0);
		}
	}
	assert_int_equal(wf_store_batch_commit(b), 0);
}

static int rec_collect(void *ud, const struct wf_k8s_object *obj)
{
	struct wf_k8s_parse_result *all = ud;

	all->objects[all->n_objects++] = (struct wf_k8s_object *)obj;
	return 0;
}

/* A full build from everything the snapshot holds: what the reconciler must have installed. */
static struct wf_proxy_model *rec_full(const struct wf_store_snapshot *snap)
{
	static const enum wf_k8s_kind kinds[] = {WF_K8S_SERVICE, WF_K8S_ENDPOINTSLICE, WF_K8S_NODE};
	const struct wf_proxy_config cfg = {.node_name = "node-1"};
	struct wf_k8s_object *objs[4 * INC_SVCS + 1];
	struct wf_k8s_parse_result all = {.objects = objs};
	struct wf_proxy_model *m;

	for (size_t i = 0; i < 3; i++)
		assert_int_equal(wf_store_foreach(snap, kinds[i], NULL, rec_collect, &all), 0);
	assert_int_equal(wf_proxy_model_build(&cfg, (const struct wf_k8s_object *const *)objs,
					      all.n_objects, &m),
			 0);
	return m;
}

/* The agent's reconciler over the fake backend, driven by store events: after the first
 * (full) sync every sync is incremental, and its model is the one a full build makes. */
static void test_reconciler_incremental(void **unused)
{
	struct wf_agent_config acfg = {.node_name = "node-1"};
	uint32_t ver[INC_SVCS], seed = 777;
	unsigned all[INC_SVCS], modes[INC_SVCS] = {0};
	struct wf_k8s_parse_result res;
	struct wf_store *store;
	struct wf_store_snapshot *snap;
	struct wf_proxy *p;
	struct wf_proxy_fake *f;
	char err[256];
	void *rs;

	inc_no_hcnp = true;
	for (unsigned i = 0; i < INC_SVCS; i++) {
		ver[i] = inc_rand(&seed) % 4 ? i + 1 : 0;
		all[i] = i;
	}
	assert_int_equal(wf_store_new(&store), 0);
	assert_int_equal(wf_proxy_agent_reconciler_fake.init(&acfg, NULL, &rs), 0);
	assert_true(wf_store_subscribe(store, rec_events, rs) >= 0);
	p = wf_proxy_agent_reconciler_proxy(rs);
	rec_commit(store, ver, all, modes, INC_SVCS, &res);
	{
		/* The Node too (the generator's first object). */
		struct wf_store_batch *b;

		assert_int_equal(wf_store_batch_begin(store, &b), 0);
		assert_int_equal(wf_store_batch_put(b, res.objects[0]), 0);
		assert_int_equal(wf_store_batch_commit(b), 0);
	}
	wf_k8s_parse_result_done(&res);
	snap = wf_store_snapshot(store);
	assert_int_equal(wf_proxy_agent_reconciler_fake.sync(rs, snap, err, sizeof(err)), 0);
	wf_store_snapshot_unref(snap);
	assert_int_equal(wf_proxy_stats(p)->full_loads, 1);
	for (unsigned step = 0; step < 200; step++) {
		unsigned n = 1 + inc_rand(&seed) % 3, picked[3], mode[3];
		unsigned long batches;
		struct wf_proxy_model *full;
		char *a, *b;

		for (unsigned k = 0; k < n; k++) {
			picked[k] = inc_rand(&seed) % INC_SVCS;
			mode[k] = inc_rand(&seed) % 3;
			ver[picked[k]] = inc_rand(&seed) % 5 == 0 ? 0 : inc_rand(&seed) % 1000 + 1;
		}
		batches = rec_batches;
		rec_commit(store, ver, picked, mode, n, &res);
		/* The agent syncs after a batch that changed something (a store event). */
		snap = wf_store_snapshot(store);
		if (rec_batches != batches)
			assert_int_equal(
				wf_proxy_agent_reconciler_fake.sync(rs, snap, err, sizeof(err)), 0);
		full = rec_full(snap);
		wf_store_snapshot_unref(snap);
		a = inc_render(wf_proxy_installed(p));
		b = inc_render(full);
		assert_string_equal(a, b);
		assert_int_equal(wf_proxy_installed(p)->n_ignored, full->n_ignored);
		wf_free(a);
		wf_free(b);
		wf_proxy_model_free(full);
		wf_k8s_parse_result_done(&res);
	}
	/* Every later sync went the incremental way (apply_changes), never the merge-walk. */
	f = wf_proxy_backend(p);
	assert_int_equal(f->stats.full_loads, 1);
	assert_int_equal(f->stats.nl_deltas, f->change_applies);
	assert_true(f->change_applies > 150);
	/* A sync no batch preceded (the periodic resync) rebuilds the model: the merge-walk. */
	snap = wf_store_snapshot(store);
	assert_int_equal(wf_proxy_agent_reconciler_fake.sync(rs, snap, err, sizeof(err)), 0);
	wf_store_snapshot_unref(snap);
	assert_int_equal(f->stats.nl_deltas, f->change_applies + 1);
	wf_proxy_agent_reconciler_fake.done(rs);
	wf_store_free(store);
	inc_no_hcnp = false;
}

/* The element writer reconciles the sets the plan names and leaves the rest (the node's address
 * sets, the dynamic affinity maps) to the table block. */
static void test_plan_owns_set(void **unused)
{
	static const char *const owned[] = {"eps-tcp4",	    "leps-udp6",     "cls3-tcp4",
					    "lcls16-sctp6", "aff10800-udp4", "fwallow-tcp4",
					    "fw-tcp4",	    "keys-tcp6",     "hairpin4",
					    "empty-sctp4",  "noep-udp4"};
	static const char *const not_owned[] = {"nodeips4", "clustercidrs6", "nodepodaddrs4",
						"aff-tcp4", "hairpin",	     "cls-tcp4",
						"services", "svc-tcp4"};

	(void)unused;
	for (size_t i = 0; i < sizeof(owned) / sizeof(*owned); i++)
		assert_true(wf_proxy_plan_owns_set(owned[i]));
	for (size_t i = 0; i < sizeof(not_owned) / sizeof(*not_owned); i++)
		assert_false(wf_proxy_plan_owns_set(not_owned[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_named_ports),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_dual_stack),
		cmocka_unit_test(test_external),
		cmocka_unit_test(test_local_fallback),
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_engine),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_plan_owns_set),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_reconciler_incremental),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
