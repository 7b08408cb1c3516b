/* Persistent hash map: a CHAMP trie (Steindorfer & Vinju, "Optimizing Hash-Array Mapped Tries
 * for Fast and Lean Immutable JVM Collections", OOPSLA 2015). Each node has two 32-bit bitmaps:
 * datamap marks slots holding an entry inline, nodemap marks slots holding a child node;
 * entries are stored first, children after them. 5 hash bits per level; below 64 bits of
 * hash, equal hashes go to a collision node searched linearly.
 *
 * Canonical form (kept by _del): a non-root node never holds just one entry and no child (such
 * an entry is pulled up into its parent), and no node is empty except a NULL root. */
#include "k8s/store-map.h"

#include <errno.h>
#include <string.h>

#include "lib/alloc.h"

#define BITS 5
#define FANOUT (1u << BITS)
#define MASK (FANOUT - 1)

struct entry {
	uint64_t hash;
	const void *key;
	size_t keylen;
	void *value;
};

struct wf_store_map_node {
	uint32_t refcnt; /* atomic: versions are released on reader threads */
	uint32_t datamap;
	uint32_t nodemap;
	uint16_t ndata;
	uint16_t nnode;
	uint64_t edit;	  /* edit id of the writer that created it: private to that edit */
	struct entry e[]; /* ndata entries, then nnode child pointers */
};

static inline struct wf_store_map_node **children(const struct wf_store_map_node *n)
{
	return (struct wf_store_map_node **)(n->e + n->ndata);
}

static inline bool is_collision(unsigned shift)
{
	return shift >= 64;
}

static inline uint32_t bitpos(uint64_t hash, unsigned shift)
{
	return 1u << ((hash >> shift) & MASK);
}

static inline unsigned index_of(uint32_t map, uint32_t bit)
{
	return (unsigned)__builtin_popcount(map & (bit - 1));
}

static inline bool entry_is(const struct entry *e, uint64_t hash, const void *key, size_t keylen)
{
	return e->hash == hash && e->keylen == keylen && memcmp(e->key, key, keylen) == 0;
}

static struct wf_store_map_node *node_alloc(uint64_t edit, unsigned ndata, unsigned nnode)
{
	struct wf_store_map_node *n = wf_malloc(sizeof(*n) + ndata * sizeof(struct entry) +
						nnode * sizeof(struct wf_store_map_node *));
	if (!n)
		return NULL;
	n->refcnt = 1;
	n->datamap = 0;
	n->nodemap = 0;
	n->ndata = (uint16_t)ndata;
	n->nnode = (uint16_t)nnode;
	n->edit = edit;
	return n;
}

static void node_ref(struct wf_store_map_node *n)
{
	__atomic_add_fetch(&n->refcnt, 1, __ATOMIC_RELAXED);
}

