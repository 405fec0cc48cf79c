/*
 * The shm link through its ops: two sides in one process (each open is its own open file
 * description, so the locks behave as between processes), plus fork() where a crash must be
 * real. The test maps the object itself at the offsets documented in docs/links.md to play a
 * hostile or broken peer: garbage lengths, impossible indices, a corrupt header, and to start the
 * 32-bit indices just below their wrap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"
#include "link/link.h"

/* The documented layout (docs/links.md, "shm"). */
#define L_VERSION    8
#define L_SLOT_SIZE  16
#define L_N_SLOTS    20
#define L_ATTACHED   40
#define L_STATS(s)   (128 + 128 * (s))
#define L_RX_BAD_LEN 0
#define L_RX_BAD_IDX 8
#define L_TX_BAD_IDX 16
#define L_TX_FULL    24
#define L_TX_BAD_LEN 32
#define L_BELL(s)    (384 + 64 * (s)) /* u32 armed, u32 name_len, char name[56] */
#define L_HEAD(r)    (512 + 256 * (r))
#define L_TAIL(r)    (512 + 256 * (r) + 128)
#define L_HDR        4096u
#define L_DATA       16u
#define SLOTS        1024u
#define SLOT_SIZE    2048u
#define TOTAL        (L_HDR + 2u * SLOTS * SLOT_SIZE)
#define MAX_FRAME    1514u
#define N_TX         64u

static char g_name[64];
static char g_path[128];

static void set_name(const char *what)
{
    snprintf(g_name, sizeof(g_name), "ut-%d-%s", (int)getpid(), what);
    snprintf(g_path, sizeof(g_path), "/dev/shm/efvitcp-%s", g_name);
    unlink(g_path); /* a leftover of an aborted earlier run of this pid */
}

static bool object_exists(void)
{
    return access(g_path, F_OK) == 0;
}

static const char *open_link(const char *name, uint32_t n_rx, et_link **out)
{
    et_link_params p = {.n_tx = N_TX,
                        .tx_buf_size = 2048,
                        .n_rx = n_rx,
                        .local_addr = "198.18.0.1/24",
                        .clock = et_mono_clock()};
    char iface[96];
    snprintf(iface, sizeof(iface), "shm:%s", name);
    return et_link_open(iface, &p, out);
}

static et_link *open_ok(uint32_t n_rx)
{
    et_link *l = NULL;
    const char *err = open_link(g_name, n_rx, &l);
    if (err) fprintf(stderr, "open %s: %s\n", g_name, err);
    return l;
}

