/* The nftables backend (proxy.h wf_proxy_nft_ops).
 *
 * The table is fixed rules over sets and maps (nft-plan.h). Two layers reach the kernel:
 * - the table block (sets, maps, rules, the node's addresses; render.c) by libnftables, only
 *   when it is missing or differs from what this model needs. The block carries a tag (a hash
 *   of its text, as a rule comment), read back with one small rule dump, so that a restarted
 *   agent leaves an equal block alone: rewriting rules bound to big maps costs the kernel a
 *   walk of every element.
 * - the elements by libnftnl batches, split into transactions of at most MAX_TX_ELEMS
 *   elements at service-key boundaries (each key's elements go in one transaction, so every
 *   key is complete or absent in between). Endpoint changes are element deltas: the kernel
 *   validates nothing and walks nothing for them.
 * A full reconcile (first sync, restart, after a failure) dumps the installed elements and
 * sends only the difference: nothing is flushed, established connections keep their
 * conntrack entries, and affinity clients stay unless their endpoint went away. */
#include "proxy/proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
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
#define TEXT_CAP (1u << 26)
/* Receive buffer: a page-sized dump chunk is at most 16 KiB (MNL_SOCKET_DUMP_SIZE is 32 KiB). */
#define NL_BUF 32768
/* Elements per transaction: about 2 us each in the kernel, so ~50 ms at most (RESULTS.md). */
#define MAX_TX_ELEMS 20000
/* Elements per netlink message: the element list is one attribute, whose length is 16 bits. */
#define MSG_ELEMS 256
/* Delete an element if it is there (Linux 6.3); uapi headers of Debian 12 predate it. */
#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM 30
#endif
/* Fixed seed: the block tag must be the same in every process. */
#define TAG_SEED 0x77656674u

struct hp {
	struct wf_ip ip; /* the key */
	size_t n;	 /* services whose endpoints include ip */
};

struct nft_state {
	struct nft_ctx *nft;
	struct mnl_socket *nl;
	uint32_t seq;
	int sndbuf;
	struct wf_hash *hairpin; /* struct wf_ip -> struct hp */
	char tag[40];		 /* tag of the block installed, "" when unknown */
	uint64_t inputs;	 /* block_inputs() of the model that block was rendered from */
	struct wf_proxy_stats stats;
	char err[1024];
};

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

/* ---- element operations ---- */

/* One element to add or delete. id is "set\0" key key_end data: equal ids, equal elements. */
struct op {
	uint64_t grp; /* service key (family, protocol, address, port) or hairpin address */
	uint16_t idlen;
	uint8_t klen, endlen, dlen;
	uint8_t kind; /* OP_ADD, OP_DEL, OP_DESTROY */
	bool keep;    /* diff: present on both sides */
	uint8_t id[WF_PROXY_NAME_MAX + 3 * WF_PROXY_KEY_MAX];
};

enum {
	OP_ADD,
	OP_DEL,
	OP_DESTROY
};

struct ops {
	struct op *v;
	size_t n, cap;
};

static const char *op_set(const struct op *o)
{
	return (const char *)o->id;
}

static const uint8_t *op_key(const struct op *o)
{
	return o->id + strlen(op_set(o)) + 1;
}

static struct op *ops_push(struct ops *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct op *v = wf_reallocarray(l->v, cap, sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, offsetof(struct op, id));
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

static int op_fill(struct op *o, const char *set, const uint8_t *key, size_t klen,
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

struct el_ctx {
	struct ops *ops;
	int kind;
};

static int el_to_op(void *ud, const struct wf_proxy_el *e)
{
	struct el_ctx *c = ud;
	uint8_t key[WF_PROXY_KEY_MAX], end[WF_PROXY_KEY_MAX], data[WF_PROXY_KEY_MAX];
	char set[WF_PROXY_NAME_MAX];
	struct op *o = ops_push(c->ops);
	size_t kl, dl;

	if (!o)
		return -ENOMEM;
	kl = wf_proxy_el_key(e, key, end);
	dl = wf_proxy_el_data(e, data);
	return op_fill(o, wf_proxy_el_set_name(e, set), key, kl, end,
		       e->set == WF_PROXY_SET_FWALLOW ? kl : 0, data, dl, c->kind);
}

/* The difference from `have` (what is installed) to `want`: appends to out the deletes of
 * what only have holds and the adds of what only want holds. */
static int ops_diff(struct ops *have, struct ops *want, struct ops *out)
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
		struct op *o = wf_hash_get(h, want->v[i].id, want->v[i].idlen);
		struct op *n;

		if (o && o->keep)
			continue; /* twice in want */
		if (o) {
			o->keep = true;
			continue;
		}
		/* A duplicate within want: added once. */
		want->v[i].keep = true;
		r = wf_hash_put(h, want->v[i].id, want->v[i].idlen, &want->v[i], NULL);
		n = r ? NULL : ops_push(out);
		if (!r && !n)
			r = -ENOMEM;
		if (!r) {
			*n = want->v[i];
			n->kind = OP_ADD;
		}
	}
	for (size_t i = 0; !r && i < have->n; i++) {
		struct op *n;

		if (have->v[i].keep)
			continue;
		n = ops_push(out);
		if (!n) {
			r = -ENOMEM;
			break;
		}
		*n = have->v[i];
		n->kind = n->kind == OP_DESTROY ? OP_DESTROY : OP_DEL;
	}
	wf_hash_free(h);
	return r;
}

