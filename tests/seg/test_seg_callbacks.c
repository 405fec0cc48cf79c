/* Segment tests: connection operations called from inside callbacks (the reactor model lets every
   callback call them); the stack must emit exactly what the call asks for and nothing stale. */
#include "segtest.h"
#include "wire/wire_hooks.h"

static char g_close_on; /* the event letter whose callback closes the connection */

static void close_hook(sg *t, char ev, efvitcp_conn *c)
{
    if (ev != g_close_on) return;
    if (strchr("CRT", ev)) {
        /* Nothing may reach the wire from a terminal callback, and no timer would fire. */
        CHECK_EQ(efvitcp_send(c, "x", 1, false), 0);
        CHECK(efvitcp_send_fin(c) != NULL);
        CHECK(efvitcp_set_user_timer(c, 0, 10) != NULL);
    }
    efvitcp_conn_close(c);
}

static void fin_hook(sg *t, char ev, efvitcp_conn *c)
{
    if (ev == 'F') efvitcp_send_fin(c);
}

/* Abort from on_established: RST, and nothing for the handshake afterwards. */
static void test_close_in_on_established(void)
{
    sg *t = sg_server(NULL);
    g_close_on = 'E';
    t->hook = close_hook;
    REQUIRE(sg_syn_received(t, NULL));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(1));
    EXPECT_NOTHING(t);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
}

/* Abort from on_data: the RST acknowledges the data; no ACK follows it. */
static void test_close_in_on_data(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    g_close_on = 'D';
    t->hook = close_hook;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(11));
    EXPECT_NOTHING(t);
    CHECK(efvitcp_is_closed(t->conn));
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

/* The echo-server close: send_fin from on_fin leaves one FIN that also ACKs the peer's FIN. */
static void test_send_fin_in_on_fin(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->hook = fin_hook;
    sg_send(t, TH_FIN | TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_FIN | TH_ACK, S(1), P(2));
    EXPECT_NOTHING(t);
    CHECK_EQ(sg_state(t), EFVITCP_LAST_ACK);
    sg_send(t, TH_ACK, P(2), S(2), NULL, 0);
    CHECK_EQ(t->ev.closed, 1);
}

/* Abort from on_fin. */
static void test_close_in_on_fin(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    g_close_on = 'F';
    t->hook = close_hook;
    sg_send(t, TH_FIN | TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(2));
    EXPECT_NOTHING(t);
}

/* Abort from on_more_sendable and from a user timer. */
static void test_close_in_more_sendable_and_timer(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    g_close_on = 'M';
    t->hook = close_hook;
    CHECK_EQ(efvitcp_send(t->conn, "abc", 3, false), 3);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    sg_send(t, TH_ACK, P(1), S(4), NULL, 0);
    CHECK_EQ(t->ev.more_sendable, 1);
    EXPECT(t, TH_RST | TH_ACK, S(4), P(1));
    EXPECT_NOTHING(t);

    t = sg_server(NULL);
    REQUIRE(sg_established(t));
    g_close_on = 'U';
    t->hook = close_hook;
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 1));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 1, 1));
    sg_advance(t, 10 * SG_MS);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(1));
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.user_timeout, 1); /* the second timer died with the connection */
}

/* Closing from a terminal callback (on_closed, on_reset, on_timeout) is a no-op: the slot is
   freed after return anyway, and the peer must not get a RST for a clean close. */
