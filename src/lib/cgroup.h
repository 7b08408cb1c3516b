/* cgroup v2 helpers (no Kubernetes knowledge).
 *
 * Thread context: any. */
#pragma once
#include <stddef.h>

/* The mount point of the cgroup v2 hierarchy (the first cgroup2 entry of /proc/self/mountinfo:
 * /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one) into buf. Returns 0,
 * -ENOENT when none is mounted, -ENAMETOOLONG, or -errno reading mountinfo. */
int wf_cgroup2_root(char *buf, size_t size);
