/* Zone compiler and lookup. Implements the Kubernetes DNS-Based Service Discovery
 * specification, schema 1.1.0 (see /work/shared/specs/dns.md for the checklist rows cited as
 * "spec row N").
 *
 * A zone is a hash table from lower-cased wire-form owner names to nodes; each node holds its
 * RRsets pre-rendered in wire form with the owner compressed to a pointer at the question
 * (0xC00C), so an answer is a header, the echoed question and one memcpy. */
#include "dns/zone.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"
#include "lib/alloc.h"
#include "lib/error.h"

#define NODE_APEX 0x01
#define NODE_POD_NS 0x02    /* <ns>.pod.<zone>: pod A records are synthesised below it */
#define NODE_ANCESTORS 0x04 /* build: every ancestor up to the apex exists */
#define NODE_SCRATCH 0x08   /* build: a record collector (struct build_ext before it) */
#define NODE_HEAP 0x10	    /* its own allocation (else in a full build's blocks) */
#define NODE_BUILD_FLAGS (NODE_ANCESTORS | NODE_SCRATCH | NODE_HEAP) /* not the zone's content */

#define TXT_VERSION_TTL 28800 /* CoreDNS's TTL for dns-version (spec row 1) */
#define MAX_ZONES 64

/* A node is one block, addressed by offsets from its start so that it needs no pointers:
 *
 *   struct wf_dns_node | name | pad to 4 | n_sets x struct wf_dns_rrset |
 *   per RRset: its records (wire form, owner = pointer to the question name), pad to 4,
 *              the end offset of each record (uint32_t, to cut whole records on truncation)
 *
 * At 10,000 Services the zone holds 50,000 names: every byte of a node counts five times per
 * Service, and the fewer cache lines a lookup touches the faster it answers. */
struct wf_dns_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t len;  /* bytes of records */
	uint32_t data; /* offset of the records from the node */
};

struct wf_dns_node {
	uint32_t refs; /* table chunks (of any version) that hold the node */
	uint16_t zone;
	uint16_t n_sets;
	uint8_t flags;
	uint8_t name_len;
	uint8_t name[]; /* lower-cased wire form */
};

/* Records while a full build collects them (index + 1 into the builder's records, 0 = none):
 * kept in front of the scratch nodes only (NODE_SCRATCH), which are laid out again once
 * their records are known. */
struct build_ext {
	uint32_t first, last;
};

static inline struct build_ext *node_ext(struct wf_dns_node *n)
{
	return (struct build_ext *)n - 1;
}

static inline size_t sets_offset(size_t name_len)
{
	return (offsetof(struct wf_dns_node, name) + name_len + 3) & ~(size_t)3;
}

static inline const struct wf_dns_rrset *node_sets(const struct wf_dns_node *n)
{
	return (const struct wf_dns_rrset *)((const uint8_t *)n + sets_offset(n->name_len));
}

static inline const uint8_t *set_data(const struct wf_dns_node *n, const struct wf_dns_rrset *s)
{
	return (const uint8_t *)n + s->data;
}

static inline const uint32_t *set_ends(const struct wf_dns_node *n, const struct wf_dns_rrset *s)
{
	return (const uint32_t *)((const uint8_t *)n + s->data + ((s->len + 3) & ~(uint32_t)3));
}

/* A table slot: the node's address with the top 16 bits of its name's hash in the 16 bits
 * above it (Linux gives user space 47-bit addresses unless a mapping asks for more, which no
 * allocator here does; node_fits() checks every node). 8 bytes, so eight slots share a cache
 * line, and a probe dereferences a node only when the tag matches (1 in 65,536 otherwise). */
struct slot {
	uint64_t v; /* 0 = empty */
};

#define SLOT_PTR_BITS 48
#define SLOT_PTR_MASK ((UINT64_C(1) << SLOT_PTR_BITS) - 1)

static inline struct wf_dns_node *slot_node(const struct slot *s)
{
	return (struct wf_dns_node *)(uintptr_t)(s->v & SLOT_PTR_MASK);
}

static inline bool slot_tag_is(const struct slot *s, uint64_t h)
{
	return (s->v >> SLOT_PTR_BITS) == (h >> SLOT_PTR_BITS);
}

static inline struct slot slot_make(struct wf_dns_node *n, uint64_t h)
{
	return (struct slot){((uint64_t)(uintptr_t)n & SLOT_PTR_MASK) |
			     (h >> SLOT_PTR_BITS << SLOT_PTR_BITS)};
}

static inline bool node_fits(const void *p)
{
	return ((uint64_t)(uintptr_t)p & ~SLOT_PTR_MASK) == 0;
}

/* The hash a slot's node is filed under (its home slot, once masked). */
static uint64_t node_hash(const struct wf_dns_node *n)
{
	return wf_dns_name_hash(n->name, n->name_len);
}

static inline bool node_is(const struct wf_dns_node *n, const uint8_t *name, size_t len)
{
	return n->name_len == len && memcmp(n->name, name, len) == 0;
}

/* The published table is cut in chunks of CHUNK_SLOTS slots (8 KiB): a new version copies the
 * chunk pointers and then only the chunks it writes to (copy on write), so an update costs the
 * names it touches, not the size of the cluster. Chunks and heap nodes are shared between
 * versions and counted; everything runs on the one thread that builds and frees versions
 * (the server frees a replaced zone on the publisher's thread). */
#define CHUNK_SHIFT 9
#define CHUNK_SLOTS (1u << CHUNK_SHIFT)

struct chunk {
	uint32_t refs; /* versions holding it: one means the version being built may write it */
	struct slot s[CHUNK_SLOTS];
};

/* A full build's block memory, shared by the versions derived from it. */
struct zbase {
	uint32_t refs;
	struct blk *mem;
	size_t bytes;
};

struct apex {
	uint8_t name[WF_DNS_MAX_NAME];
	uint8_t len;
	uint8_t nlabels;
	bool reverse;	   /* under .arpa */
	uint8_t *soa_tail; /* type..rdata of the SOA, owner written per answer */
	uint16_t soa_tail_len;
};

struct blk {
	struct blk *next;
	size_t used, cap;
	max_align_t data[];
};

struct wf_dns_zone {
	struct slot *table;    /* while building: one flat table */
	struct chunk **chunks; /* published: (mask + 1) / CHUNK_SLOTS chunks */
	struct zbase *base;    /* nodes of the full build this version comes from */
	size_t heap_bytes;     /* heap nodes made since that build (live or replaced) */
	size_t mask;
	size_t n_nodes;
	struct apex apexes[MAX_ZONES];
	unsigned n_apexes;
	uint32_t ttl;
	uint32_t serial;
	enum wf_dns_pod_mode pods;
	uint16_t flags; /* AA, and RA when we forward */
	struct blk *mem;
	size_t mem_bytes;
};

static void *zalloc(struct wf_dns_zone *z, size_t n)
{
	struct blk *b = z->mem;

	n = (n + 7) & ~(size_t)7; /* nodes need 4-byte alignment, records none */
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		b = wf_malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = z->mem;
		b->used = 0;
		b->cap = cap;
		z->mem = b;
		z->mem_bytes += sizeof(*b) + cap;
	}
	void *p = (uint8_t *)b->data + b->used;
	b->used += n;
	return p;
}

static void blocks_free(struct blk *b)
{
	for (struct blk *next; b; b = next) {
		next = b->next;
		wf_free(b);
	}
}

static void node_unref(struct wf_dns_node *n)
{
	if (--n->refs == 0 && (n->flags & NODE_HEAP))
		wf_free(n);
}

static void chunk_unref(struct chunk *c)
{
	if (!c || --c->refs > 0)
		return;
	for (size_t i = 0; i < CHUNK_SLOTS; i++)
		if (c->s[i].v)
			node_unref(slot_node(&c->s[i]));
	wf_free(c);
}

static void base_unref(struct zbase *b)
{
	if (!b || --b->refs > 0)
		return;
	blocks_free(b->mem);
	wf_free(b);
}

