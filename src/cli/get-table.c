/* weft get: the table columns of each kind, formatted as kubectl prints them
 * (k8s.io/kubernetes pkg/printers/internalversion/printers.go). */
#include "cli/get.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/object.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/ip.h"

#define NONE "<none>"

/* ---- the table ---- */

int wf_cli_table_init(struct wf_cli_table *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	return wf_cli_table_row(t, headers);
}

int wf_cli_table_row(struct wf_cli_table *t, const char *const *cells)
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

void wf_cli_table_print(const struct wf_cli_table *t, FILE *out)
{
	size_t width[WF_CLI_MAX_COLS] = {0};
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t n = strlen(t->cells[r * t->ncols + c]);
			if (n > width[c])
				width[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fprintf(out, "%s\n", s);
			else
				fprintf(out, "%-*s   ", (int)width[c], s);
		}
	}
}

void wf_cli_table_done(struct wf_cli_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		wf_free(t->cells[i]);
	wf_free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* ---- cell helpers: each appends to a buffer, cells are cut out of it ---- */

static void ip_list(struct wf_buf *b, size_t n, const struct wf_ip *ips)
{
	char s[WF_IP_STRLEN];
	for (size_t i = 0; i < n; i++)
		wf_buf_printf(b, "%s%s", i ? "," : "", wf_ip_format(&ips[i], s));
}

/* kubectl's formatting of a label map ("app=web,tier=front"), "<none>" when empty. */
static void label_map(struct wf_buf *b, const struct wf_k8s_map *m)
{
	if (m->n == 0) {
		wf_buf_append_str(b, NONE);
		return;
	}
	for (size_t i = 0; i < m->n; i++)
		wf_buf_printf(b, "%s%s=%s", i ? "," : "", m->items[i].key, m->items[i].value);
}

/* metav1.FormatLabelSelector: "app=web,tier in (a,b),!x", "<none>" for {}. */
static void selector(struct wf_buf *b, const struct wf_k8s_selector *s)
{
	if (!s->present || (s->match_labels.n == 0 && s->n_exprs == 0)) {
		wf_buf_append_str(b, NONE);
		return;
	}
	size_t before = wf_buf_len(b);
	for (size_t i = 0; i < s->match_labels.n; i++)
		wf_buf_printf(b, "%s%s=%s", wf_buf_len(b) > before ? "," : "",
			      s->match_labels.items[i].key, s->match_labels.items[i].value);
	for (size_t i = 0; i < s->n_exprs; i++) {
		const struct wf_k8s_selector_req *r = &s->exprs[i];
		const char *sep = wf_buf_len(b) > before ? "," : "";
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

static const char *svc_type(enum wf_k8s_service_type t)
{
	static const char *const names[] = {"ClusterIP", "NodePort", "LoadBalancer",
					    "ExternalName"};
	return (unsigned)t < 4 ? names[t] : "?";
}

/* Cells are collected as offsets into one buffer, NUL-separated. */
struct cells {
	struct wf_buf b;
	size_t off[WF_CLI_MAX_COLS];
	size_t n;
};

static void cell_start(struct cells *c)
{
	if (c->n > 0)
		wf_buf_append_byte(&c->b, '\0');
	c->off[c->n++] = wf_buf_len(&c->b);
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

/* ---- per kind ---- */

static void service_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_service *s = o->service;
	char ip[WF_IP_STRLEN];

	cell(c, "%s", svc_type(s->type));
	/* CLUSTER-IP */
	if (s->type == WF_K8S_SVC_EXTERNAL_NAME || (s->n_cluster_ips == 0 && !s->headless))
		cell(c, NONE);
	else if (s->headless)
		cell(c, "None");
	else
		cell(c, "%s", wf_ip_format(&s->cluster_ips[0], ip));
	/* EXTERNAL-IP: printers.go getServiceExternalIP */
	cell_start(c);
	size_t before = wf_buf_len(&c->b);
	if (s->type == WF_K8S_SVC_EXTERNAL_NAME) {
		wf_buf_append_str(&c->b, s->external_name ? s->external_name : NONE);
	} else if (s->type == WF_K8S_SVC_LOAD_BALANCER) {
		for (size_t i = 0; i < s->n_lb_ingress; i++) {
			const char *v = s->lb_ingress[i].ip ? s->lb_ingress[i].ip
							    : s->lb_ingress[i].hostname;
			if (v)
				wf_buf_printf(&c->b, "%s%s", wf_buf_len(&c->b) > before ? "," : "",
					      v);
		}
		for (size_t i = 0; i < s->n_external_ips; i++)
			wf_buf_printf(&c->b, "%s%s", wf_buf_len(&c->b) > before ? "," : "",
				      wf_ip_format(&s->external_ips[i], ip));
		if (wf_buf_len(&c->b) == before)
			wf_buf_append_str(&c->b, "<pending>");
	} else if (s->n_external_ips > 0) {
		ip_list(&c->b, s->n_external_ips, s->external_ips);
	} else {
		wf_buf_append_str(&c->b, NONE);
	}
	/* PORT(S): "80/TCP,443:30443/TCP" */
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
	if (wide) {
		cell_start(c);
		label_map(&c->b, &s->selector);
	}
}

static void pod_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_pod *p = o->pod;
	char ip[WF_IP_STRLEN];
	size_t n = p->spec.n_containers;

	/* Without container statuses, readiness comes from the pod's Ready condition. */
	cell(c, "%zu/%zu", p->ready == WF_K8S_TRUE ? n : 0, n);
	if (o->deletion_timestamp)
		cell(c, "Terminating");
	else
		cell(c, "%s", p->phase ? p->phase : "Pending");
	cell(c, "%s", p->n_pod_ips ? wf_ip_format(&p->pod_ips[0], ip) : NONE);
	cell(c, "%s", p->spec.node_name ? p->spec.node_name : NONE);
	if (wide) {
		cell_start(c);
		label_map(&c->b, &o->labels);
	}
}

static void endpointslice_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_endpointslice *e = o->endpointslice;
	static const char *const types[] = {"IPv4", "IPv6", "FQDN"};

	cell(c, "%s", (unsigned)e->address_type < 3 ? types[e->address_type] : "?");
	/* PORTS: printers.go formatEndpointSlicePorts */
	cell_start(c);
	if (e->n_ports == 0)
		wf_buf_append_str(&c->b, "<unset>");
	for (size_t i = 0; i < e->n_ports; i++) {
		if (e->ports[i].has_port)
			wf_buf_printf(&c->b, "%s%d", i ? "," : "", e->ports[i].port);
		else
			wf_buf_printf(&c->b, "%s<unset>", i ? "," : "");
	}
	/* ENDPOINTS: the first three addresses, then " + N more..." (formatDiscoveryEndpoints) */
	cell_start(c);
	size_t total = 0, shown = 0, max = wide ? SIZE_MAX : 3;
	for (size_t i = 0; i < e->n_endpoints; i++)
		for (size_t j = 0; j < e->endpoints[i].n_addresses; j++, total++)
			if (shown < max)
				wf_buf_printf(&c->b, "%s%s", shown++ ? "," : "",
					      e->endpoints[i].addresses[j]);
	if (total == 0)
		wf_buf_append_str(&c->b, "<unset>");
	else if (total > shown)
		wf_buf_printf(&c->b, " + %zu more...", total - shown);
	if (wide)
		cell(c, "%s", e->service_name ? e->service_name : NONE);
}

static void node_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_node *n = o->node;
	char s[WF_CIDR_STRLEN];

	cell(c, "%s", n->unschedulable ? "SchedulingDisabled" : "Ready");
	const char *kinds[] = {"InternalIP", "ExternalIP"};
	for (int k = 0; k < 2; k++) {
		cell_start(c);
		size_t before = wf_buf_len(&c->b);
		for (size_t i = 0; i < n->n_addresses; i++)
			if (n->addresses[i].type && strcmp(n->addresses[i].type, kinds[k]) == 0)
				wf_buf_printf(&c->b, "%s%s", wf_buf_len(&c->b) > before ? "," : "",
					      n->addresses[i].address);
		if (wf_buf_len(&c->b) == before)
			wf_buf_append_str(&c->b, NONE);
	}
	cell_start(c);
	if (n->n_pod_cidrs == 0)
		wf_buf_append_str(&c->b, NONE);
	for (size_t i = 0; i < n->n_pod_cidrs; i++)
		wf_buf_printf(&c->b, "%s%s", i ? "," : "", wf_cidr_format(&n->pod_cidrs[i], s));
	if (wide)
		cell(c, "%s", n->zone ? n->zone : NONE);
}

