/*
 * UDP sink of the fan-out benchmark, in C (compiled at bench time by bench/lib/csinks.ts with
 * the system's cc). Why not Node: a dgram 'message' event costs ~7 µs per packet (20 on a slow
 * host), and the sinks share the load generator's core with the sender and the relay; here one
 * epoll loop drains every socket with recvmmsg(2), 64 datagrams per system call.
 *
 * Several viewers share one socket: a viewer is told by its transport's source port (each
 * mediasoup PlainTransport has its own port on 127.0.0.1), so counters are kept per source
 * port. The payload is SRTP and is never decrypted; the RTP header is in the clear.
 *
 * Per viewer: RTP packets by payload type (video, audio, other), RTCP packets, bytes, and the
 * highest extended sequence number of video and of audio. Over all viewers, between two
 * snapshots: a histogram of the spread of arrival delay over the viewers: for each audio
 * packet (told by its RTP timestamp, which mediasoup's consumers keep from the producer), each
 * viewer's kernel receive time (SO_TIMESTAMPNS) minus the earliest viewer's. The worker sends
 * a packet to its viewers one after the other, so the spread grows with the viewers, and with
 * queueing in the SFU before any packet is lost. The source's own jitter is not in it.
 *
 * Protocol, one line per command on stdin, one reply on stdout:
 *   pt <video> <audio>          payload types to count by (adds to the set) -> ok
 *   open <sockets> <rcvbuf>     opens sockets on 127.0.0.1                 -> <port> <port> ...
 *   snap                        counters of every source port seen so far, -> n <count>, then
 *                               <port> <video> <audio> <vseq> <aseq> <other> <rtcp> <bytes>
 *                               lines, then d <samples> <p50 µs> <p99 µs> <max µs> (the delay
 *                               histogram since the last snap, which it resets)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PORTS 65536
#define HIST_US 10             /* bin width, µs */
#define HIST_BINS 20000        /* 200 ms */

struct viewer {
  uint64_t video, audio, other, rtcp, bytes;
  int64_t vseq, aseq;
  int seen;
};

static struct viewer *viewers;
static uint16_t *seen_ports;
static int seen_count;
static uint64_t hist[HIST_BINS + 1];
static uint64_t hist_n, hist_max_us;
static unsigned char is_video[128], is_audio[128];

/* First arrival of recent audio packets, by RTP timestamp (1024 slots: ~20 s of 20 ms packets). */
#define SLOTS 1024
static struct {
  uint32_t ts;
  int64_t first_ns;
} firsts[SLOTS];

static void spread_sample(uint32_t ts, int64_t arrival_ns) {
  if (arrival_ns <= 0) return;
  unsigned slot = (ts * 2654435761u) >> 22;
  int64_t d = arrival_ns - firsts[slot].first_ns;
  /* A new packet (or the slot's packet is from long ago): this viewer is the first. */
  if (firsts[slot].ts != ts || firsts[slot].first_ns == 0 || d > 1000000000LL || d < -1000000000LL) {
    firsts[slot].ts = ts;
    firsts[slot].first_ns = arrival_ns;
    d = 0;
  } else if (d < 0) {
    /* Read from the sockets after a viewer that got it later: this one is the earliest now. */
    firsts[slot].first_ns = arrival_ns;
    d = 0;
  }
  uint64_t us = (uint64_t)d / 1000;
  hist[us / HIST_US < HIST_BINS ? us / HIST_US : HIST_BINS]++;
  hist_n++;
  if (us > hist_max_us) hist_max_us = us;
}

static int64_t extend(int64_t highest, uint16_t seq) {
  if (highest < 0) return seq;
  int64_t delta = (int64_t)seq - (highest % 65536);
  if (delta < -32768) delta += 65536;
  else if (delta > 32768) delta -= 65536;
  return delta > 0 ? highest + delta : highest;
}

