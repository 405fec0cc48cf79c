/*
 * The shm link: a point-to-point wire between two processes through a POSIX shared-memory object,
 * /dev/shm/efvitcp-NAME. No NIC and no kernel sit on the data path: each direction is a
 * single-producer single-consumer ring of fixed-size frame slots, synchronised by C11 acquire /
 * release on two free-running indices. It measures what one efvitcp costs another across
 * processes (and is a fast local transport in its own right).
 *
 * Who may attach is decided by open-file-description locks (F_OFD_SETLK) on three bytes of the
 * object: byte 0 serialises opening and closing, bytes 1 and 2 are held by side A and side B for
 * as long as they are attached. The kernel drops those locks when a process dies, so a crash
 * cannot leave a side taken: a stale object is reinitialised by the next opener that finds no
 * live peer, and a side whose owner died is simply free again. The header's attached[] pids,
 * taken with a CAS, only tell a human who is there. Byte 0 is waited for a bounded time only (a
 * holder may be stopped or hostile): open then fails, close leaves the name behind. Only an
 * object of our own user and private to it (0600) is used: whoever else can open it is a peer
 * we never chose.
 *
 * Idle waits: each side has a doorbell, an abstract AF_UNIX datagram socket whose name it
 * publishes in the header. A side that wants to sleep sets its armed flag and then looks at its
 * receive ring; the peer, once per poll that sent something, looks at that flag after publishing
 * (a full fence between, on both sides: Dekker's pattern, so that one of them sees the other) and
 * rings only if it is set. A peer nobody waits for pays a fence per sending poll and no system
 * call.
 *
 * The layout is an ABI between two processes (docs/links.md spells out the offsets): every
 * value the peer can write (indices, lengths) is checked before it is used, and only private
 * copies of the layout are trusted after open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "link/done_ring.h"
#include "link/link.h"
#include "util/clock.h"

#define SHM_MAGIC     0x3168736d74766665ull /* "efvtmsh1" little-endian */
#define SHM_VERSION   2u /* 2: the doorbells (a version-1 peer would never ring) */
#define SHM_HDR_SIZE  4096u
#define SHM_SLOT_SIZE 2048u
#define SHM_SLOT_DATA 16u /* frame bytes start here; keeps the IP header at 2 mod 8 as at 0 */
#define SHM_SLOTS     1024u
#define SHM_MTU       1500u
#define SHM_NAME_MAX  64u
#define SHM_PREFIX    "/efvitcp-"
#define ETH_HDR_LEN   14u

/* Lock bytes (not data: OFD locks may lie anywhere in or past the object). */
#define LOCK_OPEN    0
#define LOCK_SIDE(i) (1 + (i))
/* How long open and close wait for the open lock (lock_open_bounded). */
#define SHM_OPEN_WAIT_NS  1000000000ull
#define SHM_CLOSE_WAIT_NS 100000000ull

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
               "shared-memory atomics must be lock-free to work across processes");

/* Counters of one side, written only by that side. */
typedef struct shm_stats {
    _Atomic uint64_t rx_bad_len;   /* peer frames with a length outside 14..mtu+14, dropped */
    _Atomic uint64_t rx_bad_index; /* peer head values no honest producer can publish */
    _Atomic uint64_t tx_bad_index; /* peer tail values no honest consumer can publish */
    _Atomic uint64_t tx_full;      /* tx() refused: the ring to the peer was full */
    _Atomic uint64_t tx_bad_len;   /* frames we were asked to send outside 14..mtu+14 */
    uint8_t pad[128 - 5 * 8];
} shm_stats;

/* Head and tail on separate 128-byte blocks: adjacent-line prefetch would pair 64-byte lines. */
typedef struct shm_ring {
    _Atomic uint32_t head; /* written by the producer: slots [tail, head) hold frames */
    uint8_t pad0[124];
    _Atomic uint32_t tail; /* written by the consumer */
    uint8_t pad1[124];
} shm_ring;

