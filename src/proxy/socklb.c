/* The socket-level load balancer: map sync and eBPF attachment (socklb.h). */
#include "proxy/socklb.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/bpf-load.h"
#include "lib/hash.h"

/* The two endpoint scopes a service port may need: all its endpoints (ClusterIP, externalIPs,
 * LB IPs and NodePorts for locally originated traffic), and this node's only (a ClusterIP with
 * internalTrafficPolicy Local). */
enum {
	SCOPE_CLUSTER,
	SCOPE_LOCAL,
	SCOPE_MAX,
};

/* An endpoint list as written to the eps map. */
struct slb_list {
	uint32_t id; /* 0: not allocated */
	uint32_t n;  /* slots written */
	struct wf_socklb_ep *eps;
};

struct slb_key {
	struct wf_socklb_key k;
	uint8_t scope;
};

/* One service port (family + id) as installed. */
struct slb_port {
	char *name; /* "4|ns/name/proto/port": the ports hash's key */
	struct slb_list list[SCOPE_MAX];
	uint32_t affinity;
	size_t n_keys; /* the keys this port holds in the services map */
	struct slb_key *keys;
	unsigned long seen; /* full-sync generation */
};

struct wf_socklb {
	const struct wf_socklb_map_ops *ops;
	void *ud;
	struct wf_hash *ports; /* name -> struct slb_port */
	struct wf_hash *owner; /* struct wf_socklb_key (in its port's keys) -> struct slb_port */
	uint32_t *free_ids;
	size_t n_free, cap_free;
	uint32_t next_id;
	unsigned long gen;
	bool synced;   /* the maps equal the last model */
	bool broken;   /* a sync failed: the maps' content is unknown until repaired */
	bool attached; /* real programs (wf_socklb_open) */
	bool adopt;    /* the maps hold an earlier instance's entries: take them over */
	void *bpf;     /* struct slb_bpf, when attached */
	struct wf_socklb_stats stats;
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int map_update(struct wf_socklb *s, enum wf_socklb_map m, const void *k, const void *v)
{
	s->stats.updates++;
	return s->ops->update(s->ud, m, k, v);
}

static int map_remove(struct wf_socklb *s, enum wf_socklb_map m, const void *k)
{
	int r = s->ops->remove(s->ud, m, k);

	s->stats.removes++;
	return r == -ENOENT ? 0 : r;
}

static int set_enabled(struct wf_socklb *s, bool on)
{
	uint32_t zero = 0;
	struct wf_socklb_config c = {.enabled = on};

	return map_update(s, WF_SOCKLB_MAP_CONFIG, &zero, &c);
}

static int id_get(struct wf_socklb *s, uint32_t *ret)
{
	if (s->n_free) {
		*ret = s->free_ids[--s->n_free];
		return 0;
	}
	if (s->next_id == UINT32_MAX)
		return -ENOSPC;
	*ret = s->next_id++;
	return 0;
}

static int id_put(struct wf_socklb *s, uint32_t id)
{
	if (s->n_free == s->cap_free) {
		size_t cap = s->cap_free ? s->cap_free * 2 : 64;
		uint32_t *v = wf_reallocarray(s->free_ids, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->free_ids = v;
		s->cap_free = cap;
	}
	s->free_ids[s->n_free++] = id;
	return 0;
}

static void port_free(struct slb_port *p)
{
	if (!p)
		return;
	for (int i = 0; i < SCOPE_MAX; i++)
		wf_free(p->list[i].eps);
	wf_free(p->keys);
	wf_free(p->name);
	wf_free(p);
}

int wf_socklb_new(const struct wf_socklb_map_ops *ops, void *ud, bool adopt, struct wf_socklb **ret)
{
	struct wf_socklb *s = wf_calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->ud = ud;
	s->adopt = adopt;
	s->next_id = 1;
	s->ports = wf_hash_new(1024);
	s->owner = wf_hash_new(1024);
	if (!s->ports || !s->owner) {
		wf_hash_free(s->ports);
		wf_hash_free(s->owner);
		wf_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

static void bpf_close(void *b);

void wf_socklb_free(struct wf_socklb *s)
{
	struct slb_port *p;

	if (!s)
		return;
	for (size_t it = 0; wf_hash_next(s->ports, &it, NULL, NULL, (void **)&p);)
		port_free(p);
	wf_hash_free(s->ports);
	wf_hash_free(s->owner);
	wf_free(s->free_ids);
	bpf_close(s->bpf);
	wf_free(s);
}

bool wf_socklb_active(const struct wf_socklb *s)
{
	return s && s->attached && s->synced;
}

const struct wf_socklb_stats *wf_socklb_stats(const struct wf_socklb *s)
{
	return &s->stats;
}

/* ---- what one service port wants ---- */

static void key_of(struct wf_socklb_key *k, const struct wf_proxy_svc *svc, const struct wf_ip *ip,
		   uint16_t port)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, ip->addr, svc->family == AF_INET ? 4 : 16);
	k->port = htons(port);
	k->proto = svc->protocol == WF_K8S_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	k->family = svc->family == AF_INET ? 4 : 6;
}

struct want {
	size_t n_keys;
	struct slb_key *keys; /* wf_malloc'd */
	const struct wf_proxy_endpoint *eps[SCOPE_MAX];
	size_t n_eps[SCOPE_MAX];
	bool used[SCOPE_MAX];
};

/* The keys and endpoint lists svc needs (NULL: none, the port is gone). */
static int want_of(struct want *w, const struct wf_proxy_model *m, const struct wf_proxy_svc *svc)
{
	size_t cap;

	memset(w, 0, sizeof(*w));
	if (!svc || (svc->protocol != WF_K8S_PROTO_TCP && svc->protocol != WF_K8S_PROTO_UDP))
		return 0;
	cap = svc->n_vips + (svc->node_port ? m->n_node_ips : 0);
	if (!cap)
		return 0;
	w->keys = wf_calloc(cap, sizeof(*w->keys));
	if (!w->keys)
		return -ENOMEM;
	w->eps[SCOPE_CLUSTER] = svc->eps;
	w->n_eps[SCOPE_CLUSTER] = svc->n_eps;
	w->eps[SCOPE_LOCAL] = svc->local_eps;
	w->n_eps[SCOPE_LOCAL] = svc->n_local_eps;
	for (size_t v = 0; v < svc->n_vips; v++) {
		const struct wf_proxy_vip *vip = &svc->vips[v];
		uint8_t scope = SCOPE_CLUSTER;

		/* The table's firewall (loadBalancerSourceRanges) decides on the client's
		 * address, which a connect() may not have chosen yet: leave these to it. */
		if (vip->kind == WF_PROXY_VIP_LB && svc->n_source_ranges)
			continue;
		/* internalTrafficPolicy Local confines the ClusterIP only; traffic from this
		 * node to external addresses is never confined (the table's extlocal rule sends
		 * the node's own and its pods' connections to every endpoint). */
		if (vip->kind == WF_PROXY_VIP_CLUSTER && svc->internal_local)
			scope = SCOPE_LOCAL;
		key_of(&w->keys[w->n_keys].k, svc, &vip->ip, svc->port);
		w->keys[w->n_keys++].scope = scope;
		w->used[scope] = true;
	}
	/* NodePorts on this node's addresses (the table's @nodeips; never loopback). */
	for (size_t i = 0; svc->node_port && i < m->n_node_ips; i++) {
		if (m->node_ips[i].family != svc->family)
			continue;
		key_of(&w->keys[w->n_keys].k, svc, &m->node_ips[i], svc->node_port);
		w->keys[w->n_keys++].scope = SCOPE_CLUSTER;
		w->used[SCOPE_CLUSTER] = true;
	}
	return 0;
}

static void ep_of(struct wf_socklb_ep *e, const struct wf_proxy_endpoint *ep, int family)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->addr, ep->ip.addr, family == AF_INET ? 4 : 16);
	e->port = htons(ep->port);
}

