/* `proxy-apply ARGS...`: wf_proxy_cmd_apply as a standalone binary (the e2e tests' and the
 * benchmark's driver of the real engine and nft backend). */
#include "proxy/cmd.h"

int main(int argc, char **argv)
{
	return wf_proxy_cmd_apply(argc, argv);
}
