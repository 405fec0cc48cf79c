/*
 * The C++ layer, method by method and callback by callback, over the mem link: every member of
 * TcpClient, TcpServer and TcpConn, each callback in each of its accepted forms, a handler with
 * only onData, the Conf mapping, and the cases where the original was silent or wrong (sendFin on
 * a full send ring, many connections per client, several ports per server, a reader that leaves
 * bytes unconsumed).
 */
#include <poll.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "efvitcp/Core.h"
#include "efvitcp/TcpClient.h"
#include "efvitcp/TcpServer.h"
#include "cpp_rig.h"

/* Small instances; user data as a scalar member. */
struct Conf {
    static const uint32_t ConnSendBufCnt = 16;
    static const bool SendBuf1K = false;
    static const uint32_t ConnRecvBufSize = 8192;
    static const uint32_t MaxConnCnt = 8;
    static const uint32_t MaxTimeWaitConnCnt = 8;
    static const uint32_t RecvBufCnt = 64;
    static const uint32_t SynRetries = 2;
    static const uint32_t TcpRetries = 3;
    static const uint32_t DelayedAckMS = 1;
    static const uint32_t MinRtoMS = 10;
    static const uint32_t MaxRtoMS = 2000;
    static const bool WindowScaleOption = true;
    static const bool TimestampOption = true;
    static const int CongestionControlAlgo = 1;
    static const uint32_t UserTimerCnt = 2;
    static const uint32_t TxTimestamps = 16; /* an extra member: transmit timestamp reports */
    static const bool SackOption = true;     /* extra members: loss recovery (issue 13) */
    static const bool RackTlp = true;
    static const uint32_t InitialWindow = 10;
    using UserData = int;
};
using Client = efvitcp::TcpClient<Conf>;
using Server = efvitcp::TcpServer<Conf>;
using Conn = Client::Conn;
static_assert(std::is_same<Client::Conn, Server::Conn>::value, "one connection type per Conf");
static_assert(std::is_same<decltype(std::declval<Conn &>().user_data), int>::value,
              "a scalar UserData is a member");

/* Records every event; behaviour switches for the tests. */
struct Rec {
    int refused = 0, established = 0, fins = 0, closed = 0, resets = 0, timeouts = 0, more = 0;
    int allowed = 0;
    bool allow = true, echo = false, keep_all = false, fin_back = false;
    uint32_t fin_len = 0;
    std::vector<uint32_t> timer_ids;
    std::vector<uint16_t> local_ports;
    std::string rx;
    Conn *last = nullptr;
    uint32_t allow_ip = 0;
    uint16_t allow_port = 0;

    void onConnectionRefused(Conn &c) { refused++; }
    bool allowNewConnection(uint32_t ip, uint16_t port_be, uint16_t local_port)
    {
        allowed++;
        allow_ip = ip;
        allow_port = port_be;
        local_ports.push_back(local_port);
        return allow;
    }
    void onConnectionEstablished(Conn &c)
    {
        established++;
        last = &c;
    }
    uint32_t onData(Conn &c, uint8_t *data, uint32_t size)
    {
        if (keep_all) return size;
        rx.append(reinterpret_cast<const char *>(data), size);
        if (echo) c.send(data, size);
        return 0;
    }
    void onFin(Conn &c, uint8_t *data, uint32_t size)
    {
        fins++;
        fin_len = size;
        if (fin_back) c.sendFin();
    }
    void onConnectionClosed(Conn &c) { closed++; }
    void onConnectionReset(Conn &c) { resets++; }
    void onConnectionTimeout(Conn &c) { timeouts++; }
    void onMoreSendable(Conn &c) { more++; }
    void onUserTimeout(Conn &c, uint32_t id) { timer_ids.push_back(id); }
};

struct Pair {
    RigWire wire;
    Server srv;
    Client cli;
    Rec s, c;
    bool ok = false;
    Pair(uint16_t port = 5000)
    {
        if (!wire.w) return;
        rig_attach(srv, wire, RIG_SERVER_IP "/15");
        rig_attach(cli, wire, RIG_CLIENT_IP "/15");
        ok = !srv.init("mem:server") && !cli.init("mem:client") && (!port || !srv.listen(port));
    }
    template <class Done> bool run(Done done, uint64_t ns = 5000000000ull)
    {
        return rig_run(wire, srv, s, cli, c, ns, done);
    }
    /* Connects and waits for both ends; returns the client's connection. */
    Conn *open(uint16_t port = 5000)
    {
        Conn *cc = nullptr;
        int se = s.established, ce = c.established;
        if (cli.connect(RIG_SERVER_IP, port, 0, &cc)) return nullptr;
        if (!run([&]() { return s.established > se && c.established > ce; })) return nullptr;
        return cc;
    }
};

