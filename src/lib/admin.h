/* Admin HTTP endpoint for daemons: GET /healthz, /readyz and /metrics (Prometheus text).
 *
 * One thread of its own serves one short connection at a time (HTTP/1.0 semantics: one request,
 * then close; a 2 s read timeout), so a slow scraper cannot disturb the daemon's workers.
 * /healthz answers 200 while the process runs; /readyz asks the ready callback (200 or 503);
 * /metrics renders the registry. Anything else is 404, non-GET 405.
 *
 * Ownership: the admin server borrows the registry and the callback's data until
 * wf_admin_stop returns. Errors: wf_admin_start returns -EINVAL for an unparsable address,
 * or the -errno of socket/bind/listen/pthread_create. */
#pragma once
#include <stdbool.h>

struct wf_admin;
struct wf_metrics;

/* Called on the admin thread: return true when the daemon is ready to serve. */
typedef bool (*wf_admin_ready_fn)(void *data);

/* listen: "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (all IPv4 addresses); port 0 picks one (see
 * wf_admin_port). metrics and ready may be NULL. */
int wf_admin_start(const char *listen, struct wf_metrics *metrics, wf_admin_ready_fn ready,
		   void *data, struct wf_admin **ret);
/* The bound TCP port. */
unsigned wf_admin_port(const struct wf_admin *a);
/* Stops the thread, closes the socket, frees a. Takes NULL. */
void wf_admin_stop(struct wf_admin *a);

/* Parses "ADDR:PORT" / "[V6]:PORT" / ":PORT" into a socket address (helper shared by daemons).
 * Returns 0 or -EINVAL. */
struct sockaddr_storage;
int wf_admin_parse_addr(const char *s, struct sockaddr_storage *ret, unsigned *ret_len);