static int op_grp_cmp(const void *pa, const void *pb)
{
	const struct op *a = pa, *b = pb;

	if (a->grp != b->grp)
		return a->grp < b->grp ? -1 : 1;
	return (int)a->kind - (int)b->kind;
}

/* ---- netlink batches ---- */

struct nlb {
	struct nft_state *st;
	char *buf;
	size_t size;
	struct mnl_nlmsg_batch *b;
	unsigned msgs;
};

static struct nlmsghdr *nlb_hdr(struct nlb *b, uint16_t type, uint16_t flags)
{
	b->msgs++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b->b), type, NFPROTO_INET, flags,
				     ++b->st->seq);
}

static int nlb_next(struct nlb *b)
{
	return mnl_nlmsg_batch_next(b->b) ? 0 : -ENOBUFS;
}

/* Sends the batch and collects the kernel's verdict: errors are always reported (with or
 * without NLM_F_ACK), synchronously, so they are queued when sendto returns. */
static int nlb_send(struct nlb *b)
{
	struct nft_state *st = b->st;
	size_t len = mnl_nlmsg_batch_size(b->b);
	char buf[NL_BUF];
	uint64_t t0 = now_ns(), dt;
	int err = 0;

	if ((size_t)st->sndbuf < len + 4096) {
		int want = (int)(len + 65536);

		/* The batch goes in one sendmsg: the socket buffer must hold it. */
		if (setsockopt(mnl_socket_get_fd(st->nl), SOL_SOCKET, SO_SNDBUFFORCE, &want,
			       sizeof(want)) == -1 &&
		    setsockopt(mnl_socket_get_fd(st->nl), SOL_SOCKET, SO_SNDBUF, &want,
			       sizeof(want)) == -1)
			return -errno;
		st->sndbuf = want;
	}
	if (mnl_socket_sendto(st->nl, mnl_nlmsg_batch_head(b->b), len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(st->nl), buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)n;

		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error && !err)
				err = e->error;
		}
	}
	dt = now_ns() - t0;
	st->stats.transactions++;
	if (dt > st->stats.max_tx_ns)
		st->stats.max_tx_ns = dt;
	if (err) {
		snprintf(st->err, sizeof(st->err), "netlink batch: %s", wf_strerror(err));
		return err;
	}
	return 0;
}

/* One message carrying ops[from, to) of one set and one kind. */
static int nlb_elems(struct nlb *b, struct op *const *ops, size_t from, size_t to)
{
	const struct op *first = ops[from];
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	uint16_t type = first->kind == OP_ADD	? NFT_MSG_NEWSETELEM
			: first->kind == OP_DEL ? NFT_MSG_DELSETELEM
						: NFT_MSG_DESTROYSETELEM;

	if (!s)
		return -ENOMEM;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, T) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, op_set(first)) < 0)
		goto nomem;
	for (size_t i = from; i < to; i++) {
		const struct op *o = ops[i];
		const uint8_t *k = op_key(o);
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();

		if (!e)
			goto nomem;
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k, o->klen);
		if (o->endlen)
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, k + o->klen, o->endlen);
		if (o->dlen && o->kind == OP_ADD)
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, k + o->klen + o->endlen,
					   o->dlen);
		nftnl_set_elem_add(s, e);
	}
	nlh = nlb_hdr(b, type, first->kind == OP_ADD ? NLM_F_CREATE : 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nlb_next(b);
nomem:
	nftnl_set_free(s);
	return -ENOMEM;
}

static int op_msg_cmp(const void *pa, const void *pb)
{
	const struct op *a = *(const struct op *const *)pa, *b = *(const struct op *const *)pb;
	int c;

	/* Deletes before adds: a key whose data changes is deleted, then added. */
	if (a->kind != b->kind)
		return a->kind == OP_ADD ? 1 : b->kind == OP_ADD ? -1 : (int)a->kind - (int)b->kind;
	c = strcmp(op_set(a), op_set(b));
	return c ? c : (a < b ? -1 : a > b);
}

