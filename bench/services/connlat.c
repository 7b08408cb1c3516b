/* connlat ADDR PORT COUNT [SERVER_NETNS]: new-connection latency. Listens on 0.0.0.0:PORT (a
 * thread accepts and closes), then times COUNT blocking connect()s to ADDR:PORT and prints
 * "p50_us=.. p90_us=.. p99_us=.. n=..". Run it inside a network namespace where ADDR is a
 * service VIP whose endpoints are local addresses (or, for the baseline, a local address).
 * With SERVER_NETNS (a path such as /run/netns/NAME) the listener lives in that namespace and
 * the client stays in the caller's: a pod reaching a pod through a node. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int lfd;

static void *acceptor(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(lfd, NULL, NULL);

		if (c >= 0)
			close(c);
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sockaddr_in la = {.sin_family = AF_INET}, ra = {.sin_family = AF_INET};
	pthread_t t;
	double *lat;
	int one = 1, n, fails = 0;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: connlat ADDR PORT COUNT [SERVER_NETNS]\n");
		return 2;
	}
	n = atoi(argv[3]);
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat || n < 1 || inet_pton(AF_INET, argv[1], &ra.sin_addr) != 1)
		return 2;
	ra.sin_port = la.sin_port = htons((uint16_t)atoi(argv[2]));
	/* a socket belongs to the namespace its creator was in: hop there for the listener
	 * only, then back */
	int home = -1;
	if (argc == 5) {
		int ns = open(argv[4], O_RDONLY | O_CLOEXEC);
		home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (ns == -1 || home == -1 || setns(ns, CLONE_NEWNET) == -1) {
			perror(argv[4]);
			return 1;
		}
		close(ns);
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&la, sizeof(la)) == -1 ||
	    listen(lfd, 4096) == -1) {
		perror("listen");
		return 1;
	}
	if (home != -1 && (setns(home, CLONE_NEWNET) == -1 || close(home) == -1)) {
		perror("setns back");
		return 1;
	}
	pthread_create(&t, NULL, acceptor, NULL);
	for (int i = 0; i < n; i++) {
		struct timespec t0, t1;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct linger lg = {1, 0};

		/* RST on close: no TIME_WAIT pile-up over thousands of connects. */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (connect(fd, (struct sockaddr *)&ra, sizeof(ra)) == -1)
			fails++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		close(fd);
		lat[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 +
			 (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	printf("p50_us=%.1f p90_us=%.1f p99_us=%.1f n=%d fails=%d\n", lat[n / 2], lat[n * 9 / 10],
	       lat[n * 99 / 100], n, fails);
	return fails ? 1 : 0;
}