static void netpol_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_networkpolicy *p = o->networkpolicy;
	cell_start(c);
	selector(&c->b, &p->pod_selector);
	if (wide) {
		cell(c, "%s%s%s", p->policy_ingress ? "Ingress" : "",
		     p->policy_ingress && p->policy_egress ? "," : "",
		     p->policy_egress ? "Egress" : "");
	}
}

static void ingress_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_ingress *in = o->ingress;
	cell(c, "%s", in->class_name ? in->class_name : NONE);
	/* HOSTS: printers.go formatHosts (first three, then " + N more...") */
	cell_start(c);
	size_t shown = 0, total = 0;
	for (size_t i = 0; i < in->n_rules; i++) {
		if (!in->rules[i].host)
			continue;
		if (shown < 3)
			wf_buf_printf(&c->b, "%s%s", shown++ ? "," : "", in->rules[i].host);
		total++;
	}
	if (total == 0)
		wf_buf_append_str(&c->b, "*");
	else if (total > shown)
		wf_buf_printf(&c->b, " + %zu more...", total - shown);
	cell(c, "%s", ""); /* ADDRESS: status.loadBalancer, which manifests do not carry */
	cell(c, "%s", in->n_tls ? "80, 443" : "80");
	if (wide) {
		cell_start(c);
		size_t before = wf_buf_len(&c->b);
		for (size_t i = 0; i < in->n_tls; i++)
			if (in->tls[i].secret_name)
				wf_buf_printf(&c->b, "%s%s", wf_buf_len(&c->b) > before ? "," : "",
					      in->tls[i].secret_name);
		if (wf_buf_len(&c->b) == before)
			wf_buf_append_str(&c->b, NONE);
	}
}

