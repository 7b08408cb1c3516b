/* Live zone updates: the owner-name index and incremental versions (see dns/live.h). */
#include "dns/live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/view.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/arena.h"
#include "lib/hash.h"

/* One owner name the index knows. It exists in the zone (present) while a Service contributes
 * records to it, a name directly below it exists, or a Namespace/Service pins it. */
struct owner {
	char **contrib; /* contributing Services' keys ("<ns>\0<name>"), in that order */
	char *contrib1; /* the array while it holds one (all but shared PTR names) */
	uint32_t n_contrib, cap_contrib;
	uint32_t children;
	uint32_t pins;
	bool present;
	bool was_present; /* before this update (valid while dirty) */
	bool dirty;
	bool recs_changed; /* its contributors changed in this update */
	bool pod_ns;
	bool root; /* an apex, svc.<zone> or pod.<zone>: never written, never removed */
	uint8_t len;
	uint8_t name[];
};

/* A Service's records, generated for one update. */
struct gen_rec {
	const uint8_t *owner;
	uint8_t owner_len;
	struct wf_dns_zone_rec rec;
};

struct gen {
	struct gen_rec *recs;
	size_t n, cap;
	bool exists; /* the Service is in the snapshot's view (the full build's) */
};

struct wf_dns_live {
	const struct wf_dns_zone_config *cfg;
	struct wf_dns_zone *cur;	/* borrowed: the last zone returned */
	struct wf_store_snapshot *prev; /* the snapshot cur was built from (a reference) */
	struct wf_hash *owners;		/* wire name -> struct owner */
	struct wf_hash *changed;	/* keys noted since the last update -> (void *)1 */
	bool full;			/* the next update rebuilds */
	bool full_only;			/* every update rebuilds: no index */
	struct owner **dirty;
	size_t n_dirty, cap_dirty;
	/* per update */
	struct wf_arena *mem;
	struct wf_hash *gens;	  /* key -> struct gen, from snap */
	struct wf_hash *old_gens; /* key -> struct gen, from prev */
	const struct wf_store_snapshot *snap;
	uint8_t svc_sfx[WF_DNS_MAX_NAME], pod_sfx[WF_DNS_MAX_NAME];
	size_t svc_sfx_len, pod_sfx_len;
};

static void owner_free(struct owner *o)
{
	for (uint32_t i = 0; i < o->n_contrib; i++)
		wf_free(o->contrib[i]);
	if (o->contrib != &o->contrib1)
		wf_free(o->contrib);
	wf_free(o);
}

static void index_clear(struct wf_dns_live *l)
{
	size_t it = 0, kl;
	const void *k;
	void *v;

	while (wf_hash_next(l->owners, &it, &k, &kl, &v)) {
		owner_free(v);
	}
	wf_hash_clear(l->owners);
	l->n_dirty = 0;
}

int wf_dns_live_new(const struct wf_dns_zone_config *cfg, struct wf_dns_live **ret)
{
	struct wf_dns_live *l = wf_calloc(1, sizeof(*l));
	char text[600];
	int len;

	if (!l)
		return -ENOMEM;
	l->cfg = cfg;
	l->full = true;
	l->owners = wf_hash_new(1024);
	l->changed = wf_hash_new(64);
	if (!l->owners || !l->changed)
		goto oom;
	snprintf(text, sizeof(text), "svc.%s", cfg->cluster_domain);
	len = wf_dns_name_from_text(text, l->svc_sfx, true);
	if (len < 0)
		goto inval;
	wf_dns_name_lower(l->svc_sfx, (size_t)len);
	l->svc_sfx_len = (size_t)len;
	snprintf(text, sizeof(text), "pod.%s", cfg->cluster_domain);
	len = wf_dns_name_from_text(text, l->pod_sfx, true);
	if (len < 0)
		goto inval;
	wf_dns_name_lower(l->pod_sfx, (size_t)len);
	l->pod_sfx_len = (size_t)len;
	*ret = l;
	return 0;

inval:
	wf_dns_live_free(l);
	return -EINVAL;
oom:
	wf_dns_live_free(l);
	return -ENOMEM;
}