void wf_dns_zone_free(struct wf_dns_zone *z)
{
	if (!z)
		return;
	if (z->chunks) {
		for (size_t i = 0; i < (z->mask + 1) >> CHUNK_SHIFT; i++)
			chunk_unref(z->chunks[i]);
		wf_free(z->chunks);
	}
	blocks_free(z->mem);
	base_unref(z->base);
	wf_free(z->table);
	wf_free(z);
}

size_t wf_dns_zone_node_count(const struct wf_dns_zone *z)
{
	return z->n_nodes;
}

size_t wf_dns_zone_memory(const struct wf_dns_zone *z)
{
	return (z->base ? z->base->bytes : 0) + z->mem_bytes + z->heap_bytes +
	       ((z->mask + 1) >> CHUNK_SHIFT) * (sizeof(struct chunk) + sizeof(void *)) +
	       sizeof(*z);
}

uint32_t wf_dns_zone_serial(const struct wf_dns_zone *z)
{
	return z->serial;
}

static inline struct slot *slot_at(const struct wf_dns_zone *z, size_t i)
{
	return &z->chunks[i >> CHUNK_SHIFT]->s[i & (CHUNK_SLOTS - 1)];
}

/* The published (chunked) table. */
static struct wf_dns_node *lookup(const struct wf_dns_zone *z, uint64_t h, const uint8_t *name,
				  size_t len)
{
	for (size_t i = h & z->mask;; i = (i + 1) & z->mask) {
		const struct slot *s = slot_at(z, i);
		if (!s->v)
			return NULL;
		if (slot_tag_is(s, h) && node_is(slot_node(s), name, len))
			return slot_node(s);
	}
}

/* The flat table of a build in progress. */
static struct wf_dns_node *build_lookup(const struct wf_dns_zone *z, uint64_t h,
					const uint8_t *name, size_t len)
{
	for (size_t i = h & z->mask;; i = (i + 1) & z->mask) {
		const struct slot *s = &z->table[i];
		if (!s->v)
			return NULL;
		if (slot_tag_is(s, h) && node_is(slot_node(s), name, len))
			return slot_node(s);
	}
}

static int table_grow(struct wf_dns_zone *z)
{
	size_t cap = (z->mask + 1) * 2;
	struct slot *t = wf_calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i <= z->mask; i++) {
		struct slot *s = &z->table[i];
		if (!s->v)
			continue;
		size_t j = node_hash(slot_node(s)) & (cap - 1);
		while (t[j].v)
			j = (j + 1) & (cap - 1);
		t[j] = *s;
	}
	wf_free(z->table);
	z->table = t;
	z->mask = cap - 1;
	return 0;
}

/* Inserts an empty node (or returns the existing one), allocated from mem: the zone itself,
 * or the build's scratch for nodes that collect records (scratch: NODE_SCRATCH, with a
 * struct build_ext in front) and are laid out again once their records are known. */
static struct wf_dns_node *node_get(struct wf_dns_zone *z, struct wf_dns_zone *mem,
				    const uint8_t *name, size_t len, uint16_t zone)
{
	uint64_t h = wf_dns_name_hash(name, len);
	struct wf_dns_node *n = build_lookup(z, h, name, len);
	bool scratch = mem != z;

	if (n)
		return n;
	if ((z->n_nodes + 1) * 4 > (z->mask + 1) * 3 && table_grow(z) < 0)
		return NULL;
	size_t ext = scratch ? sizeof(struct build_ext) : 0;
	uint8_t *p = zalloc(mem, ext + sizeof(*n) + len);
	if (!p || !node_fits(p + ext))
		return NULL;
	n = (struct wf_dns_node *)(p + ext);
	memcpy(n->name, name, len);
	n->name_len = (uint8_t)len;
	n->flags = scratch ? NODE_SCRATCH : 0;
	n->zone = zone;
	n->n_sets = 0;
	n->refs = 1;
	if (scratch)
		*node_ext(n) = (struct build_ext){0};
	size_t i = h & z->mask;
	while (z->table[i].v)
		i = (i + 1) & z->mask;
	z->table[i] = slot_make(n, h);
	z->n_nodes++;
	return n;
}

/* ---- record collection ---- */

struct rec {
	uint8_t *rdata;
	uint32_t seq;
	uint32_t next; /* next record of the same owner: index + 1, 0 = none */
	uint32_t ttl;
	uint16_t rdlen;
	uint16_t type;
};

struct builder {
	const struct wf_dns_zone_config *cfg;
	wf_dns_zone_rec_fn collect; /* set: records go to collect, not into the zone */
	void *collect_data;
	struct wf_dns_zone *z;
	struct wf_dns_zone scratch; /* only its allocator: record storage freed after the build */
	struct rec *recs;
	size_t n_recs, cap_recs;
	size_t skipped;
	uint8_t svc_suffix[WF_DNS_MAX_NAME]; /* svc.<zone> */
	size_t svc_suffix_len;
};

/* Which of our zones holds name: the longest apex that is a label-aligned suffix. */
static int zone_of(const struct wf_dns_zone *z, const uint8_t *name, size_t len)
{
	static const uint8_t arpa[] = "\004arpa";
	bool rev =
		len >= sizeof(arpa) && memcmp(name + len - sizeof(arpa), arpa, sizeof(arpa)) == 0;
	int best = -1;
	size_t best_len = 0;

	for (unsigned i = 0; i < z->n_apexes; i++) {
		const struct apex *a = &z->apexes[i];
		/* reverse names only under reverse zones and the other way round */
		if (a->reverse != rev || a->len > len || a->len <= best_len ||
		    memcmp(name + len - a->len, a->name, a->len) != 0)
			continue;
		/* the byte match must also start at a label boundary */
		size_t off = 0;
		while (len - off > a->len && name[off])
			off += 1 + (size_t)name[off];
		if (len - off == a->len) {
			best = (int)i;
			best_len = a->len;
		}
	}
	return best;
}

/* A name under construction in wire form; bad once something did not fit (RFC 1035 2.3.4). */
struct wname {
	uint8_t w[WF_DNS_MAX_NAME];
	size_t len;
	bool bad;
};

static void wn_label(struct wname *n, char prefix, const char *s, size_t l)
{
	size_t total = l + (prefix ? 1 : 0);

	if (n->bad || total == 0 || total > WF_DNS_MAX_LABEL ||
	    n->len + 1 + total + 1 > WF_DNS_MAX_NAME) {
		n->bad = true;
		return;
	}
	n->w[n->len++] = (uint8_t)total;
	if (prefix)
		n->w[n->len++] = (uint8_t)prefix;
	memcpy(n->w + n->len, s, l);
	n->len += l;
}

static void wn_str(struct wname *n, char prefix, const char *s)
{
	wn_label(n, prefix, s ? s : "", s ? strlen(s) : 0);
}

/* Appends a complete wire name (ending with the root label). */
static void wn_suffix(struct wname *n, const uint8_t *w, size_t len)
{
	if (n->bad || n->len + len > WF_DNS_MAX_NAME) {
		n->bad = true;
		return;
	}
	memcpy(n->w + n->len, w, len);
	n->len += len;
}

static int add_rec_w(struct builder *b, const struct wname *owner, uint16_t type, uint32_t ttl,
		     const uint8_t *rdata, size_t rdlen)
{
	uint8_t wire[WF_DNS_MAX_NAME];
	size_t len = owner->len;
	int zone;

	if (owner->bad) {
		b->skipped++;
		return 0;
	}
	memcpy(wire, owner->w, len);
	wf_dns_name_lower(wire, len); /* RFC 4343: keys are case-folded */
	zone = zone_of(b->z, wire, len);
	if (zone < 0) {
		/* e.g. a PTR for an address outside every configured CIDR */
		b->skipped++;
		return 0;
	}
	if (b->collect) {
		struct wf_dns_zone_rec cr = {
			.type = type, .ttl = ttl, .rdlen = (uint16_t)rdlen, .rdata = rdata};
		return b->collect(b->collect_data, wire, len, &cr);
	}
	struct wf_dns_node *n = node_get(b->z, &b->scratch, wire, len, (uint16_t)zone);
	if (!n)
		return -ENOMEM;
	if (!(n->flags & NODE_SCRATCH))
		return -EINVAL; /* records come before any other node is made */
	if (b->n_recs == b->cap_recs) {
		size_t cap = b->cap_recs ? b->cap_recs * 2 : 1024;
		struct rec *r = wf_reallocarray(b->recs, cap, sizeof(*r));
		if (!r)
			return -ENOMEM;
		b->recs = r;
		b->cap_recs = cap;
	}
	struct rec *r = &b->recs[b->n_recs];
	r->rdata = zalloc(&b->scratch, rdlen ? rdlen : 1);
	if (!r->rdata)
		return -ENOMEM;
	memcpy(r->rdata, rdata, rdlen);
	r->rdlen = (uint16_t)rdlen;
	r->type = type;
	r->ttl = ttl;
	r->seq = (uint32_t)b->n_recs;
	r->next = 0;
	b->n_recs++;
	/* append to the owner's list, keeping insertion order */
	struct build_ext *x = node_ext(n);
	if (x->last)
		b->recs[x->last - 1].next = (uint32_t)b->n_recs;
	else
		x->first = (uint32_t)b->n_recs;
	x->last = (uint32_t)b->n_recs;
	return 0;
}

