/*
 * efvitcp: a kernel-bypass TCP/IPv4 stack for latency-critical Linux programs.
 *
 * The whole public API. An instance (a client or a server) owns every byte it uses: all memory is
 * sized and allocated by init and released by close. No call blocks, no thread is created, and the
 * library prints nothing except through the log hook of the config.
 *
 * The reactor model: the user's own thread calls efvitcp_client_poll()/efvitcp_server_poll()
 * repeatedly. Each call receives frames from the link, runs TCP and the timers, and reports what
 * happened through the callbacks of an efvitcp_handler. Connection operations (send, close, timers)
 * may be called from inside callbacks and between polls, from the polling thread only.
 *
 * Errors are returned as `const char *`: NULL means success, anything else is a static string that
 * says what went wrong. Instances are not thread-safe; two instances never share state.
 *
 * NULL pointers: a failed init leaves *out NULL, and a failed connect leaves *conn NULL. Passed
 * NULL instead of an instance or a connection, every function returns an error that says so, or
 * answers "nothing there": a NULL connection is a freed one (sends accept 0 bytes, getters give 0,
 * efvitcp_is_closed() is true, efvitcp_conn_id() is UINT32_MAX), a NULL instance has no timer
 * (UINT64_MAX), no connections, no fd (-1) and zero counters, and close, poll and foreach do
 * nothing. A NULL output pointer (stats, peer address, unread data, reports) is not written.
 * Other invalid pointers cannot be told from valid ones and are undefined behaviour.
 */
#ifndef EFVITCP_H
#define EFVITCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EFVITCP_API __attribute__((visibility("default")))
#else
#define EFVITCP_API
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Version and ABI                                                                                */
/* ---------------------------------------------------------------------------------------------- */

/*
 * The version of this header. It equals project(VERSION) of the build that installed it (the
 * test unit/test_version keeps the two in sync). efvitcp_version() says which library a program
 * runs with, which may be newer than the header it was compiled against.
 */
#define EFVITCP_VERSION_MAJOR  0
#define EFVITCP_VERSION_MINOR  2
#define EFVITCP_VERSION_PATCH  0
#define EFVITCP_VERSION_STRING "0.2.0"
/** MAJOR * 1000000 + MINOR * 1000 + PATCH: compare versions with one integer (#if too). */
#define EFVITCP_VERSION_NUMBER                                                                     \
    (EFVITCP_VERSION_MAJOR * 1000000 + EFVITCP_VERSION_MINOR * 1000 + EFVITCP_VERSION_PATCH)

/** The library's version, "MAJOR.MINOR.PATCH": a constant string. */
EFVITCP_API const char *efvitcp_version(void);
/** The library's EFVITCP_VERSION_NUMBER. */
EFVITCP_API uint32_t efvitcp_version_number(void);

/*
 * ABI rules: a program built against an older header keeps working with a newer library of the
 * same MAJOR version (the shared library's SONAME is libefvitcp.so.MAJOR; MAJOR changes only when
 * these rules must be broken). Therefore:
 *
 * - Functions are never removed or changed within a MAJOR version; new ones are added.
 * - Enumerators keep their values; new ones are appended. efvitcp_stats.drops has room for
 *   EFVITCP_DROP_REASONS_MAX reasons, so that a new drop reason moves no other counter.
 * - Structs grow only at their end, and a new field never changes what the old ones mean.
 * - Every struct that the program fills for the library or the library fills for the program
 *   (efvitcp_config, efvitcp_stats, efvitcp_conn_stats, efvitcp_wire_config, efvitcp_wire_faults)
 *   crosses the API with its size: the functions that take one are static inline wrappers here
 *   that pass sizeof() of the struct as THIS header declares it to an exported *_sized function.
 *   The library then
 *     - reads a smaller (older) input struct as the prefix it is, and gives every field beyond
 *       it its documented default (config) or zero (faults);
 *     - accepts a larger (newer) input struct only when every byte it does not know is zero:
 *       a knob that this library cannot honour is an error, never silently ignored (the
 *       *_default functions zero those bytes, so a newer program that leaves the new knobs
 *       alone runs on an older library);
 *     - writes an output struct up to the smaller of the two sizes and zeroes the rest.
 * - efvitcp_handler is read at every poll, so it carries no size: it ends in reserved pointers
 *   that must be NULL (initialise the whole struct: `= {...}`, `{0}` or memset), and new callbacks
 *   take their place. A program built before a callback existed thus leaves it NULL (ignored).
 * - Opaque types (efvitcp_client, efvitcp_server, efvitcp_conn, efvitcp_wire) change freely.
 *
 * Bindings that cannot use static inline functions (dlsym, foreign function interfaces) call the
 * *_sized functions themselves, with the struct sizes of the header they were written against.
 */

/* ---------------------------------------------------------------------------------------------- */
/* Configuration                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

/** Congestion control algorithms. Fast retransmit is active with every one of them. */
typedef enum efvitcp_cc {
    EFVITCP_CC_NONE = 0,    /**< no congestion window: send what the peer's window allows */
    EFVITCP_CC_NEWRENO = 1, /**< RFC 5681 + RFC 6582 */
    EFVITCP_CC_CUBIC = 2,   /**< RFC 9438 (with RFC 5681 slow start and RFC 6582 recovery) */
} efvitcp_cc;

/** When a listener answers a SYN with a SYN cookie (RFC 4987 §3.6) instead of a connection slot. */
typedef enum efvitcp_syn_cookies {
    EFVITCP_SYN_COOKIES_OFF = 0,        /**< never: a SYN that finds no room is dropped */
    EFVITCP_SYN_COOKIES_WHEN_SHORT = 1, /**< when the half-open budget or the free slots run
                                             out (a SYN flood, a full server) */
    EFVITCP_SYN_COOKIES_ALWAYS = 2,     /**< for every SYN (testing) */
} efvitcp_syn_cookies;

/** Log levels passed to the log hook. */
enum { EFVITCP_LOG_ERROR = 0, EFVITCP_LOG_WARN = 1, EFVITCP_LOG_INFO = 2, EFVITCP_LOG_DEBUG = 3 };

typedef struct efvitcp_wire efvitcp_wire;

/**
 * Every knob of an instance. Fill it with efvitcp_config_default() and change what you need; init
 * validates it and returns a clear error string for any value out of range.
 */
