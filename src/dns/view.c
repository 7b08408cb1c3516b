/* Kubernetes objects (a store snapshot, or any list of objects) -> DNS cluster view. */
#include "dns/view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/arena.h"
#include "lib/hash.h"

/* What one file (or one object list) contributes, copied compactly out of the objects so that
 * the objects can be released right after parsing: at 10,000 Services the parsed objects
 * would cost more than the zone itself. */
struct fv_slice {
	const char *ns;
	const char *service;
	struct wf_dns_slice slice;
};

struct fileview {
	struct wf_arena *mem;
	struct wf_dns_service *svcs;
	size_t n_svcs;
	struct fv_slice *slices;
	size_t n_slices;
	struct wf_dns_pod *pods;
	size_t n_pods;
	const char **nss;
	size_t n_nss;
};

struct wf_dns_view {
	struct wf_dns_cluster c;
	struct wf_dns_slice *slices; /* one array, cut per service */
	struct fileview own;	     /* wf_dns_view_new: the view owns its data */
};

const struct wf_dns_cluster *wf_dns_view_cluster(const struct wf_dns_view *v)
{
	return &v->c;
}

static void fileview_done(struct fileview *f)
{
	wf_arena_free(f->mem);
	memset(f, 0, sizeof(*f));
}

void wf_dns_view_free(struct wf_dns_view *v)
{
	if (!v)
		return;
	wf_free(v->c.services);
	wf_free(v->c.pods);
	wf_free(v->c.namespaces);
	wf_free(v->slices);
	fileview_done(&v->own);
	wf_free(v);
}

static const char *proto_name(enum wf_k8s_protocol p)
{
	return p == WF_K8S_PROTO_UDP ? "udp" : p == WF_K8S_PROTO_SCTP ? "sctp" : "tcp";
}

static int8_t tri(enum wf_k8s_tristate t)
{
	return t == WF_K8S_TRUE ? 1 : t == WF_K8S_FALSE ? 0 : -1;
}

#define ADUP(a, s) ((s) ? wf_arena_strdup((a), (s)) : NULL)