static void changed_clear(struct wf_dns_live *l)
{
	size_t it = 0;
	void *v;

	while (wf_hash_next(l->changed, &it, NULL, NULL, &v))
		wf_free(v);
	wf_hash_clear(l->changed);
}

void wf_dns_live_free(struct wf_dns_live *l)
{
	if (!l)
		return;
	if (l->owners)
		index_clear(l);
	wf_hash_free(l->owners);
	if (l->changed)
		changed_clear(l);
	wf_hash_free(l->changed);
	wf_free(l->dirty);
	wf_store_snapshot_unref(l->prev);
	wf_free(l);
}

void wf_dns_live_reset(struct wf_dns_live *l)
{
	l->full = true;
}

void wf_dns_live_set_full_only(struct wf_dns_live *l, bool on)
{
	l->full_only = on;
	l->full = true;
	if (on) {
		index_clear(l);
		wf_store_snapshot_unref(l->prev);
		l->prev = NULL;
	}
}

/* "<ns>\0<name>" into buf; returns its length or 0 when it does not fit. */
static size_t make_key(char *buf, size_t cap, const char *ns, const char *name)
{
	size_t a = strlen(ns), b = strlen(name);

	if (a + b + 2 > cap)
		return 0;
	memcpy(buf, ns, a + 1);
	memcpy(buf + a + 1, name, b + 1);
	return a + 1 + b;
}

static int note_key(struct wf_dns_live *l, const char *ns, const char *name)
{
	char key[600];
	size_t kl;

	if (!ns || !name)
		return 0;
	kl = make_key(key, sizeof(key), ns, name);
	if (!kl || wf_hash_get(l->changed, key, kl))
		return 0;
	char *copy = wf_malloc(kl + 1); /* the map borrows its keys: the value holds it */
	if (!copy)
		return -ENOMEM;
	memcpy(copy, key, kl + 1);
	if (wf_hash_put(l->changed, copy, kl, copy, NULL) < 0) {
		wf_free(copy);
		return -ENOMEM;
	}
	return 0;
}

bool wf_dns_live_note(struct wf_dns_live *l, const struct wf_store_event *ev, size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		const struct wf_k8s_object *objs[2] = {ev[i].old_obj, ev[i].new_obj};
		for (int k = 0; k < 2; k++) {
			const struct wf_k8s_object *o = objs[k];
			if (!o)
				continue;
			switch (o->kind) {
			case WF_K8S_SERVICE:
				any = true;
				if (note_key(l, o->namespace, o->name) < 0)
					l->full = true;
				break;
			case WF_K8S_ENDPOINTSLICE:
				any = true;
				if (note_key(l, o->namespace, o->endpointslice->service_name) < 0)
					l->full = true;
				break;
			case WF_K8S_NAMESPACE:
				any = true;
				l->full = true; /* pins of every name of the namespace */
				break;
			case WF_K8S_POD:
				if (l->cfg->pods == WF_DNS_PODS_VERIFIED) {
					any = true;
					l->full = true;
				}
				break;
			default:
				break;
			}
		}
	}
	return any;
}

/* ---- the index ---- */

static struct owner *owner_get(struct wf_dns_live *l, const uint8_t *name, size_t len)
{
	struct owner *o = wf_hash_get(l->owners, name, len);

	if (o)
		return o;
	o = wf_calloc(1, sizeof(*o) + len);
	if (!o)
		return NULL;
	o->len = (uint8_t)len;
	memcpy(o->name, name, len);
	if (wf_hash_put(l->owners, o->name, len, o, NULL) < 0) {
		wf_free(o);
		return NULL;
	}
	return o;
}

static int mark(struct wf_dns_live *l, struct owner *o)
{
	if (o->dirty)
		return 0;
	if (l->n_dirty == l->cap_dirty) {
		size_t cap = l->cap_dirty ? l->cap_dirty * 2 : 256;
		struct owner **d = wf_reallocarray(l->dirty, cap, sizeof(*d));
		if (!d)
			return -ENOMEM;
		l->dirty = d;
		l->cap_dirty = cap;
	}
	o->dirty = true;
	o->recs_changed = false;
	o->was_present = o->present;
	l->dirty[l->n_dirty++] = o;
	return 0;
}

