/* raw-responder: the ceiling for the DNS benchmark. Answers every UDP datagram with one fixed
 * DNS answer, copying only the query ID: no parsing, recvmmsg/sendmmsg batches of 64. What
 * a server spends beyond this is the price of actually being a DNS server.
 *
 * usage: raw-responder ADDR PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64

int main(int argc, char **argv)
{
	/* web.default.svc.cluster.local A -> 10.96.0.20, with an OPT record */
	static const uint8_t answer[] = {
		0,   0,	  0x84, 0,   0,	  1,   0,   1,	  0,   0,   0,	 1,   3,   'w', 'e',
		'b', 7,	  'd',	'e', 'f', 'a', 'u', 'l',  't', 3,   's', 'v', 'c', 7,	'c',
		'l', 'u', 's',	't', 'e', 'r', 5,   'l',  'o', 'c', 'a', 'l', 0,   0,	1,
		0,   1,	  0xc0, 12,  0,	  1,   0,   1,	  0,   0,   0,	 30,  0,   4,	10,
		96,  0,	  20,	0,   0,	  41,  4,   0xd0, 0,   0,   0,	 0,   0,   0};
	static uint8_t rbuf[BATCH][2048], sbuf[BATCH][sizeof(answer)];
	struct mmsghdr rmsg[BATCH], smsg[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	struct sockaddr_in peers[BATCH];
	struct sockaddr_in sa = {.sin_family = AF_INET};

	if (argc != 3) {
		fprintf(stderr, "usage: raw-responder ADDR PORT\n");
		return 2;
	}
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		perror("bind");
		return 1;
	}
	memset(rmsg, 0, sizeof(rmsg));
	memset(smsg, 0, sizeof(smsg));
	for (int i = 0; i < BATCH; i++) {
		memcpy(sbuf[i], answer, sizeof(answer));
		riov[i].iov_base = rbuf[i];
		riov[i].iov_len = sizeof(rbuf[i]);
		rmsg[i].msg_hdr.msg_iov = &riov[i];
		rmsg[i].msg_hdr.msg_iovlen = 1;
		rmsg[i].msg_hdr.msg_name = &peers[i];
		siov[i].iov_base = sbuf[i];
		siov[i].iov_len = sizeof(answer);
		smsg[i].msg_hdr.msg_iov = &siov[i];
		smsg[i].msg_hdr.msg_iovlen = 1;
		smsg[i].msg_hdr.msg_name = &peers[i];
	}
	for (;;) {
		for (int i = 0; i < BATCH; i++)
			rmsg[i].msg_hdr.msg_namelen = sizeof(peers[i]);
		int n = recvmmsg(fd, rmsg, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			sbuf[i][0] = rbuf[i][0];
			sbuf[i][1] = rbuf[i][1];
			smsg[i].msg_hdr.msg_namelen = rmsg[i].msg_hdr.msg_namelen;
		}
		sendmmsg(fd, smsg, (unsigned)n, 0);
	}
}
