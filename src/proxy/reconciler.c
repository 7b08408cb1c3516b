/* The proxy reconciler (reconciler.h). */
#include "proxy/reconciler.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/netlink.h"
#include "proxy/fake.h"
#include "proxy/health.h"
#include "proxy/model.h"
#include "proxy/proxy.h"
#include "proxy/socklb.h"

/* A Service whose objects changed since the last sync. */
struct dirty_svc {
	size_t ns_len; /* key[0..ns_len) is the namespace, key + ns_len + 1 the name */
	char key[];
};

struct proxy_rec {
	const char *node_name;
	struct wf_proxy *proxy;
	struct wf_proxy_health *health;
	struct wf_metric *m_services, *m_full, *m_deltas, *m_ct, *m_duration, *m_slb;
	/* The socket-level load balancer (socklb.h), NULL when off or unavailable: its maps
	 * follow every model the nft backend installs, in the same sync. */
	struct wf_socklb *socklb;
	bool slb_failing; /* its last sync failed (warned once per streak) */
	size_t logged_services;
	/* Incremental syncs (docs/internals/proxy.md "One change, O(change)"): the agent's
	 * store events name the Services that changed; the next sync redoes only those. */
	struct wf_hash *dirty;	      /* "ns/service" -> struct dirty_svc */
	unsigned long batches;	      /* store batches seen since the last sync */
	bool full;		      /* a Node changed, or bookkeeping failed: rebuild */
	struct wf_agent_facts *facts; /* the agent's: pod_notrack published for the fabric, its
				       * tunnel port read from it */
};

static void dirty_clear(struct proxy_rec *pr)
{
	struct wf_hash *small;
	size_t n = wf_hash_count(pr->dirty);
	void *d;

	for (size_t it = 0; wf_hash_next(pr->dirty, &it, NULL, NULL, &d);)
		wf_free(d);
	wf_hash_clear(pr->dirty);
	/* Iterating walks the table's capacity: after a burst (a whole manifest directory) the
	 * set starts small again, so that one change costs one change. */
	if (n > 64 && (small = wf_hash_new(16))) {
		wf_hash_free(pr->dirty);
		pr->dirty = small;
	}
}

static int mark_dirty(struct proxy_rec *pr, const char *ns, const char *name)
{
	size_t nl = strlen(ns), len = nl + 1 + strlen(name);
	struct dirty_svc *d;

	if (len >= 512)
		return -EINVAL;
	d = wf_malloc(sizeof(*d) + len + 1);
	if (!d)
		return -ENOMEM;
	d->ns_len = nl;
	snprintf(d->key, len + 1, "%s/%s", ns, name);
	if (wf_hash_gets(pr->dirty, d->key)) {
		wf_free(d);
		return 0;
	}
	if (wf_hash_puts(pr->dirty, d->key, d, NULL) < 0) {
		wf_free(d);
		return -ENOMEM;
	}
	return 0;
}

/* The store's batch: the Services it touches become dirty (a slice's by its service-name
 * label, before and after); a Node change needs a rebuild (node addresses, zone, pod CIDRs). */
static void rec_changes(void *state, const struct wf_store_snapshot *snap,
			const struct wf_store_event *ev, size_t n)
{
	struct proxy_rec *pr = state;
	int r = 0;

	pr->batches++;
	/* Nothing installed yet (the initial load): the next sync is a full one anyway. */
	if (!wf_proxy_installed(pr->proxy))
		return;
	for (size_t i = 0; !r && !pr->full && i < n; i++) {
		for (int side = 0; !r && side < 2; side++) {
			const struct wf_k8s_object *o = side ? ev[i].new_obj : ev[i].old_obj;

			if (!o)
				continue;
			switch (o->kind) {
			case WF_K8S_NODE:
				pr->full = true;
				break;
			case WF_K8S_SERVICE:
				r = mark_dirty(pr, o->namespace ? o->namespace : "", o->name);
				break;
			case WF_K8S_ENDPOINTSLICE:
				if (o->endpointslice->service_name && o->namespace)
					r = mark_dirty(pr, o->namespace,
						       o->endpointslice->service_name);
				break;
			default:
				break;
			}
		}
	}
	if (r < 0)
		pr->full = true;
}

