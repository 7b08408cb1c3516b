/* `weft dns`: the cluster DNS daemon (docs/dns.md). */
#pragma once

/* Runs the daemon until SIGINT/SIGTERM. argv[0] is "dns" (or the program name). Returns the
 * process exit status: 0 after a clean stop, 1 on a runtime error, 2 on bad usage. Call from
 * the main thread; it installs a signal mask for SIGINT/SIGTERM/SIGHUP. */
int wf_dns_main(int argc, char **argv);
