/*
 * uring_send.c — CPU cost of sending one 1000-byte UDP datagram over loopback: one sendto()
 * system call per packet (the worker built without io_uring) against mediasoup's io_uring
 * path (one io_uring_prep_sendto() per packet, one io_uring_submit() per fan-out of N packets,
 * completions reaped in batches), with Debian 12's liburing 2.3 plus the compat helper the
 * worker build adds (scripts/build-mediasoup-worker.sh). Written in C because it times the
 * kernel interface alone, without the worker around it. The sink never reads (the kernel
 * drops), as in srtpFanout.ts.
 *
 *   cc -O2 -o /tmp/uring-send bench/workerBuild/uring_send.c /usr/lib/x86_64-linux-gnu/liburing.a
 *   /tmp/uring-send 100 400
 */
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IO_URING_VERSION_MAJOR
static inline void io_uring_prep_sendto(struct io_uring_sqe* sqe, int sockfd, const void* buf, size_t len,
  int flags, const struct sockaddr* addr, socklen_t addrlen)
{
	io_uring_prep_send(sqe, sockfd, buf, len, flags);
	io_uring_prep_send_set_addr(sqe, addr, addrlen);
}
#endif

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv)
{
	int sink = socket(AF_INET, SOCK_DGRAM, 0);
	int rcv  = 4096;
	setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t tolen = sizeof(to);
	bind(sink, (struct sockaddr*)&to, sizeof(to));
	getsockname(sink, (struct sockaddr*)&to, &tolen);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	static unsigned char pkt[1000];
	memset(pkt, 0xab, sizeof(pkt));

	struct io_uring ring;
	int err = io_uring_queue_init(1024, &ring, 0);
	if (err < 0)
	{
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-err));
		return 1;
	}
	for (int a = 1; a < argc; a++)
	{
		const int n = atoi(argv[a]);
		if (n <= 0 || n > 1000)
			continue;
		for (int mode = 0; mode < 2; mode++)
		{
			long sent = 0, failed = 0;
			const double t0 = cpu_seconds();
			double t1       = t0;
			while (t1 - t0 < 2.0)
			{
				if (mode == 0)
				{
					for (int i = 0; i < n; i++)
						if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr*)&to, sizeof(to)) < 0)
							failed++;
				}
				else
				{
					for (int i = 0; i < n; i++)
						io_uring_prep_sendto(io_uring_get_sqe(&ring), fd, pkt, sizeof(pkt), 0, (struct sockaddr*)&to, sizeof(to));
					io_uring_submit(&ring);
					struct io_uring_cqe* cqes[1000];
					int got = 0;
					while (got < n)
					{
						struct io_uring_cqe* cqe;
						io_uring_wait_cqe(&ring, &cqe);
						unsigned k = io_uring_peek_batch_cqe(&ring, cqes, 1000);
						for (unsigned j = 0; j < k; j++)
							if (cqes[j]->res < 0)
								failed++;
						io_uring_cq_advance(&ring, k);
						got += (int)k;
					}
				}
				sent += n;
				t1 = cpu_seconds();
			}
			printf("fanout=%d mode=%s ns_per_packet=%.0f packets=%ld failed=%ld\n", n, mode ? "io_uring" : "sendto",
			  (t1 - t0) * 1e9 / (double)sent, sent, failed);
		}
	}
	io_uring_queue_exit(&ring);
	return 0;
}
