/* The nftables backend (proxy.h wf_proxy_nft_ops).
 *
 * - Full loads and reconciles: the whole table as nft text in one libnftables transaction.
 *   What is installed is listed first (libnftnl, chains and sets of our table only) so that
 *   the transaction flushes and refills in place and deletes only what is stale: the table is
 *   never deleted, nothing is ever empty in between, and affinity sets keep their clients.
 * - Endpoint changes (the common case): a libnftnl batch sent straight to the kernel - for
 *   each changed service port, flush and refill its endpoint map and replace its one rule,
 *   plus the few global elements that change. O(changed services), whatever the cluster size,
 *   and nothing is read back.
 * - Structural changes (a Service added, removed or reshaped; affinity endpoints): a small
 *   libnftables text transaction naming only the objects concerned. */
#include "proxy/proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_nat.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "lib/ip.h"
#include "proxy/ct.h"
#include "proxy/model.h"
#include "proxy/nft-plan.h"
#include "proxy/render.h"

#define T WF_PROXY_TABLE
/* Text and batches are bounded: a ruleset of 100k service ports is well under this. */
#define TEXT_CAP (1u << 30)
/* Receive buffer: a page-sized dump chunk is at most 16 KiB (MNL_SOCKET_DUMP_SIZE is 32 KiB). */
#define NL_BUF 32768

struct hp {
	struct wf_ip ip; /* the key */
	size_t n;	 /* services whose endpoints include ip */
};

struct nft_state {
	struct nft_ctx *nft;
	struct mnl_socket *nl;
	uint32_t seq;
	struct wf_hash *hairpin; /* struct wf_ip -> struct hp */
	struct wf_proxy_stats stats;
	char err[1024];
};

/* ---- helpers ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

static void hairpin_clear(struct nft_state *st)
{
	struct hp *h;

	for (size_t it = 0; wf_hash_next(st->hairpin, &it, NULL, NULL, (void **)&h);)
		wf_free(h);
	wf_hash_clear(st->hairpin);
}

/* Unique endpoint addresses of one service (cluster and local lists). */
static size_t svc_ips(const struct wf_proxy_svc *s, struct wf_ip *out)
{
	size_t n = 0;

	for (int l = 0; l < 2; l++) {
		const struct wf_proxy_endpoint *e = l ? s->local_eps : s->eps;
		size_t k = l ? s->n_local_eps : s->n_eps;

		for (size_t i = 0; i < k; i++) {
			bool dup = false;

			for (size_t j = 0; j < n && !dup; j++)
				dup = wf_ip_equal(&out[j], &e[i].ip);
			if (!dup)
				out[n++] = e[i].ip;
		}
	}
	return n;
}

/* Adjusts the hairpin refcounts by one service's endpoints (delta +1 or -1); when an address
 * appears or goes, fn is told (add true/false). */
static int hairpin_adjust(struct nft_state *st, const struct wf_proxy_svc *s, int delta,
			  int (*fn)(void *ud, const struct wf_ip *ip, int family, bool add),
			  void *ud)
{
	struct wf_ip *ips;
	size_t n;
	int r = 0;

	if (!s->n_eps && !s->n_local_eps)
		return 0;
	ips = wf_reallocarray(NULL, s->n_eps + s->n_local_eps, sizeof(*ips));
	if (!ips)
		return -ENOMEM;
	n = svc_ips(s, ips);
	for (size_t i = 0; !r && i < n; i++) {
		struct hp *h = wf_hash_get(st->hairpin, &ips[i], sizeof(ips[i]));

		if (delta > 0) {
			if (!h) {
				h = wf_calloc(1, sizeof(*h));
				if (!h) {
					r = -ENOMEM;
					break;
				}
				h->ip = ips[i];
				r = wf_hash_put(st->hairpin, &h->ip, sizeof(h->ip), h, NULL);
				if (r < 0) {
					wf_free(h);
					break;
				}
				if (fn)
					r = fn(ud, &ips[i], s->family, true);
			}
			h->n++;
		} else if (h && --h->n == 0) {
			wf_hash_del(st->hairpin, &h->ip, sizeof(h->ip));
			wf_free(h);
			if (fn)
				r = fn(ud, &ips[i], s->family, false);
		}
	}
	wf_free(ips);
	return r;
}

/* ---- listing what is installed (libnftnl dumps of our table's chains and sets) ---- */

