/* Manifest parsing benchmark helper.
 *   bench-k8s-parse gen DIR [PODS SERVICES SLICES]   writes a synthetic cluster as YAML and JSON
 *   bench-k8s-parse parse FILE...                     parses the files, keeps every object,
 *                                                     prints objects, seconds and peak RSS
 *   bench-k8s-parse pparse FILE...                    the same with wf_k8s_parse_files(): one
 *                                                     thread per CPU (CPU = all threads' sum)
 *   bench-k8s-parse scan FILE...                      the libraries' floor: libyaml events or
 *                                                     a jansson load, nothing kept */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "k8s/object.h"
#include "k8s/parse-files.h"

/* Objects per file: JSON Lists stay under the 10 MB document cap. */
#define PER_FILE 10000
#define SLICES_PER_FILE 2000

static FILE *open_out(const char *dir, const char *what, unsigned part, const char *ext)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%02u.%s", dir, what, part, ext);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	return f;
}

static void gen_pod(FILE *y, FILE *j, unsigned i, bool first)
{
	unsigned ns = i % 50, node = i % 100;

	fprintf(y,
		"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: app-%u-7d4b9c-x%u\n"
		"  namespace: team-%u\n  labels:\n    app: app-%u\n    pod-template-hash: 7d4b9c\n"
		"spec:\n  nodeName: node-%u\n  containers:\n  - name: app\n    image: registry.example.com/app:1.0\n"
		"    ports:\n    - name: http\n      containerPort: 8080\n    readinessProbe:\n"
		"      httpGet: {path: /healthz, port: http}\nstatus:\n  phase: Running\n"
		"  hostIP: 172.18.%u.%u\n  podIP: 10.%u.%u.%u\n  podIPs: [{ip: 10.%u.%u.%u}]\n"
		"  conditions: [{type: Ready, status: 'True'}]\n",
		i, i, ns, i % 10000, node, node / 250, node % 250 + 1, 64 + node / 250, node,
		i % 250 + 1, 64 + node / 250, node, i % 250 + 1);
	fprintf(j,
		"%s{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"app-%u-7d4b9c-x%u\","
		"\"namespace\":\"team-%u\",\"labels\":{\"app\":\"app-%u\",\"pod-template-hash\":\"7d4b9c\"}},"
		"\"spec\":{\"nodeName\":\"node-%u\",\"containers\":[{\"name\":\"app\",\"image\":"
		"\"registry.example.com/app:1.0\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080}],"
		"\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":\"http\"}}}]},"
		"\"status\":{\"phase\":\"Running\",\"hostIP\":\"172.18.%u.%u\",\"podIP\":\"10.%u.%u.%u\","
		"\"podIPs\":[{\"ip\":\"10.%u.%u.%u\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}\n",
		first ? "" : ",", i, i, ns, i % 10000, node, node / 250, node % 250 + 1,
		64 + node / 250, node, i % 250 + 1, 64 + node / 250, node, i % 250 + 1);
}

static void gen_service(FILE *y, FILE *j, unsigned i, bool first)
{
	fprintf(y,
		"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-%u\n  namespace: team-%u\n"
		"spec:\n  clusterIP: 10.96.%u.%u\n  selector:\n    app: app-%u\n  ports:\n"
		"  - name: http\n    port: 80\n    targetPort: http\n  - name: metrics\n    port: 9090\n",
		i, i % 50, i / 250, i % 250 + 1, i);
	fprintf(j,
		"%s{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"app-%u\","
		"\"namespace\":\"team-%u\"},\"spec\":{\"clusterIP\":\"10.96.%u.%u\",\"selector\":"
		"{\"app\":\"app-%u\"},\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"},"
		"{\"name\":\"metrics\",\"port\":9090}]}}\n",
		first ? "" : ",", i, i % 50, i / 250, i % 250 + 1, i);
}

static void gen_slice(FILE *y, FILE *j, unsigned i, bool first)
{
	fprintf(y,
		"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
		"  name: app-%u-abcde\n  namespace: team-%u\n  labels:\n"
		"    kubernetes.io/service-name: app-%u\naddressType: IPv4\nports:\n"
		"- {name: http, port: 8080, protocol: TCP}\n- {name: metrics, port: 9090}\nendpoints:\n",
		i, i % 50, i);
	fprintf(j,
		"%s{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
		"{\"name\":\"app-%u-abcde\",\"namespace\":\"team-%u\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"app-%u\"}},\"addressType\":\"IPv4\",\"ports\":"
		"[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"},{\"name\":\"metrics\",\"port\":9090}],"
		"\"endpoints\":[",
		first ? "" : ",", i, i % 50, i);
	for (unsigned e = 0; e < 10; e++) {
		unsigned p = i * 10 + e;
		fprintf(y,
			"- addresses: [10.%u.%u.%u]\n  conditions: {ready: true, serving: true, terminating: false}\n"
			"  nodeName: node-%u\n  targetRef: {kind: Pod, namespace: team-%u, name: app-%u-7d4b9c-x%u}\n",
			64 + p / 62500 % 64, p / 250 % 250, p % 250 + 1, p % 100, i % 50, i, p);
		fprintf(j,
			"%s{\"addresses\":[\"10.%u.%u.%u\"],\"conditions\":{\"ready\":true,\"serving\":true,"
			"\"terminating\":false},\"nodeName\":\"node-%u\",\"targetRef\":{\"kind\":\"Pod\","
			"\"namespace\":\"team-%u\",\"name\":\"app-%u-7d4b9c-x%u\"}}",
			e ? "," : "", 64 + p / 62500 % 64, p / 250 % 250, p % 250 + 1, p % 100,
			i % 50, i, p);
	}
	fprintf(j, "]}\n");
}

