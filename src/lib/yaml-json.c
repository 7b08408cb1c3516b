/* YAML (a fast path for the block-style subset manifests use, libyaml events for the rest) and
 * JSON (a fast path, jansson for the rest) to jansson values, with caps and positions. */
#include "lib/yaml-json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/alloc.h"
#include "lib/error.h"

#define DEFAULT_MAX_FILE (64u << 20)
#define DEFAULT_MAX_DOC (10u << 20)
#define DEFAULT_MAX_DEPTH 64
#define ALIAS_ABS_MAX 1000000u
#define ALIAS_RATIO 16u
#define ALIAS_SLACK 4096u

/* ---- the scratch arena for jansson trees (limits->scratch_arena) ----
 *
 * jansson allocates every node, key and string with its own malloc and frees them one by one
 * on json_decref. For a parse whose tree dies with the document that is a large share of the
 * cost, so in scratch mode the tree is bump-allocated from an arena that is reset after each
 * document instead of being decref'd.
 *
 * json_set_alloc_funcs() is process-wide (libnftables uses jansson in the same process), so
 * the functions installed (once) fall back to malloc/free unless the calling thread is
 * building a tree inside wf_yj_load(): the arena is thread-local and "building" is set only
 * while the text is being converted (not during the caller's callback, so values the
 * callback creates are ordinary ones). A free() of a pointer inside one of the thread's
 * active arenas is a no-op; any other pointer goes to free(), so a value allocated outside
 * and released inside (or the reverse, while the arena is alive) still works. A value built
 * in the arena must not outlive the document: that is the contract of scratch_arena. */

#define SCRATCH_FIRST_CHUNK (64u << 10)
#define SCRATCH_MAX_CHUNK (4u << 20)

struct yj_chunk {
	struct yj_chunk *next;
	size_t size; /* bytes in data */
	size_t used;
	_Alignas(16) char data[];
};

struct yj_arena {
	struct yj_chunk *chunks; /* in use, newest first */
	struct yj_chunk *spare;	 /* kept by a reset for reuse */
	size_t next_size;
	struct yj_arena *prev; /* the thread's enclosing load, if any (a nested load) */
	bool building;
	bool oom; /* an allocation failed: jansson's error is "out of memory" whatever it says */
};

static _Thread_local struct yj_arena *tl_arena;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok; /* our functions are installed (nobody else's were) */

static bool scratch_owns(const struct yj_arena *a, const void *p)
{
	for (; a; a = a->prev)
		for (const struct yj_chunk *c = a->chunks; c; c = c->next)
			if ((const char *)p >= c->data && (const char *)p < c->data + c->size)
				return true;
	return false;
}

static void *scratch_alloc(struct yj_arena *a, size_t size)
{
	struct yj_chunk *c = a->chunks;

	size = (size + 15) & ~(size_t)15;
	if (c && c->size - c->used >= size) {
		void *p = c->data + c->used;
		c->used += size;
		return p;
	}
	/* A spare chunk that fits, else a new one (doubling up to SCRATCH_MAX_CHUNK). */
	struct yj_chunk **sp = &a->spare;
	while (*sp && (*sp)->size < size)
		sp = &(*sp)->next;
	c = *sp;
	if (c) {
		*sp = c->next;
	} else {
		size_t want = a->next_size > size ? a->next_size : size;
		c = wf_malloc(sizeof(*c) + want);
		if (!c) {
			a->oom = true;
			return NULL;
		}
		c->size = want;
		if (a->next_size < SCRATCH_MAX_CHUNK)
			a->next_size *= 2;
	}
	c->used = size;
	c->next = a->chunks;
	a->chunks = c;
	return c->data;
}

static void *yj_malloc(size_t size)
{
	struct yj_arena *a = tl_arena;

	if (a && a->building)
		return scratch_alloc(a, size);
	return malloc(size);
}

static void yj_free(void *p)
{
	if (!p || scratch_owns(tl_arena, p))
		return;
	free(p);
}

static void scratch_install(void)
{
	json_malloc_t m;
	json_free_t f;

	/* Only over jansson's defaults: someone else's allocator must keep working. */
	json_get_alloc_funcs(&m, &f);
	if (m != malloc || f != free)
		return;
	json_set_alloc_funcs(yj_malloc, yj_free);
	scratch_ok = true;
}

bool wf_yj_scratch_available(void)
{
	json_malloc_t m;
	json_free_t f;

	pthread_once(&scratch_once, scratch_install);
	json_get_alloc_funcs(&m, &f);
	return scratch_ok && m == yj_malloc && f == yj_free;
}

/* Makes a the thread's current arena (not building yet). Returns false when scratch mode is
 * unavailable (another allocator is installed): the load then uses plain jansson. */
static bool scratch_begin(struct yj_arena *a)
{
	json_malloc_t m;
	json_free_t f;

	pthread_once(&scratch_once, scratch_install);
	if (!scratch_ok)
		return false;
	/* Someone may have replaced ours since: their allocator would never see the reset. */
	json_get_alloc_funcs(&m, &f);
	if (m != yj_malloc || f != yj_free)
		return false;
	*a = (struct yj_arena){.next_size = SCRATCH_FIRST_CHUNK, .prev = tl_arena};
	tl_arena = a;
	return true;
}

/* Everything allocated so far is dead: keep the chunks for the next document. */
static void scratch_reset(struct yj_arena *a)
{
	while (a->chunks) {
		struct yj_chunk *c = a->chunks;
		a->chunks = c->next;
		c->next = a->spare;
		a->spare = c;
	}
}

static void scratch_end(struct yj_arena *a)
{
	scratch_reset(a);
	while (a->spare) {
		struct yj_chunk *c = a->spare;
		a->spare = c->next;
		wf_free(c);
	}
	tl_arena = a->prev;
}

struct anchor {
	char *name;
	json_t *node;
	size_t size; /* nodes in the subtree, aliases expanded */
};

struct yconv {
	yaml_parser_t parser;
	const char *buf;
	size_t len;
	const char *file;
	struct wf_diag *diag;
	size_t max_doc;
	unsigned max_depth;
	size_t max_alias; /* 0: the ratio rule */
	size_t nodes;	  /* nodes written out in the text */
	size_t alias_nodes;
	size_t doc_start; /* byte offset of the current document */
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	const char *items_key;
	bool in_items; /* converting the items sequence: record its children */
	bool has_items;
	unsigned *item_lines, *item_columns;
	size_t n_items, cap_items;
	struct yj_arena *arena; /* scratch mode: trees live here and are never decref'd */
};

/* Drops a finished tree: a decref, or in scratch mode an arena reset. */
static void tree_drop(struct yconv *c, json_t *doc)
{
	if (c->arena)
		scratch_reset(c->arena);
	else
		json_decref(doc);
}

static void building(struct yconv *c, bool on)
{
	if (c->arena)
		c->arena->building = on;
}

static int record_item(struct yconv *c, yaml_mark_t m)
{
	if (c->n_items == c->cap_items) {
		size_t ncap = c->cap_items ? c->cap_items * 2 : 64;
		unsigned *l = wf_reallocarray(c->item_lines, ncap, sizeof(*l));
		if (!l)
			return -ENOMEM;
		c->item_lines = l;
		unsigned *col = wf_reallocarray(c->item_columns, ncap, sizeof(*col));
		if (!col)
			return -ENOMEM;
		c->item_columns = col;
		c->cap_items = ncap;
	}
	c->item_lines[c->n_items] = (unsigned)m.line + 1;
	c->item_columns[c->n_items++] = (unsigned)m.column + 1;
	return 0;
}

/* Line and column (1-based, columns in characters as libyaml and jansson count them) of a byte
 * offset; used where the parser reports only an offset. */
