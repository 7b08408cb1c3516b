/* lib/yaml-json: YAML 1.1 scalar resolution, anchors and merge keys, guard rails, JSON input and
 * streams, and positions (wf_yj_locate, wf_yj_locate_items). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/yaml-json.h"

#include "../../../fuzz/k8s/yaml-diff.h"

struct docs {
	json_t *items[8];
	struct wf_yj_docinfo info[8];
	unsigned n;
};

static int keep(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	struct docs *d = userdata;

	if (d->n == 8)
		return -E2BIG;
	d->info[d->n] = *info;
	d->items[d->n++] = json_incref(doc);
	return 0;
}

static void docs_done(struct docs *d)
{
	for (unsigned i = 0; i < d->n; i++)
		json_decref(d->items[i]);
	d->n = 0;
}

static int load(const char *text, struct docs *d, struct wf_diag *diag)
{
	memset(d, 0, sizeof(*d));
	return wf_yj_load(text, strlen(text), "t.yaml", NULL, keep, d, diag);
}

static void test_scalars(void **state)
{
	struct docs d;
	struct wf_diag diag;
	json_t *o;

	assert_int_equal(
		load("a: 1\nb: -0x1F\nc: 0755\nd: 1_000\ne: 1.5\nf: 1e3\n"
		     "g: yes\nh: Off\ni: ~\nj: null\nk: \"1\"\nl: '80'\nm: 9223372036854775808\n"
		     "n: .inf\no: 2024-05-01\np: !!str 12\nq: 08\nr:\n",
		     &d, &diag),
		0);
	assert_int_equal(d.n, 1);
	o = d.items[0];
	assert_int_equal(json_integer_value(json_object_get(o, "a")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "b")), -31);
	assert_int_equal(json_integer_value(json_object_get(o, "c")), 0755);
	assert_int_equal(json_integer_value(json_object_get(o, "d")), 1000);
	assert_true(json_is_real(json_object_get(o, "e")));
	assert_true(json_real_value(json_object_get(o, "f")) == 1000.0);
	/* YAML 1.1 as kubectl reads it: yes/off are booleans */
	assert_true(json_is_true(json_object_get(o, "g")));
	assert_true(json_is_false(json_object_get(o, "h")));
	assert_true(json_is_null(json_object_get(o, "i")));
	assert_true(json_is_null(json_object_get(o, "j")));
	assert_string_equal(json_string_value(json_object_get(o, "k")), "1");
	assert_string_equal(json_string_value(json_object_get(o, "l")), "80");
	assert_true(json_is_real(json_object_get(o, "m"))); /* over int64 */
	/* JSON has no infinity: kept as the text */
	assert_string_equal(json_string_value(json_object_get(o, "n")), ".inf");
	assert_string_equal(json_string_value(json_object_get(o, "o")), "2024-05-01");
	assert_string_equal(json_string_value(json_object_get(o, "p")), "12");
	/* not octal: a float, as go-yaml v2 resolves it */
	assert_true(json_real_value(json_object_get(o, "q")) == 8.0);
	assert_true(json_is_null(json_object_get(o, "r")));
	docs_done(&d);
}

static void test_documents(void **state)
{
	struct docs d;
	struct wf_diag diag;

	/* empty documents are skipped but keep their index */
	assert_int_equal(load("---\n---\na: 1\n---\n# nothing\n---\n- x\n", &d, &diag), 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.info[0].index, 1);
	assert_int_equal(d.info[0].line, 3);
	assert_int_equal(d.info[1].index, 3);
	assert_int_equal(d.info[1].line, 7);
	assert_true(json_is_array(d.items[1]));
	docs_done(&d);
}

static unsigned seen_items, seen_line1, seen_col1;

static int items_cb(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	seen_items = (unsigned)info->n_items;
	seen_line1 = info->item_lines ? info->item_lines[1] : 0;
	seen_col1 = info->item_columns ? info->item_columns[1] : 0;
	return 0;
}

