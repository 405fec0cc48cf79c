/*
 * Idle waits (efvitcp_*_fd, efvitcp_*_prime) over the sim's link: mem here, and again on emulated
 * EF10 and EFCT ports in the e2e-efvi / e2e-efct builds (the emulator's driver handle is an
 * eventfd signalled as ef_vi_prime's interrupt): the fd is readable for a frame
 * sent after the prime, prime reports a frame that came before it, next_timer covers a frame in
 * flight and the user's timers, and a ping-pong driven only by epoll sleeps loses no frame and
 * no timer while the thread sleeps most of the time.
 */
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "sim.h"

#include "efvitcp/efvitcp.h"

#define MSGS     50
#define MSG_SIZE 100

typedef struct side {
    efvitcp_conn *conn;
    uint32_t rx, timers;
    uint64_t timer_at; /* when the user timer fired, by the wire's clock */
    bool echo;
    efvitcp_wire *w;
} side;

static side S, C;

static void on_est(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->conn = c;
}
static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    side *s = ctx;
    s->rx += n;
    if (s->echo) efvitcp_send(c, d, n, false);
    return 0;
}
static void on_user_timeout(void *ctx, efvitcp_conn *c, uint32_t id)
{
    side *s = ctx;
    s->timers++;
    s->timer_at = efvitcp_wire_now(s->w);
}

static efvitcp_handler handler(void)
{
    efvitcp_handler h;
    memset(&h, 0, sizeof(h));
    h.on_established = on_est;
    h.on_data = on_data;
    h.on_user_timeout = on_user_timeout;
    return h;
}

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

typedef struct pair {
    sim s;
    efvitcp_wire *w;
    efvitcp_server *srv;
    efvitcp_client *cli;
} pair;

static bool pair_new(pair *p, uint64_t latency_ns)
{
    memset(p, 0, sizeof(*p));
    memset(&S, 0, sizeof(S));
    memset(&C, 0, sizeof(C));
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.virtual_clock = false; /* real time: the test sleeps */
    wc.latency_ns = latency_ns;
    efvitcp_config cfg;
    sim_default_config(&cfg, 1);
    cfg.user_timers = 1;
    const char *err = sim_init(&p->s, &wc, &cfg, &cfg, 5000);
    if (err) {
        fprintf(stderr, "sim_init: %s\n", err);
        return false;
    }
    p->w = p->s.wire;
    p->srv = p->s.srv;
    p->cli = p->s.cli;
    S.w = C.w = p->w;
    S.echo = true;
    return true;
}

static void pair_free(pair *p)
{
    sim_free(&p->s);
}

static void poll_both(pair *p, const efvitcp_handler *h)
{
    efvitcp_server_poll(p->srv, h, &S);
    efvitcp_client_poll(p->cli, h, &C);
}

static void test_fd_and_prime(void)
{
    pair p;
    REQUIRE(pair_new(&p, 0));
    efvitcp_handler h = handler();
    int sfd = efvitcp_server_fd(p.srv), cfd = efvitcp_client_fd(p.cli);
    CHECK(sfd >= 0);
    CHECK(cfd >= 0 && cfd != sfd);
    CHECK_EQ(efvitcp_server_prime(p.srv), 0); /* nothing waits */
    CHECK(!readable(sfd));
    /* A frame sent after the prime makes the fd readable (the client's poll runs an emulated
       NIC's DMA transmit). */
    CHECK_NULL_ERR(efvitcp_client_connect(p.cli, SIM_SERVER_IP, 5000, 0, NULL));
    efvitcp_client_poll(p.cli, &h, &C);
    CHECK(readable(sfd));
    /* The prime takes the readiness back and reports the frame that waits: by its result (mem)
       or by the fd readable at once (efvi: ef_vi_prime interrupts for events already there). */
    int pr = efvitcp_server_prime(p.srv);
    CHECK(pr == 1 || (pr == 0 && readable(sfd)));
    for (int i = 0; i < 100 && !(S.conn && C.conn); i++) poll_both(&p, &h);
    REQUIRE(S.conn && C.conn);
    for (int i = 0; i < 10; i++) poll_both(&p, &h);
    /* A frame that came before the prime: the prime says so (its write may have gone to an
       earlier arming). */
    CHECK_EQ(efvitcp_server_prime(p.srv), 0);
    efvitcp_send(C.conn, "x", 1, false);
    efvitcp_client_poll(p.cli, &h, &C);
    CHECK(readable(sfd));
    pr = efvitcp_server_prime(p.srv);
    CHECK(pr == 1 || (pr == 0 && readable(sfd)));
    poll_both(&p, &h);
    CHECK_EQ(S.rx, 1);
    pair_free(&p);
}

