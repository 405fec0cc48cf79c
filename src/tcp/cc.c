/*
 * Congestion control: none, NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438).
 *
 * cwnd and ssthresh are bytes; the CUBIC curve is computed in segments with doubles, as RFC 9438
 * states it. The hooks are the only writers of cwnd and ssthresh. Each one still first repairs the
 * state (a cheap clamp, a no-op on any state the hooks produced), so that a state set from outside,
 * as the unit tests do, can never turn into a stall, a NaN or an overflow later.
 */
#include "tcp/cc.h"

#include <math.h>

#include "efvitcp/efvitcp.h"

#define CC_MAX 0x7fffffffu /* "arbitrarily high" (RFC 5681 §3.1); also keeps sums in 32 bits */

/* RFC 9438 §4.1 constants. */
#define CUBIC_C    0.4
#define CUBIC_BETA 0.7
/* RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta) gives Reno's average rate. */
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))

static uint32_t clamp_u64(uint64_t v, uint32_t lo, uint32_t hi)
{
    if (v < lo) return lo;
    if (v > hi) return hi;
    return (uint32_t)v;
}

static uint32_t clamp_dbl(double v, uint32_t lo, uint32_t hi)
{
    /* NaN fails both comparisons, so it must be caught before the cast (which would be UB). */
    if (!(v >= (double)lo)) return lo;
    if (!(v <= (double)hi)) return hi;
    return (uint32_t)v;
}

static double sane_dbl(double v)
{
    return isfinite(v) && v > 0.0 ? v : 0.0;
}

/* The MSS option is 16 bits (RFC 9293 §3.1), so anything larger is corrupt; 0 would make every
   window 0 and stall the connection for good. */
static uint32_t sane_smss(uint32_t smss)
{
    if (smss == 0) return 1;
    if (smss > 65535) return 65535;
    return smss;
}

/* RFC 6928 §2 with iw_segs (10) segments: min(iw_segs * SMSS, max(2 * SMSS, 14600)) scaled
   to iw_segs; otherwise RFC 5681 §3.1 (the RFC 3390 sizes). */
static uint32_t initial_window_of(uint32_t smss, uint32_t iw_segs)
{
    if (iw_segs) {
        uint64_t cap = (uint64_t)iw_segs * 1460;
        uint64_t w = (uint64_t)iw_segs * smss;
        if (w > cap) w = cap > 2ull * smss ? cap : 2ull * smss;
        return clamp_u64(w, smss, CC_MAX);
    }
    if (smss > 2190) return 2 * smss;
    if (smss > 1095) return 3 * smss;
    return 4 * smss;
}

static uint32_t initial_window(const et_cc *cc)
{
    return initial_window_of(cc->smss, cc->iw_segs);
}

static bool cc_active(const et_cc *cc)
{
    return cc->algo == EFVITCP_CC_NEWRENO || cc->algo == EFVITCP_CC_CUBIC;
}

static void repair(et_cc *cc)
{
    cc->smss = sane_smss(cc->smss);
    if (!cc_active(cc)) {
        cc->cwnd = CC_MAX;
        cc->ssthresh = CC_MAX;
        return;
    }
    cc->cwnd = clamp_u64(cc->cwnd, cc->smss, CC_MAX);
    cc->ssthresh = clamp_u64(cc->ssthresh, 2 * cc->smss, CC_MAX);
    cc->w_max = sane_dbl(cc->w_max);
    cc->k = sane_dbl(cc->k);
    cc->w_est = sane_dbl(cc->w_est);
    cc->cwnd_inc = sane_dbl(cc->cwnd_inc);
}

void et_cc_init(et_cc *cc, int algo, uint32_t smss)
{
    et_cc_init_iw(cc, algo, smss, 0);
}

void et_cc_init_iw(et_cc *cc, int algo, uint32_t smss, uint32_t iw_segs)
{
    *cc = (et_cc){0};
    cc->algo = algo;
    cc->iw_segs = iw_segs;
    cc->smss = sane_smss(smss);
    if (!cc_active(cc)) {
        /* Unknown values behave as NONE: no window is safer than a window from garbage. */
        cc->algo = EFVITCP_CC_NONE;
        cc->cwnd = CC_MAX;
        cc->ssthresh = CC_MAX;
        return;
    }
    cc->cwnd = initial_window(cc);
    cc->ssthresh = CC_MAX;
}

