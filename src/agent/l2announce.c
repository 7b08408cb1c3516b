/* Layer-2 announcement of LoadBalancer addresses: the owner choice, the plan from a snapshot,
 * the agent reconciler and the fake backend. The kernel backend is in l2announce-nl.c.
 * docs/internals/l2announce.md. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/l2announce.h"
#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/ip.h"
#include "lib/log.h"
#include "lib/metrics.h"

int (*wf_l2announce_backend_new)(struct wf_l2announce_backend **ret) = wf_l2announce_nl_new;

/* ---- owner choice ---- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t wf_l2announce_score(const char *service, const char *node)
{
	/* a NUL between the names: ("ab", "c") and ("a", "bc") score differently */
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, service);

	h = fnv1a((h ^ 0) * 0x100000001b3ULL, node);
	/* splitmix64's finaliser: FNV alone is biased in its high bits for short keys */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

ssize_t wf_l2announce_owner(const char *service, const char *const *nodes, size_t n)
{
	ssize_t best = -1;
	uint64_t best_score = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t s = wf_l2announce_score(service, nodes[i]);

		/* ties (practically never) go to the smaller name, so order does not matter */
		if (best < 0 || s > best_score ||
		    (s == best_score && strcmp(nodes[i], nodes[best]) < 0)) {
			best = (ssize_t)i;
			best_score = s;
		}
	}
	return best;
}

/* ---- plan ---- */

struct local_nodes {
	const char **v;
	size_t n, cap;
	int err;
};

