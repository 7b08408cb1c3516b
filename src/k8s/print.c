/* kubectl's tables: the columns of each kind and their formatting, as kubectl prints them
 * (k8s.io/kubernetes pkg/printers/internalversion/printers.go; for Gateway API kinds, the
 * CRDs' printer columns). One module for `weft get` and `weft lab get|status`. */
#include "k8s/print.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s/object.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/ip.h"

#define NONE "<none>"

/* ---- the table ---- */

int wf_k8s_print_table_init(struct wf_k8s_print_table *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	if (ncols == 0 || ncols > WF_K8S_PRINT_MAX_COLS)
		return -EINVAL;
	t->ncols = ncols;
	return wf_k8s_print_table_row(t, headers);
}

int wf_k8s_print_table_row(struct wf_k8s_print_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **c = wf_reallocarray(t->cells, cap * t->ncols, sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	char **row = &t->cells[t->nrows * t->ncols];

	for (size_t i = 0; i < t->ncols; i++) {
		row[i] = wf_strdup(cells[i] ? cells[i] : "");
		if (!row[i]) {
			while (i-- > 0)
				wf_free(row[i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

void wf_k8s_print_table_write(const struct wf_k8s_print_table *t, FILE *out)
{
	size_t width[WF_K8S_PRINT_MAX_COLS] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t n = strlen(t->cells[r * t->ncols + c]);

			if (n > width[c])
				width[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols)
				fprintf(out, "%s\n", s);
			else
				fprintf(out, "%-*s   ", (int)width[c], s);
		}
}

void wf_k8s_print_table_done(struct wf_k8s_print_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		wf_free(t->cells[i]);
	wf_free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* ---- AGE: apimachinery pkg/util/duration HumanDuration ---- */

const char *wf_k8s_print_age(int64_t ts, int64_t now, char buf[WF_K8S_PRINT_AGE_MAX])
{
	const size_t size = WF_K8S_PRINT_AGE_MAX;
	int64_t s = now - ts, m, h, d;

	if (ts == 0) {
		snprintf(buf, size, "<unknown>");
		return buf;
	}
	/* up to a second in the future is clock skew: "now" */
	if (s < -1) {
		snprintf(buf, size, "<invalid>");
		return buf;
	}
	if (s < 0)
		s = 0;
	m = s / 60;
	h = s / 3600;
	d = h / 24;
	if (s < 120)
		snprintf(buf, size, "%llds", (long long)s);
	else if (m < 10)
		snprintf(buf, size, s % 60 ? "%lldm%llds" : "%lldm", (long long)m,
			 (long long)(s % 60));
	else if (m < 180)
		snprintf(buf, size, "%lldm", (long long)m);
	else if (h < 8)
		snprintf(buf, size, m % 60 ? "%lldh%lldm" : "%lldh", (long long)h,
			 (long long)(m % 60));
	else if (h < 48)
		snprintf(buf, size, "%lldh", (long long)h);
	else if (h < 24 * 8)
		snprintf(buf, size, h % 24 ? "%lldd%lldh" : "%lldd", (long long)d,
			 (long long)(h % 24));
	else if (h < 24 * 365 * 2)
		snprintf(buf, size, "%lldd", (long long)d);
	else if (h < 24 * 365 * 8)
		snprintf(buf, size, d % 365 ? "%lldy%lldd" : "%lldy", (long long)(d / 365),
			 (long long)(d % 365));
	else
		snprintf(buf, size, "%lldy", (long long)(d / 365));
	return buf;
}

/* ---- Pod READY / STATUS / RESTARTS: printers.go printPod ---- */

void wf_k8s_pod_summary(const struct wf_k8s_object *o, struct wf_k8s_pod_summary *ret)
{
	const struct wf_k8s_pod *p = o->pod;
	bool running = false;
	char *st = ret->status;
	const size_t size = sizeof(ret->status);

	memset(ret, 0, sizeof(*ret));
	ret->total = p->spec.n_containers;
	/* an object without status.phase is one the API server has not seen: it would set Pending */
	snprintf(st, size, "%s", p->reason ? p->reason : p->phase ? p->phase : "Pending");
	/* The last container with something to say wins, as kubectl walks them backwards. */
	for (size_t i = p->n_container_statuses; i-- > 0;) {
		const struct wf_k8s_container_status *c = &p->container_statuses[i];

		ret->restarts += c->restart_count;
		if (c->last_finished_at > ret->last_restart)
			ret->last_restart = c->last_finished_at;
		if (c->state == WF_K8S_CONTAINER_WAITING && c->reason && *c->reason) {
			snprintf(st, size, "%s", c->reason);
		} else if (c->state == WF_K8S_CONTAINER_TERMINATED) {
			if (c->reason && *c->reason)
				snprintf(st, size, "%s", c->reason);
			else if (c->signal)
				snprintf(st, size, "Signal:%d", c->signal);
			else
				snprintf(st, size, "ExitCode:%d", c->exit_code);
		} else if (c->ready && c->state == WF_K8S_CONTAINER_RUNNING) {
			running = true;
			ret->ready++;
		}
	}
	/* a pod whose other containers still run is not "Completed" */
	if (!strcmp(st, "Completed") && running)
		snprintf(st, size, "%s", p->ready == WF_K8S_TRUE ? "Running" : "NotReady");
	/* a deleted pod is Terminating, unless its node is lost or it had finished anyway */
	if (o->deletion_timestamp && p->reason && !strcmp(p->reason, "NodeLost"))
		snprintf(st, size, "Unknown");
	else if (o->deletion_timestamp &&
		 !(p->phase && (!strcmp(p->phase, "Succeeded") || !strcmp(p->phase, "Failed"))))
		snprintf(st, size, "Terminating");
}

/* ---- cell helpers: each appends to a buffer, cells are cut out of it ---- */

struct cells {
	struct wf_buf b;
	size_t off[WF_K8S_PRINT_MAX_COLS];
	size_t n;
	int64_t now;
};

static void cell_start(struct cells *c)
{
	if (c->n > 0)
		wf_buf_append_byte(&c->b, '\0');
	if (c->n < WF_K8S_PRINT_MAX_COLS)
		c->off[c->n] = wf_buf_len(&c->b);
	c->n++;
}

static void cell(struct cells *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cell(struct cells *c, const char *fmt, ...)
{
	va_list ap;

	cell_start(c);
	va_start(ap, fmt);
	wf_buf_vprintf(&c->b, fmt, ap);
	va_end(ap);
}

static void age_cell(struct cells *c, int64_t ts)
{
	char a[WF_K8S_PRINT_AGE_MAX];

	cell(c, "%s", wf_k8s_print_age(ts, c->now, a));
}

/* Appends s, with a comma before it unless it is the first item since start. */
static void item(struct wf_buf *b, size_t start, const char *s)
{
	wf_buf_printf(b, "%s%s", wf_buf_len(b) > start ? "," : "", s);
}

/* metav1.FormatLabelSelector: "app=web,tier in (a,b),!x", "<none>" for {} and null. */
static void selector(struct wf_buf *b, const struct wf_k8s_selector *s)
{
	size_t start = wf_buf_len(b);

	if (!s->present || (s->match_labels.n == 0 && s->n_exprs == 0)) {
		wf_buf_append_str(b, NONE);
		return;
	}
	for (size_t i = 0; i < s->match_labels.n; i++)
		wf_buf_printf(b, "%s%s=%s", wf_buf_len(b) > start ? "," : "",
			      s->match_labels.items[i].key, s->match_labels.items[i].value);
	for (size_t i = 0; i < s->n_exprs; i++) {
		const struct wf_k8s_selector_req *r = &s->exprs[i];
		const char *sep = wf_buf_len(b) > start ? "," : "";

		switch (r->op) {
		case WF_K8S_SEL_EXISTS:
			wf_buf_printf(b, "%s%s", sep, r->key);
			continue;
		case WF_K8S_SEL_DOES_NOT_EXIST:
			wf_buf_printf(b, "%s!%s", sep, r->key);
			continue;
		case WF_K8S_SEL_IN:
		case WF_K8S_SEL_NOT_IN:
			wf_buf_printf(b, "%s%s %s (", sep, r->key,
				      r->op == WF_K8S_SEL_IN ? "in" : "notin");
			for (size_t j = 0; j < r->n_values; j++)
				wf_buf_printf(b, "%s%s", j ? "," : "", r->values[j]);
			wf_buf_append_str(b, ")");
			continue;
		}
	}
}

/* A Service selector (a map): labels.FormatLabels, "<none>" when empty. */
static void label_map(struct wf_buf *b, const struct wf_k8s_map *m)
{
	if (m->n == 0) {
		wf_buf_append_str(b, NONE);
		return;
	}
	for (size_t i = 0; i < m->n; i++)
		wf_buf_printf(b, "%s%s=%s", i ? "," : "", m->items[i].key, m->items[i].value);
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted, without duplicates (sets.String.List() in kubectl), comma-joined. */
static void sorted_set(struct wf_buf *b, const char **v, size_t n)
{
	size_t start = wf_buf_len(b);

	qsort(v, n, sizeof(*v), strp_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			item(b, start, v[i]);
}

/* ---- per kind: the cells after NAME (and AGE where kubectl puts it) ---- */

static void namespace_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	cell(c, "%s", o->ns->phase ? o->ns->phase : "Active");
	age_cell(c, o->creation_timestamp);
}

static void node_address(struct cells *c, const struct wf_k8s_node *n, const char *type)
{
	for (size_t i = 0; i < n->n_addresses; i++)
		if (n->addresses[i].type && strcmp(n->addresses[i].type, type) == 0) {
			cell(c, "%s", n->addresses[i].address);
			return;
		}
	cell(c, NONE);
}

static void node_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	static const char role_prefix[] = "node-role.kubernetes.io/";
	const struct wf_k8s_node *n = o->node;
	const char *roles[32];
	size_t nroles = 0;

	/* STATUS: the Ready condition, then SchedulingDisabled */
	cell(c, "%s%s",
	     !n->has_ready	       ? "Unknown"
	     : n->ready == WF_K8S_TRUE ? "Ready"
				       : "NotReady",
	     n->unschedulable ? ",SchedulingDisabled" : "");
	/* ROLES: findNodeRoles */
	for (size_t i = 0; i < o->labels.n && nroles < 32; i++) {
		const char *k = o->labels.items[i].key, *v = o->labels.items[i].value;

		if (!strncmp(k, role_prefix, sizeof(role_prefix) - 1) && k[sizeof(role_prefix) - 1])
			roles[nroles++] = k + sizeof(role_prefix) - 1;
		else if (!strcmp(k, "kubernetes.io/role") && *v)
			roles[nroles++] = v;
	}
	cell_start(c);
	if (nroles == 0)
		wf_buf_append_str(&c->b, NONE);
	sorted_set(&c->b, roles, nroles);
	age_cell(c, o->creation_timestamp);
	cell(c, "%s", n->kubelet_version ? n->kubelet_version : "");
	if (wide) {
		node_address(c, n, "InternalIP");
		node_address(c, n, "ExternalIP");
		cell(c, "%s", n->os_image && *n->os_image ? n->os_image : "<unknown>");
		cell(c, "%s",
		     n->kernel_version && *n->kernel_version ? n->kernel_version : "<unknown>");
		cell(c, "%s",
		     n->container_runtime_version && *n->container_runtime_version
			     ? n->container_runtime_version
			     : "<unknown>");
	}
}

static void pod_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_pod *p = o->pod;
	struct wf_k8s_pod_summary s;
	char ip[WF_IP_STRLEN], a[WF_K8S_PRINT_AGE_MAX];

	wf_k8s_pod_summary(o, &s);
	cell(c, "%zu/%zu", s.ready, s.total);
	cell(c, "%s", s.status);
	if (s.last_restart)
		cell(c, "%lld (%s ago)", (long long)s.restarts,
		     wf_k8s_print_age(s.last_restart, c->now, a));
	else
		cell(c, "%lld", (long long)s.restarts);
	age_cell(c, o->creation_timestamp);
	if (!wide)
		return;
	cell(c, "%s", p->n_pod_ips ? wf_ip_format(&p->pod_ips[0], ip) : NONE);
	cell(c, "%s", p->spec.node_name && *p->spec.node_name ? p->spec.node_name : NONE);
	cell(c, "%s",
	     p->nominated_node_name && *p->nominated_node_name ? p->nominated_node_name : NONE);
	/* READINESS GATES: how many of the gates' conditions are True */
	if (p->spec.n_readiness_gates == 0) {
		cell(c, NONE);
	} else {
		size_t yes = 0;

		for (size_t g = 0; g < p->spec.n_readiness_gates; g++)
			for (size_t k = 0; k < p->n_conditions; k++)
				if (!strcmp(p->conditions[k].type, p->spec.readiness_gates[g]) &&
				    p->conditions[k].status == WF_K8S_TRUE) {
					yes++;
					break;
				}
		cell(c, "%zu/%zu", yes, p->spec.n_readiness_gates);
	}
}

static const char *svc_type(enum wf_k8s_service_type t)
{
	static const char *const names[] = {"ClusterIP", "NodePort", "LoadBalancer",
					    "ExternalName"};

	return (unsigned)t < 4 ? names[t] : "?";
}

/* The addresses of status.loadBalancer (loadBalancerStatusStringer): a sorted set, cut to 16
 * characters unless wide. */
static void lb_status(struct wf_buf *b, const struct wf_k8s_service *s, bool wide)
{
	const char *v[64];
	size_t n = 0, start = wf_buf_len(b);

	for (size_t i = 0; i < s->n_lb_ingress && n < 64; i++) {
		const char *x =
			s->lb_ingress[i].ip ? s->lb_ingress[i].ip : s->lb_ingress[i].hostname;
		if (x && *x)
			v[n++] = x;
	}
	sorted_set(b, v, n);
	if (!wide && wf_buf_len(b) - start > 16) {
		wf_buf_truncate(b, start + 13);
		wf_buf_append_str(b, "...");
	}
}

static void service_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_service *s = o->service;
	char ip[WF_IP_STRLEN];
	size_t start;

	cell(c, "%s", svc_type(s->type));
	/* CLUSTER-IP: spec.clusterIP, "None" when headless */
	if (s->headless)
		cell(c, "None");
	else if (s->type == WF_K8S_SVC_EXTERNAL_NAME || s->n_cluster_ips == 0)
		cell(c, NONE);
	else
		cell(c, "%s", wf_ip_format(&s->cluster_ips[0], ip));
	/* EXTERNAL-IP: getServiceExternalIP */
	cell_start(c);
	start = wf_buf_len(&c->b);
	switch (s->type) {
	case WF_K8S_SVC_EXTERNAL_NAME:
		wf_buf_append_str(&c->b, s->external_name ? s->external_name : "");
		break;
	case WF_K8S_SVC_LOAD_BALANCER:
		lb_status(&c->b, s, wide);
		for (size_t i = 0; i < s->n_external_ips; i++)
			item(&c->b, start, wf_ip_format(&s->external_ips[i], ip));
		if (wf_buf_len(&c->b) == start)
			wf_buf_append_str(&c->b, "<pending>");
		break;
	default:
		for (size_t i = 0; i < s->n_external_ips; i++)
			item(&c->b, start, wf_ip_format(&s->external_ips[i], ip));
		if (wf_buf_len(&c->b) == start)
			wf_buf_append_str(&c->b, NONE);
		break;
	}
	/* PORT(S): makePortString, "80/TCP,443:30443/TCP" */
	cell_start(c);
	if (s->n_ports == 0)
		wf_buf_append_str(&c->b, NONE);
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct wf_k8s_service_port *p = &s->ports[i];

		wf_buf_printf(&c->b, "%s%d", i ? "," : "", p->port);
		if (p->node_port)
			wf_buf_printf(&c->b, ":%d", p->node_port);
		wf_buf_printf(&c->b, "/%s", wf_k8s_protocol_name(p->protocol));
	}
	age_cell(c, o->creation_timestamp);
	if (wide) {
		cell_start(c);
		label_map(&c->b, &s->selector);
	}
}

static void endpointslice_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	static const char *const types[] = {"IPv4", "IPv6", "FQDN"};
	const struct wf_k8s_endpointslice *e = o->endpointslice;
	size_t total = 0, shown = 0;

	cell(c, "%s", (unsigned)e->address_type < 3 ? types[e->address_type] : "?");
	/* PORTS: formatDiscoveryPorts, the first three ("*" for every port) */
	cell_start(c);
	for (size_t i = 0; i < e->n_ports && i < 3; i++) {
		const struct wf_k8s_endpoint_port *p = &e->ports[i];

		if (p->has_port)
			wf_buf_printf(&c->b, "%s%d", i ? "," : "", p->port);
		else
			wf_buf_printf(&c->b, "%s%s", i ? "," : "", p->name ? p->name : "*");
	}
	if (e->n_ports > 3)
		wf_buf_printf(&c->b, " + %zu more...", e->n_ports - 3);
	else if (e->n_ports == 0)
		wf_buf_append_str(&c->b, "<unset>");
	/* ENDPOINTS: formatDiscoveryEndpoints, the first three addresses */
	cell_start(c);
	for (size_t i = 0; i < e->n_endpoints; i++)
		for (size_t j = 0; j < e->endpoints[i].n_addresses; j++, total++)
			if (shown < 3)
				wf_buf_printf(&c->b, "%s%s", shown++ ? "," : "",
					      e->endpoints[i].addresses[j]);
	if (total == 0)
		wf_buf_append_str(&c->b, "<unset>");
	else if (total > shown)
		wf_buf_printf(&c->b, " + %zu more...", total - shown);
	age_cell(c, o->creation_timestamp);
}

static void netpol_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	cell_start(c);
	selector(&c->b, &o->networkpolicy->pod_selector);
	age_cell(c, o->creation_timestamp);
}

static void ingress_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_ingress *in = o->ingress;
	size_t shown = 0;
	bool more = false;

	cell(c, "%s", in->class_name ? in->class_name : NONE);
	/* HOSTS: formatHosts, the first three; "more" counts rules, not hosts, as it does */
	cell_start(c);
	for (size_t i = 0; i < in->n_rules; i++) {
		if (shown == 3)
			more = true;
		if (!more && in->rules[i].host)
			wf_buf_printf(&c->b, "%s%s", shown++ ? "," : "", in->rules[i].host);
	}
	if (shown == 0)
		wf_buf_append_str(&c->b, "*");
	else if (more)
		wf_buf_printf(&c->b, " + %zu more...", in->n_rules - 3);
	/* ADDRESS: status.loadBalancer, which the object model does not read for Ingress */
	cell(c, "%s", "");
	cell(c, "%s", in->n_tls ? "80, 443" : "80");
	age_cell(c, o->creation_timestamp);
}

static void ingressclass_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	cell(c, "%s", o->ingressclass->controller ? o->ingressclass->controller : NONE);
	age_cell(c, o->creation_timestamp);
}

