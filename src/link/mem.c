/*
 * The mem link: a stack's endpoint on a simulated wire (src/wire), so that stacks in one process
 * exchange frames without a NIC. The wire does the work; the link lends the wire's frames to the
 * engine (zero copy: the engine reads them in their wire slots) and puts the engine's frames on
 * the wire, which copies them, so a transmit buffer is free again at once.
 *
 * Its clock is the wire's (virtual or real), not the params' clock: every endpoint of a wire
 * lives in the wire's time.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "link/done_ring.h"
#include "link/link.h"
#include "wire/wire.h"

typedef struct mem_link {
    et_link base;           /* first: the engine's et_link * is a mem_link * */
    struct efvitcp_wire *w; /* NULL once the wire was freed under us */
    uint32_t port;
    uint32_t n_rx;
    et_done_ring done; /* tx ids awaiting tx_done, in send order */
    int wake_fd;       /* eventfd the wire writes when a frame is queued for an armed port */
} mem_link;

static int mem_rx_burst(et_link *l, et_rx_frame *out, int max)
{
    mem_link *m = (mem_link *)l;
    if (!m->w || !out || max <= 0) return 0;
    return et_wire_lend(m->w, m->port, m->n_rx, out, max);
}

static void mem_rx_release(et_link *l, uint32_t id)
{
    mem_link *m = (mem_link *)l;
    if (m->w) et_wire_give_back(m->w, m->port, id);
}

static int mem_tx(et_link *l, uint32_t id, uint32_t len)
{
    mem_link *m = (mem_link *)l;
    if (id >= l->n_tx || len > l->tx_buf_size || et_done_ring_full(&m->done)) return -1;
    /* A refusal (the wire's tx_refuse fault) is a NIC's full ring: the engine keeps the frame. */
    if (m->w && et_wire_send(m->w, m->port, et_link_tx_buf(l, id), len) != 0) return -1;
    /* The copy into the wire slot is the DMA: the buffer is free again at once. */
    et_done_ring_put(&m->done, id);
    return 0;
}

static int mem_tx_done(et_link *l, uint32_t *ids, int max)
{
    mem_link *m = (mem_link *)l;
    if (!ids) return 0;
    return et_done_ring_take(&m->done, ids, max);
}

/* et_link_ops.idle: no transmit buffer to report, and no frame due on the port by now (one in
   flight, the wire's latency, lands later). */
static int mem_idle(et_link *l, uint64_t now)
{
    mem_link *m = (mem_link *)l;
    return et_done_ring_empty(&m->done) && (!m->w || et_wire_port_next(m->w, m->port) > now);
}

static uint64_t mem_now(et_link *l)
{
    return et_wire_now(((mem_link *)l)->w);
}

static int mem_wake_fd(et_link *l)
{
    return ((mem_link *)l)->wake_fd;
}

static int mem_prime(et_link *l)
{
    mem_link *m = (mem_link *)l;
    if (!m->w) return -1;
    uint64_t v;
    /* The counter of an earlier wake-up: the fd is readable again only for what comes next. */
    ssize_t r = read(m->wake_fd, &v, sizeof(v));
    (void)r;
    return et_wire_port_arm(m->w, m->port, m->wake_fd);
}

static uint64_t mem_next_due(et_link *l)
{
    mem_link *m = (mem_link *)l;
    /* A frame in flight (the wire's latency) is written to the fd when sent, not when due: the
       sleeper must be back when it lands. */
    return m->w ? et_wire_port_next(m->w, m->port) : UINT64_MAX;
}

static void mem_destroy(et_link *l)
{
    mem_link *m = (mem_link *)l;
    if (!m) return;
    if (m->w) et_wire_port_detach(m->w, m->port);
    if (m->wake_fd >= 0) close(m->wake_fd);
    et_done_ring_free(&m->done);
    free(l->tx_base);
    free(m);
}

static const et_link_ops mem_ops = {
    .rx_burst = mem_rx_burst,
    .rx_release = mem_rx_release,
    .tx = mem_tx,
    .tx_flush = NULL, /* tx() puts the frame on the wire */
    .tx_done = mem_tx_done,
    .now = mem_now,
    .idle = mem_idle,
    .flow_add = NULL,
    .flow_del = NULL,
    .destroy = mem_destroy,
    .wake_fd = mem_wake_fd,
    .prime = mem_prime,
    .next_due = mem_next_due,
};

const char *et_mem_link_open(const char *name, const et_link_params *p, et_link **out)
{
    if (!out) return "mem link: out is NULL";
    *out = NULL;
    if (p && !p->wire) return "mem link needs cfg->wire";
    if (!p || p->n_tx == 0 || p->n_rx == 0) return "mem link needs n_tx and n_rx > 0";
    if (p->tx_buf_size != 1024 && p->tx_buf_size != 2048)
        return "mem link: tx_buf_size must be 1024 or 2048";

    et_link tmp;
    memset(&tmp, 0, sizeof(tmp));
    const char *err = et_link_config_addr(p, &tmp); /* the wire's stacks own their addresses */
    if (err) return err;

    mem_link *m = calloc(1, sizeof(*m));
    if (!m) return "out of memory";
    m->base = tmp;
    uint64_t bytes = (uint64_t)p->n_tx * p->tx_buf_size;
    size_t rounded = (size_t)((bytes + 4095u) & ~(uint64_t)4095u);
    m->base.tx_base = aligned_alloc(4096, rounded);
    bool done_ok = et_done_ring_init(&m->done, p->n_tx);
    m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!m->base.tx_base || !done_ok || m->wake_fd < 0) {
        if (m->wake_fd >= 0) close(m->wake_fd);
        free(m->base.tx_base);
        et_done_ring_free(&m->done);
        free(m);
        return "out of memory";
    }
    /* Not zeroed: the engine writes every byte of a frame before it sends it (headers, options,
       payload; the wire copies exactly the frame's length), and touching the whole area here
       would make every page present whatever cfg.prefault says (the engine prefaults the
       transmit buffers itself when asked: et_stack_init). A run with the area filled with 0xA5
       instead passed ctest -LE interop. */
    err = et_wire_port_attach(p->wire, name, &m->w, &m->port, m->base.mac);
    if (err) {
        close(m->wake_fd);
        free(m->base.tx_base);
        et_done_ring_free(&m->done);
        free(m);
        return err;
    }
    m->n_rx = p->n_rx;
    m->base.ops = &mem_ops;
    m->base.mtu = et_wire_mtu(p->wire);
    m->base.tsc = et_wire_clock(p->wire).tsc; /* now() is the wire's time: inline where a TSC */
    m->base.caps = ET_LINK_CAP_OWN_ADDR;
    m->base.tx_buf_size = p->tx_buf_size;
    m->base.n_tx = p->n_tx;
    *out = &m->base;
    return NULL;
}