static void offset_to_pos(const char *buf, size_t len, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static void anchors_clear(struct yconv *c)
{
	for (size_t i = 0; i < c->n_anchors; i++) {
		wf_free(c->anchors[i].name);
		if (!c->arena)
			json_decref(c->anchors[i].node);
	}
	c->n_anchors = 0;
}

static int err_at(struct yconv *c, yaml_mark_t m, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int err_at(struct yconv *c, yaml_mark_t m, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wf_diag_setv(c->diag, c->file, (unsigned)m.line + 1, (unsigned)m.column + 1, NULL, fmt, ap);
	va_end(ap);
	return code;
}

static int parser_error(struct yconv *c)
{
	yaml_parser_t *p = &c->parser;
	unsigned line, col;

	if (p->error == YAML_MEMORY_ERROR) {
		wf_diag_set(c->diag, c->file, 0, 0, NULL, "out of memory");
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) {
		/* Invalid UTF-8 and control characters: libyaml gives a byte offset. */
		offset_to_pos(c->buf, c->len, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			wf_diag_set(c->diag, c->file, line, col, NULL, "%s (byte 0x%02x)",
				    p->problem ? p->problem : "invalid input",
				    (unsigned)p->problem_value & 0xff);
		else
			wf_diag_set(c->diag, c->file, line, col, NULL, "%s",
				    p->problem ? p->problem : "invalid input");
		return -WF_E_PARSE;
	}
	if (p->context)
		wf_diag_set(c->diag, c->file, (unsigned)p->problem_mark.line + 1,
			    (unsigned)p->problem_mark.column + 1, NULL, "%s %s", p->context,
			    p->problem ? p->problem : "");
	else
		wf_diag_set(c->diag, c->file, (unsigned)p->problem_mark.line + 1,
			    (unsigned)p->problem_mark.column + 1, NULL, "%s",
			    p->problem ? p->problem : "invalid YAML");
	return -WF_E_PARSE;
}

static int next_event(struct yconv *c, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&c->parser, ev))
		return parser_error(c);
	if (ev->end_mark.index > c->doc_start && ev->end_mark.index - c->doc_start > c->max_doc) {
		int r = err_at(c, ev->start_mark, -WF_E_TOO_BIG,
			       "document is larger than the %zu byte limit", c->max_doc);
		yaml_event_delete(ev);
		return r;
	}
	return 0;
}

static bool streq_any(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Integer per YAML 1.1 (go-yaml v2): [-+]? decimal, 0x hex, 0b binary, 0 octal, '_' ignored.
 * Returns false if s is not an integer; *ovf set when it does not fit int64. */
static bool resolve_int(const char *s, long long *ret, bool *ovf)
{
	char digits[80];
	size_t n = 0;
	const char *p = s;
	bool neg = false;
	int base = 10;

	*ovf = false;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!*p)
		return false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
		base = 2;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
		p += 1;
	}
	if (!*p)
		return false;
	for (; *p; p++) {
		int d;
		if (*p == '_')
			continue;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return false;
		if (d >= base)
			return false;
		if (n + 1 >= sizeof(digits)) {
			*ovf = true;
			continue;
		}
		digits[n++] = *p;
	}
	if (n == 0)
		return false;
	digits[n] = '\0';
	errno = 0;
	unsigned long long v = strtoull(digits, NULL, base);
	if (errno == ERANGE || *ovf || v > (unsigned long long)LLONG_MAX + (neg ? 1 : 0)) {
		*ovf = true;
		return true;
	}
	*ret = neg ? (long long)(0 - v) : (long long)v;
	return true;
}

static bool resolve_float(const char *s, double *ret)
{
	static const char *const inf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
	static const char *const ninf[] = {"-.inf", "-.Inf", "-.INF", NULL};
	static const char *const nan_[] = {".nan", ".NaN", ".NAN", NULL};
	char tmp[128];
	size_t n = 0;
	bool digit = false;

	if (s[0] == '.' || s[0] == '+' || s[0] == '-') {
		if (streq_any(s, inf)) {
			*ret = INFINITY;
			return true;
		}
		if (streq_any(s, ninf)) {
			*ret = -INFINITY;
			return true;
		}
		if (streq_any(s, nan_)) {
			*ret = NAN;
			return true;
		}
	}
	unsigned dots = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '_')
			continue;
		if (*p == '.' && ++dots > 1)
			return false; /* 10.0.0.1 */
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
		      *p == '-' || *p == '+'))
			return false;
		if (*p >= '0' && *p <= '9')
			digit = true;
		if (n + 1 >= sizeof(tmp))
			return false;
		tmp[n++] = *p;
	}
	tmp[n] = '\0';
	if (!digit)
		return false;
	char *end;
	errno = 0;
	*ret = strtod(tmp, &end);
	return *end == '\0';
}

/* YAML 1.1 resolution of a plain scalar as go-yaml v2 does it (and so kubectl). */
static json_t *resolve_plain(const char *s, size_t len)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
					    "True", "TRUE", "on",  "On",  "ON",	 NULL};
	static const char *const falses[] = {"n",     "N",     "no",  "No",  "NO",  "false",
					     "False", "FALSE", "off", "Off", "OFF", NULL};
	long long i;
	double d;
	bool ovf;

	/* Fast path: most scalars in a manifest are names, which start with a letter that no
	 * null, boolean or number starts with. */
	switch (s[0]) {
	case '\0':
	case '~':
	case 'n':
	case 'N':
	case 'y':
	case 'Y':
	case 't':
	case 'T':
	case 'f':
	case 'F':
	case 'o':
	case 'O':
	case '.':
	case '-':
	case '+':
	case '0' ... '9':
		break;
	default:
		return json_stringn_nocheck(s, len);
	}
	bool numeric = (s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+' || s[0] == '.';
	if (!numeric) {
		/* No null or boolean keyword starts like a number, or is longer than "FALSE". */
		if (len > 5)
			return json_stringn_nocheck(s, len);
		if (streq_any(s, nulls))
			return json_null();
		if (streq_any(s, trues))
			return json_true();
		if (streq_any(s, falses))
			return json_false();
	} else {
		if (resolve_int(s, &i, &ovf)) {
			if (!ovf)
				return json_integer(i);
			if (resolve_float(s, &d) && isfinite(d))
				return json_real(d);
			return json_stringn_nocheck(s, len);
		}
		/* JSON has no infinity or NaN: those stay text. */
		if (resolve_float(s, &d) && isfinite(d))
			return json_real(d);
	}
	return json_stringn_nocheck(s, len);
}

static json_t *convert_scalar(struct yconv *c, const yaml_event_t *ev, int *err)
{
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t n = ev->data.scalar.length;
	json_t *j;

	/* Strings go to jansson unchecked: libyaml's reader has validated the UTF-8 of the
	 * whole input and its scanner refuses escapes to surrogates or beyond U+10FFFF; NUL is
	 * refused here. */
	*err = 0;
	if (memchr(v, '\0', n)) {
		*err = err_at(c, ev->start_mark, -WF_E_PARSE, "NUL character in a scalar");
		return NULL;
	}
	if (tag && strcmp(tag, "!") != 0) {
		if (strcmp(tag, YAML_STR_TAG) == 0)
			j = json_stringn_nocheck(v, n);
		else if (strcmp(tag, YAML_INT_TAG) == 0 || strcmp(tag, YAML_FLOAT_TAG) == 0 ||
			 strcmp(tag, YAML_BOOL_TAG) == 0 || strcmp(tag, YAML_NULL_TAG) == 0) {
			j = resolve_plain(v, n);
			if (j && json_is_string(j)) {
				json_decref(j);
				*err = err_at(c, ev->start_mark, -WF_E_PARSE,
					      "cannot resolve \"%s\" as %s", v, tag);
				return NULL;
			}
		} else {
			j = json_stringn_nocheck(v, n); /* application tags: the text as written */
		}
	} else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag) {
		j = resolve_plain(v, n);
	} else {
		j = json_stringn_nocheck(v, n);
	}
	if (!j) {
		/* jansson refuses invalid UTF-8; libyaml has checked it already, so: memory */
		*err = err_at(c, ev->start_mark, -ENOMEM, "out of memory");
	}
	return j;
}

static int add_anchor(struct yconv *c, const char *name, json_t *node, size_t size)
{
	if (c->n_anchors == c->cap_anchors) {
		size_t ncap = c->cap_anchors ? c->cap_anchors * 2 : 8;
		struct anchor *na = wf_reallocarray(c->anchors, ncap, sizeof(*na));
		if (!na)
			return -ENOMEM;
		c->anchors = na;
		c->cap_anchors = ncap;
	}
	char *dup = wf_strdup(name);
	if (!dup)
		return -ENOMEM;
	/* A later anchor of the same name shadows an earlier one (YAML 1.1 7.1): search from
	 * the end. */
	c->anchors[c->n_anchors++] = (struct anchor){dup, json_incref(node), size};
	return 0;
}

static int convert_node(struct yconv *c, yaml_event_t *ev, unsigned depth, json_t **ret,
			size_t *ret_size);

static int apply_merge(struct yconv *c, json_t *obj, json_t *src, yaml_mark_t m)
{
	const char *k;
	json_t *v;

	if (json_is_array(src)) {
		size_t i;
		json_array_foreach(src, i, v)
		{
			int r = apply_merge(c, obj, v, m);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!json_is_object(src))
		return err_at(c, m, -WF_E_PARSE,
			      "merge key \"<<\" needs a mapping or a list of mappings");
	json_object_foreach(src, k, v)
	{
		/* Explicit keys win over merged ones (YAML merge key spec). */
		if (!json_object_get(obj, k) && json_object_set(obj, k, v) < 0)
			return err_at(c, m, -ENOMEM, "out of memory");
	}
	return 0;
}

static int convert_mapping(struct yconv *c, yaml_event_t *start, unsigned depth, json_t **ret,
			   size_t *ret_size)
{
	json_t *obj = json_object(), *merges = NULL;
	size_t size = 1;
	yaml_event_t kev, vev;
	int r;

	if (!obj)
		return err_at(c, start->start_mark, -ENOMEM, "out of memory");
	for (;;) {
		r = next_event(c, &kev);
		if (r < 0)
			goto fail;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			break;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			r = err_at(c, kev.start_mark, -WF_E_PARSE, "mapping keys must be scalars");
			yaml_event_delete(&kev);
			goto fail;
		}
		const char *key = (const char *)kev.data.scalar.value;
		bool merge =
			kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(key, "<<") == 0;
		if (strlen(key) != kev.data.scalar.length) {
			r = err_at(c, kev.start_mark, -WF_E_PARSE, "NUL character in a key");
			yaml_event_delete(&kev);
			goto fail;
		}
		r = next_event(c, &vev);
		if (r < 0) {
			yaml_event_delete(&kev);
			goto fail;
		}
		json_t *val;
		size_t vsize;
		yaml_mark_t vmark = vev.start_mark;
		bool items = depth == 1 && c->items_key && vev.type == YAML_SEQUENCE_START_EVENT &&
			     strcmp(key, c->items_key) == 0;
		if (items) {
			c->in_items = c->has_items = true;
			c->n_items = 0;
		}
		r = convert_node(c, &vev, depth + 1, &val, &vsize);
		if (items)
			c->in_items = false;
		if (r < 0) {
			yaml_event_delete(&kev);
			goto fail;
		}
		size += vsize;
		size_t before = json_object_size(obj);
		if (merge) {
			if (!merges)
				merges = json_array();
			r = merges ? json_array_append_new(merges, val) : (json_decref(val), -1);
		} else {
			r = json_object_setn_new_nocheck(obj, key, kev.data.scalar.length, val);
		}
		if (r < 0) {
			yaml_event_delete(&kev);
			r = err_at(c, vmark, -ENOMEM, "out of memory");
			goto fail;
		}
		/* One hash lookup per key: a set that did not grow the object replaced a key. */
		if (!merge && json_object_size(obj) == before) {
			r = err_at(c, kev.start_mark, -WF_E_PARSE, "duplicate key \"%s\"", key);
			yaml_event_delete(&kev);
			goto fail;
		}
		yaml_event_delete(&kev);
	}
	if (merges) {
		r = apply_merge(c, obj, merges, start->start_mark);
		if (r < 0)
			goto fail;
		json_decref(merges);
	}
	*ret = obj;
	*ret_size = size;
	return 0;
fail:
	json_decref(merges);
	json_decref(obj);
	return r;
}

