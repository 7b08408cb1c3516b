/* The address store's slot file: <dataDir>/<network>/store (docs/internals/cni.md, "The
 * store").
 *
 * A 4 KiB header, then a hash table of 512-byte slots with linear probing. A slot is keyed:
 *  - a head, "H" id NUL ifname: one attachment, its addresses and the start of its record;
 *  - an address, "A" family addr[16]: the index of its attachment's head and the head's
 *    generation, so that an address can be looked up without reading any other slot;
 *  - a continuation, "C" part id NUL ifname: more of a record that does not fit its head.
 * An address or a continuation counts only while the head it names is there with the same
 * generation and (for an address) lists it: the head's one write is what takes the addresses
 * and stores the record, and its one write (as a tombstone) is what frees them. Everything
 * else is an index written before (ADD) or tidied after (DEL) that commit point.
 *
 * Crash safety: a slot is written with one pwrite() of at most 512 bytes, aligned, so within
 * one page: a process killed at any point leaves each slot old or new, never torn (the page
 * cache copy is what every later reader sees). A slot is self-validating (magic, checksum of
 * its used bytes), so one torn by a power loss reads as garbage and counts as a tombstone.
 * Nothing is allocated, linked or renamed on ADD and DEL; the file grows (rebuilt into a new
 * file, then renamed over) only when half its slots are in use. Callers hold the flock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/cni.h"
#include "cni/store.h"
#include "lib/alloc.h"
#include "lib/ip.h"

#define STORE_NAME "store"
#define STORE_TMP "store.new"
#define HDR_SIZE 4096
#define HDR_MAGIC "weftipam"
#define HDR_VERSION 1
#define SLOT_SIZE 512
#define SLOT_MAGIC 0x31534657u /* "WFS1" */
#define MIN_SLOTS 64u
#define MAX_PARTS 64u /* 64 * ~130 bytes at least: far above a record's size */

/* header flags */
#define F_CLEANUP 1u  /* files of the previous layout are still to be removed */
#define F_BUILDING 2u /* in memory only: a new file being filled, sized for what goes in */

enum slot_kind {
	SLOT_EMPTY, /* never used since the last rebuild: ends a probe */
	SLOT_HEAD,
	SLOT_ADDR,
	SLOT_CONT,
	SLOT_TOMB, /* freed (or unreadable): a probe goes on past it */
};

struct slot_ip {
	uint8_t family, prefix, pad[2];
	uint8_t addr[16];
};

struct slot {
	uint32_t magic;
	uint32_t sum; /* of the slot's used bytes, this field zero */
	uint64_t gen;
	uint8_t kind;
	uint8_t parts; /* head: its record's slots, itself included; continuation: its number */
	uint8_t n_ips; /* head */
	uint8_t pad;
	uint16_t key_len;
	uint16_t data_len;
	uint32_t head; /* address, continuation: the head's slot index */
	uint32_t pad2;
	struct slot_ip ips[WF_CNI_MAX_SETS]; /* head */
	uint8_t bytes[SLOT_SIZE - 112];	     /* key, then data */
};
_Static_assert(sizeof(struct slot) == SLOT_SIZE, "a slot is 512 bytes");
#define SLOT_FIXED offsetof(struct slot, bytes)
#define SLOT_BYTES (SLOT_SIZE - SLOT_FIXED)

struct store_hdr {
	char magic[8];
	uint32_t sum;
	uint32_t version;
	uint32_t slot_size;
	uint32_t n_slots;
	uint32_t used;
	uint32_t flags;
	uint64_t gen;
	struct slot_ip hint[WF_CNI_MAX_SETS];
};

long wf_cni_store_test_writes = -1;

/* Tests stop the store between two writes, as a kill -9 would (store.h). */
static bool write_allowed(void)
{
	if (wf_cni_store_test_writes < 0)
		return true;
	if (wf_cni_store_test_writes == 0)
		return false;
	wf_cni_store_test_writes--;
	return true;
}

struct key {
	uint16_t len;
	uint8_t b[2 + WF_CNI_STORE_ID_MAX + 1 + 16];
};

/* FNV-1a: a checksum against torn and garbage slots, and the table's hash. Neither needs to
 * resist an adversary: only weft writes the file, under its lock. */