/* A side's doorbell: set armed before sleeping; the peer rings the socket named here. */
typedef struct shm_bell {
    _Atomic uint32_t armed;
    _Atomic uint32_t name_len; /* of the abstract name after its leading NUL, 0 = no doorbell */
    char name[56];
} shm_bell;

typedef struct shm_hdr {
    _Atomic uint64_t magic; /* stored last, with release, by the initialiser */
    uint32_t version;
    uint32_t hdr_size;  /* offset of ring 0's slots */
    uint32_t slot_size; /* bytes per slot */
    uint32_t n_slots;   /* per ring, a power of two */
    uint32_t mtu;       /* IP MTU: frames are 14..mtu+14 bytes */
    uint32_t slot_data; /* offset of the frame in its slot; the length is at offset 0 */
    uint64_t total_size;
    _Atomic int32_t attached[2]; /* pid of side A / B, 0 = none (informational) */
    uint8_t pad0[128 - 48];
    shm_stats stats[2];
    shm_bell bell[2]; /* bell[i]: side i's */
    shm_ring ring[2]; /* ring i carries frames from side i to the other side */
} shm_hdr;

_Static_assert(offsetof(shm_hdr, total_size) == 32, "layout");
_Static_assert(offsetof(shm_hdr, attached) == 40, "layout");
_Static_assert(offsetof(shm_hdr, stats) == 128, "layout");
_Static_assert(offsetof(shm_hdr, bell) == 384 && sizeof(shm_bell) == 64, "layout");
_Static_assert(offsetof(shm_hdr, ring) == 512, "layout");
_Static_assert(offsetof(shm_ring, tail) == 128, "layout");
_Static_assert(sizeof(shm_hdr) <= SHM_HDR_SIZE, "layout");
_Static_assert((SHM_SLOTS & (SHM_SLOTS - 1)) == 0, "slot count must be a power of two");
_Static_assert(SHM_SLOT_DATA + SHM_MTU + ETH_HDR_LEN <= SHM_SLOT_SIZE, "a frame must fit a slot");

#define SHM_TOTAL ((uint64_t)SHM_HDR_SIZE + 2ull * SHM_SLOTS * SHM_SLOT_SIZE)

typedef struct shm_link {
    et_link base; /* first: the engine's et_link * is a shm_link * */
    int fd;
    int side;
    uint8_t *map;
    shm_hdr *hdr;
    shm_stats *stats; /* ours */
    char path[sizeof(SHM_PREFIX) + SHM_NAME_MAX];
    /* transmit: ring[side], we produce */
    shm_ring *txr;
    uint8_t *tx_slots;
    uint32_t tx_head;       /* next slot we fill; published after each frame */
    uint32_t tx_tail_cache; /* last tail read from the peer; reread only when the ring looks full */
    /* receive: ring[1 - side], we consume */
    shm_ring *rxr;
    uint8_t *rx_slots;
    uint32_t rx_tail;       /* oldest slot not yet given back; published */
    uint32_t rx_next;       /* next slot to hand out; [rx_tail, rx_next) are lent or dropped */
    uint32_t rx_head_cache; /* last head read from the peer */
    uint8_t *rx_held;       /* per slot: lent to the engine and not yet released */
    uint32_t n_rx;          /* at most this many slots lent at once */
    /* completions */
    et_done_ring done; /* tx ids awaiting tx_done, in send order */
    et_clock clock;
    int populate; /* MAP_POPULATE or 0: the shared object's mapping (cfg.prefault) */
    /* idle waits */
    int bell_fd;        /* our doorbell (bound, abstract name in hdr->bell[side]); -1: none */
    int ring_fd;        /* unbound, to ring the peer's; an open without it fails */
    uint32_t rung_head; /* tx_head when tx_flush last looked at the peer's doorbell */
} shm_link;

