/* Manifest corpora: every file in good/ parses to the object and ignored counts its .expect
 * names; every file in bad/ fails with the diagnostic its .expect holds (file:line:col: path:
 * message). Plus the size caps, on inputs generated here rather than committed. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/object.h"
#include "k8s/parse-files.h"
#include "lib/alloc.h"
#include "lib/error.h"

static const char *data_dir;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static bool is_input(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && !(n > 7 && strcmp(name + n - 7, ".expect") == 0);
}

/* Runs fn(dir, name) for every input file of dir, sorted; returns the count. */
static unsigned for_each_input(const char *sub, void (*fn)(const char *dir, const char *name))
{
	char dir[4096];
	struct dirent **list;
	unsigned count = 0;
	int n;

	snprintf(dir, sizeof(dir), "%s/%s", data_dir, sub);
	n = scandir(dir, &list, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (is_input(list[i]->d_name)) {
			fn(dir, list[i]->d_name);
			count++;
		}
		free(list[i]);
	}
	free(list);
	return count;
}

static void check_good(const char *dir, const char *name)
{
	char path[4096], expect_path[4200], got[128], line[4096];
	struct wf_k8s_parse_result res;
	struct wf_diag diag;
	size_t len, elen;
	char *buf, *expect;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(expect_path, sizeof(expect_path), "%s.expect", path);
	buf = slurp(path, &len);
	assert_non_null(buf);
	expect = slurp(expect_path, &elen);
	if (!expect)
		fail_msg("%s: missing .expect", name);
	chomp(expect);
	r = wf_k8s_parse(buf, len, name, &res, &diag);
	if (r < 0)
		fail_msg("%s: %s", name, wf_diag_format(&diag, line, sizeof(line)));
	snprintf(got, sizeof(got), "%zu objects, %zu ignored", res.n_objects, res.ignored);
	if (strcmp(got, expect) != 0)
		fail_msg("%s: got \"%s\", expected \"%s\"", name, got, expect);
	assert_int_equal((size_t)r, res.n_objects);
	for (size_t i = 0; i < res.n_objects; i++) {
		assert_string_equal(res.objects[i]->origin.file, name);
		assert_true(res.objects[i]->origin.line > 0);
	}
	wf_k8s_parse_result_done(&res);
	free(buf);
	free(expect);
}

static void check_bad(const char *dir, const char *name)
{
	char path[4096], expect_path[4200], line[4096];
	struct wf_k8s_parse_result res = {0}, untouched;
	struct wf_diag diag;
	size_t len, elen;
	char *buf, *expect;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(expect_path, sizeof(expect_path), "%s.expect", path);
	buf = slurp(path, &len);
	assert_non_null(buf);
	expect = slurp(expect_path, &elen);
	if (!expect)
		fail_msg("%s: missing .expect", name);
	chomp(expect);
	memset(&untouched, 0xa5, sizeof(untouched));
	res = untouched;
	r = wf_k8s_parse(buf, len, name, &res, &diag);
	if (r >= 0)
		fail_msg("%s: parsed (%d objects), expected \"%s\"", name, r, expect);
	/* ret_* is written only on success */
	assert_memory_equal(&res, &untouched, sizeof(res));
	wf_diag_format(&diag, line, sizeof(line));
	if (!strstr(line, expect))
		fail_msg("%s:\n  got      \"%s\"\n  expected \"%s\"", name, line, expect);
	free(buf);
	free(expect);
}

static void test_good_corpus(void **state)
{
	assert_true(for_each_input("good", check_good) >= 10);
}

static void test_bad_corpus(void **state)
{
	assert_true(for_each_input("bad", check_bad) >= 40);
}