/* Confs for the mapping test (a local class may not have static data members). */
struct Odd {
    static const uint32_t SynRetries = 100;
    static const uint32_t TcpRetries = 0;
    static const uint32_t DelayedAckMS = 10000;
    static const uint32_t MinRtoMS = 0;
    static const uint32_t MaxRtoMS = 300;
    static const uint32_t RecvBufCnt = 4;
    static constexpr const char *LocalAddr = "198.18.0.5/15";
    static constexpr const char *Gateway = "198.18.0.254";
    static const uint32_t KeepaliveMS = 500;
    static const uint16_t MSS = 1000;
    static const uint64_t Seed = 99;
    static const uint32_t CtrlBufCnt = 32;
    static const uint32_t OooRangeCnt = 3;
    static const bool Prefault = false;
    static const bool FastPath = false;
    static const uint32_t TimeWaitMS = 1234;
    static void log(int, const char *) {}
};
struct Us {
    static const uint32_t MinRtoMS = 1;
    static const uint32_t MinRtoUS = 250;
    static const uint32_t InitialRtoUS = 5000;
};

static void test_conf_mapping(void)
{
    efvitcp_config cfg;
    efvitcp::detail::ConfReader<Conf>::fill(cfg);
    CHECK_EQ(cfg.send_slots, 16);
    CHECK_EQ(cfg.send_buf_1k, false);
    CHECK_EQ(cfg.recv_buf_size, 8192);
    CHECK_EQ(cfg.max_conns, 8);
    CHECK_EQ(cfg.max_time_wait, 8);
    CHECK_EQ(cfg.rx_bufs, 64);
    CHECK_EQ(cfg.syn_retries, 2);
    CHECK_EQ(cfg.data_retries, 3);
    CHECK_EQ(cfg.delayed_ack_us, 1000);
    CHECK_EQ(cfg.min_rto_us, 10000);
    CHECK_EQ(cfg.max_rto_us, 2000000);
    CHECK_EQ(cfg.initial_rto_us, 1000000); /* the default 1 s lies within [10 ms, 2 s] */
    CHECK_EQ(cfg.window_scale, true);
    CHECK_EQ(cfg.timestamps, true);
    CHECK_EQ(cfg.cc, EFVITCP_CC_NEWRENO);
    CHECK_EQ(cfg.user_timers, 2);
    CHECK_EQ(cfg.user_data_size, 0); /* user data lives in the C++ connection */

    /* An empty Conf keeps every default. */
    struct Empty {
    };
    efvitcp_config def, got;
    efvitcp_config_default(&def);
    efvitcp::detail::ConfReader<Empty>::fill(got);
    CHECK(memcmp(&def, &got, sizeof(def)) == 0);

    /* Out-of-range values of the original are clamped where its meaning is clear; the initial RTO
       follows the bounds; extra members are picked up. */
    efvitcp::detail::ConfReader<Odd>::fill(cfg);
    CHECK_EQ(cfg.syn_retries, 30);
    CHECK_EQ(cfg.data_retries, 1);
    CHECK_EQ(cfg.delayed_ack_us, 500000);
    CHECK_EQ(cfg.min_rto_us, 100);
    CHECK_EQ(cfg.max_rto_us, 300000);
    CHECK_EQ(cfg.initial_rto_us, 300000);
    CHECK_EQ(cfg.rx_bufs, 16);
    CHECK(strcmp(cfg.local_addr, "198.18.0.5/15") == 0);
    CHECK(strcmp(cfg.gateway, "198.18.0.254") == 0);
    CHECK_EQ(cfg.keepalive_ms, 500);
    CHECK_EQ(cfg.mss, 1000);
    CHECK_EQ(cfg.seed, 99);
    CHECK_EQ(cfg.ctrl_bufs, 32);
    CHECK_EQ(cfg.ooo_ranges, 3);
    CHECK_EQ(cfg.prefault, false);
    CHECK_EQ(cfg.fast_path, false);
    CHECK_EQ(cfg.time_wait_ms, 1234);
    CHECK(cfg.log != nullptr);

    efvitcp::detail::ConfReader<Us>::fill(cfg);
    CHECK_EQ(cfg.min_rto_us, 250);
    CHECK_EQ(cfg.initial_rto_us, 5000);
}