/* Attaches the socket-level load balancer where cfg says; when it cannot (no eBPF, no cgroup2,
 * no privilege), one warning and the nft table alone carries every connection. */
static void socklb_open(struct proxy_rec *pr, const struct wf_agent_config *cfg)
{
	char err[256] = "";
	int r;

	if (!cfg->socket_lb_cgroup) {
		wf_log_info("proxy", "socket-level load balancing off", "reason=%s",
			    "no cgroup v2 directory (--no-socket-lb, or no cgroup2 mount)");
		return;
	}
	r = wf_socklb_open(cfg->socket_lb_cgroup, &pr->socklb, err, sizeof(err));
	if (r < 0) {
		wf_log_warn("proxy",
			    "socket-level load balancing unavailable, Services use the "
			    "nftables path alone",
			    "cgroup=%s error=%s", cfg->socket_lb_cgroup,
			    err[0] ? err : wf_strerror(r));
		pr->socklb = NULL;
		return;
	}
	wf_log_info("proxy", "socket-level load balancer attached", "cgroup=%s",
		    cfg->socket_lb_cgroup);
}

static int rec_init_with(const struct wf_proxy_ops *ops, const struct wf_agent_config *cfg,
			 struct wf_metrics *metrics, void **ret_state)
{
	struct proxy_rec *pr = wf_calloc(1, sizeof(*pr));
	int r;

	if (!pr)
		return -ENOMEM;
	r = wf_proxy_new(ops, &pr->proxy);
	if (r < 0) {
		wf_free(pr);
		return r;
	}
	r = wf_proxy_health_new(&pr->health);
	if (r < 0) {
		wf_proxy_free(pr->proxy);
		wf_free(pr);
		return r;
	}
	pr->dirty = wf_hash_new(16);
	if (!pr->dirty) {
		wf_proxy_health_free(pr->health);
		wf_proxy_free(pr->proxy);
		wf_free(pr);
		return -ENOMEM;
	}
	pr->node_name = cfg->node_name;
	pr->facts = cfg->facts;
	pr->logged_services = (size_t)-1;
	if (metrics) {
		pr->m_services = wf_metrics_gauge(metrics, "weft_proxy_service_ports", NULL,
						  "Service ports (per IP family) programmed");
		pr->m_full = wf_metrics_counter(metrics, "weft_proxy_full_loads_total", NULL,
						"Whole-table nftables transactions");
		pr->m_deltas = wf_metrics_counter(metrics, "weft_proxy_deltas_total", NULL,
						  "Incremental nftables transactions");
		pr->m_ct = wf_metrics_counter(metrics, "weft_proxy_conntrack_deleted_total", NULL,
					      "Stale UDP conntrack entries deleted");
		pr->m_duration = wf_metrics_gauge(metrics, "weft_proxy_last_apply_microseconds",
						  NULL, "Duration of the last data-plane change");
		pr->m_slb = wf_metrics_gauge(metrics, "weft_proxy_socket_lb", NULL,
					     "1 when the socket-level load balancer is attached "
					     "and in sync");
	}
	*ret_state = pr;
	return 0;
}

static int rec_init(const struct wf_agent_config *cfg, struct wf_metrics *metrics, void **ret_state)
{
	int r = rec_init_with(&wf_proxy_nft_ops, cfg, metrics, ret_state);
	struct proxy_rec *pr = r ? NULL : *ret_state;

	if (!pr)
		return r;
	socklb_open(pr, cfg);
	/* told now, so that the fabric's first sync (before ours) already knows: attached is
	 * enough, the maps follow within this pass (and a fast path that takes an untracked
	 * pod-to-pod flow early is harmless: nothing NATs a pod-to-pod flow's first packet) */
	if (pr->facts)
		pr->facts->pod_notrack = pr->socklb != NULL;
	return 0;
}

