/* Differential check of the YAML fast path against libyaml (lib/yaml-json): the same input is
 * loaded with WF_YJ_YAML_LIBYAML, WF_YJ_YAML_FAST_ONLY and the default (fast path, libyaml
 * when it declines; in scratch mode), and the results must agree: return code, diagnostic,
 * every document (json_equal: integer vs real kept apart) and its docinfo (index, position,
 * List item positions). FAST_ONLY may decline (-ENOTSUP): the documents it handed over before
 * must then be libyaml's first ones. Shared by fuzz-yaml-diff.c and the unit test. */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/yaml-json.h"

struct yd_doc {
	json_t *doc;
	struct wf_yj_docinfo info;
	unsigned *lines, *columns;
};

struct yd_run {
	struct yd_doc *docs;
	size_t n, cap;
	int r;
	struct wf_diag diag;
};

static int yd_keep(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	struct yd_run *run = userdata;

	if (run->n == run->cap) {
		size_t ncap = run->cap ? run->cap * 2 : 8;
		struct yd_doc *nd = realloc(run->docs, ncap * sizeof(*nd));
		if (!nd)
			abort();
		run->docs = nd;
		run->cap = ncap;
	}
	struct yd_doc *d = &run->docs[run->n++];
	d->doc = json_deep_copy(doc); /* scratch trees die with the callback */
	d->info = *info;
	d->lines = d->columns = NULL;
	if (info->n_items) {
		d->lines = malloc(info->n_items * sizeof(unsigned));
		d->columns = malloc(info->n_items * sizeof(unsigned));
		if (!d->lines || !d->columns)
			abort();
		memcpy(d->lines, info->item_lines, info->n_items * sizeof(unsigned));
		memcpy(d->columns, info->item_columns, info->n_items * sizeof(unsigned));
	}
	if (!d->doc)
		abort();
	return 0;
}

static void yd_run_done(struct yd_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		json_decref(run->docs[i].doc);
		free(run->docs[i].lines);
		free(run->docs[i].columns);
	}
	free(run->docs);
}

static void yd_load(const char *buf, size_t len, enum wf_yj_yaml_mode mode, bool scratch,
		    size_t max_doc, struct yd_run *run)
{
	struct wf_yj_limits lim = {.items_key = "items",
				   .scratch_arena = scratch,
				   .yaml_mode = mode,
				   .max_doc_bytes = max_doc};

	memset(run, 0, sizeof(*run));
	run->r = wf_yj_load(buf, len, "d.yaml", &lim, yd_keep, run, &run->diag);
}

/* Writes the first difference into why; false when there is one. */
static bool yd_docs_equal(const struct yd_run *a, const struct yd_run *b, size_t n, char *why,
			  size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		const struct yd_doc *x = &a->docs[i], *y = &b->docs[i];
		const struct wf_yj_docinfo *p = &x->info, *q = &y->info;
		if (!json_equal(x->doc, y->doc) || json_typeof(x->doc) != json_typeof(y->doc)) {
			char *s = json_dumps(x->doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
			char *t = json_dumps(y->doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
			snprintf(why, whylen, "document %zu: %.200s vs %.200s", i, s ? s : "?",
				 t ? t : "?");
			free(s);
			free(t);
			return false;
		}
		if (p->index != q->index || p->line != q->line || p->column != q->column ||
		    p->offset != q->offset || p->json != q->json || p->n_items != q->n_items ||
		    !p->item_lines != !q->item_lines) {
			snprintf(why, whylen,
				 "document %zu info: index %u/%u line %u/%u column %u/%u "
				 "offset %zu/%zu items %zu/%zu",
				 i, p->index, q->index, p->line, q->line, p->column, q->column,
				 p->offset, q->offset, p->n_items, q->n_items);
			return false;
		}
		for (size_t k = 0; k < p->n_items; k++)
			if (x->lines[k] != y->lines[k] || x->columns[k] != y->columns[k]) {
				snprintf(why, whylen, "document %zu item %zu: %u:%u vs %u:%u", i, k,
					 x->lines[k], x->columns[k], y->lines[k], y->columns[k]);
				return false;
			}
	}
	return true;
}

static bool yd_runs_equal(const struct yd_run *a, const struct yd_run *b, char *why, size_t whylen)
{
	if (a->r != b->r) {
		snprintf(why, whylen, "returns %d vs %d (%.200s / %.200s)", a->r, b->r, a->diag.msg,
			 b->diag.msg);
		return false;
	}
	if (a->r < 0 && (a->diag.line != b->diag.line || a->diag.column != b->diag.column ||
			 strcmp(a->diag.msg, b->diag.msg) != 0)) {
		snprintf(why, whylen, "diagnostic %u:%u %.200s vs %u:%u %.200s", a->diag.line,
			 a->diag.column, a->diag.msg, b->diag.line, b->diag.column, b->diag.msg);
		return false;
	}
	if (a->n != b->n) {
		snprintf(why, whylen, "%zu documents vs %zu", a->n, b->n);
		return false;
	}
	return yd_docs_equal(a, b, a->n, why, whylen);
}

/* 1: the fast path parsed it, 0: it declined, -1: a difference (described in why). max_doc:
 * limits->max_doc_bytes (0: the default). */
static int yd_check_max_doc(const char *buf, size_t len, size_t max_doc, char *why, size_t whylen)
{
	struct yd_run lib, fast, def;
	int ret = 1;

	yd_load(buf, len, WF_YJ_YAML_LIBYAML, false, max_doc, &lib);
	yd_load(buf, len, WF_YJ_YAML_FAST_ONLY, false, max_doc, &fast);
	yd_load(buf, len, WF_YJ_YAML_AUTO, true, max_doc, &def);
	if (!yd_runs_equal(&def, &lib, why, whylen)) {
		ret = -1;
	} else if (fast.r == -ENOTSUP) {
		ret = 0;
		if (fast.n > lib.n) {
			snprintf(why, whylen, "declined after %zu documents, libyaml has %zu",
				 fast.n, lib.n);
			ret = -1;
		} else if (!yd_docs_equal(&fast, &lib, fast.n, why, whylen)) {
			ret = -1;
		}
	} else if (!yd_runs_equal(&fast, &lib, why, whylen)) {
		ret = -1;
	}
	yd_run_done(&lib);
	yd_run_done(&fast);
	yd_run_done(&def);
	return ret;
}

static int yd_check(const char *buf, size_t len, char *why, size_t whylen)
{
	return yd_check_max_doc(buf, len, 0, why, whylen);
}
