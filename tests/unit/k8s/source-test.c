/* Unit tests: the manifest directory source (source-dir.h) with real files in a temp dir,
 * driven through inotify. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s/object.h"
#include "k8s/source-dir.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/error.h"
#include "lib/loop.h"

static char tmpdir[64];

static void rm_rf(const char *path)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static const char *at(const char *rel)
{
	static char buf[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, rel);
	return buf[i];
}

static void write_file(const char *rel, const char *text)
{
	FILE *f = fopen(at(rel), "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void move(const char *from, const char *to)
{
	assert_int_equal(rename(at(from), at(to)), 0);
}

static char *svc(char *buf, size_t len, const char *ns, const char *name, int port)
{
	snprintf(buf, len,
		 "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\n"
		 "spec:\n  selector: {app: %s}\n  ports:\n  - port: %d\n",
		 name, ns, name, port);
	return buf;
}

/* ---- what the store and the source tell us ---- */

struct events {
	int batches;
	int added, modified, deleted;
	int errors;
	int last_err;
	char last_diag[1024];
};

static void on_event(void *ud, const struct wf_store_snapshot *snap,
		     const struct wf_store_event *ev, size_t n)
{
	struct events *e = ud;
	e->batches++;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].type == WF_STORE_ADDED)
			e->added++;
		else if (ev[i].type == WF_STORE_MODIFIED)
			e->modified++;
		else
			e->deleted++;
	}
}

static void on_error(void *ud, int err, const struct wf_diag *d)
{
	struct events *e = ud;
	e->errors++;
	e->last_err = err;
	wf_diag_format(d, e->last_diag, sizeof(e->last_diag));
}

struct fixture {
	struct wf_store *store;
	struct wf_source_dir *src;
	struct events ev;
};

/* Killed by a test timeout: still remove the temp dir (fork, execve and waitpid are
 * async-signal-safe), and still die of the signal's status. */
