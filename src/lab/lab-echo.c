/* weft echo: the built-in server of image weft/echo (issue 4, item 5). It listens on every
 * port given (--port N[/TCP|/UDP], 8080/TCP when none) and answers with its pod's name,
 * namespace and node and the client's address as it saw it: HTTP/1.1 on TCP ports, one datagram
 * back on UDP ports. Single-threaded, one poll loop; each connection gets a 2 s read timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lab/lab.h"

#define ECHO_MAX_PORTS 32

struct echo_id {
	const char *pod, *ns, *node;
};

static int echo_listen(int port, bool udp)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Dual-stack: IPv4 clients appear as ::ffff:a.b.c.d and are printed as IPv4. */
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 || (!udp && listen(fd, 128) == -1)) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static void peer_text(const struct sockaddr_in6 *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
		inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(a->sin6_port));
	} else {
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(a->sin6_port));
	}
}

static int id_line(const struct echo_id *id, const char *client, int port, const char *proto,
		   char *buf, size_t size)
{
	return snprintf(buf, size, "pod=%s namespace=%s node=%s client=%s port=%d/%s\n", id->pod,
			id->ns, id->node, client, port, proto);
}

static void serve_http(int lfd, int port, const struct echo_id *id)
{
	struct sockaddr_in6 a;
	socklen_t alen = sizeof(a);
	struct timeval tv = {.tv_sec = 2};
	char req[8192], body[512], client[80], resp[1024], path[256] = "/";
	size_t got = 0;
	int fd, blen, n;

	fd = accept4(lfd, (struct sockaddr *)&a, &alen, SOCK_CLOEXEC);
	if (fd == -1)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (got < sizeof(req) - 1) {
		ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);

		if (r <= 0)
			break;
		got += r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = '\0';
	if (got == 0) {
		close(fd);
		return;
	}
	sscanf(req, "%*s %255s", path);
	peer_text(&a, client, sizeof(client));
	blen = id_line(id, client, port, "TCP", body, sizeof(body));
	if (blen >= (int)sizeof(body))
		blen = sizeof(body) - 1;
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
		     "Connection: close\r\nX-Weft-Pod: %s\r\n\r\n%s",
		     blen, id->pod, body);
	if (n > 0 && write(fd, resp, n) < 0)
		fprintf(stderr, "echo: write to %s: %m\n", client);
	fprintf(stdout, "%s %s from %s\n", strncmp(req, "HEAD", 4) ? "GET" : "HEAD", path, client);
	fflush(stdout);
	close(fd);
}

static void serve_udp(int fd, int port, const struct echo_id *id)
{
	struct sockaddr_in6 a;
	socklen_t alen = sizeof(a);
	char in[2048], out[4096], client[80];
	ssize_t n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&a, &alen);
	int len;

	if (n < 0)
		return;
	peer_text(&a, client, sizeof(client));
	len = id_line(id, client, port, "UDP", out, sizeof(out));
	if (len + n < (ssize_t)sizeof(out)) {
		memcpy(out + len, in, n);
		len += n;
	}
	sendto(fd, out, len, 0, (struct sockaddr *)&a, alen);
}

int wf_lab_echo_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pod", required_argument, NULL, 'p'},	{"namespace", required_argument, NULL, 'n'},
		{"node", required_argument, NULL, 'N'}, {"port", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},	{0},
	};
	struct echo_id id = {getenv("POD_NAME"), getenv("POD_NAMESPACE"), getenv("NODE_NAME")};
	struct pollfd pfd[ECHO_MAX_PORTS];
	int port[ECHO_MAX_PORTS];
	bool udp[ECHO_MAX_PORTS];
	int n = 0, c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			id.pod = optarg;
			break;
		case 'n':
			id.ns = optarg;
			break;
		case 'N':
			id.node = optarg;
			break;
		case 'P': {
			char proto[8] = "TCP";
			int p = 0;

			if (n == ECHO_MAX_PORTS || sscanf(optarg, "%d/%7s", &p, proto) < 1 ||
			    p < 1 || p > 65535 ||
			    (strcasecmp(proto, "TCP") && strcasecmp(proto, "UDP"))) {
				fprintf(stderr,
					"weft echo: bad --port %s (want N, N/TCP or N/UDP)\n",
					optarg);
				return 2;
			}
			port[n] = p;
			udp[n++] = !strcasecmp(proto, "UDP");
			break;
		}
		case 'h':
			printf("usage: weft echo [--pod NAME] [--namespace NS] [--node NODE] "
			       "[--port N[/TCP|/UDP]]...\n"
			       "Answers HTTP on TCP ports and datagrams on UDP ports with the pod's "
			       "name, namespace, node and the client's address (8080/TCP by default).\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!id.pod) {
		char host[256] = "unknown";

		gethostname(host, sizeof(host));
		id.pod = strdup(host);
	}
	id.ns = id.ns ?: "default";
	id.node = id.node ?: "unknown";
	if (n == 0) {
		port[0] = 8080;
		udp[n++] = false;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < n; i++) {
		int fd = echo_listen(port[i], udp[i]);

		if (fd < 0) {
			fprintf(stderr, "weft echo: cannot listen on %d/%s: %s\n", port[i],
				udp[i] ? "UDP" : "TCP", strerror(-fd));
			return 1;
		}
		pfd[i] = (struct pollfd){.fd = fd, .events = POLLIN};
		printf("weft echo: pod %s/%s on %s listening on %d/%s\n", id.ns, id.pod, id.node,
		       port[i], udp[i] ? "UDP" : "TCP");
	}
	fflush(stdout);
	for (;;) {
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (udp[i])
				serve_udp(pfd[i].fd, port[i], &id);
			else
				serve_http(pfd[i].fd, port[i], &id);
		}
	}
}
