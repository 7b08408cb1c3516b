/* YAML and JSON text to jansson values, with source positions and guard rails. No Kubernetes
 * knowledge. YAML goes through libyaml (YAML 1.1 scalar resolution as go-yaml v2 - and so
 * kubectl - does it: yes/no/on/off are booleans, 0777 is octal), after a one-pass fast path
 * for the block-style subset manifests use that builds the same values or declines; JSON
 * goes through a fast path and jansson.
 * Input whose first non-blank byte is '{' or '[' is JSON, anything else YAML.
 *
 * Positions: loading keeps no per-node position table (that would cost memory on the success
 * path); wf_yj_locate() re-scans the text on the error path and returns the exact line and
 * column of the node at a path, for YAML and JSON alike.
 *
 * Thread context: none shared; each call is independent. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/diag.h"

enum wf_yj_yaml_mode {
	/* The fast path for the block-style subset manifests use; libyaml parses the whole
	 * input when it declines (results and errors are always libyaml's). */
	WF_YJ_YAML_AUTO = 0,
	WF_YJ_YAML_LIBYAML, /* libyaml only */
	/* The fast path only: wf_yj_load() returns -ENOTSUP where it would decline (documents
	 * before that point have been handed to the callback). */
	WF_YJ_YAML_FAST_ONLY,
};

struct wf_yj_limits {
	size_t max_file_bytes;	/* whole input; 0 = 64 MiB */
	size_t max_doc_bytes;	/* one YAML document (counted in characters) or a JSON text
				 * (bytes); 0 = 10 MiB */
	unsigned max_depth;	/* nesting of mappings/sequences; 0 = 64 */
	size_t max_alias_nodes; /* nodes reached through YAML aliases, over the whole input;
				 * 0 = min(1,000,000, 16 x nodes written out) */
	/* YAML only: record the positions of the items of the sequence under this key of a
	 * document's root mapping (a List's "items"), in the same pass. NULL = none. */
	const char *items_key;
	/* Build each document's tree in a thread-local scratch arena that is reset after the
	 * callback instead of freeing the tree node by node (much cheaper). The doc handed to
	 * the callback, and every value in it, is then valid only until the callback returns:
	 * the callback must copy what it keeps and must not json_incref the tree to keep it.
	 * Values the callback creates itself are ordinary jansson values. */
	bool scratch_arena;
	/* Which YAML reader runs (tests and benchmarks; 0 for everyone else). */
	enum wf_yj_yaml_mode yaml_mode;
};

struct wf_yj_docinfo {
	unsigned index;	 /* 0-based document number in the stream */
	unsigned line;	 /* 1-based position of the document's root node */
	unsigned column; /* 1-based */
	size_t offset;	 /* offset of the root node: bytes for JSON, characters for YAML */
	bool json;	 /* the input was JSON */
	/* With limits->items_key (YAML): 1-based positions of that sequence's items, n_items of
	 * them, valid during the callback; NULL when the document has no such sequence. */
	size_t n_items;
	const unsigned *item_lines;
	const unsigned *item_columns;
};

/* Called once per non-empty document, in order. doc is borrowed: it is released after the
 * callback returns (json_incref it to keep it). Return 0 to go on, negative to stop: the load
 * then returns that value. */
typedef int (*wf_yj_doc_fn)(void *userdata, json_t *doc, const struct wf_yj_docinfo *info);

/* Parses buf (len bytes, need not be NUL-terminated) and calls fn per document. file names
 * the input in diagnostics. limits may be NULL (defaults). Returns 0, the callback's negative
 * value, or: -WF_E_PARSE (syntax, invalid UTF-8, duplicate mapping key, unknown alias, too
 * deep, too many alias nodes), -WF_E_TOO_BIG (file or document over its cap), -ENOMEM; on
 * those errors diag (may be NULL) gets the position and a message. Documents seen before an
 * error have been handed to fn already. */
int wf_yj_load(const char *buf, size_t len, const char *file, const struct wf_yj_limits *limits,
	       wf_yj_doc_fn fn, void *userdata, struct wf_diag *diag);

/* Whether limits->scratch_arena takes effect in this process: false when another jansson
 * allocator was installed before (or over) weft's (loads then build ordinary trees).
 * Installs weft's allocator functions if that has not happened yet. Thread-safe. */
bool wf_yj_scratch_available(void);

/* One step of a path from a document root: a mapping key, or (key == NULL) a sequence index. */
struct wf_yj_step {
	const char *key;
	size_t index;
};

/* Finds the node at path (n steps) in document doc_index of buf and returns its 1-based line
 * and column. If the path leads nowhere, returns the position of the deepest node found.
 * Returns 0, or -ENOENT when the document itself is not found, or -WF_E_PARSE. */
int wf_yj_locate(const char *buf, size_t len, unsigned doc_index, const struct wf_yj_step *path,
		 size_t n, unsigned *ret_line, unsigned *ret_column);

/* Positions of the items of the sequence at path (typically a List's "items"), in one scan:
 * fills up to count (line, column) pairs into ret_lines/ret_columns. Returns the number of
 * items found (may exceed count), or -ENOENT / -WF_E_PARSE. */
int wf_yj_locate_items(const char *buf, size_t len, unsigned doc_index,
		       const struct wf_yj_step *path, size_t n, unsigned *ret_lines,
		       unsigned *ret_columns, size_t count);
