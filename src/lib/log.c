#include "lib/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"

#define MAX_SUBS 32
#define SUB_NAME_MAX 24

/* A configuration is immutable once published. wf_log_configure publishes a new one with an
 * atomic pointer store; the old one stays allocated (reachable through prev) because a reader
 * may still be looking at it. Configurations change a handful of times per process. */
struct log_config {
	struct log_config *prev;
	unsigned char def; /* level for subsystems without an entry */
	unsigned char max; /* highest level anything is enabled at: the fast "no" */
	unsigned n;
	struct {
		char name[SUB_NAME_MAX];
		unsigned char level;
	} subs[MAX_SUBS];
};

static struct log_config initial = {.def = WF_LOG_INFO, .max = WF_LOG_INFO};
static _Atomic(struct log_config *) current;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static atomic_int log_fd = 2;

static const char *const level_names[] = {
	[WF_LOG_ERROR] = "error",
	[WF_LOG_WARN] = "warn",
	[WF_LOG_INFO] = "info",
	[WF_LOG_DEBUG] = "debug",
};

static int parse_level(const char *s, size_t len)
{
	for (int l = WF_LOG_ERROR; l <= WF_LOG_DEBUG; l++)
		if (strlen(level_names[l]) == len && strncasecmp(s, level_names[l], len) == 0)
			return l;
	/* Common aliases. */
	if (len == 7 && strncasecmp(s, "warning", 7) == 0)
		return WF_LOG_WARN;
	return -EINVAL;
}

static size_t trim(const char **s, size_t len)
{
	while (len && (**s == ' ' || **s == '\t'))
		(*s)++, len--;
	while (len && ((*s)[len - 1] == ' ' || (*s)[len - 1] == '\t'))
		len--;
	return len;
}

/* Parses spec into cfg (which the caller zeroed). */
static int parse_spec(const char *spec, struct log_config *cfg)
{
	cfg->def = WF_LOG_INFO;
	cfg->n = 0;
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *item = p;
		p = end ? end + 1 : p + len;
		len = trim(&item, len);
		if (len == 0)
			continue;
		const char *eq = memchr(item, '=', len);
		if (!eq) {
			int l = parse_level(item, len);
			if (l < 0)
				return -EINVAL;
			cfg->def = (unsigned char)l;
			continue;
		}
		const char *name = item;
		size_t nlen = trim(&name, (size_t)(eq - item));
		const char *lv = eq + 1;
		size_t lvlen = trim(&lv, len - (size_t)(eq - item) - 1);
		int l = parse_level(lv, lvlen);
		if (l < 0 || nlen == 0 || nlen >= SUB_NAME_MAX)
			return -EINVAL;
		unsigned i;
		for (i = 0; i < cfg->n; i++)
			if (strlen(cfg->subs[i].name) == nlen &&
			    memcmp(cfg->subs[i].name, name, nlen) == 0)
				break;
		if (i == cfg->n) {
			if (cfg->n == MAX_SUBS)
				return -EINVAL;
			cfg->n++;
		}
		memcpy(cfg->subs[i].name, name, nlen);
		cfg->subs[i].name[nlen] = '\0';
		cfg->subs[i].level = (unsigned char)l;
	}
	cfg->max = cfg->def;
	for (unsigned i = 0; i < cfg->n; i++)
		if (cfg->subs[i].level > cfg->max)
			cfg->max = cfg->subs[i].level;
	return 0;
}

static void init_from_env(void)
{
	const char *spec = getenv("WEFT_LOG");
	if (spec && parse_spec(spec, &initial) < 0) {
		memset(&initial, 0, sizeof(initial));
		initial.def = initial.max = WF_LOG_INFO;
		static const char msg[] =
			"level=warn sub=log msg=\"invalid WEFT_LOG, using info\"\n";
		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* nothing better to do */
		}
	}
	atomic_store_explicit(&current, &initial, memory_order_release);
}

static const struct log_config *config(void)
{
	struct log_config *c = atomic_load_explicit(&current, memory_order_acquire);
	if (__builtin_expect(c != NULL, 1))
		return c;
	pthread_once(&init_once, init_from_env);
	return atomic_load_explicit(&current, memory_order_acquire);
}

