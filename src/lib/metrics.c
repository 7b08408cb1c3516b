/* Metrics registry: per-slot cells summed on scrape (docs/internals/metrics.md). */
#include "lib/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

/* One writer's cell: padded to a cache line so that two workers never share one. */
struct cell {
	uint64_t v;
	uint64_t pad[7];
};

/* Written: buckets, sum and count; then a full cache line of padding, so that two slots'
 * written bytes are never within one line whatever the array's alignment. */
struct hcell {
	uint64_t buckets[WF_METRICS_MAX_BUCKETS + 1]; /* last: +Inf */
	double sum;
	uint64_t count;
	uint64_t pad[8];
};

struct wf_metric {
	struct wf_metric *next;
	enum metric_type type;
	char *name;
	char *labels;
	char *help;
	unsigned slots;
	unsigned n_bounds;
	double bounds[WF_METRICS_MAX_BUCKETS];
	union {
		struct cell *cells;
		struct hcell *hcells;
	};
};

struct wf_metrics {
	unsigned slots;
	struct wf_metric *head, **tail;
};

int wf_metrics_new(unsigned slots, struct wf_metrics **ret)
{
	struct wf_metrics *m;

	if (slots == 0 || slots > WF_METRICS_MAX_SLOTS)
		return -EINVAL;
	m = wf_calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->slots = slots;
	m->tail = &m->head;
	*ret = m;
	return 0;
}

static void metric_free(struct wf_metric *x)
{
	wf_free(x->name);
	wf_free(x->labels);
	wf_free(x->help);
	wf_free(x->cells);
	wf_free(x);
}

void wf_metrics_free(struct wf_metrics *m)
{
	if (!m)
		return;
	for (struct wf_metric *x = m->head, *next; x; x = next) {
		next = x->next;
		metric_free(x);
	}
	wf_free(m);
}

