/* DNS wire format: constants and the parsed form of a query (RFC 1035 4.1, RFC 6891). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WF_DNS_HDR_LEN 12
#define WF_DNS_MAX_NAME 255 /* RFC 1035 2.3.4, wire form including the root label */
#define WF_DNS_MAX_LABEL 63 /* RFC 1035 2.3.4 */
#define WF_DNS_MAX_LABELS 128
#define WF_DNS_UDP_DEFAULT 512 /* RFC 1035 4.2.1: without EDNS */
#define WF_DNS_EDNS_CAP 1232   /* DNS flag day 2020: default cap of UDP answers */
#define WF_DNS_MAX_MSG 65535

enum wf_dns_type {
	WF_DNS_T_A = 1,
	WF_DNS_T_NS = 2,
	WF_DNS_T_CNAME = 5,
	WF_DNS_T_SOA = 6,
	WF_DNS_T_PTR = 12,
	WF_DNS_T_MX = 15,
	WF_DNS_T_TXT = 16,
	WF_DNS_T_AAAA = 28,
	WF_DNS_T_SRV = 33,
	WF_DNS_T_OPT = 41,
	WF_DNS_T_IXFR = 251,
	WF_DNS_T_AXFR = 252,
	WF_DNS_T_ANY = 255,
};

enum {
	WF_DNS_C_IN = 1,
	WF_DNS_C_ANY = 255,
};

enum wf_dns_rcode {
	WF_DNS_R_NOERROR = 0,
	WF_DNS_R_FORMERR = 1,
	WF_DNS_R_SERVFAIL = 2,
	WF_DNS_R_NXDOMAIN = 3,
	WF_DNS_R_NOTIMP = 4,
	WF_DNS_R_REFUSED = 5,
	WF_DNS_R_BADVERS = 16, /* RFC 6891 9: extended, needs an OPT record */
};

/* Header flag bits (RFC 1035 4.1.1, RFC 4035 3.2). */
#define WF_DNS_F_QR 0x8000
#define WF_DNS_F_OPCODE 0x7800
#define WF_DNS_F_AA 0x0400
#define WF_DNS_F_TC 0x0200
#define WF_DNS_F_RD 0x0100
#define WF_DNS_F_RA 0x0080
#define WF_DNS_F_AD 0x0020
#define WF_DNS_F_CD 0x0010
#define WF_DNS_F_RCODE 0x000f

/* A parsed query. Points into the packet it was parsed from (borrowed); qname_lc is a
 * lower-cased copy of the question name in wire form, the key of every zone and cache
 * lookup. */
struct wf_dns_query {
	const uint8_t *pkt;
	size_t len;
	uint16_t id;
	uint16_t flags;
	uint16_t qtype;
	uint16_t qclass;
	bool has_question;     /* false: the question could not be parsed */
	uint8_t rcode;	       /* != NOERROR: answer with this error (FORMERR, NOTIMP, BADVERS) */
	uint8_t nlabels;       /* labels before the root */
	uint8_t qname_len;     /* wire length including the root label */
	uint16_t question_end; /* offset just past QTYPE/QCLASS */
	bool edns;	       /* an OPT record was present (RFC 6891) */
	bool do_bit;
	uint16_t udp_size;		      /* requester's payload size, >= 512 */
	uint8_t label_off[WF_DNS_MAX_LABELS]; /* offset of each label within qname_lc */
	uint8_t qname_lc[WF_DNS_MAX_NAME + 1];
};
