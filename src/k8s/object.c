/* Kinds, object lifetime, keys and small accessors. Decoding lives in decode.c. */
#include "k8s/object.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/arena.h"
#include "lib/error.h"

static const struct {
	const char *name;
	const char *plural;
	const char *api_version;
	bool cluster;
	const char *shorts[3];
} kinds[WF_K8S_KIND_COUNT] = {
	[WF_K8S_NAMESPACE] = {"Namespace", "namespaces", "v1", true, {"ns"}},
	[WF_K8S_NODE] = {"Node", "nodes", "v1", true, {"no"}},
	[WF_K8S_POD] = {"Pod", "pods", "v1", false, {"po"}},
	[WF_K8S_SERVICE] = {"Service", "services", "v1", false, {"svc"}},
	[WF_K8S_ENDPOINTSLICE] = {"EndpointSlice",
				  "endpointslices",
				  "discovery.k8s.io/v1",
				  false,
				  {"ep", "eps", "endpoints"}},
	[WF_K8S_NETWORKPOLICY] =
		{"NetworkPolicy", "networkpolicies", "networking.k8s.io/v1", false, {"netpol"}},
	[WF_K8S_INGRESS] = {"Ingress", "ingresses", "networking.k8s.io/v1", false, {"ing"}},
	[WF_K8S_INGRESSCLASS] =
		{"IngressClass", "ingressclasses", "networking.k8s.io/v1", true, {"ingclass"}},
	[WF_K8S_SECRET] = {"Secret", "secrets", "v1", false, {"sec"}},
	[WF_K8S_GATEWAY] =
		{"Gateway", "gateways", "gateway.networking.k8s.io/v1", false, {"gtw", "gw"}},
	[WF_K8S_HTTPROUTE] =
		{"HTTPRoute", "httproutes", "gateway.networking.k8s.io/v1", false, {"route"}},
	[WF_K8S_DEPLOYMENT] = {"Deployment", "deployments", "apps/v1", false, {"deploy"}},
};

const char *wf_k8s_kind_name(enum wf_k8s_kind kind)
{
	return (unsigned)kind < WF_K8S_KIND_COUNT ? kinds[kind].name : "?";
}

const char *wf_k8s_kind_plural(enum wf_k8s_kind kind)
{
	return (unsigned)kind < WF_K8S_KIND_COUNT ? kinds[kind].plural : "?";
}

const char *wf_k8s_kind_api_version(enum wf_k8s_kind kind)
{
	return (unsigned)kind < WF_K8S_KIND_COUNT ? kinds[kind].api_version : "?";
}

bool wf_k8s_kind_cluster_scoped(enum wf_k8s_kind kind)
{
	return (unsigned)kind < WF_K8S_KIND_COUNT && kinds[kind].cluster;
}

int wf_k8s_kind_lookup(const char *s, enum wf_k8s_kind *ret)
{
	for (unsigned k = 0; k < WF_K8S_KIND_COUNT; k++) {
		/* The kind name case-insensitively covers "Service" and "service". */
		bool hit = strcasecmp(s, kinds[k].name) == 0 || strcasecmp(s, kinds[k].plural) == 0;
		for (unsigned i = 0; !hit && i < 3 && kinds[k].shorts[i]; i++)
			hit = strcasecmp(s, kinds[k].shorts[i]) == 0;
		if (hit) {
			*ret = (enum wf_k8s_kind)k;
			return 0;
		}
	}
	return -WF_E_UNKNOWN_KIND;
}

struct wf_k8s_object *wf_k8s_object_ref(struct wf_k8s_object *obj)
{
	if (obj)
		__atomic_add_fetch(&obj->refcount, 1, __ATOMIC_RELAXED);
	return obj;
}

void wf_k8s_object_unref(struct wf_k8s_object *obj)
{
	if (!obj)
		return;
	if (__atomic_sub_fetch(&obj->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		wf_arena_free(obj->arena); /* the object itself lives in its arena */
}

const char *wf_k8s_object_key(const struct wf_k8s_object *obj)
{
	return obj->key;
}

int wf_k8s_key_format(char *buf, size_t len, enum wf_k8s_kind kind, const char *namespace,
		      const char *name)
{
	int n;

	if (wf_k8s_kind_cluster_scoped(kind) || !namespace)
		n = snprintf(buf, len, "%s/%s", wf_k8s_kind_name(kind), name);
	else
		n = snprintf(buf, len, "%s/%s/%s", wf_k8s_kind_name(kind), namespace, name);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

void wf_k8s_parse_result_done(struct wf_k8s_parse_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_objects; i++)
		wf_k8s_object_unref(r->objects[i]);
	wf_free(r->objects);
	memset(r, 0, sizeof(*r));
}

int wf_k8s_parse_file(const char *path, struct wf_k8s_parse_result *ret, struct wf_diag *diag)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		r = -errno;
		wf_diag_set(diag, path, 0, 0, NULL, "%s", strerror(errno));
		return r;
	}
	if (fstat(fd, &st) == -1) {
		r = -errno;
		wf_diag_set(diag, path, 0, 0, NULL, "%s", strerror(errno));
		goto out_close;
	}
	if ((uint64_t)st.st_size > WF_K8S_MAX_FILE_BYTES) {
		r = -WF_E_TOO_BIG;
		wf_diag_set(diag, path, 0, 0, NULL, "file is %lld bytes, over the %u byte limit",
			    (long long)st.st_size, WF_K8S_MAX_FILE_BYTES);
		goto out_close;
	}
	buf = wf_malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		wf_diag_set(diag, path, 0, 0, NULL, "out of memory");
		goto out_close;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = -errno;
			wf_diag_set(diag, path, 0, 0, NULL, "%s", strerror(errno));
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = wf_k8s_parse(buf, len, path, ret, diag);
out_free:
	wf_free(buf);
out_close:
	close(fd);
	return r;
}

bool wf_k8s_endpoint_ready(const struct wf_k8s_endpoint *ep)
{
	/* EndpointConditions.ready: "nil ... should be interpreted as ready" */
	return ep->ready != WF_K8S_FALSE;
}

bool wf_k8s_endpoint_serving(const struct wf_k8s_endpoint *ep)
{
	/* EndpointConditions.serving: nil is interpreted like ready */
	if (ep->serving == WF_K8S_UNSET)
		return wf_k8s_endpoint_ready(ep);
	return ep->serving == WF_K8S_TRUE;
}

bool wf_k8s_endpoint_terminating(const struct wf_k8s_endpoint *ep)
{
	/* EndpointConditions.terminating: nil is "not terminating" */
	return ep->terminating == WF_K8S_TRUE;
}

const struct wf_k8s_secret_item *wf_k8s_secret_get(const struct wf_k8s_secret *s, const char *key)
{
	for (size_t i = 0; i < s->n_items; i++)
		if (strcmp(s->items[i].key, key) == 0)
			return &s->items[i];
	return NULL;
}

const char *wf_k8s_protocol_name(enum wf_k8s_protocol p)
{
	switch (p) {
	case WF_K8S_PROTO_TCP:
		return "TCP";
	case WF_K8S_PROTO_UDP:
		return "UDP";
	case WF_K8S_PROTO_SCTP:
		return "SCTP";
	}
	return "?";
}