/* Orders one owner's records by type, then insertion (insertion sort: a handful each). */
static void sort_recs(struct rec *r, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct rec x = r[i];
		size_t j = i;
		while (j > 0 && (r[j - 1].type > x.type ||
				 (r[j - 1].type == x.type && r[j - 1].seq > x.seq))) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
}

static bool rec_same(const struct rec *a, const struct rec *b)
{
	return a->type == b->type && a->rdlen == b->rdlen &&
	       memcmp(a->rdata, b->rdata, a->rdlen) == 0;
}

static int add_rec(struct builder *b, const char *owner, uint16_t type, uint32_t ttl,
		   const uint8_t *rdata, size_t rdlen)
{
	struct wname n = {0};
	int len = wf_dns_name_from_text(owner, n.w, false);

	n.len = len > 0 ? (size_t)len : 0;
	n.bad = len < 0;
	return add_rec_w(b, &n, type, ttl, rdata, rdlen);
}

static int add_addr_rr(struct builder *b, const struct wname *owner, const struct wf_ip *ip)
{
	if (ip->family == AF_INET)
		return add_rec_w(b, owner, WF_DNS_T_A, b->cfg->ttl, ip->addr, 4);
	if (ip->family == AF_INET6)
		return add_rec_w(b, owner, WF_DNS_T_AAAA, b->cfg->ttl, ip->addr, 16);
	b->skipped++;
	return 0;
}

static int add_srv(struct builder *b, const struct wname *owner, uint16_t weight, uint16_t port,
		   const struct wname *target)
{
	uint8_t rd[6 + WF_DNS_MAX_NAME];

	if (target->bad) {
		b->skipped++;
		return 0;
	}
	wf_dns_put16(rd, 0); /* priority (spec row 3: unspecified; CoreDNS 0) */
	wf_dns_put16(rd + 2, weight);
	wf_dns_put16(rd + 4, port);
	memcpy(rd + 6, target->w, target->len);
	return add_rec_w(b, owner, WF_DNS_T_SRV, b->cfg->ttl, rd, 6 + target->len);
}

/* Reverse name (RFC 1035 3.5, RFC 3596 2.5), built in wire form. */
static void reverse_name(const struct wf_ip *ip, struct wname *n)
{
	static const char hex[] = "0123456789abcdef";
	static const uint8_t v4[] = "\007in-addr\004arpa";
	static const uint8_t v6[] = "\003ip6\004arpa";

	n->len = 0;
	n->bad = false;
	if (ip->family == AF_INET) {
		for (int i = 3; i >= 0; i--) {
			char d[4];
			int l = 0;
			unsigned v = ip->addr[i];
			if (v >= 100)
				d[l++] = (char)('0' + v / 100);
			if (v >= 10)
				d[l++] = (char)('0' + v / 10 % 10);
			d[l++] = (char)('0' + v % 10);
			wn_label(n, 0, d, (size_t)l);
		}
		wn_suffix(n, v4, sizeof(v4));
		return;
	}
	for (int i = 15; i >= 0; i--) {
		wn_label(n, 0, &hex[ip->addr[i] & 0xf], 1);
		wn_label(n, 0, &hex[ip->addr[i] >> 4], 1);
	}
	wn_suffix(n, v6, sizeof(v6));
}

static int add_ptr(struct builder *b, const struct wf_ip *ip, const struct wname *target)
{
	struct wname rev;

	if (target->bad) {
		b->skipped++;
		return 0;
	}
	reverse_name(ip, &rev);
	return add_rec_w(b, &rev, WF_DNS_T_PTR, b->cfg->ttl, target->w, target->len);
}

/* The label CoreDNS gives an endpoint without hostname: the dashed address (spec definitions:
 * "10-244-1-5", "fd00--1", a trailing '-' gets a '0'). */
static void dashed(const struct wf_ip *ip, char *buf)
{
	char tmp[INET6_ADDRSTRLEN];
	size_t n = 0;

	inet_ntop(ip->family, ip->addr, tmp, sizeof(tmp));
	if (tmp[0] == ':')
		buf[n++] = '0';
	for (char *p = tmp; *p; p++)
		buf[n++] = (*p == '.' || *p == ':') ? '-' : *p;
	if (buf[n - 1] == '-')
		buf[n++] = '0';
	buf[n] = '\0';
}

static bool endpoint_included(const struct wf_dns_service *s, const struct wf_dns_endpoint *e)
{
	/* spec definitions: ready when true or unset; terminating endpoints have ready=false;
	 * publishNotReadyAddresses publishes them all. */
	return s->publish_not_ready || e->ready != 0;
}

/* _<port>._<proto>.<svc>: spec row 3; proto in lower case. */
static void srv_owner(struct wname *o, const struct wf_dns_port *p, const struct wname *svc)
{
	char proto[8];
	const char *src = p->proto ? p->proto : "tcp";
	size_t i = 0;

	for (; src[i] && i < sizeof(proto) - 1; i++)
		proto[i] = (char)((src[i] >= 'A' && src[i] <= 'Z') ? src[i] | 0x20 : src[i]);
	proto[i] = '\0';
	o->len = 0;
	o->bad = false;
	wn_str(o, '_', p->name);
	wn_str(o, '_', proto);
	wn_suffix(o, svc->w, svc->len);
}

static int add_service(struct builder *b, const struct wf_dns_service *s)
{
	struct wname svc = {0}, owner, target;
	int rc = 0;

	wn_str(&svc, 0, s->name);
	wn_str(&svc, 0, s->ns);
	wn_suffix(&svc, b->svc_suffix, b->svc_suffix_len);

	if (s->kind == WF_DNS_SVC_EXTERNALNAME) {
		/* spec row 9 */
		uint8_t wire[WF_DNS_MAX_NAME];
		int len;
		if (!s->external_name || !*s->external_name)
			return 0;
		len = wf_dns_name_from_text(s->external_name, wire, false);
		if (len < 0) {
			b->skipped++;
			return 0;
		}
		return add_rec_w(b, &svc, WF_DNS_T_CNAME, b->cfg->ttl, wire, (size_t)len);
	}

	if (s->kind == WF_DNS_SVC_CLUSTERIP) {
		for (size_t i = 0; i < s->n_cluster_ips && rc == 0; i++) {
			rc = add_addr_rr(b, &svc, &s->cluster_ips[i]); /* spec row 2 */
			if (rc == 0)
				rc = add_ptr(b, &s->cluster_ips[i], &svc); /* spec row 4 */
		}
		for (size_t i = 0; i < s->n_ports && rc == 0; i++) {
			const struct wf_dns_port *p = &s->ports[i];
			if (!p->name || !*p->name)
				continue; /* spec row 3: unnamed ports have no SRV */
			srv_owner(&owner, p, &svc);
			rc = add_srv(b, &owner, 100, p->port, &svc);
		}
		return rc;
	}

	/* Headless: spec rows 5-8, 11. */
	for (size_t si = 0; si < s->n_slices && rc == 0; si++) {
		const struct wf_dns_slice *sl = &s->slices[si];
		size_t n_ready = 0;

		for (size_t ei = 0; ei < sl->n_endpoints; ei++)
			n_ready += endpoint_included(s, &sl->endpoints[ei])
					   ? sl->endpoints[ei].n_addrs
					   : 0;
		uint16_t weight = n_ready ? (uint16_t)(100 / n_ready) : 100;
		if (weight == 0)
			weight = 1;
		for (size_t ei = 0; ei < sl->n_endpoints && rc == 0; ei++) {
			const struct wf_dns_endpoint *e = &sl->endpoints[ei];
			if (!endpoint_included(s, e))
				continue;
			for (size_t ai = 0; ai < e->n_addrs && rc == 0; ai++) {
				char label[80];

				if (e->hostname && *e->hostname)
					snprintf(label, sizeof(label), "%s", e->hostname);
				else
					dashed(&e->addrs[ai], label);
				target.len = 0;
				target.bad = false;
				wn_str(&target, 0, label);
				wn_suffix(&target, svc.w, svc.len);
				rc = add_addr_rr(b, &svc, &e->addrs[ai]);
				if (rc == 0)
					rc = add_addr_rr(b, &target, &e->addrs[ai]);
				if (rc == 0)
					rc = add_ptr(b, &e->addrs[ai], &target);
				if (ai > 0 && e->hostname && *e->hostname)
					continue; /* one SRV per named endpoint */
				for (size_t pi = 0; pi < sl->n_ports && rc == 0; pi++) {
					const struct wf_dns_port *p = &sl->ports[pi];
					if (!p->name || !*p->name)
						continue;
					srv_owner(&owner, p, &svc);
					/* spec row 7: the EndpointSlice port (= targetPort) */
					rc = add_srv(b, &owner, weight, p->port, &target);
				}
			}
		}
	}
	return rc;
}

