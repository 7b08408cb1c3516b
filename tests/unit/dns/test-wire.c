/* Unit tests of the DNS wire codec (RFC 1035 4.1, RFC 6891). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-qsbr.h>

#include "dns/cache.h"
#include "dns/dump.h"
#include "dns/wire.h"
#include "lib/error.h"

static void test_name_text_roundtrip(void **state)
{
	uint8_t wire[WF_DNS_MAX_NAME];
	char text[1024];
	int n;

	n = wf_dns_name_from_text("Web.Default.svc.cluster.local.", wire, false);
	assert_int_equal(n, 31);
	assert_int_equal(wire[0], 3);
	assert_memory_equal(wire + 1, "Web", 3);
	assert_int_equal(wf_dns_name_to_text(wire, (size_t)n, text, sizeof(text)), 30);
	assert_string_equal(text, "Web.Default.svc.cluster.local.");
	n = wf_dns_name_from_text("Web.Default", wire, true);
	assert_int_equal(n, 13);
	assert_memory_equal(wire, "\003web\007default\000", 13);
	assert_int_equal(wf_dns_name_from_text(".", wire, true), 1);
	assert_int_equal(wf_dns_name_to_text(wire, 1, text, sizeof(text)), 1);
	assert_string_equal(text, ".");
}

static void test_name_text_limits(void **state)
{
	uint8_t wire[WF_DNS_MAX_NAME];
	char label[70], name[300];

	memset(label, 'a', 63);
	label[63] = '\0';
	assert_int_equal(wf_dns_name_from_text(label, wire, true), 65);
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_int_equal(wf_dns_name_from_text(label, wire, true), -WF_E_INVALID);
	assert_int_equal(wf_dns_name_from_text("a..b", wire, true), -WF_E_INVALID);
	/* 4 labels of 63 = 256 bytes on the wire: one too many */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.%s.%s.%s", label, label, label, label);
	assert_int_equal(wf_dns_name_from_text(name, wire, true), -WF_E_INVALID);
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", label, label, label, label);
	assert_int_equal(wf_dns_name_from_text(name, wire, true), 255);
}

static void test_name_escapes(void **state)
{
	const uint8_t wire[] = {3, 'a', '.', 0x01, 0};
	char text[64];

	assert_true(wf_dns_name_to_text(wire, sizeof(wire), text, sizeof(text)) > 0);
	assert_string_equal(text, "a\\046\\001.");
}

static void test_name_lower_all_bytes(void **state)
{
	/* the 8-bytes-at-a-time fold must equal a byte-wise tolower of ASCII, at every offset */
	uint8_t buf[256 + 7], want[256 + 7];

	for (size_t shift = 0; shift < 8; shift++) {
		for (unsigned i = 0; i < 256; i++) {
			buf[shift + i] = (uint8_t)i;
			want[shift + i] = (i >= 'A' && i <= 'Z') ? (uint8_t)(i | 0x20) : (uint8_t)i;
		}
		wf_dns_name_lower(buf + shift, 256);
		assert_memory_equal(buf + shift, want + shift, 256);
	}
}

static void test_parse_query_basic(void **state)
{
	uint8_t pkt[512];
	struct wf_dns_query q;
	int n = wf_dns_wire_build_query(pkt, 0xbeef, "WEB.default.svc.Cluster.Local", 1, true, 0);

	assert_true(n > 0);
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	assert_int_equal(q.rcode, WF_DNS_R_NOERROR);
	assert_int_equal(q.id, 0xbeef);
	assert_true(q.has_question);
	assert_int_equal(q.qtype, WF_DNS_T_A);
	assert_int_equal(q.qclass, WF_DNS_C_IN);
	assert_int_equal(q.nlabels, 5);
	assert_false(q.edns);
	assert_int_equal(q.udp_size, 512);
	assert_memory_equal(q.qname_lc, "\003web\007default\003svc\007cluster\005local\000", 31);
	assert_int_equal(q.label_off[1], 4);
	assert_int_equal(q.question_end, (size_t)n);
	assert_int_equal(wf_dns_wire_udp_limit(&q, 1232), 512);
}