static void on_signal(int sig)
{
	pid_t pid = tmpdir[0] ? fork() : -1;
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", tmpdir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	_exit(128 + sig);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-source-test.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(wf_store_new(&f->store), 0);
	wf_store_subscribe(f->store, on_event, &f->ev);
	struct wf_source_dir_config cfg = {
		.store = f->store, .watch = true, .on_error = on_error, .userdata = &f->ev};
	assert_int_equal(wf_source_dir_new(&cfg, &f->src), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	wf_source_dir_free(f->src);
	wf_store_free(f->store);
	rm_rf(tmpdir);
	free(f);
	return 0;
}

static const struct wf_k8s_object *get(struct fixture *f, enum wf_k8s_kind kind, const char *ns,
				       const char *name)
{
	struct wf_store_snapshot *snap = wf_store_snapshot(f->store);
	const struct wf_k8s_object *obj = wf_store_get(snap, kind, ns, name);
	wf_store_snapshot_unref(snap); /* the source keeps its own reference */
	return obj;
}

static size_t count(struct fixture *f, enum wf_k8s_kind kind)
{
	struct wf_store_snapshot *snap = wf_store_snapshot(f->store);
	size_t n = wf_store_count(snap, kind, NULL);
	wf_store_snapshot_unref(snap);
	return n;
}

/* Processes inotify events until cond holds (checked after each round) or 3 s pass. */
#define WAIT_FOR(f, cond)                                                            \
	do {                                                                         \
		struct timespec t0, t1;                                              \
		clock_gettime(CLOCK_MONOTONIC, &t0);                                 \
		for (;;) {                                                           \
			struct pollfd pfd = {wf_source_dir_fd((f)->src), POLLIN, 0}; \
			if (poll(&pfd, 1, 50) > 0)                                   \
				assert_true(wf_source_dir_process((f)->src) >= 0);   \
			if (cond)                                                    \
				break;                                               \
			clock_gettime(CLOCK_MONOTONIC, &t1);                         \
			if (t1.tv_sec - t0.tv_sec > 3)                               \
				fail_msg("timed out waiting for: %s", #cond);        \
		}                                                                    \
	} while (0)

/* Lets every pending event be handled (for "nothing must happen" checks). */
static void drain(struct fixture *f)
{
	struct pollfd pfd = {wf_source_dir_fd(f->src), POLLIN, 0};
	while (poll(&pfd, 1, 150) > 0)
		assert_true(wf_source_dir_process(f->src) >= 0);
}

/* ---- tests ---- */

static void test_initial_load_and_filters(void **state)
{
	struct fixture *f = *state;
	char b[512];
	assert_int_equal(mkdir(at("sub"), 0755), 0);
	assert_int_equal(mkdir(at("sub/deeper"), 0755), 0);
	assert_int_equal(mkdir(at(".hidden"), 0755), 0);
	assert_int_equal(mkdir(at(".store"), 0755), 0);
	write_file("a.yaml", svc(b, sizeof(b), "default", "a", 80));
	write_file("sub/b.yml", svc(b, sizeof(b), "default", "b", 80));
	write_file("sub/deeper/c.json",
		   "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"c\"},"
		   "\"spec\":{\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}]}}");
	/* None of these count. */
	write_file(".a.yaml.swp", svc(b, sizeof(b), "default", "swp", 80));
	write_file("a.yaml~", svc(b, sizeof(b), "default", "tilde", 80));
	write_file(".#a.yaml", svc(b, sizeof(b), "default", "lock", 80));
	write_file("4913", svc(b, sizeof(b), "default", "vimtest", 80));
	write_file("notes.txt", "not a manifest");
	write_file(".hidden/d.yaml", svc(b, sizeof(b), "default", "hidden", 80));
	/* Symlink loops are not more manifests. */
	assert_int_equal(symlink("..", at("sub/up")), 0);
	assert_int_equal(symlink(".", at("self")), 0);

	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 0);
	assert_int_equal(count(f, WF_K8S_SERVICE), 3);
	assert_non_null(get(f, WF_K8S_SERVICE, "default", "a"));
	assert_non_null(get(f, WF_K8S_SERVICE, "default", "b"));
	assert_non_null(get(f, WF_K8S_SERVICE, "default", "c"));
	/* One batch per file. */
	assert_int_equal(f->ev.batches, 3);
	struct wf_source_dir_stats st;
	wf_source_dir_get_stats(f->src, &st);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.objects, 3);
	assert_int_equal(st.errors, 0);
	assert_true(wf_source_dir_wanted_name("x.yaml"));
	assert_false(wf_source_dir_wanted_name("x.yaml.swp"));
	assert_false(wf_source_dir_wanted_name(".x.yaml"));

	/* Links appear complete: no IN_CLOSE_WRITE comes for them. */
	write_file(".store/e.yaml", svc(b, sizeof(b), "default", "e", 80));
	assert_int_equal(symlink(".store/e.yaml", at("e.yaml")), 0);
	WAIT_FOR(f, get(f, WF_K8S_SERVICE, "default", "e") != NULL);
	write_file(".store/f.yaml", svc(b, sizeof(b), "default", "f", 80));
	assert_int_equal(link(at(".store/f.yaml"), at("f.yaml")), 0);
	WAIT_FOR(f, get(f, WF_K8S_SERVICE, "default", "f") != NULL);
	assert_int_equal(count(f, WF_K8S_SERVICE), 5);

	/* A hidden or ignored file appearing later does nothing. */
	write_file("b.yaml~", svc(b, sizeof(b), "default", "tilde2", 80));
	write_file("sub/.x.yaml", svc(b, sizeof(b), "default", "hidden2", 80));
	drain(f);
	assert_int_equal(count(f, WF_K8S_SERVICE), 5);
	assert_int_equal(f->ev.errors, 0);
}

