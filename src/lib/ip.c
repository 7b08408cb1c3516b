#include "lib/ip.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Text forms accepted (and nothing else):
 *   IPv4: exactly four decimal parts of 1-3 digits, each <= 255, no leading zeros ("010.1.1.1"
 *         is rejected: Kubernetes validation rejects it because inet_aton would read it as
 *         octal, so two parsers would disagree on the address).
 *   IPv6: RFC 4291 2.2: eight groups of 1-4 hex digits, at most one "::", optionally ending in
 *         a dotted quad (same rules as above) in place of the last two groups. No zone index
 *         ("%eth0"), no brackets. */

static int parse_v4(const char *s, size_t len, uint8_t out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return -EINVAL;
			i++;
		}
		size_t start = i;
		unsigned v = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		size_t n = i - start;
		if (n == 0 || v > 255 || (n > 1 && s[start] == '0'))
			return -EINVAL;
		out[part] = (uint8_t)v;
	}
	return i == len ? 0 : -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_v6(const char *s, size_t len, uint8_t out[16])
{
	uint16_t groups[8];
	int ngroups = 0;
	int gap = -1; /* index in groups where "::" stands */
	size_t i = 0;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
		if (i == len)
			goto assemble;
	} else if (len >= 1 && s[0] == ':') {
		return -EINVAL; /* a single leading colon */
	}

	for (;;) {
		/* A group, or a dotted quad that ends the address. */
		size_t start = i;
		unsigned v = 0;
		while (i < len && i - start < 5 && hexval(s[i]) >= 0) {
			v = v * 16 + (unsigned)hexval(s[i]);
			i++;
		}
		if (i < len && s[i] == '.') {
			if (ngroups > 6)
				return -EINVAL;
			uint8_t q[4];
			if (parse_v4(s + start, len - start, q) < 0)
				return -EINVAL;
			groups[ngroups++] = (uint16_t)(q[0] << 8 | q[1]);
			groups[ngroups++] = (uint16_t)(q[2] << 8 | q[3]);
			break;
		}
		if (i == start || i - start > 4 || ngroups == 8)
			return -EINVAL;
		groups[ngroups++] = (uint16_t)v;
		if (i == len)
			break;
		if (s[i] != ':')
			return -EINVAL;
		i++;
		if (i < len && s[i] == ':') {
			if (gap >= 0)
				return -EINVAL; /* a second "::" */
			gap = ngroups;
			i++;
			if (i == len)
				break;
		} else if (i == len) {
			return -EINVAL; /* a single trailing colon */
		}
	}

assemble:
	if (gap < 0 && ngroups != 8)
		return -EINVAL;
	/* RFC 4291 2.2: "::" stands for one or more groups of zeros, so eight explicit groups
	 * plus "::" is an error. */
	if (gap >= 0 && ngroups > 7)
		return -EINVAL;
	memset(out, 0, 16);
	int tail = gap >= 0 ? ngroups - gap : 0;
	int head = ngroups - tail;
	for (int g = 0; g < head; g++) {
		out[2 * g] = (uint8_t)(groups[g] >> 8);
		out[2 * g + 1] = (uint8_t)groups[g];
	}
	for (int g = 0; g < tail; g++) {
		int dst = 8 - tail + g;
		out[2 * dst] = (uint8_t)(groups[head + g] >> 8);
		out[2 * dst + 1] = (uint8_t)groups[head + g];
	}
	return 0;
}

int wf_ip_parsen(const char *s, size_t len, struct wf_ip *ret)
{
	struct wf_ip ip = {0};

	if (!s || len == 0 || len >= WF_IP_STRLEN)
		return -EINVAL;
	if (memchr(s, ':', len)) {
		if (parse_v6(s, len, ip.addr) < 0)
			return -EINVAL;
		ip.family = AF_INET6;
	} else {
		if (parse_v4(s, len, ip.addr) < 0)
			return -EINVAL;
		ip.family = AF_INET;
	}
	*ret = ip;
	return 0;
}

int wf_ip_parse(const char *s, struct wf_ip *ret)
{
	if (!s)
		return -EINVAL;
	return wf_ip_parsen(s, strnlen(s, WF_IP_STRLEN), ret);
}

static char *format_v4(const uint8_t a[4], char *p)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (i)
			*p++ = '.';
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
	}
	*p = '\0';
	return p;
}

