/* The nft backend's table block (nft-internal.h): the sets, maps, rules and node addresses
 * that render.c writes as text, installed by libnftables only when it is missing or differs
 * from what the model needs. The block carries a tag (a hash of its text, as the comment of
 * the rule in chain block-tag, written last by nft-rules.c), read back with one small rule
 * dump, so that a restarted agent leaves an equal block alone: rewriting rules bound to big
 * maps costs the kernel a walk of every element. */
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "proxy/nft-internal.h"
#include "proxy/render.h"

#define T WF_PROXY_TABLE

static int run_text(struct nft_state *st, const char *text)
{
	const char *e;

	if (nft_run_cmd_from_buffer(st->nft, text) == 0)
		return 0;
	e = nft_ctx_get_error_buffer(st->nft);
	snprintf(st->err, sizeof(st->err), "nft: %s", e && *e ? e : "transaction failed");
	/* One line is enough for a log; the rest is nft's caret drawing. */
	for (char *c = st->err; *c; c++)
		if (*c == '\n') {
			*c = 0;
			break;
		}
	return -WF_E_INVALID;
}

int nft_block_declared(const char *text, struct wf_hash *h, char ***owned, size_t *n)
{
	size_t cap = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		uintptr_t kind = 1;
		const char *name, *end;
		char *copy, **o;

		if (!strncmp(p, "\tchain ", 7)) {
			name = p + 7;
		} else if (!strncmp(p, "\tset ", 5) || !strncmp(p, "\tmap ", 5)) {
			name = p + 5;
			kind = p[1] == 'm' ? 3 : 2;
		} else {
			continue;
		}
		end = strstr(name, " {");
		if (!end)
			continue;
		copy = wf_strndup(name, (size_t)(end - name));
		if (!copy)
			return -ENOMEM;
		if (*n == cap) {
			cap = cap ? cap * 2 : 512;
			o = wf_reallocarray(*owned, cap, sizeof(*o));
			if (!o) {
				wf_free(copy);
				return -ENOMEM;
			}
			*owned = o;
		}
		(*owned)[(*n)++] = copy;
		if (wf_hash_puts(h, copy, (void *)kind, NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

void nft_names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wf_free(v[i]);
	wf_free(v);
}

int nft_block_text(const struct wf_proxy_model *m, struct wf_buf *out, char *tag, size_t tag_len)
{
	uint64_t h;
	int r;

	r = wf_proxy_render_block(m, out);
	if (!r && !wf_buf_cstr(out))
		r = -ENOMEM;
	if (r < 0)
		return r;
	h = wf_hash_seeded(wf_buf_data(out), wf_buf_len(out), NFT_TAG_SEED);
	snprintf(tag, tag_len, "weft-block-%016llx", (unsigned long long)h);
	return 0;
}

/* Installs the block in text (fresh: into no table). An existing table is updated in place:
 * its chains flushed and refilled, the node's address sets refilled, stale chains and sets
 * deleted; the planned sets keep their elements. If the kernel refuses that (a set whose type
 * changed), the table is replaced: *ret_fresh tells that no element is left. */
static int install_block(struct nft_state *st, const char *block, bool exists, bool *ret_fresh)
{
	struct nft_listing l = {0};
	struct wf_hash *want = wf_hash_new(512);
	struct wf_buf text;
	char **owned = NULL;
	size_t n_owned = 0;
	int r = -ENOMEM;

	*ret_fresh = !exists;
	wf_buf_init(&text, NFT_TEXT_CAP);
	l.names = wf_hash_new(512);
	if (!want || !l.names)
		goto out;
	if (!exists) {
		r = run_text(st, block);
		goto out;
	}
	r = nft_nl_list(&st->nl, &l, NFT_MSG_GETCHAIN);
	if (!r)
		r = nft_nl_list(&st->nl, &l, NFT_MSG_GETSET);
	if (!r)
		r = nft_block_declared(block, want, &owned, &n_owned);
	for (size_t i = 0; !r && i < l.n; i++) {
		uintptr_t kind = (uintptr_t)wf_hash_gets(l.names, l.owned[i]);

		if (kind == 1)
			r = wf_buf_printf(&text, "flush chain inet " T " %s\n", l.owned[i]);
		else if (!wf_proxy_plan_owns_set(l.owned[i]) && strncmp(l.owned[i], "aff-", 4))
			r = wf_buf_printf(&text, "flush set inet " T " %s\n", l.owned[i]);
	}
	if (!r)
		r = wf_buf_append_str(&text, block);
	/* Stale sets before stale chains: a verdict map may still point at a chain. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; !r && i < l.n; i++) {
			uintptr_t kind = (uintptr_t)wf_hash_gets(l.names, l.owned[i]);

			if ((kind == 1) != pass || wf_hash_gets(want, l.owned[i]))
				continue;
			r = wf_buf_printf(&text, "delete %s inet " T " %s\n",
					  kind == 1   ? "chain"
					  : kind == 3 ? "map"
						      : "set",
					  l.owned[i]);
		}
	if (!r && !wf_buf_cstr(&text))
		r = -ENOMEM;
	if (!r)
		r = run_text(st, (const char *)wf_buf_data(&text));
	if (r == -WF_E_INVALID) {
		wf_buf_clear(&text);
		r = wf_buf_append_str(&text, "delete table inet " T "\n");
		if (!r)
			r = wf_buf_append_str(&text, block);
		if (!r && !wf_buf_cstr(&text))
			r = -ENOMEM;
		if (!r)
			r = run_text(st, (const char *)wf_buf_data(&text));
		if (!r)
			*ret_fresh = true;
	}
out:
	if (r < 0 && !st->err[0])
		snprintf(st->err, sizeof(st->err), "table block: %s", wf_strerror(r));
	if (!r)
		st->stats.block_loads++;
	nft_names_free(owned, n_owned);
	wf_hash_free(want);
	nft_listing_done(&l);
	wf_buf_done(&text);
	return r;
}

/* What the block's text depends on (render.c): the node's addresses and cluster CIDRs, the
 * class count, pod_notrack with the node's addresses in the pod network and the tunnel port,
 * and the affinity timeouts. Equal inputs, equal block: a delta need not render it again. */
uint64_t nft_block_inputs(const struct wf_proxy_model *m)
{
	uint32_t touts[256];
	size_t n = wf_proxy_plan_timeouts(m, touts, 256);
	unsigned k = wf_proxy_plan_classes(m);
	uint64_t h;

	h = wf_hash_seeded(m->node_ips, m->n_node_ips * sizeof(*m->node_ips), NFT_TAG_SEED);
	h = wf_hash_seeded(m->cluster_cidrs, m->n_cluster_cidrs * sizeof(*m->cluster_cidrs), h);
	h = wf_hash_seeded(&k, sizeof(k), h);
	h = wf_hash_seeded(&m->pod_notrack, sizeof(m->pod_notrack), h);
	h = wf_hash_seeded(m->node_pod_addrs, m->n_node_pod_addrs * sizeof(*m->node_pod_addrs), h);
	h = wf_hash_seeded(&m->tunnel_port, sizeof(m->tunnel_port), h);
	h = wf_hash_seeded(&n, sizeof(n), h);
	return wf_hash_seeded(touts, (n < 256 ? n : 256) * sizeof(*touts), h);
}

int nft_block_ensure(struct nft_state *st, const struct wf_proxy_model *m, bool *ret_fresh,
		     bool *ret_changed)
{
	struct wf_buf block;
	char tag[NFT_TAG_MAX], have[64];
	int r;

	*ret_fresh = *ret_changed = false;
	wf_buf_init(&block, NFT_TEXT_CAP);
	r = nft_block_text(m, &block, tag, sizeof(tag));
	if (!r && st->tag[0] && !strcmp(st->tag, tag))
		goto out;
	if (!r)
		r = nft_nl_installed_tag(&st->nl, have, sizeof(have));
	if (!r && strcmp(have, tag)) {
		struct nft_listing probe = {.names = wf_hash_new(8)};

		/* Is there a table at all? One chain dump tells. */
		r = probe.names ? nft_nl_list(&st->nl, &probe, NFT_MSG_GETCHAIN) : -ENOMEM;
		if (!r)
			r = install_block(st, (const char *)wf_buf_data(&block), probe.n > 0,
					  ret_fresh);
		if (!r)
			r = nft_rules_write(&st->nl, m, tag);
		nft_listing_done(&probe);
		*ret_changed = true;
	}
	if (!r)
		snprintf(st->tag, sizeof(st->tag), "%s", tag);
out:
	if (!r)
		st->inputs = nft_block_inputs(m);
	wf_buf_done(&block);
	return r;
}

int nft_block_differs(const struct nft_state *st, const struct wf_proxy_model *m, uint64_t inputs)
{
	struct wf_buf block;
	char tag[NFT_TAG_MAX];
	int r;

	if (st->tag[0] && inputs == st->inputs)
		return 0;
	wf_buf_init(&block, NFT_TEXT_CAP);
	r = nft_block_text(m, &block, tag, sizeof(tag));
	wf_buf_done(&block);
	if (r)
		return r;
	return strcmp(tag, st->tag) != 0;
}
