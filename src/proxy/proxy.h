/* The service proxy engine: keeps the data plane equal to the latest model, with a full
 * reconcile the first time (and after any failure) and small deltas after that, then deletes
 * stale UDP conntrack entries. Backends: wf_proxy_nft_ops (nftables), wf_proxy_fake_ops (tests).
 *
 * Thread context: a struct wf_proxy belongs to one thread (the agent's loop). */
#pragma once
#include <stddef.h>

#include "proxy/model-types.h"
#include "proxy/proxy-types.h"

struct wf_proxy;

extern const struct wf_proxy_ops wf_proxy_nft_ops;
extern const struct wf_proxy_ops wf_proxy_fake_ops;

/* Returns 0 and *ret, or the backend's init error. */
int wf_proxy_new(const struct wf_proxy_ops *ops, struct wf_proxy **ret);
/* Takes NULL. Leaves the data plane installed (it must survive an agent restart). */
void wf_proxy_free(struct wf_proxy *p);
/* Installs m (takes ownership of it, also on failure). Returns 0 or a negative error; after a
 * failure the next sync is a full reconcile. A conntrack cleanup failure is reported (-errno)
 * after the rules are in place. */
int wf_proxy_sync(struct wf_proxy *p, struct wf_proxy_model *m);
/* Brings the installed model up to date for the Services in (wf_proxy_model_update, same
 * cfg as the model's build) and applies only the service ports that changed, with their
 * conntrack cleanup. d (zeroed by the caller) receives the changes; release it with
 * wf_proxy_model_delta_done() once done with it (after a failure, without reading it).
 * Returns 0; -ESTALE when nothing is installed (a full wf_proxy_sync is due); or an error,
 * after which nothing is installed (the next sync must be a full one). */
int wf_proxy_sync_update(struct wf_proxy *p, const struct wf_proxy_config *cfg,
			 const struct wf_proxy_service_input *in, size_t n,
			 struct wf_proxy_model_delta *d);
/* The model installed last, or NULL. Valid until the next sync. */
const struct wf_proxy_model *wf_proxy_installed(const struct wf_proxy *p);
const struct wf_proxy_stats *wf_proxy_stats(const struct wf_proxy *p);
/* Description of the last error ("" when none). */
const char *wf_proxy_error(const struct wf_proxy *p);
/* The backend's state (tests reach the fake's record through it). */
void *wf_proxy_backend(const struct wf_proxy *p);

/* The conntrack cleanup that taking the data plane from old (NULL: unknown, after a restart)
 * to m needs: for each UDP service port whose endpoints changed, one filter per VIP and per
 * node address (NodePort). Returns the count and *ret (wf_free it; NULL when 0) or -ENOMEM. */
int wf_proxy_ct_filters(const struct wf_proxy_model *old, const struct wf_proxy_model *m,
			struct wf_proxy_ct_filter **ret);
