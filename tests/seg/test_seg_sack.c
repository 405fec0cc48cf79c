/* Segment tests: SACK (RFC 2018) negotiation and the receiver's blocks, D-SACK (RFC 2883), and the
   sender's scoreboard and loss recovery (RFC 6675): scripted blocks in, exact blocks and
   retransmissions out. */
#include "check.h"
#include "segtest.h"

static uint8_t buf[8192];

/* ---- helpers ---- */

/* Sends n segments of 100 bytes and checks they all leave. */
static bool send_segs(sg *t, int n)
{
    for (int i = 0; i < n; i++)
        if (efvitcp_send(t->conn, buf, 100, false) != 100) return false;
    for (int i = 0; i < n; i++)
        if (!sg_expect(t, TH_ACK | TH_PSH, S(1 + 100 * (uint32_t)i), P(1))) return false;
    return true;
}

/* The peer acknowledges ack with n SACK blocks, edges[2i] .. edges[2i + 1] (and len bytes of
   data at P(seq_off)). */
static void sack_ack_d(sg *t, uint32_t seq, uint32_t ack, uint32_t len, uint32_t n,
                       const uint32_t *edges)
{
    sg_opts o = sg_def_opts(t);
    o.n_sack = (uint8_t)n;
    for (uint32_t i = 0; i < n; i++) {
        o.sack[i].start = edges[2 * i];
        o.sack[i].end = edges[2 * i + 1];
    }
    sg_send_o(t, TH_ACK | (len ? TH_PSH : 0), seq, ack, t->win, NULL, len, &o);
}

static void sack_ack(sg *t, uint32_t ack, uint32_t n, const uint32_t *edges)
{
    sack_ack_d(t, P(1), ack, 0, n, edges);
}

/* Checks that segment r carries exactly the n blocks edges (relative to the peer's ISS). */
#define SACK_IS(r, n, ...)                                                                         \
    do {                                                                                           \
        const uint32_t e_[] = {__VA_ARGS__};                                                       \
        CHECK_EQ((r)->opt.n_sack, (n));                                                            \
        for (uint32_t i_ = 0; i_ < (n) && i_ < (r)->opt.n_sack; i_++) {                            \
            CHECK_EQ((r)->opt.sack[i_].start, P(e_[2 * i_]));                                      \
            CHECK_EQ((r)->opt.sack[i_].end, P(e_[2 * i_ + 1]));                                    \
        }                                                                                          \
    } while (0)

static efvitcp_config no_sack_cfg(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.sack = false;
    return cfg;
}

/* ---- negotiation (RFC 2018 §2) ---- */

/* On by default: both SYNs offer it, and the connection uses it. */
static void test_negotiated_by_default(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    CHECK(t->syn.opt.sack_perm);
    t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK(t->syn.opt.sack_perm);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK(cs.sack);
}

/* cfg.sack off: never offered, neither in a SYN nor in a SYN-ACK; a peer that did not offer it
   gets none either. */
static void test_not_offered(void)
{
    efvitcp_config cfg = no_sack_cfg();
    sg *t = sg_client(&cfg);
    REQUIRE(sg_syn_sent(t));
    CHECK(!t->syn.opt.sack_perm);
    t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    CHECK(!t->syn.opt.sack_perm);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK(!cs.sack);
    t = sg_server(NULL);
    sg_opts o = sg_syn_opts(t);
    o.sack_perm = false;
    REQUIRE(sg_syn_received(t, &o));
    CHECK(!t->syn.opt.sack_perm);
}

/* ---- receiver (RFC 2018 §4) ---- */

/* Every ACK while islands are held reports them, the island that changed last first; beside
   timestamps three fit; filling a hole leaves the rest reported; no islands, no option. */
static void test_receiver_blocks_most_recent_first(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(1));
    SACK_IS(t->last, 1, 101, 201);
    sg_send(t, TH_ACK | TH_PSH, P(301), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(1));
    SACK_IS(t->last, 2, 301, 401, 101, 201);
    sg_send(t, TH_ACK | TH_PSH, P(501), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(1));
    SACK_IS(t->last, 3, 501, 601, 301, 401, 101, 201);
    /* A fourth island: only three blocks fit beside TS; the oldest goes. */
    sg_send(t, TH_ACK | TH_PSH, P(701), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(1));
    SACK_IS(t->last, 3, 701, 801, 501, 601, 301, 401);
    /* Growing an old island makes it the most recent. */
    sg_send(t, TH_ACK | TH_PSH, P(201), S(1), NULL, 50);
    EXPECT(t, TH_ACK, S(1), P(1));
    SACK_IS(t->last, 3, 101, 251, 701, 801, 501, 601);
    /* The first hole filled: the ACK moves and reports what is still held. */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(251));
    SACK_IS(t->last, 3, 701, 801, 501, 601, 301, 401);
    sg_send(t, TH_ACK | TH_PSH, P(251), S(1), NULL, 550);
    EXPECT(t, TH_ACK, S(1), P(801));
    CHECK_EQ(t->last->opt.n_sack, 0);
    CHECK(sg_stream_is_pat(t, 800));
}

