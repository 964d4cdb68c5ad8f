/* bgp_feed: the route feeder of the BGP ingestion benchmark (bench/control_bench.py).
 *
 * A minimal BGP speaker on one TCP connection: it opens the session (iBGP, 4-octet AS,
 * multiprotocol inet-vpn 1/128, route refresh), then writes N inet-vpn routes as fast as the
 * receiver reads them, in UPDATEs built before the session starts (about 250 NLRIs per UPDATE,
 * each UPDATE just under 4096 bytes), then the End-of-RIB, and then keeps the session up with
 * keepalives until SIGTERM / SIGINT or the timeout.  The routes are what a vRouter fleet
 * advertises: 1,000 per route distinguisher (64512:1, 64512:2, ...), distinct /32s
 * (10.0.0.0 + i), a label per route (16 + i), one route target, next hop 198.51.100.1,
 * LOCAL_PREF 100, empty AS_PATH.
 *
 *   bgp_feed --connect ADDR:PORT | --listen ADDR:PORT  [--count N] [--per-rd N] [--as N]
 *            [--id A.B.C.D] [--nexthop A.B.C.D] [--target ASN:N] [--hold S] [--timeout S]
 *
 * It prints, on stdout, one line per event, times in seconds of CLOCK_MONOTONIC (the clock of
 * Python's time.monotonic(), so the benchmark can compare them with its own):
 *   FEED established t=T peer_as=N peer_id=A.B.C.D hold=S
 *   FEED sent routes=N updates=U bytes=B first_update=T0 last_update=T1 eor=T2
 *   FEED stopped reason=R rx_updates=N
 * and exits 0 when stopped by a signal, 1 on any failure (a NOTIFICATION received, the
 * connection lost, the timeout reached before the routes were sent).
 *
 * The encoding is written out here rather than taken from control/bgp so that the benchmark
 * keeps working while the control node's code is reorganised, and so that the feeder costs
 * nothing per route while it sends: every byte is ready before the first UPDATE goes out. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR_LEN 19
#define MAX_MSG 4096
#define NLRI_LEN 16             /* length byte, label (3), RD (8), /32 (4) */
#define MAX_LABEL 0xfffff

enum { MSG_OPEN = 1, MSG_UPDATE = 2, MSG_NOTIFICATION = 3, MSG_KEEPALIVE = 4 };

