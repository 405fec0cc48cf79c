/*
 * Segment tests: unlistening a port. No new connection comes for it afterwards, neither from a
 * half-open one whose handshake completes later nor from allow_new_connection unlistening it,
 * and the connections it already has keep their steering: a link that steers the port (ef_vi's
 * filter, XDP's port bit in kernel-shared mode) delivers their segments by the port's entry, so
 * each passive connection holds a reference to that entry until it is freed.
 */
#include "segtest.h"

/* The link's flow operations, counted: references per flow as the stack holds them. */
static struct {
    et_link_ops ops;
    int listen_refs; /* the listen flow of SG_LISTEN_PORT: references taken minus dropped */
    int other;       /* flow_add/del calls for any other flow */
} F;

static int count_add(et_link *l, const et_flow *f)
{
    (void)l;
    if (f->remote_ip == 0 && f->local_port == SG_LISTEN_PORT)
        F.listen_refs++;
    else
        F.other++;
    return 0;
}

static int count_del(et_link *l, const et_flow *f)
{
    (void)l;
    if (f->remote_ip == 0 && f->local_port == SG_LISTEN_PORT)
        F.listen_refs--;
    else
        F.other++;
    return 0;
}

/* A server whose link counts flow references; the listen made before it counts as one. */
static sg *counted_server(const efvitcp_config *cfg)
{
    sg *t = sg_server(cfg);
    memset(&F, 0, sizeof(F));
    F.ops = *t->st->link->ops;
    F.ops.flow_add = count_add;
    F.ops.flow_del = count_del;
    t->st->link->ops = &F.ops;
    F.listen_refs = 1;
    return t;
}

/* A half-open connection of an unlistened port is reset (as Linux drops a closed listener's
   requests); the peer's ACK then finds no connection and no listener. */
static void test_unlisten_resets_half_open(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    CHECK(efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT) == NULL);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(1));
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_RST, S(1), 0);
    CHECK_EQ(t->ev.established, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.conns_accepted, 0);
}

/* Another port's half-open connection is not touched. */
static void test_unlisten_spares_other_ports(void)
{
    sg *t = sg_server(NULL);
    CHECK(efvitcp_server_listen(t->srv, SG_LISTEN_PORT + 1) == NULL);
    REQUIRE(sg_syn_received(t, NULL));
    CHECK(efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT + 1) == NULL);
    CHECK(sg_expect_nothing(t));
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 1);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    CHECK_EQ(t->ev.established, 1);
}

static void unlisten_hook(sg *t, char ev, efvitcp_conn *c)
{
    (void)c;
    if (ev == 'A') efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT);
}

/* allow_new_connection that unlistens the port refuses the SYN it was asked about. */
static void test_unlisten_in_allow_refuses(void)
{
    sg *t = sg_server(NULL);
    t->hook = unlisten_hook;
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    CHECK_EQ(t->ev.allow, 1);
    EXPECT(t, TH_RST | TH_ACK, 0, P(1));
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
}

/* The same for the ACK of a SYN cookie, whose connection is made only then. */
static void test_unlisten_in_allow_refuses_cookie(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.syn_cookies = EFVITCP_SYN_COOKIES_ALWAYS;
    sg *t = sg_server(&cfg);
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    sg_rx *r = sg_take(t);
    REQUIRE(r && r->flags == (TH_SYN | TH_ACK));
    CHECK_EQ(t->ev.allow, 1);
    t->sis = r->seq;
    t->hook = unlisten_hook;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    CHECK_EQ(t->ev.allow, 2);
    EXPECT(t, TH_RST, S(1), 0);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    CHECK_EQ(t->ev.established, 0);
}

/* An established passive connection keeps the port's steering after unlisten, until it goes. */
static void test_passive_conn_holds_listen_flow(void)
{
    sg *t = counted_server(NULL);
    REQUIRE(sg_established(t));
    CHECK_EQ(F.listen_refs, 2);
    CHECK(efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT) == NULL);
    CHECK_EQ(F.listen_refs, 1);
    /* still delivered and answered */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK_EQ(t->ev.data, 1);
    efvitcp_conn_close(t->conn);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(11));
    CHECK_EQ(F.listen_refs, 0);
    CHECK_EQ(F.other, 0); /* no per-connection flow for a passive connection */
}

/* A half-open connection's reference goes with it too (reset at unlisten), and so does one made
   from a cookie. */
static void test_half_open_and_cookie_refs(void)
{
    sg *t = counted_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    CHECK_EQ(F.listen_refs, 2);
    CHECK(efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT) == NULL);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(1));
    CHECK_EQ(F.listen_refs, 0);

    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.syn_cookies = EFVITCP_SYN_COOKIES_ALWAYS;
    t = counted_server(&cfg);
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    sg_rx *r = sg_take(t);
    REQUIRE(r && r->flags == (TH_SYN | TH_ACK));
    CHECK_EQ(F.listen_refs, 1); /* a cookie holds nothing */
    t->sis = r->seq;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    CHECK_EQ(t->ev.established, 1);
    CHECK_EQ(F.listen_refs, 2);
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    CHECK_EQ(t->ev.reset, 1);
    CHECK_EQ(F.listen_refs, 1);
}

static void unlisten_on_established(sg *t, char ev, efvitcp_conn *c)
{
    (void)c;
    if (ev == 'E') efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT);
}

/* Unlisten from a callback of the poll (eftcat -l does it in on_established): the connection of
   the callback is established and lives on, the port's other half-open one is reset. */
static void test_unlisten_in_on_established(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    uint32_t sis_a = t->sis;
    uint16_t port_a = t->pport;
    t->pport++;
    REQUIRE(sg_syn_received(t, NULL));
    uint32_t sis_b = t->sis;
    t->pport = port_a;
    t->sis = sis_a;
    t->hook = unlisten_on_established;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    CHECK_EQ(t->ev.established, 1);
    sg_rx *r = sg_take(t);
    REQUIRE(r);
    CHECK_EQ(r->flags, TH_RST | TH_ACK);
    CHECK_EQ(r->seq, sis_b + 1);
    CHECK_EQ(r->dport, port_a + 1);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 1);
    CHECK(efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT) != NULL); /* not listening now */
    t->hook = NULL;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK_EQ(t->ev.data, 1);
}

int main(void)
{
    RUN(test_unlisten_resets_half_open);
    RUN(test_unlisten_spares_other_ports);
    RUN(test_unlisten_in_allow_refuses);
    RUN(test_unlisten_in_allow_refuses_cookie);
    RUN(test_unlisten_in_on_established);
    RUN(test_passive_conn_holds_listen_flow);
    RUN(test_half_open_and_cookie_refs);
    sg_cleanup();
    return th_summary();
}