static size_t key_size(const char *key)
{
	size_t a = strlen(key);
	return a + 1 + strlen(key + a + 1);
}

/* the order of wf_store_list (namespace, then name): the full build's order */
static int key_cmp(const char *a, const char *b)
{
	int r = strcmp(a, b);
	return r ? r : strcmp(a + strlen(a) + 1, b + strlen(b) + 1);
}

static int contrib_add(struct owner *o, const char *key, size_t kl)
{
	uint32_t i = 0;
	int r = 1;

	while (i < o->n_contrib && (r = key_cmp(o->contrib[i], key)) < 0)
		i++;
	if (i < o->n_contrib && r == 0)
		return 0;
	char *copy = wf_memdup(key, kl + 1);
	if (!copy)
		return -ENOMEM;
	if (o->cap_contrib == 0) {
		o->contrib = &o->contrib1;
		o->cap_contrib = 1;
	} else if (o->n_contrib == o->cap_contrib) {
		uint32_t cap = o->cap_contrib * 2;
		char **c = wf_calloc(cap, sizeof(*c));
		if (!c) {
			wf_free(copy);
			return -ENOMEM;
		}
		memcpy(c, o->contrib, o->n_contrib * sizeof(*c));
		if (o->contrib != &o->contrib1)
			wf_free(o->contrib);
		o->contrib = c;
		o->cap_contrib = cap;
	}
	memmove(o->contrib + i + 1, o->contrib + i, (o->n_contrib - i) * sizeof(*o->contrib));
	o->contrib[i] = copy;
	o->n_contrib++;
	return 0;
}

static void contrib_del(struct owner *o, const char *key)
{
	for (uint32_t i = 0; i < o->n_contrib; i++)
		if (key_cmp(o->contrib[i], key) == 0) {
			wf_free(o->contrib[i]);
			memmove(o->contrib + i, o->contrib + i + 1,
				(o->n_contrib - i - 1) * sizeof(*o->contrib));
			o->n_contrib--;
			return;
		}
}

/* Brings o's presence in line with its reasons to exist; a change moves its parent's count
 * of children (empty non-terminals, RFC 8020), up to the zone apex. */
static int settle(struct wf_dns_live *l, struct owner *o)
{
	while (o && !o->root) {
		bool want = o->n_contrib || o->children || o->pins;
		int apex;

		if (want == o->present)
			return 0;
		o->present = want;
		apex = wf_dns_zone_apex_len(l->cur, o->name, o->len);
		size_t up = 1 + (size_t)o->name[0];
		if (apex < 0 || o->len - up <= (size_t)apex)
			return 0; /* the parent is the apex (or outside): it always exists */
		struct owner *p = owner_get(l, o->name + up, o->len - up);
		if (!p || mark(l, p) < 0)
			return -ENOMEM;
		if (want)
			p->children++;
		else
			p->children--;
		o = p;
	}
	return 0;
}

static int pin(struct wf_dns_live *l, const char *ns, int delta)
{
	const uint8_t *sfx[2] = {l->svc_sfx, l->pod_sfx};
	size_t sfx_len[2] = {l->svc_sfx_len, l->pod_sfx_len};
	size_t nl = strlen(ns);
	uint8_t w[WF_DNS_MAX_NAME];

	/* as the full build: <ns>.svc.<zone>, and <ns>.pod.<zone> unless pods are disabled */
	for (int i = 0; i < 2; i++) {
		if (i == 1 && l->cfg->pods == WF_DNS_PODS_DISABLED)
			break;
		if (nl == 0 || nl > WF_DNS_MAX_LABEL || 1 + nl + sfx_len[i] > WF_DNS_MAX_NAME)
			continue;
		w[0] = (uint8_t)nl;
		memcpy(w + 1, ns, nl);
		memcpy(w + 1 + nl, sfx[i], sfx_len[i]);
		wf_dns_name_lower(w, 1 + nl + sfx_len[i]);
		struct owner *o = owner_get(l, w, 1 + nl + sfx_len[i]);
		if (!o || mark(l, o) < 0)
			return -ENOMEM;
		o->pod_ns = i == 1;
		o->pins += (uint32_t)delta;
	}
	return 0;
}

