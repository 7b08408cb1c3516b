/* The proxy's nftables ruleset as nft text: the output of `weft render proxy`, the golden
 * tests' subject, and what the nft backend installs in one libnftables transaction.
 *
 * Thread context: pure; any thread. Errors: -ENOMEM, -WF_E_TOO_BIG (buffer cap). */
#pragma once
#include "lib/buf-types.h"
#include "proxy/model-types.h"
#include "proxy/nft-plan.h"

/* Appends the whole table ("table inet weft { ... }") for m to out. */
int wf_proxy_render(const struct wf_proxy_model *m, struct wf_buf *out);
/* Appends the per-service chains and maps of s in a "table inet weft { ... }" block: nft
 * "add" semantics, so it creates what is missing. */
int wf_proxy_render_svc_objs(const struct wf_proxy_model *m, const struct wf_proxy_svc *s,
			     struct wf_buf *out);
/* Appends standalone commands that take the load-balancing chain(s) of a service from old's
 * endpoints to s's (same shape): "flush chain ...", "add rule ...", and for affinity services
 * the per-endpoint chains and sets that appear and go. */
int wf_proxy_render_svc_eps(const struct wf_proxy_svc *old, const struct wf_proxy_svc *s,
			    struct wf_buf *out);
/* Appends commands deleting the per-service chains and maps of s (global elements not
 * included). */
int wf_proxy_render_svc_delete(const struct wf_proxy_svc *s, struct wf_buf *out);
/* Appends "add element ..." (add = true) or "delete element ..." for one global element. */
int wf_proxy_render_elem(const struct wf_proxy_elem *e, bool add, struct wf_buf *out);
