/*
 * Target (c): the shm link (src/link/shm.c) against a hostile peer. The link opens
 * /dev/shm/efvitcp-fz-PID as side A; the harness maps the same object and plays side B with no
 * lock and no manners: it writes frame lengths of any value, publishes any head on the ring to
 * the link and any tail on the ring from it, scribbles on the header, and opens a second link on
 * the object it corrupted. Between the two the program calls rx_burst, rx_release (in any order,
 * with stale and foreign ids), tx and tx_done as an engine would.
 *
 * Oracles: every frame lent lies inside its slot of the receive ring with a length of 14..1514,
 * no slot is lent twice, at most n_rx are lent at once; tx_done reports only ids in flight, each
 * once; a frame the link publishes has a valid length and is the one sent; while side B alone
 * published its tail, the link neither overwrites an unconsumed slot nor refuses a frame with
 * room on the ring (bursts past the ring's size with knob 0x02 of the first byte); and
 * ASan/UBSan.
 * The layout constants are the ABI of docs/links.md (shm link), repeated here on purpose: the
 * fuzzer checks the link against the documented layout, not against itself.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fz_read.h"
#include "link/link.h"

#define HDR_SIZE  4096u
#define SLOT_SIZE 2048u
#define SLOT_DATA 16u
#define SLOTS     1024u
#define MTU       1500u
#define TOTAL     ((size_t)HDR_SIZE + 2u * SLOTS * SLOT_SIZE)
#define RING(i)   (512u + 256u * (i)) /* ring i: head at +0, tail at +128 */
#define N_TX      8u
#define N_RX      16u
#define BURST     64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_shm: %s\n", what);
    abort();
}

typedef struct peer {
    uint8_t *map;
    et_link *l;
    uint32_t prod;    /* side B's next slot on ring 1 (to the link) */
    uint32_t cons;    /* side B's next slot to read on ring 0 (from the link) */
    bool held[SLOTS]; /* slots of ring 1 lent to us by the link */
    uint32_t n_held;
    bool inflight[N_TX]; /* tx ids handed to the link and not yet completed */
    uint32_t sent_len[N_TX];
    bool reopened;
    bool flood;  /* knob 0x02 of the first byte: op_tx may send a burst (op_flood) */
    bool forged; /* ring 0's tail was ever published by anyone but op_consume: no ring claims */
    const uint8_t *rx_base; /* the link's receive ring, learnt from the first frame lent */
} peer;

static _Atomic uint32_t *word(peer *p, uint32_t off)
{
    return (_Atomic uint32_t *)(void *)(p->map + off);
}

static uint8_t *slot(peer *p, int ring, uint32_t idx)
{
    return p->map + HDR_SIZE + (size_t)ring * SLOTS * SLOT_SIZE + (size_t)(idx % SLOTS) * SLOT_SIZE;
}

/* Frames side B writes: byte i of the frame in slot position pos. */
static uint8_t fbyte(uint32_t pos, uint32_t i)
{
    return (uint8_t)(pos * 7u + i);
}

static void op_produce(peer *p, rd *r)
{
    uint32_t k = 1 + u8(r) % 40u;
    for (uint32_t i = 0; i < k; i++) {
        uint8_t sel = u8(r);
        uint32_t len = (sel & 0x80) ? u32(r) : 14u + u16(r) % (MTU + 1u);
        uint8_t *s = slot(p, 1, p->prod);
        uint32_t fill = len <= MTU + 14u ? len : 64u;
        for (uint32_t j = 0; j < fill; j++) s[SLOT_DATA + j] = fbyte(p->prod, j);
        memcpy(s, &len, 4);
        p->prod++;
    }
    atomic_store_explicit(word(p, RING(1)), p->prod, memory_order_release);
}

static void op_rx(peer *p, rd *r)
{
    et_rx_frame out[BURST];
    int max = (int)(u8(r) % (BURST + 2)) - 1; /* -1 and 0 too */
    /* Idle waits: an engine about to sleep arms the doorbell first; whatever the peer wrote,
       the answer is "frames wait" or "armed". */
    if (max < 0) {
        int pr = p->l->ops->prime(p->l);
        if (pr != 0 && pr != 1) fail("prime on a link with a doorbell said it has none");
    }
    int n = p->l->ops->rx_burst(p->l, max < 0 ? NULL : out, max);
    if (n < 0 || n > (max < 0 ? 0 : max)) fail("rx_burst returned more than asked");
    for (int i = 0; i < n; i++) {
        et_rx_frame *f = &out[i];
        if (f->id >= SLOTS) fail("rx id outside the ring");
        /* The link maps the object at its own address: slot id of its receive ring is at the
           same offset from that ring's start as in ours, and every frame must agree on where
           the ring starts. */
        const uint8_t *base = f->data - SLOT_DATA - (size_t)f->id * SLOT_SIZE;
        if (!p->rx_base) p->rx_base = base;
        if (base != p->rx_base) fail("rx frame not at its slot");
        if (f->len < 14 || f->len > MTU + 14u) fail("rx length outside 14..mtu+14");
        if (memcmp(f->data, slot(p, 1, f->id) + SLOT_DATA, f->len) != 0)
            fail("rx frame is not the bytes of its slot");
        if (p->held[f->id]) fail("rx slot lent twice");
        p->held[f->id] = true;
        if (++p->n_held > N_RX) fail("more than n_rx slots lent");
    }
}