/* The handler table holds exactly the callbacks a handler defines. */
struct OnlyData {
    uint64_t bytes = 0;
    uint32_t onData(Conn &, const uint8_t *, uint32_t n)
    {
        bytes += n;
        return 0;
    }
};
struct Nothing {
};
struct RefusedNoArgs {
    int n = 0;
    void onConnectionRefused() { n++; }
};
struct VoidData {
    uint64_t bytes = 0;
    void onData(Conn &, uint8_t *, uint32_t n) { bytes += n; }
};
using Inst = efvitcp::detail::Instance<Conf, efvitcp::detail::ClientApi>;
template <class H> static const efvitcp_handler &table()
{
    return efvitcp::detail::HandlerTable<Inst, H>::value;
}

static void test_handler_detection(void)
{
    const efvitcp_handler &r = table<Rec>();
    CHECK(r.on_connection_refused && r.allow_new_connection && r.on_established && r.on_data &&
          r.on_fin && r.on_closed && r.on_reset && r.on_timeout && r.on_more_sendable &&
          r.on_user_timeout);
    const efvitcp_handler &d = table<OnlyData>();
    CHECK(d.on_data);
    CHECK(!d.on_connection_refused && !d.allow_new_connection && !d.on_established && !d.on_fin &&
          !d.on_closed && !d.on_reset && !d.on_timeout && !d.on_more_sendable &&
          !d.on_user_timeout);
    const efvitcp_handler &n = table<Nothing>();
    efvitcp_handler zero;
    memset(&zero, 0, sizeof(zero));
    CHECK(memcmp(&n, &zero, sizeof(zero)) == 0);
    CHECK(table<RefusedNoArgs>().on_connection_refused);
    CHECK(table<VoidData>().on_data);
}

static void test_init_errors(void)
{
    Client cli;
    CHECK(cli.handle() == nullptr);
    CHECK(cli.connect(RIG_SERVER_IP, 1) != nullptr); /* not initialised */
    CHECK(cli.init("nosuchlink:x") != nullptr);
    CHECK(cli.init("mem:x") != nullptr); /* no wire */
    RigWire wire;
    rig_attach(cli, wire, RIG_CLIENT_IP "/15");
    CHECK(cli.init("mem:client") == nullptr);
    CHECK(cli.handle() != nullptr);
    CHECK(cli.init("mem:client") != nullptr); /* already initialised */
    CHECK(cli.connect("not an ip", 1) != nullptr);
    CHECK(cli.getConn().isClosed()); /* before any connect */
    cli.close();
    CHECK(cli.handle() == nullptr);
    CHECK(cli.init("mem:client2") == nullptr); /* again after close */
    Server srv;
    CHECK(srv.listen(1) != nullptr); /* not initialised */
}

