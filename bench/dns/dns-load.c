/* dns-load: a UDP DNS load generator that keeps many queries in flight from one core
 * (sendmmsg/recvmmsg over several sockets, so SO_REUSEPORT servers see many flows). dnsperf
 * alone cannot saturate a fast server on two cores; this can.
 *
 * usage: dns-load -s ADDR -p PORT -f QUERYFILE [-d SECONDS] [-c INFLIGHT] [-n SOCKETS]
 * QUERYFILE: dnsperf format, "name type" per line (A, AAAA, SRV, PTR, TXT).
 * Prints one line: sent, answered, lost, qps, latency avg/p50/p99 in microseconds, and the
 * count of each response code. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns/wire.h"

#define BATCH 32
#define MAX_SOCKS 64

struct qpkt {
	uint8_t buf[300];
	uint16_t len;
};

struct sock {
	int fd;
	unsigned inflight;
	uint16_t next_id;
	uint64_t sent_ns[65536];
	uint8_t busy[65536];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int type_code(const char *t)
{
	static const struct {
		const char *n;
		int c;
	} m[] = {{"A", 1},    {"NS", 2},   {"CNAME", 5}, {"SOA", 6},
		 {"PTR", 12}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcasecmp(m[i].n, t) == 0)
			return m[i].c;
	return -1;
}

int main(int argc, char **argv)
{
	const char *server = "127.0.0.1", *file = NULL;
	unsigned port = 53, inflight = 512, nsocks = 16;
	double duration = 5;
	int opt;

	while ((opt = getopt(argc, argv, "s:p:f:d:c:n:")) != -1) {
		switch (opt) {
		case 's':
			server = optarg;
			break;
		case 'p':
			port = (unsigned)atoi(optarg);
			break;
		case 'f':
			file = optarg;
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'c':
			inflight = (unsigned)atoi(optarg);
			break;
		case 'n':
			nsocks = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: dns-load -s ADDR -p PORT -f FILE [-d S] [-c N] [-n S]\n");
			return 2;
		}
	}
	if (!file || nsocks == 0 || nsocks > MAX_SOCKS || inflight < nsocks) {
		fprintf(stderr, "dns-load: -f FILE required; 1 <= sockets <= 64 <= inflight\n");
		return 2;
	}
	FILE *f = fopen(file, "r");
	if (!f) {
		perror(file);
		return 1;
	}
	size_t nq = 0, capq = 1024;
	struct qpkt *qs = malloc(capq * sizeof(*qs));
	char line[512], name[300], type[16];
	while (qs && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%299s %15s", name, type) != 2 || type_code(type) < 0)
			continue;
		if (nq == capq) {
			capq *= 2;
			qs = realloc(qs, capq * sizeof(*qs));
			if (!qs)
				break;
		}
		int l = wf_dns_wire_build_query(qs[nq].buf, 0, name, (uint16_t)type_code(type),
						false, 1232);
		if (l < 0)
			continue;
		qs[nq++].len = (uint16_t)l;
	}
	fclose(f);
	if (!qs || nq == 0) {
		fprintf(stderr, "dns-load: no queries in %s\n", file);
		return 1;
	}

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, server, &sa.sin_addr);
	struct sock *socks = calloc(nsocks, sizeof(*socks));
	if (!socks)
		return 1;
	for (unsigned i = 0; i < nsocks; i++) {
		socks[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		int sz = 4 << 20;
		setsockopt(socks[i].fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(socks[i].fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		if (connect(socks[i].fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
			perror("connect");
			return 1;
		}
		socks[i].next_id = (uint16_t)(i * 4099);
	}
	unsigned per_sock = inflight / nsocks;
	static uint8_t sbuf[BATCH][300], rbuf[BATCH][4096];
	struct mmsghdr smsg[BATCH], rmsg[BATCH];
	struct iovec siov[BATCH], riov[BATCH];
	memset(smsg, 0, sizeof(smsg));
	memset(rmsg, 0, sizeof(rmsg));
	for (int i = 0; i < BATCH; i++) {
		siov[i].iov_base = sbuf[i];
		smsg[i].msg_hdr.msg_iov = &siov[i];
		smsg[i].msg_hdr.msg_iovlen = 1;
		riov[i].iov_base = rbuf[i];
		riov[i].iov_len = sizeof(rbuf[i]);
		rmsg[i].msg_hdr.msg_iov = &riov[i];
		rmsg[i].msg_hdr.msg_iovlen = 1;
	}
	/* latency histogram: 1 us buckets up to 100 ms */
	enum {
		HBUCKETS = 100000
	};
	uint32_t *hist = calloc(HBUCKETS + 1, sizeof(uint32_t));
	uint64_t sent = 0, recvd = 0, lost = 0, lat_sum = 0, rc[16] = {0};
	size_t qi = 0;
	uint64_t start = now_ns(), end = start + (uint64_t)(duration * 1e9), last_sweep = start;
	if (!hist)
		return 1;

	for (uint64_t t = start; t < end; t = now_ns()) {
		for (unsigned s = 0; s < nsocks; s++) {
			struct sock *k = &socks[s];
			unsigned n = 0;
			while (k->inflight + n < per_sock && n < BATCH) {
				struct qpkt *q = &qs[qi];
				qi = qi + 1 == nq ? 0 : qi + 1;
				uint16_t id;
				do
					id = k->next_id++;
				while (k->busy[id]);
				memcpy(sbuf[n], q->buf, q->len);
				wf_dns_put16(sbuf[n], id);
				siov[n].iov_len = q->len;
				k->busy[id] = 1;
				k->sent_ns[id] = t;
				n++;
			}
			if (n) {
				int m = sendmmsg(k->fd, smsg, n, 0);
				if (m < 0)
					m = 0;
				/* unsent ones are released */
				for (unsigned i = (unsigned)m; i < n; i++)
					k->busy[wf_dns_get16(sbuf[i])] = 0;
				k->inflight += (unsigned)m;
				sent += (unsigned)m;
			}
			int r = recvmmsg(k->fd, rmsg, BATCH, MSG_DONTWAIT, NULL);
			if (r <= 0)
				continue;
			uint64_t tr = now_ns();
			for (int i = 0; i < r; i++) {
				if (rmsg[i].msg_len < 12)
					continue;
				uint16_t id = wf_dns_get16(rbuf[i]);
				if (!k->busy[id])
					continue; /* late answer after a timeout */
				k->busy[id] = 0;
				k->inflight--;
				recvd++;
				rc[rbuf[i][3] & 15]++;
				uint64_t us = (tr - k->sent_ns[id]) / 1000;
				lat_sum += us;
				hist[us < HBUCKETS ? us : HBUCKETS]++;
			}
		}
		if (t - last_sweep > 100000000ULL) {
			/* queries unanswered for 1 s are lost (UDP drops) */
			for (unsigned s = 0; s < nsocks; s++)
				for (unsigned id = 0; id < 65536; id++)
					if (socks[s].busy[id] &&
					    t - socks[s].sent_ns[id] > 1000000000ULL) {
						socks[s].busy[id] = 0;
						socks[s].inflight--;
						lost++;
					}
			last_sweep = t;
		}
	}
	double secs = (double)(now_ns() - start) / 1e9;
	uint64_t acc = 0, p50 = 0, p99 = 0;
	for (unsigned i = 0; i <= HBUCKETS; i++) {
		acc += hist[i];
		if (!p50 && acc * 2 >= recvd)
			p50 = i;
		if (!p99 && acc * 100 >= recvd * 99) {
			p99 = i;
			break;
		}
	}
	printf("sent=%llu answered=%llu lost=%llu qps=%.0f lat_avg_us=%.0f lat_p50_us=%llu "
	       "lat_p99_us=%llu noerror=%llu nxdomain=%llu other=%llu\n",
	       (unsigned long long)sent, (unsigned long long)recvd, (unsigned long long)lost,
	       (double)recvd / secs, recvd ? (double)lat_sum / (double)recvd : 0.0,
	       (unsigned long long)p50, (unsigned long long)p99, (unsigned long long)rc[0],
	       (unsigned long long)rc[3], (unsigned long long)(recvd - rc[0] - rc[3]));
	return 0;
}