char *wf_ip_format(const struct wf_ip *ip, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *a = ip->addr;

	if (ip->family == AF_INET) {
		format_v4(a, buf);
		return buf;
	}
	if (ip->family != AF_INET6) {
		strcpy(buf, "invalid");
		return buf;
	}

	uint16_t g[8];
	for (int i = 0; i < 8; i++)
		g[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);

	/* RFC 5952 4.2: "::" replaces the longest run of two or more zero groups; on a tie, the
	 * first run. */
	int best = -1, bestlen = 1;
	for (int i = 0; i < 8;) {
		if (g[i] != 0) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > bestlen) {
			best = i;
			bestlen = j - i;
		}
		i = j;
	}

	/* RFC 5952 5: IPv4-mapped addresses end in dotted-quad notation. */
	bool mapped =
		g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
	int ngroups = mapped ? 6 : 8;

	char *p = buf;
	for (int i = 0; i < ngroups; i++) {
		if (i == best) {
			*p++ = ':';
			*p++ = ':';
			i += bestlen - 1;
			continue;
		}
		if (i > 0 && i != best + bestlen)
			*p++ = ':';
		/* RFC 5952 4.1 and 4.3: no leading zeros, lowercase. */
		unsigned v = g[i];
		int started = 0;
		for (int shift = 12; shift >= 0; shift -= 4) {
			unsigned d = (v >> shift) & 0xf;
			if (d || started || shift == 0) {
				*p++ = hex[d];
				started = 1;
			}
		}
	}
	if (mapped) {
		*p++ = ':';
		format_v4(a + 12, p);
	} else {
		*p = '\0';
	}
	return buf;
}

unsigned wf_ip_len(const struct wf_ip *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

int wf_ip_cmp(const struct wf_ip *a, const struct wf_ip *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int r = memcmp(a->addr, b->addr, wf_ip_len(a));
	return (r > 0) - (r < 0);
}

bool wf_ip_equal(const struct wf_ip *a, const struct wf_ip *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, wf_ip_len(a)) == 0;
}

void wf_ip_from_in4(uint32_t be_addr, struct wf_ip *ret)
{
	struct wf_ip ip = {.family = AF_INET};
	memcpy(ip.addr, &be_addr, 4);
	*ret = ip;
}

void wf_ip_from_in6(const void *addr16, struct wf_ip *ret)
{
	struct wf_ip ip = {.family = AF_INET6};
	memcpy(ip.addr, addr16, 16);
	*ret = ip;
}

/* 128-bit arithmetic on addresses as two host-order halves. For IPv4, lo holds the address and
 * hi is zero. */
struct u128 {
	uint64_t hi, lo;
};

static struct u128 ip_to_u128(const struct wf_ip *ip)
{
	struct u128 v = {0, 0};
	const uint8_t *a = ip->addr;

	if (ip->family == AF_INET) {
		v.lo = (uint64_t)a[0] << 24 | (uint64_t)a[1] << 16 | (uint64_t)a[2] << 8 | a[3];
		return v;
	}
	for (int i = 0; i < 8; i++) {
		v.hi = v.hi << 8 | a[i];
		v.lo = v.lo << 8 | a[8 + i];
	}
	return v;
}

static void u128_to_ip(struct u128 v, uint8_t family, struct wf_ip *ret)
{
	struct wf_ip ip = {.family = family};

	if (family == AF_INET) {
		for (int i = 0; i < 4; i++)
			ip.addr[i] = (uint8_t)(v.lo >> (24 - 8 * i));
	} else {
		for (int i = 0; i < 8; i++) {
			ip.addr[i] = (uint8_t)(v.hi >> (56 - 8 * i));
			ip.addr[8 + i] = (uint8_t)(v.lo >> (56 - 8 * i));
		}
	}
	*ret = ip;
}

/* Mask with the top `bits` bits of a 128-bit (IPv6) or 32-bit (IPv4, in lo) space set. */
static struct u128 prefix_mask(uint8_t family, unsigned prefix)
{
	struct u128 m = {0, 0};

	if (family == AF_INET) {
		m.lo = prefix == 0 ? 0 : (0xffffffffu << (32 - prefix)) & 0xffffffffu;
		return m;
	}
	if (prefix >= 64) {
		m.hi = UINT64_MAX;
		m.lo = prefix == 64 ? 0 : UINT64_MAX << (128 - prefix);
	} else {
		m.hi = prefix == 0 ? 0 : UINT64_MAX << (64 - prefix);
	}
	return m;
}

int wf_ip_add(const struct wf_ip *a, int64_t n, struct wf_ip *ret)
{
	struct u128 v = ip_to_u128(a);

	if (a->family == AF_INET) {
		if (n > (int64_t)UINT32_MAX || n < -(int64_t)UINT32_MAX)
			return -ERANGE;
		int64_t r = (int64_t)v.lo + n;
		if (r < 0 || r > (int64_t)UINT32_MAX)
			return -ERANGE;
		v.lo = (uint64_t)r;
		u128_to_ip(v, AF_INET, ret);
		return 0;
	}
	if (n >= 0) {
		uint64_t lo = v.lo + (uint64_t)n;
		uint64_t carry = lo < v.lo;
		if (carry && v.hi == UINT64_MAX)
			return -ERANGE;
		v.hi += carry;
		v.lo = lo;
	} else {
		uint64_t d = (uint64_t)(-(n + 1)) + 1; /* |n| without overflow at INT64_MIN */
		uint64_t borrow = v.lo < d;
		if (borrow && v.hi == 0)
			return -ERANGE;
		v.hi -= borrow;
		v.lo -= d;
	}
	u128_to_ip(v, AF_INET6, ret);
	return 0;
}

