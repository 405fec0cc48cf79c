/*
 * The AF_PACKET backend of emulated ports: the port's wire is a real Linux interface, so that a
 * program on the efvi link over the emulator ("efvi:IF" without cfg->wire) talks to real peers,
 * the kernel's TCP among them (tests/interop).
 *
 * Only where frames come from and go to differs from a mem-wire port: receive reads a TPACKET_V2
 * ring when a VI polls (no system call while it is empty), transmit is one send() per frame as
 * the NIC finishes it, and the clock is CLOCK_MONOTONIC. Steering, rings, events and faults are
 * the port's, in emu_nic.c and emu_vi.c.
 *
 * What the port sees is what a NIC on that wire would: frames the host sent itself (outgoing) are
 * not on the port's wire, and unicast frames for another MAC are ones a NIC's MAC filter drops.
 * An AF_PACKET socket only taps the interface, so the kernel still receives every frame: an IP
 * filter for an address the kernel owns is refused, since the kernel would answer that flow's
 * segments with RST (docs/links.md, "Why packet needs an address of its own").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "emu_internal.h"
#include "net/netlink.h"

#define PKT_RING_BYTES (4u << 20) /* the NIC's receive FIFO, in effect */
#define PKT_BLOCK      (64u << 10)
#define PKT_SKIP_MAX   64 /* frames skipped per call at most: a poll must end */

struct emu_packet {
    int fd;
    uint8_t *ring;
    size_t ring_len;
    uint32_t frame_size, n_frames, head;
    uint32_t ok_ip;     /* network order: a local address found not to be the kernel's */
    bool refused_shown; /* the kernel-shared refusal was explained once */
};

uint64_t emu_packet_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The status word is shared with the kernel: acquire on read (the frame was written before it),
   release on write (we are done with the slot before the kernel reuses it). */
static uint32_t status_load(const struct tpacket2_hdr *h)
{
    return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

static void status_store(struct tpacket2_hdr *h, uint32_t v)
{
    __atomic_store_n(&h->tp_status, v, __ATOMIC_RELEASE);
}

static struct tpacket2_hdr *slot_hdr(const struct emu_packet *p, uint32_t i)
{
    return (struct tpacket2_hdr *)(p->ring + (size_t)i * p->frame_size);
}

static const char *ring_setup(struct emu_packet *p, uint32_t frame_bytes)
{
    int v = TPACKET_V2;
    if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)))
        return "emulated port: TPACKET_V2 not supported";
    /* A slot holds the header, the address and the frame; powers of two tile the blocks. */
    uint32_t need = TPACKET_ALIGN(TPACKET2_HDRLEN + 16) + frame_bytes, fs = 2048;
    while (fs < need) fs <<= 1;
    uint32_t block = fs > PKT_BLOCK ? fs : PKT_BLOCK;
    struct tpacket_req rq;
    memset(&rq, 0, sizeof(rq));
    rq.tp_block_size = block;
    rq.tp_block_nr = PKT_RING_BYTES / block ? PKT_RING_BYTES / block : 1;
    rq.tp_frame_size = fs;
    rq.tp_frame_nr = rq.tp_block_nr * (block / fs);
    if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &rq, sizeof(rq)))
        return "emulated port: cannot set up the AF_PACKET receive ring";
    p->ring_len = (size_t)block * rq.tp_block_nr;
    void *m = mmap(NULL, p->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, p->fd, 0);
    if (m == MAP_FAILED) return "emulated port: cannot map the AF_PACKET receive ring";
    p->ring = m;
    p->frame_size = fs;
    p->n_frames = rq.tp_frame_nr;
    return NULL;
}

const char *emu_packet_open(struct efvi_emu_nic *nic, int ifindex)
{
    et_nl nl;
    const char *err = et_nl_open(&nl);
    et_if_info info;
    if (!err) err = et_nl_get_if(&nl, nic->name, &info);
    et_nl_close(&nl);
    if (err) return err;
    if ((int)info.ifindex != ifindex) return "emulated port: the interface changed while opening";
    /* A NIC's MTU tops out at jumbo frames, whatever the interface allows (lo: 64 KiB). */
    if (!nic->cfg.mtu) nic->cfg.mtu = info.mtu + 14 < 9014 ? info.mtu + 14 : 9014;
    if (nic->cfg.mtu < 14 + 68 || nic->cfg.mtu > EMU_FRAME_MAX)
        return "emulated port: MTU out of range";
    memcpy(nic->mac, info.mac, 6);

    struct emu_packet *p = calloc(1, sizeof(*p));
    if (!p) return "out of memory";
    p->fd = -1;
    nic->pkt = p;
    /* Protocol 0 receives nothing until bind(): no frame lands before the ring exists. */
    p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0)
        return errno == EPERM ? "emulated port: AF_PACKET needs CAP_NET_RAW"
                              : "emulated port: cannot open an AF_PACKET socket";
    int one = 1;
    /* Our own frames are not on the port's wire (the flag exists since Linux 4.20; without it
       the PACKET_OUTGOING check in emu_packet_rx skips them). */
    (void)setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    /* A NIC's frames leave without the host's queueing discipline. */
    (void)setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
    if ((err = ring_setup(p, nic->cfg.mtu + 4))) return err; /* + 4: a VLAN tag */
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)))
        return "emulated port: cannot bind the AF_PACKET socket to the interface";
    return NULL;
}

