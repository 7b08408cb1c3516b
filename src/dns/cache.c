/* Upstream relay and the response cache shared by the workers (RFC 1035 7.4, RFC 2308). */
#define _LGPL_SOURCE
#include "dns/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <urcu/urcu-qsbr.h>

#include "dns/wire.h"
#include "lib/alloc.h"
#include "lib/error.h"

#define WAYS 4
#define STRIPES 64 /* writers' locks, each guarding every 64th set */

/* Immutable once published: readers copy from it without a lock; a replaced entry is freed
 * after an RCU grace period (call_rcu), when no reader can still hold it. */
struct entry {
	struct rcu_head rcu;
	uint64_t hash;
	uint64_t stored_ms;
	uint64_t expires_ms;
	uint16_t qtype, qclass;
	uint8_t qname_len;
	uint8_t qname[WF_DNS_MAX_NAME];
	struct wf_dns_upstream_msg m; /* rec_off = 0, rec_end = length of rec */
	uint8_t rec[];
};

struct wf_dns_cache {
	struct entry **slots; /* RCU-published */
	size_t mask;	      /* sets - 1 */
	size_t count;
	pthread_mutex_t locks[STRIPES];
};

static void entry_free_rcu(struct rcu_head *head)
{
	wf_free(caa_container_of(head, struct entry, rcu));
}

/* Frees e once every reader that may have seen it is past a quiescent state. */
static void entry_retire(struct entry *e)
{
	if (e)
		urcu_qsbr_call_rcu(&e->rcu, entry_free_rcu);
}

int wf_dns_upstream_parse(const uint8_t *msg, size_t len, const uint8_t *qname_lc, size_t qname_len,
			  uint16_t qtype, uint16_t qclass, uint32_t max_ttl,
			  struct wf_dns_upstream_msg *m)
{
	uint8_t name[WF_DNS_MAX_NAME];
	size_t off = WF_DNS_HDR_LEN;
	uint32_t min_ttl = UINT32_MAX, neg_ttl = 0;
	bool cacheable = true, have_soa = false;
	int nl;

	if (len < WF_DNS_HDR_LEN || !(wf_dns_get16(msg + 2) & WF_DNS_F_QR) ||
	    wf_dns_get16(msg + 4) != 1)
		return -WF_E_PARSE;
	m->flags = wf_dns_get16(msg + 2);
	m->an = wf_dns_get16(msg + 6);
	m->ns = wf_dns_get16(msg + 8);
	m->ar = wf_dns_get16(msg + 10);
	m->n_ttls = 0;
	nl = wf_dns_wire_read_name(msg, len, &off, name);
	if (nl < 0 || (size_t)nl != qname_len || memcmp(name, qname_lc, qname_len) != 0 ||
	    off + 4 > len || wf_dns_get16(msg + off) != qtype ||
	    wf_dns_get16(msg + off + 2) != qclass)
		return -WF_E_PARSE;
	off += 4;
	m->rec_off = off;
	m->rec_end = len;
	unsigned total = (unsigned)m->an + m->ns + m->ar;
	for (unsigned i = 0; i < total; i++) {
		size_t start = off, ttl_off;
		uint16_t type;

		if (wf_dns_wire_skip_rr(msg, len, &off, &ttl_off, &type) < 0)
			return -WF_E_PARSE;
		if (type == WF_DNS_T_OPT) {
			/* Strip the upstream's OPT (we add our own): possible without breaking
			 * compression pointers only when nothing follows it. */
			if (i + 1 == total) {
				m->rec_end = start;
				m->ar--;
			} else {
				cacheable = false;
			}
			continue;
		}
		uint32_t ttl = wf_dns_get32(msg + ttl_off);
		if (ttl > 0x7fffffff)
			ttl = 0; /* RFC 2181 8 */
		if (ttl < min_ttl)
			min_ttl = ttl;
		if (i >= m->an && i < (unsigned)m->an + m->ns && type == WF_DNS_T_SOA &&
		    off - start >= 4) {
			uint32_t minimum = wf_dns_get32(msg + off - 4);
			neg_ttl = ttl < minimum ? ttl : minimum;
			have_soa = true;
		}
		if (m->n_ttls == 64) {
			cacheable = false;
			continue;
		}
		m->ttl_offs[m->n_ttls++] = (uint16_t)(ttl_off - m->rec_off);
	}
	if (m->rec_end == len && off != len)
		m->rec_end = off; /* trailing garbage is not relayed */

