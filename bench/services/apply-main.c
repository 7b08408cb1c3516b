/* proxy-apply-bench: the proxy's stdin-driven driver (wf_proxy_cmd_apply), built here so that
 * the benchmark does not depend on the test build. */
#include "proxy/cmd.h"

int main(int argc, char **argv)
{
	return wf_proxy_cmd_apply(argc, argv);
}
