/* weft get -o json|yaml: the objects as weft understood them (defaults applied), in the
 * Kubernetes field names. Secret values are never printed, only their sizes. */
#include "cli/get.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "k8s/object.h"
#include "k8s/print.h"
#include "lib/ip.h"

/* json_object_set_new with NULL-safety: a NULL value (out of memory) is skipped; the final
 * dump then fails on the missing parts only in pathological cases, which the caller reports. */
static void set(json_t *o, const char *k, json_t *v)
{
	if (o && v)
		json_object_set_new(o, k, v);
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		set(o, k, json_string(v));
}

/* metav1.Time as the API server writes it: "2024-05-01T10:00:00Z". */
static json_t *time_json(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];

	if (!gmtime_r(&tt, &tm) || !strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return NULL;
	return json_string(s);
}

static json_t *ip_json(const struct wf_ip *ip)
{
	char s[WF_IP_STRLEN];
	return json_string(wf_ip_format(ip, s));
}

static json_t *ips_json(size_t n, const struct wf_ip *ips)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, ip_json(&ips[i]));
	return a;
}

static json_t *cidrs_json(size_t n, const struct wf_cidr *c)
{
	char s[WF_CIDR_STRLEN];
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(wf_cidr_format(&c[i], s)));
	return a;
}

static json_t *strs_json(size_t n, const char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *map_json(const struct wf_k8s_map *m)
{
	json_t *o = json_object();
	for (size_t i = 0; i < m->n; i++)
		set_str(o, m->items[i].key, m->items[i].value);
	return o;
}

static json_t *intstr_json(const struct wf_k8s_int_or_string *v)
{
	if (!v->set)
		return NULL;
	return v->is_str ? json_string(v->str) : json_integer(v->num);
}

static const char *proto(enum wf_k8s_protocol p)
{
	return wf_k8s_protocol_name(p);
}

static json_t *selector_json(const struct wf_k8s_selector *s)
{
	if (!s->present)
		return json_null();
	json_t *o = json_object();
	if (s->match_labels.n)
		set(o, "matchLabels", map_json(&s->match_labels));
	if (s->n_exprs) {
		static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist"};
		json_t *a = json_array();
		for (size_t i = 0; i < s->n_exprs; i++) {
			const struct wf_k8s_selector_req *r = &s->exprs[i];
			json_t *e = json_object();
			set_str(e, "key", r->key);
			set_str(e, "operator", ops[r->op]);
			if (r->n_values)
				set(e, "values", strs_json(r->n_values, r->values));
			json_array_append_new(a, e);
		}
		set(o, "matchExpressions", a);
	}
	return o;
}

static void service_json(json_t *spec, json_t *status, const struct wf_k8s_service *s)
{
	static const char *const types[] = {"ClusterIP", "NodePort", "LoadBalancer",
					    "ExternalName"};
	static const char *const policies[] = {NULL, "Cluster", "Local"};
	static const char *const fam[] = {NULL, "SingleStack", "PreferDualStack",
					  "RequireDualStack"};
	set_str(spec, "type", types[s->type]);
	if (s->headless) {
		set_str(spec, "clusterIP", "None");
	} else if (s->n_cluster_ips) {
		set(spec, "clusterIP", ip_json(&s->cluster_ips[0]));
		set(spec, "clusterIPs", ips_json(s->n_cluster_ips, s->cluster_ips));
	}
	if (s->n_ip_families) {
		json_t *a = json_array();
		for (size_t i = 0; i < s->n_ip_families; i++)
			json_array_append_new(
				a, json_string(s->ip_families[i] == AF_INET6 ? "IPv6" : "IPv4"));
		set(spec, "ipFamilies", a);
	}
	set_str(spec, "ipFamilyPolicy", fam[s->ip_family_policy]);
	json_t *ports = json_array();
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct wf_k8s_service_port *p = &s->ports[i];
		json_t *o = json_object();
		if (p->name && *p->name)
			set_str(o, "name", p->name);
		set_str(o, "protocol", proto(p->protocol));
		set(o, "port", json_integer(p->port));
		set(o, "targetPort", intstr_json(&p->target_port));
		if (p->node_port)
			set(o, "nodePort", json_integer(p->node_port));
		set_str(o, "appProtocol", p->app_protocol);
		json_array_append_new(ports, o);
	}
	set(spec, "ports", ports);
	if (s->has_selector)
		set(spec, "selector", map_json(&s->selector));
	set_str(spec, "externalName", s->external_name);
	if (s->n_external_ips)
		set(spec, "externalIPs", ips_json(s->n_external_ips, s->external_ips));
	set_str(spec, "sessionAffinity", s->session_affinity_client_ip ? "ClientIP" : "None");
	if (s->session_affinity_client_ip)
		set(spec, "sessionAffinityConfig",
		    json_pack("{s:{s:i}}", "clientIP", "timeoutSeconds",
			      s->session_affinity_timeout));
	set_str(spec, "externalTrafficPolicy", policies[s->external_traffic_policy]);
	set_str(spec, "internalTrafficPolicy", policies[s->internal_traffic_policy]);
	if (s->health_check_node_port)
		set(spec, "healthCheckNodePort", json_integer(s->health_check_node_port));
	if (s->publish_not_ready_addresses)
		set(spec, "publishNotReadyAddresses", json_true());
	if (s->has_load_balancer_ip)
		set(spec, "loadBalancerIP", ip_json(&s->load_balancer_ip));
	if (s->n_load_balancer_source_ranges)
		set(spec, "loadBalancerSourceRanges",
		    cidrs_json(s->n_load_balancer_source_ranges, s->load_balancer_source_ranges));
	set_str(spec, "loadBalancerClass", s->load_balancer_class);
	set_str(spec, "trafficDistribution", s->traffic_distribution);
	if (s->n_lb_ingress) {
		json_t *a = json_array();
		for (size_t i = 0; i < s->n_lb_ingress; i++) {
			json_t *o = json_object();
			set_str(o, "ip", s->lb_ingress[i].ip);
			set_str(o, "hostname", s->lb_ingress[i].hostname);
			json_array_append_new(a, o);
		}
		set(status, "loadBalancer", json_pack("{s:o}", "ingress", a));
	}
}

