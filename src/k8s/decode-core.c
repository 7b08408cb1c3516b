/* Decoders for the core kinds: Namespace, Node, Pod (and the pod spec Deployments reuse),
 * Service, EndpointSlice, NetworkPolicy, Deployment. Defaults and validation follow the API
 * server (pkg/apis/core/v1/defaults.go, pkg/apis/core/validation) for the fields weft reads.
 *
 * On error a decoder returns at once: the path stack is not unwound, the context is dropped. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "k8s/decode-internal.h"
#include "k8s/object.h"
#include "k8s/selector.h"
#include "lib/arena.h"
#include "lib/error.h"
#include "lib/ip.h"

/* ---- Namespace ---- */

int wf_k8s_decode_namespace(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_namespace *ns = wf_k8s_zalloc(d, sizeof(*ns));
	json_t *status = NULL;

	if (!ns)
		return wf_k8s_oom(d);
	ns->phase = "Active";
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "status", &status));
	wf_k8s_push_key(d, "status");
	WF_K8S_TRY(wf_k8s_get_str(d, status, "phase", &ns->phase));
	wf_k8s_pop(d);
	obj->ns = ns;
	return 0;
}

/* ---- Node ---- */

static int decode_node_address(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_node_address *a = elem;

	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "type", &a->type));
	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "address", &a->address));
	a->is_ip = wf_ip_parse(a->address, &a->ip) == 0;
	return 0;
}

static int decode_condition(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx);

/* The Ready condition and nodeInfo: what `kubectl get nodes` shows (STATUS, VERSION...). */
static int decode_node_status(struct wf_k8s_dctx *d, json_t *status, struct wf_k8s_node *node)
{
	struct wf_k8s_pod_condition *conds = NULL;
	size_t n_conds = 0;
	json_t *info = NULL;

	WF_K8S_TRY(wf_k8s_get_list(d, status, "conditions", sizeof(*conds), decode_condition, NULL,
				   &n_conds, (void **)&conds));
	for (size_t i = 0; i < n_conds; i++)
		if (strcmp(conds[i].type, "Ready") == 0) {
			node->has_ready = true;
			node->ready = conds[i].status;
		}
	WF_K8S_TRY(wf_k8s_get_obj(d, status, "nodeInfo", &info));
	wf_k8s_push_key(d, "nodeInfo");
	WF_K8S_TRY(wf_k8s_get_str(d, info, "kubeletVersion", &node->kubelet_version));
	WF_K8S_TRY(wf_k8s_get_str(d, info, "osImage", &node->os_image));
	WF_K8S_TRY(wf_k8s_get_str(d, info, "kernelVersion", &node->kernel_version));
	WF_K8S_TRY(wf_k8s_get_str(d, info, "containerRuntimeVersion",
				  &node->container_runtime_version));
	wf_k8s_pop(d);
	return 0;
}

int wf_k8s_decode_node(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_node *node = wf_k8s_zalloc(d, sizeof(*node));
	json_t *spec = NULL, *status = NULL;
	const char *cidr = NULL, **cidrs = NULL;
	size_t n_cidrs = 0;

	if (!node)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "status", &status));
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(wf_k8s_get_str(d, spec, "podCIDR", &cidr));
	WF_K8S_TRY(wf_k8s_get_str_array(d, spec, "podCIDRs", &n_cidrs, &cidrs));
	WF_K8S_TRY(wf_k8s_get_bool(d, spec, "unschedulable", &node->unschedulable, NULL));
	/* podCIDRs wins; podCIDR, when both are given, must be podCIDRs[0]. */
	if (n_cidrs == 0 && cidr && *cidr) {
		cidrs = &cidr;
		n_cidrs = 1;
	} else if (n_cidrs > 0 && cidr && *cidr && strcmp(cidr, cidrs[0]) != 0) {
		return wf_k8s_fail_key(d, "podCIDR", -WF_E_INVALID,
				       "must equal podCIDRs[0] (\"%s\")", cidrs[0]);
	}
	if (n_cidrs > 2)
		return wf_k8s_fail_key(d, "podCIDRs", -WF_E_INVALID,
				       "may have at most 2 entries (one per IP family)");
	WF_K8S_TRY(wf_k8s_alloc_array(d, n_cidrs, sizeof(*node->pod_cidrs),
				      (void **)&node->pod_cidrs));
	for (size_t i = 0; i < n_cidrs; i++) {
		if (wf_cidr_parse(cidrs[i], true, &node->pod_cidrs[i]) < 0) {
			wf_k8s_push_key(d, cidr && cidrs == &cidr ? "podCIDR" : "podCIDRs");
			if (cidrs != &cidr)
				wf_k8s_push_index(d, i);
			return wf_k8s_fail(d, -WF_E_INVALID,
					   "invalid CIDR \"%s\" (host bits must be zero)",
					   cidrs[i]);
		}
	}
	node->n_pod_cidrs = n_cidrs;
	if (n_cidrs == 2 && node->pod_cidrs[0].ip.family == node->pod_cidrs[1].ip.family)
		return wf_k8s_fail_key(d, "podCIDRs", -WF_E_INVALID,
				       "may have at most one CIDR per IP family");
	wf_k8s_pop(d);
	wf_k8s_push_key(d, "status");
	WF_K8S_TRY(wf_k8s_get_list(d, status, "addresses", sizeof(*node->addresses),
				   decode_node_address, NULL, &node->n_addresses,
				   (void **)&node->addresses));
	WF_K8S_TRY(decode_node_status(d, status, node));
	wf_k8s_pop(d);
	node->zone = wf_k8s_map_get(&obj->labels, "topology.kubernetes.io/zone");
	obj->node = node;
	return 0;
}

/* ---- Pod ---- */

