/* The agent's scheduling with a fake reconciler: the first sync, bursts coalesced into one
 * sync, retries with backoff, readiness, the manifest directory seam, SIGTERM. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "fabric/fabric-fake.h"
#include "fabric/fabric.h"
#include "k8s/object.h"
#include "k8s/store.h"
#include "lib/clock.h"
#include "lib/loop.h"

struct fake {
	int syncs;
	int fail_next; /* this many syncs fail */
	size_t nodes;  /* Node objects in the last snapshot */
	uint64_t at[16];
	bool done;
};

static struct fake fake;

static int fake_init(const struct wf_agent_config *cfg, struct wf_metrics *m, void **ret)
{
	*ret = &fake;
	return 0;
}

static int fake_sync(void *state, const struct wf_store_snapshot *snap, char *err, size_t len)
{
	struct fake *f = state;
	if (f->syncs < 16)
		f->at[f->syncs] = wf_now_ns();
	f->syncs++;
	f->nodes = wf_store_count(snap, WF_K8S_NODE, NULL);
	if (f->fail_next > 0) {
		f->fail_next--;
		snprintf(err, len, "boom");
		return -EIO;
	}
	return 0;
}

static void fake_done(void *state)
{
	((struct fake *)state)->done = true;
}

static const struct wf_agent_reconciler_ops fake_ops = {
	.name = "fake", .init = fake_init, .sync = fake_sync, .done = fake_done};
static const struct wf_agent_reconciler_ops *const recs[] = {&fake_ops};

static struct wf_agent *agent_resync(const char *dir, uint64_t resync_ns)
{
	struct wf_agent_config cfg = {
		.node_name = "node-1",
		.manifests = dir,
		.backoff_initial_ns = 20 * WF_NSEC_PER_MSEC,
		.backoff_max_ns = 80 * WF_NSEC_PER_MSEC,
		.resync_ns = resync_ns,
	};
	struct wf_agent *a;
	memset(&fake, 0, sizeof(fake));
	assert_int_equal(wf_agent_new(&cfg, recs, 1, &a), 0);
	return a;
}

static struct wf_agent *agent(const char *dir)
{
	return agent_resync(dir, 0);
}

/* Runs the loop until cond holds or 5 s pass (the machine may be busy). */
#define RUN_UNTIL(a, cond)                                         \
	do {                                                       \
		uint64_t end_ = wf_now_ns() + 5 * WF_NSEC_PER_SEC; \
		while (!(cond) && wf_now_ns() < end_)              \
			wf_loop_run_once(wf_agent_loop(a), 10);    \
		assert_true(cond);                                 \
	} while (0)

static struct wf_k8s_object *node_obj(const char *name, const char *cidr)
{
	char yaml[256];
	int n = snprintf(yaml, sizeof(yaml),
			 "apiVersion: v1\nkind: Node\nmetadata: {name: %s}\n"
			 "spec: {podCIDR: %s}\n",
			 name, cidr);
	struct wf_k8s_parse_result res;
	assert_int_equal(wf_k8s_parse(yaml, (size_t)n, "t.yaml", &res, NULL), 1);
	struct wf_k8s_object *o = wf_k8s_object_ref(res.objects[0]);
	wf_k8s_parse_result_done(&res);
	return o;
}

static void put(struct wf_agent *a, struct wf_k8s_object *o)
{
	struct wf_store_batch *b;
	assert_int_equal(wf_store_batch_begin(wf_agent_store(a), &b), 0);
	assert_int_equal(wf_store_batch_put(b, o), 0);
	assert_int_equal(wf_store_batch_commit(b), 0);
	wf_k8s_object_unref(o);
}

static void test_first_sync_and_coalescing(void **state)
{
	struct wf_agent *a = agent(NULL);
	assert_false(wf_agent_ready(a));
	RUN_UNTIL(a, fake.syncs == 1);
	assert_true(wf_agent_ready(a));
	assert_int_equal(fake.nodes, 0);

	/* Ten changes before the loop runs again: one sync sees all of them. */
	for (int i = 0; i < 10; i++) {
		char name[16], cidr[32];
		snprintf(name, sizeof(name), "node-%d", i);
		snprintf(cidr, sizeof(cidr), "10.244.%d.0/24", i);
		put(a, node_obj(name, cidr));
	}
	RUN_UNTIL(a, fake.syncs == 2);
	for (int i = 0; i < 5; i++)
		wf_loop_run_once(wf_agent_loop(a), 10);
	assert_int_equal(fake.syncs, 2);
	assert_int_equal(fake.nodes, 10);
	assert_int_equal(wf_agent_syncs(a, 0), 2);
	wf_agent_free(a);
	assert_true(fake.done);
}