static void namespace_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	cell(c, "%s", o->ns->phase ? o->ns->phase : "Active");
	if (wide) {
		cell_start(c);
		label_map(&c->b, &o->labels);
	}
}

static void ingressclass_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	cell(c, "%s", o->ingressclass->controller ? o->ingressclass->controller : NONE);
	if (wide)
		cell(c, "%s", o->ingressclass->is_default ? "true" : "false");
}

static void secret_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	cell(c, "%s", o->secret->type ? o->secret->type : "Opaque");
	cell(c, "%zu", o->secret->n_items);
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
}

static void httproute_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_httproute *h = o->httproute;
	cell_start(c);
	if (h->n_hostnames == 0)
		wf_buf_append_str(&c->b, "*");
	for (size_t i = 0; i < h->n_hostnames; i++)
		wf_buf_printf(&c->b, "%s%s", i ? "," : "", h->hostnames[i]);
	cell_start(c);
	if (h->n_parent_refs == 0)
		wf_buf_append_str(&c->b, NONE);
	for (size_t i = 0; i < h->n_parent_refs; i++)
		wf_buf_printf(&c->b, "%s%s", i ? "," : "", h->parent_refs[i].name);
}

static void deployment_row(struct cells *c, const struct wf_k8s_object *o, bool wide)
{
	const struct wf_k8s_deployment *d = o->deployment;
	cell(c, "%d", d->replicas);
	if (wide) {
		cell_start(c);
		selector(&c->b, &d->selector);
	}
}

struct kind_view {
	const char *headers[WF_CLI_MAX_COLS]; /* after NAMESPACE and NAME; NULL-ended */
	const char *wide[4];		      /* appended with -o wide */
	void (*row)(struct cells *c, const struct wf_k8s_object *o, bool wide);
};