static void op_release(peer *p, rd *r)
{
    uint8_t k = u8(r);
    if (k & 0x80) { /* a foreign or stale id: must be ignored */
        uint32_t id = (k & 0x40) ? u32(r) : u16(r) % (SLOTS + 8u);
        if (id < SLOTS && p->held[id]) {
            p->held[id] = false;
            p->n_held--;
        }
        p->l->ops->rx_release(p->l, id);
        return;
    }
    if (!p->n_held) return;
    uint32_t want = k % p->n_held, seen = 0;
    for (uint32_t id = 0; id < SLOTS; id++) {
        if (!p->held[id]) continue;
        if (seen++ == want) {
            p->held[id] = false;
            p->n_held--;
            p->l->ops->rx_release(p->l, id);
            return;
        }
    }
}

/* Completions, as an engine reaps them: only ids in flight, each once. */
static void reap(peer *p, int max)
{
    uint32_t ids[N_TX + 4];
    int n = p->l->ops->tx_done(p->l, ids, max);
    if (n < 0 || n > max) fail("tx_done returned more than asked");
    for (int i = 0; i < n; i++) {
        if (ids[i] >= N_TX || !p->inflight[ids[i]]) fail("tx_done reported an id not in flight");
        p->inflight[ids[i]] = false;
    }
}

/* The link's ring to side B as side B sees it, while side B alone published its tail: never more
   frames than slots unconsumed (an overwritten one would be a frame lost). */
static uint32_t unconsumed(peer *p)
{
    uint32_t used = atomic_load_explicit(word(p, RING(0)), memory_order_acquire) - p->cons;
    if (!p->forged && used > SLOTS) fail("the link overwrote frames side B had not consumed");
    return used;
}

/* A burst of up to 2,047 short frames with side B not consuming, more than the ring holds: the
   ring-full paths of tx, which 4 KiB of single sends cannot reach. The link must refuse exactly
   when the ring is full, never earlier (a stall) and never later (an overwrite). */
static void op_flood(peer *p, rd *r)
{
    uint32_t k = u16(r) % 2048u, len = 14u + u8(r);
    reap(p, N_TX);
    for (uint32_t i = 0; i < k; i++) {
        uint8_t *b = et_link_tx_buf(p->l, 0);
        for (uint32_t j = 0; j < len; j++) b[j] = (uint8_t)(i + j);
        uint32_t before = unconsumed(p);
        if (p->l->ops->tx(p->l, 0, len) != 0) {
            if (!p->forged && before != SLOTS) fail("tx refused with room on the ring");
            break;
        }
        p->inflight[0] = true;
        p->sent_len[0] = len;
        unconsumed(p);
        reap(p, N_TX);
    }
    p->l->ops->tx_flush(p->l);
}

static void op_tx(peer *p, rd *r)
{
    uint32_t id = u8(r) % N_TX;
    uint8_t sel = u8(r);
    if (p->flood && (sel & 0x40)) {
        op_flood(p, r);
        return;
    }
    uint32_t len = (sel & 0x80) ? u16(r) : 14u + u16(r) % (MTU + 1u);
    if (p->inflight[id]) return; /* the engine never rewrites a buffer in flight */
    if (len > p->l->tx_buf_size) len = p->l->tx_buf_size;
    uint8_t *b = et_link_tx_buf(p->l, id);
    for (uint32_t j = 0; j < len; j++) b[j] = (uint8_t)(id + j);
    if (p->l->ops->tx(p->l, id, len) == 0) {
        p->inflight[id] = true;
        p->sent_len[id] = len;
    }
    /* The end of the engine's poll: rings the peer's doorbell if it is armed, by the name the
       (hostile) peer published. */
    p->l->ops->tx_flush(p->l);
}

static void op_tx_done(peer *p, rd *r)
{
    reap(p, u8(r) % (N_TX + 4));
}