static void test_create_edit_delete(void **state)
{
	struct fixture *f = *state;
	char b[1024], c[512];
	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 0);
	assert_int_equal(f->ev.batches, 0);

	/* create: two objects in one file, one batch */
	svc(b, sizeof(b), "default", "one", 80);
	strcat(b, "---\n");
	strcat(b, svc(c, sizeof(c), "default", "two", 80));
	write_file("x.yaml", b);
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 2);
	assert_int_equal(f->ev.batches, 1);
	assert_int_equal(f->ev.added, 2);
	const struct wf_k8s_object *one = get(f, WF_K8S_SERVICE, "default", "one");
	uint64_t rv_one = one->resource_version;

	/* edit: only the object whose text changed is modified */
	svc(b, sizeof(b), "default", "one", 80);
	strcat(b, "---\n");
	strcat(b, svc(c, sizeof(c), "default", "two", 8080));
	write_file("x.yaml", b);
	WAIT_FOR(f, f->ev.modified == 1);
	assert_int_equal(f->ev.batches, 2);
	assert_ptr_equal(get(f, WF_K8S_SERVICE, "default", "one"), one);
	assert_int_equal(get(f, WF_K8S_SERVICE, "default", "one")->resource_version, rv_one);
	const struct wf_k8s_object *two = get(f, WF_K8S_SERVICE, "default", "two");
	assert_int_equal(two->service->ports[0].port, 8080);
	assert_true(two->resource_version > rv_one);

	/* an object removed from the file leaves the store */
	write_file("x.yaml", svc(b, sizeof(b), "default", "one", 80));
	WAIT_FOR(f, f->ev.deleted == 1);
	assert_null(get(f, WF_K8S_SERVICE, "default", "two"));
	assert_non_null(get(f, WF_K8S_SERVICE, "default", "one"));

	/* delete the file */
	assert_int_equal(unlink(at("x.yaml")), 0);
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 0);
	assert_int_equal(f->ev.deleted, 2);
	assert_int_equal(f->ev.errors, 0);
}

static void test_rename(void **state)
{
	struct fixture *f = *state;
	char b[512];
	write_file("a.yaml", svc(b, sizeof(b), "default", "a", 80));
	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 0);
	assert_int_equal(count(f, WF_K8S_SERVICE), 1);

	const struct wf_k8s_object *a = get(f, WF_K8S_SERVICE, "default", "a");

	/* Renaming to another manifest name keeps the object as it is: no duplicate, and no
	 * event at all (b.yaml takes over what a.yaml left). */
	move("a.yaml", "b.yaml");
	drain(f);
	assert_int_equal(f->ev.errors, 0);
	assert_int_equal(f->ev.batches, 1);
	assert_ptr_equal(get(f, WF_K8S_SERVICE, "default", "a"), a);
	/* Into a new subdirectory, with an edit on the way: one MODIFIED. */
	assert_int_equal(mkdir(at("sub"), 0755), 0);
	drain(f);
	write_file(".tmp", svc(b, sizeof(b), "default", "a", 81));
	move(".tmp", "sub/c.yaml");
	unlink(at("b.yaml"));
	WAIT_FOR(f, f->ev.modified == 1);
	drain(f);
	assert_int_equal(f->ev.deleted, 0);
	assert_int_equal(get(f, WF_K8S_SERVICE, "default", "a")->service->ports[0].port, 81);
	move("sub/c.yaml", "b.yaml");
	drain(f);
	assert_int_equal(f->ev.deleted, 0);
	assert_int_equal(f->ev.errors, 0);

	/* Renaming out of the manifest names removes it; back in brings it back. */
	move("b.yaml", "b.yaml.bak");
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 0);
	move("b.yaml.bak", "c.yaml");
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 1);

	/* A file moved in from outside the tree counts; moved out, it goes. */
	char outside[128];
	snprintf(outside, sizeof(outside), "%s.outside.yaml", tmpdir);
	FILE *o = fopen(outside, "w");
	fputs(svc(b, sizeof(b), "default", "from-outside", 80), o);
	fclose(o);
	assert_int_equal(rename(outside, at("d.yaml")), 0);
	WAIT_FOR(f, get(f, WF_K8S_SERVICE, "default", "from-outside") != NULL);
	assert_int_equal(rename(at("d.yaml"), outside), 0);
	WAIT_FOR(f, get(f, WF_K8S_SERVICE, "default", "from-outside") == NULL);
	unlink(outside);
	assert_int_equal(f->ev.errors, 0);
}

/* vim's default save: write 4913 probe, rename x.yaml to x.yaml~, write x.yaml anew, delete
 * the backup. Readers must not see the objects vanish in between. */