static json_t *container_json(const struct wf_k8s_container *c)
{
	json_t *o = json_object();
	set_str(o, "name", c->name);
	set_str(o, "image", c->image);
	if (c->n_command)
		set(o, "command", strs_json(c->n_command, c->command));
	if (c->n_args)
		set(o, "args", strs_json(c->n_args, c->args));
	if (c->n_ports) {
		json_t *a = json_array();
		for (size_t i = 0; i < c->n_ports; i++) {
			const struct wf_k8s_container_port *p = &c->ports[i];
			json_t *po = json_object();
			set_str(po, "name", p->name);
			set(po, "containerPort", json_integer(p->container_port));
			set_str(po, "protocol", proto(p->protocol));
			if (p->host_port)
				set(po, "hostPort", json_integer(p->host_port));
			set_str(po, "hostIP", p->host_ip);
			json_array_append_new(a, po);
		}
		set(o, "ports", a);
	}
	return o;
}

static void pod_spec_json(json_t *spec, const struct wf_k8s_pod_spec *p)
{
	set_str(spec, "nodeName", p->node_name);
	set_str(spec, "hostname", p->hostname);
	set_str(spec, "subdomain", p->subdomain);
	if (p->host_network)
		set(spec, "hostNetwork", json_true());
	set_str(spec, "dnsPolicy", p->dns_policy);
	set_str(spec, "restartPolicy", p->restart_policy);
	json_t *a = json_array();
	for (size_t i = 0; i < p->n_containers; i++)
		json_array_append_new(a, container_json(&p->containers[i]));
	set(spec, "containers", a);
}

static void pod_json(json_t *spec, json_t *status, const struct wf_k8s_pod *p)
{
	pod_spec_json(spec, &p->spec);
	set_str(status, "phase", p->phase);
	if (p->has_host_ip)
		set(status, "hostIP", ip_json(&p->host_ip));
	if (p->n_pod_ips) {
		set(status, "podIP", ip_json(&p->pod_ips[0]));
		json_t *a = json_array();
		for (size_t i = 0; i < p->n_pod_ips; i++)
			json_array_append_new(a, json_pack("{s:o}", "ip", ip_json(&p->pod_ips[i])));
		set(status, "podIPs", a);
	}
	if (p->ready != WF_K8S_UNSET)
		set(status, "conditions",
		    json_pack("[{s:s,s:s}]", "type", "Ready", "status",
			      p->ready == WF_K8S_TRUE ? "True" : "False"));
	set_str(status, "reason", p->reason);
	set_str(status, "nominatedNodeName", p->nominated_node_name);
	if (p->n_container_statuses) {
		static const char *const states[] = {NULL, "waiting", "running", "terminated"};
		json_t *a = json_array();

		for (size_t i = 0; i < p->n_container_statuses; i++) {
			const struct wf_k8s_container_status *c = &p->container_statuses[i];
			json_t *cs = json_pack("{s:s,s:b,s:i}", "name", c->name, "ready", c->ready,
					       "restartCount", c->restart_count);
			json_t *st = json_object();

			if (c->state != WF_K8S_CONTAINER_UNSET) {
				json_t *x = json_object();

				set_str(x, "reason", c->reason);
				if (c->state == WF_K8S_CONTAINER_TERMINATED)
					set(x, "exitCode", json_integer(c->exit_code));
				set(st, states[c->state], x);
			}
			set(cs, "state", st);
			json_array_append_new(a, cs);
		}
		set(status, "containerStatuses", a);
	}
}

