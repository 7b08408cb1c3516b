/* The proxy engine (proxy.h): full reconcile first, deltas after, conntrack cleanup last. */
#include "proxy/proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "proxy/model.h"

struct wf_proxy {
	const struct wf_proxy_ops *ops;
	void *state;
	struct wf_proxy_model *installed; /* NULL until the first success, and after a failure */
};

int wf_proxy_new(const struct wf_proxy_ops *ops, struct wf_proxy **ret)
{
	struct wf_proxy *p = wf_calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->ops = ops;
	r = ops->init(&p->state);
	if (r < 0) {
		wf_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void wf_proxy_free(struct wf_proxy *p)
{
	if (!p)
		return;
	p->ops->done(p->state);
	wf_proxy_model_free(p->installed);
	wf_free(p);
}

const struct wf_proxy_model *wf_proxy_installed(const struct wf_proxy *p)
{
	return p->installed;
}

const struct wf_proxy_stats *wf_proxy_stats(const struct wf_proxy *p)
{
	return p->ops->stats(p->state);
}

const char *wf_proxy_error(const struct wf_proxy *p)
{
	return p->ops->error(p->state);
}

void *wf_proxy_backend(const struct wf_proxy *p)
{
	return p->state;
}

static bool same_endpoints(const struct wf_proxy_svc *a, const struct wf_proxy_svc *b)
{
	return a && b && wf_proxy_svc_eps_equal(a, b) && wf_proxy_svc_shape_equal(a, b);
}

struct filters {
	struct wf_proxy_ct_filter *f;
	size_t n, cap;
};

static int add_filter(struct filters *fs, const struct wf_proxy_svc *s, const struct wf_ip *dst,
		      uint16_t port)
{
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 16;
		struct wf_proxy_ct_filter *n = wf_reallocarray(fs->f, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		fs->f = n;
		fs->cap = cap;
	}
	fs->f[fs->n++] = (struct wf_proxy_ct_filter){
		.family = s->family, .proto = IPPROTO_UDP, .dst = *dst, .port = port, .svc = s};
	return 0;
}

/* One filter per VIP of s and, for a NodePort, per node address of its family. */
static int add_svc_filters(struct filters *fs, const struct wf_proxy_model *m,
			   const struct wf_proxy_svc *s)
{
	int r = 0;

	for (size_t v = 0; !r && v < s->n_vips; v++)
		r = add_filter(fs, s, &s->vips[v].ip, s->port);
	for (size_t k = 0; !r && s->node_port && k < m->n_node_ips; k++)
		if (m->node_ips[k].family == s->family)
			r = add_filter(fs, s, &m->node_ips[k], s->node_port);
	return r;
}

/* Hands the filters over (*ret, returning their count), or frees them on an error r. */
static int filters_done(struct filters *fs, int r, struct wf_proxy_ct_filter **ret)
{
	if (r < 0) {
		wf_free(fs->f);
		return r;
	}
	*ret = fs->f;
	return (int)fs->n;
}

int wf_proxy_ct_filters(const struct wf_proxy_model *old, const struct wf_proxy_model *m,
			struct wf_proxy_ct_filter **ret)
{
	struct filters fs = {0};
	int r = 0;

	for (size_t i = 0; !r && i < m->n_svcs; i++) {
		const struct wf_proxy_svc *s = &m->svcs[i];

		/* UDP has no connection end: an entry keeps steering a client's datagrams to a
		 * gone endpoint, or past the VIP unNATed, until it idles out (k/k#48370). */
		if (s->protocol != WF_K8S_PROTO_UDP)
			continue;
		if (old && same_endpoints(wf_proxy_model_find(old, s->family, s->id), s))
			continue;
		r = add_svc_filters(&fs, m, s);
	}
	return filters_done(&fs, r, ret);
}

/* The conntrack filters of an update: its changed UDP service ports only. */
static int ct_filters_changes(const struct wf_proxy_model *m, const struct wf_proxy_svc_change *ch,
			      size_t n, struct wf_proxy_ct_filter **ret)
{
	struct filters fs = {0};
	int r = 0;

	for (size_t i = 0; !r && i < n; i++) {
		const struct wf_proxy_svc *s = &ch[i].new;

		if (!ch[i].has_new || s->protocol != WF_K8S_PROTO_UDP)
			continue;
		if (ch[i].has_old && same_endpoints(&ch[i].old, s))
			continue;
		r = add_svc_filters(&fs, m, s);
	}
	return filters_done(&fs, r, ret);
}

int wf_proxy_sync_update(struct wf_proxy *p, const struct wf_proxy_config *cfg,
			 const struct wf_proxy_service_input *in, size_t n,
			 struct wf_proxy_model_delta *d)
{
	struct wf_proxy_ct_filter *f = NULL;
	int r, k = 0;

	if (!p->installed || !p->ops->apply_changes)
		return -ESTALE;
	r = wf_proxy_model_update(p->installed, cfg, in, n, d);
	if (!r && d->n)
		k = r = ct_filters_changes(p->installed, d->v, d->n, &f);
	if (r >= 0 && d->n)
		r = p->ops->apply_changes(p->state, p->installed, d->v, d->n);
	if (r < 0) {
		/* A half-updated model, or a data plane that no longer matches it. */
		wf_proxy_model_free(p->installed);
		p->installed = NULL;
		wf_free(f);
		return r;
	}
	if (k > 0)
		r = p->ops->ct_flush(p->state, f, (size_t)k);
	wf_free(f);
	return r < 0 ? r : 0;
}

int wf_proxy_sync(struct wf_proxy *p, struct wf_proxy_model *m)
{
	struct wf_proxy_ct_filter *f = NULL;
	int r, n;

	/* Filters are computed before the old model goes: they compare both. */
	n = wf_proxy_ct_filters(p->installed, m, &f);
	if (n < 0) {
		wf_proxy_model_free(m);
		return n;
	}
	if (p->installed)
		r = p->ops->apply_delta(p->state, p->installed, m);
	else
		r = p->ops->apply_full(p->state, m);
	wf_proxy_model_free(p->installed);
	if (r < 0) {
		/* The kernel rejected the transaction as a whole, so what is installed is
		 * still consistent - but no longer known here: reconcile in full next time. */
		p->installed = NULL;
		wf_proxy_model_free(m);
		wf_free(f);
		return r;
	}
	p->installed = m;
	if (n > 0)
		r = p->ops->ct_flush(p->state, f, (size_t)n);
	wf_free(f);
	return r < 0 ? r : 0;
}