/* A document over 10 MB: one Namespace whose annotation is huge. */
static void test_document_too_big(void **state)
{
	const char *head = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: big\n"
			   "  annotations:\n    blob: ";
	size_t n = strlen(head) + WF_K8S_MAX_DOC_BYTES + 16;
	size_t cap = WF_K8S_MAX_DOC_BYTES + (1u << 20);
	char *buf = malloc(cap), line[1024];
	struct wf_k8s_parse_result res;
	struct wf_diag diag;
	size_t off = strlen(head);

	assert_non_null(buf);
	memcpy(buf, head, off);
	memset(buf + off, 'x', n - off - 1);
	buf[n - 1] = '\n';
	assert_int_equal(wf_k8s_parse(buf, n, "big.yaml", &res, &diag), -WF_E_TOO_BIG);
	wf_diag_format(&diag, line, sizeof(line));
	assert_non_null(strstr(line, "big.yaml:"));
	assert_non_null(strstr(line, "document is larger than the 10485760 byte limit"));

	/* The same bytes split over many documents are fine: the cap is per document. */
	size_t docs = 0;
	off = 0;
	while (off + 4200 < cap) {
		off += (size_t)sprintf(
			buf + off,
			"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-%zu\n"
			"  annotations:\n    blob: ",
			docs++);
		memset(buf + off, 'x', 4000);
		off += 4000;
		buf[off++] = '\n';
	}
	assert_true(off > WF_K8S_MAX_DOC_BYTES);
	assert_int_equal(wf_k8s_parse(buf, off, "many.yaml", &res, &diag), (int)docs);
	wf_k8s_parse_result_done(&res);
	free(buf);
}

static void test_file_too_big(void **state)
{
	size_t n = WF_K8S_MAX_FILE_BYTES + 1;
	char *buf = malloc(n), line[1024];
	struct wf_k8s_parse_result res;
	struct wf_diag diag;

	assert_non_null(buf);
	memset(buf, '\n', n);
	assert_int_equal(wf_k8s_parse(buf, n, "huge.yaml", &res, &diag), -WF_E_TOO_BIG);
	wf_diag_format(&diag, line, sizeof(line));
	assert_string_equal(line,
			    "huge.yaml: file is 67108865 bytes, over the 67108864 byte limit");
	free(buf);
}

static void test_json_too_big(void **state)
{
	size_t n = WF_K8S_MAX_DOC_BYTES + 100;
	char *buf = malloc(n), line[1024];
	struct wf_k8s_parse_result res;
	struct wf_diag diag;
	int off;

	assert_non_null(buf);
	off = sprintf(buf,
		      "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"},"
		      "\"x\":\"");
	memset(buf + off, 'y', n - (size_t)off - 2);
	memcpy(buf + n - 2, "\"}", 2);
	assert_int_equal(wf_k8s_parse(buf, n, "big.json", &res, &diag), -WF_E_TOO_BIG);
	wf_diag_format(&diag, line, sizeof(line));
	assert_non_null(strstr(line, "byte limit"));
	free(buf);
}

/* Every allocation failure on realistic files unwinds cleanly (ASan checks for leaks). */
static void test_alloc_failures(void **state)
{
	static const struct {
		const char *file;
		int objects;
	} files[] = {
		{"web-app.yaml", 5}, {"gateway.yaml", 3},	 {"services.json", 3},
		{"netpol.yaml", 4},  {"endpointslices.yaml", 3}, {"kubectl-get-output.yaml", 2},
		{"anchors.yaml", 2},
	};
	char path[4096];
	struct wf_k8s_parse_result res;
	struct wf_diag diag;
	size_t len;
	char *buf;
	unsigned long n;
	int r;

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		snprintf(path, sizeof(path), "%s/good/%s", data_dir, files[f].file);
		buf = slurp(path, &len);
		assert_non_null(buf);
		for (n = 1;; n++) {
			wf_alloc_fail_at(n);
			r = wf_k8s_parse(buf, len, files[f].file, &res, &diag);
			wf_alloc_fail_at(0);
			if (r >= 0)
				break;
			if (r != -ENOMEM || !strstr(diag.msg, "out of memory"))
				fail_msg("%s, allocation %lu: %d %s", files[f].file, n, r,
					 diag.msg);
		}
		assert_int_equal(r, files[f].objects);
		assert_true(n > (unsigned long)files[f].objects);
		wf_k8s_parse_result_done(&res);
		free(buf);
	}
}

