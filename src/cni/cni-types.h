/* weft-cni: configuration, environment, result and error types (CNI spec 1.0.0 / 1.1.0). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "lib/ip-types.h"

struct json_t; /* jansson */

#define WF_CNI_MAX_SETS 4   /* range sets (one address each) */
#define WF_CNI_MAX_RANGES 8 /* ranges per set */
#define WF_CNI_MAX_ROUTES 16
#define WF_CNI_MAX_PORTS 64
#define WF_CNI_MAX_IFACES 8
#define WF_CNI_MAX_RESULT_IPS 16
#define WF_CNI_ERRLEN 512

/* CNI spec "Error" codes (SPEC.md "Error"). */
enum {
	WF_CNI_E_VERSION = 1,	 /* incompatible CNI version */
	WF_CNI_E_FIELD = 2,	 /* unsupported field in network config */
	WF_CNI_E_UNKNOWN = 3,	 /* container unknown or does not exist */
	WF_CNI_E_ENV = 4,	 /* invalid or missing environment variables */
	WF_CNI_E_IO = 5,	 /* I/O failure */
	WF_CNI_E_DECODE = 6,	 /* failed to decode content */
	WF_CNI_E_CONFIG = 7,	 /* invalid network config */
	WF_CNI_E_AGAIN = 11,	 /* try again later */
	WF_CNI_E_NOT_AVAIL = 50, /* STATUS: plugin not available */
	WF_CNI_E_CHECK = 100,	 /* weft: CHECK found a difference */
	WF_CNI_E_INTERNAL = 999, /* libcni's "internal error", kernel or system failures */
};

enum wf_cni_cmd {
	WF_CNI_ADD,
	WF_CNI_DEL,
	WF_CNI_CHECK,
	WF_CNI_STATUS,
	WF_CNI_GC,
	WF_CNI_VERSION,
};

enum wf_cni_mode {
	WF_CNI_MODE_BRIDGE,
	WF_CNI_MODE_ROUTED,
};

/* The error a run ends with: printed as the spec's Error object. */
struct wf_cni_err {
	int code; /* 0: none */
	char msg[WF_CNI_ERRLEN];
	char details[WF_CNI_ERRLEN];
	char version[16]; /* the request's cniVersion, for the Error object; "" if unknown */
};

/* The CNI_* environment of one invocation (SPEC.md "Parameters"). Strings are borrowed from
 * the process environment. */
struct wf_cni_env {
	enum wf_cni_cmd cmd;
	const char *containerid;
	const char *netns;
	const char *ifname;
	const char *args;
	const char *path;
	/* from CNI_ARGS */
	struct wf_ip arg_ips[WF_CNI_MAX_SETS];
	unsigned n_arg_ips;
	const char *pod_ns, *pod_name; /* not NUL-terminated at ';' — use the lengths */
	unsigned pod_ns_len, pod_name_len;
};

/* host-local's "range" object. */
struct wf_cni_range {
	struct wf_cidr subnet; /* normalised network */
	struct wf_ip start, end;
	struct wf_ip gw; /* family 0: none */
};

struct wf_cni_rangeset {
	struct wf_cni_range r[WF_CNI_MAX_RANGES];
	unsigned n;
};

struct wf_cni_route {
	struct wf_cidr dst;
	struct wf_ip gw; /* family 0: none */
};

struct wf_cni_portmap {
	uint16_t host_port;
	uint16_t container_port;
	char proto[8];	      /* "tcp", "udp", "sctp" */
	struct wf_ip host_ip; /* family 0: any */
};

/* Bandwidth capability (CONVENTIONS.md): rates in bit/s, bursts in bits. */
struct wf_cni_bandwidth {
	uint64_t in_rate, in_burst, out_rate, out_burst;
};

/* One address of a result. */
struct wf_cni_ip {
	struct wf_ip ip;
	uint8_t prefix;
	struct wf_ip gw; /* family 0: none */
};

/* One interface of an ADD result. */
struct wf_cni_iface {
	char name[16];
	uint8_t mac[6];
	bool sandbox;
	unsigned mtu;
};

/* The parsed network configuration of one invocation. Owns root; every string and json_t
 * below is borrowed from root and valid until wf_cni_conf_done(). */
struct wf_cni_conf {
	struct json_t *root;
	const char *version; /* as given */
	unsigned vnum;	     /* major*10000 + minor*100 + patch */
	const char *name;
	const char *type;
	enum wf_cni_mode mode;
	const char *bridge;
	bool is_gw, is_default_gw, ip_masq, hairpin;
	unsigned mtu;
	const char *state_dir;

	/* ipam */
	const char *ipam_type; /* NULL: no IPAM */
	bool ipam_builtin;
	const char *data_dir;
	struct wf_cni_rangeset sets[WF_CNI_MAX_SETS];
	unsigned n_sets;
	struct wf_cni_route routes[WF_CNI_MAX_ROUTES];
	unsigned n_routes;

	/* runtime-supplied (runtimeConfig, args) */
	struct wf_ip req_ips[WF_CNI_MAX_SETS];
	unsigned n_req_ips;
	struct wf_cni_portmap ports[WF_CNI_MAX_PORTS];
	unsigned n_ports;
	struct wf_cni_bandwidth bw;
	bool has_bw;
	uint8_t mac[6];
	bool has_mac;

	struct json_t *dns;	    /* config "dns" or NULL */
	struct json_t *prev_result; /* or NULL */
	struct json_t *valid;	    /* GC: valid attachments array or NULL */
};

/* An open, locked network directory of the address store (ipam.c, store.c): the directory,
 * its "lock" (flock()ed from open to close) and the slot file with its header as read. */
#define WF_CNI_STORE_ID_MAX 255 /* bytes of a container id the store keeps */
struct wf_cni_ipam {
	int dirfd;
	int lockfd;
	int fd;		  /* <dir>/store */
	uint32_t n_slots; /* a power of two */
	uint32_t used;	  /* slots holding something (live or not yet swept); drives growth */
	uint64_t gen;	  /* the last generation handed out */
	uint32_t flags;	  /* WF_CNI_STORE_F_* */
	bool dirty;	  /* the header needs writing back */
	struct wf_ip hint[WF_CNI_MAX_SETS]; /* round-robin: the last address of each range set */
};