static void test_items_positions(void **state)
{
	const char *y = "kind: List\nitems:\n- a: 1\n-   b: [items]\n- {items: [1, 2, 3]}\n";
	struct wf_yj_limits lim = {.items_key = "items"};
	struct wf_diag diag;

	assert_int_equal(wf_yj_load(y, strlen(y), "t.yaml", &lim, items_cb, NULL, &diag), 0);
	assert_int_equal(seen_items, 3); /* nested "items" keys are not the root's */
	assert_int_equal(seen_line1, 4);
	assert_int_equal(seen_col1, 5);
	/* without the option, nothing is recorded */
	assert_int_equal(wf_yj_load(y, strlen(y), "t.yaml", NULL, items_cb, NULL, &diag), 0);
	assert_int_equal(seen_items, 0);
	assert_int_equal(seen_line1, 0);
}

static void test_anchors(void **state)
{
	struct docs d;
	struct wf_diag diag;
	char buf[512];

	assert_int_equal(
		load("base: &b {x: 1, y: 2}\nuse: *b\nmerged:\n  <<: *b\n  y: 3\n", &d, &diag), 0);
	json_t *o = d.items[0];
	assert_true(json_equal(json_object_get(o, "base"), json_object_get(o, "use")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "merged"), "x")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "merged"), "y")), 3);
	docs_done(&d);

	/* anchors do not cross documents */
	assert_int_equal(load("a: &x 1\n---\nb: *x\n", &d, &diag), -WF_E_PARSE);
	docs_done(&d);
	assert_string_equal(wf_diag_format(&diag, buf, sizeof(buf)),
			    "t.yaml:3:4: unknown alias \"*x\"");
	/* an alias to its own ancestor is unknown (no cycles) */
	assert_int_equal(load("a: &x [1, *x]\n", &d, &diag), -WF_E_PARSE);
	docs_done(&d);
}

static void test_guard_rails(void **state)
{
	struct docs d;
	struct wf_diag diag;
	char buf[512], deep[200];
	struct wf_yj_limits lim = {.max_alias_nodes = 100};
	const char *bomb = "a: &a [1,2,3,4,5,6,7,8,9,10]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
			   "c: [*b,*b]\n";

	/* depth: 64 levels pass, 65 fail */
	memset(deep, '[', 63);
	memset(deep + 63, ']', 63);
	deep[126] = '\0';
	assert_int_equal(load(deep, &d, &diag), 0); /* 63 + the root sequence's parent = 63 */
	docs_done(&d);
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = '\0';
	assert_int_equal(load(deep, &d, &diag), -WF_E_PARSE);
	docs_done(&d);
	assert_non_null(strstr(diag.msg, "nesting deeper than 64 levels"));

	/* duplicate keys */
	assert_int_equal(load("a: 1\nb: 2\na: 3\n", &d, &diag), -WF_E_PARSE);
	docs_done(&d);
	assert_string_equal(wf_diag_format(&diag, buf, sizeof(buf)),
			    "t.yaml:3:1: duplicate key \"a\"");

	/* alias expansion cap */
	memset(&d, 0, sizeof(d));
	assert_int_equal(wf_yj_load(bomb, strlen(bomb), "t.yaml", &lim, keep, &d, &diag),
			 -WF_E_PARSE);
	docs_done(&d);
	assert_non_null(strstr(diag.msg, "aliases expand to more than 100 nodes"));

	/* invalid UTF-8 with its position */
	assert_int_equal(load("a: b\nc: \xff\n", &d, &diag), -WF_E_PARSE);
	docs_done(&d);
	assert_int_equal(diag.line, 2);
	assert_int_equal(diag.column, 4);

	/* caps on size */
	lim = (struct wf_yj_limits){.max_file_bytes = 10};
	assert_int_equal(wf_yj_load("a: 12345678\n", 12, "t.yaml", &lim, keep, &d, &diag),
			 -WF_E_TOO_BIG);
	lim = (struct wf_yj_limits){.max_doc_bytes = 16};
	memset(&d, 0, sizeof(d));
	assert_int_equal(wf_yj_load("a: 1\n---\nb: 123456789012345678901234\n", 37, "t.yaml", &lim,
				    keep, &d, &diag),
			 -WF_E_TOO_BIG);
	assert_int_equal(d.n, 1); /* the first document was handed over already */
	docs_done(&d);

	/* a callback's error stops the load and is returned */
	assert_int_equal(
		load("---\na\n---\nb\n---\nc\n---\nd\n---\ne\n---\nf\n---\ng\n---\nh\n---\ni\n", &d,
		     &diag),
		-E2BIG);
	docs_done(&d);
}

