/* The Kubernetes object model weft reads: typed, immutable C structs decoded from manifests
 * (object.h) with the API server's defaults applied and its validation done.
 *
 * Ownership: every string, array and struct reachable from a struct wf_k8s_object lives in
 * the object's own arena and is valid until the last wf_k8s_object_unref(). Objects are
 * immutable once parsed; the one exception is resource_version, which the store sets before
 * it publishes the object. Arrays are (n_<x>, <x>) pairs; an absent list is n == 0, x == NULL.
 * Strings that Kubernetes leaves unset are NULL (not ""), unless a default is documented. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ip-types.h"
#include "k8s/selector-types.h"

enum wf_k8s_kind {
	WF_K8S_NAMESPACE,
	WF_K8S_NODE,
	WF_K8S_POD,
	WF_K8S_SERVICE,
	WF_K8S_ENDPOINTSLICE,
	WF_K8S_NETWORKPOLICY,
	WF_K8S_INGRESS,
	WF_K8S_INGRESSCLASS,
	WF_K8S_SECRET,
	WF_K8S_GATEWAY,
	WF_K8S_HTTPROUTE,
	WF_K8S_DEPLOYMENT,
	WF_K8S_KIND_COUNT
};

enum wf_k8s_protocol {
	WF_K8S_PROTO_TCP, /* the default everywhere a protocol is optional */
	WF_K8S_PROTO_UDP,
	WF_K8S_PROTO_SCTP,
};

/* A field that is unset, false or true: EndpointSlice conditions distinguish unset from false. */
enum wf_k8s_tristate {
	WF_K8S_UNSET = 0,
	WF_K8S_FALSE,
	WF_K8S_TRUE,
};

/* intstr.IntOrString: targetPort, probe ports, policy ports, Ingress backend ports. */
struct wf_k8s_int_or_string {
	bool set;
	bool is_str; /* then str is set, else num */
	int32_t num;
	const char *str;
};

struct wf_k8s_origin {
	const char *file; /* as given to the parser */
	unsigned line;	  /* 1-based position of the object (the document or the List item) */
	unsigned column;
};

/* ---- Namespace (v1) ---- */
struct wf_k8s_namespace {
	const char *phase; /* status.phase: "Active" (default) or "Terminating" */
};

/* ---- Node (v1) ---- */
struct wf_k8s_node_address {
	const char *type; /* "InternalIP", "ExternalIP", "Hostname", ... */
	const char *address;
	bool is_ip; /* address parsed into ip */
	struct wf_ip ip;
};

struct wf_k8s_node {
	/* spec.podCIDRs, or spec.podCIDR alone; host bits must be zero. */
	size_t n_pod_cidrs;
	struct wf_cidr *pod_cidrs;
	bool unschedulable;
	size_t n_addresses; /* status.addresses */
	struct wf_k8s_node_address *addresses;
	const char *zone; /* label topology.kubernetes.io/zone, or NULL */
	/* status.conditions Ready: has_ready is false when there is none; ready is its status
	 * ("Unknown" is UNSET). */
	bool has_ready;
	enum wf_k8s_tristate ready;
	/* status.nodeInfo, each NULL when absent */
	const char *kubelet_version;
	const char *os_image;
	const char *kernel_version;
	const char *container_runtime_version;
};

/* ---- Pod (v1) ---- */
enum wf_k8s_probe_handler {
	WF_K8S_PROBE_NONE,
	WF_K8S_PROBE_EXEC,
	WF_K8S_PROBE_TCP,
	WF_K8S_PROBE_HTTP,
};

struct wf_k8s_probe {
	enum wf_k8s_probe_handler handler;
	struct wf_k8s_int_or_string port; /* tcpSocket.port / httpGet.port (number or name) */
	const char *host;		  /* tcpSocket.host / httpGet.host, or NULL */
	const char *path;		  /* httpGet.path, default "/" */
	const char *scheme;		  /* httpGet.scheme: "HTTP" (default) or "HTTPS" */
	size_t n_command;		  /* exec.command */
	const char **command;
	int32_t initial_delay_seconds; /* default 0 */
	int32_t period_seconds;	       /* default 10 */
	int32_t timeout_seconds;       /* default 1 */
	int32_t success_threshold;     /* default 1 */
	int32_t failure_threshold;     /* default 3 */
};