/* ---- zones (apexes) ---- */

static int add_apex_wire(struct wf_dns_zone *z, const uint8_t *wire, size_t len)
{
	for (unsigned i = 0; i < z->n_apexes; i++)
		if (z->apexes[i].len == len && memcmp(z->apexes[i].name, wire, len) == 0)
			return 0;
	if (z->n_apexes == MAX_ZONES)
		return -WF_E_TOO_BIG;
	struct apex *a = &z->apexes[z->n_apexes++];
	memcpy(a->name, wire, len);
	a->len = (uint8_t)len;
	a->reverse = len >= 6 && memcmp(wire + len - 6, "\004arpa", 6) == 0;
	a->nlabels = 0;
	for (size_t off = 0; wire[off]; off += 1 + (size_t)wire[off])
		a->nlabels++;
	return 0;
}

static int add_apex_text(struct wf_dns_zone *z, const char *text)
{
	uint8_t wire[WF_DNS_MAX_NAME];
	int len = wf_dns_name_from_text(text, wire, true);

	if (len < 0)
		return len;
	return add_apex_wire(z, wire, (size_t)len);
}

/* Reverse zones covering a CIDR: its prefix rounded up to an octet (IPv4) or nibble (IPv6)
 * boundary, one zone per block, at most 16 (a wider spread uses the shorter, covering zone). */
