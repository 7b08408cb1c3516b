/* `proxy-render ARGS...`: wf_proxy_cmd_render as a standalone binary, for the golden tests and
 * the e2e scripts before `weft render proxy` is wired into the CLI. */
#include "proxy/cmd.h"

int main(int argc, char **argv)
{
	return wf_proxy_cmd_render(argc, argv);
}
