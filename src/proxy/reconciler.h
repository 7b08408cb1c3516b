/* The service proxy as a `weft agent` reconciler (docs/internals/agent-reconciler.md): each
 * sync builds the model from the snapshot's Services, EndpointSlices and Nodes for the agent's
 * node and hands it to the engine with the nft backend (proxy.h).
 *
 * Thread context: the agent's loop thread. */
#pragma once
#include "agent/agent-types.h"

extern const struct wf_agent_reconciler_ops wf_proxy_agent_reconciler;