static void test_json(void **state)
{
	struct docs d;
	struct wf_diag diag;
	char buf[512];

	assert_int_equal(load("  {\"a\": [1, 2.5, \"x\", true, null]}\n{\"b\": {}}\n[]", &d, &diag),
			 0);
	assert_int_equal(d.n, 3);
	assert_true(d.info[0].json);
	assert_int_equal(d.info[1].line, 2);
	assert_int_equal(json_array_size(json_object_get(d.items[0], "a")), 5);
	docs_done(&d);

	assert_int_equal(load("{\"a\": 1,\n \"a\": 2}", &d, &diag), -WF_E_PARSE);
	docs_done(&d);
	assert_int_equal(diag.line, 2);

	assert_int_equal(load("{\"a\": [1, 2,]}", &d, &diag), -WF_E_PARSE);
	docs_done(&d);
	assert_string_equal(wf_diag_format(&diag, buf, sizeof(buf)),
			    "t.yaml:1:14: unexpected token near ']'");
}

static void test_locate(void **state)
{
	const char *y = "a: 1\n---\nspec:\n  ports:\n  - name: a\n    port: 80\n  - name: b\n"
			"    port: 70000\nitems:\n- {x: 1}\n-   y: 2\n";
	const char *j = "{\"x\": 1}\n{\"spec\": {\"ports\": [{\"port\": 1}, {\"port\": 70000}]},\n"
			" \"items\": [1,\n   {\"a\": \"b\\\"c\"}, [2]]}";
	struct wf_yj_step path[] = {{"spec", 0}, {"ports", 0}, {NULL, 1}, {"port", 0}};
	struct wf_yj_step missing[] = {{"spec", 0}, {"nothere", 0}};
	struct wf_yj_step items = {"items", 0};
	unsigned line, col, lines[4], cols[4];

	assert_int_equal(wf_yj_locate(y, strlen(y), 1, path, 4, &line, &col), 0);
	assert_int_equal(line, 8);
	assert_int_equal(col, 11);
	/* a path that leads nowhere stops at the deepest node found */
	assert_int_equal(wf_yj_locate(y, strlen(y), 1, missing, 2, &line, &col), 0);
	assert_int_equal(line, 4);
	assert_int_equal(col, 3);
	assert_int_equal(wf_yj_locate(y, strlen(y), 5, path, 4, &line, &col), -ENOENT);
	assert_int_equal(wf_yj_locate_items(y, strlen(y), 1, &items, 1, lines, cols, 4), 2);
	assert_int_equal(lines[0], 10);
	assert_int_equal(cols[0], 3);
	assert_int_equal(lines[1], 11);
	assert_int_equal(cols[1], 5);

	assert_int_equal(wf_yj_locate(j, strlen(j), 1, path, 4, &line, &col), 0);
	assert_int_equal(line, 2);
	assert_int_equal(col, 43);
	assert_int_equal(wf_yj_locate_items(j, strlen(j), 1, &items, 1, lines, cols, 4), 3);
	assert_int_equal(lines[0], 3);
	assert_int_equal(cols[0], 12);
	assert_int_equal(lines[1], 4);
	assert_int_equal(cols[1], 4);
	assert_int_equal(lines[2], 4);
	assert_int_equal(cols[2], 19);
}

/* ---- scratch arena mode ---- */

struct dumps {
	char *text[8];
	struct wf_yj_docinfo info[8];
	unsigned n;
	json_t *outside; /* a value made before the load, released inside the callback */
	json_t *made;	 /* a value the callback makes, released after the load */
	bool nested;
};

