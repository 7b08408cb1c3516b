/* The lab control plane's manifest reload: one pass over each file (wf_lab_manifest_load, where
 * wf_k8s_parse_docs hands over the JSON documents it decoded) against the two passes it
 * replaced (wf_k8s_parse, then wf_yj_load of the same text), on N files written as
 * `weft lab apply` stores them in <state>/manifests (indented JSON, one object each).
 *
 *   lab-manifest-load [FILES [ROUNDS]]      defaults: 600 files, 9 rounds
 *
 * Prints the median and best time of each, and the ratio two-pass / one-pass: for the parsing
 * alone (texts in memory), and for the whole reload (file reads included). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "k8s/object.h"
#include "lab/lab-internal.h"
#include "lib/alloc.h"
#include "lib/yaml-json.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A third each of Deployments, Services and Pods, as the lab stores them. */
static void write_files(const char *dir, int n)
{
	for (int i = 0; i < n; i++) {
		char path[512], name[32];
		json_t *o;

		snprintf(name, sizeof(name), "app-%d", i);
		if (i % 3 == 0)
			o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:i, s:{s:{s:s}}, "
				      "s:{s:{s:{s:s, s:s}}, s:{s:[{s:s, s:s, s:[{s:s, s:i}], "
				      "s:{s:{s:s, s:i}, s:i}}]}}}}",
				      "apiVersion", "apps/v1", "kind", "Deployment", "metadata",
				      "name", name, "namespace", "default", "labels", "app", name,
				      "spec", "replicas", 3, "selector", "matchLabels", "app", name,
				      "template", "metadata", "labels", "app", name, "tier", "web",
				      "spec", "containers", "name", "echo", "image", "weft/echo",
				      "ports", "name", "http", "containerPort", 8080,
				      "readinessProbe", "httpGet", "path", "/", "port", 8080,
				      "periodSeconds", 2);
		else if (i % 3 == 1)
			o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:{s:s}, "
				      "s:[{s:s, s:i, s:s}, {s:s, s:i, s:i}]}}",
				      "apiVersion", "v1", "kind", "Service", "metadata", "name",
				      name, "namespace", "default", "spec", "type", "NodePort",
				      "selector", "app", name, "ports", "name", "http", "port", 80,
				      "targetPort", "http", "name", "metrics", "port", 9090,
				      "targetPort", 9090);
		else
			o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s, "
				      "s:[s, s, s], s:[{s:s, s:s}]}]}}",
				      "apiVersion", "v1", "kind", "Pod", "metadata", "name", name,
				      "namespace", "default", "labels", "app", name, "spec",
				      "nodeName", "node-1", "containers", "name", "main", "image",
				      "busybox", "command", "sh", "-c", "sleep 3600", "env", "name",
				      "MODE", "value", "bench");
		snprintf(path, sizeof(path), "%s/%s.json", dir, name);
		if (!o || json_dump_file(o, path, JSON_SORT_KEYS | JSON_INDENT(1)) < 0) {
			fprintf(stderr, "cannot write %s\n", path);
			exit(1);
		}
		json_decref(o);
	}
}

static int keep(void *userdata, json_t *doc, const struct wf_yj_docinfo *info)
{
	return json_array_append(userdata, doc);
}

/* What the reload did before: the model's parse, then a second parse for the JSON. */
static int two_pass(const char *dir)
{
	struct dirent **list;
	json_t *docs = json_array();
	int n = scandir(dir, &list, NULL, alphasort), r = 0;

	for (int i = 0; i < n; i++) {
		struct wf_k8s_parse_result res = {0};
		char path[1024], *text = NULL;
		size_t len;

		if (list[i]->d_name[0] != '.' && r == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
			r = wf_lab_read_file(path, &text, &len);
			if (r == 0 && wf_k8s_parse(text, len, path, &res, NULL) < 0)
				r = -EINVAL;
			wf_k8s_parse_result_done(&res);
			if (r == 0 && wf_yj_load(text, len, path, NULL, keep, docs, NULL) < 0)
				r = -EINVAL;
			wf_free(text);
		}
		free(list[i]);
	}
	free(list);
	json_decref(docs);
	return r;
}

