#include "lib/str.h"

#include <errno.h>

#include "lib/arena.h"
#include "lib/hash.h"

bool wf_str_endswith(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

const char *wf_str_after(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

int wf_str_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)wf_ascii_lower(*a);
		unsigned char y = (unsigned char)wf_ascii_lower(*b);
		if (x != y || !x)
			return (x > y) - (x < y);
	}
}

bool wf_str_caseeq(const char *a, const char *b)
{
	return wf_str_casecmp(a, b) == 0;
}

bool wf_str_caseeqn(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (a[i] != b[i] && wf_ascii_lower(a[i]) != wf_ascii_lower(b[i]))
			return false;
	return true;
}

uint64_t wf_str_hash_ci(const char *s, size_t len)
{
	/* DNS names are at most 255 bytes: one chunk, hashed exactly like the lowercased
	 * string. Longer input is hashed chunk by chunk, each seeded with the previous hash. */
	char chunk[256];
	uint64_t h = wf_hash_seed();
	size_t done = 0;
	do {
		size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = wf_ascii_lower(s[done + i]);
		h = wf_hash_seeded(chunk, n, h);
		done += n;
	} while (done < len);
	return h;
}

char *wf_str_lower(char *s)
{
	for (char *p = s; *p; p++)
		*p = wf_ascii_lower(*p);
	return s;
}

size_t wf_str_trimn(const char **s, size_t len)
{
	const char *p = *s;
	while (len && wf_ascii_isspace(*p))
		p++, len--;
	while (len && wf_ascii_isspace(p[len - 1]))
		len--;
	*s = p;
	return len;
}

char *wf_str_strip(char *s)
{
	const char *p = s;
	size_t len = wf_str_trimn(&p, strlen(s));
	char *start = s + (p - s);
	start[len] = '\0';
	return start;
}

int wf_str_split(struct wf_arena *a, const char *s, char delim, unsigned flags, char ***ret)
{
	if (delim == '\0')
		return -EINVAL;
	size_t fields = 1;
	for (const char *p = s; *p; p++)
		fields += *p == delim;

	char **v = wf_arena_alloc(a, (fields + 1) * sizeof(char *));
	if (!v)
		return errno == E2BIG ? -E2BIG : -ENOMEM;
	size_t n = 0;
	const char *p = s;
	for (;;) {
		const char *end = strchr(p, delim);
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *f = p;
		if (flags & WF_STR_SPLIT_TRIM)
			len = wf_str_trimn(&f, len);
		if (len || !(flags & WF_STR_SPLIT_SKIP_EMPTY)) {
			v[n] = wf_arena_strndup(a, f, len);
			if (!v[n])
				return errno == E2BIG ? -E2BIG : -ENOMEM;
			n++;
		}
		if (!end)
			break;
		p = end + 1;
	}
	v[n] = NULL;
	*ret = v;
	return (int)n;
}

bool wf_utf8_valid(const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;

	while (p < end) {
		unsigned char c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		/* RFC 3629 4: the table of well-formed byte sequences. */
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return false;
		}
		if ((size_t)(end - p) < n)
			return false;
		if (p[1] < lo || p[1] > hi)
			return false;
		for (size_t i = 2; i < n; i++)
			if (p[i] < 0x80 || p[i] > 0xbf)
				return false;
		p += n;
	}
	return true;
}

int wf_str_copy(char *dst, const char *src, size_t size)
{
	if (size == 0)
		return -ENOBUFS;
	size_t len = strnlen(src, size);
	if (len == size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -ENOBUFS;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

int wf_strn_to_u64(const char *s, size_t len, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			/* Overflow: still reject bad syntax later in the string first. */
			for (i++; i < len; i++)
				if (s[i] < '0' || s[i] > '9')
					return -EINVAL;
			return -ERANGE;
		}
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int wf_str_to_u64(const char *s, uint64_t max, uint64_t *ret)
{
	return wf_strn_to_u64(s, s ? strlen(s) : 0, max, ret);
}

int wf_str_to_u32(const char *s, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int r = wf_str_to_u64(s, max, &v);
	if (r < 0)
		return r;
	*ret = (uint32_t)v;
	return 0;
}

int wf_str_to_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	if (!s)
		return -EINVAL;
	bool neg = *s == '-';
	uint64_t mag;
	/* The magnitude may be one more than INT64_MAX for INT64_MIN. */
	int r = wf_str_to_u64(s + neg, (uint64_t)INT64_MAX + neg, &mag);
	if (r < 0)
		return r;
	int64_t v =
		neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}