struct listing {
	struct wf_hash *names; /* name -> (void *)kind: 1 chain, 2 set, 3 map */
	char **owned;
	size_t n, cap;
	int want; /* NFT_MSG_NEWCHAIN or NFT_MSG_NEWSET */
};

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct listing *l = data;
	const char *table, *name;
	uintptr_t kind = 1;
	char *copy;

	if (l->want == NFT_MSG_NEWCHAIN) {
		struct nftnl_chain *c = nftnl_chain_alloc();

		if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0) {
			nftnl_chain_free(c);
			return MNL_CB_ERROR;
		}
		table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
		name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		if (nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY) != NFPROTO_INET || !table ||
		    strcmp(table, T) || !name) {
			nftnl_chain_free(c);
			return MNL_CB_OK;
		}
		copy = wf_strdup(name);
		nftnl_chain_free(c);
	} else {
		struct nftnl_set *s = nftnl_set_alloc();

		if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0) {
			nftnl_set_free(s);
			return MNL_CB_ERROR;
		}
		table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
		name = nftnl_set_get_str(s, NFTNL_SET_NAME);
		if (nftnl_set_get_u32(s, NFTNL_SET_FAMILY) != NFPROTO_INET || !table ||
		    strcmp(table, T) || !name ||
		    (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS)) {
			nftnl_set_free(s);
			return MNL_CB_OK;
		}
		kind = nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_MAP ? 3 : 2;
		copy = wf_strdup(name);
		nftnl_set_free(s);
	}
	if (!copy)
		return MNL_CB_ERROR;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **o = wf_reallocarray(l->owned, cap, sizeof(*o));

		if (!o) {
			wf_free(copy);
			return MNL_CB_ERROR;
		}
		l->owned = o;
		l->cap = cap;
	}
	l->owned[l->n++] = copy;
	if (wf_hash_puts(l->names, copy, (void *)kind, NULL) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

static int dump(struct nft_state *st, struct listing *l, uint16_t type)
{
	char buf[NL_BUF];
	uint32_t seq = ++st->seq, portid = mnl_socket_get_portid(st->nl);
	struct nlmsghdr *nlh;
	ssize_t n;
	int r;

	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, seq);
	if (type == NFT_MSG_GETSET)
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, T);
	l->want = type == NFT_MSG_GETCHAIN ? NFT_MSG_NEWCHAIN : NFT_MSG_NEWSET;
	if (mnl_socket_sendto(st->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(st->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, list_cb, l);
		if (r < 0)
			return errno == ENOENT ? 0 : -errno; /* no table: nothing listed */
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static void listing_done(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		wf_free(l->owned[i]);
	wf_free(l->owned);
	wf_hash_free(l->names);
}

/* ---- full load ---- */

/* Names of the chains, sets and maps a rendered table declares (top-level "\tchain X {"). */
static int declared(const char *text, struct wf_hash *h, char ***owned, size_t *n)
{
	size_t cap = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *name, *end;
		size_t len;
		char *copy, **o;

		if (!strncmp(p, "\tchain ", 7))
			name = p + 7;
		else if (!strncmp(p, "\tset ", 5) || !strncmp(p, "\tmap ", 5))
			name = p + 5;
		else
			continue;
		end = strstr(name, " {\n");
		if (!end)
			continue;
		len = (size_t)(end - name);
		copy = wf_strndup(name, len);
		if (!copy)
			return -ENOMEM;
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			o = wf_reallocarray(*owned, cap, sizeof(*o));
			if (!o) {
				wf_free(copy);
				return -ENOMEM;
			}
			*owned = o;
		}
		(*owned)[(*n)++] = copy;
		if (wf_hash_puts(h, copy, copy, NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int full_text(struct nft_state *st, const char *body, struct wf_buf *out)
{
	struct listing l = {0};
	struct wf_hash *want = NULL;
	char **owned = NULL;
	size_t n_owned = 0;
	int r = -ENOMEM;

	l.names = wf_hash_new(1024);
	want = wf_hash_new(1024);
	if (!l.names || !want)
		goto out;
	r = dump(st, &l, NFT_MSG_GETCHAIN);
	if (!r)
		r = dump(st, &l, NFT_MSG_GETSET);
	if (r < 0) {
		snprintf(st->err, sizeof(st->err), "listing table inet " T ": %s", wf_strerror(r));
		goto out;
	}
	r = declared(body, want, &owned, &n_owned);
	if (r < 0)
		goto out;
	/* Flush in place what stays (affinity client sets excepted: they are state), then
	 * refill, then delete what is stale - all one transaction. */
	for (size_t i = 0; !r && i < l.n; i++) {
		uintptr_t kind = (uintptr_t)wf_hash_gets(l.names, l.owned[i]);

		if (kind == 1)
			r = wf_buf_printf(out, "flush chain inet " T " %s\n", l.owned[i]);
		else if (strncmp(l.owned[i], "aff", 3))
			r = wf_buf_printf(out, "flush %s inet " T " %s\n",
					  kind == 3 ? "map" : "set", l.owned[i]);
	}
	if (!r)
		r = wf_buf_append_str(out, body);
	for (size_t i = 0; !r && i < l.n; i++) {
		uintptr_t kind = (uintptr_t)wf_hash_gets(l.names, l.owned[i]);

		if (kind == 1 && !wf_hash_gets(want, l.owned[i]))
			r = wf_buf_printf(out, "delete chain inet " T " %s\n", l.owned[i]);
	}
	for (size_t i = 0; !r && i < l.n; i++) {
		uintptr_t kind = (uintptr_t)wf_hash_gets(l.names, l.owned[i]);

		if (kind != 1 && !wf_hash_gets(want, l.owned[i]))
			r = wf_buf_printf(out, "delete %s inet " T " %s\n",
					  kind == 3 ? "map" : "set", l.owned[i]);
	}
out:
	for (size_t i = 0; i < n_owned; i++)
		wf_free(owned[i]);
	wf_free(owned);
	wf_hash_free(want);
	listing_done(&l);
	return r;
}

static int nft_full(void *state, const struct wf_proxy_model *m)
{
	struct nft_state *st = state;
	struct wf_buf body, text;
	uint64_t t0 = now_ns();
	int r;

	wf_buf_init(&body, TEXT_CAP);
	wf_buf_init(&text, TEXT_CAP);
	st->err[0] = 0;
	r = wf_proxy_render(m, &body);
	if (!r)
		r = full_text(st, (const char *)wf_buf_cstr(&body), &text);
	if (!r && !wf_buf_cstr(&text))
		r = -ENOMEM;
	if (!r)
		r = run_text(st, (const char *)wf_buf_data(&text));
	if (r == -WF_E_INVALID) {
		/* In-place reconcile refused (say, an affinity set whose timeout changed):
		 * replace the table as a whole, still in one transaction. */
		wf_buf_clear(&text);
		r = wf_buf_append_str(&text, "add table inet " T "\ndelete table inet " T "\n");
		if (!r)
			r = wf_buf_append(&text, wf_buf_data(&body), wf_buf_len(&body));
		if (!r && !wf_buf_cstr(&text))
			r = -ENOMEM;
		if (!r)
			r = run_text(st, (const char *)wf_buf_data(&text));
	}
	if (!r) {
		hairpin_clear(st);
		for (size_t i = 0; !r && i < m->n_svcs; i++)
			r = hairpin_adjust(st, &m->svcs[i], +1, NULL, NULL);
		st->stats.full_loads++;
	}
	st->stats.last_apply_ns = now_ns() - t0;
	wf_buf_done(&body);
	wf_buf_done(&text);
	return r;
}

/* ---- element lists (global maps) ---- */

struct elems {
	struct wf_proxy_elem *e;
	size_t n, cap;
};

static int elems_add(void *ud, const struct wf_proxy_elem *e)
{
	struct elems *l = ud;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct wf_proxy_elem *n = wf_reallocarray(l->e, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->e = n;
		l->cap = cap;
	}
	l->e[l->n++] = *e;
	return 0;
}

static bool elem_eq(const struct wf_proxy_elem *a, const struct wf_proxy_elem *b)
{
	return a->map == b->map && a->family == b->family && a->proto == b->proto &&
	       wf_ip_equal(&a->addr, &b->addr) && a->port == b->port && a->verdict == b->verdict &&
	       !strcmp(a->chain, b->chain);
}

static bool elems_has(const struct elems *l, const struct wf_proxy_elem *e)
{
	for (size_t i = 0; i < l->n; i++)
		if (elem_eq(&l->e[i], e))
			return true;
	return false;
}

/* ---- the change between two models ---- */

enum change {
	CH_ADDED,
	CH_REMOVED,
	CH_RESHAPED,
	CH_ENDPOINTS,
};

struct pair {
	enum change ch;
	const struct wf_proxy_svc *old, *new;
};

struct diff {
	struct pair *p;
	size_t n, cap;
	bool structural; /* needs the text path */
};

static int diff_add(struct diff *d, enum change ch, const struct wf_proxy_svc *o,
		    const struct wf_proxy_svc *n)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct pair *p = wf_reallocarray(d->p, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->p = p;
		d->cap = cap;
	}
	d->p[d->n++] = (struct pair){ch, o, n};
	if (ch != CH_ENDPOINTS || (n && n->affinity_timeout))
		d->structural = true;
	return 0;
}

static int diff_models(const struct wf_proxy_model *a, const struct wf_proxy_model *b,
		       struct diff *d)
{
	size_t i = 0, j = 0;
	int r = 0;

	while (!r && (i < a->n_svcs || j < b->n_svcs)) {
		int c;

		if (i == a->n_svcs)
			c = 1;
		else if (j == b->n_svcs)
			c = -1;
		else
			c = wf_proxy_svc_cmp(&a->svcs[i], &b->svcs[j]);
		if (c < 0) {
			r = diff_add(d, CH_REMOVED, &a->svcs[i++], NULL);
		} else if (c > 0) {
			r = diff_add(d, CH_ADDED, NULL, &b->svcs[j++]);
		} else {
			const struct wf_proxy_svc *o = &a->svcs[i++], *n = &b->svcs[j++];

			if (!wf_proxy_svc_shape_equal(o, n))
				r = diff_add(d, CH_RESHAPED, o, n);
			else if (!wf_proxy_svc_eps_equal(o, n))
				r = diff_add(d, CH_ENDPOINTS, o, n);
		}
	}
	return r;
}

static bool same_node(const struct wf_proxy_model *a, const struct wf_proxy_model *b)
{
	if (a->n_node_ips != b->n_node_ips || a->n_cluster_cidrs != b->n_cluster_cidrs ||
	    a->masquerade_all != b->masquerade_all)
		return false;
	for (size_t i = 0; i < a->n_node_ips; i++)
		if (!wf_ip_equal(&a->node_ips[i], &b->node_ips[i]))
			return false;
	for (size_t i = 0; i < a->n_cluster_cidrs; i++)
		if (!wf_ip_equal(&a->cluster_cidrs[i].ip, &b->cluster_cidrs[i].ip) ||
		    a->cluster_cidrs[i].prefix != b->cluster_cidrs[i].prefix)
			return false;
	return true;
}

/* Global elements that leave (old side) and arrive (new side) for one pair. Reshaped services
 * drop and re-add all of theirs, since their chains are deleted and re-created. */
static int pair_elems(const struct wf_proxy_model *om, const struct wf_proxy_model *nm,
		      const struct pair *p, struct elems *del, struct elems *add)
{
	struct elems o = {0}, n = {0};
	int r = 0;

	if (p->old)
		r = wf_proxy_svc_elems(om, p->old, elems_add, &o);
	if (!r && p->new)
		r = wf_proxy_svc_elems(nm, p->new, elems_add, &n);
	for (size_t i = 0; !r && i < o.n; i++)
		if (p->ch != CH_ENDPOINTS || !elems_has(&n, &o.e[i]))
			r = elems_add(del, &o.e[i]);
	for (size_t i = 0; !r && i < n.n; i++)
		if (p->ch != CH_ENDPOINTS || !elems_has(&o, &n.e[i]))
			r = elems_add(add, &n.e[i]);
	wf_free(o.e);
	wf_free(n.e);
	return r;
}

/* ---- the text path ---- */

struct hp_text {
	struct wf_buf *del, *add;
};

static int hp_text(void *ud, const struct wf_ip *ip, int family, bool add)
{
	struct hp_text *h = ud;
	struct wf_proxy_elem e = {.map = WF_PROXY_GMAP_HAIRPIN, .family = family, .addr = *ip};

	return wf_proxy_render_elem(&e, add, add ? h->add : h->del);
}

static int delta_text(struct nft_state *st, const struct wf_proxy_model *om,
		      const struct wf_proxy_model *nm, const struct diff *d)
{
	struct wf_buf del, objs, add;
	struct elems de = {0}, ae = {0};
	struct hp_text h = {&del, &add};
	int r = 0;

	wf_buf_init(&del, TEXT_CAP);
	wf_buf_init(&objs, TEXT_CAP);
	wf_buf_init(&add, TEXT_CAP);
	for (size_t i = 0; !r && i < d->n; i++)
		r = pair_elems(om, nm, &d->p[i], &de, &ae);
	for (size_t i = 0; !r && i < de.n; i++)
		r = wf_proxy_render_elem(&de.e[i], false, &del);
	for (size_t i = 0; !r && i < ae.n; i++)
		r = wf_proxy_render_elem(&ae.e[i], true, &add);
	/* Refcounts move now; a failure below makes the next sync a full one, which
	 * recounts from scratch. */
	for (size_t i = 0; !r && i < d->n; i++) {
		if (d->p[i].old)
			r = hairpin_adjust(st, d->p[i].old, -1, hp_text, &h);
		if (!r && d->p[i].new)
			r = hairpin_adjust(st, d->p[i].new, +1, hp_text, &h);
	}
	for (size_t i = 0; !r && i < d->n; i++) {
		const struct pair *p = &d->p[i];

		if (p->ch == CH_REMOVED || p->ch == CH_RESHAPED)
			r = wf_proxy_render_svc_delete(p->old, &objs);
		if (!r && (p->ch == CH_ADDED || p->ch == CH_RESHAPED))
			r = wf_proxy_render_svc_objs(nm, p->new, &objs);
		if (!r && p->ch == CH_ENDPOINTS)
			r = wf_proxy_render_svc_eps(p->old, p->new, &objs);
	}
	if (!r)
		r = wf_buf_append(&del, wf_buf_data(&objs), wf_buf_len(&objs));
	if (!r)
		r = wf_buf_append(&del, wf_buf_data(&add), wf_buf_len(&add));
	if (!r && !wf_buf_cstr(&del))
		r = -ENOMEM;
	if (!r && wf_buf_len(&del))
		r = run_text(st, (const char *)wf_buf_data(&del));
	if (!r)
		st->stats.text_deltas++;
	wf_free(de.e);
	wf_free(ae.e);
	wf_buf_done(&del);
	wf_buf_done(&objs);
	wf_buf_done(&add);
	return r;
}

/* ---- the netlink path ---- */

struct nlb {
	struct nft_state *st;
	char *buf;
	size_t size;
	struct mnl_nlmsg_batch *b;
	unsigned msgs;
	bool full;
};

static struct nlmsghdr *nlb_hdr(struct nlb *b, uint16_t type, uint16_t flags)
{
	b->msgs++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b->b), type, NFPROTO_INET, flags,
				     ++b->st->seq);
}

static int nlb_next(struct nlb *b)
{
	if (!mnl_nlmsg_batch_next(b->b)) {
		b->full = true;
		return -ENOBUFS;
	}
	return 0;
}

/* Element key and data in the kernel's layout: every field of a concatenation takes a whole
 * number of 32-bit registers; ports are big-endian, numgen indices host-endian. */
static size_t put_addr(uint8_t *k, const struct wf_ip *ip)
{
	size_t l = wf_ip_len(ip);

	memcpy(k, ip->addr, l);
	return l;
}

static size_t put_port(uint8_t *k, uint16_t port)
{
	k[0] = (uint8_t)(port >> 8);
	k[1] = (uint8_t)port;
	k[2] = k[3] = 0;
	return 4;
}

static size_t elem_key(const struct wf_proxy_elem *e, uint8_t *k)
{
	size_t n = 0;

	memset(k, 0, 64);
	switch (e->map) {
	case WF_PROXY_GMAP_SERVICES:
	case WF_PROXY_GMAP_NOEP:
		n = put_addr(k, &e->addr);
		k[n] = e->proto;
		n += 4;
		return n + put_port(k + n, e->port);
	case WF_PROXY_GMAP_NODEPORTS:
	case WF_PROXY_GMAP_NOEP_NP:
		k[0] = e->proto;
		return 4 + put_port(k + 4, e->port);
	case WF_PROXY_GMAP_HAIRPIN:
		n = put_addr(k, &e->addr);
		return n + put_addr(k + n, &e->addr);
	default:
		return 0;
	}
}

static struct nftnl_set *set_new(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, T) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0) {
		nftnl_set_free(s);
		return NULL;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	return s;
}

