/*
 * The xdp link: AF_XDP through libxdp (UMEM, sockets, rings) and libbpf (object load, attach by
 * BPF link, maps), with our own XDP program (xdp_prog.bpf.c, embedded at build time) that steers
 * only our flows to the socket.
 *
 * UMEM layout: the engine's n_tx transmit buffers first (buffer id i at offset i * tx_buf_size, so
 * a TX descriptor is the buffer itself: no copy), then n_rx receive frames of one chunk each. In
 * aligned mode a descriptor may not cross a chunk boundary; tx_buf_size (1024/2048) divides the
 * chunk size (2048/4096), so no TX buffer ever does.
 *
 * Rings: the fill ring holds free RX frames, the RX ring frames the kernel wrote; the TX ring our
 * frames to send, the completion ring those the kernel (or NIC) finished reading. With
 * XDP_USE_NEED_WAKEUP a system call is made only when the kernel asks for one: sendto() when the
 * TX ring's flag is set, recvfrom() when the fill ring's is. Drivers in zero-copy mode clear both
 * while their NAPI loop is busy, so the receive path then runs without any system call.
 */
#include <errno.h>
#include <stdarg.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "link/link.h"
#include "link/xdp_prog.h"
#include "net/netlink.h"
#include "util/clock.h"
#include "xdp_prog_obj.h" /* generated: et_xdp_prog_obj[], et_xdp_prog_obj_len */

#define XDP_HEADROOM    256u /* XDP_PACKET_HEADROOM: the kernel puts frames this far in */
#define ETH_HDR_LEN     14u
#define FILL_BATCH      64u /* released RX frames go back to the fill ring in batches */
#define TX_RING_MAX     4096u
#define KICKS_PER_FLUSH 64 /* copy mode sends at most a small batch per sendto() */
#define CONN_MAP_MARGIN 16u

typedef struct xdp_link {
    et_link base; /* first: the engine's et_link * is an xdp_link * */
    int ifindex;
    uint32_t queue;
    bool native; /* the program runs in the driver, not on skbs */
    bool zero_copy;

    uint8_t *area; /* the UMEM */
    size_t area_size, map_size;
    uint64_t rx_off; /* UMEM offset of RX frame 0 */
    uint32_t chunk;  /* RX frame size */
    uint32_t n_rx;
    uint8_t *rx_held;    /* per RX frame: lent to the engine */
    uint32_t *fill_pend; /* released RX frame ids not yet on the fill ring */
    uint32_t n_fill_pend;

    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    int xsk_fd;
    struct xsk_ring_prod fq, tx;
    struct xsk_ring_cons cq, rx;

    struct bpf_object *obj;
    int prog_link; /* bpf_link fd attaching the program; -1 when not attached */
    int fd_listen, fd_conns, fd_cfg;
    struct et_xdp_cfg cfg; /* what et_cfg holds */
    uint32_t conn_entries, listen_words;
    uint64_t listen_bits[ET_XDP_LISTEN_WORDS]; /* what et_listen holds */
    /* References per port: the listener's and one per passive connection, which the port's
       bit steers (the engine's tcp_listen.c); the bit goes when the last one does. */
    uint32_t *listen_refs;

    void (*log)(void *log_ctx, int level, const char *msg);
    void *log_ctx;
    et_clock clock;
} xdp_link;

static void note(const xdp_link *x, int level, const char *msg)
{
    if (x->log) x->log(x->log_ctx, level, msg);
}

/* libbpf and libxdp print to stderr by default; a library must not. Their hooks are process-wide
   and take no context, so they are silenced only around our own calls into them. */
static int quiet_bpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level, (void)fmt, (void)ap;
    return 0;
}

static int quiet_xdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
    (void)level, (void)fmt, (void)ap;
    return 0;
}

typedef struct quiet_saved {
    libbpf_print_fn_t bpf;
    libxdp_print_fn_t xdp;
} quiet_saved;

static quiet_saved quiet_begin(void)
{
    quiet_saved s = {libbpf_set_print(quiet_bpf), libxdp_set_print(quiet_xdp)};
    return s;
}

