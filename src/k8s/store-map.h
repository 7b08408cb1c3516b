/* Persistent hash map (CHAMP-style hash array mapped trie) from byte-string keys to refcounted
 * values, with structural sharing between versions. The store builds its snapshots from it:
 * changing one key copies only the path from the root to that key (O(log32 n) nodes), every
 * other node is shared with the previous version. See docs/internals/store.md.
 *
 * Ownership: a struct wf_store_map is a handle holding one reference on its root node. Nodes are
 * refcounted (atomically), so versions may be released on any thread. Values are refcounted
 * through the caller's ops; the map holds one value reference per entry. Keys are borrowed
 * from the value (the caller's key must stay valid as long as the value does).
 *
 * Mutation: a map may be changed in place only by one writer, and only while tagged with an
 * "edit" id that no published version carries (nodes created under the current edit id are
 * known to be private and are changed without copying). After a version is handed to readers,
 * the writer must use a new edit id. Readers only call _get and the iterator. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wf_store_map_node;

struct wf_store_map {
	struct wf_store_map_node *root; /* NULL when empty */
	size_t count;
};

struct wf_store_map_ops {
	void (*ref)(void *value);
	void (*unref)(void *value);
};

#define WF_STORE_MAP_MAX_DEPTH 14

struct wf_store_map_iter {
	const struct wf_store_map_node *node[WF_STORE_MAP_MAX_DEPTH];
	uint16_t pos[WF_STORE_MAP_MAX_DEPTH];
	int depth;
};

static inline void wf_store_map_init(struct wf_store_map *m)
{
	m->root = NULL;
	m->count = 0;
}

/* dst becomes a second handle on src's version (shares everything; O(1)). */
void wf_store_map_copy(struct wf_store_map *dst, const struct wf_store_map *src);
/* Drops the handle's reference; nodes and values no other version shares are freed. */
void wf_store_map_done(struct wf_store_map *m, const struct wf_store_map_ops *ops);

/* Returns the value (borrowed, valid as long as this version) or NULL. Thread-safe on a
 * version no one mutates. */
void *wf_store_map_get(const struct wf_store_map *m, uint64_t hash, const void *key, size_t keylen);

/* Inserts or replaces key -> value, taking the caller's reference on value. If ret_old is
 * non-NULL and a value was replaced, it receives the map's reference to it (the caller unrefs);
 * otherwise the replaced value is unreffed here. Returns 0 or -ENOMEM (map unchanged). */
int wf_store_map_put(struct wf_store_map *m, const struct wf_store_map_ops *ops, uint64_t edit,
		     uint64_t hash, const void *key, size_t keylen, void *value, void **ret_old);

/* Removes key. ret_old as for _put. Returns 0, -ENOENT or -ENOMEM (map unchanged). */
int wf_store_map_del(struct wf_store_map *m, const struct wf_store_map_ops *ops, uint64_t edit,
		     uint64_t hash, const void *key, size_t keylen, void **ret_old);

/* Iteration in hash order; the version must not change meanwhile.
 *	for (wf_store_map_iter_init(&it, m); wf_store_map_next(&it, &v);) ... */
void wf_store_map_iter_init(struct wf_store_map_iter *it, const struct wf_store_map *m);
bool wf_store_map_next(struct wf_store_map_iter *it, void **ret_value);

/* Counts nodes reachable from m (tests and benchmarks: memory and sharing checks). */
size_t wf_store_map_node_count(const struct wf_store_map *m);