/* The test's own mapping of the object: the hostile peer's view. */
static uint8_t *raw_map(void)
{
    int fd = open(g_path, O_RDWR);
    if (fd < 0) return NULL;
    void *m = mmap(NULL, TOTAL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

static _Atomic uint32_t *u32_at(uint8_t *m, size_t off)
{
    return (_Atomic uint32_t *)(void *)(m + off);
}

static uint64_t stat_of(uint8_t *m, int side, size_t field)
{
    return atomic_load((_Atomic uint64_t *)(void *)(m + L_STATS(side) + field));
}

static uint8_t *slot_of(uint8_t *m, int ring, uint32_t idx)
{
    return m + L_HDR + ((size_t)ring * SLOTS + (idx & (SLOTS - 1))) * SLOT_SIZE;
}

static uint8_t pat(uint32_t seq, uint32_t i)
{
    return (uint8_t)((seq * 2654435761u + i * 40503u) >> 13);
}

static uint32_t len_for(uint32_t seq)
{
    /* Both extremes (14 and 1514) and everything between, in a fixed order. */
    uint32_t r = (seq * 7919u) % 1501u;
    return 14u + (seq % 5 == 0 ? (seq % 10 == 0 ? 0u : 1500u) : r);
}

/* Writes frame seq into tx buffer id and sends it; returns tx()'s result. Keeps the buffer
   accounting clean by draining completions. */
static int send_seq(et_link *l, uint32_t seq, uint32_t len)
{
    uint32_t ids[N_TX];
    l->ops->tx_done(l, ids, N_TX);
    uint32_t id = seq % N_TX;
    uint8_t *b = et_link_tx_buf(l, id);
    for (uint32_t i = 0; i < len; i++) b[i] = pat(seq, i);
    if (len >= 18) memcpy(b + 14, &seq, 4);
    return l->ops->tx(l, id, len);
}

static bool frame_is(const et_rx_frame *f, uint32_t seq, uint32_t len)
{
    if (f->len != len) return false;
    for (uint32_t i = 0; i < len; i++) {
        uint8_t want = pat(seq, i);
        if (len >= 18 && i >= 14 && i < 18) want = ((const uint8_t *)&seq)[i - 14];
        if (f->data[i] != want) return false;
    }
    return true;
}

static void close_both(et_link *a, et_link *b)
{
    if (a) a->ops->destroy(a);
    if (b) b->ops->destroy(b);
}

/* ------------------------------------------------------------------------------------------ */

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Idle waits: a side's doorbell is rung by the peer's tx_flush only while that side is armed,
   once per arming; prime reports frames that came before it. */
static void test_doorbell(void)
{
    set_name("bell");
    et_link *a = open_ok(64), *b = open_ok(64);
    REQUIRE(a && b);
    REQUIRE(a->ops->wake_fd && a->ops->prime && b->ops->tx_flush);
    int fa = a->ops->wake_fd(a);
    CHECK(fa >= 0 && fa != b->ops->wake_fd(b));
    uint8_t *m = raw_map();
    REQUIRE(m);
    CHECK(atomic_load(u32_at(m, L_BELL(0) + 4)) > 0); /* both names published */
    CHECK(atomic_load(u32_at(m, L_BELL(1) + 4)) > 0);
    et_rx_frame f[8];
    /* Not armed: no ring. */
    CHECK_EQ(send_seq(b, 1, 100), 0);
    b->ops->tx_flush(b);
    CHECK(!readable(fa));
    /* Armed with a frame waiting: prime says so. */
    CHECK_EQ(a->ops->prime(a), 1);
    CHECK_EQ(a->ops->rx_burst(a, f, 8), 1);
    a->ops->rx_release(a, f[0].id);
    /* Armed and idle: the next frame rings, once. */
    CHECK_EQ(a->ops->prime(a), 0);
    CHECK_EQ(atomic_load(u32_at(m, L_BELL(0))), 1);
    CHECK_EQ(send_seq(b, 2, 100), 0);
    b->ops->tx_flush(b);
    CHECK(readable(fa));
    CHECK_EQ(atomic_load(u32_at(m, L_BELL(0))), 0);
    /* A flush with nothing new sent looks at nothing. */
    atomic_store(u32_at(m, L_BELL(0)), 1);
    b->ops->tx_flush(b);
    CHECK_EQ(atomic_load(u32_at(m, L_BELL(0))), 1);
    /* The prime drains the earlier ring: readable again only for what follows. */
    CHECK_EQ(a->ops->prime(a), 1);
    CHECK(!readable(fa));
    CHECK_EQ(a->ops->rx_burst(a, f, 8), 1);
    a->ops->rx_release(a, f[0].id);
    CHECK_EQ(a->ops->prime(a), 0);
    CHECK(!readable(fa));
    munmap(m, TOTAL);
    close_both(a, b);
}

/* A head no honest producer publishes is nothing to do: rx_burst ignores it, so prime and idle
   must too, or the idle loop would poll at full speed forever without ever sleeping. */
static void test_bad_head_idle(void)
{
    set_name("badhead");
    et_link *a = open_ok(64), *b = open_ok(1);
    REQUIRE(a && b);
    uint8_t *m = raw_map();
    REQUIRE(m);
    _Atomic uint32_t *head0 = u32_at(m, L_HEAD(0));
    int fb = b->ops->wake_fd(b);
    REQUIRE(fb >= 0);
    et_rx_frame f[4];
    uint64_t now = b->ops->now(b);
    CHECK_EQ(b->ops->prime(b), 0);
    CHECK(b->ops->idle(b, now));

    atomic_store(head0, 5000); /* beyond a full ring past our tail (0) */
    CHECK_EQ(b->ops->rx_burst(b, f, 4), 0);
    CHECK_EQ(stat_of(m, 1, L_RX_BAD_IDX), 1);
    CHECK_EQ(b->ops->prime(b), 0);
    CHECK(b->ops->idle(b, now));
    atomic_store(head0, 0);

    /* Two frames taken and given back (rx_next = 2), then a head one behind them. */
    REQUIRE(send_seq(a, 0, 70) == 0 && send_seq(a, 1, 70) == 0);
    for (int i = 0; i < 2; i++) {
        REQUIRE(b->ops->rx_burst(b, f, 4) == 1); /* n_rx = 1: one at a time */
        b->ops->rx_release(b, f[0].id);
    }
    atomic_store(head0, 1);
    CHECK_EQ(b->ops->rx_burst(b, f, 4), 0);
    CHECK_EQ(stat_of(m, 1, L_RX_BAD_IDX), 2);
    CHECK_EQ(b->ops->prime(b), 0);
    CHECK(b->ops->idle(b, now));
    atomic_store(head0, 2);

    /* A valid head still wakes: before the prime it says so, after it the bell rings. */
    REQUIRE(send_seq(a, 2, 70) == 0);
    CHECK(!b->ops->idle(b, now));
    CHECK_EQ(b->ops->prime(b), 1);
    REQUIRE(b->ops->rx_burst(b, f, 4) == 1);
    CHECK(frame_is(&f[0], 2, 70));
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(b->ops->prime(b), 0);
    REQUIRE(send_seq(a, 3, 70) == 0);
    a->ops->tx_flush(a);
    CHECK(readable(fb));
    CHECK(!b->ops->idle(b, now));

    /* A frame already taken from the peer's head but not yet handed out (n_rx = 1 held it back)
       waits whatever the head says afterwards. */
    REQUIRE(send_seq(a, 4, 70) == 0);
    REQUIRE(b->ops->rx_burst(b, f, 4) == 1);
    CHECK(frame_is(&f[0], 3, 70));
    b->ops->rx_release(b, f[0].id);
    atomic_store(head0, 5000);
    CHECK_EQ(b->ops->prime(b), 1);
    CHECK(!b->ops->idle(b, now));
    REQUIRE(b->ops->rx_burst(b, f, 4) == 1);
    CHECK(frame_is(&f[0], 4, 70));
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(b->ops->prime(b), 0);
    CHECK(b->ops->idle(b, now));
    atomic_store(head0, 5);
    munmap(m, TOTAL);
    close_both(a, b);
}

/* The trust boundary is the object's owner: an object another user owns, or that others may
   open, is refused (and left where it is, it is not ours). */
static void test_foreign_object(void)
{
    set_name("foreign");
    char shm_name[96];
    snprintf(shm_name, sizeof(shm_name), "/efvitcp-%s", g_name);
    int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    et_link *l = NULL;
    static const mode_t loose[] = {0666, 0640, 0604, 0610};
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        CHECK(fchmod(fd, loose[i]) == 0); /* after the open: the umask would mask it */
        const char *err = open_link(g_name, 64, &l);
        CHECK(err && strstr(err, "group or others") && !l);
        if (l) l->ops->destroy(l);
        l = NULL;
    }
    CHECK(fchmod(fd, 0600) == 0);
    if (geteuid() == 0) {
        CHECK(fchown(fd, 65534, 65534) == 0); /* nobody's */
        const char *err = open_link(g_name, 64, &l);
        CHECK(err && strstr(err, "another user") && !l);
        if (l) l->ops->destroy(l);
        l = NULL;
        CHECK(fchown(fd, 0, 0) == 0);
    }
    CHECK(object_exists());
    /* Ours again and private: taken as a stale object. */
    l = open_ok(64);
    CHECK(l != NULL);
    if (l) l->ops->destroy(l);
    CHECK(!object_exists());
    close(fd);
    shm_unlink(shm_name);
}

static double secs_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* Holds the open lock (byte 0) through a file description of its own, as a stuck opener does. */
static int hold_open_lock(void)
{
    int fd = open(g_path, O_RDWR);
    if (fd < 0) return -1;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void open_lock_held_body(void)
{
    /* Alone: the open gives up with an error, the close returns and leaves the name, which the
       next run takes as a stale object. */
    et_link *a = open_ok(64), *b = NULL;
    REQUIRE(a);
    int lk = hold_open_lock();
    REQUIRE(lk >= 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *err = open_link(g_name, 64, &b);
    double waited = secs_since(&t0);
    CHECK(err && strstr(err, "open lock") && !b);
    CHECK(waited >= 0.5 && waited < 5.0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    a->ops->destroy(a);
    waited = secs_since(&t0);
    CHECK(waited >= 0.05 && waited < 2.0);
    CHECK(object_exists());
    close(lk);
    a = open_ok(64);
    REQUIRE(a);
    a->ops->destroy(a);
    CHECK(!object_exists());

    /* With a peer: the one that could not lock leaves the name to the peer, the last out. */
    a = open_ok(64);
    b = open_ok(64);
    REQUIRE(a && b);
    lk = hold_open_lock();
    REQUIRE(lk >= 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    a->ops->destroy(a);
    CHECK(secs_since(&t0) < 2.0);
    close(lk);
    CHECK(object_exists());
    b->ops->destroy(b);
    CHECK(!object_exists());
}

/* A peer (or a stuck opener) that holds the open lock delays our open and close by a bounded
   time, never forever. In a child with an alarm, so that the old, blocking code fails the test
   instead of hanging it. */
static void test_open_lock_held(void)
{
    set_name("lockheld");
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        open_lock_held_body();
        _exit(th_failures ? 1 : 0);
    }
    int status = 0;
    REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFSIGNALED(status)) fprintf(stderr, "child killed by signal %d\n", WTERMSIG(status));
    unlink(g_path);
}

static int lowest_free_fd(void)
{
    int fd = dup(0);
    if (fd >= 0) close(fd);
    return fd;
}

/* A side that opens must be able to ring its peer: the peer arms and sleeps trusting that it
   will. Out of file descriptors at every point of the open: either the open fails and leaves
   nothing open, or the sleeping peer is woken by its first frame. */
static void test_ring_socket_emfile(void)
{
    set_name("emfile");
    et_link *b = open_ok(64);
    REQUIRE(b);
    int fb = b->ops->wake_fd(b);
    REQUIRE(fb >= 0);
    struct rlimit old;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
    int base = lowest_free_fd();
    REQUIRE(base > 2);
    bool refused = false, opened = false;
    et_rx_frame f[4];
    for (int lim = base; lim < base + 8; lim++) {
        struct rlimit r = old;
        r.rlim_cur = (rlim_t)lim;
        CHECK(setrlimit(RLIMIT_NOFILE, &r) == 0);
        et_link *a = NULL;
        const char *err = open_link(g_name, 64, &a);
        CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
        if (err) {
            refused = true;
            CHECK(!a);
            CHECK_EQ(lowest_free_fd(), base);
            continue;
        }
        opened = true;
        REQUIRE(a);
        CHECK_EQ(b->ops->prime(b), 0);
        CHECK_EQ(send_seq(a, (uint32_t)lim, 100), 0);
        a->ops->tx_flush(a);
        if (!readable(fb)) {
            fprintf(stderr, "limit %d (base %d): the sleeping peer was not woken\n", lim, base);
            CHECK(false);
        }
        CHECK_EQ(b->ops->rx_burst(b, f, 4), 1);
        b->ops->rx_release(b, f[0].id);
        a->ops->destroy(a);
        CHECK_EQ(lowest_free_fd(), base);
    }
    CHECK(refused && opened);
    b->ops->destroy(b);
    CHECK(!object_exists());
}

static void test_open_errors(void)
{
    et_link *l = NULL;
    CHECK(open_link("", 64, &l) != NULL && l == NULL);
    CHECK(open_link(".hidden", 64, &l) != NULL);
    CHECK(open_link("a/b", 64, &l) != NULL);
    CHECK(open_link("a b", 64, &l) != NULL);
    char longname[80];
    memset(longname, 'x', 65);
    longname[65] = 0;
    CHECK(open_link(longname, 64, &l) != NULL && l == NULL);

    /* Own-address mode only. */
    set_name("errors");
    et_link_params p = {.n_tx = 8, .tx_buf_size = 2048, .n_rx = 8, .clock = et_mono_clock()};
    char iface[96];
    snprintf(iface, sizeof(iface), "shm:%s", g_name);
    CHECK(et_link_open(iface, &p, &l) != NULL && l == NULL);
    p.local_addr = "198.18.0.1/24";
    p.tx_buf_size = 1500;
    CHECK(et_link_open(iface, &p, &l) != NULL);
    p.tx_buf_size = 1024;
    p.n_tx = 0;
    CHECK(et_link_open(iface, &p, &l) != NULL);
    CHECK(!object_exists()); /* refused before touching /dev/shm */

    /* A name of exactly 64 characters is fine. */
    longname[64] = 0;
    const char *err = open_link(longname, 64, &l);
    CHECK_NULL_ERR(err);
    if (l) l->ops->destroy(l);
    char lp[128];
    snprintf(lp, sizeof(lp), "/dev/shm/efvitcp-%s", longname);
    CHECK(access(lp, F_OK) != 0);
}

static void test_basic(void)
{
    set_name("basic");
    et_link *a = open_ok(64);
    REQUIRE(a);
    CHECK(object_exists());
    et_link *b = open_ok(64);
    REQUIRE(b);
    CHECK_EQ(a->mac[0], 0x02);
    CHECK_EQ(a->mac[5], 1);
    CHECK_EQ(b->mac[5], 2);
    CHECK(memcmp(a->mac, b->mac, 5) == 0);
    CHECK_EQ(a->mtu, 1500);
    CHECK(a->caps & ET_LINK_CAP_OWN_ADDR);
    CHECK_EQ(a->local_ip, 0xc6120001u);
    CHECK_EQ(a->prefix_len, 24);
    CHECK(a->ops->rx_release && a->ops->tx_done && !a->ops->flow_add);

    et_rx_frame f[8];
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 0);
    CHECK_EQ(send_seq(a, 7, 100), 0);
    uint32_t ids[N_TX];
    CHECK_EQ(a->ops->tx_done(a, ids, N_TX), 1);
    CHECK_EQ(ids[0], 7);
    CHECK_EQ(a->ops->tx_done(a, ids, N_TX), 0);
    CHECK_EQ(a->ops->rx_burst(a, f, 8), 0); /* no echo of our own frame */
    REQUIRE(b->ops->rx_burst(b, f, 8) == 1);
    CHECK(frame_is(&f[0], 7, 100));
    CHECK_EQ(f[0].hw_ts, 0);
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 0);

    CHECK_EQ(send_seq(b, 9, 1514), 0);
    REQUIRE(a->ops->rx_burst(a, f, 8) == 1);
    CHECK(frame_is(&f[0], 9, 1514));
    a->ops->rx_release(a, f[0].id);

    uint64_t t0 = a->ops->now(a), t1 = b->ops->now(b);
    CHECK(t0 > 0 && t1 >= t0);

    uint8_t *m = raw_map();
    REQUIRE(m);
    CHECK_EQ(atomic_load(u32_at(m, L_VERSION)), 2);
    CHECK_EQ(atomic_load(u32_at(m, L_SLOT_SIZE)), SLOT_SIZE);
    CHECK_EQ(atomic_load(u32_at(m, L_N_SLOTS)), SLOTS);
    CHECK_EQ(atomic_load(u32_at(m, L_ATTACHED)), getpid());
    CHECK_EQ(atomic_load(u32_at(m, L_ATTACHED + 4)), getpid());
    munmap(m, TOTAL);

    a->ops->destroy(a);
    CHECK(object_exists()); /* b is still attached */
    b->ops->destroy(b);
    CHECK(!object_exists()); /* the last side out removes the name */
}

/* Three and a bit trips round the ring, bursts and batches of odd sizes. */
static void test_wraparound(void)
{
    set_name("wrap");
    et_link *a = open_ok(512), *b = open_ok(512);
    REQUIRE(a && b);
    const uint32_t total = 3 * SLOTS + 7;
    uint32_t sent = 0, got = 0, round = 0;
    et_rx_frame f[64];
    while (got < total) {
        uint32_t batch = 1 + (round * 37) % 300;
        for (uint32_t i = 0; i < batch && sent < total; i++, sent++)
            REQUIRE(send_seq(a, sent, len_for(sent)) == 0);
        int max = 1 + (int)(round % 64);
        int n;
        while ((n = b->ops->rx_burst(b, f, max)) > 0) {
            for (int i = 0; i < n; i++, got++) {
                REQUIRE(frame_is(&f[i], got, len_for(got)));
                b->ops->rx_release(b, f[i].id);
            }
        }
        round++;
        REQUIRE(round < 10000);
    }
    CHECK_EQ(got, total);
    uint8_t *m = raw_map();
    REQUIRE(m);
    CHECK_EQ(atomic_load(u32_at(m, L_HEAD(0))), total);
    CHECK_EQ(atomic_load(u32_at(m, L_TAIL(0))), total);
    CHECK_EQ(stat_of(m, 1, L_RX_BAD_LEN), 0);
    munmap(m, TOTAL);
    close_both(a, b);
}

static void test_full_ring(void)
{
    set_name("full");
    et_link *a = open_ok(64), *b = open_ok(16);
    REQUIRE(a && b);
    for (uint32_t i = 0; i < SLOTS; i++) REQUIRE(send_seq(a, i, 60) == 0);
    CHECK_EQ(send_seq(a, SLOTS, 60), -1);
    CHECK_EQ(send_seq(a, SLOTS, 60), -1);
    uint8_t *m = raw_map();
    REQUIRE(m);
    CHECK_EQ(stat_of(m, 0, L_TX_FULL), 2);

    /* n_rx = 16: no more than 16 slots lent at once. */
    et_rx_frame f[64];
    CHECK_EQ(b->ops->rx_burst(b, f, 64), 16);
    et_rx_frame g[4];
    CHECK_EQ(b->ops->rx_burst(b, g, 4), 0);
    CHECK_EQ(send_seq(a, SLOTS, 60), -1); /* lent slots are not free for the producer */
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(send_seq(a, SLOTS, 60), 0); /* exactly one slot came back */
    CHECK_EQ(send_seq(a, SLOTS + 1, 60), -1);
    CHECK_EQ(b->ops->rx_burst(b, g, 4), 1);
    CHECK(frame_is(&g[0], 16, 60));
    b->ops->rx_release(b, g[0].id);
    for (int i = 1; i < 16; i++) {
        CHECK(frame_is(&f[i], (uint32_t)i, 60));
        b->ops->rx_release(b, f[i].id);
    }
    /* Drain the rest in order. */
    uint32_t next = 17, n;
    while ((n = (uint32_t)b->ops->rx_burst(b, f, 64)) > 0) {
        for (uint32_t i = 0; i < n; i++, next++) {
            CHECK(frame_is(&f[i], next, 60));
            b->ops->rx_release(b, f[i].id);
        }
    }
    CHECK_EQ(next, SLOTS + 1);
    CHECK_EQ(atomic_load(u32_at(m, L_TAIL(0))), SLOTS + 1);

    /* tx_done never holds more than n_tx ids: without reaping, tx() refuses the n_tx+1th. */
    uint32_t ids[N_TX];
    a->ops->tx_done(a, ids, N_TX);
    for (uint32_t i = 0; i < N_TX; i++) CHECK_EQ(a->ops->tx(a, i, 60), 0);
    CHECK_EQ(a->ops->tx(a, 0, 60), -1);
    CHECK_EQ(a->ops->tx_done(a, ids, 10), 10);
    CHECK_EQ(ids[0], 0);
    CHECK_EQ(ids[9], 9);
    CHECK_EQ(a->ops->tx(a, 0, 60), 0);
    munmap(m, TOTAL);
    close_both(a, b);
}

/* A tail no honest consumer publishes stops every send (tx_bad_index); the link says so with
   tx_down, so that the engine tries what waits every ET_LINK_DOWN_RETRY_NS instead of at every
   poll (an idle loop would never sleep). A full ring is ordinary back-pressure and is not that. */
static void test_bad_tail_tx_down(void)
{
    set_name("badtail");
    et_link *a = open_ok(64), *b = open_ok(64);
    REQUIRE(a && b);
    uint8_t *m = raw_map();
    REQUIRE(m);
    _Atomic uint32_t *tail0 = u32_at(m, L_TAIL(0));
    for (uint32_t i = 0; i < SLOTS; i++) REQUIRE(send_seq(a, i, 64) == 0);
    CHECK_EQ(send_seq(a, SLOTS, 64), -1); /* full */
    CHECK_EQ(a->tx_down, 0);
    atomic_store(tail0, SLOTS + 5000); /* ahead of our head */
    CHECK_EQ(send_seq(a, SLOTS, 64), -1);
    CHECK_EQ(stat_of(m, 0, L_TX_BAD_IDX), 1);
    CHECK_EQ(a->tx_down, 1);
    atomic_store(tail0, 1); /* one taken: sends go on */
    CHECK_EQ(send_seq(a, SLOTS, 64), 0);
    CHECK_EQ(a->tx_down, 0);
    munmap(m, TOTAL);
    close_both(a, b);
}

static void test_release_out_of_order(void)
{
    set_name("ooo");
    et_link *a = open_ok(64), *b = open_ok(64);
    REQUIRE(a && b);
    uint8_t *m = raw_map();
    REQUIRE(m);
    for (uint32_t i = 0; i < 5; i++) REQUIRE(send_seq(a, i, 80) == 0);
    et_rx_frame f[8];
    REQUIRE(b->ops->rx_burst(b, f, 4) == 4);
    _Atomic uint32_t *tail = u32_at(m, L_TAIL(0));
    b->ops->rx_release(b, f[2].id);
    CHECK_EQ(atomic_load(tail), 0);
    b->ops->rx_release(b, f[2].id); /* twice: ignored */
    b->ops->rx_release(b, 5000);    /* not a slot */
    b->ops->rx_release(b, 900);     /* a slot never lent */
    CHECK_EQ(atomic_load(tail), 0);
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(atomic_load(tail), 1);
    b->ops->rx_release(b, f[3].id);
    CHECK_EQ(atomic_load(tail), 1);
    b->ops->rx_release(b, f[1].id);
    CHECK_EQ(atomic_load(tail), 4);
    REQUIRE(b->ops->rx_burst(b, f, 8) == 1);
    CHECK(frame_is(&f[0], 4, 80));
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(atomic_load(tail), 5);
    munmap(m, TOTAL);
    close_both(a, b);
}

static void test_third_refused(void)
{
    set_name("third");
    et_link *a = open_ok(64), *b = open_ok(64), *c = NULL;
    REQUIRE(a && b);
    const char *err = open_link(g_name, 64, &c);
    CHECK(err && strstr(err, "both sides") && !c);
    CHECK_EQ(send_seq(a, 1, 64), 0); /* the refusal disturbed nothing */
    et_rx_frame f[2];
    REQUIRE(b->ops->rx_burst(b, f, 2) == 1);
    CHECK(frame_is(&f[0], 1, 64));
    b->ops->rx_release(b, f[0].id);

    /* B leaves: the third one takes its side (and B's MAC) and joins A's live rings. */
    b->ops->destroy(b);
    CHECK(object_exists());
    c = open_ok(64);
    REQUIRE(c);
    CHECK_EQ(c->mac[5], 2);
    CHECK_EQ(send_seq(c, 2, 64), 0);
    REQUIRE(a->ops->rx_burst(a, f, 2) == 1);
    CHECK(frame_is(&f[0], 2, 64));
    a->ops->rx_release(a, f[0].id);
    close_both(a, c);
    CHECK(!object_exists());
}

/* A broken peer writes lengths that do not fit a slot or an Ethernet header. */
static void test_garbage_lengths(void)
{
    set_name("badlen");
    et_link *a = open_ok(64), *b = open_ok(64);
    REQUIRE(a && b);
    uint8_t *m = raw_map();
    REQUIRE(m);
    for (uint32_t i = 0; i < 6; i++) REQUIRE(send_seq(a, i, 100) == 0);
    atomic_store(u32_at(slot_of(m, 0, 1), 0), 5000);
    atomic_store(u32_at(slot_of(m, 0, 2), 0), 13);
    atomic_store(u32_at(slot_of(m, 0, 3), 0), 0xffffffffu);
    atomic_store(u32_at(slot_of(m, 0, 4), 0), MAX_FRAME + 1);
    et_rx_frame f[8];
    REQUIRE(b->ops->rx_burst(b, f, 8) == 2);
    CHECK(frame_is(&f[0], 0, 100));
    CHECK(frame_is(&f[1], 5, 100));
    CHECK_EQ(stat_of(m, 1, L_RX_BAD_LEN), 4);
    b->ops->rx_release(b, f[0].id);
    b->ops->rx_release(b, f[1].id);
    CHECK_EQ(atomic_load(u32_at(m, L_TAIL(0))), 6);

    /* A bad frame at the tail while a good one is lent: the slots come back together. */
    REQUIRE(send_seq(a, 6, 100) == 0);
    REQUIRE(send_seq(a, 7, 100) == 0);
    REQUIRE(send_seq(a, 8, 100) == 0);
    atomic_store(u32_at(slot_of(m, 0, 7), 0), 2049);
    REQUIRE(b->ops->rx_burst(b, f, 8) == 2);
    CHECK(frame_is(&f[0], 6, 100));
    CHECK(frame_is(&f[1], 8, 100));
    CHECK_EQ(atomic_load(u32_at(m, L_TAIL(0))), 6);
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(atomic_load(u32_at(m, L_TAIL(0))), 8);
    b->ops->rx_release(b, f[1].id);
    CHECK_EQ(atomic_load(u32_at(m, L_TAIL(0))), 9);

    /* Frames we are asked to send that no wire carries: dropped, completed, counted. */
    uint32_t ids[N_TX];
    a->ops->tx_done(a, ids, N_TX);
    CHECK_EQ(a->ops->tx(a, 3, 13), 0);
    CHECK_EQ(a->ops->tx(a, 4, MAX_FRAME + 1), 0);
    CHECK_EQ(a->ops->tx(a, 5, 2049), -1); /* beyond the tx buffer: misuse */
    CHECK_EQ(a->ops->tx(a, N_TX, 60), -1);
    CHECK_EQ(a->ops->tx_done(a, ids, N_TX), 2);
    CHECK_EQ(stat_of(m, 0, L_TX_BAD_LEN), 2);
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 0);
    munmap(m, TOTAL);
    close_both(a, b);
}