static void endpointslice_json(json_t *o, const struct wf_k8s_endpointslice *e)
{
	static const char *const types[] = {"IPv4", "IPv6", "FQDN"};
	set_str(o, "addressType", types[e->address_type]);
	json_t *eps = json_array();
	for (size_t i = 0; i < e->n_endpoints; i++) {
		const struct wf_k8s_endpoint *ep = &e->endpoints[i];
		json_t *x = json_object(), *cond = json_object();
		set(x, "addresses", strs_json(ep->n_addresses, ep->addresses));
		if (ep->ready)
			set(cond, "ready", json_boolean(ep->ready == WF_K8S_TRUE));
		if (ep->serving)
			set(cond, "serving", json_boolean(ep->serving == WF_K8S_TRUE));
		if (ep->terminating)
			set(cond, "terminating", json_boolean(ep->terminating == WF_K8S_TRUE));
		set(x, "conditions", cond);
		set_str(x, "hostname", ep->hostname);
		set_str(x, "nodeName", ep->node_name);
		set_str(x, "zone", ep->zone);
		if (ep->has_target_ref) {
			json_t *t = json_object();
			set_str(t, "kind", ep->target_ref.kind);
			set_str(t, "namespace", ep->target_ref.namespace);
			set_str(t, "name", ep->target_ref.name);
			set_str(t, "uid", ep->target_ref.uid);
			set(x, "targetRef", t);
		}
		json_array_append_new(eps, x);
	}
	set(o, "endpoints", eps);
	json_t *ports = json_array();
	for (size_t i = 0; i < e->n_ports; i++) {
		const struct wf_k8s_endpoint_port *p = &e->ports[i];
		json_t *x = json_object();
		set_str(x, "name", p->name);
		set_str(x, "protocol", proto(p->protocol));
		if (p->has_port)
			set(x, "port", json_integer(p->port));
		set_str(x, "appProtocol", p->app_protocol);
		json_array_append_new(ports, x);
	}
	set(o, "ports", ports);
}

static json_t *netpol_rules_json(size_t n, const struct wf_k8s_netpol_rule *rules,
				 const char *peers_key)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct wf_k8s_netpol_rule *r = &rules[i];
		json_t *x = json_object();
		if (r->n_peers) {
			json_t *peers = json_array();
			for (size_t j = 0; j < r->n_peers; j++) {
				const struct wf_k8s_netpol_peer *p = &r->peers[j];
				json_t *po = json_object();
				if (p->pod_selector.present)
					set(po, "podSelector", selector_json(&p->pod_selector));
				if (p->namespace_selector.present)
					set(po, "namespaceSelector",
					    selector_json(&p->namespace_selector));
				if (p->ip_block) {
					char s[WF_CIDR_STRLEN];
					json_t *b = json_object();
					set_str(b, "cidr", wf_cidr_format(&p->ip_block->cidr, s));
					if (p->ip_block->n_except)
						set(b, "except",
						    cidrs_json(p->ip_block->n_except,
							       p->ip_block->except));
					set(po, "ipBlock", b);
				}
				json_array_append_new(peers, po);
			}
			set(x, peers_key, peers);
		}
		if (r->n_ports) {
			json_t *ports = json_array();
			for (size_t j = 0; j < r->n_ports; j++) {
				json_t *po = json_object();
				set_str(po, "protocol", proto(r->ports[j].protocol));
				set(po, "port", intstr_json(&r->ports[j].port));
				if (r->ports[j].end_port)
					set(po, "endPort", json_integer(r->ports[j].end_port));
				json_array_append_new(ports, po);
			}
			set(x, "ports", ports);
		}
		json_array_append_new(a, x);
	}
	return a;
}

static void netpol_json(json_t *spec, const struct wf_k8s_networkpolicy *p)
{
	set(spec, "podSelector", selector_json(&p->pod_selector));
	json_t *types = json_array();
	if (p->policy_ingress)
		json_array_append_new(types, json_string("Ingress"));
	if (p->policy_egress)
		json_array_append_new(types, json_string("Egress"));
	set(spec, "policyTypes", types);
	if (p->n_ingress)
		set(spec, "ingress", netpol_rules_json(p->n_ingress, p->ingress, "from"));
	if (p->n_egress)
		set(spec, "egress", netpol_rules_json(p->n_egress, p->egress, "to"));
}