typedef struct efvitcp_config {
    /* --- sizing: everything is allocated once, at init --- */
    uint32_t max_conns;     /**< connections of any state but TIME_WAIT. Default 64. 1..1<<20.
                                 Init also bounds what it allocates for them in total (an error
                                 beyond): max_conns * send_slots at most 1<<26 slots and 64 GiB
                                 of send buffers, and 64 GiB each of receive buffers, user data
                                 and transmit timestamp reports (see those knobs). */
    uint32_t send_slots;    /**< send ring slots per connection, one segment each; a power of
                                 two, 4..65536. Default 256. Bytes in flight plus bytes queued
                                 are at most (send_slots - 1) * MSS. max_conns * send_slots at
                                 most 1<<26, and their buffers (2 KiB each, 1 KiB with
                                 send_buf_1k) at most 64 GiB. */
    bool send_buf_1k;       /**< 1 KiB send slots instead of 2 KiB: halves send memory but caps
                                 the MSS at 1024 - 54 - options. Default false. */
    uint32_t recv_buf_size; /**< per-connection receive buffer in bytes (unconsumed and
                                 out-of-order data); also the largest window advertised.
                                 1024..1<<30. Default 65536. max_conns * recv_buf_size at most
                                 64 GiB. */
    uint32_t max_time_wait; /**< TIME_WAIT records; when full the oldest one is dropped (counted).
                                 0..1<<20. Default 1024. */
    uint32_t rx_bufs;       /**< receive buffers of the link. 16..65536. Default 512. */
    uint32_t ctrl_bufs;     /**< transmit buffers for pure ACKs and RSTs. 4..65536. Default 64. */
    uint32_t ooo_ranges;    /**< out-of-order islands kept per connection. 1..64. Default 8. */
    bool prefault;          /**< touch every page of the instance's memory (connection state,
                                 receive buffers, the link's transmit buffers) at init, so that
                                 no connection's first segment takes page faults: a first use of
                                 a slot costs about 15 us otherwise. Default true. false keeps
                                 untouched memory virtual (very many, mostly idle connections). */

    /* --- TCP behaviour --- */
    uint32_t syn_retries;    /**< SYN / SYN-ACK retransmissions before the timeout callback.
                                  Default 5. 0..30 */
    uint32_t data_retries;   /**< retransmissions of the same data (and unanswered zero-window
                                  probes that are not ACKed) before the timeout callback.
                                  Default 10. 1..30 */
    uint32_t delayed_ack_us; /**< delayed ACK time in microseconds; 0 = ACK every segment at once.
                                  Default 1000. At most 500000 (RFC 9293 §3.8.6.3). */
    uint32_t min_rto_us;     /**< RTO floor (RFC 6298 §2.4 allows a lower one on a LAN).
                                  Default 5000. >= 100. */
    uint32_t max_rto_us;     /**< RTO ceiling, also during back-off. Default 60000000 (RFC 6298
                                  §2.5). >= min_rto_us. */
    uint32_t initial_rto_us; /**< RTO before the first RTT sample, SYN included. Default 1000000
                                  (RFC 6298 §2.1). Within [min_rto_us, max_rto_us]. */
    bool window_scale;       /**< offer/accept RFC 7323 window scaling. Default true. */
    bool timestamps;         /**< offer/accept RFC 7323 timestamps and PAWS. Default true. */
    bool fast_path;          /**< header prediction: an in-order segment or an ACK of new data on
                                  an ESTABLISHED connection skips the checks it passes by
                                  construction (docs/engine.md). Same replies either way; false
                                  runs every segment through the general path. Default true. */
    efvitcp_cc cc;           /**< congestion control. Default EFVITCP_CC_CUBIC. */
    uint32_t time_wait_ms;   /**< TIME_WAIT duration (2*MSL). Default 60000. 0 = no TIME_WAIT. */
    uint32_t keepalive_ms;   /**< idle time before keepalive probes; 0 = off. Default 0. */
    uint32_t keepalive_intvl_ms; /**< interval between probes. Default 1000. */
    uint32_t keepalive_probes;   /**< unanswered probes before the timeout callback. Default 5. */
    uint16_t mss;                /**< MSS to advertise and upper bound on the MSS used; 0 = derive
                                      from the link MTU and the send slot size. Default 0. */

    /* --- per-connection user state --- */
    uint32_t user_timers;    /**< user timers per connection. 0..64. Default 4. */
    uint32_t user_data_size; /**< bytes of user data per connection, zeroed on each new
                                  connection. 0..1<<20. Default 0. max_conns * user_data_size
                                  at most 64 GiB. */

    /* --- addressing and link --- */
    const char *local_addr; /**< "A.B.C.D/prefix" when the stack owns its address (required for
                                 the mem link). NULL = take it from the kernel (real links). */
    const char *gateway;    /**< "A.B.C.D" next hop for destinations off the local subnet, or
                                 NULL. */
    efvitcp_wire *wire;     /**< the simulated wire that a "mem:NAME" interface attaches to. */
    uint16_t ephemeral_min; /**< lowest ephemeral port. Default 32768. */
    uint16_t ephemeral_max; /**< highest ephemeral port. Default 60999. */

    /* --- randomness, logging --- */
    uint64_t seed; /**< 0 = seed ISN secrets and ports from getrandom(); any other value makes an
                        instance's choices reproducible (tests, simulation). */
    void (*log)(void *log_ctx, int level, const char *msg); /**< may be NULL */
    void *log_ctx;

    /* --- capture --- */
    const char *pcap_path; /**< NULL = off. Otherwise init creates (truncates) this file and the
                                instance writes every frame it receives and sends to it: pcap
                                format with nanosecond timestamps from the instance clock,
                                LINKTYPE_ETHERNET (tshark, Wireshark, tcpdump read it). For
                                debugging: it costs a copy per frame and a write per poll. */

    /* --- added after 0.1.0 (at the end, so older programs keep their layout) --- */
    bool slow_start_after_idle;    /**< RFC 5681 §4.1: after sending nothing for longer than the
                                        RTO, cwnd restarts from the initial window (10 segments),
                                        as Linux does by default. A trading connection that is quiet
                                        between bursts may turn it off, so that a burst after a
                                        quiet spell is not paced by slow start again (at the cost
                                        of sending into a path whose state is no longer known).
                                        Default true. */
    uint32_t fin_wait2_timeout_ms; /**< a connection in FIN-WAIT-2 (our FIN acknowledged, the
                                        peer's not come) whose peer sends nothing for this long
                                        ends with a RST and on_timeout, so that a peer that never
                                        closes cannot hold the slot. 0 = never. Default 60000,
                                        as Linux's tcp_fin_timeout. */

    /* --- SYN flood defence (servers; docs/engine.md "Half-open connections and SYN cookies") */
    /** Passive connections in SYN_RECEIVED at a time (the half-open budget). 0 (the default) =
        max_conns. They share the max_conns slots with established connections but never keep
        one from them: the ACK of a SYN cookie that finds no free slot takes the slot of the
        oldest half-open connection (counted in half_open_evicted). A SYN beyond the budget, or
        finding no free slot, gets a SYN cookie (syn_cookies) or is dropped. 0..max_conns. */
    uint32_t max_half_open;
    /** SYN cookies (RFC 4987 §3.6, encoded as Linux does): no state until the handshake's last
        ACK, which recreates the connection and completes it at once. The cookie keeps the MSS
        (536, 1300, 1440 or 1460: the largest not above the peer's); window scaling survives
        only with timestamps (it travels in our TSval), as in Linux; the handshake's RTT is not
        sampled. A cookie is valid 64 to 128 s. Default EFVITCP_SYN_COOKIES_WHEN_SHORT. */
    efvitcp_syn_cookies syn_cookies;

    /* --- transmit timestamps (efvitcp_tx_timestamps; docs/operations.md "Timestamps") --- */
    /** Reports of sent segments kept per connection until efvitcp_tx_timestamps() takes them:
        0 (the default) = off, which costs nothing; 1..65536. Each segment that carries data, a
        SYN or a FIN gets one when the link reports its transmission complete, retransmissions
        included: the NIC's time with the efvi link's `txts` option, a software stamp (the
        instance clock as the link took the frame, marked EFVITCP_TX_TS_SOFTWARE) elsewhere.
        max_conns * tx_timestamps reports (24 bytes each) at most 64 GiB. */
    uint32_t tx_timestamps;

    /* --- the live view of efvitcp-stat (docs/operations.md "efvitcp-stat") --- */
    /** Publish the instance's counters and connection table in a shared-memory file,
        /dev/shm/efvitcp-stat-PID-N (N: the lowest number free for this process), for the
        efvitcp-stat tool to read. The file is created and sized at init (an init that cannot
        create it logs a warning and runs without it), written by poll once the clock passes
        each stat_interval_ms (no system call: a copy into mapped memory; efvitcp_*_next_timer
        counts the next publish while frames passed since the last, so that an instance in idle
        waits shows what it did before it sleeps), removed at close, and
        removed by efvitcp-stat or the next init of any process once its process is dead. It is
        readable by every user (mode 0644), as /proc/net/tcp is. Default true. */
    bool stat_shm;
    /** How often poll publishes, in milliseconds of the instance clock (the link's, or the time
        given to poll_at). 1..3600000. Default 100. */
    uint32_t stat_interval_ms;
    /** Rows of the published connection table: connections beyond them are counted but not
        listed. 0..1<<20, capped at max_conns. Default 1024. */
    uint32_t stat_max_conns;

    /* --- loss recovery (issue 13; docs/engine.md "Loss recovery") --- */
    /** Selective acknowledgments (RFC 2018): SACK-permitted is offered in our SYN, and answered
        in a SYN-ACK when the peer's SYN offered it. Once both sides agree, our ACKs report the
        out-of-order islands we hold (and duplicates, RFC 2883 D-SACK), and the peer's reports
        drive loss recovery by RFC 6675 (several losses of one window repaired in about one
        round trip, with data flowing both ways too). false: never offered, NewReno recovery
        (RFC 6582) alone, as before. Default true. */
    bool sack;
    /** RACK-TLP (RFC 8985), on connections with SACK: a segment is deemed lost once one sent
        after it was delivered and a reordering window (a quarter of the smallest RTT, widened
        by D-SACKs) has passed, instead of after three duplicate ACKs; a lost retransmission is
        found the same way. And tail loss probes: with data in flight and no ACK for 2 * SRTT,
        one segment (new data, or the last one again) goes so that a lost tail is repaired in
        about two round trips instead of an RTO. false: RFC 6675's DupThresh rules and the RTO
        alone. Default true. */
    bool rack;
    /** The initial congestion window in segments (RFC 6928: min(n * MSS, max(2 * MSS, n *
        1460)) bytes), also the restart window after idle. 0 = RFC 5681 §3.1's 2 to 4 segments
        by MSS. 0..64. Default 10, as Linux. */
    uint32_t initial_window;
} efvitcp_config;

