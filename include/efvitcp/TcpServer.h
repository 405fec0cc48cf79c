/*
 * efvitcp C++ layer: TcpServer<Conf>, the original C++ efvitcp's server over the C API.
 *
 *     efvitcp::TcpServer<Conf> server;
 *     server.init("p1p1");
 *     server.listen(1234);                      // and more ports if wanted
 *     for (;;) server.poll(handler);
 *
 * Conf::MaxConnCnt connections of any state but TIME_WAIT (SYN_RECEIVED included), shared by
 * every listening port. docs/cpp.md is the migration guide.
 */
#ifndef EFVITCP_TCPSERVER_H
#define EFVITCP_TCPSERVER_H

#include "efvitcp/Core.h"
#include "efvitcp/TcpConn.h"

namespace efvitcp
{

template <class Conf> class TcpServer : public detail::Instance<Conf, detail::ServerApi>
{
  public:
    using Conn = TcpConn<Conf>;

    /**
     * Starts listening on server_port (host order). Each call adds a port; the original's second
     * call replaced the first. Returns NULL or an error.
     */
    const char *listen(uint16_t server_port)
    {
        if (!this->inst_) return "not initialised";
        return efvitcp_server_listen(this->inst_, server_port);
    }
    /** Stops listening on server_port: its half-open connections are reset, its established
        ones go on (efvitcp_server_unlisten); from allowNewConnection, that connection is
        refused. */
    const char *unlisten(uint16_t server_port)
    {
        if (!this->inst_) return "not initialised";
        return efvitcp_server_unlisten(this->inst_, server_port);
    }

    /** Connections (SYN_RECEIVED included, TIME_WAIT excluded). */
    uint32_t getConnCnt() const { return this->inst_ ? efvitcp_server_conn_count(this->inst_) : 0; }
};

} // namespace efvitcp

#endif
