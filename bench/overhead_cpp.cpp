/*
 * The zero-overhead benchmark's C++ side: overhead_c.c line for line, through TcpServer,
 * TcpClient and handler classes (include/efvitcp/TcpServer.h, TcpClient.h) instead of the C API.
 * bench/run_cpp_overhead.sh compares the instructions of bench_loop_rtt in both.
 *
 *   overhead_cpp [--count N]    N round trips (default 1000); prints "round trips: N" when done
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "efvitcp/TcpClient.h"
#include "efvitcp/TcpServer.h"

#define MSG 64

struct Conf { // the C defaults, with the same address and seed as overhead_c.c
    static constexpr const char *LocalAddr = "198.18.0.1/15";
    static const uint64_t Seed = 1;
};
using Server = efvitcp::TcpServer<Conf>;
using Client = efvitcp::TcpClient<Conf>;
using Conn = Server::Conn;

static efvitcp_wire *wire;
static Server srv;
static Client cli;
static Conn *conn;
static uint64_t received;
static int established;

struct ServerHandler {
    uint32_t onData(Conn &c, uint8_t *d, uint32_t n)
    {
        c.send(d, n);
        return 0;
    }
};
struct ClientHandler {
    void onConnectionEstablished(Conn &c) { established = 1; }
    uint32_t onData(Conn &c, uint8_t *d, uint32_t n)
    {
        received += n;
        return 0;
    }
};
static ServerHandler sh;
static ClientHandler ch;

/* Polls both ends; moves the virtual clock to the next event when nothing is due now. */
static void step(void)
{
    srv.poll(sh);
    cli.poll(ch);
    uint64_t t = efvitcp_wire_next_delivery(wire), now = efvitcp_wire_now(wire);
    uint64_t ts = srv.nextTimer(), tc = cli.nextTimer();
    if (ts < t) t = ts;
    if (tc < t) t = tc;
    if (t > now && t != UINT64_MAX) efvitcp_wire_set_now(wire, t);
}

extern "C" __attribute__((noinline)) void bench_loop_rtt(uint64_t n)
{
    static const uint8_t msg[MSG] = {0};
    for (uint64_t i = 0; i < n; i++) {
        uint64_t want = received + MSG;
        conn->send(msg, MSG, false);
        while (received < want) step();
    }
}

int main(int argc, char **argv)
{
    uint64_t n = 1000;
    if (argc == 3 && !strcmp(argv[1], "--count")) n = strtoull(argv[2], NULL, 10);
    const char *err = efvitcp_wire_new(&wire, NULL);
    srv.config().wire = cli.config().wire = wire;
    cli.config().local_addr = "198.18.0.2/15";
    if (!err) err = srv.init("mem:server");
    if (!err) err = cli.init("mem:client");
    if (!err) err = srv.listen(5000);
    if (!err) err = cli.connect("198.18.0.1", 5000, 0, &conn);
    if (err) {
        fprintf(stderr, "overhead_cpp: %s\n", err);
        return 1;
    }
    while (!established) step();
    bench_loop_rtt(n);
    printf("round trips: %llu\n", (unsigned long long)n);
    cli.close();
    srv.close();
    efvitcp_wire_free(wire);
    return 0;
}