static void test_parse_query_edns(void **state)
{
	uint8_t pkt[512];
	struct wf_dns_query q;
	int n = wf_dns_wire_build_query(pkt, 1, "a.b", 28, false, 4096);

	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	assert_true(q.edns);
	assert_int_equal(q.udp_size, 4096);
	assert_int_equal(wf_dns_wire_udp_limit(&q, 1232), 1232);
	/* tiny advertised size is raised to 512 (RFC 6891 6.2.5) */
	wf_dns_put16(pkt + n - 11 + 3, 100);
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	assert_int_equal(wf_dns_wire_udp_limit(&q, 1232), 512);
	/* version 1: BADVERS */
	pkt[n - 11 + 6] = 1;
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	assert_int_equal(q.rcode, WF_DNS_R_BADVERS);
	uint8_t out[512];
	size_t l = wf_dns_wire_error(&q, q.rcode, 0, out, 1232);
	char text[1024];
	wf_dns_dump(out, l, text, sizeof(text));
	assert_non_null(strstr(text, "rcode BADVERS"));
	/* two OPT records: FORMERR */
	pkt[n - 11 + 6] = 0;
	memcpy(pkt + n, pkt + n - 11, 11);
	wf_dns_put16(pkt + 10, 2);
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n + 11, &q), 0);
	assert_int_equal(q.rcode, WF_DNS_R_FORMERR);
}

static void test_parse_query_malformed(void **state)
{
	uint8_t pkt[512];
	struct wf_dns_query q;
	int n = wf_dns_wire_build_query(pkt, 7, "x.y", 1, true, 0);

	/* short: dropped */
	assert_int_equal(wf_dns_wire_parse_query(pkt, 11, &q), -WF_E_PARSE);
	/* a response: dropped, never answered */
	pkt[2] |= 0x80;
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), -WF_E_PARSE);
	pkt[2] &= 0x7f;
	/* truncated question: FORMERR without question echo */
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n - 3, &q), 0);
	assert_int_equal(q.rcode, WF_DNS_R_FORMERR);
	assert_false(q.has_question);
	uint8_t out[512];
	size_t l = wf_dns_wire_error(&q, q.rcode, 0, out, 1232);
	assert_int_equal(l, 12);
	assert_int_equal(out[3] & 0xf, WF_DNS_R_FORMERR);
	assert_int_equal(wf_dns_get16(out + 4), 0);
	/* two questions: FORMERR */
	wf_dns_put16(pkt + 4, 2);
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	assert_int_equal(q.rcode, WF_DNS_R_FORMERR);
	wf_dns_put16(pkt + 4, 1);
	/* opcode 2 (STATUS): NOTIMP */
	pkt[2] |= 0x10;
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	assert_int_equal(q.rcode, WF_DNS_R_NOTIMP);
	pkt[2] &= (uint8_t)~0x10;
	/* compression pointer in the question: FORMERR */
	pkt[12] = 0xc0;
	pkt[13] = 12;
	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	assert_int_equal(q.rcode, WF_DNS_R_FORMERR);
}

static void test_read_name_compression(void **state)
{
	/* header, then "a.b" at 12, then a pointer to it, then a loop pointing forward */
	uint8_t msg[64] = {0};
	size_t off;
	uint8_t name[WF_DNS_MAX_NAME];

	memcpy(msg + 12, "\001A\001b\000", 5);
	msg[17] = 1;
	msg[18] = 'x';
	msg[19] = 0xc0;
	msg[20] = 12;
	off = 17;
	assert_int_equal(wf_dns_wire_read_name(msg, 21, &off, name), 7);
	assert_int_equal(off, 21);
	assert_memory_equal(name, "\001x\001a\001b\000", 7);
	/* pointer to itself: rejected */
	msg[21] = 0xc0;
	msg[22] = 21;
	off = 21;
	assert_int_equal(wf_dns_wire_read_name(msg, 23, &off, name), -WF_E_PARSE);
	/* pointer past the end of the message */
	msg[21] = 0xc0;
	msg[22] = 60;
	off = 21;
	assert_int_equal(wf_dns_wire_read_name(msg, 23, &off, name), -WF_E_PARSE);
	/* truncated pointer */
	off = 21;
	assert_int_equal(wf_dns_wire_read_name(msg, 22, &off, name), -WF_E_PARSE);
}

static void test_begin_finish_echo_case(void **state)
{
	uint8_t pkt[512], out[512];
	struct wf_dns_query q;
	int n = wf_dns_wire_build_query(pkt, 42, "MiXeD.Case", 1, true, 1232);

	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	size_t off = wf_dns_wire_begin(&q, out, WF_DNS_F_AA);
	assert_int_equal(off, q.question_end);
	assert_memory_equal(out + 12, "\005MiXeD\004Case", 11);
	size_t len = wf_dns_wire_finish(&q, out, off, WF_DNS_R_NXDOMAIN, 0, 0, 1232);
	assert_int_equal(len, off + 11);
	assert_int_equal(wf_dns_get16(out), 42);
	assert_int_equal(out[2] & 0x80, 0x80); /* QR */
	assert_int_equal(out[2] & 0x04, 0x04); /* AA */
	assert_int_equal(out[2] & 0x01, 0x01); /* RD copied */
	assert_int_equal(out[3] & 0x0f, 3);
	assert_int_equal(wf_dns_get16(out + 10), 1);
}