static int root(struct wf_dns_live *l, const uint8_t *name, size_t len)
{
	struct owner *o = owner_get(l, name, len);

	if (!o)
		return -ENOMEM;
	o->root = o->present = true;
	return 0;
}

/* ---- generating a Service's records ---- */

static int gen_collect(void *userdata, const uint8_t *owner, size_t len,
		       const struct wf_dns_zone_rec *rec)
{
	struct wf_dns_live *l = ((void **)userdata)[0];
	struct gen *g = ((void **)userdata)[1];

	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct gen_rec *r = wf_arena_alloc(l->mem, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		if (g->n)
			memcpy(r, g->recs, g->n * sizeof(*r));
		g->recs = r;
		g->cap = cap;
	}
	uint8_t *o = wf_arena_alloc(l->mem, len);
	uint8_t *rd = wf_arena_alloc(l->mem, rec->rdlen ? rec->rdlen : 1);
	if (!o || !rd)
		return -ENOMEM;
	memcpy(o, owner, len);
	memcpy(rd, rec->rdata, rec->rdlen);
	g->recs[g->n] = (struct gen_rec){.owner = o, .owner_len = (uint8_t)len, .rec = *rec};
	g->recs[g->n].rec.rdata = rd;
	g->n++;
	return 0;
}

static int gen_for_service(struct wf_dns_live *l, const struct wf_dns_service *s, struct gen *g)
{
	void *ud[2] = {l, g};

	return wf_dns_zone_service_records(l->cur, l->cfg, s, gen_collect, ud);
}

struct slices {
	const struct wf_k8s_object **objs;
	size_t n, cap;
};

static int slice_visit(void *userdata, const struct wf_k8s_object *obj)
{
	struct slices *s = userdata;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		const struct wf_k8s_object **o = wf_reallocarray(s->objs, cap, sizeof(*o));
		if (!o)
			return -ENOMEM;
		s->objs = o;
		s->cap = cap;
	}
	s->objs[s->n++] = obj;
	return 0;
}

static int obj_name_cmp(const void *a, const void *b)
{
	const struct wf_k8s_object *x = *(const struct wf_k8s_object *const *)a;
	const struct wf_k8s_object *y = *(const struct wf_k8s_object *const *)b;
	return strcmp(x->name, y->name);
}

/* The records of Service key in snapshot snap (cached in cache for the update). */
static int gen_get(struct wf_dns_live *l, const struct wf_store_snapshot *snap,
		   struct wf_hash *cache, const char *key, size_t key_len, struct gen **ret)
{
	struct gen *g = wf_hash_get(cache, key, key_len);
	struct slices sl = {0};
	struct wf_dns_view *v = NULL;
	const char *ns = key, *name = key + strlen(key) + 1;
	int rc;

	if (g) {
		*ret = g;
		return 0;
	}
	g = wf_arena_zalloc(l->mem, sizeof(*g));
	char *kcopy = wf_arena_alloc(l->mem, key_len + 1);
	if (!g || !kcopy)
		return -ENOMEM;
	memcpy(kcopy, key, key_len + 1);
	const struct wf_k8s_object *svc = wf_store_get(snap, WF_K8S_SERVICE, ns, name);
	if (svc) {
		rc = slice_visit(&sl, svc);
		if (rc == 0)
			rc = wf_store_endpointslices(snap, ns, name, slice_visit, &sl);
		if (rc < 0)
			goto out;
		/* the full view meets a Service's slices in name order */
		qsort(sl.objs + 1, sl.n - 1, sizeof(*sl.objs), obj_name_cmp);
		rc = wf_dns_view_new(sl.objs, sl.n, &v);
		if (rc < 0)
			goto out;
		const struct wf_dns_cluster *c = wf_dns_view_cluster(v);
		if (c->n_services == 1) {
			g->exists = true;
			rc = gen_for_service(l, &c->services[0], g);
			if (rc < 0)
				goto out;
		}
	}
	rc = wf_hash_put(cache, kcopy, key_len, g, NULL);
	if (rc == 0)
		*ret = g;
out:
	wf_dns_view_free(v);
	wf_free(sl.objs);
	return rc;
}

