#include "lib/hash.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "lib/alloc.h"

/* ---- the hash function ----
 * A multiply-fold construction in the style of wyhash: input is read 16 bytes at a time and
 * folded with a 64x64->128 multiplication whose halves are xored together. Short keys (the
 * common case: names, addresses) take one or two reads and one multiplication. */

#define P0 0xa0761d6478bd642fULL
#define P1 0xe7037ed1a0b428dbULL
#define P2 0x8ebc6af09c88c6e3ULL
#define P3 0x589965cc75374cc3ULL

static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

uint64_t wf_hash_seeded(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t a, b;

	seed ^= mum(seed ^ P0, P1 ^ len);
	if (len <= 16) {
		if (len >= 4) {
			/* Two overlapping reads cover 4..16 bytes without a loop. */
			size_t mid = (len >> 3) << 2;
			a = rd32(p) << 32 | rd32(p + mid);
			b = rd32(p + len - 4) << 32 | rd32(p + len - 4 - mid);
		} else if (len > 0) {
			a = (uint64_t)p[0] << 16 | (uint64_t)p[len >> 1] << 8 | p[len - 1];
			b = 0;
		} else {
			a = b = 0;
		}
	} else {
		size_t i = len;
		if (i > 48) {
			uint64_t s1 = seed, s2 = seed;
			do {
				seed = mum(rd64(p) ^ P1, rd64(p + 8) ^ seed);
				s1 = mum(rd64(p + 16) ^ P2, rd64(p + 24) ^ s1);
				s2 = mum(rd64(p + 32) ^ P3, rd64(p + 40) ^ s2);
				p += 48;
				i -= 48;
			} while (i > 48);
			seed ^= s1 ^ s2;
		}
		while (i > 16) {
			seed = mum(rd64(p) ^ P1, rd64(p + 8) ^ seed);
			p += 16;
			i -= 16;
		}
		/* The last 16 bytes of the input, overlapping what was already read. */
		a = rd64(p + i - 16);
		b = rd64(p + i - 8);
	}
	a ^= P1;
	b ^= seed;
	__uint128_t r = (__uint128_t)a * b;
	a = (uint64_t)r;
	b = (uint64_t)(r >> 64);
	return mum(a ^ P0 ^ len, b ^ P1);
}

static uint64_t process_seed;

/* Runs before main (and before any thread), so readers need no synchronisation. */
__attribute__((constructor)) static void seed_init(void)
{
	uint64_t s;
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = mum((uint64_t)ts.tv_nsec ^ P2, (uint64_t)(uintptr_t)&ts ^ P3);
	}
	process_seed = s;
}

uint64_t wf_hash_seed(void)
{
	return process_seed;
}

uint64_t wf_hash_bytes(const void *p, size_t len)
{
	return wf_hash_seeded(p, len, process_seed);
}

/* ---- the map ---- */

struct slot {
	uint64_t hash;
	const void *key; /* NULL: empty; &tombstone: deleted */
	size_t keylen;
	void *value;
};

struct wf_hash {
	struct slot *slots;
	size_t mask;  /* capacity - 1 */
	size_t count; /* live entries */
	size_t used;  /* live entries + tombstones: what bounds probe lengths */
};

static const char tombstone;
static const char empty_key; /* stands for a NULL key of length 0 */
#define TOMB ((const void *)&tombstone)

static inline bool slot_live(const struct slot *s)
{
	return s->key != NULL && s->key != TOMB;
}

static size_t capacity_for(size_t n)
{
	size_t cap = 8;
	/* Smallest power of two that holds n entries under the 3/4 load limit. */
	while (cap - cap / 4 < n) {
		if (cap > SIZE_MAX / 2 / sizeof(struct slot))
			return 0;
		cap *= 2;
	}
	return cap;
}

struct wf_hash *wf_hash_new(size_t initial_capacity)
{
	size_t cap = capacity_for(initial_capacity);
	if (!cap)
		return NULL;
	struct wf_hash *h = wf_malloc(sizeof(*h));
	if (!h)
		return NULL;
	h->slots = wf_calloc(cap, sizeof(struct slot));
	if (!h->slots) {
		wf_free(h);
		return NULL;
	}
	h->mask = cap - 1;
	h->count = 0;
	h->used = 0;
	return h;
}

void wf_hash_free(struct wf_hash *h)
{
	if (!h)
		return;
	wf_free(h->slots);
	wf_free(h);
}

void wf_hash_clear(struct wf_hash *h)
{
	memset(h->slots, 0, (h->mask + 1) * sizeof(struct slot));
	h->count = 0;
	h->used = 0;
}