static void test_close_in_terminal_callbacks(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    g_close_on = 'C';
    t->hook = close_hook;
    REQUIRE(sg_last_ack(t));
    sg_send(t, TH_ACK, P(2), S(2), NULL, 0);
    CHECK_EQ(t->ev.closed, 1);
    sg_expect_nothing(t);

    t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->hook = close_hook;
    REQUIRE(sg_fin_wait_2(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0); /* -> TIME_WAIT, on_closed */
    EXPECT(t, TH_ACK, S(2), P(2));
    sg_expect_nothing(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_active, 1);

    t = sg_server(NULL);
    REQUIRE(sg_established(t));
    g_close_on = 'R';
    t->hook = close_hook;
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    CHECK_EQ(t->ev.reset, 1);
    sg_expect_nothing(t);

    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.data_retries = 1;
    t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    g_close_on = 'T';
    t->hook = close_hook;
    CHECK_EQ(efvitcp_send(t->conn, "abc", 3, false), 3);
    sg_advance(t, SG_SEC);
    CHECK_EQ(t->ev.timeout, 1);
    int rsts = 0;
    sg_rx *r;
    while ((r = sg_take(t)) != NULL) rsts += (r->flags & TH_RST) != 0;
    CHECK_EQ(rsts, 1); /* the one of giving up, not a second */
}

/* efvitcp_consume from on_reset (which efvitcp_unread invites): the window it opens is
   announced to no one, since the peer reset us. */
static void consume_hook(sg *t, char ev, efvitcp_conn *c)
{
    (void)t;
    if (ev != 'R') return;
    const uint8_t *p;
    uint32_t n = efvitcp_unread(c, &p);
    CHECK(n >= 8000);
    efvitcp_consume(c, n);
}

static void test_consume_in_on_reset_sends_nothing(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->keep = 1u << 20; /* on_data leaves everything unread */
    static uint8_t data[1000];
    for (uint32_t i = 0; i < 8; i++) {
        sg_send(t, TH_ACK | TH_PSH, P(1 + 1000 * i), S(1), data, 1000);
        EXPECT(t, TH_ACK, S(1), P(1001 + 1000 * i));
    }
    t->hook = consume_hook;
    sg_send(t, TH_RST, P(8001), 0, NULL, 0);
    CHECK_EQ(t->ev.reset, 1);
    EXPECT_NOTHING(t);
}

/* A poll of the instance from inside its own callback is refused: the outer poll goes on with
   its handler, every byte is delivered once, and the connection works on. */
static void poll_hook(sg *t, char ev, efvitcp_conn *c)
{
    (void)c;
    if (ev == 'D') efvitcp_server_poll_at(t->srv, &t->h, t, efvitcp_wire_now(t->wire));
}

static void test_poll_inside_callback_refused(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->hook = poll_hook;
    static uint8_t data[1200];
    sg_fill(data, 0, sizeof(data));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), data, 600);
    EXPECT(t, TH_ACK, S(1), P(601));
    sg_send(t, TH_ACK | TH_PSH, P(601), S(1), data + 600, 600);
    EXPECT(t, TH_ACK, S(1), P(1201));
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.data, 2);
    CHECK(sg_stream_is_pat(t, 1200));
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
}

/* Closing the instance from its own callback takes effect when the poll returns: no use of the
   freed instance (ASan/valgrind would see it), RSTs for what was left. */
static void close_instance_hook(sg *t, char ev, efvitcp_conn *c)
{
    (void)c;
    if (ev != 'D') return;
    efvitcp_server_close(t->srv);
    t->srv = NULL; /* the rig polls it no more */
}

static void test_close_instance_in_callback(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->hook = close_instance_hook;
    /* Data and FIN in one segment: on_data closes the instance, and on_fin, which would come
       next in the same poll, does not (closed means no more callbacks). */
    sg_send(t, TH_ACK | TH_PSH | TH_FIN, P(1), S(1), "hello", 5);
    CHECK(t->srv == NULL);
    CHECK_EQ(t->ev.data, 1);
    CHECK_EQ(t->ev.fin, 0);
    /* What the close sent: the RST of the connection (after the ACK of the data, if any). */
    sg_rx *r;
    int rsts = 0;
    while ((r = sg_take(t)) != NULL) rsts += (r->flags & TH_RST) != 0;
    CHECK_EQ(rsts, 1);
}

/* The same from a foreach callback outside a poll: the foreach stops, then the instance closes. */
static int g_visits;
static void close_in_foreach(void *arg, efvitcp_conn *c)
{
    (void)c;
    sg *t = arg;
    g_visits++;
    efvitcp_server_close(t->srv);
}

