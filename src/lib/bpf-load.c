/* wf_bpf_object_load (bpf-load.h): one print hook for every weft module that loads eBPF, so
 * that the warning kept is the one of the load that failed, whoever loaded last. */
#include "lib/bpf-load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

static char last[200]; /* libbpf's last warning during the current load */

static int keep_warning(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN) {
		vsnprintf(last, sizeof(last), fmt, ap);
		last[strcspn(last, "\n")] = 0;
	}
	return 0;
}

void wf_bpf_log_begin(void)
{
	libbpf_set_print(keep_warning);
	last[0] = 0;
}

int wf_bpf_object_load(struct bpf_object *obj, char *err, size_t errlen)
{
	int r = bpf_object__load(obj);

	if (r == 0)
		return 0;
	snprintf(err, errlen, "the kernel refused the eBPF programs: %s%s%s", strerror(-r),
		 last[0] ? ": " : "", last);
	return -EOPNOTSUPP;
}