static void quiet_end(quiet_saved s)
{
    libbpf_set_print(s.bpf);
    libxdp_set_print(s.xdp);
}

static uint32_t pow2_at_least(uint32_t v)
{
    uint32_t p = 1;
    while (p < v && p < (1u << 30)) p <<= 1;
    return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Data path                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static void fill_flush(xdp_link *x)
{
    if (!x->n_fill_pend) return;
    uint32_t idx = 0;
    /* The fill ring holds n_rx entries or more and at most n_rx frames exist: this never fails
       short, but a short reservation keeps the rest pending rather than losing them. */
    uint32_t n = xsk_ring_prod__reserve(&x->fq, x->n_fill_pend, &idx);
    for (uint32_t i = 0; i < n; i++)
        *xsk_ring_prod__fill_addr(&x->fq, idx + i) =
            x->rx_off + (uint64_t)x->fill_pend[i] * x->chunk;
    xsk_ring_prod__submit(&x->fq, n);
    if (n < x->n_fill_pend)
        memmove(x->fill_pend, x->fill_pend + n, (x->n_fill_pend - n) * sizeof(*x->fill_pend));
    x->n_fill_pend -= n;
}

static int xdp_rx_burst(et_link *l, et_rx_frame *out, int max)
{
    xdp_link *x = (xdp_link *)l;
    fill_flush(x);
    if (!out || max <= 0) return 0;
    uint32_t idx = 0;
    uint32_t n = xsk_ring_cons__peek(&x->rx, (uint32_t)max, &idx);
    if (n == 0) {
        /* The driver ran out of fill entries and sleeps until told there are new ones. */
        if (xsk_ring_prod__needs_wakeup(&x->fq))
            recvfrom(x->xsk_fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
        return 0;
    }
    int k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
        uint64_t addr = d->addr;
        /* The kernel is trusted, but a frame id out of range would corrupt our bookkeeping. */
        if (addr < x->rx_off || addr >= x->area_size) continue;
        uint64_t id = (addr - x->rx_off) / x->chunk;
        uint64_t in_chunk = (addr - x->rx_off) % x->chunk;
        if (id >= x->n_rx || x->rx_held[id]) continue;
        if (in_chunk + d->len > x->chunk) {
            /* A length past its chunk: the frame goes back to the fill ring, or the kernel's
               pool would shrink by one for good. */
            x->fill_pend[x->n_fill_pend++] = (uint32_t)id;
            continue;
        }
        x->rx_held[id] = 1;
        out[k].data = x->area + addr;
        out[k].len = d->len;
        out[k].id = (uint32_t)id;
        out[k].hw_ts = 0;
        out[k].csum = 0; /* AF_XDP passes no checksum status to user space */
        k++;
    }
    xsk_ring_cons__release(&x->rx, n);
    return k;
}

static void xdp_rx_release(et_link *l, uint32_t id)
{
    xdp_link *x = (xdp_link *)l;
    /* A stale or doubled id must not put one frame on the fill ring twice. */
    if (id >= x->n_rx || !x->rx_held[id]) return;
    x->rx_held[id] = 0;
    x->fill_pend[x->n_fill_pend++] = id;
    if (x->n_fill_pend >= FILL_BATCH) fill_flush(x);
}

static int xdp_tx(et_link *l, uint32_t id, uint32_t len)
{
    xdp_link *x = (xdp_link *)l;
    if (id >= l->n_tx || len == 0 || len > l->tx_buf_size) return -1;
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) return -1;
    struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx);
    d->addr = (uint64_t)id * l->tx_buf_size;
    d->len = len;
    d->options = 0;
    /* Published at once: a zero-copy driver whose NAPI loop is running takes it without a
       kick. tx_flush() rings the doorbell when the kernel asks for it. */
    xsk_ring_prod__submit(&x->tx, 1);
    return 0;
}

static uint32_t tx_unconsumed(const xdp_link *x)
{
    return *x->tx.producer - __atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE);
}

