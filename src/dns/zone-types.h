/* Cluster DNS zone: configuration and the cluster view a zone is compiled from. The view is a
 * plain description of Services, EndpointSlices, Pods and Namespaces as DNS needs them; the
 * view (dns/view.h) fills it from a store snapshot. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ip-types.h"

enum wf_dns_pod_mode {
	WF_DNS_PODS_DISABLED,
	WF_DNS_PODS_INSECURE, /* kubeadm's CoreDNS default */
	WF_DNS_PODS_VERIFIED,
};

enum wf_dns_svc_kind {
	WF_DNS_SVC_CLUSTERIP,
	WF_DNS_SVC_HEADLESS,
	WF_DNS_SVC_EXTERNALNAME,
};

#define WF_DNS_MAX_CIDRS 8

struct wf_dns_zone_config {
	const char *cluster_domain; /* "cluster.local" */
	struct wf_cidr service_cidrs[WF_DNS_MAX_CIDRS];
	unsigned n_service_cidrs;
	struct wf_cidr pod_cidrs[WF_DNS_MAX_CIDRS];
	unsigned n_pod_cidrs;
	uint32_t ttl; /* records and negative answers (SOA minimum) */
	enum wf_dns_pod_mode pods;
	bool upstream; /* RA is advertised when names can be forwarded */
};

struct wf_dns_port {
	const char *name;  /* NULL or "" for an unnamed port: no SRV */
	const char *proto; /* "TCP", "UDP", "SCTP" (any case) */
	uint16_t port;
};

/* Tri-state EndpointSlice condition (discovery.k8s.io/v1): -1 unset, 0 false, 1 true. */
struct wf_dns_endpoint {
	const char *hostname; /* NULL: the dashed address is used */
	struct wf_ip *addrs;
	size_t n_addrs;
	int8_t ready;
	int8_t serving;
	int8_t terminating;
};

struct wf_dns_slice {
	struct wf_dns_port *ports;
	size_t n_ports;
	struct wf_dns_endpoint *endpoints;
	size_t n_endpoints;
};

struct wf_dns_service {
	const char *ns;
	const char *name;
	enum wf_dns_svc_kind kind;
	struct wf_ip cluster_ips[2]; /* spec.clusterIPs (ClusterIP kind) */
	size_t n_cluster_ips;
	const char *external_name; /* ExternalName kind */
	bool publish_not_ready;
	struct wf_dns_port *ports; /* spec.ports */
	size_t n_ports;
	struct wf_dns_slice *slices; /* EndpointSlices labelled with this service */
	size_t n_slices;
};

struct wf_dns_pod {
	const char *ns;
	const char *name;
	struct wf_ip *ips;
	size_t n_ips;
};

/* Everything a zone is compiled from. Borrowed by the compiler for the duration of the call. */
struct wf_dns_cluster {
	struct wf_dns_service *services;
	size_t n_services;
	struct wf_dns_pod *pods;
	size_t n_pods;
	const char **namespaces;
	size_t n_namespaces;
};