static json_t *backend_json(const struct wf_k8s_ingress_backend *b)
{
	json_t *o = json_object();
	if (b->service_name) {
		json_t *port = json_object();
		if (b->port.set)
			set(port, b->port.is_str ? "name" : "number", intstr_json(&b->port));
		set(o, "service", json_pack("{s:s,s:o}", "name", b->service_name, "port", port));
	} else if (b->resource_kind) {
		set(o, "resource",
		    json_pack("{s:s,s:s?}", "kind", b->resource_kind, "name", b->resource_name));
	}
	return o;
}

static void ingress_json(json_t *spec, const struct wf_k8s_ingress *in)
{
	static const char *const types[] = {"Exact", "Prefix", "ImplementationSpecific"};
	set_str(spec, "ingressClassName", in->class_name);
	if (in->default_backend)
		set(spec, "defaultBackend", backend_json(in->default_backend));
	json_t *rules = json_array();
	for (size_t i = 0; i < in->n_rules; i++) {
		const struct wf_k8s_ingress_rule *r = &in->rules[i];
		json_t *x = json_object(), *paths = json_array();
		set_str(x, "host", r->host);
		for (size_t j = 0; j < r->n_paths; j++) {
			json_t *p = json_object();
			set_str(p, "path", r->paths[j].path);
			set_str(p, "pathType", types[r->paths[j].path_type]);
			set(p, "backend", backend_json(&r->paths[j].backend));
			json_array_append_new(paths, p);
		}
		set(x, "http", json_pack("{s:o}", "paths", paths));
		json_array_append_new(rules, x);
	}
	set(spec, "rules", rules);
	if (in->n_tls) {
		json_t *tls = json_array();
		for (size_t i = 0; i < in->n_tls; i++) {
			json_t *x = json_object();
			set(x, "hosts", strs_json(in->tls[i].n_hosts, in->tls[i].hosts));
			set_str(x, "secretName", in->tls[i].secret_name);
			json_array_append_new(tls, x);
		}
		set(spec, "tls", tls);
	}
}

