/* Private to the nftables backend (nft.c and nft-*.c; docs/internals/proxy.md "nft backend
 * modules"): what its modules share. Nothing outside them includes this header.
 *
 *   nft.c        the backend proper: state, full reconcile, deltas, hairpin refcounts, ops table
 *   nft-block.c  the table block: its text and tag, libnftables install, when to rewrite it
 *   nft-rules.c  the block's part written by libnftnl: IPv6 affinity rules and the tag rule
 *   nft-aff.c    affinity clients whose endpoint went away
 *   nft-nl.c     the netlink layer: batches, element transactions, dumps, listings
 *   nft-ops.c    element operations and their diff
 *
 * Thread context: everything belongs to the thread that owns the backend's state; nothing
 * here locks. Errors are -errno (or -WF_E_*), with a description in the state's error text
 * where the original failure is known. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy/nft-plan.h"
#include "proxy/proxy-types.h"

struct mnl_socket;
struct nft_ctx;
struct nftnl_rule;
struct mnl_nlmsg_batch;
struct wf_buf;
struct wf_hash;

/* Cap of the block's text (render.c) and of the libnftables commands built around it. */
#define NFT_TEXT_CAP (1u << 26)
/* Receive buffer: a page-sized dump chunk is at most 16 KiB (MNL_SOCKET_DUMP_SIZE is 32 KiB). */
#define NFT_NL_BUF 32768
/* Fixed seed: the block tag must be the same in every process. */
#define NFT_TAG_SEED 0x77656674u
/* The block tag, "weft-block-<16 hex>", and its NUL. */
#define NFT_TAG_MAX 40

/* ---- element operations (nft-ops.c) ---- */

/* One element to add or delete. id is "set\0" key key_end data: equal ids, equal elements. */
struct nft_op {
	uint64_t grp; /* service key (family, protocol, address, port) or hairpin address */
	uint16_t idlen;
	uint8_t klen, endlen, dlen;
	uint8_t kind; /* NFT_OP_ADD, NFT_OP_DEL, NFT_OP_DESTROY */
	bool keep;    /* diff: present on both sides */
	uint8_t id[WF_PROXY_NAME_MAX + 3 * WF_PROXY_KEY_MAX];
};

enum {
	NFT_OP_ADD,
	NFT_OP_DEL,
	NFT_OP_DESTROY /* delete if present (NFT_MSG_DESTROYSETELEM) */
};

/* A growing array of ops; {0} is empty, wf_free(v) releases it. */
struct nft_ops {
	struct nft_op *v;
	size_t n, cap;
};

static inline const char *nft_op_set(const struct nft_op *o)
{
	return (const char *)o->id;
}

static inline const uint8_t *nft_op_key(const struct nft_op *o)
{
	return o->id + strlen(nft_op_set(o)) + 1;
}

/* A new op at the end of l, its header zeroed; NULL when out of memory. */
struct nft_op *nft_ops_push(struct nft_ops *l);
/* Fills o with one element of set (end: the interval end, or endlen 0; data: the map's value,
 * or dlen 0) and its group. -EINVAL when a part is longer than the plan's limits. */
int nft_op_fill(struct nft_op *o, const char *set, const uint8_t *key, size_t klen,
		const uint8_t *end, size_t endlen, const uint8_t *data, size_t dlen, int kind);

/* A wf_proxy_plan callback (nft-plan.h): appends each element to ops as an op of kind. */
struct nft_el_ctx {
	struct nft_ops *ops;
	int kind;
};
int nft_el_to_op(void *ud, const struct wf_proxy_el *e);

/* The difference from `have` (what is installed) to `want`: appends to out the deletes of
 * what only have holds and the adds of what only want holds. Uses the `keep` flags of both
 * (have and want are otherwise unchanged). 0 or -ENOMEM. */
int nft_ops_diff(struct nft_ops *have, struct nft_ops *want, struct nft_ops *out);

/* ---- the netlink layer (nft-nl.c) ---- */

/* One NETLINK_NETFILTER socket for element batches, rule batches and dumps; embedded in the
 * backend's state (nft_nl_init/_done). */
struct nft_nl {
	struct mnl_socket *sock;
	uint32_t seq; /* last sequence number used */
	int sndbuf;   /* send buffer size as last raised, 0 until then */
	char *err;    /* where failures are described: the backend's error text (borrowed) */
	size_t err_len;
	/* The backend's counters (borrowed): this layer counts transactions, max_tx_ns (the
	 * backend resets it per apply), nl_messages and elements. */
	struct wf_proxy_stats *stats;
	/* Answers and dump chunks are read here (one at a time: no dump runs inside another). */
	char buf[NFT_NL_BUF] __attribute__((aligned(8)));
};

/* Opens and binds the socket; err receives failure text and stats the counters (both
 * borrowed, valid while nl is). -errno; nft_nl_done is safe after a failure. */
int nft_nl_init(struct nft_nl *nl, char *err, size_t err_len, struct wf_proxy_stats *stats);
void nft_nl_done(struct nft_nl *nl);

/* Sends ops (sorted in place) in transactions of at most 20,000 elements, cut only between
 * groups (a group larger than that goes alone); inside one, deletes before adds. */
int nft_nl_send_ops(struct nft_nl *nl, struct nft_ops *l);
/* Appends every element of set `name` to l as ops of kind (how they will be removed if
 * stale). */
