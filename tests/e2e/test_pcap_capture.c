/*
 * Capture of an instance's frames (efvitcp_config.pcap_path): every frame received and sent,
 * with the instance clock, and nothing else. Client and server capture one connection; the
 * frames one sends are, byte for byte and in order, the frames the other receives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "sim.h"

typedef struct rec {
    uint64_t ts;
    uint32_t len;
    const uint8_t *data;
} rec;

typedef struct cap {
    uint8_t *buf;
    size_t size;
    rec r[4096];
    uint32_t n;
} cap;

static bool load(const char *p, cap *c)
{
    memset(c, 0, sizeof(*c));
    FILE *f = fopen(p, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    c->size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    c->buf = malloc(c->size);
    bool ok = c->buf && fread(c->buf, 1, c->size, f) == c->size;
    fclose(f);
    if (!ok || c->size < 24) return false;
    uint32_t magic;
    memcpy(&magic, c->buf, 4);
    if (magic != 0xa1b23c4du) return false;
    size_t off = 24;
    while (off + 16 <= c->size && c->n < 4096) {
        uint32_t h[4];
        memcpy(h, c->buf + off, 16);
        if (off + 16 + h[2] > c->size) return false;
        c->r[c->n++] = (rec){(uint64_t)h[0] * 1000000000u + h[1], h[2], c->buf + off + 16};
        off += 16 + h[2];
    }
    return off == c->size;
}

typedef struct side {
    efvitcp_conn *conn;
    int established, closed;
    uint32_t rx;
} side;

static void on_est(void *ctx, efvitcp_conn *c)
{
    side *s = ctx;
    s->established++;
    s->conn = c;
}
static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    ((side *)ctx)->rx += n;
    return 0;
}
static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    efvitcp_send_fin(c);
}
static void on_closed(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->closed++;
}

static bool established(void *arg)
{
    side *s = arg;
    return s[0].established && s[1].established;
}
static bool closed(void *arg)
{
    side *s = arg;
    return s[0].closed && s[1].closed;
}

static void test_capture_both_ends(void)
{
    char cpath[128], spath[128];
    snprintf(cpath, sizeof(cpath), "/tmp/efvitcp-test-cap-%d.client.pcap", (int)getpid());
    snprintf(spath, sizeof(spath), "/tmp/efvitcp-test-cap-%d.server.pcap", (int)getpid());
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 30000;
    efvitcp_config sc, cc;
    sim_default_config(&sc, 1);
    sim_default_config(&cc, 2);
    sc.pcap_path = spath;
    cc.pcap_path = cpath;
    sim s;
    side sd[2];
    memset(sd, 0, sizeof(sd));
    CHECK_NULL_ERR(sim_init(&s, &wc, &sc, &cc, 7000));
    efvitcp_handler h = {
        .on_established = on_est, .on_data = on_data, .on_fin = on_fin, .on_closed = on_closed};
    s.sh = h;
    s.ch = h;
    s.sctx = &sd[0];
    s.cctx = &sd[1];
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, 7000, 0, NULL));
    REQUIRE(sim_run(&s, 1000000000, established, sd));
    static uint8_t data[20000];
    memset(data, 0x5a, sizeof(data));
    CHECK_EQ(efvitcp_send(sd[1].conn, data, sizeof(data), false), sizeof(data));
    CHECK_EQ(efvitcp_send(sd[0].conn, data, 3000, false), 3000);
    CHECK_NULL_ERR(efvitcp_send_fin(sd[1].conn));
    REQUIRE(sim_run(&s, 1000000000, closed, sd));
    CHECK_EQ(sd[0].rx, sizeof(data));
    CHECK_EQ(sd[1].rx, 3000);
    efvitcp_stats cst, sst;
    efvitcp_client_stats(s.cli, &cst);
    efvitcp_server_stats(s.srv, &sst);
    uint64_t end = sim_now(&s);
    sim_free(&s); /* closes the instances: the captures are complete */

    static cap c, v;
    REQUIRE(load(cpath, &c));
    REQUIRE(load(spath, &v));
    CHECK_EQ(c.n, cst.frames_in + cst.frames_out);
    CHECK_EQ(v.n, sst.frames_in + sst.frames_out);
    /* the client's first frame is its ARP request, at time 0 */
    REQUIRE(c.n > 10);
    CHECK_EQ(c.r[0].ts, 0);
    CHECK(c.r[0].len >= 42 && c.r[0].data[12] == 0x08 && c.r[0].data[13] == 0x06);
    /* time never goes back, and stays within the run */
    for (uint32_t i = 1; i < c.n; i++) CHECK(c.r[i].ts >= c.r[i - 1].ts && c.r[i].ts <= end);
    /* Frames the client sent (source MAC 02:..:02) are the server's received ones (source MAC
       not its own 02:..:01), in order and byte for byte; one latency later. */
    uint32_t j = 0, matched = 0;
    for (uint32_t i = 0; i < c.n; i++) {
        if (c.r[i].data[11] != SIM_CLIENT_PORT + 1) continue;
        while (j < v.n && v.r[j].data[11] != SIM_CLIENT_PORT + 1) j++;
        REQUIRE(j < v.n);
        CHECK_EQ(v.r[j].len, c.r[i].len);
        CHECK(memcmp(v.r[j].data, c.r[i].data, c.r[i].len) == 0);
        CHECK_EQ(v.r[j].ts, c.r[i].ts + 30000);
        j++;
        matched++;
    }
    CHECK_EQ(matched, cst.frames_out);
    free(c.buf);
    free(v.buf);
    unlink(cpath);
    unlink(spath);
}

static void test_capture_path_errors(void)
{
    efvitcp_wire *w = NULL;
    CHECK_NULL_ERR(efvitcp_wire_new(&w, NULL));
    efvitcp_config cfg;
    sim_default_config(&cfg, 1);
    cfg.wire = w;
    cfg.local_addr = SIM_SERVER_IP "/15";
    cfg.pcap_path = "/nonexistent-dir-efvitcp/x.pcap";
    efvitcp_server *srv = NULL;
    CHECK(efvitcp_server_init(&srv, "mem:server", &cfg) != NULL);
    CHECK(srv == NULL);
    /* nothing was left attached: the name is free again */
    cfg.pcap_path = NULL;
    CHECK_NULL_ERR(efvitcp_server_init(&srv, "mem:server", &cfg));
    efvitcp_server_close(srv);
    efvitcp_wire_free(w);
}

int main(void)
{
    RUN(test_capture_both_ends);
    RUN(test_capture_path_errors);
    return th_summary();
}