static bool has_name(const char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

/* externalTrafficPolicy Local: nodes with a ready endpoint of the Service (Services: "Traffic
 * policies" - a node without one drops external traffic, so it must not attract it). */
static int collect_local(void *userdata, const struct wf_k8s_object *obj)
{
	struct local_nodes *ln = userdata;
	const struct wf_k8s_endpointslice *es = obj->endpointslice;

	for (size_t i = 0; i < es->n_endpoints; i++) {
		const struct wf_k8s_endpoint *ep = &es->endpoints[i];

		if (!ep->node_name || !wf_k8s_endpoint_ready(ep) ||
		    has_name(ln->v, ln->n, ep->node_name))
			continue;
		if (ln->n == ln->cap) {
			size_t cap = ln->cap ? ln->cap * 2 : 8;
			const char **nv = wf_reallocarray(ln->v, cap, sizeof(*nv));

			if (!nv) {
				ln->err = -ENOMEM;
				return 1;
			}
			ln->v = nv;
			ln->cap = cap;
		}
		ln->v[ln->n++] = ep->node_name;
	}
	return 0;
}

ssize_t wf_l2announce_plan(const struct wf_store_snapshot *snap, const char *node,
			   struct wf_l2announce_want **ret)
{
	const struct wf_k8s_object **svcs = NULL, **nodeobjs = NULL;
	struct wf_l2announce_want *want = NULL;
	const char **all = NULL;
	struct local_nodes ln = {0};
	size_t n_all = 0, n_want = 0;
	ssize_t n_svc, n_node, r = 0;

	n_node = wf_store_list(snap, WF_K8S_NODE, NULL, &nodeobjs);
	if (n_node < 0)
		return n_node;
	n_svc = wf_store_list(snap, WF_K8S_SERVICE, NULL, &svcs);
	if (n_svc < 0) {
		r = n_svc;
		goto out;
	}
	all = wf_calloc(n_node ? (size_t)n_node : 1, sizeof(*all));
	if (!all) {
		r = -ENOMEM;
		goto out;
	}
	for (ssize_t i = 0; i < n_node; i++)
		if (!nodeobjs[i]->deletion_timestamp)
			all[n_all++] = nodeobjs[i]->name;

	for (ssize_t i = 0; i < n_svc; i++) {
		const struct wf_k8s_object *o = svcs[i];
		const struct wf_k8s_service *s = o->service;
		const char *const *elig = all;
		size_t n_elig = n_all;
		ssize_t own;

		if (s->type != WF_K8S_SVC_LOAD_BALANCER || s->load_balancer_class ||
		    !s->n_lb_ingress || !wf_k8s_object_annotation(o, WF_L2ANNOUNCE_POOL_ANNOTATION))
			continue;
		if (s->external_traffic_policy == WF_K8S_POLICY_LOCAL) {
			ln.n = 0;
			wf_store_endpointslices(snap, o->namespace, o->name, collect_local, &ln);
			if (ln.err) {
				r = ln.err;
				goto out;
			}
			/* only nodes that exist: an endpoint may name a node being removed */
			size_t k = 0;
			for (size_t j = 0; j < ln.n; j++)
				if (has_name(all, n_all, ln.v[j]))
					ln.v[k++] = ln.v[j];
			ln.n = k;
			elig = ln.v;
			n_elig = ln.n;
		}
		char key[512];

		snprintf(key, sizeof(key), "%s/%s", o->namespace, o->name);
		own = wf_l2announce_owner(key, elig, n_elig);
		if (own < 0 || strcmp(elig[own], node))
			continue;
		for (size_t j = 0; j < s->n_lb_ingress; j++) {
			struct wf_ip ip;

			if (!s->lb_ingress[j].ip || wf_ip_parse(s->lb_ingress[j].ip, &ip) < 0 ||
			    ip.family != AF_INET)
				continue;
			struct wf_l2announce_want *nw =
				wf_reallocarray(want, n_want + 1, sizeof(*nw));
			if (!nw) {
				r = -ENOMEM;
				goto out;
			}
			want = nw;
			want[n_want++] = (struct wf_l2announce_want){.ip = ip, .service = o->key};
		}
	}
	*ret = want;
	want = NULL;
	r = (ssize_t)n_want;
out:
	wf_free(want);
	wf_free(ln.v);
	wf_free(all);
	wf_free(svcs);
	wf_free(nodeobjs);
	return r;
}

/* ---- the reconciler ---- */

struct l2a_rec {
	char *node;
	struct wf_l2announce_backend *be;
	struct wf_metric *m_addrs, *m_moves, *m_garp_fail;
	char logged_err[160];
};

static int l2a_init(const struct wf_agent_config *cfg, struct wf_metrics *metrics, void **ret_state)
{
	struct l2a_rec *r = wf_calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	r->node = wf_strdup(cfg->node_name ? cfg->node_name : "");
	if (!r->node) {
		ret = -ENOMEM;
		goto err_r;
	}
	ret = wf_l2announce_backend_new(&r->be);
	if (ret < 0)
		goto err_node;
	r->m_addrs = wf_metrics_gauge(metrics, "weft_l2announce_addresses", NULL,
				      "LoadBalancer addresses this node answers ARP for");
	r->m_moves = wf_metrics_counter(metrics, "weft_l2announce_changes_total", NULL,
					"LoadBalancer addresses taken over or given up");
	r->m_garp_fail = wf_metrics_counter(metrics, "weft_l2announce_garp_failures_total", NULL,
					    "Gratuitous ARPs that could not be sent");
	*ret_state = r;
	return 0;
err_node:
	wf_free(r->node);
err_r:
	wf_free(r);
	return ret;
}

/* The node's own InternalIP (IPv4), from its Node object. */
static bool node_ip(const struct wf_store_snapshot *snap, const char *node, struct wf_ip *ret)
{
	const struct wf_k8s_object *o = wf_store_get(snap, WF_K8S_NODE, NULL, node);

	for (size_t i = 0; o && i < o->node->n_addresses; i++) {
		const struct wf_k8s_node_address *a = &o->node->addresses[i];

		if (a->is_ip && a->type && !strcmp(a->type, "InternalIP") &&
		    a->ip.family == AF_INET) {
			*ret = a->ip;
			return true;
		}
	}
	return false;
}

static int l2a_sync(void *state, const struct wf_store_snapshot *snap, char *err, size_t errlen)
{
	struct l2a_rec *r = state;
	struct wf_l2announce_backend *be = r->be;
	struct wf_l2announce_want *want = NULL;
	struct wf_l2announce_addr *have = NULL;
	struct wf_cidr net = {0};
	struct wf_ip nip;
	char a[WF_IP_STRLEN];
	ssize_t n_want, n_have;
	size_t kept = 0;
	int ifindex = 0, ret = 0;

	n_want = wf_l2announce_plan(snap, r->node, &want);
	if (n_want < 0) {
		snprintf(err, errlen, "planning LoadBalancer announcements: %s",
			 strerror((int)-n_want));
		return (int)n_want;
	}
	if (n_want > 0) {
		if (!node_ip(snap, r->node, &nip)) {
			snprintf(err, errlen, "node %s has no IPv4 InternalIP to announce on",
				 r->node);
			ret = -EADDRNOTAVAIL;
			goto out;
		}
		ret = be->ops->underlay(be, &nip, &ifindex, &net);
		if (ret < 0) {
			snprintf(err, errlen, "no interface holds the node address %s: %s",
				 wf_ip_format(&nip, a), strerror(-ret));
			goto out;
		}
	}
	n_have = be->ops->list(be, &have);
	if (n_have < 0) {
		ret = (int)n_have;
		snprintf(err, errlen, "listing announced addresses: %s", strerror(-ret));
		goto out;
	}
	/* give up what this node no longer owns (or holds on another interface) */
	for (ssize_t i = 0; i < n_have; i++) {
		bool wanted = false;

		for (ssize_t j = 0; j < n_want && !wanted; j++)
			wanted =
				have[i].ifindex == ifindex && wf_ip_equal(&have[i].ip, &want[j].ip);
		if (wanted)
			continue;
		ret = be->ops->del(be, have[i].ifindex, &have[i].ip);
		if (ret < 0 && ret != -EADDRNOTAVAIL) {
			snprintf(err, errlen, "removing %s: %s", wf_ip_format(&have[i].ip, a),
				 strerror(-ret));
			goto out;
		}
		ret = 0;
		wf_metric_add(r->m_moves, 0, 1);
		wf_log_info("l2announce", "LoadBalancer address released", "ip=%s",
			    wf_ip_format(&have[i].ip, a));
	}
	for (ssize_t j = 0; j < n_want; j++) {
		bool installed = false;

		/* ARP is answered on one link: an address off the underlay's network is useless */
		if (!wf_cidr_contains(&net, &want[j].ip))
			continue;
		kept++;
		for (ssize_t i = 0; i < n_have && !installed; i++)
			installed =
				have[i].ifindex == ifindex && wf_ip_equal(&have[i].ip, &want[j].ip);
		if (installed)
			continue;
		ret = be->ops->add(be, ifindex, &want[j].ip);
		if (ret == -EEXIST) {
			/* someone else's (unmarked) address: it answers already, leave it be */
			ret = 0;
			continue;
		}
		if (ret < 0) {
			snprintf(err, errlen, "adding %s: %s", wf_ip_format(&want[j].ip, a),
				 strerror(-ret));
			goto out;
		}
		wf_metric_add(r->m_moves, 0, 1);
		wf_log_info("l2announce", "answering for LoadBalancer address", "ip=%s service=%s",
			    wf_ip_format(&want[j].ip, a), want[j].service);
		/* ownership moved here: neighbours still cache the previous owner's MAC */
		if (be->ops->garp(be, ifindex, &want[j].ip) < 0)
			wf_metric_add(r->m_garp_fail, 0, 1);
	}
	wf_metric_set(r->m_addrs, 0, (int64_t)kept);
out:
	wf_free(have);
	wf_free(want);
	return ret;
}

static void l2a_done(void *state)
{
	struct l2a_rec *r = state;

	if (!r)
		return;
	/* the addresses stay: the next agent adopts them by their mark */
	r->be->ops->free(r->be);
	wf_free(r->node);
	wf_free(r);
}

const struct wf_agent_reconciler_ops wf_l2announce_reconciler = {
	.name = "l2announce",
	.init = l2a_init,
	.sync = l2a_sync,
	.done = l2a_done,
};

/* ---- the fake backend (tests) ---- */

#define FAKE_MAX 64

struct fake_be {
	struct wf_l2announce_backend be;
	struct wf_l2announce_addr addrs[FAKE_MAX];
	size_t n;
	unsigned long garps;
};

static int fake_underlay(struct wf_l2announce_backend *be, const struct wf_ip *node_ip,
			 int *ret_ifindex, struct wf_cidr *ret_net)
{
	(void)be;
	*ret_ifindex = 2;
	ret_net->ip = *node_ip;
	ret_net->ip.addr[3] = 0;
	ret_net->prefix = 24;
	return 0;
}

static ssize_t fake_list(struct wf_l2announce_backend *be, struct wf_l2announce_addr **ret)
{
	struct fake_be *f = (struct fake_be *)be;
	struct wf_l2announce_addr *v = wf_memdup(f->addrs, (f->n ? f->n : 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	*ret = v;
	return (ssize_t)f->n;
}

static int fake_add(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip)
{
	struct fake_be *f = (struct fake_be *)be;

	for (size_t i = 0; i < f->n; i++)
		if (wf_ip_equal(&f->addrs[i].ip, ip))
			return -EEXIST;
	if (f->n == FAKE_MAX)
		return -ENOSPC;
	f->addrs[f->n++] = (struct wf_l2announce_addr){.ip = *ip, .ifindex = ifindex};
	return 0;
}

static int fake_del(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip)
{
	struct fake_be *f = (struct fake_be *)be;

	for (size_t i = 0; i < f->n; i++)
		if (f->addrs[i].ifindex == ifindex && wf_ip_equal(&f->addrs[i].ip, ip)) {
			f->addrs[i] = f->addrs[--f->n];
			return 0;
		}
	return -EADDRNOTAVAIL;
}

static int fake_garp(struct wf_l2announce_backend *be, int ifindex, const struct wf_ip *ip)
{
	(void)ifindex;
	(void)ip;
	((struct fake_be *)be)->garps++;
	return 0;
}

static void fake_free(struct wf_l2announce_backend *be)
{
	wf_free(be);
}

static const struct wf_l2announce_backend_ops fake_ops = {
	.underlay = fake_underlay,
	.list = fake_list,
	.add = fake_add,
	.del = fake_del,
	.garp = fake_garp,
	.free = fake_free,
};

int wf_l2announce_fake_new(struct wf_l2announce_backend **ret)
{
	struct fake_be *f = wf_calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->be.ops = &fake_ops;
	*ret = &f->be;
	return 0;
}

size_t wf_l2announce_fake_addrs(struct wf_l2announce_backend *be, struct wf_ip *ret, size_t max)
{
	struct fake_be *f = (struct fake_be *)be;
	size_t i;

	for (i = 0; i < f->n && i < max; i++)
		ret[i] = f->addrs[i].ip;
	return f->n;
}

unsigned long wf_l2announce_fake_garps(struct wf_l2announce_backend *be)
{
	return ((struct fake_be *)be)->garps;
}