static const struct slb_key *find_key(const struct slb_key *v, size_t n,
				      const struct wf_socklb_key *k)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(&v[i].k, k, sizeof(*k)))
			return &v[i];
	return NULL;
}

static struct wf_socklb_svc svc_value(const struct slb_port *p, uint8_t scope, uint32_t n)
{
	return (struct wf_socklb_svc){.id = p->list[scope].id, .count = n, .affinity = p->affinity};
}

/* ---- one service port: the ordered diff ---- */

/* Brings port p (new when NULL) to what svc needs (svc NULL: removes it). A port's keys are
 * few (its VIPs and NodePort addresses), so they are compared by a linear search. */
static int sync_port(struct wf_socklb *s, const struct wf_proxy_model *m, const char *name,
		     struct slb_port *p, const struct wf_proxy_svc *svc)
{
	struct want w;
	struct wf_socklb_ep *neweps[SCOPE_MAX] = {0};
	struct slb_key *kept = NULL;
	size_t n_kept = 0;
	uint32_t aff = svc ? svc->affinity_timeout : 0;
	int r;

	r = want_of(&w, m, svc);
	if (r < 0)
		return r;
	if (!p) {
		if (!w.n_keys)
			goto out;
		p = wf_calloc(1, sizeof(*p));
		if (!p || !(p->name = wf_strdup(name))) {
			wf_free(p);
			r = -ENOMEM;
			goto out;
		}
		r = wf_hash_puts(s->ports, p->name, p, NULL);
		if (r < 0) {
			port_free(p);
			goto out;
		}
		p->affinity = aff;
	}
	p->seen = s->gen;
	/* endpoint lists: ids for the scopes now needed */
	for (int sc = 0; sc < SCOPE_MAX; sc++) {
		if (!w.used[sc])
			continue;
		if (!p->list[sc].id && (r = id_get(s, &p->list[sc].id)) < 0)
			goto out;
		if (w.n_eps[sc]) {
			neweps[sc] = wf_calloc(w.n_eps[sc], sizeof(*neweps[sc]));
			if (!neweps[sc]) {
				r = -ENOMEM;
				goto out;
			}
			for (size_t i = 0; i < w.n_eps[sc]; i++)
				ep_of(&neweps[sc][i], &w.eps[sc][i], svc->family);
		}
	}
	/* 1. counts that shrink, first, on the keys that keep their list */
	for (size_t i = 0; i < p->n_keys; i++) {
		const struct slb_key *o = &p->keys[i], *nk = find_key(w.keys, w.n_keys, &o->k);
		uint8_t sc = o->scope;
		struct wf_socklb_svc v;

		if (!nk || nk->scope != sc || w.n_eps[sc] >= p->list[sc].n)
			continue;
		v = svc_value(p, sc, (uint32_t)w.n_eps[sc]);
		if ((r = map_update(s, WF_SOCKLB_MAP_SERVICES, &o->k, &v)) < 0)
			goto out;
	}
	/* 2. slots that are new or hold another endpoint now */
	for (int sc = 0; sc < SCOPE_MAX; sc++) {
		struct slb_list *l = &p->list[sc];

		for (size_t i = 0; w.used[sc] && i < w.n_eps[sc]; i++) {
			struct wf_socklb_ep_key ek = {.id = l->id, .slot = (uint32_t)i};

			if (i < l->n && !memcmp(&l->eps[i], &neweps[sc][i], sizeof(neweps[sc][i])))
				continue;
			if ((r = map_update(s, WF_SOCKLB_MAP_EPS, &ek, &neweps[sc][i])) < 0)
				goto out;
		}
	}
	/* 3. the keys, with the counts that cover the slots written above */
	if (w.n_keys && !(kept = wf_calloc(w.n_keys, sizeof(*kept)))) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < w.n_keys; i++) {
		const struct slb_key *nk = &w.keys[i], *o = find_key(p->keys, p->n_keys, &nk->k);
		struct slb_port *own = wf_hash_get(s->owner, &nk->k, sizeof(nk->k));
		struct wf_socklb_svc v = svc_value(p, nk->scope, (uint32_t)w.n_eps[nk->scope]);

		if (own && own != p) {
			s->stats.conflicts++; /* two Services claim it: the first keeps it */
			continue;
		}
		if (find_key(kept, n_kept, &nk->k))
			continue; /* the same key twice (an LB IP equal to a node address) */
		/* skipped: unchanged, or shrunk in step 1 to this very value */
		if (!o || o->scope != nk->scope || p->affinity != aff ||
		    p->list[nk->scope].n < w.n_eps[nk->scope]) {
			v.affinity = aff;
			if ((r = map_update(s, WF_SOCKLB_MAP_SERVICES, &nk->k, &v)) < 0)
				goto out;
		}
		kept[n_kept++] = *nk;
	}
	/* 4. keys that go */
	for (size_t i = 0; i < p->n_keys; i++) {
		const struct slb_key *o = &p->keys[i];

		if (find_key(kept, n_kept, &o->k))
			continue;
		wf_hash_del(s->owner, &o->k, sizeof(o->k));
		if ((r = map_remove(s, WF_SOCKLB_MAP_SERVICES, &o->k)) < 0)
			goto out;
	}
	/* the owner index points into kept from here on */
	for (size_t i = 0; i < n_kept; i++)
		if ((r = wf_hash_put(s->owner, &kept[i].k, sizeof(kept[i].k), p, NULL)) < 0)
			goto out;
	wf_free(p->keys);
	p->keys = kept;
	p->n_keys = n_kept;
	kept = NULL;
	p->affinity = aff;
	/* 5. slots beyond the new counts, and lists no key uses any more */
	for (int sc = 0; sc < SCOPE_MAX; sc++) {
		struct slb_list *l = &p->list[sc];
		size_t keep = w.used[sc] ? w.n_eps[sc] : 0;

		for (size_t i = keep; i < l->n; i++) {
			struct wf_socklb_ep_key ek = {.id = l->id, .slot = (uint32_t)i};

			if ((r = map_remove(s, WF_SOCKLB_MAP_EPS, &ek)) < 0)
				goto out;
		}
		wf_free(l->eps);
		l->eps = neweps[sc];
		l->n = (uint32_t)keep;
		neweps[sc] = NULL;
		if (!w.used[sc] && l->id) {
			if ((r = id_put(s, l->id)) < 0)
				goto out;
			l->id = 0;
		}
	}
	if (!p->n_keys && !p->list[SCOPE_CLUSTER].id && !p->list[SCOPE_LOCAL].id) {
		wf_hash_dels(s->ports, p->name);
		port_free(p);
	}
