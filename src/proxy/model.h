/* The service proxy model: Services + EndpointSlices + this node -> the desired data plane
 * (model-types.h). Pure computation, no kernel access, no logging.
 *
 * Thread context: none shared; a built model is immutable and may be read by any thread. */
#pragma once
#include <stddef.h>

#include "proxy/model-types.h"

/* Builds the model from objects (any kinds: Services, EndpointSlices and Nodes are used, the
 * rest skipped; objects are borrowed for the call only - the model copies what it keeps).
 * Returns 0 and *ret_model (release with wf_proxy_model_free), or -ENOMEM. */
int wf_proxy_model_build(const struct wf_proxy_config *cfg,
			 const struct wf_k8s_object *const *objects, size_t n_objects,
			 struct wf_proxy_model **ret_model);
/* Takes NULL. */
void wf_proxy_model_free(struct wf_proxy_model *m);

/* Brings m up to date for the Services in (each named once, with everything the store holds
 * for it now) in O(their size) plus a memmove when the number of service ports changes: the
 * same per-Service rules as wf_proxy_model_build(), which m must come from (with the same
 * cfg; a Node change needs a new build). The service ports that changed are appended to d
 * (zero it first; release with wf_proxy_model_delta_done after applying it). Returns 0 or
 * -ENOMEM; after a failure m is no longer consistent and must be rebuilt. */
int wf_proxy_model_update(struct wf_proxy_model *m, const struct wf_proxy_config *cfg,
			  const struct wf_proxy_service_input *in, size_t n,
			  struct wf_proxy_model_delta *d);
void wf_proxy_model_delta_done(struct wf_proxy_model_delta *d);
/* The largest endpoint list (cluster or local) of m's services. */
size_t wf_proxy_model_max_eps(const struct wf_proxy_model *m);

/* Looks a service port up by family and id; NULL when absent. O(log n). */
const struct wf_proxy_svc *wf_proxy_model_find(const struct wf_proxy_model *m, int family,
					       const char *id);
/* Orders services as the model keeps them: family, then id. */
int wf_proxy_svc_cmp(const struct wf_proxy_svc *a, const struct wf_proxy_svc *b);
/* True when a and b program the same endpoint selection (endpoint lists equal). */
bool wf_proxy_svc_eps_equal(const struct wf_proxy_svc *a, const struct wf_proxy_svc *b);
/* True when a and b are equal in everything except their endpoint lists. */
bool wf_proxy_svc_shape_equal(const struct wf_proxy_svc *a, const struct wf_proxy_svc *b);
/* Orders endpoints by address, then port. */
int wf_proxy_ep_cmp(const struct wf_proxy_endpoint *a, const struct wf_proxy_endpoint *b);
/* "tcp", "udp", "sctp" (the nftables names). */
const char *wf_proxy_proto_name(enum wf_k8s_protocol p);