static uint8_t *slot_at(uint8_t *slots, uint32_t idx)
{
    return slots + (size_t)(idx & (SHM_SLOTS - 1)) * SHM_SLOT_SIZE;
}

static _Atomic uint32_t *slot_len(uint8_t *slot)
{
    return (_Atomic uint32_t *)(void *)slot;
}

/* Only the owning side writes its counters: a load and a store, no locked instruction. */
static void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* ------------------------------------------------------------------------------------------ */
/* Data path                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Gives back the slots at the tail that the engine released (or that were dropped), in ring
   order, since the producer can only reuse a contiguous run. */
static void rx_advance(shm_link *s)
{
    uint32_t t = s->rx_tail;
    while (t != s->rx_next && !s->rx_held[t & (SHM_SLOTS - 1)]) t++;
    if (t == s->rx_tail) return;
    s->rx_tail = t;
    atomic_store_explicit(&s->rxr->tail, t, memory_order_release);
}

/* An honest producer publishes at most n_slots beyond the tail we published, and never goes
   back behind what we already took. */
static bool rx_head_ok(const shm_link *s, uint32_t head)
{
    uint32_t ahead = head - s->rx_tail;
    return ahead <= SHM_SLOTS && ahead >= s->rx_next - s->rx_tail;
}

/* Whether rx_burst would find a frame: prime and idle must agree with it, or a head it rejects
   would keep the idle loop polling forever without ever sleeping. */
static bool rx_waiting(const shm_link *s)
{
    if (s->rx_head_cache != s->rx_next) return true;
    uint32_t head = atomic_load_explicit(&s->rxr->head, memory_order_acquire);
    return head != s->rx_next && rx_head_ok(s, head);
}

static int shm_rx_burst(et_link *l, et_rx_frame *out, int max)
{
    shm_link *s = (shm_link *)l;
    if (!out || max <= 0) return 0;
    if (s->rx_head_cache == s->rx_next) {
        uint32_t head = atomic_load_explicit(&s->rxr->head, memory_order_acquire);
        if (head == s->rx_next) return 0;
        if (!rx_head_ok(s, head)) {
            bump(&s->stats->rx_bad_index);
            return 0;
        }
        s->rx_head_cache = head;
    }
    int n = 0;
    bool dropped = false;
    while (n < max && s->rx_next != s->rx_head_cache && s->rx_next - s->rx_tail < s->n_rx) {
        uint32_t idx = s->rx_next & (SHM_SLOTS - 1);
        uint8_t *slot = slot_at(s->rx_slots, idx);
        /* One read: the bound checked is the bound the engine gets, whatever the peer does. */
        uint32_t len = atomic_load_explicit(slot_len(slot), memory_order_relaxed);
        s->rx_next++;
        if (len < ETH_HDR_LEN || len > SHM_MTU + ETH_HDR_LEN) {
            bump(&s->stats->rx_bad_len);
            dropped = true;
            continue;
        }
        s->rx_held[idx] = 1;
        out[n].data = slot + SHM_SLOT_DATA;
        out[n].len = len;
        out[n].id = idx;
        out[n].hw_ts = 0;
        out[n].csum = 0;
        n++;
    }
    if (dropped) rx_advance(s);
    return n;
}

/* The engine releases in order within its poll (src/tcp/stack.c), but any order is accepted:
   a slot released early waits, marked free, until the ones before it come back. */
static void shm_rx_release(et_link *l, uint32_t id)
{
    shm_link *s = (shm_link *)l;
    if (id >= SHM_SLOTS || !s->rx_held[id]) return; /* stale or foreign id */
    s->rx_held[id] = 0;
    if ((s->rx_tail & (SHM_SLOTS - 1)) == id) rx_advance(s);
}

static void complete(shm_link *s, uint32_t id)
{
    et_done_ring_put(&s->done, id);
}

