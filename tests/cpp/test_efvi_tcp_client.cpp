/*
 * The pollnet-style wrapper EfviTcpClient against a TcpServer in another process over the shm link
 * (the wrapper's connect() polls only its own instance until the handshake ends, so the server
 * must run elsewhere): refused connect, connect, getPeername, writeNonblock and read with the
 * echo checked, writeNonblock that does not fit (the connection is reset, as in the original),
 * getLastError and isConnected along the way.
 */
#include <csignal>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

#include "efvitcp/EfviTcpClient.h"
#include "efvitcp/TcpServer.h"
extern "C" {
#include "harness.h"
}

#define SRV_IP "198.18.0.1"
#define PORT   6000

struct SrvConf {
    static const uint32_t MaxConnCnt = 4;
    static constexpr const char *LocalAddr = SRV_IP "/15";
};
using Server = efvitcp::TcpServer<SrvConf>;

/* The child: echoes until its connection ends, then exits 0 (reset, as expected) or 1. */
struct Echo {
    bool ended = false, reset = false;
    uint32_t onData(Server::Conn &conn, uint8_t *data, uint32_t size)
    {
        return size - conn.send(data, size);
    }
    void onConnectionReset(Server::Conn &) { ended = reset = true; }
    void onConnectionClosed(Server::Conn &) { ended = true; }
    void onConnectionTimeout(Server::Conn &) { ended = true; }
};

static int server_main(const char *iface, int ready_fd)
{
    alarm(60);
    Server srv;
    if (srv.init(iface) || srv.listen(PORT)) return 1;
    char c = 1;
    if (write(ready_fd, &c, 1) != 1) return 1;
    Echo e;
    while (!e.ended) srv.poll(e);
    return e.reset ? 0 : 1;
}

struct Pkt {
    uint64_t seq;
    char pad[56];
};

static void test_wrapper(void)
{
    char iface[64];
    snprintf(iface, sizeof(iface), "shm:efvitcp-cpp-%d", (int)getpid());
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(server_main(iface, fds[1]));
    }
    close(fds[1]);
    char c;
    REQUIRE(read(fds[0], &c, 1) == 1);
    close(fds[0]);
    alarm(60);

    EfviTcpClient<> client;
    client.client.config().local_addr = "198.18.0.2/15";
    CHECK(!client.isConnected());
    CHECK(!client.connect(iface, SRV_IP, PORT + 1)); /* nobody listens there */
    CHECK(client.getLastError() && strcmp(client.getLastError(), "connection refused") == 0);
    CHECK(!client.isConnected());

    bool ok = client.connect(iface, SRV_IP, PORT);
    if (!ok) fprintf(stderr, "connect: %s\n", client.getLastError());
    REQUIRE(ok);
    CHECK(client.isConnected());
    CHECK(client.getLastError() == nullptr);
    struct sockaddr_in a;
    CHECK(client.getPeername(a));
    CHECK_EQ(ntohs(a.sin_port), PORT);
    CHECK_EQ(ntohl(a.sin_addr.s_addr), 0xc6120001u);

    const uint64_t n = 2000;
    uint64_t sent = 0, got = 0, bad = 0;
    while (got < n && client.isConnected()) {
        if (sent < n && sent - got < 100) {
            Pkt p;
            memset(&p, 0, sizeof(p));
            p.seq = sent;
            if (client.writeNonblock((const uint8_t *)&p, sizeof(p))) sent++;
        }
        client.read([&](const uint8_t *data, uint32_t size) {
            for (; size >= sizeof(Pkt); data += sizeof(Pkt), size -= sizeof(Pkt)) {
                Pkt p;
                memcpy(&p, data, sizeof(p));
                if (p.seq != got++) bad++;
            }
            return size;
        });
    }
    CHECK_EQ(got, n);
    CHECK_EQ(bad, 0);
    CHECK(client.isConnected());

    /* more than the send ring holds: all or nothing, so the connection is reset */
    static uint8_t big[4 << 20];
    CHECK(!client.writeNonblock(big, sizeof(big)));
    CHECK(client.getLastError() && strcmp(client.getLastError(), "send buffer full") == 0);
    CHECK(!client.isConnected());
    CHECK(!client.getPeername(a));

    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* the server saw the reset */
    client.close("done");
    CHECK(strcmp(client.getLastError(), "done") == 0);
}

int main()
{
    RUN(test_wrapper);
    return th_summary();
}