	uint16_t rcode = m->flags & WF_DNS_F_RCODE;
	if (m->flags & WF_DNS_F_TC)
		cacheable = false;
	if (rcode != WF_DNS_R_NOERROR && rcode != WF_DNS_R_NXDOMAIN)
		cacheable = false;
	m->ttl = 0;
	if (cacheable) {
		if (m->an == 0 || rcode == WF_DNS_R_NXDOMAIN)
			m->ttl = have_soa ? neg_ttl : 0; /* RFC 2308 5: no SOA, no caching */
		else
			m->ttl = min_ttl == UINT32_MAX ? 0 : min_ttl;
		if (m->ttl > max_ttl)
			m->ttl = max_ttl;
	}
	return 0;
}

size_t wf_dns_relay(const struct wf_dns_query *q, const uint8_t *rec,
		    const struct wf_dns_upstream_msg *m, uint32_t elapsed, uint8_t *out,
		    size_t limit)
{
	/* Not our data: never AA; AD only a validator may set; RA because we forward. */
	size_t off = wf_dns_wire_begin(q, out, (m->flags & WF_DNS_F_TC) | WF_DNS_F_RA);
	size_t rlen = m->rec_end - m->rec_off;
	uint8_t rcode = m->flags & WF_DNS_F_RCODE;

	if (off + rlen + (q->edns ? 11 : 0) > limit) {
		out[2] |= WF_DNS_F_TC >> 8;
		return wf_dns_wire_finish(q, out, off, rcode, 0, 0, WF_DNS_EDNS_CAP);
	}
	/* Records follow a question of the same length as upstream's, so compression pointers
	 * stay valid. */
	memcpy(out + off, rec + m->rec_off, rlen);
	if (elapsed) {
		for (unsigned i = 0; i < m->n_ttls; i++) {
			uint8_t *p = out + off + m->ttl_offs[i];
			uint32_t t = wf_dns_get32(p);
			wf_dns_put32(p, t > elapsed ? t - elapsed : 0);
		}
	}
	off = wf_dns_wire_finish(q, out, off + rlen, rcode, m->an, m->ns, WF_DNS_EDNS_CAP);
	/* finish wrote ARCOUNT for our OPT only; add upstream's other additional records */
	wf_dns_put16(out + 10, (uint16_t)(m->ar + (q->edns ? 1 : 0)));
	return off;
}