static int shm_tx(et_link *l, uint32_t id, uint32_t len)
{
    shm_link *s = (shm_link *)l;
    if (id >= l->n_tx || len > l->tx_buf_size || et_done_ring_full(&s->done)) return -1;
    if (len < ETH_HDR_LEN || len > SHM_MTU + ETH_HDR_LEN) {
        /* No cable carries it; like a NIC, drop it rather than refuse it forever. */
        bump(&s->stats->tx_bad_len);
        complete(s, id);
        return 0;
    }
    if (s->tx_head - s->tx_tail_cache >= SHM_SLOTS) {
        uint32_t tail = atomic_load_explicit(&s->txr->tail, memory_order_acquire);
        uint32_t used = s->tx_head - tail;
        if (used > SHM_SLOTS) {
            /* A tail ahead of our head, or behind what it was: nothing can be sent safely.
               Like a link whose interface is down (et_link.tx_down), so that what waits is
               retried now and then rather than at every poll. */
            bump(&s->stats->tx_bad_index);
            s->base.tx_down = 1;
            return -1;
        }
        s->tx_tail_cache = tail;
        if (used == SHM_SLOTS) {
            bump(&s->stats->tx_full);
            return -1;
        }
    }
    uint8_t *slot = slot_at(s->tx_slots, s->tx_head);
    /* The copy is the DMA read of a NIC: the tx buffer is free again at once. */
    memcpy(slot + SHM_SLOT_DATA, et_link_tx_buf(l, id), len);
    atomic_store_explicit(slot_len(slot), len, memory_order_relaxed);
    s->tx_head++;
    /* Published per frame: the consumer reads the head line only when it has caught up anyway;
       tx_flush only rings a peer asleep. */
    atomic_store_explicit(&s->txr->head, s->tx_head, memory_order_release);
    s->base.tx_down = 0;
    complete(s, id);
    return 0;
}

static int shm_tx_done(et_link *l, uint32_t *ids, int max)
{
    shm_link *s = (shm_link *)l;
    if (!ids) return 0;
    return et_done_ring_take(&s->done, ids, max);
}

