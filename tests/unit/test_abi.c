/*
 * The ABI rules of include/efvitcp/efvitcp.h: structs that cross the API with their size work
 * when the program's struct is older (smaller) or newer (larger) than the library's, and the
 * fields of version 0.1.0 stay where programs built against it expect them.
 */
#include <stddef.h>

#include "harness.h"

#include "api/instance.h"
#include "efvitcp/efvitcp.h"

#define SERVER_IP "198.18.0.1"
#define CLIENT_IP "198.18.0.2"
#define PORT      7000
#define JUNK      0xa5 /* stands for whatever an old program has after its smaller struct */

/* A config as a program built against an older header has it: the struct ended before seed, so
   seed, log, log_ctx and pcap_path did not exist. The bytes after it are the program's own
   (here junk that the library must neither read nor write). */
#define OLD_CONFIG_SIZE offsetof(efvitcp_config, seed)

typedef struct peer {
    efvitcp_conn *conn;
    uint8_t rx[64];
    uint32_t rx_len;
    bool echo;
} peer;

static void on_est(void *ctx, efvitcp_conn *c)
{
    ((peer *)ctx)->conn = c;
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    peer *p = ctx;
    if (p->rx_len + n <= sizeof(p->rx)) memcpy(p->rx + p->rx_len, d, n);
    p->rx_len += n;
    if (p->echo) efvitcp_send(c, d, n, false);
    return 0;
}

static bool all_junk(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != JUNK) return false;
    return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* Polls both instances on the wire's virtual clock until the client is established and has
   received want bytes. */
static bool run_until(efvitcp_wire *w, efvitcp_server *srv, efvitcp_client *cli, peer *sp, peer *cp,
                      uint32_t want)
{
    efvitcp_handler h = {0};
    h.on_established = on_est;
    h.on_data = on_data;
    for (int i = 0; i < 100000 && !(cp->conn && cp->rx_len >= want); i++) {
        efvitcp_server_poll_at(srv, &h, sp, efvitcp_wire_now(w));
        efvitcp_client_poll_at(cli, &h, cp, efvitcp_wire_now(w));
        uint64_t next = efvitcp_wire_next_delivery(w);
        uint64_t t = efvitcp_server_next_timer(srv);
        if (t < next) next = t;
        t = efvitcp_client_next_timer(cli);
        if (t < next) next = t;
        if (next != UINT64_MAX && next > efvitcp_wire_now(w)) efvitcp_wire_set_now(w, next);
    }
    return cp->conn && cp->rx_len >= want;
}

/* A client whose config comes from the older, smaller struct talks to a current server. */
static void test_old_config(void)
{
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);

    union {
        efvitcp_config cfg;
        uint8_t bytes[sizeof(efvitcp_config) + 32];
    } old;
    memset(&old, JUNK, sizeof(old));
    efvitcp_config_default_sized(&old.cfg, OLD_CONFIG_SIZE);
    CHECK(all_junk(old.bytes + OLD_CONFIG_SIZE, sizeof(old) - OLD_CONFIG_SIZE));
    CHECK_EQ(old.cfg.max_conns, 64); /* the defaults of the fields the old struct has */
    CHECK_EQ(old.cfg.cc, EFVITCP_CC_CUBIC);
    old.cfg.local_addr = CLIENT_IP "/24";
    old.cfg.wire = w;
    old.cfg.max_conns = 4;
    efvitcp_client *cli = NULL;
    /* Junk where seed, log and pcap_path would be: reading it would log through a junk pointer
       or open a junk path. */
    CHECK_NULL_ERR(efvitcp_client_init_sized(&cli, "mem:client", &old.cfg, OLD_CONFIG_SIZE));

    efvitcp_config scfg;
    efvitcp_config_default(&scfg);
    scfg.local_addr = SERVER_IP "/24";
    scfg.wire = w;
    efvitcp_server *srv = NULL;
    CHECK_NULL_ERR(efvitcp_server_init(&srv, "mem:server", &scfg));
    REQUIRE(cli && srv);
    CHECK_NULL_ERR(efvitcp_server_listen(srv, PORT));

    peer sp = {.echo = true}, cp = {0};
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(cli, SERVER_IP, PORT, 0, &c));
    REQUIRE(c);
    REQUIRE(run_until(w, srv, cli, &sp, &cp, 0));
    REQUIRE(cp.conn == c);
    CHECK_EQ(efvitcp_send(c, "abi ok", 6, false), 6);
    REQUIRE(run_until(w, srv, cli, &sp, &cp, 6));
    CHECK(memcmp(cp.rx, "abi ok", 6) == 0);

    /* Stats into an older, smaller struct: the prefix, and not a byte more. */
    efvitcp_stats full;
    efvitcp_client_stats(cli, &full);
    union {
        efvitcp_stats st;
        uint8_t bytes[sizeof(efvitcp_stats) + 32];
    } small;
    size_t small_size = offsetof(efvitcp_stats, drops);
    memset(&small, JUNK, sizeof(small));
    efvitcp_client_stats_sized(cli, &small.st, small_size);
    CHECK(all_junk(small.bytes + small_size, sizeof(small) - small_size));
    CHECK(memcmp(&small.st, &full, small_size) == 0);
    CHECK(full.segs_out > 0);
    /* ...and into a newer, larger one: zero beyond what this library knows. */
    memset(&small, JUNK, sizeof(small));
    efvitcp_server_stats_sized(srv, &small.st, sizeof(small));
    CHECK(all_zero(small.bytes + sizeof(efvitcp_stats), sizeof(small) - sizeof(efvitcp_stats)));
    CHECK(small.st.bytes_in == 6);

    union {
        efvitcp_conn_stats st;
        uint8_t bytes[sizeof(efvitcp_conn_stats) + 16];
    } cs;
    size_t cs_size = offsetof(efvitcp_conn_stats, cwnd);
    memset(&cs, JUNK, sizeof(cs));
    efvitcp_conn_get_stats_sized(c, &cs.st, cs_size);
    CHECK(all_junk(cs.bytes + cs_size, sizeof(cs) - cs_size));
    CHECK_EQ(cs.st.state, EFVITCP_ESTABLISHED);
    CHECK_EQ(cs.st.bytes_out, 6);

    efvitcp_client_close(cli);
    efvitcp_server_close(srv);
    efvitcp_wire_free(w);
}