static void test_editor_rename_save(void **state)
{
	struct fixture *f = *state;
	char b[1024], c[512];
	svc(b, sizeof(b), "default", "keep", 80);
	strcat(b, "---\n");
	strcat(b, svc(c, sizeof(c), "default", "edit", 80));
	write_file("x.yaml", b);
	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 0);
	assert_int_equal(count(f, WF_K8S_SERVICE), 2);
	const struct wf_k8s_object *keep = get(f, WF_K8S_SERVICE, "default", "keep");
	memset(&f->ev, 0, sizeof(f->ev));

	for (int round = 0; round < 3; round++) {
		write_file("4913", "");
		unlink(at("4913"));
		write_file(".x.yaml.swp", "swap");
		move("x.yaml", "x.yaml~");
		svc(b, sizeof(b), "default", "keep", 80);
		strcat(b, "---\n");
		strcat(b, svc(c, sizeof(c), "default", "edit", 81 + round));
		write_file("x.yaml", b);
		unlink(at("x.yaml~"));
		unlink(at(".x.yaml.swp"));
		WAIT_FOR(f, f->ev.modified == round + 1);
	}
	drain(f);
	assert_int_equal(f->ev.deleted, 0);
	assert_int_equal(f->ev.added, 0);
	assert_int_equal(f->ev.errors, 0);
	assert_ptr_equal(get(f, WF_K8S_SERVICE, "default", "keep"), keep);
	assert_int_equal(get(f, WF_K8S_SERVICE, "default", "edit")->service->ports[0].port, 83);

	/* emacs-style: write x.yaml.tmp... no: write a temp hidden file and rename over. */
	write_file(".x.yaml.new", svc(b, sizeof(b), "default", "keep", 80));
	move(".x.yaml.new", "x.yaml");
	WAIT_FOR(f, f->ev.deleted == 1);
	assert_null(get(f, WF_K8S_SERVICE, "default", "edit"));
	assert_ptr_equal(get(f, WF_K8S_SERVICE, "default", "keep"), keep);
}

static void test_bad_file_keeps_objects(void **state)
{
	struct fixture *f = *state;
	char b[512];
	write_file("a.yaml", svc(b, sizeof(b), "default", "a", 80));
	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 0);
	const struct wf_k8s_object *a = get(f, WF_K8S_SERVICE, "default", "a");
	assert_non_null(a);
	int batches = f->ev.batches;

	/* A port out of range: the error names file, line, column and field. */
	write_file("a.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n"
			     "  ports:\n  - port: 99999\n");
	WAIT_FOR(f, f->ev.errors == 1);
	assert_int_equal(f->ev.last_err, -WF_E_INVALID);
	assert_non_null(strstr(f->ev.last_diag, "/a.yaml:7:"));
	assert_non_null(strstr(f->ev.last_diag, "spec.ports[0].port"));
	assert_ptr_equal(get(f, WF_K8S_SERVICE, "default", "a"), a);
	assert_int_equal(f->ev.batches, batches);
	struct wf_source_dir_stats st;
	wf_source_dir_get_stats(f->src, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.objects, 1);

	/* Broken YAML: same. */
	write_file("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: [\n");
	WAIT_FOR(f, f->ev.errors == 2);
	assert_int_equal(f->ev.last_err, -WF_E_PARSE);
	assert_ptr_equal(get(f, WF_K8S_SERVICE, "default", "a"), a);

	/* Fixed: applied, the error is gone. */
	write_file("a.yaml", svc(b, sizeof(b), "default", "a", 8080));
	WAIT_FOR(f, f->ev.modified == 1);
	wf_source_dir_get_stats(f->src, &st);
	assert_int_equal(st.errors, 0);
	assert_int_equal(get(f, WF_K8S_SERVICE, "default", "a")->service->ports[0].port, 8080);
}

