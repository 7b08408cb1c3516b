/* DNS wire codec: query parsing, name conversion, response assembly. Pure functions,
 * thread-safe, no allocation: everything works on caller buffers, so the server's hot path
 * can call it per packet. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dns/wire-types.h"

/* Parses a query (RFC 1035 4.1). Returns 0 when the packet deserves an answer — ret->rcode
 * then says whether it is a normal query (NOERROR) or must be answered with an error
 * (FORMERR, NOTIMP, BADVERS) — or -WF_E_PARSE when it must be dropped silently (shorter than
 * a header, or a response). ret is filled in either case; it borrows pkt. */
int wf_dns_wire_parse_query(const uint8_t *pkt, size_t len, struct wf_dns_query *ret);

/* Largest answer the requester accepts over UDP: 512 without EDNS, else its payload size
 * clamped to [512, cap] (RFC 6891 6.2.5). */
size_t wf_dns_wire_udp_limit(const struct wf_dns_query *q, size_t cap);

/* Converts presentation text ("web.default.svc.cluster.local", trailing dot optional, no
 * escapes) to wire form, lower-cased when lower is true. Returns the wire length or
 * -WF_E_INVALID (empty label, label > 63, name > 255). buf holds WF_DNS_MAX_NAME. */
int wf_dns_name_from_text(const char *text, uint8_t *buf, bool lower);
/* Converts wire form to presentation text with a trailing dot; bytes outside [-_a-zA-Z0-9]
 * become \DDD (RFC 1035 5.1). Returns text length or -WF_E_INVALID; buf holds 1024. */
int wf_dns_name_to_text(const uint8_t *wire, size_t len, char *buf, size_t cap);
/* Lower-cases ASCII letters of a wire-form name in place (labels lengths are untouched). */
void wf_dns_name_lower(uint8_t *wire, size_t len);
/* Hash of a lower-cased wire-form name; the same function keys the zone and the cache. */
uint64_t wf_dns_name_hash(const uint8_t *wire, size_t len);

/* Writes a response header plus the echoed question (with the requester's spelling) and an
 * optional OPT record reserved at the end. Returns the offset where answer records go. The
 * caller then appends records and calls wf_dns_wire_finish. cap must be >= q->question_end
 * + 11. */
size_t wf_dns_wire_begin(const struct wf_dns_query *q, uint8_t *out, uint16_t flags);
/* Sets rcode and counts, appends the OPT record when the query had one (RFC 6891 6.1.1;
 * payload size advertised = edns_size). Returns the final length. */
size_t wf_dns_wire_finish(const struct wf_dns_query *q, uint8_t *out, size_t len, uint8_t rcode,
			  uint16_t ancount, uint16_t nscount, uint16_t edns_size);
/* A complete error response (FORMERR, SERVFAIL, REFUSED, NOTIMP, BADVERS) without records.
 * Echoes the question when it was parsed. Returns the length (cap >= 512 always suffices). */
size_t wf_dns_wire_error(const struct wf_dns_query *q, uint8_t rcode, uint16_t extra_flags,
			 uint8_t *out, uint16_t edns_size);

/* Reads a possibly compressed name at *off in msg (RFC 1035 4.1.4) and advances *off past it.
 * Writes the expanded lower-cased wire form to buf (WF_DNS_MAX_NAME bytes) when non-NULL.
 * Returns the wire length or -WF_E_PARSE (loops, forward pointers, overruns). */
int wf_dns_wire_read_name(const uint8_t *msg, size_t len, size_t *off, uint8_t *buf);
/* Skips one resource record at *off (name, fixed fields and RDATA). Returns 0 or -WF_E_PARSE;
 * ret_ttl_off (optional) gets the offset of its TTL field, ret_type its type. */
int wf_dns_wire_skip_rr(const uint8_t *msg, size_t len, size_t *off, size_t *ret_ttl_off,
			uint16_t *ret_type);

static inline uint16_t wf_dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t wf_dns_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wf_dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}
static inline void wf_dns_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* Builds a query for name (presentation text, case kept) and type, class IN, with RD when rd
 * is set and an OPT record advertising edns_size when it is non-zero. buf holds 512. Returns
 * the length or -WF_E_INVALID (bad name). For clients: tests, benchmarks, probes. */
int wf_dns_wire_build_query(uint8_t *buf, uint16_t id, const char *name, uint16_t type, bool rd,
			    uint16_t edns_size);
