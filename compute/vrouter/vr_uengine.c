/* vr_uengine: AF_PACKET rings, fabric sockets and the packet channel (see vr_uengine.h). */
#include "vr_uengine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "introspect.h"
#include "list.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(vr_uengine);

static MEM_TYPE(mem_type_uengine, "vr_uengine");

#define RING_FRAME 2048
#define RING_BLOCK (1 << 16)
#define RING_BLOCKS 32
#define RING_FRAMES (RING_BLOCK / RING_FRAME * RING_BLOCKS)
#define RX_RESERVE 128          /* headroom inside each RX frame for encapsulation */
#define BATCH 64
#define TX_SOCKS 16             /* UDP sending sockets: source ports for the flow hash */
#define RX_SLOT (VR_PKT_HEADROOM + 65536)   /* a GRO-coalesced datagram fits */

struct uport {
    struct vr_uengine *eng;
    uint32_t idx;               /* vif index */
    int fd;
    int ifindex;
    uint8_t *ring;              /* RX frames, then TX frames */
    size_t ring_len;
    uint32_t rx_head, tx_head;
    uint32_t tx_pending;
    struct list pending_node;   /* in eng->pending when tx_pending */
    struct event *ev;
};

struct fabric {
    uint32_t vif;
    uint8_t ip[4];
    int udp_mpls, udp_vxlan, gre, raw_tx;
    int udp_tx[TX_SOCKS];
    uint32_t mtu;
    struct event *ev_mpls, *ev_vxlan, *ev_gre;
};

/* A queued fabric transmission: a UDP payload for one of the UDP sockets (the kernel adds
 * IP and UDP headers; runs of equal-size payloads to one destination go out as one UDP GSO
 * send), or a whole IPv4 packet for the raw socket (GRE). */
struct txq {
    int fd;
    uint32_t len;
    struct sockaddr_in addr;
};

struct vr_uengine {
    struct event_base *base;
    struct vrouter *vr;
    struct vr_dp dp;
    struct fabric fab;
    struct list pending;        /* ports with queued TX frames */
    /* Fabric TX batch. */
    struct txq txq[BATCH];
    struct mmsghdr tx_msgs[BATCH];
    struct iovec tx_iov[BATCH];
    uint8_t tx_ctrl[BATCH][CMSG_SPACE(sizeof(uint16_t))];
    uint8_t *tx_buf;            /* BATCH * VR_PKT_BUFSIZE */
    unsigned int tx_n;
    uint64_t gso_sends, gso_segments;
    /* Fabric RX batch. */
    struct mmsghdr rx_msgs[BATCH];
    struct iovec rx_iov[BATCH];
    struct sockaddr_in rx_addr[BATCH];
    uint8_t rx_ctrl[BATCH][CMSG_SPACE(sizeof(int))];
    uint8_t *rx_buf;            /* BATCH * RX_SLOT */
    /* Packet channel. */
    int pkt_fd;
    struct event *ev_pkt;
    struct sockaddr_un agent_addr;
    socklen_t agent_len;
    uint8_t *pkt_buf;
    struct event *ev_age;
};

static void flush(struct vr_uengine *);

/* ---- VM ports ---- */

static void
port_kick(struct uport *p)
{
    if (p->tx_pending) {
        if (send(p->fd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != ENOBUFS) {
            LOG_WARN("vif0/%u: kicking TX ring: %s", p->idx, strerror(errno));
        }
        p->tx_pending = 0;
        list_remove(&p->pending_node);
    }
}

static void
uengine_tx_vif(void *aux, struct vr_vif *vif, const uint8_t *frame, size_t len)
{
    struct vr_uengine *eng = aux;
    struct uport *p = vif->engine;
    if (!p) {
        /* No port behind this interface (the agent's, or one the engine could not open). */
        vif->cfg.oerrors++;
        vr_drop(eng->vr, vif, VP_DROP_INTERFACE_TX_DISCARD);
        return;
    }
    size_t max = RING_FRAME - (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll));
    if (len > max) {
        vif->cfg.oerrors++;
        vr_drop(eng->vr, vif, VP_DROP_INTERFACE_TX_DISCARD);
        return;
    }
    uint8_t *txr = p->ring + (size_t) RING_FRAMES * RING_FRAME;
    struct tpacket2_hdr *h = (struct tpacket2_hdr *) (txr + (size_t) p->tx_head * RING_FRAME);
    if (h->tp_status != TP_STATUS_AVAILABLE) {
        /* Ring full: let the kernel drain what is queued, then look again. */
        if (p->tx_pending) {
            port_kick(p);
        }
        if (h->tp_status != TP_STATUS_AVAILABLE) {
            vif->cfg.oerrors++;
            vr_drop(eng->vr, vif, VP_DROP_INTERFACE_TX_DISCARD);
            return;
        }
    }
    uint8_t *data = (uint8_t *) h + TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
    memcpy(data, frame, len);
    h->tp_len = (uint32_t) len;
    __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
    p->tx_head = (p->tx_head + 1) % RING_FRAMES;
    if (!p->tx_pending++) {
        list_push_back(&eng->pending, &p->pending_node);
    }
    if (p->tx_pending >= BATCH) {
        port_kick(p);
    }
}