out:
	for (int sc = 0; sc < SCOPE_MAX; sc++)
		wf_free(neweps[sc]);
	wf_free(kept);
	wf_free(w.keys);
	return r;
}

static void port_name(char *buf, size_t size, const struct wf_proxy_svc *svc)
{
	snprintf(buf, size, "%d|%s", svc->family == AF_INET ? 4 : 6, svc->id);
}

/* After a failure the maps hold some unknown mix: empty them and forget what was installed. */
static int repair(struct wf_socklb *s)
{
	struct slb_port *p;
	int r;

	for (size_t it = 0; wf_hash_next(s->ports, &it, NULL, NULL, (void **)&p);)
		port_free(p);
	wf_hash_clear(s->ports);
	wf_hash_clear(s->owner);
	s->n_free = 0;
	s->next_id = 1;
	if ((r = s->ops->clear(s->ud, WF_SOCKLB_MAP_SERVICES)) < 0 ||
	    (r = s->ops->clear(s->ud, WF_SOCKLB_MAP_EPS)) < 0)
		return r;
	s->broken = false;
	return 0;
}

static void count(struct wf_socklb *s)
{
	s->stats.keys = wf_hash_count(s->owner);
	s->stats.ids = s->next_id - 1 - s->n_free;
}

/* A failed sync: the programs stop rewriting until a full sync repairs the maps. */
static int failed(struct wf_socklb *s, int r)
{
	s->synced = false;
	s->broken = true;
	set_enabled(s, false);
	return r;
}

