/*
 * A server and a client written as the original C++ efvitcp's own test programs were: a Conf with
 * every member, classes that own their TcpServer / TcpClient, are their own handler (poll(*this))
 * and define every callback; the client's sender is driven by a user timer and the server echoes.
 * They exchange 10 MB each way over the mem link in one process, and every byte is checked where
 * it arrives: at the server against the pattern, and back at the client.
 *
 * Where the original's style meets its limits the program does what this library makes right:
 * the echo server keeps what it cannot send yet (onData returns it, back-pressure) and sends it
 * in onMoreSendable, where the original's server closed the connection.
 */
#include <cstring>

#include "efvitcp/TcpClient.h"
#include "efvitcp/TcpServer.h"
#include "cpp_rig.h"

struct Conf {
    static const uint32_t ConnSendBufCnt = 512;
    static const bool SendBuf1K = true;
    static const uint32_t ConnRecvBufSize = 40960;
    static const uint32_t MaxConnCnt = 16;
    static const uint32_t MaxTimeWaitConnCnt = 100;
    static const uint32_t RecvBufCnt = 512;
    static const uint32_t SynRetries = 3;
    static const uint32_t TcpRetries = 10;
    static const uint32_t DelayedAckMS = 10;
    static const uint32_t MinRtoMS = 100;
    static const uint32_t MaxRtoMS = 30 * 1000;
    static const bool WindowScaleOption = true;
    static const bool TimestampOption = true;
    static const int CongestionControlAlgo = 2; // 0: none, 1: new reno, 2: cubic
    static const uint32_t UserTimerCnt = 2;
    struct UserData {
        uint64_t rx_off; // bytes of the stream checked so far on this connection
    };
};
using TcpServer = efvitcp::TcpServer<Conf>;
using TcpClient = efvitcp::TcpClient<Conf>;
using TcpConn = TcpServer::Conn;

static const uint64_t kTotal = 10u << 20;

static uint8_t pat(uint64_t off)
{
    uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (off & 7)));
}

class Server
{
  public:
    const char *start(RigWire &wire, uint16_t server_port)
    {
        rig_attach(server, wire, RIG_SERVER_IP "/15");
        const char *err = server.init("mem:server");
        if (err) return err;
        return server.listen(server_port);
    }

    bool allowNewConnection(uint32_t ip, uint16_t port_be) { return ip == htonl(0xc6120002u); }

    void onConnectionEstablished(TcpConn &conn)
    {
        conn.rx_off = 0;
        conn.setUserTimer(0, 10 * 1000); // idle timeout, as the original's server had
    }

    uint32_t onData(TcpConn &conn, uint8_t *data, uint32_t size)
    {
        // check what is new (the unsent tail of last time comes first again)
        uint64_t base = conn.rx_off - held;
        for (uint32_t i = held; i < size; i++)
            if (data[i] != pat(base + i)) bad++;
        conn.rx_off = base + size;
        uint32_t sent = conn.send(data, size);
        held = size - sent;
        conn.setUserTimer(0, 10 * 1000);
        return held; // back-pressure: keep what did not fit
    }

    void onMoreSendable(TcpConn &conn)
    {
        const uint8_t *p;
        uint32_t n = conn.unread(p);
        if (!n) return;
        uint32_t sent = conn.send(p, n);
        conn.consume(sent);
        held = n - sent;
    }

    void onFin(TcpConn &conn, uint8_t *data, uint32_t size)
    {
        fin_left = size;
        conn.sendFin();
    }
    void onConnectionClosed(TcpConn &conn) { closed++; }
    void onConnectionReset(TcpConn &conn) { errors++; }
    void onConnectionTimeout(TcpConn &conn) { errors++; }
    void onUserTimeout(TcpConn &conn, uint32_t timer_id)
    {
        errors++; // idle for 10 s: must not happen
        conn.close();
    }

    TcpServer server;
    uint32_t held = 0, fin_left = 0;
    uint64_t bad = 0;
    int closed = 0, errors = 0;
};

class Client
{
  public:
    const char *start(RigWire &wire, const char *server_ip, uint16_t server_port)
    {
        rig_attach(client, wire, RIG_CLIENT_IP "/15");
        const char *err = client.init("mem:client");
        if (err) return err;
        return client.connect(server_ip, server_port);
    }

    void onConnectionRefused() { errors++; }
    void onConnectionEstablished(TcpConn &conn)
    {
        conn.rx_off = 0;
        conn.setUserTimer(0, 1);     // the sender's tick
        conn.setUserTimer(1, 60000); // a receive timeout
    }
    uint32_t onData(TcpConn &conn, uint8_t *data, uint32_t size)
    {
        for (uint32_t i = 0; i < size; i++)
            if (data[i] != pat(conn.rx_off + i)) bad++;
        conn.rx_off += size;
        conn.setUserTimer(1, 60000);
        if (conn.rx_off == kTotal && sent == kTotal) conn.sendFin();
        return 0;
    }
    void onMoreSendable(TcpConn &conn) { fill(conn); }
    void onUserTimeout(TcpConn &conn, uint32_t timer_id)
    {
        if (timer_id == 1) {
            errors++; // nothing came back for 60 s
            conn.close();
            return;
        }
        fill(conn);
        if (sent < kTotal) conn.setUserTimer(0, 1);
    }
    void onFin(TcpConn &conn, uint8_t *data, uint32_t size) { fins++; }
    void onConnectionClosed(TcpConn &conn) { closed++; }
    void onConnectionReset(TcpConn &conn) { errors++; }
    void onConnectionTimeout(TcpConn &conn) { errors++; }

    void fill(TcpConn &conn)
    {
        uint8_t buf[4096];
        while (sent < kTotal) {
            uint32_t n = conn.getSendable();
            if (n > sizeof(buf)) n = sizeof(buf);
            if (n > kTotal - sent) n = (uint32_t)(kTotal - sent);
            if (!n) break;
            for (uint32_t i = 0; i < n; i++) buf[i] = pat(sent + i);
            uint32_t k = conn.send(buf, n, n < kTotal - sent);
            sent += k;
            if (k < n) break;
        }
    }

    TcpClient client;
    uint64_t sent = 0, bad = 0;
    int fins = 0, closed = 0, errors = 0;
};

static void test_10mb_echo(void)
{
    RigWire wire;
    REQUIRE(wire.w);
    Server *server = new Server(); // large objects, as the original's test made them
    Client *client = new Client();
    const char *err = server->start(wire, 1234);
    CHECK_NULL_ERR(err);
    err = client->start(wire, RIG_SERVER_IP, 1234);
    CHECK_NULL_ERR(err);
    bool done = rig_run(wire, server->server, *server, client->client, *client, 600000000000ull,
                        [&]() { return client->closed && server->closed; });
    CHECK(done);
    CHECK_EQ(client->sent, kTotal);
    CHECK_EQ(client->client.getConn().rx_off, kTotal);
    CHECK_EQ(client->bad, 0);
    CHECK_EQ(server->bad, 0);
    CHECK_EQ(server->fin_left, 0);
    CHECK_EQ(client->fins, 1);
    CHECK_EQ(client->errors, 0);
    CHECK_EQ(server->errors, 0);
    efvitcp_stats cs = client->client.getStats(), ss = server->server.getStats();
    CHECK_EQ(cs.bytes_out, kTotal);
    CHECK_EQ(cs.bytes_in, kTotal);
    CHECK_EQ(ss.bytes_in, kTotal);
    CHECK_EQ(ss.bytes_out, kTotal);
    delete client;
    delete server;
}

int main()
{
    RUN(test_10mb_echo);
    return th_summary();
}
