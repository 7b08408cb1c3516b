#include "lib/diag.h"

#include <stdio.h>
#include <string.h>

void wf_diag_clear(struct wf_diag *d)
{
	if (d)
		memset(d, 0, sizeof(*d));
}

void wf_diag_setv(struct wf_diag *d, const char *file, unsigned line, unsigned column,
		  const char *path, const char *fmt, va_list ap)
{
	if (!d)
		return;
	snprintf(d->file, sizeof(d->file), "%s", file ? file : "");
	snprintf(d->path, sizeof(d->path), "%s", path ? path : "");
	d->line = line;
	d->column = column;
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
}

void wf_diag_set(struct wf_diag *d, const char *file, unsigned line, unsigned column,
		 const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wf_diag_setv(d, file, line, column, path, fmt, ap);
	va_end(ap);
}

char *wf_diag_format(const struct wf_diag *d, char *buf, size_t len)
{
	size_t off = 0;
	int n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
#define APPEND(...)                                              \
	do {                                                     \
		n = snprintf(buf + off, len - off, __VA_ARGS__); \
		if (n < 0 || (size_t)n >= len - off)             \
			return buf;                              \
		off += (size_t)n;                                \
	} while (0)
	if (d->file[0]) {
		APPEND("%s:", d->file);
		if (d->line) {
			APPEND("%u:", d->line);
			if (d->column)
				APPEND("%u:", d->column);
		}
		APPEND(" ");
	}
	if (d->path[0])
		APPEND("%s: ", d->path);
	APPEND("%s", d->msg);
#undef APPEND
	return buf;
}