/* Without timestamps four blocks fit (4 + 4 * 8 = 36 of 40 bytes). */
static void test_receiver_four_blocks_without_ts(void)
{
    sg *t = sg_server(NULL);
    sg_opts o = sg_syn_opts(t);
    o.has_ts = false;
    REQUIRE(sg_syn_received(t, &o));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    REQUIRE(sg_state(t) == EFVITCP_ESTABLISHED);
    for (uint32_t i = 0; i < 5; i++) {
        sg_send(t, TH_ACK | TH_PSH, P(101 + 200 * i), S(1), NULL, 100);
        EXPECT(t, TH_ACK, S(1), P(1));
    }
    SACK_IS(t->last, 4, 901, 1001, 701, 801, 501, 601, 301, 401);
}

/* RFC 2883: a duplicate is reported in the first block of the ACK it causes, once: data wholly
   below RCV.NXT, the old part of a segment that overlaps it, and data an island holds already
   (then the island follows). */
static void test_dsack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    SACK_IS(t->last, 1, 1, 101);
    sg_send(t, TH_ACK | TH_PSH, P(51), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(151));
    SACK_IS(t->last, 1, 51, 101);
    sg_send(t, TH_ACK | TH_PSH, P(251), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(151));
    SACK_IS(t->last, 1, 251, 351);
    sg_send(t, TH_ACK | TH_PSH, P(251), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(151));
    SACK_IS(t->last, 2, 251, 351, 251, 351);
    sg_send(t, TH_ACK, P(351), S(1), NULL, 0); /* a bare ACK: no news, no duplicate */
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.dsack_sent, 3);
}

/* cfg.sack off: ACKs carry no blocks. */
static void test_receiver_off(void)
{
    efvitcp_config cfg = no_sack_cfg();
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->last->opt.n_sack, 0);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 50);
    EXPECT(t, TH_ACK, S(1), P(51));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 50);
    EXPECT(t, TH_ACK, S(1), P(51));
    CHECK_EQ(t->last->opt.n_sack, 0);
}

/* ---- sender (RFC 6675) ---- */

/* IsLost(HighACK + 1): three segments sacked above the first start recovery on the first ACK
   that says so, no duplicate count needed; only the first segment leaves. */
static void test_sender_islost_starts_recovery(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 6));
    sack_ack(t, S(1), 1, (uint32_t[]){S(101), S(401)});
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    /* The last two are neither sacked nor lost: no rule 1 or 3; the rescue (rule 4) sends the
       highest of them, once. */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(501), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.sack_recoveries, 1);
    CHECK_EQ(st.sack_retransmits, 2);
    /* The retransmission arrives, and so does the rescue, but S(401), sent before both, is
       still missing: the partial ACK says it is lost too (RFC 6582's inference). */
    sack_ack(t, S(401), 1, (uint32_t[]){S(501), S(601)});
    EXPECT_WL(t, TH_ACK | TH_PSH, S(401), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(601), NULL, 0);
    EXPECT_NOTHING(t);
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
    sg_stats(t, &st);
    CHECK_EQ(st.rto_events, 0);
}

/* Without timestamps, a segment sent once and newly sacked gives an RTT sample (as Linux's
   SACK RTT): an ACK that does not move SND.UNA gives none otherwise, nor does one that covers
   a retransmission (Karn). Before, a connection that kept losing or reordering segments went
   without samples, and its backed-off RTO stayed once the back-off was kept until a sample.
   The sample is the oldest newly sacked segment's; one resent gives none, so where RACK resends
   most reordered segments few samples come even so (sim seed 771, reorder: 0.22 s became
   1.84 s with the back-off kept, and stays so). */
static void test_sack_rtt_sample_without_timestamps(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.timestamps = false;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established_after(t, 20 * SG_MS));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    REQUIRE(cs.srtt_us == 20000);
    REQUIRE(send_segs(t, 6));
    sg_advance(t, 30 * SG_MS);
    sack_ack(t, S(1), 1, (uint32_t[]){S(101), S(401)}); /* the first one lost */
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.srtt_us, 21250); /* 7/8 * 20 + 1/8 * 30 ms */
    CHECK_EQ(cs.rttvar_us, 10000);
    /* The recovery resent S(1) and, as its rescue, S(501). Nothing newly sacked: no sample. */
    sg_flush(t);
    sg_advance(t, 10 * SG_MS);
    sack_ack(t, S(1), 1, (uint32_t[]){S(101), S(401)});
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.srtt_us, 21250);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.sack_retransmits, 2); /* S(1) and S(501) */
    /* Only a resent segment newly sacked: none either (Karn). */
    sg_advance(t, 10 * SG_MS);
    sack_ack(t, S(1), 2, (uint32_t[]){S(501), S(601), S(101), S(401)});
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.srtt_us, 21250);
}