static int convert_sequence(struct yconv *c, yaml_event_t *start, unsigned depth, json_t **ret,
			    size_t *ret_size)
{
	json_t *arr = json_array();
	size_t size = 1;
	yaml_event_t ev;
	bool items = c->in_items;
	int r;

	c->in_items = false; /* only the direct children */
	if (!arr)
		return err_at(c, start->start_mark, -ENOMEM, "out of memory");
	for (;;) {
		r = next_event(c, &ev);
		if (r < 0)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		json_t *val;
		size_t vsize;
		yaml_mark_t m = ev.start_mark;
		if (items && record_item(c, m) < 0) {
			yaml_event_delete(&ev);
			r = err_at(c, m, -ENOMEM, "out of memory");
			goto fail;
		}
		r = convert_node(c, &ev, depth + 1, &val, &vsize);
		if (r < 0)
			goto fail;
		size += vsize;
		if (json_array_append_new(arr, val) < 0) {
			r = err_at(c, m, -ENOMEM, "out of memory");
			goto fail;
		}
	}
	*ret = arr;
	*ret_size = size;
	return 0;
fail:
	json_decref(arr);
	return r;
}

/* Converts the node that starts with ev (consumed here: deleted on every path). */
static int convert_node(struct yconv *c, yaml_event_t *ev, unsigned depth, json_t **ret,
			size_t *ret_size)
{
	const char *anchor = NULL;
	json_t *j = NULL;
	size_t size = 1;
	int r = 0;

	if (depth > c->max_depth) {
		r = err_at(c, ev->start_mark, -WF_E_PARSE, "nesting deeper than %u levels",
			   c->max_depth);
		goto out;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		j = convert_scalar(c, ev, &r);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		r = convert_sequence(c, ev, depth, &j, &size);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		r = convert_mapping(c, ev, depth, &j, &size);
		break;
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		struct anchor *a = NULL;
		for (size_t i = c->n_anchors; i-- > 0;)
			if (strcmp(c->anchors[i].name, name) == 0) {
				a = &c->anchors[i];
				break;
			}
		if (!a) {
			r = err_at(c, ev->start_mark, -WF_E_PARSE, "unknown alias \"*%s\"", name);
			goto out;
		}
		/* Billion laughs: count every node an alias brings in, expanded. The tree
		 * shares the aliased value (jansson refcount), but consumers walk it whole. */
		c->alias_nodes += a->size;
		size_t cap = c->max_alias ? c->max_alias : ALIAS_RATIO * c->nodes + ALIAS_SLACK;
		if (!c->max_alias && cap > ALIAS_ABS_MAX)
			cap = ALIAS_ABS_MAX;
		if (c->alias_nodes > cap) {
			r = err_at(c, ev->start_mark, -WF_E_PARSE,
				   "aliases expand to more than %zu nodes", cap);
			goto out;
		}
		*ret = json_incref(a->node);
		*ret_size = a->size;
		yaml_event_delete(ev);
		return 0;
	}
	default:
		r = err_at(c, ev->start_mark, -WF_E_PARSE, "unexpected YAML event");
		goto out;
	}
	if (r < 0)
		goto out;
	c->nodes++;
	if (anchor) {
		r = add_anchor(c, anchor, j, size);
		if (r < 0) {
			r = err_at(c, ev->start_mark, r, "out of memory");
			json_decref(j);
			goto out;
		}
	}
	*ret = j;
	*ret_size = size;
out:
	yaml_event_delete(ev);
	return r;
}

/* skip: documents the fast path has handed to fn already (converted again, not handed over). */
static int load_yaml(struct yconv *c, wf_yj_doc_fn fn, void *userdata, unsigned skip)
{
	yaml_event_t ev;
	unsigned index = 0;
	int r;

	if (!yaml_parser_initialize(&c->parser)) {
		wf_diag_set(c->diag, c->file, 0, 0, NULL, "out of memory");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&c->parser, (const unsigned char *)c->buf, c->len);
	for (;;) {
		r = next_event(c, &ev);
		if (r < 0)
			goto out;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue; /* STREAM_START */
		}
		c->doc_start = ev.start_mark.index;
		yaml_event_delete(&ev);
		r = next_event(c, &ev);
		if (r < 0)
			goto out;
		struct wf_yj_docinfo info = {
			.index = index++,
			.line = (unsigned)ev.start_mark.line + 1,
			.column = (unsigned)ev.start_mark.column + 1,
			.offset = ev.start_mark.index,
		};
		json_t *doc;
		size_t size;
		c->has_items = false;
		building(c, true);
		r = convert_node(c, &ev, 1, &doc, &size);
		building(c, false);
		if (r < 0)
			goto out;
		anchors_clear(c);	/* anchors are per document */
		r = next_event(c, &ev); /* DOCUMENT_END */
		if (r < 0) {
			tree_drop(c, doc);
			goto out;
		}
		yaml_event_delete(&ev);
		if (c->has_items) {
			info.n_items = c->n_items;
			info.item_lines = c->item_lines;
			info.item_columns = c->item_columns;
		}
		if (!json_is_null(doc) && info.index >= skip)
			r = fn(userdata, doc, &info);
		tree_drop(c, doc);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	anchors_clear(c);
	wf_free(c->anchors);
	c->anchors = NULL;
	c->cap_anchors = 0;
	wf_free(c->item_lines);
	wf_free(c->item_columns);
	yaml_parser_delete(&c->parser);
	return r;
}

/* ---- YAML fast path ----
 *
 * libyaml's scanner and its malloc per event are most of the cost of loading a large YAML
 * stream. Kubernetes manifests use a small block-style subset of YAML: this parser reads that
 * subset in one pass over the buffer and builds the same jansson values the libyaml converter
 * builds (same scalar resolution, resolve_plain), with the same document positions and List
 * item positions. It accepts only printable ASCII and '\n' (anything else - a tab, CR, a
 * BOM, UTF-8 - is declined before it starts), `---` document separators, block mappings and
 * sequences (compact `- key: v`, sequences at their parent key's indent), one-line plain
 * scalars, one-line quoted scalars without escapes (no '\' in double quotes, no '' in single
 * quotes), `#` comments, empty values and the empty flow collections `{}` and `[]`. On anything
 * else (flow collections, anchors, aliases, tags, block scalars, multi-line scalars,
 * directives, `...`, complex keys, merge keys, duplicate keys, empty sequence items, depth near
 * the limit, a document near max_doc, any syntax error) it declines, and libyaml parses the
 * whole input again: documents the fast path handed over already are not handed over twice.
 * So values, diagnostics and positions are always libyaml's. */

enum {
	FY_BAIL = 0,
	FY_OK = 1
};

/* f->ccol, the column of the next content line, or one of these. */
#define FY_EOF (-1)
#define FY_DOC (-2) /* a "---" line */

struct fy {
	struct yconv *c;
	const char *p, *end;
	const char *bol; /* start of the current line */
	size_t line;	 /* 0-based, of p */
	long ccol;	 /* after fy_content(): column of p, FY_EOF or FY_DOC */
	char tmp[256];	 /* NUL-terminated copy of a plain scalar for resolve_plain */
};

static inline bool fy_blankz(const struct fy *f, const char *q)
{
	return q >= f->end || *q == ' ' || *q == '\n';
}

/* From the start of a line: skips blank and comment lines, stops at the first content
 * character and sets f->ccol. Returns FY_BAIL on a line libyaml would read as something the
 * fast path does not handle ("...", a directive, "---" followed by content). */