static void test_frame_in_flight_in_next_timer(void)
{
    pair p;
    REQUIRE(pair_new(&p, 50000000)); /* 50 ms */
    efvitcp_handler h = handler();
    for (int i = 0; i < 100 && !(S.conn && C.conn); i++) {
        poll_both(&p, &h);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        if (i == 0) efvitcp_client_connect(p.cli, SIM_SERVER_IP, 5000, 0, NULL);
    }
    REQUIRE(S.conn && C.conn);
    for (int i = 0; i < 30; i++) {
        poll_both(&p, &h);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    uint64_t sent = efvitcp_wire_now(p.w);
    efvitcp_send(C.conn, "x", 1, false);
    efvitcp_client_poll(p.cli, &h, &C);
    /* In flight for 50 ms. The server sleeps as efvitcp.h says (a cap of 1 s per sleep): it must
       be back when the frame lands, by its next timer (mem: next_timer covers the frame in
       flight) or by its fd (efvi: the NIC's interrupt when the frame lands). */
    int sfd = efvitcp_server_fd(p.srv), naps = 0;
    while (!S.rx && efvitcp_wire_now(p.w) - sent < 2000000000ull) {
        efvitcp_server_poll(p.srv, &h, &S);
        if (S.rx || efvitcp_server_prime(p.srv) != 0) continue;
        uint64_t t = efvitcp_server_next_timer(p.srv), now = efvitcp_wire_now(p.w);
        int ms = t == UINT64_MAX ? 1000 : t <= now ? 0 : (int)((t - now + 999999) / 1000000);
        if (ms > 1000) ms = 1000;
        struct pollfd pf = {.fd = sfd, .events = POLLIN};
        poll(&pf, 1, ms);
        naps++;
    }
    uint64_t took = efvitcp_wire_now(p.w) - sent;
    CHECK_EQ(S.rx, 1);
    /* Back when it landed: a sleep that missed it would last the 1 s cap. The margin is for a
       loaded machine, where a sleep may overrun by tens of milliseconds. */
    CHECK(took >= 50000000 && took < 500000000);
    CHECK(naps >= 1 && naps <= 5);
    pair_free(&p);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* One step of the protocol of efvitcp.h for both instances: poll, prime, re-poll while work
   waits, then sleep until a fd is readable or the earlier next timer. Returns false when the
   deadline passed. */
static int sleeps, wakes_by_fd;
static void idle_step(pair *p, int ep, const efvitcp_handler *h)
{
    poll_both(p, h);
    if (efvitcp_server_prime(p->srv) != 0 || efvitcp_client_prime(p->cli) != 0) return;
    uint64_t t = efvitcp_server_next_timer(p->srv), tc = efvitcp_client_next_timer(p->cli);
    if (tc < t) t = tc;
    uint64_t now = efvitcp_wire_now(p->w);
    int ms = -1;
    if (t != UINT64_MAX) ms = t <= now ? 0 : (int)((t - now + 999999) / 1000000);
    if (ms < 0 || ms > 1000) ms = 1000;
    struct epoll_event ev[2];
    sleeps++;
    if (epoll_wait(ep, ev, 2, ms) > 0) wakes_by_fd++;
}

static void test_ping_pong_asleep(void)
{
    pair p;
    REQUIRE(pair_new(&p, 1000000)); /* 1 ms one way */
    efvitcp_handler h = handler();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(ep >= 0);
    struct epoll_event e = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, efvitcp_server_fd(p.srv), &e);
    epoll_ctl(ep, EPOLL_CTL_ADD, efvitcp_client_fd(p.cli), &e);
    sleeps = wakes_by_fd = 0;
    double cpu0 = cpu_seconds();
    uint64_t t0 = efvitcp_wire_now(p.w);
    CHECK_NULL_ERR(efvitcp_client_connect(p.cli, SIM_SERVER_IP, 5000, 0, NULL));
    uint32_t sent = 0;
    bool timer_set = false;
    uint64_t timer_due = 0, timer_late = 0; /* the timer's time lies between the two */
    int missed = 0; /* polls that began after the timer was due and did not fire it */
    while (efvitcp_wire_now(p.w) - t0 < 5000000000ull) {
        bool due = timer_set && efvitcp_wire_now(p.w) >= timer_late && !C.timers;
        idle_step(&p, ep, &h);
        if (due && !C.timers) missed++;
        if (!C.conn) continue;
        if (!timer_set) {
            /* A user timer 30 ms out, in the middle of the exchange: it must fire on time. The
               clock is read on both sides of the call: on a loaded machine the thread may be
               preempted on either side, and the stack's own reading lies between the two. */
            timer_due = efvitcp_wire_now(p.w) + 30000000;
            efvitcp_set_user_timer_ns(C.conn, 0, 30000000);
            timer_late = efvitcp_wire_now(p.w) + 30000000;
            timer_set = true;
        }
        /* Ping-pong: the next message once the last one came back. */
        if (C.rx == sent * MSG_SIZE && sent < MSGS) {
            uint8_t msg[MSG_SIZE] = {0};
            efvitcp_send(C.conn, msg, sizeof(msg), false);
            sent++;
        }
        if (C.rx == MSGS * MSG_SIZE && C.timers) break;
    }
    uint64_t wall = efvitcp_wire_now(p.w) - t0;
    double cpu = cpu_seconds() - cpu0;
    CHECK_EQ(C.rx, MSGS * MSG_SIZE);
    CHECK_EQ(S.rx, MSGS * MSG_SIZE);
    CHECK_EQ(C.timers, 1);
    /* Fired no earlier than due, and by the first poll that began after it was due: how late
       that poll comes is the machine's load and the sleep's rounding, not the stack's. */
    CHECK(C.timer_at >= timer_due);
    CHECK_EQ(missed, 0);
    /* Each round trip is two 1 ms flights: about 100 ms for 50, spent asleep. */
    CHECK(wall >= 100000000);
    /* Asleep between flights: on one thread every frame is queued before the peer primes, so
       these wake-ups come from next_timer (the frame in flight), not the fd. */
    CHECK(sleeps >= MSGS);
    CHECK(cpu < 0.5 * (double)wall / 1e9);
    fprintf(stderr, "ping-pong asleep: %.1f ms wall, %.1f ms CPU, %d sleeps, %d by fd\n",
            (double)wall / 1e6, cpu * 1e3, sleeps, wakes_by_fd);
    close(ep);
    pair_free(&p);
}

int main(void)
{
    RUN(test_fd_and_prime);
    RUN(test_frame_in_flight_in_next_timer);
    RUN(test_ping_pong_asleep);
    return th_summary();
}