struct feed_opts {
    const char *connect, *listen;
    uint32_t count, per_rd;
    uint32_t asn;
    struct in_addr id, nexthop;
    uint16_t target_as;
    uint32_t target_n;
    uint16_t hold;
    double timeout;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint8_t *
put16(uint8_t *p, uint16_t v)
{
    *p++ = (uint8_t) (v >> 8);
    *p++ = (uint8_t) v;
    return p;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
    p = put16(p, (uint16_t) (v >> 16));
    return put16(p, (uint16_t) v);
}

/* Writes a message header for a message of LEN bytes (header included) and TYPE. */
static uint8_t *
put_header(uint8_t *p, size_t len, uint8_t type)
{
    memset(p, 0xff, 16);
    p = put16(p + 16, (uint16_t) len);
    *p++ = type;
    return p;
}

static size_t
encode_open(const struct feed_opts *o, uint8_t *buf)
{
    uint8_t *p = buf + HDR_LEN;
    *p++ = 4;
    p = put16(p, o->asn > 0xffff ? 23456 : (uint16_t) o->asn);
    p = put16(p, o->hold);
    memcpy(p, &o->id, 4);
    p += 4;
    uint8_t *opt_len = p++;
    uint8_t *param = p;
    *p++ = 2;                   /* Capabilities */
    uint8_t *cap_len = p++;
    uint8_t *caps = p;
    *p++ = 1; *p++ = 4;         /* Multiprotocol inet-vpn */
    p = put16(p, 1); *p++ = 0; *p++ = 128;
    *p++ = 2; *p++ = 0;         /* Route refresh */
    *p++ = 65; *p++ = 4;        /* 4-octet AS */
    p = put32(p, o->asn);
    *cap_len = (uint8_t) (p - caps);
    *opt_len = (uint8_t) (p - param);
    size_t len = (size_t) (p - buf);
    put_header(buf, len, MSG_OPEN);
    return len;
}

/* Builds every UPDATE for the routes into one buffer.  Returns its length; *N_UPDATES gets the
 * number of messages. */
static size_t
build_updates(const struct feed_opts *o, uint8_t **out, uint32_t *n_updates)
{
    /* ORIGIN, AS_PATH, LOCAL_PREF, MP_REACH (before its NLRIs), EXTENDED COMMUNITIES: attribute
     * types in ascending order, as RFC 4271 recommends. */
    const size_t fixed = HDR_LEN + 2 + 2 + 4 + 3 + 7 + (4 + 3 + 1 + 12 + 1) + 11;
    const uint32_t per_msg = (uint32_t) ((MAX_MSG - fixed) / NLRI_LEN);
    uint32_t msgs = (o->count + per_msg - 1) / per_msg;
    uint8_t *buf = malloc((size_t) msgs * MAX_MSG + 1);
    if (!buf) {
        fprintf(stderr, "bgp_feed: out of memory for %u UPDATEs\n", msgs);
        exit(1);
    }
    uint8_t *p = buf;
    uint32_t nh = ntohl(o->nexthop.s_addr);
    for (uint32_t first = 0; first < o->count; first += per_msg) {
        uint32_t n = o->count - first < per_msg ? o->count - first : per_msg;
        uint8_t *msg = p;
        size_t len = fixed + (size_t) n * NLRI_LEN;
        p = put_header(p, len, MSG_UPDATE);
        p = put16(p, 0);                                /* no withdrawn routes */
        p = put16(p, (uint16_t) (len - HDR_LEN - 4));   /* path attribute length */
        *p++ = 0x40; *p++ = 1; *p++ = 1; *p++ = 0;      /* ORIGIN IGP */
        *p++ = 0x40; *p++ = 2; *p++ = 0;                /* AS_PATH empty (iBGP) */
        *p++ = 0x40; *p++ = 5; *p++ = 4;                /* LOCAL_PREF 100 */
        p = put32(p, 100);
        *p++ = 0x90; *p++ = 14;                         /* MP_REACH, extended length */
        p = put16(p, (uint16_t) (3 + 1 + 12 + 1 + (size_t) n * NLRI_LEN));
        p = put16(p, 1);
        *p++ = 128;
        *p++ = 12;                                      /* RD 0 + IPv4 next hop */
        memset(p, 0, 8);
        p = put32(p + 8, nh);
        *p++ = 0;                                       /* reserved */
        for (uint32_t i = first; i < first + n; i++) {
            uint32_t label = 16 + i % (MAX_LABEL - 15);
            *p++ = 24 + 64 + 32;
            *p++ = (uint8_t) (label >> 12);
            *p++ = (uint8_t) (label >> 4);
            *p++ = (uint8_t) (label << 4 | 1);          /* bottom of stack */
            p = put16(p, 0);                            /* RD type 0: ASN:N */
            p = put16(p, (uint16_t) o->asn);
            p = put32(p, i / o->per_rd + 1);
            p = put32(p, 0x0a000000u + i);              /* 10.0.0.0 + i */
        }
        *p++ = 0xc0; *p++ = 16; *p++ = 8;               /* EXTENDED COMMUNITIES */
        *p++ = 0x00; *p++ = 0x02;                       /* route target, 2-octet AS */
        p = put16(p, o->target_as);
        p = put32(p, o->target_n);
        if ((size_t) (p - msg) != len) {
            fprintf(stderr, "bgp_feed: internal error: UPDATE length %zu, expected %zu\n",
                    (size_t) (p - msg), len);
            exit(1);
        }
    }
    *out = buf;
    *n_updates = msgs;
    return (size_t) (p - buf);
}

static size_t
encode_eor(uint8_t *buf)
{
    uint8_t *p = put_header(buf, HDR_LEN + 4 + 6, MSG_UPDATE);
    p = put16(p, 0);
    p = put16(p, 6);
    *p++ = 0x80; *p++ = 15; *p++ = 3;                   /* empty MP_UNREACH inet-vpn */
    p = put16(p, 1);
    *p++ = 128;
    return (size_t) (p - buf);
}

static size_t
encode_keepalive(uint8_t *buf)
{
    put_header(buf, HDR_LEN, MSG_KEEPALIVE);
    return HDR_LEN;
}

static bool
parse_addr_port(const char *text, struct sockaddr_in *sin)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t) (colon - text) >= sizeof host) {
        return false;
    }
    memcpy(host, text, (size_t) (colon - text));
    host[colon - text] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    return !*end && port > 0 && port < 65536 && inet_pton(AF_INET, host, &sin->sin_addr) == 1;
}

