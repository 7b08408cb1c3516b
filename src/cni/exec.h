/* Child processes for weft-cni: delegated plugins, nft, tc. */
#pragma once
#include <stddef.h>

/* Runs path with argv and the current environment, feeding in (in_len bytes) on its stdin.
 * Its stdout is returned in *ret_out (NUL-terminated, caller frees with wf_free; capped at
 * 1 MiB) when ret_out is non-NULL. Its stderr goes to errbuf (NUL-terminated, truncated) or,
 * with errsize 0, to our stderr. Returns the exit status (0-255, 128+signal) or -errno when it
 * could not run. */
int wf_cni_exec(const char *path, char *const argv[], const char *in, size_t in_len, char **ret_out,
		size_t *ret_out_len, char *errbuf, size_t errsize);
/* Finds a system tool (nft, tc) in the sbin/bin directories. */
int wf_cni_find_tool(const char *name, char *buf, size_t size);
/* Finds plugin type in the ':'-separated CNI_PATH. */
int wf_cni_find_plugin(const char *cni_path, const char *type, char *buf, size_t size);