static const struct kind_view views[WF_K8S_KIND_COUNT] = {
	[WF_K8S_NAMESPACE] = {{"STATUS"}, {"LABELS"}, namespace_row},
	[WF_K8S_NODE] = {{"STATUS", "INTERNAL-IP", "EXTERNAL-IP", "POD-CIDRS"}, {"ZONE"}, node_row},
	[WF_K8S_POD] = {{"READY", "STATUS", "IP", "NODE"}, {"LABELS"}, pod_row},
	[WF_K8S_SERVICE] = {{"TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"},
			    {"SELECTOR"},
			    service_row},
	[WF_K8S_ENDPOINTSLICE] = {{"ADDRESSTYPE", "PORTS", "ENDPOINTS"},
				  {"SERVICE"},
				  endpointslice_row},
	[WF_K8S_NETWORKPOLICY] = {{"POD-SELECTOR"}, {"POLICY-TYPES"}, netpol_row},
	[WF_K8S_INGRESS] = {{"CLASS", "HOSTS", "ADDRESS", "PORTS"}, {"TLS-SECRETS"}, ingress_row},
	[WF_K8S_INGRESSCLASS] = {{"CONTROLLER"}, {"DEFAULT"}, ingressclass_row},
	[WF_K8S_SECRET] = {{"TYPE", "DATA"}, {NULL}, secret_row},
	[WF_K8S_GATEWAY] = {{"CLASS", "LISTENERS"}, {NULL}, gateway_row},
	[WF_K8S_HTTPROUTE] = {{"HOSTNAMES", "PARENTS"}, {NULL}, httproute_row},
	[WF_K8S_DEPLOYMENT] = {{"REPLICAS"}, {"SELECTOR"}, deployment_row},
};

int wf_cli_get_table(enum wf_k8s_kind kind, const struct wf_k8s_object *const *objs, size_t n,
		     const struct wf_cli_get_opts *opts, FILE *out)
{
	const struct kind_view *v = &views[kind];
	const char *hdr[WF_CLI_MAX_COLS];
	size_t nh = 0;
	bool ns_col = opts->show_namespace && !wf_k8s_kind_cluster_scoped(kind);
	struct wf_cli_table t;
	int r;

	if (ns_col)
		hdr[nh++] = "NAMESPACE";
	hdr[nh++] = "NAME";
	for (size_t i = 0; v->headers[i] && nh < WF_CLI_MAX_COLS; i++)
		hdr[nh++] = v->headers[i];
	for (size_t i = 0; opts->wide && i < 4 && v->wide[i] && nh < WF_CLI_MAX_COLS; i++)
		hdr[nh++] = v->wide[i];
	r = wf_cli_table_init(&t, nh, hdr);
	if (r < 0)
		return r;
	/* kubectl get all prints "service/web" */
	char kind_lower[32];
	snprintf(kind_lower, sizeof(kind_lower), "%s", wf_k8s_kind_name(kind));
	for (char *p = kind_lower; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);

	for (size_t i = 0; i < n && r == 0; i++) {
		const struct wf_k8s_object *o = objs[i];
		struct cells c = {.n = 0};
		wf_buf_init(&c.b, 0);
		if (ns_col)
			cell(&c, "%s", o->namespace ? o->namespace : "");
		if (opts->kind_prefix)
			cell(&c, "%s/%s", kind_lower, o->name);
		else
			cell(&c, "%s", o->name);
		v->row(&c, o, opts->wide);
		const char *row[WF_CLI_MAX_COLS];
		char *base = wf_buf_cstr(&c.b);
		if (!base || c.n != nh) {
			r = base ? -EINVAL : -ENOMEM;
		} else {
			for (size_t k = 0; k < nh; k++)
				row[k] = base + c.off[k];
			r = wf_cli_table_row(&t, row);
		}
		wf_buf_done(&c.b);
	}
	if (r == 0)
		wf_cli_table_print(&t, out);
	wf_cli_table_done(&t);
	return r;
}
