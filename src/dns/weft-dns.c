/* Standalone `weft-dns` binary: the same daemon as `weft dns`, for tests and benchmarks that
 * need it before (or without) the `weft` multi-command binary. */
#include "dns/dns.h"

int main(int argc, char **argv)
{
	return wf_dns_main(argc, argv);
}