size_t wf_hash_count(const struct wf_hash *h)
{
	return h->count;
}

/* Index of the live slot holding key, or SIZE_MAX. */
static inline size_t find(const struct wf_hash *h, uint64_t hv, const void *key, size_t keylen)
{
	for (size_t i = hv & h->mask;; i = (i + 1) & h->mask) {
		const struct slot *s = &h->slots[i];
		if (s->key == NULL)
			return SIZE_MAX;
		if (s->hash == hv && s->keylen == keylen && s->key != TOMB &&
		    memcmp(s->key, key, keylen) == 0)
			return i;
	}
}

void *wf_hash_get(const struct wf_hash *h, const void *key, size_t keylen)
{
	if (!key)
		key = &empty_key;
	size_t i = find(h, wf_hash_bytes(key, keylen), key, keylen);
	return i == SIZE_MAX ? NULL : h->slots[i].value;
}

static int resize(struct wf_hash *h, size_t cap)
{
	struct slot *ns = wf_calloc(cap, sizeof(struct slot));
	if (!ns)
		return -ENOMEM;
	size_t mask = cap - 1;
	for (size_t i = 0; i <= h->mask; i++) {
		struct slot *s = &h->slots[i];
		if (!slot_live(s))
			continue;
		size_t j = s->hash & mask;
		while (ns[j].key)
			j = (j + 1) & mask;
		ns[j] = *s;
	}
	wf_free(h->slots);
	h->slots = ns;
	h->mask = mask;
	h->used = h->count;
	return 0;
}

int wf_hash_put(struct wf_hash *h, const void *key, size_t keylen, void *value, void **ret_old)
{
	uint64_t hv = wf_hash_bytes(key, keylen);
	if (!key)
		key = &empty_key;

	size_t i = find(h, hv, key, keylen);
	if (i != SIZE_MAX) {
		struct slot *s = &h->slots[i];
		if (ret_old)
			*ret_old = s->value;
		s->key = key;
		s->value = value;
		return 0;
	}

	size_t cap = h->mask + 1;
	if (h->used + 1 > cap - cap / 4) {
		/* Grow when live entries fill half the table; otherwise the load is mostly
		 * tombstones, and rehashing at the same size clears them. */
		size_t ncap = h->count + 1 > cap / 2 ? cap * 2 : cap;
		if (ncap < cap || ncap > SIZE_MAX / sizeof(struct slot))
			return -ENOMEM;
		int r = resize(h, ncap);
		if (r < 0)
			return r;
	}

	/* Reuse the first tombstone on the probe path, else the empty slot ending it. */
	size_t j = hv & h->mask;
	while (slot_live(&h->slots[j]))
		j = (j + 1) & h->mask;
	struct slot *s = &h->slots[j];
	if (s->key == NULL)
		h->used++;
	*s = (struct slot){.hash = hv, .key = key, .keylen = keylen, .value = value};
	h->count++;
	if (ret_old)
		*ret_old = NULL;
	return 0;
}

void *wf_hash_del(struct wf_hash *h, const void *key, size_t keylen)
{
	if (!key)
		key = &empty_key;
	size_t i = find(h, wf_hash_bytes(key, keylen), key, keylen);
	if (i == SIZE_MAX)
		return NULL;
	struct slot *s = &h->slots[i];
	void *value = s->value;
	s->key = TOMB;
	s->value = NULL;
	h->count--;
	/* A tombstone followed by an empty slot ends no probe sequence that needs it: turn it,
	 * and the tombstones before it, back into empty slots. Only slots at or before i
	 * change, so an iteration that deletes its current entry still sees every other. */
	if (h->slots[(i + 1) & h->mask].key == NULL) {
		while (h->slots[i].key == TOMB) {
			h->slots[i].key = NULL;
			h->used--;
			i = (i - 1) & h->mask;
		}
	}
	return value;
}

bool wf_hash_next(const struct wf_hash *h, size_t *iter, const void **ret_key, size_t *ret_keylen,
		  void **ret_value)
{
	for (size_t i = *iter; i <= h->mask; i++) {
		const struct slot *s = &h->slots[i];
		if (!slot_live(s))
			continue;
		*iter = i + 1;
		if (ret_key)
			*ret_key = s->key == &empty_key ? NULL : s->key;
		if (ret_keylen)
			*ret_keylen = s->keylen;
		if (ret_value)
			*ret_value = s->value;
		return true;
	}
	*iter = h->mask + 1;
	return false;
}
