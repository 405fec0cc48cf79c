/*
 * efvitcp C++ layer: the machinery shared by TcpClient.h, TcpServer.h and TcpConn.h.
 *
 * The C++ layer is header-only (C++11 and later) and sits on the C API of efvitcp.h: it adds no
 * state to the engine and calls nothing but public functions. What it does at compile time:
 *
 * - reads a configuration struct `Conf` (the original C++ efvitcp's names: ConnSendBufCnt,
 *   MaxConnCnt, DelayedAckMS, ...) into an efvitcp_config; every member is optional and one that
 *   is absent keeps efvitcp_config_default()'s value (ConfReader below lists them all);
 * - turns a handler class into a constant efvitcp_handler of trampolines, one per callback the
 *   class defines; a callback it does not define is NULL in the table, which the engine skips
 *   (HandlerTable below). No virtual function, no std::function, no allocation.
 *
 * A program may include this header alone to build a config from a Conf (ConfReader<Conf>::fill)
 * without a client or a server.
 */
#ifndef EFVITCP_CORE_H
#define EFVITCP_CORE_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <new>
#include <type_traits>
#include <utility>

#include "efvitcp/efvitcp.h"

namespace efvitcp
{

template <class Conf> class TcpConn;

namespace detail
{

/* --- reading Conf ------------------------------------------------------------------------- */

/* Saturating conversions: the original's values have no upper limits of their own, ours do, and a
   value init would reject is better clamped where the original's meaning is clear (documented in
   docs/cpp.md). */
constexpr uint32_t clamp_u32(uint64_t v, uint64_t lo, uint64_t hi)
{
    return static_cast<uint32_t>(v < lo ? lo : (v > hi ? hi : v));
}
constexpr uint32_t ms_to_us(uint64_t ms, uint64_t lo, uint64_t hi)
{
    return clamp_u32(ms * 1000u, lo, hi);
}

/* One setter pair per Conf member: the first overload exists only when Conf::NAME does (the
   decltype in its return type fails otherwise), and wins over the second by the int/long rank of
   the literal 0. EXPR converts the value v (of whatever type Conf declared) to the field. */
#define EFVITCP_CONF_MEMBER(NAME, FIELD, EXPR)                                                     \
    template <class C> static auto set_##NAME(efvitcp_config &cfg, int)->decltype(void(C::NAME))   \
    {                                                                                              \
        auto v = C::NAME;                                                                          \
        cfg.FIELD = EXPR;                                                                          \
    }                                                                                              \
    template <class C> static void set_##NAME(efvitcp_config &, long) {}                           \
    template <class C> static constexpr bool has_##NAME(decltype(void(C::NAME)) *)                 \
    {                                                                                              \
        return true;                                                                               \
    }                                                                                              \
    template <class C> static constexpr bool has_##NAME(...)                                       \
    {                                                                                              \
        return false;                                                                              \
    }

/**
 * Fills an efvitcp_config from the static members of Conf. The original's members:
 *
 * | Conf member              | efvitcp_config field | conversion                                |
 * |--------------------------|----------------------|-------------------------------------------|
 * | ConnSendBufCnt           | send_slots           | as is                                     |
 * | SendBuf1K                | send_buf_1k          | as is                                     |
 * | ConnRecvBufSize          | recv_buf_size        | as is                                     |
 * | MaxConnCnt               | max_conns            | as is (a client too: many connections)    |
 * | MaxTimeWaitConnCnt       | max_time_wait        | as is                                     |
 * | RecvBufCnt               | rx_bufs              | at least 16                               |
 * | SynRetries               | syn_retries          | at most 30                                |
 * | TcpRetries               | data_retries         | 1..30                                     |
 * | DelayedAckMS             | delayed_ack_us       | x1000, at most 500 ms                     |
 * | MinRtoMS / MaxRtoMS      | min_rto_us / max_rto_us | x1000, at least 100 us                 |
 * | WindowScaleOption        | window_scale         | as is                                     |
 * | TimestampOption          | timestamps           | as is                                     |
 * | CongestionControlAlgo    | cc                   | 0 none, 1 NewReno, 2 CUBIC                |
 * | UserTimerCnt             | user_timers          | as is                                     |
 *
 * Extra members, picked up when present: CtrlBufCnt, OooRangeCnt, Prefault, DelayedAckUS,
 * MinRtoUS, MaxRtoUS, InitialRtoUS (the US forms win over the MS ones), InitialRtoMS, FastPath,
 * TimeWaitMS, KeepaliveMS, KeepaliveIntvlMS, KeepaliveProbes, MSS, EphemeralMin, EphemeralMax,
 * Seed, LocalAddr, Gateway, PcapPath, TxTimestamps (reports kept per connection), SackOption,
 * RackTlp, InitialWindow (segments) (strings: `static
 * constexpr const char *LocalAddr = "..."`), and a log hook `static void log(int level, const char
 * *msg)`.
 */
template <class Conf> struct ConfReader {
    EFVITCP_CONF_MEMBER(ConnSendBufCnt, send_slots, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(SendBuf1K, send_buf_1k, static_cast<bool>(v))
    EFVITCP_CONF_MEMBER(ConnRecvBufSize, recv_buf_size, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(MaxConnCnt, max_conns, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(MaxTimeWaitConnCnt, max_time_wait, static_cast<uint32_t>(v))
    /* The original's ring had no floor; ours wants 16 buffers for a burst of frames. */
    EFVITCP_CONF_MEMBER(RecvBufCnt, rx_bufs, clamp_u32(v, 16, 65536))
    /* The original compared with a 5-bit counter (min(31, X)); ours counts up to 30. */
    EFVITCP_CONF_MEMBER(SynRetries, syn_retries, clamp_u32(v, 0, 30))
    EFVITCP_CONF_MEMBER(TcpRetries, data_retries, clamp_u32(v, 1, 30))
    /* RFC 9293 §3.8.6.3 caps a delayed ACK at 500 ms. */
    EFVITCP_CONF_MEMBER(DelayedAckMS, delayed_ack_us, ms_to_us(v, 0, 500000))
    EFVITCP_CONF_MEMBER(MinRtoMS, min_rto_us, ms_to_us(v, 100, 0xffffffffu))
    EFVITCP_CONF_MEMBER(MaxRtoMS, max_rto_us, ms_to_us(v, 100, 0xffffffffu))
    EFVITCP_CONF_MEMBER(WindowScaleOption, window_scale, static_cast<bool>(v))
    EFVITCP_CONF_MEMBER(TimestampOption, timestamps, static_cast<bool>(v))
    EFVITCP_CONF_MEMBER(CongestionControlAlgo, cc, static_cast<efvitcp_cc>(v))
    EFVITCP_CONF_MEMBER(UserTimerCnt, user_timers, static_cast<uint32_t>(v))
    /* Our own knobs. */
    EFVITCP_CONF_MEMBER(CtrlBufCnt, ctrl_bufs, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(OooRangeCnt, ooo_ranges, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(Prefault, prefault, static_cast<bool>(v))
    EFVITCP_CONF_MEMBER(DelayedAckUS, delayed_ack_us, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(MinRtoUS, min_rto_us, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(MaxRtoUS, max_rto_us, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(InitialRtoMS, initial_rto_us, ms_to_us(v, 100, 0xffffffffu))
    EFVITCP_CONF_MEMBER(InitialRtoUS, initial_rto_us, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(FastPath, fast_path, static_cast<bool>(v))
    EFVITCP_CONF_MEMBER(TimeWaitMS, time_wait_ms, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(KeepaliveMS, keepalive_ms, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(KeepaliveIntvlMS, keepalive_intvl_ms, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(KeepaliveProbes, keepalive_probes, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(MSS, mss, static_cast<uint16_t>(v))
    EFVITCP_CONF_MEMBER(EphemeralMin, ephemeral_min, static_cast<uint16_t>(v))
    EFVITCP_CONF_MEMBER(EphemeralMax, ephemeral_max, static_cast<uint16_t>(v))
    EFVITCP_CONF_MEMBER(Seed, seed, static_cast<uint64_t>(v))
    EFVITCP_CONF_MEMBER(LocalAddr, local_addr, static_cast<const char *>(v))
    EFVITCP_CONF_MEMBER(Gateway, gateway, static_cast<const char *>(v))
    EFVITCP_CONF_MEMBER(PcapPath, pcap_path, static_cast<const char *>(v))
    EFVITCP_CONF_MEMBER(TxTimestamps, tx_timestamps, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(SackOption, sack, static_cast<bool>(v))
    EFVITCP_CONF_MEMBER(RackTlp, rack, static_cast<bool>(v))
    EFVITCP_CONF_MEMBER(InitialWindow, initial_window, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(StatShm, stat_shm, static_cast<bool>(v))
    EFVITCP_CONF_MEMBER(StatIntervalMS, stat_interval_ms, static_cast<uint32_t>(v))
    EFVITCP_CONF_MEMBER(StatMaxConns, stat_max_conns, static_cast<uint32_t>(v))

    /* The log hook: Conf::log(level, msg) behind the C signature, which carries a context. */
    static void log_tramp(void *, int level, const char *msg) { Conf::log(level, msg); }
    template <class C>
    static auto set_log(efvitcp_config &cfg, int)
        -> decltype(C::log(0, static_cast<const char *>(nullptr)), void())
    {
        cfg.log = &ConfReader::log_tramp;
        cfg.log_ctx = nullptr;
    }
    template <class C> static void set_log(efvitcp_config &, long) {}

    /** Starts from efvitcp_config_default() and applies every member Conf defines. */
    static void fill(efvitcp_config &cfg)
    {
        efvitcp_config_default(&cfg);
        set_ConnSendBufCnt<Conf>(cfg, 0);
        set_SendBuf1K<Conf>(cfg, 0);
        set_ConnRecvBufSize<Conf>(cfg, 0);
        set_MaxConnCnt<Conf>(cfg, 0);
        set_MaxTimeWaitConnCnt<Conf>(cfg, 0);
        set_RecvBufCnt<Conf>(cfg, 0);
        set_SynRetries<Conf>(cfg, 0);
        set_TcpRetries<Conf>(cfg, 0);
        set_DelayedAckMS<Conf>(cfg, 0);
        set_MinRtoMS<Conf>(cfg, 0);
        set_MaxRtoMS<Conf>(cfg, 0);
        set_WindowScaleOption<Conf>(cfg, 0);
        set_TimestampOption<Conf>(cfg, 0);
        set_CongestionControlAlgo<Conf>(cfg, 0);
        set_UserTimerCnt<Conf>(cfg, 0);
        set_CtrlBufCnt<Conf>(cfg, 0);
        set_OooRangeCnt<Conf>(cfg, 0);
        set_Prefault<Conf>(cfg, 0);
        set_DelayedAckUS<Conf>(cfg, 0);
        set_MinRtoUS<Conf>(cfg, 0);
        set_MaxRtoUS<Conf>(cfg, 0);
        set_FastPath<Conf>(cfg, 0);
        set_TimeWaitMS<Conf>(cfg, 0);
        set_KeepaliveMS<Conf>(cfg, 0);
        set_KeepaliveIntvlMS<Conf>(cfg, 0);
        set_KeepaliveProbes<Conf>(cfg, 0);
        set_MSS<Conf>(cfg, 0);
        set_EphemeralMin<Conf>(cfg, 0);
        set_EphemeralMax<Conf>(cfg, 0);
        set_Seed<Conf>(cfg, 0);
        set_LocalAddr<Conf>(cfg, 0);
        set_Gateway<Conf>(cfg, 0);
        set_PcapPath<Conf>(cfg, 0);
        set_TxTimestamps<Conf>(cfg, 0);
        set_SackOption<Conf>(cfg, 0);
        set_RackTlp<Conf>(cfg, 0);
        set_InitialWindow<Conf>(cfg, 0);
        set_log<Conf>(cfg, 0);
        /* The original's SYN RTO was 1000 ticks (about 1 s) whatever its RTO bounds; ours must lie
           within them, so the default 1 s is clamped into [min, max] unless Conf sets one. */
        if (has_InitialRtoMS<Conf>(nullptr) || has_InitialRtoUS<Conf>(nullptr)) {
            set_InitialRtoMS<Conf>(cfg, 0);
            set_InitialRtoUS<Conf>(cfg, 0);
        } else {
            if (cfg.initial_rto_us < cfg.min_rto_us) cfg.initial_rto_us = cfg.min_rto_us;
            if (cfg.initial_rto_us > cfg.max_rto_us) cfg.initial_rto_us = cfg.max_rto_us;
        }
    }
};

#undef EFVITCP_CONF_MEMBER

/* Conf::UserData, or an empty struct when Conf has none. */
struct NoUserData {
};
template <class C> static auto user_data_of(int) -> typename C::UserData;
template <class C> static auto user_data_of(long) -> NoUserData;
template <class Conf> using UserDataOf = decltype(user_data_of<Conf>(0));

/* Where user_data lives in a connection. The original had it first as a member `user_data`, later
   as a base class (so `conn.x` reached UserData::x); both spellings work here: a class type is a
   base and `user_data` a reference to that base, any other type (char, int) a plain member. */
template <class UD, bool AsBase = std::is_class<UD>::value && !__is_final(UD)> struct ConnData;
template <class UD> struct ConnData<UD, true> : public UD {
    UD &user_data; /**< Conf::UserData of this connection (the base class itself) */
    ConnData() : UD(), user_data(*this) {}
    ConnData(const ConnData &) = delete;
    ConnData &operator=(const ConnData &) = delete;
};
template <class UD> struct ConnData<UD, false> {
    UD user_data; /**< Conf::UserData of this connection */
    ConnData() : user_data() {}
    ConnData(const ConnData &) = delete;
    ConnData &operator=(const ConnData &) = delete;
};

/* --- handler detection and trampolines -------------------------------------------------------- */

/* What poll passes as the C callbacks' ctx: the instance (which maps a C connection to its C++
   object) and the user's handler. It lives on poll's stack. */
template <class Owner, class H> struct PollCtx {
    Owner *owner;
    H *handler;
};

template <class T> T &lval();

/* Each test is an unevaluated call with the original's argument types: a handler member that
   accepts them (by value, reference, const or not) is found; one with another signature is not,
   and then counts as absent (docs/cpp.md: "a misspelt callback is ignored"). */
template <class H, class Conn> struct HandlerTraits {
#define EFVITCP_HAS(NAME, CALL)                                                                    \
    template <class X> static auto NAME##_t(int)->decltype(CALL, std::true_type());                \
    template <class X> static std::false_type NAME##_t(long);                                      \
    static constexpr bool NAME = decltype(NAME##_t<H>(0))::value;
    EFVITCP_HAS(refused0, lval<X>().onConnectionRefused())
    EFVITCP_HAS(refused1, lval<X>().onConnectionRefused(lval<Conn>()))
    EFVITCP_HAS(allow3, lval<X>().allowNewConnection(uint32_t(), uint16_t(), uint16_t()))
    EFVITCP_HAS(allow2, lval<X>().allowNewConnection(uint32_t(), uint16_t()))
    EFVITCP_HAS(established, lval<X>().onConnectionEstablished(lval<Conn>()))
    EFVITCP_HAS(data, lval<X>().onData(lval<Conn>(), lval<uint8_t *>(), uint32_t()))
    EFVITCP_HAS(fin, lval<X>().onFin(lval<Conn>(), lval<uint8_t *>(), uint32_t()))
    EFVITCP_HAS(closed, lval<X>().onConnectionClosed(lval<Conn>()))
    EFVITCP_HAS(reset, lval<X>().onConnectionReset(lval<Conn>()))
    EFVITCP_HAS(timeout, lval<X>().onConnectionTimeout(lval<Conn>()))
    EFVITCP_HAS(more, lval<X>().onMoreSendable(lval<Conn>()))
    EFVITCP_HAS(user_timeout, lval<X>().onUserTimeout(lval<Conn>(), uint32_t()))
#undef EFVITCP_HAS
};

/* onData's result: the bytes not consumed; a handler whose onData returns void consumes all. */
template <class R> struct DataResult {
    template <class F> static uint32_t call(F &&f) { return static_cast<uint32_t>(f()); }
};
template <> struct DataResult<void> {
    template <class F> static uint32_t call(F &&f)
    {
        f();
        return 0;
    }
};

/**
 * The C callbacks for handler H of instance Owner. Owner::bind(c) returns the C++ connection of
 * a C one. The data pointers are handed on as uint8_t * because the original's onData and onFin
 * take a non-const pointer; the bytes must not be written (they may be the link's receive
 * buffer). Handlers must not throw: the callbacks are noexcept, so an exception terminates.
 */
template <class Owner, class H> struct Tramp {
    using Conn = typename Owner::Conn;
    using Ctx = PollCtx<Owner, H>;
    static Ctx &ctx(void *p) { return *static_cast<Ctx *>(p); }

    static void refused0(void *p, efvitcp_conn *c) noexcept
    {
        ctx(p).owner->bind(c);
        ctx(p).handler->onConnectionRefused();
    }
    static void refused1(void *p, efvitcp_conn *c) noexcept
    {
        ctx(p).handler->onConnectionRefused(ctx(p).owner->bind(c));
    }
    static bool allow2(void *p, const struct sockaddr_in *peer, uint16_t) noexcept
    {
        return ctx(p).handler->allowNewConnection(peer->sin_addr.s_addr, peer->sin_port);
    }
    static bool allow3(void *p, const struct sockaddr_in *peer, uint16_t local_port) noexcept
    {
        return ctx(p).handler->allowNewConnection(peer->sin_addr.s_addr, peer->sin_port,
                                                  local_port);
    }
    static void established(void *p, efvitcp_conn *c) noexcept
    {
        ctx(p).handler->onConnectionEstablished(ctx(p).owner->bind(c));
    }
    static uint32_t data(void *p, efvitcp_conn *c, const uint8_t *d, uint32_t n) noexcept
    {
        H *h = ctx(p).handler;
        Conn &conn = ctx(p).owner->bind(c);
        uint8_t *bytes = const_cast<uint8_t *>(d);
        using R = decltype(h->onData(conn, bytes, n));
        return DataResult<R>::call([&]() { return h->onData(conn, bytes, n); });
    }
    static void fin(void *p, efvitcp_conn *c, const uint8_t *d, uint32_t n) noexcept
    {
        ctx(p).handler->onFin(ctx(p).owner->bind(c), const_cast<uint8_t *>(d), n);
    }
    static void closed(void *p, efvitcp_conn *c) noexcept
    {
        ctx(p).handler->onConnectionClosed(ctx(p).owner->bind(c));
    }
    static void reset(void *p, efvitcp_conn *c) noexcept
    {
        ctx(p).handler->onConnectionReset(ctx(p).owner->bind(c));
    }
    static void timeout(void *p, efvitcp_conn *c) noexcept
    {
        ctx(p).handler->onConnectionTimeout(ctx(p).owner->bind(c));
    }
    static void more(void *p, efvitcp_conn *c) noexcept
    {
        ctx(p).handler->onMoreSendable(ctx(p).owner->bind(c));
    }
    static void user_timeout(void *p, efvitcp_conn *c, uint32_t id) noexcept
    {
        ctx(p).handler->onUserTimeout(ctx(p).owner->bind(c), id);
    }
};

/* Picks a trampoline or NULL at compile time; the trampoline is instantiated only when picked,
   so a handler never needs the members it does not use. */
#define EFVITCP_PICK(NAME, TYPE)                                                                   \
    template <bool Has, class T> struct Pick_##NAME {                                              \
        static constexpr TYPE get() { return nullptr; }                                            \
    };                                                                                             \
    template <class T> struct Pick_##NAME<true, T> {                                               \
        static constexpr TYPE get() { return &T::NAME; }                                           \
    };
using conn_fn = void (*)(void *, efvitcp_conn *);
using allow_fn = bool (*)(void *, const struct sockaddr_in *, uint16_t);
using data_fn = uint32_t (*)(void *, efvitcp_conn *, const uint8_t *, uint32_t);
using user_timeout_fn = void (*)(void *, efvitcp_conn *, uint32_t);
EFVITCP_PICK(refused0, conn_fn)
EFVITCP_PICK(refused1, conn_fn)
EFVITCP_PICK(allow2, allow_fn)
EFVITCP_PICK(allow3, allow_fn)
EFVITCP_PICK(established, conn_fn)
EFVITCP_PICK(data, data_fn)
EFVITCP_PICK(closed, conn_fn)
EFVITCP_PICK(reset, conn_fn)
EFVITCP_PICK(timeout, conn_fn)
EFVITCP_PICK(more, conn_fn)
EFVITCP_PICK(user_timeout, user_timeout_fn)
#undef EFVITCP_PICK

/* onFin's C type returns void, unlike on_data's. */
using fin_fn = void (*)(void *, efvitcp_conn *, const uint8_t *, uint32_t);
template <bool Has, class T> struct Pick_fin_v {
    static constexpr fin_fn get() { return nullptr; }
};
template <class T> struct Pick_fin_v<true, T> {
    static constexpr fin_fn get() { return &T::fin; }
};

/**
 * The efvitcp_handler for handler H of instance Owner: a constant built from addresses known at
 * compile time, so it is initialised statically (no guard, no code at run time).
 */
template <class Owner, class H> struct HandlerTable {
    using Tr = HandlerTraits<H, typename Owner::Conn>;
    using T = Tramp<Owner, H>;
    static const efvitcp_handler value;
};
template <class Owner, class H>
const efvitcp_handler HandlerTable<Owner, H>::value = {
    Tr::refused1 ? Pick_refused1<Tr::refused1, T>::get() : Pick_refused0<Tr::refused0, T>::get(),
    Tr::allow3 ? Pick_allow3<Tr::allow3, T>::get() : Pick_allow2<Tr::allow2, T>::get(),
    Pick_established<Tr::established, T>::get(),
    Pick_data<Tr::data, T>::get(),
    Pick_fin_v<Tr::fin, T>::get(),
    Pick_closed<Tr::closed, T>::get(),
    Pick_reset<Tr::reset, T>::get(),
    Pick_timeout<Tr::timeout, T>::get(),
    Pick_more<Tr::more, T>::get(),
    Pick_user_timeout<Tr::user_timeout, T>::get(),
    {}, /* reserved: NULL, as the C header requires */
};

/* foreachConn: the C iteration with a functor, keeping established connections only (as the
   original's foreachConn did). */
template <class Owner, class Fn> struct ForeachCtx {
    Owner *owner;
    Fn *fn;
    static void call(void *arg, efvitcp_conn *c)
    {
        ForeachCtx *f = static_cast<ForeachCtx *>(arg);
        if (efvitcp_is_established(c)) (*f->fn)(f->owner->bind(c));
    }
};

/* The array of C++ connections of an instance, one per C connection slot (max_conns), created at
   init and indexed by efvitcp_conn_id(): the C connection of a slot never moves, so its C++
   object is found without a search and without allocation after init. */
template <class Conn> class ConnArray
{
  public:
    ConnArray() = default;
    ConnArray(const ConnArray &) = delete;
    ConnArray &operator=(const ConnArray &) = delete;
    ~ConnArray() { release(); }
    bool create(uint32_t n, const efvitcp_config *cfg)
    {
        release();
        conns_ = new (std::nothrow) Conn[n];
        if (!conns_) return false;
        n_ = n;
        for (uint32_t i = 0; i < n; i++) conns_[i].efvitcp_cfg_ = cfg;
        return true;
    }
    void release()
    {
        delete[] conns_;
        conns_ = nullptr;
        n_ = 0;
    }
    Conn &bind(efvitcp_conn *c)
    {
        Conn &conn = conns_[efvitcp_conn_id(c)];
        conn.efvitcp_c_ = c;
        return conn;
    }
    Conn &at(uint32_t i) { return conns_[i]; }
    uint32_t size() const { return n_; }

  private:
    Conn *conns_ = nullptr;
    uint32_t n_ = 0;
};

/* The C functions of one kind of instance, so that the client and the server share Instance. */
struct ClientApi {
    using type = efvitcp_client;
    static const char *init(type **out, const char *ifname, const efvitcp_config *cfg)
    {
        return efvitcp_client_init(out, ifname, cfg);
    }
    static void poll(type *i, const efvitcp_handler *h, void *ctx)
    {
        efvitcp_client_poll(i, h, ctx);
    }
    static void poll_at(type *i, const efvitcp_handler *h, void *ctx, uint64_t ns)
    {
        efvitcp_client_poll_at(i, h, ctx, ns);
    }
    static uint64_t next_timer(const type *i) { return efvitcp_client_next_timer(i); }
    static int fd(const type *i) { return efvitcp_client_fd(i); }
    static int prime(type *i) { return efvitcp_client_prime(i); }
    static void stats(const type *i, efvitcp_stats *st) { efvitcp_client_stats(i, st); }
    static void each_conn(type *i, void (*fn)(void *, efvitcp_conn *), void *arg)
    {
        efvitcp_client_foreach(i, fn, arg);
    }
    static void close(type *i) { efvitcp_client_close(i); }
};
struct ServerApi {
    using type = efvitcp_server;
    static const char *init(type **out, const char *ifname, const efvitcp_config *cfg)
    {
        return efvitcp_server_init(out, ifname, cfg);
    }
    static void poll(type *i, const efvitcp_handler *h, void *ctx)
    {
        efvitcp_server_poll(i, h, ctx);
    }
    static void poll_at(type *i, const efvitcp_handler *h, void *ctx, uint64_t ns)
    {
        efvitcp_server_poll_at(i, h, ctx, ns);
    }
    static uint64_t next_timer(const type *i) { return efvitcp_server_next_timer(i); }
    static int fd(const type *i) { return efvitcp_server_fd(i); }
    static int prime(type *i) { return efvitcp_server_prime(i); }
    static void stats(const type *i, efvitcp_stats *st) { efvitcp_server_stats(i, st); }
    static void each_conn(type *i, void (*fn)(void *, efvitcp_conn *), void *arg)
    {
        efvitcp_server_foreach(i, fn, arg);
    }
    static void close(type *i) { efvitcp_server_close(i); }
};

/**
 * What TcpClient and TcpServer share: the config read from Conf, the C instance, the array of
 * C++ connections and poll. Not used directly.
 */
template <class Conf, class Api> class Instance
{
  public:
    using Conn = TcpConn<Conf>;

    Instance() { ConfReader<Conf>::fill(cfg_); }
    Instance(const Instance &) = delete;
    Instance &operator=(const Instance &) = delete;
    ~Instance() { close(); }

    /**
     * The configuration init will use: Conf's members over efvitcp_config_default(). Change it
     * before init for what Conf does not say or only knows at run time (a mem link's wire, an own
     * address, a log hook). Strings and the wire must outlive init only.
     */
    efvitcp_config &config() { return cfg_; }

    /**
     * Opens the instance on an interface: "efvi:IF", "xdp:IF", "packet:IF", "mem:NAME",
     * "shm:NAME", or a plain interface name (efvi when built, else xdp, else packet). Allocates all
     * memory, the C++ connections included. Returns NULL or an error.
     */
    const char *init(const char *interface)
    {
        if (inst_) return "already initialised";
        typename Api::type *inst;
        const char *err = Api::init(&inst, interface, &cfg_);
        if (err) return err;
        if (!conns_.create(cfg_.max_conns, &cfg_)) {
            Api::close(inst);
            return "out of memory";
        }
        inst_ = inst;
        return nullptr;
    }

    /**
     * Runs the instance once and calls handler's members for what happened. ns = 0 reads the
     * link's clock; any other value is the current time in ns of that clock (CLOCK_MONOTONIC on
     * real links, the wire's clock on mem) -- not CLOCK_REALTIME as in the original.
     */
    template <class H> void poll(H &handler, int64_t ns = 0)
    {
        if (!inst_) return; /* before init, or closed (a callback may have closed it) */
        PollCtx<Instance, H> ctx{this, &handler};
        if (ns)
            Api::poll_at(inst_, &HandlerTable<Instance, H>::value, &ctx, static_cast<uint64_t>(ns));
        else
            Api::poll(inst_, &HandlerTable<Instance, H>::value, &ctx);
    }
    /** As poll() at time now_ns of the link's clock. */
    template <class H> void pollAt(H &handler, uint64_t now_ns)
    {
        if (!inst_) return;
        PollCtx<Instance, H> ctx{this, &handler};
        Api::poll_at(inst_, &HandlerTable<Instance, H>::value, &ctx, now_ns);
    }
    /** Earliest time (ns, link clock) the instance needs a poll: a timer, output waiting for
        buffers, a deadline of the link; UINT64_MAX if none (efvitcp_client_next_timer). */
    uint64_t nextTimer() const { return inst_ ? Api::next_timer(inst_) : UINT64_MAX; }
    /** Idle waits: the file descriptor to sleep on for POLLIN, -1 if the link has none
        (efvitcp_client_fd; the protocol is in efvitcp.h, "Idle waits"); -1 before init or
        after close. */
    int fd() const { return inst_ ? Api::fd(inst_) : -1; }
    /** Arms fd(): 0 = sleep until it is readable or nextTimer(), 1 = poll instead, -1 = the link
        cannot wake a sleeper (efvitcp_client_prime), or there is no instance. */
    int prime() { return inst_ ? Api::prime(inst_) : -1; }
    /** The instance's counters; all zero before init or after close. */
    efvitcp_stats getStats() const
    {
        efvitcp_stats st{};
        if (inst_) Api::stats(inst_, &st);
        return st;
    }
    /** Calls fn(Conn&) for every established connection. fn is a callback of the instance:
        poll() from it does nothing and prime() returns -1. */
    template <class Fn> void foreachConn(Fn fn)
    {
        if (!inst_) return;
        ForeachCtx<Instance, Fn> f{this, &fn};
        Api::each_conn(inst_, &ForeachCtx<Instance, Fn>::call, &f);
    }
    /** Resets every connection (no callbacks), releases the link and frees all memory; init may
        be called again. From inside a callback of this instance (of poll or of foreachConn), no
        callback follows, the C instance is freed when the poll or foreachConn returns, and the
        Conn of the callback must not be used after close(); poll() of a closed instance does
        nothing. */
    void close()
    {
        if (inst_) Api::close(inst_);
        inst_ = nullptr;
        conns_.release();
    }
    /** The C instance, for the rest of the C API; NULL before init. */
    typename Api::type *handle() const { return inst_; }

  protected:
    template <class O, class H> friend struct Tramp;
    template <class O, class F> friend struct ForeachCtx;
    Conn &bind(efvitcp_conn *c) { return conns_.bind(c); }
    Conn &first() { return conns_.at(0); }

    efvitcp_config cfg_;
    typename Api::type *inst_ = nullptr;
    ConnArray<Conn> conns_;
};

} // namespace detail
} // namespace efvitcp

#endif