/* ---- taking over an earlier agent's maps ---- */

struct kview {
	struct wf_hash *keys; /* wf_socklb_key -> struct kentry (services) */
	struct wf_hash *eps;  /* wf_socklb_ep_key -> struct kentry */
	uint32_t max_id;
	int err;
};

struct kentry {
	unsigned char key[sizeof(struct wf_socklb_key)];
	unsigned char val[sizeof(struct wf_socklb_svc) > sizeof(struct wf_socklb_ep)
				  ? sizeof(struct wf_socklb_svc)
				  : sizeof(struct wf_socklb_ep)];
	bool taken;
};

static int kview_add(struct wf_hash *h, const void *key, size_t klen, const void *val, size_t vlen,
		     struct kview *kv)
{
	struct kentry *e = wf_calloc(1, sizeof(*e));

	if (!e || wf_hash_put(h, memcpy(e->key, key, klen), klen, e, NULL) < 0) {
		wf_free(e);
		kv->err = -ENOMEM;
		return 1;
	}
	memcpy(e->val, val, vlen);
	return 0;
}

static int kview_svc(void *ctx, const void *key, const void *val)
{
	struct kview *kv = ctx;
	const struct wf_socklb_svc *v = val;

	if (v->id > kv->max_id)
		kv->max_id = v->id;
	return kview_add(kv->keys, key, sizeof(struct wf_socklb_key), val, sizeof(*v), kv);
}

static int kview_ep(void *ctx, const void *key, const void *val)
{
	struct kview *kv = ctx;
	const struct wf_socklb_ep_key *k = key;

	if (k->id > kv->max_id)
		kv->max_id = k->id;
	return kview_add(kv->eps, key, sizeof(*k), val, sizeof(struct wf_socklb_ep), kv);
}

static void kview_done(struct kview *kv)
{
	struct kentry *e;

	for (int i = 0; i < 2; i++) {
		struct wf_hash *h = i ? kv->eps : kv->keys;

		for (size_t it = 0; h && wf_hash_next(h, &it, NULL, NULL, (void **)&e);)
			wf_free(e);
		wf_hash_free(h);
	}
}

/* Records in port p (new when NULL) the keys of svc that the maps hold with a list no other port
 * took, and those lists' slots, as if this instance had written them: the full sync that follows
 * then writes only what differs. */