static void node_unref(struct wf_store_map_node *n, const struct wf_store_map_ops *ops)
{
	if (!n || __atomic_sub_fetch(&n->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (unsigned i = 0; i < n->ndata; i++)
		ops->unref(n->e[i].value);
	struct wf_store_map_node **c = children(n);
	for (unsigned i = 0; i < n->nnode; i++)
		node_unref(c[i], ops);
	wf_free(n);
}

/* The node n is being replaced in the working tree by a node that took over its contents.
 * If n is private to this edit, the new node steals n's references and n's memory goes;
 * otherwise n stays in older versions, so the new node takes references of its own (except
 * for the slots the caller says it did not carry over) and the working tree's reference on n
 * is dropped. */
static void node_retire(struct wf_store_map_node *n, uint64_t edit,
			const struct wf_store_map_ops *ops, int skip_entry, int skip_child)
{
	if (n->edit == edit) {
		wf_free(n);
		return;
	}
	for (unsigned i = 0; i < n->ndata; i++)
		if ((int)i != skip_entry)
			ops->ref(n->e[i].value);
	struct wf_store_map_node **c = children(n);
	for (unsigned i = 0; i < n->nnode; i++)
		if ((int)i != skip_child)
			node_ref(c[i]);
	node_unref(n, ops);
}

void wf_store_map_copy(struct wf_store_map *dst, const struct wf_store_map *src)
{
	if (src->root)
		node_ref(src->root);
	dst->root = src->root;
	dst->count = src->count;
}

void wf_store_map_done(struct wf_store_map *m, const struct wf_store_map_ops *ops)
{
	node_unref(m->root, ops);
	m->root = NULL;
	m->count = 0;
}

void *wf_store_map_get(const struct wf_store_map *m, uint64_t hash, const void *key, size_t keylen)
{
	const struct wf_store_map_node *n = m->root;
	for (unsigned shift = 0; n; shift += BITS) {
		if (is_collision(shift)) {
			for (unsigned i = 0; i < n->ndata; i++)
				if (entry_is(&n->e[i], hash, key, keylen))
					return n->e[i].value;
			return NULL;
		}
		uint32_t bit = bitpos(hash, shift);
		if (n->datamap & bit) {
			const struct entry *e = &n->e[index_of(n->datamap, bit)];
			return entry_is(e, hash, key, keylen) ? e->value : NULL;
		}
		if (!(n->nodemap & bit))
			return NULL;
		n = children(n)[index_of(n->nodemap, bit)];
	}
	return NULL;
}

/* A private copy of n with the same shape; n is retired. */
static int node_make_editable(struct wf_store_map_node **slot, uint64_t edit,
			      const struct wf_store_map_ops *ops)
{
	struct wf_store_map_node *n = *slot;
	if (n->edit == edit)
		return 0;
	struct wf_store_map_node *c = node_alloc(edit, n->ndata, n->nnode);
	if (!c)
		return -ENOMEM;
	c->datamap = n->datamap;
	c->nodemap = n->nodemap;
	memcpy(c->e, n->e,
	       n->ndata * sizeof(struct entry) + n->nnode * sizeof(struct wf_store_map_node *));
	node_retire(n, edit, ops, -1, -1);
	*slot = c;
	return 0;
}

static void node_of_two_free(struct wf_store_map_node *n)
{
	/* Frees the memory of a chain built by node_of_two without touching references. */
	while (n) {
		struct wf_store_map_node *next = n->nnode ? children(n)[0] : NULL;
		wf_free(n);
		n = next;
	}
}

/* A new subtree at shift holding two entries with different keys (references taken over). */
static struct wf_store_map_node *node_of_two(uint64_t edit, unsigned shift, const struct entry *a,
					     const struct entry *b)
{
	struct wf_store_map_node *n;
	if (is_collision(shift)) {
		n = node_alloc(edit, 2, 0);
		if (!n)
			return NULL;
		n->e[0] = *a;
		n->e[1] = *b;
		return n;
	}
	uint32_t ba = bitpos(a->hash, shift), bb = bitpos(b->hash, shift);
	if (ba == bb) {
		struct wf_store_map_node *child = node_of_two(edit, shift + BITS, a, b);
		if (!child)
			return NULL;
		n = node_alloc(edit, 0, 1);
		if (!n) {
			node_of_two_free(child);
			return NULL;
		}
		n->nodemap = ba;
		children(n)[0] = child;
		return n;
	}
	n = node_alloc(edit, 2, 0);
	if (!n)
		return NULL;
	n->datamap = ba | bb;
	n->e[ba < bb ? 0 : 1] = *a;
	n->e[ba < bb ? 1 : 0] = *b;
	return n;
}

/* Inserts *ne below *slot (non-NULL). On replacement, the old value goes to *ret_old. */
static int node_put(struct wf_store_map_node **slot, const struct wf_store_map_ops *ops,
		    uint64_t edit, unsigned shift, const struct entry *ne, void **ret_old)
{
	struct wf_store_map_node *n = *slot, *c;
	int r;

	if (is_collision(shift)) {
		for (unsigned i = 0; i < n->ndata; i++) {
			if (!entry_is(&n->e[i], ne->hash, ne->key, ne->keylen))
				continue;
			r = node_make_editable(slot, edit, ops);
			if (r < 0)
				return r;
			n = *slot;
			*ret_old = n->e[i].value;
			n->e[i] = *ne;
			return 0;
		}
		c = node_alloc(edit, n->ndata + 1u, 0);
		if (!c)
			return -ENOMEM;
		memcpy(c->e, n->e, n->ndata * sizeof(struct entry));
		c->e[n->ndata] = *ne;
		node_retire(n, edit, ops, -1, -1);
		*slot = c;
		return 0;
	}

	uint32_t bit = bitpos(ne->hash, shift);
	if (n->datamap & bit) {
		unsigned i = index_of(n->datamap, bit);
		if (entry_is(&n->e[i], ne->hash, ne->key, ne->keylen)) {
			r = node_make_editable(slot, edit, ops);
			if (r < 0)
				return r;
			n = *slot;
			*ret_old = n->e[i].value;
			n->e[i] = *ne;
			return 0;
		}
		/* Two keys share this slot: push both one level down. */
		struct entry moved = n->e[i];
		struct wf_store_map_node *sub = node_of_two(edit, shift + BITS, &moved, ne);
		if (!sub)
			return -ENOMEM;
		c = node_alloc(edit, n->ndata - 1u, n->nnode + 1u);
		if (!c) {
			node_of_two_free(sub);
			return -ENOMEM;
		}
		c->datamap = n->datamap & ~bit;
		c->nodemap = n->nodemap | bit;
		memcpy(c->e, n->e, i * sizeof(struct entry));
		memcpy(c->e + i, n->e + i + 1, (n->ndata - i - 1u) * sizeof(struct entry));
		unsigned j = index_of(n->nodemap, bit);
		struct wf_store_map_node **oc = children(n), **cc = children(c);
		memcpy(cc, oc, j * sizeof(*cc));
		cc[j] = sub;
		memcpy(cc + j + 1, oc + j, (n->nnode - j) * sizeof(*cc));
		/* The moved entry now lives in sub: it keeps n's reference if n is private, else
		 * it needs one of its own, which node_retire takes (skip nothing). */
		node_retire(n, edit, ops, -1, -1);
		*slot = c;
		return 0;
	}
	if (n->nodemap & bit) {
		r = node_make_editable(slot, edit, ops);
		if (r < 0)
			return r;
		n = *slot;
		return node_put(&children(n)[index_of(n->nodemap, bit)], ops, edit, shift + BITS,
				ne, ret_old);
	}
	unsigned i = index_of(n->datamap, bit);
	c = node_alloc(edit, n->ndata + 1u, n->nnode);
	if (!c)
		return -ENOMEM;
	c->datamap = n->datamap | bit;
	c->nodemap = n->nodemap;
	memcpy(c->e, n->e, i * sizeof(struct entry));
	c->e[i] = *ne;
	memcpy(c->e + i + 1, n->e + i,
	       (n->ndata - i) * sizeof(struct entry) +
		       n->nnode * sizeof(struct wf_store_map_node *));
	node_retire(n, edit, ops, -1, -1);
	*slot = c;
	return 0;
}

int wf_store_map_put(struct wf_store_map *m, const struct wf_store_map_ops *ops, uint64_t edit,
		     uint64_t hash, const void *key, size_t keylen, void *value, void **ret_old)
{
	struct entry ne = {.hash = hash, .key = key, .keylen = keylen, .value = value};
	void *old = NULL;

	if (!m->root) {
		struct wf_store_map_node *n = node_alloc(edit, 1, 0);
		if (!n)
			return -ENOMEM;
		n->datamap = bitpos(hash, 0);
		n->e[0] = ne;
		m->root = n;
		m->count = 1;
		if (ret_old)
			*ret_old = NULL;
		return 0;
	}
	int r = node_put(&m->root, ops, edit, 0, &ne, &old);
	if (r < 0)
		return r;
	if (!old)
		m->count++;
	if (ret_old)
		*ret_old = old;
	else if (old)
		ops->unref(old);
	return 0;
}

/* Removes the entry below *slot. On success *slot may become a node that breaks the canonical
 * form (one entry, no child, or empty); the parent repairs that. */
static int node_del(struct wf_store_map_node **slot, const struct wf_store_map_ops *ops,
		    uint64_t edit, unsigned shift, uint64_t hash, const void *key, size_t keylen,
		    void **ret_old)
{
	struct wf_store_map_node *n = *slot, *c;
	int r;

	if (is_collision(shift)) {
		for (unsigned i = 0; i < n->ndata; i++) {
			if (!entry_is(&n->e[i], hash, key, keylen))
				continue;
			c = node_alloc(edit, n->ndata - 1u, 0);
			if (!c)
				return -ENOMEM;
			memcpy(c->e, n->e, i * sizeof(struct entry));
			memcpy(c->e + i, n->e + i + 1, (n->ndata - i - 1u) * sizeof(struct entry));
			/* A shared n gives the removed value a reference for the caller in
			 * node_retire; a private n hands over its own. */
			*ret_old = n->e[i].value;
			node_retire(n, edit, ops, -1, -1);
			*slot = c;
			return 0;
		}
		return -ENOENT;
	}

	uint32_t bit = bitpos(hash, shift);
	if (n->datamap & bit) {
		unsigned i = index_of(n->datamap, bit);
		if (!entry_is(&n->e[i], hash, key, keylen))
			return -ENOENT;
		c = node_alloc(edit, n->ndata - 1u, n->nnode);
		if (!c)
			return -ENOMEM;
		c->datamap = n->datamap & ~bit;
		c->nodemap = n->nodemap;
		memcpy(c->e, n->e, i * sizeof(struct entry));
		memcpy(c->e + i, n->e + i + 1,
		       (n->ndata - i - 1u) * sizeof(struct entry) +
			       n->nnode * sizeof(struct wf_store_map_node *));
		/* The caller gets a reference: n's own if n is private, else the one node_retire
		 * takes (n keeps its reference for the versions that still hold it). */
		*ret_old = n->e[i].value;
		node_retire(n, edit, ops, -1, -1);
		*slot = c;
		return 0;
	}
	if (!(n->nodemap & bit))
		return -ENOENT;

	unsigned j = index_of(n->nodemap, bit);
	struct wf_store_map_node *child;
	r = node_make_editable(slot, edit, ops);
	if (r < 0)
		return r;
	n = *slot;
	struct wf_store_map_node **cs = &children(n)[j];
	r = node_del(cs, ops, edit, shift + BITS, hash, key, keylen, ret_old);
	if (r < 0)
		return r;
	child = *cs;
	if (child->nnode > 0 || child->ndata > 1)
		return 0;
	/* Canonical form: pull a lone entry up into this node, drop an empty child. The child
	 * was just rebuilt under this edit, so it is private and its memory can go. */
	if (child->ndata == 0) {
		c = node_alloc(edit, n->ndata, n->nnode - 1u);
		if (!c)
			return 0; /* still correct, merely not compact */
		c->datamap = n->datamap;
		c->nodemap = n->nodemap & ~bit;
		memcpy(c->e, n->e, n->ndata * sizeof(struct entry));
		memcpy(children(c), children(n), j * sizeof(struct wf_store_map_node *));
		memcpy(children(c) + j, children(n) + j + 1,
		       (n->nnode - j - 1u) * sizeof(struct wf_store_map_node *));
		wf_free(child);
		wf_free(n); /* private: made editable above */
		*slot = c;
		return 0;
	}
	c = node_alloc(edit, n->ndata + 1u, n->nnode - 1u);
	if (!c)
		return 0;
	unsigned i = index_of(n->datamap, bit);
	c->datamap = n->datamap | bit;
	c->nodemap = n->nodemap & ~bit;
	memcpy(c->e, n->e, i * sizeof(struct entry));
	c->e[i] = child->e[0];
	memcpy(c->e + i + 1, n->e + i, (n->ndata - i) * sizeof(struct entry));
	memcpy(children(c), children(n), j * sizeof(struct wf_store_map_node *));
	memcpy(children(c) + j, children(n) + j + 1,
	       (n->nnode - j - 1u) * sizeof(struct wf_store_map_node *));
	wf_free(child);
	wf_free(n);
	*slot = c;
	return 0;
}

int wf_store_map_del(struct wf_store_map *m, const struct wf_store_map_ops *ops, uint64_t edit,
		     uint64_t hash, const void *key, size_t keylen, void **ret_old)
{
	void *old = NULL;

	/* A miss must copy nothing (and so cannot fail with -ENOMEM). */
	if (!wf_store_map_get(m, hash, key, keylen))
		return -ENOENT;
	int r = node_del(&m->root, ops, edit, 0, hash, key, keylen, &old);
	if (r < 0)
		return r;
	m->count--;
	if (m->root->ndata == 0 && m->root->nnode == 0) {
		wf_free(m->root); /* rebuilt under this edit: private */
		m->root = NULL;
	}
	if (ret_old)
		*ret_old = old;
	else
		ops->unref(old);
	return 0;
}

void wf_store_map_iter_init(struct wf_store_map_iter *it, const struct wf_store_map *m)
{
	it->depth = m->root ? 1 : 0;
	it->node[0] = m->root;
	it->pos[0] = 0;
}

bool wf_store_map_next(struct wf_store_map_iter *it, void **ret_value)
{
	while (it->depth > 0) {
		const struct wf_store_map_node *n = it->node[it->depth - 1];
		uint16_t *pos = &it->pos[it->depth - 1];
		if (*pos < n->ndata) {
			*ret_value = n->e[(*pos)++].value;
			return true;
		}
		if (*pos < n->ndata + n->nnode) {
			const struct wf_store_map_node *child = children(n)[*pos - n->ndata];
			(*pos)++;
			it->node[it->depth] = child;
			it->pos[it->depth] = 0;
			it->depth++;
			continue;
		}
		it->depth--;
	}
	return false;
}

static size_t node_count(const struct wf_store_map_node *n)
{
	size_t total = 1;
	for (unsigned i = 0; i < n->nnode; i++)
		total += node_count(children(n)[i]);
	return total;
}

size_t wf_store_map_node_count(const struct wf_store_map *m)
{
	return m->root ? node_count(m->root) : 0;
}