/* A broken peer publishes indices no honest one can: nothing is read or overwritten. */
static void test_garbage_indices(void)
{
    set_name("badidx");
    et_link *a = open_ok(64), *b = open_ok(64);
    REQUIRE(a && b);
    uint8_t *m = raw_map();
    REQUIRE(m);
    _Atomic uint32_t *head0 = u32_at(m, L_HEAD(0)), *tail0 = u32_at(m, L_TAIL(0));
    et_rx_frame f[8];

    atomic_store(head0, 5000); /* beyond a full ring */
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 0);
    CHECK_EQ(stat_of(m, 1, L_RX_BAD_IDX), 1);
    atomic_store(head0, 0xfffffff0u); /* "behind" the tail */
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 0);
    CHECK_EQ(stat_of(m, 1, L_RX_BAD_IDX), 2);
    atomic_store(head0, 0);

    /* Two lent frames, then the head goes back over them. */
    REQUIRE(send_seq(a, 0, 70) == 0 && send_seq(a, 1, 70) == 0);
    REQUIRE(b->ops->rx_burst(b, f, 1) == 1);
    REQUIRE(b->ops->rx_burst(b, f + 1, 1) == 1);
    REQUIRE(send_seq(a, 2, 70) == 0);
    atomic_store(head0, 1);
    CHECK_EQ(b->ops->rx_burst(b, f + 2, 1), 0);
    CHECK_EQ(stat_of(m, 1, L_RX_BAD_IDX), 3);
    atomic_store(head0, 3);
    REQUIRE(b->ops->rx_burst(b, f + 2, 1) == 1);
    CHECK(frame_is(&f[2], 2, 70));
    for (int i = 0; i < 3; i++) b->ops->rx_release(b, f[i].id);
    CHECK_EQ(atomic_load(tail0), 3);

    /* A consumer tail ahead of our head when the producer looks: refuse, never overwrite. */
    for (uint32_t i = 3; i < 3 + SLOTS; i++) REQUIRE(send_seq(a, i, 60) == 0);
    atomic_store(tail0, 3 + SLOTS + 10);
    CHECK_EQ(send_seq(a, 9999, 60), -1);
    CHECK_EQ(stat_of(m, 0, L_TX_BAD_IDX), 1);
    CHECK_EQ(stat_of(m, 0, L_TX_FULL), 0);
    atomic_store(tail0, 3);
    CHECK_EQ(send_seq(a, 9999, 60), -1);
    CHECK_EQ(stat_of(m, 0, L_TX_FULL), 1);
    uint32_t next = 3;
    int n;
    while ((n = b->ops->rx_burst(b, f, 8)) > 0) {
        for (int i = 0; i < n; i++, next++) {
            CHECK(frame_is(&f[i], next, 60));
            b->ops->rx_release(b, f[i].id);
        }
    }
    CHECK_EQ(next, 3 + SLOTS);
    CHECK_EQ(send_seq(a, 7, 60), 0);
    munmap(m, TOTAL);
    close_both(a, b);
}