static void xdp_tx_flush(et_link *l)
{
    xdp_link *x = (xdp_link *)l;
    uint32_t left = tx_unconsumed(x);
    if (!left) x->base.tx_down = false;
    if (!left || !xsk_ring_prod__needs_wakeup(&x->tx)) return;
    /* In copy mode each sendto() transmits a small batch and reports EAGAIN while more remain;
       in zero-copy mode it only wakes the driver. Stop as soon as a kick makes no progress (the
       completion ring is full or the device busy): the next poll tries again after tx_done(). */
    for (int i = 0; i < KICKS_PER_FLUSH; i++) {
        ssize_t r = sendto(x->xsk_fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
        /* An interface that is down takes nothing until it is up again: an idle wait sleeps
           rather than spins on the ring (xdp_prime), and a later poll (a timer's) kicks again. */
        x->base.tx_down = r < 0 && (errno == ENETDOWN || errno == ENXIO || errno == ENODEV);
        if (r < 0 && errno != EAGAIN && errno != EBUSY && errno != ENOBUFS) break;
        uint32_t now_left = tx_unconsumed(x);
        if (now_left == 0 || now_left == left || x->zero_copy) break;
        left = now_left;
    }
}

static int xdp_tx_done(et_link *l, uint32_t *ids, int max)
{
    xdp_link *x = (xdp_link *)l;
    if (!ids || max <= 0) return 0;
    uint32_t idx = 0;
    uint32_t n = xsk_ring_cons__peek(&x->cq, (uint32_t)max, &idx);
    int k = 0;
    uint64_t tx_bytes = (uint64_t)l->n_tx * l->tx_buf_size;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t addr = *xsk_ring_cons__comp_addr(&x->cq, idx + i);
        if (addr < tx_bytes) ids[k++] = (uint32_t)(addr / l->tx_buf_size);
    }
    xsk_ring_cons__release(&x->cq, n);
    return k;
}

/* Whether a consumer ring has entries the kernel produced that were not taken yet (what
   xsk_ring_cons__peek would find, without reserving them). */
static bool cons_ready(const struct xsk_ring_cons *r)
{
    return __atomic_load_n(r->producer, __ATOMIC_ACQUIRE) != r->cached_cons;
}

/* et_link_ops.idle: no frame on the RX ring and no completion on the completion ring, no fill
   entries to give back or fill ring to wake (rx_burst's work with no frame), and nothing
   xdp_tx_flush would kick. */
static int xdp_idle(et_link *l, uint64_t now)
{
    xdp_link *x = (xdp_link *)l;
    (void)now;
    return !x->n_fill_pend && !cons_ready(&x->rx) && !cons_ready(&x->cq) &&
           !xsk_ring_prod__needs_wakeup(&x->fq) &&
           (!tx_unconsumed(x) || !xsk_ring_prod__needs_wakeup(&x->tx));
}

static uint64_t xdp_now(et_link *l)
{
    return et_clock_now(&((xdp_link *)l)->clock);
}

/* ------------------------------------------------------------------------------------------ */
/* Steering                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static int set_cfg(xdp_link *x, const struct et_xdp_cfg *c)
{
    __u32 zero = 0;
    if (bpf_map_update_elem(x->fd_cfg, &zero, c, BPF_ANY)) return -1;
    x->cfg = *c;
    return 0;
}

/*
 * Sets or clears a listening port's bit. The kernel copies the new word over the old one while
 * the program may be reading it; whichever bytes it sees, old or new, every other port's bit is
 * the same in both, so only the port changing can read either way.
 */
static int listen_set(xdp_link *x, uint16_t port, bool on)
{
    __u32 w = port >> 6;
    __u64 bits = x->listen_bits[w], bit = 1ull << (port & 63);
    bits = on ? bits | bit : bits & ~bit;
    if (bpf_map_update_elem(x->fd_listen, &w, &bits, BPF_ANY)) return -1;
    x->listen_bits[w] = bits;
    return 0;
}