int nft_nl_dump_set(struct nft_nl *nl, const char *name, struct nft_ops *l, int kind);
/* The tag of the installed block (the comment of the rule in chain "block-tag") into tag, ""
 * when there is no table or no such chain. */
int nft_nl_installed_tag(struct nft_nl *nl, char *tag, size_t len);

/* Names of our table's chains (kind 1) and sets (2 set, 3 map): the caller creates names
 * (wf_hash_new) and releases everything with nft_listing_done. */
struct nft_listing {
	struct wf_hash *names; /* name -> kind (uintptr_t) */
	char **owned;	       /* the names, in dump order */
	size_t n, cap;
	int want;
};
/* Appends the table's chains (type NFT_MSG_GETCHAIN) or sets and maps (NFT_MSG_GETSET) to l;
 * no table is an empty listing. */
int nft_nl_list(struct nft_nl *nl, struct nft_listing *l, uint16_t type);
void nft_listing_done(struct nft_listing *l);

/* A netlink transaction being built: nft_nlb_init (buffer for `size` bytes of messages, the
 * batch's begin message), messages, nft_nlb_send (the end message, one sendmsg, the kernel's
 * verdict), then always nft_nlb_done. */
struct nft_nlb {
	struct nft_nl *nl;
	char *buf;
	size_t size;
	struct mnl_nlmsg_batch *b;
	unsigned msgs;
};
int nft_nlb_init(struct nft_nlb *b, struct nft_nl *nl, size_t size);
/* One message with rule r (taken: freed in any case). */
int nft_nlb_rule(struct nft_nlb *b, struct nftnl_rule *r, uint16_t type, uint16_t flags);
int nft_nlb_send(struct nft_nlb *b);
void nft_nlb_done(struct nft_nlb *b);

/* ---- the block's rules written by libnftnl (nft-rules.c) ---- */

/* One transaction after the text block: (re)writes the IPv6 affinity rules of m's timeouts,
 * then the tag rule - so a tag read back means that both parts are in. */
int nft_rules_write(struct nft_nl *nl, const struct wf_proxy_model *m, const char *tag);

/* ---- the backend's state (nft.c) ---- */

struct nft_state {
	struct nft_ctx *nft;
	struct wf_hash *hairpin; /* struct wf_ip -> struct hp, a refcount (nft.c) */
	char tag[NFT_TAG_MAX];	 /* tag of the block installed, "" when unknown */
	uint64_t inputs;	 /* nft_block_inputs() of the model that block was rendered from */
	struct wf_proxy_stats stats;
	char err[1024];
	struct nft_nl nl;
};

/* ---- the table block (nft-block.c) ---- */

/* The block's text (render.c) into out, NUL-terminated, and its tag. */
int nft_block_text(const struct wf_proxy_model *m, struct wf_buf *out, char *tag, size_t tag_len);
/* A hash of what the block's text depends on: equal inputs, equal block. */
uint64_t nft_block_inputs(const struct wf_proxy_model *m);
/* Makes the installed block m's (nothing written when the tags already agree); *ret_fresh:
 * the table was created or replaced, so no element is installed; *ret_changed: a block was
 * written. Records the tag and inputs in st. */
int nft_block_ensure(struct nft_state *st, const struct wf_proxy_model *m, bool *ret_fresh,
		     bool *ret_changed);
/* 1 when m's block differs from the installed one (inputs: nft_block_inputs(m)), 0 when
 * not, < 0 on error. */
int nft_block_differs(const struct nft_state *st, const struct wf_proxy_model *m, uint64_t inputs);
/* Names of the chains, sets and maps a rendered block declares, into h (name -> kind as in
 * struct nft_listing); the copies are appended to *owned (*n of them; nft_names_free). */
int nft_block_declared(const char *text, struct wf_hash *h, char ***owned, size_t *n);
void nft_names_free(char **v, size_t n);

/* ---- affinity clients (nft-aff.c) ---- */

/* Affinity entries are "client . VIP . port : endpoint . port". An entry is stale when its
 * service no longer has that endpoint (or no affinity): it would keep sending the client to a
 * gone endpoint until it expires. valid: the (VIP, port, endpoint, port) tuples of the
 * affinity services; scope: the (VIP, port) pairs whose entries are examined (NULL: all). */
struct nft_affkeys {
	struct wf_hash *valid, *scope;
	uint8_t (*mem)[2 * WF_PROXY_KEY_MAX];
	size_t n, cap;
};

/* Room for cap keys (the sum of nft_affkeys_count of the services to be added). */
int nft_affkeys_init(struct nft_affkeys *a, size_t cap);
void nft_affkeys_done(struct nft_affkeys *a);
/* The keys service s of m adds: its (VIP, port) pairs to scope (scope true), else its valid
 * tuples. -ENOSPC past the capacity. */
int nft_affkeys_svc(struct nft_affkeys *a, const struct wf_proxy_model *m,
		    const struct wf_proxy_svc *s, bool scope);
/* An upper bound of the keys nft_affkeys_svc adds for s. */
size_t nft_affkeys_count(const struct wf_proxy_model *m, const struct wf_proxy_svc *s);
/* The dynamic affinity maps of m's block into names (none without affinity services). */
size_t nft_aff_maps(const struct wf_proxy_model *m, char (*names)[16]);
/* Appends NFT_OP_DESTROY ops for the stale entries of every map in `maps` (dumped). */
int nft_aff_stale(struct nft_nl *nl, const struct nft_affkeys *a, char (*maps)[16], size_t n_maps,
		  struct nft_ops *out);
