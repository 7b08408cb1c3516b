/* Arena: a bump allocator for request-shaped jobs (a DNS query, a manifest, a reconcile pass).
 * Everything allocated from it is freed at once by wf_arena_free/reset. Not thread-safe: one
 * arena belongs to one job. A cap bounds how much one job may take. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

struct wf_arena;

/* chunk: size of each block taken from wf_malloc; cap: total bytes allowed (0 = no cap). */
struct wf_arena *wf_arena_new(size_t chunk, size_t cap);
void wf_arena_free(struct wf_arena *a); /* takes NULL */
/* Releases every allocation but keeps the first block for reuse. */
void wf_arena_reset(struct wf_arena *a);
/* 16-byte aligned; NULL when out of memory (errno ENOMEM) or over the cap (errno E2BIG).
 * Memory is not zeroed. Pointers stay valid until wf_arena_reset/free. */
void *wf_arena_alloc(struct wf_arena *a, size_t size);
void *wf_arena_zalloc(struct wf_arena *a, size_t size);
char *wf_arena_strdup(struct wf_arena *a, const char *s);
char *wf_arena_strndup(struct wf_arena *a, const char *s, size_t n);
char *wf_arena_printf(struct wf_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *wf_arena_vprintf(struct wf_arena *a, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Bytes handed out since creation or the last reset (what the cap is checked against). */
size_t wf_arena_used(const struct wf_arena *a);
