/*
 * The packet link: AF_PACKET with mmap'd TPACKET_V2 receive and transmit rings, a classic BPF
 * socket filter. Works on any Linux interface; needs CAP_NET_RAW.
 *
 * Addressing: own address only. An AF_PACKET socket sees a copy of each frame; the kernel still
 * receives the original. If the kernel owned our address it would answer every segment of our
 * flows with a RST (it has no socket for them: a reserved, bound-but-not-listening socket does
 * not stop that), and no filter of ours can take the frame away from it. So the stack uses an
 * address the kernel does not own (local_addr), answers ARP for it itself, and the kernel,
 * seeing IPv4 for an address that is not its own, drops it (with forwarding off, the default).
 *
 * Receive: the ring is polled in shared memory, no system call. rx_burst() hands frames by
 * pointer into the ring; rx_release() gives the slot back to the kernel. The filter passes only
 * TCP to our address and ARP asking for or answering our address, so the ring carries nothing
 * else. Checksums: a frame the NIC (or the kernel) verified carries TP_STATUS_CSUM_VALID, and
 * the link passes that on per frame (ET_RX_CSUM_TCP: it covers the transport checksum; the IPv4
 * header, which the packet tap sees before IP has looked at it, is verified in software). Frames
 * whose checksum was never filled in (TP_STATUS_CSUMNOTREADY: sent from this host, e.g. over veth
 * with TX checksum offload on) are completed here, which makes it correct by construction.
 *
 * Transmit: the engine keeps unacknowledged segments in their TX buffers for retransmission and
 * addresses buffers by id in any order, while the kernel consumes TX ring slots strictly in ring
 * order and reuses them. So the TX buffers are our own memory, tx() copies the frame into the
 * next ring slot (one copy of at most one MTU, from cache) and reports the buffer complete at
 * once; tx_flush() makes the one sendto() that sends every queued slot.
 *
 * One stack per address and interface: two would both see every frame for the address, and each
 * would answer the other's segments with RST. The link holds a name in the abstract unix socket
 * namespace, "efvitcp-packet/IFINDEX/A.B.C.D", bound for as long as it lives; a second opener's
 * bind fails and it is refused. The kernel frees the name when the socket closes, which it does
 * when the process dies too, so a crash leaves nothing stale behind (a lock file would be left
 * under /run); and the namespace is per network namespace, as interface indexes are.
 *
 * Flow steering: flow_add/flow_del are NULL. The filter already limits the socket to our address,
 * and the stack, as the sole owner of that address, must see every segment sent to it (it
 * answers those of unknown flows with RST, as a host does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "link/done_ring.h"
#include "link/link.h"
#include "net/checksum.h"
#include "net/headers.h"
#include "net/netlink.h"
#include "util/clock.h"

#define RING_BLOCK   (1u << 16) /* ring block size: a multiple of the page size */
#define TX_RING_MIN  512u       /* frames of the transmit ring */
#define RX_ETH_SLACK 128u       /* room for the ring's own header in front of a frame */

typedef struct pkt_link {
    et_link base; /* first: the engine's et_link * is a pkt_link * */
    int fd;
    int lock_fd; /* the abstract unix socket naming our interface and address, or -1 */
    uint8_t *map;
    size_t map_len;

    uint8_t *rx_ring;
    uint32_t rx_frames, rx_frame_size, rx_head;
    uint8_t *rx_held; /* per ring frame: handed to the engine, not yet released */

    uint8_t *tx_ring;
    uint32_t tx_frames, tx_frame_size, tx_head;
    uint32_t tx_data_off; /* where the frame starts in a TX ring slot */
    uint32_t tx_queued;   /* slots marked SEND_REQUEST that the kernel may not have taken yet */

    et_done_ring done; /* TX buffer ids awaiting tx_done */
    et_clock clock;
    /* Set once the link is open: the drop counters at close (log_stats). */
    void (*log)(void *log_ctx, int level, const char *msg);
    void *log_ctx;
} pkt_link;