static int decode_probe(struct wf_k8s_dctx *d, json_t *parent, const char *key, bool liveness,
			const struct wf_k8s_probe **out)
{
	static const char *const schemes[] = {"HTTP", "HTTPS", NULL};
	json_t *o = NULL, *exec = NULL, *http = NULL, *tcp = NULL, *grpc = NULL;
	struct wf_k8s_probe *p;
	int handlers = 0, scheme = 0;

	WF_K8S_TRY(wf_k8s_get_obj(d, parent, key, &o));
	if (!o)
		return 0;
	p = wf_k8s_zalloc(d, sizeof(*p));
	if (!p)
		return wf_k8s_oom(d);
	/* Probe defaults (core/v1 SetDefaults_Probe). */
	p->period_seconds = 10;
	p->timeout_seconds = 1;
	p->success_threshold = 1;
	p->failure_threshold = 3;
	wf_k8s_push_key(d, key);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "exec", &exec));
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "httpGet", &http));
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "tcpSocket", &tcp));
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "grpc", &grpc));
	handlers = !!exec + !!http + !!tcp + !!grpc;
	if (handlers != 1)
		return wf_k8s_fail(
			d, -WF_E_INVALID,
			handlers
				? "may not specify more than 1 handler type"
				: "must specify a handler type (exec, httpGet, tcpSocket or grpc)");
	if (exec) {
		p->handler = WF_K8S_PROBE_EXEC;
		wf_k8s_push_key(d, "exec");
		WF_K8S_TRY(wf_k8s_get_str_array(d, exec, "command", &p->n_command, &p->command));
		wf_k8s_pop(d);
	} else if (http) {
		p->handler = WF_K8S_PROBE_HTTP;
		p->path = "/";
		wf_k8s_push_key(d, "httpGet");
		WF_K8S_TRY(wf_k8s_get_str(d, http, "path", &p->path));
		WF_K8S_TRY(wf_k8s_get_port_or_name(d, http, "port", true, &p->port));
		WF_K8S_TRY(wf_k8s_get_str(d, http, "host", &p->host));
		WF_K8S_TRY(wf_k8s_get_enum(d, http, "scheme", schemes, &scheme));
		p->scheme = schemes[scheme];
		wf_k8s_pop(d);
	} else if (tcp) {
		p->handler = WF_K8S_PROBE_TCP;
		wf_k8s_push_key(d, "tcpSocket");
		WF_K8S_TRY(wf_k8s_get_port_or_name(d, tcp, "port", true, &p->port));
		WF_K8S_TRY(wf_k8s_get_str(d, tcp, "host", &p->host));
		wf_k8s_pop(d);
	} else {
		p->handler = WF_K8S_PROBE_NONE; /* grpc: weft does not probe it */
	}
	WF_K8S_TRY(wf_k8s_get_i32(d, o, "initialDelaySeconds", 0, INT32_MAX,
				  &p->initial_delay_seconds, NULL));
	WF_K8S_TRY(wf_k8s_get_i32(d, o, "periodSeconds", 1, INT32_MAX, &p->period_seconds, NULL));
	WF_K8S_TRY(wf_k8s_get_i32(d, o, "timeoutSeconds", 1, INT32_MAX, &p->timeout_seconds, NULL));
	WF_K8S_TRY(wf_k8s_get_i32(d, o, "successThreshold", 1, INT32_MAX, &p->success_threshold,
				  NULL));
	WF_K8S_TRY(wf_k8s_get_i32(d, o, "failureThreshold", 1, INT32_MAX, &p->failure_threshold,
				  NULL));
	/* Liveness and startup probes: successThreshold must be 1. */
	if (liveness && p->success_threshold != 1)
		return wf_k8s_fail_key(d, "successThreshold", -WF_E_INVALID, "must be 1");
	wf_k8s_pop(d);
	*out = p;
	return 0;
}

static int decode_env(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_env_var *e = elem;

	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &e->name));
	e->value = "";
	WF_K8S_TRY(wf_k8s_get_str(d, item, "value", &e->value));
	return 0;
}

static int decode_container_port(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_container_port *p = elem;
	const char *why;
	struct wf_ip ip;

	WF_K8S_TRY(wf_k8s_get_str(d, item, "name", &p->name));
	if (p->name && (why = wf_k8s_check_port_name(p->name)))
		return wf_k8s_fail_key(d, "name", -WF_E_INVALID, "invalid port name \"%s\": %s",
				       p->name, why);
	WF_K8S_TRY(wf_k8s_get_port(d, item, "containerPort", true, &p->container_port));
	WF_K8S_TRY(wf_k8s_get_protocol(d, item, "protocol", &p->protocol));
	WF_K8S_TRY(wf_k8s_get_i32(d, item, "hostPort", 0, 65535, &p->host_port, NULL));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "hostIP", &p->host_ip));
	if (p->host_ip && *p->host_ip && wf_ip_parse(p->host_ip, &ip) < 0)
		return wf_k8s_fail_key(d, "hostIP", -WF_E_INVALID, "invalid IP address \"%s\"",
				       p->host_ip);
	return 0;
}

static int decode_container(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_container *c = elem;
	const char *why;

	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &c->name));
	if ((why = wf_k8s_check_dns_label(c->name)))
		return wf_k8s_fail_key(d, "name", -WF_E_INVALID,
				       "invalid container name \"%s\": %s", c->name, why);
	WF_K8S_TRY(wf_k8s_get_str(d, item, "image", &c->image));
	WF_K8S_TRY(wf_k8s_get_str_array(d, item, "command", &c->n_command, &c->command));
	WF_K8S_TRY(wf_k8s_get_str_array(d, item, "args", &c->n_args, &c->args));
	WF_K8S_TRY(wf_k8s_get_list(d, item, "env", sizeof(*c->env), decode_env, NULL, &c->n_env,
				   (void **)&c->env));
	WF_K8S_TRY(wf_k8s_get_list(d, item, "ports", sizeof(*c->ports), decode_container_port, NULL,
				   &c->n_ports, (void **)&c->ports));
	WF_K8S_TRY(decode_probe(d, item, "readinessProbe", false, &c->readiness_probe));
	WF_K8S_TRY(decode_probe(d, item, "livenessProbe", true, &c->liveness_probe));
	WF_K8S_TRY(decode_probe(d, item, "startupProbe", true, &c->startup_probe));
	return 0;
}

/* spec.readinessGates[i]: the condition type the gate waits for. */
static int decode_readiness_gate(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	return wf_k8s_get_req_str(d, item, "conditionType", elem);
}

