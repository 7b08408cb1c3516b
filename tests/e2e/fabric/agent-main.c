/* `weft agent` for the e2e tests until the `weft` command table (src/cli) dispatches to it:
 * weft-agent-e2e agent ARGS... behaves as weft agent ARGS... */
#include "agent/agent.h"

int main(int argc, char **argv)
{
	return wf_agent_main(argc - 1, argv + 1);
}
