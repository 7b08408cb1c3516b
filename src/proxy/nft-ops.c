/* The nft backend's element operations (nft-internal.h): one element to add or delete as a
 * flat id (set name, key, key end, data) that hashes and compares as bytes, and the diff of
 * two lists of them - what a full reconcile or a delta sends. No kernel access here. */
#include <errno.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/hash.h"
#include "proxy/nft-internal.h"

struct nft_op *nft_ops_push(struct nft_ops *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct nft_op *v = wf_reallocarray(l->v, cap, sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, offsetof(struct nft_op, id));
	return &l->v[l->n++];
}

/* The group of an element: its set's family and protocol suffix ("tcp4") and the first
 * field(s) of its key, address . port (the address alone for hairpin). */
static uint64_t group_of(const char *set, const uint8_t *key, size_t klen)
{
	const char *dash = strrchr(set, '-');
	const char *sfx = dash ? dash + 1 : set;
	size_t al = set[strlen(set) - 1] == '6' ? 16 : 4;
	size_t gl = dash ? al + 4 : al;

	return wf_hash_seeded(key, gl < klen ? gl : klen, wf_hash_seeded(sfx, strlen(sfx), 1));
}

int nft_op_fill(struct nft_op *o, const char *set, const uint8_t *key, size_t klen,
		const uint8_t *end, size_t endlen, const uint8_t *data, size_t dlen, int kind)
{
	size_t sl = strlen(set) + 1;

	if (sl > WF_PROXY_NAME_MAX || klen > WF_PROXY_KEY_MAX || endlen > WF_PROXY_KEY_MAX ||
	    dlen > WF_PROXY_KEY_MAX)
		return -EINVAL;
	memcpy(o->id, set, sl);
	memcpy(o->id + sl, key, klen);
	if (endlen)
		memcpy(o->id + sl + klen, end, endlen);
	if (dlen)
		memcpy(o->id + sl + klen + endlen, data, dlen);
	o->klen = (uint8_t)klen;
	o->endlen = (uint8_t)endlen;
	o->dlen = (uint8_t)dlen;
	o->idlen = (uint16_t)(sl + klen + endlen + dlen);
	o->kind = (uint8_t)kind;
	o->grp = group_of(set, key, klen);
	return 0;
}

int nft_el_to_op(void *ud, const struct wf_proxy_el *e)
{
	struct nft_el_ctx *c = ud;
	uint8_t key[WF_PROXY_KEY_MAX], end[WF_PROXY_KEY_MAX], data[WF_PROXY_KEY_MAX];
	char set[WF_PROXY_NAME_MAX];
	struct nft_op *o = nft_ops_push(c->ops);
	size_t kl, dl;

	if (!o)
		return -ENOMEM;
	kl = wf_proxy_el_key(e, key, end);
	dl = wf_proxy_el_data(e, data);
	return nft_op_fill(o, wf_proxy_el_set_name(e, set), key, kl, end,
			   e->set == WF_PROXY_SET_FWALLOW ? kl : 0, data, dl, c->kind);
}

int nft_ops_diff(struct nft_ops *have, struct nft_ops *want, struct nft_ops *out)
{
	struct wf_hash *h = wf_hash_new(have->n + 1);
	int r = 0;

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; !r && i < have->n; i++) {
		have->v[i].keep = false;
		r = wf_hash_put(h, have->v[i].id, have->v[i].idlen, &have->v[i], NULL);
	}
	for (size_t i = 0; !r && i < want->n; i++) {
		struct nft_op *o = wf_hash_get(h, want->v[i].id, want->v[i].idlen);
		struct nft_op *n;

		if (o && o->keep)
			continue; /* twice in want */
		if (o) {
			o->keep = true;
			continue;
		}
		/* A duplicate within want: added once. */
		want->v[i].keep = true;
		r = wf_hash_put(h, want->v[i].id, want->v[i].idlen, &want->v[i], NULL);
		n = r ? NULL : nft_ops_push(out);
		if (!r && !n)
			r = -ENOMEM;
		if (!r) {
			*n = want->v[i];
			n->kind = NFT_OP_ADD;
		}
	}
	for (size_t i = 0; !r && i < have->n; i++) {
		struct nft_op *n;

		if (have->v[i].keep)
			continue;
		n = nft_ops_push(out);
		if (!n) {
			r = -ENOMEM;
			break;
		}
		*n = have->v[i];
		n->kind = n->kind == NFT_OP_DESTROY ? NFT_OP_DESTROY : NFT_OP_DEL;
	}
	wf_hash_free(h);
	return r;
}