/* A timeout clears the scoreboard (RFC 2018 §8), and the peer then reports again what it held:
   those segments are newly sacked once more, but their send time is from before the timeout, and
   a sample from it would count the whole wait for the timeout as a round trip. Only segments
   sent since the last timeout give SACK samples. */
static void test_no_sack_rtt_sample_from_before_a_timeout(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.timestamps = false;
    cfg.rack = false;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established_after(t, 20 * SG_MS));
    REQUIRE(send_segs(t, 3));
    sg_advance(t, 20 * SG_MS);
    sack_ack(t, S(1), 1, (uint32_t[]){S(201), S(301)}); /* a sample of 20 ms */
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    REQUIRE(cs.srtt_us == 20000);
    /* The timeout: S(1) again, the scoreboard cleared. */
    CHECK(sg_run_until_output(t, 10 * SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rto_events, 1);
    sg_advance(t, 5 * SG_MS);
    sack_ack(t, S(1), 1, (uint32_t[]){S(201), S(301)}); /* S(201) newly sacked again */
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.srtt_us, 20000);
}

/* Two holes in one window are both repaired within one round trip (NewReno needs two). */
static void test_sender_two_holes_one_round_trip(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 8));
    /* Segments 1 and 4 (S(1), S(301)) lost. */
    sack_ack(t, S(1), 2, (uint32_t[]){S(401), S(801), S(101), S(301)});
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(301), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    /* More SACKs of the same: nothing again (HighRxt). */
    sack_ack(t, S(1), 2, (uint32_t[]){S(401), S(801), S(101), S(301)});
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(801), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.sack_retransmits, 2);
    CHECK_EQ(st.retransmits, 2);
    CHECK_EQ(st.rto_events, 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.sack_retransmits, 2);
}

/* With data flowing both ways no ACK is a duplicate (RFC 5681 §2): the SACK blocks of ACKs
   carrying data start recovery all the same. */
static void test_sender_recovery_with_data_both_ways(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    for (uint32_t i = 0; i < 3; i++) {
        sack_ack_d(t, P(1 + 10 * i), S(1), 10, 1, (uint32_t[]){S(101), S(201 + 100 * i)});
        if (i < 2) EXPECT(t, TH_ACK, S(501), P(11 + 10 * i));
    }
    /* The ACK step comes before the text (RFC 9293 §3.10.7.4): the retransmission acknowledges
       what came before this segment, and the ACK of its text follows. */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(21), 16364, 100);
    EXPECT(t, TH_ACK | TH_PSH, S(401), P(31)); /* the rescue: S(401) is not sacked */
    EXPECT_NOTHING(t);
}

/* The rescue retransmission (NextSeg rule 4): the last segment lost too, with nothing SACKed
   above it, goes once right after the first hole. */
static void test_sender_rescue(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    sack_ack(t, S(1), 1, (uint32_t[]){S(101), S(401)});
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(401), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(401), NULL, 0); /* partial: the rescue is on its way */
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.sack_retransmits, 2);
    CHECK_EQ(st.rto_events, 0);
}

/* Hostile blocks are counted and ignored: beyond what was sent, below SND.UNA, inverted,
   overlapping an earlier one, a malformed option. None starts recovery. A D-SACK block is
   counted apart. */
static void test_sender_hostile_blocks(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    /* The ACKs carry data, so that none counts as a duplicate (RFC 5681 §2). */
    sack_ack_d(t, P(1), S(101), 10, 1, (uint32_t[]){S(201), S(601)}); /* beyond SND.MAX */
    sack_ack_d(t, P(11), S(101), 10, 2,
               (uint32_t[]){S(201), S(301), S(1), S(101)});            /* the 2nd below SND.UNA */
    sack_ack_d(t, P(21), S(101), 10, 1, (uint32_t[]){S(401), S(201)}); /* inverted */
    sack_ack_d(t, P(31), S(101), 10, 2,
               (uint32_t[]){S(201), S(401), S(301), S(501)}); /* the 2nd overlaps the 1st */
    sg_opts o = sg_def_opts(t);
    o.raw[0] = ET_TCPOPT_SACK;
    o.raw[1] = 6;
    o.raw_len = 6;
    sg_send_o(t, TH_ACK | TH_PSH, P(41), S(101), t->win, NULL, 10, &o); /* 2 + 4: not 2 + 8n */
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.sack_blocks_ignored, 5);
    /* The good blocks marked S(201)..S(401): two segments, not enough for IsLost. */
    CHECK_EQ(t->conn->n_sacked, 2);
    CHECK_EQ(st.sack_recoveries, 0);
    CHECK_EQ(st.fast_retransmits, 0);
    sg_flush(t);
    sack_ack_d(t, P(51), S(101), 10, 2, (uint32_t[]){S(1), S(101), S(201), S(301)}); /* D-SACK */
    sg_stats(t, &st);
    CHECK_EQ(st.dsack_received, 1);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A D-SACK first block inside the second block (RFC 2883 §4, a duplicate above SND.UNA) does
   not make the second one look overlapping: its segments are marked sacked. Before, the second
   block was counted hostile and ignored, and a probe kept resending a segment the peer held. */