void et_cc_set_smss(et_cc *cc, uint32_t smss)
{
    repair(cc);
    uint32_t old_iw = initial_window(cc);
    cc->smss = sane_smss(smss);
    if (!cc_active(cc)) return;
    /* cwnd still equal to the old IW with no loss seen means nothing was acknowledged yet, so
       the window is still the initial one and must follow the negotiated MSS. */
    if (cc->cwnd == old_iw && cc->ssthresh == CC_MAX) {
        cc->cwnd = initial_window(cc);
        cc->bytes_acked = 0;
    }
    repair(cc);
}

static void slow_start(et_cc *cc, uint32_t acked)
{
    /* RFC 3465 §2.2 with L = 2*SMSS: a stretch ACK must not open the window in one burst. */
    uint32_t inc = acked < 2 * cc->smss ? acked : 2 * cc->smss;
    cc->cwnd = clamp_u64((uint64_t)cc->cwnd + inc, cc->smss, CC_MAX);
}

static void newreno_avoid(et_cc *cc, uint32_t acked)
{
    /* RFC 3465 §2.1 byte counting: one SMSS per cwnd of acknowledged bytes. Saturating so a
       hostile acked count cannot wrap the counter into a small value. */
    cc->bytes_acked = clamp_u64((uint64_t)cc->bytes_acked + acked, 0, CC_MAX);
    if (cc->bytes_acked >= cc->cwnd) {
        cc->bytes_acked -= cc->cwnd;
        cc->cwnd = clamp_u64((uint64_t)cc->cwnd + cc->smss, cc->smss, CC_MAX);
    }
}

/* RFC 9438 §4.2 eqn 1, in segments. */
static double w_cubic(const et_cc *cc, double t)
{
    double d = t - cc->k;
    return CUBIC_C * d * d * d + cc->w_max;
}

static void cubic_epoch_start(et_cc *cc, uint64_t now_ns)
{
    double cwnd = (double)cc->cwnd / cc->smss;
    /* 0 means "no epoch", so a start at time 0 is recorded as 1 ns. */
    cc->epoch_ns = now_ns ? now_ns : 1;
    if (cc->w_max > cwnd) {
        /* §4.2 eqn 2 with cwnd_epoch: the curve reaches W_max again after K seconds. */
        cc->k = cbrt((cc->w_max - cwnd) / CUBIC_C);
    } else {
        /* No useful W_max: the first stage after a timeout (§4.8) or without any loss. The
           curve starts convex at the current window. */
        cc->w_max = cwnd;
        cc->k = 0.0;
    }
    /* §4.3 and §4.8: the Reno estimate starts from the window at the start of the stage. */
    cc->w_est = cwnd;
    cc->cwnd_inc = 0.0;
}

static void cubic_avoid(et_cc *cc, uint32_t acked, uint64_t srtt_ns, uint64_t now_ns)
{
    if (cc->epoch_ns == 0) {
        cubic_epoch_start(cc, now_ns);
    } else if (srtt_ns && cc->grow_ns >= cc->epoch_ns && now_ns > cc->grow_ns &&
               now_ns - cc->grow_ns > srtt_ns) {
        /* RFC 9438 §5.8: time in which the window was not used (idle, or limited by the
           application or the peer's window: the engine does not call this hook then, RFC 7661)
           is not time on the curve. A window-limited flow is ACKed at least once per round
           trip, so a longer gap is such time, less the round trip the first new data took.
           Linux shifts the epoch by the idle time when sending restarts; this also covers
           the time a flow spent application-limited. */
        cc->epoch_ns += now_ns - cc->grow_ns - srtt_ns;
    }
    cc->grow_ns = now_ns;

    double smss = cc->smss;
    double cwnd = (double)cc->cwnd / smss;
    double segs = (double)acked / smss;
    /* A clock that went backwards gives t = 0, not a negative time that would shrink target. */
    double t = now_ns > cc->epoch_ns ? (double)(now_ns - cc->epoch_ns) * 1e-9 : 0.0;
    /* Without an RTT sample there is no lookahead; a guessed RTT would be wrong for a LAN. */
    double rtt = (double)srtt_ns * 1e-9;

    cc->w_est += CUBIC_ALPHA * segs / cwnd;
    if (!isfinite(cc->w_est)) cc->w_est = cwnd;

    if (w_cubic(cc, t) < cc->w_est) {
        /* §4.3 Reno-friendly region: follow Reno. Never shrink, since cwnd may already be above
           W_est after following the cubic target with its RTT lookahead. */
        if (cc->w_est > cwnd) cc->cwnd = clamp_dbl(cc->w_est * smss, cc->smss, CC_MAX);
        cc->cwnd_inc = 0.0;
        return;
    }

    /* §4.4 and §4.5: aim at W_cubic one RTT ahead, bounded to [cwnd, 1.5 cwnd]. */
    double target = w_cubic(cc, t + rtt);
    if (!(target >= cwnd)) target = cwnd; /* also catches NaN */
    if (target > 1.5 * cwnd) target = 1.5 * cwnd;

    cc->cwnd_inc += (target - cwnd) / cwnd * segs;
    if (!isfinite(cc->cwnd_inc) || cc->cwnd_inc < 0.0) cc->cwnd_inc = 0.0;
    if (cc->cwnd_inc >= 1.0) {
        double whole = floor(cc->cwnd_inc);
        cc->cwnd_inc -= whole;
        cc->cwnd = clamp_dbl((double)cc->cwnd + whole * smss, cc->smss, CC_MAX);
    }
}

