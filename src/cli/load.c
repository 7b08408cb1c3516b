/* Loading manifests for one-shot commands. */
#include "cli/load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "k8s/store.h"
#include "lib/alloc.h"
#include "lib/diag.h"

int wf_cli_paths_add(struct wf_cli_paths *p, char *path)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		char **v = wf_reallocarray(p->paths, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->paths = v;
		p->cap = cap;
	}
	p->paths[p->n++] = path;
	return 0;
}

void wf_cli_paths_done(struct wf_cli_paths *p)
{
	wf_free(p->paths);
	p->paths = NULL;
	p->n = p->cap = 0;
}

struct load_ctx {
	FILE *out;
	size_t errors;
};

static void on_error(void *userdata, int err, const struct wf_diag *diag)
{
	struct load_ctx *c = userdata;
	char line[WF_DIAG_FILE_MAX + WF_DIAG_PATH_MAX + WF_DIAG_MSG_MAX + 32];
	fprintf(c->out, "%s\n", wf_diag_format(diag, line, sizeof(line)));
	c->errors++;
}

int wf_cli_load(struct wf_store *store, const struct wf_cli_paths *p, FILE *out,
		struct wf_source_dir_stats *ret_stats, size_t *ret_errors)
{
	struct load_ctx c = {.out = out};
	int r = wf_source_load_paths(store, (const char *const *)p->paths, p->n, on_error, &c,
				     ret_stats);
	if (r < 0)
		return r;
	*ret_errors = c.errors;
	return 0;
}

int wf_cli_load_new(const char *cmd, const char *usage, const struct wf_cli_paths *p, FILE *out,
		    struct wf_store **ret_store, struct wf_source_dir_stats *ret_stats,
		    size_t *ret_errors)
{
	struct wf_store *store = NULL;

	if (p->n == 0)
		return wf_cli_usage_error(cmd, usage, "no manifests given (use -f PATH)");
	if (wf_store_new(&store) < 0 || wf_cli_load(store, p, out, ret_stats, ret_errors) < 0) {
		wf_store_free(store);
		fprintf(stderr, "weft %s: %s\n", cmd, strerror(ENOMEM));
		return WF_CLI_EXIT_FAIL;
	}
	*ret_store = store;
	return WF_CLI_EXIT_OK;
}