struct wf_k8s_env_var {
	const char *name;
	const char *value; /* "" when valueFrom is used (weft does not resolve it) */
};

struct wf_k8s_container_port {
	const char *name; /* IANA_SVC_NAME or NULL */
	int32_t container_port;
	enum wf_k8s_protocol protocol;
	int32_t host_port;   /* 0 = none */
	const char *host_ip; /* or NULL */
};

struct wf_k8s_container {
	const char *name;
	const char *image;
	size_t n_command;
	const char **command;
	size_t n_args;
	const char **args;
	size_t n_env;
	struct wf_k8s_env_var *env;
	size_t n_ports;
	struct wf_k8s_container_port *ports;
	const struct wf_k8s_probe *readiness_probe; /* NULL when absent */
	const struct wf_k8s_probe *liveness_probe;
	const struct wf_k8s_probe *startup_probe;
};

/* A pod spec: Pod.spec and Deployment.spec.template.spec. */
struct wf_k8s_pod_spec {
	const char *node_name; /* or NULL */
	const char *hostname;  /* or NULL */
	const char *subdomain; /* or NULL */
	bool host_network;
	int64_t termination_grace_period_seconds; /* default 30 */
	const char *restart_policy;		  /* default "Always" */
	const char *dns_policy;			  /* default "ClusterFirst" */
	const char *service_account_name;	  /* or NULL */
	size_t n_containers;			  /* at least one */
	struct wf_k8s_container *containers;
	size_t n_init_containers;
	struct wf_k8s_container *init_containers;
	size_t n_readiness_gates; /* spec.readinessGates[].conditionType */
	const char **readiness_gates;
};

struct wf_k8s_pod_condition {
	const char *type;	     /* "Ready", "PodScheduled", ... */
	enum wf_k8s_tristate status; /* "True"/"False"; "Unknown" is UNSET */
};

/* Which member of status.containerStatuses[].state is set. */
enum wf_k8s_container_state {
	WF_K8S_CONTAINER_UNSET,
	WF_K8S_CONTAINER_WAITING,
	WF_K8S_CONTAINER_RUNNING,
	WF_K8S_CONTAINER_TERMINATED,
};

/* status.containerStatuses[] (what kubelet reports). */
struct wf_k8s_container_status {
	const char *name;
	bool ready;
	int32_t restart_count;
	enum wf_k8s_container_state state;
	const char *reason;	  /* state.waiting.reason or state.terminated.reason, or NULL */
	int32_t exit_code;	  /* state.terminated.exitCode */
	int32_t signal;		  /* state.terminated.signal, 0 = none */
	int64_t last_finished_at; /* lastState.terminated.finishedAt, Unix seconds; 0 = none */
};

struct wf_k8s_pod {
	struct wf_k8s_pod_spec spec;
	const char *phase; /* status.phase or NULL */
	bool has_host_ip;
	struct wf_ip host_ip;
	/* status.podIPs (or status.podIP alone); pod_ips[0] is the primary IP. */
	size_t n_pod_ips;
	struct wf_ip *pod_ips;
	size_t n_conditions;
	struct wf_k8s_pod_condition *conditions;
	enum wf_k8s_tristate ready;	 /* the Ready condition */
	const char *reason;		 /* status.reason ("Evicted"...), or NULL */
	const char *nominated_node_name; /* status.nominatedNodeName, or NULL */
	size_t n_container_statuses;
	struct wf_k8s_container_status *container_statuses;
};

/* ---- Service (v1) ---- */
enum wf_k8s_service_type {
	WF_K8S_SVC_CLUSTER_IP, /* default */
	WF_K8S_SVC_NODE_PORT,
	WF_K8S_SVC_LOAD_BALANCER,
	WF_K8S_SVC_EXTERNAL_NAME,
};