static void test_connect_established_data_close(void)
{
    Pair p;
    REQUIRE(p.ok);
    Conn *cc = nullptr;
    CHECK(p.cli.connect(RIG_SERVER_IP, 5000, 4321, &cc) == nullptr);
    REQUIRE(cc);
    CHECK(&p.cli.getConn() == cc);
    CHECK(!cc->isClosed());
    CHECK(!cc->isEstablished());
    CHECK(p.cli.nextTimer() != UINT64_MAX); /* the SYN's retransmission timer */
    CHECK_EQ(p.cli.getConnCnt(), 1);
    REQUIRE(p.run([&]() { return p.s.established && p.c.established; }));
    CHECK(p.c.last == cc);
    CHECK(cc->isEstablished());
    CHECK_EQ(p.srv.getConnCnt(), 1);
    Conn &sc = *p.s.last;

    /* identity */
    CHECK_EQ(cc->getLocalPort(), 4321);
    CHECK_EQ(sc.getLocalPort(), 5000);
    struct sockaddr_in a;
    cc->getPeername(a);
    CHECK_EQ(a.sin_family, AF_INET);
    CHECK_EQ(ntohl(a.sin_addr.s_addr), 0xc6120001u);
    CHECK_EQ(ntohs(a.sin_port), 5000);
    sc.getPeername(a);
    CHECK_EQ(ntohs(a.sin_port), 4321);
    CHECK_EQ(p.s.allow_port, htons(4321));
    CHECK_EQ(p.s.allow_ip, htonl(0xc6120002u));
    CHECK(cc->getConnId() < 8);
    CHECK(cc->handle() != nullptr);
    CHECK_EQ(cc->getRxHwTimestamp(), 0); /* the mem link has no NIC clock */

    /* user_data survives in the slot */
    cc->user_data = 17;
    CHECK_EQ(p.cli.getConn().user_data, 17);

    /* sending: send, send with more, sendv; the server echoes */
    p.s.echo = true;
    CHECK(cc->getSendable() > 0);
    CHECK(cc->getImmediatelySendable() > 0);
    CHECK(cc->getImmediatelySendable() <= cc->getSendable());
    CHECK_EQ(cc->send("abc", 3, true), 3);
    CHECK_EQ(cc->getStats().queued, 3); /* held for more */
    CHECK_EQ(cc->send("def", 3), 3);
    char x[] = "ghi", y[] = "jklm";
    struct iovec iov[2] = {{x, 3}, {y, 4}};
    CHECK_EQ(cc->sendv(iov, 2), 7);
    REQUIRE(p.run([&]() { return p.c.rx.size() == 13; }));
    CHECK(p.c.rx == "abcdefghijklm");
    CHECK(p.s.rx == "abcdefghijklm");
    efvitcp_conn_stats st = cc->getStats();
    CHECK_EQ(st.state, EFVITCP_ESTABLISHED);
    CHECK(st.sack && st.rack); /* negotiated from the Conf members */
    CHECK_EQ(st.bytes_out, 13);
    CHECK_EQ(st.bytes_in, 13);
    efvitcp_stats is = p.cli.getStats();
    CHECK_EQ(is.conns_opened, 1);
    CHECK_EQ(is.bytes_out, 13);
    CHECK_EQ(p.srv.getStats().conns_accepted, 1);

    /* transmit timestamps (software on mem): the SYN, then the sends that made segments */
    CHECK_EQ(cc->getTxOffset(), 13);
    efvitcp_tx_report rep[16];
    int nrep = cc->getTxTimestamps(rep, 16);
    REQUIRE(nrep >= 2);
    CHECK(rep[0].flags & EFVITCP_TX_TS_SYN);
    CHECK(rep[1].flags & EFVITCP_TX_TS_SOFTWARE);
    CHECK_EQ(rep[1].start, 0);
    CHECK_EQ(rep[nrep - 1].start + rep[nrep - 1].bytes, 13);

    /* foreachConn sees established connections */
    int seen = 0;
    p.srv.foreachConn([&](Conn &c) {
        seen++;
        CHECK(&c == &sc);
    });
    p.cli.foreachConn([&](Conn &c) { seen += 10; });
    CHECK_EQ(seen, 11);

    /* graceful close: sendFin from the client, the server answers in onFin */
    p.s.fin_back = true;
    CHECK(cc->sendFin() == nullptr);
    CHECK_EQ(cc->getSendable(), 0);
    CHECK_EQ(cc->send("z", 1), 0);
    REQUIRE(p.run([&]() { return p.c.closed && p.s.closed; }));
    CHECK_EQ(p.s.fins, 1);
    CHECK_EQ(p.c.fins, 1);
    CHECK_EQ(p.s.fin_len, 0);
    CHECK(cc->isClosed());
    CHECK(!cc->isEstablished());
    CHECK(sc.isClosed());
    CHECK(cc->sendFin() != nullptr); /* nothing to close any more */
    CHECK_EQ(p.c.resets + p.s.resets + p.c.timeouts + p.s.timeouts, 0);
    CHECK(p.c.more > 0); /* ACKs freed send slots */
}

static void test_reset_and_close(void)
{
    Pair p;
    REQUIRE(p.ok);
    Conn *cc = p.open();
    REQUIRE(cc);
    p.s.last->close(); /* RST to the client, no callback here */
    CHECK(p.s.last->isClosed());
    REQUIRE(p.run([&]() { return p.c.resets == 1; }));
    CHECK(cc->isClosed());
    CHECK_EQ(p.s.resets, 0);
    CHECK_EQ(p.s.closed, 0);
    cc->close(); /* on a closed connection: nothing */
}