static int xdp_flow_add(et_link *l, const et_flow *f)
{
    xdp_link *x = (xdp_link *)l;
    if (!f || f->local_port == 0) return -1;
    /* Owning the address, the program takes all its TCP and never looks a flow up. */
    if (x->cfg.flags & ET_XDP_F_ALL_TCP) return 0;
    /* With the address from the kernel, the program learns it from the first flow. */
    if (f->local_ip && htonl(f->local_ip) != x->cfg.local_ip) {
        struct et_xdp_cfg c = x->cfg;
        c.local_ip = htonl(f->local_ip);
        if (set_cfg(x, &c)) return -1;
    }
    if (f->remote_ip == 0) {
        if (x->listen_refs[f->local_port]) {
            x->listen_refs[f->local_port]++;
            return 0;
        }
        if (listen_set(x, f->local_port, true)) return -1;
        x->listen_refs[f->local_port] = 1;
        return 0;
    }
    __u8 one = 1;
    struct et_xdp_conn_key k = {htonl(f->remote_ip), htons(f->remote_port), htons(f->local_port)};
    return bpf_map_update_elem(x->fd_conns, &k, &one, BPF_ANY) ? -1 : 0;
}

static int xdp_flow_del(et_link *l, const et_flow *f)
{
    xdp_link *x = (xdp_link *)l;
    if (!f) return -1;
    if (x->cfg.flags & ET_XDP_F_ALL_TCP) return 0;
    int r;
    if (f->remote_ip == 0) {
        if (!x->listen_refs[f->local_port]) return -1;
        if (--x->listen_refs[f->local_port]) return 0;
        r = listen_set(x, f->local_port, false);
    } else {
        struct et_xdp_conn_key k = {htonl(f->remote_ip), htons(f->remote_port),
                                    htons(f->local_port)};
        r = bpf_map_delete_elem(x->fd_conns, &k);
    }
    return r && errno != ENOENT ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Open and close                                                                             */
/* ------------------------------------------------------------------------------------------ */

static void teardown(xdp_link *x)
{
    quiet_saved q = quiet_begin();
    if (x->xsk) xsk_socket__delete(x->xsk);
    if (x->umem) xsk_umem__delete(x->umem);
    if (x->prog_link >= 0) close(x->prog_link); /* detaches the program */
    if (x->obj) bpf_object__close(x->obj);
    quiet_end(q);
    if (x->area) munmap(x->area, x->map_size);
    free(x->rx_held);
    free(x->fill_pend);
    free(x->listen_refs);
    free(x);
}

/* The kernel's drop counters of the socket, for the log: losses here look like network loss. */
static void log_stats(const xdp_link *x)
{
    /* An older kernel fills only the fields it knows (len says how many): the rest read 0. */
    struct xdp_statistics st = {0};
    socklen_t len = sizeof(st);
    if (!x->log || x->xsk_fd < 0 || getsockopt(x->xsk_fd, SOL_XDP, XDP_STATISTICS, &st, &len))
        return;
    char msg[200];
    snprintf(msg, sizeof(msg),
             "xdp link: closing; kernel drops: rx %llu, rx ring full %llu, fill ring empty %llu, "
             "invalid rx %llu tx %llu",
             (unsigned long long)st.rx_dropped, (unsigned long long)st.rx_ring_full,
             (unsigned long long)st.rx_fill_ring_empty_descs,
             (unsigned long long)st.rx_invalid_descs, (unsigned long long)st.tx_invalid_descs);
    x->log(x->log_ctx, ET_LINK_LOG_INFO, msg);
}

static void xdp_destroy(et_link *l)
{
    if (!l) return;
    log_stats((xdp_link *)l);
    teardown((xdp_link *)l);
}

/* Idle waits: the AF_XDP socket is readable while its RX ring holds descriptors (xsk_poll). A
   driver that ran out of fill entries sleeps until told of new ones: it is told before we sleep,
   or no frame would ever reach the ring. */
static int xdp_wake_fd(et_link *l)
{
    return ((xdp_link *)l)->xsk_fd;
}

static int xdp_prime(et_link *l)
{
    xdp_link *x = (xdp_link *)l;
    /* In copy mode the kernel sends only when kicked: descriptors still in the TX ring after
       the kicks would wait for as long as we sleep, so they are work now. */
    xdp_tx_flush(l);
    if (!x->zero_copy && tx_unconsumed(x) && !x->base.tx_down) return 1;
    fill_flush(x);
    if (xsk_ring_prod__needs_wakeup(&x->fq)) recvfrom(x->xsk_fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
    uint32_t idx = 0;
    uint32_t n = xsk_ring_cons__peek(&x->rx, 1, &idx);
    if (n) xsk_ring_cons__cancel(&x->rx, n); /* only looked: rx_burst takes it */
    return n ? 1 : 0;
}

static const et_link_ops xdp_ops = {
    .rx_burst = xdp_rx_burst,
    .rx_release = xdp_rx_release,
    .tx = xdp_tx,
    .tx_flush = xdp_tx_flush,
    .tx_done = xdp_tx_done,
    .now = xdp_now,
    .idle = xdp_idle,
    .flow_add = xdp_flow_add,
    .flow_del = xdp_flow_del,
    .destroy = xdp_destroy,
    .wake_fd = xdp_wake_fd,
    .prime = xdp_prime,
    .next_due = NULL,
};

/*
 * Index, MAC, MTU and (kernel-shared mode) address of the interface, from the kernel over
 * netlink. An own address must be one the kernel does not have: the program would take the
 * kernel's ARP and TCP for it.
 */
static const char *read_iface(const char *ifname, bool own_addr, et_link *l)
{
    et_nl nl;
    const char *err = et_nl_open(&nl);
    if (err) return err;
    et_if_info info;
    err = et_nl_get_if(&nl, ifname, &info);
    int owned = !err && own_addr ? et_nl_addr_owned(&nl, l->local_ip) : 0;
    et_nl_close(&nl);
    if (err) return err;
    if (owned)
        return owned > 0 ? "xdp link: the kernel owns local_addr; use an address it does not own "
                           "or leave local_addr unset to share the kernel's address"
                         : "xdp link: cannot read the kernel's addresses";
    if (!info.up) return "xdp link: interface is down";
    l->ifindex = info.ifindex;
    memcpy(l->mac, info.mac, 6);
    l->mtu = info.mtu;
    if (!own_addr) {
        l->local_ip = info.ip;
        l->prefix_len = info.prefix_len;
    }
    return NULL;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
    struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
    return m ? bpf_map__fd(m) : -1;
}

/*
 * Loads the embedded object with maps sized from the config and attaches the program through a
 * BPF link: the kernel detaches it when the link's file is closed, so a process that dies without
 * closing the instance leaves nothing behind on the interface (a program attached the netlink way
 * would stay, steering to a dead socket and blocking the next start).
 */
static const char *attach_program(xdp_link *x)
{
    LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "efvitcp_xdp");
    x->obj = bpf_object__open_mem(et_xdp_prog_obj, et_xdp_prog_obj_len, &oo);
    if (!x->obj) return "xdp link: cannot open the embedded XDP program";
    struct bpf_map *conns = bpf_object__find_map_by_name(x->obj, ET_XDP_MAP_CONNS);
    struct bpf_map *listen = bpf_object__find_map_by_name(x->obj, ET_XDP_MAP_LISTEN);
    struct bpf_program *prog = bpf_object__find_program_by_name(x->obj, ET_XDP_PROG_NAME);
    if (!conns || !listen || !prog || bpf_map__set_max_entries(conns, x->conn_entries) ||
        bpf_map__set_max_entries(listen, x->listen_words))
        return "xdp link: the embedded XDP program is malformed";
    if (bpf_object__load(x->obj))
        return "xdp link: cannot load the XDP program (root or CAP_BPF + CAP_NET_ADMIN needed)";
    /* Native (driver) mode first; generic mode works on every device, at the cost of an skb. */
    LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = XDP_FLAGS_DRV_MODE);
    x->prog_link = bpf_link_create(bpf_program__fd(prog), x->ifindex, BPF_XDP, &lo);
    x->native = x->prog_link >= 0;
    if (x->prog_link < 0) {
        lo.flags = XDP_FLAGS_SKB_MODE;
        x->prog_link = bpf_link_create(bpf_program__fd(prog), x->ifindex, BPF_XDP, &lo);
    }
    if (x->prog_link < 0)
        return "xdp link: cannot attach the XDP program (another XDP program may hold the "
               "interface)";
    x->fd_listen = map_fd(x->obj, ET_XDP_MAP_LISTEN);
    x->fd_conns = map_fd(x->obj, ET_XDP_MAP_CONNS);
    x->fd_cfg = map_fd(x->obj, ET_XDP_MAP_CFG);
    if (x->fd_listen < 0 || x->fd_conns < 0 || x->fd_cfg < 0)
        return "xdp link: the XDP program has no steering maps";
    return NULL;
}

