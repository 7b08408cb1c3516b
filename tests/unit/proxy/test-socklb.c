/* Unit tests of the socket-LB's map sync (src/proxy/socklb.c) over a fake map layer: what the
 * maps hold for each kind of Service address and policy, the order of writes (a connect() at any
 * moment finds every slot its count covers), O(change) cost, and repair after a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/object.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/hash.h"
#include "lib/ip.h"
#include "proxy/model.h"
#include "proxy/socklb.h"

/* ---- fake maps ---- */

struct entry {
	unsigned char key[32], val[32];
};

static const size_t key_size[WF_SOCKLB_MAP_MAX] = {
	sizeof(struct wf_socklb_key), sizeof(struct wf_socklb_ep_key), sizeof(uint32_t)};
static const size_t val_size[WF_SOCKLB_MAP_MAX] = {
	sizeof(struct wf_socklb_svc), sizeof(struct wf_socklb_ep), sizeof(struct wf_socklb_config)};

struct fake {
	struct wf_hash *map[WF_SOCKLB_MAP_MAX];
	unsigned long ops, fail_at; /* fail the fail_at-th call (1-based), 0: never */
	unsigned long checks;
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < WF_SOCKLB_MAP_MAX; i++)
		assert_non_null(f->map[i] = wf_hash_new(64));
}

static void fake_clear_map(struct fake *f, int m)
{
	struct entry *e;

	for (size_t it = 0; wf_hash_next(f->map[m], &it, NULL, NULL, (void **)&e);)
		wf_free(e);
	wf_hash_clear(f->map[m]);
}

static void fake_done(struct fake *f)
{
	for (int i = 0; i < WF_SOCKLB_MAP_MAX; i++) {
		fake_clear_map(f, i);
		wf_hash_free(f->map[i]);
	}
}

static const void *fake_get(struct fake *f, int m, const void *key)
{
	struct entry *e = wf_hash_get(f->map[m], key, key_size[m]);

	return e ? e->val : NULL;
}

/* What a connect() would see at this instant: every service key's count is covered by slots. */
static void check_consistent(struct fake *f)
{
	const void *k;
	struct entry *e;

	f->checks++;
	for (size_t it = 0;
	     wf_hash_next(f->map[WF_SOCKLB_MAP_SERVICES], &it, &k, NULL, (void **)&e);) {
		const struct wf_socklb_svc *v = (const void *)e->val;

		for (uint32_t s = 0; s < v->count; s++) {
			struct wf_socklb_ep_key ek = {.id = v->id, .slot = s};

			if (!fake_get(f, WF_SOCKLB_MAP_EPS, &ek))
				fail_msg("service id %u count %u: slot %u empty", v->id, v->count,
					 s);
		}
	}
}

static int fake_update(void *ud, enum wf_socklb_map m, const void *key, const void *value)
{
	struct fake *f = ud;
	struct entry *e;

	if (++f->ops == f->fail_at)
		return -ENOSPC;
	e = wf_hash_get(f->map[m], key, key_size[m]);
	if (!e) {
		/* allocation failures injected into the sync may land here: a map that is full */
		e = wf_calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		memcpy(e->key, key, key_size[m]);
		if (wf_hash_put(f->map[m], e->key, key_size[m], e, NULL) < 0) {
			wf_free(e);
			return -ENOMEM;
		}
	}
	memcpy(e->val, value, val_size[m]);
	/* the sync may check its own invariants only when whole: a small model is checked at
	 * every step */
	if (wf_hash_count(f->map[WF_SOCKLB_MAP_EPS]) < 400)
		check_consistent(f);
	return 0;
}

static int fake_remove(void *ud, enum wf_socklb_map m, const void *key)
{
	struct fake *f = ud;
	struct entry *e;

	if (++f->ops == f->fail_at)
		return -EIO;
	e = wf_hash_del(f->map[m], key, key_size[m]);
	if (!e)
		return -ENOENT;
	wf_free(e);
	if (wf_hash_count(f->map[WF_SOCKLB_MAP_EPS]) < 400)
		check_consistent(f);
	return 0;
}

