/*
 * efvitcp C++ layer: TcpClient<Conf>, the original C++ efvitcp's client over the C API.
 *
 *     struct Conf { static const uint32_t ConnSendBufCnt = 512; ... using UserData = char; };
 *     efvitcp::TcpClient<Conf> client;
 *     client.init("p1p1");                      // efvi when built, else xdp, else packet
 *     client.connect("192.168.20.15", 1234);    // non-blocking: the result comes through poll
 *     for (;;) client.poll(handler);            // handler: any class with the callbacks it wants
 *
 * Unlike the original, a client holds Conf::MaxConnCnt connections (default 64), each opened by
 * its own connect(). docs/cpp.md is the migration guide.
 */
#ifndef EFVITCP_TCPCLIENT_H
#define EFVITCP_TCPCLIENT_H

#include "efvitcp/Core.h"
#include "efvitcp/TcpConn.h"

namespace efvitcp
{

template <class Conf> class TcpClient : public detail::Instance<Conf, detail::ClientApi>
{
    using Base = detail::Instance<Conf, detail::ClientApi>;

  public:
    using Conn = TcpConn<Conf>;

    /**
     * Opens a connection to server_ip:server_port (host-order port) without blocking; local_port
     * 0 picks a free ephemeral port. The outcome arrives through poll: onConnectionEstablished,
     * onConnectionRefused or onConnectionTimeout. Returns NULL or an error (no free connection
     * slot, bad address, not initialised).
     */
    const char *connect(const char *server_ip, uint16_t server_port, uint16_t local_port = 0)
    {
        return connect(server_ip, server_port, local_port, nullptr);
    }
    /** As connect(); *conn (if conn is not NULL) receives the new connection. */
    const char *connect(const char *server_ip, uint16_t server_port, uint16_t local_port,
                        Conn **conn)
    {
        if (!this->inst_) return "not initialised";
        efvitcp_conn *c;
        const char *err =
            efvitcp_client_connect(this->inst_, server_ip, server_port, local_port, &c);
        if (err) return err;
        last_ = &this->bind(c);
        if (conn) *conn = last_;
        return nullptr;
    }

    /** The connection of the latest successful connect() (the original's only one). Valid after
        a successful init; before any connect it is a closed connection. */
    Conn &getConn() { return last_ ? *last_ : this->first(); }

    /** Connections not yet freed (SYN_SENT and ARP waits included, TIME_WAIT excluded). */
    uint32_t getConnCnt() const { return this->getStats().conns_active; }

    void close()
    {
        last_ = nullptr;
        Base::close();
    }

  private:
    Conn *last_ = nullptr;
};

} // namespace efvitcp

#endif
