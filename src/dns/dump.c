/* DNS message to text (RFC 1035 5.1 presentation format for the types weft serves). */
#include "dns/dump.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dns/wire.h"

struct out {
	char *buf;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->cap == 0 || o->len >= o->cap - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

static const char *type_name(uint16_t t, char *buf)
{
	switch (t) {
	case WF_DNS_T_A:
		return "A";
	case WF_DNS_T_NS:
		return "NS";
	case WF_DNS_T_CNAME:
		return "CNAME";
	case WF_DNS_T_SOA:
		return "SOA";
	case WF_DNS_T_PTR:
		return "PTR";
	case WF_DNS_T_MX:
		return "MX";
	case WF_DNS_T_TXT:
		return "TXT";
	case WF_DNS_T_AAAA:
		return "AAAA";
	case WF_DNS_T_SRV:
		return "SRV";
	case WF_DNS_T_OPT:
		return "OPT";
	case WF_DNS_T_ANY:
		return "ANY";
	default:
		snprintf(buf, 16, "TYPE%u", t); /* RFC 3597 5 */
		return buf;
	}
}

static const char *rcode_name(unsigned rc)
{
	static const char *const n[] = {"NOERROR",  "FORMERR", "SERVFAIL",
					"NXDOMAIN", "NOTIMP",  "REFUSED"};
	return rc < 6 ? n[rc] : "RCODE?";
}

/* A name at *off, printed with the message's own case (compression followed). */
static bool name(struct out *o, const uint8_t *msg, size_t len, size_t *off)
{
	uint8_t wire[WF_DNS_MAX_NAME];
	char text[1100];
	size_t pos = *off, n = 0;
	unsigned hops = 0;
	bool jumped = false;

	/* like wf_dns_wire_read_name, but keeping case */
	for (;;) {
		if (pos >= len)
			return false;
		uint8_t l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return false;
			size_t t = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			if (t >= pos || ++hops > 128)
				return false;
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = t;
			continue;
		}
		if (l > 63 || n + 1 + l > WF_DNS_MAX_NAME || pos + 1 + l > len)
			return false;
		memcpy(wire + n, msg + pos, 1 + (size_t)l);
		n += 1 + (size_t)l;
		pos += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	if (!jumped)
		*off = pos;
	if (wf_dns_name_to_text(wire, n, text, sizeof(text)) < 0)
		return false;
	put(o, "%s", text);
	return true;
}

static bool rdata(struct out *o, const uint8_t *msg, size_t len, uint16_t type, size_t off,
		  size_t rdlen)
{
	char ip[INET6_ADDRSTRLEN];
	size_t end = off + rdlen, p = off;

	switch (type) {
	case WF_DNS_T_A:
	case WF_DNS_T_AAAA:
		if (rdlen != (type == WF_DNS_T_A ? 4u : 16u))
			return false;
		inet_ntop(type == WF_DNS_T_A ? AF_INET : AF_INET6, msg + off, ip, sizeof(ip));
		put(o, "%s", ip);
		return true;
	case WF_DNS_T_NS:
	case WF_DNS_T_CNAME:
	case WF_DNS_T_PTR:
		return name(o, msg, end, &p) && p == end;
	case WF_DNS_T_SRV:
		if (rdlen < 7)
			return false;
		put(o, "%u %u %u ", wf_dns_get16(msg + off), wf_dns_get16(msg + off + 2),
		    wf_dns_get16(msg + off + 4));
		p = off + 6;
		return name(o, msg, end, &p) && p == end;
	case WF_DNS_T_SOA:
		if (!name(o, msg, end, &p))
			return false;
		put(o, " ");
		if (!name(o, msg, end, &p) || end - p != 20)
			return false;
		put(o, " %u %u %u %u %u", wf_dns_get32(msg + p), wf_dns_get32(msg + p + 4),
		    wf_dns_get32(msg + p + 8), wf_dns_get32(msg + p + 12),
		    wf_dns_get32(msg + p + 16));
		return true;
	case WF_DNS_T_TXT:
		while (p < end) {
			size_t l = msg[p];
			if (p + 1 + l > end)
				return false;
			put(o, "%s\"", p == off ? "" : " ");
			for (size_t i = 0; i < l; i++) {
				uint8_t c = msg[p + 1 + i];
				if (c == '"' || c == '\\')
					put(o, "\\%c", c);
				else if (c < 32 || c > 126)
					put(o, "\\%03u", c);
				else
					put(o, "%c", c);
			}
			put(o, "\"");
			p += 1 + l;
		}
		return true;
	default:
		put(o, "\\# %zu ", rdlen); /* RFC 3597 5 */
		for (size_t i = 0; i < rdlen; i++)
			put(o, "%02x", msg[off + i]);
		return true;
	}
}

size_t wf_dns_dump(const uint8_t *msg, size_t len, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};
	static const char *const sections[] = {"QUESTION", "ANSWER", "AUTHORITY", "ADDITIONAL"};
	static const struct {
		uint16_t bit;
		const char *name;
	} flags[] = {{WF_DNS_F_QR, "qr"}, {WF_DNS_F_AA, "aa"}, {WF_DNS_F_TC, "tc"},
		     {WF_DNS_F_RD, "rd"}, {WF_DNS_F_RA, "ra"}, {WF_DNS_F_AD, "ad"},
		     {WF_DNS_F_CD, "cd"}};
	size_t off = WF_DNS_HDR_LEN;
	unsigned ext_rcode = 0;
	char tbuf[16];

