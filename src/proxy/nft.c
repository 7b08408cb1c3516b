/* The nftables backend (proxy.h wf_proxy_nft_ops).
 *
 * The table is fixed rules over sets and maps (nft-plan.h). Two layers reach the kernel:
 * - the table block (sets, maps, rules, the node's addresses; render.c) by libnftables, only
 *   when it is missing or differs from what this model needs (nft-block.c, nft-rules.c).
 * - the elements by libnftnl batches, split into transactions of at most 20,000 elements at
 *   service-key boundaries (nft-nl.c: each key's elements go in one transaction, so every key
 *   is complete or absent in between). Endpoint changes are element deltas: the kernel
 *   validates nothing and walks nothing for them.
 * A full reconcile (first sync, restart, after a failure) dumps the installed elements and
 * sends only the difference (nft-ops.c): nothing is flushed, established connections keep
 * their conntrack entries, and affinity clients stay unless their endpoint went away
 * (nft-aff.c). This file holds the backend proper: its state and lifetime, the full
 * reconcile, the deltas, the hairpin refcounts and the ops table. */
#include "proxy/proxy.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "lib/ip.h"
#include "proxy/ct.h"
#include "proxy/model.h"
#include "proxy/nft-internal.h"

/* ---- hairpin refcounts ---- */

/* The hairpin set holds every endpoint address once, whatever the number of services that
 * include it: a refcount per address tells when an element appears or goes. */
struct hp {
	struct wf_ip ip; /* the key */
	size_t n;	 /* services whose endpoints include ip */
};

static void hairpin_clear(struct nft_state *st)
{
	struct hp *h;

	for (size_t it = 0; wf_hash_next(st->hairpin, &it, NULL, NULL, (void **)&h);)
		wf_free(h);
	wf_hash_clear(st->hairpin);
}

/* Adjusts the hairpin refcounts by one service's endpoints (delta +1 or -1); the hairpin
 * elements that appear or go are appended to out (NULL: none wanted). */
static int hairpin_adjust(struct nft_state *st, const struct wf_proxy_svc *s, int delta,
			  struct nft_ops *out)
{
	int r = 0;

	if (!s)
		return 0;
	for (int l = 0; !r && l < 2; l++) {
		const struct wf_proxy_endpoint *e = l ? s->local_eps : s->eps;
		size_t k = l ? s->n_local_eps : s->n_eps;

		for (size_t i = 0; !r && i < k; i++) {
			struct hp *h = wf_hash_get(st->hairpin, &e[i].ip, sizeof(e[i].ip));
			struct wf_proxy_el el = {.set = WF_PROXY_SET_HAIRPIN,
						 .family = e[i].ip.family,
						 .addr = e[i].ip};
			struct nft_el_ctx c = {out, NFT_OP_ADD};
			bool dup = false;

			/* An address twice in one service (two ports; cluster and local
			 * lists) counts once. */
			for (int l2 = 0; l2 <= l && !dup; l2++) {
				const struct wf_proxy_endpoint *e2 = l2 ? s->local_eps : s->eps;
				size_t k2 = l2 == l ? i : s->n_eps;

				for (size_t j = 0; j < k2 && !dup; j++)
					dup = wf_ip_equal(&e2[j].ip, &e[i].ip);
			}
			if (dup)
				continue;
			if (delta > 0) {
				if (!h) {
					h = wf_calloc(1, sizeof(*h));
					if (!h)
						return -ENOMEM;
					h->ip = e[i].ip;
					r = wf_hash_put(st->hairpin, &h->ip, sizeof(h->ip), h,
							NULL);
					if (r < 0) {
						wf_free(h);
						return r;
					}
					if (out)
						r = nft_el_to_op(&c, &el);
				}
				h->n++;
			} else if (h && --h->n == 0) {
				wf_hash_del(st->hairpin, &h->ip, sizeof(h->ip));
				wf_free(h);
				c.kind = NFT_OP_DEL;
				if (out)
					r = nft_el_to_op(&c, &el);
			}
		}
	}
	return r;
}

/* ---- full reconcile ---- */

