#include "lib/alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_ulong fail_at; /* 0: injection off */
static atomic_ulong attempts;

/* Returns true when this allocation must fail (fault injection for tests). */
static bool inject_failure(void)
{
	unsigned long n = atomic_fetch_add_explicit(&attempts, 1, memory_order_relaxed) + 1;
	unsigned long target = atomic_load_explicit(&fail_at, memory_order_relaxed);
	if (target != 0 && n == target) {
		errno = ENOMEM;
		return true;
	}
	return false;
}

void wf_alloc_fail_at(unsigned long nth)
{
	atomic_store(&attempts, 0);
	atomic_store(&fail_at, nth);
}

unsigned long wf_alloc_count(void)
{
	return atomic_load(&attempts);
}

void *wf_malloc(size_t size)
{
	return inject_failure() ? NULL : malloc(size ? size : 1);
}

void *wf_calloc(size_t nmemb, size_t size)
{
	return inject_failure() ? NULL : calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *wf_realloc(void *ptr, size_t size)
{
	return inject_failure() ? NULL : realloc(ptr, size ? size : 1);
}

void *wf_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return wf_realloc(ptr, nmemb * size);
}

char *wf_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *copy = wf_malloc(len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

char *wf_strdup(const char *s)
{
	return wf_strndup(s, SIZE_MAX);
}

void *wf_memdup(const void *p, size_t n)
{
	void *copy = wf_malloc(n);
	if (copy && n)
		memcpy(copy, p, n);
	return copy;
}

void wf_free(void *ptr)
{
	free(ptr);
}
