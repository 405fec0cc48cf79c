/*
 * rr_client: request/response over a kernel TCP socket, the Linux side of bench/rr_loss_veth.sh.
 * Sends SIZE bytes, waits for SIZE bytes back (an echo server answers), COUNT times, one request
 * outstanding at a time, TCP_NODELAY on; prints the completion times' percentiles in the format
 * of `eftcat --rr` so that the two compare line for line:
 *
 *   rr_client HOST PORT SIZE COUNT
 *   rr: COUNT requests of SIZE bytes: p50 X us p99 X us p99.9 X us max X us
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

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: rr_client HOST PORT SIZE COUNT\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    long size = atol(argv[3]), count = atol(argv[4]);
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || size < 1 || size > 65536 || count < 1) {
        fprintf(stderr, "rr_client: bad arguments\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("rr_client: connect");
        return 1;
    }
    char *buf = malloc((size_t)size);
    uint64_t *t = calloc((size_t)count, sizeof(*t));
    if (!buf || !t) return 1;
    memset(buf, 'r', (size_t)size);
    for (long i = 0; i < count; i++) {
        uint64_t t0 = now_ns();
        for (long off = 0; off < size;) {
            ssize_t n = write(fd, buf + off, (size_t)(size - off));
            if (n <= 0) {
                perror("rr_client: write");
                return 1;
            }
            off += n;
        }
        for (long got = 0; got < size;) {
            ssize_t n = read(fd, buf, (size_t)(size - got));
            if (n <= 0) {
                perror("rr_client: read");
                return 1;
            }
            got += n;
        }
        t[i] = now_ns() - t0;
    }
    shutdown(fd, SHUT_WR);
    while (read(fd, buf, (size_t)size) > 0) {
    }
    close(fd);
    qsort(t, (size_t)count, sizeof(*t), cmp_u64);
#define AT(q) (t[(long)((double)(count - 1) * (q) + 0.5)] / 1000.0)
    printf("rr: %ld requests of %ld bytes: p50 %.1f us p99 %.1f us p99.9 %.1f us max %.1f us\n",
           count, size, AT(0.5), AT(0.99), AT(0.999), t[count - 1] / 1000.0);
    return 0;
}