static void
port_rx(evutil_socket_t fd, short what, void *aux)
{
    struct uport *p = aux;
    struct vr_uengine *eng = p->eng;
    struct vr_vif *vif = vr_vif_get(eng->vr, p->idx);
    eng->dp.now_ms = vr_now_ms();
    for (int n = 0; n < 256; n++) {
        struct tpacket2_hdr *h = (struct tpacket2_hdr *) (p->ring
                                                          + (size_t) p->rx_head * RING_FRAME);
        uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        if (!(status & TP_STATUS_USER)) {
            break;
        }
        if (vif) {
            uint8_t *frame = (uint8_t *) h + h->tp_mac;
            uint8_t *head = (uint8_t *) h + TPACKET2_HDRLEN;
            struct vr_pkt pkt;
            vr_pkt_init(&pkt, head, RING_FRAME - TPACKET2_HDRLEN, (uint32_t) (frame - head),
                        h->tp_snaplen);
            if (h->tp_snaplen != h->tp_len) {
                vif->cfg.ierrors++;
                vr_drop(eng->vr, vif, VP_DROP_PULL);
            } else {
                if ((status & TP_STATUS_CSUMNOTREADY) && pkt.len > VR_ETH_HLEN) {
                    /* A partial checksum from the local stack (offload): finish it. */
                    vr_l4_csum_set(pkt.data + VR_ETH_HLEN, pkt.len - VR_ETH_HLEN);
                }
                vr_dp_vif_rx(&eng->dp, vif, &pkt);
            }
        }
        __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        p->rx_head = (p->rx_head + 1) % RING_FRAMES;
    }
    flush(eng);
}

static void
port_close(struct uport *p)
{
    if (!p) {
        return;
    }
    if (p->tx_pending) {
        list_remove(&p->pending_node);
    }
    if (p->ev) {
        event_free(p->ev);
    }
    if (p->ring && p->ring != MAP_FAILED) {
        munmap(p->ring, p->ring_len);
    }
    if (p->fd >= 0) {
        close(p->fd);
    }
    mem_free(&mem_type_uengine, p);
}

static int
port_open(struct vr_uengine *eng, struct vr_vif *vif, char *err, size_t errlen)
{
    int ifindex = (int) if_nametoindex(vif->cfg.name);
    if (!ifindex) {
        snprintf(err, errlen, "no interface %s in this network namespace", vif->cfg.name);
        return ENODEV;
    }
    struct uport *p = mem_zalloc(&mem_type_uengine, sizeof *p);
    p->eng = eng;
    p->idx = vif->cfg.idx;
    p->ifindex = ifindex;
    list_init(&p->pending_node);
    p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    int error = 0;
    const char *step = "socket";
    if (p->fd < 0) {
        error = errno;
        goto fail;
    }
    int v = TPACKET_V2;
    int reserve = RX_RESERVE, one = 1;
    struct tpacket_req req = {
        .tp_block_size = RING_BLOCK, .tp_block_nr = RING_BLOCKS,
        .tp_frame_size = RING_FRAME, .tp_frame_nr = RING_FRAMES,
    };
    step = "ring setup";
    if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0
        || setsockopt(p->fd, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof reserve) < 0
        || setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0
        || setsockopt(p->fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) < 0) {
        error = errno;
        goto fail;
    }
    /* Our own transmissions must not come back as input. */
    setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    p->ring_len = 2 * (size_t) RING_BLOCK * RING_BLOCKS;
    step = "mmap";
    p->ring = mmap(NULL, p->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (p->ring == MAP_FAILED) {
        error = errno;
        goto fail;
    }
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex,
    };
    step = "bind";
    if (bind(p->fd, (struct sockaddr *) &sll, sizeof sll) < 0) {
        error = errno;
        goto fail;
    }
    p->ev = event_new(eng->base, p->fd, EV_READ | EV_PERSIST, port_rx, p);
    event_add(p->ev, NULL);
    vif->engine = p;
    vif->cfg.os_idx = (uint32_t) ifindex;
    return 0;