enum wf_k8s_traffic_policy {
	WF_K8S_POLICY_UNSET, /* externalTrafficPolicy of ClusterIP/ExternalName services */
	WF_K8S_POLICY_CLUSTER,
	WF_K8S_POLICY_LOCAL,
};

enum wf_k8s_ip_family_policy {
	WF_K8S_FAMILY_POLICY_UNSET,
	WF_K8S_FAMILY_SINGLE_STACK,
	WF_K8S_FAMILY_PREFER_DUAL_STACK,
	WF_K8S_FAMILY_REQUIRE_DUAL_STACK,
};

struct wf_k8s_service_port {
	const char *name; /* "" when the service has a single unnamed port */
	enum wf_k8s_protocol protocol;
	int32_t port;				 /* 1-65535 */
	struct wf_k8s_int_or_string target_port; /* defaults to port (numeric) */
	int32_t node_port;			 /* 0 = not set / to be allocated */
	const char *app_protocol;		 /* or NULL */
};

struct wf_k8s_lb_ingress {
	const char *ip; /* or NULL */
	const char *hostname;
};

struct wf_k8s_service {
	enum wf_k8s_service_type type;
	/* spec.clusterIPs (or spec.clusterIP): empty when unallocated or headless. */
	bool headless; /* clusterIP "None" */
	size_t n_cluster_ips;
	struct wf_ip *cluster_ips;
	size_t n_ports;
	struct wf_k8s_service_port *ports;
	/* spec.selector as a map; has_selector is false when absent or empty (the service's
	 * endpoints are then managed by someone else). */
	bool has_selector;
	struct wf_k8s_map selector;
	const char *external_name; /* type ExternalName */
	size_t n_external_ips;
	struct wf_ip *external_ips;
	bool session_affinity_client_ip;  /* sessionAffinity ClientIP (default None) */
	int32_t session_affinity_timeout; /* seconds, default 10800, max 86400 */
	enum wf_k8s_traffic_policy external_traffic_policy; /* Cluster for NodePort/LB */
	enum wf_k8s_traffic_policy internal_traffic_policy; /* Cluster unless ExternalName */
	int32_t health_check_node_port;			    /* 0 = none */
	bool publish_not_ready_addresses;
	size_t n_ip_families; /* AF_INET / AF_INET6, in order */
	int *ip_families;
	enum wf_k8s_ip_family_policy ip_family_policy;
	bool has_load_balancer_ip;
	struct wf_ip load_balancer_ip;
	size_t n_load_balancer_source_ranges;
	struct wf_cidr *load_balancer_source_ranges;
	bool allocate_load_balancer_node_ports; /* default true for LoadBalancer */
	const char *load_balancer_class;	/* or NULL */
	const char *traffic_distribution;	/* e.g. "PreferClose", or NULL */
	size_t n_lb_ingress;			/* status.loadBalancer.ingress */
	struct wf_k8s_lb_ingress *lb_ingress;
};

/* ---- EndpointSlice (discovery.k8s.io/v1) ---- */
enum wf_k8s_address_type {
	WF_K8S_ADDR_IPV4,
	WF_K8S_ADDR_IPV6,
	WF_K8S_ADDR_FQDN,
};

struct wf_k8s_object_ref {
	const char *kind; /* any of these may be NULL */
	const char *namespace;
	const char *name;
	const char *uid;
};

struct wf_k8s_endpoint {
	size_t n_addresses; /* at least one */
	const char **addresses;
	struct wf_ip *ips; /* parsed addresses (IPv4/IPv6 slices), NULL for FQDN */
	/* Conditions are tri-state (unset != false); read them with wf_k8s_endpoint_ready()
	 * and friends, which apply the API's "unset means" rules. */
	enum wf_k8s_tristate ready;
	enum wf_k8s_tristate serving;
	enum wf_k8s_tristate terminating;
	const char *hostname;  /* or NULL */
	const char *node_name; /* or NULL */
	const char *zone;      /* or NULL */
	size_t n_hint_zones;   /* hints.forZones[].name */
	const char **hint_zones;
	bool has_target_ref;
	struct wf_k8s_object_ref target_ref;
};