void et_cc_on_ack(et_cc *cc, uint32_t acked, uint64_t srtt_ns, uint64_t now_ns)
{
    repair(cc);
    if (!cc_active(cc) || acked == 0) return;
    /* RFC 5681 §3.1: slow start below ssthresh, congestion avoidance from it on. */
    if (cc->cwnd < cc->ssthresh) {
        slow_start(cc, acked);
        /* A CUBIC stage begins when slow start ends; a stale epoch would make t jump. */
        cc->epoch_ns = 0;
        return;
    }
    if (cc->algo == EFVITCP_CC_NEWRENO)
        newreno_avoid(cc, acked);
    else
        cubic_avoid(cc, acked, srtt_ns, now_ns);
}

/* RFC 9438 §4.6 and §4.7 (fast convergence): W_max in segments from the window at the loss. */
static void cubic_loss(et_cc *cc)
{
    double cwnd = (double)cc->cwnd / cc->smss;
    if (cwnd < cc->w_max)
        cc->w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
    else
        cc->w_max = cwnd;
    cc->epoch_ns = 0;
    cc->cwnd_inc = 0.0;
}

/* New ssthresh after a loss. RFC 5681 §3.1 eqn 4 for Reno; RFC 9438 §4.6 for CUBIC, which uses
   the flight size rather than cwnd because nothing here stops cwnd growing while the sender is
   application-limited. */
static uint32_t loss_ssthresh(const et_cc *cc, uint32_t flight)
{
    double reduced = cc->algo == EFVITCP_CC_CUBIC ? (double)flight * CUBIC_BETA : flight / 2;
    return clamp_dbl(reduced, 2 * cc->smss, CC_MAX);
}

void et_cc_on_fast_loss(et_cc *cc, uint32_t flight, uint64_t now_ns)
{
    repair(cc);
    if (!cc_active(cc)) return;
    if (cc->algo == EFVITCP_CC_CUBIC) cubic_loss(cc);
    cc->ssthresh = loss_ssthresh(cc, flight);
    /* RFC 6582 §3.2 step 2: the three duplicate ACKs left the network. */
    cc->cwnd = clamp_u64((uint64_t)cc->ssthresh + 3 * cc->smss, cc->smss, CC_MAX);
    cc->bytes_acked = 0;
}

void et_cc_on_sack_loss(et_cc *cc, uint32_t flight, uint64_t now_ns)
{
    (void)now_ns;
    repair(cc);
    if (!cc_active(cc)) return;
    if (cc->algo == EFVITCP_CC_CUBIC) cubic_loss(cc);
    cc->ssthresh = loss_ssthresh(cc, flight);
    cc->cwnd = cc->ssthresh;
    cc->bytes_acked = 0;
}

void et_cc_on_dupack(et_cc *cc)
{
    repair(cc);
    if (!cc_active(cc)) return;
    cc->cwnd = clamp_u64((uint64_t)cc->cwnd + cc->smss, cc->smss, CC_MAX);
}

void et_cc_on_partial_ack(et_cc *cc, uint32_t acked)
{
    repair(cc);
    if (!cc_active(cc)) return;
    uint64_t w = cc->cwnd > acked ? cc->cwnd - acked : 0;
    if (acked >= cc->smss) w += cc->smss;
    cc->cwnd = clamp_u64(w, cc->smss, CC_MAX);
}