static int adopt_port(struct wf_socklb *s, struct kview *kv, const struct wf_proxy_model *m,
		      const char *name, const struct wf_proxy_svc *svc, struct wf_hash *id_owner)
{
	struct slb_port *p = wf_hash_gets(s->ports, name); /* NULL: ports are adopted once */
	struct want w;
	int r = want_of(&w, m, svc);

	if (r < 0 || !w.n_keys)
		goto out;
	for (size_t i = 0; i < w.n_keys; i++) {
		struct slb_key *nk = &w.keys[i];
		struct kentry *e = wf_hash_get(kv->keys, &nk->k, sizeof(nk->k));
		struct wf_socklb_svc v;
		struct slb_list *l;
		void *own;

		if (!e || e->taken || wf_hash_get(s->owner, &nk->k, sizeof(nk->k)))
			continue;
		memcpy(&v, e->val, sizeof(v));
		if (!v.id)
			continue;
		own = wf_hash_get(id_owner, &v.id, sizeof(v.id));
		if (!p) {
			p = wf_calloc(1, sizeof(*p));
			if (!p || !(p->name = wf_strdup(name))) {
				wf_free(p);
				r = -ENOMEM;
				goto out;
			}
			if ((r = wf_hash_puts(s->ports, p->name, p, NULL)) < 0) {
				port_free(p);
				goto out;
			}
			p->affinity = v.affinity;
		}
		l = &p->list[nk->scope];
		/* a list belongs to one (port, scope): the first one seen using it */
		if ((own && own != &p->list[nk->scope]) || (l->id && l->id != v.id))
			continue;
		if (!l->id) {
			l->id = v.id;
			if ((r = wf_hash_put(id_owner, &l->id, sizeof(l->id), l, NULL)) < 0)
				goto out;
			/* the slots its count covers (a gap ends the list: rewritten) */
			l->eps = wf_calloc(v.count ? v.count : 1, sizeof(*l->eps));
			if (!l->eps) {
				r = -ENOMEM;
				goto out;
			}
			for (l->n = 0; l->n < v.count; l->n++) {
				struct wf_socklb_ep_key ek = {.id = v.id, .slot = l->n};
				struct kentry *se = wf_hash_get(kv->eps, &ek, sizeof(ek));

				if (!se)
					break;
				memcpy(&l->eps[l->n], se->val, sizeof(l->eps[l->n]));
				se->taken = true;
			}
		}
		/* the key as installed: its value matches what the list above records only if
		 * its count does; otherwise the sync rewrites it (not adopted) */
		if (v.count != l->n)
			continue;
		/* sized once for every key the port may adopt: the owner index points into it */
		if (!p->keys && !(p->keys = wf_calloc(w.n_keys, sizeof(*p->keys)))) {
			r = -ENOMEM;
			goto out;
		}
		p->keys[p->n_keys] = *nk;
		r = wf_hash_put(s->owner, &p->keys[p->n_keys].k, sizeof(nk->k), p, NULL);
		if (r < 0)
			goto out;
		p->n_keys++;
		e->taken = true;
		s->stats.adopted++;
	}
out:
	wf_free(w.keys);
	return r;
}

/* Takes over what the maps hold for m's service ports, then deletes what no port took (gone
 * Services, lists of an older layout, slots past their count). Entries are deleted only after
 * the sync that follows wrote their replacements - here they are only marked. */
static int adopt(struct wf_socklb *s, const struct wf_proxy_model *m, struct kview *kv)
{
	struct wf_hash *id_owner = wf_hash_new(1024);
	char name[600];
	int r;

	kv->keys = wf_hash_new(1024);
	kv->eps = wf_hash_new(1024);
	if (!id_owner || !kv->keys || !kv->eps) {
		wf_hash_free(id_owner);
		return -ENOMEM;
	}
	r = s->ops->dump(s->ud, WF_SOCKLB_MAP_SERVICES, kview_svc, kv);
	if (!r)
		r = kv->err;
	if (!r)
		r = s->ops->dump(s->ud, WF_SOCKLB_MAP_EPS, kview_ep, kv);
	if (!r)
		r = kv->err;
	for (size_t i = 0; !r && i < m->n_svcs; i++) {
		port_name(name, sizeof(name), &m->svcs[i]);
		r = adopt_port(s, kv, m, name, &m->svcs[i], id_owner);
	}
	/* ids: fresh ones above every id the maps hold, so nothing new collides with a leftover */
	if (!r)
		s->next_id = kv->max_id + 1;
	wf_hash_free(id_owner);
	return r;
}

/* After the sync: the entries no port took - keys no port holds, and slots outside every list
 * in use (an id no port uses now, or past its list's count). */
static int adopt_cleanup(struct wf_socklb *s, struct kview *kv)
{
	struct wf_hash *lists = wf_hash_new(1024); /* id -> its list, as the sync left them */
	struct slb_port *p;
	struct kentry *e;
	int r = lists ? 0 : -ENOMEM;

	for (size_t it = 0; !r && wf_hash_next(s->ports, &it, NULL, NULL, (void **)&p);)
		for (int sc = 0; !r && sc < SCOPE_MAX; sc++)
			if (p->list[sc].id)
				r = wf_hash_put(lists, &p->list[sc].id, sizeof(p->list[sc].id),
						&p->list[sc], NULL);
	for (size_t it = 0; !r && wf_hash_next(kv->keys, &it, NULL, NULL, (void **)&e);)
		if (!e->taken && !wf_hash_get(s->owner, e->key, sizeof(struct wf_socklb_key)))
			r = map_remove(s, WF_SOCKLB_MAP_SERVICES, e->key);
	for (size_t it = 0; !r && wf_hash_next(kv->eps, &it, NULL, NULL, (void **)&e);) {
		const struct wf_socklb_ep_key *k = (const void *)e->key;
		const struct slb_list *l = wf_hash_get(lists, &k->id, sizeof(k->id));

		/* adopted slots are the sync's: it deleted those its lists no longer cover */
		if (e->taken)
			continue;
		if (!l || k->slot >= l->n)
			r = map_remove(s, WF_SOCKLB_MAP_EPS, e->key);
	}
	wf_hash_free(lists);
	return r;
}

