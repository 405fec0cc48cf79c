/*
 * The original C++ efvitcp's README examples, assembled into a client and a server program (in one
 * process, over the mem link): the README's Conf, `using TcpClient = efvitcp::TcpClient<Conf>`,
 * init, connect, the MyClient handler with its err / pc members and the wait loop, onData parsing
 * fixed-size packets and returning the remainder, onMoreSendable, onFin, onConnectionClosed,
 * onConnectionReset, user timers, and a server with allowNewConnection. What differs from the
 * README is only the interface string ("mem:NAME" instead of "p1p1") and the two config lines that
 * put each instance on the wire; the examples in this repository's README.md and docs/cpp.md are
 * the same code.
 */
#include <cstring>
#include <iostream>

#include "efvitcp/TcpClient.h"
#include "efvitcp/TcpServer.h"
#include "cpp_rig.h"

using namespace std;

struct Conf {
    static const uint32_t ConnSendBufCnt = 512;
    static const bool SendBuf1K = true;
    static const uint32_t ConnRecvBufSize = 40960;
    static const uint32_t MaxConnCnt = 200;
    static const uint32_t MaxTimeWaitConnCnt = 100;
    static const uint32_t RecvBufCnt = 512;
    static const uint32_t SynRetries = 3;
    static const uint32_t TcpRetries = 10;
    static const uint32_t DelayedAckMS = 10;
    static const uint32_t MinRtoMS = 100;
    static const uint32_t MaxRtoMS = 30 * 1000;
    static const bool WindowScaleOption = false;
    static const bool TimestampOption = false;
    static const int CongestionControlAlgo = 0; // 0: no cwnd, 1: new reno, 2: cubic
    static const uint32_t UserTimerCnt = 1;
    struct UserData {
        int XXX;
    };
};
using TcpClient = efvitcp::TcpClient<Conf>;
using TcpServer = efvitcp::TcpServer<Conf>;
using TcpConn = TcpClient::Conn;

struct Packet {
    int64_t ts;
    int64_t val;
};

static const int kPackets = 100;

struct MyClient {
    void onConnectionRefused() { err = "onConnectionRefused"; }
    void onConnectionTimeout(TcpConn &conn) { err = "onConnectionTimeout"; }
    void onConnectionEstablished(TcpConn &conn)
    {
        pc = &conn;
        conn.XXX = 42; // UserData as a base, as in the pollnet README
        conn.setUserTimer(0, 1);
    }
    void onMoreSendable(TcpConn &conn) { sendable = conn.getSendable(); }
    uint32_t onData(TcpConn &conn, uint8_t *data, uint32_t size)
    {
        while (size >= sizeof(Packet)) {
            Packet p;
            memcpy(&p, data, sizeof(p));
            if (p.val != received) bad++;
            received++;
            data += sizeof(Packet);
            size -= sizeof(Packet);
        }
        return size;
    }
    void onFin(TcpConn &conn, uint8_t *data, uint32_t size) { fin_left = size; }
    void onConnectionClosed(TcpConn &conn) { closed = true; }
    void onConnectionReset(TcpConn &conn) { err = "onConnectionReset"; }
    void onUserTimeout(TcpConn &conn, uint32_t timer_id)
    {
        // one packet per timer tick, written in two halves to exercise the remainder
        Packet p = {(int64_t)timer_id, sent++};
        conn.send(&p, 5, true);
        conn.send((const char *)&p + 5, sizeof(p) - 5);
        if (sent < kPackets)
            conn.setUserTimer(0, 1);
        else
            conn.sendFin();
    }

    const char *err = nullptr;
    TcpConn *pc = nullptr;
    int sent = 0, received = 0, bad = 0;
    uint32_t sendable = 0, fin_left = 99;
    bool closed = false;
};

struct MyServer {
    bool allowNewConnection(uint32_t ip, uint16_t port_be)
    {
        peer_ip = ip;
        peer_port_be = port_be;
        return true;
    }
    void onConnectionEstablished(TcpConn &conn) { established++; }
    uint32_t onData(TcpConn &conn, uint8_t *data, uint32_t size)
    {
        // echo whole packets only: the tail comes again with the next data
        uint32_t whole = size - size % sizeof(Packet);
        conn.send(data, whole);
        return size - whole;
    }
    void onFin(TcpConn &conn, uint8_t *data, uint32_t size) { conn.sendFin(); }
    void onConnectionClosed(TcpConn &conn) { closed = true; }
    void onConnectionReset(TcpConn &conn) {}
    void onConnectionTimeout(TcpConn &conn) {}
    void onMoreSendable(TcpConn &conn) {}
    void onUserTimeout(TcpConn &conn, uint32_t timer_id) {}

    uint32_t peer_ip = 0;
    uint16_t peer_port_be = 0;
    int established = 0;
    bool closed = false;
};

static void test_readme(void)
{
    RigWire wire;
    REQUIRE(wire.w);
    TcpServer server;
    TcpClient client;
    rig_attach(server, wire, RIG_SERVER_IP "/15");
    rig_attach(client, wire, RIG_CLIENT_IP "/15");

    const char *err = server.init("mem:server");
    if (err) {
        cout << "init failed: " << err << endl;
    }
    REQUIRE(!err);
    REQUIRE(!server.listen(1234));

    err = client.init("mem:client");
    if (err) {
        cout << "init failed: " << err << endl;
    }
    REQUIRE(!err);
    if ((err = client.connect(RIG_SERVER_IP, 1234))) {
        cout << "connect failed: " << err << endl;
    }
    REQUIRE(!err);

    MyClient my_client;
    MyServer my_server;
    // The README's wait loop, with the server polled too since both live in this process.
    while (!my_client.err && !my_client.pc) {
        server.poll(my_server);
        client.poll(my_client);
        uint64_t t = efvitcp_wire_next_delivery(wire.w);
        if (t != UINT64_MAX && t > wire.now()) efvitcp_wire_set_now(wire.w, t);
    }
    REQUIRE(!my_client.err);
    CHECK_EQ(my_client.pc->XXX, 42);
    CHECK_EQ(my_client.pc->user_data.XXX, 42);
    CHECK(my_client.pc->isEstablished());

    bool done = rig_run(wire, server, my_server, client, my_client, 30000000000ull,
                        [&]() { return my_client.closed && my_server.closed; });
    CHECK(done);
    CHECK_EQ(my_client.sent, kPackets);
    CHECK_EQ(my_client.received, kPackets);
    CHECK_EQ(my_client.bad, 0);
    CHECK_EQ(my_client.fin_left, 0);
    CHECK_EQ(my_server.established, 1);
    CHECK_EQ(my_server.peer_ip, htonl(0xc6120002u)); // 198.18.0.2, network order
    CHECK(my_server.peer_port_be != 0);
    CHECK(my_client.pc->isClosed());
}

int main()
{
    RUN(test_readme);
    return th_summary();
}