void et_cc_on_recovery_exit(et_cc *cc, uint32_t flight)
{
    repair(cc);
    if (!cc_active(cc)) return;
    /* RFC 6582 §3.2 step 3 option 1: deflate without allowing a burst. */
    uint64_t w = (uint64_t)(flight > cc->smss ? flight : cc->smss) + cc->smss;
    cc->cwnd = clamp_u64(w < cc->ssthresh ? w : cc->ssthresh, cc->smss, CC_MAX);
    cc->bytes_acked = 0;
    cc->cwnd_inc = 0.0;
}

void et_cc_on_sack_recovery_exit(et_cc *cc)
{
    repair(cc);
    if (!cc_active(cc)) return;
    /* RFC 6675 §5: SACK recovery sets cwnd = ssthresh on entry and pipe, not cwnd inflation,
       meters what it sends; its end leaves cwnd at ssthresh (RFC 6937 §3 likewise; Linux's
       tcp_end_cwnd_reduction). RFC 6582's deflation to the flight belongs to NewReno, whose
       cwnd was inflated: here, under steady loss the flight at the end of a recovery is often
       a segment or two, and deflating to it would leave a window of two or three segments
       after every recovery, too small for the next losses to be seen before the RTO. */
    if (cc->cwnd < cc->ssthresh) cc->cwnd = cc->ssthresh;
    cc->bytes_acked = 0;
    cc->cwnd_inc = 0.0;
}

/* RFC 5681 §3.1: after a timeout the loss window is one segment; CUBIC (RFC 9438 §4.8) starts
   its first stage after it with K = 0 and W_max = cwnd at its start, which w_max = 0 makes
   cubic_epoch_start do. */
static void loss_window(et_cc *cc)
{
    cc->cwnd = cc->smss;
    cc->bytes_acked = 0;
    if (cc->algo == EFVITCP_CC_CUBIC) {
        cc->w_max = 0.0;
        cc->k = 0.0;
        cc->epoch_ns = 0;
        cc->cwnd_inc = 0.0;
    }
}

void et_cc_on_rto(et_cc *cc, uint32_t flight, uint64_t now_ns)
{
    repair(cc);
    if (!cc_active(cc)) return;
    cc->ssthresh = loss_ssthresh(cc, flight);
    loss_window(cc);
}

void et_cc_on_rto_in_recovery(et_cc *cc)
{
    repair(cc);
    if (!cc_active(cc)) return;
    /* The recovery set ssthresh for this congestion event already: the window restarts from
       one segment, ssthresh stays (as Linux's tcp_enter_loss, which recomputes it only outside
       recovery or on an episode's first timeout). Computed again from the flight, which in a
       recovery's late stage is a segment or two, it would be cut twice for one event. */
    loss_window(cc);
}

void et_cc_undo(et_cc *cc, const et_cc *prior)
{
    repair(cc);
    if (!cc_active(cc) || prior->algo != cc->algo) return;
    /* As Linux's tcp_undo_cwnd_reduction: never below what the window is now (it may have
       grown since), the curve of CUBIC as if the loss had not been. */
    uint32_t cwnd = cc->cwnd > prior->cwnd ? cc->cwnd : prior->cwnd;
    uint32_t ssthresh = cc->ssthresh > prior->ssthresh ? cc->ssthresh : prior->ssthresh;
    if (cc->algo == EFVITCP_CC_CUBIC) {
        cc->w_max = prior->w_max;
        cc->k = prior->k;
        cc->w_est = prior->w_est;
        cc->epoch_ns = prior->epoch_ns;
    }
    cc->cwnd = cwnd;
    cc->ssthresh = ssthresh;
    cc->bytes_acked = 0;
    cc->cwnd_inc = 0.0;
    repair(cc);
}

void et_cc_on_idle_restart(et_cc *cc)
{
    repair(cc);
    if (!cc_active(cc)) return;
    /* RFC 5681 §4.1: restart window = min(IW, cwnd). */
    uint32_t iw = initial_window(cc);
    if (cc->cwnd > iw) cc->cwnd = iw;
    cc->bytes_acked = 0;
    /* The idle time must not count as CUBIC growth time (RFC 9438 §5.8). */
    cc->epoch_ns = 0;
    cc->cwnd_inc = 0.0;
}