struct wf_k8s_endpoint_port {
	const char *name; /* NULL when absent; "" allowed */
	enum wf_k8s_protocol protocol;
	bool has_port; /* port is nullable: unset means "all ports" */
	int32_t port;
	const char *app_protocol;
};

struct wf_k8s_endpointslice {
	enum wf_k8s_address_type address_type;
	const char *service_name; /* label kubernetes.io/service-name, or NULL */
	size_t n_endpoints;
	struct wf_k8s_endpoint *endpoints;
	size_t n_ports;
	struct wf_k8s_endpoint_port *ports;
};

/* ---- NetworkPolicy (networking.k8s.io/v1) ---- */
struct wf_k8s_ip_block {
	struct wf_cidr cidr;
	size_t n_except; /* each inside cidr */
	struct wf_cidr *except;
};

/* A peer is either an ipBlock, or a pod and/or namespace selector. An absent selector is
 * represented as a null selector (present == false): podSelector alone means "pods in the
 * policy's namespace", namespaceSelector alone means "all pods in matching namespaces". */
struct wf_k8s_netpol_peer {
	struct wf_k8s_selector pod_selector;
	struct wf_k8s_selector namespace_selector;
	const struct wf_k8s_ip_block *ip_block; /* or NULL */
};

struct wf_k8s_netpol_port {
	enum wf_k8s_protocol protocol;
	struct wf_k8s_int_or_string port; /* unset = every port */
	int32_t end_port;		  /* 0 = single port; else >= port.num */
};

/* n_peers == 0: every source/destination; n_ports == 0: every port. */
struct wf_k8s_netpol_rule {
	size_t n_peers;
	struct wf_k8s_netpol_peer *peers;
	size_t n_ports;
	struct wf_k8s_netpol_port *ports;
};

struct wf_k8s_networkpolicy {
	struct wf_k8s_selector pod_selector; /* required; {} selects every pod */
	/* spec.policyTypes, or inferred: Ingress always, Egress when egress rules exist. */
	bool policy_ingress;
	bool policy_egress;
	size_t n_ingress;
	struct wf_k8s_netpol_rule *ingress;
	size_t n_egress;
	struct wf_k8s_netpol_rule *egress;
};

/* ---- Ingress, IngressClass (networking.k8s.io/v1) ---- */
enum wf_k8s_path_type {
	WF_K8S_PATH_EXACT,
	WF_K8S_PATH_PREFIX,
	WF_K8S_PATH_IMPLEMENTATION_SPECIFIC,
};

struct wf_k8s_ingress_backend {
	const char *service_name;	  /* NULL for a resource backend */
	struct wf_k8s_int_or_string port; /* service.port.number or .name */
	const char *resource_kind;	  /* resource backend, or NULL */
	const char *resource_name;
};

struct wf_k8s_ingress_path {
	const char *path; /* default "/" for Prefix... as written, NULL when absent */
	enum wf_k8s_path_type path_type;
	struct wf_k8s_ingress_backend backend;
};

struct wf_k8s_ingress_rule {
	const char *host; /* NULL = every host; "*.foo.com" when wildcard */
	bool wildcard;
	size_t n_paths;
	struct wf_k8s_ingress_path *paths;
};

struct wf_k8s_ingress_tls {
	size_t n_hosts;
	const char **hosts;
	const char *secret_name; /* or NULL */
};

struct wf_k8s_ingress {
	/* spec.ingressClassName, else annotation kubernetes.io/ingress.class, else NULL. */
	const char *class_name;
	const struct wf_k8s_ingress_backend *default_backend; /* or NULL */
	size_t n_rules;
	struct wf_k8s_ingress_rule *rules;
	size_t n_tls;
	struct wf_k8s_ingress_tls *tls;
};

struct wf_k8s_ingressclass {
	const char *controller; /* e.g. "weft.dev/ingress" */
	bool is_default;	/* annotation ingressclass.kubernetes.io/is-default-class "true" */
};