/* Side B reads what the link published on ring 0, checking each frame, and frees the slots. */
static void op_consume(peer *p, rd *r)
{
    uint32_t head = atomic_load_explicit(word(p, RING(0)), memory_order_acquire);
    uint32_t k = u8(r);
    while (k-- && p->cons != head) {
        if (unconsumed(p) > SLOTS) return; /* our own hostile tail let it wrap: no claim */
        uint8_t *s = slot(p, 0, p->cons);
        uint32_t len;
        memcpy(&len, s, 4);
        if (len < 14 || len > MTU + 14u) fail("the link published a frame length out of range");
        /* Frames are tx buffers filled with (id + j): byte 1 follows byte 0. */
        if (s[SLOT_DATA + 1] != (uint8_t)(s[SLOT_DATA] + 1)) fail("the link published garbage");
        p->cons++;
    }
    atomic_store_explicit(word(p, RING(0) + 128), p->cons, memory_order_release);
}

/* Hostile indices and header bytes. */
static void op_scribble(peer *p, rd *r)
{
    uint8_t k = u8(r);
    switch (k & 3) {
    case 0: /* ring 1's head: anywhere, or a little off what was written */
        atomic_store(word(p, RING(1)),
                     (k & 8) ? u32(r) : p->prod + (uint32_t)(int32_t)(int8_t)u8(r));
        break;
    case 1: /* ring 0's tail */
        p->forged = true;
        atomic_store(word(p, RING(0) + 128),
                     (k & 8) ? u32(r) : p->cons + (uint32_t)(int32_t)(int8_t)u8(r));
        break;
    case 2: { /* any header byte: layout fields, counters, the rings' own words */
        uint32_t off = u16(r) % HDR_SIZE;
        /* Not ring 0's head: the link keeps its own copy, only our consumer would be fooled. */
        if (off < RING(0) || off >= RING(0) + 4) p->map[off] = u8(r);
        if (off >= RING(0) + 128 && off < RING(0) + 132) p->forged = true;
        break;
    }
    default: { /* a slot length written behind the link's back, after it may have read it */
        uint32_t len = u32(r);
        memcpy(slot(p, 1, p->prod - 1 - u8(r) % 4u), &len, 4);
        break;
    }
    }
}

/* A second opener on the object as the harness left it: the header checks of join. */
static void op_reopen(peer *p, const char *name)
{
    if (p->reopened) return;
    p->reopened = true;
    et_link_params prm;
    memset(&prm, 0, sizeof(prm));
    prm.n_tx = 4;
    prm.tx_buf_size = 2048;
    prm.n_rx = 4;
    prm.local_addr = "198.18.0.2/15";
    prm.clock = et_mono_clock();
    et_link *b = NULL;
    if (!et_shm_link_open(name, &prm, &b) && b) {
        p->forged = true; /* it may have joined as side B and published ring 0's tail */
        et_rx_frame out[4];
        int n = b->ops->rx_burst(b, out, 4);
        for (int i = 0; i < n; i++) b->ops->rx_release(b, out[i].id);
        b->ops->destroy(b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char name[32];
    if (!name[0]) snprintf(name, sizeof(name), "fz-%d", (int)getpid());
    rd r = {data, size};
    static peer P;
    peer *p = &P;
    memset(p, 0, sizeof(*p));
    et_link_params prm;
    memset(&prm, 0, sizeof(prm));
    prm.n_tx = N_TX;
    uint8_t first = u8(&r);
    prm.tx_buf_size = (first & 1) ? 1024 : 2048;
    prm.n_rx = N_RX;
    prm.local_addr = "198.18.0.1/15";
    prm.clock = et_mono_clock();
    const char *err = et_shm_link_open(name, &prm, &p->l);
    if (err) fail(err);
    char path[64];
    snprintf(path, sizeof(path), "/efvitcp-%s", name);
    int fd = shm_open(path, O_RDWR, 0);
    if (fd < 0) fail("cannot open the link's object");
    void *m = mmap(NULL, TOTAL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) fail("cannot map the link's object");
    p->map = m;
    /* Continue the rings where the link found them (a fresh object: 0). */
    p->prod = atomic_load(word(p, RING(1)));
    p->cons = atomic_load(word(p, RING(0) + 128));
    p->flood = first & 2;
    while (r.n) {
        switch (u8(&r) % 9) {
        case 0:
            op_produce(p, &r);
            break;
        case 1:
        case 2:
            op_rx(p, &r);
            break;
        case 3:
            op_release(p, &r);
            break;
        case 4:
            op_tx(p, &r);
            break;
        case 5:
            op_tx_done(p, &r);
            break;
        case 6:
            op_consume(p, &r);
            break;
        case 7:
            op_scribble(p, &r);
            break;
        default:
            op_reopen(p, name);
            break;
        }
    }
    /* An engine gives every lent slot back and reaps every completion before it closes. */
    for (uint32_t id = 0; id < SLOTS; id++)
        if (p->held[id]) p->l->ops->rx_release(p->l, id);
    reap(p, N_TX);
    p->l->ops->destroy(p->l);
    munmap(p->map, TOTAL);
    return 0;
}
