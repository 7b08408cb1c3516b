/* Logging: one logfmt line per event on stderr ("ts=... level=info sub=dns msg=\"...\" k=v"),
 * with a level per subsystem (WEFT_LOG="info,dns=debug,cni=warn" or wf_log_configure()).
 * Library code (src/lib, src/k8s) logs at debug at most; daemons log where they decide.
 * Thread-safe: each line is written with a single write(2). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum wf_log_level {
	WF_LOG_ERROR,
	WF_LOG_WARN,
	WF_LOG_INFO,
	WF_LOG_DEBUG,
};

/* Parses a spec such as "info,dns=debug". Returns 0 or -EINVAL (nothing changed). */
int wf_log_configure(const char *spec);
bool wf_log_enabled(const char *subsystem, enum wf_log_level level);
/* msg is free text (quoted as needed); the variadic part is a printf format producing
 * further logfmt pairs, e.g. wf_log(WF_LOG_INFO, "dns", "listening", "addr=%s", a). fmt may
 * be NULL. */
void wf_log(enum wf_log_level level, const char *subsystem, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Where lines go (default 2, stderr); returns the previous fd. For daemons that redirect and
 * for tests. */
int wf_log_set_fd(int fd);
/* Formats s as a logfmt value: as is when it needs no quotes, else quoted with \" \\ \n \t
 * \r and \u00XX escapes, truncated to fit size. Returns buf. For "%s" values in wf_log pairs:
 * char q[256]; wf_log_info("dns", "zone loaded", "name=%s", wf_log_quote(name, q, sizeof(q))); */
const char *wf_log_quote(const char *s, char *buf, size_t size);

#define wf_log_error(sub, msg, ...) wf_log(WF_LOG_ERROR, sub, msg, __VA_ARGS__)
#define wf_log_warn(sub, msg, ...) wf_log(WF_LOG_WARN, sub, msg, __VA_ARGS__)
#define wf_log_info(sub, msg, ...) wf_log(WF_LOG_INFO, sub, msg, __VA_ARGS__)
#define wf_log_debug(sub, msg, ...)                                  \
	do {                                                         \
		if (wf_log_enabled(sub, WF_LOG_DEBUG))               \
			wf_log(WF_LOG_DEBUG, sub, msg, __VA_ARGS__); \
	} while (0)