/* A server that closes itself from onData: no callback follows (the FIN in the same burst gets
   none), the wrapper's connections are not touched after it released them, and polls of the
   closed server do nothing. */
struct SelfCloser : Rec {
    Server *srv = nullptr;
    uint32_t onData(Conn &c, uint8_t *data, uint32_t size)
    {
        rx.append(reinterpret_cast<const char *>(data), size);
        srv->close();
        return 0;
    }
};

static void test_close_instance_in_callback(void)
{
    Pair p;
    REQUIRE(p.ok);
    Conn *cc = p.open();
    REQUIRE(cc);
    SelfCloser sc;
    sc.srv = &p.srv;
    CHECK_EQ(cc->send("hello", 5), 5u);
    cc->sendFin();
    REQUIRE(
        rig_run(p.wire, p.srv, sc, p.cli, p.c, 5000000000ull, [&]() { return p.c.resets == 1; }));
    CHECK(sc.rx == "hello");
    CHECK_EQ(sc.fins, 0);
    CHECK(p.srv.handle() == nullptr);
    CHECK_EQ(p.srv.nextTimer(), UINT64_MAX);
}

/* foreachConn's function is a callback of the instance: a poll from it does nothing, prime says
   -1, and a close from it takes effect when foreachConn returns, a poll after the close included
   (the C poll ran in full there, and crashed at its end when the live view was due). */
static void test_poll_and_close_in_foreach(void)
{
    Pair p;
    REQUIRE(p.ok);
    Conn *cc = p.open();
    REQUIRE(cc && p.s.last);
    CHECK_EQ(p.s.last->send("hi", 2), 2);
    /* Past the frame's delivery and the live view's next publish, with no poll of the client. */
    efvitcp_wire_set_now(p.wire.w, p.wire.now() + 1000000000ull);
    int visits = 0;
    p.cli.foreachConn([&](Conn &) {
        visits++;
        p.cli.poll(p.c);
        CHECK(p.c.rx.empty());
        CHECK_EQ(p.cli.prime(), -1);
        p.cli.close();
        p.cli.poll(p.c);
    });
    CHECK_EQ(visits, 1);
    CHECK(p.cli.handle() == nullptr);
    CHECK(p.c.rx.empty());
    CHECK_EQ(p.c.closed + p.c.resets + p.c.timeouts, 0);
    REQUIRE(p.run([&]() { return p.s.resets == 1; })); /* the close's RST */
}

static void test_refused(void)
{
    Pair p;
    REQUIRE(p.ok);
    CHECK(p.cli.connect(RIG_SERVER_IP, 5999) == nullptr); /* nobody listens */
    REQUIRE(p.run([&]() { return p.c.refused == 1; }));
    /* allowNewConnection saying no refuses too */
    p.s.allow = false;
    CHECK(p.cli.connect(RIG_SERVER_IP, 5000) == nullptr);
    REQUIRE(p.run([&]() { return p.c.refused == 2; }));
    CHECK_EQ(p.s.allowed, 1);
    CHECK_EQ(p.s.established, 0);

    /* the original's form without the connection */
    RigWire wire;
    Server srv;
    efvitcp::TcpClient<Conf> cli;
    rig_attach(srv, wire, RIG_SERVER_IP "/15");
    rig_attach(cli, wire, RIG_CLIENT_IP "/15");
    REQUIRE(!srv.init("mem:server") && !cli.init("mem:client"));
    CHECK(cli.connect(RIG_SERVER_IP, 5999) == nullptr);
    Nothing sh;
    RefusedNoArgs ch;
    CHECK(rig_run(wire, srv, sh, cli, ch, 5000000000ull, [&]() { return ch.n == 1; }));
}

static void test_timeout(void)
{
    Pair p;
    REQUIRE(p.ok);
    CHECK(p.cli.connect("198.18.0.99", 5000) == nullptr); /* no such host: ARP goes unanswered */
    REQUIRE(p.run([&]() { return p.c.timeouts == 1; }, 120000000000ull));
    CHECK_EQ(p.cli.getConnCnt(), 0);
}