static int add_reverse_zones(struct wf_dns_zone *z, const struct wf_cidr *c)
{
	unsigned unit = c->ip.family == AF_INET ? 8 : 4;
	unsigned bits = c->ip.family == AF_INET ? 32 : 128;
	unsigned prefix = c->prefix > bits ? bits : c->prefix;
	unsigned up = (prefix + unit - 1) / unit * unit;
	unsigned count;
	int rc;

	if (up - prefix > 4)
		up = prefix / unit * unit;
	if (up == 0)
		up = unit; /* never claim all of in-addr.arpa */
	count = up > prefix ? 1u << (up - prefix) : 1;
	for (unsigned i = 0; i < count; i++) {
		struct wf_ip ip = c->ip;
		char text[128];
		size_t n = 0;

		/* Add i at bit position (up - 1) downwards: set bits [prefix, up). */
		for (unsigned bit = 0; bit < up - prefix && up > prefix; bit++) {
			unsigned pos = up - 1 - bit; /* bit index from the top */
			uint8_t mask = (uint8_t)(0x80 >> (pos % 8));
			if (i & (1u << bit))
				ip.addr[pos / 8] |= mask;
			else
				ip.addr[pos / 8] &= (uint8_t)~mask;
		}
		if (c->ip.family == AF_INET) {
			for (int o = (int)up / 8 - 1; o >= 0; o--)
				n += (size_t)snprintf(text + n, sizeof(text) - n, "%u.",
						      ip.addr[o]);
			snprintf(text + n, sizeof(text) - n, "in-addr.arpa");
		} else {
			static const char hex[] = "0123456789abcdef";
			for (int nib = (int)up / 4 - 1; nib >= 0; nib--) {
				uint8_t byte = ip.addr[nib / 2];
				text[n++] = hex[nib % 2 ? byte & 0xf : byte >> 4];
				text[n++] = '.';
			}
			snprintf(text + n, sizeof(text) - n, "ip6.arpa");
		}
		rc = add_apex_text(z, text);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- rendering ---- */

/* Lays a node out again in one block of zone memory: header, name, RRset headers, then each
 * RRset's records and record ends. A lookup then touches the table slot and this block
 * only (at 10,000 Services the zone is far larger than the caches: every miss counts). */
static size_t node_bytes(size_t name_len, const struct rec *r, size_t cnt, size_t *ret_sets)
{
	/* as node_layout places them: header and name (4-aligned), RRset headers, then per
	 * RRset its records, padding to 4 and the record ends */
	size_t n_sets = 0, bytes = sets_offset(name_len);

	for (size_t i = 0, j; i < cnt; i = j) {
		size_t len = 0;
		for (j = i; j < cnt && r[j].type == r[i].type; j++)
			len += 12 + r[j].rdlen + sizeof(uint32_t);
		n_sets++;
		bytes += sizeof(struct wf_dns_rrset) + ((len + 3) & ~(size_t)3);
	}
	*ret_sets = n_sets;
	return bytes;
}

/* Writes a node at blk (4-aligned, node_bytes long) with one reference: header, name, then r
 * (sorted by type). */
static struct wf_dns_node *node_layout(uint8_t *blk, const uint8_t *name, size_t name_len,
				       uint8_t flags, uint16_t zone, const struct rec *r,
				       size_t cnt, size_t n_sets)
{
	struct wf_dns_node *n = (struct wf_dns_node *)blk;
	n->refs = 1;
	n->zone = zone;
	n->flags = flags;
	n->name_len = (uint8_t)name_len;
	memcpy(n->name, name, name_len);
	struct wf_dns_rrset *sets = (struct wf_dns_rrset *)(blk + sets_offset(n->name_len));
	n->n_sets = (uint16_t)n_sets;
	size_t off = sets_offset(n->name_len) + n_sets * sizeof(struct wf_dns_rrset);
	for (size_t i = 0, si = 0; i < cnt; si++) {
		size_t j = i, len = 0;
		while (j < cnt && r[j].type == r[i].type) {
			len += 12 + r[j].rdlen;
			j++;
		}
		struct wf_dns_rrset *set = &sets[si];
		set->type = r[i].type;
		set->count = (uint16_t)(j - i);
		set->len = (uint32_t)len;
		set->data = (uint32_t)off;
		uint8_t *data = blk + off, *p = data;
		off += (len + 3) & ~(size_t)3;
		uint32_t *ends = (uint32_t *)(blk + off);
		off += (j - i) * sizeof(uint32_t);
		for (size_t k = i; k < j; k++) {
			/* RFC 1035 4.1.3, owner compressed to the question name (4.1.4) */
			wf_dns_put16(p, 0xc00c);
			wf_dns_put16(p + 2, r[k].type);
			wf_dns_put16(p + 4, WF_DNS_C_IN);
			wf_dns_put32(p + 6, r[k].ttl);
			wf_dns_put16(p + 10, r[k].rdlen);
			memcpy(p + 12, r[k].rdata, r[k].rdlen);
			p += 12 + r[k].rdlen;
			ends[k - i] = (uint32_t)(p - data);
		}
		i = j;
	}
	return n;
}

/* Lays a node out again in one block of zone memory: header, name, RRset headers, then each
 * RRset's records and record ends. A lookup then touches the table slot and this block
 * only (at 10,000 Services the zone is far larger than the caches: every miss counts). */
static struct wf_dns_node *render_node(struct builder *b, const struct wf_dns_node *old,
				       const struct rec *r, size_t cnt)
{
	size_t n_sets, bytes = node_bytes(old->name_len, r, cnt, &n_sets);
	uint8_t *blk = zalloc(b->z, bytes);

	if (!blk || !node_fits(blk))
		return NULL;
	return node_layout(blk, old->name, old->name_len, old->flags & (uint8_t)~NODE_SCRATCH,
			   old->zone, r, cnt, n_sets);
}

static int add_apex_records(struct builder *b)
{
	const struct wf_dns_zone_config *cfg = b->cfg;
	char mname[600], rname[600];
	uint8_t rd[2 * WF_DNS_MAX_NAME + 20];
	int ml, rl, rc;

	snprintf(mname, sizeof(mname), "ns.dns.%s", cfg->cluster_domain);
	snprintf(rname, sizeof(rname), "hostmaster.%s", cfg->cluster_domain);
	ml = wf_dns_name_from_text(mname, rd, true);
	if (ml < 0)
		return ml;
	rl = wf_dns_name_from_text(rname, rd + ml, true);
	if (rl < 0)
		return rl;
	uint8_t *t = rd + ml + rl;
	/* spec "SOA in every negative answer": serial, 7200 1800 86400, minimum = ttl */
	wf_dns_put32(t, b->z->serial);
	wf_dns_put32(t + 4, 7200);
	wf_dns_put32(t + 8, 1800);
	wf_dns_put32(t + 12, 86400);
	wf_dns_put32(t + 16, cfg->ttl);
	size_t rdlen = (size_t)ml + (size_t)rl + 20;

	for (unsigned i = 0; i < b->z->n_apexes; i++) {
		struct apex *a = &b->z->apexes[i];
		char text[1024];

		a->soa_tail_len = (uint16_t)(10 + rdlen);
		a->soa_tail = zalloc(b->z, a->soa_tail_len);
		if (!a->soa_tail)
			return -ENOMEM;
		wf_dns_put16(a->soa_tail, WF_DNS_T_SOA);
		wf_dns_put16(a->soa_tail + 2, WF_DNS_C_IN);
		wf_dns_put32(a->soa_tail + 4, cfg->ttl);
		wf_dns_put16(a->soa_tail + 8, (uint16_t)rdlen);
		memcpy(a->soa_tail + 10, rd, rdlen);
		if (wf_dns_name_to_text(a->name, a->len, text, sizeof(text)) < 0)
			return -EINVAL;
		rc = add_rec(b, text, WF_DNS_T_SOA, cfg->ttl, rd, rdlen);
		if (rc == 0)
			rc = add_rec(b, text, WF_DNS_T_NS, cfg->ttl, rd, (size_t)ml);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Inserts the empty non-terminals between a node and its zone apex (RFC 8020: they exist).
 * Stops at the first ancestor already known to be complete. */
static int add_ancestors(struct wf_dns_zone *z, struct wf_dns_node *n)
{
	const struct apex *a = &z->apexes[n->zone];
	struct wf_dns_node *chain[WF_DNS_MAX_LABELS];
	size_t len = n->name_len, off = 0, depth = 0;

	chain[depth++] = n;
	while (len - off > a->len) {
		off += 1 + (size_t)n->name[off];
		if (len - off <= a->len)
			break;
		struct wf_dns_node *p = node_get(z, z, n->name + off, len - off, n->zone);
		if (!p)
			return -ENOMEM;
		if (p->flags & NODE_ANCESTORS)
			break;
		if (depth < WF_DNS_MAX_LABELS)
			chain[depth++] = p;
	}
	for (size_t i = 0; i < depth; i++)
		chain[i]->flags |= NODE_ANCESTORS;
	return 0;
}

/* Cuts the flat build table into chunks and hands the block memory to a shared base: the
 * published form, from which later versions derive. */
static int table_to_chunks(struct wf_dns_zone *z)
{
	size_t n = (z->mask + 1) >> CHUNK_SHIFT;
	struct chunk **cs = wf_calloc(n, sizeof(*cs));
	struct zbase *base = wf_calloc(1, sizeof(*base));

	if (!cs || !base)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		cs[i] = wf_malloc(sizeof(struct chunk));
		if (!cs[i])
			goto oom;
		cs[i]->refs = 1;
		memcpy(cs[i]->s, z->table + i * CHUNK_SLOTS, sizeof(cs[i]->s));
	}
	base->refs = 1;
	base->mem = z->mem;
	base->bytes = z->mem_bytes;
	z->mem = NULL;
	z->mem_bytes = 0;
	z->base = base;
	z->chunks = cs;
	wf_free(z->table);
	z->table = NULL;
	return 0;

oom:
	for (size_t i = 0; cs && i < n; i++)
		wf_free(cs[i]);
	wf_free(cs);
	wf_free(base);
	return -ENOMEM;
}

/* Expected owner names, to size the table once instead of growing it. */
static size_t estimate_names(const struct wf_dns_cluster *c)
{
	size_t n = 256 + c->n_pods + 2 * c->n_namespaces;

	for (size_t i = 0; i < c->n_services; i++) {
		const struct wf_dns_service *s = &c->services[i];
		n += 2 + 2 * s->n_ports;
		for (size_t k = 0; k < s->n_slices; k++)
			n += 3 * s->slices[k].n_endpoints + 2 * s->slices[k].n_ports;
	}
	return n;
}

int wf_dns_zone_build(const struct wf_dns_zone_config *cfg, const struct wf_dns_cluster *c,
		      uint32_t serial, struct wf_dns_zone **ret, size_t *ret_skipped)
{
	struct builder b = {.cfg = cfg};
	struct wf_dns_zone *z;
	char text[1024];
	int rc;

	z = wf_calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	b.z = z;
	z->ttl = cfg->ttl;
	z->serial = serial;
	z->pods = cfg->pods;
	z->flags = WF_DNS_F_AA | (cfg->upstream ? WF_DNS_F_RA : 0);
	size_t slots = 1024;
	while (slots * 3 < estimate_names(c) * 4)
		slots *= 2;
	z->mask = slots - 1;
	z->table = wf_calloc(z->mask + 1, sizeof(*z->table));
	if (!z->table) {
		rc = -ENOMEM;
		goto fail;
	}

	rc = add_apex_text(z, cfg->cluster_domain);
	for (unsigned i = 0; i < cfg->n_service_cidrs && rc == 0; i++)
		rc = add_reverse_zones(z, &cfg->service_cidrs[i]);
	for (unsigned i = 0; i < cfg->n_pod_cidrs && rc == 0; i++)
		rc = add_reverse_zones(z, &cfg->pod_cidrs[i]);
	if (rc < 0)
		goto fail;

	rc = add_apex_records(&b);
	if (rc < 0)
		goto fail;
	snprintf(text, sizeof(text), "svc.%s", cfg->cluster_domain);
	rc = wf_dns_name_from_text(text, b.svc_suffix, false);
	if (rc < 0)
		goto fail;
	b.svc_suffix_len = (size_t)rc;
	rc = 0;
	/* spec row 1 */
	snprintf(text, sizeof(text), "dns-version.%s", cfg->cluster_domain);
	rc = add_rec(&b, text, WF_DNS_T_TXT, TXT_VERSION_TTL, (const uint8_t *)"\0051.1.0", 6);
	for (size_t i = 0; i < c->n_services && rc == 0; i++)
		rc = add_service(&b, &c->services[i]);
	if (rc == 0 && cfg->pods == WF_DNS_PODS_VERIFIED) {
		/* spec row 10, verified: only addresses of pods that exist in that namespace */
		for (size_t i = 0; i < c->n_pods && rc == 0; i++) {
			const struct wf_dns_pod *p = &c->pods[i];
			for (size_t k = 0; k < p->n_ips && rc == 0; k++) {
				char label[80];
				dashed(&p->ips[k], label);
				struct wname pn = {0};
				snprintf(text, sizeof(text), "%s.%s.pod.%s", label, p->ns,
					 cfg->cluster_domain);
				int pl = wf_dns_name_from_text(text, pn.w, false);
				pn.len = pl > 0 ? (size_t)pl : 0;
				pn.bad = pl < 0;
				rc = add_addr_rr(&b, &pn, &p->ips[k]);
			}
		}
	}
	if (rc < 0)
		goto fail;

	/* Per owner: order by type, drop duplicates (RFC 2181 5), render. */
	{
		struct rec *tmp = NULL;
		size_t cap = 0;
		for (size_t i = 0; i <= z->mask && rc == 0; i++) {
			struct wf_dns_node *n = slot_node(&z->table[i]);
			size_t cnt = 0, w = 0;
			if (!n || !(n->flags & NODE_SCRATCH) || !node_ext(n)->first)
				continue;
			for (uint32_t k = node_ext(n)->first; k; k = b.recs[k - 1].next) {
				if (cnt == cap) {
					cap = cap ? cap * 2 : 64;
					struct rec *t = wf_reallocarray(tmp, cap, sizeof(*t));
					if (!t) {
						rc = -ENOMEM;
						break;
					}
					tmp = t;
				}
				tmp[cnt++] = b.recs[k - 1];
			}
			if (rc < 0)
				break;
			sort_recs(tmp, cnt);
			for (size_t k = 0; k < cnt; k++)
				if (w == 0 || !rec_same(&tmp[w - 1], &tmp[k]))
					tmp[w++] = tmp[k];
			struct wf_dns_node *laid = render_node(&b, n, tmp, w);
			if (!laid)
				rc = -ENOMEM;
			else
				z->table[i] = slot_make(laid, z->table[i].v);
		}
		wf_free(tmp);
		if (rc < 0)
			goto fail;
	}
	for (unsigned i = 0; i < z->n_apexes; i++) {
		struct wf_dns_node *n =
			node_get(z, z, z->apexes[i].name, z->apexes[i].len, (uint16_t)i);
		if (!n) {
			rc = -ENOMEM;
			goto fail;
		}
		n->flags |= NODE_APEX;
	}

	/* Namespaces exist as empty non-terminals: <ns>.svc.<zone> is NODATA, not NXDOMAIN
	 * (spec "NXDOMAIN vs NODATA"); <ns>.pod.<zone> anchors pod records. */
	{
		uint8_t pod_suffix[WF_DNS_MAX_NAME];
		snprintf(text, sizeof(text), "pod.%s", cfg->cluster_domain);
		int psl = wf_dns_name_from_text(text, pod_suffix, true);
		size_t n_ns = c->n_namespaces;
		const char *last = NULL;
		for (size_t i = 0; psl > 0 && i < n_ns + c->n_services; i++) {
			const char *ns = i < n_ns ? c->namespaces[i] : c->services[i - n_ns].ns;
			struct wname w = {0};

			if (last && strcmp(last, ns) == 0)
				continue; /* Services come grouped by namespace more often than not */
			last = ns;
			wn_str(&w, 0, ns);
			wn_suffix(&w, b.svc_suffix, b.svc_suffix_len);
			if (w.bad)
				continue;
			wf_dns_name_lower(w.w, w.len);
			if (!node_get(z, z, w.w, w.len, 0)) {
				rc = -ENOMEM;
				goto fail;
			}
			if (cfg->pods == WF_DNS_PODS_DISABLED)
				continue;
			w.len = 0;
			wn_str(&w, 0, ns);
			wn_suffix(&w, pod_suffix, (size_t)psl);
			if (w.bad)
				continue;
			wf_dns_name_lower(w.w, w.len);
			struct wf_dns_node *n = node_get(z, z, w.w, w.len, 0);
			if (!n) {
				rc = -ENOMEM;
				goto fail;
			}
			n->flags |= NODE_POD_NS;
		}
	}

	/* Empty non-terminals: collect first, since inserting may grow the table. */
	{
		size_t cnt = 0, cap = z->n_nodes;
		struct wf_dns_node **all = wf_calloc(cap ? cap : 1, sizeof(*all));
		if (!all) {
			rc = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i <= z->mask; i++)
			if (z->table[i].v)
				all[cnt++] = slot_node(&z->table[i]);
		for (size_t i = 0; i < cnt && rc == 0; i++)
			rc = add_ancestors(z, all[i]);
		wf_free(all);
		if (rc < 0)
			goto fail;
	}
	snprintf(text, sizeof(text), "svc.%s", cfg->cluster_domain);
	{
		uint8_t wire[WF_DNS_MAX_NAME];
		int len = wf_dns_name_from_text(text, wire, true);
		if (len > 0 && !node_get(z, z, wire, (size_t)len, 0)) {
			rc = -ENOMEM;
			goto fail;
		}
		snprintf(text, sizeof(text), "pod.%s", cfg->cluster_domain);
		len = wf_dns_name_from_text(text, wire, true);
		if (len > 0 && !node_get(z, z, wire, (size_t)len, 0)) {
			rc = -ENOMEM;
			goto fail;
		}
	}

	rc = table_to_chunks(z);
	if (rc < 0)
		goto fail;
	blocks_free(b.scratch.mem);
	wf_free(b.recs);
	if (ret_skipped)
		*ret_skipped = b.skipped;
	*ret = z;
	return 0;

fail:
	blocks_free(b.scratch.mem);
	wf_free(b.recs);
	wf_dns_zone_free(z);
	return rc;
}

/* ---- versions: incremental updates ---- */

int wf_dns_zone_service_records(const struct wf_dns_zone *z, const struct wf_dns_zone_config *cfg,
				const struct wf_dns_service *s, wf_dns_zone_rec_fn fn,
				void *userdata)
{
	struct builder b = {
		.cfg = cfg, .collect = fn, .collect_data = userdata, .z = (struct wf_dns_zone *)z};
	char text[1024];
	int rc;

	snprintf(text, sizeof(text), "svc.%s", cfg->cluster_domain);
	rc = wf_dns_name_from_text(text, b.svc_suffix, false);
	if (rc < 0)
		return rc;
	b.svc_suffix_len = (size_t)rc;
	return add_service(&b, s);
}

/* A writable slot i of z, copying its chunk first when another version shares it. */
static struct slot *slot_w(struct wf_dns_zone *z, size_t i)
{
	struct chunk **cp = &z->chunks[i >> CHUNK_SHIFT], *c = *cp;

	if (c->refs > 1) {
		struct chunk *nc = wf_malloc(sizeof(*nc));
		if (!nc)
			return NULL;
		memcpy(nc->s, c->s, sizeof(nc->s));
		nc->refs = 1;
		for (size_t k = 0; k < CHUNK_SLOTS; k++)
			if (nc->s[k].v)
				slot_node(&nc->s[k])->refs++;
		chunk_unref(c); /* still held by the versions that share it */
		*cp = c = nc;
	}
	return &c->s[i & (CHUNK_SLOTS - 1)];
}

/* Finds name's slot, or the empty slot where it would go. */
static size_t find_slot(const struct wf_dns_zone *z, uint64_t h, const uint8_t *name, size_t len)
{
	size_t i = h & z->mask;

	for (;; i = (i + 1) & z->mask) {
		const struct slot *s = slot_at(z, i);
		if (!s->v || (slot_tag_is(s, h) && node_is(slot_node(s), name, len)))
			return i;
	}
}

/* Puts a heap node for name with r (sorted, de-duplicated) into the version being built. */
static int put_node(struct wf_dns_zone *z, const uint8_t *name, size_t len, uint8_t flags,
		    uint16_t zone, const struct rec *r, size_t cnt)
{
	uint64_t h = wf_dns_name_hash(name, len);
	size_t i = find_slot(z, h, name, len), n_sets;
	bool fresh = slot_at(z, i)->v == 0;

	if (fresh && (z->n_nodes + 1) * 4 > (z->mask + 1) * 3)
		return -ENOSPC; /* full: the caller rebuilds with a larger table */
	size_t bytes = node_bytes(len, r, cnt, &n_sets);
	uint8_t *blk = wf_malloc(bytes);
	if (!blk)
		return -ENOMEM;
	struct slot *s = node_fits(blk) ? slot_w(z, i) : NULL;
	if (!s) {
		wf_free(blk);
		return -ENOMEM;
	}
	struct wf_dns_node *n =
		node_layout(blk, name, len, flags | NODE_HEAP, zone, r, cnt, n_sets);
	if (s->v)
		node_unref(slot_node(s));
	*s = slot_make(n, h);
	z->n_nodes += fresh;
	z->heap_bytes += bytes;
	return 0;
}

/* The records of a node, back from wire form (rdata points into the node). */
static size_t node_recs(const struct wf_dns_node *n, struct rec *out, size_t cap)
{
	size_t cnt = 0;

	const struct wf_dns_rrset *sets = node_sets(n);

	for (unsigned i = 0; i < n->n_sets; i++) {
		const struct wf_dns_rrset *set = &sets[i];
		for (unsigned k = 0; k < set->count && cnt < cap; k++) {
			const uint8_t *p = set_data(n, set) + (k ? set_ends(n, set)[k - 1] : 0);
			struct rec *r = &out[cnt];
			r->type = set->type;
			r->ttl = wf_dns_get32(p + 6);
			r->rdlen = wf_dns_get16(p + 10);
			r->rdata = (uint8_t *)p + 12;
			r->seq = (uint32_t)cnt;
			r->next = 0;
			cnt++;
		}
	}
	return cnt;
}

int wf_dns_zone_derive(const struct wf_dns_zone *old, uint32_t serial, struct wf_dns_zone **ret)
{
	size_t n_chunks = (old->mask + 1) >> CHUNK_SHIFT;
	struct wf_dns_zone *z;
	int rc = -ENOMEM;

	if (!old->chunks)
		return -EINVAL;
	z = wf_calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->mask = old->mask;
	z->n_nodes = old->n_nodes;
	memcpy(z->apexes, old->apexes, sizeof(z->apexes));
	z->n_apexes = old->n_apexes;
	z->ttl = old->ttl;
	z->serial = serial;
	z->pods = old->pods;
	z->flags = old->flags;
	z->heap_bytes = old->heap_bytes;
	z->base = old->base;
	z->base->refs++;
	z->chunks = wf_malloc(n_chunks * sizeof(*z->chunks));
	if (!z->chunks)
		goto fail;
	memcpy(z->chunks, old->chunks, n_chunks * sizeof(*z->chunks));
	for (size_t i = 0; i < n_chunks; i++)
		z->chunks[i]->refs++;

	/* The serial is in every SOA: the negative answers' tails and the apex nodes. */
	for (unsigned i = 0; i < z->n_apexes; i++) {
		struct apex *a = &z->apexes[i];
		const uint8_t *old_tail = a->soa_tail;
		uint16_t rdlen = wf_dns_get16(old_tail + 8);
		struct rec recs[16];

		a->soa_tail = zalloc(z, a->soa_tail_len);
		if (!a->soa_tail)
			goto fail;
		memcpy(a->soa_tail, old_tail, a->soa_tail_len);
		wf_dns_put32(a->soa_tail + 10 + rdlen - 20, serial);
		const struct wf_dns_node *n =
			lookup(z, wf_dns_name_hash(a->name, a->len), a->name, a->len);
		if (!n)
			continue;
		size_t cnt = node_recs(n, recs, 16);
		for (size_t k = 0; k < cnt; k++)
			if (recs[k].type == WF_DNS_T_SOA && recs[k].rdlen == rdlen)
				recs[k].rdata = a->soa_tail + 10;
		rc = put_node(z, a->name, a->len, n->flags, n->zone, recs, cnt);
		if (rc < 0)
			goto fail;
	}
	*ret = z;
	return 0;

fail:
	wf_dns_zone_free(z);
	return rc;
}

int wf_dns_zone_set_node(struct wf_dns_zone *z, const uint8_t *name, size_t len, bool pod_ns,
			 const struct wf_dns_zone_rec *recs, size_t n)
{
	struct rec stack[64], *r = n <= 64 ? stack : wf_calloc(n, sizeof(*r));
	size_t w = 0;
	int zone, rc;

	if (!r)
		return -ENOMEM;
	zone = zone_of(z, name, len);
	if (zone < 0) {
		rc = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r[i] = (struct rec){.rdata = (uint8_t *)recs[i].rdata,
				    .seq = (uint32_t)i,
				    .ttl = recs[i].ttl,
				    .rdlen = recs[i].rdlen,
				    .type = recs[i].type};
	}
	/* as the full build does: by type, then in the order given; duplicates dropped */
	sort_recs(r, n);
	for (size_t k = 0; k < n; k++)
		if (w == 0 || !rec_same(&r[w - 1], &r[k]))
			r[w++] = r[k];
	rc = put_node(z, name, len, pod_ns ? NODE_POD_NS : 0, (uint16_t)zone, r, w);
out:
	if (r != stack)
		wf_free(r);
	return rc;
}

int wf_dns_zone_del_node(struct wf_dns_zone *z, const uint8_t *name, size_t len)
{
	uint64_t h = wf_dns_name_hash(name, len);
	size_t i = find_slot(z, h, name, len), j = i;
	struct slot *si, *sj;

	if (!slot_at(z, i)->v)
		return -ENOENT;
	si = slot_w(z, i);
	if (!si)
		return -ENOMEM;
	node_unref(slot_node(si));
	si->v = 0;
	z->n_nodes--;
	/* Backward-shift deletion (linear probing keeps no tombstones): move up every later
	 * entry of the run whose home slot is not in (i, j]. */
	for (;;) {
		j = (j + 1) & z->mask;
		if (!slot_at(z, j)->v)
			return 0;
		size_t k = node_hash(slot_node(slot_at(z, j))) & z->mask;
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		si = slot_w(z, i);
		if (!si)
			return -ENOMEM;
		sj = slot_w(z, j);
		if (!sj)
			return -ENOMEM;
		*si = *sj;
		sj->v = 0;
		i = j;
	}
}

int wf_dns_zone_apex_len(const struct wf_dns_zone *z, const uint8_t *name, size_t len)
{
	int i = zone_of(z, name, len);

	return i < 0 ? -1 : z->apexes[i].len;
}

bool wf_dns_zone_has(const struct wf_dns_zone *z, const uint8_t *name, size_t len)
{
	return lookup(z, wf_dns_name_hash(name, len), name, len) != NULL;
}

size_t wf_dns_zone_heap_bytes(const struct wf_dns_zone *z)
{
	return z->heap_bytes;
}

size_t wf_dns_zone_base_bytes(const struct wf_dns_zone *z)
{
	return z->base ? z->base->bytes : 0;
}

static bool node_equal(const struct wf_dns_node *a, const struct wf_dns_node *b)
{
	if ((a->flags & ~NODE_BUILD_FLAGS) != (b->flags & ~NODE_BUILD_FLAGS) ||
	    a->zone != b->zone || a->n_sets != b->n_sets)
		return false;
	for (unsigned i = 0; i < a->n_sets; i++) {
		const struct wf_dns_rrset *x = &node_sets(a)[i], *y = &node_sets(b)[i];
		if (x->type != y->type || x->count != y->count || x->len != y->len ||
		    memcmp(set_data(a, x), set_data(b, y), x->len) != 0)
			return false;
	}
	return true;
}

bool wf_dns_zone_equal(const struct wf_dns_zone *a, const struct wf_dns_zone *b, char *why,
		       size_t why_len)
{
	char text[1024];

	if (a->n_nodes != b->n_nodes) {
		snprintf(why, why_len, "%zu names vs %zu", a->n_nodes, b->n_nodes);
		return false;
	}
	if (a->n_apexes != b->n_apexes || a->serial != b->serial) {
		snprintf(why, why_len, "apexes or serial differ");
		return false;
	}
	for (unsigned i = 0; i < a->n_apexes; i++)
		if (a->apexes[i].soa_tail_len != b->apexes[i].soa_tail_len ||
		    memcmp(a->apexes[i].soa_tail, b->apexes[i].soa_tail,
			   a->apexes[i].soa_tail_len) != 0) {
			snprintf(why, why_len, "SOA of zone %u differs", i);
			return false;
		}
	for (size_t i = 0; i <= a->mask; i++) {
		const struct wf_dns_node *x = slot_node(slot_at(a, i)), *y;
		if (!x)
			continue;
		y = lookup(b, wf_dns_name_hash(x->name, x->name_len), x->name, x->name_len);
		if (!y || !node_equal(x, y)) {
			if (wf_dns_name_to_text(x->name, x->name_len, text, sizeof(text)) < 0)
				text[0] = '\0';
			snprintf(why, why_len, "%s: %s", text, y ? "differs" : "missing");
			return false;
		}
	}
	return true;
}

/* ---- answering (hot path) ---- */

static size_t put_set(uint8_t *out, size_t off, size_t avail, const struct wf_dns_node *n,
		      const struct wf_dns_rrset *s, uint16_t *an, bool *tc)
{
	const uint32_t *ends = set_ends(n, s);
	size_t k = 0;

	if (off + s->len <= avail) {
		memcpy(out + off, set_data(n, s), s->len);
		*an += s->count;
		return off + s->len;
	}
	/* RFC 2181 9: whole records only, and TC so that the client retries over TCP. */
	while (k < s->count && off + ends[k] <= avail)
		k++;
	if (k)
		memcpy(out + off, set_data(n, s), ends[k - 1]);
	*an += (uint16_t)k;
	*tc = true;
	return off + (k ? ends[k - 1] : 0);
}

/* Pod A/AAAA from the label "10-244-1-5" or "fd00--5" (spec row 10, insecure mode). Writes the
 * record at out and returns its length, 0 when the label is no address, -1 for the other
 * family (NODATA). */
static int pod_synth(const struct wf_dns_zone *z, const struct wf_dns_query *q, uint8_t *out)
{
	const uint8_t *label = q->qname_lc + 1;
	size_t len = q->qname_lc[0];
	char text[WF_DNS_MAX_LABEL + 1];
	unsigned dashes = 0;
	bool v4 = true;
	uint8_t addr[16];
	int family;

	for (size_t i = 0; i < len; i++) {
		char c = (char)label[i];
		if (c == '-') {
			dashes++;
			text[i] = ':';
		} else {
			if (c < '0' || c > '9')
				v4 = false;
			text[i] = c;
		}
	}
	text[len] = '\0';
	if (v4 && dashes == 3) {
		for (size_t i = 0; i < len; i++)
			if (text[i] == ':')
				text[i] = '.';
		family = AF_INET;
	} else {
		family = AF_INET6;
	}
	if (inet_pton(family, text, addr) != 1)
		return 0;
	uint16_t type = family == AF_INET ? WF_DNS_T_A : WF_DNS_T_AAAA;
	if (q->qtype != type && q->qtype != WF_DNS_T_ANY)
		return -1;
	size_t alen = family == AF_INET ? 4 : 16;
	wf_dns_put16(out, 0xc00c);
	wf_dns_put16(out + 2, type);
	wf_dns_put16(out + 4, WF_DNS_C_IN);
	wf_dns_put32(out + 6, z->ttl);
	wf_dns_put16(out + 10, (uint16_t)alen);
	memcpy(out + 12, addr, alen);
	return (int)(12 + alen);
}

uint64_t wf_dns_zone_prefetch(const struct wf_dns_zone *z, const struct wf_dns_query *q)
{
	uint64_t h = wf_dns_name_hash(q->qname_lc, q->qname_len);

	__builtin_prefetch(slot_at(z, h & z->mask));
	return h;
}

void wf_dns_zone_prefetch_node(const struct wf_dns_zone *z, uint64_t h)
{
	for (size_t i = h & z->mask;; i = (i + 1) & z->mask) {
		const struct slot *s = slot_at(z, i);
		if (!s->v)
			return;
		if (slot_tag_is(s, h)) {
			__builtin_prefetch(slot_node(s));
			__builtin_prefetch((const char *)slot_node(s) + 64);
			return;
		}
	}
}

size_t wf_dns_zone_answer(const struct wf_dns_zone *z, const struct wf_dns_query *q, uint8_t *out,
			  size_t limit, enum wf_dns_zone_result *ret_res)
{
	return wf_dns_zone_answer_hashed(z, q, wf_dns_name_hash(q->qname_lc, q->qname_len), out,
					 limit, ret_res);
}

size_t wf_dns_zone_answer_hashed(const struct wf_dns_zone *z, const struct wf_dns_query *q,
				 uint64_t hash, uint8_t *out, size_t limit,
				 enum wf_dns_zone_result *ret_res)
{
	const struct wf_dns_node *n = lookup(z, hash, q->qname_lc, q->qname_len);
	size_t avail = limit - (q->edns ? 11 : 0);
	uint16_t an = 0, nsc = 0;
	uint8_t rcode = WF_DNS_R_NOERROR;
	bool tc = false, exact = n != NULL;
	unsigned up = 0;
	size_t off;

	if (!n) {
		/* Closest existing ancestor: inside one of our zones it makes this NXDOMAIN;
		 * with none, the name is not ours. */
		for (up = 1; up < q->nlabels && !n; up++) {
			const uint8_t *sfx = q->qname_lc + q->label_off[up];
			size_t sl = (size_t)q->qname_len - q->label_off[up];
			n = lookup(z, wf_dns_name_hash(sfx, sl), sfx, sl);
		}
		up--;
		if (!n) {
			*ret_res = WF_DNS_ZONE_NOT_OURS;
			return 0;
		}
	}
	if ((q->qclass != WF_DNS_C_IN && q->qclass != WF_DNS_C_ANY) || q->qtype == WF_DNS_T_AXFR ||
	    q->qtype == WF_DNS_T_IXFR) {
		*ret_res = WF_DNS_ZONE_REFUSED;
		return wf_dns_wire_error(q, WF_DNS_R_REFUSED, 0, out, WF_DNS_EDNS_CAP);
	}

	off = wf_dns_wire_begin(q, out, z->flags);
	if (exact) {
		const struct wf_dns_rrset *cname = NULL;

		const struct wf_dns_rrset *sets = node_sets(n);

		for (unsigned i = 0; i < n->n_sets; i++) {
			const struct wf_dns_rrset *s = &sets[i];
			if (s->type == q->qtype || q->qtype == WF_DNS_T_ANY)
				off = put_set(out, off, avail, n, s, &an, &tc);
			else if (s->type == WF_DNS_T_CNAME)
				cname = s;
		}
		/* RFC 1034 3.6.2: an alias answers every type with its CNAME (spec row 9). */
		if (an == 0 && cname && !tc)
			off = put_set(out, off, avail, n, cname, &an, &tc);
		*ret_res = an || tc ? WF_DNS_ZONE_ANSWER : WF_DNS_ZONE_NODATA;
	} else {
		rcode = WF_DNS_R_NXDOMAIN;
		*ret_res = WF_DNS_ZONE_NXDOMAIN;
		if (up == 1 && (n->flags & NODE_POD_NS) && z->pods == WF_DNS_PODS_INSECURE) {
			int l = pod_synth(z, q, out + off);
			if (l != 0) {
				rcode = WF_DNS_R_NOERROR;
				*ret_res = l > 0 ? WF_DNS_ZONE_ANSWER : WF_DNS_ZONE_NODATA;
				if (l > 0) {
					off += (size_t)l;
					an = 1;
				}
			}
		}
	}
	if (an == 0 && !tc) {
		/* RFC 2308 3: the zone's SOA in the authority section, owner compressed to the
		 * apex suffix of the question name. */
		const struct apex *a = &z->apexes[n->zone];
		if (a->nlabels <= q->nlabels && off + 2 + a->soa_tail_len <= avail) {
			unsigned first = q->nlabels - a->nlabels;
			wf_dns_put16(out + off,
				     (uint16_t)(0xc000 | (WF_DNS_HDR_LEN + q->label_off[first])));
			memcpy(out + off + 2, a->soa_tail, a->soa_tail_len);
			off += 2 + (size_t)a->soa_tail_len;
			nsc = 1;
		}
	}
	if (tc)
		out[2] |= WF_DNS_F_TC >> 8;
	return wf_dns_wire_finish(q, out, off, rcode, an, nsc, WF_DNS_EDNS_CAP);
}