/* The peer's doorbell is rung at most once per arming: it cleared armed with the exchange. */
static __attribute__((noinline)) void ring_peer(shm_link *s, shm_bell *b)
{
    if (!atomic_exchange_explicit(&b->armed, 0, memory_order_relaxed)) return;
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    /* The peer may have written anything: the name is bounded here, and a wrong one only rings
       some other socket of this network namespace. */
    uint32_t n = atomic_load_explicit(&b->name_len, memory_order_acquire);
    if (n == 0 || n > sizeof(b->name) || n > sizeof(a.sun_path) - 1) return;
    memcpy(a.sun_path + 1, b->name, n);
    char one = 1;
    /* EAGAIN: the peer has not read its earlier rings, so its socket is readable anyway. */
    (void)sendto(s->ring_fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a,
                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
}

/* tx() published the frames; once per poll that sent any, the peer's doorbell is looked at. */
static void shm_tx_flush(et_link *l)
{
    shm_link *s = (shm_link *)l;
    if (s->tx_head == s->rung_head) return;
    s->rung_head = s->tx_head;
    /* Our head store before the peer's flag load (the peer does the converse in shm_prime). */
    atomic_thread_fence(memory_order_seq_cst);
    shm_bell *b = &s->hdr->bell[1 - s->side];
    if (atomic_load_explicit(&b->armed, memory_order_relaxed)) ring_peer(s, b);
}

/* et_link_ops.idle: no frame published by the peer beyond what we took (a head rx_burst rejects
   is none), no doorbell owed for frames we published, no transmit buffer to report. */
static int shm_idle(et_link *l, uint64_t now)
{
    shm_link *s = (shm_link *)l;
    (void)now;
    return s->tx_head == s->rung_head && et_done_ring_empty(&s->done) && !rx_waiting(s);
}

static int shm_wake_fd(et_link *l)
{
    return ((shm_link *)l)->bell_fd;
}

static int shm_prime(et_link *l)
{
    shm_link *s = (shm_link *)l;
    if (s->bell_fd < 0) return -1;
    char buf[64];
    while (recv(s->bell_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
    shm_bell *b = &s->hdr->bell[s->side];
    atomic_store_explicit(&b->armed, 1, memory_order_relaxed);
    /* Our flag store before our head load (the peer does the converse in shm_tx_flush). */
    atomic_thread_fence(memory_order_seq_cst);
    return rx_waiting(s);
}

/* Our doorbell: an abstract socket the kernel names (autobind), published for the peer. */
static void bell_open(shm_link *s)
{
    s->bell_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    socklen_t len = sizeof(sa_family_t);
    shm_bell *b = &s->hdr->bell[s->side];
    atomic_store_explicit(&b->armed, 0, memory_order_relaxed);
    if (s->bell_fd >= 0 && bind(s->bell_fd, (struct sockaddr *)&a, len) == 0) {
        len = sizeof(a);
        if (getsockname(s->bell_fd, (struct sockaddr *)&a, &len) == 0 &&
            len > offsetof(struct sockaddr_un, sun_path) + 1 && a.sun_path[0] == 0) {
            uint32_t n = (uint32_t)(len - offsetof(struct sockaddr_un, sun_path) - 1);
            if (n <= sizeof(b->name)) {
                memcpy(b->name, a.sun_path + 1, n);
                atomic_store_explicit(&b->name_len, n, memory_order_release);
                return;
            }
        }
    }
    /* No doorbell: the link works, its user cannot sleep on it (prime says -1). */
    atomic_store_explicit(&b->name_len, 0, memory_order_release);
    if (s->bell_fd >= 0) close(s->bell_fd);
    s->bell_fd = -1;
}

static uint64_t shm_now(et_link *l)
{
    return et_clock_now(&((shm_link *)l)->clock);
}

/* ------------------------------------------------------------------------------------------ */
/* Attaching and leaving                                                                      */
/* ------------------------------------------------------------------------------------------ */

static int lock_byte(int fd, int cmd, short type, off_t byte)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    return fcntl(fd, cmd, &fl);
}

/* The open lock is held for the time an open or a close takes (microseconds; a few ms to
   populate the mapping), but whoever holds it may be stopped or hostile: we ask again, backing
   off, for at most wait_ns rather than block in F_OFD_SETLKW. 0: taken; -1: errno EAGAIN when
   the time ran out, else the error. */
static int lock_open_bounded(int fd, uint64_t wait_ns)
{
    uint64_t deadline = et_mono_ns() + wait_ns, pause_ns = 10000;
    for (;;) {
        if (lock_byte(fd, F_OFD_SETLK, F_WRLCK, LOCK_OPEN) == 0) return 0;
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) return -1;
        uint64_t now = et_mono_ns();
        if (now >= deadline) {
            errno = EAGAIN;
            return -1;
        }
        uint64_t left = deadline - now;
        struct timespec ts = {0, (long)(left < pause_ns ? left : pause_ns)};
        nanosleep(&ts, NULL);
        if (pause_ns < 1000000) pause_ns *= 2;
    }
}

static void unlock(int fd, off_t byte)
{
    lock_byte(fd, F_OFD_SETLK, F_UNLCK, byte);
}

/* 1: another open file description holds the byte (an attached side), 0: free, -1: error. */
static int lock_held_elsewhere(int fd, off_t byte)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return -1;
    return fl.l_type != F_UNLCK;
}

static bool name_ok(const char *name)
{
    if (!name || !*name || name[0] == '.') return false;
    size_t n = 0;
    for (const char *c = name; *c; c++, n++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
        if (!ok || n >= SHM_NAME_MAX) return false;
    }
    return true;
}

