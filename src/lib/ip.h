/* IPv4/IPv6 addresses and CIDRs: parse, format, compare, contain, iterate. Pure functions,
 * thread-safe, no allocation. */
#pragma once
#include <stddef.h>

#include "lib/ip-types.h"

/* Parses a textual address (dotted quad or RFC 4291/5952 text). Returns 0 or -EINVAL. */
int wf_ip_parse(const char *s, struct wf_ip *ret);
/* Same for a counted string (not NUL-terminated). */
int wf_ip_parsen(const char *s, size_t len, struct wf_ip *ret);
/* Formats into buf (RFC 5952 for IPv6). Returns buf; buf must hold WF_IP_STRLEN. */
char *wf_ip_format(const struct wf_ip *ip, char *buf);
int wf_ip_cmp(const struct wf_ip *a, const struct wf_ip *b);
bool wf_ip_equal(const struct wf_ip *a, const struct wf_ip *b);
/* Address length in bytes: 4 or 16. */
unsigned wf_ip_len(const struct wf_ip *ip);
/* a + n (n may be negative); returns -ERANGE on overflow past the family's space. */
int wf_ip_add(const struct wf_ip *a, int64_t n, struct wf_ip *ret);
void wf_ip_from_in4(uint32_t be_addr, struct wf_ip *ret);
/* addr16: 16 bytes in network order (a struct in6_addr). */
void wf_ip_from_in6(const void *addr16, struct wf_ip *ret);

/* Parses "addr/prefix". With strict, host bits must be zero (-EINVAL otherwise), as Kubernetes
 * requires of podCIDRs and policy ipBlocks; without, host bits are kept in ip (as an interface
 * address like 10.0.0.1/24) - use wf_cidr_network() to clear them. */
int wf_cidr_parse(const char *s, bool strict, struct wf_cidr *ret);
char *wf_cidr_format(const struct wf_cidr *c, char *buf); /* WF_CIDR_STRLEN */
void wf_cidr_network(const struct wf_cidr *c, struct wf_ip *ret);
/* Last address of the block (broadcast for IPv4). */
void wf_cidr_last(const struct wf_cidr *c, struct wf_ip *ret);
bool wf_cidr_contains(const struct wf_cidr *c, const struct wf_ip *ip);
/* True when the two blocks share at least one address (false across families). */
bool wf_cidr_overlaps(const struct wf_cidr *a, const struct wf_cidr *b);
/* Number of addresses, saturated at UINT64_MAX. */
uint64_t wf_cidr_size(const struct wf_cidr *c);
/* The nth address of the block (0 = network address); -ERANGE past the end. */
int wf_cidr_nth(const struct wf_cidr *c, uint64_t n, struct wf_ip *ret);
/* Offset of ip inside c; -ERANGE when outside (or when the offset needs more than 64 bits). */
int wf_cidr_offset(const struct wf_cidr *c, const struct wf_ip *ip, uint64_t *ret);
