/* udp_flood: the traffic generator of the vRouter benchmark (bench/vrouter_bench.py).
 *
 *   udp_flood send DST PORT SIZE SECONDS    sends SIZE-byte UDP payloads to DST:PORT as fast
 *                                           as sendmmsg allows; prints "sent N"
 *   udp_flood recv PORT SECONDS             waits (up to 20 s) for the first datagram, then
 *                                           counts for SECONDS; prints
 *                                           "packets N bytes B seconds S"
 *
 * Runs inside the VM namespaces; one flow (fixed ports), as the kernel baseline measures. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
do_send(const char *dst, int port, size_t size, double secs)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    if (fd < 0 || inet_pton(AF_INET, dst, &sin.sin_addr) != 1
        || connect(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
        perror("udp_flood send");
        return 1;
    }
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    static char payload[65536];
    memset(payload, 'x', sizeof payload);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = payload;
        iov[i].iov_len = size;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    unsigned long long sent = 0;
    double end = now() + secs;
    while (now() < end) {
        int n = sendmmsg(fd, msgs, BATCH, 0);
        if (n > 0) {
            sent += (unsigned long long) n;
        } else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) {
            perror("sendmmsg");
            return 1;
        }
    }
    printf("sent %llu\n", sent);
    return 0;
}

static int
do_recv(int port, double secs)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    int sz = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
        perror("udp_flood recv");
        return 1;
    }
    struct timeval tv = { 0, 200000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    printf("ready\n");
    fflush(stdout);
    static char bufs[BATCH][2048];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    unsigned long long packets = 0, bytes = 0;
    double start = 0, deadline = now() + 20;
    for (;;) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = sizeof bufs[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        double t = now();
        if (n > 0) {
            if (!start) {
                start = t;
                deadline = t + secs;
            } else {
                for (int i = 0; i < n; i++) {
                    bytes += msgs[i].msg_len;
                }
                packets += (unsigned long long) n;
            }
        }
        if (t >= deadline) {
            break;
        }
    }
    double took = start ? now() - start : 0;
    printf("packets %llu bytes %llu seconds %.3f\n", packets, bytes, took);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "send")) {
        return do_send(argv[2], atoi(argv[3]), (size_t) atoi(argv[4]), atof(argv[5]));
    }
    if (argc == 4 && !strcmp(argv[1], "recv")) {
        return do_recv(atoi(argv[2]), atof(argv[3]));
    }
    fprintf(stderr, "usage: udp_flood send DST PORT SIZE SECONDS | recv PORT SECONDS\n");
    return 2;
}