/** Fills the first size bytes of *cfg: the documented defaults for the fields this library
    knows, zero for any beyond them (ABI rules above). */
EFVITCP_API void efvitcp_config_default_sized(efvitcp_config *cfg, size_t size);
/** Fills *cfg with the documented defaults. */
static inline void efvitcp_config_default(efvitcp_config *cfg)
{
    efvitcp_config_default_sized(cfg, sizeof(efvitcp_config));
}

/* ---------------------------------------------------------------------------------------------- */
/* Objects and callbacks                                                                          */
/* ---------------------------------------------------------------------------------------------- */

typedef struct efvitcp_client efvitcp_client;
typedef struct efvitcp_server efvitcp_server;
/**
 * A connection. The pointer stays valid memory for the life of the instance; after the closed,
 * reset or timeout callback (or efvitcp_conn_close()) returns, the slot is free and may be handed
 * out again for a new connection, like a file descriptor.
 */
typedef struct efvitcp_conn efvitcp_conn;

/**
 * The events of an instance. Every pointer may be NULL, which means "ignore". ctx is the pointer
 * given to poll. Connection operations may be called from every callback.
 */
typedef struct efvitcp_handler {
    /** Client: the peer answered our SYN with RST (RFC 9293 §3.10.7.3). The slot is then freed. */
    void (*on_connection_refused)(void *ctx, efvitcp_conn *c);
    /** Server: a SYN arrived for a listening port from an unknown peer. Return true to accept.
        NULL accepts everything. Refused SYNs get a RST. */
    bool (*allow_new_connection)(void *ctx, const struct sockaddr_in *peer, uint16_t local_port);
    /** The three-way handshake completed. */
    void (*on_established)(void *ctx, efvitcp_conn *c);
    /**
     * New in-order bytes. data/len hold the bytes left unconsumed last time followed by the new
     * ones. Return how many bytes at the END were not consumed (0 = all consumed); they are
     * presented again in front of the next data and shrink the advertised window. data is valid
     * only during the call (it may point straight into the NIC's receive buffer).
     */
    uint32_t (*on_data)(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len);
    /** The peer's FIN arrived in order. data/len are the bytes still unconsumed (len may be 0).
        We may still send; call efvitcp_send_fin() to close our side. */
    void (*on_fin)(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len);
    /** Both sides closed and all our data was acknowledged. The slot is freed after return. */
    void (*on_closed)(void *ctx, efvitcp_conn *c);
    /** An acceptable RST arrived from an established connection. The slot is freed after return. */
    void (*on_reset)(void *ctx, efvitcp_conn *c);
    /** SYN, data, probe or keepalive retries ran out (a RST has been sent where the peer could
        still be there). The slot is freed after return. */
    void (*on_timeout)(void *ctx, efvitcp_conn *c);
    /** An ACK freed send space (send slots) of an established connection that may still send. */
    void (*on_more_sendable)(void *ctx, efvitcp_conn *c);
    /** User timer timer_id expired. */
    void (*on_user_timeout)(void *ctx, efvitcp_conn *c, uint32_t timer_id);
    /** Must be NULL: room for future callbacks (ABI rules at the top). */
    void (*reserved[6])(void);
} efvitcp_handler;