fail:
    snprintf(err, errlen, "AF_PACKET on %s: %s: %s", vif->cfg.name, step, strerror(error));
    port_close(p);
    return error;
}

/* ---- fabric ---- */

static void
fabric_rx(struct vr_uengine *eng, int fd, enum vr_encap encap)
{
    eng->dp.now_ms = vr_now_ms();
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < BATCH; i++) {
            eng->rx_iov[i].iov_base = eng->rx_buf + (size_t) i * RX_SLOT + VR_PKT_HEADROOM;
            eng->rx_iov[i].iov_len = RX_SLOT - VR_PKT_HEADROOM;
            struct msghdr *mh = &eng->rx_msgs[i].msg_hdr;
            mh->msg_iov = &eng->rx_iov[i];
            mh->msg_iovlen = 1;
            mh->msg_name = &eng->rx_addr[i];
            mh->msg_namelen = sizeof eng->rx_addr[i];
            mh->msg_control = eng->rx_ctrl[i];
            mh->msg_controllen = sizeof eng->rx_ctrl[i];
            mh->msg_flags = 0;
        }
        int n = recvmmsg(fd, eng->rx_msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            break;
        }
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &eng->rx_msgs[i].msg_hdr;
            uint32_t len = eng->rx_msgs[i].msg_len;
            if (mh->msg_flags & MSG_TRUNC) {
                vr_drop(eng->vr, NULL, VP_DROP_PULL);
                continue;
            }
            /* A GRO-coalesced datagram holds segments of gso_size bytes (the last may be
             * shorter).  Each is processed in place; pushing headers in front of one may
             * overwrite the one before, which is done with by then. */
            uint32_t gso = len;
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
                    int v;
                    memcpy(&v, CMSG_DATA(cm), sizeof v);
                    if (v > 0) {
                        gso = (uint32_t) v;
                    }
                }
            }
            uint8_t *slot = eng->rx_buf + (size_t) i * RX_SLOT;
            for (uint32_t off = 0; off < len; off += gso) {
                uint32_t seg = len - off < gso ? len - off : gso;
                struct vr_pkt pkt;
                vr_pkt_init(&pkt, slot, RX_SLOT, VR_PKT_HEADROOM + off, seg);
                vr_dp_fabric_rx(&eng->dp, encap, (const uint8_t *) &eng->rx_addr[i].sin_addr,
                                &pkt);
            }
        }
        if (n < BATCH) {
            break;
        }
    }
    flush(eng);
}

static void
fabric_rx_mpls(evutil_socket_t fd, short what, void *aux)
{
    fabric_rx(aux, fd, VR_ENCAP_MPLSOUDP);
}

static void
fabric_rx_vxlan(evutil_socket_t fd, short what, void *aux)
{
    fabric_rx(aux, fd, VR_ENCAP_VXLAN);
}

static void
fabric_rx_gre(evutil_socket_t fd, short what, void *aux)
{
    fabric_rx(aux, fd, VR_ENCAP_MPLSOGRE);
}

/* Sends messages FIRST..FIRST+N-1 of the batch (all on socket FD), each carrying SEGS[i]
 * packets; counts the ones the kernel refused. */
static void
send_msgs(struct vr_uengine *eng, int fd, struct mmsghdr *msgs, const unsigned int *segs,
          unsigned int n)
{
    unsigned int done = 0;
    while (done < n) {
        int r = sendmmsg(fd, msgs + done, n - done, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            /* Socket buffer full or a refused packet: drop that message and go on. */
            struct vr_vif *fv = vr_vif_get(eng->vr, eng->fab.vif);
            for (unsigned int k = 0; k < segs[done]; k++) {
                vr_drop(eng->vr, fv, VP_DROP_INTERFACE_TX_DISCARD);
            }
            done++;
            continue;
        }
        done += (unsigned int) r;
    }
}