static int rec_init_fake(const struct wf_agent_config *cfg, struct wf_metrics *metrics,
			 void **ret_state)
{
	int r = rec_init_with(&wf_proxy_fake_ops, cfg, metrics, ret_state);

	if (!r)
		((struct wf_proxy_fake *)wf_proxy_backend(((struct proxy_rec *)*ret_state)->proxy))
			->no_render = true;
	return r;
}

struct collect {
	const struct wf_k8s_object **objs;
	size_t n, cap;
};

static int collect(void *ud, const struct wf_k8s_object *obj)
{
	struct collect *c = ud;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		const struct wf_k8s_object **o = wf_reallocarray(c->objs, cap, sizeof(*o));

		if (!o)
			return -ENOMEM;
		c->objs = o;
		c->cap = cap;
	}
	c->objs[c->n++] = obj;
	return 0;
}

/* The socket-LB's maps after the nft backend installed a model: the changes of d, or all of
 * it (full, or after a socket-LB failure). A failure leaves the programs rewriting nothing
 * (the table carries everything) and is retried at the next sync; it fails no sync. */
static void socklb_follow(struct proxy_rec *pr, const struct wf_proxy_model_delta *d)
{
	const struct wf_proxy_model *m = wf_proxy_installed(pr->proxy);
	int r = -ESTALE;

	if (!pr->socklb || !m)
		return;
	if (d)
		r = wf_socklb_sync_changes(pr->socklb, m, d->v, d->n);
	if (r < 0)
		r = wf_socklb_sync_full(pr->socklb, m);
	if (r < 0 && !pr->slb_failing)
		wf_log_warn("proxy",
			    "socket-level load balancer out of sync, Services use the "
			    "nftables path until it recovers",
			    "error=%s", wf_strerror(r));
	else if (r == 0 && pr->slb_failing)
		wf_log_info("proxy", "socket-level load balancer recovered", "keys=%zu",
			    wf_socklb_stats(pr->socklb)->keys);
	else if (r == 0 && wf_socklb_stats(pr->socklb)->full_syncs == 1 && !d)
		/* adopted: keys taken over from a previous agent's maps */
		wf_log_info("proxy", "socket-level load balancer in sync",
			    "keys=%zu adopted=%lu writes=%lu", wf_socklb_stats(pr->socklb)->keys,
			    wf_socklb_stats(pr->socklb)->adopted,
			    wf_socklb_stats(pr->socklb)->updates +
				    wf_socklb_stats(pr->socklb)->removes);
	pr->slb_failing = r < 0;
}

size_t wf_proxy_node_addrs(struct wf_ip *out, size_t cap)
{
	struct wf_nl nl = {0};
	int n = wf_nl_init(&nl);

	if (n == 0)
		n = wf_nl_addr_list(&nl, out, cap);
	wf_nl_done(&nl);
	if (n < 0) {
		wf_log_warn("proxy", "cannot list the node's addresses", "error=%s",
			    wf_strerror(n));
		return 0;
	}
	return (size_t)n < cap ? (size_t)n : cap;
}