/* The pod spec at o (path already at it): Pod.spec or a Deployment's template spec. */
static int decode_pod_spec(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_pod_spec *s)
{
	static const char *const restart[] = {"Always", "OnFailure", "Never", NULL};
	static const char *const dns[] = {"ClusterFirst", "ClusterFirstWithHostNet", "Default",
					  "None", NULL};
	int rp = 0, dp = 0;
	const char *why;

	s->termination_grace_period_seconds = 30;
	WF_K8S_TRY(wf_k8s_get_str(d, o, "nodeName", &s->node_name));
	WF_K8S_TRY(wf_k8s_get_str(d, o, "hostname", &s->hostname));
	if (s->hostname && (why = wf_k8s_check_dns_label(s->hostname)))
		return wf_k8s_fail_key(d, "hostname", -WF_E_INVALID, "invalid hostname \"%s\": %s",
				       s->hostname, why);
	WF_K8S_TRY(wf_k8s_get_str(d, o, "subdomain", &s->subdomain));
	if (s->subdomain && (why = wf_k8s_check_dns_label(s->subdomain)))
		return wf_k8s_fail_key(d, "subdomain", -WF_E_INVALID,
				       "invalid subdomain \"%s\": %s", s->subdomain, why);
	WF_K8S_TRY(wf_k8s_get_bool(d, o, "hostNetwork", &s->host_network, NULL));
	WF_K8S_TRY(wf_k8s_get_i64(d, o, "terminationGracePeriodSeconds", 0, INT64_MAX,
				  &s->termination_grace_period_seconds, NULL));
	WF_K8S_TRY(wf_k8s_get_enum(d, o, "restartPolicy", restart, &rp));
	s->restart_policy = restart[rp];
	WF_K8S_TRY(wf_k8s_get_enum(d, o, "dnsPolicy", dns, &dp));
	s->dns_policy = dns[dp];
	WF_K8S_TRY(wf_k8s_get_str(d, o, "serviceAccountName", &s->service_account_name));
	WF_K8S_TRY(wf_k8s_get_list(d, o, "containers", sizeof(*s->containers), decode_container,
				   NULL, &s->n_containers, (void **)&s->containers));
	if (s->n_containers == 0)
		return wf_k8s_fail_key(d, "containers", -WF_E_INVALID, "required value");
	WF_K8S_TRY(wf_k8s_get_list(d, o, "initContainers", sizeof(*s->init_containers),
				   decode_container, NULL, &s->n_init_containers,
				   (void **)&s->init_containers));
	WF_K8S_TRY(wf_k8s_get_list(d, o, "readinessGates", sizeof(*s->readiness_gates),
				   decode_readiness_gate, NULL, &s->n_readiness_gates,
				   (void **)&s->readiness_gates));
	/* Container names are unique across containers and init containers; so are port names. */
	for (size_t i = 0; i < s->n_containers + s->n_init_containers; i++) {
		const struct wf_k8s_container *c =
			i < s->n_containers ? &s->containers[i]
					    : &s->init_containers[i - s->n_containers];
		for (size_t j = 0; j < i; j++) {
			const struct wf_k8s_container *e =
				j < s->n_containers ? &s->containers[j]
						    : &s->init_containers[j - s->n_containers];
			if (strcmp(c->name, e->name) != 0)
				continue;
			wf_k8s_push_key(d, i < s->n_containers ? "containers" : "initContainers");
			wf_k8s_push_index(d, i < s->n_containers ? i : i - s->n_containers);
			return wf_k8s_fail_key(d, "name", -WF_E_INVALID,
					       "duplicate container name \"%s\"", c->name);
		}
	}
	for (size_t i = 0; i < s->n_containers; i++)
		for (size_t p = 0; p < s->containers[i].n_ports; p++) {
			const char *name = s->containers[i].ports[p].name;
			if (!name)
				continue;
			for (size_t j = 0; j <= i; j++)
				for (size_t q = 0; q < s->containers[j].n_ports; q++) {
					if (j == i && q >= p)
						break;
					const char *other = s->containers[j].ports[q].name;
					if (!other || strcmp(name, other) != 0)
						continue;
					wf_k8s_push_key(d, "containers");
					wf_k8s_push_index(d, i);
					wf_k8s_push_key(d, "ports");
					wf_k8s_push_index(d, p);
					return wf_k8s_fail_key(d, "name", -WF_E_INVALID,
							       "duplicate port name \"%s\"", name);
				}
		}
	return 0;
}

/* A pod or node condition: type and status. */
static int decode_condition(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	static const char *const values[] = {"True", "False", "Unknown", NULL};
	struct wf_k8s_pod_condition *c = elem;
	int v = 2;

	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "type", &c->type));
	WF_K8S_TRY(wf_k8s_get_enum(d, item, "status", values, &v));
	c->status = v == 0 ? WF_K8S_TRUE : v == 1 ? WF_K8S_FALSE : WF_K8S_UNSET;
	return 0;
}

static int decode_pod_ip(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	bool present = false;

	WF_K8S_TRY(wf_k8s_get_ip(d, item, "ip", elem, &present));
	if (!present)
		return wf_k8s_fail_key(d, "ip", -WF_E_INVALID, "required value");
	return 0;
}

/* One of state.waiting / running / terminated (ContainerState: at most one is set). */
static int decode_container_state(struct wf_k8s_dctx *d, json_t *item,
				  struct wf_k8s_container_status *cs)
{
	json_t *state = NULL, *w = NULL, *run = NULL, *t = NULL, *last = NULL, *lt = NULL;

	WF_K8S_TRY(wf_k8s_get_obj(d, item, "state", &state));
	wf_k8s_push_key(d, "state");
	WF_K8S_TRY(wf_k8s_get_obj(d, state, "waiting", &w));
	WF_K8S_TRY(wf_k8s_get_obj(d, state, "running", &run));
	WF_K8S_TRY(wf_k8s_get_obj(d, state, "terminated", &t));
	if (w) {
		cs->state = WF_K8S_CONTAINER_WAITING;
		wf_k8s_push_key(d, "waiting");
		WF_K8S_TRY(wf_k8s_get_str(d, w, "reason", &cs->reason));
		wf_k8s_pop(d);
	} else if (run) {
		cs->state = WF_K8S_CONTAINER_RUNNING;
	} else if (t) {
		cs->state = WF_K8S_CONTAINER_TERMINATED;
		wf_k8s_push_key(d, "terminated");
		WF_K8S_TRY(wf_k8s_get_str(d, t, "reason", &cs->reason));
		WF_K8S_TRY(wf_k8s_get_i32(d, t, "exitCode", INT32_MIN, INT32_MAX, &cs->exit_code,
					  NULL));
		WF_K8S_TRY(wf_k8s_get_i32(d, t, "signal", INT32_MIN, INT32_MAX, &cs->signal, NULL));
		wf_k8s_pop(d);
	}
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "lastState", &last));
	wf_k8s_push_key(d, "lastState");
	WF_K8S_TRY(wf_k8s_get_obj(d, last, "terminated", &lt));
	wf_k8s_push_key(d, "terminated");
	WF_K8S_TRY(wf_k8s_get_time(d, lt, "finishedAt", &cs->last_finished_at));
	wf_k8s_pop(d);
	wf_k8s_pop(d);
	return 0;
}

static int decode_container_status(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_container_status *cs = elem;

	WF_K8S_TRY(wf_k8s_get_req_str(d, item, "name", &cs->name));
	WF_K8S_TRY(wf_k8s_get_bool(d, item, "ready", &cs->ready, NULL));
	WF_K8S_TRY(wf_k8s_get_i32(d, item, "restartCount", 0, INT32_MAX, &cs->restart_count, NULL));
	return decode_container_state(d, item, cs);
}

