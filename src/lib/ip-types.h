#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 address. IPv4 occupies the first 4 bytes of addr (network order); the rest
 * are zero, so two wf_ip values compare equal with memcmp. */
struct wf_ip {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

struct wf_cidr {
	struct wf_ip ip; /* network address (host bits zero once normalised) */
	uint8_t prefix;
};

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" + NUL, and "/128" for a CIDR */
#define WF_IP_STRLEN 46
#define WF_CIDR_STRLEN 50