static int fileview_from_objects(const struct wf_k8s_object *const *objs, size_t n,
				 struct fileview *f)
{
	size_t n_svc = 0, n_sl = 0, n_pod = 0, n_ns = 0;
	struct wf_arena *a;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n; i++) {
		n_svc += objs[i]->kind == WF_K8S_SERVICE;
		n_sl += objs[i]->kind == WF_K8S_ENDPOINTSLICE;
		n_pod += objs[i]->kind == WF_K8S_POD;
		n_ns += objs[i]->kind == WF_K8S_NAMESPACE;
	}
	a = f->mem = wf_arena_new(16384, 0);
	if (!a)
		return -ENOMEM;
	f->svcs = wf_arena_zalloc(a, (n_svc + 1) * sizeof(*f->svcs));
	f->slices = wf_arena_zalloc(a, (n_sl + 1) * sizeof(*f->slices));
	f->pods = wf_arena_zalloc(a, (n_pod + 1) * sizeof(*f->pods));
	f->nss = wf_arena_zalloc(a, (n_ns + 1) * sizeof(*f->nss));
	if (!f->svcs || !f->slices || !f->pods || !f->nss)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		const struct wf_k8s_object *o = objs[i];
		if (o->kind == WF_K8S_SERVICE) {
			const struct wf_k8s_service *ks = o->service;
			struct wf_dns_service *s = &f->svcs[f->n_svcs++];
			s->ns = ADUP(a, o->namespace);
			s->name = ADUP(a, o->name);
			if (!s->ns || !s->name)
				goto oom;
			s->publish_not_ready = ks->publish_not_ready_addresses;
			if (ks->type == WF_K8S_SVC_EXTERNAL_NAME) {
				s->kind = WF_DNS_SVC_EXTERNALNAME;
				s->external_name = ADUP(a, ks->external_name);
			} else if (ks->headless) {
				s->kind = WF_DNS_SVC_HEADLESS;
			} else {
				s->kind = WF_DNS_SVC_CLUSTERIP;
				for (size_t k = 0; k < ks->n_cluster_ips && k < 2; k++)
					s->cluster_ips[s->n_cluster_ips++] = ks->cluster_ips[k];
			}
			s->ports = wf_arena_zalloc(a, (ks->n_ports + 1) * sizeof(*s->ports));
			if (!s->ports)
				goto oom;
			for (size_t k = 0; k < ks->n_ports; k++) {
				s->ports[k].name = ADUP(a, ks->ports[k].name);
				s->ports[k].proto = proto_name(ks->ports[k].protocol);
				s->ports[k].port = (uint16_t)ks->ports[k].port;
			}
			s->n_ports = ks->n_ports;
		} else if (o->kind == WF_K8S_ENDPOINTSLICE) {
			const struct wf_k8s_endpointslice *es = o->endpointslice;
			/* spec: slices labelled kubernetes.io/service-name are merged; FQDN ones are
			 * ignored */
			if (!es->service_name || es->address_type == WF_K8S_ADDR_FQDN)
				continue;
			struct fv_slice *fs = &f->slices[f->n_slices++];
			fs->ns = ADUP(a, o->namespace);
			fs->service = ADUP(a, es->service_name);
			fs->slice.ports =
				wf_arena_zalloc(a, (es->n_ports + 1) * sizeof(struct wf_dns_port));
			fs->slice.endpoints = wf_arena_zalloc(
				a, (es->n_endpoints + 1) * sizeof(struct wf_dns_endpoint));
			if (!fs->ns || !fs->service || !fs->slice.ports || !fs->slice.endpoints)
				goto oom;
			for (size_t k = 0; k < es->n_ports; k++) {
				fs->slice.ports[k].name = ADUP(a, es->ports[k].name);
				fs->slice.ports[k].proto = proto_name(es->ports[k].protocol);
				fs->slice.ports[k].port =
					es->ports[k].has_port ? (uint16_t)es->ports[k].port : 0;
			}
			fs->slice.n_ports = es->n_ports;
			for (size_t k = 0; k < es->n_endpoints; k++) {
				const struct wf_k8s_endpoint *ke = &es->endpoints[k];
				struct wf_dns_endpoint *e = &fs->slice.endpoints[k];
				e->hostname = ADUP(a, ke->hostname);
				e->n_addrs = ke->ips ? ke->n_addresses : 0;
				e->addrs =
					wf_arena_alloc(a, (e->n_addrs + 1) * sizeof(struct wf_ip));
				if (!e->addrs)
					goto oom;
				memcpy(e->addrs, ke->ips, e->n_addrs * sizeof(struct wf_ip));
				e->ready = tri(ke->ready);
				e->serving = tri(ke->serving);
				e->terminating = tri(ke->terminating);
			}
			fs->slice.n_endpoints = es->n_endpoints;
		} else if (o->kind == WF_K8S_POD) {
			struct wf_dns_pod *p = &f->pods[f->n_pods++];
			p->ns = ADUP(a, o->namespace);
			p->name = ADUP(a, o->name);
			p->n_ips = o->pod->n_pod_ips;
			p->ips = wf_arena_alloc(a, (p->n_ips + 1) * sizeof(struct wf_ip));
			if (!p->ns || !p->name || !p->ips)
				goto oom;
			memcpy(p->ips, o->pod->pod_ips, p->n_ips * sizeof(struct wf_ip));
		} else if (o->kind == WF_K8S_NAMESPACE) {
			f->nss[f->n_nss] = ADUP(a, o->name);
			if (!f->nss[f->n_nss++])
				goto oom;
		}
	}
	return 0;

oom:
	fileview_done(f);
	return -ENOMEM;
}

/* Joins file views into one cluster (slices to their services across files). The view
 * borrows the file views' memory. */