/* ---------------------------------------------------------------------------------------------- */
/* Counters                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/** Why an incoming frame or segment was dropped. */
typedef enum efvitcp_drop_reason {
    EFVITCP_DROP_RUNT = 0,      /**< too short for its headers */
    EFVITCP_DROP_ETHERTYPE,     /**< neither IPv4 nor ARP */
    EFVITCP_DROP_NOT_OURS,      /**< destination MAC or IP is not ours */
    EFVITCP_DROP_IP_HEADER,     /**< bad version, IHL or total length; fragment */
    EFVITCP_DROP_IP_CSUM,       /**< bad IPv4 header checksum */
    EFVITCP_DROP_PROTO,         /**< IP protocol other than TCP */
    EFVITCP_DROP_TCP_HEADER,    /**< bad data offset or options */
    EFVITCP_DROP_TCP_CSUM,      /**< bad TCP checksum */
    EFVITCP_DROP_ARP,           /**< malformed or irrelevant ARP */
    EFVITCP_DROP_NO_CONN,       /**< no connection or listener (a RST was sent if allowed) */
    EFVITCP_DROP_BAD_FLAGS,     /**< illegal flag combination (SYN+FIN, SYN+RST, none) */
    EFVITCP_DROP_PAWS,          /**< RFC 7323 §5 PAWS rejected */
    EFVITCP_DROP_OUT_OF_WINDOW, /**< RFC 9293 §3.10.7.4 unacceptable segment */
    EFVITCP_DROP_BAD_ACK,       /**< RFC 5961 §5 unacceptable ACK */
    EFVITCP_DROP_OOO_FULL,      /**< out-of-order island limit reached */
    EFVITCP_DROP_RCVBUF_FULL,   /**< data beyond the receive buffer */
    EFVITCP_DROP_LISTEN_FULL,   /**< SYN while max_conns connections exist and no SYN cookie
                                     may get in (cookies off, or none of them half-open); the
                                     valid ACK of a SYN cookie that finds every slot
                                     synchronised (the peer retransmits and may get in later) */
    EFVITCP_DROP_REFUSED,       /**< allow_new_connection said no */
    EFVITCP_DROP_TX_BUF,        /**< no control buffer free to send an ACK or RST */
    EFVITCP_DROP_BEYOND_FIN,    /**< an out-of-order island beyond the peer's FIN, discarded */
    EFVITCP_DROP_HALF_OPEN,     /**< SYN beyond max_half_open with syn_cookies off */
    EFVITCP_DROP_REASONS        /**< number of reasons */
} efvitcp_drop_reason;

/** Room for drop reasons in efvitcp_stats.drops: new reasons move no other counter. */
#define EFVITCP_DROP_REASONS_MAX 32

/** Counters and state of one instance. */
typedef struct efvitcp_stats {
    uint64_t frames_in, frames_out;
    uint64_t segs_in, segs_out;   /**< TCP segments received / sent (retransmits included) */
    uint64_t bytes_in, bytes_out; /**< payload bytes delivered in order / sent for the first time */
    uint64_t retransmits;         /**< segments retransmitted (RTO, fast, probes) */
    uint64_t rto_events, fast_retransmits;
    uint64_t conns_opened, conns_accepted, conns_closed, conns_reset, conns_timeout;
    uint64_t conns_refused;
    uint64_t rst_sent, challenge_acks;
    uint64_t time_wait_evicted; /**< TIME_WAIT records dropped because the table was full */
    uint64_t time_wait_reused;  /**< RFC 6191 reuse of a TIME_WAIT tuple */
    uint64_t arp_requests_sent, arp_replies_sent;
    uint64_t fast_path; /**< segments taken by header prediction (cfg.fast_path) */
    /** by efvitcp_drop_reason; zero from EFVITCP_DROP_REASONS on */
    uint64_t drops[EFVITCP_DROP_REASONS_MAX];
    uint32_t conns_active; /**< connections in any state but TIME_WAIT */
    uint32_t time_wait_active;

    /* --- added after 0.1.0 (at the end, so older programs keep their layout) --- */
    /* SYN cookies (cfg.syn_cookies) and the half-open budget (cfg.max_half_open) */
    uint64_t syn_cookies_sent;     /**< SYN-ACKs carrying a SYN cookie */
    uint64_t syn_cookies_accepted; /**< connections recreated from the ACK of a SYN cookie */
    uint64_t syn_cookies_rejected; /**< ACKs to a listening port with no connection, checked
                                        as cookies (only within 128 s of the last cookie sent)
                                        and found not ours or too old: answered with RST */
    uint64_t half_open_evicted;    /**< half-open connections freed for a cookie's ACK */
    uint32_t half_open; /**< connections in conns_active that are passive ones in SYN_RECEIVED
                             (cfg.max_half_open) */
    uint64_t tx_timestamps_lost; /**< transmit timestamp reports dropped because the
                                      connection's queue (cfg.tx_timestamps) was full */
    /* SACK (cfg.sack; docs/engine.md "Loss recovery") */
    uint64_t sack_recoveries;     /**< loss recoveries run by RFC 6675 (SACK scoreboard) */
    uint64_t sack_retransmits;    /**< segments those recoveries retransmitted (rescue included) */
    uint64_t sack_blocks_ignored; /**< SACK blocks received and not trusted: outside what we
                                       sent, below SND.UNA (not D-SACK), overlapping another of
                                       the same ACK, inverted, or in a malformed or repeated
                                       option */
    uint64_t dsack_received;      /**< D-SACK blocks received (RFC 2883): a duplicate arrived */
    uint64_t dsack_sent;          /**< ACKs of ours reporting a duplicate segment (RFC 2883) */
    /* RACK-TLP (cfg.rack) and undo */
    uint64_t rack_losses;     /**< segments RACK deemed lost by time (RFC 8985 §6.2) */
    uint64_t tlp_probes;      /**< tail loss probes sent (RFC 8985 §7.3) */
    uint64_t tlp_recoveries;  /**< losses a probe repaired (RFC 8985 §7.4: cwnd reduced) */
    uint64_t spurious_undone; /**< congestion responses undone: D-SACK (RFC 3708) or an
                                   echoed timestamp (RFC 3522) showed them spurious */
    /** Polls that ended at once, finding nothing to do: no frame, completion or timer due, on a
        link that can tell (efvi; the others make every poll a full one). A busy-poll loop's idle
        turns, each a fraction of a full poll's cost. */
    uint64_t polls_quiet;
} efvitcp_stats;

