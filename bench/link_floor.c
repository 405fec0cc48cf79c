/*
 * The floor of a link: one frame bounced between two processes over a real link (xdp, packet, or
 * any et_link) with no TCP, so that a TCP ping-pong over the same link can be compared with what
 * the link alone costs. The frame looks like the TCP ping-pong's (Ethernet, IPv4, TCP with the
 * timestamp option, then the message: 66 + SIZE bytes) so that it takes the same path through
 * the XDP program or the socket filter, and is addressed to the peer's own address (--peer-ip).
 * Each side turns the frame around by swapping the Ethernet, IP and port fields, which keeps its
 * checksums valid, and copies it into a transmit buffer as a stack would.
 *
 *   link_floor --link L --ip ADDR/PREFIX --peer-ip ADDR reflect
 *   link_floor --link L --ip ADDR/PREFIX --peer-ip ADDR bounce [--size N] [--count N]
 *              [--samples FILE] [--name NAME]
 *   common: [--timeout SEC] (default 60) [--ready FILE] (touched once the link is open)
 *
 * reflect returns every frame to its sender until killed or the timeout. bounce sends the first
 * frame to the broadcast address (the reflector learns our MAC from it, we learn its MAC from
 * the answer), warms up with 1000 round trips, then records --count (default 100000): sample i
 * is the time from the arrival of the frame i-1 to the arrival of frame i, so it includes the
 * turn-around, as the TCP ping-pong's includes its send. A frame not back within a second is sent
 * again (counted; its sample includes the wait). Prints, besides a human line, the bench line
 *   RESULT kind=latency name=NAME size=SIZE n=COUNT mean=NS p50=NS p99=NS p999=NS max=NS
 * NAME defaults to "floor-" and the link type. Exit status: 0 ok, 1 failure, 2 timeout, 3 the
 * link could not be opened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "efvitcp/efvitcp.h"
#include "link/link.h"

#define SEC       1000000000ull
#define WARMUP    1000
#define HDRS      66 /* Ethernet 14 + IPv4 20 + TCP 20 + NOP, NOP, timestamps 12 */
#define N_TX      64
#define N_RX      256
#define BURST     16
#define RESEND_NS SEC
#define SRC_PORT  40000
#define DST_PORT  7000
#define MAX_FRAME 2048

static uint64_t deadline;

static void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("link_floor: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void log_hook(void *ctx, int level, const char *msg)
{
    if (level <= EFVITCP_LOG_WARN) fprintf(stderr, "link_floor: link: %s\n", msg);
}

/* RFC 1071 one's complement sum, big-endian 16-bit words. */
static uint32_t sum16(uint32_t acc, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i + 1 < n; i += 2) acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) acc += (uint32_t)p[n - 1] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* A PSH|ACK segment carrying size bytes, as the stack would send it (checksums valid). */
static uint32_t build_frame(uint8_t *f, const uint8_t src_mac[6], uint32_t src_ip, uint32_t dst_ip,
                            uint32_t size)
{
    uint32_t len = HDRS + size;
    memset(f, 0, len);
    memset(f, 0xff, 6); /* broadcast until the reflector's MAC is known */
    memcpy(f + 6, src_mac, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *tcp = ip + 20;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(len - 14));
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, src_ip);
    put32(ip + 16, dst_ip);
    put16(ip + 10, fold(sum16(0, ip, 20)));
    put16(tcp, SRC_PORT);
    put16(tcp + 2, DST_PORT);
    put32(tcp + 4, 0x12345678);
    put32(tcp + 8, 0x9abcdef0);
    tcp[12] = 8 << 4; /* 32-byte header */
    tcp[13] = 0x18;   /* PSH | ACK */
    put16(tcp + 14, 65535);
    tcp[20] = 1;
    tcp[21] = 1;
    tcp[22] = 8; /* timestamps (RFC 7323 §3) */
    tcp[23] = 10;
    put32(tcp + 24, 1);
    put32(tcp + 28, 1);
    for (uint32_t i = 0; i < size; i++) tcp[32 + i] = (uint8_t)(i * 7 + 1);
    uint32_t tcp_len = len - 34, acc = 0;
    acc = sum16(acc, ip + 12, 8); /* pseudo header: addresses, protocol, TCP length */
    acc += 6 + tcp_len;
    put16(tcp + 16, fold(sum16(acc, tcp, tcp_len)));
    return len;
}

typedef struct floor_link {
    et_link *l;
    uint32_t my_ip;
    uint32_t free_ids[N_TX];
    uint32_t n_free;
} floor_link;

static void reap(floor_link *fl)
{
    uint32_t ids[N_TX];
    int n = fl->l->ops->tx_done(fl->l, ids, N_TX);
    for (int i = 0; i < n; i++) fl->free_ids[fl->n_free++] = ids[i];
}