/* ---- Secret (v1) ---- */
struct wf_k8s_secret_item {
	const char *key;
	const uint8_t *value; /* decoded bytes, NUL-terminated for convenience */
	size_t len;
};

struct wf_k8s_secret {
	const char *type; /* default "Opaque"; "kubernetes.io/tls" for TLS */
	/* data (base64-decoded) merged with stringData (which wins), sorted by key. */
	size_t n_items;
	struct wf_k8s_secret_item *items;
};

/* ---- Gateway, HTTPRoute (gateway.networking.k8s.io/v1, v1beta1) ---- */
struct wf_k8s_secret_ref {
	const char *group;     /* "" (core) by default */
	const char *kind;      /* "Secret" by default */
	const char *namespace; /* NULL = the referrer's */
	const char *name;
};

enum wf_k8s_routes_from {
	WF_K8S_FROM_SAME, /* default */
	WF_K8S_FROM_ALL,
	WF_K8S_FROM_SELECTOR,
};

struct wf_k8s_gateway_listener {
	const char *name;
	const char *hostname; /* or NULL */
	int32_t port;
	const char *protocol; /* "HTTP", "HTTPS", "TLS", "TCP", "UDP" */
	const char
		*tls_mode; /* "Terminate" (default when tls is given) or "Passthrough"; or NULL */
	size_t n_certificate_refs;
	struct wf_k8s_secret_ref *certificate_refs;
	enum wf_k8s_routes_from routes_from;
	struct wf_k8s_selector routes_selector; /* with WF_K8S_FROM_SELECTOR */
	size_t n_route_kinds;			/* allowedRoutes.kinds[].kind */
	const char **route_kinds;
};

struct wf_k8s_gateway {
	const char *gateway_class_name;
	size_t n_listeners;
	struct wf_k8s_gateway_listener *listeners;
};

struct wf_k8s_parent_ref {
	const char *group;     /* default "gateway.networking.k8s.io" */
	const char *kind;      /* default "Gateway" */
	const char *namespace; /* NULL = the route's */
	const char *name;
	const char *section_name; /* or NULL */
	int32_t port;		  /* 0 = unset */
};

enum wf_k8s_http_path_match {
	WF_K8S_HTTP_PATH_PREFIX, /* default, value "/" */
	WF_K8S_HTTP_PATH_EXACT,
	WF_K8S_HTTP_PATH_REGEX,
};

enum wf_k8s_http_value_match {
	WF_K8S_HTTP_VALUE_EXACT, /* default */
	WF_K8S_HTTP_VALUE_REGEX,
};

struct wf_k8s_http_kv_match {
	enum wf_k8s_http_value_match type;
	const char *name;
	const char *value;
};

struct wf_k8s_http_match {
	enum wf_k8s_http_path_match path_type;
	const char *path; /* default "/" */
	size_t n_headers;
	struct wf_k8s_http_kv_match *headers;
	size_t n_query_params;
	struct wf_k8s_http_kv_match *query_params;
	const char *method; /* or NULL */
};

struct wf_k8s_http_header {
	const char *name;
	const char *value;
};

enum wf_k8s_http_filter_type {
	WF_K8S_HTTP_FILTER_REQUEST_HEADER_MODIFIER,
	WF_K8S_HTTP_FILTER_RESPONSE_HEADER_MODIFIER,
	WF_K8S_HTTP_FILTER_REQUEST_REDIRECT,
	WF_K8S_HTTP_FILTER_URL_REWRITE,
	WF_K8S_HTTP_FILTER_REQUEST_MIRROR,
	WF_K8S_HTTP_FILTER_EXTENSION_REF,
};

enum wf_k8s_http_path_modifier {
	WF_K8S_HTTP_PATH_MOD_NONE,
	WF_K8S_HTTP_PATH_MOD_FULL,   /* replaceFullPath */
	WF_K8S_HTTP_PATH_MOD_PREFIX, /* replacePrefixMatch */
};

struct wf_k8s_http_backend_ref {
	const char *group;     /* default "" */
	const char *kind;      /* default "Service" */
	const char *namespace; /* NULL = the route's */
	const char *name;
	int32_t port;	/* required for Service backends */
	int32_t weight; /* default 1; 0 = no traffic */
};