static int fake_clear(void *ud, enum wf_socklb_map m)
{
	fake_clear_map(ud, m);
	return 0;
}

static int fake_dump(void *ud, enum wf_socklb_map m, wf_socklb_entry_fn fn, void *ctx)
{
	struct fake *f = ud;
	struct entry *e;

	for (size_t it = 0; wf_hash_next(f->map[m], &it, NULL, NULL, (void **)&e);)
		if (fn(ctx, e->key, e->val))
			break;
	return 0;
}

static const struct wf_socklb_map_ops fake_ops = {
	.update = fake_update, .remove = fake_remove, .clear = fake_clear, .dump = fake_dump};

/* ---- models ---- */

static const struct wf_ip node_ips[] = {
	{.family = AF_INET, .addr = {192, 168, 0, 1}},
	{.family = AF_INET6, .addr = {0xfd, 0, [15] = 1}},
};
static const struct wf_proxy_config cfg = {
	.node_name = "node-1", .n_node_ips = 2, .node_ips = node_ips};

struct model {
	struct wf_k8s_parse_result res;
	struct wf_proxy_model *m;
};

static void model_build(struct model *x, const char *yaml)
{
	struct wf_diag d;

	if (wf_k8s_parse(yaml, strlen(yaml), "t.yaml", &x->res, &d) < 0)
		fail_msg("parse: %s (%s)", d.msg, d.path);
	assert_int_equal(wf_proxy_model_build(&cfg,
					      (const struct wf_k8s_object *const *)x->res.objects,
					      x->res.n_objects, &x->m),
			 0);
}

static void model_done(struct model *x)
{
	wf_proxy_model_free(x->m);
	wf_k8s_parse_result_done(&x->res);
}

/* n endpoints 10.1.<svc>.1.. on node-1 for the first `local` of them, node-2 after */
static void slice(struct wf_buf *b, const char *svc, unsigned idx, unsigned n, unsigned local)
{
	wf_buf_printf(
		b,
		"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		"metadata: {name: %s-1, namespace: t, labels: {kubernetes.io/service-name: "
		"%s}}\naddressType: IPv4\nports: [{name: web, port: 8080}, {port: 5353, protocol: UDP, "
		"name: dns}]\nendpoints:\n",
		svc, svc);
	for (unsigned i = 0; i < n; i++)
		wf_buf_printf(b, "- {addresses: [10.%u.%u.%u], nodeName: node-%u}\n", 1 + idx / 250,
			      idx % 250, i + 1, i < local ? 1 : 2);
	if (!n)
		wf_buf_printf(b, "  []\n");
}

static uint32_t v4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static const struct wf_socklb_svc *lookup(struct fake *f, const char *ip, uint16_t port,
					  uint8_t proto)
{
	struct wf_socklb_key k = {
		.addr = {v4(ip)}, .port = htons(port), .proto = proto, .family = 4};

	return fake_get(f, WF_SOCKLB_MAP_SERVICES, &k);
}

static const struct wf_socklb_ep *slot(struct fake *f, const struct wf_socklb_svc *v, uint32_t s)
{
	struct wf_socklb_ep_key ek = {.id = v->id, .slot = s};

	return fake_get(f, WF_SOCKLB_MAP_EPS, &ek);
}

static void assert_slots(struct fake *f, const struct wf_socklb_svc *v, const char *const *ips,
			 uint16_t port, unsigned n)
{
	assert_non_null(v);
	assert_int_equal(v->count, n);
	for (unsigned i = 0; i < n; i++) {
		const struct wf_socklb_ep *e = slot(f, v, i);

		assert_non_null(e);
		assert_int_equal(e->addr[0], v4(ips[i]));
		assert_int_equal(ntohs(e->port), port);
	}
}

static uint32_t enabled(struct fake *f)
{
	uint32_t zero = 0;
	const struct wf_socklb_config *c = fake_get(f, WF_SOCKLB_MAP_CONFIG, &zero);

	return c ? c->enabled : 0;
}

/* Every kind of address and policy, as the nft table treats locally originated traffic. */
static const char kinds_yaml[] =
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: t}\n"
	"spec:\n  type: LoadBalancer\n  clusterIP: 10.96.0.1\n  externalIPs: [203.0.113.1]\n"
	"  externalTrafficPolicy: Local\n"
	"  ports: [{name: web, port: 80, nodePort: 30080}, {name: dns, port: 53, protocol: UDP, "
	"nodePort: 30053}, {name: s, port: 99, protocol: SCTP}]\n"
	"status: {loadBalancer: {ingress: [{ip: 198.51.100.1}]}}\n"
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: t}\n"
	"spec:\n  clusterIP: 10.96.0.2\n  internalTrafficPolicy: Local\n"
	"  sessionAffinity: ClientIP\n  ports: [{name: web, port: 80}, {name: dns, port: 53, protocol: UDP}]\n"
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: c, namespace: t}\n"
	"spec:\n  type: LoadBalancer\n  clusterIP: 10.96.0.3\n"
	"  loadBalancerSourceRanges: [10.0.0.0/8]\n  ports: [{name: web, port: 80}, {name: dns, port: 53, protocol: UDP}]\n"
	"status: {loadBalancer: {ingress: [{ip: 198.51.100.3}]}}\n"
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: d, namespace: t}\n"
	"spec:\n  clusterIP: 10.96.0.4\n  internalTrafficPolicy: Local\n"
	"  ports: [{name: web, port: 80}, {name: dns, port: 53, protocol: UDP}]\n";