/* The whole model from the snapshot (first sync, resync, retry, Node change). */
static int sync_full(struct proxy_rec *pr, const struct wf_store_snapshot *snap, char *err,
		     size_t errlen)
{
	static const enum wf_k8s_kind kinds[] = {WF_K8S_SERVICE, WF_K8S_ENDPOINTSLICE, WF_K8S_NODE};
	/* pod_notrack: while the socket-LB carries pods' Service connections, pod-to-pod flows
	 * need no conntrack (the nft side's part; docs/services.md) */
	struct wf_proxy_config cfg = {.node_name = pr->node_name,
				      .pod_notrack = wf_socklb_active(pr->socklb)};
	struct wf_ip addrs[256];
	struct wf_proxy_model *m;
	struct collect c = {0};
	int r = 0;

	if (cfg.pod_notrack) {
		cfg.tunnel_port = pr->facts ? pr->facts->tunnel_port : 0;
		/* listed at every full sync, the periodic one included: an address added later
		 * (a gateway other than the podCIDR's first address) is known within a resync */
		cfg.n_local_addrs = wf_proxy_node_addrs(addrs, 256);
		cfg.local_addrs = addrs;
	}

	dirty_clear(pr);
	pr->full = false;
	for (size_t i = 0; !r && i < 3; i++)
		r = wf_store_foreach(snap, kinds[i], NULL, collect, &c);
	if (!r)
		r = wf_proxy_model_build(&cfg, c.objs, c.n, &m);
	wf_free(c.objs);
	if (r < 0) {
		snprintf(err, errlen, "building the proxy model: %s", wf_strerror(r));
		return r;
	}
	r = wf_proxy_sync(pr->proxy, m);
	if (r < 0) {
		snprintf(err, errlen, "%s", wf_proxy_error(pr->proxy));
		return r;
	}
	socklb_follow(pr, NULL);
	if (pr->facts)
		pr->facts->pod_notrack = wf_proxy_installed(pr->proxy)->pod_notrack;
	r = wf_proxy_health_update(pr->health, wf_proxy_installed(pr->proxy));
	if (r < 0)
		snprintf(err, errlen, "healthCheckNodePort servers: %s", wf_strerror(r));
	return r;
}

/* Only the dirty Services: their objects from the snapshot, into the installed model, and
 * their changed service ports to the data plane. -ESTALE: nothing installed, go full. */
static int sync_changed(struct proxy_rec *pr, const struct wf_store_snapshot *snap, char *err,
			size_t errlen)
{
	/* the cfg of the installed model's build (rec_sync rebuilds when pod_notrack flips) */
	struct wf_proxy_config cfg = {.node_name = pr->node_name,
				      .pod_notrack = wf_proxy_installed(pr->proxy)->pod_notrack};
	struct wf_proxy_service_input *in;
	struct collect slices = {0}; /* the dirty Services' slices, one run per Service */
	struct wf_proxy_model_delta d = {0};
	struct dirty_svc *ds;
	size_t n = wf_hash_count(pr->dirty), k = 0, at = 0;
	bool health = false;
	int r = 0;

	if (!n)
		return 0;
	in = wf_calloc(n, sizeof(*in));
	if (!in)
		return -ENOMEM;
	/* The store's label index finds a Service's slices (kubernetes.io/service-name) at the
	 * cost of those slices, whatever the size of the namespace. */
	for (size_t it = 0; !r && wf_hash_next(pr->dirty, &it, NULL, NULL, (void **)&ds);) {
		struct wf_proxy_service_input *x = &in[k++];

		ds->key[ds->ns_len] = 0; /* namespace and name, split in place */
		x->namespace = ds->key;
		x->name = ds->key + ds->ns_len + 1;
		x->service = wf_store_get(snap, WF_K8S_SERVICE, x->namespace, x->name);
		r = wf_store_endpointslices(snap, x->namespace, x->name, collect, &slices);
		x->n_slices = slices.n - at;
		at = slices.n;
	}
	if (r < 0) {
		snprintf(err, errlen, "reading EndpointSlices: %s", wf_strerror(r));
		goto out;
	}
	/* slices.objs no longer moves: hand each Service its run */
	for (size_t i = 0, off = 0; i < n; off += in[i++].n_slices)
		in[i].slices = slices.objs ? &slices.objs[off] : NULL;
	r = wf_proxy_sync_update(pr->proxy, &cfg, in, n, &d);
	if (r == -ESTALE)
		goto out;
	if (r < 0) {
		snprintf(err, errlen, "%s", wf_proxy_error(pr->proxy));
		goto out;
	}
	socklb_follow(pr, &d);
	/* The healthz table changes only with a Service that has a healthCheckNodePort. */
	for (size_t i = 0; i < d.n && !health; i++)
		health = (d.v[i].has_old && d.v[i].old.health_check_node_port) ||
			 (d.v[i].has_new && d.v[i].new.health_check_node_port);
	if (health) {
		r = wf_proxy_health_update(pr->health, wf_proxy_installed(pr->proxy));
		if (r < 0)
			snprintf(err, errlen, "healthCheckNodePort servers: %s", wf_strerror(r));
	}
out:
	wf_proxy_model_delta_done(&d);
	wf_free(in);
	wf_free(slices.objs);
	dirty_clear(pr); /* done with, or redone in full; the keys were split anyway */
	return r;
}

