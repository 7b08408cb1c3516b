/* The address store's slot file (store.c): one file per network, <dataDir>/<network>/store,
 * a table of fixed-size self-validating slots updated in place (docs/internals/cni.md, "The
 * store"). Every function expects the caller to hold the network's flock (struct wf_cni_ipam
 * from wf_cni_ipam_open); single-threaded. Errors are -errno. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cni/cni-types.h"

/* One attachment as the store holds it: its owner, addresses and record (NUL-terminated,
 * malloc()ed; "" when it has none). */
struct wf_cni_store_att {
	char id[WF_CNI_STORE_ID_MAX + 1];
	char ifname[16];
	struct wf_cni_ip ips[WF_CNI_MAX_SETS];
	unsigned n_ips;
	char *text;
};

/* Opens (creating, or converting a store of the previous layout found in the directory)
 * <dirfd>/store into ipam->fd and reads its header. */
int wf_cni_store_open(struct wf_cni_ipam *ipam);
/* Writes the header back when it changed (round-robin hints, counts, generation). */
int wf_cni_store_flush(struct wf_cni_ipam *ipam);

/* 1 when ip is held by a live attachment (its owner in ret_id/ret_ifname when non-NULL,
 * sizes WF_CNI_STORE_ID_MAX + 1 and 16), 0 when free, or -errno. */
int wf_cni_store_ip_owner(struct wf_cni_ipam *ipam, const struct wf_ip *ip, char *ret_id,
			  char *ret_ifname);
/* Loads the attachment (id, ifname) into ret (ret->text to be freed by the caller with
 * wf_free). 0, -ENOENT or -errno. */
int wf_cni_store_get(struct wf_cni_ipam *ipam, const char *id, const char *ifname,
		     struct wf_cni_store_att *ret);
/* Stores a new attachment: its addresses (taken by it as of the one write of its head slot)
 * and record text (len bytes, may be 0). -EEXIST when (id, ifname) has one already,
 * -EADDRINUSE when an address is held, -ENAMETOOLONG for an id over WF_CNI_STORE_ID_MAX. */
int wf_cni_store_put(struct wf_cni_ipam *ipam, const char *id, const char *ifname,
		     const struct wf_cni_ip *ips, unsigned n_ips, const char *text, size_t len);
/* Removes the attachment (id, ifname) and frees its addresses, in one write. 1 removed,
 * 0 there was none, or -errno. */
int wf_cni_store_drop(struct wf_cni_ipam *ipam, const char *id, const char *ifname);
/* Calls fn for every attachment (a scan of the whole file; fn's att->text is valid during the
 * call only). A negative return of fn stops the walk and is returned; otherwise the sum of
 * fn's returns. Slots of interrupted writes found on the way are cleared. */
int wf_cni_store_each(struct wf_cni_ipam *ipam,
		      int (*fn)(struct wf_cni_ipam *, const struct wf_cni_store_att *, void *),
		      void *arg);

/* Tests: when >= 0, the number of writes (slot or header) the store may still make; at 0 every
 * write fails with -EINTR and leaves the file as a process killed there would. -1: no limit. */
extern long wf_cni_store_test_writes;
