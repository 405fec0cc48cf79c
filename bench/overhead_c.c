/*
 * The zero-overhead benchmark's C side: a 64-byte echo ping-pong between a server and a client in
 * one process over the mem link (virtual clock), written against the C API. overhead_cpp.cpp is
 * the same program through the C++ layer, line for line; bench/run_cpp_overhead.sh counts the
 * instructions of bench_loop_rtt in both with callgrind and prints the ratio.
 *
 *   overhead_c [--count N]      N round trips (default 1000); prints "round trips: N" when done
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "efvitcp/efvitcp.h"

#define MSG 64

static efvitcp_wire *wire;
static efvitcp_server *srv;
static efvitcp_client *cli;
static efvitcp_conn *conn;
static uint64_t received;
static int established;

static uint32_t srv_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    efvitcp_send(c, d, n, false);
    return 0;
}
static void cli_est(void *ctx, efvitcp_conn *c)
{
    established = 1;
}
static uint32_t cli_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    received += n;
    return 0;
}
static const efvitcp_handler sh = {.on_data = srv_data};
static const efvitcp_handler ch = {.on_established = cli_est, .on_data = cli_data};

/* Polls both ends; moves the virtual clock to the next event when nothing is due now. */
static void step(void)
{
    efvitcp_server_poll(srv, &sh, NULL);
    efvitcp_client_poll(cli, &ch, NULL);
    uint64_t t = efvitcp_wire_next_delivery(wire), now = efvitcp_wire_now(wire);
    uint64_t ts = efvitcp_server_next_timer(srv), tc = efvitcp_client_next_timer(cli);
    if (ts < t) t = ts;
    if (tc < t) t = tc;
    if (t > now && t != UINT64_MAX) efvitcp_wire_set_now(wire, t);
}

__attribute__((noinline)) void bench_loop_rtt(uint64_t n)
{
    static const uint8_t msg[MSG];
    for (uint64_t i = 0; i < n; i++) {
        uint64_t want = received + MSG;
        efvitcp_send(conn, msg, MSG, false);
        while (received < want) step();
    }
}

int main(int argc, char **argv)
{
    uint64_t n = 1000;
    if (argc == 3 && !strcmp(argv[1], "--count")) n = strtoull(argv[2], NULL, 10);
    efvitcp_config scfg, ccfg;
    efvitcp_config_default(&scfg);
    scfg.local_addr = "198.18.0.1/15";
    scfg.seed = 1;
    ccfg = scfg;
    ccfg.local_addr = "198.18.0.2/15";
    const char *err = efvitcp_wire_new(&wire, NULL);
    scfg.wire = ccfg.wire = wire;
    if (!err) err = efvitcp_server_init(&srv, "mem:server", &scfg);
    if (!err) err = efvitcp_client_init(&cli, "mem:client", &ccfg);
    if (!err) err = efvitcp_server_listen(srv, 5000);
    if (!err) err = efvitcp_client_connect(cli, "198.18.0.1", 5000, 0, &conn);
    if (err) {
        fprintf(stderr, "overhead_c: %s\n", err);
        return 1;
    }
    while (!established) step();
    bench_loop_rtt(n);
    printf("round trips: %llu\n", (unsigned long long)n);
    efvitcp_client_close(cli);
    efvitcp_server_close(srv);
    efvitcp_wire_free(wire);
    return 0;
}
