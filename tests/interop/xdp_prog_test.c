/*
 * The XDP program's steering decisions, run in the kernel with BPF_PROG_TEST_RUN on crafted
 * frames: which frames go to the socket, which to the kernel, and that hostile or truncated frames
 * never get steered. The object is loaded with et_test_mode set, so "steer" reads as XDP_TX (no
 * socket is needed). Needs root (CAP_BPF); without it the test is skipped (exit 77), except under
 * CI=true where that is a failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "harness.h"
#include "link/xdp_prog.h"

#define STEER XDP_TX

static int prog_fd, fd_listen, fd_conns, fd_cfg;

static const uint32_t L = 0xc6120002; /* 198.18.0.2: our address */
static const uint32_t R = 0xc6120001; /* 198.18.0.1: the peer */
static const uint32_t M = 0xc6120003; /* 198.18.0.3: someone else's */

typedef struct frame {
    uint8_t b[128];
    uint32_t len;
} frame;

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

/* Ethernet + IPv4 (ihl words) + 20 bytes of TCP (or another protocol). */
static frame ip_frame(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                      uint8_t ihl)
{
    frame f;
    memset(&f, 0, sizeof(f));
    memset(f.b, 0x02, 12);
    put16(f.b + 12, 0x0800);
    uint8_t *ip = f.b + 14;
    ip[0] = (uint8_t)(0x40 | ihl);
    put16(ip + 2, (uint16_t)(ihl * 4 + 20));
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    uint8_t *l4 = ip + ihl * 4;
    put16(l4, sport);
    put16(l4 + 2, dport);
    l4[12] = 0x50;
    l4[13] = 0x02; /* SYN */
    f.len = 14 + ihl * 4u + 20;
    return f;
}

static frame tcp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
    return ip_frame(6, src, dst, sport, dport, 5);
}

static frame arp(uint16_t oper, uint32_t spa, uint32_t tpa)
{
    frame f;
    memset(&f, 0, sizeof(f));
    memset(f.b, 0xff, 6);
    memset(f.b + 6, 0x02, 6);
    put16(f.b + 12, 0x0806);
    uint8_t *a = f.b + 14;
    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, oper);
    memset(a + 8, 0x02, 6);
    put32(a + 14, spa);
    put32(a + 24, tpa);
    f.len = 14 + 28;
    return f;
}

/* The program's verdict on f; -1 when the kernel refused to run it. */
static int run(const frame *f)
{
    uint8_t out[256];
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = f->len, .data_out = out,
                .data_size_out = sizeof(out), .repeat = 1);
    if (bpf_prog_test_run_opts(prog_fd, &o)) return -1;
    return (int)o.retval;
}

static void set_cfg(uint32_t local_ip, uint32_t flags)
{
    struct et_xdp_cfg c = {htonl(local_ip), flags};
    uint32_t zero = 0;
    REQUIRE(bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY) == 0);
}

static void listen_port(uint16_t port, bool on)
{
    uint32_t w = port >> 6;
    uint64_t bits = 0;
    CHECK(bpf_map_lookup_elem(fd_listen, &w, &bits) == 0);
    bits = on ? bits | 1ull << (port & 63) : bits & ~(1ull << (port & 63));
    CHECK(bpf_map_update_elem(fd_listen, &w, &bits, BPF_ANY) == 0);
}

static void conn(uint32_t rip, uint16_t rport, uint16_t lport, bool on)
{
    struct et_xdp_conn_key k = {htonl(rip), htons(rport), htons(lport)};
    uint8_t one = 1;
    if (on)
        CHECK(bpf_map_update_elem(fd_conns, &k, &one, BPF_ANY) == 0);
    else
        CHECK(bpf_map_delete_elem(fd_conns, &k) == 0);
}

static void test_no_address_steers_nothing(void)
{
    set_cfg(0, ET_XDP_F_ARP | ET_XDP_F_ALL_TCP);
    listen_port(80, true);
    frame f = tcp(R, L, 5000, 80);
    CHECK_EQ(run(&f), XDP_PASS);
    f = arp(1, R, L);
    CHECK_EQ(run(&f), XDP_PASS);
    listen_port(80, false);
}

static void test_listening_port(void)
{
    set_cfg(L, 0);
    frame f = tcp(R, L, 5000, 80);
    CHECK_EQ(run(&f), XDP_PASS);
    listen_port(80, true);
    CHECK_EQ(run(&f), STEER);
    /* Any peer, any source port: a listener takes new SYNs from everyone. */
    f = tcp(M, L, 1, 80);
    CHECK_EQ(run(&f), STEER);
    /* Other ports, other addresses and other protocols stay with the kernel. */
    f = tcp(R, L, 5000, 81);
    CHECK_EQ(run(&f), XDP_PASS);
    f = tcp(R, M, 5000, 80);
    CHECK_EQ(run(&f), XDP_PASS);
    f = ip_frame(17, R, L, 5000, 80, 5); /* UDP */
    CHECK_EQ(run(&f), XDP_PASS);
    f = ip_frame(1, R, L, 0x0800, 0, 5); /* ICMP echo */
    CHECK_EQ(run(&f), XDP_PASS);
    listen_port(80, false);
    f = tcp(R, L, 5000, 80);
    CHECK_EQ(run(&f), XDP_PASS);
}

