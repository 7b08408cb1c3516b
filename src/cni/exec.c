/* Running other programs: delegated plugins (SPEC.md "Delegated plugins"), nft and tc. Only an
 * ADD that asks for ipMasq, portMappings or bandwidth pays for a process; a plain ADD runs
 * none. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cni/exec.h"
#include "lib/alloc.h"

extern char **environ;

#define OUT_CAP (1 << 20)

int wf_cni_exec(const char *path, char *const argv[], const char *in, size_t in_len, char **ret_out,
		size_t *ret_out_len, char *errbuf, size_t errsize)
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int ret, status;
	char *out = NULL;
	size_t out_len = 0, err_len = 0;

	if (errsize)
		errbuf[0] = 0;
	if (pipe2(pin, O_CLOEXEC) == -1 || pipe2(pout, O_CLOEXEC) == -1 ||
	    pipe2(perr, O_CLOEXEC) == -1) {
		ret = -errno;
		goto out_pipes;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	ret = -posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret < 0)
		goto out_pipes;
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	pin[0] = pout[1] = perr[1] = -1;

	out = wf_malloc(OUT_CAP + 1);
	if (!out) {
		ret = -ENOMEM;
		/* still reap the child below */
	}
	size_t in_off = 0;
	if (in_len == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	while (pout[0] >= 0 || perr[0] >= 0) {
		struct pollfd p[3] = {{.fd = pout[0], .events = POLLIN},
				      {.fd = perr[0], .events = POLLIN},
				      {.fd = pin[1], .events = POLLOUT}};
		if (poll(p, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents) {
			ssize_t n = write(pin[1], in + in_off, in_len - in_off);
			if (n > 0)
				in_off += (size_t)n;
			if (n <= 0 || in_off == in_len) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			char tmp[4096];
			ssize_t n = read(p[i].fd, tmp, sizeof(tmp));
			if (n <= 0) {
				close(p[i].fd);
				if (i == 0)
					pout[0] = -1;
				else
					perr[0] = -1;
				continue;
			}
			if (i == 0 && out && out_len + (size_t)n <= OUT_CAP) {
				memcpy(out + out_len, tmp, (size_t)n);
				out_len += (size_t)n;
			} else if (i == 1) {
				/* a delegated plugin's stderr is ours too (SPEC.md) */
				if (!errsize)
					(void)!write(2, tmp, (size_t)n);
				else if (err_len + 1 < errsize) {
					size_t c = (size_t)n < errsize - err_len - 1
							   ? (size_t)n
							   : errsize - err_len - 1;
					memcpy(errbuf + err_len, tmp, c);
					err_len += c;
					errbuf[err_len] = 0;
				}
			}
		}
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (ret < 0)
		goto out_pipes;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (out)
		out[out_len] = 0;
	if (ret_out) {
		*ret_out = out;
		*ret_out_len = out_len;
		out = NULL;
	}
out_pipes:
	wf_free(out);
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	return ret;
}

int wf_cni_find_tool(const char *name, char *buf, size_t size)
{
	static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
	for (unsigned i = 0; i < 4; i++) {
		snprintf(buf, size, "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int wf_cni_find_plugin(const char *cni_path, const char *type, char *buf, size_t size)
{
	if (!cni_path || strchr(type, '/'))
		return -ENOENT;
	const char *p = cni_path;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len && (size_t)snprintf(buf, size, "%.*s/%s", (int)len, p, type) < size) {
			struct stat st;
			if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
				return 0;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return -ENOENT;
}