int wf_socklb_sync_full(struct wf_socklb *s, const struct wf_proxy_model *m)
{
	uint64_t t0 = now_ns();
	struct kview kv = {0};
	struct slb_port *p;
	char name[600];
	int r;

	if (s->broken && (r = repair(s)) < 0)
		return failed(s, r);
	if (s->adopt) {
		r = adopt(s, m, &kv);
		if (r < 0) {
			kview_done(&kv);
			return failed(s, r); /* the repair empties the maps: a fresh start */
		}
	}
	s->gen++;
	for (size_t i = 0; i < m->n_svcs; i++) {
		const struct wf_proxy_svc *svc = &m->svcs[i];

		port_name(name, sizeof(name), svc);
		r = sync_port(s, m, name, wf_hash_gets(s->ports, name), svc);
		if (r < 0) {
			kview_done(&kv);
			return failed(s, r);
		}
	}
	if (s->adopt) {
		r = adopt_cleanup(s, &kv);
		kview_done(&kv);
		if (r < 0)
			return failed(s, r);
		s->adopt = false;
	}
	/* ports the model no longer has */
	for (size_t it = 0; wf_hash_next(s->ports, &it, NULL, NULL, (void **)&p);) {
		if (p->seen == s->gen)
			continue;
		/* sync_port deletes p from the table: allowed for the current entry only */
		r = sync_port(s, m, p->name, p, NULL);
		if (r < 0)
			return failed(s, r);
	}
	if (!s->synced && (r = set_enabled(s, true)) < 0)
		return failed(s, r);
	s->synced = true;
	s->stats.full_syncs++;
	s->stats.last_sync_ns = now_ns() - t0;
	count(s);
	return 0;
}

int wf_socklb_sync_changes(struct wf_socklb *s, const struct wf_proxy_model *m,
			   const struct wf_proxy_svc_change *ch, size_t n)
{
	uint64_t t0 = now_ns();
	char name[600];
	int r;

	if (!s->synced)
		return -ESTALE;
	for (size_t i = 0; i < n; i++) {
		const struct wf_proxy_svc *svc = ch[i].has_new ? &ch[i].new : &ch[i].old;

		port_name(name, sizeof(name), svc);
		r = sync_port(s, m, name, wf_hash_gets(s->ports, name),
			      ch[i].has_new ? &ch[i].new : NULL);
		if (r < 0)
			return failed(s, r);
	}
	s->stats.change_syncs++;
	s->stats.last_sync_ns = now_ns() - t0;
	count(s);
	return 0;
}

/* ---- the kernel side ---- */

#ifdef WF_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

extern const unsigned char wf_proxy_socklb_obj[];
extern const size_t wf_proxy_socklb_obj_len;

static const char *const prog_names[] = {
	"wf_slb_connect4",     "wf_slb_connect6",     "wf_slb_sendmsg4",
	"wf_slb_sendmsg6",     "wf_slb_recvmsg4",     "wf_slb_recvmsg6",
	"wf_slb_getpeername4", "wf_slb_getpeername6", "wf_slb_release",
};
#define N_PROGS (sizeof(prog_names) / sizeof(prog_names[0]))

static const char *const map_names[WF_SOCKLB_MAP_MAX] = {
	[WF_SOCKLB_MAP_SERVICES] = "wf_slb_services",
	[WF_SOCKLB_MAP_EPS] = "wf_slb_eps",
	[WF_SOCKLB_MAP_CONFIG] = "wf_slb_config",
};

struct slb_bpf {
	struct bpf_object *obj;
	int fd[WF_SOCKLB_MAP_MAX];
};

static void bpf_close(void *p)
{
	struct slb_bpf *b = p;

	if (!b)
		return;
	bpf_object__close(b->obj);
	wf_free(b);
}

static int k_update(void *ud, enum wf_socklb_map m, const void *k, const void *v)
{
	struct slb_bpf *b = ud;

	return bpf_map_update_elem(b->fd[m], k, v, BPF_ANY) ? -errno : 0;
}