static void test_user_timers(void)
{
    Pair p;
    REQUIRE(p.ok);
    Conn *cc = p.open();
    REQUIRE(cc);
    uint64_t t0 = p.wire.now();
    CHECK(cc->setUserTimer(1, 5) == nullptr);
    CHECK(cc->setUserTimerNs(0, 300000) == nullptr); /* 0.3 ms */
    CHECK(cc->setUserTimer(2, 1) != nullptr);        /* UserTimerCnt is 2 */
    uint64_t t_first = 0;
    REQUIRE(p.run([&]() {
        if (p.c.timer_ids.size() == 1 && !t_first) t_first = p.wire.now();
        return p.c.timer_ids.size() == 2;
    }));
    CHECK_EQ(p.c.timer_ids[0], 0);
    CHECK_EQ(p.c.timer_ids[1], 1);
    CHECK(t_first - t0 >= 300000 && t_first - t0 < 1000000);
    CHECK(p.wire.now() - t0 >= 5000000);
    /* cancel, and 0 cancels */
    CHECK(cc->setUserTimer(0, 1) == nullptr);
    cc->cancelUserTimer(0);
    CHECK(cc->setUserTimer(1, 1) == nullptr);
    CHECK(cc->setUserTimer(1, 0) == nullptr);
    p.run([]() { return false; }, 20000000);
    CHECK_EQ(p.c.timer_ids.size(), 2);
}

/* poll(handler, ns) and pollAt(handler, ns) take the time from the caller. */
static void test_poll_at(void)
{
    Pair p;
    REQUIRE(p.ok);
    CHECK(p.cli.connect(RIG_SERVER_IP, 5000) == nullptr);
    for (int i = 0; i < 200 && !(p.s.established && p.c.established); i++) {
        uint64_t t = efvitcp_wire_next_delivery(p.wire.w);
        if (t != UINT64_MAX && t > p.wire.now()) efvitcp_wire_set_now(p.wire.w, t);
        p.srv.pollAt(p.s, p.wire.now());
        p.cli.poll(p.c, (int64_t)p.wire.now());
    }
    CHECK(p.s.established && p.c.established);
}

static void test_dump(void)
{
    static std::string logged;
    struct Log {
        static void fn(void *, int level, const char *msg)
        {
            logged += msg;
            logged += "\n";
        }
    };
    Pair p;
    REQUIRE(p.ok);
    Conn *cc = p.open();
    REQUIRE(cc);
    char buf[512];
    int n = cc->dump(buf, sizeof(buf), "here");
    CHECK(n > 0);
    CHECK(strncmp(buf, "here: conn_id: ", 15) == 0);
    CHECK(strstr(buf, "state: ESTABLISHED") != nullptr);
    CHECK(strstr(buf, "peer: 198.18.0.1:5000") != nullptr);
    cc->dump("nohook"); /* no log hook: dropped, no output */
    CHECK(logged.empty());
    p.cli.config().log = &Log::fn; /* the hook may be set after init too */
    cc->dump("onEstab");
    cc->shortDump("short");
    cc->shortDump();
    CHECK(logged.find("onEstab: conn_id:") == 0);
    CHECK(logged.find("short, src port: ") != std::string::npos);
    CHECK(logged.find("dst port: 5000") != std::string::npos);
}

/* A reader that leaves bytes unconsumed: the window closes and the sender waits (the original
   reset the connection); unread/consume catch up outside the callbacks. */
static void test_backpressure_unread_consume(void)
{
    Pair p;
    REQUIRE(p.ok);
    Conn *cc = p.open();
    REQUIRE(cc);
    Conn &sc = *p.s.last;
    p.s.keep_all = true;
    std::string sent;
    for (uint32_t i = 0; i < 40000; i++) sent += char('a' + i % 26);
    uint32_t off = 0;
    std::string got;
    /* the client keeps sending what it can; the server consumes nothing for a while */
    p.run(
        [&]() {
            off += cc->send(sent.data() + off, (uint32_t)sent.size() - off);
            return false;
        },
        2000000000ull);
    CHECK(off < sent.size());             /* blocked by the closed window */
    CHECK_EQ(p.c.resets + p.s.resets, 0); /* and not reset */
    const uint8_t *d;
    uint32_t held = sc.unread(d);
    CHECK(held > 0 && held <= 8192);
    /* now catch up with unread/consume, a part at a time */
    REQUIRE(p.run(
        [&]() {
            off += cc->send(sent.data() + off, (uint32_t)sent.size() - off);
            const uint8_t *q;
            uint32_t n = sc.unread(q);
            if (n > 1000) n = 1000;
            got.append(reinterpret_cast<const char *>(q), n);
            sc.consume(n);
            return got.size() == sent.size();
        },
        30000000000ull));
    CHECK(got == sent);
    CHECK_EQ(p.c.resets + p.s.resets, 0);
}

