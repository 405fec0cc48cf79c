/*
 * efvitcp C++ layer: a connection, TcpConn<Conf> (also TcpClient<Conf>::Conn and
 * TcpServer<Conf>::Conn).
 *
 * The original C++ efvitcp's connection methods, each a call of the C API (efvitcp.h) on the C
 * connection behind it, inlined; plus what only the C API had (unread/consume, nanosecond and
 * cancellable timers, counters, the RX hardware timestamp, the local port).
 *
 * A TcpConn is created by the instance at init, one per connection slot, and handed to the
 * callbacks by reference. Like a file descriptor it is reused: after onConnectionClosed,
 * onConnectionReset, onConnectionTimeout, onConnectionRefused or close() it may stand for the next
 * connection. user_data is NOT cleared between connections (it is the user's, as in the original):
 * set it in onConnectionEstablished.
 */
#ifndef EFVITCP_TCPCONN_H
#define EFVITCP_TCPCONN_H

#include <cinttypes>
#include <cstdio>
#include <netinet/in.h>
#include <sys/uio.h>

#include "efvitcp/Core.h"

namespace efvitcp
{

template <class Conf> class TcpConn : public detail::ConnData<detail::UserDataOf<Conf>>
{
  public:
    /** Conf::UserData (an empty struct when Conf has none); the member is `user_data`. */
    using UserData = detail::UserDataOf<Conf>;

    /** A small integer, unique among live connections of the instance, reused like an fd. */
    uint32_t getConnId() const { return efvitcp_conn_id(efvitcp_c_); }

    /** The peer's address and port, network byte order; sin_family is set too (the original left
        it alone). */
    void getPeername(struct sockaddr_in &addr) const { efvitcp_peername(efvitcp_c_, &addr); }

    /** Our local port, host order (several ports per server: which one the peer reached). */
    uint16_t getLocalPort() const { return efvitcp_local_port(efvitcp_c_); }

    /** True from the handshake's end until the connection is freed (FIN states included). */
    bool isEstablished() const { return efvitcp_c_ && efvitcp_is_established(efvitcp_c_); }

    /** True when the slot holds no connection (a fresh slot, or one freed by close, reset,
        timeout, refusal or a completed close). The original also said true for a half-closed
        connection whose peer had sent FIN; here such a connection is not closed until freed.
        A connection object never handed out yet (getConn() before connect) is closed. */
    bool isClosed() const { return !efvitcp_c_ || efvitcp_is_closed(efvitcp_c_); }

    /** Bytes that send() would accept now; 0 after sendFin(). */
    uint32_t getSendable() const { return efvitcp_sendable(efvitcp_c_); }

    /** Bytes that would leave at once, within the peer's window and cwnd. */
    uint32_t getImmediatelySendable() const { return efvitcp_immediately_sendable(efvitcp_c_); }

    /**
     * Queues up to size bytes and returns how many were accepted. more=true holds a partly
     * filled segment for more data (like MSG_MORE) until a send with more=false or the next ACK;
     * with nothing in flight, at most 200 ms (as efvitcp_send).
     */
    uint32_t send(const void *data, uint32_t size, bool more = false)
    {
        return efvitcp_send(efvitcp_c_, data, size, more);
    }

    /** As send() for a gather list; the last segment leaves unless more (the original had no
        more argument and flushed). Returns the bytes accepted. */
    uint32_t sendv(const struct iovec *iov, int iovcnt, bool more = false)
    {
        return efvitcp_sendv(efvitcp_c_, iov, iovcnt, more);
    }

    /**
     * Closes our direction after the queued data (shutdown(SHUT_WR)). On a full send ring the FIN
     * waits for room: it never becomes a RST, as it did in the original. Returns NULL or an error
     * (the connection cannot send a FIN); the original returned nothing.
     */
    const char *sendFin() { return efvitcp_send_fin(efvitcp_c_); }

    /** Aborts: a RST when the peer may be there, the slot is freed, no callback follows. */
    void close()
    {
        if (!isClosed()) efvitcp_conn_close(efvitcp_c_);
    }

    /**
     * Arms user timer timer_id (< Conf::UserTimerCnt) to fire after duration milliseconds (real
     * ms, not the original's 1.048576 ms ticks; no 65 s limit), replacing an armed one; 0 cancels.
     * Returns NULL or an error (bad timer_id, closed connection); the original returned nothing.
     */
    const char *setUserTimer(uint32_t timer_id, uint64_t duration_ms)
    {
        return efvitcp_set_user_timer(efvitcp_c_, timer_id, duration_ms);
    }
    /** As setUserTimer() in nanoseconds. */
    const char *setUserTimerNs(uint32_t timer_id, uint64_t duration_ns)
    {
        return efvitcp_set_user_timer_ns(efvitcp_c_, timer_id, duration_ns);
    }
    /** Cancels user timer timer_id; no effect if not armed. */
    void cancelUserTimer(uint32_t timer_id) { efvitcp_cancel_user_timer(efvitcp_c_, timer_id); }

    /** The bytes left unconsumed by onData (data points at them), for a reader that catches up
        without new data arriving; pair with consume(). */
    uint32_t unread(const uint8_t *&data) const { return efvitcp_unread(efvitcp_c_, &data); }
    /** Marks n bytes at the front of the unread ones consumed and reopens the window. */
    void consume(uint32_t n) { efvitcp_consume(efvitcp_c_, n); }

    /** The NIC's RX timestamp (ns) of the segment being delivered in onData/onFin; 0 without
        one (only the efvi link with `rxts` gives them). */
    uint64_t getRxHwTimestamp() const { return efvitcp_rx_hw_timestamp(efvitcp_c_); }
    /** Up to max transmit timestamp reports, oldest first (Conf::TxTimestamps or the C config's
        tx_timestamps must be set; efvitcp_tx_timestamps). */
    int getTxTimestamps(efvitcp_tx_report *out, int max)
    {
        return efvitcp_tx_timestamps(efvitcp_c_, out, max);
    }
    /** The stream offset the next byte sent will have (efvitcp_tx_offset). */
    uint64_t getTxOffset() const { return efvitcp_tx_offset(efvitcp_c_); }

    /** The connection's counters and state. */
    efvitcp_conn_stats getStats() const
    {
        efvitcp_conn_stats st;
        efvitcp_conn_get_stats(efvitcp_c_, &st);
        return st;
    }

    /**
     * Formats the connection's state, prefixed by note, into buf (at most size bytes, always
     * terminated) and returns the length snprintf reports.
     */
    int dump(char *buf, size_t size, const char *note) const
    {
        efvitcp_conn_stats st = getStats();
        struct sockaddr_in peer;
        getPeername(peer);
        uint32_t ip = ntohl(peer.sin_addr.s_addr);
        return snprintf(buf, size,
                        "%s: conn_id: %" PRIu32 ", state: %s, peer: %u.%u.%u.%u:%u, local port: "
                        "%u, cwnd: %" PRIu32 ", ssthresh: %" PRIu32 ", snd_wnd: %" PRIu32
                        ", rcv_wnd: %" PRIu32 ", mss: %" PRIu32 ", unacked: %" PRIu32
                        ", queued: %" PRIu32 ", recv_held: %" PRIu32 ", srtt_us: %" PRIu32
                        ", rttvar_us: %" PRIu32 ", rto_us: %" PRIu32 ", segs in/out: %" PRIu64
                        "/%" PRIu64 ", bytes in/out: %" PRIu64 "/%" PRIu64
                        ", retransmits: %" PRIu64,
                        note ? note : "", getConnId(), efvitcp_state_name(st.state), ip >> 24,
                        (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, ntohs(peer.sin_port),
                        getLocalPort(), st.cwnd, st.ssthresh, st.snd_wnd, st.rcv_wnd, st.mss,
                        st.unacked, st.queued, st.recv_held, st.srtt_us, st.rttvar_us, st.rto_us,
                        st.segs_in, st.segs_out, st.bytes_in, st.bytes_out, st.retransmits);
    }
    /**
     * The original printed this to stdout (debug builds only). The library prints nothing, so the
     * line goes to the instance's log hook (Conf::log, or config().log) at EFVITCP_LOG_INFO; with
     * no hook it is dropped. dump(buf, size, note) returns it instead.
     */
    void dump(const char *note) const
    {
        char line[512];
        dump(line, sizeof(line), note);
        emit(line);
    }
    /** The ports only, through the log hook as dump(). */
    void shortDump(const char *note = "") const
    {
        char line[128];
        struct sockaddr_in peer;
        getPeername(peer);
        snprintf(line, sizeof(line), "%s, src port: %u, dst port: %u", note ? note : "",
                 getLocalPort(), ntohs(peer.sin_port));
        emit(line);
    }

    /** The C connection behind this object, for the rest of the C API. */
    efvitcp_conn *handle() const { return efvitcp_c_; }

  private:
    template <class C> friend class detail::ConnArray;
    TcpConn() = default;
    void emit(const char *line) const
    {
        if (efvitcp_cfg_ && efvitcp_cfg_->log)
            efvitcp_cfg_->log(efvitcp_cfg_->log_ctx, EFVITCP_LOG_INFO, line);
    }
    /* Set by the instance each time it hands this object out (the same pointer for the slot's
       whole life); named so as not to collide with UserData's members when it is a base. */
    efvitcp_conn *efvitcp_c_ = nullptr;
    const efvitcp_config *efvitcp_cfg_ = nullptr;
};

} // namespace efvitcp

#endif
