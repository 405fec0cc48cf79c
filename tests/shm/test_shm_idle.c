/*
 * Idle waits over the shm link, two processes that both sleep (efvitcp.h, "Idle waits"): a child
 * echo server and a parent client each poll, prime, and sleep in epoll until their doorbell
 * rings or their next timer is due. The client pauses up to 2 ms before each of its round trips,
 * so the server is asleep when the message comes. A doorbell lost (a frame published while its
 * reader armed, and no ring) would leave that side asleep until its next timer, which with
 * delayed ACKs off and the RTO floor above the cap is the loop's 1 s cap: no sleep of either side
 * may run out that cap while the connection is open. A user timer armed across the sleeps must
 * fire on time, and both processes must spend most of their wall time asleep.
 */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"

#define SRV_IP       "198.18.0.1"
#define PORT         5002
#define ROUNDS       300u
#define TIMEOUT_S    60u
#define MAX_SLEEP_MS 1000
/* The stack's clock (the TSC, following CLOCK_MONOTONIC within microseconds: test_tsc_clock) and
   its timer wheel's 1 µs tick against the test's clock_gettime: the margin of the timer checks. */
#define CLOCK_SLACK_NS 1000000ull

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static efvitcp_config config(const char *addr)
{
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = addr;
    cfg.delayed_ack_us = 0; /* no timer pending between round trips: a lost ring shows */
    /* Nor a retransmission that would ring again (the default 5 ms floor hid a lost ring, and on
       a loaded machine resends spuriously): the RTO stays above the 1 s cap. shm loses nothing. */
    cfg.min_rto_us = cfg.initial_rto_us = 2000000;
    cfg.user_timers = 1;
    return cfg;
}

/* Sleeps as efvitcp.h says, once: the prime first, then the timeout from next_timer. Returns
   0 when work waited, 1 when it slept, 2 when it slept the whole cap: nothing rang and no timer
   was due for a second, which only a lost ring (or a peer stalled that long) explains. */
static int idle_wait(int ep, int prime, uint64_t next_timer)
{
    if (prime != 0) return 0;
    uint64_t now = mono_ns();
    int ms = MAX_SLEEP_MS;
    if (next_timer != UINT64_MAX) {
        uint64_t left = next_timer <= now ? 0 : (next_timer - now + 999999) / 1000000;
        if (left < (uint64_t)ms) ms = (int)left;
    }
    struct epoll_event ev;
    if (epoll_wait(ep, &ev, 1, ms) == 0 && ms == MAX_SLEEP_MS) return 2;
    return 1;
}

static int epoll_for(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN};
    if (ep < 0 || fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) return -1;
    return ep;
}

/* ---- the server (child) ---- */

static bool srv_closed;
static uint32_t srv_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    return n - efvitcp_send(c, d, n, false);
}
static void srv_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    efvitcp_send_fin(c);
}
static void srv_gone(void *ctx, efvitcp_conn *c)
{
    srv_closed = true;
}

static int server(const char *name, int ready_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(TIMEOUT_S);
    efvitcp_config cfg = config(SRV_IP "/15");
    efvitcp_server *srv;
    char iface[80];
    snprintf(iface, sizeof(iface), "shm:%s", name);
    if (efvitcp_server_init(&srv, iface, &cfg) || efvitcp_server_listen(srv, PORT)) return 2;
    int ep = epoll_for(efvitcp_server_fd(srv));
    if (ep < 0) return 3;
    char c = 1;
    if (write(ready_fd, &c, 1) != 1) return 4;
    efvitcp_handler h = {
        .on_data = srv_data, .on_fin = srv_fin, .on_closed = srv_gone, .on_reset = srv_gone};
    uint64_t t0 = mono_ns();
    double cpu0 = cpu_seconds();
    uint32_t conns = 0, capped = 0;
    for (;;) {
        efvitcp_server_poll(srv, &h, NULL);
        if (srv_closed) break;
        if (!conns && efvitcp_server_conn_count(srv)) {
            conns = 1;
            t0 = mono_ns(); /* from the client's SYN: before it, the client was starting */
            cpu0 = cpu_seconds();
        }
        if (idle_wait(ep, efvitcp_server_prime(srv), efvitcp_server_next_timer(srv)) == 2 && conns)
            capped++;
    }
    /* The rest of the close (TIME_WAIT is the client's) needs a few more polls. */
    for (int i = 0; i < 1000; i++) efvitcp_server_poll(srv, &h, NULL);
    double wall = (double)(mono_ns() - t0) / 1e9, cpu = cpu_seconds() - cpu0;
    fprintf(stderr, "shm idle server: %.3f s wall, %.3f s CPU, %u sleeps to the cap\n", wall, cpu,
            capped);
    /* From the client's SYN to its RST the client pauses 2 ms at most between messages: a sleep
       to the 1 s cap is a lost ring. (Not the wall time: on a loaded machine the client's 300
       pauses alone may overrun it.) */
    if (capped) return 6;
    efvitcp_server_close(srv);
    return cpu < 0.5 * wall ? 0 : 5;
}

/* ---- the client (parent) ---- */

typedef struct cli_state {
    efvitcp_conn *conn;
    uint32_t rx, timers, closed;
    uint64_t timer_at;
} cli_state;

static void cli_est(void *ctx, efvitcp_conn *c)
{
    ((cli_state *)ctx)->conn = c;
}
static uint32_t cli_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    ((cli_state *)ctx)->rx += n;
    return 0;
}
static void cli_timer(void *ctx, efvitcp_conn *c, uint32_t id)
{
    cli_state *s = ctx;
    s->timers++;
    s->timer_at = mono_ns();
}
static void cli_closed(void *ctx, efvitcp_conn *c)
{
    ((cli_state *)ctx)->closed++;
}