static void test_duplicate_across_files(void **state)
{
	struct fixture *f = *state;
	char b[512];
	write_file("a.yaml", svc(b, sizeof(b), "default", "web", 80));
	write_file("b.yaml", svc(b, sizeof(b), "default", "web", 8080));
	/* Files load in name order: a.yaml wins, b.yaml is the error. */
	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 1);
	assert_int_equal(f->ev.errors, 1);
	assert_int_equal(f->ev.last_err, -WF_E_DUPLICATE);
	assert_non_null(strstr(f->ev.last_diag, "/b.yaml:1:1: metadata.name: Service/default/web "
						"is also defined in "));
	assert_non_null(strstr(f->ev.last_diag, "/a.yaml:1"));
	assert_int_equal(get(f, WF_K8S_SERVICE, "default", "web")->service->ports[0].port, 80);

	/* When a.yaml goes, b.yaml is tried again and takes over. */
	assert_int_equal(unlink(at("a.yaml")), 0);
	WAIT_FOR(f,
		 get(f, WF_K8S_SERVICE, "default", "web") &&
			 get(f, WF_K8S_SERVICE, "default", "web")->service->ports[0].port == 8080);
	struct wf_source_dir_stats st;
	wf_source_dir_get_stats(f->src, &st);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.files, 1);

	/* A new file duplicating it is refused while b.yaml keeps it. */
	write_file("c.yaml", svc(b, sizeof(b), "default", "web", 9090));
	WAIT_FOR(f, f->ev.errors == 2);
	assert_non_null(strstr(f->ev.last_diag, "/c.yaml"));
	assert_non_null(strstr(f->ev.last_diag, "/b.yaml"));
	assert_int_equal(get(f, WF_K8S_SERVICE, "default", "web")->service->ports[0].port, 8080);
}

static void test_subdirectories(void **state)
{
	struct fixture *f = *state;
	char b[512];
	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 0);

	/* A directory made later is watched, and so are its own subdirectories. */
	assert_int_equal(mkdir(at("team"), 0755), 0);
	write_file("team/a.yaml", svc(b, sizeof(b), "default", "a", 80));
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 1);
	assert_int_equal(mkdir(at("team/sub"), 0755), 0);
	write_file("team/sub/b.yaml", svc(b, sizeof(b), "default", "b", 80));
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 2);

	/* A directory tree moved in at once is scanned. */
	char outside[128], cmd[512], file[256];
	snprintf(outside, sizeof(outside), "%s.tree", tmpdir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/x/y", outside);
	assert_int_equal(system(cmd), 0);
	snprintf(file, sizeof(file), "%s/x/y/c.yaml", outside);
	FILE *o = fopen(file, "w");
	assert_non_null(o);
	fputs(svc(b, sizeof(b), "default", "c", 80), o);
	assert_int_equal(fclose(o), 0);
	assert_int_equal(rename(outside, at("moved")), 0);
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 3);

	/* Renaming a directory inside the tree keeps its objects; removing it drops them. */
	move("team", "team2");
	drain(f);
	assert_int_equal(count(f, WF_K8S_SERVICE), 3);
	write_file("team2/sub/d.yaml", svc(b, sizeof(b), "default", "d", 80));
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 4);
	rm_rf(at("team2"));
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 1);
	assert_non_null(get(f, WF_K8S_SERVICE, "default", "c"));
	assert_int_equal(f->ev.errors, 0);
}

static void test_explicit_file(void **state)
{
	struct fixture *f = *state;
	char b[512];
	write_file("only.yaml", svc(b, sizeof(b), "default", "only", 80));
	write_file("other.yaml", svc(b, sizeof(b), "default", "other", 80));
	write_file("manifest.txt", svc(b, sizeof(b), "default", "txt", 80));
	assert_int_equal(wf_source_dir_add(f->src, at("only.yaml")), 0);
	assert_int_equal(wf_source_dir_add(f->src, at("manifest.txt")), 0);
	assert_int_equal(count(f, WF_K8S_SERVICE), 2);
	assert_int_equal(wf_source_dir_add(f->src, at("missing.yaml")), -ENOENT);

	/* Its directory's other files stay out; the file itself is followed. */
	write_file("other.yaml", svc(b, sizeof(b), "default", "other", 81));
	write_file("only.yaml", svc(b, sizeof(b), "default", "only", 81));
	WAIT_FOR(f, f->ev.modified == 1);
	drain(f);
	assert_null(get(f, WF_K8S_SERVICE, "default", "other"));
	unlink(at("only.yaml"));
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 1);
	write_file("only.yaml", svc(b, sizeof(b), "default", "only", 82));
	WAIT_FOR(f, count(f, WF_K8S_SERVICE) == 2);
}

