/* Hash map from byte-string keys to pointers: open addressing, linear probing, power-of-two
 * table, grows at 3/4 load. Keys are borrowed: the caller keeps them alive while they are in
 * the map (typically the key lives inside the value). Not thread-safe; share read-only maps
 * through an RCU snapshot (lib/rcu.h). Lookups never allocate. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wf_hash;

/* 64-bit hash of a byte string (seeded per process against collision flooding). Thread-safe. */
uint64_t wf_hash_bytes(const void *p, size_t len);
/* The same function with an explicit seed: for hashes that must be stable (tests, on-disk) or
 * for chaining (hash a second string seeded with the hash of the first). */
uint64_t wf_hash_seeded(const void *p, size_t len, uint64_t seed);
/* The per-process seed wf_hash_bytes uses. */
uint64_t wf_hash_seed(void);

/* A map sized to hold initial_capacity entries without growing. NULL on ENOMEM. */
struct wf_hash *wf_hash_new(size_t initial_capacity);
void wf_hash_free(struct wf_hash *h); /* takes NULL; does not free values */
/* Removes every entry (values are not freed), keeping the table. */
void wf_hash_clear(struct wf_hash *h);
size_t wf_hash_count(const struct wf_hash *h);
void *wf_hash_get(const struct wf_hash *h, const void *key, size_t keylen);
/* Inserts or replaces. If ret_old is non-NULL it receives the replaced value (or NULL).
 * Returns 0 or -ENOMEM (map unchanged). On replace, the map keeps the new key pointer. */
int wf_hash_put(struct wf_hash *h, const void *key, size_t keylen, void *value, void **ret_old);
/* Removes; returns the removed value or NULL. */
void *wf_hash_del(struct wf_hash *h, const void *key, size_t keylen);

/* Iteration: for (size_t it = 0; wf_hash_next(h, &it, &k, &kl, &v);) ...  Order is unspecified;
 * the map must not change during iteration except by wf_hash_del of the current entry. Any
 * ret_* may be NULL. */
bool wf_hash_next(const struct wf_hash *h, size_t *iter, const void **ret_key, size_t *ret_keylen,
		  void **ret_value);

/* String-key conveniences. */
static inline void *wf_hash_gets(const struct wf_hash *h, const char *key)
{
	return wf_hash_get(h, key, strlen(key));
}

static inline int wf_hash_puts(struct wf_hash *h, const char *key, void *value, void **ret_old)
{
	return wf_hash_put(h, key, strlen(key), value, ret_old);
}

static inline void *wf_hash_dels(struct wf_hash *h, const char *key)
{
	return wf_hash_del(h, key, strlen(key));
}
