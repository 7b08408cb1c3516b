/* weft-cni internals: configuration parsing, the IPAM store, interface set-up, nftables/tc
 * helpers and the command dispatcher. Single-threaded: one invocation per process. */
#pragma once
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cni/cni-types.h"

/* conf.c */

/* Sets err (printf-style message) and returns -1, for "return wf_cni_fail(...)". */
int wf_cni_fail(struct wf_cni_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Parses a version "x.y.z"; returns the number or -1. */
int wf_cni_version_num(const char *v);
/* True for the versions weft speaks (0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0). */
bool wf_cni_version_supported(const char *v);
extern const char *const wf_cni_versions[];

/* Reads the CNI_* variables (SPEC.md "Parameters"). Returns 0 or -1 with err set (code 4). */
int wf_cni_env_parse(struct wf_cni_env *env, bool ipam_only, struct wf_cni_err *err);
/* Validates an interface name as the spec asks (< 16 bytes, not . or .., no / : or space). */
bool wf_cni_ifname_valid(const char *name);
/* Parses CNI_ARGS ("K=V;K2=V2") into env. Unknown keys are an error unless IgnoreUnknown. */
int wf_cni_args_parse(struct wf_cni_env *env, const char *args, struct wf_cni_err *err);

/* Parses the configuration in buf (len bytes) for the command. Returns 0 or -1 with err set;
 * on success the caller must call wf_cni_conf_done(). */
int wf_cni_conf_parse(struct wf_cni_conf *conf, const char *buf, size_t len, enum wf_cni_cmd cmd,
		      struct wf_cni_err *err);
void wf_cni_conf_done(struct wf_cni_conf *conf);

/* Prints the spec's Error object for err on out. */
void wf_cni_err_print(const struct wf_cni_err *err, const char *version, FILE *out);

/* Builds a Success result in the shape of version: prevResult (may be NULL) followed by this
 * plugin's interfaces and IPs. Returns a new reference or NULL on allocation failure. */
json_t *wf_cni_result_build(const struct wf_cni_conf *conf, const char *netns,
			    const struct wf_cni_iface *ifaces, unsigned n_ifaces, int ip_iface,
			    const struct wf_cni_ip *ips, unsigned n_ips,
			    const struct wf_cni_route *routes, unsigned n_routes, bool ipam_only);
/* Parses "ips" of a (delegated IPAM or previous) result into ips. Returns count or -1. */
int wf_cni_result_ips(json_t *result, struct wf_cni_ip *ips, unsigned max);

/* ipam.c: IPAM with host-local's semantics over weft's own store, <dataDir>/<network>/store
 * (store.c; docs/internals/cni.md, "The store"). */

/* mkdir -p path, mode 0755 (existing directories are fine). Returns 0 or -errno
 * (-ENAMETOOLONG past 4095 bytes). */
int wf_cni_mkdir_p(const char *path);

/* Opens (creating) the network's directory, takes its lock and opens the store (creating it,
 * or converting the previous layout's files found there). 0 or -errno. */
int wf_cni_ipam_open(struct wf_cni_ipam *ipam, const char *data_dir, const char *network);
/* Writes back what changed, closes and drops the lock. */
void wf_cni_ipam_close(struct wf_cni_ipam *ipam);
/* What an ADD stores with its reservation (docs/internals/cni.md, "The store"). text() is
 * called with the addresses picked, before any is taken, and returns the attachment's record
 * (malloc()ed; NULL: out of memory), stored in the same write that takes the addresses. */
struct wf_cni_record {
	char *(*text)(const struct wf_cni_ip *ips, unsigned n, void *arg);
	void *arg;
};

/* Reserves one address per range set for the attachment (id, ifname), honouring requested
 * addresses, with the record rec (NULL: none). Returns the number of addresses written to
 * ret_ips (ret_ips[s] for range set s), -EEXIST (err untouched) when the attachment holds
 * addresses already, or -1 with err set. */
int wf_cni_ipam_alloc(struct wf_cni_ipam *ipam, const struct wf_cni_conf *conf,
		      const struct wf_ip *req, unsigned n_req, const char *id, const char *ifname,
		      const struct wf_cni_record *rec, struct wf_cni_ip *ret_ips,
		      struct wf_cni_err *err);
/* Releases the attachment: its addresses and record. 1, 0 when there was none, or -errno. */
int wf_cni_ipam_release(struct wf_cni_ipam *ipam, const char *id, const char *ifname);
/* The attachment's record (malloc()ed with wf_malloc, "" when it has none). 0, -ENOENT when
 * there is no such attachment, or -errno. */
int wf_cni_ipam_record(struct wf_cni_ipam *ipam, const char *id, const char *ifname,
		       char **ret_text);
/* True when ip is reserved by (id, ifname). */
bool wf_cni_ipam_owns(struct wf_cni_ipam *ipam, const struct wf_ip *ip, const char *id,
		      const char *ifname);
/* GC: releases the attachments keep() rejects. Returns the number of addresses released. */
typedef bool (*wf_cni_keep_fn)(const char *id, const char *ifname, void *arg);
int wf_cni_ipam_gc(struct wf_cni_ipam *ipam, wf_cni_keep_fn keep, void *arg);
/* Calls fn for every attachment with its record ("" when none; borrowed for the call). A
 * negative return stops the walk and is returned. */
typedef int (*wf_cni_att_fn)(const char *id, const char *ifname, const char *text, void *arg);
int wf_cni_ipam_each(struct wf_cni_ipam *ipam, wf_cni_att_fn fn, void *arg);
/* Number of free addresses across the smallest-free range set (0: exhausted). */
uint64_t wf_cni_ipam_free(struct wf_cni_ipam *ipam, const struct wf_cni_conf *conf);
/* weft-ipam list DIR: prints the reservations of the store in DIR (<dataDir>/<network>). */
int wf_cni_ipam_list(const char *dir, FILE *out);

/* plugin.c: runs one invocation; argv0 decides weft-cni or weft-ipam. Reads stdin, writes the
 * result or error on out. Returns the process exit status. */
int wf_cni_main(const char *argv0, FILE *in, FILE *out);
