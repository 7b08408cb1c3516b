/* DNS wire codec (RFC 1035 4.1, RFC 6891). No allocation; every bound is checked against the
 * packet length before a byte is read. */
#include "dns/wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "lib/error.h"

static uint64_t name_seed = 0x6a09e667f3bcc909ULL;

/* Seeds the name hash once per process so that nobody can precompute colliding names. */
__attribute__((constructor)) static void name_seed_init(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == sizeof(s))
		name_seed ^= s;
}

static inline uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
}

uint64_t wf_dns_name_hash(const uint8_t *p, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = name_seed ^ (len * k);
	uint64_t v;

	while (len >= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * k;
		h ^= h >> 29;
		p += 8;
		len -= 8;
	}
	if (len) {
		v = 0;
		memcpy(&v, p, len);
		h = (h ^ v) * k;
		h ^= h >> 29;
	}
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/* Folds 8 bytes at once: sets 0x20 in every byte within 'A'..'Z' (SWAR). */
static inline uint64_t lower8(uint64_t v)
{
	const uint64_t h = 0x8080808080808080ULL;
	uint64_t seven = v & ~h;
	uint64_t ge_a = seven + 0x3f3f3f3f3f3f3f3fULL; /* bit 7 set when byte >= 'A' */
	uint64_t gt_z = seven + 0x2525252525252525ULL; /* bit 7 set when byte > 'Z' */

	return v | ((ge_a & ~gt_z & ~v & h) >> 2);
}

void wf_dns_name_lower(uint8_t *wire, size_t len)
{
	/* Length bytes are at most 63, below 'A' (65): folding every byte leaves them alone, so
	 * there is no need to walk the labels. */
	size_t i = 0;
	uint64_t v;

	for (; i + 8 <= len; i += 8) {
		memcpy(&v, wire + i, 8);
		v = lower8(v);
		memcpy(wire + i, &v, 8);
	}
	for (; i < len; i++)
		wire[i] = lower(wire[i]);
}

int wf_dns_name_from_text(const char *text, uint8_t *buf, bool lo)
{
	size_t n = 0;
	const char *p = text;

	if (p[0] == '.' && p[1] == '\0') {
		buf[0] = 0;
		return 1;
	}
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > WF_DNS_MAX_LABEL || n + 1 + l + 1 > WF_DNS_MAX_NAME)
			return -WF_E_INVALID;
		buf[n++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++)
			buf[n++] = lo ? lower((uint8_t)p[i]) : (uint8_t)p[i];
		if (!dot)
			break;
		p = dot + 1;
	}
	buf[n++] = 0;
	return (int)n;
}

int wf_dns_name_to_text(const uint8_t *wire, size_t len, char *buf, size_t cap)
{
	size_t off = 0, n = 0;

	if (cap < 2)
		return -WF_E_INVALID;
	while (off < len && wire[off]) {
		uint8_t l = wire[off++];
		if (l > WF_DNS_MAX_LABEL || off + l > len)
			return -WF_E_INVALID;
		for (size_t i = 0; i < l; i++) {
			uint8_t c = wire[off + i];
			bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
			if (n + 5 >= cap)
				return -WF_E_INVALID;
			if (plain)
				buf[n++] = (char)c;
			else
				n += (size_t)snprintf(buf + n, cap - n, "\\%03u", c);
		}
		off += l;
		if (n + 2 >= cap)
			return -WF_E_INVALID;
		buf[n++] = '.';
	}
	if (n == 0)
		buf[n++] = '.';
	buf[n] = '\0';
	return (int)n;
}