static int dump_cb(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	struct dumps *d = userdata;

	if (d->n == 8)
		return -E2BIG;
	d->info[d->n] = *info;
	d->text[d->n++] = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	/* Values made and released across the arena's life are ordinary values. */
	json_decref(d->outside);
	d->outside = NULL;
	if (!d->made)
		d->made = json_pack("{s:[i,s]}", "k", 1, "v");
	/* Releasing part of the tree inside the callback is allowed (a no-op). */
	if (json_is_object(doc))
		json_object_clear(doc);
	if (d->nested) {
		/* A load inside the callback has its own arena; the outer tree stays valid. */
		struct wf_yj_limits lim = {.scratch_arena = true};
		struct dumps inner = {0};
		assert_int_equal(
			wf_yj_load("x: [1, 2]\n", 10, "n.yaml", &lim, dump_cb, &inner, NULL), 0);
		assert_string_equal(inner.text[0], "{\"x\":[1,2]}");
		for (unsigned i = 0; i < inner.n; i++)
			free(inner.text[i]);
		json_decref(inner.made);
	}
	return 0;
}

static int load_dumps(const char *text, bool scratch, struct dumps *d, struct wf_diag *diag)
{
	struct wf_yj_limits lim = {.items_key = "items", .scratch_arena = scratch};

	memset(d, 0, sizeof(*d));
	d->outside = json_string("made before the load");
	return wf_yj_load(text, strlen(text), "t.yaml", &lim, dump_cb, d, diag);
}

static void dumps_done(struct dumps *d)
{
	for (unsigned i = 0; i < d->n; i++)
		free(d->text[i]);
	json_decref(d->outside);
	json_decref(d->made);
	memset(d, 0, sizeof(*d));
}

static const char *const scratch_inputs[] = {
	"a: 1\nb: [x, 'y', \"z\"]\nc: {d: yes, e: ~}\n---\n- 1.5\n- 0x10\n",
	"base: &b {x: 1, y: [1, 2]}\nd:\n  <<: *b\n  y: 3\ne: *b\n",
	"kind: List\nitems:\n- a: 1\n- b: 2\n",
	"{\"kind\": \"List\", \"items\": [{\"a\": 1}, {\"b\": [true, null, 2.5]}]}\n[1]\n",
	/* errors: the same diagnostics in both modes */
	"a: 1\na: 2\n",
	"a: [1, 2\n",
	"{\"a\": 1, \"a\": 2}",
	"{\"a\": [1, }",
	"a: *nope\n",
};

/* Scratch mode builds the same trees, reports the same errors and leaks nothing (ASan). */
static void test_scratch_same_results(void **state)
{
	/* Nothing else installs a jansson allocator here: the mode is really on. */
	assert_true(wf_yj_scratch_available());
	for (size_t i = 0; i < sizeof(scratch_inputs) / sizeof(scratch_inputs[0]); i++) {
		struct dumps plain, scratch;
		struct wf_diag dp, ds;
		char lp[1024], ls[1024];
		int rp = load_dumps(scratch_inputs[i], false, &plain, &dp);
		int rs = load_dumps(scratch_inputs[i], true, &scratch, &ds);

		assert_int_equal(rp, rs);
		assert_int_equal(plain.n, scratch.n);
		for (unsigned k = 0; k < plain.n; k++) {
			assert_string_equal(plain.text[k], scratch.text[k]);
			assert_int_equal(plain.info[k].line, scratch.info[k].line);
			assert_int_equal(plain.info[k].n_items, scratch.info[k].n_items);
		}
		if (rp < 0)
			assert_string_equal(wf_diag_format(&dp, lp, sizeof(lp)),
					    wf_diag_format(&ds, ls, sizeof(ls)));
		if (scratch.n) {
			assert_null(scratch.outside);
			assert_non_null(scratch.made);
		}
		dumps_done(&plain);
		dumps_done(&scratch);
	}
}

static void test_scratch_nested(void **state)
{
	struct dumps d;

	memset(&d, 0, sizeof(d));
	d.nested = true;
	struct wf_yj_limits lim = {.scratch_arena = true};
	const char *y = "a: [1, 2, 3]\n---\nb: 2\n";
	assert_int_equal(wf_yj_load(y, strlen(y), "t.yaml", &lim, dump_cb, &d, NULL), 0);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.text[0], "{\"a\":[1,2,3]}");
	dumps_done(&d);
}

