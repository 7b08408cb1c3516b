#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/ip.h"

static struct wf_ip ip(const char *s)
{
	struct wf_ip r;
	if (wf_ip_parse(s, &r) < 0)
		fail_msg("cannot parse %s", s);
	return r;
}

static struct wf_cidr cidr(const char *s)
{
	struct wf_cidr r;
	if (wf_cidr_parse(s, false, &r) < 0)
		fail_msg("cannot parse %s", s);
	return r;
}

static void assert_ip(const struct wf_ip *a, const char *want)
{
	char buf[WF_IP_STRLEN];
	assert_string_equal(wf_ip_format(a, buf), want);
}

static void test_v4_valid(void **state)
{
	static const char *ok[] = {"0.0.0.0",	      "1.2.3.4",	 "10.0.0.1",
				   "255.255.255.255", "192.168.100.200", "100.64.0.0"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct wf_ip a;
		assert_int_equal(wf_ip_parse(ok[i], &a), 0);
		assert_int_equal(a.family, AF_INET);
		assert_ip(&a, ok[i]);
		struct in_addr want;
		assert_int_equal(inet_pton(AF_INET, ok[i], &want), 1);
		assert_memory_equal(a.addr, &want, 4);
		for (int j = 4; j < 16; j++)
			assert_int_equal(a.addr[j], 0);
	}
}

