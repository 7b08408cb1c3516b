/* The manifest directory source: files and directories of YAML/JSON manifests feeding a store,
 * optionally kept in sync with inotify. See docs/internals/source-dir.md.
 *
 * Each file is parsed all or nothing and applied to the store as one batch (one snapshot, one
 * round of events), as the difference against what the same file contributed before: objects
 * whose text did not change are left alone (no event, same resource version). A file that
 * fails to parse, or that defines an object another file already defines, is reported through
 * the error callback and the objects it contributed before stay as they were; a file held back
 * by a duplicate is tried again when the other file changes or goes.
 *
 * Directories are read recursively. In directories only *.yaml, *.yml and *.json count; hidden
 * files and directories and editor droppings (*~, .#*, *.swp, 4913) are ignored. A file named
 * explicitly is read whatever its name.
 *
 * Threading: everything runs on the store's writer thread (store.h). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/store-types.h"
#include "lib/diag.h"

struct wf_source_dir;

/* A file that could not be applied: err is the negative error code (-WF_E_PARSE,
 * -WF_E_INVALID, -WF_E_UNKNOWN_KIND, -WF_E_DUPLICATE, -WF_E_TOO_BIG, -errno), diag says where
 * and why (file, line, column, field path). Borrowed for the call. */
typedef void (*wf_source_error_fn)(void *userdata, int err, const struct wf_diag *diag);

struct wf_source_dir_config {
	struct wf_store *store;	     /* borrowed; must outlive the source */
	bool watch;		     /* keep in sync with inotify */
	wf_source_error_fn on_error; /* may be NULL */
	void *userdata;
	/* Kinds to keep, as WF_SOURCE_KIND(WF_K8S_...) bits; 0 keeps every kind. Objects of other
	 * kinds are dropped right after parsing (on the parsing thread) and counted in
	 * stats.ignored, so a daemon that reads a few kinds (weft dns) does not hold the rest. */
	uint64_t kinds;
};

#define WF_SOURCE_KIND(kind) (UINT64_C(1) << (kind))

struct wf_source_dir_stats {
	size_t files;	/* files applied (their objects are in the store) */
	size_t objects; /* objects in the store from this source */
	size_t ignored; /* objects of kinds weft skips, in applied files */
	size_t errors;	/* files currently not applied because of an error */
	size_t batches; /* batches committed so far */
};

/* Returns 0 or -ENOMEM, or -errno from inotify_init1(2). */
int wf_source_dir_new(const struct wf_source_dir_config *cfg, struct wf_source_dir **ret);
/* Stops watching. Objects already in the store stay there. Takes NULL. */
void wf_source_dir_free(struct wf_source_dir *src);

/* Adds a file or a directory (recursively) and loads it now; with watch, also watches it.
 * Files are applied in name order, one batch each. Returns the number of files that failed
 * (each reported through on_error), or -errno when path itself cannot be read (-ENOENT,
 * -EACCES...) or -ENOMEM. */
int wf_source_dir_add(struct wf_source_dir *src, const char *path);

/* The inotify descriptor to poll for EPOLLIN (non-blocking), or -1 without watch. */
int wf_source_dir_fd(const struct wf_source_dir *src);
/* Reads every pending inotify event and applies the changed files (removals first, so that
 * a rename between two names is not a duplicate). Returns the number of files applied or
 * removed (0 when nothing was pending), or -errno when the inotify read fails. */
int wf_source_dir_process(struct wf_source_dir *src);

/* Registers the source on an event loop (lib/loop.h): inotify readiness then runs
 * wf_source_dir_process() on the loop's thread, which must be the store's writer thread.
 * Returns 0, -EINVAL without watch, -EBUSY when already attached, or the loop's error. The
 * registration ends with wf_source_dir_free() (free the source before the loop). */
struct wf_loop;
int wf_source_dir_attach(struct wf_source_dir *src, struct wf_loop *loop);

void wf_source_dir_get_stats(const struct wf_source_dir *src, struct wf_source_dir_stats *ret);

/* Does the directory scan take this file name (no directory part)? */
bool wf_source_dir_wanted_name(const char *name);

/* One-shot load for the CLI: the paths into store, no watching; on_error as above. Fills
 * *ret_stats (may be NULL). Returns the number of paths or files that failed, or -ENOMEM. */
int wf_source_load_paths(struct wf_store *store, const char *const *paths, size_t n_paths,
			 wf_source_error_fn on_error, void *userdata,
			 struct wf_source_dir_stats *ret_stats);