/* The same two ways on texts already in memory: the parsing alone, without the file I/O. */
static int parse_texts(char **texts, const size_t *lens, int n, bool once)
{
	json_t *docs = json_array();
	int r = 0;

	for (int i = 0; i < n && r == 0; i++) {
		struct wf_k8s_parse_result res = {0};

		if (once) {
			r = wf_k8s_parse_docs(texts[i], lens[i], "m", keep, docs, &res, NULL);
		} else {
			r = wf_k8s_parse(texts[i], lens[i], "m", &res, NULL);
			if (r >= 0)
				r = wf_yj_load(texts[i], lens[i], "m", NULL, keep, docs, NULL);
		}
		r = r < 0 ? r : 0;
		wf_k8s_parse_result_done(&res);
	}
	json_decref(docs);
	return r;
}

static int one_pass(const char *dir)
{
	struct wf_lab_docs docs = {0};
	char err[512];
	int r = wf_lab_manifest_load(dir, &docs, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "%s\n", err);
	wf_lab_docs_done(&docs);
	return r;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *what, double *t1, double *t2, int rounds)
{
	qsort(t1, rounds, sizeof(double), cmp);
	qsort(t2, rounds, sizeof(double), cmp);
	printf("%s:\n", what);
	printf("  one pass   (wf_k8s_parse_docs):          %7.2f ms  %7.2f ms\n",
	       t1[rounds / 2] * 1e3, t1[0] * 1e3);
	printf("  two passes (wf_k8s_parse + wf_yj_load):  %7.2f ms  %7.2f ms\n",
	       t2[rounds / 2] * 1e3, t2[0] * 1e3);
	printf("  two / one: %.2fx  %.2fx\n", t2[rounds / 2] / t1[rounds / 2], t2[0] / t1[0]);
}

int main(int argc, char **argv)
{
	int files = argc > 1 ? atoi(argv[1]) : 600, rounds = argc > 2 ? atoi(argv[2]) : 9;
	char dir[] = "/tmp/weft-bench-manifests.XXXXXX";
	double t1[64], t2[64];
	char **texts;
	size_t *lens;

	if (files < 1 || rounds < 1 || rounds > 64 || !mkdtemp(dir)) {
		fprintf(stderr, "usage: lab-manifest-load [FILES [ROUNDS<=64]]\n");
		return 2;
	}
	write_files(dir, files);
	texts = calloc(files, sizeof(*texts));
	lens = calloc(files, sizeof(*lens));
	for (int i = 0; texts && lens && i < files; i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/app-%d.json", dir, i);
		if (wf_lab_read_file(path, &texts[i], &lens[i]) < 0)
			return 1;
	}
	printf("%d manifest files, %d rounds (median, best)\n", files, rounds);
	/* the order alternates, so that neither always runs on the other's freed memory */
	for (int i = 0; i < rounds; i++) {
		double t = now();

		if (i % 2 && parse_texts(texts, lens, files, false) < 0)
			return 1;
		t2[i] = i % 2 ? now() - t : 0;
		t = now();
		if (parse_texts(texts, lens, files, true) < 0)
			return 1;
		t1[i] = now() - t;
		t = now();
		if (i % 2 == 0 && parse_texts(texts, lens, files, false) < 0)
			return 1;
		if (i % 2 == 0)
			t2[i] = now() - t;
	}
	report("parsing, texts in memory", t1, t2, rounds);
	for (int i = 0; i < rounds; i++) {
		double t = now();

		if (i % 2 && two_pass(dir) < 0)
			return 1;
		t2[i] = i % 2 ? now() - t : 0;
		t = now();
		if (one_pass(dir) < 0)
			return 1;
		t1[i] = now() - t;
		t = now();
		if (i % 2 == 0 && two_pass(dir) < 0)
			return 1;
		if (i % 2 == 0)
			t2[i] = now() - t;
	}
	report("whole reload from the directory (reads included)", t1, t2, rounds);
	for (int i = 0; i < files; i++)
		wf_free(texts[i]);
	free(texts);
	free(lens);
	for (int i = 0; i < files; i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/app-%d.json", dir, i);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}