static void test_load_paths(void **state)
{
	char b[512];
	assert_int_equal(mkdir(at("d"), 0755), 0);
	write_file("d/a.yaml", svc(b, sizeof(b), "default", "a", 80));
	write_file("d/bad.yaml", "kind: Service\n");
	write_file("x.yaml", svc(b, sizeof(b), "default", "x", 80));
	const char *paths[] = {at("d"), at("x.yaml"), at("nope")};
	struct wf_store *s;
	struct wf_source_dir_stats st;
	struct events ev = {0};
	assert_int_equal(wf_store_new(&s), 0);
	assert_int_equal(wf_source_load_paths(s, paths, 3, on_error, &ev, &st), 2);
	assert_int_equal(ev.errors, 2);
	assert_non_null(strstr(ev.last_diag, "/nope: "));
	assert_int_equal(st.files, 2);
	assert_int_equal(st.objects, 2);
	assert_int_equal(st.errors, 1);
	struct wf_store_snapshot *snap = wf_store_snapshot(s);
	assert_int_equal(wf_store_count(snap, WF_K8S_SERVICE, NULL), 2);
	wf_store_snapshot_unref(snap);
	/* The objects stay in the store after the source is gone. */
	wf_store_free(s);
}

/* A source that keeps only some kinds (as weft dns does) drops the others on parsing and
 * counts them as ignored; what it keeps behaves as usual. */
static void test_kind_filter(void **state)
{
	char b[512];
	char doc[2048];
	snprintf(doc, sizeof(doc),
		 "%s---\napiVersion: v1\nkind: Pod\nmetadata: {name: dropped}\n"
		 "spec:\n  containers: [{name: c, image: weft/echo}]\n",
		 svc(b, sizeof(b), "default", "kept", 80));
	write_file("mixed.yaml", doc);
	struct wf_store *s;
	struct events ev = {0};
	struct wf_source_dir_config cfg = {
		.on_error = on_error, .userdata = &ev, .kinds = WF_SOURCE_KIND(WF_K8S_SERVICE)};
	struct wf_source_dir *src;
	struct wf_source_dir_stats st;
	assert_int_equal(wf_store_new(&s), 0);
	cfg.store = s;
	assert_int_equal(wf_source_dir_new(&cfg, &src), 0);
	assert_int_equal(wf_source_dir_add(src, at("mixed.yaml")), 0);
	wf_source_dir_get_stats(src, &st);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.ignored, 1);
	assert_int_equal(ev.errors, 0);
	struct wf_store_snapshot *snap = wf_store_snapshot(s);
	assert_int_equal(wf_store_count(snap, WF_K8S_SERVICE, NULL), 1);
	assert_int_equal(wf_store_count(snap, WF_K8S_POD, NULL), 0);
	wf_store_snapshot_unref(snap);
	wf_source_dir_free(src);
	wf_store_free(s);
}

/* A ConfigMap mounted as a volume: visible names are symlinks through a hidden ..data link,
 * and kubelet publishes a new version by swapping ..data (atomic rename). */
static void test_configmap_projection(void **state)
{
	struct fixture *f = *state;
	char b[512];
	assert_int_equal(mkdir(at("..2024_01"), 0755), 0);
	write_file("..2024_01/svc.yaml", svc(b, sizeof(b), "default", "cm", 80));
	assert_int_equal(symlink("..2024_01", at("..data")), 0);
	assert_int_equal(symlink("..data/svc.yaml", at("svc.yaml")), 0);
	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 0);
	assert_int_equal(get(f, WF_K8S_SERVICE, "default", "cm")->service->ports[0].port, 80);

	assert_int_equal(mkdir(at("..2024_02"), 0755), 0);
	write_file("..2024_02/svc.yaml", svc(b, sizeof(b), "default", "cm", 8080));
	assert_int_equal(symlink("..2024_02", at("..data_tmp")), 0);
	move("..data_tmp", "..data");
	rm_rf(at("..2024_01"));
	WAIT_FOR(f, get(f, WF_K8S_SERVICE, "default", "cm")->service->ports[0].port == 8080);
	drain(f);
	assert_int_equal(f->ev.errors, 0);
	assert_int_equal(count(f, WF_K8S_SERVICE), 1);
}