static int k_remove(void *ud, enum wf_socklb_map m, const void *k)
{
	struct slb_bpf *b = ud;

	return bpf_map_delete_elem(b->fd[m], k) ? -errno : 0;
}

static int k_clear(void *ud, enum wf_socklb_map m)
{
	struct slb_bpf *b = ud;
	unsigned char key[64];

	/* deleting the first key each time: get_next_key after a deleted key restarts anyway */
	while (bpf_map_get_next_key(b->fd[m], NULL, key) == 0)
		if (bpf_map_delete_elem(b->fd[m], key) && errno != ENOENT)
			return -errno;
	return errno == ENOENT ? 0 : -errno;
}

static int k_dump(void *ud, enum wf_socklb_map m, wf_socklb_entry_fn fn, void *ctx)
{
	struct slb_bpf *b = ud;
	unsigned char key[64], next[64], val[64];
	void *prev = NULL;

	while (bpf_map_get_next_key(b->fd[m], prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		if (bpf_map_lookup_elem(b->fd[m], key, val))
			continue; /* deleted meanwhile */
		if (fn(ctx, key, val))
			return 0;
	}
	return errno == ENOENT ? 0 : -errno;
}

static const struct wf_socklb_map_ops kernel_ops = {
	.update = k_update,
	.remove = k_remove,
	.clear = k_clear,
	.dump = k_dump,
};

static const char *const reused_maps[] = {"wf_slb_services", "wf_slb_eps",	"wf_slb_rev",
					  "wf_slb_peer",     "wf_slb_affinity", "wf_slb_config"};
#define N_REUSED (sizeof(reused_maps) / sizeof(reused_maps[0]))

/* Our programs attached to cg at hook type (an earlier agent's, or this one's): their fds, at
 * most cap, in the kernel's order; the count is returned. Names are cut at 15 characters, so
 * the prefix is what tells ours. */
static int our_progs(int cg, enum bpf_attach_type type, int *fds, int cap)
{
	uint32_t ids[64], cnt = 64, flags = 0;
	int n = 0;

	if (bpf_prog_query(cg, type, 0, &flags, ids, &cnt) < 0)
		return 0;
	for (uint32_t i = 0; i < cnt && n < cap; i++) {
		struct bpf_prog_info info = {0};
		uint32_t len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    !strncmp(info.name, "wf_slb_", 7))
			fds[n++] = fd;
		else
			close(fd);
	}
	return n;
}

/* The ids of the maps our program at hook type on cg uses (appended to ids, at most cap in
 * all). */
static void prog_maps(int cg, enum bpf_attach_type type, uint32_t *ids, uint32_t *n, uint32_t cap)
{
	uint32_t map_ids[16];
	int fds[4], n_fds = our_progs(cg, type, fds, 4), prog = n_fds ? fds[0] : -1;

	for (int i = 1; i < n_fds; i++)
		close(fds[i]);
	if (prog < 0)
		return;
	struct bpf_prog_info info = {.nr_map_ids = 16, .map_ids = (uintptr_t)map_ids};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog, &info, &len) < 0)
		info.nr_map_ids = 0;
	close(prog);
	for (uint32_t i = 0; i < info.nr_map_ids && i < 16 && *n < cap; i++) {
		bool seen = false;

		for (uint32_t j = 0; j < *n && !seen; j++)
			seen = ids[j] == map_ids[i];
		if (!seen)
			ids[(*n)++] = map_ids[i];
	}
}

/* The maps of our programs attached to cg (an earlier agent's), when every one of them has
 * the layout this object defines: their fds in fds[] (in reused_maps order). Returns true then;
 * false (nothing open) when there is no such program or the layout changed. connect4 and
 * sendmsg4 together use every map (connect keeps its peer with the socket, sendmsg in
 * wf_slb_rev). */
static bool find_maps(int cg, struct bpf_object *obj, int fds[N_REUSED])
{
	uint32_t map_ids[32], n_ids = 0;
	int found = 0;

	for (size_t i = 0; i < N_REUSED; i++)
		fds[i] = -1;
	prog_maps(cg, BPF_CGROUP_INET4_CONNECT, map_ids, &n_ids, 32);
	prog_maps(cg, BPF_CGROUP_UDP4_SENDMSG, map_ids, &n_ids, 32);
	for (uint32_t i = 0; i < n_ids; i++) {
		struct bpf_map_info mi = {0};
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);
		bool kept = false;

		if (fd < 0)
			continue;
		for (size_t k = 0; bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && k < N_REUSED;
		     k++) {
			const struct bpf_map *m = bpf_object__find_map_by_name(obj, reused_maps[k]);

			if (!m || strcmp(mi.name, reused_maps[k]) || fds[k] >= 0)
				continue;
			if (mi.type != bpf_map__type(m) || mi.key_size != bpf_map__key_size(m) ||
			    mi.value_size != bpf_map__value_size(m) ||
			    mi.max_entries != bpf_map__max_entries(m) ||
			    mi.map_flags != bpf_map__map_flags(m))
				break;
			fds[k] = fd;
			kept = true;
			found++;
			break;
		}
		if (!kept)
			close(fd);
	}
	if (found == (int)N_REUSED)
		return true;
	for (size_t i = 0; i < N_REUSED; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return false;
}

