/* Growable byte buffer with a hard cap: for I/O (read into the tail, consume from the front),
 * for building text (printf-append), for serialising wire formats. Not thread-safe: a buffer
 * belongs to one connection or job.
 *
 * Errors: -ENOMEM when allocation fails; -WF_E_TOO_BIG when the content would exceed the cap
 * (the buffer is unchanged in both cases). */
#pragma once
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "lib/buf-types.h"

/* max: cap on the content in bytes; 0 means no cap (avoid it for anything fed from outside).
 * Allocates nothing until the first append. */
void wf_buf_init(struct wf_buf *b, size_t max);
/* Frees the memory; the buffer may be initialised again. */
void wf_buf_done(struct wf_buf *b);

static inline unsigned char *wf_buf_data(const struct wf_buf *b)
{
	return b->mem + b->off;
}

static inline size_t wf_buf_len(const struct wf_buf *b)
{
	return b->len;
}

/* Bytes writable at the tail without growing. */
static inline size_t wf_buf_room(const struct wf_buf *b)
{
	return b->size - b->off - b->len;
}

static inline unsigned char *wf_buf_tail(const struct wf_buf *b)
{
	return b->mem + b->off + b->len;
}

/* Makes at least n bytes writable at wf_buf_tail() (moving the content to the front or
 * growing). Returns 0, -ENOMEM or -WF_E_TOO_BIG when len + n would exceed the cap. */
int wf_buf_reserve(struct wf_buf *b, size_t n);
/* Counts n bytes written at the tail (after wf_buf_reserve, e.g. by read(2)) as content.
 * n must not exceed wf_buf_room(). */
static inline void wf_buf_commit(struct wf_buf *b, size_t n)
{
	b->len += n;
}

int wf_buf_append_slow_(struct wf_buf *b, const void *p, size_t n);

/* Appends n bytes; 0, -ENOMEM or -WF_E_TOO_BIG. */
static inline int wf_buf_append(struct wf_buf *b, const void *p, size_t n)
{
	if (n <= wf_buf_room(b) && n <= b->max - b->len) {
		if (n)
			memcpy(wf_buf_tail(b), p, n);
		b->len += n;
		return 0;
	}
	return wf_buf_append_slow_(b, p, n);
}

static inline int wf_buf_append_str(struct wf_buf *b, const char *s)
{
	return wf_buf_append(b, s, strlen(s));
}

static inline int wf_buf_append_byte(struct wf_buf *b, uint8_t c)
{
	return wf_buf_append(b, &c, 1);
}

/* Appends formatted text (no NUL); 0, -ENOMEM, -WF_E_TOO_BIG or -EINVAL (bad format). */
int wf_buf_printf(struct wf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int wf_buf_vprintf(struct wf_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drops n bytes from the front (n is clamped to the length). O(1). */
void wf_buf_consume(struct wf_buf *b, size_t n);
/* Empties the buffer, keeping its memory. */
void wf_buf_clear(struct wf_buf *b);
/* Truncates the content to len bytes (no-op when already shorter). */
void wf_buf_truncate(struct wf_buf *b, size_t len);

/* The content as a C string: a NUL is kept after the content (not counted in the length; it
 * may take one byte over the cap). Returns NULL on ENOMEM. Valid until the buffer changes. */
char *wf_buf_cstr(struct wf_buf *b);
/* Hands the content over as a NUL-terminated string allocated with wf_malloc (the caller
 * frees it with wf_free) and leaves the buffer empty. *ret_len (optional) gets the length.
 * NULL on ENOMEM (buffer unchanged). */
char *wf_buf_steal(struct wf_buf *b, size_t *ret_len);