/* A Service's own subtree, <name>.<ns>.svc.<zone>: only that Service makes names in it, so
 * they are not indexed; they are diffed between the Service's old and new records. */
struct subtree {
	uint8_t root[WF_DNS_MAX_NAME];
	size_t len; /* 0: the name does not fit (then nothing is below it either) */
};

static void subtree_init(struct wf_dns_live *l, const char *key, struct subtree *t)
{
	const char *ns = key, *name = key + strlen(key) + 1;
	size_t nl = strlen(name), sl = strlen(ns);

	t->len = 0;
	if (!nl || !sl || nl > WF_DNS_MAX_LABEL || sl > WF_DNS_MAX_LABEL ||
	    2 + nl + sl + l->svc_sfx_len > WF_DNS_MAX_NAME)
		return;
	t->root[0] = (uint8_t)nl;
	memcpy(t->root + 1, name, nl);
	t->root[1 + nl] = (uint8_t)sl;
	memcpy(t->root + 2 + nl, ns, sl);
	memcpy(t->root + 2 + nl + sl, l->svc_sfx, l->svc_sfx_len);
	t->len = 2 + nl + sl + l->svc_sfx_len;
	wf_dns_name_lower(t->root, t->len);
}

static bool name_ci_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* Whether name is t's root or below it. */
static bool in_subtree(const struct subtree *t, const uint8_t *name, size_t len)
{
	size_t p = 0;

	if (!t->len)
		return false;
	while (p < len && len - p > t->len)
		p += 1 + (size_t)name[p];
	return p < len && len - p == t->len && name_ci_eq(name + p, t->root, t->len);
}

/* The names of one subtree: a Service's owners there and their empty non-terminals up to
 * the root, each with its records (in generation order). */
struct tnode {
	struct wf_dns_zone_rec *recs;
	size_t n, cap;
};

static int tree_add(struct wf_dns_live *l, struct wf_hash *h, const struct subtree *t,
		    const struct gen_rec *r)
{
	const uint8_t *name = r->owner;
	size_t len = r->owner_len;
	struct tnode *tn = wf_hash_get(h, name, len);

	if (!tn) {
		/* the name and every missing ancestor up to the root */
		size_t p = 0;
		for (;;) {
			struct tnode *x = wf_hash_get(h, name + p, len - p);
			if (x)
				break;
			x = wf_arena_zalloc(l->mem, sizeof(*x));
			if (!x || wf_hash_put(h, name + p, len - p, x, NULL) < 0)
				return -ENOMEM;
			if (p == 0)
				tn = x;
			if (len - p <= t->len)
				break;
			p += 1 + (size_t)name[p];
		}
	}
	if (tn->n == tn->cap) {
		size_t cap = tn->cap ? tn->cap * 2 : 4;
		struct wf_dns_zone_rec *nr = wf_arena_alloc(l->mem, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		if (tn->n)
			memcpy(nr, tn->recs, tn->n * sizeof(*nr));
		tn->recs = nr;
		tn->cap = cap;
	}
	tn->recs[tn->n++] = r->rec;
	return 0;
}

/* The subtree names of g (NULL: none) into a new map. */
static int tree_of(struct wf_dns_live *l, const struct subtree *t, const struct gen *g,
		   struct wf_hash **ret)
{
	struct wf_hash *h = wf_hash_new(16);
	int rc = 0;

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; g && i < g->n && rc == 0; i++)
		if (in_subtree(t, g->recs[i].owner, g->recs[i].owner_len))
			rc = tree_add(l, h, t, &g->recs[i]);
	if (rc < 0) {
		wf_hash_free(h);
		return rc;
	}
	*ret = h;
	return 0;
}

/* The parent of t's root (<ns>.svc.<zone>) counts the root among its children. */
static int root_child(struct wf_dns_live *l, const struct subtree *t, int delta)
{
	size_t up = 1 + (size_t)t->root[0];
	struct owner *p = owner_get(l, t->root + up, t->len - up);

	if (!p || mark(l, p) < 0)
		return -ENOMEM;
	p->children += (uint32_t)delta;
	return 0;
}