static void gen(const char *dir, const char *what, unsigned count, unsigned per_file,
		void (*fn)(FILE *, FILE *, unsigned, bool))
{
	for (unsigned part = 0; part * per_file < count; part++) {
		FILE *y = open_out(dir, what, part, "yaml"), *j = open_out(dir, what, part, "json");
		fprintf(j, "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n");
		for (unsigned i = part * per_file; i < count && i < (part + 1) * per_file; i++)
			fn(y, j, i, i == part * per_file);
		fprintf(j, "]}\n");
		fclose(y);
		fclose(j);
	}
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "gen") == 0) {
		unsigned pods = argc > 3 ? (unsigned)atoi(argv[3]) : 100000;
		unsigned svcs = argc > 4 ? (unsigned)atoi(argv[4]) : 10000;
		unsigned slices = argc > 5 ? (unsigned)atoi(argv[5]) : 10000;
		gen(argv[2], "pods", pods, PER_FILE, gen_pod);
		gen(argv[2], "services", svcs, PER_FILE, gen_service);
		gen(argv[2], "slices", slices, SLICES_PER_FILE, gen_slice);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "parse") == 0) {
		struct wf_k8s_parse_result *res = calloc((size_t)argc, sizeof(*res));
		size_t objects = 0;
		double t0 = now(), c0 = cpu();
		for (int i = 2; i < argc; i++) {
			struct wf_diag diag;
			char line[1024];
			if (wf_k8s_parse_file(argv[i], &res[i], &diag) < 0) {
				fprintf(stderr, "%s\n", wf_diag_format(&diag, line, sizeof(line)));
				return 1;
			}
			objects += res[i].n_objects;
		}
		double t = now() - t0, c = cpu() - c0;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		printf("objects=%zu cpu_seconds=%.3f wall_seconds=%.3f objects_per_cpu_sec=%.0f "
		       "max_rss_mb=%.1f\n",
		       objects, c, t, (double)objects / c, (double)ru.ru_maxrss / 1024.0);
		for (int i = 2; i < argc; i++)
			wf_k8s_parse_result_done(&res[i]);
		free(res);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "pparse") == 0) {
		size_t n = (size_t)argc - 2, objects = 0;
		struct wf_k8s_file_result *res = calloc(n, sizeof(*res));
		double t0 = now(), c0 = cpu();
		if (wf_k8s_parse_files((const char *const *)argv + 2, n, 0, res) > 0) {
			for (size_t i = 0; i < n; i++) {
				char line[1024];
				if (res[i].r < 0)
					fprintf(stderr, "%s\n",
						wf_diag_format(&res[i].diag, line, sizeof(line)));
			}
			return 1;
		}
		double t = now() - t0, c = cpu() - c0;
		for (size_t i = 0; i < n; i++)
			objects += res[i].res.n_objects;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		printf("objects=%zu cpu_seconds=%.3f wall_seconds=%.3f threads=%ld "
		       "max_rss_mb=%.1f\n",
		       objects, c, t, sysconf(_SC_NPROCESSORS_ONLN), (double)ru.ru_maxrss / 1024.0);
		wf_k8s_file_results_done(res, n);
		free(res);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "scan") == 0) {
		size_t events = 0;
		double t0 = now(), c0 = cpu();
		for (int i = 2; i < argc; i++) {
			FILE *f = fopen(argv[i], "rb");
			if (!f)
				return 1;
			fseek(f, 0, SEEK_END);
			long n = ftell(f);
			fseek(f, 0, SEEK_SET);
			char *b = malloc((size_t)n);
			if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
				return 1;
			fclose(f);
			if (strstr(argv[i], ".json")) {
				json_error_t e;
				json_decref(json_loadb(b, (size_t)n, 0, &e));
			} else {
				yaml_parser_t p;
				yaml_event_t ev;
				yaml_parser_initialize(&p);
				yaml_parser_set_input_string(&p, (unsigned char *)b, (size_t)n);
				for (bool end = false; !end && yaml_parser_parse(&p, &ev);
				     events++) {
					end = ev.type == YAML_STREAM_END_EVENT;
					yaml_event_delete(&ev);
				}
				yaml_parser_delete(&p);
			}
			free(b);
		}
		printf("cpu_seconds=%.3f wall_seconds=%.3f yaml_events=%zu\n", cpu() - c0,
		       now() - t0, events);
		return 0;
	}
	fprintf(stderr,
		"usage: %s gen DIR [PODS SERVICES SLICES] | parse FILE... | pparse FILE... | "
		"scan FILE...\n",
		argv[0]);
	return 2;
}