/* One transaction with the ops given (pointers), deletes first. */
static int send_tx(struct nft_state *st, struct op **ops, size_t n)
{
	struct nlb b = {.st = st};
	int r = 0;

	if (!n)
		return 0;
	qsort(ops, n, sizeof(*ops), op_msg_cmp);
	b.size = 8192 + n * 192 + (n / MSG_ELEMS + 64) * 256;
	/* The last message may run past the limit: the buffer has room for it. */
	b.buf = wf_malloc(2 * b.size);
	if (!b.buf)
		return -ENOMEM;
	b.b = mnl_nlmsg_batch_start(b.buf, b.size);
	if (!b.b) {
		wf_free(b.buf);
		return -ENOMEM;
	}
	nftnl_batch_begin(mnl_nlmsg_batch_current(b.b), ++st->seq);
	r = nlb_next(&b);
	for (size_t i = 0; !r && i < n;) {
		size_t j = i + 1;

		while (j < n && j - i < MSG_ELEMS && ops[j]->kind == ops[i]->kind &&
		       !strcmp(op_set(ops[j]), op_set(ops[i])))
			j++;
		r = nlb_elems(&b, ops, i, j);
		i = j;
	}
	if (!r) {
		nftnl_batch_end(mnl_nlmsg_batch_current(b.b), ++st->seq);
		r = nlb_next(&b);
	}
	if (!r)
		r = nlb_send(&b);
	if (!r) {
		st->stats.nl_messages += b.msgs;
		st->stats.elements += n;
	}
	mnl_nlmsg_batch_stop(b.b);
	wf_free(b.buf);
	return r;
}

/* Sends ops in transactions of at most MAX_TX_ELEMS elements, cut only between groups (a
 * group larger than that goes alone). */
static int send_ops(struct nft_state *st, struct ops *l)
{
	struct op **p;
	size_t start = 0, n = 0;
	int r = 0;

	if (!l->n)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), op_grp_cmp);
	p = wf_reallocarray(NULL, l->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		p[i] = &l->v[i];
	for (size_t i = 0; !r && i < l->n;) {
		size_t j = i + 1;

		while (j < l->n && l->v[j].grp == l->v[i].grp)
			j++;
		if (n && n + (j - i) > MAX_TX_ELEMS) {
			r = send_tx(st, p + start, n);
			start += n;
			n = 0;
		}
		n += j - i;
		i = j;
	}
	if (!r)
		r = send_tx(st, p + start, n);
	wf_free(p);
	return r;
}

/* ---- dumps ---- */

typedef int (*dump_fn)(const struct nlmsghdr *nlh, void *data);

static int dump(struct nft_state *st, struct nlmsghdr *nlh, dump_fn cb, void *data)
{
	char buf[NL_BUF];
	uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(st->nl);
	ssize_t n;
	int r;

	if (mnl_socket_sendto(st->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(st->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

struct elem_dump {
	struct ops *ops;
	const char *set;
	int kind;
};

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct elem_dump *d = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it = NULL;
	struct nftnl_set_elem *e;
	int r = MNL_CB_OK;

	if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
		goto err;
	it = nftnl_set_elems_iter_create(s);
	if (!it)
		goto err;
	for (e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it)) {
		uint32_t kl = 0, el = 0, dl = 0;
		const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &kl);
		const void *end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)
					  ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &el)
					  : NULL;
		const void *dv = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)
					 ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dl)
					 : NULL;
		struct op *o;

		if (!k)
			continue;
		o = ops_push(d->ops);
		if (!o || op_fill(o, d->set, k, kl, end, end ? el : 0, dv, dv ? dl : 0, d->kind))
			goto err;
	}
	goto out;
err:
	r = MNL_CB_ERROR;
out:
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return r;
}

/* Appends every element of set `name` to l (kind: how they will be removed if stale). */
static int dump_set(struct nft_state *st, const char *name, struct ops *l, int kind)
{
	char buf[512];
	struct nftnl_set *s = nftnl_set_alloc();
	struct elem_dump d = {l, name, kind};
	struct nlmsghdr *nlh;
	int r;

	if (!s)
		return -ENOMEM;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, T);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
				    ++st->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = dump(st, nlh, elem_cb, &d);
	if (r < 0)
		snprintf(st->err, sizeof(st->err), "dumping set %s: %s", name, wf_strerror(r));
	return r;
}

/* The tag of the installed block (the comment of the rule in chain "block-tag"), or "". */
struct tag_dump {
	char *tag;
	size_t len;
};

static int tag_cb(const struct nlmsghdr *nlh, void *data)
{
	struct tag_dump *d = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	const uint8_t *u;
	uint32_t ul = 0;

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return MNL_CB_ERROR;
	}
	u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ul);
	/* userdata is TLVs (type, length, value); the comment is a NUL-terminated string. */
	for (uint32_t i = 0; u && i + 2 <= ul; i += 2u + u[i + 1]) {
		if (u[i] == 0 && u[i + 1] && i + 2u + u[i + 1] <= ul && !u[i + 1 + u[i + 1]])
			snprintf(d->tag, d->len, "%s", (const char *)u + i + 2);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int installed_tag(struct nft_state *st, char *tag, size_t len)
{
	char buf[512];
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct tag_dump d = {tag, len};
	struct nlmsghdr *nlh;
	int ret;

	if (!r)
		return -ENOMEM;
	tag[0] = 0;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, T);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "block-tag");
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
				    ++st->seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	ret = dump(st, nlh, tag_cb, &d);
	/* No table or no such chain: nothing (or something else) is installed. */
	return ret == -ENOENT ? 0 : ret;
}