static int merge(struct fileview *const *fvs, size_t n_fv, struct wf_dns_view *v)
{
	struct wf_hash *by_svc;
	size_t n_svc = 0, n_pod = 0, n_ns = 0, n_sl = 0;
	char key[512];

	for (size_t i = 0; i < n_fv; i++) {
		n_svc += fvs[i]->n_svcs;
		n_pod += fvs[i]->n_pods;
		n_ns += fvs[i]->n_nss;
		n_sl += fvs[i]->n_slices;
	}
	v->c.services = wf_calloc(n_svc + 1, sizeof(*v->c.services));
	v->c.pods = wf_calloc(n_pod + 1, sizeof(*v->c.pods));
	v->c.namespaces = wf_calloc(n_ns + 1, sizeof(*v->c.namespaces));
	v->slices = wf_calloc(n_sl + 1, sizeof(*v->slices));
	by_svc = wf_hash_new(n_svc * 2 + 16);
	if (!v->c.services || !v->c.pods || !v->c.namespaces || !v->slices || !by_svc) {
		wf_hash_free(by_svc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_fv; i++) {
		const struct fileview *f = fvs[i];
		for (size_t k = 0; k < f->n_svcs; k++) {
			struct wf_dns_service *s = &v->c.services[v->c.n_services];
			*s = f->svcs[k];
			s->slices = NULL;
			s->n_slices = 0;
			snprintf(key, sizeof(key), "%s/%s", s->ns, s->name);
			/* value: index + 1 (NULL means absent); a later duplicate wins */
			if (wf_hash_put(by_svc, key, strlen(key),
					(void *)(uintptr_t)(v->c.n_services + 1), NULL) < 0) {
				wf_hash_free(by_svc);
				return -ENOMEM;
			}
			v->c.n_services++;
		}
		if (f->n_pods)
			memcpy(v->c.pods + v->c.n_pods, f->pods, f->n_pods * sizeof(*f->pods));
		v->c.n_pods += f->n_pods;
		if (f->n_nss)
			memcpy(v->c.namespaces + v->c.n_namespaces, f->nss,
			       f->n_nss * sizeof(*f->nss));
		v->c.n_namespaces += f->n_nss;
	}
	/* two passes over the slices: count per service, then place them contiguously */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n_fv; i++) {
			const struct fileview *f = fvs[i];
			for (size_t k = 0; k < f->n_slices; k++) {
				snprintf(key, sizeof(key), "%s/%s", f->slices[k].ns,
					 f->slices[k].service);
				uintptr_t si = (uintptr_t)wf_hash_get(by_svc, key, strlen(key));
				if (!si)
					continue;
				struct wf_dns_service *s = &v->c.services[si - 1];
				if (pass == 0)
					s->n_slices++;
				else
					s->slices[s->n_slices++] = f->slices[k].slice;
			}
		}
		if (pass == 0) {
			size_t at = 0;
			for (size_t i = 0; i < v->c.n_services; i++) {
				struct wf_dns_service *s = &v->c.services[i];
				s->slices = v->slices + at;
				at += s->n_slices;
				s->n_slices = 0;
			}
		}
	}
	wf_hash_free(by_svc);
	return 0;
}

int wf_dns_view_new(const struct wf_k8s_object *const *objs, size_t n, struct wf_dns_view **ret)
{
	struct wf_dns_view *v = wf_calloc(1, sizeof(*v));
	struct fileview *fv;
	int rc;

	if (!v)
		return -ENOMEM;
	rc = fileview_from_objects(objs, n, &v->own);
	if (rc == 0) {
		fv = &v->own;
		rc = merge(&fv, 1, v);
	}
	if (rc < 0) {
		wf_dns_view_free(v);
		return rc;
	}
	*ret = v;
	return 0;
}

/* The kinds DNS reads, in the order the view lists them. */
static const enum wf_k8s_kind view_kinds[] = {
	WF_K8S_NAMESPACE,
	WF_K8S_SERVICE,
	WF_K8S_ENDPOINTSLICE,
	WF_K8S_POD,
};

int wf_dns_view_from_snapshot(const struct wf_store_snapshot *snap, bool with_pods,
			      struct wf_dns_view **ret)
{
	const struct wf_k8s_object **lists[4] = {0}, **all = NULL;
	size_t counts[4] = {0}, n = 0, at = 0;
	size_t n_kinds = with_pods ? 4 : 3;
	int rc = 0;

	/* wf_store_list sorts by namespace and name: the view (and so the order of records that
	 * several objects contribute to one name) does not depend on file or event order. */
	for (size_t i = 0; i < n_kinds; i++) {
		ssize_t r = wf_store_list(snap, view_kinds[i], NULL, &lists[i]);
		if (r < 0) {
			rc = (int)r;
			goto out;
		}
		counts[i] = (size_t)r;
		n += (size_t)r;
	}
	all = wf_calloc(n + 1, sizeof(*all));
	if (!all) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_kinds; i++) {
		if (counts[i])
			memcpy(all + at, lists[i], counts[i] * sizeof(*all));
		at += counts[i];
	}
	rc = wf_dns_view_new(all, n, ret);
out:
	wf_free(all);
	for (size_t i = 0; i < n_kinds; i++)
		wf_free(lists[i]);
	return rc;
}
