/*
 * idle_server: a TCP server that sleeps while nothing happens (efvitcp.h, "Idle waits") and
 * answers each "ping" with "pong"; any other bytes are echoed. It idles at (near) 0% CPU: the
 * thread sleeps in epoll_wait on the instance's fd with the timeout of its next timer.
 *
 *   idle_server IFACE LOCAL_ADDR [--port P] [--seconds N] [--bye-ms MS] [--busy]
 *
 *   IFACE       packet:IF, xdp:IF, shm:NAME, efvi:IF ("mem:" needs a wire: not here)
 *   LOCAL_ADDR  the stack's own address, "A.B.C.D/prefix" ("-" for the kernel's: xdp, efvi)
 *   --port      the port to listen on (default 7000)
 *   --seconds   run that long, then print the figures and exit (default: until SIGINT/SIGTERM)
 *   --bye-ms    a user timer: a connection quiet that long gets "bye\n" and a FIN
 *   --busy      busy-poll instead of sleeping (for comparison)
 *
 * At exit it prints one line: wall seconds, CPU seconds, polls, sleeps, wake-ups by the fd.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include "efvitcp/efvitcp.h"

static volatile sig_atomic_t stop;
static uint64_t bye_ns;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

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

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    (void)ctx;
    /* "ping" anywhere in a segment's bytes is answered; the rest is echoed as it came. A
       message split across segments is a sketch's limit, not a protocol. */
    uint32_t kept = 0;
    if (n >= 4 && memmem(d, n, "ping", 4)) {
        efvitcp_send(c, "pong\n", 5, false);
    } else {
        /* What does not fit the send buffer stays unconsumed and comes again with the next
           data: a sketch's back-pressure (a real server would also wait for on_more_sendable). */
        kept = n - efvitcp_send(c, d, n, false);
    }
    if (bye_ns) efvitcp_set_user_timer_ns(c, 0, bye_ns);
    return kept;
}

static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    (void)ctx, (void)d, (void)n;
    efvitcp_send_fin(c);
}

static void on_user_timeout(void *ctx, efvitcp_conn *c, uint32_t id)
{
    (void)ctx, (void)id;
    efvitcp_send(c, "bye\n", 4, false);
    efvitcp_send_fin(c);
}

static void usage(void)
{
    fprintf(stderr, "usage: idle_server IFACE LOCAL_ADDR [--port P] [--seconds N] [--bye-ms MS] "
                    "[--busy]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3) usage();
    const char *iface = argv[1], *addr = argv[2];
    uint16_t port = 7000;
    double seconds = 0;
    bool busy = false;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = (uint16_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--bye-ms") && i + 1 < argc)
            bye_ns = (uint64_t)atoll(argv[++i]) * 1000000ull;
        else if (!strcmp(argv[i], "--busy"))
            busy = true;
        else
            usage();
    }
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = strcmp(addr, "-") ? addr : NULL;
    cfg.max_conns = 16;
    cfg.user_timers = 1;
    efvitcp_server *srv;
    const char *err = efvitcp_server_init(&srv, iface, &cfg);
    if (!err) err = efvitcp_server_listen(srv, port);
    if (err) {
        fprintf(stderr, "idle_server: %s\n", err);
        return 1;
    }
    int fd = efvitcp_server_fd(srv);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (!busy && (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)) {
        fprintf(stderr, "idle_server: this link has no file descriptor to sleep on\n");
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("listening on %s port %u (%s)\n", iface, port, busy ? "busy polling" : "idle waits");
    fflush(stdout);

    efvitcp_handler h = {.on_data = on_data, .on_fin = on_fin, .on_user_timeout = on_user_timeout};
    uint64_t t0 = mono_ns(), polls = 0, sleeps = 0, by_fd = 0;
    double cpu0 = cpu_seconds();
    while (!stop && (seconds <= 0 || (double)(mono_ns() - t0) < seconds * 1e9)) {
        efvitcp_server_poll(srv, &h, NULL);
        polls++;
        if (busy) continue;
        /* 1. Arm; 2. work already waits (1) or the link cannot sleep (-1): poll again. */
        if (efvitcp_server_prime(srv) != 0) continue;
        /* 3. The deadline after the last poll; 4. sleep, rounding the timeout up. */
        uint64_t t = efvitcp_server_next_timer(srv), now = mono_ns();
        int ms = 1000; /* also to look at --seconds and signals */
        if (t != UINT64_MAX) {
            uint64_t left = t <= now ? 0 : (t - now + 999999) / 1000000;
            if (left < (uint64_t)ms) ms = (int)left;
        }
        sleeps++;
        int n = epoll_wait(ep, &ev, 1, ms);
        if (n > 0) by_fd++;
        if (n < 0 && errno != EINTR) break;
    }
    double wall = (double)(mono_ns() - t0) / 1e9, cpu = cpu_seconds() - cpu0;
    printf("wall %.3f s, cpu %.3f s (%.2f%%), polls %llu, sleeps %llu, woken by fd %llu\n", wall,
           cpu, wall > 0 ? 100.0 * cpu / wall : 0.0, (unsigned long long)polls,
           (unsigned long long)sleeps, (unsigned long long)by_fd);
    efvitcp_server_close(srv);
    return 0;
}