static inline struct tpacket2_hdr *rx_hdr(const pkt_link *k, uint32_t i)
{
    return (struct tpacket2_hdr *)(void *)(k->rx_ring + (size_t)i * k->rx_frame_size);
}

static inline struct tpacket2_hdr *tx_hdr(const pkt_link *k, uint32_t i)
{
    return (struct tpacket2_hdr *)(void *)(k->tx_ring + (size_t)i * k->tx_frame_size);
}

/* The ring status word is shared with the kernel: acquire on read (the frame's bytes were written
   before it), release on write (our bytes are visible before the kernel sees the new status). */
static inline uint32_t status_load(const struct tpacket2_hdr *h)
{
    return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

static inline void status_store(struct tpacket2_hdr *h, uint32_t v)
{
    __atomic_store_n(&h->tp_status, v, __ATOMIC_RELEASE);
}

/*
 * A frame sent from this host with its TCP checksum left to the (absent) hardware holds only the
 * pseudo-header sum: compute the real checksum in place. Only IPv4/TCP whose headers are sane is
 * touched (true); anything else is left for the stack's parser to reject.
 */
static bool complete_tcp_csum(uint8_t *f, uint32_t len)
{
    if (len < ET_ETH_HLEN + ET_IP_HLEN + ET_TCP_HLEN) return false;
    uint16_t type;
    memcpy(&type, f + 12, 2);
    if (type != htons(ET_ETHERTYPE_IP)) return false;
    struct et_ip_hdr ip;
    memcpy(&ip, f + ET_ETH_HLEN, sizeof(ip));
    uint32_t ihl = (ip.ver_ihl & 0x0f) * 4u, tot = ntohs(ip.tot_len);
    if ((ip.ver_ihl >> 4) != 4 || ihl < ET_IP_HLEN || ip.proto != ET_IPPROTO_TCP) return false;
    if (tot < ihl + ET_TCP_HLEN || tot > len - ET_ETH_HLEN) return false;
    if (ip.frag_off & htons(0x3fff)) return false; /* a fragment has no whole segment to sum */
    uint8_t *tcp = f + ET_ETH_HLEN + ihl;
    uint32_t tcp_len = tot - ihl;
    memset(tcp + 16, 0, 2);
    uint64_t sum = et_csum_pseudo(ip.saddr, ip.daddr, ET_IPPROTO_TCP, (uint16_t)tcp_len);
    uint16_t c = et_csum_finish(et_csum_add(sum, tcp, tcp_len));
    memcpy(tcp + 16, &c, 2);
    return true;
}

static int pkt_rx_burst(et_link *l, et_rx_frame *out, int max)
{
    pkt_link *k = (pkt_link *)l;
    int n = 0;
    while (n < max) {
        uint32_t i = k->rx_head;
        if (k->rx_held[i]) break; /* the ring wrapped onto a frame the engine still reads */
        struct tpacket2_hdr *h = rx_hdr(k, i);
        uint32_t status = status_load(h);
        if (!(status & TP_STATUS_USER)) break;
        k->rx_head = i + 1 == k->rx_frames ? 0 : i + 1;
        uint32_t off = h->tp_mac, len = h->tp_snaplen;
        /* A tag the NIC stripped means another VLAN's frame on the parent interface; a frame
           described outside its slot would be a kernel bug, but must not become a wild read. */
        if ((status & TP_STATUS_VLAN_VALID) || off > k->rx_frame_size ||
            len > k->rx_frame_size - off) {
            status_store(h, TP_STATUS_KERNEL);
            continue;
        }
        uint8_t *f = (uint8_t *)h + off;
        uint32_t csum = 0;
        if (status & TP_STATUS_CSUMNOTREADY) {
            if (complete_tcp_csum(f, len)) csum = ET_RX_CSUM_TCP;
        } else if (status & TP_STATUS_CSUM_VALID) {
            csum = ET_RX_CSUM_TCP;
        }
        k->rx_held[i] = 1;
        out[n].data = f;
        out[n].len = len;
        out[n].id = i;
        out[n].hw_ts = 0;
        out[n].csum = csum;
        n++;
    }
    return n;
}

static void pkt_rx_release(et_link *l, uint32_t id)
{
    pkt_link *k = (pkt_link *)l;
    if (id >= k->rx_frames || !k->rx_held[id]) return; /* stale or foreign id */
    k->rx_held[id] = 0;
    status_store(rx_hdr(k, id), TP_STATUS_KERNEL);
}

/*
 * One sendto() sends the slots marked SEND_REQUEST, in ring order, without waiting for them to be
 * released (MSG_DONTWAIT). The kernel may stop early and still report success: when its send
 * buffer is full (over veth, the peer's socket holds our earlier frames until its application
 * reads them). Until the newest slot has been taken, the next flush tries again; otherwise the
 * last frames of a burst (a FIN) would wait for the next transmission, or for an RTO.
 */
static void kick(pkt_link *k)
{
    if (!k->tx_queued) {
        k->base.tx_down = 0;
        return;
    }
    ssize_t r = sendto(k->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
    /* An interface that is down takes nothing until it is up again: an idle wait sleeps rather
       than spins on the frames (pkt_prime), and a later poll (a timer's) kicks again. */
    k->base.tx_down = r < 0 && (errno == ENETDOWN || errno == ENXIO || errno == ENODEV);
    uint32_t newest = (k->tx_head ? k->tx_head : k->tx_frames) - 1;
    if (status_load(tx_hdr(k, newest)) != TP_STATUS_SEND_REQUEST) k->tx_queued = 0;
}

static int pkt_tx(et_link *l, uint32_t id, uint32_t len)
{
    pkt_link *k = (pkt_link *)l;
    if (id >= l->n_tx || len > l->tx_buf_size || len > k->tx_frame_size - k->tx_data_off ||
        len < ET_ETH_HLEN || et_done_ring_full(&k->done))
        return -1;
    struct tpacket2_hdr *h = tx_hdr(k, k->tx_head);
    if (status_load(h) != TP_STATUS_AVAILABLE) {
        /* The ring is full of queued or in-flight frames: send what is queued and look again.
           The engine retries on its next poll if the slot is still busy. */
        kick(k);
        if (status_load(h) != TP_STATUS_AVAILABLE) return -1;
    }
    memcpy((uint8_t *)h + k->tx_data_off, et_link_tx_buf(l, id), len);
    h->tp_len = len;
    status_store(h, TP_STATUS_SEND_REQUEST);
    k->tx_head = k->tx_head + 1 == k->tx_frames ? 0 : k->tx_head + 1;
    k->tx_queued++;
    /* The bytes are in the ring: the engine may rewrite its buffer at once. */
    et_done_ring_put(&k->done, id);
    return 0;
}

static void pkt_tx_flush(et_link *l)
{
    kick((pkt_link *)l);
}

static int pkt_tx_done(et_link *l, uint32_t *ids, int max)
{
    return et_done_ring_take(&((pkt_link *)l)->done, ids, max);
}

/* et_link_ops.idle: no frame at the head of the receive ring, nothing queued for the kernel to
   send (kick), no transmit buffer to report. */
static int pkt_idle(et_link *l, uint64_t now)
{
    pkt_link *k = (pkt_link *)l;
    (void)now;
    return !k->tx_queued && et_done_ring_empty(&k->done) &&
           !(status_load(rx_hdr(k, k->rx_head)) & TP_STATUS_USER);
}

static uint64_t pkt_now(et_link *l)
{
    return et_clock_now(&((pkt_link *)l)->clock);
}

/* The kernel's drop counter of the socket (a full receive ring), for the log: losses here look
   like network loss, and no device counter sees them. As the xdp link's, so that one line tells
   what was lost below the stack (tests/interop/lib.sh, drops_below_stack). */
static void log_stats(const pkt_link *k)
{
    struct tpacket_stats st;
    socklen_t len = sizeof(st);
    if (!k->log || k->fd < 0 || getsockopt(k->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len)) return;
    char msg[120];
    /* tp_packets counts the dropped frames too (the kernel adds them when it reports). */
    snprintf(msg, sizeof(msg), "packet link: closing; kernel drops: rx %u of %u frames",
             st.tp_drops, st.tp_packets);
    k->log(k->log_ctx, ET_LINK_LOG_INFO, msg);
}

static void pkt_destroy(et_link *l)
{
    pkt_link *k = (pkt_link *)l;
    if (!k) return;
    log_stats(k);
    if (k->fd >= 0) {
        /* Frames still queued leave now (the stack's last RSTs), then the socket goes. */
        kick(k);
        close(k->fd);
    }
    if (k->map) munmap(k->map, k->map_len);
    if (k->lock_fd >= 0) close(k->lock_fd);
    free(k->rx_held);
    et_done_ring_free(&k->done);
    free(l->tx_base);
    free(k);
}

/* Idle waits: the socket is readable while the frame the kernel wrote last is still ours
   (packet_poll), so nothing needs arming; a frame at our head already is reported instead. */
static int pkt_wake_fd(et_link *l)
{
    return ((pkt_link *)l)->fd;
}

static int pkt_prime(et_link *l)
{
    pkt_link *k = (pkt_link *)l;
    /* Frames the kernel did not take at the last sendto (its send buffer was full) would wait
       in the ring for as long as we sleep: one more try, and work now if they still wait. */
    kick(k);
    if (k->tx_queued && !k->base.tx_down) return 1;
    /* The kernel marks the socket with ENETDOWN when the interface goes down, and the socket
       then polls as readable (POLLERR) until the error is read: read it here, or an idle wait
       would wake at once for as long as the interface stays down. One syscall per sleep. */
    int err = 0;
    socklen_t len = sizeof(err);
    (void)getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    uint32_t i = k->rx_head;
    return !k->rx_held[i] && (status_load(rx_hdr(k, i)) & TP_STATUS_USER) ? 1 : 0;
}

static const et_link_ops pkt_ops = {
    .rx_burst = pkt_rx_burst,
    .rx_release = pkt_rx_release,
    .tx = pkt_tx,
    .tx_flush = pkt_tx_flush,
    .tx_done = pkt_tx_done,
    .now = pkt_now,
    .idle = pkt_idle,
    .flow_add = NULL,
    .flow_del = NULL,
    .destroy = pkt_destroy,
    .wake_fd = pkt_wake_fd,
    .prime = pkt_prime,
    .next_due = NULL,
};

/*
 * Classic BPF: accept IPv4/TCP to our address and ARP whose target is our address; reject frames
 * this host sent (in case PACKET_IGNORE_OUTGOING is missing) and frames of another VLAN. Loads
 * past the end of a short frame make the kernel reject it.
 */
#define FILTER_LEN 15

static void build_filter(struct sock_filter *f, uint32_t ip)
{
    /* Jump offsets count from the next instruction: J(i, t) is the offset from i to t. */
#define J(i, t) ((uint8_t)((t) - (i)-1))
    enum { ACCEPT = 13, REJECT = 14 };
    const struct sock_filter prog[FILTER_LEN] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)), /* 0 */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, J(1, REJECT), 0),       /* 1 */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 (uint32_t)(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)),        /* 2 */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, J(3, REJECT)),           /* 3 */
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                            /* 4: EtherType */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ET_ETHERTYPE_IP, 0, J(5, 10)), /* 5 */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ET_ETH_HLEN + 16),              /* 6: IPv4 destination */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ip, 0, J(7, REJECT)),          /* 7 */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ET_ETH_HLEN + 9),               /* 8: IPv4 protocol */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ET_IPPROTO_TCP, J(9, ACCEPT), J(9, REJECT)), /* 9 */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ET_ETHERTYPE_ARP, 0, J(10, REJECT)),         /* 10 */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ET_ETH_HLEN + 24), /* 11: ARP target address */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ip, J(12, ACCEPT), J(12, REJECT)), /* 12 */
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),                                /* 13: whole frame */
        BPF_STMT(BPF_RET | BPF_K, 0),                                          /* 14: drop */
    };