/* The listening set is a bitmap over every port: its word and bit edges, the port in host order. */
static void test_listening_bitmap(void)
{
    set_cfg(L, 0);
    static const uint16_t ports[] = {1, 63, 64, 127, 256, 0x1234, 0x3412, 65472, 65535};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        uint16_t p = ports[i];
        frame f = tcp(R, L, 5000, p);
        CHECK_EQ(run(&f), XDP_PASS);
        listen_port(p, true);
        CHECK_EQ(run(&f), STEER);
        /* the neighbours in the word, and the byte-swapped port, are not listening */
        f = tcp(R, L, 5000, (uint16_t)(p ^ 1));
        CHECK_EQ(run(&f), XDP_PASS);
        f = tcp(R, L, 5000, (uint16_t)(p >> 8 | p << 8));
        if ((uint16_t)(p >> 8 | p << 8) != p) CHECK_EQ(run(&f), XDP_PASS);
        listen_port(p, false);
        f = tcp(R, L, 5000, p);
        CHECK_EQ(run(&f), XDP_PASS);
    }
}

static void test_connected_flow(void)
{
    set_cfg(L, 0);
    conn(R, 7777, 40000, true);
    frame f = tcp(R, L, 7777, 40000);
    CHECK_EQ(run(&f), STEER);
    /* Each element of the 4-tuple matters. */
    f = tcp(R, L, 7778, 40000);
    CHECK_EQ(run(&f), XDP_PASS);
    f = tcp(R, L, 7777, 40001);
    CHECK_EQ(run(&f), XDP_PASS);
    f = tcp(M, L, 7777, 40000);
    CHECK_EQ(run(&f), XDP_PASS);
    f = tcp(R, M, 7777, 40000);
    CHECK_EQ(run(&f), XDP_PASS);
    /* Reversed ports (our own segment seen on the wire) are not ours to take. */
    f = tcp(R, L, 40000, 7777);
    CHECK_EQ(run(&f), XDP_PASS);
    conn(R, 7777, 40000, false);
    f = tcp(R, L, 7777, 40000);
    CHECK_EQ(run(&f), XDP_PASS);
}

static void test_ip_options_move_the_ports(void)
{
    set_cfg(L, 0);
    listen_port(80, true);
    frame f = ip_frame(6, R, L, 5000, 80, 6);
    CHECK_EQ(run(&f), STEER);
    f = ip_frame(6, R, L, 5000, 80, 15);
    CHECK_EQ(run(&f), STEER);
    /* The port bytes where a 20-byte header would put them must not be read. */
    f = ip_frame(6, R, L, 5000, 81, 6);
    f.b[14 + 20 + 2] = 0;
    f.b[14 + 20 + 3] = 80;
    CHECK_EQ(run(&f), XDP_PASS);
    listen_port(80, false);
}

static void test_hostile_ip(void)
{
    set_cfg(L, 0);
    listen_port(80, true);
    frame f = tcp(R, L, 5000, 80);
    f.b[14] = 0x45 - 1; /* ihl 4 */
    CHECK_EQ(run(&f), XDP_PASS);
    f.b[14] = 0x40; /* ihl 0 */
    CHECK_EQ(run(&f), XDP_PASS);
    f.b[14] = 0x65; /* version 6 */
    CHECK_EQ(run(&f), XDP_PASS);
    /* ihl 15 but the frame ends inside the options: the ports are past the end. */
    f = tcp(R, L, 5000, 80);
    f.b[14] = 0x4f;
    f.len = 14 + 60 + 3;
    CHECK_EQ(run(&f), XDP_PASS);
    f.len = 14 + 60 + 4; /* now the ports (zero here) are inside: still not port 80 */
    CHECK_EQ(run(&f), XDP_PASS);
    /* Truncated in the IP header, in the ports, and a bare Ethernet header. */
    uint32_t cuts[] = {14, 14 + 10, 14 + 19, 14 + 20, 14 + 23};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        f = tcp(R, L, 5000, 80);
        f.len = cuts[i];
        CHECK_EQ(run(&f), XDP_PASS);
    }
    f = tcp(R, L, 5000, 80);
    f.len = 14 + 24; /* exactly the ports: enough */
    CHECK_EQ(run(&f), STEER);
    /* VLAN-tagged frames are not parsed. */
    f = tcp(R, L, 5000, 80);
    put16(f.b + 12, 0x8100);
    CHECK_EQ(run(&f), XDP_PASS);
    listen_port(80, false);
}

