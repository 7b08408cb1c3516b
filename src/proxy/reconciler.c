/* The proxy reconciler (reconciler.h). */
#include "proxy/reconciler.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "proxy/health.h"
#include "proxy/model.h"
#include "proxy/proxy.h"

struct proxy_rec {
	const char *node_name;
	struct wf_proxy *proxy;
	struct wf_proxy_health *health;
	struct wf_metric *m_services, *m_full, *m_deltas, *m_ct, *m_duration;
	size_t logged_services;
};

static int rec_init(const struct wf_agent_config *cfg, struct wf_metrics *metrics, void **ret_state)
{
	struct proxy_rec *pr = wf_calloc(1, sizeof(*pr));
	int r;

	if (!pr)
		return -ENOMEM;
	r = wf_proxy_new(&wf_proxy_nft_ops, &pr->proxy);
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
	pr->node_name = cfg->node_name;
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
	}
	*ret_state = pr;
	return 0;
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

static int rec_sync(void *state, const struct wf_store_snapshot *snap, char *err, size_t errlen)
{
	static const enum wf_k8s_kind kinds[] = {WF_K8S_SERVICE, WF_K8S_ENDPOINTSLICE, WF_K8S_NODE};
	struct proxy_rec *pr = state;
	struct wf_proxy_config cfg = {.node_name = pr->node_name};
	struct wf_proxy_model *m;
	struct collect c = {0};
	unsigned long full, deltas;
	const struct wf_proxy_stats *st = wf_proxy_stats(pr->proxy);
	int r = 0;

	full = st->full_loads;
	deltas = st->nl_deltas;
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
	r = wf_proxy_health_update(pr->health, wf_proxy_installed(pr->proxy));
	if (r < 0) {
		snprintf(err, errlen, "healthCheckNodePort servers: %s", wf_strerror(r));
		return r;
	}
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
	wf_proxy_health_free(pr->health);
	wf_proxy_free(pr->proxy); /* the table stays: it must survive a restart */
	wf_free(pr);
}

const struct wf_agent_reconciler_ops wf_proxy_agent_reconciler = {
	.name = "proxy",
	.init = rec_init,
	.sync = rec_sync,
	.done = rec_done,
};