/* Writes t's names from the old records to the new ones (either NULL: none) into z. */
static int tree_write(struct wf_dns_live *l, struct wf_dns_zone *z, const struct subtree *t,
		      const struct gen *old, const struct gen *new, size_t *n_names)
{
	struct wf_hash *ot = NULL, *nt = NULL;
	size_t it = 0, kl;
	const void *k;
	void *v;
	int rc;

	rc = tree_of(l, t, old, &ot);
	if (rc == 0)
		rc = tree_of(l, t, new, &nt);
	while (rc == 0 && wf_hash_next(ot, &it, &k, &kl, &v)) {
		if (wf_hash_get(nt, k, kl))
			continue;
		rc = wf_dns_zone_del_node(z, k, kl);
		(*n_names)++;
	}
	it = 0;
	while (rc == 0 && wf_hash_next(nt, &it, &k, &kl, &v)) {
		struct tnode *tn = v, *was = wf_hash_get(ot, k, kl);
		if (!tn->n && was && !was->n)
			continue; /* an empty non-terminal before and after */
		rc = wf_dns_zone_set_node(z, k, kl, false, tn->recs, tn->n);
		(*n_names)++;
	}
	if (rc == 0) {
		bool was = wf_hash_get(ot, t->root, t->len) != NULL;
		bool is = wf_hash_get(nt, t->root, t->len) != NULL;
		if (was != is)
			rc = root_child(l, t, is ? 1 : -1);
	}
	wf_hash_free(ot);
	wf_hash_free(nt);
	return rc;
}

/* Adds Service key as contributor to the owners of g outside its subtree t, creating them. */
static int attach(struct wf_dns_live *l, const char *key, size_t kl, const struct subtree *t,
		  const struct gen *g)
{
	int rc = 0;

	for (size_t i = 0; i < g->n && rc == 0; i++) {
		if (in_subtree(t, g->recs[i].owner, g->recs[i].owner_len))
			continue;
		struct owner *o = owner_get(l, g->recs[i].owner, g->recs[i].owner_len);
		if (!o)
			return -ENOMEM;
		rc = contrib_add(o, key, kl);
		if (rc == 0)
			rc = mark(l, o);
		o->recs_changed = true;
	}
	return rc;
}

/* Removes Service key from the owners of g outside its subtree t (where it was attached). */
static int detach(struct wf_dns_live *l, const char *key, const struct subtree *t,
		  const struct gen *g)
{
	int rc = 0;

	for (size_t i = 0; i < g->n && rc == 0; i++) {
		if (in_subtree(t, g->recs[i].owner, g->recs[i].owner_len))
			continue;
		struct owner *o = wf_hash_get(l->owners, g->recs[i].owner, g->recs[i].owner_len);
		if (!o)
			return -EINVAL; /* the index and prev disagree: rebuild */
		rc = mark(l, o);
		contrib_del(o, key);
		o->recs_changed = true;
	}
	return rc;
}

/* ---- updates ---- */

static int update_begin(struct wf_dns_live *l, const struct wf_store_snapshot *snap)
{
	l->snap = snap;
	l->mem = wf_arena_new(65536, 0);
	l->gens = wf_hash_new(64);
	l->old_gens = wf_hash_new(64);
	return l->mem && l->gens && l->old_gens ? 0 : -ENOMEM;
}

static void update_end(struct wf_dns_live *l)
{
	wf_arena_free(l->mem);
	wf_hash_free(l->gens);
	wf_hash_free(l->old_gens);
	l->mem = NULL;
	l->gens = NULL;
	l->old_gens = NULL;
	l->snap = NULL;
	for (size_t i = 0; i < l->n_dirty; i++)
		l->dirty[i]->dirty = false;
	l->n_dirty = 0;
}

