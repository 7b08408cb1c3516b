/* Kubernetes objects -> DNS cluster view, and the manifest-path source. */
#include "dns/view.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/object.h"
#include "lib/alloc.h"
#include "lib/diag.h"
#include "lib/hash.h"

struct wf_dns_view {
	struct wf_dns_cluster c;
	struct wf_k8s_object **objs;
	size_t n_objs;
	struct wf_dns_endpoint *endpoints; /* one array for all slices */
	struct wf_dns_port *ports;	   /* one array for all services and slices */
};

const struct wf_dns_cluster *wf_dns_view_cluster(const struct wf_dns_view *v)
{
	return &v->c;
}

void wf_dns_view_free(struct wf_dns_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_objs; i++)
		wf_k8s_object_unref(v->objs[i]);
	wf_free(v->objs);
	for (size_t i = 0; v->c.services && i < v->c.n_services; i++)
		wf_free(v->c.services[i].slices);
	wf_free(v->c.services);
	wf_free(v->c.pods);
	wf_free(v->c.namespaces);
	wf_free(v->endpoints);
	wf_free(v->ports);
	wf_free(v);
}

static const char *proto_name(enum wf_k8s_protocol p)
{
	return p == WF_K8S_PROTO_UDP ? "udp" : p == WF_K8S_PROTO_SCTP ? "sctp" : "tcp";
}

static int8_t tri(enum wf_k8s_tristate t)
{
	return t == WF_K8S_TRUE ? 1 : t == WF_K8S_FALSE ? 0 : -1;
}

