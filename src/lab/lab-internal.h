/* weft lab internals shared by the files of src/lab; see docs/internals/lab.md. Not for other modules.
 *
 * Thread context: single-threaded; the CLI and the control-plane daemon are separate
 * processes that meet only through files in the state directory. */
#pragma once
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "lab/lab-types.h"

enum wf_lab_fabric {
	WF_LAB_FABRIC_VXLAN,
	WF_LAB_FABRIC_HOST_GW,
};

/* One lab: its name, where its state lives and how it was built (state dir's lab.json). */
struct wf_lab {
	char name[WF_LAB_NAME_MAX + 1];
	char dir[256];	 /* /run/weft/lab/<name> (or $WEFT_LAB_ROOT/<name>) */
	char self[4096]; /* the weft binary, for pods running weft echo and the daemon */
	char cni[4096];	 /* weft-cni, or "" for the built-in attachment (lab-temp.c) */
	unsigned nodes;	 /* node-1 ... node-N */
	enum wf_lab_fabric fabric;
	unsigned subnet;   /* underlay 172.30.<subnet>.0/24 */
	bool dns;	   /* the kube-dns addon is applied */
	bool agent;	   /* nodes run `weft agent`; else lab-temp.c routes between them */
	bool no_socket_lb; /* up --no-socket-lb: agents without socket-level load balancing */
};

/* ---- lab-util.c ---- */

/* Fills lab->name/dir (dir from $WEFT_LAB_ROOT or WF_LAB_STATE_ROOT) and lab->self. Returns 0,
 * or -EINVAL when name is not [a-z0-9-]{1,16} starting with a letter or digit. */