/* Free-running 32-bit indices started just below 2^32: the arithmetic must not care. */
static void test_index_wrap(void)
{
    set_name("u32wrap");
    et_link *a = open_ok(64);
    REQUIRE(a);
    uint8_t *m = raw_map();
    REQUIRE(m);
    const uint32_t start = 0xffffffc0u;
    for (int r = 0; r < 2; r++) {
        atomic_store(u32_at(m, L_HEAD(r)), start);
        atomic_store(u32_at(m, L_TAIL(r)), start);
    }
    /* b joins the live a and takes the indices; a leaves and rejoins to take them too. */
    et_link *b = open_ok(64);
    REQUIRE(b);
    a->ops->destroy(a);
    CHECK(object_exists());
    a = open_ok(64);
    REQUIRE(a);
    CHECK_EQ(a->mac[5], 1);
    et_rx_frame f[16];
    uint32_t got_b = 0, got_a = 0;
    for (uint32_t seq = 0; seq < 200; seq++) {
        REQUIRE(send_seq(a, seq, len_for(seq)) == 0);
        REQUIRE(send_seq(b, seq + 1000, 64) == 0);
        if (seq % 3 == 2) {
            int n;
            while ((n = b->ops->rx_burst(b, f, 16)) > 0)
                for (int i = 0; i < n; i++, got_b++) {
                    REQUIRE(frame_is(&f[i], got_b, len_for(got_b)));
                    b->ops->rx_release(b, f[i].id);
                }
            while ((n = a->ops->rx_burst(a, f, 16)) > 0)
                for (int i = 0; i < n; i++, got_a++) {
                    REQUIRE(frame_is(&f[i], got_a + 1000, 64));
                    a->ops->rx_release(a, f[i].id);
                }
        }
    }
    CHECK_EQ(got_b, 198);
    CHECK_EQ(got_a, 198);
    CHECK_EQ(atomic_load(u32_at(m, L_TAIL(0))), start + 198);
    CHECK(atomic_load(u32_at(m, L_TAIL(0))) < 1000); /* it did wrap */
    munmap(m, TOTAL);
    close_both(a, b);
}