/* Copies frame into a free transmit buffer and sends it; with turn, turned around first. */
static void send_frame(floor_link *fl, const uint8_t *frame, uint32_t len, bool turn)
{
    et_link *l = fl->l;
    for (uint32_t spins = 0; fl->n_free == 0; spins++) {
        reap(fl);
        if ((spins & 4095) == 4095 && now_ns() > deadline) die(2, "timeout: no free tx buffer");
    }
    uint32_t id = fl->free_ids[--fl->n_free];
    uint8_t *p = et_link_tx_buf(l, id);
    memcpy(p, frame, len);
    if (turn) {
        memcpy(p, frame + 6, 6); /* back to whoever sent it */
        memcpy(p + 6, l->mac, 6);
        memcpy(p + 26, frame + 30, 4); /* IP addresses */
        memcpy(p + 30, frame + 26, 4);
        memcpy(p + 34, frame + 36, 2); /* ports */
        memcpy(p + 36, frame + 34, 2);
    }
    for (uint32_t spins = 0; l->ops->tx(l, id, len) != 0; spins++) {
        if (l->ops->tx_flush) l->ops->tx_flush(l);
        reap(fl);
        if ((spins & 4095) == 4095 && now_ns() > deadline) die(2, "timeout: the link refuses tx");
    }
    if (l->ops->tx_flush) l->ops->tx_flush(l);
    reap(fl);
}

/* One of ours: IPv4/TCP to our address, of the expected length (0: any). */
static bool ours(const floor_link *fl, const et_rx_frame *f, uint32_t want_len)
{
    const uint8_t *p = f->data;
    if (f->len < HDRS || (want_len && f->len != want_len)) return false;
    if (p[12] != 0x08 || p[13] != 0x00 || p[23] != 6) return false;
    uint32_t dst = (uint32_t)p[30] << 24 | (uint32_t)p[31] << 16 | (uint32_t)p[32] << 8 | p[33];
    return dst == fl->my_ip;
}

static int run_reflect(floor_link *fl)
{
    et_link *l = fl->l;
    et_rx_frame fr[BURST];
    uint64_t n = 0;
    for (uint32_t spins = 0;; spins++) {
        int got = l->ops->rx_burst(l, fr, BURST);
        for (int i = 0; i < got; i++) {
            if (ours(fl, &fr[i], 0) && fr[i].len <= MAX_FRAME) {
                send_frame(fl, fr[i].data, fr[i].len, true);
                n++;
            }
            l->ops->rx_release(l, fr[i].id);
        }
        if ((spins & 65535) == 65535 && now_ns() > deadline) break;
    }
    fprintf(stderr, "link_floor: reflected %" PRIu64 " frames\n", n);
    return 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int run_bounce(floor_link *fl, uint32_t peer_ip, uint32_t size, uint32_t count,
                      const char *samples, const char *name)
{
    et_link *l = fl->l;
    static uint8_t last[MAX_FRAME];
    uint32_t len = build_frame(last, l->mac, fl->my_ip, peer_ip, size);
    uint64_t *lat = malloc((size_t)count * sizeof(*lat));
    if (!lat) die(1, "out of memory");
    et_rx_frame fr[BURST];
    uint32_t resends = 0, total = WARMUP + count;
    send_frame(fl, last, len, false);
    uint64_t prev = now_ns(), sent_at = prev;
    for (uint32_t i = 0; i < total;) {
        int got = l->ops->rx_burst(l, fr, BURST);
        bool back = false;
        for (int k = 0; k < got; k++) {
            if (!back && ours(fl, &fr[k], len)) {
                back = true;
                uint64_t t = now_ns();
                if (i >= WARMUP) lat[i - WARMUP] = t - prev;
                prev = t;
                /* The next frame is this one turned around; keep it for a resend. */
                memcpy(last, fr[k].data, len);
                memcpy(last, fr[k].data + 6, 6);
                memcpy(last + 6, l->mac, 6);
                memcpy(last + 26, fr[k].data + 30, 4);
                memcpy(last + 30, fr[k].data + 26, 4);
                memcpy(last + 34, fr[k].data + 36, 2);
                memcpy(last + 36, fr[k].data + 34, 2);
                if (i + 1 < total) send_frame(fl, fr[k].data, len, true);
                sent_at = t;
            }
            l->ops->rx_release(l, fr[k].id);
        }
        if (back) {
            i++;
        } else if (now_ns() - sent_at > RESEND_NS) {
            if (now_ns() > deadline) die(2, "timeout: %u of %u round trips done", i, total);
            send_frame(fl, last, len, false);
            sent_at = now_ns();
            resends++;
        }
    }
    if (samples) {
        FILE *f = fopen(samples, "w");
        if (!f) die(1, "--samples %s: %s", samples, strerror(errno));
        for (uint32_t i = 0; i < count; i++) fprintf(f, "%" PRIu64 "\n", lat[i]);
        if (fclose(f)) die(1, "--samples %s: write failed", samples);
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < count; i++) sum += lat[i];
    qsort(lat, count, sizeof(*lat), cmp_u64);
    /* bench conventions: pN is the sorted sample at floor(N/100 * (n-1)). */
    uint64_t p50 = lat[(uint64_t)(count - 1) * 50 / 100],
             p99 = lat[(uint64_t)(count - 1) * 99 / 100];
    uint64_t p999 = lat[(uint64_t)(count - 1) * 999 / 1000], max = lat[count - 1];
    double mean = (double)sum / count;
    printf("raw %u-byte frame bounced over %s: %u round trips (%u resent): mean %.0f p50 %" PRIu64
           " p99 %" PRIu64 " p99.9 %" PRIu64 " max %" PRIu64 " ns\n",
           len, name, count, resends, mean, p50, p99, p999, max);
    printf("RESULT kind=latency name=%s size=%u n=%u mean=%.0f p50=%" PRIu64 " p99=%" PRIu64
           " p999=%" PRIu64 " max=%" PRIu64 "\n",
           name, size, count, mean, p50, p99, p999, max);
    free(lat);
    return 0;
}

static uint64_t num(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || *s == '-' || v < lo || v > hi)
        die(1, "%s wants %" PRIu64 "..%" PRIu64, opt, lo, hi);
    return v;
}