static void test_fragments(void)
{
    set_cfg(L, 0);
    listen_port(80, true);
    frame f = tcp(R, L, 5000, 80);
    put16(f.b + 14 + 6, 0x2000); /* MF, offset 0: the first fragment carries the ports */
    CHECK_EQ(run(&f), STEER);
    put16(f.b + 14 + 6, 0x0001); /* offset 8 bytes: no TCP header here */
    CHECK_EQ(run(&f), XDP_PASS);
    put16(f.b + 14 + 6, 0x4000); /* DF only: not a fragment */
    CHECK_EQ(run(&f), STEER);
    listen_port(80, false);
}

static void test_own_address_mode(void)
{
    set_cfg(L, ET_XDP_F_ARP | ET_XDP_F_ALL_TCP);
    /* ARP for our address (request or reply) is ours; for others' it is the kernel's. */
    frame f = arp(1, R, L);
    CHECK_EQ(run(&f), STEER);
    f = arp(2, R, L);
    CHECK_EQ(run(&f), STEER);
    f = arp(1, R, M);
    CHECK_EQ(run(&f), XDP_PASS);
    f = arp(1, R, L);
    f.b[14 + 4] = 8; /* hlen 8 */
    CHECK_EQ(run(&f), XDP_PASS);
    f = arp(1, R, L);
    f.b[14 + 3] = 0xdd; /* ptype 0x08dd */
    CHECK_EQ(run(&f), XDP_PASS);
    f = arp(1, R, L);
    f.len = 14 + 27;
    CHECK_EQ(run(&f), XDP_PASS);
    /* Every TCP port of our address, listening or not (closed ports get our RST). */
    f = tcp(R, L, 1234, 9);
    CHECK_EQ(run(&f), STEER);
    f = tcp(R, M, 1234, 9);
    CHECK_EQ(run(&f), XDP_PASS);
    f = ip_frame(1, R, L, 0x0800, 0, 5);
    CHECK_EQ(run(&f), XDP_PASS);
    /* Without the ARP flag ARP stays with the kernel even for our address. */
    set_cfg(L, ET_XDP_F_ALL_TCP);
    f = arp(1, R, L);
    CHECK_EQ(run(&f), XDP_PASS);
}

static int skip(const char *why)
{
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) {
        fprintf(stderr, "FAIL: %s (CI=true: a missing capability is a failure)\n", why);
        return 1;
    }
    fprintf(stderr, "SKIP: %s\n", why);
    return 77;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(void)
{
    libbpf_set_print(quiet);
    if (geteuid() != 0) return skip("the XDP program test needs root (BPF_PROG_LOAD)");
    struct bpf_object *obj = bpf_object__open_file(EFVITCP_XDP_PROG_OBJ, NULL);
    if (!obj) {
        fprintf(stderr, "cannot open %s\n", EFVITCP_XDP_PROG_OBJ);
        return 1;
    }
    struct bpf_map *m, *rodata = NULL;
    bpf_object__for_each_map(m, obj)
    {
        const char *n = bpf_map__name(m);
        size_t len = strlen(n);
        if (len >= 7 && strcmp(n + len - 7, ".rodata") == 0) rodata = m;
    }
    uint32_t one = 1;
    if (!rodata || bpf_map__set_initial_value(rodata, &one, sizeof(one))) {
        fprintf(stderr, "the object has no et_test_mode in .rodata\n");
        return 1;
    }
    if (bpf_object__load(obj)) {
        int e = errno;
        bpf_object__close(obj);
        if (e == EPERM || e == EACCES) return skip("BPF programs cannot be loaded here");
        fprintf(stderr, "the verifier refused the program (errno %d)\n", e);
        return 1;
    }
    prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, ET_XDP_PROG_NAME));
    fd_listen = bpf_map__fd(bpf_object__find_map_by_name(obj, ET_XDP_MAP_LISTEN));
    fd_conns = bpf_map__fd(bpf_object__find_map_by_name(obj, ET_XDP_MAP_CONNS));
    fd_cfg = bpf_map__fd(bpf_object__find_map_by_name(obj, ET_XDP_MAP_CFG));
    if (prog_fd < 0 || fd_listen < 0 || fd_conns < 0 || fd_cfg < 0) {
        fprintf(stderr, "program or maps missing from the object\n");
        return 1;
    }
    RUN(test_no_address_steers_nothing);
    RUN(test_listening_port);
    RUN(test_listening_bitmap);
    RUN(test_connected_flow);
    RUN(test_ip_options_move_the_ports);
    RUN(test_hostile_ip);
    RUN(test_fragments);
    RUN(test_own_address_mode);
    bpf_object__close(obj);
    return th_summary();
}