static void test_upstream_parse_and_relay(void **state)
{
	/* An upstream answer with two A records (compressed owners) and an OPT. */
	uint8_t pkt[512], up[512], out[512];
	struct wf_dns_query q;
	struct wf_dns_upstream_msg m;
	int n = wf_dns_wire_build_query(pkt, 9, "Example.ORG", 1, true, 0);
	size_t off;

	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	memset(up, 0, sizeof(up));
	wf_dns_put16(up, 0x7777);
	wf_dns_put16(up + 2, 0x8180);
	wf_dns_put16(up + 4, 1);
	wf_dns_put16(up + 6, 2);
	wf_dns_put16(up + 10, 1);
	memcpy(up + 12, "\007example\003org\000\000\001\000\001", 17);
	off = 29;
	for (int i = 0; i < 2; i++) {
		const uint8_t rr[] = {0xc0, 12,
				      0,    1,
				      0,    1,
				      0,    0,
				      0,    (uint8_t)(60 + i * 40),
				      0,    4,
				      192,  0,
				      2,    (uint8_t)(1 + i)};
		memcpy(up + off, rr, sizeof(rr));
		off += sizeof(rr);
	}
	const uint8_t opt[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
	memcpy(up + off, opt, sizeof(opt));
	off += sizeof(opt);
	assert_int_equal(wf_dns_upstream_parse(up, off, q.qname_lc, q.qname_len, 1, 1, 3600, &m),
			 0);
	assert_int_equal(m.an, 2);
	assert_int_equal(m.ar, 0);
	assert_int_equal(m.ttl, 60);
	assert_int_equal(m.n_ttls, 2);
	size_t l = wf_dns_relay(&q, up, &m, 10, out, 512);
	char text[2048];
	wf_dns_dump(out, l, text, sizeof(text));
	assert_int_equal(wf_dns_get16(out), 9);
	assert_non_null(strstr(text, "Example.ORG. 50 IN A 192.0.2.1"));
	assert_non_null(strstr(text, "Example.ORG. 90 IN A 192.0.2.2"));
	assert_null(strstr(text, "OPT")); /* the client sent none */
	/* the wrong question is rejected */
	up[13] = 'x';
	assert_int_equal(wf_dns_upstream_parse(up, off, q.qname_lc, q.qname_len, 1, 1, 3600, &m),
			 -WF_E_PARSE);
	up[13] = 'e';
	/* a record running past the end is rejected */
	assert_int_equal(
		wf_dns_upstream_parse(up, off - 13, q.qname_lc, q.qname_len, 1, 1, 3600, &m),
		-WF_E_PARSE);
}

static void test_cache_ttl_and_negative(void **state)
{
	uint8_t pkt[512], up[512], out[512];
	struct wf_dns_query q;
	struct wf_dns_upstream_msg m;
	struct wf_dns_cache *c;
	int n = wf_dns_wire_build_query(pkt, 1, "nx.example", 1, true, 1232);

	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &q), 0);
	/* NXDOMAIN with an SOA whose TTL is 300 and MINIMUM 20: cached 20 s (RFC 2308 5) */
	memset(up, 0, sizeof(up));
	wf_dns_put16(up, 5);
	wf_dns_put16(up + 2, 0x8183);
	wf_dns_put16(up + 4, 1);
	wf_dns_put16(up + 8, 1);
	memcpy(up + 12, "\002nx\007example\000\000\001\000\001", 16);
	size_t off = 28;
	const uint8_t soa[] = {0xc0, 15, 0, 6,	 0,    1,  0, 0, 1, 44, 0, 28, 1, 'n',
			       0xc0, 15, 1, 'h', 0xc0, 15, 0, 0, 0, 1,	0, 0,  0, 2,
			       0,    0,	 0, 3,	 0,    0,  0, 4, 0, 0,	0, 20};
	memcpy(up + off, soa, sizeof(soa));
	off += sizeof(soa);
	assert_int_equal(wf_dns_upstream_parse(up, off, q.qname_lc, q.qname_len, 1, 1, 3600, &m),
			 0);
	assert_int_equal(m.ttl, 20);
	assert_int_equal(wf_dns_cache_new(64, &c), 0);
	assert_int_equal(wf_dns_cache_answer(c, &q, 1000, out, 512), 0);
	assert_int_equal(wf_dns_cache_put(c, &q, up, &m, 1000), 0);
	assert_int_equal(wf_dns_cache_count(c), 1);
	size_t l = wf_dns_cache_answer(c, &q, 6000, out, 512);
	assert_true(l > 0);
	assert_int_equal(out[3] & 0xf, WF_DNS_R_NXDOMAIN);
	char text[2048];
	wf_dns_dump(out, l, text, sizeof(text));
	assert_non_null(strstr(text, "example. 295 IN SOA")); /* 300 - 5 s in cache */
	assert_non_null(strstr(text, "; OPT udp=1232"));
	/* expired after 20 s */
	assert_int_equal(wf_dns_cache_answer(c, &q, 21000, out, 512), 0);
	assert_int_equal(wf_dns_cache_count(c), 0);
	wf_dns_cache_free(c);
}

