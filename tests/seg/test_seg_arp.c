/* Segment tests: the neighbour cache of an owned address (addr_own.c; RFC 826, RFC 5227): shared
   requests, connections that follow a neighbour to its new MAC, the lock time, a neighbour asked
   again after a timeout, and the ARP the stack answers or refuses. The wire switches by MAC, so a
   neighbour that moves is another raw port. */
#include "segtest.h"

#include <string.h>

#include "net/neigh.h"
#include "wire/wire_hooks.h"

static uint8_t buf[4096];

static void peer_arp(sg *t, uint16_t oper, const uint8_t sha[6], uint32_t spa, uint32_t tpa)
{
    uint8_t f[64];
    uint32_t n = et_arp_build(f, oper, sha, spa, t->stack_mac, tpa);
    sg_send_frame(t, f, n);
}

static uint64_t arp_drops(sg *t)
{
    efvitcp_stats st;
    sg_stats(t, &st);
    return st.drops[EFVITCP_DROP_ARP];
}

/* The neighbour moves to another port (another MAC): the rig's peer is that port from now on.
   The old port is returned, for what still goes there. */
static int move_peer(sg *t)
{
    int old = t->raw;
    if (et_wire_raw_attach(t->wire, "peer2", t->peer_mac, &t->raw)) return -1;
    return old;
}

/* IPv4 frames waiting at a raw port (the ARP broadcasts that reach every port aside), dropped. */
static int count_at(sg *t, int port)
{
    int n = 0, len;
    while ((len = et_wire_raw_recv(t->wire, port, buf, sizeof(buf))) > 0)
        n += len >= 14 && buf[12] == 0x08 && buf[13] == 0x00;
    return n;
}

/* A client whose connect waits for the peer's MAC: its one request left, unanswered (the rig
   answers none until arp_auto is set again). NULL after a failure. */
static sg *waiting_client(void)
{
    sg *t = sg_client_no_arp(NULL);
    t->arp_auto = false;
    if (efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &t->conn))
        return NULL;
    if (!sg_expect_nothing(t) || t->arp_requests != 1 || sg_state(t) != EFVITCP_WAIT_ARP)
        return NULL;
    return t;
}

/* Every other entry one we need, more recently than the peer's; then another host's request
   evicts the peer's, the least recently needed. */
static void evict_peer_entry(sg *t)
{
    et_neigh *n = &t->st->neigh;
    for (uint32_t i = 1; i < n->cap; i++) et_neigh_get(n, SG_PEER_IP_H + 16 + i, sg_now(t) + i);
    const uint8_t other[6] = {0x02, 0xaa, 0, 0, 0, 1};
    peer_arp(t, 1, other, SG_PEER_IP_H + 8, SG_STACK_IP_H);
}

/* Two connects toward one unresolved neighbour share its requests: one now, one per retry. */
static void test_requests_shared(void)
{
    sg *t = sg_client_no_arp(NULL);
    t->arp_auto = false;
    efvitcp_conn *a, *b;
    REQUIRE(!efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &a));
    REQUIRE(!efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT + 1, &b));
    EXPECT_NOTHING(t);
    CHECK_EQ(t->arp_requests, 1);
    sg_advance(t, SG_SEC + SG_MS); /* both retry at 1 s */
    CHECK_EQ(t->arp_requests, 2);
    t->arp_auto = true;
    uint64_t at = sg_run_until_output(t, 4 * SG_SEC); /* the next retry, at 3 s, is answered */
    CHECK_TIME(at, SG_SEC + 3 * SG_SEC);
    CHECK_EQ(t->arp_requests, 3);
    EXPECT(t, TH_SYN, SG_ANY, 0);
    EXPECT(t, TH_SYN, SG_ANY, 0);
    t->conn = a;
    CHECK_EQ(sg_state(t), EFVITCP_SYN_SENT);
    t->conn = b;
    CHECK_EQ(sg_state(t), EFVITCP_SYN_SENT);
}

/* A reply nobody asked for creates no entry (RFC 5227 §2.6, Linux without arp_accept): the
   connect still asks. */