/** TCP states (RFC 9293 §3.3.2). */
typedef enum efvitcp_state {
    EFVITCP_CLOSED = 0,
    EFVITCP_SYN_SENT,
    EFVITCP_SYN_RECEIVED,
    EFVITCP_ESTABLISHED,
    EFVITCP_FIN_WAIT_1,
    EFVITCP_FIN_WAIT_2,
    EFVITCP_CLOSE_WAIT,
    EFVITCP_CLOSING,
    EFVITCP_LAST_ACK,
    EFVITCP_TIME_WAIT,
    EFVITCP_WAIT_ARP, /**< connect() waits for the neighbour to resolve before the SYN */
} efvitcp_state;

/** Counters and state of one connection. */
typedef struct efvitcp_conn_stats {
    efvitcp_state state;
    uint64_t segs_in, segs_out, bytes_in, bytes_out, retransmits;
    uint32_t srtt_us, rttvar_us, rto_us; /**< 0 until the first sample (rto: the initial RTO); rto
                                              includes the back-off of timeouts since the last
                                              sample */
    uint32_t cwnd, ssthresh;             /**< bytes */
    uint32_t snd_wnd, rcv_wnd;           /**< bytes, scaled */
    uint32_t mss;                        /**< send MSS in use */
    uint32_t unacked, queued;            /**< bytes sent but unacknowledged / not yet sent */
    uint32_t recv_held;                  /**< bytes held for the user (unconsumed + out of order) */
    /* --- added after 0.1.0 --- */
    bool sack;                 /**< SACK was negotiated (cfg.sack and the peer's SYN) */
    uint64_t sack_retransmits; /**< segments retransmitted by SACK-based recovery (RFC 6675) */
    uint64_t rack_losses;      /**< segments RACK deemed lost by time (RFC 8985 §6.2) */
    uint64_t tlp_probes;       /**< tail loss probes sent (RFC 8985 §7.3) */
    uint64_t spurious_undone;  /**< congestion responses undone as spurious */
    bool rack;                 /**< RACK-TLP runs on this connection (cfg.rack and SACK) */
} efvitcp_conn_stats;

/** Returns a constant name such as "ESTABLISHED". */
EFVITCP_API const char *efvitcp_state_name(efvitcp_state s);
/** Returns a constant name such as "tcp_csum". */
EFVITCP_API const char *efvitcp_drop_reason_name(efvitcp_drop_reason r);

/* ---------------------------------------------------------------------------------------------- */
/* Client                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

/** efvitcp_client_init() with *cfg of cfg_size bytes (ABI rules at the top). */
EFVITCP_API const char *efvitcp_client_init_sized(efvitcp_client **out, const char *interface,
                                                  const efvitcp_config *cfg, size_t cfg_size);
/**
 * Creates a client on an interface. "mem:NAME" attaches to cfg->wire as endpoint NAME. cfg may be
 * NULL for the defaults. On success *out is set; on failure *out is NULL and the error is returned.
 * All memory of the instance is allocated here.
 */
static inline const char *efvitcp_client_init(efvitcp_client **out, const char *interface,
                                              const efvitcp_config *cfg)
{
    return efvitcp_client_init_sized(out, interface, cfg, sizeof(efvitcp_config));
}
/**
 * Opens a connection to ip:port ("A.B.C.D", host-order port) without blocking: the SYN leaves on
 * this call when the neighbour is known, else after ARP resolves it (inside poll). local_port 0
 * picks a random free ephemeral port. *conn (may be NULL) receives the connection; its result is
 * reported through on_established, on_connection_refused or on_timeout.
 */
EFVITCP_API const char *efvitcp_client_connect(efvitcp_client *cli, const char *ip, uint16_t port,
                                               uint16_t local_port, efvitcp_conn **conn);
/** Runs the instance once, reading the time from the link's clock. Never blocks. A call from
    inside one of this instance's callbacks, of a poll or of efvitcp_client_foreach, does nothing
    (logged once at ERROR): the poll or foreach in progress goes on when the callback returns. */
EFVITCP_API void efvitcp_client_poll(efvitcp_client *cli, const efvitcp_handler *h, void *ctx);
/** Like efvitcp_client_poll() with a caller-supplied time in nanoseconds, on the link's clock:
    CLOCK_MONOTONIC for the real links (a value the program read itself, to save the read), the
    wire's for mem (efvitcp_wire_now). The instance's time never goes back: a now_ns behind the
    time it already has (init takes the link's) stops its timers until now_ns catches up. */
EFVITCP_API void efvitcp_client_poll_at(efvitcp_client *cli, const efvitcp_handler *h, void *ctx,
                                        uint64_t now_ns);
/**
 * Earliest time (ns, link clock) at which the instance needs a poll: a timer due, output waiting
 * for transmit buffers (then the time of the last poll), or a deadline of the link's own (a
 * retry of a failed efvi VI restart, a frame in flight on the mem wire); UINT64_MAX if none. An
 * idle waiter sleeps no longer than this (see "Idle waits" below).
 */
EFVITCP_API uint64_t efvitcp_client_next_timer(const efvitcp_client *cli);
/** Fills the first size bytes of *st with the instance's counters (ABI rules at the top). */
EFVITCP_API void efvitcp_client_stats_sized(const efvitcp_client *cli, efvitcp_stats *st,
                                            size_t size);
/** Fills *st with the instance's counters. */
static inline void efvitcp_client_stats(const efvitcp_client *cli, efvitcp_stats *st)
{
    efvitcp_client_stats_sized(cli, st, sizeof(efvitcp_stats));
}
/** Calls fn for every connection not yet freed (TIME_WAIT excluded). fn is a callback of the
    instance: a poll from it does nothing and a prime returns -1, as from a poll's callbacks. */
EFVITCP_API void efvitcp_client_foreach(efvitcp_client *cli, void (*fn)(void *arg, efvitcp_conn *c),
                                        void *arg);
/** Resets every connection (RST, no callbacks), releases the link and frees all memory. Called
    from inside a callback of the instance (of a poll or of efvitcp_client_foreach), it takes
    effect when that poll or foreach returns (a foreach visits no further connection); the
    instance must not be used after that. */
EFVITCP_API void efvitcp_client_close(efvitcp_client *cli);

/* ---------------------------------------------------------------------------------------------- */
/* Server                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

/** efvitcp_server_init() with *cfg of cfg_size bytes (ABI rules at the top). */
EFVITCP_API const char *efvitcp_server_init_sized(efvitcp_server **out, const char *interface,
                                                  const efvitcp_config *cfg, size_t cfg_size);
/** Creates a server; as efvitcp_client_init(). */
static inline const char *efvitcp_server_init(efvitcp_server **out, const char *interface,
                                              const efvitcp_config *cfg)
{
    return efvitcp_server_init_sized(out, interface, cfg, sizeof(efvitcp_config));
}
/** Starts listening on port (host order). May be called for several ports. */
EFVITCP_API const char *efvitcp_server_listen(efvitcp_server *srv, uint16_t port);
/** Stops listening on port. Its half-open connections (handshake not completed) are reset; its
    established ones are not touched, and a link that steers by port keeps steering their
    segments to the stack until the last one is gone. Called from allow_new_connection for the
    port asked about, the connection is refused. */