int wf_k8s_decode_pod(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_pod *pod = wf_k8s_zalloc(d, sizeof(*pod));
	json_t *spec = NULL, *status = NULL;
	struct wf_ip primary;
	bool has_primary = false;

	if (!pod)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	if (!spec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(decode_pod_spec(d, spec, &pod->spec));
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "status", &status));
	wf_k8s_push_key(d, "status");
	WF_K8S_TRY(wf_k8s_get_str(d, status, "phase", &pod->phase));
	WF_K8S_TRY(wf_k8s_get_ip(d, status, "hostIP", &pod->host_ip, &pod->has_host_ip));
	WF_K8S_TRY(wf_k8s_get_ip(d, status, "podIP", &primary, &has_primary));
	WF_K8S_TRY(wf_k8s_get_list(d, status, "podIPs", sizeof(*pod->pod_ips), decode_pod_ip, NULL,
				   &pod->n_pod_ips, (void **)&pod->pod_ips));
	if (pod->n_pod_ips == 0 && has_primary) {
		pod->pod_ips = wf_k8s_zalloc(d, sizeof(*pod->pod_ips));
		if (!pod->pod_ips)
			return wf_k8s_oom(d);
		pod->pod_ips[0] = primary;
		pod->n_pod_ips = 1;
	} else if (pod->n_pod_ips > 0 && has_primary && !wf_ip_equal(&primary, &pod->pod_ips[0])) {
		return wf_k8s_fail_key(d, "podIP", -WF_E_INVALID, "must equal podIPs[0].ip");
	}
	WF_K8S_TRY(wf_k8s_get_list(d, status, "conditions", sizeof(*pod->conditions),
				   decode_condition, NULL, &pod->n_conditions,
				   (void **)&pod->conditions));
	for (size_t i = 0; i < pod->n_conditions; i++)
		if (strcmp(pod->conditions[i].type, "Ready") == 0)
			pod->ready = pod->conditions[i].status;
	WF_K8S_TRY(wf_k8s_get_str(d, status, "reason", &pod->reason));
	WF_K8S_TRY(wf_k8s_get_str(d, status, "nominatedNodeName", &pod->nominated_node_name));
	WF_K8S_TRY(wf_k8s_get_list(d, status, "containerStatuses", sizeof(*pod->container_statuses),
				   decode_container_status, NULL, &pod->n_container_statuses,
				   (void **)&pod->container_statuses));
	wf_k8s_pop(d);
	obj->pod = pod;
	return 0;
}

/* ---- Service ---- */

struct svc_ctx {
	enum wf_k8s_service_type type;
};

static int decode_service_port(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_service_port *p = elem;
	const struct svc_ctx *sc = ctx;
	const char *why;
	bool has_node_port = false;

	p->name = "";
	WF_K8S_TRY(wf_k8s_get_str(d, item, "name", &p->name));
	if (*p->name && (why = wf_k8s_check_dns_label(p->name)))
		return wf_k8s_fail_key(d, "name", -WF_E_INVALID, "invalid port name \"%s\": %s",
				       p->name, why);
	WF_K8S_TRY(wf_k8s_get_protocol(d, item, "protocol", &p->protocol));
	WF_K8S_TRY(wf_k8s_get_port(d, item, "port", true, &p->port));
	WF_K8S_TRY(wf_k8s_get_port_or_name(d, item, "targetPort", false, &p->target_port));
	/* ServicePort: targetPort defaults to port. */
	if (!p->target_port.set)
		p->target_port = (struct wf_k8s_int_or_string){.set = true, .num = p->port};
	WF_K8S_TRY(wf_k8s_get_i32(d, item, "nodePort", 0, 65535, &p->node_port, &has_node_port));
	if (p->node_port && sc->type != WF_K8S_SVC_NODE_PORT &&
	    sc->type != WF_K8S_SVC_LOAD_BALANCER)
		return wf_k8s_fail_key(
			d, "nodePort", -WF_E_INVALID,
			"may only be used when type is 'NodePort' or 'LoadBalancer'");
	WF_K8S_TRY(wf_k8s_get_str(d, item, "appProtocol", &p->app_protocol));
	return 0;
}

static int decode_lb_ingress(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_lb_ingress *in = elem;
	struct wf_ip ip;

	WF_K8S_TRY(wf_k8s_get_str(d, item, "ip", &in->ip));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "hostname", &in->hostname));
	if (in->ip && wf_ip_parse(in->ip, &ip) < 0)
		return wf_k8s_fail_key(d, "ip", -WF_E_INVALID, "invalid IP address \"%s\"", in->ip);
	return 0;
}

static int parse_ip_list(struct wf_k8s_dctx *d, json_t *o, const char *key, size_t *ret_n,
			 struct wf_ip **ret)
{
	const char **strs = NULL;
	size_t n = 0;

	WF_K8S_TRY(wf_k8s_get_str_array(d, o, key, &n, &strs));
	WF_K8S_TRY(wf_k8s_alloc_array(d, n, sizeof(**ret), (void **)ret));
	for (size_t i = 0; i < n; i++)
		if (wf_ip_parse(strs[i], &(*ret)[i]) < 0) {
			wf_k8s_push_key(d, key);
			wf_k8s_push_index(d, i);
			return wf_k8s_fail(d, -WF_E_INVALID, "invalid IP address \"%s\"", strs[i]);
		}
	*ret_n = n;
	return 0;
}

static int decode_cluster_ips(struct wf_k8s_dctx *d, json_t *spec, struct wf_k8s_service *s)
{
	const char *ip = NULL, **ips = NULL;
	size_t n = 0;

	WF_K8S_TRY(wf_k8s_get_str(d, spec, "clusterIP", &ip));
	WF_K8S_TRY(wf_k8s_get_str_array(d, spec, "clusterIPs", &n, &ips));
	if (n > 0 && ip && *ip && strcmp(ip, ips[0]) != 0)
		return wf_k8s_fail_key(d, "clusterIPs", -WF_E_INVALID,
				       "element [0] must match clusterIP \"%s\"", ip);
	if (n == 0 && ip && *ip) {
		ips = &ip;
		n = 1;
	}
	if (n > 2)
		return wf_k8s_fail_key(d, "clusterIPs", -WF_E_INVALID,
				       "may have at most 2 entries (one per IP family)");
	if (n > 0 && strcmp(ips[0], "None") == 0) {
		if (n > 1)
			return wf_k8s_fail_key(d, "clusterIPs", -WF_E_INVALID,
					       "must be a single \"None\" for a headless service");
		s->headless = true;
		return 0;
	}
	WF_K8S_TRY(wf_k8s_alloc_array(d, n, sizeof(*s->cluster_ips), (void **)&s->cluster_ips));
	for (size_t i = 0; i < n; i++)
		if (wf_ip_parse(ips[i], &s->cluster_ips[i]) < 0) {
			if (ips == &ip)
				return wf_k8s_fail_key(
					d, "clusterIP", -WF_E_INVALID,
					"must be a valid IP address or \"None\", not \"%s\"", ip);
			wf_k8s_push_key(d, "clusterIPs");
			wf_k8s_push_index(d, i);
			return wf_k8s_fail(d, -WF_E_INVALID,
					   "must be a valid IP address or \"None\", not \"%s\"",
					   ips[i]);
		}
	if (n == 2 && s->cluster_ips[0].family == s->cluster_ips[1].family)
		return wf_k8s_fail_key(d, "clusterIPs", -WF_E_INVALID,
				       "may have at most one IP per family");
	s->n_cluster_ips = n;
	return 0;
}