static void secret_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	cell(c, "%s", o->secret->type ? o->secret->type : "Opaque");
	cell(c, "%zu", o->secret->n_items);
	age_cell(c, o->creation_timestamp);
}

static void gateway_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_gateway *g = o->gateway;

	cell(c, "%s", g->gateway_class_name ? g->gateway_class_name : NONE);
	cell_start(c);
	if (g->n_listeners == 0)
		wf_buf_append_str(&c->b, NONE);
	for (size_t i = 0; i < g->n_listeners; i++)
		wf_buf_printf(&c->b, "%s%s/%s:%d", i ? "," : "", g->listeners[i].name,
			      g->listeners[i].protocol ? g->listeners[i].protocol : "?",
			      g->listeners[i].port);
	age_cell(c, o->creation_timestamp);
}

static void httproute_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_httproute *h = o->httproute;

	cell_start(c);
	if (h->n_hostnames == 0)
		wf_buf_append_str(&c->b, "*");
	for (size_t i = 0; i < h->n_hostnames; i++)
		wf_buf_printf(&c->b, "%s%s", i ? "," : "", h->hostnames[i]);
	age_cell(c, o->creation_timestamp);
	if (wide) {
		cell_start(c);
		if (h->n_parent_refs == 0)
			wf_buf_append_str(&c->b, NONE);
		for (size_t i = 0; i < h->n_parent_refs; i++)
			wf_buf_printf(&c->b, "%s%s", i ? "," : "", h->parent_refs[i].name);
	}
}