EFVITCP_API const char *efvitcp_server_unlisten(efvitcp_server *srv, uint16_t port);
/** As efvitcp_client_poll(). */
EFVITCP_API void efvitcp_server_poll(efvitcp_server *srv, const efvitcp_handler *h, void *ctx);
/** As efvitcp_client_poll_at(). */
EFVITCP_API void efvitcp_server_poll_at(efvitcp_server *srv, const efvitcp_handler *h, void *ctx,
                                        uint64_t now_ns);
/** As efvitcp_client_next_timer(). */
EFVITCP_API uint64_t efvitcp_server_next_timer(const efvitcp_server *srv);
/** As efvitcp_client_stats_sized(). */
EFVITCP_API void efvitcp_server_stats_sized(const efvitcp_server *srv, efvitcp_stats *st,
                                            size_t size);
/** As efvitcp_client_stats(). */
static inline void efvitcp_server_stats(const efvitcp_server *srv, efvitcp_stats *st)
{
    efvitcp_server_stats_sized(srv, st, sizeof(efvitcp_stats));
}
/** As efvitcp_client_foreach(). */
EFVITCP_API void efvitcp_server_foreach(efvitcp_server *srv, void (*fn)(void *arg, efvitcp_conn *c),
                                        void *arg);
/** Number of connections (SYN_RECEIVED included, TIME_WAIT excluded). */
EFVITCP_API uint32_t efvitcp_server_conn_count(const efvitcp_server *srv);
/** Resets every connection, releases the link and frees all memory; from inside a callback, as
    efvitcp_client_close(). */
EFVITCP_API void efvitcp_server_close(efvitcp_server *srv);

/* ---------------------------------------------------------------------------------------------- */
/* Idle waits                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

/*
 * Instead of busy polling, a thread may sleep until a frame arrives or a timer is due, in
 * epoll/poll/select with its other file descriptors. The protocol, race-free (docs/operations.md):
 *
 *     int fd = efvitcp_server_fd(srv);        // once: add it to an epoll set (EPOLLIN)
 *     for (;;) {
 *         efvitcp_server_poll(srv, &h, ctx);   // as many times as the caller likes
 *         int r = efvitcp_server_prime(srv);   // 1. arm
 *         if (r != 0) continue;                // 2. work already waits (1) or cannot sleep (-1):
 *                                              //    poll again (re-poll) instead of sleeping
 *         uint64_t t = efvitcp_server_next_timer(srv);  // 3. after the last poll and the prime
 *         epoll_wait(ep, ev, n, ms_until(t));  // 4. sleep: readable fd, timer or timeout
 *     }
 *
 * A frame that arrives before the prime is seen by it (1: poll again; on efvi the fd is readable
 * at once instead); one that arrives after it makes the fd readable; a timer, deferred output or
 * a deadline of the link is in next_timer(). Anything the caller does to the instance between
 * the prime and the sleep (a send, a timer armed, a connect) may need a poll: prime again after
 * it. Round the timeout up, never down (epoll_wait's is in ms; a timerfd or epoll_pwait2 gives
 * ns). The prime drains the fd's earlier readiness, so the fd is level-triggered per arming: a
 * wake-up for which the poll finds nothing is harmless. Calls from inside a callback (of a poll or
 * of a foreach) return -1.
 *
 * By link: mem, an eventfd the wire writes when a frame is queued for the armed endpoint (one
 * thread drives a wire: useful for tests and for single-threaded programs); shm, a doorbell the
 * peer process rings only when this side armed it (an abstract AF_UNIX datagram socket; both
 * processes in one network namespace); packet, the AF_PACKET socket; xdp, the AF_XDP socket
 * (the fill ring's need-wakeup is honoured before sleeping); efvi, the driver handle after
 * ef_vi_prime() (an interrupt per arming).
 */

/** The file descriptor to wait on for POLLIN (see "Idle waits"); -1 if the link has none. It
    belongs to the instance: do not read, write or close it. Valid until efvitcp_client_close. */
EFVITCP_API int efvitcp_client_fd(const efvitcp_client *cli);
/** Arms the fd for the next frame. 0: armed and nothing to do now, sleep until the fd is
    readable or efvitcp_client_next_timer(); 1: work already waits, poll instead of sleeping;
    -1: the link cannot wake a sleeper (busy-poll), or called from a callback (of a poll or of
    efvitcp_client_foreach). Never blocks. */
EFVITCP_API int efvitcp_client_prime(efvitcp_client *cli);
/** As efvitcp_client_fd(). */
EFVITCP_API int efvitcp_server_fd(const efvitcp_server *srv);
/** As efvitcp_client_prime(). */
EFVITCP_API int efvitcp_server_prime(efvitcp_server *srv);

/* ---------------------------------------------------------------------------------------------- */
/* Connection operations                                                                          */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Queues up to len bytes and returns how many were accepted (0..len; less when the send ring is
 * full). With more=false what is queued leaves as soon as the windows allow; with more=true a
 * partly filled segment waits for more data (like MSG_MORE) until a send with more=false, or until
 * the ACK of what is in flight arrives; with nothing in flight, at most 200 ms (Linux's bound on
 * TCP_CORK), so that a last send left with more=true is never held for ever. Returns 0 unless the
 * connection may send (established or CLOSE_WAIT, before send_fin). Called outside a poll with
 * more=false, the segments it let go leave before it returns: the link's doorbell rings (a system
 * call on packet and on xdp in copy mode); inside a poll's callbacks the poll rings it once for all
 * of them.
 */
EFVITCP_API uint32_t efvitcp_send(efvitcp_conn *c, const void *data, uint32_t len, bool more);
/** As efvitcp_send() for a gather list; returns the bytes accepted. */
EFVITCP_API uint32_t efvitcp_sendv(efvitcp_conn *c, const struct iovec *iov, int iovcnt, bool more);
/** Bytes that send() would accept now. */
EFVITCP_API uint32_t efvitcp_sendable(const efvitcp_conn *c);
/** Bytes that would leave at once, within the peer's window and cwnd, if sent now. */
EFVITCP_API uint32_t efvitcp_immediately_sendable(const efvitcp_conn *c);
/**
 * Closes our direction after the queued data (like shutdown(SHUT_WR)). Never turns into a RST: if
 * the ring is full the FIN waits for room. Returns an error if the connection cannot send a FIN.
 */