int main(int argc, char **argv)
{
    const char *link_name = NULL, *ip = NULL, *peer = NULL, *samples = NULL, *name = NULL;
    const char *ready = NULL, *mode = NULL;
    uint32_t size = 64, count = 100000;
    uint64_t timeout_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(o, "--", 2) != 0) {
            if (mode) die(1, "one mode only");
            mode = o;
            continue;
        }
        if (!v) die(1, "option %s needs a value", o);
        i++;
        if (!strcmp(o, "--link"))
            link_name = v;
        else if (!strcmp(o, "--ip"))
            ip = v;
        else if (!strcmp(o, "--peer-ip"))
            peer = v;
        else if (!strcmp(o, "--size"))
            size = (uint32_t)num(o, v, 1, MAX_FRAME - HDRS);
        else if (!strcmp(o, "--count"))
            count = (uint32_t)num(o, v, 1, 100000000);
        else if (!strcmp(o, "--samples"))
            samples = v;
        else if (!strcmp(o, "--name"))
            name = v;
        else if (!strcmp(o, "--timeout"))
            timeout_s = num(o, v, 1, 86400);
        else if (!strcmp(o, "--ready"))
            ready = v;
        else
            die(1, "unknown option %s", o);
    }
    if (!link_name || !ip || !peer || !mode || (strcmp(mode, "reflect") && strcmp(mode, "bounce")))
        die(1, "usage: see the comment at the top of bench/link_floor.c");
    struct in_addr a;
    if (inet_pton(AF_INET, peer, &a) != 1) die(1, "bad --peer-ip %s", peer);
    uint32_t peer_ip = ntohl(a.s_addr);
    deadline = now_ns() + timeout_s * SEC;
    setvbuf(stdout, NULL, _IOLBF, 0);

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    et_link_params p = {.n_tx = N_TX,
                        .tx_buf_size = 2048,
                        .n_rx = N_RX,
                        .max_conns = cfg.max_conns, /* flow tables as a default instance has */
                        .local_addr = ip,
                        .clock = et_mono_clock(),
                        .log = log_hook};
    static floor_link fl;
    const char *err = et_link_open(link_name, &p, &fl.l);
    if (err) die(3, "%s: %s", link_name, err);
    if (!fl.l->local_ip) die(3, "%s: the link has no address", link_name);
    if (HDRS + size > fl.l->mtu + 14) die(1, "a %u-byte message does not fit the MTU", size);
    fl.my_ip = fl.l->local_ip;
    for (uint32_t i = 0; i < N_TX && i < fl.l->n_tx; i++) fl.free_ids[fl.n_free++] = i;
    if (ready) {
        FILE *f = fopen(ready, "w");
        if (f) fclose(f);
    }

    char def[64];
    size_t n = strcspn(link_name, ":");
    snprintf(def, sizeof(def), "floor-%.*s", (int)(n < 40 ? n : 40), link_name);
    int rc = !strcmp(mode, "reflect")
                 ? run_reflect(&fl)
                 : run_bounce(&fl, peer_ip, size, count, samples, name ? name : def);
    fl.l->ops->destroy(fl.l);
    return rc;
}