/* Makes the kernel's table m's: the block (nft-block.c), then a dump of every planned set
 * (none after a fresh block), the diff against the plan, the stale affinity clients, all sent
 * by one nft_nl_send_ops; the hairpin refcounts are recounted from m. */
static int reconcile(struct nft_state *st, const struct wf_proxy_model *m)
{
	struct wf_hash *names = wf_hash_new(512);
	struct nft_ops have = {0}, want = {0}, out = {0};
	struct nft_el_ctx c = {&want, NFT_OP_ADD};
	struct nft_affkeys a = {0};
	struct wf_buf block;
	char tag[NFT_TAG_MAX], **owned = NULL, maps[6][16];
	size_t n_owned = 0, n_maps, cap = 0;
	bool fresh, changed;
	int r;

	wf_buf_init(&block, NFT_TEXT_CAP);
	r = names ? nft_block_ensure(st, m, &fresh, &changed) : -ENOMEM;
	if (!r)
		r = nft_block_text(m, &block, tag, sizeof(tag));
	if (!r)
		r = nft_block_declared((const char *)wf_buf_data(&block), names, &owned, &n_owned);
	for (size_t i = 0; !r && !fresh && i < n_owned; i++)
		if ((uintptr_t)wf_hash_gets(names, owned[i]) != 1 &&
		    wf_proxy_plan_owns_set(owned[i]))
			r = nft_nl_dump_set(&st->nl, owned[i], &have, NFT_OP_DEL);
	if (!r)
		r = wf_proxy_plan_all(m, nft_el_to_op, &c);
	if (!r)
		r = nft_ops_diff(&have, &want, &out);
	/* Affinity clients of endpoints that went while no agent was watching. */
	for (size_t i = 0; i < m->n_svcs; i++)
		if (m->svcs[i].affinity_timeout)
			cap += nft_affkeys_count(m, &m->svcs[i]);
	n_maps = nft_aff_maps(m, maps);
	if (!r && !fresh && n_maps) {
		r = nft_affkeys_init(&a, cap);
		if (!r) {
			wf_hash_free(a.scope);
			a.scope = NULL;
		}
		for (size_t i = 0; !r && i < m->n_svcs; i++)
			if (m->svcs[i].affinity_timeout)
				r = nft_affkeys_svc(&a, m, &m->svcs[i], false);
		if (!r)
			r = nft_aff_stale(&st->nl, &a, maps, n_maps, &out);
	}
	if (!r)
		r = nft_nl_send_ops(&st->nl, &out);
	if (!r) {
		hairpin_clear(st);
		for (size_t i = 0; !r && i < m->n_svcs; i++)
			r = hairpin_adjust(st, &m->svcs[i], +1, NULL);
	}
	if (r < 0)
		st->tag[0] = 0; /* re-read next time */
	nft_affkeys_done(&a);
	nft_names_free(owned, n_owned);
	wf_hash_free(names);
	wf_free(have.v);
	wf_free(want.v);
	wf_free(out.v);
	wf_buf_done(&block);
	return r;
}

static int nft_full(void *state, const struct wf_proxy_model *m)
{
	struct nft_state *st = state;
	uint64_t t0 = wf_now_ns();
	int r;

	st->err[0] = 0;
	st->stats.max_tx_ns = 0;
	r = reconcile(st, m);
	if (!r)
		st->stats.full_loads++;
	st->stats.last_apply_ns = wf_now_ns() - t0;
	return r;
}

/* ---- deltas ---- */

/* wf_proxy_svc_eps_equal, inlined for the merge-walk: every delta compares every endpoint of
 * every service, and at 60k endpoints the calls were most of a delta's time. */
static bool eps_same(const struct wf_proxy_endpoint *a, const struct wf_proxy_endpoint *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x[2], y[2];

		memcpy(x, a[i].ip.addr, 16);
		memcpy(y, b[i].ip.addr, 16);
		if (((x[0] ^ y[0]) | (x[1] ^ y[1])) || a[i].ip.family != b[i].ip.family ||
		    a[i].port != b[i].port || a[i].local != b[i].local)
			return false;
	}
	return true;
}