static int decode_service_spec(struct wf_k8s_dctx *d, json_t *spec, struct wf_k8s_service *s)
{
	static const char *const types[] = {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName",
					    NULL};
	static const char *const affinity[] = {"None", "ClientIP", NULL};
	static const char *const policies[] = {"", "Cluster", "Local", NULL};
	static const char *const families[] = {"IPv4", "IPv6", NULL};
	static const char *const family_policies[] = {"", "SingleStack", "PreferDualStack",
						      "RequireDualStack", NULL};
	json_t *cfg = NULL, *cip = NULL;
	struct svc_ctx sc;
	int type = 0, aff = 0, etp = 0, itp = 0, fp = 0;
	bool has_etp, has_itp, cfg_set = false;
	const char **fams = NULL, **ranges = NULL;
	size_t n_fams = 0, n_ranges = 0;
	const char *why;

	WF_K8S_TRY(wf_k8s_get_enum(d, spec, "type", types, &type));
	s->type = (enum wf_k8s_service_type)type;
	sc.type = s->type;
	WF_K8S_TRY(decode_cluster_ips(d, spec, s));
	WF_K8S_TRY(wf_k8s_get_list(d, spec, "ports", sizeof(*s->ports), decode_service_port, &sc,
				   &s->n_ports, (void **)&s->ports));
	if (s->n_ports == 0 && !s->headless && s->type != WF_K8S_SVC_EXTERNAL_NAME)
		return wf_k8s_fail_key(d, "ports", -WF_E_INVALID, "required value");
	/* Service validation: names required with several ports, unique; (port, protocol)
	 * unique. */
	for (size_t i = 0; i < s->n_ports; i++) {
		if (s->n_ports > 1 && !*s->ports[i].name) {
			wf_k8s_push_key(d, "ports");
			wf_k8s_push_index(d, i);
			return wf_k8s_fail_key(
				d, "name", -WF_E_INVALID,
				"required value (a service with several ports names each)");
		}
		for (size_t j = 0; j < i; j++) {
			if (*s->ports[i].name && strcmp(s->ports[i].name, s->ports[j].name) == 0) {
				wf_k8s_push_key(d, "ports");
				wf_k8s_push_index(d, i);
				return wf_k8s_fail_key(d, "name", -WF_E_INVALID,
						       "duplicate value \"%s\"", s->ports[i].name);
			}
			if (s->ports[i].port == s->ports[j].port &&
			    s->ports[i].protocol == s->ports[j].protocol) {
				wf_k8s_push_key(d, "ports");
				wf_k8s_push_index(d, i);
				return wf_k8s_fail(d, -WF_E_INVALID,
						   "duplicate port %d/%s (same as ports[%zu])",
						   s->ports[i].port,
						   wf_k8s_protocol_name(s->ports[i].protocol), j);
			}
			if (s->ports[i].node_port &&
			    s->ports[i].node_port == s->ports[j].node_port &&
			    s->ports[i].protocol == s->ports[j].protocol) {
				wf_k8s_push_key(d, "ports");
				wf_k8s_push_index(d, i);
				return wf_k8s_fail_key(d, "nodePort", -WF_E_INVALID,
						       "duplicate value %d", s->ports[i].node_port);
			}
		}
	}
	WF_K8S_TRY(wf_k8s_get_map(d, spec, "selector", WF_K8S_MAP_LABELS, &s->selector));
	s->has_selector = s->selector.n > 0;
	WF_K8S_TRY(wf_k8s_get_str(d, spec, "externalName", &s->external_name));
	if (s->type == WF_K8S_SVC_EXTERNAL_NAME) {
		if (!s->external_name || !*s->external_name)
			return wf_k8s_fail_key(d, "externalName", -WF_E_INVALID, "required value");
		/* A trailing dot (absolute name) is allowed. */
		char *name = wf_k8s_dup(d, s->external_name);
		if (!name)
			return wf_k8s_oom(d);
		size_t l = strlen(name);
		if (l > 1 && name[l - 1] == '.')
			name[l - 1] = '\0';
		if ((why = wf_k8s_check_dns_subdomain(name)))
			return wf_k8s_fail_key(d, "externalName", -WF_E_INVALID,
					       "invalid name \"%s\": %s", s->external_name, why);
	}
	WF_K8S_TRY(parse_ip_list(d, spec, "externalIPs", &s->n_external_ips, &s->external_ips));

	WF_K8S_TRY(wf_k8s_get_enum(d, spec, "sessionAffinity", affinity, &aff));
	s->session_affinity_client_ip = aff == 1;
	WF_K8S_TRY(wf_k8s_get_obj(d, spec, "sessionAffinityConfig", &cfg));
	if (cfg) {
		wf_k8s_push_key(d, "sessionAffinityConfig");
		WF_K8S_TRY(wf_k8s_get_obj(d, cfg, "clientIP", &cip));
		wf_k8s_push_key(d, "clientIP");
		s->session_affinity_timeout = 10800;
		WF_K8S_TRY(wf_k8s_get_i32(d, cip, "timeoutSeconds", 1, 86400,
					  &s->session_affinity_timeout, &cfg_set));
		wf_k8s_pop(d);
		wf_k8s_pop(d);
		if (!s->session_affinity_client_ip && cip)
			return wf_k8s_fail_key(d, "sessionAffinityConfig", -WF_E_INVALID,
					       "must not be set when sessionAffinity is None");
	}
	/* SetDefaults_Service: ClientIP affinity times out after 3 hours by default. */
	if (s->session_affinity_client_ip && !cfg_set)
		s->session_affinity_timeout = 10800;

	has_etp = json_object_get(spec, "externalTrafficPolicy") &&
		  !json_is_null(json_object_get(spec, "externalTrafficPolicy"));
	has_itp = json_object_get(spec, "internalTrafficPolicy") &&
		  !json_is_null(json_object_get(spec, "internalTrafficPolicy"));
	WF_K8S_TRY(wf_k8s_get_enum(d, spec, "externalTrafficPolicy", policies, &etp));
	WF_K8S_TRY(wf_k8s_get_enum(d, spec, "internalTrafficPolicy", policies, &itp));
	bool external = s->type == WF_K8S_SVC_NODE_PORT || s->type == WF_K8S_SVC_LOAD_BALANCER;
	if (has_etp && etp && !external)
		return wf_k8s_fail_key(d, "externalTrafficPolicy", -WF_E_INVALID,
				       "may only be set for externally-accessible services");
	/* Defaults: externalTrafficPolicy Cluster for NodePort/LoadBalancer, internal Cluster. */
	s->external_traffic_policy =
		external ? (etp ? (enum wf_k8s_traffic_policy)etp : WF_K8S_POLICY_CLUSTER)
			 : WF_K8S_POLICY_UNSET;
	if (s->type != WF_K8S_SVC_EXTERNAL_NAME)
		s->internal_traffic_policy =
			has_itp && itp ? (enum wf_k8s_traffic_policy)itp : WF_K8S_POLICY_CLUSTER;
	WF_K8S_TRY(wf_k8s_get_i32(d, spec, "healthCheckNodePort", 0, 65535,
				  &s->health_check_node_port, NULL));
	if (s->health_check_node_port && !(s->type == WF_K8S_SVC_LOAD_BALANCER &&
					   s->external_traffic_policy == WF_K8S_POLICY_LOCAL))
		return wf_k8s_fail_key(
			d, "healthCheckNodePort", -WF_E_INVALID,
			"may only be set when type is 'LoadBalancer' and externalTrafficPolicy is 'Local'");
	WF_K8S_TRY(wf_k8s_get_bool(d, spec, "publishNotReadyAddresses",
				   &s->publish_not_ready_addresses, NULL));

	WF_K8S_TRY(wf_k8s_get_str_array(d, spec, "ipFamilies", &n_fams, &fams));
	if (n_fams > 2)
		return wf_k8s_fail_key(d, "ipFamilies", -WF_E_INVALID,
				       "may have at most 2 entries");
	WF_K8S_TRY(wf_k8s_alloc_array(d, n_fams, sizeof(int), (void **)&s->ip_families));
	for (size_t i = 0; i < n_fams; i++) {
		int f = -1;
		for (int k = 0; families[k]; k++)
			if (strcmp(fams[i], families[k]) == 0)
				f = k;
		if (f < 0 || (i == 1 && s->ip_families[0] == (f ? AF_INET6 : AF_INET))) {
			wf_k8s_push_key(d, "ipFamilies");
			wf_k8s_push_index(d, i);
			return wf_k8s_fail(
				d, -WF_E_INVALID,
				f < 0 ? "unsupported value \"%s\": supported values: \"IPv4\", \"IPv6\""
				      : "duplicate value \"%s\"",
				fams[i]);
		}
		s->ip_families[i] = f ? AF_INET6 : AF_INET;
	}
	s->n_ip_families = n_fams;
	WF_K8S_TRY(wf_k8s_get_enum(d, spec, "ipFamilyPolicy", family_policies, &fp));
	s->ip_family_policy = (enum wf_k8s_ip_family_policy)fp;

	WF_K8S_TRY(wf_k8s_get_ip(d, spec, "loadBalancerIP", &s->load_balancer_ip,
				 &s->has_load_balancer_ip));
	WF_K8S_TRY(wf_k8s_get_str_array(d, spec, "loadBalancerSourceRanges", &n_ranges, &ranges));
	WF_K8S_TRY(wf_k8s_alloc_array(d, n_ranges, sizeof(*s->load_balancer_source_ranges),
				      (void **)&s->load_balancer_source_ranges));
	for (size_t i = 0; i < n_ranges; i++)
		if (wf_cidr_parse(ranges[i], false, &s->load_balancer_source_ranges[i]) < 0) {
			wf_k8s_push_key(d, "loadBalancerSourceRanges");
			wf_k8s_push_index(d, i);
			return wf_k8s_fail(d, -WF_E_INVALID, "invalid CIDR \"%s\"", ranges[i]);
		}
	s->n_load_balancer_source_ranges = n_ranges;
	s->allocate_load_balancer_node_ports = s->type == WF_K8S_SVC_LOAD_BALANCER;
	WF_K8S_TRY(wf_k8s_get_bool(d, spec, "allocateLoadBalancerNodePorts",
				   &s->allocate_load_balancer_node_ports, NULL));
	WF_K8S_TRY(wf_k8s_get_str(d, spec, "loadBalancerClass", &s->load_balancer_class));
	if (s->load_balancer_class && s->type != WF_K8S_SVC_LOAD_BALANCER)
		return wf_k8s_fail_key(d, "loadBalancerClass", -WF_E_INVALID,
				       "may only be used when type is 'LoadBalancer'");
	WF_K8S_TRY(wf_k8s_get_str(d, spec, "trafficDistribution", &s->traffic_distribution));
	return 0;
}