EFVITCP_API const char *efvitcp_send_fin(efvitcp_conn *c);
/** Aborts the connection: sends a RST when the peer may be there, frees the slot, no callback. */
EFVITCP_API void efvitcp_conn_close(efvitcp_conn *c);
/**
 * Arms user timer timer_id (0..user_timers-1) to fire after ms milliseconds, replacing an armed
 * one. ms = 0 cancels it. No clamping: any duration up to 2^63 ns is honoured. An error on a freed
 * connection, or from its terminal callback (the slot's timers go with it).
 */
EFVITCP_API const char *efvitcp_set_user_timer(efvitcp_conn *c, uint32_t timer_id, uint64_t ms);
/** As efvitcp_set_user_timer() in nanoseconds (sub-millisecond timers). */
EFVITCP_API const char *efvitcp_set_user_timer_ns(efvitcp_conn *c, uint32_t timer_id, uint64_t ns);
/** Cancels user timer timer_id; no effect if not armed. */
EFVITCP_API void efvitcp_cancel_user_timer(efvitcp_conn *c, uint32_t timer_id);
/**
 * The bytes held for the user (unconsumed by on_data); *data points at them. Lets a slow reader
 * catch up without new data arriving; pair with efvitcp_consume().
 */
EFVITCP_API uint32_t efvitcp_unread(const efvitcp_conn *c, const uint8_t **data);
/**
 * Marks n bytes at the front of the held bytes consumed (at most all of them) and reopens the
 * window. May be called inside on_data: it then takes from the held bytes as efvitcp_unread()
 * shows them there (during a zero-copy delivery nothing is held), and on_data's return value
 * keeps at most the bytes still unconsumed; consumed bytes never come again.
 */
EFVITCP_API void efvitcp_consume(efvitcp_conn *c, uint32_t n);
/**
 * The NIC's hardware receive timestamp, in ns of the NIC clock, of the frame being processed:
 * inside on_data it is the arrival time of the segment whose bytes made the data deliverable
 * (the newest bytes, or the segment that filled a hole), inside on_fin that of the FIN.
 * 0 when the link gives no timestamps (only the efvi link with the `rxts` option does), when the
 * NIC had none for that frame, and outside frame processing (timer callbacks, efvitcp_unread).
 * c is unused today (the value is per frame) but keeps the door open for per-connection stamps.
 */
EFVITCP_API uint64_t efvitcp_rx_hw_timestamp(const efvitcp_conn *c);
/** What a transmit timestamp report says (efvitcp_tx_report.flags). */
enum {
    EFVITCP_TX_TS_HARDWARE = 1u << 0,  /**< ts_ns is the NIC's time as the frame left (NIC clock) */
    EFVITCP_TX_TS_SOFTWARE = 1u << 1,  /**< ts_ns is the instance clock as the link took the frame:
                                            a fallback on links without transmit timestamps */
    EFVITCP_TX_TS_CLOCK_SET = 1u << 2, /**< hardware: the NIC clock had been set from the system */
    EFVITCP_TX_TS_IN_SYNC = 1u << 3,   /**< hardware: the NIC clock was in sync (PTP) */
    EFVITCP_TX_TS_NONE = 1u << 4,      /**< the link completed the frame without a time (a VI
                                            restart, a NIC that gave none): ts_ns is 0 */
    EFVITCP_TX_TS_RETRANSMIT = 1u << 5, /**< the segment was sent before (a retransmission) */
    EFVITCP_TX_TS_SYN = 1u << 6,        /**< the segment carries our SYN (start 0, bytes 0) */
    EFVITCP_TX_TS_FIN = 1u << 7,        /**< the segment carries our FIN (after its bytes) */
    EFVITCP_TX_TS_LOST = 1u << 8, /**< reports before this one were dropped: the queue was full
                                       (efvitcp_stats.tx_timestamps_lost counts them) */
};

/** One sent segment and when it left. */
typedef struct efvitcp_tx_report {
    uint64_t ts_ns; /**< see flags: NIC time, instance clock time, or 0 */
    uint64_t start; /**< stream offset of its first data byte: 0 is the first byte ever sent on
                         the connection (efvitcp_tx_offset() tells a message's offset as it is
                         sent); 64 bits, so it never wraps */
    uint32_t bytes; /**< data bytes it carries (0 for a bare SYN or FIN) */
    uint32_t flags; /**< EFVITCP_TX_TS_* */
} efvitcp_tx_report;

/**
 * Takes up to max transmit timestamp reports of c, oldest first, into out; returns how many.
 * Needs cfg.tx_timestamps > 0 (else always 0). A report is made when the link reports a segment's
 * transmission complete, in the poll that reaps it, so the report of a send made now comes in a
 * later poll (efvi: when the NIC's completion event arrives; mem, shm and packet: the next poll).
 * Every transmission of a segment gets its own report, retransmissions flagged. To find when a
 * message left, note efvitcp_tx_offset() before sending it and look for the report whose
 * [start, start + bytes) holds that offset. Reports of a connection are dropped when it is freed.
 */
EFVITCP_API int efvitcp_tx_timestamps(efvitcp_conn *c, efvitcp_tx_report *out, int max);
/** The stream offset the next byte sent on c will have: the number of bytes accepted by the
    efvitcp_send* calls on c so far. */
EFVITCP_API uint64_t efvitcp_tx_offset(const efvitcp_conn *c);

/** user_data_size bytes of user memory, zeroed when the connection is created. */
EFVITCP_API void *efvitcp_user_data(efvitcp_conn *c);
/** The peer's address and port (sin_family is set). */
EFVITCP_API void efvitcp_peername(const efvitcp_conn *c, struct sockaddr_in *addr);
/** Our local port (host order). */
EFVITCP_API uint16_t efvitcp_local_port(const efvitcp_conn *c);
/** A small integer, unique among live connections of the instance, reused like an fd. */
EFVITCP_API uint32_t efvitcp_conn_id(const efvitcp_conn *c);
/** True in ESTABLISHED, FIN_WAIT_1/2, CLOSE_WAIT, CLOSING, LAST_ACK. */
EFVITCP_API bool efvitcp_is_established(const efvitcp_conn *c);
/** True when the slot holds no connection. */
EFVITCP_API bool efvitcp_is_closed(const efvitcp_conn *c);
/** Fills the first size bytes of *st with the connection's counters and state (ABI rules). */
EFVITCP_API void efvitcp_conn_get_stats_sized(const efvitcp_conn *c, efvitcp_conn_stats *st,
                                              size_t size);
/** Fills *st with the connection's counters and state. */
static inline void efvitcp_conn_get_stats(const efvitcp_conn *c, efvitcp_conn_stats *st)
{
    efvitcp_conn_get_stats_sized(c, st, sizeof(efvitcp_conn_stats));
}

/* ---------------------------------------------------------------------------------------------- */
/* The simulated wire of the mem link                                                             */
/* ---------------------------------------------------------------------------------------------- */