int wf_log_configure(const char *spec)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

	if (!spec)
		return -EINVAL;
	struct log_config *c = wf_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (parse_spec(spec, c) < 0) {
		wf_free(c);
		return -EINVAL;
	}
	config(); /* the environment must not override this later */
	pthread_mutex_lock(&lock);
	c->prev = atomic_load(&current);
	atomic_store_explicit(&current, c, memory_order_release);
	pthread_mutex_unlock(&lock);
	return 0;
}

bool wf_log_enabled(const char *subsystem, enum wf_log_level level)
{
	const struct log_config *c = config();
	if ((unsigned)level > c->max)
		return false;
	if (subsystem)
		for (unsigned i = 0; i < c->n; i++)
			if (strcmp(c->subs[i].name, subsystem) == 0)
				return (unsigned)level <= c->subs[i].level;
	return (unsigned)level <= c->def;
}

int wf_log_set_fd(int fd)
{
	return atomic_exchange(&log_fd, fd);
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= ' ' || ch == '=' || ch == '"' || ch == '\\' || ch == 0x7f)
			return true;
	}
	return false;
}

/* Appends s quoted and escaped to buf[*pos..size), truncating. */
static void append_quoted(char *buf, size_t size, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t p = *pos;

#define PUT(ch)                          \
	do {                             \
		if (p + 1 < size)        \
			buf[p++] = (ch); \
	} while (0)
	PUT('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (p + 8 >= size)
			break;
		switch (ch) {
		case '"':
		case '\\':
			PUT('\\');
			PUT((char)ch);
			break;
		case '\n':
			PUT('\\');
			PUT('n');
			break;
		case '\t':
			PUT('\\');
			PUT('t');
			break;
		case '\r':
			PUT('\\');
			PUT('r');
			break;
		default:
			if (ch < ' ' || ch == 0x7f) {
				PUT('\\');
				PUT('u');
				PUT('0');
				PUT('0');
				PUT(hex[ch >> 4]);
				PUT(hex[ch & 15]);
			} else {
				PUT((char)ch);
			}
		}
	}
	PUT('"');
#undef PUT
	buf[p] = '\0';
	*pos = p;
}

const char *wf_log_quote(const char *s, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	if (!s)
		s = "";
	if (!needs_quotes(s)) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	size_t pos = 0;
	append_quoted(buf, size, &pos, s);
	return buf;
}

#define LINE_MAX_BYTES 4096

void wf_log(enum wf_log_level level, const char *subsystem, const char *msg, const char *fmt, ...)
{
	if (!wf_log_enabled(subsystem, level))
		return;

	char line[LINE_MAX_BYTES];
	size_t pos = 0;
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	pos += strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line + pos, sizeof(line) - pos, ".%03ldZ level=%s", ts.tv_nsec / 1000000,
			 (unsigned)level <= WF_LOG_DEBUG ? level_names[level] : "?");
	pos += (size_t)n;
	if (subsystem) {
		n = snprintf(line + pos, sizeof(line) - pos, " sub=%s", subsystem);
		pos += (size_t)n;
	}
	memcpy(line + pos, " msg=", 5);
	pos += 5;
	/* Room is kept for a space, at least the NUL vsnprintf writes, and the newline. */
	append_quoted(line, sizeof(line) - 2, &pos, msg ? msg : "");
	if (fmt && *fmt) {
		line[pos++] = ' ';
		size_t avail = sizeof(line) - 1 - pos;
		va_list ap;
		va_start(ap, fmt);
		n = vsnprintf(line + pos, avail, fmt, ap);
		va_end(ap);
		if (n > 0)
			pos += (size_t)n < avail ? (size_t)n : avail - 1;
		else
			pos--; /* no pairs after all: drop the space */
	}
	line[pos++] = '\n';
	/* One write(2) per line: lines from several threads never interleave. */
	if (write(atomic_load(&log_fd), line, pos) < 0) {
		/* Logging has nowhere to report its own failure. */
	}
}
