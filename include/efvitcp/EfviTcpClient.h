/*
 * efvitcp C++ layer: EfviTcpClient<RecvBufSize>, the original C++ efvitcp's pollnet-style client
 * wrapper: one connection, connect() that waits for the handshake, read() with a functor,
 * writeNonblock().
 *
 *     EfviTcpClient<> client;
 *     if (!client.connect("p1p1", "192.168.20.15", 1234)) puts(client.getLastError());
 *     client.writeNonblock(data, size);
 *     client.read([](const uint8_t *p, uint32_t n) { ...; return unconsumed; });
 *
 * As in the original, the class is also reachable without the namespace (::EfviTcpClient).
 */
#ifndef EFVITCP_EFVITCPCLIENT_H
#define EFVITCP_EFVITCPCLIENT_H

#include "efvitcp/TcpClient.h"

namespace efvitcp
{

template <uint32_t RecvBufSize = 4096> class EfviTcpClient
{
  public:
    /** The original wrapper's fixed settings (docs/cpp.md); a connection of its own only. */
    struct Conf {
        static const uint32_t ConnSendBufCnt = 1024;
        static const bool SendBuf1K = true;
        static const uint32_t ConnRecvBufSize = RecvBufSize;
        static const uint32_t MaxConnCnt = 1;
        static const uint32_t MaxTimeWaitConnCnt = 1;
        static const uint32_t RecvBufCnt = 512;
        static const uint32_t SynRetries = 3;
        static const uint32_t TcpRetries = 10;
        static const uint32_t DelayedAckMS = 10;
        static const uint32_t MinRtoMS = 100;
        static const uint32_t MaxRtoMS = 30 * 1000;
        static const bool WindowScaleOption = false;
        static const bool TimestampOption = false;
        static const int CongestionControlAlgo = 0;
        static const uint32_t UserTimerCnt = 0;
        using UserData = char;
    };
    using TcpClient = efvitcp::TcpClient<Conf>;
    using TcpConn = typename TcpClient::Conn;

    /** Why the connection failed or ended (NULL while all is well). */
    const char *getLastError() { return err; }

    /** True while the connection is up and the peer has not closed its side. */
    bool isConnected() { return pc && !pc->isClosed() && !peer_fin; }

    /** The peer's address; false when not connected. */
    bool getPeername(struct sockaddr_in &addr)
    {
        if (!isConnected()) return false;
        pc->getPeername(addr);
        return true;
    }

    /**
     * Opens interface (once; change client.config() before the first call for an own address or
     * a mem wire), connects and polls until the handshake completes or fails (refused, or SYN
     * retries exhausted). Returns true when connected; otherwise getLastError() says why.
     */
    bool connect(const char *interface, const char *server_ip, uint16_t server_port)
    {
        pc = nullptr;
        err = nullptr;
        peer_fin = false;
        if (!client.handle() && (err = client.init(interface))) return false;
        if ((err = client.connect(server_ip, server_port))) return false;
        while (!pc && !err) read([](const uint8_t *, uint32_t size) { return size; });
        return pc != nullptr && !err;
    }

    /** Resets the connection and releases the interface, recording reason as the last error. */
    void close(const char *reason)
    {
        err = reason;
        pc = nullptr;
        client.close();
    }

    /**
     * Sends all of data or nothing useful: when the send ring cannot take every byte the
     * connection is reset and false returned ("send buffer full"), as in the original.
     */
    bool writeNonblock(const uint8_t *data, uint32_t size, bool more = false)
    {
        if (!isConnected()) return false;
        if (pc->send(data, size, more) != size) {
            pc->close();
            err = "send buffer full";
            return false;
        }
        return true;
    }

    /**
     * Polls once; handler(const uint8_t *data, uint32_t size) gets new data and returns the bytes
     * it did not consume. Returns true when data was handed to it. The peer's FIN ends the
     * connection: "connection closed", and our FIN answers it (the original's pollnet version
     * answered with a RST).
     */
    template <class Handler> bool read(Handler handler)
    {
        Events<Handler> ev{this, &handler, false};
        client.poll(ev);
        return ev.got_data;
    }

    TcpClient client;
    TcpConn *pc = nullptr;
    const char *err = nullptr;
    bool peer_fin = false;

  private:
    template <class Handler> struct Events {
        EfviTcpClient *self;
        Handler *handler;
        bool got_data;
        void onConnectionRefused() { self->err = "connection refused"; }
        void onConnectionReset(TcpConn &) { self->err = "connection reset"; }
        void onConnectionTimeout(TcpConn &) { self->err = "connection timeout"; }
        void onConnectionClosed(TcpConn &) { self->err = "connection closed"; }
        void onFin(TcpConn &conn, uint8_t *, uint32_t)
        {
            self->err = "connection closed";
            self->peer_fin = true;
            conn.sendFin();
        }
        void onConnectionEstablished(TcpConn &conn) { self->pc = &conn; }
        uint32_t onData(TcpConn &, const uint8_t *data, uint32_t size)
        {
            got_data = true;
            return (*handler)(data, size);
        }
    };
};

} // namespace efvitcp

using efvitcp::EfviTcpClient;

#endif