struct wf_k8s_http_filter {
	enum wf_k8s_http_filter_type type;
	/* Request/ResponseHeaderModifier */
	size_t n_set;
	struct wf_k8s_http_header *set;
	size_t n_add;
	struct wf_k8s_http_header *add;
	size_t n_remove;
	const char **remove;
	/* RequestRedirect and URLRewrite */
	const char *scheme;   /* redirect only; or NULL */
	const char *hostname; /* or NULL */
	enum wf_k8s_http_path_modifier path_modifier;
	const char *path_value;
	int32_t port;	     /* redirect; 0 = unset */
	int32_t status_code; /* redirect; default 302 */
	/* RequestMirror */
	struct wf_k8s_http_backend_ref mirror;
};

struct wf_k8s_http_rule {
	size_t n_matches; /* at least one: the default is PathPrefix "/" */
	struct wf_k8s_http_match *matches;
	size_t n_filters;
	struct wf_k8s_http_filter *filters;
	size_t n_backend_refs;
	struct wf_k8s_http_backend_ref *backend_refs;
	const char *timeout_request; /* Gateway API duration ("10s"), or NULL */
	const char *timeout_backend_request;
	int64_t timeout_request_ms; /* parsed; -1 when unset, 0 = no timeout */
	int64_t timeout_backend_request_ms;
};

struct wf_k8s_httproute {
	size_t n_parent_refs;
	struct wf_k8s_parent_ref *parent_refs;
	size_t n_hostnames;
	const char **hostnames;
	size_t n_rules; /* the default is one rule matching PathPrefix "/" */
	struct wf_k8s_http_rule *rules;
};

/* ---- Deployment (apps/v1) ---- */
struct wf_k8s_deployment {
	int32_t replicas;		 /* default 1 */
	struct wf_k8s_selector selector; /* required; must match the template's labels */
	struct wf_k8s_map template_labels;
	struct wf_k8s_map template_annotations;
	struct wf_k8s_pod_spec template_spec;
	/* status (0 when absent) */
	int32_t status_replicas;
	int32_t ready_replicas;
	int32_t updated_replicas;
	int32_t available_replicas;
};

/* ---- The object ---- */
struct wf_arena;

/* Kind-specific part: the union member named by kind is the one that is set. */
struct wf_k8s_object {
	enum wf_k8s_kind kind;
	const char *namespace; /* NULL for cluster-scoped kinds; "default" when omitted */
	const char *name;
	const char *uid;	       /* or NULL */
	const char *key;	       /* wf_k8s_object_key() */
	uint64_t resource_version;     /* 0 until the store sets it; metadata.resourceVersion is
				    * ignored, the store is the one clock */
	struct wf_k8s_map labels;      /* sorted by key */
	struct wf_k8s_map annotations; /* sorted by key */
	int64_t creation_timestamp;    /* Unix seconds; 0 when absent */
	int64_t deletion_timestamp;    /* Unix seconds; 0 when absent */
	struct wf_k8s_origin origin;
	union {
		const void *spec;
		const struct wf_k8s_namespace *ns;
		const struct wf_k8s_node *node;
		const struct wf_k8s_pod *pod;
		const struct wf_k8s_service *service;
		const struct wf_k8s_endpointslice *endpointslice;
		const struct wf_k8s_networkpolicy *networkpolicy;
		const struct wf_k8s_ingress *ingress;
		const struct wf_k8s_ingressclass *ingressclass;
		const struct wf_k8s_secret *secret;
		const struct wf_k8s_gateway *gateway;
		const struct wf_k8s_httproute *httproute;
		const struct wf_k8s_deployment *deployment;
	};
	/* private */
	unsigned refcount;
	struct wf_arena *arena;
};

/* The result of parsing one file: all of its objects, or nothing. */
struct wf_k8s_parse_result {
	size_t n_objects;
	struct wf_k8s_object **objects; /* each holds one reference */
	size_t ignored;			/* well-known kinds weft skips (ConfigMap, Role, ...) */
};
