/* healthCheckNodePort servers (services.md #11): for each LoadBalancer Service with
 * externalTrafficPolicy Local, an HTTP server on its healthCheckNodePort answering
 * GET /healthz with 200 and {"service":{"namespace":..,"name":..},"localEndpoints":N} when the
 * node has N > 0 ready local endpoints, else 503 (terminating ones do not count, KEP-1669).
 *
 * Thread context: wf_proxy_health_update/free on the owner's thread; the servers run on a
 * thread of their own and read a table published under a mutex. */
#pragma once
#include "proxy/model-types.h"

struct wf_proxy_health;

/* Starts the server thread (no ports yet). Returns 0 or -errno. */
int wf_proxy_health_new(struct wf_proxy_health **ret);
/* Takes the ports and counts from m (borrowed for the call): listeners open and close to
 * match, within a poll interval. Returns 0 or -ENOMEM; a port that cannot be bound is retried
 * at the next update and reported by wf_proxy_health_failed(). */
int wf_proxy_health_update(struct wf_proxy_health *h, const struct wf_proxy_model *m);
/* Ports that could not be bound at the last listener refresh. */
unsigned wf_proxy_health_failed(const struct wf_proxy_health *h);
/* Stops the thread and closes every listener. Takes NULL. */
void wf_proxy_health_free(struct wf_proxy_health *h);
