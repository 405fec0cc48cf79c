/*
 * Congestion control: none, NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438). The connection
 * owns an et_cc and calls these hooks; loss detection and retransmission stay in the engine, which
 * reads cwnd but never writes cwnd or ssthresh: every change goes through a hook.
 * Byte-counting throughout (RFC 3465 appropriate byte counting with L = 2*SMSS in slow start).
 */
#ifndef EFVITCP_CC_H
#define EFVITCP_CC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct et_cc {
    int algo; /**< efvitcp_cc */
    uint32_t smss;
    uint32_t cwnd;        /**< bytes */
    uint32_t ssthresh;    /**< bytes */
    uint32_t bytes_acked; /**< NewReno congestion-avoidance byte counter */
    /* CUBIC (RFC 9438 §4) */
    uint64_t epoch_ns; /**< start of the current congestion-avoidance epoch, 0 = none */
    uint64_t grow_ns;  /**< the epoch's last growth (et_cc_on_ack in avoidance) */
    double w_max;      /**< segments */
    double k;          /**< seconds */
    double w_est;      /**< segments, RFC 9438 §4.3 */
    double cwnd_inc;   /**< fractional segments carried between ACKs */
    uint32_t iw_segs;  /**< initial window in segments; 0 = RFC 5681 §3.1's (2 to 4 by SMSS) */
} et_cc;

/** Initial window per RFC 5681 §3.1 (RFC 3390 sizes). */
void et_cc_init(et_cc *cc, int algo, uint32_t smss);
/** The same with an initial window of iw_segs segments (RFC 6928: 10); 0 = RFC 5681's. */
void et_cc_init_iw(et_cc *cc, int algo, uint32_t smss, uint32_t iw_segs);
/** The MSS changed (after the handshake). */
void et_cc_set_smss(et_cc *cc, uint32_t smss);
/**
 * New data acknowledged outside recovery: acked bytes, smoothed RTT in ns (0 if none yet), now.
 * Grows cwnd by slow start or congestion avoidance.
 */
void et_cc_on_ack(et_cc *cc, uint32_t acked, uint64_t srtt_ns, uint64_t now_ns);
/** Entering fast recovery (RFC 6582 §3.2 step 2): flight = bytes in flight. Sets ssthresh and
    cwnd = ssthresh + 3*SMSS; the caller then adds SMSS to cwnd per further duplicate ACK. */
void et_cc_on_fast_loss(et_cc *cc, uint32_t flight, uint64_t now_ns);
/** Entering SACK-based loss recovery (RFC 6675 §5 step 4.2): ssthresh as for fast recovery
    (RFC 5681 eqn 4; CUBIC: RFC 9438 §4.6), and cwnd = ssthresh without inflation: pipe, not
    cwnd, counts the segments that left the network. */
void et_cc_on_sack_loss(et_cc *cc, uint32_t flight, uint64_t now_ns);
/** A further duplicate ACK in fast recovery (RFC 6582 §3.2 step 4): a segment left the network,
    cwnd grows by SMSS. */
void et_cc_on_dupack(et_cc *cc);
/** A partial ACK in fast recovery (RFC 6582 §3.2 step 5) of acked bytes: deflate cwnd by them,
    add back SMSS if at least SMSS was acknowledged, never below SMSS. */
void et_cc_on_partial_ack(et_cc *cc, uint32_t acked);
/** Leaving fast recovery on a full ACK (RFC 6582 §3.2 step 3): flight after the ACK. */
void et_cc_on_recovery_exit(et_cc *cc, uint32_t flight);
/** The end of SACK-based recovery (RFC 6675 §5): cwnd = ssthresh. */
void et_cc_on_sack_recovery_exit(et_cc *cc);
/** Retransmission timeout (RFC 5681 §3.1 eqn 4, cwnd = 1 SMSS; CUBIC: RFC 9438 §4.8). */
void et_cc_on_rto(et_cc *cc, uint32_t flight, uint64_t now_ns);
/** Retransmission timeout in a loss recovery that reduced ssthresh for this congestion event
    already: cwnd = 1 SMSS, ssthresh kept (CUBIC: RFC 9438 §4.8's curve reset). */
void et_cc_on_rto_in_recovery(et_cc *cc);
/** A congestion response proved spurious (RFC 4015 §3.2): cwnd and ssthresh back to at least
    what they were in prior, the CUBIC curve as it was. */
void et_cc_undo(et_cc *cc, const et_cc *prior);
/** The connection was idle for longer than an RTO (RFC 5681 §4.1 restart window). */
void et_cc_on_idle_restart(et_cc *cc);

#endif
