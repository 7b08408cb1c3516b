/* Small string helpers: prefixes, ASCII case folding (DNS names, HTTP header names), trimming,
 * splitting into an arena, UTF-8 validation, bounded copies and integer parsing with range
 * checks. Pure functions, thread-safe; only wf_str_split allocates (from the arena given). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wf_arena;

static inline bool wf_str_empty(const char *s)
{
	return !s || !*s;
}

static inline bool wf_str_eq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline bool wf_str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool wf_str_endswith(const char *s, const char *suffix);
/* s with prefix removed, or NULL when s does not start with it. */
const char *wf_str_after(const char *s, const char *prefix);

static inline char wf_ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* ASCII-only case-insensitive comparison (no locale: "I" and "i" match in every locale, and
 * bytes >= 0x80 compare exactly), as DNS (RFC 4343) and HTTP header names require. */
int wf_str_casecmp(const char *a, const char *b);
bool wf_str_caseeq(const char *a, const char *b);
/* Counted variant: equal lengths and equal bytes up to ASCII case. */
bool wf_str_caseeqn(const char *a, size_t alen, const char *b, size_t blen);
/* wf_hash_bytes of the ASCII-lowercased bytes (up to 256 bytes; chained beyond), without
 * allocating: "Example.COM" and "example.com" hash alike. */
uint64_t wf_str_hash_ci(const char *s, size_t len);
/* Lowercases ASCII letters in place; returns s. */
char *wf_str_lower(char *s);

static inline bool wf_ascii_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Counted trim: advances *s past leading ASCII whitespace and returns the length without the
 * trailing whitespace. Nothing is written. */
size_t wf_str_trimn(const char **s, size_t len);
/* In-place trim: NUL-terminates s after its last non-space byte and returns a pointer to its
 * first non-space byte (inside s). */
char *wf_str_strip(char *s);

enum {
	WF_STR_SPLIT_TRIM = 1 << 0,	  /* trim ASCII whitespace around each field */
	WF_STR_SPLIT_SKIP_EMPTY = 1 << 1, /* drop empty fields (after trimming) */
};

/* Splits s on delim into a NULL-terminated array of strings, all allocated from a (valid
 * until the arena is reset). "a,,b" gives "a", "", "b" unless WF_STR_SPLIT_SKIP_EMPTY; "" gives
 * one empty field (none with SKIP_EMPTY). Returns the number of fields, or -ENOMEM / -E2BIG
 * (arena cap) / -EINVAL (delim is NUL). */
int wf_str_split(struct wf_arena *a, const char *s, char delim, unsigned flags, char ***ret);

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. NUL
 * bytes are valid UTF-8; callers that forbid them check separately. */
bool wf_utf8_valid(const void *p, size_t len);

/* Bounded copy: copies src into dst[size] and always NUL-terminates (when size > 0). Returns 0,
 * or -ENOBUFS when src did not fit (dst then holds a truncated copy). For fixed-size fields
 * such as interface names (IFNAMSIZ) and sun_path. */
int wf_str_copy(char *dst, const char *src, size_t size);

/* Decimal integers: digits only (no sign, no spaces, no "0x", no empty string), leading zeros
 * allowed. Returns 0, -EINVAL (syntax) or -ERANGE (above max). *ret is written on success only.
 * The n variants take a counted string. */
int wf_str_to_u64(const char *s, uint64_t max, uint64_t *ret);
int wf_strn_to_u64(const char *s, size_t len, uint64_t max, uint64_t *ret);
int wf_str_to_u32(const char *s, uint32_t max, uint32_t *ret);
/* Optional leading '-'; -ERANGE outside [min, max]. */
int wf_str_to_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
