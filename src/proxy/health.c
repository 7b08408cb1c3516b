/* healthCheckNodePort servers (health.h). One thread, poll(2) over the listeners and at most a
 * few short-lived client sockets; requests are tiny and answered at once. */
#include "proxy/health.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/alloc.h"

#define MAX_PORTS 256
#define NAME_MAX_LEN 256

struct entry {
	uint16_t port;
	char namespace[NAME_MAX_LEN];
	char name[NAME_MAX_LEN];
	size_t local; /* ready local endpoints, summed over the service's ports and families */
};

struct wf_proxy_health {
	pthread_t thread;
	pthread_mutex_t lock;
	int wake[2]; /* pipe: update or stop */
	bool stop;
	size_t n; /* published table, under lock */
	struct entry table[MAX_PORTS];
	unsigned failed;
	/* thread-private */
	size_t n_listen;
	int listen_fd[MAX_PORTS];
	uint16_t listen_port[MAX_PORTS];
};

static int open_listener(uint16_t port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -errno;
	/* One dual-stack socket answers on every node address, IPv4 and IPv6. */
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(fd, 64) == -1) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Makes the listeners match the published table (thread side). */
static void refresh(struct wf_proxy_health *h)
{
	uint16_t want[MAX_PORTS];
	size_t n_want, k = 0;
	unsigned failed = 0;

	pthread_mutex_lock(&h->lock);
	n_want = h->n;
	for (size_t i = 0; i < n_want; i++)
		want[i] = h->table[i].port;
	pthread_mutex_unlock(&h->lock);
	for (size_t i = 0; i < h->n_listen; i++) {
		bool keep = false;

		for (size_t j = 0; j < n_want && !keep; j++)
			keep = want[j] == h->listen_port[i];
		if (keep) {
			h->listen_fd[k] = h->listen_fd[i];
			h->listen_port[k++] = h->listen_port[i];
		} else {
			close(h->listen_fd[i]);
		}
	}
	h->n_listen = k;
	for (size_t j = 0; j < n_want; j++) {
		bool have = false;
		int fd;

		for (size_t i = 0; i < h->n_listen && !have; i++)
			have = h->listen_port[i] == want[j];
		if (have)
			continue;
		fd = open_listener(want[j]);
		if (fd < 0) {
			failed++;
			continue;
		}
		h->listen_fd[h->n_listen] = fd;
		h->listen_port[h->n_listen++] = want[j];
	}
	pthread_mutex_lock(&h->lock);
	h->failed = failed;
	pthread_mutex_unlock(&h->lock);
}

static void answer(struct wf_proxy_health *h, int fd, uint16_t port)
{
	char req[2048], body[1024], resp[1536];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t got = 0, local = 0;
	bool found = false, healthz;
	int n;

	/* Short and bounded: a health checker sends a few hundred bytes at once. */
	while (got < sizeof(req) - 1 && poll(&p, 1, 1000) == 1) {
		ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = 0;
	healthz = !strncmp(req, "GET /healthz ", 13) || !strncmp(req, "GET /healthz?", 13) ||
		  !strncmp(req, "GET / ", 6);
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->n; i++) {
		if (h->table[i].port != port)
			continue;
		found = true;
		local = h->table[i].local;
		snprintf(
			body, sizeof(body),
			"{\"service\":{\"namespace\":\"%s\",\"name\":\"%s\"},\"localEndpoints\":%zu}\n",
			h->table[i].namespace, h->table[i].name, local);
		break;
	}
	pthread_mutex_unlock(&h->lock);
	if (!found || !healthz)
		n = snprintf(
			resp, sizeof(resp),
			"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	else
		n = snprintf(resp, sizeof(resp),
			     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
			     "X-Content-Type-Options: nosniff\r\nContent-Length: %zu\r\n"
			     "Connection: close\r\n\r\n%s",
			     local ? "200 OK" : "503 Service Unavailable", strlen(body), body);
	if (n > 0 && write(fd, resp, (size_t)n) < 0) {
		/* the client went away; nothing to do */
	}
}

static void *run(void *arg)
{
	struct wf_proxy_health *h = arg;
	struct pollfd p[MAX_PORTS + 1];

	for (;;) {
		bool stop;

		pthread_mutex_lock(&h->lock);
		stop = h->stop;
		pthread_mutex_unlock(&h->lock);
		if (stop)
			break;
		p[0] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
		for (size_t i = 0; i < h->n_listen; i++)
			p[i + 1] = (struct pollfd){.fd = h->listen_fd[i], .events = POLLIN};
		if (poll(p, h->n_listen + 1, -1) == -1)
			continue;
		if (p[0].revents) {
			char buf[64];

			while (read(h->wake[0], buf, sizeof(buf)) > 0)
				;
			refresh(h);
			continue;
		}
		for (size_t i = 0; i < h->n_listen; i++) {
			int c;

			if (!p[i + 1].revents)
				continue;
			c = accept4(h->listen_fd[i], NULL, NULL, SOCK_CLOEXEC);
			if (c == -1)
				continue;
			answer(h, c, h->listen_port[i]);
			close(c);
		}
	}
	for (size_t i = 0; i < h->n_listen; i++)
		close(h->listen_fd[i]);
	return NULL;
}

int wf_proxy_health_new(struct wf_proxy_health **ret)
{
	struct wf_proxy_health *h = wf_calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	if (pipe2(h->wake, O_NONBLOCK | O_CLOEXEC) == -1) {
		r = -errno;
		wf_free(h);
		return r;
	}
	pthread_mutex_init(&h->lock, NULL);
	r = -pthread_create(&h->thread, NULL, run, h);
	if (r) {
		close(h->wake[0]);
		close(h->wake[1]);
		pthread_mutex_destroy(&h->lock);
		wf_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

static void poke(struct wf_proxy_health *h)
{
	if (write(h->wake[1], "x", 1) < 0) {
		/* the pipe is full: the thread has a wake-up pending already */
	}
}

int wf_proxy_health_update(struct wf_proxy_health *h, const struct wf_proxy_model *m)
{
	struct entry *t = wf_calloc(MAX_PORTS, sizeof(*t));
	size_t n = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_svcs; i++) {
		const struct wf_proxy_svc *s = &m->svcs[i];
		size_t j;

		if (!s->health_check_node_port)
			continue;
		for (j = 0; j < n && t[j].port != s->health_check_node_port; j++)
			;
		if (j == n) {
			if (n == MAX_PORTS)
				continue;
			t[n].port = s->health_check_node_port;
			snprintf(t[n].namespace, sizeof(t[n].namespace), "%s", s->namespace);
			snprintf(t[n].name, sizeof(t[n].name), "%s", s->name);
			n++;
		}
		t[j].local += s->n_local_ready;
	}
	pthread_mutex_lock(&h->lock);
	memcpy(h->table, t, n * sizeof(*t));
	h->n = n;
	pthread_mutex_unlock(&h->lock);
	wf_free(t);
	poke(h);
	return 0;
}

unsigned wf_proxy_health_failed(const struct wf_proxy_health *h)
{
	unsigned f;

	pthread_mutex_lock((pthread_mutex_t *)&h->lock);
	f = h->failed;
	pthread_mutex_unlock((pthread_mutex_t *)&h->lock);
	return f;
}

void wf_proxy_health_free(struct wf_proxy_health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_mutex_unlock(&h->lock);
	poke(h);
	pthread_join(h->thread, NULL);
	close(h->wake[0]);
	close(h->wake[1]);
	pthread_mutex_destroy(&h->lock);
	wf_free(h);
}
