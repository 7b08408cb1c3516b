/* Conntrack cleanup for the service proxy (services.md #20), with libnetfilter_conntrack in
 * the current network namespace.
 *
 * Thread context: any thread; no shared state. */
#pragma once
#include <stddef.h>

#include "proxy/proxy-types.h"

/* Deletes every conntrack entry that a filter matches: same family and protocol, original
 * destination = filter dst:port, and a reply source that is none of the filter's service's
 * endpoints (cluster or local list). One dump of the table, then one delete per entry.
 * Returns the number deleted, or -errno. */
int wf_proxy_ct_delete(const struct wf_proxy_ct_filter *f, size_t n);