/* sendFin on a full send ring: the FIN waits for room (the original sent a RST). */
static void test_send_fin_full_ring(void)
{
    Pair p;
    REQUIRE(p.ok);
    Conn *cc = p.open();
    REQUIRE(cc);
    std::string big(200000, 'q');
    uint32_t n = cc->send(big.data(), (uint32_t)big.size());
    CHECK(n < big.size());
    CHECK_EQ(cc->getSendable(), 0);
    CHECK(cc->sendFin() == nullptr);
    p.s.fin_back = true;
    REQUIRE(p.run([&]() { return p.c.closed && p.s.closed; }, 30000000000ull));
    CHECK_EQ(p.s.rx.size(), n);
    CHECK_EQ(p.c.resets + p.s.resets, 0);
    CHECK_EQ(p.s.fins, 1);
}

/* Many connections per client and several ports per server (the original: one and one). */
static void test_many_conns_many_ports(void)
{
    Pair p(0);
    REQUIRE(p.ok);
    CHECK(p.srv.listen(7000) == nullptr);
    CHECK(p.srv.listen(7001) == nullptr);
    std::vector<Conn *> conns;
    for (int i = 0; i < 8; i++) {
        Conn *c = nullptr;
        CHECK(p.cli.connect(RIG_SERVER_IP, (uint16_t)(7000 + i % 2), 0, &c) == nullptr);
        conns.push_back(c);
    }
    CHECK(p.cli.connect(RIG_SERVER_IP, 7000) != nullptr); /* MaxConnCnt is 8 */
    REQUIRE(p.run([&]() { return p.s.established == 8 && p.c.established == 8; }));
    CHECK_EQ(p.cli.getConnCnt(), 8);
    CHECK_EQ(p.srv.getConnCnt(), 8);
    int on7001 = 0;
    for (uint16_t lp : p.s.local_ports) on7001 += lp == 7001;
    CHECK_EQ(on7001, 4);
    /* each connection its own object, id and user data */
    for (int i = 0; i < 8; i++) {
        conns[i]->user_data = i;
        for (int j = 0; j < i; j++) CHECK(conns[i]->getConnId() != conns[j]->getConnId());
    }
    p.s.echo = true;
    for (int i = 0; i < 8; i++) conns[i]->send(&"01234567"[i], 1);
    REQUIRE(p.run([&]() { return p.c.rx.size() == 8; }));
    for (int i = 0; i < 8; i++) CHECK_EQ(conns[i]->user_data, i);
    /* unlisten: new SYNs to 7001 are refused, existing connections go on */
    CHECK(p.srv.unlisten(7001) == nullptr);
    CHECK(p.srv.unlisten(7001) != nullptr);
    conns[0]->close();
    CHECK(p.cli.connect(RIG_SERVER_IP, 7001) == nullptr);
    REQUIRE(p.run([&]() { return p.c.refused == 1; }));
    conns[1]->send("x", 1);
    REQUIRE(p.run([&]() { return p.c.rx.size() == 9; }));
}

/* A handler with only onData: everything else is ignored, and the connection works. */
static void test_only_on_data(void)
{
    RigWire wire;
    Server srv;
    Client cli;
    rig_attach(srv, wire, RIG_SERVER_IP "/15");
    rig_attach(cli, wire, RIG_CLIENT_IP "/15");
    REQUIRE(!srv.init("mem:server") && !cli.init("mem:client") && !srv.listen(80));
    Conn *cc = nullptr;
    REQUIRE(!cli.connect(RIG_SERVER_IP, 80, 0, &cc));
    OnlyData sh;
    VoidData ch;
    REQUIRE(rig_run(wire, srv, sh, cli, ch, 1000000000ull, [&]() { return cc->isEstablished(); }));
    CHECK_EQ(cc->send("hello", 5), 5);
    REQUIRE(rig_run(wire, srv, sh, cli, ch, 1000000000ull, [&]() { return sh.bytes == 5; }));
    CHECK(cc->sendFin() == nullptr);
    rig_run(wire, srv, sh, cli, ch, 1000000000ull, []() { return false; });
    CHECK(cc->isEstablished()); /* FIN_WAIT_2: the server never closes its side */
    cc->close();
    CHECK(cc->isClosed());
}

