/* Admin HTTP endpoint (docs/internals/metrics.md). */
#include "lib/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/metrics.h"

struct wf_admin {
	int fd;
	int stop_fd;
	unsigned port;
	pthread_t thread;
	struct wf_metrics *metrics;
	wf_admin_ready_fn ready;
	void *data;
};

int wf_admin_parse_addr(const char *s, struct sockaddr_storage *ret, unsigned *ret_len)
{
	char host[128];
	const char *colon, *h = host;
	char *end;
	long port;

	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (!host[0])
			h = "0.0.0.0";
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ret;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;
	if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static void send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void reply(int fd, int code, const char *reason, const char *ctype, const char *body,
		  size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code, reason, ctype, len);

	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

static void serve(struct wf_admin *a, int fd)
{
	char req[2048], method[16], path[256];
	size_t len = 0;

	/* Read until the end of the request head (we take no bodies). */
	while (len < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	if (sscanf(req, "%15s %255s", method, path) != 2) {
		reply(fd, 400, "Bad Request", "text/plain", "bad request\n", 12);
		return;
	}
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		reply(fd, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19);
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		reply(fd, 200, "OK", "text/plain", "ok\n", 3);
	} else if (strcmp(path, "/readyz") == 0) {
		if (!a->ready || a->ready(a->data))
			reply(fd, 200, "OK", "text/plain", "ready\n", 6);
		else
			reply(fd, 503, "Service Unavailable", "text/plain", "not ready\n", 10);
	} else if (strcmp(path, "/metrics") == 0) {
		char *text = NULL;
		size_t tlen = 0;
		if (!a->metrics) {
			reply(fd, 200, "OK", "text/plain; version=0.0.4", "", 0);
		} else if (wf_metrics_render(a->metrics, &text, &tlen) == 0) {
			reply(fd, 200, "OK", "text/plain; version=0.0.4", text, tlen);
			wf_free(text);
		} else {
			reply(fd, 500, "Internal Server Error", "text/plain", "out of memory\n",
			      14);
		}
	} else {
		reply(fd, 404, "Not Found", "text/plain", "not found\n", 10);
	}
}

static void *admin_thread(void *arg)
{
	struct wf_admin *a = arg;
	struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN},
			      {.fd = a->stop_fd, .events = POLLIN}};

	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int c = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c == -1)
			continue;
		struct timeval tv = {.tv_sec = 2};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve(a, c);
		close(c);
	}
	return NULL;
}

int wf_admin_start(const char *listen_addr, struct wf_metrics *metrics, wf_admin_ready_fn ready,
		   void *data, struct wf_admin **ret)
{
	struct sockaddr_storage ss;
	unsigned sl;
	struct wf_admin *a;
	int one = 1, rc;

	rc = wf_admin_parse_addr(listen_addr, &ss, &sl);
	if (rc < 0)
		return rc;
	a = wf_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->metrics = metrics;
	a->ready = ready;
	a->data = data;
	a->stop_fd = -1;
	a->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->fd == -1) {
		rc = -errno;
		goto free_admin;
	}
	setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(a->fd, (struct sockaddr *)&ss, sl) == -1 || listen(a->fd, 64) == -1) {
		rc = -errno;
		goto close_fd;
	}
	if (getsockname(a->fd, (struct sockaddr *)&ss, &(socklen_t){sizeof(ss)}) == -1) {
		rc = -errno;
		goto close_fd;
	}
	a->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	a->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (a->stop_fd == -1) {
		rc = -errno;
		goto close_fd;
	}
	rc = -pthread_create(&a->thread, NULL, admin_thread, a);
	if (rc < 0)
		goto close_stop;
	*ret = a;
	return 0;

close_stop:
	close(a->stop_fd);
close_fd:
	close(a->fd);
free_admin:
	wf_free(a);
	return rc;
}

unsigned wf_admin_port(const struct wf_admin *a)
{
	return a->port;
}

void wf_admin_stop(struct wf_admin *a)
{
	if (!a)
		return;
	uint64_t one = 1;
	if (write(a->stop_fd, &one, sizeof(one)) == -1) {
		/* eventfd writes cannot fail short of overflow; nothing to do */
	}
	pthread_join(a->thread, NULL);
	close(a->stop_fd);
	close(a->fd);
	wf_free(a);
}
