/* Conntrack cleanup (ct.h). */
#include "proxy/ct.h"

#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/hash.h"
#include "lib/ip.h"

/* Hash key: family, address, port. */
struct ct_key {
	struct wf_ip ip;
	uint16_t port;
	uint8_t proto;
} __attribute__((packed));

struct scan {
	struct wf_hash *filters; /* struct ct_key -> const struct wf_proxy_ct_filter */
	struct ct_key *keys;
	struct nf_conntrack **doomed;
	size_t n, cap;
	int err;
};

static bool is_endpoint(const struct wf_proxy_svc *s, const struct wf_ip *ip, uint16_t port)
{
	for (int l = 0; l < 2; l++) {
		const struct wf_proxy_endpoint *e = l ? s->local_eps : s->eps;
		size_t k = l ? s->n_local_eps : s->n_eps;

		for (size_t i = 0; i < k; i++)
			if (e[i].port == port && wf_ip_equal(&e[i].ip, ip))
				return true;
	}
	return false;
}

static int scan_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct scan *sc = data;
	const struct wf_proxy_ct_filter *f;
	struct ct_key k;
	struct wf_ip reply;
	uint8_t l3 = nfct_get_attr_u8(ct, ATTR_L3PROTO);

	memset(&k, 0, sizeof(k));
	k.proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	if (l3 == AF_INET) {
		wf_ip_from_in4(nfct_get_attr_u32(ct, ATTR_IPV4_DST), &k.ip);
		wf_ip_from_in4(nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC), &reply);
	} else if (l3 == AF_INET6) {
		wf_ip_from_in6(nfct_get_attr(ct, ATTR_IPV6_DST), &k.ip);
		wf_ip_from_in6(nfct_get_attr(ct, ATTR_REPL_IPV6_SRC), &reply);
	} else {
		return NFCT_CB_CONTINUE;
	}
	k.port = ntohs(nfct_get_attr_u16(ct, ATTR_PORT_DST));
	f = wf_hash_get(sc->filters, &k, sizeof(k));
	if (!f || is_endpoint(f->svc, &reply, ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC))))
		return NFCT_CB_CONTINUE;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		struct nf_conntrack **d = wf_reallocarray(sc->doomed, cap, sizeof(*d));

		if (!d) {
			sc->err = -ENOMEM;
			return NFCT_CB_STOP;
		}
		sc->doomed = d;
		sc->cap = cap;
	}
	sc->doomed[sc->n] = nfct_clone(ct);
	if (!sc->doomed[sc->n]) {
		sc->err = -ENOMEM;
		return NFCT_CB_STOP;
	}
	sc->n++;
	return NFCT_CB_CONTINUE;
}

int wf_proxy_ct_delete(const struct wf_proxy_ct_filter *f, size_t n)
{
	struct scan sc = {0};
	struct nfct_handle *h = NULL;
	int r = -ENOMEM, deleted = 0;

	if (!n)
		return 0;
	sc.filters = wf_hash_new(n);
	sc.keys = wf_calloc(n, sizeof(*sc.keys));
	if (!sc.filters || !sc.keys)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sc.keys[i].ip = f[i].dst;
		sc.keys[i].port = f[i].port;
		sc.keys[i].proto = f[i].proto;
		if (wf_hash_put(sc.filters, &sc.keys[i], sizeof(sc.keys[i]), (void *)&f[i], NULL))
			goto out;
	}
	h = nfct_open(CONNTRACK, 0);
	if (!h) {
		r = -errno;
		goto out;
	}
	nfct_callback_register(h, NFCT_T_ALL, scan_cb, &sc);
	for (int fam = 0; fam < 2; fam++) {
		uint32_t family = fam ? AF_INET6 : AF_INET;

		if (nfct_query(h, NFCT_Q_DUMP, &family) == -1 && !sc.err) {
			r = -errno;
			goto out;
		}
		if (sc.err) {
			r = sc.err;
			goto out;
		}
	}
	for (size_t i = 0; i < sc.n; i++) {
		/* Gone already (expired, or deleted by someone else) is as good. */
		if (nfct_query(h, NFCT_Q_DESTROY, sc.doomed[i]) == 0)
			deleted++;
		else if (errno != ENOENT) {
			r = -errno;
			goto out;
		}
	}
	r = deleted;
out:
	for (size_t i = 0; i < sc.n; i++)
		nfct_destroy(sc.doomed[i]);
	wf_free(sc.doomed);
	if (h)
		nfct_close(h);
	wf_hash_free(sc.filters);
	wf_free(sc.keys);
	return r;
}
