/* The nft backend's netlink layer (nft-internal.h): one NETLINK_NETFILTER socket, batches
 * (transactions) of rule or element messages, and the dumps the backend reads back - the
 * elements of a set, the tag rule, the names of the table's chains and sets.
 *
 * Element ops go out in transactions of at most MAX_TX_ELEMS elements cut at group (service
 * key) boundaries, so that every key is complete or absent in between; inside one, deletes go
 * before adds and at most MSG_ELEMS elements share a message. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/hash.h"
#include "proxy/nft-internal.h"

#define T WF_PROXY_TABLE
/* Elements per transaction: about 2 us each in the kernel, so ~50 ms at most (RESULTS.md). */
#define MAX_TX_ELEMS 20000
/* Elements per netlink message: the element list is one attribute, whose length is 16 bits. */
#define MSG_ELEMS 256
/* Delete an element if it is there (Linux 6.3); uapi headers of Debian 12 predate it. */
#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM 30
#endif

int nft_nl_init(struct nft_nl *nl, char *err, size_t err_len, struct wf_proxy_stats *stats)
{
	nl->err = err;
	nl->err_len = err_len;
	nl->stats = stats;
	nl->sock = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void nft_nl_done(struct nft_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

/* ---- batches ---- */

static struct nlmsghdr *nlb_hdr(struct nft_nlb *b, uint16_t type, uint16_t flags)
{
	b->msgs++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b->b), type, NFPROTO_INET, flags,
				     ++b->nl->seq);
}

static int nlb_next(struct nft_nlb *b)
{
	return mnl_nlmsg_batch_next(b->b) ? 0 : -ENOBUFS;
}

int nft_nlb_init(struct nft_nlb *b, struct nft_nl *nl, size_t size)
{
	*b = (struct nft_nlb){.nl = nl, .size = size};
	/* The last message may run past the limit: the buffer has room for it. */
	b->buf = wf_malloc(2 * size);
	if (!b->buf)
		return -ENOMEM;
	b->b = mnl_nlmsg_batch_start(b->buf, size);
	if (!b->b)
		return -ENOMEM;
	nftnl_batch_begin(mnl_nlmsg_batch_current(b->b), ++nl->seq);
	return nlb_next(b);
}

void nft_nlb_done(struct nft_nlb *b)
{
	if (b->b)
		mnl_nlmsg_batch_stop(b->b);
	wf_free(b->buf);
	b->b = NULL;
	b->buf = NULL;
}

int nft_nlb_rule(struct nft_nlb *b, struct nftnl_rule *r, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = nlb_hdr(b, type, flags);

	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nlb_next(b);
}

/* Ends the batch, sends it and collects the kernel's verdict: errors are always reported
 * (with or without NLM_F_ACK), synchronously, so they are queued when sendto returns. */
int nft_nlb_send(struct nft_nlb *b)
{
	struct nft_nl *nl = b->nl;
	uint64_t t0, dt;
	size_t len;
	int err;

	nftnl_batch_end(mnl_nlmsg_batch_current(b->b), ++nl->seq);
	err = nlb_next(b);
	if (err)
		return err;
	len = mnl_nlmsg_batch_size(b->b);
	t0 = wf_now_ns();
	if ((size_t)nl->sndbuf < len + 4096) {
		int want = (int)(len + 65536);

		/* The batch goes in one sendmsg: the socket buffer must hold it. */
		if (setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_SNDBUFFORCE, &want,
			       sizeof(want)) == -1 &&
		    setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_SNDBUF, &want,
			       sizeof(want)) == -1)
			return -errno;
		nl->sndbuf = want;
	}
	if (mnl_socket_sendto(nl->sock, mnl_nlmsg_batch_head(b->b), len) < 0)
		return -errno;
	for (;;) {
		ssize_t n =
			recv(mnl_socket_get_fd(nl->sock), nl->buf, sizeof(nl->buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)nl->buf;
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
	dt = wf_now_ns() - t0;
	nl->stats->transactions++;
	if (dt > nl->stats->max_tx_ns)
		nl->stats->max_tx_ns = dt;
	if (err) {
		snprintf(nl->err, nl->err_len, "netlink batch: %s", wf_strerror(err));
		return err;
	}
	return 0;
}

/* ---- element transactions ---- */

/* One message carrying ops[from, to) of one set and one kind. */
static int nlb_elems(struct nft_nlb *b, struct nft_op *const *ops, size_t from, size_t to)
{
	const struct nft_op *first = ops[from];
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	uint16_t type = first->kind == NFT_OP_ADD   ? NFT_MSG_NEWSETELEM
			: first->kind == NFT_OP_DEL ? NFT_MSG_DELSETELEM
						    : NFT_MSG_DESTROYSETELEM;

	if (!s)
		return -ENOMEM;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, T) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, nft_op_set(first)) < 0)
		goto nomem;
	for (size_t i = from; i < to; i++) {
		const struct nft_op *o = ops[i];
		const uint8_t *k = nft_op_key(o);
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();

		if (!e)
			goto nomem;
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k, o->klen);
		if (o->endlen)
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, k + o->klen, o->endlen);
		if (o->dlen && o->kind == NFT_OP_ADD)
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, k + o->klen + o->endlen,
					   o->dlen);
		nftnl_set_elem_add(s, e);
	}
	nlh = nlb_hdr(b, type, first->kind == NFT_OP_ADD ? NLM_F_CREATE : 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nlb_next(b);
nomem:
	nftnl_set_free(s);
	return -ENOMEM;
}