static int rec_sync(void *state, const struct wf_store_snapshot *snap, char *err, size_t errlen)
{
	struct proxy_rec *pr = state;
	unsigned long full, deltas;
	const struct wf_proxy_stats *st = wf_proxy_stats(pr->proxy);
	int r = -ESTALE;

	full = st->full_loads;
	deltas = st->nl_deltas;
	/* A sync that no store batch caused (the first, a retry, the periodic resync) and one
	 * after a Node change rebuild everything; the rest redo the Services that changed. */
	if (pr->batches && !pr->full && wf_proxy_installed(pr->proxy))
		r = sync_changed(pr, snap, err, errlen);
	if (r == -ESTALE) {
		dirty_clear(pr);
		r = sync_full(pr, snap, err, errlen);
	}
	/* The socket-LB came up or went down: the nft side reads that from the model
	 * (pod_notrack: the conntrack it may skip), so the model is rebuilt with the new state. */
	if (!r && pr->socklb &&
	    wf_socklb_active(pr->socklb) != wf_proxy_installed(pr->proxy)->pod_notrack)
		r = sync_full(pr, snap, err, errlen);
	pr->batches = 0;
	if (r < 0) {
		pr->full = true;
		return r;
	}
	if (pr->m_slb)
		wf_metric_set(pr->m_slb, 0, wf_socklb_active(pr->socklb));
	st = wf_proxy_stats(pr->proxy);
	if (pr->m_services) {
		wf_metric_set(pr->m_services, 0, (int64_t)wf_proxy_installed(pr->proxy)->n_svcs);
		wf_metric_add(pr->m_full, 0, st->full_loads - full);
		wf_metric_add(pr->m_deltas, 0, st->nl_deltas - deltas);
		wf_metric_set(pr->m_ct, 0, (int64_t)st->ct_deleted);
		wf_metric_set(pr->m_duration, 0, (int64_t)(st->last_apply_ns / 1000));
	}
	if (wf_proxy_installed(pr->proxy)->n_svcs != pr->logged_services) {
		pr->logged_services = wf_proxy_installed(pr->proxy)->n_svcs;
		wf_log_info("proxy", "services programmed", "service_ports=%zu apply_us=%llu",
			    pr->logged_services, (unsigned long long)(st->last_apply_ns / 1000));
	}
	return 0;
}

static void rec_done(void *state)
{
	struct proxy_rec *pr = state;

	if (!pr)
		return;
	dirty_clear(pr);
	wf_hash_free(pr->dirty);
	wf_proxy_health_free(pr->health);
	wf_proxy_free(pr->proxy);   /* the table stays: it must survive a restart */
	wf_socklb_free(pr->socklb); /* the programs stay, as the table does */
	wf_free(pr);
}

struct wf_proxy *wf_proxy_agent_reconciler_proxy(void *state)
{
	return ((struct proxy_rec *)state)->proxy;
}

bool wf_proxy_agent_reconciler_socket_lb(void *state)
{
	return wf_socklb_active(((struct proxy_rec *)state)->socklb);
}

const struct wf_agent_reconciler_ops wf_proxy_agent_reconciler = {
	.name = "proxy",
	.init = rec_init,
	.sync = rec_sync,
	.changes = rec_changes,
	.done = rec_done,
};

const struct wf_agent_reconciler_ops wf_proxy_agent_reconciler_fake = {
	.name = "proxy",
	.init = rec_init_fake,
	.sync = rec_sync,
	.changes = rec_changes,
	.done = rec_done,
};
