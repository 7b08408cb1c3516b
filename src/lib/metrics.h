/* Metrics registry with Prometheus text exposition (format 0.0.4).
 *
 * A registry holds counters, gauges and histograms. Each metric keeps one cache-line-padded
 * cell per writer slot: a worker thread owns a slot (its index, < the registry's slot count)
 * and updates it with plain relaxed stores, so hot paths share no cache line and take no lock.
 * A scrape (wf_metrics_render) sums the slots with relaxed loads: totals are exact once
 * writers are quiet and never go backwards.
 *
 * Ownership: metrics belong to the registry and live until wf_metrics_free. Registration
 * (wf_metrics_counter & co) happens before writers start, on one thread. Updates: any thread,
 * each slot from one thread at a time. Rendering: any thread, concurrently with updates.
 * Errors: registration returns NULL on -ENOMEM or an invalid name; updating a NULL metric is a
 * no-op, so a daemon may run without metrics. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define WF_METRICS_MAX_SLOTS 64
#define WF_METRICS_MAX_BUCKETS 24

struct wf_metrics;
struct wf_metric;

/* slots: number of writer slots (1..WF_METRICS_MAX_SLOTS). Returns 0, -EINVAL or -ENOMEM. */
int wf_metrics_new(unsigned slots, struct wf_metrics **ret);
void wf_metrics_free(struct wf_metrics *m); /* takes NULL */

/* name: [a-zA-Z_:][a-zA-Z0-9_:]*; labels: NULL or a label list without braces
 * ('rcode="NXDOMAIN",proto="udp"'), copied; help: copied. Metrics sharing a name must share
 * type and help; they are rendered as one family, in registration order. */
struct wf_metric *wf_metrics_counter(struct wf_metrics *m, const char *name, const char *labels,
				     const char *help);
struct wf_metric *wf_metrics_gauge(struct wf_metrics *m, const char *name, const char *labels,
				   const char *help);
/* bounds: ascending upper bounds (without +Inf), at most WF_METRICS_MAX_BUCKETS. */
struct wf_metric *wf_metrics_histogram(struct wf_metrics *m, const char *name, const char *labels,
				       const char *help, const double *bounds, unsigned n_bounds);

/* Counter: adds v in slot. */
void wf_metric_add(struct wf_metric *c, unsigned slot, uint64_t v);
/* Gauge: sets the value of slot (a scrape shows the sum of all slots). */
void wf_metric_set(struct wf_metric *g, unsigned slot, int64_t v);
/* Histogram: records value v (count times, all with the same value) in slot. */
void wf_metric_observe(struct wf_metric *h, unsigned slot, double v, uint64_t count);

/* Current total of a counter or gauge (all slots). */
int64_t wf_metric_value(const struct wf_metric *c);

/* Renders every metric as Prometheus text into a new string (*ret, wf_free it) of length
 * *ret_len. Returns 0 or -ENOMEM. */
int wf_metrics_render(struct wf_metrics *m, char **ret, size_t *ret_len);