static void test_close_instance_in_foreach(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    g_visits = 0;
    efvitcp_server_foreach(t->srv, close_in_foreach, t);
    t->srv = NULL;
    CHECK_EQ(g_visits, 1);
    sg_pump(t);
    sg_rx *r;
    int rsts = 0;
    while ((r = sg_take(t)) != NULL) rsts += (r->flags & TH_RST) != 0;
    CHECK_EQ(rsts, 1);
}

/* A foreach callback is a callback of the instance too: a poll from it is refused as one from a
   poll's callback is (the frame waiting is delivered by the next poll outside, once), and prime
   says -1. */
static int g_foreach_data, g_foreach_prime;
static void poll_in_foreach(void *arg, efvitcp_conn *c)
{
    (void)c;
    sg *t = arg;
    int before = t->ev.data;
    efvitcp_server_poll(t->srv, &t->h, t);
    efvitcp_server_poll_at(t->srv, &t->h, t, efvitcp_wire_now(t->wire));
    g_foreach_data += t->ev.data - before;
    g_foreach_prime = efvitcp_server_prime(t->srv);
}

static void test_poll_inside_foreach_refused(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    uint8_t f[2048];
    sg_opts o = sg_def_opts(t);
    uint32_t n = sg_build(t, f, TH_ACK | TH_PSH, P(1), S(1), t->win, NULL, 100, &o);
    REQUIRE(et_wire_raw_send(t->wire, t->raw, f, n) == 0); /* waits: no poll yet */
    g_foreach_data = 0;
    g_foreach_prime = 0;
    efvitcp_server_foreach(t->srv, poll_in_foreach, t);
    CHECK_EQ(g_foreach_data, 0);
    CHECK_EQ(g_foreach_prime, -1);
    CHECK_EQ(t->ev.data, 0);
    /* The next poll, outside, takes the frame. */
    EXPECT(t, TH_ACK, S(1), P(101));
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.data, 1);
    CHECK(sg_stream_is_pat(t, 100));
    CHECK(efvitcp_server_prime(t->srv) >= 0);
}

/* Close then poll from a foreach callback when the live view's publish is due: the poll is
   refused, and the instance is freed when the foreach returns (it crashed in the poll's end,
   which took the close for one made inside a poll). */
static void close_poll_in_foreach(void *arg, efvitcp_conn *c)
{
    (void)c;
    sg *t = arg;
    g_visits++;
    efvitcp_client_close(t->cli);
    efvitcp_client_poll(t->cli, &t->h, t);
    efvitcp_client_poll_at(t->cli, &t->h, t, efvitcp_wire_now(t->wire));
    g_foreach_prime = efvitcp_client_prime(t->cli);
}

static void test_close_then_poll_in_foreach(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(t->cfg.stat_shm);
    REQUIRE(sg_established_active(t, NULL));
    /* Past the live view's next publish, with no poll since. */
    efvitcp_wire_set_now(t->wire, sg_now(t) + 10ull * t->cfg.stat_interval_ms * SG_MS);
    g_visits = 0;
    g_foreach_prime = 0;
    efvitcp_client_foreach(t->cli, close_poll_in_foreach, t);
    t->cli = NULL;
    CHECK_EQ(g_visits, 1);
    CHECK_EQ(g_foreach_prime, -1);
    CHECK_EQ(t->ev.closed + t->ev.reset + t->ev.timeout, 0); /* no callback after the close */
    EXPECT(t, TH_RST | TH_ACK, S(1), P(1));
    EXPECT_NOTHING(t);
}

int main(void)
{
    RUN(test_close_in_on_established);
    RUN(test_close_in_on_data);
    RUN(test_send_fin_in_on_fin);
    RUN(test_close_in_on_fin);
    RUN(test_close_in_more_sendable_and_timer);
    RUN(test_close_in_terminal_callbacks);
    RUN(test_consume_in_on_reset_sends_nothing);
    RUN(test_poll_inside_callback_refused);
    RUN(test_close_instance_in_callback);
    RUN(test_close_instance_in_foreach);
    RUN(test_poll_inside_foreach_refused);
    RUN(test_close_then_poll_in_foreach);
    sg_cleanup();
    return th_summary();
}