static void kinds_slices(struct wf_buf *b)
{
	slice(b, "a", 1, 3, 1);
	slice(b, "b", 2, 3, 2);
	slice(b, "c", 3, 2, 0);
	slice(b, "d", 4, 2, 0); /* no local endpoint */
}

static void test_kinds(void **unused)
{
	static const char *const a_all[] = {"10.1.1.1", "10.1.1.2", "10.1.1.3"};
	static const char *const b_local[] = {"10.1.2.1", "10.1.2.2"};
	struct fake f;
	struct wf_socklb *s;
	struct model x = {0};
	struct wf_buf b;
	const struct wf_socklb_svc *v;

	fake_init(&f);
	wf_buf_init(&b, 0);
	wf_buf_append_str(&b, kinds_yaml);
	kinds_slices(&b);
	wf_buf_append_byte(&b, 0);
	model_build(&x, (const char *)wf_buf_data(&b));
	assert_int_equal(wf_socklb_new(&fake_ops, &f, false, &s), 0);
	assert_false(wf_socklb_active(s)); /* no programs behind the fake */
	assert_int_equal(wf_socklb_sync_full(s, x.m), 0);
	assert_int_equal(enabled(&f), 1);
	/* ClusterIP, externalIP, LB IP (externalTrafficPolicy Local: a local client still uses
	 * every endpoint) and NodePort on the node's address: one list */
	v = lookup(&f, "10.96.0.1", 80, IPPROTO_TCP);
	assert_slots(&f, v, a_all, 8080, 3);
	assert_slots(&f, lookup(&f, "203.0.113.1", 80, IPPROTO_TCP), a_all, 8080, 3);
	assert_slots(&f, lookup(&f, "198.51.100.1", 80, IPPROTO_TCP), a_all, 8080, 3);
	assert_slots(&f, lookup(&f, "192.168.0.1", 30080, IPPROTO_TCP), a_all, 8080, 3);
	assert_int_equal(lookup(&f, "192.168.0.1", 30080, IPPROTO_TCP)->id, v->id);
	/* UDP port: its own key and list; NodePort only on addresses of its family */
	assert_slots(&f, lookup(&f, "10.96.0.1", 53, IPPROTO_UDP), a_all, 5353, 3);
	assert_non_null(lookup(&f, "192.168.0.1", 30053, IPPROTO_UDP));
	assert_null(lookup(&f, "192.168.0.1", 30053, IPPROTO_TCP));
	/* SCTP: the table's */
	assert_null(lookup(&f, "10.96.0.1", 99, IPPROTO_TCP));
	/* internalTrafficPolicy Local: local endpoints; affinity carried */
	v = lookup(&f, "10.96.0.2", 80, IPPROTO_TCP);
	assert_slots(&f, v, b_local, 8080, 2);
	assert_int_equal(v->affinity, 10800);
	/* loadBalancerSourceRanges: the LB IP is left to the table's firewall, the ClusterIP not */
	assert_null(lookup(&f, "198.51.100.3", 80, IPPROTO_TCP));
	assert_non_null(lookup(&f, "10.96.0.3", 80, IPPROTO_TCP));
	/* no local endpoint: count 0, the table drops */
	v = lookup(&f, "10.96.0.4", 80, IPPROTO_TCP);
	assert_non_null(v);
	assert_int_equal(v->count, 0);
	/* 4 TCP + 4 UDP keys of a, 2 each of b, c, d */
	assert_int_equal(wf_socklb_stats(s)->keys, 14);
	/* a second full sync of the same model writes nothing */
	unsigned long ops = f.ops;
	assert_int_equal(wf_socklb_sync_full(s, x.m), 0);
	assert_int_equal(f.ops, ops);
	assert_true(f.checks > 0);
	wf_socklb_free(s);
	model_done(&x);
	wf_buf_done(&b);
	fake_done(&f);
}