/* Names of our table's chains (kind 1) and sets (2 set, 3 map). */
struct listing {
	struct wf_hash *names;
	char **owned;
	size_t n, cap;
	int want;
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
		copy = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY) == NFPROTO_INET && table &&
				       !strcmp(table, T) && name
			       ? wf_strdup(name)
			       : (char *)"";
		nftnl_chain_free(c);
	} else {
		struct nftnl_set *s = nftnl_set_alloc();

		if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0) {
			nftnl_set_free(s);
			return MNL_CB_ERROR;
		}
		table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
		name = nftnl_set_get_str(s, NFTNL_SET_NAME);
		kind = nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_MAP ? 3 : 2;
		copy = nftnl_set_get_u32(s, NFTNL_SET_FAMILY) == NFPROTO_INET && table &&
				       !strcmp(table, T) && name &&
				       !(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS)
			       ? wf_strdup(name)
			       : (char *)"";
		nftnl_set_free(s);
	}
	if (!copy)
		return MNL_CB_ERROR;
	if (!*copy)
		return MNL_CB_OK;
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
	return wf_hash_puts(l->names, copy, (void *)kind, NULL) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int list_objs(struct nft_state *st, struct listing *l, uint16_t type)
{
	char buf[512];
	struct nlmsghdr *nlh;
	int r;

	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, ++st->seq);
	if (type == NFT_MSG_GETSET)
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, T);
	l->want = type == NFT_MSG_GETCHAIN ? NFT_MSG_NEWCHAIN : NFT_MSG_NEWSET;
	r = dump(st, nlh, list_cb, l);
	return r == -ENOENT ? 0 : r;
}

static void listing_done(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		wf_free(l->owned[i]);
	wf_free(l->owned);
	wf_hash_free(l->names);
}

/* Names of the chains, sets and maps a rendered block declares ("\tchain X {", "\tset X {"),
 * into h (name -> kind as in struct listing). */
static int declared(const char *text, struct wf_hash *h, char ***owned, size_t *n)
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

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wf_free(v[i]);
	wf_free(v);
}

/* Sets whose elements are the plan's (not the block's addresses, not the dynamic maps). */
static bool planned_set(const char *name)
{
	return strncmp(name, "nodeips", 7) && strncmp(name, "clustercidrs", 12) &&
	       strncmp(name, "aff-", 4);
}

/* ---- the table block ---- */

/* The block's text and its tag (a hash of the text, fixed seed: the same in every process). */
static int block_text(const struct wf_proxy_model *m, struct wf_buf *out, char *tag, size_t tag_len)
{
	uint64_t h;
	int r;

	r = wf_proxy_render_block(m, out);
	if (!r && !wf_buf_cstr(out))
		r = -ENOMEM;
	if (r < 0)
		return r;
	h = wf_hash_seeded(wf_buf_data(out), wf_buf_len(out), TAG_SEED);
	snprintf(tag, tag_len, "weft-block-%016llx", (unsigned long long)h);
	return 0;
}

/* Installs the block in text (fresh: into no table). An existing table is updated in place:
 * its chains flushed and refilled, the node's address sets refilled, stale chains and sets
 * deleted; the planned sets keep their elements. If the kernel refuses that (a set whose type
 * changed), the table is replaced: *ret_fresh tells that no element is left. */
