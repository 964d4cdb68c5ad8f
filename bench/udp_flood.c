/* udp_flood: the traffic generator of the vRouter benchmark (bench/vrouter_bench.py).
 *
 *   udp_flood send DST PORT SIZE SECONDS [FLOWS]
 *       sends SIZE-byte UDP payloads as fast as sendmmsg allows, to DST:PORT, or round robin
 *       to ports PORT..PORT+FLOWS-1 (consecutive packets belong to different flows); prints
 *       "sent N"
 *   udp_flood recv PORT SECONDS [FLOWS]
 *       listens on PORT (..PORT+FLOWS-1), waits (up to 20 s) for the first datagram, then
 *       counts for SECONDS; prints "packets N bytes B seconds S"
 *
 * Runs inside the VM namespaces. */
#include <poll.h>
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
do_send(const char *dst, int port, size_t size, double secs, int flows)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    if (fd < 0 || inet_pton(AF_INET, dst, &sin.sin_addr) != 1
        || (flows == 1 && connect(fd, (struct sockaddr *) &sin, sizeof sin) < 0)) {
        perror("udp_flood send");
        return 1;
    }
    static struct sockaddr_in addrs[BATCH];
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
        if (flows > 1) {
            addrs[i] = sin;
            addrs[i].sin_port = htons((uint16_t) (port + i % flows));
            msgs[i].msg_hdr.msg_name = &addrs[i];
            msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
        }
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
do_recv(int port, double secs, int flows)
{
    static struct pollfd pfds[BATCH];
    for (int f = 0; f < flows; f++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET,
                                   .sin_port = htons((uint16_t) (port + f)) };
        int sz = 8 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
            perror("udp_flood recv");
            return 1;
        }
        pfds[f].fd = fd;
        pfds[f].events = POLLIN;
    }
    printf("ready\n");
    fflush(stdout);
    static char bufs[BATCH][2048];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    unsigned long long packets = 0, bytes = 0;
    double start = 0, deadline = now() + 20;
    for (;;) {
        poll(pfds, (nfds_t) flows, 200);
        for (int f = 0; f < flows; f++) {
            memset(msgs, 0, sizeof msgs);
            for (int i = 0; i < BATCH; i++) {
                iov[i].iov_base = bufs[i];
                iov[i].iov_len = sizeof bufs[i];
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            int n = recvmmsg(pfds[f].fd, msgs, BATCH, MSG_DONTWAIT, NULL);
            if (n > 0) {
                if (!start) {
                    start = now();
                    deadline = start + secs;
                } else {
                    for (int i = 0; i < n; i++) {
                        bytes += msgs[i].msg_len;
                    }
                    packets += (unsigned long long) n;
                }
            }
        }
        if (now() >= deadline) {
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
    if ((argc == 6 || argc == 7) && !strcmp(argv[1], "send")) {
        int flows = argc == 7 ? atoi(argv[6]) : 1;
        if (flows < 1 || flows > BATCH) {
            flows = 1;
        }
        return do_send(argv[2], atoi(argv[3]), (size_t) atoi(argv[4]), atof(argv[5]), flows);
    }
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "recv")) {
        int flows = argc == 5 ? atoi(argv[4]) : 1;
        if (flows < 1 || flows > BATCH) {
            flows = 1;
        }
        return do_recv(atoi(argv[2]), atof(argv[3]), flows);
    }
    fprintf(stderr, "usage: udp_flood send DST PORT SIZE SECONDS [FLOWS] | "
            "recv PORT SECONDS [FLOWS]\n");
    return 2;
}