/* Two fakes hold the same content. */
static void assert_same(struct fake *a, struct fake *b)
{
	for (int m = 0; m < WF_SOCKLB_MAP_MAX; m++) {
		struct entry *e;

		assert_int_equal(wf_hash_count(a->map[m]), wf_hash_count(b->map[m]));
		if (m != WF_SOCKLB_MAP_SERVICES)
			continue; /* ids are allocated in a different order: compare through them */
		for (size_t it = 0; wf_hash_next(a->map[m], &it, NULL, NULL, (void **)&e);) {
			const struct wf_socklb_svc *va = (const void *)e->val,
						   *vb = fake_get(b, m, e->key);

			assert_non_null(vb);
			assert_int_equal(va->count, vb->count);
			assert_int_equal(va->affinity, vb->affinity);
			for (uint32_t i = 0; i < va->count; i++)
				assert_memory_equal(slot(a, va, i), slot(b, vb, i),
						    sizeof(struct wf_socklb_ep));
		}
	}
}

static char *gen_yaml(const unsigned *n_eps, unsigned n_svcs, struct wf_buf *b)
{
	b->len = 0;
	for (unsigned i = 0; i < n_svcs; i++) {
		char name[16];

		if (n_eps[i] == ~0u)
			continue; /* removed */
		snprintf(name, sizeof(name), "s%u", i);
		wf_buf_printf(
			b,
			"---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: t}\n"
			"spec:\n  type: NodePort\n  clusterIP: 10.96.%u.%u\n"
			"  internalTrafficPolicy: %s\n"
			"  ports: [{name: web, port: 80, nodePort: %u}, {name: dns, port: 53, protocol: UDP}]\n",
			name, i / 250, i % 250 + 1, i % 3 == 0 ? "Local" : "Cluster", 30000 + i);
		slice(b, name, i, n_eps[i], n_eps[i] / 2);
	}
	wf_buf_append_byte(b, 0);
	return (char *)wf_buf_data(b);
}

/* Random endpoint counts and Services coming and going, applied as changes (the delta between
 * two models, as wf_proxy_model_update hands it) and as full syncs: both end equal to a fresh
 * full sync of the last model, and the slots were covered at every single write. */