void emu_packet_close(struct efvi_emu_nic *nic)
{
    struct emu_packet *p = nic->pkt;
    if (!p) return;
    if (p->ring) munmap(p->ring, p->ring_len);
    if (p->fd >= 0) close(p->fd);
    free(p);
    nic->pkt = NULL;
}

/* A frame sent from this host with its TCP checksum left to offload carries only the
   pseudo-header sum; on a wire it would be complete. */
static void complete_csum(uint8_t *f, uint32_t len)
{
    emu_frame_csum_fill(f, len, false, true);
}

bool emu_packet_rx(struct efvi_emu_nic *nic, uint8_t **frame, uint32_t *len)
{
    struct emu_packet *p = nic->pkt;
    for (int skipped = 0; skipped < PKT_SKIP_MAX; skipped++) {
        struct tpacket2_hdr *h = slot_hdr(p, p->head);
        uint32_t status = status_load(h);
        if (!(status & TP_STATUS_USER)) return false;
        const struct sockaddr_ll *sll =
            (const struct sockaddr_ll *)((const uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
        uint32_t off = h->tp_mac, n = h->tp_snaplen;
        bool foreign = sll->sll_pkttype == PACKET_OUTGOING || sll->sll_pkttype == PACKET_OTHERHOST;
        bool bad = (status & TP_STATUS_VLAN_VALID) || n != h->tp_len || n < 14 ||
                   n > nic->cfg.mtu || off > p->frame_size || n > p->frame_size - off;
        if (!foreign && !bad) {
            uint8_t *f = (uint8_t *)h + off;
            if (status & TP_STATUS_CSUMNOTREADY) complete_csum(f, n);
            *frame = f;
            *len = n;
            return true;
        }
        if (bad && !foreign) nic->st.rx_wire_dropped++;
        emu_packet_rx_done(nic);
    }
    return false;
}

void emu_packet_rx_done(struct efvi_emu_nic *nic)
{
    struct emu_packet *p = nic->pkt;
    status_store(slot_hdr(p, p->head), TP_STATUS_KERNEL);
    p->head = p->head + 1 == p->n_frames ? 0 : p->head + 1;
}

bool emu_packet_send(struct efvi_emu_nic *nic, const uint8_t *frame, uint32_t len)
{
    if (send(nic->pkt->fd, frame, len, MSG_DONTWAIT) == (ssize_t)len) return true;
    /* Full queues (the socket's send buffer; ENOBUFS: a veth peer's backlog) hold the NIC back,
       as a busy link would: the frame waits on the ring rather than being lost. Anything else,
       a downed interface above all, loses it, as a wire would: TCP resends it. */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == ENOMEM) {
        nic->st.tx_wire_busy++;
        return false;
    }
    nic->st.tx_wire_dropped++;
    return true;
}

void emu_packet_sync_stats(struct efvi_emu_nic *nic)
{
    /* The kernel resets its counters as it reports them. */
    struct tpacket_stats ks;
    socklen_t len = sizeof(ks);
    if (getsockopt(nic->pkt->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0)
        nic->st.rx_wire_overflow += ks.tp_drops;
}

int emu_packet_filter_check(struct efvi_emu_nic *nic, uint32_t lip)
{
    struct emu_packet *p = nic->pkt;
    if (lip && lip == p->ok_ip) return 0;
    int owned = 1; /* a wildcard local address would take the kernel's flows too */
    if (lip) {
        et_nl nl;
        owned = et_nl_open(&nl) ? -1 : et_nl_addr_owned(&nl, ntohl(lip));
        et_nl_close(&nl);
    }
    if (owned == 0) {
        p->ok_ip = lip;
        return 0;
    }
    if (!p->refused_shown) {
        /* Test programs only: the link can report no more than a failed filter. */
        char a[INET_ADDRSTRLEN];
        struct in_addr in = {lip};
        inet_ntop(AF_INET, &in, a, sizeof(a));
        fprintf(stderr,
                "ef_vi emulator: %s is an AF_PACKET port, which cannot take flows of %s away from "
                "the kernel (%s): give the stack an address of its own (local_addr)\n",
                nic->name, a,
                owned > 0 ? "it owns that address" : "cannot read the kernel's addresses");
        p->refused_shown = true;
    }
    return -EPERM;
}
