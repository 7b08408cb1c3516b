/* Loading an eBPF object with libbpf and saying why the kernel refused it. Built only when the
 * build has libbpf (bpf/meson.build: wf_have_bpf).
 *
 * Thread context: the agent's loop thread (libbpf's print hook is process-wide). */
#pragma once
#include <stddef.h>

struct bpf_object;

/* Starts keeping libbpf's warnings (instead of printing them): call before opening the object. */
void wf_bpf_log_begin(void);
/* bpf_object__load(obj). Returns 0; or -EOPNOTSUPP with err set to the kernel's refusal and
 * libbpf's last warning since wf_bpf_log_begin() (an old kernel, no BTF, no CAP_BPF...), which
 * is the reason. */
int wf_bpf_object_load(struct bpf_object *obj, char *err, size_t errlen);
