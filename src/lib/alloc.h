/* Allocation wrappers. Every allocation in weft goes through these so that a test can make the
 * Nth allocation fail (wf_alloc_fail_at) and prove that every error path unwinds cleanly.
 * Thread-safe; the fault-injection counter is process-wide. */
#pragma once
#include <stddef.h>

void *wf_malloc(size_t size);
void *wf_calloc(size_t nmemb, size_t size);
void *wf_realloc(void *ptr, size_t size);
/* Like reallocarray(3): fails with NULL (errno ENOMEM) on multiplication overflow. */
void *wf_reallocarray(void *ptr, size_t nmemb, size_t size);
char *wf_strdup(const char *s);
char *wf_strndup(const char *s, size_t n);
void *wf_memdup(const void *p, size_t n);
/* Takes NULL. */
void wf_free(void *ptr);

/* Tests: make the nth allocation from now fail (1 = the next one); 0 switches injection off.
 * wf_alloc_count() is the number of allocations attempted since the last wf_alloc_fail_at(). */
void wf_alloc_fail_at(unsigned long nth);
unsigned long wf_alloc_count(void);

/* Frees *p and sets it to NULL; for cleanup attributes. */
static inline void wf_freep(void *p)
{
	wf_free(*(void **)p);
}
#define _wf_cleanup_free_ __attribute__((cleanup(wf_freep)))