/* Attaches prog to cg in place of an earlier weft program of the same hook there (a restarted
 * agent's: replaced atomically, so no connection meets neither), beside anyone else's. */
static int attach(int cg, struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_prog_attach_opts, o, .flags = BPF_F_ALLOW_MULTI);
	enum bpf_attach_type type = bpf_program__expected_attach_type(prog);
	int fds[64], n = our_progs(cg, type, fds, 64), r;

	for (int i = 1; i < n; i++) {
		bpf_prog_detach2(fds[i], cg, type); /* a duplicate: only one may rewrite */
		close(fds[i]);
	}
	if (n) {
		o.flags |= BPF_F_REPLACE;
		o.replace_prog_fd = fds[0];
	}
	r = bpf_prog_attach_opts(bpf_program__fd(prog), cg, type, &o);
	if (n)
		close(fds[0]);
	return r < 0 ? -errno : 0;
}

int wf_socklb_open(const char *cgroup, struct wf_socklb **ret, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "weft_socklb");
	struct wf_socklb *s = NULL;
	struct slb_bpf *b;
	int cg, r, fds[N_REUSED];
	bool reused = false;

	wf_bpf_log_begin();
	cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg == -1) {
		r = -errno;
		snprintf(err, errlen, "opening cgroup %s: %s", cgroup, strerror(-r));
		return r;
	}
	b = wf_calloc(1, sizeof(*b));
	if (!b) {
		close(cg);
		return -ENOMEM;
	}
	b->obj = bpf_object__open_mem(wf_proxy_socklb_obj, wf_proxy_socklb_obj_len, &oo);
	if (!b->obj) {
		r = -errno;
		snprintf(err, errlen, "opening the eBPF object: %s", strerror(-r));
		goto fail;
	}
	/* an earlier agent's programs there: the new ones share their maps, so connections stay
	 * balanced (with what those maps hold) until our first sync brings them up to date */
	reused = find_maps(cg, b->obj, fds);
	r = 0;
	for (size_t i = 0; reused && !r && i < N_REUSED; i++)
		r = bpf_map__reuse_fd(bpf_object__find_map_by_name(b->obj, reused_maps[i]), fds[i]);
	for (size_t i = 0; reused && i < N_REUSED; i++)
		close(fds[i]); /* reuse_fd took a duplicate */
	if (r < 0) {
		/* some maps shared, some not: nothing to load */
		snprintf(err, errlen, "reusing the maps of the programs attached to %s: %s", cgroup,
			 strerror(-r));
		goto fail;
	}
	r = wf_bpf_object_load(b->obj, err, errlen);
	if (r < 0)
		goto fail;
	for (int i = 0; i < WF_SOCKLB_MAP_MAX; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(b->obj, map_names[i]);

		b->fd[i] = m ? bpf_map__fd(m) : -1;
		if (b->fd[i] < 0) {
			snprintf(err, errlen, "the eBPF object lacks map %s", map_names[i]);
			r = -EOPNOTSUPP;
			goto fail;
		}
	}
	/* the rewriting stays off (the config map's zero) until the first full sync */
	for (size_t i = 0; i < N_PROGS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(b->obj, prog_names[i]);

		if (!p) {
			snprintf(err, errlen, "the eBPF object lacks program %s", prog_names[i]);
			r = -EOPNOTSUPP;
			goto fail;
		}
		/* attached for good, as the nft table stays (an agent restart must not leave
		 * connections without their balancer); the next agent replaces them */
		r = attach(cg, p);
		if (r < 0) {
			snprintf(err, errlen, "attaching %s to %s: %s", prog_names[i], cgroup,
				 strerror(-r));
			goto fail;
		}
	}
	close(cg);
	cg = -1;
	r = wf_socklb_new(&kernel_ops, b, reused, &s);
	if (r < 0)
		goto fail;
	s->bpf = b;
	s->attached = true;
	*ret = s;
	return 0;
fail:
	if (cg >= 0)
		close(cg);
	bpf_close(b);
	return r;
}

#else /* !WF_HAVE_BPF */

static void bpf_close(void *p)
{
}

int wf_socklb_open(const char *cgroup, struct wf_socklb **ret, char *err, size_t errlen)
{
	snprintf(err, errlen, "weft was built without eBPF (clang or libbpf missing)");
	return -EOPNOTSUPP;
}

#endif