static json_t *object_json(const struct wf_k8s_object *o)
{
	json_t *j = json_object(), *meta = json_object(), *spec = json_object(),
	       *status = json_object();
	char rv[24];

	set_str(j, "apiVersion", wf_k8s_kind_api_version(o->kind));
	set_str(j, "kind", wf_k8s_kind_name(o->kind));
	set_str(meta, "name", o->name);
	set_str(meta, "namespace", o->namespace);
	set_str(meta, "uid", o->uid);
	snprintf(rv, sizeof(rv), "%llu", (unsigned long long)o->resource_version);
	set_str(meta, "resourceVersion", rv);
	if (o->labels.n)
		set(meta, "labels", map_json(&o->labels));
	if (o->annotations.n)
		set(meta, "annotations", map_json(&o->annotations));
	if (o->creation_timestamp)
		set(meta, "creationTimestamp", time_json(o->creation_timestamp));
	if (o->deletion_timestamp)
		set(meta, "deletionTimestamp", time_json(o->deletion_timestamp));
	set(j, "metadata", meta);

	switch (o->kind) {
	case WF_K8S_NAMESPACE:
		set_str(status, "phase", o->ns->phase ? o->ns->phase : "Active");
		break;
	case WF_K8S_NODE:
		if (o->node->n_pod_cidrs) {
			char s[WF_CIDR_STRLEN];
			set_str(spec, "podCIDR", wf_cidr_format(&o->node->pod_cidrs[0], s));
			set(spec, "podCIDRs", cidrs_json(o->node->n_pod_cidrs, o->node->pod_cidrs));
		}
		if (o->node->unschedulable)
			set(spec, "unschedulable", json_true());
		if (o->node->n_addresses) {
			json_t *a = json_array();
			for (size_t i = 0; i < o->node->n_addresses; i++)
				json_array_append_new(a, json_pack("{s:s?,s:s?}", "type",
								   o->node->addresses[i].type,
								   "address",
								   o->node->addresses[i].address));
			set(status, "addresses", a);
		}
		if (o->node->has_ready)
			set(status, "conditions",
			    json_pack("[{s:s,s:s}]", "type", "Ready", "status",
				      o->node->ready == WF_K8S_TRUE    ? "True"
				      : o->node->ready == WF_K8S_FALSE ? "False"
								       : "Unknown"));
		if (o->node->kubelet_version)
			set(status, "nodeInfo",
			    json_pack("{s:s,s:s?,s:s?,s:s?}", "kubeletVersion",
				      o->node->kubelet_version, "osImage", o->node->os_image,
				      "kernelVersion", o->node->kernel_version,
				      "containerRuntimeVersion",
				      o->node->container_runtime_version));
		break;
	case WF_K8S_POD:
		pod_json(spec, status, o->pod);
		break;
	case WF_K8S_SERVICE:
		service_json(spec, status, o->service);
		break;
	case WF_K8S_ENDPOINTSLICE:
		endpointslice_json(j, o->endpointslice);
		break;
	case WF_K8S_NETWORKPOLICY:
		netpol_json(spec, o->networkpolicy);
		break;
	case WF_K8S_INGRESS:
		ingress_json(spec, o->ingress);
		break;
	case WF_K8S_INGRESSCLASS:
		set_str(spec, "controller", o->ingressclass->controller);
		break;
	case WF_K8S_SECRET: {
		/* Sizes only: a debugging tool must not spill key material into terminals. */
		json_t *data = json_object();
		char s[32];
		for (size_t i = 0; i < o->secret->n_items; i++) {
			snprintf(s, sizeof(s), "<%zu bytes>", o->secret->items[i].len);
			set_str(data, o->secret->items[i].key, s);
		}
		set_str(j, "type", o->secret->type);
		set(j, "data", data);
		break;
	}
	case WF_K8S_GATEWAY: {
		json_t *ls = json_array();
		set_str(spec, "gatewayClassName", o->gateway->gateway_class_name);
		for (size_t i = 0; i < o->gateway->n_listeners; i++) {
			const struct wf_k8s_gateway_listener *l = &o->gateway->listeners[i];
			json_array_append_new(ls, json_pack("{s:s?,s:s?,s:i,s:s?}", "name", l->name,
							    "hostname", l->hostname, "port",
							    l->port, "protocol", l->protocol));
		}
		set(spec, "listeners", ls);
		break;
	}
	case WF_K8S_HTTPROUTE: {
		const struct wf_k8s_httproute *h = o->httproute;
		json_t *refs = json_array();
		for (size_t i = 0; i < h->n_parent_refs; i++)
			json_array_append_new(refs, json_pack("{s:s?,s:s?}", "name",
							      h->parent_refs[i].name, "namespace",
							      h->parent_refs[i].namespace));
		set(spec, "parentRefs", refs);
		if (h->n_hostnames)
			set(spec, "hostnames", strs_json(h->n_hostnames, h->hostnames));
		set(spec, "rules", json_integer((json_int_t)h->n_rules));
		break;
	}
	case WF_K8S_DEPLOYMENT:
		set(spec, "replicas", json_integer(o->deployment->replicas));
		set(spec, "selector", selector_json(&o->deployment->selector));
		json_t *tmpl = json_object(), *tspec = json_object();
		set(tmpl, "metadata",
		    json_pack("{s:o}", "labels", map_json(&o->deployment->template_labels)));
		pod_spec_json(tspec, &o->deployment->template_spec);
		set(tmpl, "spec", tspec);
		set(spec, "template", tmpl);
		set(status, "replicas", json_integer(o->deployment->status_replicas));
		set(status, "readyReplicas", json_integer(o->deployment->ready_replicas));
		set(status, "updatedReplicas", json_integer(o->deployment->updated_replicas));
		set(status, "availableReplicas", json_integer(o->deployment->available_replicas));
		break;
	case WF_K8S_KIND_COUNT:
		break;
	}
	if (json_object_size(spec))
		set(j, "spec", spec);
	else
		json_decref(spec);
	if (json_object_size(status))
		set(j, "status", status);
	else
		json_decref(status);
	return j;
}

int wf_cli_get_dump(const struct wf_k8s_object *const *objs, size_t n, bool yaml, FILE *out)
{
	json_t *root;
	if (n == 1) {
		root = object_json(objs[0]);
	} else {
		json_t *items = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(items, object_json(objs[i]));
		root = json_pack("{s:s,s:o,s:s,s:{s:s}}", "apiVersion", "v1", "items", items,
				 "kind", "List", "metadata", "resourceVersion", "");
	}
	if (!root)
		return -ENOMEM;
	int r = 0;
	if (yaml) {
		wf_k8s_print_yaml(out, root);
	} else {
		r = json_dumpf(root, out, JSON_INDENT(4) | JSON_PRESERVE_ORDER) == 0 ? 0 : -ENOMEM;
		fputc('\n', out);
	}
	json_decref(root);
	return r;
}
