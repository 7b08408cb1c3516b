/* weft lab: running a pod's processes the way a container runtime would, minus images: in the
 * pod's network namespace, with a private mount namespace that shows the pod its own
 * /etc/resolv.conf and /etc/hosts (DESIGN.md "The lab"), and its own UTS namespace (hostname). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "lab/lab-internal.h"

int wf_lab_enter_exec(const struct wf_lab_spawn *s)
{
	int r;

	/* the node's cgroup first: its socket-level load balancer serves the pod's sockets */
	if (s->cgroup && (r = wf_lab_cgroup_join(s->cgroup)) < 0 && r != -ENOENT)
		fprintf(stderr, "weft lab: cannot join cgroup %s: %s\n", s->cgroup, strerror(-r));
	r = wf_lab_netns_enter(s->netns);
	if (r < 0) {
		fprintf(stderr, "weft lab: cannot enter network namespace %s: %s\n", s->netns,
			strerror(-r));
		return r;
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS) == -1) {
		r = -errno;
		fprintf(stderr, "weft lab: unshare: %m\n");
		return r;
	}
	/* Slave, as ip-netns(8) does: the bind mounts below never propagate back to the host,
	 * while the host's unmounts (a deleted pod's /run/netns entry) still reach this copy - a
	 * private copy would pin every other pod's network namespace for as long as we live. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == -1) {
		r = -errno;
		fprintf(stderr, "weft lab: making mounts slave: %m\n");
		return r;
	}
	if (s->resolv && mount(s->resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL) == -1) {
		r = -errno;
		fprintf(stderr, "weft lab: bind-mounting %s on /etc/resolv.conf: %m\n", s->resolv);
		return r;
	}
	if (s->hosts && mount(s->hosts, "/etc/hosts", NULL, MS_BIND, NULL) == -1) {
		r = -errno;
		fprintf(stderr, "weft lab: bind-mounting %s on /etc/hosts: %m\n", s->hosts);
		return r;
	}
	if (s->hostname && sethostname(s->hostname, strnlen(s->hostname, 64)) == -1)
		fprintf(stderr, "weft lab: sethostname: %m\n");
	for (char *const *e = s->env; e && *e; e++)
		putenv(*e);
	if (s->timeout)
		alarm(s->timeout);
	execvp(s->argv[0], s->argv);
	r = -errno;
	fprintf(stderr, "weft lab: cannot run %s: %m\n", s->argv[0]);
	return r;
}

pid_t wf_lab_spawn(const struct wf_lab_spawn *s)
{
	pid_t pid = fork();

	if (pid == -1)
		return -errno;
	if (pid > 0)
		return pid;
	/* Child: its own session, so termination signals reach every process it starts. */
	setsid();
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	{
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
	}
	if (s->log) {
		int fd = open(s->log, O_WRONLY | O_APPEND | O_CREAT, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
	{
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0) {
			dup2(null, 0);
			close(null);
		}
	}
	wf_lab_enter_exec(s);
	_exit(127);
}
