#include "lib/buf.h"

#include <errno.h>
#include <stdio.h>

#include "lib/alloc.h"
#include "lib/error.h"

#define MIN_SIZE 64

void wf_buf_init(struct wf_buf *b, size_t max)
{
	*b = WF_BUF_INIT(max);
}

void wf_buf_done(struct wf_buf *b)
{
	wf_free(b->mem);
	size_t max = b->max;
	*b = (struct wf_buf){.max = max};
}

/* Makes room for n more bytes of content plus `extra` bytes beyond the cap (the NUL of
 * wf_buf_cstr). */
static int make_room(struct wf_buf *b, size_t n, size_t extra)
{
	if (n > b->max - b->len)
		return -WF_E_TOO_BIG;
	if (n + extra <= wf_buf_room(b))
		return 0;
	size_t need = b->len + n + extra;
	if (need <= b->size) {
		/* Enough space overall: reclaim what was consumed from the front. */
		memmove(b->mem, b->mem + b->off, b->len);
		b->off = 0;
		return 0;
	}
	size_t size = b->size < MIN_SIZE ? MIN_SIZE : b->size;
	while (size < need)
		size *= 2;
	if (size > b->max + 1)
		size = b->max + 1 > need ? b->max + 1 : need;
	if (b->off) {
		memmove(b->mem, b->mem + b->off, b->len);
		b->off = 0;
	}
	unsigned char *mem = wf_realloc(b->mem, size);
	if (!mem)
		return -ENOMEM;
	b->mem = mem;
	b->size = size;
	return 0;
}

int wf_buf_reserve(struct wf_buf *b, size_t n)
{
	return make_room(b, n, 0);
}

int wf_buf_append_slow_(struct wf_buf *b, const void *p, size_t n)
{
	int r = make_room(b, n, 0);
	if (r < 0)
		return r;
	if (n)
		memcpy(wf_buf_tail(b), p, n);
	b->len += n;
	return 0;
}

int wf_buf_vprintf(struct wf_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	/* First try into the space already there; most appends fit. */
	va_copy(aq, ap);
	size_t room = wf_buf_room(b);
	int n = vsnprintf(room ? (char *)wf_buf_tail(b) : NULL, room, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < room) {
		if ((size_t)n > b->max - b->len)
			return -WF_E_TOO_BIG;
		b->len += (size_t)n;
		return 0;
	}
	int r = make_room(b, (size_t)n, 1); /* vsnprintf writes a NUL */
	if (r < 0)
		return r;
	vsnprintf((char *)wf_buf_tail(b), (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int wf_buf_printf(struct wf_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = wf_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void wf_buf_consume(struct wf_buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = 0;
		b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

void wf_buf_clear(struct wf_buf *b)
{
	b->off = 0;
	b->len = 0;
}

void wf_buf_truncate(struct wf_buf *b, size_t len)
{
	if (len < b->len)
		b->len = len;
}

char *wf_buf_cstr(struct wf_buf *b)
{
	if (make_room(b, 0, 1) < 0)
		return NULL;
	*wf_buf_tail(b) = '\0';
	return (char *)wf_buf_data(b);
}

char *wf_buf_steal(struct wf_buf *b, size_t *ret_len)
{
	if (!wf_buf_cstr(b))
		return NULL;
	if (b->off) {
		memmove(b->mem, b->mem + b->off, b->len + 1);
		b->off = 0;
	}
	char *s = (char *)b->mem;
	if (ret_len)
		*ret_len = b->len;
	*b = (struct wf_buf){.max = b->max};
	return s;
}
