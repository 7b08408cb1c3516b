/* The fake backend (proxy.h): records what it was asked to do, for unit tests. Its state is
 * a struct wf_proxy_fake (fake.h). */
#include "proxy/fake.h"

#include <errno.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "proxy/proxy.h"
#include "proxy/render.h"

static int fake_init(void **ret)
{
	struct wf_proxy_fake *f = wf_calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	*ret = f;
	return 0;
}

static int record(struct wf_proxy_fake *f, const struct wf_proxy_model *m)
{
	struct wf_buf b;
	int r;

	if (f->fail_next) {
		int e = f->fail_next;

		f->fail_next = 0;
		return e;
	}
	if (f->no_render)
		return 0;
	wf_buf_init(&b, 0);
	r = wf_proxy_render(m, &b);
	if (r < 0) {
		wf_buf_done(&b);
		return r;
	}
	wf_free(f->ruleset);
	f->ruleset = wf_buf_steal(&b, NULL);
	wf_buf_done(&b);
	return f->ruleset ? 0 : -ENOMEM;
}

static int fake_full(void *state, const struct wf_proxy_model *m)
{
	struct wf_proxy_fake *f = state;
	int r = record(f, m);

	if (!r)
		f->stats.full_loads++;
	return r;
}

static int fake_delta(void *state, const struct wf_proxy_model *old, const struct wf_proxy_model *m)
{
	struct wf_proxy_fake *f = state;
	int r = record(f, m);

	if (!r)
		f->stats.nl_deltas++;
	return r;
}

static int fake_changes(void *state, const struct wf_proxy_model *m,
			const struct wf_proxy_svc_change *ch, size_t n)
{
	struct wf_proxy_fake *f = state;
	int r = record(f, m);

	if (!r) {
		f->stats.nl_deltas++;
		f->change_applies++;
		f->changes += n;
	}
	return r;
}

static int fake_ct_flush(void *state, const struct wf_proxy_ct_filter *flt, size_t n)
{
	struct wf_proxy_fake *f = state;

	f->ct_calls++;
	f->ct_filters += n;
	return 0;
}

static const struct wf_proxy_stats *fake_stats(void *state)
{
	return &((struct wf_proxy_fake *)state)->stats;
}

static const char *fake_error(void *state)
{
	return "";
}

static void fake_done(void *state)
{
	struct wf_proxy_fake *f = state;

	if (!f)
		return;
	wf_free(f->ruleset);
	wf_free(f);
}

const struct wf_proxy_ops wf_proxy_fake_ops = {
	.name = "fake",
	.init = fake_init,
	.apply_full = fake_full,
	.apply_delta = fake_delta,
	.apply_changes = fake_changes,
	.ct_flush = fake_ct_flush,
	.stats = fake_stats,
	.error = fake_error,
	.done = fake_done,
};