int wf_dns_wire_read_name(const uint8_t *msg, size_t len, size_t *off, uint8_t *buf)
{
	size_t pos = *off, end = 0, n = 0;
	bool jumped = false;
	unsigned hops = 0;

	for (;;) {
		if (pos >= len)
			return -WF_E_PARSE;
		uint8_t l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			/* RFC 1035 4.1.4: a pointer; it must point backwards, which also rules out
			 * loops, and we bound the hops anyway. */
			if (pos + 1 >= len)
				return -WF_E_PARSE;
			size_t target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			if (target >= pos || ++hops > WF_DNS_MAX_LABELS)
				return -WF_E_PARSE;
			if (!jumped) {
				end = pos + 2;
				jumped = true;
			}
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return -WF_E_PARSE; /* RFC 6891 5: extended label types are gone */
		if (n + 1 + l > WF_DNS_MAX_NAME || pos + 1 + l > len)
			return -WF_E_PARSE;
		if (buf) {
			buf[n] = l;
			for (size_t i = 0; i < l; i++)
				buf[n + 1 + i] = lower(msg[pos + 1 + i]);
		}
		n += 1 + (size_t)l;
		pos += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	*off = jumped ? end : pos;
	return (int)n;
}

int wf_dns_wire_skip_rr(const uint8_t *msg, size_t len, size_t *off, size_t *ret_ttl_off,
			uint16_t *ret_type)
{
	size_t pos = *off;

	if (wf_dns_wire_read_name(msg, len, &pos, NULL) < 0)
		return -WF_E_PARSE;
	if (pos + 10 > len)
		return -WF_E_PARSE;
	size_t rdlen = wf_dns_get16(msg + pos + 8);
	if (pos + 10 + rdlen > len)
		return -WF_E_PARSE;
	if (ret_ttl_off)
		*ret_ttl_off = pos + 4;
	if (ret_type)
		*ret_type = wf_dns_get16(msg + pos);
	*off = pos + 10 + rdlen;
	return 0;
}

int wf_dns_wire_parse_query(const uint8_t *pkt, size_t len, struct wf_dns_query *q)
{
	size_t off = WF_DNS_HDR_LEN, n = 0;
	unsigned qd, an, ns, ar;

	q->pkt = pkt;
	q->len = len;
	q->has_question = false;
	q->rcode = WF_DNS_R_NOERROR;
	q->edns = false;
	q->do_bit = false;
	q->udp_size = WF_DNS_UDP_DEFAULT;
	q->nlabels = 0;
	q->qname_len = 0;
	q->question_end = WF_DNS_HDR_LEN;
	q->qtype = 0;
	q->qclass = 0;
	q->id = 0;
	q->flags = 0;
	if (len < WF_DNS_HDR_LEN)
		return -WF_E_PARSE;
	q->id = wf_dns_get16(pkt);
	q->flags = wf_dns_get16(pkt + 2);
	/* Never answer a response: two servers would bounce errors at each other forever. */
	if (q->flags & WF_DNS_F_QR)
		return -WF_E_PARSE;
	qd = wf_dns_get16(pkt + 4);
	an = wf_dns_get16(pkt + 6);
	ns = wf_dns_get16(pkt + 8);
	ar = wf_dns_get16(pkt + 10);
	if ((q->flags & WF_DNS_F_OPCODE) != 0) {
		q->rcode = WF_DNS_R_NOTIMP; /* RFC 1035 4.1.1: only QUERY */
		return 0;
	}
	if (qd != 1)
		goto formerr;

	/* RFC 1035 4.1.2: the question name. A pointer here could only point into the header.
	 * Walk the length bytes first, then copy and fold the whole name at once. */
	for (;;) {
		if (off >= len)
			goto formerr;
		uint8_t l = pkt[off];
		if (l == 0) {
			n++;
			off++;
			break;
		}
		if (l > WF_DNS_MAX_LABEL || n + 1 + l + 1 > WF_DNS_MAX_NAME || off + 1 + l > len)
			goto formerr;
		q->label_off[q->nlabels++] = (uint8_t)n;
		n += 1 + (size_t)l;
		off += 1 + (size_t)l;
	}
	memcpy(q->qname_lc, pkt + WF_DNS_HDR_LEN, n);
	wf_dns_name_lower(q->qname_lc, n);
	if (off + 4 > len)
		goto formerr;
	q->qtype = wf_dns_get16(pkt + off);
	q->qclass = wf_dns_get16(pkt + off + 2);
	off += 4;
	q->qname_len = (uint8_t)n;
	q->question_end = (uint16_t)off;
	q->has_question = true;

	for (unsigned i = 0; i < an + ns; i++)
		if (wf_dns_wire_skip_rr(pkt, len, &off, NULL, NULL) < 0)
			goto formerr;
	for (unsigned i = 0; i < ar; i++) {
		size_t start = off, ttl_off;
		uint16_t type;

		if (wf_dns_wire_skip_rr(pkt, len, &off, &ttl_off, &type) < 0)
			goto formerr;
		if (type != WF_DNS_T_OPT)
			continue;
		/* RFC 6891 6.1.1: one OPT, owned by the root. */
		if (q->edns || pkt[start] != 0)
			goto formerr;
		q->edns = true;
		q->udp_size = wf_dns_get16(pkt + ttl_off - 2);
		if (q->udp_size < WF_DNS_UDP_DEFAULT)
			q->udp_size = WF_DNS_UDP_DEFAULT;
		q->do_bit = (pkt[ttl_off + 2] & 0x80) != 0;
		if (pkt[ttl_off + 1] != 0)
			q->rcode = WF_DNS_R_BADVERS; /* RFC 6891 6.1.3 */
	}
	return 0;

formerr:
	q->rcode = WF_DNS_R_FORMERR;
	return 0;
}

size_t wf_dns_wire_udp_limit(const struct wf_dns_query *q, size_t cap)
{
	size_t s = q->edns ? q->udp_size : WF_DNS_UDP_DEFAULT;

	if (cap < WF_DNS_UDP_DEFAULT)
		cap = WF_DNS_UDP_DEFAULT;
	return s < cap ? s : cap;
}

size_t wf_dns_wire_begin(const struct wf_dns_query *q, uint8_t *out, uint16_t flags)
{
	uint16_t f =
		WF_DNS_F_QR | (q->flags & (WF_DNS_F_OPCODE | WF_DNS_F_RD | WF_DNS_F_CD)) | flags;

	wf_dns_put16(out, q->id);
	wf_dns_put16(out + 2, f);
	memset(out + 4, 0, 8);
	if (!q->has_question)
		return WF_DNS_HDR_LEN;
	wf_dns_put16(out + 4, 1);
	/* The question exactly as asked: the requester's case is echoed (RFC 4343 4.1). */
	memcpy(out + WF_DNS_HDR_LEN, q->pkt + WF_DNS_HDR_LEN,
	       (size_t)q->question_end - WF_DNS_HDR_LEN);
	return q->question_end;
}

size_t wf_dns_wire_finish(const struct wf_dns_query *q, uint8_t *out, size_t len, uint8_t rcode,
			  uint16_t ancount, uint16_t nscount, uint16_t edns_size)
{
	out[3] = (uint8_t)((out[3] & 0xf0) | (rcode & 0x0f));
	wf_dns_put16(out + 6, ancount);
	wf_dns_put16(out + 8, nscount);
	wf_dns_put16(out + 10, 0);
	if (q->edns) {
		/* RFC 6891 6.1.2/6.1.3: root owner, our payload size, extended rcode, version 0,
		 * no flags (we do not sign, so DO stays clear), no options. */
		uint8_t *o = out + len;
		o[0] = 0;
		wf_dns_put16(o + 1, WF_DNS_T_OPT);
		wf_dns_put16(o + 3, edns_size);
		o[5] = (uint8_t)(rcode >> 4);
		o[6] = 0;
		o[7] = 0;
		o[8] = 0;
		wf_dns_put16(o + 9, 0);
		wf_dns_put16(out + 10, 1);
		len += 11;
	}
	return len;
}

size_t wf_dns_wire_error(const struct wf_dns_query *q, uint8_t rcode, uint16_t extra_flags,
			 uint8_t *out, uint16_t edns_size)
{
	struct wf_dns_query tmp;
	size_t len;

	if (rcode == WF_DNS_R_NOTIMP || (rcode == WF_DNS_R_FORMERR && !q->has_question)) {
		/* Echo nothing we could not parse. */
		tmp = *q;
		tmp.has_question = false;
		q = &tmp;
	}
	if (rcode > 15 && !q->edns)
		rcode = WF_DNS_R_FORMERR;
	len = wf_dns_wire_begin(q, out, extra_flags);
	return wf_dns_wire_finish(q, out, len, rcode, 0, 0, edns_size);
}

int wf_dns_wire_build_query(uint8_t *buf, uint16_t id, const char *name, uint16_t type, bool rd,
			    uint16_t edns_size)
{
	int n = wf_dns_name_from_text(name, buf + WF_DNS_HDR_LEN, false);
	size_t off;

	if (n < 0)
		return n;
	memset(buf, 0, WF_DNS_HDR_LEN);
	wf_dns_put16(buf, id);
	wf_dns_put16(buf + 2, rd ? WF_DNS_F_RD : 0);
	wf_dns_put16(buf + 4, 1);
	off = WF_DNS_HDR_LEN + (size_t)n;
	wf_dns_put16(buf + off, type);
	wf_dns_put16(buf + off + 2, WF_DNS_C_IN);
	off += 4;
	if (edns_size) {
		wf_dns_put16(buf + 10, 1);
		buf[off] = 0;
		wf_dns_put16(buf + off + 1, WF_DNS_T_OPT);
		wf_dns_put16(buf + off + 3, edns_size);
		memset(buf + off + 5, 0, 6);
		off += 11;
	}
	return (int)off;
}
