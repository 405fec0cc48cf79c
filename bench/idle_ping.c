/*
 * idle_ping: a kernel TCP client that measures round trips of "ping" against
 * examples/idle_server, pausing between them so that an idle server is asleep when each comes
 * (bench/idle_wakeup.sh runs it against the same server sleeping and busy polling: the difference
 * is the cost of the wake-up).
 *
 *   idle_ping IP PORT [--count N] [--pause-us US] [--name NAME]
 *
 * Prints the percentiles and one line
 *   RESULT kind=wakeup name=NAME pause_us=US n=N p50=NS p90=NS p99=NS p999=NS max=NS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: idle_ping IP PORT [--count N] [--pause-us US] [--name NAME]\n");
        return 2;
    }
    uint32_t count = 2000, pause_us = 1000;
    const char *name = "idle";
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--count"))
            count = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pause-us"))
            pause_us = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--name"))
            name = argv[i + 1];
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
    int s = -1;
    for (int tries = 0; tries < 50 && s < 0; tries++) {
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
            close(s);
            s = -1;
            usleep(100000);
        }
    }
    if (s < 0) {
        perror("idle_ping: connect");
        return 1;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint64_t *rtt = calloc(count, sizeof(*rtt));
    if (!rtt) return 1;
    uint32_t n = 0;
    for (uint32_t i = 0; i < count + 100; i++) {
        if (pause_us) {
            struct timespec ts = {(time_t)(pause_us / 1000000), (long)(pause_us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        uint64_t t = mono_ns();
        if (send(s, "ping\n", 5, 0) != 5) break;
        char buf[5];
        size_t got = 0;
        while (got < 5) {
            ssize_t r = recv(s, buf + got, 5 - got, 0);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (got < 5) break;
        if (i >= 100) rtt[n++] = mono_ns() - t; /* the first 100 warm up */
    }
    close(s);
    if (!n) return 1;
    qsort(rtt, n, sizeof(*rtt), cmp_u64);
#define PCT(p) rtt[(size_t)((double)(n - 1) * (p))]
    printf("%s: %u round trips, pause %u us: p50 %.1f us, p90 %.1f, p99 %.1f, p99.9 %.1f, max "
           "%.1f\n",
           name, n, pause_us, PCT(0.5) / 1e3, PCT(0.9) / 1e3, PCT(0.99) / 1e3, PCT(0.999) / 1e3,
           rtt[n - 1] / 1e3);
    printf("RESULT kind=wakeup name=%s pause_us=%u n=%u p50=%llu p90=%llu p99=%llu p999=%llu "
           "max=%llu\n",
           name, pause_us, n, (unsigned long long)PCT(0.5), (unsigned long long)PCT(0.9),
           (unsigned long long)PCT(0.99), (unsigned long long)PCT(0.999),
           (unsigned long long)rtt[n - 1]);
    free(rtt);
    return 0;
}
