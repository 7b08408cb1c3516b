/* A directory of manifests feeding a store (the agent's seam until src/k8s's directory source
 * lands; see docs/agent.md): every *.yaml, *.yml and *.json file of the directory (not
 * recursive, dotfiles skipped) is parsed, and the store is brought to exactly their objects in
 * one batch per scan. inotify on the directory schedules a rescan (coalesced: one per loop
 * iteration); unchanged files (same inode, size and mtime) are not parsed again. A file that
 * fails to parse keeps its previous objects and is logged once.
 *
 * Thread context: the loop's thread (the store's writer). */
#pragma once
#include <stdbool.h>

struct wf_loop;
struct wf_store;
struct wf_agent_manifests;

/* Watches dir (borrowed) and loads it into store (borrowed) once before returning. Returns 0 or
 * -errno (-ENOENT/-ENOTDIR for a missing directory). */
int wf_agent_manifests_new(struct wf_loop *loop, struct wf_store *store, const char *dir,
			   struct wf_agent_manifests **ret);
/* Rescans now. Returns 0 or -errno (the store is unchanged on -ENOMEM). */
int wf_agent_manifests_scan(struct wf_agent_manifests *m);
void wf_agent_manifests_free(struct wf_agent_manifests *m); /* takes NULL */