static void test_unsolicited_reply_not_learnt(void)
{
    sg *t = sg_client_no_arp(NULL);
    peer_arp(t, 2, t->peer_mac, SG_PEER_IP_H, SG_STACK_IP_H);
    CHECK(et_neigh_find(&t->st->neigh, SG_PEER_IP_H) == NULL);
    t->arp_auto = false;
    REQUIRE(!efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &t->conn));
    EXPECT_NOTHING(t);
    CHECK_EQ(t->arp_requests, 1);
    CHECK_EQ(sg_state(t), EFVITCP_WAIT_ARP);
}

/* Requests from many other hosts do not evict the entry a connection waits for (their entries,
   never needed, go first): the neighbour's request to us resolves it and the SYN goes at once. */
static void test_flood_keeps_waiting_entry(void)
{
    sg *t = waiting_client();
    REQUIRE(t != NULL);
    const uint8_t other[6] = {0x02, 0xaa, 0, 0, 0, 1};
    for (uint32_t i = 0; i < 200; i++) peer_arp(t, 1, other, SG_PEER_IP_H + 16 + i, SG_STACK_IP_H);
    CHECK(et_neigh_find(&t->st->neigh, SG_PEER_IP_H) != NULL);
    peer_arp(t, 1, t->peer_mac, SG_PEER_IP_H, SG_STACK_IP_H);
    EXPECT(t, TH_SYN, SG_ANY, 0);
    CHECK_EQ(sg_state(t), EFVITCP_SYN_SENT);
}

/* When every entry is one we need, another host's request does evict the least recently needed:
   here the one a connection waits for. The neighbour's request then creates it afresh, and the
   connection's retry finds it resolved: the SYN goes without another request. */
static void test_evicted_wait_resolved_at_retry(void)
{
    sg *t = waiting_client();
    REQUIRE(t != NULL);
    evict_peer_entry(t);
    et_neigh *n = &t->st->neigh;
    CHECK(et_neigh_find(n, SG_PEER_IP_H) == NULL);
    peer_arp(t, 1, t->peer_mac, SG_PEER_IP_H, SG_STACK_IP_H);
    CHECK_EQ(sg_state(t), EFVITCP_WAIT_ARP);
    uint64_t at = sg_run_until_output(t, 2 * SG_SEC);
    CHECK_TIME(at, 2 * SG_SEC);
    EXPECT(t, TH_SYN, SG_ANY, 0);
    CHECK_EQ(t->arp_requests, 1);
    CHECK_EQ(sg_state(t), EFVITCP_SYN_SENT);
}

/* RFC 826: the neighbour announces another MAC (its request to us); the established connection
   sends there from its next segment on. */