/* UMEM and socket; zero_copy asks the driver for it, which may refuse. 0 or a negative errno. */
static int open_socket(xdp_link *x, const char *ifname, bool zero_copy, uint32_t ring_rx,
                       uint32_t ring_tx)
{
    struct xsk_umem_config uc = {
        .fill_size = ring_rx,
        .comp_size = ring_tx,
        .frame_size = x->chunk,
        .frame_headroom = 0,
        .flags = 0,
    };
    int rc = xsk_umem__create(&x->umem, x->area, x->area_size, &x->fq, &x->cq, &uc);
    if (rc) {
        x->umem = NULL;
        return rc;
    }
    struct xsk_socket_config sc = {
        .rx_size = ring_rx,
        .tx_size = ring_tx,
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
        .xdp_flags = 0,
        .bind_flags = XDP_USE_NEED_WAKEUP | (zero_copy ? XDP_ZEROCOPY : XDP_COPY),
    };
    rc = xsk_socket__create(&x->xsk, ifname, x->queue, x->umem, &x->rx, &x->tx, &sc);
    if (rc) {
        x->xsk = NULL;
        xsk_umem__delete(x->umem);
        x->umem = NULL;
        return rc;
    }
    x->zero_copy = zero_copy;
    x->xsk_fd = xsk_socket__fd(x->xsk);
    return 0;
}

