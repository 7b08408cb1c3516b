/* The service proxy as a `weft agent` reconciler (docs/internals/agent-reconciler.md): each
 * sync builds the model from the snapshot's Services, EndpointSlices and Nodes for the agent's
 * node and hands it to the engine with the nft backend (proxy.h).
 *
 * Thread context: the agent's loop thread. */
#pragma once
#include <stdbool.h>

#include "agent/agent-types.h"

extern const struct wf_agent_reconciler_ops wf_proxy_agent_reconciler;
/* The same over the fake backend (proxy.h), rendering nothing: benches and tests of the
 * user-space path. */
extern const struct wf_agent_reconciler_ops wf_proxy_agent_reconciler_fake;

struct wf_proxy;
/* The engine of a reconciler's state (tests: its installed model and stats). */
struct wf_proxy *wf_proxy_agent_reconciler_proxy(void *state);
/* True when the socket-level load balancer (socklb.h) is attached and its maps equal the
 * installed model; after each sync, the same value as that model's pod_notrack. */
bool wf_proxy_agent_reconciler_socket_lb(void *state);

struct wf_ip;
/* The addresses of the current network namespace's links (the node's), for pod_notrack
 * (wf_proxy_config.local_addrs): up to cap of them into out; 0, with a warning logged, when
 * they cannot be listed (the pods' gateway is then excluded by its convention alone). */
size_t wf_proxy_node_addrs(struct wf_ip *out, size_t cap);