	if (cap)
		buf[0] = '\0';
	if (len < WF_DNS_HDR_LEN) {
		put(&o, "; malformed at offset 0\n");
		return o.len;
	}
	uint16_t f = wf_dns_get16(msg + 2);
	unsigned counts[4] = {wf_dns_get16(msg + 4), wf_dns_get16(msg + 6), wf_dns_get16(msg + 8),
			      wf_dns_get16(msg + 10)};
	/* the extended rcode lives in OPT: find it first (RFC 6891 6.1.3) */
	{
		size_t p = WF_DNS_HDR_LEN, ttl_off;
		uint16_t type;
		bool ok = true;
		for (unsigned i = 0; i < counts[0] && ok; i++) {
			ok = wf_dns_wire_read_name(msg, len, &p, NULL) >= 0 && p + 4 <= len;
			p += 4;
		}
		for (unsigned i = 0; ok && i < counts[1] + counts[2] + counts[3]; i++) {
			ok = wf_dns_wire_skip_rr(msg, len, &p, &ttl_off, &type) == 0;
			if (ok && type == WF_DNS_T_OPT)
				ext_rcode = (unsigned)msg[ttl_off] << 4;
		}
	}
	unsigned rc = ext_rcode | (f & WF_DNS_F_RCODE);
	put(&o, ";; opcode %u, rcode %s, flags:", (f & WF_DNS_F_OPCODE) >> 11,
	    rc == 16 ? "BADVERS" : rcode_name(rc));
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (f & flags[i].bit)
			put(&o, " %s", flags[i].name);
	put(&o, "; QUERY %u, ANSWER %u, AUTHORITY %u, ADDITIONAL %u\n", counts[0], counts[1],
	    counts[2], counts[3]);
	for (unsigned s = 0; s < 4; s++) {
		if (counts[s])
			put(&o, ";; %s\n", sections[s]);
		for (unsigned i = 0; i < counts[s]; i++) {
			if (s == 0) {
				put(&o, ";");
				if (!name(&o, msg, len, &off) || off + 4 > len)
					goto malformed;
				put(&o, " %s %s\n",
				    wf_dns_get16(msg + off + 2) == 1 ? "IN" : "CLASS?",
				    type_name(wf_dns_get16(msg + off), tbuf));
				off += 4;
				continue;
			}
			size_t start = o.len, noff = off;
			if (!name(&o, msg, len, &noff) || noff + 10 > len)
				goto malformed;
			uint16_t type = wf_dns_get16(msg + noff);
			uint16_t klass = wf_dns_get16(msg + noff + 2);
			uint32_t ttl = wf_dns_get32(msg + noff + 4);
			size_t rdlen = wf_dns_get16(msg + noff + 8);
			if (noff + 10 + rdlen > len)
				goto malformed;
			if (type == WF_DNS_T_OPT) {
				o.len = start;
				put(&o, "; OPT udp=%u version=%u flags=%04x rdlen=%zu\n", klass,
				    (ttl >> 16) & 0xff, ttl & 0xffff, rdlen);
			} else {
				put(&o, " %u %s %s ", ttl, klass == 1 ? "IN" : "CLASS?",
				    type_name(type, tbuf));
				if (!rdata(&o, msg, len, type, noff + 10, rdlen))
					goto malformed;
				put(&o, "\n");
			}
			off = noff + 10 + rdlen;
		}
	}
	if (off != len)
		put(&o, "; %zu trailing bytes\n", len - off);
	return o.len;

malformed:
	put(&o, "\n; malformed at offset %zu\n", off);
	return o.len;
}