static void deployment_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_deployment *d = o->deployment;
	const struct wf_k8s_pod_spec *ps = &d->template_spec;

	cell(c, "%d/%d", d->ready_replicas, d->replicas);
	cell(c, "%d", d->updated_replicas);
	cell(c, "%d", d->available_replicas);
	age_cell(c, o->creation_timestamp);
	if (!wide)
		return;
	cell_start(c);
	for (size_t i = 0; i < ps->n_containers; i++)
		wf_buf_printf(&c->b, "%s%s", i ? "," : "", ps->containers[i].name);
	cell_start(c);
	for (size_t i = 0; i < ps->n_containers; i++)
		wf_buf_printf(&c->b, "%s%s", i ? "," : "",
			      ps->containers[i].image ? ps->containers[i].image : "");
	cell_start(c);
	selector(&c->b, &d->selector);
}

struct kind_view {
	const char *headers[8]; /* after NAMESPACE and NAME; NULL-ended */
	const char *wide[6];	/* appended with -o wide; NULL-ended */
	void (*row)(struct cells *c, const struct wf_k8s_object *o, bool wide);
};

static const struct kind_view views[WF_K8S_KIND_COUNT] = {
	[WF_K8S_NAMESPACE] = {{"STATUS", "AGE"}, {NULL}, namespace_row},
	[WF_K8S_NODE] = {{"STATUS", "ROLES", "AGE", "VERSION"},
			 {"INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
			  "CONTAINER-RUNTIME"},
			 node_row},
	[WF_K8S_POD] = {{"READY", "STATUS", "RESTARTS", "AGE"},
			{"IP", "NODE", "NOMINATED NODE", "READINESS GATES"},
			pod_row},
	[WF_K8S_SERVICE] = {{"TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"},
			    {"SELECTOR"},
			    service_row},
	[WF_K8S_ENDPOINTSLICE] = {{"ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"},
				  {NULL},
				  endpointslice_row},
	[WF_K8S_NETWORKPOLICY] = {{"POD-SELECTOR", "AGE"}, {NULL}, netpol_row},
	[WF_K8S_INGRESS] = {{"CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"}, {NULL}, ingress_row},
	[WF_K8S_INGRESSCLASS] = {{"CONTROLLER", "AGE"}, {NULL}, ingressclass_row},
	[WF_K8S_SECRET] = {{"TYPE", "DATA", "AGE"}, {NULL}, secret_row},
	[WF_K8S_GATEWAY] = {{"CLASS", "LISTENERS", "AGE"}, {NULL}, gateway_row},
	[WF_K8S_HTTPROUTE] = {{"HOSTNAMES", "AGE"}, {"PARENTS"}, httproute_row},
	[WF_K8S_DEPLOYMENT] = {{"READY", "UP-TO-DATE", "AVAILABLE", "AGE"},
			       {"CONTAINERS", "IMAGES", "SELECTOR"},
			       deployment_row},
};