static void test_sender_dsack_inside_the_second_block(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    sack_ack_d(t, P(1), S(101), 10, 2, (uint32_t[]){S(301), S(401), S(201), S(401)});
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.dsack_received, 1);
    CHECK_EQ(st.sack_blocks_ignored, 0);
    CHECK_EQ(t->conn->n_sacked, 2); /* S(201) and S(301) */
    CHECK(et_stack_check(t->st) == NULL);
}

/* RFC 2018 §8: SACKed data stays until cumulatively acknowledged; a peer that reneges (drops
   what it SACKed) gets it again after the timeout, which clears every mark. */
static void test_sender_reneging(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    sack_ack(t, S(1), 1, (uint32_t[]){S(101), S(501)});
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    EXPECT_NOTHING(t);
    et_conn *c = t->conn;
    CHECK_EQ(c->n_sacked, 4);
    /* The peer took the retransmission, then threw its islands away: only S(101). */
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    EXPECT_NOTHING(t); /* S(101) is marked held: not resent on a guess */
    CHECK_EQ(c->n_sacked, 4);
    uint64_t at = sg_run_until_output(t, 10 * SG_SEC);
    CHECK(at != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    CHECK_EQ(c->n_sacked, 0);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A SACK block may cover our FIN: a Linux receiver builds its blocks from its out-of-order
   queue, where a FIN after a hole lies with the data before it. The segment that carries the FIN
   alone is marked like any other the block covers whole, counts as sacked, and the close goes
   on (fuzz: tests/fuzz/regress/conn/sacked-fin-only-segment). */
static void test_sender_fin_only_segment_sacked(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 4));
    CHECK_NULL_ERR(efvitcp_send_fin(t->conn));
    EXPECT(t, TH_ACK | TH_FIN, S(401), P(1));
    /* Everything after the first segment arrived, the FIN included. */
    sack_ack(t, S(1), 1, (uint32_t[]){S(101), S(402)});
    et_conn *c = t->conn;
    CHECK_EQ(c->n_sacked, 4);
    CHECK(et_stack_check(t->st) == NULL);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1)); /* the hole, resent at once */
    /* The FIN held by the peer is not resent with the hole. */
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(402), NULL, 0);
    CHECK_EQ(sg_state(t), EFVITCP_FIN_WAIT_2);
    CHECK_EQ(c->n_sacked, 0);
    CHECK(et_stack_check(t->st) == NULL);
}

/* The NewReno path is kept for cfg.sack off: a partial ACK resends the next hole at once. */
static void test_newreno_without_sack(void)
{
    efvitcp_config cfg = no_sack_cfg();
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    for (int i = 0; i < 4; i++) sack_ack(t, S(1), 1, (uint32_t[]){S(101), S(201)});
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0);
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.sack_recoveries, 0);
    CHECK_EQ(st.sack_blocks_ignored, 0);
}

int main(void)
{
    RUN(test_negotiated_by_default);
    RUN(test_not_offered);
    RUN(test_receiver_blocks_most_recent_first);
    RUN(test_receiver_four_blocks_without_ts);
    RUN(test_dsack);
    RUN(test_receiver_off);
    RUN(test_sender_islost_starts_recovery);
    RUN(test_sack_rtt_sample_without_timestamps);
    RUN(test_no_sack_rtt_sample_from_before_a_timeout);
    RUN(test_sender_two_holes_one_round_trip);
    RUN(test_sender_recovery_with_data_both_ways);
    RUN(test_sender_rescue);
    RUN(test_sender_hostile_blocks);
    RUN(test_sender_dsack_inside_the_second_block);
    RUN(test_sender_reneging);
    RUN(test_sender_fin_only_segment_sacked);
    RUN(test_newreno_without_sack);
    sg_cleanup();
    return th_summary();
}