static int op_msg_cmp(const void *pa, const void *pb)
{
	const struct nft_op *a = *(const struct nft_op *const *)pa;
	const struct nft_op *b = *(const struct nft_op *const *)pb;
	int c;

	/* Deletes before adds: a key whose data changes is deleted, then added. */
	if (a->kind != b->kind)
		return a->kind == NFT_OP_ADD   ? 1
		       : b->kind == NFT_OP_ADD ? -1
					       : (int)a->kind - (int)b->kind;
	c = strcmp(nft_op_set(a), nft_op_set(b));
	return c ? c : (a < b ? -1 : a > b);
}

/* One transaction with the ops given (pointers), deletes first. */
static int send_tx(struct nft_nl *nl, struct nft_op **ops, size_t n)
{
	struct nft_nlb b;
	int r;

	if (!n)
		return 0;
	qsort(ops, n, sizeof(*ops), op_msg_cmp);
	r = nft_nlb_init(&b, nl, 8192 + n * 192 + (n / MSG_ELEMS + 64) * 256);
	for (size_t i = 0; !r && i < n;) {
		size_t j = i + 1;

		while (j < n && j - i < MSG_ELEMS && ops[j]->kind == ops[i]->kind &&
		       !strcmp(nft_op_set(ops[j]), nft_op_set(ops[i])))
			j++;
		r = nlb_elems(&b, ops, i, j);
		i = j;
	}
	if (!r)
		r = nft_nlb_send(&b);
	if (!r) {
		nl->stats->nl_messages += b.msgs;
		nl->stats->elements += n;
	}
	nft_nlb_done(&b);
	return r;
}

static int op_grp_cmp(const void *pa, const void *pb)
{
	const struct nft_op *a = pa, *b = pb;

	if (a->grp != b->grp)
		return a->grp < b->grp ? -1 : 1;
	return (int)a->kind - (int)b->kind;
}

int nft_nl_send_ops(struct nft_nl *nl, struct nft_ops *l)
{
	struct nft_op **p;
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
			r = send_tx(nl, p + start, n);
			start += n;
			n = 0;
		}
		n += j - i;
		i = j;
	}
	if (!r)
		r = send_tx(nl, p + start, n);
	wf_free(p);
	return r;
}

/* ---- dumps ---- */

typedef int (*dump_fn)(const struct nlmsghdr *nlh, void *data);

static int dump(struct nft_nl *nl, struct nlmsghdr *nlh, dump_fn cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl->sock);
	ssize_t n;
	int r;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(nl->buf, (size_t)n, seq, portid, cb, data);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

struct elem_dump {
	struct nft_ops *ops;
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
		struct nft_op *o;

		if (!k)
			continue;
		o = nft_ops_push(d->ops);
		if (!o ||
		    nft_op_fill(o, d->set, k, kl, end, end ? el : 0, dv, dv ? dl : 0, d->kind))
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

int nft_nl_dump_set(struct nft_nl *nl, const char *name, struct nft_ops *l, int kind)
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
				    ++nl->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = dump(nl, nlh, elem_cb, &d);
	if (r < 0)
		snprintf(nl->err, nl->err_len, "dumping set %s: %s", name, wf_strerror(r));
	return r;
}

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

int nft_nl_installed_tag(struct nft_nl *nl, char *tag, size_t len)
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
				    ++nl->seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	ret = dump(nl, nlh, tag_cb, &d);
	/* No table or no such chain: nothing (or something else) is installed. */
	return ret == -ENOENT ? 0 : ret;
}

/* ---- listings ---- */

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_listing *l = data;
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

int nft_nl_list(struct nft_nl *nl, struct nft_listing *l, uint16_t type)
{
	char buf[512];
	struct nlmsghdr *nlh;
	int r;

	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, ++nl->seq);
	if (type == NFT_MSG_GETSET)
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, T);
	l->want = type == NFT_MSG_GETCHAIN ? NFT_MSG_NEWCHAIN : NFT_MSG_NEWSET;
	r = dump(nl, nlh, list_cb, l);
	return r == -ENOENT ? 0 : r;
}

void nft_listing_done(struct nft_listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		wf_free(l->owned[i]);
	wf_free(l->owned);
	wf_hash_free(l->names);
}