static int nlb_elem(struct nlb *b, const struct wf_proxy_elem *e, bool add)
{
	struct nftnl_set *s = set_new(wf_proxy_gmap_name(e->map, e->family));
	struct nftnl_set_elem *el = nftnl_set_elem_alloc();
	struct nlmsghdr *nlh;
	uint8_t key[64];

	if (!s || !el) {
		nftnl_set_free(s);
		nftnl_set_elem_free(el);
		return -ENOMEM;
	}
	nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key, (uint32_t)elem_key(e, key));
	if (add && e->verdict == WF_PROXY_V_DROP) {
		nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_VERDICT, NF_DROP);
	} else if (add && e->verdict != WF_PROXY_V_NONE) {
		nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_VERDICT,
				       e->verdict == WF_PROXY_V_GOTO ? (uint32_t)NFT_GOTO
								     : (uint32_t)NFT_JUMP);
		nftnl_set_elem_set_str(el, NFTNL_SET_ELEM_CHAIN, e->chain);
	}
	nftnl_set_elem_add(s, el);
	nlh = nlb_hdr(b, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, add ? NLM_F_CREATE : 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nlb_next(b);
}

static struct nftnl_rule *rule_new(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, T) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0) {
		nftnl_rule_free(r);
		return NULL;
	}
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	return r;
}