/* The index for a zone just built in full from view c. */
static int index_build(struct wf_dns_live *l, const struct wf_dns_cluster *c)
{
	char key[600];
	int rc = 0;

	index_clear(l);
	rc = root(l, l->svc_sfx, l->svc_sfx_len);
	if (rc == 0)
		rc = root(l, l->pod_sfx, l->pod_sfx_len);
	if (rc == 0)
		rc = root(l, l->svc_sfx + 1 + l->svc_sfx[0],
			  l->svc_sfx_len - 1 - l->svc_sfx[0]); /* the cluster apex */
	for (size_t i = 0; i < c->n_services && rc == 0; i++) {
		const struct wf_dns_service *s = &c->services[i];
		size_t kl = make_key(key, sizeof(key), s->ns, s->name);
		struct gen g = {0};
		struct subtree t;

		if (!kl)
			continue;
		wf_arena_reset(l->mem);
		subtree_init(l, key, &t);
		rc = gen_for_service(l, s, &g);
		if (rc == 0)
			rc = attach(l, key, kl, &t, &g);
		for (size_t k = 0; k < g.n && rc == 0; k++)
			if (in_subtree(&t, g.recs[k].owner, g.recs[k].owner_len)) {
				rc = root_child(l, &t, 1);
				break;
			}
		if (rc == 0)
			rc = pin(l, s->ns, 1);
	}
	for (size_t i = 0; i < c->n_namespaces && rc == 0; i++)
		rc = pin(l, c->namespaces[i], 1);
	for (size_t i = 0; i < l->n_dirty && rc == 0; i++)
		rc = settle(l, l->dirty[i]);
	return rc;
}

static int full(struct wf_dns_live *l, const struct wf_store_snapshot *snap, uint32_t serial,
		struct wf_dns_zone **ret, struct wf_dns_live_stats *st)
{
	struct wf_dns_view *v = NULL;
	struct wf_dns_zone *z = NULL;
	bool pods = l->cfg->pods == WF_DNS_PODS_VERIFIED;
	int rc;

	st->full = true;
	rc = wf_dns_view_from_snapshot(snap, pods, &v);
	if (rc < 0)
		return rc;
	rc = wf_dns_zone_build(l->cfg, wf_dns_view_cluster(v), serial, &z, &st->skipped);
	if (rc < 0)
		goto out;
	l->cur = z;
	/* pod records are not indexed: verified mode always rebuilds */
	l->full = pods || l->full_only;
	if (!l->full) {
		rc = update_begin(l, snap);
		if (rc == 0)
			rc = index_build(l, wf_dns_view_cluster(v));
		update_end(l);
		if (rc < 0) {
			index_clear(l);
			l->full = true;
			/* the zone itself is good: publish it, rebuild next time */
			rc = 0;
		}
	}
	*ret = z;
out:
	wf_dns_view_free(v);
	return rc;
}

/* Applies one changed Service (key): its own subtree straight into z, its other names
 * (shared) to the index. Its old records come from prev, its new ones from snap. */
static int apply_key(struct wf_dns_live *l, struct wf_dns_zone *z, const char *key, size_t key_len,
		     struct wf_dns_live_stats *st)
{
	struct gen *g, *old;
	struct subtree t;
	int rc = gen_get(l, l->snap, l->gens, key, key_len, &g);

	if (rc == 0)
		rc = gen_get(l, l->prev, l->old_gens, key, key_len, &old);
	if (rc < 0)
		return rc;
	if (!old->exists && !g->exists)
		return 0;
	st->services++;
	subtree_init(l, key, &t);
	if (old->exists) {
		rc = detach(l, key, &t, old);
		if (rc < 0)
			return rc;
	}
	rc = tree_write(l, z, &t, old->exists ? old : NULL, g->exists ? g : NULL, &st->names);
	if (rc == 0 && old->exists != g->exists)
		rc = pin(l, key, g->exists ? 1 : -1);
	if (rc == 0 && g->exists)
		rc = attach(l, key, key_len, &t, g);
	return rc;
}