static int install_block(struct nft_state *st, const char *block, bool exists, bool *ret_fresh)
{
	struct listing l = {0};
	struct wf_hash *want = wf_hash_new(512);
	struct wf_buf text;
	char **owned = NULL;
	size_t n_owned = 0;
	int r = -ENOMEM;

	*ret_fresh = !exists;
	wf_buf_init(&text, TEXT_CAP);
	l.names = wf_hash_new(512);
	if (!want || !l.names)
		goto out;
	if (!exists) {
		r = run_text(st, block);
		goto out;
	}
	r = list_objs(st, &l, NFT_MSG_GETCHAIN);
	if (!r)
		r = list_objs(st, &l, NFT_MSG_GETSET);
	if (!r)
		r = declared(block, want, &owned, &n_owned);
	for (size_t i = 0; !r && i < l.n; i++) {
		uintptr_t kind = (uintptr_t)wf_hash_gets(l.names, l.owned[i]);

		if (kind == 1)
			r = wf_buf_printf(&text, "flush chain inet " T " %s\n", l.owned[i]);
		else if (!planned_set(l.owned[i]) && strncmp(l.owned[i], "aff-", 4))
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
	names_free(owned, n_owned);
	wf_hash_free(want);
	listing_done(&l);
	wf_buf_done(&text);
	return r;
}

/* ---- affinity clients ---- */

/* Affinity entries are "client . VIP . port : endpoint . port". An entry is stale when its
 * service no longer has that endpoint (or no affinity): it would keep sending the client to a
 * gone endpoint until it expires. valid: the (VIP, port, endpoint, port) tuples of m's
 * affinity services; scope: the (VIP, port) pairs whose entries are examined (NULL: all). */
static size_t tuple(uint8_t *out, const uint8_t *vip_port, size_t vl, const uint8_t *ep, size_t el)
{
	memcpy(out, vip_port, vl);
	memcpy(out + vl, ep, el);
	return vl + el;
}

struct affkeys {
	struct wf_hash *valid, *scope;
	uint8_t (*mem)[2 * WF_PROXY_KEY_MAX];
	size_t n, cap;
};

static int affkeys_put(struct affkeys *a, struct wf_hash *h, const uint8_t *b, size_t len)
{
	if (a->n == a->cap) {
		/* Keys are borrowed by the hash: they live in chunks that never move. */
		return -ENOSPC;
	}
	memcpy(a->mem[a->n], b, len);
	return wf_hash_put(h, a->mem[a->n++], len, (void *)1, NULL);
}

/* Adds s's (VIP, port) pairs (to scope) or its valid tuples (to valid). */
static int affkeys_svc(struct affkeys *a, const struct wf_proxy_model *m,
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

static size_t affkeys_count(const struct wf_proxy_model *m, const struct wf_proxy_svc *s)
{
	return (s->n_vips + m->n_node_ips) * (1 + s->n_eps + s->n_local_eps);
}

/* Appends OP_DESTROY ops for the stale entries of every aff map in `maps`. */
static int aff_stale(struct nft_state *st, const struct affkeys *a, char (*maps)[16], size_t n_maps,
		     struct ops *out)
{
	struct ops all = {0};
	int r = 0;

	for (size_t i = 0; !r && i < n_maps; i++) {
		size_t al = maps[i][strlen(maps[i]) - 1] == '6' ? 16 : 4;
		size_t from = all.n;

		r = dump_set(st, maps[i], &all, OP_DESTROY);
		for (size_t j = from; !r && j < all.n; j++) {
			const struct op *o = &all.v[j];
			const uint8_t *k = op_key(o);
			uint8_t t[2 * WF_PROXY_KEY_MAX];
			struct op *d;

			if (o->klen != 2 * al + 4 || o->dlen != al + 4)
				continue;
			/* key: client . VIP . port; data: endpoint . port */
			if (a->scope && !wf_hash_get(a->scope, k + al, al + 4))
				continue;
			if (wf_hash_get(a->valid, t, tuple(t, k + al, al + 4, k + o->klen, al + 4)))
				continue;
			d = ops_push(out);
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

static void affkeys_done(struct affkeys *a)
{
	wf_hash_free(a->valid);
	wf_hash_free(a->scope);
	wf_free(a->mem);
}

static int affkeys_init(struct affkeys *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->valid = wf_hash_new(cap);
	a->scope = wf_hash_new(16);
	a->mem = wf_reallocarray(NULL, cap ? cap : 1, sizeof(*a->mem));
	a->cap = cap;
	return a->valid && a->scope && a->mem ? 0 : -ENOMEM;
}

/* The dynamic affinity maps of m's block (none without affinity services). */
static size_t aff_maps(const struct wf_proxy_model *m, char (*names)[16])
{
	static const char *const sfx[] = {"tcp4", "udp4", "sctp4", "tcp6", "udp6", "sctp6"};
	uint32_t t;

	if (!wf_proxy_plan_timeouts(m, &t, 1))
		return 0;
	for (size_t i = 0; i < 6; i++)
		snprintf(names[i], 16, "aff-%s", sfx[i]);
	return 6;
}

/* ---- hairpin refcounts ---- */

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
			  struct ops *out)
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
			struct el_ctx c = {out, OP_ADD};
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
						r = el_to_op(&c, &el);
				}
				h->n++;
			} else if (h && --h->n == 0) {
				wf_hash_del(st->hairpin, &h->ip, sizeof(h->ip));
				wf_free(h);
				c.kind = OP_DEL;
				if (out)
					r = el_to_op(&c, &el);
			}
		}
	}
	return r;
}

/* What the block's text depends on (render.c): the node's addresses and cluster CIDRs, the
 * class count, pod_notrack and the affinity timeouts. Equal inputs, equal block: a delta need
 * not render it again. */
static uint64_t block_inputs(const struct wf_proxy_model *m)
{
	uint32_t touts[256];
	size_t n = wf_proxy_plan_timeouts(m, touts, 256);
	unsigned k = wf_proxy_plan_classes(m);
	uint64_t h;

	h = wf_hash_seeded(m->node_ips, m->n_node_ips * sizeof(*m->node_ips), TAG_SEED);
	h = wf_hash_seeded(m->cluster_cidrs, m->n_cluster_cidrs * sizeof(*m->cluster_cidrs), h);
	h = wf_hash_seeded(&k, sizeof(k), h);
	h = wf_hash_seeded(&m->pod_notrack, sizeof(m->pod_notrack), h);
	h = wf_hash_seeded(&n, sizeof(n), h);
	return wf_hash_seeded(touts, (n < 256 ? n : 256) * sizeof(*touts), h);
}