static void test_retry_with_backoff(void **state)
{
	struct wf_agent *a = agent(NULL);
	fake.fail_next = 3;
	RUN_UNTIL(a, fake.syncs == 4);
	assert_int_equal(wf_agent_sync_failures(a, 0), 3);
	assert_true(wf_agent_ready(a));
	/* 20 ms, then 40 ms, then 80 ms (the cap) between attempts. */
	assert_true(fake.at[1] - fake.at[0] >= 20 * WF_NSEC_PER_MSEC);
	assert_true(fake.at[2] - fake.at[1] >= 40 * WF_NSEC_PER_MSEC);
	assert_true(fake.at[3] - fake.at[2] >= 80 * WF_NSEC_PER_MSEC);
	/* Nothing more to do: no further syncs. */
	for (int i = 0; i < 10; i++)
		wf_loop_run_once(wf_agent_loop(a), 10);
	assert_int_equal(fake.syncs, 4);
	wf_agent_free(a);
}

/* A change to the objects syncs at once, even while a retry is far away. */
static void test_change_overrides_backoff(void **state)
{
	struct wf_agent_config cfg = {.node_name = "node-1",
				      .backoff_initial_ns = 10 * WF_NSEC_PER_SEC};
	struct wf_agent *a;
	memset(&fake, 0, sizeof(fake));
	fake.fail_next = 1;
	assert_int_equal(wf_agent_new(&cfg, recs, 1, &a), 0);
	RUN_UNTIL(a, fake.syncs == 1);
	assert_false(wf_agent_ready(a));
	put(a, node_obj("node-1", "10.244.1.0/24"));
	RUN_UNTIL(a, fake.syncs == 2);
	assert_true(fake.at[1] - fake.at[0] < 5 * WF_NSEC_PER_SEC);
	assert_true(wf_agent_ready(a));
	assert_int_equal(fake.nodes, 1);
	wf_agent_free(a);
}

/* The periodic resync runs every reconciler with no change at all (drift repair). */
static void test_periodic_resync(void **state)
{
	uint64_t start = wf_now_ns();
	struct wf_agent *a = agent_resync(NULL, 30 * WF_NSEC_PER_MSEC);
	RUN_UNTIL(a, fake.syncs >= 3);
	/* The first sync, then ticks at 30 and 60 ms (late under load, never early). */
	assert_true(fake.at[2] - start >= 60 * WF_NSEC_PER_MSEC);
	wf_agent_free(a);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512], tmp[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0); /* atomically, as the lab writes */
}

static void test_manifest_directory(void **state)
{
	char dir[] = "/tmp/weft-agent-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	write_file(dir, "node-1.yaml",
		   "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {podCIDR: "
		   "10.244.1.0/24}\n");
	write_file(dir, "ignored.txt", "not a manifest");
	struct wf_agent *a = agent(dir);
	RUN_UNTIL(a, fake.syncs >= 1 && fake.nodes == 1);

	write_file(dir, "nodes.yaml",
		   "apiVersion: v1\nkind: Node\nmetadata: {name: node-2}\n---\n"
		   "apiVersion: v1\nkind: Node\nmetadata: {name: node-3}\n");
	RUN_UNTIL(a, fake.nodes == 3);

	/* A broken edit keeps the file's previous objects. */
	write_file(dir, "nodes.yaml", "apiVersion: v1\nkind: Node\nmetadata: [\n");
	int syncs = fake.syncs;
	for (int i = 0; i < 10; i++)
		wf_loop_run_once(wf_agent_loop(a), 10);
	assert_int_equal(fake.nodes, 3);
	(void)syncs;

	/* Fixed, with one node less; then the file goes away. */
	write_file(dir, "nodes.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: node-2}\n");
	RUN_UNTIL(a, fake.nodes == 2);
	char path[512];
	snprintf(path, sizeof(path), "%s/nodes.yaml", dir);
	assert_int_equal(unlink(path), 0);
	RUN_UNTIL(a, fake.nodes == 1);

	wf_agent_free(a);
	snprintf(path, sizeof(path), "%s/node-1.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ignored.txt", dir);
	unlink(path);
	rmdir(dir);
}