int wf_dns_view_new(struct wf_k8s_object *const *objs, size_t n, struct wf_dns_view **ret)
{
	struct wf_dns_view *v;
	struct wf_hash *by_svc = NULL;
	size_t n_svc = 0, n_pod = 0, n_ns = 0, n_ep = 0, n_port = 0;
	char key[512];
	int rc = -ENOMEM;

	v = wf_calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct wf_k8s_object *o = objs[i];
		switch (o->kind) {
		case WF_K8S_SERVICE:
			n_svc++;
			n_port += o->service->n_ports;
			break;
		case WF_K8S_ENDPOINTSLICE:
			n_ep += o->endpointslice->n_endpoints;
			n_port += o->endpointslice->n_ports;
			break;
		case WF_K8S_POD:
			n_pod++;
			break;
		case WF_K8S_NAMESPACE:
			n_ns++;
			break;
		default:
			continue;
		}
	}
	v->objs = wf_calloc(n_svc + n_pod + n_ns + (n - n_svc - n_pod - n_ns) + 1, sizeof(*v->objs));
	v->c.services = wf_calloc(n_svc + 1, sizeof(*v->c.services));
	v->c.pods = wf_calloc(n_pod + 1, sizeof(*v->c.pods));
	v->c.namespaces = wf_calloc(n_ns + 1, sizeof(*v->c.namespaces));
	v->endpoints = wf_calloc(n_ep + 1, sizeof(*v->endpoints));
	v->ports = wf_calloc(n_port + 1, sizeof(*v->ports));
	by_svc = wf_hash_new(n_svc * 2 + 16);
	if (!v->objs || !v->c.services || !v->c.pods || !v->c.namespaces || !v->endpoints ||
	    !v->ports || !by_svc)
		goto fail;

	size_t pi = 0, ei = 0;
	for (size_t i = 0; i < n; i++) {
		struct wf_k8s_object *o = objs[i];
		if (o->kind == WF_K8S_SERVICE) {
			const struct wf_k8s_service *ks = o->service;
			struct wf_dns_service *s = &v->c.services[v->c.n_services];
			s->ns = o->namespace;
			s->name = o->name;
			s->publish_not_ready = ks->publish_not_ready_addresses;
			if (ks->type == WF_K8S_SVC_EXTERNAL_NAME) {
				s->kind = WF_DNS_SVC_EXTERNALNAME;
				s->external_name = ks->external_name;
			} else if (ks->headless) {
				s->kind = WF_DNS_SVC_HEADLESS;
			} else {
				s->kind = WF_DNS_SVC_CLUSTERIP;
				for (size_t k = 0; k < ks->n_cluster_ips && k < 2; k++)
					s->cluster_ips[s->n_cluster_ips++] = ks->cluster_ips[k];
			}
			s->ports = &v->ports[pi];
			for (size_t k = 0; k < ks->n_ports; k++) {
				v->ports[pi].name = ks->ports[k].name;
				v->ports[pi].proto = proto_name(ks->ports[k].protocol);
				v->ports[pi].port = (uint16_t)ks->ports[k].port;
				pi++;
			}
			s->n_ports = ks->n_ports;
			snprintf(key, sizeof(key), "%s/%s", o->namespace, o->name);
			/* value: index + 1 (NULL means absent) */
			if (wf_hash_put(by_svc, key, strlen(key), (void *)(uintptr_t)(v->c.n_services + 1),
					NULL) < 0)
				goto fail;
			v->c.n_services++;
		} else if (o->kind == WF_K8S_POD) {
			struct wf_dns_pod *p = &v->c.pods[v->c.n_pods++];
			p->ns = o->namespace;
			p->name = o->name;
			p->ips = o->pod->pod_ips;
			p->n_ips = o->pod->n_pod_ips;
		} else if (o->kind == WF_K8S_NAMESPACE) {
			v->c.namespaces[v->c.n_namespaces++] = o->name;
		} else if (o->kind != WF_K8S_ENDPOINTSLICE) {
			continue;
		}
		v->objs[v->n_objs++] = wf_k8s_object_ref(o);
	}

	/* EndpointSlices: two passes, count per service then fill (spec: all slices labelled
	 * kubernetes.io/service-name are merged; FQDN slices ignored). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			struct wf_k8s_object *o = objs[i];
			if (o->kind != WF_K8S_ENDPOINTSLICE)
				continue;
			const struct wf_k8s_endpointslice *es = o->endpointslice;
			if (!es->service_name || es->address_type == WF_K8S_ADDR_FQDN)
				continue;
			snprintf(key, sizeof(key), "%s/%s", o->namespace, es->service_name);
			uintptr_t si = (uintptr_t)wf_hash_get(by_svc, key, strlen(key));
			if (!si)
				continue;
			struct wf_dns_service *s = &v->c.services[si - 1];
			if (pass == 0) {
				s->n_slices++;
				continue;
			}
			struct wf_dns_slice *sl = &s->slices[s->n_slices++];
			sl->ports = &v->ports[pi];
			for (size_t k = 0; k < es->n_ports; k++) {
				v->ports[pi].name = es->ports[k].name;
				v->ports[pi].proto = proto_name(es->ports[k].protocol);
				v->ports[pi].port = es->ports[k].has_port ? (uint16_t)es->ports[k].port : 0;
				pi++;
			}
			sl->n_ports = es->n_ports;
			sl->endpoints = &v->endpoints[ei];
			for (size_t k = 0; k < es->n_endpoints; k++) {
				const struct wf_k8s_endpoint *ke = &es->endpoints[k];
				struct wf_dns_endpoint *e = &v->endpoints[ei++];
				e->hostname = ke->hostname;
				e->addrs = ke->ips;
				e->n_addrs = ke->ips ? ke->n_addresses : 0;
				e->ready = tri(ke->ready);
				e->serving = tri(ke->serving);
				e->terminating = tri(ke->terminating);
			}
			sl->n_endpoints = es->n_endpoints;
		}
		if (pass == 0) {
			for (size_t i = 0; i < v->c.n_services; i++) {
				struct wf_dns_service *s = &v->c.services[i];
				if (s->n_slices) {
					s->slices = wf_calloc(s->n_slices, sizeof(*s->slices));
					if (!s->slices)
						goto fail;
				}
				s->n_slices = 0;
			}
		}
	}
	wf_hash_free(by_svc);
	*ret = v;
	return 0;

fail:
	wf_hash_free(by_svc);
	wf_dns_view_free(v);
	return rc;
}

/* ---- manifest path source ---- */

struct file_entry {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct wf_k8s_parse_result res;
	bool seen;
};

struct wf_dns_source {
	char *path;
	bool is_dir;
	int ifd;
	struct file_entry *files;
	size_t n_files;
	bool loaded;
	char last_error[1024];
};

int wf_dns_source_new(const char *path, struct wf_dns_source **ret)
{
	struct wf_dns_source *s;
	struct stat st;
	int rc;

	if (stat(path, &st) == -1)
		return -errno;
	s = wf_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ifd = -1;
	s->is_dir = S_ISDIR(st.st_mode);
	s->path = wf_strdup(path);
	if (!s->path) {
		rc = -ENOMEM;
		goto fail;
	}
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd == -1) {
		rc = -errno;
		goto fail;
	}
	/* A file is watched through its directory too: editors and `kubectl`-style writers
	 * replace files by rename. */
	if (s->is_dir) {
		if (inotify_add_watch(s->ifd, path,
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
					      IN_CREATE | IN_MODIFY) == -1) {
			rc = -errno;
			goto fail;
		}
	} else if (inotify_add_watch(s->ifd, path, IN_CLOSE_WRITE | IN_MODIFY | IN_DELETE_SELF |
							   IN_MOVE_SELF | IN_ATTRIB) == -1) {
		rc = -errno;
		goto fail;
	}
	*ret = s;
	return 0;