/* ---- the block's netlink part: IPv6 affinity rules and the tag ---- */

static struct nftnl_expr *put(struct nftnl_rule *r, const char *type, int *err)
{
	struct nftnl_expr *e = *err ? NULL : nftnl_expr_alloc(type);

	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	nftnl_rule_add_expr(r, e);
	return e;
}

static void put_cmp(struct nftnl_rule *r, uint32_t reg, uint32_t op, const void *v, uint32_t len,
		    int *err)
{
	struct nftnl_expr *e = put(r, "cmp", err);

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, v, len);
}

static void put_meta(struct nftnl_rule *r, uint32_t key, uint32_t reg, int *err)
{
	struct nftnl_expr *e = put(r, "meta", err);

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, reg);
}

static void put_ct(struct nftnl_rule *r, uint32_t key, uint32_t reg, int *err)
{
	struct nftnl_expr *e = put(r, "ct", err);

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	/* The tuple keys take a direction (original: 0); the kernel refuses one elsewhere. */
	if (key != NFT_CT_STATUS)
		nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, reg);
}

static void put_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
			uint32_t reg, int *err)
{
	struct nftnl_expr *e = put(r, "payload", err);

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
}

static void put_lookup(struct nftnl_rule *r, const char *set, uint32_t reg, int *err)
{
	struct nftnl_expr *e = put(r, "lookup", err);

	if (!e)
		return;
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, reg);
}

static struct nftnl_rule *rule_new(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, T) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

static int nlb_rule(struct nlb *b, struct nftnl_rule *r, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = nlb_hdr(b, type, flags);

	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nlb_next(b);
}

/* The IPv6 twin of render.c's affinity rule, in the expressions nft would generate for the
 * IPv4 one (nft 1.0.6 aborts on the IPv6 text):
 *   meta nfproto ipv6 meta l4proto P ct status dnat [ct original ip6 daddr @nodeips6]
 *   ct original ip6 daddr[ & ::] . ct original proto-dst @aff<T>-P6
 *   update @aff-P6 { ip6 saddr . ct original ip6 daddr . ct original proto-dst timeout T
 *                    : ip6 daddr . th dport }
 * Registers (32-bit): key 00-08 (16 + 16 + 4 bytes), data 09-13 (16 + 4). */
static int nlb_aff6_rule(struct nlb *b, uint8_t proto, uint32_t timeout, bool nodeport)
{
	struct nftnl_rule *r = rule_new("affinity6");
	struct nftnl_expr *e;
	char set[WF_PROXY_NAME_MAX], map[WF_PROXY_NAME_MAX];
	const char *p = wf_proxy_ipproto_name(proto);
	uint8_t nfproto = NFPROTO_IPV6, zero16[16] = {0};
	uint32_t dnat = 1u << 5 /* IPS_DST_NAT */, zero = 0;
	int err = 0;

	if (!r)
		return -ENOMEM;
	snprintf(set, sizeof(set), "aff%u-%s6", timeout, p);
	snprintf(map, sizeof(map), "aff-%s6", p);
	put_meta(r, NFT_META_NFPROTO, NFT_REG_1, &err);
	put_cmp(r, NFT_REG_1, NFT_CMP_EQ, &nfproto, 1, &err);
	put_meta(r, NFT_META_L4PROTO, NFT_REG_1, &err);
	put_cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, 1, &err);
	put_ct(r, NFT_CT_STATUS, NFT_REG_1, &err);
	e = put(r, "bitwise", &err);
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &dnat, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	}
	put_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, 4, &err);
	if (nodeport) {
		put_ct(r, NFT_CT_DST_IP6, NFT_REG32_00, &err);
		put_lookup(r, "nodeips6", NFT_REG32_00, &err);
	}
	put_ct(r, NFT_CT_DST_IP6, NFT_REG32_00, &err);
	if (nodeport) {
		/* NodePort keys have address 0: "& ::" */
		e = put(r, "bitwise", &err);
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG32_00);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG32_00);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 16);
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, zero16, 16);
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero16, 16);
		}
	}
	put_ct(r, NFT_CT_PROTO_DST, NFT_REG32_04, &err);
	put_lookup(r, set, NFT_REG32_00, &err);
	put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG32_00, &err);
	put_ct(r, NFT_CT_DST_IP6, NFT_REG32_04, &err);
	put_ct(r, NFT_CT_PROTO_DST, NFT_REG32_08, &err);
	put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG32_09, &err);
	put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_13, &err);
	e = put(r, "dynset", &err);
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG32_00);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_DATA, NFT_REG32_09);
		nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, (uint64_t)timeout * 1000);
		nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, map);
	}
	if (err) {
		nftnl_rule_free(r);
		return err;
	}
	return nlb_rule(b, r, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
}