/* Opens the TCP connection: connects, or listens and accepts one.  Returns the fd or -1. */
static int
open_connection(const struct feed_opts *o)
{
    struct sockaddr_in sin;
    if (!parse_addr_port(o->connect ? o->connect : o->listen, &sin)) {
        fprintf(stderr, "bgp_feed: bad address '%s' (ADDR:PORT)\n",
                o->connect ? o->connect : o->listen);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("bgp_feed: socket");
        return -1;
    }
    if (o->connect) {
        /* The receiver may still be binding its port: retry for a few seconds. */
        double give_up = now() + 10;
        while (connect(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
            if (errno != ECONNREFUSED || now() > give_up || stop_signal) {
                perror("bgp_feed: connect");
                close(fd);
                return -1;
            }
            close(fd);
            fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            usleep(20000);
        }
        return fd;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0 || listen(fd, 1) < 0) {
        perror("bgp_feed: listen");
        close(fd);
        return -1;
    }
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    double deadline = now() + o->timeout;
    while (poll(&pfd, 1, 200) <= 0) {
        if (stop_signal || now() > deadline) {
            fprintf(stderr, "bgp_feed: nobody connected\n");
            close(fd);
            return -1;
        }
    }
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        perror("bgp_feed: accept");
    }
    close(fd);
    return c;
}

/* The session: what is queued to send and what was received. */
struct session {
    int fd;
    const uint8_t *out;         /* Bytes being written (the UPDATE block, or small messages). */
    size_t out_len, out_off;
    uint8_t small[MAX_MSG];     /* OPEN, KEEPALIVE, EoR, NOTIFICATION. */
    size_t small_len;
    uint8_t in[1 << 16];
    size_t in_len;
    bool open_received, established;
    uint32_t peer_as, peer_id;
    uint16_t peer_hold;
    uint64_t rx_updates;
};

/* Queues a small message behind what is being sent (the caller makes sure nothing large is
 * in flight or that the small buffer is free). */
static bool
queue_small(struct session *s, const uint8_t *msg, size_t len)
{
    if (s->small_len + len > sizeof s->small) {
        return false;
    }
    memcpy(s->small + s->small_len, msg, len);
    s->small_len += len;
    return true;
}

/* Writes what it can without blocking: the large block first, then the small messages.
 * Returns false when the connection failed. */
static bool
flush(struct session *s)
{
    while (s->out_off < s->out_len) {
        ssize_t n = write(s->fd, s->out + s->out_off, s->out_len - s->out_off);
        if (n < 0) {
            return errno == EAGAIN || errno == EINTR;
        }
        s->out_off += (size_t) n;
    }
    while (s->small_len) {
        ssize_t n = write(s->fd, s->small, s->small_len);
        if (n < 0) {
            return errno == EAGAIN || errno == EINTR;
        }
        memmove(s->small, s->small + n, s->small_len - (size_t) n);
        s->small_len -= (size_t) n;
    }
    return true;
}