/* Fresh object (no live peer): zero everything, then publish the header. */
static const char *init_object(shm_link *s)
{
    /* Truncating to 0 first discards whatever a crashed run or a stranger left in it. */
    if (ftruncate(s->fd, 0) != 0 || ftruncate(s->fd, (off_t)SHM_TOTAL) != 0)
        return "shm link: cannot size the shared object (is /dev/shm full?)";
    void *m = mmap(NULL, SHM_TOTAL, PROT_READ | PROT_WRITE, MAP_SHARED | s->populate, s->fd, 0);
    if (m == MAP_FAILED) return "shm link: mmap of the shared object failed";
    s->map = m;
    shm_hdr *h = m;
    h->version = SHM_VERSION;
    h->hdr_size = SHM_HDR_SIZE;
    h->slot_size = SHM_SLOT_SIZE;
    h->n_slots = SHM_SLOTS;
    h->mtu = SHM_MTU;
    h->slot_data = SHM_SLOT_DATA;
    h->total_size = SHM_TOTAL;
    atomic_store_explicit(&h->magic, SHM_MAGIC, memory_order_release);
    return NULL;
}

/* Live peer: the object must be exactly what this version of the library lays out. */
static const char *join_object(shm_link *s)
{
    struct stat st;
    if (fstat(s->fd, &st) != 0) return "shm link: fstat of the shared object failed";
    const char *bad = "shm link: /dev/shm/efvitcp-NAME is in use but is not a valid "
                      "efvitcp shm object of this version";
    if (st.st_size < (off_t)SHM_TOTAL) return bad;
    void *m = mmap(NULL, SHM_TOTAL, PROT_READ | PROT_WRITE, MAP_SHARED | s->populate, s->fd, 0);
    if (m == MAP_FAILED) return "shm link: mmap of the shared object failed";
    s->map = m;
    shm_hdr *h = m;
    if (atomic_load_explicit(&h->magic, memory_order_acquire) != SHM_MAGIC ||
        h->version != SHM_VERSION || h->hdr_size != SHM_HDR_SIZE || h->slot_size != SHM_SLOT_SIZE ||
        h->n_slots != SHM_SLOTS || h->mtu != SHM_MTU || h->slot_data != SHM_SLOT_DATA ||
        h->total_size != SHM_TOTAL)
        return bad;
    for (int r = 0; r < 2; r++) {
        uint32_t head = atomic_load_explicit(&h->ring[r].head, memory_order_acquire);
        uint32_t tail = atomic_load_explicit(&h->ring[r].tail, memory_order_acquire);
        if (head - tail > SHM_SLOTS) return "shm link: the shared object's rings are corrupt";
    }
    return NULL;
}