static bool
same_lane(const struct txq *a, const struct txq *b)
{
    return a->fd == b->fd && a->addr.sin_addr.s_addr == b->addr.sin_addr.s_addr
           && a->addr.sin_port == b->addr.sin_port;
}

static void
fabric_tx_flush(struct vr_uengine *eng)
{
    unsigned int n = eng->tx_n, m = 0;
    unsigned int segs[BATCH], order[BATCH];
    struct iovec iov[BATCH];
    uint32_t gso_max = eng->fab.mtu > 28 ? eng->fab.mtu - 28 : 0;
    /* Group the batch by lane (socket and destination), keeping the order inside a lane:
     * a flow always maps to one lane, so no flow is reordered, and interleaved flows that
     * share a lane still make long GSO runs. */
    unsigned int k = 0;
    bool taken[BATCH] = { false };
    for (unsigned int i = 0; i < n; i++) {
        if (taken[i]) {
            continue;
        }
        for (unsigned int j = i; j < n; j++) {
            if (!taken[j] && same_lane(&eng->txq[i], &eng->txq[j])) {
                taken[j] = true;
                order[k] = j;
                iov[k++] = eng->tx_iov[j];
            }
        }
    }
    int fd = -1;
    unsigned int i = 0;
    while (i < n) {
        const struct txq *q = &eng->txq[order[i]];
        unsigned int run = 1;
        if (q->fd != eng->fab.raw_tx && q->len <= gso_max) {
            /* A run: one lane, equal sizes but the last, within 64 KB. */
            while (i + run < n && same_lane(&eng->txq[order[i + run]], q)
                   && eng->txq[order[i + run - 1]].len == q->len
                   && eng->txq[order[i + run]].len <= q->len
                   && (run + 1) * q->len <= 65000) {
                run++;
            }
        }
        if (fd != q->fd && m) {
            send_msgs(eng, fd, eng->tx_msgs, segs, m);
            m = 0;
        }
        fd = q->fd;
        struct msghdr *mh = &eng->tx_msgs[m].msg_hdr;
        memset(mh, 0, sizeof *mh);
        mh->msg_iov = &iov[i];
        mh->msg_iovlen = run;
        mh->msg_name = (void *) &q->addr;
        mh->msg_namelen = sizeof q->addr;
        if (run > 1) {
            mh->msg_control = eng->tx_ctrl[m];
            mh->msg_controllen = sizeof eng->tx_ctrl[m];
            struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t size = (uint16_t) q->len;
            memcpy(CMSG_DATA(cm), &size, sizeof size);
            eng->gso_sends++;
            eng->gso_segments += run;
        }
        segs[m++] = run;
        i += run;
    }
    if (m) {
        send_msgs(eng, fd, eng->tx_msgs, segs, m);
    }
    eng->tx_n = 0;
}

static void
uengine_tx_fabric(void *aux, const uint8_t *ip, size_t len)
{
    struct vr_uengine *eng = aux;
    if (eng->fab.raw_tx < 0 || len > VR_PKT_BUFSIZE || len < 20) {
        vr_drop(eng->vr, NULL, VP_DROP_INTERFACE_TX_DISCARD);
        return;
    }
    unsigned int i = eng->tx_n++;
    struct txq *q = &eng->txq[i];
    uint8_t *b = eng->tx_buf + (size_t) i * VR_PKT_BUFSIZE;
    memset(&q->addr, 0, sizeof q->addr);
    q->addr.sin_family = AF_INET;
    memcpy(&q->addr.sin_addr, ip + 16, 4);
    size_t hlen = (size_t) (ip[0] & 0xf) * 4;
    if (ip[9] == VR_IPPROTO_UDP && hlen == 20 && len >= 28 && eng->fab.udp_tx[0] >= 0) {
        /* The UDP socket whose source port stands for this flow's hash. */
        uint16_t sport = vr_get16(ip + 20);
        q->fd = eng->fab.udp_tx[sport % TX_SOCKS];
        memcpy(&q->addr.sin_port, ip + 22, 2);
        q->len = (uint32_t) (len - 28);
        memcpy(b, ip + 28, q->len);
    } else {
        q->fd = eng->fab.raw_tx;
        q->len = (uint32_t) len;
        memcpy(b, ip, len);
    }
    eng->tx_iov[i].iov_base = b;
    eng->tx_iov[i].iov_len = q->len;
    if (eng->tx_n == BATCH) {
        fabric_tx_flush(eng);
    }
}