static unsigned family_bits(uint8_t family)
{
	return family == AF_INET ? 32 : 128;
}

static int parse_prefix(const char *s, unsigned max, uint8_t *ret)
{
	unsigned v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 3)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	/* No sign, no spaces, no leading zeros ("/024" is rejected like Go's ParseCIDR). */
	if (n == 0 || (n > 1 && s[0] == '0') || v > max)
		return -EINVAL;
	*ret = (uint8_t)v;
	return 0;
}

int wf_cidr_parse(const char *s, bool strict, struct wf_cidr *ret)
{
	struct wf_cidr c = {0};

	if (!s)
		return -EINVAL;
	const char *slash = strchr(s, '/');
	if (!slash || wf_ip_parsen(s, (size_t)(slash - s), &c.ip) < 0)
		return -EINVAL;
	if (parse_prefix(slash + 1, family_bits(c.ip.family), &c.prefix) < 0)
		return -EINVAL;
	if (strict) {
		struct wf_ip net;
		wf_cidr_network(&c, &net);
		if (!wf_ip_equal(&net, &c.ip))
			return -EINVAL;
	}
	*ret = c;
	return 0;
}

char *wf_cidr_format(const struct wf_cidr *c, char *buf)
{
	wf_ip_format(&c->ip, buf);
	snprintf(buf + strlen(buf), WF_CIDR_STRLEN - WF_IP_STRLEN + 1, "/%u", c->prefix);
	return buf;
}

void wf_cidr_network(const struct wf_cidr *c, struct wf_ip *ret)
{
	struct u128 v = ip_to_u128(&c->ip);
	struct u128 m = prefix_mask(c->ip.family, c->prefix);
	v.hi &= m.hi;
	v.lo &= m.lo;
	u128_to_ip(v, c->ip.family, ret);
}

void wf_cidr_last(const struct wf_cidr *c, struct wf_ip *ret)
{
	struct u128 v = ip_to_u128(&c->ip);
	struct u128 m = prefix_mask(c->ip.family, c->prefix);
	v.hi |= ~m.hi;
	v.lo |= ~m.lo;
	if (c->ip.family == AF_INET) {
		v.hi = 0;
		v.lo &= 0xffffffffu;
	}
	u128_to_ip(v, c->ip.family, ret);
}

bool wf_cidr_contains(const struct wf_cidr *c, const struct wf_ip *ip)
{
	if (ip->family != c->ip.family)
		return false;
	struct u128 a = ip_to_u128(&c->ip), b = ip_to_u128(ip);
	struct u128 m = prefix_mask(c->ip.family, c->prefix);
	return ((a.hi ^ b.hi) & m.hi) == 0 && ((a.lo ^ b.lo) & m.lo) == 0;
}

bool wf_cidr_overlaps(const struct wf_cidr *a, const struct wf_cidr *b)
{
	if (a->ip.family != b->ip.family)
		return false;
	/* Two blocks overlap exactly when the shorter prefix contains the other's address. */
	return a->prefix <= b->prefix ? wf_cidr_contains(a, &b->ip) : wf_cidr_contains(b, &a->ip);
}

uint64_t wf_cidr_size(const struct wf_cidr *c)
{
	unsigned host = family_bits(c->ip.family) - c->prefix;
	return host >= 64 ? UINT64_MAX : (uint64_t)1 << host;
}

int wf_cidr_nth(const struct wf_cidr *c, uint64_t n, struct wf_ip *ret)
{
	unsigned host = family_bits(c->ip.family) - c->prefix;

	if (host < 64 && n >= (uint64_t)1 << host)
		return -ERANGE;
	struct wf_ip net;
	wf_cidr_network(c, &net);
	struct u128 v = ip_to_u128(&net);
	/* n fits in the host part, which is zero in net: no carry past the block. */
	uint64_t lo = v.lo + n;
	v.hi += lo < v.lo;
	v.lo = lo;
	u128_to_ip(v, c->ip.family, ret);
	return 0;
}

int wf_cidr_offset(const struct wf_cidr *c, const struct wf_ip *ip, uint64_t *ret)
{
	if (!wf_cidr_contains(c, ip))
		return -ERANGE;
	struct u128 v = ip_to_u128(ip);
	struct u128 m = prefix_mask(c->ip.family, c->prefix);
	uint64_t hi = v.hi & ~m.hi;
	if (hi != 0)
		return -ERANGE; /* the offset does not fit in 64 bits */
	*ret = v.lo & ~m.lo & (c->ip.family == AF_INET ? 0xffffffffu : UINT64_MAX);
	return 0;
}