/* UserData as a class: both the original's spellings, conn.user_data.x and conn.x. */
struct ConfBase {
    static const uint32_t MaxConnCnt = 2;
    struct UserData {
        int x = 5;
        std::string name;
    };
};
static void test_user_data_class(void)
{
    using C2 = efvitcp::TcpClient<ConfBase>;
    RigWire wire;
    C2 cli;
    rig_attach(cli, wire, RIG_CLIENT_IP "/15");
    REQUIRE(!cli.init("mem:client"));
    C2::Conn &c = cli.getConn();
    CHECK_EQ(c.x, 5); /* constructed at init */
    c.user_data.x = 1;
    CHECK_EQ(c.x, 1);
    c.name = "n";
    CHECK(c.user_data.name == "n");
    CHECK(&c.user_data == static_cast<ConfBase::UserData *>(&c));
}

/* Idle waits through the C++ layer: fd() and prime() are the C calls (efvitcp.h). */
static void test_idle_wait_methods(void)
{
    Pair p;
    REQUIRE(p.ok);
    int sfd = p.srv.fd(), cfd = p.cli.fd();
    CHECK(sfd >= 0 && cfd >= 0 && sfd != cfd);
    CHECK_EQ(p.srv.prime(), 0); /* armed, nothing waits */
    CHECK(p.cli.connect(RIG_SERVER_IP, 5000) == nullptr);
    struct pollfd pf = {sfd, POLLIN, 0};
    CHECK_EQ(poll(&pf, 1, 0), 1); /* the SYN woke it */
    /* In flight for the rig wire's 10 us: nothing to take yet; the landing is the next timer. */
    CHECK_EQ(p.srv.prime(), 0);
    CHECK(p.srv.nextTimer() != UINT64_MAX);
    REQUIRE(p.run([&]() { return p.s.established && p.c.established; }));
}

/* Every method of an instance never initialised, or closed, is safe: no C call gets a NULL
   instance (foreachConn, getStats, fd, prime and getConnCnt passed one, and crashed). */
static void test_methods_without_instance(void)
{
    Server srv;
    Client cli;
    for (int round = 0; round < 2; round++) {
        int visits = 0;
        srv.foreachConn([&](Conn &) { visits++; });
        cli.foreachConn([&](Conn &) { visits++; });
        CHECK_EQ(visits, 0);
        efvitcp_stats st = srv.getStats();
        CHECK_EQ(st.frames_in + st.frames_out + st.conns_active, 0u);
        st = cli.getStats();
        CHECK_EQ(st.frames_in + st.frames_out + st.conns_active, 0u);
        CHECK_EQ(srv.fd(), -1);
        CHECK_EQ(cli.fd(), -1);
        CHECK_EQ(srv.prime(), -1);
        CHECK_EQ(cli.prime(), -1);
        CHECK_EQ(srv.getConnCnt(), 0u);
        CHECK_EQ(srv.nextTimer(), UINT64_MAX);
        Rec h;
        srv.poll(h);
        cli.poll(h);
        srv.close();
        cli.close();
        /* the second round: initialised, then closed */
        RigWire wire;
        rig_attach(srv, wire, RIG_SERVER_IP "/15");
        rig_attach(cli, wire, RIG_CLIENT_IP "/15");
        REQUIRE(!srv.init("mem:server") && !cli.init("mem:client"));
        srv.close();
        cli.close();
    }
}

int main()
{
    RUN(test_conf_mapping);
    RUN(test_handler_detection);
    RUN(test_init_errors);
    RUN(test_methods_without_instance);
    RUN(test_connect_established_data_close);
    RUN(test_reset_and_close);
    RUN(test_close_instance_in_callback);
    RUN(test_poll_and_close_in_foreach);
    RUN(test_refused);
    RUN(test_timeout);
    RUN(test_user_timers);
    RUN(test_poll_at);
    RUN(test_dump);
    RUN(test_backpressure_unread_consume);
    RUN(test_send_fin_full_ring);
    RUN(test_many_conns_many_ports);
    RUN(test_only_on_data);
    RUN(test_user_data_class);
    RUN(test_idle_wait_methods);
    return th_summary();
}