static bool valid_name(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

static struct wf_metric *add(struct wf_metrics *m, enum metric_type type, const char *name,
			     const char *labels, const char *help, const double *bounds,
			     unsigned n_bounds)
{
	struct wf_metric *x;

	if (!m || !valid_name(name) || n_bounds > WF_METRICS_MAX_BUCKETS)
		return NULL;
	x = wf_calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->type = type;
	x->slots = m->slots;
	x->name = wf_strdup(name);
	x->labels = labels && *labels ? wf_strdup(labels) : NULL;
	x->help = wf_strdup(help ? help : "");
	if (type == METRIC_HISTOGRAM) {
		x->n_bounds = n_bounds;
		memcpy(x->bounds, bounds, n_bounds * sizeof(double));
		x->hcells = wf_calloc(m->slots, sizeof(struct hcell));
	} else {
		x->cells = wf_calloc(m->slots, sizeof(struct cell));
	}
	if (!x->name || !x->help || !x->cells || (labels && *labels && !x->labels)) {
		metric_free(x);
		return NULL;
	}
	*m->tail = x;
	m->tail = &x->next;
	return x;
}

struct wf_metric *wf_metrics_counter(struct wf_metrics *m, const char *name, const char *labels,
				     const char *help)
{
	return add(m, METRIC_COUNTER, name, labels, help, NULL, 0);
}

struct wf_metric *wf_metrics_gauge(struct wf_metrics *m, const char *name, const char *labels,
				   const char *help)
{
	return add(m, METRIC_GAUGE, name, labels, help, NULL, 0);
}

struct wf_metric *wf_metrics_histogram(struct wf_metrics *m, const char *name, const char *labels,
				       const char *help, const double *bounds, unsigned n_bounds)
{
	for (unsigned i = 1; i < n_bounds; i++)
		if (!(bounds[i] > bounds[i - 1]))
			return NULL;
	return add(m, METRIC_HISTOGRAM, name, labels, help, bounds, n_bounds);
}

/* Single writer per slot: a relaxed load and store, no locked instruction. */
void wf_metric_add(struct wf_metric *c, unsigned slot, uint64_t v)
{
	if (!c || slot >= c->slots || c->type == METRIC_HISTOGRAM)
		return;
	uint64_t *p = &c->cells[slot].v;
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

void wf_metric_set(struct wf_metric *g, unsigned slot, int64_t v)
{
	if (!g || slot >= g->slots || g->type == METRIC_HISTOGRAM)
		return;
	__atomic_store_n(&g->cells[slot].v, (uint64_t)v, __ATOMIC_RELAXED);
}

void wf_metric_observe(struct wf_metric *h, unsigned slot, double v, uint64_t count)
{
	unsigned b = 0;

	if (!h || slot >= h->slots || h->type != METRIC_HISTOGRAM || count == 0)
		return;
	while (b < h->n_bounds && v > h->bounds[b])
		b++;
	struct hcell *c = &h->hcells[slot];
	__atomic_store_n(&c->buckets[b], __atomic_load_n(&c->buckets[b], __ATOMIC_RELAXED) + count,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&c->count, __atomic_load_n(&c->count, __ATOMIC_RELAXED) + count,
			 __ATOMIC_RELAXED);
	/* The sum is a double: a torn read by a concurrent scrape is harmless on x86-64 (8-byte
	 * aligned stores are atomic) and only approximate elsewhere. */
	c->sum += v * (double)count;
}

int64_t wf_metric_value(const struct wf_metric *c)
{
	uint64_t s = 0;

	if (!c || c->type == METRIC_HISTOGRAM)
		return 0;
	for (unsigned i = 0; i < c->slots; i++)
		s += __atomic_load_n(&c->cells[i].v, __ATOMIC_RELAXED);
	return (int64_t)s;
}

struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n;
		char *b = wf_realloc(o->buf, cap);
		if (!b) {
			o->oom = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

static const char *type_name(enum metric_type t)
{
	return t == METRIC_COUNTER ? "counter" : t == METRIC_GAUGE ? "gauge" : "histogram";
}

/* Labels with an extra pair (le="...") appended. */
static void labels_with(struct out *o, const char *labels, const char *extra)
{
	if (!labels && !extra)
		return;
	outf(o, "{%s%s%s}", labels ? labels : "", labels && extra ? "," : "", extra ? extra : "");
}

int wf_metrics_render(struct wf_metrics *m, char **ret, size_t *ret_len)
{
	struct out o = {.cap = 4096};
	const char *last = NULL;

	o.buf = wf_malloc(o.cap);
	if (!o.buf)
		return -ENOMEM;
	o.buf[0] = '\0';
	for (struct wf_metric *x = m->head; x; x = x->next) {
		if (!last || strcmp(last, x->name) != 0) {
			outf(&o, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help, x->name,
			     type_name(x->type));
			last = x->name;
		}
		if (x->type != METRIC_HISTOGRAM) {
			outf(&o, "%s", x->name);
			labels_with(&o, x->labels, NULL);
			if (x->type == METRIC_GAUGE)
				outf(&o, " %lld\n", (long long)wf_metric_value(x));
			else
				outf(&o, " %llu\n", (unsigned long long)wf_metric_value(x));
			continue;
		}
		uint64_t cum = 0, count = 0;
		double sum = 0;
		for (unsigned s = 0; s < x->slots; s++) {
			count += __atomic_load_n(&x->hcells[s].count, __ATOMIC_RELAXED);
			sum += x->hcells[s].sum;
		}
		for (unsigned b = 0; b <= x->n_bounds; b++) {
			char le[64];
			for (unsigned s = 0; s < x->slots; s++)
				cum += __atomic_load_n(&x->hcells[s].buckets[b], __ATOMIC_RELAXED);
			if (b < x->n_bounds)
				snprintf(le, sizeof(le), "le=\"%g\"", x->bounds[b]);
			else
				snprintf(le, sizeof(le), "le=\"+Inf\"");
			outf(&o, "%s_bucket", x->name);
			labels_with(&o, x->labels, le);
			/* +Inf equals _count by definition, even mid-update */
			outf(&o, " %llu\n", (unsigned long long)(b < x->n_bounds ? cum : count));
		}
		outf(&o, "%s_sum", x->name);
		labels_with(&o, x->labels, NULL);
		outf(&o, " %.9g\n%s_count", sum, x->name);
		labels_with(&o, x->labels, NULL);
		outf(&o, " %llu\n", (unsigned long long)count);
	}
	if (o.oom) {
		wf_free(o.buf);
		return -ENOMEM;
	}
	*ret = o.buf;
	*ret_len = o.len;
	return 0;
}