static const char *open_xsk(xdp_link *x, const char *ifname)
{
    uint32_t ring_rx = pow2_at_least(x->n_rx);
    uint32_t ring_tx = pow2_at_least(x->base.n_tx < TX_RING_MAX ? x->base.n_tx : TX_RING_MAX);
    /* Zero copy needs the driver's XDP, so it is tried only in native mode. A queue whose last
       AF_XDP socket was just closed stays busy until the kernel has released it, a moment later
       (its umem is freed from a work queue): EBUSY is retried for up to a second, once at init,
       so that a program restarted at once (or a test that opens right after another closed)
       does not fail for it. */
    int rc = -1;
    for (int tries = 0; tries < 100; tries++) {
        if (x->native) rc = open_socket(x, ifname, true, ring_rx, ring_tx);
        if (rc) rc = open_socket(x, ifname, false, ring_rx, ring_tx);
        if (rc != -EBUSY) break;
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    /* The error names its cause class: the message must be a constant string. */
    if (rc == -ENOMEM || rc == -ENOBUFS)
        return "xdp link: cannot create the AF_XDP socket on queue 0: out of (locked) memory";
    if (rc == -EBUSY)
        return "xdp link: cannot create the AF_XDP socket on queue 0: the queue is in use";
    if (rc == -EPERM || rc == -EACCES)
        return "xdp link: cannot create the AF_XDP socket on queue 0: not permitted";
    if (rc) return "xdp link: cannot create the AF_XDP socket on queue 0";
    struct bpf_map *m = bpf_object__find_map_by_name(x->obj, ET_XDP_MAP_XSKS);
    if (!m || xsk_socket__update_xskmap(x->xsk, bpf_map__fd(m)))
        return "xdp link: cannot register the socket in the XSK map";
    /* Every RX frame starts on the fill ring. */
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&x->fq, x->n_rx, &idx) != x->n_rx)
        return "xdp link: fill ring too small";
    for (uint32_t i = 0; i < x->n_rx; i++)
        *xsk_ring_prod__fill_addr(&x->fq, idx + i) = x->rx_off + (uint64_t)i * x->chunk;
    xsk_ring_prod__submit(&x->fq, x->n_rx);
    return NULL;
}