static void on_packet(uint16_t port, const unsigned char *p, size_t len, int64_t arrival_ns) {
  struct viewer *v = &viewers[port];
  if (!v->seen) {
    v->seen = 1;
    v->vseq = -1;
    v->aseq = -1;
    seen_ports[seen_count++] = port;
  }
  v->bytes += len;
  if (len < 12) return;
  unsigned b = p[1];
  /* RFC 5761: second byte 192..223 is RTCP (SRTCP here). */
  if (b >= 192 && b <= 223) {
    v->rtcp++;
    return;
  }
  int pt = b & 0x7f;
  uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
  uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
  if (is_video[pt]) {
    v->video++;
    v->vseq = extend(v->vseq, seq);
  } else if (is_audio[pt]) {
    v->audio++;
    v->aseq = extend(v->aseq, seq);
    spread_sample(ts, arrival_ns);
  } else {
    v->other++;
  }
}

static uint64_t percentile(double q) {
  uint64_t rank = (uint64_t)(q * (double)hist_n), acc = 0;
  for (int i = 0; i <= HIST_BINS; i++) {
    acc += hist[i];
    if (acc > rank) return (uint64_t)i * HIST_US + HIST_US / 2;
  }
  return hist_max_us;
}

static void drain(int fd) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  static struct sockaddr_in from[BATCH];
  static unsigned char bufs[BATCH][2048];
  static char ctl[BATCH][64];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = sizeof bufs[i];
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_control = ctl[i];
      msgs[i].msg_hdr.msg_controllen = sizeof ctl[i];
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    for (int i = 0; i < n; i++) {
      int64_t arrival = 0;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          struct timespec t;
          memcpy(&t, CMSG_DATA(c), sizeof t);
          arrival = (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
        }
      }
      on_packet(ntohs(from[i].sin_port), bufs[i], msgs[i].msg_len, arrival);
    }
    if (n < BATCH) return;
  }
}

static int open_socket(int epfd, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  return ntohs(a.sin_port);
}

static void command(int epfd, char *line) {
  int a, b;
  if (sscanf(line, "pt %d %d", &a, &b) == 2 && a >= 0 && a < 128 && b >= 0 && b < 128) {
    is_video[a] = 1;
    is_audio[b] = 1;
    printf("ok\n");
  } else if (sscanf(line, "open %d %d", &a, &b) == 2) {
    for (int i = 0; i < a; i++) printf(i ? " %d" : "%d", open_socket(epfd, b));
    printf("\n");
  } else if (strncmp(line, "snap", 4) == 0) {
    printf("n %d\n", seen_count);
    for (int i = 0; i < seen_count; i++) {
      struct viewer *v = &viewers[seen_ports[i]];
      printf("%u %llu %llu %lld %lld %llu %llu %llu\n", seen_ports[i], (unsigned long long)v->video, (unsigned long long)v->audio,
             (long long)v->vseq, (long long)v->aseq, (unsigned long long)v->other, (unsigned long long)v->rtcp,
             (unsigned long long)v->bytes);
    }
    printf("d %llu %llu %llu %llu\n", (unsigned long long)hist_n, (unsigned long long)(hist_n ? percentile(0.5) : 0),
           (unsigned long long)(hist_n ? percentile(0.99) : 0), (unsigned long long)hist_max_us);
    memset(hist, 0, sizeof hist);
    hist_n = 0;
    hist_max_us = 0;
  } else {
    printf("error unknown command\n");
  }
  fflush(stdout);
}

int main(void) {
  viewers = calloc(PORTS, sizeof *viewers);
  seen_ports = calloc(PORTS, sizeof *seen_ports);
  int epfd = epoll_create1(0);
  if (!viewers || !seen_ports || epfd < 0) return 1;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = 0};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  char line[256];
  size_t used = 0;
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd != 0) {
        drain(fd);
        continue;
      }
      ssize_t r = read(0, line + used, sizeof line - 1 - used);
      if (r <= 0) return 0; /* the parent is gone */
      used += (size_t)r;
      line[used] = 0;
      char *nl;
      while ((nl = strchr(line, '\n'))) {
        *nl = 0;
        command(epfd, line);
        used -= (size_t)(nl + 1 - line);
        memmove(line, nl + 1, used + 1);
      }
      if (used >= sizeof line - 1) used = 0;
    }
  }
}