static bool svc_same(const struct wf_proxy_svc *o, const struct wf_proxy_svc *n)
{
	return o->n_eps == n->n_eps && o->n_local_eps == n->n_local_eps &&
	       o->n_local_ready == n->n_local_ready && eps_same(o->eps, n->eps, n->n_eps) &&
	       eps_same(o->local_eps, n->local_eps, n->n_local_eps) &&
	       wf_proxy_svc_shape_equal(o, n);
}

/* The changed services of one delta, as old/new pairs: either a merge-walk of two sorted models
 * (nft_delta), or a list of changes against one model (nft_changes, where om == nm). The old
 * entry is planned against om and the new one against nm. */
struct svc_pairs {
	const struct wf_proxy_model *om, *nm;
	const struct wf_proxy_svc_change *ch; /* NULL: merge-walk om and nm */
	size_t n_ch;
	size_t i, j;
};

static bool svc_pairs_next(struct svc_pairs *p, const struct wf_proxy_svc **ro,
			   const struct wf_proxy_svc **rn)
{
	if (p->ch) {
		if (p->i == p->n_ch)
			return false;
		*ro = p->ch[p->i].has_old ? &p->ch[p->i].old : NULL;
		*rn = p->ch[p->i].has_new ? &p->ch[p->i].new : NULL;
		p->i++;
		return true;
	}
	while (p->i < p->om->n_svcs || p->j < p->nm->n_svcs) {
		const struct wf_proxy_svc *o = NULL, *n = NULL;
		int c = p->i == p->om->n_svcs ? 1
			: p->j == p->nm->n_svcs
				? -1
				: wf_proxy_svc_cmp(&p->om->svcs[p->i], &p->nm->svcs[p->j]);

		if (c <= 0)
			o = &p->om->svcs[p->i++];
		if (c >= 0)
			n = &p->nm->svcs[p->j++];
		if (o && n && svc_same(o, n))
			continue;
		*ro = o;
		*rn = n;
		return true;
	}
	return false;
}

static void svc_pairs_rewind(struct svc_pairs *p)
{
	p->i = 0;
	p->j = 0;
}

/* The elements of every changed pair, old side out and new side in, the hairpin addresses that
 * appear or go, and the affinity clients whose endpoint went away: sent as one batch. */
static int apply_pairs(struct nft_state *st, struct svc_pairs *p)
{
	struct nft_ops have = {0}, want = {0}, out = {0};
	struct nft_el_ctx cd = {&have, NFT_OP_DEL}, ca = {&want, NFT_OP_ADD};
	struct nft_affkeys a = {0};
	const struct wf_proxy_svc *o, *n;
	char maps[6][16];
	size_t n_maps, cap = 0;
	bool aff = false;
	int r = 0;

	while (!r && svc_pairs_next(p, &o, &n)) {
		if (o)
			r = wf_proxy_svc_plan(p->om, o, nft_el_to_op, &cd);
		if (!r && n)
			r = wf_proxy_svc_plan(p->nm, n, nft_el_to_op, &ca);
		if (!r)
			r = hairpin_adjust(st, o, -1, &have);
		if (!r)
			r = hairpin_adjust(st, n, +1, &want);
		if (o && o->affinity_timeout) {
			aff = true;
			cap += nft_affkeys_count(p->om, o) + (n ? nft_affkeys_count(p->nm, n) : 0);
		}
	}
	if (!r)
		r = nft_ops_diff(&have, &want, &out);
	n_maps = nft_aff_maps(p->om, maps);
	if (!r && aff && n_maps) {
		/* Clients of the changed affinity services whose endpoint went away. */
		r = nft_affkeys_init(&a, cap);
		svc_pairs_rewind(p);
		while (!r && svc_pairs_next(p, &o, &n)) {
			if (!o || !o->affinity_timeout)
				continue;
			r = nft_affkeys_svc(&a, p->om, o, true);
			if (!r && n && n->affinity_timeout)
				r = nft_affkeys_svc(&a, p->nm, n, false);
		}
		if (!r)
			r = nft_aff_stale(&st->nl, &a, maps, n_maps, &out);
	}
	if (!r)
		r = nft_nl_send_ops(&st->nl, &out);
	nft_affkeys_done(&a);
	wf_free(have.v);
	wf_free(want.v);
	wf_free(out.v);
	return r;
}

