/* The fake proxy backend's record (wf_proxy_fake_ops in proxy.h), for tests: reach it with
 * wf_proxy_backend(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "proxy/proxy-types.h"

struct wf_proxy_fake {
	struct wf_proxy_stats stats;  /* full_loads and nl_deltas count the applies */
	char *ruleset;		      /* the ruleset last applied, rendered (wf_malloc'd) */
	unsigned long ct_calls;	      /* ct_flush calls */
	size_t ct_filters;	      /* filters passed over all calls */
	int fail_next;		      /* set to a -errno: the next apply fails with it */
	size_t changes;		      /* service ports passed to apply_changes */
	unsigned long change_applies; /* apply_changes calls (the rest of nl_deltas: apply_delta) */
	bool no_render;		      /* benches: applies are counted, not rendered */
};