int wf_dns_cache_new(size_t entries, struct wf_dns_cache **ret)
{
	struct wf_dns_cache *c;
	size_t sets = 16;

	while (sets * WAYS < entries)
		sets *= 2;
	c = wf_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->slots = wf_calloc(sets * WAYS, sizeof(*c->slots));
	if (!c->slots) {
		wf_free(c);
		return -ENOMEM;
	}
	c->mask = sets - 1;
	for (unsigned i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	*ret = c;
	return 0;
}

void wf_dns_cache_free(struct wf_dns_cache *c)
{
	if (!c)
		return;
	urcu_qsbr_barrier(); /* entries retired earlier are freed first */
	for (size_t i = 0; i < (c->mask + 1) * WAYS; i++)
		wf_free(c->slots[i]);
	for (unsigned i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->locks[i]);
	wf_free(c->slots);
	wf_free(c);
}

size_t wf_dns_cache_count(const struct wf_dns_cache *c)
{
	return __atomic_load_n(&c->count, __ATOMIC_RELAXED);
}

static uint64_t key_hash(const struct wf_dns_query *q)
{
	return wf_dns_name_hash(q->qname_lc, q->qname_len) ^ ((uint64_t)q->qtype << 16 | q->qclass);
}

/* An expired entry found by a reader: removed if its set's lock is free (a write once per
 * entry's life, never per query; else the next insert into the set replaces it). */
static void expire(struct wf_dns_cache *c, struct entry **way, struct entry *e, size_t set)
{
	pthread_mutex_t *lock = &c->locks[set % STRIPES];

	if (pthread_mutex_trylock(lock) != 0)
		return;
	if (*way == e) {
		rcu_assign_pointer(*way, NULL);
		__atomic_sub_fetch(&c->count, 1, __ATOMIC_RELAXED);
		entry_retire(e);
	}
	pthread_mutex_unlock(lock);
}

size_t wf_dns_cache_answer(struct wf_dns_cache *c, const struct wf_dns_query *q, uint64_t now_ms,
			   uint8_t *out, size_t limit)
{
	uint64_t h = key_hash(q);
	struct entry **set = &c->slots[(h & c->mask) * WAYS];

	/* Lock-free: a hit writes nothing shared, so workers answering from the cache do not
	 * bounce cache lines between cores. */
	for (unsigned i = 0; i < WAYS; i++) {
		struct entry *e = rcu_dereference(set[i]);
		if (!e || e->hash != h || e->qtype != q->qtype || e->qclass != q->qclass ||
		    e->qname_len != q->qname_len || memcmp(e->qname, q->qname_lc, q->qname_len))
			continue;
		if (now_ms >= e->expires_ms) {
			expire(c, &set[i], e, h & c->mask);
			return 0;
		}
		uint32_t elapsed = (uint32_t)((now_ms - e->stored_ms) / 1000);
		return wf_dns_relay(q, e->rec, &e->m, elapsed, out, limit);
	}
	return 0;
}

int wf_dns_cache_put(struct wf_dns_cache *c, const struct wf_dns_query *q, const uint8_t *msg,
		     const struct wf_dns_upstream_msg *m, uint64_t now_ms)
{
	uint64_t h = key_hash(q);
	struct entry **set = &c->slots[(h & c->mask) * WAYS];
	size_t rlen = m->rec_end - m->rec_off;
	unsigned victim = 0;
	struct entry *e;

	if (m->ttl == 0)
		return 0;
	e = wf_malloc(sizeof(*e) + rlen);
	if (!e)
		return -ENOMEM;
	e->hash = h;
	e->stored_ms = now_ms;
	e->expires_ms = now_ms + (uint64_t)m->ttl * 1000;
	e->qtype = q->qtype;
	e->qclass = q->qclass;
	e->qname_len = q->qname_len;
	memcpy(e->qname, q->qname_lc, q->qname_len);
	e->m = *m;
	e->m.rec_off = 0;
	e->m.rec_end = rlen;
	memcpy(e->rec, msg + m->rec_off, rlen);
	/* Replace the same key, else an empty or expired way, else the oldest. */
	pthread_mutex_t *lock = &c->locks[(h & c->mask) % STRIPES];
	pthread_mutex_lock(lock);
	for (unsigned i = 0; i < WAYS; i++) {
		struct entry *o = set[i];
		if (!o ||
		    (o->hash == h && o->qtype == q->qtype && o->qclass == q->qclass &&
		     o->qname_len == q->qname_len &&
		     memcmp(o->qname, q->qname_lc, q->qname_len) == 0) ||
		    now_ms >= o->expires_ms) {
			victim = i;
			break;
		}
		if (o->stored_ms < set[victim]->stored_ms)
			victim = i;
	}
	struct entry *old = set[victim];
	rcu_assign_pointer(set[victim], e);
	if (!old)
		__atomic_add_fetch(&c->count, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(lock);
	entry_retire(old);
	return 0;
}