/* Builds an upstream NXDOMAIN answer to "nx.example" A whose SOA serial is serial. */
static size_t nx_answer(uint8_t *up, uint32_t serial)
{
	const uint8_t soa[] = {0xc0, 15, 0, 6,	 0,    1,  0, 0, 1, 44, 0, 28, 1, 'n',
			       0xc0, 15, 1, 'h', 0xc0, 15, 0, 0, 0, 1,	0, 0,  0, 2,
			       0,    0,	 0, 3,	 0,    0,  0, 4, 0, 0,	0, 20};
	memset(up, 0, 512);
	wf_dns_put16(up, 5);
	wf_dns_put16(up + 2, 0x8183);
	wf_dns_put16(up + 4, 1);
	wf_dns_put16(up + 8, 1);
	memcpy(up + 12, "\002nx\007example\000\000\001\000\001", 16);
	memcpy(up + 28, soa, sizeof(soa));
	wf_dns_put32(up + 28 + 20, serial); /* SOA: owner, type, class, TTL, RDLENGTH, 2 names */
	return 28 + sizeof(soa);
}

struct cache_race {
	struct wf_dns_cache *c;
	struct wf_dns_query q;
	atomic_bool stop;
	atomic_ulong hits, bad;
};

/* A worker: answers from the cache as a server worker does, inside its QSBR read side. */
static void *cache_reader(void *arg)
{
	struct cache_race *r = arg;
	uint8_t out[512];

	urcu_qsbr_register_thread();
	while (!atomic_load(&r->stop)) {
		size_t l = wf_dns_cache_answer(r->c, &r->q, 2000, out, sizeof(out));
		if (l) {
			uint32_t serial = wf_dns_get32(out + l - 11 - 20);
			atomic_fetch_add(&r->hits, 1);
			/* a torn or freed entry would show as another rcode or a serial never put */
			if ((out[3] & 0xf) != WF_DNS_R_NXDOMAIN || serial < 1000 ||
			    serial > 1000000)
				atomic_fetch_add(&r->bad, 1);
		}
		urcu_qsbr_quiescent_state();
	}
	urcu_qsbr_unregister_thread();
	return NULL;
}

/* Lookups take no lock while another thread keeps replacing the entry they read: the entry
 * they hold must stay whole until they pass a quiescent state (ASan reports a use after free
 * otherwise). */
static void test_cache_lockfree_readers(void **state)
{
	static struct cache_race r;
	uint8_t pkt[512], up[512];
	struct wf_dns_upstream_msg m;
	pthread_t t[2];
	int n = wf_dns_wire_build_query(pkt, 1, "nx.example", 1, true, 1232);

	assert_int_equal(wf_dns_wire_parse_query(pkt, (size_t)n, &r.q), 0);
	assert_int_equal(wf_dns_cache_new(64, &r.c), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, cache_reader, &r), 0);
	for (uint32_t serial = 1000; serial < 21000; serial++) {
		size_t len = nx_answer(up, serial);
		assert_int_equal(
			wf_dns_upstream_parse(up, len, r.q.qname_lc, r.q.qname_len, 1, 1, 3600, &m),
			0);
		assert_int_equal(wf_dns_cache_put(r.c, &r.q, up, &m, 1000), 0);
		assert_int_equal(wf_dns_cache_count(r.c), 1); /* the same key is replaced */
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_true(atomic_load(&r.hits) > 0);
	assert_int_equal(atomic_load(&r.bad), 0);
	/* the last put is what a lookup sees */
	uint8_t out[512];
	size_t l = wf_dns_cache_answer(r.c, &r.q, 2000, out, sizeof(out));
	assert_true(l > 0);
	assert_int_equal(wf_dns_get32(out + l - 11 - 20), 20999);
	wf_dns_cache_free(r.c); /* waits for the replaced entries' frees */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_text_roundtrip),
		cmocka_unit_test(test_name_text_limits),
		cmocka_unit_test(test_name_escapes),
		cmocka_unit_test(test_name_lower_all_bytes),
		cmocka_unit_test(test_parse_query_basic),
		cmocka_unit_test(test_parse_query_edns),
		cmocka_unit_test(test_parse_query_malformed),
		cmocka_unit_test(test_read_name_compression),
		cmocka_unit_test(test_begin_finish_echo_case),
		cmocka_unit_test(test_upstream_parse_and_relay),
		cmocka_unit_test(test_cache_ttl_and_negative),
		cmocka_unit_test(test_cache_lockfree_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
