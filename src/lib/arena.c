#include "lib/arena.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/alloc.h"

/* Under ASan, the unused tail of each block is poisoned and every allocation is unpoisoned for
 * exactly its size, so an overflow from one arena allocation into the next is reported as it
 * would be between two mallocs. */
#if defined(__SANITIZE_ADDRESS__)
#define WF_ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WF_ARENA_ASAN 1
#endif
#endif
#ifdef WF_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define poison(p, n) ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

#define ALIGN 16
#define MIN_CHUNK 256

struct block {
	struct block *next; /* older block */
	size_t size;	    /* bytes of data[] */
	size_t used;
	size_t pad_;
	_Alignas(ALIGN) unsigned char data[];
};

/* The arena lives at the start of its first block, so a job costs a single malloc until it
 * outgrows that block. */
struct wf_arena {
	struct block *cur;   /* newest block; allocations are bumped from it */
	struct block *first; /* oldest block, holding this struct; kept by reset */
	size_t chunk;
	size_t cap;
	size_t used; /* bytes handed out, alignment included */
};

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

#define ARENA_HDR align_up(sizeof(struct wf_arena))

struct wf_arena *wf_arena_new(size_t chunk, size_t cap)
{
	if (chunk < MIN_CHUNK)
		chunk = MIN_CHUNK;
	if (chunk > SIZE_MAX / 2)
		return NULL;
	chunk = align_up(chunk);
	struct block *b = wf_malloc(sizeof(*b) + ARENA_HDR + chunk);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = ARENA_HDR + chunk;
	b->used = ARENA_HDR;
	struct wf_arena *a = (struct wf_arena *)b->data;
	*a = (struct wf_arena){.cur = b, .first = b, .chunk = chunk, .cap = cap};
	poison(b->data + b->used, b->size - b->used);
	return a;
}

void wf_arena_free(struct wf_arena *a)
{
	if (!a)
		return;
	struct block *b = a->cur;
	while (b) {
		struct block *next = b->next;
		unpoison(b->data, b->size);
		wf_free(b); /* the last one holds *a */
		b = next;
	}
}

void wf_arena_reset(struct wf_arena *a)
{
	struct block *b = a->cur;
	while (b) {
		struct block *next = b->next;
		if (b != a->first) {
			unpoison(b->data, b->size);
			wf_free(b);
		}
		b = next;
	}
	a->cur = a->first;
	a->first->next = NULL;
	a->first->used = ARENA_HDR;
	a->used = 0;
	poison(a->first->data + ARENA_HDR, a->first->size - ARENA_HDR);
}

void *wf_arena_alloc(struct wf_arena *a, size_t size)
{
	if (size > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	size_t need = align_up(size ? size : 1);
	if (a->cap && (need > a->cap || a->used > a->cap - need)) {
		errno = E2BIG;
		return NULL;
	}
	struct block *b = a->cur;
	if (b->size - b->used < need) {
		size_t data = need > a->chunk ? need : a->chunk;
		struct block *nb = wf_malloc(sizeof(*nb) + data);
		if (!nb)
			return NULL;
		nb->size = data;
		poison(nb->data, data);
		if (need > a->chunk && b->size - b->used >= ALIGN) {
			/* An oversized allocation gets a block of its own, placed behind the
			 * current one so that the current block's free space is not wasted. */
			nb->used = nb->size;
			nb->next = b->next;
			b->next = nb;
			a->used += need;
			unpoison(nb->data, size);
			return nb->data;
		}
		nb->used = 0;
		nb->next = b;
		a->cur = nb;
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += need;
	a->used += need;
	unpoison(p, size);
	return p;
}

void *wf_arena_zalloc(struct wf_arena *a, size_t size)
{
	void *p = wf_arena_alloc(a, size);
	if (p)
		memset(p, 0, size);
	return p;
}

char *wf_arena_strndup(struct wf_arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = wf_arena_alloc(a, len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *wf_arena_strdup(struct wf_arena *a, const char *s)
{
	return wf_arena_strndup(a, s, SIZE_MAX);
}

char *wf_arena_vprintf(struct wf_arena *a, const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return NULL;
	char *p = wf_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *wf_arena_printf(struct wf_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = wf_arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

size_t wf_arena_used(const struct wf_arena *a)
{
	return a->used;
}