/* Every allocation failure in scratch mode is -ENOMEM "out of memory", and clean. */
static void test_scratch_alloc_failures(void **state)
{
	static const char *const inputs[] = {
		"kind: List\nitems:\n- a: 1\n- b: [1, 2, {c: d}]\n",
		"{\"kind\": \"List\", \"items\": [{\"a\": 1}, {\"b\": [1, 2, {\"c\": \"d\"}]}]}",
	};
	for (size_t i = 0; i < 2; i++) {
		int r;
		unsigned long n;
		for (n = 1;; n++) {
			struct dumps d;
			struct wf_diag diag;
			wf_alloc_fail_at(n);
			r = load_dumps(inputs[i], true, &d, &diag);
			wf_alloc_fail_at(0);
			dumps_done(&d);
			if (r >= 0)
				break;
			assert_int_equal(r, -ENOMEM);
			assert_string_equal(diag.msg, "out of memory");
		}
		assert_int_equal(r, 0);
		assert_true(n > 1);
	}
}

/* Scratch loads on several threads at once while this thread uses jansson normally. */
static void *scratch_thread(void *arg)
{
	(void)arg;
	/* No cmocka asserts off the main thread: count failures instead. */
	uintptr_t failed = 0;
	for (int k = 0; k < 200; k++) {
		struct dumps d;
		failed += load_dumps(scratch_inputs[k % 4], true, &d, NULL) != 0 || !d.n;
		dumps_done(&d);
	}
	return (void *)failed;
}

static void test_scratch_threads(void **state)
{
	pthread_t t[3];

	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, scratch_thread, NULL), 0);
	for (int k = 0; k < 2000; k++) {
		json_t *j = json_pack("{s:s, s:[i]}", "a", "b", "c", k);
		assert_non_null(j);
		json_decref(j);
	}
	for (int i = 0; i < 3; i++) {
		void *failed;
		assert_int_equal(pthread_join(t[i], &failed), 0);
		assert_null(failed);
	}
}

/* The JSON fast path builds exactly what jansson builds, and leaves everything it does not
 * handle (and every error) to jansson: compare with json_loadb on inputs of both kinds. */
static void test_json_fast_path_same_as_jansson(void **state)
{
	static const char *const inputs[] = {
		"{}",
		"[]",
		" {\"a\" : 1 , \"b\":[ ]}",
		"{\"a\":[1,-2,0,-0,123456789012345678]}",
		"{\"big\":1234567890123456789}",
		"{\"over\":99999999999999999999}",
		"{\"o\":-44444444444444444444444444444444}",
		"{\"r\":[1.5,-0.25,1e3,2E-2]}",
		"{\"t\":true,\"f\":false,\"n\":null}",
		"{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
		"{\"e\":\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\"}",
		"{\"u\":\"\\u00e9\\ud83d\\ude00\"}",
		"{\"k\\u0041\":1}",
		"{\"k\\n\":\"v\"}",
		"{\"nul\":\"\\u0000\"}",
		"{\"a\":01}",
		"{\"a\":1,}",
		"[1,]",
		"{\"a\":1 \"b\":2}",
		"{\"a\":tru}",
		"{\"a\":nullx}",
		"{\"a\":12ab}",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xe2\x82\"}",
		"{\"a\":1,\"a\":2}",
		"{\"a\":\"unterminated}",
		"{\"a\":-}",
		"{\"a\":[1,2}",
		"[1] [2]",
		"{\"a\":1}\n{\"b\":2}\n",
		"{\"deep\":[[[[{\"x\":[{\"y\":\"z\"}]}]]]]}",
		"{\"a\":'x'}",
		"{\"a\":\"\\x\"}",
		"{\"a\" 1}",
		"{1:2}",
		"[\"\\\"\"]",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		const char *in = inputs[i];
		struct dumps d;
		struct wf_diag diag;
		json_error_t jerr;
		memset(&d, 0, sizeof(d));
		int r = wf_yj_load(in, strlen(in), "t.json", NULL, dump_cb, &d, &diag);
		json_t *want = json_loadb(in, strlen(in),
					  JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &jerr);
		if (!want) {
			if (r != -WF_E_PARSE || strcmp(diag.msg, jerr.text) != 0)
				fail_msg("%s: %d \"%s\", jansson \"%s\"", in, r, diag.msg,
					 jerr.text);
		} else {
			char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
			if (r < 0 || d.n < 1 || strcmp(d.text[0], w) != 0)
				fail_msg("%s: %d \"%s\", jansson \"%s\"", in, r,
					 d.n ? d.text[0] : diag.msg, w);
			/* integer vs real kept apart, as jansson does */
			free(w);
			json_decref(want);
		}
		dumps_done(&d);
	}
}