static const char *attach(shm_link *s)
{
    struct stat st;
    for (int tries = 0;; tries++) {
        if (tries == 16) return "shm link: the shared object keeps being removed while opening";
        s->fd = shm_open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (s->fd < 0)
            return errno == EACCES ? "shm link: permission denied on /dev/shm/efvitcp-NAME"
                                   : "shm link: shm_open failed";
        if (fstat(s->fd, &st) != 0) return "shm link: fstat of the shared object failed";
        /* The trust boundary (docs/links.md): whoever else can open the object can corrupt it,
           or shrink it under our mapping (SIGBUS). Checked before the lock, so that a stranger
           holding it cannot even make us wait. */
        if (st.st_uid != geteuid())
            return "shm link: /dev/shm/efvitcp-NAME belongs to another user: refused (remove "
                   "it, or run as its owner)";
        if (st.st_mode & 077)
            return "shm link: /dev/shm/efvitcp-NAME is open to group or others (mode not 0600): "
                   "refused (remove it)";
        if (lock_open_bounded(s->fd, SHM_OPEN_WAIT_NS) != 0)
            return errno == EAGAIN ? "shm link: the open lock of /dev/shm/efvitcp-NAME stayed "
                                     "held for 1 s (a peer stopped while opening or closing?)"
                                   : "shm link: cannot lock the shared object (F_OFD_SETLK)";
        if (fstat(s->fd, &st) != 0) return "shm link: fstat of the shared object failed";
        /* The last side to leave unlinks under the open lock: if that happened between our
           shm_open and our lock, this object is an orphan and the name must be opened again. */
        if (st.st_nlink > 0) break;
        close(s->fd);
        s->fd = -1;
    }
    s->side = -1;
    for (int i = 0; i < 2 && s->side < 0; i++) {
        if (lock_byte(s->fd, F_OFD_SETLK, F_WRLCK, LOCK_SIDE(i)) == 0)
            s->side = i;
        else if (errno != EAGAIN && errno != EACCES)
            return "shm link: cannot lock the shared object (F_OFD_SETLK)";
    }
    if (s->side < 0) return "shm link: both sides of this name are attached (a shm wire joins two)";
    int peer = lock_held_elsewhere(s->fd, LOCK_SIDE(1 - s->side));
    if (peer < 0) return "shm link: cannot test the peer's lock (F_OFD_GETLK)";
    const char *err = peer ? join_object(s) : init_object(s);
    if (err) return err;

    shm_hdr *h = s->hdr = (shm_hdr *)s->map;
    int32_t expect = 0, pid = (int32_t)getpid();
    if (!atomic_compare_exchange_strong(&h->attached[s->side], &expect, pid))
        atomic_store(&h->attached[s->side], pid); /* its owner died: the lock was free */
    s->stats = &h->stats[s->side];
    s->txr = &h->ring[s->side];
    s->rxr = &h->ring[1 - s->side];
    s->tx_slots = s->map + SHM_HDR_SIZE + (size_t)s->side * SHM_SLOTS * SHM_SLOT_SIZE;
    s->rx_slots = s->map + SHM_HDR_SIZE + (size_t)(1 - s->side) * SHM_SLOTS * SHM_SLOT_SIZE;
    /* Rejoining a live peer continues its rings where they are: frames it sent meanwhile are
       delivered (stale segments draw RSTs, as from a rebooted host). */
    s->tx_head = atomic_load_explicit(&s->txr->head, memory_order_acquire);
    s->tx_tail_cache = atomic_load_explicit(&s->txr->tail, memory_order_acquire);
    s->rx_tail = atomic_load_explicit(&s->rxr->tail, memory_order_acquire);
    s->rx_next = s->rx_head_cache = s->rx_tail;
    s->rung_head = s->tx_head;
    bell_open(s);
    unlock(s->fd, LOCK_OPEN);
    return NULL;
}

static void shm_destroy(et_link *l)
{
    shm_link *s = (shm_link *)l;
    if (!s) return;
    if (s->fd >= 0) {
        /* Not having it only costs the unlink: the name stays, and the peer (or the next
           opener, which reinitialises a stale object) takes care of it. A close never hangs. */
        bool locked = lock_open_bounded(s->fd, SHM_CLOSE_WAIT_NS) == 0;
        if (s->hdr && s->side >= 0) {
            atomic_store(&s->hdr->attached[s->side], 0);
            atomic_store(&s->hdr->bell[s->side].name_len, 0);
        }
        /* The last side out removes the name; with the open lock held no one is between
           shm_open and taking a side, and a late opener sees the object unlinked. */
        if (locked && s->side >= 0 && lock_held_elsewhere(s->fd, LOCK_SIDE(1 - s->side)) == 0)
            shm_unlink(s->path);
    }
    if (s->map) munmap(s->map, SHM_TOTAL);
    if (s->fd >= 0) close(s->fd); /* drops every lock of this open file description */
    if (s->bell_fd >= 0) close(s->bell_fd);
    if (s->ring_fd >= 0) close(s->ring_fd);
    free(s->rx_held);
    et_done_ring_free(&s->done);
    free(s->base.tx_base);
    free(s);
}