static void test_changes_random(void **unused)
{
	enum {
		N = 12,
		STEPS = 120
	};
	unsigned n_eps[N];
	struct fake fc, ff;
	struct wf_socklb *sc, *sf;
	struct model prev = {0};
	struct wf_buf b;

	srand(7);
	wf_buf_init(&b, 0);
	fake_init(&fc);
	fake_init(&ff);
	for (unsigned i = 0; i < N; i++)
		n_eps[i] = (unsigned)rand() % 4;
	model_build(&prev, gen_yaml(n_eps, N, &b));
	assert_int_equal(wf_socklb_new(&fake_ops, &fc, false, &sc), 0);
	assert_int_equal(wf_socklb_new(&fake_ops, &ff, false, &sf), 0);
	assert_int_equal(wf_socklb_sync_full(sc, prev.m), 0);
	assert_int_equal(wf_socklb_sync_full(sf, prev.m), 0);
	for (unsigned step = 0; step < STEPS; step++) {
		struct model next = {0}, fresh_m = {0};
		struct wf_proxy_svc_change ch[2 * N * 2];
		size_t n = 0;
		unsigned k = (unsigned)rand() % N;
		struct fake fr;
		struct wf_socklb *sr;

		n_eps[k] = rand() % 5 == 0 ? ~0u : (unsigned)rand() % 6;
		model_build(&next, gen_yaml(n_eps, N, &b));
		/* the changed ports, old and new, as an update would list them */
		for (size_t i = 0; i < prev.m->n_svcs; i++) {
			const struct wf_proxy_svc *o = &prev.m->svcs[i],
						  *nw = wf_proxy_model_find(next.m, o->family,
									    o->id);

			if (!nw || !wf_proxy_svc_eps_equal(o, nw) ||
			    !wf_proxy_svc_shape_equal(o, nw))
				ch[n++] = (struct wf_proxy_svc_change){.old = *o,
								       .new = nw ? *nw : *o,
								       .has_old = true,
								       .has_new = !!nw};
		}
		for (size_t i = 0; i < next.m->n_svcs; i++) {
			const struct wf_proxy_svc *nw = &next.m->svcs[i];

			if (!wf_proxy_model_find(prev.m, nw->family, nw->id))
				ch[n++] = (struct wf_proxy_svc_change){.new = *nw, .has_new = true};
		}
		assert_int_equal(wf_socklb_sync_changes(sc, next.m, ch, n), 0);
		assert_int_equal(wf_socklb_sync_full(sf, next.m), 0);
		fake_init(&fr);
		assert_int_equal(wf_socklb_new(&fake_ops, &fr, false, &sr), 0);
		assert_int_equal(wf_socklb_sync_full(sr, next.m), 0);
		assert_same(&fc, &fr);
		assert_same(&ff, &fr);
		wf_socklb_free(sr);
		fake_done(&fr);
		model_done(&prev);
		prev = next;
		(void)fresh_m;
	}
	wf_socklb_free(sc);
	wf_socklb_free(sf);
	model_done(&prev);
	fake_done(&fc);
	fake_done(&ff);
	wf_buf_done(&b);
}

/* One endpoint replaced, added or removed among 2,000 service ports costs a few map writes,
 * whatever the rest. */