int wf_k8s_decode_service(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_service *s = wf_k8s_zalloc(d, sizeof(*s));
	json_t *spec = NULL, *status = NULL, *lb = NULL;

	if (!s)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	if (!spec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(decode_service_spec(d, spec, s));
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "status", &status));
	wf_k8s_push_key(d, "status");
	WF_K8S_TRY(wf_k8s_get_obj(d, status, "loadBalancer", &lb));
	wf_k8s_push_key(d, "loadBalancer");
	WF_K8S_TRY(wf_k8s_get_list(d, lb, "ingress", sizeof(*s->lb_ingress), decode_lb_ingress,
				   NULL, &s->n_lb_ingress, (void **)&s->lb_ingress));
	wf_k8s_pop(d);
	wf_k8s_pop(d);
	obj->service = s;
	return 0;
}

/* ---- EndpointSlice ---- */

struct eps_ctx {
	enum wf_k8s_address_type type;
};

static int decode_zone_hint(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	return wf_k8s_get_req_str(d, item, "name", elem);
}

static int decode_endpoint(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_endpoint *e = elem;
	const struct eps_ctx *ec = ctx;
	json_t *cond = NULL, *hints = NULL, *ref = NULL;
	const char *why;

	WF_K8S_TRY(wf_k8s_get_str_array(d, item, "addresses", &e->n_addresses, &e->addresses));
	if (e->n_addresses == 0 || e->n_addresses > 100)
		return wf_k8s_fail_key(d, "addresses", -WF_E_INVALID,
				       e->n_addresses ? "must have at most 100 items"
						      : "must contain at least 1 address");
	if (ec->type != WF_K8S_ADDR_FQDN) {
		WF_K8S_TRY(
			wf_k8s_alloc_array(d, e->n_addresses, sizeof(*e->ips), (void **)&e->ips));
		for (size_t i = 0; i < e->n_addresses; i++) {
			int want = ec->type == WF_K8S_ADDR_IPV4 ? AF_INET : AF_INET6;
			if (wf_ip_parse(e->addresses[i], &e->ips[i]) < 0 ||
			    e->ips[i].family != want) {
				wf_k8s_push_key(d, "addresses");
				wf_k8s_push_index(d, i);
				return wf_k8s_fail(
					d, -WF_E_INVALID, "must be a valid %s address, not \"%s\"",
					want == AF_INET ? "IPv4" : "IPv6", e->addresses[i]);
			}
		}
	} else {
		for (size_t i = 0; i < e->n_addresses; i++)
			if ((why = wf_k8s_check_dns_subdomain(e->addresses[i]))) {
				wf_k8s_push_key(d, "addresses");
				wf_k8s_push_index(d, i);
				return wf_k8s_fail(d, -WF_E_INVALID, "invalid FQDN \"%s\": %s",
						   e->addresses[i], why);
			}
	}
	/* EndpointConditions are pointers: unset is kept apart from false. */
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "conditions", &cond));
	wf_k8s_push_key(d, "conditions");
	WF_K8S_TRY(wf_k8s_get_tristate(d, cond, "ready", &e->ready));
	WF_K8S_TRY(wf_k8s_get_tristate(d, cond, "serving", &e->serving));
	WF_K8S_TRY(wf_k8s_get_tristate(d, cond, "terminating", &e->terminating));
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_str(d, item, "hostname", &e->hostname));
	if (e->hostname && (why = wf_k8s_check_dns_label(e->hostname)))
		return wf_k8s_fail_key(d, "hostname", -WF_E_INVALID, "invalid hostname \"%s\": %s",
				       e->hostname, why);
	WF_K8S_TRY(wf_k8s_get_str(d, item, "nodeName", &e->node_name));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "zone", &e->zone));
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "hints", &hints));
	wf_k8s_push_key(d, "hints");
	WF_K8S_TRY(wf_k8s_get_list(d, hints, "forZones", sizeof(*e->hint_zones), decode_zone_hint,
				   NULL, &e->n_hint_zones, (void **)&e->hint_zones));
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, item, "targetRef", &ref));
	if (ref) {
		e->has_target_ref = true;
		wf_k8s_push_key(d, "targetRef");
		WF_K8S_TRY(wf_k8s_get_str(d, ref, "kind", &e->target_ref.kind));
		WF_K8S_TRY(wf_k8s_get_str(d, ref, "namespace", &e->target_ref.namespace));
		WF_K8S_TRY(wf_k8s_get_str(d, ref, "name", &e->target_ref.name));
		WF_K8S_TRY(wf_k8s_get_str(d, ref, "uid", &e->target_ref.uid));
		wf_k8s_pop(d);
	}
	return 0;
}