static int nlb_flush_chain(struct nlb *b, const char *chain)
{
	struct nftnl_rule *r = rule_new(chain);
	struct nlmsghdr *nlh;

	if (!r)
		return -ENOMEM;
	nlh = nlb_hdr(b, NFT_MSG_DELRULE, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nlb_next(b);
}

static int put_expr(struct nftnl_rule *r, const char *type, struct nftnl_expr **ret)
{
	*ret = nftnl_expr_alloc(type);
	if (!*ret)
		return -ENOMEM;
	nftnl_rule_add_expr(r, *ret);
	return 0;
}

/* One rule of the cascade render.c writes as "numgen random mod M 0 meta l4proto P dnat ip to
 * A:PORT" (numgen left out for the last, M == 0), or "drop" (ep NULL), in the expressions nft
 * generates for it. */
static int nlb_lb_rule(struct nlb *b, const struct wf_proxy_svc *s, const char *chain,
		       const struct wf_proxy_endpoint *ep, uint32_t m)
{
	struct nftnl_rule *r = rule_new(chain);
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	uint8_t proto = wf_proxy_ipproto(s->protocol);
	uint32_t zero = 0;
	uint16_t port;
	int ret = 0;

	if (!r)
		return -ENOMEM;
	if (!ep) {
		ret = put_expr(r, "immediate", &e);
		if (!ret) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
		}
		goto build;
	}
	if (m) {
		ret = put_expr(r, "numgen", &e);
		if (!ret) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
			nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, m);
			nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
			ret = put_expr(r, "cmp", &e);
		}
		if (!ret) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
			nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &zero, sizeof(zero));
		}
	}
	if (!ret)
		ret = put_expr(r, "meta", &e);
	if (!ret) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
		ret = put_expr(r, "cmp", &e);
	}
	if (!ret) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &proto, sizeof(proto));
		ret = put_expr(r, "immediate", &e);
	}
	if (!ret) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, ep->ip.addr, wf_ip_len(&ep->ip));
		ret = put_expr(r, "immediate", &e);
	}
	if (!ret) {
		port = htons(ep->port);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &port, sizeof(port));
		ret = put_expr(r, "nat", &e);
	}
	if (!ret) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY,
				   s->family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
	}