/* A config from a newer, larger struct: fine while the fields this library does not know are
   zero (what the newer header's efvitcp_config_default leaves there), an error otherwise. */
static void test_new_config(void)
{
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    union {
        efvitcp_config cfg;
        uint8_t bytes[sizeof(efvitcp_config) + 24];
    } big;
    memset(&big, JUNK, sizeof(big));
    efvitcp_config_default_sized(&big.cfg, sizeof(big));
    CHECK(all_zero(big.bytes + sizeof(efvitcp_config), sizeof(big) - sizeof(efvitcp_config)));
    big.cfg.local_addr = CLIENT_IP "/24";
    big.cfg.wire = w;
    efvitcp_client *cli = NULL;
    CHECK_NULL_ERR(efvitcp_client_init_sized(&cli, "mem:a", &big.cfg, sizeof(big)));
    CHECK(cli != NULL);
    efvitcp_client_close(cli);

    big.bytes[sizeof(efvitcp_config) + 5] = 1; /* a knob this library cannot honour */
    cli = NULL;
    const char *err = efvitcp_client_init_sized(&cli, "mem:b", &big.cfg, sizeof(big));
    CHECK(err != NULL);
    CHECK(cli == NULL);
    if (err) CHECK(strstr(err, "does not know") != NULL);
    efvitcp_server *srv = NULL;
    CHECK(efvitcp_server_init_sized(&srv, "mem:c", &big.cfg, sizeof(big)) != NULL);
    CHECK(srv == NULL);
    efvitcp_wire_free(w);
}

/* The wire's config and faults follow the same rules. */
static void test_wire_structs(void)
{
    union {
        efvitcp_wire_config cfg;
        uint8_t bytes[sizeof(efvitcp_wire_config) + 16];
    } wc;
    size_t old_size = offsetof(efvitcp_wire_config, seed);
    memset(&wc, JUNK, sizeof(wc));
    efvitcp_wire_config_default_sized(&wc.cfg, old_size);
    CHECK(all_junk(wc.bytes + old_size, sizeof(wc) - old_size));
    CHECK_EQ(wc.cfg.mtu, 1500);
    efvitcp_wire *w = NULL;
    CHECK_NULL_ERR(efvitcp_wire_new_sized(&w, &wc.cfg, old_size));
    REQUIRE(w);

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = CLIENT_IP "/24";
    cfg.wire = w;
    efvitcp_client *cli = NULL;
    CHECK_NULL_ERR(efvitcp_client_init(&cli, "mem:x", &cfg));
    union {
        efvitcp_wire_faults f;
        uint8_t bytes[sizeof(efvitcp_wire_faults) + 16];
    } f;
    memset(&f, JUNK, sizeof(f));
    memset(&f.f, 0, offsetof(efvitcp_wire_faults, partition));
    f.f.loss = 0.5;
    /* The junk where partition and mtu would be is not read: no "bad mtu" error. */
    CHECK_NULL_ERR(
        efvitcp_wire_set_faults_sized(w, "x", &f.f, offsetof(efvitcp_wire_faults, partition)));
    memset(&f, 0, sizeof(f));
    CHECK_NULL_ERR(efvitcp_wire_set_faults_sized(w, "x", &f.f, sizeof(f)));
    f.bytes[sizeof(efvitcp_wire_faults) + 1] = 1;
    CHECK(efvitcp_wire_set_faults_sized(w, "x", &f.f, sizeof(f)) != NULL);
    efvitcp_client_close(cli);
    efvitcp_wire_free(w);
}