/* The user timer's latest due time (0: not armed yet), and the client's polls that began after
   it (by the clock's slack) and did not fire it. */
static uint64_t timer_late;
static uint32_t timer_missed;

static void client_poll(efvitcp_client *cli, const efvitcp_handler *h, cli_state *st)
{
    bool due = timer_late && !st->timers && mono_ns() >= timer_late + CLOCK_SLACK_NS;
    efvitcp_client_poll(cli, h, st);
    if (due && !st->timers) timer_missed++;
}

/* Counts a sleep (idle_wait's result) and a sleep that ran out the cap. */
static void count_sleep(int r, uint32_t *sleeps, uint32_t *capped)
{
    *sleeps += r != 0;
    *capped += r == 2;
}

static void test_both_asleep(void)
{
    char name[64];
    snprintf(name, sizeof(name), "idle-test-%d", (int)getpid());
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        _exit(server(name, ready[1]));
    }
    close(ready[1]);
    char c;
    REQUIRE(read(ready[0], &c, 1) == 1);
    close(ready[0]);

    efvitcp_config cfg = config("198.18.0.2/15");
    efvitcp_client *cli;
    char iface[80];
    snprintf(iface, sizeof(iface), "shm:%s", name);
    CHECK_NULL_ERR(efvitcp_client_init(&cli, iface, &cfg));
    REQUIRE(cli);
    int ep = epoll_for(efvitcp_client_fd(cli));
    REQUIRE(ep >= 0);
    cli_state st = {0};
    efvitcp_handler h = {.on_established = cli_est,
                         .on_data = cli_data,
                         .on_user_timeout = cli_timer,
                         .on_closed = cli_closed};
    CHECK_NULL_ERR(efvitcp_client_connect(cli, SRV_IP, PORT, 0, NULL));
    uint64_t t0 = mono_ns(), max_rtt = 0;
    double cpu0 = cpu_seconds();
    uint32_t sleeps = 0, capped = 0;
    timer_late = 0;
    timer_missed = 0;
    while (mono_ns() - t0 < 10000000000ull) {
        client_poll(cli, &h, &st);
        if (st.conn) break;
        count_sleep(idle_wait(ep, efvitcp_client_prime(cli), efvitcp_client_next_timer(cli)),
                    &sleeps, &capped);
    }
    REQUIRE(st.conn);
    /* A timer 100 ms out, crossing many sleeps of both kinds. The clock is read on both sides of
       the call: on a loaded machine the process may be preempted on either side, and the
       stack's own reading lies between the two. */
    uint64_t timer_due = mono_ns() + 100000000;
    CHECK_NULL_ERR(efvitcp_set_user_timer_ns(st.conn, 0, 100000000));
    timer_late = mono_ns() + 100000000;
    for (uint32_t r = 0; r < ROUNDS; r++) {
        /* The server falls asleep meanwhile. */
        struct timespec pause = {0, (long)((r * 7919u) % 2000u) * 1000};
        nanosleep(&pause, NULL);
        uint8_t msg[64] = {(uint8_t)r};
        uint32_t want = st.rx + sizeof(msg);
        uint64_t sent = mono_ns();
        CHECK_EQ(efvitcp_send(st.conn, msg, sizeof(msg), false), sizeof(msg));
        while (st.rx < want && mono_ns() - sent < 5000000000ull) {
            client_poll(cli, &h, &st);
            if (st.rx >= want) break;
            count_sleep(idle_wait(ep, efvitcp_client_prime(cli), efvitcp_client_next_timer(cli)),
                        &sleeps, &capped);
        }
        uint64_t rtt = mono_ns() - sent;
        if (rtt > max_rtt) max_rtt = rtt;
        if (st.rx < want) break;
    }
    CHECK_EQ(st.rx, ROUNDS * 64u);
    while (mono_ns() < timer_late + 1000000000ull) {
        client_poll(cli, &h, &st);
        if (st.timers) break;
        idle_wait(ep, efvitcp_client_prime(cli), efvitcp_client_next_timer(cli));
    }
    CHECK_EQ(st.timers, 1);
    /* Fired no earlier than due, and by the first poll that began after it was due: how late
       that poll comes is the machine's load and the sleep's rounding, not the stack's. */
    CHECK(st.timer_at + CLOCK_SLACK_NS >= timer_due);
    CHECK_EQ(timer_missed, 0);
    double wall = (double)(mono_ns() - t0) / 1e9, cpu = cpu_seconds() - cpu0;
    /* No ring lost: a lost one leaves the client asleep for the 1 s cap (its RTO is longer),
       while the server answers at once. The wall time of the whole run is not checked: on a
       loaded machine the 300 pauses alone may overrun a second. */
    CHECK_EQ(capped, 0);
    /* A round trip with a lost ring in it lasts the cap: shorter is the machine's load. */
    CHECK(max_rtt < (uint64_t)MAX_SLEEP_MS * 1000000ull);
    CHECK(sleeps > 0); /* an answer is often back before the prime: no sleep then */
    CHECK(cpu < 0.5 * wall);
    fprintf(stderr,
            "shm idle client: %u round trips, max %.3f ms, %u sleeps (%u to the cap), %.3f s wall, "
            "%.3f s CPU\n",
            ROUNDS, (double)max_rtt / 1e6, sleeps, capped, wall, cpu);
    efvitcp_conn_close(st.conn); /* RST: the server's on_reset ends it */
    for (int i = 0; i < 100; i++) efvitcp_client_poll(cli, &h, &st);
    efvitcp_client_close(cli);
    close(ep);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    RUN(test_both_asleep);
    return th_summary();
}
