/* Diagnostics for parse and validation errors: where (file, line, column, field path) and what.
 * A struct wf_diag is caller-owned and fixed-size (strings are truncated, never allocated), so
 * filling one on an out-of-memory path cannot fail. Thread-safe: no shared state. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

#define WF_DIAG_FILE_MAX 256
#define WF_DIAG_PATH_MAX 256
#define WF_DIAG_MSG_MAX 512

struct wf_diag {
	char file[WF_DIAG_FILE_MAX]; /* "" when unknown */
	unsigned line;		     /* 1-based; 0 when unknown */
	unsigned column;	     /* 1-based; 0 when unknown */
	char path[WF_DIAG_PATH_MAX]; /* field path, e.g. "spec.ports[1].targetPort"; may be "" */
	char msg[WF_DIAG_MSG_MAX];
};

/* Clears d (empty strings, zero position). Takes NULL. */
void wf_diag_clear(struct wf_diag *d);
/* Fills d; any of file/path may be NULL. Takes NULL d (then does nothing). */
void wf_diag_set(struct wf_diag *d, const char *file, unsigned line, unsigned column,
		 const char *path, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void wf_diag_setv(struct wf_diag *d, const char *file, unsigned line, unsigned column,
		  const char *path, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));
/* Formats "file:line:col: path: msg" into buf (parts that are unknown are left out:
 * "file: msg", "file:line: msg"). Returns buf; always NUL-terminates when len > 0. */
char *wf_diag_format(const struct wf_diag *d, char *buf, size_t len);