/* Writes one dirty owner into z. */
static int render(struct wf_dns_live *l, struct wf_dns_zone *z, struct owner *o)
{
	struct wf_dns_zone_rec stack[32], *recs = stack;
	size_t n = 0, cap = 32;
	int rc = 0;

	if (o->root)
		return 0;
	if (!o->present)
		return o->was_present ? wf_dns_zone_del_node(z, o->name, o->len) : 0;
	if (o->was_present && !o->recs_changed)
		return 0; /* its records did not change: only its children or pins did */
	for (uint32_t i = 0; i < o->n_contrib && rc == 0; i++) {
		const char *key = o->contrib[i];
		struct gen *g;
		rc = gen_get(l, l->snap, l->gens, key, key_size(key), &g);
		for (size_t k = 0; k < (rc == 0 ? g->n : 0); k++) {
			if (g->recs[k].owner_len != o->len ||
			    memcmp(g->recs[k].owner, o->name, o->len) != 0)
				continue;
			if (n == cap) {
				struct wf_dns_zone_rec *r =
					wf_arena_alloc(l->mem, 2 * cap * sizeof(*r));
				if (!r) {
					rc = -ENOMEM;
					break;
				}
				memcpy(r, recs, n * sizeof(*r));
				recs = r;
				cap *= 2;
			}
			recs[n++] = g->recs[k].rec;
		}
	}
	if (rc == 0)
		rc = wf_dns_zone_set_node(z, o->name, o->len, o->pod_ns, recs, n);
	return rc;
}

static int incremental(struct wf_dns_live *l, uint32_t serial, struct wf_dns_zone **ret,
		       struct wf_dns_live_stats *st)
{
	struct wf_dns_zone *z = NULL;
	size_t it = 0, kl;
	const void *k;
	void *v;
	int rc;

	rc = wf_dns_zone_derive(l->cur, serial, &z);
	while (rc == 0 && wf_hash_next(l->changed, &it, &k, &kl, &v))
		rc = apply_key(l, z, k, kl, st);
	for (size_t i = 0; i < l->n_dirty && rc == 0; i++)
		rc = settle(l, l->dirty[i]);
	for (size_t i = 0; i < l->n_dirty && rc == 0; i++)
		rc = render(l, z, l->dirty[i]);
	if (rc < 0) {
		wf_dns_zone_free(z);
		return rc;
	}
	st->names += l->n_dirty;
	/* owners with no reason left to exist leave the index */
	for (size_t i = 0; i < l->n_dirty; i++) {
		struct owner *o = l->dirty[i];
		if (!o->present && !o->root && !o->n_contrib && !o->children && !o->pins) {
			wf_hash_del(l->owners, o->name, o->len);
			owner_free(o);
			l->dirty[i] = NULL;
		}
	}
	{
		size_t w = 0;
		for (size_t i = 0; i < l->n_dirty; i++)
			if (l->dirty[i])
				l->dirty[w++] = l->dirty[i];
		l->n_dirty = w;
	}
	l->cur = z;
	*ret = z;
	return 0;
}

int wf_dns_live_update(struct wf_dns_live *l, const struct wf_store_snapshot *snap, uint32_t serial,
		       struct wf_dns_zone **ret, struct wf_dns_live_stats *ret_stats)
{
	struct wf_dns_live_stats st = {0};
	int rc;

	/* replaced nodes stay allocated while older versions may hold them; a full build
	 * compacts once they outweigh half of what it built */
	if (l->cur && 2 * wf_dns_zone_heap_bytes(l->cur) > wf_dns_zone_base_bytes(l->cur))
		l->full = true;
	if (!l->full && l->cur && l->prev) {
		rc = update_begin(l, snap);
		if (rc == 0)
			rc = incremental(l, serial, ret, &st);
		update_end(l);
		if (rc == 0)
			goto done;
		/* the index may be half updated: start again from the snapshot */
		index_clear(l);
		st = (struct wf_dns_live_stats){0};
	}
	rc = full(l, snap, serial, ret, &st);
	if (rc < 0) {
		l->full = true;
		wf_store_snapshot_unref(l->prev);
		l->prev = NULL;
		return rc;
	}
done:
	/* the next update regenerates the changed Services' old records from this snapshot */
	wf_store_snapshot_unref(l->prev);
	l->prev = l->full_only ? NULL : wf_store_snapshot_ref(snap);
	changed_clear(l);
	if (ret_stats)
		*ret_stats = st;
	return 0;
}