int wf_k8s_print_objects(enum wf_k8s_kind kind, const struct wf_k8s_object *const *objs, size_t n,
			 const struct wf_k8s_print_opts *opts, FILE *out)
{
	const struct kind_view *v;
	const char *hdr[WF_K8S_PRINT_MAX_COLS];
	bool ns_col = opts->show_namespace && !wf_k8s_kind_cluster_scoped(kind);
	struct wf_k8s_print_table t;
	char kind_lower[32];
	size_t nh = 0;
	int r;

	if ((unsigned)kind >= WF_K8S_KIND_COUNT)
		return -EINVAL;
	v = &views[kind];
	if (ns_col)
		hdr[nh++] = "NAMESPACE";
	hdr[nh++] = "NAME";
	for (size_t i = 0; i < 8 && v->headers[i] && nh < WF_K8S_PRINT_MAX_COLS; i++)
		hdr[nh++] = v->headers[i];
	for (size_t i = 0; opts->wide && i < 6 && v->wide[i] && nh < WF_K8S_PRINT_MAX_COLS; i++)
		hdr[nh++] = v->wide[i];
	r = wf_k8s_print_table_init(&t, nh, hdr);
	if (r < 0)
		return r;
	/* several kinds in one listing: "service/web", as kubectl get all prints it */
	snprintf(kind_lower, sizeof(kind_lower), "%s", wf_k8s_kind_name(kind));
	for (char *p = kind_lower; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);

	for (size_t i = 0; i < n && r == 0; i++) {
		const struct wf_k8s_object *o = objs[i];
		struct cells c = {.now = opts->now ? opts->now : (int64_t)time(NULL)};
		const char *row[WF_K8S_PRINT_MAX_COLS];
		char *base;

		wf_buf_init(&c.b, 0);
		if (ns_col)
			cell(&c, "%s", o->namespace ? o->namespace : "");
		if (opts->kind_prefix)
			cell(&c, "%s/%s", kind_lower, o->name);
		else
			cell(&c, "%s", o->name);
		v->row(&c, o, opts->wide);
		base = wf_buf_cstr(&c.b);
		if (!base) {
			r = -ENOMEM;
		} else if (c.n != nh) {
			r = -EINVAL; /* a row function disagrees with its headers: a bug */
		} else {
			for (size_t k = 0; k < nh; k++)
				row[k] = base + c.off[k];
			r = wf_k8s_print_table_row(&t, row);
		}
		wf_buf_done(&c.b);
	}
	if (r == 0)
		wf_k8s_print_table_write(&t, out);
	wf_k8s_print_table_done(&t);
	return r;
}