static int fy_content(struct fy *f)
{
	for (;;) {
		const char *q = f->p;
		while (q < f->end && *q == ' ')
			q++;
		if (q >= f->end) {
			f->p = q;
			f->ccol = FY_EOF;
			return FY_OK;
		}
		if (*q == '\n') {
			f->p = f->bol = q + 1;
			f->line++;
			continue;
		}
		if (*q == '#') {
			q = memchr(q, '\n', (size_t)(f->end - q));
			if (!q) {
				f->p = f->end;
				f->ccol = FY_EOF;
				return FY_OK;
			}
			f->p = f->bol = q + 1;
			f->line++;
			continue;
		}
		f->p = q;
		f->ccol = q - f->bol;
		if (f->ccol == 0 && f->end - q >= 3 &&
		    (memcmp(q, "---", 3) == 0 || memcmp(q, "...", 3) == 0)) {
			if (q[0] == '.' || !fy_blankz(f, q + 3))
				return FY_BAIL;
			f->ccol = FY_DOC;
		} else if (f->ccol == 0 && *q == '%') {
			return FY_BAIL;
		}
		return FY_OK;
	}
}

/* After a value: spaces, an optional comment (after a space), the end of the line; then on
 * to the next content line. */
static int fy_eol(struct fy *f)
{
	const char *q = f->p;

	while (q < f->end && *q == ' ')
		q++;
	if (q < f->end && *q == '#' && q > f->p)
		q = memchr(q, '\n', (size_t)(f->end - q));
	if (q && q < f->end && *q != '\n')
		return FY_BAIL;
	if (!q || q >= f->end) {
		f->p = f->end;
		f->ccol = FY_EOF;
		return FY_OK;
	}
	f->p = f->bol = q + 1;
	f->line++;
	return fy_content(f);
}

enum fy_tok {
	FY_PLAIN,
	FY_QUOTED
};

/* A one-line block scalar at f->p: its text in *s / *n; f->p moves past it. */
static int fy_token(struct fy *f, enum fy_tok *ret, const char **s, size_t *n)
{
	const char *q = f->p, *start;
	char ch = *q;

	switch (ch) {
	case '"':
	case '\'':
		start = ++q;
		for (;; q++) {
			if (q >= f->end || *q == '\n' || (ch == '"' && *q == '\\'))
				return FY_BAIL;
			if (*q == ch)
				break;
		}
		if (ch == '\'' && q + 1 < f->end && q[1] == '\'')
			return FY_BAIL; /* '' escape */
		*s = start;
		*n = (size_t)(q - start);
		f->p = q + 1;
		/* then a blank, or ':' + blank (a key); anything else: libyaml decides */
		if (!fy_blankz(f, f->p) && !(*f->p == ':' && fy_blankz(f, f->p + 1)))
			return FY_BAIL;
		*ret = FY_QUOTED;
		return FY_OK;
	case '-':
		if (fy_blankz(f, q + 1))
			return FY_BAIL; /* a sequence entry where the caller expects a scalar */
		break;
	case '?':
	case ':':
	case ',':
	case '[':
	case ']':
	case '{':
	case '}':
	case '#':
	case '&':
	case '*':
	case '!':
	case '|':
	case '>':
	case '%':
	case '@':
	case '`':
		return FY_BAIL;
	default:
		break;
	}
	/* Plain, on this line: up to ": ", " #" or the end of the line (libyaml's scanner in
	 * block context); trailing spaces are not part of it. */
	start = q;
	for (; q < f->end && *q != '\n'; q++) {
		if (*q == ':' && fy_blankz(f, q + 1))
			break;
		if (*q == ' ' && q + 1 < f->end && q[1] == '#')
			break;
	}
	f->p = q;
	while (q > start && q[-1] == ' ')
		q--;
	*s = start;
	*n = (size_t)(q - start);
	*ret = FY_PLAIN;
	return FY_OK;
}

/* A key token is followed by optional spaces and ':' + blank: moves past the ':'. */
static bool fy_colon(struct fy *f)
{
	const char *q = f->p;

	while (q < f->end && *q == ' ')
		q++;
	if (q < f->end && *q == ':' && fy_blankz(f, q + 1)) {
		f->p = q + 1;
		return true;
	}
	return false;
}

static int fy_scalar(struct fy *f, enum fy_tok t, const char *s, size_t n, json_t **ret)
{
	json_t *j;

	switch (t) {
	case FY_QUOTED:
		j = json_stringn_nocheck(s, n);
		break;
	default:
		if (n < sizeof(f->tmp)) {
			memcpy(f->tmp, s, n);
			f->tmp[n] = '\0';
			j = resolve_plain(f->tmp, n);
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
			/* resolve_plain: no keyword is this long, no number starts so */
			j = json_stringn_nocheck(s, n);
		} else {
			return FY_BAIL;
		}
	}
	if (!j)
		return -ENOMEM;
	*ret = j;
	return FY_OK;
}

/* Flow collections: only on one line, with entries separated by ',', keys followed by ": ",
 * quoted scalars as in block context and plain scalars of [A-Za-z0-9._/-] only (so none of
 * the flow context's special cases - ':' without a space, '#', spaces inside - arise: the
 * scanner stops at anything else and the caller declines unless it is a separator). */
static inline bool fy_flow_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '/' || ch == '-';
}

static inline void fy_flow_ws(struct fy *f)
{
	while (f->p < f->end && *f->p == ' ')
		f->p++;
}

static int fy_flow_scalar(struct fy *f, enum fy_tok *ret, const char **s, size_t *n)
{
	const char *q = f->p;

	if (q >= f->end)
		return FY_BAIL;
	if (*q == '"' || *q == '\'') {
		char ch = *q;
		const char *start = ++q;
		for (;; q++) {
			if (q >= f->end || *q == '\n' || (ch == '"' && *q == '\\'))
				return FY_BAIL;
			if (*q == ch)
				break;
		}
		if (ch == '\'' && q + 1 < f->end && q[1] == '\'')
			return FY_BAIL;
		*s = start;
		*n = (size_t)(q - start);
		f->p = q + 1;
		*ret = FY_QUOTED;
		return FY_OK;
	}
	/* '-' starts a plain scalar only before a non-blank */
	if (!fy_flow_char(*q) || (*q == '-' && (q + 1 >= f->end || !fy_flow_char(q[1]))))
		return FY_BAIL;
	while (q < f->end && fy_flow_char(*q))
		q++;
	*s = f->p;
	*n = (size_t)(q - f->p);
	f->p = q;
	*ret = FY_PLAIN;
	return FY_OK;
}

/* A flow collection at f->p ('{' or '['), a node at depth. */
static int fy_flow(struct fy *f, unsigned depth, json_t **ret)
{
	bool map = *f->p == '{';
	char close = map ? '}' : ']';
	json_t *coll;
	int r;

	if (depth + 1 >= f->c->max_depth)
		return FY_BAIL;
	coll = map ? json_object() : json_array();
	if (!coll)
		return -ENOMEM;
	f->p++;
	fy_flow_ws(f);
	if (f->p < f->end && *f->p == close) {
		f->p++;
		*ret = coll;
		return FY_OK;
	}
	for (;;) {
		enum fy_tok t;
		const char *k = NULL, *v;
		size_t kn = 0, vn;
		json_t *val = NULL;

		if (map) {
			r = fy_flow_scalar(f, &t, &k, &kn);
			if (r != FY_OK)
				goto fail;
			fy_flow_ws(f);
			r = FY_BAIL;
			if (f->end - f->p < 2 || f->p[0] != ':' || f->p[1] != ' ' ||
			    (kn == 2 && k[0] == '<' && k[1] == '<'))
				goto fail;
			f->p += 2;
			fy_flow_ws(f);
		}
		if (f->p < f->end && (*f->p == '{' || *f->p == '[')) {
			r = fy_flow(f, depth + 1, &val);
		} else {
			r = fy_flow_scalar(f, &t, &v, &vn);
			if (r == FY_OK)
				r = fy_scalar(f, t, v, vn, &val);
		}
		if (r != FY_OK)
			goto fail;
		if (map) {
			size_t before = json_object_size(coll);
			if (json_object_setn_new_nocheck(coll, k, kn, val) < 0) {
				r = -ENOMEM;
				goto fail;
			}
			r = FY_BAIL;
			if (json_object_size(coll) == before)
				goto fail; /* duplicate key */
		} else if (json_array_append_new(coll, val) < 0) {
			r = -ENOMEM;
			goto fail;
		}
		fy_flow_ws(f);
		r = FY_BAIL;
		if (f->p >= f->end)
			goto fail;
		if (*f->p == close) {
			f->p++;
			*ret = coll;
			return FY_OK;
		}
		if (*f->p != ',')
			goto fail; /* "[a: 1]", "{a}", a newline, ... */
		f->p++;
		fy_flow_ws(f);
		if (f->p < f->end && *f->p == close)
			goto fail; /* a trailing comma */
	}
fail:
	json_decref(coll);
	return r;
}

/* A flow collection as a block node's value: then the end of the token (not a key). */
static int fy_flow_value(struct fy *f, unsigned depth, json_t **ret)
{
	json_t *j;
	int r = fy_flow(f, depth, &j);

	if (r != FY_OK)
		return r;
	if (!fy_blankz(f, f->p) || fy_colon(f)) {
		json_decref(j);
		return FY_BAIL;
	}
	*ret = j;
	return FY_OK;
}

