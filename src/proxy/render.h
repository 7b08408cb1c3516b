/* The proxy's nftables ruleset as nft text: the output of `weft render proxy` and the golden
 * tests' subject (the whole table, elements included), and the table block the nft backend
 * installs with libnftables before it sends the elements over netlink.
 *
 * Thread context: pure; any thread. Errors: -ENOMEM, -WF_E_TOO_BIG (buffer cap). */
#pragma once
#include "lib/buf-types.h"
#include "proxy/model-types.h"
#include "proxy/nft-plan.h"

/* Appends the whole table ("table inet weft { ... }") for m to out, every element inline. */
int wf_proxy_render(const struct wf_proxy_model *m, struct wf_buf *out);
/* Appends the table block for m: sets, maps and rules with no service elements (the node's
 * addresses and cluster CIDRs are part of it). The block depends on m only through those, the
 * class count and the affinity timeouts. Two things nft text cannot carry are left to the
 * writer (commented in the text): the IPv6 affinity rules (chain affinity6) and the rule in
 * chain block-tag that names the block installed. */
int wf_proxy_render_block(const struct wf_proxy_model *m, struct wf_buf *out);
/* Appends one element as nft writes it inside a set ("10.96.0.1 . 80 . 0 : 10.244.1.5 . 8080"). */
int wf_proxy_render_el(const struct wf_proxy_el *e, struct wf_buf *out);