static const et_link_ops shm_ops = {
    .rx_burst = shm_rx_burst,
    .rx_release = shm_rx_release,
    .tx = shm_tx,
    .tx_flush = shm_tx_flush, /* frames are published by tx(); this rings a sleeping peer */
    .tx_done = shm_tx_done,
    .now = shm_now,
    .idle = shm_idle,
    .flow_add = NULL,
    .flow_del = NULL,
    .destroy = shm_destroy,
    .wake_fd = shm_wake_fd,
    .prime = shm_prime,
    .next_due = NULL,
};

const char *et_shm_link_open(const char *name, const et_link_params *p, et_link **out)
{
    if (!out) return "shm link: out is NULL";
    *out = NULL;
    if (!p || p->n_tx == 0 || p->n_rx == 0) return "shm link needs n_tx and n_rx > 0";
    if (p->tx_buf_size != 1024 && p->tx_buf_size != 2048)
        return "shm link: tx_buf_size must be 1024 or 2048";
    if (!name_ok(name))
        return "shm link: NAME must be 1..64 characters of A-Z a-z 0-9 . _ - not starting with .";
    et_link tmp;
    memset(&tmp, 0, sizeof(tmp));
    const char *err = et_link_config_addr(p, &tmp); /* own-address mode only */
    if (err) return err;

    shm_link *s = calloc(1, sizeof(*s));
    if (!s) return "out of memory";
    s->fd = -1;
    s->side = -1;
    s->bell_fd = s->ring_fd = -1;
    s->base = tmp;
    s->clock = p->clock;
    s->base.tsc = p->clock.tsc; /* now() is that clock: the engine may read it inline */
    snprintf(s->path, sizeof(s->path), SHM_PREFIX "%s", name);
    uint64_t bytes = (uint64_t)p->n_tx * p->tx_buf_size;
    size_t rounded = (size_t)((bytes + 4095u) & ~(uint64_t)4095u);
    s->base.tx_base = aligned_alloc(4096, rounded);
    bool done_ok = et_done_ring_init(&s->done, p->n_tx);
    s->rx_held = calloc(SHM_SLOTS, 1);
    s->base.tx_buf_size = p->tx_buf_size;
    s->base.n_tx = p->n_tx;
    if (!s->base.tx_base || !done_ok || !s->rx_held) {
        shm_destroy(&s->base);
        return "out of memory";
    }
    /* Not zeroed, as the mem link's: the engine writes every byte of a frame before it sends
       it, and prefaults the area itself when cfg.prefault asks (et_stack_init). */
    s->n_rx = p->n_rx < SHM_SLOTS ? p->n_rx : SHM_SLOTS;
    /* The rings: present from the start (the first frames take no page faults), or as they
       are first used when the instance asked for lazy memory. */
    s->populate = p->prefault ? MAP_POPULATE : 0;
    /* Made before we attach: a peer that arms and sleeps relies on our ringing it, so a side
       that could not ring must not open at all. (A doorbell of our own is optional: without one
       only our prime says -1.) */
    s->ring_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->ring_fd < 0) {
        shm_destroy(&s->base);
        return "shm link: cannot create the socket that wakes the peer (out of file "
               "descriptors?)";
    }
    if ((err = attach(s))) {
        /* Not attached: leave the name alone, close() drops whatever locks were taken. */
        if (s->map) munmap(s->map, SHM_TOTAL);
        s->map = NULL;
        s->hdr = NULL;
        if (s->fd >= 0) close(s->fd);
        s->fd = -1;
        shm_destroy(&s->base);
        return err;
    }
    s->base.ops = &shm_ops;
    /* Locally administered, distinct per side: 02:73:68:6d:00:01 (A) and :02 (B). */
    static const uint8_t mac[5] = {0x02, 0x73, 0x68, 0x6d, 0x00};
    memcpy(s->base.mac, mac, 5);
    s->base.mac[5] = (uint8_t)(s->side + 1);
    s->base.mtu = SHM_MTU;
    s->base.caps |= ET_LINK_CAP_OWN_ADDR;
    *out = &s->base;
    return NULL;
}