static int decode_endpoint_port(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_endpoint_port *p = elem;
	const char *why;

	WF_K8S_TRY(wf_k8s_get_str(d, item, "name", &p->name));
	if (p->name && *p->name && (why = wf_k8s_check_dns_label(p->name)))
		return wf_k8s_fail_key(d, "name", -WF_E_INVALID, "invalid port name \"%s\": %s",
				       p->name, why);
	WF_K8S_TRY(wf_k8s_get_protocol(d, item, "protocol", &p->protocol));
	WF_K8S_TRY(wf_k8s_get_i32(d, item, "port", 1, 65535, &p->port, &p->has_port));
	WF_K8S_TRY(wf_k8s_get_str(d, item, "appProtocol", &p->app_protocol));
	return 0;
}

int wf_k8s_decode_endpointslice(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	static const char *const types[] = {"IPv4", "IPv6", "FQDN", NULL};
	struct wf_k8s_endpointslice *s = wf_k8s_zalloc(d, sizeof(*s));
	struct eps_ctx ec;
	int type = -1;

	if (!s)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_enum(d, o, "addressType", types, &type));
	if (type < 0)
		return wf_k8s_fail_key(d, "addressType", -WF_E_INVALID, "required value");
	s->address_type = (enum wf_k8s_address_type)type;
	ec.type = s->address_type;
	WF_K8S_TRY(wf_k8s_get_list(d, o, "endpoints", sizeof(*s->endpoints), decode_endpoint, &ec,
				   &s->n_endpoints, (void **)&s->endpoints));
	if (s->n_endpoints > 1000)
		return wf_k8s_fail_key(d, "endpoints", -WF_E_INVALID,
				       "must have at most 1000 items");
	WF_K8S_TRY(wf_k8s_get_list(d, o, "ports", sizeof(*s->ports), decode_endpoint_port, NULL,
				   &s->n_ports, (void **)&s->ports));
	if (s->n_ports > 100)
		return wf_k8s_fail_key(d, "ports", -WF_E_INVALID, "must have at most 100 items");
	for (size_t i = 0; i < s->n_ports; i++)
		for (size_t j = 0; j < i; j++)
			if (s->ports[i].name && s->ports[j].name &&
			    strcmp(s->ports[i].name, s->ports[j].name) == 0) {
				wf_k8s_push_key(d, "ports");
				wf_k8s_push_index(d, i);
				return wf_k8s_fail_key(d, "name", -WF_E_INVALID,
						       "duplicate value \"%s\"", s->ports[i].name);
			}
	s->service_name = wf_k8s_map_get(&obj->labels, "kubernetes.io/service-name");
	obj->endpointslice = s;
	return 0;
}

/* ---- NetworkPolicy ---- */

static int decode_ip_block(struct wf_k8s_dctx *d, json_t *peer, struct wf_k8s_netpol_peer *p)
{
	json_t *o = NULL;
	const char *cidr = NULL, **except = NULL;
	struct wf_k8s_ip_block *b;
	size_t n = 0;

	WF_K8S_TRY(wf_k8s_get_obj(d, peer, "ipBlock", &o));
	if (!o)
		return 0;
	b = wf_k8s_zalloc(d, sizeof(*b));
	if (!b)
		return wf_k8s_oom(d);
	wf_k8s_push_key(d, "ipBlock");
	WF_K8S_TRY(wf_k8s_get_req_str(d, o, "cidr", &cidr));
	if (wf_cidr_parse(cidr, false, &b->cidr) < 0)
		return wf_k8s_fail_key(d, "cidr", -WF_E_INVALID, "invalid CIDR \"%s\"", cidr);
	wf_cidr_network(&b->cidr, &b->cidr.ip);
	WF_K8S_TRY(wf_k8s_get_str_array(d, o, "except", &n, &except));
	WF_K8S_TRY(wf_k8s_alloc_array(d, n, sizeof(*b->except), (void **)&b->except));
	for (size_t i = 0; i < n; i++) {
		struct wf_cidr *e = &b->except[i];
		bool ok = wf_cidr_parse(except[i], false, e) == 0;
		if (ok)
			wf_cidr_network(e, &e->ip);
		/* IPBlock: each except must be a strict subset of cidr. */
		bool inside = ok && e->ip.family == b->cidr.ip.family &&
			      e->prefix > b->cidr.prefix && wf_cidr_contains(&b->cidr, &e->ip);
		if (!inside) {
			wf_k8s_push_key(d, "except");
			wf_k8s_push_index(d, i);
			return wf_k8s_fail(d, -WF_E_INVALID,
					   ok ? "\"%s\" must be a strict subset of cidr \"%s\""
					      : "invalid CIDR \"%s\"",
					   except[i], cidr);
		}
	}
	b->n_except = n;
	wf_k8s_pop(d);
	p->ip_block = b;
	return 0;
}

static int decode_peer(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_netpol_peer *p = elem;

	WF_K8S_TRY(wf_k8s_get_selector(d, item, "podSelector", &p->pod_selector));
	WF_K8S_TRY(wf_k8s_get_selector(d, item, "namespaceSelector", &p->namespace_selector));
	WF_K8S_TRY(decode_ip_block(d, item, p));
	bool sel = p->pod_selector.present || p->namespace_selector.present;
	if (p->ip_block && sel)
		return wf_k8s_fail(
			d, -WF_E_INVALID,
			"may not specify ipBlock together with podSelector or namespaceSelector");
	if (!p->ip_block && !sel)
		return wf_k8s_fail(
			d, -WF_E_INVALID,
			"must specify a peer: podSelector, namespaceSelector or ipBlock");
	return 0;
}