static int fy_node(struct fy *f, long parent, unsigned depth, json_t **ret);
static int fy_seq(struct fy *f, long col, unsigned depth, bool items, json_t **ret);

/* A block mapping whose first key is at f->p, column col (not necessarily at the start of
 * the line: "- key: v"). Returns with f->ccol < col. */
static int fy_map(struct fy *f, long col, unsigned depth, json_t **ret)
{
	struct yconv *c = f->c;
	json_t *obj;
	int r;

	if (depth >= c->max_depth)
		return FY_BAIL;
	obj = json_object();
	if (!obj)
		return -ENOMEM;
	for (;;) {
		enum fy_tok t;
		const char *k, *kstart = f->p;
		size_t kn;
		json_t *val = NULL;

		r = fy_token(f, &t, &k, &kn);
		if (r != FY_OK)
			goto fail;
		/* a simple key is at most 1024 characters long (libyaml) */
		r = FY_BAIL;
		if (!fy_colon(f) || f->p - kstart > 1000 || (kn == 2 && k[0] == '<' && k[1] == '<'))
			goto fail;
		while (f->p < f->end && *f->p == ' ')
			f->p++;
		bool items = depth == 1 && c->items_key && strlen(c->items_key) == kn &&
			     memcmp(c->items_key, k, kn) == 0;
		if (f->p >= f->end || *f->p == '\n' || *f->p == '#') {
			/* the value is on the next lines, or empty */
			r = fy_eol(f);
			if (r != FY_OK)
				goto fail;
			if (f->ccol > col) {
				if (items && *f->p == '-' && fy_blankz(f, f->p + 1))
					r = fy_seq(f, f->ccol, depth + 1, true, &val);
				else if (items && *f->p == '[')
					r = FY_BAIL; /* flow items: their positions */
				else
					r = fy_node(f, col, depth + 1, &val);
			} else if (f->ccol == col && *f->p == '-' && fy_blankz(f, f->p + 1)) {
				r = fy_seq(f, col, depth + 1, items, &val);
			} else {
				val = json_null();
				r = FY_OK;
			}
		} else if (*f->p == '{' || *f->p == '[') {
			r = fy_flow_value(f, depth + 1, &val);
			/* a List's items in flow style: only "[]" (no item positions to record) */
			if (r == FY_OK && items && json_is_array(val)) {
				if (json_array_size(val))
					r = FY_BAIL;
				c->has_items = true;
				c->n_items = 0;
			}
			if (r == FY_OK)
				r = fy_eol(f);
		} else {
			enum fy_tok vt;
			const char *v;
			size_t vn;
			r = fy_token(f, &vt, &v, &vn);
			if (r == FY_OK && fy_colon(f))
				r = FY_BAIL; /* "a: b: c" */
			if (r == FY_OK && depth + 1 >= c->max_depth)
				r = FY_BAIL;
			if (r == FY_OK)
				r = fy_scalar(f, vt, v, vn, &val);
			if (r == FY_OK)
				r = fy_eol(f);
		}
		if (r != FY_OK) {
			json_decref(val);
			goto fail;
		}
		size_t before = json_object_size(obj);
		if (json_object_setn_new_nocheck(obj, k, kn, val) < 0) {
			r = -ENOMEM;
			goto fail;
		}
		r = FY_BAIL;
		if (json_object_size(obj) == before)
			goto fail; /* duplicate key: libyaml's path reports it */
		if (f->ccol < col)
			break;
		/* the next key, at this mapping's column; deeper is a continuation line or an
		 * error, a sequence entry here an error */
		if (f->ccol > col || (*f->p == '-' && fy_blankz(f, f->p + 1)))
			goto fail;
	}
	*ret = obj;
	return FY_OK;
fail:
	json_decref(obj);
	return r;
}

/* A block sequence whose first "-" is at f->p, column col. items: record where each item
 * starts (the root's items_key sequence). Returns with f->ccol < col, or == col on a line
 * that is not an entry. */
static int fy_seq(struct fy *f, long col, unsigned depth, bool items, json_t **ret)
{
	struct yconv *c = f->c;
	json_t *arr;
	int r;

	if (depth >= c->max_depth)
		return FY_BAIL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	if (items) {
		c->has_items = true;
		c->n_items = 0;
	}
	for (;;) {
		json_t *val = NULL;

		f->p++; /* '-' */
		while (f->p < f->end && *f->p == ' ')
			f->p++;
		if (f->p >= f->end || *f->p == '\n' || *f->p == '#') {
			r = fy_eol(f);
			if (r != FY_OK)
				goto fail;
			r = FY_BAIL;
			if (f->ccol <= col)
				goto fail; /* an empty item */
		} else if (*f->p == '-' && fy_blankz(f, f->p + 1)) {
			r = FY_BAIL; /* "- - a" */
			goto fail;
		} else {
			f->ccol = f->p - f->bol;
		}
		if (items) {
			yaml_mark_t m = {.line = f->line, .column = (size_t)f->ccol};
			if (record_item(c, m) < 0) {
				r = -ENOMEM;
				goto fail;
			}
		}
		r = fy_node(f, col, depth + 1, &val);
		if (r == FY_OK && json_array_append_new(arr, val) < 0)
			r = -ENOMEM;
		if (r != FY_OK)
			goto fail;
		if (f->ccol > col) {
			r = FY_BAIL;
			goto fail;
		}
		if (f->ccol < col || *f->p != '-' || !fy_blankz(f, f->p + 1))
			break;
	}
	*ret = arr;
	return FY_OK;
fail:
	json_decref(arr);
	return r;
}

/* The node at f->p (column f->ccol), inside a collection at column parent (-1: the root).
 * Returns with f->ccol <= parent. */
static int fy_node(struct fy *f, long parent, unsigned depth, json_t **ret)
{
	long col = f->ccol;
	const char *at = f->p;
	enum fy_tok t;
	const char *s;
	size_t n;
	int r;

	if (depth >= f->c->max_depth)
		return FY_BAIL;
	if (*at == '-' && fy_blankz(f, at + 1))
		return fy_seq(f, col, depth, false, ret);
	json_t *j;
	if (*at == '{' || *at == '[') {
		r = fy_flow_value(f, depth, &j);
		if (r != FY_OK)
			return r;
	} else {
		r = fy_token(f, &t, &s, &n);
		if (r != FY_OK)
			return r;
		if (fy_colon(f)) {
			f->p = at;
			return fy_map(f, col, depth, ret);
		}
		r = fy_scalar(f, t, s, n, &j);
		if (r != FY_OK)
			return r;
	}
	r = fy_eol(f);
	/* a deeper line would continue a plain scalar (or be an error) */
	if (r == FY_OK && f->ccol > parent)
		r = FY_BAIL;
	if (r != FY_OK) {
		json_decref(j);
		return r;
	}
	*ret = j;
	return FY_OK;
}

/* Returns FY_OK (all parsed), the callback's negative value, -ENOMEM, or FY_BAIL with
 * *done = documents seen (and handed over when not empty) so far. */
static int fast_yaml(struct yconv *c, wf_yj_doc_fn fn, void *userdata, unsigned *done)
{
	struct fy f = {.c = c, .p = c->buf, .end = c->buf + c->len, .bol = c->buf};
	unsigned *index = done; /* documents seen (and handed over) so far */
	bool explicit = false;
	const char *dstart = c->buf; /* this document's "---", or the input's start */
	int r;

	*index = 0;
	/* Printable ASCII and '\n' only: columns are bytes, nothing to validate, no tabs. */
	for (size_t i = 0; i < c->len; i++) {
		unsigned char ch = (unsigned char)c->buf[i];
		if ((ch < 0x20 && ch != '\n') || ch > 0x7e)
			return FY_BAIL;
	}
	r = fy_content(&f);
	for (;;) {
		json_t *doc = NULL;

		if (r != FY_OK)
			return r;
		/* max_doc: libyaml checks the end of every event, the stream's end and a "---"
		 * included, against the start of the current document (0 before the first) */
		const char *ev_end = f.ccol == FY_DOC ? f.p + 3 : c->buf + c->len;
		if (!explicit && f.ccol < 0 && (size_t)(ev_end - dstart) > c->max_doc)
			return FY_BAIL;
		if (f.ccol == FY_EOF && !explicit)
			break;
		if (f.ccol == FY_DOC && !explicit) {
			/* "---": skip it and its comment; the document starts on the next line */
			explicit = true;
			dstart = f.p;
			f.p += 3;
			r = fy_eol(&f);
			continue;
		}
		/* A document: explicit (after "---") or implicit (content before any "---"). */
		struct wf_yj_docinfo info = {.index = *index};
		c->has_items = false;
		building(c, true);
		if (f.ccol >= 0) {
			info.line = (unsigned)f.line + 1;
			info.column = (unsigned)f.ccol + 1;
			info.offset = (size_t)(f.p - c->buf);
			r = fy_node(&f, -1, 1, &doc);
			if (r == FY_OK && f.ccol >= 0) {
				json_decref(doc);
				r = FY_BAIL; /* content after the root node */
			}
		} else {
			doc = json_null(); /* empty document */
			r = FY_OK;
		}
		/* max_doc: libyaml checks every event's end against the document's start; none
		 * ends after the next "---" (or the input's end). */
		const char *dend = f.ccol == FY_DOC ? f.p + 3 : c->buf + c->len;
		if (r == FY_OK && (size_t)(dend - dstart) > c->max_doc) {
			json_decref(doc);
			r = FY_BAIL;
		}
		building(c, false);
		if (r != FY_OK) {
			if (c->arena)
				scratch_reset(c->arena);
			if (c->arena && c->arena->oom)
				r = -ENOMEM;
			return r;
		}
		(*index)++;
		if (c->has_items) {
			info.n_items = c->n_items;
			info.item_lines = c->item_lines;
			info.item_columns = c->item_columns;
		}
		r = json_is_null(doc) ? 0 : fn(userdata, doc, &info);
		tree_drop(c, doc);
		if (r < 0)
			return r;
		explicit = false;
		r = FY_OK;
	}
	return FY_OK;
}