static void test_change_cost(void **unused)
{
	enum {
		N = 1000
	};
	static unsigned n_eps[N];
	struct fake f;
	struct wf_socklb *s;
	struct model a = {0}, b2 = {0};
	struct wf_buf b;
	struct wf_proxy_svc_change ch[2];
	size_t n = 0;

	for (unsigned i = 0; i < N; i++)
		n_eps[i] = 6;
	wf_buf_init(&b, 0);
	fake_init(&f);
	model_build(&a, gen_yaml(n_eps, N, &b));
	assert_int_equal(wf_socklb_new(&fake_ops, &f, false, &s), 0);
	assert_int_equal(wf_socklb_sync_full(s, a.m), 0);
	n_eps[500] = 7;
	model_build(&b2, gen_yaml(n_eps, N, &b));
	for (size_t i = 0; i < b2.m->n_svcs; i++) {
		const struct wf_proxy_svc *nw = &b2.m->svcs[i],
					  *o = wf_proxy_model_find(a.m, nw->family, nw->id);

		if (!wf_proxy_svc_eps_equal(o, nw))
			ch[n++] = (struct wf_proxy_svc_change){
				.old = *o, .new = *nw, .has_old = true, .has_new = true};
	}
	assert_int_equal(n, 2); /* tcp and udp of s500 */
	unsigned long ops = f.ops;
	assert_int_equal(wf_socklb_sync_changes(s, b2.m, ch, n), 0);
	/* per port: one new slot, its keys' counts (ClusterIP, NodePort for tcp) */
	assert_true(f.ops - ops <= 6);
	assert_true(f.ops - ops >= 3);
	wf_socklb_free(s);
	model_done(&a);
	model_done(&b2);
	fake_done(&f);
	wf_buf_done(&b);
}

/* A failed write: the programs are switched off (the table carries everything), changes are
 * refused until a full sync, which empties the maps and writes them again. */
static void test_failure_repair(void **unused)
{
	struct fake f, fr;
	struct wf_socklb *s, *sr;
	struct model x = {0};
	struct wf_buf b;

	wf_buf_init(&b, 0);
	wf_buf_append_str(&b, kinds_yaml);
	kinds_slices(&b);
	wf_buf_append_byte(&b, 0);
	model_build(&x, (const char *)wf_buf_data(&b));
	/* every write of a first sync, in turn */
	fake_init(&f);
	assert_int_equal(wf_socklb_new(&fake_ops, &f, false, &s), 0);
	assert_int_equal(wf_socklb_sync_full(s, x.m), 0);
	unsigned long total = f.ops;
	wf_socklb_free(s);
	fake_done(&f);
	assert_true(total > 20);
	for (unsigned long at = 1; at <= total; at++) {
		fake_init(&f);
		f.fail_at = at;
		assert_int_equal(wf_socklb_new(&fake_ops, &f, false, &s), 0);
		assert_true(wf_socklb_sync_full(s, x.m) < 0);
		assert_int_equal(enabled(&f), 0);
		assert_int_equal(wf_socklb_sync_changes(s, x.m, NULL, 0), -ESTALE);
		assert_int_equal(wf_socklb_sync_full(s, x.m), 0);
		assert_int_equal(enabled(&f), 1);
		fake_init(&fr);
		assert_int_equal(wf_socklb_new(&fake_ops, &fr, false, &sr), 0);
		assert_int_equal(wf_socklb_sync_full(sr, x.m), 0);
		assert_same(&f, &fr);
		wf_socklb_free(sr);
		fake_done(&fr);
		wf_socklb_free(s);
		fake_done(&f);
	}
	model_done(&x);
	wf_buf_done(&b);
}

/* Allocation failures unwind without leaks (the ASan build checks), and a later sync repairs. */
static void test_alloc_failures(void **unused)
{
	struct fake f;
	struct wf_socklb *s;
	struct model x = {0};
	struct wf_buf b;

	wf_buf_init(&b, 0);
	wf_buf_append_str(&b, kinds_yaml);
	kinds_slices(&b);
	wf_buf_append_byte(&b, 0);
	model_build(&x, (const char *)wf_buf_data(&b));
	for (unsigned long nth = 1; nth < 200; nth++) {
		fake_init(&f);
		assert_int_equal(wf_socklb_new(&fake_ops, &f, false, &s), 0);
		wf_alloc_fail_at(nth);
		int r = wf_socklb_sync_full(s, x.m);
		wf_alloc_fail_at(0);
		if (r < 0)
			assert_int_equal(wf_socklb_sync_full(s, x.m), 0);
		assert_int_equal(enabled(&f), 1);
		wf_socklb_free(s);
		fake_done(&f);
	}
	model_done(&x);
	wf_buf_done(&b);
}