static uint32_t sum32(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint64_t hash64(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static int key_att(struct key *k, char tag, unsigned part, const char *id, const char *ifname)
{
	size_t il = strlen(id), fl = strlen(ifname);
	if (il > WF_CNI_STORE_ID_MAX || fl > 15)
		return -ENAMETOOLONG;
	uint8_t *p = k->b;
	*p++ = (uint8_t)tag;
	if (tag == 'C')
		*p++ = (uint8_t)part;
	memcpy(p, id, il);
	p += il;
	*p++ = 0;
	memcpy(p, ifname, fl);
	k->len = (uint16_t)(p + fl - k->b);
	return 0;
}

static void key_addr(struct key *k, const struct wf_ip *ip)
{
	k->b[0] = 'A';
	k->b[1] = ip->family;
	memcpy(k->b + 2, ip->addr, 16);
	k->len = 18;
}

/* The owner of a head's key. */
static void key_owner(const struct slot *s, char *id, char *ifname)
{
	const char *p = (const char *)s->bytes + 1;
	size_t il = strnlen(p, s->key_len - 1);
	memcpy(id, p, il);
	id[il] = 0;
	size_t fl = s->key_len - 1 - il - 1;
	memcpy(ifname, p + il + 1, fl);
	ifname[fl] = 0;
}

static off_t slot_off(uint32_t idx)
{
	return HDR_SIZE + (off_t)idx * SLOT_SIZE;
}

static size_t slot_used(const struct slot *s)
{
	return SLOT_FIXED + s->key_len + s->data_len;
}

/* Classifies a slot as read: its kind, SLOT_TOMB for one that does not validate. */
static enum slot_kind slot_check(struct slot *s)
{
	if (s->magic == 0 && s->kind == SLOT_EMPTY)
		return SLOT_EMPTY;
	uint32_t want = s->sum;
	if (s->magic != SLOT_MAGIC || s->kind == SLOT_EMPTY || s->kind > SLOT_TOMB ||
	    s->key_len + s->data_len > SLOT_BYTES || s->n_ips > WF_CNI_MAX_SETS)
		goto garbage;
	s->sum = 0;
	uint32_t got = sum32(s, slot_used(s));
	s->sum = want;
	if (got != want)
		goto garbage;
	if (s->kind == SLOT_HEAD && (s->key_len < 2 || s->bytes[0] != 'H'))
		goto garbage;
	return (enum slot_kind)s->kind;
garbage:
	s->kind = SLOT_TOMB;
	s->key_len = s->data_len = 0;
	return SLOT_TOMB;
}

static int slot_read(struct wf_cni_ipam *ipam, uint32_t idx, struct slot *s)
{
	ssize_t n = pread(ipam->fd, s, SLOT_SIZE, slot_off(idx));
	if (n < 0)
		return -errno;
	if (n < SLOT_SIZE)
		memset((char *)s + n, 0, SLOT_SIZE - (size_t)n); /* past the end: empty */
	return (int)slot_check(s);
}

static int slot_write(struct wf_cni_ipam *ipam, uint32_t idx, struct slot *s)
{
	if (!write_allowed())
		return -EINTR;
	s->magic = SLOT_MAGIC;
	s->sum = 0;
	size_t len = slot_used(s);
	s->sum = sum32(s, len);
	/* the used bytes only: the rest of the slot is zero or another write's leftover, and
	 * the checksum covers what the lengths say */
	ssize_t n = pwrite(ipam->fd, s, len, slot_off(idx));
	if (n != (ssize_t)len)
		return n < 0 ? -errno : -EIO;
	return 0;
}

static int slot_tomb(struct wf_cni_ipam *ipam, uint32_t idx, uint64_t gen)
{
	struct slot s = {.gen = gen, .kind = SLOT_TOMB};
	return slot_write(ipam, idx, &s);
}

/* Where a probe for a key ended. */
struct probe {
	uint32_t idx;	 /* found: the key's slot */
	uint32_t free;	 /* absent: where it goes (first tombstone or the empty slot) */
	bool have_free;	 /* a place was found */
	bool free_empty; /* it is an empty slot (one more in use once written) */
};

static bool is_busy(const uint32_t *busy, unsigned n, uint32_t idx)
{
	for (unsigned i = 0; i < n; i++)
		if (busy[i] == idx)
			return true;
	return false;
}

/* Linear probing for k. busy: slots this operation is about to write (not free, and not the
 * end of a probe). 1 found (its slot in ret), 0 absent, -errno. */
static int probe(struct wf_cni_ipam *ipam, const struct key *k, const uint32_t *busy,
		 unsigned n_busy, struct slot *ret, struct probe *p)
{
	uint32_t mask = ipam->n_slots - 1;
	uint32_t idx = (uint32_t)hash64(k->b, k->len) & mask;
	p->have_free = false;
	for (uint32_t i = 0; i < ipam->n_slots; i++, idx = (idx + 1) & mask) {
		int kind = slot_read(ipam, idx, ret);
		if (kind < 0)
			return kind;
		bool b = is_busy(busy, n_busy, idx);
		if (kind == SLOT_EMPTY && !b) {
			if (!p->have_free) {
				p->free = idx;
				p->have_free = true;
				p->free_empty = true;
			}
			return 0;
		}
		if (kind == SLOT_TOMB) {
			if (!p->have_free && !b) {
				p->free = idx;
				p->have_free = true;
				p->free_empty = false;
			}
			continue;
		}
		if (kind != SLOT_EMPTY && ret->key_len == k->len &&
		    memcmp(ret->bytes, k->b, k->len) == 0) {
			p->idx = idx;
			return 1;
		}
	}
	return 0;
}

static bool head_lists(const struct slot *h, const struct wf_ip *ip)
{
	for (unsigned i = 0; i < h->n_ips; i++)
		if (h->ips[i].family == ip->family && memcmp(h->ips[i].addr, ip->addr, 16) == 0)
			return true;
	return false;
}

/* Whether an address or continuation slot s belongs to a live head (read into h). */
static int slot_live(struct wf_cni_ipam *ipam, const struct slot *s, struct slot *h)
{
	if (s->head >= ipam->n_slots)
		return 0;
	int kind = slot_read(ipam, s->head, h);
	if (kind < 0)
		return kind;
	if (kind != SLOT_HEAD || h->gen != s->gen)
		return 0;
	if (s->kind == SLOT_ADDR) {
		struct wf_ip ip = {.family = s->bytes[1]};
		memcpy(ip.addr, s->bytes + 2, 16);
		return head_lists(h, &ip);
	}
	return s->parts < h->parts;
}

/* --- header --- */

static int hdr_write(struct wf_cni_ipam *ipam, int fd)
{
	struct store_hdr h = {.version = HDR_VERSION,
			      .slot_size = SLOT_SIZE,
			      .n_slots = ipam->n_slots,
			      .used = ipam->used,
			      .flags = ipam->flags,
			      .gen = ipam->gen};
	memcpy(h.magic, HDR_MAGIC, 8);
	for (unsigned i = 0; i < WF_CNI_MAX_SETS; i++) {
		h.hint[i].family = ipam->hint[i].family;
		memcpy(h.hint[i].addr, ipam->hint[i].addr, 16);
	}
	h.sum = sum32(&h, sizeof(h));
	if (!write_allowed())
		return -EINTR;
	if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EIO;
	return 0;
}

int wf_cni_store_flush(struct wf_cni_ipam *ipam)
{
	if (!ipam->dirty || ipam->fd < 0)
		return 0;
	ipam->dirty = false;
	return hdr_write(ipam, ipam->fd);
}

/* 0, or -EBADMSG for a header that does not validate (repaired by a rebuild). */
static int hdr_read(struct wf_cni_ipam *ipam)
{
	struct store_hdr h;
	struct stat st;
	ssize_t n = pread(ipam->fd, &h, sizeof(h), 0);
	if (n < 0)
		return -errno;
	if (n == sizeof(h) && memcmp(h.magic, HDR_MAGIC, 8) == 0 && h.version != HDR_VERSION)
		return -EPROTONOSUPPORT;
	uint32_t want = h.sum;
	h.sum = 0;
	if (n != sizeof(h) || memcmp(h.magic, HDR_MAGIC, 8) != 0 || sum32(&h, sizeof(h)) != want ||
	    h.slot_size != SLOT_SIZE || h.n_slots < MIN_SLOTS || (h.n_slots & (h.n_slots - 1))) {
		/* torn by a power loss: the slots say how many there are and what is live */
		if (fstat(ipam->fd, &st) == -1)
			return -errno;
		uint64_t n_slots =
			st.st_size > HDR_SIZE ? (uint64_t)(st.st_size - HDR_SIZE) / SLOT_SIZE : 0;
		ipam->n_slots = MIN_SLOTS;
		while (ipam->n_slots * 2 <= n_slots)
			ipam->n_slots *= 2;
		ipam->used = ipam->n_slots; /* unknown: the next write rebuilds */
		ipam->gen = 0;
		ipam->flags = 0;
		memset(ipam->hint, 0, sizeof(ipam->hint));
		return -EBADMSG;
	}
	ipam->n_slots = h.n_slots;
	ipam->used = h.used;
	ipam->flags = h.flags;
	ipam->gen = h.gen;
	for (unsigned i = 0; i < WF_CNI_MAX_SETS; i++) {
		ipam->hint[i].family = h.hint[i].family;
		memcpy(ipam->hint[i].addr, h.hint[i].addr, 16);
	}
	return 0;
}

/* --- the walk over every slot (GC, STATUS, listing, rebuild) --- */

#define WALK_SLOTS 64

struct walk {
	struct slot buf[WALK_SLOTS];
	uint32_t base, n; /* slots base..base+n-1 are in buf */
};

static int walk_slot(struct wf_cni_ipam *ipam, struct walk *w, uint32_t idx, struct slot *s)
{
	if (idx < w->base || idx >= w->base + w->n) {
		uint32_t n = ipam->n_slots - idx < WALK_SLOTS ? ipam->n_slots - idx : WALK_SLOTS;
		ssize_t got = pread(ipam->fd, w->buf, (size_t)n * SLOT_SIZE, slot_off(idx));
		if (got < 0)
			return -errno;
		memset((char *)w->buf + got, 0, (size_t)n * SLOT_SIZE - (size_t)got);
		w->base = idx;
		w->n = n;
	}
	*s = w->buf[idx - w->base];
	return (int)slot_check(s);
}

/* Clears tombstones at idx and before it while the slot after them is empty: no probe needs
 * them any more (a probe stops at the empty slot anyway). Each write leaves a valid table. */
static int sweep(struct wf_cni_ipam *ipam, uint32_t idx)
{
	struct slot s;
	uint32_t mask = ipam->n_slots - 1;
	int kind = slot_read(ipam, (idx + 1) & mask, &s);
	if (kind != SLOT_EMPTY)
		return kind < 0 ? kind : 0;
	static const struct slot zero;
	for (uint32_t i = 0; i < ipam->n_slots; i++, idx = (idx - 1) & mask) {
		kind = slot_read(ipam, idx, &s);
		if (kind != SLOT_TOMB)
			return kind < 0 ? kind : 0;
		if (!write_allowed())
			return -EINTR;
		if (pwrite(ipam->fd, &zero, SLOT_SIZE, slot_off(idx)) != SLOT_SIZE)
			return -EIO;
		if (ipam->used)
			ipam->used--;
		ipam->dirty = true;
	}
	return 0;
}

static char *att_text(struct wf_cni_ipam *ipam, const struct slot *h, uint32_t hidx)
{
	size_t cap = (size_t)h->parts * SLOT_BYTES + 1, len = 0;
	char *text = wf_malloc(cap);
	if (!text)
		return NULL;
	memcpy(text, h->bytes + h->key_len, h->data_len);
	len = h->data_len;
	char id[WF_CNI_STORE_ID_MAX + 1], ifname[16];
	key_owner(h, id, ifname);
	for (unsigned part = 1; part < h->parts; part++) {
		struct key k;
		struct slot c;
		struct probe p;
		key_att(&k, 'C', part, id, ifname);
		int f = probe(ipam, &k, NULL, 0, &c, &p);
		if (f != 1 || c.gen != h->gen || c.head != hidx) {
			len = 0; /* incomplete (a power loss): no record rather than half of one */
			break;
		}
		memcpy(text + len, c.bytes + c.key_len, c.data_len);
		len += c.data_len;
	}
	text[len] = 0;
	return text;
}

static void att_fill(const struct slot *h, struct wf_cni_store_att *att)
{
	key_owner(h, att->id, att->ifname);
	att->n_ips = h->n_ips;
	for (unsigned i = 0; i < h->n_ips; i++) {
		memset(&att->ips[i], 0, sizeof(att->ips[i]));
		att->ips[i].ip.family = h->ips[i].family;
		memcpy(att->ips[i].ip.addr, h->ips[i].addr, 16);
		att->ips[i].prefix = h->ips[i].prefix;
	}
}

typedef int (*att_fn)(struct wf_cni_ipam *, const struct wf_cni_store_att *, void *);

static int walk_all(struct wf_cni_ipam *ipam, att_fn fn, void *arg, bool tidy)
{
	static struct walk w; /* 32 KiB, not on the stack */
	struct slot s, h;
	int total = 0;
	w.n = 0;
	for (uint32_t idx = 0; idx < ipam->n_slots; idx++) {
		int kind = walk_slot(ipam, &w, idx, &s);
		if (kind < 0)
			return kind;
		if (kind == SLOT_HEAD && fn) {
			struct wf_cni_store_att att;
			att_fill(&s, &att);
			att.text = att_text(ipam, &s, idx);
			if (!att.text)
				return -ENOMEM;
			int r = fn(ipam, &att, arg);
			wf_free(att.text);
			w.n = 0; /* fn may have written */
			if (r < 0)
				return r;
			total += r;
		} else if ((kind == SLOT_ADDR || kind == SLOT_CONT) && tidy) {
			/* left by an ADD killed before its head, or a DEL after it */
			int live = slot_live(ipam, &s, &h);
			if (live < 0)
				return live;
			if (!live) {
				int e = slot_tomb(ipam, idx, s.gen);
				if (e == 0)
					e = sweep(ipam, idx);
				if (e < 0)
					return e;
				w.n = 0;
			}
		}
	}
	return total;
}

int wf_cni_store_each(struct wf_cni_ipam *ipam, att_fn fn, void *arg)
{
	return walk_all(ipam, fn, arg, true);
}

/* --- growth: everything live into a new file, renamed over the old one --- */

static int count_cb(struct wf_cni_ipam *ipam, const struct wf_cni_store_att *att, void *arg)
{
	(void)ipam;
	size_t len = strlen(att->text);
	*(uint64_t *)arg += 1 + att->n_ips + len / 128;
	return 0;
}

static int copy_cb(struct wf_cni_ipam *ipam, const struct wf_cni_store_att *att, void *arg)
{
	(void)ipam;
	struct wf_cni_ipam *to = arg;
	return wf_cni_store_put(to, att->id, att->ifname, att->ips, att->n_ips, att->text,
				strlen(att->text));
}

static uint32_t size_for(uint64_t slots)
{
	uint64_t n = MIN_SLOTS;
	while (n < slots * 4 && n < (1u << 30))
		n *= 2;
	return (uint32_t)n;
}

/* Opens STORE_TMP as an empty store of n_slots in ret (a copy of ipam's other fields). */
static int store_new(struct wf_cni_ipam *ipam, uint32_t n_slots, struct wf_cni_ipam *ret)
{
	*ret = *ipam;
	ret->fd = openat(ipam->dirfd, STORE_TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ret->fd == -1)
		return -errno;
	ret->n_slots = n_slots;
	ret->used = 0;
	ret->flags |= F_BUILDING;
	/* sparse: empty slots are holes until written */
	if (ftruncate(ret->fd, slot_off(n_slots)) == -1) {
		int e = -errno;
		close(ret->fd);
		return e;
	}
	return 0;
}

/* Makes the new store the store: header, data on disk, then the rename (the one moment a
 * crash could lose the file's content if it were not synced first). */
static int store_install(struct wf_cni_ipam *ipam, struct wf_cni_ipam *nw)
{
	nw->flags &= ~F_BUILDING;
	int e = hdr_write(nw, nw->fd);
	if (e == 0 && fsync(nw->fd) == -1)
		e = -errno;
	if (e == 0 && renameat(ipam->dirfd, STORE_TMP, ipam->dirfd, STORE_NAME) == -1)
		e = -errno;
	if (e < 0) {
		close(nw->fd);
		unlinkat(ipam->dirfd, STORE_TMP, 0);
		return e;
	}
	if (ipam->fd >= 0)
		close(ipam->fd);
	nw->dirty = false;
	*ipam = *nw;
	return 0;
}

/* Rebuilds the store with room for need more slots (and no tombstones). */
static int rebuild(struct wf_cni_ipam *ipam, unsigned need)
{
	struct wf_cni_ipam nw;
	uint64_t live = 0;
	int e = walk_all(ipam, count_cb, &live, false);
	if (e < 0)
		return e;
	e = store_new(ipam, size_for(live + need), &nw);
	if (e < 0)
		return e;
	e = walk_all(ipam, copy_cb, &nw, false);
	if (e < 0) {
		close(nw.fd);
		unlinkat(ipam->dirfd, STORE_TMP, 0);
		return e;
	}
	return store_install(ipam, &nw);
}

/* --- the operations --- */

int wf_cni_store_ip_owner(struct wf_cni_ipam *ipam, const struct wf_ip *ip, char *ret_id,
			  char *ret_ifname)
{
	struct key k;
	struct slot s, h;
	struct probe p;
	key_addr(&k, ip);
	int f = probe(ipam, &k, NULL, 0, &s, &p);
	if (f <= 0)
		return f;
	int live = slot_live(ipam, &s, &h);
	if (live == 1 && ret_id)
		key_owner(&h, ret_id, ret_ifname);
	return live;
}

int wf_cni_store_get(struct wf_cni_ipam *ipam, const char *id, const char *ifname,
		     struct wf_cni_store_att *ret)
{
	struct key k;
	struct slot h;
	struct probe p;
	int e = key_att(&k, 'H', 0, id, ifname);
	if (e < 0)
		return e;
	int f = probe(ipam, &k, NULL, 0, &h, &p);
	if (f <= 0)
		return f == 0 ? -ENOENT : f;
	att_fill(&h, ret);
	ret->text = att_text(ipam, &h, p.idx);
	return ret->text ? 0 : -ENOMEM;
}

/* Where each slot of a put goes: taken from a probe. */
struct target {
	uint32_t idx;
	bool empty;
};

static int place(struct wf_cni_ipam *ipam, const struct key *k, uint32_t *busy, unsigned *n_busy,
		 struct target *t)
{
	struct slot s, h;
	struct probe p;
	int f = probe(ipam, k, busy, *n_busy, &s, &p);
	if (f < 0)
		return f;
	if (f == 1) {
		/* a leftover of an interrupted ADD or DEL, or a live address */
		if (s.kind == SLOT_ADDR || s.kind == SLOT_CONT) {
			int live = slot_live(ipam, &s, &h);
			if (live < 0)
				return live;
			if (live)
				return s.kind == SLOT_ADDR ? -EADDRINUSE : -EEXIST;
		}
		t->idx = p.idx;
		t->empty = false;
	} else if (!p.have_free) {
		return -ENOSPC;
	} else {
		t->idx = p.free;
		t->empty = p.free_empty;
	}
	busy[(*n_busy)++] = t->idx;
	return 0;
}

static int put_once(struct wf_cni_ipam *ipam, const struct key *hk, const char *id,
		    const char *ifname, const struct wf_cni_ip *ips, unsigned n_ips,
		    const char *text, size_t len, unsigned parts)
{
	uint32_t busy[1 + WF_CNI_MAX_SETS + MAX_PARTS];
	unsigned n_busy = 0;
	struct target head, addr[WF_CNI_MAX_SETS], cont[MAX_PARTS];
	struct key k;
	int e = place(ipam, hk, busy, &n_busy, &head);
	if (e < 0)
		return e;
	if (!head.empty) {
		struct slot s;
		if ((e = slot_read(ipam, head.idx, &s)) < 0)
			return e;
		if (e == SLOT_HEAD)
			return -EEXIST;
	}
	for (unsigned i = 1; i < parts; i++) {
		key_att(&k, 'C', i, id, ifname);
		if ((e = place(ipam, &k, busy, &n_busy, &cont[i])) < 0)
			return e;
	}
	for (unsigned i = 0; i < n_ips; i++) {
		key_addr(&k, &ips[i].ip);
		if ((e = place(ipam, &k, busy, &n_busy, &addr[i])) < 0)
			return e;
	}

	/* the index first (continuations, addresses), then the head that makes them count */
	uint64_t gen = ++ipam->gen;
	ipam->dirty = true;
	size_t first = SLOT_BYTES - hk->len, off = len < first ? len : first;
	for (unsigned i = 1; i < parts; i++) {
		struct slot c = {.gen = gen, .kind = SLOT_CONT, .parts = (uint8_t)i};
		key_att(&k, 'C', i, id, ifname);
		size_t n = len - off < SLOT_BYTES - k.len ? len - off : SLOT_BYTES - k.len;
		c.key_len = k.len;
		c.data_len = (uint16_t)n;
		c.head = head.idx;
		memcpy(c.bytes, k.b, k.len);
		memcpy(c.bytes + k.len, text + off, n);
		off += n;
		if ((e = slot_write(ipam, cont[i].idx, &c)) < 0)
			return e;
		ipam->used += cont[i].empty;
	}
	for (unsigned i = 0; i < n_ips; i++) {
		struct slot a = {.gen = gen, .kind = SLOT_ADDR, .head = head.idx};
		key_addr(&k, &ips[i].ip);
		a.key_len = k.len;
		memcpy(a.bytes, k.b, k.len);
		if ((e = slot_write(ipam, addr[i].idx, &a)) < 0)
			return e;
		ipam->used += addr[i].empty;
	}
	struct slot h = {.gen = gen, .kind = SLOT_HEAD, .parts = (uint8_t)parts};
	h.n_ips = (uint8_t)n_ips;
	for (unsigned i = 0; i < n_ips; i++) {
		h.ips[i].family = ips[i].ip.family;
		h.ips[i].prefix = ips[i].prefix;
		memcpy(h.ips[i].addr, ips[i].ip.addr, 16);
	}
	h.key_len = hk->len;
	h.data_len = (uint16_t)(len < first ? len : first);
	memcpy(h.bytes, hk->b, hk->len);
	memcpy(h.bytes + hk->len, text, h.data_len);
	if ((e = slot_write(ipam, head.idx, &h)) < 0)
		return e;
	ipam->used += head.empty;
	return 0;
}

int wf_cni_store_put(struct wf_cni_ipam *ipam, const char *id, const char *ifname,
		     const struct wf_cni_ip *ips, unsigned n_ips, const char *text, size_t len)
{
	struct key hk;
	int e = key_att(&hk, 'H', 0, id, ifname);
	if (e < 0)
		return e;
	if (n_ips > WF_CNI_MAX_SETS)
		return -E2BIG;
	size_t first = SLOT_BYTES - hk.len, more = SLOT_BYTES - hk.len - 1;
	size_t parts = 1 + (len > first ? (len - first + more - 1) / more : 0);
	if (parts > MAX_PARTS)
		return -EFBIG;
	unsigned need = 1 + n_ips + (unsigned)parts - 1;
	/* at most half full: probes stay short */
	bool building = ipam->flags & F_BUILDING;
	if ((uint64_t)(ipam->used + need) * 2 > ipam->n_slots && !building &&
	    (e = rebuild(ipam, need)) < 0)
		return e;
	e = put_once(ipam, &hk, id, ifname, ips, n_ips, text, len, (unsigned)parts);
	if (e == -ENOSPC && !building && (e = rebuild(ipam, need)) == 0) /* the count was off */
		e = put_once(ipam, &hk, id, ifname, ips, n_ips, text, len, (unsigned)parts);
	return e;
}

int wf_cni_store_drop(struct wf_cni_ipam *ipam, const char *id, const char *ifname)
{
	struct key k;
	struct slot h, s;
	struct probe p;
	uint32_t tombs[1 + WF_CNI_MAX_SETS + MAX_PARTS];
	unsigned n_tombs = 0;
	int e = key_att(&k, 'H', 0, id, ifname);
	if (e < 0)
		return e;
	int f = probe(ipam, &k, NULL, 0, &h, &p);
	if (f <= 0)
		return f;
	uint32_t hidx = p.idx;
	/* the commit: with the head gone, its addresses and continuations count no more */
	if ((e = slot_tomb(ipam, hidx, h.gen)) < 0)
		return e;
	ipam->dirty = true;
	tombs[n_tombs++] = hidx;
	/* then the index, tidied (a crash here leaves slots that GC and later ADDs reuse) */
	for (unsigned i = 0; i < h.n_ips + h.parts - 1u; i++) {
		if (i < h.n_ips) {
			struct wf_ip ip = {.family = h.ips[i].family};
			memcpy(ip.addr, h.ips[i].addr, 16);
			key_addr(&k, &ip);
		} else {
			char cid[WF_CNI_STORE_ID_MAX + 1], cif[16];
			key_owner(&h, cid, cif);
			key_att(&k, 'C', i - h.n_ips + 1, cid, cif);
		}
		if ((f = probe(ipam, &k, NULL, 0, &s, &p)) < 0)
			return f;
		if (f == 1 && s.head == hidx && s.gen == h.gen) {
			if ((e = slot_tomb(ipam, p.idx, s.gen)) < 0)
				return e;
			tombs[n_tombs++] = p.idx;
		}
	}
	for (unsigned i = n_tombs; i-- > 0;)
		if ((e = sweep(ipam, tombs[i])) < 0)
			return e;
	return 1;
}

/* --- creation, and conversion of the previous layout (one file per address) --- */

/* Reads a file of the previous layout: its owner ("<id>\r\n<ifname>", or "<id>" before
 * host-local 0.8) and what follows the owner line (weft's record), malloc()ed in ret_text. */
static int old_read(int dirfd, const char *name, char *id, char *ifname, char **ret_text)
{
	char buf[8192];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	char *text = NULL;
	if (buf[0] == '{') { /* a record of its own */
		id[0] = ifname[0] = 0;
		text = buf;
	} else {
		char *crlf = strstr(buf, "\r\n");
		char *end = crlf ? strchr(crlf + 2, '\n') : NULL;
		if (end) {
			*end = 0;
			text = end + 1;
		}
		if (crlf)
			*crlf = 0;
		if (strlen(buf) > WF_CNI_STORE_ID_MAX || (crlf && strlen(crlf + 2) > 15))
			return -ENAMETOOLONG;
		strcpy(id, buf);
		strcpy(ifname, crlf ? crlf + 2 : "");
	}
	*ret_text = wf_strdup(text ? text : "");
	return *ret_text ? 0 : -ENOMEM;
}

static bool old_record_name(const char *name, char *id, char *ifname)
{
	/* "weft:<id>:<ifname>": an interface name has no ':' */
	const char *sep = strrchr(name, ':');
	size_t nl = strlen(name);
	if (strncmp(name, "weft:", 5) != 0 || !sep || sep < name + 5 ||
	    (size_t)(sep - name - 5) > WF_CNI_STORE_ID_MAX || strlen(sep + 1) > 15 ||
	    (nl > 4 && strcmp(name + nl - 4, ".tmp") == 0))
		return false;
	memcpy(id, name + 5, (size_t)(sep - name - 5));
	id[sep - name - 5] = 0;
	strcpy(ifname, sep + 1);
	return true;
}

static bool old_name(const char *name)
{
	struct wf_ip ip;
	return wf_ip_parse(name, &ip) == 0 || strncmp(name, "weft:", 5) == 0 ||
	       strncmp(name, "last_reserved_ip.", 17) == 0 || strncmp(name, ".spare.", 7) == 0 ||
	       strcmp(name, ".weft-reserve.tmp") == 0;
}

/* Adds one address of the previous layout to its owner's attachment in the new store. */
static int convert_addr(struct wf_cni_ipam *nw, int dirfd, const char *name, const struct wf_ip *ip)
{
	char id[WF_CNI_STORE_ID_MAX + 1], ifname[16], rid[WF_CNI_STORE_ID_MAX + 1], rif[16],
		rec[300];
	char *text = NULL;
	struct wf_cni_store_att att;
	int e = old_read(dirfd, name, id, ifname, &text);
	if (e < 0 || !id[0]) {
		e = 0; /* unreadable: the address is free, as host-local would see it */
		goto out;
	}
	if (!text[0]) {
		/* weft's record of its own, in the same directory */
		snprintf(rec, sizeof(rec), "weft:%s:%s", id, ifname);
		wf_free(text);
		text = NULL;
		if (old_read(dirfd, rec, rid, rif, &text) < 0 && !(text = wf_strdup("")))
			return -ENOMEM;
	}
	e = wf_cni_store_get(nw, id, ifname, &att);
	if (e == 0) {
		/* another address of the same attachment: one head holds both */
		wf_free(text);
		text = att.text;
		if (att.n_ips < WF_CNI_MAX_SETS) {
			att.ips[att.n_ips].ip = *ip;
			att.ips[att.n_ips++].prefix = 0;
		}
		wf_cni_store_drop(nw, id, ifname);
		e = wf_cni_store_put(nw, id, ifname, att.ips, att.n_ips, text, strlen(text));
	} else if (e == -ENOENT) {
		struct wf_cni_ip one = {.ip = *ip};
		e = wf_cni_store_put(nw, id, ifname, &one, 1, text, strlen(text));
	}
out:
	wf_free(text);
	return e == -ENAMETOOLONG || e == -EADDRINUSE ? 0 : e;
}

/* A record with no address (an ADD killed before its reservation, or delegated addresses). */
static int convert_record(struct wf_cni_ipam *nw, int dirfd, const char *name)
{
	char id[WF_CNI_STORE_ID_MAX + 1], ifname[16], oid[WF_CNI_STORE_ID_MAX + 1], oif[16];
	struct wf_cni_store_att att;
	char *text = NULL;
	if (!old_record_name(name, id, ifname))
		return 0;
	if (wf_cni_store_get(nw, id, ifname, &att) == 0) {
		wf_free(att.text);
		return 0;
	}
	int e = old_read(dirfd, name, oid, oif, &text);
	if (e == 0)
		e = wf_cni_store_put(nw, id, ifname, NULL, 0, text, strlen(text));
	wf_free(text);
	return e == -ENAMETOOLONG ? 0 : e;
}

static int convert_hint(struct wf_cni_ipam *nw, int dirfd, const char *name)
{
	char buf[WF_IP_STRLEN + 1];
	unsigned set = (unsigned)atoi(name + 17);
	if (set >= WF_CNI_MAX_SETS)
		return 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	if (wf_ip_parse(buf, &nw->hint[set]) < 0)
		memset(&nw->hint[set], 0, sizeof(nw->hint[set]));
	return 0;
}

/* Walks the directory for the previous layout's files: fn(name) for each (fn NULL: counts). */
static int old_walk(struct wf_cni_ipam *ipam, int (*fn)(struct wf_cni_ipam *, int, const char *),
		    struct wf_cni_ipam *nw)
{
	int fd = openat(ipam->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int n = 0, e = 0;
	while ((de = readdir(d)) && e >= 0) {
		if (!old_name(de->d_name))
			continue;
		n++;
		if (fn)
			e = fn(nw, ipam->dirfd, de->d_name);
	}
	closedir(d);
	return e < 0 ? e : n;
}

static int convert_one(struct wf_cni_ipam *nw, int dirfd, const char *name)
{
	struct wf_ip ip;
	if (wf_ip_parse(name, &ip) == 0)
		return convert_addr(nw, dirfd, name, &ip);
	if (strncmp(name, "last_reserved_ip.", 17) == 0)
		return convert_hint(nw, dirfd, name);
	return 0;
}

static int convert_rec(struct wf_cni_ipam *nw, int dirfd, const char *name)
{
	return strncmp(name, "weft:", 5) == 0 ? convert_record(nw, dirfd, name) : 0;
}

static int remove_old(struct wf_cni_ipam *nw, int dirfd, const char *name)
{
	(void)nw;
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Removes the previous layout's files once the store holds what they said. */
static int cleanup_old(struct wf_cni_ipam *ipam)
{
	int e = old_walk(ipam, remove_old, NULL);
	if (e < 0)
		return e;
	ipam->flags &= ~F_CLEANUP;
	return hdr_write(ipam, ipam->fd);
}

/* Creates the store: empty, or holding what the previous layout's files in the directory
 * say (one file per address, weft's records beside them, the round-robin hints). */
static int store_create(struct wf_cni_ipam *ipam)
{
	struct wf_cni_ipam nw;
	int n = old_walk(ipam, NULL, NULL);
	if (n < 0)
		return n;
	ipam->fd = -1;
	ipam->gen = 0;
	ipam->flags = 0;
	memset(ipam->hint, 0, sizeof(ipam->hint));
	/* an old file may become a head, an address and a few continuations */
	int e = store_new(ipam, size_for(4 * (uint64_t)n + 8), &nw);
	if (e < 0)
		return e;
	if (n > 0) {
		nw.flags |= F_CLEANUP;
		if ((e = old_walk(ipam, convert_one, &nw)) >= 0)
			e = old_walk(ipam, convert_rec, &nw);
		if (e < 0) {
			close(nw.fd);
			unlinkat(ipam->dirfd, STORE_TMP, 0);
			return e;
		}
	}
	return store_install(ipam, &nw);
}

int wf_cni_store_open(struct wf_cni_ipam *ipam)
{
	ipam->fd = openat(ipam->dirfd, STORE_NAME, O_RDWR | O_CLOEXEC);
	ipam->dirty = false;
	int e;
	if (ipam->fd == -1) {
		if (errno != ENOENT)
			return -errno;
		e = store_create(ipam);
	} else {
		e = hdr_read(ipam);
		if (e == -EBADMSG)
			e = rebuild(ipam, 0);
	}
	if (e == 0 && (ipam->flags & F_CLEANUP))
		e = cleanup_old(ipam);
	return e;
}

/* --- listing, for operators (weft-ipam list DIR) --- */

static int list_cb(struct wf_cni_ipam *ipam, const struct wf_cni_store_att *att, void *arg)
{
	(void)ipam;
	char buf[WF_IP_STRLEN];
	FILE *out = arg;
	for (unsigned i = 0; i < att->n_ips; i++)
		fprintf(out, "%s %s %s\n", wf_ip_format(&att->ips[i].ip, buf), att->id,
			att->ifname);
	if (!att->n_ips)
		fprintf(out, "- %s %s\n", att->id, att->ifname);
	return 0;
}

int wf_cni_ipam_list(const char *path, FILE *out)
{
	char dir[4096];
	struct wf_cni_ipam ipam;
	struct stat st;
	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	if (stat(path, &st) == -1)
		return -errno; /* no store there: nothing is created */
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	strcpy(dir, path);
	size_t l = strlen(dir);
	while (l > 1 && dir[l - 1] == '/')
		dir[--l] = 0;
	char *slash = strrchr(dir, '/');
	const char *parent = ".", *network = dir;
	if (slash) {
		*slash = 0;
		parent = slash == dir ? "/" : dir;
		network = slash + 1;
	}
	int e = wf_cni_ipam_open(&ipam, parent, network);
	if (e < 0)
		return e;
	e = wf_cni_store_each(&ipam, list_cb, out);
	wf_cni_ipam_close(&ipam);
	return e < 0 ? e : 0;
}