/* Every input of good/ and bad/, as paths (sorted), for the parallel parse tests. */
static size_t corpus_paths(char ***ret)
{
	static const char *const subs[] = {"good", "bad"};
	char **paths = NULL;
	size_t n = 0;

	for (size_t s = 0; s < 2; s++) {
		char dir[4096];
		struct dirent **list;
		snprintf(dir, sizeof(dir), "%s/%s", data_dir, subs[s]);
		int k = scandir(dir, &list, NULL, alphasort);
		assert_true(k >= 0);
		for (int i = 0; i < k; i++) {
			if (is_input(list[i]->d_name)) {
				paths = realloc(paths, (n + 1) * sizeof(*paths));
				assert_non_null(paths);
				paths[n] = malloc(strlen(dir) + strlen(list[i]->d_name) + 2);
				assert_non_null(paths[n]);
				sprintf(paths[n++], "%s/%s", dir, list[i]->d_name);
			}
			free(list[i]);
		}
		free(list);
	}
	*ret = paths;
	return n;
}

/* wf_k8s_parse_files gives what a serial loop of wf_k8s_parse_file gives: same objects in
 * the same order, same diagnostics. */
static void test_parse_files_same_as_serial(void **state)
{
	char **paths;
	size_t n = corpus_paths(&paths), failed = 0;
	struct wf_k8s_file_result *par = calloc(n, sizeof(*par));
	char a[4096], b[4096];

	assert_non_null(par);
	assert_true(n > 50);
	for (unsigned threads = 0; threads <= 4; threads += 2) {
		size_t nf = wf_k8s_parse_files((const char *const *)paths, n, threads, par);
		failed = 0;
		for (size_t i = 0; i < n; i++) {
			struct wf_k8s_parse_result res;
			struct wf_diag diag;
			int r = wf_k8s_parse_file(paths[i], &res, &diag);
			assert_int_equal(par[i].r, r);
			if (r < 0) {
				failed++;
				assert_string_equal(wf_diag_format(&par[i].diag, a, sizeof(a)),
						    wf_diag_format(&diag, b, sizeof(b)));
				continue;
			}
			assert_int_equal(par[i].res.n_objects, res.n_objects);
			assert_int_equal(par[i].res.ignored, res.ignored);
			for (size_t k = 0; k < res.n_objects; k++) {
				assert_string_equal(par[i].res.objects[k]->key,
						    res.objects[k]->key);
				assert_int_equal(par[i].res.objects[k]->origin.line,
						 res.objects[k]->origin.line);
			}
			wf_k8s_parse_result_done(&res);
		}
		assert_int_equal(nf, failed);
		assert_true(failed >= 40); /* the bad corpus */
		wf_k8s_file_results_done(par, n);
	}
	/* Nothing to parse, and a missing file */
	assert_int_equal(wf_k8s_parse_files(NULL, 0, 0, NULL), 0);
	const char *missing = "/nonexistent/weft.yaml";
	assert_int_equal(wf_k8s_parse_files(&missing, 1, 0, par), 1);
	assert_int_equal(par[0].r, -ENOENT);
	wf_k8s_file_results_done(par, 1);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	free(par);
}

/* Allocation failures on any thread unwind cleanly: each file either parses or fails with
 * -ENOMEM (which allocation fails depends on the threads' interleaving). */
static void test_parse_files_alloc_failures(void **state)
{
	static const char *const names[] = {"web-app.yaml", "services.json", "anchors.yaml",
					    "endpointslices.yaml"};
	const char *paths[4];
	char buf[4][4096];
	struct wf_k8s_file_result res[4];

	for (size_t i = 0; i < 4; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%s/good/%s", data_dir, names[i]);
		paths[i] = buf[i];
	}
	for (unsigned long n = 1; n < 400; n++) {
		wf_alloc_fail_at(n);
		size_t failed = wf_k8s_parse_files(paths, 4, 2, res);
		wf_alloc_fail_at(0);
		for (size_t i = 0; i < 4; i++)
			if (res[i].r < 0) {
				assert_int_equal(res[i].r, -ENOMEM);
				assert_non_null(strstr(res[i].diag.msg, "out of memory"));
			}
		wf_k8s_file_results_done(res, 4);
		if (failed == 0 && n > 50)
			break;
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_corpus),
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_document_too_big),
		cmocka_unit_test(test_file_too_big),
		cmocka_unit_test(test_json_too_big),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_parse_files_same_as_serial),
		cmocka_unit_test(test_parse_files_alloc_failures),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s MANIFEST_DIR\n", argv[0]);
		return 2;
	}
	data_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