/* Every allocation failure while a changed file is applied leaves the store as it was (the
 * same snapshot), and leaks nothing; the next attempt applies it. */
static void test_fault_injection(void **state)
{
	char b[2048], c[512];
	struct wf_store *s;
	struct wf_source_dir *src;
	struct events ev = {0};
	assert_int_equal(wf_store_new(&s), 0);
	struct wf_source_dir_config cfg = {.store = s, .on_error = on_error, .userdata = &ev};
	assert_int_equal(wf_source_dir_new(&cfg, &src), 0);
	svc(b, sizeof(b), "default", "keep", 80);
	strcat(b, "---\n");
	strcat(b, svc(c, sizeof(c), "default", "change", 80));
	strcat(b, "---\n");
	strcat(b, svc(c, sizeof(c), "default", "drop", 80));
	write_file("a.yaml", b);
	write_file("b.yaml", svc(c, sizeof(c), "default", "other", 80));
	assert_int_equal(wf_source_dir_add(src, tmpdir), 0);

	svc(b, sizeof(b), "default", "keep", 80);
	strcat(b, "---\n");
	strcat(b, svc(c, sizeof(c), "default", "change", 81));
	strcat(b, "---\n");
	strcat(b, svc(c, sizeof(c), "default", "new", 80));
	write_file("a.yaml", b);
	struct wf_store_snapshot *before = wf_store_snapshot(s);
	unsigned long nth;
	for (nth = 1;; nth++) {
		wf_alloc_fail_at(nth);
		int r = wf_source_dir_add(src, tmpdir);
		wf_alloc_fail_at(0);
		struct wf_store_snapshot *now = wf_store_snapshot(s);
		bool applied = wf_store_get(now, WF_K8S_SERVICE, "default", "new") != NULL;
		if (!applied) {
			assert_true(r != 0);
			assert_ptr_equal(now, before);
		}
		wf_store_snapshot_unref(now);
		if (applied && r == 0)
			break;
		assert_true(nth < 100000);
	}
	/* Parsing, books and store all allocate: many failure points were exercised. */
	assert_true(nth > 20);
	struct wf_store_snapshot *after = wf_store_snapshot(s);
	assert_non_null(wf_store_get(after, WF_K8S_SERVICE, "default", "keep"));
	assert_null(wf_store_get(after, WF_K8S_SERVICE, "default", "drop"));
	assert_non_null(wf_store_get(after, WF_K8S_SERVICE, "default", "other"));
	assert_int_equal(
		wf_store_get(after, WF_K8S_SERVICE, "default", "change")->service->ports[0].port,
		81);
	assert_int_equal(wf_store_count(after, WF_K8S_SERVICE, NULL), 4);
	wf_store_snapshot_unref(after);
	wf_store_snapshot_unref(before);
	wf_source_dir_free(src);
	wf_store_free(s);
}

/* Driven by the event loop instead of polling by hand. */
static void test_loop_attach(void **state)
{
	struct fixture *f = *state;
	struct wf_loop *loop;
	char b[512];
	assert_int_equal(wf_loop_new(&loop), 0);
	assert_int_equal(wf_source_dir_add(f->src, tmpdir), 0);
	assert_int_equal(wf_source_dir_attach(f->src, loop), 0);
	assert_int_equal(wf_source_dir_attach(f->src, loop), -EBUSY);
	write_file("a.yaml", svc(b, sizeof(b), "default", "a", 80));
	for (int i = 0; i < 100 && count(f, WF_K8S_SERVICE) == 0; i++)
		assert_true(wf_loop_run_once(loop, 50) >= 0);
	assert_int_equal(count(f, WF_K8S_SERVICE), 1);
	/* the source goes first: it unregisters itself */
	wf_source_dir_free(f->src);
	f->src = NULL;
	wf_loop_free(loop);
}

int main(void)
{
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_initial_load_and_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_edit_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_editor_rename_save, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_file_keeps_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_across_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subdirectories, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explicit_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kind_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configmap_projection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_injection, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