static int apply_delta(struct nft_state *st, struct svc_pairs *p)
{
	uint64_t t0 = wf_now_ns(), inputs = nft_block_inputs(p->nm);
	int r;

	st->err[0] = 0;
	st->stats.max_tx_ns = 0;
	r = nft_block_differs(st, p->nm, inputs);
	if (r > 0) {
		/* More classes, a new affinity timeout, other node addresses: the rules change,
		 * and the elements are reconciled against a dump. */
		r = reconcile(st, p->nm);
		if (!r)
			st->stats.nl_deltas++;
		goto out;
	}
	/* The installed block is what these inputs render (checked just now): the next delta
	 * with the same inputs need not render it again. */
	if (!r)
		st->inputs = inputs;
	if (!r)
		r = apply_pairs(st, p);
	if (!r)
		st->stats.nl_deltas++;
	else
		st->tag[0] = 0;
out:
	st->stats.last_apply_ns = wf_now_ns() - t0;
	return r;
}

/* The delta of two models: a merge-walk of their sorted services. */
static int nft_delta(void *state, const struct wf_proxy_model *om, const struct wf_proxy_model *nm)
{
	struct svc_pairs p = {.om = om, .nm = nm};

	return apply_delta(state, &p);
}

/* The delta of an update in place (wf_proxy_sync_update): the changed service ports come as
 * old/new pairs, so nothing walks the model - the cost is the change's, at any model size.
 * Node addresses and cluster CIDRs did not change (else the model was rebuilt): the old
 * entry's elements are planned against the same model. */
static int nft_changes(void *state, const struct wf_proxy_model *m,
		       const struct wf_proxy_svc_change *ch, size_t n)
{
	struct svc_pairs p = {.om = m, .nm = m, .ch = ch, .n_ch = n};

	return apply_delta(state, &p);
}

/* ---- lifetime ---- */

static void nft_done(void *state)
{
	struct nft_state *st = state;

	if (!st)
		return;
	if (st->hairpin) {
		hairpin_clear(st);
		wf_hash_free(st->hairpin);
	}
	nft_nl_done(&st->nl);
	if (st->nft)
		nft_ctx_free(st->nft);
	wf_free(st);
}

static int nft_init(void **ret)
{
	struct nft_state *st = wf_calloc(1, sizeof(*st));
	int r = -ENOMEM;

	if (!st)
		return -ENOMEM;
	st->hairpin = wf_hash_new(256);
	if (!st->hairpin)
		goto err;
	st->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!st->nft)
		goto err;
	if (nft_ctx_buffer_error(st->nft) || nft_ctx_buffer_output(st->nft))
		goto err;
	r = nft_nl_init(&st->nl, st->err, sizeof(st->err), &st->stats);
	if (r < 0)
		goto err;
	*ret = st;
	return 0;
err:
	nft_done(st);
	return r;
}

static int nft_ct_flush(void *state, const struct wf_proxy_ct_filter *f, size_t n)
{
	struct nft_state *st = state;
	int r = wf_proxy_ct_delete(f, n);

	if (r < 0) {
		snprintf(st->err, sizeof(st->err), "conntrack cleanup: %s", wf_strerror(r));
		return r;
	}
	st->stats.ct_deleted += (unsigned long)r;
	return 0;
}

static const struct wf_proxy_stats *nft_stats(void *state)
{
	return &((struct nft_state *)state)->stats;
}

static const char *nft_error(void *state)
{
	return ((struct nft_state *)state)->err;
}

const struct wf_proxy_ops wf_proxy_nft_ops = {
	.name = "nft",
	.init = nft_init,
	.apply_full = nft_full,
	.apply_delta = nft_delta,
	.apply_changes = nft_changes,
	.ct_flush = nft_ct_flush,
	.stats = nft_stats,
	.error = nft_error,
	.done = nft_done,
};