build:
	if (ret) {
		nftnl_rule_free(r);
		return ret;
	}
	nlh = nlb_hdr(b, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nlb_next(b);
}

struct hp_nl {
	struct nlb *b;
	struct elems *del, *add;
};

static int hp_nl(void *ud, const struct wf_ip *ip, int family, bool add)
{
	struct hp_nl *h = ud;
	struct wf_proxy_elem e = {.map = WF_PROXY_GMAP_HAIRPIN, .family = family, .addr = *ip};

	return elems_add(add ? h->add : h->del, &e);
}

/* Sends the batch and collects the kernel's verdict: errors are always reported (with or
 * without NLM_F_ACK), synchronously, so they are queued when sendto returns. */
static int nlb_send(struct nlb *b)
{
	struct nft_state *st = b->st;
	char buf[NL_BUF];
	int err = 0;

	if (mnl_socket_sendto(st->nl, mnl_nlmsg_batch_head(b->b), mnl_nlmsg_batch_size(b->b)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(st->nl), buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;

		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error && !err)
				err = e->error;
		}
	}
	if (err) {
		snprintf(st->err, sizeof(st->err), "netlink batch: %s", wf_strerror(err));
		return err;
	}
	return 0;
}

static int delta_nl(struct nft_state *st, const struct wf_proxy_model *om,
		    const struct wf_proxy_model *nm, const struct diff *d)
{
	struct elems de = {0}, ae = {0};
	struct nlb b = {.st = st};
	struct hp_nl h = {&b, &de, &ae};
	size_t size = 8192;
	int r = 0;

	for (size_t i = 0; !r && i < d->n; i++)
		r = pair_elems(om, nm, &d->p[i], &de, &ae);
	for (size_t i = 0; !r && i < d->n; i++) {
		r = hairpin_adjust(st, d->p[i].old, -1, hp_nl, &h);
		if (!r)
			r = hairpin_adjust(st, d->p[i].new, +1, hp_nl, &h);
	}
	if (r)
		goto out;
	/* Bound: a message per element, four per endpoint list, and every endpoint. */
	size += (de.n + ae.n) * 1024;
	for (size_t i = 0; i < d->n; i++)
		size += 8 * 1024 + (d->p[i].new->n_eps + d->p[i].new->n_local_eps) * 128;
	b.buf = wf_malloc(size);
	if (!b.buf) {
		r = -ENOMEM;
		goto out;
	}
	b.b = mnl_nlmsg_batch_start(b.buf, size);
	if (!b.b) {
		r = -ENOMEM;
		goto out;
	}
	nftnl_batch_begin(mnl_nlmsg_batch_current(b.b), ++st->seq);
	r = nlb_next(&b);
	for (size_t i = 0; !r && i < de.n; i++)
		r = nlb_elem(&b, &de.e[i], false);
	for (size_t i = 0; !r && i < d->n; i++) {
		const struct wf_proxy_svc *s = d->p[i].new;
		struct wf_proxy_objs o;
		char lb[WF_PROXY_NAME_MAX];

		wf_proxy_svc_objs(s, &o);
		for (int l = 0; !r && l <= (int)o.llb; l++) {
			const struct wf_proxy_endpoint *e = l ? s->local_eps : s->eps;
			size_t n = l ? s->n_local_eps : s->n_eps;

			wf_proxy_obj_name(lb, l ? "llb" : "lb", s);
			/* The chain is emptied and refilled in one transaction: no packet
			 * sees it half-written. */
			r = nlb_flush_chain(&b, lb);
			if (!r && !n)
				r = nlb_lb_rule(&b, s, lb, NULL, 0);
			for (size_t k = 0; !r && k < n; k++)
				r = nlb_lb_rule(&b, s, lb, &e[k],
						k + 1 < n ? (uint32_t)(n - k) : 0);
		}
	}
	for (size_t i = 0; !r && i < ae.n; i++)
		r = nlb_elem(&b, &ae.e[i], true);
	if (r)
		goto out_batch;
	nftnl_batch_end(mnl_nlmsg_batch_current(b.b), ++st->seq);
	r = nlb_next(&b);
	if (!r)
		r = nlb_send(&b);
	if (!r) {
		st->stats.nl_deltas++;
		st->stats.nl_messages += b.msgs;
	}
out_batch:
	mnl_nlmsg_batch_stop(b.b);
out:
	wf_free(b.buf);
	wf_free(de.e);
	wf_free(ae.e);
	return r;
}

static int nft_delta(void *state, const struct wf_proxy_model *om, const struct wf_proxy_model *nm)
{
	struct nft_state *st = state;
	struct diff d = {0};
	uint64_t t0 = now_ns();
	int r;

	st->err[0] = 0;
	if (!same_node(om, nm))
		return nft_full(state, nm); /* node addresses or CIDRs: every chain may change */
	r = diff_models(om, nm, &d);
	if (!r && d.n)
		r = d.structural ? delta_text(st, om, nm, &d) : delta_nl(st, om, nm, &d);
	st->stats.last_apply_ns = now_ns() - t0;
	wf_free(d.p);
	return r;
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
	if (st->nl)
		mnl_socket_close(st->nl);
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
	st->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!st->nl || mnl_socket_bind(st->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto err;
	}
	st->seq = (uint32_t)time(NULL);
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
	.ct_flush = nft_ct_flush,
	.stats = nft_stats,
	.error = nft_error,
	.done = nft_done,
};