static void
fabric_close(struct vr_uengine *eng)
{
    struct fabric *f = &eng->fab;
    struct event **evs[] = { &f->ev_mpls, &f->ev_vxlan, &f->ev_gre };
    for (size_t i = 0; i < 3; i++) {
        if (*evs[i]) {
            event_free(*evs[i]);
            *evs[i] = NULL;
        }
    }
    int *fds[] = { &f->udp_mpls, &f->udp_vxlan, &f->gre, &f->raw_tx };
    for (size_t i = 0; i < 4; i++) {
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    }
    for (size_t i = 0; i < TX_SOCKS; i++) {
        if (f->udp_tx[i] >= 0) {
            close(f->udp_tx[i]);
            f->udp_tx[i] = -1;
        }
    }
    f->vif = VR_FLOW_INDEX_NONE;
    eng->dp.fabric_vif = VR_FLOW_INDEX_NONE;
}

static int
open_udp(const uint8_t ip[4], uint16_t port, int *fd, char *err, size_t errlen)
{
    *fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0) {
        snprintf(err, errlen, "UDP socket: %s", strerror(errno));
        return errno;
    }
    int one = 1, size = 8 << 20;
    setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(*fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
        setsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (port) {
        /* Coalesced receives: one datagram buffer for a run of same-size tunnel packets. */
        setsockopt(*fd, SOL_UDP, UDP_GRO, &one, sizeof one);
    } else {
        int pmtu = IP_PMTUDISC_DONT;
        setsockopt(*fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
        if (setsockopt(*fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0) {
            setsockopt(*fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        }
    }
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
    memcpy(&sin.sin_addr, ip, 4);
    if (bind(*fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
        int error = errno;
        char a[INET_ADDRSTRLEN];
        snprintf(err, errlen, "binding UDP %s:%u: %s", inet_ntop(AF_INET, ip, a, sizeof a),
                 port, strerror(error));
        return error;
    }
    return 0;
}

static int
fabric_open(struct vr_uengine *eng, struct vr_vif *vif, char *err, size_t errlen)
{
    struct fabric *f = &eng->fab;
    uint8_t ip[4] = { 0 };
    if (vif->cfg.ip.family == 4) {
        memcpy(ip, vif->cfg.ip.a, 4);
    }
    if (f->vif == vif->cfg.idx && !memcmp(f->ip, ip, 4) && f->raw_tx >= 0) {
        return 0;               /* unchanged */
    }
    if (f->vif != VR_FLOW_INDEX_NONE && f->vif != vif->cfg.idx) {
        snprintf(err, errlen, "the fabric is already vif0/%u (one physical interface)", f->vif);
        return EEXIST;
    }
    fabric_close(eng);
    int error = open_udp(ip, VR_MPLS_UDP_PORT, &f->udp_mpls, err, errlen);
    if (!error) {
        error = open_udp(ip, VR_VXLAN_UDP_PORT, &f->udp_vxlan, err, errlen);
    }
    for (size_t i = 0; i < TX_SOCKS && !error; i++) {
        error = open_udp(ip, 0, &f->udp_tx[i], err, errlen);
    }
    if (!error) {
        f->gre = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, VR_IPPROTO_GRE);
        struct sockaddr_in sin = { .sin_family = AF_INET };
        memcpy(&sin.sin_addr, ip, 4);
        if (f->gre < 0 || bind(f->gre, (struct sockaddr *) &sin, sizeof sin) < 0) {
            error = errno;
            snprintf(err, errlen, "raw GRE socket: %s", strerror(error));
        }
    }
    if (!error) {
        f->raw_tx = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
        int size = 8 << 20;
        if (f->raw_tx < 0) {
            error = errno;
            snprintf(err, errlen, "raw IP socket: %s", strerror(error));
        } else if (setsockopt(f->raw_tx, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0) {
            setsockopt(f->raw_tx, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        }
    }
    if (error) {
        fabric_close(eng);
        return error;
    }
    f->ev_mpls = event_new(eng->base, f->udp_mpls, EV_READ | EV_PERSIST, fabric_rx_mpls, eng);
    f->ev_vxlan = event_new(eng->base, f->udp_vxlan, EV_READ | EV_PERSIST, fabric_rx_vxlan,
                            eng);
    f->ev_gre = event_new(eng->base, f->gre, EV_READ | EV_PERSIST, fabric_rx_gre, eng);
    event_add(f->ev_mpls, NULL);
    event_add(f->ev_vxlan, NULL);
    event_add(f->ev_gre, NULL);
    f->vif = vif->cfg.idx;
    memcpy(f->ip, ip, 4);
    eng->dp.fabric_vif = vif->cfg.idx;
    f->mtu = 1500;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%.15s", vif->cfg.name);
    if (ioctl(f->udp_mpls, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0) {
        f->mtu = (uint32_t) ifr.ifr_mtu;
    }
    if (vif->cfg.name[0]) {
        vif->cfg.os_idx = if_nametoindex(vif->cfg.name);
    }
    return 0;
}

/* ---- packet channel ---- */

static bool
uengine_tx_agent(void *aux, const uint8_t *buf, size_t len)
{
    struct vr_uengine *eng = aux;
    if (eng->pkt_fd < 0 || !eng->agent_len) {
        return false;
    }
    return sendto(eng->pkt_fd, buf, len, MSG_DONTWAIT, (struct sockaddr *) &eng->agent_addr,
                  eng->agent_len) == (ssize_t) len;
}

static void
pkt_rx(evutil_socket_t fd, short what, void *aux)
{
    struct vr_uengine *eng = aux;
    eng->dp.now_ms = vr_now_ms();
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(fd, eng->pkt_buf + VR_PKT_HEADROOM,
                         VR_PKT_MAX_DATA + VR_AGENT_HDR_LEN, MSG_DONTWAIT);
        if (n < 0) {
            break;
        }
        struct vr_pkt pkt;
        vr_pkt_init(&pkt, eng->pkt_buf, VR_PKT_BUFSIZE + VR_AGENT_HDR_LEN, VR_PKT_HEADROOM,
                    (uint32_t) n);
        vr_dp_agent_rx(&eng->dp, &pkt);
    }
    flush(eng);
}

/* ---- engine hooks ---- */

static int
uengine_if_add(struct vrouter *vr, struct vr_vif *vif, const struct vr_if_req *old, char *err,
               size_t errlen)
{
    struct vr_uengine *eng = vr->engine;
    if (!eng) {
        return 0;
    }
    switch (vif->cfg.type) {
    case VIF_TYPE_VIRTUAL:
    case VIF_TYPE_HOST:
        if (old && vif->engine && !strcmp(old->name, vif->cfg.name)) {
            return 0;
        }
        if (vif->engine) {
            port_close(vif->engine);
            vif->engine = NULL;
        }
        return port_open(eng, vif, err, errlen);
    case VIF_TYPE_PHYSICAL:
        return fabric_open(eng, vif, err, errlen);
    default:
        return 0;
    }
}

static void
uengine_if_del(struct vrouter *vr, struct vr_vif *vif)
{
    struct vr_uengine *eng = vr->engine;
    if (!eng) {
        return;
    }
    if (vif->engine) {
        port_close(vif->engine);
        vif->engine = NULL;
    }
    if (vif->cfg.type == VIF_TYPE_PHYSICAL && eng->fab.vif == vif->cfg.idx) {
        fabric_tx_flush(eng);
        fabric_close(eng);
    }
}

static void
uengine_flow_released(struct vrouter *vr, uint32_t index)
{
    struct vr_uengine *eng = vr->engine;
    if (eng) {
        eng->dp.now_ms = vr_now_ms();
        vr_dp_flow_released(&eng->dp, index);
    }
}

const struct vr_engine_class vr_uengine_class = {
    .name = "userspace",
    .if_add = uengine_if_add,
    .if_del = uengine_if_del,
    .flow_released = uengine_flow_released,
    .free_held = vr_dp_free_held,
};

static const struct vr_dp_io uengine_io = {
    .tx_vif = uengine_tx_vif,
    .tx_fabric = uengine_tx_fabric,
    .tx_agent = uengine_tx_agent,
};

static void
flush(struct vr_uengine *eng)
{
    if (eng->tx_n) {
        fabric_tx_flush(eng);
    }
    while (!list_is_empty(&eng->pending)) {
        struct uport *p = CONTAINER_OF(eng->pending.next, struct uport, pending_node);
        port_kick(p);
    }
}

void
vr_uengine_flush(struct vr_uengine *eng)
{
    flush(eng);
}

static void
age_tick(evutil_socket_t fd, short what, void *aux)
{
    struct vr_uengine *eng = aux;
    if (eng->vr) {
        vr_flow_age(&eng->vr->flows, vr_now_ms(), 65536);
    }
}

int
vr_uengine_create(struct event_base *base, const char *pkt_path, const char *agent_path,
                  struct vr_uengine **out, char *err, size_t errlen)
{
    struct vr_uengine *eng = mem_zalloc(&mem_type_uengine, sizeof *eng);
    eng->base = base;
    list_init(&eng->pending);
    eng->fab.vif = VR_FLOW_INDEX_NONE;
    eng->fab.udp_mpls = eng->fab.udp_vxlan = eng->fab.gre = eng->fab.raw_tx = -1;
    for (size_t i = 0; i < TX_SOCKS; i++) {
        eng->fab.udp_tx[i] = -1;
    }
    eng->tx_buf = mem_zalloc(&mem_type_uengine, (size_t) BATCH * VR_PKT_BUFSIZE);
    eng->rx_buf = mem_zalloc(&mem_type_uengine, (size_t) BATCH * RX_SLOT);
    eng->pkt_buf = mem_zalloc(&mem_type_uengine, VR_PKT_BUFSIZE + VR_AGENT_HDR_LEN);
    eng->pkt_fd = -1;
    *out = eng;
    if (agent_path && agent_path[0]) {
        if (strlen(agent_path) >= sizeof eng->agent_addr.sun_path) {
            snprintf(err, errlen, "agent socket path %s is too long", agent_path);
            return ENAMETOOLONG;
        }
        eng->agent_addr.sun_family = AF_UNIX;
        strcpy(eng->agent_addr.sun_path, agent_path);
        eng->agent_len = sizeof eng->agent_addr;
    }
    if (pkt_path && pkt_path[0]) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        if (strlen(pkt_path) >= sizeof sun.sun_path) {
            snprintf(err, errlen, "packet socket path %s is too long", pkt_path);
            return ENAMETOOLONG;
        }
        strcpy(sun.sun_path, pkt_path);
        eng->pkt_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        unlink(pkt_path);
        if (eng->pkt_fd < 0 || bind(eng->pkt_fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
            int error = errno;
            snprintf(err, errlen, "packet socket %s: %s", pkt_path, strerror(error));
            return error;
        }
        int size = 4 << 20;
        setsockopt(eng->pkt_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        eng->ev_pkt = event_new(base, eng->pkt_fd, EV_READ | EV_PERSIST, pkt_rx, eng);
        event_add(eng->ev_pkt, NULL);
    }
    eng->ev_age = event_new(base, -1, EV_PERSIST, age_tick, eng);
    struct timeval tv = { 0, 250000 };
    event_add(eng->ev_age, &tv);
    return 0;
}

void
vr_uengine_attach(struct vr_uengine *eng, struct vrouter *vr)
{
    eng->vr = vr;
    vr_dp_init(&eng->dp, vr, &uengine_io, eng);
}

void
vr_uengine_register_introspect(struct vr_uengine *eng, struct introspect *is)
{
    introspect_add_counter(is, "vrouter_fabric_gso_sends",
                           "UDP GSO sends (runs of tunnel packets sent in one go)",
                           &eng->gso_sends);
    introspect_add_counter(is, "vrouter_fabric_gso_segments",
                           "tunnel packets sent in UDP GSO runs", &eng->gso_segments);
}

struct vr_dp *
vr_uengine_dp(struct vr_uengine *eng)
{
    return &eng->dp;
}

void
vr_uengine_destroy(struct vr_uengine *eng)
{
    if (!eng) {
        return;
    }
    flush(eng);
    fabric_close(eng);
    if (eng->ev_pkt) {
        event_free(eng->ev_pkt);
    }
    if (eng->ev_age) {
        event_free(eng->ev_age);
    }
    if (eng->pkt_fd >= 0) {
        close(eng->pkt_fd);
    }
    mem_free(&mem_type_uengine, eng->tx_buf);
    mem_free(&mem_type_uengine, eng->rx_buf);
    mem_free(&mem_type_uengine, eng->pkt_buf);
    mem_free(&mem_type_uengine, eng);
}
