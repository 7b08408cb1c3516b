/* The node agent (`weft agent`): wires a source and the store to the reconcilers of one node -
 * fabric, service proxy, network policy - on one event loop.
 *
 * A store change schedules one deferred pass (a burst of changes costs one pass); each pass
 * syncs every reconciler whose input changed (or whose retry is due) from the current snapshot.
 * A failed sync is logged once and retried with exponential backoff; a periodic resync repairs
 * drift. SIGTERM/SIGINT stop the loop, and the data planes stay as they are.
 *
 * Thread context: everything runs on the thread that calls wf_agent_run (the admin endpoint
 * has a thread of its own and only reads atomics). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "agent/agent-types.h"

struct wf_loop;
struct wf_store;

/* The reconcilers `weft agent` runs (agent-reconcilers.c), NULL-terminated. */
extern const struct wf_agent_reconciler_ops *const wf_agent_reconcilers[];
/* The fabric's reconciler (agent-fabric.c), and the backend it creates: the kernel's
 * (wf_fabric_nl_new) unless a test sets another before wf_agent_new. */
extern const struct wf_agent_reconciler_ops wf_agent_fabric_reconciler;
struct wf_fabric_backend;
extern int (*wf_agent_fabric_backend_new)(struct wf_fabric_backend **ret);

/* `weft agent ...`: argv[0] is "agent". Returns the process exit status. */
int wf_agent_main(int argc, char **argv);

/* Creates an agent with the given reconcilers (borrowed array of n, each borrowed for the
 * agent's lifetime) and its own loop and store; runs each reconciler's init. Starts the manifest
 * source when cfg->manifests is set, the admin endpoint when cfg->admin is. Returns 0 or
 * -errno. */
int wf_agent_new(const struct wf_agent_config *cfg,
		 const struct wf_agent_reconciler_ops *const *reconcilers, size_t n,
		 struct wf_agent **ret);
/* Runs the loop until SIGTERM/SIGINT or wf_agent_stop. Returns 0 or -errno. */
int wf_agent_run(struct wf_agent *a);
/* Stops wf_agent_run after the current iteration. Thread-safe. */
void wf_agent_stop(struct wf_agent *a);
/* Frees the agent: every reconciler's done, the source, the store, the loop. Takes NULL. */
void wf_agent_free(struct wf_agent *a);

/* For tests and embedding: the agent's loop and store (writes go through store batches). */
struct wf_loop *wf_agent_loop(struct wf_agent *a);
struct wf_store *wf_agent_store(struct wf_agent *a);
/* True once the source has loaded and every reconciler has synced successfully once. */
bool wf_agent_ready(const struct wf_agent *a);
/* Syncs of reconciler i so far (successful or not), and failed ones. */
unsigned long wf_agent_syncs(const struct wf_agent *a, size_t i);
unsigned long wf_agent_sync_failures(const struct wf_agent *a, size_t i);