static void test_v4_invalid(void **state)
{
	static const char *bad[] = {
		"",	      "1.2.3",	  "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "010.1.1.1",
		"1.2.3.04",   "00.1.1.1", " 1.2.3.4",  "1.2.3.4 ",  "1..2.3",	 "+1.2.3.4",
		"0x1.1.1.1",  "1.2.3.-4", "1.2.3.4/8", "1.2.3.",    ".1.2.3",	 "1.2.3.4.",
		"1111.1.1.1", "a.b.c.d",  "1,2,3,4",   "1.2.3.4\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wf_ip a = {.family = 99};
		int r = wf_ip_parse(bad[i], &a);
		if (r != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(a.family, 99); /* ret untouched on failure */
	}
	assert_int_equal(wf_ip_parse(NULL, &(struct wf_ip){0}), -EINVAL);
}

/* Input -> RFC 5952 canonical form. */
static const char *const v6_cases[][2] = {
	{"::", "::"},
	{"::1", "::1"},
	{"1::", "1::"},
	{"0:0:0:0:0:0:0:0", "::"},
	{"0:0:0:0:0:0:0:1", "::1"},
	{"2001:DB8::1", "2001:db8::1"},
	{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
	/* 4.2.1: shorten as much as possible */
	{"2001:db8:0:0:0:0:2:1", "2001:db8::2:1"},
	/* 4.2.2: a single zero group is not compressed */
	{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
	{"2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
	/* 4.2.3: the longest run wins... */
	{"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
	/* ...and the first of equal runs */
	{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
	{"1:0:0:2:0:0:3:4", "1::2:0:0:3:4"},
	{"0:0:1:0:0:1:0:0", "::1:0:0:1:0:0"},
	{"1:0:0:0:1:0:0:0", "1::1:0:0:0"},
	{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
	{"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
	{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
	{"fe80::0001:02", "fe80::1:2"},
	{"FFFF:ffff:FFFF:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	/* 5: IPv4-mapped addresses end in dotted quad */
	{"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
	{"::FFFF:102:304", "::ffff:1.2.3.4"},
	{"0:0:0:0:0:ffff:0.0.0.0", "::ffff:0.0.0.0"},
	{"::ffff:255.255.255.255", "::ffff:255.255.255.255"},
	/* other embedded IPv4 forms are plain hex */
	{"::1.2.3.4", "::102:304"},
	{"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
	{"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
	{"::ffff:0:1.2.3.4", "::ffff:0:102:304"},
};

static void test_v6_format(void **state)
{
	for (size_t i = 0; i < sizeof(v6_cases) / sizeof(v6_cases[0]); i++) {
		struct wf_ip a;
		if (wf_ip_parse(v6_cases[i][0], &a) < 0)
			fail_msg("rejected %s", v6_cases[i][0]);
		assert_int_equal(a.family, AF_INET6);
		struct in6_addr want;
		assert_int_equal(inet_pton(AF_INET6, v6_cases[i][0], &want), 1);
		assert_memory_equal(a.addr, &want, 16);
		char buf[WF_IP_STRLEN];
		if (strcmp(wf_ip_format(&a, buf), v6_cases[i][1]) != 0)
			fail_msg("%s formatted as %s, want %s", v6_cases[i][0], buf,
				 v6_cases[i][1]);
		/* The canonical form parses back to the same address. */
		struct wf_ip b;
		assert_int_equal(wf_ip_parse(buf, &b), 0);
		assert_true(wf_ip_equal(&a, &b));
	}
}

static void test_v6_invalid(void **state)
{
	static const char *bad[] = {
		":",
		":::",
		"1:2:3:4:5:6:7",
		"1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7:8::",
		"::1:2:3:4:5:6:7:8",
		"1:2:3:4::5:6:7:8",
		"1::2::3",
		"12345::",
		":1::",
		":1:2:3:4:5:6:7:8",
		"1::2:",
		"1:2:3:4:5:6:7:8:",
		"::ffff:1.2.3",
		"::ffff:01.2.3.4",
		"::ffff:1.2.3.4:1",
		"::1.2.3.4.5",
		"1:2:3:4:5:6:7:1.2.3.4",
		"fe80::1%eth0",
		"[::1]",
		"g::",
		"::1 ",
		" ::1",
		"1:2:3:4:5:6:7:8:1.2.3.4",
		"::-1",
		"0x1::",
		"1:::2",
		"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wf_ip a;
		if (wf_ip_parse(bad[i], &a) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

/* Every 16-byte pattern made of zero and non-zero groups: formatting matches what the RFC
 * rules give (checked through inet_pton, and against glibc's inet_ntop, which applies the
 * same rules except for its ::a.b.c.d form). */
static void test_v6_all_zero_patterns(void **state)
{
	for (unsigned mask = 0; mask < 256; mask++) {
		struct wf_ip a = {.family = AF_INET6};
		for (int g = 0; g < 8; g++)
			if (mask & (1u << g))
				a.addr[2 * g + 1] = (uint8_t)(g + 1);
		char buf[WF_IP_STRLEN], ref[INET6_ADDRSTRLEN];
		wf_ip_format(&a, buf);
		struct wf_ip b;
		assert_int_equal(wf_ip_parse(buf, &b), 0);
		assert_true(wf_ip_equal(&a, &b));
		inet_ntop(AF_INET6, a.addr, ref, sizeof(ref));
		if (!strchr(ref, '.'))
			assert_string_equal(buf, ref);
	}
}

static void test_random_roundtrip(void **state)
{
	srand(42);
	for (int i = 0; i < 20000; i++) {
		struct wf_ip a = {.family = i % 3 ? AF_INET6 : AF_INET};
		for (unsigned j = 0; j < wf_ip_len(&a); j++)
			a.addr[j] = rand() % 4 ? 0 : (uint8_t)rand();
		char buf[WF_IP_STRLEN];
		wf_ip_format(&a, buf);
		assert_true(strlen(buf) < WF_IP_STRLEN);
		struct wf_ip b;
		assert_int_equal(wf_ip_parse(buf, &b), 0);
		assert_true(wf_ip_equal(&a, &b));
		unsigned char ref[16];
		assert_int_equal(inet_pton(a.family, buf, ref), 1);
		assert_memory_equal(ref, a.addr, wf_ip_len(&a));
	}
	/* The longest text form fits WF_IP_STRLEN. */
	struct wf_ip m = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	char buf[WF_IP_STRLEN];
	assert_int_equal(strlen(wf_ip_format(&m, buf)), 39);
	m = ip("::ffff:255.255.255.255");
	assert_int_equal(strlen(wf_ip_format(&m, buf)), 22);
}

static void test_parsen(void **state)
{
	const char text[] = "10.1.2.3:8080";
	struct wf_ip a;
	assert_int_equal(wf_ip_parsen(text, 8, &a), 0);
	assert_ip(&a, "10.1.2.3");
	assert_int_equal(wf_ip_parsen(text, 9, &a), -EINVAL);
	assert_int_equal(wf_ip_parsen(text, 0, &a), -EINVAL);
	/* A counted string without a NUL anywhere. */
	char raw[3] = {':', ':', '1'};
	assert_int_equal(wf_ip_parsen(raw, 3, &a), 0);
	assert_ip(&a, "::1");
	assert_int_equal(wf_ip_parsen(raw, 2, &a), 0);
	assert_ip(&a, "::");
}

static void test_cmp(void **state)
{
	struct wf_ip a = ip("10.0.0.1"), b = ip("10.0.0.2"), c = ip("::1"), d = ip("10.0.0.1");
	assert_int_equal(wf_ip_cmp(&a, &b), -1);
	assert_int_equal(wf_ip_cmp(&b, &a), 1);
	assert_int_equal(wf_ip_cmp(&a, &d), 0);
	assert_true(wf_ip_equal(&a, &d));
	assert_false(wf_ip_equal(&a, &b));
	/* IPv4 sorts before IPv6, whatever the bytes. */
	assert_int_equal(wf_ip_cmp(&a, &c), -1);
	assert_int_equal(wf_ip_cmp(&c, &a), 1);
	/* IPv4 and its mapped form are different addresses. */
	struct wf_ip m = ip("::ffff:10.0.0.1");
	assert_false(wf_ip_equal(&a, &m));
	assert_int_equal(wf_ip_len(&a), 4);
	assert_int_equal(wf_ip_len(&c), 16);

	struct wf_ip e;
	wf_ip_from_in4(htonl(0x0a000001), &e);
	assert_true(wf_ip_equal(&e, &a));
	struct in6_addr one = IN6ADDR_LOOPBACK_INIT;
	wf_ip_from_in6(&one, &e);
	assert_true(wf_ip_equal(&e, &c));
}

static void test_add(void **state)
{
	struct wf_ip r;
	struct wf_ip a = ip("10.0.0.255");
	assert_int_equal(wf_ip_add(&a, 1, &r), 0);
	assert_ip(&r, "10.0.1.0");
	assert_int_equal(wf_ip_add(&a, -256, &r), 0);
	assert_ip(&r, "9.255.255.255");
	assert_int_equal(wf_ip_add(&a, 0, &r), 0);
	assert_ip(&r, "10.0.0.255");

	struct wf_ip top = ip("255.255.255.255"), zero = ip("0.0.0.0");
	r = ip("1.1.1.1");
	assert_int_equal(wf_ip_add(&top, 1, &r), -ERANGE);
	assert_ip(&r, "1.1.1.1"); /* untouched */
	assert_int_equal(wf_ip_add(&zero, -1, &r), -ERANGE);
	assert_int_equal(wf_ip_add(&zero, 0xffffffffLL, &r), 0);
	assert_ip(&r, "255.255.255.255");
	assert_int_equal(wf_ip_add(&zero, 0x100000000LL, &r), -ERANGE);
	assert_int_equal(wf_ip_add(&top, -0xffffffffLL, &r), 0);
	assert_ip(&r, "0.0.0.0");
	assert_int_equal(wf_ip_add(&zero, INT64_MAX, &r), -ERANGE);
	assert_int_equal(wf_ip_add(&top, INT64_MIN, &r), -ERANGE);

	/* IPv6: carry and borrow across the 64-bit halves. */
	struct wf_ip b = ip("::ffff:ffff:ffff:ffff");
	assert_int_equal(wf_ip_add(&b, 1, &r), 0);
	assert_ip(&r, "0:0:0:1::");
	assert_int_equal(wf_ip_add(&r, -1, &r), 0);
	assert_ip(&r, "::ffff:ffff:ffff:ffff");
	struct wf_ip c = ip("0:0:0:1::");
	assert_int_equal(wf_ip_add(&c, INT64_MIN, &r), 0);
	assert_ip(&r, "::8000:0:0:0");
	struct wf_ip v6top = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(wf_ip_add(&v6top, 1, &r), -ERANGE);
	assert_int_equal(wf_ip_add(&v6top, -1, &r), 0);
	assert_ip(&r, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	struct wf_ip v6zero = ip("::");
	assert_int_equal(wf_ip_add(&v6zero, -1, &r), -ERANGE);
	assert_int_equal(wf_ip_add(&v6zero, INT64_MAX, &r), 0);
	assert_ip(&r, "::7fff:ffff:ffff:ffff");
	assert_int_equal(r.family, AF_INET6);
}

static void test_cidr_parse(void **state)
{
	struct wf_cidr c;
	char buf[WF_CIDR_STRLEN];

	assert_int_equal(wf_cidr_parse("10.244.0.0/16", true, &c), 0);
	assert_int_equal(c.prefix, 16);
	assert_string_equal(wf_cidr_format(&c, buf), "10.244.0.0/16");

	/* Strict: host bits must be zero, as Kubernetes requires of podCIDRs. */
	c.prefix = 99;
	assert_int_equal(wf_cidr_parse("10.244.0.1/16", true, &c), -EINVAL);
	assert_int_equal(c.prefix, 99);
	assert_int_equal(wf_cidr_parse("10.0.0.1/24", false, &c), 0);
	assert_string_equal(wf_cidr_format(&c, buf), "10.0.0.1/24"); /* host bits kept */
	struct wf_ip net;
	wf_cidr_network(&c, &net);
	assert_ip(&net, "10.0.0.0");

	assert_int_equal(wf_cidr_parse("fd00:10:244::/56", true, &c), 0);
	assert_string_equal(wf_cidr_format(&c, buf), "fd00:10:244::/56");
	assert_int_equal(wf_cidr_parse("fd00:10:244::1/56", true, &c), -EINVAL);
	assert_int_equal(wf_cidr_parse("fd00:10:244:1::/56", true, &c), -EINVAL);
	assert_int_equal(wf_cidr_parse("fd00:10:244:ff00::/56", true, &c), 0);
	assert_int_equal(wf_cidr_parse("fd00:10:244:100::/56", true, &c), 0);
	assert_int_equal(wf_cidr_parse("::FFFF:1.2.3.0/120", true, &c), 0);
	assert_string_equal(wf_cidr_format(&c, buf), "::ffff:1.2.3.0/120");

	/* The longest text form fits. */
	assert_int_equal(
		wf_cidr_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", true, &c), 0);
	wf_cidr_format(&c, buf);
	assert_string_equal(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");

	static const char *bad[] = {
		"10.0.0.0",
		"10.0.0.0/",
		"10.0.0.0/33",
		"::/129",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/08",
		"10.0.0.0/ 8",
		"10.0.0.0/8 ",
		"10.0.0.0//8",
		"/8",
		"010.0.0.0/8",
		"10.0.0.0/8/8",
		"10.0.0.0/1000",
		"::/0128",
		"10.0.0.0/a",
		"",
		"fe80::/64%1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (int strict = 0; strict < 2; strict++)
			if (wf_cidr_parse(bad[i], strict, &c) != -EINVAL)
				fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(wf_cidr_parse(NULL, true, &c), -EINVAL);
}

static void test_cidr_edges(void **state)
{
	struct wf_cidr c;
	struct wf_ip r;

	/* /0 */
	assert_int_equal(wf_cidr_parse("0.0.0.0/0", true, &c), 0);
	assert_int_equal(wf_cidr_size(&c), 1ULL << 32);
	wf_cidr_last(&c, &r);
	assert_ip(&r, "255.255.255.255");
	assert_true(wf_cidr_contains(&c, &(struct wf_ip){.family = AF_INET}));
	struct wf_ip any4 = ip("203.0.113.9"), any6 = ip("2001:db8::1");
	assert_true(wf_cidr_contains(&c, &any4));
	assert_false(wf_cidr_contains(&c, &any6)); /* families never mix */
	assert_int_equal(wf_cidr_parse("1.2.3.4/0", true, &c), -EINVAL);

	assert_int_equal(wf_cidr_parse("::/0", true, &c), 0);
	assert_int_equal(wf_cidr_size(&c), UINT64_MAX); /* saturated */
	wf_cidr_last(&c, &r);
	assert_ip(&r, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_true(wf_cidr_contains(&c, &any6));
	assert_false(wf_cidr_contains(&c, &any4));
	uint64_t off;
	assert_int_equal(wf_cidr_offset(&c, &any6, &off), -ERANGE); /* needs > 64 bits */
	struct wf_ip low = ip("::5");
	assert_int_equal(wf_cidr_offset(&c, &low, &off), 0);
	assert_int_equal(off, 5);
	assert_int_equal(wf_cidr_nth(&c, UINT64_MAX, &r), 0);
	assert_ip(&r, "::ffff:ffff:ffff:ffff");

	/* /32 and /128: one address. */
	assert_int_equal(wf_cidr_parse("192.0.2.7/32", true, &c), 0);
	assert_int_equal(wf_cidr_size(&c), 1);
	wf_cidr_last(&c, &r);
	assert_ip(&r, "192.0.2.7");
	assert_int_equal(wf_cidr_nth(&c, 0, &r), 0);
	assert_ip(&r, "192.0.2.7");
	assert_int_equal(wf_cidr_nth(&c, 1, &r), -ERANGE);
	struct wf_ip same = ip("192.0.2.7"), next = ip("192.0.2.8");
	assert_true(wf_cidr_contains(&c, &same));
	assert_false(wf_cidr_contains(&c, &next));

	assert_int_equal(wf_cidr_parse("2001:db8::7/128", true, &c), 0);
	assert_int_equal(wf_cidr_size(&c), 1);
	wf_cidr_last(&c, &r);
	assert_ip(&r, "2001:db8::7");
	assert_int_equal(wf_cidr_nth(&c, 1, &r), -ERANGE);
	assert_int_equal(wf_cidr_offset(&c, &any6, &off), -ERANGE);

	/* Sizes around the 64-bit limit. */
	assert_int_equal(wf_cidr_parse("2001:db8::/64", true, &c), 0);
	assert_int_equal(wf_cidr_size(&c), UINT64_MAX);
	wf_cidr_last(&c, &r);
	assert_ip(&r, "2001:db8::ffff:ffff:ffff:ffff");
	assert_int_equal(wf_cidr_nth(&c, UINT64_MAX, &r), 0);
	assert_ip(&r, "2001:db8::ffff:ffff:ffff:ffff");
	assert_int_equal(wf_cidr_parse("2001:db8::/65", true, &c), 0);
	assert_int_equal(wf_cidr_size(&c), 1ULL << 63);
	assert_int_equal(wf_cidr_nth(&c, 1ULL << 63, &r), -ERANGE);
	assert_int_equal(wf_cidr_nth(&c, (1ULL << 63) - 1, &r), 0);
	assert_ip(&r, "2001:db8::7fff:ffff:ffff:ffff");

	/* Odd prefixes inside a byte. */
	assert_int_equal(wf_cidr_parse("10.0.0.128/25", true, &c), 0);
	wf_cidr_last(&c, &r);
	assert_ip(&r, "10.0.0.255");
	assert_int_equal(wf_cidr_parse("10.0.0.64/25", true, &c), -EINVAL);
	assert_int_equal(wf_cidr_parse("172.16.0.0/12", true, &c), 0);
	wf_cidr_last(&c, &r);
	assert_ip(&r, "172.31.255.255");
}

static void test_cidr_iterate_31(void **state)
{
	struct wf_cidr c = cidr("10.1.2.4/31");
	assert_int_equal(wf_cidr_size(&c), 2);
	struct wf_ip first, last, r;
	wf_cidr_network(&c, &first);
	wf_cidr_last(&c, &last);
	assert_ip(&first, "10.1.2.4");
	assert_ip(&last, "10.1.2.5");

	/* By index. */
	const char *want[] = {"10.1.2.4", "10.1.2.5"};
	for (uint64_t i = 0; i < wf_cidr_size(&c); i++) {
		assert_int_equal(wf_cidr_nth(&c, i, &r), 0);
		assert_ip(&r, want[i]);
		uint64_t off;
		assert_int_equal(wf_cidr_offset(&c, &r, &off), 0);
		assert_int_equal(off, i);
	}
	assert_int_equal(wf_cidr_nth(&c, 2, &r), -ERANGE);

	/* By increment, stopping when leaving the block. */
	int n = 0;
	for (struct wf_ip a = first; wf_cidr_contains(&c, &a); n++)
		if (wf_ip_add(&a, 1, &a) < 0)
			break;
	assert_int_equal(n, 2);

	struct wf_ip outside = ip("10.1.2.6");
	uint64_t off = 77;
	assert_int_equal(wf_cidr_offset(&c, &outside, &off), -ERANGE);
	assert_int_equal(off, 77);
	outside = ip("10.1.2.3");
	assert_false(wf_cidr_contains(&c, &outside));

	/* The same at the very top of the space, where the increment overflows. */
	c = cidr("255.255.255.254/31");
	struct wf_ip a;
	wf_cidr_network(&c, &a);
	assert_int_equal(wf_ip_add(&a, 1, &a), 0);
	assert_true(wf_cidr_contains(&c, &a));
	assert_int_equal(wf_ip_add(&a, 1, &a), -ERANGE);

	c = cidr("2001:db8::fffe/127");
	assert_int_equal(wf_cidr_nth(&c, 1, &r), 0);
	assert_ip(&r, "2001:db8::ffff");
	assert_int_equal(wf_cidr_nth(&c, 2, &r), -ERANGE);
}

static void test_cidr_overlaps(void **state)
{
	struct wf_cidr a = cidr("10.0.0.0/8"), b = cidr("10.244.1.0/24"), c = cidr("11.0.0.0/8"),
		       d = cidr("::/0"), e = cidr("0.0.0.0/0");
	assert_true(wf_cidr_overlaps(&a, &b));
	assert_true(wf_cidr_overlaps(&b, &a));
	assert_false(wf_cidr_overlaps(&a, &c));
	assert_false(wf_cidr_overlaps(&a, &d));
	assert_true(wf_cidr_overlaps(&e, &c));
	assert_true(wf_cidr_overlaps(&a, &a));
	struct wf_cidr f = cidr("10.0.0.1/8"); /* host bits set: still the same block */
	assert_true(wf_cidr_overlaps(&f, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_valid),
		cmocka_unit_test(test_v4_invalid),
		cmocka_unit_test(test_v6_format),
		cmocka_unit_test(test_v6_invalid),
		cmocka_unit_test(test_v6_all_zero_patterns),
		cmocka_unit_test(test_random_roundtrip),
		cmocka_unit_test(test_parsen),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_edges),
		cmocka_unit_test(test_cidr_iterate_31),
		cmocka_unit_test(test_cidr_overlaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