static unsigned pos_n, pos_lines[8], pos_cols[8];

static int positions_cb(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	pos_n = (unsigned)info->n_items;
	for (unsigned i = 0; i < pos_n && i < 8; i++) {
		pos_lines[i] = info->item_lines[i];
		pos_cols[i] = info->item_columns[i];
	}
	return 0;
}

/* JSON List item positions recorded by the fast path match wf_yj_locate_items' scan. */
static void test_json_items_positions(void **state)
{
	static const char *const inputs[] = {
		"{\"kind\":\"List\",\"items\":[{\"a\":1},\n  {\"b\":2}, {\"c\":\"\xc3\xa9\xc3\xa9\"} ,{}]}",
		"\n\n{\n \"kind\": \"List\",\n \"items\": [\n  {\"x\": [1]},\n\t{\"y\": 2}\n ]\n}\n",
		"{\"kind\":\"List\",\"items\":[]}",
	};
	struct wf_yj_limits lim = {.items_key = "items", .scratch_arena = true};
	struct wf_yj_step step = {.key = "items"};

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		unsigned lines[8], cols[8];
		size_t len = strlen(inputs[i]);
		pos_n = 99;
		assert_int_equal(
			wf_yj_load(inputs[i], len, "t.json", &lim, positions_cb, NULL, NULL), 0);
		int n = wf_yj_locate_items(inputs[i], len, 0, &step, 1, lines, cols, 8);
		assert_int_equal(pos_n, n);
		for (int k = 0; k < n; k++) {
			assert_int_equal(pos_lines[k], lines[k]);
			assert_int_equal(pos_cols[k], cols[k]);
		}
	}
}

/* Another allocator installed over weft's: scratch mode turns itself off, loads still work and
 * free what they build (ASan checks). Runs last: the mode stays off in this process. */
static void test_scratch_off_when_replaced(void **state)
{
	struct dumps d;

	assert_true(wf_yj_scratch_available());
	json_set_alloc_funcs(malloc, free);
	assert_false(wf_yj_scratch_available());
	assert_int_equal(load_dumps(scratch_inputs[1], true, &d, NULL), 0);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.text[0], "\"e\":{\"x\":1"));
	dumps_done(&d);
	assert_int_equal(load_dumps(scratch_inputs[3], true, &d, NULL), 0);
	assert_int_equal(d.n, 2);
	dumps_done(&d);
}

/* The YAML fast path builds exactly what the libyaml converter builds (values, docinfo, List
 * item positions, errors), or declines: yaml-diff.h compares the three modes. want: 1 = the
 * fast path must take it, 0 = it must decline, -1 = either. */