/* A restarted agent takes over the maps its predecessor filled: nothing rewritten when nothing
 * changed; after changes (a Service gone, endpoint counts up and down, leftovers of a crash)
 * only the difference, in an order that keeps every count covered, ending equal to a fresh
 * load. */
static void test_adopt_restart(void **unused)
{
	enum {
		N = 12
	};
	unsigned n_eps[N];
	struct fake f, fr;
	struct wf_socklb *s, *sr;
	struct model a = {0}, b2 = {0};
	struct wf_buf b;
	unsigned long ops, first_load;

	for (unsigned i = 0; i < N; i++)
		n_eps[i] = i % 5;
	wf_buf_init(&b, 0);
	fake_init(&f);
	model_build(&a, gen_yaml(n_eps, N, &b));
	assert_int_equal(wf_socklb_new(&fake_ops, &f, false, &s), 0);
	assert_int_equal(wf_socklb_sync_full(s, a.m), 0);
	first_load = f.ops;
	wf_socklb_free(s); /* the agent exits; the maps stay */
	/* 1. same model: nothing but the enable flag written */
	assert_int_equal(wf_socklb_new(&fake_ops, &f, true, &s), 0);
	ops = f.ops;
	assert_int_equal(wf_socklb_sync_full(s, a.m), 0);
	assert_true(f.ops - ops <= 1);
	assert_int_equal(wf_socklb_stats(s)->adopted, wf_socklb_stats(s)->keys);
	assert_int_equal(enabled(&f), 1);
	wf_socklb_free(s);
	/* 2. changes while no agent ran, and leftovers of one that died mid-update */
	n_eps[3] = ~0u; /* gone */
	n_eps[4] = 1;	/* 4 -> 1 */
	n_eps[1] = 5;	/* 1 -> 5 */
	model_build(&b2, gen_yaml(n_eps, N, &b));
	{
		struct wf_socklb_ep_key ek = {.id = 4000, .slot = 0};
		struct wf_socklb_ep e = {.addr = {1}};
		struct wf_socklb_key k = {
			.addr = {2}, .port = 9, .proto = IPPROTO_TCP, .family = 4};
		struct wf_socklb_svc v = {.id = 4000, .count = 1};

		fake_update(&f, WF_SOCKLB_MAP_EPS, &ek, &e);
		fake_update(&f, WF_SOCKLB_MAP_SERVICES, &k, &v);
	}
	assert_int_equal(wf_socklb_new(&fake_ops, &f, true, &s), 0);
	ops = f.ops;
	assert_int_equal(wf_socklb_sync_full(s, b2.m), 0);
	/* as many writes as an agent that never stopped would make for the same change, plus the
	 * two leftovers and the enable flag */
	{
		struct fake fl;
		struct wf_socklb *sl;
		unsigned long live;

		fake_init(&fl);
		assert_int_equal(wf_socklb_new(&fake_ops, &fl, false, &sl), 0);
		assert_int_equal(wf_socklb_sync_full(sl, a.m), 0);
		live = fl.ops;
		assert_int_equal(wf_socklb_sync_full(sl, b2.m), 0);
		live = fl.ops - live;
		assert_true(f.ops - ops <= live + 3);
		assert_true(f.ops - ops < first_load);
		wf_socklb_free(sl);
		fake_done(&fl);
	}
	fake_init(&fr);
	assert_int_equal(wf_socklb_new(&fake_ops, &fr, false, &sr), 0);
	assert_int_equal(wf_socklb_sync_full(sr, b2.m), 0);
	assert_same(&f, &fr);
	wf_socklb_free(sr);
	fake_done(&fr);
	wf_socklb_free(s);
	model_done(&a);
	model_done(&b2);
	fake_done(&f);
	wf_buf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),	       cmocka_unit_test(test_changes_random),
		cmocka_unit_test(test_change_cost),    cmocka_unit_test(test_failure_repair),
		cmocka_unit_test(test_alloc_failures), cmocka_unit_test(test_adopt_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
