#pragma once
#include <stddef.h>

/* A growable byte buffer with a hard cap, embeddable (wf_buf_init/wf_buf_done). The content is
 * mem[off .. off+len); bytes consumed from the front advance off, and the space is reclaimed
 * when the buffer next grows. Use the accessors in lib/buf.h rather than the fields. */
struct wf_buf {
	unsigned char *mem;
	size_t off;  /* start of the content in mem */
	size_t len;  /* bytes of content */
	size_t size; /* bytes allocated at mem */
	size_t max;  /* cap on len */
};

/* Cap used for "no cap" (max 0 at init). */
#define WF_BUF_NO_CAP ((size_t)-1 / 4)
/* Static initialiser, same as wf_buf_init(b, cap). */
#define WF_BUF_INIT(cap) ((struct wf_buf){.max = (cap) ? (cap) : WF_BUF_NO_CAP})