static void test_missing_directory_and_sigterm(void **state)
{
	struct wf_agent_config cfg = {.node_name = "n", .manifests = "/nonexistent/weft"};
	struct wf_agent *a;
	assert_int_equal(wf_agent_new(&cfg, recs, 1, &a), -ENOENT);

	a = agent(NULL);
	RUN_UNTIL(a, fake.syncs == 1);
	/* The loop blocks SIGTERM and reads it from a signalfd: the agent stops cleanly. */
	kill(getpid(), SIGTERM);
	assert_int_equal(wf_agent_run(a), 0);
	wf_agent_free(a);
}

static struct wf_fabric_fake *fabric_fake;

static int fake_backend(struct wf_fabric_backend **ret)
{
	int err = wf_fabric_fake_new(&fabric_fake);
	if (err < 0)
		return err;
	wf_fabric_fake_add_link(fabric_fake, "192.168.50.1/24", 2, 1500);
	*ret = &fabric_fake->be;
	return 0;
}

static struct wf_k8s_object *node_with_ip(const char *name, const char *cidr, const char *ip)
{
	char yaml[512];
	int n = snprintf(yaml, sizeof(yaml),
			 "apiVersion: v1\nkind: Node\nmetadata: {name: %s}\n"
			 "spec: {podCIDRs: [%s]}\n"
			 "status: {addresses: [{type: InternalIP, address: %s}]}\n",
			 name, cidr, ip);
	struct wf_k8s_parse_result res;
	assert_int_equal(wf_k8s_parse(yaml, (size_t)n, "t.yaml", &res, NULL), 1);
	struct wf_k8s_object *o = wf_k8s_object_ref(res.objects[0]);
	wf_k8s_parse_result_done(&res);
	return o;
}

/* The fabric reconciler end to end on the fake data plane: Node objects in the store become
 * routes; a deleted Node's route goes; the agent is ready only once its own Node is known. */
static void test_fabric_reconciler(void **state)
{
	static const struct wf_agent_reconciler_ops *const fabric_recs[] = {
		&wf_agent_fabric_reconciler};
	struct wf_agent_config cfg = {.node_name = "node-1",
				      .fabric = WF_FABRIC_VXLAN,
				      .backoff_initial_ns = 20 * WF_NSEC_PER_MSEC};
	struct wf_agent *a;
	wf_agent_fabric_backend_new = fake_backend;
	assert_int_equal(wf_agent_new(&cfg, fabric_recs, 1, &a), 0);
	RUN_UNTIL(a, wf_agent_sync_failures(a, 0) >= 1); /* no Node objects yet */
	assert_false(wf_agent_ready(a));

	put(a, node_with_ip("node-1", "10.244.1.0/24", "192.168.50.1"));
	put(a, node_with_ip("node-2", "10.244.2.0/24", "192.168.50.2"));
	RUN_UNTIL(a, wf_agent_ready(a) && fabric_fake->installed.n_routes == 1);
	assert_true(fabric_fake->has_vxlan);
	assert_int_equal(fabric_fake->vxlan.mtu, 1450);
	assert_int_equal(fabric_fake->installed.n_fdbs, 1);

	struct wf_store_batch *b;
	assert_int_equal(wf_store_batch_begin(wf_agent_store(a), &b), 0);
	assert_int_equal(wf_store_batch_delete(b, WF_K8S_NODE, NULL, "node-2"), 0);
	assert_int_equal(wf_store_batch_commit(b), 0);
	RUN_UNTIL(a, fabric_fake->installed.n_routes == 0);
	assert_int_equal(fabric_fake->installed.n_fdbs, 0);
	wf_agent_free(a);
	wf_agent_fabric_backend_new = wf_fabric_nl_new;
}

static void test_cli_errors(void **state)
{
	char *kube[] = {"agent", "--kubeconfig", "/x", NULL};
	assert_int_equal(wf_agent_main(3, kube), 2);
	char *none[] = {"agent", "--node-name", "n", NULL};
	assert_int_equal(wf_agent_main(3, none), 2);
	char *bad[] = {"agent", "--manifests", "/tmp", "--fabric", "ipip", NULL};
	assert_int_equal(wf_agent_main(5, bad), 2);
	char *help[] = {"agent", "--help", NULL};
	assert_int_equal(wf_agent_main(2, help), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_sync_and_coalescing),
		cmocka_unit_test(test_retry_with_backoff),
		cmocka_unit_test(test_change_overrides_backoff),
		cmocka_unit_test(test_periodic_resync),
		cmocka_unit_test(test_manifest_directory),
		cmocka_unit_test(test_missing_directory_and_sigterm),
		cmocka_unit_test(test_fabric_reconciler),
		cmocka_unit_test(test_cli_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