#undef J
    memcpy(f, prog, sizeof(prog));
}

/* Frame slots: a power of two holding the ring header, the frame and alignment slack. The sum
   is 64-bit and the doubling stops at the block: an MTU near 2^31 would otherwise wrap fs to 0
   and loop for ever. */
uint32_t et_packet_frame_size(uint32_t mtu)
{
    uint64_t need = (uint64_t)mtu + ET_ETH_HLEN + RX_ETH_SLACK;
    uint32_t fs = 2048;
    while (fs < need && fs <= RING_BLOCK) fs <<= 1;
    return fs <= RING_BLOCK ? fs : 0;
}

static const char *setup_socket(pkt_link *k, const et_link_params *p, uint32_t mtu)
{
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno == EPERM ? "packet link: AF_PACKET needs CAP_NET_RAW (run as root)"
                              : "packet link: cannot open an AF_PACKET socket";
    k->fd = fd;
    int v = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)))
        return "packet link: TPACKET_V2 not supported";

    /* The filter goes on before bind(): protocol 0 receives nothing until then. */
    struct sock_filter code[FILTER_LEN];
    build_filter(code, k->base.local_ip);
    struct sock_fprog prog = {FILTER_LEN, code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
        return "packet link: cannot attach the socket filter";
    int one = 1;
    (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    /* No PACKET_QDISC_BYPASS: with it a frame meeting a busy driver queue is dropped in the
       kernel (packet_direct_xmit frees it), a loss the stack only learns of by retransmitting;
       the interface's qdisc holds it instead. Measured on a veth pair it bought nothing (same
       p50, no better throughput): docs/links.md. */
    /* A malformed TX slot is skipped instead of stopping the ring. */
    (void)setsockopt(fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one));

    uint32_t fs = et_packet_frame_size(mtu);
    if (!fs) return "packet link: MTU too large";
    uint32_t per_block = RING_BLOCK / fs;

    uint32_t rx = p->n_rx < per_block ? per_block : p->n_rx;
    rx = (rx + per_block - 1) / per_block * per_block;
    struct tpacket_req rq = {RING_BLOCK, rx / per_block, fs, rx};
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &rq, sizeof(rq)))
        return "packet link: cannot create the receive ring";
    uint32_t tx = (TX_RING_MIN + per_block - 1) / per_block * per_block;
    struct tpacket_req tq = {RING_BLOCK, tx / per_block, fs, tx};
    if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &tq, sizeof(tq)))
        return "packet link: cannot create the transmit ring";
    /* Frames sent from the ring count against the send buffer until the skb is freed: let the
       whole ring be in flight (SO_SNDBUFFORCE needs CAP_NET_ADMIN; SO_SNDBUF is capped by
       net.core.wmem_max). A smaller buffer only makes kick() send in several steps. */
    int sndbuf = (int)(2u * tx * fs);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

    /* One mapping: the receive ring, then the transmit ring. */
    size_t rx_bytes = (size_t)rq.tp_block_size * rq.tp_block_nr;
    size_t tx_bytes = (size_t)tq.tp_block_size * tq.tp_block_nr;
    void *m =
        mmap(NULL, rx_bytes + tx_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED) return "packet link: cannot map the rings";
    k->map = m;
    k->map_len = rx_bytes + tx_bytes;
    k->rx_ring = k->map;
    k->rx_frames = rx;
    k->rx_frame_size = fs;
    k->tx_ring = k->map + rx_bytes;
    k->tx_frames = tx;
    k->tx_frame_size = fs;
    /* Without PACKET_TX_HAS_OFF the kernel reads the frame right after the V2 header. */
    k->tx_data_off = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
    k->rx_held = calloc(rx, 1);
    if (!k->rx_held) return "out of memory";

    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)k->base.ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
        return "packet link: cannot bind to the interface";
    return NULL;
}

