/* Logging: one logfmt line per event on stderr ("ts=... level=info sub=dns msg=\"...\" k=v"),
 * with a level per subsystem (WEFT_LOG="info,dns=debug,cni=warn" or wf_log_configure()).
 * Library code (src/lib, src/k8s) logs at debug at most; daemons log where they decide.
 * Thread-safe: each line is written with a single write(2). */
#pragma once
#include <stdbool.h>

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

#define wf_log_error(sub, msg, ...) wf_log(WF_LOG_ERROR, sub, msg, __VA_ARGS__)
#define wf_log_warn(sub, msg, ...) wf_log(WF_LOG_WARN, sub, msg, __VA_ARGS__)
#define wf_log_info(sub, msg, ...) wf_log(WF_LOG_INFO, sub, msg, __VA_ARGS__)
#define wf_log_debug(sub, msg, ...)                                                    \
	do {                                                                           \
		if (wf_log_enabled(sub, WF_LOG_DEBUG))                                 \
			wf_log(WF_LOG_DEBUG, sub, msg, __VA_ARGS__);                   \
	} while (0)