const char *et_xdp_link_open(const char *ifname, const et_link_params *p, et_link **out)
{
    if (!out) return "xdp link: out is NULL";
    *out = NULL;
    if (!p) return "xdp link: no parameters";
    if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) return "xdp link: bad interface name";
    if (p->n_tx == 0 || p->n_rx == 0) return "xdp link needs n_tx and n_rx > 0";
    if (p->tx_buf_size != 1024 && p->tx_buf_size != 2048)
        return "xdp link: tx_buf_size must be 1024 or 2048";

    xdp_link *x = calloc(1, sizeof(*x));
    if (!x) return "out of memory";
    x->log = p->log;
    x->log_ctx = p->log_ctx;
    x->clock = p->clock;
    x->base.tsc = p->clock.tsc; /* now() is that clock: the engine may read it inline */
    x->base.ops = &xdp_ops;
    x->base.n_tx = p->n_tx;
    x->base.tx_buf_size = p->tx_buf_size;
    x->n_rx = p->n_rx;
    x->xsk_fd = -1;
    x->prog_link = -1;
    /* Sharing the kernel's address, a connection map sized for max_conns and a listening bitmap
       over every port. Owning it, the program takes all TCP for it and looks nothing up: one
       entry each (a map cannot have none). */
    x->conn_entries = p->local_addr ? 1 : p->max_conns + CONN_MAP_MARGIN;
    x->listen_words = p->local_addr ? 1 : ET_XDP_LISTEN_WORDS;

    const char *err = NULL;
    if (p->local_addr) err = et_link_config_addr(p, &x->base);
    if (!err) err = read_iface(ifname, p->local_addr != NULL, &x->base);
    x->ifindex = (int)x->base.ifindex;
    quiet_saved q = quiet_begin();

    /* A received frame sits XDP_HEADROOM into its chunk; jumbo MTUs need 4 KiB chunks. */
    if (!err) {
        uint32_t need = XDP_HEADROOM + ETH_HDR_LEN + x->base.mtu;
        x->chunk = need <= 2048 ? 2048 : 4096;
        if (need > 4096) err = "xdp link: interface MTU too large for AF_XDP frames";
    }
    if (!err) {
        uint64_t tx_bytes = (uint64_t)p->n_tx * p->tx_buf_size;
        x->rx_off = (tx_bytes + x->chunk - 1) / x->chunk * x->chunk;
        uint64_t total = x->rx_off + (uint64_t)x->n_rx * x->chunk;
        uint64_t mapped = (total + 4095u) & ~(uint64_t)4095u;
        if (mapped > SIZE_MAX / 2) err = "xdp link: buffers too large";
        x->area_size = (size_t)total;
        x->map_size = (size_t)mapped;
    }
    if (!err) {
        void *a =
            mmap(NULL, x->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED)
            err = "out of memory";
        else
            x->area = a;
        x->rx_held = calloc(x->n_rx, 1);
        x->fill_pend = malloc((size_t)x->n_rx * sizeof(*x->fill_pend));
        /* Listening ports' references (xdp_flow_add): with its own address the program takes
           all TCP, and there is nothing to count. */
        if (!p->local_addr) x->listen_refs = calloc(65536, sizeof(*x->listen_refs));
        if (!err && (!x->rx_held || !x->fill_pend || (!p->local_addr && !x->listen_refs)))
            err = "out of memory";
    }
    if (!err) {
        x->base.tx_base = x->area;
        err = attach_program(x);
    }
    if (!err) {
        struct et_xdp_cfg c = {0, 0};
        c.local_ip = htonl(x->base.local_ip);
        /* The kernel does not own this address: ARP for it and all its TCP are ours. Sharing
           the kernel's address, only the flows the engine adds are. */
        if (p->local_addr) c.flags = ET_XDP_F_ARP | ET_XDP_F_ALL_TCP;
        if (set_cfg(x, &c)) err = "xdp link: cannot configure the XDP program";
    }
    if (!err) err = open_xsk(x, ifname);
    quiet_end(q);
    if (err) {
        teardown(x);
        return err;
    }
    note(x, ET_LINK_LOG_INFO,
         x->native
             ? (x->zero_copy ? "xdp link: native mode, zero-copy" : "xdp link: native mode, copy")
             : "xdp link: generic (skb) mode, copy");
    *out = &x->base;
    return NULL;
}