static bool
pending(const struct session *s)
{
    return s->out_off < s->out_len || s->small_len;
}

/* Reads and handles what arrived.  Returns false when the session is over (EOF, a
 * NOTIFICATION, a malformed message). */
static bool
receive(struct session *s)
{
    ssize_t n = read(s->fd, s->in + s->in_len, sizeof s->in - s->in_len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        fprintf(stderr, "bgp_feed: connection closed by the receiver\n");
        return false;
    }
    if (n > 0) {
        s->in_len += (size_t) n;
    }
    size_t off = 0;
    while (s->in_len - off >= HDR_LEN) {
        const uint8_t *m = s->in + off;
        size_t len = (size_t) m[16] << 8 | m[17];
        if (len < HDR_LEN || len > sizeof s->in) {
            fprintf(stderr, "bgp_feed: bad message length %zu\n", len);
            return false;
        }
        if (s->in_len - off < len) {
            break;
        }
        uint8_t ka[HDR_LEN];
        switch (m[18]) {
        case MSG_OPEN:
            if (len < HDR_LEN + 10) {
                fprintf(stderr, "bgp_feed: short OPEN\n");
                return false;
            }
            s->open_received = true;
            s->peer_as = (uint32_t) m[20] << 8 | m[21];
            s->peer_hold = (uint16_t) (m[22] << 8 | m[23]);
            s->peer_id = (uint32_t) m[24] << 24 | (uint32_t) m[25] << 16
                | (uint32_t) m[26] << 8 | m[27];
            queue_small(s, ka, encode_keepalive(ka));
            break;
        case MSG_KEEPALIVE:
            if (s->open_received) {
                s->established = true;
            }
            break;
        case MSG_UPDATE:
            s->rx_updates++;
            break;
        case MSG_NOTIFICATION:
            fprintf(stderr, "bgp_feed: NOTIFICATION received: code %u subcode %u\n",
                    len > HDR_LEN ? m[19] : 0, len > HDR_LEN + 1 ? m[20] : 0);
            return false;
        default:
            break;
        }
        off += len;
    }
    memmove(s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
    return true;
}

static void
usage(void)
{
    fprintf(stderr, "usage: bgp_feed --connect ADDR:PORT | --listen ADDR:PORT [--count N] "
            "[--per-rd N] [--as N] [--id A.B.C.D] [--nexthop A.B.C.D] [--target ASN:N] "
            "[--hold S] [--timeout S]\n");
    exit(2);
}

static void
parse_options(int argc, char **argv, struct feed_opts *o)
{
    static const struct option longopts[] = {
        { "connect", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, 'l' },
        { "count", required_argument, NULL, 'n' },
        { "per-rd", required_argument, NULL, 'r' },
        { "as", required_argument, NULL, 'a' },
        { "id", required_argument, NULL, 'i' },
        { "nexthop", required_argument, NULL, 'h' },
        { "target", required_argument, NULL, 't' },
        { "hold", required_argument, NULL, 'H' },
        { "timeout", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct feed_opts) {
        .count = 100000, .per_rd = 1000, .asn = 64512, .target_as = 64512, .target_n = 100,
        .hold = 90, .timeout = 600,
    };
    inet_pton(AF_INET, "10.0.0.2", &o->id);
    inet_pton(AF_INET, "198.51.100.1", &o->nexthop);
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        unsigned long v = 0;
        if (c != 'c' && c != 'l' && c != 'i' && c != 'h' && c != 't' && c != '?') {
            v = strtoul(optarg, &end, 10);
            if (*end) {
                usage();
            }
        }
        switch (c) {
        case 'c': o->connect = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'n': o->count = (uint32_t) v; break;
        case 'r': o->per_rd = (uint32_t) v; break;
        case 'a': o->asn = (uint32_t) v; break;
        case 'H': o->hold = (uint16_t) v; break;
        case 'T': o->timeout = (double) v; break;
        case 'i':
            if (inet_pton(AF_INET, optarg, &o->id) != 1) {
                usage();
            }
            break;
        case 'h':
            if (inet_pton(AF_INET, optarg, &o->nexthop) != 1) {
                usage();
            }
            break;
        case 't': {
            unsigned int as, n;
            if (sscanf(optarg, "%u:%u", &as, &n) != 2 || as > 0xffff) {
                usage();
            }
            o->target_as = (uint16_t) as;
            o->target_n = n;
            break;
        }
        default:
            usage();
        }
    }
    if (optind != argc || !o->connect == !o->listen || !o->count || !o->per_rd
        || o->count > 0x00ffffff || o->asn > 0xffff || (o->hold && o->hold < 3)) {
        /* 10.0.0.0 + i must stay inside 10/8, and the RD carries the AS in 2 octets. */
        usage();
    }
}

int
main(int argc, char **argv)
{
    struct feed_opts o;
    parse_options(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    uint8_t *updates;
    uint32_t n_updates;
    size_t updates_len = build_updates(&o, &updates, &n_updates);
    double deadline = now() + o.timeout;

    static struct session s;
    s.fd = open_connection(&o);
    if (s.fd < 0) {
        return 1;
    }
    fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);
    s.small_len = encode_open(&o, s.small);

    const char *reason = NULL;
    bool sent = false;
    double first_update = 0, last_keepalive = now();
    int rc = 1;
    while (!reason) {
        if (stop_signal) {
            reason = "signal";
            rc = 0;
            break;
        }
        double t = now();
        if (t > deadline) {
            reason = "timeout";
            rc = sent ? 0 : 1;
            break;
        }
        uint16_t hold = s.peer_hold < o.hold ? s.peer_hold : o.hold;
        if (s.established && hold && t - last_keepalive >= hold / 3.0) {
            uint8_t ka[HDR_LEN];
            queue_small(&s, ka, encode_keepalive(ka));
            last_keepalive = t;
        }
        /* Our KEEPALIVE answering the OPEN must be out before the first UPDATE. */
        if (s.established && !s.out && !s.small_len) {
            printf("FEED established t=%.6f peer_as=%u peer_id=%u.%u.%u.%u hold=%u\n", now(),
                   s.peer_as, s.peer_id >> 24, s.peer_id >> 16 & 255, s.peer_id >> 8 & 255,
                   s.peer_id & 255, s.peer_hold);
            s.out = updates;
            s.out_len = updates_len;
            first_update = now();
        }
        if (!flush(&s)) {
            reason = "write failed";
            break;
        }
        if (s.out && !sent && s.out_off == s.out_len) {
            double last_update = now();
            uint8_t eor[32];
            queue_small(&s, eor, encode_eor(eor));
            if (!flush(&s)) {
                reason = "write failed";
                break;
            }
            sent = true;
            printf("FEED sent routes=%u updates=%u bytes=%zu first_update=%.6f "
                   "last_update=%.6f eor=%.6f\n", o.count, n_updates, updates_len, first_update,
                   last_update, now());
        }
        struct pollfd pfd = { .fd = s.fd, .events = POLLIN | (pending(&s) ? POLLOUT : 0) };
        int r = poll(&pfd, 1, 200);
        if (r < 0 && errno != EINTR) {
            reason = "poll failed";
            break;
        }
        if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) && !receive(&s)) {
            reason = "session closed";
            break;
        }
    }
    if (s.established && rc == 0) {
        /* Cease, administrative shutdown: the receiver sees a clean end. */
        uint8_t note[HDR_LEN + 2];
        uint8_t *p = put_header(note, sizeof note, MSG_NOTIFICATION);
        p[0] = 6;
        p[1] = 2;
        if (write(s.fd, note, sizeof note) < 0) {
            /* The receiver is gone already; nothing more to tell it. */
        }
    }
    printf("FEED stopped reason=%s rx_updates=%llu\n", reason,
           (unsigned long long) s.rx_updates);
    close(s.fd);
    free(updates);
    return rc;
}