/* The tag rule: "accept" with the tag as its comment, in a chain nothing jumps to. */
static int nlb_tag_rule(struct nlb *b, const char *tag)
{
	struct nftnl_rule *r = rule_new("block-tag");
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	struct nftnl_expr *e;
	int err = 0;

	if (!r || !u || !nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, tag)) {
		nftnl_rule_free(r);
		nftnl_udata_buf_free(u);
		return -ENOMEM;
	}
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
			    nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
	e = put(r, "immediate", &err);
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	}
	if (err) {
		nftnl_rule_free(r);
		return err;
	}
	return nlb_rule(b, r, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
}

/* One transaction after the text block: (re)writes the IPv6 affinity rules, then the tag -
 * so a tag read back means that both parts are in. */
static int block_netlink(struct nft_state *st, const struct wf_proxy_model *m, const char *tag)
{
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP};
	uint32_t touts[256];
	size_t n_touts = wf_proxy_plan_timeouts(m, touts, 256);
	struct nlb b = {.st = st};
	struct nftnl_rule *r;
	int ret;

	if (n_touts > 256)
		return -WF_E_TOO_BIG;
	b.size = 65536 + n_touts * 6 * 1024;
	b.buf = wf_malloc(2 * b.size);
	if (!b.buf)
		return -ENOMEM;
	b.b = mnl_nlmsg_batch_start(b.buf, b.size);
	if (!b.b) {
		wf_free(b.buf);
		return -ENOMEM;
	}
	nftnl_batch_begin(mnl_nlmsg_batch_current(b.b), ++st->seq);
	ret = nlb_next(&b);
	/* Flush: a rule deletion naming only the chain. */
	for (int i = 0; !ret && i < 2; i++) {
		if (i == 0 && !n_touts)
			continue;
		r = rule_new(i ? "block-tag" : "affinity6");
		ret = r ? nlb_rule(&b, r, NFT_MSG_DELRULE, 0) : -ENOMEM;
	}
	for (size_t t = 0; !ret && t < n_touts; t++)
		for (size_t j = 0; !ret && j < 3; j++) {
			ret = nlb_aff6_rule(&b, protos[j], touts[t], false);
			if (!ret)
				ret = nlb_aff6_rule(&b, protos[j], touts[t], true);
		}
	if (!ret)
		ret = nlb_tag_rule(&b, tag);
	if (!ret) {
		nftnl_batch_end(mnl_nlmsg_batch_current(b.b), ++st->seq);
		ret = nlb_next(&b);
	}
	if (!ret)
		ret = nlb_send(&b);
	mnl_nlmsg_batch_stop(b.b);
	wf_free(b.buf);
	return ret;
}

/* ---- full reconcile ---- */

static int block_ensure(struct nft_state *st, const struct wf_proxy_model *m, bool *ret_fresh,
			bool *ret_changed)
{
	struct wf_buf block;
	char tag[40], have[64];
	int r;

	*ret_fresh = *ret_changed = false;
	wf_buf_init(&block, TEXT_CAP);
	r = block_text(m, &block, tag, sizeof(tag));
	if (!r && st->tag[0] && !strcmp(st->tag, tag))
		goto out;
	if (!r)
		r = installed_tag(st, have, sizeof(have));
	if (!r && strcmp(have, tag)) {
		struct listing probe = {.names = wf_hash_new(8)};

		/* Is there a table at all? One chain dump tells. */
		r = probe.names ? list_objs(st, &probe, NFT_MSG_GETCHAIN) : -ENOMEM;
		if (!r)
			r = install_block(st, (const char *)wf_buf_data(&block), probe.n > 0,
					  ret_fresh);
		if (!r)
			r = block_netlink(st, m, tag);
		listing_done(&probe);
		*ret_changed = true;
	}
	if (!r)
		snprintf(st->tag, sizeof(st->tag), "%s", tag);
out:
	if (!r)
		st->inputs = block_inputs(m);
	wf_buf_done(&block);
	return r;
}