/** How a wire carries frames. */
typedef struct efvitcp_wire_config {
    bool virtual_clock;     /**< true: time moves only by efvitcp_wire_set_now(); false: the
                                 wire's clock is CLOCK_MONOTONIC. Default true. */
    uint64_t latency_ns;    /**< one-way propagation delay. Default 0. */
    uint64_t bandwidth_bps; /**< serialisation rate per sender; 0 = infinite. Default 0. */
    uint32_t queue_bytes;   /**< drop-tail queue per sender when bandwidth-limited. Default
                                 1000000. */
    uint32_t mtu;           /**< IP MTU; longer frames are dropped. 576..9000. Default 1500. */
    uint32_t max_frames;    /**< frames in flight on the whole wire. Default 65536. */
    uint32_t max_ports;     /**< endpoints that may attach. 2..250. Default 8. */
    uint64_t seed;          /**< seeds the fault generators: one stream per sending endpoint,
                                 derived from seed and the endpoint's port number (attach
                                 order). Every value, 0 included, replays identically.
                                 Default 0. */
} efvitcp_wire_config;

/** Fills the first size bytes of *cfg: the defaults, zero beyond the fields this library knows. */
EFVITCP_API void efvitcp_wire_config_default_sized(efvitcp_wire_config *cfg, size_t size);
/** Fills *cfg with the defaults. */
static inline void efvitcp_wire_config_default(efvitcp_wire_config *cfg)
{
    efvitcp_wire_config_default_sized(cfg, sizeof(efvitcp_wire_config));
}
/** efvitcp_wire_new() with *cfg of cfg_size bytes (ABI rules at the top). */
EFVITCP_API const char *efvitcp_wire_new_sized(efvitcp_wire **out, const efvitcp_wire_config *cfg,
                                               size_t cfg_size);
/** Creates a wire (cfg NULL = defaults). */
static inline const char *efvitcp_wire_new(efvitcp_wire **out, const efvitcp_wire_config *cfg)
{
    return efvitcp_wire_new_sized(out, cfg, sizeof(efvitcp_wire_config));
}
/** Frees a wire; every instance attached to it must be closed first. */
EFVITCP_API void efvitcp_wire_free(efvitcp_wire *w);
/** The wire's current time in ns. */
EFVITCP_API uint64_t efvitcp_wire_now(const efvitcp_wire *w);
/** Moves a virtual clock forward to now_ns (never backwards). */
EFVITCP_API void efvitcp_wire_set_now(efvitcp_wire *w, uint64_t now_ns);
/** Delivery time of the earliest frame in flight, UINT64_MAX if none. */
EFVITCP_API uint64_t efvitcp_wire_next_delivery(const efvitcp_wire *w);
/** Frames carried and dropped (by queue overflow, MTU, a full receiver, or injected loss and
    partitions). */
EFVITCP_API void efvitcp_wire_counts(const efvitcp_wire *w, uint64_t *delivered, uint64_t *dropped);

/**
 * Impairments of the frames one endpoint sends (one direction of a point-to-point path), for
 * testing: every draw comes from the sending endpoint's seeded generator, so a run replays bit
 * for bit. Zero everywhere (memset) means a perfect wire. Per frame, in this order: the MTU, the
 * sender's bandwidth queue, the partition, Bernoulli loss, Gilbert-Elliott loss, duplication;
 * then per arriving copy the jitter and the corruptions. Every injected fault is counted.
 */
typedef struct efvitcp_wire_faults {
    double loss; /**< probability that a frame is lost, 0..1 */
    /* Gilbert-Elliott burst loss: a two-state Markov chain stepped once per frame sent. */
    double ge_enter_bad; /**< P(good -> bad) per frame; 0 keeps the chain in good */
    double ge_leave_bad; /**< P(bad -> good) per frame; the mean burst is 1/ge_leave_bad frames */
    double ge_loss_good; /**< loss probability in the good state */
    double ge_loss_bad;  /**< loss probability in the bad state */
    double duplicate;    /**< probability that a frame arrives twice (each copy jittered alone) */
    uint64_t jitter_mean_ns; /**< mean of an exponential extra delay of each copy, on top of the
                                  latency: later frames overtake earlier ones. 0 = none */
    uint64_t jitter_max_ns;  /**< cap on that delay; 0 = no cap */
    /** Probability that one random bit of an IPv4 frame (IP header onwards) is flipped and the
        checksums are left alone: the receiver's checksum check must catch every one. */
    double corrupt;
    /**
     * Probability that one bit of the TCP header of a TCP/IPv4 frame is flipped and the checksum
     * is recomputed, so that the corruption reaches TCP. The bit is drawn among the fields a
     * receiver must survive without losing stream integrity: the ports, the top 4 bits of the
     * sequence and acknowledgment numbers (far outside any window below 256 MiB), the reserved
     * bits, the CWR/ECE/URG/ACK/PSH/SYN flags, the window and the urgent pointer. The other bits
     * (low sequence bits, FIN, RST, data offset, options, payload) yield a segment no TCP can
     * tell from a genuine one. A flipped sequence number on a SYN or SYN-ACK is such a segment
     * too: that connection is lost by design (the receiver took a wrong initial number).
     */
    double corrupt_fixed;
    bool partition; /**< drop everything the endpoint sends (a cut cable, a dead switch port) */
    uint32_t mtu;   /**< IP MTU of the endpoint's frames, 68..the wire's mtu (longer ones are
                         dropped, as with the wire's mtu); 0 = the wire's */
    /** The endpoint's link refuses the next tx_refuse frames handed to it, as a NIC whose
        transmit ring is full, and takes the ones after: a stack must keep what it could not
        send and send it in a later poll. Counts down as frames are refused; 0 = none. For
        instances on "mem:" links, whose transmit then fails. */
    uint32_t tx_refuse;
} efvitcp_wire_faults;

/** efvitcp_wire_set_faults() with *f of f_size bytes (ABI rules at the top). */
EFVITCP_API const char *efvitcp_wire_set_faults_sized(efvitcp_wire *w, const char *endpoint_name,
                                                      const efvitcp_wire_faults *f, size_t f_size);
/**
 * Sets the impairments of the frames that endpoint endpoint_name (the NAME of "mem:NAME") sends,
 * from the next frame on; f NULL clears them. Frames already in flight are not touched. Never
 * allocates. Returns NULL or an error (unknown endpoint, a probability outside 0..1, bad mtu).
 */
static inline const char *efvitcp_wire_set_faults(efvitcp_wire *w, const char *endpoint_name,
                                                  const efvitcp_wire_faults *f)
{
    return efvitcp_wire_set_faults_sized(w, endpoint_name, f, sizeof(efvitcp_wire_faults));
}

#ifdef __cplusplus
}
#endif
#endif