fail:
	wf_dns_source_free(s);
	return rc;
}

void wf_dns_source_free(struct wf_dns_source *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_files; i++) {
		wf_free(s->files[i].path);
		wf_k8s_parse_result_done(&s->files[i].res);
	}
	wf_free(s->files);
	if (s->ifd >= 0)
		close(s->ifd);
	wf_free(s->path);
	wf_free(s);
}

int wf_dns_source_fd(const struct wf_dns_source *s)
{
	return s->ifd;
}

const char *wf_dns_source_last_error(const struct wf_dns_source *s)
{
	return s->last_error;
}

bool wf_dns_source_drain(struct wf_dns_source *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;

	for (;;) {
		ssize_t n = read(s->ifd, buf, sizeof(buf));
		if (n <= 0)
			break;
		any = true;
	}
	if (!s->is_dir && any) {
		/* the file may have been replaced: watch the new inode */
		inotify_add_watch(s->ifd, s->path,
				  IN_CLOSE_WRITE | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF |
					  IN_ATTRIB);
	}
	return any;
}

static bool manifest_name(const char *name)
{
	size_t l = strlen(name);

	if (name[0] == '.')
		return false;
	return (l > 5 && strcmp(name + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(name + l - 4, ".yml") == 0) ||
	       (l > 5 && strcmp(name + l - 5, ".json") == 0);
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct file_entry *)a)->path, ((const struct file_entry *)b)->path);
}

/* Brings one file's entry up to date; returns 1 when it changed, 0 when not. */
static int refresh(struct wf_dns_source *s, const char *path, unsigned *errors)
{
	struct stat st;
	struct file_entry *e = NULL;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	for (size_t i = 0; i < s->n_files; i++)
		if (strcmp(s->files[i].path, path) == 0) {
			e = &s->files[i];
			break;
		}
	if (e) {
		e->seen = true;
		if (e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
		    e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec)
			return 0;
	} else {
		struct file_entry *f = wf_reallocarray(s->files, s->n_files + 1, sizeof(*f));
		if (!f)
			return -ENOMEM;
		s->files = f;
		e = &s->files[s->n_files];
		memset(e, 0, sizeof(*e));
		e->path = wf_strdup(path);
		if (!e->path)
			return -ENOMEM;
		e->seen = true;
		s->n_files++;
	}
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime = st.st_mtim;

	struct wf_k8s_parse_result res = {0};
	struct wf_diag diag;
	wf_diag_clear(&diag);
	int rc = wf_k8s_parse_file(path, &res, &diag);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		/* keep the last good objects of this file */
		(*errors)++;
		wf_diag_format(&diag, s->last_error, sizeof(s->last_error));
		return 1;
	}
	wf_k8s_parse_result_done(&e->res);
	e->res = res;
	return 1;
}

int wf_dns_source_load(struct wf_dns_source *s, struct wf_dns_view **ret, bool *ret_changed,
		       unsigned *ret_errors)
{
	bool changed = !s->loaded;
	unsigned errors = 0;
	int rc;

	for (size_t i = 0; i < s->n_files; i++)
		s->files[i].seen = false;
	if (s->is_dir) {
		DIR *d = opendir(s->path);
		struct dirent *de;
		if (!d)
			return -errno;
		while ((de = readdir(d))) {
			char p[4096];
			if (!manifest_name(de->d_name))
				continue;
			snprintf(p, sizeof(p), "%s/%s", s->path, de->d_name);
			rc = refresh(s, p, &errors);
			if (rc < 0) {
				closedir(d);
				return rc;
			}
			changed |= rc > 0;
		}
		closedir(d);
	} else {
		rc = refresh(s, s->path, &errors);
		if (rc < 0)
			return rc;
		changed |= rc > 0;
	}
	/* files that disappeared */
	size_t w = 0;
	for (size_t i = 0; i < s->n_files; i++) {
		if (s->files[i].seen) {
			s->files[w++] = s->files[i];
			continue;
		}
		wf_free(s->files[i].path);
		wf_k8s_parse_result_done(&s->files[i].res);
		changed = true;
	}
	s->n_files = w;
	qsort(s->files, s->n_files, sizeof(*s->files), path_cmp);

	size_t total = 0;
	for (size_t i = 0; i < s->n_files; i++)
		total += s->files[i].res.n_objects;
	struct wf_k8s_object **all = wf_calloc(total + 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < s->n_files; i++)
		for (size_t j = 0; j < s->files[i].res.n_objects; j++)
			all[k++] = s->files[i].res.objects[j];
	rc = wf_dns_view_new(all, k, ret);
	wf_free(all);
	if (rc < 0)
		return rc;
	s->loaded = true;
	*ret_changed = changed;
	*ret_errors = errors;
	return 0;
}