static void test_yaml_fast_path_same_as_libyaml(void **state)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{"a: 1\nb: two\n", 1},
		{"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels:\n    app: web\n",
		 1},
		{"kind: List\nitems:\n- a: 1\n  b: 2\n-\n  c: 3\n- - x\n", 0},
		{"kind: List\nitems:\n- a: 1\n  b: 2\n-\n  c: 3\n", 1},
		{"kind: List\nitems:\n  - a: 1\n  -   b: 2\n", 1},
		{"kind: List\nitems: []\n", 1},
		{"kind: List\nitems: [a]\n", 0},
		{"kind: List\nitems:\n  [a]\n", 0},
		{"kind: List\nitems:\n  []\n", 0},
		{"kind: List\nitems:\n  {}\n", 1},
		{"a:\n- 1\n- 2\nb: 3\n", 1},
		{"- a\n- b: 1\n  c: [1, 'x', \"y\", {d: e}]\n", 1},
		{"a: {}\nb: []\nc: { }\nd: [ a ,b ]\n", 1},
		{"a: yes\nb: No\nc: ~\nd: null\ne: 0x1f\nf: 0777\ng: 1_000\nh: 1.5e3\ni: .inf\n",
		 1},
		{"a: -1\nb: +2\nc: -x\nd: --flag=1\ne: 10.0.0.1\nf: 1e400\ng: 99999999999999999999\n",
		 1},
		{"a: 'it''s'\n", 0},
		{"a: \"tab\\there\"\n", 0},
		{"a: 'x'\nb: \"y z\"\n'c': 1\n\"d e\" : 2\n", 1},
		{"a: b # comment\n# line\nc: d#not\n", 1},
		{"a: b\n  c\n", 0},
		{"a: b\n\n  c\n", 0},
		{"a: b\n# c\n  d: e\n", 0},
		{"a:\n  b: 1\n c: 2\n", 0},
		{"a: 1\na: 2\n", 0},
		{"a: &x 1\nb: *x\n", 0},
		{"a: !!str 1\n", 0},
		{"a: |\n  x\n", 0},
		{"a: >\n  x\n", 0},
		{"%YAML 1.1\n---\na: 1\n", 0},
		{"? a\n: b\n", 0},
		{"a:\tb\n", 0},
		{"a: b\r\n", 0},
		{"a: caf\xc3\xa9\n", 0},
		{"<<: {a: 1}\n", 0},
		{"a: 1\n...\n", 0},
		{"a: b: c\n", 0},
		{"a: [1, 2\n", 0},
		{"a: [1,]\n", 0},
		{"a: [b: 1]\n", 0},
		{"a: {b}\n", 0},
		{"a: [x y]\n", 0},
		{"a: [x:y]\n", 0},
		{"- \n- a\n", 0},
		{"key: value\n  - x\n", 0},
		{"a:\n  - x\n  b: y\n", 0},
		{"a:\n- x\n  - y\n", 0},
		{"---\n---\na: 1\n---\n", 1},
		{"# only a comment\n", 1},
		{"", 1},
		{"---\n", 1},
		{"scalar\n", 1},
		{"scalar\nmore\n", 0},
		{"  a: 1\n  b: 2\n", 1},
		{"  a: 1\nb: 2\n", 0},
		{"--- # c\na: 1\n--- x\n", 0},
		{"a: 1\n---\nb: [\n", 0},
		{"a: 1\n--- \n- 1\n---\nnull\n---\n~\n", 1},
		{"a:\n  b:\n    c:\n      d: [[[[1]]]]\n", 1},
		{"a: 1\n---a\n", 0},
		{"'a\nb': 1\n", 0},
		{"a: \"x\"y\n", 0},
		{"a: 'x'#c\n", 0},
		{"a: - b\n", 0},
		{"a: @x\n", 0},
		{"a: `x\n", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[768];
		int r = yd_check(cases[i].in, strlen(cases[i].in), why, sizeof(why));
		if (r < 0)
			fail_msg("case %zu \"%s\": %s", i, cases[i].in, why);
		if (cases[i].want >= 0 && r != cases[i].want)
			fail_msg("case %zu \"%s\": fast path %s", i, cases[i].in,
				 r ? "took it" : "declined");
	}
}

/* A depth limit: the fast path declines near it, libyaml reports it. */
static void test_yaml_fast_path_limits(void **state)
{
	const char *in = "a:\n  b:\n    c: 1\n";
	struct wf_yj_limits lim = {.max_depth = 2, .yaml_mode = WF_YJ_YAML_FAST_ONLY};
	struct docs d = {0};

	assert_int_equal(wf_yj_load(in, strlen(in), "t", &lim, keep, &d, NULL), -ENOTSUP);
	lim.yaml_mode = WF_YJ_YAML_AUTO;
	assert_int_equal(wf_yj_load(in, strlen(in), "t", &lim, keep, &d, NULL), -WF_E_PARSE);
	lim = (struct wf_yj_limits){.max_doc_bytes = 8, .yaml_mode = WF_YJ_YAML_FAST_ONLY};
	assert_int_equal(wf_yj_load(in, strlen(in), "t", &lim, keep, &d, NULL), -ENOTSUP);
	docs_done(&d);
}