static int decode_policy_port(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_netpol_port *p = elem;
	bool has_end = false;

	WF_K8S_TRY(wf_k8s_get_protocol(d, item, "protocol", &p->protocol));
	WF_K8S_TRY(wf_k8s_get_port_or_name(d, item, "port", false, &p->port));
	WF_K8S_TRY(wf_k8s_get_i32(d, item, "endPort", 1, 65535, &p->end_port, &has_end));
	/* NetworkPolicyPort: endPort needs a numeric port and may not be below it. */
	if (has_end && (!p->port.set || p->port.is_str))
		return wf_k8s_fail_key(d, "endPort", -WF_E_INVALID,
				       "may not be specified when port is not a number");
	if (has_end && p->end_port < p->port.num)
		return wf_k8s_fail_key(d, "endPort", -WF_E_INVALID,
				       "must be greater than or equal to port (%d)", p->port.num);
	return 0;
}

static int decode_rule(struct wf_k8s_dctx *d, json_t *item, void *elem, void *ctx)
{
	struct wf_k8s_netpol_rule *rule = elem;
	const char *peers = ctx;

	WF_K8S_TRY(wf_k8s_get_list(d, item, peers, sizeof(*rule->peers), decode_peer, NULL,
				   &rule->n_peers, (void **)&rule->peers));
	WF_K8S_TRY(wf_k8s_get_list(d, item, "ports", sizeof(*rule->ports), decode_policy_port, NULL,
				   &rule->n_ports, (void **)&rule->ports));
	return 0;
}

int wf_k8s_decode_networkpolicy(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_networkpolicy *np = wf_k8s_zalloc(d, sizeof(*np));
	json_t *spec = NULL, *types = NULL, *egress = NULL;
	const char **pt = NULL;
	size_t n_pt = 0;

	if (!np)
		return wf_k8s_oom(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	if (!spec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	/* spec.podSelector is a struct, not a pointer: absent is {} (every pod). */
	np->pod_selector.present = true;
	WF_K8S_TRY(wf_k8s_get_selector(d, spec, "podSelector", &np->pod_selector));
	WF_K8S_TRY(wf_k8s_get_list(d, spec, "ingress", sizeof(*np->ingress), decode_rule, "from",
				   &np->n_ingress, (void **)&np->ingress));
	WF_K8S_TRY(wf_k8s_get_list(d, spec, "egress", sizeof(*np->egress), decode_rule, "to",
				   &np->n_egress, (void **)&np->egress));
	WF_K8S_TRY(wf_k8s_get_arr(d, spec, "policyTypes", &types));
	WF_K8S_TRY(wf_k8s_get_str_array(d, spec, "policyTypes", &n_pt, &pt));
	if (types && n_pt > 0) {
		for (size_t i = 0; i < n_pt; i++) {
			bool in = strcmp(pt[i], "Ingress") == 0, eg = strcmp(pt[i], "Egress") == 0;
			if ((!in && !eg) || (in && np->policy_ingress) ||
			    (eg && np->policy_egress)) {
				wf_k8s_push_key(d, "policyTypes");
				wf_k8s_push_index(d, i);
				return wf_k8s_fail(
					d, -WF_E_INVALID,
					in || eg
						? "duplicate value \"%s\""
						: "unsupported value \"%s\": supported values: \"Ingress\", \"Egress\"",
					pt[i]);
			}
			np->policy_ingress |= in;
			np->policy_egress |= eg;
		}
	} else {
		/* policyTypes unset: Ingress always, Egress when the policy has egress rules
		 * (the field's presence counts, even an empty list). */
		WF_K8S_TRY(wf_k8s_get_arr(d, spec, "egress", &egress));
		np->policy_ingress = true;
		np->policy_egress = egress != NULL;
	}
	wf_k8s_pop(d);
	obj->networkpolicy = np;
	return 0;
}

/* ---- Deployment ---- */

int wf_k8s_decode_deployment(struct wf_k8s_dctx *d, json_t *o, struct wf_k8s_object *obj)
{
	struct wf_k8s_deployment *dep = wf_k8s_zalloc(d, sizeof(*dep));
	json_t *spec = NULL, *tmpl = NULL, *md = NULL, *pspec = NULL, *status = NULL;

	if (!dep)
		return wf_k8s_oom(d);
	dep->replicas = 1;
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "spec", &spec));
	if (!spec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(wf_k8s_get_i32(d, spec, "replicas", 0, INT32_MAX, &dep->replicas, NULL));
	WF_K8S_TRY(wf_k8s_get_selector(d, spec, "selector", &dep->selector));
	/* apps/v1: the selector is required and may not be empty. */
	if (!dep->selector.present ||
	    (dep->selector.match_labels.n == 0 && dep->selector.n_exprs == 0))
		return wf_k8s_fail_key(d, "selector", -WF_E_INVALID,
				       dep->selector.present
					       ? "empty selector is invalid for deployment"
					       : "required value");
	WF_K8S_TRY(wf_k8s_get_obj(d, spec, "template", &tmpl));
	if (!tmpl)
		return wf_k8s_fail_key(d, "template", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "template");
	WF_K8S_TRY(wf_k8s_get_obj(d, tmpl, "metadata", &md));
	wf_k8s_push_key(d, "metadata");
	WF_K8S_TRY(wf_k8s_get_map(d, md, "labels", WF_K8S_MAP_LABELS, &dep->template_labels));
	WF_K8S_TRY(wf_k8s_get_map(d, md, "annotations", WF_K8S_MAP_ANNOTATIONS,
				  &dep->template_annotations));
	if (!wf_k8s_selector_matches(&dep->selector, &dep->template_labels))
		return wf_k8s_fail_key(d, "labels", -WF_E_INVALID,
				       "`selector` does not match template `labels`");
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, tmpl, "spec", &pspec));
	if (!pspec)
		return wf_k8s_fail_key(d, "spec", -WF_E_INVALID, "required value");
	wf_k8s_push_key(d, "spec");
	WF_K8S_TRY(decode_pod_spec(d, pspec, &dep->template_spec));
	if (strcmp(dep->template_spec.restart_policy, "Always") != 0)
		return wf_k8s_fail_key(d, "restartPolicy", -WF_E_INVALID,
				       "unsupported value \"%s\": supported values: \"Always\"",
				       dep->template_spec.restart_policy);
	wf_k8s_pop(d);
	wf_k8s_pop(d);
	wf_k8s_pop(d);
	WF_K8S_TRY(wf_k8s_get_obj(d, o, "status", &status));
	wf_k8s_push_key(d, "status");
	WF_K8S_TRY(
		wf_k8s_get_i32(d, status, "replicas", 0, INT32_MAX, &dep->status_replicas, NULL));
	WF_K8S_TRY(wf_k8s_get_i32(d, status, "readyReplicas", 0, INT32_MAX, &dep->ready_replicas,
				  NULL));
	WF_K8S_TRY(wf_k8s_get_i32(d, status, "updatedReplicas", 0, INT32_MAX,
				  &dep->updated_replicas, NULL));
	WF_K8S_TRY(wf_k8s_get_i32(d, status, "availableReplicas", 0, INT32_MAX,
				  &dep->available_replicas, NULL));
	wf_k8s_pop(d);
	obj->deployment = dep;
	return 0;
}