/* Where programs built against 0.1.0 find the fields (x86-64 and other LP64 targets): a change
   here breaks them, so a failure means "append the new field at the end instead". Only growth
   at the end is allowed; new fields never go into the tail padding of an input struct (the
   library would take them for padding it ignores). */
static void test_layout_0_1_0(void)
{
#if defined(__LP64__)
    CHECK_EQ(offsetof(efvitcp_config, max_conns), 0);
    CHECK_EQ(offsetof(efvitcp_config, cc), 64);
    CHECK_EQ(offsetof(efvitcp_config, mss), 84);
    CHECK_EQ(offsetof(efvitcp_config, local_addr), 96);
    CHECK_EQ(offsetof(efvitcp_config, seed), 128);
    CHECK_EQ(offsetof(efvitcp_config, pcap_path), 152);
    CHECK(sizeof(efvitcp_config) >= 160);
    CHECK_EQ(offsetof(efvitcp_handler, on_connection_refused), 0);
    CHECK_EQ(offsetof(efvitcp_handler, on_user_timeout), 72);
    CHECK_EQ(sizeof(efvitcp_handler), 128); /* callbacks take reserved slots: it never grows */
    CHECK_EQ(offsetof(efvitcp_stats, fast_path), 168);
    CHECK_EQ(offsetof(efvitcp_stats, drops), 176);
    CHECK_EQ(offsetof(efvitcp_stats, conns_active), 432);
    CHECK_EQ(offsetof(efvitcp_stats, time_wait_active), 436);
    CHECK(sizeof(efvitcp_stats) >= 440);
    CHECK_EQ(offsetof(efvitcp_conn_stats, segs_in), 8);
    CHECK_EQ(offsetof(efvitcp_conn_stats, srtt_us), 48);
    CHECK_EQ(offsetof(efvitcp_conn_stats, recv_held), 88);
    CHECK_EQ(offsetof(efvitcp_wire_config, seed), 40);
    CHECK_EQ(offsetof(efvitcp_wire_faults, corrupt_fixed), 72);
    CHECK_EQ(offsetof(efvitcp_wire_faults, mtu), 84);
#endif
    CHECK(EFVITCP_DROP_REASONS <= EFVITCP_DROP_REASONS_MAX);
    /* A handler initialised as the header asks has NULL reserved slots. */
    static const efvitcp_handler h = {.on_data = on_data};
    for (size_t i = 0; i < sizeof(h.reserved) / sizeof(h.reserved[0]); i++)
        CHECK(h.reserved[i] == NULL);
}

/* A program built before the live view of efvitcp-stat (its config ends where stat_shm starts)
   gets it with the documented defaults, and the new knobs came after every older field. */
static void test_config_before_stat(void)
{
    size_t size = offsetof(efvitcp_config, stat_shm);
    CHECK_EQ(size, offsetof(efvitcp_config, tx_timestamps) + sizeof(uint32_t));
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    union {
        efvitcp_config cfg;
        uint8_t bytes[sizeof(efvitcp_config) + 32];
    } old;
    memset(&old, JUNK, sizeof(old));
    efvitcp_config_default_sized(&old.cfg, size);
    CHECK(all_junk(old.bytes + size, sizeof(old) - size));
    old.cfg.local_addr = CLIENT_IP "/24";
    old.cfg.wire = w;
    efvitcp_client *cli = NULL;
    CHECK_NULL_ERR(efvitcp_client_init_sized(&cli, "mem:client", &old.cfg, size));
    REQUIRE(cli);
    CHECK(cli->st.cfg.stat_shm);
    CHECK_EQ(cli->st.cfg.stat_interval_ms, 100);
    CHECK_EQ(cli->st.cfg.stat_max_conns, 1024);
    CHECK(cli->st.stat.hdr != NULL);
    efvitcp_client_close(cli);
    efvitcp_wire_free(w);
}

int main(void)
{
    RUN(test_old_config);
    RUN(test_new_config);
    RUN(test_wire_structs);
    RUN(test_layout_0_1_0);
    RUN(test_config_before_stat);
    return th_summary();
}
