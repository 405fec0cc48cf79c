/*
 * The engine's invariant checker (tests/check/check.c): silent on real states reached by real
 * segments, and each rule catches a deliberate break of what it guards (then restored).
 */
#include "segtest.h"
#include "check.h"

static uint8_t buf[8192];

/* Breaks one field, expects the checker to name msg (a substring), restores it. */
#define BREAK(t, field, value, msg)                                                                \
    do {                                                                                           \
        __typeof__(field) saved_ = (field);                                                        \
        (field) = (value);                                                                         \
        const char *e_ = et_stack_check((t)->st);                                                  \
        if (!e_ || !strstr(e_, (msg))) {                                                           \
            fprintf(stderr, "%s:%d: breaking %s: got \"%s\", want \"%s\"\n", __FILE__, __LINE__,   \
                    #field, e_ ? e_ : "(nothing)", (msg));                                         \
            th_failures++;                                                                         \
        }                                                                                          \
        (field) = saved_;                                                                          \
        CHECK(et_stack_check((t)->st) == NULL);                                                    \
    } while (0)

#define OK(t)                                                                                      \
    do {                                                                                           \
        char d_[256];                                                                              \
        const char *e_ = et_stack_check_detail((t)->st, false, d_, sizeof(d_));                    \
        if (e_) {                                                                                  \
            fprintf(stderr, "%s:%d: invariant: %s\n", __FILE__, __LINE__, e_);                     \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

/* Real states, one after another: the checker finds nothing. */
static void test_quiet_on_real_states(void)
{
    sg *t = sg_server(NULL);
    OK(t);
    REQUIRE(sg_syn_received(t, NULL));
    OK(t);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    OK(t);
    CHECK_EQ(efvitcp_send(t->conn, buf, 3000, false), 3000);
    OK(t);
    sg_flush(t);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    OK(t);
    sg_send(t, TH_ACK | TH_PSH, P(201), S(1461), NULL, 100); /* out of order: an island */
    OK(t);
    CHECK_EQ(t->st->conns[t->conn->id].n_ooo, 1);
    sg_flush(t);
    CHECK(efvitcp_send_fin(t->conn) == NULL);
    OK(t);
    sg_flush(t);
    sg_send(t, TH_ACK | TH_FIN, P(101), S(3002), NULL, 0);
    OK(t);
    sg_flush(t);
    /* the hole is filled, the FIN taken, everything acknowledged: TIME_WAIT, a record left */
    sg_send(t, TH_ACK | TH_PSH | TH_FIN, P(101), S(3002), NULL, 200);
    OK(t);
    CHECK_EQ(sg_state(t), EFVITCP_CLOSED);
    CHECK_EQ(t->st->stats.time_wait_active, 1);
    sg_pump(t);
    CHECK(et_stack_check_idle(t->st) == NULL);

    /* a client through WAIT_ARP */
    t = sg_client_no_arp(NULL);
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &c));
    OK(t);
    CHECK_EQ(t->st->conns[c->id].state, EFVITCP_WAIT_ARP);
    sg_flush(t);
}

static void test_each_rule(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    et_conn *c = &t->st->conns[t->conn->id];
    CHECK_EQ(efvitcp_send(t->conn, buf, 4000, false), 4000); /* three segments in flight */
    sg_flush(t);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 50);
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 50); /* an island [101, 151) */
    sg_flush(t);
    OK(t);
    REQUIRE(c->sr_end - c->sr_una == 3 && c->n_ooo == 1);

    BREAK(t, c->snd_una, c->snd_nxt + 1, "SND.UNA <= SND.NXT");
    BREAK(t, c->snd_max, c->snd_nxt - 1, "SND.UNA <= SND.NXT");
    BREAK(t, c->snd_max, c->queued_end + 1, "SND.MAX <= queued_end");
    BREAK(t, c->sr_nxt, c->sr_end + 1, "send ring indices");
    BREAK(t, c->sr_end, c->sr_una + t->st->cfg.send_slots + 1, "send ring indices");
    BREAK(t, c->queued_end, c->queued_end + 1, "");
    BREAK(t, c->segs[(c->sr_una + 1) & t->st->send_mask].seq, 12345, "not contiguous");
    BREAK(t, c->segs[c->sr_una & t->st->send_mask].len, 2000, "");
    BREAK(t, c->segs[c->sr_una & t->st->send_mask].ctl, ET_TCP_FIN, "FIN not on the last");
    BREAK(t, c->segs[c->sr_una & t->st->send_mask].sent_ns, 0, "never sent");
    BREAK(t, c->snd_nxt, c->snd_nxt - 1, "");
    BREAK(t, c->rb_head, c->rb_tail + 1, "receive buffer offsets");
    BREAK(t, c->rb_tail, t->st->cfg.recv_buf_size + 1, "receive buffer offsets");
    BREAK(t, c->ooo[0].end, c->ooo[0].start, "empty or inverted island");
    BREAK(t, c->ooo[0].start, c->rcv_nxt, "islands not sorted");
    BREAK(t, c->ooo[0].end, c->rcv_nxt + t->st->cfg.recv_buf_size + 1, "island beyond");
    BREAK(t, c->n_ooo, (uint8_t)(t->st->cfg.ooo_ranges + 1), "more islands");
    BREAK(t, c->fin_rcvd, true, "fin_rcvd does not match");
    BREAK(t, c->fin_queued, true, "fin_queued does not match");
    c->ooo_fin_seq = c->rcv_nxt;
    BREAK(t, c->ooo_fin, true, "remembered FIN reached");
    BREAK(t, c->fin_pending, true, "fin_pending without fin_queued");
    BREAK(t, c->retx_mode, ET_RETX_NONE, "");
    BREAK(t, c->retx_mode, ET_RETX_PERSIST, "data outstanding without a retransmission timer");
    BREAK(t, c->t_retx.armed, false, "");
    BREAK(t, c->in_deferred, true, "in_deferred flag");
    BREAK(t, c->last_ack_sent, c->rcv_nxt + 1, "acknowledged beyond RCV.NXT");
    BREAK(t, c->snd_wnd, c->max_snd_wnd + 1, "SND.WND above");
    BREAK(t, c->seg_cap, 0, "segment capacity");
    BREAK(t, c->cc.cwnd, c->send_mss - 1, "cwnd below one MSS");
    BREAK(t, c->segs[c->sr_una & t->st->send_mask].sacked, 1, "n_sacked does not count");
    BREAK(t, c->n_sacked, 1, "n_sacked does not count");
    /* A sacked head: a lost mark on it, and sack_high outside what was sent. */
    c->segs[c->sr_una & t->st->send_mask].sacked = 1;
    c->n_sacked = 1;
    c->sack_high = et_seg_end(&c->segs[c->sr_una & t->st->send_mask]);
    BREAK(t, c->segs[c->sr_una & t->st->send_mask].lost, 1, "lost or resent mark on a sacked");
    BREAK(t, c->sack_high, c->snd_max + 1, "SACK sequence numbers");
    c->segs[c->sr_una & t->st->send_mask].sacked = 0;
    c->n_sacked = 0;
    c->sack_high = c->snd_una;
    bool rack_was = c->rack_ok;
    c->rack_ok = true;
    BREAK(t, c->sack_ok, false, "RACK without SACK");
    c->rack_ok = rack_was;
    c->sack_ok = false;
    BREAK(t, c->dsack_pending, true, "SACK state without SACK");
    c->sack_ok = true;
    BREAK(t, c->state, EFVITCP_TIME_WAIT, "impossible state");
    BREAK(t, c->finishing, true, "finishing");
    BREAK(t, c->remote_port, (uint16_t)(c->remote_port + 1), "missing from the connection table");
    BREAK(t, t->st->n_conns, 2, "n_conns");
    BREAK(t, t->st->n_ctrl_free, t->st->n_ctrl_free - 1, "control buffers leaked");
    BREAK(t, t->st->stats.time_wait_active, 1, "time_wait_active");
    BREAK(t, t->st->wheel.count, t->st->wheel.count + 1, "timer wheel");
    BREAK(t, t->st->table.count, t->st->table.count + 1, "table count");
    BREAK(t, t->st->free_conns, NULL, "slots leaked");
    /* a timer left on a free slot */
    et_conn *free_slot = t->st->free_conns;
    REQUIRE(free_slot);
    BREAK(t, free_slot->t_delack.armed, true, "timer armed on a free slot");

    /* An ACK owed with no delayed-ACK timer: take the timer away. */
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 40000;
    t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    c = &t->st->conns[t->conn->id];
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT_NOTHING(t);
    OK(t);
    REQUIRE(c->t_delack.armed);
    et_wheel_cancel(&t->st->wheel, &c->t_delack);
    const char *e = et_stack_check(t->st);
    CHECK(e && strstr(e, "ACK owed"));
    c->delack_owed = false; /* as after an ACK left: et_arm_delack arms it again */
    et_arm_delack(c);
    OK(t);
    /* The timer armed but marked stale while the ACK is still owed: it would never send it. */
    BREAK(t, c->delack_owed, false, "ACK owed without");

    /* Idle: fine after the connection is gone and a poll reaped the buffers; not before. */
    efvitcp_conn_close(t->conn);
    e = et_stack_check_idle(t->st);
    CHECK(e != NULL); /* the RST's buffer is still on the link */
    sg_pump(t);
    CHECK(et_stack_check_idle(t->st) == NULL);
    sg_flush(t);
}

int main(void)
{
    RUN(test_quiet_on_real_states);
    RUN(test_each_rule);
    sg_cleanup();
    return th_summary();
}
