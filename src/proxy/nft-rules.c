/* The table block's part that libnftnl writes (nft-internal.h): chain affinity6's rules, built
 * expression by expression because nft 1.0.6 aborts on their text, and the tag rule that
 * marks the block as complete. One transaction, after the libnftables text (nft-block.c). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <linux/netlink.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "lib/error.h"
#include "proxy/nft-internal.h"

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
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, WF_PROXY_TABLE) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* The IPv6 twin of render.c's affinity rule, in the expressions nft would generate for the
 * IPv4 one (nft 1.0.6 aborts on the IPv6 text):
 *   meta nfproto ipv6 meta l4proto P ct status dnat [ct original ip6 daddr @nodeips6]
 *   ct original ip6 daddr[ & ::] . ct original proto-dst @aff<T>-P6
 *   update @aff-P6 { ip6 saddr . ct original ip6 daddr . ct original proto-dst timeout T
 *                    : ip6 daddr . th dport }
 * Registers (32-bit): key 00-08 (16 + 16 + 4 bytes), data 09-13 (16 + 4). */
static int nlb_aff6_rule(struct nft_nlb *b, uint8_t proto, uint32_t timeout, bool nodeport)
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
	return nft_nlb_rule(b, r, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
}

/* The tag rule: "accept" with the tag as its comment, in a chain nothing jumps to. */
static int nlb_tag_rule(struct nft_nlb *b, const char *tag)
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
	return nft_nlb_rule(b, r, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
}

int nft_rules_write(struct nft_nl *nl, const struct wf_proxy_model *m, const char *tag)
{
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP};
	uint32_t touts[256];
	size_t n_touts = wf_proxy_plan_timeouts(m, touts, 256);
	struct nft_nlb b;
	struct nftnl_rule *r;
	int ret;

	if (n_touts > 256)
		return -WF_E_TOO_BIG;
	ret = nft_nlb_init(&b, nl, 65536 + n_touts * 6 * 1024);
	/* Flush: a rule deletion naming only the chain. */
	for (int i = 0; !ret && i < 2; i++) {
		if (i == 0 && !n_touts)
			continue;
		r = rule_new(i ? "block-tag" : "affinity6");
		ret = r ? nft_nlb_rule(&b, r, NFT_MSG_DELRULE, 0) : -ENOMEM;
	}
	for (size_t t = 0; !ret && t < n_touts; t++)
		for (size_t j = 0; !ret && j < 3; j++) {
			ret = nlb_aff6_rule(&b, protos[j], touts[t], false);
			if (!ret)
				ret = nlb_aff6_rule(&b, protos[j], touts[t], true);
		}
	if (!ret)
		ret = nlb_tag_rule(&b, tag);
	if (!ret)
		ret = nft_nlb_send(&b);
	nft_nlb_done(&b);
	return ret;
}