/* Takes the interface and address for this link (see the top of the file). */
static const char *claim_address(pkt_link *k, const et_link_params *p)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "packet link: cannot open a unix socket for the address lock";
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    uint32_t ip = k->base.local_ip;
    /* sun_path[0] stays 0: an abstract name, no file. */
    int n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "efvitcp-packet/%u/%u.%u.%u.%u",
                     k->base.ifindex, ip >> 24, ip >> 16 & 255u, ip >> 8 & 255u, ip & 255u);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    if (bind(fd, (struct sockaddr *)&a, len) == 0) {
        k->lock_fd = fd;
        return NULL;
    }
    int e = errno;
    close(fd);
    if (e == EADDRINUSE)
        return "packet link: another stack already has local_addr on this interface (both would "
               "see every frame and reset each other's connections)";
    /* A sandbox that forbids abstract sockets: run, but say the guard is missing. */
    if (p->log)
        p->log(p->log_ctx, ET_LINK_LOG_WARN,
               "packet link: cannot take the address lock (abstract unix socket); a second stack "
               "with this local_addr on this interface would not be refused");
    return NULL;
}

const char *et_packet_link_open(const char *ifname, const et_link_params *p, et_link **out)
{
    if (!out) return "packet link: out is NULL";
    *out = NULL;
    if (!p || p->n_tx == 0 || p->n_rx == 0) return "packet link needs n_tx and n_rx > 0";
    if (p->tx_buf_size != 1024 && p->tx_buf_size != 2048)
        return "packet link: tx_buf_size must be 1024 or 2048";
    if (!p->local_addr)
        return "packet link needs local_addr (an address the kernel does not own, e.g. "
               "--ip A.B.C.D/prefix): the kernel sees every frame and would reset our flows";

    et_link tmp;
    memset(&tmp, 0, sizeof(tmp));
    const char *err = et_link_config_addr(p, &tmp);
    if (err) return err;

    et_nl nl;
    if ((err = et_nl_open(&nl))) return err;
    et_if_info info;
    err = et_nl_get_if(&nl, ifname, &info);
    int owned = err ? 0 : et_nl_addr_owned(&nl, tmp.local_ip);
    et_nl_close(&nl);
    if (err) return err;
    if (owned != 0)
        return owned > 0 ? "packet link: the kernel owns local_addr; use an address it does not "
                           "own (the kernel would reset our flows)"
                         : "packet link: cannot read the kernel's addresses";
    if (!info.up) return "packet link: interface is down";

    pkt_link *k = calloc(1, sizeof(*k));
    if (!k) return "out of memory";
    k->fd = -1;
    k->lock_fd = -1;
    k->base = tmp;
    k->base.ops = &pkt_ops;
    k->clock = p->clock;
    k->base.tsc = p->clock.tsc; /* now() is that clock: the engine may read it inline */
    memcpy(k->base.mac, info.mac, 6);
    k->base.mtu = info.mtu;
    k->base.ifindex = info.ifindex;
    k->base.tx_buf_size = p->tx_buf_size;
    k->base.n_tx = p->n_tx;
    uint64_t bytes = (uint64_t)p->n_tx * p->tx_buf_size;
    size_t rounded = (size_t)((bytes + 4095u) & ~(uint64_t)4095u);
    k->base.tx_base = aligned_alloc(4096, rounded);
    bool done_ok = et_done_ring_init(&k->done, p->n_tx);
    if (!k->base.tx_base || !done_ok) {
        pkt_destroy(&k->base);
        return "out of memory";
    }
    memset(k->base.tx_base, 0, rounded);
    /* Before the socket: a refused opener must not see (and answer) a single frame. */
    if ((err = claim_address(k, p)) || (err = setup_socket(k, p, info.mtu))) {
        pkt_destroy(&k->base);
        return err;
    }
    k->log = p->log;
    k->log_ctx = p->log_ctx;
    *out = &k->base;
    return NULL;
}
