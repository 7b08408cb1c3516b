/* The reconcilers `weft agent` runs, in sync order. A data plane joins the agent with one line
 * here (and its library in src/agent/meson.build): see docs/internals/agent-reconciler.md. */
#include "agent/agent.h"
#include "agent/l2announce.h"
#include "proxy/reconciler.h"

const struct wf_agent_reconciler_ops *const wf_agent_reconcilers[] = {
	&wf_agent_fabric_reconciler,
	&wf_proxy_agent_reconciler,
	&wf_l2announce_reconciler,
	NULL,
};