int wf_lab_init(struct wf_lab *lab, const char *name);
/* Reads and writes <dir>/lab.json. load returns -ENOENT when the lab does not exist. */
int wf_lab_load(struct wf_lab *lab);
int wf_lab_save(const struct wf_lab *lab);
/* <dir>/<fmt...> into buf (truncated paths are a bug: aborts). */
char *wf_lab_path(const struct wf_lab *lab, char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Namespace names: weft-<lab>-<what>; pods weft-<lab>-p-<8 hex of ns/name>. */
void wf_lab_netns_name(const struct wf_lab *lab, const char *what, char *buf, size_t size);
/* Appends one line to <dir>/created, the record down replays ("netns NAME", "pid PID START"). */
int wf_lab_record(const struct wf_lab *lab, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Runs argv[0] (searched in PATH) inside netns (a /run/netns name, or NULL: here), feeding
 * input (or /dev/null) on stdin; stdout goes to *ret_out (malloc'd, NUL-terminated) when
 * ret_out is not NULL, else to /dev/null; stderr to errbuf (truncated) when given. Returns the
 * exit status (0-255, 128+signal), or -errno when it could not run. */
int wf_lab_run(const char *netns, char *const argv[], const char *input, char **ret_out,
	       char *errbuf, size_t errlen);
/* `ip [-n netns] ARGS` where ARGS is fmt split at spaces. Returns 0, or -EIO with the command
 * and ip's message logged. */
int wf_lab_ip(const char *netns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `ip [-n netns] -batch -` fed with script. */
int wf_lab_ip_batch(const char *netns, const char *script);
/* Records then creates /run/netns/<name> (ip netns add). */
int wf_lab_netns_add(const struct wf_lab *lab, const char *name);
/* The same without running ip(8) (pods: start-up time), with lo up. Returns 0 or -errno. */
int wf_lab_netns_add_fast(const struct wf_lab *lab, const char *name);
/* Unmounts and removes /run/netns/<name>; 0 when it is not there. */
int wf_lab_netns_del_fast(const char *name);
/* setns(2) into /run/netns/<name>. Returns 0 or -errno. */
int wf_lab_netns_enter(const char *name);
/* Writes a file atomically (temp file + rename). Returns 0 or -errno. */
int wf_lab_write_atomic(const char *path, const char *data, size_t len);
/* Reads a whole file (NUL-terminated, malloc'd). Returns 0 or -errno (-EFBIG over 64 MiB). */
int wf_lab_read_file(const char *path, char **ret, size_t *ret_len);
/* Process start time (field 22 of /proc/PID/stat), 0 when the process is gone. */
unsigned long long wf_lab_proc_start(pid_t pid);
/* Removes a directory tree (no symlink following). Returns 0 or -errno; -ENOENT is 0. */
int wf_lab_rmtree(const char *path);
/* 32-bit FNV-1a. */
uint32_t wf_lab_hash(const char *s);
/* Monotonic seconds. */
double wf_lab_now(void);
/* Reads "<dir>/<file>" as an integer (0 when absent). */
long wf_lab_read_long(const char *path);
/* True when `<self> <cmd> --help` exits 0: that subcommand exists in this build. */
bool wf_lab_has_command(const struct wf_lab *lab, const char *cmd);

/* The lab's cgroups (the node's socket-level load balancer attaches to its node's):
 * <cgroup2 mount>/weft-lab-<name>, and below it one per node (node NULL: the lab's own). Fills
 * buf; returns 0, or -ENOENT when no cgroup v2 hierarchy is mounted. */
int wf_lab_cgroup_path(const struct wf_lab *lab, const char *node, char *buf, size_t size);
/* Records ("cgroup PATH" in <dir>/created) and creates the lab's cgroup and one per node. A
 * host without cgroup v2 gets none (0): the agents then run without socket-LB. */
int wf_lab_cgroups_add(const struct wf_lab *lab);
/* Moves the calling process into the cgroup directory dir, when it exists. Returns 0 or
 * -errno. */
int wf_lab_cgroup_join(const char *dir);
/* Removes the cgroups recorded in rec (the text of <dir>/created), deepest first, killing what
 * still runs in them (cgroup.kill: only processes inside our own cgroups). Returns 0, or the
 * first error with the path printed. */
int wf_lab_cgroups_del(char *rec);

/* ---- lab-manifest.c ---- */

/* One object read from a manifest. */
struct wf_lab_doc {
	json_t *obj;	/* one Kubernetes object (owned) */
	unsigned src;	/* the text it came from: index in wf_lab_docs.src */
	unsigned index; /* 0-based document number in that text */
	long item;	/* index in that document's List items, or -1 */
	unsigned line;	/* 1-based line of the object */
};

/* A manifest's text, kept so that a check can find a field's line (wf_yj_locate) when it
 * fails. */
struct wf_lab_src {
	char *name; /* the file, or a name such as "<dns addon>" (owned) */
	char *text; /* owned; NUL-terminated */
	size_t len;
};

struct wf_lab_docs {
	size_t n, cap;
	struct wf_lab_doc *v;
	size_t n_src, cap_src;
	struct wf_lab_src *src;
};

/* Loads YAML/JSON manifests from path (a file, or every .yaml, .yml and .json file of a directory
 * in name order) and appends their objects (List items flattened) to docs. Each file is checked
 * by wf_k8s_parse (k8s/object.h) first, all or nothing: syntax, kinds, every field. Returns 0,
 * -errno for an unreadable path, or wf_k8s_parse's codes (-WF_E_PARSE, -WF_E_INVALID,
 * -WF_E_UNKNOWN_KIND, -WF_E_DUPLICATE, -WF_E_TOO_BIG, -ENOMEM) with
 * "file:line:col: field.path: message" in err. */
int wf_lab_manifest_load(const char *path, struct wf_lab_docs *docs, char *err, size_t errlen);
/* The same for NUL-terminated YAML/JSON text named name in diagnostics (builtin manifests). */
int wf_lab_manifest_load_text(const char *text, const char *name, struct wf_lab_docs *docs,
			      char *err, size_t errlen);
/* Releases docs and zeroes it; takes a zeroed struct. */
void wf_lab_docs_done(struct wf_lab_docs *docs);
/* The checks only the lab can make, on loaded docs (as an API server's allocators and admission
 * would): kinds the lab runs, ClusterIPs and NodePorts in range, not taken by another Service
 * (the lab's current objects/ count, and earlier documents of docs) and ClusterIPs unchanged,
 * nodeName naming an existing node, containers with something to run, the lab's size limits.
 * Defaults metadata.namespace. Returns 0, -WF_E_INVALID, -WF_E_UNKNOWN_KIND, -WF_E_CONFLICT or
 * -ENOMEM with "file:line:col: field.path: message" in err. */
int wf_lab_manifest_validate(const struct wf_lab *lab, struct wf_lab_docs *docs, char *err,
			     size_t errlen);
/* "kind_namespace_name.json" for an object (cluster-scoped: "kind__name.json"). */
void wf_lab_object_file(const json_t *obj, char *buf, size_t size);

/* ---- lab-ctl.c: the control-plane daemon ---- */
int wf_lab_ctl_run(struct wf_lab *lab);

/* ---- lab-pod.c ---- */
struct wf_lab_spawn {
	const char *netns;  /* pod netns name */
	const char *resolv; /* file bind-mounted on /etc/resolv.conf, or NULL */
	const char *hosts;  /* on /etc/hosts, or NULL */
	const char *hostname;
	const char *log; /* stdout/stderr appended here, or NULL (inherit) */
	char *const *argv;
	char *const *env;   /* extra NAME=value entries, NULL-terminated, or NULL */
	unsigned timeout;   /* seconds before SIGKILL via alarm (exec probes), 0 none */
	const char *cgroup; /* cgroup v2 directory joined first (the node's), or NULL */
};
/* Forks a process that enters the pod's network namespace and a private mount (and UTS)
 * namespace, bind-mounts resolv/hosts, and execs argv (PATH searched). It is the leader of its
 * own process group. Returns the pid or -errno. */
pid_t wf_lab_spawn(const struct wf_lab_spawn *s);
/* The same in the calling process (for `lab exec`): does not return on success. */
int wf_lab_enter_exec(const struct wf_lab_spawn *s);

/* ---- lab-show.c ---- */
int wf_lab_cmd_get(const struct wf_lab *lab, int argc, char **argv);
int wf_lab_cmd_status(const struct wf_lab *lab);
/* Loads every object of <dir>/objects (sorted by file name) into a new array, or NULL when the
 * directory cannot be read. */
json_t *wf_lab_objects_load(const struct wf_lab *lab);