/* A child that opens a side, sends, and dies without closing anything. */
static void crash_child(uint32_t frames)
{
    pid_t pid = fork();
    if (pid == 0) {
        et_link *l = NULL;
        if (open_link(g_name, 64, &l)) _exit(2);
        for (uint32_t i = 0; i < frames; i++)
            if (send_seq(l, 500 + i, 90)) _exit(3);
        _exit(0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_stale_recovery(void)
{
    et_rx_frame f[8];

    /* 1. Everyone crashed: the object stays, with frames and pids in it. The next run finds no
          live peer and starts afresh. */
    set_name("stale");
    crash_child(5);
    CHECK(object_exists());
    et_link *a = open_ok(64), *b = open_ok(64);
    REQUIRE(a && b);
    CHECK_EQ(a->mac[5], 1);
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 0);
    CHECK_EQ(a->ops->rx_burst(a, f, 8), 0);
    uint8_t *m = raw_map();
    REQUIRE(m);
    CHECK_EQ(atomic_load(u32_at(m, L_ATTACHED)), getpid());
    CHECK_EQ(atomic_load(u32_at(m, L_HEAD(0))), 0);
    munmap(m, TOTAL);
    CHECK_EQ(send_seq(a, 1, 64), 0);
    REQUIRE(b->ops->rx_burst(b, f, 8) == 1);
    CHECK(frame_is(&f[0], 1, 64));
    b->ops->rx_release(b, f[0].id);
    close_both(a, b);
    CHECK(!object_exists());

    /* 2. A stranger's file under the name, too short for a header: rebuilt. */
    set_name("junk");
    int fd = open(g_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    static const char junk[100] = "not an efvitcp shm object";
    CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    close(fd);
    a = open_ok(64);
    b = open_ok(64);
    REQUIRE(a && b);
    CHECK_EQ(send_seq(b, 2, 64), 0);
    REQUIRE(a->ops->rx_burst(a, f, 8) == 1);
    CHECK(frame_is(&f[0], 2, 64));
    a->ops->rx_release(a, f[0].id);

    /* 3. A live side whose header is not valid (corrupted by someone): the joiner refuses. */
    b->ops->destroy(b);
    m = raw_map();
    REQUIRE(m);
    uint32_t v = atomic_load(u32_at(m, L_VERSION));
    atomic_store(u32_at(m, L_VERSION), 99);
    et_link *c = NULL;
    const char *err = open_link(g_name, 64, &c);
    CHECK(err && strstr(err, "not a valid") && !c);
    atomic_store(u32_at(m, L_VERSION), v);
    atomic_store(u32_at(m, L_HEAD(0)), atomic_load(u32_at(m, L_TAIL(0))) + SLOTS + 1);
    err = open_link(g_name, 64, &c);
    CHECK(err && strstr(err, "corrupt") && !c);
    atomic_store(u32_at(m, L_HEAD(0)), atomic_load(u32_at(m, L_TAIL(0))));
    munmap(m, TOTAL);
    b = open_ok(64);
    REQUIRE(b);
    close_both(a, b);
    CHECK(!object_exists());

    /* 4. One side crashes while the other lives: its frames arrive, and a new process takes its
          side and continues on the same rings. */
    set_name("rejoin");
    a = open_ok(64);
    REQUIRE(a);
    crash_child(3);
    REQUIRE(a->ops->rx_burst(a, f, 8) == 3);
    for (int i = 0; i < 3; i++) {
        CHECK(frame_is(&f[i], 500 + (uint32_t)i, 90));
        a->ops->rx_release(a, f[i].id);
    }
    b = open_ok(64);
    REQUIRE(b);
    CHECK_EQ(b->mac[5], 2);
    m = raw_map();
    REQUIRE(m);
    CHECK_EQ(atomic_load(u32_at(m, L_ATTACHED + 4)), getpid());
    munmap(m, TOTAL);
    CHECK_EQ(send_seq(b, 4, 64), 0);
    CHECK_EQ(send_seq(a, 5, 64), 0);
    REQUIRE(a->ops->rx_burst(a, f, 8) == 1);
    CHECK(frame_is(&f[0], 4, 64));
    a->ops->rx_release(a, f[0].id);
    REQUIRE(b->ops->rx_burst(b, f, 8) == 1);
    CHECK(frame_is(&f[0], 5, 64));
    b->ops->rx_release(b, f[0].id);
    close_both(a, b);
    CHECK(!object_exists());
}

int main(void)
{
    RUN(test_open_errors);
    RUN(test_basic);
    RUN(test_wraparound);
    RUN(test_full_ring);
    RUN(test_release_out_of_order);
    RUN(test_third_refused);
    RUN(test_garbage_lengths);
    RUN(test_garbage_indices);
    RUN(test_index_wrap);
    RUN(test_stale_recovery);
    RUN(test_doorbell);
    RUN(test_bad_head_idle);
    RUN(test_bad_tail_tx_down);
    RUN(test_foreign_object);
    RUN(test_open_lock_held);
    RUN(test_ring_socket_emfile);
    return th_summary();
}