/* max_doc_bytes: the fast path checks each document's extent as libyaml does, or declines;
 * every threshold around every document of a few streams. */
static void test_yaml_fast_path_max_doc(void **state)
{
	static const char *const inputs[] = {
		"a: 1\n---\nb: [1, 2]\n---\n---\n# c\nc:\n- x\n- y: z\n",
		"# head\n---\nkind: List\nitems:\n- a: 1\n- b: 2\n--- # c\n\nd: e\n\n# tail\n",
		"x\n---\n---\n",
		"# a comment before the first document\n---\n---\n# and after\n",
		"# a comment before the first document\n---\na: 1\n",
		"  a: b\n\n\n",
	};
	unsigned fast = 0;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t len = strlen(inputs[i]);
		for (size_t max = 1; max <= len + 1; max++) {
			char why[768];
			int r = yd_check_max_doc(inputs[i], len, max, why, sizeof(why));
			if (r < 0)
				fail_msg("input %zu, max_doc %zu: %s", i, max, why);
			fast += r > 0 && max < len; /* a document limit, not the input's */
		}
	}
	assert_true(fast > 4);
}

struct walk {
	unsigned files, fast;
	char why[768];
	char bad[PATH_MAX];
};

static void walk_dir(const char *dir, struct walk *w)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk_dir(path, w);
			continue;
		}
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		char *buf = malloc((size_t)st.st_size + 1);
		size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
		fclose(f);
		int r = buf ? yd_check(buf, n, w->why, sizeof(w->why)) : 0;
		free(buf);
		w->files++;
		w->fast += r > 0;
		if (r < 0 && !w->bad[0])
			snprintf(w->bad, sizeof(w->bad), "%s", path);
	}
	closedir(d);
}

/* Every file of the repository's manifests, examples and fuzz corpora (which hold the bench
 * generators' output at small scale): the fast path agrees with libyaml or declines. */
static void test_yaml_fast_path_repo_files(void **state)
{
	static const char *const dirs[] = {"tests/data", "examples", "fuzz"};
	char exe[PATH_MAX], root[PATH_MAX * 2], src[PATH_MAX];
	struct walk w = {0};
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	/* The sources, from the build tree: this file's path is relative to the build root
	 * (exe: BUILD/tests/unit/k8s/k8s-yaml-json), or absolute. */
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(src, sizeof(src), "%s", __FILE__);
	if (src[0] == '/')
		snprintf(root, sizeof(root), "%s/../../..", dirname(src));
	else
		snprintf(root, sizeof(root), "%s/../../../%s/../../..", dirname(exe), dirname(src));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char dir[sizeof(root) + 32];
		snprintf(dir, sizeof(dir), "%s/%s", root, dirs[i]);
		walk_dir(dir, &w);
	}
	if (w.bad[0])
		fail_msg("%s: %s", w.bad, w.why);
	print_message("%u files, fast path took %u\n", w.files, w.fast);
	assert_true(w.files > 300);
	assert_true(w.fast > 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_anchors),
		cmocka_unit_test(test_items_positions),
		cmocka_unit_test(test_guard_rails),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_scratch_same_results),
		cmocka_unit_test(test_scratch_nested),
		cmocka_unit_test(test_scratch_alloc_failures),
		cmocka_unit_test(test_scratch_threads),
		cmocka_unit_test(test_json_fast_path_same_as_jansson),
		cmocka_unit_test(test_json_items_positions),
		cmocka_unit_test(test_yaml_fast_path_same_as_libyaml),
		cmocka_unit_test(test_yaml_fast_path_limits),
		cmocka_unit_test(test_yaml_fast_path_max_doc),
		cmocka_unit_test(test_yaml_fast_path_repo_files),
		cmocka_unit_test(test_scratch_off_when_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