static int load_yaml_auto(struct yconv *c, wf_yj_doc_fn fn, void *userdata,
			  enum wf_yj_yaml_mode mode)
{
	unsigned done;
	int r;

	if (mode == WF_YJ_YAML_LIBYAML)
		return load_yaml(c, fn, userdata, 0);
	r = fast_yaml(c, fn, userdata, &done);
	if (r == FY_BAIL && mode == WF_YJ_YAML_FAST_ONLY)
		r = -ENOTSUP;
	else if (r == FY_BAIL)
		return load_yaml(c, fn, userdata, done);
	if (r == FY_OK)
		r = 0;
	if (r == -ENOMEM)
		wf_diag_set(c->diag, c->file, 0, 0, NULL, "out of memory");
	wf_free(c->item_lines);
	wf_free(c->item_columns);
	c->item_lines = c->item_columns = NULL;
	c->n_items = c->cap_items = 0;
	return r;
}

static size_t skip_ws(const char *buf, size_t len, size_t i)
{
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	return i;
}

/* Checks bracket nesting of a JSON text before jansson (whose own limit is 2048) sees it.
 * Returns the offset of the first bracket too deep, or SIZE_MAX. */
static size_t json_too_deep(const char *buf, size_t len, unsigned max)
{
	unsigned depth = 0;
	bool str = false;

	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];
		if (str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				str = false;
		} else if (ch == '"') {
			str = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max)
				return i;
		} else if ((ch == '}' || ch == ']') && depth > 0) {
			depth--;
		}
	}
	return SIZE_MAX;
}

/* ---- JSON fast path ----
 *
 * jansson's lexer reads a character at a time through a stream and a string buffer, which
 * makes it the main cost of loading a large JSON List. This parser builds the same jansson
 * values for the common subset of JSON in one pass over the buffer: ASCII or valid UTF-8
 * strings with simple escapes, integers of up to 18 digits, true/false/null, objects and
 * arrays. Anything else - a \u escape, a real number, a duplicate key, a syntax error - makes
 * it give up, and the text is parsed again by jansson, so results and error messages are
 * always exactly jansson's. It also checks the nesting depth (giving up past the limit, so
 * that json_too_deep() reports it) and, like the YAML converter, records where the items of
 * the root's items_key array start. */

enum {
	FJ_BAIL = 0,
	FJ_OK = 1
};

struct fj {
	struct yconv *c;
	const char *p, *end;
	const char *base; /* the text's start (item offsets are from c->buf) */
	unsigned depth;
	char esc[512]; /* unescaped string (strings with escapes longer than this: bail) */
};

static inline void fj_ws(struct fj *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
		f->p++;
}

/* UTF-8 as jansson's utf8_check accepts it: no overlong forms, surrogates or > U+10FFFF.
 * Returns the sequence length at p, or 0 when invalid. */
static size_t fj_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], n, v;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
}

/* A string at f->p (the opening quote). Sets *ret and *ret_len to the text (in the input or in
 * f->esc) and moves past the closing quote. */
static int fj_string(struct fj *f, const char **ret, size_t *ret_len)
{
	const unsigned char *p = (const unsigned char *)f->p + 1;
	const unsigned char *end = (const unsigned char *)f->end;
	const unsigned char *start = p;
	bool esc = false;

	for (;;) {
		if (p >= end)
			return FJ_BAIL;
		unsigned c = *p;
		if (c == '"')
			break;
		if (c < 0x20)
			return FJ_BAIL;
		if (c == '\\') {
			esc = true;
			p += 2;
		} else if (c < 0x80) {
			p++;
		} else {
			size_t n = fj_utf8(p, end);
			if (!n)
				return FJ_BAIL;
			p += n;
		}
	}
	if (!esc) {
		*ret = (const char *)start;
		*ret_len = (size_t)(p - start);
		f->p = (const char *)p + 1;
		return FJ_OK;
	}
	if ((size_t)(p - start) > sizeof(f->esc))
		return FJ_BAIL;
	size_t n = 0;
	for (const unsigned char *q = start; q < p; q++) {
		if (*q != '\\') {
			f->esc[n++] = (char)*q;
			continue;
		}
		switch (*++q) {
		case '"':
		case '\\':
		case '/':
			f->esc[n++] = (char)*q;
			break;
		case 'b':
			f->esc[n++] = '\b';
			break;
		case 'f':
			f->esc[n++] = '\f';
			break;
		case 'n':
			f->esc[n++] = '\n';
			break;
		case 'r':
			f->esc[n++] = '\r';
			break;
		case 't':
			f->esc[n++] = '\t';
			break;
		default:
			return FJ_BAIL; /* \u (and invalid escapes): jansson */
		}
	}
	*ret = f->esc;
	*ret_len = n;
	f->p = (const char *)p + 1;
	return FJ_OK;
}

static bool fj_delim(const struct fj *f)
{
	return f->p >= f->end || *f->p == ',' || *f->p == '}' || *f->p == ']' || *f->p == ' ' ||
	       *f->p == '\n' || *f->p == '\r' || *f->p == '\t';
}

static int fj_value(struct fj *f, json_t **ret);
static int fj_array(struct fj *f, json_t **ret, bool items);

/* The step after '{' or '[' (first) or after a member: the closing bracket ends the container
 * (returns 0); after a member, "," goes on (returns 1); first, anything else is a member
 * (returns 1); otherwise -1: bail to jansson. */
static int fj_next(struct fj *f, char close, bool first)
{
	fj_ws(f);
	if (f->p < f->end && *f->p == close) {
		f->p++;
		f->depth--;
		return 0;
	}
	if (first)
		return 1;
	if (f->p < f->end && *f->p == ',') {
		f->p++;
		fj_ws(f);
		return 1;
	}
	return -1;
}

static int fj_object(struct fj *f, json_t **ret)
{
	json_t *obj;
	int r;

	if (++f->depth > f->c->max_depth)
		return FJ_BAIL;
	obj = json_object();
	if (!obj)
		return -ENOMEM;
	f->p++;
	for (int more = fj_next(f, '}', true); more != 0; more = fj_next(f, '}', false)) {
		const char *key;
		size_t klen;
		json_t *val;

		if (more < 0)
			goto bail;

		if (f->p >= f->end || *f->p != '"' || fj_string(f, &key, &klen) != FJ_OK)
			goto bail;
		/* A key unescaped into f->esc would be overwritten by a string value: keys with
		 * escapes are rare, leave them to jansson. */
		if (key == f->esc)
			goto bail;
		fj_ws(f);
		if (f->p >= f->end || *f->p != ':')
			goto bail;
		f->p++;
		fj_ws(f);
		if (f->depth == 1 && f->c->items_key && f->p < f->end && *f->p == '[' &&
		    strlen(f->c->items_key) == klen && memcmp(key, f->c->items_key, klen) == 0)
			r = fj_array(f, &val, true);
		else
			r = fj_value(f, &val);
		if (r != FJ_OK)
			goto fail;
		size_t before = json_object_size(obj);
		if (json_object_setn_new_nocheck(obj, key, klen, val) < 0) {
			r = -ENOMEM;
			goto fail;
		}
		if (json_object_size(obj) == before)
			goto bail; /* duplicate key: jansson reports it */
	}
	*ret = obj;
	return FJ_OK;
bail:
	r = FJ_BAIL;
fail:
	json_decref(obj);
	return r;
}