static void test_connection_follows_move(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    sg_advance(t, 2 * SG_SEC); /* past the lock time of the entry's first MAC */
    int old = move_peer(t);
    REQUIRE(old >= 0);
    peer_arp(t, 1, t->peer_mac, SG_PEER_IP_H, SG_STACK_IP_H);
    CHECK_EQ(t->arp_replies, 1); /* answered at the new MAC */
    CHECK_EQ(arp_drops(t), 0);
    sg_fill(buf, 0, 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    CHECK_EQ(t->last->len, 100);
    CHECK_EQ(count_at(t, old), 0);
}

/* Linux's locktime: a second MAC for the neighbour within a second of the first is refused
   (counted); the request is still answered, and the connection stays where it was. */
static void test_move_within_lock_refused(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    uint8_t first[6];
    memcpy(first, t->peer_mac, 6);
    int old = move_peer(t);
    REQUIRE(old >= 0);
    peer_arp(t, 1, t->peer_mac, SG_PEER_IP_H, SG_STACK_IP_H);
    CHECK_EQ(arp_drops(t), 1);
    CHECK_EQ(t->arp_replies, 1);
    et_neigh_entry *e = et_neigh_find(&t->st->neigh, SG_PEER_IP_H);
    REQUIRE(e != NULL);
    CHECK(memcmp(e->mac, first, 6) == 0);
    sg_fill(buf, 0, 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    sg_pump(t);
    EXPECT_NOTHING(t);
    CHECK_EQ(count_at(t, old), 1);
}

/* Established, idle for idle_ns; then the neighbour moves without a word and 100 bytes go (to the
   old MAC: the rig's peer, now at the new port, sees nothing). The old port, or -1 after a
   failure. */
static int silent_move(sg *t, uint64_t idle_ns)
{
    if (!sg_established_active(t, NULL)) return -1;
    sg_advance(t, idle_ns);
    int old = move_peer(t);
    if (old < 0 || t->arp_requests != 0) return -1;
    sg_fill(buf, 0, 100);
    if (efvitcp_send(t->conn, buf, 100, false) != 100) return -1;
    sg_pump(t);
    return sg_expect_nothing(t) ? old : -1;
}

/* The neighbour moved without a word. The connection's timeout asks for it again (nothing has
   confirmed it for the reachable time, 30 s), the answer moves the connection, and the next
   retransmission reaches it. */
static void test_timeout_asks_again(void)
{
    sg *t = sg_client(NULL);
    int old = silent_move(t, 31 * SG_SEC);
    REQUIRE(old >= 0);
    CHECK_EQ(count_at(t, old), 1);
    /* The RTO: the request (broadcast, answered by the rig), the retransmission to the old MAC;
       the next one goes to the new. */
    uint64_t at = sg_run_until_output(t, 10 * SG_SEC);
    REQUIRE(at != UINT64_MAX);
    CHECK_EQ(t->arp_requests, 1);
    CHECK_EQ(count_at(t, old), 1); /* the retransmission */
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    CHECK_EQ(t->last->len, 100);
    CHECK(sg_payload_is_pat(t, 0));
}

/* The neighbour's entry is evicted (every entry is one we need, then another host asks), and the
   neighbour comes back at another MAC with a request of its own: a new entry, which moves no
   connection. The connection's timeout takes the cache's MAC (confirmed a moment ago: no
   request), and the retransmission reaches the neighbour. */
static void test_timeout_takes_recreated_mac(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    evict_peer_entry(t);
    et_neigh *n = &t->st->neigh;
    REQUIRE(et_neigh_find(n, SG_PEER_IP_H) == NULL);
    int old = move_peer(t);
    REQUIRE(old >= 0);
    peer_arp(t, 1, t->peer_mac, SG_PEER_IP_H, SG_STACK_IP_H);
    sg_fill(buf, 0, 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    sg_pump(t);
    EXPECT_NOTHING(t);
    CHECK_EQ(count_at(t, old), 1);
    uint64_t at = sg_run_until_output(t, 10 * SG_SEC);
    REQUIRE(at != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    CHECK_EQ(t->last->len, 100);
    CHECK_EQ(t->arp_requests, 0);
    CHECK_EQ(count_at(t, old), 0);
}

/* A gratuitous announcement (sender and target address the same) moves the entry within the
   lock time, as Linux takes one: it is how a failover says so. */
static void test_gratuitous_overrides_lock(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    int old = move_peer(t);
    REQUIRE(old >= 0);
    peer_arp(t, 1, t->peer_mac, SG_PEER_IP_H, SG_PEER_IP_H);
    CHECK_EQ(arp_drops(t), 0);
    CHECK_EQ(t->arp_replies, 0); /* not a request for us */
    sg_fill(buf, 0, 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    CHECK_EQ(count_at(t, old), 0);
}

/* A passive connection follows too (its MAC came from the SYN, its next hop is the peer). */
static void test_passive_follows_move(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_advance(t, 2 * SG_SEC);
    /* The server never asked for the peer: its request creates the entry at the old MAC first. */
    peer_arp(t, 1, t->peer_mac, SG_PEER_IP_H, SG_STACK_IP_H);
    sg_advance(t, 2 * SG_SEC);
    int old = move_peer(t);
    REQUIRE(old >= 0);
    peer_arp(t, 1, t->peer_mac, SG_PEER_IP_H, SG_STACK_IP_H);
    sg_fill(buf, 0, 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    CHECK_EQ(count_at(t, old), 0);
}

/* A SYN-ACK's timeout neither asks nor fills the cache: its MAC came with the SYN, and spoofed
   SYNs from many addresses must not churn the entries. */
static void test_synack_timeout_no_request(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    uint64_t at = sg_run_until_output(t, 10 * SG_SEC);
    REQUIRE(at != UINT64_MAX);
    EXPECT(t, TH_SYN | TH_ACK, S(0), P(1));
    CHECK_EQ(t->arp_requests, 0);
    CHECK(et_neigh_find(&t->st->neigh, SG_PEER_IP_H) == NULL);
}

/* The neighbour moved without a word, after its lock time but well within the reachable time of
   its last confirmation: the first timeout does not ask, the second in a row does (its
   retransmission leaves with the request, still to the old MAC), and the answer moves the
   connection: the next retransmission reaches the neighbour. */
static void test_second_timeout_asks(void)
{
    sg *t = sg_client(NULL);
    int old = silent_move(t, 2 * SG_SEC);
    REQUIRE(old >= 0);
    uint64_t at = sg_run_until_output(t, 30 * SG_SEC);
    REQUIRE(at != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    CHECK_EQ(t->last->len, 100);
    CHECK_EQ(t->arp_requests, 1);  /* the second timeout's */
    CHECK_EQ(count_at(t, old), 3); /* the segment and two retransmissions */
}

/* A timeout toward a neighbour confirmed within the reachable time sends no request. */
static void test_timeout_confirmed_no_request(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    sg_fill(buf, 0, 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    CHECK_EQ(t->last->len, 100);
    uint64_t at = sg_run_until_output(t, 10 * SG_SEC);
    REQUIRE(at != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    CHECK_EQ(t->last->len, 100);
    CHECK_EQ(t->arp_requests, 0);
}

/* RFC 5227 §2.1.1: a probe for our address (sender address 0) is answered, to the prober's MAC
   and from our address, so that it does not take the address. */
static void test_probe_answered(void)
{
    sg *t = sg_client_no_arp(NULL);
    peer_arp(t, 1, t->peer_mac, 0, SG_STACK_IP_H);
    CHECK_EQ(t->arp_replies, 1);
    CHECK_EQ(t->arp_last.oper, 2);
    CHECK_EQ(t->arp_last.spa, SG_STACK_IP_H);
    CHECK(memcmp(t->arp_last.sha, t->stack_mac, 6) == 0);
    CHECK_EQ(t->arp_last.tpa, 0);
    CHECK(memcmp(t->arp_last.tha, t->peer_mac, 6) == 0);
    CHECK(et_neigh_find(&t->st->neigh, 0) == NULL);
    CHECK_EQ(arp_drops(t), 0);
    /* A probe for another address is none of ours. */
    peer_arp(t, 1, t->peer_mac, 0, SG_STACK_IP_H + 7);
    CHECK_EQ(t->arp_replies, 1);
    CHECK_EQ(arp_drops(t), 1);
}

/* A request for us from a group sender address is neither learnt nor answered (a reply would
   reach every host); counted. */
static void test_group_sender_refused(void)
{
    sg *t = sg_client_no_arp(NULL);
    const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    peer_arp(t, 1, bcast, SG_PEER_IP_H, SG_STACK_IP_H);
    CHECK_EQ(t->arp_replies, 0);
    CHECK_EQ(arp_drops(t), 1);
    CHECK(et_neigh_find(&t->st->neigh, SG_PEER_IP_H) == NULL);
}

int main(void)
{
    RUN(test_requests_shared);
    RUN(test_unsolicited_reply_not_learnt);
    RUN(test_flood_keeps_waiting_entry);
    RUN(test_evicted_wait_resolved_at_retry);
    RUN(test_connection_follows_move);
    RUN(test_move_within_lock_refused);
    RUN(test_timeout_asks_again);
    RUN(test_timeout_confirmed_no_request);
    RUN(test_second_timeout_asks);
    RUN(test_timeout_takes_recreated_mac);
    RUN(test_gratuitous_overrides_lock);
    RUN(test_passive_follows_move);
    RUN(test_synack_timeout_no_request);
    RUN(test_probe_answered);
    RUN(test_group_sender_refused);
    sg_cleanup();
    return th_summary();
}
