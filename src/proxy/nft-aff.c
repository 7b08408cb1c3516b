/* Affinity clients of the nft backend (nft-internal.h): the entries of the dynamic maps
 * aff-<proto><family> ("client . VIP . port : endpoint . port", added by the rules as clients
 * connect) whose endpoint is no longer one of their service's. The backend deletes them with
 * the elements of a reconcile or a delta, so that a client is not sent to a gone endpoint until
 * its entry expires. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/hash.h"
#include "proxy/nft-internal.h"

/* A (VIP, port, endpoint, port) tuple into out; its length. */
static size_t tuple(uint8_t *out, const uint8_t *vip_port, size_t vl, const uint8_t *ep, size_t el)
{
	memcpy(out, vip_port, vl);
	memcpy(out + vl, ep, el);
	return vl + el;
}

static int affkeys_put(struct nft_affkeys *a, struct wf_hash *h, const uint8_t *b, size_t len)
{
	if (a->n == a->cap) {
		/* Keys are borrowed by the hash: they live in chunks that never move. */
		return -ENOSPC;
	}
	memcpy(a->mem[a->n], b, len);
	return wf_hash_put(h, a->mem[a->n++], len, (void *)1, NULL);
}

int nft_affkeys_svc(struct nft_affkeys *a, const struct wf_proxy_model *m,
		    const struct wf_proxy_svc *s, bool scope)
{
	size_t al = s->family == AF_INET6 ? 16 : 4;
	uint8_t vp[WF_PROXY_KEY_MAX], ep[WF_PROXY_KEY_MAX], t[2 * WF_PROXY_KEY_MAX];
	int r = 0;

	for (size_t v = 0; !r && v < s->n_vips + m->n_node_ips; v++) {
		const struct wf_ip *ip;
		uint16_t port;

		if (v < s->n_vips) {
			ip = &s->vips[v].ip;
			port = s->port;
		} else {
			ip = &m->node_ips[v - s->n_vips];
			port = s->node_port;
			if (!port || ip->family != s->family)
				continue;
		}
		memcpy(vp, ip->addr, al);
		vp[al] = (uint8_t)(port >> 8);
		vp[al + 1] = (uint8_t)port;
		vp[al + 2] = vp[al + 3] = 0;
		if (scope) {
			r = affkeys_put(a, a->scope, vp, al + 4);
			continue;
		}
		for (int l = 0; !r && l < 2; l++) {
			const struct wf_proxy_endpoint *e = l ? s->local_eps : s->eps;
			size_t n = l ? s->n_local_eps : s->n_eps;

			for (size_t i = 0; !r && i < n; i++) {
				memcpy(ep, e[i].ip.addr, al);
				ep[al] = (uint8_t)(e[i].port >> 8);
				ep[al + 1] = (uint8_t)e[i].port;
				ep[al + 2] = ep[al + 3] = 0;
				r = affkeys_put(a, a->valid, t, tuple(t, vp, al + 4, ep, al + 4));
			}
		}
	}
	return r;
}

size_t nft_affkeys_count(const struct wf_proxy_model *m, const struct wf_proxy_svc *s)
{
	return (s->n_vips + m->n_node_ips) * (1 + s->n_eps + s->n_local_eps);
}

int nft_aff_stale(struct nft_nl *nl, const struct nft_affkeys *a, char (*maps)[16], size_t n_maps,
		  struct nft_ops *out)
{
	struct nft_ops all = {0};
	int r = 0;

	for (size_t i = 0; !r && i < n_maps; i++) {
		size_t al = maps[i][strlen(maps[i]) - 1] == '6' ? 16 : 4;
		size_t from = all.n;

		r = nft_nl_dump_set(nl, maps[i], &all, NFT_OP_DESTROY);
		for (size_t j = from; !r && j < all.n; j++) {
			const struct nft_op *o = &all.v[j];
			const uint8_t *k = nft_op_key(o);
			uint8_t t[2 * WF_PROXY_KEY_MAX];
			struct nft_op *d;

			if (o->klen != 2 * al + 4 || o->dlen != al + 4)
				continue;
			/* key: client . VIP . port; data: endpoint . port */
			if (a->scope && !wf_hash_get(a->scope, k + al, al + 4))
				continue;
			if (wf_hash_get(a->valid, t, tuple(t, k + al, al + 4, k + o->klen, al + 4)))
				continue;
			d = nft_ops_push(out);
			if (!d) {
				r = -ENOMEM;
				break;
			}
			*d = *o;
			d->dlen = 0; /* a delete names the key only */
			d->idlen = (uint16_t)(d->idlen - o->dlen);
		}
	}
	wf_free(all.v);
	return r;
}

void nft_affkeys_done(struct nft_affkeys *a)
{
	wf_hash_free(a->valid);
	wf_hash_free(a->scope);
	wf_free(a->mem);
}

int nft_affkeys_init(struct nft_affkeys *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->valid = wf_hash_new(cap);
	a->scope = wf_hash_new(16);
	a->mem = wf_reallocarray(NULL, cap ? cap : 1, sizeof(*a->mem));
	a->cap = cap;
	return a->valid && a->scope && a->mem ? 0 : -ENOMEM;
}

size_t nft_aff_maps(const struct wf_proxy_model *m, char (*names)[16])
{
	static const char *const sfx[] = {"tcp4", "udp4", "sctp4", "tcp6", "udp6", "sctp6"};
	uint32_t t;

	if (!wf_proxy_plan_timeouts(m, &t, 1))
		return 0;
	for (size_t i = 0; i < 6; i++)
		snprintf(names[i], 16, "aff-%s", sfx[i]);
	return 6;
}