/* items: record where each element starts (the root's items_key array). */
static int fj_array(struct fj *f, json_t **ret, bool items)
{
	json_t *arr;
	int r;

	if (++f->depth > f->c->max_depth)
		return FJ_BAIL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	if (items) {
		f->c->has_items = true;
		f->c->n_items = 0;
	}
	f->p++;
	for (int more = fj_next(f, ']', true); more != 0; more = fj_next(f, ']', false)) {
		json_t *val;
		if (more < 0) {
			r = FJ_BAIL;
			goto fail;
		}
		if (items) {
			/* the offset for now; fast_json turns it into a position */
			yaml_mark_t m = {.line = (size_t)(f->p - f->c->buf)};
			if (record_item(f->c, m) < 0) {
				r = -ENOMEM;
				goto fail;
			}
		}
		r = fj_value(f, &val);
		if (r != FJ_OK)
			goto fail;
		if (json_array_append_new(arr, val) < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}
	*ret = arr;
	return FJ_OK;
fail:
	json_decref(arr);
	return r;
}

static int fj_value(struct fj *f, json_t **ret)
{
	json_t *j;

	if (f->p >= f->end)
		return FJ_BAIL;
	switch (*f->p) {
	case '{':
		return fj_object(f, ret);
	case '[':
		return fj_array(f, ret, false);
	case '"': {
		const char *s;
		size_t n;
		if (fj_string(f, &s, &n) != FJ_OK)
			return FJ_BAIL;
		j = json_stringn_nocheck(s, n);
		break;
	}
	case 't':
	case 'f':
	case 'n': {
		static const char *const words[] = {"true", "false", "null"};
		size_t w = *f->p == 't' ? 0 : *f->p == 'f' ? 1 : 2, n = strlen(words[w]);
		if ((size_t)(f->end - f->p) < n || memcmp(f->p, words[w], n) != 0)
			return FJ_BAIL;
		f->p += n;
		if (!fj_delim(f))
			return FJ_BAIL;
		*ret = w == 0 ? json_true() : w == 1 ? json_false() : json_null();
		return FJ_OK;
	}
	case '-':
	case '0' ... '9': {
		const char *p = f->p;
		bool neg = *p == '-';
		long long v = 0;
		size_t digits = 0;
		if (neg)
			p++;
		if (p < f->end && *p == '0' && p + 1 < f->end && p[1] >= '0' && p[1] <= '9')
			return FJ_BAIL;
		for (; p < f->end && *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 18) /* more digits: jansson, below */
				v = v * 10 + (*p - '0');
		f->p = p;
		/* reals, long integers (overflow is jansson's error) and junk: jansson */
		if (!digits || digits > 18 || !fj_delim(f))
			return FJ_BAIL;
		j = json_integer(neg ? -v : v);
		break;
	}
	default:
		return FJ_BAIL;
	}
	if (!j)
		return -ENOMEM;
	*ret = j;
	return FJ_OK;
}

/* One JSON text (an object or an array) at buf: FJ_OK with *ret and *ret_used (bytes up to
 * the end of the value, as jansson's position with JSON_DISABLE_EOF_CHECK), FJ_BAIL when
 * jansson must parse it, or -ENOMEM. */
static int fast_json(struct yconv *c, size_t off, json_t **ret, size_t *ret_used)
{
	struct fj f = {.c = c, .p = c->buf + off, .end = c->buf + c->len};
	json_t *doc;
	int r;

	c->has_items = false;
	if (off >= c->len || (c->buf[off] != '{' && c->buf[off] != '['))
		return FJ_BAIL;
	r = fj_value(&f, &doc);
	if (r != FJ_OK) {
		c->has_items = false;
		return r;
	}
	if (c->has_items) {
		/* Offsets to 1-based lines and columns (characters), in one pass from the text's
		 * start: lines by memchr, columns counted from the last newline. */
		const char *b = c->buf, *at = b, *bol = b;
		unsigned line = 1;
		for (size_t i = 0; i < c->n_items; i++) {
			const char *to = b + c->item_lines[i] - 1, *nl; /* record_item adds 1 */
			while ((nl = memchr(at, '\n', (size_t)(to - at)))) {
				line++;
				at = bol = nl + 1;
			}
			at = to;
			unsigned col = 1;
			for (const char *q = bol; q < to; q++)
				col += ((unsigned char)*q & 0xc0) != 0x80;
			c->item_lines[i] = line;
			c->item_columns[i] = col;
		}
	}
	*ret = doc;
	*ret_used = (size_t)(f.p - (c->buf + off));
	return FJ_OK;
}

static int load_json(struct yconv *c, wf_yj_doc_fn fn, void *userdata)
{
	size_t off = skip_ws(c->buf, c->len, 0);
	unsigned index = 0, line, col;
	json_error_t jerr;
	bool deep_checked = false;
	int r = 0;

	/* A JSON text, or a stream of them (as "kubectl get -o json" output concatenated). */
	while (off < c->len) {
		json_t *doc = NULL;
		size_t used = 0;
		building(c, true);
		int fr = fast_json(c, off, &doc, &used);
		if (fr == FJ_BAIL && !deep_checked) {
			/* Before jansson (whose own limit is 2048) sees the rest of the text; what
			 * the fast path accepted was within the limit. */
			size_t deep = json_too_deep(c->buf + off, c->len - off, c->max_depth);
			if (deep != SIZE_MAX) {
				building(c, false);
				offset_to_pos(c->buf, c->len, off + deep, &line, &col);
				wf_diag_set(c->diag, c->file, line, col, NULL,
					    "nesting deeper than %u levels", c->max_depth);
				r = -WF_E_PARSE;
				goto out;
			}
			deep_checked = true;
		}
		if (fr == FJ_BAIL) {
			doc = json_loadb(c->buf + off, c->len - off,
					 JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &jerr);
			used = (size_t)jerr.position;
		}
		building(c, false);
		if (fr < 0 || (!doc && (json_error_code(&jerr) == json_error_out_of_memory ||
					(c->arena && c->arena->oom)))) {
			wf_diag_set(c->diag, c->file, 0, 0, NULL, "out of memory");
			r = -ENOMEM;
			goto out;
		}
		if (!doc) {
			offset_to_pos(c->buf, c->len, off + (size_t)jerr.position, &line, &col);
			wf_diag_set(c->diag, c->file, line, col, NULL, "%s", jerr.text);
			r = -WF_E_PARSE;
			goto out;
		}
		if (used > c->max_doc) {
			tree_drop(c, doc);
			offset_to_pos(c->buf, c->len, off, &line, &col);
			wf_diag_set(c->diag, c->file, line, col, NULL,
				    "document is larger than the %zu byte limit", c->max_doc);
			r = -WF_E_TOO_BIG;
			goto out;
		}
		offset_to_pos(c->buf, c->len, off, &line, &col);
		struct wf_yj_docinfo info = {
			.index = index++,
			.line = line,
			.column = col,
			.offset = off,
			.json = true,
		};
		if (c->has_items) {
			info.n_items = c->n_items;
			info.item_lines = c->item_lines;
			info.item_columns = c->item_columns;
		}
		r = json_is_null(doc) ? 0 : fn(userdata, doc, &info);
		tree_drop(c, doc);
		if (r < 0)
			goto out;
		off = skip_ws(c->buf, c->len, off + used);
	}
	r = 0;
out:
	wf_free(c->item_lines);
	wf_free(c->item_columns);
	return r;
}

static bool is_json(const char *buf, size_t len)
{
	size_t i = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	i = skip_ws(buf, len, i);
	return i < len && (buf[i] == '{' || buf[i] == '[');
}

int wf_yj_load(const char *buf, size_t len, const char *file, const struct wf_yj_limits *limits,
	       wf_yj_doc_fn fn, void *userdata, struct wf_diag *diag)
{
	struct yconv c = {
		.buf = buf,
		.len = len,
		.file = file,
		.diag = diag,
		.max_doc = DEFAULT_MAX_DOC,
		.max_depth = DEFAULT_MAX_DEPTH,
	};
	size_t max_file = DEFAULT_MAX_FILE;

	if (limits) {
		if (limits->max_file_bytes)
			max_file = limits->max_file_bytes;
		if (limits->max_doc_bytes)
			c.max_doc = limits->max_doc_bytes;
		if (limits->max_depth)
			c.max_depth = limits->max_depth;
		c.max_alias = limits->max_alias_nodes;
		c.items_key = limits->items_key;
	}
	if (!buf || len == 0) {
		/* libyaml asserts on a NULL input; an empty input has no documents. */
		buf = "";
		len = 0;
		c.buf = buf;
		c.len = 0;
	}
	if (len > max_file) {
		wf_diag_set(diag, file, 0, 0, NULL, "file is %zu bytes, over the %zu byte limit",
			    len, max_file);
		return -WF_E_TOO_BIG;
	}
	struct yj_arena arena;
	int r;

	if (limits && limits->scratch_arena && scratch_begin(&arena))
		c.arena = &arena;
	if (is_json(buf, len)) {
		size_t bom = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
		c.buf += bom;
		c.len -= bom;
		r = load_json(&c, fn, userdata);
	} else {
		r = load_yaml_auto(&c, fn, userdata, limits ? limits->yaml_mode : WF_YJ_YAML_AUTO);
	}
	if (c.arena)
		scratch_end(c.arena);
	return r;
}

/* ---- locate: the error path re-scans the text ---- */

static int skip_yaml_node(yaml_parser_t *p, yaml_event_t *ev)
{
	int depth = 0;

	for (;;) {
		if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev->type == YAML_SEQUENCE_END_EVENT || ev->type == YAML_MAPPING_END_EVENT)
			depth--;
		yaml_event_delete(ev);
		if (depth <= 0)
			return 0;
		if (!yaml_parser_parse(p, ev))
			return -WF_E_PARSE;
	}
}

struct items_out {
	unsigned *lines, *columns;
	size_t count, found;
};