static int reconcile(struct nft_state *st, const struct wf_proxy_model *m)
{
	struct wf_hash *names = wf_hash_new(512);
	struct ops have = {0}, want = {0}, out = {0};
	struct el_ctx c = {&want, OP_ADD};
	struct affkeys a = {0};
	struct wf_buf block;
	char tag[40], **owned = NULL, maps[6][16];
	size_t n_owned = 0, n_maps, cap = 0;
	bool fresh, changed;
	int r;

	wf_buf_init(&block, TEXT_CAP);
	r = names ? block_ensure(st, m, &fresh, &changed) : -ENOMEM;
	if (!r)
		r = block_text(m, &block, tag, sizeof(tag));
	if (!r)
		r = declared((const char *)wf_buf_data(&block), names, &owned, &n_owned);
	for (size_t i = 0; !r && !fresh && i < n_owned; i++)
		if ((uintptr_t)wf_hash_gets(names, owned[i]) != 1 && planned_set(owned[i]))
			r = dump_set(st, owned[i], &have, OP_DEL);
	if (!r)
		r = wf_proxy_plan_all(m, el_to_op, &c);
	if (!r)
		r = ops_diff(&have, &want, &out);
	/* Affinity clients of endpoints that went while no agent was watching. */
	for (size_t i = 0; i < m->n_svcs; i++)
		if (m->svcs[i].affinity_timeout)
			cap += affkeys_count(m, &m->svcs[i]);
	n_maps = aff_maps(m, maps);
	if (!r && !fresh && n_maps) {
		r = affkeys_init(&a, cap);
		if (!r) {
			wf_hash_free(a.scope);
			a.scope = NULL;
		}
		for (size_t i = 0; !r && i < m->n_svcs; i++)
			if (m->svcs[i].affinity_timeout)
				r = affkeys_svc(&a, m, &m->svcs[i], false);
		if (!r)
			r = aff_stale(st, &a, maps, n_maps, &out);
	}
	if (!r)
		r = send_ops(st, &out);
	if (!r) {
		hairpin_clear(st);
		for (size_t i = 0; !r && i < m->n_svcs; i++)
			r = hairpin_adjust(st, &m->svcs[i], +1, NULL);
	}
	if (r < 0)
		st->tag[0] = 0; /* re-read next time */
	affkeys_done(&a);
	names_free(owned, n_owned);
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
	uint64_t t0 = now_ns();
	int r;

	st->err[0] = 0;
	st->stats.max_tx_ns = 0;
	r = reconcile(st, m);
	if (!r)
		st->stats.full_loads++;
	st->stats.last_apply_ns = now_ns() - t0;
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
	struct ops have = {0}, want = {0}, out = {0};
	struct el_ctx cd = {&have, OP_DEL}, ca = {&want, OP_ADD};
	struct affkeys a = {0};
	const struct wf_proxy_svc *o, *n;
	char maps[6][16];
	size_t n_maps, cap = 0;
	bool aff = false;
	int r = 0;

	while (!r && svc_pairs_next(p, &o, &n)) {
		if (o)
			r = wf_proxy_svc_plan(p->om, o, el_to_op, &cd);
		if (!r && n)
			r = wf_proxy_svc_plan(p->nm, n, el_to_op, &ca);
		if (!r)
			r = hairpin_adjust(st, o, -1, &have);
		if (!r)
			r = hairpin_adjust(st, n, +1, &want);
		if (o && o->affinity_timeout) {
			aff = true;
			cap += affkeys_count(p->om, o) + (n ? affkeys_count(p->nm, n) : 0);
		}
	}
	if (!r)
		r = ops_diff(&have, &want, &out);
	n_maps = aff_maps(p->om, maps);
	if (!r && aff && n_maps) {
		/* Clients of the changed affinity services whose endpoint went away. */
		r = affkeys_init(&a, cap);
		svc_pairs_rewind(p);
		while (!r && svc_pairs_next(p, &o, &n)) {
			if (!o || !o->affinity_timeout)
				continue;
			r = affkeys_svc(&a, p->om, o, true);
			if (!r && n && n->affinity_timeout)
				r = affkeys_svc(&a, p->nm, n, false);
		}
		if (!r)
			r = aff_stale(st, &a, maps, n_maps, &out);
	}
	if (!r)
		r = send_ops(st, &out);
	affkeys_done(&a);
	wf_free(have.v);
	wf_free(want.v);
	wf_free(out.v);
	return r;
}

/* Whether the model's table block differs from the one in the kernel (their tags tell): then
 * the rules change and the delta becomes a reconcile. 1: it differs, 0: it does not, < 0: error.
 * Equal inputs to an installed block need not render it. */
static int block_differs(const struct nft_state *st, const struct wf_proxy_model *m,
			 uint64_t inputs)
{
	struct wf_buf block;
	char tag[40];
	int r;

	if (st->tag[0] && inputs == st->inputs)
		return 0;
	wf_buf_init(&block, TEXT_CAP);
	r = block_text(m, &block, tag, sizeof(tag));
	wf_buf_done(&block);
	if (r)
		return r;
	return strcmp(tag, st->tag) != 0;
}

static int apply_delta(struct nft_state *st, struct svc_pairs *p)
{
	uint64_t t0 = now_ns(), inputs = block_inputs(p->nm);
	int r;

	st->err[0] = 0;
	st->stats.max_tx_ns = 0;
	r = block_differs(st, p->nm, inputs);
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
	st->stats.last_apply_ns = now_ns() - t0;
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
	.apply_changes = nft_changes,
	.ct_flush = nft_ct_flush,
	.stats = nft_stats,
	.error = nft_error,
	.done = nft_done,
};