static void record_items(yaml_parser_t *p, yaml_event_t *ev, struct items_out *out)
{
	if (ev->type != YAML_SEQUENCE_START_EVENT) {
		skip_yaml_node(p, ev);
		return;
	}
	yaml_event_delete(ev);
	for (;;) {
		yaml_event_t v;
		if (!yaml_parser_parse(p, &v))
			return;
		if (v.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&v);
			return;
		}
		if (out->found < out->count) {
			out->lines[out->found] = (unsigned)v.start_mark.line + 1;
			out->columns[out->found] = (unsigned)v.start_mark.column + 1;
		}
		out->found++;
		if (skip_yaml_node(p, &v) < 0)
			return;
	}
}

static void locate_yaml_node(yaml_parser_t *p, yaml_event_t *ev, const struct wf_yj_step *path,
			     size_t n, yaml_mark_t *best, struct items_out *items)
{
	*best = ev->start_mark;
	if (n == 0 && items) {
		record_items(p, ev, items);
		return;
	}
	if (n == 0 || ev->type == YAML_ALIAS_EVENT || ev->type == YAML_SCALAR_EVENT) {
		yaml_event_delete(ev);
		return;
	}
	if (ev->type == YAML_MAPPING_START_EVENT && path->key) {
		yaml_event_delete(ev);
		for (;;) {
			yaml_event_t k, v;
			if (!yaml_parser_parse(p, &k))
				return;
			if (k.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&k);
				return;
			}
			bool hit = k.type == YAML_SCALAR_EVENT &&
				   strcmp((const char *)k.data.scalar.value, path->key) == 0;
			if (skip_yaml_node(p, &k) < 0 || !yaml_parser_parse(p, &v))
				return;
			if (hit) {
				locate_yaml_node(p, &v, path + 1, n - 1, best, items);
				return;
			}
			if (skip_yaml_node(p, &v) < 0)
				return;
		}
	}
	if (ev->type == YAML_SEQUENCE_START_EVENT && !path->key) {
		yaml_event_delete(ev);
		for (size_t i = 0;; i++) {
			yaml_event_t v;
			if (!yaml_parser_parse(p, &v))
				return;
			if (v.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&v);
				return;
			}
			if (i == path->index) {
				locate_yaml_node(p, &v, path + 1, n - 1, best, items);
				return;
			}
			if (skip_yaml_node(p, &v) < 0)
				return;
		}
	}
	yaml_event_delete(ev);
}

static int locate_yaml(const char *buf, size_t len, unsigned doc_index,
		       const struct wf_yj_step *path, size_t n, unsigned *ret_line,
		       unsigned *ret_column, struct items_out *items)
{
	yaml_parser_t p;
	yaml_event_t ev;
	unsigned index = 0;
	int r = -ENOENT;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			r = -WF_E_PARSE;
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		bool start = ev.type == YAML_DOCUMENT_START_EVENT;
		yaml_event_delete(&ev);
		if (!start)
			continue;
		if (!yaml_parser_parse(&p, &ev)) {
			r = -WF_E_PARSE;
			break;
		}
		if (index++ == doc_index) {
			yaml_mark_t best;
			locate_yaml_node(&p, &ev, path, n, &best, items);
			*ret_line = (unsigned)best.line + 1;
			*ret_column = (unsigned)best.column + 1;
			r = 0;
			break;
		}
		if (skip_yaml_node(&p, &ev) < 0) {
			r = -WF_E_PARSE;
			break;
		}
	}
	yaml_parser_delete(&p);
	return r;
}

/* Minimal JSON skimmer over text jansson has accepted already. Returns the offset after the
 * value starting at i. */
static size_t json_skip_string(const char *buf, size_t len, size_t i)
{
	for (i++; i < len && buf[i] != '"'; i++)
		if (buf[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

static size_t json_skip_value(const char *buf, size_t len, size_t i)
{
	unsigned depth = 0;

	if (i >= len)
		return len;
	if (buf[i] == '"')
		return json_skip_string(buf, len, i);
	if (buf[i] != '{' && buf[i] != '[') {
		while (i < len && !strchr(",}] \t\r\n", buf[i]))
			i++;
		return i;
	}
	for (; i < len; i++) {
		if (buf[i] == '"') {
			i = json_skip_string(buf, len, i) - 1;
		} else if (buf[i] == '{' || buf[i] == '[') {
			depth++;
		} else if (buf[i] == '}' || buf[i] == ']') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return len;
}

static bool json_key_equals(const char *buf, size_t start, size_t end, const char *key)
{
	/* start..end spans the quoted key; keys with escapes are decoded by jansson */
	if (!memchr(buf + start, '\\', end - start))
		return end - start - 2 == strlen(key) &&
		       memcmp(buf + start + 1, key, end - start - 2) == 0;
	json_t *s = json_loadb(buf + start, end - start, JSON_DECODE_ANY, NULL);
	bool eq = s && json_is_string(s) && strcmp(json_string_value(s), key) == 0;
	json_decref(s);
	return eq;
}

static size_t locate_json_node(const char *buf, size_t len, size_t i, const struct wf_yj_step *path,
			       size_t n)
{
	if (n == 0 || i >= len)
		return i;
	if (buf[i] == '{' && path->key) {
		for (i = skip_ws(buf, len, i + 1); i < len && buf[i] == '"';) {
			size_t kend = json_skip_string(buf, len, i);
			bool hit = json_key_equals(buf, i, kend, path->key);
			size_t v = skip_ws(buf, len, kend);
			v = skip_ws(buf, len, v + 1); /* ':' */
			if (hit) {
				size_t deeper = locate_json_node(buf, len, v, path + 1, n - 1);
				return deeper;
			}
			i = skip_ws(buf, len, json_skip_value(buf, len, v));
			if (i < len && buf[i] == ',')
				i = skip_ws(buf, len, i + 1);
			else
				break;
		}
		return SIZE_MAX;
	}
	if (buf[i] == '[' && !path->key) {
		size_t v = skip_ws(buf, len, i + 1);
		for (size_t k = 0; v < len && buf[v] != ']'; k++) {
			if (k == path->index)
				return locate_json_node(buf, len, v, path + 1, n - 1);
			v = skip_ws(buf, len, json_skip_value(buf, len, v));
			if (v < len && buf[v] == ',')
				v = skip_ws(buf, len, v + 1);
			else
				break;
		}
	}
	return SIZE_MAX;
}

static int locate_json(const char *buf, size_t len, unsigned doc_index,
		       const struct wf_yj_step *path, size_t n, unsigned *ret_line,
		       unsigned *ret_column)
{
	size_t bom = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	const char *b = buf + bom;
	size_t l = len - bom;
	size_t i = skip_ws(b, l, 0);

	for (unsigned d = 0; d < doc_index && i < l; d++)
		i = skip_ws(b, l, json_skip_value(b, l, i));
	if (i >= l)
		return -ENOENT;
	/* Deepest node found: retry with shorter paths until one resolves. */
	for (size_t k = n + 1; k-- > 0;) {
		size_t at = locate_json_node(b, l, i, path, k);
		if (at != SIZE_MAX) {
			offset_to_pos(b, l, at, ret_line, ret_column);
			return 0;
		}
	}
	offset_to_pos(b, l, i, ret_line, ret_column);
	return 0;
}

int wf_yj_locate(const char *buf, size_t len, unsigned doc_index, const struct wf_yj_step *path,
		 size_t n, unsigned *ret_line, unsigned *ret_column)
{
	if (!buf)
		buf = "";

	if (is_json(buf, len))
		return locate_json(buf, len, doc_index, path, n, ret_line, ret_column);
	return locate_yaml(buf, len, doc_index, path, n, ret_line, ret_column, NULL);
}

int wf_yj_locate_items(const char *buf, size_t len, unsigned doc_index,
		       const struct wf_yj_step *path, size_t n, unsigned *ret_lines,
		       unsigned *ret_columns, size_t count)
{
	struct items_out out = {ret_lines, ret_columns, count, 0};
	unsigned line, col;
	int r;

	if (!buf)
		buf = "";

	if (is_json(buf, len)) {
		size_t bom = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
		const char *b = buf + bom;
		size_t l = len - bom;
		size_t i = skip_ws(b, l, 0);

		for (unsigned d = 0; d < doc_index && i < l; d++)
			i = skip_ws(b, l, json_skip_value(b, l, i));
		if (i >= l)
			return -ENOENT;
		i = locate_json_node(b, l, i, path, n);
		if (i == SIZE_MAX || i >= l || b[i] != '[')
			return -ENOENT;
		/* One pass: positions are counted incrementally from the array's start. */
		unsigned cl, cc;
		size_t last = 0;
		offset_to_pos(b, l, 0, &cl, &cc);
		for (size_t v = skip_ws(b, l, i + 1); v < l && b[v] != ']';) {
			for (; last < v; last++) {
				if (b[last] == '\n') {
					cl++;
					cc = 1;
				} else if (((unsigned char)b[last] & 0xc0) != 0x80) {
					cc++;
				}
			}
			if (out.found < count) {
				ret_lines[out.found] = cl;
				ret_columns[out.found] = cc;
			}
			out.found++;
			v = skip_ws(b, l, json_skip_value(b, l, v));
			if (v < l && b[v] == ',')
				v = skip_ws(b, l, v + 1);
			else
				break;
		}
		return (int)out.found;
	}
	r = locate_yaml(buf, len, doc_index, path, n, &line, &col, &out);
	return r < 0 ? r : (int)out.found;
}
